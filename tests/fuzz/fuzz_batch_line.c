/*
 * libFuzzer target: one record line, parsed inside an open P document and
 * inside an open I document (batch_parse_block on a hand-made block), then
 * merged. Oracles beyond "no crash, no sanitizer report":
 *  - every accepted document and line satisfies doc.h's invariants
 *    (re-validated here independently of the parser's code paths);
 *  - every reject has a real error code, a line inside the block, a column
 *    >= 1 and a raw byte range inside the block, in order;
 *  - read = accepted + rejected (asserted by batch_merge too);
 *  - the parser's fast paths change nothing: the block parsed again with
 *    them off (batch_set_fast_paths) gives the same documents, lines, pack
 *    ids, rejects, events and trailer sums, byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/assert.h"
#include "io/batch.h"

static const char prefix_p[] = "P\tRX\tPH\t0013542419\t1\t1403/07/01\t1403/07/02\n";
static const char prefix_i[] = "I\tAD\tHOS\t0013542419\t1403/07/01\t1403/07/09\tB\tK35\n";

static void check(const struct io_block *b, const struct doc_chunk *c,
                  const struct batch_block_result *res)
{
    ADJ_ASSERT(res->docs_accepted == c->doc_count);
    ADJ_ASSERT(res->docs_accepted + res->docs_rejected == res->totals.docs);
    for (uint32_t d = 0; d < c->doc_count; d++) {
        const struct doc *doc = &c->docs[d];
        ADJ_ASSERT(doc->line_count >= 1 && doc->line_count <= ADJ_LINES_PER_DOC_MAX);
        ADJ_ASSERT(doc->line_first + doc->line_count <= c->line_count);
        ADJ_ASSERT(doc->date2_days >= doc->date1_days);
        ADJ_ASSERT(doc->kind == DOC_KIND_P || doc->kind == DOC_KIND_I);
        for (uint32_t i = 0; i < doc->line_count; i++) {
            const struct doc_line *ln = &c->lines[doc->line_first + i];
            ADJ_ASSERT(ln->line_no == i + 1);
            ADJ_ASSERT(doc->kind == DOC_KIND_I || ln->kind == LINE_KIND_D);
            ADJ_ASSERT(ln->qty >= 1 && ln->qty <= ADJ_QTY_MAX);
            ADJ_ASSERT(ln->unit_price_rials >= 0 && ln->unit_price_rials <= ADJ_RIAL_MAX);
            ADJ_ASSERT(ln->claimed_total_rials == (int64_t)ln->qty * ln->unit_price_rials);
            ADJ_ASSERT(ln->claimed_insurer_rials >= 0 && ln->claimed_insurer_rials <= ADJ_RIAL_MAX);
            ADJ_ASSERT(ln->claimed_daroyar_rials >= 0 && ln->claimed_daroyar_rials <= ADJ_RIAL_MAX);
            ADJ_ASSERT(ln->code_len >= 1 && ln->code_len <= ADJ_CODE_BYTES_MAX);
            ADJ_ASSERT(strlen(ln->code) == ln->code_len);
            ADJ_ASSERT(ln->uid_first + ln->uid_count <= c->uid_count);
            ADJ_ASSERT(ln->uid_count <= ADJ_UIDS_PER_LINE_MAX);
        }
    }
    uint32_t prev_end = 0;
    for (uint32_t i = 0; i < res->reject_count; i++) {
        const struct batch_reject *r = &res->rejects[i];
        ADJ_ASSERT(r->code != ADJ_OK && r->code < ADJ_ERR_COUNT);
        ADJ_ASSERT(r->line >= 1 && r->line <= res->line_count);
        ADJ_ASSERT(r->column >= 1);
        ADJ_ASSERT(r->raw_begin >= prev_end && r->raw_begin < r->raw_end && r->raw_end <= b->len);
        prev_end = r->raw_end;
    }
}

/* The general path's result equals the fast path's, byte for byte. */
static void check_same(const struct doc_chunk *a, const struct batch_block_result *ra,
                       const struct doc_chunk *b, const struct batch_block_result *rb)
{
    ADJ_ASSERT(a->doc_count == b->doc_count && a->line_count == b->line_count &&
               a->uid_count == b->uid_count);
    ADJ_ASSERT(memcmp(a->docs, b->docs, a->doc_count * sizeof a->docs[0]) == 0);
    ADJ_ASSERT(memcmp(a->lines, b->lines, a->line_count * sizeof a->lines[0]) == 0);
    ADJ_ASSERT(memcmp(a->uids, b->uids, a->uid_count * sizeof a->uids[0]) == 0);
    ADJ_ASSERT(ra->reject_count == rb->reject_count && ra->event_count == rb->event_count);
    ADJ_ASSERT(memcmp(ra->rejects, rb->rejects, ra->reject_count * sizeof ra->rejects[0]) == 0);
    ADJ_ASSERT(memcmp(ra->events, rb->events, ra->event_count * sizeof ra->events[0]) == 0);
    ADJ_ASSERT(memcmp(&ra->totals, &rb->totals, sizeof ra->totals) == 0);
    ADJ_ASSERT(ra->docs_accepted == rb->docs_accepted && ra->docs_rejected == rb->docs_rejected);
    ADJ_ASSERT(ra->line_count == rb->line_count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct doc_chunk chunk, chunk_general;
    static struct batch_block_result res, res_general;
    static bool init;
    static FILE *devnull;
    if (!init) {
        ADJ_ASSERT(batch_chunk_init(&chunk, 1u << 20) == ADJ_OK);
        ADJ_ASSERT(batch_result_init(&res) == ADJ_OK);
        ADJ_ASSERT(batch_chunk_init(&chunk_general, 1u << 20) == ADJ_OK);
        ADJ_ASSERT(batch_result_init(&res_general) == ADJ_OK);
        devnull = fopen("/dev/null", "w");
        init = true;
    }
    if (size > 200000) {
        return 0;
    }
    char *text = malloc(sizeof prefix_i + size + 2);
    for (int kind = 0; kind < 2; kind++) {
        const char *prefix = kind == 0 ? prefix_p : prefix_i;
        size_t n = strlen(prefix);
        memcpy(text, prefix, n);
        memcpy(text + n, data, size);
        n += size;
        struct io_block b = {.data = text, .len = n, .seq = 0, .last = true};
        batch_parse_block(&b, &chunk, &res);
        check(&b, &chunk, &res);
        batch_set_fast_paths(false);
        batch_parse_block(&b, &chunk_general, &res_general);
        batch_set_fast_paths(true);
        check_same(&chunk, &res, &chunk_general, &res_general);
        struct batch_state st;
        batch_state_init(&st, "fuzz", NULL);
        batch_merge(&st, &b, &res, devnull);
        struct batch_summary sum;
        batch_finish(&st, NULL, &sum);
        ADJ_ASSERT(sum.docs_read == sum.docs_accepted + sum.docs_rejected);
        ADJ_ASSERT(!sum.verified || sum.has_trailer);
    }
    free(text);
    return 0;
}
