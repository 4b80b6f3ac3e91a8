/*
 * gen_content.c - plans of swgen's content and wave abuse (issue 13), both
 * GEN_ISOLATED (gen.h): they run on their own random stream and change no
 * background state, so adding them changed no byte of the other scenarios.
 *
 * content-slow: low-and-slow obfuscated spam. One to three long-lived
 *   accounts (background accounts that are occupants of the room) first talk
 *   normally in the one or two rooms they use, 10-30 minutes before, then
 *   post one lure (gen_lure.c: leet, look-alike letters, zero-width,
 *   fullwidth, seven languages, shortener and invite links) every 2-8
 *   minutes, 8-20 in all, still chatting now and then. Variant "contacts":
 *   the lures go 1:1 to the account's own contacts instead (a hijacked
 *   account), a few of whom answer. No rate, no strangers, no repeats: only
 *   what the lines say gives it away. Offenders: the accounts.
 * thin-wave: a distributed wave spread thin. 120-400 fresh accounts, on 8-37
 *   fresh domains (60%), the three public background domains (30%) and
 *   a.test (10%), start within 20-90 minutes; each sends 1-5 messages to
 *   distinct strangers 5-120 s apart, each message spun from the campaign's
 *   template with one of its 2-3 shared link targets (gen_wave_text); 5% of
 *   the recipients answer. Offenders: every account (the score counts an
 *   account also caught when its fresh domain is reported); acceptable: the
 *   fresh domains, never the public ones.
 */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_text.h"

/* an occupant of room @r not yet in @in's offenders (-1 after 20 tries) */
static int32_t new_occupant(struct gen *g, struct gen_inst *in, int32_t r)
{
    for (int tries = 0; tries < 20; tries++) {
        int32_t a = gen_pick_occupant(g, r);
        bool dup = false;
        for (size_t k = 0; k < in->n_off && !dup; k++) {
            dup = in->off[k] == a;
        }
        if (!dup && g->acct[a].bg && !gen_taken(g, a)) {
            return a;
        }
    }
    return -1;
}

void gen_plan_content_slow(struct gen *g, struct gen_inst *in, int64_t t)
{
    int n_acc = 1 + (int)gen_rndu(g, 3);
    int64_t t_spam = t + gen_rndr(g, 600000, 1800000);
    size_t size = 0;
    for (int j = 0; j < n_acc; j++) {
        int32_t rooms[2];
        rooms[0] = gen_pick_room(g, 8);
        int32_t a = new_occupant(g, in, rooms[0]);
        if (a < 0) {
            continue;
        }
        gen_add_off(in, a);
        if (in->room < 0) {
            in->room = rooms[0];
        }
        int n_rooms = 1 + (int)gen_rndu(g, 2);
        rooms[1] = gen_pick_room(g, 8);
        if (rooms[1] == rooms[0]) {
            n_rooms = 1;
        }
        /* a normal history in every room it will post in */
        for (int k = 0; k < n_rooms; k++) {
            int h = (int)gen_rndr(g, 2, 5);
            for (int i = 0; i < h; i++) {
                gen_add_act(in, t + gen_rndr(g, 0, t_spam - t - 30000), GEN_A_GC, a, rooms[k],
                            GEN_TM_RANDOM, i, false);
            }
        }
        bool contacts = in->variant == 1 && g->acct[a].n_contacts >= 3;
        int n = (int)gen_rndr(g, 8, 20);
        int64_t ts = t_spam + gen_rndr(g, 0, 240000);
        for (int i = 0; i < n; i++) {
            if (contacts) {
                int32_t b = g->acct[a].contacts[i % g->acct[a].n_contacts];
                gen_add_act(in, ts, GEN_A_CHAT, a, b, GEN_TM_LURE, i, true);
                if (gen_rndu(g, 5) == 0) {
                    gen_add_act(in, ts + gen_rndr(g, 20000, 600000), GEN_A_CHAT, b, a,
                                GEN_TM_ANSWER, i, false);
                }
            } else {
                gen_add_act(in, ts, GEN_A_GC, a, rooms[i % n_rooms], GEN_TM_LURE, i, true);
            }
            if (gen_rndu(g, 4) == 0) { /* still chatting now and then */
                gen_add_act(in, ts + gen_rndr(g, 20000, 100000), GEN_A_GC, a, rooms[0],
                            GEN_TM_RANDOM, i, false);
            }
            ts += gen_rndr(g, 120000, 480000);
        }
        size += (size_t)n;
    }
    in->size = size;
}

/* a fresh domain of the kind free XMPP servers have (the instance number
 * keeps two waves' domains apart) */
static size_t wave_domain(struct gen *g, int k)
{
    static const char *const fmt[] = {"xmpp%s.example", "chat-%s.example", "jabber.%s.example",
                                      "im%s.example",   "%s-talk.example", "%s.chat.example"};
    char tok[GEN_TOKEN_MAX + 1], name[GEN_TOKEN_MAX + 16], d[112];
    uint32_t f = gen_rndu(g, 6);
    gen_token(tok, gen_rnd64(g), 3 + (int)gen_rndu(g, 3));
    snprintf(name, sizeof(name), "%s%d", tok, g->inst_no * 100 + k);
    snprintf(d, sizeof(d), fmt[f], name);
    return gen_add_domain(g, d);
}

void gen_plan_thin_wave(struct gen *g, struct gen_inst *in, int64_t t)
{
    int n_dom = 8 + (int)gen_rndu(g, 30);
    size_t *doms = malloc((size_t)n_dom * sizeof(*doms));
    if (doms == NULL) {
        gen_oom();
    }
    for (int k = 0; k < n_dom; k++) {
        doms[k] = wave_domain(g, k);
        gen_add_accept_domain(in, (int)doms[k]);
    }
    int n = (int)gen_rndr(g, 120, 400);
    int64_t span = gen_rndr(g, 1200000, 5400000);
    int32_t tg[5];
    for (int i = 0; i < n; i++) {
        double u = gen_rndf(g);
        size_t dom = u < 0.6   ? doms[gen_rndu(g, (uint32_t)n_dom)]
                     : u < 0.9 ? 1 + gen_rndu(g, 3)
                               : 0;
        int32_t a = gen_fresh_acct(g, dom);
        gen_add_off(in, a);
        int m = 1 + (int)gen_rndu(g, 5);
        gen_pick_strangers(g, a, m, tg);
        int64_t ta = t + gen_rndr(g, 0, span);
        for (int j = 0; j < m; j++) {
            gen_add_act(in, ta, GEN_A_CHAT, a, tg[j], GEN_TM_WAVE, j, true);
            if (gen_rndu(g, 20) == 0) {
                gen_add_act(in, ta + gen_rndr(g, 10000, 300000), GEN_A_CHAT, tg[j], a,
                            GEN_TM_ANSWER, j, false);
            }
            ta += gen_rndr(g, 5000, 120000);
        }
    }
    free(doms);
    in->size = (size_t)n;
}
