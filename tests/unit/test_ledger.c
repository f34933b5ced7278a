/*
 * Ledger behaviour: posting and idempotency, offsets and their refusals,
 * payments, the database's own double-entry and append-only enforcement,
 * verify catching tampering, money at the int64 edges, the settled-id
 * loader and the run's totals files.
 */
#include <sqlite3.h>

#include "core/base/limits.h"
#include "test_ledger_util.h"

static char *dir;
static char path[600];

static void setup(void)
{
    dir = tl_tmpdir();
    snprintf(path, sizeof path, "%s/l.db", dir);
}

static void teardown(void)
{
    tl_rmtree(dir);
    free(dir);
}

TestSuite(ledger, .init = setup, .fini = teardown);

static enum ledger_post_outcome post(struct ledger *l, const struct ledger_batch *b,
                                     enum adj_err expect)
{
    enum ledger_post_outcome out = LEDGER_CONFLICT;
    struct adj_diag diag;
    enum adj_err err = ledger_post_batch(l, b, &out, &diag);
    cr_assert_eq(err, expect, "post %s: got %s (%s)", b->batch_id, adj_err_name(err), diag.detail);
    return out;
}

struct bal_ctx {
    const char *account;
    int64_t balance;
    bool found;
    int64_t debit_positive_sum;
};

static void on_balance(void *ctx, const struct ledger_balance_row *r)
{
    struct bal_ctx *c = ctx;
    if (strcmp(r->account, c->account) == 0) {
        c->balance = r->balance;
        c->found = true;
    }
    c->debit_positive_sum += r->normal_side == 'D' ? r->balance : -r->balance;
}

static int64_t balance(struct ledger *l, const char *account)
{
    struct bal_ctx c = {account, 0, false, 0};
    struct adj_diag diag;
    cr_assert_eq(ledger_balances(l, &c, on_balance, &diag), ADJ_OK);
    cr_assert_eq(c.debit_positive_sum, 0, "trial balance must be zero");
    return c.found ? c.balance : 0;
}

Test(ledger, post_then_same_batch_is_a_noop)
{
    struct ledger *l = tl_open(path);
    struct tl_batch b;
    tl_batch_make(&b, "B1", 1, 4, 10, 20);
    cr_assert_eq(post(l, &b.b, ADJ_OK), LEDGER_POSTED);
    int64_t c0 = b.centers[0].approved_insurer_rials;
    cr_assert_eq(balance(l, "center:C0:payable"), c0);
    cr_assert_eq(balance(l, "center:C1:daroyar"), b.centers[1].approved_daroyar_rials);
    int64_t sum = 0;
    for (size_t i = 0; i < 4; i++) {
        sum += b.centers[i].approved_insurer_rials;
    }
    cr_assert_eq(balance(l, "sso:treatment"), sum);
    char *before = tl_dump(l);
    cr_assert_eq(post(l, &b.b, ADJ_OK), LEDGER_ALREADY_POSTED);
    /* Doc ids in another order are the same settled set. */
    b.b.doc_ids = "B1-D9\0B1-D8\0B1-D7\0B1-D6\0B1-D5\0B1-D4\0B1-D3\0B1-D2\0B1-D1\0B1-D0";
    cr_assert_eq(post(l, &b.b, ADJ_OK), LEDGER_ALREADY_POSTED);
    char *after = tl_dump(l);
    cr_assert_str_eq(before, after);
    tl_verify_ok(l);
    free(before);
    free(after);
    tl_batch_free(&b);
    ledger_close(l);
}

Test(ledger, same_batch_id_other_content_is_refused)
{
    struct ledger *l = tl_open(path);
    struct tl_batch b;
    tl_batch_make(&b, "B1", 1, 3, 5, 5);
    post(l, &b.b, ADJ_OK);
    char *before = tl_dump(l);
    /* Same file hash, other totals (re-adjudicated under other rules). */
    b.centers[2].approved_insurer_rials += 1;
    cr_assert_eq(post(l, &b.b, ADJ_E_LEDGER_CONFLICT), LEDGER_CONFLICT);
    b.centers[2].approved_insurer_rials -= 1;
    /* Other file hash. */
    b.hash[0] = b.hash[0] == 'a' ? 'b' : 'a';
    cr_assert_eq(post(l, &b.b, ADJ_E_LEDGER_CONFLICT), LEDGER_CONFLICT);
    b.hash[0] = b.hash[0] == 'a' ? 'b' : 'a';
    /* Other settled pack ids. */
    b.packs[0] ^= 1;
    cr_assert_eq(post(l, &b.b, ADJ_E_LEDGER_CONFLICT), LEDGER_CONFLICT);
    char *after = tl_dump(l);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
    tl_batch_free(&b);
    ledger_close(l);
}

Test(ledger, malformed_batches_are_refused)
{
    struct ledger *l = tl_open(path);
    struct tl_batch b;
    tl_batch_make(&b, "B1", 1, 3, 5, 5);
    struct ledger_batch bad = b.b;
    bad.content_hash_hex = "XYZ";
    post(l, &bad, ADJ_E_LEDGER_INPUT);
    bad = b.b;
    bad.period = "1403/13";
    post(l, &bad, ADJ_E_LEDGER_INPUT);
    bad = b.b;
    bad.doc_count = 4; /* 5 ids in the bytes */
    post(l, &bad, ADJ_E_LEDGER_INPUT);
    bad = b.b;
    bad.batch_id = "";
    post(l, &bad, ADJ_E_LEDGER_INPUT);
    bad = b.b;
    bad.doc_ids = "D1\0D2\0D1\0D3\0D4";
    bad.doc_ids_bytes = 15;
    post(l, &bad, ADJ_E_LEDGER_INPUT); /* a doc id settled twice */
    b.packs[3] = b.packs[1];
    post(l, &b.b, ADJ_E_LEDGER_INPUT); /* a pack id settled twice */
    b.packs[3] = b.packs[1] + 1;
    snprintf(b.centers[1].center, sizeof b.centers[1].center, "C0"); /* duplicate center */
    post(l, &b.b, ADJ_E_LEDGER_INPUT);
    snprintf(b.centers[1].center, sizeof b.centers[1].center, "C1");
    snprintf(b.centers[1].sector, sizeof b.centers[1].sector, "gov");
    post(l, &b.b, ADJ_E_LEDGER_INPUT);
    snprintf(b.centers[1].sector, sizeof b.centers[1].sector, "GOV");
    b.centers[0].approved_daroyar_rials = -1;
    post(l, &b.b, ADJ_E_LEDGER_AMOUNT);
    b.centers[0].approved_daroyar_rials = 0;
    cr_assert_eq(post(l, &b.b, ADJ_OK), LEDGER_POSTED);
    tl_verify_ok(l);
    tl_batch_free(&b);
    ledger_close(l);
}

Test(ledger, money_near_int64_limits_is_refused_not_wrapped)
{
    struct ledger *l = tl_open(path);
    struct tl_batch b;
    tl_batch_make(&b, "B1", 1, 600, 0, 0);
    b.centers[0].approved_insurer_rials = ADJ_RIAL_MAX + 1;
    post(l, &b.b, ADJ_E_LEDGER_AMOUNT);
    b.centers[0].approved_insurer_rials = INT64_MAX;
    post(l, &b.b, ADJ_E_LEDGER_AMOUNT);
    for (size_t i = 0; i < 600; i++) {
        b.centers[i].approved_insurer_rials = ADJ_RIAL_MAX;
        b.centers[i].approved_daroyar_rials = 0;
    }
    /* 600 * 9e15 = 5.4e18 fits int64. */
    cr_assert_eq(post(l, &b.b, ADJ_OK), LEDGER_POSTED);
    cr_assert_eq(balance(l, "sso:treatment"), 600 * ADJ_RIAL_MAX);
    char *before = tl_dump(l);
    /* A second one would take sso:treatment to 1.08e19: refused, unchanged. */
    struct tl_batch b2;
    tl_batch_make(&b2, "B2", 2, 600, 0, 0);
    for (size_t i = 0; i < 600; i++) {
        b2.centers[i].approved_insurer_rials = ADJ_RIAL_MAX;
    }
    post(l, &b2.b, ADJ_E_OVERFLOW);
    /* 1100 centers at 9e15 overflow the batch's own total. */
    struct tl_batch b3;
    tl_batch_make(&b3, "B3", 3, 1100, 0, 0);
    for (size_t i = 0; i < 1100; i++) {
        b3.centers[i].approved_insurer_rials = ADJ_RIAL_MAX;
    }
    post(l, &b3.b, ADJ_E_OVERFLOW);
    char *after = tl_dump(l);
    cr_assert_str_eq(before, after);
    tl_verify_ok(l);
    /* Offsets and payments of absurd amounts are refused per row. */
    struct ledger_payment pay[2] = {{"C0", INT64_MAX, "1403/06/01", "P1"},
                                    {"C0", ADJ_RIAL_MAX + 1, "1403/06/01", "P2"}};
    struct ledger_row_result res[2];
    struct adj_diag diag;
    cr_assert_eq(ledger_pay(l, pay, 2, res, &diag), ADJ_OK);
    cr_assert_eq(res[0].reason, ADJ_E_LEDGER_AMOUNT);
    cr_assert_eq(res[1].reason, ADJ_E_LEDGER_AMOUNT);
    struct ledger_offset off = {"A1", "E1", "C0", INT64_MIN, "G", "1403/06/01"};
    cr_assert_eq(ledger_apply_offsets(l, &off, 1, res, &diag), ADJ_OK);
    cr_assert_eq(res[0].reason, ADJ_E_LEDGER_AMOUNT);
    struct ledger_debt debt = {"E1", "W1", "1390/01", -5, true};
    cr_assert_eq(ledger_import_debts(l, &debt, 1, res, &diag), ADJ_E_LEDGER_INPUT);
    free(before);
    free(after);
    tl_batch_free(&b);
    tl_batch_free(&b2);
    tl_batch_free(&b3);
    ledger_close(l);
}

/* Centers C0 GOV, C1 UNI, C2 PRV, C3 CHR, C4 PUB, C5 SSO. */
static void seed_book(struct ledger *l, struct tl_batch *b)
{
    tl_batch_make(b, "B1", 7, 6, 3, 3);
    for (size_t i = 0; i < 6; i++) {
        b->centers[i].approved_insurer_rials = 1000000;
        b->centers[i].approved_daroyar_rials = 500000;
    }
    post(l, &b->b, ADJ_OK);
    struct ledger_debt debts[] = {
        {"E1", "W1", "1395/12", 300000, true},  /* offsettable */
        {"E1", "W2", "1394/01", 200000, true},  /* offsettable, older */
        {"E1", "W3", "1396/01", 900000, true},  /* 1396: not before 1396 */
        {"E2", "W1", "1390/05", 800000, false}, /* not hard to collect */
    };
    struct ledger_row_result res[4];
    struct adj_diag diag;
    cr_assert_eq(ledger_import_debts(l, debts, 4, res, &diag), ADJ_OK, "%s", diag.detail);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(res[i].outcome, LEDGER_ROW_APPLIED);
    }
}

Test(ledger, offsets_refused_with_reasons_and_applied_all_or_nothing)
{
    struct ledger *l = tl_open(path);
    struct tl_batch b;
    seed_book(l, &b);
    struct ledger_offset rows[] = {
        {"A1", "E1", "C0", 250000, "GOV-1", "1403/06/10"}, /* ok */
        {"A2", "E1", "C4", 1000, "GOV-2", "1403/06/10"},   /* PUB: sector */
        {"A3", "E1", "C5", 1000, "GOV-3", "1403/06/10"},   /* SSO: sector */
        {"A4", "E1", "C1", 250001, "GOV-4", "1403/06/10"}, /* 250,000 left */
        {"A5", "E2", "C1", 1, "GOV-5", "1403/06/10"},      /* not hard to collect */
        {"A6", "E1", "C9", 1, "GOV-6", "1403/06/10"},      /* unknown center */
        {"A1", "E1", "C0", 250000, "GOV-1", "1403/06/10"}, /* same again: no-op */
        {"A1", "E1", "C0", 250000, "GOV-X", "1403/06/10"}, /* other values */
        {"A7", "E1", "C2", 250000, "GOV-7", "1403/06/31"}, /* ok: the rest */
        {"A8", "E1", "C3", 1, "GOV-8", "1403/07/01"},      /* nothing left */
        {"A9", "E1", "C3", 1, "GOV-9", "1403/02/32"},      /* bad date */
    };
    enum adj_err expect[] = {ADJ_OK,
                             ADJ_E_LEDGER_SECTOR,
                             ADJ_E_LEDGER_SECTOR,
                             ADJ_E_LEDGER_OVER_DEBT,
                             ADJ_E_LEDGER_OVER_DEBT,
                             ADJ_E_LEDGER_UNKNOWN_CENTER,
                             ADJ_OK,
                             ADJ_E_LEDGER_AGREEMENT_CONFLICT,
                             ADJ_OK,
                             ADJ_E_LEDGER_OVER_DEBT,
                             ADJ_E_LEDGER_INPUT};
    size_t n = sizeof rows / sizeof rows[0];
    struct ledger_row_result res[16];
    struct adj_diag diag;
    cr_assert_eq(ledger_apply_offsets(l, rows, n, res, &diag), ADJ_OK);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(res[i].reason, expect[i], "row %zu: %s %s", i, adj_err_name(res[i].reason),
                     res[i].detail);
    }
    cr_assert_eq(res[0].outcome, LEDGER_ROW_APPLIED);
    cr_assert_eq(res[6].outcome, LEDGER_ROW_ALREADY);
    cr_assert_eq(res[8].outcome, LEDGER_ROW_APPLIED);
    cr_assert_eq(balance(l, "center:C0:payable"), 750000);
    cr_assert_eq(balance(l, "center:C2:payable"), 750000);
    /* The Daroyar bucket is never offset. */
    cr_assert_eq(balance(l, "center:C0:daroyar"), 500000);
    cr_assert_eq(balance(l, "employer:E1:debt"), 900000);
    tl_verify_ok(l);
    /* Over the center's payable. */
    struct ledger_debt more = {"E3", "W1", "1380/01", 5000000, true};
    cr_assert_eq(ledger_import_debts(l, &more, 1, res, &diag), ADJ_OK);
    struct ledger_offset big = {"B1", "E3", "C3", 1000001, "G", "1403/06/01"};
    cr_assert_eq(ledger_apply_offsets(l, &big, 1, res, &diag), ADJ_OK);
    cr_assert_eq(res[0].reason, ADJ_E_LEDGER_OVER_PAYABLE);
    big.amount_rials = 1000000;
    cr_assert_eq(ledger_apply_offsets(l, &big, 1, res, &diag), ADJ_OK);
    cr_assert_eq(res[0].outcome, LEDGER_ROW_APPLIED);
    cr_assert_eq(balance(l, "center:C3:payable"), 0);
    tl_verify_ok(l);
    tl_batch_free(&b);
    ledger_close(l);
}

struct report_ctx {
    char rows[8][160];
    size_t n;
};

static void on_report(void *ctx, const struct ledger_offset_report_row *r)
{
    struct report_ctx *c = ctx;
    cr_assert_lt(c->n, 8);
    snprintf(c->rows[c->n++], 160, "%s %s %s %s %s %s %s %lld", r->employer, r->workshop,
             r->debt_period, r->agreement, r->governor_ref, r->date, r->center,
             (long long)r->amount);
}

Test(ledger, clause5_report_allocates_oldest_debt_first)
{
    struct ledger *l = tl_open(path);
    struct tl_batch b;
    seed_book(l, &b);
    struct ledger_offset rows[] = {
        {"A1", "E1", "C0", 350000, "GOV-1", "1403/06/10"},
        {"A2", "E1", "C1", 100000, "GOV-2", "1403/07/01"},
    };
    struct ledger_row_result res[2];
    struct adj_diag diag;
    cr_assert_eq(ledger_apply_offsets(l, rows, 2, res, &diag), ADJ_OK);
    struct report_ctx c = {.n = 0};
    cr_assert_eq(ledger_offset_report(l, "1403/06", &c, on_report, &diag), ADJ_OK);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.rows[0], "E1 W1 1395/12 A1 GOV-1 1403/06/10 C0 150000");
    cr_assert_str_eq(c.rows[1], "E1 W2 1394/01 A1 GOV-1 1403/06/10 C0 200000");
    c.n = 0;
    cr_assert_eq(ledger_offset_report(l, "1403/07", &c, on_report, &diag), ADJ_OK);
    cr_assert_eq(c.n, 1);
    cr_assert_str_eq(c.rows[0], "E1 W1 1395/12 A2 GOV-2 1403/07/01 C1 100000");
    cr_assert_eq(ledger_offset_report(l, "1403-7", &c, on_report, &diag), ADJ_E_MONTH_FORMAT);
    tl_batch_free(&b);
    ledger_close(l);
}

Test(ledger, debts_idempotent_per_key_and_conflicts_refuse_the_file)
{
    struct ledger *l = tl_open(path);
    struct ledger_debt d[] = {{"E1", "W1", "1395/01", 100, true}, {"E1", "W2", "1395/01", 200, true}};
    struct ledger_row_result res[3];
    struct adj_diag diag;
    cr_assert_eq(ledger_import_debts(l, d, 2, res, &diag), ADJ_OK);
    char *before = tl_dump(l);
    cr_assert_eq(ledger_import_debts(l, d, 2, res, &diag), ADJ_OK);
    cr_assert_eq(res[0].outcome, LEDGER_ROW_ALREADY);
    cr_assert_eq(res[1].outcome, LEDGER_ROW_ALREADY);
    struct ledger_debt d2[] = {{"E9", "W1", "1395/01", 5, true}, {"E1", "W2", "1395/01", 201, true}};
    cr_assert_eq(ledger_import_debts(l, d2, 2, res, &diag), ADJ_E_LEDGER_DEBT_CONFLICT);
    cr_assert_eq(res[1].reason, ADJ_E_LEDGER_DEBT_CONFLICT);
    char *after = tl_dump(l); /* E9 was not imported either */
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
    ledger_close(l);
}

Test(ledger, payments_idempotent_and_limited_by_payable)
{
    struct ledger *l = tl_open(path);
    struct tl_batch b;
    seed_book(l, &b);
    struct ledger_payment p[] = {{"C0", 400000, "1403/07/01", "P1"},
                                 {"C0", 600001, "1403/07/01", "P2"},
                                 {"C0", 400000, "1403/07/01", "P1"},
                                 {"C0", 400001, "1403/07/01", "P1"},
                                 {"C0", 600000, "1403/07/02", "P3"}};
    struct ledger_row_result res[5];
    struct adj_diag diag;
    cr_assert_eq(ledger_pay(l, p, 5, res, &diag), ADJ_OK);
    cr_assert_eq(res[0].outcome, LEDGER_ROW_APPLIED);
    cr_assert_eq(res[1].reason, ADJ_E_LEDGER_OVER_PAYABLE);
    cr_assert_eq(res[2].outcome, LEDGER_ROW_ALREADY);
    cr_assert_eq(res[3].reason, ADJ_E_LEDGER_PAYMENT_CONFLICT);
    cr_assert_eq(res[4].outcome, LEDGER_ROW_APPLIED);
    cr_assert_eq(balance(l, "center:C0:payable"), 0);
    cr_assert_eq(balance(l, "sso:bank"), -1000000);
    tl_verify_ok(l);
    tl_batch_free(&b);
    ledger_close(l);
}

static int exec_rc(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) & 0xff;
}

Test(ledger, database_enforces_double_entry_and_append_only)
{
    struct ledger *l = tl_open(path);
    struct tl_batch b;
    seed_book(l, &b);
    sqlite3 *db = ledger_db(l);
    char *before = tl_dump(l);
    /* Unbalanced entry. */
    cr_assert_eq(exec_rc(db, "BEGIN IMMEDIATE;"
                             "INSERT INTO posting(entry_id, account_id, debit, credit) VALUES (99, 1, 5, 0);"
                             "INSERT INTO posting(entry_id, account_id, debit, credit) VALUES (99, 2, 0, 4);"
                             "INSERT INTO entry(id, kind, ref, value_date, amount, memo)"
                             " VALUES (99, 'batch', 'x', '1403/01', 5, '')"),
                 SQLITE_CONSTRAINT);
    cr_assert_eq(exec_rc(db, "ROLLBACK"), SQLITE_OK);
    /* A single posting. */
    cr_assert_eq(exec_rc(db, "BEGIN IMMEDIATE;"
                             "INSERT INTO posting(entry_id, account_id, debit, credit) VALUES (99, 1, 5, 0);"
                             "INSERT INTO entry(id, kind, ref, value_date, amount, memo)"
                             " VALUES (99, 'batch', 'x', '1403/01', 5, '')"),
                 SQLITE_CONSTRAINT);
    cr_assert_eq(exec_rc(db, "ROLLBACK"), SQLITE_OK);
    /* A posting without its entry fails at commit (deferred key). */
    cr_assert_eq(exec_rc(db, "BEGIN IMMEDIATE;"
                             "INSERT INTO posting(entry_id, account_id, debit, credit) VALUES (99, 1, 5, 0);"
                             "COMMIT"),
                 SQLITE_CONSTRAINT);
    (void)exec_rc(db, "ROLLBACK");
    /* Sealed entries take no more postings; journal rows never change. */
    cr_assert_eq(exec_rc(db, "INSERT INTO posting(entry_id, account_id, debit, credit) VALUES (1, 1, 5, 0)"),
                 SQLITE_CONSTRAINT);
    cr_assert_eq(exec_rc(db, "UPDATE posting SET debit = debit + 1 WHERE id = 1"), SQLITE_CONSTRAINT);
    cr_assert_eq(exec_rc(db, "DELETE FROM entry WHERE id = 1"), SQLITE_CONSTRAINT);
    cr_assert_eq(exec_rc(db, "DELETE FROM settled_packs"), SQLITE_CONSTRAINT);
    cr_assert_eq(exec_rc(db, "UPDATE batch SET content_hash = content_hash"), SQLITE_CONSTRAINT);
    cr_assert_eq(exec_rc(db, "UPDATE debt SET amount = 1"), SQLITE_CONSTRAINT);
    cr_assert_eq(exec_rc(db, "DELETE FROM account"), SQLITE_CONSTRAINT);
    cr_assert_eq(exec_rc(db, "UPDATE account SET name = 'x' WHERE id = 1"), SQLITE_CONSTRAINT);
    /* A payable can never go past zero, even through the cache. */
    cr_assert_eq(exec_rc(db, "UPDATE account SET balance = 1 WHERE name = 'center:C0:payable'"),
                 SQLITE_CONSTRAINT);
    char *after = tl_dump(l);
    cr_assert_str_eq(before, after);
    tl_verify_ok(l);
    /* Tampering the cache within its limit is caught by verify. */
    cr_assert_eq(exec_rc(db, "UPDATE account SET balance = balance + 1 WHERE name = 'sso:treatment'"),
                 SQLITE_OK);
    uint64_t problems = 0;
    struct adj_diag diag;
    cr_assert_eq(ledger_verify(l, NULL, &problems, &diag), ADJ_E_LEDGER_VERIFY);
    cr_assert_eq(problems, 1);
    free(before);
    free(after);
    tl_batch_free(&b);
    ledger_close(l);
}

Test(ledger, open_refuses_other_files_and_newer_schemas)
{
    struct ledger *l = NULL;
    struct adj_diag diag;
    cr_assert_eq(ledger_open(path, false, &l, &diag), ADJ_E_OPEN);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(exec_rc(db, "CREATE TABLE t(x)"), SQLITE_OK);
    sqlite3_close(db);
    cr_assert_eq(ledger_open(path, true, &l, &diag), ADJ_E_LEDGER_NOT_LEDGER);
    char other[700];
    snprintf(other, sizeof other, "%s/text.db", dir);
    FILE *f = fopen(other, "w");
    fputs("this is not a database, just text long enough to be read as a header......"
          "................................................................",
          f);
    fclose(f);
    cr_assert_eq(ledger_open(other, false, &l, &diag), ADJ_E_LEDGER_NOT_LEDGER);
    snprintf(other, sizeof other, "%s/new.db", dir);
    l = tl_open(other);
    cr_assert_eq(exec_rc(ledger_db(l), "PRAGMA user_version = 99"), SQLITE_OK);
    ledger_close(l);
    cr_assert_eq(ledger_open(other, false, &l, &diag), ADJ_E_LEDGER_SCHEMA_NEWER);
    /* Re-opening a current ledger changes nothing. */
    snprintf(other, sizeof other, "%s/cur.db", dir);
    l = tl_open(other);
    char *a = tl_dump(l);
    ledger_close(l);
    l = tl_open(other);
    char *c = tl_dump(l);
    cr_assert_str_eq(a, c);
    cr_assert_eq(exec_rc(ledger_db(l), "PRAGMA journal_mode"), SQLITE_OK);
    free(a);
    free(c);
    ledger_close(l);
}

struct load_ctx {
    size_t docs, packs, doc_chunks, pack_chunks;
    uint64_t doc_hash_sum, pack_sum;
};

static void on_docs(void *ctx, const char *ids, size_t bytes, size_t count)
{
    struct load_ctx *c = ctx;
    size_t seen = 0;
    for (size_t i = 0; i < bytes; i += strlen(ids + i) + 1) {
        for (const char *p = ids + i; *p; p++) {
            c->doc_hash_sum += (unsigned char)*p;
        }
        seen++;
    }
    cr_assert_eq(seen, count);
    c->docs += count;
    c->doc_chunks++;
}

static void on_packs(void *ctx, const uint64_t *keys, size_t count)
{
    struct load_ctx *c = ctx;
    for (size_t i = 0; i < count; i++) {
        cr_assert(i == 0 || keys[i] > keys[i - 1], "sorted within a chunk");
        c->pack_sum += keys[i];
    }
    c->packs += count;
    c->pack_chunks++;
}

Test(ledger, load_settled_returns_every_id)
{
    struct ledger *l = tl_open(path);
    struct tl_batch a, b;
    tl_batch_make(&a, "B1", 11, 3, 1000, (size_t)LEDGER_PACK_CHUNK_KEYS + 10);
    tl_batch_make(&b, "B2", 12, 3, 7, 9);
    post(l, &a.b, ADJ_OK);
    post(l, &b.b, ADJ_OK);
    struct load_ctx expect = {0}, got = {0};
    on_docs(&expect, a.docs, a.b.doc_ids_bytes, 1000);
    on_docs(&expect, b.docs, b.b.doc_ids_bytes, 7);
    for (size_t i = 0; i < a.b.pack_count; i++) {
        expect.pack_sum += a.packs[i];
    }
    for (size_t i = 0; i < b.b.pack_count; i++) {
        expect.pack_sum += b.packs[i];
    }
    struct adj_diag diag;
    cr_assert_eq(ledger_load_settled(l, &got, on_docs, on_packs, &diag), ADJ_OK);
    cr_assert_eq(got.docs, 1007);
    cr_assert_eq(got.packs, a.b.pack_count + 9);
    cr_assert_eq(got.pack_chunks, 3); /* 1 Mi + 10 keys make two chunks */
    cr_assert_eq(got.doc_hash_sum, expect.doc_hash_sum);
    cr_assert_eq(got.pack_sum, expect.pack_sum);
    tl_verify_ok(l);
    tl_batch_free(&a);
    tl_batch_free(&b);
    ledger_close(l);
}

struct outdir_ctx {
    size_t posted, already, unverified;
};

static void on_batch(void *ctx, const char *batch_id, enum ledger_post_outcome outcome,
                     enum adj_err err, const struct adj_diag *diag)
{
    (void)batch_id;
    (void)diag;
    struct outdir_ctx *c = ctx;
    if (err == ADJ_E_LEDGER_UNVERIFIED) {
        c->unverified++;
    } else {
        cr_assert_eq(err, ADJ_OK);
        c->posted += outcome == LEDGER_POSTED;
        c->already += outcome == LEDGER_ALREADY_POSTED;
    }
}

Test(ledger, totals_files_round_trip_and_unverified_is_refused)
{
    struct tl_batch a, b;
    tl_batch_make(&a, "B1", 21, 5, 40, 100);
    tl_batch_make(&b, "B2", 22, 4, 3, 0);
    struct ledger_batch both[2] = {a.b, b.b};
    bool verified[2] = {true, false};
    struct adj_diag diag;
    cr_assert_eq(ledger_totals_write(dir, both, verified, 2, &diag), ADJ_OK);
    struct ledger *l = tl_open(path);
    struct outdir_ctx c = {0};
    size_t refused = 0;
    cr_assert_eq(ledger_post_outdir(l, dir, &c, on_batch, &refused, &diag), ADJ_OK, "%s",
                 diag.detail);
    cr_assert_eq(c.posted, 1);
    cr_assert_eq(c.unverified, 1);
    cr_assert_eq(refused, 1);
    /* The file posting equals the API posting. */
    char *via_files = tl_dump(l);
    ledger_close(l);
    char p2[700];
    snprintf(p2, sizeof p2, "%s/api.db", dir);
    l = tl_open(p2);
    post(l, &a.b, ADJ_OK);
    char *via_api = tl_dump(l);
    cr_assert_str_eq(via_files, via_api);
    ledger_close(l);
    /* Truncated output is refused before anything is posted. */
    char tp[700];
    snprintf(tp, sizeof tp, "%s/totals.tsv", dir);
    FILE *f = fopen(tp, "r+");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    cr_assert_eq(truncate(tp, size - 4), 0);
    l = tl_open(p2);
    cr_assert_eq(ledger_post_outdir(l, dir, &c, on_batch, &refused, &diag), ADJ_E_LEDGER_INPUT);
    ledger_close(l);
    free(via_files);
    free(via_api);
    tl_batch_free(&a);
    tl_batch_free(&b);
}

static int64_t reverse(struct ledger *l, int64_t entry, const char *reason,
                       enum ledger_row_outcome outcome, enum adj_err reason_code)
{
    struct ledger_row_result r;
    int64_t rev = 0;
    struct adj_diag diag;
    cr_assert_eq(ledger_reverse(l, entry, "1403/08/01", reason, &r, &rev, &diag), ADJ_OK, "%s",
                 diag.detail);
    cr_assert_eq(r.outcome, outcome, "entry %lld: %s", (long long)entry, r.detail);
    cr_assert_eq(r.reason, reason_code, "entry %lld: %s %s", (long long)entry,
                 adj_err_name(r.reason), r.detail);
    return rev;
}

struct entry_find {
    const char *kind, *ref;
    int64_t id;
};

static void on_stmt_row(void *ctx, const struct ledger_statement_row *r)
{
    struct entry_find *f = ctx;
    if (strcmp(r->kind, f->kind) == 0 && strcmp(r->ref, f->ref) == 0) {
        f->id = r->entry_id;
    }
}

static int64_t find_entry(struct ledger *l, const char *account, const char *kind, const char *ref)
{
    struct entry_find f = {kind, ref, 0};
    struct adj_diag diag;
    cr_assert_eq(ledger_statement(l, account, &f, on_stmt_row, &diag), ADJ_OK);
    cr_assert_gt(f.id, 0, "no %s %s on %s", kind, ref, account);
    return f.id;
}

Test(ledger, reversals_correct_offsets_payments_debts_and_batches)
{
    struct ledger *l = tl_open(path);
    struct tl_batch b;
    seed_book(l, &b);
    struct ledger_offset off = {"A1", "E1", "C0", 500000, "GOV-1", "1403/06/10"};
    struct ledger_payment pay = {"C1", 1000000, "1403/07/01", "P1"};
    struct ledger_row_result res[2];
    struct adj_diag diag;
    cr_assert_eq(ledger_apply_offsets(l, &off, 1, res, &diag), ADJ_OK);
    cr_assert_eq(res[0].outcome, LEDGER_ROW_APPLIED);
    cr_assert_eq(ledger_pay(l, &pay, 1, res, &diag), ADJ_OK);
    cr_assert_eq(balance(l, "employer:E1:debt"), 900000);

    /* Unknown entry, and a batch whose payable was paid out. */
    reverse(l, 999, "x", LEDGER_ROW_REFUSED, ADJ_E_LEDGER_UNKNOWN_ENTRY);
    int64_t batch_entry = find_entry(l, "sso:treatment", "batch", "B1");
    reverse(l, batch_entry, "wrong rules", LEDGER_ROW_REFUSED, ADJ_E_LEDGER_OVER_PAYABLE);
    /* A debt with an offset against it. */
    int64_t debt_entry = find_entry(l, "employer:E1:debt", "debt", "E1/W1/1395/12");
    reverse(l, debt_entry, "not a debt", LEDGER_ROW_REFUSED, ADJ_E_LEDGER_REVERSAL);

    /* Reverse the offset: both sides restored, the debt is offsettable again,
     * the clause 5 report no longer shows it. */
    int64_t off_entry = find_entry(l, "employer:E1:debt", "offset", "A1");
    int64_t rev = reverse(l, off_entry, "governor withdrew", LEDGER_ROW_APPLIED, ADJ_OK);
    cr_assert_eq(balance(l, "center:C0:payable"), 1000000);
    cr_assert_eq(balance(l, "employer:E1:debt"), 1400000);
    reverse(l, off_entry, "governor withdrew", LEDGER_ROW_ALREADY, ADJ_OK);
    reverse(l, off_entry, "other reason", LEDGER_ROW_REFUSED, ADJ_E_LEDGER_REVERSAL_CONFLICT);
    reverse(l, rev, "undo the undo", LEDGER_ROW_REFUSED, ADJ_E_LEDGER_REVERSAL);
    struct report_ctx c = {.n = 0};
    cr_assert_eq(ledger_offset_report(l, "1403/06", &c, on_report, &diag), ADJ_OK);
    cr_assert_eq(c.n, 0);
    struct ledger_offset again = {"A2", "E1", "C1", 500000, "GOV-2", "1403/08/02"};
    cr_assert_eq(ledger_apply_offsets(l, &again, 1, res, &diag), ADJ_OK);
    cr_assert_eq(res[0].outcome, LEDGER_ROW_REFUSED); /* C1 was paid out */
    again.center = "C2";
    cr_assert_eq(ledger_apply_offsets(l, &again, 1, res, &diag), ADJ_OK);
    cr_assert_eq(res[0].outcome, LEDGER_ROW_APPLIED, "%s", res[0].detail);

    /* Reverse the payment, then the batch: the centers owe nothing, the
     * settled ids are released, the batch_id stays spent. */
    reverse(l, find_entry(l, "sso:bank", "payment", "P1"), "bounced", LEDGER_ROW_APPLIED, ADJ_OK);
    reverse(l, find_entry(l, "employer:E1:debt", "offset", "A2"), "withdrawn", LEDGER_ROW_APPLIED,
            ADJ_OK);
    reverse(l, batch_entry, "wrong rules", LEDGER_ROW_APPLIED, ADJ_OK);
    cr_assert_eq(balance(l, "center:C0:payable"), 0);
    cr_assert_eq(balance(l, "center:C5:daroyar"), 0);
    cr_assert_eq(balance(l, "sso:treatment"), 0);
    struct load_ctx got = {0};
    cr_assert_eq(ledger_load_settled(l, &got, on_docs, on_packs, &diag), ADJ_OK);
    cr_assert_eq(got.docs, 0);
    cr_assert_eq(got.packs, 0);
    cr_assert_eq(post(l, &b.b, ADJ_OK), LEDGER_ALREADY_POSTED);
    /* Now the debt has no live offsets and can be reversed. */
    reverse(l, debt_entry, "not a debt", LEDGER_ROW_APPLIED, ADJ_OK);
    cr_assert_eq(balance(l, "employer:E1:debt"), 1100000);
    tl_verify_ok(l);
    /* Reversals are journal rows too. */
    cr_assert_eq(exec_rc(ledger_db(l), "DELETE FROM reversal"), SQLITE_CONSTRAINT);
    tl_batch_free(&b);
    ledger_close(l);
}

static void write_all(const char *file, const char *data, size_t len)
{
    FILE *f = fopen(file, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *read_all(const char *file, size_t *len)
{
    FILE *f = fopen(file, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(*len + 1);
    cr_assert_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

Test(ledger, mutated_totals_files_never_crash_or_corrupt)
{
    struct tl_batch a, b;
    tl_batch_make(&a, "B1", 51, 4, 6, 5);
    tl_batch_make(&b, "B2", 52, 3, 4, 3);
    struct ledger_batch both[2] = {a.b, b.b};
    bool verified[2] = {true, true};
    struct adj_diag diag;
    cr_assert_eq(ledger_totals_write(dir, both, verified, 2, &diag), ADJ_OK);
    const char *names[3] = {"totals.tsv", "settled_docs.txt", "settled_packs.u64"};
    char files[3][700];
    char *orig[3];
    size_t len[3];
    for (int i = 0; i < 3; i++) {
        snprintf(files[i], sizeof files[i], "%s/%s", dir, names[i]);
        orig[i] = read_all(files[i], &len[i]);
    }
    struct ledger *l = tl_open(path);
    /* Synchronous writes are not under test here. */
    cr_assert_eq(exec_rc(ledger_db(l), "PRAGMA synchronous = OFF"), SQLITE_OK);
    uint64_t s = 99;
    size_t posted = 0, refused_files = 0;
    static const char noise[] = "\t\n0-9#xZ\xd9\xa1\xff";
    for (int round = 0; round < 400; round++) {
        int f = (int)(tl_rand(&s) % 3);
        char *m = malloc(len[f] + 8);
        memcpy(m, orig[f], len[f]);
        size_t n = len[f];
        int edits = 1 + (int)(tl_rand(&s) % 3);
        for (int e = 0; e < edits && n > 0; e++) {
            size_t at = (size_t)(tl_rand(&s) % n);
            switch (tl_rand(&s) % 3) {
            case 0: m[at] = noise[tl_rand(&s) % (sizeof noise - 1)]; break;
            case 1: memmove(m + at, m + at + 1, n - at - 1); n--; break; /* delete */
            default: n = at; break;                                      /* truncate */
            }
        }
        write_all(files[f], m, n);
        free(m);
        struct outdir_ctx c = {0};
        size_t refused = 0;
        enum adj_err err = ledger_post_outdir(l, dir, &c, NULL, &refused, &diag);
        cr_assert(err == ADJ_OK || err == ADJ_E_LEDGER_INPUT, "round %d: %s", round,
                  adj_err_name(err));
        refused_files += err != ADJ_OK;
        posted += err == ADJ_OK;
        write_all(files[f], orig[f], len[f]);
    }
    cr_assert_gt(refused_files, 100);
    tl_verify_ok(l);
    /* A mutation that keeps the format (a changed digit) posts a batch with
     * other totals, after which the intact batch is a conflict: so the
     * intact files are checked against a fresh ledger. */
    char fresh[700];
    snprintf(fresh, sizeof fresh, "%s/fresh.db", dir);
    struct ledger *l2 = tl_open(fresh);
    struct outdir_ctx c = {0};
    size_t refused = 0;
    cr_assert_eq(ledger_post_outdir(l2, dir, &c, on_batch, &refused, &diag), ADJ_OK);
    cr_assert_eq(c.posted, 2);
    ledger_close(l2);
    cr_log_info("%zu mutated outputs refused, %zu accepted (refused per batch or posted)",
                refused_files, posted);
    for (int i = 0; i < 3; i++) {
        free(orig[i]);
    }
    tl_verify_ok(l);
    ledger_close(l);
    tl_batch_free(&a);
    tl_batch_free(&b);
}
