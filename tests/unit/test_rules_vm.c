/*
 * The compiled evaluator (rules/vm.c) against the tree walker it replaced
 * (rules_eval_doc_reference): both must give the same decision for every
 * line (every amount, reasons, status) and the same error, document by
 * document, on
 *  - the SSO reference set over a generated province with anomalies of
 *    every kind (each evaluator with its own history, so K08/K09 are
 *    exercised through the seen sets);
 *  - small rule texts written to reach every instruction the compiler
 *    emits (text and enum comparisons, `set x = f(x)`,
 *    nested conditions in value position, any(), exit, has(), checked
 *    arithmetic that overflows, divisions by zero, rnd of a negative),
 *    over a grid of varied documents.
 * Both write explain's trace too, and the two traces must be the same text;
 * and the compiled evaluator runs a second time without a trace, because
 * the untraced code has operations of its own (one-key lookups, column
 * loads, inline rnd and divisions, rules/vm.c) that must agree as well.
 * Plus: the SSO set is compiled (not silently left to the tree walker).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/jdate.h"
#include "core/gen.h"
#include "core/rules_batch.h"
#include "rules/rules.h"
#include "rules/rules_impl.h"

#define LINES_MAX 16u

struct pair_stats {
    uint64_t docs, lines, errors, reasons_seen;
};

static void same_lines(const struct doc *doc, const struct line_decision *la,
                       const struct line_decision *lb, const char *what)
{
    for (uint32_t i = 0; i < doc->line_count; i++) {
        const struct line_decision *x = &la[i], *y = &lb[i];
        cr_assert(x->qty_a == y->qty_a && x->gross_rials == y->gross_rials &&
                      x->patient_rials == y->patient_rials && x->insurer_rials == y->insurer_rials &&
                      x->daroyar_rials == y->daroyar_rials &&
                      x->approved_insurer_rials == y->approved_insurer_rials &&
                      x->approved_daroyar_rials == y->approved_daroyar_rials &&
                      x->deduction_rials == y->deduction_rials && x->reasons == y->reasons &&
                      x->status == y->status,
                  "doc %.*s line %u: %s %c %lld/%lld reasons %llx, reference %c %lld/%lld "
                  "reasons %llx",
                  (int)doc->doc_id_len, doc->doc_id, i + 1, what, x->status,
                  (long long)x->approved_insurer_rials, (long long)x->gross_rials,
                  (unsigned long long)x->reasons, y->status, (long long)y->approved_insurer_rials,
                  (long long)y->gross_rials, (unsigned long long)y->reasons);
    }
}

/* Evaluates doc with both evaluators (and the compiled one once more
 * without a trace, with its own seen sets) and asserts they agree. */
static void agree(const struct rules_set *set, const struct doc *doc, const struct doc_line *lines,
                  const uint64_t *uids, const struct seen_ops *seen_vm,
                  const struct seen_ops *seen_ref, const struct seen_ops *seen_fast,
                  struct pair_stats *st)
{
    struct doc_decision c;
    struct line_decision *lc = calloc(doc->line_count + 1u, sizeof *lc);
    cr_assert(lc);
    /* The look-ahead calls change no result (checked below: the untraced
     * run follows them) and stay in bounds (the sanitizer builds). */
    for (int stage = 0; stage < 2; stage++)
        rules_prefetch_doc(set, doc, stage);
    rules_prefetch_lines(set, doc, lines);
    enum adj_err ec = rules_eval_doc(set, doc, lines, uids, seen_fast, &c, lc, NULL);
    struct doc_decision a, b;
    struct line_decision *la = calloc(doc->line_count + 1u, sizeof *la);
    struct line_decision *lb = calloc(doc->line_count + 1u, sizeof *lb);
    cr_assert(la && lb);
    /* Both with explain's trace: it must be the same text, line for line. */
    char *ta = NULL, *tb = NULL;
    size_t na = 0, nb = 0;
    FILE *fa = open_memstream(&ta, &na), *fb = open_memstream(&tb, &nb);
    cr_assert(fa && fb);
    struct rules_trace tra = {fa}, trb = {fb};
    enum adj_err ea = rules_eval_doc(set, doc, lines, uids, seen_vm, &a, la, &tra);
    enum adj_err eb = rules_eval_doc_reference(set, doc, lines, uids, seen_ref, &b, lb, &trb);
    fclose(fa);
    fclose(fb);
    cr_assert_eq(ea, eb, "doc %.*s: compiled %s, reference %s", (int)doc->doc_id_len, doc->doc_id,
                 adj_err_name(ea), adj_err_name(eb));
    cr_assert_eq(ec, eb, "doc %.*s: compiled untraced %s, reference %s", (int)doc->doc_id_len,
                 doc->doc_id, adj_err_name(ec), adj_err_name(eb));
    cr_assert(na == nb && memcmp(ta, tb, na) == 0,
              "doc %.*s: traces differ\n--- compiled\n%s--- reference\n%s", (int)doc->doc_id_len,
              doc->doc_id, ta, tb);
    cr_assert_gt(na, 0);
    free(ta);
    free(tb);
    st->docs++;
    if (ea != ADJ_OK) {
        st->errors++; /* outputs are unspecified on error */
    } else {
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "doc %.*s: document decisions differ",
                  (int)doc->doc_id_len, doc->doc_id);
        cr_assert(memcmp(&c, &b, sizeof c) == 0, "doc %.*s: untraced document decisions differ",
                  (int)doc->doc_id_len, doc->doc_id);
        same_lines(doc, lc, lb, "compiled untraced");
        same_lines(doc, la, lb, "compiled");
        for (uint32_t i = 0; i < doc->line_count; i++) {
            const struct line_decision *x = &la[i];
            st->reasons_seen |= x->reasons;
            st->lines++;
        }
    }
    free(la);
    free(lb);
    free(lc);
}

/* ---- the SSO set over a generated province ------------------------------ */

struct gen_ctx {
    const struct rules_set *set;
    struct rb_seen seen_vm, seen_ref, seen_fast;
    struct seen_ops ops_vm, ops_ref, ops_fast;
    struct pair_stats st;
};

static int on_doc(void *vctx, const struct doc *doc, const struct doc_line *lines,
                  const uint64_t *uids)
{
    struct gen_ctx *c = vctx;
    agree(c->set, doc, lines, uids, &c->ops_vm, &c->ops_ref, &c->ops_fast, &c->st);
    return 0;
}

Test(rules_vm, sso_set_on_a_generated_province_agrees_with_the_tree_walker)
{
    char dir[128];
    snprintf(dir, sizeof dir, "/tmp/test_rules_vm.%ld", (long)getpid());
    struct gen_config cfg;
    gen_config_default(&cfg);
    cfg.seed = 7;
    cfg.prescriptions = 6000;
    cfg.inpatient = 1500;
    cfg.centers = 120;
    cfg.insured = 4000;
    cfg.physicians = 300;
    cfg.drugs = 800;
    cfg.daroyar = 40;
    cfg.services = 600;
    cfg.supplies = 200;
    cfg.pairs = 40;
    struct gen_stats gst;
    struct adj_diag diag;
    memset(&diag, 0, sizeof diag);
    cr_assert_eq(gen_run(&cfg, dir, &gst, &diag), ADJ_OK, "gen: %s", diag.detail);

    char tables[192], batch[192];
    snprintf(tables, sizeof tables, "%s/tables", dir);
    snprintf(batch, sizeof batch, "%s/batch.tsv", dir);
    struct rules_set *set = NULL;
    cr_assert_eq(rules_load(ADJ_SOURCE_DIR "/rules/sso", tables, stderr, &set), ADJ_OK);
    cr_assert(rules_compiled(set), "rules/sso must run compiled, not on the tree walker");

    struct gen_ctx c;
    memset(&c, 0, sizeof c);
    c.set = set;
    rb_seen_init(&c.seen_vm);
    rb_seen_init(&c.seen_ref);
    rb_seen_init(&c.seen_fast);
    c.ops_vm = rb_seen_ops(&c.seen_vm);
    c.ops_ref = rb_seen_ops(&c.seen_ref);
    c.ops_fast = rb_seen_ops(&c.seen_fast);
    uint64_t rejected = 0;
    cr_assert_eq(rb_each_doc(batch, NULL, 0, stderr, on_doc, &c, &rejected, NULL), ADJ_OK);
    /* The whole province went through both, and the anomalies reached every
     * reason the set declares (so every rule's branches ran). */
    cr_assert_geq(c.st.docs, 3000);
    for (uint32_t r = 0; r < rules_reason_count(set); r++)
        cr_assert(c.st.reasons_seen & (1ull << r), "reason %s never given", rules_reason_name(set, r));
    rb_seen_free(&c.seen_vm);
    rb_seen_free(&c.seen_ref);
    rb_seen_free(&c.seen_fast);
    rules_free(set);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* ---- small rule texts over a grid of documents -------------------------- */

static bool seen_doc(void *ctx, const char *id, uint32_t len)
{
    (void)ctx;
    return len == 3 && memcmp(id, "DUP", 3) == 0;
}
static bool seen_uid(void *ctx, uint64_t key)
{
    (void)ctx;
    return (key % 3u) == 0;
}

static uint64_t next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Document k of the grid: kinds, stays, classes, quantities, prices,
 * claims and codes vary with k; some amounts are large enough to overflow
 * the rules that multiply them. */
static void make_doc(uint64_t k, struct doc *d, struct doc_line *l, uint64_t *uids)
{
    uint64_t s = k * 2654435761u + 1;
    memset(d, 0, sizeof *d);
    static const char kinds[] = {'P', 'I'}, stays[] = {'B', 'M', '-'}, lk[] = {'D', 'S', 'K', 'B'},
                      tc[] = {'G', 'F', '-'};
    static const char *codes[] = {"X1", "X2", "AB", "Z", "X1"};
    d->kind = (uint8_t)kinds[next(&s) % 2];
    d->stay = (uint8_t)(d->kind == 'I' ? stays[next(&s) % 3] : '-');
    const char *id = next(&s) % 7 == 0 ? "DUP" : "DOC";
    memcpy(d->doc_id, id, 3);
    memcpy(d->doc_id_raw, id, 3);
    d->doc_id_len = 3;
    memcpy(d->center, next(&s) % 2 ? "C1" : "C2", 2);
    d->center_len = 2;
    d->patient_nid = 12345679;
    d->prescriber_mc = (uint32_t)(next(&s) % 9);
    d->date1 = (struct jdate){1403, 12, (int)(25 + next(&s) % 6)};
    d->date2 = (struct jdate){1404, 1, (int)(1 + next(&s) % 5)};
    d->date1_days = jdate_to_days(d->date1);
    d->date2_days = jdate_to_days(d->date2);
    d->line_count = 1 + (uint32_t)(next(&s) % 5);
    uint32_t nu = 0;
    for (uint32_t i = 0; i < d->line_count; i++) {
        struct doc_line *x = &l[i];
        memset(x, 0, sizeof *x);
        x->kind = (uint8_t)lk[next(&s) % 4];
        x->tariff_class = (uint8_t)tc[next(&s) % 3];
        x->line_no = i + 1;
        x->qty = 1 + (uint32_t)(next(&s) % 6);
        x->unit_price_rials = (int64_t)(next(&s) % 1000);
        x->claimed_total_rials = x->qty * x->unit_price_rials;
        x->claimed_insurer_rials = next(&s) % 5 == 0 ? (int64_t)(next(&s) % 10000000) * 1000000 : (int64_t)(next(&s) % 3000);
        x->claimed_daroyar_rials = (int64_t)(next(&s) % 3) * 100;
        x->has_physician = (uint8_t)(next(&s) % 2);
        x->physician_mc = x->has_physician ? (uint32_t)(next(&s) % 10) : 0;
        const char *c = codes[next(&s) % 5];
        x->code_len = (uint8_t)strlen(c);
        memcpy(x->code, c, x->code_len);
        x->uid_first = nu;
        x->uid_count = (uint32_t)(next(&s) % 3);
        for (uint32_t u = 0; u < x->uid_count; u++)
            uids[nu++] = next(&s);
    }
}

static void grid_in(const char *name, const char *text, const char *tables_dir)
{
    struct rules_set *set = NULL;
    enum adj_err e = rules_load_text(name, text, strlen(text), tables_dir, stderr, &set);
    cr_assert_eq(e, ADJ_OK, "%s must load: %s", name, adj_err_name(e));
    cr_assert(rules_compiled(set), "%s must compile", name);
    struct seen_ops ops = {NULL, seen_doc, seen_uid};
    struct pair_stats st;
    memset(&st, 0, sizeof st);
    struct doc d;
    struct doc_line l[LINES_MAX];
    uint64_t uids[3 * LINES_MAX];
    for (uint64_t k = 0; k < 4000; k++) {
        make_doc(k, &d, l, uids);
        agree(set, &d, l, uids, &ops, &ops, &ops, &st);
    }
    cr_assert_geq(st.lines, 1000, "%s: too few lines adjudicated without error", name);
    rules_free(set);
}

static void grid(const char *name, const char *text) { grid_in(name, text, NULL); }

Test(rules_vm, text_and_enum_comparisons_and_min_max_of_text)
{
    grid("text.rules",
         "reason K01 \"a\"\n"
         "reason K02 \"b\"\n"
         "enum color [RED, GREEN]\n"
         "var doc tag : code = \"x\"\n"
         "var doc c : color = \"RED\"\n"
         "var line note : code = \"-\"\n"
         "var line t : bool = false\n"
         "rule d on doc\n"
         "  set tag = if doc.kind == \"P\" then doc.center else doc.id\n"
         "  set c = if doc.stay == \"B\" then \"GREEN\" else c\n"
         "end\n"
         "rule l on line\n"
         "  set note = if line.qty > 2 then line.code else tag\n"
         "  set t = line.tariff_class == \"F\" or c == \"GREEN\" and line.has_physician\n"
         "  reason K01 if note == line.code and line.qty > 2\n"
         "  reason K02 if note != tag or not (line.unit_price < 500) or t and line.physician > 5\n"
         "  set status = if has(K01) or has(K02) then \"P\" else \"A\"\n"
         "end\n");
}

Test(rules_vm, assignments_that_read_their_target_and_value_conditions)
{
    grid("self.rules",
         "reason K01 \"a\"\n"
         "reason K02 \"b\"\n"
         "var line n : int = 0\n"
         "var line ok : bool = false\n"
         "rule l on line\n"
         "  set n = line.qty\n"
         "  set n = if n > 3 then n - 1 else n + 1\n"
         "  set ok = line.qty > 2 and ok\n"
         "  set ok = ok or line.unit_price > 100\n"
         "  set ok = not ok and (n == 2 or line.kind == \"S\") or ok and n != 4\n"
         "  set n = min(n, max(n - 2, 1)) + div_floor(line.qty * 7, n)\n"
         "  reason K01 if ok and n > 1\n"
         "  if n > 50 then\n"
         "    reason K02\n"
         "    exit if line.qty == 1\n"
         "    set n = 0\n"
         "  else\n"
         "    set n = n * 2\n"
         "  end\n"
         "  set status = if has(K01) then \"R\" else if n == 0 then \"P\" else \"A\"\n"
         "end\n");
}

Test(rules_vm, checked_arithmetic_and_divisions_fail_alike)
{
    grid("errors.rules",
         "reason K01 \"a\"\n"
         "var line big : rial = 0\n"
         "rule l on line\n"
         "  let a = line.qty * line.unit_price\n"
         "  set big = -a + line.claimed_insurer * 1000000\n"
         "  let q = if line.unit_price > 990 then div_half_up(line.unit_price, line.qty - 1)\n"
         "          else div_ceil(a, line.qty)\n"
         "  reason K01 if q > 100\n"
         "  set gross = a\n"
         "  set patient = rnd(a - 5, 2500)\n"
         "  set insurer = gross - patient\n"
         "  set approved_insurer = min(line.claimed_insurer, insurer)\n"
         "  set deduction = line.claimed_insurer + line.claimed_daroyar - approved_insurer - approved_daroyar\n"
         "  set status = if has() then \"P\" else \"A\"\n"
         "end\n");
}

Test(rules_vm, any_packs_exit_has_and_doc_rejects)
{
    grid("flow.rules",
         "reason K02 \"x\"\n"
         "reason K10 \"y\"\n"
         "param share : bp = 3000\n"
         "param age : int = 65\n"
         "var doc c : bp = 0\n"
         "var line extra : rial = 0\n"
         "rule d on doc from 1400/01/01\n"
         "  set c = if doc.kind == \"I\" and doc.stay == \"B\" then param.share else 0\n"
         "  reject K02 if doc.seen_before or age(1370/01/01, doc.dos) > param.age\n"
         "end\n"
         "rule l on line when line.kind == \"D\" or line.kind == \"B\"\n"
         "  check packs\n"
         "  set qty_a = min(line.qty, max(1, doc.date2 - doc.date1))\n"
         "  reason K10 if line.qty > qty_a or packs.reused > 0 or any(o in lines where "
         "o.code == line.code and o.index != line.index)\n"
         "  let u = div_ceil(qty_a, 2) + div_floor(qty_a, 2) + div_half_up(qty_a, 3)\n"
         "  set gross = qty_a * line.unit_price\n"
         "  reason K10 if u > 7\n"
         "  set patient = rnd(gross, c)\n"
         "  set insurer = gross - patient\n"
         "  if has(K10) then\n"
         "    exit\n"
         "  else\n"
         "    set extra = -line.unit_price\n"
         "  end\n"
         "end\n"
         "rule s on line when line.kind == \"S\" and any(o in lines where o.kind == \"S\" and o.qty > line.qty)\n"
         "  reason K02 if packs.listed == 0\n"
         "end\n"
         "rule a on line\n"
         "  set approved_insurer = min(line.claimed_insurer, insurer)\n"
         "  set deduction = line.claimed_insurer - approved_insurer\n"
         "  set status = if has() then \"P\" else \"A\"\n"
         "end\n");
}

/* The fused programs' peephole (rules/vm.c fuse_plan): a reason after
 * each comparison becomes one branch-free operation (all four of them are
 * asserted present), unless something else jumps to it (`or`); a value
 * computed again in a straight run is not recomputed, unless its operand
 * or its register changed in between or a jump lands in between. Any
 * mistake there changes a reason or an amount, which the tree walker
 * would not. */
Test(rules_vm, fused_reasons_and_recomputed_values)
{
    const char *text =
        "reason K01 \"a\"\nreason K02 \"b\"\nreason K03 \"c\"\nreason K04 \"d\"\n"
        "reason K05 \"e\"\nreason K06 \"f\"\nreason K07 \"g\"\nreason K08 \"h\"\n"
        "var line n : int = 0\n"
        "var line m : rial = 0\n"
        "rule l on line\n"
        "  set n = line.qty\n"
        "  reason K01 if n < 3\n"
        "  reason K02 if n <= line.qty * 2 - 3\n"
        "  reason K03 if line.unit_price > 500\n"
        "  reason K04 if line.qty * 3 >= n + 4\n"
        "  reason K05 if n == 4\n"
        "  reason K06 if line.qty != 2 and line.unit_price < 300\n"
        "  reason K07 if n > 5 or line.unit_price == 7\n"
        "  reason K08 if n != 3\n"
        "  set m = rnd(line.qty * line.unit_price, 2500)\n"
        "  set m = m + line.qty * line.unit_price\n"
        "  set n = n + 1\n"
        "  set m = m - line.unit_price * n\n"
        "  set m = m - line.unit_price * n\n"
        "  set n = n * 2\n"
        "  set m = m + line.unit_price * n\n"
        "  if line.qty > 3 then\n"
        "    set n = n + 5\n"
        "  end\n"
        "  set m = m + line.unit_price * n\n"
        "  set gross = m\n"
        "  set patient = m\n"
        "  set status = if has(K01) or has(K06) then \"P\" else \"A\"\n"
        "end\n";
    grid("peephole.rules", text);
    struct rules_set *set = NULL;
    cr_assert_eq(rules_load_text("peephole.rules", text, strlen(text), NULL, stderr, &set), ADJ_OK);
    char *dump = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dump, &len);
    cr_assert_not_null(f);
    rl_vm_dump(set, f);
    fclose(f);
    static const char *const ops[] = {" rlt ", " rle ", " req ", " rne "};
    for (size_t i = 0; i < 4; i++)
        cr_expect_not_null(strstr(dump, ops[i]), "the fused program uses%s", ops[i]);
    free(dump);
    rules_free(set);
}

/* Lookups of one-key tables (text and integer keys, dated and not, through
 * the memo when looked up at several places), a two-key table, exists, a
 * lookup on a computed day, and parameters whose history changes inside
 * the grid's dates (1403/12/25 .. 1404/01/05) with gaps in between. */
static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL, "%s", path);
    cr_assert_eq(fputs(text, f) >= 0, true);
    cr_assert_eq(fclose(f), 0);
}

/* filler: rows of codes.tsv no document asks for, enough of them (9,000)
 * to give the table text slots (rl_tslot: only for tables whose text
 * slots fill 256 KB), so both probes are held to the tree walker's. */
static void lookups_case(uint32_t filler)
{
    char dir[128];
    snprintf(dir, sizeof dir, "/tmp/test_rules_vm_tables.%ld", (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    cr_assert_eq(system(cmd), 0);
    static char codes[64 + 9000 * 40];
    size_t at = (size_t)snprintf(codes, sizeof codes, "%s",
                                 "code\tprice\tlimit\tgroup\tfrom\tto\n"
                                 "X1\t100\t3\tA\t1403/01/01\t1403/12/27\n"
                                 "X1\t140\t4\tB\t1403/12/28\t\n"
                                 "X2\t900\t2\tA\t1404/01/02\t1404/01/03\n"
                                 "AB\t50\t\tB\t1390/01/01\t\n");
    for (uint32_t i = 0; i < filler && i < 9000 && at + 40 < sizeof codes; i++)
        at += (size_t)snprintf(codes + at, sizeof codes - at, "F%04u\t%u\t1\tA\t1390/01/01\t\n", i,
                               i + 1);
    write_file(dir, "codes.tsv", codes);
    write_file(dir, "docs.tsv",
               "mc\tweight\tname\n"
               "1\t2\tone\n"
               "3\t5\tthree\n"
               "4\t7\tfour\n"
               "8\t1\teight\n");
    write_file(dir, "pairs.tsv",
               "group\tcode\tfactor\n"
               "A\tX1\t3\n"
               "B\tX1\t5\n"
               "B\tAB\t2\n"
               "A\tZ\t9\n");
    write_file(dir, "params.tsv",
               "name\tvalue\tfrom\tto\n"
               "share\t2500\t1403/12/26\t1403/12/28\n"
               "share\t4000\t1404/01/02\t\n"
               "cap\t700\t1403/01/01\t1403/12/29\n"
               "cap\t50\t1404/01/01\t1404/01/01\n"
               "cap\t800\t1404/01/03\t1404/01/04\n");
    const char *text =
            "reason K01 \"a\"\n"
            "reason K02 \"b\"\n"
            "reason K03 \"c\"\n"
            "param share : bp = 1000\n"
            "param cap : rial = 300\n"
            "params file \"params.tsv\"\n"
            "table codes file \"codes.tsv\" key code valid from to\n"
            "  code : code\n  price : rial\n  limit : int?\n  group : code\n"
            "  from : date\n  to : date?\nend\n"
            "table docs file \"docs.tsv\" key mc\n"
            "  mc : int\n  weight : rial\n  name : code\nend\n"
            "table pairs file \"pairs.tsv\" key group, code\n"
            "  group : code\n  code : code\n  factor : int\nend\n"
            "var doc w : rial = 0\n"
            "var doc who : code = \"-\"\n"
            "rule d on doc\n"
            "  lookup p = docs[doc.prescriber] else exit\n"
            "  set w = p.weight\n"
            "  set who = p.name\n"
            "end\n"
            "rule l on line\n"
            "  lookup c = codes[line.code] else reason K01\n"
            "  set qty_a = min(line.qty, c.limit)\n"
            "  lookup q = pairs[c.group, line.code] else reason K02\n"
            "  set gross = qty_a * c.price * q.factor + w\n"
            "  set patient = rnd(gross, param.share)\n"
            "  set insurer = gross - patient\n"
            "  reason K03 if insurer > param.cap or who == \"three\"\n"
            "end\n"
            "rule again on line from 1403/12/28 to 1404/01/03 when line.kind == \"S\" or line.kind == \"K\"\n"
            "  lookup c = codes[line.code] at doc.date1 else exit\n"
            "  lookup c2 = codes[line.code] else exit\n"
            "  reason K02 if exists pairs[c2.group, \"Z\"] or exists docs[line.physician]\n"
            "  set insurer = insurer - min(insurer, c.price - c2.price + 1000)\n"
            "end\n"
            "rule a on line\n"
            "  set approved_insurer = min(line.claimed_insurer, insurer)\n"
            "  set deduction = line.claimed_insurer + line.claimed_daroyar - approved_insurer - approved_daroyar\n"
            "  set status = if has() then \"P\" else \"A\"\n"
            "end\n";
    grid_in("lookups.rules", text, dir);
    struct rules_set *set = NULL;
    cr_assert_eq(rules_load_text("lookups.rules", text, strlen(text), dir, stderr, &set), ADJ_OK);
    bool found = false;
    for (uint32_t t = 0; t < set->ntables; t++)
        if (strcmp(set->tables[t].name, "codes") == 0) {
            found = true;
            cr_expect_eq(set->tables[t].tslots != NULL, filler >= 9000,
                         "codes with %u filler rows: text slots %s", filler,
                         set->tables[t].tslots ? "built" : "not built");
        }
    cr_expect(found);
    rules_free(set);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(rules_vm, lookups_memo_exists_and_parameter_epochs) { lookups_case(0); }

Test(rules_vm, lookups_through_text_slots) { lookups_case(9000); }

/* The short-text compare every text key and code goes through: against
 * memcmp for every length up to 40 and a difference at every position
 * (overlapping tail loads must still see it), at odd offsets. */
Test(rules_vm, short_text_compare_agrees_with_memcmp)
{
    char a[64], b[64];
    for (uint32_t n = 0; n <= 40; n++) {
        for (uint32_t off = 0; off < 3; off++) {
            for (uint32_t i = 0; i < n + 3; i++)
                a[off + i] = b[off + i] = (char)('A' + (i * 7 + n) % 26);
            cr_assert(rl_bytes_equal(a + off, b + off, n), "n %u: equal texts", n);
            /* A difference just past the end is not looked at. */
            b[off + n] ^= 1;
            cr_assert(rl_bytes_equal(a + off, b + off, n), "n %u: reads past the end", n);
            b[off + n] ^= 1;
            for (uint32_t d = 0; d < n; d++) {
                b[off + d] ^= 0x20;
                cr_assert(!rl_bytes_equal(a + off, b + off, n), "n %u: difference at %u missed", n, d);
                b[off + d] ^= 0x20;
            }
        }
    }
}
