/*
 * dadras rules: tools for rule authors (rules-language.md 6, 7, 9).
 *
 *   dadras rules check PATH [--tables DIR]
 *       Loads every NAME.rules of PATH and the tables they declare (default
 *       PATH/tables); prints every diagnostic; exit 1 on any error.
 *   dadras rules test PATH [--tables DIR]
 *       Runs the cases PATH/tests/NAME.case (a small batch, a line
 *       `== expected`, then a TSV of expected decisions: columns doc_id,
 *       line_no (`-` for the document row) and any subset of the decision
 *       columns; `*` in a cell means "any"). A case uses the tables in
 *       PATH/tests/NAME.tables/ when that folder exists. ID#2 in doc_id
 *       names the second document with a repeated id. Prints a diff per
 *       failure and `N passed, N failed`; exit 1 on any failure.
 *   dadras rules diff OLD NEW BATCH [--tables DIR]
 *       Adjudicates BATCH under both rule sets and reports, per reason code
 *       and per center, the lines and rials that change, with examples.
 *
 * Documents are evaluated one by one through rules_eval_doc, the evaluator
 * the pipeline calls, with in-memory doc/pack-id history (rules_batch.h).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base/money.h"
#include "core/cli.h"
#include "core/rules_batch.h"
#include "rules/rules.h"

static int rules_usage(void)
{
    fprintf(stderr, "usage: dadras rules check PATH [--tables DIR]\n"
                    "       dadras rules test PATH [--tables DIR]\n"
                    "       dadras rules diff OLD NEW BATCH [--tables DIR]\n");
    return CLI_EXIT_USAGE;
}

/* Positional arguments and --tables. Returns false on a usage error. */
static bool parse_args(int argc, char **argv, const char **pos, int npos, const char **tables)
{
    int n = 0;
    *tables = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tables") == 0 && i + 1 < argc && !*tables)
            *tables = argv[++i];
        else if (argv[i][0] == '-' || n >= npos)
            return false;
        else
            pos[n++] = argv[i];
    }
    return n == npos;
}

static struct rules_set *load_set(const char *path, const char *tables)
{
    char tdir[4096];
    if (!tables) {
        snprintf(tdir, sizeof tdir, "%s/tables", path);
        tables = tdir;
    }
    struct rules_set *set = NULL;
    if (rules_load(path, tables, stderr, &set) != ADJ_OK)
        return NULL;
    return set;
}

static int rules_check(int argc, char **argv)
{
    const char *path, *tables;
    if (!parse_args(argc, argv, &path, 1, &tables))
        return rules_usage();
    struct rules_set *set = load_set(path, tables);
    if (!set)
        return 1;
    printf("%s: ok, %u reasons\n", path, rules_reason_count(set));
    if (!rules_compiled(set))
        fprintf(stderr, "%s: note: the set is too large for the compiled evaluator and runs on the "
                        "reference evaluator, several times slower\n",
                path);
    rules_free(set);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------ decisions */

struct result {
    char doc_id[ADJ_ID_BYTES_MAX + 1];
    char center[ADJ_ID_BYTES_MAX + 1];
    uint32_t line_no; /* 0 = the document row */
    struct line_decision ld;
    struct doc_decision dd;
    char reasons[256];
};

struct results {
    struct result *r;
    size_t n, cap;
};

static struct result *results_add(struct results *rs)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 256;
        struct result *nr = realloc(rs->r, cap * sizeof *nr);
        if (!nr)
            return NULL;
        rs->r = nr;
        rs->cap = cap;
    }
    struct result *x = &rs->r[rs->n++];
    memset(x, 0, sizeof *x);
    return x;
}

struct eval_ctx {
    const struct rules_set *set;
    struct rb_seen seen;
    struct results *out;
    struct line_decision *lines;
    enum adj_err err;
    char err_doc[ADJ_ID_BYTES_MAX + 1];
};

static int eval_doc(void *vctx, const struct doc *doc, const struct doc_line *lines,
                    const uint64_t *uids)
{
    struct eval_ctx *c = vctx;
    struct doc_decision dd;
    struct seen_ops ops = rb_seen_ops(&c->seen);
    enum adj_err e = rules_eval_doc(c->set, doc, lines, uids, &ops, &dd, c->lines, NULL);
    if (e != ADJ_OK) {
        if (c->err == ADJ_OK) {
            c->err = e;
            snprintf(c->err_doc, sizeof c->err_doc, "%.*s", (int)doc->doc_id_len, doc->doc_id_raw);
        }
        return 0;
    }
    struct result *x = results_add(c->out);
    if (!x) {
        c->err = ADJ_E_NOMEM;
        return 1;
    }
    snprintf(x->doc_id, sizeof x->doc_id, "%.*s", (int)doc->doc_id_len, doc->doc_id_raw);
    snprintf(x->center, sizeof x->center, "%.*s", (int)doc->center_len, doc->center);
    x->dd = dd;
    rules_reasons_format(c->set, dd.reasons, x->reasons, sizeof x->reasons);
    for (uint32_t i = 0; i < doc->line_count; i++) {
        struct result *y = results_add(c->out);
        if (!y) {
            c->err = ADJ_E_NOMEM;
            return 1;
        }
        memcpy(y->doc_id, x->doc_id, sizeof y->doc_id);
        memcpy(y->center, x->center, sizeof y->center);
        y->line_no = lines[i].line_no;
        y->ld = c->lines[i];
        rules_reasons_format(c->set, c->lines[i].reasons, y->reasons, sizeof y->reasons);
    }
    return 0;
}

/* Adjudicates a whole batch (file, or memory when mem != NULL). */
static enum adj_err eval_batch(const struct rules_set *set, const char *name, const void *mem,
                               size_t len, struct results *out, uint64_t *rejected, bool *verified)
{
    struct eval_ctx c;
    memset(&c, 0, sizeof c);
    c.set = set;
    c.out = out;
    rb_seen_init(&c.seen);
    c.lines = malloc(ADJ_LINES_PER_DOC_MAX * sizeof *c.lines);
    if (!c.lines)
        return ADJ_E_NOMEM;
    enum adj_err e = rb_each_doc(name, mem, len, stderr, eval_doc, &c, rejected, verified);
    if (c.err != ADJ_OK) {
        fprintf(stderr, "%s: error: document %s: %s [%s]\n", name, c.err_doc, adj_err_message(c.err),
                adj_err_name(c.err));
        e = c.err;
    }
    free(c.lines);
    rb_seen_free(&c.seen);
    return e;
}

/* The value of a decision column as text; false for an unknown column. */
static bool column_value(const struct result *x, const char *col, char *buf, size_t cap)
{
    bool doc = x->line_no == 0;
    int64_t v;
    if (strcmp(col, "status") == 0) {
        snprintf(buf, cap, "%c", doc ? x->dd.status : x->ld.status);
        return true;
    }
    if (strcmp(col, "reasons") == 0) {
        snprintf(buf, cap, "%s", x->reasons);
        return true;
    }
    if (strcmp(col, "approved_insurer") == 0)
        v = doc ? x->dd.approved_insurer_rials : x->ld.approved_insurer_rials;
    else if (strcmp(col, "approved_daroyar") == 0)
        v = doc ? x->dd.approved_daroyar_rials : x->ld.approved_daroyar_rials;
    else if (strcmp(col, "deduction") == 0)
        v = doc ? x->dd.deduction_rials : x->ld.deduction_rials;
    else if (doc && strcmp(col, "claimed_insurer") == 0)
        v = x->dd.claimed_insurer_rials;
    else if (doc && strcmp(col, "claimed_daroyar") == 0)
        v = x->dd.claimed_daroyar_rials;
    else if (!doc && strcmp(col, "qty_a") == 0)
        v = x->ld.qty_a;
    else if (!doc && strcmp(col, "gross") == 0)
        v = x->ld.gross_rials;
    else if (!doc && strcmp(col, "patient") == 0)
        v = x->ld.patient_rials;
    else if (!doc && strcmp(col, "insurer") == 0)
        v = x->ld.insurer_rials;
    else if (!doc && strcmp(col, "daroyar") == 0)
        v = x->ld.daroyar_rials;
    else
        return false;
    snprintf(buf, cap, "%lld", (long long)v);
    return true;
}

/* ----------------------------------------------------------------- test */

#define CASE_FIELDS_MAX 16

static size_t split_tabs(char *line, char **f, size_t max)
{
    size_t n = 0;
    char *s = line;
    for (;;) {
        char *t = strchr(s, '\t');
        if (n < max)
            f[n++] = s;
        if (!t)
            break;
        *t = '\0';
        s = t + 1;
    }
    return n;
}

/* Runs one case; returns true if it passed. */
static bool run_case(const char *path, const char *name, const struct rules_set *base)
{
    char file[4096];
    snprintf(file, sizeof file, "%s/tests/%s", path, name);
    FILE *f = fopen(file, "rb");
    if (!f) {
        printf("FAIL %s: cannot read\n", name);
        return false;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            char *nt = realloc(text, cap);
            if (!nt) {
                free(text);
                fclose(f);
                return false;
            }
            text = nt;
        }
        memcpy(text + len, chunk, got);
        len += got;
    }
    fclose(f);
    if (!text) {
        printf("FAIL %s: empty case\n", name);
        return false;
    }
    text[len] = '\0';
    char *sep = strstr(text, "\n== expected\n");
    if (!sep) {
        printf("FAIL %s: no line '== expected'\n", name);
        free(text);
        return false;
    }
    size_t batch_len = (size_t)(sep - text) + 1;
    char *exp = sep + strlen("\n== expected\n");

    /* Own tables? */
    const struct rules_set *set = base;
    struct rules_set *own = NULL;
    char tdir[4096];
    snprintf(tdir, sizeof tdir, "%s/tests/%.*s.tables", path, (int)(strlen(name) - 5), name);
    struct stat sb;
    if (stat(tdir, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (rules_load(path, tdir, stderr, &own) != ADJ_OK) {
            printf("FAIL %s: its tables do not load\n", name);
            free(text);
            return false;
        }
        set = own;
    }
    struct results rs = {NULL, 0, 0};
    uint64_t rejected = 0;
    bool verified = false;
    enum adj_err e = eval_batch(set, file, text, batch_len, &rs, &rejected, &verified);
    bool ok = e == ADJ_OK;
    if (!ok)
        printf("FAIL %s: %s\n", name, adj_err_name(e));
    else if (!verified) {
        /* A case is a batch (batch-format.md): one that does not verify
         * (a trailer that disagrees, a batch-level error) would never be
         * adjudicated and posted, so it proves nothing. */
        printf("FAIL %s: its batch is not verified (see the diagnostics above)\n", name);
        ok = false;
    }
    if (rejected)
        printf("note %s: %llu document(s) rejected at intake (see the diagnostics above)\n", name,
               (unsigned long long)rejected);

    char *cols[CASE_FIELDS_MAX];
    size_t ncols = 0;
    uint32_t exp_line = 0;
    char *save = NULL;
    for (char *ln = strtok_r(exp, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        exp_line++;
        size_t l = strlen(ln);
        if (l && ln[l - 1] == '\r')
            ln[l - 1] = '\0';
        if (ln[0] == '#' || ln[0] == '\0')
            continue;
        char *fld[CASE_FIELDS_MAX];
        size_t nf = split_tabs(ln, fld, CASE_FIELDS_MAX);
        if (ncols == 0) {
            memcpy(cols, fld, nf * sizeof fld[0]);
            ncols = nf;
            if (ncols < 3 || strcmp(cols[0], "doc_id") != 0 || strcmp(cols[1], "line_no") != 0) {
                printf("FAIL %s: expected header must start doc_id, line_no, then columns\n", name);
                ok = false;
                break;
            }
            continue;
        }
        if (nf != ncols) {
            printf("FAIL %s: expected row %u has %zu fields, header %zu\n", name, exp_line, nf, ncols);
            ok = false;
            continue;
        }
        uint32_t line_no = strcmp(fld[1], "-") == 0 ? 0 : (uint32_t)strtoul(fld[1], NULL, 10);
        /* ID#N names the N-th document with that id (a repeated doc id). */
        char want_id[ADJ_ID_BYTES_MAX + 8];
        snprintf(want_id, sizeof want_id, "%s", fld[0]);
        unsigned long nth = 1;
        char *hash = strrchr(want_id, '#');
        if (hash && hash[1]) {
            nth = strtoul(hash + 1, NULL, 10);
            *hash = '\0';
        }
        const struct result *x = NULL;
        for (size_t i = 0; i < rs.n && !x; i++)
            if (rs.r[i].line_no == line_no && strcmp(rs.r[i].doc_id, want_id) == 0 && --nth == 0)
                x = &rs.r[i];
        if (!x) {
            printf("FAIL %s: doc %s line %s: no decision (rejected at intake or absent)\n", name,
                   fld[0], fld[1]);
            ok = false;
            continue;
        }
        bool header_done = false;
        for (size_t c = 2; c < ncols; c++) {
            char got_v[300];
            if (!column_value(x, cols[c], got_v, sizeof got_v)) {
                printf("FAIL %s: unknown column '%s' for a %s row\n", name, cols[c],
                       line_no ? "line" : "document");
                ok = false;
                continue;
            }
            if (strcmp(fld[c], "*") == 0 || strcmp(fld[c], got_v) == 0)
                continue;
            if (!header_done) {
                printf("FAIL %s: doc %s line %s\n", name, fld[0], fld[1]);
                header_done = true;
            }
            printf("  - %s %s\n  + %s %s\n", cols[c], fld[c], cols[c], got_v);
            ok = false;
        }
    }
    if (ncols == 0 && ok) {
        printf("FAIL %s: no expected decisions\n", name);
        ok = false;
    }
    free(rs.r);
    free(text);
    rules_free(own);
    return ok;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int rules_test(int argc, char **argv)
{
    const char *path, *tables;
    if (!parse_args(argc, argv, &path, 1, &tables))
        return rules_usage();
    struct rules_set *set = load_set(path, tables);
    if (!set)
        return 1;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests", path);
    DIR *d = opendir(dir);
    char *names[1024];
    size_t n = 0;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL && n < 1024) {
            size_t l = strlen(de->d_name);
            if (l > 5 && strcmp(de->d_name + l - 5, ".case") == 0 && de->d_name[0] != '.') {
                names[n] = strdup(de->d_name);
                if (names[n])
                    n++;
            }
        }
        closedir(d);
    }
    qsort(names, n, sizeof names[0], cmp_names);
    uint32_t passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (run_case(path, names[i], set))
            passed++;
        else
            failed++;
        free(names[i]);
    }
    if (n == 0) {
        printf("%s: no NAME.case files\n", dir);
        failed++;
    }
    printf("%u passed, %u failed\n", passed, failed);
    rules_free(set);
    return failed ? 1 : CLI_EXIT_OK;
}

/* ----------------------------------------------------------------- diff */

#define DIFF_KEYS_MAX 4096u
#define DIFF_EXAMPLES 3u

struct diff_bucket {
    char key[ADJ_ID_BYTES_MAX + 1];
    uint64_t lines, gained, lost;
    int64_t rials;
    char examples[DIFF_EXAMPLES][ADJ_ID_BYTES_MAX + 16];
    uint32_t nex;
};

struct diff_table {
    struct diff_bucket *b;
    uint32_t n;
    uint64_t dropped; /* distinct keys beyond DIFF_KEYS_MAX */
};

static struct diff_bucket *bucket(struct diff_table *t, const char *key)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (strcmp(t->b[i].key, key) == 0)
            return &t->b[i];
    if (t->n >= DIFF_KEYS_MAX) {
        t->dropped++;
        return NULL;
    }
    struct diff_bucket *x = &t->b[t->n++];
    memset(x, 0, sizeof *x);
    snprintf(x->key, sizeof x->key, "%s", key);
    return x;
}

static void bucket_add(struct diff_bucket *x, const struct result *r, int64_t delta)
{
    if (!x)
        return;
    x->lines++;
    x->rials += delta;
    if (x->nex < DIFF_EXAMPLES)
        snprintf(x->examples[x->nex++], sizeof x->examples[0], "%s:%u", r->doc_id, r->line_no);
}

static bool has_code(const char *list, const char *code)
{
    size_t n = strlen(code);
    for (const char *p = list; (p = strstr(p, code)) != NULL; p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

static void print_buckets(const char *title, struct diff_table *t)
{
    printf("%s\n", title);
    if (t->n == 0)
        printf("  (none)\n");
    for (uint32_t i = 0; i < t->n; i++) {
        const struct diff_bucket *x = &t->b[i];
        char g[28];
        printf("  %-12s %6llu lines", x->key, (unsigned long long)x->lines);
        if (x->gained || x->lost)
            printf(" (+%llu gained, -%llu lost)", (unsigned long long)x->gained,
                   (unsigned long long)x->lost);
        printf("  approved %s%s rials  e.g.", x->rials >= 0 ? "+" : "-",
               money_format_grouped(x->rials >= 0 ? x->rials : -x->rials, g));
        for (uint32_t k = 0; k < x->nex; k++)
            printf(" %s", x->examples[k]);
        printf("\n");
    }
    if (t->dropped)
        printf("  ... %llu more keys not listed\n", (unsigned long long)t->dropped);
}

static int rules_diff(int argc, char **argv)
{
    const char *pos[3], *tables;
    if (!parse_args(argc, argv, pos, 3, &tables))
        return rules_usage();
    struct rules_set *old = load_set(pos[0], tables);
    struct rules_set *neu = old ? load_set(pos[1], tables) : NULL;
    if (!old || !neu) {
        rules_free(old);
        return 1;
    }
    struct results ro = {NULL, 0, 0}, rn = {NULL, 0, 0};
    uint64_t rej = 0;
    bool verified = true;
    enum adj_err e1 = eval_batch(old, pos[2], NULL, 0, &ro, &rej, &verified);
    enum adj_err e2 = eval_batch(neu, pos[2], NULL, 0, &rn, &rej, NULL);
    if (e1 == ADJ_OK && !verified)
        fprintf(stderr, "dadras rules diff: note: %s is not verified (see the diagnostics above); "
                        "a run would post nothing from it\n", pos[2]);
    int rc = CLI_EXIT_OK;
    if (e1 != ADJ_OK || e2 != ADJ_OK || ro.n != rn.n) {
        fprintf(stderr, "dadras rules diff: the batch could not be adjudicated under both sets\n");
        rc = e1 == ADJ_E_IO || e2 == ADJ_E_IO ? CLI_EXIT_IOERR : 1;
        goto out;
    }
    struct diff_table by_reason = {calloc(DIFF_KEYS_MAX, sizeof(struct diff_bucket)), 0, 0};
    struct diff_table by_center = {calloc(DIFF_KEYS_MAX, sizeof(struct diff_bucket)), 0, 0};
    if (!by_reason.b || !by_center.b) {
        free(by_reason.b);
        free(by_center.b);
        rc = 1;
        goto out;
    }
    uint64_t lines = 0, changed = 0;
    int64_t sum_old = 0, sum_new = 0;
    for (size_t i = 0; i < ro.n; i++) {
        const struct result *a = &ro.r[i], *b = &rn.r[i];
        if (a->line_no == 0)
            continue;
        lines++;
        int64_t ao = a->ld.approved_insurer_rials + a->ld.approved_daroyar_rials;
        int64_t an = b->ld.approved_insurer_rials + b->ld.approved_daroyar_rials;
        sum_old += ao;
        sum_new += an;
        bool same = a->ld.status == b->ld.status && a->ld.qty_a == b->ld.qty_a &&
                    a->ld.gross_rials == b->ld.gross_rials && a->ld.patient_rials == b->ld.patient_rials &&
                    a->ld.insurer_rials == b->ld.insurer_rials && a->ld.daroyar_rials == b->ld.daroyar_rials &&
                    ao == an && a->ld.deduction_rials == b->ld.deduction_rials &&
                    strcmp(a->reasons, b->reasons) == 0;
        if (same)
            continue;
        changed++;
        bucket_add(bucket(&by_center, a->center), a, an - ao);
        /* Every reason on either side of a changed line. */
        char all[512];
        snprintf(all, sizeof all, "%s,%s", a->reasons, b->reasons);
        char *save = NULL;
        char seen_codes[512] = ",";
        for (char *code = strtok_r(all, ",", &save); code; code = strtok_r(NULL, ",", &save)) {
            char probe[80];
            snprintf(probe, sizeof probe, ",%s,", code);
            if (strstr(seen_codes, probe))
                continue;
            if (strlen(seen_codes) + strlen(code) + 2 < sizeof seen_codes) {
                strcat(seen_codes, code);
                strcat(seen_codes, ",");
            }
            struct diff_bucket *x = bucket(&by_reason, code);
            bucket_add(x, a, an - ao);
            if (x) {
                bool in_old = has_code(a->reasons, code), in_new = has_code(b->reasons, code);
                x->gained += !in_old && in_new;
                x->lost += in_old && !in_new;
            }
        }
        if (!a->reasons[0] && !b->reasons[0])
            bucket_add(bucket(&by_reason, "(none)"), a, an - ao);
    }
    char g1[28], g2[28], g3[28];
    int64_t d = sum_new - sum_old;
    printf("%s: %llu lines, %llu changed; approved %s -> %s rials (%s%s)\n", pos[2],
           (unsigned long long)lines, (unsigned long long)changed, money_format_grouped(sum_old, g1),
           money_format_grouped(sum_new, g2), d >= 0 ? "+" : "-", money_format_grouped(d >= 0 ? d : -d, g3));
    print_buckets("by reason (changed lines carrying the reason under either set):", &by_reason);
    print_buckets("by center:", &by_center);
    free(by_reason.b);
    free(by_center.b);
out:
    free(ro.r);
    free(rn.r);
    rules_free(old);
    rules_free(neu);
    return rc;
}

int cmd_rules(int argc, char **argv)
{
    if (argc < 2)
        return rules_usage();
    if (strcmp(argv[1], "check") == 0)
        return rules_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "test") == 0)
        return rules_test(argc - 1, argv + 1);
    if (strcmp(argv[1], "diff") == 0)
        return rules_diff(argc - 1, argv + 1);
    return rules_usage();
}
