/*
 * Jalali dates. Method: exhaustive over the supported range where the domain
 * is small (every year 1300..1499 against the 33-year rule, every
 * (year, month, day) with day 0..32 through parse and day numbers), plus the
 * fixed Gregorian anchors of the issue and of domain.md.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/base/jdate.h"

static bool reference_leap(int y)
{
    static const int leap_residues[] = {1, 5, 9, 13, 17, 22, 26, 30};
    for (size_t i = 0; i < 8; i++) {
        if (y % 33 == leap_residues[i]) {
            return true;
        }
    }
    return false;
}

Test(jdate, leap_years_follow_33_year_rule)
{
    for (int y = 1300; y <= 1499; y++) {
        cr_assert_eq(jdate_is_leap(y), reference_leap(y), "year %d", y);
    }
    cr_assert(jdate_is_leap(1399));
    cr_assert(jdate_is_leap(1403));
    cr_assert_not(jdate_is_leap(1404));
    cr_assert(jdate_is_leap(1408)); /* five-year gap after 1403 */
    cr_assert_not(jdate_is_leap(1407));
}

Test(jdate, gregorian_anchors)
{
    int32_t y, m, d;
    int32_t days = jdate_to_days((struct jdate){1401, 4, 23});
    cr_assert_eq(days, jdate_days_from_gregorian(2022, 7, 14));
    jdate_days_to_gregorian(days, &y, &m, &d);
    cr_assert(y == 2022 && m == 7 && d == 14);
    cr_assert_eq(jdate_to_days((struct jdate){1398, 8, 27}),
                 jdate_days_from_gregorian(2019, 11, 18));
    cr_assert_eq(jdate_to_days((struct jdate){1403, 1, 1}),
                 jdate_days_from_gregorian(2024, 3, 20));
    cr_assert_eq(jdate_to_days((struct jdate){1402, 12, 29}),
                 jdate_days_from_gregorian(2024, 3, 19));
    cr_assert_eq(jdate_to_days((struct jdate){1403, 12, 30}),
                 jdate_days_from_gregorian(2025, 3, 20));
    cr_assert_eq(jdate_to_days((struct jdate){1404, 1, 1}),
                 jdate_days_from_gregorian(2025, 3, 21));
}

Test(jdate, every_date_round_trips_and_days_are_consecutive)
{
    int32_t previous = 0;
    bool first = true;
    for (int32_t y = 1300; y <= 1499; y++) {
        int32_t year_days = 0;
        for (int32_t m = 1; m <= 12; m++) {
            for (int32_t d = 0; d <= 32; d++) {
                struct jdate date = {y, m, d};
                bool valid = d >= 1 && d <= (m <= 6 ? 31 : m <= 11 ? 30 : reference_leap(y) ? 30 : 29);
                cr_assert_eq(jdate_validate(date) == ADJ_OK, valid, "%d/%d/%d", y, m, d);
                char text[16];
                snprintf(text, sizeof text, "%04d/%02d/%02d", y, m, d);
                struct jdate parsed;
                size_t off;
                enum adj_err err = jdate_parse(text, strlen(text), &parsed, &off);
                cr_assert_eq(err == ADJ_OK, valid, "%s", text);
                if (!valid) {
                    continue;
                }
                year_days++;
                int32_t days = jdate_to_days(date);
                if (!first) {
                    cr_assert_eq(days, previous + 1, "%s", text);
                }
                first = false;
                previous = days;
                struct jdate back = jdate_from_days(days);
                cr_assert(back.year == y && back.month == m && back.day == d, "%s", text);
            }
        }
        cr_assert_eq(year_days, reference_leap(y) ? 366 : 365);
    }
}

Test(jdate, parse_forms_and_digits)
{
    struct jdate d;
    size_t off;
    cr_assert_eq(jdate_parse("1403-12-30", 10, &d, &off), ADJ_OK);
    cr_assert(d.year == 1403 && d.month == 12 && d.day == 30);
    const char *persian = "\xDB\xB1\xDB\xB4\xDB\xB0\xDB\xB3/\xDB\xB0\xDB\xB1/\xDB\xB0\xDB\xB5";
    cr_assert_eq(jdate_parse(persian, strlen(persian), &d, &off), ADJ_OK);
    cr_assert(d.year == 1403 && d.month == 1 && d.day == 5);
    const char *arabic = "\xD9\xA1\xD9\xA4\xD9\xA0\xD9\xA1/04/23";
    cr_assert_eq(jdate_parse(arabic, strlen(arabic), &d, &off), ADJ_OK);
    cr_assert(d.year == 1401 && d.month == 4 && d.day == 23);
    cr_assert_eq(jdate_parse("1404/12/30", 10, &d, &off), ADJ_E_DATE_INVALID);
    cr_assert_eq(jdate_parse("1403/07/31", 10, &d, &off), ADJ_E_DATE_INVALID);
    cr_assert_eq(jdate_parse("1403/06/31", 10, &d, &off), ADJ_OK);
    cr_assert_eq(jdate_parse("1403/13/01", 10, &d, &off), ADJ_E_DATE_INVALID);
    cr_assert_eq(jdate_parse("1403/1/5", 8, &d, &off), ADJ_E_DATE_FORMAT);
    cr_assert_eq(jdate_parse("1403/01-05", 10, &d, &off), ADJ_E_DATE_FORMAT);
    cr_assert_eq(off, 7u);
    cr_assert_eq(jdate_parse("14030105", 8, &d, &off), ADJ_E_DATE_FORMAT);
    cr_assert_eq(jdate_parse("2024/03/20", 10, &d, &off), ADJ_E_DATE_RANGE);
    cr_assert_eq(jdate_parse("03/01/05", 8, &d, &off), ADJ_E_DATE_FORMAT);
    cr_assert_eq(jdate_parse("", 0, &d, &off), ADJ_E_FIELD_EMPTY);
    cr_assert_eq(jdate_parse("1403/01/05x", 11, &d, &off), ADJ_E_DATE_FORMAT);
    cr_assert_eq(jdate_parse_month("1403/07", 7, &d, &off), ADJ_OK);
    cr_assert(d.year == 1403 && d.month == 7);
    cr_assert_eq(jdate_parse_month("1403/13", 7, &d, &off), ADJ_E_DATE_INVALID);
    cr_assert_eq(jdate_parse_month("1403/07/01", 10, &d, &off), ADJ_E_MONTH_FORMAT);
}

Test(jdate, age_and_format)
{
    struct jdate birth = {1338, 5, 10};
    cr_assert_eq(jdate_age_years(birth, (struct jdate){1403, 5, 9}), 64);
    cr_assert_eq(jdate_age_years(birth, (struct jdate){1403, 5, 10}), 65);
    char buf[11];
    cr_assert_str_eq(jdate_format((struct jdate){1403, 1, 5}, buf), "1403/01/05");
}
