/*
 * The SSO reference rule set (rules/sso with its sample tables), evaluated
 * on documents built by hand, checked to the rial against adjudication.md.
 * Every expected amount is derived in the comment beside it from the
 * sample tables (rules/sso/tables/README.md names the rows used).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/base/ids.h"
#include "core/base/jdate.h"
#include "rules/rules.h"

static struct rules_set *S;

/* A fake history: doc ids seen and uids consumed, test-and-set. */
struct fake_seen {
    char docs[16][40];
    uint32_t ndocs;
    uint64_t uids[64];
    uint32_t nuids;
    uint32_t uid_calls;
};
static bool f_doc(void *ctx, const char *id, uint32_t len)
{
    struct fake_seen *f = ctx;
    for (uint32_t i = 0; i < f->ndocs; i++)
        if (strlen(f->docs[i]) == len && memcmp(f->docs[i], id, len) == 0)
            return true;
    snprintf(f->docs[f->ndocs++], 40, "%.*s", (int)len, id);
    return false;
}
static bool f_uid(void *ctx, uint64_t key)
{
    struct fake_seen *f = ctx;
    f->uid_calls++;
    for (uint32_t i = 0; i < f->nuids; i++)
        if (f->uids[i] == key)
            return true;
    f->uids[f->nuids++] = key;
    return false;
}
static struct fake_seen FS;
static struct seen_ops SEEN = {&FS, f_doc, f_uid};

static void setup(void)
{
    memset(&FS, 0, sizeof FS);
    if (!S) {
        enum adj_err e = rules_load(ADJ_SOURCE_DIR "/rules/sso", ADJ_SOURCE_DIR "/rules/sso/tables",
                                    stderr, &S);
        cr_assert_eq(e, ADJ_OK, "rules/sso must load: %s", adj_err_name(e));
    }
}

static struct jdate jd(const char *s)
{
    struct jdate d;
    size_t off;
    cr_assert_eq(jdate_parse(s, strlen(s), &d, &off), ADJ_OK, "%s", s);
    return d;
}

static void mkdoc(struct doc *d, char kind, char stay, const char *id, const char *center,
                  uint64_t nid, uint32_t mc, const char *date1, const char *date2, uint32_t nlines)
{
    memset(d, 0, sizeof *d);
    d->kind = (uint8_t)kind;
    d->stay = (uint8_t)stay;
    d->doc_id_len = (uint8_t)strlen(id);
    memcpy(d->doc_id, id, d->doc_id_len);
    memcpy(d->doc_id_raw, id, d->doc_id_len);
    d->center_len = (uint8_t)strlen(center);
    memcpy(d->center, center, d->center_len);
    d->patient_nid = nid;
    d->prescriber_mc = mc;
    d->date1 = jd(date1);
    d->date2 = jd(date2);
    d->date1_days = jdate_to_days(d->date1);
    d->date2_days = jdate_to_days(d->date2);
    d->line_count = nlines;
}

static uint64_t UIDS[64];
static uint32_t NUIDS;

static void mkline(struct doc_line *l, uint32_t no, char kind, const char *code, uint32_t qty,
                   int64_t unit, int64_t claimed_ins, int64_t claimed_dar)
{
    memset(l, 0, sizeof *l);
    l->line_no = no;
    l->kind = (uint8_t)kind;
    l->code_len = (uint8_t)strlen(code);
    memcpy(l->code, code, l->code_len);
    l->qty = qty;
    l->unit_price_rials = unit;
    l->claimed_total_rials = unit * qty;
    l->claimed_insurer_rials = claimed_ins;
    l->claimed_daroyar_rials = claimed_dar;
    l->uid_first = NUIDS;
}

/* Appends n valid, distinct unit-level pack ids (6th digit 0) to line l,
 * numbered from `serial`. */
static void add_uids(struct doc_line *l, uint32_t serial, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        char u[21];
        snprintf(u, sizeof u, "12345%015u", serial + i);
        UIDS[NUIDS++] = ids_uid_pack(u, 20);
        l->uid_count++;
    }
}
static void add_invalid_uid(struct doc_line *l)
{
    UIDS[NUIDS++] = IDS_UID_INVALID;
    l->uid_count++;
}

static struct doc D;
static struct doc_line L[8];
static struct line_decision O[8];
static struct doc_decision DO;

/* Each run is a fresh batch for doc ids (pack ids persist unless a test
 * clears FS); run_keep keeps the doc ids seen (K09). */
static void run_keep(void)
{
    enum adj_err e = rules_eval_doc(S, &D, L, UIDS, &SEEN, &DO, O, NULL);
    cr_assert_eq(e, ADJ_OK, "eval: %s", adj_err_name(e));
}
static void run(void)
{
    FS.ndocs = 0;
    enum adj_err e = rules_eval_doc(S, &D, L, UIDS, &SEEN, &DO, O, NULL);
    cr_assert_eq(e, ADJ_OK, "eval: %s", adj_err_name(e));
}

static const char *reasons(uint64_t mask)
{
    static char buf[8][128];
    static int k;
    k = (k + 1) % 8;
    rules_reasons_format(S, mask, buf[k], sizeof buf[k]);
    return buf[k];
}

#define EXPECT_LINE(i, st, q, g, pa, in, da, ai, ad, ded, rs)                                      \
    do {                                                                                        \
        const struct line_decision *o_ = &O[i];                                                 \
        cr_expect_eq(o_->status, (st), "line %d status %c", (i), o_->status);                   \
        cr_expect_eq(o_->qty_a, (q), "line %d qty_a %lld", (i), (long long)o_->qty_a);           \
        cr_expect_eq(o_->gross_rials, (g), "line %d gross %lld", (i), (long long)o_->gross_rials); \
        cr_expect_eq(o_->patient_rials, (pa), "line %d patient %lld", (i), (long long)o_->patient_rials); \
        cr_expect_eq(o_->insurer_rials, (in), "line %d insurer %lld", (i), (long long)o_->insurer_rials); \
        cr_expect_eq(o_->daroyar_rials, (da), "line %d daroyar %lld", (i), (long long)o_->daroyar_rials); \
        cr_expect_eq(o_->approved_insurer_rials, (ai), "line %d approved_insurer %lld", (i),   \
                     (long long)o_->approved_insurer_rials);                                   \
        cr_expect_eq(o_->approved_daroyar_rials, (ad), "line %d approved_daroyar %lld", (i),   \
                     (long long)o_->approved_daroyar_rials);                                   \
        cr_expect_eq(o_->deduction_rials, (ded), "line %d deduction %lld", (i),                 \
                     (long long)o_->deduction_rials);                                          \
        cr_expect_str_eq(reasons(o_->reasons), (rs), "line %d reasons", (i));                   \
    } while (0)

#define ADULT 12345679ull     /* 0012345679, born 1370/05/10 */
#define ELDER 23456787ull     /* 0023456787, born 1338/06/20 */
#define GAPPY 34567895ull     /* 0034567895, not covered 1403/01/01..1403/02/31 */

TestSuite(rules_sso, .init = setup);

Test(rules_sso, reasons_sorted_and_declared)
{
    cr_assert_eq(rules_reason_count(S), 14);
    cr_expect_str_eq(rules_reason_name(S, 0), "K01");
    cr_expect_str_eq(rules_reason_name(S, 13), "K18");
    for (uint32_t i = 1; i < 14; i++)
        cr_expect(strcmp(rules_reason_name(S, i - 1), rules_reason_name(S, i)) < 0);
}

Test(rules_sso, daroyar_worked_example)
{
    /* qty 30 of D-DAROYAR, c = 3000: gross 30*300,000 = 9,000,000;
     * base price_old: patient rnd(3,000,000, 3000) = 900,000, insurer
     * 2,100,000; Daroyar 30*(300,000-100,000) = 6,000,000. */
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "RX1", "PH-GOV-1", ADULT, 1001, "1403/05/01", "1403/05/02", 1);
    mkline(&L[0], 1, 'D', "D-DAROYAR", 30, 300000, 2100000, 6000000);
    add_uids(&L[0], 1, 3);
    run();
    EXPECT_LINE(0, 'A', 30, 9000000, 900000, 2100000, 6000000, 2100000, 6000000, 0, "");
    cr_expect_eq(DO.status, 'A');
    cr_expect_eq(DO.approved_insurer_rials, 2100000);
    cr_expect_eq(DO.approved_daroyar_rials, 6000000);
    cr_expect_eq(FS.nuids, 3, "three packs consumed");
}

Test(rules_sso, daroyar_start_edge)
{
    /* Day before daroyar_start (1401/04/22): not listed, base price_new:
     * patient rnd(9,000,000, 3000) = 2,700,000, insurer 6,300,000; the
     * Daroyar claim is above 0: K06, approved 0. */
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "RX2", "PH-GOV-1", ADULT, 1001, "1401/04/20", "1401/04/22", 1);
    mkline(&L[0], 1, 'D', "D-DAROYAR", 30, 300000, 2100000, 6000000);
    add_uids(&L[0], 10, 3);
    run();
    EXPECT_LINE(0, 'P', 30, 9000000, 2700000, 6300000, 0, 2100000, 0, 6000000, "K06");
    /* The day itself: listed. */
    memset(&FS, 0, sizeof FS);
    mkdoc(&D, 'P', 0, "RX3", "PH-GOV-1", ADULT, 1001, "1401/04/20", "1401/04/23", 1);
    run();
    EXPECT_LINE(0, 'A', 30, 9000000, 900000, 2100000, 6000000, 2100000, 6000000, 0, "");
}

Test(rules_sso, over_65_in_gov_and_not_in_prv)
{
    /* 10 units of D-PLAIN (50,000): gross 500,000. Born 1338/06/20: 65 on
     * 1403/06/20, so c = 0 in a GOV center; 64 the day before: c = 3000,
     * patient 150,000. In a PRV center, 65 does not matter. */
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "E1", "PH-GOV-1", ELDER, 1001, "1403/06/19", "1403/06/20", 1);
    mkline(&L[0], 1, 'D', "D-PLAIN", 10, 50000, 500000, 0);
    add_uids(&L[0], 20, 1);
    run();
    EXPECT_LINE(0, 'A', 10, 500000, 0, 500000, 0, 500000, 0, 0, "");
    memset(&FS, 0, sizeof FS);
    mkdoc(&D, 'P', 0, "E2", "PH-GOV-1", ELDER, 1001, "1403/06/18", "1403/06/19", 1);
    run();
    EXPECT_LINE(0, 'P', 10, 500000, 150000, 350000, 0, 350000, 0, 150000, "K03");
    memset(&FS, 0, sizeof FS);
    mkdoc(&D, 'P', 0, "E3", "PH-PRV-1", ELDER, 1001, "1403/06/19", "1403/06/20", 1);
    L[0].claimed_insurer_rials = 350000;
    run();
    EXPECT_LINE(0, 'A', 10, 500000, 150000, 350000, 0, 350000, 0, 0, "");
}

Test(rules_sso, sso_center_is_free)
{
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "S1", "PH-SSO-1", ADULT, 1001, "1403/06/19", "1403/06/20", 1);
    mkline(&L[0], 1, 'D', "D-PLAIN", 10, 50000, 500000, 0);
    add_uids(&L[0], 30, 1);
    run();
    EXPECT_LINE(0, 'A', 10, 500000, 0, 500000, 0, 500000, 0, 0, "");
}

Test(rules_sso, doc_rejects_zero_every_line_and_consume_nothing)
{
    /* Coverage gap (K01), an expired contract (K16) and an expired
     * licence (K17) at once; 31 days between rx and dispense (K18). */
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "R1", "PH-OLD", GAPPY, 3003, "1403/01/01", "1403/02/01", 2);
    mkline(&L[0], 1, 'D', "D-PLAIN", 10, 50000, 350000, 0);
    add_uids(&L[0], 40, 1);
    mkline(&L[1], 2, 'D', "D-DAROYAR", 10, 300000, 700000, 2000000);
    add_uids(&L[1], 41, 1);
    run();
    cr_expect_str_eq(reasons(DO.reasons), "K01,K16,K17,K18");
    cr_expect_eq(DO.status, 'R');
    EXPECT_LINE(0, 'R', 0, 0, 0, 0, 0, 0, 0, 350000, "K01,K16,K17,K18");
    EXPECT_LINE(1, 'R', 0, 0, 0, 0, 0, 0, 0, 2700000, "K01,K16,K17,K18");
    cr_expect_eq(DO.deduction_rials, 3050000);
    cr_expect_eq(FS.uid_calls, 0, "a rejected document consumes no pack id");
    cr_expect_eq(FS.ndocs, 1, "but it is seen");
}

Test(rules_sso, unknown_center_prescriber_and_validity_edge)
{
    NUIDS = 0;
    /* 30 days (1403/01/01 -> 1403/01/31) is still valid. */
    mkdoc(&D, 'P', 0, "R2", "NO-SUCH", ADULT, 9999, "1403/01/01", "1403/01/31", 1);
    mkline(&L[0], 1, 'D', "D-PLAIN", 10, 50000, 350000, 0);
    run();
    cr_expect_str_eq(reasons(DO.reasons), "K16,K17");
}

Test(rules_sso, duplicate_document)
{
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "DUP", "PH-GOV-1", ADULT, 1001, "1403/05/01", "1403/05/02", 1);
    mkline(&L[0], 1, 'D', "D-PLAIN", 10, 50000, 350000, 0);
    add_uids(&L[0], 50, 1);
    run();
    EXPECT_LINE(0, 'A', 10, 500000, 150000, 350000, 0, 350000, 0, 0, "");
    run_keep();
    cr_expect_str_eq(reasons(DO.reasons), "K09");
    EXPECT_LINE(0, 'R', 0, 0, 0, 0, 0, 0, 0, 350000, "K09");
}

Test(rules_sso, unknown_drug_examines_no_uid)
{
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "U1", "PH-GOV-1", ADULT, 1001, "1403/05/01", "1403/05/02", 1);
    mkline(&L[0], 1, 'D', "D-NONE", 10, 50000, 350000, 0);
    add_uids(&L[0], 60, 1);
    run();
    EXPECT_LINE(0, 'R', 0, 0, 0, 0, 0, 0, 0, 350000, "K02");
    cr_expect_eq(FS.uid_calls, 0);
    cr_expect_eq(DO.status, 'R');
}

Test(rules_sso, cut_for_quantity_and_authenticity_at_once)
{
    /* qty 80 > max 60: K10, qty_a 60; needed 6 packs of 10; listed: 4 good,
     * 1 reused (consumed earlier), 1 invalid -> qty_a = 4*10 = 40, K07 K08.
     * gross 40*300,000 = 12,000,000; patient rnd(4,000,000, 3000) =
     * 1,200,000; insurer 2,800,000; Daroyar 8,000,000; claimed Daroyar
     * 16,000,000 > 8,000,000: K06. */
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "Q1", "PH-GOV-1", ADULT, 1001, "1403/05/01", "1403/05/02", 1);
    mkline(&L[0], 1, 'D', "D-DAROYAR", 80, 300000, 5600000, 16000000);
    add_uids(&L[0], 70, 5);
    add_invalid_uid(&L[0]);
    FS.uids[FS.nuids++] = UIDS[2]; /* the third was consumed in a settled batch */
    run();
    EXPECT_LINE(0, 'P', 40, 12000000, 1200000, 2800000, 8000000, 2800000, 8000000, 10800000,
                "K06,K07,K08,K10");
}

Test(rules_sso, same_uid_twice_on_a_line_and_too_few_listed)
{
    /* 20 units need 2 packs; the same pack listed twice: 1 good, 1 reused
     * -> qty_a 10, K08. A second line listing 1 pack for 20 units: K07. */
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "Q2", "PH-GOV-1", ADULT, 1001, "1403/05/01", "1403/05/02", 2);
    mkline(&L[0], 1, 'D', "D-PLAIN", 20, 50000, 700000, 0);
    add_uids(&L[0], 80, 1);
    add_uids(&L[0], 80, 1);
    mkline(&L[1], 2, 'D', "D-PLAIN", 20, 50000, 700000, 0);
    add_uids(&L[1], 81, 1);
    run();
    EXPECT_LINE(0, 'P', 10, 500000, 150000, 350000, 0, 350000, 0, 350000, "K08");
    EXPECT_LINE(1, 'P', 10, 500000, 150000, 350000, 0, 350000, 0, 350000, "K07");
    cr_expect_eq(DO.status, 'P');
    cr_expect_eq(DO.approved_insurer_rials, 700000);
}

Test(rules_sso, drug_unit_price_above_tariff)
{
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "K3", "PH-GOV-1", ADULT, 1001, "1403/05/01", "1403/05/02", 1);
    mkline(&L[0], 1, 'D', "D-PLAIN", 10, 60000, 350000, 0);
    add_uids(&L[0], 90, 1);
    run();
    EXPECT_LINE(0, 'P', 10, 500000, 150000, 350000, 0, 350000, 0, 0, "K03");
}

Test(rules_sso, esfand_30_1403_and_first_of_1404)
{
    /* D-CHANGE costs 100,000 through 1403/12/30 (1403 is leap) and 120,000
     * from 1404/01/01. One unit: patient rnd(100,000, 3000) = 30,000. */
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "C1", "PH-GOV-1", ADULT, 1001, "1403/12/28", "1403/12/30", 1);
    mkline(&L[0], 1, 'D', "D-CHANGE", 1, 100000, 70000, 0);
    add_uids(&L[0], 100, 1);
    run();
    EXPECT_LINE(0, 'A', 1, 100000, 30000, 70000, 0, 70000, 0, 0, "");
    memset(&FS, 0, sizeof FS);
    mkdoc(&D, 'P', 0, "C2", "PH-GOV-1", ADULT, 1001, "1403/12/28", "1404/01/01", 1);
    L[0].unit_price_rials = 120000;
    L[0].claimed_insurer_rials = 84000;
    run();
    EXPECT_LINE(0, 'A', 1, 120000, 36000, 84000, 0, 84000, 0, 0, "");
}

Test(rules_sso, faculty_uplift_eligible)
{
    /* UNI hospital, I/B (c = 1000), S-VISIT rvu_prof 100, K UNI/# 1,700,000:
     * price 1,700,000; prof_b 1,700,000; rnd(1,700,000, 17000) = 2,890,000;
     * uplift 1,190,000. gross 2,890,000; patient rnd(1,700,000, 1000) =
     * 170,000; insurer 2,720,000. */
    NUIDS = 0;
    mkdoc(&D, 'I', 'B', "F1", "HO-UNI-1", ADULT, 0, "1403/05/01", "1403/05/03", 1);
    mkline(&L[0], 1, 'S', "S-VISIT", 1, 2890000, 2720000, 0);
    L[0].tariff_class = 'F';
    L[0].has_physician = 1;
    L[0].physician_mc = 2002;
    run();
    EXPECT_LINE(0, 'A', 1, 2890000, 170000, 2720000, 0, 2720000, 0, 0, "");
}

Test(rules_sso, faculty_uplift_not_eligible)
{
    /* Physician 2003 is full-time but in private practice: K05, no uplift;
     * unit price 2,890,000 > 1,700,000: K03. insurer 1,700,000 - 170,000. */
    NUIDS = 0;
    mkdoc(&D, 'I', 'B', "F2", "HO-UNI-1", ADULT, 0, "1403/05/01", "1403/05/03", 1);
    mkline(&L[0], 1, 'S', "S-VISIT", 1, 2890000, 2720000, 0);
    L[0].tariff_class = 'F';
    L[0].has_physician = 1;
    L[0].physician_mc = 2003;
    run();
    EXPECT_LINE(0, 'P', 1, 1700000, 170000, 1530000, 0, 1530000, 0, 1190000, "K03,K05");
    /* Class F with no physician at all: also K05. */
    L[0].has_physician = 0;
    L[0].physician_mc = 0;
    run();
    cr_expect_str_eq(reasons(O[0].reasons), "K03,K05");
    /* Class G never gets K05. */
    L[0].tariff_class = 'G';
    L[0].unit_price_rials = 1700000;
    L[0].claimed_insurer_rials = 1530000;
    run();
    EXPECT_LINE(0, 'A', 1, 1700000, 170000, 1530000, 0, 1530000, 0, 0, "");
}

Test(rules_sso, private_center_priced_at_gov_basis)
{
    /* PRV hospital, I/M (c = 3000). price(PRV) = 4,000,000 (the K03 test);
     * insurer basis GOV: price 1,700,000 -> patient 510,000, insurer
     * 1,190,000; the claim 2,800,000 is above it: K03 at approval. */
    NUIDS = 0;
    mkdoc(&D, 'I', 'M', "PV1", "HO-PRV-1", ADULT, 0, "1403/05/01", "1403/05/01", 1);
    mkline(&L[0], 1, 'S', "S-VISIT", 1, 4000000, 2800000, 0);
    L[0].tariff_class = 'G';
    run();
    EXPECT_LINE(0, 'P', 1, 1700000, 510000, 1190000, 0, 1190000, 0, 1610000, "K03");
}

Test(rules_sso, pair_edit_sex_age_and_missing_k)
{
    /* S-SURG with S-PART: S-PART is K12 (rejected, not priced). S-SURG:
     * GOV/S: (250*1,800,000 + 400*1,300,000 + 50)/100 = 9,700,000; deprived
     * GOV center: c = 0. S-PREG on a man: K13. */
    NUIDS = 0;
    mkdoc(&D, 'I', 'B', "PR1", "HO-GOV-DEP", ADULT, 0, "1403/05/01", "1403/05/02", 3);
    mkline(&L[0], 1, 'S', "S-SURG", 1, 9700000, 9700000, 0);
    mkline(&L[1], 2, 'S', "S-PART", 1, 2000000, 2000000, 0);
    mkline(&L[2], 3, 'S', "S-PREG", 1, 2550000, 2550000, 0);
    run();
    EXPECT_LINE(0, 'A', 1, 9700000, 0, 9700000, 0, 9700000, 0, 0, "");
    EXPECT_LINE(1, 'R', 0, 0, 0, 0, 0, 0, 0, 2000000, "K12");
    EXPECT_LINE(2, 'R', 0, 0, 0, 0, 0, 0, 0, 2550000, "K13");
    cr_expect_eq(DO.status, 'P');
    /* CHR clinic has no K factor for flag S: K02; unknown code: K02. */
    mkdoc(&D, 'I', 'B', "PR2", "CL-CHR-1", ADULT, 0, "1403/05/01", "1403/05/02", 2);
    mkline(&L[0], 1, 'S', "S-SURG", 1, 9700000, 9700000, 0);
    mkline(&L[1], 2, 'S', "S-NONE", 1, 100, 100, 0);
    run();
    EXPECT_LINE(0, 'R', 0, 0, 0, 0, 0, 0, 0, 9700000, "K02");
    EXPECT_LINE(1, 'R', 0, 0, 0, 0, 0, 0, 0, 100, "K02");
    cr_expect_eq(DO.status, 'R');
}

Test(rules_sso, service_quantity_and_k_factor_change)
{
    /* S-VISIT max 1: qty 2 -> 1, K10. K GOV/# 1,700,000 on 1403/12/30 and
     * 2,000,000 on 1404/01/01. GOV deprived: c = 0. */
    NUIDS = 0;
    mkdoc(&D, 'I', 'B', "KQ1", "HO-GOV-DEP", ADULT, 0, "1403/12/30", "1404/01/02", 1);
    mkline(&L[0], 1, 'S', "S-VISIT", 2, 1700000, 3400000, 0);
    run();
    EXPECT_LINE(0, 'P', 1, 1700000, 0, 1700000, 0, 1700000, 0, 1700000, "K10");
    mkdoc(&D, 'I', 'B', "KQ2", "HO-GOV-DEP", ADULT, 0, "1404/01/01", "1404/01/02", 1);
    L[0].qty = 1;
    L[0].claimed_insurer_rials = 2000000;
    L[0].unit_price_rials = 2000000;
    run();
    EXPECT_LINE(0, 'A', 1, 2000000, 0, 2000000, 0, 2000000, 0, 0, "");
}

Test(rules_sso, supply_and_bed_days)
{
    /* UNI hospital I/B (c = 1000). K-GLOVE max 100: qty 150 -> 100, K10,
     * gross 2,000,000, patient 200,000. Beds grade A 5,000,000 a day;
     * admit 05/01, discharge 05/04: 3 days; qty 5 -> 3, K10: gross
     * 15,000,000, patient 1,500,000. */
    NUIDS = 0;
    mkdoc(&D, 'I', 'B', "B1", "HO-UNI-1", ADULT, 0, "1403/05/01", "1403/05/04", 2);
    mkline(&L[0], 1, 'K', "K-GLOVE", 150, 20000, 1800000, 0);
    mkline(&L[1], 2, 'B', "BED", 5, 5000000, 13500000, 0);
    run();
    EXPECT_LINE(0, 'P', 100, 2000000, 200000, 1800000, 0, 1800000, 0, 0, "K10");
    EXPECT_LINE(1, 'P', 3, 15000000, 1500000, 13500000, 0, 13500000, 0, 0, "K10");
    /* Same-day discharge counts one day; a supply priced above: K03. */
    mkdoc(&D, 'I', 'B', "B2", "HO-UNI-1", ADULT, 0, "1403/05/01", "1403/05/01", 2);
    mkline(&L[0], 1, 'K', "K-GLOVE", 1, 25000, 18000, 0);
    mkline(&L[1], 2, 'B', "BED", 1, 5000000, 4500000, 0);
    run();
    EXPECT_LINE(0, 'P', 1, 20000, 2000, 18000, 0, 18000, 0, 0, "K03");
    EXPECT_LINE(1, 'A', 1, 5000000, 500000, 4500000, 0, 4500000, 0, 0, "");
}

Test(rules_sso, claim_below_share_is_not_raised)
{
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "LOW", "PH-GOV-1", ADULT, 1001, "1403/05/01", "1403/05/02", 1);
    mkline(&L[0], 1, 'D', "D-PLAIN", 10, 50000, 300000, 0);
    add_uids(&L[0], 110, 1);
    run();
    EXPECT_LINE(0, 'A', 10, 500000, 150000, 350000, 0, 300000, 0, 0, "");
}

Test(rules_sso, trace_names_rules_lookups_and_reasons)
{
    NUIDS = 0;
    mkdoc(&D, 'P', 0, "TR", "PH-GOV-1", ADULT, 1001, "1403/05/01", "1403/05/02", 1);
    mkline(&L[0], 1, 'D', "D-DAROYAR", 80, 300000, 2100000, 6000000);
    add_uids(&L[0], 120, 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct rules_trace tr = {f};
    cr_assert_eq(rules_eval_doc(S, &D, L, UIDS, &SEEN, &DO, O, &tr), ADJ_OK);
    fclose(f);
    cr_expect(strstr(buf, "rule drug (30-lines.rules:7)") != NULL, "%s", buf);
    cr_expect(strstr(buf, "lookup drugs[D-DAROYAR] on 1403/05/02 -> drugs.tsv line 2") != NULL, "%s", buf);
    cr_expect(strstr(buf, "reason K10 (quantity above the limit)") != NULL, "%s", buf);
    cr_expect(strstr(buf, "set qty_a = 60") != NULL, "%s", buf);
    free(buf);
}
