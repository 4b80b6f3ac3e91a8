/*
 * json.c - the JSON Lines incident output (the output contract of README and
 * issue 2): one object per line per open / update / close of an incident.
 *
 * Design: a tiny streaming writer over a caller's FILE with a private 8 KB
 * buffer, no DOM and no allocation. Keys come in one fixed order so the same
 * incident always gives the same bytes. Strings are escaped per RFC 8259:
 * '"', '\\' and C0 controls (\n, \t, ... or \u00XX), U+2028/U+2029 as \u
 * escapes (safe to embed in JavaScript), and every byte that is not part of a
 * well-formed UTF-8 sequence (overlong forms, surrogates, > U+10FFFF, truncated
 * sequences) becomes U+FFFD written as "\ufffd", one per bad byte. Scores are
 * fixed point (milli) printed with exactly 3 decimals, never via double.
 *
 * Threading: called on the aggregator thread only; the FILE is borrowed.
 */
#include "sw/incident.h"

#include <inttypes.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct jw {
    FILE *fp;
    size_t n;
    int err;
    char b[8192];
};

static void jw_flush(struct jw *w)
{
    if (w->n > 0 && fwrite(w->b, 1, w->n, w->fp) != w->n) {
        w->err = SW_EIO;
    }
    w->n = 0;
}

static void jw_raw_slow(struct jw *w, const char *s, size_t len)
{
    while (len > 0) {
        size_t room = sizeof(w->b) - w->n;
        size_t k = len < room ? len : room;
        memcpy(w->b + w->n, s, k);
        w->n += k;
        s += k;
        len -= k;
        if (w->n == sizeof(w->b)) {
            jw_flush(w);
        }
    }
}

/* Most pieces fit: copy inline (the buffer is flushed when a piece fills it
 * exactly, as before: the bytes written do not depend on it). */
static inline void jw_raw(struct jw *w, const char *s, size_t len)
{
    if (len < sizeof(w->b) - w->n) {
        memcpy(w->b + w->n, s, len);
        w->n += len;
        return;
    }
    jw_raw_slow(w, s, len);
}

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0 if ill-formed
 * (Unicode 15, table 3-7). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0Fu;
        if (c == 0xE0) {
            lo = 0xA0;
        } else if (c == 0xED) {
            hi = 0x9F; /* no surrogates */
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07u;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F;
        }
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        unsigned char t = s[i];
        if (i == 1 ? (t < lo || t > hi) : (t < 0x80 || t > 0xBF)) {
            return 0;
        }
        v = (v << 6) | (t & 0x3Fu);
    }
    *cp = v;
    return len;
}

/* Length of the run of plain printable ASCII (0x20..0x7f but '"' and '\\')
 * at s[0..n): 16 bytes per step with SSE2 (bytes >= 0x80 are negative as
 * signed, so one signed compare with 0x20 catches them and the controls). */
static size_t plain_run(const unsigned char *s, size_t n)
{
    size_t j = 0;
#ifdef __SSE2__
    const __m128i sp = _mm_set1_epi8(0x20), q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
    while (j + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + j));
        __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, sp),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)));
        unsigned m = (unsigned)_mm_movemask_epi8(bad);
        if (m != 0) {
            return j + (size_t)__builtin_ctz(m);
        }
        j += 16;
    }
#endif
    while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' && s[j] != '\\') {
        j++;
    }
    return j;
}

static void jw_str(struct jw *w, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s);
    jw_raw(w, "\"", 1);
    size_t i = 0;
    while (i < n) {
        /* copy the longest run of plain printable ASCII at once */
        size_t j = i + plain_run(s + i, n - i);
        if (j > i) {
            jw_raw(w, (const char *)s + i, j - i);
            i = j;
            continue;
        }
        unsigned char c = s[i];
        if (c == '"') {
            jw_raw(w, "\\\"", 2);
            i++;
        } else if (c == '\\') {
            jw_raw(w, "\\\\", 2);
            i++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n':
                jw_raw(w, "\\n", 2);
                break;
            case '\r':
                jw_raw(w, "\\r", 2);
                break;
            case '\t':
                jw_raw(w, "\\t", 2);
                break;
            case '\b':
                jw_raw(w, "\\b", 2);
                break;
            case '\f':
                jw_raw(w, "\\f", 2);
                break;
            default: {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                jw_raw(w, e, 6);
            }
            }
            i++;
        } else {
            uint32_t cp = 0;
            size_t len = utf8_seq(s + i, n - i, &cp);
            if (len == 0) {
                jw_raw(w, "\\ufffd", 6);
                i++;
            } else if (cp == 0x2028 || cp == 0x2029) {
                jw_raw(w, cp == 0x2028 ? "\\u2028" : "\\u2029", 6);
                i += len;
            } else {
                jw_raw(w, (const char *)s + i, len);
                i += len;
            }
        }
    }
    jw_raw(w, "\"", 1);
}

static void jw_key(struct jw *w, const char *k, int first)
{
    if (!first) {
        jw_raw(w, ",", 1);
    }
    jw_str(w, k);
    jw_raw(w, ":", 1);
}

/* Decimal digits of @v, right-aligned to @end; returns the first one. */
static char *u64_digits(uint64_t v, char *end)
{
    char *p = end;
    do {
        *--p = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    return p;
}

static void jw_i64(struct jw *w, int64_t v)
{
    char t[24];
    uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = u64_digits(a, t + sizeof(t));
    if (v < 0) {
        *--p = '-';
    }
    jw_raw(w, p, (size_t)(t + sizeof(t) - p));
}

static void jw_milli(struct jw *w, int64_t m)
{
    char t[32];
    uint64_t a = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
    unsigned f = (unsigned)(a % 1000u);
    char *end = t + sizeof(t);
    end[-3] = (char)('0' + f / 100u);
    end[-2] = (char)('0' + f / 10u % 10u);
    end[-1] = (char)('0' + f % 10u);
    end[-4] = '.';
    char *p = u64_digits(a / 1000u, end - 4);
    if (m < 0) {
        *--p = '-';
    }
    jw_raw(w, p, (size_t)(end - p));
}

static void jw_time(struct jw *w, int64_t ms)
{
    char t[40];
    sw_fmt_time(ms, t, sizeof(t));
    jw_str(w, t);
}

const char *sw_incident_status_name(unsigned status)
{
    switch (status) {
    case SW_INC_OPEN:
        return "open";
    case SW_INC_UPDATED:
        return "updated";
    case SW_INC_CLOSED:
        return "closed";
    default:
        return "unknown";
    }
}

/* ,"k":value for every key but the first of an object (that one is written
 * with jw_key(w, k, 1) and its value writer). */
static void jw_kstr(struct jw *w, const char *k, const char *v)
{
    jw_key(w, k, 0);
    jw_str(w, v);
}

static void jw_ki64(struct jw *w, const char *k, int64_t v)
{
    jw_key(w, k, 0);
    jw_i64(w, v);
}

static void jw_kmilli(struct jw *w, const char *k, int64_t m)
{
    jw_key(w, k, 0);
    jw_milli(w, m);
}

static void jw_ktime(struct jw *w, const char *k, int64_t ms)
{
    jw_key(w, k, 0);
    jw_time(w, ms);
}

/* The "," before every element of an array but the first. */
static void jw_sep(struct jw *w, uint32_t i)
{
    if (i > 0) {
        jw_raw(w, ",", 1);
    }
}

/* ,"k":["s0","s1",...] with the first n strings of v. */
static void jw_kstrs(struct jw *w, const char *k, const char (*v)[SW_JID_TEXT], uint32_t n)
{
    jw_key(w, k, 0);
    jw_raw(w, "[", 1);
    for (uint32_t i = 0; i < n; i++) {
        jw_sep(w, i);
        jw_str(w, v[i]);
    }
    jw_raw(w, "]", 1);
}

static void write_incident(struct jw *w, const struct sw_incident *inc)
{
    jw_raw(w, "{", 1);
    jw_key(w, "id", 1);
    jw_str(w, inc->id);
    jw_kstr(w, "status", sw_incident_status_name(inc->status));
    jw_ki64(w, "revision", inc->revision);
    jw_kstr(w, "kind", inc->kind);
    jw_kstr(w, "offender", inc->offender);
    jw_kstr(w, "offender_kind", inc->offender_kind == SW_OFFENDER_DOMAIN ? "domain" : "account");
    jw_ktime(w, "detected_at", inc->detected_at);
    jw_ktime(w, "first_seen", inc->first_seen);
    jw_ktime(w, "last_seen", inc->last_seen);
    jw_kmilli(w, "score", inc->score_milli);
    jw_ki64(w, "hits", (int64_t)inc->hits);

    jw_key(w, "detectors", 0);
    jw_raw(w, "[", 1);
    uint32_t nc = inc->n_contrib < SW_INC_MAX_DETECTORS ? inc->n_contrib : SW_INC_MAX_DETECTORS;
    for (uint32_t i = 0; i < nc; i++) {
        const struct sw_incident_contrib *c = &inc->contrib[i];
        jw_sep(w, i);
        jw_raw(w, "{", 1);
        jw_key(w, "symbol", 1);
        jw_str(w, c->symbol);
        jw_kstr(w, "detector", c->detector);
        jw_kmilli(w, "score", c->score_milli);
        jw_ki64(w, "hits", c->hits);
        jw_key(w, "values", 0);
        jw_raw(w, "{", 1);
        uint32_t nv = c->n_values < SW_HIT_MAX_VALUES ? c->n_values : SW_HIT_MAX_VALUES;
        for (uint32_t v = 0; v < nv; v++) {
            jw_key(w, c->values[v].name ? c->values[v].name : "", v == 0);
            jw_i64(w, c->values[v].value);
        }
        jw_raw(w, "}}", 2);
    }
    jw_raw(w, "]", 1);

    jw_key(w, "evidence", 0);
    jw_raw(w, "{", 1);
    jw_key(w, "samples", 1);
    jw_raw(w, "[", 1);
    uint32_t ne = inc->n_evidence < SW_INC_MAX_EVIDENCE ? inc->n_evidence : SW_INC_MAX_EVIDENCE;
    for (uint32_t i = 0; i < ne; i++) {
        const struct sw_incident_evidence *e = &inc->evidence[i];
        jw_sep(w, i);
        jw_raw(w, "{", 1);
        jw_key(w, "stanza_id", 1);
        jw_str(w, e->stanza_id);
        jw_ktime(w, "time", e->t_ms);
        jw_kstr(w, "room", e->room);
        jw_kstr(w, "target", e->target);
        jw_kstr(w, "body", e->body);
        jw_raw(w, "}", 1);
    }
    jw_raw(w, "]", 1);
    uint32_t nr = inc->n_rooms < SW_INC_MAX_TARGETS ? inc->n_rooms : SW_INC_MAX_TARGETS;
    jw_kstrs(w, "rooms", inc->rooms, nr);
    jw_ki64(w, "rooms_total", inc->n_rooms);
    uint32_t nt = inc->n_targets < SW_INC_MAX_TARGETS ? inc->n_targets : SW_INC_MAX_TARGETS;
    jw_kstrs(w, "targets", inc->targets, nt);
    jw_ki64(w, "targets_total", inc->n_targets);
    jw_raw(w, "}}\n", 3);
}

int sw_incident_write_json(FILE *fp, const struct sw_incident *inc)
{
    if (fp == NULL || inc == NULL) {
        return SW_EINVAL;
    }
    struct jw w;
    w.fp = fp;
    w.n = 0;
    w.err = 0;
    write_incident(&w, inc);
    jw_flush(&w);
    return w.err;
}

static int json_incident(void *ctx, const struct sw_incident *inc)
{
    return sw_incident_write_json((FILE *)ctx, inc);
}

static int json_close(void *ctx)
{
    return fflush((FILE *)ctx) == 0 ? 0 : SW_EIO;
}

int sw_output_json_init(struct sw_output_ops *o, FILE *fp)
{
    if (o == NULL || fp == NULL) {
        return SW_EINVAL;
    }
    o->name = "json";
    o->incident = json_incident;
    o->reload = NULL;
    o->close = json_close;
    o->ctx = fp;
    return 0;
}
