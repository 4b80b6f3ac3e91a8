/*
 * test_sub_burst.c - subscribe bursts from one account and from one domain's
 * accounts; a new user adding contacts over minutes, fan-out copies, server
 * JIDs and exempt domains do not hit; a long burst hits a few times only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../support/evbuild.h"

extern const struct sw_detector_ops sw_sub_burst_ops;
extern const struct sw_detector_ops sw_sub_burst_domain_ops;

#define T0 1700000000000ll

static struct sw_evb b;

static void sub(struct sw_test_det *d, int64_t t, const char *from, int target, const char *id)
{
    char to[64];
    snprintf(to, sizeof(to), "victim%d@example.org", target);
    sw_evb_presence(&b, t, SW_T_SUBSCRIBE, from, to);
    if (id != NULL) {
        sw_evb_id(&b, id);
    }
    sw_test_det_feed(d, &b.ev);
}

/* @n users of @domain each write one chat line to one of ours, 1 s apart
 * from @t: the domain is seen doing something besides subscribing. */
static void chatters(struct sw_test_det *d, int64_t t, const char *domain, int n)
{
    char from[64], to[64];
    for (int u = 0; u < n; u++) {
        snprintf(from, sizeof(from), "user%d@%s/x", u, domain);
        snprintf(to, sizeof(to), "friend%d@example.org", u);
        sw_test_det_feed(d, sw_evb_chat(&b, t + u * 1000, from, to, "hi"));
    }
}

static void test_account_burst(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_ops, NULL), 0);
    char id[32];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof(id), "s%d", i);
        /* each request seen twice (c2s and s2s copies) */
        sub(&d, T0 + i * 1000, "spammer@evil.example/x", i, id);
        sub(&d, T0 + i * 1000 + 5, "spammer@evil.example/x", i, id);
    }
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "spammer@evil.example"), 1);
    /* one per second: a run (gaps <= run_gap 3 s) hits at its 8th target */
    assert_int_equal(d.out.hits[0].t_ms, T0 + 7 * 1000);
    assert_string_equal(d.out.hits[0].kind, "subscription-spam");
    sw_test_det_stop(&d);
}

static void test_account_burst_paced(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_ops, NULL), 0);
    /* one every 4 s: no run, the 12th distinct target within the minute hits */
    for (int i = 0; i < 15; i++) {
        sub(&d, T0 + i * 4000, "pacer@evil.example/x", i, NULL);
    }
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "pacer@evil.example"), 1);
    assert_int_equal(d.out.hits[0].t_ms, T0 + 11 * 4000);
    sw_test_det_stop(&d);
}

static void test_long_burst_few_hits(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_ops, NULL), 0);
    for (int i = 0; i < 3000; i++) {
        sub(&d, T0 + i * 200, "spammer@evil.example/x", i, NULL); /* 10 minutes */
    }
    size_t n = sw_test_count(&d.out, "sub_burst.targets", NULL);
    assert_true(n >= 1 && n <= 2);
    sw_test_det_stop(&d);
}

static void test_new_user_adding_contacts(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_ops, NULL), 0);
    /* 40 contacts over 20 minutes, a few quickly in a row. */
    int64_t t = T0;
    for (int i = 0; i < 40; i++) {
        t += (i % 5 == 0) ? 120000 : 4000;
        sub(&d, t, "newbie@example.org/x", i, NULL);
    }
    /* the server's own JID and a domain-less sender */
    for (int i = 0; i < 100; i++) {
        sub(&d, t + i * 100, "example.org", i, NULL);
    }
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

static void exempt_none(const struct sw_conf_item *schema, void *settings)
{
    (void)schema;
    (void)settings;
}

/* A burst is half a signal until the grace (60 s) is over; then a contact
 * import (most targets approve) stays half, a spammer's (refused, ignored)
 * becomes a full one at its next stanza. */
static void test_grace_contact_import(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_ops, NULL), 0);
    char to[64];
    for (int i = 0; i < 20; i++) {
        sub(&d, T0 + i * 200, "importer@example.org/x", i, NULL);
    }
    for (int i = 0; i < 15; i++) {
        snprintf(to, sizeof(to), "victim%d@example.org/y", i);
        sw_test_det_feed(&d, sw_evb_presence(&b, T0 + 5000 + i * 1300, SW_T_SUBSCRIBED, to,
                                             "importer@example.org"));
    }
    sw_test_det_feed(&d, sw_evb_chat(&b, T0 + 75000, "importer@example.org/x",
                                     "victim0@example.org", "hi, new account, it's me"));
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "importer@example.org"), 1);
    assert_int_equal(d.out.hits[0].weight_milli, 500);

    sw_test_sink_fini(&d.out);
    sw_test_sink_init(&d.out);
    for (int i = 0; i < 20; i++) {
        sub(&d, T0 + 100000 + i * 200, "spammer@evil.example/x", 100 + i, NULL);
    }
    /* nobody answers; its own next request after the grace completes it */
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "spammer@evil.example"), 1);
    sub(&d, T0 + 170000, "spammer@evil.example/x", 200, NULL);
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "spammer@evil.example"), 2);
    assert_int_equal(d.out.hits[0].weight_milli, 500);
    assert_int_equal(d.out.hits[1].weight_milli, 1000);
    assert_int_equal(d.out.hits[1].t_ms, T0 + 170000);
    /* a refusal before any approval: full at once, no need to wait */
    sw_test_sink_fini(&d.out);
    sw_test_sink_init(&d.out);
    for (int i = 0; i < 20; i++) {
        sub(&d, T0 + 200000 + i * 200, "refused@evil.example/x", 300 + i, NULL);
    }
    sw_test_det_feed(&d, sw_evb_presence(&b, T0 + 208000, SW_T_UNSUBSCRIBED,
                                         "victim300@example.org/y", "refused@evil.example"));
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "refused@evil.example"), 2);
    assert_int_equal(d.out.hits[1].weight_milli, 1000);
    assert_int_equal(d.out.hits[1].t_ms, T0 + 208000);
    sw_test_det_stop(&d);
}

/* A spammer that bursts and falls silent: nobody answers and it sends
 * nothing more, so only stream time (ticks, as the engine makes them from
 * other people's traffic) can settle it: full at the first tick after the
 * grace, not before, and once. An importer whose contacts approve, silent too
 * after the burst, stays half. */
static void test_grace_settles_on_time(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_ops, NULL), 0);
    char to[64];
    for (int i = 0; i < 20; i++) {
        sub(&d, T0 + i * 200, "silent@evil.example/x", i, NULL);
        sub(&d, T0 + i * 200 + 50, "importer@example.org/x", 100 + i, NULL);
    }
    for (int i = 0; i < 15; i++) {
        snprintf(to, sizeof(to), "victim%d@example.org/y", 100 + i);
        sw_test_det_feed(&d, sw_evb_presence(&b, T0 + 5000 + i * 1300, SW_T_SUBSCRIBED, to,
                                             "importer@example.org"));
    }
    /* crossing: the 8th target (run) at T0 + 1400 */
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "silent@evil.example"), 1);
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "importer@example.org"), 1);
    for (int64_t t = T0 + 30000; t < T0 + 60900; t += 100) {
        sw_test_det_tick(&d, t);
    }
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "silent@evil.example"), 1);
    for (int64_t t = T0 + 60900; t < T0 + 300000; t += 100) {
        sw_test_det_tick(&d, t);
    }
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "silent@evil.example"), 2);
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "importer@example.org"), 1);
    const struct sw_hit *full = &d.out.hits[d.out.n - 1];
    assert_string_equal(full->offender, "silent@evil.example");
    assert_int_equal(full->weight_milli, 1000);
    /* the first tick 60 table seconds (whole seconds) after the crossing's */
    assert_int_equal(full->t_ms, T0 + 61000);
    assert_true(full->first_ms <= T0 + 1400);
    /* traffic after the timer settled it adds nothing (cooldown) */
    sub(&d, T0 + 301000, "silent@evil.example/x", 500, NULL);
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "silent@evil.example"), 2);
    sw_test_det_stop(&d);
}

static void small_memory(const struct sw_conf_item *schema, void *settings)
{
    sw_test_set_int(schema, settings, "max_memory", 64 * 1024);
}

/* The grace FIFO is part of max_memory: at 64 KB it has 4 KB, 32 slots. 60
 * accounts bursting at once: 32 crossings are queued and settle on stream
 * time, 28 are not (counted in evictions) and settle on their requester's
 * next stanza; the memory gauge (table + FIFO) stays within max_memory. */
static void test_due_queue_capped(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_ops, small_memory), 0);
    char from[64];
    for (int a = 0; a < 60; a++) {
        snprintf(from, sizeof(from), "spam%d@evil.example/x", a);
        for (int i = 0; i < 8; i++) {
            sub(&d, T0 + a * 10 + i * 100, from, a * 8 + i, NULL);
        }
    }
    assert_int_equal(d.out.n, 60); /* half signals at the crossing */
    assert_int_equal(d.st.evictions, 28);
    for (int64_t t = T0 + 1000; t <= T0 + 62000; t += 1000) {
        sw_test_det_tick(&d, t);
    }
    assert_int_equal(d.out.n, 60 + 32);
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "spam0@evil.example"), 2);
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "spam59@evil.example"), 1);
    assert_true(d.st.mem_bytes > 0 && d.st.mem_bytes <= 64 * 1024);
    sub(&d, T0 + 63000, "spam59@evil.example/x", 9999, NULL);
    assert_int_equal(sw_test_count(&d.out, "sub_burst.targets", "spam59@evil.example"), 2);
    sw_test_det_stop(&d);
}

static void test_domain_burst(void **state)
{
    (void)state;
    struct sw_test_det d, a;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_domain_ops, exempt_none), 0);
    assert_int_equal(sw_test_det_start(&a, &sw_sub_burst_ops, NULL), 0);
    char from[64];
    /* Its accounts talking in someone else's rooms exempt nothing. */
    sw_evb_groupchat(&b, T0 - 1000, "acct0@spamfarm.example/x", "lobby@conference.example.org",
                     "join my channel");
    sw_test_det_feed(&d, &b.ev);
    /* 12 accounts of one domain, 6 distinct targets each within a minute. */
    for (int i = 0; i < 72; i++) {
        snprintf(from, sizeof(from), "acct%d@spamfarm.example/x", i % 12);
        sub(&d, T0 + i * 700, from, i, NULL);
        sub(&a, T0 + i * 700, from, i, NULL);
    }
    assert_int_equal(sw_test_count(&d.out, "sub_burst_domain.targets", "spamfarm.example"), 1);
    assert_int_equal(d.out.hits[0].offender_kind, SW_OFFENDER_DOMAIN);
    assert_int_equal(a.out.n, 0); /* no single account is over its limit */
    sw_test_det_stop(&d);
    sw_test_det_stop(&a);
}

static void test_domain_needs_accounts(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_domain_ops, NULL), 0);
    /* 60 targets from only 2 accounts: the account detector's case. */
    for (int i = 0; i < 60; i++) {
        sub(&d, T0 + i * 500, (i % 2) ? "a@two.example/x" : "b@two.example/x", i, NULL);
    }
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

static void test_domain_one_spammer_and_users(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_domain_ops, NULL), 0);
    char from[64];
    chatters(&d, T0 - 90000, "home.example", 5); /* its users chat: not young */
    /* ... 30 users adding one contact each, one of them a spammer with 25
     * targets, all within a minute: not a spam-farm domain. */
    for (int i = 0; i < 55; i++) {
        if (i % 2 == 0 && i / 2 < 30) {
            snprintf(from, sizeof(from), "user%d@home.example/x", i / 2);
        } else {
            snprintf(from, sizeof(from), "spammer@home.example/x");
        }
        sub(&d, T0 + i * 1000, from, i, NULL);
    }
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

/* A domain first seen in this minute whose accounts only subscribe to
 * strangers (a farm's first seconds) needs min_targets_new (4) targets, not
 * min_targets (6); the same subscribes from a domain seen chatting a minute
 * before, or from a young domain where one account asks most of them, do not. */
static void test_domain_young(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_domain_ops, NULL), 0);
    char from[64];
    for (int i = 0; i < 4; i++) {
        snprintf(from, sizeof(from), "acct%d@farm.example/x", i);
        sub(&d, T0 + i * 400, from, i, NULL);
    }
    assert_int_equal(sw_test_count(&d.out, "sub_burst_domain.targets", "farm.example"), 1);
    assert_int_equal(d.out.hits[0].t_ms, T0 + 1200); /* at the fourth target */
    /* seen chatting 70 s before: not young, 4 targets are not enough */
    chatters(&d, T0 + 30000, "small.example", 4);
    for (int i = 0; i < 5; i++) {
        snprintf(from, sizeof(from), "user%d@small.example/x", i % 4);
        sub(&d, T0 + 100000 + i * 400, from, 10 + i, NULL);
    }
    /* young, but one account asks 3 of the 5 (60% > max_account_pct) */
    const char *who[] = {"a", "heavy", "b", "heavy", "heavy"};
    for (int i = 0; i < 5; i++) {
        snprintf(from, sizeof(from), "%s@mixed.example/x", who[i]);
        sub(&d, T0 + 200000 + i * 400, from, 20 + i, NULL);
    }
    assert_int_equal(d.out.n, 1);
    sw_test_det_stop(&d);
}

static void test_domain_busy_peer_server(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_domain_ops, NULL), 0);
    char from[64], to[64];
    /* A peer server: 40 of its users chat with ours every minute ... */
    for (int m = 0; m < 3; m++) {
        for (int u = 0; u < 40; u++) {
            snprintf(from, sizeof(from), "user%d@peer.example/x", u);
            snprintf(to, sizeof(to), "friend%d@example.org", u);
            sw_test_det_feed(&d, sw_evb_chat(&b, T0 + m * 60000 + u * 1000, from, to, "hi"));
        }
    }
    /* ... while 6 of its accounts (slow spammers, new users) subscribe to 4
     * accounts each in one minute: 24 targets, but not a farm. */
    for (int i = 0; i < 24; i++) {
        snprintf(from, sizeof(from), "user%d@peer.example/x", i % 6);
        sub(&d, T0 + 180000 + i * 2000, from, i, NULL);
        snprintf(from, sizeof(from), "user%d@peer.example/x", 10 + i);
        snprintf(to, sizeof(to), "friend%d@example.org", i);
        sw_test_det_feed(&d, sw_evb_chat(&b, T0 + 180000 + i * 2000 + 500, from, to, "hi"));
    }
    assert_int_equal(d.out.n, 0);
    /* The same subscribes from a domain that shows no other activity hit. */
    for (int i = 0; i < 24; i++) {
        snprintf(from, sizeof(from), "user%d@farm.example/x", i % 6);
        sub(&d, T0 + 180000 + i * 2000, from, i, NULL);
    }
    assert_int_equal(sw_test_count(&d.out, "sub_burst_domain.targets", "farm.example"), 1);
    sw_test_det_stop(&d);
}

/* A background domain with 12 users chatting each minute; in one minute six of
 * them (two slow subscription spammers and four people adding a contact, all
 * seen here before) ask 7 targets between them while the other six chat on:
 * half the active accounts subscribe and no account asks more than 2, as in a
 * farm, but its accounts are not fresh (swgen seed 25291909 reported d.example
 * this way). Six accounts never seen before doing the same in the next
 * burst window are a farm on that domain. */
static void test_domain_known_accounts(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_domain_ops, NULL), 0);
    char from[64], to[64];
    for (int m = 0; m < 4; m++) {
        for (int u = 0; u < 12; u++) {
            snprintf(from, sizeof(from), "user%d@d.example/x", u);
            snprintf(to, sizeof(to), "friend%d@example.org", u);
            sw_test_det_feed(&d, sw_evb_chat(&b, T0 + m * 60000 + u * 4000, from, to, "hi"));
        }
    }
    static const int who[] = {0, 1, 2, 3, 4, 5, 0};
    for (int i = 0; i < 7; i++) {
        snprintf(from, sizeof(from), "user%d@d.example/x", who[i]);
        sub(&d, T0 + 240000 + i * 5000, from, i, NULL);
        snprintf(from, sizeof(from), "user%d@d.example/x", 6 + i % 6);
        snprintf(to, sizeof(to), "friend%d@example.org", i);
        sw_test_det_feed(&d, sw_evb_chat(&b, T0 + 240000 + i * 5000 + 500, from, to, "hi"));
    }
    assert_int_equal(d.out.n, 0);
    for (int i = 0; i < 7; i++) {
        snprintf(from, sizeof(from), "new%d@d.example/x", who[i]);
        sub(&d, T0 + 320000 + i * 5000, from, 100 + i, NULL);
        snprintf(from, sizeof(from), "user%d@d.example/x", 6 + i % 6);
        snprintf(to, sizeof(to), "friend%d@example.org", i);
        sw_test_det_feed(&d, sw_evb_chat(&b, T0 + 320000 + i * 5000 + 500, from, to, "hi"));
    }
    assert_int_equal(sw_test_count(&d.out, "sub_burst_domain.targets", "d.example"), 1);
    sw_test_det_stop(&d);
}

static void test_domain_hosting_muc_exempt(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_sub_burst_domain_ops, NULL), 0);
    char from[64];
    /* Users of example.org talk in rooms at conference.example.org ... */
    sw_test_det_feed(&d, sw_evb_groupchat(&b, T0, "someone@example.org/x",
                                          "lobby@conference.example.org", "hello"));
    /* ... so a burst of its accounts (say, several spammers at once) is
     * reported per account, never as a spam-farm domain. */
    for (int i = 0; i < 72; i++) {
        snprintf(from, sizeof(from), "acct%d@example.org/x", i % 12);
        sub(&d, T0 + 1000 + i * 700, from, i, NULL);
    }
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_burst),
        cmocka_unit_test(test_account_burst_paced),
        cmocka_unit_test(test_long_burst_few_hits),
        cmocka_unit_test(test_new_user_adding_contacts),
        cmocka_unit_test(test_grace_contact_import),
        cmocka_unit_test(test_grace_settles_on_time),
        cmocka_unit_test(test_due_queue_capped),
        cmocka_unit_test(test_domain_burst),
        cmocka_unit_test(test_domain_needs_accounts),
        cmocka_unit_test(test_domain_one_spammer_and_users),
        cmocka_unit_test(test_domain_young),
        cmocka_unit_test(test_domain_busy_peer_server),
        cmocka_unit_test(test_domain_known_accounts),
        cmocka_unit_test(test_domain_hosting_muc_exempt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
