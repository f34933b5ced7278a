/*
 * Ledger under failure (reliability.md section 7): a child process is killed
 * with SIGKILL after each SQL statement in turn while posting a batch or
 * applying offsets, and after every kill the ledger verifies and equals
 * exactly "before" or exactly "after"; disk full through max_page_count and
 * through a full tmpfs leaves the ledger unchanged and the retry succeeds;
 * two processes posting at once both land (or land once, for the same batch).
 */
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "test_ledger_util.h"

static char *dir;
static char base[600], work[600];

static void setup(void)
{
    dir = tl_tmpdir();
    snprintf(base, sizeof base, "%s/base.db", dir);
    snprintf(work, sizeof work, "%s/work.db", dir);
}

static void teardown(void)
{
    tl_rmtree(dir);
    free(dir);
}

TestSuite(ledger_crash, .init = setup, .fini = teardown);

static long kill_at;
static long steps;

static void kill_hook(void *ctx)
{
    (void)ctx;
    if (++steps == kill_at) {
        raise(SIGKILL);
    }
}

enum crash_op { OP_POST, OP_OFFSETS, OP_REVERSE };

static struct tl_batch crash_batch;
static const struct ledger_offset crash_offsets[] = {
    {"A1", "E1", "C0", 1000, "GOV-1", "1403/06/10"},
    {"A2", "E1", "C4", 1000, "GOV-2", "1403/06/10"}, /* refused: PUB */
    {"A3", "E2", "C2", 2500, "GOV-3", "1403/06/11"},
    {"A4", "E1", "C1", 999999999, "GOV-4", "1403/06/11"}, /* refused: over debt */
    {"A5", "E1", "C3", 4000, "GOV-5", "1403/06/12"},
};

/* Runs the operation on `path`; in a child, kill_at > 0 kills it. Returns
 * 0 if it completed. */
static int run_op(const char *path, enum crash_op op)
{
    struct ledger *l = NULL;
    struct adj_diag diag;
    if (ledger_open(path, false, &l, &diag) != ADJ_OK) {
        return 2;
    }
    ledger_set_step_hook(l, kill_hook, NULL);
    enum adj_err err;
    if (op == OP_POST) {
        enum ledger_post_outcome out;
        err = ledger_post_batch(l, &crash_batch.b, &out, &diag);
    } else if (op == OP_OFFSETS) {
        struct ledger_row_result res[5];
        err = ledger_apply_offsets(l, crash_offsets, 5, res, &diag);
    } else {
        /* Entry 1 is the base batch B0: reversing it releases its ids. */
        struct ledger_row_result r;
        int64_t rev = 0;
        err = ledger_reverse(l, 1, "1403/08/01", "crash test", &r, &rev, &diag);
        if (err == ADJ_OK && r.outcome == LEDGER_ROW_REFUSED) {
            err = r.reason;
        }
    }
    ledger_close(l);
    return err == ADJ_OK ? 0 : 3;
}

/* The base ledger: one batch posted and debts imported, so both operations
 * have something to work on. */
static void make_base(void)
{
    struct ledger *l = tl_open(base);
    struct tl_batch b0;
    tl_batch_make(&b0, "B0", 5, 5, 10, 10);
    enum ledger_post_outcome out;
    struct adj_diag diag;
    cr_assert_eq(ledger_post_batch(l, &b0.b, &out, &diag), ADJ_OK);
    struct ledger_debt debts[] = {{"E1", "W1", "1395/01", 6000, true},
                                  {"E1", "W2", "1394/01", 500, true},
                                  {"E2", "W1", "1390/01", 9000, true}};
    struct ledger_row_result res[3];
    cr_assert_eq(ledger_import_debts(l, debts, 3, res, &diag), ADJ_OK);
    tl_batch_free(&b0);
    ledger_close(l);
    tl_batch_make(&crash_batch, "B1", 6, 3, 10, 10);
}

static void crash_every_statement(enum crash_op op)
{
    make_base();
    char *before = tl_dump_path(base);
    tl_copy(base, work);
    steps = 0;
    kill_at = 0;
    cr_assert_eq(run_op(work, op), 0);
    long total = steps;
    char *after = tl_dump_path(work);
    cr_assert_str_neq(before, after);
    cr_assert_gt(total, 5);
    size_t saw_before = 0, saw_after = 0;
    for (long n = 1; n <= total + 1; n++) {
        tl_copy(base, work);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            steps = 0;
            kill_at = n;
            _exit(run_op(work, op));
        }
        int status = 0;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        if (n <= total) {
            cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "step %ld", n);
        } else {
            cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
        struct ledger *l = tl_open(work);
        tl_verify_ok(l);
        char *now = tl_dump(l);
        bool is_before = strcmp(now, before) == 0, is_after = strcmp(now, after) == 0;
        cr_assert(is_before || is_after, "kill after step %ld of %ld: ledger is neither", n, total);
        saw_before += is_before;
        saw_after += is_after;
        free(now);
        /* Finishing the interrupted work gives exactly "after". */
        ledger_close(l);
        steps = 0;
        kill_at = 0;
        cr_assert_eq(run_op(work, op), 0);
        now = tl_dump_path(work);
        cr_assert_str_eq(now, after, "re-run after kill at step %ld", n);
        free(now);
    }
    /* Kills before COMMIT leave "before", after it "after". */
    cr_assert_gt(saw_before, 0);
    cr_assert_gt(saw_after, 0);
    cr_log_info("%ld statements; %zu kills left 'before', %zu left 'after'", total, saw_before,
                saw_after);
    free(before);
    free(after);
    tl_batch_free(&crash_batch);
}

Test(ledger_crash, kill_after_every_statement_of_a_post)
{
    crash_every_statement(OP_POST);
}

Test(ledger_crash, kill_after_every_statement_of_offsets)
{
    crash_every_statement(OP_OFFSETS);
}

Test(ledger_crash, kill_after_every_statement_of_a_reversal)
{
    crash_every_statement(OP_REVERSE);
}

Test(ledger_crash, disk_full_by_page_limit_changes_nothing)
{
    make_base();
    struct ledger *l = tl_open(base);
    char *before = tl_dump(l);
    struct tl_batch big;
    tl_batch_make(&big, "BIG", 9, 50, 20000, 200000); /* ~1.9 MB of ids */
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(ledger_db(l), "PRAGMA page_count", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    long long pages = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages + 4);
    cr_assert_eq(sqlite3_exec(ledger_db(l), sql, NULL, NULL, NULL), SQLITE_OK);
    enum ledger_post_outcome out;
    struct adj_diag diag;
    cr_assert_eq(ledger_post_batch(l, &big.b, &out, &diag), ADJ_E_LEDGER_DISK_FULL);
    cr_assert(strlen(diag.detail) > 0);
    char *now = tl_dump(l);
    cr_assert_str_eq(before, now);
    tl_verify_ok(l);
    /* Space is back: the same batch posts, once. */
    cr_assert_eq(sqlite3_exec(ledger_db(l), "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL),
                 SQLITE_OK);
    cr_assert_eq(ledger_post_batch(l, &big.b, &out, &diag), ADJ_OK);
    cr_assert_eq(out, LEDGER_POSTED);
    cr_assert_eq(ledger_post_batch(l, &big.b, &out, &diag), ADJ_OK);
    cr_assert_eq(out, LEDGER_ALREADY_POSTED);
    tl_verify_ok(l);
    free(before);
    free(now);
    tl_batch_free(&big);
    tl_batch_free(&crash_batch);
    ledger_close(l);
}

/* A real full file system: a small tmpfs in a private mount namespace of a
 * child (needs root; skipped otherwise). Exit codes name the failed check. */
static int tmpfs_child(const char *mnt)
{
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=4m") != 0) {
        return 77;
    }
    char db[800], filler[800];
    snprintf(db, sizeof db, "%s/l.db", mnt);
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    struct ledger *l = NULL;
    struct adj_diag diag;
    if (ledger_open(db, true, &l, &diag) != ADJ_OK) {
        return 10;
    }
    struct tl_batch b0, big;
    tl_batch_make(&b0, "B0", 1, 5, 10, 10);
    tl_batch_make(&big, "BIG", 2, 50, 20000, 200000);
    enum ledger_post_outcome out;
    if (ledger_post_batch(l, &b0.b, &out, &diag) != ADJ_OK) {
        return 11;
    }
    /* Fill what is left, but for a little. */
    FILE *f = fopen(filler, "w");
    char block[4096];
    memset(block, 'x', sizeof block);
    while (fwrite(block, 1, sizeof block, f) == sizeof block && fflush(f) == 0) {
    }
    fclose(f);
    char *before = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&before, &len);
    ledger_dump(l, m, &diag);
    fclose(m);
    enum adj_err err = ledger_post_batch(l, &big.b, &out, &diag);
    if (err != ADJ_E_LEDGER_DISK_FULL && err != ADJ_E_IO) {
        fprintf(stderr, "tmpfs full: got %s\n", adj_err_name(err));
        return 12;
    }
    char *now = NULL;
    m = open_memstream(&now, &len);
    if (ledger_dump(l, m, &diag) != ADJ_OK) {
        return 13;
    }
    fclose(m);
    if (strcmp(before, now) != 0) {
        return 14;
    }
    ledger_close(l);
    unlink(filler);
    if (ledger_open(db, false, &l, &diag) != ADJ_OK) {
        return 15;
    }
    uint64_t problems = 0;
    if (ledger_verify(l, stderr, &problems, &diag) != ADJ_OK) {
        return 16;
    }
    if (ledger_post_batch(l, &big.b, &out, &diag) != ADJ_OK || out != LEDGER_POSTED) {
        return 17;
    }
    if (ledger_verify(l, stderr, &problems, &diag) != ADJ_OK) {
        return 18;
    }
    ledger_close(l);
    return 0;
}

Test(ledger_crash, disk_full_on_a_real_tmpfs)
{
    char mnt[700];
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    cr_assert_eq(mkdir(mnt, 0700), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        _exit(tmpfs_child(mnt));
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        cr_skip_test("cannot mount a tmpfs here (needs root and mount namespaces)");
    }
    cr_assert_eq(WEXITSTATUS(status), 0, "tmpfs check %d failed", WEXITSTATUS(status));
}

/* Two children post at once after a common start signal. Exit status:
 * 10 + outcome, or 1 on error. */
static int race_child(const char *path, const struct ledger_batch *b, int go_fd)
{
    char c;
    if (read(go_fd, &c, 1) != 1) {
        return 1;
    }
    struct ledger *l = NULL;
    struct adj_diag diag;
    if (ledger_open(path, false, &l, &diag) != ADJ_OK) {
        return 1;
    }
    enum ledger_post_outcome out;
    enum adj_err err = ledger_post_batch(l, b, &out, &diag);
    ledger_close(l);
    if (err != ADJ_OK) {
        fprintf(stderr, "race: %s %s\n", adj_err_name(err), diag.detail);
        return 1;
    }
    return 10 + (int)out;
}

static void race(const struct ledger_batch *a, const struct ledger_batch *b, int *st_a, int *st_b)
{
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t pa = fork();
    if (pa == 0) {
        _exit(race_child(base, a, go[0]));
    }
    pid_t pb = fork();
    if (pb == 0) {
        _exit(race_child(base, b, go[0]));
    }
    cr_assert_eq(write(go[1], "xx", 2), 2);
    int sa = 0, sb = 0;
    cr_assert_eq(waitpid(pa, &sa, 0), pa);
    cr_assert_eq(waitpid(pb, &sb, 0), pb);
    close(go[0]);
    close(go[1]);
    cr_assert(WIFEXITED(sa) && WIFEXITED(sb));
    *st_a = WEXITSTATUS(sa);
    *st_b = WEXITSTATUS(sb);
}

struct sum_ctx {
    int64_t treatment;
};

static void on_bal(void *ctx, const struct ledger_balance_row *r)
{
    struct sum_ctx *c = ctx;
    if (strcmp(r->account, "sso:treatment") == 0) {
        c->treatment = r->balance;
    }
}

static int64_t insurer_sum(const struct tl_batch *t)
{
    int64_t s = 0;
    for (size_t i = 0; i < t->b.center_count; i++) {
        s += t->centers[i].approved_insurer_rials;
    }
    return s;
}

Test(ledger_crash, two_processes_post_different_batches)
{
    struct ledger *l = tl_open(base);
    ledger_close(l);
    struct tl_batch a, b;
    tl_batch_make(&a, "BA", 31, 300, 20000, 100000);
    tl_batch_make(&b, "BB", 32, 300, 20000, 100000);
    int sa = 0, sb = 0;
    race(&a.b, &b.b, &sa, &sb);
    cr_assert_eq(sa, 10 + LEDGER_POSTED);
    cr_assert_eq(sb, 10 + LEDGER_POSTED);
    l = tl_open(base);
    tl_verify_ok(l);
    struct sum_ctx c = {0};
    struct adj_diag diag;
    cr_assert_eq(ledger_balances(l, &c, on_bal, &diag), ADJ_OK);
    cr_assert_eq(c.treatment, insurer_sum(&a) + insurer_sum(&b));
    ledger_close(l);
    tl_batch_free(&a);
    tl_batch_free(&b);
}

Test(ledger_crash, two_processes_post_the_same_batch_once)
{
    struct ledger *l = tl_open(base);
    ledger_close(l);
    struct tl_batch a;
    tl_batch_make(&a, "BA", 41, 300, 20000, 100000);
    int sa = 0, sb = 0;
    race(&a.b, &a.b, &sa, &sb);
    cr_assert((sa == 10 + LEDGER_POSTED && sb == 10 + LEDGER_ALREADY_POSTED) ||
                  (sb == 10 + LEDGER_POSTED && sa == 10 + LEDGER_ALREADY_POSTED),
              "outcomes %d %d", sa, sb);
    l = tl_open(base);
    tl_verify_ok(l);
    struct sum_ctx c = {0};
    struct adj_diag diag;
    cr_assert_eq(ledger_balances(l, &c, on_bal, &diag), ADJ_OK);
    cr_assert_eq(c.treatment, insurer_sum(&a));
    ledger_close(l);
    tl_batch_free(&a);
}
