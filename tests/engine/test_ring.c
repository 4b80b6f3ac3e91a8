/*
 * test_ring.c - the SPSC ring and the event count (engine/ring.c): capacity
 * rounding, full/empty, batch push/pop across the wrap point, in-place
 * peek/release and reserve/commit, close semantics, and two threads moving a
 * million sequence numbers (in order, none lost, none duplicated) with
 * blocking on both sides through the event count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sw/ring.h"
#include "sw/sw.h"

static void test_capacity(void **state)
{
    (void)state;
    struct sw_ring *r = NULL;
    assert_int_equal(sw_ring_new(8, 0, &r), SW_EINVAL);
    assert_int_equal(sw_ring_new(0, 4, &r), SW_EINVAL);
    assert_int_equal(sw_ring_new(8, 5, &r), 0);
    assert_int_equal(sw_ring_capacity(r), 8);
    sw_ring_free(r);
    assert_int_equal(sw_ring_new(8, 1, &r), 0);
    assert_int_equal(sw_ring_capacity(r), 2);
    sw_ring_free(r);
}

static void test_full_empty(void **state)
{
    (void)state;
    struct sw_ring *r = NULL;
    uint64_t in[16], out[16];
    for (uint64_t i = 0; i < 16; i++) {
        in[i] = 100 + i;
    }
    assert_int_equal(sw_ring_new(sizeof(uint64_t), 8, &r), 0);
    assert_int_equal(sw_ring_pop(r, out, 16), 0); /* empty */
    assert_int_equal(sw_ring_push(r, in, 16), 8); /* only 8 fit */
    assert_int_equal(sw_ring_count(r), 8);
    assert_int_equal(sw_ring_push(r, in, 1), 0); /* full */
    assert_int_equal(sw_ring_pop(r, out, 3), 3);
    assert_int_equal(out[0], 100);
    assert_int_equal(out[2], 102);
    /* 3 free slots now, 2 at the end of the array... the push wraps */
    assert_int_equal(sw_ring_push(r, in + 8, 5), 3);
    assert_int_equal(sw_ring_pop(r, out, 16), 8);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(out[i], 103 + (uint64_t)i);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(out[5 + i], 108 + (uint64_t)i);
    }
    assert_int_equal(sw_ring_count(r), 0);
    sw_ring_free(r);
}

static void test_peek_reserve(void **state)
{
    (void)state;
    struct sw_ring *r = NULL;
    assert_int_equal(sw_ring_new(sizeof(uint32_t), 4, &r), 0);
    size_t n = 3;
    uint32_t *w = sw_ring_reserve(r, &n);
    assert_int_equal(n, 3);
    w[0] = 7;
    w[1] = 8;
    sw_ring_commit(r, 2);
    const uint32_t *h = sw_ring_peek(r, &n);
    assert_int_equal(n, 2);
    assert_int_equal(h[0], 7);
    sw_ring_release(r, 1);
    h = sw_ring_peek(r, &n);
    assert_int_equal(n, 1);
    assert_int_equal(h[0], 8);
    /* reserve at the wrap point returns only the contiguous run */
    n = 4;
    w = sw_ring_reserve(r, &n);
    assert_int_equal(n, 2); /* slots 2, 3 */
    w[0] = 9;
    w[1] = 10;
    sw_ring_commit(r, 2);
    n = 4;
    (void)sw_ring_reserve(r, &n);
    assert_int_equal(n, 1); /* slot 0 free (slot 1 holds 8) */
    uint32_t out[4];
    assert_int_equal(sw_ring_pop(r, out, 4), 3);
    assert_int_equal(out[0], 8);
    assert_int_equal(out[2], 10);
    sw_ring_free(r);
}

static void test_close(void **state)
{
    (void)state;
    struct sw_ring *r = NULL;
    uint64_t v = 5;
    assert_int_equal(sw_ring_new(sizeof(v), 4, &r), 0);
    assert_int_equal(sw_ring_push(r, &v, 1), 1);
    sw_ring_close(r);
    assert_true(sw_ring_closed(r));
    assert_true(sw_ring_wait_readable(r, NULL)); /* an item remains */
    assert_int_equal(sw_ring_pop(r, &v, 1), 1);
    assert_false(sw_ring_wait_readable(r, NULL)); /* closed and empty */
    sw_ring_free(r);
}

#define N_ITEMS 1000000u

struct two {
    struct sw_ring *r;
    uint64_t sum;
    uint64_t got;
    int order_ok;
    struct sw_wait_stats st;
};

static void *producer(void *arg)
{
    struct two *t = arg;
    uint64_t batch[37];
    uint64_t next = 0;
    while (next < N_ITEMS) {
        size_t n = 0;
        /* varying batch sizes exercise partial pushes and the wrap point */
        size_t want = 1 + (size_t)(next % 37);
        while (n < want && next < N_ITEMS) {
            batch[n++] = next++;
        }
        sw_ring_push_wait(t->r, batch, n, &t->st);
    }
    sw_ring_close(t->r);
    return NULL;
}

/* One item at a time, filled in place (the engine's hit records). */
#define N_IN_PLACE 100000u
static void *producer_in_place(void *arg)
{
    struct two *t = arg;
    for (uint64_t next = 0; next < N_IN_PLACE; next++) {
        uint64_t *slot = sw_ring_reserve_wait(t->r, &t->st);
        *slot = next;
        sw_ring_commit(t->r, 1);
    }
    sw_ring_close(t->r);
    return NULL;
}

static void test_two_threads(void **state)
{
    (void)state;
    struct two t;
    memset(&t, 0, sizeof(t));
    t.order_ok = 1;
    assert_int_equal(sw_ring_new(sizeof(uint64_t), 64, &t.r), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, producer, &t), 0);
    uint64_t expect = 0, buf[50];
    struct sw_wait_stats cst = {0, 0};
    while (sw_ring_wait_readable(t.r, &cst)) {
        size_t n = sw_ring_pop(t.r, buf, 1 + (size_t)(expect % 50));
        for (size_t i = 0; i < n; i++) {
            if (buf[i] != expect) {
                t.order_ok = 0;
            }
            expect++;
            t.sum += buf[i];
        }
    }
    pthread_join(th, NULL);
    assert_true(t.order_ok);
    assert_int_equal(expect, N_ITEMS);
    assert_int_equal(t.sum, (uint64_t)N_ITEMS * (N_ITEMS - 1) / 2);
    sw_ring_free(t.r);
}

/* Event count: a thread sleeps until a flag is set by another. */
struct evc {
    struct sw_evcount ec;
    _Atomic int flag;
    struct sw_wait_stats st;
};

static bool flag_set(void *arg)
{
    struct evc *e = arg;
    return atomic_load(&e->flag) != 0;
}

static void *evc_waiter(void *arg)
{
    struct evc *e = arg;
    sw_evcount_wait(&e->ec, flag_set, e, 0, &e->st); /* no spin: must sleep */
    return NULL;
}

/* sw_ring_reserve_wait blocks while the ring is full (capacity 4: the
 * producer waits almost every item) and every item arrives once, in order. */
static void test_reserve_wait(void **state)
{
    (void)state;
    struct two t;
    memset(&t, 0, sizeof(t));
    assert_int_equal(sw_ring_new(sizeof(uint64_t), 4, &t.r), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, producer_in_place, &t), 0);
    uint64_t expect = 0, buf[3];
    int order_ok = 1;
    struct sw_wait_stats cst = {0, 0};
    while (sw_ring_wait_readable(t.r, &cst)) {
        size_t n = sw_ring_pop(t.r, buf, 1 + (size_t)(expect % 3));
        for (size_t i = 0; i < n; i++) {
            order_ok &= buf[i] == expect;
            expect++;
        }
    }
    pthread_join(th, NULL);
    assert_true(order_ok);
    assert_int_equal(expect, N_IN_PLACE);
    assert_true(t.st.waits > 0); /* it did wait for room */
    sw_ring_free(t.r);
}

static void test_evcount(void **state)
{
    (void)state;
    struct evc e;
    memset(&e, 0, sizeof(e));
    sw_evcount_init(&e.ec);
    atomic_init(&e.flag, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, evc_waiter, &e), 0);
    /* Wait until the waiter has registered (it then sleeps or is about to). */
    while (atomic_load(&e.ec.waiters) == 0) {
        sched_yield(); /* the waiter registers before it sleeps */
    }
    atomic_store(&e.flag, 1);
    sw_evcount_notify(&e.ec);
    pthread_join(th, NULL);
    assert_int_equal(e.st.waits, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity),     cmocka_unit_test(test_full_empty),
        cmocka_unit_test(test_peek_reserve), cmocka_unit_test(test_close),
        cmocka_unit_test(test_two_threads),  cmocka_unit_test(test_evcount),
        cmocka_unit_test(test_reserve_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
