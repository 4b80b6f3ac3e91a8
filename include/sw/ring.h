/*
 * ring.h - bounded SPSC ring of fixed-size items and the event count the
 * engine's threads block on.
 *
 * sw_ring: one producer thread, one consumer thread, power-of-two capacity,
 * C11 atomics only (head/tail on their own cache lines, each side caches the
 * other's index so the common case touches no shared line). Items are copied
 * in and out in batches (sw_ring_push/sw_ring_pop), or accessed in place
 * (sw_ring_peek/sw_ring_release for the consumer, sw_ring_reserve/
 * sw_ring_commit for the producer) so a merge can look at a head item before
 * taking it. When full, push returns fewer items than asked: the caller decides
 * (the engine blocks in replay with sw_ring_push_wait, or counts a drop live).
 *
 * sw_evcount: an "event count" (Vyukov) to block on any condition without a
 * lock: a waiter spins briefly, then registers, re-checks and sleeps on a
 * futex (liburcu's urcu/futex.h); a notifier pays one fence and one load when
 * nobody sleeps. With more threads than cores (2 cores here) spinning long is
 * wasteful, so the spin is short and sleeps are counted.
 *
 * Threading: as above; sw_ring_close may be called by the producer only.
 * Ownership: _new/_free. No allocation after _new.
 */
#ifndef SW_RING_H
#define SW_RING_H

#ifndef __cplusplus
#include <stdatomic.h>
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a wait cost (summed per stage for the stats). */
struct sw_wait_stats {
    uint64_t waits;  /* calls that found the condition false at first */
    uint64_t sleeps; /* futex sleeps (slow path) */
};

/* ---- event count ---- */
/* C only: C++ (the benchmarks) has no _Atomic qualifier; it uses the ring API. */
#ifndef __cplusplus
struct sw_evcount {
    _Atomic int32_t seq;     /* futex word: bumped by notify when someone sleeps */
    _Atomic int32_t waiters; /* threads between register and wake */
};

/* Condition a waiter blocks on; must be cheap and side-effect free. */
typedef bool (*sw_evcount_cond_fn)(void *arg);

void sw_evcount_init(struct sw_evcount *ec);
/** Return once cond(arg) is true: spin @spin times with a pause, then sleep
 *  until notified. @st (may be NULL) counts waits and sleeps. */
void sw_evcount_wait(struct sw_evcount *ec, sw_evcount_cond_fn cond, void *arg, unsigned spin,
                     struct sw_wait_stats *st);
/** Wake every sleeper. Call AFTER making a condition true (release store). */
void sw_evcount_notify(struct sw_evcount *ec);
#endif

/* ---- SPSC ring ---- */
struct sw_ring;

/** @capacity is rounded up to a power of two (at least 2). Returns 0,
 *  SW_EINVAL or SW_ENOMEM. */
int sw_ring_new(size_t item_size, size_t capacity, struct sw_ring **out);
void sw_ring_free(struct sw_ring *r);
size_t sw_ring_capacity(const struct sw_ring *r);

/** Producer: copy up to @n items in; returns how many fit (0 when full). */
size_t sw_ring_push(struct sw_ring *r, const void *items, size_t n);
/** Producer: push all @n items, blocking while full. */
void sw_ring_push_wait(struct sw_ring *r, const void *items, size_t n, struct sw_wait_stats *st);
/** Producer: pointer to free contiguous space for up to *n items (set to what
 *  is available, maybe 0); then sw_ring_commit(r, k) publishes k <= *n. */
void *sw_ring_reserve(struct sw_ring *r, size_t *n);
void sw_ring_commit(struct sw_ring *r, size_t k);
/** Producer: one free item slot, blocking while full; fill it in place, then
 *  sw_ring_commit(r, 1) (no copy of a whole item built elsewhere). */
void *sw_ring_reserve_wait(struct sw_ring *r, struct sw_wait_stats *st);
/** Producer: no more items; wakes the consumer. */
void sw_ring_close(struct sw_ring *r);

/** Consumer: copy up to @max items out; returns how many (0 when empty). */
size_t sw_ring_pop(struct sw_ring *r, void *items, size_t max);
/** Consumer: pointer to the readable contiguous items, *n set to their count
 *  (0: empty). The items stay owned by the ring until sw_ring_release(r, k). */
const void *sw_ring_peek(struct sw_ring *r, size_t *n);
void sw_ring_release(struct sw_ring *r, size_t k);
/** Consumer: block until an item is readable or the ring is closed and empty.
 *  Returns true if an item is readable, false at end. */
bool sw_ring_wait_readable(struct sw_ring *r, struct sw_wait_stats *st);
/** Consumer: true when the producer closed the ring (items may remain). */
bool sw_ring_closed(const struct sw_ring *r);
/** Either side: items currently readable (a snapshot). */
size_t sw_ring_count(const struct sw_ring *r);

#ifdef __cplusplus
}
#endif
#endif
