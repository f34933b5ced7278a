/*
 * dadras check BATCH... [--quarantine FILE]: validates batches against
 * batch-format.md without adjudicating them. Prints, per batch, documents
 * read / accepted / rejected by reason and whether the trailer verified;
 * diagnostics (file:line:col: error: message [E_NAME]) go to stderr; the raw
 * lines of rejected documents go to the quarantine file.
 *
 * Exit: the worst over all batches of 0 (verified, nothing rejected), 1
 * (verified, some rejected), 2 (unverified or batch-level error), 74 (a file
 * could not be read or written); 64 for usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/cli.h"
#include "io/batch.h"

_Static_assert((int)BATCH_EXIT_OK == (int)CLI_EXIT_OK, "exit codes agree");
_Static_assert((int)BATCH_EXIT_REJECTED == (int)CLI_EXIT_REJECTED, "exit codes agree");
_Static_assert((int)BATCH_EXIT_UNVERIFIED == (int)CLI_EXIT_UNVERIFIED, "exit codes agree");
_Static_assert((int)BATCH_EXIT_IOERR == (int)CLI_EXIT_IOERR, "exit codes agree");

static void check_usage(FILE *out)
{
    fprintf(out, "usage: dadras check BATCH... [--quarantine FILE] [--threads N]\n"
                 "  Validates batches (plain or zstd). Exit 0 all verified and nothing\n"
                 "  rejected, 1 some documents rejected, 2 a batch unverified, 64 usage,\n"
                 "  74 a file could not be read or written.\n"
                 "  --threads N: parser threads per batch, besides the reader thread\n"
                 "  (default: online CPUs; 1 = parse on the main thread, no threads).\n"
                 "  ADJ_IO=pread in the environment forces pread instead of io_uring.\n");
}

/* Severity order for combining batches: 74 > 2 > 1 > 0. */
static int exit_rank(int code)
{
    switch (code) {
    case CLI_EXIT_IOERR: return 3;
    case CLI_EXIT_UNVERIFIED: return 2;
    case CLI_EXIT_REJECTED: return 1;
    default: return 0;
    }
}

int cmd_check(int argc, char **argv)
{
    const char *quarantine_path = NULL;
    unsigned threads = batch_check_default_threads();
    const char *batches[256];
    int nbatches = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            check_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(a, "--quarantine") == 0) {
            if (i + 1 >= argc || quarantine_path != NULL) {
                check_usage(stderr);
                return CLI_EXIT_USAGE;
            }
            quarantine_path = argv[++i];
            continue;
        }
        if (strcmp(a, "--threads") == 0 || strncmp(a, "--threads=", 10) == 0) {
            const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : "");
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (*v == '\0' || *end != '\0' || n < 1 || n > BATCH_CHECK_THREADS_MAX) {
                fprintf(stderr, "dadras check: --threads takes 1..%u\n", BATCH_CHECK_THREADS_MAX);
                return CLI_EXIT_USAGE;
            }
            threads = (unsigned)n;
            continue;
        }
        if (strncmp(a, "--quarantine=", 13) == 0 && quarantine_path == NULL) {
            quarantine_path = a + 13;
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "dadras check: unknown option '%s'\n", a);
            check_usage(stderr);
            return CLI_EXIT_USAGE;
        }
        if (nbatches >= (int)(sizeof batches / sizeof batches[0])) {
            fprintf(stderr, "dadras check: at most %zu batches per run\n",
                    sizeof batches / sizeof batches[0]);
            return CLI_EXIT_USAGE;
        }
        batches[nbatches++] = a;
    }
    if (nbatches == 0) {
        check_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    FILE *q = NULL;
    if (quarantine_path != NULL) {
        /* Opening the quarantine truncates it: never one of the batches. */
        struct stat qs, bs;
        if (stat(quarantine_path, &qs) == 0) {
            for (int i = 0; i < nbatches; i++) {
                if (stat(batches[i], &bs) == 0 && bs.st_dev == qs.st_dev && bs.st_ino == qs.st_ino) {
                    fprintf(stderr, "dadras check: the quarantine '%s' is the batch '%s'; "
                                    "it would be emptied before it is read\n",
                            quarantine_path, batches[i]);
                    return CLI_EXIT_USAGE;
                }
            }
        }
        q = fopen(quarantine_path, "w");
        if (q == NULL) {
            fprintf(stderr, "%s: error: cannot open file: %s [E_OPEN]\n", quarantine_path,
                    strerror(errno));
            return CLI_EXIT_IOERR;
        }
    }
    int worst = CLI_EXIT_OK;
    for (int i = 0; i < nbatches; i++) {
        struct batch_summary s;
        batch_check_file(batches[i], NULL, threads, q, stderr, &s);
        batch_summary_print(stdout, &s);
        int code = batch_summary_exit_code(&s);
        if (exit_rank(code) > exit_rank(worst)) {
            worst = code;
        }
    }
    if (q != NULL && (fflush(q) != 0 || ferror(q) || fclose(q) != 0)) {
        fprintf(stderr, "%s: error: write failed [E_WRITE]\n", quarantine_path);
        worst = CLI_EXIT_IOERR;
    }
    return worst;
}
