/*
 * The document model: what intake (io/) produces and the rule evaluator
 * (rules/) consumes, plus the decision structs the evaluator fills and the
 * writers print. Plain data, no behaviour beyond tiny inline accessors.
 *
 * Memory: documents, lines and pack ids of a chunk live in three arrays
 * owned by a struct doc_chunk that is allocated once and reused, so parsing
 * and evaluating a line allocates nothing. A document refers to its lines by
 * index range and a line to its pack ids by index range.
 *
 * Text keys (doc_id, center, code, diagnosis) are stored canonicalised
 * (text_canonical_key: Arabic yeh/kaf folded). doc_id_raw keeps the bytes as
 * read, because the decisions file writes the doc_id as read.
 *
 * Invariants (asserted by the producer and by the pipeline):
 *  (1) line_first + line_count <= chunk line_count; 1 <= line_count <= 10000.
 *  (2) A P document has only D lines.
 *  (3) date2_days >= date1_days (intake rejects the reverse).
 *  (4) claimed_total_rials == qty * unit_price_rials (intake rejects others).
 */
#ifndef ADJ_CORE_BASE_DOC_H
#define ADJ_CORE_BASE_DOC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/base/jdate.h"
#include "core/base/limits.h"

enum doc_kind { DOC_KIND_P = 'P', DOC_KIND_I = 'I' };
enum doc_stay { DOC_STAY_NONE = 0, DOC_STAY_B = 'B', DOC_STAY_M = 'M' };
enum line_kind { LINE_KIND_D = 'D', LINE_KIND_S = 'S', LINE_KIND_K = 'K', LINE_KIND_B = 'B' };
enum tariff_class { TARIFF_NONE = 0, TARIFF_G = 'G', TARIFF_F = 'F' };

struct doc_line {
    int64_t unit_price_rials;      /* Price per unit claimed by the center. */
    int64_t claimed_total_rials;   /* = qty * unit_price_rials. */
    int64_t claimed_insurer_rials; /* Insurer share the center asks for. */
    int64_t claimed_daroyar_rials; /* Daroyar share asked for (0 if absent). */
    uint64_t src_line;             /* 1-based line of this L record in the file. */
    uint32_t line_no;              /* As in the batch, 1.. in order. */
    uint32_t qty;                  /* 1..1e6 units. */
    uint32_t physician_mc;         /* Valid when has_physician. */
    uint32_t uid_first;            /* Index into the chunk's uid array. */
    uint32_t uid_count;            /* Pack ids listed on the line. */
    uint8_t kind;                  /* enum line_kind. */
    uint8_t tariff_class;          /* enum tariff_class. */
    uint8_t has_physician;         /* 0/1. */
    uint8_t code_len;              /* 1..20 bytes. */
    char code[ADJ_CODE_BYTES_MAX + 1]; /* Canonical key, NUL-terminated. */
};

struct doc {
    uint64_t src_line;      /* 1-based line of the P/I record. */
    uint64_t patient_nid;   /* National code as a number (10 digits, checked). */
    uint32_t prescriber_mc; /* P only. */
    uint32_t line_first;    /* Index into the chunk's line array. */
    uint32_t line_count;    /* 1..10,000. */
    uint32_t raw_begin;     /* Its raw lines in the block it was parsed */
    uint32_t raw_end;       /* from: header line start .. past its last LF
                             * (a late reject quarantines them). */
    struct jdate date1;     /* P: rx_date; I: admit_date. */
    struct jdate date2;     /* P: dispense_date; I: discharge_date. */
    int32_t date1_days;     /* Day numbers of the above. */
    int32_t date2_days;
    uint8_t kind;           /* enum doc_kind. */
    uint8_t stay;           /* enum doc_stay; I only. */
    uint8_t doc_id_len;
    uint8_t center_len;
    uint8_t diagnosis_len;
    char doc_id_raw[ADJ_ID_BYTES_MAX + 1]; /* As read. */
    char doc_id[ADJ_ID_BYTES_MAX + 1];     /* Canonical key. */
    char center[ADJ_ID_BYTES_MAX + 1];     /* Canonical key. */
    char diagnosis[ADJ_CODE_BYTES_MAX + 1];
};

/* Date of service: dispense_date for P, admit_date for I. */
static inline int32_t doc_dos_days(const struct doc *doc)
{
    return doc->kind == DOC_KIND_P ? doc->date2_days : doc->date1_days;
}
static inline struct jdate doc_dos(const struct doc *doc)
{
    return doc->kind == DOC_KIND_P ? doc->date2 : doc->date1;
}

/* A run of whole documents in input order. */
struct doc_chunk {
    uint64_t seq;          /* 0-based position of the chunk in the batch. */
    struct doc *docs;
    struct doc_line *lines;
    uint64_t *uids;        /* ids_uid_pack keys; IDS_UID_INVALID for invalid. */
    uint32_t doc_count;
    uint32_t line_count;
    uint32_t uid_count;
    uint32_t doc_cap;
    uint32_t line_cap;
    uint32_t uid_cap;
};

/* Line and document status letters of adjudication.md. */
enum decision_status { STATUS_A = 'A', STATUS_P = 'P', STATUS_R = 'R' };

struct line_decision {
    int64_t qty_a;                  /* Approved quantity. */
    int64_t gross_rials;
    int64_t patient_rials;
    int64_t insurer_rials;
    int64_t daroyar_rials;
    int64_t approved_insurer_rials;
    int64_t approved_daroyar_rials;
    int64_t deduction_rials;
    uint64_t reasons;               /* Bit i = reason i of the rule set. */
    uint8_t status;                 /* enum decision_status. */
};

struct doc_decision {
    int64_t claimed_insurer_rials;  /* Sums over the document's lines. */
    int64_t claimed_daroyar_rials;
    int64_t approved_insurer_rials;
    int64_t approved_daroyar_rials;
    int64_t deduction_rials;
    uint64_t reasons;               /* Document-level reasons only. */
    uint8_t status;
};

/*
 * Cross-document state the evaluator consults: doc ids already seen (K09)
 * and pack ids already consumed (K08), in this batch or in settled history.
 * The caller decides the order in which documents reach it; the evaluator
 * only asks and marks. Both calls are "test and set".
 */
struct seen_ops {
    void *ctx;
    /* Returns true if doc_id was seen before; marks it seen either way. */
    bool (*doc_seen_mark)(void *ctx, const char *doc_id, uint32_t len);
    /* Returns true if the packed uid was consumed before; consumes it. */
    bool (*uid_consumed_mark)(void *ctx, uint64_t uid_key);
};

#endif
