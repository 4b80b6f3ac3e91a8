/*
 * test_aggregate.c - the aggregator: threshold crossing, two half-signals,
 * per-symbol max (no summing of repeats), groups, dedup, update rate limit,
 * close on tick, re-open, expiry into a new incident, never-offenders,
 * eviction under pressure and byte-identical output for the same hits.
 *
 * Each test builds an aggregator from an explicit settings struct (no config
 * file) and records every incident through the real JSON Lines output into a
 * memory stream, plus a copy of each struct sw_incident for field checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../reporter/aggregate_int.h"
#include "sw/incident.h"
#include "sw/settings.h"

#define T0 1780000000000LL /* some stream time, ms */
#define MAXREC 64

struct rec {
    size_t n;
    struct sw_incident inc[MAXREC];
};

static int rec_incident(void *ctx, const struct sw_incident *inc)
{
    struct rec *r = ctx;
    if (r->n < MAXREC) {
        r->inc[r->n] = *inc;
    }
    r->n++;
    return 0;
}

struct fixture {
    struct sw_aggregate_symbol syms[7];
    struct sw_aggregate_settings s;
    struct rec rec;
    char *json;
    size_t json_len;
    FILE *fp;
    struct sw_output_ops out[2];
    struct sw_aggregate *a;
    char *never_v[2];
    struct sw_conf_strlist never;
    char *svc_v[1];
    struct sw_conf_strlist svc;
};

static void fx_settings(struct fixture *f)
{
    f->syms[0] = (struct sw_aggregate_symbol){.symbol = "a.half", .score = 0.5, .group = ""};
    f->syms[1] = (struct sw_aggregate_symbol){.symbol = "b.half", .score = 0.5, .group = ""};
    f->syms[2] = (struct sw_aggregate_symbol){.symbol = "c.g1", .score = 0.6, .group = "g"};
    f->syms[3] = (struct sw_aggregate_symbol){.symbol = "d.g2", .score = 0.6, .group = "g"};
    f->s.report_threshold = 1.0;
    f->s.default_score = 1.0;
    f->s.window_ms = 60000;
    f->s.update_interval_ms = 10000;
    f->s.close_after_ms = 30000;
    f->s.reopen_window_ms = 120000;
    f->s.max_tracked = 64;
    f->s.symbols.items = f->syms;
    f->syms[4] = (struct sw_aggregate_symbol){.symbol = "content.*", .score = 0.6, .group = "c"};
    f->syms[5] = (struct sw_aggregate_symbol){.symbol = "content.big*", .score = 2.0, .group = "c"};
    f->syms[6] = (struct sw_aggregate_symbol){.symbol = "n.benign", .score = -0.5, .group = ""};
    f->s.symbols.n = 7;
    f->s.never.v = NULL;
    f->s.never.n = 0;
    f->never_v[0] = "announce@a.test";
    f->never_v[1] = "a.test";
    f->never.v = f->never_v;
    f->never.n = 2;
    f->svc_v[0] = "rooms.a.test";
    f->svc.v = f->svc_v;
    f->svc.n = 1;
}

static void fx_start(struct fixture *f)
{
    f->fp = open_memstream(&f->json, &f->json_len);
    assert_non_null(f->fp);
    assert_int_equal(sw_output_json_init(&f->out[0], f->fp), 0);
    f->out[1] = (struct sw_output_ops){.name = "rec", .incident = rec_incident, .ctx = &f->rec};
    struct sw_errbuf eb;
    assert_int_equal(
        sw_aggregate_new_settings(&f->s, &f->never, &f->svc, NULL, f->out, 2, &f->a, &eb), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    fx_settings(f);
    fx_start(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    sw_aggregate_free(f->a);
    fclose(f->fp);
    free(f->json);
    free(f);
    return 0;
}

static uint64_t g_seq = 1;

static void hit(struct fixture *f, const char *symbol, const char *offender, uint32_t weight,
                int64_t t, const char *room, const char *target)
{
    struct sw_hit h;
    memset(&h, 0, sizeof(h));
    h.detector = "det";
    h.symbol = symbol;
    h.kind = strncmp(symbol, "b.", 2) == 0 ? "subscription-spam" : "muc-flood";
    h.ev_seq = g_seq++;
    h.t_ms = t;
    h.first_ms = t - 1000;
    h.offender_kind = SW_OFFENDER_ACCOUNT;
    snprintf(h.offender, sizeof(h.offender), "%s", offender);
    h.weight_milli = weight;
    h.n_values = 1;
    h.values[0].name = "msgs_10s";
    h.values[0].value = 42;
    snprintf(h.room, sizeof(h.room), "%s", room ? room : "");
    snprintf(h.target, sizeof(h.target), "%s", target ? target : "");
    snprintf(h.stanza_id, sizeof(h.stanza_id), "id-%llu", (unsigned long long)h.ev_seq);
    snprintf(h.body, sizeof(h.body), "spam \"%llu\"", (unsigned long long)h.ev_seq);
    sw_aggregate_hit(f->a, &h);
}

/* A bare account hit of weight 1000 at @t, without evidence: the
 * tests that build their own aggregator or offender kind start from it. */
static void plain_hit(struct sw_hit *h, const char *detector, const char *symbol, const char *kind,
                      int64_t t, const char *offender)
{
    memset(h, 0, sizeof(*h));
    h->detector = detector;
    h->symbol = symbol;
    h->kind = kind;
    h->t_ms = t;
    h->weight_milli = 1000;
    h->offender_kind = SW_OFFENDER_ACCOUNT;
    snprintf(h->offender, sizeof(h->offender), "%s", offender);
}

static void test_threshold_crossing(void **state)
{
    struct fixture *f = *state;
    hit(f, "x.full", "m@a.test", 500, T0, "r@rooms.a.test", NULL);
    assert_int_equal(f->rec.n, 0);
    hit(f, "x.full", "m@a.test", 999, T0 + 100, "r@rooms.a.test", NULL);
    assert_int_equal(f->rec.n, 0);
    hit(f, "x.full", "m@a.test", 1000, T0 + 200, "r@rooms.a.test", NULL);
    assert_int_equal(f->rec.n, 1);
    const struct sw_incident *inc = &f->rec.inc[0];
    assert_int_equal(inc->status, SW_INC_OPEN);
    assert_int_equal(inc->revision, 0);
    assert_int_equal(inc->detected_at, T0 + 200);
    assert_int_equal(inc->first_seen, T0 - 1000);
    assert_int_equal(inc->score_milli, 1000);
    assert_string_equal(inc->offender, "m@a.test");
    assert_string_equal(inc->kind, "muc-flood");
    assert_int_equal(inc->n_contrib, 1);
    assert_int_equal(inc->contrib[0].hits, 3);
    assert_int_equal(inc->n_rooms, 1);
    assert_string_equal(inc->rooms[0], "r@rooms.a.test");
    /* evidence: the candidate hits plus the crossing one */
    assert_int_equal(inc->n_evidence, 3);
    assert_int_equal(strlen(inc->id), 36);
    assert_int_equal(inc->id[14], '5'); /* version nibble */
    assert_true(strchr("89ab", inc->id[19]) != NULL);
}

/* Distinct rooms and targets are counted exactly up to 3/4 of AGG_SET_SLOTS
 * (384), whether they fit the record's few inline slots or the set grew on
 * the heap (a repeat after a growth must not count again). */
static void test_distinct_counts_across_growth(void **state)
{
    struct fixture *f = *state;
    static const int want[] = {7, 50, 384};
    static const int distinct[] = {7, 50, 1000};
    char off[64], tgt[64], room[64];
    for (int o = 0; o < 3; o++) {
        snprintf(off, sizeof(off), "set%d@b.test", o);
        for (int rep = 0; rep < 2; rep++) {
            for (int i = 0; i < distinct[o]; i++) {
                snprintf(tgt, sizeof(tgt), "t%d@c.test", i);
                snprintf(room, sizeof(room), "r%d@rooms.a.test", i);
                hit(f, "x.full", off, 1000, T0 + o, room, tgt);
            }
        }
    }
    size_t before = f->rec.n;
    sw_aggregate_finish(f->a, T0 + 10);
    assert_int_equal(f->rec.n, before + 3); /* the three closes */
    for (int o = 0; o < 3; o++) {
        snprintf(off, sizeof(off), "set%d@b.test", o);
        const struct sw_incident *inc = NULL;
        for (size_t i = before; i < f->rec.n; i++) {
            if (strcmp(f->rec.inc[i].offender, off) == 0) {
                inc = &f->rec.inc[i];
            }
        }
        assert_non_null(inc);
        assert_int_equal(inc->status, SW_INC_CLOSED);
        assert_int_equal(inc->n_targets, want[o]);
        assert_int_equal(inc->n_rooms, want[o]);
    }
}

static void test_two_half_signals(void **state)
{
    struct fixture *f = *state;
    /* one half-signal repeated never adds up */
    for (int i = 0; i < 10; i++) {
        hit(f, "a.half", "h@b.test", 1000, T0 + i * 1000, NULL, "t@a.test");
    }
    assert_int_equal(f->rec.n, 0);
    /* a second detector's half-signal opens */
    hit(f, "b.half", "h@b.test", 1000, T0 + 11000, NULL, "u@a.test");
    assert_int_equal(f->rec.n, 1);
    assert_int_equal(f->rec.inc[0].score_milli, 1000);
    assert_int_equal(f->rec.inc[0].n_contrib, 2);
    assert_int_equal(f->rec.inc[0].detected_at, T0 + 11000);
    assert_int_equal(f->rec.inc[0].n_targets, 2);
}

static void test_half_signals_too_far_apart(void **state)
{
    struct fixture *f = *state;
    hit(f, "a.half", "h@b.test", 1000, T0, NULL, NULL);
    hit(f, "b.half", "h@b.test", 1000, T0 + 60001, NULL, NULL); /* a.half aged out */
    assert_int_equal(f->rec.n, 0);
    hit(f, "a.half", "h@b.test", 1000, T0 + 60002, NULL, NULL);
    assert_int_equal(f->rec.n, 1);
}

static void test_negative_symbol(void **state)
{
    struct fixture *f = *state;
    /* a mitigating signal (e.g. "most targets answered") holds two halves back */
    hit(f, "n.benign", "k@a.test", 1000, T0, NULL, NULL);
    hit(f, "a.half", "k@a.test", 1000, T0 + 1, NULL, NULL);
    hit(f, "b.half", "k@a.test", 1000, T0 + 2, NULL, NULL);
    assert_int_equal(f->rec.n, 0);
    /* once it ages out of the window the same two halves report */
    hit(f, "a.half", "k@a.test", 1000, T0 + 60001, NULL, NULL);
    hit(f, "b.half", "k@a.test", 1000, T0 + 60002, NULL, NULL);
    assert_int_equal(f->rec.n, 1);
    assert_int_equal(f->rec.inc[0].score_milli, 1000);
}

static void test_group_counts_once(void **state)
{
    struct fixture *f = *state;
    hit(f, "c.g1", "g@a.test", 1000, T0, NULL, NULL);
    hit(f, "d.g2", "g@a.test", 1000, T0 + 1, NULL, NULL);
    assert_int_equal(f->rec.n, 0); /* 0.6 + 0.6 in one group = 0.6 */
    hit(f, "a.half", "g@a.test", 1000, T0 + 2, NULL, NULL);
    assert_int_equal(f->rec.n, 1); /* 0.6 + 0.5 */
    assert_int_equal(f->rec.inc[0].score_milli, 1100);
}

static void test_prefix_symbols(void **state)
{
    struct fixture *f = *state;
    /* content.* scores 0.6 and its members share one group */
    hit(f, "content.url", "p@a.test", 1000, T0, NULL, NULL);
    hit(f, "content.pharma", "p@a.test", 1000, T0 + 1, NULL, NULL);
    assert_int_equal(f->rec.n, 0);
    hit(f, "a.half", "p@a.test", 1000, T0 + 2, NULL, NULL);
    assert_int_equal(f->rec.n, 1);
    assert_int_equal(f->rec.inc[0].score_milli, 1100);
    /* the longest matching prefix wins; weight scales the score */
    hit(f, "content.bigbait", "q@a.test", 500, T0 + 3, NULL, NULL);
    assert_int_equal(f->rec.n, 2);
    assert_int_equal(f->rec.inc[1].score_milli, 1000);
    /* "content" alone is not matched by "content.*" but by default_score */
    hit(f, "contentx", "r@a.test", 1000, T0 + 4, NULL, NULL);
    assert_int_equal(f->rec.n, 3);
}

static void test_dedup_and_update_rate_limit(void **state)
{
    struct fixture *f = *state;
    hit(f, "x.full", "d@a.test", 1000, T0, "r1@rooms.a.test", NULL);
    assert_int_equal(f->rec.n, 1);
    /* new rooms within update_interval: held back */
    hit(f, "x.full", "d@a.test", 1000, T0 + 1000, "r2@rooms.a.test", NULL);
    hit(f, "x.full", "d@a.test", 1000, T0 + 2000, "r3@rooms.a.test", NULL);
    assert_int_equal(f->rec.n, 1);
    /* nothing new: no update even after the interval */
    hit(f, "x.full", "d@a.test", 1000, T0 + 3000, "r3@rooms.a.test", NULL);
    assert_int_equal(f->rec.n, 1);
    /* the interval passed: the held-back change goes out with the next hit */
    hit(f, "x.full", "d@a.test", 1000, T0 + 10000, "r1@rooms.a.test", NULL);
    assert_int_equal(f->rec.n, 2);
    const struct sw_incident *u = &f->rec.inc[1];
    assert_int_equal(u->status, SW_INC_UPDATED);
    assert_int_equal(u->revision, 1);
    assert_string_equal(u->id, f->rec.inc[0].id);
    assert_int_equal(u->n_rooms, 3);
    assert_int_equal(u->hits, 5);
    /* a held-back change is flushed by a tick too */
    hit(f, "x.full", "d@a.test", 1000, T0 + 11000, "r4@rooms.a.test", NULL);
    assert_int_equal(f->rec.n, 2);
    sw_aggregate_tick(f->a, T0 + 15000);
    assert_int_equal(f->rec.n, 2);
    sw_aggregate_tick(f->a, T0 + 20000);
    assert_int_equal(f->rec.n, 3);
    assert_int_equal(f->rec.inc[2].n_rooms, 4);
    assert_int_equal(f->rec.inc[2].revision, 2);
    /* another offender: its own incident */
    hit(f, "x.full", "e@a.test", 1000, T0 + 21000, NULL, NULL);
    assert_int_equal(f->rec.n, 4);
    assert_string_not_equal(f->rec.inc[3].id, f->rec.inc[0].id);
    struct sw_aggregate_stats st;
    sw_aggregate_get_stats(f->a, &st);
    assert_int_equal(st.opened, 2);
    assert_int_equal(st.updated, 2);
    assert_true(st.suppressed >= 2);
}

static void test_close_reopen_and_new(void **state)
{
    struct fixture *f = *state;
    hit(f, "x.full", "c@a.test", 1000, T0, NULL, NULL);
    assert_int_equal(f->rec.n, 1);
    sw_aggregate_tick(f->a, T0 + 29999);
    assert_int_equal(f->rec.n, 1);
    sw_aggregate_tick(f->a, T0 + 30000);
    assert_int_equal(f->rec.n, 2);
    assert_int_equal(f->rec.inc[1].status, SW_INC_CLOSED);
    assert_int_equal(f->rec.inc[1].revision, 1);
    /* a weak hit after closure does not re-open (hysteresis) */
    hit(f, "a.half", "c@a.test", 1000, T0 + 40000, NULL, NULL);
    assert_int_equal(f->rec.n, 2);
    /* a crossing within reopen_window re-opens the same id */
    hit(f, "b.half", "c@a.test", 1000, T0 + 41000, NULL, NULL);
    assert_int_equal(f->rec.n, 3);
    assert_int_equal(f->rec.inc[2].status, SW_INC_OPEN);
    assert_int_equal(f->rec.inc[2].revision, 2);
    assert_string_equal(f->rec.inc[2].id, f->rec.inc[0].id);
    assert_int_equal(f->rec.inc[2].detected_at, T0);
    sw_aggregate_tick(f->a, T0 + 71000);
    assert_int_equal(f->rec.n, 4);
    assert_int_equal(f->rec.inc[3].status, SW_INC_CLOSED);
    /* after reopen_window: a new incident with a new id */
    sw_aggregate_tick(f->a, T0 + 71000 + 120001);
    hit(f, "x.full", "c@a.test", 1000, T0 + 71000 + 120002, NULL, NULL);
    assert_int_equal(f->rec.n, 5);
    assert_int_equal(f->rec.inc[4].status, SW_INC_OPEN);
    assert_int_equal(f->rec.inc[4].revision, 0);
    assert_string_not_equal(f->rec.inc[4].id, f->rec.inc[0].id);
    struct sw_aggregate_stats st;
    sw_aggregate_get_stats(f->a, &st);
    assert_int_equal(st.reopened, 1);
    assert_int_equal(st.closed, 2);
    /* finish closes what is open */
    sw_aggregate_finish(f->a, T0 + 71000 + 120003);
    assert_int_equal(f->rec.n, 6);
    assert_int_equal(f->rec.inc[5].status, SW_INC_CLOSED);
}

static void test_never_offenders(void **state)
{
    struct fixture *f = *state;
    hit(f, "x.full", "", 1000, T0, NULL, NULL);
    hit(f, "x.full", "announce@a.test", 1000, T0, NULL, NULL);
    hit(f, "x.full", "Announce@A.test/res", 1000, T0, NULL, NULL);
    hit(f, "x.full", "a.test", 1000, T0, NULL, NULL);
    hit(f, "x.full", "lobby@rooms.a.test", 1000, T0, NULL, NULL);
    hit(f, "x.full", "m@a.test", 1000, T0, "hall@rooms.a.test/nick", NULL);
    hit(f, "x.full", "hall@rooms.a.test", 1000, T0 + 1, NULL, NULL); /* a room */
    /* a "room" that is no MUC service's (a groupchat sent to an account) is no room */
    hit(f, "x.full", "n@a.test", 1000, T0 + 2, "spammer@evil.test", NULL);
    hit(f, "x.full", "spammer@evil.test", 1000, T0 + 3, NULL, NULL);
    assert_int_equal(f->rec.n, 3);
    assert_string_equal(f->rec.inc[0].offender, "m@a.test");
    assert_string_equal(f->rec.inc[1].offender, "n@a.test");
    assert_string_equal(f->rec.inc[2].offender, "spammer@evil.test");
    struct sw_aggregate_stats st;
    sw_aggregate_get_stats(f->a, &st);
    assert_int_equal(st.dropped, 6);
    assert_int_equal(st.not_rooms, 1);
    /* a domain offender is its own key, next to the account */
    struct sw_hit h;
    plain_hit(&h, "sub_burst", "sub_burst.domain", "subscription-spam", T0 + 2, "spam.example");
    h.ev_seq = g_seq++;
    h.offender_kind = SW_OFFENDER_DOMAIN;
    sw_aggregate_hit(f->a, &h);
    assert_int_equal(f->rec.n, 4);
    assert_int_equal(f->rec.inc[3].offender_kind, SW_OFFENDER_DOMAIN);
}

/* Issue 12 "nobody whitelists themselves": with muc.services empty, rooms are
 * at domains the service-prefix rule names; an accomplice's groupchat "to" a
 * plain account never makes it a room; the room set forgets after its TTL. */
static void test_rooms_only_at_services(void **state)
{
    struct fixture *f = *state;
    sw_aggregate_free(f->a);
    fclose(f->fp);
    free(f->json);
    static char *pfx_v[] = {"conference", "rooms"};
    struct sw_conf_strlist pfx = {.v = pfx_v, .n = 2};
    f->svc.n = 0;
    f->fp = open_memstream(&f->json, &f->json_len);
    assert_non_null(f->fp);
    assert_int_equal(sw_output_json_init(&f->out[0], f->fp), 0);
    struct sw_errbuf eb;
    assert_int_equal(
        sw_aggregate_new_settings(&f->s, &f->never, &f->svc, &pfx, f->out, 2, &f->a, &eb), 0);
    /* ten accomplice lines "to" the spammer, each a hit naming it as room */
    for (int i = 0; i < 10; i++) {
        hit(f, "x.full", "acc@b.test", 1000, T0 + i, "spammer@b.test", NULL);
    }
    hit(f, "x.full", "spammer@b.test", 1000, T0 + 20, "flood@conference.a.test", NULL);
    /* a real room at a prefix-named service is never an offender... */
    hit(f, "x.full", "flood@conference.a.test", 1000, T0 + 30, NULL, NULL);
    /* ... two labels are not enough for the prefix rule */
    hit(f, "x.full", "x@b.test", 1000, T0 + 40, "lobby@conference.test", NULL);
    hit(f, "x.full", "lobby@conference.test", 1000, T0 + 50, NULL, NULL);
    assert_int_equal(f->rec.n, 4);
    assert_string_equal(f->rec.inc[0].offender, "acc@b.test");
    assert_string_equal(f->rec.inc[1].offender, "spammer@b.test");
    assert_string_equal(f->rec.inc[2].offender, "x@b.test");
    assert_string_equal(f->rec.inc[3].offender, "lobby@conference.test");
    /* the room set expires: a day later the room is no longer protected (a
     * detector naming it would be reported; none does, they skip reflections) */
    int64_t later = T0 + 30 + 24LL * 3600 * 1000 + 1000;
    sw_aggregate_tick(f->a, later);
    size_t n = f->rec.n;
    hit(f, "x.full", "flood@conference.a.test", 1000, later + 1, NULL, NULL);
    assert_int_equal(f->rec.n, n + 1);
}

/* Issue 12 "saturation": twelve weak symbols (a bait matching a dozen content
 * rules) fill the slots; the flood's strong hit that follows still opens. */
static void test_symbol_saturation(void **state)
{
    struct fixture *f = *state;
    static const char *weak[12] = {"content.r1", "content.r2",  "content.r3",  "content.r4",
                                   "content.r5", "content.r6",  "content.r7",  "content.r8",
                                   "content.r9", "content.r10", "content.r11", "content.r12"};
    for (int i = 0; i < 12; i++) {
        hit(f, weak[i], "bait@b.test", 1000, T0 + i, NULL, NULL); /* 0.6, group c: 0.6 total */
    }
    assert_int_equal(f->rec.n, 0);
    hit(f, "x.full", "bait@b.test", 1000, T0 + 100, "r@rooms.a.test", NULL);
    assert_int_equal(f->rec.n, 1);
    assert_string_equal(f->rec.inc[0].offender, "bait@b.test");
    struct sw_aggregate_stats st;
    sw_aggregate_get_stats(f->a, &st);
    assert_int_equal(st.evicted_symbols, 1);
    assert_int_equal(st.dropped_symbols, 0);
    /* a 13th symbol weaker than every live slot is the one dropped */
    hit(f, "n.benign", "bait@b.test", 1000, T0 + 200, NULL, NULL);
    sw_aggregate_get_stats(f->a, &st);
    assert_int_equal(st.dropped_symbols, 1);
}

static void test_eviction_under_pressure(void **state)
{
    struct fixture *f = *state;
    /* 1000 distinct weak candidates in a 64-entry table, then one real offender */
    for (int i = 0; i < 1000; i++) {
        char off[64];
        snprintf(off, sizeof(off), "fresh%d@spam.example", i);
        hit(f, "a.half", off, 1000, T0 + i, NULL, NULL);
    }
    hit(f, "x.full", "real@a.test", 1000, T0 + 2000, NULL, NULL);
    assert_int_equal(f->rec.n, 1);
    struct sw_aggregate_stats st;
    sw_aggregate_get_stats(f->a, &st);
    assert_int_equal(st.evicted, 1000 + 1 - 64);
    /* an open incident evicted by pressure is closed, not lost silently */
    for (int i = 0; i < 64; i++) {
        char off[64];
        snprintf(off, sizeof(off), "later%d@spam.example", i);
        hit(f, "a.half", off, 1000, T0 + 3000 + i, NULL, NULL);
    }
    assert_int_equal(f->rec.n, 2);
    assert_int_equal(f->rec.inc[1].status, SW_INC_CLOSED);
    assert_string_equal(f->rec.inc[1].offender, "real@a.test");
}

static void run_sequence(struct fixture *f)
{
    for (int i = 0; i < 200; i++) {
        char off[64];
        snprintf(off, sizeof(off), "u%d@a.test", i % 7);
        hit(f, i % 3 ? "a.half" : "b.half", off, 600 + (uint32_t)(i % 5) * 100, T0 + i * 700,
            i % 2 ? "r@rooms.a.test" : "s@rooms.a.test", "t\x01\xff@a.test");
        if (i % 20 == 0) {
            sw_aggregate_tick(f->a, T0 + i * 700);
        }
    }
    sw_aggregate_finish(f->a, T0 + 200 * 700);
    fflush(f->fp);
}

static void test_deterministic_output(void **state)
{
    struct fixture *f = *state;
    g_seq = 1;
    run_sequence(f);
    char *first = malloc(f->json_len + 1);
    memcpy(first, f->json, f->json_len + 1);
    size_t first_len = f->json_len;
    assert_true(first_len > 0);

    sw_aggregate_free(f->a);
    fclose(f->fp);
    free(f->json);
    memset(&f->rec, 0, sizeof(f->rec));
    fx_start(f);
    g_seq = 1;
    run_sequence(f);
    assert_int_equal(f->json_len, first_len);
    assert_memory_equal(f->json, first, first_len);
    /* every line is one object, invalid bytes escaped */
    assert_non_null(strstr(first, "\"target\":\"t\\u0001\\ufffd@a.test\""));
    assert_null(strstr(first, "\xff"));
    free(first);
}

/* Random hits and ticks over a small table: every incident id's lines go
 * open(0) -> updated/closed/open(re-open) with revision +1 each, a closed id
 * only re-opens, nothing crashes or leaks (run under ASan in CI). */
struct seq_rec {
    size_t n;
    char id[4096][40];
    uint32_t rev[4096];
    uint8_t status[4096];
    int bad;
};

static int seq_incident(void *ctx, const struct sw_incident *inc)
{
    struct seq_rec *r = ctx;
    size_t i = 0;
    while (i < r->n && strcmp(r->id[i], inc->id) != 0) {
        i++;
    }
    if (i == r->n) {
        if (inc->status != SW_INC_OPEN || inc->revision != 0 || r->n == 4096) {
            r->bad++;
            return 0;
        }
        snprintf(r->id[r->n], 40, "%s", inc->id);
        r->rev[r->n] = 0;
        r->status[r->n] = SW_INC_OPEN;
        r->n++;
        return 0;
    }
    if (inc->revision != r->rev[i] + 1 ||
        (r->status[i] == SW_INC_CLOSED && inc->status != SW_INC_OPEN) ||
        (r->status[i] != SW_INC_CLOSED && inc->status == SW_INC_OPEN)) {
        r->bad++;
    }
    r->rev[i] = inc->revision;
    r->status[i] = inc->status;
    return 0;
}

static void test_random_stress(void **state)
{
    struct fixture *f = *state;
    sw_aggregate_free(f->a);
    f->s.max_tracked = 32;
    f->s.update_interval_ms = 2000;
    f->s.close_after_ms = 5000;
    f->s.reopen_window_ms = 20000;
    struct seq_rec *r = calloc(1, sizeof(*r));
    struct sw_output_ops out = {.name = "seq", .incident = seq_incident, .ctx = r};
    struct sw_errbuf eb;
    assert_int_equal(
        sw_aggregate_new_settings(&f->s, &f->never, &f->svc, NULL, &out, 1, &f->a, &eb), 0);
    static const char *const syms[] = {"a.half", "b.half", "c.g1", "d.g2", "x.full", "content.u"};
    uint64_t rng = 12345;
    int64_t t = T0;
    for (int i = 0; i < 20000; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t x = (uint32_t)(rng >> 33);
        t += x % 300;
        if (x % 50 == 0) {
            sw_aggregate_tick(f->a, t);
            continue;
        }
        char off[64], room[64];
        snprintf(off, sizeof(off), "u%u@%s", (x >> 8) % 120, (x & 1) ? "a.test" : "b.test");
        snprintf(room, sizeof(room), "r%u@rooms.a.test", (x >> 4) % 20);
        hit(f, syms[(x >> 16) % 6], off, 200 + (x >> 20) % 900, t, room, NULL);
    }
    sw_aggregate_finish(f->a, t + 1);
    struct sw_aggregate_stats st;
    sw_aggregate_get_stats(f->a, &st);
    assert_int_equal(r->bad, 0);
    assert_true(st.opened > 10 && st.closed >= st.opened && st.evicted > 0);
    for (size_t i = 0; i < r->n; i++) {
        assert_int_equal(r->status[i], SW_INC_CLOSED); /* finish closed everything */
    }
    free(r);
}

/* The real config path: built-in defaults bind, a file overrides, muc.server_jids
 * and muc.services become never-offenders, bad values are refused. */
static const struct sw_detector_symbol cfg_syms_a[] = {
    {.symbol = "a.one", .score = 1.0, .group = "a"},
    {.symbol = "a.half", .score = 0.5, .group = "a"},
    {.symbol = NULL},
};
static const struct sw_detector_symbol cfg_syms_b[] = {
    {.symbol = "b.*", .score = 0.6},
    {.symbol = NULL},
};
static const struct sw_detector_ops cfg_det_a = {.name = "a", .symbols = cfg_syms_a};
static const struct sw_detector_ops cfg_det_none = {.name = "none"};
static const struct sw_detector_ops cfg_det_b = {.name = "b", .symbols = cfg_syms_b};
static const struct sw_detector_ops *const cfg_dets[] = {&cfg_det_a, &cfg_det_none, &cfg_det_b,
                                                         NULL};
static const struct sw_detector_symbol cfg_syms_bad[] = {
    {.symbol = "bad.it's", .score = 1.0},
    {.symbol = NULL},
};
static const struct sw_detector_ops cfg_det_bad = {.name = "bad", .symbols = cfg_syms_bad};
static const struct sw_detector_ops *const cfg_bad[] = {&cfg_det_bad, NULL};

static void test_config_section(void **state)
{
    (void)state;
    sw_conf_registry_reset();
    assert_int_equal(sw_settings_register(), 0);
    /* a name YAML would need quoted is refused */
    assert_int_equal(sw_aggregate_register_conf(cfg_bad), SW_EINVAL);
    /* the built-in symbols are the detectors' own, in list order */
    assert_int_equal(sw_aggregate_register_conf(cfg_dets), 0);
    struct sw_errbuf eb;
    struct sw_conf *c = NULL;
    assert_int_equal(sw_conf_load(NULL, &c, &eb), 0);
    const struct sw_aggregate_settings *s = sw_conf_section(c, "aggregate");
    assert_non_null(s);
    assert_true(s->report_threshold > 0.999 && s->report_threshold < 1.001);
    assert_int_equal(s->close_after_ms, 600000);
    assert_int_equal(s->symbols.n, 3);
    const struct sw_aggregate_symbol *sy = s->symbols.items;
    assert_string_equal(sy[0].symbol, "a.one");
    assert_true(sy[0].score == 1.0);
    assert_string_equal(sy[0].group, "a");
    assert_string_equal(sy[1].symbol, "a.half");
    assert_true(sy[1].score == 0.5);
    assert_string_equal(sy[1].group, "a");
    assert_string_equal(sy[2].symbol, "b.*");
    assert_true(sy[2].score == 0.6);
    assert_string_equal(sy[2].group, "");
    sw_conf_free(c);

    char path[] = "/tmp/test_aggregate_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fputs("muc:\n  services: [conf.x.test]\n  server_jids: [bot@x.test]\n"
          "aggregate:\n  report_threshold: 2.0\n  update_interval: 0s\n"
          "  symbols:\n    - {symbol: s.one, score: 1.5}\n",
          fp);
    fclose(fp);
    assert_int_equal(sw_conf_load(path, &c, &eb), 0);
    struct rec *r = calloc(1, sizeof(*r));
    struct sw_output_ops out = {.name = "rec", .incident = rec_incident, .ctx = r};
    struct sw_aggregate *a = NULL;
    assert_int_equal(sw_aggregate_new(c, &out, 1, &a, &eb), 0);
    struct sw_hit h;
    plain_hit(&h, "s", "s.one", "muc-flood", T0, "");
    const char *offs[] = {"bot@x.test", "room@conf.x.test", "conf.x.test", "u@x.test"};
    for (int i = 0; i < 4; i++) {
        snprintf(h.offender, sizeof(h.offender), "%s", offs[i]);
        h.offender_kind = i == 2 ? SW_OFFENDER_DOMAIN : SW_OFFENDER_ACCOUNT;
        h.ev_seq = (uint64_t)i + 1;
        sw_aggregate_hit(a, &h);
    }
    assert_int_equal(r->n, 0); /* 1.5 < 2.0 and the first three are never offenders */
    h.symbol = "unknown.sym";  /* default_score 1.0: 1.5 + 1.0 >= 2.0 */
    h.ev_seq = 9;
    sw_aggregate_hit(a, &h);
    assert_int_equal(r->n, 1);
    assert_string_equal(r->inc[0].offender, "u@x.test");
    struct sw_aggregate_stats st;
    sw_aggregate_get_stats(a, &st);
    assert_int_equal(st.dropped, 3);
    sw_aggregate_free(a);
    sw_conf_free(c);
    free(r);

    fp = fopen(path, "w");
    fputs("aggregate:\n  report_threshold: 0\n", fp);
    fclose(fp);
    assert_int_equal(sw_conf_load(path, &c, &eb), SW_ECONF);
    assert_non_null(strstr(eb.msg, "report_threshold"));
    unlink(path);
    sw_conf_registry_reset();
}

/* Reload: new scores, thresholds and never-lists take effect on the running
 * aggregator, whose snapshot reference outlives the caller's; the stage's
 * reload reaches every output. */
static int out_reloads;
static int count_reload(void *ctx, struct sw_conf *c)
{
    (void)ctx;
    assert_non_null(sw_conf_section(c, "aggregate"));
    out_reloads++;
    return 0;
}

static struct sw_conf *load_text(const char *yaml)
{
    char path[] = "/tmp/test_aggregate_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fputs(yaml, fp);
    fclose(fp);
    struct sw_conf *c = NULL;
    struct sw_errbuf eb;
    assert_int_equal(sw_conf_load(path, &c, &eb), 0);
    unlink(path);
    return c;
}

static void test_reload(void **state)
{
    (void)state;
    sw_conf_registry_reset();
    assert_int_equal(sw_settings_register(), 0);
    assert_int_equal(sw_aggregate_register_conf(cfg_dets), 0);
    struct sw_conf *c1 = load_text("aggregate:\n  report_threshold: 2.0\n  update_interval: 0s\n"
                                   "  symbols:\n    - {symbol: s.one, score: 1.5}\n");
    struct rec *r = calloc(1, sizeof(*r));
    struct sw_output_ops out = {
        .name = "rec", .incident = rec_incident, .reload = count_reload, .ctx = r};
    struct sw_aggregate *a = NULL;
    struct sw_errbuf eb;
    assert_int_equal(sw_aggregate_new(c1, &out, 1, &a, &eb), 0);
    sw_conf_free(c1); /* the aggregator keeps its own reference */
    struct sw_hit h;
    plain_hit(&h, "s", "s.one", "muc-flood", T0, "u@x.test");
    h.ev_seq = 1;
    sw_aggregate_hit(a, &h);
    assert_int_equal(r->n, 0); /* 1.5 < 2.0 */

    struct sw_conf *c2 = load_text("aggregate:\n  report_threshold: 1.0\n  update_interval: 0s\n"
                                   "  never: [v@x.test]\n"
                                   "  symbols:\n    - {symbol: s.one, score: 1.5}\n");
    struct sw_hit_stage stage;
    sw_aggregate_stage(a, &stage);
    assert_non_null(stage.reload);
    out_reloads = 0;
    stage.reload(stage.ctx, c2);
    sw_conf_free(c2);
    assert_int_equal(out_reloads, 1);
    struct sw_aggregate_stats st;
    sw_aggregate_get_stats(a, &st);
    assert_int_equal(st.reloads, 1);
    snprintf(h.offender, sizeof(h.offender), "w@x.test");
    h.ev_seq = 2;
    h.t_ms = T0 + 1000;
    sw_aggregate_hit(a, &h);
    assert_int_equal(r->n, 1); /* the new threshold: 1.5 >= 1.0 */
    assert_string_equal(r->inc[0].offender, "w@x.test");
    snprintf(h.offender, sizeof(h.offender), "v@x.test");
    h.ev_seq = 3;
    sw_aggregate_hit(a, &h);
    assert_int_equal(r->n, 1); /* the new never-list */
    sw_aggregate_free(a);
    free(r);
    sw_conf_registry_reset();
}

/* A held-back update of an entry idle past the horizon (window 20s < close_after
 * 60s, update_interval 30s) waits; a reload that widens the window makes the
 * entry young again, and the next tick still finds and emits its update (the
 * tick's watch list is rebuilt on reload). */
static void test_reload_held_update(void **state)
{
    (void)state;
    sw_conf_registry_reset();
    assert_int_equal(sw_settings_register(), 0);
    assert_int_equal(sw_aggregate_register_conf(cfg_dets), 0);
    const char *base = "aggregate:\n  report_threshold: 1.0\n  update_interval: 30s\n"
                       "  close_after: 60s\n  reopen_window: 1h\n"
                       "  symbols:\n    - {symbol: s.one, score: 1.0}\n"
                       "    - {symbol: s.two, score: 1.5}\n";
    char y1[512], y2[512];
    snprintf(y1, sizeof(y1), "%s  window: 20s\n", base);
    snprintf(y2, sizeof(y2), "%s  window: 120s\n", base);
    struct sw_conf *c1 = load_text(y1);
    struct rec *r = calloc(1, sizeof(*r));
    struct sw_output_ops out = {.name = "rec", .incident = rec_incident, .ctx = r};
    struct sw_aggregate *a = NULL;
    struct sw_errbuf eb;
    assert_int_equal(sw_aggregate_new(c1, &out, 1, &a, &eb), 0);
    sw_conf_free(c1);
    struct sw_hit h;
    plain_hit(&h, "s", "s.one", "muc-flood", T0, "u@x.test");
    h.ev_seq = 1;
    sw_aggregate_hit(a, &h);
    assert_int_equal(r->n, 1); /* open */
    h.symbol = "s.two";
    h.t_ms = T0 + 1000;
    h.ev_seq = 2;
    sw_aggregate_hit(a, &h);
    assert_int_equal(r->n, 1); /* a new symbol, the update held back */
    sw_aggregate_tick(a, T0 + 22000);
    assert_int_equal(r->n, 1); /* idle 21 s: past the window, update not due yet */
    struct sw_conf *c2 = load_text(y2);
    assert_int_equal(sw_aggregate_reload(a, c2, &eb), 0);
    sw_conf_free(c2);
    sw_aggregate_tick(a, T0 + 31000);
    assert_int_equal(r->n, 2);
    assert_int_equal(r->inc[1].status, SW_INC_UPDATED);
    assert_int_equal(r->inc[1].n_contrib, 2);
    sw_aggregate_tick(a, T0 + 61000);
    assert_int_equal(r->n, 3);
    assert_int_equal(r->inc[2].status, SW_INC_CLOSED);
    sw_aggregate_free(a);
    free(r);
    sw_conf_registry_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_threshold_crossing, setup, teardown),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_reload_held_update),
        cmocka_unit_test_setup_teardown(test_two_half_signals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_half_signals_too_far_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_counts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negative_symbol, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_symbols, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedup_and_update_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_reopen_and_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_offenders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rooms_only_at_services, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symbol_saturation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_under_pressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deterministic_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_stress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_distinct_counts_across_growth, setup, teardown),
        cmocka_unit_test(test_config_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
