/*
 * Speculative evaluation in workers and the ordered commit (see adjud.h).
 */
#include "core/adjud.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/assert.h"
#include "core/base/money.h"

/* Widest decision row: 'L', a 32-byte doc id, 11 money/count columns of at
 * most 20 characters, every reason name (16 bytes + comma each), tabs. */
#define ADJUD_ROW_BYTES_MAX (64u + ADJ_ID_BYTES_MAX + 11u * 21u + ADJ_REASONS_MAX * 17u)
/* Documents asking more questions than this are replayed with a scratch
 * set instead of a scan for repeats. */
#define ADJUD_SCAN_QUESTIONS_MAX 64u
/* How many documents ahead the workers prefetch settled-history slots and
 * the lines' code lookups. */
#define ADJUD_PREFETCH_DOCS 4u

uint64_t adjud_doc_text_max(uint32_t line_count)
{
    return (uint64_t)(line_count + 1u) * ADJUD_ROW_BYTES_MAX;
}

bool adjud_chunk_init(struct adjud_chunk *out, uint32_t doc_cap, uint32_t line_cap)
{
    memset(out, 0, sizeof *out);
    out->doc_decisions = calloc(doc_cap, sizeof *out->doc_decisions);
    out->line_decisions = calloc(line_cap, sizeof *out->line_decisions);
    out->docs = calloc(doc_cap, sizeof *out->docs);
    out->question_cap = line_cap + doc_cap;
    out->questions = calloc(out->question_cap, sizeof *out->questions);
    out->text_cap = (uint64_t)line_cap * 128u + 4096u;
    out->text = malloc(out->text_cap);
    out->doc_cap = doc_cap;
    out->line_cap = line_cap;
    if (out->doc_decisions == NULL || out->line_decisions == NULL || out->docs == NULL ||
        out->questions == NULL || out->text == NULL) {
        adjud_chunk_free(out);
        return false;
    }
    return true;
}

void adjud_chunk_free(struct adjud_chunk *chunk)
{
    free(chunk->doc_decisions);
    free(chunk->line_decisions);
    free(chunk->docs);
    free(chunk->questions);
    free(chunk->text);
    memset(chunk, 0, sizeof *chunk);
}

/* ---- formatting ---------------------------------------------------------- */

/* Two decimal digits per table entry: halves the divisions of the integer
 * formatting that every decision row is made of. */
static const char adjud_digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal digits of v >= 1 (1..20): the bit length gives the count to within
 * one (log10(2) ~ 1233 / 4096), a table of powers of ten settles it. */
static uint32_t adjud_digits(uint64_t v)
{
    static const uint64_t pow10[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull,
                                       1000000ull, 10000000ull, 100000000ull, 1000000000ull,
                                       10000000000ull, 100000000000ull, 1000000000000ull,
                                       10000000000000ull, 100000000000000ull, 1000000000000000ull,
                                       10000000000000000ull, 100000000000000000ull,
                                       1000000000000000000ull, 10000000000000000000ull};
    uint32_t t = ((uint32_t)(64 - __builtin_clzll(v | 1)) * 1233u) >> 12;
    return t + 1 - (v < pow10[t]);
}

/* Writes value in decimal at p, two digits per step from the end backwards
 * straight into the output (no scratch copy); returns the end. */
static char *adjud_put_i64(char *p, int64_t value)
{
    uint64_t v = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    if (value < 0) {
        *p++ = '-';
    }
    if (v < 10) { /* also 0, which adjud_digits does not count */
        *p++ = (char)('0' + v);
        return p;
    }
    char *end = p + adjud_digits(v);
    char *q = end;
    while (v >= 100) {
        uint64_t pair = (v % 100) * 2;
        v /= 100;
        q -= 2;
        q[0] = adjud_digit_pairs[pair];
        q[1] = adjud_digit_pairs[pair + 1];
    }
    if (v >= 10) {
        q -= 2;
        q[0] = adjud_digit_pairs[v * 2];
        q[1] = adjud_digit_pairs[v * 2 + 1];
    } else {
        *--q = (char)('0' + v);
    }
    ADJ_ASSERT(q == p);
    return end;
}

static char *adjud_put_tab_i64(char *p, int64_t value)
{
    *p++ = '\t';
    return adjud_put_i64(p, value);
}

static char *adjud_put_reasons(char *p, uint64_t reasons, const char reason_text[][16])
{
    *p++ = '\t';
    bool first = true;
    /* Bits are in ascending code order (rules_reason_name), so this prints
     * the codes sorted, each once. */
    while (reasons != 0) {
        unsigned bit = (unsigned)__builtin_ctzll(reasons);
        reasons &= reasons - 1;
        if (!first) {
            *p++ = ',';
        }
        first = false;
        size_t len = strlen(reason_text[bit]);
        memcpy(p, reason_text[bit], len);
        p += len;
    }
    return p;
}

uint64_t adjud_format_doc(char *buf, const struct doc *doc, const struct doc_decision *decision,
                          const struct line_decision *lines, const struct doc_line *doc_lines,
                          const char reason_text[][16])
{
    char *p = buf;
    *p++ = 'D';
    *p++ = '\t';
    memcpy(p, doc->doc_id_raw, doc->doc_id_len);
    p += doc->doc_id_len;
    *p++ = '\t';
    *p++ = (char)decision->status;
    p = adjud_put_tab_i64(p, decision->claimed_insurer_rials);
    p = adjud_put_tab_i64(p, decision->claimed_daroyar_rials);
    p = adjud_put_tab_i64(p, decision->approved_insurer_rials);
    p = adjud_put_tab_i64(p, decision->approved_daroyar_rials);
    p = adjud_put_tab_i64(p, decision->deduction_rials);
    p = adjud_put_reasons(p, decision->reasons, reason_text);
    *p++ = '\n';
    for (uint32_t i = 0; i < doc->line_count; i++) {
        const struct line_decision *line = &lines[i];
        *p++ = 'L';
        *p++ = '\t';
        memcpy(p, doc->doc_id_raw, doc->doc_id_len);
        p += doc->doc_id_len;
        p = adjud_put_tab_i64(p, doc_lines[i].line_no);
        *p++ = '\t';
        *p++ = (char)line->status;
        p = adjud_put_tab_i64(p, line->qty_a);
        p = adjud_put_tab_i64(p, line->gross_rials);
        p = adjud_put_tab_i64(p, line->patient_rials);
        p = adjud_put_tab_i64(p, line->insurer_rials);
        p = adjud_put_tab_i64(p, line->daroyar_rials);
        p = adjud_put_tab_i64(p, line->approved_insurer_rials);
        p = adjud_put_tab_i64(p, line->approved_daroyar_rials);
        p = adjud_put_tab_i64(p, line->deduction_rials);
        p = adjud_put_reasons(p, line->reasons, reason_text);
        *p++ = '\n';
    }
    uint64_t bytes = (uint64_t)(p - buf);
    ADJ_ASSERT(bytes <= adjud_doc_text_max(doc->line_count));
    return bytes;
}

/* ---- invariants ---------------------------------------------------------- */

void adjud_assert_doc(const struct doc *doc, const struct doc_line *lines,
                      const struct doc_decision *decision, const struct line_decision *decisions)
{
    int64_t claimed_insurer = 0, claimed_daroyar = 0, approved_insurer = 0;
    int64_t approved_daroyar = 0, deduction = 0;
    for (uint32_t i = 0; i < doc->line_count; i++) {
        const struct line_decision *d = &decisions[i];
        const struct doc_line *l = &lines[i];
        int64_t shares;
        /* (1) patient + insurer + daroyar = gross */
        ADJ_ASSERT(money_add(d->patient_rials, d->insurer_rials, &shares));
        ADJ_ASSERT(money_add(shares, d->daroyar_rials, &shares));
        ADJ_ASSERT(shares == d->gross_rials);
        /* (2) approved <= claimed, and never negative */
        ADJ_ASSERT(d->approved_insurer_rials >= 0);
        ADJ_ASSERT(d->approved_daroyar_rials >= 0);
        ADJ_ASSERT(d->approved_insurer_rials <= l->claimed_insurer_rials);
        ADJ_ASSERT(d->approved_daroyar_rials <= l->claimed_daroyar_rials);
        /* (3) deduction = claimed - approved */
        int64_t claimed, approved;
        ADJ_ASSERT(money_add(l->claimed_insurer_rials, l->claimed_daroyar_rials, &claimed));
        ADJ_ASSERT(money_add(d->approved_insurer_rials, d->approved_daroyar_rials, &approved));
        ADJ_ASSERT(d->deduction_rials == claimed - approved);
        ADJ_ASSERT(money_add(claimed_insurer, l->claimed_insurer_rials, &claimed_insurer));
        ADJ_ASSERT(money_add(claimed_daroyar, l->claimed_daroyar_rials, &claimed_daroyar));
        ADJ_ASSERT(money_add(approved_insurer, d->approved_insurer_rials, &approved_insurer));
        ADJ_ASSERT(money_add(approved_daroyar, d->approved_daroyar_rials, &approved_daroyar));
        ADJ_ASSERT(money_add(deduction, d->deduction_rials, &deduction));
    }
    /* (4) the document's columns are the sums of its lines */
    ADJ_ASSERT(decision->claimed_insurer_rials == claimed_insurer);
    ADJ_ASSERT(decision->claimed_daroyar_rials == claimed_daroyar);
    ADJ_ASSERT(decision->approved_insurer_rials == approved_insurer);
    ADJ_ASSERT(decision->approved_daroyar_rials == approved_daroyar);
    ADJ_ASSERT(decision->deduction_rials == deduction);
}

/* The document's gross and shares (its part of the T row). False when a
 * sum passes int64 (1,100 lines priced at 9e15 rials by a table): the rule
 * set's arithmetic checked each line, not their sum, so the document is
 * then rejected as an overflow (E_RULE_OVERFLOW), like any other. */
static bool adjud_sum_doc(struct adjud_doc *meta, const struct doc *doc,
                          const struct line_decision *decisions)
{
    meta->gross_rials = 0;
    meta->patient_rials = 0;
    meta->insurer_rials = 0;
    meta->daroyar_rials = 0;
    bool ok = true;
    for (uint32_t i = 0; i < doc->line_count && ok; i++) {
        ok = money_add(meta->gross_rials, decisions[i].gross_rials, &meta->gross_rials) &&
             money_add(meta->patient_rials, decisions[i].patient_rials, &meta->patient_rials) &&
             money_add(meta->insurer_rials, decisions[i].insurer_rials, &meta->insurer_rials) &&
             money_add(meta->daroyar_rials, decisions[i].daroyar_rials, &meta->daroyar_rials);
    }
    return ok;
}

/* ---- speculative evaluation (workers) ------------------------------------ */

static bool adjud_log(struct adjud_worker *worker, uint64_t key, bool is_doc, bool answer)
{
    struct adjud_chunk *out = worker->current;
    if (out->question_count == out->question_cap) {
        uint32_t cap = out->question_cap * 2 + 64;
        struct adjud_question *q = realloc(out->questions, cap * sizeof *q);
        if (q == NULL) {
            worker->out_of_memory = true;
            return false;
        }
        out->questions = q;
        out->question_cap = cap;
    }
    out->questions[out->question_count++] =
        (struct adjud_question){.key = key, .is_doc = is_doc, .answer = answer};
    return true;
}

static bool adjud_spec_doc_seen(void *ctx, const char *doc_id, uint32_t len)
{
    struct adjud_worker *worker = ctx;
    bool answer = worker->history.docs != NULL && idset_str_contains(worker->history.docs, doc_id, len);
    if (!answer) {
        if (!idset_str_insert(&worker->local_docs, doc_id, len, &answer)) {
            worker->out_of_memory = true;
        }
    }
    adjud_log(worker, 0, true, answer);
    return answer;
}

static bool adjud_spec_uid_consumed(void *ctx, uint64_t key)
{
    struct adjud_worker *worker = ctx;
    bool answer = worker->history.packs != NULL && idset_u64_contains(worker->history.packs, key);
    if (!answer) {
        if (!idset_u64_insert(&worker->local_packs, key, &answer)) {
            worker->out_of_memory = true;
        }
    }
    adjud_log(worker, key, false, answer);
    return answer;
}

bool adjud_worker_init(struct adjud_worker *worker, const struct rules_set *rules,
                       struct adjud_history history)
{
    memset(worker, 0, sizeof *worker);
    worker->rules = rules;
    worker->history = history;
    if (!idset_u64_init(&worker->local_packs, 1u << 16)) {
        return false;
    }
    if (!idset_str_init(&worker->local_docs, 1u << 14, 1u << 18)) {
        idset_u64_free(&worker->local_packs);
        return false;
    }
    return true;
}

void adjud_worker_free(struct adjud_worker *worker)
{
    idset_u64_free(&worker->local_packs);
    idset_str_free(&worker->local_docs);
}

static bool adjud_text_reserve(char **text, uint64_t *cap, uint64_t need)
{
    if (need <= *cap) {
        return true;
    }
    uint64_t new_cap = *cap * 2 > need ? *cap * 2 : need;
    char *grown = realloc(*text, new_cap);
    if (grown == NULL) {
        return false;
    }
    *text = grown;
    *cap = new_cap;
    return true;
}

/* Prefetches the settled-history slots of a document's pack ids (the one
 * large table the speculation probes) a few documents before evaluating it. */
static void adjud_prefetch_history(const struct adjud_worker *worker, const struct doc_chunk *chunk,
                                   const struct doc *doc)
{
    if (worker->history.packs == NULL || worker->history.packs->count == 0) {
        return;
    }
    uint32_t budget = 16;
    for (uint32_t l = 0; l < doc->line_count && budget > 0; l++) {
        const struct doc_line *line = &chunk->lines[doc->line_first + l];
        for (uint32_t u = 0; u < line->uid_count && budget > 0; u++, budget--) {
            uint64_t key = chunk->uids[line->uid_first + u];
            if (key != IDSET_EMPTY_U64) {
                idset_u64_prefetch(worker->history.packs, key);
            }
        }
    }
}

enum adj_err adjud_evaluate(struct adjud_worker *worker, const struct doc_chunk *chunk,
                            struct adjud_chunk *out, const char reason_text[][16])
{
    ADJ_ASSERT(chunk->doc_count <= out->doc_cap);
    ADJ_ASSERT(chunk->line_count <= out->line_cap);
    idset_u64_clear(&worker->local_packs);
    idset_str_clear(&worker->local_docs);
    worker->current = out;
    worker->out_of_memory = false;
    out->question_count = 0;
    out->text_bytes = 0;
    out->redone_count = 0;
    struct seen_ops ops = {
        .ctx = worker,
        .doc_seen_mark = adjud_spec_doc_seen,
        .uid_consumed_mark = adjud_spec_uid_consumed,
    };
    /* Start the cache misses of later documents' lookups early: index
     * slots 16 documents ahead, rows 8 ahead (rules_prefetch_doc), the
     * settled-history slots of their pack ids and the lines' code lookups
     * (drugs[line.code], ...: rules_prefetch_lines) 4 ahead. */
    for (uint32_t i = 0; i < chunk->doc_count && i < 16; i++) {
        rules_prefetch_doc(worker->rules, &chunk->docs[i], 0);
    }
    for (uint32_t i = 0; i < chunk->doc_count && i < 8; i++) {
        rules_prefetch_doc(worker->rules, &chunk->docs[i], 1);
    }
    for (uint32_t i = 0; i < chunk->doc_count; i++) {
        if (i + 16 < chunk->doc_count) {
            rules_prefetch_doc(worker->rules, &chunk->docs[i + 16], 0);
        }
        if (i + 8 < chunk->doc_count) {
            rules_prefetch_doc(worker->rules, &chunk->docs[i + 8], 1);
        }
        if (i + ADJUD_PREFETCH_DOCS < chunk->doc_count) {
            adjud_prefetch_history(worker, chunk, &chunk->docs[i + ADJUD_PREFETCH_DOCS]);
        }
        if (i + ADJUD_PREFETCH_DOCS < chunk->doc_count) {
            const struct doc *ahead = &chunk->docs[i + ADJUD_PREFETCH_DOCS];
            rules_prefetch_lines(worker->rules, ahead, &chunk->lines[ahead->line_first]);
        }
        const struct doc *doc = &chunk->docs[i];
        const struct doc_line *lines = &chunk->lines[doc->line_first];
        struct line_decision *decisions = &out->line_decisions[doc->line_first];
        struct adjud_doc *meta = &out->docs[i];
        meta->question_first = out->question_count;
        enum adj_err err = rules_eval_doc(worker->rules, doc, lines, chunk->uids, &ops,
                                          &out->doc_decisions[i], decisions, NULL);
        if (err == ADJ_E_NOMEM || worker->out_of_memory) {
            return ADJ_E_NOMEM;
        }
        meta->failed = err != ADJ_OK || !adjud_sum_doc(meta, doc, decisions);
        if (meta->failed) {
            /* The rule set failed on this document (an overflow, ...): no
             * rows; the commit evaluates it again against the true state
             * and rejects it if it fails there too. The marks it made in
             * the local sets only make later speculation disagree, which
             * the commit catches like any other. */
            meta->question_count = 0;
            meta->gross_rials = meta->patient_rials = meta->insurer_rials = meta->daroyar_rials = 0;
            meta->text_offset = out->text_bytes;
            meta->text_bytes = 0;
            continue;
        }
        meta->question_count = out->question_count - meta->question_first;
        adjud_assert_doc(doc, lines, &out->doc_decisions[i], decisions);
        if (!adjud_text_reserve(&out->text, &out->text_cap,
                                out->text_bytes + adjud_doc_text_max(doc->line_count))) {
            return ADJ_E_NOMEM;
        }
        meta->text_offset = out->text_bytes;
        meta->text_bytes = adjud_format_doc(out->text + out->text_bytes, doc, &out->doc_decisions[i],
                                            decisions, lines, reason_text);
        out->text_bytes += meta->text_bytes;
    }
    worker->current = NULL;
    return ADJ_OK;
}

/* ---- ordered commit ------------------------------------------------------ */

bool adjud_commit_init(struct adjud_commit *commit, const struct rules_set *rules,
                       struct adjud_history history)
{
    memset(commit, 0, sizeof *commit);
    commit->rules = rules;
    commit->history = history;
    commit->reason_count = rules_reason_count(rules);
    ADJ_ASSERT(commit->reason_count <= ADJ_REASONS_MAX);
    for (uint32_t bit = 0; bit < commit->reason_count; bit++) {
        const char *name = rules_reason_name(rules, bit);
        ADJ_ASSERT(strlen(name) < sizeof commit->reason_text[bit]);
        strcpy(commit->reason_text[bit], name);
    }
    if (!idset_u64_init(&commit->run_packs, 1u << 20)) {
        return false;
    }
    if (!idset_str_init(&commit->run_docs, 1u << 18, 1u << 22)) {
        idset_u64_free(&commit->run_packs);
        return false;
    }
    if (!idset_u64_init(&commit->scratch, 1u << 12)) {
        idset_u64_free(&commit->run_packs);
        idset_str_free(&commit->run_docs);
        return false;
    }
    return true;
}

void adjud_commit_free(struct adjud_commit *commit)
{
    idset_u64_free(&commit->run_packs);
    idset_str_free(&commit->run_docs);
    idset_u64_free(&commit->scratch);
    free(commit->pending_packs);
    free(commit->new_packs);
    free(commit->new_docs);
}

static bool adjud_note_pack(struct adjud_commit *commit, uint64_t key)
{
    if (commit->new_pack_count == commit->new_pack_cap) {
        uint64_t cap = commit->new_pack_cap * 2 + 4096;
        uint64_t *grown = realloc(commit->new_packs, cap * sizeof *grown);
        if (grown == NULL) {
            return false;
        }
        commit->new_packs = grown;
        commit->new_pack_cap = cap;
    }
    commit->new_packs[commit->new_pack_count++] = key;
    return true;
}

static bool adjud_note_doc(struct adjud_commit *commit, const char *doc_id, uint32_t len)
{
    if (commit->new_doc_bytes + len + 1 > commit->new_doc_cap) {
        uint64_t cap = commit->new_doc_cap * 2 + len + 65536;
        char *grown = realloc(commit->new_docs, cap);
        if (grown == NULL) {
            return false;
        }
        commit->new_docs = grown;
        commit->new_doc_cap = cap;
    }
    memcpy(commit->new_docs + commit->new_doc_bytes, doc_id, len);
    commit->new_docs[commit->new_doc_bytes + len] = '\0';
    commit->new_doc_bytes += len + 1;
    commit->new_doc_count++;
    return true;
}

/* Seen in settled history or committed earlier in this run. */
static bool adjud_doc_known(const struct adjud_commit *commit, const char *doc_id, uint32_t len)
{
    return (commit->history.docs != NULL && idset_str_contains(commit->history.docs, doc_id, len)) ||
           idset_str_contains(&commit->run_docs, doc_id, len);
}

/* Consumed in settled history or committed earlier in this run. */
static bool adjud_pack_known(const struct adjud_commit *commit, uint64_t key)
{
    return (commit->history.packs != NULL && idset_u64_contains(commit->history.packs, key)) ||
           idset_u64_contains(&commit->run_packs, key);
}

/* The seen_ops of a document redone at commit: answers from the true
 * state (settled + committed before it) and from the marks this document
 * made so far, which are only recorded (pending_*): adjud_apply_pending
 * makes them once the document is adjudicated, and a document the rule
 * set fails on leaves no mark, as if never read. Same answers, same order
 * of marks, as marking on the spot. */
static bool adjud_redo_doc_seen(void *ctx, const char *doc_id, uint32_t len)
{
    struct adjud_commit *commit = ctx;
    if (adjud_doc_known(commit, doc_id, len) || commit->pending_doc) {
        return true;
    }
    commit->pending_doc = true;
    return false;
}

static bool adjud_redo_uid_consumed(void *ctx, uint64_t key)
{
    struct adjud_commit *commit = ctx;
    if (adjud_pack_known(commit, key)) {
        return true;
    }
    bool was = false;
    if (!idset_u64_insert(&commit->scratch, key, &was)) {
        commit->out_of_memory = true;
        return false;
    }
    if (!was) {
        if (commit->pending_count == commit->pending_cap) {
            uint32_t cap = commit->pending_cap * 2 + 256;
            uint64_t *grown = realloc(commit->pending_packs, cap * sizeof *grown);
            if (grown == NULL) {
                commit->out_of_memory = true;
                return false;
            }
            commit->pending_packs = grown;
            commit->pending_cap = cap;
        }
        commit->pending_packs[commit->pending_count++] = key;
    }
    return was;
}

/* Makes the marks a redone, adjudicated document recorded. */
static bool adjud_apply_pending(struct adjud_commit *commit, const struct doc *doc)
{
    bool was = false;
    if (commit->pending_doc) {
        if (!idset_str_insert(&commit->run_docs, doc->doc_id, doc->doc_id_len, &was) ||
            !adjud_note_doc(commit, doc->doc_id, doc->doc_id_len)) {
            return false;
        }
        ADJ_ASSERT(!was);
    }
    for (uint32_t i = 0; i < commit->pending_count; i++) {
        if (!idset_u64_insert(&commit->run_packs, commit->pending_packs[i], &was) ||
            !adjud_note_pack(commit, commit->pending_packs[i])) {
            return false;
        }
        ADJ_ASSERT(!was);
    }
    return true;
}

/* Whether question i repeats an earlier question of the same document, by
 * scanning. Only reached for a "yes" that nothing committed explains, which
 * is rare; long documents use a scratch set instead (adjud_commit_doc). */
static bool adjud_asked_before(const struct adjud_question *questions, uint32_t i)
{
    const struct adjud_question *q = &questions[i];
    for (uint32_t k = 0; k < i; k++) {
        if (questions[k].is_doc == q->is_doc && (q->is_doc || questions[k].key == q->key)) {
            return true;
        }
    }
    return false;
}

void adjud_commit_prefetch(const struct adjud_commit *commit, const struct adjud_chunk *spec,
                           uint32_t doc_index)
{
    const struct adjud_doc *meta = &spec->docs[doc_index];
    const struct adjud_question *q = &spec->questions[meta->question_first];
    /* A handful is enough to overlap the misses; long documents are rare. */
    uint32_t count = meta->question_count < 16 ? meta->question_count : 16;
    for (uint32_t i = 0; i < count; i++) {
        if (q[i].is_doc) {
            continue;
        }
        idset_u64_prefetch(&commit->run_packs, q[i].key);
        if (commit->history.packs != NULL) {
            idset_u64_prefetch(commit->history.packs, q[i].key);
        }
    }
}

enum adj_err adjud_commit_doc(struct adjud_commit *commit, const struct doc_chunk *chunk,
                              struct adjud_chunk *spec, uint32_t doc_index, bool *redone,
                              enum adj_err *doc_err)
{
    const struct doc *doc = &chunk->docs[doc_index];
    struct adjud_doc *meta = &spec->docs[doc_index];
    const struct adjud_question *questions = &spec->questions[meta->question_first];
    *doc_err = ADJ_OK;
    /* A failed speculation is always redone: whether it fails may depend
     * on the answers (a reused pack changes the quantity). */
    bool agrees = !meta->failed;
    /* Long documents track the keys asked so far in a scratch set, so the
     * replay stays linear even for a 10,000-line document. */
    bool long_doc = meta->question_count > ADJUD_SCAN_QUESTIONS_MAX;
    bool doc_asked = false;
    if (long_doc) {
        idset_u64_clear(&commit->scratch);
    }
    for (uint32_t i = 0; i < meta->question_count && agrees; i++) {
        const struct adjud_question *q = &questions[i];
        bool committed = q->is_doc ? adjud_doc_known(commit, doc->doc_id, doc->doc_id_len)
                                   : adjud_pack_known(commit, q->key);
        bool asked_before = false;
        if (long_doc) {
            if (q->is_doc) {
                asked_before = doc_asked;
                doc_asked = true;
            } else if (!idset_u64_insert(&commit->scratch, q->key, &asked_before)) {
                return ADJ_E_NOMEM;
            }
        } else if (!committed && q->answer != 0) {
            asked_before = adjud_asked_before(questions, i);
        }
        if (committed) {
            /* Marked before this document: the true answer is "yes". */
            agrees = q->answer != 0;
        } else if (q->answer != 0) {
            /* The worker said "yes" to a key nobody committed: right only
             * if this document asked it before (a repeat inside the doc);
             * otherwise the worker saw a mark of a document that the
             * commit redid differently. */
            agrees = asked_before;
        }
    }
    *redone = !agrees;
    if (agrees) {
        for (uint32_t i = 0; i < meta->question_count; i++) {
            const struct adjud_question *q = &questions[i];
            if (q->answer != 0) {
                continue; /* Seen or consumed before: nothing new to mark. */
            }
            bool was = false;
            bool ok = q->is_doc ? idset_str_insert(&commit->run_docs, doc->doc_id, doc->doc_id_len, &was)
                                : idset_u64_insert(&commit->run_packs, q->key, &was);
            if (!ok) {
                return ADJ_E_NOMEM;
            }
            ADJ_ASSERT(!was);
            ok = q->is_doc ? adjud_note_doc(commit, doc->doc_id, doc->doc_id_len)
                           : adjud_note_pack(commit, q->key);
            if (!ok) {
                return ADJ_E_NOMEM;
            }
        }
        return ADJ_OK;
    }
    struct seen_ops ops = {
        .ctx = commit,
        .doc_seen_mark = adjud_redo_doc_seen,
        .uid_consumed_mark = adjud_redo_uid_consumed,
    };
    const struct doc_line *lines = &chunk->lines[doc->line_first];
    struct line_decision *decisions = &spec->line_decisions[doc->line_first];
    commit->out_of_memory = false;
    commit->pending_doc = false;
    commit->pending_count = 0;
    idset_u64_clear(&commit->scratch);
    enum adj_err err = rules_eval_doc(commit->rules, doc, lines, chunk->uids, &ops,
                                      &spec->doc_decisions[doc_index], decisions, NULL);
    if (err == ADJ_E_NOMEM || commit->out_of_memory) {
        return ADJ_E_NOMEM;
    }
    if (err == ADJ_OK && !adjud_sum_doc(meta, doc, decisions)) {
        err = ADJ_E_RULE_OVERFLOW;
    }
    if (err != ADJ_OK) {
        *doc_err = err; /* Nothing marked: the caller rejects it. */
        meta->failed = true;
        return ADJ_OK;
    }
    if (!adjud_apply_pending(commit, doc)) {
        return ADJ_E_NOMEM;
    }
    meta->failed = false;
    adjud_assert_doc(doc, lines, &spec->doc_decisions[doc_index], decisions);
    spec->redone_count++;
    return ADJ_OK;
}
