/*
 * The adjudication pipeline: batch files in, decisions, quarantine and
 * verified totals out.
 *
 *   reader thread ──ring──> worker 0 ──ring──┐
 *   (io_uring+zstd, ├─────> worker 1 ──ring──┼──> ordered stage (caller's thread):
 *    document-      └─────> worker N-1 ─ring─┘    intake merge + quarantine,
 *    aligned blocks)                               speculation check (adjud.h),
 *                                                  decisions writer, totals
 *
 * Block k goes to worker k mod N and comes back on that worker's output
 * ring, so the ordered stage restores input order by visiting the output
 * rings round-robin: every ring is single-producer/single-consumer, no
 * lock is taken, and the result does not depend on N (tested for 1, 2, 8).
 * Buffers travel back the same way on return rings, so memory is bounded by
 * the ring capacities whatever the batch size. With one worker there are no
 * threads at all: the caller reads, parses, evaluates and commits each
 * block in turn (the same functions, so the same bytes).
 */
#ifndef ADJ_CORE_PIPELINE_H
#define ADJ_CORE_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/adjud.h"
#include "core/runstats.h"
#include "io/batch.h"
#include "io/zwriter.h"

/* Workers beyond this buy nothing on the machines this runs on and would
 * only multiply the buffers in flight. One less than the reader's block
 * pool (IO_BLOCK_COUNT_MAX): every worker holds a block and one more is
 * being read. */
#define PIPELINE_THREADS_MAX 63u
_Static_assert(PIPELINE_THREADS_MAX + 1u <= IO_BLOCK_COUNT_MAX, "a block per worker and one read");

struct pipeline_options {
    const struct rules_set *rules;
    struct adjud_history history;  /* Settled before this run. */
    uint32_t threads;              /* Workers, 1..PIPELINE_THREADS_MAX; with 1
                                    * the whole run is on the calling thread. */
    bool progress;                 /* Progress line on stderr. */
    uint64_t block_bytes;          /* Intake block size; 0 = io's default.
                                    * Tests make it tiny so that duplicates
                                    * fall in different blocks and the
                                    * ordered commit must redo documents. */
};

/* Intake outcome of one batch file. */
struct pipeline_batch {
    const char *path;
    bool verified;                 /* Trailer agrees and no batch-level error. */
    bool batch_error;              /* Batch-level error (unverified). */
    char batch_id[ADJ_ID_BYTES_MAX + 1];
    char province[ADJ_ID_BYTES_MAX + 1];
    char period[16];
    char content_hash_hex[33];
    uint64_t docs_read;
    uint64_t docs_rejected;
    uint64_t lines_read;
    uint64_t lines_rejected;
    uint64_t bytes_read;           /* Decompressed. */
    struct batch_summary summary;  /* Intake's own account (io/batch.h). */
};

/* Runs the pipeline over one batch file, appending decision rows to
 * `decisions` and rejected documents' raw lines to `quarantine` (may be
 * NULL), printing intake diagnostics to diag_out (may be NULL). Returns
 * ADJ_OK when the file was read to its end (verified or not: see
 * batch->verified), or the error that stopped it (E_OPEN, E_READ, E_WRITE,
 * E_NOMEM, or a rule evaluation error). */
enum adj_err pipeline_run_batch(const struct pipeline_options *options, const char *path,
                                struct adjud_commit *commit, struct runstats *stats,
                                struct zwriter *decisions, FILE *quarantine,
                                struct pipeline_batch *batch, FILE *diag_out);

#endif
