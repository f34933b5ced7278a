/*
 * The batch reader: turns a file (plain or zstd, detected by magic) into
 * decompressed text handed out in blocks that end on a line boundary and,
 * whenever possible, on a document boundary, so that blocks can be parsed by
 * several threads at once (batch_parse_block) and merged in order.
 *
 * Pipeline shape: ONE thread calls io_reader_next() in a loop; blocks go to
 * any number of workers; whoever is done with a block (usually the ordered
 * merge stage) calls io_reader_release() from any thread. Blocks come from a
 * bounded pool of `block_count` buffers, so peak memory is bounded whatever
 * the batch size: io_reader_next() waits for a release when every buffer is
 * out. A single-threaded caller must release a block before asking for more
 * than block_count - 1 blocks.
 *
 * Reading: io_uring with several reads in flight (liburing); if
 * io_uring_queue_init is refused, or ADJ_IO=pread is set in the
 * environment, or the options ask for it, plain pread(2) is used instead
 * (read(2) for pipes and other non-seekable files). Both paths produce the
 * same bytes; the tests run both. A plain (not zstd) regular file is read
 * with pread straight into the block buffers once the first reads are used
 * up (no copy through a read buffer); zstd input is decompressed straight
 * into them.
 *
 * Block cutting rule (the parser relies on it, see batch.h): a block is cut
 * only just before a line whose first field is exactly H, P, I or T (the
 * records that end a document), so a block never starts inside a document,
 * except when one document is larger than doc_bytes_max: then the block is
 * cut at a line boundary, flagged splits_doc, and the next block is flagged
 * continues_doc. The parser rejects such a document (E_DOC_TOO_LARGE) and
 * still reports all its raw lines for the quarantine.
 *
 * Long lines: a line longer than ADJ_LINE_BYTES_MAX is never buffered whole.
 * Only its first ADJ_LINE_BYTES_MAX + 2 bytes are kept (enough for the
 * parser to see that it is too long even after stripping a CR); the rest up
 * to its LF is dropped. The content hash still covers every byte.
 */
#ifndef ADJ_IO_READER_H
#define ADJ_IO_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"
#include "core/base/limits.h"

/* Default block size: large enough that per-block costs (hand-off between
 * threads, a condvar) vanish, small enough that 4..8 blocks in flight stay
 * far below the 256 MiB RSS goal. */
#define IO_BLOCK_BYTES_DEFAULT (2u << 20)
/* A document bigger than this is rejected (E_DOC_TOO_LARGE); its lines still
 * reach the quarantine. 10,000 lines of ~800 bytes (a drug line with 30
 * pack ids) fit. It is also the largest block, so it bounds the memory of
 * one block buffer. */
#define IO_DOC_BYTES_MAX (8u << 20)
/* Smallest doc_bytes_max the options accept: a mid-document cut needs at
 * least one whole line before the (truncated) partial last line. */
#define IO_DOC_BYTES_MIN (4u * (ADJ_LINE_BYTES_MAX + 2u))
/* Bytes of a partially read line kept once it is known to be too long. */
#define IO_LONG_LINE_KEEP (ADJ_LINE_BYTES_MAX + 2u)
/* Block buffers in the pool by default, and the most allowed. */
#define IO_BLOCK_COUNT_DEFAULT 4u
#define IO_BLOCK_COUNT_MAX 64u
/* One read request, and how many are in flight with io_uring. */
#define IO_READ_BYTES_DEFAULT (1u << 20)
#define IO_READS_IN_FLIGHT_DEFAULT 4u
#define IO_READS_IN_FLIGHT_MAX 16u

enum io_backend {
    IO_BACKEND_AUTO = 0, /* ADJ_IO env (pread|uring), else uring, else pread. */
    IO_BACKEND_URING,
    IO_BACKEND_PREAD,    /* pread(2), or read(2) for non-seekable files. */
    IO_BACKEND_MEMORY,   /* io_reader_open_memory. */
};

struct io_reader_options {
    enum io_backend backend;
    size_t block_bytes;      /* Target block size; 0 = IO_BLOCK_BYTES_DEFAULT.
                              * Tests use tiny values (1 works). */
    size_t doc_bytes_max;    /* 0 = IO_DOC_BYTES_MAX; clamped to >= IO_DOC_BYTES_MIN. */
    size_t read_bytes;       /* One read (or memory slice); 0 = default, 1 works. */
    unsigned reads_in_flight; /* io_uring only; 0 = default. */
    unsigned block_count;    /* Pool size, 2..IO_BLOCK_COUNT_MAX; 0 = default. */
};

/* One block of decompressed text. Borrowed from the reader's pool until
 * io_reader_release(). */
struct io_block {
    const char *data;
    size_t len;          /* > 0. */
    uint64_t seq;        /* 0, 1, 2, ... in stream order. */
    uint64_t text_offset; /* Bytes handed out before this block (the
                           * decompressed offset, less dropped long-line
                           * tails). */
    uint64_t raw_offset;  /* File bytes read when the block was cut (with
                           * io_reader_input_bytes: how far along, for a
                           * progress line; compressed or not). */
    bool continues_doc;  /* Starts inside a document too large for one block. */
    bool splits_doc;     /* Ends inside such a document. */
    bool last;           /* No block follows. */
    uint32_t slot;       /* Pool index; the reader's business. */
};

struct io_hash128 {
    uint64_t hi;
    uint64_t lo;
};

/* How the stream ended; valid once io_reader_next() has returned an error or
 * the end of the stream. */
struct io_stream_end {
    enum adj_err err;        /* ADJ_OK at a clean end. */
    struct adj_diag diag;    /* Set when err != ADJ_OK. */
    struct io_hash128 hash;  /* XXH3-128 of every decompressed byte. */
    uint64_t raw_bytes;      /* Bytes read from the file. */
    uint64_t text_bytes;     /* Decompressed bytes (hashed). */
    uint64_t long_line_bytes_dropped;
    enum io_backend backend; /* What actually read the file. */
    bool zstd;
};

struct io_reader;

/* Opens path (name is used in diagnostics and must outlive the reader).
 * Errors: E_OPEN, E_NOMEM, E_IO (diag set). opt may be NULL. An empty or
 * corrupt file opens fine; io_reader_next() reports it. */
enum adj_err io_reader_open(struct io_reader **out, const char *path,
                            const struct io_reader_options *opt, struct adj_diag *diag);
/* Reads from memory (tests, fuzzing); data must outlive the reader and is
 * delivered in read_bytes slices, so framing is tested like file reads. */
enum adj_err io_reader_open_memory(struct io_reader **out, const void *data, size_t len,
                                   const char *name, const struct io_reader_options *opt,
                                   struct adj_diag *diag);

/* The next block: ADJ_OK with *out set; ADJ_OK with *out == NULL at the end
 * of the stream; or a batch-level error (E_INPUT_EMPTY, E_ZSTD_TRUNCATED,
 * E_ZSTD_CORRUPT, E_ZSTD_TRAILING_GARBAGE, E_READ, E_NOMEM). Text decoded
 * before an error is handed out first, so the error comes after the last
 * block. After the end or an error every call repeats the same answer. */
enum adj_err io_reader_next(struct io_reader *r, struct io_block **out);

/* Returns a block to the pool; any thread. */
void io_reader_release(struct io_reader *r, const struct io_block *block);

/* Pool size: at most this many blocks are out at once; io_block.slot is
 * below it (callers may index per-block storage by slot). */
unsigned io_reader_block_count(const struct io_reader *r);

/* The largest block this reader can hand out (size parse arrays from it). */
size_t io_reader_block_bytes_max(const struct io_reader *r);

/* Size of the input (file or memory), 0 when unknown (a pipe); a hint for
 * sizing arrays. */
uint64_t io_reader_input_bytes(const struct io_reader *r);

void io_reader_end(const struct io_reader *r, struct io_stream_end *end);

/* Closes; blocks still out become invalid. NULL is fine. */
void io_reader_close(struct io_reader *r);

const char *io_backend_name(enum io_backend backend);

#endif
