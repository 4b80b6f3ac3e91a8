/*
 * test_over_limit.c - a sender whose stanzas keep crossing the parser's limits
 * (minimal SW_F_OVER_LIMIT events) is a signal; ordinary stanzas, a few
 * over-limit ones, servers and room reflections are not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../support/evbuild.h"

extern const struct sw_detector_ops sw_over_limit_ops;

#define T0 1700000000000ll

static struct sw_evb b;

static void chat(struct sw_test_det *d, int64_t t, const char *from, const char *to, bool over)
{
    sw_evb_chat(&b, t, from, to, "x");
    if (over) {
        b.ev.flags |= SW_F_OVER_LIMIT;
    }
    sw_test_det_feed(d, &b.ev);
}

static void test_repeated_over_limit(void **state)
{
    (void)state;
    struct sw_test_det d;
    char to[64];
    assert_int_equal(sw_test_det_start(&d, &sw_over_limit_ops, NULL), 0);
    /* 3 over-limit stanzas in 10 minutes: allowed (default max 3) */
    for (int i = 0; i < 3; i++) {
        snprintf(to, sizeof(to), "t%d@a.example", i);
        chat(&d, T0 + i * 60000, "probe@evil.example/r", to, true);
    }
    /* plenty of ordinary stanzas from the same sender: not counted */
    for (int i = 0; i < 50; i++) {
        chat(&d, T0 + 200000 + i * 1000, "probe@evil.example/r", "t@a.example", false);
    }
    assert_int_equal(sw_test_count(&d.out, NULL, NULL), 0);
    /* the 4th within the window: over_limit.repeat */
    chat(&d, T0 + 300000, "probe@evil.example/r", "t9@a.example", true);
    assert_int_equal(sw_test_count(&d.out, "over_limit.repeat", "probe@evil.example"), 1);
    assert_string_equal(d.out.hits[0].kind, "hostile-input");
    /* cooldown: a 5th right after gives no second hit */
    chat(&d, T0 + 301000, "probe@evil.example/r", "t9@a.example", true);
    assert_int_equal(sw_test_count(&d.out, NULL, NULL), 1);
    sw_test_det_stop(&d);
}

static void test_spread_out_and_servers(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_over_limit_ops, NULL), 0);
    /* one over-limit stanza every 4 minutes: never more than 3 in 10 minutes */
    for (int i = 0; i < 20; i++) {
        chat(&d, T0 + i * 240000, "paste@a.example/r", "t@a.example", true);
    }
    /* a server's over-limit stanzas are never the server's offence */
    for (int i = 0; i < 20; i++) {
        chat(&d, T0 + i * 1000, "a.example", "t@a.example", true);
    }
    assert_int_equal(sw_test_count(&d.out, NULL, NULL), 0);
    sw_test_det_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeated_over_limit),
        cmocka_unit_test(test_spread_out_and_servers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
