/*
 * test_muc_raid.c - a wave of fresh accounts posting near-identical text:
 * every account and the spam domain are reported; established occupants
 * shouting "GOAL!" together, fresh joiners saying a short thing, and a wave
 * from the room's own server domain (domain) are not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../support/evbuild.h"

extern const struct sw_detector_ops sw_muc_raid_ops;

#define ROOM "sports@conference.example.org"
#define T0 1700000000000ll

static struct sw_evb b;

/* @n accounts of @domain (or of n different domains when NULL) join, then
 * each posts @text plus a random suffix, @gap_ms apart. */
static void wave(struct sw_test_det *d, int n, const char *domain, const char *text, int64_t t,
                 int64_t gap_ms, bool join)
{
    char jid[128], rn[160], line[256];
    for (int i = 0; i < n; i++) {
        if (domain != NULL) {
            snprintf(jid, sizeof(jid), "bot%d@%s", i, domain);
        } else {
            snprintf(jid, sizeof(jid), "bot%d@dom%d.example", i, i);
        }
        if (join) {
            snprintf(rn, sizeof(rn), ROOM "/bot%d", i);
            sw_test_det_feed(d, sw_evb_muc_presence(&b, t + i * 100, jid, rn, SW_EVB_JOIN));
        }
    }
    for (int i = 0; i < n; i++) {
        if (domain != NULL) {
            snprintf(jid, sizeof(jid), "bot%d@%s/r", i, domain);
        } else {
            snprintf(jid, sizeof(jid), "bot%d@dom%d.example/r", i, i);
        }
        snprintf(line, sizeof(line), "%s %x", text, (unsigned)(i * 2654435761u));
        sw_test_det_feed(d, sw_evb_groupchat(&b, t + 5000 + i * gap_ms, jid, ROOM, line));
    }
}

/* Hits of @symbol on @offender (NULL = any) with weight @w (milli). */
static size_t count_w(const struct sw_test_sink *t, const char *symbol, const char *offender,
                      uint32_t w)
{
    size_t c = 0;
    for (size_t i = 0; i < t->n && i < SW_TEST_MAX_HITS; i++) {
        if (strcmp(t->hits[i].symbol, symbol) == 0 && t->hits[i].weight_milli == w &&
            (offender == NULL || strcmp(t->hits[i].offender, offender) == 0)) {
            c++;
        }
    }
    return c;
}

static void test_raid_accounts_and_domain(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_raid_ops, NULL), 0);
    wave(&d, 8, "spam.example", "Join the best crypto group now http://spam.example/x", T0, 700,
         true);
    char jid[64];
    for (int i = 0; i < 8; i++) {
        snprintf(jid, sizeof(jid), "bot%d@spam.example", i);
        assert_int_equal(count_w(&d.out, "muc_raid.account", jid, 1000), 1);
        /* the first two were the pair (a partial signal) at the second line */
        assert_int_equal(count_w(&d.out, "muc_raid.account", jid, 600), i < 2 ? 1 : 0);
    }
    assert_int_equal(sw_test_count(&d.out, "muc_raid.domain", "spam.example"), 1);
    for (size_t i = 0; i < d.out.n; i++) {
        if (strcmp(d.out.hits[i].symbol, "muc_raid.domain") == 0) {
            assert_int_equal(d.out.hits[i].offender_kind, SW_OFFENDER_DOMAIN);
        }
        assert_string_equal(d.out.hits[i].kind, "muc-flood");
        assert_string_equal(d.out.hits[i].room, ROOM);
    }
    sw_test_det_stop(&d);
}

static void test_goal_established(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_raid_ops, NULL), 0);
    char jid[64];
    /* 40 occupants who joined before the capture started shout together. */
    const char *shouts[] = {"GOAL!", "GOAL!!!", "goal!", "GOOOOAL!", "GOAL"};
    for (int i = 0; i < 40; i++) {
        snprintf(jid, sizeof(jid), "fan%d@example.org/m", i);
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + i * 100, jid, ROOM, shouts[i % 5]));
    }
    /* Occupants who joined an hour before the match: established by then. */
    char rn[128];
    for (int i = 0; i < 20; i++) {
        snprintf(jid, sizeof(jid), "late%d@example.net/m", i);
        snprintf(rn, sizeof(rn), ROOM "/late%d", i);
        sw_test_det_feed(&d, sw_evb_muc_presence(&b, T0 + 10000 + i, jid, rn, SW_EVB_JOIN));
    }
    for (int i = 0; i < 20; i++) {
        snprintf(jid, sizeof(jid), "late%d@example.net/m", i);
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + 3600000 + i * 150, jid, ROOM,
                                              "what a goal, unbelievable strike from outside"));
    }
    /* Fresh joiners saying something short together. */
    wave(&d, 10, "example.com", "GOAL!", T0 + 7200000, 200, true);
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

/* Regulars (in the room long before the raid) who quote the spam line back
 * once are bystanders, not raiders; one who posts it twice is named. */
static void test_bystanders_quoting(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_raid_ops, NULL), 0);
    char jid[64], rn[128];
    for (int i = 0; i < 3; i++) {
        snprintf(jid, sizeof(jid), "regular%d@example.org/m", i);
        snprintf(rn, sizeof(rn), ROOM "/regular%d", i);
        sw_test_det_feed(&d, sw_evb_muc_presence(&b, T0 + i, jid, rn, SW_EVB_JOIN));
    }
    /* regular3 spoke, then reconnected (rejoined) just before the raid */
    sw_test_det_feed(&d, sw_evb_muc_presence(&b, T0 + 10, "regular3@example.org/m",
                                             ROOM "/regular3", SW_EVB_JOIN));
    sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + 600000, "regular3@example.org/m", ROOM,
                                          "anyone watching the game tonight?"));
    sw_test_det_feed(&d, sw_evb_muc_presence(&b, T0 + 3600000 - 20000, "regular3@example.org/m",
                                             ROOM "/regular3", SW_EVB_JOIN));
    const char *pitch = "FREE NITRO giveaway for everyone in this room, first hundred users only, "
                        "claim it at http://nitro.example/g";
    int64_t t = T0 + 3600000;
    wave(&d, 6, "spam.example", pitch, t, 600, true);
    char line[256];
    snprintf(line, sizeof(line), "stop posting \"%s\" mods please", pitch);
    sw_test_det_feed(&d, sw_evb_groupchat(&b, t + 9000, "regular0@example.org/m", ROOM, line));
    snprintf(line, sizeof(line), "> %s", pitch);
    sw_test_det_feed(&d, sw_evb_groupchat(&b, t + 9500, "regular1@example.org/m", ROOM, line));
    snprintf(line, sizeof(line), "lol \"%s\"", pitch);
    sw_test_det_feed(&d, sw_evb_groupchat(&b, t + 9600, "regular3@example.org/m", ROOM, line));
    /* a regular quoting it in complaints (up to three times) is still a bystander */
    snprintf(line, sizeof(line), "who falls for \"%s\"", pitch);
    sw_test_det_feed(&d, sw_evb_groupchat(&b, t + 9700, "regular0@example.org/m", ROOM, line));
    /* a regular whose own traffic is raid-like: the line, four times */
    for (int k = 0; k < 4; k++) {
        snprintf(line, sizeof(line), "%s %d", pitch, k);
        sw_test_det_feed(
            &d, sw_evb_groupchat(&b, t + 10000 + k * 500, "regular2@example.org/m", ROOM, line));
    }
    assert_int_equal(count_w(&d.out, "muc_raid.account", "bot0@spam.example", 1000), 1);
    assert_int_equal(sw_test_count(&d.out, "muc_raid.account", "regular0@example.org"), 0);
    assert_int_equal(sw_test_count(&d.out, "muc_raid.account", "regular1@example.org"), 0);
    assert_int_equal(sw_test_count(&d.out, "muc_raid.account", "regular2@example.org"), 1);
    assert_int_equal(sw_test_count(&d.out, "muc_raid.account", "regular3@example.org"), 0);
    sw_test_det_stop(&d);
}

/* A regular remembered from its last line, not its first (swgen seed 31007):
 * it spoke 71 and 18 minutes before the raid (its join was never seen),
 * reconnected a minute before it, then quoted the spam line as a warning
 * ("... <- don't click"): a bystander, not a raider. A fresh account that
 * joined with the raid and pastes the same quote is still named. */
static void test_regular_rejoins_before_raid(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_raid_ops, NULL), 0);
    const char *reg = "regular@example.org/desk";
    int64_t t = T0 + 71 * 60000ll; /* the raid */
    sw_test_det_feed(&d, sw_evb_groupchat(&b, T0, reg, ROOM, "lunch was good, back to the config"));
    sw_test_det_feed(
        &d, sw_evb_groupchat(&b, t - 18 * 60000ll, reg, ROOM, "works here too, try the old key"));
    sw_test_det_feed(&d, sw_evb_muc_presence(&b, t - 60000, reg, ROOM "/regular", SW_EVB_JOIN));
    const char *pitch = "Buy viagra online without prescription http://mew8vhe.example/yov2qd";
    wave(&d, 8, "spam.example", pitch, t, 700, true);
    char line[256];
    snprintf(line, sizeof(line), "%s <- don't click", pitch);
    sw_test_det_feed(&d, sw_evb_groupchat(&b, t + 12000, reg, ROOM, line));
    sw_test_det_feed(
        &d, sw_evb_muc_presence(&b, t + 12100, "late@spam.example/r", ROOM "/late", SW_EVB_JOIN));
    sw_test_det_feed(&d, sw_evb_groupchat(&b, t + 12500, "late@spam.example/r", ROOM, line));
    assert_int_equal(count_w(&d.out, "muc_raid.account", "bot0@spam.example", 1000), 1);
    assert_int_equal(count_w(&d.out, "muc_raid.account", "late@spam.example", 1000), 1);
    assert_int_equal(sw_test_count(&d.out, "muc_raid.account", "regular@example.org"), 0);
    sw_test_det_stop(&d);
}

/* A regular back after hours away (swgen raid-returner): it talked in the
 * room 3 h before the raid, left, and rejoins while the raid runs; its first
 * line is the spam line quoted in a complaint. Remembered for regular_memory
 * (24h) after its last line, it is no fresh account and not named (with the
 * old hour it was forgotten, its rejoin made it fresh and the quote named
 * it). A fresh account that joins and pastes the same quote still is. With
 * regular_memory 1h the setting is what decides: the returner is named. */
/* Another occupant's short line every 10 min from @from to @to: stream time
 * passes (expiry ticks) while the room stays busy. */
static void chatter(struct sw_test_det *d, int64_t from, int64_t to)
{
    for (int64_t x = from; x < to; x += 600000) {
        sw_test_det_feed(d, sw_evb_groupchat(&b, x, "chatty@example.org/m", ROOM, "brb, coffee"));
    }
}

static void returner(struct sw_test_det *d)
{
    const char *reg = "returner@example.org/desk";
    int64_t t = T0 + 3 * 3600000ll; /* the raid */
    sw_test_det_feed(d, sw_evb_muc_presence(&b, T0 - 60000, reg, ROOM "/ret", SW_EVB_JOIN));
    sw_test_det_feed(d, sw_evb_groupchat(&b, T0, reg, ROOM, "anyone tried the new release yet?"));
    sw_test_det_feed(d, sw_evb_muc_presence(&b, T0 + 300000, reg, ROOM "/ret", SW_EVB_LEAVE));
    chatter(d, T0 + 600000, t); /* the room goes on without it */
    const char *pitch = "FREE NITRO giveaway, first 100 users only -> http://qaxo3ke.example/pz8kd";
    wave(d, 8, "spam.example", pitch, t, 700, true);
    sw_test_det_feed(d, sw_evb_muc_presence(&b, t + 9000, reg, ROOM "/ret", SW_EVB_JOIN));
    char line[256];
    snprintf(line, sizeof(line), "stop posting \"%s\"", pitch);
    sw_test_det_feed(d, sw_evb_groupchat(&b, t + 12000, reg, ROOM, line));
    sw_test_det_feed(
        d, sw_evb_muc_presence(&b, t + 12100, "late@spam.example/r", ROOM "/late", SW_EVB_JOIN));
    sw_test_det_feed(d, sw_evb_groupchat(&b, t + 12500, "late@spam.example/r", ROOM, line));
}

static void test_regular_returns_hours_later(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_raid_ops, NULL), 0);
    returner(&d);
    assert_int_equal(count_w(&d.out, "muc_raid.account", "bot0@spam.example", 1000), 1);
    assert_int_equal(count_w(&d.out, "muc_raid.account", "late@spam.example", 1000), 1);
    assert_int_equal(sw_test_count(&d.out, "muc_raid.account", "returner@example.org"), 0);
    sw_test_det_stop(&d);
}

static void memory_1h(const struct sw_conf_item *schema, void *settings)
{
    sw_test_set_int(schema, settings, "regular_memory", 3600000);
}

static void test_regular_memory_setting(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_raid_ops, memory_1h), 0);
    returner(&d);
    assert_int_equal(count_w(&d.out, "muc_raid.account", "late@spam.example", 1000), 1);
    assert_int_equal(count_w(&d.out, "muc_raid.account", "returner@example.org", 1000), 1);
    sw_test_det_stop(&d);
}

/* A raider named in a room that comes back hours later (within
 * regular_memory) is fresh again at its rejoin, not a regular: its one
 * line of the next wave names it, as when it was forgotten after an hour. */
static void test_named_raider_returns(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_raid_ops, NULL), 0);
    const char *pitch = "Crypto airdrop live!!! claim your free tokens at https://kq7ab.example/x";
    wave(&d, 6, "spam.example", pitch, T0, 700, true);
    assert_int_equal(count_w(&d.out, "muc_raid.account", "bot0@spam.example", 1000), 1);
    int64_t t = T0 + 2 * 3600000ll;
    chatter(&d, T0 + 600000, t);
    const char *pitch2 = "Your account will be suspended, verify here: https://vv2qp.example/login";
    wave(&d, 6, "spam.example", pitch2, t, 700, true);
    assert_int_equal(count_w(&d.out, "muc_raid.account", "bot0@spam.example", 1000), 2);
    assert_int_equal(count_w(&d.out, "muc_raid.account", "bot5@spam.example", 1000), 2);
    sw_test_det_stop(&d);
}

static void test_own_server_no_domain(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_raid_ops, NULL), 0);
    /* Accounts of the room's own server (example.org for conference.example.org). */
    wave(&d, 8, "example.org", "Join the best crypto group now http://spam.example/x", T0, 500,
         true);
    assert_int_equal(sw_test_count(&d.out, "muc_raid.account", NULL), 8);
    assert_int_equal(sw_test_count(&d.out, "muc_raid.domain", NULL), 0);
    sw_test_det_stop(&d);
}

static void test_mixed_domains(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_raid_ops, NULL), 0);
    wave(&d, 8, NULL, "Cheap followers and likes at http://buy.example today only", T0, 500, true);
    assert_int_equal(sw_test_count(&d.out, "muc_raid.account", NULL), 8);
    assert_int_equal(sw_test_count(&d.out, "muc_raid.domain", NULL), 0);
    sw_test_det_stop(&d);
}

/* Two fresh accounts of one domain posting one long line are a pair: a
 * partial signal (weight 0.6) for both at the second line, once; the full
 * hits follow at the third account (the pair took no cooldown). Not from the
 * room's own server, not for established occupants, not for short lines. */
static void test_fresh_pair(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_raid_ops, NULL), 0);
    const char *pitch = "Cheap pills without prescription, order now at http://pills.example/x";
    wave(&d, 2, "spam.example", pitch, T0, 1500, true);
    assert_int_equal(d.out.n, 2);
    assert_int_equal(count_w(&d.out, "muc_raid.account", "bot0@spam.example", 600), 1);
    assert_int_equal(count_w(&d.out, "muc_raid.account", "bot1@spam.example", 600), 1);
    assert_int_equal(d.out.hits[0].t_ms, T0 + 6500); /* at the second account's line */
    /* the second account again and a third one: the wave trips as before */
    sw_test_det_feed(
        &d, sw_evb_muc_presence(&b, T0 + 7000, "bot2@spam.example/r", ROOM "/bot2", SW_EVB_JOIN));
    sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + 7500, "bot1@spam.example/r", ROOM, pitch));
    assert_int_equal(d.out.n, 2);
    sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + 8000, "bot2@spam.example/r", ROOM, pitch));
    assert_int_equal(count_w(&d.out, "muc_raid.account", NULL, 1000), 3);
    assert_int_equal(count_w(&d.out, "muc_raid.account", NULL, 600), 2);
    d.out.n = 0;
    /* the room's own server (example.org for conference.example.org) */
    wave(&d, 2, "example.org", pitch, T0 + 600000, 1500, true);
    /* short lines */
    wave(&d, 2, "short.example", "hi all, new here", T0 + 1200000, 1500, true);
    /* occupants whose join was never seen (in the room since before the capture) */
    wave(&d, 2, "old.example", pitch, T0 + 1800000, 1500, false);
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

static void test_below_min_accounts(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_raid_ops, NULL), 0);
    /* 3 fresh friends sharing a short line: below min_accounts (4), and too
     * short for min_accounts_long (3). */
    wave(&d, 3, "example.net", "see you all at 8!", T0, 2000, true);
    /* 2 fresh friends sharing a link: a pair, only a partial signal (0.6,
     * below the report threshold without a spam-bait content rule). */
    wave(&d, 2, "example.com", "check out the stream here http://twitch.example/match", T0 + 300000,
         2000, true);
    assert_int_equal(d.out.n, 2);
    assert_int_equal(count_w(&d.out, "muc_raid.account", NULL, 600), 2);
    d.out.n = 0;
    /* A slow trickle: the same text from 6 fresh accounts one minute apart. */
    wave(&d, 6, "trickle.example", "welcome to the room, read the rules http://rules.example",
         T0 + 600000, 60000, true);
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

/* A busy member (a bridge relaying long, varied lines: one cluster per line)
 * talking through a raid must not push the raid's cluster out while the
 * raiders pause: swgen seed 9203 lost the last two of eight raiders that way. */
static void test_raid_beside_busy_member(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_muc_raid_ops, NULL), 0);
    static const char *const relayed[] = {
        "<kev> the build finally passed on the arm runners after the cache was cleared by hand",
        "<jo> sometimes encryption breaks when the phone switches between wifi and mobile data",
        "<pete> try the weekend release, it fixed the reconnect loop for me and a friend of mine",
        "<anna> has anyone tried the new config format with the old modules still loaded in",
        "<lu> the concert tickets are sold out already, we should have been much faster today",
        "<dmitri> our server moved to the new datacenter last night without any downtime at all",
    };
    const char *pitch =
        "Cheap followers & likes, best price! Visit http://1bg8j62.example/xob7 now";
    char jid[64], rn[128], line[160];
    int64_t t = T0 + 3600000;
    for (int i = 0; i < 8; i++) {
        snprintf(jid, sizeof(jid), "bot%d@talk.example/r", i);
        snprintf(rn, sizeof(rn), ROOM "/bot%d", i);
        sw_test_det_feed(&d, sw_evb_muc_presence(&b, t + i * 1000, jid, rn, SW_EVB_JOIN));
    }
    /* six raiders within 5 s, then the bridge relays six lines in 4 s, then
     * the last two raiders post 7 s after the sixth */
    for (int i = 0; i < 6; i++) {
        snprintf(jid, sizeof(jid), "bot%d@talk.example/r", i);
        snprintf(line, sizeof(line), "%s %d", pitch, i);
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t + 10000 + i * 1000, jid, ROOM, line));
    }
    for (int i = 0; i < 6; i++) {
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t + 16000 + i * 700, "bridge@c.example/web", ROOM,
                                              relayed[i]));
    }
    for (int i = 6; i < 8; i++) {
        snprintf(jid, sizeof(jid), "bot%d@talk.example/r", i);
        snprintf(line, sizeof(line), "%s %d", pitch, i);
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t + 22000 + (i - 6) * 1500, jid, ROOM, line));
    }
    for (int i = 0; i < 8; i++) {
        snprintf(jid, sizeof(jid), "bot%d@talk.example", i);
        if (count_w(&d.out, "muc_raid.account", jid, 1000) != 1) {
            fail_msg("raider %s not hit", jid); /* full hits: a new cluster's pair would give 600 */
        }
    }
    assert_int_equal(sw_test_count(&d.out, "muc_raid.account", "bridge@c.example"), 0);
    sw_test_det_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raid_accounts_and_domain),
        cmocka_unit_test(test_goal_established),
        cmocka_unit_test(test_own_server_no_domain),
        cmocka_unit_test(test_mixed_domains),
        cmocka_unit_test(test_below_min_accounts),
        cmocka_unit_test(test_bystanders_quoting),
        cmocka_unit_test(test_raid_beside_busy_member),
        cmocka_unit_test(test_fresh_pair),
        cmocka_unit_test(test_regular_rejoins_before_raid),
        cmocka_unit_test(test_regular_returns_hours_later),
        cmocka_unit_test(test_regular_memory_setting),
        cmocka_unit_test(test_named_raider_returns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
