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

static void chat_flags(struct sw_test_det *d, int64_t t, const char *from, const char *to,
                       uint32_t flags)
{
    sw_evb_chat(&b, t, from, to, "x");
    b.ev.flags |= flags;
    sw_test_det_feed(d, &b.ev);
}

static void chat(struct sw_test_det *d, int64_t t, const char *from, const char *to, bool over)
{
    chat_flags(d, t, from, to, over ? SW_F_OVER_LIMIT : 0);
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

static void weight_one(const struct sw_conf_item *schema, void *settings)
{
    sw_test_set_int(schema, settings, "malformed_weight", 1);
}

/* A stanza malformed by construction (too deep, a JID part over 1023 bytes:
 * SW_F_OVER_FORM) counts malformed_weight (3): with one more over-limit
 * stanza of any kind it is a signal (a spray of mixed oversize messages,
 * swgen's over-limit "spray"), alone it is not; three big attributes (a
 * person's photos with big thumbnails) are not either. */
static void test_malformed_counts_more(void **state)
{
    (void)state;
    struct sw_test_det d;
    const uint32_t form = SW_F_OVER_LIMIT | SW_F_OVER_FORM;
    assert_int_equal(sw_test_det_start(&d, &sw_over_limit_ops, NULL), 0);
    /* one malformed stanza alone: not yet */
    chat_flags(&d, T0, "spray@evil.example/r", "s1@a.example", form);
    assert_int_equal(sw_test_count(&d.out, NULL, NULL), 0);
    /* a person: three big thumbnails in a few minutes */
    for (int i = 0; i < 3; i++) {
        chat_flags(&d, T0 + i * 60000, "photos@a.example/r", "friend@a.example", SW_F_OVER_LIMIT);
    }
    assert_int_equal(sw_test_count(&d.out, NULL, NULL), 0);
    /* the spray's second oversize stanza, a big attribute: over_limit.repeat */
    chat_flags(&d, T0 + 2500, "spray@evil.example/r", "s2@a.example", SW_F_OVER_LIMIT);
    assert_int_equal(sw_test_count(&d.out, "over_limit.repeat", "spray@evil.example"), 1);
    assert_int_equal(sw_test_count(&d.out, NULL, NULL), 1);
    sw_test_det_stop(&d);

    /* malformed_weight 1: every limit alike, two stanzas are not a signal */
    assert_int_equal(sw_test_det_start(&d, &sw_over_limit_ops, weight_one), 0);
    chat_flags(&d, T0, "spray@evil.example/r", "s1@a.example", form);
    chat_flags(&d, T0 + 2500, "spray@evil.example/r", "s2@a.example", SW_F_OVER_LIMIT);
    assert_int_equal(sw_test_count(&d.out, NULL, NULL), 0);
    sw_test_det_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeated_over_limit),
        cmocka_unit_test(test_spread_out_and_servers),
        cmocka_unit_test(test_malformed_counts_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
