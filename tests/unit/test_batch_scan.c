/*
 * The parser's fast paths against their references:
 *  - the block scanner (64-byte masks, io/batch_scan.h) and, on a CPU with
 *    AVX-512 VBMI2, the wide one against the line scanner scan_line_ref,
 *    on random blocks rich in TABs (runs of them too: 16..64 per 64 bytes),
 *    LFs, CRs, control bytes, UTF-8 bytes and lines that end on 64-byte
 *    edges;
 *  - text_ascii_u64 (SWAR) against text_parse_u64 on edge values: leading
 *    zeros, 19 and 20 digits, overflow, a non-digit at every position,
 *    Persian and Arabic-Indic digits (which must fall back), and every
 *    buffer offset (SWAR loads or the byte loop);
 *  - whole batches parsed with the fast paths on and off
 *    (batch_set_fast_paths), and on with the baseline scanner
 *    (batch_set_wide_scan): random documents whose L lines are valid or
 *    have fields replaced by edge values, fields dropped or added, CR line
 *    ends, and whose headers have edge national codes and dates; the accepted documents (bytes), trailer sums, reasons,
 *    diagnostics and quarantine must be identical.
 * Deterministic (fixed xorshift seeds).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/text.h"
#include "io/batch.h"
#include "io/batch_scan.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

static unsigned rnd_below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* ---- scanners ---- */

static void expect_same_view(const struct line_view *a, const struct line_view *b, size_t at)
{
    cr_assert_eq(a->s, b->s, "line at %zu: start", at);
    cr_assert_eq(a->lo, b->lo, "line at %zu: lo", at);
    cr_assert_eq(a->len, b->len, "line at %zu: len %u vs %u", at, a->len, b->len);
    cr_assert_eq(a->nfields, b->nfields, "line at %zu: fields %u vs %u", at, a->nfields,
                 b->nfields);
    cr_assert_eq(a->too_many, b->too_many, "line at %zu: too_many", at);
    cr_assert_eq(a->ctrl_at, b->ctrl_at, "line at %zu: ctrl_at", at);
    cr_assert_eq(a->nonascii, b->nonascii, "line at %zu: nonascii", at);
    for (uint32_t i = 0; i < a->nfields; i++) {
        cr_assert_eq(a->f[i].off, b->f[i].off, "line at %zu field %u: off", at, i);
        cr_assert_eq(a->f[i].len, b->f[i].len, "line at %zu field %u: len", at, i);
    }
}

#if BLOCK_SCAN_WIDE
/* The wide scanner is inlined only into code built for it. */
BLOCK_SCAN_WIDE_TARGET static size_t wide_line(struct block_scan *sc, size_t begin,
                                               struct line_view *lv)
{
    return block_scan_line_wide(sc, begin, lv);
}
#endif

/* Scans data[start..len) with the scanners, line by line: the block
 * scanner and (if this CPU has AVX-512 VBMI2) the wide one against
 * scan_line_ref. */
static void compare_scanners(const char *data, size_t len, size_t start)
{
    struct block_scan sc, sc_wide;
    block_scan_init(&sc, data, len, start);
    block_scan_init(&sc_wide, data, len, start);
#if BLOCK_SCAN_WIDE
    bool wide = block_scan_wide_supported();
#endif
    size_t pos = start;
    size_t lines = 0;
    while (pos < len) {
        struct line_view ref, fast;
        memset(&ref, 0, sizeof ref);
        memset(&fast, 0, sizeof fast);
        size_t e_ref = scan_line_ref(data, len, pos, &ref);
        size_t e_fast = block_scan_line(&sc, pos, &fast);
        cr_assert_eq(e_fast, e_ref, "line %zu at %zu: end %zu vs %zu", lines, pos, e_fast, e_ref);
        expect_same_view(&fast, &ref, pos);
#if BLOCK_SCAN_WIDE
        if (wide) {
            memset(&fast, 0xA5, sizeof fast); /* Stale fields must not pass. */
            size_t e_wide = wide_line(&sc_wide, pos, &fast);
            cr_assert_eq(e_wide, e_ref, "wide: line %zu at %zu: end %zu vs %zu", lines, pos,
                         e_wide, e_ref);
            expect_same_view(&fast, &ref, pos);
        }
#endif
        pos = e_ref < len ? e_ref + 1 : len;
        lines++;
    }
}

Test(batch_scan, wide_scanner_availability)
{
    /* Not an assertion on the CPU: says in the test log which scanners the
     * comparisons above and below covered. */
    cr_log_info("AVX-512 block scanner %s on this CPU",
                batch_wide_scan_available() ? "available (compared)" : "not available");
#if BLOCK_SCAN_WIDE
    cr_assert_eq(batch_wide_scan_available(), block_scan_wide_supported());
#else
    cr_assert(!batch_wide_scan_available());
#endif
}

Test(batch_scan, block_scanner_equals_line_scanner)
{
    /* Weighted alphabet: plain bytes, separators, and every special class. */
    static const char alphabet[] = "aaaaaaaa11111111\t\t\t\t\t\n\n\r\x01\x7f\xD9\xDB\x80 ,";
    rng_state = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 3000; round++) {
        size_t len = 1 + rnd_below(round < 1000 ? 200 : 3000);
        char *data = malloc(len); /* Exactly len: ASan sees any over-read. */
        cr_assert_not_null(data);
        unsigned mode = rnd_below(4);
        for (size_t i = 0; i < len; i++) {
            char c = alphabet[rnd_below(sizeof alphabet - 1)];
            if (mode == 0 && c != '\t' && c != '\n') {
                c = 'x'; /* Mostly clean lines: the fast path proper. */
            }
            data[i] = c;
        }
        if (mode == 1) {
            /* Lines ending just before, on, and after 64-byte edges. */
            for (size_t i = 62; i < len; i += 64 + rnd_below(3)) {
                data[i] = '\n';
            }
        }
        if (mode == 2 && len > 40) {
            for (size_t i = 0; i < 20; i++) {
                data[rnd_below((unsigned)len)] = '\t'; /* Past the 16-field cap. */
            }
        }
        if (mode == 3 && round % 2 == 0) {
            /* Runs of TABs: 16+ per 64 bytes, up to all 64 (the wide
             * scanner's rounds of 16), some runs crossing 64-byte edges. */
            size_t at = rnd_below((unsigned)len);
            size_t run = 1 + rnd_below(200);
            for (size_t i = at; i < len && i < at + run; i++) {
                data[i] = rnd_below(8) == 0 ? 'x' : '\t';
            }
        }
        compare_scanners(data, len, 0);
        if (len > 3) {
            compare_scanners(data, len, 3); /* After a BOM. */
        }
        free(data);
    }
}

Test(batch_scan, block_scanner_edges)
{
    const char *cases[] = {
        "\n",
        "\n\n\n",
        "a",
        "a\tb",
        "a\tb\n",
        "a\t\r\n",
        "a\r",
        "a\rb\n",
        "L\t1\tD\tX\t1\t0\t0\t0\r\nL\t2\n",
        "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n",
        "\xDB\xB1\t\xD9\x8A\n\x7f\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i]);
        char *data = malloc(len);
        memcpy(data, cases[i], len);
        compare_scanners(data, len, 0);
        free(data);
    }
    /* A line longer than 64 KiB, with and without an LF. */
    size_t big = ADJ_LINE_BYTES_MAX + 300;
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++) {
        data[i] = i % 100 == 7 ? '\t' : 'z';
    }
    compare_scanners(data, big, 0);
    data[big - 1] = '\n';
    compare_scanners(data, big, 0);
    free(data);
}

/* ---- numbers ---- */

static bool digits8_ref(uint64_t w)
{
    for (int i = 0; i < 8; i++) {
        unsigned c = (unsigned)(w >> (8 * i)) & 0xFFu;
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

/* Every value of every byte, and every pair of adjacent bytes (carries
 * from one byte into the next), among digits. */
Test(text, swar_is_digits8_exhaustive_pairs)
{
    for (int pos = 0; pos < 7; pos++) {
        for (unsigned a = 0; a < 256; a++) {
            for (unsigned b = 0; b < 256; b++) {
                uint64_t w = 0x3739303132333435ull;
                w &= ~(0xFFFFull << (8 * pos));
                w |= ((uint64_t)a | (uint64_t)b << 8) << (8 * pos);
                cr_assert_eq(text_swar_is_digits8(w), digits8_ref(w), "%016llx",
                             (unsigned long long)w);
            }
        }
    }
}

/* text_ascii_u64 agrees with text_parse_u64 on s[0..len), for every number
 * of readable bytes before s (SWAR loads and the byte loop). */
static void check_number(const char *s, size_t len)
{
    char buf[64];
    cr_assert_leq(len + 16, sizeof buf);
    uint64_t want = 0;
    size_t at;
    enum adj_err e = text_parse_u64(s, len, UINT64_MAX, &want, &at);
    bool ascii = len >= 1 && len <= 19;
    for (size_t i = 0; i < len; i++) {
        ascii = ascii && s[i] >= '0' && s[i] <= '9';
    }
    for (size_t before = 0; before <= 16; before++) {
        /* The bytes before the field are digits: they must not count. */
        memset(buf, before % 2 ? '9' : '\t', before);
        memcpy(buf + before, s, len);
        uint64_t got = 12345;
        bool ok = text_ascii_u64(buf, buf + before, len, &got);
        cr_assert_eq(ok, ascii, "'%.*s' (%zu before): fast %d", (int)len, s, before, ok);
        if (ok) {
            cr_assert_eq(e, ADJ_OK, "'%.*s'", (int)len, s);
            cr_assert_eq(got, want, "'%.*s' (%zu before): %llu vs %llu", (int)len, s, before,
                         (unsigned long long)got, (unsigned long long)want);
        }
    }
}

Test(text, ascii_u64_swar_equals_parse_u64)
{
    const char *edge[] = {
        "0", "7", "00", "01", "0000000", "00000000", "000000000", "0000000000000001",
        "12345678", "123456789", "1234567890123456", "12345678901234567",
        "9000000000000000", "9000000000000001", "9999999999999999999",
        "10000000000000000000", "18446744073709551615", "18446744073709551616",
        "99999999999999999999", "0000000000000000000", "00000000000000000000",
        "1/", "/1", "1:", ":1", "12345678:", "1234567/9", "+1", "-1", " 1", "1 ", "1e6",
        "\xDB\xB1", "1\xDB\xB2", "\xD9\xA1\xD9\xA0", "12345678\xDB\xB1",
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        check_number(edge[i], strlen(edge[i]));
    }
    check_number("", 0);
    /* Random digit strings of every length, and each with one bad byte. */
    static const char bad[] = "/:+- \x80\xDB\x00xA";
    rng_state = 88172645463325252ull;
    for (int round = 0; round < 4000; round++) {
        char s[24];
        size_t len = 1 + rnd_below(22);
        for (size_t i = 0; i < len; i++) {
            s[i] = (char)('0' + rnd_below(10));
        }
        if (rnd_below(3) == 0) {
            memset(s, '0', rnd_below((unsigned)len)); /* Leading zeros. */
        }
        check_number(s, len);
        s[rnd_below((unsigned)len)] = bad[rnd_below(sizeof bad - 1)];
        check_number(s, len);
    }
}

/* ---- fast and general paths on whole batches ---- */

struct capture {
    char *buf;
    size_t len, cap;
};

static void cap_add(struct capture *c, const void *p, size_t n)
{
    if (n == 0) {
        return;
    }
    if (c->len + n > c->cap) {
        c->cap = (c->len + n) * 2 + 1024;
        c->buf = realloc(c->buf, c->cap);
        cr_assert_not_null(c->buf);
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
}

static void capture_chunk(void *ctx, const struct doc_chunk *chunk)
{
    struct capture *c = ctx;
    cap_add(c, chunk->docs, chunk->doc_count * sizeof chunk->docs[0]);
    cap_add(c, chunk->lines, chunk->line_count * sizeof chunk->lines[0]);
    cap_add(c, chunk->uids, chunk->uid_count * sizeof chunk->uids[0]);
}

/* Values a field of an L line may be replaced with. */
static const char *const variants[] = {
    "", " ", "0", "1", "2", " 1", "1 ", "+1", "-1", "00012", "999999", "1000000", "1000001",
    "9000000000000000", "9000000000000001", "99999999999999999999", "12345678901234567",
    "\xDB\xB1", "\xDB\xB2\xDB\xB0", "1e3", "A", "D", "S", "K", "B", "G", "F", "X", "DD",
    "\xDA\xA9", "\xD9\x83", "ABCDEFGHIJKLMNOPQRST", "ABCDEFGHIJKLMNOPQRSTU", "12345678",
    "123456789", "62600651567087891740", "62600051567087891740", "6260065156708789174",
    "626006515670878917401", "62600651567087891740,", ",62600651567087891740",
    "62600A51567087891740", "abc", "62600651567087891740,62600051567087891740",
    "62600651567087891740,,62600051567087891740", "\xC3", "a\x01",
};

static void put(struct capture *c, const char *s)
{
    cap_add(c, s, strlen(s));
}

static void random_l_line(struct capture *out, char doc_kind, unsigned no)
{
    char f[12][64];
    unsigned qty = 1 + rnd_below(5);
    unsigned price = rnd_below(3000) * 1000;
    snprintf(f[0], sizeof f[0], "L");
    snprintf(f[1], sizeof f[1], "%u", no);
    static const char kinds[] = "DSKB";
    char kind = doc_kind == 'P' ? 'D' : kinds[rnd_below(4)];
    snprintf(f[2], sizeof f[2], "%c", kind);
    snprintf(f[3], sizeof f[3], "C%u", rnd_below(100000));
    snprintf(f[4], sizeof f[4], "%u", qty);
    snprintf(f[5], sizeof f[5], "%u", price);
    snprintf(f[6], sizeof f[6], "%llu", (unsigned long long)qty * price);
    snprintf(f[7], sizeof f[7], "%u", price / 2);
    snprintf(f[8], sizeof f[8], "%s", rnd_below(2) ? "0" : "");
    snprintf(f[9], sizeof f[9], "%s", kind == 'S' ? "42858" : "");
    snprintf(f[10], sizeof f[10], "%s", kind == 'S' ? (rnd_below(2) ? "G" : "F") : "");
    snprintf(f[11], sizeof f[11], "%s",
             kind == 'D' ? (rnd_below(2) ? "62600651567087891740,62600051567087891740"
                                         : "62600457545481395443")
                         : "");
    if (kind == 'D' && rnd_below(3) == 0) {
        /* 1..3 random ids (every digit position valued), the sixth digit
         * mostly '0' (a unit-level pack). */
        unsigned ids = 1 + rnd_below(3);
        size_t at = 0;
        for (unsigned k = 0; k < ids; k++) {
            if (k > 0) {
                f[11][at++] = ',';
            }
            for (unsigned i = 0; i < 20; i++) {
                f[11][at++] = (char)('0' + rnd_below(10));
            }
            if (rnd_below(4) != 0) {
                f[11][at - 15] = '0';
            }
        }
        f[11][at] = '\0';
    }
    unsigned nfields = 12;
    while (nfields > 8 && f[nfields - 1][0] == '\0' && rnd_below(2)) {
        nfields--; /* Trailing empty fields may be omitted. */
    }
    /* A third of the lines get 1..3 fields replaced (two at once reach
     * combinations such as qty 1000001 with price 0, total 0). */
    unsigned mutations = rnd_below(3) == 0 ? 1 + rnd_below(3) : 0;
    for (unsigned m = 0; m < mutations; m++) {
        unsigned which = 1 + rnd_below(11);
        snprintf(f[which], sizeof f[which], "%s",
                 variants[rnd_below(sizeof variants / sizeof variants[0])]);
        if (which >= nfields) {
            nfields = which + 1;
        }
    }
    if (rnd_below(20) == 0) {
        nfields = rnd_below(12) + 1; /* Missing required fields. */
    }
    for (unsigned i = 0; i < nfields; i++) {
        if (i > 0) {
            put(out, "\t");
        }
        put(out, f[i]);
    }
    if (rnd_below(30) == 0) {
        put(out, "\textra");
    }
    put(out, rnd_below(25) == 0 ? "\r\n" : "\n");
}

/* Parse settings: fast paths and wide scanner on (what runs on a CPU with
 * AVX-512), fast paths on with the baseline scanner (a CPU without), and
 * the general path. */
enum parse_mode { PARSE_FAST, PARSE_FAST_BASELINE_SCAN, PARSE_GENERAL };

static void run_batch(const char *data, size_t len, enum parse_mode mode, size_t block_bytes,
                      struct capture *docs, char **diags, char **quar, struct batch_summary *sum)
{
    size_t dl = 0, ql = 0;
    FILE *df = open_memstream(diags, &dl);
    FILE *qf = open_memstream(quar, &ql);
    struct io_reader_options o = {.block_bytes = block_bytes};
    batch_set_fast_paths(mode != PARSE_GENERAL);
    batch_set_wide_scan(mode == PARSE_FAST);
    batch_read_memory(data, len, "t.tsv", &o, capture_chunk, docs, qf, df, sum);
    batch_set_fast_paths(true);
    batch_set_wide_scan(true);
    fclose(df);
    fclose(qf);
}

/* One parse's outputs. */
struct run {
    struct capture docs;
    char *diags, *quar;
    struct batch_summary sum;
};

static void run_mode(const struct capture *in, enum parse_mode mode, size_t block_bytes,
                     struct run *r)
{
    memset(r, 0, sizeof *r);
    run_batch(in->buf, in->len, mode, block_bytes, &r->docs, &r->diags, &r->quar, &r->sum);
}

/* Accepted documents (bytes), diagnostics, quarantine, counts, trailer
 * sums and reasons all equal. */
static void expect_same_run(const struct run *a, const struct run *b, const char *what, int round)
{
    cr_assert_eq(a->docs.len, b->docs.len, "%s, round %d: accepted bytes %zu vs %zu", what, round,
                 a->docs.len, b->docs.len);
    cr_assert(a->docs.len == 0 || memcmp(a->docs.buf, b->docs.buf, a->docs.len) == 0,
              "%s, round %d: documents", what, round);
    cr_assert_str_eq(a->diags, b->diags, "%s, round %d: diagnostics", what, round);
    cr_assert_str_eq(a->quar, b->quar, "%s, round %d: quarantine", what, round);
    cr_assert_eq(a->sum.docs_accepted, b->sum.docs_accepted, "%s, round %d", what, round);
    cr_assert_eq(a->sum.docs_rejected, b->sum.docs_rejected, "%s, round %d", what, round);
    cr_assert_eq(a->sum.lines_read, b->sum.lines_read, "%s, round %d", what, round);
    cr_assert(a->sum.totals.sum_total == b->sum.totals.sum_total, "%s, round %d: sum_total", what,
              round);
    cr_assert(a->sum.totals.sum_insurer == b->sum.totals.sum_insurer, "%s, round %d", what, round);
    cr_assert(a->sum.totals.sum_daroyar == b->sum.totals.sum_daroyar, "%s, round %d", what, round);
    cr_assert(memcmp(a->sum.rejected_by_reason, b->sum.rejected_by_reason,
                     sizeof a->sum.rejected_by_reason) == 0,
              "%s, round %d: reasons", what, round);
}

static void run_free(struct run *r)
{
    free(r->docs.buf);
    free(r->diags);
    free(r->quar);
}

Test(batch_scan, fast_paths_equal_general_path)
{
    rng_state = 0x2545F4914F6CDD1Dull;
    uint64_t accepted = 0, rejected = 0;
    for (int round = 0; round < 150; round++) {
        struct capture in = {0};
        put(&in, "H\t1\tB1\tKHZ\t1403/07\t1403/08/01\tT\n");
        unsigned docs = 20 + rnd_below(40);
        for (unsigned d = 0; d < docs; d++) {
            char kind = rnd_below(3) ? 'P' : 'I';
            /* Header fields the fast paths read: national code and dates,
             * valid or at an edge (leap Esfand 30th, ranges, scripts). */
            static const char *const nids[] = {
                "0013542419", "0013542419", "0013542418", "1111111111", "001354241",
                "00135424190", " 013542419", "\xDB\xB0\xDB\xB0\xDB\xB1\xDB\xB3\xDB\xB5"
                "\xDB\xB4\xDB\xB2\xDB\xB4\xDB\xB1\xDB\xB9", "2523691361", "0000000000",
            };
            static const char *const dates[] = {
                "1403/07/18", "1403/07/18", "1403-07-18", "1403/12/30", "1404/12/30",
                "1404/12/29", "1403/13/01", "1403/00/10", "1403/07/00", "1403/06/31",
                "1403/07/31", "1403/07/30", "1499/12/29", "1500/01/01", "1300/01/01",
                "1299/12/29", "1403/07-18", "1403/7/18", "1403/07/1", "14O3/07/18",
                "\xDB\xB1\xDB\xB4\xDB\xB0\xDB\xB3/07/18", "", " 1403/07/18",
            };
            const char *nid = rnd_below(3) ? nids[0] : nids[rnd_below(sizeof nids / sizeof nids[0])];
            char nid_rand[11];
            if (rnd_below(3) == 0) {
                /* Random digits; half of them with the right check digit
                 * (the weighted sum is computed without a loop). */
                unsigned sum = 0;
                for (unsigned i = 0; i < 10; i++) {
                    nid_rand[i] = (char)('0' + rnd_below(10));
                    sum += i < 9 ? (unsigned)(nid_rand[i] - '0') * (10u - i) : 0u;
                }
                unsigned r = sum % 11u;
                if (rnd_below(2)) {
                    nid_rand[9] = (char)('0' + (r < 2 ? r : 11u - r));
                }
                if (rnd_below(10) == 0) {
                    memset(nid_rand, nid_rand[9], 9); /* All equal. */
                }
                nid_rand[10] = '\0';
                nid = nid_rand;
            }
            const char *d1 = rnd_below(3) ? dates[0] : dates[rnd_below(sizeof dates / sizeof dates[0])];
            const char *d2 = rnd_below(3) ? dates[0] : dates[rnd_below(sizeof dates / sizeof dates[0])];
            char hdr[256];
            if (kind == 'P') {
                snprintf(hdr, sizeof hdr, "P\tRX%u\tPH1\t%s\t65619\t%s\t%s\n", d, nid, d1, d2);
            } else {
                snprintf(hdr, sizeof hdr, "I\tAD%u\tHOS1\t%s\t%s\t%s\tB\tK35\n", d, nid, d1, d2);
            }
            put(&in, hdr);
            unsigned lines = 1 + rnd_below(6);
            for (unsigned l = 1; l <= lines; l++) {
                random_l_line(&in, kind, rnd_below(15) == 0 ? l + 1 : l);
            }
        }
        put(&in, "T\t0\t0\t0\t0\t0\n");
        size_t block_bytes = rnd_below(2) ? 0 : 64 + rnd_below(400);
        struct run fast, baseline_scan, general;
        run_mode(&in, PARSE_FAST, block_bytes, &fast);
        run_mode(&in, PARSE_FAST_BASELINE_SCAN, block_bytes, &baseline_scan);
        run_mode(&in, PARSE_GENERAL, block_bytes, &general);
        expect_same_run(&fast, &general, "fast paths", round);
        expect_same_run(&baseline_scan, &general, "fast paths, baseline scanner", round);
        accepted += fast.sum.docs_accepted;
        rejected += fast.sum.docs_rejected;
        run_free(&fast);
        run_free(&baseline_scan);
        run_free(&general);
        free(in.buf);
    }
    /* Both kinds of documents occurred, in numbers. */
    cr_assert_gt(accepted, 300u);
    cr_assert_gt(rejected, 300u);
}

/* Hand-picked L lines at the fast path's edges, each in its own document:
 * both paths must agree on every one (and the valid ones are accepted). */
Test(batch_scan, fast_path_edge_lines)
{
    static const char *const lines[] = {
        "L\t1\tD\tX\t1000000\t0\t0\t0",
        "L\t1\tD\tX\t1000001\t0\t0\t0",
        "L\t1\tD\tX\t0\t0\t0\t0",
        "L\t0\tD\tX\t1\t0\t0\t0",
        "L\t01\tD\tX\t1\t0\t0\t0",
        "L\t1\tD\tX\t1\t9000000000000000\t9000000000000000\t9000000000000000",
        "L\t1\tD\tX\t1\t9000000000000001\t9000000000000001\t0",
        "L\t1\tD\tX\t2\t9000000000000000\t18000000000000000\t0",
        "L\t1\tD\tX\t1000000\t9000000000000000\t0\t0",
        "L\t1\tD\tX\t1\t5\t5\t5\t9000000000000000",
        "L\t1\tD\tX\t1\t5\t5\t5\t9000000000000001",
        "L\t1\tD\tX\t1\t5\t5\t5\t\t12345678",
        "L\t1\tD\tX\t1\t5\t5\t5\t\t123456789",
        "L\t1\tD\tX\t1\t5\t5\t5\t\t00000000",
        "L\t1\tD\tX\t1\t5\t5\t5\t\t\tG",
        "L\t1\tD\tX\t1\t5\t5\t5\t\t\tg",
        "L\t1\tD\tX\t1\t5\t5\t5\t\t\t\t62600051567087891740",
        "L\t1\tD\tX\t1\t5\t5\t5\t\t\t\t62600651567087891740,62600051567087891740",
        "L\t1\tD\tX\t1\t5\t5\t5\t\t\t\t62600051567087891740,",
        "L\t1\tD\tX\t1\t5\t5\t5\t\t\t\t62600051567087891740,6",
        "L\t1\tD\tX\t1\t5\t5\t5\t\t\t\t6260005156708789174A",
        "L\t1\tD\tX\t1\t5\t5\t5\t\t\t\tabc,62600051567087891740",
        "L\t1\tD\tX\t1\t5\t5\t5\t\t\t\t62600051567087891740\t",
        "L\t1\tD\tABCDEFGHIJKLMNOPQRST\t1\t5\t5\t5",
        "L\t1\tD\tABCDEFGHIJKLMNOPQRSTU\t1\t5\t5\t5",
        "L\t1\tD\t X\t1\t5\t5\t5",
        "L\t1\tD\tX \t1\t5\t5\t5",
        "L\t1\tD\t\t1\t5\t5\t5",
        "L\t1\tS\tX\t1\t5\t5\t5",
        "L\t1\tD\tX\t1\t5\t5",
        "L\t1\tD\tX\t1\t5\t5\t5\t0\t1\tG\t62600051567087891740\tx",
        "L\t1\tD\t\xDA\xA9\t1\t5\t5\t5",
        "L\t1\tD\tX\t\xDB\xB1\t5\t5\t5",
    };
    struct capture in = {0};
    put(&in, "H\t1\tB1\tKHZ\t1403/07\t1403/08/01\tT\n");
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char hdr[128];
        snprintf(hdr, sizeof hdr, "P\tRX%zu\tPH1\t0013542419\t65619\t1403/07/18\t1403/07/18\n", i);
        put(&in, hdr);
        put(&in, lines[i]);
        put(&in, "\n");
    }
    put(&in, "T\t0\t0\t0\t0\t0\n");
    struct run fast, baseline_scan, general;
    run_mode(&in, PARSE_FAST, 0, &fast);
    run_mode(&in, PARSE_FAST_BASELINE_SCAN, 0, &baseline_scan);
    run_mode(&in, PARSE_GENERAL, 0, &general);
    expect_same_run(&fast, &general, "fast paths", 0);
    expect_same_run(&baseline_scan, &general, "fast paths, baseline scanner", 0);
    cr_assert_eq(fast.sum.docs_accepted, 15u, "accepted %llu",
                 (unsigned long long)fast.sum.docs_accepted);
    run_free(&fast);
    run_free(&baseline_scan);
    run_free(&general);
    free(in.buf);
}
