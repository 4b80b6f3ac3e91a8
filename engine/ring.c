/*
 * ring.c - bounded SPSC ring of fixed-size items and an event count to block
 * on (see include/sw/ring.h for the contract).
 *
 * Ring design (Lamport queue with cached indices, as in Vyukov's and
 * rigtorp's SPSC queues): `head` is written only by the consumer, `tail` only
 * by the producer, both free-running 64-bit counters (never wrap in practice)
 * masked into a power-of-two slot array. The producer publishes items with a
 * release store of `tail`; the consumer reads `tail` with acquire, so the item
 * bytes are visible before the index. Each side keeps a private copy of the
 * other's index and re-reads the shared one only when its copy says full /
 * empty, so a batch push or pop touches the other side's cache line once.
 *
 * Event count: waiters spin a little (pause), then increment `waiters`
 * (seq_cst), read `seq`, re-check the condition and FUTEX_WAIT on `seq`.
 * Notifiers make the condition true, issue a seq_cst fence, and only if
 * `waiters` is non-zero bump `seq` and FUTEX_WAKE. The two seq_cst operations
 * form the store-buffer pattern: either the waiter sees the condition or the
 * notifier sees the waiter, so no wake-up is lost.
 */
#include "sw/ring.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu/futex.h>

#include "sw/sw.h"

#if defined(__x86_64__) || defined(__i386__)
#define SW_CPU_RELAX() __builtin_ia32_pause()
#else
#define SW_CPU_RELAX() atomic_signal_fence(memory_order_seq_cst)
#endif

#define SW_CACHELINE 64

/* Counters read by the stats thread while the owner bumps them: relaxed atomic
 * load + store, no locked instruction (one writer). */
#define SW_CNT_ADD(x, n)                                                                           \
    __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)

void sw_evcount_init(struct sw_evcount *ec)
{
    atomic_init(&ec->seq, 0);
    atomic_init(&ec->waiters, 0);
}

void sw_evcount_wait(struct sw_evcount *ec, sw_evcount_cond_fn cond, void *arg, unsigned spin,
                     struct sw_wait_stats *st)
{
    if (cond(arg)) {
        return;
    }
    if (st != NULL) {
        SW_CNT_ADD(st->waits, 1);
    }
    for (unsigned i = 0; i < spin; i++) {
        SW_CPU_RELAX();
        if (cond(arg)) {
            return;
        }
    }
    for (;;) {
        atomic_fetch_add_explicit(&ec->waiters, 1, memory_order_seq_cst);
        int32_t v = atomic_load_explicit(&ec->seq, memory_order_seq_cst);
        if (cond(arg)) {
            atomic_fetch_sub_explicit(&ec->waiters, 1, memory_order_relaxed);
            return;
        }
        if (st != NULL) {
            SW_CNT_ADD(st->sleeps, 1);
        }
        /* EAGAIN (seq changed), EINTR (signal) and spurious wake-ups all just
         * re-check the condition. */
        (void)futex_async((int32_t *)&ec->seq, FUTEX_WAIT, v, NULL, NULL, 0);
        atomic_fetch_sub_explicit(&ec->waiters, 1, memory_order_relaxed);
        if (cond(arg)) {
            return;
        }
    }
}

void sw_evcount_notify(struct sw_evcount *ec)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&ec->waiters, memory_order_relaxed) != 0) {
        atomic_fetch_add_explicit(&ec->seq, 1, memory_order_seq_cst);
        (void)futex_async((int32_t *)&ec->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    }
}

struct sw_ring {
    /* consumer line */
    _Alignas(SW_CACHELINE) _Atomic uint64_t head;
    uint64_t tail_cache; /* consumer's last view of tail */
    /* producer line */
    _Alignas(SW_CACHELINE) _Atomic uint64_t tail;
    uint64_t head_cache; /* producer's last view of head */
    _Atomic bool closed;
    /* read-only after _new */
    _Alignas(SW_CACHELINE) size_t item_size;
    uint64_t mask;
    char *slots;
    struct sw_evcount not_empty; /* consumer sleeps here */
    struct sw_evcount not_full;  /* producer sleeps here */
};

int sw_ring_new(size_t item_size, size_t capacity, struct sw_ring **out)
{
    struct sw_ring *r = NULL;
    size_t cap = 2;
    if (item_size == 0 || capacity == 0 || capacity > ((size_t)1 << 40) || out == NULL) {
        return SW_EINVAL;
    }
    while (cap < capacity) {
        cap <<= 1;
    }
    r = aligned_alloc(SW_CACHELINE, sizeof(*r));
    if (r == NULL) {
        goto fail;
    }
    memset(r, 0, sizeof(*r));
    r->slots = malloc(cap * item_size);
    if (r->slots == NULL) {
        goto fail;
    }
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->closed, false);
    r->item_size = item_size;
    r->mask = cap - 1;
    sw_evcount_init(&r->not_empty);
    sw_evcount_init(&r->not_full);
    *out = r;
    return 0;
fail:
    free(r);
    return SW_ENOMEM;
}

void sw_ring_free(struct sw_ring *r)
{
    if (r == NULL) {
        return;
    }
    free(r->slots);
    free(r);
}

size_t sw_ring_capacity(const struct sw_ring *r)
{
    return (size_t)r->mask + 1;
}

/* Producer: free contiguous slots from tail, refreshing head only if needed. */
static size_t ring_free_run(struct sw_ring *r, uint64_t tail, size_t want)
{
    uint64_t cap = r->mask + 1;
    if (tail - r->head_cache + want > cap) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    }
    size_t space = (size_t)(cap - (tail - r->head_cache));
    size_t to_end = (size_t)(cap - (tail & r->mask));
    return space < to_end ? space : to_end;
}

void *sw_ring_reserve(struct sw_ring *r, size_t *n)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t run = ring_free_run(r, tail, *n ? *n : 1);
    if (run < *n) {
        *n = run;
    }
    return r->slots + (tail & r->mask) * r->item_size;
}

void sw_ring_commit(struct sw_ring *r, size_t k)
{
    if (k == 0) {
        return;
    }
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    atomic_store_explicit(&r->tail, tail + k, memory_order_release);
    sw_evcount_notify(&r->not_empty);
}

size_t sw_ring_push(struct sw_ring *r, const void *items, size_t n)
{
    const char *src = items;
    size_t done = 0;
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    /* At most two runs: up to the end of the array, then from its start. */
    for (int pass = 0; pass < 2 && done < n; pass++) {
        size_t run = ring_free_run(r, tail + done, n - done);
        if (run == 0) {
            break;
        }
        if (run > n - done) {
            run = n - done;
        }
        memcpy(r->slots + ((tail + done) & r->mask) * r->item_size, src + done * r->item_size,
               run * r->item_size);
        done += run;
    }
    if (done > 0) {
        atomic_store_explicit(&r->tail, tail + done, memory_order_release);
        sw_evcount_notify(&r->not_empty);
    }
    return done;
}

struct ring_wait_arg {
    struct sw_ring *r;
    uint64_t tail;
};

static bool ring_has_space(void *arg)
{
    struct ring_wait_arg *a = arg;
    uint64_t head = atomic_load_explicit(&a->r->head, memory_order_acquire);
    return a->tail - head < a->r->mask + 1;
}

void *sw_ring_reserve_wait(struct sw_ring *r, struct sw_wait_stats *st)
{
    for (;;) {
        size_t n = 1;
        void *slot = sw_ring_reserve(r, &n);
        if (n > 0) {
            return slot;
        }
        struct ring_wait_arg a = {r, atomic_load_explicit(&r->tail, memory_order_relaxed)};
        sw_evcount_wait(&r->not_full, ring_has_space, &a, 200, st);
    }
}

void sw_ring_push_wait(struct sw_ring *r, const void *items, size_t n, struct sw_wait_stats *st)
{
    const char *src = items;
    while (n > 0) {
        size_t k = sw_ring_push(r, src, n);
        src += k * r->item_size;
        n -= k;
        if (n > 0) {
            struct ring_wait_arg a = {r, atomic_load_explicit(&r->tail, memory_order_relaxed)};
            sw_evcount_wait(&r->not_full, ring_has_space, &a, 200, st);
        }
    }
}

void sw_ring_close(struct sw_ring *r)
{
    atomic_store_explicit(&r->closed, true, memory_order_release);
    sw_evcount_notify(&r->not_empty);
}

bool sw_ring_closed(const struct sw_ring *r)
{
    return atomic_load_explicit(&r->closed, memory_order_acquire);
}

/* Consumer: readable contiguous items from head. */
static size_t ring_ready_run(struct sw_ring *r, uint64_t head)
{
    if (r->tail_cache == head) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    }
    size_t avail = (size_t)(r->tail_cache - head);
    size_t to_end = (size_t)(r->mask + 1 - (head & r->mask));
    return avail < to_end ? avail : to_end;
}

const void *sw_ring_peek(struct sw_ring *r, size_t *n)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    *n = ring_ready_run(r, head);
    return r->slots + (head & r->mask) * r->item_size;
}

void sw_ring_release(struct sw_ring *r, size_t k)
{
    if (k == 0) {
        return;
    }
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    atomic_store_explicit(&r->head, head + k, memory_order_release);
    sw_evcount_notify(&r->not_full);
}

size_t sw_ring_pop(struct sw_ring *r, void *items, size_t max)
{
    char *dst = items;
    size_t done = 0;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    for (int pass = 0; pass < 2 && done < max; pass++) {
        size_t run = ring_ready_run(r, head + done);
        if (run == 0) {
            break;
        }
        if (run > max - done) {
            run = max - done;
        }
        memcpy(dst + done * r->item_size, r->slots + ((head + done) & r->mask) * r->item_size,
               run * r->item_size);
        done += run;
    }
    if (done > 0) {
        atomic_store_explicit(&r->head, head + done, memory_order_release);
        sw_evcount_notify(&r->not_full);
    }
    return done;
}

static bool ring_readable_or_closed(void *arg)
{
    struct sw_ring *r = arg;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    return atomic_load_explicit(&r->tail, memory_order_acquire) != head ||
           atomic_load_explicit(&r->closed, memory_order_acquire);
}

bool sw_ring_wait_readable(struct sw_ring *r, struct sw_wait_stats *st)
{
    sw_evcount_wait(&r->not_empty, ring_readable_or_closed, r, 200, st);
    /* closed is stored after the last commit, so re-reading tail after seeing
     * closed cannot miss an item. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    return atomic_load_explicit(&r->tail, memory_order_acquire) != head;
}

size_t sw_ring_count(const struct sw_ring *r)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    return (size_t)(tail - head);
}
