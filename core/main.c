/*
 * dadras (دادرس, "the one who hears a claim"): claims and prescription
 * adjudication for the SSO's provincial medical-document review offices.
 * This file only dispatches to the subcommands of core/cli.h.
 */
#include <stdio.h>
#include <string.h>

#include "core/cli.h"

struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct cli_command cli_commands[] = {
    {"check", cmd_check, "validate batches: dadras check BATCH... [--quarantine FILE]"},
    {"run", cmd_run, "adjudicate: dadras run BATCH... --rules DIR --tables DIR [--out DIR] "
                     "[--threads N] [--ledger FILE]"},
    {"rules", cmd_rules, "rule files: dadras rules check|test|diff ..."},
    {"explain", cmd_explain, "one document, step by step: dadras explain BATCH --doc ID "
                             "--rules DIR --tables DIR"},
    {"ledger", cmd_ledger, "the offset ledger: dadras ledger init|post|debts|offset|pay|"
                           "balances|statement|report|verify ..."},
    {"gen", cmd_gen, "synthetic province data: dadras gen --out DIR [options]"},
    {"eval", cmd_eval, "precision and recall: dadras eval DECISIONS TRUTH"},
};

static void cli_usage(FILE *out)
{
    fprintf(out, "usage: dadras COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof cli_commands / sizeof cli_commands[0]; i++) {
        fprintf(out, "  %-8s %s\n", cli_commands[i].name, cli_commands[i].summary);
    }
}

int cli_not_built(const char *name)
{
    fprintf(stderr, "dadras: %s is not built yet\n", name);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        cli_usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof cli_commands / sizeof cli_commands[0]; i++) {
        if (strcmp(argv[1], cli_commands[i].name) == 0) {
            return cli_commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "dadras: unknown command '%s'\n", argv[1]);
    cli_usage(stderr);
    return CLI_EXIT_USAGE;
}
