/*
 * Jalali (Solar Hijri) dates: parsing, validation, day numbers, and the
 * bridge to Gregorian.
 *
 * Leap years follow the 33-year rule (year mod 33 in {1,5,9,13,17,22,26,30}),
 * which agrees with the official calendar of the University of Tehran's
 * calendar centre over the supported range 1300..1499 (1399, 1403 and 1408
 * are leap; 1404 is not). The popular 2820-year rule does not, and is not
 * used. Dates outside 1300..1499 are rejected (E_DATE_RANGE).
 *
 * A date is kept as a day number (days since 1 Farvardin of year 1 of this
 * arithmetic calendar) so comparisons, ranges and differences are integer
 * operations. Day numbers of valid dates are positive and fit int32.
 */
#ifndef ADJ_CORE_BASE_JDATE_H
#define ADJ_CORE_BASE_JDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"

struct jdate {
    int32_t year;  /* 1300..1499 once validated. */
    int32_t month; /* 1..12 */
    int32_t day;   /* 1..31 */
};

bool jdate_is_leap(int32_t year);
/* 31 for months 1..6, 30 for 7..11, 29 or 30 for 12; 0 for a bad month. */
int32_t jdate_month_days(int32_t year, int32_t month);
/* Checks range and calendar: ADJ_OK, E_DATE_RANGE or E_DATE_INVALID. */
enum adj_err jdate_validate(struct jdate date);

/* Parses `YYYY/MM/DD` or `YYYY-MM-DD` (fixed width, one separator kind),
 * digits ASCII, Persian or Arabic-Indic. On error, *err_offset is the byte
 * offset inside text of the problem (0 when the whole field is wrong).
 * Errors: E_FIELD_EMPTY, E_DATE_FORMAT, E_DATE_RANGE, E_DATE_INVALID. */
enum adj_err jdate_parse(const char *text, size_t len, struct jdate *out, size_t *err_offset);
/* Parses `YYYY/MM` (a period), same digits. Day is set to 1. */
enum adj_err jdate_parse_month(const char *text, size_t len, struct jdate *out,
                               size_t *err_offset);

/* Day number of a valid date, and back. jdate_ymd_to_days is the same
 * from three numbers, inline: the intake's date fast path calls it twice
 * per document, and a struct jdate passed by value went through the stack
 * (two 4-byte stores read back as one 8-byte load: a store-forwarding
 * stall, measurable there). */
__attribute__((always_inline)) static inline int32_t jdate_ymd_to_days(int32_t year, int32_t month,
                                                                   int32_t day)
{
    int32_t day_of_year = month <= 7 ? (month - 1) * 31 + day : 186 + (month - 7) * 30 + day;
    int32_t leaps_before = (8 * (year - 1) + 29) / 33; /* Leap years among 1..year-1. */
    return 365 * (year - 1) + leaps_before + day_of_year - 1;
}
int32_t jdate_to_days(struct jdate date);
struct jdate jdate_from_days(int32_t days);

/* Gregorian bridge through day numbers (proleptic Gregorian). */
int32_t jdate_days_from_gregorian(int32_t year, int32_t month, int32_t day);
void jdate_days_to_gregorian(int32_t days, int32_t *year, int32_t *month, int32_t *day);

/* Writes "YYYY/MM/DD" and NUL; buf holds 11 bytes. Returns buf. */
char *jdate_format(struct jdate date, char buf[11]);

/* Age in whole years on `on` of someone born on `birth` (adjudication.md:
 * year difference, minus one if (month, day) of `on` is before birth's). */
int32_t jdate_age_years(struct jdate birth, struct jdate on);

#endif
