/*
 * Exact sets of identifiers for the cross-document checks: pack ids already
 * consumed (K08) and doc ids already seen (K09), in this batch and in
 * settled history. "Exact" is the point: a hash collision must never make a
 * fresh pack "reused", so the u64 set stores whole keys (a valid pack id
 * packs into 64 bits with no loss, core/base/ids.h) and the string set
 * compares whole ids after the hash matches.
 *
 * Open addressing with linear probing, power-of-two capacity, load kept at
 * or below one half (three quarters for the dense, pre-sized settled
 * sets); the tables grow by doubling. Lookups may be prefetched
 * ahead (idset_*_prefetch) so a batch of lookups overlaps its cache misses,
 * which is where a province-month's time goes.
 *
 * Not thread-safe for writes; concurrent readers are fine while nobody
 * writes (the settled sets are read-only during a run).
 */
#ifndef ADJ_CORE_BASE_IDSET_H
#define ADJ_CORE_BASE_IDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDSET_EMPTY_U64 UINT64_MAX /* Never a valid key (ids_uid_pack). */

struct idset_u64 {
    uint64_t *slots;  /* key + 1; 0 where free. */
    uint64_t mask;    /* capacity - 1 */
    uint64_t count;
    uint64_t grow_at; /* Count beyond which the table doubles. */
    uint32_t shift;   /* 64 - log2(capacity), for the multiplicative hash. */
    uint32_t load_quarters; /* Most load kept: 2 = one half, 3 = three quarters. */
    bool borrowed;    /* slots belong to someone else (idset_u64_borrow). */
    /* A read-only set whose keys this one holds too: contains and prefetch
     * consult both; insert and count see only this one's own keys. The
     * settled history is a mapped index (core/ledger.h) plus the few
     * batches posted since it was written. NULL: none. */
    const struct idset_u64 *also;
};

struct idset_str_slot {
    uint64_t hash;    /* 0 = free; hashes of 0 are stored as 1. */
    uint64_t ref;     /* (arena offset << 8) | length */
};

struct idset_str {
    struct idset_str_slot *slots;
    uint64_t mask;
    uint64_t count;
    uint64_t grow_at; /* Count beyond which the table doubles. */
    uint32_t load_quarters; /* 2 = one half, 3 = three quarters. */
    char *arena;      /* The ids' bytes, back to back. */
    uint64_t arena_bytes;
    uint64_t arena_cap;
    bool slots_borrowed; /* slots / arena belong to someone else */
    bool arena_borrowed; /* (idset_str_borrow). */
    const struct idset_str *also; /* As idset_u64.also. */
};

bool idset_u64_init(struct idset_u64 *set, uint64_t expected_count);
/* For a large set whose size is known up front (settled history): kept up
 * to three quarters full instead of one half, so a year of pack ids takes
 * 512 MiB instead of 1 GiB, and the kernel zeroes half the pages at
 * startup. Probes stay short: 8 slots share a cache line. */
bool idset_u64_init_dense(struct idset_u64 *set, uint64_t expected_count);
void idset_u64_free(struct idset_u64 *set);
/* Empties the set, keeping its capacity. */
void idset_u64_clear(struct idset_u64 *set);
bool idset_u64_contains(const struct idset_u64 *set, uint64_t key);
/* Inserts key; *was_present tells whether it was there. False only when
 * memory runs out (the set is unchanged then). */
bool idset_u64_insert(struct idset_u64 *set, uint64_t key, bool *was_present);
/* Inserts many keys with prefetching; false on out of memory. */
/* Removes key if present (backward-shift deletion keeps probe chains
 * intact); returns whether it was there. The run itself never removes (the
 * ordered commit validates before it marks), so this is for tools. */
bool idset_u64_remove(struct idset_u64 *set, uint64_t key);
bool idset_u64_insert_many(struct idset_u64 *set, const uint64_t *keys, size_t count);
void idset_u64_prefetch(const struct idset_u64 *set, uint64_t key);

/* Ids are 1..255 bytes (the batch format allows 32). */
bool idset_str_init(struct idset_str *set, uint64_t expected_count, uint64_t expected_bytes);
/* As idset_u64_init_dense, for the settled doc ids. */
bool idset_str_init_dense(struct idset_str *set, uint64_t expected_count, uint64_t expected_bytes);
void idset_str_free(struct idset_str *set);
void idset_str_clear(struct idset_str *set);
bool idset_str_contains(const struct idset_str *set, const char *id, uint32_t len);
bool idset_str_insert(struct idset_str *set, const char *id, uint32_t len, bool *was_present);
/* Starts the cache miss of id's first slot (and of `also`'s), as
 * idset_u64_prefetch; hashes the id, so it pays only for a large set. */
void idset_str_prefetch(const struct idset_str *set, const char *id, uint32_t len);
/* Inserts `count` NUL-terminated ids laid end to end in ids[0..bytes),
 * hashing and prefetching ahead (the settled-history load). Ids of length 0
 * or over 255 are skipped. False on out of memory. */
bool idset_str_insert_many(struct idset_str *set, const char *ids, size_t bytes, size_t count);

/* Views of tables laid out by these sets elsewhere (the ledger's settled-id
 * index maps them from a file, core/ledger.h). Nothing is copied; the
 * memory stays the lender's: free leaves it alone, and an insert that must
 * grow the table or the arena moves the set into memory of its own first.
 * An insert that fits writes into the borrowed memory, which must then be
 * writable. False if the layout is not one these sets could have made
 * (capacity not a power of two, count past the load limit). */
bool idset_u64_borrow(struct idset_u64 *set, uint64_t *slots, uint64_t capacity, uint64_t count,
                      uint32_t load_quarters);
bool idset_str_borrow(struct idset_str *set, struct idset_str_slot *slots, uint64_t capacity,
                      uint64_t count, char *arena, uint64_t arena_bytes, uint32_t load_quarters);

#endif
