/*
 * Rule evaluation benchmark: rules_eval_doc alone on documents generated in
 * memory (no parsing, no I/O), with the SSO rule set and its sample tables,
 * against a hand-written C function computing the adjudication.md drug-line
 * formulas (same hashing of the code, same checked arithmetic) in the same
 * run. Prints lines per second for: the interpreter on a drug-only mix, the
 * hand-written function on the same documents, and the interpreter on a
 * province-like mix (P documents with D lines, I documents with S, K, B).
 *
 * Build and run: bench/rules/run.sh (after tools/test --quick).
 * `bench_rules SRC 0 interp|hand` does 20 fixed passes of one side only, for
 * `perf stat -e instructions` (stable on a loaded machine, unlike time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/ids.h"
#include "core/base/jdate.h"
#include "core/base/money.h"
#include "core/base/text.h"
#include "rules/rules.h"

#define DOCS 20000u
#define LINES_PER_DOC 5u

static bool never_seen_doc(void *ctx, const char *id, uint32_t len)
{
    (void)ctx;
    (void)id;
    (void)len;
    return false;
}
static bool never_consumed(void *ctx, uint64_t key)
{
    (void)ctx;
    (void)key;
    return false;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct doc *docs;
static struct doc_line *lines;
static uint64_t *uids;

static void setcode(struct doc_line *l, const char *c)
{
    l->code_len = (uint8_t)strlen(c);
    memcpy(l->code, c, l->code_len);
}

static void gen(bool mixed)
{
    static const char *drugs[] = {"D-DAROYAR", "D-PLAIN", "D-CHANGE"};
    static const char *centers_p[] = {"PH-GOV-1", "PH-PRV-1", "PH-SSO-1"};
    static const char *centers_i[] = {"HO-UNI-1", "HO-GOV-DEP", "HO-PRV-1"};
    static const uint64_t nids[] = {12345679ull, 23456787ull, 45678911ull};
    uint32_t li = 0, ui = 0;
    for (uint32_t d = 0; d < DOCS; d++) {
        struct doc *x = &docs[d];
        memset(x, 0, sizeof *x);
        bool inpatient = mixed && d % 3 == 2;
        x->kind = inpatient ? 'I' : 'P';
        x->stay = inpatient ? 'B' : 0;
        x->doc_id_len = (uint8_t)snprintf(x->doc_id, sizeof x->doc_id, "DOC%u", d);
        memcpy(x->doc_id_raw, x->doc_id, x->doc_id_len);
        const char *c = inpatient ? centers_i[d % 3] : centers_p[d % 3];
        x->center_len = (uint8_t)strlen(c);
        memcpy(x->center, c, x->center_len);
        x->patient_nid = nids[d % 3];
        x->prescriber_mc = 1001;
        x->date1 = (struct jdate){1403, 5, 1};
        x->date2 = (struct jdate){1403, 5, 3};
        x->date1_days = jdate_to_days(x->date1);
        x->date2_days = jdate_to_days(x->date2);
        x->line_first = li;
        x->line_count = LINES_PER_DOC;
        for (uint32_t k = 0; k < LINES_PER_DOC; k++, li++) {
            struct doc_line *l = &lines[li];
            memset(l, 0, sizeof *l);
            l->line_no = k + 1;
            l->uid_first = ui;
            if (!inpatient) {
                l->kind = 'D';
                setcode(l, drugs[(d + k) % 3]);
                l->qty = 10 + (k * 7) % 30;
                l->unit_price_rials = 300000;
                l->claimed_insurer_rials = 1000000;
                l->claimed_daroyar_rials = (d + k) % 3 == 0 ? 2000000 : 0;
                uint32_t packs = (d + k) % 3 == 2 ? l->qty : (l->qty + 9) / 10;
                for (uint32_t u = 0; u < packs; u++) {
                    char s[21];
                    snprintf(s, sizeof s, "12345%015u", ui);
                    uids[ui++] = ids_uid_pack(s, 20);
                }
                l->uid_count = packs;
            } else {
                static const char kinds[] = {'S', 'S', 'K', 'B', 'S'};
                static const char *codes[] = {"S-VISIT", "S-XRAY", "K-GLOVE", "BED", "S-SURG"};
                l->kind = (uint8_t)kinds[k];
                setcode(l, codes[k]);
                l->qty = 1;
                l->unit_price_rials = 2000000;
                l->claimed_insurer_rials = 1500000;
                l->tariff_class = 'G';
            }
            l->claimed_total_rials = l->unit_price_rials * l->qty;
        }
    }
}

/* ---- The hand-written drug-line adjudication (adjudication.md "Drug line"
 * and "Approval"), with the sample drug rows in a small XXH3-keyed table. */
struct hdrug {
    uint64_t hash;
    const char *code;
    int64_t pack_units, price_old, price_new, max_qty;
    bool daroyar;
};
static struct hdrug htab[8];

static void hand_init(void)
{
    static struct hdrug rows[] = {{0, "D-DAROYAR", 10, 100000, 300000, 60, true},
                                  {0, "D-PLAIN", 10, 50000, 50000, INT64_MAX, false},
                                  {0, "D-CHANGE", 1, 100000, 100000, INT64_MAX, false}};
    for (unsigned i = 0; i < 3; i++) {
        rows[i].hash = text_hash64(rows[i].code, strlen(rows[i].code));
        uint32_t s = (uint32_t)rows[i].hash & 7u;
        while (htab[s].code)
            s = (s + 1) & 7u;
        htab[s] = rows[i];
    }
}

static bool hand_drug_line(const struct doc_line *l, const uint64_t *u, int64_t c, int32_t dos,
                           int32_t daroyar_start, struct line_decision *o)
{
    memset(o, 0, sizeof *o);
    uint64_t h = text_hash64(l->code, l->code_len);
    const struct hdrug *d = NULL;
    for (uint32_t s = (uint32_t)h & 7u, n = 0; n < 8 && htab[s].code; s = (s + 1) & 7u, n++)
        if (htab[s].hash == h && strlen(htab[s].code) == l->code_len &&
            memcmp(htab[s].code, l->code, l->code_len) == 0)
            d = &htab[s];
    uint64_t reasons = 0;
    int64_t insurer = 0, daroyar = 0, gross = 0, patient = 0, qty_a = 0;
    if (!d) {
        reasons |= 1u << 1; /* K02 */
    } else {
        qty_a = money_min(l->qty, d->max_qty);
        if (l->qty > d->max_qty)
            reasons |= 1u << 8;
        int64_t good = 0, reused = 0, invalid = 0;
        for (uint32_t k = 0; k < l->uid_count; k++) {
            if (u[l->uid_first + k] == IDS_UID_INVALID)
                invalid++;
            else if (never_consumed(NULL, u[l->uid_first + k]))
                reused++;
            else
                good++;
        }
        int64_t needed = money_div_ceil(qty_a, d->pack_units);
        if (good < needed) {
            qty_a = money_min(qty_a, good * d->pack_units);
            if (reused)
                reasons |= 1u << 7;
            if (invalid || (int64_t)l->uid_count < needed)
                reasons |= 1u << 6;
        }
        if (l->unit_price_rials > d->price_new)
            reasons |= 1u << 2;
        bool listed = d->daroyar && dos >= daroyar_start && d->price_new > d->price_old;
        int64_t base = listed ? d->price_old : d->price_new, qb;
        if (!money_mul(qty_a, d->price_new, &gross) || !money_mul(qty_a, base, &qb) ||
            !money_mul_bp_round_half_up(qb, c, &patient))
            return false;
        insurer = qb - patient;
        daroyar = listed ? qty_a * (d->price_new - d->price_old) : 0;
    }
    o->qty_a = qty_a;
    o->gross_rials = gross;
    o->patient_rials = patient;
    o->insurer_rials = insurer;
    o->daroyar_rials = daroyar;
    o->approved_insurer_rials = money_min(l->claimed_insurer_rials, insurer);
    o->approved_daroyar_rials = money_min(l->claimed_daroyar_rials, daroyar);
    if (l->claimed_daroyar_rials > daroyar)
        reasons |= 1u << 4;
    if (l->claimed_insurer_rials > insurer && !reasons)
        reasons |= 1u << 2;
    o->deduction_rials = l->claimed_insurer_rials + l->claimed_daroyar_rials -
                         o->approved_insurer_rials - o->approved_daroyar_rials;
    o->reasons = reasons;
    o->status = !reasons && !o->deduction_rials ? 'A'
                : (o->approved_insurer_rials + o->approved_daroyar_rials == 0 && reasons) ? 'R'
                                                                                        : 'P';
    return true;
}

int main(int argc, char **argv)
{
    const char *src = argc > 1 ? argv[1] : ".";
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    char rdir[4096], tdir[4096];
    snprintf(rdir, sizeof rdir, "%s/rules/sso", src);
    snprintf(tdir, sizeof tdir, "%s/rules/sso/tables", src);
    struct rules_set *set = NULL;
    if (rules_load(rdir, tdir, stderr, &set) != ADJ_OK)
        return 1;
    docs = calloc(DOCS, sizeof *docs);
    lines = calloc((size_t)DOCS * LINES_PER_DOC, sizeof *lines);
    uids = calloc((size_t)DOCS * LINES_PER_DOC * 40, sizeof *uids);
    struct line_decision *out = calloc(LINES_PER_DOC, sizeof *out);
    if (!docs || !lines || !uids || !out)
        return 1;
    struct seen_ops ops = {NULL, never_seen_doc, never_consumed};
    struct doc_decision dd;
    hand_init();
    int32_t start = jdate_to_days((struct jdate){1401, 4, 23});

    if (argc > 3) {
        gen(false);
        bool hand = strcmp(argv[3], "hand") == 0;
        if (strcmp(argv[3], "setup") == 0)
            return 0;
        int64_t check = 0;
        for (int pass = 0; pass < 20; pass++)
            for (uint32_t d = 0; d < DOCS; d++) {
                const struct doc *x = &docs[d];
                if (!hand) {
                    if (rules_eval_doc(set, x, lines + x->line_first, uids, &ops, &dd, out, NULL) != ADJ_OK)
                        return 2;
                    check += dd.approved_insurer_rials;
                    continue;
                }
                int64_t c = x->center[3] == 'S' ? 0 : 3000;
                for (uint32_t k = 0; k < x->line_count; k++) {
                    if (!hand_drug_line(&lines[x->line_first + k], uids, c, doc_dos_days(x), start, &out[k]))
                        return 3;
                    check += out[k].approved_insurer_rials;
                }
            }
        printf("%s: 20 passes of %u lines, checksum %lld\n", argv[3], DOCS * LINES_PER_DOC, (long long)check);
        return 0;
    }
    for (int mixed = 0; mixed <= 1; mixed++) {
        gen(mixed != 0);
        uint64_t nl = 0;
        double t0 = now(), t1;
        do {
            for (uint32_t d = 0; d < DOCS; d++) {
                if (rules_eval_doc(set, &docs[d], lines + docs[d].line_first, uids, &ops, &dd, out,
                                   NULL) != ADJ_OK)
                    return 2;
                nl += docs[d].line_count;
            }
            t1 = now();
        } while (t1 - t0 < seconds);
        double interp = (double)nl / (t1 - t0);
        printf("interpreter, %s: %.2f M lines/s\n", mixed ? "province mix (P: D lines; I: S,K,B)" : "drug lines",
               interp / 1e6);
        if (mixed)
            break;
        /* Same documents, hand-written drug formula (copay 30%, no doc rules). */
        int64_t check = 0;
        nl = 0;
        t0 = now();
        do {
            for (uint32_t d = 0; d < DOCS; d++) {
                const struct doc *x = &docs[d];
                int64_t c = x->center[3] == 'S' ? 0 : 3000;
                for (uint32_t k = 0; k < x->line_count; k++) {
                    if (!hand_drug_line(&lines[x->line_first + k], uids, c, doc_dos_days(x), start, &out[k]))
                        return 3;
                    check += out[k].approved_insurer_rials;
                }
                nl += x->line_count;
            }
            t1 = now();
        } while (t1 - t0 < seconds);
        double hand = (double)nl / (t1 - t0);
        printf("hand-written C, drug lines: %.2f M lines/s (checksum %lld)\n", hand / 1e6, (long long)check);
        printf("interpreter / hand-written: %.2fx slower\n", hand / interp);
        /* The two agree on every line of the drug mix. */
        uint64_t diff = 0;
        for (uint32_t d = 0; d < DOCS; d++) {
            const struct doc *x = &docs[d];
            struct line_decision hand_out[LINES_PER_DOC];
            int64_t c = x->center[3] == 'S' ? 0 : 3000;
            if (rules_eval_doc(set, x, lines + x->line_first, uids, &ops, &dd, out, NULL) != ADJ_OK)
                return 2;
            for (uint32_t k = 0; k < x->line_count; k++) {
                if (!hand_drug_line(&lines[x->line_first + k], uids, c, doc_dos_days(x), start, &hand_out[k]))
                    return 3;
                diff += memcmp(&hand_out[k].qty_a, &out[k].qty_a, 8 * sizeof(int64_t)) != 0 ||
                        hand_out[k].status != out[k].status;
            }
        }
        printf("lines where the two disagree: %llu\n", (unsigned long long)diff);
    }
    free(docs);
    free(lines);
    free(uids);
    free(out);
    rules_free(set);
    return 0;
}
