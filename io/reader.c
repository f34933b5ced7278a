/*
 * The batch reader (reader.h): three layers in one object.
 *   source:  raw bytes in order, from io_uring (several reads in flight),
 *            pread/read, or memory slices.
 *   decoder: plain copy, or zstd streaming (multi-frame, skippable frames,
 *            precise truncated / corrupt / trailing-garbage verdicts).
 *   blocker: fills a pool buffer, cuts it at a document boundary, hands it
 *            out, carries the tail into the next buffer.
 * Only the blocker's pool is shared between threads (mutex + condvar, taken
 * once per block, never per line).
 */
#include "io/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#if defined(__x86_64__)
/* The same XXH3 with the widest vector unit the CPU has (AVX2/AVX-512),
 * chosen at run time; the default entry points are built for SSE2. Same
 * hash values. */
#define XXH_DISPATCH_DISABLE_REPLACE
#include <xxh_x86dispatch.h>
#define reader_hash_update XXH3_128bits_update_dispatch
#else
#define reader_hash_update XXH3_128bits_update
#endif
#include <zstd.h>
#include <zstd_errors.h>

#include "core/base/assert.h"

struct io_read_slot {
    char *buf;
    size_t want;     /* Bytes requested for this slot. */
    size_t got;      /* Bytes arrived so far (short reads are resubmitted). */
    uint64_t off;    /* File offset of buf[0]. */
    bool busy;       /* Submitted and not yet consumed. */
    bool done;
    int err;         /* Negative errno. */
};

struct io_reader {
    const char *name;
    enum io_backend backend;
    /* Source. */
    int fd;
    bool seekable;
    uint64_t file_size;
    uint64_t next_off;    /* Next offset to request. */
    const uint8_t *mem;
    size_t mem_len;
    size_t read_bytes;
    struct io_uring ring;
    bool ring_ok;
    unsigned nslots;
    unsigned slot_head;   /* Slot to consume next (round robin). */
    struct io_read_slot slots[IO_READS_IN_FLIGHT_MAX];
    char *pread_buf;
    const uint8_t *raw;   /* Current raw chunk. */
    size_t raw_len, raw_pos;
    bool raw_slot_held;   /* raw points into slots[slot_head]. */
    bool src_eof;
    uint64_t raw_total;
    /* Decoder. */
    bool detected, zstd;
    bool direct;          /* Plain seekable file: read straight into blocks. */
    ZSTD_DStream *zd;
    size_t zhint;         /* Last return of ZSTD_decompressStream. */
    uint64_t z_since_end; /* Bytes consumed since the last complete frame. */
    uint64_t z_frames;
    uint8_t z_after[4];   /* First bytes consumed after the last complete frame. */
    size_t z_after_n;
    XXH3_state_t *xh;
    uint64_t text_total;
    /* Blocker. */
    size_t target, doc_max, cap;
    unsigned nblocks;
    struct io_block blocks[IO_BLOCK_COUNT_MAX];
    char *bufs[IO_BLOCK_COUNT_MAX];
    bool out[IO_BLOCK_COUNT_MAX];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned cur;
    size_t fill;
    size_t line_start;    /* Start of the partial last line in cur. */
    size_t scan_from;     /* Boundaries before this were already searched. */
    bool skipping;        /* Dropping the rest of a too-long line. */
    bool cur_continues;
    uint64_t seq, emitted;
    uint64_t dropped;
    bool stream_done;     /* Decoder reached the end or an error. */
    bool finished;        /* Everything handed out. */
    enum adj_err err;
    struct adj_diag diag;
};

const char *io_backend_name(enum io_backend backend)
{
    switch (backend) {
    case IO_BACKEND_URING: return "io_uring";
    case IO_BACKEND_PREAD: return "pread";
    case IO_BACKEND_MEMORY: return "memory";
    case IO_BACKEND_AUTO: break;
    }
    return "auto";
}

static void reader_fail(struct io_reader *r, enum adj_err err, const char *fmt, const char *arg)
{
    if (r->err != ADJ_OK) {
        return; /* The first error is the cause; keep it. */
    }
    r->err = err;
    adj_diag_set(&r->diag, err, r->name, 0, 0, fmt, arg);
}

/* ---- source ---- */

static void uring_submit_slot(struct io_reader *r, unsigned i)
{
    struct io_read_slot *s = &r->slots[i];
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    ADJ_ASSERT(sqe != NULL); /* The ring has one entry per slot. */
    io_uring_prep_read(sqe, r->fd, s->buf + s->got, (unsigned)(s->want - s->got),
                       s->off + s->got);
    io_uring_sqe_set_data64(sqe, i);
}

/* Assigns the next file range to slot i and queues it; false at EOF. */
static bool uring_arm_slot(struct io_reader *r, unsigned i)
{
    if (r->next_off >= r->file_size) {
        return false;
    }
    struct io_read_slot *s = &r->slots[i];
    uint64_t left = r->file_size - r->next_off;
    s->want = left < r->read_bytes ? (size_t)left : r->read_bytes;
    s->got = 0;
    s->off = r->next_off;
    s->busy = true;
    s->done = false;
    s->err = 0;
    r->next_off += s->want;
    uring_submit_slot(r, i);
    return true;
}

/* Waits until slots[slot_head] is complete. Completions arrive in any
 * order; short reads and EAGAIN/EINTR are resubmitted for the rest. */
static int uring_wait_head(struct io_reader *r)
{
    struct io_read_slot *head = &r->slots[r->slot_head];
    /* Bounded: each completion either finishes a slot, makes progress on a
     * short read, or retries EAGAIN/EINTR, which the kernel resolves. */
    while (!head->done) {
        int rc = io_uring_submit(&r->ring);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            return rc;
        }
        struct io_uring_cqe *cqe;
        rc = io_uring_wait_cqe(&r->ring, &cqe);
        if (rc == -EINTR || rc == -EAGAIN) {
            continue;
        }
        if (rc < 0) {
            return rc;
        }
        unsigned i = (unsigned)io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&r->ring, cqe);
        ADJ_ASSERT(i < r->nslots && r->slots[i].busy && !r->slots[i].done);
        struct io_read_slot *s = &r->slots[i];
        if (res == -EAGAIN || res == -EINTR) {
            uring_submit_slot(r, i);
        } else if (res < 0) {
            s->err = res;
            s->done = true;
        } else if (res == 0) {
            s->done = true; /* File shrank: what we have is what there is. */
        } else {
            s->got += (size_t)res;
            if (s->got < s->want) {
                uring_submit_slot(r, i);
            } else {
                s->done = true;
            }
        }
    }
    return 0;
}

static bool uring_try_init(struct io_reader *r)
{
    unsigned entries = r->nslots;
    if (io_uring_queue_init(entries, &r->ring, 0) < 0) {
        return false;
    }
    r->ring_ok = true;
    for (unsigned i = 0; i < r->nslots; i++) {
        r->slots[i].buf = malloc(r->read_bytes);
        if (r->slots[i].buf == NULL) {
            return false;
        }
    }
    for (unsigned i = 0; i < r->nslots; i++) {
        if (!uring_arm_slot(r, i)) {
            break;
        }
    }
    return true;
}

/* Makes r->raw the next raw chunk. Returns false at EOF or on error. */
static bool source_next(struct io_reader *r)
{
    if (r->src_eof) {
        return false;
    }
    r->raw_pos = 0;
    r->raw_len = 0;
    if (r->backend == IO_BACKEND_MEMORY) {
        size_t left = r->mem_len - (size_t)r->next_off;
        if (left == 0) {
            r->src_eof = true;
            return false;
        }
        r->raw = r->mem + r->next_off;
        r->raw_len = left < r->read_bytes ? left : r->read_bytes;
        r->next_off += r->raw_len;
        r->raw_total += r->raw_len;
        return true;
    }
    if (r->backend == IO_BACKEND_URING) {
        if (r->raw_slot_held) {
            /* The previous chunk is consumed: reuse its slot for a new read
             * (in direct mode the reads already in flight are only used up). */
            r->raw_slot_held = false;
            r->slots[r->slot_head].busy = false;
            if (!r->direct) {
                uring_arm_slot(r, r->slot_head);
            }
            r->slot_head = (r->slot_head + 1) % r->nslots;
        }
        struct io_read_slot *s = &r->slots[r->slot_head];
        if (!s->busy) {
            if (!r->direct) {
                r->src_eof = true;
            }
            return false; /* Direct mode: drained; decode reads on by itself. */
        }
        int rc = uring_wait_head(r);
        if (rc < 0 || s->err < 0) {
            reader_fail(r, ADJ_E_READ, "%s", strerror(-(rc < 0 ? rc : s->err)));
            r->src_eof = true;
            return false;
        }
        if (s->got == 0) {
            r->src_eof = true;
            return false;
        }
        r->raw = (const uint8_t *)s->buf;
        r->raw_len = s->got;
        r->raw_slot_held = true;
        r->raw_total += s->got;
        return true;
    }
    if (r->direct) {
        return false; /* decode reads straight into the block. */
    }
    /* pread / read. Bounded: EINTR retries only. */
    for (;;) {
        ssize_t n = r->seekable ? pread(r->fd, r->pread_buf, r->read_bytes, (off_t)r->next_off)
                                : read(r->fd, r->pread_buf, r->read_bytes);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n < 0) {
            reader_fail(r, ADJ_E_READ, "%s", strerror(errno));
            r->src_eof = true;
            return false;
        }
        if (n == 0) {
            r->src_eof = true;
            return false;
        }
        r->next_off += (uint64_t)n;
        r->raw = (const uint8_t *)r->pread_buf;
        r->raw_len = (size_t)n;
        r->raw_total += (uint64_t)n;
        return true;
    }
}

/* Direct mode: up to cap bytes (at most one read_bytes read) of a plain
 * seekable file straight into the block buffer, saving the copy from a
 * read buffer. Returns bytes read; 0 at the end or on an error (r->err). */
static size_t direct_read(struct io_reader *r, char *dst, size_t cap)
{
    size_t want = cap < r->read_bytes ? cap : r->read_bytes;
    /* Bounded: EINTR retries only. */
    for (;;) {
        ssize_t n = pread(r->fd, dst, want, (off_t)r->next_off);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n < 0) {
            reader_fail(r, ADJ_E_READ, "%s", strerror(errno));
            r->src_eof = true;
            return 0;
        }
        if (n == 0) {
            r->src_eof = true;
            return 0;
        }
        r->next_off += (uint64_t)n;
        r->raw_total += (uint64_t)n;
        return (size_t)n;
    }
}

/* ---- decoder ---- */

static const uint8_t zstd_magic[4] = {0x28, 0xB5, 0x2F, 0xFD};

static bool is_magic_prefix(const uint8_t *p, size_t n)
{
    if (n == 0) {
        return true;
    }
    if (memcmp(p, zstd_magic, n < 4 ? n : 4) == 0) {
        return true;
    }
    /* Skippable frames: 0x184D2A50..0x184D2A5F little-endian. */
    static const uint8_t skip[4] = {0x50, 0x2A, 0x4D, 0x18};
    if ((p[0] & 0xF0u) != 0x50u) {
        return false;
    }
    return n < 2 || memcmp(p + 1, skip + 1, (n < 4 ? n : 4) - 1) == 0;
}

/* After at least one complete frame: are the bytes that follow (those
 * consumed, then those not yet consumed, up to 4) not even the start of a
 * zstd or skippable-frame magic number? The answer does not depend on how
 * the input was cut into reads. */
static bool after_frame_is_garbage(const struct io_reader *r)
{
    if (r->z_frames == 0) {
        return false;
    }
    uint8_t b[4];
    size_t n = r->z_after_n;
    memcpy(b, r->z_after, n);
    for (size_t i = r->raw_pos; n < 4 && i < r->raw_len; i++) {
        b[n++] = r->raw[i];
    }
    return !is_magic_prefix(b, n);
}

/* Decodes up to cap bytes into dst. Returns bytes produced; 0 means the
 * stream ended (cleanly or with r->err set). */
static size_t decode(struct io_reader *r, char *dst, size_t cap)
{
    ADJ_ASSERT(cap > 0);
    /* Bounded: every pass consumes input, produces output, or ends. */
    for (;;) {
        if (r->raw_pos == r->raw_len && !r->src_eof) {
            if (!source_next(r) && r->err != ADJ_OK) {
                return 0;
            }
        }
        if (!r->detected) {
            if (r->src_eof && r->raw_len == 0) {
                if (r->raw_total == 0) {
                    reader_fail(r, ADJ_E_INPUT_EMPTY, NULL, NULL);
                }
                return 0;
            }
            r->detected = true;
            /* The first read holds >= 1 byte; magic needs 4, but a file of
             * 1..3 bytes cannot be zstd, and a read of 1..3 bytes when the file
             * is longer only happens with tiny test read sizes: peek the
             * source directly for those. */
            uint8_t head[4];
            size_t have = r->raw_len < 4 ? r->raw_len : 4;
            memcpy(head, r->raw, have);
            if (have < 4 && r->backend == IO_BACKEND_MEMORY) {
                have = r->mem_len < 4 ? r->mem_len : 4;
                memcpy(head, r->mem, have);
            } else if (have < 4 && r->seekable && r->file_size >= 4) {
                ssize_t n = pread(r->fd, head, 4, 0);
                have = n == 4 ? 4 : have;
            } else if (have < 4 && !r->seekable && r->read_bytes >= 4) {
                /* A pipe may deliver 1..3 bytes first: read on until the
                 * magic number is complete or the input ends. Bounded: 3
                 * bytes at most, each read adds one or ends. */
                while (r->raw_len < 4) {
                    ssize_t n = read(r->fd, r->pread_buf + r->raw_len, 4 - r->raw_len);
                    if (n < 0 && errno == EINTR) {
                        continue;
                    }
                    if (n <= 0) {
                        break;
                    }
                    r->raw_len += (size_t)n;
                    r->raw_total += (uint64_t)n;
                    r->next_off += (uint64_t)n;
                }
                have = r->raw_len < 4 ? r->raw_len : 4;
                memcpy(head, r->raw, have);
            }
            r->zstd = have == 4 && (memcmp(head, zstd_magic, 4) == 0 ||
                                    ((head[0] & 0xF0u) == 0x50u && head[1] == 0x2A &&
                                     head[2] == 0x4D && head[3] == 0x18));
            /* A plain file that can be read at offsets: once the reads
             * already made are used up, read straight into the blocks. */
            r->direct = !r->zstd && r->seekable &&
                        (r->backend == IO_BACKEND_PREAD || r->backend == IO_BACKEND_URING);
            if (r->zstd) {
                r->zd = ZSTD_createDStream();
                if (r->zd == NULL) {
                    reader_fail(r, ADJ_E_NOMEM, NULL, NULL);
                    return 0;
                }
                ZSTD_initDStream(r->zd);
                r->zhint = 1;
            }
        }
        if (!r->zstd) {
            size_t avail = r->raw_len - r->raw_pos;
            if (avail == 0 && r->direct && !r->src_eof) {
                return direct_read(r, dst, cap);
            }
            if (avail == 0) {
                return 0; /* src_eof */
            }
            size_t n = avail < cap ? avail : cap;
            memcpy(dst, r->raw + r->raw_pos, n);
            r->raw_pos += n;
            return n;
        }
        size_t old_pos = r->raw_pos;
        ZSTD_inBuffer in = {r->raw, r->raw_len, r->raw_pos};
        ZSTD_outBuffer out = {dst, cap, 0};
        size_t ret = ZSTD_decompressStream(r->zd, &out, &in);
        /* Keep the first bytes after a complete frame, in whatever pieces
         * they arrive: they tell trailing garbage from a damaged frame. */
        for (size_t i = old_pos; r->z_frames > 0 && r->z_after_n < 4 && i < in.pos; i++) {
            r->z_after[r->z_after_n++] = r->raw[i];
        }
        r->z_since_end += in.pos - old_pos;
        r->raw_pos = in.pos;
        if (ZSTD_isError(ret)) {
            if (after_frame_is_garbage(r)) {
                reader_fail(r, ADJ_E_ZSTD_TRAILING_GARBAGE, "after %s",
                            r->z_frames == 1 ? "the first frame" : "several frames");
            } else {
                reader_fail(r, ADJ_E_ZSTD_CORRUPT, "%s", ZSTD_getErrorName(ret));
            }
            return 0;
        }
        r->zhint = ret;
        if (ret == 0) {
            r->z_frames++;
            r->z_since_end = 0;
            r->z_after_n = 0;
        }
        if (out.pos > 0) {
            return out.pos;
        }
        if (r->raw_pos == r->raw_len && r->src_eof) {
            /* No input left and nothing more flushed. */
            if (r->z_frames == 0 || (r->zhint != 0 && r->z_since_end > 0)) {
                reader_fail(r, after_frame_is_garbage(r) ? ADJ_E_ZSTD_TRAILING_GARBAGE
                                                         : ADJ_E_ZSTD_TRUNCATED,
                            NULL, NULL);
            }
            return 0;
        }
    }
}

/* ---- blocker ---- */

static void release_slot(struct io_reader *r, unsigned slot)
{
    pthread_mutex_lock(&r->mu);
    ADJ_ASSERT(r->out[slot]);
    r->out[slot] = false;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void io_reader_release(struct io_reader *r, const struct io_block *block)
{
    ADJ_ASSERT(block != NULL && block->slot < r->nblocks);
    release_slot(r, block->slot);
}

/* Maps pool buffer i on first use. Mapped, not touched: pages become
 * resident only as far as blocks fill them, so a pool of 8 MiB buffers
 * costs what the blocks hold (~2 MiB each) and a small batch maps one or
 * two. mmap rather than malloc also keeps sanitizer builds from poisoning
 * megabytes of shadow per reader. */
static bool pool_map(struct io_reader *r, unsigned i)
{
    if (r->bufs[i] != NULL) {
        return true;
    }
    void *m = mmap(NULL, r->cap, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    r->bufs[i] = m == MAP_FAILED ? NULL : m;
    return r->bufs[i] != NULL;
}

/* A free pool buffer, waiting for a release if none; UINT32_MAX if it
 * cannot be mapped. */
static unsigned pool_acquire(struct io_reader *r)
{
    pthread_mutex_lock(&r->mu);
    /* Bounded by the consumers' releases; each wait ends with one. */
    for (;;) {
        for (unsigned i = 0; i < r->nblocks; i++) {
            if (!r->out[i]) {
                r->out[i] = true;
                pthread_mutex_unlock(&r->mu);
                if (!pool_map(r, i)) {
                    release_slot(r, i);
                    return UINT32_MAX;
                }
                return i;
            }
        }
        pthread_cond_wait(&r->cv, &r->mu);
    }
}

/* True if p starts a line whose first field is exactly H, P, I or T: the
 * letter, then TAB, LF or CR LF (a CR elsewhere is part of the field). This
 * must agree with the parser's record type test (batch.c on_line). avail is
 * the number of bytes known at p (>= 2); a CR needs a third. */
static bool doc_start_at(const char *p, size_t avail)
{
    if (!(p[0] == 'P' || p[0] == 'I' || p[0] == 'H' || p[0] == 'T')) {
        return false;
    }
    if (p[1] == '\t' || p[1] == '\n') {
        return true;
    }
    return p[1] == '\r' && avail >= 3 && p[2] == '\n';
}

/* Last document boundary in buf[lo..hi): an offset b > 0 where buf[b-1] is
 * LF and buf[b] starts an H/P/I/T record, with its second byte present.
 * Returns 0 if none. */
static size_t find_boundary(const char *buf, size_t lo, size_t hi)
{
    if (hi < 3) {
        return 0;
    }
    size_t end = hi - 2; /* b + 1 < hi, so b <= hi - 2; LF at b - 1 <= hi - 3. */
    /* Bounded: each memrchr call moves end strictly down. */
    while (end > lo) {
        const char *nl = memrchr(buf + lo, '\n', end - lo);
        if (nl == NULL) {
            return 0;
        }
        size_t b = (size_t)(nl - buf) + 1;
        if (doc_start_at(buf + b, hi - b)) {
            return b;
        }
        end = (size_t)(nl - buf);
    }
    return 0;
}

/* Hands out buf[0..cut) of the current buffer and moves the rest into a new
 * one. */
static struct io_block *emit(struct io_reader *r, size_t cut, bool splits, bool last)
{
    ADJ_ASSERT(cut > 0 && cut <= r->fill);
    struct io_block *b = &r->blocks[r->cur];
    b->data = r->bufs[r->cur];
    b->len = cut;
    b->seq = r->seq++;
    b->text_offset = r->emitted;
    b->raw_offset = r->raw_total;
    b->continues_doc = r->cur_continues;
    b->splits_doc = splits;
    b->last = last;
    b->slot = r->cur;
    r->emitted += cut;
    unsigned nxt = last ? UINT32_MAX : pool_acquire(r);
    if (!last && nxt == UINT32_MAX) {
        /* Out of memory: this block is the last; the error follows it. */
        reader_fail(r, ADJ_E_NOMEM, "block buffer", NULL);
        b->last = true;
        last = true;
    }
    if (!last) {
        size_t carry = r->fill - cut;
        memcpy(r->bufs[nxt], r->bufs[r->cur] + cut, carry);
        r->cur = nxt;
        r->fill = carry;
        r->line_start = r->line_start >= cut ? r->line_start - cut : 0;
        r->scan_from = 0;
        r->cur_continues = splits;
    } else {
        r->finished = true;
    }
    return b;
}

enum adj_err io_reader_next(struct io_reader *r, struct io_block **out)
{
    *out = NULL;
    if (r->finished) {
        return r->err;
    }
    char *buf = NULL;
    /* Bounded: every pass adds decoded bytes, emits, or ends the stream. */
    for (;;) {
        buf = r->bufs[r->cur];
        if (r->stream_done) {
            if (r->fill == 0) {
                r->finished = true;
                return r->err;
            }
            *out = emit(r, r->fill, false, true);
            return ADJ_OK;
        }
        if (r->fill >= r->target) {
            size_t b = find_boundary(buf, r->scan_from, r->fill);
            if (b > 0) {
                *out = emit(r, b, false, false);
                return ADJ_OK;
            }
            if (r->fill >= r->doc_max) {
                /* One document fills the buffer: cut at the last LF. */
                const char *nl = memrchr(buf, '\n', r->fill);
                ADJ_ASSERT(nl != NULL); /* The partial line is < doc_max. */
                *out = emit(r, (size_t)(nl - buf) + 1, true, false);
                return ADJ_OK;
            }
            /* The last LFs may lack the bytes after them: look again. */
            r->scan_from = r->fill >= 3 ? r->fill - 3 : 0;
        }
        size_t want;
        if (r->fill < r->target) {
            want = r->target - r->fill;
        } else {
            want = r->cap - r->fill;
            if (want > 65536) {
                want = 65536; /* Look for a boundary again soon. */
            }
        }
        size_t n = decode(r, buf + r->fill, want);
        if (n == 0) {
            r->stream_done = true;
            continue;
        }
        reader_hash_update(r->xh, buf + r->fill, n);
        r->text_total += n;
        if (r->skipping) {
            const char *nl = memchr(buf + r->fill, '\n', n);
            if (nl == NULL) {
                r->dropped += n;
                continue;
            }
            size_t skip = (size_t)(nl - (buf + r->fill));
            memmove(buf + r->fill, nl, n - skip);
            r->dropped += skip;
            n -= skip;
            r->skipping = false;
        }
        size_t old = r->fill;
        r->fill += n;
        const char *nl = memrchr(buf + old, '\n', n);
        if (nl != NULL) {
            r->line_start = (size_t)(nl - buf) + 1;
        }
        if (r->fill - r->line_start > IO_LONG_LINE_KEEP) {
            r->dropped += r->fill - (r->line_start + IO_LONG_LINE_KEEP);
            r->fill = r->line_start + IO_LONG_LINE_KEEP;
            r->skipping = true;
        }
    }
}

/* ---- open / close ---- */

static enum adj_err reader_alloc(struct io_reader **out, const char *name,
                                 const struct io_reader_options *opt)
{
    struct io_reader_options o = {0};
    if (opt != NULL) {
        o = *opt;
    }
    struct io_reader *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return ADJ_E_NOMEM;
    }
    r->name = name;
    r->fd = -1;
    r->err = ADJ_OK;
    r->target = o.block_bytes != 0 ? o.block_bytes : IO_BLOCK_BYTES_DEFAULT;
    r->doc_max = o.doc_bytes_max != 0 ? o.doc_bytes_max : IO_DOC_BYTES_MAX;
    if (r->doc_max < IO_DOC_BYTES_MIN) {
        r->doc_max = IO_DOC_BYTES_MIN;
    }
    if (r->target > r->doc_max) {
        r->target = r->doc_max;
    }
    /* Room for doc_max plus one decode step past it. */
    r->cap = r->doc_max + 65536 + IO_LONG_LINE_KEEP;
    r->read_bytes = o.read_bytes != 0 ? o.read_bytes : IO_READ_BYTES_DEFAULT;
    r->nslots = o.reads_in_flight != 0 ? o.reads_in_flight : IO_READS_IN_FLIGHT_DEFAULT;
    if (r->nslots > IO_READS_IN_FLIGHT_MAX) {
        r->nslots = IO_READS_IN_FLIGHT_MAX;
    }
    r->nblocks = o.block_count != 0 ? o.block_count : IO_BLOCK_COUNT_DEFAULT;
    if (r->nblocks < 2) {
        r->nblocks = 2;
    }
    if (r->nblocks > IO_BLOCK_COUNT_MAX) {
        r->nblocks = IO_BLOCK_COUNT_MAX;
    }
    r->backend = o.backend;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->xh = XXH3_createState();
    if (r->xh == NULL) {
        io_reader_close(r);
        return ADJ_E_NOMEM;
    }
    XXH3_128bits_reset(r->xh);
    if (!pool_map(r, 0)) {
        io_reader_close(r);
        return ADJ_E_NOMEM;
    }
    r->cur = 0;
    r->out[0] = true;
    *out = r;
    return ADJ_OK;
}

enum adj_err io_reader_open_memory(struct io_reader **out, const void *data, size_t len,
                                   const char *name, const struct io_reader_options *opt,
                                   struct adj_diag *diag)
{
    *out = NULL;
    struct io_reader *r;
    enum adj_err err = reader_alloc(&r, name, opt);
    if (err != ADJ_OK) {
        adj_diag_set(diag, err, name, 0, 0, NULL);
        return err;
    }
    r->backend = IO_BACKEND_MEMORY;
    r->mem = data;
    r->mem_len = len;
    r->seekable = true;
    r->file_size = len;
    *out = r;
    return ADJ_OK;
}

enum adj_err io_reader_open(struct io_reader **out, const char *path,
                            const struct io_reader_options *opt, struct adj_diag *diag)
{
    *out = NULL;
    struct io_reader *r;
    enum adj_err err = reader_alloc(&r, path, opt);
    if (err != ADJ_OK) {
        adj_diag_set(diag, err, path, 0, 0, NULL);
        return err;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        int e = r->fd < 0 ? errno : EISDIR;
        adj_diag_set(diag, ADJ_E_OPEN, path, 0, 0, "%s", strerror(e));
        io_reader_close(r);
        return ADJ_E_OPEN;
    }
    /* A regular file whose size says 0 may still have bytes (procfs and
     * sysfs files report 0): read it as a stream, to its end, as a pipe is;
     * trusting the size made such a file "empty" under io_uring and
     * hid its read errors (exit 74). A file that is empty reads 0 bytes
     * either way. */
    r->seekable = S_ISREG(st.st_mode) && st.st_size > 0;
    r->file_size = (uint64_t)st.st_size;
    if (r->backend == IO_BACKEND_AUTO || r->backend == IO_BACKEND_MEMORY) {
        const char *env = getenv("ADJ_IO");
        r->backend = env != NULL && strcmp(env, "pread") == 0 ? IO_BACKEND_PREAD
                                                              : IO_BACKEND_URING;
    }
    if (r->backend == IO_BACKEND_URING && (!r->seekable || !uring_try_init(r))) {
        /* Refused (seccomp, old kernel, sysctl) or a pipe: fall back. */
        if (r->ring_ok) {
            io_uring_queue_exit(&r->ring);
            r->ring_ok = false;
        }
        for (unsigned i = 0; i < r->nslots; i++) {
            free(r->slots[i].buf);
            r->slots[i].buf = NULL;
            r->slots[i].busy = false;
        }
        r->next_off = 0;
        r->backend = IO_BACKEND_PREAD;
    }
    if (r->backend == IO_BACKEND_PREAD) {
        r->pread_buf = malloc(r->read_bytes);
        if (r->pread_buf == NULL) {
            adj_diag_set(diag, ADJ_E_NOMEM, path, 0, 0, NULL);
            io_reader_close(r);
            return ADJ_E_NOMEM;
        }
    }
    *out = r;
    return ADJ_OK;
}

size_t io_reader_block_bytes_max(const struct io_reader *r)
{
    return r->cap;
}

unsigned io_reader_block_count(const struct io_reader *r)
{
    return r->nblocks;
}

uint64_t io_reader_input_bytes(const struct io_reader *r)
{
    return r->seekable ? r->file_size : 0;
}

void io_reader_end(const struct io_reader *r, struct io_stream_end *end)
{
    memset(end, 0, sizeof *end);
    end->err = r->err;
    end->diag = r->diag;
    XXH128_hash_t h = XXH3_128bits_digest(r->xh);
    end->hash.hi = h.high64;
    end->hash.lo = h.low64;
    end->raw_bytes = r->raw_total;
    end->text_bytes = r->text_total;
    end->long_line_bytes_dropped = r->dropped;
    end->backend = r->backend;
    end->zstd = r->zstd;
}

void io_reader_close(struct io_reader *r)
{
    if (r == NULL) {
        return;
    }
    if (r->ring_ok) {
        /* Reads still in flight write into slot buffers: drain them first. */
        for (unsigned i = 0; i < r->nslots; i++) {
            if (r->slots[i].busy && !r->slots[i].done) {
                r->slot_head = i;
                (void)uring_wait_head(r);
            }
        }
        io_uring_queue_exit(&r->ring);
    }
    for (unsigned i = 0; i < IO_READS_IN_FLIGHT_MAX; i++) {
        free(r->slots[i].buf);
    }
    free(r->pread_buf);
    for (unsigned i = 0; i < IO_BLOCK_COUNT_MAX; i++) {
        if (r->bufs[i] != NULL) {
            munmap(r->bufs[i], r->cap);
        }
    }
    if (r->zd != NULL) {
        ZSTD_freeDStream(r->zd);
    }
    if (r->xh != NULL) {
        XXH3_freeState(r->xh);
    }
    if (r->fd >= 0) {
        close(r->fd);
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
