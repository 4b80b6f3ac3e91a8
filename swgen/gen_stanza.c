/*
 * gen_stanza.c - one function per stanza kind swgen writes: groupchat with
 * MUC reflections (room/nick -> occupants, same id), MUC join/leave/nick
 * presence with the room's self-presence, 1:1 chat with optional XEP-0280
 * carbons, subscription presences, presence broadcasts with fan-out copies
 * sharing one id, iq pings and roster gets with server results, headlines,
 * MUC invites and kicks. Each builds gen->attr/gen->kids and calls
 * gen_emit(); random choices (reflections, carbons, shows) come from gen->rng.
 */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_text.h"

/* one end of a stanza (from or to) and the JID form it is written in */
enum addr_kind {
    AD_NONE,      /* no attribute (a broadcast's to) */
    AD_FULL,      /* account/resource */
    AD_BARE,      /* account */
    AD_OTHER_RES, /* account/the resource after its own (a carbon's target) */
    AD_ROOM,      /* room@service */
    AD_OCC,       /* room@service/nick of account a (nick variant nickv) */
    AD_TEXT       /* a literal JID (a server) */
};

struct addr {
    enum addr_kind kind;
    int32_t a, r;
    int nickv;
    const char *text;
};

static struct addr full(int32_t a)
{
    return (struct addr){.kind = AD_FULL, .a = a};
}

static struct addr bare(int32_t a)
{
    return (struct addr){.kind = AD_BARE, .a = a};
}

static struct addr room(int32_t r)
{
    return (struct addr){.kind = AD_ROOM, .r = r};
}

static struct addr occupant(int32_t r, int32_t a, int nickv)
{
    return (struct addr){.kind = AD_OCC, .a = a, .r = r, .nickv = nickv};
}

static struct addr text(const char *jid)
{
    return (struct addr){.kind = AD_TEXT, .text = jid};
}

static void put_addr(struct gen *g, struct gen_sb *b, struct addr x)
{
    switch (x.kind) {
    case AD_FULL:
        gen_put_full(g, b, x.a);
        break;
    case AD_BARE:
        gen_put_bare(g, b, x.a);
        break;
    case AD_OTHER_RES:
        gen_put_bare(g, b, x.a);
        gen_sb_puts(b, "/");
        gen_sb_puts(b, gen_resources[(g->acct[x.a].res + 1) % 8]);
        break;
    case AD_ROOM:
        gen_put_room(g, b, x.r);
        break;
    case AD_OCC:
        gen_put_room(g, b, x.r);
        gen_sb_putn(b, "/", 1);
        gen_put_nick(g, b, x.a, x.nickv);
        break;
    case AD_TEXT:
        gen_sb_puts(b, x.text);
        break;
    default:
        break;
    }
}

/* starts the next stanza's attributes: from='@from' and, unless AD_NONE, to='@to' */
static void begin(struct gen *g, struct addr from, struct addr to)
{
    gen_attr_begin(g);
    gen_sb_puts(&g->attr, " from='");
    put_addr(g, &g->attr, from);
    gen_sb_putn(&g->attr, "'", 1);
    if (to.kind != AD_NONE) {
        gen_sb_puts(&g->attr, " to='");
        put_addr(g, &g->attr, to);
        gen_sb_putn(&g->attr, "'", 1);
    }
}

void gen_st_reflect(struct gen *g, int64_t t, int32_t r, int32_t a, int nickv, int32_t to,
                    uint64_t id, const char *body)
{
    begin(g, occupant(r, a, nickv), full(to));
    gen_attr_type(g, "groupchat");
    gen_attr_idv(g, id);
    gen_kids_body(g, body);
    gen_kids_pad(g); /* the room passes the sender's extensions on */
    gen_emit(g, t, "message", g->muc);
}

uint64_t gen_st_groupchat(struct gen *g, int64_t t, int32_t a, int32_t r, const char *body,
                          int nickv)
{
    uint64_t id = gen_new_id(g);
    begin(g, full(a), room(r));
    gen_attr_type(g, "groupchat");
    gen_attr_idv(g, id);
    gen_kids_body(g, body);
    gen_kids_pad(g);
    gen_emit(g, t, "message", g->muc);
    struct gen_room *rm = &g->room[r];
    if (rm->n_occ > 1 && gen_rndf(g) < g->refl_p) {
        int k = 2 + (int)gen_rndu(g, 5);
        for (int i = 0; i < k && i < rm->n_occ; i++) {
            int32_t to = rm->occ[gen_rndu(g, rm->n_occ)];
            if (to == a) {
                continue;
            }
            gen_st_reflect(g, t, r, a, nickv, to, id, body);
        }
    }
    return id;
}

void gen_st_muc_presence(struct gen *g, int64_t t, int32_t a, int32_t r, int nickv, bool join,
                         bool leave)
{
    uint64_t id = gen_new_id(g);
    begin(g, full(a), occupant(r, a, nickv));
    if (leave) {
        gen_attr_type(g, "unavailable");
    }
    gen_attr_idv(g, id);
    if (join) {
        gen_sb_puts(&g->kids,
                    "<x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x>");
    }
    gen_emit(g, t, "presence", g->muc);
    if (join) {
        if (!g->iso) { /* isolated instances leave the world as it is */
            gen_room_add(&g->room[r], a);
        }
        /* the room's self-presence back to the joiner (a reflection) */
        begin(g, occupant(r, a, nickv), full(a));
        gen_attr_idv(g, id);
        gen_sb_puts(&g->kids, "<x xmlns='http://jabber.org/protocol/muc#user'><item "
                              "affiliation='none' role='participant'/><status code='110'/></x>");
        gen_emit(g, t, "presence", g->muc);
    } else if (leave && !g->iso) {
        gen_room_del(&g->room[r], a);
    }
}

void gen_st_chat(struct gen *g, int64_t t, int32_t a, int32_t b, const char *body)
{
    bool long_to = g->pad == GEN_PAD_LONG_TO;
    begin(g, full(a), long_to ? (struct addr){.kind = AD_NONE} : bare(b));
    if (long_to) {
        gen_attr_long_to(g);
    }
    gen_attr_type(g, "chat");
    uint64_t id = gen_new_id(g);
    gen_attr_idv(g, id);
    gen_kids_body(g, body);
    gen_kids_pad(g);
    gen_sb_puts(&g->kids, "<active xmlns='http://jabber.org/protocol/chatstates'/>");
    gen_emit(g, t, "message", "a.test");
    if (g->carbons > 0 && g->acct[a].dom == 0 && gen_rndf(g) < g->carbons && !long_to) {
        /* XEP-0280 carbon of the sent message to the sender's other client:
         * a copy, never a new send */
        begin(g, bare(a), (struct addr){.kind = AD_OTHER_RES, .a = a});
        gen_attr_type(g, "chat");
        gen_sb_puts(&g->kids,
                    "<sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
                    "<message xmlns='jabber:client' from='");
        gen_put_full(g, &g->kids, a);
        gen_sb_puts(&g->kids, "' to='");
        gen_put_bare(g, &g->kids, b);
        gen_sb_puts(&g->kids, "' type='chat' id='");
        gen_put_id(&g->kids, id);
        gen_sb_puts(&g->kids, "'>");
        gen_kids_body(g, body);
        gen_kids_pad(g);
        gen_sb_puts(&g->kids, "</message></forwarded></sent>");
        gen_emit(g, t, "message", "a.test");
    }
}

void gen_st_sub(struct gen *g, int64_t t, int32_t a, int32_t b, const char *type)
{
    /* remote: mod_presence already rewrote it to bare */
    begin(g, g->acct[a].dom == 0 ? full(a) : bare(a), bare(b));
    gen_attr_type(g, type);
    gen_attr_idv(g, gen_new_id(g));
    gen_emit(g, t, "presence", "a.test");
}

/* presence of @a to the server and fanned out to up to 8 contacts (one id) */
static void bcast(struct gen *g, int64_t t, int32_t a, uint64_t id, const char *show, bool unavail)
{
    int n = g->acct[a].n_contacts < 8 ? g->acct[a].n_contacts : 8;
    for (int i = -1; i < n; i++) {
        begin(g, full(a), i >= 0 ? bare(g->acct[a].contacts[i]) : (struct addr){.kind = AD_NONE});
        if (unavail) {
            gen_attr_type(g, "unavailable");
        }
        gen_attr_idv(g, id);
        if (!unavail && show[0]) {
            gen_sb_puts(&g->kids, "<show>");
            gen_sb_puts(&g->kids, show);
            gen_sb_puts(&g->kids, "</show>");
        }
        if (!unavail) {
            gen_sb_puts(&g->kids, "<priority>5</priority>");
        }
        gen_emit(g, t, "presence", "a.test");
    }
}

void gen_st_bcast(struct gen *g, int64_t t, int32_t a)
{
    uint64_t id = gen_new_id(g);
    static const char *const shows[] = {"", "away", "xa", "dnd", "chat"};
    const char *show = shows[gen_rndu(g, 5)];
    bool unavail = gen_rndu(g, 6) == 0;
    bcast(g, t, a, id, show, unavail);
}

void gen_st_avail(struct gen *g, int64_t t, int32_t a, bool unavailable)
{
    bcast(g, t, a, gen_new_id(g), "", unavailable);
}

void gen_st_avatar(struct gen *g, int64_t t, int32_t a, int bytes, bool vcard)
{
    uint64_t id = gen_new_id(g);
    begin(g, full(a), vcard ? (struct addr){.kind = AD_NONE} : bare(a));
    gen_attr_type(g, "set");
    gen_attr_idv(g, id);
    /* the payload: base64 of an image, written like gen_kids_pad's (no draw) */
    if (vcard) {
        gen_sb_puts(&g->kids, "<vCard xmlns='vcard-temp'><FN>");
        gen_sb_puts(&g->kids, g->acct[a].name);
        gen_sb_puts(&g->kids, "</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>");
    } else {
        gen_sb_puts(&g->kids, "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish "
                              "node='urn:xmpp:avatar:data'><item id='");
        gen_put_id(&g->kids, id);
        gen_sb_puts(&g->kids, "'><data xmlns='urn:xmpp:avatar:data'>");
    }
    gen_sb_put_b64(&g->kids, id, (size_t)bytes);
    gen_sb_puts(&g->kids,
                vcard ? "</BINVAL></PHOTO></vCard>" : "</data></item></publish></pubsub>");
    gen_emit(g, t, "iq", "a.test");
    begin(g, vcard ? text(gen_dom_of(g, a)) : bare(a), full(a));
    gen_attr_type(g, "result");
    gen_attr_idv(g, id);
    gen_emit(g, t, "iq", "a.test");
}

void gen_st_iq(struct gen *g, int64_t t, int32_t a)
{
    uint64_t id = gen_new_id(g);
    bool ping = gen_rndu(g, 3) != 0;
    begin(g, full(a), text(gen_dom_of(g, a)));
    gen_attr_type(g, "get");
    gen_attr_idv(g, id);
    gen_sb_puts(&g->kids,
                ping ? "<ping xmlns='urn:xmpp:ping'/>" : "<query xmlns='jabber:iq:roster'/>");
    gen_emit(g, t, "iq", "a.test");
    if (gen_rndu(g, 2)) {
        begin(g, text(gen_dom_of(g, a)), full(a));
        gen_attr_type(g, "result");
        gen_attr_idv(g, id);
        gen_emit(g, t, "iq", "a.test");
    }
}

void gen_st_headline(struct gen *g, int64_t t, const char *from, int32_t b, const char *body)
{
    begin(g, text(from), bare(b));
    gen_attr_type(g, "headline");
    gen_attr_idv(g, gen_new_id(g));
    gen_sb_puts(&g->kids, "<subject>Service announcement</subject>");
    gen_kids_body(g, body);
    gen_emit(g, t, "message", "a.test");
}

void gen_st_invite(struct gen *g, int64_t t, int32_t a, int32_t r, int32_t who)
{
    begin(g, full(a), room(r));
    gen_attr_idv(g, gen_new_id(g));
    gen_sb_puts(&g->kids, "<x xmlns='http://jabber.org/protocol/muc#user'><invite to='");
    gen_put_bare(g, &g->kids, who);
    gen_sb_puts(&g->kids, "'><reason>join us</reason></invite></x>");
    gen_emit(g, t, "message", g->muc);
}

void gen_st_kick(struct gen *g, int64_t t, int32_t a, int32_t r, int32_t who)
{
    begin(g, full(a), room(r));
    gen_attr_type(g, "set");
    gen_attr_idv(g, gen_new_id(g));
    gen_sb_puts(&g->kids, "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='");
    gen_put_nick(g, &g->kids, who, 0);
    gen_sb_puts(&g->kids, "' role='none'><reason>spam</reason></item></query>");
    gen_emit(g, t, "iq", g->muc);
}
