/*
 * dadras run: the night's job. Reads each batch, adjudicates every document
 * with the rule set, writes OUT/decisions.tsv.zst, OUT/quarantine.tsv and
 * OUT/summary.json, prints a summary a reviewer can read, and posts the
 * verified per-center totals of each verified batch to the ledger.
 *
 *   dadras run BATCH... --rules DIR --tables DIR [--out DIR] [--threads N]
 *              [--ledger FILE] [--quiet]
 *
 * Exit status (batch-format.md): 0 all verified and nothing rejected; 1
 * verified but some documents rejected; 2 a batch unverified or a
 * batch-level error (that batch is not posted); 64 usage or a broken rule
 * set; 74 a file could not be read or written.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/money.h"
#include "core/cli.h"
#include "core/pipeline.h"
#include "core/runpost.h"

struct run_args {
    const char *batches[256];
    uint32_t batch_count;
    const char *rules_dir;
    const char *tables_dir;
    const char *out_dir;
    const char *ledger_path;
    uint32_t threads;
    uint64_t block_bytes;
    bool quiet;
};

static int run_usage(const char *why)
{
    if (why != NULL) {
        fprintf(stderr, "dadras run: %s\n", why);
    }
    fprintf(stderr, "usage: dadras run BATCH... --rules DIR --tables DIR [--out DIR] "
                    "[--threads N] [--ledger FILE] [--quiet]\n");
    return CLI_EXIT_USAGE;
}

static int run_parse_args(int argc, char **argv, struct run_args *args)
{
    memset(args, 0, sizeof *args);
    args->out_dir = "out";
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    args->threads = cores <= 0                             ? 2u
                    : cores > (long)PIPELINE_THREADS_MAX ? PIPELINE_THREADS_MAX
                                                         : (uint32_t)cores;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **target = NULL;
        if (strcmp(a, "--rules") == 0) {
            target = &args->rules_dir;
        } else if (strcmp(a, "--tables") == 0) {
            target = &args->tables_dir;
        } else if (strcmp(a, "--out") == 0) {
            target = &args->out_dir;
        } else if (strcmp(a, "--ledger") == 0) {
            target = &args->ledger_path;
        } else if (strcmp(a, "--threads") == 0) {
            if (i + 1 >= argc) {
                return run_usage("--threads needs a number");
            }
            char *end = NULL;
            long n = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0' || n < 1 || n > (long)PIPELINE_THREADS_MAX) {
                return run_usage("--threads must be 1..63");
            }
            args->threads = (uint32_t)n;
            continue;
        } else if (strcmp(a, "--block-bytes") == 0) {
            /* Intake block size, for tests of the cross-block K08/K09
             * commit; not needed in production. */
            if (i + 1 >= argc) {
                return run_usage("--block-bytes needs a number");
            }
            char *end = NULL;
            long long n = strtoll(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0' || n < 1 || n > (1LL << 30)) {
                return run_usage("--block-bytes must be 1..1073741824");
            }
            args->block_bytes = (uint64_t)n;
            continue;
        } else if (strcmp(a, "--quiet") == 0) {
            args->quiet = true;
            continue;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            run_usage(NULL);
            return CLI_EXIT_OK;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "dadras run: unknown option '%s'\n", a);
            return run_usage(NULL);
        } else {
            if (args->batch_count == sizeof args->batches / sizeof args->batches[0]) {
                return run_usage("too many batches (256 at most per run)");
            }
            args->batches[args->batch_count++] = a;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "dadras run: %s needs a value\n", a);
            return run_usage(NULL);
        }
        *target = argv[++i];
    }
    if (args->batch_count == 0) {
        return run_usage("no batch given");
    }
    if (args->rules_dir == NULL || args->tables_dir == NULL) {
        return run_usage("--rules and --tables are required");
    }
    return -1;
}

static bool run_make_dir(const char *path)
{
    if (mkdir(path, 0775) == 0 || errno == EEXIST) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    }
    return false;
}

/* ---- summary ------------------------------------------------------------- */

struct run_totals {
    uint64_t docs_read, docs_rejected, lines_read;
    uint64_t rejected_by_reason[ADJ_ERR_COUNT];
    bool all_verified;
    bool any_rejected;
};

static void run_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            fprintf(f, "\\%c", *p);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p);
        } else {
            fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* Indexes 0..count-1 sorted by key descending, then index ascending
 * (deterministic). Small n: insertion sort. */
static void run_rank(const int64_t *keys, uint32_t count, uint32_t *order)
{
    for (uint32_t i = 0; i < count; i++) {
        order[i] = i;
    }
    for (uint32_t i = 1; i < count; i++) {
        uint32_t v = order[i];
        uint32_t j = i;
        while (j > 0 && keys[order[j - 1]] < keys[v]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
}

static bool run_write_summary_json(const char path[4096], const struct run_args *args,
                                   const struct pipeline_batch *batches, const struct run_totals *t,
                                   const struct runstats *stats, const struct adjud_commit *commit,
                                   const struct runstats_center *centers, uint32_t center_count,
                                   const enum run_post_outcome *posts, int exit_code)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        return false;
    }
    const struct runstats_money *m = &stats->money;
    fprintf(f, "{\n  \"version\": 1,\n  \"threads\": %u,\n  \"exit_code\": %d,\n", args->threads,
            exit_code);
    fprintf(f, "  \"batches\": [\n");
    for (uint32_t b = 0; b < args->batch_count; b++) {
        const struct pipeline_batch *pb = &batches[b];
        if (pb->path == NULL) {
            continue;
        }
        fprintf(f, "    {\"path\": ");
        run_json_string(f, pb->path);
        fprintf(f, ", \"batch_id\": ");
        run_json_string(f, pb->batch_id);
        fprintf(f, ", \"province\": ");
        run_json_string(f, pb->province);
        fprintf(f, ", \"period\": ");
        run_json_string(f, pb->period);
        fprintf(f,
                ", \"verified\": %s, \"documents_read\": %llu, \"documents_rejected\": %llu, "
                "\"lines_read\": %llu, \"content_hash\": \"%s\", \"ledger\": \"%s\"}%s\n",
                pb->verified ? "true" : "false", (unsigned long long)pb->docs_read,
                (unsigned long long)pb->docs_rejected, (unsigned long long)pb->lines_read,
                pb->content_hash_hex, run_post_outcome_name(posts[b]),
                b + 1 < args->batch_count ? "," : "");
    }
    fprintf(f, "  ],\n");
    fprintf(f,
            "  \"documents\": {\"read\": %llu, \"adjudicated\": %llu, \"rejected\": %llu, "
            "\"rechecked_across_blocks\": %llu},\n",
            (unsigned long long)t->docs_read, (unsigned long long)stats->docs_adjudicated,
            (unsigned long long)t->docs_rejected, (unsigned long long)stats->docs_redone);
    fprintf(f, "  \"lines\": {\"read\": %llu, \"adjudicated\": %llu, \"rejected\": %llu},\n",
            (unsigned long long)t->lines_read, (unsigned long long)stats->lines_adjudicated,
            (unsigned long long)(t->lines_read - stats->lines_adjudicated));
    fprintf(f,
            "  \"rials\": {\"gross\": %lld, \"patient\": %lld, \"insurer\": %lld, \"daroyar\": %lld,"
            " \"claimed_insurer\": %lld, \"claimed_daroyar\": %lld, \"approved_insurer\": %lld,"
            " \"approved_daroyar\": %lld, \"deducted_insurer\": %lld, \"deducted_daroyar\": %lld,"
            " \"deduction\": %lld},\n",
            (long long)m->gross_rials, (long long)m->patient_rials, (long long)m->insurer_rials,
            (long long)m->daroyar_rials, (long long)m->claimed_insurer_rials,
            (long long)m->claimed_daroyar_rials, (long long)m->approved_insurer_rials,
            (long long)m->approved_daroyar_rials,
            (long long)(m->claimed_insurer_rials - m->approved_insurer_rials),
            (long long)(m->claimed_daroyar_rials - m->approved_daroyar_rials),
            (long long)m->deduction_rials);
    fprintf(f, "  \"reasons\": [");
    bool first = true;
    for (uint32_t bit = 0; bit < commit->reason_count; bit++) {
        if (stats->reason_lines[bit] == 0) {
            continue;
        }
        fprintf(f, "%s\n    {\"code\": \"%s\", \"lines\": %llu, \"deduction_rials\": %lld}",
                first ? "" : ",", commit->reason_text[bit],
                (unsigned long long)stats->reason_lines[bit],
                (long long)stats->reason_deduction_rials[bit]);
        first = false;
    }
    /* The key's name predates late rejects (a rule failing on a document),
     * which it counts too, under their error names; kept for readers. */
    fprintf(f, "\n  ],\n  \"intake_rejected\": {");
    first = true;
    for (int code = 0; code < ADJ_ERR_COUNT; code++) {
        if (t->rejected_by_reason[code] == 0) {
            continue;
        }
        fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", adj_err_name((enum adj_err)code),
                (unsigned long long)t->rejected_by_reason[code]);
        first = false;
    }
    fprintf(f, "},\n  \"centers\": [");
    for (uint32_t i = 0; i < center_count; i++) {
        const struct runstats_center *c = &centers[i];
        fprintf(f, "%s\n    {\"center\": ", i == 0 ? "" : ",");
        run_json_string(f, c->center);
        fprintf(f,
                ", \"documents\": %llu, \"approved_insurer\": %lld, \"approved_daroyar\": %lld, "
                "\"deduction\": %lld}",
                (unsigned long long)c->doc_count, (long long)c->approved_insurer_rials,
                (long long)c->approved_daroyar_rials, (long long)c->deduction_rials);
    }
    fprintf(f, "\n  ]\n}\n");
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, path) == 0;
}

static void run_print_summary(FILE *out, const struct run_args *args,
                              const struct pipeline_batch *batches, const struct run_totals *t,
                              const struct runstats *stats, const struct adjud_commit *commit,
                              const struct runstats_center *centers, uint32_t center_count,
                              const enum run_post_outcome *posts)
{
    char a[28], b[28], c[28];
    const struct runstats_money *m = &stats->money;
    for (uint32_t i = 0; i < args->batch_count; i++) {
        const struct pipeline_batch *pb = &batches[i];
        fprintf(out, "batch %s (%s %s): %s; ledger: %s\n", pb->batch_id[0] ? pb->batch_id : "?",
                pb->province, pb->period, pb->verified ? "verified" : "NOT VERIFIED",
                run_post_outcome_name(posts[i]));
    }
    /* Rejected: at intake (malformed), or late (the rule set failed on the
     * document: E_RULE_OVERFLOW, ...); both are in the quarantine. */
    fprintf(out, "documents: %llu read, %llu adjudicated, %llu rejected\n",
            (unsigned long long)t->docs_read, (unsigned long long)stats->docs_adjudicated,
            (unsigned long long)t->docs_rejected);
    fprintf(out, "lines:     %llu read, %llu adjudicated, %llu rejected\n",
            (unsigned long long)t->lines_read, (unsigned long long)stats->lines_adjudicated,
            (unsigned long long)(t->lines_read - stats->lines_adjudicated));
    fprintf(out, "rials       %22s %22s %22s\n", "claimed", "approved", "deducted");
    fprintf(out, "  insurer   %22s %22s %22s\n", money_format_grouped(m->claimed_insurer_rials, a),
            money_format_grouped(m->approved_insurer_rials, b),
            money_format_grouped(m->claimed_insurer_rials - m->approved_insurer_rials, c));
    fprintf(out, "  Daroyar   %22s %22s %22s\n", money_format_grouped(m->claimed_daroyar_rials, a),
            money_format_grouped(m->approved_daroyar_rials, b),
            money_format_grouped(m->claimed_daroyar_rials - m->approved_daroyar_rials, c));
    int64_t keys[ADJ_REASONS_MAX];
    uint32_t order[ADJ_REASONS_MAX];
    uint32_t n = commit->reason_count;
    for (uint32_t bit = 0; bit < n; bit++) {
        keys[bit] = (int64_t)stats->reason_lines[bit];
    }
    run_rank(keys, n, order);
    fprintf(out, "top reasons by lines:");
    for (uint32_t i = 0; i < n && i < 5 && keys[order[i]] > 0; i++) {
        fprintf(out, "  %s %llu", commit->reason_text[order[i]],
                (unsigned long long)stats->reason_lines[order[i]]);
    }
    for (uint32_t bit = 0; bit < n; bit++) {
        keys[bit] = stats->reason_deduction_rials[bit];
    }
    run_rank(keys, n, order);
    fprintf(out, "\ntop reasons by rials:");
    for (uint32_t i = 0; i < n && i < 5 && keys[order[i]] > 0; i++) {
        fprintf(out, "  %s %s", commit->reason_text[order[i]],
                money_format_grouped(stats->reason_deduction_rials[order[i]], a));
    }
    fprintf(out, "\ntop centers by deduction:");
    /* Centers are sorted by id; pick the five largest deductions, ties to
     * the smaller id, so the line is the same on every run. */
    uint32_t picked[5];
    uint32_t picked_count = 0;
    for (uint32_t k = 0; k < 5 && k < center_count; k++) {
        int64_t best = 0;
        uint32_t best_i = UINT32_MAX;
        for (uint32_t i = 0; i < center_count; i++) {
            bool used = false;
            for (uint32_t j = 0; j < picked_count; j++) {
                used = used || picked[j] == i;
            }
            if (!used && centers[i].deduction_rials > best) {
                best = centers[i].deduction_rials;
                best_i = i;
            }
        }
        if (best_i == UINT32_MAX) {
            break;
        }
        picked[picked_count++] = best_i;
        fprintf(out, "  %s %s", centers[best_i].center, money_format_grouped(best, a));
    }
    fprintf(out, "\nrejections:");
    bool any = false;
    for (int code = 0; code < ADJ_ERR_COUNT; code++) {
        if (t->rejected_by_reason[code] > 0) {
            fprintf(out, "  %s %llu", adj_err_name((enum adj_err)code),
                    (unsigned long long)t->rejected_by_reason[code]);
            any = true;
        }
    }
    fprintf(out, "%s\n", any ? "" : "  none");
    if (stats->docs_redone > 0) {
        fprintf(out, "documents re-checked for duplicates across chunks: %llu\n",
                (unsigned long long)stats->docs_redone);
    }
}

/* ---- main ---------------------------------------------------------------- */

struct run_history_job {
    const char *path;
    struct run_history history;
    enum adj_err err;
};

static void *run_history_main(void *arg)
{
    struct run_history_job *job = arg;
    job->err = run_history_load(&job->history, job->path);
    return NULL;
}

int cmd_run(int argc, char **argv)
{
    struct run_args args;
    int status = run_parse_args(argc, argv, &args);
    if (status >= 0) {
        return status;
    }
    /* Startup: the settled history (a year of a province is ~45 M pack ids
     * and ~12 M doc ids) loads on its own thread while this one loads and
     * compiles the rule set and its tables; the two share nothing. With
     * --threads 1, one after the other. */
    struct run_history_job history_job = {.path = args.ledger_path};
    pthread_t history_thread;
    bool history_threaded = args.threads > 1 &&
                            pthread_create(&history_thread, NULL, run_history_main, &history_job) == 0;
    if (!history_threaded) {
        run_history_main(&history_job);
    }
    struct rules_set *rules = NULL;
    rules_set_load_threads(args.threads > 1 ? 2 : 1);
    enum adj_err rules_err = rules_load(args.rules_dir, args.tables_dir, stderr, &rules);
    if (history_threaded) {
        pthread_join(history_thread, NULL);
    }
    struct run_history history = history_job.history;
    if (rules_err != ADJ_OK) {
        fprintf(stderr, "dadras run: the rule set did not load; nothing was run\n");
        run_history_free(&history);
        /* A rule or table file that could not be read (a missing folder, an
         * unmounted share): 74, as any unreadable file; errors in the rules
         * or tables themselves: 64. */
        return rules_err == ADJ_E_RULE_FILE ? CLI_EXIT_IOERR : CLI_EXIT_USAGE;
    }
    if (history_job.err != ADJ_OK) {
        fprintf(stderr, "dadras run: the ledger's settled history did not load; nothing was run%s\n",
                history_job.err == ADJ_E_OPEN
                    ? " (a new ledger is created once, with: dadras ledger init FILE)"
                    : "");
        run_history_free(&history);
        rules_free(rules);
        return CLI_EXIT_IOERR;
    }
    if (!run_make_dir(args.out_dir)) {
        fprintf(stderr, "dadras run: cannot create output folder '%s'\n", args.out_dir);
        run_history_free(&history);
        rules_free(rules);
        return CLI_EXIT_IOERR;
    }
    int exit_code = CLI_EXIT_OK;
    struct adjud_commit commit;
    struct runstats stats;
    bool commit_ok = adjud_commit_init(&commit, rules, history.view);
    bool stats_ok = runstats_init(&stats);
    char path[4096];
    snprintf(path, sizeof path, "%s/decisions.tsv.zst", args.out_dir);
    struct zwriter *decisions = NULL;
    if (!commit_ok || !stats_ok || zwriter_open(&decisions, path, 1) != ADJ_OK) {
        fprintf(stderr, "dadras run: %s\n", commit_ok && stats_ok ? "cannot write the decisions file"
                                                                  : "out of memory");
        if (commit_ok) {
            adjud_commit_free(&commit);
        }
        if (stats_ok) {
            runstats_free(&stats);
        }
        run_history_free(&history);
        rules_free(rules);
        return CLI_EXIT_IOERR;
    }
    /* Compression on a helper thread of libzstd's: the ordered stage only
     * hands bytes over. With --threads 1 the run stays on one thread. */
    (void)zwriter_set_workers(decisions, args.threads > 1 ? 1 : 0);
    char quarantine_path[4096], quarantine_tmp[4200];
    snprintf(quarantine_path, sizeof quarantine_path, "%s/quarantine.tsv", args.out_dir);
    snprintf(quarantine_tmp, sizeof quarantine_tmp, "%s.tmp", quarantine_path);
    FILE *quarantine = fopen(quarantine_tmp, "w");
    if (quarantine == NULL) {
        fprintf(stderr, "dadras run: cannot write '%s'\n", quarantine_path);
        zwriter_abort(decisions);
        adjud_commit_free(&commit);
        runstats_free(&stats);
        run_history_free(&history);
        rules_free(rules);
        return CLI_EXIT_IOERR;
    }

    struct pipeline_options options = {
        .rules = rules,
        .history = history.view,
        .threads = args.threads,
        .progress = !args.quiet && isatty(STDERR_FILENO),
        .block_bytes = args.block_bytes,
    };
    struct pipeline_batch *batches = calloc(args.batch_count, sizeof *batches);
    struct run_batch_record *records = calloc(args.batch_count, sizeof *records);
    enum run_post_outcome *posts = calloc(args.batch_count, sizeof *posts);
    struct run_totals totals = {.all_verified = true};
    bool io_error = batches == NULL || records == NULL || posts == NULL;
    bool rule_error = false;
    uint32_t batches_run = 0;
    for (uint32_t b = 0; b < args.batch_count && !io_error && !rule_error; b++) {
        struct runstats batch_stats;
        if (!runstats_init(&batch_stats)) {
            io_error = true;
            break;
        }
        struct run_batch_record *rec = &records[b];
        rec->batch = &batches[b];
        rec->pack_first = commit.new_pack_count;
        rec->doc_byte_first = commit.new_doc_bytes;
        uint64_t doc_count_before = commit.new_doc_count;
        enum adj_err err = pipeline_run_batch(&options, args.batches[b], &commit, &batch_stats,
                                              decisions, quarantine, &batches[b], stderr);
        batches_run++;
        rec->pack_count = commit.new_pack_count - rec->pack_first;
        rec->doc_bytes = commit.new_doc_bytes - rec->doc_byte_first;
        rec->doc_count = commit.new_doc_count - doc_count_before;
        struct pipeline_batch *pb = &batches[b];
        totals.docs_read += pb->docs_read;
        totals.docs_rejected += pb->docs_rejected;
        totals.lines_read += pb->lines_read;
        for (int code = 0; code < ADJ_ERR_COUNT; code++) {
            totals.rejected_by_reason[code] += pb->summary.rejected_by_reason[code];
        }
        if (err != ADJ_OK) {
            fprintf(stderr, "dadras run: %s: stopped: %s [%s]\n", args.batches[b],
                        adj_err_message(err), adj_err_name(err));
            /* Reading, writing or memory: exit 74 (retry). The rule set
             * failing on a document: the batch is unverified, exit 2. */
            bool system_error = err == ADJ_E_READ || err == ADJ_E_WRITE || err == ADJ_E_NOMEM ||
                                err == ADJ_E_OPEN || err == ADJ_E_IO;
            io_error = io_error || system_error;
            rule_error = rule_error || !system_error;
            pb->verified = false; /* Never post a batch whose run failed. */
        }
        if (!pb->verified) {
            totals.all_verified = false;
        }
        if (pb->docs_rejected > 0) {
            totals.any_rejected = true;
        }
        /* Every document read is adjudicated or rejected (at intake, or
         * late when the rule set failed on it). */
        ADJ_ASSERT(io_error || rule_error ||
                   pb->docs_read == batch_stats.docs_adjudicated + pb->docs_rejected);
        if (!runstats_merge(&stats, &batch_stats)) {
            if (stats.overflow) { /* the run's totals pass int64: nothing is posted */
                if (!batch_stats.overflow) { /* else the pipeline said so */
                    fprintf(stderr, "dadras run: %s: the run's totals pass int64 rials [E_OVERFLOW]\n",
                            args.batches[b]);
                }
                rule_error = true;
                pb->verified = false;
                totals.all_verified = false;
            } else {
                io_error = true;
            }
        } else if (run_record_centers(rec, &batch_stats, args.tables_dir) != ADJ_OK) {
            io_error = true;
        }
        runstats_free(&batch_stats);
    }

    char t_row[512];
    int t_len = runstats_format_t_row(&stats, t_row, sizeof t_row);
    ADJ_ASSERT(t_len > 0 && (size_t)t_len < sizeof t_row);
    enum adj_err werr = zwriter_write(decisions, t_row, (size_t)t_len);
    if (werr == ADJ_OK) {
        werr = zwriter_close(decisions);
    } else {
        zwriter_abort(decisions);
    }
    bool quarantine_ok = fflush(quarantine) == 0 && fsync(fileno(quarantine)) == 0;
    quarantine_ok = fclose(quarantine) == 0 && quarantine_ok &&
                    rename(quarantine_tmp, quarantine_path) == 0;
    if (werr != ADJ_OK || !quarantine_ok) {
        fprintf(stderr, "dadras run: writing the outputs in '%s' failed\n", args.out_dir);
        io_error = true;
    }

    /* Totals files always; ledger postings only for verified batches, and
     * only once the decisions are safely on disk. */
    if (!io_error && run_post_all(&history, args.out_dir, &commit, records, batches_run, posts) !=
                         ADJ_OK) {
        io_error = true;
    }
    for (uint32_t b = 0; b < batches_run; b++) {
        if (posts[b] == RUN_POST_CONFLICT) {
            totals.all_verified = false;
        }
    }
    if (io_error) {
        exit_code = CLI_EXIT_IOERR;
    } else if (!totals.all_verified) {
        exit_code = CLI_EXIT_UNVERIFIED;
    } else if (totals.any_rejected) {
        exit_code = CLI_EXIT_REJECTED;
    }
    struct runstats_center *centers = NULL;
    uint32_t center_count = runstats_centers_sorted(&stats, &centers);
    snprintf(path, sizeof path, "%s/summary.json", args.out_dir);
    if (batches != NULL && posts != NULL &&
        !run_write_summary_json(path, &args, batches, &totals, &stats, &commit, centers,
                                center_count, posts, exit_code)) {
        fprintf(stderr, "dadras run: cannot write '%s'\n", path);
        exit_code = CLI_EXIT_IOERR;
    }
    if (!args.quiet && batches != NULL && posts != NULL) {
        run_print_summary(stdout, &args, batches, &totals, &stats, &commit, centers, center_count,
                          posts);
    }
    free(centers);
    if (records != NULL) {
        run_records_free(records, batches_run);
    }
    free(records);
    free(batches);
    free(posts);
    runstats_free(&stats);
    adjud_commit_free(&commit);
    run_history_free(&history);
    rules_free(rules);
    return exit_code;
}
