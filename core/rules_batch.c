/*
 * See rules_batch.h. The sets grow by doubling (a tool, not the hot
 * pipeline); probing is bounded by the table size.
 */
#include "core/rules_batch.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/text.h"
#include "io/batch.h"
#include "io/reader.h"

enum adj_err rb_each_doc(const char *name, const void *mem, size_t len, FILE *diag_out,
                         rb_doc_fn fn, void *ctx, uint64_t *rejected, bool *verified)
{
    struct io_reader *r = NULL;
    struct adj_diag dg;
    enum adj_err err = mem ? io_reader_open_memory(&r, mem, len, name, NULL, &dg)
                           : io_reader_open(&r, name, NULL, &dg);
    *rejected = 0;
    if (err != ADJ_OK) {
        if (diag_out)
            adj_diag_print(diag_out, &dg);
        return err;
    }
    struct batch_state st;
    batch_state_init(&st, name, diag_out);
    struct doc_chunk chunk;
    struct batch_block_result res;
    memset(&chunk, 0, sizeof chunk);
    memset(&res, 0, sizeof res);
    if (batch_chunk_init(&chunk, io_reader_block_bytes_max(r)) != ADJ_OK ||
        batch_result_init(&res) != ADJ_OK) {
        batch_chunk_free(&chunk);
        batch_result_free(&res);
        io_reader_close(r);
        return ADJ_E_NOMEM;
    }
    int stop = 0;
    /* Bounded by the stream: each block is a non-empty piece of it. */
    while (!stop) {
        struct io_block *b;
        err = io_reader_next(r, &b);
        if (err != ADJ_OK || b == NULL)
            break;
        batch_parse_block(b, &chunk, &res);
        (void)batch_merge(&st, b, &res, NULL);
        batch_chunk_rebase(&chunk, res.line_base);
        for (uint32_t i = 0; i < chunk.doc_count && !stop; i++) {
            const struct doc *d = &chunk.docs[i];
            stop = fn(ctx, d, chunk.lines + d->line_first, chunk.uids);
        }
        io_reader_release(r, b);
    }
    struct io_stream_end end;
    io_reader_end(r, &end);
    struct batch_summary sum;
    batch_finish(&st, &end, &sum);
    *rejected = sum.docs_rejected;
    if (verified != NULL)
        *verified = sum.verified && !stop;
    batch_chunk_free(&chunk);
    batch_result_free(&res);
    io_reader_close(r);
    return sum.io_failed ? ADJ_E_IO : ADJ_OK;
}

void rb_seen_init(struct rb_seen *s) { memset(s, 0, sizeof *s); }

void rb_seen_free(struct rb_seen *s)
{
    free(s->uids);
    free(s->docs);
    free(s->doc_hash);
    memset(s, 0, sizeof *s);
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static bool uid_grow(struct rb_seen *s)
{
    uint64_t cap = s->uid_mask ? (s->uid_mask + 1) * 2 : 1024;
    uint64_t *n = calloc(cap, sizeof *n);
    if (!n)
        return false;
    for (uint64_t i = 0; s->uids && i <= s->uid_mask; i++) {
        if (!s->uids[i])
            continue;
        uint64_t j = mix(s->uids[i]) & (cap - 1);
        while (n[j])
            j = (j + 1) & (cap - 1);
        n[j] = s->uids[i];
    }
    free(s->uids);
    s->uids = n;
    s->uid_mask = cap - 1;
    return true;
}

static bool uid_mark(void *ctx, uint64_t key)
{
    struct rb_seen *s = ctx;
    if (key == 0) {
        bool was = s->uid_zero;
        s->uid_zero = true;
        return was;
    }
    if ((s->uid_count + 1) * 2 > s->uid_mask + 1 && !uid_grow(s)) {
        s->failed = true;
        return false;
    }
    uint64_t j = mix(key) & s->uid_mask;
    for (uint64_t probes = 0; probes <= s->uid_mask; probes++) {
        if (s->uids[j] == key)
            return true;
        if (!s->uids[j]) {
            s->uids[j] = key;
            s->uid_count++;
            return false;
        }
        j = (j + 1) & s->uid_mask;
    }
    s->failed = true;
    return false;
}

static bool doc_grow(struct rb_seen *s)
{
    uint64_t cap = s->doc_mask ? (s->doc_mask + 1) * 2 : 1024;
    char(*nd)[ADJ_ID_BYTES_MAX + 1] = calloc(cap, sizeof *nd);
    uint64_t *nh = calloc(cap, sizeof *nh);
    if (!nd || !nh) {
        free(nd);
        free(nh);
        return false;
    }
    for (uint64_t i = 0; s->docs && i <= s->doc_mask; i++) {
        if (!s->docs[i][0])
            continue;
        uint64_t j = s->doc_hash[i] & (cap - 1);
        while (nd[j][0])
            j = (j + 1) & (cap - 1);
        memcpy(nd[j], s->docs[i], sizeof nd[j]);
        nh[j] = s->doc_hash[i];
    }
    free(s->docs);
    free(s->doc_hash);
    s->docs = nd;
    s->doc_hash = nh;
    s->doc_mask = cap - 1;
    return true;
}

static bool doc_mark(void *ctx, const char *id, uint32_t len)
{
    struct rb_seen *s = ctx;
    if (len == 0 || len > ADJ_ID_BYTES_MAX)
        return false;
    if ((s->doc_count + 1) * 2 > s->doc_mask + 1 && !doc_grow(s)) {
        s->failed = true;
        return false;
    }
    uint64_t h = text_hash64(id, len);
    uint64_t j = h & s->doc_mask;
    for (uint64_t probes = 0; probes <= s->doc_mask; probes++) {
        if (!s->docs[j][0]) {
            memcpy(s->docs[j], id, len);
            s->docs[j][len] = '\0';
            s->doc_hash[j] = h;
            s->doc_count++;
            return false;
        }
        if (s->doc_hash[j] == h && strlen(s->docs[j]) == len && memcmp(s->docs[j], id, len) == 0)
            return true;
        j = (j + 1) & s->doc_mask;
    }
    s->failed = true;
    return false;
}

struct seen_ops rb_seen_ops(struct rb_seen *s)
{
    struct seen_ops ops = {s, doc_mark, uid_mark};
    return ops;
}
