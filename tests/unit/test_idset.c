/*
 * Identifier sets and the SPSC ring. Method: sets are compared with a
 * brute-force model over seeded random keys, including keys that collide in
 * the low bits and growth from the minimum size; the ring is driven by a
 * producer and a consumer thread and must deliver every item once, in
 * order, across many wrap-arounds, with tiny capacity to force sleeping.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/idset.h"
#include "core/base/ids.h"
#include "core/base/ring.h"

static uint64_t test_rng_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

Test(idset, u64_matches_model_through_growth)
{
    struct idset_u64 set;
    cr_assert(idset_u64_init(&set, 0));
    enum { n = 20000 };
    static uint64_t keys[n];
    uint64_t rng = 42;
    for (int i = 0; i < n; i++) {
        /* Half the keys differ only in high bits, the pack-id pattern. */
        keys[i] = i % 2 ? test_rng_next(&rng) % UINT64_C(10000000000000000000)
                        : (uint64_t)(i / 2) << 40;
    }
    for (int i = 0; i < n; i++) {
        bool was;
        cr_assert(idset_u64_insert(&set, keys[i], &was));
        cr_assert_not(was, "key %d", i);
        cr_assert(idset_u64_insert(&set, keys[i], &was));
        cr_assert(was);
    }
    cr_assert_eq(set.count, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        cr_assert(idset_u64_contains(&set, keys[i]));
    }
    cr_assert_not(idset_u64_contains(&set, 12345));
    idset_u64_free(&set);
}

Test(idset, dense_sets_fill_to_three_quarters_then_grow)
{
    struct idset_u64 set;
    cr_assert(idset_u64_init_dense(&set, 3000));
    cr_assert_eq(set.mask + 1, 4096u); /* 3000 <= 3/4 of 4096 */
    uint64_t rng = 5;
    static uint64_t keys[9000];
    for (size_t i = 0; i < 9000; i++) {
        keys[i] = test_rng_next(&rng) >> 1;
    }
    cr_assert(idset_u64_insert_many(&set, keys, 3000));
    cr_assert_eq(set.mask + 1, 4096u); /* no growth at 73% */
    cr_assert(idset_u64_insert_many(&set, keys + 3000, 6000));
    cr_assert_eq(set.mask + 1, 16384u); /* 9000 > 3/4 of 8192 */
    for (size_t i = 0; i < 9000; i++) {
        cr_assert(idset_u64_contains(&set, keys[i]));
    }
    cr_assert_not(idset_u64_contains(&set, 1));
    idset_u64_free(&set);

    struct idset_str strs;
    cr_assert(idset_str_init_dense(&strs, 1500, 0));
    cr_assert_eq(strs.mask + 1, 2048u);
    char id[16];
    for (int i = 0; i < 4000; i++) {
        bool was;
        int len = snprintf(id, sizeof id, "D%d", i);
        cr_assert(idset_str_insert(&strs, id, (uint32_t)len, &was));
        cr_assert_not(was);
    }
    cr_assert_eq(strs.mask + 1, 8192u);
    cr_assert(idset_str_contains(&strs, "D3999", 5));
    idset_str_free(&strs);
}

Test(idset, u64_insert_many_equals_one_by_one)
{
    struct idset_u64 a, b;
    cr_assert(idset_u64_init(&a, 10));
    cr_assert(idset_u64_init(&b, 10));
    uint64_t keys[5000];
    uint64_t rng = 7;
    for (size_t i = 0; i < 5000; i++) {
        keys[i] = test_rng_next(&rng) >> 1;
    }
    cr_assert(idset_u64_insert_many(&a, keys, 5000));
    for (size_t i = 0; i < 5000; i++) {
        bool was;
        cr_assert(idset_u64_insert(&b, keys[i], &was));
    }
    cr_assert_eq(a.count, b.count);
    for (size_t i = 0; i < 5000; i++) {
        cr_assert(idset_u64_contains(&a, keys[i]));
    }
    idset_u64_free(&a);
    idset_u64_free(&b);
}

Test(idset, u64_remove_keeps_other_keys_reachable)
{
    struct idset_u64 set;
    cr_assert(idset_u64_init(&set, 0));
    uint64_t rng = 99;
    enum { n = 600 }; /* Load near one half of 1024: long probe chains. */
    uint64_t keys[n];
    for (int i = 0; i < n; i++) {
        keys[i] = test_rng_next(&rng) >> 2;
        bool was;
        cr_assert(idset_u64_insert(&set, keys[i], &was));
    }
    for (int i = 0; i < n; i += 3) {
        cr_assert(idset_u64_remove(&set, keys[i]));
        cr_assert_not(idset_u64_remove(&set, keys[i]));
    }
    for (int i = 0; i < n; i++) {
        cr_assert_eq(idset_u64_contains(&set, keys[i]), i % 3 != 0, "key %d", i);
    }
    cr_assert_eq(set.count, (uint64_t)(n - (n + 2) / 3));
    idset_u64_free(&set);
}

Test(idset, str_exact_compare_and_growth)
{
    struct idset_str set;
    cr_assert(idset_str_init(&set, 0, 0));
    char id[40];
    for (int i = 0; i < 5000; i++) {
        int len = snprintf(id, sizeof id, "RX-%07d", i);
        bool was;
        cr_assert(idset_str_insert(&set, id, (uint32_t)len, &was));
        cr_assert_not(was);
    }
    cr_assert(idset_str_contains(&set, "RX-0004999", 10));
    cr_assert_not(idset_str_contains(&set, "RX-0005000", 10));
    cr_assert_not(idset_str_contains(&set, "RX-000499", 9)); /* prefix is not equal */
    bool was;
    cr_assert(idset_str_insert(&set, "RX-0000000", 10, &was));
    cr_assert(was);
    cr_assert_eq(set.count, 5000u);
    idset_str_free(&set);
}

Test(idset, str_insert_many_equals_one_by_one)
{
    struct idset_str many, single;
    cr_assert(idset_str_init(&many, 0, 0));
    cr_assert(idset_str_init(&single, 0, 0));
    static char ids[3000 * 16];
    static bool model[3000];
    uint64_t distinct = 0;
    size_t bytes = 0;
    for (int i = 0; i < 3000; i++) {
        /* Every tenth id repeats an earlier number. */
        int n = i % 10 == 9 ? i / 2 : i;
        distinct += model[n] ? 0 : 1;
        model[n] = true;
        bytes += (size_t)snprintf(ids + bytes, 16, "DOC%d", n) + 1;
    }
    cr_assert(idset_str_insert_many(&many, ids, bytes, 3000));
    size_t pos = 0;
    for (int i = 0; i < 3000; i++) {
        size_t len = strlen(ids + pos);
        bool was;
        cr_assert(idset_str_insert(&single, ids + pos, (uint32_t)len, &was));
        cr_assert(idset_str_contains(&many, ids + pos, (uint32_t)len));
        pos += len + 1;
    }
    cr_assert_eq(many.count, single.count);
    cr_assert_eq(many.count, distinct);
    cr_assert_lt(distinct, 3000u);
    cr_assert_not(idset_str_contains(&many, "DOC3000", 7));
    idset_str_free(&many);
    idset_str_free(&single);
}

struct ring_test {
    struct ring ring;
    uint64_t count;
};

static void *ring_test_producer(void *arg)
{
    struct ring_test *t = arg;
    for (uint64_t i = 1; i <= t->count; i++) {
        ring_push(&t->ring, (void *)(uintptr_t)i);
    }
    ring_close(&t->ring);
    return NULL;
}

/* A set borrowed from another set's memory (the settled-id index maps its
 * tables from a file) answers as the original; a set chained to it with
 * `also` answers for both; inserting past the borrowed capacity or arena
 * moves into memory of its own and leaves the lender's bytes unchanged. */
Test(idset, borrowed_and_chained_sets_answer_exactly)
{
    struct idset_u64 owner, view, delta;
    cr_assert(idset_u64_init_dense(&owner, 3000));
    uint64_t rng = 7;
    static uint64_t keys[6000];
    for (int i = 0; i < 6000; i++) {
        keys[i] = test_rng_next(&rng) % UINT64_C(10000000000000000000);
    }
    cr_assert(idset_u64_insert_many(&owner, keys, 3000));
    uint64_t capacity = owner.mask + 1;
    uint64_t *copy = malloc(capacity * sizeof *copy);
    cr_assert(copy != NULL);
    memcpy(copy, owner.slots, capacity * sizeof *copy);
    cr_assert_not(idset_u64_borrow(&view, copy, capacity - 1, owner.count, 3), "not a power of two");
    cr_assert_not(idset_u64_borrow(&view, copy, capacity, capacity, 3), "over the load limit");
    cr_assert(idset_u64_borrow(&view, copy, capacity, owner.count, owner.load_quarters));
    cr_assert(idset_u64_init(&delta, 0));
    cr_assert(idset_u64_insert_many(&delta, keys + 3000, 1000));
    delta.also = &view;
    for (int i = 0; i < 6000; i++) {
        cr_assert_eq(idset_u64_contains(&view, keys[i]), i < 3000, "view, key %d", i);
        cr_assert_eq(idset_u64_contains(&delta, keys[i]), i < 4000, "chained, key %d", i);
    }
    /* Growing a borrowed table leaves the lender alone. */
    cr_assert(idset_u64_insert_many(&view, keys + 3000, 3000));
    cr_assert_not(view.borrowed);
    cr_assert(memcmp(copy, owner.slots, capacity * sizeof *copy) == 0);
    for (int i = 0; i < 6000; i++) {
        cr_assert(idset_u64_contains(&view, keys[i]));
    }
    idset_u64_free(&view);
    idset_u64_free(&delta);
    idset_u64_free(&owner);
    free(copy);

    struct idset_str sowner, sview, sdelta;
    cr_assert(idset_str_init_dense(&sowner, 100, 1000));
    char id[32];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "DOC-%d", i);
        cr_assert(idset_str_insert(&sowner, id, (uint32_t)strlen(id), &(bool){false}));
    }
    uint64_t scap = sowner.mask + 1;
    struct idset_str_slot *sslots = malloc(scap * sizeof *sslots);
    char *arena = malloc(sowner.arena_bytes);
    cr_assert(sslots != NULL && arena != NULL);
    memcpy(sslots, sowner.slots, scap * sizeof *sslots);
    memcpy(arena, sowner.arena, sowner.arena_bytes);
    cr_assert(idset_str_borrow(&sview, sslots, scap, sowner.count, arena, sowner.arena_bytes,
                               sowner.load_quarters));
    cr_assert(idset_str_init(&sdelta, 0, 0));
    cr_assert(idset_str_insert(&sdelta, "NEW-1", 5, &(bool){false}));
    sdelta.also = &sview;
    cr_assert(idset_str_contains(&sdelta, "DOC-7", 5));
    cr_assert(idset_str_contains(&sdelta, "NEW-1", 5));
    cr_assert_not(idset_str_contains(&sdelta, "DOC-100", 7));
    cr_assert_not(idset_str_contains(&sview, "NEW-1", 5));
    /* An insert into the borrowed set copies the arena out first. */
    bool was = true;
    cr_assert(idset_str_insert(&sview, "DOC-100", 7, &was));
    cr_assert_not(was);
    cr_assert(memcmp(arena, sowner.arena, sowner.arena_bytes) == 0);
    cr_assert(idset_str_contains(&sview, "DOC-100", 7));
    cr_assert(idset_str_contains(&sview, "DOC-99", 6));
    idset_str_free(&sview);
    idset_str_free(&sdelta);
    idset_str_free(&sowner);
    free(sslots);
    free(arena);
}

Test(ring, spsc_delivers_everything_in_order)
{
    static struct ring_test t;
    ring_init(&t.ring, 4);
    t.count = 200000;
    pthread_t producer;
    cr_assert_eq(pthread_create(&producer, NULL, ring_test_producer, &t), 0);
    uint64_t expected = 1;
    void *item;
    while ((item = ring_pop(&t.ring)) != NULL) {
        cr_assert_eq((uint64_t)(uintptr_t)item, expected);
        expected++;
    }
    pthread_join(producer, NULL);
    cr_assert_eq(expected, t.count + 1);
    cr_assert_null(ring_pop(&t.ring));
}
