/*
 * dadras eval DECISIONS TRUTH [--strict]: precision and recall per reason
 * code of a decisions file (adjudication.md "Decisions file", plain or zstd)
 * against the ground truth written by dadras gen (gen.h "Truth file").
 *
 * Both files list documents in batch order, so they are walked side by
 * side, one document at a time, in constant memory: a truth document marked
 * INTAKE must be absent from the decisions (rejected at intake); any other
 * must be the next D row. Document-level reasons are scored on the D row.
 * Line reasons are scored on the L rows after removing the document's own
 * reasons (a rejected document repeats them on every line).
 *
 * Scores are integers: precision = tp / found and recall = tp / expected,
 * printed in thousandths rounded down, so 1.000 means exactly all.
 * Exit: 0; 1 with --strict when any reason is below 1.000 on either; 2 when
 * the files do not line up (a document in the decisions that the truth does
 * not have at that point); 64 usage; 74 unreadable file.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "core/cli.h"

/* Reason slots: a letter and up to three digits (K01 -> 'K'*1000+1), plus
 * one slot for INTAKE. */
#define EV_SLOTS (26 * 1000 + 1)
#define EV_INTAKE (26 * 1000)
/* A line of either file is at most this long (decisions rows are short;
 * batch lines are bounded at 64 KiB, these are far below). */
#define EV_LINE_MAX (1u << 20)
/* Reasons on one row. */
#define EV_REASONS_MAX 64

/* ------------------------------------------------------------ line reader */

struct ev_reader {
    FILE *f;
    const char *name;
    bool zstd, eof, failed;
    size_t zrc;           /* Last ZSTD_decompressStream result: 0 = frame whole. */
    ZSTD_DStream *ds;
    unsigned char *in;
    ZSTD_inBuffer ib;
    size_t in_cap;
    char *buf;
    size_t start, end;
    uint64_t line_no;
};

static bool ev_open(struct ev_reader *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->name = path;
    r->f = fopen(path, "rb");
    struct stat st;
    if (r->f == NULL || fstat(fileno(r->f), &st) != 0 || S_ISDIR(st.st_mode)) {
        return false; /* fopen opens a directory; reading it fails */
    }
    r->buf = malloc(EV_LINE_MAX + 1);
    r->in_cap = ZSTD_DStreamInSize();
    r->in = malloc(r->in_cap);
    if (r->buf == NULL || r->in == NULL) {
        return false;
    }
    unsigned char magic[4];
    size_t n = fread(magic, 1, 4, r->f);
    r->zstd =
        n == 4 && magic[0] == 0x28 && magic[1] == 0xB5 && magic[2] == 0x2F && magic[3] == 0xFD;
    if (r->zstd) {
        r->ds = ZSTD_createDStream();
        if (r->ds == NULL) {
            return false;
        }
        memcpy(r->in, magic, 4);
        r->ib = (ZSTD_inBuffer){r->in, 4, 0};
        r->zrc = 1; /* a frame has begun */
    } else {
        memcpy(r->buf, magic, n);
        r->end = n;
    }
    return true;
}

static void ev_close(struct ev_reader *r)
{
    if (r->f != NULL) {
        fclose(r->f);
    }
    ZSTD_freeDStream(r->ds);
    free(r->in);
    free(r->buf);
}

/* Adds decoded bytes after r->end; false at end of input or on error. */
static bool ev_fill(struct ev_reader *r)
{
    size_t room = EV_LINE_MAX - r->end;
    if (room == 0) {
        r->failed = true; /* A line longer than the buffer. */
        return false;
    }
    if (!r->zstd) {
        size_t n = fread(r->buf + r->end, 1, room, r->f);
        r->end += n;
        if (n == 0 && ferror(r->f)) {
            r->failed = true;
        }
        return n > 0;
    }
    for (;;) {
        if (r->ib.pos == r->ib.size) {
            size_t n = fread(r->in, 1, r->in_cap, r->f);
            if (n == 0) {
                /* The end: a frame cut short is a damaged file, not an end. */
                if (ferror(r->f) || r->zrc != 0) {
                    r->failed = true;
                }
                return false;
            }
            r->ib = (ZSTD_inBuffer){r->in, n, 0};
        }
        ZSTD_outBuffer ob = {r->buf + r->end, room, 0};
        size_t rc = ZSTD_decompressStream(r->ds, &ob, &r->ib);
        if (ZSTD_isError(rc)) {
            r->failed = true;
            return false;
        }
        r->zrc = rc;
        r->end += ob.pos;
        if (ob.pos > 0) {
            return true;
        }
    }
}

/* Next line without its LF (and CR), NUL-terminated in place. */
static char *ev_next(struct ev_reader *r)
{
    for (;;) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        if (nl != NULL) {
            char *line = r->buf + r->start;
            *nl = '\0';
            if (nl > line && nl[-1] == '\r') {
                nl[-1] = '\0';
            }
            r->start = (size_t)(nl - r->buf) + 1;
            r->line_no++;
            return line;
        }
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
        if (!ev_fill(r)) {
            if (r->end > 0 && !r->failed) { /* Last line without LF. */
                r->buf[r->end] = '\0';
                r->start = r->end = 0;
                r->line_no++;
                return r->buf;
            }
            return NULL;
        }
    }
}

/* ------------------------------------------------------------ rows */

/* Splits a line into at most max fields at TABs. */
static int ev_split(char *line, char **fields, int max)
{
    int n = 0;
    fields[n++] = line;
    for (char *p = line; *p != '\0' && n < max; p++) {
        if (*p == '\t') {
            *p = '\0';
            fields[n++] = p + 1;
        }
    }
    return n;
}

/* Parses "K01,K09" into slots; false on a malformed code. */
static bool ev_reasons(const char *s, int *slots, int *count)
{
    *count = 0;
    while (*s != '\0') {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        int slot = -1;
        if (len == 6 && memcmp(s, "INTAKE", 6) == 0) {
            slot = EV_INTAKE;
        } else if (len >= 2 && len <= 4 && s[0] >= 'A' && s[0] <= 'Z') {
            int v = 0;
            bool ok = true;
            for (size_t i = 1; i < len; i++) {
                ok = ok && s[i] >= '0' && s[i] <= '9';
                v = v * 10 + (s[i] - '0');
            }
            slot = ok ? (s[0] - 'A') * 1000 + v : -1;
        }
        if (slot < 0 || *count >= EV_REASONS_MAX) {
            return false;
        }
        slots[(*count)++] = slot;
        s += len + (end ? 1 : 0);
    }
    return true;
}

static bool ev_has(const int *slots, int n, int slot)
{
    for (int i = 0; i < n; i++) {
        if (slots[i] == slot) {
            return true;
        }
    }
    return false;
}

struct ev_counts {
    uint64_t expected[EV_SLOTS], found[EV_SLOTS], tp[EV_SLOTS];
};

/* Scores one unit (a document's or a line's reasons). */
static void ev_score(struct ev_counts *c, const int *exp, int n_exp, const int *got, int n_got)
{
    for (int i = 0; i < n_exp; i++) {
        c->expected[exp[i]]++;
        if (ev_has(got, n_got, exp[i])) {
            c->tp[exp[i]]++;
        }
    }
    for (int i = 0; i < n_got; i++) {
        c->found[got[i]]++;
    }
}

/* One document's truth: row 0 and its line rows. */
struct ev_truth_line {
    uint64_t line_no;
    int slots[EV_REASONS_MAX];
    int n;
    bool seen;
};

struct ev_truth_doc {
    char doc_id[64];
    int slots[EV_REASONS_MAX];
    int n;
    struct ev_truth_line *lines;
    size_t n_lines, cap;
};

struct ev_state {
    struct ev_reader tr, dr;
    char *t_pending; /* Next truth row already read. */
    char *d_pending; /* Next decisions row already read. */
    struct ev_counts *c;
    uint64_t docs, lines;
    bool bad;
    char bad_msg[256];
};

static void ev_fail(struct ev_state *s, const struct ev_reader *r, const char *what)
{
    if (!s->bad) {
        snprintf(s->bad_msg, sizeof s->bad_msg, "%s:%llu: error: %s", r->name,
                 (unsigned long long)r->line_no, what);
    }
    s->bad = true;
}

/* Skips header and comment rows. */
static char *ev_row(struct ev_reader *r, bool truth)
{
    for (;;) {
        char *line = ev_next(r);
        if (line == NULL) {
            return NULL;
        }
        if (line[0] == '\0' || line[0] == '#' || (truth && strncmp(line, "doc_id\t", 7) == 0)) {
            continue;
        }
        return line;
    }
}

/* Reads the next truth document; false at the end. */
static bool ev_truth_doc(struct ev_state *s, struct ev_truth_doc *t)
{
    char *line = s->t_pending ? s->t_pending : ev_row(&s->tr, true);
    s->t_pending = NULL;
    if (line == NULL) {
        return false;
    }
    char *f[4];
    int nf = ev_split(line, f, 4);
    if (nf < 2 || strcmp(f[1], "0") != 0 || strlen(f[0]) >= sizeof t->doc_id ||
        !ev_reasons(nf > 2 ? f[2] : "", t->slots, &t->n)) {
        ev_fail(s, &s->tr, "expected a document row: doc_id, 0, reasons");
        return false;
    }
    memcpy(t->doc_id, f[0], strlen(f[0]) + 1);
    t->n_lines = 0;
    for (;;) {
        line = ev_row(&s->tr, true);
        if (line == NULL) {
            return true;
        }
        nf = ev_split(line, f, 4);
        if (nf >= 2 && strcmp(f[1], "0") == 0) {
            /* Next document: undo the split and keep it for later. */
            for (int i = 1; i < nf; i++) {
                f[i][-1] = '\t';
            }
            s->t_pending = line;
            return true;
        }
        if (nf < 3 || strcmp(f[0], t->doc_id) != 0) {
            ev_fail(s, &s->tr, "line row does not belong to the document above it");
            return false;
        }
        if (t->n_lines == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 16;
            t->lines = realloc(t->lines, t->cap * sizeof *t->lines);
            if (t->lines == NULL) {
                ev_fail(s, &s->tr, "out of memory");
                return false;
            }
        }
        struct ev_truth_line *tl = &t->lines[t->n_lines++];
        tl->line_no = strtoull(f[1], NULL, 10);
        tl->seen = false;
        if (!ev_reasons(f[2], tl->slots, &tl->n)) {
            ev_fail(s, &s->tr, "bad reason code");
            return false;
        }
    }
}

/* Peeks the doc_id of the next D row (NULL at the end). Skips the T row. */
static const char *ev_peek_doc(struct ev_state *s, char *id_buf, size_t cap)
{
    if (s->d_pending == NULL) {
        s->d_pending = ev_row(&s->dr, false);
    }
    while (s->d_pending != NULL && s->d_pending[0] == 'T' && s->d_pending[1] == '\t') {
        s->d_pending = ev_row(&s->dr, false);
    }
    if (s->d_pending == NULL) {
        return NULL;
    }
    if (s->d_pending[0] != 'D' || s->d_pending[1] != '\t') {
        ev_fail(s, &s->dr, "expected a D row");
        return NULL;
    }
    const char *id = s->d_pending + 2;
    size_t n = strcspn(id, "\t");
    if (n >= cap) {
        ev_fail(s, &s->dr, "doc_id too long");
        return NULL;
    }
    memcpy(id_buf, id, n);
    id_buf[n] = '\0';
    return id_buf;
}

/* Consumes the pending D row and its L rows, scoring them against t (NULL:
 * nothing expected, everything found is a false positive). */
static void ev_decision_doc(struct ev_state *s, struct ev_truth_doc *t)
{
    char *f[16];
    int nf = ev_split(s->d_pending, f, 16);
    s->d_pending = NULL;
    int doc_slots[EV_REASONS_MAX], n_doc = 0;
    if (nf < 8 || !ev_reasons(nf > 8 ? f[8] : "", doc_slots, &n_doc)) {
        ev_fail(s, &s->dr, "bad D row");
        return;
    }
    s->docs++;
    if (t != NULL) {
        ev_score(s->c, t->slots, t->n, doc_slots, n_doc);
    } else {
        ev_score(s->c, NULL, 0, doc_slots, n_doc);
    }
    for (;;) {
        char *line = ev_row(&s->dr, false);
        if (line == NULL || line[0] != 'L' || line[1] != '\t') {
            s->d_pending = line;
            break;
        }
        nf = ev_split(line, f, 16);
        int got[EV_REASONS_MAX], n_got = 0, own[EV_REASONS_MAX], n_own = 0;
        if (nf < 12 || !ev_reasons(nf > 12 ? f[12] : "", got, &n_got)) {
            ev_fail(s, &s->dr, "bad L row");
            return;
        }
        s->lines++;
        for (int i = 0; i < n_got; i++) {
            if (!ev_has(doc_slots, n_doc, got[i])) {
                own[n_own++] = got[i];
            }
        }
        uint64_t line_no = strtoull(f[2], NULL, 10);
        struct ev_truth_line *tl = NULL;
        for (size_t i = 0; t != NULL && i < t->n_lines; i++) {
            if (t->lines[i].line_no == line_no) {
                tl = &t->lines[i];
            }
        }
        if (tl != NULL) {
            tl->seen = true;
            ev_score(s->c, tl->slots, tl->n, own, n_own);
        } else {
            ev_score(s->c, NULL, 0, own, n_own);
        }
    }
    for (size_t i = 0; t != NULL && i < t->n_lines; i++) {
        if (!t->lines[i].seen) {
            ev_score(s->c, t->lines[i].slots, t->lines[i].n, NULL, 0);
        }
    }
}

static void ev_slot_name(int slot, char out[8])
{
    if (slot == EV_INTAKE) {
        snprintf(out, 8, "INTAKE");
    } else {
        snprintf(out, 8, "%c%02d", 'A' + slot / 1000, slot % 1000);
    }
}

static void ev_ratio(char out[32], uint64_t num, uint64_t den)
{
    if (den == 0) {
        snprintf(out, 32, "-");
        return;
    }
    uint64_t pm = num * 1000 / den; /* Thousandths, rounded down. */
    snprintf(out, 32, "%llu.%03llu", (unsigned long long)(pm / 1000),
             (unsigned long long)(pm % 1000));
}

int cmd_eval(int argc, char **argv)
{
    const char *paths[2] = {NULL, NULL};
    int n_paths = 0;
    bool strict = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--strict") == 0) {
            strict = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: dadras eval DECISIONS TRUTH [--strict]\n");
            return CLI_EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "dadras eval: unknown option '%s'\n", argv[i]);
            return CLI_EXIT_USAGE;
        } else if (n_paths < 2) {
            paths[n_paths++] = argv[i];
        } else {
            n_paths = 3;
        }
    }
    if (n_paths != 2) {
        fprintf(stderr, "usage: dadras eval DECISIONS TRUTH [--strict]\n");
        return CLI_EXIT_USAGE;
    }
    struct ev_state s;
    memset(&s, 0, sizeof s);
    s.c = calloc(1, sizeof *s.c);
    struct ev_truth_doc t;
    memset(&t, 0, sizeof t);
    int rc = CLI_EXIT_OK;
    if (s.c == NULL || !ev_open(&s.dr, paths[0]) || !ev_open(&s.tr, paths[1])) {
        fprintf(stderr, "dadras eval: cannot read %s\n", s.dr.f == NULL ? paths[0] : paths[1]);
        rc = CLI_EXIT_IOERR;
        goto out;
    }
    uint64_t truth_docs = 0;
    static const int intake[1] = {EV_INTAKE};
    while (!s.bad && ev_truth_doc(&s, &t)) {
        truth_docs++;
        char id[64];
        const char *next = ev_peek_doc(&s, id, sizeof id);
        bool match = next != NULL && strcmp(next, t.doc_id) == 0;
        bool want_intake = t.n == 1 && t.slots[0] == EV_INTAKE;
        if (want_intake) {
            if (match) {
                ev_score(s.c, intake, 1, NULL, 0); /* Adjudicated, not rejected. */
                ev_decision_doc(&s, NULL);
            } else {
                ev_score(s.c, intake, 1, intake, 1);
            }
        } else if (match) {
            ev_decision_doc(&s, &t);
        } else {
            /* Absent: rejected at intake although well-formed; every
             * expected reason is missed. */
            ev_score(s.c, NULL, 0, intake, 1);
            ev_score(s.c, t.slots, t.n, NULL, 0);
            for (size_t i = 0; i < t.n_lines; i++) {
                ev_score(s.c, t.lines[i].slots, t.lines[i].n, NULL, 0);
            }
        }
    }
    if (!s.bad) {
        char id[64];
        if (ev_peek_doc(&s, id, sizeof id) != NULL) {
            ev_fail(&s, &s.dr,
                    "document not in the truth file at this point (files do not line up)");
        }
    }
    if (s.tr.failed || s.dr.failed) {
        ev_fail(&s, s.tr.failed ? &s.tr : &s.dr, "unreadable (corrupt zstd or a line too long)");
    }
    if (s.bad) {
        fprintf(stderr, "%s\n", s.bad_msg);
        rc = CLI_EXIT_UNVERIFIED;
        goto out;
    }
    printf("documents: truth %llu, decisions %llu (lines %llu)\n", (unsigned long long)truth_docs,
           (unsigned long long)s.docs, (unsigned long long)s.lines);
    printf("%-7s %10s %10s %10s %9s %7s\n", "reason", "expected", "found", "tp", "precision",
           "recall");
    uint64_t te = 0, tf = 0, tt = 0;
    bool below = false;
    for (int slot = 0; slot < EV_SLOTS; slot++) {
        uint64_t e = s.c->expected[slot], f = s.c->found[slot], p = s.c->tp[slot];
        if (e == 0 && f == 0) {
            continue;
        }
        char name[8], prec[32], rec[32];
        ev_slot_name(slot, name);
        ev_ratio(prec, p, f);
        ev_ratio(rec, p, e);
        printf("%-7s %10llu %10llu %10llu %9s %7s\n", name, (unsigned long long)e,
               (unsigned long long)f, (unsigned long long)p, prec, rec);
        below = below || p != f || p != e;
        te += e;
        tf += f;
        tt += p;
    }
    char prec[32], rec[32];
    ev_ratio(prec, tt, tf);
    ev_ratio(rec, tt, te);
    printf("%-7s %10llu %10llu %10llu %9s %7s\n", "all", (unsigned long long)te,
           (unsigned long long)tf, (unsigned long long)tt, prec, rec);
    if (strict && below) {
        fprintf(stderr, "dadras eval: some reason is below 1.000 in precision or recall\n");
        rc = 1;
    }
out:
    ev_close(&s.dr);
    ev_close(&s.tr);
    free(t.lines);
    free(s.c);
    return rc;
}
