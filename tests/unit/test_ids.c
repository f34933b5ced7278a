/*
 * Identifiers: the national-code check digit (with the all-equal rule), and
 * pack-id validity and packing. Method: known codes, a sweep that makes a
 * valid code from every 9-digit prefix sample and checks each wrong digit
 * is refused, and pack/unpack round trips.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/base/ids.h"

Test(ids, national_code_check)
{
    cr_assert_eq(ids_nid_check("0013542419", 10), ADJ_OK);
    cr_assert_eq(ids_nid_check("0013542418", 10), ADJ_E_NATIONAL_ID_CHECK);
    cr_assert_eq(ids_nid_check("1111111111", 10), ADJ_E_NATIONAL_ID_INVALID);
    cr_assert_eq(ids_nid_check("0000000000", 10), ADJ_E_NATIONAL_ID_INVALID);
    cr_assert_eq(ids_nid_check("12345678", 8), ADJ_E_NATIONAL_ID_LENGTH);
}

Test(ids, every_wrong_check_digit_refused)
{
    char code[11];
    for (unsigned prefix = 1000; prefix < 999999999u; prefix += 7654321u) {
        snprintf(code, sizeof code, "%09u", prefix);
        int check = ids_nid_check_digit(code);
        for (int d = 0; d <= 9; d++) {
            code[9] = (char)('0' + d);
            enum adj_err want = d == check ? ADJ_OK : ADJ_E_NATIONAL_ID_CHECK;
            cr_assert_eq(ids_nid_check(code, 10), want, "%.10s", code);
        }
    }
}

Test(ids, national_code_parse_any_digits)
{
    uint64_t v = 0;
    size_t off;
    const char *persian = "\xDB\xB0\xDB\xB0\xDB\xB1\xDB\xB3\xDB\xB5\xDB\xB4\xDB\xB2\xDB\xB4\xDB\xB1\xDB\xB9";
    cr_assert_eq(ids_nid_parse(persian, strlen(persian), &v, &off), ADJ_OK);
    cr_assert_eq(v, 13542419u);
    cr_assert_eq(ids_nid_parse("001354241", 9, &v, &off), ADJ_E_NATIONAL_ID_LENGTH);
    cr_assert_eq(ids_nid_parse("00135424190", 11, &v, &off), ADJ_E_NATIONAL_ID_LENGTH);
    cr_assert_eq(ids_nid_parse("00135x2419", 10, &v, &off), ADJ_E_NUMBER_NOT_NUMERIC);
    cr_assert_eq(off, 5u);
}

Test(ids, uid_validity_and_packing)
{
    cr_assert(ids_uid_well_formed("abcXYZ019", 9));
    cr_assert_not(ids_uid_well_formed("abc-1", 5));
    cr_assert_not(ids_uid_well_formed("", 0));
    const char *good = "12345067890123456789";
    uint64_t key = ids_uid_pack(good, 20);
    cr_assert_neq(key, IDS_UID_INVALID);
    char back[21];
    ids_uid_unpack(key, back);
    cr_assert_str_eq(back, good);
    cr_assert_eq(ids_uid_pack("12345167890123456789", 20), IDS_UID_INVALID); /* 6th digit 1 */
    cr_assert_eq(ids_uid_pack("1234506789012345678", 19), IDS_UID_INVALID);
    cr_assert_eq(ids_uid_pack("1234506789012345678a", 20), IDS_UID_INVALID);
    cr_assert_neq(ids_uid_pack("99999099999999999999", 20), IDS_UID_INVALID);
    cr_assert_eq(ids_uid_pack("00000000000000000000", 20), 0u);
    /* Injective: two uids differing in one digit give different keys. */
    cr_assert_neq(ids_uid_pack("12345067890123456789", 20),
                  ids_uid_pack("12345067890123456788", 20));
}
