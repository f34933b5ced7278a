/*
 * The rule language and the table loader through the public API: TSV
 * normalisation (Persian digits, Arabic yeh/kaf), parameter histories,
 * rule date ranges, checked arithmetic at run time, the decision invariants,
 * and a rule author's change (over-65 age) made in data with no C change.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/jdate.h"
#include "rules/rules.h"

static char TMP[64];

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void mktmp(void)
{
    snprintf(TMP, sizeof TMP, "/tmp/adj_rules_XXXXXX");
    cr_assert_not_null(mkdtemp(TMP));
}

static void rmtmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", TMP);
    cr_expect_eq(system(cmd), 0);
}

static struct doc D;
static struct doc_line L[4];
static struct line_decision O[4];
static struct doc_decision DO;

static void mkdoc(const char *dos)
{
    memset(&D, 0, sizeof D);
    D.kind = 'P';
    memcpy(D.doc_id, "X", 1);
    D.doc_id_len = 1;
    size_t off;
    cr_assert_eq(jdate_parse(dos, strlen(dos), &D.date2, &off), ADJ_OK);
    D.date1 = D.date2;
    D.date1_days = D.date2_days = jdate_to_days(D.date2);
    D.line_count = 1;
    memset(L, 0, sizeof L);
    L[0].kind = 'D';
    L[0].qty = 9;
    L[0].line_no = 1;
}

static void set_code(struct doc_line *l, const char *code)
{
    l->code_len = (uint8_t)strlen(code);
    memcpy(l->code, code, l->code_len);
}

static const char *DECL =
    "reason K02 \"not listed\"\n"
    "reason K10 \"too many\"\n"
    "table drugs file \"drugs.tsv\" key irc valid from to\n"
    "  irc : code\n  price : rial\n  max_qty : int?\n  from : date\n  to : date?\nend\n";

Test(rules_lang, persian_digits_and_arabic_yeh_are_normalised)
{
    /* The row is written with Arabic yeh (U+064A) and Arabic kaf (U+0643),
     * price ۱۲۰۰ in Persian digits, max ٥ in Arabic-Indic; the batch key
     * uses the Persian letters. */
    char text[1024];
    snprintf(text, sizeof text,
             "%srule drug on line\n  lookup d = drugs[line.code] else reason K02\n"
             "  set qty_a = min(line.qty, d.max_qty)\n  reason K10 if line.qty > d.max_qty\n"
             "  set gross = qty_a * d.price\n  set insurer = gross\nend\n",
             DECL);
    struct rules_set *s = NULL;
    cr_assert_eq(rules_load_text("t.rules", text, strlen(text),
                                 ADJ_SOURCE_DIR "/tests/rules/table_persian_digits_arabic_yeh_ok/tables",
                                 stderr, &s),
                 ADJ_OK);
    mkdoc("1403/05/01");
    set_code(&L[0], "داروی-ک");
    cr_assert_eq(rules_eval_doc(s, &D, L, NULL, NULL, &DO, O, NULL), ADJ_OK);
    cr_expect_eq(O[0].qty_a, 5);
    cr_expect_eq(O[0].gross_rials, 6000);
    cr_expect_eq(O[0].reasons, 1u << rules_reason_bit(s, "K10"));
    /* The Arabic spelling in a batch is canonicalised by intake; a key
     * that differs in another letter is a miss. */
    set_code(&L[0], "داروی-x");
    cr_assert_eq(rules_eval_doc(s, &D, L, NULL, NULL, &DO, O, NULL), ADJ_OK);
    cr_expect_eq(O[0].reasons, 1u << rules_reason_bit(s, "K02"));
    rules_free(s);
}

Test(rules_lang, params_history_and_rule_dates)
{
    mktmp();
    write_file(TMP, "drugs.tsv", "irc\tprice\tmax_qty\tfrom\tto\nA\t1000\t\t1400/01/01\t\n");
    write_file(TMP, "params.tsv",
               "name\tvalue\tfrom\tto\nshare\t2000\t1403/01/01\t1403/12/30\nshare\t2500\t1404/01/01\t1404/06/31\n");
    char text[2048];
    snprintf(text, sizeof text,
             "%sparam share : bp = 3000\nparams file \"params.tsv\"\n"
             "rule drug on line\n  lookup d = drugs[line.code] else reason K02\n"
             "  set qty_a = line.qty\n  set gross = qty_a * d.price\n"
             "  set patient = rnd(gross, param.share)\n  set insurer = gross - patient\nend\n"
             "rule new_year on line from 1404/01/01 to 1404/01/01\n  reason K10\nend\n",
             DECL);
    struct rules_set *s = NULL;
    cr_assert_eq(rules_load_text("t.rules", text, strlen(text), TMP, stderr, &s), ADJ_OK);
    struct {
        const char *dos;
        int64_t patient;
        bool k10;
    } cases[] = {{"1402/12/29", 2700, false}, /* default 3000 bp of 9,000 */
                 {"1403/12/30", 1800, false}, /* Esfand 30 of leap 1403: 2000 bp */
                 {"1404/01/01", 2250, true},  /* 2500 bp; the one-day rule fires */
                 {"1404/01/02", 2250, false},
                 {"1404/07/01", 2700, false}}; /* after the last row: default */
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mkdoc(cases[i].dos);
        set_code(&L[0], "A");
        cr_assert_eq(rules_eval_doc(s, &D, L, NULL, NULL, &DO, O, NULL), ADJ_OK);
        cr_expect_eq(O[0].patient_rials, cases[i].patient, "%s: %lld", cases[i].dos,
                     (long long)O[0].patient_rials);
        cr_expect_eq(O[0].reasons != 0, cases[i].k10, "%s", cases[i].dos);
    }
    rules_free(s);
    rmtmp();
}

Test(rules_lang, overflow_and_invariants_stop_the_document)
{
    const char *rules =
        "rule big on line\n  set gross = line.unit_price * line.qty * line.qty\n  set insurer = gross\nend\n";
    struct rules_set *s = NULL;
    cr_assert_eq(rules_load_text("o.rules", rules, strlen(rules), NULL, stderr, &s), ADJ_OK);
    mkdoc("1403/05/01");
    L[0].unit_price_rials = 9000000000000000LL;
    L[0].qty = 1000;
    cr_expect_eq(rules_eval_doc(s, &D, L, NULL, NULL, &DO, O, NULL), ADJ_E_RULE_OVERFLOW);
    rules_free(s);

    const char *bad = "rule half on line\n  set gross = 10\n  set insurer = 4\nend\n";
    cr_assert_eq(rules_load_text("i.rules", bad, strlen(bad), NULL, stderr, &s), ADJ_OK);
    cr_expect_eq(rules_eval_doc(s, &D, L, NULL, NULL, &DO, O, NULL), ADJ_E_RULE_INVARIANT);
    rules_free(s);

    const char *raise = "rule r on line\n  set gross = 10\n  set insurer = 10\n"
                        "  set approved_insurer = 10\nend\n";
    cr_assert_eq(rules_load_text("r.rules", raise, strlen(raise), NULL, stderr, &s), ADJ_OK);
    L[0].claimed_insurer_rials = 5;
    cr_expect_eq(rules_eval_doc(s, &D, L, NULL, NULL, &DO, O, NULL), ADJ_E_RULE_INVARIANT,
                 "approved above the claim");
    rules_free(s);
}

Test(rules_lang, every_error_reported_and_nothing_returned)
{
    const char *rules = "reason K1 \"a\"\nrule a on line\n  reason K2\n  set qty_a = \"x\"\nend\n"
                        "rule b on doc\n  reason K1\nend\n";
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct rules_set *s = (struct rules_set *)1;
    cr_expect_eq(rules_load_text("m.rules", rules, strlen(rules), NULL, f, &s),
                 ADJ_E_RULE_REASON_UNDECLARED);
    fclose(f);
    cr_expect_null(s);
    cr_expect(strstr(buf, "m.rules:3:10: error: reason code is not declared: reason K2 [E_RULE_REASON_UNDECLARED]"), "%s", buf);
    cr_expect(strstr(buf, "m.rules:4:15: error: type mismatch") && strstr(buf, "[E_RULE_TYPE]"), "%s", buf);
    cr_expect(strstr(buf, "m.rules:7:3: error: not allowed in this kind of rule"), "%s", buf);
    free(buf);
}

Test(rules_lang, over_65_age_changed_in_params_without_c)
{
    /* The author raises full_cover_age to 70 from 1403/06/01 in params.tsv
     * only. The 65-year-old of the SSO sample (born 1338/06/20) now pays
     * copay on 1403/06/20 in a GOV pharmacy: patient 150,000 of 500,000. */
    mktmp();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s/rules/sso/tables/*.tsv '%s'/", ADJ_SOURCE_DIR, TMP);
    cr_assert_eq(system(cmd), 0);
    write_file(TMP, "params.tsv", "name\tvalue\tfrom\tto\nfull_cover_age\t70\t1403/06/01\t\n");
    struct rules_set *s = NULL;
    cr_assert_eq(rules_load(ADJ_SOURCE_DIR "/rules/sso", TMP, stderr, &s), ADJ_OK);
    memset(&D, 0, sizeof D);
    D.kind = 'P';
    memcpy(D.doc_id, "E", 1);
    D.doc_id_len = 1;
    memcpy(D.center, "PH-GOV-1", 8);
    D.center_len = 8;
    D.patient_nid = 23456787ull;
    D.prescriber_mc = 1001;
    size_t off;
    cr_assert_eq(jdate_parse("1403/06/19", 10, &D.date1, &off), ADJ_OK);
    cr_assert_eq(jdate_parse("1403/06/20", 10, &D.date2, &off), ADJ_OK);
    D.date1_days = jdate_to_days(D.date1);
    D.date2_days = jdate_to_days(D.date2);
    D.line_count = 1;
    memset(L, 0, sizeof L);
    L[0].kind = 'D';
    L[0].qty = 10;
    L[0].unit_price_rials = 50000;
    L[0].claimed_insurer_rials = 350000;
    set_code(&L[0], "D-PLAIN");
    L[0].uid_count = 1;
    uint64_t uid = 1234500000000000001ull;
    cr_assert_eq(rules_eval_doc(s, &D, L, &uid, NULL, &DO, O, NULL), ADJ_OK);
    cr_expect_eq(O[0].patient_rials, 150000);
    cr_expect_eq(O[0].insurer_rials, 350000);
    cr_expect_eq(O[0].status, 'A');
    rules_free(s);
    rmtmp();
}
