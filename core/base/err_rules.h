/*
 * Error table section of rules/: rule language, tables, compiler, tests.
 * Included only by core/base/err.h. Append; never rename (names are stable).
 */
#ifndef ADJ_CORE_BASE_ERR_RULES_H
#define ADJ_CORE_BASE_ERR_RULES_H

#define ADJ_ERR_MAP_RULES(XX)                                                 \
    XX(E_RULE_SYNTAX, "syntax error")                                         \
    XX(E_RULE_FILE, "cannot read rule or table file")                         \
    XX(E_RULE_NO_FILES, "no .rules file in the rule folder")                  \
    XX(E_RULE_UNKNOWN_NAME, "unknown name")                                   \
    XX(E_RULE_DUPLICATE_NAME, "name declared twice")                          \
    XX(E_RULE_TYPE, "type mismatch")                                          \
    XX(E_RULE_ENUM_VALUE, "value is not in the enum")                         \
    XX(E_RULE_REASON_UNDECLARED, "reason code is not declared")               \
    XX(E_RULE_MISSING_ELSE, "lookup has no else (miss) action")               \
    XX(E_RULE_UNREACHABLE, "unreachable rule or statement")                   \
    XX(E_RULE_SCOPE, "not allowed in this kind of rule")                      \
    XX(E_RULE_LIMIT, "rule set exceeds a compiled-in bound")                  \
    XX(E_RULE_OVERFLOW, "arithmetic overflow while evaluating a rule")        \
    XX(E_RULE_DIV_ZERO, "division by zero while evaluating a rule")           \
    XX(E_RULE_INVARIANT, "rule set broke a decision invariant")               \
    XX(E_TABLE_HEADER, "table header does not match the declared columns")    \
    XX(E_TABLE_FIELD_COUNT, "wrong number of fields in table row")            \
    XX(E_TABLE_VALUE, "table cell does not have the declared type")           \
    XX(E_TABLE_DUP_KEY, "duplicate key in table")                             \
    XX(E_TABLE_OVERLAP, "overlapping date ranges for the same key")           \
    XX(E_TABLE_RANGE_ORDER, "date range ends before it starts")               \
    XX(E_TABLE_UNKNOWN_PARAM, "parameter is not declared in the rules")

#endif
