/*
 * Helpers shared by the ledger tests: a scratch directory per test, batches
 * built from a seed, the canonical dump as a string, a file copy. Static so
 * each test executable takes what it uses.
 */
#ifndef ADJ_TESTS_LEDGER_UTIL_H
#define ADJ_TESTS_LEDGER_UTIL_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ledger.h"

static inline char *tl_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/adj-ledger-XXXXXX", base != NULL ? base : "/tmp");
    char *dir = mkdtemp(tmpl);
    cr_assert_not_null(dir);
    return strdup(dir);
}

static inline void tl_rmtree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static inline uint64_t tl_rand(uint64_t *s)
{
    /* splitmix64: seeded, reproducible */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A batch with owned storage. */
struct tl_batch {
    struct ledger_batch b;
    char id[33], hash[33];
    struct ledger_center_total *centers;
    char *docs;
    uint64_t *packs;
};

/* Builds batch `id` with n_centers centers C0..Cn-1 (sector from the list),
 * n_docs doc ids and n_packs pack keys, all derived from seed. */
static inline void tl_batch_make(struct tl_batch *t, const char *id, uint64_t seed,
                                 size_t n_centers, size_t n_docs, size_t n_packs)
{
    static const char *const sectors[] = {"GOV", "UNI", "PRV", "CHR", "PUB", "SSO"};
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    uint64_t s = seed;
    snprintf(t->hash, sizeof t->hash, "%016llx%016llx", (unsigned long long)tl_rand(&s),
             (unsigned long long)tl_rand(&s));
    t->centers = calloc(n_centers + 1, sizeof *t->centers);
    for (size_t i = 0; i < n_centers; i++) {
        snprintf(t->centers[i].center, sizeof t->centers[i].center, "C%zu", i);
        snprintf(t->centers[i].sector, sizeof t->centers[i].sector, "%s", sectors[i % 6]);
        t->centers[i].approved_insurer_rials = (int64_t)(tl_rand(&s) % 100000000u) + 1;
        t->centers[i].approved_daroyar_rials = (int64_t)(tl_rand(&s) % 1000000u);
    }
    t->docs = malloc(n_docs * 24 + 1);
    size_t pos = 0;
    for (size_t i = 0; i < n_docs; i++) {
        pos += (size_t)sprintf(t->docs + pos, "%s-D%zu", id, i) + 1;
    }
    t->packs = malloc((n_packs + 1) * sizeof *t->packs);
    for (size_t i = 0; i < n_packs; i++) {
        t->packs[i] = tl_rand(&s) % 10000000000000000000ull;
    }
    t->b = (struct ledger_batch){t->id,       t->hash,    "KHZ",  "1403/05", t->centers,
                                 n_centers,   t->docs,    pos,    n_docs,    t->packs,
                                 n_packs};
}

static inline void tl_batch_free(struct tl_batch *t)
{
    free(t->centers);
    free(t->docs);
    free(t->packs);
}

static inline char *tl_dump(struct ledger *l)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct adj_diag diag;
    cr_assert_eq(ledger_dump(l, f, &diag), ADJ_OK);
    fclose(f);
    return buf;
}

static inline char *tl_dump_path(const char *path)
{
    struct ledger *l = NULL;
    struct adj_diag diag;
    cr_assert_eq(ledger_open(path, false, &l, &diag), ADJ_OK, "%s", diag.detail);
    char *d = tl_dump(l);
    ledger_close(l);
    return d;
}

static inline void tl_verify_ok(struct ledger *l)
{
    uint64_t problems = 0;
    struct adj_diag diag;
    enum adj_err err = ledger_verify(l, stderr, &problems, &diag);
    cr_assert_eq(err, ADJ_OK, "verify: %s (%s)", adj_err_name(err), diag.detail);
    cr_assert_eq(problems, 0);
}

static inline struct ledger *tl_open(const char *path)
{
    struct ledger *l = NULL;
    struct adj_diag diag;
    enum adj_err err = ledger_open(path, true, &l, &diag);
    cr_assert_eq(err, ADJ_OK, "open %s: %s %s", path, adj_err_name(err), diag.detail);
    return l;
}

/* Copies a closed ledger (its WAL is checkpointed on close), in-process:
 * the crash tests copy once per killed statement. */
static inline void tl_copy(const char *from, const char *to)
{
    char side[2600];
    snprintf(side, sizeof side, "%s-wal", to);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", to);
    unlink(side);
    int in = open(from, O_RDONLY);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(in >= 0 && out >= 0);
    char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        cr_assert_eq(write(out, buf, (size_t)n), n);
    }
    cr_assert_eq(n, 0);
    close(in);
    close(out);
}

#endif
