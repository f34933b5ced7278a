/*
 * Every bound of the program, each with its reason. Input beyond a bound is
 * rejected with a specific error, never truncated silently. Other modules
 * size their arenas and rings from these; nothing else hard-codes a bound.
 */
#ifndef ADJ_CORE_BASE_LIMITS_H
#define ADJ_CORE_BASE_LIMITS_H

/* batch-format.md: a line longer than 64 KiB is an error for that line. */
#define ADJ_LINE_BYTES_MAX (64u * 1024u)
/* The widest record (L) has 12 fields; one more lets us detect "too many". */
#define ADJ_FIELDS_PER_LINE_MAX 16u
/* batch-format.md: a document holds 1..10,000 L records. */
#define ADJ_LINES_PER_DOC_MAX 10000u
/* type `id`: 1..32 bytes. */
#define ADJ_ID_BYTES_MAX 32u
/* type `code`: 1..20 bytes. */
#define ADJ_CODE_BYTES_MAX 20u
/* type `uid`: 1..40 bytes of [0-9A-Za-z]. */
#define ADJ_UID_BYTES_MAX 40u
/* type `mc`: 1..8 digits. */
#define ADJ_MC_DIGITS_MAX 8u
/* type `rial`: 0..9e15, so that qty (<= 1e6) * price fits easily in int64
 * sums over a whole batch are still checked. */
#define ADJ_RIAL_MAX 9000000000000000LL
/* type `qty`: 1..1e6. */
#define ADJ_QTY_MAX 1000000LL
/* Jalali years the program accepts (33-year rule checked over this range). */
#define ADJ_JYEAR_MIN 1300
#define ADJ_JYEAR_MAX 1499
/* A line's uid list: one pack id per pack, so at most qty uids; beyond this
 * many on one line the list is rejected. Bounded by the line length anyway
 * (64 KiB / 21 bytes per 20-digit uid ~ 3,100). */
#define ADJ_UIDS_PER_LINE_MAX 4096u
/* Reason codes a rule set may declare: one bit each in a uint64_t. */
#define ADJ_REASONS_MAX 64u

_Static_assert(ADJ_FIELDS_PER_LINE_MAX > 12, "L has 12 fields");

#endif
