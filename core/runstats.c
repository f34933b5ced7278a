/*
 * Run totals (see runstats.h).
 */
#include "core/runstats.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/assert.h"
#include "core/base/money.h"
#include "core/base/text.h"

bool runstats_init(struct runstats *stats)
{
    memset(stats, 0, sizeof *stats);
    stats->center_slots = 4096;
    stats->centers = calloc(stats->center_slots, sizeof *stats->centers);
    return stats->centers != NULL;
}

void runstats_free(struct runstats *stats)
{
    free(stats->centers);
    memset(stats, 0, sizeof *stats);
}

/* Every amount is >= 0, and each center's and each reason's sum is a part
 * of one of the run's nine sums (invariants (1)-(4) of core/adjud.h), so
 * once runstats_fits has said that the nine absorb an addition, no sum can
 * overflow: asserted. */
static void runstats_add(int64_t *sum, int64_t value)
{
    ADJ_ASSERT(value >= 0);
    ADJ_ASSERT(money_add(*sum, value, sum));
}

/* Whether money + add stays within int64 in all nine sums. A sum past it
 * (only absurd batches get there: 1,025 lines of 9e15 rials) marks the
 * stats overflowed and changes nothing; the caller stops the batch
 * (E_OVERFLOW, exit 2) instead of printing a wrong total or aborting. */
static bool runstats_fits(struct runstats *stats, const struct runstats_money *add)
{
    const struct runstats_money *m = &stats->money;
    int64_t r;
    bool fits = money_add(m->gross_rials, add->gross_rials, &r) &&
                money_add(m->patient_rials, add->patient_rials, &r) &&
                money_add(m->insurer_rials, add->insurer_rials, &r) &&
                money_add(m->daroyar_rials, add->daroyar_rials, &r) &&
                money_add(m->claimed_insurer_rials, add->claimed_insurer_rials, &r) &&
                money_add(m->claimed_daroyar_rials, add->claimed_daroyar_rials, &r) &&
                money_add(m->approved_insurer_rials, add->approved_insurer_rials, &r) &&
                money_add(m->approved_daroyar_rials, add->approved_daroyar_rials, &r) &&
                money_add(m->deduction_rials, add->deduction_rials, &r);
    if (!fits) {
        stats->overflow = true;
    }
    return fits;
}

static bool runstats_grow(struct runstats *stats)
{
    uint32_t slots = stats->center_slots * 2;
    if (slots > RUNSTATS_CENTERS_MAX * 2) {
        return false;
    }
    struct runstats_center *centers = calloc(slots, sizeof *centers);
    if (centers == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < stats->center_slots; i++) {
        const struct runstats_center *c = &stats->centers[i];
        if (c->center[0] == '\0') {
            continue;
        }
        uint32_t j = (uint32_t)text_hash64(c->center, strlen(c->center)) & (slots - 1);
        while (centers[j].center[0] != '\0') {
            j = (j + 1) & (slots - 1);
        }
        centers[j] = *c;
    }
    free(stats->centers);
    stats->centers = centers;
    stats->center_slots = slots;
    return true;
}

static struct runstats_center *runstats_center(struct runstats *stats, const char *center,
                                               uint32_t len)
{
    if ((stats->center_count + 1) * 2 > stats->center_slots && !runstats_grow(stats)) {
        return NULL;
    }
    uint32_t mask = stats->center_slots - 1;
    uint32_t i = (uint32_t)text_hash64(center, len) & mask;
    for (uint32_t step = 0; step < stats->center_slots; step++) {
        struct runstats_center *c = &stats->centers[i];
        if (c->center[0] == '\0') {
            memcpy(c->center, center, len);
            c->center[len] = '\0';
            stats->center_count++;
            return c;
        }
        if (strncmp(c->center, center, len) == 0 && c->center[len] == '\0') {
            return c;
        }
        i = (i + 1) & mask;
    }
    return NULL;
}

bool runstats_add_doc(struct runstats *stats, const struct doc *doc,
                      const struct doc_decision *decision, const struct line_decision *lines)
{
    ADJ_ASSERT(doc->center_len >= 1);
    struct runstats_money add = {
        .claimed_insurer_rials = decision->claimed_insurer_rials,
        .claimed_daroyar_rials = decision->claimed_daroyar_rials,
        .approved_insurer_rials = decision->approved_insurer_rials,
        .approved_daroyar_rials = decision->approved_daroyar_rials,
        .deduction_rials = decision->deduction_rials,
    };
    for (uint32_t i = 0; i < doc->line_count; i++) {
        /* A document's sums fit (the evaluator checked them). */
        ADJ_ASSERT(money_add(add.gross_rials, lines[i].gross_rials, &add.gross_rials));
        ADJ_ASSERT(money_add(add.patient_rials, lines[i].patient_rials, &add.patient_rials));
        ADJ_ASSERT(money_add(add.insurer_rials, lines[i].insurer_rials, &add.insurer_rials));
        ADJ_ASSERT(money_add(add.daroyar_rials, lines[i].daroyar_rials, &add.daroyar_rials));
    }
    if (!runstats_fits(stats, &add)) {
        return false;
    }
    struct runstats_center *c = runstats_center(stats, doc->center, doc->center_len);
    if (c == NULL) {
        return false;
    }
    struct runstats_money *m = &stats->money;
    runstats_add(&m->gross_rials, add.gross_rials); /* the line sums above, once */
    runstats_add(&m->patient_rials, add.patient_rials);
    runstats_add(&m->insurer_rials, add.insurer_rials);
    runstats_add(&m->daroyar_rials, add.daroyar_rials);
    for (uint32_t i = 0; i < doc->line_count; i++) {
        const struct line_decision *l = &lines[i];
        uint64_t reasons = l->reasons;
        while (reasons != 0) {
            unsigned bit = (unsigned)__builtin_ctzll(reasons);
            reasons &= reasons - 1;
            stats->reason_lines[bit]++;
            runstats_add(&stats->reason_deduction_rials[bit], l->deduction_rials);
        }
    }
    runstats_add(&m->claimed_insurer_rials, decision->claimed_insurer_rials);
    runstats_add(&m->claimed_daroyar_rials, decision->claimed_daroyar_rials);
    runstats_add(&m->approved_insurer_rials, decision->approved_insurer_rials);
    runstats_add(&m->approved_daroyar_rials, decision->approved_daroyar_rials);
    runstats_add(&m->deduction_rials, decision->deduction_rials);
    runstats_add(&c->claimed_insurer_rials, decision->claimed_insurer_rials);
    runstats_add(&c->claimed_daroyar_rials, decision->claimed_daroyar_rials);
    runstats_add(&c->approved_insurer_rials, decision->approved_insurer_rials);
    runstats_add(&c->approved_daroyar_rials, decision->approved_daroyar_rials);
    runstats_add(&c->deduction_rials, decision->deduction_rials);
    c->doc_count++;
    c->line_count += doc->line_count;
    stats->docs_adjudicated++;
    stats->lines_adjudicated += doc->line_count;
    return true;
}

bool runstats_merge(struct runstats *dst, const struct runstats *src)
{
    const struct runstats_money *a = &src->money;
    struct runstats_money *m = &dst->money;
    if (src->overflow || !runstats_fits(dst, a)) {
        dst->overflow = true;
        return false;
    }
    runstats_add(&m->gross_rials, a->gross_rials);
    runstats_add(&m->patient_rials, a->patient_rials);
    runstats_add(&m->insurer_rials, a->insurer_rials);
    runstats_add(&m->daroyar_rials, a->daroyar_rials);
    runstats_add(&m->claimed_insurer_rials, a->claimed_insurer_rials);
    runstats_add(&m->claimed_daroyar_rials, a->claimed_daroyar_rials);
    runstats_add(&m->approved_insurer_rials, a->approved_insurer_rials);
    runstats_add(&m->approved_daroyar_rials, a->approved_daroyar_rials);
    runstats_add(&m->deduction_rials, a->deduction_rials);
    dst->docs_adjudicated += src->docs_adjudicated;
    dst->lines_adjudicated += src->lines_adjudicated;
    dst->docs_redone += src->docs_redone;
    for (uint32_t bit = 0; bit < ADJ_REASONS_MAX; bit++) {
        dst->reason_lines[bit] += src->reason_lines[bit];
        runstats_add(&dst->reason_deduction_rials[bit], src->reason_deduction_rials[bit]);
    }
    for (uint32_t i = 0; i < src->center_slots; i++) {
        const struct runstats_center *s = &src->centers[i];
        if (s->center[0] == '\0') {
            continue;
        }
        struct runstats_center *c = runstats_center(dst, s->center, (uint32_t)strlen(s->center));
        if (c == NULL) {
            return false;
        }
        runstats_add(&c->claimed_insurer_rials, s->claimed_insurer_rials);
        runstats_add(&c->claimed_daroyar_rials, s->claimed_daroyar_rials);
        runstats_add(&c->approved_insurer_rials, s->approved_insurer_rials);
        runstats_add(&c->approved_daroyar_rials, s->approved_daroyar_rials);
        runstats_add(&c->deduction_rials, s->deduction_rials);
        c->doc_count += s->doc_count;
        c->line_count += s->line_count;
    }
    return true;
}

static int runstats_center_cmp(const void *a, const void *b)
{
    return strcmp(((const struct runstats_center *)a)->center,
                  ((const struct runstats_center *)b)->center);
}

uint32_t runstats_centers_sorted(const struct runstats *stats, struct runstats_center **out)
{
    *out = NULL;
    if (stats->center_count == 0) {
        return 0;
    }
    struct runstats_center *list = malloc(stats->center_count * sizeof *list);
    if (list == NULL) {
        return 0;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < stats->center_slots; i++) {
        if (stats->centers[i].center[0] != '\0') {
            list[n++] = stats->centers[i];
        }
    }
    ADJ_ASSERT(n == stats->center_count);
    qsort(list, n, sizeof *list, runstats_center_cmp);
    /* (2) centers add up to the run (non-negative parts of sums that fit:
     * no overflow on the way) */
    int64_t insurer = 0, daroyar = 0;
    for (uint32_t i = 0; i < n; i++) {
        ADJ_ASSERT(money_add(insurer, list[i].approved_insurer_rials, &insurer));
        ADJ_ASSERT(money_add(daroyar, list[i].approved_daroyar_rials, &daroyar));
    }
    ADJ_ASSERT(insurer == stats->money.approved_insurer_rials);
    ADJ_ASSERT(daroyar == stats->money.approved_daroyar_rials);
    *out = list;
    return n;
}

int runstats_format_t_row(const struct runstats *stats, char *buf, size_t cap)
{
    const struct runstats_money *m = &stats->money;
    return snprintf(buf, cap, "T\t%llu\t%llu\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\n",
                    (unsigned long long)stats->docs_adjudicated,
                    (unsigned long long)stats->lines_adjudicated, (long long)m->gross_rials,
                    (long long)m->patient_rials, (long long)m->insurer_rials,
                    (long long)m->daroyar_rials, (long long)m->claimed_insurer_rials,
                    (long long)m->claimed_daroyar_rials, (long long)m->approved_insurer_rials,
                    (long long)m->approved_daroyar_rials, (long long)m->deduction_rials);
}
