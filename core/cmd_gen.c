/*
 * dadras gen: the command line of the synthetic province generator (gen.h).
 * Parses options into a gen_config, runs it, and prints what was made on
 * stderr (counts, mean prescription value, anomalies per kind, time).
 *
 * Fractions (--scale, --anomaly-rate, --malformed-rate) are read as
 * decimals ("0.125", "2") or ratios ("1/8") into parts per million, so no
 * fractional arithmetic is used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/text.h"
#include "core/cli.h"
#include "core/gen.h"

static void gen_usage(FILE *out)
{
    fprintf(out, "usage: dadras gen --out DIR [options]\n"
                 "  --seed N               PRNG seed (default 1); same seed, same bytes\n"
                 "  --scale F              multiply the document counts (0.125, 1/8, 2)\n"
                 "  --prescriptions N      P documents per month (default 940000)\n"
                 "  --inpatient N          I documents per month (default 380000)\n"
                 "  --inpatient-lines N    mean lines per I document (default 20)\n"
                 "  --centers N --insured N --physicians N --drugs N --daroyar N\n"
                 "  --services N --supplies N --pairs N   reference table sizes\n"
                 "  --anomaly-rate R       share of documents with one anomaly (default 0.02)\n"
                 "  --malformed-rate R     share of documents malformed for intake (default 0)\n"
                 "  --period YYYY/MM       settlement month (default 1403/10)\n"
                 "  --province ID --batch-id ID\n"
                 "  --zstd                 write batch.tsv.zst (--zstd-level N, --zstd-workers N)\n"
                 "  --quiet                no summary on stderr\n");
}

/* "2", "0.125", "1/8" -> parts per million (truncated). */
static bool parse_ppm(const char *s, uint64_t max_ppm, uint64_t *out)
{
    const char *slash = strchr(s, '/');
    uint64_t a = 0, b = 0;
    if (slash != NULL) {
        size_t off;
        if (text_parse_u64(s, (size_t)(slash - s), 1000000, &a, &off) != ADJ_OK ||
            text_parse_u64(slash + 1, strlen(slash + 1), 1000000, &b, &off) != ADJ_OK || b == 0) {
            return false;
        }
        *out = a * 1000000 / b;
        return *out <= max_ppm;
    }
    uint64_t whole = 0, frac = 0, scale = 1000000;
    const char *p = s;
    if (*p == '\0') {
        return false;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        whole = whole * 10 + (uint64_t)(*p - '0');
        if (whole > 1000000) {
            return false;
        }
    }
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (scale > 1) {
                scale /= 10;
                frac += (uint64_t)(*p - '0') * scale;
            }
        }
    }
    if (*p != '\0') {
        return false;
    }
    *out = whole * 1000000 + frac;
    return *out <= max_ppm;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    size_t off;
    return text_parse_u64(s, strlen(s), max, out, &off) == ADJ_OK;
}

static bool parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (!parse_u64(s, max, &v)) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

static bool copy_id(char dst[33], const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32 || strpbrk(s, "\t\r\n") != NULL) {
        return false;
    }
    memcpy(dst, s, n + 1);
    return true;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cmd_gen(int argc, char **argv)
{
    struct gen_config cfg;
    gen_config_default(&cfg);
    const char *out = NULL;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, takes = true;
        uint64_t x = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            gen_usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--zstd") == 0) {
            cfg.zstd = true;
            takes = false;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
            takes = false;
        } else if (v == NULL) {
            ok = false;
        } else if (strcmp(a, "--out") == 0) {
            out = v;
        } else if (strcmp(a, "--seed") == 0) {
            ok = parse_u64(v, UINT64_MAX, &cfg.seed);
        } else if (strcmp(a, "--scale") == 0) {
            ok = parse_ppm(v, 64ull * GEN_PPM, &cfg.scale_ppm);
        } else if (strcmp(a, "--prescriptions") == 0) {
            ok = parse_u64(v, 100000000, &cfg.prescriptions);
        } else if (strcmp(a, "--inpatient") == 0) {
            ok = parse_u64(v, 100000000, &cfg.inpatient);
        } else if (strcmp(a, "--inpatient-lines") == 0) {
            ok = parse_u32(v, 40, &cfg.inpatient_lines);
        } else if (strcmp(a, "--centers") == 0) {
            ok = parse_u32(v, 1000000, &cfg.centers);
        } else if (strcmp(a, "--insured") == 0) {
            ok = parse_u64(v, 49999999, &cfg.insured);
        } else if (strcmp(a, "--physicians") == 0) {
            ok = parse_u32(v, 10000000, &cfg.physicians);
        } else if (strcmp(a, "--drugs") == 0) {
            ok = parse_u32(v, 1000000, &cfg.drugs);
        } else if (strcmp(a, "--daroyar") == 0) {
            ok = parse_u32(v, 1000000, &cfg.daroyar);
        } else if (strcmp(a, "--services") == 0) {
            ok = parse_u32(v, 800000, &cfg.services);
        } else if (strcmp(a, "--supplies") == 0) {
            ok = parse_u32(v, 1000000, &cfg.supplies);
        } else if (strcmp(a, "--pairs") == 0) {
            ok = parse_u32(v, 100000, &cfg.pairs);
        } else if (strcmp(a, "--anomaly-rate") == 0) {
            ok = parse_ppm(v, GEN_PPM, &x);
            cfg.anomaly_ppm = (uint32_t)x;
        } else if (strcmp(a, "--malformed-rate") == 0) {
            ok = parse_ppm(v, GEN_PPM, &x);
            cfg.malformed_ppm = (uint32_t)x;
        } else if (strcmp(a, "--zstd-level") == 0) {
            uint32_t lv = 0;
            ok = parse_u32(v, 19, &lv);
            cfg.zstd_level = (int)lv;
        } else if (strcmp(a, "--zstd-workers") == 0) {
            uint32_t wk = 0;
            ok = parse_u32(v, 64, &wk);
            cfg.zstd_workers = (int)wk;
        } else if (strcmp(a, "--batch-id") == 0) {
            ok = copy_id(cfg.batch_id, v);
        } else if (strcmp(a, "--province") == 0) {
            ok = copy_id(cfg.province, v) && strlen(v) <= 8;
        } else if (strcmp(a, "--period") == 0) {
            size_t off;
            ok = jdate_parse_month(v, strlen(v), &cfg.period, &off) == ADJ_OK;
        } else {
            fprintf(stderr, "dadras gen: unknown option '%s'\n", a);
            gen_usage(stderr);
            return CLI_EXIT_USAGE;
        }
        if (!ok) {
            fprintf(stderr, "dadras gen: bad or missing value for %s\n", a);
            return CLI_EXIT_USAGE;
        }
        if (takes) {
            i++;
        }
    }
    if (out == NULL) {
        fprintf(stderr, "dadras gen: --out DIR is required\n");
        gen_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    struct gen_stats st;
    struct adj_diag diag;
    memset(&diag, 0, sizeof diag);
    int64_t t0 = now_ms();
    enum adj_err e = gen_run(&cfg, out, &st, &diag);
    int64_t ms = now_ms() - t0;
    if (e != ADJ_OK) {
        adj_diag_print(stderr, &diag);
        return e == ADJ_E_USAGE ? CLI_EXIT_USAGE : CLI_EXIT_IOERR;
    }
    if (!quiet) {
        fprintf(stderr, "dadras gen: %llu documents (%llu P, %llu I), %llu lines in %lld ms\n",
                (unsigned long long)st.docs, (unsigned long long)st.p_docs,
                (unsigned long long)st.i_docs, (unsigned long long)st.lines, (long long)ms);
        fprintf(stderr,
                "  mean prescription value %llu rials; claimed total %llu, insurer %llu, "
                "daroyar %llu\n",
                (unsigned long long)(st.p_docs ? st.p_claimed_total / st.p_docs : 0),
                (unsigned long long)st.sum_claimed_total,
                (unsigned long long)st.sum_claimed_insurer,
                (unsigned long long)st.sum_claimed_daroyar);
        fprintf(stderr, "  anomalies:");
        for (int k = 0; k < GEN_KIND_COUNT; k++) {
            fprintf(stderr, " %s=%llu", gen_kind_code((enum gen_kind)k),
                    (unsigned long long)st.injected[k]);
        }
        fprintf(stderr, " intake=%llu\n", (unsigned long long)st.malformed);
    }
    return CLI_EXIT_OK;
}
