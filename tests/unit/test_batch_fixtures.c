/*
 * The bad-input fixtures (tests/data/bad, tests/data/good): each file's
 * first line states the expected exit status, reason, line:column and the
 * lines the quarantine must hold (see tests/data/make_fixtures.py). Every
 * fixture runs through eight set-ups (memory with 1-byte reads and 1-byte
 * blocks, memory with odd sizes, memory defaults, file via io_uring, file via
 * pread with 3 parser threads, io_uring with 2 threads and one block per
 * document, memory defaults with the parser's fast paths off, memory
 * defaults with the baseline SSE2 scanner instead of the AVX-512 one) and
 * must give the same verdict in each: framing does not depend on where
 * reads and blocks are cut, nor on threads; and the fast paths
 * (batch_set_fast_paths) and the scanner (batch_set_wide_scan) give exactly
 * the general path's diagnostics and quarantine.
 *
 * Checked for every fixture: nothing crashes; the exit status; the
 * diagnostic `FILE:LINE:COL: error: ... [E_NAME]`; read = accepted +
 * rejected; the quarantine minus its `#` lines equals exactly the expected
 * raw lines; the summaries of all set-ups agree.
 */
#include <criterion/criterion.h>

#include "tests/unit/test_util.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/batch.h"

struct expect {
    int exit_code;
    char reason[64];
    long line, column;
    char q[256];
};


static void parse_expect(const char *data, struct expect *e, const char *path)
{
    memset(e, 0, sizeof *e);
    e->exit_code = -1;
    if (strncmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3; /* ok_bom.tsv */
    }
    cr_assert(strncmp(data, "# expect ", 9) == 0, "%s: no expect line", path);
    const char *end = strchr(data, '\n');
    char line[512];
    size_t n = (size_t)(end - data);
    cr_assert_lt(n, sizeof line);
    memcpy(line, data, n);
    line[n] = '\0';
    for (char *tok = strtok(line + 9, " "); tok != NULL; tok = strtok(NULL, " ")) {
        if (sscanf(tok, "exit=%d", &e->exit_code) == 1) {
            continue;
        }
        if (sscanf(tok, "reason=%63s", e->reason) == 1) {
            continue;
        }
        if (sscanf(tok, "at=%ld:%ld", &e->line, &e->column) == 2) {
            continue;
        }
        if (sscanf(tok, "q=%255s", e->q) == 1) {
            continue;
        }
        cr_assert_fail("%s: bad expect token %s", path, tok);
    }
    cr_assert_neq(e->exit_code, -1, "%s", path);
}

/* The fixture lines named by q (e.g. "5-7,9-10"), CR stripped, each + LF. */
static char *expected_quarantine(const char *data, size_t len, const char *q)
{
    char *out = calloc(1, len + 1);
    size_t o = 0;
    if (strcmp(q, "-") == 0) {
        return out;
    }
    char spec[256];
    snprintf(spec, sizeof spec, "%s", q);
    for (char *r = strtok(spec, ","); r != NULL; r = strtok(NULL, ",")) {
        long lo, hi;
        cr_assert_eq(sscanf(r, "%ld-%ld", &lo, &hi), 2);
        long line = 1;
        size_t pos = 0;
        while (pos < len) {
            const char *nl = memchr(data + pos, '\n', len - pos);
            size_t e = nl ? (size_t)(nl - data) : len;
            size_t l = e - pos;
            if (l > 0 && data[e - 1] == '\r') {
                l--;
            }
            if (line >= lo && line <= hi && l > 0) {
                memcpy(out + o, data + pos, l);
                o += l;
                out[o++] = '\n';
            }
            pos = nl ? e + 1 : len;
            line++;
        }
    }
    out[o] = '\0';
    return out;
}

static char *strip_comments(const char *q)
{
    size_t n = strlen(q);
    char *out = calloc(1, n + 1);
    size_t o = 0;
    const char *p = q;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (p[0] != '#') {
            memcpy(out + o, p, l);
            o += l;
        }
        p += l;
    }
    return out;
}

/* True if diags holds a line `path:L:C: error: ... [REASON]` (L or C may be
 * 0 meaning absent, as adj_diag_print prints them). */
static bool has_diag(const char *diags, const char *path, const struct expect *e)
{
    char prefix[8800];
    if (e->line > 0 && e->column > 0) {
        snprintf(prefix, sizeof prefix, "%s:%ld:%ld: error: ", path, e->line, e->column);
    } else if (e->line > 0) {
        snprintf(prefix, sizeof prefix, "%s:%ld: error: ", path, e->line);
    } else {
        snprintf(prefix, sizeof prefix, "%s: error: ", path);
    }
    char suffix[80];
    snprintf(suffix, sizeof suffix, "[%s]", e->reason);
    const char *p = diags;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        size_t sl = strlen(suffix);
        if (strncmp(p, prefix, strlen(prefix)) == 0 && l >= sl &&
            strncmp(p + l - sl, suffix, sl) == 0) {
            return true;
        }
        p += nl ? l + 1 : l;
    }
    return false;
}

struct setup {
    const char *label;
    int mode; /* 0 memory, 1 file */
    unsigned threads;
    struct io_reader_options opt;
    bool general; /* Fast paths off: output must equal mem-default's. */
    bool baseline_scan; /* Fast paths on, SSE2 scanner (batch_set_wide_scan): the same. */
};

static const struct setup setups[] = {
    {"mem-1-1", 0, 1, {.block_bytes = 1, .read_bytes = 1}, false, false},
    {"mem-7-61", 0, 1, {.block_bytes = 61, .read_bytes = 7}, false, false},
    {"mem-default", 0, 1, {0}, false, false},
    {"file-uring", 1, 1, {.backend = IO_BACKEND_URING, .read_bytes = 13, .reads_in_flight = 3}, false, false},
    {"file-pread-3-threads", 1, 3, {.backend = IO_BACKEND_PREAD, .read_bytes = 5, .block_bytes = 100}, false, false},
    {"file-uring-2-threads", 1, 2, {.backend = IO_BACKEND_URING, .block_bytes = 1, .block_count = 2}, false, false},
    {"mem-default-general", 0, 1, {0}, true, false},
    {"mem-default-baseline-scan", 0, 1, {0}, false, true},
};
#define SETUP_MEM_DEFAULT 2u

static int run_fixture(const char *path)
{
    size_t len;
    char *data = slurp(path, &len);
    struct expect e;
    parse_expect(data, &e, path);
    char *want_q = expected_quarantine(data, len, e.q);
    struct batch_summary first;
    char *fast_diags = NULL, *fast_quar = NULL;
    for (size_t s = 0; s < sizeof setups / sizeof setups[0]; s++) {
        char *diags = NULL, *quar = NULL;
        size_t dl = 0, ql = 0;
        FILE *df = open_memstream(&diags, &dl);
        FILE *qf = open_memstream(&quar, &ql);
        struct batch_summary sum;
        if (setups[s].mode == 0) {
            batch_set_fast_paths(!setups[s].general);
            batch_set_wide_scan(!setups[s].baseline_scan);
            batch_check_memory(data, len, path, &setups[s].opt, qf, df, &sum);
            batch_set_fast_paths(true);
            batch_set_wide_scan(true);
        } else {
            batch_check_file(path, &setups[s].opt, setups[s].threads, qf, df, &sum);
        }
        fclose(df);
        fclose(qf);
        const char *lbl = setups[s].label;
        cr_expect_eq(batch_summary_exit_code(&sum), e.exit_code, "%s [%s]: exit %d, want %d\n%s",
                     path, lbl, batch_summary_exit_code(&sum), e.exit_code, diags);
        if (e.reason[0] != '\0') {
            cr_expect(has_diag(diags, path, &e), "%s [%s]: no %s at %ld:%ld in:\n%s", path, lbl,
                      e.reason, e.line, e.column, diags);
        }
        cr_expect_eq(sum.docs_read, sum.docs_accepted + sum.docs_rejected, "%s [%s]", path, lbl);
        char *got_q = strip_comments(quar);
        cr_expect_str_eq(got_q, want_q, "%s [%s]: quarantine", path, lbl);
        if (s == 0) {
            first = sum;
        } else {
            cr_expect_eq(sum.docs_read, first.docs_read, "%s [%s]", path, lbl);
            cr_expect_eq(sum.docs_rejected, first.docs_rejected, "%s [%s]", path, lbl);
            cr_expect_eq(sum.verified, first.verified, "%s [%s]", path, lbl);
            cr_expect_eq(sum.lines_read, first.lines_read, "%s [%s]", path, lbl);
            cr_expect(memcmp(sum.rejected_by_reason, first.rejected_by_reason,
                             sizeof sum.rejected_by_reason) == 0,
                      "%s [%s]", path, lbl);
            cr_expect(sum.content_hash.hi == first.content_hash.hi &&
                          sum.content_hash.lo == first.content_hash.lo,
                      "%s [%s]: hash", path, lbl);
        }
        if (s == SETUP_MEM_DEFAULT) {
            fast_diags = diags;
            fast_quar = quar;
            diags = quar = NULL;
        } else if (setups[s].general || setups[s].baseline_scan) {
            cr_expect_str_eq(diags, fast_diags, "%s [%s]: diagnostics", path, lbl);
            cr_expect_str_eq(quar, fast_quar, "%s [%s]: quarantine text", path, lbl);
        }
        free(got_q);
        free(diags);
        free(quar);
    }
    free(fast_diags);
    free(fast_quar);
    free(want_q);
    free(data);
    return 1;
}

static int run_dir(const char *sub)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/data/%s", ADJ_SOURCE_DIR, sub);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    int count = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        size_t n = strlen(ent->d_name);
        if (n < 5 || strcmp(ent->d_name + n - 4, ".tsv") != 0) {
            continue;
        }
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        count += run_fixture(path);
    }
    closedir(d);
    return count;
}

Test(batch_fixtures, bad_inputs)
{
    int n = run_dir("bad");
    cr_assert_geq(n, 40, "only %d bad fixtures", n);
}

Test(batch_fixtures, good_inputs)
{
    int n = run_dir("good");
    cr_assert_geq(n, 5);
}
