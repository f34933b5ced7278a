/*
 * The one error table. Every error the program can report has a stable name
 * (E_...), used in diagnostics, tests and logs, and a human message. The
 * table is an X-macro (libuv's UV_ERRNO_MAP pattern): the enum, the name
 * lookup and the message lookup are generated from it, so they cannot drift.
 *
 * Diagnostics are printed in the GNU form
 *     file:line:col: error: message [E_NAME]
 * with 1-based line and column. For batch data the column is the 1-based
 * byte column of the bad field; for rule files it is the 1-based code-point
 * column (Persian text makes byte columns misleading).
 *
 * Names are stable: tests and cron jobs match on them. Append, never rename.
 * Each layer has its own section so parallel work does not collide.
 */
#ifndef ADJ_CORE_BASE_ERR_H
#define ADJ_CORE_BASE_ERR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ADJ_ERR_MAP_BASE(XX)                                                  \
    XX(OK, "no error")                                                        \
    XX(E_NOMEM, "out of memory")                                              \
    XX(E_IO, "input/output error")                                            \
    XX(E_USAGE, "usage error")                                                \
    XX(E_OVERFLOW, "arithmetic overflow")                                     \
    XX(E_INTERNAL, "internal error")

/* Values and fields of the batch format (batch-format.md "Types"). */
#define ADJ_ERR_MAP_FIELDS(XX)                                                \
    XX(E_FIELD_EMPTY, "required field is empty")                              \
    XX(E_FIELD_WHITESPACE, "field has leading or trailing white space")       \
    XX(E_FIELD_COUNT, "wrong number of fields")                               \
    XX(E_ID_FORMAT, "identifier must be 1..32 bytes")                         \
    XX(E_CODE_FORMAT, "code must be 1..20 bytes")                             \
    XX(E_NUMBER_NOT_NUMERIC, "not a number")                                  \
    XX(E_NUMBER_SIGN, "a sign is not allowed")                                \
    XX(E_NUMBER_RANGE, "number out of range")                                 \
    XX(E_AMOUNT_NOT_NUMERIC, "amount is not a whole number of rials")         \
    XX(E_AMOUNT_RANGE, "amount out of range 0..9e15 rials")                   \
    XX(E_AMOUNT_OVERFLOW, "amount arithmetic overflows")                      \
    XX(E_QTY_RANGE, "quantity out of range 1..1000000")                       \
    XX(E_TOTAL_MISMATCH, "claimed_total is not qty * unit_price")             \
    XX(E_DATE_FORMAT, "date must be YYYY/MM/DD or YYYY-MM-DD")                \
    XX(E_DATE_INVALID, "no such Jalali date")                                 \
    XX(E_DATE_RANGE, "Jalali year outside 1300..1499")                        \
    XX(E_DATE_ORDER, "date is before the date it follows")                    \
    XX(E_MONTH_FORMAT, "period must be YYYY/MM")                              \
    XX(E_NATIONAL_ID_LENGTH, "national code must be 10 digits")               \
    XX(E_NATIONAL_ID_CHECK, "national code check digit is wrong")             \
    XX(E_NATIONAL_ID_INVALID, "national code with all digits equal")          \
    XX(E_MC_FORMAT, "medical council number must be 1..8 digits")             \
    XX(E_UID_FORMAT, "pack id must be 1..40 bytes of [0-9A-Za-z]")            \
    XX(E_ENUM_VALUE, "value is not one of the allowed letters")               \
    XX(E_UTF8_INVALID, "invalid UTF-8")                                       \
    XX(E_CONTROL_CHAR, "control character in a field")

/* Each layer's section lives in its own file so parallel work does not
 * collide; each defines one X-macro list. */
#include "core/base/err_io.h"
#include "core/base/err_rules.h"
#include "core/base/err_ledger.h"

#define ADJ_ERR_MAP(XX)                                                       \
    ADJ_ERR_MAP_BASE(XX) ADJ_ERR_MAP_FIELDS(XX) ADJ_ERR_MAP_IO(XX)            \
    ADJ_ERR_MAP_RULES(XX) ADJ_ERR_MAP_LEDGER(XX)

enum adj_err {
#define ADJ_ERR_ENUM(name, msg) ADJ_##name,
    ADJ_ERR_MAP(ADJ_ERR_ENUM)
#undef ADJ_ERR_ENUM
    ADJ_ERR_COUNT
};

/* Stable identifier, e.g. "E_DATE_INVALID"; "OK" for ADJ_OK. */
const char *adj_err_name(enum adj_err err);
/* Human message, lowercase, no trailing period. */
const char *adj_err_message(enum adj_err err);
/* Converts a negative errno (io/ speaks the kernel's language) to E_IO,
 * E_NOMEM, E_OPEN as fits. */
enum adj_err adj_err_from_errno(int negative_errno);

/* A diagnostic: fixed size, no allocation. */
struct adj_diag {
    enum adj_err code;
    const char *file_name;   /* Borrowed; outlives the diag. */
    uint64_t line;           /* 1-based; 0 = whole file. */
    uint32_t column;         /* 1-based; 0 = no column. */
    uint32_t field_index;    /* 0-based field of the record, or UINT32_MAX. */
    char detail[160];        /* Extra text after the message, may be empty. */
};

/* Prints `file:line:col: error: message: detail [E_NAME]` and LF. */
void adj_diag_print(FILE *out, const struct adj_diag *diag);

/* Sets every field; detail is printf-formatted (may be NULL). */
void adj_diag_set(struct adj_diag *diag, enum adj_err code, const char *file_name,
                  uint64_t line, uint32_t column, const char *detail_fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
