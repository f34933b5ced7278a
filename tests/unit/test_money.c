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
