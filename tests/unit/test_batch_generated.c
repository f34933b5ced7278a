/*
 * Intake cases too big or too binary to commit as fixtures, generated here
 * at test time: a line over 64 KiB (inside a block, and as an unterminated
 * 1 MiB tail that the reader must not buffer whole), a document of 10,001
 * lines (and one of exactly 10,000), a document larger than the reader's
 * block limit, and the zstd container cases (multi-frame, skippable frames,
 * truncated at many offsets, trailing garbage, a flipped byte, an empty
 * frame, an empty file).
 *
 * Every generated batch has simple known amounts (each L line: qty 1, price
 * 100, total 100, insurer 70, daroyar 0), so the trailers here are written
 * from the spec's counting rule by hand, not from the parser.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "io/batch.h"

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(b, tmp, (size_t)n);
}

static const char header[] = "H\t1\tGEN-1\tKHZ\t1403/07\t1403/08/01\tTEST\n";

/* A P document with n lines; returns the lines it takes. */
static void doc(struct buf *b, const char *id, unsigned n)
{
    putf(b, "P\t%s\tPH1\t0013542419\t12345\t1403/07/01\t1403/07/02\n", id);
    for (unsigned i = 1; i <= n; i++) {
        putf(b, "L\t%u\tD\t626%04u\t1\t100\t100\t70\t0\n", i, i % 10000);
    }
}

static void trailer(struct buf *b, unsigned docs, unsigned long lines)
{
    putf(b, "T\t%u\t%lu\t%lu\t%lu\t0\n", docs, lines, lines * 100, lines * 70);
}

struct run {
    struct batch_summary sum;
    char *diags;
    char *quar;
    int exit_code;
};

static void run(const void *data, size_t len, const struct io_reader_options *opt,
                struct run *out)
{
    size_t dl, ql;
    FILE *df = open_memstream(&out->diags, &dl);
    FILE *qf = open_memstream(&out->quar, &ql);
    batch_check_memory(data, len, "gen", opt, qf, df, &out->sum);
    fclose(df);
    fclose(qf);
    out->exit_code = batch_summary_exit_code(&out->sum);
    cr_assert_eq(out->sum.docs_read, out->sum.docs_accepted + out->sum.docs_rejected);
}

static void run_free(struct run *r)
{
    free(r->diags);
    free(r->quar);
}

static size_t count_lines_not_comment(const char *q)
{
    size_t n = 0;
    for (const char *p = q; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "quarantine lines end in LF");
        if (p[0] != '#') {
            n++;
        }
        p = nl + 1;
    }
    return n;
}

static const struct io_reader_options setups[] = {
    {0},
    {.block_bytes = 1, .read_bytes = 4093},
    {.block_bytes = 5000, .read_bytes = 1, .doc_bytes_max = 1},
};

/* Appends a line that starts with `start` and is padded with `fill` to
 * len bytes (no line end: the caller adds one, or leaves the line unended). */
static void put_long_line(struct buf *b, const char *start, char fill, size_t len)
{
    size_t at = b->len;
    put(b, start, strlen(start));
    while (b->len - at < len) {
        put(b, &fill, 1);
    }
}

/* The header, document A with a_lines lines, and document B's P record:
 * the start both long-line cases share (B holds the long line). */
static void put_start_to_doc_b(struct buf *b, unsigned a_lines)
{
    put(b, header, sizeof header - 1);
    doc(b, "A", a_lines);
    putf(b, "P\tB\tPH1\t0013542419\t12345\t1403/07/01\t1403/07/02\n");
}

/* What every over-long line's document gets, whatever else the case checks. */
static void expect_one_long_line_reject(const struct run *r)
{
    cr_expect_eq(r->sum.docs_rejected, 1);
    cr_expect_eq(r->sum.rejected_by_reason[ADJ_E_LINE_TOO_LONG], 1, "%s", r->diags);
}

Test(batch_generated, line_over_64k_rejects_its_document)
{
    for (int tail = 0; tail < 2; tail++) {
        struct buf b = {0};
        put_start_to_doc_b(&b, 2);
        putf(&b, "L\t1\tD\t626\t1\t100\t100\t70\t0\n");
        put_long_line(&b, "L\t2\tD\t", 'x', tail ? (1u << 20) : 70000u);
        if (!tail) {
            put(&b, "\n", 1);
            doc(&b, "C", 1);
            /* 3 docs; L lines 2 + 2 + 1; the long one adds no sums. */
            putf(&b, "T\t3\t5\t%d\t%d\t0\n", 4 * 100, 4 * 70);
        }
        for (size_t s = 0; s < sizeof setups / sizeof setups[0]; s++) {
            struct run r;
            run(b.p, b.len, &setups[s], &r);
            cr_expect_eq(r.exit_code, tail ? 2 : 1, "tail %d setup %zu\n%s", tail, s, r.diags);
            expect_one_long_line_reject(&r);
            cr_expect(strstr(r.diags, "gen:7:65537: error: line longer than 64 KiB") != NULL,
                      "%s", r.diags);
            /* Quarantine: B's header and first L, and a comment for the long line. */
            cr_expect_eq(count_lines_not_comment(r.quar), 2, "%s", r.quar);
            cr_expect(strstr(r.quar, "# line 7: longer than 65536 bytes, not kept") != NULL,
                      "%s", r.quar);
            cr_expect(r.sum.text_bytes == b.len);
            run_free(&r);
        }
        free(b.p);
    }
}

/* An over-long L line still adds its amounts to the trailer sums when they
 * lie whole in the bytes the reader keeps: here at its start, before a pack
 * id list that makes the line 65,537 bytes (kept whole) or 1 MiB (cut). */
Test(batch_generated, line_over_64k_still_adds_its_amounts)
{
    for (int cut = 0; cut < 2; cut++) {
        struct buf b = {0};
        put_start_to_doc_b(&b, 1);
        put_long_line(&b, "L\t1\tD\t626\t1\t100\t100\t70\t5\t\t\t", '1', cut ? (1u << 20) : 65537u);
        put(&b, "\n", 1);
        doc(&b, "C", 1);
        /* 3 docs; L lines 1 + 1 + 1, every one adding 100 / 70 (and 5). */
        putf(&b, "T\t3\t3\t%d\t%d\t5\n", 3 * 100, 3 * 70);
        for (size_t s = 0; s < sizeof setups / sizeof setups[0]; s++) {
            struct run r;
            run(b.p, b.len, &setups[s], &r);
            cr_expect_eq(r.exit_code, 1, "cut %d setup %zu\n%s", cut, s, r.diags);
            expect_one_long_line_reject(&r);
            cr_expect(r.sum.verified, "cut %d setup %zu\n%s", cut, s, r.diags);
            run_free(&r);
        }
        free(b.p);
    }
}

Test(batch_generated, document_of_10001_lines_rejected_10000_accepted)
{
    struct buf b = {0};
    put(&b, header, sizeof header - 1);
    doc(&b, "BIG", 10001);
    doc(&b, "OK", 10000);
    trailer(&b, 2, 20001);
    for (size_t s = 0; s < sizeof setups / sizeof setups[0]; s++) {
        struct run r;
        run(b.p, b.len, &setups[s], &r);
        cr_expect_eq(r.exit_code, 1, "%s", r.diags);
        cr_expect_eq(r.sum.docs_accepted, s == 2 ? 0u : 1u);
        cr_expect_eq(r.sum.rejected_by_reason[s == 2 ? ADJ_E_DOC_TOO_LARGE
                                                     : ADJ_E_DOC_TOO_MANY_LINES],
                     s == 2 ? 2u : 1u, "setup %zu %s", s, r.diags);
        if (s != 2) {
            /* Line 2 is P BIG, so its 10,001st L is line 2 + 10001. */
            cr_expect(strstr(r.diags, "gen:10003:1: error: document has more than 10000 L") !=
                          NULL,
                      "%s", r.diags);
            cr_expect_eq(count_lines_not_comment(r.quar), 10002);
        } else {
            cr_expect_eq(count_lines_not_comment(r.quar), 10002 + 10001);
        }
        cr_expect(r.sum.verified);
        run_free(&r);
    }
    free(b.p);
}

Test(batch_generated, document_larger_than_block_limit)
{
    /* doc_bytes_max = 1 is clamped to IO_DOC_BYTES_MIN (~256 KiB): a 9,000-line
     * document (~300 KB) exceeds it, the small ones around it do not. */
    struct buf b = {0};
    put(&b, header, sizeof header - 1);
    doc(&b, "S1", 3);
    doc(&b, "HUGE", 9000);
    doc(&b, "S2", 2);
    trailer(&b, 3, 9005);
    struct io_reader_options small = {.doc_bytes_max = 1, .read_bytes = 1000, .block_bytes = 10};
    struct run r;
    run(b.p, b.len, &small, &r);
    cr_expect_eq(r.exit_code, 1, "%s", r.diags);
    cr_expect_eq(r.sum.docs_accepted, 2);
    cr_expect_eq(r.sum.rejected_by_reason[ADJ_E_DOC_TOO_LARGE], 1, "%s", r.diags);
    cr_expect(strstr(r.diags, "gen:6:1: error: document larger") != NULL, "%s", r.diags);
    cr_expect_eq(count_lines_not_comment(r.quar), 9001, "every raw line of HUGE");
    cr_expect(r.sum.verified);
    run_free(&r);
    /* With the default limit the same batch is clean. */
    struct io_reader_options def = {0};
    run(b.p, b.len, &def, &r);
    cr_expect_eq(r.exit_code, 0, "%s", r.diags);
    run_free(&r);
    free(b.p);
}

/* ---- zstd ---- */

static struct buf sample(void)
{
    struct buf b = {0};
    put(&b, header, sizeof header - 1);
    doc(&b, "A", 40);
    putf(&b, "I\tB\tHOS\t0013542419\t1403/07/03\t1403/07/05\tM\tK35.8\n");
    putf(&b, "L\t1\tS\t۹۰۱۹۰۰\t1\t100\t100\t70\t0\t12345\tF\n");
    doc(&b, "C", 7);
    trailer(&b, 3, 48);
    return b;
}

static void zframe(struct buf *out, const char *src, size_t n, int checksum)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum);
    size_t cap = ZSTD_compressBound(n);
    char *tmp = malloc(cap);
    size_t z = ZSTD_compress2(c, tmp, cap, src, n);
    cr_assert(!ZSTD_isError(z));
    put(out, tmp, z);
    free(tmp);
    ZSTD_freeCCtx(c);
}

static void skippable(struct buf *out, size_t n)
{
    unsigned char h[8] = {0x5A, 0x2A, 0x4D, 0x18, (unsigned char)n, 0, 0, 0};
    put(out, (const char *)h, 8);
    for (size_t i = 0; i < n; i++) {
        put(out, "\xEE", 1);
    }
}

static const struct io_reader_options zsetups[] = {
    {0},
    {.read_bytes = 1, .block_bytes = 1},
    {.read_bytes = 3, .block_bytes = 200},
};

Test(batch_generated, zstd_multi_frame_and_skippable_equal_plain)
{
    struct buf plain = sample();
    struct run ref;
    run(plain.p, plain.len, &zsetups[0], &ref);
    cr_assert_eq(ref.exit_code, 0, "%s", ref.diags);
    struct buf z = {0};
    skippable(&z, 5);
    zframe(&z, plain.p, 10, 1);
    skippable(&z, 0);
    zframe(&z, plain.p + 10, 0, 0); /* An empty frame between. */
    zframe(&z, plain.p + 10, plain.len / 2, 0);
    zframe(&z, plain.p + 10 + plain.len / 2, plain.len - 10 - plain.len / 2, 1);
    skippable(&z, 9);
    for (size_t s = 0; s < sizeof zsetups / sizeof zsetups[0]; s++) {
        struct run r;
        run(z.p, z.len, &zsetups[s], &r);
        cr_expect_eq(r.exit_code, 0, "setup %zu: %s", s, r.diags);
        cr_expect(r.sum.zstd);
        cr_expect_eq(r.sum.docs_accepted, 3);
        cr_expect_eq(r.sum.text_bytes, plain.len);
        cr_expect(r.sum.content_hash.hi == ref.sum.content_hash.hi &&
                  r.sum.content_hash.lo == ref.sum.content_hash.lo);
        run_free(&r);
    }
    run_free(&ref);
    free(z.p);
    free(plain.p);
}

static void expect_batch_error(const struct buf *z, enum adj_err want, const char *what)
{
    for (size_t s = 0; s < sizeof zsetups / sizeof zsetups[0]; s++) {
        struct run r;
        run(z->p, z->len, &zsetups[s], &r);
        cr_expect_eq(r.exit_code, 2, "%s setup %zu", what, s);
        cr_expect(!r.sum.verified);
        cr_expect_eq(r.sum.first_batch_error.code, want, "%s setup %zu: got %s\n%s", what, s,
                     adj_err_name(r.sum.first_batch_error.code), r.diags);
        run_free(&r);
    }
}

Test(batch_generated, zstd_truncated_at_every_tail_offset)
{
    struct buf plain = sample();
    struct buf z = {0};
    zframe(&z, plain.p, plain.len / 2, 1);
    zframe(&z, plain.p + plain.len / 2, plain.len - plain.len / 2, 1);
    /* Cut anywhere inside the second frame (and within the first's tail). */
    for (size_t cut = 1; cut < z.len - 4; cut += cut < 40 ? 1 : 37) {
        struct buf t = {z.p, z.len - cut, z.len};
        char what[64];
        snprintf(what, sizeof what, "cut %zu", cut);
        expect_batch_error(&t, ADJ_E_ZSTD_TRUNCATED, what);
    }
    free(z.p);
    free(plain.p);
}

Test(batch_generated, zstd_garbage_corrupt_empty)
{
    struct buf plain = sample();
    struct buf z = {0};
    zframe(&z, plain.p, plain.len, 1);
    size_t good_len = z.len;

    put(&z, "garbage!", 8);
    expect_batch_error(&z, ADJ_E_ZSTD_TRAILING_GARBAGE, "garbage 8");
    z.len = good_len;
    put(&z, "\x01", 1);
    expect_batch_error(&z, ADJ_E_ZSTD_TRAILING_GARBAGE, "garbage 1");
    z.len = good_len;
    put(&z, "\x28\xB5", 2); /* The start of a magic number, then the end. */
    expect_batch_error(&z, ADJ_E_ZSTD_TRUNCATED, "half a magic");
    z.len = good_len;
    /* Three bytes of a magic number, then not: garbage, whether the four
     * bytes arrive in one read or in 1- and 3-byte reads (a fuzz find). */
    put(&z, "\x28\xB5\x2F\x0A junk", 9);
    expect_batch_error(&z, ADJ_E_ZSTD_TRAILING_GARBAGE, "almost a magic");
    z.len = good_len;

    /* A flipped byte in the compressed data (the frame has a checksum). */
    z.p[good_len / 2] ^= 0x40;
    expect_batch_error(&z, ADJ_E_ZSTD_CORRUPT, "bit flip");
    z.p[good_len / 2] ^= 0x40;

    struct buf e = {0};
    zframe(&e, "", 0, 1);
    expect_batch_error(&e, ADJ_E_BATCH_NO_HEADER, "empty frame");
    struct buf nothing = {"", 0, 0};
    expect_batch_error(&nothing, ADJ_E_INPUT_EMPTY, "empty file");
    free(e.p);
    free(z.p);
    free(plain.p);
}
