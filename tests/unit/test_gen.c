/*
 * gen: same seed, same bytes (plain and zstd alike); another seed, other
 * bytes; the T record agrees with what the batch holds; every national code
 * and pack id is valid where it must be; the tables have exactly the columns
 * of adjudication.md; anomalies come at about the requested rate and the
 * truth file names each one; the calibration (items per prescription, mean
 * prescription value) is near research/domain.md §6.
 */
#include <criterion/criterion.h>

#include "tests/unit/test_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/base/ids.h"
#include "core/gen.h"


static char *slurp_at(const char *dir, const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return slurp(path, len);
}

static void small_config(struct gen_config *cfg, uint64_t seed)
{
    gen_config_default(cfg);
    cfg->seed = seed;
    cfg->prescriptions = 3000;
    cfg->inpatient = 600;
    cfg->centers = 120;
    cfg->insured = 4000;
    cfg->physicians = 300;
    cfg->drugs = 800;
    cfg->daroyar = 40;
    cfg->services = 600;
    cfg->supplies = 200;
    cfg->pairs = 40;
}

static void run_gen(const struct gen_config *cfg, const char *dir, struct gen_stats *st)
{
    struct adj_diag diag;
    memset(&diag, 0, sizeof diag);
    enum adj_err e = gen_run(cfg, dir, st, &diag);
    cr_assert_eq(e, ADJ_OK, "gen_run: %s (%s)", adj_err_name(e), diag.detail);
}

static void tmpdir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "/tmp/test_gen.%ld.%s", (long)getpid(), name);
}

/* Each test leaves nothing behind: everything it made is under this. */
static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf /tmp/test_gen.%ld.*", (long)getpid());
    cr_assert_eq(system(cmd), 0);
}

static const char *const table_names[] = {
    "centers.tsv",  "physicians.tsv", "insured.tsv", "drugs.tsv", "services.tsv",
    "kfactors.tsv", "supplies.tsv",   "beds.tsv",    "pairs.tsv", "params.tsv"};

static bool same_file(const char *a_dir, const char *b_dir, const char *name)
{
    size_t la, lb;
    char *a = slurp_at(a_dir, name, &la);
    char *b = slurp_at(b_dir, name, &lb);
    bool same = la == lb && memcmp(a, b, la) == 0;
    free(a);
    free(b);
    return same;
}

Test(gen, same_seed_same_bytes_other_seed_other_bytes, .fini = cleanup)
{
    struct gen_config cfg;
    struct gen_stats st;
    char d1[256], d2[256], d3[256];
    tmpdir(d1, sizeof d1, "a");
    tmpdir(d2, sizeof d2, "b");
    tmpdir(d3, sizeof d3, "c");
    small_config(&cfg, 7);
    cfg.malformed_ppm = 10000;
    run_gen(&cfg, d1, &st);
    run_gen(&cfg, d2, &st);
    cr_assert(same_file(d1, d2, "batch.tsv"));
    cr_assert(same_file(d1, d2, "truth.tsv"));
    char name[64];
    for (size_t i = 0; i < sizeof table_names / sizeof table_names[0]; i++) {
        snprintf(name, sizeof name, "tables/%s", table_names[i]);
        cr_assert(same_file(d1, d2, name), "%s differs", name);
    }
    cfg.seed = 8;
    run_gen(&cfg, d3, &st);
    cr_assert_not(same_file(d1, d3, "batch.tsv"));
    cr_assert_not(same_file(d1, d3, "tables/insured.tsv"));
}

Test(gen, zstd_batch_holds_the_same_bytes, .fini = cleanup)
{
    struct gen_config cfg;
    struct gen_stats st;
    char d1[256], d2[256];
    tmpdir(d1, sizeof d1, "plain");
    tmpdir(d2, sizeof d2, "zstd");
    small_config(&cfg, 11);
    run_gen(&cfg, d1, &st);
    cfg.zstd = true;
    run_gen(&cfg, d2, &st);
    size_t lp, lz;
    char *plain = slurp_at(d1, "batch.tsv", &lp);
    char *z = slurp_at(d2, "batch.tsv.zst", &lz);
    unsigned long long n = ZSTD_getFrameContentSize(z, lz);
    char *dec = malloc(lp + 1);
    size_t got;
    if (n == ZSTD_CONTENTSIZE_UNKNOWN) {
        ZSTD_DCtx *dc = ZSTD_createDCtx();
        ZSTD_inBuffer in = {z, lz, 0};
        ZSTD_outBuffer ob = {dec, lp + 1, 0};
        while (in.pos < in.size) {
            size_t rc = ZSTD_decompressStream(dc, &ob, &in);
            cr_assert_not(ZSTD_isError(rc));
        }
        got = ob.pos;
        ZSTD_freeDCtx(dc);
    } else {
        got = ZSTD_decompress(dec, lp + 1, z, lz);
    }
    cr_assert_eq(got, lp);
    cr_assert_eq(memcmp(dec, plain, lp), 0);
    free(plain);
    free(z);
    free(dec);
}

/* Splits s in place at TABs; returns the field count. */
static int split(char *s, char **f, int max)
{
    int n = 0;
    f[n++] = s;
    for (char *p = s; *p && n < max; p++) {
        if (*p == '\t') {
            *p = '\0';
            f[n++] = p + 1;
        }
    }
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

Test(gen, trailer_matches_the_batch_and_ids_are_valid, .fini = cleanup)
{
    struct gen_config cfg;
    struct gen_stats st;
    char d[256];
    tmpdir(d, sizeof d, "trailer");
    small_config(&cfg, 3);
    cfg.anomaly_ppm = 0; /* No anomaly: every pack id valid and unique. */
    run_gen(&cfg, d, &st);
    size_t len;
    char *batch = slurp_at(d, "batch.tsv", &len);
    uint64_t docs = 0, lines = 0;
    long long total = 0, ins = 0, dar = 0;
    bool trailer_seen = false;
    size_t uid_cap = 1 << 16, uid_n = 0;
    uint64_t *uids = malloc(uid_cap * sizeof *uids);
    char *save = NULL;
    for (char *line = strtok_r(batch, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[16];
        cr_assert_not(trailer_seen, "record after T");
        int n = split(line, f, 16);
        if (f[0][0] == 'H') {
            cr_assert_eq(docs, 0);
            cr_assert_eq(n, 7);
        } else if (f[0][0] == 'P' || f[0][0] == 'I') {
            docs++;

            cr_assert_eq(n, f[0][0] == 'P' ? 7 : 8);
            cr_assert_eq(ids_nid_check(f[3], strlen(f[3])), ADJ_OK, "bad nid %s", f[3]);
        } else if (f[0][0] == 'L') {
            lines++;
            long long q = atoll(f[4]), up = atoll(f[5]), t = atoll(f[6]);
            cr_assert_eq(q * up, t);
            total += t;
            ins += atoll(f[7]);
            dar += atoll(f[8]);
            if (f[2][0] == 'D') {
                cr_assert_eq(n, 12);
                char *s2 = NULL;
                for (char *u = strtok_r(f[11], ",", &s2); u; u = strtok_r(NULL, ",", &s2)) {
                    uint64_t key = ids_uid_pack(u, strlen(u));
                    cr_assert_neq(key, IDS_UID_INVALID, "invalid uid %s", u);
                    if (uid_n == uid_cap) {
                        uid_cap *= 2;
                        uids = realloc(uids, uid_cap * sizeof *uids);
                    }
                    uids[uid_n++] = key;
                }
            }
        } else if (f[0][0] == 'T') {
            trailer_seen = true;
            cr_assert_eq(n, 6);
            cr_assert_eq(strtoull(f[1], NULL, 10), docs);
            cr_assert_eq(strtoull(f[2], NULL, 10), lines);
            cr_assert_eq(atoll(f[3]), total);
            cr_assert_eq(atoll(f[4]), ins);
            cr_assert_eq(atoll(f[5]), dar);
        } else {
            cr_assert_fail("unknown record %s", f[0]);
        }
    }
    cr_assert(trailer_seen);
    cr_assert_eq(docs, st.docs);
    cr_assert_eq(docs, 3600);
    /* Pack ids unique: sort and look for neighbours. */
    qsort(uids, uid_n, sizeof *uids, cmp_u64);
    for (size_t i = 1; i < uid_n; i++) {
        cr_assert_neq(uids[i], uids[i - 1], "pack id used twice");
    }
    free(uids);
    free(batch);

    char *insured = slurp_at(d, "tables/insured.tsv", &len);
    uint64_t rows = 0, people = 0;
    const char *prev = NULL;
    save = NULL;
    /* One person may have several rows (a break in coverage), adjacent. */
    for (char *line = strtok_r(insured, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (rows++ == 0) {
            continue;
        }
        cr_assert_eq(ids_nid_check(line, 10), ADJ_OK, "insured nid %.10s", line);
        people += prev == NULL || memcmp(prev, line, 10) != 0;
        prev = line;
    }
    cr_assert_eq(people, cfg.insured);
    cr_assert_gt(rows, people + 1, "no one has two coverage rows");
    free(insured);
}

Test(gen, tables_have_the_columns_of_the_spec, .fini = cleanup)
{
    static const char *const headers[] = {
        "center\tsector\ttype\tprovince\tdeprived\tgrade\tcontract_from\tcontract_to",
        "mc\tspecialty\tlicensed_from\tlicensed_to\tfulltime_from\tfulltime_to\tprivate_practice",
        "nid\tbirth_date\tsex\tcovered_from\tcovered_to",
        "irc\tpack_units\tprice_old\tprice_new\tdaroyar\tmax_qty\tfrom\tto",
        "code\trvu_prof\trvu_tech\tflag\tmax_qty\tsex\tage_min\tage_max\tfrom\tto",
        "sector\tflag\tk_prof\tk_tech\tfrom\tto",
        "code\tprice\tmax_qty\tfrom\tto",
        "grade\tprice_per_day\tfrom\tto",
        "code1\tcode2\tfrom\tto",
        "name\tvalue\tfrom\tto",
    };
    struct gen_config cfg;
    struct gen_stats st;
    char d[256];
    tmpdir(d, sizeof d, "tables");
    small_config(&cfg, 5);
    run_gen(&cfg, d, &st);
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char name[64];
        size_t len;
        snprintf(name, sizeof name, "tables/%s", table_names[i]);
        char *t = slurp_at(d, name, &len);
        size_t cols = 1;
        for (const char *p = headers[i]; *p; p++) {
            cols += *p == '\t';
        }
        char *save = NULL;
        char *line = strtok_r(t, "\n", &save);
        cr_assert_str_eq(line, headers[i], "%s", name);
        size_t rows = 0;
        for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            size_t c = 1;
            for (const char *p = line; *p; p++) {
                c += *p == '\t';
            }
            cr_assert_eq(c, cols, "%s row %zu has %zu fields", name, rows + 1, c);
            rows++;
        }
        cr_assert_gt(rows, 0, "%s is empty", name);
        free(t);
    }
    /* Exactly cfg.daroyar listed drugs (daroyar 1 and price_new > price_old). */
    size_t len;
    char *t = slurp_at(d, "tables/drugs.tsv", &len);
    char *save = NULL;
    unsigned listed = 0;
    strtok_r(t, "\n", &save);
    for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[8];
        split(line, f, 8);
        listed += strcmp(f[4], "1") == 0 && atoll(f[3]) > atoll(f[2]);
    }
    cr_assert_eq(listed, cfg.daroyar);
    free(t);
}

Test(gen, anomalies_near_the_rate_and_all_in_the_truth, .fini = cleanup)
{
    struct gen_config cfg;
    struct gen_stats st;
    char d[256];
    tmpdir(d, sizeof d, "rates");
    small_config(&cfg, 9);
    cfg.prescriptions = 16000;
    cfg.inpatient = 4000;
    cfg.anomaly_ppm = 100000;  /* 10% */
    cfg.malformed_ppm = 10000; /* 1% */
    run_gen(&cfg, d, &st);
    uint64_t total = 0;
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        total += st.injected[k];
        cr_assert_gt(st.injected[k], 0, "no %s injected", gen_kind_code((enum gen_kind)k));
    }
    /* 2,000 expected (sd ~42); a few kinds can fall back to clean. */
    cr_assert(total > 1750 && total < 2200, "anomalies %llu", (unsigned long long)total);
    cr_assert(st.malformed > 140 && st.malformed < 260, "malformed %llu",
              (unsigned long long)st.malformed);

    /* The truth names every anomaly once, and every document once. */
    size_t len;
    char *truth = slurp_at(d, "truth.tsv", &len);
    uint64_t per_kind[GEN_KIND_COUNT] = {0}, intake = 0, doc_rows = 0;
    char *save = NULL;
    strtok_r(truth, "\n", &save);
    for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[4] = {NULL, NULL, NULL, NULL};
        int n = split(line, f, 4);
        cr_assert_geq(n, 3, "truth row with %d fields", n);
        doc_rows += strcmp(f[1], "0") == 0;
        if (n < 3 || f[2][0] == '\0') {
            continue;
        }
        if (strcmp(f[2], "INTAKE") == 0) {
            intake++;
            continue;
        }
        int k = 0;
        while (k < GEN_KIND_COUNT && strcmp(gen_kind_code((enum gen_kind)k), f[2]) != 0) {
            k++;
        }
        cr_assert_lt(k, GEN_KIND_COUNT, "unknown reason %s", f[2]);
        per_kind[k]++;
    }
    cr_assert_eq(doc_rows, st.docs);
    cr_assert_eq(intake, st.malformed);
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        cr_assert_eq(per_kind[k], st.injected[k], "%s", gen_kind_code((enum gen_kind)k));
    }
    free(truth);
}

Test(gen, calibrated_near_one_khuzestan_month, .fini = cleanup)
{
    struct gen_config cfg;
    struct gen_stats st;
    char d[256];
    tmpdir(d, sizeof d, "calib");
    small_config(&cfg, 13);
    cfg.prescriptions = 20000;
    cfg.inpatient = 0;
    cfg.anomaly_ppm = 0;
    cfg.drugs = 20000;
    cfg.daroyar = 455;
    run_gen(&cfg, d, &st);
    uint64_t mean_value = st.p_claimed_total / st.p_docs;
    cr_assert(mean_value > 1500000 && mean_value < 2000000, "mean Rx value %llu",
              (unsigned long long)mean_value);
    /* About 4 items per prescription, and a spread, not a constant. */
    cr_assert(st.lines * 10 > st.p_docs * 35 && st.lines * 10 < st.p_docs * 45);
}

Test(gen, bad_config_is_a_usage_error, .fini = cleanup)
{
    struct gen_config cfg;
    struct gen_stats st;
    struct adj_diag diag;
    memset(&diag, 0, sizeof diag);
    small_config(&cfg, 1);
    cfg.centers = 1;
    cr_assert_eq(gen_run(&cfg, "/tmp", &st, &diag), ADJ_E_USAGE);
    small_config(&cfg, 1);
    cfg.period = (struct jdate){1400, 1, 1}; /* Before daroyar_start. */
    cr_assert_eq(gen_run(&cfg, "/tmp", &st, &diag), ADJ_E_USAGE);
}
