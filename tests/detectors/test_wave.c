/*
 * test_wave.c - detectors/wave.c: one template or link from many young
 * accounts to strangers is a wave (every sender named, the domain too); the
 * same link shared by established people, replies to people who wrote first,
 * a template from accounts first seen at the stream's start and short
 * greetings are not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../support/evbuild.h"

extern const struct sw_detector_ops sw_wave_ops;

#define T0 1700000000000ll
#define MIN 60000ll

static struct sw_evb b;

static void chat(struct sw_test_det *d, int64_t t, const char *from, const char *to,
                 const char *body)
{
    sw_test_det_feed(d, sw_evb_chat(&b, t, from, to, body));
}

/* An hour of established traffic first, so later accounts are young. */
static void warm_up(struct sw_test_det *d)
{
    chat(d, T0, "old1@a.example/x", "old2@a.example", "good morning, coffee is ready");
    chat(d, T0 + 90 * MIN, "old2@a.example/x", "old1@a.example", "thanks, coming");
}

static const char *const tpl[] = {
    "hey, I saw your profile, check my private photos here ",
    "hey, I saw your profile, look at my private photos here ",
    "hey there, I saw your profile, check my private pictures here ",
};

static void test_thin_wave(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_wave_ops, NULL), 0);
    warm_up(&d);
    char from[64], to[64], body[200];
    int64_t t = T0 + 100 * MIN;
    /* 8 fresh accounts of one domain, 2 messages each, minutes apart, varied text */
    for (int i = 0; i < 8; i++) {
        for (int m = 0; m < 2; m++) {
            snprintf(from, sizeof(from), "u%d@spam.example/r", i);
            snprintf(to, sizeof(to), "victim%d@a.example", i * 2 + m);
            snprintf(body, sizeof(body), "%s%s", tpl[(i + m) % 3], "http://Pics-4U.example/x");
            chat(&d, t, from, to, body);
            t += 3 * MIN;
        }
    }
    for (int i = 0; i < 8; i++) {
        snprintf(from, sizeof(from), "u%d@spam.example", i);
        assert_true(sw_test_count(&d.out, "wave.account", from) >= 1);
    }
    /* an earlier sender named when the cluster fires carries no evidence of
     * the stanza that fired it (another sender's, to someone else): the
     * incident's target and stanza id would say it wrote to them */
    for (size_t k = 0; k < d.out.n && k < SW_TEST_MAX_HITS; k++) {
        const struct sw_hit *h = &d.out.hits[k];
        int u = -1;
        if (strcmp(h->symbol, "wave.account") != 0 || sscanf(h->offender, "u%d@", &u) != 1) {
            continue;
        }
        snprintf(to, sizeof(to), "victim%d@a.example", u * 2);
        char to2[64];
        snprintf(to2, sizeof(to2), "victim%d@a.example", u * 2 + 1);
        if (h->target[0] != '\0' && strcmp(h->target, to) != 0 && strcmp(h->target, to2) != 0) {
            fail_msg("%s named with evidence to %s", h->offender, h->target);
        }
    }
    /* the text and the link cluster each roll it up: one offender for the aggregator */
    assert_true(sw_test_count(&d.out, "wave.domain", "spam.example") >= 1);
    assert_int_equal(sw_test_count(&d.out, "wave.account", "old1@a.example"), 0);
    sw_test_det_stop(&d);
}

static void test_link_only_wave_many_domains(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_wave_ops, NULL), 0);
    warm_up(&d);
    char from[64], to[64], body[200];
    static const char *const texts[] = {
        "you won a prize, claim it at ", "look what I found ",  "new job offer for you: ",
        "is this you in the video? ",    "free gift waiting: ", "urgent message from support "};
    int64_t t = T0 + 100 * MIN;
    for (int i = 0; i < 6; i++) {
        snprintf(from, sizeof(from), "acc%d@server%d.example", i, i);
        snprintf(to, sizeof(to), "victim%d@a.example", i);
        snprintf(body, sizeof(body), "%s%s", texts[i], "https://www.Claim-Now.example/p?id=1");
        chat(&d, t, from, to, body);
        t += 5 * MIN;
    }
    assert_int_equal(sw_test_count(&d.out, "wave.account", NULL), 6);
    assert_int_equal(sw_test_count(&d.out, "wave.domain", NULL), 0); /* no domain dominates */
    sw_test_det_stop(&d);
}

static void test_no_false_waves(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_wave_ops, NULL), 0);
    char from[64], to[64], body[200];
    /* 1. accounts first seen in the stream's first hour: age unknown, half a
     * sender each (8 of them weigh 4 < min_senders 5) */
    for (int i = 0; i < 8; i++) {
        snprintf(from, sizeof(from), "early%d@a.example/x", i);
        snprintf(to, sizeof(to), "friend%d@b.example", i);
        snprintf(body, sizeof(body), "%s%s", tpl[i % 3], "https://video.example/watch?v=1");
        chat(&d, T0 + i * MIN, from, to, body);
    }
    /* 2. later: young accounts answering established people who wrote to them first */
    int64_t t = T0 + 120 * MIN;
    for (int i = 0; i < 10; i++) {
        snprintf(from, sizeof(from), "early%d@a.example/x", i);
        snprintf(to, sizeof(to), "newbie%d@c.example", i);
        chat(&d, t, from, to, "welcome! did the registration work for you?");
        snprintf(from, sizeof(from), "newbie%d@c.example/x", i);
        snprintf(to, sizeof(to), "early%d@a.example", i);
        chat(&d, t + 1000, from, to,
             "yes thanks, the registration at https://join.example/ worked");
        t += 2 * MIN;
    }
    /* 3. young accounts greeting strangers with short texts */
    for (int i = 0; i < 10; i++) {
        snprintf(from, sizeof(from), "hello%d@d.example/x", i);
        snprintf(to, sizeof(to), "someone%d@a.example", i);
        chat(&d, t, from, to, "hi, how are you?");
        t += MIN;
    }
    /* 4. a popular link: established people share it too, then some young ones */
    for (int i = 0; i < 10; i++) {
        snprintf(from, sizeof(from), "early%d@a.example/x", i);
        snprintf(to, sizeof(to), "stranger%d@e.example", i);
        snprintf(body, sizeof(body), "did you see this talk %s it is great %d",
                 "https://www.video.example/watch?v=2", i);
        chat(&d, t, from, to, body);
        t += MIN;
    }
    for (int i = 0; i < 6; i++) {
        snprintf(from, sizeof(from), "late%d@f.example/x", i);
        snprintf(to, sizeof(to), "other%d@e.example", i);
        static const char *const own[] = {"this one is funny",
                                          "remember our trip? like in",
                                          "my brother sent me this, crazy",
                                          "the recording of yesterday's match",
                                          "told you the cat would do it",
                                          "ok last one I promise"};
        snprintf(body, sizeof(body), "%s https://video.example/w%d", own[i], i);
        chat(&d, t, from, to, body);
        t += MIN;
    }
    for (size_t i = 0; i < d.out.n && i < 5; i++) {
        print_message("unexpected %s %s %s\n", d.out.hits[i].symbol, d.out.hits[i].offender,
                      d.out.hits[i].body);
    }
    assert_int_equal(sw_test_count(&d.out, NULL, NULL), 0);
    sw_test_det_stop(&d);
}

/* People sharing videos with the same short line, each its own video: the
 * texts are near-duplicates only through the link's host and path (swgen
 * link-share, seed 37005: seven room regulars' "the talk from yesterday
 * https://www.youtube.com/watch?v=..." to their contacts made a text cluster
 * and were reported). The words around the links make the text cluster; the
 * links have their own (distinct videos: no cluster). */
static void test_short_line_and_link(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_wave_ops, NULL), 0);
    warm_up(&d);
    char from[64], to[64], body[200];
    static const char *const vid[] = {"ysnbowx", "abqkzme", "pqowiez", "mmxkqaj",
                                      "zzkeoqp", "wqpeoru", "lkjqwer", "bnmvcxz"};
    int64_t t = T0 + 100 * MIN;
    uint32_t r = 12345;
    for (int i = 0; i < 12; i++) {
        char id[8];
        for (int k = 0; k < 7; k++) {
            r = r * 1103515245u + 12345u;
            id[k] = (char)('a' + (r >> 16) % 26);
        }
        id[7] = '\0';
        snprintf(from, sizeof(from), "viewer%d@host%d.example/x", i, i % 3);
        snprintf(to, sizeof(to), "friend%d@a.example", i);
        snprintf(body, sizeof(body), "the talk from yesterday https://www.youtube.com/watch?v=%s",
                 id);
        chat(&d, t, from, to, body);
        t += 4 * MIN;
    }
    for (size_t i = 0; i < d.out.n && i < 5; i++) {
        print_message("unexpected %s %s %s\n", d.out.hits[i].symbol, d.out.hits[i].offender,
                      d.out.hits[i].body);
    }
    assert_int_equal(sw_test_count(&d.out, NULL, NULL), 0);
    /* a pitch with a link that changes per message still clusters on its words */
    for (int i = 0; i < 8; i++) {
        snprintf(from, sizeof(from), "w%d@farm%d.example/x", i, i % 4);
        snprintf(to, sizeof(to), "victim%d@a.example", i);
        snprintf(body, sizeof(body), "%shttps://t.ly/%s", tpl[i % 3], vid[i]);
        chat(&d, t, from, to, body);
        t += 4 * MIN;
    }
    assert_true(sw_test_count(&d.out, "wave.account", NULL) >= 5);
    sw_test_det_stop(&d);
}

/* wave sender w@i's shortener lure to victim@i (a young or unknown-age account) */
static void lure(struct sw_test_det *d, int64_t t, int i)
{
    char from[64], to[64];
    snprintf(from, sizeof(from), "w%d@prize.example/r", i);
    snprintf(to, sizeof(to), "victim%d@a.example", i);
    chat(d, t, from, to, "Hi friend. you won a prize , get it here https://tinyurl.com/cs6h8er");
}

/* swgen seed 9208: in the capture's first hour (every account's age unknown),
 * a regular who had been chatting with a contact since the first minutes (it
 * answered her) shared a shortener link with someone new; its text clustered
 * with a wave's shortener lures and it was named with the wave. An account
 * that answers people who wrote to it is in conversations: established. */
static void test_early_regular_beside_wave(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_wave_ops, NULL), 0);
    chat(&d, T0 + 2 * MIN, "contact@a.example/x", "regular@a.example", "are you coming tonight?");
    chat(&d, T0 + 3 * MIN, "regular@a.example/x", "contact@a.example", "yes, bringing dessert");
    /* 12 senders of unknown age (half each): the shortener lure to strangers */
    int64_t t = T0 + 20 * MIN;
    for (int i = 0; i < 12; i++) {
        lure(&d, t, i);
        if (i == 5) {
            chat(&d, t + 1000, "regular@a.example/x", "neighbour@b.example",
                 "the recipe: https://tinyurl.com/dutut6a");
        }
        t += 2 * MIN;
    }
    assert_true(sw_test_count(&d.out, "wave.account", "w11@prize.example") >= 1);
    assert_int_equal(sw_test_count(&d.out, NULL, "regular@a.example"), 0);
    sw_test_det_stop(&d);
}

/* every lure sender w0..w11 named, regular@d.example not */
static void wave_named_not_regular(struct sw_test_det *d)
{
    char from[64];
    for (int i = 0; i < 12; i++) {
        snprintf(from, sizeof(from), "w%d@prize.example", i);
        if (sw_test_count(&d->out, "wave.account", from) < 1) {
            fail_msg("%s not named", from);
        }
    }
    assert_int_equal(sw_test_count(&d->out, NULL, "regular@d.example"), 0);
    sw_test_det_stop(d);
}

/* swgen seed 7132 (12 h): a room regular whose first 1:1 message came after
 * the capture's first hour (so young as wave sees it) sent a contact "look at
 * this: https://bit.ly/..."; the text clustered with a wave's shortener lures
 * and it was named. The contact had never written to it, but its presence had
 * reached the regular an hour before (a roster contact's broadcast): the
 * recipient chose to share presence with the sender, so this is no first
 * contact. Presence the sender sends (directed presence anyone can send) and a
 * refusal (unsubscribed) from the victim are no such consent. */
static void test_contact_presence_beside_wave(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_wave_ops, NULL), 0);
    warm_up(&d);
    char from[64], to[64];
    sw_test_det_feed(&d, sw_evb_presence(&b, T0 + 10 * MIN, SW_T_AVAILABLE,
                                         "contact@a.example/laptop", "regular@d.example"));
    int64_t t = T0 + 100 * MIN;
    for (int i = 0; i < 12; i++) {
        snprintf(from, sizeof(from), "w%d@prize.example/r", i);
        snprintf(to, sizeof(to), "victim%d@a.example", i);
        /* the wave's accounts send their victims presence themselves; the victims refuse */
        sw_test_det_feed(&d, sw_evb_presence(&b, t - 2000, SW_T_AVAILABLE, from, to));
        sw_test_det_feed(&d, sw_evb_presence(&b, t - 1000, SW_T_SUBSCRIBE, from, to));
        snprintf(from, sizeof(from), "victim%d@a.example/r", i);
        snprintf(to, sizeof(to), "w%d@prize.example", i);
        sw_test_det_feed(&d, sw_evb_presence(&b, t - 500, SW_T_UNSUBSCRIBED, from, to));
        lure(&d, t, i);
        if (i == 2) {
            chat(&d, t + 1000, "regular@d.example/gajim", "contact@a.example",
                 "the recipe: https://tinyurl.com/dutut6a");
        }
        t += 2 * MIN;
    }
    wave_named_not_regular(&d);
}

/* Account age counts every stanza the account sends, not only its 1:1
 * messages: a room regular talking in a room since the capture's first
 * minutes whose first 1:1 message, two hours in, is a shortener link to
 * someone it never talked to is not a new account, so not a wave sender (in
 * swgen seed 7132 most link-share regulars' first 1:1 message came hours in).
 * Fresh accounts joining a room a minute before their lures stay young. */
static void test_room_regular_not_young(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_wave_ops, NULL), 0);
    warm_up(&d);
    sw_test_det_feed(&d, sw_evb_muc_presence(&b, T0 + MIN, "regular@d.example/gajim",
                                             "talk@rooms.a.example/reg", SW_EVB_JOIN));
    sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + 5 * MIN, "regular@d.example/gajim",
                                          "talk@rooms.a.example", "morning all, coffee time"));
    char from[64];
    int64_t t = T0 + 100 * MIN;
    for (int i = 0; i < 12; i++) {
        snprintf(from, sizeof(from), "w%d@prize.example/r", i);
        sw_test_det_feed(
            &d, sw_evb_muc_presence(&b, t - MIN, from, "talk@rooms.a.example/w", SW_EVB_JOIN));
        lure(&d, t, i);
        if (i == 2) {
            chat(&d, t + 1000, "regular@d.example/gajim", "someone@b.example",
                 "the recipe: https://tinyurl.com/dutut6a");
        }
        t += 2 * MIN;
    }
    wave_named_not_regular(&d);
}

/* One target, a fresh tracking query per message ("?ref=...", "?u=...") and
 * texts too different for one SimHash cluster: still one link cluster (swgen
 * seed 9406: every sender whose links all carried such a query was missed).
 * A query that selects content is part of the target: ten young accounts
 * sending ten different videos of one site are no wave. */
static void test_tracking_query(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_wave_ops, NULL), 0);
    warm_up(&d);
    static const char *const own[] = {
        "you won a prize, claim it here",
        "Good evening my friend, you have been selected for a reward:",
        "hello dear. a free gift is waiting for you at",
        "Congratulations!!! collect today",
        "are you there? look what I found for you",
        "last chance to get your voucher",
        "my cousin made this, please vote",
        "the list of winners is out",
    };
    char from[64], to[64], body[200];
    int64_t t = T0 + 100 * MIN;
    for (int i = 0; i < 8; i++) {
        snprintf(from, sizeof(from), "p%d@prize%d.example/r", i, i);
        snprintf(to, sizeof(to), "victim%d@a.example", i);
        snprintf(body, sizeof(body), "%s rb.gy/gw1gqp?%s=%x%s", own[i], i % 2 ? "ref" : "u",
                 (unsigned)(i * 2654435761u), i % 3 ? "" : "&utm_source=chat");
        chat(&d, t, from, to, body);
        t += 3 * MIN;
    }
    for (int i = 0; i < 8; i++) {
        snprintf(from, sizeof(from), "p%d@prize%d.example", i, i);
        if (sw_test_count(&d.out, "wave.account", from) != 1) {
            fail_msg("%s not named", from);
        }
    }
    for (int i = 0; i < 10; i++) {
        snprintf(from, sizeof(from), "fan%d@f%d.example/x", i, i);
        snprintf(to, sizeof(to), "other%d@e.example", i);
        snprintf(body, sizeof(body), "%s https://video.example/watch?v=%x&ref=share", own[i % 8],
                 (unsigned)(i * 40503u));
        chat(&d, t, from, to, body);
        t += MIN;
    }
    for (int i = 0; i < 10; i++) {
        snprintf(from, sizeof(from), "fan%d@f%d.example", i, i);
        assert_int_equal(sw_test_count(&d.out, NULL, from), 0);
    }
    sw_test_det_stop(&d);
}

static void test_memory_bounded(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_wave_ops, NULL), 0);
    char from[64], to[64];
    struct sw_detector_stats st = {0};
    for (int i = 0; i < 300000; i++) {
        snprintf(from, sizeof(from), "rot%d@x%d.example/r", i, i % 97);
        snprintf(to, sizeof(to), "t%d@a.example", i);
        chat(&d, T0 + i * 10ll, from, to, "a message of some length that is unique enough");
    }
    sw_wave_ops.expire(d.shared, d.local, T0 + 300000 * 10ll, &st);
    assert_true(st.mem_bytes <= 32u * 1024 * 1024);
    assert_true(st.mem_bytes > 0);
    sw_test_det_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thin_wave),
        cmocka_unit_test(test_link_only_wave_many_domains),
        cmocka_unit_test(test_no_false_waves),
        cmocka_unit_test(test_short_line_and_link),
        cmocka_unit_test(test_memory_bounded),
        cmocka_unit_test(test_early_regular_beside_wave),
        cmocka_unit_test(test_tracking_query),
        cmocka_unit_test(test_contact_presence_beside_wave),
        cmocka_unit_test(test_room_regular_not_young),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
