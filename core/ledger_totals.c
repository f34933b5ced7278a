/*
 * The run's totals files (format in core/ledger.h): the writer the pipeline
 * calls at the end of `dadras run --out DIR`, and the reader behind
 * `dadras ledger post DIR`. The totals file ends with an `end` line and
 * every batch row carries its counts, so a truncated or mixed-up output
 * directory is refused instead of half-posted. The writer makes each file
 * under a temporary name, fsyncs and renames it, totals.tsv last, so
 * totals.tsv exists only when the other two are complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/limits.h"
#include "core/base/text.h"
#include "core/ledger.h"
#include "core/ledger_impl.h"

/* Bounds of what the reader accepts: the totals file holds a few thousand
 * centers per batch; the id files of a province-month are ~30 MB. */
#define LG_TOTALS_BYTES_MAX (256u << 20)
#define LG_IDS_BYTES_MAX (8ull << 30)
#define LG_TOTALS_FIELDS_MAX 12u

static enum adj_err lg_write_file(const char *dir, const char *name, const void *data,
                                  size_t total, struct adj_diag *diag)
{
    char path[1024], tmp[1040];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        adj_diag_set(diag, ADJ_E_OPEN, NULL, 0, 0, "%s: %s", tmp, strerror(errno));
        return ADJ_E_OPEN;
    }
    const char *src = data;
    size_t done = 0;
    while (done < total) {
        ssize_t w = write(fd, src + done, total - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            adj_diag_set(diag, ADJ_E_WRITE, NULL, 0, 0, "%s: %s", tmp, strerror(e));
            return ADJ_E_WRITE;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        adj_diag_set(diag, ADJ_E_WRITE, NULL, 0, 0, "%s: %s", path, strerror(e));
        return ADJ_E_WRITE;
    }
    return ADJ_OK;
}

enum adj_err ledger_totals_write(const char *outdir, const struct ledger_batch *batches,
                                 const bool *verified, size_t count, struct adj_diag *diag)
{
    char *tsv = NULL, *docs = NULL;
    size_t tsv_len = 0, docs_len = 0, packs = 0;
    FILE *t = open_memstream(&tsv, &tsv_len);
    enum adj_err err = ADJ_OK;
    if (t == NULL) {
        err = ADJ_E_NOMEM;
        goto out;
    }
    fprintf(t, "# dadras totals v1: batch batch_id content_hash province period verified"
               " center_count doc_count pack_count / center id sector approved_insurer"
               " approved_daroyar / end batch_count\n");
    for (size_t i = 0; i < count; i++) {
        const struct ledger_batch *b = &batches[i];
        fprintf(t, "batch\t%s\t%s\t%s\t%s\t%d\t%zu\t%zu\t%zu\n", b->batch_id,
                b->content_hash_hex, b->province, b->period, verified[i] ? 1 : 0,
                b->center_count, b->doc_count, b->pack_count);
        for (size_t c = 0; c < b->center_count; c++) {
            const struct ledger_center_total *ct = &b->centers[c];
            fprintf(t, "center\t%s\t%s\t%lld\t%lld\n", ct->center, ct->sector,
                    (long long)ct->approved_insurer_rials, (long long)ct->approved_daroyar_rials);
        }
        docs_len += b->doc_ids_bytes;
        packs += b->pack_count;
    }
    fprintf(t, "end\t%zu\n", count);
    if (fflush(t) != 0) {
        err = ADJ_E_NOMEM;
        goto out;
    }
    /* The doc ids: NUL-separated in memory, one per line on disk. */
    docs = malloc(docs_len + 1);
    if (docs == NULL) {
        err = ADJ_E_NOMEM;
        goto out;
    }
    for (size_t i = 0, at = 0; i < count; i++) {
        memcpy(docs + at, batches[i].doc_ids, batches[i].doc_ids_bytes);
        at += batches[i].doc_ids_bytes;
    }
    for (size_t k = 0; k < docs_len; k++) {
        docs[k] = docs[k] == '\0' ? '\n' : docs[k];
    }
    /* The pack keys, little-endian: one batch's array is written as it is. */
    const uint64_t *keys_out = count == 1 ? batches[0].pack_ids : NULL;
    uint64_t *keys = NULL;
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    keys_out = NULL;
#endif
    if (keys_out == NULL) {
        keys = malloc((packs + 1) * sizeof *keys);
        if (keys == NULL) {
            err = ADJ_E_NOMEM;
            goto out;
        }
        size_t at = 0;
        for (size_t i = 0; i < count; i++) {
            for (size_t k = 0; k < batches[i].pack_count; k++) {
                uint64_t v = batches[i].pack_ids[k];
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
                v = __builtin_bswap64(v);
#endif
                keys[at++] = v;
            }
        }
        keys_out = keys;
    }
    err = lg_write_file(outdir, "settled_packs.u64", keys_out, packs * sizeof *keys_out, diag);
    free(keys);
    if (err == ADJ_OK) {
        err = lg_write_file(outdir, "settled_docs.txt", docs, docs_len, diag);
    }
    if (err == ADJ_OK) {
        err = lg_write_file(outdir, "totals.tsv", tsv, tsv_len, diag);
    }
    if (err == ADJ_OK) {
        int dfd = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
out:
    if (err == ADJ_E_NOMEM) {
        adj_diag_set(diag, err, NULL, 0, 0, NULL);
    }
    if (t != NULL) {
        fclose(t);
    }
    free(tsv);
    free(docs);
    return err;
}

/* Reads a whole file (bounded) into a NUL-terminated buffer. */
static enum adj_err lg_slurp(const char *path, size_t max, char **out, size_t *len,
                             struct adj_diag *diag)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        adj_diag_set(diag, ADJ_E_OPEN, NULL, 0, 0, "%s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return ADJ_E_OPEN;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        adj_diag_set(diag, ADJ_E_LEDGER_INPUT, NULL, 0, 0, "%s: file larger than %zu bytes", path,
                     max);
        return ADJ_E_LEDGER_INPUT;
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (buf == NULL) {
        close(fd);
        adj_diag_set(diag, ADJ_E_NOMEM, NULL, 0, 0, "%s", path);
        return ADJ_E_NOMEM;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t r = read(fd, buf + done, size - done);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        done += (size_t)r;
    }
    close(fd);
    if (done != size) {
        free(buf);
        adj_diag_set(diag, ADJ_E_READ, NULL, 0, 0, "%s: short read", path);
        return ADJ_E_READ;
    }
    buf[size] = '\0';
    *out = buf;
    *len = size;
    return ADJ_OK;
}

/* Splits line[0..len) at TABs into at most max fields (NUL-terminating
 * each in place); returns the count, or max + 1 if there are more. */
static size_t lg_split(char *line, size_t len, char **fields, size_t max)
{
    size_t n = 0;
    char *start = line;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || line[i] == '\t') {
            if (n == max) {
                return max + 1;
            }
            fields[n++] = start;
            if (i < len) {
                line[i] = '\0';
            }
            start = line + i + 1;
        }
    }
    return n;
}

static bool lg_parse_count(const char *s, size_t *out)
{
    uint64_t v = 0;
    size_t off = 0;
    if (text_parse_u64(s, strlen(s), (uint64_t)1 << 40, &v, &off) != ADJ_OK) {
        return false;
    }
    *out = (size_t)v;
    return true;
}

static bool lg_parse_rial(const char *s, int64_t *out)
{
    uint64_t v = 0;
    size_t off = 0;
    if (text_parse_u64(s, strlen(s), (uint64_t)ADJ_RIAL_MAX, &v, &off) != ADJ_OK) {
        return false;
    }
    *out = (int64_t)v;
    return true;
}

struct lg_totals_batch {
    struct ledger_batch b;
    bool verified;
    uint64_t line;
    struct ledger_center_total *centers;
};

enum adj_err ledger_post_outdir(struct ledger *l, const char *outdir, void *ctx,
                                void (*on_batch)(void *ctx, const char *batch_id,
                                                 enum ledger_post_outcome outcome,
                                                 enum adj_err err, const struct adj_diag *diag),
                                size_t *refused, struct adj_diag *diag)
{
    char path[3][1024];
    snprintf(path[0], sizeof path[0], "%s/totals.tsv", outdir);
    snprintf(path[1], sizeof path[1], "%s/settled_docs.txt", outdir);
    snprintf(path[2], sizeof path[2], "%s/settled_packs.u64", outdir);
    /* A diag borrows its file name: keep it in the handle, which outlives it. */
    char *diag_name = l->aux_name;
    snprintf(diag_name, sizeof l->aux_name, "%s", path[0]);
    *refused = 0;
    char *tsv = NULL, *docs = NULL, *packs = NULL;
    size_t tsv_len = 0, docs_len = 0, packs_len = 0;
    struct lg_totals_batch *batches = NULL;
    size_t nb = 0, cap = 0;
    enum adj_err err = lg_slurp(path[0], LG_TOTALS_BYTES_MAX, &tsv, &tsv_len, diag);
    if (err == ADJ_OK) {
        err = lg_slurp(path[1], LG_IDS_BYTES_MAX, &docs, &docs_len, diag);
    }
    if (err == ADJ_OK) {
        err = lg_slurp(path[2], LG_IDS_BYTES_MAX, &packs, &packs_len, diag);
    }
    if (err != ADJ_OK) {
        goto out;
    }
    /* Parse totals.tsv completely before posting anything. */
    bool ended = false;
    uint64_t line_no = 0;
    size_t centers_left = 0, doc_total = 0, pack_total = 0;
    for (size_t pos = 0; pos < tsv_len && err == ADJ_OK;) {
        char *nl = memchr(tsv + pos, '\n', tsv_len - pos);
        line_no++;
        if (nl == NULL) {
            adj_diag_set(diag, ADJ_E_LEDGER_INPUT, diag_name, line_no, 0,
                         "last line has no LF (truncated?)");
            err = ADJ_E_LEDGER_INPUT;
            break;
        }
        char *line = tsv + pos;
        size_t len = (size_t)(nl - line);
        *nl = '\0';
        pos += len + 1;
        if (len == 0 || line[0] == '#') {
            continue;
        }
        char *f[LG_TOTALS_FIELDS_MAX];
        size_t n = lg_split(line, len, f, LG_TOTALS_FIELDS_MAX);
        const char *bad = NULL;
        if (ended) {
            bad = "a line after `end`";
        } else if (strcmp(f[0], "batch") == 0) {
            if (centers_left > 0) {
                bad = "fewer center rows than the batch's center_count";
            } else if (n != 9) {
                bad = "a batch row has 9 fields";
            } else if (strcmp(f[5], "0") != 0 && strcmp(f[5], "1") != 0) {
                bad = "verified must be 0 or 1";
            } else {
                if (nb == cap) {
                    cap = cap == 0 ? 4 : cap * 2;
                    struct lg_totals_batch *p = realloc(batches, cap * sizeof *p);
                    if (p == NULL) {
                        err = ADJ_E_NOMEM;
                        adj_diag_set(diag, err, NULL, 0, 0, NULL);
                        break;
                    }
                    batches = p;
                }
                struct lg_totals_batch *tb = &batches[nb];
                memset(tb, 0, sizeof *tb);
                tb->b.batch_id = f[1];
                tb->b.content_hash_hex = f[2];
                tb->b.province = f[3];
                tb->b.period = f[4];
                tb->verified = f[5][0] == '1';
                tb->line = line_no;
                if (!lg_parse_count(f[6], &tb->b.center_count) ||
                    !lg_parse_count(f[7], &tb->b.doc_count) ||
                    !lg_parse_count(f[8], &tb->b.pack_count)) {
                    bad = "counts must be whole numbers";
                } else {
                    tb->centers = calloc(tb->b.center_count + 1, sizeof *tb->centers);
                    if (tb->centers == NULL) {
                        err = ADJ_E_NOMEM;
                        adj_diag_set(diag, err, NULL, 0, 0, NULL);
                        break;
                    }
                    tb->b.centers = tb->centers;
                    centers_left = tb->b.center_count;
                    doc_total += tb->b.doc_count;
                    pack_total += tb->b.pack_count;
                    nb++;
                }
            }
        } else if (strcmp(f[0], "center") == 0) {
            if (centers_left == 0) {
                bad = "a center row beyond its batch's center_count";
            } else if (n != 5) {
                bad = "a center row has 5 fields";
            } else if (strlen(f[1]) > ADJ_ID_BYTES_MAX || strlen(f[2]) > 7) {
                bad = "center id or sector too long";
            } else {
                struct lg_totals_batch *tb = &batches[nb - 1];
                struct ledger_center_total *c = &tb->centers[tb->b.center_count - centers_left];
                snprintf(c->center, sizeof c->center, "%s", f[1]);
                snprintf(c->sector, sizeof c->sector, "%s", f[2]);
                if (!lg_parse_rial(f[3], &c->approved_insurer_rials) ||
                    !lg_parse_rial(f[4], &c->approved_daroyar_rials)) {
                    bad = "approved amounts must be 0..9e15 rials";
                }
                centers_left--;
            }
        } else if (strcmp(f[0], "end") == 0) {
            size_t count = 0;
            if (n != 2 || !lg_parse_count(f[1], &count) || count != nb) {
                bad = "`end` must give the number of batch rows";
            } else if (centers_left > 0) {
                bad = "fewer center rows than the batch's center_count";
            }
            ended = true;
        } else {
            bad = "unknown row kind (batch, center, end)";
        }
        if (bad != NULL && err == ADJ_OK) {
            adj_diag_set(diag, ADJ_E_LEDGER_INPUT, diag_name, line_no, 0, "%s", bad);
            err = ADJ_E_LEDGER_INPUT;
        }
    }
    if (err == ADJ_OK && !ended) {
        adj_diag_set(diag, ADJ_E_LEDGER_INPUT, diag_name, 0, 0,
                     "no `end` line: the run's output is incomplete");
        err = ADJ_E_LEDGER_INPUT;
    }
    if (err == ADJ_OK && packs_len != pack_total * 8) {
        adj_diag_set(diag, ADJ_E_LEDGER_INPUT, diag_name, 0, 0,
                     "settled_packs.u64 has %zu bytes, the batches say %zu keys", packs_len,
                     pack_total);
        err = ADJ_E_LEDGER_INPUT;
    }
    /* Doc ids: LF-terminated lines become NUL-terminated ids in place. */
    size_t lines = 0;
    for (size_t i = 0; err == ADJ_OK && i < docs_len; i++) {
        if (docs[i] == '\n') {
            docs[i] = '\0';
            lines++;
        } else if (docs[i] == '\0' || docs[i] == '\r' || docs[i] == '\t') {
            snprintf(l->aux_name, sizeof l->aux_name, "%s", path[1]);
            adj_diag_set(diag, ADJ_E_LEDGER_INPUT, l->aux_name, lines + 1, 0,
                         "doc id with NUL, CR or TAB");
            err = ADJ_E_LEDGER_INPUT;
        }
    }
    if (err == ADJ_OK && (lines != doc_total || (docs_len > 0 && docs[docs_len - 1] != '\0'))) {
        adj_diag_set(diag, ADJ_E_LEDGER_INPUT, diag_name, 0, 0,
                     "settled_docs.txt has %zu complete lines, the batches say %zu", lines,
                     doc_total);
        err = ADJ_E_LEDGER_INPUT;
    }
    if (err != ADJ_OK) {
        goto out;
    }
    uint64_t *keys = malloc(pack_total * sizeof *keys + 8);
    if (keys == NULL) {
        err = ADJ_E_NOMEM;
        adj_diag_set(diag, err, NULL, 0, 0, NULL);
        goto out;
    }
    memcpy(keys, packs, packs_len);
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    for (size_t i = 0; i < pack_total; i++) {
        keys[i] = __builtin_bswap64(keys[i]);
    }
#endif
    size_t doc_pos = 0, pack_pos = 0;
    for (size_t i = 0; i < nb && err == ADJ_OK; i++) {
        struct lg_totals_batch *tb = &batches[i];
        size_t start = doc_pos;
        for (size_t k = 0; k < tb->b.doc_count; k++) {
            doc_pos += strlen(docs + doc_pos) + 1;
        }
        tb->b.doc_ids = docs + start;
        tb->b.doc_ids_bytes = doc_pos - start;
        tb->b.pack_ids = keys + pack_pos;
        pack_pos += tb->b.pack_count;
        struct adj_diag bd;
        memset(&bd, 0, sizeof bd);
        enum ledger_post_outcome outcome = LEDGER_CONFLICT;
        enum adj_err berr;
        if (!tb->verified) {
            adj_diag_set(&bd, ADJ_E_LEDGER_UNVERIFIED, diag_name, tb->line, 0, "batch %s",
                         tb->b.batch_id);
            berr = ADJ_E_LEDGER_UNVERIFIED;
        } else {
            berr = ledger_post_batch(l, &tb->b, &outcome, &bd);
        }
        if (berr == ADJ_E_LEDGER_UNVERIFIED || berr == ADJ_E_LEDGER_CONFLICT ||
            berr == ADJ_E_LEDGER_INPUT || berr == ADJ_E_LEDGER_AMOUNT || berr == ADJ_E_OVERFLOW) {
            (*refused)++;
        } else if (berr != ADJ_OK) {
            *diag = bd; /* the store failed: stop, the rest is retried next run */
            err = berr;
        }
        if (on_batch != NULL) {
            on_batch(ctx, tb->b.batch_id, outcome, berr, &bd);
        }
    }
    free(keys);
out:
    for (size_t i = 0; i < nb; i++) {
        free(batches[i].centers);
    }
    free(batches);
    free(tsv);
    free(docs);
    free(packs);
    return err;
}
