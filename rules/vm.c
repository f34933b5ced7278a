/*
 * The compiled evaluator. At load, after the set is checked and prepared,
 * every rule is compiled from its resolved node tree into a flat array of
 * register instructions; rules_eval_doc then runs those instead of walking
 * the tree, which spent most of its time in per-node dispatch (~150 nodes
 * and ~45 statements per line, notes/perf.md).
 *
 * What the compiler resolves once, at load, instead of once per node:
 *  - every leaf is a register: literals and parameters without a history
 *    are constants in an image copied in at document start; variables,
 *    locals, built-in fields and pack counts have fixed registers; the
 *    columns of a looked-up row that the rule reads are loaded right after
 *    the lookup (a table is immutable and a row local is bound once), so a
 *    column read costs nothing where it is used;
 *  - conditions become compare-and-branch instructions with short-circuit
 *    jumps (`and`, `or`, `not` cost no instruction of their own);
 *  - an expression writes its result straight into the variable or local it
 *    is assigned to (an operation writes its destination only as its last
 *    step, so `set x = f(x)` reads the old x);
 *  - enum equality compares the precomputed hashes when the enum's values
 *    hash apart (checked at compile time);
 *  - each rule's kind filter (rl_prepare) picks, per value of line.kind and
 *    doc.kind, the list of rules to run and the built-in fields to load;
 *    each list is also laid out as one fused program (fuse_list: the rules
 *    back to back, rule ends jumping to the next rule, the kind tests the
 *    list decides folded away), which the untraced evaluation runs with
 *    one call per document and per line, after a peephole (fuse_plan: a
 *    comparison guarding a reason becomes one branch-free operation, a
 *    value computed again in a straight run is not);
 *  - the untraced code has specialised operations the traced copy does not
 *    (V_FIND/V_FINDX lookups without key arrays, V_LDFN column spans,
 *    V_RND/V_DIVH/V_DIVC with their 64-bit fast paths inline); parameters
 *    with a history are resolved per document from an epoch table.
 *
 * Semantics are the tree walker's (eval.c) exactly: same order of
 * evaluation, same side effects (doc seen, packs consumed), same first
 * error. The differential tests (tests/unit/test_rules_vm.c, the rules fuzz
 * target) compare the two on every output, untraced and traced, and on
 * explain's trace, which the VM writes from a second, traced copy of the
 * code (the general operations plus V_TRULE, V_TVAL and V_TEXIT). All
 * jumps go forward, so a program always ends; the only loop, any(), is
 * bounded by the document's lines.
 * rl_vm_dump prints the code (tuning, and a reader's first look).
 *
 * A frame is one stack struct (registers included): a shared immutable set
 * serves any number of threads and a document allocates nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "core/base/assert.h"
#include "core/base/text.h"
#include "rules/rules_impl.h"

/* Bounds of the compiled form. Registers size every frame on the stack
 * (VM_REGS_MAX * 20 bytes), so they are few; a set needing more is not
 * compiled and runs on the tree walker (set->vm == NULL). */
#define VM_REGS_MAX 1024u
#define VM_CONSTS_MAX 256u   /* distinct literals; registers [0, 256) */
#define VM_CODE_MAX (1u << 20)
#define VM_LABELS_MAX 4096u  /* per rule */
#define VM_DOCF 12u          /* built-in doc fields (lang.c doc_fields) */
#define VM_LINEF 13u         /* built-in line fields (lang.c line_fields) */
#define VM_NONE 0xFFFFu
/* Parameter epochs (spans of days in which no parameter with a history
 * changes): a set with more resolves each parameter per document instead. */
#define VM_EPOCHS_MAX 1024u
/* The built-in enums read from one document byte (doc.kind, doc.stay,
 * line.kind, line.tariff_class): EN_DKIND .. EN_TCLASS. */
#define VM_BYTE_ENUMS 4u
/* V_LDFN copies columns four at a time (two 16-byte moves each, no loop
 * per column): a span of y columns writes round_up(y, 4) registers and
 * reads as many cells, so a span has three spare registers after it and a
 * table RL_CELLS_PAD spare cells after its last row. */
#define VM_LDFN_PAD 3u
_Static_assert(RL_CELLS_PAD >= VM_LDFN_PAD, "V_LDFN may read past a table's last row");

_Static_assert(RL_TABLES_MAX <= 32, "memo_valid is a 32-bit mask");
_Static_assert(VM_REGS_MAX <= VM_NONE, "registers are 16-bit operands");
_Static_assert(RL_KEYS_MAX == 4, "lookup keys are packed 4 x 16 bits into imm");

enum vm_op {
    V_END,   /* end of a rule (k = 1: of an any() condition): return */
    V_JMP,   /* goto x */
    V_JZ,    /* if !r[a] goto x */
    V_JNZ,
    V_JEQ,   /* if r[a] == r[b] goto x */
    V_JNE,
    V_JLT,
    V_JLE,
    V_JGT,
    V_JGE,
    V_MOV,   /* r[d] = r[a] */
    V_MOVT,  /* the same with the text (s, n) */
    V_MOVI,  /* r[d] = imm */
    V_LDF,   /* r[d] = cell (row r[a], table x, column y) */
    V_LDFT,  /* the same for a text column */
    V_LDOF,  /* r[d] = field k of the line bound by any() */
    V_ADD,
    V_SUB,
    V_MUL,
    V_NEG,
    V_MIN,
    V_MAX,
    V_EQ,
    V_NE,
    V_LT,
    V_LE,
    V_GT,
    V_GE,
    V_EQT,   /* text equality: hash, length and bytes */
    V_NET,
    V_NOT,
    V_COLD,  /* r[d] = rl_cold_op(k, r[a], r[b]) */
    V_HAS,   /* r[d] = line reasons & imm (imm 0: any) */
    V_PACKS, /* check packs, once per line */
    V_LOOKUP, /* r[d] = row of table x for keys imm (4 x 16-bit registers),
                 day r[a] (VM_NONE: date of service); miss: action k & 3
                 (0 exit, 1 reason b, 2 reject b), then the rule ends:
                 return, or in a fused program (y != 0) goto y; k & 4:
                 through the document's memo (tables looked up at several
                 places) */
    V_EXISTS, /* r[d] = a row of table x exists for keys imm on the dos; y: memo */
    V_REASON, /* line reasons |= bit imm */
    V_REJECT, /* doc reasons |= bit imm */
    V_ANY,    /* r[d] = any line j (kind letter imm & 0xff if not 0) for which
                 the code at x leaves r[b] true; filter: if a != VM_NONE and
                 table (imm >> 8 & 0xff) part (imm >> 16) cannot hold r[a], 0 */
    /* Specialised forms, in the untraced copy only (the traced copy keeps
     * the general ones above, whose trace prints every lookup key). */
    V_FIND,   /* V_LOOKUP of a table of one or two keys (vm_find: no key
                 arrays, no call for the memo) */
    V_FINDX,  /* V_EXISTS the same way */
    V_LDFN,   /* after a lookup: columns k .. k + y - 1 of row r[a] (table
                 x) into registers d .. d + y - 1; the text ones among
                 them that the rule reads (bit i of imm: column k + i) as
                 text (hash, bytes, length) */
    V_RND,    /* r[d] = rnd(r[a], r[b]); 64-bit fast path, else rl_cold_op */
    V_DIVH,   /* r[d] = div_half_up(r[a], r[b]), the same */
    V_DIVC,   /* r[d] = div_ceil(r[a], r[b]), the same */
    V_JHAS,   /* goto x if the line has a reason of mask imm (0: any) */
    V_JNHAS,  /* goto x if it has none */
    V_RDATE,  /* a fused program's rule with a date range: unless
                 imm >> 32 <= dos <= (int32_t)imm, goto x (the next rule) */
    V_RLT,    /* line reasons |= bit imm if r[a] < r[b] (fusion of a
                 compare-and-jump over a V_REASON, without a branch) */
    V_RLE,    /* the same if r[a] <= r[b] */
    V_REQ,    /* the same if r[a] == r[b] */
    V_RNE,    /* the same if r[a] != r[b] */
    /* explain's trace (only in the traced copy of the code) */
    V_TRULE,  /* rule x fired */
    V_TVAL,   /* statement x (let or set) stored r[a] */
    V_TEXIT,  /* exit statement x */
    V_OP_COUNT
};

/* 32 bytes. h is the address of the operation's code in vm_run (direct
 * threading: the dispatch jumps through it, set by vm_link once the code
 * is complete); the node each instruction was compiled from (errors and
 * the trace) is kept beside the code, in rl_vm.node. */
struct vm_ins {
    const void *h;
    int64_t imm;
    uint16_t d, a, b;
    uint8_t op;
    uint8_t k;
    int32_t x, y;
};
_Static_assert(sizeof(struct vm_ins) == 32, "an instruction is half a cache line");

/* The rules to run for one value of doc.kind / line.kind and the built-in
 * fields they read. */
struct vm_list {
    uint32_t count;
    uint16_t rules[RL_RULES_MAX];
    uint32_t field_mask; /* bit f: built-in field f is read */
};

struct rl_vm {
    struct vm_ins *code;
    uint32_t *node; /* per instruction: the node it was compiled from */
    uint32_t ncode;
    uint32_t entry[RL_RULES_MAX]; /* first instruction of each rule */
    /* The same rules compiled again with the trace instructions, for
     * explain: same operations, same registers' meaning, plus V_T*. */
    uint32_t tentry[RL_RULES_MAX];
    /* Registers: [0, nconst) constants, then doc vars, line vars, params
     * (the image copied at document start, up to image_end), then doc
     * fields, line fields, pack counts, per-rule locals and columns, temps. */
    uint32_t nconst;
    uint16_t docv_base, linev_base, param_base, image_end;
    uint16_t docf_base, linef_base, packs_base;
    uint32_t nregs;
    int64_t img_i[VM_REGS_MAX];
    const char *img_s[VM_REGS_MAX];
    uint32_t img_n[VM_REGS_MAX];
    /* The registers of the image whose text part (s, n) is read: text
     * constants, vars and parameters; the others are copied as integers. */
    uint32_t ntext_doc, ntext_line;
    uint16_t text_doc[VM_REGS_MAX];
    uint16_t text_line[RL_VARS_MAX];
    /* Per table: key count, and bit k set if key part k is text. */
    uint8_t nkeys[RL_TABLES_MAX];
    uint8_t key_text[RL_TABLES_MAX];
    /* Per table: bit c set if column c is text (V_LDFN). */
    uint32_t text_cols[RL_TABLES_MAX];
    /* Parameters with a history, resolved on each document's date: the
     * epoch holding the date (binary search over epoch_from, sorted, first
     * INT32_MIN), then the ndyn values of that epoch, epoch_val[e * ndyn +
     * j] = rl_param_on(dyn[j], epoch_from[e]); nepochs == 0: per parameter. */
    uint32_t ndyn;
    uint16_t dyn[RL_PARAMS_MAX];
    uint32_t nepochs;
    int32_t *epoch_from;
    struct rv *epoch_val;
    /* Per built-in byte enum: the value index of each byte (rl_enum_index,
     * an unknown byte gives the last value) and each value as a register. */
    uint8_t byte_enum[VM_BYTE_ENUMS][256];
    struct rv enum_rv[VM_BYTE_ENUMS][RL_ENUM_VALUES_MAX];
    uint32_t docf_mask; /* doc fields read by any rule */
    struct vm_list doc_lists[RL_ENUM_VALUES_MAX];
    struct vm_list line_lists[RL_ENUM_VALUES_MAX];
    /* Per value of doc.kind / line.kind, the first instruction of the
     * fused program: the untraced code of that list's rules one after
     * the other (fuse_list), run by one vm_run. fused false: run_list. */
    bool fused;
    uint32_t doc_prog[RL_ENUM_VALUES_MAX];
    uint32_t line_prog[RL_ENUM_VALUES_MAX];
    /* Per value of line.kind, the one-key text table its program looks up
     * by line.code first (drugs for D, ...), for rules_prefetch_lines;
     * RL_TABLES_MAX: none. */
    uint8_t line_code_table[RL_ENUM_VALUES_MAX];
};

/* ------------------------------------------------------------------ run */

struct vm_frame {
    const struct rules_set *set;
    const struct rl_vm *vm;
    const struct doc *doc;
    const struct doc_line *lines;
    const uint64_t *uids;
    const struct seen_ops *seen;
    int32_t dos;
    uint32_t li;
    uint32_t other;
    uint64_t line_reasons;
    uint64_t doc_reasons;
    bool packs_done;
    uint32_t memo_valid;
    FILE *tr;                   /* explain's trace, or NULL */
    const struct rl_rule *rule; /* the rule running (trace) */
    uint32_t err_node;          /* node of the first error (trace) */
    const void *const *ops;     /* vm_link's question to vm_run */
    struct rl_memo memo[RL_TABLES_MAX];
    int64_t r[VM_REGS_MAX];
    const char *s[VM_REGS_MAX];
    uint32_t n[VM_REGS_MAX];
};

static void put(struct vm_frame *f, uint32_t reg, struct rv v)
{
    f->r[reg] = v.i;
    f->s[reg] = v.s;
    f->n[reg] = v.n;
}

static struct rv get(const struct vm_frame *f, uint32_t reg)
{
    struct rv v = {f->r[reg], f->s[reg], f->n[reg]};
    return v;
}

static int32_t clamp_day(int64_t d)
{
    return d > INT32_MAX ? INT32_MAX : d < INT32_MIN ? INT32_MIN : (int32_t)d;
}

/* The key values of a lookup: text parts only for text columns (an integer
 * register's text part is never written, and an integer key carries none). */
static inline __attribute__((always_inline)) void keys_of(const struct vm_frame *f, uint32_t table,
                                                        int64_t packed, struct rv *keys)
{
    const struct rl_vm *vm = f->vm;
    for (uint32_t k = 0; k < vm->nkeys[table]; k++) {
        uint32_t reg = (uint32_t)((uint64_t)packed >> (16 * k)) & 0xFFFFu;
        if (vm->key_text[table] & (1u << k)) {
            keys[k] = get(f, reg);
        } else {
            struct rv v = {f->r[reg], NULL, 0};
            keys[k] = v;
        }
    }
}

static bool text_eq(const struct vm_frame *f, uint32_t a, uint32_t b)
{
    return f->r[a] == f->r[b] && f->n[a] == f->n[b] &&
           (f->n[a] == 0 || rl_bytes_equal(f->s[a], f->s[b], f->n[a]));
}

/* A lookup of a table of nk (1 or 2, a constant at each use) keys from the
 * registers packed in `packed` (16 bits each): the answer of rl_find_row
 * (through the document's memo when `memo`: the table is looked up at
 * several places) without building rv key arrays; the probe is table.c's
 * rl_table_find1 / rl_table_find2, out of line so that vm_run keeps its
 * registers. test_rules_vm holds the two evaluators' answers together. */
static inline __attribute__((always_inline)) uint32_t vm_findk(struct vm_frame *f, uint32_t ti,
                                                             bool memo, uint32_t nk, int64_t packed,
                                                             int32_t day)
{
    const struct rl_table *t = &f->set->tables[ti];
    const uint32_t tm = f->vm->key_text[ti];
    int64_t ki[2];
    const char *ks[2];
    uint32_t kn[2];
    for (uint32_t k = 0; k < nk; k++) {
        uint32_t reg = (uint32_t)((uint64_t)packed >> (16 * k)) & 0xFFFFu;
        bool text = tm & (1u << k);
        ki[k] = f->r[reg];
        ks[k] = text ? f->s[reg] : NULL;
        kn[k] = text ? f->n[reg] : 0;
    }
    struct rl_memo *m = &f->memo[ti];
    if (memo && (f->memo_valid & (1u << ti)) && (m->day == day || t->valid_from < 0)) {
        bool same = true;
        for (uint32_t k = 0; k < nk && same; k++)
            same = rl_key_same(m->key[k], (struct rv){ki[k], ks[k], kn[k]});
        if (same)
            return m->row;
    }
    uint32_t row = nk == 1 ? rl_table_find1(t, tm & 1u, ki[0], ks[0], kn[0], day)
                           : rl_table_find2(t, tm, ki, ks, kn, day);
    if (memo) {
        for (uint32_t k = 0; k < nk; k++)
            m->key[k] = (struct rv){ki[k], ks[k], kn[k]};
        m->day = day;
        m->row = row;
        f->memo_valid |= 1u << ti;
    }
    return row;
}

/* V_FIND / V_FINDX: the table's key count picks the specialised probe. */
static inline __attribute__((always_inline)) uint32_t vm_find(struct vm_frame *f, uint32_t ti,
                                                            bool memo, int64_t packed, int32_t day)
{
    return f->vm->nkeys[ti] == 1 ? vm_findk(f, ti, memo, 1, packed, day)
                                 : vm_findk(f, ti, memo, 2, packed, day);
}

/* A lookup's miss action (k & 3: 0 exit, 1 reason b, 2 reject b), traced
 * when explain asks; the rule then ends (the caller returns or jumps). */
static inline void lookup_missed(struct vm_frame *f, const struct vm_ins *in)
{
    if ((in->k & 3) == 1)
        f->line_reasons |= 1ull << in->b;
    else if ((in->k & 3) == 2)
        f->doc_reasons |= 1ull << in->b;
    if (f->tr && (in->k & 3) != 0)
        rl_trace_reason(f->tr, f->set, f->rule, &f->set->nodes[f->vm->node[in - f->vm->code]],
                        (in->k & 3) == 2);
}

static enum adj_err vm_run(struct vm_frame *f, uint32_t pc);

__attribute__((noinline)) static enum adj_err vm_any(struct vm_frame *f, const struct vm_ins *in)
{
    const struct rules_set *set = f->set;
    if (in->a != VM_NONE) {
        const struct rl_table *t = &set->tables[((uint64_t)in->imm >> 8) & 0xFFu];
        struct rv v = {f->r[in->a], NULL, 0}; /* the filter hashes .i only */
        if (!rl_table_part_maybe(t, (uint32_t)((uint64_t)in->imm >> 16) & 0xFFu, v)) {
            f->r[in->d] = 0;
            return ADJ_OK;
        }
    }
    char want = (char)(in->imm & 0xFF);
    uint32_t saved = f->other;
    bool any = false;
    for (uint32_t j = 0; j < f->doc->line_count && !any; j++) {
        if (want) {
            struct rv k = rl_enum_val(set, EN_LKIND, (char)f->lines[j].kind);
            if (!(k.n == 1 && k.s[0] == want))
                continue;
        }
        f->other = j;
        enum adj_err e = vm_run(f, (uint32_t)in->x);
        if (e != ADJ_OK)
            return e;
        any = f->r[in->b] != 0;
    }
    f->other = saved;
    f->r[in->d] = any;
    return ADJ_OK;
}

/* Runs from pc to V_END (or a lookup miss). Every jump goes forward.
 * Direct-threaded dispatch (GCC/clang labels as values): each instruction
 * holds its operation's address (vm_link), and each operation ends with its
 * own indirect jump through the next instruction, which the branch
 * predictor learns per operation; a switch in a loop funnels every
 * operation through one jump and one table load. */
static enum adj_err vm_run(struct vm_frame *f, uint32_t pc)
{
    static const void *const ops[] = {
        [V_END] = &&L_END,     [V_JMP] = &&L_JMP,       [V_JZ] = &&L_JZ,
        [V_JNZ] = &&L_JNZ,     [V_JEQ] = &&L_JEQ,       [V_JNE] = &&L_JNE,
        [V_JLT] = &&L_JLT,     [V_JLE] = &&L_JLE,       [V_JGT] = &&L_JGT,
        [V_JGE] = &&L_JGE,     [V_MOV] = &&L_MOV,       [V_MOVT] = &&L_MOVT,
        [V_MOVI] = &&L_MOVI,   [V_LDF] = &&L_LDF,       [V_LDFT] = &&L_LDFT,
        [V_LDOF] = &&L_LDOF,   [V_ADD] = &&L_ADD,       [V_SUB] = &&L_SUB,
        [V_MUL] = &&L_MUL,     [V_NEG] = &&L_NEG,       [V_MIN] = &&L_MIN,
        [V_MAX] = &&L_MAX,
        [V_EQ] = &&L_EQ,       [V_NE] = &&L_NE,         [V_LT] = &&L_LT,
        [V_LE] = &&L_LE,       [V_GT] = &&L_GT,         [V_GE] = &&L_GE,
        [V_EQT] = &&L_EQT,     [V_NET] = &&L_NET,       [V_NOT] = &&L_NOT,
        [V_COLD] = &&L_COLD,   [V_HAS] = &&L_HAS,       [V_PACKS] = &&L_PACKS,
        [V_LOOKUP] = &&L_LOOKUP, [V_EXISTS] = &&L_EXISTS, [V_REASON] = &&L_REASON,
        [V_REJECT] = &&L_REJECT, [V_ANY] = &&L_ANY,     [V_TRULE] = &&L_TRULE,
        [V_TVAL] = &&L_TVAL,   [V_TEXIT] = &&L_TEXIT,   [V_FIND] = &&L_FIND,
        [V_FINDX] = &&L_FINDX,
        [V_LDFN] = &&L_LDFN,   [V_RND] = &&L_RND,       [V_DIVH] = &&L_DIVH,
        [V_DIVC] = &&L_DIVC,   [V_RDATE] = &&L_RDATE,
        [V_JHAS] = &&L_JHAS,   [V_JNHAS] = &&L_JNHAS,
        [V_RLT] = &&L_RLT,     [V_RLE] = &&L_RLE,       [V_REQ] = &&L_REQ,
        [V_RNE] = &&L_RNE,
    };
    _Static_assert(sizeof ops / sizeof ops[0] == V_OP_COUNT, "every operation has a label");
    if (__builtin_expect(f->vm == NULL, 0)) { /* vm_link asks for the addresses */
        f->ops = ops;
        return ADJ_OK;
    }
    const struct rules_set *set = f->set;
    const struct vm_ins *code = f->vm->code;
    int64_t *r = f->r;
    const struct vm_ins *in = &code[pc]; /* the instruction running */
    int64_t x;
    uint32_t row;
    enum adj_err e;
#define NEXT()                                                                                   \
    do {                                                                                         \
        in++;                                                                                    \
        goto *in->h;                                                                             \
    } while (0)
#define FAIL(err)                                                                                \
    do {                                                                                         \
        if (f->err_node == UINT32_MAX)                                                           \
            f->err_node = f->vm->node[in - code];                                                \
        return (err);                                                                            \
    } while (0)
#define JUMP_IF(c)                                                                               \
    do {                                                                                         \
        in = (c) ? code + in->x : in + 1;                                                        \
        goto *in->h;                                                                             \
    } while (0)
    goto *in->h;
L_END:
    return ADJ_OK;
L_JMP:
    JUMP_IF(true);
L_JZ:
    JUMP_IF(!r[in->a]);
L_JNZ:
    JUMP_IF(r[in->a]);
L_JEQ:
    JUMP_IF(r[in->a] == r[in->b]);
L_JNE:
    JUMP_IF(r[in->a] != r[in->b]);
L_JLT:
    JUMP_IF(r[in->a] < r[in->b]);
L_JLE:
    JUMP_IF(r[in->a] <= r[in->b]);
L_JGT:
    JUMP_IF(r[in->a] > r[in->b]);
L_JGE:
    JUMP_IF(r[in->a] >= r[in->b]);
L_MOV:
    r[in->d] = r[in->a];
    NEXT();
L_MOVT:
    put(f, in->d, get(f, in->a));
    NEXT();
L_MOVI:
    r[in->d] = in->imm;
    NEXT();
L_LDF: {
    const struct rl_table *t = &set->tables[in->x];
    r[in->d] = t->cells[(size_t)r[in->a] * t->ncols + (uint32_t)in->y];
    NEXT();
}
L_LDFT:
    put(f, in->d, rl_table_cell(&set->tables[in->x], (uint32_t)r[in->a], (uint32_t)in->y));
    NEXT();
L_LDOF:
    put(f, in->d, rl_line_field(set, f->lines, f->other, in->k));
    NEXT();
L_ADD: {
    int64_t v; /* a register of its own, not the shared x's stack slot */
    if (__builtin_add_overflow(r[in->a], r[in->b], &v))
        FAIL(ADJ_E_RULE_OVERFLOW);
    r[in->d] = v;
    NEXT();
}
L_SUB: {
    int64_t v; /* a register of its own, not the shared x's stack slot */
    if (__builtin_sub_overflow(r[in->a], r[in->b], &v))
        FAIL(ADJ_E_RULE_OVERFLOW);
    r[in->d] = v;
    NEXT();
}
L_MUL: {
    int64_t v; /* a register of its own, not the shared x's stack slot */
    if (__builtin_mul_overflow(r[in->a], r[in->b], &v))
        FAIL(ADJ_E_RULE_OVERFLOW);
    r[in->d] = v;
    NEXT();
}
L_NEG: {
    int64_t v; /* a register of its own, not the shared x's stack slot */
    if (__builtin_sub_overflow((int64_t)0, r[in->a], &v))
        FAIL(ADJ_E_RULE_OVERFLOW);
    r[in->d] = v;
    NEXT();
}
L_MIN:
    r[in->d] = r[in->a] <= r[in->b] ? r[in->a] : r[in->b];
    NEXT();
L_MAX:
    r[in->d] = r[in->a] >= r[in->b] ? r[in->a] : r[in->b];
    NEXT();
L_EQ:
    r[in->d] = r[in->a] == r[in->b];
    NEXT();
L_NE:
    r[in->d] = r[in->a] != r[in->b];
    NEXT();
L_LT:
    r[in->d] = r[in->a] < r[in->b];
    NEXT();
L_LE:
    r[in->d] = r[in->a] <= r[in->b];
    NEXT();
L_GT:
    r[in->d] = r[in->a] > r[in->b];
    NEXT();
L_GE:
    r[in->d] = r[in->a] >= r[in->b];
    NEXT();
L_EQT:
    r[in->d] = text_eq(f, in->a, in->b);
    NEXT();
L_NET:
    r[in->d] = !text_eq(f, in->a, in->b);
    NEXT();
L_NOT:
    r[in->d] = !r[in->a];
    NEXT();
L_COLD:
    e = rl_cold_op(in->k, r[in->a], r[in->b], &x);
    if (e != ADJ_OK)
        FAIL(e);
    r[in->d] = x;
    NEXT();
L_HAS:
    r[in->d] = in->imm == 0 ? f->line_reasons != 0 : (f->line_reasons & (uint64_t)in->imm) != 0;
    NEXT();
L_PACKS:
    if (!f->packs_done) {
        f->packs_done = true;
        rl_count_packs(&f->lines[f->li], f->uids, f->seen, &r[f->vm->packs_base]);
        if (f->tr)
            rl_trace_packs(f->tr, &r[f->vm->packs_base]);
    }
    NEXT();
L_LOOKUP: {
    struct rv keys[RL_KEYS_MAX];
    keys_of(f, (uint32_t)in->x, in->imm, keys);
    int32_t day = in->a == VM_NONE ? f->dos : clamp_day(r[in->a]);
    row = in->k & 4 ? rl_find_row(set, f->memo, &f->memo_valid, (uint32_t)in->x, keys, day)
                    : rl_table_find(&set->tables[in->x], keys, day);
    if (f->tr)
        rl_trace_lookup(f->tr, set, (uint32_t)in->x, keys, set->tables[in->x].nkeys, day, row);
    goto lookup_done;
}
L_EXISTS: {
    struct rv keys[RL_KEYS_MAX];
    keys_of(f, (uint32_t)in->x, in->imm, keys);
    r[in->d] = (in->y ? rl_find_row(set, f->memo, &f->memo_valid, (uint32_t)in->x, keys, f->dos)
                      : rl_table_find(&set->tables[in->x], keys, f->dos)) != UINT32_MAX;
    NEXT();
}
L_REASON:
    f->line_reasons |= 1ull << in->imm;
    if (f->tr)
        rl_trace_reason(f->tr, set, f->rule, &set->nodes[f->vm->node[in - code]], false);
    NEXT();
L_REJECT:
    f->doc_reasons |= 1ull << in->imm;
    if (f->tr)
        rl_trace_reason(f->tr, set, f->rule, &set->nodes[f->vm->node[in - code]], true);
    NEXT();
L_ANY:
    e = vm_any(f, in);
    if (e != ADJ_OK)
        return e; /* the node was recorded where it failed */
    NEXT();
L_FINDX:
    r[in->d] = vm_find(f, (uint32_t)in->x, in->y != 0, in->imm, f->dos) != UINT32_MAX;
    NEXT();
L_FIND: {
    int32_t day = in->a == VM_NONE ? f->dos : clamp_day(r[in->a]);
    row = vm_find(f, (uint32_t)in->x, (in->k & 4) != 0, in->imm, day);
}
lookup_done: /* V_LOOKUP and V_FIND: the row, or the miss action */
    if (row == UINT32_MAX) {
        lookup_missed(f, in);
        if (in->y == 0)
            return ADJ_OK;
        in = code + in->y;
        goto *in->h;
    }
    r[in->d] = row;
    NEXT();
L_LDFN: {
    const struct rl_table *t = &set->tables[in->x];
    const int64_t *cells = t->cells + (size_t)r[in->a] * t->ncols + in->k;
    int64_t *to = &r[in->d];
    int32_t done = 0;
    do { /* y >= 1; up to VM_LDFN_PAD spare registers and cells */
        memcpy(to + done, cells + done, 4 * sizeof *to);
        done += 4;
    } while (done < in->y);
    for (uint32_t m = (uint32_t)in->imm; m != 0; m &= m - 1) {
        uint32_t i = (uint32_t)__builtin_ctz(m), reg = in->d + i;
        const char *ent = t->pool + cells[i];
        uint64_t h;
        uint32_t len;
        memcpy(&h, ent, sizeof h);
        memcpy(&len, ent + 8, sizeof len);
        r[reg] = (int64_t)h;
        f->s[reg] = ent + RL_TEXT_HDR;
        f->n[reg] = len;
    }
    NEXT();
}
L_RND:
    /* rnd(x, bp) = (x * bp + 5000) / 10000 for x, bp >= 0 when the product
     * fits (money_mul_bp_round_half_up's own fast path); anything else,
     * errors included, through rl_cold_op. */
    if ((r[in->a] | r[in->b]) >= 0 && !__builtin_mul_overflow(r[in->a], r[in->b], &x) &&
        x <= INT64_MAX - 5000) {
        r[in->d] = (x + 5000) / 10000;
        NEXT();
    }
    goto L_COLD;
L_DIVH:
    /* div_half_up(x, d) = (x + d / 2) / d for x >= 0, d > 0 without
     * overflow (money_div_round_half_up's own fast path). */
    if (r[in->a] >= 0 && r[in->b] > 0 && r[in->a] <= INT64_MAX - r[in->b] / 2) {
        r[in->d] = (r[in->a] + r[in->b] / 2) / r[in->b];
        NEXT();
    }
    goto L_COLD;
L_DIVC:
    /* div_ceil(x, d) for x >= 0, d > 0 (money_div_ceil). */
    if (r[in->a] >= 0 && r[in->b] > 0) {
        r[in->d] = r[in->a] / r[in->b] + (r[in->a] % r[in->b] != 0);
        NEXT();
    }
    goto L_COLD;
L_JHAS:
    JUMP_IF(in->imm == 0 ? f->line_reasons != 0 : (f->line_reasons & (uint64_t)in->imm) != 0);
L_JNHAS:
    JUMP_IF(in->imm == 0 ? f->line_reasons == 0 : (f->line_reasons & (uint64_t)in->imm) == 0);
L_RDATE:
    JUMP_IF(f->dos < (int32_t)(in->imm >> 32) || f->dos > (int32_t)in->imm);
L_RLT:
    f->line_reasons |= (uint64_t)(r[in->a] < r[in->b]) << in->imm;
    NEXT();
L_RLE:
    f->line_reasons |= (uint64_t)(r[in->a] <= r[in->b]) << in->imm;
    NEXT();
L_REQ:
    f->line_reasons |= (uint64_t)(r[in->a] == r[in->b]) << in->imm;
    NEXT();
L_RNE:
    f->line_reasons |= (uint64_t)(r[in->a] != r[in->b]) << in->imm;
    NEXT();
L_TRULE:
    rl_trace_rule(f->tr, set, &set->rules[in->x]);
    NEXT();
L_TVAL: {
    const struct rl_node *n = &set->nodes[in->x];
    if (n->op == ST_LET)
        rl_trace_value(f->tr, set, "let", f->rule->local_names[n->a], set->nodes[n->b].type,
                       get(f, in->a));
    else
        rl_trace_value(f->tr, set, "set", set->vars[n->c].name, set->vars[n->c].type, get(f, in->a));
    NEXT();
}
L_TEXIT:
    rl_trace_exit(f->tr, set, &set->nodes[in->x]);
    NEXT();
#undef NEXT
#undef FAIL
#undef JUMP_IF
}

/* A text register from a document's bytes (its hash computed here). */
static void put_text(struct vm_frame *f, uint32_t reg, const char *s, uint32_t n)
{
    f->r[reg] = (int64_t)text_hash64(s, n);
    f->s[reg] = s;
    f->n[reg] = n;
}

static void put_enum(struct vm_frame *f, uint32_t reg, uint32_t en, uint32_t k)
{
    put(f, reg, f->vm->enum_rv[en][k]);
}

/* The value index of a built-in enum read from a document byte. */
static uint32_t byte_enum(const struct rl_vm *vm, uint32_t en, uint8_t c)
{
    return vm->byte_enum[en][c];
}

/* The built-in fields of the current line that its rules read (bit f of
 * mask: lang.c's line_fields[f]). The values rl_line_field gives, written
 * out here because this runs for every line; the differential tests hold
 * the two together. kind: the enum index of line.kind. */
static void load_line(struct vm_frame *f, uint32_t mask, uint32_t kind)
{
    const struct doc_line *l = &f->lines[f->li];
    const uint32_t b = f->vm->linef_base;
    int64_t *r = f->r;
    if (mask & (1u << 0))
        r[b + 0] = f->li;
    if (mask & (1u << 1))
        r[b + 1] = l->line_no;
    if (mask & (1u << 2))
        put_enum(f, b + 2, EN_LKIND, kind);
    if (mask & (1u << 3))
        put_text(f, b + 3, l->code, l->code_len);
    if (mask & (1u << 4))
        r[b + 4] = l->qty;
    if (mask & (1u << 5))
        r[b + 5] = l->unit_price_rials;
    if (mask & (1u << 6))
        r[b + 6] = l->claimed_total_rials;
    if (mask & (1u << 7))
        r[b + 7] = l->claimed_insurer_rials;
    if (mask & (1u << 8))
        r[b + 8] = l->claimed_daroyar_rials;
    if (mask & (1u << 9))
        put_enum(f, b + 9, EN_TCLASS, byte_enum(f->vm, EN_TCLASS, l->tariff_class));
    if (mask & (1u << 10))
        r[b + 10] = l->has_physician ? l->physician_mc : 0;
    if (mask & (1u << 11))
        r[b + 11] = l->has_physician;
    if (mask & (1u << 12))
        r[b + 12] = l->uid_count;
}

/* The built-in fields of the document that its rules read (bit f of mask:
 * lang.c's doc_fields[f]): rl_doc_field's values, written out as
 * load_line's are (the differential tests hold the two together). */
static void load_doc(struct vm_frame *f, uint32_t mask, bool seen_before)
{
    const struct doc *d = f->doc;
    const uint32_t b = f->vm->docf_base;
    int64_t *r = f->r;
    if (mask & (1u << 0))
        put_text(f, b + 0, d->doc_id, d->doc_id_len);
    if (mask & (1u << 1))
        put_text(f, b + 1, d->center, d->center_len);
    if (mask & (1u << 2))
        r[b + 2] = (int64_t)d->patient_nid;
    if (mask & (1u << 3))
        r[b + 3] = d->prescriber_mc;
    if (mask & (1u << 4))
        put_enum(f, b + 4, EN_DKIND, byte_enum(f->vm, EN_DKIND, d->kind));
    if (mask & (1u << 5))
        put_enum(f, b + 5, EN_STAY, byte_enum(f->vm, EN_STAY, d->stay));
    if (mask & (1u << 6))
        r[b + 6] = d->date1_days;
    if (mask & (1u << 7))
        r[b + 7] = d->date2_days;
    if (mask & (1u << 8))
        r[b + 8] = f->dos;
    if (mask & (1u << 9))
        r[b + 9] = seen_before;
    if (mask & (1u << 10))
        put_text(f, b + 10, d->diagnosis, d->diagnosis_len);
    if (mask & (1u << 11))
        r[b + 11] = d->line_count;
}

static enum adj_err run_list(struct vm_frame *f, const struct vm_list *list)
{
    const struct rules_set *set = f->set;
    for (uint32_t i = 0; i < list->count; i++) {
        const struct rl_rule *r = &set->rules[list->rules[i]];
        if (f->dos < r->from || f->dos > r->to)
            continue;
        f->rule = r;
        enum adj_err e = vm_run(f, f->tr ? f->vm->tentry[list->rules[i]] : f->vm->entry[list->rules[i]]);
        if (e != ADJ_OK)
            return e;
    }
    return ADJ_OK;
}

enum adj_err rl_vm_eval_doc(const struct rules_set *set, const struct doc *doc,
                            const struct doc_line *lines, const uint64_t *uids,
                            const struct seen_ops *seen, struct doc_decision *doc_out,
                            struct line_decision *lines_out, FILE *trace_or_null)
{
    const struct rl_vm *vm = set->vm;
    struct vm_frame f;
    f.set = set;
    f.vm = vm;
    f.doc = doc;
    f.lines = lines;
    f.uids = uids;
    f.seen = seen;
    f.dos = doc_dos_days(doc);
    f.li = 0;
    f.other = 0;
    f.line_reasons = 0;
    f.doc_reasons = 0;
    f.packs_done = false;
    f.memo_valid = 0;
    f.tr = trace_or_null;
    f.rule = NULL;
    f.err_node = UINT32_MAX;
    /* Every adjudicated document is "seen", whatever its decision (K09). */
    bool seen_before = seen ? seen->doc_seen_mark(seen->ctx, doc->doc_id, doc->doc_id_len) : false;
    if (f.tr)
        rl_trace_doc(f.tr, doc, seen_before);
    /* The image: constants [0, nconst) and vars and parameters from docv_base. */
    const uint32_t vb = vm->docv_base, vn = vm->image_end - vm->docv_base;
    memcpy(f.r, vm->img_i, vm->nconst * sizeof f.r[0]);
    memcpy(&f.r[vb], &vm->img_i[vb], vn * sizeof f.r[0]);
    for (uint32_t i = 0; i < vm->ntext_doc; i++) {
        f.s[vm->text_doc[i]] = vm->img_s[vm->text_doc[i]];
        f.n[vm->text_doc[i]] = vm->img_n[vm->text_doc[i]];
    }
    if (vm->nepochs > 0) {
        uint32_t lo = 1, hi = vm->nepochs; /* epoch_from[0] = INT32_MIN <= dos */
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (vm->epoch_from[mid] <= f.dos)
                lo = mid + 1;
            else
                hi = mid;
        }
        const struct rv *val = &vm->epoch_val[(size_t)(lo - 1) * vm->ndyn];
        for (uint32_t i = 0; i < vm->ndyn; i++)
            put(&f, vm->param_base + vm->dyn[i], val[i]);
    } else {
        for (uint32_t i = 0; i < vm->ndyn; i++)
            put(&f, vm->param_base + vm->dyn[i], rl_param_on(&set->params[vm->dyn[i]], f.dos));
    }
    load_doc(&f, vm->docf_mask, seen_before);
    const uint32_t dk = byte_enum(vm, EN_DKIND, doc->kind);
    enum adj_err err = vm->fused && !f.tr ? vm_run(&f, vm->doc_prog[dk]) : run_list(&f, &vm->doc_lists[dk]);
    memset(doc_out, 0, sizeof *doc_out);
    doc_out->reasons = f.doc_reasons;
    bool all_a = true, all_r = true;
    uint32_t nlinev = set->nline_defaults;
    for (uint32_t i = 0; i < doc->line_count && err == ADJ_OK; i++) {
        const struct doc_line *l = &lines[i];
        struct line_decision *o = &lines_out[i];
        memset(o, 0, sizeof *o);
        if (f.doc_reasons) {
            rl_line_rejected(o, l, f.doc_reasons);
        } else {
            f.li = i;
            f.line_reasons = 0;
            f.packs_done = false;
            memset(&f.r[vm->packs_base], 0, 4 * sizeof f.r[0]);
            memcpy(&f.r[vm->linev_base], &vm->img_i[vm->linev_base], nlinev * sizeof f.r[0]);
            for (uint32_t v = 0; v < vm->ntext_line; v++) {
                f.s[vm->text_line[v]] = vm->img_s[vm->text_line[v]];
                f.n[vm->text_line[v]] = vm->img_n[vm->text_line[v]];
            }
            uint32_t kind = byte_enum(vm, EN_LKIND, l->kind);
            const struct vm_list *list = &vm->line_lists[kind];
            load_line(&f, list->field_mask, kind);
            if (f.tr)
                rl_trace_line(f.tr, l);
            err = vm->fused && !f.tr ? vm_run(&f, vm->line_prog[kind]) : run_list(&f, list);
            if (err != ADJ_OK)
                break;
            /* The built-in line vars are the first registers of the line's. */
            const uint32_t b = vm->linev_base;
            err = rl_line_finish(set, f.tr, &f.r[b], get(&f, b + LV_STATUS), f.line_reasons, l, o);
            if (err != ADJ_OK)
                break;
        }
        all_a &= o->status == STATUS_A;
        all_r &= o->status == STATUS_R;
        if (!rl_doc_add_line(doc_out, o, l))
            err = ADJ_E_RULE_OVERFLOW;
    }
    if (err != ADJ_OK) {
        if (f.tr)
            rl_trace_error(f.tr, set, err, f.err_node != UINT32_MAX ? &set->nodes[f.err_node] : NULL);
        return err;
    }
    doc_out->status = all_a ? STATUS_A : all_r ? STATUS_R : STATUS_P;
    if (f.tr)
        rl_trace_doc_result(f.tr, set, doc_out);
    return ADJ_OK;
}

/* -------------------------------------------------------------- compile */

struct vmc {
    struct rules_set *set;
    struct rl_vm *vm;
    bool failed;
    uint32_t code_cap;
    uint32_t rule_first; /* first instruction of the rule being compiled */
    bool trace;          /* compiling the traced copy */
    uint32_t cur_node;   /* recorded in each instruction emitted */
    uint32_t top;        /* next free temporary register */
    uint32_t temp_base;
    uint32_t nlabels;
    int32_t label_pc[VM_LABELS_MAX];
    /* The rule being compiled. */
    uint32_t local_base;
    uint32_t field_reg[RL_LOCALS_MAX][RL_COLS_MAX];
    uint32_t cols_used[RL_LOCALS_MAX][RL_TABLES_MAX]; /* bit c: column c read */
    uint32_t linef_used;
    /* Lookups and exists of each table in the whole set: a table looked up
     * at one place only gains nothing from the document's memo. */
    uint32_t lookup_sites[RL_TABLES_MAX];
};

static bool is_text(struct rtype t) { return t.kind == RT_CODE || t.kind == RT_ENUM; }

static uint32_t emit(struct vmc *k, uint8_t op, uint32_t d, uint32_t a, uint32_t b, int32_t x,
                     int64_t imm)
{
    struct rl_vm *vm = k->vm;
    if (k->failed || vm->ncode >= VM_CODE_MAX || d > VM_NONE || a > VM_NONE || b > VM_NONE) {
        k->failed = true;
        return 0;
    }
    if (vm->ncode == k->code_cap) {
        uint32_t cap = k->code_cap ? k->code_cap * 2 : 1024;
        struct vm_ins *code = realloc(vm->code, cap * sizeof *code);
        if (code)
            vm->code = code;
        uint32_t *node = realloc(vm->node, cap * sizeof *node);
        if (node)
            vm->node = node;
        if (!code || !node) {
            k->failed = true;
            return 0;
        }
        k->code_cap = cap;
    }
    struct vm_ins *in = &vm->code[vm->ncode];
    memset(in, 0, sizeof *in);
    in->op = op;
    in->d = (uint16_t)d;
    in->a = (uint16_t)a;
    in->b = (uint16_t)b;
    in->x = x;
    in->imm = imm;
    vm->node[vm->ncode] = k->cur_node;
    return vm->ncode++;
}

static uint32_t new_label(struct vmc *k)
{
    if (k->nlabels >= VM_LABELS_MAX) {
        k->failed = true;
        return 0;
    }
    k->label_pc[k->nlabels] = -1;
    return k->nlabels++;
}

static void bind(struct vmc *k, uint32_t label)
{
    if (!k->failed)
        k->label_pc[label] = (int32_t)k->vm->ncode;
}

static uint32_t temp(struct vmc *k)
{
    if (k->top >= VM_REGS_MAX) {
        k->failed = true;
        return 0;
    }
    if (k->top + 1 > k->vm->nregs)
        k->vm->nregs = k->top + 1;
    return k->top++;
}

static uint32_t const_reg(struct vmc *k, int64_t imm, const char *s, uint32_t n)
{
    struct rl_vm *vm = k->vm;
    for (uint32_t i = 0; i < vm->nconst; i++)
        if (vm->img_i[i] == imm && vm->img_n[i] == n && (vm->img_s[i] == NULL) == (s == NULL) &&
            (n == 0 || memcmp(vm->img_s[i], s, n) == 0))
            return i;
    if (vm->nconst >= VM_CONSTS_MAX) {
        k->failed = true;
        return 0;
    }
    vm->img_i[vm->nconst] = imm;
    vm->img_s[vm->nconst] = s;
    vm->img_n[vm->nconst] = n;
    return vm->nconst++;
}

/* Children of a node, for the pre-pass over a rule. */
static void walk(struct vmc *k, uint32_t ni, uint32_t depth);

static void walk_list(struct vmc *k, uint32_t first, uint32_t count, uint32_t depth)
{
    for (uint32_t i = 0; i < count; i++)
        walk(k, k->set->list[first + i], depth + 1);
}

static void walk(struct vmc *k, uint32_t ni, uint32_t depth)
{
    const struct rules_set *set = k->set;
    if (depth > 4 * RL_DEPTH_MAX || ni >= set->nnodes) {
        k->failed = true;
        return;
    }
    const struct rl_node *n = &set->nodes[ni];
    switch (n->op) {
    case OP_FIELD:
        if (n->a < RL_LOCALS_MAX && n->b < RL_TABLES_MAX && n->c < RL_COLS_MAX)
            k->cols_used[n->a][n->b] |= 1u << n->c;
        else
            k->failed = true;
        return;
    case OP_LINEF:
        k->linef_used |= 1u << n->aux;
        return;
    case OP_DOCF:
        k->vm->docf_mask |= 1u << n->aux;
        return;
    case OP_NEG: case OP_NOT:
        walk(k, n->a, depth + 1);
        return;
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_EQ: case OP_NE: case OP_LT: case OP_LE:
    case OP_GT: case OP_GE: case OP_AND: case OP_OR: case OP_MIN: case OP_MAX: case OP_RND:
    case OP_DIV_CEIL: case OP_DIV_HALF_UP: case OP_DIV_FLOOR: case OP_AGE:
        walk(k, n->a, depth + 1);
        walk(k, n->b, depth + 1);
        return;
    case OP_COND:
        walk(k, n->a, depth + 1);
        walk(k, n->b, depth + 1);
        walk(k, n->c, depth + 1);
        return;
    case OP_EXISTS:
        walk_list(k, n->args, n->nargs, depth);
        return;
    case OP_ANY:
        walk(k, n->a, depth + 1);
        return;
    case ST_LET: case ST_SET:
        walk(k, n->b, depth + 1);
        return;
    case ST_LOOKUP:
        walk_list(k, n->args, n->nargs, depth);
        if (n->c != UINT32_MAX)
            walk(k, n->c, depth + 1);
        return;
    case ST_REASON: case ST_REJECT: case ST_EXIT:
        if (n->b)
            walk(k, n->b - 1, depth + 1);
        return;
    case ST_IF:
        walk(k, n->a, depth + 1);
        walk_list(k, n->args, n->nargs, depth);
        walk_list(k, n->b, n->c, depth);
        return;
    default:
        return; /* leaves */
    }
}

/* Equality of two enum values of the same enum can compare hashes alone if
 * the enum's values hash apart: every enum value in a register is one of
 * the enum's values (literals and table cells are checked at load, fields
 * map to a value, variables and parameters are typed). */
static bool hash_comparable(const struct rules_set *set, struct rtype a, struct rtype b)
{
    if (!is_text(a) && !is_text(b))
        return true;
    if (a.kind != RT_ENUM || b.kind != RT_ENUM || a.sub != b.sub || a.sub >= set->nenums)
        return false;
    const struct rl_enum *e = &set->enums[a.sub];
    for (uint32_t i = 0; i < e->count; i++)
        for (uint32_t j = i + 1; j < e->count; j++)
            if (e->hashes[i] == e->hashes[j])
                return false;
    return true;
}

static uint32_t cval(struct vmc *k, uint32_t ni, uint32_t want);
static void ccond(struct vmc *k, uint32_t ni, bool jump_when, uint32_t label);

/* The register a leaf lives in, or VM_NONE if the node computes. */
static uint32_t leaf_reg(struct vmc *k, const struct rl_node *n)
{
    const struct rl_vm *vm = k->vm;
    switch (n->op) {
    case OP_LIT: return const_reg(k, n->imm, n->s, n->n);
    case OP_VAR_DOC: return vm->docv_base + n->a;
    case OP_VAR_LINE: return vm->linev_base + n->a;
    case OP_LOCAL: return k->local_base + n->a;
    case OP_PARAM: return vm->param_base + n->a;
    case OP_FIELD: return k->field_reg[n->a][n->c];
    case OP_DOCF: return vm->docf_base + n->aux;
    case OP_LINEF: return vm->linef_base + n->aux;
    case OP_PACKS: return vm->packs_base + n->aux;
    default: return VM_NONE;
    }
}

static int64_t pack_keys(const uint32_t *regs, uint32_t n)
{
    uint64_t p = 0;
    for (uint32_t i = 0; i < n; i++)
        p |= (uint64_t)(regs[i] & 0xFFFFu) << (16 * i);
    return (int64_t)p;
}

static bool keys(struct vmc *k, const struct rl_node *n, uint32_t *regs)
{
    if (n->nargs > RL_KEYS_MAX || n->b >= k->set->ntables || n->nargs != k->set->tables[n->b].nkeys) {
        k->failed = true;
        return false;
    }
    for (uint32_t i = 0; i < n->nargs; i++)
        regs[i] = cval(k, k->set->list[n->args + i], VM_NONE);
    return true;
}

static uint8_t cmp_op(uint8_t op, bool jump)
{
    /* The jump for a comparison, or for its negation. */
    switch (op) {
    case OP_EQ: return jump ? V_JEQ : V_JNE;
    case OP_NE: return jump ? V_JNE : V_JEQ;
    case OP_LT: return jump ? V_JLT : V_JGE;
    case OP_LE: return jump ? V_JLE : V_JGT;
    case OP_GT: return jump ? V_JGT : V_JLE;
    default: return jump ? V_JGE : V_JLT; /* OP_GE */
    }
}

/* Emits code that jumps to label if the condition's value is jump_when and
 * falls through otherwise; operands are evaluated as the tree does (left to
 * right, `and`/`or` stopping at the first deciding operand). */
static void ccond(struct vmc *k, uint32_t ni, bool jump_when, uint32_t label)
{
    const struct rules_set *set = k->set;
    const struct rl_node *n = &set->nodes[ni];
    uint32_t skip, a, b;
    switch (n->op) {
    case OP_AND:
    case OP_OR:
        /* and: jumps when false on a false operand; or: when true on a true one. */
        if (jump_when == (n->op == OP_OR)) {
            ccond(k, n->a, jump_when, label);
            ccond(k, n->b, jump_when, label);
        } else {
            skip = new_label(k);
            ccond(k, n->a, !jump_when, skip);
            ccond(k, n->b, jump_when, label);
            bind(k, skip);
        }
        return;
    case OP_NOT:
        ccond(k, n->a, !jump_when, label);
        return;
    case OP_HAS:
        emit(k, jump_when ? V_JHAS : V_JNHAS, 0, 0, 0, (int32_t)label, n->imm);
        return;
    case OP_LIT:
        if ((n->imm != 0) == jump_when)
            emit(k, V_JMP, 0, 0, 0, (int32_t)label, 0);
        return;
    case OP_EQ:
    case OP_NE:
        if (!hash_comparable(set, set->nodes[n->a].type, set->nodes[n->b].type))
            break;
        __attribute__((fallthrough));
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
        a = cval(k, n->a, VM_NONE);
        b = cval(k, n->b, VM_NONE);
        emit(k, cmp_op(n->op, jump_when), 0, a, b, (int32_t)label, 0);
        return;
    default:
        break;
    }
    a = cval(k, ni, VM_NONE);
    emit(k, jump_when ? V_JNZ : V_JZ, 0, a, 0, (int32_t)label, 0);
}

static uint32_t move_to(struct vmc *k, uint32_t reg, uint32_t want, struct rtype t)
{
    if (want == VM_NONE || want == reg)
        return reg;
    emit(k, is_text(t) ? V_MOVT : V_MOV, want, reg, 0, 0, 0);
    return want;
}

/* Emits code leaving the node's value in a register: want if given (the
 * operation writes it last, after reading its operands), else the leaf's
 * own register or a fresh temporary. */
static uint32_t cval(struct vmc *k, uint32_t ni, uint32_t want)
{
    /* Each instruction records the node it computes (errors, trace). */
#define EMIT(...) (k->cur_node = ni, emit(k, __VA_ARGS__))
    const struct rules_set *set = k->set;
    if (k->failed || ni >= set->nnodes)
        return k->failed = true, 0;
    const struct rl_node *n = &set->nodes[ni];
    uint32_t r = leaf_reg(k, n);
    if (r != VM_NONE)
        return move_to(k, r, want, n->type);
    uint32_t d = want != VM_NONE ? want : temp(k);
    uint32_t a, b, l1, l2;
    uint32_t kr[RL_KEYS_MAX];
    static const uint8_t arith[] = {[OP_ADD] = V_ADD, [OP_SUB] = V_SUB, [OP_MUL] = V_MUL,
                                    [OP_EQ] = V_EQ,   [OP_NE] = V_NE,   [OP_LT] = V_LT,
                                    [OP_LE] = V_LE,   [OP_GT] = V_GT,   [OP_GE] = V_GE};
    switch (n->op) {
    case OP_OTHERF:
        EMIT(V_LDOF, d, 0, 0, 0, 0);
        if (!k->failed)
            k->vm->code[k->vm->ncode - 1].k = (uint8_t)n->aux;
        return d;
    case OP_NEG:
    case OP_NOT:
        a = cval(k, n->a, VM_NONE);
        EMIT(n->op == OP_NEG ? V_NEG : V_NOT, d, a, 0, 0, 0);
        return d;
    case OP_EQ:
    case OP_NE:
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE:
    case OP_MIN:
    case OP_MAX:
    case OP_RND:
    case OP_DIV_CEIL:
    case OP_DIV_HALF_UP:
    case OP_DIV_FLOOR:
    case OP_AGE: {
        /* Two operands, left to right, then the operation. */
        a = cval(k, n->a, VM_NONE);
        b = cval(k, n->b, VM_NONE);
        uint8_t op;
        if (n->op == OP_EQ || n->op == OP_NE)
            op = hash_comparable(set, set->nodes[n->a].type, set->nodes[n->b].type)
                     ? arith[n->op]
                     : (n->op == OP_EQ ? V_EQT : V_NET);
        else if (n->op == OP_MIN || n->op == OP_MAX)
            op = n->op == OP_MIN ? V_MIN : V_MAX;
        else if (n->op <= OP_GE)
            op = arith[n->op];
        else
            op = V_COLD;
        if ((n->op == OP_MIN || n->op == OP_MAX) && is_text(n->type)) {
            k->failed = true; /* the checker allows numbers and dates only */
            return d;
        }
        /* rnd and the divisions have inline fast paths (they fall back
         * to rl_cold_op, which `k` still names). */
        if (op == V_COLD && !k->trace)
            op = n->op == OP_RND ? V_RND : n->op == OP_DIV_HALF_UP ? V_DIVH
                 : n->op == OP_DIV_CEIL ? V_DIVC : V_COLD;
        uint32_t at = EMIT(op, d, a, b, 0, 0);
        if (!k->failed && (op == V_COLD || op == V_RND || op == V_DIVH || op == V_DIVC))
            k->vm->code[at].k = n->op;
        return d;
    }
    case OP_AND:
    case OP_OR:
        /* A boolean value of a condition: d written once the condition is
         * decided. */
        l1 = new_label(k);
        l2 = new_label(k);
        ccond(k, ni, false, l1);
        EMIT(V_MOVI, d, 0, 0, 0, 1);
        EMIT(V_JMP, 0, 0, 0, (int32_t)l2, 0);
        bind(k, l1);
        EMIT(V_MOVI, d, 0, 0, 0, 0);
        bind(k, l2);
        return d;
    case OP_COND:
        /* One branch runs and writes d as its last step. */
        l1 = new_label(k);
        l2 = new_label(k);
        ccond(k, n->a, false, l1);
        cval(k, n->b, d);
        EMIT(V_JMP, 0, 0, 0, (int32_t)l2, 0);
        bind(k, l1);
        cval(k, n->c, d);
        bind(k, l2);
        return d;
    case OP_HAS:
        EMIT(V_HAS, d, 0, 0, 0, n->imm);
        return d;
    case OP_EXISTS:
        if (keys(k, n, kr)) {
            bool fast = !k->trace && n->nargs <= 2;
            uint32_t at = EMIT(fast ? V_FINDX : V_EXISTS, d, 0, 0, (int32_t)n->b, pack_keys(kr, n->nargs));
            if (!k->failed)
                k->vm->code[at].y = k->lookup_sites[n->b] > 1;
        }
        return d;
    case OP_ANY: {
        /* The filter's key part (pure, rl_prepare) first, as the tree does;
         * then the condition as a sub-program that the loop runs per line. */
        uint32_t fkey = VM_NONE;
        int64_t imm = n->imm & 0xFF;
        if (n->b != 0) {
            const struct rl_node *e = &set->nodes[n->b - 1];
            fkey = cval(k, set->list[e->args + n->c], VM_NONE);
            imm |= (int64_t)((e->b & 0xFFu) << 8) | (int64_t)((n->c & 0xFFu) << 16);
        }
        uint32_t res = temp(k);
        uint32_t over = new_label(k), sub = new_label(k);
        EMIT(V_JMP, 0, 0, 0, (int32_t)over, 0);
        bind(k, sub);
        cval(k, n->a, res);
        uint32_t sub_end = EMIT(V_END, 0, 0, 0, 0, 0);
        if (!k->failed)
            k->vm->code[sub_end].k = 1; /* stays a return in fused programs */
        bind(k, over);
        EMIT(V_ANY, d, fkey, res, (int32_t)sub, imm);
        return d;
    }
    default:
        k->failed = true;
        return d;
    }
}

#undef EMIT

static void cstmts(struct vmc *k, uint32_t first, uint32_t count);

static void cstmt(struct vmc *k, uint32_t ni)
{
#define EMIT(...) (k->cur_node = ni, emit(k, __VA_ARGS__))
    const struct rules_set *set = k->set;
    const struct rl_vm *vm = k->vm;
    const struct rl_node *n = &set->nodes[ni];
    uint32_t skip, end;
    k->top = k->temp_base; /* temporaries live within one statement */
    switch (n->op) {
    case ST_LET:
    case ST_SET: {
        uint32_t to = n->op == ST_LET ? k->local_base + n->a
                                      : (n->aux == SC_DOC ? vm->docv_base : vm->linev_base) + n->a;
        cval(k, n->b, to);
        if (k->trace)
            EMIT(V_TVAL, 0, to, 0, (int32_t)ni, 0);
        return;
    }
    case ST_LOOKUP: {
        uint32_t kr[RL_KEYS_MAX];
        if (!keys(k, n, kr))
            return;
        uint32_t day = n->c != UINT32_MAX ? cval(k, n->c, VM_NONE) : VM_NONE;
        uint32_t miss = n->aux == ST_REASON && n->imm >= 0 ? 1u : n->aux == ST_REJECT && n->imm >= 0 ? 2u : 0u;
        uint32_t row = k->local_base + n->a;
        bool fast = !k->trace && n->nargs <= 2;
        EMIT(fast ? V_FIND : V_LOOKUP, row, day, miss ? (uint32_t)n->imm : 0, (int32_t)n->b,
             pack_keys(kr, n->nargs));
        if (k->failed)
            return;
        k->vm->code[k->vm->ncode - 1].k = (uint8_t)(miss | (k->lookup_sites[n->b] > 1 ? 4u : 0u));
        /* The columns the rule reads of this row, loaded now: the span
         * from the first to the last in one V_LDFN (compile_rule gives a
         * local's span of columns consecutive registers), else one by one. */
        const struct rl_table *t = &set->tables[n->b];
        uint32_t used = k->cols_used[n->a][n->b];
        if (!k->trace && used != 0) {
            uint32_t lo = (uint32_t)__builtin_ctz(used), hi = 31u - (uint32_t)__builtin_clz(used);
            uint32_t first = k->field_reg[n->a][lo];
            bool dense = first != VM_NONE;
            for (uint32_t c = lo; c <= hi && dense; c++)
                dense = k->field_reg[n->a][c] == first + (c - lo);
            if (dense) {
                uint32_t at = EMIT(V_LDFN, first, row, 0, (int32_t)n->b,
                                   (int64_t)((used & vm->text_cols[n->b]) >> lo));
                if (!k->failed) {
                    k->vm->code[at].k = (uint8_t)lo;
                    k->vm->code[at].y = (int32_t)(hi - lo + 1);
                }
                return;
            }
        }
        for (uint32_t c = 0; c < t->ncols && !k->failed; c++) {
            if (!(used & (1u << c)))
                continue;
            uint32_t at = EMIT(is_text(t->cols[c].type) ? V_LDFT : V_LDF, k->field_reg[n->a][c], row,
                               0, (int32_t)n->b, 0);
            if (!k->failed)
                k->vm->code[at].y = (int32_t)c;
        }
        return;
    }
    case ST_REASON:
    case ST_REJECT:
        if (n->imm < 0)
            return; /* not declared: the load failed already */
        skip = new_label(k);
        if (n->b)
            ccond(k, n->b - 1, false, skip);
        EMIT(n->op == ST_REJECT ? V_REJECT : V_REASON, 0, 0, 0, 0, n->imm);
        bind(k, skip);
        return;
    case ST_EXIT:
        skip = new_label(k);
        if (n->b)
            ccond(k, n->b - 1, false, skip);
        if (k->trace)
            EMIT(V_TEXIT, 0, 0, 0, (int32_t)ni, 0);
        EMIT(V_END, 0, 0, 0, 0, 0);
        bind(k, skip);
        return;
    case ST_PACKS:
        EMIT(V_PACKS, 0, 0, 0, 0, 0);
        return;
    case ST_IF:
        skip = new_label(k);
        end = new_label(k);
        ccond(k, n->a, false, skip);
        cstmts(k, n->args, n->nargs);
        if (n->c > 0) /* no `else`: nothing to jump over */
            EMIT(V_JMP, 0, 0, 0, (int32_t)end, 0);
        bind(k, skip);
        cstmts(k, n->b, n->c);
        bind(k, end);
        return;
    default:
        k->failed = true;
        return;
    }
}
#undef EMIT

static void cstmts(struct vmc *k, uint32_t first, uint32_t count)
{
    for (uint32_t i = 0; i < count && !k->failed; i++)
        cstmt(k, k->set->list[first + i]);
}

static bool is_jump(uint8_t op)
{
    return (op >= V_JMP && op <= V_JGE) || op == V_ANY || op == V_JHAS || op == V_JNHAS;
}

/* Compiles rule ri at the end of the code; its registers start at *next. */
static void compile_rule(struct vmc *k, uint32_t ri, uint32_t *next, uint32_t *linef_used)
{
    struct rules_set *set = k->set;
    const struct rl_rule *r = &set->rules[ri];
    memset(k->cols_used, 0, sizeof k->cols_used);
    k->linef_used = 0;
    if (r->when != UINT32_MAX)
        walk(k, r->when, 0);
    walk_list(k, r->body, r->nbody, 0);
    k->local_base = *next;
    *next += r->nlocals;
    /* A local's columns get consecutive registers from the first column
     * read to the last, those between included, so that a lookup loads
     * them with one V_LDFN (an unread column's register is written, never
     * read). */
    for (uint32_t s = 0; s < RL_LOCALS_MAX; s++) {
        uint32_t cols = 0;
        for (uint32_t t = 0; t < RL_TABLES_MAX; t++)
            cols |= k->cols_used[s][t];
        for (uint32_t c = 0; c < RL_COLS_MAX; c++)
            k->field_reg[s][c] = VM_NONE;
        if (cols == 0)
            continue;
        uint32_t lo = (uint32_t)__builtin_ctz(cols), hi = 31u - (uint32_t)__builtin_clz(cols);
        for (uint32_t c = lo; c <= hi; c++)
            k->field_reg[s][c] = (*next)++;
        *next += VM_LDFN_PAD; /* V_LDFN writes up to three registers past a span */
    }
    *linef_used = k->linef_used;
    k->temp_base = *next;
    k->top = *next;
    if (*next > k->vm->nregs)
        k->vm->nregs = *next;
    if (*next >= VM_REGS_MAX) {
        k->failed = true;
        return;
    }
    k->nlabels = 0;
    k->rule_first = k->vm->ncode;
    (k->trace ? k->vm->tentry : k->vm->entry)[ri] = k->vm->ncode;
    uint32_t end = new_label(k);
    if (r->when != UINT32_MAX)
        ccond(k, r->when, false, end);
    if (k->trace)
        emit(k, V_TRULE, 0, 0, 0, (int32_t)ri, 0);
    cstmts(k, r->body, r->nbody);
    bind(k, end);
    emit(k, V_END, 0, 0, 0, 0, 0);
    if (k->failed)
        return;
    /* Labels to instruction indexes; every jump goes forward (termination). */
    for (uint32_t pc = k->rule_first; pc < k->vm->ncode; pc++) {
        struct vm_ins *in = &k->vm->code[pc];
        if (!is_jump(in->op))
            continue;
        int32_t to = k->label_pc[in->x];
        ADJ_ASSERT(to > (int32_t)pc || (in->op == V_ANY && to >= (int32_t)k->rule_first));
        in->x = to;
    }
    /* Registers used by this rule's temporaries stay its own: the next rule
     * starts above them, so nothing carries over by accident. */
    *next = k->vm->nregs;
}

/* Whether a jump of the code at pc is decided by the kind of the document
 * or line a fused program runs for: JEQ/JNE between the kind's register
 * and a constant (the rules' `line.kind == "D"` tests, which the kind
 * lists make always true, or always false). *taken: its outcome. */
static bool kind_test(const struct rl_vm *vm, const struct vm_ins *in, uint32_t kind_reg,
                      int64_t kind_hash, bool *taken)
{
    if (in->op != V_JEQ && in->op != V_JNE)
        return false;
    uint32_t other;
    if (in->a == kind_reg && in->b < vm->nconst)
        other = in->b;
    else if (in->b == kind_reg && in->a < vm->nconst)
        other = in->a;
    else
        return false;
    *taken = (vm->img_i[other] == kind_hash) == (in->op == V_JEQ);
    return true;
}

/* What fuse_list does with each instruction of a rule (peephole). */
enum fuse_act {
    FA_KEEP,
    FA_DROP,   /* left out: the next kept instruction takes its place */
    FA_REASON, /* a compare-and-jump over the next instruction, a V_REASON
                  that nothing else jumps to: both become one V_RLT, V_RLE,
                  V_REQ or V_RNE (the reason when the jump is not taken) */
};

/* The operations whose only effect is r[d] from r[a], r[b], k and imm (or
 * an overflow error, which an identical earlier instruction would have
 * raised first); *reads: bit 0 a, bit 1 b. */
static bool pure_op(uint8_t op, uint32_t *reads)
{
    switch (op) {
    case V_MOVI:
        *reads = 0;
        return true;
    case V_MOV:
    case V_NEG:
    case V_NOT:
        *reads = 1;
        return true;
    case V_ADD: case V_SUB: case V_MUL: case V_MIN: case V_MAX: case V_EQ: case V_NE:
    case V_LT: case V_LE: case V_GT: case V_GE: case V_RND: case V_DIVH: case V_DIVC:
    case V_COLD:
        *reads = 3;
        return true;
    default:
        return false;
    }
}

static bool same_ins(const struct vm_ins *p, const struct vm_ins *q)
{
    return p->op == q->op && p->k == q->k && p->d == q->d && p->a == q->a && p->b == q->b &&
           p->imm == q->imm;
}

/* Whether the pure instruction at pc recomputes what an earlier one in
 * the same straight run already left in its register: the same
 * instruction, nothing in between writes its destination or operands, no
 * jump in between and no jump into the run (target[]: jumped to), and it
 * does not read its own destination. Then it is left out. */
static bool recomputed(const struct vm_ins *code, const uint8_t *target, uint32_t lo, uint32_t pc)
{
    const struct vm_ins *p = &code[pc];
    uint32_t reads;
    if (!pure_op(p->op, &reads) || ((reads & 1) && p->a == p->d) || ((reads & 2) && p->b == p->d))
        return false;
    for (uint32_t q = pc; q > lo;) {
        if (target[q - lo])
            return false; /* control may arrive at q without passing q - 1 */
        q--;
        const struct vm_ins *c = &code[q];
        if (same_ins(c, p))
            return true;
        uint32_t r;
        if (c->op == V_REASON || c->op == V_REJECT)
            continue; /* writes no register */
        if (!pure_op(c->op, &r))
            return false; /* a jump, a lookup, a call: stop looking */
        if (c->d == p->d || ((reads & 1) && c->d == p->a) || ((reads & 2) && c->d == p->b))
            return false;
    }
    return false;
}

/* The peephole of one rule [lo, hi] for fuse_list: act[pc - lo]. Kind
 * tests the list decides are folded (an untaken one is dropped), jumps to
 * the very next instruction and the rule's final V_END are dropped, then
 * the reason fusions and recomputations above. */
static void fuse_plan(const struct rl_vm *vm, uint32_t lo, uint32_t hi, uint32_t kind_reg,
                      int64_t kind_hash, uint8_t *act, uint8_t *target)
{
    const struct vm_ins *code = vm->code;
    memset(target, 0, hi - lo + 1);
    for (uint32_t pc = lo; pc <= hi; pc++)
        if (is_jump(code[pc].op)) {
            /* Jumps go forward; an any()'s condition is laid out before it. */
            ADJ_ASSERT(code[pc].x >= (int32_t)lo && code[pc].x <= (int32_t)hi);
            ADJ_ASSERT(code[pc].op == V_ANY || code[pc].x > (int32_t)pc);
            target[(uint32_t)code[pc].x - lo] = 1;
        }
    for (uint32_t pc = lo; pc <= hi; pc++) {
        const struct vm_ins *in = &code[pc];
        bool taken;
        act[pc - lo] = FA_KEEP;
        if (kind_test(vm, in, kind_reg, kind_hash, &taken)) {
            act[pc - lo] = taken ? FA_KEEP : FA_DROP;
            continue;
        }
        if (pc == hi || (in->op == V_JMP && in->x == (int32_t)pc + 1)) {
            act[pc - lo] = FA_DROP;
            continue;
        }
        if (in->op >= V_JEQ && in->op <= V_JGE && in->x == (int32_t)pc + 2 &&
            code[pc + 1].op == V_REASON && !target[pc + 1 - lo]) {
            act[pc - lo] = FA_REASON;
            act[pc + 1 - lo] = FA_DROP;
            pc++;
            continue;
        }
        if (recomputed(code, target, lo, pc))
            act[pc - lo] = FA_DROP;
    }
}

/* The V_RLT/V_RLE/V_REQ/V_RNE for a jump `if r[a] OP r[b] goto over the
 * reason`: the reason holds when the jump's condition does not. */
static void reason_op(const struct vm_ins *jump, struct vm_ins *out)
{
    uint16_t a = jump->a, b = jump->b;
    switch (jump->op) {
    case V_JLE: out->op = V_RLT; out->a = b; out->b = a; break; /* a > b */
    case V_JLT: out->op = V_RLE; out->a = b; out->b = a; break; /* a >= b */
    case V_JGE: out->op = V_RLT; out->a = a; out->b = b; break; /* a < b */
    case V_JGT: out->op = V_RLE; out->a = a; out->b = b; break; /* a <= b */
    case V_JEQ: out->op = V_RNE; out->a = a; out->b = b; break;
    default:    out->op = V_REQ; out->a = a; out->b = b; break; /* V_JNE */
    }
}

/*
 * Appends the fused program of one kind list: each rule's untraced code in
 * list order, where its ends (V_END, an `exit`, a lookup's miss) jump to
 * the next rule's first instruction instead of returning, a rule with a
 * date range starts with V_RDATE, and the kind tests that the list decides
 * are folded (a taken one becomes V_JMP, the others are dropped). The
 * program ends with V_END. Same rules, same order, same effects as
 * run_list; it saves a call, a return and the kind test per rule per line.
 * False when the code would outgrow its bound (the set then runs lists).
 */
static bool fuse_list(struct vmc *k, const struct vm_list *list, uint32_t kind_reg, int64_t kind_hash,
                      uint32_t *entry)
{
    struct rl_vm *vm = k->vm;
    const struct rules_set *set = k->set;
    *entry = vm->ncode;
    for (uint32_t i = 0; i < list->count && !k->failed; i++) {
        uint32_t ri = list->rules[i];
        const struct rl_rule *r = &set->rules[ri];
        uint32_t lo = vm->entry[ri];
        uint32_t hi = (ri + 1 < set->nrules ? vm->entry[ri + 1] : vm->tentry[0]) - 1;
        ADJ_ASSERT(lo <= hi && vm->code[hi].op == V_END && vm->code[hi].k == 0);
        uint32_t *map = malloc((hi - lo + 1) * sizeof *map);
        uint8_t *act = malloc(hi - lo + 1), *target = malloc(hi - lo + 1);
        if (!map || !act || !target) {
            free(map);
            free(act);
            free(target);
            return false;
        }
        fuse_plan(vm, lo, hi, kind_reg, kind_hash, act, target);
        uint32_t fix[VM_LABELS_MAX];
        uint32_t nfix = 0;
        k->cur_node = vm->node[lo];
        if (r->from != RL_DAY_MIN || r->to != RL_DAY_MAX) {
            uint32_t at = emit(k, V_RDATE, 0, 0, 0, 0,
                               (int64_t)((uint64_t)(uint32_t)r->from << 32 | (uint32_t)r->to));
            fix[nfix++] = at;
        }
        /* New positions: a dropped instruction maps to the next kept one
         * (fuse_plan drops only what no jump targets, or what a jump may
         * skip to the next kept instruction for). */
        uint32_t base = vm->ncode, kept = 0;
        for (uint32_t pc = lo; pc <= hi; pc++) {
            map[pc - lo] = base + kept;
            kept += act[pc - lo] != FA_DROP;
        }
        for (uint32_t pc = lo; pc <= hi && !k->failed; pc++) {
            struct vm_ins in = vm->code[pc];
            bool taken;
            if (act[pc - lo] == FA_DROP)
                continue;
            if (act[pc - lo] == FA_REASON) {
                reason_op(&vm->code[pc], &in);
                in.imm = vm->code[pc + 1].imm;
                in.x = 0;
            } else if (kind_test(vm, &in, kind_reg, kind_hash, &taken)) {
                in.op = V_JMP; /* taken: fuse_plan keeps only those */
            }
            if (is_jump(in.op)) {
                ADJ_ASSERT(in.x >= (int32_t)lo && in.x <= (int32_t)hi);
                in.x = (int32_t)map[(uint32_t)in.x - lo];
            }
            bool to_next = (in.op == V_END && in.k == 0) || in.op == V_LOOKUP || in.op == V_FIND;
            if (in.op == V_END && in.k == 0)
                in.op = V_JMP;
            k->cur_node = vm->node[pc];
            uint32_t at = emit(k, in.op, in.d, in.a, in.b, in.x, in.imm);
            if (k->failed || (to_next && nfix == VM_LABELS_MAX)) {
                free(map);
                free(act);
                free(target);
                return false;
            }
            vm->code[at].k = in.k;
            vm->code[at].y = in.y;
            if (to_next)
                fix[nfix++] = at;
        }
        free(map);
        free(act);
        free(target);
        /* Patch the jumps to the next rule, now that it starts here. */
        for (uint32_t j = 0; j < nfix; j++) {
            struct vm_ins *in = &vm->code[fix[j]];
            if (in->op == V_LOOKUP || in->op == V_FIND)
                in->y = (int32_t)vm->ncode;
            else
                in->x = (int32_t)vm->ncode;
        }
    }
    emit(k, V_END, 0, 0, 0, 0, 0);
    return !k->failed;
}

static int cmp_day(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The parameter epochs (see struct rl_vm): every day on which a parameter
 * with a history starts or stops holding a value begins an epoch. More
 * than VM_EPOCHS_MAX: none (per-parameter search). False: out of memory. */
static bool build_epochs(const struct rules_set *set, struct rl_vm *vm)
{
    uint32_t n = 1;
    for (uint32_t j = 0; j < vm->ndyn; j++)
        n += 2 * set->params[vm->dyn[j]].nhist;
    if (vm->ndyn == 0 || n > 2 * VM_EPOCHS_MAX)
        return true;
    int32_t *from = malloc(n * sizeof *from);
    if (!from)
        return false;
    uint32_t m = 0;
    from[m++] = INT32_MIN;
    for (uint32_t j = 0; j < vm->ndyn; j++) {
        const struct rl_param *p = &set->params[vm->dyn[j]];
        for (uint32_t h = 0; h < p->nhist; h++) {
            from[m++] = p->hist_from[h];
            if (p->hist_to[h] < INT32_MAX)
                from[m++] = p->hist_to[h] + 1;
        }
    }
    qsort(from, m, sizeof *from, cmp_day);
    uint32_t u = 0;
    for (uint32_t i = 0; i < m; i++)
        if (u == 0 || from[i] != from[u - 1])
            from[u++] = from[i];
    if (u > VM_EPOCHS_MAX) {
        free(from);
        return true;
    }
    struct rv *val = malloc((size_t)u * vm->ndyn * sizeof *val);
    if (!val) {
        free(from);
        return false;
    }
    for (uint32_t e = 0; e < u; e++)
        for (uint32_t j = 0; j < vm->ndyn; j++)
            val[(size_t)e * vm->ndyn + j] = rl_param_on(&set->params[vm->dyn[j]], from[e]);
    vm->epoch_from = from;
    vm->epoch_val = val;
    vm->nepochs = u;
    return true;
}

/* Direct threading: each instruction gets the address of its operation's
 * code in vm_run, which only vm_run can name (a frame without a vm asks). */
static bool vm_link(struct rl_vm *vm)
{
    struct vm_frame *q = malloc(sizeof *q); /* only .vm and .ops are read */
    if (!q)
        return false;
    q->vm = NULL;
    q->ops = NULL;
    vm_run(q, 0);
    for (uint32_t pc = 0; pc < vm->ncode; pc++)
        vm->code[pc].h = q->ops[vm->code[pc].op];
    free(q);
    return true;
}

void rl_vm_compile(struct rules_set *set)
{
    struct vmc *k = calloc(1, sizeof *k);
    struct rl_vm *vm = calloc(1, sizeof *vm);
    if (!k || !vm) {
        free(k);
        free(vm);
        return;
    }
    k->set = set;
    k->vm = vm;
    /* Fixed registers. */
    uint32_t next = VM_CONSTS_MAX;
    vm->docv_base = (uint16_t)next;
    next += set->ndoc_defaults;
    vm->linev_base = (uint16_t)next;
    next += set->nline_defaults;
    vm->param_base = (uint16_t)next;
    next += set->nparams;
    vm->image_end = (uint16_t)next;
    vm->docf_base = (uint16_t)next;
    next += VM_DOCF;
    vm->linef_base = (uint16_t)next;
    next += VM_LINEF;
    vm->packs_base = (uint16_t)next;
    next += 4;
    vm->nregs = next;
    bool ok = next < VM_REGS_MAX && set->ndoc_defaults == set->ndocvars &&
              set->nline_defaults == set->nlinevars && set->nline_defaults >= LV_BUILTIN_COUNT;
    if (ok) {
        for (uint32_t i = 0; i < set->ndoc_defaults; i++) {
            vm->img_i[vm->docv_base + i] = set->doc_defaults[i].i;
            vm->img_s[vm->docv_base + i] = set->doc_defaults[i].s;
            vm->img_n[vm->docv_base + i] = set->doc_defaults[i].n;
        }
        for (uint32_t i = 0; i < set->nline_defaults; i++) {
            vm->img_i[vm->linev_base + i] = set->line_defaults[i].i;
            vm->img_s[vm->linev_base + i] = set->line_defaults[i].s;
            vm->img_n[vm->linev_base + i] = set->line_defaults[i].n;
        }
        for (uint32_t i = 0; i < set->nparams; i++) {
            const struct rl_param *p = &set->params[i];
            vm->img_i[vm->param_base + i] = p->def.i;
            vm->img_s[vm->param_base + i] = p->def.s;
            vm->img_n[vm->param_base + i] = p->def.n;
            if (p->nhist)
                vm->dyn[vm->ndyn++] = (uint16_t)i;
        }
    }
    if (ok && !build_epochs(set, vm))
        ok = false;
    for (uint32_t en = 0; en < VM_BYTE_ENUMS; en++) {
        const struct rl_enum *e = &set->enums[en];
        for (uint32_t c = 0; c < 256; c++)
            vm->byte_enum[en][c] = (uint8_t)rl_enum_index(set, en, (char)c);
        for (uint32_t v = 0; v < e->count && v < RL_ENUM_VALUES_MAX; v++) {
            struct rv x = {(int64_t)e->hashes[v], e->values[v], (uint32_t)strlen(e->values[v])};
            vm->enum_rv[en][v] = x;
        }
    }
    for (uint32_t i = 0; i < set->nnodes; i++) {
        const struct rl_node *n = &set->nodes[i];
        if ((n->op == ST_LOOKUP || n->op == OP_EXISTS) && n->b < RL_TABLES_MAX)
            k->lookup_sites[n->b]++;
    }
    for (uint32_t t = 0; t < set->ntables; t++) {
        const struct rl_table *tb = &set->tables[t];
        vm->nkeys[t] = (uint8_t)tb->nkeys;
        for (uint32_t q = 0; q < tb->nkeys; q++)
            if (is_text(tb->cols[tb->keys[q]].type))
                vm->key_text[t] |= (uint8_t)(1u << q);
        for (uint32_t c = 0; c < tb->ncols; c++)
            if (is_text(tb->cols[c].type))
                vm->text_cols[t] |= 1u << c;
    }
    /* Rules, each with the line fields it reads; then all of them again
     * with the trace instructions (explain). */
    uint32_t linef[RL_RULES_MAX] = {0};
    for (uint32_t pass = 0; pass < 2; pass++) {
        k->trace = pass == 1;
        for (uint32_t ri = 0; ri < set->nrules && ok && !k->failed; ri++)
            compile_rule(k, ri, &next, &linef[ri]);
    }
    ok = ok && !k->failed && vm->nregs <= VM_REGS_MAX;
    for (uint32_t i = 0; i < vm->nconst; i++)
        if (vm->img_s[i])
            vm->text_doc[vm->ntext_doc++] = (uint16_t)i;
    /* Vars in declaration order, a slot per scope (lang.c's var_slot). */
    for (uint32_t v = 0, doc_slot = 0, line_slot = 0; v < set->nvars && ok; v++) {
        bool doc = set->vars[v].scope == SC_DOC;
        uint32_t slot = doc ? doc_slot++ : line_slot++;
        if (!is_text(set->vars[v].type))
            continue;
        if (doc)
            vm->text_doc[vm->ntext_doc++] = (uint16_t)(vm->docv_base + slot);
        else
            vm->text_line[vm->ntext_line++] = (uint16_t)(vm->linev_base + slot);
    }
    for (uint32_t i = 0; i < set->nparams && ok; i++)
        if (is_text(set->params[i].type))
            vm->text_doc[vm->ntext_doc++] = (uint16_t)(vm->param_base + i);
    /* Per value of doc.kind / line.kind, the rules whose kind filter lets
     * that value through (the tree's test, rl_prepare). */
    for (uint32_t sc = 0; sc < 2 && ok; sc++) {
        const struct rl_enum *e = &set->enums[sc == 0 ? EN_DKIND : EN_LKIND];
        struct vm_list *lists = sc == 0 ? vm->doc_lists : vm->line_lists;
        for (uint32_t v = 0; v < e->count && v < RL_ENUM_VALUES_MAX; v++) {
            char letter = e->values[v][1] == '\0' ? e->values[v][0] : 0;
            struct vm_list *l = &lists[v];
            for (uint32_t i = 0; i < set->nscope_rules[sc]; i++) {
                uint16_t ri = set->scope_rules[sc][i];
                char want = set->rules[ri].kind_filter;
                if (want && want != letter)
                    continue;
                l->rules[l->count++] = ri;
                if (sc == 1)
                    l->field_mask |= linef[ri];
            }
        }
    }
    /* The fused programs (without them, run_list runs the same rules). */
    bool fused = ok;
    for (uint32_t sc = 0; sc < 2 && fused; sc++) {
        const struct rl_enum *e = &set->enums[sc == 0 ? EN_DKIND : EN_LKIND];
        for (uint32_t v = 0; v < e->count && v < RL_ENUM_VALUES_MAX && fused; v++)
            fused = sc == 0 ? fuse_list(k, &vm->doc_lists[v], vm->docf_base + 4u,
                                        vm->enum_rv[EN_DKIND][v].i, &vm->doc_prog[v])
                            : fuse_list(k, &vm->line_lists[v], vm->linef_base + 2u,
                                        vm->enum_rv[EN_LKIND][v].i, &vm->line_prog[v]);
    }
    vm->fused = fused && !k->failed;
    for (uint32_t v = 0; v < RL_ENUM_VALUES_MAX; v++) {
        vm->line_code_table[v] = RL_TABLES_MAX;
        for (uint32_t pc = vm->line_prog[v]; vm->fused && pc < vm->ncode; pc++) {
            const struct vm_ins *in = &vm->code[pc];
            if (in->op == V_END && in->k == 0)
                break;
            if (in->op == V_FIND && vm->nkeys[in->x] == 1 && (vm->key_text[in->x] & 1u) &&
                (in->imm & 0xFFFF) == vm->linef_base + 3u) {
                vm->line_code_table[v] = (uint8_t)in->x;
                break;
            }
        }
    }
    free(k);
    if (!ok || !vm_link(vm)) {
        rl_vm_free(vm);
        return;
    }
    set->vm = vm;
}

void rl_vm_free(struct rl_vm *vm)
{
    if (!vm)
        return;
    free(vm->code);
    free(vm->node);
    free(vm->epoch_from);
    free(vm->epoch_val);
    free(vm);
}

/* The compiled code as text, one instruction a line (tests and tuning). */
void rl_vm_dump(const struct rules_set *set, FILE *out)
{
    static const char *names[] = {
        "end", "jmp", "jz", "jnz", "jeq", "jne", "jlt", "jle", "jgt", "jge", "mov", "movt", "movi",
        "ldf", "ldft", "ldof", "add", "sub", "mul", "neg", "min", "max", "eq", "ne",
        "lt", "le", "gt", "ge", "eqt", "net", "not", "cold", "has", "packs", "lookup", "exists",
        "reason", "reject", "any", "find", "findx", "ldfn", "rnd", "divh", "divc", "jhas", "jnhas", "rdate", "rlt", "rle", "req", "rne", "t.rule", "t.val",
        "t.exit"};
    _Static_assert(sizeof names / sizeof names[0] == V_OP_COUNT, "a name per operation");
    const struct rl_vm *vm = set->vm;
    if (!vm) {
        fputs("(not compiled: the tree walker runs this set)\n", out);
        return;
    }
    fprintf(out, "%u instructions, %u registers, %u constants\n", vm->ncode, vm->nregs, vm->nconst);
    for (uint32_t pc = 0; pc < vm->ncode; pc++) {
        for (uint32_t ri = 0; ri < set->nrules; ri++)
            if (vm->entry[ri] == pc || vm->tentry[ri] == pc)
                fprintf(out, "rule %s%s:\n", set->rules[ri].name, vm->tentry[ri] == pc ? " (traced)" : "");
        for (uint32_t k = 0; vm->fused && k < RL_ENUM_VALUES_MAX; k++) {
            if (vm->doc_lists[k].count && vm->doc_prog[k] == pc)
                fprintf(out, "fused program, documents of kind value %u:\n", k);
            if (vm->line_lists[k].count && vm->line_prog[k] == pc)
                fprintf(out, "fused program, lines of kind value %u:\n", k);
        }
        const struct vm_ins *in = &vm->code[pc];
        fprintf(out, "%5u  %-7s d=%u a=%u b=%u k=%u x=%d y=%d imm=%lld\n", pc, names[in->op], in->d,
                in->a, in->b, in->k, in->x, in->y, (long long)in->imm);
    }
}

bool rules_compiled(const struct rules_set *set) { return set->vm != NULL; }

void rules_prefetch_lines(const struct rules_set *set, const struct doc *doc,
                          const struct doc_line *lines)
{
    const struct rl_vm *vm = set->vm;
    if (vm == NULL || !vm->fused)
        return;
    uint32_t n = doc->line_count < 16 ? doc->line_count : 16;
    for (uint32_t i = 0; i < n; i++) {
        const struct doc_line *l = &lines[i];
        uint32_t ti = vm->line_code_table[byte_enum(vm, EN_LKIND, l->kind)];
        if (ti >= RL_TABLES_MAX)
            continue;
        const struct rl_table *t = &set->tables[ti];
        if (t->ngroups == 0)
            continue;
        /* The slot is read here, not prefetched a stage before: these
         * tables' slots are small and mostly cached, and one stage hashes
         * the code once (rl_table_find1's hash of a text key). */
        uint64_t h = rl_hash_combine(0, text_hash64(l->code, l->code_len));
        uint32_t at = (uint32_t)h & t->slot_mask;
        for (uint32_t probes = 0; probes < 8; probes++) {
            if (t->tslots) { /* the key is in the slot: prefetch the rows */
                const struct rl_tslot *sl = &t->tslots[at];
                if (sl->count == 0)
                    break;
                if (sl->hash == h) {
                    rl_prefetch_group(t, sl, 3);
                    break;
                }
            } else {
                const struct rl_slot *sl = &t->slots[at];
                if (sl->count == 0)
                    break;
                if (sl->hash == h) {
                    rl_prefetch_group(t, sl, 3);
                    break;
                }
            }
            at = (at + 1) & t->slot_mask;
        }
    }
}
