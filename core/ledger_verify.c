/*
 * `dadras ledger verify` and the canonical dump. Verify re-derives what the
 * writers and triggers promised, from the rows alone, so it also catches a
 * database edited behind our back (the stock shell can write too) and a bug
 * in this program. The dump is the test suite's notion of "the same ledger".
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/ledger.h"
#include "core/ledger_impl.h"

struct lg_check {
    const char *what;
    const char *sql; /* every row returned is one problem; columns are printed */
};

static const struct lg_check lg_checks[] = {
    {"foreign key", "PRAGMA foreign_key_check"},
    {"entry does not balance",
     "SELECT e.id, e.amount, count(p.id), coalesce(sum(p.debit), 0), coalesce(sum(p.credit), 0)"
     " FROM entry e LEFT JOIN posting p ON p.entry_id = e.id GROUP BY e.id"
     " HAVING count(p.id) < 2 OR coalesce(sum(p.debit), 0) <> e.amount"
     " OR coalesce(sum(p.credit), 0) <> e.amount"},
    {"posting without entry",
     "SELECT p.id, p.entry_id FROM posting p WHERE NOT EXISTS"
     " (SELECT 1 FROM entry e WHERE e.id = p.entry_id)"},
    {"account past its limit",
     "SELECT name, balance FROM account WHERE floor_zero = 1 AND"
     " ((normal_side = 'D' AND balance < 0) OR (normal_side = 'C' AND balance > 0))"},
    {"batch totals differ from its centers",
     "SELECT b.batch_id FROM batch b WHERE b.approved_insurer <> coalesce((SELECT"
     " sum(approved_insurer) FROM batch_center c WHERE c.batch_id = b.batch_id), 0)"
     " OR b.approved_daroyar <> coalesce((SELECT sum(approved_daroyar) FROM batch_center c"
     " WHERE c.batch_id = b.batch_id), 0)"
     " OR b.center_count <> (SELECT count(*) FROM batch_center c WHERE c.batch_id = b.batch_id)"},
    {"batch entry differs from its totals",
     "SELECT b.batch_id FROM batch b LEFT JOIN entry e ON e.id = b.entry_id"
     " WHERE (b.entry_id IS NULL) <> (b.approved_insurer + b.approved_daroyar = 0)"
     " OR (b.entry_id IS NOT NULL AND (e.amount IS NOT b.approved_insurer + b.approved_daroyar"
     " OR e.kind <> 'batch' OR e.ref <> b.batch_id))"},
    {"settled doc id count differs",
     "SELECT b.batch_id, b.doc_count, coalesce((SELECT sum(count) FROM settled_docs d"
     " WHERE d.batch_id = b.batch_id), 0) AS n FROM batch b WHERE n <> b.doc_count"},
    {"settled pack id count differs",
     "SELECT b.batch_id, b.pack_count, coalesce((SELECT sum(count) FROM settled_packs d"
     " WHERE d.batch_id = b.batch_id), 0) AS n FROM batch b WHERE n <> b.pack_count"},
    {"pack chunk size wrong", "SELECT batch_id, chunk FROM settled_packs WHERE length(keys) <> 8 * count"},
    {"offset allocation differs from agreement",
     "SELECT g.agreement FROM offset_agreement g WHERE g.amount <> coalesce((SELECT sum(amount)"
     " FROM offset_alloc a WHERE a.agreement = g.agreement), 0)"},
    {"debt offset beyond its amount",
     "SELECT d.employer, d.workshop, d.period FROM debt d WHERE d.amount < coalesce((SELECT"
     " sum(a.amount) FROM offset_alloc a JOIN offset_agreement g USING (agreement)"
     " WHERE a.employer = d.employer AND a.workshop = d.workshop AND a.period = d.period"
     " AND NOT EXISTS (SELECT 1 FROM reversal r WHERE r.entry_id = g.entry_id)), 0) OR (d.offsettable = 0 AND EXISTS (SELECT 1 FROM offset_alloc a"
     " WHERE a.employer = d.employer AND a.workshop = d.workshop AND a.period = d.period))"},
    {"offset or payment entry mismatch",
     "SELECT 'offset', g.agreement FROM offset_agreement g JOIN entry e ON e.id = g.entry_id"
     " WHERE e.amount <> g.amount OR e.kind <> 'offset' OR e.ref <> g.agreement"
     " UNION ALL SELECT 'payment', p.ref FROM payment p JOIN entry e ON e.id = p.entry_id"
     " WHERE e.amount <> p.amount OR e.kind <> 'payment' OR e.ref <> p.ref"
     " UNION ALL SELECT 'debt', d.employer FROM debt d JOIN entry e ON e.id = d.entry_id"
     " WHERE e.amount <> d.amount OR e.kind <> 'debt'"},
    {"reversal does not mirror its entry",
     "SELECT r.entry_id FROM reversal r JOIN entry o ON o.id = r.entry_id"
     " JOIN entry n ON n.id = r.reversal_entry_id"
     " WHERE n.kind <> 'reversal' OR o.kind = 'reversal' OR n.amount <> o.amount"
     " OR EXISTS (SELECT account_id, sum(debit) - sum(credit) FROM posting WHERE entry_id = o.id"
     " GROUP BY account_id EXCEPT SELECT account_id, sum(credit) - sum(debit) FROM posting"
     " WHERE entry_id = n.id GROUP BY account_id)"},
    {"reversal entry without its reversal row",
     "SELECT e.id FROM entry e WHERE e.kind = 'reversal' AND NOT EXISTS"
     " (SELECT 1 FROM reversal r WHERE r.reversal_entry_id = e.id)"},
};

static void lg_problem(FILE *report, uint64_t *problems, const char *what, sqlite3_stmt *stmt)
{
    (*problems)++;
    if (report == NULL) {
        return;
    }
    fprintf(report, "verify: %s:", what);
    int n = stmt != NULL ? sqlite3_column_count(stmt) : 0;
    for (int i = 0; i < n; i++) {
        const unsigned char *t = sqlite3_column_text(stmt, i);
        fprintf(report, " %s", t != NULL ? (const char *)t : "NULL");
    }
    fputc('\n', report);
}

static void lg_i128_text(__int128 v, char buf[48])
{
    char tmp[48];
    size_t n = 0;
    unsigned __int128 u = v < 0 ? (unsigned __int128)(-(v + 1)) + 1u : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10u));
        u /= 10u;
    } while (u != 0 && n < sizeof tmp - 2);
    size_t k = 0;
    if (v < 0) {
        buf[k++] = '-';
    }
    while (n > 0) {
        buf[k++] = tmp[--n];
    }
    buf[k] = '\0';
}

/* Each account's cached balance against its postings, and the trial
 * balance, summed here in 128 bits: SQLite's sum() fails on an intermediate
 * past int64 (a consistent ledger of 520 batches of 9e15 rials has total
 * debits beyond it), and total() is not exact: never near money. */
static int lg_verify_balances(struct ledger *l, FILE *report, uint64_t *problems)
{
    sqlite3_stmt *acc = NULL, *post = NULL;
    int rc = lg_prepare(l, "SELECT id, name, balance FROM account ORDER BY id", &acc);
    if (rc == SQLITE_OK) {
        rc = lg_prepare(l, "SELECT debit, credit FROM posting WHERE account_id = ?1", &post);
    }
    __int128 all_debit = 0, all_credit = 0;
    while (rc == SQLITE_OK && (rc = lg_step(l, acc)) == SQLITE_ROW) {
        sqlite3_reset(post);
        sqlite3_bind_int64(post, 1, sqlite3_column_int64(acc, 0));
        __int128 debit = 0, credit = 0;
        while ((rc = lg_step(l, post)) == SQLITE_ROW) {
            debit += sqlite3_column_int64(post, 0);
            credit += sqlite3_column_int64(post, 1);
        }
        if (rc != SQLITE_DONE) {
            break;
        }
        all_debit += debit;
        all_credit += credit;
        if ((__int128)sqlite3_column_int64(acc, 2) != debit - credit) {
            (*problems)++;
            if (report != NULL) {
                char d[48];
                lg_i128_text(debit - credit, d);
                fprintf(report, "verify: cached balance differs from postings: %s %lld %s\n",
                        (const char *)sqlite3_column_text(acc, 1),
                        (long long)sqlite3_column_int64(acc, 2), d);
            }
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(acc);
    sqlite3_finalize(post);
    if (rc == SQLITE_DONE && all_debit != all_credit) {
        (*problems)++;
        if (report != NULL) {
            char d[48], c[48];
            lg_i128_text(all_debit, d);
            lg_i128_text(all_credit, c);
            fprintf(report, "verify: trial balance not zero: %s %s\n", d, c);
        }
    }
    return rc;
}

/* Reads every settled chunk: doc chunks hold `count` non-empty ids each
 * NUL-terminated, pack chunks are strictly increasing keys. */
static int lg_verify_chunks(struct ledger *l, FILE *report, uint64_t *problems)
{
    sqlite3_stmt *stmt = NULL;
    int rc = lg_prepare(l, "SELECT batch_id, chunk, count, ids FROM settled_docs", &stmt);
    while (rc == SQLITE_OK && (rc = lg_step(l, stmt)) == SQLITE_ROW) {
        const char *ids = sqlite3_column_blob(stmt, 3);
        size_t bytes = (size_t)sqlite3_column_bytes(stmt, 3);
        int64_t count = sqlite3_column_int64(stmt, 2), seen = 0;
        size_t start = 0;
        bool ok = ids != NULL;
        for (size_t i = 0; ok && i < bytes; i++) {
            if (ids[i] == '\0') {
                ok = i > start;
                seen++;
                start = i + 1;
            }
        }
        if (!ok || start != bytes || seen != count) {
            lg_problem(report, problems, "doc id chunk malformed", stmt);
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        return rc;
    }
    rc = lg_prepare(l, "SELECT batch_id, chunk, count, keys FROM settled_packs", &stmt);
    while (rc == SQLITE_OK && (rc = lg_step(l, stmt)) == SQLITE_ROW) {
        const unsigned char *keys = sqlite3_column_blob(stmt, 3);
        size_t bytes = (size_t)sqlite3_column_bytes(stmt, 3);
        bool ok = keys != NULL && bytes % 8 == 0;
        uint64_t prev = 0;
        for (size_t i = 0; ok && i < bytes; i += 8) {
            uint64_t k = 0;
            for (int b = 7; b >= 0; b--) {
                k = (k << 8) | keys[i + (size_t)b];
            }
            ok = i == 0 || k > prev;
            prev = k;
        }
        if (!ok) {
            lg_problem(report, problems, "pack chunk not sorted or has duplicates", stmt);
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    return rc;
}

enum adj_err ledger_verify(struct ledger *l, FILE *report, uint64_t *problems,
                           struct adj_diag *diag)
{
    *problems = 0;
    /* One read snapshot for every check. */
    int rc = lg_exec(l, "BEGIN");
    if (rc != SQLITE_OK) {
        return lg_fail(l, rc, diag, "begin read");
    }
    sqlite3_stmt *stmt = NULL;
    rc = lg_prepare(l, "PRAGMA integrity_check", &stmt);
    while (rc == SQLITE_OK && (rc = lg_step(l, stmt)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(stmt, 0);
        if (t == NULL || strcmp((const char *)t, "ok") != 0) {
            lg_problem(report, problems, "integrity_check", stmt);
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    for (size_t c = 0; rc == SQLITE_DONE && c < sizeof lg_checks / sizeof lg_checks[0]; c++) {
        rc = lg_prepare(l, lg_checks[c].sql, &stmt);
        while (rc == SQLITE_OK && (rc = lg_step(l, stmt)) == SQLITE_ROW) {
            lg_problem(report, problems, lg_checks[c].what, stmt);
            rc = SQLITE_OK;
        }
        sqlite3_finalize(stmt);
    }
    if (rc == SQLITE_DONE) {
        rc = lg_verify_balances(l, report, problems);
    }
    if (rc == SQLITE_DONE) {
        rc = lg_verify_chunks(l, report, problems);
    }
    (void)lg_exec(l, "COMMIT");
    if (rc != SQLITE_DONE) {
        /* A check that cannot run (corruption, overflow in sum()) is a failure too. */
        enum adj_err err = lg_fail(l, rc, diag, "verify");
        (*problems)++;
        return err;
    }
    if (*problems > 0) {
        adj_diag_set(diag, ADJ_E_LEDGER_VERIFY, l->path, 0, 0, "%llu problem(s)",
                     (unsigned long long)*problems);
        return ADJ_E_LEDGER_VERIFY;
    }
    return ADJ_OK;
}

enum adj_err ledger_quick_check(struct ledger *l, struct adj_diag *diag)
{
    sqlite3_stmt *stmt = NULL;
    int rc = lg_prepare(l, "PRAGMA quick_check", &stmt);
    enum adj_err err = ADJ_OK;
    while (rc == SQLITE_OK && (rc = lg_step(l, stmt)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(stmt, 0);
        if (err == ADJ_OK && (t == NULL || strcmp((const char *)t, "ok") != 0)) {
            err = ADJ_E_LEDGER_CORRUPT;
            adj_diag_set(diag, err, l->path, 0, 0, "quick_check: %s; nothing written",
                         t != NULL ? (const char *)t : "NULL");
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    if (err == ADJ_OK && rc != SQLITE_DONE) {
        err = lg_fail(l, rc, diag, "quick_check");
    }
    return err;
}

static const char *const lg_dump_queries[] = {
    "SELECT 'account', id, name, normal_side, floor_zero, balance FROM account ORDER BY id",
    "SELECT 'center', id, sector, payable_account, daroyar_account FROM center ORDER BY id",
    "SELECT 'entry', id, kind, ref, value_date, amount, memo FROM entry ORDER BY id",
    "SELECT 'posting', id, entry_id, account_id, debit, credit FROM posting ORDER BY id",
    "SELECT 'batch', * FROM batch ORDER BY batch_id",
    "SELECT 'batch_center', * FROM batch_center ORDER BY batch_id, center",
    "SELECT 'settled_docs', * FROM settled_docs ORDER BY batch_id, chunk",
    "SELECT 'settled_packs', * FROM settled_packs ORDER BY batch_id, chunk",
    "SELECT 'debt', * FROM debt ORDER BY employer, workshop, period",
    "SELECT 'offset_agreement', * FROM offset_agreement ORDER BY agreement",
    "SELECT 'offset_alloc', * FROM offset_alloc ORDER BY agreement, employer, workshop, period",
    "SELECT 'payment', * FROM payment ORDER BY ref",
    "SELECT 'reversal', * FROM reversal ORDER BY entry_id",
    "SELECT 'schema', user_version, application_id FROM pragma_user_version, pragma_application_id",
};

enum adj_err ledger_dump(struct ledger *l, FILE *out, struct adj_diag *diag)
{
    int rc = lg_exec(l, "BEGIN");
    if (rc != SQLITE_OK) {
        return lg_fail(l, rc, diag, "begin read");
    }
    for (size_t q = 0; rc == SQLITE_OK && q < sizeof lg_dump_queries / sizeof lg_dump_queries[0]; q++) {
        sqlite3_stmt *stmt = NULL;
        rc = lg_prepare(l, lg_dump_queries[q], &stmt);
        while (rc == SQLITE_OK && (rc = lg_step(l, stmt)) == SQLITE_ROW) {
            int n = sqlite3_column_count(stmt);
            for (int i = 0; i < n; i++) {
                fputs(i == 0 ? "" : "\t", out);
                switch (sqlite3_column_type(stmt, i)) {
                case SQLITE_NULL: fputs("NULL", out); break;
                case SQLITE_BLOB: {
                    /* BLOBs can be 8 MiB: print their size and hash. */
                    int bytes = sqlite3_column_bytes(stmt, i);
                    const void *p = sqlite3_column_blob(stmt, i);
                    fprintf(out, "blob:%d:%016llx", bytes,
                            (unsigned long long)XXH3_64bits(p, (size_t)bytes));
                    break;
                }
                default: fputs((const char *)sqlite3_column_text(stmt, i), out); break;
                }
            }
            fputc('\n', out);
            rc = SQLITE_OK;
        }
        sqlite3_finalize(stmt);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    (void)lg_exec(l, "COMMIT");
    if (rc != SQLITE_OK) {
        return lg_fail(l, rc, diag, "dump");
    }
    return ADJ_OK;
}
