/*
 * Checked money arithmetic and named rounding (see money.h).
 */
#include "core/base/money.h"

#include <string.h>

bool money_mul_bp_round_half_up(int64_t x_rials, int64_t bp, int64_t *out)
{
    ADJ_ASSERT(x_rials >= 0);
    ADJ_ASSERT(bp >= 0);
    int64_t narrow;
    if (!__builtin_mul_overflow(x_rials, bp, &narrow) && narrow <= INT64_MAX - 5000) {
        /* The common case in 64 bits (a division by a constant is a
         * multiply; the 128-bit one is a library call). Same value. */
        *out = (narrow + 5000) / 10000;
        return true;
    }
    __int128 wide = (__int128)x_rials * bp + 5000;
    wide /= 10000; /* Non-negative: truncation is floor, so this is half-up. */
    if (wide > INT64_MAX) {
        return false;
    }
    *out = (int64_t)wide;
    return true;
}

bool money_mul_bp_floor(int64_t x_rials, int64_t bp, int64_t *out)
{
    ADJ_ASSERT(x_rials >= 0);
    ADJ_ASSERT(bp >= 0);
    __int128 wide = (__int128)x_rials * bp / 10000;
    if (wide > INT64_MAX) {
        return false;
    }
    *out = (int64_t)wide;
    return true;
}

bool money_div_round_half_up(int64_t x, int64_t d, int64_t *out)
{
    ADJ_ASSERT(x >= 0);
    ADJ_ASSERT(d > 0);
    if (x <= INT64_MAX - d / 2) {
        *out = (x + d / 2) / d; /* no overflow: the same value in 64 bits */
        return true;
    }
    __int128 wide = ((__int128)x + d / 2) / d;
    *out = (int64_t)wide; /* <= x, always fits. */
    return true;
}

int64_t money_div_ceil(int64_t x, int64_t d)
{
    ADJ_ASSERT(x >= 0);
    ADJ_ASSERT(d > 0);
    return x / d + (x % d != 0 ? 1 : 0);
}

char *money_format_grouped(int64_t rials, char buf[28])
{
    char digits[24];
    uint64_t v = rials < 0 ? (uint64_t)0 - (uint64_t)rials : (uint64_t)rials;
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && n < sizeof digits);
    size_t pos = 0;
    if (rials < 0) {
        buf[pos++] = '-';
    }
    for (size_t i = n; i > 0; i--) {
        buf[pos++] = digits[i - 1];
        if (i > 1 && (i - 1) % 3 == 0) {
            buf[pos++] = ',';
        }
    }
    buf[pos] = '\0';
    return buf;
}
