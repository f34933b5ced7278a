/*
 * libFuzzer target: the TSV table loader. The input is written as the one
 * table file of a fixed schema holding every column type (code, enum, int,
 * rial, bp, bool, dates with an optional end) keyed with a date range; a
 * second run loads it as params.tsv. Must never crash or leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *SCHEMA =
    "enum sector [GOV, PRV, \"#\"]\n"
    "param share : bp = 3000\nparam start : date = 1401/04/23\nparam basis : sector = GOV\n"
    "params file \"params.tsv\"\n"
    "table t file \"t.tsv\" key code, sector valid from to\n"
    "  code : code\n  sector : sector\n  n : int?\n  price : rial\n  share : bp\n"
    "  flag : bool\n  from : date\n  to : date?\nend\n";

static char dir[64];

static void cleanup(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/t.tsv", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/params.tsv", dir);
    unlink(path);
    rmdir(dir);
}

static void put(const char *name, const uint8_t *data, size_t size)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size)
        fwrite(data, 1, size, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/adj_fuzz_tsv_XXXXXX");
        if (!mkdtemp(dir))
            abort();
        atexit(cleanup);
    }
    static const char params_ok[] = "name\tvalue\tfrom\tto\n";
    static const char table_ok[] = "code\tsector\tn\tprice\tshare\tflag\tfrom\tto\n";
    struct rules_set *set = NULL;
    /* As the table. */
    put("t.tsv", data, size);
    put("params.tsv", (const uint8_t *)params_ok, sizeof params_ok - 1);
    if (rules_load_text("s.rules", SCHEMA, strlen(SCHEMA), dir, NULL, &set) == ADJ_OK)
        rules_free(set);
    /* As params.tsv. */
    put("t.tsv", (const uint8_t *)table_ok, sizeof table_ok - 1);
    put("params.tsv", data, size);
    set = NULL;
    if (rules_load_text("s.rules", SCHEMA, strlen(SCHEMA), dir, NULL, &set) == ADJ_OK)
        rules_free(set);
    return 0;
}
