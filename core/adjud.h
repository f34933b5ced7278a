/*
 * Adjudication of chunks, split for the parallel pipeline into a
 * speculative part that any worker runs and an ordered commit that one
 * thread runs in input order.
 *
 * Why speculation: whether a pack id is "reused" (K08) or a doc id a
 * duplicate (K09) depends on every earlier document of the batch, but
 * earlier chunks may still be in another worker. A worker therefore
 * evaluates its chunk against settled history plus the chunk's own earlier
 * documents, and logs every question the evaluator asked (doc seen? uid
 * consumed?) with the answer it got. The ordered commit replays each
 * document's questions against the true state (settled + everything
 * committed before it). If every answer agrees, the speculative decision is
 * exactly what a sequential run computes, because evaluation is a pure
 * function of the document, the rules and those answers; the commit then
 * marks the ids. If one answer differs (a duplicate across chunks, or a
 * knock-on of such a document), the commit rolls back that document's
 * marks and evaluates it again against the true state. The result is
 * byte-identical for any thread count, and no lock is taken.
 *
 * Invariants (asserted on every line, release builds too):
 *  (1) patient + insurer + daroyar = gross.
 *  (2) approved_insurer <= claimed_insurer, approved_daroyar <= claimed_daroyar.
 *  (3) deduction = claimed - approved, per line and per document.
 *  (4) A document's money columns are the sums of its lines.
 */
#ifndef ADJ_CORE_ADJUD_H
#define ADJ_CORE_ADJUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/assert.h"
#include "core/base/doc.h"
#include "core/base/err.h"
#include "core/base/idset.h"
#include "rules/rules.h"

/* One question the evaluator asked through seen_ops, and its answer. */
struct adjud_question {
    uint64_t key;     /* Packed uid; for a doc question, unused. */
    uint8_t is_doc;   /* 1: doc_seen_mark; 0: uid_consumed_mark. */
    uint8_t answer;   /* What the speculative state said. */
};

/* Per-document results of a chunk. */
struct adjud_doc {
    uint32_t question_first; /* Into adjud_chunk.questions. */
    uint32_t question_count;
    uint64_t text_offset;    /* Decision rows of this doc in adjud_chunk.text. */
    uint64_t text_bytes;
    int64_t gross_rials;     /* Sums over the doc's lines (T row). */
    int64_t patient_rials;
    int64_t insurer_rials;
    int64_t daroyar_rials;
    bool failed;             /* The rule set failed on it (overflow, ...):
                              * no decision; the commit decides (redoes it). */
};

/* Decisions and bookkeeping for one doc_chunk; allocated once, reused. */
struct adjud_chunk {
    struct doc_decision *doc_decisions;   /* [chunk.doc_cap] */
    struct line_decision *line_decisions; /* [chunk.line_cap] */
    struct adjud_doc *docs;               /* [chunk.doc_cap] */
    struct adjud_question *questions;
    uint32_t question_count;
    uint32_t question_cap;
    uint32_t doc_cap;
    uint32_t line_cap;
    char *text;                           /* Decision rows, formatted. */
    uint64_t text_bytes;
    uint64_t text_cap;
    uint32_t redone_count;                /* Docs re-evaluated at commit. */
};

/* Read-only view of what was settled before this run. */
struct adjud_history {
    const struct idset_u64 *packs; /* May be NULL: nothing settled. */
    const struct idset_str *docs;  /* May be NULL. */
};

/* Worker-private scratch: the chunk-local speculative state. */
struct adjud_worker {
    const struct rules_set *rules;
    struct adjud_history history;
    struct idset_u64 local_packs;
    struct idset_str local_docs;
    struct adjud_chunk *current; /* Chunk being evaluated (question log). */
    bool out_of_memory;
};

/* The committed state, owned by the ordered stage. */
struct adjud_commit {
    const struct rules_set *rules;
    struct adjud_history history;
    struct idset_u64 run_packs; /* Consumed by committed docs of this run. */
    struct idset_str run_docs;  /* Seen docs of this run. */
    struct idset_u64 scratch;   /* Keys asked so far by one long document;
                                 * a redone document's own consumed packs. */
    /* Marks a redone document makes, applied only once it is adjudicated
     * (a document the rule set fails on marks nothing). */
    uint64_t *pending_packs;
    uint32_t pending_count;
    uint32_t pending_cap;
    bool pending_doc;
    /* What this run newly settles, in commit order, for the ledger: pack
     * ids consumed and doc ids seen (NUL-separated canonical keys). Each
     * batch's slice is recorded by the caller (core/runpost.h). */
    uint64_t *new_packs;
    uint64_t new_pack_count;
    uint64_t new_pack_cap;
    char *new_docs;
    uint64_t new_doc_bytes;
    uint64_t new_doc_cap;
    uint64_t new_doc_count;
    char reason_text[ADJ_REASONS_MAX][16]; /* Reason names by bit. */
    uint32_t reason_count;
    bool out_of_memory;
};

ADJ_MUST_USE bool adjud_chunk_init(struct adjud_chunk *out, uint32_t doc_cap, uint32_t line_cap);
void adjud_chunk_free(struct adjud_chunk *chunk);

ADJ_MUST_USE bool adjud_worker_init(struct adjud_worker *worker, const struct rules_set *rules,
                                    struct adjud_history history);
void adjud_worker_free(struct adjud_worker *worker);

/* Speculatively evaluates every document of chunk into out, and formats
 * the decision rows. A document the rule set fails on (an overflow, ...)
 * gets no rows and is marked failed for the commit to decide. Returns
 * ADJ_OK, or E_NOMEM. */
ADJ_MUST_USE enum adj_err adjud_evaluate(struct adjud_worker *worker, const struct doc_chunk *chunk,
                                         struct adjud_chunk *out,
                                         const char reason_text[][16]);

ADJ_MUST_USE bool adjud_commit_init(struct adjud_commit *commit, const struct rules_set *rules,
                                    struct adjud_history history);
void adjud_commit_free(struct adjud_commit *commit);

/* Commits document doc_index of chunk in order: validates its speculative
 * answers, re-evaluates it if any differs or the speculation failed (then
 * *redone = true and the caller formats its rows again). If the rule set
 * fails on it against the true state, *doc_err says why (E_RULE_OVERFLOW,
 * ...), nothing is marked, and the caller rejects it (batch_reject_late);
 * else *doc_err = ADJ_OK. Returns ADJ_OK, or E_NOMEM. */
ADJ_MUST_USE enum adj_err adjud_commit_doc(struct adjud_commit *commit, const struct doc_chunk *chunk,
                                           struct adjud_chunk *spec, uint32_t doc_index,
                                           bool *redone, enum adj_err *doc_err);

/* Prefetches the set slots that committing document doc_index will probe,
 * so the ordered stage can overlap a few documents' cache misses. */
void adjud_commit_prefetch(const struct adjud_commit *commit, const struct adjud_chunk *spec,
                           uint32_t doc_index);

/* Formats the rows of one document (D then its L rows) at buf; returns the
 * bytes written. buf must hold adjud_doc_text_max(line_count) bytes. */
uint64_t adjud_format_doc(char *buf, const struct doc *doc, const struct doc_decision *decision,
                          const struct line_decision *lines, const struct doc_line *doc_lines,
                          const char reason_text[][16]);
uint64_t adjud_doc_text_max(uint32_t line_count);

/* Checks the invariants above for one document's decisions (ADJ_ASSERT). */
void adjud_assert_doc(const struct doc *doc, const struct doc_line *lines,
                      const struct doc_decision *decision, const struct line_decision *decisions);

#endif
