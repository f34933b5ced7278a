/*
 * zwriter: what goes in comes out (plain, and through libzstd's own
 * decoder for .zst, including the multi-threaded compressor and a file made
 * of two concatenated frames), nothing is visible before close, and abort or
 * a failed open leaves no file behind.
 */
#include <criterion/criterion.h>

#include "tests/unit/test_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "io/zwriter.h"

static char zw_dir[256];

static void zw_setup(void)
{
    snprintf(zw_dir, sizeof zw_dir, "/tmp/test_zwriter.%ld", (long)getpid());
    mkdir(zw_dir, 0755);
}

static void zw_teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", zw_dir);
    cr_assert_eq(system(cmd), 0);
}


/* Decodes every frame of a zstd buffer with the streaming decoder. */
static char *unzstd(const char *src, size_t len, size_t *out_len)
{
    size_t cap = 1 << 20, used = 0;
    char *dst = malloc(cap);
    ZSTD_DStream *ds = ZSTD_createDStream();
    ZSTD_inBuffer in = {src, len, 0};
    size_t rest = 1;
    while (in.pos < in.size) {
        if (cap - used < ZSTD_DStreamOutSize()) {
            cap *= 2;
            dst = realloc(dst, cap);
        }
        ZSTD_outBuffer ob = {dst + used, cap - used, 0};
        rest = ZSTD_decompressStream(ds, &ob, &in);
        cr_assert_not(ZSTD_isError(rest), "zstd: %s", ZSTD_getErrorName(rest));
        used += ob.pos;
    }
    cr_assert_eq(rest, 0, "last frame incomplete");
    ZSTD_freeDStream(ds);
    *out_len = used;
    return dst;
}

/* Deterministic text of n bytes with some repetition, like TSV. */
static char *sample(size_t n)
{
    char *s = malloc(n);
    unsigned x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        s[i] = (i % 61 == 60) ? '\n' : (char)('0' + (x >> 16) % 10);
    }
    return s;
}

/* Writes data in uneven pieces, large ones included, to exercise the
 * buffer edges and the pass-through path. */
static void write_pieces(struct zwriter *w, const char *data, size_t n)
{
    size_t off = 0, step = 1;
    while (off < n) {
        size_t k = step < n - off ? step : n - off;
        cr_assert_eq(zwriter_write(w, data + off, k), ADJ_OK);
        off += k;
        step = step * 7 + 3;
        if (step > 3u << 20) {
            step = 5;
        }
    }
}

static void round_trip(const char *name, int level, int workers)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", zw_dir, name);
    size_t n = 5u << 20;
    char *data = sample(n);
    struct zwriter *w = NULL;
    cr_assert_eq(zwriter_open(&w, path, level), ADJ_OK);
    cr_assert_eq(zwriter_set_workers(w, workers), ADJ_OK);
    write_pieces(w, data, n);
    cr_assert_eq(zwriter_printf(w, "T\t%d\t%s\n", 42, "end"), ADJ_OK);
    cr_assert_eq(zwriter_bytes_in(w), n + 9);
    cr_assert_eq(access(path, F_OK), -1, "visible before close");
    cr_assert_eq(zwriter_close(w), ADJ_OK);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_eq(access(tmp, F_OK), -1, "temp file left behind");

    size_t len = 0, got_len = 0;
    char *raw = slurp(path, &len);
    char *got = raw;
    got_len = len;
    if (strstr(name, ".zst") != NULL) {
        cr_assert_lt(len, n, "not compressed");
        got = unzstd(raw, len, &got_len);
        free(raw);
    }
    cr_assert_eq(got_len, n + 9);
    cr_assert_eq(memcmp(got, data, n), 0);
    cr_assert_eq(memcmp(got + n, "T\t42\tend\n", 9), 0);
    free(got);
    free(data);
    unlink(path);
}

Test(zwriter, plain_round_trip, .init = zw_setup, .fini = zw_teardown)
{
    round_trip("a.tsv", 0, 0);
}
Test(zwriter, zstd_round_trip, .init = zw_setup, .fini = zw_teardown)
{
    round_trip("a.tsv.zst", 1, 0);
}
Test(zwriter, zstd_workers_round_trip, .init = zw_setup, .fini = zw_teardown)
{
    round_trip("b.tsv.zst", 3, 2);
}

Test(zwriter, two_frames_concatenated_decode_as_one, .init = zw_setup, .fini = zw_teardown)
{
    char p1[512], p2[512];
    snprintf(p1, sizeof p1, "%s/f1.zst", zw_dir);
    snprintf(p2, sizeof p2, "%s/f2.zst", zw_dir);
    struct zwriter *w = NULL;
    cr_assert_eq(zwriter_open(&w, p1, 0), ADJ_OK);
    cr_assert_eq(zwriter_write(w, "hello ", 6), ADJ_OK);
    cr_assert_eq(zwriter_close(w), ADJ_OK);
    cr_assert_eq(zwriter_open(&w, p2, 0), ADJ_OK);
    cr_assert_eq(zwriter_write(w, "world\n", 6), ADJ_OK);
    cr_assert_eq(zwriter_close(w), ADJ_OK);
    size_t l1, l2, out_len;
    char *a = slurp(p1, &l1);
    char *b = slurp(p2, &l2);
    char *cat = malloc(l1 + l2);
    memcpy(cat, a, l1);
    memcpy(cat + l1, b, l2);
    char *got = unzstd(cat, l1 + l2, &out_len);
    cr_assert_eq(out_len, 12);
    cr_assert_eq(memcmp(got, "hello world\n", 12), 0);
    free(a);
    free(b);
    free(cat);
    free(got);
}

Test(zwriter, empty_zstd_file_is_a_valid_frame, .init = zw_setup, .fini = zw_teardown)
{
    char path[512];
    snprintf(path, sizeof path, "%s/empty.zst", zw_dir);
    struct zwriter *w = NULL;
    cr_assert_eq(zwriter_open(&w, path, 0), ADJ_OK);
    cr_assert_eq(zwriter_close(w), ADJ_OK);
    size_t len, out_len;
    char *raw = slurp(path, &len);
    cr_assert_gt(len, 0);
    char *got = unzstd(raw, len, &out_len);
    cr_assert_eq(out_len, 0);
    free(raw);
    free(got);
}

Test(zwriter, close_replaces_and_abort_keeps_old, .init = zw_setup, .fini = zw_teardown)
{
    char path[512];
    snprintf(path, sizeof path, "%s/keep.tsv", zw_dir);
    struct zwriter *w = NULL;
    cr_assert_eq(zwriter_open(&w, path, 0), ADJ_OK);
    cr_assert_eq(zwriter_write(w, "old\n", 4), ADJ_OK);
    cr_assert_eq(zwriter_close(w), ADJ_OK);
    cr_assert_eq(zwriter_open(&w, path, 0), ADJ_OK);
    cr_assert_eq(zwriter_write(w, "new\n", 4), ADJ_OK);
    zwriter_abort(w);
    size_t len;
    char *got = slurp(path, &len);
    cr_assert_eq(len, 4);
    cr_assert_eq(memcmp(got, "old\n", 4), 0);
    free(got);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_eq(access(tmp, F_OK), -1);
}

Test(zwriter, open_in_missing_folder_fails_cleanly, .init = zw_setup, .fini = zw_teardown)
{
    struct zwriter *w = (struct zwriter *)1;
    cr_assert_eq(zwriter_open(&w, "/nonexistent-dir-xyz/a.tsv", 0), ADJ_E_OPEN);
    cr_assert_null(w);
    cr_assert_eq(zwriter_open(&w, "", 0), ADJ_E_USAGE);
    cr_assert_eq(zwriter_open(&w, "/tmp/x.zst", 99), ADJ_E_USAGE);
}

Test(zwriter, workers_only_before_first_write, .init = zw_setup, .fini = zw_teardown)
{
    char path[512];
    snprintf(path, sizeof path, "%s/late.zst", zw_dir);
    struct zwriter *w = NULL;
    cr_assert_eq(zwriter_open(&w, path, 0), ADJ_OK);
    cr_assert_eq(zwriter_write(w, "x", 1), ADJ_OK);
    cr_assert_eq(zwriter_set_workers(w, 2), ADJ_E_USAGE);
    zwriter_abort(w);
}
