/*
 * record.c - unwrap and expand the socket tap's records (formats: record.h).
 *
 * Record 1 (<w>) is unwrapped in place. Record 2 (<m>/<p>) is expanded into
 * the connection's scratch buffer as the stanza record 1 would have carried:
 * a few memcpy's of the stored triple, the id and the text; attribute and
 * text bytes are copied as they came (already escaped by the module), so
 * the parser sees exactly record 1's bytes. Values are only accepted in
 * single quotes, which cannot contain a raw "'" (the splitter checked the
 * element is well formed), so a copied value cannot end its attribute early.
 *
 * Threading and ownership: see record.h.
 */
#include "record.h"

#include <stdlib.h>
#include <string.h>

#include "sw/sw.h"

void lt_rec_conn_init(struct lt_rec_conn *c)
{
    memset(c, 0, sizeof(*c));
}

void lt_rec_conn_free(struct lt_rec_conn *c)
{
    if (c->ent != NULL) {
        for (uint32_t k = 0; k <= LT_REC_KEYS; k++) {
            free(c->ent[k]);
        }
    }
    free(c->ent);
    free(c->entlen);
    free(c->scratch);
    memset(c, 0, sizeof(*c));
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static bool parse_u64(const char *v, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0 || n > 19) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return false;
        }
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return true;
}

/* <w ...>STANZA</w>: n and t from the start tag, STANZA trimmed */
static int rec_w(const char *s, size_t n, struct lt_rec *out)
{
    const char *gt = memchr(s, '>', n);
    if (gt == NULL || gt[-1] == '/') {
        return 0; /* <w/>: nothing inside */
    }
    out->numbered = true;
    /* attributes: the same scan as record 2's, values in either quote */
    for (const char *p = s + 2; p < gt;) {
        while (p < gt && is_space(*p)) {
            p++;
        }
        const char *name = p;
        while (p < gt && *p != '=' && !is_space(*p)) {
            p++;
        }
        size_t nl = (size_t)(p - name);
        if (p >= gt || *p != '=' || p + 1 >= gt || (p[1] != '\'' && p[1] != '"')) {
            break;
        }
        char q = p[1];
        const char *v = p + 2;
        const char *ve = memchr(v, q, (size_t)(gt - v));
        if (ve == NULL) {
            break;
        }
        if (nl == 1 && name[0] == 'n') {
            out->has_n = parse_u64(v, (size_t)(ve - v), &out->n);
        } else if (nl == 1 && name[0] == 't') {
            out->has_t = parse_u64(v, (size_t)(ve - v), &out->t);
        }
        p = ve + 1;
    }
    const char *in = gt + 1;
    const char *e = s + n - 4; /* "</w>" */
    if (e < in || memcmp(e, "</w>", 4) != 0) {
        return 0;
    }
    while (in < e && is_space(*in)) {
        in++;
    }
    while (e > in && is_space(e[-1])) {
        e--;
    }
    if (e > in) {
        out->stanza = in;
        out->len = (size_t)(e - in);
    }
    return 0;
}

static int room(struct lt_rec_conn *c, size_t need)
{
    if (c->scap >= need) {
        return 0;
    }
    size_t ncap = need < 4096 ? 4096 : need + need / 2;
    char *nb = realloc(c->scratch, ncap);
    if (nb == NULL) {
        return SW_ENOMEM;
    }
    c->scratch = nb;
    c->scap = ncap;
    return 0;
}

/* record 2 */
static int rec_mp(struct lt_rec_conn *c, const char *s, size_t n, struct lt_rec *out,
                  const char **why)
{
    const bool msg = s[1] == 'm';
    out->numbered = true;
    /* the start tag ends at the first '>' (values hold no raw '>' the module
     * wrote, and a stray one makes the tag fail below) */
    const char *gt = memchr(s, '>', n);
    if (gt == NULL) {
        *why = "record: no start tag end";
        return SW_EPARSE;
    }
    const bool empty = gt[-1] == '/';
    const char *tag_end = empty ? gt - 1 : gt;
    const char *v_f = NULL, *v_o = NULL, *v_y = NULL, *v_i = NULL;
    size_t l_f = 0, l_o = 0, l_y = 0, l_i = 0;
    uint64_t key = 0;
    bool def = false, have_key = false;
    for (const char *p = s + 2; p < tag_end;) {
        if (!is_space(*p)) {
            *why = "record: bad start tag";
            return SW_EPARSE;
        }
        while (p < tag_end && is_space(*p)) {
            p++;
        }
        if (p >= tag_end) {
            break;
        }
        /* one-letter attribute names, single-quoted values */
        if (p + 3 > tag_end || p[1] != '=' || p[2] != '\'') {
            *why = "record: attribute not x='...'";
            return SW_EPARSE;
        }
        char name = p[0];
        const char *v = p + 3;
        const char *ve = memchr(v, '\'', (size_t)(tag_end - v));
        if (ve == NULL) {
            *why = "record: unterminated attribute";
            return SW_EPARSE;
        }
        size_t vl = (size_t)(ve - v);
        if (memchr(v, '<', vl) != NULL || memchr(v, '>', vl) != NULL) {
            *why = "record: '<' or '>' in an attribute";
            return SW_EPARSE;
        }
        switch (name) {
        case 'n':
            out->has_n = parse_u64(v, vl, &out->n);
            break;
        case 't':
            out->has_t = parse_u64(v, vl, &out->t);
            break;
        case 'k':
        case 'd':
            if (have_key || !parse_u64(v, vl, &key) || key == 0 || key > LT_REC_KEYS) {
                *why = "record: bad key";
                return SW_EPARSE;
            }
            have_key = true;
            def = name == 'd';
            break;
        case 'f':
            v_f = v, l_f = vl;
            break;
        case 'o':
            v_o = v, l_o = vl;
            break;
        case 'y':
            v_y = v, l_y = vl;
            break;
        case 'i':
            v_i = v, l_i = vl;
            break;
        default:
            *why = "record: unknown attribute";
            return SW_EPARSE;
        }
        p = ve + 1;
    }
    if (!have_key || (def && v_f == NULL) || (!def && (v_f || v_o || v_y))) {
        *why = "record: needs k='K', or d='K' with f='..'";
        return SW_EPARSE;
    }
    const char *text = NULL;
    size_t tl = 0;
    if (!empty) {
        text = gt + 1;
        const char *e = s + n - 4; /* "</m>" */
        if (e < text || e[0] != '<' || e[1] != '/' || e[2] != s[1] || e[3] != '>') {
            *why = "record: no matching end tag";
            return SW_EPARSE;
        }
        tl = (size_t)(e - text);
    }
    if (c->ent == NULL) {
        c->ent = calloc(LT_REC_KEYS + 1, sizeof(*c->ent));
        c->entlen = calloc(LT_REC_KEYS + 1, sizeof(*c->entlen));
        if (c->ent == NULL || c->entlen == NULL) {
            return SW_ENOMEM;
        }
    }
    if (def) {
        size_t el = 7 + l_f + 1 + (v_o ? 5 + l_o + 1 : 0) + (v_y ? 7 + l_y + 1 : 0);
        size_t old = c->ent[key] ? c->entlen[key] : 0;
        if (c->dict_bytes - old + el > LT_REC_DICT_BYTES) {
            *why = "record: too many definitions";
            return SW_EPARSE;
        }
        char *e = malloc(el);
        if (e == NULL) {
            return SW_ENOMEM;
        }
        char *w = e;
        memcpy(w, " from='", 7), w += 7;
        memcpy(w, v_f, l_f), w += l_f;
        *w++ = '\'';
        if (v_o != NULL) {
            memcpy(w, " to='", 5), w += 5;
            memcpy(w, v_o, l_o), w += l_o;
            *w++ = '\'';
        }
        if (v_y != NULL) {
            memcpy(w, " type='", 7), w += 7;
            memcpy(w, v_y, l_y), w += l_y;
            *w++ = '\'';
        }
        free(c->ent[key]);
        c->ent[key] = e;
        c->entlen[key] = (uint32_t)el;
        c->dict_bytes = c->dict_bytes - old + el;
    } else if (c->ent[key] == NULL) {
        *why = "record: undefined key";
        return SW_EPARSE;
    }
    /* <message FROM-TO-TYPE[ id='ID']>[<body>TEXT</body>]</message> */
    const char *kind = msg ? "message" : "presence";
    const char *child = msg ? "body" : "status";
    size_t kl = msg ? 7 : 8, cl = msg ? 4 : 6;
    size_t need =
        1 + kl + c->entlen[key] + (v_i ? 6 + l_i : 0) + 1 + (text ? cl * 2 + 5 + tl : 0) + kl + 3;
    int rc = room(c, need);
    if (rc < 0) {
        return rc;
    }
    char *w = c->scratch;
    *w++ = '<';
    memcpy(w, kind, kl), w += kl;
    memcpy(w, c->ent[key], c->entlen[key]), w += c->entlen[key];
    if (v_i != NULL) {
        memcpy(w, " id='", 5), w += 5;
        memcpy(w, v_i, l_i), w += l_i;
        *w++ = '\'';
    }
    *w++ = '>';
    if (text != NULL) {
        *w++ = '<';
        memcpy(w, child, cl), w += cl;
        *w++ = '>';
        memcpy(w, text, tl), w += tl;
        *w++ = '<', *w++ = '/';
        memcpy(w, child, cl), w += cl;
        *w++ = '>';
    }
    *w++ = '<', *w++ = '/';
    memcpy(w, kind, kl), w += kl;
    *w++ = '>';
    out->stanza = c->scratch;
    out->len = (size_t)(w - c->scratch);
    return 0;
}

int lt_rec_parse(struct lt_rec_conn *c, const char *s, size_t n, struct lt_rec *out,
                 const char **why)
{
    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (n >= 4 && s[0] == '<' &&
        (s[2] == ' ' || s[2] == '>' || s[2] == '/' || s[2] == '\t' || s[2] == '\n' ||
         s[2] == '\r')) {
        if (s[1] == 'w') {
            return rec_w(s, n, out);
        }
        if (s[1] == 'm' || s[1] == 'p') {
            return rec_mp(c, s, n, out, why);
        }
    }
    out->stanza = s; /* a plain stanza */
    out->len = n;
    return 0;
}
