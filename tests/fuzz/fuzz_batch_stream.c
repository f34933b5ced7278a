/*
 * libFuzzer target: a whole batch file (plain or zstd) through the reader,
 * parser and merge. The first two bytes pick a read size and a block size
 * for a second run; oracles:
 *  - no crash; read = accepted + rejected (asserted in batch_finish);
 *  - the stream verdict (clean end, E_ZSTD_*) and exit status agree;
 *  - the verdict does not depend on where reads and blocks are cut:
 *    counts, reasons, trailer verdict, sums and content hash are identical
 *    to a run with default sizes when the stream is sound (this is what
 *    catches UTF-8, CRLF and document-boundary splitting bugs). After a
 *    zstd error the text decoded before it depends on buffer sizes.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/base/assert.h"
#include "io/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (devnull == NULL) {
        devnull = fopen("/dev/null", "w");
    }
    if (size < 2) {
        return 0;
    }
    struct io_reader_options small = {
        .read_bytes = 1u + data[0] % 64u,
        .block_bytes = 1u + (size_t)data[1] * 7u,
        .block_count = 2,
    };
    struct io_reader_options def = {0};
    struct batch_summary a, b;
    batch_check_memory(data + 2, size - 2, "fuzz", &def, devnull, NULL, &a);
    batch_check_memory(data + 2, size - 2, "fuzz", &small, NULL, NULL, &b);
    ADJ_ASSERT(a.docs_read == a.docs_accepted + a.docs_rejected);
    ADJ_ASSERT(a.stream_err == b.stream_err);
    ADJ_ASSERT(batch_summary_exit_code(&a) == batch_summary_exit_code(&b));
    if (a.stream_err != ADJ_OK) {
        /* A corrupt zstd stream: how much text came out before the error
         * depends on buffer sizes; the verdict (unverified) does not. */
        ADJ_ASSERT(!a.verified && !b.verified);
        return 0;
    }
    ADJ_ASSERT(a.docs_read == b.docs_read);
    ADJ_ASSERT(a.docs_accepted == b.docs_accepted);
    ADJ_ASSERT(a.lines_read == b.lines_read);
    ADJ_ASSERT(a.verified == b.verified);
    ADJ_ASSERT(batch_summary_exit_code(&a) == batch_summary_exit_code(&b));
    ADJ_ASSERT(memcmp(a.rejected_by_reason, b.rejected_by_reason, sizeof a.rejected_by_reason) == 0);
    ADJ_ASSERT(a.totals.sum_total == b.totals.sum_total);
    ADJ_ASSERT(a.totals.sum_insurer == b.totals.sum_insurer);
    ADJ_ASSERT(a.totals.sum_daroyar == b.totals.sum_daroyar);
    ADJ_ASSERT(a.content_hash.hi == b.content_hash.hi && a.content_hash.lo == b.content_hash.lo);
    return 0;
}
