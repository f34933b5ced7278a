/*
 * The rule engine: loads a rule set (rules/SET/NAME.rules) and its reference
 * tables (TSV), checks both completely (every error of a run at once, GNU
 * form with the source line and a caret), compiles them into immutable
 * lookup structures and a resolved expression tree, and evaluates one
 * document at a time.
 *
 * The language is described in rules/LANGUAGE.md; the SSO reference set in
 * rules/sso/. C knows only generic primitives (typed tables with date
 * ranges, hash lookups, interval search, checked integer arithmetic, named
 * rounding, the pack-id and doc-id sets of seen_ops); every number and every
 * formula of adjudication.md lives in the rule files.
 *
 * Threads: a rules_set is immutable after rules_load and may be shared by
 * any number of threads calling rules_eval_doc at once. Evaluation allocates
 * nothing (its working frame lives on the stack).
 */
#ifndef ADJ_RULES_RULES_H
#define ADJ_RULES_RULES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base/doc.h"
#include "core/base/err.h"

struct rules_set;

/*
 * Loads every *.rules file of rules_dir (in name order) and the TSV tables
 * they declare from tables_dir. Every diagnostic is printed to diag_out (may
 * be NULL) as `file:line:col: error: message: detail [E_NAME]`, then the
 * source line and a caret under the column (code points). Returns ADJ_OK
 * and *out, or the first error's code with *out NULL (nothing half-built
 * escapes).
 */
enum adj_err rules_load(const char *rules_dir, const char *tables_dir, FILE *diag_out,
                        struct rules_set **out);

/* Threads a table load may use (process-wide; default 2): a big table
 * file is read and parsed in two halves on two threads unless this is 1.
 * `dadras run --threads 1` sets 1, so the whole run stays on one thread. */
void rules_set_load_threads(uint32_t threads);

/* Same, from rule text in memory (tests, fuzzing); tables_dir may be NULL
 * when the text declares no table. name is used in diagnostics. */
enum adj_err rules_load_text(const char *name, const char *text, size_t len,
                             const char *tables_dir, FILE *diag_out, struct rules_set **out);

void rules_free(struct rules_set *set);

/* Number of declared reasons; bit i of a reasons mask is reason i, in
 * ascending code order, so printing bits low to high prints sorted codes. */
uint32_t rules_reason_count(const struct rules_set *set);
const char *rules_reason_name(const struct rules_set *set, uint32_t bit);
/* Bit of a reason code, or UINT32_MAX if not declared. */
uint32_t rules_reason_bit(const struct rules_set *set, const char *code);
/* Writes the codes of mask comma-separated (no spaces) into buf; returns
 * the length, truncating safely. */
size_t rules_reasons_format(const struct rules_set *set, uint64_t mask, char *buf, size_t cap);

/* Explain output: when passed to rules_eval_doc, every rule fired, every
 * lookup with the row found, every value set and every reason given is
 * written to out as text. */
struct rules_trace {
    FILE *out;
};

/*
 * Adjudicates one document. lines = the document's doc->line_count lines
 * (the caller passes chunk->lines + doc->line_first); uid indexes in a line
 * index `uids`. seen may be NULL (nothing seen, nothing consumed). Fills
 * doc_out and lines_out[0..line_count). Errors: E_RULE_OVERFLOW,
 * E_RULE_DIV_ZERO, E_RULE_INVARIANT (the rule set broke patient + insurer +
 * daroyar == gross or approved <= claimed); on error the outputs are
 * unspecified and the caller must treat the document as not adjudicated.
 */
enum adj_err rules_eval_doc(const struct rules_set *set, const struct doc *doc,
                            const struct doc_line *lines, const uint64_t *uids,
                            const struct seen_ops *seen, struct doc_decision *doc_out,
                            struct line_decision *lines_out, struct rules_trace *trace_or_null);

/*
 * The same adjudication through the reference evaluator, which walks the
 * rule set's expression tree node by node. rules_eval_doc runs the set
 * compiled to flat register code (rules/vm.c), explain's trace included;
 * the two must agree on every output, every error and every line of the
 * trace, which the differential tests check. For tests and fuzzing.
 */
enum adj_err rules_eval_doc_reference(const struct rules_set *set, const struct doc *doc,
                                      const struct doc_line *lines, const uint64_t *uids,
                                      const struct seen_ops *seen, struct doc_decision *doc_out,
                                      struct line_decision *lines_out,
                                      struct rules_trace *trace_or_null);

/* Whether the set runs compiled (rules/vm.c); false only for a set beyond
 * the compiler's bounds, which then runs on the reference evaluator. */
bool rules_compiled(const struct rules_set *set);

/*
 * Optional: starts the cache misses of the document-level lookups doc will
 * do (the patient in a 3.1 M-row insured table, its center, its prescriber:
 * lookups whose keys are document fields), so they overlap with the work on
 * earlier documents. stage 0 prefetches the index slots; stage 1 reads the
 * slots (prefetched by stage 0 some documents before) and prefetches the
 * rows. A pipeline evaluating document i calls stage 0 for document i + 16
 * and stage 1 for i + 8. Reads only immutable data; changes no result.
 */
void rules_prefetch_doc(const struct rules_set *set, const struct doc *doc, int stage);

/*
 * Optional, as rules_prefetch_doc, for the line-level lookup each line's
 * rules make first by its code (drugs[line.code] for a drug line, ...):
 * reads the index slot and prefetches the row and the key. A pipeline
 * evaluating document i calls it for document i + 4. lines = the
 * document's lines. Reads only immutable data; changes no result.
 */
void rules_prefetch_lines(const struct rules_set *set, const struct doc *doc,
                          const struct doc_line *lines);

#endif
