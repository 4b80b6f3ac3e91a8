/*
 * test_distinct.c - exact small set, the switch to HyperLogLog, and the HLL
 * error bound at 100k and 1M items.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../detectors/distinct.h"
#include "sw/sw.h"

static uint64_t item(uint64_t i)
{
    return sw_hash64(&i, sizeof(i));
}

static void test_exact_then_hll(void **state)
{
    (void)state;
    struct sw_distinct32 d;
    sw_distinct_init(&d, sizeof(d));
    assert_int_equal(sw_distinct_count(&d, sizeof(d)), 0);
    for (uint64_t i = 0; i < 16; i++) {
        assert_int_equal(sw_distinct_add(&d, sizeof(d), item(i)), 1);
        assert_int_equal(sw_distinct_add(&d, sizeof(d), item(i)), 0); /* duplicate */
        assert_int_equal(sw_distinct_count(&d, sizeof(d)), i + 1);
    }
    assert_true(sw_distinct_is_exact(&d));
    sw_distinct_add(&d, sizeof(d), item(16));
    assert_false(sw_distinct_is_exact(&d));
    uint32_t c = sw_distinct_count(&d, sizeof(d));
    assert_in_range(c, 13, 21);
    /* Re-adding old items after the switch changes nothing. */
    for (uint64_t i = 0; i < 17; i++) {
        assert_int_equal(sw_distinct_add(&d, sizeof(d), item(i)), 0);
    }
    assert_int_equal(sw_distinct_count(&d, sizeof(d)), c);
    /* Small sketch: 100 items within 40%. */
    for (uint64_t i = 17; i < 100; i++) {
        sw_distinct_add(&d, sizeof(d), item(i));
    }
    assert_in_range(sw_distinct_count(&d, sizeof(d)), 60, 140);
}

static void check_big(uint64_t n, uint64_t seed)
{
    size_t bytes = SW_DISTINCT_BYTES(2048);
    void *m = malloc(bytes);
    sw_distinct_init(m, bytes);
    for (uint64_t i = 0; i < n; i++) {
        sw_distinct_add(m, bytes, item(seed * 1000000007ull + i));
        if (i % 3 == 0) {
            sw_distinct_add(m, bytes, item(seed * 1000000007ull + i / 2)); /* repeats */
        }
    }
    double c = sw_distinct_count(m, bytes);
    double err = (c - (double)n) / (double)n;
    assert_true(err < 0.05 && err > -0.05);
    free(m);
}

static void test_hll_error_bound(void **state)
{
    (void)state;
    /* 4096 registers: standard error ~1.6%; 5% is > 3 sigma. */
    check_big(100000, 1);
    check_big(100000, 2);
    check_big(1000000, 3);
    check_big(5000, 4); /* linear-counting range */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_then_hll),
        cmocka_unit_test(test_hll_error_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
