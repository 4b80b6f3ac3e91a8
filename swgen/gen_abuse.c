/*
 * gen_abuse.c - plans of swgen's abuse scenarios (rows of scenarios.def
 * without GEN_BENIGN). A plan draws its accounts, rooms, sizes and speeds
 * from gen->rng up front and appends timed actions to the instance; abusive
 * actions carry abuse=1 (they set the instance's start/end); offenders are
 * labelled with gen_add_off(), may-be-reported accounts with
 * gen_add_accept(), a whole offending domain with in->off_domain.
 */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_text.h"

void gen_plan_muc_flood(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = gen_fresh_acct(g, gen_any_domain(g));
    int32_t r = gen_pick_room(g, 15);
    in->room = r;
    gen_add_off(in, a);
    gen_add_act(in, t, GEN_A_JOIN, a, r, 0, 0, false);
    t += gen_rndr(g, 3000, 30000);
    int n;
    double gap;
    int text;
    switch (in->variant) {
    case 0: /* rate, varied text */
        n = (int)gen_rndr(g, 30, 120);
        gap = 1000.0 / (double)gen_rndr(g, 2, 10);
        text = GEN_TM_RANDOM;
        break;
    case 1: /* repeated line */
        n = (int)gen_rndr(g, 20, 80);
        gap = 1000.0 / (double)gen_rndr(g, 1, 5);
        text = GEN_TM_FIXED;
        break;
    default: /* long multi-line bursts */
        n = (int)gen_rndr(g, 8, 20);
        gap = 1000.0 / ((double)gen_rndr(g, 3, 10) / 10.0);
        text = GEN_TM_MULTI;
        break;
    }
    gen_spam_line(in->text, sizeof(in->text), gen_rnd64(g));
    for (int i = 0; i < n; i++) {
        gen_add_act(in, t, GEN_A_GC, a, r, text, i, true);
        t += (int64_t)(gap * (0.3 + 1.4 * gen_rndf(g)));
    }
    gen_add_act(in, t + 5000, GEN_A_LEAVE, a, r, 0, 0, false);
    in->size = (size_t)n;
}

int64_t gen_raider(struct gen *g, struct gen_inst *in, int32_t a, int32_t r, int64_t tj, bool abuse)
{
    gen_add_act(in, tj, GEN_A_JOIN, a, r, 0, 0, false);
    int m = (int)gen_rndr(g, 1, 3);
    int64_t tm = tj + gen_rndr(g, 500, 8000);
    for (int j = 0; j < m; j++) {
        gen_add_act(in, tm, GEN_A_GC, a, r, GEN_TM_SUFFIX, j, abuse);
        tm += gen_rndr(g, 300, 6000);
    }
    return tm;
}

void gen_plan_muc_raid(struct gen *g, struct gen_inst *in, int64_t t)
{
    size_t dom = gen_spam_domain(g);
    int k = (int)gen_rndr(g, 6, 30);
    int32_t r = gen_pick_room(g, 10);
    in->room = r;
    in->acc_domain = (int)dom;
    gen_spam_line(in->text, sizeof(in->text), gen_rnd64(g));
    int64_t spread = gen_rndr(g, 5000, 20000);
    for (int i = 0; i < k; i++) {
        int32_t a = gen_fresh_acct(g, dom);
        gen_add_off(in, a);
        int64_t tm = gen_raider(g, in, a, r, t + gen_rndr(g, 0, spread), true);
        gen_add_act(in, tm + gen_rndr(g, 1000, 20000), GEN_A_LEAVE, a, r, 0, 0, false);
    }
    in->size = (size_t)k;
}

void gen_plan_room_spam(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = gen_fresh_acct(g, gen_any_domain(g));
    gen_add_off(in, a);
    int n = (int)gen_rndr(g, 6, 25);
    if ((size_t)n > g->n_room - 1) {
        n = (int)g->n_room - 1;
    }
    gen_spam_line(in->text, sizeof(in->text), gen_rnd64(g));
    int32_t start = (int32_t)gen_rndu(g, (uint32_t)g->n_room);
    int64_t gap = gen_rndr(g, 3000, 40000);
    /* a step coprime to the room count visits n distinct rooms */
    int32_t nr = (int32_t)g->n_room, step;
    for (;;) {
        step = 1 + (int32_t)gen_rndu(g, (uint32_t)nr - 1);
        int32_t x = step, y = nr;
        while (y != 0) {
            int32_t tmp = x % y;
            x = y;
            y = tmp;
        }
        if (x == 1) {
            break;
        }
    }
    for (int i = 0; i < n; i++) {
        int32_t r = (int32_t)((start + i * step) % nr);
        gen_add_act(in, t, GEN_A_JOIN, a, r, 0, 0, false);
        gen_add_act(in, t + gen_rndr(g, 800, 5000), GEN_A_GC, a, r, GEN_TM_MUTATED, i, true);
        gen_add_act(in, t + gen_rndr(g, 6000, 9000), GEN_A_LEAVE, a, r, 0, 0, false);
        t += (int64_t)((double)gap * (0.5 + gen_rndf(g)));
    }
    in->size = (size_t)n;
}

static void sub_targets(struct gen *g, struct gen_inst *in, int32_t a, int n, int64_t t,
                        double mean_gap_ms, double p_answer)
{
    int32_t *tg = malloc((size_t)n * sizeof(int32_t));
    gen_pick_strangers(g, a, n, tg);
    for (int i = 0; i < n; i++) {
        int32_t b = tg[i];
        gen_add_act(in, t, GEN_A_SUB, a, b, 0, 0, true);
        double u = gen_rndf(g);
        if (u < p_answer) {
            gen_add_act(in, t + gen_rndr(g, 2000, 600000), GEN_A_SUBD, b, a, 0, 0, false);
        } else if (u < p_answer + 0.1) {
            gen_add_act(in, t + gen_rndr(g, 1000, 60000), GEN_A_UNSUBD, b, a, 0, 0, false);
        }
        t += (int64_t)(mean_gap_ms * (0.4 + 1.2 * gen_rndf(g)));
    }
    free(tg);
}

void gen_plan_sub_burst(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = gen_fresh_acct(g, gen_any_domain(g));
    gen_add_off(in, a);
    int n = gen_cap_strangers(g, (int)gen_rndr(g, 25, 150));
    double span = (double)gen_rndr(g, 10000, 60000); /* "many in a minute" */
    sub_targets(g, in, a, n, t, span / n, 0.05);
    in->size = (size_t)n;
}

void gen_plan_sub_domain(struct gen *g, struct gen_inst *in, int64_t t)
{
    size_t dom = gen_spam_domain(g);
    in->off_domain = (int)dom;
    int m = (int)gen_rndr(g, 8, 30);
    int64_t span = gen_rndr(g, 15000, 60000);
    for (int i = 0; i < m; i++) {
        int32_t a = gen_fresh_acct(g, dom);
        gen_add_accept(in, a);
        int n = (int)gen_rndr(g, 2, 8);
        sub_targets(g, in, a, n, t + gen_rndr(g, 0, span / 2), (double)span / 2 / n, 0.05);
    }
    in->size = (size_t)m;
}

void gen_plan_sub_slow(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = gen_fresh_acct(g, gen_any_domain(g));
    gen_add_off(in, a);
    /* "hundreds of distinct accounts over hours" */
    int n = gen_cap_strangers(g, (int)gen_rndr(g, 200, 450));
    double gap = (double)gen_rndr(g, 20000, 50000); /* 1-3 a minute: under any per-minute limit */
    int64_t avail = g->t0 + g->duration_ms - t - 60000;
    if ((double)n * gap > (double)avail) {
        n = (int)((double)avail / gap);
    }
    if (n < 200) {
        in->skipped = true;
        return;
    }
    sub_targets(g, in, a, n, t, gap, 0.05);
    in->size = (size_t)n;
}

void gen_plan_msg_spam(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = gen_fresh_acct(g, gen_any_domain(g));
    gen_add_off(in, a);
    int n = gen_cap_strangers(g, (int)gen_rndr(g, 25, 120));
    double span = (double)gen_rndr(g, 180000, 2400000);
    gen_spam_line(in->text, sizeof(in->text), gen_rnd64(g));
    int32_t *tg = malloc((size_t)n * sizeof(int32_t));
    gen_pick_strangers(g, a, n, tg);
    for (int i = 0; i < n; i++) {
        int32_t b = tg[i];
        gen_add_act(in, t, GEN_A_CHAT, a, b, GEN_TM_MUTATED, i, true);
        if (gen_rndu(g, 20) == 0) {
            gen_add_act(in, t + gen_rndr(g, 5000, 120000), GEN_A_CHAT, b, a, GEN_TM_REPLY, i,
                        false);
        }
        t += (int64_t)(span / n * (0.4 + 1.2 * gen_rndf(g)));
    }
    free(tg);
    in->size = (size_t)n;
}

void gen_plan_churn(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = gen_fresh_acct(g, gen_any_domain(g));
    gen_add_off(in, a);
    int32_t r = gen_pick_room(g, 5);
    in->room = r;
    if (in->variant == 0) { /* rejoin storm */
        int n = (int)gen_rndr(g, 15, 60);
        for (int i = 0; i < n; i++) {
            gen_add_act(in, t, GEN_A_JOIN, a, r, 0, 0, true);
            t += gen_rndr(g, 300, 3000);
            gen_add_act(in, t, GEN_A_LEAVE, a, r, 0, 0, true);
            t += gen_rndr(g, 300, 3000);
        }
        in->size = (size_t)n;
    } else { /* nick-change storm */
        gen_add_act(in, t, GEN_A_JOIN, a, r, 0, 0, false);
        t += gen_rndr(g, 2000, 10000);
        int n = (int)gen_rndr(g, 15, 50);
        for (int i = 1; i <= n; i++) {
            gen_add_act(in, t, GEN_A_NICK, a, r, 0, 0, true);
            in->acts[in->n_acts - 1].nickv = (int16_t)i;
            t += gen_rndr(g, 300, 3000);
        }
        gen_add_act(in, t, GEN_A_LEAVE, a, r, 0, 0, false);
        in->acts[in->n_acts - 1].nickv = (int16_t)n;
        in->size = (size_t)n;
    }
}
