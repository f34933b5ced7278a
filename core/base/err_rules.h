/*
 * Error table section of rules/: rule language, tables, compiler, tests.
 * Included only by core/base/err.h. Append; never rename (names are stable).
 */
#ifndef ADJ_CORE_BASE_ERR_RULES_H
#define ADJ_CORE_BASE_ERR_RULES_H

#define ADJ_ERR_MAP_RULES(XX)                                                 \
    XX(E_RULE_SYNTAX, "syntax error")

#endif
