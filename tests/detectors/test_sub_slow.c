/*
 * test_sub_slow.c - hundreds of unanswered subscription requests over hours
 * hit; a new user adding ~40 contacts who mostly answer, and a large import
 * whose contacts answer, do not. Answers reach the requester's state through
 * the detector's key hook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../support/evbuild.h"

extern const struct sw_detector_ops sw_sub_slow_ops;

#define T0 1700000000000ll

static struct sw_evb b;

static void req(struct sw_test_det *d, int64_t t, const char *from, int target)
{
    char to[64];
    snprintf(to, sizeof(to), "person%d@example.net", target);
    sw_test_det_feed(d, sw_evb_presence(&b, t, SW_T_SUBSCRIBE, from, to));
}

static void answer(struct sw_test_det *d, int64_t t, const char *requester, int target)
{
    char from[64], id[32];
    snprintf(from, sizeof(from), "person%d@example.net/home", target);
    sw_evb_presence(&b, t, SW_T_SUBSCRIBED, from, requester);
    snprintf(id, sizeof(id), "ans%d", target);
    sw_evb_id(&b, id);
    sw_test_det_feed(d, &b.ev);
}

static void test_key_hook(void **state)
{
    (void)state;
    assert_non_null(sw_sub_slow_ops.key);
    sw_evb_presence(&b, T0, SW_T_SUBSCRIBE, "req@a.example/x", "tgt@b.example");
    uint64_t k1 = sw_sub_slow_ops.key(&b.ev);
    assert_int_equal(k1, b.ev.from.bare);
    sw_evb_presence(&b, T0, SW_T_SUBSCRIBED, "tgt@b.example/y", "req@a.example");
    assert_int_equal(sw_sub_slow_ops.key(&b.ev), k1); /* same requester key */
    sw_evb_presence(&b, T0, SW_T_AVAILABLE, "tgt@b.example/y", "req@a.example");
    assert_int_equal(sw_sub_slow_ops.key(&b.ev), 0);
}

static void test_slow_unanswered(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_slow_ops, NULL), 0);
    /* One request every 90 s for 5 hours (never more than 1 a minute), 10% answered. */
    for (int i = 0; i < 200; i++) {
        int64_t t = T0 + (int64_t)i * 90000;
        req(&d, t, "slow@evil.example/x", i);
        if (i % 10 == 0) {
            answer(&d, t + 30000, "slow@evil.example", i);
        }
    }
    /* Once on crossing, again at most once per cooldown (1 h) while it goes on. */
    size_t n = sw_test_count(&d.out, "sub_slow.unanswered", "slow@evil.example");
    assert_true(n >= 1 && n <= 2);
    assert_true(d.out.hits[0].first_ms == T0);
    assert_true(d.out.hits[0].values[0].value >= 120); /* ~150 distinct targets (HLL) */
    sw_test_det_stop(&d);
}

/* Requesters not far over min_targets (150): 300 accounts, each asking 190
 * distinct strangers over ~2.4 h, 8 of them answering (swgen seed 174954429's
 * missed spammer had 205 targets and 8 answers). The 64-register counter
 * (~13% error) keeps ~1.4% of such requesters under 150 for their whole run
 * (here: some of the 300, missed); with 256 registers (~6.5%) every one is
 * reported. */
static void test_just_over_min_targets(void **state)
{
    (void)state;
    enum { REQUESTERS = 300, TARGETS = 190, ANSWERED = 8 };
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_slow_ops, NULL), 0);
    char from[64], to[64], id[32];
    for (int i = 0; i < TARGETS; i++) {
        for (int r = 0; r < REQUESTERS; r++) {
            int64_t t = T0 + (int64_t)i * 45000 + r;
            snprintf(from, sizeof(from), "req%d@spam%d.example/x", r, r % 7);
            snprintf(to, sizeof(to), "u%d.%d@example.net", r, i);
            sw_test_det_feed(&d, sw_evb_presence(&b, t, SW_T_SUBSCRIBE, from, to));
            if (i % 25 == 24 && i / 25 < ANSWERED) {
                snprintf(to, sizeof(to), "u%d.%d@example.net/m", r, i);
                snprintf(from, sizeof(from), "req%d@spam%d.example", r, r % 7);
                sw_evb_presence(&b, t + 1, SW_T_SUBSCRIBED, to, from);
                snprintf(id, sizeof(id), "a%d.%d", r, i);
                sw_evb_id(&b, id);
                sw_test_det_feed(&d, &b.ev);
            }
        }
    }
    size_t reported = 0;
    for (int r = 0; r < REQUESTERS; r++) {
        snprintf(from, sizeof(from), "req%d@spam%d.example", r, r % 7);
        reported += sw_test_count(&d.out, "sub_slow.unanswered", from) > 0;
    }
    assert_int_equal(reported, REQUESTERS);
    sw_test_det_stop(&d);
}

static void test_new_user_40_contacts(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_slow_ops, NULL), 0);
    for (int i = 0; i < 40; i++) {
        int64_t t = T0 + (int64_t)i * 20000;
        req(&d, t, "newbie@example.org/x", i);
        if (i % 5 != 0) {
            answer(&d, t + 600000, "newbie@example.org", i);
        }
    }
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

static void test_big_import_answered(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_slow_ops, NULL), 0);
    /* Moving servers: 300 contacts re-added over 2 hours, most answer within minutes. */
    for (int i = 0; i < 300; i++) {
        int64_t t = T0 + (int64_t)i * 24000;
        req(&d, t, "mover@example.org/x", i);
        if (i % 4 != 0) {
            answer(&d, t + 5000, "mover@example.org", i);
        }
    }
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_hook),
        cmocka_unit_test(test_slow_unanswered),
        cmocka_unit_test(test_just_over_min_targets),
        cmocka_unit_test(test_new_user_40_contacts),
        cmocka_unit_test(test_big_import_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
