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
