/*
 * gen.c - swgen: a deterministic generator of labelled XMPP stanza captures.
 *
 *   swgen --seed N --stanzas N [--duration S] [--scenarios LIST|all|none]
 *         [--benign LIST|all|none] [--truth FILE] [--mirror-fraction F]
 *         [--carbons F] [--start RFC3339] -o FILE|-
 *
 * Output: one XML stream (<stream:stream xmlns='jabber:server' ...>), one
 * stanza per line, every stanza stamped with a XEP-0203 <delay/> (ms precision,
 * non-decreasing, many equal), a fraction wrapped as Prosody mod_firewall
 * FORWARD mirror copies (<message from='a.test' to='watch.a.test'><forwarded>
 * <delay/><message xmlns='jabber:client' .../></forwarded></message>), as the
 * lab in shared/xmpp-lab/README.md captured them.
 *
 * Design: a discrete-event simulation. Sources (background processes,
 * scenario instances, one-shot delayed answers) sit in a binary min-heap keyed
 * by (time, creation order), so the output is a pure function of the options
 * and the seed (one splitmix64 stream, consumed in heap order).
 * - Background: a population of accounts on a.test (main server), b.test,
 *   c.example, d.example with symmetric contact lists; rooms at rooms.a.test
 *   with Zipf-sized occupant lists where the first occupants talk most;
 *   groupchat with MUC reflections (room/nick -> occupants, same id) for a
 *   fraction of messages; 1:1 conversations that alternate speakers; presence
 *   broadcasts with fan-out copies sharing one id; with --carbons F, XEP-0280
 *   carbons (tap-stamped on the outer message) of a fraction F of the chats
 *   a.test users send; subscriptions that mostly
 *   get `subscribed` back later; joins/leaves; iq pings and roster gets (with
 *   server results). The event rates are calibrated so the whole capture has
 *   about --stanzas stanzas over --duration seconds of stream time.
 * - Scenarios: each instance is a plan of timed actions (join, groupchat,
 *   subscribe, chat, nick change, headline, invite, kick, ...) built up front
 *   from the seed (several sizes and speeds per type), then replayed in time
 *   order among the background. Abuse instances label their offenders;
 *   benign look-alikes label the accounts that must NOT be reported. The truth
 *   file gets one JSON line per instance.
 *
 * Not a hot-path module of the engine: it allocates freely at set-up; the
 * writing loop appends into one 1 MB buffer without allocation.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#include "gen_text.h"

/* ---- rng ---------------------------------------------------------------- */

static uint64_t g_rng;

static uint64_t rnd64(void)
{
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t rndu(uint32_t n)
{
    return n ? (uint32_t)(((rnd64() >> 32) * (uint64_t)n) >> 32) : 0;
}

static double rndf(void)
{
    return (double)(rnd64() >> 11) * (1.0 / 9007199254740992.0);
}

static int64_t rndr(int64_t lo, int64_t hi)
{
    return hi <= lo ? lo : lo + (int64_t)(rnd64() % (uint64_t)(hi - lo + 1));
}

/* exponential gap with mean @mean_ms, at least 0 */
static int64_t rnd_exp(double mean_ms)
{
    double u = rndf();
    double v = -mean_ms * log1p(-u);
    return v > 1e12 ? (int64_t)1e12 : (int64_t)v;
}

/* ---- output buffer ------------------------------------------------------ */

#define OUT_CAP (1u << 20)
#define OUT_SLACK (96u << 10)

struct sb {
    char *p;
    size_t n, cap;
};

static struct sb g_out, g_attr, g_kids;
static FILE *g_fp;
static uint64_t g_written;

static void sb_grow(struct sb *b, size_t need)
{
    if (b->n + need <= b->cap) {
        return;
    }
    size_t c = b->cap ? b->cap : 4096;
    while (b->n + need > c) {
        c *= 2;
    }
    char *np = realloc(b->p, c);
    if (np == NULL) {
        fprintf(stderr, "swgen: out of memory\n");
        exit(1);
    }
    b->p = np;
    b->cap = c;
}

static void sb_putn(struct sb *b, const char *s, size_t n)
{
    sb_grow(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void sb_puts(struct sb *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_putu(struct sb *b, uint64_t v)
{
    char t[24];
    int k = 24;
    do {
        t[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sb_putn(b, t + k, (size_t)(24 - k));
}

/* XML-escaped text (attribute-safe: both quotes escaped) */
static void sb_esc(struct sb *b, const char *s)
{
    for (;;) {
        const char *p = s;
        while (*p && *p != '&' && *p != '<' && *p != '>' && *p != '\'' && *p != '"') {
            p++;
        }
        sb_putn(b, s, (size_t)(p - s));
        if (*p == '\0') {
            return;
        }
        switch (*p) {
        case '&':
            sb_puts(b, "&amp;");
            break;
        case '<':
            sb_puts(b, "&lt;");
            break;
        case '>':
            sb_puts(b, "&gt;");
            break;
        case '\'':
            sb_puts(b, "&apos;");
            break;
        default:
            sb_puts(b, "&quot;");
            break;
        }
        s = p + 1;
    }
}

static void out_flush(void)
{
    if (g_out.n && fwrite(g_out.p, 1, g_out.n, g_fp) != g_out.n) {
        fprintf(stderr, "swgen: write failed: %s\n", strerror(errno));
        exit(1);
    }
    g_out.n = 0;
}

/* ---- time text ---------------------------------------------------------- */

static int64_t g_cached_sec = -1;
static char g_sec_text[32];

static void fmt_stamp(char *dst, int64_t ms)
{
    int64_t sec = ms / 1000;
    if (sec != g_cached_sec) {
        time_t tt = (time_t)sec;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(g_sec_text, sizeof(g_sec_text), "%Y-%m-%dT%H:%M:%S", &tm);
        g_cached_sec = sec;
    }
    int m = (int)(ms % 1000);
    memcpy(dst, g_sec_text, 19);
    dst[19] = '.';
    dst[20] = (char)('0' + m / 100);
    dst[21] = (char)('0' + m / 10 % 10);
    dst[22] = (char)('0' + m % 10);
    dst[23] = 'Z';
    dst[24] = '\0';
}

static void fmt_rfc3339(char *dst, size_t cap, int64_t ms)
{
    time_t tt = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&tt, &tm);
    char s[32];
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(dst, cap, "%s.%03dZ", s, (int)(ms % 1000));
}

/* ---- world -------------------------------------------------------------- */

#define MAX_CONTACTS 40
#define ROOM_CAP 320
#define N_BASE_DOMAINS 4

struct acct {
    char name[28];
    uint16_t dom;
    uint8_t res;
    uint8_t bg; /* background account (may be moved by background processes) */
    uint16_t n_contacts;
    int32_t contacts[MAX_CONTACTS];
};

struct room {
    char name[24];
    uint16_t n_occ;
    int32_t occ[ROOM_CAP];
};

static const char *const g_resources[] = {"phone", "laptop", "gajim",  "conversations",
                                          "dino",  "web",    "tablet", "desk"};

static char **g_domains;
static size_t g_n_domains;
static struct acct *g_acct;
static size_t g_n_acct, g_cap_acct, g_n_bg;
static struct room *g_room;
static size_t g_n_room;
static const char *g_muc = "rooms.a.test";
static double g_mirror = 0.3;
static double g_refl_p = 0.35;
static double g_carbons = 0.0; /* --carbons: fraction of a.test chats carbon-copied */
static uint64_t g_idctr;
static int64_t g_t0;

static size_t add_domain(const char *d)
{
    g_domains = realloc(g_domains, (g_n_domains + 1) * sizeof(char *));
    g_domains[g_n_domains] = strdup(d);
    return g_n_domains++;
}

static int32_t add_acct(const char *name, size_t dom, bool bg)
{
    if (g_n_acct == g_cap_acct) {
        g_cap_acct = g_cap_acct ? g_cap_acct * 2 : 1024;
        g_acct = realloc(g_acct, g_cap_acct * sizeof(*g_acct));
        if (g_acct == NULL) {
            fprintf(stderr, "swgen: out of memory\n");
            exit(1);
        }
    }
    struct acct *a = &g_acct[g_n_acct];
    memset(a, 0, sizeof(*a));
    snprintf(a->name, sizeof(a->name), "%s", name);
    a->dom = (uint16_t)dom;
    a->res = (uint8_t)rndu(8);
    a->bg = bg ? 1 : 0;
    return (int32_t)g_n_acct++;
}

static void make_name(char *dst, size_t cap, uint64_t salt)
{
    static const char *const on[] = {"b", "d", "f", "g", "k", "l",  "m",  "n", "p",
                                     "r", "s", "t", "v", "z", "ch", "sh", "j", "h"};
    static const char *const vo[] = {"a", "e", "i", "o", "u", "ai", "ea", "y"};
    uint64_t r = rnd64() ^ salt;
    size_t n = 0;
    int syl = 2 + (int)(r % 2);
    r >>= 2;
    for (int i = 0; i < syl && n + 4 < cap; i++) {
        n += (size_t)snprintf(dst + n, cap - n, "%s%s", on[r % 18], vo[(r >> 5) % 8]);
        r >>= 8;
    }
    if (r % 3 == 0) {
        snprintf(dst + n, cap - n, "%u", (unsigned)(r % 100));
    } else if (r % 3 == 1 && n + 3 < cap) {
        snprintf(dst + n, cap - n, ".%c", (char)('a' + (r >> 8) % 26));
    }
}

static bool is_contact(int32_t a, int32_t b)
{
    const struct acct *x = &g_acct[a];
    for (int i = 0; i < x->n_contacts; i++) {
        if (x->contacts[i] == b) {
            return true;
        }
    }
    return false;
}

static void link_contacts(int32_t a, int32_t b)
{
    if (a == b || is_contact(a, b) || g_acct[a].n_contacts >= MAX_CONTACTS ||
        g_acct[b].n_contacts >= MAX_CONTACTS) {
        return;
    }
    g_acct[a].contacts[g_acct[a].n_contacts++] = b;
    g_acct[b].contacts[g_acct[b].n_contacts++] = a;
}

static bool in_room(const struct room *r, int32_t a)
{
    for (int i = 0; i < r->n_occ; i++) {
        if (r->occ[i] == a) {
            return true;
        }
    }
    return false;
}

static void room_add(struct room *r, int32_t a)
{
    if (!in_room(r, a) && r->n_occ < ROOM_CAP) {
        r->occ[r->n_occ++] = a;
    }
}

static void room_del(struct room *r, int32_t a)
{
    for (int i = 0; i < r->n_occ; i++) {
        if (r->occ[i] == a) {
            memmove(&r->occ[i], &r->occ[i + 1], (size_t)(r->n_occ - i - 1) * sizeof(int32_t));
            r->n_occ--;
            return;
        }
    }
}

static void build_world(uint64_t n_stanzas)
{
    add_domain("a.test");
    add_domain("b.test");
    add_domain("c.example");
    add_domain("d.example");
    size_t users = (size_t)(n_stanzas / 300);
    users = users < 400 ? 400 : users > 200000 ? 200000 : users;
    for (size_t i = 0; i < users; i++) {
        char nm[28];
        make_name(nm, 20, i);
        char full[28];
        snprintf(full, sizeof(full), "%s%zu", nm, i % 7 == 0 ? i : i % 10);
        double u = rndf();
        size_t dom = u < 0.6 ? 0 : u < 0.8 ? 1 : u < 0.92 ? 2 : 3;
        add_acct(i % 3 ? nm : full, dom, true);
    }
    /* names may repeat: make them unique by a suffix */
    for (size_t i = 0; i < g_n_acct; i++) {
        size_t len = strlen(g_acct[i].name);
        snprintf(g_acct[i].name + len, sizeof(g_acct[i].name) - len, "%s%zu", len > 12 ? "" : "_",
                 i);
    }
    g_n_bg = g_n_acct;
    /* contacts: mostly a few, some people with many */
    for (size_t i = 0; i < g_n_bg; i++) {
        int want = 2 + (int)rndu(8) + (rndu(10) == 0 ? 15 : 0);
        for (int k = 0; k < want; k++) {
            /* locality: contacts are near in index (friend circles) half of the time */
            int32_t j =
                rndu(2) ? (int32_t)((i + 1 + rndu(50)) % g_n_bg) : (int32_t)rndu((uint32_t)g_n_bg);
            link_contacts((int32_t)i, j);
        }
    }
    static const char *const rn[] = {
        "lobby", "support", "dev",    "music",   "football", "linux",    "games", "news", "berlin",
        "paris", "books",   "movies", "cooking", "random",   "offtopic", "help",  "xmpp", "art"};
    g_n_room = users / 40;
    g_n_room = g_n_room < 12 ? 12 : g_n_room > 3000 ? 3000 : g_n_room;
    g_room = calloc(g_n_room, sizeof(*g_room));
    for (size_t i = 0; i < g_n_room; i++) {
        struct room *r = &g_room[i];
        if (i < 18) {
            snprintf(r->name, sizeof(r->name), "%s", rn[i]);
        } else {
            snprintf(r->name, sizeof(r->name), "%s%zu", rn[i % 18], i / 18);
        }
        double sz = 260.0 / (1.0 + (double)i * 0.6);
        int n = (int)sz;
        n = n < 4 ? 4 + (int)rndu(8) : n > 250 ? 250 : n;
        for (int k = 0; k < n; k++) {
            room_add(r, (int32_t)rndu((uint32_t)g_n_bg));
        }
    }
}

static const char *dom_of(int32_t a)
{
    return g_domains[g_acct[a].dom];
}

static void put_bare(struct sb *b, int32_t a)
{
    sb_puts(b, g_acct[a].name);
    sb_putn(b, "@", 1);
    sb_puts(b, dom_of(a));
}

static void put_full(struct sb *b, int32_t a)
{
    put_bare(b, a);
    sb_putn(b, "/", 1);
    sb_puts(b, g_resources[g_acct[a].res]);
}

static void put_room(struct sb *b, int32_t r)
{
    sb_puts(b, g_room[r].name);
    sb_putn(b, "@", 1);
    sb_puts(b, g_muc);
}

static void put_nick(struct sb *b, int32_t a, int nickv)
{
    sb_puts(b, g_acct[a].name);
    if (nickv > 0) {
        sb_putn(b, "_", 1);
        sb_putu(b, (uint64_t)nickv);
    }
}

static void put_id(struct sb *b, uint64_t id)
{
    static const char hx[] = "0123456789abcdef";
    uint64_t z = id * 0x9e3779b97f4a7c15ULL;
    z ^= z >> 29;
    char t[16];
    for (int i = 0; i < 16; i++) {
        t[i] = hx[(z >> (i * 4)) & 15];
    }
    sb_putn(b, t, 16);
}

static uint64_t new_id(void)
{
    return ++g_idctr;
}

/*
 * Write one stanza: <name g_attr>g_kids</name> stamped at @t; wrapped as a
 * mirror copy with probability --mirror-fraction (outer from = @host).
 */
static void emit(int64_t t, const char *name, const char *host)
{
    char stamp[32];
    fmt_stamp(stamp, t);
    struct sb *o = &g_out;
    bool wrap = g_mirror > 0 && rndf() < g_mirror;
    if (wrap) {
        sb_puts(o, "<message from='");
        sb_puts(o, host);
        sb_puts(o, "' to='watch.a.test'><forwarded xmlns='urn:xmpp:forward:0'><delay "
                   "xmlns='urn:xmpp:delay' stamp='");
        sb_puts(o, stamp);
        sb_puts(o, "'/><");
        sb_puts(o, name);
        sb_puts(o, " xmlns='jabber:client'");
    } else {
        sb_putn(o, "<", 1);
        sb_puts(o, name);
    }
    sb_putn(o, g_attr.p, g_attr.n);
    sb_putn(o, ">", 1);
    sb_putn(o, g_kids.p, g_kids.n);
    if (!wrap) {
        sb_puts(o, "<delay xmlns='urn:xmpp:delay' stamp='");
        sb_puts(o, stamp);
        sb_puts(o, "'/>");
    }
    sb_puts(o, "</");
    sb_puts(o, name);
    sb_putn(o, ">", 1);
    if (wrap) {
        sb_puts(o, "</forwarded></message>");
    }
    sb_putn(o, "\n", 1);
    g_attr.n = 0;
    g_kids.n = 0;
    g_written++;
    if (g_out.n > OUT_CAP - OUT_SLACK) {
        out_flush();
    }
}

static void attr_begin(void)
{
    g_attr.n = 0;
    g_kids.n = 0;
}

static void attr_type(const char *type)
{
    sb_puts(&g_attr, " type='");
    sb_puts(&g_attr, type);
    sb_putn(&g_attr, "'", 1);
}

static void attr_idv(uint64_t id)
{
    sb_puts(&g_attr, " id='");
    put_id(&g_attr, id);
    sb_putn(&g_attr, "'", 1);
}

static void kids_body(const char *body)
{
    sb_puts(&g_kids, "<body>");
    sb_esc(&g_kids, body);
    sb_puts(&g_kids, "</body>");
}

/* ---- stanza kinds ------------------------------------------------------- */

static void st_groupchat(int64_t t, int32_t a, int32_t r, const char *body, int nickv)
{
    uint64_t id = new_id();
    attr_begin();
    sb_puts(&g_attr, " from='");
    put_full(&g_attr, a);
    sb_puts(&g_attr, "' to='");
    put_room(&g_attr, r);
    sb_putn(&g_attr, "'", 1);
    attr_type("groupchat");
    attr_idv(id);
    kids_body(body);
    emit(t, "message", g_muc);
    struct room *rm = &g_room[r];
    if (rm->n_occ > 1 && rndf() < g_refl_p) {
        int k = 2 + (int)rndu(5);
        for (int i = 0; i < k && i < rm->n_occ; i++) {
            int32_t to = rm->occ[rndu(rm->n_occ)];
            if (to == a) {
                continue;
            }
            attr_begin();
            sb_puts(&g_attr, " from='");
            put_room(&g_attr, r);
            sb_putn(&g_attr, "/", 1);
            put_nick(&g_attr, a, nickv);
            sb_puts(&g_attr, "' to='");
            put_full(&g_attr, to);
            sb_putn(&g_attr, "'", 1);
            attr_type("groupchat");
            attr_idv(id);
            kids_body(body);
            emit(t, "message", g_muc);
        }
    }
}

static void st_muc_presence(int64_t t, int32_t a, int32_t r, int nickv, bool join, bool leave)
{
    uint64_t id = new_id();
    attr_begin();
    sb_puts(&g_attr, " from='");
    put_full(&g_attr, a);
    sb_puts(&g_attr, "' to='");
    put_room(&g_attr, r);
    sb_putn(&g_attr, "/", 1);
    put_nick(&g_attr, a, nickv);
    sb_putn(&g_attr, "'", 1);
    if (leave) {
        attr_type("unavailable");
    }
    attr_idv(id);
    if (join) {
        sb_puts(&g_kids, "<x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x>");
    }
    emit(t, "presence", g_muc);
    if (join) {
        room_add(&g_room[r], a);
        /* the room's self-presence back to the joiner (a reflection) */
        attr_begin();
        sb_puts(&g_attr, " from='");
        put_room(&g_attr, r);
        sb_putn(&g_attr, "/", 1);
        put_nick(&g_attr, a, nickv);
        sb_puts(&g_attr, "' to='");
        put_full(&g_attr, a);
        sb_putn(&g_attr, "'", 1);
        attr_idv(id);
        sb_puts(&g_kids, "<x xmlns='http://jabber.org/protocol/muc#user'><item "
                         "affiliation='none' role='participant'/><status code='110'/></x>");
        emit(t, "presence", g_muc);
    } else if (leave) {
        room_del(&g_room[r], a);
    }
}

static void st_chat(int64_t t, int32_t a, int32_t b, const char *body)
{
    attr_begin();
    sb_puts(&g_attr, " from='");
    put_full(&g_attr, a);
    sb_puts(&g_attr, "' to='");
    put_bare(&g_attr, b);
    sb_putn(&g_attr, "'", 1);
    attr_type("chat");
    uint64_t id = new_id();
    attr_idv(id);
    kids_body(body);
    sb_puts(&g_kids, "<active xmlns='http://jabber.org/protocol/chatstates'/>");
    emit(t, "message", "a.test");
    if (g_carbons > 0 && g_acct[a].dom == 0 && rndf() < g_carbons) {
        /* XEP-0280 carbon of the sent message to the sender's other client:
         * a copy, never a new send */
        attr_begin();
        sb_puts(&g_attr, " from='");
        put_bare(&g_attr, a);
        sb_puts(&g_attr, "' to='");
        put_bare(&g_attr, a);
        sb_puts(&g_attr, "/");
        sb_puts(&g_attr, g_resources[(g_acct[a].res + 1) % 8]);
        sb_putn(&g_attr, "'", 1);
        attr_type("chat");
        sb_puts(&g_kids, "<sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
                         "<message xmlns='jabber:client' from='");
        put_full(&g_kids, a);
        sb_puts(&g_kids, "' to='");
        put_bare(&g_kids, b);
        sb_puts(&g_kids, "' type='chat' id='");
        put_id(&g_kids, id);
        sb_puts(&g_kids, "'>");
        kids_body(body);
        sb_puts(&g_kids, "</message></forwarded></sent>");
        emit(t, "message", "a.test");
    }
}

static void st_sub(int64_t t, int32_t a, int32_t b, const char *type)
{
    attr_begin();
    sb_puts(&g_attr, " from='");
    if (g_acct[a].dom == 0) {
        put_full(&g_attr, a);
    } else {
        put_bare(&g_attr, a); /* remote: mod_presence already rewrote it to bare */
    }
    sb_puts(&g_attr, "' to='");
    put_bare(&g_attr, b);
    sb_putn(&g_attr, "'", 1);
    attr_type(type);
    attr_idv(new_id());
    emit(t, "presence", "a.test");
}

static void st_bcast(int64_t t, int32_t a)
{
    uint64_t id = new_id();
    static const char *const shows[] = {"", "away", "xa", "dnd", "chat"};
    const char *show = shows[rndu(5)];
    bool unavail = rndu(6) == 0;
    int n = g_acct[a].n_contacts < 8 ? g_acct[a].n_contacts : 8;
    for (int i = -1; i < n; i++) {
        attr_begin();
        sb_puts(&g_attr, " from='");
        put_full(&g_attr, a);
        sb_putn(&g_attr, "'", 1);
        if (i >= 0) {
            sb_puts(&g_attr, " to='");
            put_bare(&g_attr, g_acct[a].contacts[i]);
            sb_putn(&g_attr, "'", 1);
        }
        if (unavail) {
            attr_type("unavailable");
        }
        attr_idv(id);
        if (!unavail && show[0]) {
            sb_puts(&g_kids, "<show>");
            sb_puts(&g_kids, show);
            sb_puts(&g_kids, "</show>");
        }
        if (!unavail) {
            sb_puts(&g_kids, "<priority>5</priority>");
        }
        emit(t, "presence", "a.test");
    }
}

static void st_iq(int64_t t, int32_t a)
{
    uint64_t id = new_id();
    bool ping = rndu(3) != 0;
    attr_begin();
    sb_puts(&g_attr, " from='");
    put_full(&g_attr, a);
    sb_puts(&g_attr, "' to='");
    sb_puts(&g_attr, dom_of(a));
    sb_putn(&g_attr, "'", 1);
    attr_type("get");
    attr_idv(id);
    sb_puts(&g_kids, ping ? "<ping xmlns='urn:xmpp:ping'/>" : "<query xmlns='jabber:iq:roster'/>");
    emit(t, "iq", "a.test");
    if (rndu(2)) {
        attr_begin();
        sb_puts(&g_attr, " from='");
        sb_puts(&g_attr, dom_of(a));
        sb_puts(&g_attr, "' to='");
        put_full(&g_attr, a);
        sb_putn(&g_attr, "'", 1);
        attr_type("result");
        attr_idv(id);
        emit(t, "iq", "a.test");
    }
}

static void st_headline(int64_t t, const char *from, int32_t b, const char *body)
{
    attr_begin();
    sb_puts(&g_attr, " from='");
    sb_puts(&g_attr, from);
    sb_puts(&g_attr, "' to='");
    put_bare(&g_attr, b);
    sb_putn(&g_attr, "'", 1);
    attr_type("headline");
    attr_idv(new_id());
    sb_puts(&g_kids, "<subject>Service announcement</subject>");
    kids_body(body);
    emit(t, "message", "a.test");
}

static void st_invite(int64_t t, int32_t a, int32_t r, int32_t who)
{
    attr_begin();
    sb_puts(&g_attr, " from='");
    put_full(&g_attr, a);
    sb_puts(&g_attr, "' to='");
    put_room(&g_attr, r);
    sb_putn(&g_attr, "'", 1);
    attr_idv(new_id());
    sb_puts(&g_kids, "<x xmlns='http://jabber.org/protocol/muc#user'><invite to='");
    put_bare(&g_kids, who);
    sb_puts(&g_kids, "'><reason>join us</reason></invite></x>");
    emit(t, "message", g_muc);
}

static void st_kick(int64_t t, int32_t a, int32_t r, int32_t who)
{
    attr_begin();
    sb_puts(&g_attr, " from='");
    put_full(&g_attr, a);
    sb_puts(&g_attr, "' to='");
    put_room(&g_attr, r);
    sb_putn(&g_attr, "'", 1);
    attr_type("set");
    attr_idv(new_id());
    sb_puts(&g_kids, "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='");
    put_nick(&g_kids, who, 0);
    sb_puts(&g_kids, "' role='none'><reason>spam</reason></item></query>");
    emit(t, "iq", g_muc);
}

/* ---- scenarios ---------------------------------------------------------- */

enum act_kind {
    A_JOIN,
    A_LEAVE,
    A_GC,
    A_NICK,
    A_SUB,
    A_SUBD,
    A_UNSUBD,
    A_CHAT,
    A_HEADLINE,
    A_INVITE,
    A_KICK
};
enum text_mode {
    TM_RANDOM,
    TM_FIXED,
    TM_SUFFIX,
    TM_MUTATED,
    TM_MULTI,
    TM_PASTE,
    TM_GOAL,
    TM_HEADLINE,
    TM_BRIDGE,
    TM_REPLY,
    TM_GREET
};

struct act {
    int64_t t;
    uint8_t kind, text, abuse;
    int16_t nickv;
    int32_t who, arg; /* actor; room or target */
    int32_t k;        /* text variant */
};

struct inst {
    const struct scen_def *def;
    int variant;
    bool benign, truncated, skipped;
    struct act *acts;
    size_t n_acts, cap_acts, next;
    int32_t *off; /* offender accounts (or benign actors) */
    size_t n_off;
    int32_t *acc; /* acceptable (not required, not FP) accounts */
    size_t n_acc;
    int off_domain, acc_domain; /* domain index or -1 */
    int32_t room;
    char text[200];
    int64_t start, end;
    size_t size;
};

struct scen_def {
    const char *name;
    bool benign;
    int64_t est_len_ms; /* typical length, for placement */
    void (*plan)(struct inst *in, int64_t t0);
    const char *variants[4];
};

static void add_act(struct inst *in, int64_t t, int kind, int32_t who, int32_t arg, int text,
                    int32_t k, bool abuse)
{
    if (in->n_acts == in->cap_acts) {
        in->cap_acts = in->cap_acts ? in->cap_acts * 2 : 64;
        in->acts = realloc(in->acts, in->cap_acts * sizeof(*in->acts));
    }
    struct act *a = &in->acts[in->n_acts++];
    a->t = t;
    a->kind = (uint8_t)kind;
    a->text = (uint8_t)text;
    a->abuse = abuse ? 1 : 0;
    a->nickv = 0;
    a->who = who;
    a->arg = arg;
    a->k = k;
}

static void add_off(struct inst *in, int32_t a)
{
    in->off = realloc(in->off, (in->n_off + 1) * sizeof(int32_t));
    in->off[in->n_off++] = a;
}

static void add_accept(struct inst *in, int32_t a)
{
    in->acc = realloc(in->acc, (in->n_acc + 1) * sizeof(int32_t));
    in->acc[in->n_acc++] = a;
}

static int g_inst_no;

static int32_t fresh_acct(size_t dom)
{
    char nm[28];
    char base[20];
    make_name(base, 14, (uint64_t)g_inst_no);
    snprintf(nm, sizeof(nm), "%s%u", base, (unsigned)(g_n_acct % 100000));
    return add_acct(nm, dom, false);
}

static size_t spam_domain(void)
{
    static const char *const pre[] = {"jabb3r",  "chatfree", "xmppnow",
                                      "talk-24", "im-zone",  "fastchat"};
    char d[64];
    snprintf(d, sizeof(d), "%s%d.example", pre[rndu(6)], g_inst_no);
    return add_domain(d);
}

static size_t any_domain(void)
{
    double u = rndf();
    return u < 0.5 ? 0 : u < 0.75 ? 1 : u < 0.9 ? 2 : 3;
}

/* a room with at least @min occupants, favouring busy rooms */
static int32_t pick_room(int min)
{
    for (int tries = 0; tries < 200; tries++) {
        uint32_t n = (uint32_t)g_n_room;
        int32_t r = (int32_t)(rndf() * rndf() * n);
        if (g_room[r].n_occ >= min) {
            return r;
        }
    }
    return 0;
}

static int32_t pick_bg(void)
{
    return (int32_t)rndu((uint32_t)g_n_bg);
}

static int32_t pick_stranger(int32_t a)
{
    for (;;) {
        int32_t b = pick_bg();
        if (b != a && !is_contact(a, b)) {
            return b;
        }
    }
}

static void plan_muc_flood(struct inst *in, int64_t t)
{
    int32_t a = fresh_acct(any_domain());
    int32_t r = pick_room(15);
    in->room = r;
    add_off(in, a);
    add_act(in, t, A_JOIN, a, r, 0, 0, false);
    t += rndr(3000, 30000);
    int n;
    double gap;
    int text;
    switch (in->variant) {
    case 0: /* rate, varied text */
        n = (int)rndr(30, 120);
        gap = 1000.0 / (double)rndr(2, 10);
        text = TM_RANDOM;
        break;
    case 1: /* repeated line */
        n = (int)rndr(20, 80);
        gap = 1000.0 / (double)rndr(1, 5);
        text = TM_FIXED;
        break;
    default: /* long multi-line bursts */
        n = (int)rndr(8, 20);
        gap = 1000.0 / ((double)rndr(3, 10) / 10.0);
        text = TM_MULTI;
        break;
    }
    snprintf(in->text, sizeof(in->text), "%s", gen_spam_line(rnd64()));
    for (int i = 0; i < n; i++) {
        add_act(in, t, A_GC, a, r, text, i, true);
        t += (int64_t)(gap * (0.3 + 1.4 * rndf()));
    }
    add_act(in, t + 5000, A_LEAVE, a, r, 0, 0, false);
    in->size = (size_t)n;
}

static void plan_muc_raid(struct inst *in, int64_t t)
{
    size_t dom = spam_domain();
    int k = (int)rndr(6, 30);
    int32_t r = pick_room(10);
    in->room = r;
    in->acc_domain = (int)dom;
    snprintf(in->text, sizeof(in->text), "%s", gen_spam_line(rnd64()));
    int64_t spread = rndr(5000, 20000);
    for (int i = 0; i < k; i++) {
        int32_t a = fresh_acct(dom);
        add_off(in, a);
        int64_t tj = t + rndr(0, spread);
        add_act(in, tj, A_JOIN, a, r, 0, 0, false);
        int m = (int)rndr(1, 3);
        int64_t tm = tj + rndr(500, 8000);
        for (int j = 0; j < m; j++) {
            add_act(in, tm, A_GC, a, r, TM_SUFFIX, j, true);
            tm += rndr(300, 6000);
        }
        add_act(in, tm + rndr(1000, 20000), A_LEAVE, a, r, 0, 0, false);
    }
    in->size = (size_t)k;
}

static void plan_room_spam(struct inst *in, int64_t t)
{
    int32_t a = fresh_acct(any_domain());
    add_off(in, a);
    int n = (int)rndr(6, 25);
    if ((size_t)n > g_n_room - 1) {
        n = (int)g_n_room - 1;
    }
    snprintf(in->text, sizeof(in->text), "%s", gen_spam_line(rnd64()));
    int32_t start = (int32_t)rndu((uint32_t)g_n_room);
    int64_t gap = rndr(3000, 40000);
    /* a step coprime to the room count visits n distinct rooms */
    int32_t nr = (int32_t)g_n_room, step;
    for (;;) {
        step = 1 + (int32_t)rndu((uint32_t)nr - 1);
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
        add_act(in, t, A_JOIN, a, r, 0, 0, false);
        add_act(in, t + rndr(800, 5000), A_GC, a, r, TM_MUTATED, i, true);
        add_act(in, t + rndr(6000, 9000), A_LEAVE, a, r, 0, 0, false);
        t += (int64_t)((double)gap * (0.5 + rndf()));
    }
    in->size = (size_t)n;
}

/* @n distinct strangers of @a into @out (n <= 0.7 of the population: callers cap it) */
static void pick_strangers(int32_t a, int n, int32_t *out)
{
    for (int i = 0; i < n; i++) {
        bool dup;
        do {
            out[i] = pick_stranger(a);
            dup = false;
            for (int j = 0; j < i && !dup; j++) {
                dup = out[j] == out[i];
            }
        } while (dup);
    }
}

static int cap_strangers(int n)
{
    int lim = (int)((double)g_n_bg * 0.7) - MAX_CONTACTS;
    return n < lim ? n : lim;
}

static void sub_targets(struct inst *in, int32_t a, int n, int64_t t, double mean_gap_ms,
                        double p_answer)
{
    int32_t *tg = malloc((size_t)n * sizeof(int32_t));
    pick_strangers(a, n, tg);
    for (int i = 0; i < n; i++) {
        int32_t b = tg[i];
        add_act(in, t, A_SUB, a, b, 0, 0, true);
        double u = rndf();
        if (u < p_answer) {
            add_act(in, t + rndr(2000, 600000), A_SUBD, b, a, 0, 0, false);
        } else if (u < p_answer + 0.1) {
            add_act(in, t + rndr(1000, 60000), A_UNSUBD, b, a, 0, 0, false);
        }
        t += (int64_t)(mean_gap_ms * (0.4 + 1.2 * rndf()));
    }
    free(tg);
}

static void plan_sub_burst(struct inst *in, int64_t t)
{
    int32_t a = fresh_acct(any_domain());
    add_off(in, a);
    int n = cap_strangers((int)rndr(25, 150));
    double span = (double)rndr(10000, 60000); /* "many in a minute" */
    sub_targets(in, a, n, t, span / n, 0.05);
    in->size = (size_t)n;
}

static void plan_sub_domain(struct inst *in, int64_t t)
{
    size_t dom = spam_domain();
    in->off_domain = (int)dom;
    int m = (int)rndr(8, 30);
    int64_t span = rndr(15000, 60000);
    for (int i = 0; i < m; i++) {
        int32_t a = fresh_acct(dom);
        add_accept(in, a);
        int n = (int)rndr(2, 8);
        sub_targets(in, a, n, t + rndr(0, span / 2), (double)span / 2 / n, 0.05);
    }
    in->size = (size_t)m;
}

static int64_t g_duration_ms;

static void plan_sub_slow(struct inst *in, int64_t t)
{
    int32_t a = fresh_acct(any_domain());
    add_off(in, a);
    /* "hundreds of distinct accounts over hours" */
    int n = cap_strangers((int)rndr(200, 450));
    double gap = (double)rndr(20000, 50000); /* 1-3 a minute: under any per-minute limit */
    int64_t avail = g_t0 + g_duration_ms - t - 60000;
    if ((double)n * gap > (double)avail) {
        n = (int)((double)avail / gap);
    }
    if (n < 200) {
        in->skipped = true;
        return;
    }
    sub_targets(in, a, n, t, gap, 0.05);
    in->size = (size_t)n;
}

static void plan_msg_spam(struct inst *in, int64_t t)
{
    int32_t a = fresh_acct(any_domain());
    add_off(in, a);
    int n = cap_strangers((int)rndr(25, 120));
    double span = (double)rndr(180000, 2400000);
    snprintf(in->text, sizeof(in->text), "%s", gen_spam_line(rnd64()));
    int32_t *tg = malloc((size_t)n * sizeof(int32_t));
    pick_strangers(a, n, tg);
    for (int i = 0; i < n; i++) {
        int32_t b = tg[i];
        add_act(in, t, A_CHAT, a, b, TM_MUTATED, i, true);
        if (rndu(20) == 0) {
            add_act(in, t + rndr(5000, 120000), A_CHAT, b, a, TM_REPLY, i, false);
        }
        t += (int64_t)(span / n * (0.4 + 1.2 * rndf()));
    }
    free(tg);
    in->size = (size_t)n;
}

static void plan_churn(struct inst *in, int64_t t)
{
    int32_t a = fresh_acct(any_domain());
    add_off(in, a);
    int32_t r = pick_room(5);
    in->room = r;
    if (in->variant == 0) { /* rejoin storm */
        int n = (int)rndr(15, 60);
        for (int i = 0; i < n; i++) {
            add_act(in, t, A_JOIN, a, r, 0, 0, true);
            t += rndr(300, 3000);
            add_act(in, t, A_LEAVE, a, r, 0, 0, true);
            t += rndr(300, 3000);
        }
        in->size = (size_t)n;
    } else { /* nick-change storm */
        add_act(in, t, A_JOIN, a, r, 0, 0, false);
        t += rndr(2000, 10000);
        int n = (int)rndr(15, 50);
        for (int i = 1; i <= n; i++) {
            add_act(in, t, A_NICK, a, r, 0, 0, true);
            in->acts[in->n_acts - 1].nickv = (int16_t)i;
            t += rndr(300, 3000);
        }
        add_act(in, t, A_LEAVE, a, r, 0, 0, false);
        in->acts[in->n_acts - 1].nickv = (int16_t)n;
        in->size = (size_t)n;
    }
}

/* ---- benign look-alikes ---- */

static int32_t pick_occupant(int32_t r)
{
    const struct room *rm = &g_room[r];
    return rm->occ[rndu(rm->n_occ)];
}

static void plan_active(struct inst *in, int64_t t)
{
    int32_t r = pick_room(30);
    int32_t a = pick_occupant(r);
    in->room = r;
    add_off(in, a);
    int n = (int)rndr(60, 200);
    for (int i = 0; i < n; i++) {
        add_act(in, t, A_GC, a, r, TM_RANDOM, i, false);
        if (rndu(6) == 0) {
            t += rndr(1000, 3000); /* a quick follow-up */
        } else {
            t += rndr(3000, 15000);
        }
    }
    in->size = (size_t)n;
}

static void plan_goal(struct inst *in, int64_t t)
{
    int32_t r = pick_room(40);
    in->room = r;
    int n = (int)rndr(10, 40);
    if (n > g_room[r].n_occ - 2) {
        n = g_room[r].n_occ - 2;
    }
    for (int i = 0; i < n; i++) {
        int32_t a = g_room[r].occ[i]; /* established occupants */
        add_off(in, a);
        add_act(in, t + rndr(0, 10000), A_GC, a, r, TM_GOAL, i, false);
        if (rndu(4) == 0) {
            add_act(in, t + rndr(2000, 15000), A_GC, a, r, TM_GOAL, i + 7, false);
        }
    }
    in->size = (size_t)n;
}

static void plan_newsbot(struct inst *in, int64_t t)
{
    char nm[28];
    snprintf(nm, sizeof(nm), "newsbot%d", g_inst_no);
    int32_t a = add_acct(nm, 2, false);
    add_off(in, a);
    int32_t rooms[3];
    for (int i = 0; i < 3; i++) {
        rooms[i] = (int32_t)((g_inst_no * 5 + i * 3) % (int)g_n_room);
        add_act(in, t + i * 200, A_JOIN, a, rooms[i], 0, 0, false);
    }
    t += 5000;
    int minutes = (int)rndr(30, 60);
    int k = 0;
    for (int m = 0; m < minutes; m++) {
        if (rndu(2) == 0) {
            k++; /* a new headline now and then; otherwise the same again */
        }
        for (int i = 0; i < 3; i++) {
            add_act(in, t + i * rndr(0, 400), A_GC, a, rooms[i], TM_HEADLINE, k, false);
        }
        t += 60000 + rndr(-1500, 1500);
    }
    in->size = (size_t)minutes;
}

static void plan_newuser(struct inst *in, int64_t t)
{
    int32_t a = fresh_acct(0);
    add_off(in, a);
    int n = (int)rndr(35, 45);
    int32_t friend0 = pick_bg();
    for (int i = 0; i < n; i++) {
        /* people who know each other: a friend circle around one account */
        int32_t b = (int32_t)((friend0 + i * 3 + (int)rndu(3)) % (int32_t)g_n_bg);
        add_act(in, t, A_SUB, a, b, 0, 0, false);
        if (rndf() < 0.9) {
            int64_t ta = t + rndr(5000, 300000);
            add_act(in, ta, A_SUBD, b, a, 0, 0, false);
            add_act(in, ta + rndr(100, 2000), A_SUB, b, a, 0, 0, false);
            add_act(in, ta + rndr(3000, 8000), A_SUBD, a, b, 0, 0, false);
            if (rndu(3) == 0) {
                add_act(in, ta + rndr(10000, 60000), A_CHAT, b, a, TM_RANDOM, i, false);
                add_act(in, ta + rndr(61000, 120000), A_CHAT, a, b, TM_RANDOM, i, false);
            }
        }
        t += rndr(4000, 25000);
    }
    in->size = (size_t)n;
}

static void plan_paste(struct inst *in, int64_t t)
{
    int32_t r = pick_room(10);
    int32_t a = pick_occupant(r);
    in->room = r;
    add_off(in, a);
    add_act(in, t, A_GC, a, r, TM_RANDOM, 0, false);
    add_act(in, t + rndr(5000, 20000), A_GC, a, r, TM_PASTE, 1, false);
    add_act(in, t + rndr(25000, 60000), A_GC, a, r, TM_RANDOM, 2, false);
    in->size = 1;
}

static void plan_flaky(struct inst *in, int64_t t)
{
    int32_t r = pick_room(5);
    int32_t a = pick_occupant(r);
    in->room = r;
    add_off(in, a);
    int n = (int)rndr(30, 80);
    for (int i = 0; i < n; i++) {
        add_act(in, t, A_LEAVE, a, r, 0, 0, false);
        add_act(in, t + rndr(1000, 6000), A_JOIN, a, r, 0, 0, false);
        t += 30000 + rndr(-5000, 5000);
    }
    in->size = (size_t)n;
}

static void plan_announce(struct inst *in, int64_t t)
{
    int n = (int)rndr(200, 800);
    if ((size_t)n > g_n_bg) {
        n = (int)g_n_bg;
    }
    int64_t span = rndr(2000, 10000);
    int32_t s = pick_bg();
    for (int i = 0; i < n; i++) {
        add_act(in, t + span * i / n, A_HEADLINE, -1, (int32_t)((s + i) % (int32_t)g_n_bg),
                TM_FIXED, 0, false);
    }
    snprintf(in->text, sizeof(in->text),
             "The server will be upgraded tonight at 23:00 UTC, expect 5 minutes of downtime.");
    in->size = (size_t)n;
}

static void plan_returning(struct inst *in, int64_t t)
{
    int32_t a = pick_bg();
    add_off(in, a);
    int want = (int)rndr(20, 35);
    for (int i = 0; g_acct[a].n_contacts < want && i < 400; i++) {
        link_contacts(a, (int32_t)((a + 1 + i) % (int32_t)g_n_bg));
    }
    int n = g_acct[a].n_contacts;
    int64_t span = rndr(600000, 1200000);
    for (int i = 0; i < n; i++) {
        int32_t b = g_acct[a].contacts[i];
        int64_t tc = t + span * i / n;
        add_act(in, tc, A_CHAT, a, b, TM_RANDOM, i, false);
        int rep = (int)rndr(1, 3);
        for (int j = 0; j < rep; j++) {
            tc += rndr(5000, 90000);
            add_act(in, tc, A_CHAT, b, a, TM_RANDOM, i, false);
            add_act(in, tc + rndr(3000, 30000), A_CHAT, a, b, TM_RANDOM, i, false);
        }
    }
    in->size = (size_t)n;
}

static void plan_moderator(struct inst *in, int64_t t)
{
    int32_t r = pick_room(20);
    int32_t a = g_room[r].occ[0];
    in->room = r;
    add_off(in, a);
    int n = (int)rndr(10, 25);
    for (int i = 0; i < n; i++) {
        add_act(in, t + rndr(0, 180000), A_INVITE, a, r, 0, pick_bg(), false);
    }
    int k = (int)rndr(3, 8);
    for (int i = 0; i < k; i++) {
        add_act(in, t + rndr(0, 180000), A_KICK, a, r, 0, pick_occupant(r), false);
    }
    add_act(in, t + 1000, A_GC, a, r, TM_RANDOM, 0, false);
    in->size = (size_t)(n + k);
}

static void plan_bridge(struct inst *in, int64_t t)
{
    char nm[28];
    snprintf(nm, sizeof(nm), "bridge%d", g_inst_no);
    int32_t a = add_acct(nm, 2, false);
    int32_t r = pick_room(20);
    in->room = r;
    add_off(in, a);
    add_act(in, t, A_JOIN, a, r, 0, 0, false);
    int64_t end = t + rndr(600000, 1800000);
    double rate = (double)rndr(2, 5) / 10.0; /* 12-30 relayed lines a minute */
    int n = 0;
    t += 3000;
    while (t < end) {
        add_act(in, t, A_GC, a, r, TM_BRIDGE, n++, false);
        t += rnd_exp(1000.0 / rate) + 200;
    }
    in->size = (size_t)n;
}

/* A newcomer hopping through public rooms, greeting briefly in each (room-spam
 * look-alike: one account, many rooms, similar short lines within minutes). */
static void plan_hopper(struct inst *in, int64_t t)
{
    int32_t a = fresh_acct(0);
    add_off(in, a);
    int n = (int)rndr(5, 10);
    if ((size_t)n > g_n_room - 1) {
        n = (int)g_n_room - 1;
    }
    int32_t nr = (int32_t)g_n_room, start = (int32_t)rndu((uint32_t)nr);
    for (int i = 0; i < n; i++) {
        int32_t r = (start + i) % nr;
        add_act(in, t, A_JOIN, a, r, 0, 0, false);
        add_act(in, t + rndr(2000, 10000), A_GC, a, r, TM_GREET, i, false);
        if (rndu(2) == 0) {
            add_act(in, t + rndr(20000, 90000), A_GC, a, r, TM_RANDOM, i, false);
        }
        t += rndr(30000, 180000);
    }
    in->size = (size_t)n;
}

/* A support account answering questions from strangers who write first
 * (1:1 spam look-alike: many distinct non-contacts within an hour). */
static void plan_helpdesk(struct inst *in, int64_t t)
{
    char nm[28];
    snprintf(nm, sizeof(nm), "support%d", g_inst_no);
    int32_t h = add_acct(nm, 0, false);
    add_off(in, h);
    int n = cap_strangers((int)rndr(25, 60));
    int32_t *who = malloc((size_t)n * sizeof(int32_t));
    pick_strangers(h, n, who);
    int64_t span = rndr(1800000, 3600000);
    for (int i = 0; i < n; i++) {
        int64_t tq = t + span * i / n + rndr(0, 20000);
        int rounds = (int)rndr(1, 3);
        for (int k = 0; k < rounds; k++) {
            add_act(in, tq, A_CHAT, who[i], h, TM_RANDOM, i, false);
            tq += rndr(10000, 120000);
            add_act(in, tq, A_CHAT, h, who[i], TM_RANDOM, i, false);
            tq += rndr(20000, 180000);
        }
    }
    free(who);
    in->size = (size_t)n;
}

static const struct scen_def g_defs[] = {
    {"muc-flood", false, 120000, plan_muc_flood, {"rate", "repeat", "multiline"}},
    {"muc-raid", false, 60000, plan_muc_raid, {"fresh-domain"}},
    {"room-spam", false, 600000, plan_room_spam, {"mutated"}},
    {"sub-burst", false, 150000, plan_sub_burst, {"account"}},
    {"sub-burst-domain", false, 100000, plan_sub_domain, {"domain"}},
    {"sub-slow", false, 10800000, plan_sub_slow, {"hours"}},
    {"msg-spam", false, 1200000, plan_msg_spam, {"strangers"}},
    {"presence-churn", false, 200000, plan_churn, {"rejoin", "nick"}},
    {"active-person", true, 1500000, plan_active, {"busy-room"}},
    {"goal-burst", true, 20000, plan_goal, {"established"}},
    {"news-bot", true, 3600000, plan_newsbot, {"3-rooms"}},
    {"new-user-contacts", true, 900000, plan_newuser, {"answered"}},
    {"long-paste", true, 60000, plan_paste, {"paste"}},
    {"flaky-phone", true, 2400000, plan_flaky, {"rejoin-30s"}},
    {"server-announce", true, 10000, plan_announce, {"headline"}},
    {"returning-person", true, 1500000, plan_returning, {"contacts"}},
    {"moderator", true, 200000, plan_moderator, {"invite-kick"}},
    {"bridge-bot", true, 1800000, plan_bridge, {"relay"}},
    {"room-hopper", true, 1200000, plan_hopper, {"greetings"}},
    {"helpdesk", true, 3600000, plan_helpdesk, {"answers"}},
};
#define N_DEFS (sizeof(g_defs) / sizeof(g_defs[0]))

static int cmp_act(const void *x, const void *y)
{
    const struct act *a = x, *b = y;
    return a->t < b->t ? -1 : a->t > b->t ? 1 : 0;
}

/* ---- text for actions --------------------------------------------------- */

static char g_text[16384];

static const char *act_text(const struct inst *in, const struct act *a)
{
    uint64_t r = rnd64();
    switch (a->text) {
    case TM_FIXED:
        return in->text;
    case TM_SUFFIX:
        snprintf(g_text, sizeof(g_text), "%s %s", in->text, gen_token(r, 4 + (int)(r % 6)));
        return g_text;
    case TM_MUTATED:
        gen_mutate(g_text, sizeof(g_text), in->text, r);
        return g_text;
    case TM_MULTI:
        gen_multiline(g_text, sizeof(g_text), r, 15 + (int)(r % 25), in->text);
        return g_text;
    case TM_PASTE:
        gen_paste(g_text, sizeof(g_text), r, 40 + (int)(r % 110));
        return g_text;
    case TM_GOAL:
        return gen_goal(r);
    case TM_HEADLINE:
        return gen_headline((uint64_t)a->k * 7919u + (uint64_t)g_inst_no);
    case TM_BRIDGE: {
        char sent[512];
        gen_sentence(sent, sizeof(sent), r);
        static const char *const nicks[] = {"<tom>",  "<irc_anna>", "<kev>",    "<matrix_lu>",
                                            "<pete>", "<sara>",     "<dmitri>", "<jo>"};
        snprintf(g_text, sizeof(g_text), "%s %s", nicks[r % 8], sent);
        return g_text;
    }
    case TM_REPLY:
        return "who is this?";
    case TM_GREET: {
        static const char *const g[] = {"hi all",       "hello everyone!", "hey :)",
                                        "hi, new here", "good morning",    "hello o/",
                                        "hi folks",     "hey there"};
        return g[r % 8];
    }
    default:
        gen_sentence(g_text, sizeof(g_text), r);
        return g_text;
    }
}

static void run_act(struct inst *in, const struct act *a)
{
    switch (a->kind) {
    case A_JOIN:
        st_muc_presence(a->t, a->who, a->arg, a->nickv, true, false);
        break;
    case A_LEAVE:
        st_muc_presence(a->t, a->who, a->arg, a->nickv, false, true);
        break;
    case A_NICK:
        st_muc_presence(a->t, a->who, a->arg, a->nickv, false, false);
        break;
    case A_GC:
        st_groupchat(a->t, a->who, a->arg, act_text(in, a), a->nickv);
        break;
    case A_SUB:
        st_sub(a->t, a->who, a->arg, "subscribe");
        break;
    case A_SUBD:
        st_sub(a->t, a->who, a->arg, "subscribed");
        break;
    case A_UNSUBD:
        st_sub(a->t, a->who, a->arg, "unsubscribed");
        break;
    case A_CHAT:
        st_chat(a->t, a->who, a->arg, act_text(in, a));
        break;
    case A_HEADLINE:
        st_headline(a->t, "a.test", a->arg, in->text);
        break;
    case A_INVITE:
        st_invite(a->t, a->who, a->arg, a->k);
        break;
    case A_KICK:
        st_kick(a->t, a->who, a->arg, a->k);
        break;
    default:
        break;
    }
}

/* ---- event heap --------------------------------------------------------- */

enum src_kind { S_GC, S_CHAT, S_BCAST, S_IQ, S_MUCJL, S_SUB, S_ONESHOT_SUBD, S_INST };

struct src {
    int64_t t;
    double tf; /* background: exact (fractional ms) time of the next event */
    uint64_t order;
    int kind;
    int32_t a, b; /* S_INST: instance index; ONESHOT: from, to */
    double mean_ms;
};

static struct src *g_src;
static size_t g_n_src, g_cap_src;
static uint64_t g_order;

static bool src_less(const struct src *x, const struct src *y)
{
    return x->t < y->t || (x->t == y->t && x->order < y->order);
}

static void heap_push(struct src s)
{
    if (g_n_src == g_cap_src) {
        g_cap_src = g_cap_src ? g_cap_src * 2 : 256;
        g_src = realloc(g_src, g_cap_src * sizeof(*g_src));
    }
    s.order = g_order++;
    size_t i = g_n_src++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!src_less(&s, &g_src[p])) {
            break;
        }
        g_src[i] = g_src[p];
        i = p;
    }
    g_src[i] = s;
}

static struct src heap_pop(void)
{
    struct src top = g_src[0];
    struct src last = g_src[--g_n_src];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= g_n_src) {
            break;
        }
        if (c + 1 < g_n_src && src_less(&g_src[c + 1], &g_src[c])) {
            c++;
        }
        if (!src_less(&g_src[c], &last)) {
            break;
        }
        g_src[i] = g_src[c];
        i = c;
    }
    if (g_n_src > 0) {
        g_src[i] = last;
    }
    return top;
}

/* ---- background processes ----------------------------------------------- */

#define N_CONV 64
struct conv {
    int32_t a, b;
    int left;
};
static struct conv g_conv[N_CONV];

static int32_t pick_room_weighted(void)
{
    double u = rndf();
    return (int32_t)(u * u * (double)g_n_room);
}

static void bg_step(struct src *s)
{
    int64_t t = s->t;
    switch (s->kind) {
    case S_GC: {
        int32_t r = pick_room_weighted();
        struct room *rm = &g_room[r];
        if (rm->n_occ == 0) {
            break;
        }
        double u = rndf();
        /* talkative first occupants, but no one above a few lines a minute */
        int32_t a = rm->occ[(int)(u * sqrt(u) * rm->n_occ)];
        if (!g_acct[a].bg) {
            break;
        }
        char body[512];
        gen_sentence(body, sizeof(body), rnd64());
        st_groupchat(t, a, r, body, 0);
        break;
    }
    case S_CHAT: {
        struct conv *c = &g_conv[rndu(N_CONV)];
        if (c->left <= 0) {
            c->a = pick_bg();
            if (g_acct[c->a].n_contacts == 0) {
                break;
            }
            c->b = g_acct[c->a].contacts[rndu(g_acct[c->a].n_contacts)];
            c->left = (int)rndr(2, 30);
        }
        char body[512];
        gen_sentence(body, sizeof(body), rnd64());
        st_chat(t, c->a, c->b, body);
        c->left--;
        if (rndu(10) < 7) {
            int32_t x = c->a;
            c->a = c->b;
            c->b = x;
        }
        break;
    }
    case S_BCAST:
        st_bcast(t, pick_bg());
        break;
    case S_IQ:
        st_iq(t, pick_bg());
        break;
    case S_MUCJL: {
        int32_t r = pick_room_weighted();
        struct room *rm = &g_room[r];
        if (rndu(2) == 0 && rm->n_occ > 6) {
            int32_t a = rm->occ[rm->n_occ / 2 + rndu(rm->n_occ - rm->n_occ / 2)];
            if (g_acct[a].bg) {
                st_muc_presence(t, a, r, 0, false, true);
            }
        } else {
            int32_t a = pick_bg();
            if (!in_room(rm, a)) {
                st_muc_presence(t, a, r, 0, true, false);
            }
        }
        break;
    }
    case S_SUB: {
        int32_t a = pick_bg();
        int32_t b = pick_stranger(a);
        st_sub(t, a, b, "subscribe");
        if (rndf() < 0.85) {
            struct src o = {.t = t + rndr(2000, 300000), .kind = S_ONESHOT_SUBD, .a = b, .b = a};
            heap_push(o);
            link_contacts(a, b);
        }
        break;
    }
    default:
        break;
    }
}

/* ---- options, truth ----------------------------------------------------- */

struct opts {
    uint64_t seed, stanzas;
    int64_t duration_s;
    const char *scen, *benign, *truth, *out;
    double mirror, carbons;
    int64_t start_ms;
};

static void usage(void)
{
    fprintf(stderr, "usage: swgen --seed N --stanzas N [--duration S] [--scenarios LIST|all|none]\n"
                    "             [--benign LIST|all|none] [--truth FILE] [--mirror-fraction F]\n"
                    "             [--carbons F] [--start RFC3339] -o FILE|-\n"
                    "LIST: name[:count],...  abuse:");
    for (size_t i = 0; i < N_DEFS; i++) {
        if (!g_defs[i].benign) {
            fprintf(stderr, " %s", g_defs[i].name);
        }
    }
    fprintf(stderr, "\n      benign:");
    for (size_t i = 0; i < N_DEFS; i++) {
        if (g_defs[i].benign) {
            fprintf(stderr, " %s", g_defs[i].name);
        }
    }
    fprintf(stderr, "\n");
}

/* how many instances of def @d the list @list asks for (-1 = default count) */
static int list_count(const char *list, const char *name, int dflt)
{
    if (list == NULL || strcmp(list, "all") == 0) {
        return dflt;
    }
    if (strcmp(list, "none") == 0) {
        return 0;
    }
    size_t nl = strlen(name);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len >= nl && strncmp(p, name, nl) == 0 && (len == nl || p[nl] == ':')) {
            return len == nl ? dflt : atoi(p + nl + 1);
        }
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    return 0;
}

static bool list_valid(const char *list, bool benign)
{
    if (list == NULL || strcmp(list, "all") == 0 || strcmp(list, "none") == 0) {
        return true;
    }
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        size_t nl = colon ? (size_t)(colon - p) : len;
        bool ok = false;
        for (size_t i = 0; i < N_DEFS; i++) {
            if (g_defs[i].benign == benign && strlen(g_defs[i].name) == nl &&
                strncmp(g_defs[i].name, p, nl) == 0) {
                ok = true;
            }
        }
        if (!ok) {
            fprintf(stderr, "swgen: unknown %s scenario '%.*s'\n", benign ? "benign" : "abuse",
                    (int)len, p);
            return false;
        }
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    return true;
}

static void truth_jid(FILE *fp, int32_t a, bool *first)
{
    fprintf(fp, "%s{\"jid\":\"%s@%s\",\"kind\":\"account\"}", *first ? "" : ",", g_acct[a].name,
            dom_of(a));
    *first = false;
}

/* Abuse that is slow by definition (issue 3: "over hours", "over minutes to
 * hours", "one message per room"): scored for recall, latency reported apart. */
static bool is_slow(const struct scen_def *d)
{
    return !d->benign && (strcmp(d->name, "sub-slow") == 0 || strcmp(d->name, "msg-spam") == 0 ||
                          strcmp(d->name, "room-spam") == 0);
}

static void write_truth(FILE *fp, struct inst *ins, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct inst *in = &ins[i];
        if (in->skipped || in->n_acts == 0) {
            continue;
        }
        char s[40], e[40];
        fmt_rfc3339(s, sizeof(s), in->start);
        fmt_rfc3339(e, sizeof(e), in->end);
        fprintf(fp,
                "{\"scenario\":\"%s\",\"variant\":\"%s\",\"benign\":%s,\"slow\":%s,"
                "\"truncated\":%s,",
                in->def->name, in->def->variants[in->variant], in->benign ? "true" : "false",
                is_slow(in->def) ? "true" : "false", in->truncated ? "true" : "false");
        fprintf(fp, "\"offenders\":[");
        bool first = true;
        for (size_t k = 0; k < in->n_off; k++) {
            truth_jid(fp, in->off[k], &first);
        }
        if (in->off_domain >= 0) {
            fprintf(fp, "%s{\"jid\":\"%s\",\"kind\":\"domain\"}", first ? "" : ",",
                    g_domains[in->off_domain]);
        }
        fprintf(fp, "],\"acceptable\":[");
        first = true;
        for (size_t k = 0; k < in->n_acc; k++) {
            truth_jid(fp, in->acc[k], &first);
        }
        if (in->acc_domain >= 0) {
            fprintf(fp, "%s{\"jid\":\"%s\",\"kind\":\"domain\"}", first ? "" : ",",
                    g_domains[in->acc_domain]);
        }
        fprintf(fp, "],\"room\":\"");
        if (in->room >= 0) {
            fprintf(fp, "%s@%s", g_room[in->room].name, g_muc);
        }
        fprintf(fp,
                "\",\"size\":%zu,\"start_ms\":%" PRId64 ",\"end_ms\":%" PRId64
                ",\"start\":\"%s\",\"end\":\"%s\"}\n",
                in->size, in->start, in->end, s, e);
    }
}

int main(int argc, char **argv)
{
    struct opts o = {.seed = 1,
                     .stanzas = 100000,
                     .duration_s = 0,
                     .mirror = 0.3,
                     .start_ms = 1767614400000LL /* 2026-01-05T12:00:00Z */};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        }
        if (v == NULL) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--seed") == 0) {
            o.seed = strtoull(v, NULL, 0);
        } else if (strcmp(a, "--stanzas") == 0) {
            o.stanzas = strtoull(v, NULL, 0);
        } else if (strcmp(a, "--duration") == 0) {
            o.duration_s = strtoll(v, NULL, 0);
        } else if (strcmp(a, "--scenarios") == 0) {
            o.scen = v;
        } else if (strcmp(a, "--benign") == 0) {
            o.benign = v;
        } else if (strcmp(a, "--truth") == 0) {
            o.truth = v;
        } else if (strcmp(a, "--mirror-fraction") == 0) {
            o.mirror = strtod(v, NULL);
        } else if (strcmp(a, "--carbons") == 0) {
            o.carbons = strtod(v, NULL);
        } else if (strcmp(a, "--start") == 0) {
            struct tm tm;
            memset(&tm, 0, sizeof(tm));
            if (sscanf(v, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                       &tm.tm_min, &tm.tm_sec) != 6) {
                fprintf(stderr, "swgen: bad --start (want YYYY-MM-DDThh:mm:ss)\n");
                return 2;
            }
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            o.start_ms = (int64_t)timegm(&tm) * 1000;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            o.out = v;
        } else {
            usage();
            return 2;
        }
    }
    if (o.out == NULL || o.stanzas == 0 || o.mirror < 0 || o.mirror > 1 || o.carbons < 0 ||
        o.carbons > 1 || !list_valid(o.scen, false) || !list_valid(o.benign, true)) {
        usage();
        return 2;
    }
    if (o.duration_s <= 0) {
        o.duration_s = (int64_t)(o.stanzas / 100);
        if (o.duration_s < 600) {
            o.duration_s = 600;
        }
    }
    g_mirror = o.mirror;
    g_carbons = o.carbons;
    g_rng = o.seed * 0x2545F4914F6CDD1DULL + 0x1234567;
    g_t0 = o.start_ms;
    g_duration_ms = o.duration_s * 1000;
    build_world(o.stanzas);

    /* scenario instances */
    double hours = (double)o.duration_s / 3600.0;
    int dflt = (int)(hours * 1.5 + 0.5);
    dflt = dflt < 1 ? 1 : dflt > 200 ? 200 : dflt;
    struct inst *ins = NULL;
    size_t n_ins = 0;
    int64_t warm = g_duration_ms / 10 < 300000 ? g_duration_ms / 10 : 300000;
    size_t scen_stanzas = 0;
    for (size_t d = 0; d < N_DEFS; d++) {
        const struct scen_def *def = &g_defs[d];
        int cnt = list_count(def->benign ? o.benign : o.scen, def->name, dflt);
        for (int c = 0; c < cnt; c++) {
            ins = realloc(ins, (n_ins + 1) * sizeof(*ins));
            struct inst *in = &ins[n_ins++];
            memset(in, 0, sizeof(*in));
            in->def = def;
            in->benign = def->benign;
            in->off_domain = in->acc_domain = -1;
            in->room = -1;
            int nv = 0;
            while (nv < 4 && def->variants[nv]) {
                nv++;
            }
            in->variant = c % nv;
            g_inst_no = (int)n_ins;
            int64_t span = g_duration_ms - warm - def->est_len_ms - 60000;
            if (span < 0) {
                span = g_duration_ms - warm - 60000 > 0 ? g_duration_ms - warm - 60000 : 0;
            }
            int64_t t0 = g_t0 + warm + rndr(0, span);
            def->plan(in, t0);
            if (in->skipped || in->n_acts == 0) {
                in->skipped = true;
                fprintf(stderr, "swgen: %s: does not fit in --duration, skipped\n", def->name);
                continue;
            }
            qsort(in->acts, in->n_acts, sizeof(*in->acts), cmp_act);
            in->start = INT64_MAX;
            in->end = INT64_MIN;
            for (size_t k = 0; k < in->n_acts; k++) {
                if (in->acts[k].abuse || in->benign) {
                    if (in->acts[k].t < in->start) {
                        in->start = in->acts[k].t;
                    }
                    if (in->acts[k].t > in->end) {
                        in->end = in->acts[k].t;
                    }
                }
            }
            scen_stanzas += in->n_acts;
        }
    }
    for (size_t i = 0; i < n_ins; i++) {
        if (!ins[i].skipped) {
            struct src s = {.t = ins[i].acts[0].t, .kind = S_INST, .a = (int32_t)i};
            heap_push(s);
        }
    }

    /* background: stanzas per second, split by kind (share, stanzas per event) */
    double rate = ((double)o.stanzas - (double)scen_stanzas * 1.3) / (double)o.duration_s;
    if (rate < (double)o.stanzas / (double)o.duration_s * 0.2) {
        rate = (double)o.stanzas / (double)o.duration_s * 0.2;
    }
    static const struct {
        int kind;
        double share, per_event;
    } mix[] = {
        {S_GC, 0.40, 1.0 + 0.35 * 3.6}, {S_CHAT, 0.25, 1.0},
        {S_BCAST, 0.18, 6.0},           {S_IQ, 0.09, 1.5},
        {S_MUCJL, 0.05, 1.5},           {S_SUB, 0.03, 1.85},
    };
    for (size_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++) {
        double ev_per_s = rate * mix[i].share / mix[i].per_event;
        struct src s = {.kind = mix[i].kind, .mean_ms = 1000.0 / ev_per_s};
        s.tf = (double)g_t0 + rndf() * s.mean_ms;
        s.t = (int64_t)s.tf;
        heap_push(s);
    }

    g_fp = strcmp(o.out, "-") == 0 ? stdout : fopen(o.out, "wb");
    if (g_fp == NULL) {
        fprintf(stderr, "swgen: %s: %s\n", o.out, strerror(errno));
        return 1;
    }
    sb_grow(&g_out, OUT_CAP);
    sb_puts(&g_out, "<stream:stream xmlns='jabber:server' "
                    "xmlns:stream='http://etherx.jabber.org/streams'>\n");
    int64_t t_end = g_t0 + g_duration_ms;
    while (g_n_src > 0) {
        struct src s = heap_pop();
        if (s.t > t_end) {
            if (s.kind == S_INST) {
                ins[s.a].truncated = true;
            }
            continue;
        }
        if (s.kind == S_INST) {
            struct inst *in = &ins[s.a];
            run_act(in, &in->acts[in->next++]);
            if (in->next < in->n_acts) {
                s.t = in->acts[in->next].t;
                heap_push(s);
            }
        } else if (s.kind == S_ONESHOT_SUBD) {
            st_sub(s.t, s.a, s.b, "subscribed");
        } else {
            bg_step(&s);
            s.tf += -s.mean_ms * log1p(-rndf());
            s.t = (int64_t)s.tf;
            heap_push(s);
        }
    }
    sb_puts(&g_out, "</stream:stream>\n");
    out_flush();
    if (g_fp != stdout) {
        if (fclose(g_fp) != 0) {
            fprintf(stderr, "swgen: %s: %s\n", o.out, strerror(errno));
            return 1;
        }
    } else {
        fflush(stdout);
    }
    if (o.truth) {
        FILE *tf = fopen(o.truth, "w");
        if (tf == NULL) {
            fprintf(stderr, "swgen: %s: %s\n", o.truth, strerror(errno));
            return 1;
        }
        write_truth(tf, ins, n_ins);
        fclose(tf);
    }
    fprintf(stderr,
            "swgen: seed %" PRIu64 ": %" PRIu64 " stanzas over %" PRId64
            " s, %zu accounts, %zu rooms, %zu scenario instances\n",
            o.seed, g_written, o.duration_s, g_n_acct, g_n_room, n_ins);
    for (size_t i = 0; i < n_ins; i++) {
        free(ins[i].acts);
        free(ins[i].off);
        free(ins[i].acc);
    }
    free(ins);
    free(g_src);
    free(g_acct);
    free(g_room);
    for (size_t i = 0; i < g_n_domains; i++) {
        free(g_domains[i]);
    }
    free(g_domains);
    free(g_out.p);
    free(g_attr.p);
    free(g_kids.p);
    return 0;
}
