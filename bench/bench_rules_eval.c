/*
 * Benchmark of rule evaluation alone (issue 3): documents of a batch are
 * parsed into memory first (io/ reader and parser through rb_each_doc), then
 * rules_eval_doc runs over all of them with seen_ops backed by
 * core/base/idset.h sets, timed by thread CPU time (the machine is shared,
 * so wall time is noisy) and by wall time.
 *
 * In the same run a hand-written C function computes the adjudication.md
 * formulas of prescription (P) documents, whose lines are all drug lines,
 * with plain hash lookups over tables it loads itself; the ratio interpreter
 * time / hand-written time on those documents is the interpreter's overhead
 * (goal: within 3x, and >= 3 M lines/s on one core). The hand-written
 * decisions are compared field by field with the interpreter's, so the
 * yardstick is known to compute the same thing.
 *
 * Then the reference tree walker once over every document, for the record
 * of what the compiled evaluator (rules/vm.c) gains.
 *
 * Usage: bench_rules_eval RULES_DIR TABLES_DIR BATCH [MAX_LINES] [REPEAT]
 * Not a test: never registered with ctest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "core/base/doc.h"
#include "core/base/idset.h"
#include "core/base/ids.h"
#include "core/base/jdate.h"
#include "core/base/money.h"
#include "core/base/text.h"
#include "core/rules_batch.h"
#include "rules/rules.h"

/* Look-ahead distances in documents: index slots A0 ahead, rows A1 ahead,
 * the seen sets' slots AS ahead, the lines' code lookups L1 ahead (the
 * yardstick's drug map: slots L0, rows L1): what core/adjud.c uses; BENCH_AHEAD=N sets A0 = 2N, A1 = N
 * and BENCH_AHEAD_SEEN=N sets AS, for tuning. */
static size_t A0 = 16, A1 = 8, AS = 4, L0 = 6, L1 = 4;

/* ---- clocks ------------------------------------------------------------- */

static int64_t now_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* ---- the documents, copied out of the reader's chunks ------------------- */

struct corpus {
    struct doc *docs;
    struct doc_line *lines;
    uint64_t *uids;
    size_t ndocs, nlines, nuids;
    size_t doc_cap, line_cap, uid_cap;
    size_t max_lines;
};

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    void *np = realloc(p, nc * elem);
    if (!np) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    *cap = nc;
    return np;
}

/* The corpus and the decisions in memory backed by huge pages where the
 * kernel allows (THP is "madvise" on these machines): the run itself
 * evaluates chunks of a few MB that it reuses, so the bench's gigabyte of
 * documents read once per pass must not charge the evaluator a TLB miss
 * every 4 KB that the pipeline does not pay. */
static void *huge_copy(const void *src, size_t bytes)
{
    size_t huge = 2u << 20, len = (bytes + huge - 1) / huge * huge;
    void *p = NULL;
    if (len == 0 || posix_memalign(&p, huge, len) != 0)
        return NULL;
    (void)madvise(p, len, MADV_HUGEPAGE);
    if (src)
        memcpy(p, src, bytes);
    else
        memset(p, 0, bytes);
    return p;
}

static int collect(void *ctx, const struct doc *doc, const struct doc_line *lines,
                   const uint64_t *uids)
{
    struct corpus *c = ctx;
    if (c->max_lines && c->nlines + doc->line_count > c->max_lines)
        return 1;
    c->docs = grow(c->docs, &c->doc_cap, c->ndocs + 1, sizeof *c->docs);
    c->lines = grow(c->lines, &c->line_cap, c->nlines + doc->line_count, sizeof *c->lines);
    struct doc *d = &c->docs[c->ndocs++];
    *d = *doc;
    d->line_first = (uint32_t)c->nlines;
    for (uint32_t i = 0; i < doc->line_count; i++) {
        struct doc_line l = lines[i];
        c->uids = grow(c->uids, &c->uid_cap, c->nuids + l.uid_count + 1, sizeof *c->uids);
        for (uint32_t k = 0; k < l.uid_count; k++)
            c->uids[c->nuids + k] = uids[l.uid_first + k];
        l.uid_first = (uint32_t)c->nuids;
        c->nuids += l.uid_count;
        c->lines[c->nlines++] = l;
    }
    return 0;
}

/* ---- seen_ops over idset ------------------------------------------------ */

struct seen {
    struct idset_u64 packs;
    struct idset_str docs;
};

static bool seen_doc(void *ctx, const char *id, uint32_t len)
{
    struct seen *s = ctx;
    bool was = false;
    if (!idset_str_insert(&s->docs, id, len, &was))
        exit(1);
    return was;
}

static bool seen_uid(void *ctx, uint64_t key)
{
    struct seen *s = ctx;
    bool was = false;
    if (!idset_u64_insert(&s->packs, key, &was))
        exit(1);
    return was;
}

/* ---- the hand-written yardstick ---------------------------------------- */

/* One map: open addressing of row indexes keyed by a 64-bit hash; rows of
 * one key are consecutive in the file order the generator writes. */
struct hmap {
    uint64_t *hash;
    uint32_t *row; /* row + 1; 0 = empty */
    uint64_t mask;
};

static void hmap_init(struct hmap *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->hash = calloc(cap, sizeof *m->hash);
    m->row = calloc(cap, sizeof *m->row);
    m->mask = cap - 1;
    if (!m->hash || !m->row)
        exit(1);
}

static void hmap_put(struct hmap *m, uint64_t h, uint32_t row)
{
    uint64_t i = h & m->mask;
    while (m->row[i] != 0) {
        if (m->hash[i] == h)
            return; /* first row of the key stays */
        i = (i + 1) & m->mask;
    }
    m->hash[i] = h;
    m->row[i] = row + 1;
}

static uint32_t hmap_get(const struct hmap *m, uint64_t h)
{
    uint64_t i = h & m->mask;
    while (m->row[i] != 0) {
        if (m->hash[i] == h)
            return m->row[i] - 1;
        i = (i + 1) & m->mask;
    }
    return UINT32_MAX;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct ins { uint64_t nid; int32_t birth, from, to; struct jdate bd; char sex; };
struct ctr { char id[33]; uint8_t len; char sector[4]; int deprived; int32_t from, to; };
struct phy { uint32_t mc; int32_t from, to; };
struct drg { char irc[21]; uint8_t len; int64_t pack, old_p, new_p, max_qty; int daroyar; int32_t from, to; };

struct hand {
    struct ins *ins; size_t nins; struct hmap mins;
    struct ctr *ctr; size_t nctr; struct hmap mctr;
    struct phy *phy; size_t nphy; struct hmap mphy;
    struct drg *drg; size_t ndrg; struct hmap mdrg;
    int32_t daroyar_start;
};

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
        exit(1);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* Splits the next line into at most 16 tab fields; returns false at end. */
static bool next_row(char **pos, char *end, char **f, size_t *fl, uint32_t *nf)
{
    if (*pos >= end)
        return false;
    char *s = *pos, *e = memchr(s, '\n', (size_t)(end - s));
    if (!e)
        e = end;
    *pos = e + 1;
    uint32_t n = 0;
    char *p = s;
    while (n < 16) {
        char *t = memchr(p, '\t', (size_t)(e - p));
        char *fe = t ? t : e;
        f[n] = p;
        fl[n] = (size_t)(fe - p);
        n++;
        if (!t)
            break;
        p = t + 1;
    }
    *nf = n;
    return true;
}

static int64_t num(const char *s, size_t n, int64_t empty)
{
    if (n == 0)
        return empty;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int32_t day(const char *s, size_t n, int32_t empty)
{
    struct jdate d;
    size_t off;
    if (n == 0)
        return empty;
    if (jdate_parse(s, n, &d, &off) != ADJ_OK)
        exit(1);
    return jdate_to_days(d);
}

static void hand_load(struct hand *h, const char *dir)
{
    char *f[16];
    size_t fl[16], len;
    uint32_t nf;
    memset(h, 0, sizeof *h);
    h->daroyar_start = jdate_to_days((struct jdate){1401, 4, 23});

    char *text = slurp(dir, "insured.tsv", &len), *pos = text;
    size_t cap = len / 30 + 16;
    h->ins = malloc(cap * sizeof *h->ins);
    next_row(&pos, text + len, f, fl, &nf);
    while (next_row(&pos, text + len, f, fl, &nf) && nf == 5 && h->nins < cap) {
        struct ins *r = &h->ins[h->nins];
        r->nid = (uint64_t)num(f[0], fl[0], 0);
        size_t off;
        jdate_parse(f[1], fl[1], &r->bd, &off);
        r->birth = jdate_to_days(r->bd);
        r->sex = f[2][0];
        r->from = day(f[3], fl[3], 0);
        r->to = day(f[4], fl[4], INT32_MAX);
        h->nins++;
    }
    free(text);
    hmap_init(&h->mins, h->nins);
    for (size_t i = 0; i < h->nins; i++)
        hmap_put(&h->mins, mix64(h->ins[i].nid), (uint32_t)i);

    text = slurp(dir, "centers.tsv", &len);
    pos = text;
    cap = len / 20 + 16;
    h->ctr = malloc(cap * sizeof *h->ctr);
    next_row(&pos, text + len, f, fl, &nf);
    while (next_row(&pos, text + len, f, fl, &nf) && nf == 8 && h->nctr < cap) {
        struct ctr *r = &h->ctr[h->nctr++];
        r->len = (uint8_t)fl[0];
        memcpy(r->id, f[0], fl[0]);
        memcpy(r->sector, f[1], 3);
        r->sector[3] = '\0';
        r->deprived = f[4][0] == '1';
        r->from = day(f[6], fl[6], 0);
        r->to = day(f[7], fl[7], INT32_MAX);
    }
    free(text);
    hmap_init(&h->mctr, h->nctr);
    for (size_t i = 0; i < h->nctr; i++)
        hmap_put(&h->mctr, text_hash64(h->ctr[i].id, h->ctr[i].len), (uint32_t)i);

    text = slurp(dir, "physicians.tsv", &len);
    pos = text;
    cap = len / 10 + 16;
    h->phy = malloc(cap * sizeof *h->phy);
    next_row(&pos, text + len, f, fl, &nf);
    while (next_row(&pos, text + len, f, fl, &nf) && nf == 7 && h->nphy < cap) {
        struct phy *r = &h->phy[h->nphy++];
        r->mc = (uint32_t)num(f[0], fl[0], 0);
        r->from = day(f[2], fl[2], 0);
        r->to = day(f[3], fl[3], INT32_MAX);
    }
    free(text);
    hmap_init(&h->mphy, h->nphy);
    for (size_t i = 0; i < h->nphy; i++)
        hmap_put(&h->mphy, mix64(h->phy[i].mc), (uint32_t)i);

    text = slurp(dir, "drugs.tsv", &len);
    pos = text;
    cap = len / 20 + 16;
    h->drg = malloc(cap * sizeof *h->drg);
    next_row(&pos, text + len, f, fl, &nf);
    while (next_row(&pos, text + len, f, fl, &nf) && nf == 8 && h->ndrg < cap) {
        struct drg *r = &h->drg[h->ndrg++];
        r->len = (uint8_t)fl[0];
        memcpy(r->irc, f[0], fl[0]);
        r->pack = num(f[1], fl[1], 0);
        r->old_p = num(f[2], fl[2], 0);
        r->new_p = num(f[3], fl[3], 0);
        r->daroyar = f[4][0] == '1';
        r->max_qty = num(f[5], fl[5], INT64_MAX);
        r->from = day(f[6], fl[6], 0);
        r->to = day(f[7], fl[7], INT32_MAX);
    }
    free(text);
    hmap_init(&h->mdrg, h->ndrg);
    for (size_t i = 0; i < h->ndrg; i++)
        hmap_put(&h->mdrg, text_hash64(h->drg[i].irc, h->drg[i].len), (uint32_t)i);
}

/* Reason bits by code, resolved from the rule set once. */
struct bits { uint64_t k01, k02, k03, k06, k07, k08, k09, k10, k16, k17, k18; };

static uint64_t bit_of(const struct rules_set *set, const char *code)
{
    uint32_t b = rules_reason_bit(set, code);
    return b == UINT32_MAX ? 0 : 1ull << b;
}

/* The first row of the key whose range contains dos, among the consecutive
 * rows of that key starting at row. */
#define FIND_RANGE(arr, n, row, keyeq, dos)                                      \
    do {                                                                          \
        while ((row) != UINT32_MAX && (row) < (n) && (keyeq) &&                  \
               !((arr)[row].from <= (dos) && (dos) <= (arr)[row].to))              \
            (row)++;                                                              \
        if ((row) != UINT32_MAX && ((row) >= (n) || !(keyeq)))                   \
            (row) = UINT32_MAX;                                                   \
    } while (0)

/* adjudication.md for a P document (drug lines only). */
static void hand_doc(const struct hand *h, const struct bits *b, const struct doc *d,
                     const struct doc_line *lines, const uint64_t *uids, struct seen *sn,
                     struct doc_decision *dout, struct line_decision *lout)
{
    int32_t dos = d->date2_days;
    uint64_t rej = 0;
    uint32_t ri = hmap_get(&h->mins, mix64(d->patient_nid));
    FIND_RANGE(h->ins, h->nins, ri, h->ins[ri].nid == d->patient_nid, dos);
    if (ri == UINT32_MAX)
        rej |= b->k01;
    uint32_t ci = hmap_get(&h->mctr, text_hash64(d->center, d->center_len));
    if (ci != UINT32_MAX && !(h->ctr[ci].len == d->center_len && memcmp(h->ctr[ci].id, d->center, d->center_len) == 0))
        ci = UINT32_MAX;
    if (ci == UINT32_MAX || dos < h->ctr[ci].from || dos > h->ctr[ci].to)
        rej |= b->k16;
    uint32_t pi = hmap_get(&h->mphy, mix64(d->prescriber_mc));
    if (pi != UINT32_MAX && h->phy[pi].mc != d->prescriber_mc)
        pi = UINT32_MAX;
    if (pi == UINT32_MAX || d->date1_days < h->phy[pi].from || d->date1_days > h->phy[pi].to)
        rej |= b->k17;
    if (d->date2_days - d->date1_days > 30)
        rej |= b->k18;
    if (seen_doc(sn, d->doc_id, d->doc_id_len))
        rej |= b->k09;
    memset(dout, 0, sizeof *dout);
    dout->reasons = rej;
    int64_t copay = 3000;
    if (!rej) {
        const char *sec = h->ctr[ci].sector;
        int32_t age = jdate_age_years(h->ins[ri].bd, d->date2);
        if (strcmp(sec, "SSO") == 0 ||
            ((strcmp(sec, "GOV") == 0 || strcmp(sec, "UNI") == 0) && (age >= 65 || h->ctr[ci].deprived)))
            copay = 0;
    }
    bool all_a = true, all_r = true;
    for (uint32_t i = 0; i < d->line_count; i++) {
        const struct doc_line *l = &lines[i];
        struct line_decision *o = &lout[i];
        memset(o, 0, sizeof *o);
        if (rej) {
            o->reasons = rej;
            o->status = STATUS_R;
            o->deduction_rials = l->claimed_insurer_rials + l->claimed_daroyar_rials;
        } else {
            uint64_t rs = 0;
            int64_t daroyar = 0, insurer = 0;
            uint32_t di = hmap_get(&h->mdrg, text_hash64(l->code, l->code_len));
#define DRUG_EQ (h->drg[di].len == l->code_len && memcmp(h->drg[di].irc, l->code, l->code_len) == 0)
            FIND_RANGE(h->drg, h->ndrg, di, DRUG_EQ, dos);
            if (di == UINT32_MAX) {
                rs |= b->k02;
            } else {
                const struct drg *g = &h->drg[di];
                int64_t qa = (int64_t)l->qty < g->max_qty ? (int64_t)l->qty : g->max_qty;
                if ((int64_t)l->qty > g->max_qty)
                    rs |= b->k10;
                int64_t good = 0, reused = 0, invalid = 0;
                for (uint32_t k = 0; k < l->uid_count; k++) {
                    uint64_t u = uids[l->uid_first + k];
                    if (u == IDS_UID_INVALID)
                        invalid++;
                    else if (seen_uid(sn, u))
                        reused++;
                    else
                        good++;
                }
                int64_t needed = money_div_ceil(qa, g->pack);
                if (good < needed) {
                    int64_t cap = good * g->pack;
                    qa = qa < cap ? qa : cap;
                    if (reused > 0)
                        rs |= b->k08;
                    if (invalid > 0 || (int64_t)l->uid_count < needed)
                        rs |= b->k07;
                }
                if (l->unit_price_rials > g->new_p)
                    rs |= b->k03;
                bool listed = g->daroyar && dos >= h->daroyar_start && g->new_p > g->old_p;
                int64_t base = listed ? g->old_p : g->new_p, pat = 0;
                o->gross_rials = qa * g->new_p;
                if (!money_mul_bp_round_half_up(qa * base, copay, &pat))
                    exit(1);
                o->patient_rials = pat;
                insurer = qa * base - pat;
                daroyar = listed ? qa * (g->new_p - g->old_p) : 0;
                o->qty_a = qa;
            }
            o->insurer_rials = insurer;
            o->daroyar_rials = daroyar;
            o->approved_insurer_rials = l->claimed_insurer_rials < insurer ? l->claimed_insurer_rials : insurer;
            o->approved_daroyar_rials = l->claimed_daroyar_rials < daroyar ? l->claimed_daroyar_rials : daroyar;
            if (l->claimed_daroyar_rials > daroyar)
                rs |= b->k06;
            if (l->claimed_insurer_rials > insurer && rs == 0)
                rs |= b->k03;
            o->deduction_rials = l->claimed_insurer_rials + l->claimed_daroyar_rials -
                                 o->approved_insurer_rials - o->approved_daroyar_rials;
            o->reasons = rs;
            o->status = rs == 0 && o->deduction_rials == 0 ? STATUS_A
                        : o->approved_insurer_rials + o->approved_daroyar_rials == 0 && rs ? STATUS_R
                                                                                           : STATUS_P;
        }
        all_a &= o->status == STATUS_A;
        all_r &= o->status == STATUS_R;
        dout->approved_insurer_rials += o->approved_insurer_rials;
        dout->approved_daroyar_rials += o->approved_daroyar_rials;
        dout->deduction_rials += o->deduction_rials;
    }
    dout->status = all_a ? STATUS_A : all_r ? STATUS_R : STATUS_P;
}

/* The yardstick's own look-ahead, as fair as the interpreter's: the
 * insured and center slots of a document 16 ahead, their rows 8 ahead. */
static void hand_prefetch(const struct hand *h, const struct doc *d, int stage)
{
    uint64_t hi = mix64(d->patient_nid), hc = text_hash64(d->center, d->center_len);
    if (stage == 0) {
        __builtin_prefetch(&h->mins.hash[hi & h->mins.mask]);
        __builtin_prefetch(&h->mins.row[hi & h->mins.mask]);
        __builtin_prefetch(&h->mctr.hash[hc & h->mctr.mask]);
        return;
    }
    uint32_t ri = hmap_get(&h->mins, hi);
    if (ri != UINT32_MAX)
        __builtin_prefetch(&h->ins[ri]);
}

/* The yardstick's drug lookups of a document's lines, as
 * rules_prefetch_lines does for the interpreter's. */
static void hand_prefetch_lines(const struct hand *h, const struct corpus *c, const struct doc *d,
                                int stage)
{
    for (uint32_t i = 0; i < d->line_count && i < 16; i++) {
        const struct doc_line *l = &c->lines[d->line_first + i];
        uint64_t hd = text_hash64(l->code, l->code_len);
        if (stage == 0) {
            __builtin_prefetch(&h->mdrg.hash[hd & h->mdrg.mask]);
            __builtin_prefetch(&h->mdrg.row[hd & h->mdrg.mask]);
        } else {
            uint32_t di = hmap_get(&h->mdrg, hd);
            if (di != UINT32_MAX)
                __builtin_prefetch(&h->drg[di]);
        }
    }
}

/* The K08/K09 sets' slots of a document 4 ahead: what core/adjud.c does
 * for the settled history (adjud_prefetch_history), here for the one set
 * the bench keeps. Both the interpreter's and the yardstick's passes with
 * look-ahead call it. */
static void seen_prefetch(const struct seen *s, const struct corpus *c, const struct doc *d)
{
    idset_str_prefetch(&s->docs, d->doc_id, d->doc_id_len);
    uint32_t budget = 16;
    for (uint32_t l = 0; l < d->line_count && budget > 0; l++) {
        const struct doc_line *line = &c->lines[d->line_first + l];
        for (uint32_t u = 0; u < line->uid_count && budget > 0; u++, budget--) {
            uint64_t key = c->uids[line->uid_first + u];
            if (key != IDS_UID_INVALID)
                idset_u64_prefetch(&s->packs, key);
        }
    }
}

static void seen_reset(struct seen *s)
{
    idset_u64_clear(&s->packs);
    idset_str_clear(&s->docs);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s RULES_DIR TABLES_DIR BATCH [MAX_LINES] [REPEAT]\n", argv[0]);
        return 64;
    }
    struct corpus c;
    memset(&c, 0, sizeof c);
    c.max_lines = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
    int repeat = argc > 5 ? atoi(argv[5]) : 1;
    const char *ahead = getenv("BENCH_AHEAD");
    if (ahead && atoi(ahead) > 0) {
        A1 = (size_t)atoi(ahead);
        A0 = 2 * A1;
    }
    const char *ahead_seen = getenv("BENCH_AHEAD_SEEN");
    if (ahead_seen && atoi(ahead_seen) > 0)
        AS = (size_t)atoi(ahead_seen);
    if (repeat < 1)
        repeat = 1;

    int64_t t0 = now_ns(CLOCK_MONOTONIC), u0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    struct rules_set *set = NULL;
    if (rules_load(argv[1], argv[2], stderr, &set) != ADJ_OK)
        return 1;
    int64_t t1 = now_ns(CLOCK_MONOTONIC), u1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    printf("rules_load: %.3f s wall, %.3f s cpu\n", (double)(t1 - t0) / 1e9, (double)(u1 - u0) / 1e9);

    uint64_t rejected = 0;
    if (rb_each_doc(argv[3], NULL, 0, NULL, collect, &c, &rejected, NULL) != ADJ_OK)
        return 1;
    printf("corpus: %zu docs, %zu lines, %zu pack ids (%llu rejected at intake)\n", c.ndocs,
           c.nlines, c.nuids, (unsigned long long)rejected);

    if (getenv("BENCH_SMALL_PAGES") == NULL) {
        struct doc *docs = huge_copy(c.docs, (c.ndocs + 1) * sizeof *c.docs);
        struct doc_line *lines = huge_copy(c.lines, (c.nlines + 1) * sizeof *c.lines);
        uint64_t *uids = huge_copy(c.uids, (c.nuids + 1) * sizeof *c.uids);
        if (!docs || !lines || !uids)
            return 1;
        free(c.docs);
        free(c.lines);
        free(c.uids);
        c.docs = docs;
        c.lines = lines;
        c.uids = uids;
    }
    struct line_decision *lo = huge_copy(NULL, (c.nlines + 1) * sizeof *lo);
    struct doc_decision *dd = huge_copy(NULL, (c.ndocs + 1) * sizeof *dd);
    struct line_decision *lo2 = huge_copy(NULL, (c.nlines + 1) * sizeof *lo2);
    struct doc_decision *dd2 = huge_copy(NULL, (c.ndocs + 1) * sizeof *dd2);
    struct seen sn;
    if (lo && dd && lo2 && dd2) {
        /* Fault the output pages in now, not inside the first timed pass. */
        memset(lo, 0, (c.nlines + 1) * sizeof *lo);
        memset(dd, 0, (c.ndocs + 1) * sizeof *dd);
        memset(lo2, 0, (c.nlines + 1) * sizeof *lo2);
        memset(dd2, 0, (c.ndocs + 1) * sizeof *dd2);
    }
    if (!lo || !dd || !lo2 || !dd2 || !idset_u64_init(&sn.packs, c.nuids + 16) ||
        !idset_str_init(&sn.docs, c.ndocs + 16, c.ndocs * 20 + 64))
        return 1;
    struct seen_ops ops = {&sn, seen_doc, seen_uid};
    /* BENCH_NO_SEEN=1: evaluate without the K08/K09 sets (what the sets'
     * cache misses cost). */
    const char *no_seen = getenv("BENCH_NO_SEEN");
    const struct seen_ops *opsp = no_seen && no_seen[0] == '1' ? NULL : &ops;

    /* 1. The interpreter over every document, without and with
     * rules_prefetch_doc a few documents ahead (as the pipeline may call it). */
    int64_t best_all = INT64_MAX, best_pf = INT64_MAX;
    /* BENCH_NO_PREFETCH=1 skips the prefetch passes (instruction counts
     * under callgrind comparable with a build without rules_prefetch_doc). */
    const char *no_pf = getenv("BENCH_NO_PREFETCH");
    int step = no_pf && no_pf[0] == '1' ? 2 : 1;
    /* BENCH_ONLY_LOOKAHEAD=1: only the passes with look-ahead (profiling
     * what the run itself does); =2: the first of them alone. */
    const char *only_la = getenv("BENCH_ONLY_LOOKAHEAD");
    int r0 = only_la && (only_la[0] == '1' || only_la[0] == '2') && step == 1 ? 1 : 0;
    if (r0 == 1)
        step = 2;
    for (int r = r0; r < 2 * repeat; r += step) {
        bool pf = r % 2 == 1;
        seen_reset(&sn);
        int64_t a = now_ns(CLOCK_THREAD_CPUTIME_ID);
        for (size_t i = 0; i < c.ndocs; i++) {
            const struct doc *d = &c.docs[i];
            if (pf && i + A0 < c.ndocs)
                rules_prefetch_doc(set, &c.docs[i + A0], 0);
            if (pf && i + A1 < c.ndocs)
                rules_prefetch_doc(set, &c.docs[i + A1], 1);
            if (pf && i + AS < c.ndocs)
                seen_prefetch(&sn, &c, &c.docs[i + AS]);
            if (pf && i + L1 < c.ndocs)
                rules_prefetch_lines(set, &c.docs[i + L1], c.lines + c.docs[i + L1].line_first);
            enum adj_err e = rules_eval_doc(set, d, c.lines + d->line_first, c.uids, opsp, &dd[i],
                                            lo + d->line_first, NULL);
            if (e != ADJ_OK) {
                fprintf(stderr, "doc %zu: %s\n", i, adj_err_name(e));
                return 1;
            }
        }
        int64_t el = now_ns(CLOCK_THREAD_CPUTIME_ID) - a;
        if (pf)
            best_pf = el < best_pf ? el : best_pf;
        else
            best_all = el < best_all ? el : best_all;
    }
    if (best_all != INT64_MAX)
        printf("compiled evaluator, all docs: %.3f s cpu, %.2f M lines/s, %.0f ns/line\n",
               (double)best_all / 1e9, (double)c.nlines / ((double)best_all / 1e9) / 1e6,
               (double)best_all / (double)c.nlines);
    if (best_pf != INT64_MAX)
        printf("compiled evaluator, all docs, look-ahead (tables 16/8, lines 4, seen sets 4): %.3f s cpu, %.2f M lines/s, "
               "%.0f ns/line\n",
               (double)best_pf / 1e9, (double)c.nlines / ((double)best_pf / 1e9) / 1e6,
               (double)best_pf / (double)c.nlines);

    /* BENCH_ONLY_LOOKAHEAD=2: that pass alone (a profile of it). */
    if (only_la && only_la[0] == '2') {
        rules_free(set);
        return 0;
    }

    /* 2. P documents only: interpreter, then the hand-written function. */
    struct bits b = {bit_of(set, "K01"), bit_of(set, "K02"), bit_of(set, "K03"), bit_of(set, "K06"),
                     bit_of(set, "K07"), bit_of(set, "K08"), bit_of(set, "K09"), bit_of(set, "K10"),
                     bit_of(set, "K16"), bit_of(set, "K17"), bit_of(set, "K18")};
    struct hand h;
    hand_load(&h, argv[2]);
    /* The P documents in input order, so both passes look ahead over them
     * alike (tables 16/8 documents ahead, the seen sets 4). */
    size_t np = 0, plines = 0;
    size_t *pidx = malloc((c.ndocs + 1) * sizeof *pidx);
    if (!pidx)
        return 1;
    for (size_t i = 0; i < c.ndocs; i++)
        if (c.docs[i].kind == DOC_KIND_P) {
            pidx[np++] = i;
            plines += c.docs[i].line_count;
        }
    int64_t best_p = INT64_MAX, best_h = INT64_MAX;
    for (int r = 0; r < repeat; r++) {
        seen_reset(&sn);
        int64_t a = now_ns(CLOCK_THREAD_CPUTIME_ID);
        for (size_t j = 0; j < np; j++) {
            if (j + A0 < np)
                rules_prefetch_doc(set, &c.docs[pidx[j + A0]], 0);
            if (j + A1 < np)
                rules_prefetch_doc(set, &c.docs[pidx[j + A1]], 1);
            if (j + AS < np)
                seen_prefetch(&sn, &c, &c.docs[pidx[j + AS]]);
            if (j + L1 < np)
                rules_prefetch_lines(set, &c.docs[pidx[j + L1]], c.lines + c.docs[pidx[j + L1]].line_first);
            const struct doc *d = &c.docs[pidx[j]];
            if (rules_eval_doc(set, d, c.lines + d->line_first, c.uids, &ops, &dd[pidx[j]],
                               lo + d->line_first, NULL) != ADJ_OK)
                return 1;
        }
        int64_t el = now_ns(CLOCK_THREAD_CPUTIME_ID) - a;
        best_p = el < best_p ? el : best_p;

        seen_reset(&sn);
        a = now_ns(CLOCK_THREAD_CPUTIME_ID);
        for (size_t j = 0; j < np; j++) {
            if (j + A0 < np)
                hand_prefetch(&h, &c.docs[pidx[j + A0]], 0);
            if (j + A1 < np)
                hand_prefetch(&h, &c.docs[pidx[j + A1]], 1);
            if (j + AS < np)
                seen_prefetch(&sn, &c, &c.docs[pidx[j + AS]]);
            if (j + L0 < np)
                hand_prefetch_lines(&h, &c, &c.docs[pidx[j + L0]], 0);
            if (j + L1 < np)
                hand_prefetch_lines(&h, &c, &c.docs[pidx[j + L1]], 1);
            const struct doc *d = &c.docs[pidx[j]];
            hand_doc(&h, &b, d, c.lines + d->line_first, c.uids, &sn, &dd2[pidx[j]],
                     lo2 + d->line_first);
        }
        el = now_ns(CLOCK_THREAD_CPUTIME_ID) - a;
        best_h = el < best_h ? el : best_h;
    }
    free(pidx);
    size_t diff = 0;
    for (size_t i = 0; i < c.ndocs; i++) {
        const struct doc *d = &c.docs[i];
        if (d->kind != DOC_KIND_P)
            continue;
        for (uint32_t k = 0; k < d->line_count; k++) {
            const struct line_decision *x = &lo[d->line_first + k], *y = &lo2[d->line_first + k];
            if (x->qty_a != y->qty_a || x->gross_rials != y->gross_rials ||
                x->patient_rials != y->patient_rials || x->insurer_rials != y->insurer_rials ||
                x->daroyar_rials != y->daroyar_rials ||
                x->approved_insurer_rials != y->approved_insurer_rials ||
                x->approved_daroyar_rials != y->approved_daroyar_rials ||
                x->deduction_rials != y->deduction_rials || x->reasons != y->reasons ||
                x->status != y->status) {
                if (diff < 3)
                    fprintf(stderr, "differs: doc %.*s line %u\n", (int)d->doc_id_len, d->doc_id,
                            c.lines[d->line_first + k].line_no);
                diff++;
            }
        }
    }
    printf("P docs (%zu drug lines): compiled evaluator %.3f s cpu (%.2f M lines/s), hand-written %.3f s "
           "cpu (%.2f M lines/s), ratio %.2f; %zu lines differ\n",
           plines, (double)best_p / 1e9, (double)plines / ((double)best_p / 1e9) / 1e6,
           (double)best_h / 1e9, (double)plines / ((double)best_h / 1e9) / 1e6,
           (double)best_p / (double)best_h, diff);
    /* 3. The reference tree walker (rules_eval_doc_reference) over every
     * document once, with the same prefetch as the compiled evaluator's
     * best pass: what the compiled evaluator replaced, same results. */
    seen_reset(&sn);
    int64_t a = now_ns(CLOCK_THREAD_CPUTIME_ID);
    for (size_t i = 0; i < c.ndocs; i++) {
        const struct doc *d = &c.docs[i];
        if (i + A0 < c.ndocs)
            rules_prefetch_doc(set, &c.docs[i + A0], 0);
        if (i + A1 < c.ndocs)
            rules_prefetch_doc(set, &c.docs[i + A1], 1);
        if (i + AS < c.ndocs)
            seen_prefetch(&sn, &c, &c.docs[i + AS]);
        if (i + L1 < c.ndocs)
            rules_prefetch_lines(set, &c.docs[i + L1], c.lines + c.docs[i + L1].line_first);
        if (rules_eval_doc_reference(set, d, c.lines + d->line_first, c.uids, &ops, &dd2[i],
                                     lo2 + d->line_first, NULL) != ADJ_OK)
            return 1;
    }
    int64_t el = now_ns(CLOCK_THREAD_CPUTIME_ID) - a;
    int64_t best = best_pf < best_all ? best_pf : best_all;
    printf("reference tree walker, all docs, same prefetch: %.3f s cpu, %.2f M lines/s "
           "(compiled: %.2fx faster)\n",
           (double)el / 1e9, (double)c.nlines / ((double)el / 1e9) / 1e6, (double)el / (double)best);
    rules_free(set);
    return diff != 0;
}
