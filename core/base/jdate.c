/*
 * Jalali calendar arithmetic (see jdate.h). The leap-year count over years
 * 1..n of the 33-year rule is floor((8n + 29) / 33), checked against a
 * direct count in the unit tests for every year of the supported range.
 */
#include "core/base/jdate.h"

#include "core/base/assert.h"
#include "core/base/limits.h"
#include "core/base/text.h"

/* Day number of 1970-01-01 (Gregorian) minus 492,268 is the Jalali epoch:
 * derived from 1401/04/23 = 2022-07-14 and checked in the tests against
 * 1398/08/27 = 2019-11-18 and 1403/01/01 = 2024-03-20. */
#define JDATE_UNIX_EPOCH_DAYS 492268

bool jdate_is_leap(int32_t year)
{
    int32_t r = year % 33;
    if (r < 0) {
        r += 33;
    }
    return r == 1 || r == 5 || r == 9 || r == 13 || r == 17 || r == 22 || r == 26 || r == 30;
}

int32_t jdate_month_days(int32_t year, int32_t month)
{
    if (month < 1 || month > 12) {
        return 0;
    }
    if (month <= 6) {
        return 31;
    }
    if (month <= 11) {
        return 30;
    }
    return jdate_is_leap(year) ? 30 : 29;
}

enum adj_err jdate_validate(struct jdate date)
{
    if (date.year < ADJ_JYEAR_MIN || date.year > ADJ_JYEAR_MAX) {
        return ADJ_E_DATE_RANGE;
    }
    if (date.month < 1 || date.month > 12) {
        return ADJ_E_DATE_INVALID;
    }
    if (date.day < 1 || date.day > jdate_month_days(date.year, date.month)) {
        return ADJ_E_DATE_INVALID;
    }
    return ADJ_OK;
}

int32_t jdate_to_days(struct jdate date)
{
    return jdate_ymd_to_days(date.year, date.month, date.day);
}

struct jdate jdate_from_days(int32_t days)
{
    /* 12,053 days in 33 years; the estimate is off by at most one year. */
    int32_t year = (int32_t)(((int64_t)days * 33) / 12053) + 1;
    for (int guard = 0; guard < 4 && jdate_to_days((struct jdate){year, 1, 1}) > days; guard++) {
        year--;
    }
    for (int guard = 0; guard < 4 && jdate_to_days((struct jdate){year + 1, 1, 1}) <= days;
         guard++) {
        year++;
    }
    int32_t day_of_year = days - jdate_to_days((struct jdate){year, 1, 1}); /* 0-based */
    struct jdate out = {year, 0, 0};
    if (day_of_year < 186) {
        out.month = day_of_year / 31 + 1;
        out.day = day_of_year % 31 + 1;
    } else {
        out.month = (day_of_year - 186) / 30 + 7;
        out.day = (day_of_year - 186) % 30 + 1;
    }
    return out;
}

/* Howard Hinnant's days_from_civil: days since 1970-01-01. */
static int32_t civil_to_unix_days(int32_t y, int32_t m, int32_t d)
{
    y -= m <= 2;
    int32_t era = (y >= 0 ? y : y - 399) / 400;
    int32_t yoe = y - era * 400;
    int32_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int32_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void unix_days_to_civil(int32_t z, int32_t *y, int32_t *m, int32_t *d)
{
    z += 719468;
    int32_t era = (z >= 0 ? z : z - 146096) / 146097;
    int32_t doe = z - era * 146097;
    int32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int32_t yy = yoe + era * 400;
    int32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int32_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

int32_t jdate_days_from_gregorian(int32_t year, int32_t month, int32_t day)
{
    return civil_to_unix_days(year, month, day) + JDATE_UNIX_EPOCH_DAYS;
}

void jdate_days_to_gregorian(int32_t days, int32_t *year, int32_t *month, int32_t *day)
{
    unix_days_to_civil(days - JDATE_UNIX_EPOCH_DAYS, year, month, day);
}

/* Reads exactly `count` digits (any script) from text[*pos..], advancing
 * *pos by the bytes read. False if a non-digit is met first. */
static bool jdate_read_digits(const char *text, size_t len, size_t *pos, int count,
                              int32_t *value)
{
    int32_t v = 0;
    for (int i = 0; i < count; i++) {
        int digit;
        size_t used = text_digit_at(text + *pos, len - *pos, &digit);
        if (used == 0) {
            return false;
        }
        v = v * 10 + digit;
        *pos += used;
    }
    *value = v;
    return true;
}

static enum adj_err jdate_parse_parts(const char *text, size_t len, struct jdate *out,
                                      size_t *err_offset, bool with_day)
{
    *err_offset = 0;
    if (len == 0) {
        return ADJ_E_FIELD_EMPTY;
    }
    size_t pos = 0;
    struct jdate date = {0, 0, 1};
    if (!jdate_read_digits(text, len, &pos, 4, &date.year)) {
        *err_offset = pos;
        return with_day ? ADJ_E_DATE_FORMAT : ADJ_E_MONTH_FORMAT;
    }
    char separator = pos < len ? text[pos] : '\0';
    if (separator != '/' && (separator != '-' || !with_day)) {
        *err_offset = pos;
        return with_day ? ADJ_E_DATE_FORMAT : ADJ_E_MONTH_FORMAT;
    }
    pos++;
    if (!jdate_read_digits(text, len, &pos, 2, &date.month)) {
        *err_offset = pos;
        return with_day ? ADJ_E_DATE_FORMAT : ADJ_E_MONTH_FORMAT;
    }
    if (with_day) {
        if (pos >= len || text[pos] != separator) {
            *err_offset = pos;
            return ADJ_E_DATE_FORMAT;
        }
        pos++;
        if (!jdate_read_digits(text, len, &pos, 2, &date.day)) {
            *err_offset = pos;
            return ADJ_E_DATE_FORMAT;
        }
    }
    if (pos != len) {
        *err_offset = pos;
        return with_day ? ADJ_E_DATE_FORMAT : ADJ_E_MONTH_FORMAT;
    }
    enum adj_err err = jdate_validate(date);
    if (err != ADJ_OK) {
        return err;
    }
    *out = date;
    return ADJ_OK;
}

enum adj_err jdate_parse(const char *text, size_t len, struct jdate *out, size_t *err_offset)
{
    /* Fast path for the common form: ten ASCII bytes YYYY/MM/DD or
     * YYYY-MM-DD. Anything else (other digits, errors) takes the general
     * path, which gives the same answer and the error position. */
    if (len == 10 && (text[4] == '/' || text[4] == '-') && text[7] == text[4]) {
        const unsigned char *u = (const unsigned char *)text;
        bool digits = true;
        for (size_t i = 0; i < 10; i++) {
            if (i != 4 && i != 7 && (unsigned)(u[i] - '0') > 9u) {
                digits = false;
            }
        }
        if (digits) {
            struct jdate date = {
                (u[0] - '0') * 1000 + (u[1] - '0') * 100 + (u[2] - '0') * 10 + (u[3] - '0'),
                (u[5] - '0') * 10 + (u[6] - '0'),
                (u[8] - '0') * 10 + (u[9] - '0'),
            };
            *err_offset = 0;
            enum adj_err err = jdate_validate(date);
            if (err == ADJ_OK) {
                *out = date;
            }
            return err;
        }
    }
    return jdate_parse_parts(text, len, out, err_offset, true);
}

enum adj_err jdate_parse_month(const char *text, size_t len, struct jdate *out,
                               size_t *err_offset)
{
    return jdate_parse_parts(text, len, out, err_offset, false);
}

char *jdate_format(struct jdate date, char buf[11])
{
    int32_t parts[3] = {date.year, date.month, date.day};
    int widths[3] = {4, 2, 2};
    size_t pos = 0;
    for (int p = 0; p < 3; p++) {
        int32_t v = parts[p];
        for (int i = widths[p] - 1; i >= 0; i--) {
            buf[pos + (size_t)i] = (char)('0' + (v % 10 + 10) % 10);
            v /= 10;
        }
        pos += (size_t)widths[p];
        if (p < 2) {
            buf[pos++] = '/';
        }
    }
    buf[pos] = '\0';
    return buf;
}

int32_t jdate_age_years(struct jdate birth, struct jdate on)
{
    int32_t age = on.year - birth.year;
    if (on.month < birth.month || (on.month == birth.month && on.day < birth.day)) {
        age--;
    }
    return age;
}
