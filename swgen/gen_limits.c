/*
 * gen_limits.c - swgen's over-limit abuse (GEN_ISOLATED | GEN_HOSTILE) and
 * the payloads that cross, or stay within, the parser's limits
 * (configs/stanzawatch.yaml `limits:`: nesting 32, attribute 4 KB, body
 * text 64 KB; RFC 7622's 1023-byte JID part; engine/xml.c turns a stanza
 * over any of them into a minimal event without its body, which
 * detectors/over_limit.c counts per sender).
 *
 * over-limit: one fresh account trying to blind the watcher.
 *   "padded-flood": joins a busy room and floods 20-60 spam lines at 1-4 a
 *     second, each line carrying a foreign child with a 4,200-6,000-byte
 *     attribute (its body is then never seen by content rules);
 *   "deep-flood": the same with a foreign child nested 34-48 levels deep;
 *   "spray": 8-20 oversize messages 1:1 to strangers, 1-4 s apart, each one
 *     of: a 4,200-9,000-byte attribute, 34-48 levels of nesting, a
 *     1,030-1,200-byte local part in 'to', a 66-90 KB body.
 *   Every stanza of the instance is over a limit, so over_limit.repeat must
 *   fire from the fourth on. Offender: the account; truth class
 *   "hostile-input" (score.py counts it caught only by an incident naming
 *   over_limit, whatever else reports the account).
 * The benign look-alike (large-stanzas, big stanzas within the limits and
 * at most two over them) is in gen_lookalike.c.
 *
 * Payload bytes come from a local generator seeded by the size, not from
 * gen->rng: writing them draws nothing, so only the plans' draws (on the
 * instance's own stream) decide the output.
 */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_text.h"

void gen_sb_put_b64(struct gen_sb *b, uint64_t s, size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    gen_sb_grow(b, n);
    char *p = b->p + b->n;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = b64[s >> 58];
    }
    b->n += n;
}

void gen_kids_pad(struct gen *g)
{
    struct gen_sb *k = &g->kids;
    size_t n = g->pad_k > 0 ? (size_t)g->pad_k : 0;
    switch (g->pad) {
    case GEN_PAD_ATTR:
        gen_sb_puts(k, "<fill xmlns='urn:x-pad:0' data='");
        gen_sb_put_b64(k, n, n);
        gen_sb_puts(k, "'/>");
        break;
    case GEN_PAD_DEEP:
        gen_sb_puts(k, "<x xmlns='urn:x-nest:0'>");
        for (size_t i = 1; i < n; i++) {
            gen_sb_puts(k, "<x>");
        }
        for (size_t i = 1; i < n; i++) {
            gen_sb_puts(k, "</x>");
        }
        gen_sb_puts(k, "</x>");
        break;
    case GEN_PAD_THUMB:
        gen_sb_puts(k, "<thumbnail xmlns='urn:xmpp:thumbs:1' uri='data:image/jpeg;base64,");
        gen_sb_put_b64(k, n * 31, n);
        gen_sb_puts(k, "' media-type='image/jpeg' width='160' height='120'/>");
        break;
    default:
        break;
    }
}

void gen_attr_long_to(struct gen *g)
{
    struct gen_sb *a = &g->attr;
    size_t n = g->pad_k > 0 ? (size_t)g->pad_k : 1;
    gen_sb_puts(a, " to='");
    gen_sb_grow(a, n);
    uint64_t s = n;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        a->p[a->n++] = (char)('a' + (s >> 59) % 26);
    }
    gen_sb_puts(a, "@b.test'");
}

const char *gen_big_paste(struct gen *g, uint64_t r, size_t bytes)
{
    gen_sb_grow(&g->big, bytes + 1);
    /* gen_paste stops about 120 bytes before its cap: lines enough for any size */
    gen_paste(g->big.p, bytes + 1, r, (int)(bytes / 8 + 1));
    return g->big.p;
}

/* one padded action: @pad of size @k on action @kind (GC or CHAT) */
static void padded(struct gen_inst *in, int64_t t, int kind, int32_t a, int32_t arg, int pad,
                   int32_t k)
{
    gen_add_act(in, t, kind, a, arg, GEN_TM_SUFFIX, k, true);
    in->acts[in->n_acts - 1].pad = (uint8_t)pad;
}

void gen_plan_over_limit(struct gen *g, struct gen_inst *in, int64_t t)
{
    int32_t a = gen_fresh_acct(g, gen_any_domain(g));
    gen_add_off(in, a);
    gen_spam_line(in->text, sizeof(in->text), gen_rnd64(g));
    if (in->variant < 2) { /* a flood in a room, every line padded */
        int32_t r = gen_pick_room(g, 15);
        in->room = r;
        gen_add_act(in, t, GEN_A_JOIN, a, r, 0, 0, false);
        t += gen_rndr(g, 3000, 30000);
        int n = (int)gen_rndr(g, 20, 60);
        double gap = 1000.0 / (double)gen_rndr(g, 1, 4);
        for (int i = 0; i < n; i++) {
            int32_t k =
                in->variant == 0 ? (int32_t)gen_rndr(g, 4200, 6000) : (int32_t)gen_rndr(g, 34, 48);
            padded(in, t, GEN_A_GC, a, r, in->variant == 0 ? GEN_PAD_ATTR : GEN_PAD_DEEP, k);
            t += (int64_t)(gap * (0.3 + 1.4 * gen_rndf(g)));
        }
        gen_add_act(in, t + 5000, GEN_A_LEAVE, a, r, 0, 0, false);
        in->size = (size_t)n;
        return;
    }
    /* spray: oversize messages of every kind to strangers */
    int m = gen_cap_strangers(g, (int)gen_rndr(g, 8, 20));
    int32_t tg[20];
    gen_pick_strangers(g, a, m, tg);
    for (int i = 0; i < m; i++) {
        switch (gen_rndu(g, 4)) {
        case 0:
            padded(in, t, GEN_A_CHAT, a, tg[i], GEN_PAD_ATTR, (int32_t)gen_rndr(g, 4200, 9000));
            break;
        case 1:
            padded(in, t, GEN_A_CHAT, a, tg[i], GEN_PAD_DEEP, (int32_t)gen_rndr(g, 34, 48));
            break;
        case 2:
            padded(in, t, GEN_A_CHAT, a, tg[i], GEN_PAD_LONG_TO, (int32_t)gen_rndr(g, 1030, 1200));
            break;
        default:
            gen_add_act(in, t, GEN_A_CHAT, a, tg[i], GEN_TM_BIGPASTE,
                        (int32_t)gen_rndr(g, 66000, 90000), true);
            break;
        }
        t += gen_rndr(g, 1000, 4000);
    }
    in->size = (size_t)m;
}
