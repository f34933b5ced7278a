/*
 * The threaded pipeline (see pipeline.h for the picture).
 *
 * A job carries one block through every stage: the reader fills job->block,
 * a worker parses it into job->chunk/job->res and evaluates it into
 * job->adj, the ordered stage merges and commits it, then hands the job
 * back to the reader on the free ring. The job pool bounds memory: at most
 * job_count blocks are anywhere in the pipeline.
 */
#include "core/pipeline.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/base/assert.h"
#include "core/base/ring.h"
#include "io/batch.h"
#include "io/reader.h"

/* Jobs in flight per worker: one being evaluated, one queued, one waiting
 * for the ordered stage keeps every thread busy without hoarding memory. */
#define PIPELINE_JOBS_PER_WORKER 3u

struct pipeline_job {
    struct io_block *block;         /* NULL for the end marker. */
    struct doc_chunk chunk;
    struct batch_block_result res;
    struct adjud_chunk adj;
    enum adj_err err;               /* A worker's failure (E_NOMEM). */
    uint64_t err_line;
};

struct pipeline_worker {
    struct pipeline *pipeline;
    pthread_t thread;
    struct ring in;                 /* reader -> worker */
    struct ring out;                /* worker -> ordered stage */
    struct adjud_worker adjud;
};

struct pipeline {
    const struct pipeline_options *options;
    struct io_reader *reader;
    struct pipeline_worker *workers;
    uint32_t worker_count;
    struct pipeline_job *jobs;
    uint32_t job_count;
    struct ring free_jobs;          /* ordered stage -> reader */
    pthread_t reader_thread;
    enum adj_err reader_err;        /* Written by the reader thread before it
                                     * closes the worker rings; read after. */
    const char (*reason_text)[16];
    const char *path;               /* The batch file, for diagnostics. */
};

static void *pipeline_reader_main(void *arg)
{
    struct pipeline *p = arg;
    uint64_t seq = 0;
    /* Unbounded by design: one iteration per block of the input. */
    for (;;) {
        struct pipeline_job *job = ring_pop(&p->free_jobs);
        ADJ_ASSERT(job != NULL);
        struct io_block *block = NULL;
        enum adj_err err = io_reader_next(p->reader, &block);
        if (err != ADJ_OK || block == NULL) {
            p->reader_err = err;
            break;
        }
        ADJ_ASSERT(block->seq == seq);
        job->block = block;
        ring_push(&p->workers[seq % p->worker_count].in, job);
        seq++;
    }
    /* Ring close is a release: reader_err above is visible to whoever
     * sees the closed rings. */
    for (uint32_t w = 0; w < p->worker_count; w++) {
        ring_close(&p->workers[w].in);
    }
    return NULL;
}

static enum adj_err pipeline_adj_reserve(struct adjud_chunk *adj, const struct doc_chunk *chunk)
{
    if (chunk->doc_count <= adj->doc_cap && chunk->line_count <= adj->line_cap) {
        return ADJ_OK;
    }
    /* The parser's arrays grew past anything seen: grow ours to match. */
    adjud_chunk_free(adj);
    if (!adjud_chunk_init(adj, chunk->doc_cap, chunk->line_cap)) {
        return ADJ_E_NOMEM;
    }
    return ADJ_OK;
}

/* A worker's part of a job: parse the block, evaluate its documents. */
static void pipeline_work(struct pipeline *p, struct pipeline_worker *worker, struct pipeline_job *job)
{
    batch_parse_block(job->block, &job->chunk, &job->res);
    job->err = pipeline_adj_reserve(&job->adj, &job->chunk);
    if (job->err == ADJ_OK) {
        job->err = adjud_evaluate(&worker->adjud, &job->chunk, &job->adj, p->reason_text);
    }
}

static void *pipeline_worker_main(void *arg)
{
    struct pipeline_worker *worker = arg;
    struct pipeline *p = worker->pipeline;
    struct pipeline_job *job;
    while ((job = ring_pop(&worker->in)) != NULL) {
        pipeline_work(p, worker, job);
        ring_push(&worker->out, job);
    }
    ring_close(&worker->out);
    return NULL;
}

/* ---- progress ------------------------------------------------------------ */

struct pipeline_progress {
    bool enabled;
    struct timespec start;
    struct timespec last;
    uint64_t total_bytes; /* File size (compressed or not); 0 = unknown. */
};

static uint64_t pipeline_elapsed_ms(const struct timespec *from, const struct timespec *to)
{
    int64_t ms = (int64_t)(to->tv_sec - from->tv_sec) * 1000 +
                 (int64_t)(to->tv_nsec - from->tv_nsec) / 1000000;
    return ms > 0 ? (uint64_t)ms : 0;
}

static void pipeline_progress_tick(struct pipeline_progress *pr, uint64_t docs, uint64_t text_bytes,
                                   uint64_t raw_bytes, bool final)
{
    if (!pr->enabled) {
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!final && pipeline_elapsed_ms(&pr->last, &now) < 250) {
        return;
    }
    pr->last = now;
    uint64_t ms = pipeline_elapsed_ms(&pr->start, &now);
    if (ms == 0) {
        ms = 1;
    }
    uint64_t docs_per_s = docs * 1000 / ms;
    uint64_t mb_per_s = text_bytes / 1000 / ms; /* MB/s = bytes / (1e6 * s) */
    fprintf(stderr, "\r%llu docs  %llu docs/s  %llu MB/s  %llu.%01llu s",
            (unsigned long long)docs, (unsigned long long)docs_per_s,
            (unsigned long long)mb_per_s, (unsigned long long)(ms / 1000),
            (unsigned long long)(ms % 1000 / 100));
    if (!final && pr->total_bytes > 0 && raw_bytes > 0 && raw_bytes < pr->total_bytes) {
        /* ETA by file bytes left at the rate so far (compressed or not),
         * rounded down to whole seconds. */
        uint64_t eta_s = (pr->total_bytes - raw_bytes) * ms / raw_bytes / 1000;
        fprintf(stderr, "  ETA %llu s", (unsigned long long)eta_s);
    }
    fprintf(stderr, "%s", final ? "\n" : "   ");
    fflush(stderr);
}

/* ---- setup and teardown -------------------------------------------------- */

static void pipeline_free(struct pipeline *p)
{
    if (p->jobs != NULL) {
        for (uint32_t i = 0; i < p->job_count; i++) {
            batch_chunk_free(&p->jobs[i].chunk);
            batch_result_free(&p->jobs[i].res);
            adjud_chunk_free(&p->jobs[i].adj);
        }
        free(p->jobs);
    }
    if (p->workers != NULL) {
        for (uint32_t w = 0; w < p->worker_count; w++) {
            adjud_worker_free(&p->workers[w].adjud);
        }
        free(p->workers);
    }
    io_reader_close(p->reader);
}

static enum adj_err pipeline_setup(struct pipeline *p, const struct pipeline_options *options,
                                   const char *path, const struct adjud_commit *commit,
                                   struct adj_diag *diag)
{
    memset(p, 0, sizeof *p);
    p->options = options;
    p->path = path;
    p->reason_text = commit->reason_text;
    p->worker_count = options->threads;
    ADJ_ASSERT(p->worker_count >= 1 && p->worker_count <= PIPELINE_THREADS_MAX);
    p->job_count = p->worker_count * PIPELINE_JOBS_PER_WORKER + 1;
    if (p->job_count > IO_BLOCK_COUNT_MAX) {
        p->job_count = IO_BLOCK_COUNT_MAX;
    }
    if (p->job_count < p->worker_count + 1) {
        return ADJ_E_USAGE;
    }
    struct io_reader_options ropt = {.block_count = p->job_count,
                                     .block_bytes = (size_t)options->block_bytes};
    enum adj_err err = io_reader_open(&p->reader, path, &ropt, diag);
    if (err != ADJ_OK) {
        return err;
    }
    p->jobs = calloc(p->job_count, sizeof *p->jobs);
    p->workers = calloc(p->worker_count, sizeof *p->workers);
    if (p->jobs == NULL || p->workers == NULL) {
        return ADJ_E_NOMEM;
    }
    size_t block_max = io_reader_block_bytes_max(p->reader);
    ring_init(&p->free_jobs, 64);
    ADJ_ASSERT(p->job_count <= 64);
    for (uint32_t i = 0; i < p->job_count; i++) {
        struct pipeline_job *job = &p->jobs[i];
        if (batch_chunk_init(&job->chunk, block_max) != ADJ_OK ||
            batch_result_init(&job->res) != ADJ_OK ||
            !adjud_chunk_init(&job->adj, job->chunk.doc_cap, job->chunk.line_cap)) {
            return ADJ_E_NOMEM;
        }
        ring_push(&p->free_jobs, job);
    }
    for (uint32_t w = 0; w < p->worker_count; w++) {
        struct pipeline_worker *worker = &p->workers[w];
        worker->pipeline = p;
        ring_init(&worker->in, 64);
        ring_init(&worker->out, 64);
        if (!adjud_worker_init(&worker->adjud, options->rules, options->history)) {
            return ADJ_E_NOMEM;
        }
    }
    return ADJ_OK;
}

/* ---- the ordered stage --------------------------------------------------- */

struct pipeline_out {
    struct zwriter *decisions;
    FILE *quarantine;
    char *scratch;        /* Rows of a re-evaluated document. */
    uint64_t scratch_cap;
    enum adj_err err;     /* First write error; later output is skipped. */
};

static void pipeline_write(struct pipeline_out *out, const char *data, uint64_t len)
{
    if (out->err == ADJ_OK && len > 0) {
        out->err = zwriter_write(out->decisions, data, len);
    }
}

static enum adj_err pipeline_commit_job(struct pipeline *p, struct pipeline_job *job,
                                        struct adjud_commit *commit, struct runstats *stats,
                                        struct batch_state *state, struct pipeline_out *out)
{
    struct doc_chunk *chunk = &job->chunk;
    struct adjud_chunk *adj = &job->adj;
    batch_chunk_rebase(chunk, job->res.line_base);
    if (job->err != ADJ_OK) {
        return job->err;
    }
    /* Runs of documents whose speculation held are written straight from
     * the worker's text; a redone document is formatted again here. */
    uint64_t run_begin = 0;
    uint64_t run_end = 0;
    /* Documents ahead whose set probes are prefetched. */
    enum { prefetch_ahead = 4 };
    for (uint32_t i = 0; i < chunk->doc_count && i < prefetch_ahead; i++) {
        adjud_commit_prefetch(commit, adj, i);
    }
    for (uint32_t i = 0; i < chunk->doc_count; i++) {
        if (i + prefetch_ahead < chunk->doc_count) {
            adjud_commit_prefetch(commit, adj, i + prefetch_ahead);
        }
        bool redone = false;
        enum adj_err doc_err = ADJ_OK;
        enum adj_err err = adjud_commit_doc(commit, chunk, adj, i, &redone, &doc_err);
        if (err != ADJ_OK) {
            return err;
        }
        const struct doc *doc = &chunk->docs[i];
        if (doc_err != ADJ_OK) {
            /* The rule set failed on this document (an overflow, a division
             * by zero, a broken invariant): it is rejected with the error
             * and its position and quarantined, as at intake; the batch
             * goes on (read = adjudicated + rejected). Its rows, if the
             * speculation wrote any, are left out. */
            pipeline_write(out, adj->text + run_begin, run_end - run_begin);
            run_begin = run_end = adj->docs[i].text_offset + adj->docs[i].text_bytes;
            if (batch_reject_late(state, job->block, doc, doc_err, out->quarantine) != ADJ_OK &&
                out->err == ADJ_OK) {
                out->err = ADJ_E_WRITE;
            }
            continue;
        }
        const struct line_decision *decisions = &adj->line_decisions[doc->line_first];
        if (!runstats_add_doc(stats, doc, &adj->doc_decisions[i], decisions)) {
            if (stats->overflow) {
                fprintf(stderr, "%s:%llu: error: the batch's totals pass int64 rials at document '%s' [%s]\n",
                        p->path, (unsigned long long)doc->src_line, doc->doc_id_raw,
                        adj_err_name(ADJ_E_OVERFLOW));
                return ADJ_E_OVERFLOW;
            }
            return ADJ_E_NOMEM;
        }
        if (!redone) {
            ADJ_ASSERT(adj->docs[i].text_offset == run_end);
            run_end += adj->docs[i].text_bytes;
            continue;
        }
        stats->docs_redone++;
        pipeline_write(out, adj->text + run_begin, run_end - run_begin);
        uint64_t need = adjud_doc_text_max(doc->line_count);
        if (need > out->scratch_cap) {
            char *grown = realloc(out->scratch, need);
            if (grown == NULL) {
                return ADJ_E_NOMEM;
            }
            out->scratch = grown;
            out->scratch_cap = need;
        }
        uint64_t bytes = adjud_format_doc(out->scratch, doc, &adj->doc_decisions[i], decisions,
                                          &chunk->lines[doc->line_first], p->reason_text);
        pipeline_write(out, out->scratch, bytes);
        run_begin = run_end = adj->docs[i].text_offset + adj->docs[i].text_bytes;
    }
    pipeline_write(out, adj->text + run_begin, run_end - run_begin);
    return ADJ_OK;
}

/* The ordered stage's part of a job: intake merge and quarantine, the
 * K08/K09 commit and the decisions, progress; then the block goes back. */
static void pipeline_order(struct pipeline *p, struct pipeline_job *job, struct adjud_commit *commit,
                           struct runstats *stats, struct batch_state *state,
                           struct pipeline_out *out, enum adj_err *run_err,
                           struct pipeline_batch *batch, struct pipeline_progress *progress,
                           uint64_t docs_before)
{
    if (batch_merge(state, job->block, &job->res, out->quarantine) != ADJ_OK && out->err == ADJ_OK) {
        out->err = ADJ_E_WRITE;
    }
    if (*run_err == ADJ_OK) {
        *run_err = pipeline_commit_job(p, job, commit, stats, state, out);
    }
    batch->bytes_read = job->block->text_offset + job->block->len;
    uint64_t raw_bytes = job->block->raw_offset;
    io_reader_release(p->reader, job->block);
    job->block = NULL;
    pipeline_progress_tick(progress, stats->docs_adjudicated - docs_before, batch->bytes_read,
                           raw_bytes, false);
}

enum adj_err pipeline_run_batch(const struct pipeline_options *options, const char *path,
                                struct adjud_commit *commit, struct runstats *stats,
                                struct zwriter *decisions, FILE *quarantine,
                                struct pipeline_batch *batch, FILE *diag_out)
{
    memset(batch, 0, sizeof *batch);
    batch->path = path;
    struct pipeline p;
    struct adj_diag diag;
    memset(&diag, 0, sizeof diag);
    enum adj_err err = pipeline_setup(&p, options, path, commit, &diag);
    if (err != ADJ_OK) {
        if (diag.code != ADJ_OK && diag_out != NULL) {
            adj_diag_print(diag_out, &diag);
        }
        pipeline_free(&p);
        return err;
    }
    struct batch_state state;
    batch_state_init(&state, path, diag_out);
    struct pipeline_out out = {.decisions = decisions, .quarantine = quarantine};
    struct pipeline_progress progress = {.enabled = options->progress};
    clock_gettime(CLOCK_MONOTONIC, &progress.start);
    progress.last = progress.start;
    progress.total_bytes = io_reader_input_bytes(p.reader); /* 0 for a pipe */

    enum adj_err run_err = ADJ_OK;
    uint64_t docs_before = stats->docs_adjudicated;
    if (p.worker_count == 1) {
        /* One thread: read, parse, evaluate and commit each block in turn on
         * this thread, with no reader or worker thread (--threads 1 is a
         * single-threaded run: the serial baseline of the scaling benchmark,
         * and what a machine shared with other work asks for). Same blocks,
         * same order, same code as the threaded path, so the same bytes. */
        struct pipeline_job *job = &p.jobs[0];
        /* Unbounded by design: one iteration per block of the input. */
        for (uint64_t seq = 0;; seq++) {
            struct io_block *block = NULL;
            enum adj_err rerr = io_reader_next(p.reader, &block);
            if (rerr != ADJ_OK || block == NULL) {
                p.reader_err = rerr;
                break;
            }
            ADJ_ASSERT(block->seq == seq);
            job->block = block;
            pipeline_work(&p, &p.workers[0], job);
            pipeline_order(&p, job, commit, stats, &state, &out, &run_err, batch, &progress,
                           docs_before);
        }
    } else {
        /* Workers first: if the system refuses a thread, run with the
         * workers that did start (blocks are dealt round-robin over
         * worker_count). */
        uint32_t started = 0;
        while (started < p.worker_count &&
               pthread_create(&p.workers[started].thread, NULL, pipeline_worker_main,
                              &p.workers[started]) == 0) {
            started++;
        }
        if (started < p.worker_count) {
            fprintf(stderr, "dadras run: only %u of %u worker threads could start\n", started,
                    p.worker_count);
            for (uint32_t w = started; w < p.worker_count; w++) {
                adjud_worker_free(&p.workers[w].adjud);
            }
            p.worker_count = started;
        }
        if (started == 0 || pthread_create(&p.reader_thread, NULL, pipeline_reader_main, &p) != 0) {
            for (uint32_t w = 0; w < started; w++) {
                ring_close(&p.workers[w].in);
                pthread_join(p.workers[w].thread, NULL);
            }
            pipeline_free(&p);
            return ADJ_E_NOMEM;
        }
        /* Unbounded by design: one iteration per block; ends when the
         * worker owning the next block reports that no block follows. */
        for (uint64_t seq = 0;; seq++) {
            struct pipeline_worker *worker = &p.workers[seq % p.worker_count];
            struct pipeline_job *job = ring_pop(&worker->out);
            if (job == NULL) {
                break;
            }
            ADJ_ASSERT(job->block->seq == seq);
            pipeline_order(&p, job, commit, stats, &state, &out, &run_err, batch, &progress,
                           docs_before);
            ring_push(&p.free_jobs, job);
        }
        pthread_join(p.reader_thread, NULL);
        for (uint32_t w = 0; w < p.worker_count; w++) {
            pthread_join(p.workers[w].thread, NULL);
        }
    }
    pipeline_progress_tick(&progress, stats->docs_adjudicated - docs_before, batch->bytes_read, 0,
                           true);

    struct io_stream_end end;
    io_reader_end(p.reader, &end); /* batch_finish records a stream error */
    struct batch_summary summary;
    batch_finish(&state, &end, &summary);
    batch->verified = summary.verified;
    batch->batch_error = summary.batch_errors > 0;
    batch->docs_read = summary.docs_read;
    batch->docs_rejected = summary.docs_rejected;
    batch->lines_read = summary.lines_read;
    if (summary.has_header) {
        snprintf(batch->batch_id, sizeof batch->batch_id, "%s", summary.header.batch_id);
        snprintf(batch->province, sizeof batch->province, "%s", summary.header.province);
        snprintf(batch->period, sizeof batch->period, "%04d/%02d", summary.header.period.year,
                 summary.header.period.month);
    }
    snprintf(batch->content_hash_hex, sizeof batch->content_hash_hex, "%016llx%016llx",
             (unsigned long long)summary.content_hash.hi, (unsigned long long)summary.content_hash.lo);
    batch->summary = summary;
    pipeline_free(&p);
    free(out.scratch);
    if (summary.io_failed) {
        return ADJ_E_READ;
    }
    if (run_err != ADJ_OK) {
        return run_err;
    }
    return out.err;
}
