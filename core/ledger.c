/*
 * The ledger store: the SQLite connection, the schema and its migrations,
 * the one routine that writes a journal entry, batch posting and the
 * settled-id loader. Debts, offsets, payments and the reports are in
 * ledger_ops.c, verification and the dump in ledger_verify.c, the run's
 * totals files in ledger_totals.c; they share the helpers declared in
 * ledger_impl.h.
 *
 * Why the entry is inserted after its postings: the database checks the
 * balance itself. Postings reference their entry through a deferred foreign
 * key; a trigger on INSERT INTO entry refuses it unless its postings number
 * two or more and their debits and credits both equal the entry's amount,
 * and a trigger on posting refuses a posting into an entry that already
 * exists. So once an entry row exists it is sealed and balanced, and the
 * deferred key makes a posting without its entry fail at COMMIT.
 */
#include "core/ledger.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/base/assert.h"
#include "core/base/jdate.h"
#include "core/base/limits.h"
#include "core/base/money.h"
#include "core/base/text.h"
#include "core/ledger_impl.h"

/* ---- Schema ----------------------------------------------------------------
 * Version 1. Balances in `account` are a cache, debit-positive, checked by
 * verify; every other table is a journal: append-only by trigger. */
static const char lg_schema_v1[] =
    "CREATE TABLE account("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " normal_side TEXT NOT NULL CHECK (normal_side IN ('D','C')),"
    " floor_zero INTEGER NOT NULL CHECK (floor_zero IN (0,1)),"
    " balance INTEGER NOT NULL DEFAULT 0,"
    " CHECK (floor_zero = 0 OR (normal_side = 'D' AND balance >= 0)"
    "        OR (normal_side = 'C' AND balance <= 0))"
    ") STRICT;"
    "CREATE TABLE center("
    " id TEXT PRIMARY KEY,"
    " sector TEXT NOT NULL,"
    " payable_account INTEGER NOT NULL REFERENCES account(id),"
    " daroyar_account INTEGER NOT NULL REFERENCES account(id)"
    ") STRICT;"
    "CREATE TABLE entry("
    " id INTEGER PRIMARY KEY,"
    " kind TEXT NOT NULL CHECK (kind IN ('batch','debt','offset','payment','reversal')),"
    " ref TEXT NOT NULL,"
    " value_date TEXT NOT NULL,"
    " amount INTEGER NOT NULL CHECK (amount > 0),"
    " memo TEXT NOT NULL"
    ") STRICT;"
    "CREATE TABLE posting("
    " id INTEGER PRIMARY KEY,"
    " entry_id INTEGER NOT NULL REFERENCES entry(id) DEFERRABLE INITIALLY DEFERRED,"
    " account_id INTEGER NOT NULL REFERENCES account(id),"
    " debit INTEGER NOT NULL CHECK (debit >= 0),"
    " credit INTEGER NOT NULL CHECK (credit >= 0),"
    " CHECK ((debit > 0) + (credit > 0) = 1)"
    ") STRICT;"
    "CREATE INDEX posting_entry ON posting(entry_id);"
    "CREATE INDEX posting_account ON posting(account_id, id);"
    "CREATE TABLE batch("
    " batch_id TEXT PRIMARY KEY,"
    " content_hash TEXT NOT NULL CHECK (length(content_hash) = 32),"
    " totals_digest TEXT NOT NULL CHECK (length(totals_digest) = 32),"
    " province TEXT NOT NULL,"
    " period TEXT NOT NULL,"
    " entry_id INTEGER REFERENCES entry(id),"
    " center_count INTEGER NOT NULL CHECK (center_count >= 0),"
    " doc_count INTEGER NOT NULL CHECK (doc_count >= 0),"
    " pack_count INTEGER NOT NULL CHECK (pack_count >= 0),"
    " approved_insurer INTEGER NOT NULL CHECK (approved_insurer >= 0),"
    " approved_daroyar INTEGER NOT NULL CHECK (approved_daroyar >= 0)"
    ") STRICT;"
    "CREATE TABLE batch_center("
    " batch_id TEXT NOT NULL REFERENCES batch(batch_id),"
    " center TEXT NOT NULL REFERENCES center(id),"
    " sector TEXT NOT NULL,"
    " approved_insurer INTEGER NOT NULL CHECK (approved_insurer >= 0),"
    " approved_daroyar INTEGER NOT NULL CHECK (approved_daroyar >= 0),"
    " PRIMARY KEY (batch_id, center)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE settled_docs("
    " batch_id TEXT NOT NULL REFERENCES batch(batch_id),"
    " chunk INTEGER NOT NULL,"
    " count INTEGER NOT NULL CHECK (count > 0),"
    " ids BLOB NOT NULL,"
    " PRIMARY KEY (batch_id, chunk)"
    ") STRICT;"
    "CREATE TABLE settled_packs("
    " batch_id TEXT NOT NULL REFERENCES batch(batch_id),"
    " chunk INTEGER NOT NULL,"
    " count INTEGER NOT NULL CHECK (count > 0),"
    " keys BLOB NOT NULL CHECK (length(keys) = 8 * count),"
    " PRIMARY KEY (batch_id, chunk)"
    ") STRICT;"
    "CREATE TABLE debt("
    " employer TEXT NOT NULL,"
    " workshop TEXT NOT NULL,"
    " period TEXT NOT NULL,"
    " amount INTEGER NOT NULL CHECK (amount > 0),"
    " hard_to_collect INTEGER NOT NULL CHECK (hard_to_collect IN (0,1)),"
    " offsettable INTEGER NOT NULL CHECK (offsettable IN (0,1)),"
    " entry_id INTEGER NOT NULL REFERENCES entry(id),"
    " PRIMARY KEY (employer, workshop, period)"
    ") STRICT;"
    "CREATE TABLE offset_agreement("
    " agreement TEXT PRIMARY KEY,"
    " employer TEXT NOT NULL,"
    " center TEXT NOT NULL REFERENCES center(id),"
    " amount INTEGER NOT NULL CHECK (amount > 0),"
    " governor_ref TEXT NOT NULL,"
    " date TEXT NOT NULL,"
    " entry_id INTEGER NOT NULL REFERENCES entry(id)"
    ") STRICT;"
    "CREATE TABLE offset_alloc("
    " agreement TEXT NOT NULL REFERENCES offset_agreement(agreement),"
    " employer TEXT NOT NULL,"
    " workshop TEXT NOT NULL,"
    " period TEXT NOT NULL,"
    " amount INTEGER NOT NULL CHECK (amount > 0),"
    " PRIMARY KEY (agreement, employer, workshop, period),"
    " FOREIGN KEY (employer, workshop, period) REFERENCES debt(employer, workshop, period)"
    ") STRICT;"
    "CREATE INDEX offset_alloc_debt ON offset_alloc(employer, workshop, period);"
    "CREATE TABLE payment("
    " ref TEXT PRIMARY KEY,"
    " center TEXT NOT NULL REFERENCES center(id),"
    " amount INTEGER NOT NULL CHECK (amount > 0),"
    " date TEXT NOT NULL,"
    " entry_id INTEGER NOT NULL REFERENCES entry(id)"
    ") STRICT;"
    /* A correction is a reversing entry; an entry is reversed at most once. */
    "CREATE TABLE reversal("
    " entry_id INTEGER PRIMARY KEY REFERENCES entry(id),"
    " reversal_entry_id INTEGER NOT NULL UNIQUE REFERENCES entry(id),"
    " date TEXT NOT NULL,"
    " reason TEXT NOT NULL"
    ") STRICT;"
    /* Balanced entries (debits = credits), enforced by the database. */
    "CREATE TRIGGER entry_must_balance BEFORE INSERT ON entry BEGIN"
    " SELECT RAISE(ABORT, 'ledger: unbalanced entry')"
    " WHERE (SELECT count(*) FROM posting WHERE entry_id = NEW.id) < 2"
    "    OR (SELECT sum(debit) FROM posting WHERE entry_id = NEW.id) IS NOT NEW.amount"
    "    OR (SELECT sum(credit) FROM posting WHERE entry_id = NEW.id) IS NOT NEW.amount;"
    " END;"
    "CREATE TRIGGER posting_entry_sealed BEFORE INSERT ON posting"
    " WHEN EXISTS (SELECT 1 FROM entry WHERE id = NEW.entry_id) BEGIN"
    " SELECT RAISE(ABORT, 'ledger: entry is sealed; a correction is a reversing entry');"
    " END;"
    /* Accounts: only the cached balance may change; nothing is deleted. */
    "CREATE TRIGGER account_fixed BEFORE UPDATE OF id, name, normal_side, floor_zero ON account"
    " BEGIN SELECT RAISE(ABORT, 'ledger: accounts are fixed once created'); END;"
    "CREATE TRIGGER account_no_delete BEFORE DELETE ON account"
    " BEGIN SELECT RAISE(ABORT, 'ledger: accounts are never deleted'); END;"
    "CREATE TRIGGER center_fixed BEFORE UPDATE OF id, payable_account, daroyar_account ON center"
    " BEGIN SELECT RAISE(ABORT, 'ledger: a center keeps its accounts'); END;"
    "CREATE TRIGGER center_no_delete BEFORE DELETE ON center"
    " BEGIN SELECT RAISE(ABORT, 'ledger: centers are never deleted'); END;";

/* Append-only journal tables: one UPDATE and one DELETE trigger each. */
static const char *const lg_journal_tables[] = {
    "entry", "posting", "batch", "batch_center", "settled_docs", "settled_packs",
    "debt", "offset_agreement", "offset_alloc", "payment", "reversal",
};

/* ---- Errors --------------------------------------------------------------- */

enum adj_err lg_map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return ADJ_OK;
    case SQLITE_FULL: return ADJ_E_LEDGER_DISK_FULL;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return ADJ_E_LEDGER_BUSY;
    case SQLITE_CORRUPT: return ADJ_E_LEDGER_CORRUPT;
    case SQLITE_NOTADB: return ADJ_E_LEDGER_NOT_LEDGER;
    case SQLITE_IOERR: return ADJ_E_IO;
    case SQLITE_NOMEM: return ADJ_E_NOMEM;
    case SQLITE_CANTOPEN: return ADJ_E_OPEN;
    case SQLITE_READONLY:
    case SQLITE_PERM: return ADJ_E_LEDGER_READONLY;
    case SQLITE_CONSTRAINT: return ADJ_E_LEDGER_CONSTRAINT;
    case SQLITE_TOOBIG: return ADJ_E_LEDGER_INPUT;
    default: return ADJ_E_LEDGER_SQL;
    }
}

enum adj_err lg_fail(struct ledger *l, int rc, struct adj_diag *diag, const char *what)
{
    enum adj_err err = lg_map_rc(rc);
    if (err == ADJ_OK) {
        err = ADJ_E_LEDGER_SQL;
    }
    /* The balance trigger's refusal gets its own name (the C check before
     * it makes this unreachable unless the two disagree). */
    if (err == ADJ_E_LEDGER_CONSTRAINT && l->db != NULL &&
        strstr(sqlite3_errmsg(l->db), "unbalanced entry") != NULL) {
        err = ADJ_E_LEDGER_UNBALANCED;
    }
    /* A damaged schema page can fail with another code than SQLITE_CORRUPT
     * (SQLITE_TOOBIG when its damage reads as a huge string): it is
     * corruption all the same, and the run must say so (exit 74). */
    if (l->db != NULL && strstr(sqlite3_errmsg(l->db), "malformed database schema") != NULL) {
        err = ADJ_E_LEDGER_CORRUPT;
    }
    adj_diag_set(diag, err, l->path, 0, 0, "%s: %s", what,
                 l->db != NULL ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
    return err;
}

/* ---- Statements ------------------------------------------------------------ */

int lg_step(struct ledger *l, sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    if (l->step_hook != NULL) {
        l->step_hook(l->step_hook_ctx);
    }
    return rc;
}

int lg_prepare(struct ledger *l, const char *sql, sqlite3_stmt **stmt)
{
    return sqlite3_prepare_v3(l->db, sql, -1, 0, stmt, NULL);
}

int lg_exec(struct ledger *l, const char *sql)
{
    const char *tail = sql;
    while (tail != NULL && *tail != '\0') {
        sqlite3_stmt *stmt = NULL;
        int rc = sqlite3_prepare_v3(l->db, tail, -1, 0, &stmt, &tail);
        if (rc != SQLITE_OK) {
            return rc;
        }
        if (stmt == NULL) {
            break; /* trailing white space */
        }
        do {
            rc = lg_step(l, stmt);
        } while (rc == SQLITE_ROW);
        sqlite3_finalize(stmt);
        if (rc != SQLITE_DONE) {
            return rc;
        }
    }
    return SQLITE_OK;
}

int lg_cached(struct ledger *l, const char *sql, sqlite3_stmt **stmt)
{
    for (size_t i = 0; i < l->cache_count; i++) {
        if (l->cache[i].sql == sql) {
            *stmt = l->cache[i].stmt;
            return SQLITE_OK;
        }
    }
    int rc = sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }
    /* A full cache is a programming error: LG_STMT_CACHE counts the literals. */
    ADJ_ASSERT(l->cache_count < LG_STMT_CACHE);
    l->cache[l->cache_count].sql = sql;
    l->cache[l->cache_count].stmt = *stmt;
    l->cache_count++;
    return SQLITE_OK;
}

void lg_release(sqlite3_stmt *stmt)
{
    if (stmt != NULL) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
    }
}

int lg_exec_cached(struct ledger *l, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    int rc = lg_cached(l, sql, &stmt);
    if (rc != SQLITE_OK) {
        return rc;
    }
    rc = lg_step(l, stmt);
    lg_release(stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

void lg_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
}

/* Runs a one-row query of one integer column; *found = false if no row. */
int lg_query_i64(struct ledger *l, sqlite3_stmt *stmt, int64_t *value, bool *found)
{
    int rc = lg_step(l, stmt);
    *found = false;
    if (rc == SQLITE_ROW) {
        *found = true;
        *value = sqlite3_column_int64(stmt, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(stmt);
    return rc;
}

/* ---- Transactions ---------------------------------------------------------- */

enum adj_err lg_begin(struct ledger *l, struct adj_diag *diag)
{
    ADJ_ASSERT(sqlite3_get_autocommit(l->db)); /* never nested, never a bare BEGIN */
    int rc = lg_exec(l, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) {
        return lg_fail(l, rc, diag, "cannot start a write transaction");
    }
    return ADJ_OK;
}

enum adj_err lg_commit(struct ledger *l, struct adj_diag *diag)
{
    int rc = lg_exec(l, "COMMIT");
    if (rc != SQLITE_OK) {
        enum adj_err err = lg_fail(l, rc, diag, "commit failed");
        lg_rollback(l);
        return err;
    }
    return ADJ_OK;
}

void lg_rollback(struct ledger *l)
{
    /* SQLite may already have rolled back (disk full, I/O error). */
    if (!sqlite3_get_autocommit(l->db)) {
        (void)lg_exec(l, "ROLLBACK");
    }
}

/* ---- Validation ------------------------------------------------------------- */

bool lg_id_ok(const char *s)
{
    if (s == NULL) {
        return false;
    }
    size_t len = strnlen(s, ADJ_ID_BYTES_MAX + 1);
    if (len == 0 || len > ADJ_ID_BYTES_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    size_t bad = 0;
    return text_utf8_valid(s, len, &bad) && s[0] != ' ' && s[len - 1] != ' ';
}

bool lg_amount_ok(int64_t amount) { return amount > 0 && amount <= ADJ_RIAL_MAX; }

bool lg_period_canon(const char *s, char out[8])
{
    struct jdate d;
    size_t off = 0;
    if (s == NULL || jdate_parse_month(s, strlen(s), &d, &off) != ADJ_OK) {
        return false;
    }
    snprintf(out, 8, "%04d/%02d", (int)d.year, (int)d.month);
    return true;
}

bool lg_date_canon(const char *s, char out[11])
{
    struct jdate d;
    size_t off = 0;
    if (s == NULL || jdate_parse(s, strlen(s), &d, &off) != ADJ_OK) {
        return false;
    }
    jdate_format(d, out);
    return true;
}

static bool lg_sector_ok(const char *s)
{
    size_t len = strnlen(s, 8);
    if (len == 0 || len > 7) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 'A' || s[i] > 'Z') {
            return false;
        }
    }
    return true;
}

static bool lg_hex32_ok(const char *s)
{
    if (s == NULL || strnlen(s, 33) != 32) {
        return false;
    }
    for (size_t i = 0; i < 32; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* ---- Accounts and entries --------------------------------------------------- */

enum adj_err lg_account(struct ledger *l, const char *name, char normal_side, bool floor_zero,
                        int64_t *id, struct adj_diag *diag)
{
    sqlite3_stmt *get = l->st_account_get;
    lg_bind_text(get, 1, name);
    bool found = false;
    int rc = lg_query_i64(l, get, id, &found);
    sqlite3_clear_bindings(get);
    if (rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, "account lookup");
    }
    if (found) {
        return ADJ_OK;
    }
    sqlite3_stmt *ins = l->st_account_ins;
    lg_bind_text(ins, 1, name);
    char side[2] = {normal_side, '\0'};
    sqlite3_bind_text(ins, 2, side, 1, SQLITE_TRANSIENT);
    sqlite3_bind_int(ins, 3, floor_zero ? 1 : 0);
    rc = lg_step(l, ins);
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    if (rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, "account create");
    }
    *id = sqlite3_last_insert_rowid(l->db);
    return ADJ_OK;
}

void lg_entry_init(struct lg_entry *e)
{
    memset(e, 0, sizeof *e);
}

void lg_entry_free(struct lg_entry *e)
{
    free(e->postings);
    memset(e, 0, sizeof *e);
}

/* Adds one posting; amounts of 0 are skipped (an entry line of nothing).
 * Overflow of the entry's totals is an error, never a wrap. */
enum adj_err lg_entry_add(struct lg_entry *e, int64_t account_id, int64_t debit, int64_t credit)
{
    ADJ_ASSERT(debit >= 0 && credit >= 0 && (debit == 0 || credit == 0));
    if (debit == 0 && credit == 0) {
        return ADJ_OK;
    }
    if (!money_add(e->debit_total, debit, &e->debit_total) ||
        !money_add(e->credit_total, credit, &e->credit_total)) {
        return ADJ_E_OVERFLOW;
    }
    if (e->count == e->cap) {
        size_t cap = e->cap == 0 ? 16 : e->cap * 2;
        struct lg_posting *p = realloc(e->postings, cap * sizeof *p);
        if (p == NULL) {
            return ADJ_E_NOMEM;
        }
        e->postings = p;
        e->cap = cap;
    }
    e->postings[e->count++] = (struct lg_posting){account_id, debit, credit};
    return ADJ_OK;
}

/* Writes a balanced entry: postings, then the sealing entry row, then the
 * cached balances. Must run inside a write transaction. */
enum adj_err lg_entry_write(struct ledger *l, struct lg_entry *e, const char *kind,
                            const char *ref, const char *value_date, const char *memo,
                            int64_t *entry_id, struct adj_diag *diag)
{
    /* Debits = credits, first time: in C, before anything is written. */
    ADJ_ASSERT(!sqlite3_get_autocommit(l->db));
    ADJ_ASSERT(e->count >= 2);
    ADJ_ASSERT(e->debit_total == e->credit_total);
    ADJ_ASSERT(e->debit_total > 0);

    bool found = false;
    int64_t id = 0;
    int rc = lg_query_i64(l, l->st_entry_next, &id, &found);
    if (rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, "entry id");
    }
    ADJ_ASSERT(found && id > 0);

    for (size_t i = 0; i < e->count; i++) {
        const struct lg_posting *p = &e->postings[i];
        /* The cached balance, with checked arithmetic and the limit. */
        sqlite3_stmt *get = l->st_balance_get;
        sqlite3_bind_int64(get, 1, p->account_id);
        rc = lg_step(l, get);
        if (rc != SQLITE_ROW) {
            sqlite3_reset(get);
            return lg_fail(l, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc, diag, "account balance");
        }
        int64_t balance = sqlite3_column_int64(get, 0);
        char side = (char)sqlite3_column_text(get, 1)[0];
        bool floor_zero = sqlite3_column_int(get, 2) != 0;
        sqlite3_reset(get);
        int64_t next = 0;
        if (!money_add(balance, p->debit, &next) || !money_sub(next, p->credit, &next)) {
            adj_diag_set(diag, ADJ_E_OVERFLOW, l->path, 0, 0,
                         "balance of account %lld would overflow int64", (long long)p->account_id);
            return ADJ_E_OVERFLOW;
        }
        /* Callers check limits with reasons first; this is the backstop. */
        ADJ_ASSERT(!floor_zero || (side == 'D' ? next >= 0 : next <= 0));
        sqlite3_stmt *set = l->st_balance_set;
        sqlite3_bind_int64(set, 1, next);
        sqlite3_bind_int64(set, 2, p->account_id);
        sqlite3_bind_int64(set, 3, balance);
        rc = lg_step(l, set);
        sqlite3_reset(set);
        if (rc != SQLITE_DONE) {
            return lg_fail(l, rc, diag, "balance update");
        }
        ADJ_ASSERT(sqlite3_changes(l->db) == 1);

        sqlite3_stmt *ins = l->st_posting_ins;
        sqlite3_bind_int64(ins, 1, id);
        sqlite3_bind_int64(ins, 2, p->account_id);
        sqlite3_bind_int64(ins, 3, p->debit);
        sqlite3_bind_int64(ins, 4, p->credit);
        rc = lg_step(l, ins);
        sqlite3_reset(ins);
        if (rc != SQLITE_DONE) {
            return lg_fail(l, rc, diag, "posting insert");
        }
    }
    sqlite3_stmt *ins = l->st_entry_ins;
    sqlite3_bind_int64(ins, 1, id);
    lg_bind_text(ins, 2, kind);
    lg_bind_text(ins, 3, ref);
    lg_bind_text(ins, 4, value_date);
    sqlite3_bind_int64(ins, 5, e->debit_total);
    lg_bind_text(ins, 6, memo);
    rc = lg_step(l, ins);
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    if (rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, "entry insert");
    }
    *entry_id = id;
    return ADJ_OK;
}

/* ---- Open, schema, migrations ---------------------------------------------- */

static const char *const lg_migrations[LEDGER_SCHEMA_VERSION + 1] = {
    NULL,         /* version 0: empty file */
    lg_schema_v1, /* 0 -> 1 */
};

static enum adj_err lg_pragma_i64(struct ledger *l, const char *sql, int64_t *out,
                                  struct adj_diag *diag)
{
    sqlite3_stmt *stmt = NULL;
    int rc = lg_prepare(l, sql, &stmt);
    if (rc == SQLITE_OK) {
        bool found = false;
        rc = lg_query_i64(l, stmt, out, &found);
        if (!found) {
            *out = 0;
        }
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, sql);
    }
    return ADJ_OK;
}

static enum adj_err lg_migrate(struct ledger *l, bool create, struct adj_diag *diag)
{
    int64_t app_id = 0, version = 0, tables = 0;
    enum adj_err err = lg_pragma_i64(l, "PRAGMA application_id", &app_id, diag);
    if (err == ADJ_OK) {
        err = lg_pragma_i64(l, "PRAGMA user_version", &version, diag);
    }
    if (err == ADJ_OK) {
        err = lg_pragma_i64(l, "SELECT count(*) FROM sqlite_schema", &tables, diag);
    }
    if (err != ADJ_OK) {
        return err;
    }
    bool empty = app_id == 0 && version == 0 && tables == 0;
    if (!empty && app_id != LEDGER_APPLICATION_ID) {
        adj_diag_set(diag, ADJ_E_LEDGER_NOT_LEDGER, l->path, 0, 0,
                     "application_id is %lld", (long long)app_id);
        return ADJ_E_LEDGER_NOT_LEDGER;
    }
    if (empty && !create) {
        adj_diag_set(diag, ADJ_E_LEDGER_NOT_LEDGER, l->path, 0, 0,
                     "empty database; run `dadras ledger init` first");
        return ADJ_E_LEDGER_NOT_LEDGER;
    }
    if (version > LEDGER_SCHEMA_VERSION) {
        adj_diag_set(diag, ADJ_E_LEDGER_SCHEMA_NEWER, l->path, 0, 0,
                     "schema %lld, this program knows up to %d", (long long)version,
                     LEDGER_SCHEMA_VERSION);
        return ADJ_E_LEDGER_SCHEMA_NEWER;
    }
    if (version == LEDGER_SCHEMA_VERSION) {
        return ADJ_OK;
    }
    if (empty) {
        /* Large pages suit the settled-id BLOBs; only settable before the
         * first table and outside WAL. */
        int rc = lg_exec(l, "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL");
        if (rc != SQLITE_OK) {
            return lg_fail(l, rc, diag, "cannot set page size and WAL");
        }
    }
    err = lg_begin(l, diag);
    if (err != ADJ_OK) {
        return err;
    }
    /* Re-read inside the write lock: another process may have migrated. */
    err = lg_pragma_i64(l, "PRAGMA user_version", &version, diag);
    for (int64_t v = version + 1; err == ADJ_OK && v <= LEDGER_SCHEMA_VERSION; v++) {
        int rc = lg_exec(l, lg_migrations[v]);
        if (rc == SQLITE_OK && v == 1) {
            for (size_t i = 0; rc == SQLITE_OK && i < sizeof lg_journal_tables / sizeof lg_journal_tables[0]; i++) {
                char sql[512];
                snprintf(sql, sizeof sql,
                         "CREATE TRIGGER %s_append_only_u BEFORE UPDATE ON %s BEGIN"
                         " SELECT RAISE(ABORT, 'ledger: %s is append-only; a correction is a"
                         " reversing entry'); END;"
                         "CREATE TRIGGER %s_append_only_d BEFORE DELETE ON %s BEGIN"
                         " SELECT RAISE(ABORT, 'ledger: %s is append-only'); END;",
                         lg_journal_tables[i], lg_journal_tables[i], lg_journal_tables[i],
                         lg_journal_tables[i], lg_journal_tables[i], lg_journal_tables[i]);
                rc = lg_exec(l, sql);
            }
        }
        if (rc == SQLITE_OK) {
            char sql[96];
            snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %lld",
                     LEDGER_APPLICATION_ID, (long long)v);
            rc = lg_exec(l, sql);
        }
        if (rc != SQLITE_OK) {
            err = lg_fail(l, rc, diag, "schema migration");
        }
    }
    if (err != ADJ_OK) {
        lg_rollback(l);
        return err;
    }
    return lg_commit(l, diag);
}

struct lg_stmt_def {
    size_t offset;
    const char *sql;
};

static const struct lg_stmt_def lg_stmt_defs[] = {
    {offsetof(struct ledger, st_account_get), "SELECT id FROM account WHERE name = ?1"},
    {offsetof(struct ledger, st_account_ins),
     "INSERT INTO account(name, normal_side, floor_zero, balance) VALUES (?1, ?2, ?3, 0)"},
    {offsetof(struct ledger, st_balance_get),
     "SELECT balance, normal_side, floor_zero FROM account WHERE id = ?1"},
    {offsetof(struct ledger, st_balance_set),
     "UPDATE account SET balance = ?1 WHERE id = ?2 AND balance = ?3"},
    {offsetof(struct ledger, st_posting_ins),
     "INSERT INTO posting(entry_id, account_id, debit, credit) VALUES (?1, ?2, ?3, ?4)"},
    {offsetof(struct ledger, st_entry_next), "SELECT coalesce(max(id), 0) + 1 FROM entry"},
    {offsetof(struct ledger, st_entry_ins),
     "INSERT INTO entry(id, kind, ref, value_date, amount, memo) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
};

enum adj_err ledger_open(const char *path, bool create, struct ledger **out,
                         struct adj_diag *diag)
{
    *out = NULL;
    struct ledger *l = calloc(1, sizeof *l);
    if (l == NULL) {
        adj_diag_set(diag, ADJ_E_NOMEM, path, 0, 0, NULL);
        return ADJ_E_NOMEM;
    }
    snprintf(l->path, sizeof l->path, "%s", path);
    if (!create) {
        struct stat st;
        if (stat(path, &st) != 0) {
            adj_diag_set(diag, ADJ_E_OPEN, path, 0, 0, "%s", strerror(errno));
            free(l);
            return ADJ_E_OPEN;
        }
    }
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    int rc = sqlite3_open_v2(path, &l->db, flags, NULL);
    enum adj_err err = ADJ_OK;
    if (rc != SQLITE_OK) {
        err = lg_fail(l, rc, diag, "cannot open");
        goto fail;
    }
    sqlite3_extended_result_codes(l->db, 1);
    sqlite3_busy_timeout(l->db, LEDGER_BUSY_TIMEOUT_MS);
    /* A read first: a file that is not a database fails here, not later. */
    int64_t dummy = 0;
    err = lg_pragma_i64(l, "PRAGMA schema_version", &dummy, diag);
    if (err != ADJ_OK) {
        goto fail;
    }
    rc = lg_exec(l, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;"
                    " PRAGMA trusted_schema = OFF; PRAGMA cache_size = -65536;"
                    " PRAGMA temp_store = MEMORY");
    if (rc != SQLITE_OK) {
        err = lg_fail(l, rc, diag, "cannot configure");
        goto fail;
    }
    err = lg_migrate(l, create, diag);
    if (err != ADJ_OK) {
        goto fail;
    }
    /* WAL is persistent; re-assert it for files made by the stock shell. */
    rc = lg_exec(l, "PRAGMA journal_mode = WAL");
    if (rc != SQLITE_OK) {
        err = lg_fail(l, rc, diag, "cannot enable WAL");
        goto fail;
    }
    for (size_t i = 0; i < sizeof lg_stmt_defs / sizeof lg_stmt_defs[0]; i++) {
        sqlite3_stmt **slot = (sqlite3_stmt **)(void *)((char *)l + lg_stmt_defs[i].offset);
        rc = sqlite3_prepare_v3(l->db, lg_stmt_defs[i].sql, -1, SQLITE_PREPARE_PERSISTENT, slot,
                                NULL);
        if (rc != SQLITE_OK) {
            err = lg_fail(l, rc, diag, "prepare");
            goto fail;
        }
    }
    *out = l;
    return ADJ_OK;
fail:
    /* The diag borrowed l->path; point it at the caller's string instead. */
    if (diag->file_name == l->path) {
        diag->file_name = path;
    }
    ledger_close(l);
    return err;
}

void ledger_close(struct ledger *l)
{
    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < sizeof lg_stmt_defs / sizeof lg_stmt_defs[0]; i++) {
        sqlite3_stmt **slot = (sqlite3_stmt **)(void *)((char *)l + lg_stmt_defs[i].offset);
        sqlite3_finalize(*slot);
    }
    for (size_t i = 0; i < l->cache_count; i++) {
        sqlite3_finalize(l->cache[i].stmt);
    }
    if (l->db != NULL) {
        sqlite3_close(l->db);
    }
    free(l);
}

struct sqlite3 *ledger_db(struct ledger *l) { return l->db; }

void ledger_set_step_hook(struct ledger *l, void (*hook)(void *ctx), void *ctx)
{
    l->step_hook = hook;
    l->step_hook_ctx = ctx;
}

/* ---- Posting a batch -------------------------------------------------------- */

static int lg_center_cmp(const void *a, const void *b)
{
    const struct ledger_center_total *const *x = a;
    const struct ledger_center_total *const *y = b;
    return strcmp((*x)->center, (*y)->center);
}

/* LSD radix sort, one byte per pass; passes where every key has the same
 * byte are skipped (the top bytes of pack keys often are). */
static void lg_radix_sort(uint64_t *keys, uint64_t *tmp, size_t n)
{
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++) {
            count[(keys[i] >> shift) & 0xff]++;
        }
        if (n == 0 || count[(keys[0] >> shift) & 0xff] == n) {
            continue;
        }
        size_t pos = 0;
        for (size_t b = 0; b < 256; b++) {
            size_t c = count[b];
            count[b] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++) {
            tmp[count[(keys[i] >> shift) & 0xff]++] = keys[i];
        }
        memcpy(keys, tmp, n * sizeof *keys);
    }
}

static void lg_hex128(XXH128_hash_t h, char out[33])
{
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
}

static void lg_hash_i64(XXH3_state_t *st, int64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)((uint64_t)v >> (8 * i));
    }
    XXH3_128bits_update(st, b, 8);
}

static void lg_hash_str(XXH3_state_t *st, const char *s)
{
    size_t len = strlen(s);
    lg_hash_i64(st, (int64_t)len);
    XXH3_128bits_update(st, s, len);
}

static int lg_str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Refuses a doc id settled twice in one batch, and sums the ids' hashes
 * (the order-free digest). Hashes are radix-sorted; only if two hashes are
 * equal are the strings compared (sorted), so the usual cost is linear.
 * tmp holds 2 * doc_count + 2 words. */
static enum adj_err lg_doc_ids_unique(struct ledger *l, const struct ledger_batch *b,
                                      uint64_t *tmp, uint64_t *sum, struct adj_diag *diag)
{
    uint64_t *h = tmp, *scratch = tmp + b->doc_count + 1;
    size_t n = 0, start = 0;
    *sum = 0;
    for (size_t i = 0; i < b->doc_ids_bytes; i++) {
        if (b->doc_ids[i] == '\0') {
            h[n] = XXH3_64bits(b->doc_ids + start, i - start);
            *sum += h[n++];
            start = i + 1;
        }
    }
    lg_radix_sort(h, scratch, n);
    bool maybe = false;
    for (size_t i = 1; i < n && !maybe; i++) {
        maybe = h[i] == h[i - 1];
    }
    if (!maybe) {
        return ADJ_OK;
    }
    const char **ids = malloc((n + 1) * sizeof *ids);
    if (ids == NULL) {
        adj_diag_set(diag, ADJ_E_NOMEM, l->path, 0, 0, NULL);
        return ADJ_E_NOMEM;
    }
    n = 0;
    for (size_t i = 0; i < b->doc_ids_bytes; i += strlen(b->doc_ids + i) + 1) {
        ids[n++] = b->doc_ids + i;
    }
    qsort(ids, n, sizeof *ids, lg_str_cmp);
    enum adj_err err = ADJ_OK;
    for (size_t i = 1; i < n && err == ADJ_OK; i++) {
        if (strcmp(ids[i], ids[i - 1]) == 0) {
            adj_diag_set(diag, ADJ_E_LEDGER_INPUT, l->path, 0, 0,
                         "doc id %s is settled twice in the batch", ids[i]);
            err = ADJ_E_LEDGER_INPUT;
        }
    }
    free(ids);
    return err;
}

/* Validated, sorted view of a batch ready to write. */
struct lg_batch_prep {
    char period[8];
    const struct ledger_center_total **centers; /* sorted by id */
    uint64_t *packs;                            /* sorted copy, little-endian on disk */
    char digest[33];
    int64_t insurer_total, daroyar_total;
};

static enum adj_err lg_batch_prepare(struct ledger *l, const struct ledger_batch *b,
                                     struct lg_batch_prep *p, struct adj_diag *diag)
{
    memset(p, 0, sizeof *p);
    const char *bad = NULL;
    if (!lg_id_ok(b->batch_id)) {
        bad = "batch_id must be 1..32 bytes of UTF-8 without control characters";
    } else if (!lg_hex32_ok(b->content_hash_hex)) {
        bad = "content hash must be 32 lower-case hex digits";
    } else if (!lg_id_ok(b->province)) {
        bad = "bad province";
    } else if (!lg_period_canon(b->period, p->period)) {
        bad = "period must be YYYY/MM";
    } else if (b->center_count > 0 && b->centers == NULL) {
        bad = "centers missing";
    } else if ((b->doc_count > 0 || b->doc_ids_bytes > 0) && b->doc_ids == NULL) {
        bad = "doc ids missing";
    } else if (b->pack_count > 0 && b->pack_ids == NULL) {
        bad = "pack ids missing";
    }
    if (bad != NULL) {
        adj_diag_set(diag, ADJ_E_LEDGER_INPUT, l->path, 0, 0, "%s", bad);
        return ADJ_E_LEDGER_INPUT;
    }
    /* Doc ids: exactly doc_count NUL-terminated ids of 1..32 bytes. */
    size_t ids = 0, start = 0;
    for (size_t i = 0; i < b->doc_ids_bytes; i++) {
        if (b->doc_ids[i] == '\0') {
            if (i == start || i - start > ADJ_ID_BYTES_MAX) {
                adj_diag_set(diag, ADJ_E_LEDGER_INPUT, l->path, 0, 0,
                             "settled doc id %zu is empty or longer than 32 bytes", ids + 1);
                return ADJ_E_LEDGER_INPUT;
            }
            ids++;
            start = i + 1;
        }
    }
    if (start != b->doc_ids_bytes || ids != b->doc_count) {
        adj_diag_set(diag, ADJ_E_LEDGER_INPUT, l->path, 0, 0,
                     "doc ids: %zu NUL-terminated ids in %zu bytes, doc_count says %zu", ids,
                     b->doc_ids_bytes, b->doc_count);
        return ADJ_E_LEDGER_INPUT;
    }
    p->centers = malloc((b->center_count + 1) * sizeof *p->centers);
    p->packs = malloc((b->pack_count + 1) * sizeof *p->packs);
    size_t tmp_n = (b->pack_count > b->doc_count ? b->pack_count : b->doc_count) * 2 + 2;
    uint64_t *tmp = malloc(tmp_n * sizeof *tmp);
    XXH3_state_t *st = XXH3_createState();
    enum adj_err err = ADJ_OK;
    if (p->centers == NULL || p->packs == NULL || tmp == NULL || st == NULL) {
        adj_diag_set(diag, ADJ_E_NOMEM, l->path, 0, 0, NULL);
        err = ADJ_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < b->center_count; i++) {
        const struct ledger_center_total *c = &b->centers[i];
        if (memchr(c->center, '\0', sizeof c->center) == NULL || !lg_id_ok(c->center) ||
            memchr(c->sector, '\0', sizeof c->sector) == NULL || !lg_sector_ok(c->sector)) {
            adj_diag_set(diag, ADJ_E_LEDGER_INPUT, l->path, 0, 0,
                         "center %zu: bad center id or sector", i + 1);
            err = ADJ_E_LEDGER_INPUT;
            goto out;
        }
        if (c->approved_insurer_rials < 0 || c->approved_insurer_rials > ADJ_RIAL_MAX ||
            c->approved_daroyar_rials < 0 || c->approved_daroyar_rials > ADJ_RIAL_MAX) {
            adj_diag_set(diag, ADJ_E_LEDGER_AMOUNT, l->path, 0, 0,
                         "center %s: approved totals must be 0..9e15 rials", c->center);
            err = ADJ_E_LEDGER_AMOUNT;
            goto out;
        }
        if (!money_add(p->insurer_total, c->approved_insurer_rials, &p->insurer_total) ||
            !money_add(p->daroyar_total, c->approved_daroyar_rials, &p->daroyar_total)) {
            adj_diag_set(diag, ADJ_E_OVERFLOW, l->path, 0, 0, "batch totals overflow int64");
            err = ADJ_E_OVERFLOW;
            goto out;
        }
        p->centers[i] = c;
    }
    int64_t grand = 0;
    if (!money_add(p->insurer_total, p->daroyar_total, &grand)) {
        adj_diag_set(diag, ADJ_E_OVERFLOW, l->path, 0, 0, "batch totals overflow int64");
        err = ADJ_E_OVERFLOW;
        goto out;
    }
    qsort(p->centers, b->center_count, sizeof *p->centers, lg_center_cmp);
    for (size_t i = 1; i < b->center_count; i++) {
        if (strcmp(p->centers[i - 1]->center, p->centers[i]->center) == 0) {
            adj_diag_set(diag, ADJ_E_LEDGER_INPUT, l->path, 0, 0,
                         "center %s appears twice in the batch totals", p->centers[i]->center);
            err = ADJ_E_LEDGER_INPUT;
            goto out;
        }
    }
    if (b->pack_count > 0) {
        memcpy(p->packs, b->pack_ids, b->pack_count * sizeof *p->packs);
    }
    lg_radix_sort(p->packs, tmp, b->pack_count);
    for (size_t i = 1; i < b->pack_count; i++) {
        if (p->packs[i] == p->packs[i - 1]) {
            adj_diag_set(diag, ADJ_E_LEDGER_INPUT, l->path, 0, 0,
                         "pack key %llu is settled twice in the batch",
                         (unsigned long long)p->packs[i]);
            err = ADJ_E_LEDGER_INPUT;
            goto out;
        }
    }

    /* The digest of everything posted; doc ids as a multiset (sum of
     * per-id hashes) so a run's output order does not matter. */
    XXH3_128bits_reset(st);
    lg_hash_str(st, "dadras-ledger-batch-v1");
    lg_hash_str(st, b->province);
    lg_hash_str(st, p->period);
    lg_hash_i64(st, (int64_t)b->center_count);
    for (size_t i = 0; i < b->center_count; i++) {
        lg_hash_str(st, p->centers[i]->center);
        lg_hash_str(st, p->centers[i]->sector);
        lg_hash_i64(st, p->centers[i]->approved_insurer_rials);
        lg_hash_i64(st, p->centers[i]->approved_daroyar_rials);
    }
    uint64_t doc_sum = 0;
    err = lg_doc_ids_unique(l, b, tmp, &doc_sum, diag);
    if (err != ADJ_OK) {
        goto out;
    }
    lg_hash_i64(st, (int64_t)b->doc_count);
    lg_hash_i64(st, (int64_t)doc_sum);
    lg_hash_i64(st, (int64_t)b->pack_count);
    for (size_t i = 0; i < b->pack_count; i++) {
        lg_hash_i64(st, (int64_t)p->packs[i]);
    }
    lg_hex128(XXH3_128bits_digest(st), p->digest);
out:
    free(tmp);
    XXH3_freeState(st);
    return err;
}

static void lg_batch_prep_free(struct lg_batch_prep *p)
{
    free(p->centers);
    free(p->packs);
    memset(p, 0, sizeof *p);
}

static enum adj_err lg_center_accounts(struct ledger *l, const char *center, const char *sector,
                                       int64_t *payable, int64_t *daroyar, struct adj_diag *diag)
{
    char name[64];
    snprintf(name, sizeof name, "center:%s:payable", center);
    enum adj_err err = lg_account(l, name, 'C', true, payable, diag);
    if (err == ADJ_OK) {
        snprintf(name, sizeof name, "center:%s:daroyar", center);
        err = lg_account(l, name, 'C', true, daroyar, diag);
    }
    if (err != ADJ_OK) {
        return err;
    }
    /* The sector decides offset eligibility; the latest posting's sector
     * wins (batch_center keeps the history). */
    sqlite3_stmt *stmt = NULL;
    int rc = lg_cached(l,
                        "INSERT INTO center(id, sector, payable_account, daroyar_account)"
                        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE SET sector = ?2"
                        " WHERE sector IS NOT ?2",
                        &stmt);
    if (rc == SQLITE_OK) {
        lg_bind_text(stmt, 1, center);
        lg_bind_text(stmt, 2, sector);
        sqlite3_bind_int64(stmt, 3, *payable);
        sqlite3_bind_int64(stmt, 4, *daroyar);
        rc = lg_step(l, stmt);
    }
    lg_release(stmt);
    if (rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, "center upsert");
    }
    return ADJ_OK;
}

static enum adj_err lg_batch_write(struct ledger *l, const struct ledger_batch *b,
                                   const struct lg_batch_prep *p, struct adj_diag *diag)
{
    struct lg_entry e;
    lg_entry_init(&e);
    int64_t treatment = 0, subsidy = 0, entry_id = 0;
    bool have_entry = p->insurer_total > 0 || p->daroyar_total > 0;
    sqlite3_stmt *stmt = NULL;
    enum adj_err err = lg_account(l, "sso:treatment", 'D', false, &treatment, diag);
    if (err == ADJ_OK) {
        err = lg_account(l, "subsidy:daroyar", 'D', false, &subsidy, diag);
    }
    for (size_t i = 0; err == ADJ_OK && i < b->center_count; i++) {
        const struct ledger_center_total *c = p->centers[i];
        int64_t payable = 0, daroyar = 0;
        err = lg_center_accounts(l, c->center, c->sector, &payable, &daroyar, diag);
        if (err == ADJ_OK) {
            err = lg_entry_add(&e, treatment, c->approved_insurer_rials, 0);
        }
        if (err == ADJ_OK) {
            err = lg_entry_add(&e, payable, 0, c->approved_insurer_rials);
        }
        if (err == ADJ_OK) {
            err = lg_entry_add(&e, subsidy, c->approved_daroyar_rials, 0);
        }
        if (err == ADJ_OK) {
            err = lg_entry_add(&e, daroyar, 0, c->approved_daroyar_rials);
        }
        /* lg_entry_add reports without a diag; store errors came with one. */
        if (err == ADJ_E_OVERFLOW || err == ADJ_E_NOMEM) {
            adj_diag_set(diag, err, l->path, 0, 0, "batch %s: entry totals", b->batch_id);
        }
    }
    if (err == ADJ_OK && have_entry) {
        char memo[96];
        snprintf(memo, sizeof memo, "batch %s, %s %s", b->batch_id, b->province, p->period);
        err = lg_entry_write(l, &e, "batch", b->batch_id, p->period, memo, &entry_id, diag);
    }
    lg_entry_free(&e);
    if (err != ADJ_OK) {
        return err;
    }

    int rc = lg_prepare(l,
                        "INSERT INTO batch(batch_id, content_hash, totals_digest, province, period,"
                        " entry_id, center_count, doc_count, pack_count, approved_insurer,"
                        " approved_daroyar) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                        &stmt);
    if (rc == SQLITE_OK) {
        lg_bind_text(stmt, 1, b->batch_id);
        lg_bind_text(stmt, 2, b->content_hash_hex);
        lg_bind_text(stmt, 3, p->digest);
        lg_bind_text(stmt, 4, b->province);
        lg_bind_text(stmt, 5, p->period);
        if (have_entry) {
            sqlite3_bind_int64(stmt, 6, entry_id);
        } else {
            sqlite3_bind_null(stmt, 6);
        }
        sqlite3_bind_int64(stmt, 7, (int64_t)b->center_count);
        sqlite3_bind_int64(stmt, 8, (int64_t)b->doc_count);
        sqlite3_bind_int64(stmt, 9, (int64_t)b->pack_count);
        sqlite3_bind_int64(stmt, 10, p->insurer_total);
        sqlite3_bind_int64(stmt, 11, p->daroyar_total);
        rc = lg_step(l, stmt);
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (rc != SQLITE_DONE) {
        return lg_fail(l, rc, diag, "batch insert");
    }

    rc = lg_prepare(l,
                    "INSERT INTO batch_center(batch_id, center, sector, approved_insurer,"
                    " approved_daroyar) VALUES (?1, ?2, ?3, ?4, ?5)",
                    &stmt);
    for (size_t i = 0; rc == SQLITE_OK && i < b->center_count; i++) {
        const struct ledger_center_total *c = p->centers[i];
        lg_bind_text(stmt, 1, b->batch_id);
        lg_bind_text(stmt, 2, c->center);
        lg_bind_text(stmt, 3, c->sector);
        sqlite3_bind_int64(stmt, 4, c->approved_insurer_rials);
        sqlite3_bind_int64(stmt, 5, c->approved_daroyar_rials);
        rc = lg_step(l, stmt);
        sqlite3_reset(stmt);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (rc != SQLITE_OK) {
        return lg_fail(l, rc, diag, "batch_center insert");
    }

    /* Settled doc ids: chunks split at id boundaries. */
    rc = lg_prepare(l, "INSERT INTO settled_docs(batch_id, chunk, count, ids) VALUES (?1, ?2, ?3, ?4)",
                    &stmt);
    size_t pos = 0;
    int64_t chunk = 0;
    while (rc == SQLITE_OK && pos < b->doc_ids_bytes) {
        size_t end = pos, count = 0;
        while (end < b->doc_ids_bytes) {
            size_t len = strlen(b->doc_ids + end) + 1;
            if (end - pos + len > LEDGER_DOC_CHUNK_BYTES && count > 0) {
                break;
            }
            end += len;
            count++;
        }
        lg_bind_text(stmt, 1, b->batch_id);
        sqlite3_bind_int64(stmt, 2, chunk++);
        sqlite3_bind_int64(stmt, 3, (int64_t)count);
        sqlite3_bind_blob64(stmt, 4, b->doc_ids + pos, end - pos, SQLITE_STATIC);
        rc = lg_step(l, stmt);
        sqlite3_reset(stmt);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        pos = end;
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (rc != SQLITE_OK) {
        return lg_fail(l, rc, diag, "settled doc ids");
    }

    /* Settled pack keys: sorted, little-endian, chunks of 1 Mi keys. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    for (size_t i = 0; i < b->pack_count; i++) {
        p->packs[i] = __builtin_bswap64(p->packs[i]);
    }
#endif
    rc = lg_prepare(l, "INSERT INTO settled_packs(batch_id, chunk, count, keys) VALUES (?1, ?2, ?3, ?4)",
                    &stmt);
    chunk = 0;
    for (size_t at = 0; rc == SQLITE_OK && at < b->pack_count; at += LEDGER_PACK_CHUNK_KEYS) {
        size_t n = b->pack_count - at < LEDGER_PACK_CHUNK_KEYS ? b->pack_count - at
                                                               : LEDGER_PACK_CHUNK_KEYS;
        lg_bind_text(stmt, 1, b->batch_id);
        sqlite3_bind_int64(stmt, 2, chunk++);
        sqlite3_bind_int64(stmt, 3, (int64_t)n);
        sqlite3_bind_blob64(stmt, 4, p->packs + at, n * sizeof(uint64_t), SQLITE_STATIC);
        rc = lg_step(l, stmt);
        sqlite3_reset(stmt);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_OK) {
        return lg_fail(l, rc, diag, "settled pack ids");
    }
    return ADJ_OK;
}

enum adj_err ledger_post_batch(struct ledger *l, const struct ledger_batch *b,
                               enum ledger_post_outcome *out, struct adj_diag *diag)
{
    struct lg_batch_prep p;
    *out = LEDGER_CONFLICT;
    enum adj_err err = lg_batch_prepare(l, b, &p, diag);
    if (err != ADJ_OK) {
        lg_batch_prep_free(&p);
        return err;
    }
    err = lg_begin(l, diag);
    if (err != ADJ_OK) {
        lg_batch_prep_free(&p);
        return err;
    }
    /* The key check and the work are one transaction (check-and-claim). */
    sqlite3_stmt *stmt = NULL;
    int rc = lg_prepare(l, "SELECT content_hash, totals_digest FROM batch WHERE batch_id = ?1",
                        &stmt);
    bool exists = false, same_hash = false, same_digest = false;
    if (rc == SQLITE_OK) {
        lg_bind_text(stmt, 1, b->batch_id);
        rc = lg_step(l, stmt);
        if (rc == SQLITE_ROW) {
            exists = true;
            same_hash = strcmp((const char *)sqlite3_column_text(stmt, 0), b->content_hash_hex) == 0;
            same_digest = strcmp((const char *)sqlite3_column_text(stmt, 1), p.digest) == 0;
            rc = SQLITE_DONE;
        }
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
        err = lg_fail(l, rc, diag, "batch lookup");
    } else if (exists) {
        lg_rollback(l);
        lg_batch_prep_free(&p);
        if (same_hash && same_digest) {
            *out = LEDGER_ALREADY_POSTED;
            return ADJ_OK;
        }
        *out = LEDGER_CONFLICT;
        adj_diag_set(diag, ADJ_E_LEDGER_CONFLICT, l->path, 0, 0, "batch %s: %s", b->batch_id,
                     !same_hash ? "the batch file's content hash differs"
                                : "same file, but the totals or settled ids differ (re-adjudicated "
                                  "under other rules?)");
        return ADJ_E_LEDGER_CONFLICT;
    } else {
        err = lg_batch_write(l, b, &p, diag);
    }
    if (err == ADJ_OK) {
        err = lg_commit(l, diag);
    } else {
        lg_rollback(l);
    }
    lg_batch_prep_free(&p);
    if (err == ADJ_OK) {
        *out = LEDGER_POSTED;
    }
    return err;
}

/* ---- Loading settled ids ------------------------------------------------------ */

/* The settled state (ledger.h): one line per batch whose ids are loaded.
 * The sums come from the chunk rows themselves (their count column, read
 * without touching the BLOBs), so a chunk appended behind the program's
 * back changes the state as surely as a new batch does. */
static const char lg_state_sql[] =
    "SELECT b.batch_id, b.totals_digest, b.doc_count, b.pack_count,"
    " (SELECT count(*) FROM settled_docs d WHERE d.batch_id = b.batch_id),"
    " (SELECT coalesce(sum(d.count), 0) FROM settled_docs d WHERE d.batch_id = b.batch_id),"
    " (SELECT count(*) FROM settled_packs p WHERE p.batch_id = b.batch_id),"
    " (SELECT coalesce(sum(p.count), 0) FROM settled_packs p WHERE p.batch_id = b.batch_id)"
    " FROM batch b WHERE b.batch_id NOT IN (SELECT b2.batch_id FROM batch b2 JOIN reversal r"
    " ON r.entry_id = b2.entry_id) ORDER BY b.batch_id";

/* Reads the state inside the caller's transaction. */
static enum adj_err lg_settled_state_read(struct ledger *l, char **state, struct adj_diag *diag)
{
    *state = NULL;
    size_t len = 0, cap = 256;
    char *buf = malloc(cap);
    if (buf == NULL) {
        adj_diag_set(diag, ADJ_E_NOMEM, l->path, 0, 0, NULL);
        return ADJ_E_NOMEM;
    }
    buf[0] = '\0';
    sqlite3_stmt *stmt = NULL;
    int rc = lg_prepare(l, lg_state_sql, &stmt);
    while (rc == SQLITE_OK && (rc = lg_step(l, stmt)) == SQLITE_ROW) {
        const unsigned char *id = sqlite3_column_text(stmt, 0);
        const unsigned char *digest = sqlite3_column_text(stmt, 1);
        /* Bounded: ids are at most 32 bytes, digests 32, six integers. */
        char line[256];
        int n = snprintf(line, sizeof line, "%s\t%s\t%lld\t%lld\t%lld\t%lld\t%lld\t%lld\n",
                         id != NULL ? (const char *)id : "", digest != NULL ? (const char *)digest : "",
                         (long long)sqlite3_column_int64(stmt, 2), (long long)sqlite3_column_int64(stmt, 3),
                         (long long)sqlite3_column_int64(stmt, 4), (long long)sqlite3_column_int64(stmt, 5),
                         (long long)sqlite3_column_int64(stmt, 6), (long long)sqlite3_column_int64(stmt, 7));
        if (n < 0 || (size_t)n >= sizeof line) {
            rc = SQLITE_CORRUPT;
            break;
        }
        if (len + (size_t)n + 1 > cap) {
            cap = (len + (size_t)n + 1) * 2;
            char *grown = realloc(buf, cap);
            if (grown == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            buf = grown;
        }
        memcpy(buf + len, line, (size_t)n + 1);
        len += (size_t)n;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        free(buf);
        return lg_fail(l, rc, diag, "reading the settled state");
    }
    *state = buf;
    return ADJ_OK;
}

enum adj_err ledger_settled_state(struct ledger *l, char **state, struct adj_diag *diag)
{
    *state = NULL;
    int rc = lg_exec(l, "BEGIN");
    if (rc != SQLITE_OK) {
        return lg_fail(l, rc, diag, "begin read");
    }
    enum adj_err err = lg_settled_state_read(l, state, diag);
    (void)lg_exec(l, "COMMIT");
    return err;
}

enum adj_err ledger_load_settled(struct ledger *l, void *ctx,
                                 void (*on_doc_ids)(void *ctx, const char *ids, size_t bytes,
                                                    size_t count),
                                 void (*on_pack_ids)(void *ctx, const uint64_t *keys,
                                                     size_t count),
                                 struct adj_diag *diag)
{
    return ledger_load_settled_state(l, ctx, on_doc_ids, on_pack_ids, NULL, NULL, NULL, diag);
}

/* Whether the line [line, line + len) (with its LF) is a line of text. */
static bool lg_state_has_line(const char *text, const char *line, size_t len)
{
    /* Bounded by text's length: each pass moves past one line. */
    for (const char *at = text; *at != '\0';) {
        const char *lf = strchr(at, '\n');
        size_t n = lf != NULL ? (size_t)(lf - at) + 1 : strlen(at);
        if (n == len && memcmp(at, line, len) == 0) {
            return true;
        }
        at += n;
    }
    return false;
}

/* Every line of `sub` is a line of `text`. */
static bool lg_state_lines_within(const char *sub, const char *text)
{
    for (const char *at = sub; *at != '\0';) {
        const char *lf = strchr(at, '\n');
        size_t n = lf != NULL ? (size_t)(lf - at) + 1 : strlen(at);
        if (!lg_state_has_line(text, at, n)) {
            return false;
        }
        at += n;
    }
    return true;
}

/* Batches to load: the lines of state that are not lines of known (all of
 * them when known is NULL); their batch ids, as pointers into state. */
struct lg_wanted {
    const char **ids;
    size_t *lens;
    size_t count;
    bool all;
};

static bool lg_wanted_build(struct lg_wanted *w, const char *state, const char *known)
{
    memset(w, 0, sizeof w[0]);
    if (known == NULL) {
        w->all = true;
        return true;
    }
    size_t lines = 0;
    for (const char *at = state; *at != '\0'; at++) {
        lines += *at == '\n';
    }
    w->ids = calloc(lines + 1, sizeof *w->ids);
    w->lens = calloc(lines + 1, sizeof *w->lens);
    if (w->ids == NULL || w->lens == NULL) {
        free(w->ids);
        free(w->lens);
        w->ids = NULL;
        w->lens = NULL;
        return false;
    }
    for (const char *at = state; *at != '\0';) {
        const char *lf = strchr(at, '\n');
        size_t n = lf != NULL ? (size_t)(lf - at) + 1 : strlen(at);
        if (!lg_state_has_line(known, at, n)) {
            w->ids[w->count] = at;
            w->lens[w->count] = strcspn(at, "\t\n");
            w->count++;
        }
        at += n;
    }
    return true;
}

static bool lg_wanted_has(const struct lg_wanted *w, const unsigned char *batch_id, int len)
{
    if (w->all) {
        return true;
    }
    for (size_t i = 0; batch_id != NULL && i < w->count; i++) {
        if (w->lens[i] == (size_t)len && memcmp(w->ids[i], batch_id, (size_t)len) == 0) {
            return true;
        }
    }
    return false;
}

enum adj_err ledger_load_settled_state(struct ledger *l, void *ctx,
                                       void (*on_doc_ids)(void *ctx, const char *ids, size_t bytes,
                                                          size_t count),
                                       void (*on_pack_ids)(void *ctx, const uint64_t *keys,
                                                           size_t count),
                                       const char *known, bool *known_kept, char **state,
                                       struct adj_diag *diag)
{
    ADJ_ASSERT(known == NULL || (state != NULL && known_kept != NULL));
    /* One read transaction so both tables (and the state) are one snapshot. */
    int rc = lg_exec(l, "BEGIN");
    if (rc != SQLITE_OK) {
        return lg_fail(l, rc, diag, "begin read");
    }
    sqlite3_stmt *stmt = NULL;
    enum adj_err err = ADJ_OK;
    struct lg_wanted wanted;
    memset(&wanted, 0, sizeof wanted);
    wanted.all = true;
    if (state != NULL) {
        err = lg_settled_state_read(l, state, diag);
        if (err != ADJ_OK) {
            (void)lg_exec(l, "COMMIT");
            return err;
        }
        if (known != NULL) {
            *known_kept = lg_state_lines_within(known, *state);
            if (!*known_kept) {
                /* A batch of `known` was reversed (or the ledger is not the
                 * one `known` describes): the caller loads everything. */
                (void)lg_exec(l, "COMMIT");
                return ADJ_OK;
            }
            if (!lg_wanted_build(&wanted, *state, known)) {
                err = ADJ_E_NOMEM;
            }
        }
    }
    if (err == ADJ_OK && on_doc_ids != NULL) {
        rc = lg_prepare(l, "SELECT batch_id, count, ids FROM settled_docs WHERE batch_id NOT IN"
                           " (SELECT b.batch_id FROM batch b JOIN reversal r ON r.entry_id = b.entry_id)"
                           " ORDER BY batch_id, chunk", &stmt);
        while (rc == SQLITE_OK && (rc = lg_step(l, stmt)) == SQLITE_ROW) {
            rc = SQLITE_OK;
            /* Skipped rows' BLOBs are never read (SQLite reads a column
             * when it is asked for). */
            if (!lg_wanted_has(&wanted, sqlite3_column_text(stmt, 0), sqlite3_column_bytes(stmt, 0))) {
                continue;
            }
            int64_t count = sqlite3_column_int64(stmt, 1);
            const char *ids = sqlite3_column_blob(stmt, 2);
            int bytes = sqlite3_column_bytes(stmt, 2);
            if (count <= 0 || bytes <= 0 || ids == NULL || ids[bytes - 1] != '\0') {
                err = ADJ_E_LEDGER_CORRUPT;
                break;
            }
            on_doc_ids(ctx, ids, (size_t)bytes, (size_t)count);
        }
        sqlite3_finalize(stmt);
        stmt = NULL;
    }
    uint64_t *buf = NULL;
    if (err == ADJ_OK && (rc == SQLITE_OK || rc == SQLITE_DONE) && on_pack_ids != NULL) {
        buf = malloc(LEDGER_PACK_CHUNK_KEYS * sizeof *buf);
        if (buf == NULL) {
            err = ADJ_E_NOMEM;
        }
        rc = lg_prepare(l, "SELECT batch_id, count, keys FROM settled_packs WHERE batch_id NOT IN"
                           " (SELECT b.batch_id FROM batch b JOIN reversal r ON r.entry_id = b.entry_id)"
                           " ORDER BY batch_id, chunk", &stmt);
        while (err == ADJ_OK && rc == SQLITE_OK && (rc = lg_step(l, stmt)) == SQLITE_ROW) {
            rc = SQLITE_OK;
            if (!lg_wanted_has(&wanted, sqlite3_column_text(stmt, 0), sqlite3_column_bytes(stmt, 0))) {
                continue;
            }
            int64_t count = sqlite3_column_int64(stmt, 1);
            const void *keys = sqlite3_column_blob(stmt, 2);
            int bytes = sqlite3_column_bytes(stmt, 2);
            if (count <= 0 || (uint64_t)count > LEDGER_PACK_CHUNK_KEYS || keys == NULL ||
                (int64_t)bytes != count * 8) {
                err = ADJ_E_LEDGER_CORRUPT;
                break;
            }
            /* Copy: a BLOB pointer need not be 8-byte aligned. */
            memcpy(buf, keys, (size_t)bytes);
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
            for (int64_t i = 0; i < count; i++) {
                buf[i] = __builtin_bswap64(buf[i]);
            }
#endif
            on_pack_ids(ctx, buf, (size_t)count);
        }
        sqlite3_finalize(stmt);
    }
    free(buf);
    free(wanted.ids);
    free(wanted.lens);
    if (err == ADJ_OK && rc != SQLITE_OK && rc != SQLITE_DONE) {
        err = lg_fail(l, rc, diag, "loading settled ids");
    } else if (err == ADJ_E_LEDGER_CORRUPT) {
        adj_diag_set(diag, err, l->path, 0, 0, "a settled-id chunk has the wrong size");
    } else if (err == ADJ_E_NOMEM) {
        adj_diag_set(diag, err, l->path, 0, 0, NULL);
    }
    (void)lg_exec(l, "COMMIT");
    if (err != ADJ_OK && state != NULL) {
        free(*state);
        *state = NULL;
    }
    return err;
}

void ledger_settled_counts(struct ledger *ledger, uint64_t *doc_count, uint64_t *pack_count)
{
    sqlite3_stmt *stmt = NULL;
    *doc_count = 0;
    *pack_count = 0;
    if (sqlite3_prepare_v2(ledger_db(ledger),
                           "SELECT coalesce(sum(doc_count), 0), coalesce(sum(pack_count), 0) FROM batch",
                           -1, &stmt, NULL) != SQLITE_OK) {
        return;
    }
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        sqlite3_int64 docs = sqlite3_column_int64(stmt, 0);
        sqlite3_int64 packs = sqlite3_column_int64(stmt, 1);
        *doc_count = docs > 0 ? (uint64_t)docs : 0;
        *pack_count = packs > 0 ? (uint64_t)packs : 0;
    }
    sqlite3_finalize(stmt);
}

bool ledger_batch_content_hash(struct ledger *ledger, const char *batch_id, char hash_hex[33])
{
    sqlite3_stmt *stmt = NULL;
    bool found = false;
    if (sqlite3_prepare_v2(ledger_db(ledger), "SELECT content_hash FROM batch WHERE batch_id = ?1",
                           -1, &stmt, NULL) != SQLITE_OK) {
        return false;
    }
    sqlite3_bind_text(stmt, 1, batch_id, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text(stmt, 0);
        if (text != NULL) {
            snprintf(hash_hex, 33, "%s", (const char *)text);
            found = true;
        }
    }
    sqlite3_finalize(stmt);
    return found;
}
