/*
 * zwriter: a buffered, crash-safe output file, plain or zstd.
 *
 * Every output of the program that others read afterwards (generated
 * batches, decisions.tsv.zst, reports) goes through this writer so that a
 * reader never sees half a file: bytes go to "<path>.tmp", and only
 * zwriter_close() makes them visible, by fsync and rename (then fsync of the
 * folder). A crash or an error leaves the old file, if any, untouched.
 *
 * The file is zstd-compressed, streaming with libzstd, when its name ends in
 * ".zst"; otherwise it is written as is. Errors are sticky: after the first
 * failure every call returns the same error and close removes the temp file,
 * so a caller may write a whole file and check only the result of close.
 *
 * Not thread-safe: one writer belongs to one thread at a time.
 */
#ifndef ADJ_IO_ZWRITER_H
#define ADJ_IO_ZWRITER_H

#include <stddef.h>

#include "core/base/err.h"

struct zwriter;

/* Level for zwriter_open when the caller has no preference: zstd's default
 * (3), a good speed/size balance for TSV. */
#define ZWRITER_LEVEL_DEFAULT 0

/* Opens "<path>.tmp" for writing. level: zstd level 1..19 (0 = default),
 * ignored for plain files. On success *out is a writer that must be passed
 * to zwriter_close or zwriter_abort. Errors: E_OPEN, E_NOMEM, E_USAGE. */
enum adj_err zwriter_open(struct zwriter **out, const char *path, int level);

/* Asks libzstd to compress with `workers` extra threads (0 = in the calling
 * thread, the default). Only before the first write; a libzstd built without
 * threads keeps compressing in the caller (not an error). */
enum adj_err zwriter_set_workers(struct zwriter *w, int workers);

/* Appends len bytes. Errors: E_WRITE, E_IO (compression failed). */
enum adj_err zwriter_write(struct zwriter *w, const void *buf, size_t len);

/* Appends printf-formatted text (convenience; not for hot loops). */
enum adj_err zwriter_printf(struct zwriter *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Finishes the stream, fsyncs, renames "<path>.tmp" to path, fsyncs the
 * folder, and frees the writer. On any error (including an earlier sticky
 * one) the temp file is removed, path is left as it was, and the error is
 * returned. */
enum adj_err zwriter_close(struct zwriter *w);

/* Discards the output: removes the temp file and frees the writer. */
void zwriter_abort(struct zwriter *w);

/* Bytes handed to zwriter_write so far (before compression). */
unsigned long long zwriter_bytes_in(const struct zwriter *w);

#endif
