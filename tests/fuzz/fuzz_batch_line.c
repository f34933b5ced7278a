/*
 * libFuzzer target: one record line, parsed inside an open P document and
 * inside an open I document (batch_parse_block on a hand-made block), then
 * merged. Oracles beyond "no crash, no sanitizer report":
 *  - every accepted document and line satisfies doc.h's invariants
 *    (re-validated here independently of the parser's code paths);
 *  - every reject has a real error code, a line inside the block, a column
 *    >= 1 and a raw byte range inside the block, in order;
 *  - read = accepted + rejected (asserted by batch_merge too).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct doc_chunk chunk;
    static struct batch_block_result res;
    static bool init;
    static FILE *devnull;
    if (!init) {
        ADJ_ASSERT(batch_chunk_init(&chunk, 1u << 20) == ADJ_OK);
        ADJ_ASSERT(batch_result_init(&res) == ADJ_OK);
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
