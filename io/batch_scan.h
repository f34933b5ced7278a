/*
 * Batch format v1: splitting a block into lines and TAB-separated fields
 * (internal to io/batch.c; a header so that tests can compare the two
 * scanners).
 *
 * Two scanners give the same struct line_view for every line:
 *  - scan_line_ref(): one line at a time, 16 bytes per SSE2 step, with a
 *    careful byte-by-byte path for CR and other control bytes. The
 *    reference, and the fallback for lines holding such bytes.
 *  - struct block_scan: classifies each byte of the block once, 64 bytes
 *    at a time, into bitmasks (TAB, LF, bytes >= 0x80, other control
 *    bytes), then hands out lines by popping mask bits. A line with a
 *    control byte (a CR too) is handed to scan_line_ref, so the fast path
 *    only ever sees printable ASCII, UTF-8 bytes, TABs and its LF.
 * tests/unit/test_batch_scan.c checks both agree on random and edge input.
 */
#ifndef ADJ_IO_BATCH_SCAN_H
#define ADJ_IO_BATCH_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/base/assert.h"
#include "core/base/limits.h"

struct field {
    uint32_t off; /* Offset in the line. */
    uint32_t len;
};

struct line_view {
    const char *s;
    const char *lo;        /* Start of the block: bytes from lo up to the end
                            * of the line may be read (backward SWAR loads). */
    uint32_t len;          /* Without LF and the CR before it. */
    uint32_t nfields;      /* Fields seen (capped at ADJ_FIELDS_PER_LINE_MAX). */
    bool too_many;         /* More than ADJ_FIELDS_PER_LINE_MAX fields. */
    uint32_t ctrl_at;      /* Offset of the first control byte, or UINT32_MAX. */
    bool nonascii;
    /* Fields 0..nfields-1. The block scanner may write up to one step of
     * fields past the cap before it checks (then clamps, sets too_many):
     * room for them here beats a bound check per TAB. */
    struct field f[ADJ_FIELDS_PER_LINE_MAX + 64u];
};

/* Bytes the scanner must look at: C0 controls (TAB, LF and CR among them),
 * DEL, and non-ASCII (>= 0x80, negative as signed char). Everything else is
 * printable ASCII and skipped 16 bytes at a time. */
static inline void scan_byte(struct line_view *lv, const char *data, size_t len, size_t j,
                             size_t begin, size_t *fstart, bool *eol)
{
    unsigned char c = (unsigned char)data[j];
    if (c == '\t') { /* Most special bytes are tabs: test them first. */
        if (lv->nfields < ADJ_FIELDS_PER_LINE_MAX) {
            lv->f[lv->nfields].off = (uint32_t)(*fstart - begin);
            lv->f[lv->nfields].len = (uint32_t)(j - *fstart);
            lv->nfields++;
        } else {
            lv->too_many = true;
        }
        *fstart = j + 1;
    } else if (c == '\n') {
        *eol = true;
    } else if (c >= 0x80u) {
        lv->nonascii = true;
    } else if ((c < 0x20u || c == 0x7fu) && lv->ctrl_at == UINT32_MAX &&
               !(c == '\r' && (j + 1 == len || data[j + 1] == '\n'))) {
        lv->ctrl_at = (uint32_t)(j - begin); /* Not the CR of a CRLF. */
    }
}

/* The reference line scanner (and the block scanner's careful path for
 * lines with control bytes or CRs). Scans the line starting at data[begin]:
 * finds its end (LF or the end of the block) and, in the same pass, its
 * fields, control bytes and non-ASCII bytes. Returns the offset of the LF
 * (or len). lv->len excludes a CR before the LF. */
static inline size_t scan_line_ref(const char *data, size_t len, size_t begin, struct line_view *lv)
{
    lv->s = data + begin;
    lv->lo = data;
    lv->nfields = 0;
    lv->too_many = false;
    lv->ctrl_at = UINT32_MAX;
    lv->nonascii = false;
    size_t fstart = begin;
    size_t j = begin;
    bool eol = false;
#if defined(__SSE2__)
    const __m128i k20 = _mm_set1_epi8(0x20);
    const __m128i k7f = _mm_set1_epi8(0x7f);
    const __m128i ktab = _mm_set1_epi8('\t');
    const __m128i klf = _mm_set1_epi8('\n');
    /* Bounded: 16 bytes per pass, stops at the LF. Tabs are taken from a
     * bitmask; only rare bytes (CR, controls) go through scan_byte. */
    while (j + 16 <= len) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(data + j));
        unsigned tab = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, ktab));
        unsigned lf = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, klf));
        unsigned high = (unsigned)_mm_movemask_epi8(v);
        unsigned spec = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmplt_epi8(v, k20), _mm_cmpeq_epi8(v, k7f)));
        unsigned upto = 0xFFFFu;
        if (lf != 0) {
            upto = (1u << __builtin_ctz(lf)) - 1u; /* Bytes before the LF. */
        }
        tab &= upto;
        unsigned other = spec & ~tab & ~high & upto & ~lf;
        if (ADJ_UNLIKELY(other != 0)) {
            /* CR or a control byte: the careful path, in byte order with
             * the tabs around them. */
            unsigned all = (tab | other);
            while (all != 0) {
                size_t at = j + (size_t)__builtin_ctz(all);
                all &= all - 1;
                scan_byte(lv, data, len, at, begin, &fstart, &eol);
            }
        } else {
            while (tab != 0) {
                size_t at = j + (size_t)__builtin_ctz(tab);
                tab &= tab - 1;
                if (ADJ_LIKELY(lv->nfields < ADJ_FIELDS_PER_LINE_MAX)) {
                    lv->f[lv->nfields].off = (uint32_t)(fstart - begin);
                    lv->f[lv->nfields].len = (uint32_t)(at - fstart);
                    lv->nfields++;
                } else {
                    lv->too_many = true;
                }
                fstart = at + 1;
            }
        }
        if ((high & upto) != 0) {
            lv->nonascii = true;
        }
        if (lf != 0) {
            j += (size_t)__builtin_ctz(lf);
            eol = true;
            break;
        }
        j += 16;
    }
#endif
    /* Bounded by len. */
    while (!eol && j < len) {
        scan_byte(lv, data, len, j, begin, &fstart, &eol);
        if (!eol) {
            j++;
        }
    }
    size_t end = j; /* The LF, or len. */
    size_t content_end = end;
    if (content_end > begin && data[content_end - 1] == '\r') {
        content_end--;
    }
    if (fstart > content_end) {
        fstart = content_end; /* "a\t\r\n": the last field is empty. */
    }
    if (lv->nfields < ADJ_FIELDS_PER_LINE_MAX) {
        lv->f[lv->nfields].off = (uint32_t)(fstart - begin);
        lv->f[lv->nfields].len = (uint32_t)(content_end - fstart);
        lv->nfields++;
    } else {
        lv->too_many = true;
    }
    size_t l = content_end - begin;
    lv->len = l > UINT32_MAX ? UINT32_MAX : (uint32_t)l;
    return end;
}


/* ---- the block scanner ---- */

/* Bytes classified per step: one uint64_t mask bit each. */
#define BLOCK_SCAN_STEP 64u
_Static_assert(BLOCK_SCAN_STEP <= 64u, "line_view.f has room for one step past the cap");

struct block_scan {
    const char *data;
    size_t len;
    size_t base;   /* Offset of the classified 64 bytes; a multiple of 64. */
    /* Bits of data[base..base+64) at or after the cursor (those before it
     * are cleared as lines are handed out). Bytes past len are none. */
    uint64_t tab, lf, high, ctrl;
};

/* Classifies data[base..base+64) (padding past len with a plain byte). */
static inline void block_scan_load(struct block_scan *sc, size_t base)
{
    sc->base = base;
    const char *p = sc->data + base;
    char pad[BLOCK_SCAN_STEP];
    if (sc->len - base < BLOCK_SCAN_STEP) {
        memset(pad, 'x', sizeof pad);
        memcpy(pad, p, sc->len - base);
        p = pad;
    }
#if defined(__SSE2__)
    const __m128i k20 = _mm_set1_epi8(0x20);
    const __m128i k7f = _mm_set1_epi8(0x7f);
    const __m128i ktab = _mm_set1_epi8('\t');
    const __m128i klf = _mm_set1_epi8('\n');
    uint64_t tab = 0, lf = 0, high = 0, spec = 0;
#pragma GCC unroll 4
    for (unsigned k = 0; k < BLOCK_SCAN_STEP / 16u; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16u * k));
        unsigned sh = 16u * k;
        tab |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, ktab)) << sh;
        lf |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, klf)) << sh;
        high |= (uint64_t)(unsigned)_mm_movemask_epi8(v) << sh;
        /* Signed compare: bytes >= 0x80 are below 0x20 too (masked out). */
        spec |= (uint64_t)(unsigned)_mm_movemask_epi8(
                    _mm_or_si128(_mm_cmplt_epi8(v, k20), _mm_cmpeq_epi8(v, k7f)))
                << sh;
    }
    sc->tab = tab;
    sc->lf = lf;
    sc->high = high;
    sc->ctrl = spec & ~high & ~tab & ~lf;
#else
    uint64_t tab = 0, lf = 0, high = 0, ctrl = 0;
    for (unsigned i = 0; i < BLOCK_SCAN_STEP; i++) {
        unsigned char c = (unsigned char)p[i];
        uint64_t bit = 1ull << i;
        tab |= c == '\t' ? bit : 0;
        lf |= c == '\n' ? bit : 0;
        high |= c >= 0x80u ? bit : 0;
        ctrl |= (c < 0x20u && c != '\t' && c != '\n') || c == 0x7fu ? bit : 0;
    }
    sc->tab = tab;
    sc->lf = lf;
    sc->high = high;
    sc->ctrl = ctrl;
#endif
}

/* Puts the cursor at data[pos] (pos < len). */
static inline void block_scan_seek(struct block_scan *sc, size_t pos)
{
    size_t base = pos - pos % BLOCK_SCAN_STEP;
    if (base != sc->base) {
        block_scan_load(sc, base);
    }
    uint64_t keep = ~0ull << (pos - base);
    sc->tab &= keep;
    sc->lf &= keep;
    sc->high &= keep;
    sc->ctrl &= keep;
}

static inline void block_scan_init(struct block_scan *sc, const char *data, size_t len,
                                   size_t pos)
{
    sc->data = data;
    sc->len = len;
    sc->base = SIZE_MAX; /* Nothing classified yet. */
    sc->tab = sc->lf = sc->high = sc->ctrl = 0;
    if (pos < len) {
        block_scan_seek(sc, pos);
    }
}

/* The end of a scanned line, for both scanners: its last field (from
 * fstart to end), the counts and flags, the length; returns end. */
static inline __attribute__((always_inline)) size_t
scan_line_finish(struct line_view *lv, size_t begin, size_t fstart, size_t end, uint32_t nfields,
                 bool too_many, bool nonascii)
{
    if (nfields < ADJ_FIELDS_PER_LINE_MAX) {
        lv->f[nfields].off = (uint32_t)(fstart - begin);
        lv->f[nfields].len = (uint32_t)(end - fstart);
        nfields++;
    } else {
        too_many = true;
    }
    lv->nfields = nfields;
    lv->too_many = too_many;
    lv->nonascii = nonascii;
    size_t l = end - begin;
    lv->len = l > UINT32_MAX ? UINT32_MAX : (uint32_t)l;
    return end;
}

/* The line starting at data[begin], where begin is the cursor (the start of
 * the block, or one past the LF the previous call returned). Fills lv as
 * scan_line_ref would and returns the offset of the LF (or len). */
static inline size_t block_scan_line(struct block_scan *sc, size_t begin, struct line_view *lv)
{
    const char *data = sc->data;
    ADJ_DEBUG_ASSERT(begin < sc->len && begin >= sc->base && begin - sc->base < BLOCK_SCAN_STEP);
    lv->s = data + begin;
    lv->lo = data;
    lv->ctrl_at = UINT32_MAX;
    uint32_t nfields = 0;
    bool too_many = false;
    bool nonascii = false;
    size_t fstart = begin;
    /* Bounded: each pass moves to the next 64 bytes or ends the line. */
    for (;;) {
        uint64_t lf = sc->lf;
        uint64_t lf_bit = lf & (0 - lf);
        uint64_t upto = lf != 0 ? lf_bit - 1 : ~0ull; /* Bits before the LF. */
        if (ADJ_UNLIKELY((sc->ctrl & upto) != 0)) {
            /* A CR or a control byte: the careful scanner, from the start. */
            size_t end = scan_line_ref(data, sc->len, begin, lv);
            if (end + 1 < sc->len) {
                block_scan_seek(sc, end + 1);
            }
            return end;
        }
        nonascii = nonascii || (sc->high & upto) != 0;
        uint64_t t = sc->tab & upto;
        size_t base = sc->base;
        /* Fields in locals (stores to lv->f would otherwise make the
         * compiler reload the count after each one), offsets relative to
         * the line (modulo 2^32 until the subtraction: rel >= 0 in the
         * end). At most 64 TABs per step: no bound check inside. */
        uint32_t n = nfields;
        uint32_t prev = (uint32_t)(fstart - begin);
        uint32_t rb = (uint32_t)(base - begin);
        while (t != 0) {
            uint32_t rel = rb + (uint32_t)__builtin_ctzll(t);
            t &= t - 1;
            lv->f[n].off = prev;
            lv->f[n].len = rel - prev;
            prev = rel + 1;
            n++;
        }
        fstart = begin + prev;
        if (ADJ_UNLIKELY(n > ADJ_FIELDS_PER_LINE_MAX)) {
            n = ADJ_FIELDS_PER_LINE_MAX; /* The first 16 stand; the rest only count. */
            too_many = true;
        }
        nfields = n;
        size_t end;
        if (lf != 0) {
            end = base + (size_t)__builtin_ctzll(lf);
            uint64_t keep = ~(upto | lf_bit); /* Bits after the LF. */
            sc->tab &= keep;
            sc->lf &= keep;
            sc->high &= keep;
            sc->ctrl &= keep;
            if (keep == 0 && end + 1 < sc->len) {
                block_scan_load(sc, base + BLOCK_SCAN_STEP); /* The LF was bit 63. */
            }
        } else if (base + BLOCK_SCAN_STEP >= sc->len) {
            end = sc->len; /* The last line has no LF. */
        } else {
            block_scan_load(sc, base + BLOCK_SCAN_STEP);
            continue;
        }
        /* No CR here (it is a control byte): the content ends at the LF. */
        return scan_line_finish(lv, begin, fstart, end, nfields, too_many, nonascii);
    }
}

/* ---- the wide block scanner (x86-64 with AVX-512 VBMI2, run-time choice) ----
 *
 * The same answers as block_scan_line (tests/unit/test_batch_scan.c compares
 * both with scan_line_ref; batch_set_fast_paths(false) makes the parser use
 * block_scan_line, so the fixture driver, the random-batch test and
 * fuzz_batch_line compare the two in whole parses), cheaper in two places:
 *  - classifying 64 bytes is one load and four compares into mask registers;
 *  - the fields of a 64-byte step come from its TAB mask without a loop per
 *    TAB (which cost ~15 instructions and, at its variable exit, a branch
 *    miss per step): vpcompressb packs the byte indexes of the TABs,
 *    widened to 32 bits they are the fields' ends, the starts are the ends
 *    shifted by one lane (+1) after the previous start, and two permutes
 *    interleave them into struct field pairs. Sixteen TABs per round (the
 *    first 16 set bits, pdep); a step has at most 64.
 * Only in functions with the target attribute (inlined into them: the
 * caller must have it too, io/batch.c compiles its line loop twice);
 * block_scan_wide_supported() says whether the
 * CPU and OS run them (__builtin_cpu_supports checks the OS saves the
 * AVX-512 state). Valgrind does not emulate AVX-512, so under callgrind
 * the baseline scanner runs. */
#if defined(__x86_64__) && defined(__GNUC__)
#define BLOCK_SCAN_WIDE 1
#include <immintrin.h>

#define BLOCK_SCAN_WIDE_TARGET \
    __attribute__((target("avx512f,avx512bw,avx512vbmi2,bmi,bmi2,popcnt")))

static inline bool block_scan_wide_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vbmi2") && __builtin_cpu_supports("bmi") &&
           __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
}

/* block_scan_load, one 64-byte register at a time. Past len: 'x' (a masked
 * load reads no byte past the block). */
BLOCK_SCAN_WIDE_TARGET static inline void block_scan_load_wide(struct block_scan *sc, size_t base)
{
    sc->base = base;
    const char *p = sc->data + base;
    size_t n = sc->len - base;
    __m512i v;
    if (n >= BLOCK_SCAN_STEP) {
        v = _mm512_loadu_si512((const void *)p);
    } else {
        v = _mm512_mask_loadu_epi8(_mm512_set1_epi8('x'), (__mmask64)_bzhi_u64(~0ull, (unsigned)n),
                                   (const void *)p);
    }
    uint64_t tab = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\t'));
    uint64_t lf = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n'));
    uint64_t high = _mm512_movepi8_mask(v);
    /* Signed compare: bytes >= 0x80 are below 0x20 too (masked out). */
    uint64_t spec = _mm512_cmplt_epi8_mask(v, _mm512_set1_epi8(0x20)) |
                    _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(0x7f));
    sc->tab = tab;
    sc->lf = lf;
    sc->high = high;
    sc->ctrl = spec & ~high & ~tab & ~lf;
}

BLOCK_SCAN_WIDE_TARGET static inline void block_scan_seek_wide(struct block_scan *sc, size_t pos)
{
    size_t base = pos - pos % BLOCK_SCAN_STEP;
    if (base != sc->base) {
        block_scan_load_wide(sc, base);
    }
    uint64_t keep = ~0ull << (pos - base);
    sc->tab &= keep;
    sc->lf &= keep;
    sc->high &= keep;
    sc->ctrl &= keep;
}

/* Byte indexes 0..63, and the lanes that interleave 16 starts (a) and 16
 * lengths (b) into 8 + 8 struct field pairs. */
static const uint8_t block_scan_iota[64] = {
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
    44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63};
static const uint32_t block_scan_pair_lo[16] = {0, 16, 1, 17, 2, 18, 3, 19,
                                                4, 20, 5, 21, 6, 22, 7, 23};
static const uint32_t block_scan_pair_hi[16] = {8,  24, 9,  25, 10, 26, 11, 27,
                                                12, 28, 13, 29, 14, 30, 15, 31};
_Static_assert(sizeof(struct field) == 8, "two 32-bit lanes per field");

/* block_scan_line, wide. */
__attribute__((always_inline)) BLOCK_SCAN_WIDE_TARGET static inline size_t
block_scan_line_wide(struct block_scan *sc, size_t begin, struct line_view *lv)
{
    const char *data = sc->data;
    ADJ_DEBUG_ASSERT(begin < sc->len && begin >= sc->base && begin - sc->base < BLOCK_SCAN_STEP);
    lv->s = data + begin;
    lv->lo = data;
    lv->ctrl_at = UINT32_MAX;
    uint32_t nfields = 0;
    bool too_many = false;
    bool nonascii = false;
    size_t fstart = begin;
    const __m512i iota = _mm512_loadu_si512((const void *)block_scan_iota);
    const __m512i pair_lo = _mm512_loadu_si512((const void *)block_scan_pair_lo);
    const __m512i pair_hi = _mm512_loadu_si512((const void *)block_scan_pair_hi);
    /* Bounded: each pass moves to the next 64 bytes or ends the line. */
    for (;;) {
        uint64_t lf = sc->lf;
        uint64_t lf_bit = lf & (0 - lf);
        uint64_t upto = lf != 0 ? lf_bit - 1 : ~0ull; /* Bits before the LF. */
        if (ADJ_UNLIKELY((sc->ctrl & upto) != 0)) {
            size_t end = scan_line_ref(data, sc->len, begin, lv);
            if (end + 1 < sc->len) {
                block_scan_seek_wide(sc, end + 1);
            }
            return end;
        }
        nonascii = nonascii || (sc->high & upto) != 0;
        uint64_t t = sc->tab & upto;
        size_t base = sc->base;
        /* Offsets relative to the line, modulo 2^32 as in block_scan_line.
         * Each round stores 16 fields from f[n]: n <= the cap when a step
         * starts, so at most the cap + 48 in its fourth round, and
         * line_view.f has room for cap + 64. */
        uint32_t n = nfields;
        uint32_t prev = (uint32_t)(fstart - begin);
        uint32_t rb = (uint32_t)(base - begin);
        /* Bounded: at most four rounds of 16 TABs. */
        while (t != 0) {
            uint64_t g = _pdep_u64(0xFFFFull, t); /* The first 16 TABs (or all). */
            t &= ~g;
            __m512i idx = _mm512_maskz_compress_epi8((__mmask64)g, iota);
            __m512i ends = _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm512_castsi512_si128(idx)),
                                            _mm512_set1_epi32((int)rb));
            __m512i starts = _mm512_alignr_epi32(_mm512_add_epi32(ends, _mm512_set1_epi32(1)),
                                                 _mm512_set1_epi32((int)prev), 15);
            __m512i lens = _mm512_sub_epi32(ends, starts);
            _mm512_storeu_si512((void *)&lv->f[n],
                                _mm512_permutex2var_epi32(starts, pair_lo, lens));
            _mm512_storeu_si512((void *)&lv->f[n + 8u],
                                _mm512_permutex2var_epi32(starts, pair_hi, lens));
            n += (uint32_t)_mm_popcnt_u64(g);
            prev = rb + (uint32_t)(63 - __builtin_clzll(g)) + 1u; /* After the last TAB. */
        }
        fstart = begin + prev;
        if (ADJ_UNLIKELY(n > ADJ_FIELDS_PER_LINE_MAX)) {
            n = ADJ_FIELDS_PER_LINE_MAX; /* The first 16 stand; the rest only count. */
            too_many = true;
        }
        nfields = n;
        size_t end;
        if (lf != 0) {
            end = base + (size_t)__builtin_ctzll(lf);
            uint64_t keep = ~(upto | lf_bit); /* Bits after the LF. */
            sc->tab &= keep;
            sc->lf &= keep;
            sc->high &= keep;
            sc->ctrl &= keep;
            if (keep == 0 && end + 1 < sc->len) {
                block_scan_load_wide(sc, base + BLOCK_SCAN_STEP); /* The LF was bit 63. */
            }
        } else if (base + BLOCK_SCAN_STEP >= sc->len) {
            end = sc->len; /* The last line has no LF. */
        } else {
            block_scan_load_wide(sc, base + BLOCK_SCAN_STEP);
            continue;
        }
        /* No CR here (it is a control byte): the content ends at the LF. */
        return scan_line_finish(lv, begin, fstart, end, nfields, too_many, nonascii);
    }
}
#else
#define BLOCK_SCAN_WIDE 0
#endif


#endif
