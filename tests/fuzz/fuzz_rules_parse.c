/*
 * libFuzzer target: the rule-language parser and checker on arbitrary text
 * (rules_load_text, no tables), then, when the text compiles, the evaluator
 * on a small fixed document with D, S and B lines. Must never crash, leak
 * or trip a sanitizer; errors are fine. The compiled evaluator and the
 * reference tree walker must agree (same error, same decisions): a
 * difference aborts, so the fuzzer searches rule programs for compiler bugs.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/base/jdate.h"
#include "rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool seen_doc(void *ctx, const char *id, uint32_t len)
{
    (void)ctx;
    return len == 3 && memcmp(id, "DUP", 3) == 0;
}
static bool seen_uid(void *ctx, uint64_t key)
{
    (void)ctx;
    return (key & 1u) != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rules_set *set = NULL;
    if (rules_load_text("fuzz.rules", (const char *)data, size, NULL, NULL, &set) != ADJ_OK)
        return 0;
    struct doc d;
    memset(&d, 0, sizeof d);
    d.kind = 'I';
    d.stay = 'B';
    memcpy(d.doc_id, "DOC", 3);
    memcpy(d.doc_id_raw, "DOC", 3);
    d.doc_id_len = 3;
    memcpy(d.center, "C1", 2);
    d.center_len = 2;
    d.patient_nid = 12345679;
    d.date1 = (struct jdate){1403, 12, 30};
    d.date2 = (struct jdate){1404, 1, 2};
    d.date1_days = jdate_to_days(d.date1);
    d.date2_days = jdate_to_days(d.date2);
    d.line_count = 3;
    struct doc_line l[3];
    memset(l, 0, sizeof l);
    const char kinds[3] = {'D', 'S', 'B'};
    for (int i = 0; i < 3; i++) {
        l[i].kind = (uint8_t)kinds[i];
        l[i].line_no = (uint32_t)i + 1;
        l[i].qty = 3;
        l[i].unit_price_rials = 1000;
        l[i].claimed_total_rials = 3000;
        l[i].claimed_insurer_rials = 2000;
        l[i].code_len = 2;
        memcpy(l[i].code, "X1", 2);
    }
    uint64_t uids[2] = {2, 3};
    l[0].uid_count = 2;
    struct seen_ops ops = {NULL, seen_doc, seen_uid};
    struct doc_decision dd, dd_ref;
    struct line_decision ld[3], ld_ref[3];
    enum adj_err e = rules_eval_doc(set, &d, l, uids, &ops, &dd, ld, NULL);
    enum adj_err e_ref = rules_eval_doc_reference(set, &d, l, uids, &ops, &dd_ref, ld_ref, NULL);
    if (e != e_ref || (e == ADJ_OK && (memcmp(&dd, &dd_ref, sizeof dd) != 0 ||
                                       memcmp(ld, ld_ref, sizeof ld) != 0)))
        __builtin_trap();
    rules_free(set);
    return 0;
}
