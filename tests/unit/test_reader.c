/*
 * The reader (io/reader.h): framing and the two file back-ends.
 * Method: a generated batch with multi-byte UTF-8, CRLF lines and documents
 * of varied sizes is read through many (read size, block size) pairs, from
 * memory, through io_uring and through pread; the blocks must concatenate
 * to exactly the input, every block but the last must end with LF, and the
 * next block must start with a record that ends a document (H/P/I/T). With
 * 1-byte reads and blocks, every line and every UTF-8 sequence is split
 * between reads, and every block holds exactly one record boundary.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "io/reader.h"

static char *gen_text(size_t *len)
{
    size_t cap = 1 << 20, n = 0;
    char *t = malloc(cap);
    n += (size_t)sprintf(t + n, "H\t1\tR\tKHZ\t1403/07\t1403/08/01\tT\n");
    unsigned seed = 12345;
    for (int d = 0; d < 120; d++) {
        seed = seed * 1103515245u + 12345u;
        const char *eol = (d % 7 == 3) ? "\r\n" : "\n";
        n += (size_t)sprintf(t + n, "%s\tDOC%d\tداروخانه ی\t0013542419\t1\t1403/07/01\t1403/07/02%s",
                             d % 5 == 0 ? "I" : "P", d, eol);
        unsigned lines = 1 + (seed >> 16) % 9;
        for (unsigned l = 1; l <= lines; l++) {
            n += (size_t)sprintf(t + n, "L\t%u\tD\t۶۲۶۰۰%u\t1\t100\t100\t70\t0%s", l, l, eol);
            if (l == 2) {
                n += (size_t)sprintf(t + n, "# comment Pe ی\n\n");
            }
        }
    }
    n += (size_t)sprintf(t + n, "T\t120\t0\t0\t0\t0");
    *len = n;
    return t;
}

static bool starts_record(const char *p, size_t len)
{
    return len >= 2 && (p[0] == 'H' || p[0] == 'P' || p[0] == 'I' || p[0] == 'T') &&
           (p[1] == '\t' || p[1] == '\n' || (len >= 3 && p[1] == '\r' && p[2] == '\n'));
}

static size_t inner_boundaries(const char *p, size_t len)
{
    size_t n = 0;
    for (size_t i = 1; i + 1 < len; i++) {
        if (p[i - 1] == '\n' && starts_record(p + i, len - i)) {
            n++;
        }
    }
    return n;
}

/* Reads everything; checks the framing rules; returns the concatenation. */
static char *read_all(struct io_reader *r, size_t *out_len, size_t *blocks, bool one_per_block)
{
    size_t cap = 1 << 20, n = 0;
    char *all = malloc(cap);
    uint64_t seq = 0;
    bool last_seen = false;
    for (;;) {
        struct io_block *b;
        enum adj_err err = io_reader_next(r, &b);
        cr_assert_eq(err, ADJ_OK, "%s", adj_err_name(err));
        if (b == NULL) {
            break;
        }
        cr_assert(!last_seen, "a block after the last");
        cr_assert_eq(b->seq, seq++);
        cr_assert_gt(b->len, 0);
        cr_assert_eq(b->text_offset, n);
        if (n > 0) {
            cr_assert(starts_record(b->data, b->len) || b->continues_doc,
                      "block %llu starts with %.20s", (unsigned long long)b->seq, b->data);
        }
        if (!b->last) {
            cr_assert_eq(b->data[b->len - 1], '\n', "block ends mid-line");
        }
        if (one_per_block && !b->last) {
            cr_assert_eq(inner_boundaries(b->data, b->len), 0, "block %llu: %.*s",
                         (unsigned long long)b->seq, (int)b->len, b->data);
        }
        last_seen = b->last;
        if (n + b->len > cap) {
            cap = (n + b->len) * 2;
            all = realloc(all, cap);
        }
        memcpy(all + n, b->data, b->len);
        n += b->len;
        io_reader_release(r, b);
    }
    cr_assert(last_seen || n == 0);
    *out_len = n;
    *blocks = (size_t)seq;
    /* The end repeats. */
    struct io_block *b;
    cr_assert_eq(io_reader_next(r, &b), ADJ_OK);
    cr_assert_null(b);
    return all;
}

Test(reader, memory_framing_across_read_and_block_sizes)
{
    size_t len;
    char *text = gen_text(&len);
    const size_t reads[] = {1, 2, 3, 7, 64, 4096, 0};
    const size_t blocks[] = {1, 17, 300, 0};
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        for (size_t j = 0; j < sizeof blocks / sizeof blocks[0]; j++) {
            struct io_reader_options o = {.read_bytes = reads[i], .block_bytes = blocks[j],
                                          .block_count = 2};
            struct io_reader *r;
            struct adj_diag dg;
            cr_assert_eq(io_reader_open_memory(&r, text, len, "mem", &o, &dg), ADJ_OK);
            size_t n, nb;
            char *all = read_all(r, &n, &nb, reads[i] == 1 && blocks[j] == 1);
            cr_assert_eq(n, len, "read %zu block %zu", reads[i], blocks[j]);
            cr_assert(memcmp(all, text, len) == 0);
            if (blocks[j] == 1 && reads[i] == 1) {
                cr_assert_geq(nb, 121, "one block per document");
            }
            struct io_stream_end end;
            io_reader_end(r, &end);
            XXH128_hash_t h = XXH3_128bits(text, len);
            cr_assert(end.hash.hi == h.high64 && end.hash.lo == h.low64);
            cr_assert_eq(end.text_bytes, len);
            cr_assert(!end.zstd);
            free(all);
            io_reader_close(r);
        }
    }
    free(text);
}

static char *write_temp(const char *data, size_t len)
{
    char *path = strdup("/tmp/adj_reader_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static bool uring_available(void)
{
    struct io_uring ring;
    if (io_uring_queue_init(2, &ring, 0) < 0) {
        return false;
    }
    io_uring_queue_exit(&ring);
    return true;
}

static void file_roundtrip(enum io_backend want, enum io_backend expect_used)
{
    size_t len;
    char *text = gen_text(&len);
    char *path = write_temp(text, len);
    const size_t reads[] = {1, 5, 4096, 0};
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        struct io_reader_options o = {.backend = want, .read_bytes = reads[i],
                                      .reads_in_flight = 3, .block_bytes = 100};
        struct io_reader *r;
        struct adj_diag dg;
        cr_assert_eq(io_reader_open(&r, path, &o, &dg), ADJ_OK);
        size_t n, nb;
        char *all = read_all(r, &n, &nb, false);
        cr_assert_eq(n, len);
        cr_assert(memcmp(all, text, len) == 0);
        struct io_stream_end end;
        io_reader_end(r, &end);
        cr_assert_eq(end.backend, expect_used, "used %s", io_backend_name(end.backend));
        cr_assert_eq(end.raw_bytes, len);
        free(all);
        io_reader_close(r);
    }
    unlink(path);
    free(path);
    free(text);
}

Test(reader, io_uring_backend)
{
    if (!uring_available()) {
        cr_skip_test("io_uring refused here; the pread test covers the fallback");
    }
    file_roundtrip(IO_BACKEND_URING, IO_BACKEND_URING);
}

Test(reader, pread_backend)
{
    file_roundtrip(IO_BACKEND_PREAD, IO_BACKEND_PREAD);
}

Test(reader, env_forces_pread)
{
    setenv("ADJ_IO", "pread", 1);
    file_roundtrip(IO_BACKEND_AUTO, IO_BACKEND_PREAD);
    unsetenv("ADJ_IO");
    if (uring_available()) {
        file_roundtrip(IO_BACKEND_AUTO, IO_BACKEND_URING);
    }
}

struct pipe_writer {
    int fd;
    const char *data;
    size_t len;
};

static void *pipe_write(void *arg)
{
    struct pipe_writer *w = arg;
    size_t off = 0;
    while (off < w->len) {
        /* One byte first, then a pause: a pipe's first read is short. */
        size_t n = off == 0 ? 1 : w->len - off < 333 ? w->len - off : 333;
        if (off == 1) {
            usleep(20000);
        }
        ssize_t k = write(w->fd, w->data + off, n);
        if (k <= 0) {
            break;
        }
        off += (size_t)k;
    }
    close(w->fd);
    return NULL;
}

Test(reader, pipe_falls_back_to_read)
{
    size_t len;
    char *text = gen_text(&len);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    struct pipe_writer w = {fds[1], text, len};
    pthread_t th;
    pthread_create(&th, NULL, pipe_write, &w);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fds[0]);
    struct io_reader_options o = {.backend = IO_BACKEND_URING, .block_bytes = 50};
    struct io_reader *r;
    struct adj_diag dg;
    cr_assert_eq(io_reader_open(&r, path, &o, &dg), ADJ_OK);
    size_t n, nb;
    char *all = read_all(r, &n, &nb, false);
    cr_assert_eq(n, len);
    cr_assert(memcmp(all, text, len) == 0);
    struct io_stream_end end;
    io_reader_end(r, &end);
    cr_assert_eq(end.backend, IO_BACKEND_PREAD);
    io_reader_close(r);
    pthread_join(th, NULL);
    close(fds[0]);
    free(all);
    free(text);
}

/* procfs files are regular files whose size says 0: both back-ends read
 * them to the end (io_uring once trusted the size and found nothing). */
Test(reader, regular_file_of_size_zero_is_read_to_its_end)
{
    const enum io_backend backends[] = {IO_BACKEND_URING, IO_BACKEND_PREAD};
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        struct io_reader_options o = {.backend = backends[i]};
        struct io_reader *r;
        struct adj_diag dg;
        cr_assert_eq(io_reader_open(&r, "/proc/self/status", &o, &dg), ADJ_OK);
        size_t n, nb;
        char *all = read_all(r, &n, &nb, false);
        cr_assert_gt(n, 0, "backend %d read nothing", (int)backends[i]);
        cr_assert(memmem(all, n, "Name:", 5) != NULL);
        io_reader_close(r);
        free(all);
    }
}

Test(reader, pipe_zstd_magic_in_pieces)
{
    size_t len;
    char *text = gen_text(&len);
    size_t cap = ZSTD_compressBound(len);
    char *z = malloc(cap);
    size_t zlen = ZSTD_compress(z, cap, text, len, 3);
    cr_assert(!ZSTD_isError(zlen));
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    struct pipe_writer w = {fds[1], z, zlen};
    pthread_t th;
    pthread_create(&th, NULL, pipe_write, &w);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fds[0]);
    struct io_reader *r;
    struct adj_diag dg;
    cr_assert_eq(io_reader_open(&r, path, NULL, &dg), ADJ_OK);
    size_t n, nb;
    char *all = read_all(r, &n, &nb, false);
    struct io_stream_end end;
    io_reader_end(r, &end);
    cr_assert(end.zstd, "the magic number arrived in two reads");
    cr_assert_eq(n, len);
    cr_assert(memcmp(all, text, len) == 0);
    io_reader_close(r);
    pthread_join(th, NULL);
    close(fds[0]);
    free(all);
    free(z);
    free(text);
}

Test(reader, open_errors)
{
    struct io_reader *r;
    struct adj_diag dg;
    cr_assert_eq(io_reader_open(&r, "/nonexistent/batch.zst", NULL, &dg), ADJ_E_OPEN);
    cr_assert_null(r);
    cr_assert_eq(dg.code, ADJ_E_OPEN);
    cr_assert_eq(io_reader_open(&r, "/tmp", NULL, &dg), ADJ_E_OPEN);
    char *path = write_temp("", 0);
    cr_assert_eq(io_reader_open(&r, path, NULL, &dg), ADJ_OK);
    struct io_block *b;
    cr_assert_eq(io_reader_next(r, &b), ADJ_E_INPUT_EMPTY);
    cr_assert_null(b);
    cr_assert_eq(io_reader_next(r, &b), ADJ_E_INPUT_EMPTY, "the answer repeats");
    io_reader_close(r);
    unlink(path);
    free(path);
}

Test(reader, endless_line_is_never_buffered_whole)
{
    /* 10 MiB without a newline: the reader keeps IO_LONG_LINE_KEEP bytes. */
    size_t len = 10u << 20;
    char *text = malloc(len);
    memset(text, 'x', len);
    memcpy(text, "L\t", 2);
    struct io_reader_options o = {.read_bytes = 1 << 16};
    struct io_reader *r;
    struct adj_diag dg;
    cr_assert_eq(io_reader_open_memory(&r, text, len, "mem", &o, &dg), ADJ_OK);
    cr_assert_lt(io_reader_block_bytes_max(r), len, "the buffer is smaller than the line");
    size_t n, nb;
    char *all = read_all(r, &n, &nb, false);
    cr_assert_eq(n, IO_LONG_LINE_KEEP);
    struct io_stream_end end;
    io_reader_end(r, &end);
    cr_assert_eq(end.text_bytes, len, "the hash still covers every byte");
    cr_assert_eq(end.long_line_bytes_dropped, len - IO_LONG_LINE_KEEP);
    XXH128_hash_t h = XXH3_128bits(text, len);
    cr_assert(end.hash.hi == h.high64 && end.hash.lo == h.low64);
    io_reader_close(r);
    free(all);
    free(text);
}

/* Blocks released by another thread while the reader waits on the pool. */
struct handoff {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct io_block *q[64];
    size_t head, tail;
    bool done;
    struct io_reader *r;
    char *all;
    size_t n;
};

static void *consumer(void *arg)
{
    struct handoff *h = arg;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        while (h->head == h->tail && !h->done) {
            pthread_cond_wait(&h->cv, &h->mu);
        }
        if (h->head == h->tail && h->done) {
            pthread_mutex_unlock(&h->mu);
            return NULL;
        }
        struct io_block *b = h->q[h->head++ % 64];
        pthread_mutex_unlock(&h->mu);
        memcpy(h->all + h->n, b->data, b->len);
        h->n += b->len;
        io_reader_release(h->r, b);
    }
}

Test(reader, release_from_another_thread)
{
    size_t len;
    char *text = gen_text(&len);
    struct io_reader_options o = {.read_bytes = 100, .block_bytes = 200, .block_count = 3};
    struct handoff h = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    struct adj_diag dg;
    cr_assert_eq(io_reader_open_memory(&h.r, text, len, "mem", &o, &dg), ADJ_OK);
    h.all = malloc(len);
    pthread_t th;
    pthread_create(&th, NULL, consumer, &h);
    for (;;) {
        struct io_block *b;
        cr_assert_eq(io_reader_next(h.r, &b), ADJ_OK);
        pthread_mutex_lock(&h.mu);
        if (b == NULL) {
            h.done = true;
        } else {
            h.q[h.tail++ % 64] = b;
        }
        pthread_cond_signal(&h.cv);
        pthread_mutex_unlock(&h.mu);
        if (b == NULL) {
            break;
        }
    }
    pthread_join(th, NULL);
    cr_assert_eq(h.n, len);
    cr_assert(memcmp(h.all, text, len) == 0);
    io_reader_close(h.r);
    free(h.all);
    free(text);
}
