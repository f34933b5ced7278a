/*
 * gen: a synthetic province with known answers.
 *
 * Real claims cannot leave SSO, so capacity planning and end-to-end tests
 * run on generated data: one batch (batch-format.md) with the reference
 * tables it is priced against (adjudication.md "Reference tables") and a
 * ground-truth file naming, for every document, the reasons adjudication
 * must give. Sizes default to one Khuzestan month (research/domain.md §6).
 *
 * Exactness: every clean line claims exactly what adjudication.md computes
 * (the generator implements the spec's pricing formulas, integer only), so a
 * clean document gets no reason at all; each injected anomaly is built so
 * that exactly its one reason applies (see notes/gen.md for each kind).
 *
 * Determinism: one seed gives byte-identical output. Randomness comes only
 * from the generator's own xoshiro256** streams (tables and documents use
 * separate streams, so resizing the batch leaves the tables unchanged), and
 * the insured's attributes are a hash of (seed, index).
 *
 * Truth file (DIR/truth.tsv), TSV with a header row `doc_id line_no reasons`:
 *  - one row with line_no 0 for EVERY document of the batch, in batch order:
 *    its document-level reasons (K01 K09 K16 K17 K18), empty if none, or the
 *    word INTAKE for a document built to be rejected at intake (malformed);
 *  - after it, one row per line that must carry line-level reasons.
 * Because every document has its row 0 in batch order, a reader can walk the
 * truth and the decisions file side by side (duplicate doc_ids included).
 */
#ifndef ADJ_CORE_GEN_H
#define ADJ_CORE_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/base/err.h"
#include "core/base/jdate.h"

/* Rates and the volume scale are fixed-point parts per million, so no
 * fractional arithmetic is needed anywhere. */
#define GEN_PPM 1000000u

/* The injectable anomaly kinds, one per reason code of adjudication.md. */
#define GEN_KIND_MAP(XX)                                                                           \
    XX(K01)                                                                                        \
    XX(K02) XX(K03) XX(K05) XX(K06) XX(K07) XX(K08) XX(K09) XX(K10) XX(K12) XX(K13) XX(K16)        \
        XX(K17) XX(K18)

enum gen_kind {
#define GEN_KIND_ENUM(code) GEN_##code,
    GEN_KIND_MAP(GEN_KIND_ENUM)
#undef GEN_KIND_ENUM
        GEN_KIND_COUNT
};

/* "K01" ... */
const char *gen_kind_code(enum gen_kind kind);

struct gen_config {
    uint64_t seed;
    /* Volumes (documents are multiplied by scale_ppm / 1e6). */
    uint64_t prescriptions;   /* P documents. */
    uint64_t inpatient;       /* I documents. */
    uint32_t inpatient_lines; /* Mean L records per I document (>= 4). */
    uint64_t scale_ppm;
    /* Reference tables. */
    uint32_t centers;
    uint64_t insured;
    uint32_t physicians;
    uint32_t drugs;
    uint32_t daroyar; /* Daroyar-listed drugs among them. */
    uint32_t services;
    uint32_t supplies;
    uint32_t pairs;
    /* Anomalies: share of documents carrying one anomaly (kind spread
     * evenly over those that fit the document), and of documents made
     * malformed so that intake rejects them. */
    uint32_t anomaly_ppm;
    uint32_t malformed_ppm;
    /* Output. */
    bool zstd;      /* batch.tsv.zst instead of batch.tsv. */
    int zstd_level; /* 0 = default of gen (1: fast). */
    int zstd_workers;
    char batch_id[33];
    char province[33];
    struct jdate period; /* Day ignored. */
};

/* Sizes of one Khuzestan month, 2% anomalies, no malformed documents. */
void gen_config_default(struct gen_config *cfg);

struct gen_stats {
    uint64_t docs, lines, p_docs, i_docs;
    uint64_t sum_claimed_total, sum_claimed_insurer, sum_claimed_daroyar;
    uint64_t p_claimed_total;          /* Over P documents: mean value per Rx. */
    uint64_t injected[GEN_KIND_COUNT]; /* Documents carrying each anomaly. */
    uint64_t malformed;
};

/* Writes DIR/batch.tsv[.zst], DIR/tables/NAME.tsv and DIR/truth.tsv (DIR and
 * DIR/tables are created if missing). On error, diag says what and where. */
enum adj_err gen_run(const struct gen_config *cfg, const char *out_dir, struct gen_stats *stats,
                     struct adj_diag *diag);

#endif
