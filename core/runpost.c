/*
 * Settled history in, verified totals out (see runpost.h).
 */
#include "core/runpost.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/assert.h"
#include "core/base/idset.h"
#include "core/base/text.h"

const char *run_post_outcome_name(enum run_post_outcome outcome)
{
    switch (outcome) {
    case RUN_POST_NONE: return "no ledger";
    case RUN_POST_NOT_POSTED: return "not posted (unverified)";
    case RUN_POST_POSTED: return "posted";
    case RUN_POST_ALREADY: return "already posted";
    case RUN_POST_CONFLICT: return "refused (same batch id, other content)";
    case RUN_POST_FAILED: return "failed";
    }
    return "?";
}

static void run_history_on_docs(void *ctx, const char *ids, size_t bytes, size_t count)
{
    struct run_history *h = ctx;
    if (h->doc_buf_bytes + bytes > h->doc_buf_cap) {
        uint64_t cap = h->doc_buf_cap * 2 > h->doc_buf_bytes + bytes ? h->doc_buf_cap * 2
                                                                     : h->doc_buf_bytes + bytes;
        char *grown = realloc(h->doc_buf, cap);
        ADJ_ASSERT(grown != NULL && "out of memory loading settled doc ids");
        h->doc_buf = grown;
        h->doc_buf_cap = cap;
    }
    memcpy(h->doc_buf + h->doc_buf_bytes, ids, bytes);
    h->doc_buf_bytes += bytes;
    h->doc_buf_count += count;
}

static void *run_history_insert_docs(void *arg)
{
    struct run_history *h = arg;
    h->doc_insert_ok = idset_str_insert_many(&h->docs, h->doc_buf, h->doc_buf_bytes, h->doc_buf_count);
    return NULL;
}

/* Hashes the buffered doc ids: on a thread of its own the first time pack
 * ids arrive (the ledger hands all doc ids first), else inline. */
static void run_history_start_docs(struct run_history *h, bool inline_only)
{
    if (h->doc_thread_started) {
        return;
    }
    h->doc_thread_started = true;
    if (inline_only || pthread_create(&h->doc_thread, NULL, run_history_insert_docs, h) != 0) {
        run_history_insert_docs(h);
        h->doc_thread_started = false; /* nothing to join */
        h->doc_buf_count = 0;
        h->doc_buf_bytes = 0;
    }
}

static void run_history_on_packs(void *ctx, const uint64_t *keys, size_t count)
{
    struct run_history *h = ctx;
    if (h->doc_buf_count > 0) {
        run_history_start_docs(h, false);
    }
    /* ids_uid_pack never yields the set's empty marker; a stored key equal
     * to it can only come from a damaged ledger, and cannot match a pack
     * of any batch, so it is skipped rather than trusted. */
    size_t start = 0;
    for (size_t i = 0; i <= count; i++) {
        if (i == count || keys[i] == IDSET_EMPTY_U64) {
            ADJ_ASSERT(idset_u64_insert_many(&h->packs, keys + start, i - start));
            start = i + 1;
        }
    }
}

/* Loads into history->packs/docs the settled ids of the ledger (known ==
 * NULL) or those of the batches not in `known` (*known_kept false: known
 * no longer fits; nothing loaded). Sizes the sets from the counts given. */
static enum adj_err run_history_fill(struct run_history *h, bool init_sets, uint64_t doc_count,
                                     uint64_t pack_count, const char *known, bool *known_kept,
                                     struct adj_diag *diag)
{
    /* Size the sets once: growing a 45 M key table by doubling would rehash
     * it several times at startup. The slack is small because the sets
     * become the index's tables when it is written. */
    if (init_sets &&
        (!idset_u64_init_dense(&h->packs, pack_count + pack_count / 32 + 4096) ||
         !idset_str_init_dense(&h->docs, doc_count + doc_count / 32 + 4096, doc_count * 16 + 4096))) {
        adj_diag_set(diag, ADJ_E_NOMEM, h->ledger_path, 0, 0, NULL);
        return ADJ_E_NOMEM;
    }
    h->doc_insert_ok = true;
    enum adj_err err = ledger_load_settled_state(h->ledger, h, run_history_on_docs, run_history_on_packs,
                                                 known, known_kept, &h->state, diag);
    if (h->doc_thread_started) {
        pthread_join(h->doc_thread, NULL);
        h->doc_thread_started = false;
    } else if (h->doc_buf_count > 0) {
        run_history_start_docs(h, true);
    }
    ADJ_ASSERT(h->doc_insert_ok && "out of memory loading settled doc ids");
    free(h->doc_buf);
    h->doc_buf = NULL;
    h->doc_buf_bytes = h->doc_buf_cap = h->doc_buf_count = 0;
    return err;
}

static void run_history_drop_sets(struct run_history *h)
{
    idset_u64_free(&h->packs);
    idset_str_free(&h->docs);
    if (h->base != NULL) {
        idset_u64_free(&h->base->packs);
        idset_str_free(&h->base->docs);
        free(h->base);
        h->base = NULL;
    }
    ledger_index_unmap(h->index);
    h->index = NULL;
    free(h->state);
    h->state = NULL;
}

/* Uses the index beside the ledger if it can: true when history's sets
 * are ready (base + what was posted since). */
static bool run_history_from_index(struct run_history *h, struct adj_diag *diag, enum adj_err *err)
{
    *err = ADJ_OK;
    h->base = calloc(1, sizeof *h->base);
    if (h->base == NULL) {
        return false;
    }
    char *known = NULL;
    h->index_status = ledger_index_map(h->ledger_path, &h->index, &h->base->packs, &h->base->docs, &known);
    if (h->index_status != LEDGER_INDEX_OK) {
        run_history_drop_sets(h);
        return false;
    }
    /* The ids posted since: the ledger's totals less the index's (an upper
     * bound: reversed batches count in the totals). */
    uint64_t doc_count = 0, pack_count = 0;
    ledger_settled_counts(h->ledger, &doc_count, &pack_count);
    doc_count = doc_count > h->base->docs.count ? doc_count - h->base->docs.count : 0;
    pack_count = pack_count > h->base->packs.count ? pack_count - h->base->packs.count : 0;
    bool kept = false;
    *err = run_history_fill(h, true, doc_count, pack_count, known, &kept, diag);
    free(known);
    if (*err != ADJ_OK || !kept) {
        if (*err == ADJ_OK) {
            h->index_status = LEDGER_INDEX_STALE;
        }
        run_history_drop_sets(h);
        return false;
    }
    h->packs.also = &h->base->packs;
    h->docs.also = &h->base->docs;
    uint64_t since = h->packs.count + h->docs.count;
    uint64_t in_index = h->base->packs.count + h->base->docs.count;
    h->index_rebuild = since > in_index / RUN_INDEX_REBUILD_SHARE;
    return true;
}

enum adj_err run_history_load(struct run_history *history, const char *path)
{
    memset(history, 0, sizeof *history);
    if (path == NULL) {
        return ADJ_OK;
    }
    struct adj_diag diag;
    memset(&diag, 0, sizeof diag);
    /* Never created here: a mistyped path would give an empty history, and
     * every pack and document settled before would pass K08/K09 again.
     * `dadras ledger init` creates a ledger, once. */
    enum adj_err err = ledger_open(path, false, &history->ledger, &diag);
    if (err == ADJ_OK) {
        /* A damaged ledger is refused before anything is adjudicated
         * against its history (about a second on a year of a province). */
        err = ledger_quick_check(history->ledger, &diag);
    }
    if (err != ADJ_OK) {
        adj_diag_print(stderr, &diag);
        return err;
    }
    history->ledger_path = strdup(path);
    if (history->ledger_path == NULL) {
        return ADJ_E_NOMEM;
    }
    if (!run_history_from_index(history, &diag, &err) && err == ADJ_OK) {
        uint64_t doc_count = 0, pack_count = 0;
        ledger_settled_counts(history->ledger, &doc_count, &pack_count);
        err = run_history_fill(history, true, doc_count, pack_count, NULL, NULL, &diag);
        history->index_rebuild = true;
    }
    if (err != ADJ_OK) {
        adj_diag_print(stderr, &diag);
        return err;
    }
    history->view.packs = &history->packs;
    history->view.docs = &history->docs;
    /* Nothing posted since the index: ask it directly (one probe, and the
     * pipeline prefetches history slots only for a set that counts keys). */
    if (history->base != NULL && history->packs.count == 0) {
        history->view.packs = &history->base->packs;
    }
    if (history->base != NULL && history->docs.count == 0) {
        history->view.docs = &history->base->docs;
    }
    if (getenv("DADRAS_INDEX_TRACE") != NULL) {
        /* For tests and for an operator asking why a startup was slow. */
        fprintf(stderr, "settled-id index: %s, %llu ids loaded from the ledger, rewrite at end: %s\n",
                ledger_index_status_name(history->index_status),
                (unsigned long long)(history->packs.count + history->docs.count),
                history->index_rebuild ? "yes" : "no");
    }
    return ADJ_OK;
}

void run_history_free(struct run_history *history)
{
    if (history->ledger != NULL) {
        ledger_close(history->ledger);
    }
    run_history_drop_sets(history);
    free(history->doc_buf);
    free(history->ledger_path);
    memset(history, 0, sizeof *history);
}

/* The end of a run: writes the index when it is due (runpost.h). */
static void run_history_save_index(struct run_history *h, const enum run_post_outcome *outcomes,
                                   uint32_t count)
{
    bool any_posted = false;
    for (uint32_t i = 0; i < count; i++) {
        any_posted |= outcomes[i] == RUN_POST_POSTED;
    }
    if (h->ledger == NULL || !h->index_rebuild) {
        return;
    }
    struct adj_diag diag;
    memset(&diag, 0, sizeof diag);
    enum adj_err err = ADJ_OK;
    bool kept = false;
    if (any_posted && h->base == NULL) {
        /* The sets hold the startup state, in memory of their own: add the
         * batches posted since (this run's, and any other process's), read
         * in one snapshot with the state they make. */
        char *before = h->state;
        h->state = NULL;
        err = run_history_fill(h, false, 0, 0, before, &kept, &diag);
        free(before);
    }
    if (err == ADJ_OK && (any_posted || h->base != NULL) && !kept) {
        /* The sets are not the whole settled state now (a mapped index and
         * the batches since, or a batch reversed meanwhile): reload it. */
        run_history_drop_sets(h);
        h->view.packs = NULL;
        h->view.docs = NULL;
        uint64_t doc_count = 0, pack_count = 0;
        ledger_settled_counts(h->ledger, &doc_count, &pack_count);
        err = run_history_fill(h, true, doc_count, pack_count, NULL, NULL, &diag);
    }
    if (err == ADJ_OK) {
        err = ledger_index_write(h->ledger_path, h->state, &h->packs, &h->docs, &diag);
    }
    if (err == ADJ_OK && getenv("DADRAS_INDEX_TRACE") != NULL) {
        fprintf(stderr, "settled-id index: written, %llu ids\n",
                (unsigned long long)(h->packs.count + h->docs.count));
    }
    if (err != ADJ_OK) {
        fprintf(stderr, "dadras run: warning: the settled-id index was not written (the next run "
                        "loads the history from the ledger):\n");
        adj_diag_print(stderr, &diag);
    }
}

/* Reads the sector column of centers.tsv for the given center. The file is
 * small (a few thousand rows); read once per batch record. */
_Static_assert(sizeof(((struct ledger_center_total *)0)->center) > ADJ_ID_BYTES_MAX,
               "a center id and its NUL fit the totals record");

static int run_center_cmp(const void *a, const void *b)
{
    const struct ledger_center_total *x = *(const struct ledger_center_total *const *)a;
    const struct ledger_center_total *y = *(const struct ledger_center_total *const *)b;
    return strcmp(x->center, y->center);
}

static void run_center_sector(const char *tables_dir, struct ledger_center_total *centers,
                              uint32_t count)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/centers.tsv", tables_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return;
    }
    /* The batch's centers by id, so each row of centers.tsv is one binary
     * search (a province has thousands of centers and rows). Ids are unique
     * in the batch's list. */
    struct ledger_center_total **by_id = malloc(((size_t)count + 1) * sizeof *by_id);
    if (by_id != NULL) {
        for (uint32_t i = 0; i < count; i++) {
            by_id[i] = &centers[i];
        }
        qsort(by_id, count, sizeof *by_id, run_center_cmp);
    }
    char line[4096];
    bool header = true;
    /* Bounded by the file; lines longer than the buffer are skipped. */
    while (fgets(line, sizeof line, f) != NULL) {
        if (header) {
            header = false;
            continue;
        }
        char *tab = strchr(line, '\t');
        if (tab == NULL) {
            continue;
        }
        size_t id_len = (size_t)(tab - line);
        char *sector = tab + 1;
        size_t sector_len = strcspn(sector, "\t\r\n");
        if (id_len == 0 || id_len > ADJ_ID_BYTES_MAX || sector_len == 0 || sector_len >= 8) {
            continue;
        }
        char key[ADJ_ID_BYTES_MAX + 1];
        text_canonical_key(key, line, id_len);
        key[id_len] = '\0';
        struct ledger_center_total probe;
        memcpy(probe.center, key, id_len + 1);
        struct ledger_center_total *const want = &probe;
        struct ledger_center_total **hit =
            by_id ? bsearch(&want, by_id, count, sizeof *by_id, run_center_cmp) : NULL;
        if (hit != NULL) {
            memcpy((*hit)->sector, sector, sector_len);
            (*hit)->sector[sector_len] = '\0';
        } else if (by_id == NULL) {
            for (uint32_t i = 0; i < count; i++) { /* no memory for the index: scan */
                if (strcmp(centers[i].center, key) == 0) {
                    memcpy(centers[i].sector, sector, sector_len);
                    centers[i].sector[sector_len] = '\0';
                }
            }
        }
    }
    fclose(f);
    free(by_id);
}

enum adj_err run_record_centers(struct run_batch_record *rec, const struct runstats *batch_stats,
                                const char *tables_dir)
{
    struct runstats_center *sorted = NULL;
    uint32_t n = runstats_centers_sorted(batch_stats, &sorted);
    if (n > 0 && sorted == NULL) {
        return ADJ_E_NOMEM;
    }
    rec->centers = calloc(n > 0 ? n : 1, sizeof *rec->centers);
    if (rec->centers == NULL) {
        free(sorted);
        return ADJ_E_NOMEM;
    }
    /* Only centers owed something are posted: a center with nothing
     * approved (every document K16, K01, ...) has no entry to make, and an
     * uncontracted one has no sector to post under. */
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (sorted[i].approved_insurer_rials == 0 && sorted[i].approved_daroyar_rials == 0) {
            continue;
        }
        struct ledger_center_total *c = &rec->centers[kept++];
        snprintf(c->center, sizeof c->center, "%s", sorted[i].center);
        c->approved_insurer_rials = sorted[i].approved_insurer_rials;
        c->approved_daroyar_rials = sorted[i].approved_daroyar_rials;
    }
    n = kept;
    rec->center_count = n;
    free(sorted);
    run_center_sector(tables_dir, rec->centers, n);
    return ADJ_OK;
}

static void run_ledger_batch(struct ledger_batch *lb, const struct run_batch_record *rec,
                             const struct adjud_commit *commit)
{
    memset(lb, 0, sizeof *lb);
    lb->batch_id = rec->batch->batch_id;
    lb->content_hash_hex = rec->batch->content_hash_hex;
    lb->province = rec->batch->province;
    lb->period = rec->batch->period;
    lb->centers = rec->centers;
    lb->center_count = rec->center_count;
    lb->doc_ids = commit->new_docs != NULL ? commit->new_docs + rec->doc_byte_first : "";
    lb->doc_ids_bytes = rec->doc_bytes;
    lb->doc_count = rec->doc_count;
    lb->pack_ids = commit->new_packs != NULL ? commit->new_packs + rec->pack_first : NULL;
    lb->pack_count = rec->pack_count;
}

enum adj_err run_post_all(struct run_history *history, const char *out_dir,
                          const struct adjud_commit *commit, struct run_batch_record *records,
                          uint32_t count, enum run_post_outcome *outcomes)
{
    struct ledger_batch *lbs = calloc(count, sizeof *lbs);
    bool *verified = calloc(count, sizeof *verified);
    if (lbs == NULL || verified == NULL) {
        free(lbs);
        free(verified);
        return ADJ_E_NOMEM;
    }
    for (uint32_t i = 0; i < count; i++) {
        run_ledger_batch(&lbs[i], &records[i], commit);
        verified[i] = records[i].batch->verified;
        outcomes[i] = history->ledger == NULL ? RUN_POST_NONE
                      : verified[i]           ? RUN_POST_FAILED
                                              : RUN_POST_NOT_POSTED;
    }
    struct adj_diag diag;
    memset(&diag, 0, sizeof diag);
    enum adj_err err = ledger_totals_write(out_dir, lbs, verified, count, &diag);
    if (err != ADJ_OK) {
        adj_diag_print(stderr, &diag);
    }
    for (uint32_t i = 0; i < count && history->ledger != NULL && err == ADJ_OK; i++) {
        if (!verified[i]) {
            continue; /* An unverified batch is never posted. */
        }
        char posted_hash[33];
        /* A rerun of a posted file adjudicates every document as K09 (its
         * ids are settled), so its totals differ from the posting; the file
         * is the same, though: "already posted", not a conflict. */
        if (ledger_batch_content_hash(history->ledger, lbs[i].batch_id, posted_hash)) {
            bool same = strcmp(posted_hash, lbs[i].content_hash_hex) == 0;
            outcomes[i] = same ? RUN_POST_ALREADY : RUN_POST_CONFLICT;
            if (!same) {
                fprintf(stderr, "dadras run: batch %s was posted before with other content "
                                "(hash %s, now %s); not posted\n",
                        lbs[i].batch_id, posted_hash, lbs[i].content_hash_hex);
            }
            continue;
        }
        enum ledger_post_outcome outcome = LEDGER_POSTED;
        memset(&diag, 0, sizeof diag);
        enum adj_err post_err = ledger_post_batch(history->ledger, &lbs[i], &outcome, &diag);
        if (post_err == ADJ_OK || outcome == LEDGER_CONFLICT) {
            outcomes[i] = outcome == LEDGER_POSTED          ? RUN_POST_POSTED
                          : outcome == LEDGER_ALREADY_POSTED ? RUN_POST_ALREADY
                                                             : RUN_POST_CONFLICT;
        }
        if (post_err != ADJ_OK) {
            adj_diag_print(stderr, &diag);
            if (outcome != LEDGER_CONFLICT) {
                err = post_err;
            }
        }
    }
    free(lbs);
    free(verified);
    run_history_save_index(history, outcomes, count);
    return err;
}

void run_records_free(struct run_batch_record *records, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        free(records[i].centers);
    }
}
