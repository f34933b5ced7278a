/*
 * The evaluator: walks the resolved node tree of a compiled rule set over
 * one document. All state lives in a stack frame (struct ectx), so a shared
 * immutable rules_set serves any number of threads and a line allocates
 * nothing.
 *
 * Generic semantics only (rules/LANGUAGE.md): doc rules run first; a reject
 * in a doc rule makes every line qty 0, amounts 0, status R with the
 * document's reasons and stops there (no line rule runs, so no pack id is
 * consumed). Otherwise line rules run per line in order. The engine then
 * checks the decision invariants the pipeline relies on (patient + insurer
 * + daroyar == gross, approved <= claimed, status A/P/R) and sums the lines
 * into the document. Arithmetic is checked; overflow or a division by zero
 * stops the document with an error instead of a wrong amount.
 */
#include <string.h>

#include "core/base/ids.h"
#include "core/base/jdate.h"
#include "core/base/money.h"
#include "core/base/text.h"
#include "rules/rules_impl.h"

/* Lines whose code hash is remembered per document (bit i of
 * code_hash_valid); longer documents hash the codes beyond this on use. */
#define EV_CODE_CACHE 64u

_Static_assert(RL_TABLES_MAX <= 32, "memo_valid is a 32-bit mask");
_Static_assert(RL_PARAMS_MAX <= 64, "param_valid is a 64-bit mask");

struct ectx {
    const struct rules_set *set;
    const struct doc *doc;
    const struct doc_line *lines;
    const uint64_t *uids;
    const struct seen_ops *seen;
    FILE *tr;
    int32_t dos;
    bool seen_before;
    uint32_t li;     /* current line */
    uint32_t other;  /* line bound by any() */
    uint64_t line_reasons;
    uint64_t doc_reasons;
    int64_t packs[4];
    bool packs_done;
    struct rv code_v; /* current line's code, hashed once */
    enum adj_err err;
    const struct rl_node *err_node;
    const struct rl_rule *rule;
    struct rv docv[RL_VARS_MAX];
    struct rv linev[RL_VARS_MAX];
    struct rv loc[RL_LOCALS_MAX];
    uint64_t code_hash_valid;
    uint64_t code_hash[EV_CODE_CACHE];
    uint64_t param_valid; /* bit i: param_val[i] holds the value on dos */
    struct rv param_val[RL_PARAMS_MAX];
    uint32_t memo_valid;  /* bit t: memo[t] holds table t's last lookup */
    struct rl_memo memo[RL_TABLES_MAX];
};

static struct rv ival(int64_t i)
{
    struct rv v = {i, NULL, 0};
    return v;
}

static struct rv tval(const char *s, size_t n)
{
    struct rv v = {(int64_t)text_hash64(s, n), s, (uint32_t)n};
    return v;
}

/* The enum's value hashes are computed at load, so a one-letter field costs
 * a scan of at most RL_ENUM_VALUES_MAX bytes, not a hash. */
uint32_t rl_enum_index(const struct rules_set *set, uint32_t en, char c)
{
    const struct rl_enum *e = &set->enums[en];
    uint32_t k = 0;
    while (k + 1 < e->count && !(e->values[k][0] == c && e->values[k][1] == '\0'))
        k++;
    return k;
}

struct rv rl_enum_val(const struct rules_set *set, uint32_t en, char c)
{
    const struct rl_enum *e = &set->enums[en];
    uint32_t k = rl_enum_index(set, en, c);
    struct rv v = {(int64_t)e->hashes[k], e->values[k], (uint32_t)strlen(e->values[k])};
    return v;
}

static void fail(struct ectx *c, enum adj_err e, const struct rl_node *n)
{
    if (c->err == ADJ_OK) {
        c->err = e;
        c->err_node = n;
    }
}

struct rv rl_doc_field(const struct rules_set *set, const struct doc *d, int32_t dos,
                       bool seen_before, uint32_t f)
{
    switch (f) {
    case 0: return tval(d->doc_id, d->doc_id_len);
    case 1: return tval(d->center, d->center_len);
    case 2: return ival((int64_t)d->patient_nid);
    case 3: return ival(d->prescriber_mc);
    case 4: return rl_enum_val(set, EN_DKIND, (char)d->kind);
    case 5: return rl_enum_val(set, EN_STAY, (char)d->stay);
    case 6: return ival(d->date1_days);
    case 7: return ival(d->date2_days);
    case 8: return ival(dos);
    case 9: return ival(seen_before);
    case 10: return tval(d->diagnosis, d->diagnosis_len);
    default: return ival(d->line_count);
    }
}

struct rv rl_line_field(const struct rules_set *set, const struct doc_line *lines, uint32_t li,
                        uint32_t f)
{
    const struct doc_line *l = &lines[li];
    switch (f) {
    case 0: return ival(li);
    case 1: return ival(l->line_no);
    case 2: return rl_enum_val(set, EN_LKIND, (char)l->kind);
    case 3: return tval(l->code, l->code_len);
    case 4: return ival(l->qty);
    case 5: return ival(l->unit_price_rials);
    case 6: return ival(l->claimed_total_rials);
    case 7: return ival(l->claimed_insurer_rials);
    case 8: return ival(l->claimed_daroyar_rials);
    case 9: return rl_enum_val(set, EN_TCLASS, (char)l->tariff_class);
    case 10: return ival(l->has_physician ? l->physician_mc : 0);
    case 11: return ival(l->has_physician);
    default: return ival(l->uid_count);
    }
}

/* rl_line_field with the code's hash remembered per document. */
static struct rv line_field(struct ectx *c, uint32_t li, uint32_t f)
{
    if (f != 3)
        return rl_line_field(c->set, c->lines, li, f);
    const struct doc_line *l = &c->lines[li];
    if (li == c->li)
        return c->code_v;
    if (li >= EV_CODE_CACHE)
        return tval(l->code, l->code_len);
    if (!(c->code_hash_valid & (1ull << li))) {
        c->code_hash[li] = text_hash64(l->code, l->code_len);
        c->code_hash_valid |= 1ull << li;
    }
    struct rv v = {(int64_t)c->code_hash[li], l->code, l->code_len};
    return v;
}

struct rv rl_param_on(const struct rl_param *p, int32_t dos)
{
    uint32_t lo = 0, hi = p->nhist;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->hist_from[mid] <= dos)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && p->hist_to[lo - 1] >= dos)
        return p->hist_val[lo - 1];
    return p->def;
}

/* A parameter's value depends only on the date of service: searched once
 * per document. */
static struct rv param_at(struct ectx *c, uint32_t i)
{
    if (!(c->param_valid & (1ull << i))) {
        c->param_val[i] = rl_param_on(&c->set->params[i], c->dos);
        c->param_valid |= 1ull << i;
    }
    return c->param_val[i];
}

uint32_t rl_find_row(const struct rules_set *set, struct rl_memo *memo, uint32_t *memo_valid,
                     uint32_t ti, const struct rv *keys, int32_t day)
{
    const struct rl_table *t = &set->tables[ti];
    struct rl_memo *m = &memo[ti];
    if (*memo_valid & (1u << ti)) {
        bool same = m->day == day || t->valid_from < 0;
        for (uint32_t k = 0; k < t->nkeys && same; k++)
            same = rl_key_same(m->key[k], keys[k]);
        if (same)
            return m->row;
    }
    uint32_t row = rl_table_find(t, keys, day);
    for (uint32_t k = 0; k < t->nkeys; k++)
        m->key[k] = keys[k];
    m->day = day;
    m->row = row;
    *memo_valid |= 1u << ti;
    return row;
}

static uint32_t find_row(struct ectx *c, uint32_t ti, const struct rv *keys, int32_t day)
{
    return rl_find_row(c->set, c->memo, &c->memo_valid, ti, keys, day);
}

static bool text_eq(struct rv a, struct rv b)
{
    return a.i == b.i && a.n == b.n && (a.n == 0 || rl_bytes_equal(a.s, b.s, a.n));
}

static bool is_text(struct rtype t) { return t.kind == RT_CODE || t.kind == RT_ENUM; }

static void print_value(FILE *f, const struct rules_set *set, struct rtype t, struct rv v)
{
    (void)set;
    if (is_text(t)) {
        fprintf(f, "%.*s", (int)v.n, v.s ? v.s : "");
    } else if (t.kind == RT_DATE) {
        if (v.i >= INT32_MAX || v.i <= INT32_MIN) {
            fputs("(open)", f);
        } else {
            char b[11];
            fputs(jdate_format(jdate_from_days((int32_t)v.i), b), f);
        }
    } else if (t.kind == RT_BOOL) {
        fputs(v.i ? "true" : "false", f);
    } else if (v.i == INT64_MAX) {
        fputs("(no limit)", f);
    } else {
        fprintf(f, "%lld%s", (long long)v.i, t.kind == RT_BP ? "bp" : t.kind == RT_RIAL ? " rial" : "");
    }
}

static struct rv eval(struct ectx *c, uint32_t ni);
static int64_t eval_i(struct ectx *c, uint32_t ni);

static bool lookup_keys(struct ectx *c, const struct rl_node *n, struct rv *keys)
{
    for (uint32_t k = 0; k < n->nargs; k++) {
        keys[k] = eval(c, c->set->list[n->args + k]);
        if (c->err)
            return false;
    }
    return true;
}

enum adj_err rl_cold_op(uint8_t op, int64_t a, int64_t b, int64_t *r)
{
    *r = 0;
    switch (op) {
    case OP_RND:
        if (a < 0 || b < 0)
            return ADJ_E_RULE_INVARIANT; /* rnd is defined for x, bp >= 0 */
        return money_mul_bp_round_half_up(a, b, r) ? ADJ_OK : ADJ_E_RULE_OVERFLOW;
    case OP_DIV_CEIL:
    case OP_DIV_HALF_UP:
    case OP_DIV_FLOOR:
        if (b <= 0 || a < 0)
            return b == 0 ? ADJ_E_RULE_DIV_ZERO : ADJ_E_RULE_INVARIANT;
        if (op == OP_DIV_CEIL) {
            *r = money_div_ceil(a, b);
            return ADJ_OK;
        }
        if (op == OP_DIV_FLOOR) {
            *r = a / b; /* floor: both operands are >= 0 */
            return ADJ_OK;
        }
        return money_div_round_half_up(a, b, r) ? ADJ_OK : ADJ_E_RULE_OVERFLOW;
    case OP_AGE:
        if (a <= 0 || a >= INT32_MAX || b <= 0 || b >= INT32_MAX)
            return ADJ_E_RULE_INVARIANT; /* an open-ended date has no age */
        *r = jdate_age_years(jdate_from_days((int32_t)a), jdate_from_days((int32_t)b));
        return ADJ_OK;
    default:
        return ADJ_E_INTERNAL;
    }
}

/* The rarer operations live outside eval so that eval, called for every
 * node, keeps a small stack frame and few saved registers. */
__attribute__((noinline)) static struct rv eval_cold(struct ectx *c, const struct rl_node *n)
{
    int64_t a = eval_i(c, n->a);
    int64_t b = eval_i(c, n->b);
    int64_t r = 0;
    if (c->err)
        return ival(0);
    enum adj_err e = rl_cold_op(n->op, a, b, &r);
    if (e != ADJ_OK)
        fail(c, e, n);
    return ival(r);
}

__attribute__((noinline)) static struct rv eval_exists(struct ectx *c, const struct rl_node *n)
{
    struct rv z = {0, NULL, 0};
    struct rv keys[RL_KEYS_MAX];
    if (!lookup_keys(c, n, keys))
        return z;
    return ival(find_row(c, n->b, keys, c->dos) != UINT32_MAX);
}

/* any(o in lines where cond): imm is the kind letter cond requires of o
 * first (rl_prepare), so lines of another kind are passed over without
 * evaluating cond, which would be false for them. */
__attribute__((noinline)) static struct rv eval_any(struct ectx *c, const struct rl_node *n)
{
    uint32_t saved = c->other;
    bool any = false;
    char want = (char)n->imm;
    if (n->b != 0) {
        /* cond needs a row of a table with a key part that does not depend
         * on o (rl_prepare): if the table's filter proves no row has that
         * value, cond is false for every o and the loop is skipped. */
        const struct rl_node *e = &c->set->nodes[n->b - 1];
        struct rv v = eval(c, c->set->list[e->args + n->c]);
        if (!c->err && !rl_table_part_maybe(&c->set->tables[e->b], n->c, v))
            return ival(false);
    }
    for (uint32_t j = 0; j < c->doc->line_count && !any && !c->err; j++) {
        if (want) {
            struct rv k = rl_enum_val(c->set, EN_LKIND, (char)c->lines[j].kind);
            if (!(k.n == 1 && k.s[0] == want))
                continue;
        }
        c->other = j;
        any = eval_i(c, n->a) != 0;
    }
    c->other = saved;
    return ival(any);
}

/* Integer fields of a line without building a value; text fields (kind,
 * code, tariff class) go through line_field for their hash. */
static int64_t line_field_i(struct ectx *c, uint32_t li, uint32_t f)
{
    const struct doc_line *l = &c->lines[li];
    switch (f) {
    case 0: return li;
    case 1: return l->line_no;
    case 4: return l->qty;
    case 5: return l->unit_price_rials;
    case 6: return l->claimed_total_rials;
    case 7: return l->claimed_insurer_rials;
    case 8: return l->claimed_daroyar_rials;
    case 10: return l->has_physician ? l->physician_mc : 0;
    case 11: return l->has_physician;
    case 2:
    case 3:
    case 9: return line_field(c, li, f).i;
    default: return l->uid_count;
    }
}

/* The value of a node whose .i is all its user needs (numbers, dates,
 * booleans, conditions): returned in a register, with no text carried.
 * Same order of evaluation and same errors as eval. */
static int64_t eval_i(struct ectx *c, uint32_t ni)
{
    const struct rules_set *set = c->set;
    const struct rl_node *n = &set->nodes[ni];
    int64_t a, b, r = 0;
    if (c->err)
        return 0;
    switch (n->op) {
    case OP_LIT: return n->imm;
    case OP_VAR_DOC: return c->docv[n->a].i;
    case OP_VAR_LINE: return c->linev[n->a].i;
    case OP_LOCAL: return c->loc[n->a].i;
    case OP_PARAM: return param_at(c, n->a).i;
    case OP_FIELD: {
        const struct rl_table *t = &set->tables[n->b];
        int64_t v = t->cells[(size_t)c->loc[n->a].i * t->ncols + n->c];
        return is_text(t->cols[n->c].type) ? rl_table_cell(t, (uint32_t)c->loc[n->a].i, n->c).i : v;
    }
    case OP_LINEF: return line_field_i(c, c->li, n->aux);
    case OP_OTHERF: return line_field_i(c, c->other, n->aux);
    case OP_PACKS: return c->packs[n->aux];
    case OP_NEG:
        a = eval_i(c, n->a);
        if (!money_sub(0, a, &r))
            fail(c, ADJ_E_RULE_OVERFLOW, n);
        return r;
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
        a = eval_i(c, n->a);
        b = eval_i(c, n->b);
        if (c->err)
            return 0;
        if (!(n->op == OP_ADD   ? money_add(a, b, &r)
              : n->op == OP_SUB ? money_sub(a, b, &r)
                                : money_mul(a, b, &r)))
            fail(c, ADJ_E_RULE_OVERFLOW, n);
        return r;
    case OP_EQ:
    case OP_NE: {
        bool eq;
        if (is_text(set->nodes[n->a].type) || is_text(set->nodes[n->b].type)) {
            struct rv x = eval(c, n->a);
            struct rv y = eval(c, n->b);
            eq = text_eq(x, y);
        } else {
            a = eval_i(c, n->a);
            b = eval_i(c, n->b);
            eq = a == b;
        }
        return n->op == OP_EQ ? eq : !eq;
    }
    case OP_LT: a = eval_i(c, n->a); b = eval_i(c, n->b); return a < b;
    case OP_LE: a = eval_i(c, n->a); b = eval_i(c, n->b); return a <= b;
    case OP_GT: a = eval_i(c, n->a); b = eval_i(c, n->b); return a > b;
    case OP_GE: a = eval_i(c, n->a); b = eval_i(c, n->b); return a >= b;
    case OP_AND: return eval_i(c, n->a) && eval_i(c, n->b);
    case OP_OR: return eval_i(c, n->a) || eval_i(c, n->b);
    case OP_NOT: return !eval_i(c, n->a);
    case OP_COND: return eval_i(c, n->a) ? eval_i(c, n->b) : eval_i(c, n->c);
    case OP_MIN: a = eval_i(c, n->a); b = eval_i(c, n->b); return a <= b ? a : b;
    case OP_MAX: a = eval_i(c, n->a); b = eval_i(c, n->b); return a >= b ? a : b;
    case OP_HAS:
        return n->imm == 0 ? c->line_reasons != 0 : (c->line_reasons & (uint64_t)n->imm) != 0;
    default:
        return eval(c, ni).i;
    }
}

/* The full value of a node: text (hash and bytes) or a number. */
static struct rv eval(struct ectx *c, uint32_t ni)
{
    const struct rules_set *set = c->set;
    const struct rl_node *n = &set->nodes[ni];
    struct rv z = {0, NULL, 0};
    if (c->err)
        return z;
    switch (n->op) {
    case OP_LIT: {
        struct rv v = {n->imm, n->s, n->n};
        return v;
    }
    case OP_VAR_DOC: return c->docv[n->a];
    case OP_VAR_LINE: return c->linev[n->a];
    case OP_LOCAL: return c->loc[n->a];
    case OP_PARAM: return param_at(c, n->a);
    case OP_FIELD:
        return rl_table_cell(&set->tables[n->b], (uint32_t)c->loc[n->a].i, n->c);
    case OP_DOCF: return rl_doc_field(set, c->doc, c->dos, c->seen_before, n->aux);
    case OP_LINEF: return line_field(c, c->li, n->aux);
    case OP_OTHERF: return line_field(c, c->other, n->aux);
    case OP_COND:
        if (!is_text(n->type))
            return ival(eval_i(c, ni));
        return eval_i(c, n->a) ? eval(c, n->b) : eval(c, n->c);
    case OP_MIN:
    case OP_MAX: {
        if (!is_text(n->type))
            return ival(eval_i(c, ni));
        struct rv a = eval(c, n->a);
        struct rv b = eval(c, n->b);
        return n->op == OP_MIN ? (a.i <= b.i ? a : b) : (a.i >= b.i ? a : b);
    }
    case OP_RND:
    case OP_DIV_CEIL:
    case OP_DIV_HALF_UP:
    case OP_DIV_FLOOR:
    case OP_AGE:
        return eval_cold(c, n);
    case OP_EXISTS:
        return eval_exists(c, n);
    case OP_ANY:
        return eval_any(c, n);
    case OP_PACKS:
    case OP_NEG:
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_EQ:
    case OP_NE:
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
    case OP_AND:
    case OP_OR:
    case OP_NOT:
    case OP_HAS:
        return ival(eval_i(c, ni));
    default:
        fail(c, ADJ_E_INTERNAL, n);
        return z;
    }
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- explain's trace: one printer per event, shared by both evaluators
 * so their traces are the same text (tested) ---- */

void rl_trace_doc(FILE *tr, const struct doc *doc, bool seen_before)
{
    char b[11];
    /* The national code as written (10 digits, leading zeros kept); a
     * lookup keyed by it shows the integer the table is keyed by. */
    fprintf(tr, "doc %.*s: %c, center %.*s, patient %010llu, date of service %s%s\n",
            (int)doc->doc_id_len, doc->doc_id_raw, doc->kind, (int)doc->center_len, doc->center,
            (unsigned long long)doc->patient_nid, jdate_format(doc_dos(doc), b),
            seen_before ? ", seen before" : "");
}

void rl_trace_rule(FILE *tr, const struct rules_set *set, const struct rl_rule *r)
{
    fprintf(tr, "  rule %s (%s:%u)\n", r->name, base_name(set->files[r->file]), r->line);
}

void rl_trace_value(FILE *tr, const struct rules_set *set, const char *what, const char *name,
                    struct rtype t, struct rv v)
{
    fprintf(tr, "    %s %s = ", what, name);
    print_value(tr, set, t, v);
    fputc('\n', tr);
}

void rl_trace_lookup(FILE *tr, const struct rules_set *set, uint32_t table, const struct rv *keys,
                     uint32_t nkeys, int32_t day, uint32_t row)
{
    const struct rl_table *t = &set->tables[table];
    fprintf(tr, "    lookup %s[", t->name);
    for (uint32_t k = 0; k < nkeys; k++) {
        if (k)
            fputc(',', tr);
        print_value(tr, set, t->cols[t->keys[k]].type, keys[k]);
    }
    fputc(']', tr);
    if (t->valid_from >= 0) {
        fputs(" on ", tr);
        print_value(tr, set, (struct rtype){RT_DATE, 0}, ival(day));
    }
    if (row == UINT32_MAX)
        fputs(" -> no row\n", tr);
    else
        fprintf(tr, " -> %s line %u\n", t->file, t->src_line[row]);
}

void rl_trace_reason(FILE *tr, const struct rules_set *set, const struct rl_rule *rule,
                     const struct rl_node *n, bool doc_level)
{
    fprintf(tr, "    %s %s (%s) by rule %s at %s:%u\n", doc_level ? "reject" : "reason",
            set->reasons[n->imm], set->reason_text[n->imm], rule->name,
            base_name(set->files[n->file]), n->line);
}

void rl_trace_exit(FILE *tr, const struct rules_set *set, const struct rl_node *n)
{
    fprintf(tr, "    exit at %s:%u\n", base_name(set->files[n->file]), n->line);
}

void rl_trace_packs(FILE *tr, const int64_t packs[4])
{
    fprintf(tr, "    packs: %lld listed, %lld good, %lld reused, %lld invalid\n", (long long)packs[3],
            (long long)packs[0], (long long)packs[1], (long long)packs[2]);
}

void rl_trace_line(FILE *tr, const struct doc_line *l)
{
    fprintf(tr, "line %u: %c %.*s qty %u unit price %lld claimed insurer %lld daroyar %lld\n",
            l->line_no, l->kind, (int)l->code_len, l->code, l->qty, (long long)l->unit_price_rials,
            (long long)l->claimed_insurer_rials, (long long)l->claimed_daroyar_rials);
}

void rl_trace_line_result(FILE *tr, const struct rules_set *set, const struct line_decision *o)
{
    char rb[256];
    rules_reasons_format(set, o->reasons, rb, sizeof rb);
    fprintf(tr, "  => %c qty_a %lld gross %lld patient %lld insurer %lld daroyar %lld "
                "approved %lld+%lld deduction %lld reasons %s\n",
            o->status, (long long)o->qty_a, (long long)o->gross_rials, (long long)o->patient_rials,
            (long long)o->insurer_rials, (long long)o->daroyar_rials,
            (long long)o->approved_insurer_rials, (long long)o->approved_daroyar_rials,
            (long long)o->deduction_rials, rb[0] ? rb : "-");
}

void rl_trace_doc_result(FILE *tr, const struct rules_set *set, const struct doc_decision *d)
{
    char rb[256];
    rules_reasons_format(set, d->reasons, rb, sizeof rb);
    fprintf(tr, "doc => %c approved insurer %lld daroyar %lld deduction %lld reasons %s\n", d->status,
            (long long)d->approved_insurer_rials, (long long)d->approved_daroyar_rials,
            (long long)d->deduction_rials, rb[0] ? rb : "-");
}

void rl_trace_error(FILE *tr, const struct rules_set *set, enum adj_err e, const struct rl_node *n)
{
    fprintf(tr, "error: %s [%s]%s%s\n", adj_err_message(e), adj_err_name(e), n ? " at " : "",
            n ? base_name(set->files[n->file]) : "");
}

static void add_reason(struct ectx *c, const struct rl_node *n, bool doc_level)
{
    if (n->imm < 0)
        return;
    uint64_t bit = 1ull << n->imm;
    if (doc_level)
        c->doc_reasons |= bit;
    else
        c->line_reasons |= bit;
    if (c->tr)
        rl_trace_reason(c->tr, c->set, c->rule, n, doc_level);
}

void rl_count_packs(const struct doc_line *l, const uint64_t *uids, const struct seen_ops *seen,
                    int64_t packs[4])
{
    /* Left to right: invalid, reused (consumed before, in history, this
     * batch or earlier on this line) or good (consumed now). */
    int64_t good = 0, reused = 0, invalid = 0;
    for (uint32_t k = 0; k < l->uid_count && k < ADJ_UIDS_PER_LINE_MAX; k++) {
        uint64_t u = uids[l->uid_first + k];
        if (u == IDS_UID_INVALID)
            invalid++;
        else if (seen && seen->uid_consumed_mark(seen->ctx, u))
            reused++;
        else
            good++;
    }
    packs[0] = good;
    packs[1] = reused;
    packs[2] = invalid;
    packs[3] = l->uid_count;
}

static void run_packs(struct ectx *c)
{
    if (c->packs_done)
        return; /* once per line */
    c->packs_done = true;
    rl_count_packs(&c->lines[c->li], c->uids, c->seen, c->packs);
    if (c->tr)
        rl_trace_packs(c->tr, c->packs);
}

/* The value a let or set stores: numbers through eval_i (one dispatch, in
 * a register); text through eval. */
static struct rv value_of(struct ectx *c, uint32_t ni)
{
    switch (c->set->nodes[ni].type.kind) {
    case RT_LIT:
    case RT_INT:
    case RT_RIAL:
    case RT_BP:
    case RT_DATE:
    case RT_BOOL:
        return ival(eval_i(c, ni));
    default:
        return eval(c, ni);
    }
}

/* Runs statements; returns true if the rule exited. */
static bool exec(struct ectx *c, uint32_t first, uint32_t count)
{
    const struct rules_set *set = c->set;
    for (uint32_t i = 0; i < count && !c->err; i++) {
        const struct rl_node *n = &set->nodes[set->list[first + i]];
        switch (n->op) {
        case ST_LET: {
            c->loc[n->a] = value_of(c, n->b);
            if (c->tr && !c->err)
                rl_trace_value(c->tr, set, "let", c->rule->local_names[n->a], set->nodes[n->b].type,
                               c->loc[n->a]);
            break;
        }
        case ST_SET: {
            struct rv v = value_of(c, n->b);
            if (n->aux == SC_DOC)
                c->docv[n->a] = v;
            else
                c->linev[n->a] = v;
            if (c->tr && !c->err)
                rl_trace_value(c->tr, set, "set", set->vars[n->c].name, set->vars[n->c].type, v);
            break;
        }
        case ST_LOOKUP: {
            struct rv keys[RL_KEYS_MAX];
            if (!lookup_keys(c, n, keys))
                return true;
            int32_t day = c->dos;
            if (n->c != UINT32_MAX) {
                int64_t d = eval_i(c, n->c);
                day = d > INT32_MAX ? INT32_MAX : d < INT32_MIN ? INT32_MIN : (int32_t)d;
            }
            uint32_t row = find_row(c, n->b, keys, day);
            if (c->tr)
                rl_trace_lookup(c->tr, set, n->b, keys, n->nargs, day, row);
            if (row == UINT32_MAX) {
                if (n->aux == ST_REASON)
                    add_reason(c, n, false);
                else if (n->aux == ST_REJECT)
                    add_reason(c, n, true);
                return true;
            }
            c->loc[n->a] = ival(row);
            break;
        }
        case ST_REASON:
        case ST_REJECT:
            if (n->b == 0 || eval_i(c, n->b - 1))
                if (!c->err)
                    add_reason(c, n, n->op == ST_REJECT);
            break;
        case ST_EXIT:
            if (n->b == 0 || eval_i(c, n->b - 1)) {
                if (c->tr && !c->err)
                    rl_trace_exit(c->tr, set, n);
                return true;
            }
            break;
        case ST_PACKS:
            run_packs(c);
            break;
        case ST_IF:
            if (eval_i(c, n->a)) {
                if (exec(c, n->args, n->nargs))
                    return true;
            } else if (exec(c, n->b, n->c)) {
                return true;
            }
            break;
        default:
            fail(c, ADJ_E_INTERNAL, n);
            return true;
        }
    }
    return c->err != ADJ_OK;
}

/* The kind letter rules' kind_filter is compared with: the value of
 * line.kind (doc.kind) as the rules see it, 0 if not one letter. */
static char kind_letter(const struct ectx *c, uint8_t scope)
{
    struct rv v = scope == SC_DOC ? rl_enum_val(c->set, EN_DKIND, (char)c->doc->kind)
                                  : rl_enum_val(c->set, EN_LKIND, (char)c->lines[c->li].kind);
    return v.n == 1 ? v.s[0] : 0;
}

static void run_rules(struct ectx *c, uint8_t scope)
{
    const struct rules_set *set = c->set;
    char kind = kind_letter(c, scope);
    uint32_t sc = scope == SC_DOC ? 0 : 1;
    for (uint32_t i = 0; i < set->nscope_rules[sc] && !c->err; i++) {
        const struct rl_rule *r = &set->rules[set->scope_rules[sc][i]];
        if (c->dos < r->from || c->dos > r->to)
            continue;
        if (r->kind_filter && r->kind_filter != kind)
            continue; /* its `when` starts with a kind test that is false */
        c->rule = r;
        if (r->when != UINT32_MAX && !eval_i(c, r->when))
            continue;
        if (c->tr)
            rl_trace_rule(c->tr, set, r);
        exec(c, r->body, r->nbody);
    }
}

void rl_line_rejected(struct line_decision *o, const struct doc_line *l, uint64_t doc_reasons)
{
    /* A rejected document's lines: nothing approved, everything claimed
     * deducted, the document's reasons (LANGUAGE.md, the engine's step 1). */
    o->reasons = doc_reasons;
    o->status = STATUS_R;
    o->deduction_rials = l->claimed_insurer_rials + l->claimed_daroyar_rials;
}

enum adj_err rl_eval_doc_tree(const struct rules_set *set, const struct doc *doc,
                              const struct doc_line *lines, const uint64_t *uids,
                              const struct seen_ops *seen, struct doc_decision *doc_out,
                              struct line_decision *lines_out, struct rules_trace *trace_or_null)
{
    struct ectx c;
    c.set = set;
    c.doc = doc;
    c.lines = lines;
    c.uids = uids;
    c.seen = seen;
    c.tr = trace_or_null ? trace_or_null->out : NULL;
    c.dos = doc_dos_days(doc);
    c.li = 0;
    c.other = 0;
    c.line_reasons = 0;
    c.doc_reasons = 0;
    c.err = ADJ_OK;
    c.err_node = NULL;
    c.rule = NULL;
    c.packs_done = false;
    memset(c.packs, 0, sizeof c.packs);
    c.code_v = tval("", 0);
    c.code_hash_valid = 0;
    c.param_valid = 0;
    c.memo_valid = 0;
    /* Every adjudicated document is "seen", whatever its decision (K09). */
    c.seen_before = seen ? seen->doc_seen_mark(seen->ctx, doc->doc_id, doc->doc_id_len) : false;
    memcpy(c.docv, set->doc_defaults, set->ndoc_defaults * sizeof c.docv[0]);
    if (c.tr)
        rl_trace_doc(c.tr, doc, c.seen_before);
    run_rules(&c, SC_DOC);
    memset(doc_out, 0, sizeof *doc_out);
    doc_out->reasons = c.doc_reasons;
    bool all_a = true, all_r = true;
    for (uint32_t i = 0; i < doc->line_count && !c.err; i++) {
        const struct doc_line *l = &lines[i];
        struct line_decision *o = &lines_out[i];
        memset(o, 0, sizeof *o);
        if (c.doc_reasons) {
            rl_line_rejected(o, l, c.doc_reasons);
        } else {
            c.li = i;
            c.line_reasons = 0;
            c.packs_done = false;
            memset(c.packs, 0, sizeof c.packs);
            if (i < EV_CODE_CACHE && (c.code_hash_valid & (1ull << i))) {
                struct rv v = {(int64_t)c.code_hash[i], l->code, l->code_len};
                c.code_v = v;
            } else {
                c.code_v = tval(l->code, l->code_len);
            }
            memcpy(c.linev, set->line_defaults, set->nline_defaults * sizeof c.linev[0]);
            if (c.tr)
                rl_trace_line(c.tr, l);
            run_rules(&c, SC_LINE);
            if (c.err)
                break;
            int64_t vals[LV_STATUS];
            for (uint32_t v = 0; v < LV_STATUS; v++)
                vals[v] = c.linev[v].i;
            c.err = rl_line_finish(set, c.tr, vals, c.linev[LV_STATUS], c.line_reasons, l, o);
            if (c.err)
                break;
        }
        all_a &= o->status == STATUS_A;
        all_r &= o->status == STATUS_R;
        if (!rl_doc_add_line(doc_out, o, l))
            c.err = ADJ_E_RULE_OVERFLOW;
    }
    if (c.err) {
        if (c.tr)
            rl_trace_error(c.tr, set, c.err, c.err_node);
        return c.err;
    }
    doc_out->status = all_a ? STATUS_A : all_r ? STATUS_R : STATUS_P;
    if (c.tr)
        rl_trace_doc_result(c.tr, set, doc_out);
    return ADJ_OK;
}

enum adj_err rules_eval_doc(const struct rules_set *set, const struct doc *doc,
                            const struct doc_line *lines, const uint64_t *uids,
                            const struct seen_ops *seen, struct doc_decision *doc_out,
                            struct line_decision *lines_out, struct rules_trace *trace_or_null)
{
    if (!set->vm)
        return rl_eval_doc_tree(set, doc, lines, uids, seen, doc_out, lines_out, trace_or_null);
    return rl_vm_eval_doc(set, doc, lines, uids, seen, doc_out, lines_out,
                          trace_or_null ? trace_or_null->out : NULL);
}

enum adj_err rules_eval_doc_reference(const struct rules_set *set, const struct doc *doc,
                                      const struct doc_line *lines, const uint64_t *uids,
                                      const struct seen_ops *seen, struct doc_decision *doc_out,
                                      struct line_decision *lines_out,
                                      struct rules_trace *trace_or_null)
{
    return rl_eval_doc_tree(set, doc, lines, uids, seen, doc_out, lines_out, trace_or_null);
}

/* ---- load-time shortcuts and prefetching ------------------------------- */

/* The letter a condition requires of a kind field (field_op/aux) as its
 * leftmost conjunct: `x.kind == "D" and ...`. Only the leftmost, because
 * `and` evaluates left to right and stops at the first false, so skipping
 * the rule when that test fails skips exactly nothing that would run. */
static char required_kind(const struct rules_set *set, uint32_t ni, uint8_t field_op, uint16_t aux,
                          uint32_t depth)
{
    const struct rl_node *n = &set->nodes[ni];
    if (n->op == OP_AND && depth < RL_DEPTH_MAX)
        return required_kind(set, n->a, field_op, aux, depth + 1);
    if (n->op != OP_EQ)
        return 0;
    const struct rl_node *x = &set->nodes[n->a], *y = &set->nodes[n->b];
    if (x->op == OP_LIT) {
        const struct rl_node *t = x;
        x = y;
        y = t;
    }
    if (x->op == field_op && x->aux == aux && y->op == OP_LIT && y->n == 1 && y->s)
        return y->s[0];
    return 0;
}

static bool doc_key_only(const struct rules_set *set, const struct rl_node *n)
{
    for (uint32_t k = 0; k < n->nargs; k++) {
        const struct rl_node *a = &set->nodes[set->list[n->args + k]];
        if (!(a->op == OP_LIT || (a->op == OP_DOCF && a->aux != 9))) /* 9: seen_before */
            return false;
    }
    return n->nargs > 0;
}

/* True if evaluating node ni can neither fail nor change anything the
 * decision depends on (the lookup memo only saves time), so skipping it
 * when its value is known changes nothing. has_other: it reads o. */
static bool pure_expr(const struct rules_set *set, uint32_t ni, bool *has_other, uint32_t depth)
{
    const struct rl_node *n = &set->nodes[ni];
    if (depth > RL_DEPTH_MAX)
        return false;
    switch (n->op) {
    case OP_OTHERF:
        *has_other = true;
        return true;
    case OP_LIT: case OP_VAR_DOC: case OP_VAR_LINE: case OP_LOCAL: case OP_PARAM: case OP_FIELD:
    case OP_DOCF: case OP_LINEF: case OP_PACKS: case OP_HAS:
        return true;
    case OP_NOT:
        return pure_expr(set, n->a, has_other, depth + 1);
    case OP_EQ: case OP_NE: case OP_LT: case OP_LE: case OP_GT: case OP_GE: case OP_AND: case OP_OR:
    case OP_MIN: case OP_MAX:
        return pure_expr(set, n->a, has_other, depth + 1) && pure_expr(set, n->b, has_other, depth + 1);
    case OP_COND:
        return pure_expr(set, n->a, has_other, depth + 1) && pure_expr(set, n->b, has_other, depth + 1) &&
               pure_expr(set, n->c, has_other, depth + 1);
    case OP_EXISTS:
        for (uint32_t k = 0; k < n->nargs; k++)
            if (!pure_expr(set, set->list[n->args + k], has_other, depth + 1))
                return false;
        return true;
    default:
        return false;
    }
}

/* Finds, among the conjuncts of a pure any() condition, an `exists` with a
 * key part that does not read o; stores it in the any node (b = exists node
 * + 1, c = key part). */
static bool find_invariant_exists(struct rules_set *set, uint32_t any_node, uint32_t ni, uint32_t depth)
{
    const struct rl_node *n = &set->nodes[ni];
    if (depth > RL_DEPTH_MAX)
        return false;
    if (n->op == OP_AND)
        return find_invariant_exists(set, any_node, n->a, depth + 1) ||
               find_invariant_exists(set, any_node, n->b, depth + 1);
    if (n->op != OP_EXISTS)
        return false;
    for (uint32_t k = 0; k < n->nargs; k++) {
        bool other = false;
        if (pure_expr(set, set->list[n->args + k], &other, 0) && !other) {
            set->nodes[any_node].b = ni + 1;
            set->nodes[any_node].c = k;
            return true;
        }
    }
    return false;
}

void rl_prepare(struct rules_set *set)
{
    set->nprefetch = 0;
    set->nscope_rules[0] = set->nscope_rules[1] = 0;
    for (uint32_t i = 0; i < set->nrules; i++) {
        uint32_t sc = set->rules[i].scope == SC_DOC ? 0 : 1;
        set->scope_rules[sc][set->nscope_rules[sc]++] = (uint16_t)i;
    }
    set->ndoc_defaults = set->nline_defaults = 0;
    for (uint32_t v = 0; v < set->nvars; v++) {
        if (set->vars[v].scope == SC_DOC && set->ndoc_defaults < RL_VARS_MAX)
            set->doc_defaults[set->ndoc_defaults++] = set->vars[v].def;
        else if (set->vars[v].scope == SC_LINE && set->nline_defaults < RL_VARS_MAX)
            set->line_defaults[set->nline_defaults++] = set->vars[v].def;
    }
    for (uint32_t i = 0; i < set->nnodes; i++) {
        struct rl_node *n = &set->nodes[i];
        if (n->op != OP_ANY)
            continue;
        n->imm = required_kind(set, n->a, OP_OTHERF, 2, 0);
        n->b = 0;
        bool other = false;
        if (pure_expr(set, n->a, &other, 0))
            (void)find_invariant_exists(set, i, n->a, 0);
    }
    for (uint32_t i = 0; i < set->nrules; i++) {
        struct rl_rule *r = &set->rules[i];
        r->kind_filter = 0;
        if (r->when != UINT32_MAX)
            r->kind_filter = r->scope == SC_DOC ? required_kind(set, r->when, OP_DOCF, 4, 0)
                                                : required_kind(set, r->when, OP_LINEF, 2, 0);
        if (r->scope != SC_DOC)
            continue;
        for (uint32_t k = 0; k < r->nbody && set->nprefetch < RL_PREFETCH_MAX; k++) {
            uint32_t ni = set->list[r->body + k];
            const struct rl_node *n = &set->nodes[ni];
            if (n->op == ST_LOOKUP && n->c == UINT32_MAX && doc_key_only(set, n)) {
                set->prefetch[set->nprefetch].node = ni;
                set->prefetch[set->nprefetch].table = n->b;
                set->nprefetch++;
            }
        }
    }
}

/* Tables with fewer rows than this are not prefetched by rules_prefetch_doc:
 * their slots and rows stay cached between documents (a province's centers
 * and physicians), and computing a key's hash twice per document costs
 * more than the miss it would hide (~150 instructions a line for the SSO
 * set when every document-level lookup was prefetched). */
#define RL_PREFETCH_ROWS_MIN 65536u

void rules_prefetch_doc(const struct rules_set *set, const struct doc *doc, int stage)
{
    int32_t dos = doc_dos_days(doc);
    for (uint32_t p = 0; p < set->nprefetch; p++) {
        const struct rl_node *n = &set->nodes[set->prefetch[p].node];
        const struct rl_table *t = &set->tables[set->prefetch[p].table];
        if (t->nrows < RL_PREFETCH_ROWS_MIN)
            continue;
        struct rv keys[RL_KEYS_MAX];
        for (uint32_t k = 0; k < n->nargs && k < RL_KEYS_MAX; k++) {
            const struct rl_node *a = &set->nodes[set->list[n->args + k]];
            if (a->op == OP_LIT) {
                struct rv v = {a->imm, a->s, a->n};
                keys[k] = v;
            } else {
                keys[k] = rl_doc_field(set, doc, dos, false, a->aux);
            }
        }
        uint64_t h = rl_table_key_hash(t, keys);
        if (stage == 0)
            rl_table_prefetch(t, h);
        else
            rl_table_prefetch_row(t, h);
    }
}
