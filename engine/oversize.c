/*
 * oversize.c - a minimal stand-in for a stanza the splitter will not hand to
 * libxml2 (longer than limits.max_stanza_bytes, or nested deeper than
 * SW_SPLIT_HARD_DEPTH), so that it still yields an event (issue 12: limits
 * must not make stanzas invisible; a 255 KB c2s message becomes a 256+ KB
 * mirror copy).
 *
 * Input: the first bytes of the element (its head, up to PL_HEAD_MAX) and its
 * last bytes (its tail). Output: a small well-formed element made of
 *   - the top-level start tag;
 *   - for a mirror copy (a top-level <message> whose first child is
 *     <forwarded>): the <forwarded> start tag, the empty elements before the
 *     wrapped stanza (the mirror's <delay/>) and the wrapped stanza's start
 *     tag; for a carbon likewise through <sent|received>/<forwarded>;
 *   - the recorder's stamp: an empty <delay .../> that is the very last child
 *     of the top-level element, found in the tail;
 *   - the matching end tags.
 * Nothing of the content (bodies, foreign children) is kept: the parser marks
 * the event over-limit and keeps only kind, type, from and to.
 *
 * The scanner knows only start/end/empty tags, quoted attribute values and
 * comments (skipped); CDATA or a PI before the path ends, a start tag cut by
 * the head's end or a path deeper than 4 tags gives up (returns 0: the
 * stanza stays only counted).
 *
 * Threading: pure function on caller memory.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_int.h"

#define OV_PATH 4 /* top-level, [sent|received,] forwarded, stanza */

struct ov_tag {
    const char *p; /* '<' */
    size_t len;    /* through '>' */
    size_t name_len;
    bool empty, end;
};

/* The tag starting at @p ('<') within [p, e): false if cut or not a plain tag. */
static bool ov_tag(const char *p, const char *e, struct ov_tag *t)
{
    const char *q = p + 1;
    if (q >= e || *q == '!' || *q == '?') {
        return false;
    }
    t->p = p;
    t->end = *q == '/';
    if (t->end) {
        q++;
    }
    const char *n = q;
    while (q < e && *q != ' ' && *q != '\t' && *q != '\n' && *q != '\r' && *q != '>' && *q != '/') {
        q++;
    }
    t->name_len = (size_t)(q - n);
    char quote = 0;
    for (; q < e; q++) {
        if (quote != 0) {
            quote = *q == quote ? 0 : quote;
        } else if (*q == '\'' || *q == '"') {
            quote = *q;
        } else if (*q == '>') {
            t->empty = q[-1] == '/';
            t->len = (size_t)(q + 1 - p);
            return t->name_len > 0;
        }
    }
    return false;
}

static const char *ov_name(const struct ov_tag *t)
{
    return t->p + 1 + (t->end ? 1 : 0);
}

static bool ov_is(const struct ov_tag *t, const char *name)
{
    size_t n = strlen(name);
    const char *s = ov_name(t);
    /* local name: after an optional prefix */
    const char *c = memchr(s, ':', t->name_len);
    if (c != NULL) {
        size_t skip = (size_t)(c + 1 - s);
        s += skip;
        return t->name_len - skip == n && memcmp(s, name, n) == 0;
    }
    return t->name_len == n && memcmp(s, name, n) == 0;
}

static bool ov_stanza(const struct ov_tag *t)
{
    return ov_is(t, "message") || ov_is(t, "presence") || ov_is(t, "iq");
}

static void ov_put(char *out, size_t *o, const char *s, size_t n)
{
    memcpy(out + *o, s, n);
    *o += n;
}

/* The recorder's stamp: an empty <delay/> right before the closing tag of the
 * top-level element at the end of @tail. */
static bool ov_last_delay(const char *tail, size_t len, struct ov_tag *d)
{
    const char *e = tail + len;
    while (e > tail && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t')) {
        e--;
    }
    const char *close = NULL;
    for (const char *p = e; p > tail; p--) {
        if (p[-1] == '<') {
            close = p - 1;
            break;
        }
    }
    if (close == NULL || close + 1 >= e || close[1] != '/') {
        return false;
    }
    const char *gt = close;
    while (gt > tail && (gt[-1] == ' ' || gt[-1] == '\n' || gt[-1] == '\r' || gt[-1] == '\t')) {
        gt--;
    }
    if (gt - tail < 3 || gt[-1] != '>' || gt[-2] != '/') {
        return false;
    }
    for (const char *p = gt - 2; p >= tail; p--) {
        if (*p == '<') {
            return ov_tag(p, gt, d) && d->empty && !d->end && ov_is(d, "delay");
        }
        if (*p == '>') {
            return false;
        }
    }
    return false;
}

size_t pl_oversize_stub(const char *head, size_t head_len, const char *tail, size_t tail_len,
                        char *out, size_t cap)
{
    struct ov_tag path[OV_PATH], pre[4], t, dl;
    size_t n_path = 0, n_pre = 0;
    const char *p = head, *e = head + head_len;
    size_t depth = 0;
    bool done = false;
    while (!done) {
        p = memchr(p, '<', (size_t)(e - p));
        if (p != NULL && e - p >= 4 && memcmp(p, "<!--", 4) == 0) {
            const char *c = p + 4;
            for (; c + 3 <= e && memcmp(c, "-->", 3) != 0; c++) {
            }
            if (c + 3 > e) {
                return 0;
            }
            p = c + 3; /* a comment between tags: skipped */
            continue;
        }
        if (p == NULL || !ov_tag(p, e, &t)) {
            return 0;
        }
        if (t.end) {
            return 0; /* the path closed before its stanza: not a wrapper we know */
        }
        if (depth == 0) {
            if (!ov_stanza(&t) || t.empty) {
                return 0;
            }
            path[n_path++] = t;
            depth = 1;
            done = !ov_is(&t, "message");
        } else if (t.empty) {
            /* an empty sibling on the path (a mirror's <delay/>) */
            if (ov_is(&t, "delay") && n_pre < 4) {
                pre[n_pre++] = t;
            } else if (!ov_is(&t, "delay")) {
                done = true; /* some other child: the stanza is the candidate */
            }
        } else if (n_path < OV_PATH &&
                   (ov_is(&t, "forwarded") || ov_is(&t, "sent") || ov_is(&t, "received"))) {
            path[n_path++] = t;
            depth++;
        } else if (n_path < OV_PATH && n_path > 1 && ov_stanza(&t)) {
            path[n_path++] = t; /* the wrapped stanza */
            done = true;
        } else {
            done = true; /* a body or foreign child: the candidate is what we have */
        }
        p += t.len;
    }
    bool have_delay = ov_last_delay(tail, tail_len, &dl);
    size_t need = 0;
    for (size_t i = 0; i < n_path; i++) {
        need += path[i].len + path[i].name_len + 3;
    }
    for (size_t i = 0; i < n_pre; i++) {
        need += pre[i].len;
    }
    need += have_delay ? dl.len : 0;
    if (need + 1 > cap) {
        return 0;
    }
    size_t o = 0;
    for (size_t i = 0; i < n_path; i++) {
        ov_put(out, &o, path[i].p, path[i].len);
        if (i == 0 || ov_is(&path[i], "forwarded")) {
            /* the empty elements seen right inside it (delays) */
            for (size_t j = 0; j < n_pre; j++) {
                if (pre[j].p > path[i].p && (i + 1 == n_path || pre[j].p < path[i + 1].p)) {
                    ov_put(out, &o, pre[j].p, pre[j].len);
                }
            }
        }
    }
    for (size_t i = n_path; i-- > 0;) {
        if (i == 0 && have_delay) {
            ov_put(out, &o, dl.p, dl.len);
        }
        ov_put(out, &o, "</", 2);
        ov_put(out, &o, ov_name(&path[i]), path[i].name_len);
        ov_put(out, &o, ">", 1);
    }
    out[o] = '\0';
    return o;
}
