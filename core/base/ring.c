/*
 * SPSC ring with futex sleeping (see ring.h for the invariants).
 */
#include "core/base/ring.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/base/assert.h"

static void ring_futex_wait(_Atomic uint32_t *word, uint32_t expected)
{
    /* Returns at once if *word != expected (no lost wake-up); spurious
     * wake-ups are fine, callers re-check in a loop. */
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void ring_futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void ring_init(struct ring *ring, uint32_t capacity)
{
    ADJ_ASSERT(capacity >= 1 && capacity <= RING_CAPACITY_MAX);
    ADJ_ASSERT((capacity & (capacity - 1)) == 0);
    atomic_init(&ring->head, 0);
    atomic_init(&ring->tail, 0);
    atomic_init(&ring->closed, 0);
    atomic_init(&ring->signal, 0);
    ring->capacity = capacity;
}

void ring_push(struct ring *ring, void *item)
{
    ADJ_ASSERT(item != NULL);
    /* Own index: relaxed is enough, only this thread writes head. */
    uint32_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    for (;;) {
        /* Acquire pairs with the consumer's release of tail in ring_pop:
         * the consumer is done reading the slot we are about to reuse. */
        uint32_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
        ADJ_ASSERT(head - tail <= ring->capacity);
        if (head - tail < ring->capacity) {
            break;
        }
        ring_futex_wait(&ring->tail, tail);
    }
    ring->slots[head & (ring->capacity - 1)] = item;
    /* Release pairs with the consumer's acquire of head: the slot write
     * above is visible before the consumer sees the new head. */
    atomic_store_explicit(&ring->head, head + 1, memory_order_release);
    atomic_fetch_add_explicit(&ring->signal, 1, memory_order_release);
    ring_futex_wake(&ring->signal);
}

void ring_close(struct ring *ring)
{
    atomic_store_explicit(&ring->closed, 1, memory_order_release);
    /* Bump the signal word so a consumer about to sleep sees a change. */
    atomic_fetch_add_explicit(&ring->signal, 1, memory_order_release);
    ring_futex_wake(&ring->signal);
}

void *ring_pop(struct ring *ring)
{
    uint32_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    for (;;) {
        /* Read the signal word first: any push or close after this read
         * changes it, so the futex wait below cannot miss a wake-up. */
        uint32_t signal = atomic_load_explicit(&ring->signal, memory_order_acquire);
        /* Acquire pairs with the producer's release of head in ring_push. */
        uint32_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
        if (head != tail) {
            break;
        }
        /* Acquire pairs with ring_close's release: every push happened
         * before closed was set, so re-read head before giving up. */
        if (atomic_load_explicit(&ring->closed, memory_order_acquire) != 0) {
            if (atomic_load_explicit(&ring->head, memory_order_acquire) == tail) {
                return NULL;
            }
            continue;
        }
        ring_futex_wait(&ring->signal, signal);
    }
    void *item = ring->slots[tail & (ring->capacity - 1)];
    /* Release pairs with the producer's acquire of tail in ring_push. */
    atomic_store_explicit(&ring->tail, tail + 1, memory_order_release);
    ring_futex_wake(&ring->tail);
    return item;
}
