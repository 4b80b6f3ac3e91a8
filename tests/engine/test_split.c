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

#include <cmocka.h>

/* ---- recorder: every callback appended as one text line ---- */

struct rec {
    char *log;
    size_t len, cap;
    int rc_feed, rc_finish;
    char err[512];
    uint64_t oversize, depth;
};

static void rec_printf(struct rec *r, const char *fmt, ...)
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

/* split: 0 whole, 1 byte by byte, >1 random pieces with that seed */
static void run(struct rec *r, const struct sw_xml_limits *lim, const char *data, size_t len,
                unsigned split)
{
    struct sw_split_cb cb = {on_header, on_stanza, on_close, r};
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

static char *load(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/captures/%s", SW_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
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
    char *d = load("mirror.xml", &len);
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
    struct sw_split_cb cb = {on_header, on_stanza, on_close, &r};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_mirror), cmocka_unit_test(test_tricky_markup),
        cmocka_unit_test(test_junk),           cmocka_unit_test(test_missing_close_ok),
        cmocka_unit_test(test_limits),         cmocka_unit_test(test_hostile_sizes),
        cmocka_unit_test(test_random_junk),    cmocka_unit_test(test_count_nl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
