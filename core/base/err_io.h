/*
 * Error table section of io/: containers, framing and batch structure.
 * Included only by core/base/err.h. Append; never rename (names are stable).
 */
#ifndef ADJ_CORE_BASE_ERR_IO_H
#define ADJ_CORE_BASE_ERR_IO_H

#define ADJ_ERR_MAP_IO(XX)                                                    \
    XX(E_INPUT_EMPTY, "input is empty")                                       \
    XX(E_OPEN, "cannot open file")                                            \
    XX(E_READ, "read failed")                                                 \
    XX(E_WRITE, "write failed")                                               \
    XX(E_ZSTD_TRUNCATED, "zstd stream is truncated")                          \
    XX(E_ZSTD_CORRUPT, "zstd stream is corrupt")                              \
    XX(E_ZSTD_TRAILING_GARBAGE, "garbage after the last zstd frame")          \
    XX(E_LINE_TOO_LONG, "line longer than 64 KiB")                            \
    XX(E_RECORD_TYPE, "unknown record type")                                  \
    XX(E_BATCH_NO_HEADER, "batch does not start with an H record")           \
    XX(E_BATCH_SECOND_HEADER, "a second H record")                            \
    XX(E_BATCH_VERSION, "unsupported batch version")                          \
    XX(E_LINE_BEFORE_DOC, "an L record before any document")                  \
    XX(E_DOC_NO_LINES, "document has no L records")                           \
    XX(E_DOC_TOO_MANY_LINES, "document has more than 10000 L records")        \
    XX(E_LINE_NO_ORDER, "line_no out of order within the document")           \
    XX(E_LINE_KIND, "line kind not allowed in this document")                 \
    XX(E_AFTER_TRAILER, "a record after the T record")                        \
    XX(E_TRAILER_MISSING, "batch has no T record")                            \
    XX(E_TRAILER_COUNT, "trailer counts do not match what was read")          \
    XX(E_TRAILER_SUM, "trailer sums do not match what was read")             \
    XX(E_BATCH_REJECTED_DOC, "document rejected at intake")                   \
    XX(E_DOC_TOO_LARGE, "document larger than the reader's block limit")

#endif
