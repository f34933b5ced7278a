/*
 * Money: checked arithmetic never wraps, and each rounding helper rounds the
 * way its name says, including at the int64 edges. Method: exact values
 * around the edges, plus a sweep comparing rnd() with its definition.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "core/base/money.h"

Test(money, add_sub_mul_checked)
{
    int64_t out = 0;
    cr_assert(money_add(1, 2, &out));
    cr_assert_eq(out, 3);
    cr_assert_not(money_add(INT64_MAX, 1, &out));
    cr_assert_not(money_sub(INT64_MIN, 1, &out));
    cr_assert(money_sub(0, INT64_MAX, &out));
    cr_assert_eq(out, -INT64_MAX);
    cr_assert_not(money_mul(INT64_MAX / 2 + 1, 2, &out));
    cr_assert(money_mul(9000000000000000LL, 1, &out));
    cr_assert_not(money_mul(9000000000000000LL, 1000000LL, &out));
    cr_assert(money_mul(-3, 4, &out));
    cr_assert_eq(out, -12);
}

Test(money, round_half_up_matches_definition)
{
    /* rnd(x, bp) = (x * bp + 5000) / 10000 */
    int64_t out = 0;
    cr_assert(money_mul_bp_round_half_up(3000000, 3000, &out));
    cr_assert_eq(out, 900000); /* Daroyar worked example: 30 * 100,000 at 30%. */
    cr_assert(money_mul_bp_round_half_up(5, 1000, &out));
    cr_assert_eq(out, 1); /* 0.5 rounds up */
    cr_assert(money_mul_bp_round_half_up(4, 1000, &out));
    cr_assert_eq(out, 0); /* 0.4 rounds down */
    cr_assert(money_mul_bp_round_half_up(15, 3333, &out));
    cr_assert_eq(out, 5); /* 4.9995 */
    for (int64_t x = 0; x < 3000; x += 7) {
        for (int64_t bp = 0; bp <= 20000; bp += 137) {
            cr_assert(money_mul_bp_round_half_up(x, bp, &out));
            cr_assert_eq(out, (x * bp + 5000) / 10000);
            cr_assert(money_mul_bp_floor(x, bp, &out));
            cr_assert_eq(out, (x * bp) / 10000);
        }
    }
}

Test(money, round_near_int64_limits_refused_not_wrapped)
{
    int64_t out = 0;
    cr_assert(money_mul_bp_round_half_up(INT64_MAX, 10000, &out));
    cr_assert_eq(out, INT64_MAX);
    cr_assert_not(money_mul_bp_round_half_up(INT64_MAX, 10001, &out));
    cr_assert_not(money_mul_bp_round_half_up(INT64_MAX, 17000, &out));
    cr_assert(money_mul_bp_floor(INT64_MAX, 5000, &out));
    cr_assert_eq(out, INT64_MAX / 2);
}

Test(money, division_named_by_rounding)
{
    int64_t out = 0;
    cr_assert_eq(money_div_ceil(30, 10), 3);
    cr_assert_eq(money_div_ceil(31, 10), 4);
    cr_assert_eq(money_div_ceil(0, 10), 0);
    cr_assert(money_div_round_half_up(250, 100, &out));
    cr_assert_eq(out, 3);
    cr_assert(money_div_round_half_up(249, 100, &out));
    cr_assert_eq(out, 2);
    cr_assert(money_div_round_half_up(INT64_MAX, 2, &out));
    cr_assert_eq(out, INT64_MAX / 2 + 1);
}

Test(money, grouped_format)
{
    char buf[28];
    cr_assert_str_eq(money_format_grouped(0, buf), "0");
    cr_assert_str_eq(money_format_grouped(1750000, buf), "1,750,000");
    cr_assert_str_eq(money_format_grouped(-1000, buf), "-1,000");
    cr_assert_str_eq(money_format_grouped(INT64_MIN, buf), "-9,223,372,036,854,775,808");
}

/* The 64-bit fast paths (taken while x * bp + 5000, or x + d / 2, fits)
 * and the 128-bit paths must agree on both sides of the switch-over. */
Test(money, fast_and_wide_paths_agree_at_the_switch_over)
{
    const int64_t bps[] = {1, 2500, 3000, 9999, 10000, 17000, 1000000};
    for (size_t i = 0; i < sizeof bps / sizeof bps[0]; i++) {
        int64_t bp = bps[i];
        int64_t edge = (INT64_MAX - 5000) / bp; /* largest x on the fast path */
        for (int64_t x = edge - 3; x <= edge + 3; x++) {
            int64_t got = -1;
            __int128 want = ((__int128)x * bp + 5000) / 10000;
            bool ok = money_mul_bp_round_half_up(x, bp, &got);
            cr_assert_eq(ok, want <= INT64_MAX, "x=%lld bp=%lld", (long long)x, (long long)bp);
            if (ok)
                cr_assert_eq(got, (int64_t)want, "x=%lld bp=%lld", (long long)x, (long long)bp);
        }
    }
    const int64_t ds[] = {1, 2, 3, 100, 10000, INT64_MAX / 2, INT64_MAX};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        int64_t d = ds[i];
        for (__int128 wx = (__int128)INT64_MAX - d / 2 - 3; wx <= (__int128)INT64_MAX - d / 2 + 3; wx++) {
            if (wx < 0 || wx > INT64_MAX)
                continue;
            int64_t x = (int64_t)wx, got = -1;
            cr_assert(money_div_round_half_up(x, d, &got));
            cr_assert_eq(got, (int64_t)(((__int128)x + d / 2) / d), "x=%lld d=%lld", (long long)x, (long long)d);
        }
    }
}
