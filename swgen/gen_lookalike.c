/*
 * gen_lookalike.c - plans of the benign look-alikes issue 13 names, each
 * shaped like one of the abuse kinds and each GEN_ISOLATED (gen.h). The
 * accounts labelled with gen_add_off() must not be reported.
 *
 * link-share       room regulars sharing ordinary links (video, code, wiki,
 *                  now and then a shortener) among normal lines.
 * spam-warning     "quote": regulars of one room warning about a spam line
 *                  by quoting it; "admin-rooms": one account posting the
 *                  same warning, with the spam quoted, into 4-7 rooms where
 *                  it talked before (room-spam look-alike).
 * topic-talk       regulars talking about crypto or medicine (the words of
 *                  crypto and pharma bait, in ordinary sentences).
 * rss-bot          a feed bot posting each new item into the same 5-8 rooms
 *                  every 4-15 minutes for hours (room-spam look-alike). It
 *                  has been a member for weeks: the rooms reflect their
 *                  regulars' lines to it from 10-30 min before its first
 *                  item on (member_of).
 * price-bot        a ticker posting one templated price line a minute into
 *                  1-3 rooms (same template, varying numbers: a one-sender
 *                  near-duplicate stream); a member like the feed bot.
 * contact-import   a new account importing 20-60 contacts in seconds; 90% of
 *                  the targets accept within 3-90 s and subscribe back
 *                  (subscription-burst look-alike that is answered).
 * raid-bystanders  a raid (fresh accounts of a spam domain: acceptable, not
 *                  required) in a room whose regulars, who talked there in
 *                  the half hour before, react ("stop", "mods??", quoting a
 *                  spam line) while a moderator kicks the raiders.
 * raid-returner    a raid (as raid-bystanders: its raiders and domain
 *                  acceptable) in a room 2-5 of whose regulars talked there
 *                  1.5-6 h before, then left (leave + unavailable); they
 *                  come back (available + join) while the raid runs and each
 *                  quotes a raid line once or twice within a minute of the
 *                  rejoin ("stop posting ..."), then talks as usual. They
 *                  are not the room's background occupants, so nothing else
 *                  makes them talk there in between: the room last heard
 *                  them hours ago, and the join makes them look fresh.
 *                  The raid comes 110 min or more into the capture (20 min
 *                  of history, 90 of silence): skipped in captures under 2 h.
 * contact-exchange (sub-burst-domain look-alike) 5-10 users of the smallest
 *                  background domain (d.example; in a small world the next larger one) who were
 *                  online 10-40 min before (available presence, a line to a
 *                  contact), back from a meetup: within 20-40 s each asks 1-2
 *                  people they met to subscribe; 85% approve and subscribe back
 *                  within 3-90 s. On a domain with a dozen active accounts a
 *                  minute, half of them subscribing with no account asking more
 *                  than two looks like a farm's burst; the accounts are old.
 *                  Starts 20 min or more into the capture.
 * presence-flap    a load spike: 10-40 room occupants reconnecting 3-7 times
 *                  in two minutes (leave + unavailable, then available + join).
 * large-stanzas    (over-limit look-alike, gen_limits.c) 2-4 regulars of one
 *                  room, over 20-50 minutes (photos 3-15 min apart): a few lines, one long
 *                  paste of 6-40 KB in the room, an avatar (XEP-0084 data or
 *                  a vCard PHOTO) of 6-45 KB base64, 1-3 photos to contacts
 *                  with 1.5-3.5 KB thumbnail data: URIs, all within the limits;
 *                  half of them also send one photo whose thumbnail URI is
 *                  4.5-9 KB (over the 4 KB attribute limit), a quarter a
 *                  second one later: never more than two over-limit stanzas.
 *                  When the room's regulars are all labelled (a small
 *                  world), free accounts with contacts paste and talk 1:1.
 */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_text.h"

/* @n distinct background occupants of room @r into @out (fewer if the room is
 * small), from a random place among the talkative first half of the list;
 * returns how many */
static int regulars(struct gen *g, int32_t r, int n, int32_t *out)
{
    const struct gen_room *rm = &g->room[r];
    int k = 0;
    int from = (int)gen_rndu(g, (uint32_t)(rm->n_occ / 2 + 1));
    for (int i = 0; i < rm->n_occ && k < n; i++) {
        int32_t a = rm->occ[(from + i) % rm->n_occ];
        bool dup = false;
        for (int j = 0; j < k && !dup; j++) {
            dup = out[j] == a;
        }
        if (!dup && g->acct[a].bg && !gen_taken(g, a)) {
            out[k++] = a;
        }
    }
    return k;
}

/* a few normal lines of @a in room @r within [t0, t1) */
static void history(struct gen *g, struct gen_inst *in, int32_t a, int32_t r, int64_t t0,
                    int64_t t1, int lines)
{
    for (int i = 0; i < lines; i++) {
        gen_add_act(in, t0 + gen_rndr(g, 0, t1 - t0 - 1), GEN_A_GC, a, r, GEN_TM_RANDOM, i, false);
    }
}

void gen_plan_link_share(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t r = gen_pick_room(g, 10);
    in->room = r;
    int32_t who[8];
    int n = regulars(g, r, 3 + (int)gen_rndu(g, 6), who);
    int64_t span = gen_rndr(g, 1200000, 2400000);
    size_t lines = 0;
    for (int i = 0; i < n; i++) {
        gen_add_off(in, who[i]);
        int m = (int)gen_rndr(g, 2, 6);
        for (int j = 0; j < m; j++) {
            int tm = gen_rndu(g, 2) ? GEN_TM_LINK : GEN_TM_RANDOM;
            gen_add_act(in, t + gen_rndr(g, 0, span), GEN_A_GC, who[i], r, tm, j, false);
        }
        lines += (size_t)m;
        /* and one to a contact */
        if (g->acct[who[i]].n_contacts > 0) {
            int32_t b = g->acct[who[i]].contacts[gen_rndu(g, g->acct[who[i]].n_contacts)];
            gen_add_act(in, t + gen_rndr(g, 0, span), GEN_A_CHAT, who[i], b, GEN_TM_LINK, m, false);
        }
    }
    in->size = lines;
}

void gen_plan_spam_warning(struct gen *g, struct gen_inst *in, int64_t t)
{
    if (in->variant == 0) { /* regulars of one room quoting the spam they got */
        int32_t r = gen_pick_room(g, 10);
        in->room = r;
        int32_t who[6];
        int n = regulars(g, r, 3 + (int)gen_rndu(g, 4), who);
        for (int i = 0; i < n; i++) {
            gen_add_off(in, who[i]);
            history(g, in, who[i], r, t, t + 600000, 1 + (int)gen_rndu(g, 2));
            gen_add_act(in, t + 600000 + gen_rndr(g, 0, 600000), GEN_A_GC, who[i], r, GEN_TM_WARN,
                        (int32_t)gen_rndu(g, 3), false);
        }
        in->size = (size_t)n;
        return;
    }
    /* an admin warning every room it is in, the same text everywhere */
    int32_t a = gen_pick_bg(g);
    for (int tries = 0; tries < 50 && gen_taken(g, a); tries++) {
        a = gen_pick_bg(g);
    }
    gen_add_off(in, a);
    int n = (int)gen_rndr(g, 4, 7);
    if ((size_t)n > g->n_room) {
        n = (int)g->n_room;
    }
    int32_t start = (int32_t)gen_rndu(g, (uint32_t)g->n_room);
    int64_t tw = t + gen_rndr(g, 900000, 1800000);
    for (int i = 0; i < n; i++) {
        int32_t r = (start + i) % (int32_t)g->n_room;
        if (in->room < 0) {
            in->room = r;
        }
        history(g, in, a, r, t, tw - 60000, 1 + (int)gen_rndu(g, 3));
        gen_add_act(in, tw, GEN_A_GC, a, r, GEN_TM_WARN_SAME, 0, false);
        tw += gen_rndr(g, 5000, 60000);
    }
    in->size = (size_t)n;
}

void gen_plan_topic_talk(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t r = gen_pick_room(g, 10);
    in->room = r;
    int32_t who[10];
    int n = regulars(g, r, 4 + (int)gen_rndu(g, 7), who);
    if (n == 0) {
        return;
    }
    for (int i = 0; i < n; i++) {
        gen_add_off(in, who[i]);
    }
    int lines = (int)gen_rndr(g, 20, 60);
    int64_t span = gen_rndr(g, 900000, 2700000);
    for (int i = 0; i < lines; i++) {
        int32_t a = who[gen_rndu(g, (uint32_t)n)];
        int tm = gen_rndu(g, 3) ? GEN_TM_TOPIC : GEN_TM_RANDOM;
        gen_add_act(in, t + span * i / lines + gen_rndr(g, 0, 20000), GEN_A_GC, a, r, tm, i, false);
    }
    /* and a 1:1 conversation about it between two contacts */
    int32_t a = who[0];
    if (g->acct[a].n_contacts > 0) {
        int32_t b = g->acct[a].contacts[gen_rndu(g, g->acct[a].n_contacts)];
        if (gen_taken(g, b)) {
            in->size = (size_t)lines;
            return;
        }
        gen_add_off(in, b);
        int64_t tc = t + gen_rndr(g, 0, span);
        for (int i = 0; i < 6; i++) {
            gen_add_act(in, tc, GEN_A_CHAT, i % 2 ? b : a, i % 2 ? a : b, GEN_TM_TOPIC, i, false);
            tc += gen_rndr(g, 10000, 120000);
        }
    }
    in->size = (size_t)lines;
}

/* Members for weeks: the room reflects its regulars' lines to the bot
 * (@bot hears 2-5 lines in each room in the 10-30 min before @t and one now
 * and then until @end), as it does to every occupant. */
static void member_of(struct gen *g, struct gen_inst *in, int32_t bot, const int32_t *rooms, int nr,
                      int64_t t, int64_t end)
{
    for (int i = 0; i < nr; i++) {
        int32_t who[8];
        int n = regulars(g, rooms[i], 8, who);
        if (n == 0) {
            continue;
        }
        int64_t th = t - gen_rndr(g, 600000, 1800000);
        th = th < g->t0 ? g->t0 : th;
        int before = (int)gen_rndr(g, 2, 5);
        while (th < end) {
            gen_add_act(in, th, GEN_A_HEARD, who[gen_rndu(g, (uint32_t)n)], rooms[i], GEN_TM_RANDOM,
                        bot, false);
            th += before-- > 0 ? gen_rndr(g, 60000, 300000) : gen_rndr(g, 300000, 1800000);
        }
    }
}

/* a bot account on c.example / d.example */
static int32_t bot(struct gen *g, const char *kind, size_t dom)
{
    char nm[28];
    snprintf(nm, sizeof(nm), "%s%d", kind, g->inst_no);
    return gen_add_acct(g, nm, dom, false);
}

/* @n distinct rooms with at least @min occupants */
static int distinct_rooms(struct gen *g, int n, int min, int32_t *out)
{
    int k = 0;
    for (int tries = 0; tries < 200 && k < n; tries++) {
        int32_t r = gen_pick_room(g, min);
        bool dup = false;
        for (int j = 0; j < k && !dup; j++) {
            dup = out[j] == r;
        }
        if (!dup) {
            out[k++] = r;
        }
    }
    return k;
}

void gen_plan_rss_bot(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = bot(g, "feeds", 2);
    gen_add_off(in, a);
    int32_t rooms[8];
    int nr = distinct_rooms(g, 5 + (int)gen_rndu(g, 4), 4, rooms);
    in->room = rooms[0];
    int64_t end = t + gen_rndr(g, 3600000, 10800000);
    member_of(g, in, a, rooms, nr, t, end);
    int k = 0;
    while (t < end) {
        int64_t ti = t;
        for (int i = 0; i < nr; i++) {
            gen_add_act(in, ti, GEN_A_GC, a, rooms[i], GEN_TM_RSS, k, false);
            ti += gen_rndr(g, 100, 1500);
        }
        k++;
        t += gen_rndr(g, 240000, 900000);
    }
    in->size = (size_t)k;
}

void gen_plan_price_bot(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = bot(g, "ticker", 3);
    gen_add_off(in, a);
    int32_t rooms[3];
    int nr = distinct_rooms(g, 1 + (int)gen_rndu(g, 3), 4, rooms);
    in->room = rooms[0];
    int n = (int)gen_rndr(g, 60, 150);
    member_of(g, in, a, rooms, nr, t, t + (int64_t)n * 60000);
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < nr; i++) {
            gen_add_act(in, t + gen_rndr(g, 0, 1000), GEN_A_GC, a, rooms[i], GEN_TM_PRICE, k,
                        false);
        }
        t += 60000 + gen_rndr(g, -2000, 2000);
    }
    in->size = (size_t)n;
}

/* A busy bridge (bridge-bot look-alike): relays a busy IRC/Matrix channel into
 * one room it has been a member of for weeks, 30-45 relayed lines a minute
 * for 20-40 minutes. Its steady rate crosses muc_flood.rate_long now and then
 * (a half signal) and its hundreds of word-salad lines give the classifier
 * chances at a spammy-looking one (swgen seed 951 reported a bridge for the
 * two together): neither makes it a spammer. */
void gen_plan_busy_bridge(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = bot(g, "relay", 2);
    gen_add_off(in, a);
    int32_t rooms[1];
    if (distinct_rooms(g, 1, 4, rooms) == 0) {
        return;
    }
    in->room = rooms[0];
    int64_t end = t + gen_rndr(g, 1200000, 2400000);
    member_of(g, in, a, rooms, 1, t, end);
    double mean_ms = 60000.0 / (double)gen_rndr(g, 24, 40);
    int n = 0;
    while (t < end) {
        gen_add_act(in, t, GEN_A_GC, a, rooms[0], GEN_TM_BRIDGE, n++, false);
        t += gen_rnd_exp(g, mean_ms - 100.0) + 100;
    }
    in->size = (size_t)n;
}

void gen_plan_contact_import(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = gen_fresh_acct(g, gen_rndu(g, 4) ? 0 : 1);
    gen_add_off(in, a);
    int n = (int)gen_rndr(g, 20, 60);
    int32_t friend0 = gen_pick_bg(g);
    for (int i = 0; i < n; i++) {
        /* the old roster: a friend circle around one account */
        int32_t b = (int32_t)((friend0 + i * 2 + (int)gen_rndu(g, 2)) % (int32_t)g->n_bg);
        gen_add_act(in, t, GEN_A_SUB, a, b, 0, 0, false);
        if (gen_rndf(g) < 0.9) {
            int64_t ta = t + gen_rndr(g, 3000, 90000); /* the grace the contacts answer in */
            gen_mutual_sub(g, in, a, b, ta, 2500, 6000);
            if (gen_rndu(g, 4) == 0) {
                gen_add_act(in, ta + gen_rndr(g, 10000, 60000), GEN_A_CHAT, b, a, GEN_TM_RANDOM, i,
                            false);
            }
        }
        t += gen_rndr(g, 150, 800);
    }
    in->size = (size_t)n;
}

/* A raid into room @r at @raid as muc-raid's (6-20 fresh accounts of a new
 * spam domain, 1-3 near-identical lines each), its accounts and domain only
 * acceptable: the look-alike's labelled accounts are the ones around it.
 * Each raider is kicked by @kicker, or leaves by itself when @kicker < 0.
 * Returns the spread of the raiders' joins (ms). */
static int64_t acceptable_raid(struct gen *g, struct gen_inst *in, int32_t r, int64_t raid,
                               int32_t kicker)
{
    size_t dom = gen_spam_domain(g);
    in->acc_domain = (int)dom;
    gen_spam_line(in->text, sizeof(in->text), gen_rnd64(g));
    int k = (int)gen_rndr(g, 6, 20);
    int64_t spread = gen_rndr(g, 5000, 20000);
    for (int i = 0; i < k; i++) {
        int32_t a = gen_fresh_acct(g, dom);
        gen_add_accept(in, a);
        int64_t tm = gen_raider(g, in, a, r, raid + gen_rndr(g, 0, spread), false);
        if (kicker >= 0) {
            gen_add_act(in, tm + gen_rndr(g, 2000, 30000), GEN_A_KICK, kicker, r, 0, a, false);
        } else {
            gen_add_act(in, tm + gen_rndr(g, 1000, 20000), GEN_A_LEAVE, a, r, 0, 0, false);
        }
    }
    return spread;
}

void gen_plan_raid_bystanders(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t r = gen_pick_room(g, 20);
    in->room = r;
    int32_t who[21];
    int n = regulars(g, r, 9 + (int)gen_rndu(g, 13), who);
    if (n < 2) {
        return;
    }
    int64_t raid = t + gen_rndr(g, 600000, 1500000);
    /* the regulars' history, then their reactions */
    for (int i = 0; i < n; i++) {
        gen_add_off(in, who[i]);
        history(g, in, who[i], r, t, raid - 5000, 1 + (int)gen_rndu(g, 3));
        if (i == 0) {
            continue; /* the moderator, below */
        }
        int m = 1 + (int)gen_rndu(g, 3);
        for (int j = 0; j < m; j++) {
            gen_add_act(in, raid + gen_rndr(g, 3000, 60000), GEN_A_GC, who[i], r, GEN_TM_BYSTANDER,
                        j, false);
        }
    }
    /* the raid (as muc-raid), its raiders kicked by the moderator */
    acceptable_raid(g, in, r, raid, who[0]);
    gen_add_act(in, raid + gen_rndr(g, 5000, 15000), GEN_A_GC, who[0], r, GEN_TM_MODLINE, 0, false);
    gen_add_act(in, raid + gen_rndr(g, 40000, 90000), GEN_A_GC, who[0], r, GEN_TM_MODLINE, 1,
                false);
    in->size = (size_t)n;
}

void gen_plan_raid_returner(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t r = gen_pick_room(g, 20);
    in->room = r;
    /* the raid at t, or later: 20 min of capture and 90 min of silence before it */
    int64_t raid = t;
    if (raid < g->t0 + 6600000) {
        raid = g->t0 + 6600000 + gen_rndr(g, 0, 600000);
    }
    if (raid + 600000 > g->t0 + g->duration_ms) {
        return; /* too short a capture: skipped */
    }
    /* 2-5 accounts that are no background occupant of the room */
    int want = 2 + (int)gen_rndu(g, 4), n = 0;
    int32_t who[5];
    for (int tries = 0; tries < 200 && n < want; tries++) {
        int32_t a = gen_pick_bg(g);
        bool dup = gen_taken(g, a) || gen_in_room(&g->room[r], a);
        for (int j = 0; j < n && !dup; j++) {
            dup = who[j] == a;
        }
        if (!dup) {
            who[n++] = a;
        }
    }
    if (n < 2) {
        return;
    }
    /* the raid (as raid-bystanders), its raiders leaving on their own */
    int64_t spread = acceptable_raid(g, in, r, raid, -1);
    size_t lines = 0;
    for (int i = 0; i < n; i++) {
        int32_t a = who[i];
        gen_add_off(in, a);
        /* hours before: join, 2-5 lines, the last 1.5-6 h before the raid, leave */
        int64_t last = raid - gen_rndr(g, 5400000, 21600000);
        if (last < g->t0 + 1200000) {
            last = g->t0 + 1200000;
        }
        int64_t tj = last - gen_rndr(g, 300000, 1200000);
        gen_add_act(in, tj, GEN_A_JOIN, a, r, 0, 0, false);
        int m = 2 + (int)gen_rndu(g, 4);
        history(g, in, a, r, tj + 1000, last, m - 1);
        gen_add_act(in, last, GEN_A_GC, a, r, GEN_TM_RANDOM, m, false);
        int64_t tl = last + gen_rndr(g, 60000, 900000);
        gen_add_act(in, tl, GEN_A_LEAVE, a, r, 0, 0, false);
        gen_add_act(in, tl + gen_rndr(g, 100, 3000), GEN_A_UNAVAIL, a, 0, 0, 0, false);
        /* back during the raid: a quote of it within a minute, then usual talk */
        int64_t tr = raid + gen_rndr(g, 0, spread);
        gen_add_act(in, tr - gen_rndr(g, 1000, 5000), GEN_A_AVAIL, a, 0, 0, 0, false);
        gen_add_act(in, tr, GEN_A_JOIN, a, r, 0, 0, false);
        int64_t tq = tr + gen_rndr(g, 3000, 25000);
        int q = 1 + (int)gen_rndu(g, 2);
        for (int j = 0; j < q; j++) {
            gen_add_act(in, tq, GEN_A_GC, a, r, GEN_TM_QUOTE, j, false);
            tq += gen_rndr(g, 5000, 30000);
        }
        int o = 1 + (int)gen_rndu(g, 4);
        history(g, in, a, r, tr + 60000, tr + 900000, o);
        lines += (size_t)(m + q + o);
    }
    in->size = lines;
}

void gen_plan_presence_flap(struct gen *g, struct gen_inst *in, int64_t t)
{
    int users = (int)gen_rndr(g, 10, 40);
    size_t events = 0;
    for (int u = 0; u < users; u++) {
        int32_t r = gen_pick_room(g, 6);
        int32_t a = gen_pick_occupant(g, r);
        bool dup = !g->acct[a].bg || gen_taken(g, a);
        for (size_t k = 0; k < in->n_off && !dup; k++) {
            dup = in->off[k] == a;
        }
        if (dup) {
            continue;
        }
        gen_add_off(in, a);
        if (in->room < 0) {
            in->room = r;
        }
        int cycles = (int)gen_rndr(g, 3, 7);
        int64_t tc = t + gen_rndr(g, 0, 20000);
        for (int c = 0; c < cycles; c++) {
            gen_add_act(in, tc, GEN_A_UNAVAIL, a, 0, 0, 0, false);
            gen_add_act(in, tc, GEN_A_LEAVE, a, r, 0, 0, false);
            int64_t back = tc + gen_rndr(g, 2000, 10000);
            gen_add_act(in, back, GEN_A_AVAIL, a, 0, 0, 0, false);
            gen_add_act(in, back + gen_rndr(g, 200, 1500), GEN_A_JOIN, a, r, 0, 0, false);
            tc = back + gen_rndr(g, 5000, 20000);
            events += 2;
        }
    }
    in->size = events;
}

void gen_plan_large_stanzas(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t r = gen_pick_room(g, 8);
    in->room = r;
    int32_t who[4];
    int want = 2 + (int)gen_rndu(g, 3);
    int nr = regulars(g, r, want, who), n = nr;
    /* a world whose regulars are all labelled: free accounts with contacts,
     * who paste and talk 1:1 instead */
    for (int tries = 0; tries < 100 && n < want; tries++) {
        int32_t a = gen_pick_bg(g);
        bool dup = gen_taken(g, a) || g->acct[a].n_contacts == 0;
        for (int j = 0; j < n && !dup; j++) {
            dup = who[j] == a;
        }
        if (!dup) {
            who[n++] = a;
        }
    }
    int64_t span = gen_rndr(g, 1200000, 3000000);
    size_t big = 0;
    for (int i = 0; i < n; i++) {
        int32_t a = who[i];
        int32_t nc = g->acct[a].n_contacts;
        gen_add_off(in, a);
        int32_t paste = (int32_t)gen_rndr(g, 6000, 40000);
        if (i < nr) {
            history(g, in, a, r, t, t + span, 2 + (int)gen_rndu(g, 4));
            gen_add_act(in, t + gen_rndr(g, 0, span), GEN_A_GC, a, r, GEN_TM_BIGPASTE, paste,
                        false);
        } else {
            int lines = 2 + (int)gen_rndu(g, 4);
            for (int j = 0; j < lines; j++) {
                gen_add_act(in, t + gen_rndr(g, 0, span), GEN_A_CHAT, a,
                            g->acct[a].contacts[gen_rndu(g, (uint32_t)nc)], GEN_TM_RANDOM, j,
                            false);
            }
            gen_add_act(in, t + gen_rndr(g, 0, span), GEN_A_CHAT, a,
                        g->acct[a].contacts[gen_rndu(g, (uint32_t)nc)], GEN_TM_BIGPASTE, paste,
                        false);
        }
        gen_add_act(in, t + gen_rndr(g, 0, span), GEN_A_AVATAR, a, (int32_t)gen_rndu(g, 2), 0,
                    (int32_t)gen_rndr(g, 6000, 45000), false);
        big += 2;
        if (nc == 0) {
            continue;
        }
        int photos = 1 + (int)gen_rndu(g, 3);
        int over = gen_rndu(g, 2) == 0 ? 1 + (gen_rndu(g, 2) == 0) : 0;
        int64_t tp = t + gen_rndr(g, 0, span / 2);
        for (int j = 0; j < photos + over; j++) {
            int32_t b = g->acct[a].contacts[gen_rndu(g, (uint32_t)nc)];
            int32_t k =
                j < photos ? (int32_t)gen_rndr(g, 1500, 3500) : (int32_t)gen_rndr(g, 4500, 9000);
            gen_add_act(in, tp, GEN_A_CHAT, a, b, GEN_TM_RANDOM, k, false);
            in->acts[in->n_acts - 1].pad = GEN_PAD_THUMB;
            tp += gen_rndr(g, 180000, 900000);
            big++;
        }
    }
    in->size = big;
}

void gen_plan_contact_exchange(struct gen *g, struct gen_inst *in, int64_t t)
{
    if (t < g->t0 + 1200000) {
        t = g->t0 + 1200000 + gen_rndr(g, 0, 600000);
    }
    if (t + 300000 > g->t0 + g->duration_ms) {
        return; /* too short a capture: skipped */
    }
    /* d.example, the smallest background domain (gen_build_world), or in a
     * small world whose d.example accounts are taken, the next larger one */
    int want = 5 + (int)gen_rndu(g, 6), n = 0;
    int32_t who[10];
    for (int dom = 3; dom >= 0 && n < 5; dom--) {
        n = 0;
        for (int tries = 0; tries < 2000 && n < want; tries++) {
            int32_t a = gen_pick_bg(g);
            bool dup = g->acct[a].dom != (uint16_t)dom || gen_taken(g, a);
            for (int j = 0; j < n && !dup; j++) {
                dup = who[j] == a;
            }
            if (!dup) {
                who[n++] = a;
            }
        }
    }
    if (n < 5) {
        return;
    }
    size_t asked = 0;
    for (int i = 0; i < n; i++) {
        int32_t a = who[i];
        gen_add_off(in, a);
        /* online since 10-40 min before, a line or two to a contact */
        int64_t on = t - gen_rndr(g, 600000, 2400000);
        gen_add_act(in, on, GEN_A_AVAIL, a, 0, 0, 0, false);
        const struct gen_acct *ac = &g->acct[a];
        if (ac->n_contacts > 0) {
            int32_t c = ac->contacts[gen_rndu(g, ac->n_contacts)];
            int lines = 1 + (int)gen_rndu(g, 2);
            for (int j = 0; j < lines; j++) {
                gen_add_act(in, on + gen_rndr(g, 5000, 300000), GEN_A_CHAT, a, c, GEN_TM_RANDOM, j,
                            false);
            }
        }
        /* the people met: 1-2 each, all within 20-40 s of t */
        int k = 1 + (int)gen_rndu(g, 2);
        int32_t tg[2];
        gen_pick_strangers(g, a, k, tg);
        for (int j = 0; j < k; j++) {
            int64_t ts = t + gen_rndr(g, 0, 20000 + (int64_t)gen_rndu(g, 20000));
            gen_add_act(in, ts, GEN_A_SUB, a, tg[j], 0, 0, false);
            if (gen_rndf(g) < 0.85) {
                gen_mutual_sub(g, in, a, tg[j], ts + gen_rndr(g, 3000, 90000), 2500, 6000);
            }
        }
        asked += (size_t)k;
    }
    in->size = asked;
}
