/*
 * Reference tables: typed TSV loading, the hash index keyed by XXH3 and the
 * sorted date-interval runs that answer "the row of this key whose
 * [from, to] contains the date of service".
 *
 * Loading checks every cell against its declared column type and reports
 * every problem (bad value, duplicate key, overlapping ranges naming both
 * rows, misspelled header) through the shared diagnostics sink, so an author
 * sees all mistakes of a table at once. A bad row is dropped from the index
 * but the load as a whole then fails, so it never reaches adjudication.
 *
 * TSV cells are normalised like batch fields: numbers and dates accept
 * Persian and Arabic-Indic digits; text is stored with Arabic yeh/kaf folded
 * to the Persian letters (text_canonical_key), so keys match batch keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/jdate.h"
#include "core/base/limits.h"
#include "core/base/text.h"
#include "rules/rules_impl.h"

/* A table file larger than this is refused: 3.1M insured rows of ~40 bytes
 * are ~130 MB; 2 GiB leaves room and keeps offsets in 32 bits. */
#define RL_TABLE_FILE_MAX (2048ull * 1024ull * 1024ull - 1ull)
/* Largest value of an int/rial/bp cell; keeps qty * value products of
 * the rules far from the int64 edge only where the rules check them. */
#define RL_BP_MAX 10000000LL

char *rl_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    /* A regular file's size is known: one buffer, no doubling copies of a
     * 112 MB insured table (the loop below still copes with growth). */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size < RL_TABLE_FILE_MAX / 2)
        cap = (size_t)st.st_size + 2;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        errno = ENOMEM;
        return NULL;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > RL_TABLE_FILE_MAX / 2) {
                free(buf);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

uint64_t rl_hash_text(const char *s, size_t n) { return text_hash64(s, n); }

static bool is_text_type(struct rtype t) { return t.kind == RT_CODE || t.kind == RT_ENUM; }

const char *rl_strpool_add(struct rules_set *set, const char *s, size_t n)
{
    if (set->strpool_len + n + 1 > set->strpool_cap)
        return NULL;
    char *p = set->strpool + set->strpool_len;
    memcpy(p, s, n);
    p[n] = '\0';
    text_canonical_key(p, p, n);
    set->strpool_len += n + 1;
    return p;
}

void rl_type_name(const struct rules_set *set, struct rtype t, char *buf, size_t cap)
{
    static const char *names[] = {"none", "integer literal", "int", "rial", "bp", "date",
                                  "bool", "code", "enum", "row"};
    if (t.kind == RT_ENUM)
        snprintf(buf, cap, "%s", set->enums[t.sub].name);
    else if (t.kind == RT_ROW)
        snprintf(buf, cap, "row of %s", set->tables[t.sub].name);
    else
        snprintf(buf, cap, "%s", names[t.kind <= RT_ROW ? t.kind : 0]);
}

enum adj_err rl_parse_value(struct rules_set *set, struct rtype type, bool optional,
                            const char *s, size_t n, struct rv *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (n == 0) {
        if (!optional) {
            *why = "required value is empty";
            return ADJ_E_TABLE_VALUE;
        }
        /* Empty means "no bound": the largest value of the type. */
        out->i = type.kind == RT_DATE ? RL_DAY_MAX : INT64_MAX;
        return ADJ_OK;
    }
    size_t off = 0;
    uint64_t v = 0;
    switch (type.kind) {
    case RT_INT:
    case RT_RIAL:
    case RT_BP:
    case RT_BOOL: {
        uint64_t max = type.kind == RT_BOOL ? 1u
                       : type.kind == RT_BP ? (uint64_t)RL_BP_MAX
                                            : (uint64_t)ADJ_RIAL_MAX;
        enum adj_err e = text_parse_u64(s, n, max, &v, &off);
        if (e != ADJ_OK) {
            *why = type.kind == RT_BOOL ? "expected 0 or 1"
                   : e == ADJ_E_NUMBER_RANGE ? "number out of range"
                                             : "expected a whole non-negative number";
            return ADJ_E_TABLE_VALUE;
        }
        out->i = (int64_t)v;
        return ADJ_OK;
    }
    case RT_DATE: {
        struct jdate d;
        if (jdate_parse(s, n, &d, &off) != ADJ_OK) {
            *why = "expected a Jalali date YYYY/MM/DD";
            return ADJ_E_TABLE_VALUE;
        }
        out->i = jdate_to_days(d);
        return ADJ_OK;
    }
    case RT_CODE:
    case RT_ENUM: {
        if (n > ADJ_ID_BYTES_MAX) {
            *why = "text longer than 32 bytes";
            return ADJ_E_TABLE_VALUE;
        }
        char tmp[ADJ_ID_BYTES_MAX + 1];
        memcpy(tmp, s, n);
        text_canonical_key(tmp, tmp, n);
        if (type.kind == RT_ENUM) {
            const struct rl_enum *en = &set->enums[type.sub];
            uint32_t k = 0;
            while (k < en->count && !(strlen(en->values[k]) == n && memcmp(en->values[k], tmp, n) == 0))
                k++;
            if (k == en->count) {
                *why = "value is not in the enum";
                return ADJ_E_TABLE_VALUE;
            }
            out->s = en->values[k];
        } else {
            out->s = tmp; /* caller copies */
        }
        out->n = (uint32_t)n;
        out->i = (int64_t)rl_hash_text(tmp, n);
        if (type.kind == RT_CODE)
            out->s = NULL; /* the caller stores the text where it belongs */
        return ADJ_OK;
    }
    default:
        *why = "type cannot be stored in a table";
        return ADJ_E_TABLE_VALUE;
    }
}

/* Text cells of a table go to the table's own growable pool, not the set's
 * literal pool (which is small and fixed). An entry is the text's hash, its
 * length, the canonical bytes and a NUL, padded to 8 bytes; the cell holds
 * the entry's offset. */
static size_t text_entry_size(size_t n) { return (RL_TEXT_HDR + n + 1 + 7) & ~(size_t)7; }

/* A text pool being filled: the table's own, or a second part's (see
 * struct tl_part), appended to the table's when the parts are joined. */
struct tl_pool {
    char *buf;
    size_t len, cap;
};

static bool pool_add_text(struct tl_pool *p, const char *s, size_t n, int64_t *cell)
{
    size_t need = text_entry_size(n);
    if (p->len + need > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 65536;
        while (cap < p->len + need)
            cap *= 2;
        char *np = realloc(p->buf, cap);
        if (!np)
            return false;
        p->buf = np;
        p->cap = cap;
    }
    char *e = p->buf + p->len;
    char *b = e + RL_TEXT_HDR;
    memcpy(b, s, n);
    b[n] = '\0';
    text_canonical_key(b, b, n);
    uint64_t h = rl_hash_text(b, n);
    uint32_t len = (uint32_t)n;
    memcpy(e, &h, sizeof h);
    memcpy(e + 8, &len, sizeof len);
    *cell = (int64_t)p->len;
    p->len += need;
    return true;
}

static struct rv text_at(const struct rl_table *t, int64_t cell)
{
    const char *e = t->pool + cell;
    uint64_t h;
    uint32_t len;
    memcpy(&h, e, sizeof h);
    memcpy(&len, e + 8, sizeof len);
    struct rv v = {(int64_t)h, e + RL_TEXT_HDR, len};
    return v;
}

struct rv rl_table_cell(const struct rl_table *t, uint32_t row, uint32_t col)
{
    int64_t c = t->cells[(size_t)row * t->ncols + col];
    if (is_text_type(t->cols[col].type))
        return text_at(t, c);
    struct rv v = {c, NULL, 0};
    return v;
}

uint64_t rl_table_part_hash(const struct rl_table *t, uint32_t k, struct rv v)
{
    return is_text_type(t->cols[t->keys[k]].type) ? (uint64_t)v.i : rl_hash_int(v.i);
}

bool rl_table_part_maybe(const struct rl_table *t, uint32_t k, struct rv v)
{
    uint32_t bit = (uint32_t)(rl_table_part_hash(t, k, v) >> 52);
    return (t->key_filter[k][bit >> 6] >> (bit & 63)) & 1u;
}

static uint64_t key_hash_of_values(const struct rl_table *t, const struct rv *key)
{
    uint64_t h = 0;
    for (uint32_t k = 0; k < t->nkeys; k++)
        h = rl_hash_combine(h, rl_table_part_hash(t, k, key[k]));
    return h;
}

static bool key_equal(const struct rl_table *t, uint32_t row, const struct rv *key)
{
    const int64_t *cells = t->cells + (size_t)row * t->ncols;
    for (uint32_t k = 0; k < t->nkeys; k++) {
        uint32_t col = t->keys[k];
        if (!is_text_type(t->cols[col].type)) {
            if (cells[col] != key[k].i) /* integer keys compare as integers */
                return false;
            continue;
        }
        struct rv v = text_at(t, cells[col]);
        if (v.i != key[k].i || v.n != key[k].n || !rl_bytes_equal(v.s, key[k].s, v.n))
            return false;
    }
    return true;
}

static void row_key(const struct rl_table *t, uint32_t row, struct rv *key)
{
    for (uint32_t k = 0; k < t->nkeys; k++)
        key[k] = rl_table_cell(t, row, t->keys[k]);
}

uint64_t rl_table_key_hash(const struct rl_table *t, const struct rv *key)
{
    return key_hash_of_values(t, key);
}

/* Non-temporal prefetches (locality 0): the tables prefetched ahead are the
 * document-level ones (a 3.1 M-row insured table read at one random row per
 * document); with normal locality those rows evicted the small, hot line
 * tables (drugs, services) from the shared cache, and every drug line then
 * paid three misses (slot, row, key text). Measured: ~660 -> ~390 ns a line
 * on a province-month's tables (notes/perf.md). */
void rl_table_prefetch(const struct rl_table *t, uint64_t hash)
{
    if (t->slots)
        __builtin_prefetch(&t->slots[(uint32_t)hash & t->slot_mask], 0, 0);
}

void rl_table_prefetch_row(const struct rl_table *t, uint64_t hash)
{
    if (!t->slots)
        return;
    uint32_t i = (uint32_t)hash & t->slot_mask;
    for (uint32_t probes = 0; probes < 8; probes++) {
        const struct rl_slot *s = &t->slots[i];
        if (s->count == 0)
            return;
        if (s->hash == hash) {
            rl_prefetch_group(t, s, 0);
            return;
        }
        i = (i + 1) & t->slot_mask;
    }
}

static int64_t row_from(const struct rl_table *t, uint32_t row)
{
    return t->cells[(size_t)row * t->ncols + (uint32_t)t->valid_from];
}

uint32_t rl_table_find(const struct rl_table *t, const struct rv *key, int32_t day)
{
    if (t->ngroups == 0)
        return UINT32_MAX;
    uint64_t h = key_hash_of_values(t, key);
    uint32_t i = (uint32_t)h & t->slot_mask;
    for (uint32_t probes = 0; probes <= t->slot_mask; probes++) {
        const struct rl_slot *s = &t->slots[i];
        if (s->count == 0)
            return UINT32_MAX;
        if (s->hash == h && key_equal(t, s->first, key))
            return rl_group_row(t, s, day);
        i = (i + 1) & t->slot_mask;
    }
    return UINT32_MAX;
}

uint32_t rl_table_find1(const struct rl_table *t, bool text, int64_t ki, const char *ks,
                        uint32_t kn, int32_t day)
{
    return rl_table_findk(t, 1, text ? 1u : 0u, &ki, &ks, &kn, day);
}

uint32_t rl_table_find2(const struct rl_table *t, uint32_t text_mask, const int64_t ki[2],
                        const char *const ks[2], const uint32_t kn[2], int32_t day)
{
    return rl_table_findk(t, 2, text_mask, ki, ks, kn, day);
}

/* Arrays of big tables (the 3.1 M-row insured table) are probed at random,
 * one row per document; on a virtual machine a TLB miss costs about as much
 * as the cache miss itself, so a table's arrays ask for transparent huge
 * pages. From RL_HUGE_BYTES_MIN up, not only from a few MiB: the line
 * tables' arrays (drugs: ~1 MB of slots and 1.3 MB of rows) are touched at
 * a few random places per line among the streamed documents and the big
 * tables' pages, and on 4 KiB pages each touch may also miss the TLB
 * (alternating full-month runs: 389/374, 389/326, 345/336 ns a line). At
 * most ~2 MB more memory per array. 64-byte aligned (text slots, rows);
 * freed with free(). */
#define RL_HUGE_PAGE (2u * 1024u * 1024u)
#define RL_HUGE_BYTES_MIN (256u * 1024u)
static void *big_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes < RL_HUGE_BYTES_MIN)
        return posix_memalign(&p, 64, bytes ? bytes : 1) == 0 ? p : NULL;
    bytes = (bytes + RL_HUGE_PAGE - 1) & ~(size_t)(RL_HUGE_PAGE - 1);
    if (posix_memalign(&p, RL_HUGE_PAGE, bytes) != 0)
        return NULL;
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: failure only costs speed */
    return p;
}

void rl_table_free(struct rl_table *t)
{
    free(t->cells);
    free(t->src_line);
    free(t->pool);
    free(t->slots);
    free(t->tslots);
}

static void fmt_key(const struct rl_table *t, uint32_t row, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (uint32_t k = 0; k < t->nkeys && n + 1 < cap; k++) {
        struct rv c = rl_table_cell(t, row, t->keys[k]);
        int w = is_text_type(t->cols[t->keys[k]].type)
                    ? snprintf(buf + n, cap - n, "%s%.*s", k ? "," : "", (int)c.n, c.s)
                    : snprintf(buf + n, cap - n, "%s%lld", k ? "," : "", (long long)c.i);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

struct from_row {
    int64_t from;
    uint32_t row;
};

static int from_row_cmp(const void *pa, const void *pb)
{
    const struct from_row *a = pa, *b = pb;
    if (a->from != b->from)
        return a->from < b->from ? -1 : 1;
    return a->row < b->row ? -1 : (a->row > b->row);
}

/* Sorts the rows of one group (file rows, in file order) by from, then row:
 * insertion sort for the usual few rows, qsort for long histories. */
static void sort_group(const struct rl_table *t, uint32_t *rows, uint32_t n, struct from_row *tmp)
{
    for (uint32_t i = 0; i < n; i++) {
        tmp[i].from = row_from(t, rows[i]);
        tmp[i].row = rows[i];
    }
    if (n > 16) {
        qsort(tmp, n, sizeof *tmp, from_row_cmp);
    } else {
        for (uint32_t i = 1; i < n; i++) {
            struct from_row x = tmp[i];
            uint32_t j = i;
            while (j > 0 && from_row_cmp(&tmp[j - 1], &x) > 0) {
                tmp[j] = tmp[j - 1];
                j--;
            }
            tmp[j] = x;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        rows[i] = tmp[i].row;
}

/* Reports duplicate keys and overlapping ranges between consecutive rows p
 * and r of one group (sorted by from). */
static void check_pair(struct rl_table *t, uint32_t p, uint32_t r, const char *path,
                       const char *text, size_t len, struct rl_diag *d)
{
    char kb[96];
    fmt_key(t, r, kb, sizeof kb);
    uint32_t lo = t->src_line[p] < t->src_line[r] ? t->src_line[p] : t->src_line[r];
    uint32_t hi = t->src_line[p] < t->src_line[r] ? t->src_line[r] : t->src_line[p];
    if (t->valid_from < 0) {
        rl_diag_report(d, ADJ_E_TABLE_DUP_KEY, path, text, len, hi, 1, "key %s already on line %u",
                       kb, lo);
        return;
    }
    int64_t pfrom = row_from(t, p);
    int64_t pto = t->cells[(size_t)p * t->ncols + (uint32_t)t->valid_to];
    int64_t rfrom = row_from(t, r);
    int64_t rto = t->cells[(size_t)r * t->ncols + (uint32_t)t->valid_to];
    if (pfrom == rfrom && pto == rto)
        rl_diag_report(d, ADJ_E_TABLE_DUP_KEY, path, text, len, hi, 1,
                       "key %s with the same dates already on line %u", kb, lo);
    else if (pto >= rfrom)
        rl_diag_report(d, ADJ_E_TABLE_OVERLAP, path, text, len, hi, 1,
                       "key %s: dates overlap those of line %u", kb, lo);
}

/* Groups rows by key with one hash-table pass (no sort of the whole table),
 * lays the groups out in slot order with each group's rows sorted by from,
 * reports duplicate keys and overlaps naming both rows, and stores the rows
 * in that order so a group is a run of consecutive rows. */
static bool table_index(struct rl_table *t, uint64_t *hashes, const char *path, const char *text,
                        size_t len, struct rl_diag *d)
{
    uint32_t n = t->nrows;
    uint32_t cap = 16;
    while (cap - cap / 4 < n + 1) /* load at most 3/4: short probe runs */
        cap *= 2;
    t->slots = big_alloc((size_t)cap * sizeof *t->slots);
    uint32_t *slot_of = malloc(((size_t)n + 1) * sizeof *slot_of);
    uint32_t *perm = malloc(((size_t)n + 1) * sizeof *perm);
    if (!t->slots || !slot_of || !perm) {
        free(slot_of);
        free(perm);
        return false;
    }
    memset(t->slots, 0, (size_t)cap * sizeof *t->slots);
    t->slot_mask = cap - 1;
    t->ngroups = 0;
    struct rv key[RL_KEYS_MAX];
    memset(key, 0, sizeof key);
    /* The key hashes were computed while parsing (a sequential pass, on
     * two threads for a big file), so the random slot of row r + 16 can be
     * prefetched while row r probes: on a 3.1 M-row table the probes'
     * misses are most of the build. */
    uint64_t *first_row = calloc((size_t)n / 64 + 1, sizeof *first_row);
    if (!first_row) {
        free(slot_of);
        free(perm);
        return false;
    }
    for (uint32_t r = 0; r < n; r++) {
        if (r + 16 < n)
            __builtin_prefetch(&t->slots[(uint32_t)hashes[r + 16] & t->slot_mask], 1);
        uint64_t h = hashes[r];
        uint32_t i = (uint32_t)h & t->slot_mask;
        slot_of[r] = UINT32_MAX;
        for (;;) {
            struct rl_slot *s = &t->slots[i];
            if (s->count == 0) {
                s->hash = h;
                s->first = r; /* the group's first row, until laid out */
                first_row[r >> 6] |= 1ull << (r & 63);
                s->count = 1;
                t->ngroups++;
                slot_of[r] = i;
                break;
            }
            if (s->hash == h) {
                row_key(t, r, key); /* only now: most rows meet a free slot */
                if (key_equal(t, s->first, key)) {
                    s->count++;
                    slot_of[r] = i;
                } else {
                    rl_diag_report(d, ADJ_E_RULE_LIMIT, path, text, len, t->src_line[r], 1,
                                   "hash collision between rows %u and %u; rename one key",
                                   t->src_line[s->first], t->src_line[r]);
                }
                break;
            }
            i = (i + 1) & t->slot_mask;
        }
    }
    /* Groups in the file order of their first rows: first = end of the
     * group, then rows are placed backwards so each group keeps file order
     * before its sort. A table of one row per key (the insured table, nearly)
     * then keeps every row where it was parsed, and the rows of the few
     * longer groups shift by a little: the move below is sequential instead
     * of a random copy of every row. (A slot's first is still its group's
     * first file row here.) */
    uint32_t placed = 0, longest = 0;
    for (uint32_t r = 0; r < n; r++) {
        if (r + 16 < n && slot_of[r + 16] != UINT32_MAX)
            __builtin_prefetch(&t->slots[slot_of[r + 16]], 1);
        if (slot_of[r] == UINT32_MAX)
            continue;
        struct rl_slot *s = &t->slots[slot_of[r]];
        if (!((first_row[r >> 6] >> (r & 63)) & 1u))
            continue; /* not the group's first row */
        placed += s->count;
        s->first = placed;
        longest = s->count > longest ? s->count : longest;
    }
    free(first_row);
    for (uint32_t r = n; r-- > 0;)
        if (slot_of[r] != UINT32_MAX)
            perm[--t->slots[slot_of[r]].first] = r;
    free(slot_of);
    struct from_row *tmp = malloc(((size_t)longest + 1) * sizeof *tmp);
    if (!tmp) {
        free(perm);
        return false;
    }
    for (uint32_t i = 0; i <= t->slot_mask; i++) {
        const struct rl_slot *s = &t->slots[i];
        if (s->count < 2)
            continue;
        uint32_t *rows = perm + s->first;
        if (t->valid_from >= 0)
            sort_group(t, rows, s->count, tmp);
        for (uint32_t k = 1; k < s->count; k++)
            check_pair(t, rows[k - 1], rows[k], path, text, len, d);
    }
    free(tmp);
    /* Store the rows in index order: in place, following the permutation's
     * cycles (no second copy of a 124 MB cell array, no fresh pages to
     * clear), when every row was placed; else (a hash collision dropped a
     * row, and the load fails anyway) into new arrays. */
    if (placed == n) {
        uint64_t *seen = calloc((size_t)n / 64 + 1, sizeof *seen);
        if (!seen) {
            free(perm);
            return false;
        }
        int64_t tmp_row[RL_COLS_MAX];
        size_t rb = t->ncols * sizeof *t->cells;
        for (uint32_t start = 0; start < n; start++) {
            if ((seen[start >> 6] >> (start & 63)) & 1u)
                continue;
            if (perm[start] == start) /* in place already: most rows */
                continue;
            memcpy(tmp_row, t->cells + (size_t)start * t->ncols, rb);
            uint32_t tmp_src = t->src_line[start];
            uint32_t k = start;
            for (uint32_t steps = 0; steps <= n; steps++) {
                seen[k >> 6] |= 1ull << (k & 63);
                uint32_t j = perm[k];
                if (j == start) {
                    memcpy(t->cells + (size_t)k * t->ncols, tmp_row, rb);
                    t->src_line[k] = tmp_src;
                    break;
                }
                memcpy(t->cells + (size_t)k * t->ncols, t->cells + (size_t)j * t->ncols, rb);
                t->src_line[k] = t->src_line[j];
                k = j;
            }
        }
        free(seen);
        free(perm);
        return true;
    }
    int64_t *cells = big_alloc(((size_t)placed * t->ncols + RL_CELLS_PAD) * sizeof *cells);
    uint32_t *src = malloc(((size_t)placed + 1) * sizeof *src);
    if (!cells || !src) {
        free(cells);
        free(src);
        free(perm);
        return false;
    }
    for (uint32_t k = 0; k < placed; k++) {
        memcpy(cells + (size_t)k * t->ncols, t->cells + (size_t)perm[k] * t->ncols,
               t->ncols * sizeof *cells);
        src[k] = t->src_line[perm[k]];
    }
    free(perm);
    free(t->cells);
    free(t->src_line);
    t->cells = cells;
    t->src_line = src;
    t->nrows = placed;
    return true;
}

/* t->tslots for a one-key text table whose keys all fit RL_TSLOT_KEY_MAX
 * and whose groups have fewer than 65,536 rows (see struct rl_tslot); left
 * NULL otherwise, or when memory is short (lookups then probe the slots and
 * read the pool entry: the same answer, one miss later). Only for tables
 * whose text slots fill RL_HUGE_BYTES_MIN (drugs, services on a province's
 * tables): with text slots for the small ones too (centers, supplies) the
 * full month ran slower than without in 5 of 6 alternating pairs, where
 * this rule ran faster in 6 of 6 (notes/perf.md; not understood). */
static void tslots_build(struct rl_table *t)
{
    if (t->nkeys != 1 || !is_text_type(t->cols[t->keys[0]].type) || t->nrows == 0 || !t->slots)
        return;
    size_t n = (size_t)t->slot_mask + 1;
    if (n * sizeof(struct rl_tslot) < RL_HUGE_BYTES_MIN)
        return; /* small tables keep their plain slots: see below */
    struct rl_tslot *ts = big_alloc(n * sizeof *ts); /* 64-byte aligned */
    if (!ts)
        return;
    memset(ts, 0, n * sizeof *ts);
    for (size_t i = 0; i < n; i++) {
        const struct rl_slot *s = &t->slots[i];
        if (s->count == 0)
            continue;
        struct rv v = rl_table_cell(t, s->first, t->keys[0]);
        if (v.n > RL_TSLOT_KEY_MAX || s->count > UINT16_MAX) {
            free(ts);
            return;
        }
        ts[i].hash = s->hash;
        ts[i].first = s->first;
        ts[i].count = (uint16_t)s->count;
        ts[i].len = (uint8_t)v.n;
        memcpy(ts[i].key, v.s, v.n);
    }
    t->tslots = ts;
}

static uint32_t cp_col(const char *line, size_t off) { return (uint32_t)text_codepoints(line, off) + 1; }

/* ---- Parsing rows, in one part or two --------------------------------------
 * The insured table of a province (3.1 M rows, 114 MB) is most of a rule
 * set's load, so a big file's rows are split at a line boundary near the
 * middle and the two parts are parsed on two threads. Each part writes its
 * rows into its own region of the cell array, its text entries into its own
 * pool, and its diagnostics: the first part straight to the sink, the
 * second into a list replayed after the first, so they print in line order
 * exactly as one pass would print them (same text, same cap). */

/* Files smaller than this are parsed in one part (a thread costs more). */
#define RL_TABLE_SPLIT_BYTES (8u * 1024u * 1024u)

struct tl_diag_rec {
    enum adj_err code;
    bool with_text;
    uint32_t line, col;
    char msg[400]; /* rl_diag_report's detail buffer */
};

struct tl_part {
    struct rules_set *set;
    struct rl_table *t;
    const char *path, *text; /* the whole file, for diagnostics */
    size_t len;
    size_t pos, end;         /* the part: whole lines in [pos, end) */
    uint32_t ln;             /* lines before pos */
    int64_t *cells;          /* its rows go here, */
    uint32_t *src_line;
    uint32_t nrows;          /* this many */
    uint64_t *hashes;        /* each row's key hash (table_index) */
    struct tl_pool pool;
    int64_t enum_text[RL_COLS_MAX][RL_ENUM_VALUES_MAX]; /* -1: none yet */
    uint64_t key_filter[RL_KEYS_MAX][64]; /* as rl_table's, of its rows */
    struct rl_diag *d;       /* NULL: record into recs instead */
    struct tl_diag_rec *recs;
    uint32_t nrecs, cap_recs;
    uint64_t unrecorded;     /* past RL_DIAG_MAX: counted, never printed */
};

/* The size past which a file is split (DADRAS_TABLE_SPLIT_BYTES may set it,
 * so that tests can split small files, or forbid splitting, and compare). */
static _Atomic uint32_t tl_load_threads = 2;

void rules_set_load_threads(uint32_t threads)
{
    tl_load_threads = threads;
}

static size_t tl_split_bytes(void)
{
    if (tl_load_threads < 2)
        return SIZE_MAX; /* one thread asked for: never split */
    const char *env = getenv("DADRAS_TABLE_SPLIT_BYTES");
    return env && *env ? (size_t)strtoull(env, NULL, 10) : RL_TABLE_SPLIT_BYTES;
}

/* The start of the line that follows the middle of [from, len), or len. */
static size_t tl_mid_line(const char *text, size_t from, size_t len)
{
    size_t half = from + (len - from) / 2;
    const char *nl = memchr(text + half, '\n', len - half);
    return nl ? (size_t)(nl - text) + 1 : len;
}

struct tl_utf8_job {
    const char *s;
    size_t n, bad;
    bool ok;
};

static void *tl_utf8_run(void *arg)
{
    struct tl_utf8_job *j = arg;
    j->ok = text_utf8_valid(j->s, j->n, &j->bad);
    return NULL;
}

/* text_utf8_valid, on two threads for a big file. Split after a '\n' (an
 * ASCII byte, never inside a sequence), the first half reports the same
 * first bad byte as one pass would, and the second half is checked from a
 * sequence start. */
static bool tl_utf8_valid(const char *text, size_t len, size_t *bad)
{
    size_t mid = len > tl_split_bytes() ? tl_mid_line(text, 0, len) : len;
    struct tl_utf8_job a = {text, mid, 0, false}, b = {text + mid, len - mid, 0, true};
    pthread_t thread;
    bool threaded = mid < len && pthread_create(&thread, NULL, tl_utf8_run, &b) == 0;
    if (mid < len && !threaded)
        tl_utf8_run(&b);
    tl_utf8_run(&a);
    if (threaded)
        pthread_join(thread, NULL);
    if (!a.ok) {
        *bad = a.bad;
        return false;
    }
    if (!b.ok) {
        *bad = mid + b.bad;
        return false;
    }
    return true;
}

static void tl_report(struct tl_part *p, enum adj_err code, bool with_text, uint32_t line,
                      uint32_t col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void tl_report(struct tl_part *p, enum adj_err code, bool with_text, uint32_t line,
                      uint32_t col, const char *fmt, ...)
{
    struct tl_diag_rec tmp, *r = &tmp;
    if (!p->d) {
        if (p->nrecs >= RL_DIAG_MAX) {
            p->unrecorded++;
            return;
        }
        if (p->nrecs == p->cap_recs) {
            uint32_t cap = p->cap_recs ? p->cap_recs * 2 : 16;
            struct tl_diag_rec *n = realloc(p->recs, cap * sizeof *n);
            if (!n) {
                p->unrecorded++; /* still counted; the load fails anyway */
                return;
            }
            p->recs = n;
            p->cap_recs = cap;
        }
        r = &p->recs[p->nrecs++];
    }
    r->code = code;
    r->with_text = with_text;
    r->line = line;
    r->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    if (p->d)
        rl_diag_report(p->d, code, p->path, with_text ? p->text : NULL, with_text ? p->len : 0, line,
                       col, "%s", r->msg);
}

/* Replays a recorded part's diagnostics into the sink. */
static void tl_replay(const struct tl_part *p, struct rl_diag *d)
{
    for (uint32_t i = 0; i < p->nrecs; i++) {
        const struct tl_diag_rec *r = &p->recs[i];
        rl_diag_report(d, r->code, p->path, r->with_text ? p->text : NULL, r->with_text ? p->len : 0,
                       r->line, r->col, "%s", r->msg);
    }
    for (uint64_t i = 0; i < p->unrecorded; i++)
        rl_diag_report(d, ADJ_E_TABLE_VALUE, p->path, NULL, 0, 0, 0, "-"); /* counted only */
}

static void *tl_parse_rows(void *arg)
{
    struct tl_part *p = arg;
    struct rl_table *t = p->t;
    struct rules_set *set = p->set;
    const char *text = p->text;
    uint32_t ln = p->ln;
    size_t pos = p->pos;
    /* Bounded by the part: every pass moves pos past one line. */
    while (pos < p->end) {
        size_t end = pos;
        while (end < p->end && text[end] != '\n')
            end++;
        size_t next = end + 1;
        size_t lend = end;
        if (lend > pos && text[lend - 1] == '\r')
            lend--;
        ln++;
        const char *line = text + pos;
        size_t llen = lend - pos;
        if (llen > 0) {
            int64_t *row = p->cells + (size_t)p->nrows * t->ncols;
            bool row_ok = true;
            uint32_t f = 0;
            size_t s = 0;
            for (;;) {
                size_t e = s;
                while (e < llen && line[e] != '\t')
                    e++;
                if (f < t->ncols) {
                    const struct rl_col *c = &t->cols[f];
                    const char *why = NULL;
                    struct rv v;
                    if (rl_parse_value(set, c->type, c->optional, line + s, e - s, &v, &why) != ADJ_OK) {
                        tl_report(p, ADJ_E_TABLE_VALUE, true, ln, cp_col(line, s),
                                  "column %s (%s): %s", c->name,
                                  c->type.kind == RT_ENUM ? set->enums[c->type.sub].name
                                  : c->type.kind == RT_RIAL ? "rial"
                                  : c->type.kind == RT_BP ? "bp"
                                  : c->type.kind == RT_DATE ? "date"
                                  : c->type.kind == RT_BOOL ? "bool"
                                  : c->type.kind == RT_CODE ? "code" : "int",
                                  why);
                        row_ok = false;
                    } else if (c->type.kind == RT_ENUM) {
                        const char *v0 = set->enums[c->type.sub].values[0];
                        uint32_t k = (uint32_t)((size_t)(v.s - v0) / RL_NAME_MAX);
                        int64_t cell = 0;
                        if (p->enum_text[f][k] >= 0) {
                            row[f] = p->enum_text[f][k];
                        } else if (pool_add_text(&p->pool, line + s, e - s, &cell)) {
                            p->enum_text[f][k] = cell;
                            row[f] = cell;
                        } else {
                            tl_report(p, ADJ_E_NOMEM, false, ln, 0, "table text");
                            row_ok = false;
                        }
                    } else if (is_text_type(c->type)) {
                        if (!pool_add_text(&p->pool, line + s, e - s, &row[f])) {
                            tl_report(p, ADJ_E_NOMEM, false, ln, 0, "table text");
                            row_ok = false;
                        }
                    } else {
                        row[f] = v.i;
                    }
                }
                f++;
                if (e >= llen)
                    break;
                s = e + 1;
            }
            if (f != t->ncols) {
                tl_report(p, ADJ_E_TABLE_FIELD_COUNT, true, ln, 1, "%u fields, table %s has %u columns",
                          f, t->name, t->ncols);
                row_ok = false;
            }
            if (row_ok && t->valid_from >= 0 && row[t->valid_to] < row[t->valid_from]) {
                size_t cs = 0;
                for (int32_t k = 0; k < t->valid_to; k++) {
                    while (cs < llen && line[cs] != '\t')
                        cs++;
                    cs++;
                }
                tl_report(p, ADJ_E_TABLE_RANGE_ORDER, true, ln, cp_col(line, cs), "%s is before %s",
                          t->cols[t->valid_to].name, t->cols[t->valid_from].name);
                row_ok = false;
            }
            if (row_ok) {
                /* The key hash, as key_hash_of_values computes it from
                 * the stored cells (a text part's hash is in its entry). */
                uint64_t h = 0;
                for (uint32_t k = 0; k < t->nkeys; k++) {
                    int64_t cell = row[t->keys[k]];
                    uint64_t part;
                    if (is_text_type(t->cols[t->keys[k]].type))
                        memcpy(&part, p->pool.buf + cell, sizeof part);
                    else
                        part = rl_hash_int(cell);
                    h = rl_hash_combine(h, part);
                    uint32_t bit = (uint32_t)(part >> 52);
                    p->key_filter[k][bit >> 6] |= 1ull << (bit & 63);
                }
                p->hashes[p->nrows] = h;
                p->src_line[p->nrows] = ln;
                p->nrows++;
            }
        }
        pos = next;
    }
    return NULL;
}

/* Parses the rows in [pos, len) (line `ln` ends before pos) into t, on two
 * threads for a big file; a failure (memory) is reported to d. */
static void tl_parse_all(struct rules_set *set, struct rl_table *t, uint64_t *hashes, const char *path,
                         const char *text, size_t len, size_t pos, uint32_t ln, size_t nlines,
                         struct rl_diag *d)
{
    struct tl_part a, b;
    memset(&a, 0, sizeof a);
    a.set = set;
    a.t = t;
    a.path = path;
    a.text = text;
    a.len = len;
    a.pos = pos;
    a.end = len;
    a.ln = ln;
    a.cells = t->cells;
    a.src_line = t->src_line;
    a.hashes = hashes;
    a.pool = (struct tl_pool){t->pool, t->pool_len, t->pool_cap};
    memset(a.enum_text, 0xff, sizeof a.enum_text);
    a.d = d;
    b = a;
    b.d = NULL;
    /* The split: the line start nearest past the middle of the rows. */
    size_t mid = len - pos > tl_split_bytes() ? tl_mid_line(text, pos, len) : len;
    bool threaded = false;
    pthread_t thread;
    if (mid < len) {
        /* Part a's rows are at most its lines: part b's region starts there. */
        uint32_t a_lines = 1;
        for (size_t i = pos; i < mid; i++)
            a_lines += text[i] == '\n';
        a.end = mid;
        b.pos = mid;
        b.ln = ln + a_lines - 1;
        b.cells = t->cells + (size_t)a_lines * t->ncols;
        b.src_line = t->src_line + a_lines;
        b.hashes = hashes + a_lines;
        memset(b.key_filter, 0, sizeof b.key_filter);
        b.pool = (struct tl_pool){NULL, 0, 0};
        size_t ncode = 0;
        for (uint32_t f = 0; f < t->ncols; f++)
            ncode += t->cols[f].type.kind == RT_CODE;
        size_t cap = (len - mid) + (nlines - a_lines) * ncode * (RL_TEXT_HDR + 8) + 65536;
        b.pool.buf = malloc(cap);
        b.pool.cap = b.pool.buf ? cap : 0;
        threaded = pthread_create(&thread, NULL, tl_parse_rows, &b) == 0;
        if (!threaded)
            tl_parse_rows(&b); /* one thread after all: same result */
    }
    tl_parse_rows(&a);
    if (threaded)
        pthread_join(thread, NULL);
    t->pool = a.pool.buf;
    t->pool_len = a.pool.len;
    t->pool_cap = a.pool.cap;
    t->nrows = a.nrows;
    memcpy(t->key_filter, a.key_filter, sizeof t->key_filter);
    if (mid < len) {
        for (uint32_t k = 0; k < RL_KEYS_MAX; k++)
            for (uint32_t w = 0; w < 64; w++)
                t->key_filter[k][w] |= b.key_filter[k][w];
        tl_replay(&b, d);
        free(b.recs);
        /* Join: b's rows follow a's; its text cells move by a's pool. */
        bool ok = true;
        if (b.pool.len > 0 && t->pool_len + b.pool.len > t->pool_cap) {
            char *np = realloc(t->pool, t->pool_len + b.pool.len);
            if (np) {
                t->pool = np;
                t->pool_cap = t->pool_len + b.pool.len;
            } else {
                ok = false;
            }
        }
        if (!ok) {
            rl_diag_report(d, ADJ_E_NOMEM, path, NULL, 0, 0, 0, "table %s text", t->name);
        } else {
            if (b.pool.len > 0)
                memcpy(t->pool + t->pool_len, b.pool.buf, b.pool.len);
            int64_t shift = (int64_t)t->pool_len;
            int64_t *dst = t->cells + (size_t)t->nrows * t->ncols;
            if (dst != b.cells)
                memmove(dst, b.cells, (size_t)b.nrows * t->ncols * sizeof *dst);
            for (uint32_t f = 0; f < t->ncols; f++) {
                if (!is_text_type(t->cols[f].type))
                    continue;
                for (uint32_t r = 0; r < b.nrows; r++)
                    dst[(size_t)r * t->ncols + f] += shift;
            }
            memmove(t->src_line + t->nrows, b.src_line, (size_t)b.nrows * sizeof *b.src_line);
            memmove(hashes + t->nrows, b.hashes, (size_t)b.nrows * sizeof *b.hashes);
            t->pool_len += b.pool.len;
            t->nrows += b.nrows;
        }
        free(b.pool.buf);
    }
}

struct tl_read_job {
    int fd;
    char *buf;
    size_t n, off;
    bool ok;
};

static void *tl_read_run(void *arg)
{
    struct tl_read_job *j = arg;
    size_t done = 0;
    j->ok = true;
    /* Bounded: every pass reads at least one byte or stops. */
    while (done < j->n) {
        ssize_t got = pread(j->fd, j->buf + done, j->n - done, (off_t)(j->off + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            j->ok = false;
            break;
        }
        done += (size_t)got;
    }
    return NULL;
}

/* rl_read_file for a table: a big regular file is read in two halves on
 * two threads (the copy and the fresh pages it fills are a fifth of the
 * insured table's load). Anything unusual (not a regular file, a short
 * read, a file that grew meanwhile, an error) falls back to rl_read_file,
 * which also sets errno for the message. */
static char *tl_read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return rl_read_file(path, len);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size <= tl_split_bytes() ||
        (uint64_t)st.st_size >= RL_TABLE_FILE_MAX / 2) {
        close(fd);
        return rl_read_file(path, len);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 2);
    if (!buf) {
        close(fd);
        return rl_read_file(path, len);
    }
    struct tl_read_job a = {fd, buf, n / 2, 0, false}, b = {fd, buf + n / 2, n - n / 2, n / 2, false};
    pthread_t thread;
    bool threaded = pthread_create(&thread, NULL, tl_read_run, &b) == 0;
    if (!threaded)
        tl_read_run(&b);
    tl_read_run(&a);
    if (threaded)
        pthread_join(thread, NULL);
    char extra;
    bool ok = a.ok && b.ok && pread(fd, &extra, 1, (off_t)n) == 0;
    close(fd);
    if (!ok) {
        free(buf);
        return rl_read_file(path, len);
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Loads one table: header check, typed rows, index. */
static void table_load(struct rules_set *set, struct rl_table *t, const char *dir,
                       struct rl_diag *d)
{
    char path[512];
    if (!dir) {
        rl_diag_report(d, ADJ_E_RULE_FILE, set->files[t->decl_file], NULL, 0, t->decl_line,
                       t->decl_col, "table %s: no tables folder given", t->name);
        return;
    }
    snprintf(path, sizeof path, "%s/%s", dir, t->file);
    /* The path string must outlive diagnostics printed now only. */
    size_t len = 0;
    char *text = tl_read_file(path, &len);
    if (!text) {
        rl_diag_report(d, ADJ_E_RULE_FILE, set->files[t->decl_file], NULL, 0, t->decl_line,
                       t->decl_col, "table %s: cannot read %s: %s", t->name, path, strerror(errno));
        return;
    }
    size_t bad = 0;
    if (!tl_utf8_valid(text, len, &bad)) {
        uint32_t ln = 1;
        size_t ls = 0;
        for (size_t i = 0; i < bad; i++)
            if (text[i] == '\n') {
                ln++;
                ls = i + 1;
            }
        rl_diag_report(d, ADJ_E_UTF8_INVALID, path, NULL, 0, ln,
                       cp_col(text + ls, bad - ls), "table %s is not UTF-8", t->name);
        free(text);
        return;
    }
    /* Count lines to size the arrays once. */
    size_t nlines = 1;
    for (size_t i = 0; i < len; i++)
        nlines += text[i] == '\n';
    if (nlines > UINT32_MAX / 2) {
        rl_diag_report(d, ADJ_E_RULE_LIMIT, path, NULL, 0, 0, 0, "too many rows");
        free(text);
        return;
    }
    t->cells = big_alloc((nlines * t->ncols + RL_CELLS_PAD) * sizeof *t->cells);
    t->src_line = malloc(nlines * sizeof *t->src_line + 4);
    uint64_t *hashes = malloc(nlines * sizeof *hashes + 8);
    if (!t->cells || !t->src_line || !hashes) {
        rl_diag_report(d, ADJ_E_NOMEM, path, NULL, 0, 0, 0, "table %s", t->name);
        free(hashes);
        free(text);
        return;
    }
    /* Text of code cells: at most one entry per cell, each its bytes in the
     * file plus a header, a NUL and padding, so the pool is sized once
     * instead of doubling through reallocs of a 3.1 M-row table (it still
     * grows if needed). Enum cells add at most one entry per value. */
    size_t ncode = 0;
    for (uint32_t f = 0; f < t->ncols; f++)
        ncode += t->cols[f].type.kind == RT_CODE;
    size_t nstr = nlines * ncode + RL_COLS_MAX * RL_ENUM_VALUES_MAX;
    if (!t->pool && nstr < UINT32_MAX / 2) {
        size_t cap = len + nstr * (RL_TEXT_HDR + 8) + 64;
        t->pool = malloc(cap);
        t->pool_cap = t->pool ? cap : 0;
    }
    t->nrows = 0;
    memset(t->key_filter, 0, sizeof t->key_filter);
    bool header_ok = false;
    uint32_t ln = 1;
    {
        /* Line 1, the header: exactly the declared column names, in order. */
        size_t end = 0;
        while (end < len && text[end] != '\n')
            end++;
        size_t next = end + 1;
        size_t llen = end > 0 && text[end - 1] == '\r' ? end - 1 : end;
        const char *line = text;
        uint32_t f = 0;
        size_t s = 0;
        header_ok = true;
        for (;;) {
            size_t e = s;
            while (e < llen && line[e] != '\t')
                e++;
            if (f >= t->ncols) {
                rl_diag_report(d, ADJ_E_TABLE_HEADER, path, text, len, ln, cp_col(line, s),
                               "table %s has %u columns; extra column '%.*s'", t->name,
                               t->ncols, (int)(e - s), line + s);
                header_ok = false;
                break;
            }
            if (strlen(t->cols[f].name) != e - s || memcmp(t->cols[f].name, line + s, e - s) != 0) {
                rl_diag_report(d, ADJ_E_TABLE_HEADER, path, text, len, ln, cp_col(line, s),
                               "expected column '%s', found '%.*s'", t->cols[f].name,
                               (int)(e - s), line + s);
                header_ok = false;
            }
            f++;
            if (e >= llen)
                break;
            s = e + 1;
        }
        if (header_ok && f < t->ncols) {
            rl_diag_report(d, ADJ_E_TABLE_HEADER, path, text, len, ln, cp_col(line, llen) ,
                           "missing column '%s'", t->cols[f].name);
            header_ok = false;
        }
        if (header_ok && next < len)
            tl_parse_all(set, t, hashes, path, text, len, next, ln, nlines, d);
    }
    if (ln == 0 || (ln == 1 && len == 0)) {
        rl_diag_report(d, ADJ_E_TABLE_HEADER, path, NULL, 0, 1, 1, "table %s: empty file, no header",
                       t->name);
        header_ok = false;
    }
    if (header_ok && !t->is_params && !table_index(t, hashes, path, text, len, d))
        rl_diag_report(d, ADJ_E_NOMEM, path, NULL, 0, 0, 0, "table %s index", t->name);
    if (header_ok && !t->is_params)
        tslots_build(t);
    free(hashes);
    if (header_ok && t->is_params) {
        /* Distribute rows to the declared parameters, typed by the rules. */
        for (uint32_t r = 0; r < t->nrows; r++) {
            struct rv name = rl_table_cell(t, r, 0);
            struct rv raw = rl_table_cell(t, r, 1);
            uint32_t p = 0;
            while (p < set->nparams &&
                   !(strlen(set->params[p].name) == name.n && memcmp(set->params[p].name, name.s, name.n) == 0))
                p++;
            if (p == set->nparams) {
                rl_diag_report(d, ADJ_E_TABLE_UNKNOWN_PARAM, path, text, len, t->src_line[r], 1,
                               "'%.*s'", (int)name.n, name.s);
                continue;
            }
            struct rl_param *pp = &set->params[p];
            struct rv v;
            const char *why = NULL;
            uint32_t col = (uint32_t)text_codepoints(name.s, name.n) + 2;
            if (rl_parse_value(set, pp->type, false, raw.s, raw.n, &v, &why) != ADJ_OK) {
                rl_diag_report(d, ADJ_E_TABLE_VALUE, path, text, len, t->src_line[r], col,
                               "parameter %s: %s", pp->name, why);
                continue;
            }
            if (pp->type.kind == RT_CODE && !(v.s = rl_strpool_add(set, raw.s, raw.n))) {
                rl_diag_report(d, ADJ_E_RULE_LIMIT, path, NULL, 0, t->src_line[r], col,
                               "literal pool full");
                continue;
            }
            int32_t from = (int32_t)t->cells[(size_t)r * t->ncols + 2];
            int32_t to = (int32_t)t->cells[(size_t)r * t->ncols + 3];
            /* Insert sorted by from; check neighbours for overlap. */
            uint32_t at = pp->nhist;
            while (at > 0 && pp->hist_from[at - 1] > from)
                at--;
            bool clash = false;
            if (at > 0 && pp->hist_to[at - 1] >= from) {
                rl_diag_report(d, ADJ_E_TABLE_OVERLAP, path, text, len, t->src_line[r], 1,
                               "parameter %s: dates overlap those of line %u", pp->name,
                               pp->hist_line[at - 1]);
                clash = true;
            } else if (at < pp->nhist && pp->hist_from[at] <= to) {
                rl_diag_report(d, ADJ_E_TABLE_OVERLAP, path, text, len, t->src_line[r], 1,
                               "parameter %s: dates overlap those of line %u", pp->name,
                               pp->hist_line[at]);
                clash = true;
            }
            if (clash)
                continue;
            size_t nn = (size_t)pp->nhist + 1;
            int32_t *nf = realloc(pp->hist_from, nn * sizeof *nf);
            if (nf)
                pp->hist_from = nf;
            int32_t *nt = realloc(pp->hist_to, nn * sizeof *nt);
            if (nt)
                pp->hist_to = nt;
            struct rv *nv = realloc(pp->hist_val, nn * sizeof *nv);
            if (nv)
                pp->hist_val = nv;
            uint32_t *nl = realloc(pp->hist_line, nn * sizeof *nl);
            if (nl)
                pp->hist_line = nl;
            if (!nf || !nt || !nv || !nl) {
                rl_diag_report(d, ADJ_E_NOMEM, path, NULL, 0, 0, 0, "params");
                continue;
            }
            for (uint32_t k = pp->nhist; k > at; k--) {
                pp->hist_from[k] = pp->hist_from[k - 1];
                pp->hist_to[k] = pp->hist_to[k - 1];
                pp->hist_val[k] = pp->hist_val[k - 1];
                pp->hist_line[k] = pp->hist_line[k - 1];
            }
            pp->hist_from[at] = from;
            pp->hist_to[at] = to;
            pp->hist_val[at] = v;
            pp->hist_line[at] = t->src_line[r];
            pp->nhist++;
        }
    }
    free(text);
}

void rl_tables_load(struct rules_set *set, const char *dir, struct rl_diag *d)
{
    for (uint32_t i = 0; i < set->ntables; i++)
        table_load(set, &set->tables[i], dir, d);
}
