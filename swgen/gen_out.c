/*
 * gen_out.c - swgen's output: the capture buffer, XML escaping, XEP-0203
 * stamps, stanza ids and gen_emit(), which writes one stanza (gen->attr and
 * gen->kids, filled by gen_stanza.c) either plain with a <delay/> or wrapped
 * as a Prosody mod_firewall FORWARD mirror copy
 * (<message from='a.test' to='watch.a.test'><forwarded><delay/>
 * <message xmlns='jabber:client' .../></forwarded></message>), as the lab in
 * shared/xmpp-lab/README.md captured them.
 *
 * The writing loop appends into one 1 MB buffer (gen->out) flushed when
 * nearly full; no allocation once the buffers have grown.
 */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_text.h"

const char *const gen_resources[8] = {"phone", "laptop", "gajim",  "conversations",
                                      "dino",  "web",    "tablet", "desk"};

void gen_sb_grow(struct gen_sb *b, size_t need)
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

void gen_sb_putn(struct gen_sb *b, const char *s, size_t n)
{
    gen_sb_grow(b, n);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

void gen_sb_puts(struct gen_sb *b, const char *s)
{
    gen_sb_putn(b, s, strlen(s));
}

static void sb_putu(struct gen_sb *b, uint64_t v)
{
    char t[24];
    int k = 24;
    do {
        t[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    gen_sb_putn(b, t + k, (size_t)(24 - k));
}

/* XML-escaped text (attribute-safe: both quotes escaped) */
static void sb_esc(struct gen_sb *b, const char *s)
{
    for (;;) {
        const char *p = s;
        while (*p && *p != '&' && *p != '<' && *p != '>' && *p != '\'' && *p != '"') {
            p++;
        }
        gen_sb_putn(b, s, (size_t)(p - s));
        if (*p == '\0') {
            return;
        }
        switch (*p) {
        case '&':
            gen_sb_puts(b, "&amp;");
            break;
        case '<':
            gen_sb_puts(b, "&lt;");
            break;
        case '>':
            gen_sb_puts(b, "&gt;");
            break;
        case '\'':
            gen_sb_puts(b, "&apos;");
            break;
        default:
            gen_sb_puts(b, "&quot;");
            break;
        }
        s = p + 1;
    }
}

void gen_out_flush(struct gen *g)
{
    if (g->out.n && fwrite(g->out.p, 1, g->out.n, g->fp) != g->out.n) {
        fprintf(stderr, "swgen: write failed: %s\n", strerror(errno));
        exit(1);
    }
    g->out.n = 0;
}

static void fmt_stamp(struct gen *g, char *dst, int64_t ms)
{
    int64_t sec = ms / 1000;
    if (sec != g->cached_sec) {
        time_t tt = (time_t)sec;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(g->sec_text, sizeof(g->sec_text), "%Y-%m-%dT%H:%M:%S", &tm);
        g->cached_sec = sec;
    }
    int m = (int)(ms % 1000);
    memcpy(dst, g->sec_text, 19);
    dst[19] = '.';
    dst[20] = (char)('0' + m / 100);
    dst[21] = (char)('0' + m / 10 % 10);
    dst[22] = (char)('0' + m % 10);
    dst[23] = 'Z';
    dst[24] = '\0';
}

void gen_fmt_rfc3339(char *dst, size_t cap, int64_t ms)
{
    time_t tt = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&tt, &tm);
    char s[32];
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(dst, cap, "%s.%03dZ", s, (int)(ms % 1000));
}

void gen_put_bare(struct gen *g, struct gen_sb *b, int32_t a)
{
    gen_sb_puts(b, g->acct[a].name);
    gen_sb_putn(b, "@", 1);
    gen_sb_puts(b, gen_dom_of(g, a));
}

void gen_put_full(struct gen *g, struct gen_sb *b, int32_t a)
{
    gen_put_bare(g, b, a);
    gen_sb_putn(b, "/", 1);
    gen_sb_puts(b, gen_resources[g->acct[a].res]);
}

void gen_put_room(struct gen *g, struct gen_sb *b, int32_t r)
{
    gen_sb_puts(b, g->room[r].name);
    gen_sb_putn(b, "@", 1);
    gen_sb_puts(b, g->muc);
}

void gen_put_nick(struct gen *g, struct gen_sb *b, int32_t a, int nickv)
{
    gen_sb_puts(b, g->acct[a].name);
    if (nickv > 0) {
        gen_sb_putn(b, "_", 1);
        sb_putu(b, (uint64_t)nickv);
    }
}

void gen_put_id(struct gen_sb *b, uint64_t id)
{
    static const char hx[] = "0123456789abcdef";
    uint64_t z = id * 0x9e3779b97f4a7c15ULL;
    z ^= z >> 29;
    char t[16];
    for (int i = 0; i < 16; i++) {
        t[i] = hx[(z >> (i * 4)) & 15];
    }
    gen_sb_putn(b, t, 16);
}

uint64_t gen_new_id(struct gen *g)
{
    /* isolated instances count apart (and in another range) so they shift no
     * id of the rest; GEN_OWN_IDS ones each in a range of their own */
    if (g->iso && g->id_own != NULL) {
        return g->id_base + ++*g->id_own;
    }
    return g->iso ? (1ULL << 40) + ++g->idctr_iso : ++g->idctr;
}

/*
 * Write one stanza: <name [g->attr]>[g->kids]</name> stamped at @t; wrapped as a
 * mirror copy with probability --mirror-fraction (outer from = @host).
 */
void gen_emit(struct gen *g, int64_t t, const char *name, const char *host)
{
    char stamp[32];
    fmt_stamp(g, stamp, t);
    struct gen_sb *o = &g->out;
    bool wrap = g->mirror > 0 && gen_rndf(g) < g->mirror;
    if (wrap) {
        gen_sb_puts(o, "<message from='");
        gen_sb_puts(o, host);
        gen_sb_puts(o, "' to='watch.a.test'><forwarded xmlns='urn:xmpp:forward:0'><delay "
                       "xmlns='urn:xmpp:delay' stamp='");
        gen_sb_puts(o, stamp);
        gen_sb_puts(o, "'/><");
        gen_sb_puts(o, name);
        gen_sb_puts(o, " xmlns='jabber:client'");
    } else {
        gen_sb_putn(o, "<", 1);
        gen_sb_puts(o, name);
    }
    gen_sb_putn(o, g->attr.p, g->attr.n);
    gen_sb_putn(o, ">", 1);
    gen_sb_putn(o, g->kids.p, g->kids.n);
    if (!wrap) {
        gen_sb_puts(o, "<delay xmlns='urn:xmpp:delay' stamp='");
        gen_sb_puts(o, stamp);
        gen_sb_puts(o, "'/>");
    }
    gen_sb_puts(o, "</");
    gen_sb_puts(o, name);
    gen_sb_putn(o, ">", 1);
    if (wrap) {
        gen_sb_puts(o, "</forwarded></message>");
    }
    gen_sb_putn(o, "\n", 1);
    g->attr.n = 0;
    g->kids.n = 0;
    g->written++;
    if (g->out.n > GEN_OUT_CAP - GEN_OUT_SLACK) {
        gen_out_flush(g);
    }
}

void gen_attr_begin(struct gen *g)
{
    g->attr.n = 0;
    g->kids.n = 0;
}

void gen_attr_type(struct gen *g, const char *type)
{
    gen_sb_puts(&g->attr, " type='");
    gen_sb_puts(&g->attr, type);
    gen_sb_putn(&g->attr, "'", 1);
}

void gen_attr_idv(struct gen *g, uint64_t id)
{
    gen_sb_puts(&g->attr, " id='");
    gen_put_id(&g->attr, id);
    gen_sb_putn(&g->attr, "'", 1);
}

void gen_kids_body(struct gen *g, const char *body)
{
    gen_sb_puts(&g->kids, "<body>");
    sb_esc(&g->kids, body);
    gen_sb_puts(&g->kids, "</body>");
}
