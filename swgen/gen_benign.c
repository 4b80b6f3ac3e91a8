/*
 * gen_benign.c - plans of swgen's benign look-alike scenarios (rows of
 * scenarios.def with GEN_BENIGN): legitimate traffic shaped like abuse. The
 * accounts labelled with gen_add_off() are the ones that must NOT be
 * reported; the scorer counts any report of them as a false positive.
 */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_text.h"

void gen_plan_active(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t r = gen_pick_room(g, 30);
    int32_t a = gen_pick_occupant(g, r);
    in->room = r;
    gen_add_off(in, a);
    int n = (int)gen_rndr(g, 60, 200);
    for (int i = 0; i < n; i++) {
        gen_add_act(in, t, GEN_A_GC, a, r, GEN_TM_RANDOM, i, false);
        if (gen_rndu(g, 6) == 0) {
            t += gen_rndr(g, 1000, 3000); /* a quick follow-up */
        } else {
            t += gen_rndr(g, 3000, 15000);
        }
    }
    in->size = (size_t)n;
}

void gen_plan_goal(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t r = gen_pick_room(g, 40);
    in->room = r;
    int n = (int)gen_rndr(g, 10, 40);
    if (n > g->room[r].n_occ - 2) {
        n = g->room[r].n_occ - 2;
    }
    for (int i = 0; i < n; i++) {
        int32_t a = g->room[r].occ[i]; /* established occupants */
        gen_add_off(in, a);
        gen_add_act(in, t + gen_rndr(g, 0, 10000), GEN_A_GC, a, r, GEN_TM_GOAL, i, false);
        if (gen_rndu(g, 4) == 0) {
            gen_add_act(in, t + gen_rndr(g, 2000, 15000), GEN_A_GC, a, r, GEN_TM_GOAL, i + 7,
                        false);
        }
    }
    in->size = (size_t)n;
}

void gen_plan_newsbot(struct gen *g, struct gen_inst *in, int64_t t)
{
    char nm[28];
    snprintf(nm, sizeof(nm), "newsbot%d", g->inst_no);
    int32_t a = gen_add_acct(g, nm, 2, false);
    gen_add_off(in, a);
    int32_t rooms[3];
    for (int i = 0; i < 3; i++) {
        rooms[i] = (int32_t)((g->inst_no * 5 + i * 3) % (int)g->n_room);
        gen_add_act(in, t + i * 200, GEN_A_JOIN, a, rooms[i], 0, 0, false);
    }
    t += 5000;
    int minutes = (int)gen_rndr(g, 30, 60);
    int k = 0;
    for (int m = 0; m < minutes; m++) {
        if (gen_rndu(g, 2) == 0) {
            k++; /* a new headline now and then; otherwise the same again */
        }
        for (int i = 0; i < 3; i++) {
            gen_add_act(in, t + i * gen_rndr(g, 0, 400), GEN_A_GC, a, rooms[i], GEN_TM_HEADLINE, k,
                        false);
        }
        t += 60000 + gen_rndr(g, -1500, 1500);
    }
    in->size = (size_t)minutes;
}

void gen_plan_newuser(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = gen_fresh_acct(g, 0);
    gen_add_off(in, a);
    int n = (int)gen_rndr(g, 35, 45);
    int32_t friend0 = gen_pick_bg(g);
    for (int i = 0; i < n; i++) {
        /* people who know each other: a friend circle around one account */
        int32_t b = (int32_t)((friend0 + i * 3 + (int)gen_rndu(g, 3)) % (int32_t)g->n_bg);
        gen_add_act(in, t, GEN_A_SUB, a, b, 0, 0, false);
        if (gen_rndf(g) < 0.9) {
            int64_t ta = t + gen_rndr(g, 5000, 300000);
            gen_mutual_sub(g, in, a, b, ta, 3000, 8000);
            if (gen_rndu(g, 3) == 0) {
                gen_add_act(in, ta + gen_rndr(g, 10000, 60000), GEN_A_CHAT, b, a, GEN_TM_RANDOM, i,
                            false);
                gen_add_act(in, ta + gen_rndr(g, 61000, 120000), GEN_A_CHAT, a, b, GEN_TM_RANDOM, i,
                            false);
            }
        }
        t += gen_rndr(g, 4000, 25000);
    }
    in->size = (size_t)n;
}

void gen_plan_paste(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t r = gen_pick_room(g, 10);
    int32_t a = gen_pick_occupant(g, r);
    in->room = r;
    gen_add_off(in, a);
    gen_add_act(in, t, GEN_A_GC, a, r, GEN_TM_RANDOM, 0, false);
    gen_add_act(in, t + gen_rndr(g, 5000, 20000), GEN_A_GC, a, r, GEN_TM_PASTE, 1, false);
    gen_add_act(in, t + gen_rndr(g, 25000, 60000), GEN_A_GC, a, r, GEN_TM_RANDOM, 2, false);
    in->size = 1;
}

void gen_plan_flaky(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t r = gen_pick_room(g, 5);
    int32_t a = gen_pick_occupant(g, r);
    in->room = r;
    gen_add_off(in, a);
    int n = (int)gen_rndr(g, 30, 80);
    for (int i = 0; i < n; i++) {
        gen_add_act(in, t, GEN_A_LEAVE, a, r, 0, 0, false);
        gen_add_act(in, t + gen_rndr(g, 1000, 6000), GEN_A_JOIN, a, r, 0, 0, false);
        t += 30000 + gen_rndr(g, -5000, 5000);
    }
    in->size = (size_t)n;
}

void gen_plan_announce(struct gen *g, struct gen_inst *in, int64_t t)
{
    int n = (int)gen_rndr(g, 200, 800);
    if ((size_t)n > g->n_bg) {
        n = (int)g->n_bg;
    }
    int64_t span = gen_rndr(g, 2000, 10000);
    int32_t s = gen_pick_bg(g);
    for (int i = 0; i < n; i++) {
        gen_add_act(in, t + span * i / n, GEN_A_HEADLINE, -1, (int32_t)((s + i) % (int32_t)g->n_bg),
                    GEN_TM_FIXED, 0, false);
    }
    snprintf(in->text, sizeof(in->text),
             "The server will be upgraded tonight at 23:00 UTC, expect 5 minutes of downtime.");
    in->size = (size_t)n;
}

void gen_plan_returning(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = gen_pick_bg(g);
    gen_add_off(in, a);
    int want = (int)gen_rndr(g, 20, 35);
    for (int i = 0; g->acct[a].n_contacts < want && i < 400; i++) {
        gen_link_contacts(g, a, (int32_t)((a + 1 + i) % (int32_t)g->n_bg));
    }
    int n = g->acct[a].n_contacts;
    int64_t span = gen_rndr(g, 600000, 1200000);
    for (int i = 0; i < n; i++) {
        int32_t b = g->acct[a].contacts[i];
        int64_t tc = t + span * i / n;
        gen_add_act(in, tc, GEN_A_CHAT, a, b, GEN_TM_RANDOM, i, false);
        int rep = (int)gen_rndr(g, 1, 3);
        for (int j = 0; j < rep; j++) {
            tc += gen_rndr(g, 5000, 90000);
            gen_add_act(in, tc, GEN_A_CHAT, b, a, GEN_TM_RANDOM, i, false);
            gen_add_act(in, tc + gen_rndr(g, 3000, 30000), GEN_A_CHAT, a, b, GEN_TM_RANDOM, i,
                        false);
        }
    }
    in->size = (size_t)n;
}

void gen_plan_moderator(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t r = gen_pick_room(g, 20);
    int32_t a = g->room[r].occ[0];
    in->room = r;
    gen_add_off(in, a);
    int n = (int)gen_rndr(g, 10, 25);
    for (int i = 0; i < n; i++) {
        int32_t who = gen_pick_bg(g); /* drawn before the time: captures depend on the order */
        gen_add_act(in, t + gen_rndr(g, 0, 180000), GEN_A_INVITE, a, r, 0, who, false);
    }
    int k = (int)gen_rndr(g, 3, 8);
    for (int i = 0; i < k; i++) {
        int32_t who = gen_pick_occupant(g, r);
        gen_add_act(in, t + gen_rndr(g, 0, 180000), GEN_A_KICK, a, r, 0, who, false);
    }
    gen_add_act(in, t + 1000, GEN_A_GC, a, r, GEN_TM_RANDOM, 0, false);
    in->size = (size_t)(n + k);
}

void gen_plan_bridge(struct gen *g, struct gen_inst *in, int64_t t)
{
    char nm[28];
    snprintf(nm, sizeof(nm), "bridge%d", g->inst_no);
    int32_t a = gen_add_acct(g, nm, 2, false);
    int32_t r = gen_pick_room(g, 20);
    in->room = r;
    gen_add_off(in, a);
    gen_add_act(in, t, GEN_A_JOIN, a, r, 0, 0, false);
    int64_t end = t + gen_rndr(g, 600000, 1800000);
    double rate = (double)gen_rndr(g, 2, 5) / 10.0; /* 12-30 relayed lines a minute */
    int n = 0;
    t += 3000;
    while (t < end) {
        gen_add_act(in, t, GEN_A_GC, a, r, GEN_TM_BRIDGE, n++, false);
        t += gen_rnd_exp(g, 1000.0 / rate) + 200;
    }
    in->size = (size_t)n;
}

/* A newcomer hopping through public rooms, greeting briefly in each (room-spam
 * look-alike: one account, many rooms, similar short lines within minutes). */
void gen_plan_hopper(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = gen_fresh_acct(g, 0);
    gen_add_off(in, a);
    int n = (int)gen_rndr(g, 5, 10);
    if ((size_t)n > g->n_room - 1) {
        n = (int)g->n_room - 1;
    }
    int32_t nr = (int32_t)g->n_room, start = (int32_t)gen_rndu(g, (uint32_t)nr);
    for (int i = 0; i < n; i++) {
        int32_t r = (start + i) % nr;
        gen_add_act(in, t, GEN_A_JOIN, a, r, 0, 0, false);
        gen_add_act(in, t + gen_rndr(g, 2000, 10000), GEN_A_GC, a, r, GEN_TM_GREET, i, false);
        if (gen_rndu(g, 2) == 0) {
            gen_add_act(in, t + gen_rndr(g, 20000, 90000), GEN_A_GC, a, r, GEN_TM_RANDOM, i, false);
        }
        t += gen_rndr(g, 30000, 180000);
    }
    in->size = (size_t)n;
}

/* A support account answering questions from strangers who write first
 * (1:1 spam look-alike: many distinct non-contacts within an hour). */
void gen_plan_helpdesk(struct gen *g, struct gen_inst *in, int64_t t)
{
    char nm[28];
    snprintf(nm, sizeof(nm), "support%d", g->inst_no);
    int32_t h = gen_add_acct(g, nm, 0, false);
    gen_add_off(in, h);
    int n = gen_cap_strangers(g, (int)gen_rndr(g, 25, 60));
    int32_t *who = malloc((size_t)n * sizeof(int32_t));
    gen_pick_strangers(g, h, n, who);
    int64_t span = gen_rndr(g, 1800000, 3600000);
    for (int i = 0; i < n; i++) {
        int64_t tq = t + span * i / n + gen_rndr(g, 0, 20000);
        int rounds = (int)gen_rndr(g, 1, 3);
        for (int k = 0; k < rounds; k++) {
            gen_add_act(in, tq, GEN_A_CHAT, who[i], h, GEN_TM_RANDOM, i, false);
            tq += gen_rndr(g, 10000, 120000);
            gen_add_act(in, tq, GEN_A_CHAT, h, who[i], GEN_TM_RANDOM, i, false);
            tq += gen_rndr(g, 20000, 180000);
        }
    }
    free(who);
    in->size = (size_t)n;
}
