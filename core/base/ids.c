/*
 * National code, medical council number and pack id checks (see ids.h).
 */
#include "core/base/ids.h"

#include "core/base/text.h"

int ids_nid_check_digit(const char digits9[9])
{
    int sum = 0;
    for (int i = 0; i < 9; i++) {
        sum += (digits9[i] - '0') * (10 - i);
    }
    int r = sum % 11;
    return r < 2 ? r : 11 - r;
}

enum adj_err ids_nid_check(const char digits[], size_t len)
{
    if (len != 10) {
        return ADJ_E_NATIONAL_ID_LENGTH;
    }
    bool all_equal = true;
    for (size_t i = 0; i < 10; i++) {
        if (digits[i] < '0' || digits[i] > '9') {
            return ADJ_E_NUMBER_NOT_NUMERIC;
        }
        if (digits[i] != digits[0]) {
            all_equal = false;
        }
    }
    if (all_equal) {
        return ADJ_E_NATIONAL_ID_INVALID;
    }
    if (ids_nid_check_digit(digits) != digits[9] - '0') {
        return ADJ_E_NATIONAL_ID_CHECK;
    }
    return ADJ_OK;
}

enum adj_err ids_nid_parse(const char *s, size_t len, uint64_t *out, size_t *err_offset)
{
    char ascii[10];
    size_t count = 0;
    size_t pos = 0;
    *err_offset = 0;
    if (len == 0) {
        return ADJ_E_FIELD_EMPTY;
    }
    while (pos < len) {
        int digit;
        size_t used = text_digit_at(s + pos, len - pos, &digit);
        if (used == 0) {
            *err_offset = pos;
            return ADJ_E_NUMBER_NOT_NUMERIC;
        }
        if (count == 10) {
            return ADJ_E_NATIONAL_ID_LENGTH;
        }
        ascii[count++] = (char)('0' + digit);
        pos += used;
    }
    enum adj_err err = ids_nid_check(ascii, count);
    if (err != ADJ_OK) {
        return err;
    }
    uint64_t value = 0;
    for (size_t i = 0; i < 10; i++) {
        value = value * 10 + (uint64_t)(ascii[i] - '0');
    }
    *out = value;
    return ADJ_OK;
}

bool ids_uid_well_formed(const char *s, size_t len)
{
    if (len == 0 || len > 40) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        if (!ok) {
            return false;
        }
    }
    return true;
}

uint64_t ids_uid_pack(const char *s, size_t len)
{
    if (len != 20 || s[5] != '0') {
        return IDS_UID_INVALID;
    }
    uint64_t key = 0;
    for (size_t i = 0; i < 20; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return IDS_UID_INVALID;
        }
        if (i != 5) {
            key = key * 10 + (uint64_t)(s[i] - '0');
        }
    }
    return key; /* At most 10^19 - 1 < UINT64_MAX: never the sentinel. */
}

void ids_uid_unpack(uint64_t key, char buf[21])
{
    char digits[19];
    for (int i = 18; i >= 0; i--) {
        digits[i] = (char)('0' + key % 10);
        key /= 10;
    }
    size_t pos = 0;
    for (size_t i = 0; i < 19; i++) {
        if (i == 5) {
            buf[pos++] = '0';
        }
        buf[pos++] = digits[i];
    }
    buf[20] = '\0';
}
