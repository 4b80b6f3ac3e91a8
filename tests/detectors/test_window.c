/*
 * test_window.c - sliding window math at bucket and window boundaries, equal
 * and backward stamps, saturation; token bucket refill and limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../detectors/window.h"

static void test_width(void **state)
{
    (void)state;
    assert_int_equal(sw_window_width(10000), 2000);
    assert_int_equal(sw_window_width(60000), 12000);
    assert_int_equal(sw_window_width(1), 1);
}

static void test_boundaries(void **state)
{
    (void)state;
    struct sw_window w = {0};
    const int64_t W = 10000, wd = sw_window_width(W), t0 = 100000;
    assert_int_equal(sw_window_sum(&w, wd, t0), 0);
    sw_window_add(&w, wd, t0, 1);
    assert_int_equal(sw_window_sum(&w, wd, t0), 1);
    /* Inside the window up to its end. */
    assert_int_equal(sw_window_sum(&w, wd, t0 + W - 1), 1);
    /* Gone one bucket after the window (interpolated tail). */
    assert_int_equal(sw_window_sum(&w, wd, t0 + W + wd), 0);
    assert_int_equal(sw_window_sum(&w, wd, t0 + 10 * W), 0);
    /* Monotone non-increasing while it ages. */
    uint32_t last = 1;
    for (int64_t t = t0; t < t0 + 2 * W; t += 97) {
        uint32_t s = sw_window_sum(&w, wd, t);
        assert_true(s <= last);
        last = s;
    }
    /* Adding after a long gap forgets the old bucket. */
    sw_window_add(&w, wd, t0 + 100 * W, 2);
    assert_int_equal(sw_window_sum(&w, wd, t0 + 100 * W), 2);
}

static void test_uniform_rate(void **state)
{
    (void)state;
    struct sw_window w = {0};
    const int64_t W = 10000, wd = sw_window_width(W);
    /* 10 events/s for 60 s: every reading after warm-up is 100 +- 10. */
    for (int64_t t = 1000000; t < 1060000; t += 100) {
        sw_window_add(&w, wd, t, 1);
        if (t >= 1000000 + W) {
            uint32_t s = sw_window_sum(&w, wd, t);
            assert_in_range(s, 90, 110);
        }
    }
}

static void test_equal_and_backward(void **state)
{
    (void)state;
    struct sw_window w = {0};
    const int64_t wd = sw_window_width(10000);
    for (int i = 0; i < 1000; i++) {
        sw_window_add(&w, wd, 50000, 1); /* equal stamps */
    }
    assert_int_equal(sw_window_sum(&w, wd, 50000), 1000);
    sw_window_add(&w, wd, 46000, 1); /* backward, inside the ring */
    assert_int_equal(sw_window_sum(&w, wd, 50000), 1001);
    sw_window_add(&w, wd, 1000, 1); /* far backward: clamps to newest */
    assert_int_equal(sw_window_sum(&w, wd, 50000), 1002);
    /* A backward query reads as of the newest bucket, never garbage. */
    assert_int_equal(sw_window_sum(&w, wd, 20000), 1002);
    /* The window never moved backwards: new events still land. */
    sw_window_add(&w, wd, 50001, 1);
    assert_int_equal(sw_window_sum(&w, wd, 50001), 1003);
}

static void test_saturation(void **state)
{
    (void)state;
    struct sw_window w = {0};
    const int64_t wd = sw_window_width(10000);
    sw_window_add(&w, wd, 5000, 70000);
    sw_window_add(&w, wd, 5000, 70000);
    assert_int_equal(sw_window_sum(&w, wd, 5000), 65535);
    sw_window_reset(&w);
    assert_int_equal(sw_window_sum(&w, wd, 5000), 0);
}

static void test_index_wrap(void **state)
{
    (void)state;
    /* 1 ms buckets: the absolute index wraps near 6 * 2^29; counts must not. */
    struct sw_window w = {0};
    const int64_t wd = 1, wrap = 6ll * (1ll << 29);
    for (int64_t t = wrap - 3; t <= wrap + 1; t++) {
        sw_window_add(&w, wd, t, 1);
    }
    assert_int_equal(sw_window_sum(&w, wd, wrap + 1), 5);
    assert_int_equal(sw_window_sum(&w, wd, wrap + 3), 4); /* wrap-2 .. wrap+1 */
    assert_int_equal(sw_window_sum(&w, wd, wrap + 10), 0);
}

static void test_high_index(void **state)
{
    (void)state;
    /* 1 s buckets (a 5 s window) at 2026 stamps: absolute indexes above
     * 2^30, where index + M no longer fits 32 bits. The sum read the ring
     * rotated by two buckets there before (4, the oldest bucket in full). */
    struct sw_window w = {0};
    const int64_t wd = sw_window_width(5000), t0 = 1767614400000ll; /* 2026-01-05T12:00:00Z */
    sw_window_add(&w, wd, t0, 4);
    sw_window_add(&w, wd, t0 + 2000, 16);
    /* t0's bucket is the oldest, a quarter of it inside: 16 + 4 / 4 */
    assert_int_equal(sw_window_sum(&w, wd, t0 + 5750), 17);
    assert_int_equal(sw_window_sum(&w, wd, t0 + 2000), 20);
    assert_int_equal(sw_window_sum(&w, wd, t0 + 7250), 12); /* 16 * 3 / 4 */
}

static void test_tbucket(void **state)
{
    (void)state;
    struct sw_tbucket b;
    sw_tbucket_init(&b, 5, 10000);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(sw_tbucket_take(&b, 1000, 5, 10000, 1), 1);
    }
    assert_int_equal(sw_tbucket_take(&b, 1000, 5, 10000, 1), 0); /* empty */
    assert_int_equal(sw_tbucket_take(&b, 1000, 5, 10999, 1), 0); /* 0.999 token */
    assert_int_equal(sw_tbucket_take(&b, 1000, 5, 11000, 1), 1); /* 1 token after 1 s */
    /* A backward stamp refills nothing. */
    assert_int_equal(sw_tbucket_take(&b, 1000, 5, 5000, 1), 0);
    /* Refill caps at burst. */
    assert_int_equal(sw_tbucket_level(&b, 1000, 5, 1000000), 5);
    /* Fractional rate: 0.5 token/s. */
    sw_tbucket_init(&b, 1, 0);
    assert_int_equal(sw_tbucket_take(&b, 500, 1, 0, 1), 1);
    assert_int_equal(sw_tbucket_take(&b, 500, 1, 1000, 1), 0);
    assert_int_equal(sw_tbucket_take(&b, 500, 1, 2000, 1), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_width),        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_uniform_rate), cmocka_unit_test(test_equal_and_backward),
        cmocka_unit_test(test_saturation),   cmocka_unit_test(test_index_wrap),
        cmocka_unit_test(test_high_index),   cmocka_unit_test(test_tbucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
