/*
 * test_room_spam.c - the same (mutated) text into many rooms hits; a news
 * bot posting headlines to a few rooms every minute, a greeting in every room
 * one joins, and ordinary talk in many rooms do not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../support/evbuild.h"

extern const struct sw_detector_ops sw_room_spam_ops;

#define T0 1700000000000ll

static struct sw_evb b;

/* A spammer's way into a room: join it, then post @line a second later. */
static void join_post(struct sw_test_det *d, int64_t t, const char *from, const char *room,
                      const char *line)
{
    char rn[160];
    snprintf(rn, sizeof(rn), "%s/x", room);
    sw_test_det_feed(d, sw_evb_muc_presence(&b, t - 1000, from, rn, SW_EVB_JOIN));
    sw_test_det_feed(d, sw_evb_groupchat(&b, t, from, room, line));
}

static void test_spam_across_rooms(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_room_spam_ops, NULL), 0);
    char room[96], line[256];
    for (int i = 0; i < 8; i++) {
        snprintf(room, sizeof(room), "room%d@conference.example.org", i);
        snprintf(line, sizeof(line),
                 "Earn 500 dollars a day from home, message me on http://jobs.example %x",
                 (unsigned)(i * 2654435761u));
        join_post(&d, T0 + i * 20000, "roamer@evil.example/x", room, line);
    }
    assert_int_equal(sw_test_count(&d.out, "room_spam.rooms", "roamer@evil.example"), 1);
    assert_string_equal(d.out.hits[0].kind, "message-spam");
    assert_int_equal(d.out.hits[0].t_ms, T0 + 4 * 20000); /* the 5th room */
    sw_test_det_stop(&d);
}

/* Mutated past simhash_distance (swgen seed 935880245: a greeting, ">>",
 * random suffixes, "hTtp", a re-cased path) but one link target: one cluster.
 * The same account posting six unrelated texts with six different links does
 * not make one. */
static void test_mutated_same_link(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "hi all, Buy viagra online without pr3sCription hTtp://0l4r904.example/vu5uw2 mzd84s",
        "Buy  viagra online without PresCription httP://0l4r904.example/vu5uw2 kjc3n2",
        "Buy viagRa online with0ut pr3scriptIon http://0l4r904.example/vu5uw2 jfgj",
        "Buy viagra online without prescription http://0l4r904.example/Vu5Uw2 yqi6",
        "Buy viAgra online without presCription http://0l4r904.example/vu5uw2 dxjj",
        "&gt;&gt; BuY viagra onLine without prescription http://0l4r904.example/Vu5uw2 c6p8",
    };
    static const char *const other[] = {
        "the release notes are at https://git.example/notes please read them first",
        "anyone going to the meetup on friday? details https://meet.example/x",
        "my cat knocked over the plant again, photo https://img.example/cat.jpg",
        "is the build green? https://ci.example/job/42 says it failed on arm",
        "new episode of the podcast is up https://pod.example/ep/9 enjoy",
        "recipe for the soup I mentioned https://food.example/soup tasty",
    };
    char room[96];
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_room_spam_ops, NULL), 0);
    for (int i = 0; i < 6; i++) {
        snprintf(room, sizeof(room), "r%d@conference.example.org", i);
        join_post(&d, T0 + i * 20000, "pitch@evil.example/x", room, lines[i]);
        join_post(&d, T0 + i * 20000 + 5000, "chatty@good.example/x", room, other[i]);
    }
    assert_int_equal(sw_test_count(&d.out, "room_spam.rooms", "pitch@evil.example"), 1);
    assert_int_equal(sw_test_count(&d.out, "room_spam.rooms", "chatty@good.example"), 0);
    sw_test_det_stop(&d);
}

/* Hits of room_spam.rooms for @who (a bare JID) after it joins six rooms
 * and posts lines[i] in the i-th, @step_ms apart. */
static size_t six_rooms_hits(const char *const lines[6], int64_t step_ms, const char *who)
{
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_room_spam_ops, NULL), 0);
    char room[96], from[96];
    snprintf(from, sizeof(from), "%s/x", who);
    for (int i = 0; i < 6; i++) {
        snprintf(room, sizeof(room), "room%d@conference.example.org", i);
        join_post(&d, T0 + i * step_ms, from, room, lines[i]);
    }
    size_t n = sw_test_count(&d.out, "room_spam.rooms", who);
    sw_test_det_stop(&d);
    return n;
}

/* A link mutated in its host (swgen seed 282329097, missed before links were
 * leet folded): the second line, "3Xample" and a new greeting, is neither
 * within simhash_distance of the first nor was its link the same, so it took
 * the one-room cluster over and only 4 of the 6 rooms counted. */
static void test_leet_link(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "hi all, Buy Viagra online without prescription  http://xaotw9r.examPle/exs26z s38fuo",
        "hey! Buy viagra online without  pr3sCription http://xaotw9r.3Xample/exs26Z j61nnqr",
        "Buy viagra onlIn3 without prescription http://xaotw9r.example/Exs26z 4hy",
        "Buy viagra online without Prescription htTp://xaotw9r.example/exs26z mkgggi",
        "Buy viagra onLine without prescription http://xaotw9r.example/exs26z vde",
        "psst Buy viagra online witHout prescription Http://xaotw9r.example/exs26z mmrk",
    };
    assert_int_equal(six_rooms_hits(lines, 12000, "leet@evil.example"), 1);
}

/* Mutated variants (swgen seed 776123732, missed at simhash_distance 12):
 * the first two lines are 13 bits apart, so at 12 the second took the
 * cluster over and only 4 of the 6 rooms counted. */
static void test_mutated_six_rooms(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "hey! Buy viagra onlin3 without prescription http://41nnj1N.example/oxjx3q itp0",
        "!!! Buy viagra online  without prescription http://41Nnj1n.example/oxjxeq xhmi",
        "!!! Buy viagra online without prescription Http://41nnj1n.example/oxjxeq qyl",
        "Buy ViaGra online without prescripti0n http://41nnj1n.example/oxjxeq p2gvboj",
        "hey! Buy viagra online without prescrIption http://41nnJ1n.example/oxjxeq tcl",
        "Buy viagra onlin3 without presCriPtion Http://41nnj1n.exaMple/oxjxeq xlosdyl",
    };
    assert_int_equal(six_rooms_hits(lines, 15000, "mutant@evil.example"), 1);
}

static void test_outlier_variants_do_not_hold(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_room_spam_ops, NULL), 0);
    char room[96];
    /* Two variants far from the rest open the cluster in two rooms ... */
    const char *odd = "Totally different words about cheap watches and rings for sale now";
    for (int i = 0; i < 2; i++) {
        snprintf(room, sizeof(room), "odd%d@conference.example.org", i);
        join_post(&d, T0 + i * 20000, "roamer@evil.example/x", room, odd);
    }
    /* ... then the main pitch goes to 7 more rooms: it takes the cluster over. */
    const char *pitch = "Earn 500 dollars a day from home, message me on http://jobs.example";
    for (int i = 0; i < 7; i++) {
        snprintf(room, sizeof(room), "room%d@conference.example.org", i);
        join_post(&d, T0 + 40000 + i * 20000, "roamer@evil.example/x", room, pitch);
    }
    assert_int_equal(sw_test_count(&d.out, "room_spam.rooms", "roamer@evil.example"), 1);
    sw_test_det_stop(&d);
}

static void test_news_bot(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_room_spam_ops, NULL), 0);
    char room[96], line[256];
    uint64_t seed = 5;
    char words[200];
    /* A new headline every minute for an hour, to the same 3 rooms; every
     * third headline repeats the previous one (an update). */
    for (int m = 0; m < 60; m++) {
        if (m % 3 != 2) {
            sw_test_words(words, sizeof(words), &seed, 10);
        }
        snprintf(line, sizeof(line), "Headline: %s (news.example)", words);
        for (int r = 0; r < 3; r++) {
            snprintf(room, sizeof(room), "news%d@conference.example.org", r);
            sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + m * 60000 + r * 200,
                                                  "newsbot@example.org/bot", room, line));
        }
    }
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

/* A feed bot that has been in 8 rooms (joins seen two hours before, or its
 * own earlier lines there) posts each new item into all of them: members,
 * not cross-room spam. The same bot joining 8 new rooms to post is. */
static void test_long_standing_member(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_room_spam_ops, NULL), 0);
    char room[96], rn[160], line[256];
    for (int i = 0; i < 8; i++) {
        snprintf(room, sizeof(room), "room%d@conference.example.org", i);
        if (i < 4) {
            snprintf(rn, sizeof(rn), "%s/feed", room);
            sw_test_det_feed(
                &d, sw_evb_muc_presence(&b, T0 + i, "feed@news.example/bot", rn, SW_EVB_JOIN));
        } else {
            sw_test_det_feed(
                &d, sw_evb_groupchat(&b, T0 + i, "feed@news.example/bot", room,
                                     "Good morning, the feed is back after maintenance today"));
        }
    }
    for (int item = 0; item < 3; item++) {
        for (int i = 0; i < 8; i++) {
            snprintf(room, sizeof(room), "room%d@conference.example.org", i);
            snprintf(line, sizeof(line),
                     "Headline %d: city council approves the new budget for bike lanes downtown",
                     item);
            sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + 7200000 + item * 600000 + i * 1000,
                                                  "feed@news.example/bot", room, line));
        }
    }
    /* a second bot never seen joining nor speaking (in its rooms since before
     * the capture): its first item into 8 rooms is a member's too */
    for (int i = 0; i < 8; i++) {
        snprintf(room, sizeof(room), "room%d@conference.example.org", i);
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + 8000000 + i * 700, "ticker@news.example/bot",
                                              room,
                                              "Headline 9: heavy snow expected in the north "
                                              "this weekend, trains may be late"));
    }
    assert_int_equal(sw_test_count(&d.out, "room_spam.rooms", NULL), 0);
    /* joining 8 rooms it was never in and posting one pitch right away */
    for (int i = 0; i < 8; i++) {
        snprintf(room, sizeof(room), "other%d@conference.example.org", i);
        snprintf(rn, sizeof(rn), "%s/feed", room);
        int64_t t = T0 + 9000000 + i * 20000;
        sw_test_det_feed(&d, sw_evb_muc_presence(&b, t, "feed@news.example/bot", rn, SW_EVB_JOIN));
        sw_test_det_feed(&d, sw_evb_groupchat(&b, t + 2000, "feed@news.example/bot", room,
                                              "Cheap followers and likes, best price, visit "
                                              "http://promo.example now"));
    }
    assert_int_equal(sw_test_count(&d.out, "room_spam.rooms", "feed@news.example"), 1);
    sw_test_det_stop(&d);
}

static void test_greetings_and_talk(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_room_spam_ops, NULL), 0);
    char room[96], line[256];
    uint64_t seed = 99;
    for (int i = 0; i < 10; i++) {
        snprintf(room, sizeof(room), "team%d@conference.example.org", i);
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + i * 5000, "alice@example.org/x", room,
                                              "good morning everyone!"));
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + i * 5000 + 1000, "alice@example.org/x", room,
                                              sw_test_words(line, sizeof(line), &seed, 9)));
    }
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

static void test_same_room_not_counted(void **state)
{
    (void)state;
    struct sw_test_det d;
    assert_int_equal(sw_test_det_start(&d, &sw_room_spam_ops, NULL), 0);
    /* Repeating one long line in one room is muc_flood's business, not this. */
    for (int i = 0; i < 50; i++) {
        sw_test_det_feed(&d, sw_evb_groupchat(&b, T0 + i * 1000, "loud@example.org/x",
                                              "one@conference.example.org",
                                              "please vote for our proposal in the poll today"));
    }
    assert_int_equal(d.out.n, 0);
    sw_test_det_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spam_across_rooms),
        cmocka_unit_test(test_mutated_six_rooms),
        cmocka_unit_test(test_mutated_same_link),
        cmocka_unit_test(test_leet_link),
        cmocka_unit_test(test_outlier_variants_do_not_hold),
        cmocka_unit_test(test_news_bot),
        cmocka_unit_test(test_long_standing_member),
        cmocka_unit_test(test_greetings_and_talk),
        cmocka_unit_test(test_same_room_not_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
