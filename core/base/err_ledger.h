/*
 * Error table section of the ledger and the pipeline (core/).
 * Included only by core/base/err.h. Append; never rename (names are stable).
 */
#ifndef ADJ_CORE_BASE_ERR_LEDGER_H
#define ADJ_CORE_BASE_ERR_LEDGER_H

#define ADJ_ERR_MAP_LEDGER(XX)                                                \
    XX(E_LEDGER_SQL, "ledger database error")                                 \
    XX(E_LEDGER_NOT_LEDGER, "file is not a dadras ledger")                    \
    XX(E_LEDGER_SCHEMA_NEWER, "ledger schema is newer than this program")     \
    XX(E_LEDGER_BUSY, "ledger is locked by another process; retry")           \
    XX(E_LEDGER_DISK_FULL, "disk full; the ledger is unchanged, retry once space is back") \
    XX(E_LEDGER_CORRUPT, "ledger database is corrupt")                        \
    XX(E_LEDGER_READONLY, "ledger cannot be written")                         \
    XX(E_LEDGER_CONSTRAINT, "the ledger database refused the write")          \
    XX(E_LEDGER_CONFLICT, "batch_id already posted with different content")   \
    XX(E_LEDGER_UNVERIFIED, "batch is not verified; nothing posted")          \
    XX(E_LEDGER_INPUT, "malformed ledger input")                              \
    XX(E_LEDGER_AMOUNT, "amount must be 1..9e15 rials")                       \
    XX(E_LEDGER_DEBT_CONFLICT, "debt already imported with other values")     \
    XX(E_LEDGER_AGREEMENT_CONFLICT, "agreement already applied with other values") \
    XX(E_LEDGER_PAYMENT_CONFLICT, "payment ref already used with other values") \
    XX(E_LEDGER_OVER_PAYABLE, "amount exceeds the center's payable balance")  \
    XX(E_LEDGER_OVER_DEBT, "amount exceeds the employer's offsettable debt")  \
    XX(E_LEDGER_SECTOR, "center's sector may not be offset (GOV, UNI, PRV, CHR only)") \
    XX(E_LEDGER_UNKNOWN_CENTER, "no such center in the ledger")               \
    XX(E_LEDGER_UNKNOWN_ACCOUNT, "no such account in the ledger")             \
    XX(E_LEDGER_UNBALANCED, "journal entry does not balance")                 \
    XX(E_LEDGER_VERIFY, "ledger verification failed")                         \
    XX(E_LEDGER_UNKNOWN_ENTRY, "no such journal entry")                       \
    XX(E_LEDGER_REVERSAL, "entry cannot be reversed")                         \
    XX(E_LEDGER_REVERSAL_CONFLICT, "entry already reversed with another date or reason")

#endif
