/*
 * UTF-8, digit folding and key canonicalisation (see text.h).
 */
#include "core/base/text.h"

#include <xxhash.h>

bool text_utf8_valid(const char *s, size_t len, size_t *bad_offset)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t min_cp;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            min_cp = 0x80;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            min_cp = 0x800;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            min_cp = 0x10000;
            cp = c & 0x07u;
        } else {
            *bad_offset = i; /* Continuation byte, C0/C1, or F5..FF. */
            return false;
        }
        if (len - i <= need) {
            *bad_offset = i;
            return false;
        }
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0u) != 0x80u) {
                *bad_offset = i;
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3Fu);
        }
        if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            *bad_offset = i;
            return false;
        }
        i += need + 1;
    }
    return true;
}

void text_canonical_key(char *dst, const char *src, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char b0 = (unsigned char)src[i];
        if (b0 == 0xD9 && i + 1 < len) {
            unsigned char b1 = (unsigned char)src[i + 1];
            if (b1 == 0x8A || b1 == 0x89) { /* U+064A, U+0649 -> U+06CC */
                dst[i] = (char)0xDB;
                dst[i + 1] = (char)0x8C;
                i++;
                continue;
            }
            if (b1 == 0x83) { /* U+0643 -> U+06A9 */
                dst[i] = (char)0xDA;
                dst[i + 1] = (char)0xA9;
                i++;
                continue;
            }
        }
        dst[i] = src[i];
    }
}

enum adj_err text_parse_u64(const char *s, size_t len, uint64_t max_value, uint64_t *out,
                            size_t *err_offset)
{
    *err_offset = 0;
    if (len == 0) {
        return ADJ_E_FIELD_EMPTY;
    }
    if (s[0] == '+' || s[0] == '-') {
        return ADJ_E_NUMBER_SIGN;
    }
    if (s[0] == ' ' || s[len - 1] == ' ') {
        *err_offset = s[0] == ' ' ? 0 : len - 1;
        return ADJ_E_FIELD_WHITESPACE;
    }
    uint64_t value = 0;
    bool too_big = false;
    size_t pos = 0;
    /* Bounded: each step consumes at least one byte. */
    while (pos < len) {
        int digit;
        size_t used = text_digit_at(s + pos, len - pos, &digit);
        if (used == 0) {
            *err_offset = pos;
            return ADJ_E_NUMBER_NOT_NUMERIC;
        }
        if (!too_big) {
            if (value > (UINT64_MAX - (uint64_t)digit) / 10) {
                too_big = true;
            } else {
                value = value * 10 + (uint64_t)digit;
            }
        }
        pos += used;
    }
    if (too_big || value > max_value) {
        return ADJ_E_NUMBER_RANGE;
    }
    *out = value;
    return ADJ_OK;
}

size_t text_codepoints(const char *s, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0u) != 0x80u) {
            count++;
        }
    }
    return count;
}

uint64_t text_hash64(const void *data, size_t len)
{
    return XXH3_64bits(data, len);
}
