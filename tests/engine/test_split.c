/*
 * test_split.c - sw_split: stream header / stanza / close boundaries, lines,
 * identical callbacks for whole, byte-by-byte and random splits, junk and
 * limits.
 */
#include "sw/xml.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the previous scanner (engine/split.c at 3729fd1), renamed, for the differential test ---- */
#define sw_split ref_split
#define sw_split_new ref_split_new
#define sw_split_feed ref_split_feed
#define sw_split_finish ref_split_finish
#define sw_split_position ref_split_position
#define sw_split_stats ref_split_stats
#define sw_split_free ref_split_free
#define sw_split_count_nl ref_split_count_nl
struct ref_split;
int ref_split_new(const struct sw_xml_limits *lim, const struct sw_split_cb *cb,
                  struct ref_split **out);
int ref_split_feed(struct ref_split *s, const char *buf, size_t len, struct sw_errbuf *eb);
int ref_split_finish(struct ref_split *s, struct sw_errbuf *eb);
void ref_split_position(const struct ref_split *s, uint32_t *line, uint32_t *col);
void ref_split_stats(const struct ref_split *s, uint64_t *skipped_oversize,
                     uint64_t *skipped_depth);
void ref_split_free(struct ref_split *s);
uint64_t ref_split_count_nl(const char *p, size_t len);
#include "split_ref.inc"
#undef sw_split
#undef sw_split_new
#undef sw_split_feed
#undef sw_split_finish
#undef sw_split_position
#undef sw_split_stats
#undef sw_split_free
#undef sw_split_count_nl

#include <cmocka.h>

#include "../support/capture.h"
#include "../../engine/xml_int.h" /* sw_split_force_sse2() */

/* ---- recorder: every callback appended as one text line ---- */

struct rec {
    char *log;
    size_t len, cap;
    int rc_feed, rc_finish;
    char err[512];
    uint64_t oversize, depth;
};

__attribute__((format(printf, 2, 3))) static void rec_printf(struct rec *r, const char *fmt, ...)
{
    va_list ap;
    char line[256];
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(line));
    if (r->len + (size_t)n + 1 > r->cap) {
        r->cap = (r->cap + (size_t)n + 1) * 2;
        r->log = realloc(r->log, r->cap);
        assert_non_null(r->log);
    }
    memcpy(r->log + r->len, line, (size_t)n + 1);
    r->len += (size_t)n;
}

static void on_header(void *ud, uint64_t s, uint64_t e)
{
    rec_printf(ud, "H %llu %llu\n", (unsigned long long)s, (unsigned long long)e);
}

static void on_stanza(void *ud, uint64_t s, uint64_t e, uint32_t line)
{
    rec_printf(ud, "S %llu %llu %u\n", (unsigned long long)s, (unsigned long long)e, line);
}

static void on_close(void *ud, uint64_t s, uint64_t e)
{
    rec_printf(ud, "C %llu %llu\n", (unsigned long long)s, (unsigned long long)e);
}

static void on_junk(void *ud, uint64_t s, uint64_t e, uint32_t line, uint32_t col,
                    const char *reason)
{
    rec_printf(ud, "J %llu %llu %u:%u %s\n", (unsigned long long)s, (unsigned long long)e, line,
               col, reason);
}

/* run() sets the junk() callback (test_junk_skip) */
static int use_junk_cb;

/* split: 0 whole, 1 byte by byte, >1 random pieces with that seed */
static void run(struct rec *r, const struct sw_xml_limits *lim, const char *data, size_t len,
                unsigned split)
{
    struct sw_split_cb cb = {on_header, on_stanza, on_close, r, NULL, use_junk_cb ? on_junk : NULL};
    struct sw_split *s = NULL;
    struct sw_errbuf eb = {{0}};
    memset(r, 0, sizeof(*r));
    rec_printf(r, "%s", "");
    assert_int_equal(sw_split_new(lim, &cb, &s), 0);
    size_t off = 0;
    unsigned seed = split;
    while (off < len && r->rc_feed == 0) {
        size_t n = len - off;
        if (split == 1) {
            n = 1;
        } else if (split > 1) {
            seed = seed * 1103515245u + 12345u;
            size_t m = 1 + (seed >> 8) % 97;
            n = m < n ? m : n;
        }
        r->rc_feed = sw_split_feed(s, data + off, n, &eb);
        off += n;
    }
    if (r->rc_feed == 0) {
        r->rc_finish = sw_split_finish(s, &eb);
    }
    if (r->rc_feed != 0 || r->rc_finish != 0) {
        snprintf(r->err, sizeof(r->err), "%s", eb.msg);
    }
    sw_split_stats(s, &r->oversize, &r->depth);
    sw_split_free(s);
}

/* The same result for whole, byte-by-byte and 20 random splits; returns whole. */
static void run_all(struct rec *whole, const struct sw_xml_limits *lim, const char *data,
                    size_t len)
{
    run(whole, lim, data, len, 0);
    for (unsigned split = 1; split < 22; split++) {
        struct rec o;
        run(&o, lim, data, len, split);
        assert_string_equal(o.log, whole->log);
        assert_int_equal(o.rc_feed, whole->rc_feed);
        assert_int_equal(o.rc_finish, whole->rc_finish);
        assert_string_equal(o.err, whole->err);
        assert_int_equal(o.oversize, whole->oversize);
        assert_int_equal(o.depth, whole->depth);
        free(o.log);
    }
}

/* Parse "S start end line" lines of a log into arrays. */
static int stanzas(const struct rec *r, uint64_t *st, uint64_t *en, uint32_t *ln, int max)
{
    int n = 0;
    for (const char *p = r->log; (p = strstr(p, "S ")) != NULL && n < max; p++) {
        if (p != r->log && p[-1] != '\n') {
            continue;
        }
        unsigned long long a, b;
        unsigned l;
        assert_int_equal(sscanf(p, "S %llu %llu %u", &a, &b, &l), 3);
        st[n] = a;
        en[n] = b;
        ln[n] = l;
        n++;
    }
    return n;
}

static void test_fixture_mirror(void **state)
{
    (void)state;
    size_t len;
    char *d = sw_test_load_capture("mirror.xml", &len);
    struct rec r;
    run_all(&r, NULL, d, len);
    assert_int_equal(r.rc_feed, 0);
    assert_int_equal(r.rc_finish, 0);
    /* header = <?xml?> through the stream start tag */
    unsigned long long hs, he;
    assert_int_equal(sscanf(r.log, "H %llu %llu", &hs, &he), 2);
    assert_int_equal(hs, 0);
    assert_int_equal(d[he - 1], '>');
    assert_memory_equal(d + he - 12, "id='abc123'>", 12);
    uint64_t st[16], en[16];
    uint32_t ln[16];
    assert_int_equal(stanzas(&r, st, en, ln, 16), 5);
    const uint32_t lines[5] = {13, 14, 22, 24, 31};
    const char *starts[5] = {
        "<message to=", "<message to=", "<message to=", "<message from=", "<iq "};
    const char *ends[5] = {"</message>", "</message>", "</message>", "</message>", "</iq>"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ln[i], lines[i]);
        assert_memory_equal(d + st[i], starts[i], strlen(starts[i]));
        assert_memory_equal(d + en[i] - strlen(ends[i]), ends[i], strlen(ends[i]));
    }
    const char *cl = strstr(r.log, "C ");
    assert_non_null(cl);
    unsigned long long cs, ce;
    assert_int_equal(sscanf(cl, "C %llu %llu", &cs, &ce), 2);
    assert_memory_equal(d + cs, "</stream:stream>", 16);
    assert_int_equal(ce, cs + 16);
    free(r.log);
    free(d);
}

/* Markup that only a real nesting scanner gets right. */
static void test_tricky_markup(void **state)
{
    (void)state;
    static const char d[] =
        "  <?xml version='1.0' encoding='UTF-8'?>\n"
        "<!-- a comment before the header with <tags> and -- dashes -->\n"
        "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'\n"
        "   version=\"1.0\">\n"
        "<message a='x>y' b=\"it's > here\" c='/'><body>1 > 0 &amp; a/b</body></message>\n"
        "<!-- between stanzas: <message> -->\n"
        "<presence/>\n"
        "<message><body><![CDATA[</message> ]] ]> <x>]]></body><?pi </message> ?></message>\n"
        "<iq><x><x><x/></x></x><!-- </iq> --></iq>\n"
        "<?pi at top level?>  <message\n to='a'\n/><message/>\n"
        "</stream:stream>\n"
        "<!-- trailing comment -->\n";
    struct rec r;
    run_all(&r, NULL, d, sizeof(d) - 1);
    assert_int_equal(r.rc_feed, 0);
    assert_int_equal(r.rc_finish, 0);
    uint64_t st[16], en[16];
    uint32_t ln[16];
    int n = stanzas(&r, st, en, ln, 16);
    assert_int_equal(n, 6);
    const char *want[6] = {
        "<message a='x>y' b=\"it's > here\" c='/'><body>1 > 0 &amp; a/b</body></message>",
        "<presence/>",
        "<message><body><![CDATA[</message> ]] ]> <x>]]></body><?pi </message> ?></message>",
        "<iq><x><x><x/></x></x><!-- </iq> --></iq>",
        "<message\n to='a'\n/>",
        "<message/>"};
    const uint32_t lines[6] = {5, 7, 8, 9, 10, 12};
    for (int i = 0; i < n; i++) {
        assert_int_equal(en[i] - st[i], strlen(want[i]));
        assert_memory_equal(d + st[i], want[i], strlen(want[i]));
        assert_int_equal(ln[i], lines[i]);
    }
    /* header starts at the XML declaration, after the leading spaces */
    assert_non_null(strstr(r.log, "H 2 "));
    free(r.log);
}

struct junk_case {
    const char *in;
    const char *err; /* expected "line:col: reason" prefix */
};

static void test_junk(void **state)
{
    (void)state;
    static const struct junk_case cases[] = {
        {"<stream:stream>\n<message/>\nhello <message/>", "3:1: text at the top level"},
        {"hello", "1:1: text before the stream header"},
        {"<?xml version='1.0'?>\n<message/>",
         "2:1: expected <stream:stream> header, got <message>"},
        {"<stream:stream>\n</message>", "2:1: unbalanced close tag </message>"},
        {"<stream:stream>\n<a></a></b></stream:stream>", "2:8: unbalanced close tag </b>"},
        {"<!DOCTYPE lol [<!ENTITY a 'b'>]><stream:stream>", "1:1: DTD not allowed"},
        {"<stream:stream></stream:stream>\n<message/>", "2:1: element after the stream close"},
        {"<stream:stream></stream:stream>x", "1:32: data after the stream close"},
        {"<stream:stream>\n  <![CDATA[x]]>", "2:3: CDATA at the top level"},
        {"<stream:stream/>", "1:1: empty stream element <stream:stream>"},
        {"", "1:1: no stream header"},
        {"<stream:stream>\n<message><body>hi", "2:18: truncated stanza at end of input"},
        {"<stream:stream><message to='a", "1:30: truncated stanza at end of input"},
        {"<stream:stream><!-- open", "1:25: truncated markup at end of input"},
        {"\xef\xbb<stream:stream>", "1:3: incomplete byte order mark"},
        {"\xbb\xbf<stream:stream>", "1:1: text before the stream header"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rec r;
        run_all(&r, NULL, cases[i].in, strlen(cases[i].in));
        assert_true(r.rc_feed == SW_EPARSE || r.rc_finish == SW_EPARSE);
        if (strncmp(r.err, cases[i].err, strlen(cases[i].err)) != 0) {
            fail_msg("case %zu: got '%s', want '%s'", i, r.err, cases[i].err);
        }
        free(r.log);
    }
}

/* With the junk() callback, junk between stanzas is reported as a range up to
 * the next top-level '<' (or the end) and scanning goes on; identical for
 * every split of the input. Junk that is not between stanzas of an open
 * stream stays an error. */
static void test_junk_skip(void **state)
{
    (void)state;
    static const struct junk_case cases[] = {
        {"<stream:stream>\n<m/>\nhello > & <m/>\n<m/>",
         "H 0 15\nS 16 20 2\nJ 21 31 3:1 text at the top level of the stream\nS 31 35 3\n"
         "S 36 40 4\n"},
        {"<stream:stream>\n<m/></x>\n<m/>",
         "H 0 15\nS 16 20 2\nJ 20 24 2:5 unbalanced close tag\nS 25 29 3\n"},
        {"<stream:stream>\n<![CDATA[x<y]]><m/>",
         "H 0 15\nJ 16 31 2:1 CDATA at the top level\nS 31 35 2\n"},
        {"<stream:stream>\n<!x>\n<!-- ok --><m/>",
         "H 0 15\nJ 16 21 2:1 bad markup after '<!'\nS 32 36 3\n"},
        {"<stream:stream>\n<m/>\ntail text", "H 0 15\nS 16 20 2\nJ 21 30 3:1 text at the "
                                             "top level of the stream\n"},
        {"<stream:stream>\n<!-D><m/>", "H 0 15\nJ 16 21 2:1 bad markup after '<!'\nS 21 25 2\n"},
        {"<stream:stream>\n<![CDx<m/>", "H 0 15\nJ 16 22 2:1 bad CDATA start\nS 22 26 2\n"},
        {"<stream:stream>x</stream:stream>",
         "H 0 15\nJ 15 16 1:16 text at the top level of the stream\nC 16 32\n"},
    };
    use_junk_cb = 1;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rec r;
        run_all(&r, NULL, cases[i].in, strlen(cases[i].in));
        if (r.rc_feed != 0 || r.rc_finish != 0 || strcmp(r.log, cases[i].err) != 0) {
            fail_msg("case %zu: rc %d/%d '%s', log '%s', want '%s'", i, r.rc_feed, r.rc_finish,
                     r.err, r.log, cases[i].err);
        }
        free(r.log);
    }
    /* still errors: before the header, after the close, a DOCTYPE */
    static const struct junk_case bad[] = {
        {"hello<stream:stream>", "1:1: text before the stream header"},
        {"<stream:stream></stream:stream>x", "1:32: data after the stream close"},
        {"<stream:stream>\n<!DOCTYPE x>", "2:1: DTD not allowed"},
        {"<stream:stream></stream:stream></x>", "1:32: unbalanced close tag </x>"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rec r;
        run_all(&r, NULL, bad[i].in, strlen(bad[i].in));
        assert_true(r.rc_feed == SW_EPARSE || r.rc_finish == SW_EPARSE);
        if (strncmp(r.err, bad[i].err, strlen(bad[i].err)) != 0) {
            fail_msg("bad case %zu: got '%s', want '%s'", i, r.err, bad[i].err);
        }
        free(r.log);
    }
    use_junk_cb = 0;
}

static void test_missing_close_ok(void **state)
{
    (void)state;
    /* a UTF-8 BOM before the header is skipped, also when cut */
    static const char bom[] = "\xef\xbb\xbf<stream:stream>\n<message/>";
    struct rec rb;
    run_all(&rb, NULL, bom, sizeof(bom) - 1);
    assert_int_equal(rb.rc_finish, 0);
    assert_string_equal(rb.log, "H 3 18\nS 19 29 2\n");
    free(rb.log);
    static const char d[] = "<stream:stream xmlns='jabber:server'>\n<message/>\n<presence/>\n";
    struct rec r;
    run_all(&r, NULL, d, sizeof(d) - 1);
    assert_int_equal(r.rc_feed, 0);
    assert_int_equal(r.rc_finish, 0);
    assert_string_equal(r.log, "H 0 37\nS 38 48 2\nS 49 60 3\n");
    free(r.log);
}

static char *build(const char *head, const char *unit, size_t reps, const char *mid,
                   const char *unit2, size_t reps2, const char *tail, size_t *len)
{
    size_t n =
        strlen(head) + strlen(unit) * reps + strlen(mid) + strlen(unit2) * reps2 + strlen(tail);
    char *b = malloc(n + 1);
    assert_non_null(b);
    char *p = b;
    p = stpcpy(p, head);
    for (size_t i = 0; i < reps; i++) {
        p = stpcpy(p, unit);
    }
    p = stpcpy(p, mid);
    for (size_t i = 0; i < reps2; i++) {
        p = stpcpy(p, unit2);
    }
    p = stpcpy(p, tail);
    *len = (size_t)(p - b);
    return b;
}

static void feed_chunks(struct sw_split *s, const char *d, size_t len, size_t chunk)
{
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        assert_int_equal(sw_split_feed(s, d + off, n, NULL), 0);
    }
    assert_int_equal(sw_split_finish(s, NULL), 0);
}

static void test_limits(void **state)
{
    (void)state;
    struct sw_xml_limits lim = {.max_depth = 4, .max_stanza_bytes = 64};
    static const char d[] = "<stream:stream>"
                            "<a><b><c><d/></c></b></a>"        /* depth 4: ok */
                            "<a><b><c><d><e/></d></c></b></a>" /* depth 5: skipped */
                            "<m>012345678901234567890123456789012345678901234567890123456</m>"
                            "<m>0123456789012345678901234567890123456789012345678901234567</m>"
                            "<a><b><c><d></d></c></b></a>"
                            "</stream:stream>";
    struct rec r;
    run_all(&r, &lim, d, sizeof(d) - 1);
    assert_int_equal(r.rc_finish, 0);
    assert_int_equal(r.depth, 1);
    assert_int_equal(r.oversize, 1);
    uint64_t st[8], en[8];
    uint32_t ln[8];
    assert_int_equal(stanzas(&r, st, en, ln, 8), 3);
    assert_int_equal(en[1] - st[1], 64); /* exactly at the limit: kept */
    free(r.log);
}

/* 10k-deep nesting and a 10 MB attribute: counted and skipped, with the
 * scanner's fixed state (fed in 64 KiB chunks as a tap would). */
static void test_hostile_sizes(void **state)
{
    (void)state;
    struct rec r;
    memset(&r, 0, sizeof(r));
    rec_printf(&r, "%s", "");
    struct sw_split_cb cb = {on_header, on_stanza, on_close, &r, NULL, NULL};
    struct sw_split *s;
    size_t len;
    char *d =
        build("<stream:stream>", "<x>", 10000, "", "</x>", 10000, "<ok/></stream:stream>", &len);
    assert_int_equal(sw_split_new(NULL, &cb, &s), 0);
    feed_chunks(s, d, len, 65536);
    uint64_t over, deep;
    sw_split_stats(s, &over, &deep);
    assert_int_equal(deep, 1);
    assert_int_equal(over, 0);
    assert_non_null(strstr(r.log, "S "));
    sw_split_free(s);
    free(d);

    r.len = 0;
    d = build("<stream:stream><message to='", "0123456789", 1024 * 1024, "'>", "", 0,
              "</message><ok/>", &len);
    assert_int_equal(sw_split_new(NULL, &cb, &s), 0);
    feed_chunks(s, d, len, 65536);
    sw_split_stats(s, &over, &deep);
    assert_int_equal(over, 1);
    assert_int_equal(deep, 0);
    assert_string_equal(r.log, "H 0 15\nS 10485800 10485805 1\n");
    sw_split_free(s);
    free(d);
    free(r.log);
}

static void test_random_junk(void **state)
{
    (void)state;
    /* Random bytes biased towards markup: never crashes, splits still agree. */
    static const char alpha[] = "<>/'\"!?-[]CDATA =xm\n";
    char buf[400];
    unsigned seed = 7;
    for (int iter = 0; iter < 200; iter++) {
        size_t n = strlen("<stream:stream>");
        memcpy(buf, "<stream:stream>", n);
        for (; n < sizeof(buf) - 1; n++) {
            seed = seed * 1103515245u + 12345u;
            buf[n] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
        }
        buf[n] = '\0';
        struct rec r;
        run_all(&r, NULL, buf, n);
        free(r.log);
    }
}

static void test_count_nl(void **state)
{
    (void)state;
    char buf[300];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (char)(i % 7 == 0 ? '\n' : (i % 5 == 0 ? '\x8a' : 'a' + (char)(i % 26)));
    }
    /* compare the split line numbers with a naive count at every prefix length */
    for (size_t len = 0; len <= sizeof(buf); len += 13) {
        struct sw_split_cb cb = {0};
        struct sw_split *s;
        uint32_t line, col;
        uint64_t want = 0;
        for (size_t i = 0; i < len; i++) {
            want += buf[i] == '\n';
        }
        assert_int_equal(sw_split_new(NULL, &cb, &s), 0);
        assert_int_equal(sw_split_feed(s, "<stream:stream><m>", 18, NULL), 0);
        assert_int_equal(sw_split_feed(s, buf, len, NULL), 0);
        sw_split_position(s, &line, &col);
        assert_int_equal(line, want + 1);
        sw_split_free(s);
    }
}

/* ---- differential test against the previous scanner ---- */

static unsigned drand(unsigned *seed, unsigned n)
{
    *seed = *seed * 1103515245u + 12345u;
    return ((*seed >> 8) & 0xffffffu) % n;
}

struct gbuf {
    char *p;
    size_t len, cap;
};

static void gput(struct gbuf *g, const char *s, size_t n)
{
    if (g->len + n + 1 > g->cap) {
        g->cap = (g->len + n + 1) * 2;
        g->p = realloc(g->p, g->cap);
        assert_non_null(g->p);
    }
    memcpy(g->p + g->len, s, n);
    g->len += n;
    g->p[g->len] = '\0';
}

static void gstr(struct gbuf *g, const char *s)
{
    gput(g, s, strlen(s));
}

static void gen_text(struct gbuf *g, unsigned *seed, unsigned max)
{
    static const char *const bits[] = {"hello", " ", "\n", "&amp;",    "x",      "'",
                                       "\"",    "/", ">",  "\xc3\xa9", "wo rld", "\r\n",
                                       "\t",    "-", "]",  "?"};
    unsigned n = drand(seed, max + 1);
    for (unsigned i = 0; i < n; i++) {
        gstr(g, bits[drand(seed, sizeof(bits) / sizeof(bits[0]))]);
    }
}

static void gen_attrs(struct gbuf *g, unsigned *seed)
{
    static const char *const vals[] = {"a",    "x>y",        "a/", "/",
                                       "it's", "say \"hi\"", "",   "room@muc.example.org/nick",
                                       "a\nb", "<>",         "--", "]]>"};
    unsigned n = drand(seed, 4);
    for (unsigned i = 0; i < n; i++) {
        gstr(g, drand(seed, 4) == 0 ? "\n  " : " ");
        gstr(g, i == 0 ? "to" : i == 1 ? "from" : i == 2 ? "xmlns" : "id");
        gstr(g, drand(seed, 5) == 0 ? " = " : "=");
        const char *v = vals[drand(seed, sizeof(vals) / sizeof(vals[0]))];
        char q = strchr(v, '"') != NULL    ? '\''
                 : strchr(v, '\'') != NULL ? '"'
                 : drand(seed, 3) == 0     ? '\''
                                           : '"';
        gput(g, &q, 1);
        gstr(g, v);
        gput(g, &q, 1);
    }
    if (drand(seed, 6) == 0) {
        gstr(g, " ");
    }
}

static void gen_elem(struct gbuf *g, unsigned *seed, unsigned depth)
{
    static const char *const names[] = {"message",   "body",     "x",     "item",
                                        "delay",     "presence", "iq",    "query",
                                        "forwarded", "a:b",      "status"};
    const char *name = names[drand(seed, sizeof(names) / sizeof(names[0]))];
    gstr(g, "<");
    gstr(g, name);
    gen_attrs(g, seed);
    if (drand(seed, 4) == 0) {
        gstr(g, drand(seed, 3) == 0 ? " />" : "/>");
        return;
    }
    gstr(g, ">");
    unsigned kids = depth < 6 ? drand(seed, 5) : 0;
    for (unsigned i = 0; i < kids; i++) {
        switch (drand(seed, 12)) {
        case 0:
            gstr(g, "<!-- c -- ->");
            gen_text(g, seed, 2);
            gstr(g, " -->");
            break;
        case 1:
            gstr(g, "<![CDATA[");
            gen_text(g, seed, 4);
            gstr(g, "]]]>");
            gen_text(g, seed, 2);
            gstr(g, "]]>");
            break;
        case 2:
            gstr(g, "<?pi x?y ?>");
            break;
        case 3:
        case 4:
        case 5:
            gen_text(g, seed, 40);
            break;
        default:
            gen_elem(g, seed, depth + 1);
            break;
        }
    }
    gstr(g, "</");
    gstr(g, name);
    gstr(g, drand(seed, 5) == 0 ? " >" : ">");
}

/* Put @mutations pieces of @junk at random places of @g (overwriting or
 * inserting). */
static void gen_mutate(struct gbuf *g, unsigned *seed, const char *const *junk, size_t njunk,
                       unsigned mutations)
{
    for (unsigned i = 0; i < mutations && g->len > 0; i++) {
        size_t at = drand(seed, (unsigned)g->len);
        const char *j = junk[drand(seed, (unsigned)njunk)];
        size_t n = strlen(j);
        if (drand(seed, 2) == 0 && at + n <= g->len) {
            memcpy(g->p + at, j, n); /* overwrite */
        } else {
            gput(g, j, n); /* grow, then shift the tail right */
            memmove(g->p + at + n, g->p + at, g->len - n - at);
            memcpy(g->p + at, j, n);
        }
    }
}

/* A stream of XMPP-like stanzas, optionally with a few bytes mutated. */
static void gen_capture(struct gbuf *g, unsigned seed, unsigned stanzas, unsigned mutations)
{
    g->len = 0;
    if (seed % 3 == 0) {
        gstr(g, "\xef\xbb\xbf");
    }
    gstr(g, "<?xml version='1.0'?>\n<stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' to='example.org'>\n");
    for (unsigned i = 0; i < stanzas; i++) {
        switch (drand(&seed, 16)) {
        case 0:
            gstr(g, "<!-- top --> ");
            break;
        case 1:
            gstr(g, "<?pi top?>");
            break;
        case 2:
            gstr(g, " \t\r\n");
            break;
        default:
            break;
        }
        gen_elem(g, &seed, 0);
        gstr(g, drand(&seed, 3) == 0 ? "" : "\n");
    }
    if (drand(&seed, 2) == 0) {
        gstr(g, "</stream:stream>\n");
    }
    static const char *const junk[] = {"<",
                                       ">",
                                       "'",
                                       "\"",
                                       "</",
                                       "<!",
                                       "<?",
                                       "/>",
                                       "x",
                                       "\n",
                                       "<!D",
                                       "<![CDATA[",
                                       "</stream:stream>",
                                       "<a>"};
    gen_mutate(g, &seed, junk, sizeof(junk) / sizeof(junk[0]), mutations);
}

/* One run of scanner PFX over data in pieces from @seed: the callback log, then
 * "F i rc line:col" after each feed, then finish, error and stats. */
#define DIFF_RUNNER(NAME, PFX)                                                                     \
    static void NAME(struct rec *r, const struct sw_xml_limits *lim, const char *data, size_t len, \
                     unsigned seed, unsigned maxpiece)                                             \
    {                                                                                              \
        struct sw_split_cb cb = {on_header, on_stanza, on_close, r, NULL, NULL};                   \
        struct PFX *s = NULL;                                                                      \
        struct sw_errbuf eb = {{0}};                                                               \
        memset(r, 0, sizeof(*r));                                                                  \
        rec_printf(r, "%s", "");                                                                   \
        assert_int_equal(PFX##_new(lim, &cb, &s), 0);                                              \
        size_t off = 0;                                                                            \
        unsigned i = 0;                                                                            \
        while (off < len && r->rc_feed == 0) {                                                     \
            size_t n = len - off;                                                                  \
            size_t m = maxpiece == 0 ? n : 1 + drand(&seed, maxpiece);                             \
            n = m < n ? m : n;                                                                     \
            uint32_t line, col;                                                                    \
            r->rc_feed = PFX##_feed(s, data + off, n, &eb);                                        \
            PFX##_position(s, &line, &col);                                                        \
            rec_printf(r, "F %u %d %u:%u\n", i++, r->rc_feed, line, col);                          \
            off += n;                                                                              \
        }                                                                                          \
        if (r->rc_feed == 0) {                                                                     \
            r->rc_finish = PFX##_finish(s, &eb);                                                   \
        }                                                                                          \
        if (r->rc_feed != 0 || r->rc_finish != 0) {                                                \
            snprintf(r->err, sizeof(r->err), "%s", eb.msg);                                        \
        }                                                                                          \
        PFX##_stats(s, &r->oversize, &r->depth);                                                   \
        PFX##_free(s);                                                                             \
    }
DIFF_RUNNER(diff_run_new, sw_split)
DIFF_RUNNER(diff_run_ref, ref_split)

static void diff_check(const struct sw_xml_limits *lim, const char *data, size_t len, unsigned seed,
                       unsigned maxpiece)
{
    struct rec a, b;
    diff_run_new(&a, lim, data, len, seed, maxpiece);
    diff_run_ref(&b, lim, data, len, seed, maxpiece);
    if (strcmp(a.log, b.log) != 0 || strcmp(a.err, b.err) != 0) {
        print_message("input %zu bytes, pieces %u, seed %u: new \"%s\", old \"%s\"\n", len,
                      maxpiece, seed, a.err, b.err);
    }
    assert_string_equal(a.log, b.log);
    assert_int_equal(a.rc_feed, b.rc_feed);
    assert_int_equal(a.rc_finish, b.rc_finish);
    assert_string_equal(a.err, b.err);
    assert_int_equal(a.oversize, b.oversize);
    assert_int_equal(a.depth, b.depth);
    free(a.log);
    free(b.log);
}

static void diff_all(const struct sw_xml_limits *lim, const char *data, size_t len, unsigned seed)
{
    static const unsigned pieces[] = {0, 1, 7, 97, 200, 700, 5000, 70000};
    for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
        if (pieces[k] == 1 && len > 20000) {
            continue; /* byte by byte only on the small inputs (runtime) */
        }
        diff_check(lim, data, len, seed + (unsigned)k, pieces[k]);
    }
}

static void test_diff_generated(void **state)
{
    (void)state;
    struct gbuf g = {0};
    struct sw_xml_limits small = {0};
    small.max_depth = 3;
    small.max_stanza_bytes = 300;
    unsigned checked = 0, failed = 0;
    for (unsigned seed = 1; seed <= 300; seed++) {
        unsigned stanzas = seed % 10 == 0 ? 400 : 1 + seed % 40;
        unsigned mutations = seed % 2 == 0 ? 0 : 1 + seed % 4;
        gen_capture(&g, seed, stanzas, mutations);
        diff_all(seed % 4 == 1 ? &small : NULL, g.p, g.len, seed * 7u);
        struct rec r;
        diff_run_new(&r, NULL, g.p, g.len, 0, 0);
        failed += r.rc_feed != 0 || r.rc_finish != 0;
        free(r.log);
        checked++;
    }
    /* both clean streams and broken ones were compared */
    assert_true(failed > 20 && failed < checked - 20);
    free(g.p);
}

/* Stanzas shaped like a capture's (one quote kind per tag, no comments), so
 * fast_scan()'s window walk takes most windows whole; some bytes mutated,
 * some stanzas in the other quote kind or with markup the walk leaves to the
 * per-byte code. */
static void gen_plain(struct gbuf *g, unsigned seed, unsigned stanzas, unsigned mutations)
{
    static const char *const bodies[] = {
        "hi", "it's > that", "a \"b\" c",   "x/y",   "?!",
        "",   "a\nb",        "<b>bold</b>", "&amp;", "0123456789abcdef"};
    g->len = 0;
    gstr(g, "<stream:stream xmlns='jabber:server' "
            "xmlns:stream='http://etherx.jabber.org/streams'>\n");
    for (unsigned i = 0; i < stanzas; i++) {
        const char *q = drand(&seed, 8) == 0 ? "\"" : "'";
        unsigned shape = drand(&seed, 6);
        char id[32];
        snprintf(id, sizeof(id), "%u", drand(&seed, 100000));
        if (shape == 0) {
            gstr(g, "<presence from=");
            gstr(g, q);
            gstr(g, "a@b.test/r");
            gstr(g, q);
            gstr(g, drand(&seed, 2) ? "/>" : " />");
        } else {
            gstr(g, shape == 1 ? "<iq" : "<message");
            gstr(g, " from=");
            gstr(g, q);
            gstr(g, "room@muc.test/nick");
            gstr(g, q);
            gstr(g, " id=");
            gstr(g, q);
            gstr(g, id);
            gstr(g, q);
            gstr(g, ">");
            unsigned kids = 1 + drand(&seed, 4);
            for (unsigned k = 0; k < kids; k++) {
                switch (drand(&seed, 5)) {
                case 0:
                    gstr(g, "<delay xmlns=");
                    gstr(g, q);
                    gstr(g, "urn:xmpp:delay");
                    gstr(g, q);
                    gstr(g, " stamp=");
                    gstr(g, q);
                    gstr(g, "2026-01-05T12:00:00Z");
                    gstr(g, q);
                    gstr(g, "/>");
                    break;
                case 1:
                    gstr(g, "<forwarded xmlns='urn:xmpp:forward:0'><message to='x'><body>");
                    gstr(g, bodies[drand(&seed, 10)]);
                    gstr(g, "</body></message></forwarded>");
                    break;
                case 2:
                    gstr(g, "<x><y><z/></y></x>");
                    break;
                default:
                    gstr(g, "<body>");
                    for (unsigned n = drand(&seed, 5); n > 0; n--) {
                        gstr(g, bodies[drand(&seed, 10)]);
                        gstr(g, " ");
                    }
                    gstr(g, "</body>");
                    break;
                }
            }
            gstr(g, shape == 1 ? "</iq>" : "</message>");
        }
        gstr(g, drand(&seed, 4) == 0 ? "" : drand(&seed, 2) ? "\n" : " \r\n\t");
        if (drand(&seed, 400) == 0) {
            gstr(g, drand(&seed, 2) ? "text at the top" : "</a>"); /* an error here */
        }
    }
    if (drand(&seed, 2) == 0) {
        gstr(g, "</stream:stream>\n");
    }
    static const char *const junk[] = {"<",
                                       ">",
                                       "'",
                                       "\"",
                                       "</",
                                       "<!-- c -->",
                                       "<?p?>",
                                       "/>",
                                       "x",
                                       "\n",
                                       "<![CDATA[<]]>",
                                       "</stream:stream>",
                                       "<a>"};
    gen_mutate(g, &seed, junk, sizeof(junk) / sizeof(junk[0]), mutations);
}

static void test_diff_plain(void **state)
{
    (void)state;
    struct gbuf g = {0};
    struct sw_xml_limits small = {0};
    small.max_depth = 3;
    small.max_stanza_bytes = 300;
    unsigned failed = 0;
    for (unsigned seed = 1; seed <= 400; seed++) {
        unsigned mutations = seed % 3 == 0 ? 0 : seed % 5;
        gen_plain(&g, seed, 20 + seed % 200, mutations);
        const struct sw_xml_limits *lim = seed % 4 == 1 ? &small : NULL;
        diff_check(lim, g.p, g.len, seed, 0);
        unsigned piece_seed = seed;
        diff_check(lim, g.p, g.len, seed, 64 + drand(&piece_seed, 4000));
        diff_check(lim, g.p, g.len, seed, 129);
        struct rec r;
        diff_run_new(&r, NULL, g.p, g.len, 0, 0);
        failed += r.rc_feed != 0 || r.rc_finish != 0;
        free(r.log);
    }
    /* both clean streams and broken ones were compared */
    assert_true(failed > 20 && failed < 380);
    free(g.p);
}

static void test_diff_fixtures(void **state)
{
    (void)state;
    static const char *const names[] = {"mirror.xml", "muc.xml"};
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        char *d = sw_test_load_capture(names[i], &len);
        diff_all(NULL, d, len, 11);
        for (unsigned seed = 1; seed < 40; seed++) {
            diff_check(NULL, d, len, seed, 1 + seed * 37);
        }
        free(d);
    }
}

static void test_diff_junk(void **state)
{
    (void)state;
    /* random bytes biased towards markup, after a header, long enough for
     * the 64-byte windows */
    static const char alpha[] = "<>/'\"!?-[]CDATA =xm\n<>a/b<c>";
    static char buf[6000];
    unsigned seed = 99;
    for (int iter = 0; iter < 300; iter++) {
        size_t n = strlen("<stream:stream>");
        memcpy(buf, "<stream:stream>", n);
        size_t len = 200 + drand(&seed, sizeof(buf) - 200);
        unsigned bias = drand(&seed, 3);
        for (; n < len; n++) {
            /* bias 0: uniform over the alphabet; 1: mostly text; 2: any byte */
            unsigned r = drand(&seed, 256);
            buf[n] = bias == 2              ? (char)r
                     : bias == 1 && r < 200 ? "abc de\n"[r % 7]
                                            : alpha[drand(&seed, sizeof(alpha) - 1)];
        }
        diff_check(NULL, buf, len, seed, 0);
        diff_check(NULL, buf, len, seed, 300);
        diff_check(NULL, buf, len, seed, 1 + drand(&seed, 150));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_mirror),
        cmocka_unit_test(test_tricky_markup),
        cmocka_unit_test(test_junk),
        cmocka_unit_test(test_junk_skip),
        cmocka_unit_test(test_missing_close_ok),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_hostile_sizes),
        cmocka_unit_test(test_random_junk),
        cmocka_unit_test(test_count_nl),
        cmocka_unit_test(test_diff_generated),
        cmocka_unit_test(test_diff_fixtures),
        cmocka_unit_test(test_diff_junk),
        cmocka_unit_test(test_diff_plain),
    };
    /* the scanner this CPU gets (AVX-512 or AVX2 where it has them), then the
     * AVX2 one (the same again on a CPU without AVX-512) and the SSE2 one */
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    sw_split_force_avx2(1);
    failed += cmocka_run_group_tests_name("split_avx2", tests, NULL, NULL);
    sw_split_force_sse2(1);
    failed += cmocka_run_group_tests_name("split_sse2", tests, NULL, NULL);
    return failed;
}
