/*
 * Rule tools over a batch: walks the accepted documents of a batch (file or
 * memory) in input order through io/'s reader and parser, and keeps the
 * doc-id and pack-id sets (seen_ops) an adjudication needs, in memory.
 * Used by `dadras rules test`, `dadras rules diff` and `dadras explain`,
 * which evaluate documents one by one through rules_eval_doc, the same
 * evaluator the pipeline calls.
 */
#ifndef ADJ_CORE_RULES_BATCH_H
#define ADJ_CORE_RULES_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base/doc.h"
#include "core/base/err.h"

/* Called per accepted document; return non-zero to stop the walk. */
typedef int (*rb_doc_fn)(void *ctx, const struct doc *doc, const struct doc_line *lines,
                         const uint64_t *uids);

/* Walks the batch at path, or in mem/len when mem is not NULL (name is then
 * used in diagnostics). Intake diagnostics go to diag_out (may be NULL).
 * *rejected counts documents rejected at intake; *verified (may be NULL)
 * whether the batch verified (batch-format.md: its trailer agreed, no
 * batch-level error). Returns ADJ_OK, or the error that stopped reading
 * (open/read failures). */
enum adj_err rb_each_doc(const char *name, const void *mem, size_t len, FILE *diag_out,
                         rb_doc_fn fn, void *ctx, uint64_t *rejected, bool *verified);

/* In-memory history: doc ids seen and pack ids consumed (test and set). */
struct rb_seen {
    uint64_t *uids;       /* open addressing; 0 = empty (key 0 stored apart) */
    uint64_t uid_mask, uid_count;
    bool uid_zero;
    char (*docs)[ADJ_ID_BYTES_MAX + 1];
    uint64_t *doc_hash;
    uint64_t doc_mask, doc_count;
    bool failed;          /* memory ran out: answers are then "not seen" */
};
void rb_seen_init(struct rb_seen *s);
void rb_seen_free(struct rb_seen *s);
struct seen_ops rb_seen_ops(struct rb_seen *s);

#endif
