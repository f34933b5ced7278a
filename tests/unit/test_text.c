/*
 * Text: strict UTF-8 (Markus Kuhn's classes: stray continuation, overlong,
 * surrogate, above U+10FFFF, truncated), digit folding, yeh/kaf keys and
 * strict unsigned parsing, and the error table's stable names.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/base/err.h"
#include "core/base/text.h"

Test(text, utf8_strict)
{
    size_t off = 99;
    cr_assert(text_utf8_valid("abc \xD8\xA7 \xE2\x82\xAC \xF0\x9F\x98\x80", 15, &off));
    cr_assert_not(text_utf8_valid("a\x80", 2, &off));
    cr_assert_eq(off, 1u);
    cr_assert_not(text_utf8_valid("\xC0\xAF", 2, &off));
    cr_assert_not(text_utf8_valid("\xE0\x80\xAF", 3, &off));
    cr_assert_not(text_utf8_valid("\xED\xA0\x80", 3, &off));
    cr_assert_not(text_utf8_valid("\xF4\x90\x80\x80", 4, &off));
    cr_assert_not(text_utf8_valid("ab\xD8", 3, &off));
    cr_assert_eq(off, 2u);
    cr_assert_not(text_utf8_valid("\xFF", 1, &off));
}

Test(text, canonical_keys)
{
    /* "علی" with Arabic yeh U+064A, and "کد" spelled with Arabic kaf U+0643 */
    char arabic[] = "\xD8\xB9\xD9\x84\xD9\x8A \xD9\x83\xD8\xAF";
    char persian[] = "\xD8\xB9\xD9\x84\xDB\x8C \xDA\xA9\xD8\xAF";
    text_canonical_key(arabic, arabic, strlen(arabic));
    cr_assert_str_eq(arabic, persian);
    char ascii[] = "ABC123";
    text_canonical_key(ascii, ascii, 6);
    cr_assert_str_eq(ascii, "ABC123");
}

Test(text, parse_u64)
{
    uint64_t v = 0;
    size_t off = 0;
    cr_assert_eq(text_parse_u64("000120", 6, 1000, &v, &off), ADJ_OK);
    cr_assert_eq(v, 120u);
    cr_assert_eq(text_parse_u64("\xDB\xB1\xDB\xB2\xDB\xB0\xDB\xB0", 8, 10000, &v, &off), ADJ_OK);
    cr_assert_eq(v, 1200u);
    cr_assert_eq(text_parse_u64("\xDB\xB1" "2\xD9\xA0" "0", 6, 10000, &v, &off), ADJ_OK);
    cr_assert_eq(v, 1200u);
    cr_assert_eq(text_parse_u64("1,200", 5, 10000, &v, &off), ADJ_E_NUMBER_NOT_NUMERIC);
    cr_assert_eq(off, 1u);
    cr_assert_eq(text_parse_u64("-1", 2, 10, &v, &off), ADJ_E_NUMBER_SIGN);
    cr_assert_eq(text_parse_u64("+1", 2, 10, &v, &off), ADJ_E_NUMBER_SIGN);
    cr_assert_eq(text_parse_u64(" 1", 2, 10, &v, &off), ADJ_E_FIELD_WHITESPACE);
    cr_assert_eq(text_parse_u64("1e6", 3, 10000000, &v, &off), ADJ_E_NUMBER_NOT_NUMERIC);
    cr_assert_eq(text_parse_u64("", 0, 10, &v, &off), ADJ_E_FIELD_EMPTY);
    cr_assert_eq(text_parse_u64("9223372036854775808", 19, (uint64_t)INT64_MAX, &v, &off),
                 ADJ_E_NUMBER_RANGE);
    cr_assert_eq(text_parse_u64("99999999999999999999999", 23, UINT64_MAX, &v, &off),
                 ADJ_E_NUMBER_RANGE);
}

Test(text, error_table_names_are_stable)
{
    cr_assert_str_eq(adj_err_name(ADJ_OK), "OK");
    cr_assert_str_eq(adj_err_name(ADJ_E_DATE_INVALID), "E_DATE_INVALID");
    cr_assert_str_eq(adj_err_name(ADJ_E_TRAILER_COUNT), "E_TRAILER_COUNT");
    cr_assert_str_eq(adj_err_name((enum adj_err)9999), "E_UNKNOWN");
    struct adj_diag diag;
    adj_diag_set(&diag, ADJ_E_DATE_INVALID, "b.tsv", 12, 7, "'%s'", "1404/12/30");
    char buf[256];
    FILE *mem = fmemopen(buf, sizeof buf, "w");
    adj_diag_print(mem, &diag);
    fclose(mem);
    cr_assert_str_eq(buf, "b.tsv:12:7: error: no such Jalali date: '1404/12/30' [E_DATE_INVALID]\n");
}
