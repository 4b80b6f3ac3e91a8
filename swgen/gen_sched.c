/*
 * gen_sched.c - swgen's scheduler: a discrete-event simulation. Sources
 * (background processes, scenario instances, one-shot delayed answers) sit
 * in a binary min-heap keyed by (time, creation order), so the output is a
 * pure function of the options and the seed.
 *
 * Background processes: groupchat in rooms weighted to the busy ones (the
 * first occupants talk most), 1:1 conversations that alternate speakers,
 * presence broadcasts, iq, MUC joins/leaves, subscriptions that mostly get
 * `subscribed` back later. Their rates are calibrated so the whole capture
 * has about --stanzas stanzas over --duration seconds of stream time.
 */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_text.h"

static bool src_less(const struct gen_src *x, const struct gen_src *y)
{
    return x->t < y->t || (x->t == y->t && x->order < y->order);
}

static void heap_push(struct gen *g, struct gen_src s)
{
    if (g->n_src == g->cap_src) {
        g->cap_src = g->cap_src ? g->cap_src * 2 : 256;
        g->src = realloc(g->src, g->cap_src * sizeof(*g->src));
    }
    s.order = g->order++;
    size_t i = g->n_src++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!src_less(&s, &g->src[p])) {
            break;
        }
        g->src[i] = g->src[p];
        i = p;
    }
    g->src[i] = s;
}

static struct gen_src heap_pop(struct gen *g)
{
    struct gen_src top = g->src[0];
    struct gen_src last = g->src[--g->n_src];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= g->n_src) {
            break;
        }
        if (c + 1 < g->n_src && src_less(&g->src[c + 1], &g->src[c])) {
            c++;
        }
        if (!src_less(&g->src[c], &last)) {
            break;
        }
        g->src[i] = g->src[c];
        i = c;
    }
    if (g->n_src > 0) {
        g->src[i] = last;
    }
    return top;
}

static int32_t pick_room_weighted(struct gen *g)
{
    double u = gen_rndf(g);
    return (int32_t)(u * u * (double)g->n_room);
}

static void bg_step(struct gen *g, struct gen_src *s)
{
    int64_t t = s->t;
    switch (s->kind) {
    case GEN_S_GC: {
        int32_t r = pick_room_weighted(g);
        struct gen_room *rm = &g->room[r];
        if (rm->n_occ == 0) {
            break;
        }
        double u = gen_rndf(g);
        /* talkative first occupants, but no one above a few lines a minute */
        int32_t a = rm->occ[(int)(u * sqrt(u) * rm->n_occ)];
        if (!g->acct[a].bg) {
            break;
        }
        char body[512];
        gen_sentence(body, sizeof(body), gen_rnd64(g));
        gen_st_groupchat(g, t, a, r, body, 0);
        break;
    }
    case GEN_S_CHAT: {
        struct gen_conv *c = &g->conv[gen_rndu(g, GEN_N_CONV)];
        if (c->left <= 0) {
            c->a = gen_pick_bg(g);
            if (g->acct[c->a].n_contacts == 0) {
                break;
            }
            c->b = g->acct[c->a].contacts[gen_rndu(g, g->acct[c->a].n_contacts)];
            c->left = (int)gen_rndr(g, 2, 30);
        }
        char body[512];
        gen_sentence(body, sizeof(body), gen_rnd64(g));
        gen_st_chat(g, t, c->a, c->b, body);
        c->left--;
        if (gen_rndu(g, 10) < 7) {
            int32_t x = c->a;
            c->a = c->b;
            c->b = x;
        }
        break;
    }
    case GEN_S_BCAST:
        gen_st_bcast(g, t, gen_pick_bg(g));
        break;
    case GEN_S_IQ:
        gen_st_iq(g, t, gen_pick_bg(g));
        break;
    case GEN_S_MUCJL: {
        int32_t r = pick_room_weighted(g);
        struct gen_room *rm = &g->room[r];
        if (gen_rndu(g, 2) == 0 && rm->n_occ > 6) {
            int32_t a = rm->occ[rm->n_occ / 2 + gen_rndu(g, rm->n_occ - rm->n_occ / 2)];
            if (g->acct[a].bg) {
                gen_st_muc_presence(g, t, a, r, 0, false, true);
            }
        } else {
            int32_t a = gen_pick_bg(g);
            if (!gen_in_room(rm, a)) {
                gen_st_muc_presence(g, t, a, r, 0, true, false);
            }
        }
        break;
    }
    case GEN_S_SUB: {
        int32_t a = gen_pick_bg(g);
        int32_t b = gen_pick_stranger(g, a);
        gen_st_sub(g, t, a, b, "subscribe");
        if (gen_rndf(g) < 0.85) {
            struct gen_src o = {
                .t = t + gen_rndr(g, 2000, 300000), .kind = GEN_S_ONESHOT_SUBD, .a = b, .b = a};
            heap_push(g, o);
            gen_link_contacts(g, a, b);
        }
        break;
    }
    default:
        break;
    }
}

void gen_run(struct gen *g, uint64_t stanzas)
{
    double duration_s = (double)(g->duration_ms / 1000);
    for (size_t i = 0; i < g->n_ins; i++) {
        if (!g->ins[i].skipped) {
            struct gen_src s = {.t = g->ins[i].acts[0].t, .kind = GEN_S_INST, .a = (int32_t)i};
            heap_push(g, s);
        }
    }

    /* background: stanzas per second, split by kind (share, stanzas per event) */
    double rate = ((double)stanzas - (double)g->scen_stanzas * 1.3) / duration_s;
    if (rate < (double)stanzas / duration_s * 0.2) {
        rate = (double)stanzas / duration_s * 0.2;
    }
    static const struct {
        int kind;
        double share, per_event;
    } mix[] = {
        {GEN_S_GC, 0.40, 1.0 + 0.35 * 3.6}, {GEN_S_CHAT, 0.25, 1.0},
        {GEN_S_BCAST, 0.18, 6.0},           {GEN_S_IQ, 0.09, 1.5},
        {GEN_S_MUCJL, 0.05, 1.5},           {GEN_S_SUB, 0.03, 1.85},
    };
    for (size_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++) {
        double ev_per_s = rate * mix[i].share / mix[i].per_event;
        struct gen_src s = {.kind = mix[i].kind, .mean_ms = 1000.0 / ev_per_s};
        s.tf = (double)g->t0 + gen_rndf(g) * s.mean_ms;
        s.t = (int64_t)s.tf;
        heap_push(g, s);
    }

    gen_sb_grow(&g->out, GEN_OUT_CAP);
    gen_sb_puts(&g->out, "<stream:stream xmlns='jabber:server' "
                         "xmlns:stream='http://etherx.jabber.org/streams'>\n");
    int64_t t_end = g->t0 + g->duration_ms;
    while (g->n_src > 0) {
        struct gen_src s = heap_pop(g);
        if (s.t > t_end) {
            if (s.kind == GEN_S_INST) {
                g->ins[s.a].truncated = true;
            }
            continue;
        }
        if (s.kind == GEN_S_INST) {
            struct gen_inst *in = &g->ins[s.a];
            uint64_t main_rng = g->rng;
            if (in->isolated) { /* its own stream, ids and no world changes */
                g->rng = in->rng;
                g->iso = true;
                if (in->def->flags & GEN_OWN_IDS) {
                    g->id_own = &in->idctr;
                    g->id_base = (1ULL << 41) + ((uint64_t)s.a << 24);
                }
            }
            gen_run_act(g, in, &in->acts[in->next++]);
            if (in->isolated) {
                in->rng = g->rng;
                g->rng = main_rng;
                g->iso = false;
                g->id_own = NULL;
            }
            if (in->next < in->n_acts) {
                s.t = in->acts[in->next].t;
                heap_push(g, s);
            }
        } else if (s.kind == GEN_S_ONESHOT_SUBD) {
            gen_st_sub(g, s.t, s.a, s.b, "subscribed");
        } else {
            bg_step(g, &s);
            s.tf += -s.mean_ms * log1p(-gen_rndf(g));
            s.t = (int64_t)s.tf;
            heap_push(g, s);
        }
    }
    gen_sb_puts(&g->out, "</stream:stream>\n");
    gen_out_flush(g);
}

void gen_sched_free(struct gen *g)
{
    free(g->src);
    g->src = NULL;
    g->n_src = g->cap_src = 0;
}
