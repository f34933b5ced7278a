/*
 * The run's side of the ledger: loading settled history (doc ids and pack
 * ids of every batch posted before) into exact sets at startup, and, after
 * the batches are adjudicated, writing the totals files of `dadras ledger
 * post` and posting each verified batch in one transaction with the ids it
 * settles (core/ledger.h).
 */
#ifndef ADJ_CORE_RUNPOST_H
#define ADJ_CORE_RUNPOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/adjud.h"
#include "core/ledger.h"
#include "core/pipeline.h"
#include "core/runstats.h"

struct run_history_base {
    struct idset_u64 packs;
    struct idset_str docs;
};

/* Past this share of ids outside the index (posted since it was written),
 * the run writes the index anew at its end: the ids since are loaded from
 * the ledger at every startup (~0.1 s per million) until then. */
#define RUN_INDEX_REBUILD_SHARE 4 /* one quarter */

struct run_history {
    struct ledger *ledger;      /* NULL when the run has no --ledger. */
    struct idset_u64 packs;
    struct idset_str docs;
    struct adjud_history view;  /* Points at the two sets (or NULLs). */
    /* Loading: the doc ids arrive first and are buffered, then hashed on a
     * second thread while this one hashes the pack ids (one snapshot of
     * the ledger, two cores busy). */
    char *doc_buf;
    uint64_t doc_buf_bytes;
    uint64_t doc_buf_cap;
    uint64_t doc_buf_count;
    bool doc_thread_started;
    bool doc_insert_ok;
    pthread_t doc_thread;
    /* The settled-id index (core/ledger.h). When it could be used, `base`
     * holds views of its mapping and packs/docs hold only the batches
     * posted since it was written (their `also` is base); otherwise base
     * is NULL and packs/docs hold everything, loaded from the ledger. */
    char *ledger_path;
    char *state;                /* The settled state packs/docs answer for. */
    struct ledger_index *index;
    struct run_history_base *base;
    enum ledger_index_status index_status;
    bool index_rebuild;         /* Write the index anew at the end of the run. */
};

/* Opens (creating if absent) the ledger at path and loads its settled ids;
 * path NULL: no history, nothing will be posted. Prints errors to stderr. */
enum adj_err run_history_load(struct run_history *history, const char *path);
void run_history_free(struct run_history *history);

enum run_post_outcome {
    RUN_POST_NONE = 0,      /* No ledger given. */
    RUN_POST_NOT_POSTED,    /* Unverified: never posted. */
    RUN_POST_POSTED,
    RUN_POST_ALREADY,       /* Same batch, same content: posted before. */
    RUN_POST_CONFLICT,      /* Same batch id, other content: refused. */
    RUN_POST_FAILED,        /* The ledger could not be written. */
};

const char *run_post_outcome_name(enum run_post_outcome outcome);

/* What one batch settles: its slice of the commit's new ids, and its
 * per-center totals. */
struct run_batch_record {
    const struct pipeline_batch *batch;
    uint64_t pack_first, pack_count;       /* Into commit->new_packs. */
    uint64_t doc_byte_first, doc_bytes;    /* Into commit->new_docs. */
    uint64_t doc_count;
    struct ledger_center_total *centers;   /* malloc'd; run_records_free. */
    uint32_t center_count;
};

/* Fills rec's centers from batch_stats, with each center's sector from
 * tables_dir/centers.tsv ("" if the center is not listed there). */
enum adj_err run_record_centers(struct run_batch_record *rec, const struct runstats *batch_stats,
                                const char *tables_dir);

/* Writes OUT/totals.tsv, settled_docs.txt, settled_packs.u64 for every
 * batch, then posts each verified one when the history has a ledger.
 * outcomes[i] receives what happened to batch i. Last, if the settled-id
 * index was missing, stale or damaged at startup, or too much was posted
 * since it was written (RUN_INDEX_REBUILD_SHARE), writes it anew: from the
 * sets loaded at startup when they are whole and nothing was posted,
 * otherwise reloaded from the ledger in one snapshot (the history sets are
 * freed first; the run is done with them). A failure to write the index
 * is a warning, never an error. */
enum adj_err run_post_all(struct run_history *history, const char *out_dir,
                          const struct adjud_commit *commit, struct run_batch_record *records,
                          uint32_t count, enum run_post_outcome *outcomes);

void run_records_free(struct run_batch_record *records, uint32_t count);

#endif
