/*
 * dadras explain BATCH --doc ID --rules DIR [--tables DIR]
 *
 * For one document: every rule that fired in order, every lookup with the
 * table row found, every intermediate amount and why each reason was given
 * (rules-language.md 8) — what a reviewer shows a hospital that disputes a
 * deduction. The documents before it in the batch are adjudicated silently
 * first, so its duplicate (K09) and pack-id (K08) history is the one the
 * pipeline sees; the first document with the id is explained. Tables
 * default to DIR/tables. Exit 0, 1 if the document is not in the batch (or
 * was rejected at intake), 64 usage, 74 unreadable batch.
 */
#include <stdlib.h>
#include <string.h>

#include "core/cli.h"
#include "core/rules_batch.h"
#include "rules/rules.h"

struct explain_ctx {
    const struct rules_set *set;
    const char *want;
    struct rb_seen seen;
    struct line_decision *lines;
    bool found;
    enum adj_err err;
};

static int explain_doc(void *vctx, const struct doc *doc, const struct doc_line *lines,
                       const uint64_t *uids)
{
    struct explain_ctx *c = vctx;
    bool target = strlen(c->want) == doc->doc_id_len &&
                  memcmp(c->want, doc->doc_id_raw, doc->doc_id_len) == 0;
    struct doc_decision dd;
    struct seen_ops ops = rb_seen_ops(&c->seen);
    struct rules_trace tr = {stdout};
    enum adj_err e = rules_eval_doc(c->set, doc, lines, uids, &ops, &dd, c->lines, target ? &tr : NULL);
    if (target) {
        c->found = true;
        c->err = e;
        return 1;
    }
    return 0;
}

static int explain_usage(void)
{
    fprintf(stderr, "usage: dadras explain BATCH --doc ID --rules DIR [--tables DIR]\n");
    return CLI_EXIT_USAGE;
}

int cmd_explain(int argc, char **argv)
{
    const char *batch = NULL, *doc = NULL, *rules = NULL, *tables = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--doc") == 0 && i + 1 < argc)
            doc = argv[++i];
        else if (strcmp(a, "--rules") == 0 && i + 1 < argc)
            rules = argv[++i];
        else if (strcmp(a, "--tables") == 0 && i + 1 < argc)
            tables = argv[++i];
        else if (a[0] == '-' || batch)
            return explain_usage();
        else
            batch = a;
    }
    if (!batch || !doc || !rules)
        return explain_usage();
    char tdir[4096];
    if (!tables) {
        snprintf(tdir, sizeof tdir, "%s/tables", rules);
        tables = tdir;
    }
    struct rules_set *set = NULL;
    if (rules_load(rules, tables, stderr, &set) != ADJ_OK)
        return 1;
    struct explain_ctx c;
    memset(&c, 0, sizeof c);
    c.set = set;
    c.want = doc;
    rb_seen_init(&c.seen);
    c.lines = malloc(ADJ_LINES_PER_DOC_MAX * sizeof *c.lines);
    int rc = CLI_EXIT_OK;
    uint64_t rejected = 0;
    if (!c.lines) {
        rc = 1;
    } else {
        enum adj_err e = rb_each_doc(batch, NULL, 0, stderr, explain_doc, &c, &rejected, NULL);
        if (e == ADJ_E_IO || (e != ADJ_OK && !c.found)) {
            rc = CLI_EXIT_IOERR;
        } else if (!c.found) {
            fprintf(stderr, "%s: error: document %s is not among the documents accepted at intake\n",
                    batch, doc);
            rc = 1;
        } else if (c.err != ADJ_OK) {
            fprintf(stderr, "%s: error: document %s: %s [%s]\n", batch, doc, adj_err_message(c.err),
                    adj_err_name(c.err));
            rc = 1;
        }
    }
    free(c.lines);
    rb_seen_free(&c.seen);
    rules_free(set);
    return rc;
}
