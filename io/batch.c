/*
 * Batch format v1: the block parser (pure, per block, any thread) and the
 * ordered merge (one thread, block order). See batch.h for the contract and
 * the decisions taken where the spec is silent.
 *
 * The parser takes lines and fields from the block scanner (batch_scan.h:
 * each byte classified once, 64 at a time, noting control bytes and
 * non-ASCII bytes; UTF-8 is validated only for lines that have any), and
 * keeps one "open document" whose lines are appended to the chunk
 * provisionally: a rejected document rolls the chunk back, so only accepted
 * documents remain.
 *
 * Fast paths (l_fast, nid_fast, date_fast, uids_fast, text_ascii_u64) take
 * the common well-formed forms and say "not mine" for anything else, which
 * then goes through the general code unchanged: every reason and column
 * still comes from one place. batch_set_fast_paths(false) turns them off
 * for the tests that compare both.
 */
#include "io/batch.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/assert.h"
#include "core/base/ids.h"
#include "core/base/money.h"
#include "core/base/text.h"
#include "io/batch_scan.h"

/* ---- arrays ---- */

/* Smallest valid records, to size arrays for a block from its byte size:
 * "L\t1\tD\tX\t1\t0\t0\t0\n" is 16 bytes; a document is at least a P line
 * (41 bytes with a 10-digit code and two dates) plus one L line. Arrays
 * start at a typical size and grow (rarely, never per line) up to these. */
#define BATCH_MIN_L_BYTES 16u
#define BATCH_MIN_DOC_BYTES 57u
#define BATCH_TYPICAL_L_BYTES 128u

static bool grow(void **arr, uint32_t *cap, size_t elem, uint32_t need)
{
    if (need <= *cap) {
        return true;
    }
    uint64_t ncap = *cap != 0 ? *cap : 64u;
    while (ncap < need) {
        ncap *= 2;
    }
    if (ncap > UINT32_MAX) {
        return false;
    }
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (p == NULL) {
        return false;
    }
    *arr = p;
    *cap = (uint32_t)ncap;
    return true;
}

enum adj_err batch_chunk_init(struct doc_chunk *chunk, size_t block_bytes_max)
{
    memset(chunk, 0, sizeof *chunk);
    size_t lines = block_bytes_max / BATCH_TYPICAL_L_BYTES + 16;
    if (lines > (1u << 20)) {
        lines = 1u << 20;
    }
    size_t docs = lines / 4 + 16;
    if (!grow((void **)&chunk->docs, &chunk->doc_cap, sizeof(struct doc), (uint32_t)docs) ||
        !grow((void **)&chunk->lines, &chunk->line_cap, sizeof(struct doc_line),
              (uint32_t)lines) ||
        !grow((void **)&chunk->uids, &chunk->uid_cap, sizeof(uint64_t), (uint32_t)lines * 4)) {
        batch_chunk_free(chunk);
        return ADJ_E_NOMEM;
    }
    return ADJ_OK;
}

void batch_chunk_free(struct doc_chunk *chunk)
{
    free(chunk->docs);
    free(chunk->lines);
    free(chunk->uids);
    memset(chunk, 0, sizeof *chunk);
}

enum adj_err batch_result_init(struct batch_block_result *res)
{
    memset(res, 0, sizeof *res);
    if (!grow((void **)&res->rejects, &res->reject_cap, sizeof(struct batch_reject), 256) ||
        !grow((void **)&res->events, &res->event_cap, sizeof(struct batch_event), 16)) {
        batch_result_free(res);
        return ADJ_E_NOMEM;
    }
    return ADJ_OK;
}

void batch_result_free(struct batch_block_result *res)
{
    free(res->rejects);
    free(res->events);
    memset(res, 0, sizeof *res);
}

void batch_chunk_rebase(struct doc_chunk *chunk, uint64_t base)
{
    for (uint32_t i = 0; i < chunk->doc_count; i++) {
        chunk->docs[i].src_line += base;
    }
    for (uint32_t i = 0; i < chunk->line_count; i++) {
        chunk->lines[i].src_line += base;
    }
}

/* Off only in tests (batch_set_fast_paths), which compare both paths. */
static bool fast_paths_on = true;

void batch_set_fast_paths(bool on)
{
    fast_paths_on = on;
}

/* Off only in tests (batch_set_wide_scan). */
static bool wide_scan_on = true;

void batch_set_wide_scan(bool on)
{
    wide_scan_on = on;
}

bool batch_wide_scan_available(void)
{
#if BLOCK_SCAN_WIDE
    return block_scan_wide_supported();
#else
    return false;
#endif
}

/* ---- fields (struct line_view and the scanners: io/batch_scan.h) ---- */

/* Field i (0-based) or an empty field one past the end when omitted. */
static struct field fld(const struct line_view *lv, uint32_t i)
{
    if (i < lv->nfields) {
        return lv->f[i];
    }
    struct field f = {lv->len, 0}; /* Column: one past the end of the line. */
    return f;
}

static const char *fptr(const struct line_view *lv, struct field f)
{
    return lv->s + (f.off <= lv->len ? f.off : lv->len);
}

static uint32_t fcol(struct field f)
{
    return f.off + 1;
}

/* Index of the field containing byte offset off. */
static uint32_t field_of(const struct line_view *lv, uint32_t off)
{
    for (uint32_t i = lv->nfields; i > 0; i--) {
        if (lv->f[i - 1].off <= off) {
            return i - 1;
        }
    }
    return 0;
}

struct verr {
    enum adj_err code;
    uint32_t column;
};

#define VERR_OK ((struct verr){ADJ_OK, 0})

static struct verr verr(enum adj_err code, struct field f)
{
    struct verr v = {code, fcol(f)};
    return v;
}

static bool has_edge_space(const struct line_view *lv, struct field f)
{
    const char *p = fptr(lv, f);
    return f.len > 0 && (p[0] == ' ' || p[f.len - 1] == ' ');
}

/* Zeroes n 8-byte words at p (n a small constant) with plain stores:
 * gcc turned memset, and struct copies from a zero struct, into `rep
 * stos`/`rep movs` in the hot paths, whose start-up cost more than the
 * stores (~10% of the parse's CPU for one per line and one per document). */
__attribute__((always_inline)) static inline void zero_words(void *p, size_t n)
{
    const uint64_t z = 0;
    /* Unrolled whole (n <= 32 here: struct doc is 24 words), or gcc
     * makes the loop a memset again. */
#pragma GCC unroll 32
    for (size_t i = 0; i < n; i++) {
        memcpy((char *)p + 8u * i, &z, 8);
    }
}

/* Copies 0..32 bytes (ids and codes) with at most two overlapping loads
 * and stores each way: a memcpy call per field cost more than the copy. */
_Static_assert(ADJ_ID_BYTES_MAX <= 32 && ADJ_CODE_BYTES_MAX <= 32, "copy_small covers ids");

__attribute__((always_inline)) static inline void copy_small(char *dst, const char *src, size_t len)
{
    ADJ_DEBUG_ASSERT(len <= 32);
    if (len >= 16) {
        char a[16], z[16];
        memcpy(a, src, 16);
        memcpy(z, src + len - 16, 16);
        memcpy(dst, a, 16);
        memcpy(dst + len - 16, z, 16);
    } else if (len >= 8) {
        uint64_t a, z;
        memcpy(&a, src, 8);
        memcpy(&z, src + len - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + len - 8, &z, 8);
    } else if (len >= 4) {
        uint32_t a, z;
        memcpy(&a, src, 4);
        memcpy(&z, src + len - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + len - 4, &z, 4);
    } else {
        for (size_t i = 0; i < len; i++) {
            dst[i] = src[i];
        }
    }
}

/* type id (max ADJ_ID_BYTES_MAX) or code (max ADJ_CODE_BYTES_MAX). */
static struct verr parse_text(const struct line_view *lv, struct field f, uint32_t max,
                              enum adj_err too_long, char *dst, uint8_t *dst_len, bool canon)
{
    if (f.len == 0) {
        return verr(ADJ_E_FIELD_EMPTY, f);
    }
    if (f.len > max) {
        return verr(too_long, f);
    }
    if (has_edge_space(lv, f)) {
        return verr(ADJ_E_FIELD_WHITESPACE, f);
    }
    if (dst != NULL) {
        if (canon && lv->nonascii) {
            text_canonical_key(dst, fptr(lv, f), f.len);
        } else {
            copy_small(dst, fptr(lv, f), f.len);
        }
        dst[f.len] = '\0';
        if (dst_len != NULL) {
            *dst_len = (uint8_t)f.len;
        }
    }
    return VERR_OK;
}

/* True if the 8 bytes at p are all ASCII digits. */
static inline bool digits8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return text_swar_is_digits8(w);
}

/* True if s[0..len) are all ASCII digits. */
static inline bool all_digits(const char *s, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        if (!digits8(s + i)) {
            return false;
        }
    }
    if (len >= 8) {
        return i == len || digits8(s + len - 8); /* Overlapping tail. */
    }
    for (; i < len; i++) {
        if ((unsigned)(unsigned char)s[i] - '0' > 9u) {
            return false;
        }
    }
    return true;
}

/* The common case, ASCII digits only (text_ascii_u64, SWAR); anything
 * else takes text_parse_u64's full path. */
static inline bool ascii_u64(const struct line_view *lv, struct field f, uint64_t *out)
{
    return text_ascii_u64(lv->lo, fptr(lv, f), f.len, out);
}

static struct verr parse_rial(const struct line_view *lv, struct field f, int64_t *out)
{
    uint64_t v = 0;
    if (ascii_u64(lv, f, &v) && v <= (uint64_t)ADJ_RIAL_MAX) {
        *out = (int64_t)v;
        return VERR_OK;
    }
    size_t at;
    enum adj_err e = text_parse_u64(fptr(lv, f), f.len, (uint64_t)ADJ_RIAL_MAX, &v, &at);
    switch (e) {
    case ADJ_OK: *out = (int64_t)v; return VERR_OK;
    case ADJ_E_NUMBER_NOT_NUMERIC: return verr(ADJ_E_AMOUNT_NOT_NUMERIC, f);
    case ADJ_E_NUMBER_RANGE: return verr(ADJ_E_AMOUNT_RANGE, f);
    default: return verr(e, f); /* EMPTY, SIGN, WHITESPACE */
    }
}

/* qty type: 1..ADJ_QTY_MAX. A sign means a negative (or signed) quantity:
 * reported as out of range, which is what it is. */
static struct verr parse_qty(const struct line_view *lv, struct field f, enum adj_err range,
                             uint32_t *out)
{
    uint64_t v = 0;
    if (ascii_u64(lv, f, &v) && v >= 1 && v <= (uint64_t)ADJ_QTY_MAX) {
        *out = (uint32_t)v;
        return VERR_OK;
    }
    size_t at;
    enum adj_err e = text_parse_u64(fptr(lv, f), f.len, (uint64_t)ADJ_QTY_MAX, &v, &at);
    if (e == ADJ_OK && v == 0) {
        e = ADJ_E_NUMBER_RANGE;
    }
    switch (e) {
    case ADJ_OK: *out = (uint32_t)v; return VERR_OK;
    case ADJ_E_NUMBER_RANGE:
    case ADJ_E_NUMBER_SIGN: return verr(range, f);
    default: return verr(e, f);
    }
}

static struct verr parse_count(const struct line_view *lv, struct field f, uint64_t *out)
{
    size_t at;
    enum adj_err e = text_parse_u64(fptr(lv, f), f.len, UINT64_MAX / 2, out, &at);
    return e == ADJ_OK ? VERR_OK : verr(e, f);
}

/* Digits in a string text_parse_u64 accepted: ASCII digits are one byte,
 * Persian and Arabic-Indic two bytes, both >= 0x80. */
static uint32_t digit_count(const char *s, uint32_t len)
{
    uint32_t high = 0;
    for (uint32_t i = 0; i < len; i++) {
        high += (unsigned char)s[i] >= 0x80u;
    }
    return len - high / 2;
}

static struct verr parse_mc(const struct line_view *lv, struct field f, uint32_t *out)
{
    uint64_t v = 0;
    if (f.len <= ADJ_MC_DIGITS_MAX && ascii_u64(lv, f, &v)) {
        *out = (uint32_t)v;
        return VERR_OK;
    }
    size_t at;
    enum adj_err e = text_parse_u64(fptr(lv, f), f.len, 99999999u, &v, &at);
    if (e == ADJ_E_FIELD_EMPTY || e == ADJ_E_FIELD_WHITESPACE) {
        return verr(e, f);
    }
    if (e != ADJ_OK || digit_count(fptr(lv, f), f.len) > ADJ_MC_DIGITS_MAX) {
        return verr(ADJ_E_MC_FORMAT, f);
    }
    *out = (uint32_t)v;
    return VERR_OK;
}

/* The common date: ten ASCII bytes YYYY/MM/DD or YYYY-MM-DD, year in range,
 * a day every year has (the 30th of Esfand, leap years only, is left to
 * jdate_parse). False for anything else, which jdate_parse then handles
 * with its error. */
__attribute__((always_inline)) static inline bool date_fast(const struct line_view *lv,
                                                            struct field f, struct jdate *d)
{
    const char *s = fptr(lv, f);
    if (ADJ_UNLIKELY(!fast_paths_on || f.len != 10 || (s[4] != '/' && s[4] != '-') ||
                     s[7] != s[4])) {
        return false;
    }
    /* "YYYY/MM/" and "YY/MM/DD" as two words (little-endian: byte i is
     * character i); separators, and in the second word all but DD, become
     * '0' so that each is eight digits (SWAR, text.h). */
    uint64_t w0, w1;
    memcpy(&w0, s, 8);
    memcpy(&w1, s + 2, 8);
    const uint64_t seps = 0xFF0000FF00000000ull; /* Bytes 4 and 7. */
    w0 = (w0 & ~seps) | (0x3030303030303030ull & seps);
    w1 = (w1 & 0xFFFF000000000000ull) | 0x0000303030303030ull;
    if (ADJ_UNLIKELY(!text_swar_is_digits8(w0) || !text_swar_is_digits8(w1))) {
        return false;
    }
    /* Digits now: each byte's low nibble is its value (cheaper than two
     * multiply-shift conversions and the divisions to split them). */
#define DATE_DIGIT(w, i) ((int32_t)(((w) >> (8u * (i))) & 0xFu))
    int32_t y = DATE_DIGIT(w0, 0) * 1000 + DATE_DIGIT(w0, 1) * 100 + DATE_DIGIT(w0, 2) * 10 +
                DATE_DIGIT(w0, 3);
    int32_t m = DATE_DIGIT(w0, 5) * 10 + DATE_DIGIT(w0, 6);
    int32_t day = DATE_DIGIT(w1, 6) * 10 + DATE_DIGIT(w1, 7);
#undef DATE_DIGIT
    if (ADJ_UNLIKELY(y < ADJ_JYEAR_MIN || y > ADJ_JYEAR_MAX || m < 1 || m > 12 || day < 1 ||
                     day > (m <= 6 ? 31 : m <= 11 ? 30 : 29))) {
        return false;
    }
    d->year = y;
    d->month = m;
    d->day = day;
    return true;
}

static struct verr parse_date(const struct line_view *lv, struct field f, struct jdate *d,
                              int32_t *days)
{
    if (date_fast(lv, f, d)) {
        /* Not jdate_to_days(*d): see jdate_ymd_to_days. */
        *days = jdate_ymd_to_days(d->year, d->month, d->day);
        return VERR_OK;
    }
    size_t at;
    enum adj_err e = jdate_parse(fptr(lv, f), f.len, d, &at);
    if (e != ADJ_OK) {
        return verr(e, f);
    }
    *days = jdate_to_days(*d);
    return VERR_OK;
}

/* The common national code: ten ASCII digits, not all equal, check digit
 * right (batch-format.md). True with the value; false for anything else,
 * which ids_nid_parse then handles with its error. */
__attribute__((always_inline)) static inline bool nid_fast(const struct line_view *lv,
                                                           struct field f, uint64_t *out)
{
    const char *s = fptr(lv, f);
    uint64_t v;
    if (ADJ_UNLIKELY(!fast_paths_on || f.len != 10 || !text_ascii_u64(lv->lo, s, 10, &v))) {
        return false;
    }
    /* The weighted sum of digits 0..8 (weights 10..2) without a loop:
     * for the first eight, d * 0x0101..01 leaves in byte j the sum of
     * digits 0..j (at most 72: no carry between bytes); the sum of those
     * eight prefix sums (widened to 16-bit lanes first: up to 576) is
     * sum (8 - i) * d_i, and 2 * sum d_i more makes the weights 10..3. */
    uint64_t w;
    memcpy(&w, s, 8);
    uint64_t d = w - 0x3030303030303030ull; /* Digits, one per byte (checked above). */
    uint64_t pre = d * 0x0101010101010101ull;
    uint64_t pairs = (pre & 0x00FF00FF00FF00FFull) + ((pre >> 8) & 0x00FF00FF00FF00FFull);
    uint64_t sum = ((pairs * 0x0001000100010001ull) >> 48) + 2u * (pre >> 56) +
                   2u * (uint64_t)(s[8] - '0');
    uint64_t r = sum % 11u;
    uint64_t check = (uint64_t)(s[9] - '0');
    bool all_equal = w == 0x0101010101010101ull * (uint64_t)(unsigned char)s[9] && s[8] == s[9];
    if (ADJ_UNLIKELY(all_equal || (r < 2 ? r : 11u - r) != check)) {
        return false;
    }
    *out = v;
    return true;
}

static struct verr parse_nid(const struct line_view *lv, struct field f, uint64_t *out)
{
    if (nid_fast(lv, f, out)) {
        return VERR_OK;
    }
    size_t at;
    enum adj_err e = ids_nid_parse(fptr(lv, f), f.len, out, &at);
    if (e == ADJ_E_NUMBER_NOT_NUMERIC && has_edge_space(lv, f)) {
        e = ADJ_E_FIELD_WHITESPACE;
    }
    return e == ADJ_OK ? VERR_OK : verr(e, f);
}

static struct verr parse_letter(const struct line_view *lv, struct field f, const char *allowed,
                                uint8_t *out)
{
    if (f.len == 0) {
        return verr(ADJ_E_FIELD_EMPTY, f);
    }
    char c = fptr(lv, f)[0];
    bool ok = false;
    for (const char *a = allowed; *a != '\0'; a++) {
        ok = ok || *a == c;
    }
    if (f.len != 1 || !ok) {
        return verr(ADJ_E_ENUM_VALUE, f);
    }
    *out = (uint8_t)c;
    return VERR_OK;
}

/* A line's own problems before its fields are read: control bytes, bad
 * UTF-8, too many fields. */
static struct verr line_checks(struct line_view *lv, uint32_t fields_max)
{
    if (lv->ctrl_at != UINT32_MAX) {
        return verr(ADJ_E_CONTROL_CHAR, lv->f[field_of(lv, lv->ctrl_at)]);
    }
    if (lv->nonascii) {
        size_t bad;
        if (!text_utf8_valid(lv->s, lv->len, &bad)) {
            return verr(ADJ_E_UTF8_INVALID, lv->f[field_of(lv, (uint32_t)bad)]);
        }
    }
    /* too_many implies nfields == ADJ_FIELDS_PER_LINE_MAX > fields_max. */
    if (lv->nfields > fields_max) {
        return verr(ADJ_E_FIELD_COUNT, lv->f[fields_max]);
    }
    return VERR_OK;
}

#define TRY(expr)                                                                             \
    do {                                                                                      \
        struct verr try_v_ = (expr);                                                          \
        if (try_v_.code != ADJ_OK) {                                                          \
            return try_v_;                                                                    \
        }                                                                                     \
    } while (0)

/* ---- records ---- */

static struct verr parse_header(struct line_view *lv, struct batch_header *h)
{
    memset(h, 0, sizeof *h);
    TRY(line_checks(lv, 7));
    struct field f = fld(lv, 1);
    if (f.len == 0) {
        return verr(ADJ_E_FIELD_EMPTY, f);
    }
    if (f.len != 1 || fptr(lv, f)[0] != '1') {
        return verr(ADJ_E_BATCH_VERSION, f);
    }
    /* Canonical (Arabic yeh and kaf folded, as every id is compared): the
     * batch id is the ledger's idempotency key, so two spellings of one
     * id must be one batch. */
    TRY(parse_text(lv, fld(lv, 2), ADJ_ID_BYTES_MAX, ADJ_E_ID_FORMAT, h->batch_id, NULL, true));
    TRY(parse_text(lv, fld(lv, 3), ADJ_ID_BYTES_MAX, ADJ_E_ID_FORMAT, h->province, NULL, false));
    f = fld(lv, 4);
    size_t at;
    enum adj_err e = jdate_parse_month(fptr(lv, f), f.len, &h->period, &at);
    if (e != ADJ_OK) {
        return verr(e == ADJ_E_DATE_FORMAT ? ADJ_E_MONTH_FORMAT : e, f);
    }
    int32_t days;
    TRY(parse_date(lv, fld(lv, 5), &h->created, &days));
    TRY(parse_text(lv, fld(lv, 6), ADJ_ID_BYTES_MAX, ADJ_E_ID_FORMAT, h->source, NULL, false));
    h->valid = true;
    return VERR_OK;
}

static struct verr parse_trailer(struct line_view *lv, struct batch_trailer *t)
{
    memset(t, 0, sizeof *t);
    for (uint32_t i = 0; i < 6; i++) {
        t->column[i] = fcol(fld(lv, i));
    }
    TRY(line_checks(lv, 6));
    TRY(parse_count(lv, fld(lv, 1), &t->doc_count));
    TRY(parse_count(lv, fld(lv, 2), &t->line_count));
    TRY(parse_rial(lv, fld(lv, 3), &t->sum_claimed_total));
    TRY(parse_rial(lv, fld(lv, 4), &t->sum_claimed_insurer));
    TRY(parse_rial(lv, fld(lv, 5), &t->sum_claimed_daroyar));
    t->valid = true;
    return VERR_OK;
}

static struct verr parse_doc_header(struct line_view *lv, char kind, struct doc *d)
{
    d->kind = (uint8_t)kind;
    d->stay = DOC_STAY_NONE;
    d->prescriber_mc = 0;
    d->diagnosis_len = 0;
    d->diagnosis[0] = '\0';
    TRY(line_checks(lv, kind == 'P' ? 7 : 8));
    struct field fid = fld(lv, 1);
    TRY(parse_text(lv, fid, ADJ_ID_BYTES_MAX, ADJ_E_ID_FORMAT, d->doc_id_raw, &d->doc_id_len,
                   false));
    if (lv->nonascii) {
        text_canonical_key(d->doc_id, d->doc_id_raw, d->doc_id_len);
    } else {
        copy_small(d->doc_id, d->doc_id_raw, d->doc_id_len); /* ASCII: nothing to fold. */
    }
    d->doc_id[d->doc_id_len] = '\0';
    TRY(parse_text(lv, fld(lv, 2), ADJ_ID_BYTES_MAX, ADJ_E_ID_FORMAT, d->center, &d->center_len,
                   true));
    TRY(parse_nid(lv, fld(lv, 3), &d->patient_nid));
    uint32_t date_field = 4;
    if (kind == 'P') {
        TRY(parse_mc(lv, fld(lv, 4), &d->prescriber_mc));
        date_field = 5;
    }
    TRY(parse_date(lv, fld(lv, date_field), &d->date1, &d->date1_days));
    struct field f2 = fld(lv, date_field + 1);
    TRY(parse_date(lv, f2, &d->date2, &d->date2_days));
    if (d->date2_days < d->date1_days) {
        return verr(ADJ_E_DATE_ORDER, f2);
    }
    if (kind == 'I') {
        TRY(parse_letter(lv, fld(lv, 6), "BM", &d->stay));
        TRY(parse_text(lv, fld(lv, 7), ADJ_CODE_BYTES_MAX, ADJ_E_CODE_FORMAT, d->diagnosis,
                       &d->diagnosis_len, true));
    }
    return VERR_OK;
}

/* Adds the L record's valid rial columns to the trailer sums, whatever else
 * is wrong with the line (batch-format.md: a field that is not a valid rial
 * contributes nothing). */
/* claimed_total, claimed_insurer, claimed_daroyar of an L line, parsed
 * once for both the trailer sums and the line itself. */
struct l_amounts {
    int64_t v[3];
    struct verr e[3];
};

static void sum_line(const struct line_view *lv, struct batch_totals *t, struct l_amounts *a)
{
    for (uint32_t k = 0; k < 3; k++) {
        a->v[k] = 0;
        a->e[k] = parse_rial(lv, fld(lv, 6 + k), &a->v[k]);
    }
    if (a->e[0].code == ADJ_OK) {
        t->sum_total += (unsigned __int128)a->v[0];
    }
    if (a->e[1].code == ADJ_OK) {
        t->sum_insurer += (unsigned __int128)a->v[1];
    }
    if (a->e[2].code == ADJ_OK) {
        t->sum_daroyar += (unsigned __int128)a->v[2];
    }
}

/* An L line over the length limit is rejected with its document, but its
 * amounts are still the trailer's (batch-format.md: every L record read
 * whose field is a valid rial). The reader keeps the line's first
 * IO_LONG_LINE_KEEP bytes; the amount columns, near its start, count when
 * they lie whole inside them (a TAB after them, or the whole line kept).
 * Leaves lv as it found it: only the record type is trusted. */
static void sum_long_line(struct line_view *lv, struct batch_totals *t)
{
    uint32_t start = 0;
    uint32_t k = 0;
    /* Bounded: up to 9 fields, one memchr each over the kept bytes. */
    while (k < 9u) {
        const char *tab = memchr(lv->s + start, '\t', lv->len - start);
        if (tab == NULL) {
            if (lv->len < IO_LONG_LINE_KEEP) { /* kept whole: so is its last field */
                lv->f[k].off = start;
                lv->f[k].len = lv->len - start;
                k++;
            }
            break;
        }
        uint32_t end = (uint32_t)(tab - lv->s);
        lv->f[k].off = start;
        lv->f[k].len = end - start;
        k++;
        start = end + 1;
    }
    lv->nfields = k; /* Fields past k read as absent: they add nothing. */
    struct l_amounts am;
    sum_line(lv, t, &am);
    lv->nfields = 1; /* f[0], the record type, is what on_line set */
}

struct uid_sink {
    struct doc_chunk *chunk;
    bool nomem;
};

static struct verr parse_uids(const struct line_view *lv, struct field f, struct doc_line *ln,
                              struct uid_sink *sink)
{
    struct doc_chunk *c = sink->chunk;
    ln->uid_first = c->uid_count;
    ln->uid_count = 0;
    if (f.len == 0) {
        return VERR_OK;
    }
    const char *p = fptr(lv, f);
    const char *end = p + f.len;
    /* Bounded: each pass consumes one uid and its comma. */
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma != NULL ? comma : end;
        size_t len = (size_t)(stop - p);
        bool digits20 = len == 20 && all_digits(p, 20);
        if (!digits20 && !ids_uid_well_formed(p, len)) {
            return verr(ADJ_E_UID_FORMAT, f);
        }
        if (ln->uid_count >= ADJ_UIDS_PER_LINE_MAX) {
            return verr(ADJ_E_UID_FORMAT, f);
        }
        if (c->uid_count >= c->uid_cap &&
            !grow((void **)&c->uids, &c->uid_cap, sizeof(uint64_t), c->uid_count + 1)) {
            sink->nomem = true;
            return verr(ADJ_E_NOMEM, f);
        }
        c->uids[c->uid_count++] = ids_uid_pack(p, len);
        ln->uid_count++;
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    return VERR_OK;
}

static struct verr parse_l(struct line_view *lv, char doc_kind, uint32_t expect_no,
                           const struct l_amounts *am, struct doc_line *ln, struct uid_sink *sink)
{
    TRY(line_checks(lv, 12));
    struct field f = fld(lv, 1);
    TRY(parse_qty(lv, f, ADJ_E_NUMBER_RANGE, &ln->line_no));
    if (ln->line_no != expect_no) {
        return verr(ADJ_E_LINE_NO_ORDER, f);
    }
    f = fld(lv, 2);
    TRY(parse_letter(lv, f, "DSKB", &ln->kind));
    if (doc_kind == 'P' && ln->kind != LINE_KIND_D) {
        return verr(ADJ_E_LINE_KIND, f);
    }
    uint8_t code_len = 0;
    TRY(parse_text(lv, fld(lv, 3), ADJ_CODE_BYTES_MAX, ADJ_E_CODE_FORMAT, ln->code, &code_len,
                   true));
    ln->code_len = code_len;
    TRY(parse_qty(lv, fld(lv, 4), ADJ_E_QTY_RANGE, &ln->qty));
    TRY(parse_rial(lv, fld(lv, 5), &ln->unit_price_rials));
    f = fld(lv, 6);
    TRY(am->e[0]);
    ln->claimed_total_rials = am->v[0];
    TRY(am->e[1]);
    ln->claimed_insurer_rials = am->v[1];
    int64_t product;
    if (!money_mul((int64_t)ln->qty, ln->unit_price_rials, &product)) {
        return verr(ADJ_E_AMOUNT_OVERFLOW, f);
    }
    if (product != ln->claimed_total_rials) {
        return verr(ADJ_E_TOTAL_MISMATCH, f);
    }
    f = fld(lv, 8);
    ln->claimed_daroyar_rials = 0;
    if (f.len > 0) {
        TRY(am->e[2]);
        ln->claimed_daroyar_rials = am->v[2];
    }
    f = fld(lv, 9);
    ln->has_physician = 0;
    ln->physician_mc = 0;
    if (f.len > 0) {
        TRY(parse_mc(lv, f, &ln->physician_mc));
        ln->has_physician = 1;
    }
    f = fld(lv, 10);
    ln->tariff_class = TARIFF_NONE;
    if (f.len > 0) {
        TRY(parse_letter(lv, f, "GF", &ln->tariff_class));
    }
    return parse_uids(lv, fld(lv, 11), ln, sink);
}

/* ---- the block parser ---- */

static const struct doc_line zero_line;
static const struct doc zero_doc;

struct open_doc {
    bool open;
    bool continuation;  /* Lines of a too-large document from an earlier block. */
    bool rejected;
    char kind;
    uint32_t raw_begin;
    uint64_t line;      /* Line of the P/I record. */
    uint32_t l_count;   /* L records seen. */
    uint32_t line_first, uid_first;
    struct batch_reject rej;
};

struct parser {
    const struct io_block *block;
    struct doc_chunk *chunk;
    struct batch_block_result *res;
    struct open_doc d;
    bool after_trailer;
    bool after_trailer_reported;
};

static void add_event(struct parser *p, uint8_t kind, uint64_t line, uint32_t column,
                      enum adj_err code, uint8_t index)
{
    struct batch_block_result *res = p->res;
    if (res->event_count >= BATCH_EVENTS_MAX ||
        (res->event_count >= res->event_cap &&
         !grow((void **)&res->events, &res->event_cap, sizeof(struct batch_event),
               res->event_count + 1))) {
        res->events_dropped++;
        if (res->event_count < BATCH_EVENTS_MAX) {
            res->alloc_err = ADJ_E_NOMEM;
        }
        return;
    }
    struct batch_event *ev = &res->events[res->event_count++];
    ev->line = line;
    ev->column = column;
    ev->code = (uint16_t)code;
    ev->kind = kind;
    ev->index = index;
}

static void doc_reject(struct parser *p, enum adj_err code, uint64_t line, uint32_t column)
{
    if (p->d.rejected) {
        return; /* The first reason stands. */
    }
    p->d.rejected = true;
    p->d.rej.code = (uint16_t)code;
    p->d.rej.line = line;
    p->d.rej.column = column;
    /* Provisional lines of this document leave the chunk. */
    p->chunk->line_count = p->d.line_first;
    p->chunk->uid_count = p->d.uid_first;
}

static void doc_close(struct parser *p, uint32_t raw_end)
{
    struct open_doc *d = &p->d;
    if (!d->open) {
        return;
    }
    d->open = false;
    if (!d->continuation && !d->rejected && d->l_count == 0) {
        doc_reject(p, ADJ_E_DOC_NO_LINES, d->line, 1);
    }
    if (!d->rejected) {
        struct doc *doc = &p->chunk->docs[p->chunk->doc_count];
        doc->line_first = d->line_first;
        doc->line_count = d->l_count;
        doc->raw_begin = d->raw_begin;
        doc->raw_end = raw_end;
        p->chunk->doc_count++;
        p->res->docs_accepted++;
        return;
    }
    struct batch_block_result *res = p->res;
    if (res->reject_count >= res->reject_cap &&
        !grow((void **)&res->rejects, &res->reject_cap, sizeof(struct batch_reject),
              res->reject_count + 1)) {
        /* Cannot record it: the merge turns alloc_err into a batch error,
         * so the batch is never verified on incomplete bookkeeping. */
        res->alloc_err = ADJ_E_NOMEM;
        if (!d->continuation) {
            res->docs_rejected++;
        }
        return;
    }
    struct batch_reject *r = &res->rejects[res->reject_count++];
    *r = d->rej;
    r->doc_line = d->continuation ? 0 : d->line;
    r->raw_begin = d->raw_begin;
    r->raw_end = raw_end;
    r->continuation = d->continuation;
    if (!d->continuation) {
        res->docs_rejected++;
    }
}

static void doc_open(struct parser *p, char kind, uint32_t raw_begin, uint64_t line)
{
    struct open_doc *d = &p->d;
    /* Field by field (zero_words for the reject), not one memset of the
     * struct: same bytes, no `rep stos`. */
    d->open = true;
    d->continuation = false;
    d->rejected = false;
    d->kind = kind;
    d->raw_begin = raw_begin;
    d->line = line;
    d->l_count = 0;
    d->line_first = p->chunk->line_count;
    d->uid_first = p->chunk->uid_count;
    zero_words(&d->rej, sizeof d->rej / 8u);
    if (p->chunk->doc_count >= p->chunk->doc_cap &&
        !grow((void **)&p->chunk->docs, &p->chunk->doc_cap, sizeof(struct doc),
              p->chunk->doc_count + 1)) {
        p->res->alloc_err = ADJ_E_NOMEM;
        doc_reject(p, ADJ_E_NOMEM, line, 1);
    }
}

static void copy_doc_id(struct batch_reject *r, const struct line_view *lv)
{
    struct field f = fld(lv, 1);
    size_t n = f.len < ADJ_ID_BYTES_MAX ? f.len : ADJ_ID_BYTES_MAX;
    copy_small(r->doc_id, fptr(lv, f), n);
    r->doc_id[n] = '\0';
    /* Bounded by n; only a line with control bytes can hold one here. */
    for (size_t i = 0; lv->ctrl_at != UINT32_MAX && i < n; i++) {
        if ((unsigned char)r->doc_id[i] < 0x20u) {
            r->doc_id[i] = '?'; /* Messages stay one line. */
        }
    }
}

/* An id or code field of the common form: 1..max bytes, no space at
 * either end (parse_text's checks; the line is known to be ASCII). */
__attribute__((always_inline)) static inline bool text_field_fast(const struct line_view *lv,
                                                                  struct field f, uint32_t max)
{
    const char *t = lv->s + f.off;
    return f.len >= 1 && f.len <= max && t[0] != ' ' && t[f.len - 1] != ' ';
}

/*
 * A P or I record of the common form, parsed in one go: printable ASCII,
 * exactly its 7 or 8 fields, each well formed (fast forms of parse_text,
 * nid_fast, parse_mc, date_fast, parse_letter), dates in order. Fills *doc
 * exactly as `*doc = zero_doc` + parse_doc_header do and returns true; for
 * any other line returns false (*doc may be half written: the general path
 * then zeroes and parses it with its reasons and columns).
 */
__attribute__((always_inline)) static inline bool doc_header_fast(const struct line_view *lv,
                                                                  char kind, struct doc *doc)
{
    uint32_t nf = kind == 'P' ? 7u : 8u;
    if (ADJ_UNLIKELY(!fast_paths_on || lv->nonascii || lv->ctrl_at != UINT32_MAX ||
                     lv->nfields != nf)) {
        return false;
    }
    const char *s = lv->s;
    const struct field *f = lv->f;
    if (ADJ_UNLIKELY(!text_field_fast(lv, f[1], ADJ_ID_BYTES_MAX) ||
                     !text_field_fast(lv, f[2], ADJ_ID_BYTES_MAX))) {
        return false;
    }
    uint64_t nid, mc = 0;
    if (ADJ_UNLIKELY(!nid_fast(lv, f[3], &nid))) {
        return false;
    }
    uint32_t df = 4; /* The first date's field. */
    if (kind == 'P') {
        if (ADJ_UNLIKELY(f[4].len > ADJ_MC_DIGITS_MAX ||
                         !text_ascii_u64(lv->lo, s + f[4].off, f[4].len, &mc))) {
            return false;
        }
        df = 5;
    }
    struct jdate d1, d2;
    if (ADJ_UNLIKELY(!date_fast(lv, f[df], &d1) || !date_fast(lv, f[df + 1], &d2))) {
        return false;
    }
    int32_t days1 = jdate_ymd_to_days(d1.year, d1.month, d1.day);
    int32_t days2 = jdate_ymd_to_days(d2.year, d2.month, d2.day);
    if (ADJ_UNLIKELY(days2 < days1)) {
        return false;
    }
    uint8_t stay = DOC_STAY_NONE;
    if (kind == 'I') {
        char c = s[f[6].off];
        if (ADJ_UNLIKELY(f[6].len != 1 || (c != DOC_STAY_B && c != DOC_STAY_M) ||
                         !text_field_fast(lv, f[7], ADJ_CODE_BYTES_MAX))) {
            return false;
        }
        stay = (uint8_t)c;
    }
    zero_words(doc, sizeof *doc / 8u);
    doc->patient_nid = nid;
    doc->prescriber_mc = (uint32_t)mc;
    doc->date1 = d1;
    doc->date2 = d2;
    doc->date1_days = days1;
    doc->date2_days = days2;
    doc->kind = (uint8_t)kind;
    doc->stay = stay;
    /* ASCII: the canonical doc_id is the id as read. Strings end in the
     * zeroes already there. */
    copy_small(doc->doc_id_raw, s + f[1].off, f[1].len);
    copy_small(doc->doc_id, s + f[1].off, f[1].len);
    doc->doc_id_len = (uint8_t)f[1].len;
    copy_small(doc->center, s + f[2].off, f[2].len);
    doc->center_len = (uint8_t)f[2].len;
    if (kind == 'I') {
        copy_small(doc->diagnosis, s + f[7].off, f[7].len);
        doc->diagnosis_len = (uint8_t)f[7].len;
    }
    return true;
}
_Static_assert(sizeof(struct doc) % 8u == 0, "zero_words covers struct doc");

static void on_doc_header(struct parser *p, struct line_view *lv, char kind, uint32_t raw_begin,
                          uint64_t line, bool too_long)
{
    doc_open(p, kind, raw_begin, line);
    if (too_long) {
        doc_reject(p, ADJ_E_LINE_TOO_LONG, line, ADJ_LINE_BYTES_MAX + 1);
        return;
    }
    copy_doc_id(&p->d.rej, lv);
    if (p->d.rejected) {
        return;
    }
    struct doc *doc = &p->chunk->docs[p->chunk->doc_count];
    if (doc_header_fast(lv, kind, doc)) {
        doc->src_line = line;
        return;
    }
    /* Zeroed so that equal documents are equal bytes (padding, string
     * tails): the pipeline may hash or compare them. */
    *doc = zero_doc;
    struct verr v = parse_doc_header(lv, kind, doc);
    if (v.code != ADJ_OK) {
        doc_reject(p, v.code, line, v.column);
        return;
    }
    doc->src_line = line;
}

static void on_l(struct parser *p, struct line_view *lv, uint64_t line, bool too_long,
                 const struct l_amounts *am)
{
    struct open_doc *d = &p->d;
    d->l_count++;
    if (d->rejected) {
        return;
    }
    if (too_long) {
        doc_reject(p, ADJ_E_LINE_TOO_LONG, line, ADJ_LINE_BYTES_MAX + 1);
        return;
    }
    if (d->l_count > ADJ_LINES_PER_DOC_MAX) {
        doc_reject(p, ADJ_E_DOC_TOO_MANY_LINES, line, 1);
        return;
    }
    struct doc_chunk *c = p->chunk;
    if (c->line_count >= c->line_cap &&
        !grow((void **)&c->lines, &c->line_cap, sizeof(struct doc_line), c->line_count + 1)) {
        p->res->alloc_err = ADJ_E_NOMEM;
        doc_reject(p, ADJ_E_NOMEM, line, 1);
        return;
    }
    struct doc_line *ln = &c->lines[c->line_count];
    *ln = zero_line; /* A struct copy: cheaper than memset's rep stos here. */
    struct uid_sink sink = {c, false};
    struct verr v = parse_l(lv, d->kind, d->l_count, am, ln, &sink);
    if (sink.nomem) {
        p->res->alloc_err = ADJ_E_NOMEM;
    }
    if (v.code != ADJ_OK) {
        doc_reject(p, v.code, line, v.column);
        return;
    }
    ln->src_line = line;
    c->line_count++;
}

/* ---- fast paths ---- */

/* l_fast writes every field of a doc_line before `code` and zeroes the
 * rest: that is the whole struct only if nothing (no padding) lies between
 * those fields. */
_Static_assert(offsetof(struct doc_line, code) ==
                   5 * sizeof(int64_t) + 5 * sizeof(uint32_t) + 4 * sizeof(uint8_t),
               "struct doc_line: no padding before code");
_Static_assert((sizeof(struct doc_line) - offsetof(struct doc_line, code)) % 8u == 0 &&
                   sizeof(struct batch_reject) % 8u == 0,
               "zero_words covers the doc_line tail and the reject");

/* A rial field of printable ASCII digits within range, else false. */
__attribute__((always_inline)) static inline bool rial_fast(const struct line_view *lv, struct field f, int64_t *out)
{
    uint64_t v;
    if (ADJ_UNLIKELY(!text_ascii_u64(lv->lo, lv->s + f.off, f.len, &v) ||
                     v > (uint64_t)ADJ_RIAL_MAX)) {
        return false;
    }
    *out = (int64_t)v;
    return true;
}

/* Pack ids that are all the common form: 20 ASCII digits separated by
 * single commas. Appends their keys (what ids_uid_pack gives)
 * and returns true; false (nothing appended) for anything else, which the
 * general parse_uids then handles. */
__attribute__((always_inline)) static inline bool uids_fast(const struct line_view *lv,
                                                            struct field f, struct doc_chunk *c,
                                                            uint32_t *count)
{
    const char *p = lv->s + f.off;
    size_t rem = f.len;
    uint32_t n = 0;
    /* Room for every id the field can hold, rem / 21 + 1 (the general path
     * grows); said without a division, which gcc emitted as `div` here. */
    if (ADJ_UNLIKELY(c->uid_count >= c->uid_cap ||
                     rem >= 21u * (uint64_t)(c->uid_cap - c->uid_count))) {
        return false;
    }
    /* Bounded: each pass consumes 21 bytes (an id and its comma) or ends. */
    for (;;) {
        if (ADJ_UNLIKELY(rem < 20)) {
            return false;
        }
        /* Digits 0-7, 6-13 and 12-19 (overlapping), checked eight at a
         * time, then valued as d0..d4, d6..d13 and d14..d19 (the bytes
         * not wanted become leading '0's): no divisions (gcc emitted
         * `div` for the splits of whole words this replaced). */
        uint64_t w0, w1, w2;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 6, 8);
        memcpy(&w2, p + 12, 8);
        if (ADJ_UNLIKELY(!text_swar_is_digits8(w0) || !text_swar_is_digits8(w1) ||
                         !text_swar_is_digits8(w2))) {
            return false;
        }
        /* Little-endian: byte i is digit i of the word. */
        uint64_t a = text_swar_value8((w0 << 24) | 0x303030u);       /* d0..d4 */
        uint64_t b = text_swar_value8(w1);                            /* d6..d13 */
        uint64_t z = text_swar_value8((w2 & ~0xFFFFull) | 0x3030u);   /* d14..d19 */
        /* ids_uid_pack: the sixth digit must be '0' for a unit-level pack;
         * the key is the other 19 digits. */
        uint64_t key = a * 100000000000000ull + b * 1000000u + z;
        c->uids[c->uid_count + n++] = p[5] == '0' ? key : IDS_UID_INVALID;
        if (rem == 20) {
            break;
        }
        if (ADJ_UNLIKELY(p[20] != ',' || rem == 21)) { /* Not a comma, or a trailing one. */
            return false;
        }
        p += 21;
        rem -= 21;
    }
    c->uid_count += n;
    *count = n;
    return true;
}

/*
 * An L line of the common form, parsed in one go: printable ASCII (no
 * control bytes, no UTF-8), every field well formed. Gives exactly what
 * sum_line + on_l give for such a line (same doc_line bytes, same sums);
 * returns false, having changed nothing, for any other line, which then
 * takes the general path with its error reasons and columns.
 * tests/unit/test_batch_scan.c and the fixture driver run both paths.
 */
__attribute__((always_inline)) static inline bool l_fast(struct parser *p,
                                                         const struct line_view *lv, uint64_t line)
{
    struct open_doc *d = &p->d;
    struct doc_chunk *c = p->chunk;
    uint32_t nf = lv->nfields;
    if (ADJ_UNLIKELY(!fast_paths_on || !d->open || d->rejected || lv->nonascii ||
                     lv->ctrl_at != UINT32_MAX || nf < 8 || nf > 12 ||
                     d->l_count >= ADJ_LINES_PER_DOC_MAX || c->line_count >= c->line_cap)) {
        return false;
    }
    const char *s = lv->s;
    const struct field *f = lv->f;
    uint64_t no, qty;
    if (ADJ_UNLIKELY(!text_ascii_u64(lv->lo, s + f[1].off, f[1].len, &no) ||
                     no != d->l_count + 1u)) {
        return false;
    }
    char kind = s[f[2].off];
    if (ADJ_UNLIKELY(f[2].len != 1 ||
                     !(kind == 'D' || (d->kind == 'I' && (kind == 'S' || kind == 'K' || kind == 'B'))))) {
        return false;
    }
    const char *code = s + f[3].off;
    uint32_t code_len = f[3].len;
    if (ADJ_UNLIKELY(code_len == 0 || code_len > ADJ_CODE_BYTES_MAX || code[0] == ' ' ||
                     code[code_len - 1] == ' ')) {
        return false;
    }
    if (ADJ_UNLIKELY(!text_ascii_u64(lv->lo, s + f[4].off, f[4].len, &qty) || qty < 1 ||
                     qty > (uint64_t)ADJ_QTY_MAX)) {
        return false;
    }
    int64_t price, total, insurer, daroyar = 0, product;
    if (ADJ_UNLIKELY(!rial_fast(lv, f[5], &price) || !rial_fast(lv, f[6], &total) ||
                     !rial_fast(lv, f[7], &insurer) ||
                     (nf > 8 && f[8].len > 0 && !rial_fast(lv, f[8], &daroyar)))) {
        return false;
    }
    if (ADJ_UNLIKELY(!money_mul((int64_t)qty, price, &product) || product != total)) {
        return false;
    }
    uint64_t mc = 0;
    bool has_mc = nf > 9 && f[9].len > 0;
    if (ADJ_UNLIKELY(has_mc && (f[9].len > ADJ_MC_DIGITS_MAX ||
                                !text_ascii_u64(lv->lo, s + f[9].off, f[9].len, &mc)))) {
        return false;
    }
    uint8_t tariff = TARIFF_NONE;
    if (nf > 10 && f[10].len > 0) {
        tariff = (uint8_t)s[f[10].off];
        if (ADJ_UNLIKELY(f[10].len != 1 || (tariff != TARIFF_G && tariff != TARIFF_F))) {
            return false;
        }
    }
    uint32_t uid_first = c->uid_count, uid_n = 0;
    if (ADJ_UNLIKELY(nf > 11 && f[11].len > 0 && !uids_fast(lv, f[11], c, &uid_n))) {
        return false;
    }
    struct doc_line *ln = &c->lines[c->line_count];
    /* The line array is written once, front to back, and is colder than
     * L2: ask for the slots a few lines ahead now, so that the stores
     * below do not wait for their cache lines. */
    __builtin_prefetch(ln + 8, 1);
    /* The same bytes as `*ln = zero_line` and the stores below (on_l), but
     * only the code and the struct's tail are zeroed (zero_words): every
     * field before them is written here. */
    zero_words((char *)ln + offsetof(struct doc_line, code),
               (sizeof *ln - offsetof(struct doc_line, code)) / 8u);
    ln->line_no = (uint32_t)no;
    ln->kind = (uint8_t)kind;
    copy_small(ln->code, code, code_len);
    ln->code_len = (uint8_t)code_len;
    ln->qty = (uint32_t)qty;
    ln->unit_price_rials = price;
    ln->claimed_total_rials = total;
    ln->claimed_insurer_rials = insurer;
    ln->claimed_daroyar_rials = daroyar;
    ln->has_physician = has_mc ? 1 : 0;
    ln->physician_mc = (uint32_t)mc;
    ln->tariff_class = tariff;
    ln->uid_first = uid_first;
    ln->uid_count = uid_n;
    ln->src_line = line;
    c->line_count++;
    d->l_count++;
    struct batch_totals *t = &p->res->totals;
    t->sum_total += (unsigned __int128)total;
    t->sum_insurer += (unsigned __int128)insurer;
    t->sum_daroyar += (unsigned __int128)daroyar;
    return true;
}

/* Dispatches one line. raw_begin is the offset of its first byte in the
 * block. */
__attribute__((always_inline)) static inline void on_line(struct parser *p, struct line_view *lv,
                                                          uint32_t raw_begin, uint64_t line)
{
    struct batch_block_result *res = p->res;
    bool too_long = lv->len > ADJ_LINE_BYTES_MAX;
    if (too_long) {
        /* Only the record type is read: fields are not trusted. */
        lv->nfields = 1;
        const char *tab = memchr(lv->s, '\t', lv->len);
        lv->f[0].off = 0;
        lv->f[0].len = tab != NULL ? (uint32_t)(tab - lv->s) : lv->len;
        lv->ctrl_at = UINT32_MAX;
        lv->nonascii = false;
        lv->too_many = false;
    }
    char type = lv->f[0].len == 1 ? lv->s[0] : '\0';
    if (type != 'H' && type != 'P' && type != 'I' && type != 'L' && type != 'T') {
        type = '\0';
    }
    if (res->first_record_line == 0) {
        res->first_record_line = line;
        res->first_record_type = (uint8_t)type;
    }
    if (p->after_trailer && !p->after_trailer_reported) {
        p->after_trailer_reported = true;
        add_event(p, BATCH_EV_ERROR, line, 1, ADJ_E_AFTER_TRAILER, 0);
    }
    switch (type) {
    case 'P':
    case 'I':
        doc_close(p, raw_begin);
        res->totals.docs++;
        on_doc_header(p, lv, type, raw_begin, line, too_long);
        return;
    case 'L':
        res->totals.lines++;
        if (!too_long && l_fast(p, lv, line)) {
            return;
        }
        struct l_amounts am;
        if (!too_long) {
            sum_line(lv, &res->totals, &am);
        } else {
            sum_long_line(lv, &res->totals);
        }
        if (p->d.open) {
            on_l(p, lv, line, too_long, &am);
        } else {
            add_event(p, BATCH_EV_ERROR, line, 1, ADJ_E_LINE_BEFORE_DOC, 0);
        }
        return;
    case 'H':
    case 'T': {
        doc_close(p, raw_begin);
        struct verr v = {ADJ_E_LINE_TOO_LONG, ADJ_LINE_BYTES_MAX + 1};
        uint8_t index = 0;
        if (type == 'H') {
            if (res->header_count < BATCH_HEADERS_PER_BLOCK_MAX) {
                index = (uint8_t)res->header_count;
                struct batch_header *h = &res->headers[res->header_count++];
                memset(h, 0, sizeof *h);
                if (!too_long) {
                    v = parse_header(lv, h);
                }
                h->line = line;
            }
        } else {
            if (res->trailer_count < BATCH_HEADERS_PER_BLOCK_MAX) {
                index = (uint8_t)res->trailer_count;
                struct batch_trailer *t = &res->trailers[res->trailer_count++];
                memset(t, 0, sizeof *t);
                if (!too_long) {
                    v = parse_trailer(lv, t);
                }
                t->line = line;
            }
            p->after_trailer = true;
        }
        if (!too_long && v.code == ADJ_E_LINE_TOO_LONG) {
            v = VERR_OK; /* Beyond the kept count: the merge reports the repeat. */
        }
        add_event(p, type == 'H' ? BATCH_EV_HEADER : BATCH_EV_TRAILER, line, v.column, v.code,
                  index);
        return;
    }
    default:
        if (p->d.open) {
            doc_reject(p, too_long ? ADJ_E_LINE_TOO_LONG : ADJ_E_RECORD_TYPE, line,
                       too_long ? ADJ_LINE_BYTES_MAX + 1 : 1);
        } else {
            add_event(p, BATCH_EV_ERROR, line, too_long ? ADJ_LINE_BYTES_MAX + 1 : 1,
                      too_long ? ADJ_E_LINE_TOO_LONG : ADJ_E_RECORD_TYPE, 0);
        }
        return;
    }
}

/* The line loop of a block from data[pos]; returns the lines seen. Twice:
 * with the baseline scanner, and (parse_lines_wide) with the AVX-512 one,
 * compiled for it as a whole so that the scanner is inlined and its masks
 * stay in registers (called per line, its state went through memory and
 * the 4-mask update stalled on store forwarding: no gain). on_line is
 * inlined into both. */
static uint64_t parse_lines(struct parser *p, const char *data, size_t len, size_t pos)
{
    struct block_scan sc;
    struct line_view lv;
    uint64_t line = 0;
    block_scan_init(&sc, data, len, pos);
    /* Bounded: each pass consumes one line (at least one byte). */
    while (pos < len) {
        size_t end = block_scan_line(&sc, pos, &lv);
        line++;
        if (lv.len > 0 && data[pos] != '#') {
            on_line(p, &lv, (uint32_t)pos, line);
        }
        pos = end < len ? end + 1 : len;
    }
    return line;
}

#if BLOCK_SCAN_WIDE
BLOCK_SCAN_WIDE_TARGET static uint64_t parse_lines_wide(struct parser *p, const char *data,
                                                        size_t len, size_t pos)
{
    struct block_scan sc;
    struct line_view lv;
    uint64_t line = 0;
    block_scan_init(&sc, data, len, pos);
    /* Bounded: each pass consumes one line (at least one byte). */
    while (pos < len) {
        size_t end = block_scan_line_wide(&sc, pos, &lv);
        line++;
        if (lv.len > 0 && data[pos] != '#') {
            on_line(p, &lv, (uint32_t)pos, line);
        }
        pos = end < len ? end + 1 : len;
    }
    return line;
}
#endif

void batch_parse_block(const struct io_block *block, struct doc_chunk *chunk,
                       struct batch_block_result *res)
{
    ADJ_ASSERT(block->len <= UINT32_MAX);
    chunk->seq = block->seq;
    chunk->doc_count = 0;
    chunk->line_count = 0;
    chunk->uid_count = 0;
    res->seq = block->seq;
    res->line_count = 0;
    res->first_record_line = 0;
    res->first_record_type = 0;
    memset(&res->totals, 0, sizeof res->totals);
    res->docs_accepted = 0;
    res->docs_rejected = 0;
    res->reject_count = 0;
    res->event_count = 0;
    res->events_dropped = 0;
    res->header_count = 0;
    res->trailer_count = 0;
    res->alloc_err = ADJ_OK;
    res->line_base = 0;

    struct parser p = {.block = block, .chunk = chunk, .res = res};
    if (block->continues_doc) {
        p.d.open = true;
        p.d.continuation = true;
        p.d.rejected = true;
        p.d.rej.code = ADJ_E_DOC_TOO_LARGE;
        p.d.rej.line = 1;
        p.d.rej.column = 1;
        p.d.line_first = 0;
        p.d.uid_first = 0;
    }
    const char *data = block->data;
    size_t len = block->len;
    size_t pos = 0;
    if (block->text_offset == 0 && len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        pos = 3; /* A UTF-8 BOM at the very start is tolerated (and only there). */
    }
    /* The wide scanner (AVX-512, same answers) when the CPU has it; the
     * baseline one with the fast paths off, so that the tests comparing
     * both settings compare the scanners too. */
    uint64_t line;
#if BLOCK_SCAN_WIDE
    if (fast_paths_on && wide_scan_on && block_scan_wide_supported()) {
        line = parse_lines_wide(&p, data, len, pos);
    } else {
        line = parse_lines(&p, data, len, pos);
    }
#else
    line = parse_lines(&p, data, len, pos);
#endif
    res->line_count = line;
    if (p.d.open && block->splits_doc) {
        doc_reject(&p, ADJ_E_DOC_TOO_LARGE, p.d.continuation ? 1 : p.d.line, 1);
    }
    doc_close(&p, (uint32_t)len);
}

/* ---- the ordered merge ---- */

void batch_state_init(struct batch_state *st, const char *file_name, FILE *diag_out)
{
    memset(st, 0, sizeof *st);
    st->file_name = file_name;
    st->diag_out = diag_out;
    st->diag_max = BATCH_DIAG_MAX_DEFAULT;
    st->first_batch_error.code = ADJ_OK;
}

static void diag_emit(struct batch_state *st, const struct adj_diag *dg)
{
    if (st->diag_out == NULL) {
        return;
    }
    if (st->diag_printed < st->diag_max) {
        st->diag_printed++;
        adj_diag_print(st->diag_out, dg);
    } else {
        st->diag_suppressed++;
    }
}

void batch_error(struct batch_state *st, const struct adj_diag *diag)
{
    if (st->batch_errors == 0) {
        st->first_batch_error = *diag;
    }
    st->batch_errors++;
    diag_emit(st, diag);
}

static void batch_error_at(struct batch_state *st, enum adj_err code, uint64_t line,
                           uint32_t column, const char *detail)
{
    struct adj_diag dg;
    adj_diag_set(&dg, code, st->file_name, line, column, detail != NULL ? "%s" : NULL, detail);
    batch_error(st, &dg);
}

static bool write_all(FILE *f, const char *s, size_t n)
{
    return n == 0 || fwrite(s, 1, n, f) == n;
}

/* Writes the raw lines of data[begin..end) to the quarantine: each line
 * without its line end, then LF; blank lines skipped; lines over the limit
 * replaced by a comment. */
static bool quarantine_lines(FILE *q, const char *data, size_t begin, size_t end,
                             uint64_t first_line)
{
    size_t pos = begin;
    uint64_t line = first_line;
    bool ok = true;
    /* Bounded: each pass consumes one line. */
    while (pos < end) {
        const char *nl = memchr(data + pos, '\n', end - pos);
        size_t e = nl != NULL ? (size_t)(nl - data) : end;
        size_t next = nl != NULL ? e + 1 : end;
        size_t l = e - pos;
        if (l > 0 && data[e - 1] == '\r') {
            l--;
        }
        if (l > ADJ_LINE_BYTES_MAX) {
            ok = fprintf(q, "# line %llu: longer than %u bytes, not kept [E_LINE_TOO_LONG]\n",
                         (unsigned long long)line, ADJ_LINE_BYTES_MAX) > 0 && ok;
        } else if (l > 0) {
            ok = write_all(q, data + pos, l) && fputc('\n', q) != EOF && ok;
        }
        pos = next;
        line++;
    }
    return ok;
}

/* A rejected document's entry in the quarantine: a comment naming the error
 * and where, then its raw lines data[begin..end). */
static bool quarantine_doc(FILE *q, const struct batch_state *st, uint64_t line, uint32_t column,
                           enum adj_err code, const char *doc_id, const char *data, size_t begin,
                           size_t end, uint64_t first_line)
{
    bool ok = fprintf(q, "# %s:%llu:%u: %s: %s (document '%s')\n", st->file_name,
                      (unsigned long long)line, column, adj_err_name(code), adj_err_message(code),
                      doc_id) > 0;
    return quarantine_lines(q, data, begin, end, first_line) && ok;
}

enum adj_err batch_merge(struct batch_state *st, const struct io_block *block,
                         struct batch_block_result *res, FILE *quarantine)
{
    ADJ_ASSERT(res->seq == st->next_seq && block->seq == res->seq);
    st->next_seq++;
    uint64_t base = st->line_base;
    res->line_base = base;

    if (res->alloc_err != ADJ_OK) {
        batch_error_at(st, res->alloc_err, base + 1, 0, "while parsing a block");
    }
    if (res->first_record_line != 0) {
        if (!st->seen_record && res->first_record_type != 'H') {
            batch_error_at(st, ADJ_E_BATCH_NO_HEADER, base + res->first_record_line, 1, NULL);
        }
        if (st->seen_trailer) {
            batch_error_at(st, ADJ_E_AFTER_TRAILER, base + res->first_record_line, 1, NULL);
        }
        st->seen_record = true;
    }
    for (uint32_t i = 0; i < res->event_count; i++) {
        const struct batch_event *ev = &res->events[i];
        uint64_t line = base + ev->line;
        switch (ev->kind) {
        case BATCH_EV_HEADER:
            if (st->seen_header) {
                batch_error_at(st, ADJ_E_BATCH_SECOND_HEADER, line, 1, NULL);
                break;
            }
            st->seen_header = true;
            st->header = res->headers[ev->index];
            st->header.line = line;
            if (ev->code != ADJ_OK) {
                batch_error_at(st, ev->code, line, ev->column, "in the H record");
            }
            break;
        case BATCH_EV_TRAILER:
            if (st->seen_trailer) {
                batch_error_at(st, ADJ_E_AFTER_TRAILER, line, 1, "a second T record");
                break;
            }
            st->seen_trailer = true;
            st->trailer = res->trailers[ev->index];
            st->trailer.line = line;
            if (ev->code != ADJ_OK) {
                batch_error_at(st, ev->code, line, ev->column, "in the T record");
            }
            break;
        default:
            batch_error_at(st, (enum adj_err)ev->code, line, ev->column, NULL);
            break;
        }
    }
    if (res->events_dropped > 0) {
        char detail[64];
        snprintf(detail, sizeof detail, "%u more batch-level errors in this block",
                 res->events_dropped);
        batch_error_at(st, ADJ_E_LINE_BEFORE_DOC, base + res->line_count, 0, detail);
    }

    /* Rejected documents: diagnostics, counts, quarantine. */
    bool q_ok = true;
    for (uint32_t i = 0; i < res->reject_count; i++) {
        const struct batch_reject *r = &res->rejects[i];
        if (!r->continuation) {
            ADJ_ASSERT(r->code < ADJ_ERR_COUNT);
            st->rejected_by_reason[r->code]++;
            struct adj_diag dg;
            adj_diag_set(&dg, (enum adj_err)r->code, st->file_name, base + r->line, r->column,
                         "document '%s' at line %llu rejected", r->doc_id,
                         (unsigned long long)(base + r->doc_line));
            diag_emit(st, &dg);
        }
        if (quarantine != NULL && !st->quarantine_failed) {
            uint64_t first = r->continuation ? 1 : r->doc_line;
            if (r->continuation) {
                q_ok = fprintf(quarantine, "# %s:%llu: continued: lines of the document above\n",
                               st->file_name, (unsigned long long)(base + first)) > 0;
                q_ok = quarantine_lines(quarantine, block->data, r->raw_begin, r->raw_end,
                                        base + first) &&
                       q_ok;
            } else {
                q_ok = quarantine_doc(quarantine, st, base + r->line, r->column,
                                      (enum adj_err)r->code, r->doc_id, block->data, r->raw_begin,
                                      r->raw_end, base + first);
            }
            if (!q_ok) {
                st->quarantine_failed = true;
            }
        }
    }
    ADJ_ASSERT(res->docs_accepted + res->docs_rejected == res->totals.docs);
    st->docs_accepted += res->docs_accepted;
    st->docs_rejected += res->docs_rejected;
    st->totals.docs += res->totals.docs;
    st->totals.lines += res->totals.lines;
    st->totals.sum_total += res->totals.sum_total;
    st->totals.sum_insurer += res->totals.sum_insurer;
    st->totals.sum_daroyar += res->totals.sum_daroyar;
    st->line_base += res->line_count;
    return st->quarantine_failed ? ADJ_E_WRITE : ADJ_OK;
}

enum adj_err batch_reject_late(struct batch_state *st, const struct io_block *block,
                               const struct doc *doc, enum adj_err code, FILE *quarantine)
{
    ADJ_ASSERT(code > ADJ_OK && code < ADJ_ERR_COUNT);
    ADJ_ASSERT(st->docs_accepted > 0);
    ADJ_ASSERT(doc->raw_begin < doc->raw_end && doc->raw_end <= block->len);
    st->docs_accepted--;
    st->docs_rejected++;
    st->rejected_by_reason[code]++;
    struct adj_diag dg;
    adj_diag_set(&dg, code, st->file_name, doc->src_line, 1, "document '%s' rejected",
                 doc->doc_id_raw);
    diag_emit(st, &dg);
    if (quarantine == NULL || st->quarantine_failed) {
        return st->quarantine_failed ? ADJ_E_WRITE : ADJ_OK;
    }
    if (!quarantine_doc(quarantine, st, doc->src_line, 1, code, doc->doc_id_raw, block->data,
                        doc->raw_begin, doc->raw_end, doc->src_line)) {
        st->quarantine_failed = true;
        return ADJ_E_WRITE;
    }
    return ADJ_OK;
}

static bool sum_eq(unsigned __int128 read, int64_t trailer)
{
    return trailer >= 0 && read == (unsigned __int128)(uint64_t)trailer;
}

static void u128_str(unsigned __int128 v, char buf[48])
{
    char tmp[48];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0 && n < sizeof tmp);
    for (size_t i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }
    buf[n] = '\0';
}

void batch_finish(struct batch_state *st, const struct io_stream_end *end,
                  struct batch_summary *out)
{
    memset(out, 0, sizeof *out);
    /* What decides the batch (the stream's end, the trailer: a handful of
     * lines) is printed even past the cap on diagnostics, which a batch of
     * many rejects reaches first. */
    st->diag_max = UINT32_MAX;
    bool io_failed = false;
    if (end != NULL && end->err != ADJ_OK) {
        struct adj_diag dg = end->diag;
        if (dg.file_name == NULL) {
            dg.file_name = st->file_name;
        }
        batch_error(st, &dg);
        io_failed = end->err == ADJ_E_READ || end->err == ADJ_E_IO || end->err == ADJ_E_OPEN;
    }
    bool stream_ok = end == NULL || end->err == ADJ_OK;
    if (stream_ok && !st->seen_record) {
        batch_error_at(st, ADJ_E_BATCH_NO_HEADER, 0, 0, "no records");
    }
    if (stream_ok && st->seen_record && !st->seen_trailer) {
        batch_error_at(st, ADJ_E_TRAILER_MISSING, st->line_base, 0, NULL);
    } else if (st->seen_trailer && st->trailer.valid) {
        const struct batch_trailer *t = &st->trailer;
        if (t->doc_count != st->totals.docs) {
            char d[96];
            snprintf(d, sizeof d, "doc_count %llu, read %llu", (unsigned long long)t->doc_count,
                     (unsigned long long)st->totals.docs);
            batch_error_at(st, ADJ_E_TRAILER_COUNT, t->line, t->column[1], d);
        }
        if (t->line_count != st->totals.lines) {
            char d[96];
            snprintf(d, sizeof d, "line_count %llu, read %llu",
                     (unsigned long long)t->line_count, (unsigned long long)st->totals.lines);
            batch_error_at(st, ADJ_E_TRAILER_COUNT, t->line, t->column[2], d);
        }
        const unsigned __int128 read[3] = {st->totals.sum_total, st->totals.sum_insurer,
                                           st->totals.sum_daroyar};
        const int64_t claimed[3] = {t->sum_claimed_total, t->sum_claimed_insurer,
                                    t->sum_claimed_daroyar};
        static const char *const names[3] = {"sum_claimed_total", "sum_claimed_insurer",
                                             "sum_claimed_daroyar"};
        for (int i = 0; i < 3; i++) {
            if (!sum_eq(read[i], claimed[i])) {
                char rs[48];
                u128_str(read[i], rs);
                char d[128];
                snprintf(d, sizeof d, "%s %lld, read %s", names[i], (long long)claimed[i], rs);
                batch_error_at(st, ADJ_E_TRAILER_SUM, t->line, t->column[3 + i], d);
            }
        }
    }
    if (st->diag_out != NULL && st->diag_suppressed > 0) {
        fprintf(st->diag_out, "%s: %llu more diagnostics not shown\n", st->file_name,
                (unsigned long long)st->diag_suppressed);
    }
    out->file_name = st->file_name;
    out->docs_accepted = st->docs_accepted;
    out->docs_rejected = st->docs_rejected;
    out->docs_read = st->totals.docs;
    out->lines_read = st->totals.lines;
    memcpy(out->rejected_by_reason, st->rejected_by_reason, sizeof out->rejected_by_reason);
    out->batch_errors = st->batch_errors;
    out->first_batch_error = st->first_batch_error;
    out->verified = st->batch_errors == 0;
    out->io_failed = io_failed;
    out->quarantine_failed = st->quarantine_failed;
    out->has_header = st->seen_header;
    out->header = st->header;
    out->has_trailer = st->seen_trailer;
    out->trailer = st->trailer;
    out->totals = st->totals;
    if (end != NULL) {
        out->stream_err = end->err;
        out->content_hash = end->hash;
        out->text_bytes = end->text_bytes;
        out->zstd = end->zstd;
    }
    ADJ_ASSERT(out->docs_read == out->docs_accepted + out->docs_rejected);
}

int batch_summary_exit_code(const struct batch_summary *s)
{
    if (s->io_failed || s->quarantine_failed) {
        return BATCH_EXIT_IOERR;
    }
    if (!s->verified) {
        return BATCH_EXIT_UNVERIFIED;
    }
    return s->docs_rejected > 0 ? BATCH_EXIT_REJECTED : BATCH_EXIT_OK;
}

void batch_summary_print(FILE *out, const struct batch_summary *s)
{
    const char *f = s->file_name != NULL ? s->file_name : "<input>";
    fprintf(out, "%s: batch %s, province %s\n", f, s->has_header ? s->header.batch_id : "?",
            s->has_header ? s->header.province : "?");
    fprintf(out, "%s: documents read %llu, accepted %llu, rejected %llu; lines read %llu\n", f,
            (unsigned long long)s->docs_read, (unsigned long long)s->docs_accepted,
            (unsigned long long)s->docs_rejected, (unsigned long long)s->lines_read);
    for (int e = 0; e < ADJ_ERR_COUNT; e++) {
        if (s->rejected_by_reason[e] > 0) {
            fprintf(out, "%s:   rejected %llu %s (%s)\n", f,
                    (unsigned long long)s->rejected_by_reason[e], adj_err_name((enum adj_err)e),
                    adj_err_message((enum adj_err)e));
        }
    }
    if (s->verified) {
        fprintf(out, "%s: trailer verified\n", f);
    } else {
        fprintf(out, "%s: trailer NOT verified: %s (%llu batch-level error%s)\n", f,
                adj_err_name(s->first_batch_error.code), (unsigned long long)s->batch_errors,
                s->batch_errors == 1 ? "" : "s");
    }
    fprintf(out, "%s: content xxh3-128 %016llx%016llx\n", f, (unsigned long long)s->content_hash.hi,
            (unsigned long long)s->content_hash.lo);
}

/* ---- whole-batch checking ---- */

static size_t chunk_hint(struct io_reader *r)
{
    /* Sized for a default block; grows for the rare bigger one. */
    size_t hint = io_reader_block_bytes_max(r);
    hint = hint < IO_BLOCK_BYTES_DEFAULT ? hint : IO_BLOCK_BYTES_DEFAULT;
    uint64_t input = io_reader_input_bytes(r);
    if (input != 0 && input < hint) {
        hint = (size_t)input; /* A small batch; zstd ones grow as needed. */
    }
    return hint;
}

struct chunk_sink {
    batch_chunk_fn fn;
    void *ctx;
};

/* After a block's merge: absolute lines, then the caller's callback. */
static void deliver(const struct chunk_sink *sink, struct doc_chunk *chunk,
                    const struct batch_block_result *res)
{
    if (sink->fn != NULL) {
        batch_chunk_rebase(chunk, res->line_base);
        sink->fn(sink->ctx, chunk);
    }
}

static void check_sequential(struct io_reader *r, struct batch_state *st, FILE *quarantine,
                             const struct chunk_sink *sink)
{
    struct doc_chunk chunk;
    struct batch_block_result res;
    bool ok = batch_chunk_init(&chunk, chunk_hint(r)) == ADJ_OK;
    if (ok && batch_result_init(&res) != ADJ_OK) {
        batch_chunk_free(&chunk);
        ok = false;
    }
    if (!ok) {
        struct adj_diag dg;
        adj_diag_set(&dg, ADJ_E_NOMEM, st->file_name, 0, 0, NULL);
        batch_error(st, &dg);
        return;
    }
    /* Bounded by the stream: each block is a non-empty piece of it. */
    for (;;) {
        struct io_block *b;
        enum adj_err err = io_reader_next(r, &b);
        if (err != ADJ_OK || b == NULL) {
            break;
        }
        batch_parse_block(b, &chunk, &res);
        (void)batch_merge(st, b, &res, quarantine);
        deliver(sink, &chunk, &res);
        io_reader_release(r, b);
    }
    batch_chunk_free(&chunk);
    batch_result_free(&res);
}

/*
 * The parallel check: one reader thread, `workers` parser threads, and the
 * ordered merge on the calling thread. A block's pool slot (io_block.slot)
 * indexes its chunk and result, so result storage is bounded by the
 * reader's pool and a slot is reused only after its block is merged and
 * released. One mutex and condvar, taken a few times per block (~2 MiB),
 * never per line.
 */
struct par_check {
    pthread_mutex_t mu;
    /* Two condvars, so that an event wakes only who waits for it (a
     * broadcast to every thread per event cost measurable CPU in context
     * switches on this VM): todo_cv for parser threads (a block to parse,
     * or the end), done_cv for the merge (a block parsed, or the end; and
     * a block to parse when it parses itself, no_workers). */
    pthread_cond_t todo_cv;
    pthread_cond_t done_cv;
    bool no_workers;
    struct io_reader *r;
    struct io_block *todo[IO_BLOCK_COUNT_MAX]; /* Read, not yet parsed. */
    unsigned todo_head, todo_tail;
    struct io_block *parsed[IO_BLOCK_COUNT_MAX]; /* By slot; NULL if none. */
    uint64_t blocks_read;
    bool reader_done;
    struct doc_chunk chunks[IO_BLOCK_COUNT_MAX];
    struct batch_block_result res[IO_BLOCK_COUNT_MAX];
};

static void *par_reader(void *arg)
{
    struct par_check *pc = arg;
    /* Bounded by the stream; io_reader_next waits while the pool is out. */
    for (;;) {
        struct io_block *b = NULL;
        enum adj_err err = io_reader_next(pc->r, &b);
        pthread_mutex_lock(&pc->mu);
        if (err != ADJ_OK || b == NULL) {
            pc->reader_done = true;
        } else {
            pc->todo[pc->todo_tail++ % IO_BLOCK_COUNT_MAX] = b;
            pc->blocks_read++;
        }
        if (pc->reader_done) {
            pthread_cond_broadcast(&pc->todo_cv); /* Every worker may leave. */
            pthread_cond_signal(&pc->done_cv);
        } else {
            pthread_cond_signal(&pc->todo_cv);
            if (pc->no_workers) {
                pthread_cond_signal(&pc->done_cv);
            }
        }
        pthread_mutex_unlock(&pc->mu);
        if (err != ADJ_OK || b == NULL) {
            return NULL;
        }
    }
}

static void *par_worker(void *arg)
{
    struct par_check *pc = arg;
    for (;;) {
        pthread_mutex_lock(&pc->mu);
        while (pc->todo_head == pc->todo_tail && !pc->reader_done) {
            pthread_cond_wait(&pc->todo_cv, &pc->mu);
        }
        if (pc->todo_head == pc->todo_tail) {
            pthread_mutex_unlock(&pc->mu);
            return NULL;
        }
        struct io_block *b = pc->todo[pc->todo_head++ % IO_BLOCK_COUNT_MAX];
        pthread_mutex_unlock(&pc->mu);
        batch_parse_block(b, &pc->chunks[b->slot], &pc->res[b->slot]);
        pthread_mutex_lock(&pc->mu);
        pc->parsed[b->slot] = b;
        pthread_cond_signal(&pc->done_cv);
        pthread_mutex_unlock(&pc->mu);
    }
}

static bool check_parallel(struct io_reader *r, struct batch_state *st, FILE *quarantine,
                           unsigned workers, const struct chunk_sink *sink)
{
    struct par_check *pc = calloc(1, sizeof *pc);
    if (pc == NULL) {
        return false;
    }
    pthread_mutex_init(&pc->mu, NULL);
    pthread_cond_init(&pc->todo_cv, NULL);
    pthread_cond_init(&pc->done_cv, NULL);
    pc->r = r;
    unsigned slots = io_reader_block_count(r);
    size_t hint = chunk_hint(r);
    bool ok = true;
    for (unsigned i = 0; i < slots && ok; i++) {
        ok = batch_chunk_init(&pc->chunks[i], hint) == ADJ_OK &&
             batch_result_init(&pc->res[i]) == ADJ_OK;
    }
    pthread_t reader, threads[BATCH_CHECK_THREADS_MAX];
    unsigned started = 0;
    if (ok && pthread_create(&reader, NULL, par_reader, pc) == 0) {
        for (; started < workers; started++) {
            if (pthread_create(&threads[started], NULL, par_worker, pc) != 0) {
                break;
            }
        }
        if (started == 0) {
            /* No worker could start: the merge thread parses itself below,
             * so the reader must wake it for new blocks too. */
            pthread_mutex_lock(&pc->mu);
            pc->no_workers = true;
            pthread_mutex_unlock(&pc->mu);
        }
        /* Merge in block order; bounded by the blocks the reader produced. */
        for (uint64_t seq = 0;; seq++) {
            struct io_block *b = NULL;
            bool self_parse = false;
            pthread_mutex_lock(&pc->mu);
            for (;;) {
                for (unsigned i = 0; i < slots && b == NULL; i++) {
                    if (pc->parsed[i] != NULL && pc->parsed[i]->seq == seq) {
                        b = pc->parsed[i];
                        pc->parsed[i] = NULL;
                    }
                }
                if (b != NULL || (pc->reader_done && seq == pc->blocks_read)) {
                    break;
                }
                if (started == 0 && pc->todo_head != pc->todo_tail) {
                    b = pc->todo[pc->todo_head++ % IO_BLOCK_COUNT_MAX];
                    self_parse = true;
                    break;
                }
                pthread_cond_wait(&pc->done_cv, &pc->mu);
            }
            pthread_mutex_unlock(&pc->mu);
            if (b == NULL) {
                break;
            }
            if (self_parse) {
                batch_parse_block(b, &pc->chunks[b->slot], &pc->res[b->slot]);
            }
            (void)batch_merge(st, b, &pc->res[b->slot], quarantine);
            deliver(sink, &pc->chunks[b->slot], &pc->res[b->slot]);
            io_reader_release(r, b);
        }
        for (unsigned i = 0; i < started; i++) {
            pthread_join(threads[i], NULL);
        }
        pthread_join(reader, NULL);
    } else {
        ok = false;
    }
    for (unsigned i = 0; i < slots; i++) {
        batch_chunk_free(&pc->chunks[i]);
        batch_result_free(&pc->res[i]);
    }
    pthread_mutex_destroy(&pc->mu);
    pthread_cond_destroy(&pc->todo_cv);
    pthread_cond_destroy(&pc->done_cv);
    free(pc);
    return ok;
}

static void check_reader(struct io_reader *r, const char *name, unsigned threads,
                         const struct chunk_sink *sink, FILE *quarantine, FILE *diag_out,
                         struct batch_summary *out)
{
    struct batch_state st;
    batch_state_init(&st, name, diag_out);
    if (threads > BATCH_CHECK_THREADS_MAX) {
        threads = BATCH_CHECK_THREADS_MAX;
    }
    /* Parser threads = threads even on zstd input, where the reader thread
     * is busy decompressing: parsers only take CPU when blocks wait, so the
     * reader keeps its core once they catch up, and on 2 cores the total
     * CPU (decompression + parsing) is the limit, which one parser alone
     * would not reach. */
    bool parallel = threads > 1;
    if (!parallel || !check_parallel(r, &st, quarantine, threads, sink)) {
        /* Sequential (asked for, or threads could not start before any
         * block was read: check_parallel fails only before reading). */
        check_sequential(r, &st, quarantine, sink);
    }
    struct io_stream_end end;
    io_reader_end(r, &end);
    batch_finish(&st, &end, out);
}

unsigned batch_check_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : n > (long)BATCH_CHECK_THREADS_MAX ? BATCH_CHECK_THREADS_MAX : (unsigned)n;
}

enum adj_err batch_check_file(const char *path, const struct io_reader_options *opt,
                              unsigned threads, FILE *quarantine, FILE *diag_out,
                              struct batch_summary *out)
{
    return batch_read_file(path, opt, threads, NULL, NULL, quarantine, diag_out, out);
}

void batch_check_memory(const void *data, size_t len, const char *name,
                        const struct io_reader_options *opt, FILE *quarantine, FILE *diag_out,
                        struct batch_summary *out)
{
    batch_read_memory(data, len, name, opt, NULL, NULL, quarantine, diag_out, out);
}

enum adj_err batch_read_file(const char *path, const struct io_reader_options *opt,
                             unsigned threads, batch_chunk_fn fn, void *ctx, FILE *quarantine,
                             FILE *diag_out, struct batch_summary *out)
{
    struct chunk_sink sink = {fn, ctx};
    struct io_reader_options o = {0};
    if (opt != NULL) {
        o = *opt;
    }
    if (threads > 1 && o.block_count == 0) {
        /* Per worker one block being parsed and one parsed, waiting for
         * the ordered merge; plus the one being filled and one to hand
         * out. With only threads + 2 the workers starved (measured: 1.07
         * CPUs busy of 2; with 2 * threads + 2: 1.94). */
        o.block_count = 2 * threads + 2 < IO_BLOCK_COUNT_MAX ? 2 * threads + 2 : IO_BLOCK_COUNT_MAX;
    }
    struct io_reader *r;
    struct adj_diag dg;
    enum adj_err err = io_reader_open(&r, path, &o, &dg);
    if (err != ADJ_OK) {
        memset(out, 0, sizeof *out);
        out->file_name = path;
        out->io_failed = true;
        out->batch_errors = 1;
        out->first_batch_error = dg;
        if (diag_out != NULL) {
            adj_diag_print(diag_out, &dg);
        }
        return err;
    }
    check_reader(r, path, threads, &sink, quarantine, diag_out, out);
    io_reader_close(r);
    return ADJ_OK;
}

void batch_read_memory(const void *data, size_t len, const char *name,
                       const struct io_reader_options *opt, batch_chunk_fn fn, void *ctx,
                       FILE *quarantine, FILE *diag_out, struct batch_summary *out)
{
    struct chunk_sink sink = {fn, ctx};
    struct io_reader *r;
    struct adj_diag dg;
    if (io_reader_open_memory(&r, data, len, name, opt, &dg) != ADJ_OK) {
        memset(out, 0, sizeof *out);
        out->file_name = name;
        out->batch_errors = 1;
        out->first_batch_error = dg;
        return;
    }
    check_reader(r, name, 1, &sink, quarantine, diag_out, out);
    io_reader_close(r);
}
