/*
 * Property test: seeded random sequences of post / debts / offset / pay
 * (with repeats and conflicting repeats mixed in) run against the ledger and
 * against a small model of the rules in ledger.md. After every operation:
 * each outcome equals the model's, verify passes, the trial balance is zero,
 * no payable or employer debt goes below zero, and the balances equal the
 * model's. Reversals of batches, offsets and payments are drawn too, each
 * either applied (the model undoes the original) or refused for the model's
 * reason. Replaying a seed into a fresh ledger gives the same dump.
 */
#include <sqlite3.h>

#include "test_ledger_util.h"

#define NC 6  /* centers C0..C5: GOV UNI PRV CHR PUB SSO (tl_batch_make) */
#define NE 4  /* employers */
#define NW 3  /* workshops */
#define NK 64 /* ids of agreements / payments / debts drawn from */

struct model {
    int64_t payable[NC], daroyar[NC], bank, treatment, subsidy, premium;
    bool center_known[NC];
    int64_t debt[NE];          /* employer account balance */
    int64_t offsettable[NE];   /* remaining offsettable */
    struct { bool used; int64_t amount; bool htc; } debts[NE][NW][NK];
    struct { bool used; int e, c; int64_t amount; int g; bool reversed; } agreements[NK];
    struct { bool used; int c; int64_t amount; bool reversed; } payments[NK];
    bool batch_reversed[1024];
    int batches, reversals;
    int offsets_applied, offsets_refused, payments_applied;
};

static const char *const sector_of[NC] = {"GOV", "UNI", "PRV", "CHR", "PUB", "SSO"};

struct bal_ctx {
    const struct model *m;
    int64_t trial;
};

static void on_bal(void *ctx, const struct ledger_balance_row *r)
{
    struct bal_ctx *c = ctx;
    const struct model *m = c->m;
    c->trial += r->normal_side == 'D' ? r->balance : -r->balance;
    int i = 0;
    if (sscanf(r->account, "center:C%d:", &i) == 1) {
        cr_assert_geq(r->balance, 0, "%s past its limit", r->account);
        int64_t want = strstr(r->account, "payable") != NULL ? m->payable[i] : m->daroyar[i];
        cr_assert_eq(r->balance, want, "%s", r->account);
    } else if (sscanf(r->account, "employer:E%d:", &i) == 1) {
        cr_assert_geq(r->balance, 0, "%s past its limit", r->account);
        cr_assert_eq(r->balance, m->debt[i], "%s", r->account);
    } else if (strcmp(r->account, "sso:bank") == 0) {
        cr_assert_eq(r->balance, m->bank);
    } else if (strcmp(r->account, "sso:treatment") == 0) {
        cr_assert_eq(r->balance, m->treatment);
    } else if (strcmp(r->account, "subsidy:daroyar") == 0) {
        cr_assert_eq(r->balance, m->subsidy);
    } else if (strcmp(r->account, "sso:premium") == 0) {
        cr_assert_eq(r->balance, m->premium);
    } else {
        cr_assert_fail("unexpected account %s", r->account);
    }
}

static void check(struct ledger *l, const struct model *m)
{
    tl_verify_ok(l);
    struct bal_ctx c = {m, 0};
    struct adj_diag diag;
    cr_assert_eq(ledger_balances(l, &c, on_bal, &diag), ADJ_OK);
    cr_assert_eq(c.trial, 0, "trial balance");
}

static void op_post(struct ledger *l, struct model *m, uint64_t *s)
{
    char id[16];
    bool repeat = m->batches > 0 && tl_rand(s) % 4 == 0;
    int k = repeat ? (int)(tl_rand(s) % (uint64_t)m->batches) : m->batches++;
    snprintf(id, sizeof id, "P%d", k);
    struct tl_batch b;
    /* A batch's content is a function of its id, so a repeat is identical. */
    tl_batch_make(&b, id, 1000 + (uint64_t)k, 1 + (size_t)k % NC, 3, 5);
    enum ledger_post_outcome out;
    struct adj_diag diag;
    cr_assert_eq(ledger_post_batch(l, &b.b, &out, &diag), ADJ_OK);
    cr_assert_eq(out, repeat ? LEDGER_ALREADY_POSTED : LEDGER_POSTED);
    if (!repeat) {
        for (size_t i = 0; i < b.b.center_count; i++) {
            m->payable[i] += b.centers[i].approved_insurer_rials;
            m->daroyar[i] += b.centers[i].approved_daroyar_rials;
            m->treatment += b.centers[i].approved_insurer_rials;
            m->subsidy += b.centers[i].approved_daroyar_rials;
            m->center_known[i] = true;
        }
    }
    tl_batch_free(&b);
}

static void op_debt(struct ledger *l, struct model *m, uint64_t *s)
{
    int e = (int)(tl_rand(s) % NE), w = (int)(tl_rand(s) % NW), p = (int)(tl_rand(s) % 12);
    int64_t amount = (int64_t)(tl_rand(s) % 3000000) + 1;
    bool htc = tl_rand(s) % 4 != 0;
    char emp[8], ws[8], period[8];
    snprintf(emp, sizeof emp, "E%d", e);
    snprintf(ws, sizeof ws, "W%d", w);
    int year = 1390 + p; /* 1390..1401: 1396 and later are not offsettable */
    snprintf(period, sizeof period, "%d/%02d", year, 1 + p % 12);
    if (m->debts[e][w][p].used && tl_rand(s) % 2 == 0) {
        amount = m->debts[e][w][p].amount;
        htc = m->debts[e][w][p].htc;
    }
    struct ledger_debt d = {emp, ws, period, amount, htc};
    struct ledger_row_result r;
    struct adj_diag diag;
    enum adj_err err = ledger_import_debts(l, &d, 1, &r, &diag);
    if (m->debts[e][w][p].used) {
        bool same = m->debts[e][w][p].amount == amount && m->debts[e][w][p].htc == htc;
        cr_assert_eq(err, same ? ADJ_OK : ADJ_E_LEDGER_DEBT_CONFLICT);
        cr_assert_eq(r.outcome, same ? LEDGER_ROW_ALREADY : LEDGER_ROW_REFUSED);
        return;
    }
    cr_assert_eq(err, ADJ_OK, "%s", diag.detail);
    m->debts[e][w][p] = (typeof(m->debts[e][w][p])){true, amount, htc};
    m->debt[e] += amount;
    m->premium += amount;
    if (htc && year < 1396) {
        m->offsettable[e] += amount;
    }
}

static void op_offset(struct ledger *l, struct model *m, uint64_t *s)
{
    int k = (int)(tl_rand(s) % NK), e = (int)(tl_rand(s) % NE), c = (int)(tl_rand(s) % NC);
    int g = (int)(tl_rand(s) % 3);
    int64_t amount = (int64_t)(tl_rand(s) % 2000000) + 1;
    if (m->agreements[k].used && tl_rand(s) % 2 == 0) {
        e = m->agreements[k].e;
        c = m->agreements[k].c;
        amount = m->agreements[k].amount;
        g = m->agreements[k].g;
    }
    char ag[8], emp[8], cen[8], gov[8];
    snprintf(ag, sizeof ag, "A%d", k);
    snprintf(emp, sizeof emp, "E%d", e);
    snprintf(cen, sizeof cen, "C%d", c);
    snprintf(gov, sizeof gov, "G%d", g);
    struct ledger_offset o = {ag, emp, cen, amount, gov, "1403/06/15"};
    struct ledger_row_result r;
    struct adj_diag diag;
    cr_assert_eq(ledger_apply_offsets(l, &o, 1, &r, &diag), ADJ_OK);
    enum adj_err want;
    if (m->agreements[k].used) {
        bool same = m->agreements[k].e == e && m->agreements[k].c == c &&
                    m->agreements[k].amount == amount && m->agreements[k].g == g;
        want = same ? ADJ_OK : ADJ_E_LEDGER_AGREEMENT_CONFLICT;
        cr_assert_eq(r.reason, want, "%s: %s", ag, r.detail);
        cr_assert_eq(r.outcome, same ? LEDGER_ROW_ALREADY : LEDGER_ROW_REFUSED);
        return;
    }
    bool eligible = strcmp(sector_of[c], "PUB") != 0 && strcmp(sector_of[c], "SSO") != 0;
    want = !m->center_known[c]         ? ADJ_E_LEDGER_UNKNOWN_CENTER
           : !eligible                 ? ADJ_E_LEDGER_SECTOR
           : amount > m->payable[c]    ? ADJ_E_LEDGER_OVER_PAYABLE
           : amount > m->offsettable[e] ? ADJ_E_LEDGER_OVER_DEBT
                                        : ADJ_OK;
    cr_assert_eq(r.reason, want, "%s: got %s (%s)", ag, adj_err_name(r.reason), r.detail);
    if (want == ADJ_OK) {
        cr_assert_eq(r.outcome, LEDGER_ROW_APPLIED);
        m->agreements[k] = (typeof(m->agreements[k])){true, e, c, amount, g, false};
        m->payable[c] -= amount;
        m->debt[e] -= amount;
        m->offsettable[e] -= amount;
        m->offsets_applied++;
    } else {
        m->offsets_refused++;
    }
}

static void op_pay(struct ledger *l, struct model *m, uint64_t *s)
{
    int k = (int)(tl_rand(s) % NK), c = (int)(tl_rand(s) % NC);
    int64_t amount = (int64_t)(tl_rand(s) % 20000000) + 1;
    if (m->payments[k].used && tl_rand(s) % 2 == 0) {
        c = m->payments[k].c;
        amount = m->payments[k].amount;
    }
    char ref[8], cen[8];
    snprintf(ref, sizeof ref, "R%d", k);
    snprintf(cen, sizeof cen, "C%d", c);
    struct ledger_payment p = {cen, amount, "1403/07/01", ref};
    struct ledger_row_result r;
    struct adj_diag diag;
    cr_assert_eq(ledger_pay(l, &p, 1, &r, &diag), ADJ_OK);
    if (m->payments[k].used) {
        bool same = m->payments[k].c == c && m->payments[k].amount == amount;
        cr_assert_eq(r.reason, same ? ADJ_OK : ADJ_E_LEDGER_PAYMENT_CONFLICT);
        return;
    }
    enum adj_err want = !m->center_known[c]      ? ADJ_E_LEDGER_UNKNOWN_CENTER
                        : amount > m->payable[c] ? ADJ_E_LEDGER_OVER_PAYABLE
                                                 : ADJ_OK;
    cr_assert_eq(r.reason, want, "%s: got %s", ref, adj_err_name(r.reason));
    if (want == ADJ_OK) {
        m->payments[k] = (typeof(m->payments[k])){true, c, amount, false};
        m->payable[c] -= amount;
        m->bank -= amount;
        m->payments_applied++;
    }
}

/* Entry id of a journal row, found with the stock SQL (as an auditor would). */
static int64_t entry_of(struct ledger *l, const char *sql, const char *key)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(ledger_db(l), sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int64_t id = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return id;
}

static void op_reverse(struct ledger *l, struct model *m, uint64_t *s)
{
    int what = (int)(tl_rand(s) % 3), k = 0;
    char key[16];
    int64_t entry = 0;
    bool already = false;
    enum adj_err want = ADJ_OK;
    if (what == 0 && m->batches > 0) {
        k = (int)(tl_rand(s) % (uint64_t)m->batches);
        snprintf(key, sizeof key, "P%d", k);
        entry = entry_of(l, "SELECT entry_id FROM batch WHERE batch_id = ?1", key);
        already = m->batch_reversed[k];
        struct tl_batch b;
        tl_batch_make(&b, key, 1000 + (uint64_t)k, 1 + (size_t)k % NC, 3, 5);
        for (size_t i = 0; !already && i < b.b.center_count; i++) {
            if (m->payable[i] < b.centers[i].approved_insurer_rials ||
                m->daroyar[i] < b.centers[i].approved_daroyar_rials) {
                want = ADJ_E_LEDGER_OVER_PAYABLE;
            }
        }
        tl_batch_free(&b);
    } else if (what == 1) {
        k = (int)(tl_rand(s) % NK);
        if (!m->agreements[k].used) {
            return;
        }
        snprintf(key, sizeof key, "A%d", k);
        entry = entry_of(l, "SELECT entry_id FROM offset_agreement WHERE agreement = ?1", key);
        already = m->agreements[k].reversed;
    } else {
        k = (int)(tl_rand(s) % NK);
        if (!m->payments[k].used) {
            return;
        }
        snprintf(key, sizeof key, "R%d", k);
        entry = entry_of(l, "SELECT entry_id FROM payment WHERE ref = ?1", key);
        already = m->payments[k].reversed;
    }
    if (entry == 0) {
        return;
    }
    struct ledger_row_result r;
    int64_t rev = 0;
    struct adj_diag diag;
    cr_assert_eq(ledger_reverse(l, entry, "1403/09/01", "property test", &r, &rev, &diag), ADJ_OK);
    if (already) {
        cr_assert_eq(r.outcome, LEDGER_ROW_ALREADY, "%s: %s", key, r.detail);
        return;
    }
    cr_assert_eq(r.reason, want, "reverse %s: got %s (%s)", key, adj_err_name(r.reason), r.detail);
    if (want != ADJ_OK) {
        return;
    }
    m->reversals++;
    if (what == 0) {
        struct tl_batch b;
        tl_batch_make(&b, key, 1000 + (uint64_t)k, 1 + (size_t)k % NC, 3, 5);
        for (size_t i = 0; i < b.b.center_count; i++) {
            m->payable[i] -= b.centers[i].approved_insurer_rials;
            m->daroyar[i] -= b.centers[i].approved_daroyar_rials;
            m->treatment -= b.centers[i].approved_insurer_rials;
            m->subsidy -= b.centers[i].approved_daroyar_rials;
        }
        tl_batch_free(&b);
        m->batch_reversed[k] = true;
    } else if (what == 1) {
        m->agreements[k].reversed = true;
        m->payable[m->agreements[k].c] += m->agreements[k].amount;
        m->debt[m->agreements[k].e] += m->agreements[k].amount;
        m->offsettable[m->agreements[k].e] += m->agreements[k].amount;
    } else {
        m->payments[k].reversed = true;
        m->payable[m->payments[k].c] += m->payments[k].amount;
        m->bank += m->payments[k].amount;
    }
}

static char *run_sequence(const char *path, uint64_t seed, int ops)
{
    struct ledger *l = tl_open(path);
    /* Durability is tested in test_ledger_crash; here fsyncs only cost time. */
    cr_assert_eq(sqlite3_exec(ledger_db(l), "PRAGMA synchronous = OFF", NULL, NULL, NULL), SQLITE_OK);
    struct model *m = calloc(1, sizeof *m);
    uint64_t s = seed;
    for (int i = 0; i < ops; i++) {
        switch (tl_rand(&s) % 5) {
        case 0: op_post(l, m, &s); break;
        case 4: op_reverse(l, m, &s); break;
        case 1: op_debt(l, m, &s); break;
        case 2: op_offset(l, m, &s); break;
        default: op_pay(l, m, &s); break;
        }
        check(l, m);
    }
    char *dump = tl_dump(l);
    ledger_close(l);
    /* The sequence must exercise both sides of each rule, or it proves little. */
    cr_assert_gt(m->offsets_applied, 0);
    cr_assert_gt(m->offsets_refused, 0);
    cr_assert_gt(m->payments_applied, 0);
    cr_assert_gt(m->reversals, 0);
    cr_log_info("seed %llu: %d batches, %d offsets applied, %d refused, %d payments, "
                "%d reversals", (unsigned long long)seed, m->batches, m->offsets_applied,
                m->offsets_refused, m->payments_applied, m->reversals);
    free(m);
    return dump;
}

Test(ledger_prop, random_sequences_keep_every_invariant_and_replay_identically)
{
    char *dir = tl_tmpdir();
    for (uint64_t seed = 1; seed <= 4; seed++) {
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/a%llu.db", dir, (unsigned long long)seed);
        snprintf(b, sizeof b, "%s/b%llu.db", dir, (unsigned long long)seed);
        char *da = run_sequence(a, seed, 150);
        char *db = run_sequence(b, seed, 150);
        cr_assert_str_eq(da, db, "seed %llu replays differently", (unsigned long long)seed);
        free(da);
        free(db);
    }
    tl_rmtree(dir);
    free(dir);
}
