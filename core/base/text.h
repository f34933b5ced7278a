/*
 * Text at the input boundary: strict UTF-8 validation, digit folding
 * (Persian U+06F0..U+06F9 and Arabic-Indic U+0660..U+0669 mean the ASCII
 * digits), canonical keys (Arabic yeh U+064A and alef maksura U+0649 to
 * Persian yeh U+06CC, Arabic kaf U+0643 to Persian kaf U+06A9) and strict
 * number parsing.
 *
 * Every UTF-8 form these functions rewrite has the same byte length as its
 * replacement (all are two-byte sequences), so normalising never changes
 * a field's length or the columns after it.
 */
#ifndef ADJ_CORE_BASE_TEXT_H
#define ADJ_CORE_BASE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"

/* If s starts with a digit of any accepted script, stores its value and
 * returns the bytes it takes (1 or 2); otherwise returns 0. */
static inline size_t text_digit_at(const char *s, size_t len, int *digit)
{
    if (len >= 1 && (unsigned)((unsigned char)s[0] - '0') < 10u) {
        *digit = s[0] - '0';
        return 1;
    }
    if (len >= 2) {
        unsigned char b0 = (unsigned char)s[0];
        unsigned char b1 = (unsigned char)s[1];
        if (b0 == 0xDB && b1 >= 0xB0 && b1 <= 0xB9) { /* U+06F0..U+06F9 */
            *digit = b1 - 0xB0;
            return 2;
        }
        if (b0 == 0xD9 && b1 >= 0xA0 && b1 <= 0xA9) { /* U+0660..U+0669 */
            *digit = b1 - 0xA0;
            return 2;
        }
    }
    return 0;
}

/* ---- ASCII fast path for numbers (SWAR: eight digits per 64-bit word) ---- */

/* True if the 8 bytes of w are all ASCII digits: high nibble 3, and adding
 * 6 to the low nibble does not carry into it (low nibble <= 9). Both
 * nibbles are tested in one compare: the high nibble of w + 6 moves to the
 * low nibble (a carry out of a byte only comes from a byte >= 0xFA, which
 * fails the high-nibble test anyway). */
__attribute__((always_inline)) static inline bool text_swar_is_digits8(uint64_t w)
{
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ull;
    return ((w & hi) | (((w + 0x0606060606060606ull) & hi) >> 4)) == 0x3333333333333333ull;
}

/* The value of 8 ASCII digits in w, the first (most significant) in the
 * lowest byte: pairs, then quads, then the whole, by multiply-shift. */
__attribute__((always_inline)) static inline uint64_t text_swar_value8(uint64_t w)
{
    w = ((w & 0x0F0F0F0F0F0F0F0Full) * 2561u) >> 8;
    w = ((w & 0x00FF00FF00FF00FFull) * 6553601u) >> 16;
    return ((w & 0x0000FFFF0000FFFFull) * 42949672960001ull) >> 32;
}

/* The k (1..8) ASCII digits ending at e, from one 8-byte load at e - 8
 * (the bytes before the digits count as leading zeros). False if one of
 * the k is not an ASCII digit. */
__attribute__((always_inline)) static inline bool text_swar_digits_before(const char *e, size_t k, uint64_t *v)
{
    uint64_t w;
    __builtin_memcpy(&w, e - 8, 8);
    uint64_t keep = ~0ull << (8u * (8u - (unsigned)k)); /* The last k bytes. */
    w = (w & keep) | (0x3030303030303030ull & ~keep);
    if (!text_swar_is_digits8(w)) {
        return false;
    }
    *v = text_swar_value8(w);
    return true;
}

/* Fast path of text_parse_u64 for the common case: if s[0..len) is 1..19
 * ASCII digits (below 10^19, so no overflow), stores the value and returns
 * true; otherwise returns false and the caller takes text_parse_u64, which
 * handles other scripts, signs, spaces and gives the errors. buf_start is
 * the start of the buffer s points into: the 8 (len <= 8) or 16 bytes
 * before s + len are loaded when they lie inside it, so no byte after the
 * field is ever read; otherwise (or on a big-endian machine) a byte loop. */
__attribute__((always_inline)) static inline bool text_ascii_u64(const char *buf_start, const char *s, size_t len,
                                  uint64_t *out)
{
    if (len == 0 || len > 19) {
        return false;
    }
    if (len <= 2) {
        /* One or two digits (line numbers, quantities): cheaper by hand. */
        unsigned a = (unsigned)(unsigned char)s[0] - '0';
        unsigned b = len == 2 ? (unsigned)(unsigned char)s[1] - '0' : 0u;
        if (a > 9u || b > 9u) {
            return false;
        }
        *out = len == 2 ? a * 10u + b : a;
        return true;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    size_t before = (size_t)(s - buf_start) + len; /* Readable bytes ending at s + len. */
    if (len <= 8 && before >= 8) {
        return text_swar_digits_before(s + len, len, out);
    }
    if (len <= 16 && before >= 16) {
        uint64_t hi, lo;
        if (!text_swar_digits_before(s + len - 8, len - 8, &hi) ||
            !text_swar_digits_before(s + len, 8, &lo)) {
            return false;
        }
        *out = hi * 100000000u + lo;
        return true;
    }
#else
    (void)buf_start;
#endif
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9u) {
            return false;
        }
        v = v * 10u + d;
    }
    *out = v;
    return true;
}

/* Validates strict UTF-8 (no overlongs, surrogates, or code points above
 * U+10FFFF). Returns true if valid; otherwise *bad_offset is the offset of
 * the first byte of the bad sequence. */
bool text_utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Copies src to dst (same length) with yeh and kaf canonicalised. dst may
 * equal src. */
void text_canonical_key(char *dst, const char *src, size_t len);

/* Parses an unsigned decimal of any digit script into *out, requiring
 * 1..max_digits digits and value <= max_value. Errors, with *err_offset the
 * byte offset of the offending character:
 *   E_FIELD_EMPTY, E_NUMBER_SIGN ('+' or '-' first), E_FIELD_WHITESPACE,
 *   E_NUMBER_NOT_NUMERIC (any other non-digit), E_NUMBER_RANGE. */
enum adj_err text_parse_u64(const char *s, size_t len, uint64_t max_value, uint64_t *out,
                            size_t *err_offset);

/* Number of code points in s[0..len) (for rule-file columns). Invalid bytes
 * count one each. */
size_t text_codepoints(const char *s, size_t len);

/* FNV-free, stable 64-bit hash of a key (XXH3). */
uint64_t text_hash64(const void *data, size_t len);

#endif
