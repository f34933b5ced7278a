/*
 * Exact identifier sets (see idset.h).
 */
#include "core/base/idset.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/base/assert.h"
#include "core/base/text.h"

/* Below this capacity nothing is worth sizing; keeps tiny batches cheap. */
#define IDSET_CAPACITY_MIN 1024u
/* Tables from this size up are mapped directly and asked for transparent
 * huge pages: a year of settled pack ids is a 1 GiB table probed at random,
 * and with 4 KiB pages nearly every probe would also miss the TLB. Fresh
 * mappings are zero, which is every table's empty state, so they need no
 * initialising pass either. */
#define IDSET_HUGE_BYTES (4u << 20)

/* Zeroed memory for a table; idset_free_table gives it back. */
static void *idset_alloc_table(uint64_t bytes)
{
    if (bytes < IDSET_HUGE_BYTES) {
        return calloc(1, bytes);
    }
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        return NULL;
    }
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* A hint: fine if refused. */
    return p;
}

static void idset_free_table(void *p, uint64_t bytes)
{
    if (p == NULL) {
        return;
    }
    if (bytes < IDSET_HUGE_BYTES) {
        free(p);
    } else {
        munmap(p, bytes);
    }
}

/* Smallest power-of-two capacity that holds expected_count at a load of at
 * most load_quarters / 4. */
static uint64_t idset_capacity_for(uint64_t expected_count, uint32_t load_quarters)
{
    uint64_t capacity = IDSET_CAPACITY_MIN;
    while (capacity * load_quarters < expected_count * 4 && capacity < (UINT64_C(1) << 40)) {
        capacity <<= 1;
    }
    return capacity;
}

static uint32_t idset_log2(uint64_t power_of_two)
{
    return (uint32_t)__builtin_ctzll(power_of_two);
}

static inline uint64_t idset_u64_slot(const struct idset_u64 *set, uint64_t key)
{
    /* Fibonacci hashing: pack ids share long prefixes, the multiply spreads
     * every bit into the top ones we keep. */
    return (key * UINT64_C(0x9E3779B97F4A7C15)) >> set->shift;
}

static bool idset_u64_init_load(struct idset_u64 *set, uint64_t expected_count,
                                uint32_t load_quarters)
{
    uint64_t capacity = idset_capacity_for(expected_count, load_quarters);
    set->slots = idset_alloc_table(capacity * sizeof(uint64_t));
    if (set->slots == NULL) {
        return false;
    }
    set->mask = capacity - 1;
    set->count = 0;
    set->load_quarters = load_quarters;
    set->grow_at = capacity / 4 * load_quarters;
    set->shift = 64 - idset_log2(capacity);
    set->borrowed = false;
    set->also = NULL;
    return true;
}

bool idset_u64_init(struct idset_u64 *set, uint64_t expected_count)
{
    return idset_u64_init_load(set, expected_count, 2);
}

bool idset_u64_init_dense(struct idset_u64 *set, uint64_t expected_count)
{
    return idset_u64_init_load(set, expected_count, 3);
}

/* A borrowed table must have the shape the set's own tables have: a power
 * of two of slots, a known load, and room for its count. */
static bool idset_borrow_shape_ok(uint64_t capacity, uint64_t count, uint32_t load_quarters)
{
    return capacity >= 2 && (capacity & (capacity - 1)) == 0 &&
           (load_quarters == 2 || load_quarters == 3) && count <= capacity / 4 * load_quarters;
}

bool idset_u64_borrow(struct idset_u64 *set, uint64_t *slots, uint64_t capacity, uint64_t count,
                      uint32_t load_quarters)
{
    memset(set, 0, sizeof *set);
    if (slots == NULL || !idset_borrow_shape_ok(capacity, count, load_quarters)) {
        return false;
    }
    set->slots = slots;
    set->mask = capacity - 1;
    set->count = count;
    set->load_quarters = load_quarters;
    set->grow_at = capacity / 4 * load_quarters;
    set->shift = 64 - idset_log2(capacity);
    set->borrowed = true;
    return true;
}

void idset_u64_free(struct idset_u64 *set)
{
    if (!set->borrowed) {
        idset_free_table(set->slots, (set->mask + 1) * sizeof(uint64_t));
    }
    memset(set, 0, sizeof *set);
}

void idset_u64_clear(struct idset_u64 *set)
{
    if (set->count != 0) {
        memset(set->slots, 0, (set->mask + 1) * sizeof(uint64_t));
        set->count = 0;
    }
}

/* Prefetches are non-temporal (locality 0): a slot of these sets is
 * touched once per document at a random place, and bringing it in with
 * normal locality evicted the rule tables' hot rows (drugs, services) from
 * the shared cache; measured on a province-month's tables, non-temporal
 * prefetches took rule evaluation from ~660 to ~390 ns a line
 * (bench_rules_eval, notes/perf.md). */
void idset_u64_prefetch(const struct idset_u64 *set, uint64_t key)
{
    __builtin_prefetch(&set->slots[idset_u64_slot(set, key)], 0, 0);
    if (set->also != NULL) {
        __builtin_prefetch(&set->also->slots[idset_u64_slot(set->also, key)], 0, 0);
    }
}

/* Slots hold key + 1 so that a zero slot is free (fresh memory is a ready
 * empty table); key + 1 cannot wrap because IDSET_EMPTY_U64 is never a key. */
#define IDSET_FREE 0u

static bool idset_u64_contains_own(const struct idset_u64 *set, uint64_t key);

bool idset_u64_contains(const struct idset_u64 *set, uint64_t key)
{
    return idset_u64_contains_own(set, key) ||
           (set->also != NULL && idset_u64_contains_own(set->also, key));
}

static bool idset_u64_contains_own(const struct idset_u64 *set, uint64_t key)
{
    ADJ_ASSERT(key != IDSET_EMPTY_U64);
    uint64_t stored = key + 1;
    uint64_t i = idset_u64_slot(set, key);
    /* Bounded: load <= 1/2 guarantees a free slot within capacity steps. */
    for (uint64_t step = 0; step <= set->mask; step++) {
        uint64_t slot = set->slots[i];
        if (slot == stored) {
            return true;
        }
        if (slot == IDSET_FREE) {
            return false;
        }
        i = (i + 1) & set->mask;
    }
    ADJ_ASSERT(false);
    return false;
}

static void idset_u64_put(struct idset_u64 *set, uint64_t key, bool *was_present)
{
    uint64_t stored = key + 1;
    uint64_t i = idset_u64_slot(set, key);
    for (uint64_t step = 0; step <= set->mask; step++) {
        uint64_t slot = set->slots[i];
        if (slot == stored) {
            *was_present = true;
            return;
        }
        if (slot == IDSET_FREE) {
            set->slots[i] = stored;
            set->count++;
            *was_present = false;
            return;
        }
        i = (i + 1) & set->mask;
    }
    ADJ_ASSERT(false);
}

static bool idset_u64_grow(struct idset_u64 *set)
{
    struct idset_u64 bigger;
    /* Twice the capacity at the same load limit. */
    if (!idset_u64_init_load(&bigger, set->grow_at * 2, set->load_quarters)) {
        return false;
    }
    for (uint64_t i = 0; i <= set->mask; i++) {
        if (set->slots[i] != IDSET_FREE) {
            bool ignored;
            idset_u64_put(&bigger, set->slots[i] - 1, &ignored);
        }
    }
    ADJ_ASSERT(bigger.count == set->count);
    idset_u64_free(set);
    *set = bigger;
    return true;
}

bool idset_u64_insert(struct idset_u64 *set, uint64_t key, bool *was_present)
{
    ADJ_ASSERT(key != IDSET_EMPTY_U64);
    if (set->count + 1 > set->grow_at && !idset_u64_grow(set)) {
        return false;
    }
    idset_u64_put(set, key, was_present);
    return true;
}

bool idset_u64_remove(struct idset_u64 *set, uint64_t key)
{
    ADJ_ASSERT(key != IDSET_EMPTY_U64);
    uint64_t stored = key + 1;
    uint64_t i = idset_u64_slot(set, key);
    uint64_t step = 0;
    for (; step <= set->mask; step++) {
        if (set->slots[i] == stored) {
            break;
        }
        if (set->slots[i] == IDSET_FREE) {
            return false;
        }
        i = (i + 1) & set->mask;
    }
    ADJ_ASSERT(step <= set->mask);
    /* Knuth's algorithm R: move later members of the chain back into the
     * hole when their home slot does not lie cyclically in (hole, j]. */
    uint64_t hole = i;
    uint64_t j = i;
    for (uint64_t guard = 0; guard <= set->mask; guard++) {
        j = (j + 1) & set->mask;
        uint64_t stored_j = set->slots[j];
        if (stored_j == IDSET_FREE) {
            break;
        }
        uint64_t home = idset_u64_slot(set, stored_j - 1);
        bool home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_in_range) {
            set->slots[hole] = stored_j;
            hole = j;
        }
    }
    set->slots[hole] = IDSET_FREE;
    set->count--;
    return true;
}

bool idset_u64_insert_many(struct idset_u64 *set, const uint64_t *keys, size_t count)
{
    /* Distance at which a prefetch has arrived by the time we probe. */
    enum { ahead = 16 };
    while (set->count + count > set->grow_at) {
        if (!idset_u64_grow(set)) {
            return false;
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (i + ahead < count) {
            idset_u64_prefetch(set, keys[i + ahead]);
        }
        bool ignored;
        ADJ_ASSERT(keys[i] != IDSET_EMPTY_U64);
        idset_u64_put(set, keys[i], &ignored);
    }
    return true;
}

static bool idset_str_init_load(struct idset_str *set, uint64_t expected_count,
                                uint64_t expected_bytes, uint32_t load_quarters)
{
    uint64_t capacity = idset_capacity_for(expected_count, load_quarters);
    memset(set, 0, sizeof *set);
    set->slots = idset_alloc_table(capacity * sizeof(struct idset_str_slot));
    set->arena_cap = expected_bytes > 4096 ? expected_bytes : 4096;
    set->arena = malloc(set->arena_cap);
    if (set->slots == NULL || set->arena == NULL) {
        idset_free_table(set->slots, capacity * sizeof(struct idset_str_slot));
        free(set->arena);
        memset(set, 0, sizeof *set);
        return false;
    }
    set->mask = capacity - 1;
    set->load_quarters = load_quarters;
    set->grow_at = capacity / 4 * load_quarters;
    return true;
}

bool idset_str_init(struct idset_str *set, uint64_t expected_count, uint64_t expected_bytes)
{
    return idset_str_init_load(set, expected_count, expected_bytes, 2);
}

bool idset_str_init_dense(struct idset_str *set, uint64_t expected_count, uint64_t expected_bytes)
{
    return idset_str_init_load(set, expected_count, expected_bytes, 3);
}

bool idset_str_borrow(struct idset_str *set, struct idset_str_slot *slots, uint64_t capacity,
                      uint64_t count, char *arena, uint64_t arena_bytes, uint32_t load_quarters)
{
    memset(set, 0, sizeof *set);
    if (slots == NULL || arena == NULL || !idset_borrow_shape_ok(capacity, count, load_quarters)) {
        return false;
    }
    set->slots = slots;
    set->mask = capacity - 1;
    set->count = count;
    set->load_quarters = load_quarters;
    set->grow_at = capacity / 4 * load_quarters;
    set->arena = arena;
    set->arena_bytes = arena_bytes;
    set->arena_cap = arena_bytes;
    set->slots_borrowed = true;
    set->arena_borrowed = true;
    return true;
}

/* Makes room for `more` arena bytes; a borrowed arena is copied out first
 * (it cannot be realloc'd). */
static bool idset_str_arena_reserve(struct idset_str *set, uint64_t more)
{
    if (set->arena_bytes + more <= set->arena_cap && !(set->arena_borrowed && more > 0)) {
        return true;
    }
    uint64_t cap = set->arena_cap > 4096 ? set->arena_cap : 4096;
    while (cap < set->arena_bytes + more) {
        cap *= 2;
    }
    char *arena;
    if (set->arena_borrowed) {
        arena = malloc(cap);
        if (arena != NULL) {
            memcpy(arena, set->arena, set->arena_bytes);
        }
    } else {
        arena = realloc(set->arena, cap);
    }
    if (arena == NULL) {
        return false;
    }
    set->arena = arena;
    set->arena_cap = cap;
    set->arena_borrowed = false;
    return true;
}

void idset_str_free(struct idset_str *set)
{
    if (set->slots != NULL && !set->slots_borrowed) {
        idset_free_table(set->slots, (set->mask + 1) * sizeof(struct idset_str_slot));
    }
    if (!set->arena_borrowed) {
        free(set->arena);
    }
    memset(set, 0, sizeof *set);
}

void idset_str_clear(struct idset_str *set)
{
    if (set->count != 0) {
        memset(set->slots, 0, (set->mask + 1) * sizeof(struct idset_str_slot));
        set->count = 0;
        set->arena_bytes = 0;
    }
}

static uint64_t idset_str_hash(const char *id, uint32_t len)
{
    uint64_t h = text_hash64(id, len);
    return h == 0 ? 1 : h;
}

/* Returns the slot index holding id, or the free slot where it would go. */
static uint64_t idset_str_find(const struct idset_str *set, uint64_t hash, const char *id,
                               uint32_t len, bool *found)
{
    uint64_t i = hash & set->mask;
    for (uint64_t step = 0; step <= set->mask; step++) {
        const struct idset_str_slot *slot = &set->slots[i];
        if (slot->hash == 0) {
            *found = false;
            return i;
        }
        if (slot->hash == hash && (slot->ref & 0xFF) == len &&
            memcmp(set->arena + (slot->ref >> 8), id, len) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & set->mask;
    }
    ADJ_ASSERT(false);
    *found = false;
    return 0;
}

void idset_str_prefetch(const struct idset_str *set, const char *id, uint32_t len)
{
    uint64_t hash = idset_str_hash(id, len);
    __builtin_prefetch(&set->slots[hash & set->mask], 0, 0); /* non-temporal: as above */
    if (set->also != NULL) {
        __builtin_prefetch(&set->also->slots[hash & set->also->mask], 0, 0);
    }
}

bool idset_str_contains(const struct idset_str *set, const char *id, uint32_t len)
{
    bool found;
    uint64_t hash = idset_str_hash(id, len);
    (void)idset_str_find(set, hash, id, len, &found);
    if (!found && set->also != NULL) {
        (void)idset_str_find(set->also, hash, id, len, &found);
    }
    return found;
}

static bool idset_str_grow(struct idset_str *set)
{
    uint64_t capacity = (set->mask + 1) * 2;
    struct idset_str_slot *slots = idset_alloc_table(capacity * sizeof *slots);
    if (slots == NULL) {
        return false;
    }
    for (uint64_t i = 0; i <= set->mask; i++) {
        if (set->slots[i].hash != 0) {
            uint64_t j = set->slots[i].hash & (capacity - 1);
            while (slots[j].hash != 0) {
                j = (j + 1) & (capacity - 1);
            }
            slots[j] = set->slots[i];
        }
    }
    if (!set->slots_borrowed) {
        idset_free_table(set->slots, (set->mask + 1) * sizeof *slots);
    }
    set->slots_borrowed = false;
    set->slots = slots;
    set->mask = capacity - 1;
    set->grow_at = capacity / 4 * set->load_quarters;
    return true;
}

bool idset_str_insert(struct idset_str *set, const char *id, uint32_t len, bool *was_present)
{
    ADJ_ASSERT(len >= 1 && len <= 255);
    if (set->count + 1 > set->grow_at && !idset_str_grow(set)) {
        return false;
    }
    uint64_t hash = idset_str_hash(id, len);
    bool found;
    uint64_t i = idset_str_find(set, hash, id, len, &found);
    if (found) {
        *was_present = true;
        return true;
    }
    if (!idset_str_arena_reserve(set, len)) {
        return false;
    }
    memcpy(set->arena + set->arena_bytes, id, len);
    set->slots[i].hash = hash;
    set->slots[i].ref = (set->arena_bytes << 8) | len;
    set->arena_bytes += len;
    set->count++;
    *was_present = false;
    return true;
}

bool idset_str_insert_many(struct idset_str *set, const char *ids, size_t bytes, size_t count)
{
    /* A small ring of hashed ids: the slot of id i + ahead is prefetched
     * while id i is inserted. */
    enum { ahead = 8 };
    struct pending {
        const char *id;
        uint32_t len;
        uint64_t hash;
    } ring[ahead];
    while (set->count + count > set->grow_at) {
        if (!idset_str_grow(set)) {
            return false;
        }
    }
    if (!idset_str_arena_reserve(set, bytes)) {
        return false;
    }
    size_t pos = 0;
    size_t queued = 0;
    size_t done = 0;
    /* Bounded by count and bytes: each step consumes one id or drains one. */
    while (done < queued || (queued < count && pos < bytes)) {
        if (queued < count && pos < bytes && queued - done < ahead) {
            size_t len = strnlen(ids + pos, bytes - pos);
            struct pending *p = &ring[queued % ahead];
            p->id = ids + pos;
            p->len = (uint32_t)(len <= 255 ? len : 0);
            p->hash = p->len > 0 ? idset_str_hash(p->id, p->len) : 0;
            if (p->len > 0) {
                __builtin_prefetch(&set->slots[p->hash & set->mask]);
            }
            pos += len + 1;
            queued++;
            continue;
        }
        struct pending *p = &ring[done % ahead];
        done++;
        if (p->len == 0) {
            continue;
        }
        bool found;
        uint64_t i = idset_str_find(set, p->hash, p->id, p->len, &found);
        if (found) {
            continue;
        }
        memcpy(set->arena + set->arena_bytes, p->id, p->len);
        set->slots[i].hash = p->hash;
        set->slots[i].ref = (set->arena_bytes << 8) | p->len;
        set->arena_bytes += p->len;
        set->count++;
    }
    return true;
}
