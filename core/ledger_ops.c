/*
 * Ledger operations after posting: importing employer debts, applying
 * offset agreements (circular 1000/98/10704), paying centers, and the read
 * side (balances, statements, the clause 5 offset report).
 *
 * Offsets and payments run in one write transaction per file. Each row is
 * all or nothing: every reason to refuse a row is decided by reads before
 * the row's first write, so a refused row writes nothing, and any failure
 * once writing has begun (disk full, I/O, overflow) rolls back the whole
 * file. A crash leaves the book before or after the whole file; rows are
 * idempotent, so re-running the file finishes the job. One transaction per
 * file means one fsync per file, not per row, and no per-row savepoint
 * (whose sub-journal copied every touched 16 KiB page: 3x slower).
 */
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/assert.h"
#include "core/base/jdate.h"
#include "core/base/money.h"
#include "core/ledger.h"
#include "core/ledger_impl.h"

/* The circular: debts "related to before 1396" are offsettable. */
#define LG_OFFSETTABLE_BEFORE_YEAR 1396

static void lg_row_set(struct ledger_row_result *r, enum ledger_row_outcome outcome,
                       enum adj_err reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void lg_row_set(struct ledger_row_result *r, enum ledger_row_outcome outcome,
                       enum adj_err reason, const char *fmt, ...)
{
    r->outcome = outcome;
    r->reason = reason;
    r->detail[0] = '\0';
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->detail, sizeof r->detail, fmt, ap);
        va_end(ap);
    }
}

static bool lg_sector_offsettable(const char *sector)
{
    return strcmp(sector, "GOV") == 0 || strcmp(sector, "UNI") == 0 ||
           strcmp(sector, "PRV") == 0 || strcmp(sector, "CHR") == 0;
}

static bool lg_text_eq(sqlite3_stmt *stmt, int col, const char *s)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);
    return t != NULL && strcmp((const char *)t, s) == 0;
}

/* ---- Debts ------------------------------------------------------------------ */

enum adj_err ledger_import_debts(struct ledger *l, const struct ledger_debt *rows, size_t count,
                                 struct ledger_row_result *results, struct adj_diag *diag)
{
    /* Validate every row before touching the database. */
    size_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        const struct ledger_debt *d = &rows[i];
        char period[8];
        lg_row_set(&results[i], LEDGER_ROW_APPLIED, ADJ_OK, NULL);
        if (!lg_id_ok(d->employer) || !lg_id_ok(d->workshop)) {
            lg_row_set(&results[i], LEDGER_ROW_REFUSED, ADJ_E_LEDGER_INPUT,
                       "employer and workshop must be ids of 1..32 bytes");
        } else if (!lg_period_canon(d->period, period)) {
            lg_row_set(&results[i], LEDGER_ROW_REFUSED, ADJ_E_LEDGER_INPUT,
                       "period must be YYYY/MM");
        } else if (!lg_amount_ok(d->amount_rials)) {
            lg_row_set(&results[i], LEDGER_ROW_REFUSED, ADJ_E_LEDGER_AMOUNT, "amount %lld",
                       (long long)d->amount_rials);
        }
        bad += results[i].outcome == LEDGER_ROW_REFUSED;
    }
    if (bad > 0) {
        adj_diag_set(diag, ADJ_E_LEDGER_INPUT, l->path, 0, 0,
                     "%zu of %zu debt rows are malformed; nothing imported", bad, count);
        return ADJ_E_LEDGER_INPUT;
    }
    enum adj_err err = lg_begin(l, diag);
    if (err != ADJ_OK) {
        return err;
    }
    int64_t premium = 0;
    err = lg_account(l, "sso:premium", 'C', false, &premium, diag);
    sqlite3_stmt *get = NULL, *ins = NULL;
    int rc = lg_cached(l,
                        "SELECT amount, hard_to_collect FROM debt"
                        " WHERE employer = ?1 AND workshop = ?2 AND period = ?3",
                        &get);
    if (rc == SQLITE_OK) {
        rc = lg_cached(l,
                        "INSERT INTO debt(employer, workshop, period, amount, hard_to_collect,"
                        " offsettable, entry_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        &ins);
    }
    if (err == ADJ_OK && rc != SQLITE_OK) {
        err = lg_fail(l, rc, diag, "prepare debts");
    }
    for (size_t i = 0; err == ADJ_OK && i < count; i++) {
        const struct ledger_debt *d = &rows[i];
        char period[8];
        ADJ_ASSERT(lg_period_canon(d->period, period));
        lg_bind_text(get, 1, d->employer);
        lg_bind_text(get, 2, d->workshop);
        lg_bind_text(get, 3, period);
        rc = lg_step(l, get);
        if (rc == SQLITE_ROW) {
            int64_t amount = sqlite3_column_int64(get, 0);
            bool htc = sqlite3_column_int(get, 1) != 0;
            sqlite3_reset(get);
            if (amount == d->amount_rials && htc == d->hard_to_collect) {
                lg_row_set(&results[i], LEDGER_ROW_ALREADY, ADJ_OK, NULL);
                continue;
            }
            lg_row_set(&results[i], LEDGER_ROW_REFUSED, ADJ_E_LEDGER_DEBT_CONFLICT,
                       "%s/%s/%s holds amount %lld hard_to_collect %d", d->employer, d->workshop,
                       period, (long long)amount, htc ? 1 : 0);
            adj_diag_set(diag, ADJ_E_LEDGER_DEBT_CONFLICT, l->path, 0, 0,
                         "row %zu: %s; nothing imported (a correction is a reversing entry)",
                         i + 1, results[i].detail);
            err = ADJ_E_LEDGER_DEBT_CONFLICT;
            break;
        }
        sqlite3_reset(get);
        if (rc != SQLITE_DONE) {
            err = lg_fail(l, rc, diag, "debt lookup");
            break;
        }
        char name[64], ref[112];
        snprintf(name, sizeof name, "employer:%s:debt", d->employer);
        int64_t account = 0, entry_id = 0;
        err = lg_account(l, name, 'D', true, &account, diag);
        if (err != ADJ_OK) {
            break;
        }
        struct lg_entry e;
        lg_entry_init(&e);
        err = lg_entry_add(&e, account, d->amount_rials, 0);
        if (err == ADJ_OK) {
            err = lg_entry_add(&e, premium, 0, d->amount_rials);
        }
        snprintf(ref, sizeof ref, "%s/%s/%s", d->employer, d->workshop, period);
        if (err == ADJ_OK) {
            err = lg_entry_write(l, &e, "debt", ref, period,
                                 d->hard_to_collect ? "premium debt, hard to collect"
                                                    : "premium debt",
                                 &entry_id, diag);
        }
        lg_entry_free(&e);
        if (err != ADJ_OK) {
            break;
        }
        struct jdate pd;
        size_t off = 0;
        ADJ_ASSERT(jdate_parse_month(period, strlen(period), &pd, &off) == ADJ_OK);
        bool offsettable = d->hard_to_collect && pd.year < LG_OFFSETTABLE_BEFORE_YEAR;
        lg_bind_text(ins, 1, d->employer);
        lg_bind_text(ins, 2, d->workshop);
        lg_bind_text(ins, 3, period);
        sqlite3_bind_int64(ins, 4, d->amount_rials);
        sqlite3_bind_int(ins, 5, d->hard_to_collect ? 1 : 0);
        sqlite3_bind_int(ins, 6, offsettable ? 1 : 0);
        sqlite3_bind_int64(ins, 7, entry_id);
        rc = lg_step(l, ins);
        sqlite3_reset(ins);
        if (rc != SQLITE_DONE) {
            err = lg_fail(l, rc, diag, "debt insert");
        }
    }
    lg_release(get);
    lg_release(ins);
    if (err != ADJ_OK) {
        lg_rollback(l);
        return err;
    }
    return lg_commit(l, diag);
}

/* ---- Offsets and payments ---------------------------------------------------- */

/* Center's sector and payable balance (credit-positive). */
static int lg_center_payable(struct ledger *l, const char *center, bool *found, char sector[8],
                             int64_t *payable, int64_t *payable_account)
{
    sqlite3_stmt *stmt = NULL;
    int rc = lg_cached(l,
                        "SELECT c.sector, a.balance, a.id FROM center c"
                        " JOIN account a ON a.id = c.payable_account WHERE c.id = ?1",
                        &stmt);
    *found = false;
    if (rc == SQLITE_OK) {
        lg_bind_text(stmt, 1, center);
        rc = lg_step(l, stmt);
        if (rc == SQLITE_ROW) {
            *found = true;
            snprintf(sector, 8, "%s", (const char *)sqlite3_column_text(stmt, 0));
            int64_t balance = sqlite3_column_int64(stmt, 1);
            /* Credit-normal with floor zero, so balance is in [-max, 0]. */
            ADJ_ASSERT(balance <= 0 && balance != INT64_MIN);
            *payable = -balance;
            *payable_account = sqlite3_column_int64(stmt, 2);
            rc = SQLITE_DONE;
        }
    }
    lg_release(stmt);
    return rc;
}

struct lg_alloc {
    char workshop[33];
    char period[8];
    int64_t remaining;
};

/* Offsettable debts of an employer with what remains of each, oldest first. */
static int lg_offsettable(struct ledger *l, const char *employer, struct lg_alloc **out,
                          size_t *count, int64_t *total, bool *overflow)
{
    sqlite3_stmt *stmt = NULL;
    *out = NULL;
    *count = 0;
    *total = 0;
    *overflow = false;
    size_t cap = 0;
    int rc = lg_cached(l,
                        "SELECT d.workshop, d.period, d.amount - coalesce((SELECT sum(a.amount)"
                        " FROM offset_alloc a JOIN offset_agreement g USING (agreement)"
                        " WHERE a.employer = d.employer AND a.workshop = d.workshop"
                        " AND a.period = d.period AND NOT EXISTS (SELECT 1 FROM reversal r"
                        " WHERE r.entry_id = g.entry_id)), 0)"
                        " FROM debt d WHERE d.employer = ?1 AND d.offsettable = 1"
                        " AND NOT EXISTS (SELECT 1 FROM reversal r WHERE r.entry_id = d.entry_id)"
                        " ORDER BY d.period, d.workshop",
                        &stmt);
    if (rc == SQLITE_OK) {
        lg_bind_text(stmt, 1, employer);
        while ((rc = lg_step(l, stmt)) == SQLITE_ROW) {
            int64_t remaining = sqlite3_column_int64(stmt, 2);
            ADJ_ASSERT(remaining >= 0);
            if (remaining == 0) {
                continue;
            }
            if (*count == cap) {
                cap = cap == 0 ? 8 : cap * 2;
                struct lg_alloc *p = realloc(*out, cap * sizeof *p);
                if (p == NULL) {
                    rc = SQLITE_NOMEM;
                    break;
                }
                *out = p;
            }
            struct lg_alloc *a = &(*out)[(*count)++];
            snprintf(a->workshop, sizeof a->workshop, "%s", (const char *)sqlite3_column_text(stmt, 0));
            snprintf(a->period, sizeof a->period, "%s", (const char *)sqlite3_column_text(stmt, 1));
            a->remaining = remaining;
            if (!money_add(*total, remaining, total)) {
                *overflow = true;
                *total = INT64_MAX;
            }
        }
    }
    lg_release(stmt);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* One offset row. Returns an error only for failures of the store; a
 * refusal is reported in *r and is always decided before the first write. */
static enum adj_err lg_offset_row(struct ledger *l, const struct ledger_offset *o,
                                  struct ledger_row_result *r, struct adj_diag *diag)
{
    char date[11];
    if (!lg_id_ok(o->agreement) || !lg_id_ok(o->employer) || !lg_id_ok(o->center) ||
        !lg_id_ok(o->governor_ref)) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_INPUT,
                   "agreement, employer, center and governor_ref must be ids of 1..32 bytes");
        return ADJ_OK;
    }
    if (!lg_date_canon(o->date, date)) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_INPUT, "date must be YYYY/MM/DD");
        return ADJ_OK;
    }
    if (!lg_amount_ok(o->amount_rials)) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_AMOUNT, "amount %lld",
                   (long long)o->amount_rials);
        return ADJ_OK;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = lg_cached(l,
                        "SELECT employer, center, amount, governor_ref, date"
                        " FROM offset_agreement WHERE agreement = ?1",
                        &stmt);
    if (rc == SQLITE_OK) {
        lg_bind_text(stmt, 1, o->agreement);
        rc = lg_step(l, stmt);
        if (rc == SQLITE_ROW) {
            const char *diff = !lg_text_eq(stmt, 0, o->employer)               ? "employer"
                               : !lg_text_eq(stmt, 1, o->center)               ? "center"
                               : sqlite3_column_int64(stmt, 2) != o->amount_rials ? "amount"
                               : !lg_text_eq(stmt, 3, o->governor_ref)         ? "governor_ref"
                               : !lg_text_eq(stmt, 4, date)                    ? "date"
                                                                                : NULL;
            lg_release(stmt);
            if (diff == NULL) {
                lg_row_set(r, LEDGER_ROW_ALREADY, ADJ_OK, "agreement %s already applied",
                           o->agreement);
            } else {
                lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_AGREEMENT_CONFLICT,
                           "agreement %s was applied with another %s", o->agreement, diff);
            }
            return ADJ_OK;
        }
    }
    lg_release(stmt);
    if (rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, "agreement lookup");
    }
    bool found = false;
    char sector[8] = "";
    int64_t payable = 0, payable_account = 0;
    rc = lg_center_payable(l, o->center, &found, sector, &payable, &payable_account);
    if (rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, "center lookup");
    }
    if (!found) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_UNKNOWN_CENTER, "center %s", o->center);
        return ADJ_OK;
    }
    if (!lg_sector_offsettable(sector)) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_SECTOR, "center %s is %s", o->center,
                   sector);
        return ADJ_OK;
    }
    if (o->amount_rials > payable) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_OVER_PAYABLE,
                   "center %s payable %lld < %lld", o->center, (long long)payable,
                   (long long)o->amount_rials);
        return ADJ_OK;
    }
    struct lg_alloc *allocs = NULL;
    size_t n = 0;
    int64_t offsettable = 0;
    bool overflow = false;
    rc = lg_offsettable(l, o->employer, &allocs, &n, &offsettable, &overflow);
    if (rc != SQLITE_OK) {
        free(allocs);
        return lg_fail(l, rc, diag, "employer debts");
    }
    if (o->amount_rials > offsettable) {
        free(allocs);
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_OVER_DEBT,
                   "employer %s offsettable debt %lld < %lld", o->employer,
                   (long long)offsettable, (long long)o->amount_rials);
        return ADJ_OK;
    }
    /* Both sides exist and cover the amount: write the entry. */
    char name[64];
    snprintf(name, sizeof name, "employer:%s:debt", o->employer);
    int64_t employer_account = 0, entry_id = 0;
    enum adj_err err = lg_account(l, name, 'D', true, &employer_account, diag);
    struct lg_entry e;
    lg_entry_init(&e);
    if (err == ADJ_OK) {
        err = lg_entry_add(&e, payable_account, o->amount_rials, 0);
    }
    if (err == ADJ_OK) {
        err = lg_entry_add(&e, employer_account, 0, o->amount_rials);
    }
    if (err == ADJ_OK) {
        char memo[96];
        snprintf(memo, sizeof memo, "offset, governor ref %s", o->governor_ref);
        err = lg_entry_write(l, &e, "offset", o->agreement, date, memo, &entry_id, diag);
    }
    lg_entry_free(&e);
    if (err == ADJ_OK) {
        rc = lg_cached(l,
                        "INSERT INTO offset_agreement(agreement, employer, center, amount,"
                        " governor_ref, date, entry_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        &stmt);
        if (rc == SQLITE_OK) {
            lg_bind_text(stmt, 1, o->agreement);
            lg_bind_text(stmt, 2, o->employer);
            lg_bind_text(stmt, 3, o->center);
            sqlite3_bind_int64(stmt, 4, o->amount_rials);
            lg_bind_text(stmt, 5, o->governor_ref);
            lg_bind_text(stmt, 6, date);
            sqlite3_bind_int64(stmt, 7, entry_id);
            rc = lg_step(l, stmt);
        }
        lg_release(stmt);
        stmt = NULL;
        if (rc != SQLITE_DONE) {
            err = lg_fail(l, rc, diag, "agreement insert");
        }
    }
    if (err == ADJ_OK) {
        rc = lg_cached(l,
                        "INSERT INTO offset_alloc(agreement, employer, workshop, period, amount)"
                        " VALUES (?1, ?2, ?3, ?4, ?5)",
                        &stmt);
        int64_t left = o->amount_rials;
        for (size_t i = 0; rc == SQLITE_OK && i < n && left > 0; i++) {
            int64_t take = money_min(left, allocs[i].remaining);
            lg_bind_text(stmt, 1, o->agreement);
            lg_bind_text(stmt, 2, o->employer);
            lg_bind_text(stmt, 3, allocs[i].workshop);
            lg_bind_text(stmt, 4, allocs[i].period);
            sqlite3_bind_int64(stmt, 5, take);
            rc = lg_step(l, stmt);
            sqlite3_reset(stmt);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            left -= take;
        }
        lg_release(stmt);
        if (rc != SQLITE_OK) {
            err = lg_fail(l, rc, diag, "offset allocation");
        } else {
            ADJ_ASSERT(left == 0);
        }
    }
    free(allocs);
    if (err == ADJ_OK) {
        lg_row_set(r, LEDGER_ROW_APPLIED, ADJ_OK, NULL);
    }
    return err;
}

static enum adj_err lg_payment_row(struct ledger *l, const struct ledger_payment *p,
                                   struct ledger_row_result *r, struct adj_diag *diag)
{
    char date[11];
    if (!lg_id_ok(p->center) || !lg_id_ok(p->ref)) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_INPUT,
                   "center and ref must be ids of 1..32 bytes");
        return ADJ_OK;
    }
    if (!lg_date_canon(p->date, date)) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_INPUT, "date must be YYYY/MM/DD");
        return ADJ_OK;
    }
    if (!lg_amount_ok(p->amount_rials)) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_AMOUNT, "amount %lld",
                   (long long)p->amount_rials);
        return ADJ_OK;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = lg_cached(l, "SELECT center, amount, date FROM payment WHERE ref = ?1", &stmt);
    if (rc == SQLITE_OK) {
        lg_bind_text(stmt, 1, p->ref);
        rc = lg_step(l, stmt);
        if (rc == SQLITE_ROW) {
            const char *diff = !lg_text_eq(stmt, 0, p->center)                 ? "center"
                               : sqlite3_column_int64(stmt, 1) != p->amount_rials ? "amount"
                               : !lg_text_eq(stmt, 2, date)                    ? "date"
                                                                                : NULL;
            lg_release(stmt);
            if (diff == NULL) {
                lg_row_set(r, LEDGER_ROW_ALREADY, ADJ_OK, "payment %s already made", p->ref);
            } else {
                lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_PAYMENT_CONFLICT,
                           "payment %s was made with another %s", p->ref, diff);
            }
            return ADJ_OK;
        }
    }
    lg_release(stmt);
    if (rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, "payment lookup");
    }
    bool found = false;
    char sector[8];
    int64_t payable = 0, payable_account = 0;
    rc = lg_center_payable(l, p->center, &found, sector, &payable, &payable_account);
    if (rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, "center lookup");
    }
    if (!found) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_UNKNOWN_CENTER, "center %s", p->center);
        return ADJ_OK;
    }
    if (p->amount_rials > payable) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_OVER_PAYABLE,
                   "center %s payable %lld < %lld", p->center, (long long)payable,
                   (long long)p->amount_rials);
        return ADJ_OK;
    }
    int64_t bank = 0, entry_id = 0;
    enum adj_err err = lg_account(l, "sso:bank", 'D', false, &bank, diag);
    struct lg_entry e;
    lg_entry_init(&e);
    if (err == ADJ_OK) {
        err = lg_entry_add(&e, payable_account, p->amount_rials, 0);
    }
    if (err == ADJ_OK) {
        err = lg_entry_add(&e, bank, 0, p->amount_rials);
    }
    if (err == ADJ_OK) {
        err = lg_entry_write(l, &e, "payment", p->ref, date, "payment to center", &entry_id, diag);
    }
    lg_entry_free(&e);
    if (err == ADJ_OK) {
        rc = lg_cached(l,
                        "INSERT INTO payment(ref, center, amount, date, entry_id)"
                        " VALUES (?1, ?2, ?3, ?4, ?5)",
                        &stmt);
        if (rc == SQLITE_OK) {
            lg_bind_text(stmt, 1, p->ref);
            lg_bind_text(stmt, 2, p->center);
            sqlite3_bind_int64(stmt, 3, p->amount_rials);
            lg_bind_text(stmt, 4, date);
            sqlite3_bind_int64(stmt, 5, entry_id);
            rc = lg_step(l, stmt);
        }
        lg_release(stmt);
        if (rc != SQLITE_DONE) {
            err = lg_fail(l, rc, diag, "payment insert");
        }
    }
    if (err == ADJ_OK) {
        lg_row_set(r, LEDGER_ROW_APPLIED, ADJ_OK, NULL);
    }
    return err;
}

/* Runs rows in one transaction. A failure of the store aborts the whole
 * file (nothing of it stays) and is returned; refusals are per row. */
static enum adj_err lg_rows(struct ledger *l, size_t count, struct ledger_row_result *results,
                            struct adj_diag *diag,
                            enum adj_err (*row)(struct ledger *l, const void *rows, size_t i,
                                                struct ledger_row_result *r,
                                                struct adj_diag *diag),
                            const void *rows)
{
    enum adj_err err = lg_begin(l, diag);
    if (err != ADJ_OK) {
        return err;
    }
    for (size_t i = 0; i < count; i++) {
        lg_row_set(&results[i], LEDGER_ROW_REFUSED, ADJ_E_INTERNAL, NULL);
        err = row(l, rows, i, &results[i], diag);
        if (err != ADJ_OK) {
            break;
        }
    }
    if (err != ADJ_OK) {
        lg_rollback(l);
        return err;
    }
    return lg_commit(l, diag);
}

static enum adj_err lg_offset_row_cb(struct ledger *l, const void *rows, size_t i,
                                     struct ledger_row_result *r, struct adj_diag *diag)
{
    return lg_offset_row(l, &((const struct ledger_offset *)rows)[i], r, diag);
}

static enum adj_err lg_payment_row_cb(struct ledger *l, const void *rows, size_t i,
                                      struct ledger_row_result *r, struct adj_diag *diag)
{
    return lg_payment_row(l, &((const struct ledger_payment *)rows)[i], r, diag);
}

enum adj_err ledger_apply_offsets(struct ledger *l, const struct ledger_offset *rows,
                                  size_t count, struct ledger_row_result *results,
                                  struct adj_diag *diag)
{
    return lg_rows(l, count, results, diag, lg_offset_row_cb, rows);
}

enum adj_err ledger_pay(struct ledger *l, const struct ledger_payment *rows, size_t count,
                        struct ledger_row_result *results, struct adj_diag *diag)
{
    return lg_rows(l, count, results, diag, lg_payment_row_cb, rows);
}

/* ---- Reversals ---------------------------------------------------------------- */

struct lg_delta {
    int64_t account_id, delta; /* debit-positive change of the balance */
};

static int lg_delta_cmp(const void *a, const void *b)
{
    const struct lg_delta *x = a, *y = b;
    return (x->account_id > y->account_id) - (x->account_id < y->account_id);
}

/* Checks that applying e keeps every floor-zero account at or above zero;
 * refusal in *r. */
static enum adj_err lg_reverse_limits(struct ledger *l, const struct lg_entry *e,
                                      struct ledger_row_result *r, struct adj_diag *diag)
{
    struct lg_delta *d = malloc((e->count + 1) * sizeof *d);
    if (d == NULL) {
        adj_diag_set(diag, ADJ_E_NOMEM, l->path, 0, 0, NULL);
        return ADJ_E_NOMEM;
    }
    for (size_t i = 0; i < e->count; i++) {
        /* One side of a posting is zero, so this cannot overflow; the
         * per-account sums below are checked. */
        d[i] = (struct lg_delta){e->postings[i].account_id,
                                 e->postings[i].debit - e->postings[i].credit};
    }
    qsort(d, e->count, sizeof *d, lg_delta_cmp);
    enum adj_err err = ADJ_OK;
    for (size_t i = 0; i < e->count && err == ADJ_OK && r->outcome != LEDGER_ROW_REFUSED;) {
        int64_t total = 0;
        size_t j = i;
        bool overflow = false;
        for (; j < e->count && d[j].account_id == d[i].account_id; j++) {
            overflow |= !money_add(total, d[j].delta, &total);
        }
        sqlite3_stmt *get = NULL;
        int rc = lg_cached(l, "SELECT name, normal_side, floor_zero, balance FROM account WHERE id = ?1",
                           &get);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(get, 1, d[i].account_id);
            rc = lg_step(l, get);
        }
        if (rc != SQLITE_ROW) {
            err = lg_fail(l, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, diag, "reversal account");
        } else {
            const char *name = (const char *)sqlite3_column_text(get, 0);
            char side = (char)sqlite3_column_text(get, 1)[0];
            bool floor_zero = sqlite3_column_int(get, 2) != 0;
            int64_t next = 0;
            if (overflow || !money_add(sqlite3_column_int64(get, 3), total, &next)) {
                lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_OVERFLOW, "balance of %s", name);
            } else if (floor_zero && (side == 'D' ? next < 0 : next > 0)) {
                lg_row_set(r, LEDGER_ROW_REFUSED,
                           side == 'C' ? ADJ_E_LEDGER_OVER_PAYABLE : ADJ_E_LEDGER_OVER_DEBT,
                           "%s would pass zero (paid, offset or reversed since)", name);
            }
        }
        lg_release(get);
        i = j;
    }
    free(d);
    return err;
}

static enum adj_err lg_reverse_in_txn(struct ledger *l, int64_t entry_id, const char *date,
                                      const char *reason, struct ledger_row_result *r,
                                      int64_t *reversal_entry_id, struct adj_diag *diag)
{
    sqlite3_stmt *stmt = NULL;
    int rc = lg_cached(l,
                       "SELECT e.kind, r.reversal_entry_id, r.date, r.reason FROM entry e"
                       " LEFT JOIN reversal r ON r.entry_id = e.id WHERE e.id = ?1",
                       &stmt);
    char kind[16] = "";
    bool found = false, reversed = false, same = false;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(stmt, 1, entry_id);
        rc = lg_step(l, stmt);
        if (rc == SQLITE_ROW) {
            found = true;
            snprintf(kind, sizeof kind, "%s", (const char *)sqlite3_column_text(stmt, 0));
            reversed = sqlite3_column_type(stmt, 1) != SQLITE_NULL;
            if (reversed) {
                *reversal_entry_id = sqlite3_column_int64(stmt, 1);
                same = lg_text_eq(stmt, 2, date) && lg_text_eq(stmt, 3, reason);
            }
            rc = SQLITE_DONE;
        }
    }
    lg_release(stmt);
    if (rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, "entry lookup");
    }
    if (!found) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_UNKNOWN_ENTRY, "entry %lld",
                   (long long)entry_id);
        return ADJ_OK;
    }
    if (reversed) {
        if (same) {
            lg_row_set(r, LEDGER_ROW_ALREADY, ADJ_OK, "entry %lld already reversed by %lld",
                       (long long)entry_id, (long long)*reversal_entry_id);
        } else {
            lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_REVERSAL_CONFLICT,
                       "entry %lld was reversed by entry %lld", (long long)entry_id,
                       (long long)*reversal_entry_id);
        }
        return ADJ_OK;
    }
    if (strcmp(kind, "reversal") == 0) {
        lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_REVERSAL,
                   "entry %lld is a reversal; post the original again instead",
                   (long long)entry_id);
        return ADJ_OK;
    }
    if (strcmp(kind, "debt") == 0) {
        int64_t n = 0;
        rc = lg_cached(l,
                       "SELECT count(*) FROM debt d JOIN offset_alloc a ON a.employer = d.employer"
                       " AND a.workshop = d.workshop AND a.period = d.period"
                       " JOIN offset_agreement g ON g.agreement = a.agreement"
                       " WHERE d.entry_id = ?1 AND NOT EXISTS (SELECT 1 FROM reversal r"
                       " WHERE r.entry_id = g.entry_id)",
                       &stmt);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(stmt, 1, entry_id);
            rc = lg_query_i64(l, stmt, &n, &found);
        }
        lg_release(stmt);
        if (rc != SQLITE_DONE) {
            return lg_fail(l, rc, diag, "debt offsets");
        }
        if (n > 0) {
            lg_row_set(r, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_REVERSAL,
                       "debt entry %lld has %lld offset(s) against it; reverse them first",
                       (long long)entry_id, (long long)n);
            return ADJ_OK;
        }
    }
    /* The mirror entry. */
    struct lg_entry e;
    lg_entry_init(&e);
    enum adj_err err = ADJ_OK;
    rc = lg_cached(l, "SELECT account_id, debit, credit FROM posting WHERE entry_id = ?1 ORDER BY id",
                   &stmt);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(stmt, 1, entry_id);
        while ((rc = lg_step(l, stmt)) == SQLITE_ROW && err == ADJ_OK) {
            err = lg_entry_add(&e, sqlite3_column_int64(stmt, 0), sqlite3_column_int64(stmt, 2),
                               sqlite3_column_int64(stmt, 1));
        }
    }
    lg_release(stmt);
    if (err == ADJ_OK && rc != SQLITE_DONE) {
        err = lg_fail(l, rc, diag, "postings");
    } else if (err != ADJ_OK) {
        adj_diag_set(diag, err, l->path, 0, 0, "entry %lld", (long long)entry_id);
    }
    lg_row_set(r, LEDGER_ROW_APPLIED, ADJ_OK, NULL);
    if (err == ADJ_OK) {
        err = lg_reverse_limits(l, &e, r, diag);
    }
    if (err == ADJ_OK && r->outcome == LEDGER_ROW_APPLIED) {
        char ref[32];
        snprintf(ref, sizeof ref, "entry:%lld", (long long)entry_id);
        err = lg_entry_write(l, &e, "reversal", ref, date, reason, reversal_entry_id, diag);
    }
    lg_entry_free(&e);
    if (err == ADJ_OK && r->outcome == LEDGER_ROW_APPLIED) {
        rc = lg_cached(l,
                       "INSERT INTO reversal(entry_id, reversal_entry_id, date, reason)"
                       " VALUES (?1, ?2, ?3, ?4)",
                       &stmt);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(stmt, 1, entry_id);
            sqlite3_bind_int64(stmt, 2, *reversal_entry_id);
            lg_bind_text(stmt, 3, date);
            lg_bind_text(stmt, 4, reason);
            rc = lg_step(l, stmt);
        }
        lg_release(stmt);
        if (rc != SQLITE_DONE) {
            err = lg_fail(l, rc, diag, "reversal insert");
        }
    }
    return err;
}

enum adj_err ledger_reverse(struct ledger *l, int64_t entry_id, const char *date,
                            const char *reason, struct ledger_row_result *result,
                            int64_t *reversal_entry_id, struct adj_diag *diag)
{
    char d[11];
    *reversal_entry_id = 0;
    if (!lg_date_canon(date, d)) {
        lg_row_set(result, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_INPUT, "date must be YYYY/MM/DD");
        return ADJ_OK;
    }
    if (reason == NULL || reason[0] == '\0' || strlen(reason) > 200 || strchr(reason, '\t') ||
        strchr(reason, '\n')) {
        lg_row_set(result, LEDGER_ROW_REFUSED, ADJ_E_LEDGER_INPUT,
                   "a reason of 1..200 bytes on one line is required");
        return ADJ_OK;
    }
    enum adj_err err = lg_begin(l, diag);
    if (err != ADJ_OK) {
        return err;
    }
    err = lg_reverse_in_txn(l, entry_id, d, reason, result, reversal_entry_id, diag);
    if (err != ADJ_OK || result->outcome != LEDGER_ROW_APPLIED) {
        lg_rollback(l);
        return err;
    }
    return lg_commit(l, diag);
}

/* ---- Reading ----------------------------------------------------------------- */

enum adj_err ledger_balances(struct ledger *l, void *ctx,
                             void (*on_row)(void *ctx, const struct ledger_balance_row *row),
                             struct adj_diag *diag)
{
    sqlite3_stmt *stmt = NULL;
    int rc = lg_prepare(l,
                        "SELECT a.name, a.normal_side, a.balance,"
                        " (SELECT coalesce(sum(debit), 0) FROM posting WHERE account_id = a.id),"
                        " (SELECT coalesce(sum(credit), 0) FROM posting WHERE account_id = a.id)"
                        " FROM account a ORDER BY a.name",
                        &stmt);
    while (rc == SQLITE_OK && (rc = lg_step(l, stmt)) == SQLITE_ROW) {
        struct ledger_balance_row row;
        row.account = (const char *)sqlite3_column_text(stmt, 0);
        row.normal_side = (char)sqlite3_column_text(stmt, 1)[0];
        int64_t b = sqlite3_column_int64(stmt, 2);
        /* Stored debit-positive; INT64_MIN cannot be negated. */
        row.balance = row.normal_side == 'D' ? b : (b == INT64_MIN ? INT64_MAX : -b);
        row.debits = sqlite3_column_int64(stmt, 3);
        row.credits = sqlite3_column_int64(stmt, 4);
        on_row(ctx, &row);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
        return lg_fail(l, rc, diag, "balances");
    }
    return ADJ_OK;
}

enum adj_err ledger_statement(struct ledger *l, const char *account, void *ctx,
                              void (*on_row)(void *ctx, const struct ledger_statement_row *row),
                              struct adj_diag *diag)
{
    sqlite3_stmt *stmt = NULL;
    int rc = lg_prepare(l, "SELECT id, normal_side FROM account WHERE name = ?1", &stmt);
    int64_t id = 0;
    char side = 'D';
    bool found = false;
    if (rc == SQLITE_OK) {
        lg_bind_text(stmt, 1, account);
        rc = lg_step(l, stmt);
        if (rc == SQLITE_ROW) {
            found = true;
            id = sqlite3_column_int64(stmt, 0);
            side = (char)sqlite3_column_text(stmt, 1)[0];
            rc = SQLITE_DONE;
        }
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, "statement");
    }
    if (!found) {
        adj_diag_set(diag, ADJ_E_LEDGER_UNKNOWN_ACCOUNT, l->path, 0, 0, "%s", account);
        return ADJ_E_LEDGER_UNKNOWN_ACCOUNT;
    }
    rc = lg_prepare(l,
                    "SELECT e.id, e.kind, e.ref, e.value_date, p.debit, p.credit"
                    " FROM posting p JOIN entry e ON e.id = p.entry_id"
                    " WHERE p.account_id = ?1 ORDER BY p.id",
                    &stmt);
    int64_t running = 0;
    enum adj_err err = ADJ_OK;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(stmt, 1, id);
    }
    while (rc == SQLITE_OK && (rc = lg_step(l, stmt)) == SQLITE_ROW) {
        struct ledger_statement_row row;
        row.entry_id = sqlite3_column_int64(stmt, 0);
        row.kind = (const char *)sqlite3_column_text(stmt, 1);
        row.ref = (const char *)sqlite3_column_text(stmt, 2);
        row.value_date = (const char *)sqlite3_column_text(stmt, 3);
        row.debit = sqlite3_column_int64(stmt, 4);
        row.credit = sqlite3_column_int64(stmt, 5);
        int64_t delta = 0;
        if (!money_sub(side == 'D' ? row.debit : row.credit, side == 'D' ? row.credit : row.debit,
                       &delta) ||
            !money_add(running, delta, &running)) {
            err = ADJ_E_OVERFLOW;
            break;
        }
        row.running = running;
        on_row(ctx, &row);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    if (err != ADJ_OK) {
        adj_diag_set(diag, err, l->path, 0, 0, "running balance of %s", account);
        return err;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
        return lg_fail(l, rc, diag, "statement");
    }
    return ADJ_OK;
}

enum adj_err ledger_offset_report(struct ledger *l, const char *period, void *ctx,
                                  void (*on_row)(void *ctx,
                                                 const struct ledger_offset_report_row *row),
                                  struct adj_diag *diag)
{
    char p[8];
    if (!lg_period_canon(period, p)) {
        adj_diag_set(diag, ADJ_E_MONTH_FORMAT, NULL, 0, 0, "%s", period);
        return ADJ_E_MONTH_FORMAT;
    }
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%s/", p);
    sqlite3_stmt *stmt = NULL;
    int rc = lg_prepare(l,
                        "SELECT a.employer, a.workshop, a.period, a.agreement, g.governor_ref,"
                        " g.date, g.center, a.amount FROM offset_alloc a"
                        " JOIN offset_agreement g ON g.agreement = a.agreement"
                        " WHERE substr(g.date, 1, 8) = ?1 AND NOT EXISTS (SELECT 1 FROM"
                        " reversal r WHERE r.entry_id = g.entry_id)"
                        " ORDER BY a.employer, a.workshop, a.period, a.agreement",
                        &stmt);
    if (rc == SQLITE_OK) {
        lg_bind_text(stmt, 1, prefix);
    }
    while (rc == SQLITE_OK && (rc = lg_step(l, stmt)) == SQLITE_ROW) {
        struct ledger_offset_report_row row;
        row.employer = (const char *)sqlite3_column_text(stmt, 0);
        row.workshop = (const char *)sqlite3_column_text(stmt, 1);
        row.debt_period = (const char *)sqlite3_column_text(stmt, 2);
        row.agreement = (const char *)sqlite3_column_text(stmt, 3);
        row.governor_ref = (const char *)sqlite3_column_text(stmt, 4);
        row.date = (const char *)sqlite3_column_text(stmt, 5);
        row.center = (const char *)sqlite3_column_text(stmt, 6);
        row.amount = sqlite3_column_int64(stmt, 7);
        on_row(ctx, &row);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
        return lg_fail(l, rc, diag, "offset report");
    }
    return ADJ_OK;
}
