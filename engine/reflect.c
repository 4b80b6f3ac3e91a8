/*
 * reflect.c - recognise a MUC room's reflected copy of a message from its
 * bytes, before libxml2 parses it.
 *
 * A room sends every line an occupant says to each occupant: a server's
 * mirror carries one <message type='groupchat'/> from room@service/nick to
 * user@domain/resource per occupant. engine/xml.c flags those
 * SW_F_MUC_REFLECTION and no detector counts them (sw_dc_excluded(), the
 * content and classifier filters, wave): the occupant's own send to the room
 * is what they judge. Yet they are a fifth of the stanzas and a quarter of
 * the bytes of swgen's captures, and in a room of 500 occupants 500 of every
 * 501 messages. Parsing them only to drop them was the parser threads'
 * biggest avoidable cost, so the parser leaves them out of what it feeds
 * libxml2 (engine.skip_reflections; see parser_compact() in parser.c).
 *
 * pl_is_reflection() answers "certainly a reflection" only for the plain
 * shapes below and "not sure" for anything else, which is then parsed as
 * before. A "yes" must never name a stanza engine/xml.c would not flag
 * SW_F_MUC_REFLECTION (tests/engine/test_reflect.c checks that on every
 * stanza of swgen captures and on hand-made near misses):
 *   - <message ...> with type='groupchat', a from and a to that both have a
 *     non-empty resource (xml.c: a groupchat whose from has a resource and
 *     whose to has one is a reflection, whatever the domain), and a from
 *     with a local part ('@' before the '/'), so it is no mirror wrapper;
 *   - a mirror copy: <message ...> whose from has no '@' and whose first
 *     child is <forwarded xmlns='urn:xmpp:forward:0'>, holding an optional
 *     <delay xmlns='urn:xmpp:delay' .../> and then such a <message ...>.
 * Not sure, so parsed: a prefixed name, an xmlns:p declaration, an entity or
 * character reference in any attribute value read here, an attribute value
 * over @max_attr bytes or a JID part over 1023 (xml.c's limits would apply), a
 * duplicate attribute, "carbons" or a character reference anywhere in the
 * stanza (a carbon, whose namespace may be spelt with character references,
 * would make its inner message the described one), and anything else
 * unusual before the described message's start tag ends.
 *
 * What skipping gives up: a skipped reflection is never checked by libxml2,
 * so a malformed or over-limit one is not counted (parse errors, over_limit
 * counters); its stamp does not advance stream time (the occupant's send,
 * just before it, carries the same stamp).
 *
 * Threading: pure function on caller memory.
 */
#include <stdbool.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "pipeline_int.h"

const char *pl_memfind(const char *h, size_t n, const char *needle, size_t m)
{
    if (m == 0 || n < m) {
        return m == 0 ? h : NULL;
    }
    const char *e = h + n - m + 1;
    for (const char *p = h; (p = memchr(p, needle[0], (size_t)(e - p))) != NULL; p++) {
        if (memcmp(p, needle, m) == 0) {
            return p;
        }
    }
    return NULL;
}

/* Whether "carbons" or a character reference ("&#") occurs in [s, s + n):
 * either could make a child a carbon (a namespace URI may be spelt with
 * character references, "urn:xmpp:&#99;arbons:2"). SSE2 compares of 16
 * positions at a time, then a full compare. The stanza is scanned whole for
 * every candidate, so memchr() on the URI's first byte (a call per 'u' in
 * the text) cost more than the rest of the check. */
static bool rf_unsure_bytes(const char *s, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i c = _mm_set1_epi8('c'), a = _mm_set1_epi8('a'), r = _mm_set1_epi8('r');
    const __m128i amp = _mm_set1_epi8('&'), hash = _mm_set1_epi8('#');
    for (; i + 18 <= n; i += 16) {
        __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 1));
        __m128i v2 = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 2));
        if (_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(v0, amp), _mm_cmpeq_epi8(v1, hash)))) {
            return true;
        }
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(
            _mm_and_si128(_mm_cmpeq_epi8(v0, c), _mm_cmpeq_epi8(v1, a)), _mm_cmpeq_epi8(v2, r)));
        while (m != 0) {
            size_t k = i + (size_t)__builtin_ctz(m);
            if (n - k >= 7 && memcmp(s + k, "carbons", 7) == 0) {
                return true;
            }
            m &= m - 1;
        }
    }
#endif
    for (; i + 2 <= n; i++) {
        if ((s[i] == '&' && s[i + 1] == '#') ||
            (s[i] == 'c' && n - i >= 7 && memcmp(s + i, "carbons", 7) == 0)) {
            return true;
        }
    }
    return false;
}

/* The closing quote @q of an attribute value starting at @p, or NULL when
 * an '&' or a '<' comes first or no quote before @e. 16 bytes a step: this
 * runs on every message stanza's attributes, and byte loops or three
 * memchr() calls a value made the check a tenth of the parser threads. */
static const char *rf_value_end(const char *p, const char *e, char q)
{
#if defined(__SSE2__)
    const __m128i vq = _mm_set1_epi8(q), va = _mm_set1_epi8('&'), vl = _mm_set1_epi8('<');
    for (; e - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned mq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vq));
        unsigned mb =
            (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vl)));
        if ((mq | mb) != 0) {
            unsigned k = (unsigned)__builtin_ctz(mq | mb);
            return (mq >> k) & 1u ? p + k : NULL;
        }
    }
#endif
    for (; p < e; p++) {
        if (*p == q) {
            return p;
        }
        if (*p == '&' || *p == '<') {
            return NULL;
        }
    }
    return NULL;
}

struct rf_attrs {
    const char *from, *to, *type, *xmlns;
    size_t from_len, to_len, type_len, xmlns_len;
};

static bool rf_space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

static bool rf_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':';
}

/* The attributes of the start tag whose name ends at @p, up to its '>'.
 * Returns the byte after the '>' (*empty set for "/>"), NULL when unsure. */
static const char *rf_attrs(const char *p, const char *e, size_t max_attr, struct rf_attrs *a,
                            bool *empty)
{
    memset(a, 0, sizeof(*a));
    for (;;) {
        const char *s = p;
        while (p < e && rf_space(*p)) {
            p++;
        }
        if (p >= e) {
            return NULL;
        }
        if (*p == '>') {
            *empty = false;
            return p + 1;
        }
        if (*p == '/') {
            if (p + 1 < e && p[1] == '>') {
                *empty = true;
                return p + 2;
            }
            return NULL;
        }
        if (p == s) {
            return NULL; /* attributes are separated by white space */
        }
        const char *n = p;
        while (p < e && rf_name_char(*p)) {
            p++;
        }
        size_t nl = (size_t)(p - n);
        while (p < e && rf_space(*p)) {
            p++;
        }
        if (nl == 0 || p >= e || *p != '=') {
            return NULL;
        }
        p++;
        while (p < e && rf_space(*p)) {
            p++;
        }
        if (p >= e || (*p != '\'' && *p != '"')) {
            return NULL;
        }
        char q = *p++;
        const char *v = p;
        if ((p = rf_value_end(p, e, q)) == NULL || (size_t)(p - v) > max_attr) {
            return NULL;
        }
        size_t vl = (size_t)(p - v);
        p++;
        const char **slot = NULL;
        size_t *slot_len = NULL;
        if (nl == 4 && memcmp(n, "from", 4) == 0) {
            slot = &a->from, slot_len = &a->from_len;
        } else if (nl == 2 && memcmp(n, "to", 2) == 0) {
            slot = &a->to, slot_len = &a->to_len;
        } else if (nl == 4 && memcmp(n, "type", 4) == 0) {
            slot = &a->type, slot_len = &a->type_len;
        } else if (nl == 5 && memcmp(n, "xmlns", 5) == 0) {
            slot = &a->xmlns, slot_len = &a->xmlns_len;
        } else if (nl > 6 && memcmp(n, "xmlns:", 6) == 0) {
            return NULL; /* a prefix declaration: names may mean other things */
        } else if (memchr(n, ':', nl) != NULL && !(nl > 4 && memcmp(n, "xml:", 4) == 0)) {
            return NULL;
        }
        if (slot != NULL) {
            if (*slot != NULL) {
                return NULL; /* duplicate: libxml2 rejects the stanza */
            }
            *slot = v;
            *slot_len = vl;
        }
    }
}

static bool rf_is(const char *v, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return v != NULL && len == n && memcmp(v, lit, n) == 0;
}

/* A JID with a local part and a non-empty resource, within xml.c's bounds. */
static bool rf_full_jid(const char *v, size_t len, bool need_local)
{
    if (v == NULL || len == 0 || len > 3071) {
        return false;
    }
    size_t bare = 0;
    const char *at = NULL;
#if defined(__SSE2__)
    const __m128i vs = _mm_set1_epi8('/'), vat = _mm_set1_epi8('@');
    for (; len - bare >= 16; bare += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(v + bare));
        unsigned ms = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, vs));
        unsigned ma = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, vat));
        if (ms != 0) {
            ma &= (1u << __builtin_ctz(ms)) - 1u; /* '@' before the '/' only */
        }
        if (ma != 0 && at == NULL) {
            at = v + bare + __builtin_ctz(ma);
        }
        if (ms != 0) {
            bare += (size_t)__builtin_ctz(ms);
            break;
        }
    }
#endif
    while (bare < len && v[bare] != '/') {
        if (v[bare] == '@' && at == NULL) {
            at = v + bare;
        }
        bare++;
    }
    if (bare + 1 >= len) {
        return false; /* no resource, or an empty one */
    }
    size_t res = len - bare - 1;
    size_t local = at != NULL ? (size_t)(at - v) : 0;
    size_t dom = at != NULL ? bare - local - 1 : bare;
    if (local > 1023 || dom == 0 || dom > 1023 || res > 1023) {
        return false;
    }
    return !need_local || (at != NULL && local > 0);
}

/* "<NAME" at @p followed by white space, '>' or '/': the byte after NAME. */
static const char *rf_open(const char *p, const char *e, const char *name)
{
    size_t n = strlen(name);
    if ((size_t)(e - p) < n + 2 || p[0] != '<' || memcmp(p + 1, name, n) != 0) {
        return NULL;
    }
    char c = p[1 + n];
    return rf_space(c) || c == '>' || c == '/' ? p + 1 + n : NULL;
}

static const char *rf_skip_space(const char *p, const char *e)
{
    while (p < e && rf_space(*p)) {
        p++;
    }
    return p;
}

/* The described message's attributes make it a reflection. */
static bool rf_reflection_attrs(const struct rf_attrs *a)
{
    return rf_is(a->type, a->type_len, "groupchat") && rf_full_jid(a->from, a->from_len, true) &&
           rf_full_jid(a->to, a->to_len, false) &&
           (a->xmlns == NULL || rf_is(a->xmlns, a->xmlns_len, "jabber:client") ||
            rf_is(a->xmlns, a->xmlns_len, "jabber:server"));
}

bool pl_is_reflection(const char *s, size_t len, size_t max_attr)
{
    const char *e = s + len;
    const char *p = rf_open(s, e, "message");
    if (p == NULL) {
        return false;
    }
    struct rf_attrs top;
    bool empty;
    if ((p = rf_attrs(p, e, max_attr, &top, &empty)) == NULL) {
        return false;
    }
    /* Last, on what the attributes say is one: a carbon anywhere would change
     * which message the event describes. */
    if (top.from != NULL && memchr(top.from, '@', top.from_len) != NULL) {
        return rf_reflection_attrs(&top) && !rf_unsure_bytes(s, len);
    }
    /* a mirror copy: <forwarded xmlns='urn:xmpp:forward:0'>[<delay .../>]<message ...> */
    if (empty || top.from == NULL || top.xmlns != NULL) {
        return false;
    }
    p = rf_skip_space(p, e);
    struct rf_attrs a;
    const char *q = rf_open(p, e, "forwarded");
    if (q == NULL || (p = rf_attrs(q, e, max_attr, &a, &empty)) == NULL || empty ||
        a.from != NULL || a.to != NULL || a.type != NULL ||
        !rf_is(a.xmlns, a.xmlns_len, "urn:xmpp:forward:0")) {
        return false;
    }
    p = rf_skip_space(p, e);
    if ((q = rf_open(p, e, "delay")) != NULL) {
        if ((p = rf_attrs(q, e, max_attr, &a, &empty)) == NULL || !empty ||
            !rf_is(a.xmlns, a.xmlns_len, "urn:xmpp:delay")) {
            return false;
        }
        p = rf_skip_space(p, e);
    }
    if ((q = rf_open(p, e, "message")) == NULL || rf_attrs(q, e, max_attr, &a, &empty) == NULL) {
        return false;
    }
    return rf_reflection_attrs(&a) && !rf_unsure_bytes(s, len);
}
