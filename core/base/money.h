/*
 * Money: int64 rials, whole, never fractional, never floating point.
 *
 * Every operation that can overflow is checked (GCC/Clang overflow builtins,
 * defined for every input) and returns false on overflow instead of
 * wrapping. Percentages are integer basis points (1 bp = 1/10,000), and every
 * division says how it rounds in its name.
 *
 * Invariants:
 *  (1) No function here returns a wrapped result: on overflow the out value
 *      is left unspecified and the function returns false.
 *  (2) Rounding helpers take x >= 0 and bp >= 0 (the SSO rules never round a
 *      negative amount); they assert it.
 */
#ifndef ADJ_CORE_BASE_MONEY_H
#define ADJ_CORE_BASE_MONEY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/base/assert.h"

#define ADJ_BP_ONE 10000LL /* 100% in basis points. */

ADJ_MUST_USE static inline bool money_add(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

ADJ_MUST_USE static inline bool money_sub(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_sub_overflow(a, b, out);
}

ADJ_MUST_USE static inline bool money_mul(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* rnd(x, bp) of adjudication.md: (x * bp + 5000) / 10000, half-up to the
 * rial, computed in 128 bits. False if the result does not fit int64. */
ADJ_MUST_USE bool money_mul_bp_round_half_up(int64_t x_rials, int64_t bp, int64_t *out);
/* (x * bp) / 10000 rounded toward zero (floor for x >= 0). */
ADJ_MUST_USE bool money_mul_bp_floor(int64_t x_rials, int64_t bp, int64_t *out);
/* (x + d/2) / d for x >= 0, d > 0: division rounding half up. */
ADJ_MUST_USE bool money_div_round_half_up(int64_t x, int64_t d, int64_t *out);
/* ceil(x / d) for x >= 0, d > 0. */
int64_t money_div_ceil(int64_t x, int64_t d);

static inline int64_t money_min(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t money_max(int64_t a, int64_t b) { return a > b ? a : b; }

/* Formats 1234567 as "1,234,567" (for humans; machine files use plain
 * digits). buf must hold 28 bytes. Returns buf. */
char *money_format_grouped(int64_t rials, char buf[28]);

#endif
