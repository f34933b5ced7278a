/*
 * Error table section of the ledger and the pipeline (core/).
 * Included only by core/base/err.h. Append; never rename (names are stable).
 */
#ifndef ADJ_CORE_BASE_ERR_LEDGER_H
#define ADJ_CORE_BASE_ERR_LEDGER_H

#define ADJ_ERR_MAP_LEDGER(XX)                                                \
    XX(E_LEDGER_SQL, "ledger database error")

#endif
