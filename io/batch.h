/*
 * The batch format v1 (shared/spec/batch-format.md): parsing blocks of text
 * into documents, and the ordered merge that turns per-block results into
 * batch-level verdicts (header, trailer verification, quarantine).
 *
 * Two stages, for a parallel pipeline:
 *  1. batch_parse_block(): pure and thread-safe. Parses one io_block (whole
 *     documents, see reader.h's cutting rule) into a doc_chunk (accepted
 *     documents only) and a batch_block_result (rejected documents with
 *     reason and position, H/T records, batch-level events, the trailer's
 *     running counts and sums). Positions are relative to the block (line 1
 *     is the block's first line). Arrays are sized once (batch_chunk_init,
 *     batch_result_init) and reused; they grow only when a block holds more
 *     than they ever held before, never per line.
 *  2. batch_merge(): sequential, in block order. Makes lines absolute,
 *     enforces batch structure (H first, one H, no L before a document,
 *     nothing after T), writes the quarantine, prints diagnostics.
 *     batch_finish() checks the trailer and produces the summary.
 *
 * Accounting invariant (asserted in batch_merge): every P/I record read
 * ends as exactly one accepted or one rejected document, so
 * docs_read == docs_accepted + docs_rejected.
 *
 * Decisions taken where the spec is silent (notes/io.md has the reasons):
 *  - line_no must be 1, 2, 3, ... within a document (E_LINE_NO_ORDER).
 *  - Required fields: all of H, P, I, T; L fields 1..8. claimed_daroyar,
 *    physician, tariff_class and uids may be empty (absent); when present
 *    they are validated whatever the line kind.
 *  - Leading/trailing spaces in any field: E_FIELD_WHITESPACE.
 *  - A line whose first field is not H/P/I/L/T belongs to the open
 *    document and rejects it (E_RECORD_TYPE); with no open document it is a
 *    batch-level error.
 *  - A line over 64 KiB: its fields are not read (it adds nothing to the
 *    trailer sums, but counts as a P/I/L record by its first field), it
 *    rejects its document, and in the quarantine it is replaced by a `#`
 *    comment saying so (it cannot be kept whole and could never be
 *    resubmitted anyway).
 *  - The column of an error is the 1-based byte column of the start of the
 *    bad field (for E_FIELD_EMPTY of an omitted trailing field: one past the
 *    end of the line; for E_FIELD_COUNT: the first extra field).
 */
#ifndef ADJ_IO_BATCH_H
#define ADJ_IO_BATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base/doc.h"
#include "core/base/err.h"
#include "core/base/jdate.h"
#include "io/reader.h"

/* A rejected document, or (continuation) the further lines of a document
 * rejected as too large in an earlier block. Lines are block-relative until
 * batch_merge makes them absolute. */
struct batch_reject {
    uint64_t line;        /* Line of the error. */
    uint64_t doc_line;    /* Line of the P/I record (0 for a continuation). */
    uint32_t raw_begin;   /* Byte range of the document's raw lines in the */
    uint32_t raw_end;     /* block: header line start .. past its last LF. */
    uint32_t column;      /* 1-based byte column of the bad field. */
    uint16_t code;        /* enum adj_err. */
    uint8_t continuation; /* Not a new document: counted in an earlier block. */
    uint8_t pad_;
    char doc_id[ADJ_ID_BYTES_MAX + 1]; /* As read (maybe truncated), for messages. */
};

/* Batch-level events, in input order. */
enum batch_event_kind {
    BATCH_EV_HEADER = 1, /* An H record (index into res->headers). */
    BATCH_EV_TRAILER,    /* A T record (index into res->trailers). */
    BATCH_EV_ERROR,      /* A batch-level error at line/column. */
};

struct batch_event {
    uint64_t line;
    uint32_t column;
    uint16_t code;  /* enum adj_err: for ERROR the error; for H/T the first
                     * bad field's error or ADJ_OK. */
    uint8_t kind;   /* enum batch_event_kind. */
    uint8_t index;  /* H/T: index into headers/trailers. */
};

struct batch_header {
    uint64_t line;
    char batch_id[ADJ_ID_BYTES_MAX + 1]; /* Canonical key (yeh/kaf folded). */
    char province[ADJ_ID_BYTES_MAX + 1];
    char source[ADJ_ID_BYTES_MAX + 1];
    struct jdate period;  /* day = 1 */
    struct jdate created;
    bool valid;
};

struct batch_trailer {
    uint64_t line;
    uint64_t doc_count;
    uint64_t line_count;
    int64_t sum_claimed_total;
    int64_t sum_claimed_insurer;
    int64_t sum_claimed_daroyar;
    uint32_t column[6];   /* Byte column of each field (index = field - 1). */
    bool valid;
};

/* Trailer accumulators. Sums are 128-bit: 10^12 lines of 9e15 rials cannot
 * overflow, and any sum beyond the rial range simply fails to match. */
struct batch_totals {
    uint64_t docs;   /* P and I records read. */
    uint64_t lines;  /* L records read. */
    unsigned __int128 sum_total;
    unsigned __int128 sum_insurer;
    unsigned __int128 sum_daroyar;
};

#define BATCH_HEADERS_PER_BLOCK_MAX 4u  /* More H/T in one block: counted, not kept. */

struct batch_block_result {
    uint64_t seq;               /* The block's seq. */
    uint64_t line_count;        /* Lines in the block (an unterminated last one counts). */
    uint64_t first_record_line; /* First non-blank, non-comment line; 0 if none. */
    uint8_t first_record_type;  /* Its record type letter, or 0 if unknown. */
    struct batch_totals totals;
    uint64_t docs_accepted;     /* = chunk->doc_count. */
    uint64_t docs_rejected;     /* Non-continuation rejects. */
    struct batch_reject *rejects;
    uint32_t reject_count, reject_cap;
    struct batch_event *events;
    uint32_t event_count, event_cap;
    uint32_t events_dropped;    /* Beyond BATCH_EVENTS_MAX; still errors. */
    struct batch_header headers[BATCH_HEADERS_PER_BLOCK_MAX];
    struct batch_trailer trailers[BATCH_HEADERS_PER_BLOCK_MAX];
    uint32_t header_count, trailer_count;
    enum adj_err alloc_err;     /* ADJ_E_NOMEM if an array could not grow. */
    uint64_t line_base;         /* Set by batch_merge: absolute = base + relative. */
};

/* Batch-level events kept per block (a block full of stray L lines must not
 * need unbounded memory: the rest are counted in events_dropped). */
#define BATCH_EVENTS_MAX 1024u

/* Sizes the chunk's arrays for blocks of up to block_bytes_max bytes
 * (io_reader_block_bytes_max) from typical line sizes; they grow if a block
 * needs more. Returns ADJ_OK or ADJ_E_NOMEM. */
enum adj_err batch_chunk_init(struct doc_chunk *chunk, size_t block_bytes_max);
void batch_chunk_free(struct doc_chunk *chunk);
enum adj_err batch_result_init(struct batch_block_result *res);
void batch_result_free(struct batch_block_result *res);

/* Parses one block. Pure: reads only block and writes only chunk and res
 * (both reset first). Never fails: bad input becomes rejects and events;
 * res->alloc_err reports memory exhaustion (the merge makes it a batch
 * error). */
void batch_parse_block(const struct io_block *block, struct doc_chunk *chunk,
                       struct batch_block_result *res);

/* Fast paths (the common well-formed L line, national codes) are on by
 * default; tests turn them off to check that the general path gives the
 * same results. Not thread-safe: set before parsing starts. */
void batch_set_fast_paths(bool on);

/* The block scanner: the AVX-512 one (io/batch_scan.h) when the CPU has it
 * and the fast paths are on, else the baseline (SSE2) one; both give the
 * same lines and fields. Tests turn the wide one off to run what a CPU
 * without AVX-512 runs (with the fast paths on). Not thread-safe either.
 * batch_wide_scan_available: whether this CPU runs the wide one. */
void batch_set_wide_scan(bool on);
bool batch_wide_scan_available(void);

/* Adds base to every src_line of the chunk (documents and lines), making
 * them absolute; base = res->line_base after batch_merge, or track it. */
void batch_chunk_rebase(struct doc_chunk *chunk, uint64_t base);

/* The ordered merge's state for one batch. */
struct batch_state {
    const char *file_name;      /* Borrowed, for diagnostics. */
    FILE *diag_out;             /* Diagnostics go here (NULL: none). */
    uint32_t diag_max;          /* Print at most this many; then a count. */
    uint32_t diag_printed;
    uint64_t diag_suppressed;
    uint64_t next_seq;
    uint64_t line_base;         /* Lines merged so far. */
    bool seen_record, seen_header, seen_trailer;
    struct batch_header header;
    struct batch_trailer trailer;
    struct batch_totals totals;
    uint64_t docs_accepted;
    uint64_t docs_rejected;
    uint64_t rejected_by_reason[ADJ_ERR_COUNT];
    uint64_t batch_errors;
    struct adj_diag first_batch_error;
    bool quarantine_failed;
};

struct batch_summary {
    const char *file_name;
    uint64_t docs_read, docs_accepted, docs_rejected;
    uint64_t lines_read;        /* L records read. */
    uint64_t rejected_by_reason[ADJ_ERR_COUNT];
    bool verified;              /* Trailer matched, no batch-level error. */
    enum adj_err stream_err;    /* The reader's end: OK, E_ZSTD_..., E_READ, ... */
    bool io_failed;             /* The file could not be read (exit 74). */
    bool quarantine_failed;     /* Writing the quarantine failed (exit 74). */
    uint64_t batch_errors;
    struct adj_diag first_batch_error; /* code OK when verified. */
    bool has_header;
    struct batch_header header; /* batch_id, province, period, created, source. */
    bool has_trailer;
    struct batch_trailer trailer;
    struct batch_totals totals; /* What was read. */
    struct io_hash128 content_hash;
    uint64_t text_bytes;
    bool zstd;
};

/* A document the parser accepted that the run could not adjudicate (the
 * rule set failed on it: an overflow, a division by zero, a broken
 * invariant): moves it from accepted to rejected under `code`, with a
 * diagnostic at its header line and its raw lines in the quarantine,
 * exactly as an intake reject, so that read = adjudicated + rejected still
 * holds and a corrected rule set or table can take it again. Called after
 * batch_merge of its block, with the block still held and doc->src_line
 * absolute (batch_chunk_rebase). Returns ADJ_E_WRITE if the quarantine
 * write failed, else ADJ_OK. */
enum adj_err batch_reject_late(struct batch_state *st, const struct io_block *block,
                               const struct doc *doc, enum adj_err code, FILE *quarantine);

/* Default cap on diagnostics printed per batch. */
#define BATCH_DIAG_MAX_DEFAULT 100u

void batch_state_init(struct batch_state *st, const char *file_name, FILE *diag_out);

/* Merges one parsed block, in block order (asserted). Writes the raw lines
 * of rejected documents to quarantine (if not NULL), each preceded by a
 * `# file:line:col: E_NAME message` comment. Sets res->line_base. The
 * block must still be held (not released). Returns ADJ_E_WRITE if writing
 * the quarantine failed (remembered for the summary), else ADJ_OK. */
enum adj_err batch_merge(struct batch_state *st, const struct io_block *block,
                         struct batch_block_result *res, FILE *quarantine);

/* Records a batch-level error found outside the parser (e.g. the reader's
 * error); prints it. */
void batch_error(struct batch_state *st, const struct adj_diag *diag);

/* Ends the batch: end is the reader's io_reader_end (NULL for none). Checks
 * header and trailer and fills the summary. */
void batch_finish(struct batch_state *st, const struct io_stream_end *end,
                  struct batch_summary *out);

/* Exit statuses of batch-format.md (the same values as core/cli.h's, which
 * io/ may not include; cmd_check asserts they agree). */
enum batch_exit {
    BATCH_EXIT_OK = 0,         /* Verified, nothing rejected. */
    BATCH_EXIT_REJECTED = 1,   /* Verified, some documents rejected. */
    BATCH_EXIT_UNVERIFIED = 2, /* Unverified or a batch-level error. */
    BATCH_EXIT_IOERR = 74,     /* The file could not be read or written. */
};

/* Exit status for one batch. */
int batch_summary_exit_code(const struct batch_summary *s);

/* Prints the human summary (documents read/accepted/rejected by reason,
 * trailer verified or not). */
void batch_summary_print(FILE *out, const struct batch_summary *s);

/* Parser threads batch_check_file may use. */
#define BATCH_CHECK_THREADS_MAX 16u

/* Online CPUs, 1..BATCH_CHECK_THREADS_MAX. */
unsigned batch_check_default_threads(void);

/* Reads and checks a whole batch. threads <= 1: on the calling thread.
 * Otherwise one reader thread, `threads` parser threads and the ordered
 * merge on the calling thread (a small model of the pipeline; same
 * results, tested). Returns E_OPEN/E_NOMEM if the file cannot be opened
 * (summary says io_failed); everything else is in the summary. */
enum adj_err batch_check_file(const char *path, const struct io_reader_options *opt,
                              unsigned threads, FILE *quarantine, FILE *diag_out,
                              struct batch_summary *out);
/* The same on a memory buffer, on the calling thread (fuzzing, tests). */
void batch_check_memory(const void *data, size_t len, const char *name,
                        const struct io_reader_options *opt, FILE *quarantine,
                        FILE *diag_out, struct batch_summary *out);

/* Receives each block's accepted documents, in input order, on the calling
 * thread, after that block's merge (src_lines are absolute). The chunk is
 * reused after the call returns: copy what must outlive it. */
typedef void (*batch_chunk_fn)(void *ctx, const struct doc_chunk *chunk);

/* batch_check_file / batch_check_memory that also hand every accepted
 * document to fn (for rule tests, explain, diff: the same intake code path
 * as the pipeline). fn may be NULL. */
enum adj_err batch_read_file(const char *path, const struct io_reader_options *opt,
                             unsigned threads, batch_chunk_fn fn, void *ctx, FILE *quarantine,
                             FILE *diag_out, struct batch_summary *out);
void batch_read_memory(const void *data, size_t len, const char *name,
                       const struct io_reader_options *opt, batch_chunk_fn fn, void *ctx,
                       FILE *quarantine, FILE *diag_out, struct batch_summary *out);

#endif
