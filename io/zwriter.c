/*
 * zwriter: buffered plain or zstd output, published atomically by rename.
 * See zwriter.h for the contract. Data is gathered in a 1 MiB buffer so the
 * kernel and libzstd see large blocks whatever size the caller writes in.
 */
#include "io/zwriter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

/* Gather buffer: large enough that write(2) and ZSTD_compressStream2 calls
 * are rare, small enough to be irrelevant next to the data it carries. */
#define ZWRITER_BUF_BYTES (1u << 20)

struct zwriter {
    int fd;
    bool zstd;
    enum adj_err err;   /* Sticky first error. */
    ZSTD_CCtx *cctx;    /* Only when zstd. */
    char *path;         /* Final name. */
    char *tmp_path;     /* "<path>.tmp" */
    unsigned char *buf; /* Gathered input. */
    size_t used;
    unsigned char *out; /* Compressed output (zstd only). */
    size_t out_cap;
    unsigned long long bytes_in;
};

static bool zw_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static enum adj_err zw_write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            return ADJ_E_WRITE;
        }
        p += (size_t)k;
        len -= (size_t)k;
    }
    return ADJ_OK;
}

/* Compresses (or writes) src with the given end directive until libzstd has
 * consumed all input and, for ZSTD_e_end, finished the frame. */
static enum adj_err zw_emit(struct zwriter *w, const unsigned char *src, size_t len,
                            ZSTD_EndDirective mode)
{
    if (!w->zstd) {
        return zw_write_all(w->fd, src, len);
    }
    ZSTD_inBuffer in = {src, len, 0};
    for (;;) {
        ZSTD_outBuffer ob = {w->out, w->out_cap, 0};
        size_t rest = ZSTD_compressStream2(w->cctx, &ob, &in, mode);
        if (ZSTD_isError(rest)) {
            return ADJ_E_IO;
        }
        enum adj_err e = zw_write_all(w->fd, w->out, ob.pos);
        if (e != ADJ_OK) {
            return e;
        }
        bool done = mode == ZSTD_e_continue ? in.pos == in.size : rest == 0;
        if (done) {
            return ADJ_OK;
        }
    }
}

static enum adj_err zw_flush(struct zwriter *w)
{
    if (w->used == 0) {
        return ADJ_OK;
    }
    enum adj_err e = zw_emit(w, w->buf, w->used, ZSTD_e_continue);
    w->used = 0;
    return e;
}

static void zw_free(struct zwriter *w)
{
    if (w->fd >= 0) {
        close(w->fd);
    }
    ZSTD_freeCCtx(w->cctx);
    free(w->path);
    free(w->tmp_path);
    free(w->buf);
    free(w->out);
    free(w);
}

enum adj_err zwriter_open(struct zwriter **out, const char *path, int level)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0' || level < 0 || level > ZSTD_maxCLevel()) {
        return ADJ_E_USAGE;
    }
    struct zwriter *w = calloc(1, sizeof *w);
    if (w == NULL) {
        return ADJ_E_NOMEM;
    }
    w->fd = -1;
    size_t n = strlen(path);
    w->path = malloc(n + 1);
    w->tmp_path = malloc(n + 5);
    w->buf = malloc(ZWRITER_BUF_BYTES);
    if (w->path == NULL || w->tmp_path == NULL || w->buf == NULL) {
        zw_free(w);
        return ADJ_E_NOMEM;
    }
    memcpy(w->path, path, n + 1);
    memcpy(w->tmp_path, path, n);
    memcpy(w->tmp_path + n, ".tmp", 5);
    w->zstd = zw_ends_with(path, ".zst");
    if (w->zstd) {
        w->cctx = ZSTD_createCCtx();
        w->out_cap = ZSTD_CStreamOutSize();
        w->out = malloc(w->out_cap);
        if (w->cctx == NULL || w->out == NULL) {
            zw_free(w);
            return ADJ_E_NOMEM;
        }
        int lv = level == 0 ? ZSTD_CLEVEL_DEFAULT : level;
        if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, lv)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1))) {
            zw_free(w);
            return ADJ_E_USAGE;
        }
    }
    w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        zw_free(w);
        return ADJ_E_OPEN;
    }
    *out = w;
    return ADJ_OK;
}

enum adj_err zwriter_set_workers(struct zwriter *w, int workers)
{
    if (workers < 0 || w->bytes_in != 0) {
        return ADJ_E_USAGE;
    }
    if (w->zstd) {
        /* An error here means libzstd has no thread support: keep going
         * single-threaded, which gives the same bytes' meaning. */
        (void)ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, workers);
    }
    return ADJ_OK;
}

enum adj_err zwriter_write(struct zwriter *w, const void *buf, size_t len)
{
    if (w->err != ADJ_OK) {
        return w->err;
    }
    w->bytes_in += len;
    const unsigned char *p = buf;
    if (len >= ZWRITER_BUF_BYTES) {
        /* Large block: pass it through without copying. */
        enum adj_err e = zw_flush(w);
        if (e == ADJ_OK) {
            e = zw_emit(w, p, len, ZSTD_e_continue);
        }
        w->err = e;
        return e;
    }
    if (w->used + len > ZWRITER_BUF_BYTES) {
        enum adj_err e = zw_flush(w);
        if (e != ADJ_OK) {
            w->err = e;
            return e;
        }
    }
    memcpy(w->buf + w->used, p, len);
    w->used += len;
    return ADJ_OK;
}

enum adj_err zwriter_printf(struct zwriter *w, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return w->err = ADJ_E_USAGE;
    }
    if ((size_t)n < sizeof small) {
        return zwriter_write(w, small, (size_t)n);
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        return w->err = ADJ_E_NOMEM;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    enum adj_err e = zwriter_write(w, big, (size_t)n);
    free(big);
    return e;
}

/* fsync of the folder makes the rename itself durable. */
static enum adj_err zw_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (slash == NULL) {
        memcpy(dir, ".", 2);
    } else if (slash == path) {
        memcpy(dir, "/", 2);
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) {
            return ADJ_OK; /* Unusual path: the rename is done; skip the dir sync. */
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return ADJ_OK;
    }
    int rc = fsync(fd);
    close(fd);
    return rc == 0 || errno == EINVAL ? ADJ_OK : ADJ_E_WRITE;
}

enum adj_err zwriter_close(struct zwriter *w)
{
    enum adj_err e = w->err;
    if (e == ADJ_OK) {
        e = zw_flush(w);
    }
    if (e == ADJ_OK && w->zstd) {
        e = zw_emit(w, NULL, 0, ZSTD_e_end);
    }
    if (e == ADJ_OK && fsync(w->fd) != 0) {
        e = ADJ_E_WRITE;
    }
    if (close(w->fd) != 0 && e == ADJ_OK) {
        e = ADJ_E_WRITE;
    }
    w->fd = -1;
    if (e == ADJ_OK && rename(w->tmp_path, w->path) != 0) {
        e = ADJ_E_WRITE;
    }
    if (e == ADJ_OK) {
        e = zw_sync_dir(w->path);
    } else {
        unlink(w->tmp_path);
    }
    zw_free(w);
    return e;
}

void zwriter_abort(struct zwriter *w)
{
    if (w == NULL) {
        return;
    }
    unlink(w->tmp_path);
    zw_free(w);
}

unsigned long long zwriter_bytes_in(const struct zwriter *w)
{
    return w->bytes_in;
}
