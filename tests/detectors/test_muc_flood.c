/*
 * test_muc_flood.c - one occupant flooding a room: rate, repeated lines,
 * long pastes; and what must never hit: a very active person in a busy
 * room, one long paste, reflections, history replay, the server's own
 * announcements. Also: a long flood gives a few hits, not one per stanza,
 * and equal stamps do not break the windows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../support/evbuild.h"

extern const struct sw_detector_ops sw_muc_flood_ops;

#define ROOM "lobby@conference.example.org"
#define T0 1700000000000ll

static struct sw_evb b;

static void test_rate_flood(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_flood_ops, NULL), 0);
    uint64_t seed = 42;
    char line[256];
    /* 3 messages/s of varied text for 20 s. */
    for (int i = 0; i < 60; i++) {
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + i * 333, "flooder@evil.example/x", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 6)));
    }
    assert_int_equal(sw_test_count(&d.out, "muc_flood.rate_short", "flooder@evil.example"), 1);
    assert_int_equal(d.out.hits[0].room[0] != '\0', 1);
    assert_string_equal(d.out.hits[0].room, ROOM);
    assert_true(d.out.hits[0].first_ms < d.out.hits[0].t_ms);
    /* Latency: the short-window hit came with the 17th line (short_max 16). */
    assert_true(d.out.hits[0].t_ms - T0 <= 17 * 333);
    sw_test_det_stop(&d);
}

static void test_flood_few_hits(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_flood_ops, NULL), 0);
    uint64_t seed = 7;
    char line[256];
    /* 5 messages/s for 5 minutes = 1500 stanzas. */
    for (int i = 0; i < 1500; i++) {
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + i * 200, "flooder@evil.example/x", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 5)));
    }
    size_t n = sw_test_count(&d.out, NULL, NULL);
    assert_true(n >= 2 && n <= 8); /* rate_short + rate_long, once per 2 min cooldown */
    sw_test_det_stop(&d);
}

static void test_equal_stamps(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_flood_ops, NULL), 0);
    uint64_t seed = 9;
    char line[256];
    for (int i = 0; i < 25; i++) {
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0, "burst@evil.example/x", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 6)));
    }
    assert_int_equal(sw_test_count(&d.out, "muc_flood.rate_short", NULL), 1);
    sw_test_det_stop(&d);
}

static void test_repeat(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_flood_ops, NULL), 0);
    const char *sfx[] = {"a81", "zz0q", "k3k3", "p0o", "x9", "uu7"};
    char line[256];
    /* 6 near-identical lines 3 s apart: slow enough for the rate windows. */
    for (int i = 0; i < 6; i++) {
        snprintf(line, sizeof(line), "visit my channel for free followers right now %s", sfx[i]);
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + i * 3000, "rep@evil.example/x", ROOM, line));
    }
    assert_int_equal(sw_test_count(&d.out, "muc_flood.repeat", "rep@evil.example"), 1);
    assert_int_equal(sw_test_count(&d.out, "muc_flood.rate_short", NULL), 0);
    sw_test_det_stop(&d);
}

static void make_paste(char *buf, size_t cap, int lines)
{
    size_t n = 0;
    for (int i = 0; i < lines && n + 64 < cap; i++) {
        n += (size_t)snprintf(buf + n, cap - n, "  at org.example.Foo.bar(Foo.java:%d)\n", i);
    }
}

static void test_long_pastes(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_flood_ops, NULL), 0);
    static char paste[4000];
    make_paste(paste, sizeof(paste), 80);
    for (int i = 0; i < 3; i++) {
        paste[0] = (char)('a' + i);
        sw_test_det_feed(
            &d, sw_evb_groupchat(&b, T0 + i * 10000, "paster@evil.example/x", ROOM, paste));
    }
    assert_int_equal(sw_test_count(&d.out, "muc_flood.long", "paster@evil.example"), 1);
    sw_test_det_stop(&d);
}

static void test_one_long_paste(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_flood_ops, NULL), 0);
    static char paste[4000];
    make_paste(paste, sizeof(paste), 80);
    uint64_t seed = 3;
    char line[256];
    sw_test_det_feed(&d, sw_evb_groupchat(&b, T0, "dev@example.org/x", ROOM, "here is the log:"));
    sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + 2000, "dev@example.org/x", ROOM, paste));
    for (int i = 0; i < 5; i++) {
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + 5000 + i * 4000, "dev@example.org/x", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 7)));
    }
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

static void test_busy_room_active_person(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_flood_ops, NULL), 0);
    uint64_t seed = 11;
    char line[256], jid[64], nick[96];
    /* 40 people for 20 minutes; one very active person talks every 3-6 s
     * (bursts of quick short replies included), the room as a whole gets
     * several messages per second, every message reflected to occupants. */
    int64_t t = T0;
    for (int i = 0; i < 12000; i++) {
        t += 100;
        int who = (int)(seed % 40);
        bool active = (i % 40) == 0 || ((i % 40) == 3 && (i % 400) < 120);
        snprintf(jid, sizeof(jid), "%s%d@example.org/phone", active ? "chatty" : "user",
                 active ? 0 : who);
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t, jid, ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 3 + i % 8)));
        snprintf(nick, sizeof(nick), ROOM "/n%d", who);
        for (int r = 0; r < 3; r++) {
            snprintf(jid, sizeof(jid), "user%d@example.org/phone", r);
            sw_test_det_feed(&d, sw_evb_reflection(&b, t, nick, jid, line));
        }
    }
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

/* A bridge relaying a busy channel, 40 lines a minute for 7 minutes (a
 * steady relay), then a burst of 17 lines in 8 s: the traffic it carries, not
 * a flood (swgen busy-bridge). The same burst from an occupant without that
 * history is one; a real flood from the bridge still is. Lines in relay form
 * get that from the first minute. */
static void test_steady_relay(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_flood_ops, NULL), 0);
    uint64_t seed = 7;
    char line[256];
    int64_t t = T0;
    for (int i = 0; i < 7 * 40; i++, t += 1500) {
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t, "bridge@c.example/web", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 7)));
    }
    for (int i = 0; i < 17; i++, t += 500) {
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t, "bridge@c.example/web", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 7)));
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t + 100, "newcomer@a.example/x", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 7)));
    }
    assert_int_equal(sw_test_count(&d.out, NULL, "bridge@c.example"), 0);
    assert_int_equal(sw_test_count(&d.out, "muc_flood.rate_short", "newcomer@a.example"), 1);
    for (int i = 0; i < 40; i++, t += 1500) {
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t, "bridge@c.example/web", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 7)));
    }
    /* compromised: 3 lines a second for 20 s */
    for (int i = 0; i < 60; i++, t += 333) {
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t, "bridge@c.example/web", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 7)));
    }
    assert_int_equal(sw_test_count(&d.out, "muc_flood.rate_short", "bridge@c.example"), 1);
    /* a bridge that just connected: its relayed lines ("<nick> text") carry
     * the other channel's burst from the first minute; a newcomer's own lines
     * in the same rhythm are a flood */
    t += 3600000;
    for (int i = 0; i < 17; i++, t += 500) {
        char relayed[300];
        snprintf(relayed, sizeof(relayed), "<nick%d> %s", i % 4,
                 sw_test_words(line, sizeof(line), &seed, 7));
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t, "bridge2@c.example/web", ROOM, relayed));
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t + 100, "newcomer2@a.example/x", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 7)));
    }
    assert_int_equal(sw_test_count(&d.out, NULL, "bridge2@c.example"), 0);
    assert_int_equal(sw_test_count(&d.out, "muc_flood.rate_short", "newcomer2@a.example"), 1);
    sw_test_det_stop(&d);
}

static void test_never_counted(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_flood_ops, NULL), 0);
    for (int i = 0; i < 200; i++) {
        int64_t t = T0 + i * 50;
        /* reflections of a flood, as the room sends them */
        sw_test_det_feed(&d, sw_evb_reflection(&b, t, ROOM "/spammer", "victim@example.org/x",
                                               "spam spam spam spam spam"));
        /* history replay on join */
        struct sw_event *ev =
            sw_evb_groupchat(&b, t, "old@example.org/x", ROOM, "an old line from history");
        ev->flags |= SW_F_HISTORY;
        sw_test_det_feed(&d, ev);
        /* the server's own JID announcing */
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t, "example.org", ROOM,
                                              "server maintenance at 22:00 UTC, please save"));
        /* the room itself (subject / status messages) */
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t, ROOM, ROOM, "room configuration changed"));
        /* fan-out copies of one stanza with one id count once */
        ev = sw_evb_groupchat(&b, t, "dup@example.org/x", ROOM, "one message, many copies");
        sw_evb_id(&b, "same-id-1");
        sw_test_det_feed(&d, ev);
    }
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

static void test_reload_keeps_windows(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_flood_ops, NULL), 0);
    uint64_t seed = 21;
    char line[256];
    /* 10 lines, then a config reload with the same sizes, then 10 more
     * within the same 10 s: the window survived, so the flood hits. */
    for (int i = 0; i < 20; i++) {
        if (i == 10) {
            void *shared2 = NULL;
            struct sw_errbuf eb;
            assert_int_equal(sw_muc_flood_ops.setup(d.settings, &shared2, &eb), 0);
            assert_int_equal(sw_muc_flood_ops.thread_reload(shared2, d.local), 0);
            sw_muc_flood_ops.teardown(d.shared);
            d.shared = shared2;
        }
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + i * 400, "flooder@evil.example/x", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 6)));
    }
    assert_int_equal(sw_test_count(&d.out, "muc_flood.rate_short", NULL), 1);
    /* A new memory size cannot be adopted in place: the engine re-inits. */
    sw_test_set_int(sw_muc_flood_ops.schema, d.settings, "max_memory", 1 << 20);
    void *shared3 = NULL;
    struct sw_errbuf eb;
    assert_int_equal(sw_muc_flood_ops.setup(d.settings, &shared3, &eb), 0);
    assert_int_equal(sw_muc_flood_ops.thread_reload(shared3, d.local), SW_EAGAIN);
    sw_muc_flood_ops.teardown(shared3);
    sw_test_det_stop(&d);
}

/* A newcomer (seen joining less than new_window ago) may send new_max (8)
 * lines per short_window: a flooder that joins and posts 2 lines a second is
 * caught at its 9th line instead of its 17th. The same 9 lines from an
 * occupant whose join was not seen (a member for long), from one that joined
 * two minutes before, or relayed by a bridge that just joined, are not. */
static void test_newcomer(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_flood_ops, NULL), 0);
    uint64_t seed = 5;
    char line[256], relayed[300];
    sw_test_det_feed(
        &d, sw_evb_muc_presence(&b, T0, "fresh@evil.example/x", ROOM "/fresh", SW_EVB_JOIN));
    sw_test_det_feed(&d,
                     sw_evb_muc_presence(&b, T0, "late@a.example/x", ROOM "/late", SW_EVB_JOIN));
    sw_test_det_feed(&d, sw_evb_muc_presence(&b, T0 + 120000, "bridge@a.example/x", ROOM "/bridge",
                                             SW_EVB_JOIN));
    for (int i = 0; i < 9; i++) {
        int64_t t = T0 + 120000 + 5000 + i * 500;
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t, "member@a.example/x", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 5)));
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t, "late@a.example/x", ROOM,
                                              sw_test_words(line, sizeof(line), &seed, 5)));
        snprintf(relayed, sizeof(relayed), "<nick%d> %s", i,
                 sw_test_words(line, sizeof(line), &seed, 5));
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t, "bridge@a.example/x", ROOM, relayed));
    }
    assert_int_equal(sw_test_count(&d.out, NULL, NULL), 0);
    /* the newcomer: 8 lines are allowed, the 9th (4 s in) hits */
    sw_test_det_feed(&d, sw_evb_muc_presence(&b, T0 + 200000, "fresh@evil.example/x", ROOM "/fresh",
                                             SW_EVB_JOIN));
    for (int i = 0; i < 9; i++) {
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + 205000 + i * 500, "fresh@evil.example/x",
                                              ROOM, sw_test_words(line, sizeof(line), &seed, 5)));
        assert_int_equal(sw_test_count(&d.out, NULL, NULL), i < 8 ? 0 : 1);
    }
    assert_int_equal(sw_test_count(&d.out, "muc_flood.rate_short", "fresh@evil.example"), 1);
    assert_true(d.out.hits[0].t_ms - (T0 + 205000) <= 4000);
    sw_test_det_stop(&d);
}

/* A newcomer's fourth near-identical line in a row within the short window
 * is a repeat flood (new_repeat 4); the same lines from an occupant whose
 * join was not seen, or from a newcomer asking again every 4 s (the four do
 * not fit in 10 s), need the fifth (repeat_count). */
static void test_newcomer_repeat(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_flood_ops, NULL), 0);
    const char *sfx[] = {"a81", "zz0q", "k3k3", "p0o", "x9"};
    const char *who[] = {"fresh@evil.example/x", "member@a.example/x", "asker@a.example/x"};
    const int64_t gap[] = {1000, 1000, 4000};
    char line[256], rn[128];
    for (int w = 0; w < 3; w++) {
        if (w != 1) {
            snprintf(rn, sizeof(rn), ROOM "/n%d", w);
            sw_test_det_feed(&d, sw_evb_muc_presence(&b, T0 + w * 100000, who[w], rn, SW_EVB_JOIN));
        }
        for (int i = 0; i < 5; i++) {
            snprintf(line, sizeof(line), "visit my channel for free followers right now %s",
                     sfx[i]);
            sw_test_det_feed(
                &d, sw_evb_groupchat(&b, T0 + w * 100000 + 2000 + i * gap[w], who[w], ROOM, line));
            size_t want = w == 0 ? (i >= 3) : (i >= 4);
            assert_int_equal(sw_test_count(&d.out, "muc_flood.repeat", NULL), w + want);
        }
    }
    sw_test_det_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_flood),
        cmocka_unit_test(test_flood_few_hits),
        cmocka_unit_test(test_equal_stamps),
        cmocka_unit_test(test_repeat),
        cmocka_unit_test(test_long_pastes),
        cmocka_unit_test(test_one_long_paste),
        cmocka_unit_test(test_busy_room_active_person),
        cmocka_unit_test(test_never_counted),
        cmocka_unit_test(test_steady_relay),
        cmocka_unit_test(test_reload_keeps_windows),
        cmocka_unit_test(test_newcomer),
        cmocka_unit_test(test_newcomer_repeat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
