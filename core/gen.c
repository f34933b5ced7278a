/*
 * gen: the synthetic province generator (see gen.h for the contract and
 * notes/gen.md for how each anomaly is made exactly detectable).
 *
 * Shape of the work: build the reference tables in memory (small, except
 * the insured, which are never stored: a person's attributes are a hash of
 * their index), write them, then produce documents one at a time into a
 * reused buffer and hand each to the batch writer. Nothing is allocated per
 * document or line. All money is int64 rials; shares use money.h's rnd.
 */
#include "core/gen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base/assert.h"
#include "core/base/ids.h"
#include "core/base/money.h"
#include "core/base/text.h"
#include "io/zwriter.h"

const char *gen_kind_code(enum gen_kind kind)
{
    static const char *const codes[] = {
#define GEN_KIND_NAME(code) #code,
        GEN_KIND_MAP(GEN_KIND_NAME)
#undef GEN_KIND_NAME
    };
    ADJ_ASSERT((unsigned)kind < GEN_KIND_COUNT);
    return codes[kind];
}

void gen_config_default(struct gen_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->prescriptions = 940000;
    cfg->inpatient = 380000;
    cfg->inpatient_lines = 20;
    cfg->scale_ppm = GEN_PPM;
    cfg->centers = 2300;
    cfg->insured = 3100000;
    cfg->physicians = 9000;
    cfg->drugs = 20000;
    cfg->daroyar = 455;
    cfg->services = 10000;
    cfg->supplies = 3000;
    cfg->pairs = 400;
    cfg->anomaly_ppm = 20000;
    cfg->malformed_ppm = 0;
    cfg->zstd_level = 0;
    snprintf(cfg->province, sizeof cfg->province, "KHZ");
    cfg->period = (struct jdate){1403, 10, 1};
    cfg->batch_id[0] = '\0'; /* Derived from province, period and seed. */
}

/* ---------------------------------------------------------------- random */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t mix64(uint64_t x)
{
    return splitmix64(&x);
}

struct rng {
    uint64_t s[4];
};

static void rng_seed(struct rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna). */
static inline uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) by multiply-high (Lemire, without the rejection step:
 * the bias is below 2^-32 for our n, irrelevant for synthetic data). */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
    ADJ_DEBUG_ASSERT(n > 0);
    return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* True with probability ppm / 1e6. */
static inline bool rng_ppm(struct rng *r, uint32_t ppm)
{
    return rng_below(r, GEN_PPM) < ppm;
}

/* ---------------------------------------------------------------- buffers */

struct gbuf {
    char *p;
    size_t len, cap;
};

static void gbuf_reserve(struct gbuf *b, size_t extra)
{
    if (b->len + extra <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    ADJ_ASSERT(p != NULL);
    b->p = p;
    b->cap = cap;
}

static inline void put_mem(struct gbuf *b, const char *s, size_t n)
{
    gbuf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void put_str(struct gbuf *b, const char *s)
{
    put_mem(b, s, strlen(s));
}

static inline void put_ch(struct gbuf *b, char c)
{
    gbuf_reserve(b, 1);
    b->p[b->len++] = c;
}

static inline void put_u64(struct gbuf *b, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    gbuf_reserve(b, (size_t)n);
    while (n > 0) {
        b->p[b->len++] = tmp[--n];
    }
}

static inline void put_i64(struct gbuf *b, int64_t v)
{
    ADJ_ASSERT(v >= 0);
    put_u64(b, (uint64_t)v);
}

/* Exactly `width` digits, leading zeros. */
static inline void put_udigits(struct gbuf *b, uint64_t v, int width)
{
    gbuf_reserve(b, (size_t)width);
    for (int i = width - 1; i >= 0; i--) {
        b->p[b->len + (size_t)i] = (char)('0' + v % 10);
        v /= 10;
    }
    b->len += (size_t)width;
}

static inline void put_tab(struct gbuf *b)
{
    put_ch(b, '\t');
}

/* ---------------------------------------------------------------- tables */

enum sector { SEC_GOV, SEC_UNI, SEC_PUB, SEC_CHR, SEC_PRV, SEC_SSO, SEC_COUNT };
static const char *const sector_name[SEC_COUNT] = {"GOV", "UNI", "PUB", "CHR", "PRV", "SSO"};
enum ctype { CT_PHARMACY, CT_HOSPITAL, CT_CLINIC };
static const char *const ctype_name[] = {"PHARMACY", "HOSPITAL", "CLINIC"};

/* Parameters written to params.tsv (and used by the generator's pricing). */
#define GEN_COPAY_OUT_BP 3000
#define GEN_COPAY_IN_BP 1000
#define GEN_COPAY_TMP_BP 3000
#define GEN_FULL_COVER_AGE 65
#define GEN_FACULTY_UPLIFT_BP 17000
#define GEN_RX_VALID_DAYS 30
#define GEN_GRADES 5

struct g_center {
    uint8_t sector, type, deprived, grade, contracted;
    int32_t contract_to; /* Day number; 0 = open ended. */
};

struct g_phys {
    int32_t lic_to; /* 0 = open. */
    uint8_t fulltime, pp;
};

struct g_drug {
    int64_t pn, po;               /* Prices from `from` (or before split). */
    int64_t pn2, po2;             /* Prices from split on (when split != 0). */
    int32_t split;                /* Day number the second row starts; 0 = one row. */
    int32_t to;                   /* Discontinued after this day; 0 = open. */
    uint32_t pack_units, max_qty; /* max_qty 0 = no limit. */
    uint8_t daroyar;
};

struct g_service {
    int64_t rvu_p, rvu_t;
    uint32_t max_qty;
    int32_t to;
    uint8_t flag; /* 0 '#', 1 'S' */
    char sex;     /* 'M' 'F' '-' */
    uint8_t age_min, age_max;
    uint8_t pair2; /* Only ever the code2 of a pair: never on a clean document. */
};

struct g_supply {
    int64_t price;
    uint32_t max_qty;
    int32_t to;
};

struct ulist {
    uint32_t *v;
    uint32_t n, cap;
};

static void ulist_push(struct ulist *l, uint32_t x)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
        ADJ_ASSERT(l->v != NULL);
    }
    l->v[l->n++] = x;
}

static inline uint32_t ulist_pick(const struct ulist *l, struct rng *r)
{
    ADJ_ASSERT(l->n > 0);
    return l->v[rng_below(r, l->n)];
}

/* Recently consumed pack ids (keys of 19 digits), for reuse anomalies. */
#define GEN_RING 4096u

/* A document kept for a later K09 duplicate: its rendered bytes. */
struct g_saved {
    struct gbuf text;
    uint32_t lines;
    int64_t total, insurer, daroyar;
    char doc_id[40];
    bool valid;
};

struct gen {
    const struct gen_config *cfg;
    struct rng rt, rd;
    uint64_t ins_salt;
    int32_t ps, pe, day_base; /* Period start/end, table `from` day (1395/01/01). */
    int32_t dc_lo, dc_hi;
    char (*dcache)[10];
    char tag[8];

    struct g_center *centers;
    struct ulist pharm, hosp, uncontracted;
    struct g_phys *phys;
    struct ulist licensed, unlicensed, faculty_ok, not_faculty, faculty_pp;
    struct g_drug *drugs;
    struct ulist d_active, d_nonlisted, d_nonlisted_max, d_listed, d_gone;
    struct g_service *svc;
    struct ulist s_pool, s_pool_max, s_restricted, s_gone;
    struct g_supply *sup;
    struct ulist k_active, k_max, k_gone;
    uint32_t *pair_a, *pair_b, n_pairs;
    int64_t kp[SEC_COUNT][2], kt[SEC_COUNT][2];
    int64_t bed_price[GEN_GRADES + 1];

    uint64_t uid_next;
    uint64_t ring[GEN_RING];
    uint32_t ring_n, ring_pos;

    struct zwriter *batch, *truth;
    struct gbuf doc, tr;
    struct g_saved saved[2]; /* [0] P, [1] I */
    uint64_t seq;
    uint64_t t_docs, t_lines;
    int64_t t_total, t_ins, t_dar;
    struct gen_stats *st;
};

/* ---------------------------------------------------------------- dates */

static void put_date(struct gen *g, struct gbuf *b, int32_t day)
{
    if (day >= g->dc_lo && day < g->dc_hi) {
        put_mem(b, g->dcache[day - g->dc_lo], 10);
        return;
    }
    char tmp[11];
    jdate_format(jdate_from_days(day), tmp);
    put_mem(b, tmp, 10);
}

static int32_t day_of(int32_t y, int32_t m, int32_t d)
{
    return jdate_to_days((struct jdate){y, m, d});
}

/* ---------------------------------------------------------------- ids */

/* A national code from an index: '0', a bijective scramble of the index
 * into 1..99,999,999 (so never all-equal digits), and the check digit.
 * Index >= cfg->insured gives valid codes of people not in insured.tsv. */
#define GEN_NID_SPACE 99999999ULL
static void make_nid(const struct gen *g, uint64_t i, char out[10])
{
    uint64_t v = (i * 48271ULL + g->ins_salt) % GEN_NID_SPACE + 1;
    out[0] = '0';
    for (int k = 8; k >= 1; k--) {
        out[k] = (char)('0' + v % 10);
        v /= 10;
    }
    out[9] = (char)('0' + ids_nid_check_digit(out));
}

struct g_person {
    int32_t birth, covered_from, covered_to; /* covered_to 0 = open. */
    int32_t gap_from, gap_to;                /* Not covered in [gap_from, gap_to]; 0 = no gap. */
    char sex;
};

/* Every 33rd insured (from index 7) lost coverage before the period. */
static inline bool ins_expired(uint64_t i)
{
    return i % 33 == 7;
}
/* Every 97th (from 13) had a break in coverage, long before the period: two
 * insured.tsv rows, the second one covering the period. */
static inline bool ins_gap(uint64_t i)
{
    return i % 97 == 13 && !ins_expired(i);
}

static void person_of(const struct gen *g, uint64_t i, struct g_person *p)
{
    uint64_t h = mix64(g->ins_salt ^ (i * 0xD1B54A32D192ED03ULL));
    p->sex = (h & 1) ? 'F' : 'M';
    int32_t age = (int32_t)(((h >> 8) % 86 + (h >> 24) % 86) / 2);
    if ((h >> 40) % 100 < 8) {
        age = 65 + (int32_t)((h >> 48) % 25);
    }
    p->birth = g->ps - age * 365 - (int32_t)((h >> 32) % 365);
    p->covered_from = (int32_t)money_max(p->birth, day_of(1390, 1, 1));
    p->covered_to = ins_expired(i) ? g->ps - 1 - (int32_t)((h >> 12) % 700) : 0;
    if (p->covered_to != 0 && p->covered_to < p->covered_from) {
        p->covered_from = p->covered_to;
    }
    p->gap_from = p->gap_to = 0;
    if (ins_gap(i) && p->covered_from < g->ps - 400) {
        p->gap_from = g->ps - 399;
        p->gap_to = g->ps - 200;
    }
}

static void put_mc(struct gbuf *b, uint32_t idx)
{
    put_u64(b, 100000u + idx);
}
static void put_center_id(struct gbuf *b, uint32_t idx)
{
    put_ch(b, 'C');
    put_u64(b, 100000u + idx);
}
static void put_irc(struct gbuf *b, uint32_t idx)
{
    put_u64(b, 6260000000000000ULL + idx * 1013ULL);
}
static void put_svc_code(struct gbuf *b, uint32_t idx)
{
    put_u64(b, 100000u + idx);
}
static void put_sup_code(struct gbuf *b, uint32_t idx)
{
    put_ch(b, 'K');
    put_u64(b, 10000u + idx);
}

/* Pack id: 5 digits of the drug, '0' (unit-level), 14-digit serial; the
 * key is the 19 digits without the '0', as ids_uid_pack makes it. */
#define GEN_SERIAL_SPACE 100000000000000ULL
static uint64_t uid_key(uint32_t drug, uint64_t serial)
{
    return (10000u + (drug * 7u) % 90000u) * GEN_SERIAL_SPACE + serial % GEN_SERIAL_SPACE;
}

static void put_uid(struct gbuf *b, uint64_t key, char sixth)
{
    put_udigits(b, key / GEN_SERIAL_SPACE, 5);
    put_ch(b, sixth);
    put_udigits(b, key % GEN_SERIAL_SPACE, 14);
}

/* ---------------------------------------------------------------- pricing */

static int64_t rnd(int64_t x, int64_t bp)
{
    int64_t out = 0;
    ADJ_ASSERT(money_mul_bp_round_half_up(x, bp, &out));
    return out;
}

static int64_t mul(int64_t a, int64_t b)
{
    int64_t out = 0;
    ADJ_ASSERT(money_mul(a, b, &out));
    return out;
}

static int insurer_basis(int sector)
{
    return sector == SEC_PRV ? SEC_GOV : sector;
}

static int64_t svc_price(const struct gen *g, const struct g_service *s, int sector)
{
    return (s->rvu_p * g->kp[sector][s->flag] + s->rvu_t * g->kt[sector][s->flag] + 50) / 100;
}

static int64_t svc_prof(const struct gen *g, const struct g_service *s, int sector)
{
    return (s->rvu_p * g->kp[sector][s->flag] + 50) / 100;
}

static void drug_prices(const struct g_drug *d, int32_t dos, int64_t *pn, int64_t *po)
{
    if (d->split != 0 && dos >= d->split) {
        *pn = d->pn2;
        *po = d->po2;
    } else {
        *pn = d->pn;
        *po = d->po;
    }
}

/* ---------------------------------------------------------------- documents */

struct g_doc {
    char kind;      /* 'P' or 'I' */
    char stay;      /* 'B' 'M' for I */
    int64_t center; /* Index, or -1 - k for an unknown id. */
    int sector;     /* Of the center (PRV stand-in when unknown). */
    uint8_t deprived, grade;
    uint64_t patient; /* Insured index (>= insured: not in the table). */
    struct g_person person;
    int64_t prescriber; /* Index, or -1 - k unknown. */
    int32_t d1, d2;     /* rx/dispense or admit/discharge. */
    int32_t dos;
    int32_t age;
    int64_t c; /* Copay rate, bp. */
    uint32_t diag;
};

enum uid_op { UID_NONE, UID_REUSE, UID_INVALID, UID_DROP };

struct g_line {
    char kind;    /* D S K B */
    uint32_t idx; /* Table index; >= table size: an unknown code. */
    int64_t qty, unit_price, ins, dar;
    int64_t total_bump; /* Malformed: claimed_total off by this. */
    uint32_t mc;
    char tclass;
    uint32_t nuids;
    uint64_t serial; /* Of the first uid; the next ones follow. */
    enum uid_op op;
    uint32_t op_pos;
    uint64_t reused;
    int reason; /* Expected line reason (gen_kind) or -1. */
};

#define GEN_MAX_LINES 64u

/* Copay rate of a document (adjudication.md "Copay rate c"). */
static int64_t copay_of(const struct g_doc *d)
{
    int64_t c = d->kind == 'P'   ? GEN_COPAY_OUT_BP
                : d->stay == 'B' ? GEN_COPAY_IN_BP
                                 : GEN_COPAY_TMP_BP;
    if (d->sector == SEC_SSO) {
        c = 0;
    }
    if ((d->sector == SEC_GOV || d->sector == SEC_UNI) &&
        (d->age >= GEN_FULL_COVER_AGE || d->deprived)) {
        c = 0;
    }
    return c;
}

static bool svc_fits(const struct g_service *s, const struct g_doc *d)
{
    return (s->sex == '-' || s->sex == d->person.sex) && d->age >= s->age_min &&
           d->age <= s->age_max;
}

/* Prices a drug line as adjudication.md does (qty_a = qty) and sets the
 * claims to exactly the computed shares. */
static void price_drug(const struct gen *g, const struct g_doc *d, struct g_line *l)
{
    const struct g_drug *dr = &g->drugs[l->idx];
    int64_t pn, po;
    drug_prices(dr, d->dos, &pn, &po);
    bool listed = dr->daroyar && pn > po; /* The period is after daroyar_start. */
    int64_t base = listed ? po : pn;
    int64_t patient = rnd(mul(l->qty, base), d->c);
    l->unit_price = pn;
    l->ins = mul(l->qty, base) - patient;
    l->dar = listed ? mul(l->qty, pn - po) : 0;
}

/* The faculty uplift per unit when eligible, else 0. */
static int64_t uplift_unit(const struct gen *g, const struct g_doc *d, const struct g_service *s)
{
    int64_t prof_b = svc_prof(g, s, insurer_basis(d->sector));
    return rnd(prof_b, GEN_FACULTY_UPLIFT_BP) - prof_b;
}

static void price_service(const struct gen *g, const struct g_doc *d, struct g_line *l,
                          bool eligible)
{
    const struct g_service *s = &g->svc[l->idx];
    int64_t pb = svc_price(g, s, insurer_basis(d->sector));
    int64_t up = eligible ? uplift_unit(g, d, s) : 0;
    int64_t gross = mul(l->qty, pb) + mul(l->qty, up);
    int64_t patient = rnd(mul(l->qty, pb), d->c);
    l->unit_price = svc_price(g, s, d->sector) + up;
    l->ins = gross - patient;
    l->dar = 0;
}

static void price_flat(const struct g_doc *d, struct g_line *l, int64_t price)
{
    int64_t gross = mul(l->qty, price);
    l->unit_price = price;
    l->ins = gross - rnd(gross, d->c);
    l->dar = 0;
}

static void set_uids(struct gen *g, struct g_line *l, uint32_t pack_units)
{
    l->nuids = (uint32_t)money_div_ceil(l->qty, pack_units);
    l->serial = g->uid_next;
    g->uid_next += l->nuids;
}

static uint64_t drug_qty(struct gen *g, const struct g_drug *dr, bool inpatient)
{
    uint64_t pu = dr->pack_units;
    uint64_t q;
    uint64_t r = rng_below(&g->rd, 10);
    if (pu >= 10 && rng_below(&g->rd, 5) == 0) {
        q = 1 + rng_below(&g->rd, pu); /* A partial pack: one uid. */
    } else {
        q = pu * (inpatient ? 1 : (r < 6 ? 1 : r < 9 ? 2 : 3));
    }
    if (dr->max_qty != 0 && q > dr->max_qty) {
        q = dr->max_qty;
    }
    return q;
}

static void line_drug(struct gen *g, const struct g_doc *d, struct g_line *l, uint32_t idx)
{
    memset(l, 0, sizeof *l);
    l->reason = -1;
    l->kind = 'D';
    l->idx = idx;
    const struct g_drug *dr = &g->drugs[idx];
    l->qty = (int64_t)drug_qty(g, dr, d->kind == 'I');
    price_drug(g, d, l);
    set_uids(g, l, dr->pack_units);
}

/* A popular-first pick: the minimum of two uniform draws. */
static uint32_t pick_skewed(struct gen *g, const struct ulist *l)
{
    uint64_t a = rng_below(&g->rd, l->n), b = rng_below(&g->rd, l->n);
    return l->v[a < b ? a : b];
}

/* A drug for a clean line: Daroyar-listed drugs are few (455 of ~20,000)
 * but among the most dispensed, so about one line in seven is one. */
static uint32_t pick_drug(struct gen *g)
{
    if (g->d_listed.n > 0 && rng_below(&g->rd, 7) == 0) {
        return pick_skewed(g, &g->d_listed);
    }
    return pick_skewed(g, &g->d_active);
}

static void line_service(struct gen *g, const struct g_doc *d, struct g_line *l, uint32_t idx,
                         int64_t qty, bool faculty)
{
    memset(l, 0, sizeof *l);
    l->reason = -1;
    l->kind = 'S';
    l->idx = idx;
    l->qty = qty;
    l->tclass = faculty ? 'F' : 'G';
    l->mc = faculty ? ulist_pick(&g->faculty_ok, &g->rd) : ulist_pick(&g->licensed, &g->rd);
    price_service(g, d, l, faculty);
}

static void line_service_clean(struct gen *g, const struct g_doc *d, struct g_line *l)
{
    uint32_t idx = 0;
    bool ok = false;
    /* Restricted services appear on clean documents only for patients they
     * fit; a few tries, then an unrestricted one. */
    for (int tries = 0; tries < 8 && !ok; tries++) {
        idx = rng_below(&g->rd, 50) == 0 && g->s_restricted.n > 0
                  ? ulist_pick(&g->s_restricted, &g->rd)
                  : pick_skewed(g, &g->s_pool);
        ok = svc_fits(&g->svc[idx], d);
    }
    if (!ok) {
        idx = g->s_pool.v[0];
    }
    const struct g_service *s = &g->svc[idx];
    int64_t qty = rng_below(&g->rd, 5) == 0 ? 2 + (int64_t)rng_below(&g->rd, 2) : 1;
    if (s->max_qty != 0 && qty > (int64_t)s->max_qty) {
        qty = s->max_qty;
    }
    bool faculty = (d->sector == SEC_UNI || d->sector == SEC_GOV) && g->faculty_ok.n > 0 &&
                   rng_below(&g->rd, 6) == 0;
    line_service(g, d, l, idx, qty, faculty);
}

static void line_supply(struct gen *g, const struct g_doc *d, struct g_line *l, uint32_t idx,
                        int64_t qty)
{
    memset(l, 0, sizeof *l);
    l->reason = -1;
    l->kind = 'K';
    l->idx = idx;
    l->qty = qty;
    price_flat(d, l, g->sup[idx].price);
}

static void line_supply_clean(struct gen *g, const struct g_doc *d, struct g_line *l)
{
    uint32_t idx = pick_skewed(g, &g->k_active);
    int64_t qty = 1 + (int64_t)rng_below(&g->rd, 5);
    if (g->sup[idx].max_qty != 0 && qty > (int64_t)g->sup[idx].max_qty) {
        qty = g->sup[idx].max_qty;
    }
    line_supply(g, d, l, idx, qty);
}

static void line_bed(struct gen *g, const struct g_doc *d, struct g_line *l)
{
    memset(l, 0, sizeof *l);
    l->reason = -1;
    l->kind = 'B';
    l->qty = money_max(1, d->d2 - d->d1);
    price_flat(d, l, g->bed_price[d->grade]);
}

/* ---------------------------------------------------------------- anomalies */

static void push_ring(struct gen *g, uint64_t key)
{
    g->ring[g->ring_pos] = key;
    g->ring_pos = (g->ring_pos + 1) % GEN_RING;
    if (g->ring_n < GEN_RING) {
        g->ring_n++;
    }
}

/* Line-level anomaly on line t; returns false when it cannot be made (the
 * document then stays clean). first: index of the first line that may be
 * replaced (a bed line stays). */
static bool inject_line(struct gen *g, struct g_doc *d, struct g_line *ls, uint32_t n,
                        uint32_t first, enum gen_kind kind)
{
    struct rng *r = &g->rd;
    uint32_t t = first + (uint32_t)rng_below(r, n - first);
    struct g_line *l = &ls[t];
    bool inpatient = d->kind == 'I';
    switch (kind) {
    case GEN_K02: { /* Unknown or discontinued code: rejected, stops there. */
        uint64_t which = inpatient ? rng_below(r, 3) : 0;
        bool gone = rng_below(r, 2) == 0;
        if (which == 0) {
            uint32_t idx = (gone && g->d_gone.n) ? ulist_pick(&g->d_gone, r)
                                                 : g->cfg->drugs + (uint32_t)rng_below(r, 100000);
            struct g_line tmp;
            line_drug(g, d, &tmp, ulist_pick(&g->d_nonlisted, r));
            tmp.idx = idx;
            tmp.dar = 0;
            *l = tmp;
        } else if (which == 1) {
            uint32_t idx = (gone && g->s_gone.n)
                               ? ulist_pick(&g->s_gone, r)
                               : g->cfg->services + (uint32_t)rng_below(r, 100000);
            line_service(g, d, l, g->s_pool.v[0], 1, false);
            l->idx = idx;
        } else {
            uint32_t idx = (gone && g->k_gone.n)
                               ? ulist_pick(&g->k_gone, r)
                               : g->cfg->supplies + (uint32_t)rng_below(r, 100000);
            line_supply(g, d, l, g->k_active.v[0], 1);
            l->idx = idx;
        }
        break;
    }
    case GEN_K03: /* Above the tariff: by unit price, or by the share asked. */
        if (l->kind == 'B') {
            return false;
        }
        if (rng_below(r, 2) == 0) {
            l->unit_price += 1 + (int64_t)rng_below(r, (uint64_t)(l->unit_price / 5 + 1));
        } else {
            l->ins += 1 + (int64_t)rng_below(r, (uint64_t)(l->ins / 5 + 1));
        }
        break;
    case GEN_K05: { /* Faculty class by someone not eligible, no uplift in the price. */
        uint32_t idx = pick_skewed(g, &g->s_pool);
        bool at_eligible_center = d->sector == SEC_UNI || d->sector == SEC_GOV;
        uint32_t mc;
        if (!at_eligible_center && g->faculty_ok.n && rng_below(r, 2) == 0) {
            mc = ulist_pick(&g->faculty_ok, r);
        } else if (g->faculty_pp.n && rng_below(r, 2) == 0) {
            mc = ulist_pick(&g->faculty_pp, r);
        } else if (g->not_faculty.n) {
            mc = ulist_pick(&g->not_faculty, r);
        } else {
            return false;
        }
        line_service(g, d, l, idx, 1, false);
        l->tclass = 'F';
        l->mc = mc;
        l->ins += uplift_unit(g, d, &g->svc[idx]); /* Asks for the uplift too. */
        break;
    }
    case GEN_K06: /* Daroyar share above what the drug earns. */
        if (g->d_listed.n && rng_below(r, 3) != 0) {
            line_drug(g, d, l, ulist_pick(&g->d_listed, r));
            l->dar += 1 + (int64_t)rng_below(r, (uint64_t)(l->dar / 4 + 1));
        } else {
            line_drug(g, d, l, ulist_pick(&g->d_nonlisted, r));
            l->dar = 1 + (int64_t)rng_below(r, (uint64_t)(l->ins + 1));
        }
        break;
    case GEN_K07:
    case GEN_K08: {
        /* A non-listed drug, so the cut quantity changes no Daroyar share. */
        line_drug(g, d, l, ulist_pick(&g->d_nonlisted, r));
        l->op_pos = (uint32_t)rng_below(r, l->nuids);
        if (kind == GEN_K08) {
            if (g->ring_n == 0) {
                return false;
            }
            l->op = UID_REUSE;
            l->reused = g->ring[rng_below(r, g->ring_n)];
        } else {
            l->op = (l->nuids >= 2 && rng_below(r, 2) == 0) ? UID_DROP : UID_INVALID;
        }
        break;
    }
    case GEN_K10: { /* Over the quantity limit; claims are for the whole quantity. */
        uint64_t which = inpatient ? rng_below(r, 3) : 0;
        if (which == 0 && g->d_nonlisted_max.n) {
            uint32_t idx = ulist_pick(&g->d_nonlisted_max, r);
            const struct g_drug *dr = &g->drugs[idx];
            line_drug(g, d, l, idx);
            l->qty = dr->max_qty + 1 + (int64_t)rng_below(r, dr->pack_units * 2);
            g->uid_next -= l->nuids;
            price_drug(g, d, l);
            set_uids(g, l, dr->pack_units);
        } else if (which == 1 && g->s_pool_max.n) {
            uint32_t idx = ulist_pick(&g->s_pool_max, r);
            line_service(g, d, l, idx, g->svc[idx].max_qty + 1 + (int64_t)rng_below(r, 3), false);
        } else if (which == 2 && g->k_max.n) {
            uint32_t idx = ulist_pick(&g->k_max, r);
            line_supply(g, d, l, idx, g->sup[idx].max_qty + 1 + (int64_t)rng_below(r, 5));
        } else {
            return false;
        }
        break;
    }
    case GEN_K12: { /* code2 of a pair, with its code1 on another line. */
        if (g->n_pairs == 0 || n - first < 2) {
            return false;
        }
        uint32_t p = (uint32_t)rng_below(r, g->n_pairs);
        uint32_t u = first + (uint32_t)rng_below(r, n - first - 1);
        if (u >= t) {
            u++;
        }
        line_service(g, d, &ls[u], g->pair_a[p], 1, false);
        line_service(g, d, l, g->pair_b[p], 1, false);
        break;
    }
    case GEN_K13: { /* A service whose sex or age does not fit the patient. */
        bool found = false;
        for (int tries = 0; tries < 32 && g->s_restricted.n && !found; tries++) {
            uint32_t idx = ulist_pick(&g->s_restricted, r);
            if (!svc_fits(&g->svc[idx], d)) {
                line_service(g, d, l, idx, 1, false);
                found = true;
            }
        }
        if (!found) {
            return false;
        }
        break;
    }
    default:
        ADJ_ASSERT(false);
    }
    l->reason = (int)kind;
    return true;
}

/* ---------------------------------------------------------------- render */

static void render_line(struct gen *g, struct gbuf *b, const struct g_line *l, uint32_t no)
{
    put_str(b, "L\t");
    put_u64(b, no);
    put_tab(b);
    put_ch(b, l->kind);
    put_tab(b);
    switch (l->kind) {
    case 'D':
        put_irc(b, l->idx);
        break;
    case 'S':
        put_svc_code(b, l->idx);
        break;
    case 'K':
        put_sup_code(b, l->idx);
        break;
    default:
        put_str(b, "BED");
        break;
    }
    int64_t total = mul(l->qty, l->unit_price) + l->total_bump;
    put_tab(b);
    put_i64(b, l->qty);
    put_tab(b);
    put_i64(b, l->unit_price);
    put_tab(b);
    put_i64(b, total);
    put_tab(b);
    put_i64(b, l->ins);
    put_tab(b);
    put_i64(b, l->dar);
    if (l->kind == 'S') {
        put_tab(b);
        put_mc(b, l->mc);
        put_tab(b);
        put_ch(b, l->tclass);
    } else if (l->kind == 'D') {
        put_str(b, "\t\t\t");
        uint32_t drug = l->idx < g->cfg->drugs ? l->idx : 0;
        bool first = true;
        for (uint32_t k = 0; k < l->nuids; k++) {
            if (l->op == UID_DROP && k == l->op_pos) {
                continue;
            }
            if (!first) {
                put_ch(b, ',');
            }
            first = false;
            if (l->op == UID_REUSE && k == l->op_pos) {
                put_uid(b, l->reused, '0');
            } else {
                put_uid(b, uid_key(drug, l->serial + k),
                        l->op == UID_INVALID && k == l->op_pos ? '3' : '0');
            }
        }
    }
    put_ch(b, '\n');
    g->t_lines++;
    g->t_total += total;
    g->t_ins += l->ins;
    g->t_dar += l->dar;
}

static void put_doc_id(struct gen *g, struct gbuf *b, char kind, uint64_t seq)
{
    put_str(b, g->tag);
    put_ch(b, kind);
    put_udigits(b, seq, 9);
}

static void truth_row(struct gen *g, const char *doc_id, size_t id_len, uint32_t line_no,
                      const char *reasons)
{
    put_mem(&g->tr, doc_id, id_len);
    put_tab(&g->tr);
    put_u64(&g->tr, line_no);
    put_tab(&g->tr);
    put_str(&g->tr, reasons);
    put_ch(&g->tr, '\n');
}

static enum adj_err flush_doc(struct gen *g)
{
    enum adj_err e = zwriter_write(g->batch, g->doc.p, g->doc.len);
    if (e == ADJ_OK && g->tr.len > (1u << 16)) {
        e = zwriter_write(g->truth, g->tr.p, g->tr.len);
        g->tr.len = 0;
    }
    return e;
}

/* ---------------------------------------------------------------- one document */

static void pick_patient_covered(struct gen *g, struct g_doc *d)
{
    uint64_t i = rng_below(&g->rd, g->cfg->insured);
    if (ins_expired(i)) {
        i--; /* i >= 7 here, and i - 1 is never expired. */
    }
    d->patient = i;
}

static enum adj_err gen_document(struct gen *g, char kind)
{
    const struct gen_config *cfg = g->cfg;
    struct rng *r = &g->rd;
    struct g_doc d;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    int slot = kind == 'P' ? 0 : 1;

    /* Which anomaly, if any. */
    int anomaly = -1;
    bool malformed = false;
    if (rng_ppm(r, cfg->malformed_ppm)) {
        malformed = true;
    } else if (rng_ppm(r, cfg->anomaly_ppm)) {
        static const enum gen_kind p_kinds[] = {GEN_K01, GEN_K02, GEN_K03, GEN_K06,
                                                GEN_K07, GEN_K08, GEN_K09, GEN_K10,
                                                GEN_K16, GEN_K17, GEN_K18};
        static const enum gen_kind i_kinds[] = {GEN_K01, GEN_K02, GEN_K03, GEN_K05,
                                                GEN_K06, GEN_K07, GEN_K08, GEN_K09,
                                                GEN_K10, GEN_K12, GEN_K13, GEN_K16};
        anomaly = kind == 'P' ? (int)p_kinds[rng_below(r, sizeof p_kinds / sizeof p_kinds[0])]
                              : (int)i_kinds[rng_below(r, sizeof i_kinds / sizeof i_kinds[0])];
    }

    g->doc.len = 0;
    if (anomaly == GEN_K09 && g->saved[slot].valid) {
        struct g_saved *s = &g->saved[slot];
        put_mem(&g->doc, s->text.p, s->text.len);
        g->t_docs++;
        g->t_lines += s->lines;
        g->t_total += s->total;
        g->t_ins += s->insurer;
        g->t_dar += s->daroyar;
        g->st->injected[GEN_K09]++;
        truth_row(g, s->doc_id, strlen(s->doc_id), 0, "K09");
        return flush_doc(g);
    }
    if (anomaly == GEN_K09) {
        anomaly = -1; /* Nothing earlier to duplicate yet. */
    }

    /* Center, patient, dates. */
    const struct ulist *pool = kind == 'P' ? &g->pharm : &g->hosp;
    d.center = pick_skewed(g, pool);
    if (anomaly == GEN_K16) {
        if (g->uncontracted.n && rng_below(r, 2) == 0) {
            d.center = ulist_pick(&g->uncontracted, r);
        } else {
            d.center = -1 - (int64_t)rng_below(r, 100000);
        }
    }
    if (d.center >= 0) {
        const struct g_center *c = &g->centers[d.center];
        d.sector = c->sector;
        d.deprived = c->deprived;
        d.grade = c->grade;
    } else {
        d.sector = SEC_PRV;
        d.grade = 3;
    }
    pick_patient_covered(g, &d);
    if (anomaly == GEN_K01) {
        uint64_t n_exp = cfg->insured > 7 ? (cfg->insured - 8) / 33 + 1 : 0;
        if (n_exp > 0 && rng_below(r, 2) == 0) {
            d.patient = 33 * rng_below(r, n_exp) + 7;
        } else {
            uint64_t room = GEN_NID_SPACE - cfg->insured; /* check_config keeps it >= half */
            d.patient = cfg->insured + rng_below(r, room < 1000000 ? room : 1000000);
        }
    }
    person_of(g, d.patient, &d.person);
    int32_t month_days = g->pe - g->ps + 1;
    if (kind == 'P') {
        d.d2 = g->ps + (int32_t)rng_below(r, (uint64_t)month_days);
        d.d1 = d.d2 - (int32_t)rng_below(r, 8);
        if (anomaly == GEN_K18) {
            d.d1 = d.d2 - GEN_RX_VALID_DAYS - 1 - (int32_t)rng_below(r, 60);
        }
        d.prescriber = ulist_pick(&g->licensed, r);
        if (anomaly == GEN_K17) {
            if (g->unlicensed.n && rng_below(r, 2) == 0) {
                d.prescriber = ulist_pick(&g->unlicensed, r);
            } else {
                d.prescriber = -1 - (int64_t)rng_below(r, 100000);
            }
        }
        d.dos = d.d2;
    } else {
        d.d1 = g->ps + (int32_t)rng_below(r, (uint64_t)month_days);
        d.stay = rng_below(r, 100) < 85 ? 'B' : 'M';
        int32_t los = d.stay == 'M' ? 0 : 1 + (int32_t)(rng_below(r, 8) * rng_below(r, 8) / 3);
        d.d2 = d.d1 + los;
        d.diag = (uint32_t)rng_below(r, 2000);
        d.dos = d.d1;
    }
    d.age = jdate_age_years(jdate_from_days(d.person.birth), jdate_from_days(d.dos));
    d.c = copay_of(&d);

    /* Lines. */
    struct g_line ls[GEN_MAX_LINES];
    uint32_t n, first = 0;
    if (kind == 'P') {
        /* Items per prescription: 1..10, mean about 4. */
        static const uint8_t spread[20] = {1, 1, 2, 2, 2, 3, 3, 3, 3, 4,
                                           4, 4, 4, 5, 5, 5, 6, 6, 7, 9};
        n = spread[rng_below(r, 20)];
        for (uint32_t k = 0; k < n; k++) {
            line_drug(g, &d, &ls[k], pick_drug(g));
        }
    } else {
        uint32_t mean = cfg->inpatient_lines;
        n = mean / 4 + (uint32_t)rng_below(r, mean * 3 / 2 + 1);
        if (n > GEN_MAX_LINES) {
            n = GEN_MAX_LINES;
        }
        if (n < 3) {
            n = 3;
        }
        line_bed(g, &d, &ls[0]);
        first = 1;
        for (uint32_t k = 1; k < n; k++) {
            uint64_t x = rng_below(r, 100);
            if (x < 40) {
                line_service_clean(g, &d, &ls[k]);
            } else if (x < 65) {
                line_supply_clean(g, &d, &ls[k]);
            } else {
                line_drug(g, &d, &ls[k], pick_drug(g));
            }
        }
    }
    bool line_level = anomaly >= 0 && anomaly != GEN_K01 && anomaly != GEN_K16 &&
                      anomaly != GEN_K17 && anomaly != GEN_K18;
    if (line_level && !inject_line(g, &d, ls, n, first, (enum gen_kind)anomaly)) {
        anomaly = -1;
    }
    if (anomaly >= 0) {
        g->st->injected[anomaly]++;
    }
    /* A malformed document: a claimed_total that is not qty * unit_price,
     * or a national code with a wrong check digit. */
    char nid[10];
    make_nid(g, d.patient, nid);
    if (malformed) {
        if (rng_below(r, 2) == 0) {
            ls[rng_below(r, n)].total_bump = 1;
        } else {
            nid[9] = (char)('0' + (nid[9] - '0' + 1) % 10);
        }
        g->st->malformed++;
    }

    /* Render. */
    struct gbuf *b = &g->doc;
    uint64_t seq = ++g->seq;
    put_ch(b, kind);
    put_tab(b);
    size_t id_at = b->len;
    put_doc_id(g, b, kind, seq);
    size_t id_len = b->len - id_at;
    char doc_id[40];
    memcpy(doc_id, b->p + id_at, id_len);
    doc_id[id_len] = '\0';
    put_tab(b);
    put_center_id(b, d.center >= 0 ? (uint32_t)d.center
                                   : cfg->centers + 1000u + (uint32_t)(-1 - d.center));
    put_tab(b);
    put_mem(b, nid, 10);
    put_tab(b);
    if (kind == 'P') {
        put_mc(b, d.prescriber >= 0 ? (uint32_t)d.prescriber
                                    : cfg->physicians + 1000u + (uint32_t)(-1 - d.prescriber));
        put_tab(b);
        put_date(g, b, d.d1);
        put_tab(b);
        put_date(g, b, d.d2);
    } else {
        put_date(g, b, d.d1);
        put_tab(b);
        put_date(g, b, d.d2);
        put_tab(b);
        put_ch(b, d.stay);
        put_tab(b);
        put_ch(b, (char)('A' + d.diag % 26));
        put_udigits(b, d.diag / 26 % 100, 2);
        put_ch(b, '.');
        put_u64(b, d.diag % 10);
    }
    put_ch(b, '\n');
    g->t_docs++;
    uint64_t lines_before = g->t_lines;
    int64_t tot0 = g->t_total, ins0 = g->t_ins, dar0 = g->t_dar;
    for (uint32_t k = 0; k < n; k++) {
        render_line(g, b, &ls[k], k + 1);
    }
    if (kind == 'P') {
        g->st->p_claimed_total += (uint64_t)(g->t_total - tot0);
    }

    /* Truth. */
    const char *doc_reason = "";
    if (malformed) {
        doc_reason = "INTAKE";
    } else if (anomaly >= 0 && !line_level) {
        doc_reason = gen_kind_code((enum gen_kind)anomaly);
    }
    truth_row(g, doc_id, id_len, 0, doc_reason);
    if (!malformed) {
        for (uint32_t k = 0; k < n; k++) {
            if (ls[k].reason >= 0) {
                truth_row(g, doc_id, id_len, k + 1, gen_kind_code((enum gen_kind)ls[k].reason));
            }
        }
    }

    /* A clean document: its pack ids are surely consumed (reuse source),
     * and it may be duplicated later. */
    if (anomaly < 0 && !malformed) {
        for (uint32_t k = 0; k < n; k++) {
            if (ls[k].kind == 'D' && ls[k].nuids > 0 && rng_below(r, 8) == 0) {
                push_ring(g, uid_key(ls[k].idx, ls[k].serial));
            }
        }
        if (rng_below(r, 16) == 0) {
            struct g_saved *s = &g->saved[slot];
            s->text.len = 0;
            put_mem(&s->text, b->p, b->len);
            s->lines = (uint32_t)(g->t_lines - lines_before);
            s->total = g->t_total - tot0;
            s->insurer = g->t_ins - ins0;
            s->daroyar = g->t_dar - dar0;
            memcpy(s->doc_id, doc_id, id_len + 1);
            s->valid = true;
        }
    }
    return flush_doc(g);
}

/* ---------------------------------------------------------------- build tables */

static void build_tables(struct gen *g)
{
    const struct gen_config *cfg = g->cfg;
    struct rng *r = &g->rt;

    /* K factors (rials per RVU unit; research/domain.md §2.3.3). */
    static const int64_t kp_tab[SEC_COUNT][2] = {{302000, 302000},  {302000, 302000},
                                                 {393000, 393000},  {332000, 332000},
                                                 {568000, 1011000}, {302000, 302000}};
    static const int64_t kt_tab[SEC_COUNT][2] = {{428000, 428000},   {428000, 428000},
                                                 {556000, 556000},   {471000, 471000},
                                                 {1777000, 2843000}, {428000, 428000}};
    memcpy(g->kp, kp_tab, sizeof kp_tab);
    memcpy(g->kt, kt_tab, sizeof kt_tab);
    static const int64_t beds[GEN_GRADES + 1] = {0, 9600000, 8100000, 6700000, 5200000, 3900000};
    memcpy(g->bed_price, beds, sizeof beds);

    /* Centers: pharmacy-heavy; the first pharmacy and hospital are always
     * contracted so that every list is non-empty. */
    g->centers = calloc(cfg->centers, sizeof *g->centers);
    ADJ_ASSERT(g->centers != NULL);
    for (uint32_t i = 0; i < cfg->centers; i++) {
        struct g_center *c = &g->centers[i];
        uint64_t x = rng_below(r, 100);
        c->type = i == 0   ? CT_PHARMACY
                  : i == 1 ? CT_HOSPITAL
                  : x < 78 ? CT_PHARMACY
                  : x < 84 ? CT_HOSPITAL
                           : CT_CLINIC;
        uint64_t s = rng_below(r, 100);
        if (c->type == CT_PHARMACY) {
            c->sector = s < 85   ? SEC_PRV
                        : s < 88 ? SEC_SSO
                        : s < 92 ? SEC_GOV
                        : s < 96 ? SEC_UNI
                        : s < 98 ? SEC_CHR
                                 : SEC_PUB;
        } else {
            c->sector = s < 25   ? SEC_GOV
                        : s < 55 ? SEC_UNI
                        : s < 75 ? SEC_PRV
                        : s < 83 ? SEC_CHR
                        : s < 90 ? SEC_PUB
                                 : SEC_SSO;
        }
        c->deprived = rng_below(r, 10) == 0;
        c->grade = (uint8_t)(1 + rng_below(r, GEN_GRADES));
        c->contracted = i < 2 || rng_below(r, 50) != 0;
        c->contract_to = c->contracted ? 0 : g->ps - 1 - (int32_t)rng_below(r, 400);
        if (!c->contracted) {
            ulist_push(&g->uncontracted, i);
        } else if (c->type == CT_PHARMACY) {
            ulist_push(&g->pharm, i);
        } else if (c->type == CT_HOSPITAL) {
            ulist_push(&g->hosp, i);
        }
    }

    /* Physicians: 3% no longer licensed; 15% full-time faculty, a fifth of
     * whom keep a private practice (not eligible). */
    g->phys = calloc(cfg->physicians, sizeof *g->phys);
    ADJ_ASSERT(g->phys != NULL);
    for (uint32_t i = 0; i < cfg->physicians; i++) {
        struct g_phys *p = &g->phys[i];
        bool unlicensed = i >= 4 && rng_below(r, 100) < 3;
        p->lic_to = unlicensed ? g->ps - 200 - (int32_t)rng_below(r, 2000) : 0;
        p->fulltime = i == 1 || i == 2 || (i > 3 && rng_below(r, 100) < 15);
        p->pp = i == 2 || (i > 3 && (p->fulltime ? rng_below(r, 5) == 0 : rng_below(r, 10) < 6));
        if (unlicensed) {
            ulist_push(&g->unlicensed, i);
            continue;
        }
        ulist_push(&g->licensed, i);
        if (p->fulltime && !p->pp) {
            ulist_push(&g->faculty_ok, i);
        } else if (p->fulltime) {
            ulist_push(&g->faculty_pp, i);
        } else {
            ulist_push(&g->not_faculty, i);
        }
    }

    /* Drugs: a skewed pack price spread, Daroyar-listed ones with an old
     * price 30..70% of the new, a few price changes inside the month, a few
     * discontinued, and some (not listed) with old < new but daroyar 0. */
    g->drugs = calloc(cfg->drugs, sizeof *g->drugs);
    ADJ_ASSERT(g->drugs != NULL);
    uint32_t listed_left = cfg->daroyar;
    static const uint32_t packs[8] = {1, 1, 10, 10, 20, 30, 30, 100};
    int32_t month_days = g->pe - g->ps + 1;
    for (uint32_t i = 0; i < cfg->drugs; i++) {
        struct g_drug *dr = &g->drugs[i];
        dr->pack_units = packs[rng_below(r, 8)];
        int64_t pack_price = 30000 + (int64_t)(rng_below(r, 1170000) * rng_below(r, 1000) / 1000);
        dr->pn = money_max(1, (pack_price + dr->pack_units / 2) / dr->pack_units);
        dr->po = dr->pn;
        dr->max_qty = rng_below(r, 10) < 6 ? dr->pack_units * (uint32_t)(2 + rng_below(r, 5)) : 0;
        /* Listed drugs are spread evenly over the list (selection
         * sampling), exactly cfg->daroyar of them. */
        bool must_list = listed_left >= cfg->drugs - i;
        bool gone = i >= 8 && !must_list && rng_below(r, 50) == 0;
        bool listed =
            !gone && listed_left > 0 && (must_list || rng_below(r, cfg->drugs - i) < listed_left);
        if (listed) {
            listed_left--;
            dr->daroyar = 1;
            dr->po = money_max(1, dr->pn * (30 + (int64_t)rng_below(r, 41)) / 100);
            if (dr->po >= dr->pn) {
                dr->pn = dr->po + 1;
            }
        } else if (!gone && rng_below(r, 100) == 0) {
            dr->po = money_max(1, dr->pn * 8 / 10); /* old < new, not listed */
        }
        if (gone) {
            dr->to = g->ps - 1 - (int32_t)rng_below(r, 300);
            ulist_push(&g->d_gone, i);
            continue;
        }
        if (!listed && rng_below(r, 50) == 0 && month_days > 2) {
            dr->split = g->ps + 1 + (int32_t)rng_below(r, (uint64_t)month_days - 1);
            dr->pn2 = dr->pn + money_max(1, dr->pn / 10);
            dr->po2 = dr->po == dr->pn ? dr->pn2 : dr->po;
        }
        ulist_push(&g->d_active, i);
        if (listed) {
            ulist_push(&g->d_listed, i);
        } else {
            ulist_push(&g->d_nonlisted, i);
            if (dr->max_qty != 0) {
                ulist_push(&g->d_nonlisted_max, i);
            }
        }
    }

    /* Services: most unrestricted; some for one sex or an age band; a few
     * discontinued; a reserved group that only ever appears as code2 of a
     * pair. */
    g->svc = calloc(cfg->services, sizeof *g->svc);
    ADJ_ASSERT(g->svc != NULL);
    struct ulist pair2 = {0};
    for (uint32_t i = 0; i < cfg->services; i++) {
        struct g_service *s = &g->svc[i];
        s->rvu_p = 50 + (int64_t)(rng_below(r, 1500) * rng_below(r, 1000) / 500);
        s->rvu_t =
            rng_below(r, 10) < 3 ? 0 : (int64_t)(rng_below(r, 1000) * rng_below(r, 1000) / 500);
        s->flag = rng_below(r, 10) < 3;
        s->max_qty = rng_below(r, 10) < 3 ? 1 + (uint32_t)rng_below(r, 4) : 0;
        s->sex = '-';
        s->age_min = 0;
        s->age_max = 150;
        uint64_t x = rng_below(r, 100);
        if (i < 2) {
            x = 50; /* Two plain services, always usable. */
        }
        if (x < 2) {
            s->to = g->ps - 1 - (int32_t)rng_below(r, 300);
            ulist_push(&g->s_gone, i);
            continue;
        }
        if (x < 5) {
            s->sex = 'F';
        } else if (x < 7) {
            s->sex = 'M';
        } else if (x < 9) {
            s->age_max = 14;
        } else if (x < 10) {
            s->age_min = 18;
        }
        if (x < 10) {
            ulist_push(&g->s_restricted, i);
        } else if (x < 12) {
            s->pair2 = 1;
            ulist_push(&pair2, i);
        } else {
            ulist_push(&g->s_pool, i);
            if (s->max_qty != 0) {
                ulist_push(&g->s_pool_max, i);
            }
        }
    }
    /* Pairs: (pool service, pair2 service), no row twice. */
    g->pair_a = calloc(cfg->pairs + 1, sizeof *g->pair_a);
    g->pair_b = calloc(cfg->pairs + 1, sizeof *g->pair_b);
    ADJ_ASSERT(g->pair_a != NULL && g->pair_b != NULL);
    for (uint32_t p = 0; p < cfg->pairs && pair2.n > 0; p++) {
        uint32_t a = ulist_pick(&g->s_pool, r), b = ulist_pick(&pair2, r);
        bool dup = false;
        for (uint32_t q = 0; q < g->n_pairs && !dup; q++) {
            dup = g->pair_a[q] == a && g->pair_b[q] == b;
        }
        if (!dup) {
            g->pair_a[g->n_pairs] = a;
            g->pair_b[g->n_pairs] = b;
            g->n_pairs++;
        }
    }
    free(pair2.v);

    /* Supplies. */
    g->sup = calloc(cfg->supplies, sizeof *g->sup);
    ADJ_ASSERT(g->sup != NULL);
    for (uint32_t i = 0; i < cfg->supplies; i++) {
        struct g_supply *s = &g->sup[i];
        s->price = 5000 + (int64_t)(rng_below(r, 3000000) * rng_below(r, 1000) / 1000);
        s->max_qty = rng_below(r, 10) < 4 ? 2 + (uint32_t)rng_below(r, 8) : 0;
        if (i >= 1 && rng_below(r, 50) == 0) {
            s->to = g->ps - 1 - (int32_t)rng_below(r, 300);
            ulist_push(&g->k_gone, i);
            continue;
        }
        ulist_push(&g->k_active, i);
        if (s->max_qty != 0) {
            ulist_push(&g->k_max, i);
        }
    }
}

/* ---------------------------------------------------------------- write tables */

static enum adj_err open_out(struct zwriter **w, const char *dir, const char *name, int level,
                             struct adj_diag *diag)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        adj_diag_set(diag, ADJ_E_USAGE, dir, 0, 0, "path too long");
        return ADJ_E_USAGE;
    }
    enum adj_err e = zwriter_open(w, path, level);
    if (e != ADJ_OK) {
        adj_diag_set(diag, e, path, 0, 0, "%s", strerror(errno));
    }
    return e;
}

/* Writes one table from the bytes gathered in b. */
static enum adj_err write_table(const char *dir, const char *name, struct gbuf *b,
                                struct adj_diag *diag)
{
    struct zwriter *w = NULL;
    enum adj_err e = open_out(&w, dir, name, 0, diag);
    if (e != ADJ_OK) {
        return e;
    }
    e = zwriter_write(w, b->p, b->len);
    enum adj_err ec = zwriter_close(w);
    if (e == ADJ_OK) {
        e = ec;
    }
    if (e != ADJ_OK) {
        adj_diag_set(diag, e, name, 0, 0, "in %s", dir);
    }
    b->len = 0;
    return e;
}

static void put_opt_date(struct gen *g, struct gbuf *b, int32_t day)
{
    if (day != 0) {
        put_date(g, b, day);
    }
}

static enum adj_err write_tables(struct gen *g, const char *tdir, struct adj_diag *diag)
{
    const struct gen_config *cfg = g->cfg;
    struct gbuf b = {0};
    enum adj_err e;
    int32_t from = g->day_base;

    put_str(&b, "center\tsector\ttype\tprovince\tdeprived\tgrade\tcontract_from\tcontract_to\n");
    for (uint32_t i = 0; i < cfg->centers; i++) {
        const struct g_center *c = &g->centers[i];
        put_center_id(&b, i);
        put_tab(&b);
        put_str(&b, sector_name[c->sector]);
        put_tab(&b);
        put_str(&b, ctype_name[c->type]);
        put_tab(&b);
        put_str(&b, cfg->province);
        put_tab(&b);
        put_u64(&b, c->deprived);
        put_tab(&b);
        put_u64(&b, c->grade);
        put_tab(&b);
        put_date(g, &b, from);
        put_tab(&b);
        put_opt_date(g, &b, c->contract_to);
        put_ch(&b, '\n');
    }
    if ((e = write_table(tdir, "centers.tsv", &b, diag)) != ADJ_OK) {
        goto out;
    }

    static const char *const specialties[] = {"GP",  "INT", "SUR", "PED",
                                              "GYN", "CAR", "ORT", "ENT"};
    put_str(&b, "mc\tspecialty\tlicensed_from\tlicensed_to\tfulltime_from\tfulltime_to\tprivate_"
                "practice\n");
    for (uint32_t i = 0; i < cfg->physicians; i++) {
        const struct g_phys *p = &g->phys[i];
        put_mc(&b, i);
        put_tab(&b);
        put_str(&b, specialties[i % 8]);
        put_tab(&b);
        put_date(g, &b, day_of(1380, 1, 1));
        put_tab(&b);
        put_opt_date(g, &b, p->lic_to);
        put_tab(&b);
        if (p->fulltime) {
            put_date(g, &b, from);
        }
        put_tab(&b);
        put_tab(&b);
        put_u64(&b, p->pp);
        put_ch(&b, '\n');
    }
    if ((e = write_table(tdir, "physicians.tsv", &b, diag)) != ADJ_OK) {
        goto out;
    }

    put_str(&b, "irc\tpack_units\tprice_old\tprice_new\tdaroyar\tmax_qty\tfrom\tto\n");
    for (uint32_t i = 0; i < cfg->drugs; i++) {
        const struct g_drug *dr = &g->drugs[i];
        for (int row = 0; row < (dr->split ? 2 : 1); row++) {
            put_irc(&b, i);
            put_tab(&b);
            put_u64(&b, dr->pack_units);
            put_tab(&b);
            put_i64(&b, row ? dr->po2 : dr->po);
            put_tab(&b);
            put_i64(&b, row ? dr->pn2 : dr->pn);
            put_tab(&b);
            put_u64(&b, dr->daroyar);
            put_tab(&b);
            if (dr->max_qty) {
                put_u64(&b, dr->max_qty);
            }
            put_tab(&b);
            put_date(g, &b, row ? dr->split : from);
            put_tab(&b);
            put_opt_date(g, &b, dr->split && row == 0 ? dr->split - 1 : dr->to);
            put_ch(&b, '\n');
        }
    }
    if ((e = write_table(tdir, "drugs.tsv", &b, diag)) != ADJ_OK) {
        goto out;
    }

    put_str(&b, "code\trvu_prof\trvu_tech\tflag\tmax_qty\tsex\tage_min\tage_max\tfrom\tto\n");
    for (uint32_t i = 0; i < cfg->services; i++) {
        const struct g_service *s = &g->svc[i];
        put_svc_code(&b, i);
        put_tab(&b);
        put_i64(&b, s->rvu_p);
        put_tab(&b);
        put_i64(&b, s->rvu_t);
        put_tab(&b);
        put_ch(&b, s->flag ? 'S' : '#');
        put_tab(&b);
        if (s->max_qty) {
            put_u64(&b, s->max_qty);
        }
        put_tab(&b);
        put_ch(&b, s->sex);
        put_tab(&b);
        put_u64(&b, s->age_min);
        put_tab(&b);
        put_u64(&b, s->age_max);
        put_tab(&b);
        put_date(g, &b, from);
        put_tab(&b);
        put_opt_date(g, &b, s->to);
        put_ch(&b, '\n');
    }
    if ((e = write_table(tdir, "services.tsv", &b, diag)) != ADJ_OK) {
        goto out;
    }

    put_str(&b, "sector\tflag\tk_prof\tk_tech\tfrom\tto\n");
    for (int s = 0; s < SEC_COUNT; s++) {
        for (int f = 0; f < 2; f++) {
            put_str(&b, sector_name[s]);
            put_tab(&b);
            put_ch(&b, f ? 'S' : '#');
            put_tab(&b);
            put_i64(&b, g->kp[s][f]);
            put_tab(&b);
            put_i64(&b, g->kt[s][f]);
            put_tab(&b);
            put_date(g, &b, from);
            put_str(&b, "\t\n");
        }
    }
    if ((e = write_table(tdir, "kfactors.tsv", &b, diag)) != ADJ_OK) {
        goto out;
    }

    put_str(&b, "code\tprice\tmax_qty\tfrom\tto\n");
    for (uint32_t i = 0; i < cfg->supplies; i++) {
        const struct g_supply *s = &g->sup[i];
        put_sup_code(&b, i);
        put_tab(&b);
        put_i64(&b, s->price);
        put_tab(&b);
        if (s->max_qty) {
            put_u64(&b, s->max_qty);
        }
        put_tab(&b);
        put_date(g, &b, from);
        put_tab(&b);
        put_opt_date(g, &b, s->to);
        put_ch(&b, '\n');
    }
    if ((e = write_table(tdir, "supplies.tsv", &b, diag)) != ADJ_OK) {
        goto out;
    }

    put_str(&b, "grade\tprice_per_day\tfrom\tto\n");
    for (int gr = 1; gr <= GEN_GRADES; gr++) {
        put_u64(&b, (uint64_t)gr);
        put_tab(&b);
        put_i64(&b, g->bed_price[gr]);
        put_tab(&b);
        put_date(g, &b, from);
        put_str(&b, "\t\n");
    }
    if ((e = write_table(tdir, "beds.tsv", &b, diag)) != ADJ_OK) {
        goto out;
    }

    put_str(&b, "code1\tcode2\tfrom\tto\n");
    for (uint32_t p = 0; p < g->n_pairs; p++) {
        put_svc_code(&b, g->pair_a[p]);
        put_tab(&b);
        put_svc_code(&b, g->pair_b[p]);
        put_tab(&b);
        put_date(g, &b, from);
        put_str(&b, "\t\n");
    }
    if ((e = write_table(tdir, "pairs.tsv", &b, diag)) != ADJ_OK) {
        goto out;
    }

    /* Every parameter explicit, so the data does not depend on rules/sso's
     * defaults. */
    char line[160];
    put_str(&b, "name\tvalue\tfrom\tto\n");
    const char *params[][2] = {
        {"copay_outpatient_bp", "3000"}, {"copay_inpatient_bp", "1000"},
        {"copay_temporary_bp", "3000"},  {"full_cover_age", "65"},
        {"faculty_uplift_bp", "17000"},  {"daroyar_start", "1401/04/23"},
        {"rx_valid_days", "30"},         {"insurer_basis_PRV", "GOV"},
        {"insurer_basis_CHR", "CHR"},
    };
    for (size_t k = 0; k < sizeof params / sizeof params[0]; k++) {
        snprintf(line, sizeof line, "%s\t%s\t", params[k][0], params[k][1]);
        put_str(&b, line);
        put_date(g, &b, day_of(1390, 1, 1));
        put_str(&b, "\t\n");
    }
    if ((e = write_table(tdir, "params.tsv", &b, diag)) != ADJ_OK) {
        goto out;
    }

    /* Insured: streamed, 3.1 M rows by default. */
    {
        struct zwriter *w = NULL;
        if ((e = open_out(&w, tdir, "insured.tsv", 0, diag)) != ADJ_OK) {
            goto out;
        }
        put_str(&b, "nid\tbirth_date\tsex\tcovered_from\tcovered_to\n");
        for (uint64_t i = 0; i < cfg->insured && e == ADJ_OK; i++) {
            struct g_person p;
            char nid[10];
            person_of(g, i, &p);
            make_nid(g, i, nid);
            for (int row = 0; row < (p.gap_from ? 2 : 1); row++) {
                put_mem(&b, nid, 10);
                put_tab(&b);
                put_date(g, &b, p.birth);
                put_tab(&b);
                put_ch(&b, p.sex);
                put_tab(&b);
                put_date(g, &b, row == 0 ? p.covered_from : p.gap_to + 1);
                put_tab(&b);
                put_opt_date(g, &b, p.gap_from && row == 0 ? p.gap_from - 1 : p.covered_to);
                put_ch(&b, '\n');
            }
            if (b.len > (1u << 20)) {
                e = zwriter_write(w, b.p, b.len);
                b.len = 0;
            }
        }
        if (e == ADJ_OK) {
            e = zwriter_write(w, b.p, b.len);
        }
        b.len = 0;
        enum adj_err ec = zwriter_close(w);
        if (e == ADJ_OK) {
            e = ec;
        }
        if (e != ADJ_OK) {
            adj_diag_set(diag, e, "insured.tsv", 0, 0, "in %s", tdir);
        }
    }
out:
    free(b.p);
    return e;
}

/* ---------------------------------------------------------------- run */

static enum adj_err make_dir(const char *path, struct adj_diag *diag)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        adj_diag_set(diag, ADJ_E_OPEN, path, 0, 0, "cannot create folder: %s", strerror(errno));
        return ADJ_E_OPEN;
    }
    return ADJ_OK;
}

static void gen_free(struct gen *g)
{
    struct ulist *lists[] = {&g->pharm,      &g->hosp,        &g->uncontracted,    &g->licensed,
                             &g->unlicensed, &g->faculty_ok,  &g->not_faculty,     &g->faculty_pp,
                             &g->d_active,   &g->d_nonlisted, &g->d_nonlisted_max, &g->d_listed,
                             &g->d_gone,     &g->s_pool,      &g->s_pool_max,      &g->s_restricted,
                             &g->s_gone,     &g->k_active,    &g->k_max,           &g->k_gone};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        free(lists[i]->v);
    }
    free(g->centers);
    free(g->phys);
    free(g->drugs);
    free(g->svc);
    free(g->sup);
    free(g->pair_a);
    free(g->pair_b);
    free(g->dcache);
    free(g->doc.p);
    free(g->tr.p);
    free(g->saved[0].text.p);
    free(g->saved[1].text.p);
}

static enum adj_err check_config(const struct gen_config *cfg, struct adj_diag *diag)
{
    const char *bad = NULL;
    if (cfg->centers < 2) {
        bad = "--centers must be at least 2";
    } else if (cfg->insured < 40 || cfg->insured > GEN_NID_SPACE / 2) {
        bad = "--insured must be 40..49999999";
    } else if (cfg->physicians < 8) {
        bad = "--physicians must be at least 8";
    } else if (cfg->drugs < 16 || cfg->daroyar > cfg->drugs / 2) {
        bad = "--drugs must be at least 16, --daroyar at most half of them";
    } else if (cfg->services < 50 || cfg->supplies < 4) {
        bad = "--services must be at least 50 and --supplies at least 4";
    } else if (cfg->inpatient_lines < 4 || cfg->inpatient_lines > 40) {
        bad = "--inpatient-lines must be 4..40";
    } else if (cfg->anomaly_ppm > GEN_PPM || cfg->malformed_ppm > GEN_PPM) {
        bad = "rates must be 0..1";
    } else if (jdate_validate(cfg->period) != ADJ_OK || cfg->period.year < 1402 ||
               cfg->period.year > 1490) {
        bad = "--period must be a month of 1402..1490 (after daroyar_start)";
    }
    if (bad != NULL) {
        adj_diag_set(diag, ADJ_E_USAGE, "gen", 0, 0, "%s", bad);
        return ADJ_E_USAGE;
    }
    return ADJ_OK;
}

enum adj_err gen_run(const struct gen_config *cfg, const char *out_dir, struct gen_stats *stats,
                     struct adj_diag *diag)
{
    memset(stats, 0, sizeof *stats);
    enum adj_err e = check_config(cfg, diag);
    if (e != ADJ_OK) {
        return e;
    }
    struct gen g;
    memset(&g, 0, sizeof g);
    g.cfg = cfg;
    g.st = stats;
    rng_seed(&g.rt, cfg->seed ^ 0x7461626C6573ULL);
    rng_seed(&g.rd, cfg->seed ^ 0x646F6373ULL);
    g.ins_salt = mix64(cfg->seed ^ 0x696E73ULL) % GEN_NID_SPACE;
    g.ps = day_of(cfg->period.year, cfg->period.month, 1);
    g.pe = g.ps + jdate_month_days(cfg->period.year, cfg->period.month) - 1;
    g.day_base = day_of(1395, 1, 1);
    g.dc_lo = g.ps - 400;
    g.dc_hi = g.pe + 120;
    g.dcache = malloc((size_t)(g.dc_hi - g.dc_lo) * sizeof *g.dcache);
    ADJ_ASSERT(g.dcache != NULL);
    for (int32_t day = g.dc_lo; day < g.dc_hi; day++) {
        char tmp[11];
        jdate_format(jdate_from_days(day), tmp);
        memcpy(g.dcache[day - g.dc_lo], tmp, 10);
    }
    char batch_id[33];
    if (cfg->batch_id[0] != '\0') {
        memcpy(batch_id, cfg->batch_id, sizeof batch_id);
    } else {
        snprintf(batch_id, sizeof batch_id, "%.8s-%04d%02d-%llu", cfg->province,
                 (int)cfg->period.year, (int)cfg->period.month,
                 (unsigned long long)(cfg->seed % 1000000000ULL));
    }
    /* Document ids carry a tag of the batch so that batches do not share ids. */
    uint64_t tag = text_hash64(batch_id, strlen(batch_id)) ^ cfg->seed;
    for (int k = 0; k < 5; k++) {
        g.tag[k] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[tag % 32];
        tag /= 32;
    }
    g.tag[5] = '\0';
    g.uid_next =
        mix64(cfg->seed ^ text_hash64(batch_id, strlen(batch_id))) % (GEN_SERIAL_SPACE / 2);

    char tdir[4096];
    snprintf(tdir, sizeof tdir, "%s/tables", out_dir);
    if ((e = make_dir(out_dir, diag)) != ADJ_OK || (e = make_dir(tdir, diag)) != ADJ_OK) {
        gen_free(&g);
        return e;
    }
    build_tables(&g);
    if ((e = write_tables(&g, tdir, diag)) != ADJ_OK) {
        gen_free(&g);
        return e;
    }

    e = open_out(&g.batch, out_dir, cfg->zstd ? "batch.tsv.zst" : "batch.tsv",
                 cfg->zstd_level ? cfg->zstd_level : 1, diag);
    if (e == ADJ_OK) {
        e = open_out(&g.truth, out_dir, "truth.tsv", 0, diag);
    }
    if (e == ADJ_OK && cfg->zstd_workers > 0) {
        e = zwriter_set_workers(g.batch, cfg->zstd_workers);
    }
    uint64_t n_p = (uint64_t)((unsigned __int128)cfg->prescriptions * cfg->scale_ppm / GEN_PPM);
    uint64_t n_i = (uint64_t)((unsigned __int128)cfg->inpatient * cfg->scale_ppm / GEN_PPM);
    if (e == ADJ_OK) {
        struct gbuf *b = &g.doc;
        b->len = 0;
        put_str(b, "H\t1\t");
        put_str(b, batch_id);
        put_tab(b);
        put_str(b, cfg->province);
        put_tab(b);
        put_udigits(b, (uint64_t)cfg->period.year, 4);
        put_ch(b, '/');
        put_udigits(b, (uint64_t)cfg->period.month, 2);
        put_tab(b);
        put_date(&g, b, g.pe + 1);
        put_str(b, "\tdadras-gen\n");
        put_str(&g.tr, "doc_id\tline_no\treasons\n");
        e = flush_doc(&g);
    }
    /* Interleave P and I documents in proportion, as an export would. */
    uint64_t done_p = 0, done_i = 0;
    while (e == ADJ_OK && (done_p < n_p || done_i < n_i)) {
        bool take_p =
            done_i >= n_i || (done_p < n_p && (unsigned __int128)done_p * (n_p + n_i) <=
                                                  (unsigned __int128)(done_p + done_i) * n_p);
        e = gen_document(&g, take_p ? 'P' : 'I');
        if (take_p) {
            done_p++;
        } else {
            done_i++;
        }
    }
    if (e == ADJ_OK) {
        struct gbuf *b = &g.doc;
        b->len = 0;
        put_str(b, "T\t");
        put_u64(b, g.t_docs);
        put_tab(b);
        put_u64(b, g.t_lines);
        put_tab(b);
        put_i64(b, g.t_total);
        put_tab(b);
        put_i64(b, g.t_ins);
        put_tab(b);
        put_i64(b, g.t_dar);
        put_ch(b, '\n');
        e = zwriter_write(g.batch, b->p, b->len);
        if (e == ADJ_OK) {
            e = zwriter_write(g.truth, g.tr.p, g.tr.len);
        }
    }
    if (g.batch != NULL) {
        enum adj_err ec = e == ADJ_OK ? zwriter_close(g.batch) : (zwriter_abort(g.batch), e);
        e = e == ADJ_OK ? ec : e;
    }
    if (g.truth != NULL) {
        enum adj_err ec = e == ADJ_OK ? zwriter_close(g.truth) : (zwriter_abort(g.truth), e);
        e = e == ADJ_OK ? ec : e;
    }
    if (e != ADJ_OK && diag->code == ADJ_OK) {
        adj_diag_set(diag, e, out_dir, 0, 0, "writing the batch");
    }
    stats->docs = g.t_docs;
    stats->lines = g.t_lines;
    stats->p_docs = done_p;
    stats->i_docs = done_i;
    stats->sum_claimed_total = (uint64_t)g.t_total;
    stats->sum_claimed_insurer = (uint64_t)g.t_ins;
    stats->sum_claimed_daroyar = (uint64_t)g.t_dar;
    gen_free(&g);
    return e;
}
