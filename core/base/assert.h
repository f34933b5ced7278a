/*
 * Assertions. ADJ_ASSERT stays on in every build, release included: it guards
 * money, the ledger and batch accounting, where a crashed run can be re-run
 * idempotently but a wrongly posted one cannot be quietly un-posted
 * (TigerBeetle's reasoning). ADJ_DEBUG_ASSERT is for per-byte hot loops and
 * is compiled out with NDEBUG; the fuzzers build with it on.
 *
 * Assertions are for programmer errors only. Bad input is an operating error
 * and gets a reason code and a position, never an abort.
 */
#ifndef ADJ_CORE_BASE_ASSERT_H
#define ADJ_CORE_BASE_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

__attribute__((noreturn, cold)) static inline void
adj_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
    abort();
}

#define ADJ_ASSERT(cond) \
    ((cond) ? (void)0 : adj_assert_fail(#cond, __FILE__, __LINE__))

#ifdef NDEBUG
#define ADJ_DEBUG_ASSERT(cond) ((void)0)
#else
#define ADJ_DEBUG_ASSERT(cond) ADJ_ASSERT(cond)
#endif

#define ADJ_UNUSED(x) ((void)(x))
#define ADJ_MUST_USE __attribute__((warn_unused_result))
#define ADJ_LIKELY(x) __builtin_expect(!!(x), 1)
#define ADJ_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
