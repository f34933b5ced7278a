/*
 * dadras rules: tools for rule authors.
 *   dadras rules check PATH [--tables DIR]
 *       loads every PATH/NAME.rules and the tables they declare (default
 *       PATH/tables), prints every diagnostic, exits 1 on any error.
 * `rules test` and `rules diff` need the batch reader (io/) and are not
 * built yet in this branch.
 */
#include <stdio.h>
#include <string.h>

#include "core/cli.h"
#include "rules/rules.h"

static int rules_usage(void)
{
    fprintf(stderr, "usage: dadras rules check PATH [--tables DIR]\n");
    return CLI_EXIT_USAGE;
}

static int rules_check(int argc, char **argv)
{
    const char *path = NULL, *tables = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tables") == 0 && i + 1 < argc)
            tables = argv[++i];
        else if (argv[i][0] == '-' || path)
            return rules_usage();
        else
            path = argv[i];
    }
    if (!path)
        return rules_usage();
    char tdir[4096];
    if (!tables) {
        snprintf(tdir, sizeof tdir, "%s/tables", path);
        tables = tdir;
    }
    struct rules_set *set = NULL;
    enum adj_err e = rules_load(path, tables, stderr, &set);
    if (e != ADJ_OK)
        return 1;
    printf("%s: ok, %u reasons\n", path, rules_reason_count(set));
    rules_free(set);
    return CLI_EXIT_OK;
}

int cmd_rules(int argc, char **argv)
{
    if (argc < 2)
        return rules_usage();
    if (strcmp(argv[1], "check") == 0)
        return rules_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "test") == 0 || strcmp(argv[1], "diff") == 0)
        return cli_not_built("rules test/diff");
    return rules_usage();
}
