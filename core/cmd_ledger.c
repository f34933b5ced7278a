/*
 * dadras ledger: the offset ledger's command line (spec/ledger.md). Parses
 * the operators' TSV files, calls core/ledger.h, prints results as TSV (for
 * scripts) or as a readable table (--table).
 *
 * Exit statuses: 0 done (including "already posted"); 1 some rows of an
 * offset or payment file refused (the others applied); 2 the operation was
 * refused (conflict, unverified batch, malformed file, verify found
 * problems, the file fails quick_check); 64 usage; 74 the store failed
 * (disk full, I/O error, busy): nothing was changed, retry. Every writing
 * operation runs PRAGMA quick_check first and refuses a damaged file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/limits.h"
#include "core/base/money.h"
#include "core/base/text.h"
#include "core/cli.h"
#include "core/ledger.h"

/* Operators' files: thousands of rows; far below this. */
#define CL_FILE_BYTES_MAX (256u << 20)
#define CL_FIELDS_MAX 8u

static const char cl_usage_text[] =
    "usage: dadras ledger init FILE\n"
    "       dadras ledger --ledger FILE OP [ARGS] [--table]\n"
    "       (or set DADRAS_LEDGER=FILE instead of --ledger)\n"
    "operations:\n"
    "  init FILE                 create a ledger (an existing ledger is left as is)\n"
    "  post OUTDIR               post a run's verified totals (OUTDIR/totals.tsv,\n"
    "                            settled_docs.txt, settled_packs.u64)\n"
    "  debts import FILE         TSV: employer workshop amount period hard_to_collect\n"
    "  offset apply FILE         TSV: agreement employer center amount governor_ref date\n"
    "  pay FILE                  TSV: center amount date ref\n"
    "  reverse ENTRY DATE REASON correct entry ENTRY (see `statement`) by a\n"
    "                            reversing entry dated DATE (YYYY/MM/DD)\n"
    "  balances                  every account's balance\n"
    "  statement ACCOUNT         postings of one account, e.g. center:C1:payable\n"
    "  report offsets PERIOD     offsets collected in PERIOD (YYYY/MM), per employer\n"
    "                            and workshop (clause 5 of circular 1000/98/10704)\n"
    "  verify                    integrity, balanced entries, cached balances\n"
    "  settled                   count the settled doc ids and pack ids (what\n"
    "                            `dadras run` loads at startup)\n"
    "  dump                      every row in key order (for diffs)\n"
    "options: --table  readable table instead of TSV\n"
    "exit: 0 ok, 1 some rows refused, 2 refused, 64 usage, 74 store error (retry)\n";

static int cl_usage(const char *msg)
{
    if (msg != NULL) {
        fprintf(stderr, "dadras ledger: %s\n", msg);
    }
    fputs(cl_usage_text, stderr);
    return CLI_EXIT_USAGE;
}

static int cl_exit_for(enum adj_err err)
{
    switch (err) {
    case ADJ_OK: return CLI_EXIT_OK;
    case ADJ_E_LEDGER_DISK_FULL:
    case ADJ_E_LEDGER_BUSY:
    case ADJ_E_IO:
    case ADJ_E_NOMEM:
    case ADJ_E_OPEN:
    case ADJ_E_READ:
    case ADJ_E_WRITE:
    case ADJ_E_LEDGER_READONLY:
    case ADJ_E_LEDGER_SQL:
        return CLI_EXIT_IOERR;
    default: return CLI_EXIT_UNVERIFIED;
    }
}

static int cl_fail(const struct adj_diag *diag)
{
    adj_diag_print(stderr, diag);
    return cl_exit_for(diag->code);
}

/* ---- TSV input ------------------------------------------------------------ */

struct cl_tsv {
    char *buf;
    char **fields;      /* rows * width */
    uint64_t *line_no;  /* per row */
    size_t rows, width;
};

static void cl_tsv_free(struct cl_tsv *t)
{
    free(t->buf);
    free(t->fields);
    free(t->line_no);
    memset(t, 0, sizeof *t);
}

/* Reads a TSV file of exactly `width` fields per row. Empty lines and
 * lines starting with '#' are skipped, and so is a first row whose first
 * field is `header` (a column-name row). CRLF is refused, not guessed. */
static enum adj_err cl_tsv_read(const char *path, size_t width, const char *header,
                                struct cl_tsv *t, struct adj_diag *diag)
{
    memset(t, 0, sizeof *t);
    t->width = width;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        adj_diag_set(diag, ADJ_E_OPEN, path, 0, 0, "%s", strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return ADJ_E_OPEN;
    }
    if ((uint64_t)st.st_size > CL_FILE_BYTES_MAX) {
        close(fd);
        adj_diag_set(diag, ADJ_E_LEDGER_INPUT, path, 0, 0, "file larger than 256 MiB");
        return ADJ_E_LEDGER_INPUT;
    }
    size_t size = (size_t)st.st_size;
    t->buf = malloc(size + 1);
    size_t done = 0;
    while (t->buf != NULL && done < size) {
        ssize_t r = read(fd, t->buf + done, size - done);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        done += (size_t)r;
    }
    close(fd);
    if (t->buf == NULL || done != size) {
        adj_diag_set(diag, t->buf == NULL ? ADJ_E_NOMEM : ADJ_E_READ, path, 0, 0, NULL);
        return diag->code;
    }
    t->buf[size] = '\0';
    size_t lines = 1;
    for (size_t i = 0; i < size; i++) {
        lines += t->buf[i] == '\n';
    }
    t->fields = calloc(lines * width + 1, sizeof *t->fields);
    t->line_no = calloc(lines + 1, sizeof *t->line_no);
    if (t->fields == NULL || t->line_no == NULL) {
        adj_diag_set(diag, ADJ_E_NOMEM, path, 0, 0, NULL);
        return ADJ_E_NOMEM;
    }
    uint64_t line_no = 0;
    for (size_t pos = 0; pos < size;) {
        char *line = t->buf + pos;
        char *nl = memchr(line, '\n', size - pos);
        size_t len = nl != NULL ? (size_t)(nl - line) : size - pos;
        line[len] = '\0';
        pos += len + 1;
        line_no++;
        if (len == 0 || line[0] == '#') {
            continue;
        }
        size_t bad = 0;
        if (!text_utf8_valid(line, len, &bad)) {
            adj_diag_set(diag, ADJ_E_UTF8_INVALID, path, line_no, (uint32_t)bad + 1, NULL);
            return ADJ_E_UTF8_INVALID;
        }
        char **f = t->fields + t->rows * width;
        size_t n = 0;
        char *start = line;
        for (size_t i = 0; i <= len; i++) {
            if (i == len || line[i] == '\t') {
                if (n == width) {
                    n++;
                    break;
                }
                f[n++] = start;
                line[i] = '\0';
                start = line + i + 1;
            } else if ((unsigned char)line[i] < 0x20) {
                adj_diag_set(diag, ADJ_E_CONTROL_CHAR, path, line_no, (uint32_t)i + 1, NULL);
                return ADJ_E_CONTROL_CHAR;
            }
        }
        if (n != width) {
            adj_diag_set(diag, ADJ_E_FIELD_COUNT, path, line_no, 0, "expected %zu fields", width);
            return ADJ_E_FIELD_COUNT;
        }
        if (t->rows == 0 && header != NULL && strcmp(f[0], header) == 0) {
            continue;
        }
        t->line_no[t->rows++] = line_no;
    }
    return ADJ_OK;
}

/* Column (1-based byte) of field k of a row, for diagnostics. */
static uint32_t cl_col(const struct cl_tsv *t, size_t row, size_t k)
{
    size_t col = 1;
    for (size_t i = 0; i < k; i++) {
        col += strlen(t->fields[row * t->width + i]) + 1;
    }
    return (uint32_t)col;
}

static enum adj_err cl_amount(const struct cl_tsv *t, const char *path, size_t row, size_t k,
                              int64_t *out, struct adj_diag *diag)
{
    const char *s = t->fields[row * t->width + k];
    uint64_t v = 0;
    size_t off = 0;
    enum adj_err err = text_parse_u64(s, strlen(s), (uint64_t)ADJ_RIAL_MAX, &v, &off);
    if (err == ADJ_OK && v == 0) {
        err = ADJ_E_LEDGER_AMOUNT;
    }
    if (err != ADJ_OK) {
        adj_diag_set(diag, err == ADJ_E_NUMBER_RANGE ? ADJ_E_LEDGER_AMOUNT : err, path,
                     t->line_no[row], cl_col(t, row, k), "amount '%.40s'", s);
        return diag->code;
    }
    *out = (int64_t)v;
    return ADJ_OK;
}

static int cl_rows_report(const char *what, const char *path, const struct cl_tsv *t,
                          const struct ledger_row_result *r)
{
    size_t applied = 0, already = 0, refused = 0;
    for (size_t i = 0; i < t->rows; i++) {
        if (r[i].outcome == LEDGER_ROW_APPLIED) {
            applied++;
        } else if (r[i].outcome == LEDGER_ROW_ALREADY) {
            already++;
        } else {
            struct adj_diag d;
            adj_diag_set(&d, r[i].reason, path, t->line_no[i], 0, "%s", r[i].detail);
            adj_diag_print(stderr, &d);
            refused++;
        }
    }
    printf("%s: %zu applied, %zu already applied (no-op), %zu refused\n", what, applied, already,
           refused);
    return refused > 0 ? CLI_EXIT_REJECTED : CLI_EXIT_OK;
}

/* ---- Operations ------------------------------------------------------------- */

static int cl_debts(struct ledger *l, const char *path)
{
    struct cl_tsv t;
    struct adj_diag diag;
    enum adj_err err = cl_tsv_read(path, 5, "employer", &t, &diag);
    struct ledger_debt *rows = calloc(t.rows + 1, sizeof *rows);
    struct ledger_row_result *res = calloc(t.rows + 1, sizeof *res);
    if (err == ADJ_OK && (rows == NULL || res == NULL)) {
        err = ADJ_E_NOMEM;
        adj_diag_set(&diag, err, path, 0, 0, NULL);
    }
    for (size_t i = 0; err == ADJ_OK && i < t.rows; i++) {
        char **f = t.fields + i * 5;
        rows[i] = (struct ledger_debt){f[0], f[1], f[3], 0, false};
        err = cl_amount(&t, path, i, 2, &rows[i].amount_rials, &diag);
        if (err == ADJ_OK && strcmp(f[4], "0") != 0 && strcmp(f[4], "1") != 0) {
            adj_diag_set(&diag, ADJ_E_LEDGER_INPUT, path, t.line_no[i], cl_col(&t, i, 4),
                         "hard_to_collect must be 0 or 1");
            err = ADJ_E_LEDGER_INPUT;
        }
        rows[i].hard_to_collect = err == ADJ_OK && f[4][0] == '1';
    }
    int status;
    if (err != ADJ_OK) {
        status = cl_fail(&diag);
    } else {
        err = ledger_import_debts(l, rows, t.rows, res, &diag);
        if (err == ADJ_E_LEDGER_INPUT) {
            for (size_t i = 0; i < t.rows; i++) {
                if (res[i].outcome == LEDGER_ROW_REFUSED) {
                    struct adj_diag d;
                    adj_diag_set(&d, res[i].reason, path, t.line_no[i], 0, "%s", res[i].detail);
                    adj_diag_print(stderr, &d);
                }
            }
        }
        if (err != ADJ_OK) {
            status = cl_fail(&diag);
        } else {
            status = cl_rows_report("debts", path, &t, res);
        }
    }
    free(rows);
    free(res);
    cl_tsv_free(&t);
    return status;
}

static int cl_offsets(struct ledger *l, const char *path)
{
    struct cl_tsv t;
    struct adj_diag diag;
    enum adj_err err = cl_tsv_read(path, 6, "agreement", &t, &diag);
    struct ledger_offset *rows = calloc(t.rows + 1, sizeof *rows);
    struct ledger_row_result *res = calloc(t.rows + 1, sizeof *res);
    if (err == ADJ_OK && (rows == NULL || res == NULL)) {
        err = ADJ_E_NOMEM;
        adj_diag_set(&diag, err, path, 0, 0, NULL);
    }
    for (size_t i = 0; err == ADJ_OK && i < t.rows; i++) {
        char **f = t.fields + i * 6;
        rows[i] = (struct ledger_offset){f[0], f[1], f[2], 0, f[4], f[5]};
        err = cl_amount(&t, path, i, 3, &rows[i].amount_rials, &diag);
    }
    int status = err != ADJ_OK ? cl_fail(&diag) : CLI_EXIT_OK;
    if (err == ADJ_OK) {
        err = ledger_apply_offsets(l, rows, t.rows, res, &diag);
        status = err != ADJ_OK ? cl_fail(&diag) : cl_rows_report("offsets", path, &t, res);
    }
    free(rows);
    free(res);
    cl_tsv_free(&t);
    return status;
}

static int cl_pay(struct ledger *l, const char *path)
{
    struct cl_tsv t;
    struct adj_diag diag;
    enum adj_err err = cl_tsv_read(path, 4, "center", &t, &diag);
    struct ledger_payment *rows = calloc(t.rows + 1, sizeof *rows);
    struct ledger_row_result *res = calloc(t.rows + 1, sizeof *res);
    if (err == ADJ_OK && (rows == NULL || res == NULL)) {
        err = ADJ_E_NOMEM;
        adj_diag_set(&diag, err, path, 0, 0, NULL);
    }
    for (size_t i = 0; err == ADJ_OK && i < t.rows; i++) {
        char **f = t.fields + i * 4;
        rows[i] = (struct ledger_payment){f[0], 0, f[2], f[3]};
        err = cl_amount(&t, path, i, 1, &rows[i].amount_rials, &diag);
    }
    int status = err != ADJ_OK ? cl_fail(&diag) : CLI_EXIT_OK;
    if (err == ADJ_OK) {
        err = ledger_pay(l, rows, t.rows, res, &diag);
        status = err != ADJ_OK ? cl_fail(&diag) : cl_rows_report("payments", path, &t, res);
    }
    free(rows);
    free(res);
    cl_tsv_free(&t);
    return status;
}

static int cl_reverse(struct ledger *l, const char *entry, const char *date, const char *reason)
{
    uint64_t id = 0;
    size_t off = 0;
    struct adj_diag diag;
    if (text_parse_u64(entry, strlen(entry), (uint64_t)INT64_MAX, &id, &off) != ADJ_OK) {
        return cl_usage("ENTRY must be an entry number");
    }
    struct ledger_row_result r;
    int64_t rev = 0;
    enum adj_err err = ledger_reverse(l, (int64_t)id, date, reason, &r, &rev, &diag);
    if (err != ADJ_OK) {
        return cl_fail(&diag);
    }
    if (r.outcome == LEDGER_ROW_REFUSED) {
        adj_diag_set(&diag, r.reason, NULL, 0, 0, "%s", r.detail);
        adj_diag_print(stderr, &diag);
        return CLI_EXIT_UNVERIFIED;
    }
    printf("entry %llu: %s by entry %lld\n", (unsigned long long)id,
           r.outcome == LEDGER_ROW_APPLIED ? "reversed" : "already reversed (no-op)",
           (long long)rev);
    return CLI_EXIT_OK;
}

struct cl_post_ctx {
    size_t posted, already;
};

static void cl_on_batch(void *ctx, const char *batch_id, enum ledger_post_outcome outcome,
                        enum adj_err err, const struct adj_diag *diag)
{
    struct cl_post_ctx *c = ctx;
    if (err != ADJ_OK) {
        adj_diag_print(stderr, diag);
    } else if (outcome == LEDGER_POSTED) {
        printf("batch %s: posted\n", batch_id);
        c->posted++;
    } else {
        printf("batch %s: already posted (no-op)\n", batch_id);
        c->already++;
    }
}

static int cl_post(struct ledger *l, const char *outdir)
{
    struct cl_post_ctx c = {0, 0};
    size_t refused = 0;
    struct adj_diag diag;
    enum adj_err err = ledger_post_outdir(l, outdir, &c, cl_on_batch, &refused, &diag);
    if (err != ADJ_OK) {
        return cl_fail(&diag);
    }
    printf("post: %zu posted, %zu already posted, %zu refused\n", c.posted, c.already, refused);
    return refused > 0 ? CLI_EXIT_UNVERIFIED : CLI_EXIT_OK;
}

static void cl_balance_tsv(void *ctx, const struct ledger_balance_row *r)
{
    (void)ctx;
    printf("%s\t%c\t%lld\t%lld\t%lld\n", r->account, r->normal_side, (long long)r->balance,
           (long long)r->debits, (long long)r->credits);
}

static void cl_balance_table(void *ctx, const struct ledger_balance_row *r)
{
    (void)ctx;
    char b[28], d[28], c[28];
    printf("%-44s %c %26s %26s %26s\n", r->account, r->normal_side,
           money_format_grouped(r->balance, b), money_format_grouped(r->debits, d),
           money_format_grouped(r->credits, c));
}

static void cl_statement_tsv(void *ctx, const struct ledger_statement_row *r)
{
    (void)ctx;
    printf("%lld\t%s\t%s\t%s\t%lld\t%lld\t%lld\n", (long long)r->entry_id, r->value_date,
           r->kind, r->ref, (long long)r->debit, (long long)r->credit, (long long)r->running);
}

static void cl_statement_table(void *ctx, const struct ledger_statement_row *r)
{
    (void)ctx;
    char d[28], c[28], b[28];
    printf("%8lld  %-10s  %-8s  %-40s %22s %22s %24s\n", (long long)r->entry_id, r->value_date,
           r->kind, r->ref, r->debit > 0 ? money_format_grouped(r->debit, d) : "",
           r->credit > 0 ? money_format_grouped(r->credit, c) : "",
           money_format_grouped(r->running, b));
}

struct cl_report_ctx {
    bool table;
    char employer[33], workshop[33];
    int64_t sub, total;
    size_t rows;
    bool overflow;
};

static void cl_report_subtotal(struct cl_report_ctx *c)
{
    if (c->table && c->rows > 0) {
        char b[28];
        printf("%-32s %-16s %-60s %22s\n", "", "", "subtotal", money_format_grouped(c->sub, b));
    }
}

static void cl_report_row(void *ctx, const struct ledger_offset_report_row *r)
{
    struct cl_report_ctx *c = ctx;
    if (!c->table) {
        printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%lld\n", r->employer, r->workshop, r->debt_period,
               r->agreement, r->governor_ref, r->date, r->center, (long long)r->amount);
    } else {
        if (c->rows == 0 || strcmp(c->employer, r->employer) != 0 ||
            strcmp(c->workshop, r->workshop) != 0) {
            cl_report_subtotal(c);
            snprintf(c->employer, sizeof c->employer, "%s", r->employer);
            snprintf(c->workshop, sizeof c->workshop, "%s", r->workshop);
            c->sub = 0;
        }
        char b[28];
        printf("%-32s %-16s %-7s  %-20s %-20s %-10s %22s  %s\n", r->employer, r->workshop,
               r->debt_period, r->agreement, r->governor_ref, r->date,
               money_format_grouped(r->amount, b), r->center);
    }
    if (!money_add(c->sub, r->amount, &c->sub) || !money_add(c->total, r->amount, &c->total)) {
        c->overflow = true;
    }
    c->rows++;
}

struct cl_settled_ctx {
    uint64_t docs, packs, doc_bytes, chunks;
};

static void cl_on_docs(void *ctx, const char *ids, size_t bytes, size_t count)
{
    (void)ids;
    struct cl_settled_ctx *c = ctx;
    c->docs += count;
    c->doc_bytes += bytes;
    c->chunks++;
}

static void cl_on_packs(void *ctx, const uint64_t *keys, size_t count)
{
    (void)keys;
    struct cl_settled_ctx *c = ctx;
    c->packs += count;
    c->chunks++;
}

static int cl_read_op(struct ledger *l, char **pos, size_t npos, bool table)
{
    struct adj_diag diag;
    enum adj_err err = ADJ_OK;
    if (strcmp(pos[0], "balances") == 0 && npos == 1) {
        if (table) {
            printf("%-44s %s %26s %26s %26s\n", "account", "n", "balance", "debits", "credits");
        } else {
            printf("account\tnormal_side\tbalance\tdebits\tcredits\n");
        }
        err = ledger_balances(l, NULL, table ? cl_balance_table : cl_balance_tsv, &diag);
    } else if (strcmp(pos[0], "statement") == 0 && npos == 2) {
        if (table) {
            printf("%s\n%8s  %-10s  %-8s  %-40s %22s %22s %24s\n", pos[1], "entry", "date", "kind",
                   "ref", "debit", "credit", "balance");
        } else {
            printf("entry\tdate\tkind\tref\tdebit\tcredit\tbalance\n");
        }
        err = ledger_statement(l, pos[1], NULL, table ? cl_statement_table : cl_statement_tsv,
                               &diag);
    } else if (strcmp(pos[0], "report") == 0 && npos == 3 && strcmp(pos[1], "offsets") == 0) {
        struct cl_report_ctx c;
        memset(&c, 0, sizeof c);
        c.table = table;
        if (table) {
            printf("Offsets (tahator) collected in %s, circular 1000/98/10704 clause 5\n", pos[2]);
            printf("%-32s %-16s %-7s  %-20s %-20s %-10s %22s  %s\n", "employer", "workshop",
                   "debt", "agreement", "governor_ref", "date", "amount (rials)", "center");
        } else {
            printf("employer\tworkshop\tdebt_period\tagreement\tgovernor_ref\tdate\tcenter\tamount\n");
        }
        err = ledger_offset_report(l, pos[2], &c, cl_report_row, &diag);
        if (err == ADJ_OK && c.overflow) {
            adj_diag_set(&diag, ADJ_E_OVERFLOW, NULL, 0, 0, "report total");
            err = ADJ_E_OVERFLOW;
        }
        if (err == ADJ_OK && table) {
            char b[28];
            cl_report_subtotal(&c);
            printf("%-32s %-16s %-60s %22s\n", "total", "", "", money_format_grouped(c.total, b));
        }
    } else if (strcmp(pos[0], "verify") == 0 && npos == 1) {
        uint64_t problems = 0;
        err = ledger_verify(l, stdout, &problems, &diag);
        if (err == ADJ_OK) {
            printf("verify: ok\n");
        }
    } else if (strcmp(pos[0], "settled") == 0 && npos == 1) {
        struct cl_settled_ctx c = {0, 0, 0, 0};
        err = ledger_load_settled(l, &c, cl_on_docs, cl_on_packs, &diag);
        if (err == ADJ_OK) {
            printf("settled: %llu doc ids (%llu bytes), %llu pack ids, %llu chunks\n",
                   (unsigned long long)c.docs, (unsigned long long)c.doc_bytes,
                   (unsigned long long)c.packs, (unsigned long long)c.chunks);
        }
    } else if (strcmp(pos[0], "dump") == 0 && npos == 1) {
        err = ledger_dump(l, stdout, &diag);
    } else {
        return cl_usage("unknown operation or wrong number of arguments");
    }
    if (fflush(stdout) != 0 && err == ADJ_OK) {
        adj_diag_set(&diag, ADJ_E_WRITE, "<stdout>", 0, 0, "%s", strerror(errno));
        err = ADJ_E_WRITE;
    }
    return err != ADJ_OK ? cl_fail(&diag) : CLI_EXIT_OK;
}

int cmd_ledger(int argc, char **argv)
{
    const char *ledger_path = getenv("DADRAS_LEDGER");
    bool table = false;
    char *pos[8];
    size_t npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(cl_usage_text, stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--table") == 0) {
            table = true;
        } else if (strcmp(a, "--tsv") == 0) {
            table = false;
        } else if (strcmp(a, "--ledger") == 0) {
            if (i + 1 >= argc) {
                return cl_usage("--ledger needs a FILE");
            }
            ledger_path = argv[++i];
        } else if (strncmp(a, "--ledger=", 9) == 0) {
            ledger_path = a + 9;
        } else if (a[0] == '-' && a[1] == '-') {
            return cl_usage("unknown option");
        } else if (npos < sizeof pos / sizeof pos[0]) {
            pos[npos++] = argv[i];
        } else {
            return cl_usage("too many arguments");
        }
    }
    if (npos == 0) {
        return cl_usage(NULL);
    }
    struct adj_diag diag;
    struct ledger *l = NULL;
    if (strcmp(pos[0], "init") == 0) {
        if (npos != 2) {
            return cl_usage("init takes FILE");
        }
        struct stat st;
        bool existed = stat(pos[1], &st) == 0 && st.st_size > 0;
        enum adj_err err = ledger_open(pos[1], true, &l, &diag);
        if (err != ADJ_OK) {
            return cl_fail(&diag);
        }
        ledger_close(l);
        printf("%s: %s (schema %d)\n", pos[1],
               existed ? "already a ledger, left as is" : "ledger created", LEDGER_SCHEMA_VERSION);
        return CLI_EXIT_OK;
    }
    if (ledger_path == NULL) {
        return cl_usage("which ledger? give --ledger FILE or set DADRAS_LEDGER");
    }
    enum adj_err err = ledger_open(ledger_path, false, &l, &diag);
    if (err != ADJ_OK) {
        return cl_fail(&diag);
    }
    int status;
    bool writes = strcmp(pos[0], "post") == 0 || strcmp(pos[0], "debts") == 0 ||
                  strcmp(pos[0], "offset") == 0 || strcmp(pos[0], "pay") == 0 ||
                  strcmp(pos[0], "reverse") == 0;
    if (writes && (err = ledger_quick_check(l, &diag)) != ADJ_OK) {
        status = cl_fail(&diag);
    } else if (strcmp(pos[0], "post") == 0 && npos == 2) {
        status = cl_post(l, pos[1]);
    } else if (strcmp(pos[0], "debts") == 0 && npos == 3 && strcmp(pos[1], "import") == 0) {
        status = cl_debts(l, pos[2]);
    } else if (strcmp(pos[0], "offset") == 0 && npos == 3 && strcmp(pos[1], "apply") == 0) {
        status = cl_offsets(l, pos[2]);
    } else if (strcmp(pos[0], "pay") == 0 && npos == 2) {
        status = cl_pay(l, pos[1]);
    } else if (strcmp(pos[0], "reverse") == 0 && npos == 4) {
        status = cl_reverse(l, pos[1], pos[2], pos[3]);
    } else {
        status = cl_read_op(l, pos, npos, table);
    }
    ledger_close(l);
    return status;
}
