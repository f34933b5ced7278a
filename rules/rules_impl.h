/*
 * Private to rules/: the compiled form shared by the parser (lang.c), the
 * table loader (table.c) and the evaluator (eval.c). Not for other layers:
 * they call rules/rules.h only.
 *
 * A compiled rule set is one arena of plain arrays: declarations, a node
 * pool (expressions and statements, children by index), typed tables with
 * their hash index and sorted interval runs, and the parameter histories.
 * Nothing points into a parse buffer that is freed after loading.
 */
#ifndef ADJ_RULES_RULES_IMPL_H
#define ADJ_RULES_RULES_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/base/err.h"
#include "core/base/money.h"
#include "rules/rules.h"

/* Bounds of a rule set, each checked at load (E_RULE_LIMIT). They size the
 * evaluator's stack frame, which is why they are small. */
#define RL_NAME_MAX 40u        /* identifier bytes */
#define RL_ENUMS_MAX 32u
#define RL_ENUM_VALUES_MAX 16u
#define RL_TABLES_MAX 24u
#define RL_COLS_MAX 16u
#define RL_KEYS_MAX 4u
#define RL_PARAMS_MAX 64u
#define RL_VARS_MAX 64u        /* doc vars, and line vars, each */
#define RL_LOCALS_MAX 64u      /* let/lookup slots of one rule */
#define RL_RULES_MAX 256u
#define RL_NODES_MAX 65536u
#define RL_DEPTH_MAX 64u       /* expression / block nesting */
#define RL_DIAG_MAX 200u       /* diagnostics printed before giving up */
#define RL_FILES_MAX 64u

/* Types. Integer literals adapt to the type they meet (RT_LIT). */
enum rt {
    RT_NONE = 0,
    RT_LIT,   /* integer literal not yet given a type */
    RT_INT,   /* a count: days, units, hundredths of rvu, years */
    RT_RIAL,
    RT_BP,    /* basis points */
    RT_DATE,  /* Jalali date as a day number */
    RT_BOOL,
    RT_CODE,  /* free text key (code, id) */
    RT_ENUM,  /* + enum id */
    RT_ROW,   /* a lookup result; + table id */
};
struct rtype {
    uint8_t kind;   /* enum rt */
    uint8_t sub;    /* enum id or table id */
};

/* A runtime value: integers in i; text (code, enum) as XXH3 hash in i plus
 * the bytes. */
struct rv {
    int64_t i;
    const char *s;
    uint32_t n;
};

struct rl_enum {
    char name[RL_NAME_MAX];
    uint32_t count;
    char values[RL_ENUM_VALUES_MAX][RL_NAME_MAX];
    uint64_t hashes[RL_ENUM_VALUES_MAX];
};

struct rl_col {
    char name[RL_NAME_MAX];
    struct rtype type;
    bool optional; /* empty cell allowed: means "no bound" (largest value) */
};

/* The slots of a one-key text table whose keys are all short (drugs,
 * services, supplies, centers), again with each group's key inline: a
 * probe reads hash, group and key from one 32-byte slot, one cache line,
 * so the key check does not wait for a second miss (the row's cell, then
 * its pool entry), and a prefetch of the slot covers it. */
#define RL_TSLOT_KEY_MAX 16u
struct rl_tslot {
    uint64_t hash;      /* the slot's hash, as rl_slot */
    uint32_t first;     /* first row of the group */
    uint16_t count;     /* rows in the group; 0 = free slot */
    uint8_t len;        /* key bytes */
    uint8_t unused;
    char key[RL_TSLOT_KEY_MAX];
};
_Static_assert(sizeof(struct rl_tslot) == 32, "two text slots per cache line, never across one");

struct rl_slot {
    uint64_t hash;
    uint32_t first; /* first row of the group */
    uint32_t count; /* rows in the group; 0 = free slot */
};

/* Cells after a table's last row that may be read (never used): V_LDFN
 * copies a row's columns in groups of four (rules/vm.c). */
#define RL_CELLS_PAD 4u

struct rl_table {
    char name[RL_NAME_MAX];
    char file[128];
    uint32_t decl_file, decl_line, decl_col;
    uint32_t ncols;
    struct rl_col cols[RL_COLS_MAX];
    uint32_t nkeys;
    uint32_t keys[RL_KEYS_MAX];
    int32_t valid_from, valid_to; /* column indexes, -1 if not dated */
    bool is_params;
    /* Loaded data. */
    uint32_t nrows;
    int64_t *cells;       /* nrows * ncols; text cells: offset of a pool entry */
    uint32_t *src_line;   /* per row */
    /* Text entries: 8-byte hash, 4-byte length, the bytes and a NUL, padded
     * to 8 bytes, so a text key is checked with one miss (the entry). */
    char *pool;
    size_t pool_len, pool_cap;
    /* Index: rows are stored grouped by key (a group = the rows of one key,
     * consecutive, sorted by from), and slots is an open-addressing table
     * with one slot per group holding the key's hash and the group's rows,
     * so a probe reads one 16-byte slot and then the row itself: two cache
     * misses on a table of millions of rows. count == 0: free slot. */
    struct rl_slot *slots;
    uint32_t slot_mask;
    uint32_t ngroups;
    /* Per key column, a 4096-bit filter of the values present (bit = top
     * 12 bits of the part's hash, rl_table_part_hash): a clear bit proves
     * no row has that value, which lets any() skip a loop whose condition
     * needs such a row (eval.c). Saturated, and so unused, on big tables. */
    uint64_t key_filter[RL_KEYS_MAX][64];
    /* One-key text tables whose keys all fit RL_TSLOT_KEY_MAX and whose
     * groups have fewer than 65,536 rows: slots with the key inline
     * (rl_tslot, 32-byte aligned, same positions as slots); NULL otherwise. */
    struct rl_tslot *tslots;
};

struct rl_param {
    char name[RL_NAME_MAX];
    struct rtype type;
    struct rv def;
    /* History from params.tsv, sorted by from. */
    uint32_t nhist;
    int32_t *hist_from, *hist_to;
    struct rv *hist_val;
    uint32_t *hist_line;
};

enum rl_scope { SC_DOC = 1, SC_LINE = 2 };

struct rl_var {
    char name[RL_NAME_MAX];
    struct rtype type;
    struct rv def;
    uint8_t scope;
};

/* Node operations. */
enum rl_op {
    /* expressions */
    OP_LIT, OP_VAR_DOC, OP_VAR_LINE, OP_LOCAL, OP_PARAM, OP_FIELD, /* row.col: a=local slot, b=table, c=col */
    OP_DOCF, OP_LINEF, OP_OTHERF, /* builtin fields: aux = field id */
    OP_PACKS,                      /* aux = 0 good,1 reused,2 invalid,3 listed */
    OP_NEG, OP_ADD, OP_SUB, OP_MUL, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_AND, OP_OR, OP_NOT, OP_COND, /* a ? b : c */
    OP_MIN, OP_MAX, OP_RND, OP_DIV_CEIL, OP_DIV_HALF_UP, OP_DIV_FLOOR, OP_AGE,
    OP_HAS,    /* imm = mask; 0 = any reason */
    OP_EXISTS, /* b=table, args list */
    OP_ANY,    /* a = condition over OP_OTHERF */
    /* statements */
    ST_LET, ST_SET, ST_LOOKUP, ST_REASON, ST_REJECT, ST_EXIT, ST_IF, ST_PACKS,
};

struct rl_node {
    uint8_t op;
    struct rtype type;
    uint16_t aux;
    uint32_t a, b, c;       /* children / slots / ids */
    uint32_t args, nargs;   /* into set->list */
    int64_t imm;
    const char *s;          /* literal text (owned by the set's string pool) */
    uint32_t n;
    uint32_t file, line, col;
};

struct rl_rule {
    char name[RL_NAME_MAX];
    uint8_t scope;
    int32_t from, to;       /* day numbers; whole range if not given */
    uint32_t when;          /* node or UINT32_MAX */
    uint32_t body, nbody;   /* statements in set->list */
    uint32_t nlocals;
    uint32_t file, line;
    /* Set by rl_prepare: the letter the rule's `when` requires of
     * line.kind (or doc.kind) as its leftmost conjunct, 0 if none; lets
     * the evaluator skip the rule without walking its condition. */
    char kind_filter;
    char local_names[RL_LOCALS_MAX][RL_NAME_MAX]; /* for the trace */
};

/* A document-level lookup whose keys are document fields and literals only,
 * so rules_prefetch_doc can compute its slot before the document runs. */
#define RL_PREFETCH_MAX 8u
struct rl_prefetch {
    uint32_t node;  /* the ST_LOOKUP */
    uint32_t table;
};

/* Built-in line outputs are the first line vars, in this order. */
enum { LV_QTY_A, LV_GROSS, LV_PATIENT, LV_INSURER, LV_DAROYAR, LV_APPROVED_INSURER,
       LV_APPROVED_DAROYAR, LV_DEDUCTION, LV_STATUS, LV_BUILTIN_COUNT };

/* Built-in enums, first in the enum table. */
enum { EN_DKIND, EN_STAY, EN_LKIND, EN_TCLASS, EN_STATUS, EN_BUILTIN_COUNT };

struct rules_set {
    /* An error was reported in a declaration (reason, enum, param, table,
     * var) or outside any: the tables' types may be wrong, so they are not
     * loaded. Errors inside rules alone leave the tables loaded and checked,
     * so that a run reports all its errors at once. */
    bool decl_errors;
    uint32_t nfiles;
    char files[RL_FILES_MAX][256];
    uint32_t nreasons;
    char reasons[64][RL_NAME_MAX];
    char reason_text[64][128];
    uint32_t nenums;
    struct rl_enum enums[RL_ENUMS_MAX];
    uint32_t ntables;
    struct rl_table tables[RL_TABLES_MAX];
    int32_t params_table; /* -1 if none */
    uint32_t nparams;
    struct rl_param params[RL_PARAMS_MAX];
    uint32_t nvars;
    struct rl_var vars[2 * RL_VARS_MAX];
    uint32_t ndocvars, nlinevars;
    uint32_t nrules;
    struct rl_rule rules[RL_RULES_MAX];
    struct rl_node *nodes;
    uint32_t nnodes, nodes_cap;
    uint32_t *list;
    uint32_t nlist, list_cap;
    char *strpool;          /* literal text, stable: chunked, never moved */
    size_t strpool_len, strpool_cap;
    bool uses_packs;
    uint32_t nprefetch;
    struct rl_prefetch prefetch[RL_PREFETCH_MAX];
    /* Set by rl_prepare: the rules of each scope in order, and the initial
     * values of the doc and line vars, so a line starts with one copy. */
    uint32_t nscope_rules[2];
    uint16_t scope_rules[2][RL_RULES_MAX];
    uint32_t ndoc_defaults, nline_defaults;
    struct rv doc_defaults[RL_VARS_MAX];
    struct rv line_defaults[RL_VARS_MAX];
    /* The compiled form (vm.c), NULL if the set could not be compiled
     * within the VM's bounds: rules_eval_doc then walks the tree. */
    struct rl_vm *vm;
};

/* eval.c: derives the evaluator's shortcuts (rule kind filters, prefetchable
 * lookups) from a loaded, checked set. Called once by the loader. */
void rl_prepare(struct rules_set *set);

/* ---- eval.c: pieces the tree walker and the compiled evaluator share ---- */

/* The last lookup of each table in one document: rules often look the same
 * key up again (a service and its K factors in two rules), and a table is
 * immutable, so (key, day) -> row is safe to remember. */
struct rl_memo {
    struct rv key[RL_KEYS_MAX];
    int32_t day;
    uint32_t row;
};
/* rl_table_find through the memo (bit ti of *memo_valid: memo[ti] holds). */
uint32_t rl_find_row(const struct rules_set *set, struct rl_memo *memo, uint32_t *memo_valid,
                     uint32_t ti, const struct rv *keys, int32_t day);
/* The value of an enum read from a one-byte document field (an unknown byte
 * gives the enum's last value), and the index of that value. */
struct rv rl_enum_val(const struct rules_set *set, uint32_t en, char c);
uint32_t rl_enum_index(const struct rules_set *set, uint32_t en, char c);
/* Built-in fields: f is the index into lang.c's doc_fields / line_fields. */
struct rv rl_doc_field(const struct rules_set *set, const struct doc *d, int32_t dos,
                       bool seen_before, uint32_t f);
struct rv rl_line_field(const struct rules_set *set, const struct doc_line *lines, uint32_t li,
                        uint32_t f);
/* A parameter's value on day dos (its history, else its default). */
struct rv rl_param_on(const struct rl_param *p, int32_t dos);
/* check packs: counts the line's pack ids good/reused/invalid/listed and
 * consumes the good ones through seen (may be NULL). */
void rl_count_packs(const struct doc_line *l, const uint64_t *uids, const struct seen_ops *seen,
                    int64_t packs[4]);
/* rnd, div_ceil, div_half_up, div_floor and age (op), checked. */
enum adj_err rl_cold_op(uint8_t op, int64_t a, int64_t b, int64_t *r);
/* Fills the decision of a line of a rejected document (o zeroed before). */
void rl_line_rejected(struct line_decision *o, const struct doc_line *l, uint64_t doc_reasons);
/* The tree-walking evaluator (eval.c). */
enum adj_err rl_eval_doc_tree(const struct rules_set *set, const struct doc *doc,
                              const struct doc_line *lines, const uint64_t *uids,
                              const struct seen_ops *seen, struct doc_decision *doc_out,
                              struct line_decision *lines_out, struct rules_trace *trace_or_null);

/* Explain's trace, one printer per event (eval.c), shared by both
 * evaluators so that their traces are the same text. */
void rl_trace_doc(FILE *tr, const struct doc *doc, bool seen_before);
void rl_trace_rule(FILE *tr, const struct rules_set *set, const struct rl_rule *r);
void rl_trace_value(FILE *tr, const struct rules_set *set, const char *what, const char *name,
                    struct rtype t, struct rv v);
void rl_trace_lookup(FILE *tr, const struct rules_set *set, uint32_t table, const struct rv *keys,
                     uint32_t nkeys, int32_t day, uint32_t row);
void rl_trace_reason(FILE *tr, const struct rules_set *set, const struct rl_rule *rule,
                     const struct rl_node *n, bool doc_level);
void rl_trace_exit(FILE *tr, const struct rules_set *set, const struct rl_node *n);
void rl_trace_packs(FILE *tr, const int64_t packs[4]);
void rl_trace_line(FILE *tr, const struct doc_line *l);
void rl_trace_line_result(FILE *tr, const struct rules_set *set, const struct line_decision *o);
void rl_trace_doc_result(FILE *tr, const struct rules_set *set, const struct doc_decision *d);

/* The line-decision finish both evaluators share, inline because it runs
 * for every line. */

/* The decision invariants of one line (LANGUAGE.md, the engine's step 3). */
static inline bool rl_line_ok(const struct line_decision *o, const struct doc_line *l)
{
    int64_t sum;
    return money_add(o->patient_rials, o->insurer_rials, &sum) &&
           money_add(sum, o->daroyar_rials, &sum) && sum == o->gross_rials &&
           o->approved_insurer_rials <= l->claimed_insurer_rials &&
           o->approved_daroyar_rials <= l->claimed_daroyar_rials && o->approved_insurer_rials >= 0 &&
           o->approved_daroyar_rials >= 0 && o->qty_a >= 0 &&
           (o->status == STATUS_A || o->status == STATUS_P || o->status == STATUS_R);
}

/* The decision of an evaluated line from its built-in vars (vals: qty_a ..
 * deduction in LV_ order; the status text) and reasons, traced and checked
 * (E_RULE_INVARIANT if patient + insurer + daroyar != gross, approved >
 * claimed, or the status is not A/P/R). */
static inline enum adj_err rl_line_finish(const struct rules_set *set, FILE *tr,
                                          const int64_t vals[LV_STATUS], struct rv status,
                                          uint64_t reasons, const struct doc_line *l,
                                          struct line_decision *o)
{
    o->qty_a = vals[LV_QTY_A];
    o->gross_rials = vals[LV_GROSS];
    o->patient_rials = vals[LV_PATIENT];
    o->insurer_rials = vals[LV_INSURER];
    o->daroyar_rials = vals[LV_DAROYAR];
    o->approved_insurer_rials = vals[LV_APPROVED_INSURER];
    o->approved_daroyar_rials = vals[LV_APPROVED_DAROYAR];
    o->deduction_rials = vals[LV_DEDUCTION];
    o->reasons = reasons;
    o->status = status.n == 1 ? (uint8_t)status.s[0] : 0;
    if (tr)
        rl_trace_line_result(tr, set, o);
    return rl_line_ok(o, l) ? ADJ_OK : ADJ_E_RULE_INVARIANT;
}

/* Adds a line into its document's sums (false on overflow). */
static inline bool rl_doc_add_line(struct doc_decision *doc_out, const struct line_decision *o,
                                   const struct doc_line *l)
{
    return money_add(doc_out->claimed_insurer_rials, l->claimed_insurer_rials,
                     &doc_out->claimed_insurer_rials) &&
           money_add(doc_out->claimed_daroyar_rials, l->claimed_daroyar_rials,
                     &doc_out->claimed_daroyar_rials) &&
           money_add(doc_out->approved_insurer_rials, o->approved_insurer_rials,
                     &doc_out->approved_insurer_rials) &&
           money_add(doc_out->approved_daroyar_rials, o->approved_daroyar_rials,
                     &doc_out->approved_daroyar_rials) &&
           money_add(doc_out->deduction_rials, o->deduction_rials, &doc_out->deduction_rials);
}
void rl_trace_error(FILE *tr, const struct rules_set *set, enum adj_err e, const struct rl_node *n);

/* ---- vm.c: the compiled evaluator ---- */

/* Compiles a loaded, prepared set (set->vm; stays NULL if the set exceeds
 * the VM's bounds, which is not an error). */
void rl_vm_compile(struct rules_set *set);
void rl_vm_free(struct rl_vm *vm);
void rl_vm_dump(const struct rules_set *set, FILE *out);
enum adj_err rl_vm_eval_doc(const struct rules_set *set, const struct doc *doc,
                            const struct doc_line *lines, const uint64_t *uids,
                            const struct seen_ops *seen, struct doc_decision *doc_out,
                            struct line_decision *lines_out, FILE *trace_or_null);

/* Diagnostics sink shared by the parser and the table loader. */
struct rl_diag {
    FILE *out;
    uint32_t count;
    enum adj_err first;
    bool unreadable; /* An E_RULE_FILE: a rule or table file could not be read. */
};
/* Prints one diagnostic with its source line and caret. text/len is the
 * whole file (may be NULL: no source line); col is in code points. */
void rl_diag_report(struct rl_diag *d, enum adj_err code, const char *file, const char *text,
                    size_t len, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* Hash of a text key and of an integer key part (stable across runs). */
uint64_t rl_hash_text(const char *s, size_t n);
static inline uint64_t rl_hash_int(int64_t v)
{
    /* splitmix64 finaliser: integer keys (national codes, mc numbers) need no
     * byte hashing, only good mixing for the open-addressing probe. */
    uint64_t z = (uint64_t)v + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline uint64_t rl_hash_combine(uint64_t h, uint64_t part)
{
    return (h ^ part) * 0x100000001B3ull + (h >> 17);
}

/* table.c: loads and indexes every declared table from dir. */
void rl_tables_load(struct rules_set *set, const char *dir, struct rl_diag *d);
/* Finds the row of key (nkeys values) whose range contains day (ignored for
 * undated tables); returns the row index or UINT32_MAX. */
uint32_t rl_table_find(const struct rl_table *t, const struct rv *key, int32_t day);
/* The key hash rl_table_find probes with, and a prefetch of its slot: a
 * caller that knows its keys documents ahead can overlap the misses. */
uint64_t rl_table_key_hash(const struct rl_table *t, const struct rv *key);
void rl_table_prefetch(const struct rl_table *t, uint64_t hash);
/* The hash of key part k (what key_filter is built from), and whether the
 * filter allows a row with that part. */
uint64_t rl_table_part_hash(const struct rl_table *t, uint32_t k, struct rv v);
bool rl_table_part_maybe(const struct rl_table *t, uint32_t k, struct rv v);
/* Reads the slot (prefetched before) and prefetches the group's first row. */
void rl_table_prefetch_row(const struct rl_table *t, uint64_t hash);
/* The value of a cell as a runtime value. */
struct rv rl_table_cell(const struct rl_table *t, uint32_t row, uint32_t col);
void rl_table_free(struct rl_table *t);
/* Parses one typed cell (also used for param values and defaults). Returns
 * ADJ_OK or E_TABLE_VALUE with *why set; text values are copied into t's
 * pool when t is not NULL, else into the set's literal pool. */
enum adj_err rl_parse_value(struct rules_set *set, struct rtype type, bool optional,
                            const char *s, size_t n, struct rv *out, const char **why);
const char *rl_strpool_add(struct rules_set *set, const char *s, size_t n);
void rl_type_name(const struct rules_set *set, struct rtype t, char *buf, size_t cap);

/* Reads a whole file (NUL-terminated copy); NULL on error with errno set. */
char *rl_read_file(const char *path, size_t *len);

/* Equality of two short texts (keys and codes are at most 32 bytes) with
 * 8-byte loads inline: a libc memcmp call costs more than the compare.
 * Reads only bytes [0, n) of each. */
static inline bool rl_bytes_equal(const char *a, const char *b, uint32_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (; n > 8; a += 8, b += 8, n -= 8) {
            memcpy(&x, a, 8);
            memcpy(&y, b, 8);
            if (x != y)
                return false;
        }
        /* The last 8 bytes, overlapping what was compared: still [0, n). */
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t p, q, u, v;
        memcpy(&p, a, 4);
        memcpy(&q, b, 4);
        memcpy(&u, a + n - 4, 4);
        memcpy(&v, b + n - 4, 4);
        return p == q && u == v;
    }
    for (; n > 0; a++, b++, n--)
        if (*a != *b)
            return false;
    return true;
}

/* Whether two key parts are the same value (the memo's test): hash and
 * length, then the bytes unless both point at the same text. */
static inline bool rl_key_same(struct rv a, struct rv b)
{
    return a.i == b.i && a.n == b.n && (a.n == 0 || a.s == b.s || rl_bytes_equal(a.s, b.s, a.n));
}

/* A text cell is the offset of a pool entry: 8-byte hash, 4-byte length,
 * the bytes and a NUL, padded to 8 (table.c). */
#define RL_TEXT_HDR 12u

/* The row of a group (the rows of one key, sorted by from, disjoint) whose
 * range holds day: the last row with from <= day, if its to >= day. An
 * undated table has one row per group. */
static inline uint32_t rl_group_row_of(const struct rl_table *t, uint32_t first, uint32_t count,
                                       int32_t day)
{
    if (t->valid_from < 0)
        return first;
    const int64_t *cells = t->cells;
    const size_t ncols = t->ncols, from = (uint32_t)t->valid_from;
    if (count == 1) { /* most keys have one row */
        const int64_t *row = cells + (size_t)first * ncols;
        return row[from] <= day && row[(uint32_t)t->valid_to] >= day ? first : UINT32_MAX;
    }
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cells[(size_t)(first + mid) * ncols + from] <= day)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return UINT32_MAX;
    uint32_t r = first + lo - 1;
    return cells[(size_t)r * ncols + (uint32_t)t->valid_to] >= day ? r : UINT32_MAX;
}

static inline uint32_t rl_group_row(const struct rl_table *t, const struct rl_slot *s, int32_t day)
{
    return rl_group_row_of(t, s->first, s->count, day);
}

/* Prefetches what a probe reads after finding slot s (an rl_slot or an
 * rl_tslot): the group's rows (a dated key's binary search reads more than
 * the first; at most RL_GROUP_PREFETCH_LINES cache lines, the rest are
 * rare). Locality is a constant at each call (0: the big document-level
 * tables, which must not evict the line tables). */
#define RL_GROUP_PREFETCH_LINES 4u
#define rl_prefetch_group(t, s, locality)                                                        \
    do {                                                                                         \
        const char *row_ = (const char *)((t)->cells + (size_t)(s)->first * (t)->ncols);         \
        size_t bytes_ = (size_t)(s)->count * (t)->ncols * sizeof(int64_t);                       \
        size_t lines_ = ((uintptr_t)row_ % 64u + bytes_ + 63u) / 64u;                            \
        if (lines_ > RL_GROUP_PREFETCH_LINES)                                                    \
            lines_ = RL_GROUP_PREFETCH_LINES;                                                    \
        for (size_t l_ = 0; l_ < lines_; l_++)                                                   \
            __builtin_prefetch(row_ + l_ * 64u, 0, (locality));                                  \
    } while (0)

/* rl_table_find for the compiled evaluator, which keeps a key's parts in
 * registers: nk (1 or 2, a constant at each call so each gets its own
 * code) key parts, part k text when bit k of text_mask (hash ki[k], bytes
 * ks[k][0, kn[k])), else the integer ki[k]. The same hash (rl_hash_combine
 * over the parts) and the same answer as rl_table_find, without key
 * arrays; a one-key text table with text slots probes those (rl_tslot). */
static inline __attribute__((always_inline)) uint32_t
rl_table_findk(const struct rl_table *t, uint32_t nk, uint32_t text_mask, const int64_t *ki,
               const char *const *ks, const uint32_t *kn, int32_t day)
{
    if (t->ngroups == 0)
        return UINT32_MAX;
    uint64_t h = 0;
    for (uint32_t k = 0; k < nk; k++)
        h = rl_hash_combine(h, text_mask & (1u << k) ? (uint64_t)ki[k] : rl_hash_int(ki[k]));
    uint32_t i = (uint32_t)h & t->slot_mask;
    if (nk == 1 && (text_mask & 1u) && t->tslots) {
        for (uint32_t probes = 0; probes <= t->slot_mask; probes++) {
            const struct rl_tslot *s = &t->tslots[i];
            if (s->count == 0)
                return UINT32_MAX;
            if (s->hash == h && s->len == kn[0] && rl_bytes_equal(s->key, ks[0], kn[0]))
                return rl_group_row_of(t, s->first, s->count, day);
            i = (i + 1) & t->slot_mask;
        }
        return UINT32_MAX;
    }
    for (uint32_t probes = 0; probes <= t->slot_mask; probes++) {
        const struct rl_slot *s = &t->slots[i];
        if (s->count == 0)
            return UINT32_MAX;
        if (s->hash == h) {
            bool same = true;
            const int64_t *row = t->cells + (size_t)s->first * t->ncols;
            for (uint32_t k = 0; k < nk && same; k++) {
                int64_t cell = row[t->keys[k]];
                if (!(text_mask & (1u << k))) {
                    same = cell == ki[k];
                    continue;
                }
                const char *e = t->pool + cell;
                uint64_t eh;
                uint32_t en;
                memcpy(&eh, e, sizeof eh);
                memcpy(&en, e + 8, sizeof en);
                same = eh == (uint64_t)ki[k] && en == kn[k] &&
                       rl_bytes_equal(e + RL_TEXT_HDR, ks[k], en);
            }
            if (same)
                return rl_group_row(t, s, day);
        }
        i = (i + 1) & t->slot_mask;
    }
    return UINT32_MAX;
}

/* The one- and two-key forms, each compiled once (not inline at every
 * site: the evaluator's dispatch loop keeps its registers). */
uint32_t rl_table_find1(const struct rl_table *t, bool text, int64_t ki, const char *ks,
                        uint32_t kn, int32_t day);
uint32_t rl_table_find2(const struct rl_table *t, uint32_t text_mask, const int64_t ki[2],
                        const char *const ks[2], const uint32_t kn[2], int32_t day);

#define RL_DAY_MAX INT32_MAX
#define RL_DAY_MIN INT32_MIN

#endif
