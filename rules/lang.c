/*
 * The rule language: lexer, parser and static checker, producing the
 * resolved node tree that eval.c walks. Grammar and semantics are in
 * rules/LANGUAGE.md. One pass: every name is resolved and every expression
 * typed as it is parsed, so declarations come before use (files are read in
 * name order). Every error is reported (GNU form, source line, caret); after
 * a syntax error the parser skips to the next declaration keyword so the
 * rest of the file is still checked.
 *
 * Types are the heart of the checks: int (counts), rial, bp (basis points),
 * date, bool, code, each enum. Rial times bp is refused (use rnd), a rial
 * is never assigned to bp, integer literals adapt to the type they meet.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/jdate.h"
#include "core/base/text.h"
#include "rules/rules_impl.h"

/* Literal pool: every string literal and code default of all rule files. */
#define RL_STRPOOL_BYTES (256u * 1024u)
/* A rule file larger than this is refused (rule sets are hand written). */
#define RL_RULE_FILE_MAX (4u * 1024u * 1024u)

/* ---------------------------------------------------------------- diag */

void rl_diag_report(struct rl_diag *d, enum adj_err code, const char *file, const char *text,
                    size_t len, uint32_t line, uint32_t col, const char *fmt, ...)
{
    if (d->count == 0)
        d->first = code;
    if (code == ADJ_E_RULE_FILE)
        d->unreadable = true;
    d->count++;
    if (!d->out || d->count > RL_DIAG_MAX)
        return;
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (line == 0)
        fprintf(d->out, "%s: error: %s: %s [%s]\n", file, adj_err_message(code), detail,
                adj_err_name(code));
    else
        fprintf(d->out, "%s:%u:%u: error: %s: %s [%s]\n", file, line, col, adj_err_message(code),
                detail, adj_err_name(code));
    if (!text || line == 0)
        return;
    /* The source line, then a caret under the column (code points; a tab in
     * the line is echoed so the caret stays aligned in a terminal). */
    size_t p = 0;
    for (uint32_t l = 1; l < line && p < len; p++)
        if (text[p] == '\n')
            l++;
    size_t e = p;
    while (e < len && text[e] != '\n' && text[e] != '\r')
        e++;
    if (e - p > 300)
        e = p + 300;
    fprintf(d->out, "  %.*s\n  ", (int)(e - p), text + p);
    size_t cps = 0, i = p;
    while (i < e && cps + 1 < col) {
        unsigned char c = (unsigned char)text[i];
        fputc(c == '\t' ? '\t' : ' ', d->out);
        i++;
        while (i < e && ((unsigned char)text[i] & 0xC0) == 0x80)
            i++;
        cps++;
    }
    fputs("^\n", d->out);
}

/* --------------------------------------------------------------- lexer */

enum tk { T_EOF, T_IDENT, T_NUM, T_DATE, T_STR, T_PUNCT, T_BAD };

struct tok {
    enum tk k;
    const char *p;
    uint32_t n;
    int64_t num;
    uint32_t line, col;
};

struct local {
    char name[RL_NAME_MAX];
    struct rtype type;
    uint32_t slot;
    uint32_t depth;
};

struct ps {
    struct rules_set *set;
    struct rl_diag *d;
    const char *file;
    uint32_t fileno;
    const char *text;
    size_t len;
    size_t pos;
    uint32_t line;
    size_t line_start;
    struct tok t;
    bool bail; /* a syntax error: skip to the next declaration */
    /* Rule being parsed. */
    struct rl_rule *rule;
    struct local locals[RL_LOCALS_MAX];
    uint32_t nlocals;
    uint32_t block;
    int any_depth; /* inside any(o in lines where ...) */
    char any_name[RL_NAME_MAX];
    uint32_t depth;
};

static void err_at(struct ps *p, enum adj_err code, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void err_at(struct ps *p, enum adj_err code, uint32_t line, uint32_t col, const char *fmt, ...)
{
    char buf[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    rl_diag_report(p->d, code, p->file, p->text, p->len, line, col, "%s", buf);
}

static uint32_t cur_col(const struct ps *p, size_t at)
{
    return (uint32_t)text_codepoints(p->text + p->line_start, at - p->line_start) + 1;
}

static bool is_id_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_id_char(char c) { return is_id_start(c) || (c >= '0' && c <= '9'); }

static void next(struct ps *p)
{
    const char *s = p->text;
    for (;;) {
        if (p->pos >= p->len)
            break;
        char c = s[p->pos];
        if (c == '\n') {
            p->pos++;
            p->line++;
            p->line_start = p->pos;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            p->pos++;
        } else if (c == '#') {
            while (p->pos < p->len && s[p->pos] != '\n')
                p->pos++;
        } else {
            break;
        }
    }
    struct tok *t = &p->t;
    t->line = p->line;
    t->col = cur_col(p, p->pos);
    t->p = s + p->pos;
    t->n = 0;
    t->num = 0;
    if (p->pos >= p->len) {
        t->k = T_EOF;
        return;
    }
    char c = s[p->pos];
    int dig;
    if (is_id_start(c)) {
        size_t e = p->pos;
        while (e < p->len && is_id_char(s[e]))
            e++;
        t->k = T_IDENT;
        t->n = (uint32_t)(e - p->pos);
        p->pos = e;
        return;
    }
    if (text_digit_at(s + p->pos, p->len - p->pos, &dig)) {
        /* A number, or a date YYYY/MM/DD (any digit script). */
        size_t e = p->pos;
        size_t w;
        while (e < p->len && (w = text_digit_at(s + e, p->len - e, &dig)) != 0)
            e += w;
        if (e < p->len && s[e] == '/') {
            size_t e2 = e;
            while (e2 < p->len && (s[e2] == '/' || text_digit_at(s + e2, p->len - e2, &dig)))
                e2 += s[e2] == '/' ? 1 : text_digit_at(s + e2, p->len - e2, &dig);
            struct jdate jd;
            size_t off = 0;
            t->n = (uint32_t)(e2 - p->pos);
            if (jdate_parse(s + p->pos, e2 - p->pos, &jd, &off) != ADJ_OK) {
                t->k = T_BAD;
                p->pos = e2;
                err_at(p, ADJ_E_RULE_SYNTAX, t->line, t->col, "'%.*s' is not a valid Jalali date",
                       (int)t->n, t->p);
                return;
            }
            t->k = T_DATE;
            t->num = jdate_to_days(jd);
            p->pos = e2;
            return;
        }
        uint64_t v;
        size_t off;
        t->n = (uint32_t)(e - p->pos);
        if (text_parse_u64(s + p->pos, e - p->pos, (uint64_t)INT64_MAX / 4, &v, &off) != ADJ_OK) {
            t->k = T_BAD;
            err_at(p, ADJ_E_RULE_SYNTAX, t->line, t->col, "number too large");
        } else {
            t->k = T_NUM;
            t->num = (int64_t)v;
        }
        p->pos = e;
        return;
    }
    if (c == '"') {
        size_t e = p->pos + 1;
        while (e < p->len && s[e] != '"' && s[e] != '\n')
            e++;
        if (e >= p->len || s[e] != '"') {
            t->k = T_BAD;
            t->n = (uint32_t)(e - p->pos);
            p->pos = e;
            err_at(p, ADJ_E_RULE_SYNTAX, t->line, t->col, "string not closed on its line");
            return;
        }
        t->k = T_STR;
        t->p = s + p->pos + 1;
        t->n = (uint32_t)(e - p->pos - 1);
        p->pos = e + 1;
        return;
    }
    static const char *two[] = {"==", "!=", "<=", ">="};
    for (unsigned i = 0; i < 4; i++)
        if (p->pos + 1 < p->len && s[p->pos] == two[i][0] && s[p->pos + 1] == two[i][1]) {
            t->k = T_PUNCT;
            t->n = 2;
            p->pos += 2;
            return;
        }
    if (strchr("()[],.=<>+-*:?", c)) {
        t->k = T_PUNCT;
        t->n = 1;
        p->pos++;
        return;
    }
    /* Anything else: one code point, reported by the parser. */
    t->k = T_BAD;
    size_t e = p->pos + 1;
    while (e < p->len && ((unsigned char)s[e] & 0xC0) == 0x80)
        e++;
    t->n = (uint32_t)(e - p->pos);
    p->pos = e;
    err_at(p, ADJ_E_RULE_SYNTAX, t->line, t->col, "unexpected character '%.*s'", (int)t->n, t->p);
}

static bool is(const struct ps *p, const char *word)
{
    size_t n = strlen(word);
    return (p->t.k == T_IDENT || p->t.k == T_PUNCT) && p->t.n == n && memcmp(p->t.p, word, n) == 0;
}

static void syntax(struct ps *p, const char *expected)
{
    if (p->bail)
        return;
    if (p->t.k == T_EOF)
        err_at(p, ADJ_E_RULE_SYNTAX, p->t.line, p->t.col, "expected %s, found end of file", expected);
    else if (p->t.k != T_BAD)
        err_at(p, ADJ_E_RULE_SYNTAX, p->t.line, p->t.col, "expected %s, found '%.*s'", expected,
               (int)p->t.n, p->t.p);
    p->bail = true;
}

static bool accept(struct ps *p, const char *word)
{
    if (is(p, word)) {
        next(p);
        return true;
    }
    return false;
}

static bool expect(struct ps *p, const char *word)
{
    if (accept(p, word))
        return true;
    char buf[64];
    snprintf(buf, sizeof buf, "'%s'", word);
    syntax(p, buf);
    return false;
}

static bool ident(struct ps *p, char out[RL_NAME_MAX], const char *what)
{
    if (p->t.k != T_IDENT) {
        syntax(p, what);
        return false;
    }
    if (p->t.n >= RL_NAME_MAX) {
        err_at(p, ADJ_E_RULE_LIMIT, p->t.line, p->t.col, "name longer than %u bytes", RL_NAME_MAX - 1);
        p->bail = true;
        return false;
    }
    memcpy(out, p->t.p, p->t.n);
    out[p->t.n] = '\0';
    next(p);
    return true;
}

/* ---------------------------------------------------------------- nodes */

static uint32_t new_node(struct ps *p, uint8_t op, struct rtype type, uint32_t line, uint32_t col)
{
    struct rules_set *set = p->set;
    if (set->nnodes == set->nodes_cap) {
        if (set->nodes_cap >= RL_NODES_MAX) {
            if (!p->bail)
                err_at(p, ADJ_E_RULE_LIMIT, line, col, "more than %u nodes", RL_NODES_MAX);
            p->bail = true;
            return 0;
        }
        uint32_t cap = set->nodes_cap ? set->nodes_cap * 2 : 1024;
        struct rl_node *nn = realloc(set->nodes, cap * sizeof *nn);
        if (!nn) {
            p->bail = true;
            return 0;
        }
        set->nodes = nn;
        set->nodes_cap = cap;
    }
    struct rl_node *n = &set->nodes[set->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->type = type;
    n->file = p->fileno;
    n->line = line;
    n->col = col;
    return set->nnodes++;
}

static uint32_t list_push(struct ps *p, uint32_t v)
{
    struct rules_set *set = p->set;
    if (set->nlist == set->list_cap) {
        uint32_t cap = set->list_cap ? set->list_cap * 2 : 1024;
        if (cap > RL_NODES_MAX * 2) {
            p->bail = true;
            return 0;
        }
        uint32_t *nl = realloc(set->list, cap * sizeof *nl);
        if (!nl) {
            p->bail = true;
            return 0;
        }
        set->list = nl;
        set->list_cap = cap;
    }
    set->list[set->nlist] = v;
    return set->nlist++;
}

static struct rtype ty(uint8_t kind, uint8_t sub)
{
    struct rtype t = {kind, sub};
    return t;
}

static void tname(const struct ps *p, struct rtype t, char *buf, size_t cap)
{
    if (t.kind == RT_CODE)
        snprintf(buf, cap, "code/text");
    else
        rl_type_name(p->set, t, buf, cap);
}

/* Makes a literal of node n fit type want (integer literal to a numeric
 * type, string literal to an enum). Reports and returns false otherwise. */
static bool coerce(struct ps *p, uint32_t n, struct rtype want, const char *ctx)
{
    struct rl_node *nd = &p->set->nodes[n];
    struct rtype have = nd->type;
    if (have.kind == want.kind && have.sub == want.sub)
        return true;
    if (have.kind == RT_NONE || want.kind == RT_NONE)
        return false; /* already reported where the type was lost */
    if (have.kind == RT_LIT && (want.kind == RT_INT || want.kind == RT_RIAL || want.kind == RT_BP ||
                                want.kind == RT_LIT))
        return true;
    if (want.kind == RT_LIT && (have.kind == RT_INT || have.kind == RT_RIAL || have.kind == RT_BP))
        return true;
    if (nd->op == OP_LIT && have.kind == RT_CODE && want.kind == RT_ENUM) {
        const struct rl_enum *en = &p->set->enums[want.sub];
        for (uint32_t k = 0; k < en->count; k++)
            if (strlen(en->values[k]) == nd->n && memcmp(en->values[k], nd->s, nd->n) == 0) {
                nd->type = want;
                return true;
            }
        err_at(p, ADJ_E_RULE_ENUM_VALUE, nd->line, nd->col, "\"%.*s\" is not a value of %s",
               (int)nd->n, nd->s, en->name);
        return false;
    }
    if (want.kind == RT_CODE && have.kind == RT_ENUM && nd->op == OP_LIT)
        return true;
    if (nd->op == OP_COND && ((have.kind == RT_CODE && want.kind == RT_ENUM) || have.kind == RT_LIT)) {
        /* An if-expression of literals takes the type its value meets. */
        uint32_t b = nd->b, c = nd->c;
        bool ok_b = coerce(p, b, want, ctx);
        bool ok = coerce(p, c, want, ctx) && ok_b; /* both branches reported */
        p->set->nodes[n].type = want;
        return ok;
    }
    char a[64], b[64];
    tname(p, have, a, sizeof a);
    tname(p, want, b, sizeof b);
    err_at(p, ADJ_E_RULE_TYPE, nd->line, nd->col, "%s: %s where %s is required", ctx, a, b);
    return false;
}

/* Common type of two operands of a comparison / min / max / if. */
static struct rtype unify(struct ps *p, uint32_t a, uint32_t b, const char *ctx)
{
    struct rtype ta = p->set->nodes[a].type, tb = p->set->nodes[b].type;
    if (ta.kind == RT_NONE || tb.kind == RT_NONE)
        return ty(RT_NONE, 0);
    if (ta.kind == RT_LIT || (p->set->nodes[a].op == OP_LIT && ta.kind == RT_CODE && tb.kind == RT_ENUM)) {
        if (!coerce(p, a, tb, ctx))
            return ty(RT_NONE, 0);
        return tb.kind == RT_LIT ? ta : tb;
    }
    if (!coerce(p, b, ta, ctx))
        return ty(RT_NONE, 0);
    return ta;
}

/* ---------------------------------------------------------- expressions */

static uint32_t expr(struct ps *p);

static const char *doc_fields[] = {"id", "center", "patient", "prescriber", "kind", "stay",
                                   "date1", "date2", "dos", "seen_before", "diagnosis",
                                   "line_count", NULL};
static const char *line_fields[] = {"index", "no", "kind", "code", "qty", "unit_price",
                                    "claimed_total", "claimed_insurer", "claimed_daroyar",
                                    "tariff_class", "physician", "has_physician", "uid_count",
                                    NULL};
static const char *pack_fields[] = {"good", "reused", "invalid", "listed", NULL};

static struct rtype doc_field_type(uint32_t f)
{
    static const uint8_t k[] = {RT_CODE, RT_CODE, RT_INT,  RT_INT, RT_ENUM, RT_ENUM,
                                RT_DATE, RT_DATE, RT_DATE, RT_BOOL, RT_CODE, RT_INT};
    return ty(k[f], f == 4 ? EN_DKIND : f == 5 ? EN_STAY : 0);
}
static struct rtype line_field_type(uint32_t f)
{
    static const uint8_t k[] = {RT_INT,  RT_INT,  RT_ENUM, RT_CODE, RT_INT,  RT_RIAL, RT_RIAL,
                                RT_RIAL, RT_RIAL, RT_ENUM, RT_INT,  RT_BOOL, RT_INT};
    return ty(k[f], f == 2 ? EN_LKIND : f == 9 ? EN_TCLASS : 0);
}

static int find_word(const char **list, const char *s, uint32_t n)
{
    for (int i = 0; list[i]; i++)
        if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0)
            return i;
    return -1;
}

static int find_reason(const struct rules_set *set, const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < set->nreasons; i++)
        if (strlen(set->reasons[i]) == n && memcmp(set->reasons[i], s, n) == 0)
            return (int)i;
    return -1;
}

static int find_table(const struct rules_set *set, const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < set->ntables; i++)
        if (strlen(set->tables[i].name) == n && memcmp(set->tables[i].name, s, n) == 0)
            return (int)i;
    return -1;
}

static int find_col(const struct rl_table *t, const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < t->ncols; i++)
        if (strlen(t->cols[i].name) == n && memcmp(t->cols[i].name, s, n) == 0)
            return (int)i;
    return -1;
}

static int find_var(const struct rules_set *set, const char *s, uint32_t n, uint8_t scope)
{
    for (uint32_t i = 0; i < set->nvars; i++)
        if (set->vars[i].scope == scope && strlen(set->vars[i].name) == n &&
            memcmp(set->vars[i].name, s, n) == 0)
            return (int)i;
    return -1;
}

static int find_local(const struct ps *p, const char *s, uint32_t n)
{
    for (uint32_t i = p->nlocals; i-- > 0;)
        if (strlen(p->locals[i].name) == n && memcmp(p->locals[i].name, s, n) == 0)
            return (int)i;
    return -1;
}

static uint32_t var_slot(const struct rules_set *set, uint32_t v)
{
    /* Slot within its scope: count earlier vars of the same scope. */
    uint32_t slot = 0;
    for (uint32_t i = 0; i < v; i++)
        slot += set->vars[i].scope == set->vars[v].scope;
    return slot;
}

static bool in_line_rule(const struct ps *p) { return p->rule && p->rule->scope == SC_LINE; }

static uint32_t none_node(struct ps *p, uint32_t line, uint32_t col)
{
    return new_node(p, OP_LIT, ty(RT_NONE, 0), line, col);
}

/* Reason name at the current token; returns its declaration index. */
static int reason_ref(struct ps *p)
{
    if (p->t.k != T_IDENT) {
        syntax(p, "a reason code");
        return -1;
    }
    int r = find_reason(p->set, p->t.p, p->t.n);
    if (r < 0)
        err_at(p, ADJ_E_RULE_REASON_UNDECLARED, p->t.line, p->t.col, "reason %.*s", (int)p->t.n, p->t.p);
    next(p);
    return r;
}

/* TABLE[k1, k2, ...] with typed keys; fills node args. */
static int table_keys(struct ps *p, uint32_t node)
{
    uint32_t tl = p->t.line, tc = p->t.col;
    char name[RL_NAME_MAX];
    if (!ident(p, name, "a table name"))
        return -1;
    int t = find_table(p->set, name, (uint32_t)strlen(name));
    if (t < 0)
        err_at(p, ADJ_E_RULE_UNKNOWN_NAME, tl, tc, "no table named '%s'", name);
    else if (p->set->tables[t].is_params)
        err_at(p, ADJ_E_RULE_SCOPE, tl, tc, "params are read as param.NAME, not looked up");
    if (!expect(p, "["))
        return -1;
    uint32_t keys[RL_KEYS_MAX + 1];
    uint32_t nk = 0;
    do {
        uint32_t e = expr(p);
        if (p->bail)
            return -1;
        if (nk <= RL_KEYS_MAX)
            keys[nk] = e;
        nk++;
    } while (accept(p, ","));
    if (!expect(p, "]"))
        return -1;
    if (t < 0 || p->set->tables[t].is_params)
        return -1;
    const struct rl_table *tb = &p->set->tables[t];
    if (nk != tb->nkeys) {
        err_at(p, ADJ_E_RULE_TYPE, tl, tc, "table %s has %u key column(s), %u given", tb->name,
               tb->nkeys, nk);
        return -1;
    }
    p->set->nodes[node].nargs = nk;
    for (uint32_t k = 0; k < nk; k++) {
        char ctx[80];
        snprintf(ctx, sizeof ctx, "key %s of %s", tb->cols[tb->keys[k]].name, tb->name);
        coerce(p, keys[k], tb->cols[tb->keys[k]].type, ctx);
        uint32_t at = list_push(p, keys[k]);
        if (k == 0)
            p->set->nodes[node].args = at;
    }
    return t;
}

static uint32_t call(struct ps *p, const char *fn, uint32_t line, uint32_t col)
{
    struct rtype none = ty(RT_NONE, 0);
    if (strcmp(fn, "has") == 0) {
        uint32_t n = new_node(p, OP_HAS, ty(RT_BOOL, 0), line, col);
        if (!in_line_rule(p))
            err_at(p, ADJ_E_RULE_SCOPE, line, col, "has() reads a line's reasons: line rules only");
        uint64_t mask = 0;
        if (!is(p, ")"))
            do {
                int r = reason_ref(p);
                if (r >= 0)
                    mask |= 1ull << r;
            } while (!p->bail && accept(p, ","));
        expect(p, ")");
        p->set->nodes[n].imm = (int64_t)mask;
        return n;
    }
    if (strcmp(fn, "any") == 0) {
        if (!in_line_rule(p) || p->any_depth) {
            err_at(p, ADJ_E_RULE_SCOPE, line, col, "any() is for line rules, not nested");
        }
        if (!ident(p, p->any_name, "a name for the other line"))
            return 0;
        if (!expect(p, "in") || !expect(p, "lines") || !expect(p, "where"))
            return 0;
        p->any_depth++;
        uint32_t c = expr(p);
        p->any_depth--;
        p->any_name[0] = '\0';
        expect(p, ")");
        uint32_t n = new_node(p, OP_ANY, ty(RT_BOOL, 0), line, col);
        coerce(p, c, ty(RT_BOOL, 0), "condition of any()");
        p->set->nodes[n].a = c;
        return n;
    }
    uint32_t args[3];
    uint32_t na = 0;
    if (!is(p, ")"))
        do {
            uint32_t e = expr(p);
            if (na < 3)
                args[na] = e;
            na++;
        } while (!p->bail && accept(p, ","));
    if (!expect(p, ")"))
        return 0;
    struct {
        const char *name;
        uint8_t op;
        uint32_t nargs;
    } fns[] = {{"min", OP_MIN, 2},          {"max", OP_MAX, 2},
               {"rnd", OP_RND, 2},          {"div_ceil", OP_DIV_CEIL, 2},
               {"div_half_up", OP_DIV_HALF_UP, 2}, {"div_floor", OP_DIV_FLOOR, 2},
               {"age", OP_AGE, 2}};
    for (unsigned i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        if (strcmp(fn, fns[i].name) != 0)
            continue;
        if (na != fns[i].nargs) {
            err_at(p, ADJ_E_RULE_TYPE, line, col, "%s takes %u arguments, %u given", fn, fns[i].nargs, na);
            return none_node(p, line, col);
        }
        uint32_t n = new_node(p, fns[i].op, none, line, col);
        p->set->nodes[n].a = args[0];
        p->set->nodes[n].b = args[1];
        struct rtype ta = p->set->nodes[args[0]].type;
        struct rtype r = none;
        switch (fns[i].op) {
        case OP_MIN:
        case OP_MAX:
            r = unify(p, args[0], args[1], fn);
            if (r.kind != RT_NONE && r.kind != RT_LIT && r.kind != RT_INT && r.kind != RT_RIAL &&
                r.kind != RT_BP && r.kind != RT_DATE) {
                err_at(p, ADJ_E_RULE_TYPE, line, col, "%s needs numbers or dates", fn);
                r = none;
            }
            break;
        case OP_RND:
            /* rnd(x, bp): x int or rial, the share in basis points. */
            if (coerce(p, args[1], ty(RT_BP, 0), "second argument of rnd")) {
                if (ta.kind == RT_RIAL || ta.kind == RT_INT || ta.kind == RT_LIT)
                    r = ta.kind == RT_LIT ? ty(RT_INT, 0) : ta;
                else if (ta.kind != RT_NONE)
                    coerce(p, args[0], ty(RT_RIAL, 0), "first argument of rnd");
            }
            break;
        case OP_DIV_CEIL:
        case OP_DIV_HALF_UP:
        case OP_DIV_FLOOR:
            if (coerce(p, args[1], ty(RT_INT, 0), "divisor")) {
                if (ta.kind == RT_RIAL || ta.kind == RT_INT || ta.kind == RT_BP)
                    r = ta;
                else if (ta.kind == RT_LIT)
                    r = ty(RT_INT, 0);
                else if (ta.kind != RT_NONE)
                    coerce(p, args[0], ty(RT_INT, 0), "dividend");
            }
            break;
        case OP_AGE:
            if (coerce(p, args[0], ty(RT_DATE, 0), "birth date of age") &&
                coerce(p, args[1], ty(RT_DATE, 0), "date of age"))
                r = ty(RT_INT, 0);
            break;
        default:
            break;
        }
        p->set->nodes[n].type = r;
        return n;
    }
    err_at(p, ADJ_E_RULE_UNKNOWN_NAME, line, col, "no function named '%s'", fn);
    return none_node(p, line, col);
}

static uint32_t primary(struct ps *p)
{
    struct tok t = p->t;
    if (p->depth > RL_DEPTH_MAX) {
        err_at(p, ADJ_E_RULE_LIMIT, t.line, t.col, "expression nested deeper than %u", RL_DEPTH_MAX);
        p->bail = true;
        return 0;
    }
    if (t.k == T_NUM || t.k == T_DATE) {
        next(p);
        uint32_t n = new_node(p, OP_LIT, ty(t.k == T_NUM ? RT_LIT : RT_DATE, 0), t.line, t.col);
        p->set->nodes[n].imm = t.num;
        return n;
    }
    if (t.k == T_STR) {
        next(p);
        uint32_t n = new_node(p, OP_LIT, ty(RT_CODE, 0), t.line, t.col);
        const char *s = rl_strpool_add(p->set, t.p, t.n);
        if (!s) {
            err_at(p, ADJ_E_RULE_LIMIT, t.line, t.col, "string literals exceed %u bytes", RL_STRPOOL_BYTES);
            return n;
        }
        p->set->nodes[n].s = s;
        p->set->nodes[n].n = t.n;
        p->set->nodes[n].imm = (int64_t)rl_hash_text(s, t.n);
        return n;
    }
    if (accept(p, "(")) {
        p->depth++;
        uint32_t e = expr(p);
        p->depth--;
        expect(p, ")");
        return e;
    }
    if (t.k != T_IDENT) {
        syntax(p, "an expression");
        return 0;
    }
    char w[RL_NAME_MAX];
    if (!ident(p, w, "a name"))
        return 0;
    uint32_t n = (uint32_t)strlen(w);
    if (strcmp(w, "true") == 0 || strcmp(w, "false") == 0) {
        uint32_t nd = new_node(p, OP_LIT, ty(RT_BOOL, 0), t.line, t.col);
        p->set->nodes[nd].imm = w[0] == 't';
        return nd;
    }
    if (strcmp(w, "if") == 0) {
        uint32_t c = expr(p);
        expect(p, "then");
        uint32_t a = expr(p);
        expect(p, "else");
        uint32_t b = expr(p);
        uint32_t nd = new_node(p, OP_COND, ty(RT_NONE, 0), t.line, t.col);
        if (p->bail)
            return nd;
        coerce(p, c, ty(RT_BOOL, 0), "condition of if");
        struct rtype r = unify(p, a, b, "branches of if");
        struct rl_node *x = &p->set->nodes[nd];
        x->a = c;
        x->b = a;
        x->c = b;
        x->type = r;
        return nd;
    }
    if (strcmp(w, "exists") == 0) {
        uint32_t nd = new_node(p, OP_EXISTS, ty(RT_BOOL, 0), t.line, t.col);
        int tb = table_keys(p, nd);
        p->set->nodes[nd].b = tb < 0 ? 0 : (uint32_t)tb;
        if (tb < 0)
            p->set->nodes[nd].type = ty(RT_NONE, 0);
        return nd;
    }
    if (accept(p, "("))
        return call(p, w, t.line, t.col);
    if (accept(p, ".")) {
        struct tok ft = p->t;
        char f[RL_NAME_MAX];
        if (!ident(p, f, "a field name"))
            return 0;
        uint32_t fn = (uint32_t)strlen(f);
        int k;
        if (strcmp(w, "doc") == 0) {
            if ((k = find_word(doc_fields, f, fn)) < 0) {
                err_at(p, ADJ_E_RULE_UNKNOWN_NAME, ft.line, ft.col, "doc has no field '%s'", f);
                return none_node(p, t.line, t.col);
            }
            uint32_t nd = new_node(p, OP_DOCF, doc_field_type((uint32_t)k), t.line, t.col);
            p->set->nodes[nd].aux = (uint16_t)k;
            return nd;
        }
        if (strcmp(w, "line") == 0 || (p->any_depth && strcmp(w, p->any_name) == 0)) {
            bool other = strcmp(w, "line") != 0;
            if (!in_line_rule(p)) {
                err_at(p, ADJ_E_RULE_SCOPE, t.line, t.col, "line fields are read in line rules only");
                return none_node(p, t.line, t.col);
            }
            if ((k = find_word(line_fields, f, fn)) < 0) {
                err_at(p, ADJ_E_RULE_UNKNOWN_NAME, ft.line, ft.col, "a line has no field '%s'", f);
                return none_node(p, t.line, t.col);
            }
            uint32_t nd = new_node(p, other ? OP_OTHERF : OP_LINEF, line_field_type((uint32_t)k),
                                   t.line, t.col);
            p->set->nodes[nd].aux = (uint16_t)k;
            return nd;
        }
        if (strcmp(w, "packs") == 0) {
            if (!in_line_rule(p) || (k = find_word(pack_fields, f, fn)) < 0) {
                err_at(p, ADJ_E_RULE_UNKNOWN_NAME, ft.line, ft.col, "packs has no field '%s' here", f);
                return none_node(p, t.line, t.col);
            }
            uint32_t nd = new_node(p, OP_PACKS, ty(RT_INT, 0), t.line, t.col);
            p->set->nodes[nd].aux = (uint16_t)k;
            return nd;
        }
        if (strcmp(w, "param") == 0) {
            for (uint32_t i = 0; i < p->set->nparams; i++)
                if (strcmp(p->set->params[i].name, f) == 0) {
                    uint32_t nd = new_node(p, OP_PARAM, p->set->params[i].type, t.line, t.col);
                    p->set->nodes[nd].a = i;
                    return nd;
                }
            err_at(p, ADJ_E_RULE_UNKNOWN_NAME, ft.line, ft.col, "no parameter named '%s'", f);
            return none_node(p, t.line, t.col);
        }
        int l = find_local(p, w, n);
        if (l >= 0 && p->locals[l].type.kind == RT_ROW) {
            const struct rl_table *tb = &p->set->tables[p->locals[l].type.sub];
            int c = find_col(tb, f, fn);
            if (c < 0) {
                err_at(p, ADJ_E_RULE_UNKNOWN_NAME, ft.line, ft.col, "table %s has no column '%s'",
                       tb->name, f);
                return none_node(p, t.line, t.col);
            }
            uint32_t nd = new_node(p, OP_FIELD, tb->cols[c].type, t.line, t.col);
            p->set->nodes[nd].a = p->locals[l].slot;
            p->set->nodes[nd].b = p->locals[l].type.sub;
            p->set->nodes[nd].c = (uint32_t)c;
            return nd;
        }
        err_at(p, ADJ_E_RULE_UNKNOWN_NAME, t.line, t.col, "'%s' is not a looked-up row", w);
        return none_node(p, t.line, t.col);
    }
    int l = find_local(p, w, n);
    if (l >= 0) {
        if (p->locals[l].type.kind == RT_ROW) {
            err_at(p, ADJ_E_RULE_TYPE, t.line, t.col, "'%s' is a row: read one of its columns", w);
            return none_node(p, t.line, t.col);
        }
        uint32_t nd = new_node(p, OP_LOCAL, p->locals[l].type, t.line, t.col);
        p->set->nodes[nd].a = p->locals[l].slot;
        return nd;
    }
    int v = in_line_rule(p) ? find_var(p->set, w, n, SC_LINE) : -1;
    if (v < 0)
        v = find_var(p->set, w, n, SC_DOC);
    if (v >= 0) {
        uint8_t sc = p->set->vars[v].scope;
        uint32_t nd = new_node(p, sc == SC_DOC ? OP_VAR_DOC : OP_VAR_LINE, p->set->vars[v].type,
                               t.line, t.col);
        p->set->nodes[nd].a = var_slot(p->set, (uint32_t)v);
        return nd;
    }
    if (find_var(p->set, w, n, SC_LINE) >= 0)
        err_at(p, ADJ_E_RULE_SCOPE, t.line, t.col, "'%s' is a line variable: line rules only", w);
    else
        err_at(p, ADJ_E_RULE_UNKNOWN_NAME, t.line, t.col, "'%s'", w);
    return none_node(p, t.line, t.col);
}

/* A chain of prefix operators ("- - - x", "not not x") recurses once per
 * operator: bounded by RL_DEPTH_MAX like any nesting, before the operand
 * is parsed (primary's own check comes only at the chain's end). */
static bool prefix_too_deep(struct ps *p, struct tok t)
{
    if (p->depth <= RL_DEPTH_MAX)
        return false;
    if (!p->bail)
        err_at(p, ADJ_E_RULE_LIMIT, t.line, t.col, "expression nested deeper than %u", RL_DEPTH_MAX);
    p->bail = true;
    return true;
}

static uint32_t unary(struct ps *p)
{
    struct tok t = p->t;
    if (accept(p, "-")) {
        if (prefix_too_deep(p, t))
            return 0;
        p->depth++;
        uint32_t a = unary(p);
        p->depth--;
        if (p->bail)
            return a; /* a may not be a node (none were made yet) */
        uint32_t n = new_node(p, OP_NEG, p->set->nodes[a].type, t.line, t.col);
        p->set->nodes[n].a = a;
        struct rtype at = p->set->nodes[a].type;
        if (at.kind != RT_NONE && at.kind != RT_LIT && at.kind != RT_INT && at.kind != RT_RIAL &&
            at.kind != RT_BP) {
            err_at(p, ADJ_E_RULE_TYPE, t.line, t.col, "minus needs a number");
            p->set->nodes[n].type = ty(RT_NONE, 0);
        }
        return n;
    }
    return primary(p);
}

static struct rtype arith_type(struct ps *p, uint8_t op, uint32_t a, uint32_t b, uint32_t line,
                               uint32_t col)
{
    struct rtype ta = p->set->nodes[a].type, tb = p->set->nodes[b].type;
    if (ta.kind == RT_NONE || tb.kind == RT_NONE)
        return ty(RT_NONE, 0);
    uint8_t x = ta.kind, y = tb.kind;
    bool num_x = x == RT_INT || x == RT_RIAL || x == RT_BP || x == RT_LIT;
    bool num_y = y == RT_INT || y == RT_RIAL || y == RT_BP || y == RT_LIT;
    if (op == OP_MUL) {
        if (x == RT_LIT && num_y)
            return tb;
        if (y == RT_LIT && num_x)
            return ta;
        if (x == RT_INT && num_y)
            return tb;
        if (y == RT_INT && num_x)
            return ta;
    } else {
        if (x == RT_DATE && y == RT_DATE && op == OP_SUB)
            return ty(RT_INT, 0);
        if (x == RT_DATE && (y == RT_INT || y == RT_LIT))
            return ta;
        if (num_x && num_y && (x == y || x == RT_LIT || y == RT_LIT))
            return x == RT_LIT ? tb : ta;
    }
    char s1[64], s2[64];
    tname(p, ta, s1, sizeof s1);
    tname(p, tb, s2, sizeof s2);
    err_at(p, ADJ_E_RULE_TYPE, line, col, "%s %s %s is not allowed%s", s1,
           op == OP_MUL ? "*" : op == OP_ADD ? "+" : "-", s2,
           (op == OP_MUL && ((x == RT_RIAL && y == RT_BP) || (x == RT_BP && y == RT_RIAL)))
               ? " (use rnd(rial, bp) with its rounding)"
               : "");
    return ty(RT_NONE, 0);
}

static uint32_t mul(struct ps *p)
{
    uint32_t a = unary(p);
    while (!p->bail && is(p, "*")) {
        struct tok t = p->t;
        next(p);
        uint32_t b = unary(p);
        uint32_t n = new_node(p, OP_MUL, ty(RT_NONE, 0), t.line, t.col);
        p->set->nodes[n].a = a;
        p->set->nodes[n].b = b;
        p->set->nodes[n].type = arith_type(p, OP_MUL, a, b, t.line, t.col);
        a = n;
    }
    return a;
}

static uint32_t add(struct ps *p)
{
    uint32_t a = mul(p);
    while (!p->bail && (is(p, "+") || is(p, "-"))) {
        struct tok t = p->t;
        uint8_t op = t.p[0] == '+' ? OP_ADD : OP_SUB;
        next(p);
        uint32_t b = mul(p);
        uint32_t n = new_node(p, op, ty(RT_NONE, 0), t.line, t.col);
        p->set->nodes[n].a = a;
        p->set->nodes[n].b = b;
        p->set->nodes[n].type = arith_type(p, op, a, b, t.line, t.col);
        a = n;
    }
    return a;
}

static uint32_t cmp(struct ps *p)
{
    uint32_t a = add(p);
    static const char *ops[] = {"==", "!=", "<=", ">=", "<", ">"};
    static const uint8_t codes[] = {OP_EQ, OP_NE, OP_LE, OP_GE, OP_LT, OP_GT};
    for (unsigned i = 0; i < 6; i++) {
        if (!is(p, ops[i]))
            continue;
        struct tok t = p->t;
        next(p);
        uint32_t b = add(p);
        uint32_t n = new_node(p, codes[i], ty(RT_BOOL, 0), t.line, t.col);
        p->set->nodes[n].a = a;
        p->set->nodes[n].b = b;
        if (p->bail)
            return n;
        struct rtype u = unify(p, a, b, "comparison");
        if (i >= 2 && (u.kind == RT_BOOL || u.kind == RT_CODE || u.kind == RT_ENUM)) {
            err_at(p, ADJ_E_RULE_TYPE, t.line, t.col, "'%s' orders numbers and dates only", ops[i]);
        }
        if (u.kind == RT_NONE)
            p->set->nodes[n].type = ty(RT_NONE, 0);
        return n;
    }
    return a;
}

static uint32_t notx(struct ps *p)
{
    struct tok t = p->t;
    if (accept(p, "not")) {
        if (prefix_too_deep(p, t))
            return 0;
        p->depth++;
        uint32_t a = notx(p);
        p->depth--;
        if (p->bail)
            return a;
        uint32_t n = new_node(p, OP_NOT, ty(RT_BOOL, 0), t.line, t.col);
        p->set->nodes[n].a = a;
        if (!p->bail)
            coerce(p, a, ty(RT_BOOL, 0), "operand of not");
        return n;
    }
    return cmp(p);
}

static uint32_t logic(struct ps *p, int level)
{
    uint32_t a = level ? notx(p) : logic(p, 1);
    const char *word = level ? "and" : "or";
    while (!p->bail && is(p, word)) {
        struct tok t = p->t;
        next(p);
        uint32_t b = level ? notx(p) : logic(p, 1);
        uint32_t n = new_node(p, level ? OP_AND : OP_OR, ty(RT_BOOL, 0), t.line, t.col);
        p->set->nodes[n].a = a;
        p->set->nodes[n].b = b;
        if (!p->bail) {
            coerce(p, a, ty(RT_BOOL, 0), word);
            coerce(p, b, ty(RT_BOOL, 0), word);
        }
        a = n;
    }
    return a;
}

static uint32_t expr(struct ps *p)
{
    if (p->bail)
        return 0;
    p->depth++;
    uint32_t e = logic(p, 0);
    p->depth--;
    if (p->bail)
        return none_node(p, p->t.line, p->t.col);
    return e;
}

/* ----------------------------------------------------------- statements */

static bool decl_start(const struct ps *p)
{
    static const char *w[] = {"reason", "enum", "param", "params", "table", "var", "rule", NULL};
    for (int i = 0; w[i]; i++)
        if (is(p, w[i]))
            return true;
    return false;
}

static int new_local(struct ps *p, const char *name, struct rtype type, struct tok at)
{
    if (p->rule->nlocals >= RL_LOCALS_MAX || p->nlocals >= RL_LOCALS_MAX) {
        err_at(p, ADJ_E_RULE_LIMIT, at.line, at.col, "more than %u names in one rule", RL_LOCALS_MAX);
        return -1;
    }
    int prev = find_local(p, name, (uint32_t)strlen(name));
    if (prev >= 0)
        err_at(p, ADJ_E_RULE_DUPLICATE_NAME, at.line, at.col, "'%s' is already defined in this rule", name);
    struct local *l = &p->locals[p->nlocals++];
    snprintf(l->name, sizeof l->name, "%s", name);
    l->type = type;
    l->slot = p->rule->nlocals++;
    l->depth = p->block;
    snprintf(p->rule->local_names[l->slot], RL_NAME_MAX, "%s", name);
    return (int)l->slot;
}

static uint32_t cond_suffix(struct ps *p, uint32_t n)
{
    /* Optional `if EXPR` after reason/reject/exit. */
    if (accept(p, "if")) {
        uint32_t c = expr(p);
        if (!p->bail)
            coerce(p, c, ty(RT_BOOL, 0), "condition");
        p->set->nodes[n].b = c + 1; /* 0 = unconditional */
        return c;
    }
    return UINT32_MAX;
}

static bool block(struct ps *p, uint32_t *first, uint32_t *count, bool stop_at_else);

static uint32_t statement(struct ps *p, bool *unconditional_exit)
{
    struct tok t = p->t;
    struct rtype none = ty(RT_NONE, 0);
    bool line = in_line_rule(p);
    *unconditional_exit = false;
    if (accept(p, "let")) {
        char name[RL_NAME_MAX];
        struct tok nt = p->t;
        if (!ident(p, name, "a name") || !expect(p, "="))
            return 0;
        uint32_t e = expr(p);
        uint32_t n = new_node(p, ST_LET, none, t.line, t.col);
        struct rtype et = p->set->nodes[e].type;
        if (et.kind == RT_LIT)
            et = ty(RT_INT, 0);
        int slot = new_local(p, name, et, nt);
        p->set->nodes[n].a = slot < 0 ? 0 : (uint32_t)slot;
        p->set->nodes[n].b = e;
        return n;
    }
    if (accept(p, "set")) {
        char name[RL_NAME_MAX];
        struct tok nt = p->t;
        if (!ident(p, name, "a variable name") || !expect(p, "="))
            return 0;
        uint32_t e = expr(p);
        uint32_t n = new_node(p, ST_SET, none, t.line, t.col);
        uint32_t nn = (uint32_t)strlen(name);
        int v = line ? find_var(p->set, name, nn, SC_LINE) : -1;
        if (v < 0)
            v = find_var(p->set, name, nn, SC_DOC);
        if (v < 0) {
            err_at(p, ADJ_E_RULE_UNKNOWN_NAME, nt.line, nt.col, "no variable named '%s' (declare it with var)", name);
            return n;
        }
        if (line && p->set->vars[v].scope == SC_DOC) {
            err_at(p, ADJ_E_RULE_SCOPE, nt.line, nt.col, "'%s' is a doc variable: set it in a doc rule", name);
            return n;
        }
        char ctx[80];
        snprintf(ctx, sizeof ctx, "value of %s", name);
        if (!p->bail)
            coerce(p, e, p->set->vars[v].type, ctx);
        p->set->nodes[n].aux = p->set->vars[v].scope;
        p->set->nodes[n].a = var_slot(p->set, (uint32_t)v);
        p->set->nodes[n].b = e;
        p->set->nodes[n].c = (uint32_t)v;
        return n;
    }
    if (accept(p, "lookup")) {
        char name[RL_NAME_MAX];
        struct tok nt = p->t;
        if (!ident(p, name, "a name for the row") || !expect(p, "="))
            return 0;
        uint32_t n = new_node(p, ST_LOOKUP, none, t.line, t.col);
        int tb = table_keys(p, n);
        if (p->bail)
            return n;
        p->set->nodes[n].c = UINT32_MAX;
        if (accept(p, "at")) {
            uint32_t at = expr(p);
            if (!p->bail)
                coerce(p, at, ty(RT_DATE, 0), "date of lookup");
            p->set->nodes[n].c = at;
        }
        /* Miss action: imm = reason index, aux = statement kind. */
        if (!is(p, "else")) {
            /* The statement is otherwise whole: reported, then parsed on as
             * if it said 'else exit', so the rest of the rule (and its use
             * of the row) is still checked; the set never runs anyway. */
            err_at(p, ADJ_E_RULE_MISSING_ELSE, t.line, t.col,
                   "lookup %s needs 'else reason CODE', 'else reject CODE' or 'else exit'", name);
            p->set->nodes[n].aux = ST_EXIT;
            p->set->nodes[n].imm = -1;
        } else {
            next(p);
            struct tok at = p->t;
            if (accept(p, "exit")) {
                p->set->nodes[n].aux = ST_EXIT;
                p->set->nodes[n].imm = -1;
            } else if (accept(p, "reason") || accept(p, "reject")) {
                bool rej = at.p[2] == 'j';
                if (rej == line)
                    err_at(p, ADJ_E_RULE_SCOPE, at.line, at.col,
                           rej ? "reject is for doc rules; a line rule gives a reason"
                               : "a doc rule rejects the document: use reject");
                p->set->nodes[n].aux = rej ? ST_REJECT : ST_REASON;
                p->set->nodes[n].imm = reason_ref(p);
            } else {
                syntax(p, "'reason', 'reject' or 'exit' after else");
                return n;
            }
        }
        int slot = new_local(p, name, ty(RT_ROW, tb < 0 ? 0 : (uint8_t)tb), nt);
        p->set->nodes[n].a = slot < 0 ? 0 : (uint32_t)slot;
        p->set->nodes[n].b = tb < 0 ? UINT32_MAX : (uint32_t)tb;
        return n;
    }
    if (accept(p, "reason") || accept(p, "reject")) {
        bool rej = t.p[2] == 'j';
        if (rej == line)
            err_at(p, ADJ_E_RULE_SCOPE, t.line, t.col,
                   rej ? "reject is for doc rules; a line rule gives a reason"
                       : "a doc rule rejects the document: use reject");
        uint32_t n = new_node(p, rej ? ST_REJECT : ST_REASON, none, t.line, t.col);
        p->set->nodes[n].imm = reason_ref(p);
        cond_suffix(p, n);
        return n;
    }
    if (accept(p, "exit")) {
        uint32_t n = new_node(p, ST_EXIT, none, t.line, t.col);
        if (cond_suffix(p, n) == UINT32_MAX)
            *unconditional_exit = true;
        return n;
    }
    if (accept(p, "check")) {
        if (!expect(p, "packs"))
            return 0;
        if (!line)
            err_at(p, ADJ_E_RULE_SCOPE, t.line, t.col, "check packs is for line rules");
        p->set->uses_packs = true;
        return new_node(p, ST_PACKS, none, t.line, t.col);
    }
    if (accept(p, "if")) {
        uint32_t c = expr(p);
        if (!p->bail)
            coerce(p, c, ty(RT_BOOL, 0), "condition of if");
        if (!expect(p, "then"))
            return 0;
        uint32_t n = new_node(p, ST_IF, none, t.line, t.col);
        uint32_t f1 = 0, c1 = 0, f2 = 0, c2 = 0;
        bool has_else = block(p, &f1, &c1, true);
        if (has_else)
            block(p, &f2, &c2, false);
        struct rl_node *x = &p->set->nodes[n];
        x->a = c;
        x->args = f1;
        x->nargs = c1;
        x->b = f2;
        x->c = c2;
        return n;
    }
    syntax(p, "a statement (let, set, lookup, reason, reject, exit, if, check) or 'end'");
    return 0;
}

/* Parses statements up to `end` (or `else` when stop_at_else), storing
 * their node indexes contiguously in set->list. Returns true if it stopped
 * at `else`. Locals defined inside are dropped at the end. */
static bool block(struct ps *p, uint32_t *first, uint32_t *count, bool stop_at_else)
{
    uint32_t items[512];
    uint32_t n = 0;
    uint32_t saved = p->nlocals;
    bool dead = false, reported = false, at_else = false;
    if (p->block >= RL_DEPTH_MAX) {
        err_at(p, ADJ_E_RULE_LIMIT, p->t.line, p->t.col, "blocks nested deeper than %u", RL_DEPTH_MAX);
        p->bail = true;
        *first = p->set->nlist;
        *count = 0;
        return false;
    }
    p->block++;
    while (!p->bail) {
        if (is(p, "end")) {
            next(p);
            break;
        }
        if (stop_at_else && is(p, "else")) {
            next(p);
            at_else = true;
            break;
        }
        if (p->t.k == T_EOF) {
            syntax(p, "'end'");
            break;
        }
        struct tok t = p->t;
        if (dead && !reported) {
            err_at(p, ADJ_E_RULE_UNREACHABLE, t.line, t.col, "statement after an unconditional exit");
            reported = true;
        }
        bool uexit = false;
        uint32_t s = statement(p, &uexit);
        dead |= uexit;
        if (n >= sizeof items / sizeof items[0]) {
            err_at(p, ADJ_E_RULE_LIMIT, t.line, t.col, "more than 512 statements in a block");
            p->bail = true;
            break;
        }
        items[n++] = s;
    }
    p->block--;
    p->nlocals = saved;
    *first = p->set->nlist;
    *count = n;
    for (uint32_t i = 0; i < n; i++)
        list_push(p, items[i]);
    return at_else;
}

/* --------------------------------------------------------- declarations */

static bool parse_type(struct ps *p, struct rtype *out)
{
    struct tok t = p->t;
    char w[RL_NAME_MAX];
    if (!ident(p, w, "a type"))
        return false;
    static const char *names[] = {"int", "rial", "bp", "date", "bool", "code", NULL};
    static const uint8_t kinds[] = {RT_INT, RT_RIAL, RT_BP, RT_DATE, RT_BOOL, RT_CODE};
    int k = find_word(names, w, (uint32_t)strlen(w));
    if (k >= 0) {
        *out = ty(kinds[k], 0);
        return true;
    }
    for (uint32_t i = 0; i < p->set->nenums; i++)
        if (strcmp(p->set->enums[i].name, w) == 0) {
            *out = ty(RT_ENUM, (uint8_t)i);
            return true;
        }
    err_at(p, ADJ_E_RULE_UNKNOWN_NAME, t.line, t.col, "no type named '%s'", w);
    *out = ty(RT_NONE, 0);
    return true;
}

/* A literal default of a param or var. */
static bool parse_default(struct ps *p, struct rtype type, struct rv *out)
{
    struct tok t = p->t;
    memset(out, 0, sizeof *out);
    char a[64];
    tname(p, type, a, sizeof a);
    if (type.kind == RT_NONE) {
        next(p);
        return true;
    }
    if (t.k == T_NUM && (type.kind == RT_INT || type.kind == RT_RIAL || type.kind == RT_BP)) {
        out->i = t.num;
    } else if (t.k == T_DATE && type.kind == RT_DATE) {
        out->i = t.num;
    } else if (t.k == T_IDENT && type.kind == RT_BOOL && (is(p, "true") || is(p, "false"))) {
        out->i = t.p[0] == 't';
    } else if ((t.k == T_STR || t.k == T_IDENT) && (type.kind == RT_ENUM || type.kind == RT_CODE)) {
        const char *why = NULL;
        if (rl_parse_value(p->set, type, false, t.p, t.n, out, &why) != ADJ_OK) {
            err_at(p, type.kind == RT_ENUM ? ADJ_E_RULE_ENUM_VALUE : ADJ_E_RULE_TYPE, t.line, t.col,
                   "'%.*s' for %s: %s", (int)t.n, t.p, a, why);
        } else if (type.kind == RT_CODE) {
            out->s = rl_strpool_add(p->set, t.p, t.n);
        }
    } else if (t.k == T_NUM || t.k == T_DATE || t.k == T_STR || t.k == T_IDENT) {
        err_at(p, ADJ_E_RULE_TYPE, t.line, t.col, "default '%.*s' is not a %s", (int)t.n, t.p, a);
    } else {
        syntax(p, "a default value");
        return false;
    }
    next(p);
    return true;
}

static bool name_taken(struct ps *p, const char *name, struct tok at)
{
    uint32_t n = (uint32_t)strlen(name);
    if (find_table(p->set, name, n) >= 0 || find_reason(p->set, name, n) >= 0) {
        err_at(p, ADJ_E_RULE_DUPLICATE_NAME, at.line, at.col, "'%s' is already declared", name);
        return true;
    }
    for (uint32_t i = 0; i < p->set->nenums; i++)
        if (strcmp(p->set->enums[i].name, name) == 0) {
            err_at(p, ADJ_E_RULE_DUPLICATE_NAME, at.line, at.col, "'%s' is already declared", name);
            return true;
        }
    return false;
}

static void decl_reason(struct ps *p)
{
    struct tok t = p->t;
    char name[RL_NAME_MAX];
    if (!ident(p, name, "a reason code"))
        return;
    if (p->t.k != T_STR) {
        syntax(p, "the reason's meaning in quotes");
        return;
    }
    struct tok s = p->t;
    next(p);
    if (name_taken(p, name, t))
        return;
    if (p->set->nreasons >= ADJ_REASONS_MAX) {
        err_at(p, ADJ_E_RULE_LIMIT, t.line, t.col, "more than %u reasons", ADJ_REASONS_MAX);
        return;
    }
    uint32_t i = p->set->nreasons++;
    snprintf(p->set->reasons[i], RL_NAME_MAX, "%s", name);
    snprintf(p->set->reason_text[i], sizeof p->set->reason_text[i], "%.*s", (int)s.n, s.p);
}

static void decl_enum(struct ps *p)
{
    struct tok t = p->t;
    char name[RL_NAME_MAX];
    if (!ident(p, name, "an enum name") || !expect(p, "["))
        return;
    bool taken = name_taken(p, name, t);
    if (p->set->nenums >= RL_ENUMS_MAX) {
        err_at(p, ADJ_E_RULE_LIMIT, t.line, t.col, "more than %u enums", RL_ENUMS_MAX);
        taken = true;
    }
    struct rl_enum en;
    memset(&en, 0, sizeof en);
    snprintf(en.name, sizeof en.name, "%s", name);
    do {
        struct tok v = p->t;
        if (v.k != T_IDENT && v.k != T_STR) {
            syntax(p, "an enum value");
            return;
        }
        next(p);
        if (v.n == 0 || v.n >= RL_NAME_MAX || en.count >= RL_ENUM_VALUES_MAX) {
            err_at(p, ADJ_E_RULE_LIMIT, v.line, v.col, "enum value empty, too long or too many");
            continue;
        }
        for (uint32_t k = 0; k < en.count; k++)
            if (strlen(en.values[k]) == v.n && memcmp(en.values[k], v.p, v.n) == 0)
                err_at(p, ADJ_E_RULE_DUPLICATE_NAME, v.line, v.col, "value '%.*s' twice", (int)v.n, v.p);
        memcpy(en.values[en.count], v.p, v.n);
        text_canonical_key(en.values[en.count], en.values[en.count], v.n);
        en.hashes[en.count] = rl_hash_text(en.values[en.count], v.n);
        en.count++;
    } while (accept(p, ","));
    expect(p, "]");
    if (!taken)
        p->set->enums[p->set->nenums++] = en;
}

static void decl_param(struct ps *p)
{
    struct tok t = p->t;
    char name[RL_NAME_MAX];
    struct rtype type;
    if (!ident(p, name, "a parameter name") || !expect(p, ":") || !parse_type(p, &type) ||
        !expect(p, "="))
        return;
    struct rv def;
    if (!parse_default(p, type, &def))
        return;
    for (uint32_t i = 0; i < p->set->nparams; i++)
        if (strcmp(p->set->params[i].name, name) == 0) {
            err_at(p, ADJ_E_RULE_DUPLICATE_NAME, t.line, t.col, "parameter '%s' twice", name);
            return;
        }
    if (p->set->nparams >= RL_PARAMS_MAX) {
        err_at(p, ADJ_E_RULE_LIMIT, t.line, t.col, "more than %u parameters", RL_PARAMS_MAX);
        return;
    }
    struct rl_param *pp = &p->set->params[p->set->nparams++];
    memset(pp, 0, sizeof *pp);
    snprintf(pp->name, sizeof pp->name, "%s", name);
    pp->type = type;
    pp->def = def;
}

static void decl_var(struct ps *p)
{
    struct tok t = p->t;
    uint8_t scope;
    if (accept(p, "doc"))
        scope = SC_DOC;
    else if (accept(p, "line"))
        scope = SC_LINE;
    else {
        syntax(p, "'doc' or 'line'");
        return;
    }
    char name[RL_NAME_MAX];
    struct rtype type;
    struct tok nt = p->t;
    if (!ident(p, name, "a variable name") || !expect(p, ":") || !parse_type(p, &type) ||
        !expect(p, "="))
        return;
    struct rv def;
    if (!parse_default(p, type, &def))
        return;
    uint32_t nn = (uint32_t)strlen(name);
    if (find_var(p->set, name, nn, SC_DOC) >= 0 || find_var(p->set, name, nn, SC_LINE) >= 0) {
        err_at(p, ADJ_E_RULE_DUPLICATE_NAME, nt.line, nt.col, "variable '%s' twice", name);
        return;
    }
    uint32_t *cnt = scope == SC_DOC ? &p->set->ndocvars : &p->set->nlinevars;
    if (*cnt >= RL_VARS_MAX) {
        err_at(p, ADJ_E_RULE_LIMIT, t.line, t.col, "more than %u variables", RL_VARS_MAX);
        return;
    }
    (*cnt)++;
    struct rl_var *v = &p->set->vars[p->set->nvars++];
    snprintf(v->name, sizeof v->name, "%s", name);
    v->type = type;
    v->def = def;
    v->scope = scope;
}

static void decl_table(struct ps *p, bool params)
{
    struct tok t = p->t;
    char name[RL_NAME_MAX] = "params";
    if (!params && !ident(p, name, "a table name"))
        return;
    if (!expect(p, "file"))
        return;
    if (p->t.k != T_STR) {
        syntax(p, "the TSV file name in quotes");
        return;
    }
    struct tok ft = p->t;
    next(p);
    bool bad = name_taken(p, name, t);
    if (params && p->set->params_table >= 0) {
        err_at(p, ADJ_E_RULE_DUPLICATE_NAME, t.line, t.col, "params declared twice");
        bad = true;
    }
    if (p->set->ntables >= RL_TABLES_MAX) {
        err_at(p, ADJ_E_RULE_LIMIT, t.line, t.col, "more than %u tables", RL_TABLES_MAX);
        bad = true;
    }
    if (ft.n == 0 || ft.n >= 128 || memchr(ft.p, '/', ft.n)) {
        err_at(p, ADJ_E_RULE_SYNTAX, ft.line, ft.col, "table file must be a plain file name");
        bad = true;
    }
    struct rl_table tb;
    memset(&tb, 0, sizeof tb);
    snprintf(tb.name, sizeof tb.name, "%s", name);
    snprintf(tb.file, sizeof tb.file, "%.*s", (int)ft.n, ft.p);
    tb.decl_file = p->fileno;
    tb.decl_line = t.line;
    tb.decl_col = t.col;
    tb.valid_from = tb.valid_to = -1;
    if (params) {
        static const char *cn[] = {"name", "value", "from", "to"};
        static const uint8_t ck[] = {RT_CODE, RT_CODE, RT_DATE, RT_DATE};
        for (int i = 0; i < 4; i++) {
            snprintf(tb.cols[i].name, RL_NAME_MAX, "%s", cn[i]);
            tb.cols[i].type = ty(ck[i], 0);
        }
        tb.cols[3].optional = true;
        tb.ncols = 4;
        tb.is_params = true;
        if (!bad) {
            p->set->params_table = (int32_t)p->set->ntables;
            p->set->tables[p->set->ntables++] = tb;
        }
        return;
    }
    struct tok keys_at[RL_KEYS_MAX];
    char keys[RL_KEYS_MAX][RL_NAME_MAX];
    uint32_t nkeys = 0;
    if (!expect(p, "key"))
        return;
    do {
        struct tok kt = p->t;
        if (nkeys >= RL_KEYS_MAX) {
            err_at(p, ADJ_E_RULE_LIMIT, kt.line, kt.col, "more than %u key columns", RL_KEYS_MAX);
            p->bail = true;
            return;
        }
        keys_at[nkeys] = kt;
        if (!ident(p, keys[nkeys], "a key column"))
            return;
        nkeys++;
    } while (accept(p, ","));
    char vf[RL_NAME_MAX] = "", vt[RL_NAME_MAX] = "";
    struct tok vat = p->t;
    if (accept(p, "valid")) {
        if (!ident(p, vf, "the from column") || !ident(p, vt, "the to column"))
            return;
    }
    while (!p->bail && !is(p, "end")) {
        struct tok ct = p->t;
        char cname[RL_NAME_MAX];
        struct rtype ctype;
        if (!ident(p, cname, "a column name or 'end'") || !expect(p, ":") || !parse_type(p, &ctype))
            return;
        bool opt = accept(p, "?");
        if (tb.ncols >= RL_COLS_MAX) {
            err_at(p, ADJ_E_RULE_LIMIT, ct.line, ct.col, "more than %u columns", RL_COLS_MAX);
            bad = true;
            continue;
        }
        if (find_col(&tb, cname, (uint32_t)strlen(cname)) >= 0) {
            err_at(p, ADJ_E_RULE_DUPLICATE_NAME, ct.line, ct.col, "column '%s' twice", cname);
            bad = true;
        }
        if (ctype.kind == RT_NONE)
            bad = true;
        struct rl_col *c = &tb.cols[tb.ncols++];
        snprintf(c->name, sizeof c->name, "%s", cname);
        c->type = ctype;
        c->optional = opt;
    }
    if (!expect(p, "end"))
        return;
    for (uint32_t k = 0; k < nkeys; k++) {
        int c = find_col(&tb, keys[k], (uint32_t)strlen(keys[k]));
        if (c < 0) {
            err_at(p, ADJ_E_RULE_UNKNOWN_NAME, keys_at[k].line, keys_at[k].col,
                   "key '%s' is not a column of %s", keys[k], name);
            bad = true;
        } else {
            tb.keys[k] = (uint32_t)c;
            if (tb.cols[c].optional) {
                err_at(p, ADJ_E_RULE_TYPE, keys_at[k].line, keys_at[k].col, "key '%s' cannot be optional", keys[k]);
                bad = true;
            }
        }
    }
    tb.nkeys = nkeys;
    if (vf[0]) {
        int a = find_col(&tb, vf, (uint32_t)strlen(vf));
        int b = find_col(&tb, vt, (uint32_t)strlen(vt));
        if (a < 0 || b < 0 || tb.cols[a].type.kind != RT_DATE || tb.cols[b].type.kind != RT_DATE ||
            tb.cols[a].optional) {
            err_at(p, ADJ_E_RULE_TYPE, vat.line, vat.col,
                   "valid needs a required date column and a date column of %s", name);
            bad = true;
        } else {
            tb.valid_from = a;
            tb.valid_to = b;
        }
    }
    if (!bad)
        p->set->tables[p->set->ntables++] = tb;
}

static void decl_rule(struct ps *p)
{
    struct tok t = p->t;
    if (p->set->nrules >= RL_RULES_MAX) {
        err_at(p, ADJ_E_RULE_LIMIT, t.line, t.col, "more than %u rules", RL_RULES_MAX);
        p->bail = true;
        return;
    }
    struct rl_rule *r = &p->set->rules[p->set->nrules];
    memset(r, 0, sizeof *r);
    if (!ident(p, r->name, "a rule name"))
        return;
    for (uint32_t i = 0; i < p->set->nrules; i++)
        if (strcmp(p->set->rules[i].name, r->name) == 0)
            err_at(p, ADJ_E_RULE_DUPLICATE_NAME, t.line, t.col, "rule '%s' twice", r->name);
    if (!expect(p, "on"))
        return;
    if (accept(p, "doc"))
        r->scope = SC_DOC;
    else if (accept(p, "line"))
        r->scope = SC_LINE;
    else {
        syntax(p, "'doc' or 'line'");
        return;
    }
    r->from = RL_DAY_MIN;
    r->to = RL_DAY_MAX;
    r->file = p->fileno;
    r->line = t.line;
    r->when = UINT32_MAX;
    struct tok ft = p->t;
    if (accept(p, "from")) {
        if (p->t.k != T_DATE) {
            syntax(p, "a date YYYY/MM/DD");
            return;
        }
        r->from = (int32_t)p->t.num;
        next(p);
    }
    if (accept(p, "to")) {
        if (p->t.k != T_DATE) {
            syntax(p, "a date YYYY/MM/DD");
            return;
        }
        r->to = (int32_t)p->t.num;
        next(p);
    }
    if (r->to < r->from)
        err_at(p, ADJ_E_RULE_UNREACHABLE, ft.line, ft.col, "rule %s ends before it starts: it never applies",
               r->name);
    p->rule = r;
    p->nlocals = 0;
    p->block = 0;
    if (accept(p, "when")) {
        struct tok wt = p->t;
        uint32_t c = expr(p);
        if (!p->bail) {
            coerce(p, c, ty(RT_BOOL, 0), "when");
            const struct rl_node *cn = &p->set->nodes[c];
            if (cn->op == OP_LIT && cn->type.kind == RT_BOOL && cn->imm == 0)
                err_at(p, ADJ_E_RULE_UNREACHABLE, wt.line, wt.col, "rule %s is 'when false': it never applies",
                       r->name);
        }
        r->when = c;
    }
    block(p, &r->body, &r->nbody, false);
    p->rule = NULL;
    p->set->nrules++;
}

static void parse_file(struct ps *p)
{
    p->line = 1;
    p->line_start = 0;
    p->pos = 0;
    /* A UTF-8 byte order mark is tolerated (editors on Windows add it). */
    if (p->len >= 3 && memcmp(p->text, "\xEF\xBB\xBF", 3) == 0)
        p->pos = 3;
    next(p);
    while (p->t.k != T_EOF) {
        p->bail = false;
        struct tok t = p->t;
        uint32_t errors_before = p->d->count;
        bool is_rule = false;
        if (accept(p, "reason"))
            decl_reason(p);
        else if (accept(p, "enum"))
            decl_enum(p);
        else if (accept(p, "param"))
            decl_param(p);
        else if (accept(p, "params"))
            decl_table(p, true);
        else if (accept(p, "table"))
            decl_table(p, false);
        else if (accept(p, "var"))
            decl_var(p);
        else if (accept(p, "rule")) {
            is_rule = true;
            decl_rule(p);
        } else {
            if (t.k != T_BAD)
                syntax(p, "a declaration (reason, enum, param, params, table, var, rule)");
            p->bail = true;
            next(p);
        }
        if (!is_rule && p->d->count != errors_before)
            p->set->decl_errors = true;
        if (p->bail) {
            /* Recovery: skip to the next declaration keyword that starts a line. */
            p->rule = NULL;
            while (p->t.k != T_EOF && !(decl_start(p) && p->t.col == 1))
                next(p);
        }
    }
}

/* --------------------------------------------------------------- set up */

static void builtin_enum(struct rules_set *set, const char *name, const char **vals)
{
    struct rl_enum *en = &set->enums[set->nenums++];
    memset(en, 0, sizeof *en);
    snprintf(en->name, sizeof en->name, "%s", name);
    for (uint32_t i = 0; vals[i]; i++) {
        snprintf(en->values[i], RL_NAME_MAX, "%s", vals[i]);
        en->hashes[i] = rl_hash_text(vals[i], strlen(vals[i]));
        en->count++;
    }
}

static void builtin_var(struct rules_set *set, const char *name, struct rtype type, struct rv def)
{
    struct rl_var *v = &set->vars[set->nvars++];
    snprintf(v->name, sizeof v->name, "%s", name);
    v->type = type;
    v->def = def;
    v->scope = SC_LINE;
    set->nlinevars++;
}

static struct rules_set *set_new(void)
{
    struct rules_set *set = calloc(1, sizeof *set);
    if (!set)
        return NULL;
    set->strpool = malloc(RL_STRPOOL_BYTES);
    if (!set->strpool) {
        free(set);
        return NULL;
    }
    set->strpool_cap = RL_STRPOOL_BYTES;
    set->params_table = -1;
    static const char *dk[] = {"P", "I", NULL}, *st[] = {"B", "M", "-", NULL},
                      *lk[] = {"D", "S", "K", "B", NULL}, *tc[] = {"G", "F", "-", NULL},
                      *ss[] = {"A", "P", "R", NULL};
    builtin_enum(set, "doc_kind", dk);
    builtin_enum(set, "stay", st);
    builtin_enum(set, "line_kind", lk);
    builtin_enum(set, "tariff_class", tc);
    builtin_enum(set, "status", ss);
    struct rv zero = {0, NULL, 0};
    static const char *outs[] = {"qty_a", "gross", "patient", "insurer", "daroyar",
                                 "approved_insurer", "approved_daroyar", "deduction"};
    for (int i = 0; i < 8; i++)
        builtin_var(set, outs[i], ty(i == 0 ? RT_INT : RT_RIAL, 0), zero);
    struct rv p = {(int64_t)set->enums[EN_STATUS].hashes[1], set->enums[EN_STATUS].values[1], 1};
    builtin_var(set, "status", ty(RT_ENUM, EN_STATUS), p);
    return set;
}

void rules_free(struct rules_set *set)
{
    if (!set)
        return;
    for (uint32_t i = 0; i < set->ntables; i++)
        rl_table_free(&set->tables[i]);
    for (uint32_t i = 0; i < set->nparams; i++) {
        free(set->params[i].hist_from);
        free(set->params[i].hist_to);
        free(set->params[i].hist_val);
        free(set->params[i].hist_line);
    }
    rl_vm_free(set->vm);
    free(set->nodes);
    free(set->list);
    free(set->strpool);
    free(set);
}

/* Reason bits in ascending code order: renumber declarations and every
 * node that names a reason. */
static void sort_reasons(struct rules_set *set)
{
    uint32_t n = set->nreasons, perm[64], inv[64];
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && strcmp(set->reasons[perm[j - 1]], set->reasons[perm[j]]) > 0; j--) {
            uint32_t x = perm[j];
            perm[j] = perm[j - 1];
            perm[j - 1] = x;
        }
    char names[64][RL_NAME_MAX], texts[64][128];
    for (uint32_t i = 0; i < n; i++) {
        inv[perm[i]] = i;
        memcpy(names[i], set->reasons[perm[i]], RL_NAME_MAX);
        memcpy(texts[i], set->reason_text[perm[i]], 128);
    }
    memcpy(set->reasons, names, sizeof names);
    memcpy(set->reason_text, texts, sizeof texts);
    for (uint32_t k = 0; k < set->nnodes; k++) {
        struct rl_node *nd = &set->nodes[k];
        if (nd->op == OP_HAS) {
            uint64_t m = 0;
            for (uint32_t i = 0; i < n; i++)
                if ((uint64_t)nd->imm & (1ull << i))
                    m |= 1ull << inv[i];
            nd->imm = (int64_t)m;
        } else if ((nd->op == ST_REASON || nd->op == ST_REJECT || nd->op == ST_LOOKUP) && nd->imm >= 0 &&
                   nd->imm < (int64_t)n) {
            nd->imm = inv[nd->imm];
        }
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void parse_text(struct rules_set *set, struct rl_diag *d, uint32_t fileno, const char *text,
                       size_t len)
{
    size_t bad = 0;
    if (!text_utf8_valid(text, len, &bad)) {
        uint32_t ln = 1;
        size_t ls = 0;
        for (size_t i = 0; i < bad; i++)
            if (text[i] == '\n') {
                ln++;
                ls = i + 1;
            }
        rl_diag_report(d, ADJ_E_UTF8_INVALID, set->files[fileno], NULL, 0, ln,
                       (uint32_t)text_codepoints(text + ls, bad - ls) + 1, "rule files are UTF-8 text");
        return;
    }
    if (memchr(text, '\0', len)) {
        rl_diag_report(d, ADJ_E_RULE_SYNTAX, set->files[fileno], NULL, 0, 1, 1, "NUL byte in a rule file");
        return;
    }
    struct ps *p = calloc(1, sizeof *p);
    if (!p) {
        rl_diag_report(d, ADJ_E_NOMEM, set->files[fileno], NULL, 0, 0, 0, "parser");
        return;
    }
    p->set = set;
    p->d = d;
    p->file = set->files[fileno];
    p->fileno = fileno;
    p->text = text;
    p->len = len;
    parse_file(p);
    free(p);
}

static enum adj_err finish(struct rules_set *set, const char *tables_dir, struct rl_diag *d,
                           struct rules_set **out)
{
    /* With errors in rules only, the tables are still loaded and checked:
     * every error of the rule set and its tables at once. */
    if (d->count == 0 || !set->decl_errors)
        rl_tables_load(set, tables_dir, d);
    if (d->count == 0)
        sort_reasons(set);
    if (d->count == 0) {
        rl_prepare(set);
        rl_vm_compile(set);
    }
    if (d->count > RL_DIAG_MAX && d->out)
        fprintf(d->out, "... %u more errors not shown\n", d->count - RL_DIAG_MAX);
    if (d->count) {
        rules_free(set);
        *out = NULL;
        /* A file that could not be read outranks the rest: the caller may
         * exit 74 (retry) rather than 64 (fix the rules). */
        return d->unreadable ? ADJ_E_RULE_FILE : d->first;
    }
    *out = set;
    return ADJ_OK;
}

enum adj_err rules_load_text(const char *name, const char *text, size_t len,
                             const char *tables_dir, FILE *diag_out, struct rules_set **out)
{
    struct rl_diag d = {diag_out, 0, ADJ_OK, false};
    *out = NULL;
    struct rules_set *set = set_new();
    if (!set)
        return ADJ_E_NOMEM;
    snprintf(set->files[0], sizeof set->files[0], "%s", name);
    set->nfiles = 1;
    parse_text(set, &d, 0, text, len);
    return finish(set, tables_dir, &d, out);
}

enum adj_err rules_load(const char *rules_dir, const char *tables_dir, FILE *diag_out,
                        struct rules_set **out)
{
    struct rl_diag d = {diag_out, 0, ADJ_OK, false};
    *out = NULL;
    struct rules_set *set = set_new();
    if (!set)
        return ADJ_E_NOMEM;
    DIR *dir = opendir(rules_dir);
    if (!dir) {
        rl_diag_report(&d, ADJ_E_RULE_FILE, rules_dir, NULL, 0, 0, 0, "%s", strerror(errno));
        return finish(set, tables_dir, &d, out);
    }
    char *names[RL_FILES_MAX];
    uint32_t n = 0;
    struct dirent *de;
    bool too_many = false;
    while ((de = readdir(dir)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 7 || strcmp(de->d_name + l - 6, ".rules") != 0 || de->d_name[0] == '.')
            continue;
        if (n >= RL_FILES_MAX) {
            too_many = true;
            break;
        }
        names[n] = strdup(de->d_name);
        if (names[n])
            n++;
    }
    closedir(dir);
    if (too_many)
        rl_diag_report(&d, ADJ_E_RULE_LIMIT, rules_dir, NULL, 0, 0, 0, "more than %u rule files",
                       RL_FILES_MAX);
    if (n == 0 && !too_many)
        rl_diag_report(&d, ADJ_E_RULE_NO_FILES, rules_dir, NULL, 0, 0, 0, "add a NAME.rules file");
    qsort(names, n, sizeof names[0], cmp_str);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(set->files[i], sizeof set->files[i], "%s/%s", rules_dir, names[i]);
        set->nfiles = i + 1;
        size_t len = 0;
        char *text = rl_read_file(set->files[i], &len);
        if (!text) {
            rl_diag_report(&d, ADJ_E_RULE_FILE, set->files[i], NULL, 0, 0, 0, "%s", strerror(errno));
        } else if (len > RL_RULE_FILE_MAX) {
            rl_diag_report(&d, ADJ_E_RULE_LIMIT, set->files[i], NULL, 0, 0, 0, "rule file over 4 MiB");
        } else {
            parse_text(set, &d, i, text, len);
        }
        free(text);
        free(names[i]);
    }
    return finish(set, tables_dir, &d, out);
}

uint32_t rules_reason_count(const struct rules_set *set) { return set->nreasons; }

const char *rules_reason_name(const struct rules_set *set, uint32_t bit)
{
    return bit < set->nreasons ? set->reasons[bit] : NULL;
}

uint32_t rules_reason_bit(const struct rules_set *set, const char *code)
{
    for (uint32_t i = 0; i < set->nreasons; i++)
        if (strcmp(set->reasons[i], code) == 0)
            return i;
    return UINT32_MAX;
}

size_t rules_reasons_format(const struct rules_set *set, uint64_t mask, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < set->nreasons; i++) {
        if (!(mask & (1ull << i)))
            continue;
        int w = snprintf(buf + n, cap - n, "%s%s", n ? "," : "", set->reasons[i]);
        if (w < 0 || (size_t)w >= cap - n) {
            buf[n] = '\0';
            return n;
        }
        n += (size_t)w;
    }
    return n;
}
