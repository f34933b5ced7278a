/*
 * Internal to core/ledger*.c: the ledger handle and the helpers its files
 * share (statements, transactions, validation, the one entry writer). Not
 * part of the ledger's interface; other modules include core/ledger.h only.
 */
#ifndef ADJ_CORE_LEDGER_IMPL_H
#define ADJ_CORE_LEDGER_IMPL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/ledger.h"

#define LG_STMT_CACHE 32

struct ledger {
    sqlite3 *db;
    char path[512];
    char aux_name[1024]; /* file named by a diag of ledger_post_outdir */
    void (*step_hook)(void *ctx);
    void *step_hook_ctx;
    /* Statements of the hot path, prepared once at open. */
    sqlite3_stmt *st_account_get;
    sqlite3_stmt *st_account_ins;
    sqlite3_stmt *st_balance_get;
    sqlite3_stmt *st_balance_set;
    sqlite3_stmt *st_posting_ins;
    sqlite3_stmt *st_entry_next;
    sqlite3_stmt *st_entry_ins;
    /* Statements of per-row operations, prepared on first use and kept:
     * preparing costs more than running them (keyed by the SQL string's
     * address, so only string literals go here). */
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[LG_STMT_CACHE];
    size_t cache_count;
};

/* A journal entry being built: postings with non-zero amounts. */
struct lg_posting {
    int64_t account_id;
    int64_t debit, credit;
};
struct lg_entry {
    struct lg_posting *postings;
    size_t count, cap;
    int64_t debit_total, credit_total;
};

enum adj_err lg_map_rc(int rc);
enum adj_err lg_fail(struct ledger *l, int rc, struct adj_diag *diag, const char *what);
int lg_step(struct ledger *l, sqlite3_stmt *stmt);
int lg_prepare(struct ledger *l, const char *sql, sqlite3_stmt **stmt);
int lg_exec(struct ledger *l, const char *sql);
/* A cached statement for a string literal; give it back with lg_release
 * (reset and unbound) before the next use, instead of finalizing it. */
int lg_cached(struct ledger *l, const char *sql, sqlite3_stmt **stmt);
void lg_release(sqlite3_stmt *stmt);
/* Runs one cached statement that returns no rows. */
int lg_exec_cached(struct ledger *l, const char *sql);
void lg_bind_text(sqlite3_stmt *stmt, int index, const char *text);
int lg_query_i64(struct ledger *l, sqlite3_stmt *stmt, int64_t *value, bool *found);
enum adj_err lg_begin(struct ledger *l, struct adj_diag *diag);
enum adj_err lg_commit(struct ledger *l, struct adj_diag *diag);
void lg_rollback(struct ledger *l);

bool lg_id_ok(const char *s);
bool lg_amount_ok(int64_t amount);
bool lg_period_canon(const char *s, char out[8]);
bool lg_date_canon(const char *s, char out[11]);

enum adj_err lg_account(struct ledger *l, const char *name, char normal_side, bool floor_zero,
                        int64_t *id, struct adj_diag *diag);
void lg_entry_init(struct lg_entry *e);
void lg_entry_free(struct lg_entry *e);
enum adj_err lg_entry_add(struct lg_entry *e, int64_t account_id, int64_t debit, int64_t credit);
enum adj_err lg_entry_write(struct ledger *l, struct lg_entry *e, const char *kind,
                            const char *ref, const char *value_date, const char *memo,
                            int64_t *entry_id, struct adj_diag *diag);

#endif
