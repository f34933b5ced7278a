/*
 * What a run adds up: counts, money per center (the verified totals the
 * ledger posts), per reason (count and rials), and the T row of the
 * decisions file. Filled by the ordered stage, one document at a time, in
 * input order, so it needs no locking. Also prints the summary, as JSON for
 * machines and as text for the reviewer at the terminal.
 *
 * Invariants:
 *  (1) Every sum is checked (money_add); an overflow aborts the run before
 *      anything is posted (ADJ_ASSERT), it is never wrapped.
 *  (2) Per-center approved sums add up to the run's approved sums.
 */
#ifndef ADJ_CORE_RUNSTATS_H
#define ADJ_CORE_RUNSTATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base/doc.h"
#include "core/base/limits.h"

/* Contracted centers of one province are ~2,300; a run over a few
 * provinces stays far below this. Beyond it the run stops with an error. */
#define RUNSTATS_CENTERS_MAX (1u << 18)

struct runstats_center {
    char center[ADJ_ID_BYTES_MAX + 1];
    int64_t claimed_insurer_rials;
    int64_t claimed_daroyar_rials;
    int64_t approved_insurer_rials;
    int64_t approved_daroyar_rials;
    int64_t deduction_rials;
    uint64_t doc_count;
    uint64_t line_count;
};

struct runstats_money {
    int64_t gross_rials;
    int64_t patient_rials;
    int64_t insurer_rials;
    int64_t daroyar_rials;
    int64_t claimed_insurer_rials;
    int64_t claimed_daroyar_rials;
    int64_t approved_insurer_rials;
    int64_t approved_daroyar_rials;
    int64_t deduction_rials;
};

struct runstats {
    struct runstats_money money;      /* Over adjudicated lines (T row). */
    uint64_t docs_adjudicated;
    uint64_t lines_adjudicated;
    uint64_t docs_redone;             /* Re-evaluated at commit (K08/K09 across chunks). */
    uint64_t reason_lines[ADJ_REASONS_MAX];        /* Lines carrying the reason. */
    int64_t reason_deduction_rials[ADJ_REASONS_MAX]; /* Their deductions. */
    struct runstats_center *centers;  /* Open addressing by center id. */
    uint32_t center_slots;            /* Power of two. */
    uint32_t center_count;
    bool overflow;                    /* A sum would pass int64: the totals are void. */
};

bool runstats_init(struct runstats *stats);
void runstats_free(struct runstats *stats);

/* Adds one adjudicated document. False when the center table is full or a
 * sum would pass int64 (then stats->overflow). */
bool runstats_add_doc(struct runstats *stats, const struct doc *doc,
                      const struct doc_decision *decision, const struct line_decision *lines);

/* Adds everything of src into dst (a batch into its run). False as
 * runstats_add_doc. */
bool runstats_merge(struct runstats *dst, const struct runstats *src);

/* Centers sorted by id (deterministic output); returns the count, fills
 * *out with a malloc'd array the caller frees. */
uint32_t runstats_centers_sorted(const struct runstats *stats, struct runstats_center **out);

/* Writes the T row of the decisions file into buf (>= 512 bytes). */
int runstats_format_t_row(const struct runstats *stats, char *buf, size_t cap);

#endif
