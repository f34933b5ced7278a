/*
 * The offset ledger (spec/ledger.md): a book of balanced debit/credit
 * entries, in one SQLite file, of what SSO owes each contracted center
 * (posted from verified batches), what
 * debtor employers owe SSO (hard-to-collect premium debts), and the offsets
 * (tahator) of circular 1000/98/10704 that cancel one against the other.
 *
 * Guarantees, each tested (tests/unit/test_ledger*.c):
 *  - Every write is one transaction opened with BEGIN IMMEDIATE; a crash at
 *    any statement leaves the book as before or after the whole operation.
 *  - Debits = credits is enforced twice: by this code before a row is written
 *    (ADJ_ASSERT, on in release builds) and by the database after (triggers
 *    refuse an unbalanced entry and any UPDATE/DELETE of journal rows).
 *  - Idempotency: a batch is keyed by batch_id; the same content again is a
 *    no-op that says so (LEDGER_ALREADY_POSTED), other content is refused
 *    (LEDGER_CONFLICT). Debts are keyed by (employer, workshop, period),
 *    agreements by agreement id, payments by ref: the same values again are a
 *    no-op, other values are refused.
 *  - Money is int64 rials; every sum and balance is checked; a single amount
 *    above ADJ_RIAL_MAX (9e15) is refused; nothing ever wraps.
 *
 * Accounts (names as in spec/ledger.md): center:ID:payable,
 * center:ID:daroyar, subsidy:daroyar, employer:ID:debt, sso:treatment,
 * sso:premium, sso:bank. Balances are kept debit-positive in the database
 * (debits minus credits); the functions below report them on the account's
 * normal side (positive = what the account normally holds).
 *
 * Files read and written by `dadras ledger post OUTDIR` (the run writes them,
 * ledger_totals_write does it for the pipeline; format version 1):
 *   OUTDIR/totals.tsv   UTF-8, LF, TAB-separated. Lines starting with '#' are
 *                       comments. For each batch of the run, in order:
 *       batch  batch_id  content_hash  province  period  verified  center_count  doc_count  pack_count
 *       center  center_id  sector  approved_insurer  approved_daroyar    (center_count rows)
 *     then one final line `end  batch_count`. content_hash is the 32 lower-
 *     case hex digits of XXH3-128 of the decompressed batch; period is
 *     YYYY/MM; verified is 1 or 0 (a 0 batch is refused, never posted).
 *   OUTDIR/settled_docs.txt   one canonical doc id per line (LF), the doc_count
 *                       ids of the first batch, then those of the second, ...
 *   OUTDIR/settled_packs.u64  little-endian uint64 ids_uid_pack keys, the
 *                       pack_count keys of the first batch, then the second, ...
 *   A missing `end` line, a wrong count or a file of the wrong size is refused
 *   (a truncated run output is never posted).
 */
#ifndef ADJ_CORE_LEDGER_H
#define ADJ_CORE_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base/err.h"

struct ledger;
struct sqlite3;

/* Schema version this program writes (PRAGMA user_version). */
#define LEDGER_SCHEMA_VERSION 1
/* PRAGMA application_id of a dadras ledger ("DDRS"), so another SQLite file
 * is never mistaken for one. */
#define LEDGER_APPLICATION_ID 0x44445253
/* Milliseconds a writer waits for another writer before E_LEDGER_BUSY: a
 * province-month post takes seconds, so a concurrent one waits it out. */
#define LEDGER_BUSY_TIMEOUT_MS 60000
/* Settled ids are stored per batch in chunks of at most this many pack keys
 * (8 MiB) and this many doc-id bytes, so no BLOB nears SQLite's 1 GB limit
 * and the loader reuses one buffer. */
#define LEDGER_PACK_CHUNK_KEYS (1u << 20)
#define LEDGER_DOC_CHUNK_BYTES (8u << 20)

/* Opens (create = true: creates and initialises if absent) a ledger file,
 * applies pending schema migrations, sets WAL, synchronous=FULL,
 * foreign_keys=ON and the busy timeout. Refuses a SQLite file that is not a
 * ledger (E_LEDGER_NOT_LEDGER) or is newer (E_LEDGER_SCHEMA_NEWER). */
enum adj_err ledger_open(const char *path, bool create, struct ledger **out,
                         struct adj_diag *diag);
void ledger_close(struct ledger *ledger);

/* ---- Posting verified batches -------------------------------------------- */

struct ledger_center_total {
    char center[33];             /* center id, 1..32 bytes */
    char sector[8];              /* GOV, UNI, PUB, PRV, CHR, SSO, ... */
    int64_t approved_insurer_rials;
    int64_t approved_daroyar_rials;
};

struct ledger_batch {
    const char *batch_id;
    const char *content_hash_hex; /* XXH3-128 of the decompressed batch, 32 hex chars */
    const char *province;
    const char *period;           /* YYYY/MM */
    const struct ledger_center_total *centers;
    size_t center_count;
    const char *doc_ids;          /* settled doc ids, each NUL-terminated, canonical keys */
    size_t doc_ids_bytes;
    size_t doc_count;
    const uint64_t *pack_ids;     /* settled pack ids: ids_uid_pack keys, any order */
    size_t pack_count;
};

enum ledger_post_outcome { LEDGER_POSTED, LEDGER_ALREADY_POSTED, LEDGER_CONFLICT };

/* Posts a verified batch in one transaction: per center Dr sso:treatment /
 * Cr center:ID:payable (insurer) and Dr subsidy:daroyar / Cr center:ID:daroyar
 * (Daroyar), the batch row, its settled doc ids and pack ids. *out says
 * what happened; LEDGER_CONFLICT also returns E_LEDGER_CONFLICT with the
 * differing part in diag. Identity: batch_id; content: content hash plus a
 * digest of everything posted (province, period, totals, doc ids, pack ids),
 * so re-adjudicating the same file under other rules is a conflict too. */
enum adj_err ledger_post_batch(struct ledger *ledger, const struct ledger_batch *batch,
                               enum ledger_post_outcome *out, struct adj_diag *diag);

/* Hands every settled doc id chunk and pack id chunk to the callbacks, in
 * one read snapshot: on_doc_ids gets `count` ids, each NUL-terminated,
 * filling exactly `bytes` bytes (at most LEDGER_DOC_CHUNK_BYTES); on_pack_ids
 * gets `count` keys (at most LEDGER_PACK_CHUNK_KEYS), sorted within the
 * chunk, not across chunks. All doc chunks come first, then all pack
 * chunks; batches that were reversed are skipped. The pointers are valid
 * during the call only. Either callback may be NULL. */
enum adj_err ledger_load_settled(struct ledger *ledger, void *ctx,
                                 void (*on_doc_ids)(void *ctx, const char *ids, size_t bytes,
                                                    size_t count),
                                 void (*on_pack_ids)(void *ctx, const uint64_t *keys,
                                                     size_t count),
                                 struct adj_diag *diag);

/* As ledger_load_settled, and *state (malloc'd, NUL-terminated; see
 * ledger_settled_state) says what the ledger settles, read in the same
 * snapshot (state may be NULL). *state is NULL after an error.
 * known != NULL (then state and known_kept too): a state whose ids the
 * caller holds already (its settled-id index's). If every line of known is
 * a line of the snapshot's state, *known_kept is true and only the batches
 * of the other lines are handed out (those posted since); otherwise (a
 * batch of known was reversed since, or known is of another ledger)
 * *known_kept is false and nothing is handed out. */
enum adj_err ledger_load_settled_state(struct ledger *ledger, void *ctx,
                                       void (*on_doc_ids)(void *ctx, const char *ids, size_t bytes,
                                                          size_t count),
                                       void (*on_pack_ids)(void *ctx, const uint64_t *keys,
                                                           size_t count),
                                       const char *known, bool *known_kept, char **state,
                                       struct adj_diag *diag);

/* The settled state: which settled ids ledger_load_settled would hand out
 * now, as text (malloc'd into *state): one line per batch not reversed, in
 * batch_id order,
 *   batch_id TAB totals_digest TAB doc_count TAB pack_count TAB
 *   doc_chunks TAB doc_ids_in_chunks TAB pack_chunks TAB pack_keys_in_chunks LF
 * totals_digest covers the batch's doc ids and pack keys (ledger_post_batch)
 * and the journal is append-only, so two equal states load equal sets. The
 * settled-id index (below) records the state it was built from. */
enum adj_err ledger_settled_state(struct ledger *ledger, char **state, struct adj_diag *diag);

/* Settled doc ids and pack ids over every posted batch (reversed ones
 * included: an upper bound), so a run can size its sets before
 * ledger_load_settled. Zeros if the ledger cannot say. */
void ledger_settled_counts(struct ledger *ledger, uint64_t *doc_count, uint64_t *pack_count);

/* ---- The settled-id index (sidecar file LEDGER.idx) -----------------------
 * Loading a year of settled ids from the ledger (45 M pack keys, 12 M doc
 * ids) means reading 560 MB of BLOBs and hashing every id into fresh
 * tables: ~3.5 s at `dadras run` startup. The index is those tables as
 * they sit in memory (the layout of core/base/idset.h), written to
 * `LEDGER.idx` beside the ledger and mapped by the next run instead of
 * rebuilt. It is a cache: never the only copy of anything, rebuilt from the
 * ledger whenever it is missing, stale or damaged, and deleting it is
 * always safe.
 *
 * Why it is never trusted when wrong:
 *  - It records the settled state (ledger_settled_state) it was built
 *    from, read in the same snapshot as the ids it holds. A run uses it
 *    only if every line of that state is still a line of the ledger's
 *    state (one per batch: id, digest of its ids, counts), and loads the
 *    batches of the other lines, those posted since by any process, from
 *    the ledger into a small set consulted with it (idset `also`). A batch
 *    reversed since makes it stale: the run loads everything.
 *  - Every section (state, pack table, doc table, doc bytes) carries an
 *    XXH3-128 checksum verified on every map, and the header its own: a
 *    truncated, torn or bit-flipped file is DAMAGED, never used.
 *  - It is written to a temporary name (LEDGER.idx.XXXXXX) and renamed
 *    over LEDGER.idx, so a reader sees an old file or a new one. Not
 *    fsynced: after a crash the checksums catch whatever did not reach the
 *    disk. A crash may leave a LEDGER.idx.XXXXXX behind; delete it.
 *  - Lookups stay exact: the tables hold whole keys and whole doc ids.
 * Layout (native byte order and struct layout; a file from another kind of
 * machine is DAMAGED): a 4 KiB header, then the state text, the pack
 * table, the doc slots and the doc bytes, each at a 4 KiB boundary. */

struct idset_u64;
struct idset_str;
struct ledger_index;

enum ledger_index_status {
    LEDGER_INDEX_OK,      /* mapped; checksums verified */
    LEDGER_INDEX_MISSING, /* no LEDGER.idx */
    LEDGER_INDEX_STALE,   /* valid, but a batch it holds is no longer settled */
    LEDGER_INDEX_DAMAGED, /* unreadable, wrong size, checksum mismatch */
};
const char *ledger_index_status_name(enum ledger_index_status status);

/* Maps ledger_path + ".idx" and verifies it (checksums on two threads).
 * OK: *packs and *docs are read-only views of it (idset_*_borrow), valid
 * until ledger_index_unmap(*out); *state (malloc'd) is the settled state
 * the index holds the ids of. The caller compares it with the ledger's
 * (ledger_load_settled_state with known = *state loads what was posted
 * since). Otherwise *out and *state are NULL and the sets zeroed. */
enum ledger_index_status ledger_index_map(const char *ledger_path, struct ledger_index **out,
                                          struct idset_u64 *packs, struct idset_str *docs,
                                          char **state);
void ledger_index_unmap(struct ledger_index *index);
/* Writes the index of `state` holding exactly packs and docs (which must be
 * the ids that state settles, read in one snapshot with it) to
 * ledger_path + ".idx", atomically (temporary name, rename). */
enum adj_err ledger_index_write(const char *ledger_path, const char *state,
                                const struct idset_u64 *packs, const struct idset_str *docs,
                                struct adj_diag *diag);

/* Whether batch_id was posted, and with which content hash (32 hex digits
 * and NUL into hash_hex). */
bool ledger_batch_content_hash(struct ledger *ledger, const char *batch_id, char hash_hex[33]);

/* ---- Debts, offsets, payments -------------------------------------------- */

/* What happened to one input row. */
enum ledger_row_outcome { LEDGER_ROW_APPLIED, LEDGER_ROW_ALREADY, LEDGER_ROW_REFUSED };
struct ledger_row_result {
    enum ledger_row_outcome outcome;
    enum adj_err reason;         /* ADJ_OK unless refused */
    char detail[120];
};

struct ledger_debt {
    const char *employer;
    const char *workshop;
    const char *period;          /* YYYY/MM */
    int64_t amount_rials;        /* 1..ADJ_RIAL_MAX */
    bool hard_to_collect;
};

/* Imports debts (Dr employer:ID:debt / Cr sso:premium), all rows or none:
 * a row whose key exists with other values refuses the whole import (its
 * result says why); rows present with the same values are ALREADY. Rows are
 * validated first. */
enum adj_err ledger_import_debts(struct ledger *ledger, const struct ledger_debt *rows,
                                 size_t count, struct ledger_row_result *results,
                                 struct adj_diag *diag);

struct ledger_offset {
    const char *agreement;
    const char *employer;
    const char *center;
    int64_t amount_rials;        /* 1..ADJ_RIAL_MAX */
    const char *governor_ref;
    const char *date;            /* YYYY/MM/DD */
};

/* Applies offset agreements (Dr center:ID:payable / Cr employer:ID:debt),
 * each all or nothing, in one transaction per call. A row is
 * refused, with nothing written for it, when: the center or employer is
 * unknown, the center's sector is not GOV/UNI/PRV/CHR, the amount exceeds
 * the center's payable balance or the employer's offsettable debt (hard to
 * collect and period before 1396/01, less what was offset already), or the
 * agreement id was applied with other values. The same row again is ALREADY.
 * The amount is allocated to the employer's offsettable debts oldest period
 * first, then by workshop, for the clause 5 report. Returns ADJ_OK when the
 * transaction committed (rows may still be refused: see results). */
enum adj_err ledger_apply_offsets(struct ledger *ledger, const struct ledger_offset *rows,
                                  size_t count, struct ledger_row_result *results,
                                  struct adj_diag *diag);

struct ledger_payment {
    const char *center;
    int64_t amount_rials;        /* 1..ADJ_RIAL_MAX */
    const char *date;            /* YYYY/MM/DD */
    const char *ref;             /* idempotency key */
};

/* Pays centers (Dr center:ID:payable / Cr sso:bank), each row all or
 * nothing like ledger_apply_offsets; refused above the payable balance. */
enum adj_err ledger_pay(struct ledger *ledger, const struct ledger_payment *rows, size_t count,
                        struct ledger_row_result *results, struct adj_diag *diag);

/* Corrects an entry by a reversing entry (kind 'reversal': every posting
 * with debit and credit swapped, value date `date`), in one transaction.
 * An entry is reversed at most once: the same date and reason again is
 * LEDGER_ROW_ALREADY, others E_LEDGER_REVERSAL_CONFLICT. Refused
 * (E_LEDGER_REVERSAL) for a reversal entry, and for a debt that has
 * unreversed offsets against it (reverse those first); refused with
 * E_LEDGER_OVER_PAYABLE / E_LEDGER_OVER_DEBT if an account would pass zero
 * (a batch whose payable was already paid or offset). A reversed batch's
 * settled ids are no longer loaded (its documents may be settled again in a
 * new batch, under a new batch_id: the old batch_id stays spent); a reversed
 * debt is no longer offsettable; a reversed offset frees the debt it paid
 * and leaves the clause 5 report. */
enum adj_err ledger_reverse(struct ledger *ledger, int64_t entry_id, const char *date,
                            const char *reason, struct ledger_row_result *result,
                            int64_t *reversal_entry_id, struct adj_diag *diag);

/* ---- Reading ------------------------------------------------------------- */

struct ledger_balance_row {
    const char *account;
    char normal_side;            /* 'D' or 'C' */
    int64_t balance;             /* on the normal side */
    int64_t debits, credits;     /* totals of its postings */
};
enum adj_err ledger_balances(struct ledger *ledger, void *ctx,
                             void (*on_row)(void *ctx, const struct ledger_balance_row *row),
                             struct adj_diag *diag);

struct ledger_statement_row {
    int64_t entry_id;
    const char *kind;            /* batch, debt, offset, payment, reversal */
    const char *ref;             /* batch_id, employer/workshop/period, agreement, payment ref */
    const char *value_date;
    int64_t debit, credit;
    int64_t running;             /* balance after this posting, normal side */
};
/* E_LEDGER_UNKNOWN_ACCOUNT if the account has never been used. */
enum adj_err ledger_statement(struct ledger *ledger, const char *account, void *ctx,
                              void (*on_row)(void *ctx, const struct ledger_statement_row *row),
                              struct adj_diag *diag);

/* Clause 5 of the circular: per employer and workshop, what was collected by
 * offset in PERIOD (agreement date in that month), with the agreement and the
 * governor's reference. One row per allocation, ordered by employer,
 * workshop, debt period, agreement. */
struct ledger_offset_report_row {
    const char *employer, *workshop, *debt_period;
    const char *agreement, *governor_ref, *date, *center;
    int64_t amount;
};
enum adj_err ledger_offset_report(struct ledger *ledger, const char *period, void *ctx,
                                  void (*on_row)(void *ctx,
                                                 const struct ledger_offset_report_row *row),
                                  struct adj_diag *diag);

/* integrity_check, foreign_key_check, every entry balanced (2+ postings,
 * debits = credits = its amount), cached balances equal the postings, no
 * balance past its limit, settled id counts equal the batch rows. Each
 * problem is printed to `report` (may be NULL); returns E_LEDGER_VERIFY if
 * any. *problems counts them. */
enum adj_err ledger_verify(struct ledger *ledger, FILE *report, uint64_t *problems,
                           struct adj_diag *diag);

/* PRAGMA quick_check (about 1 s on a year of a province): the CLI runs it
 * before every write, so nothing is posted into a damaged file
 * (E_LEDGER_CORRUPT, with SQLite's first complaint in the detail). */
enum adj_err ledger_quick_check(struct ledger *ledger, struct adj_diag *diag);

/* Writes every row of every table in key order as text: equal dumps mean
 * equal ledgers (tests compare them; auditors can diff them). */
enum adj_err ledger_dump(struct ledger *ledger, FILE *out, struct adj_diag *diag);

/* ---- The run's totals files ----------------------------------------------- */

/* Writes OUTDIR/totals.tsv, settled_docs.txt and settled_packs.u64 (format
 * above) for `count` batches; verified[i] is the batch's verified flag.
 * Each file is written to a temporary name, fsynced and renamed. */
enum adj_err ledger_totals_write(const char *outdir, const struct ledger_batch *batches,
                                 const bool *verified, size_t count, struct adj_diag *diag);

/* Posts every batch of a run's OUTDIR (each batch its own transaction),
 * calling on_batch after each with its outcome or error. Returns the first
 * error that stopped reading; batch-level refusals (unverified, conflict)
 * are reported through on_batch and counted in *refused. */
enum adj_err ledger_post_outdir(struct ledger *ledger, const char *outdir, void *ctx,
                                void (*on_batch)(void *ctx, const char *batch_id,
                                                 enum ledger_post_outcome outcome,
                                                 enum adj_err err, const struct adj_diag *diag),
                                size_t *refused, struct adj_diag *diag);

/* ---- For tests and tools --------------------------------------------------- */

/* The connection (tests set PRAGMA max_page_count on it; auditors' tools may
 * read). Writing through it bypasses the checks of this module. */
struct sqlite3 *ledger_db(struct ledger *ledger);
/* Calls hook(ctx) after every sqlite3_step this module makes, BEGIN and
 * COMMIT included: the crash tests raise SIGKILL at step N. NULL to clear. */
void ledger_set_step_hook(struct ledger *ledger, void (*hook)(void *ctx), void *ctx);

#endif
