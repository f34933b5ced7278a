/*
 * A bounded single-producer/single-consumer ring of pointers, the joint
 * between pipeline stages. Lock-free on the hot path: one producer thread
 * pushes, one consumer thread pops, and each side owns one index.
 *
 * Back-pressure: a push on a full ring and a pop on an empty ring sleep on
 * a futex (no busy-wait at idle) until the other side moves. Items are
 * chunks of thousands of lines, so the wake syscall after each move is
 * noise next to the work an item carries.
 *
 * Invariants:
 *  (1) 0 <= head - tail <= capacity (unsigned wrap-around arithmetic).
 *  (2) Only the producer writes head; only the consumer writes tail.
 *  (3) A slot is written before head is released past it (release store)
 *      and read after head is acquired past it (acquire load); likewise for
 *      tail in the other direction, so a slot is never reused while read.
 */
#ifndef ADJ_CORE_BASE_RING_H
#define ADJ_CORE_BASE_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Largest ring: items are pipeline chunks, a few per worker suffice. */
#define RING_CAPACITY_MAX 1024u

struct ring {
    alignas(64) _Atomic uint32_t head;   /* Next slot to write (producer). */
    alignas(64) _Atomic uint32_t tail;   /* Next slot to read (consumer). */
    alignas(64) _Atomic uint32_t closed; /* Producer finished: 1. */
    _Atomic uint32_t signal;             /* Bumped on every push and on close:
                                          * the word the consumer sleeps on. */
    uint32_t capacity;                   /* Power of two, <= RING_CAPACITY_MAX. */
    void *slots[RING_CAPACITY_MAX];
};

/* capacity must be a power of two in 1..RING_CAPACITY_MAX. */
void ring_init(struct ring *ring, uint32_t capacity);
/* Producer: waits while full. */
void ring_push(struct ring *ring, void *item);
/* Producer: no more items will come. */
void ring_close(struct ring *ring);
/* Consumer: waits while empty; returns NULL once closed and drained. */
void *ring_pop(struct ring *ring);

#endif
