/*
 * fuzz_xml.c - libFuzzer target for the stanza stream layer (engine/split.c,
 * engine/xml.c, engine/event.c).
 *
 * Each input is scanned by sw_split and parsed by sw_xml twice: whole, and cut
 * at two points derived from the input. sw_split must give identical
 * callbacks, errors and counters (with the junk() callback set; without it,
 * the same or a failure exactly when junk was reported); sw_xml the same
 * verdict (top-level text is an error however it is cut), and for accepted
 * input the same events and counters; any difference aborts. When the splitter accepts the input,
 * its stanza ranges are also fed the engine's way (header + whole-stanza chunks, fresh instance)
 * for crash coverage. Built with clang -fsanitize=fuzzer by scripts/fuzz; with other compilers
 * replay_main.c runs the seed corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_xml: check failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* FNV-1a over everything observed */
static void mix(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h = (*h ^ b[i]) * 0x100000001b3ull;
    }
}

static void mix_u64(uint64_t *h, uint64_t v)
{
    mix(h, &v, sizeof(v));
}

/* ---- splitter ---- */

struct split_obs {
    uint64_t h;
    uint64_t n;
    uint64_t hs, he, st[64], en[64];
    uint32_t line[64];
    int have_header;
    uint64_t oversize, deep, junk;
};

static void sp_header(void *ud, uint64_t s, uint64_t e)
{
    struct split_obs *o = ud;
    mix_u64(&o->h, 1);
    mix_u64(&o->h, s);
    mix_u64(&o->h, e);
    CHECK(s < e);
    o->hs = s;
    o->he = e;
    o->have_header = 1;
}

static void sp_stanza(void *ud, uint64_t s, uint64_t e, uint32_t line)
{
    struct split_obs *o = ud;
    mix_u64(&o->h, 2);
    mix_u64(&o->h, s);
    mix_u64(&o->h, e);
    mix_u64(&o->h, line);
    CHECK(s < e && line >= 1);
    if (o->n < 64) {
        o->st[o->n] = s;
        o->en[o->n] = e;
        o->line[o->n] = line;
    }
    o->n++;
}

static void sp_close(void *ud, uint64_t s, uint64_t e)
{
    struct split_obs *o = ud;
    mix_u64(&o->h, 3);
    mix_u64(&o->h, s);
    mix_u64(&o->h, e);
}

static void sp_junk(void *ud, uint64_t s, uint64_t e, uint32_t line, uint32_t col,
                    const char *reason)
{
    struct split_obs *o = ud;
    mix_u64(&o->h, 4);
    mix_u64(&o->h, s);
    mix_u64(&o->h, e);
    mix_u64(&o->h, line);
    mix_u64(&o->h, col);
    mix(&o->h, reason, strlen(reason));
    CHECK(s < e && line >= 1 && col >= 1);
    o->junk++;
}

/* @junk: with the junk() callback (junk between stanzas skipped) */
static int run_split(const uint8_t *d, size_t size, const size_t *cuts, int ncuts,
                     struct split_obs *o, int junk)
{
    struct sw_split_cb cb = {sp_header, sp_stanza, sp_close, o, NULL, junk ? sp_junk : NULL};
    struct sw_split *s;
    struct sw_xml_limits lim = {.max_depth = 8, .max_stanza_bytes = 2048};
    struct sw_errbuf eb;
    memset(o, 0, sizeof(*o));
    o->h = 0xcbf29ce484222325ull;
    CHECK(sw_split_new(&lim, &cb, &s) == 0);
    size_t off = 0;
    int rc = 0;
    for (int i = 0; i <= ncuts && rc == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : size;
        rc = sw_split_feed(s, (const char *)d + off, end - off, &eb);
        off = end;
    }
    if (rc == 0) {
        rc = sw_split_finish(s, &eb);
    }
    if (rc != 0) {
        mix(&o->h, eb.msg, strlen(eb.msg));
    }
    uint64_t a, b;
    sw_split_stats(s, &a, &b);
    o->oversize = a;
    o->deep = b;
    mix_u64(&o->h, a);
    mix_u64(&o->h, b);
    sw_split_free(s);
    return rc;
}

/* ---- parser ---- */

/* h: everything observed; ev: the events without seq (the engine-style run
 * numbers them per chunk); n: events. */
struct xml_obs {
    uint64_t h, ev, n;
};

static void ev_hash(void *ud, const struct sw_event *e)
{
    struct xml_obs *o = ud;
    const struct sw_event *ev = e;
    uint64_t *h = &o->ev;
    static char arena[1 << 18];
    struct sw_event p;
    CHECK(sw_event_text_size(ev) <= sizeof(arena));
    size_t used = sw_event_pack(ev, &p, arena);
    CHECK(used == sw_event_text_size(ev));
    CHECK(strlen(p.from.text) == p.from.len && strlen(p.to.text) == p.to.len);
    CHECK(strlen(ev->body) == ev->body_len && ev->body_len <= 1024);
    CHECK(p.from.domain_off + p.from.domain_len <= p.from.len);
    mix(h, arena, used);
    mix_u64(&o->h, ev->seq);
    o->n++;
    mix_u64(h, (uint64_t)ev->t_ms);
    mix(h, ev->key, sizeof(ev->key));
    mix_u64(h, ev->flags);
    mix_u64(h, ev->kind);
    mix_u64(h, ev->type);
    mix_u64(h, ev->body_full);
    mix_u64(h, ev->body_lines);
    mix_u64(h, ev->from.full ^ ev->to.full ^ ev->id_hash);
    mix_u64(h, ev->line);
    mix_u64(&o->h, *h);
}

static struct sw_xml *new_xml(struct xml_obs *h)
{
    struct sw_xml_opts o;
    struct sw_xml *x;
    static uint64_t doms[1];
    memset(&o, 0, sizeof(o));
    doms[0] = sw_hash64_lower("rooms.a.test", 12);
    o.muc_domains = doms;
    o.n_muc_domains = 1;
    o.limits.max_depth = 8;
    o.limits.max_attr_bytes = 512;
    o.limits.max_text_bytes = 4096;
    o.limits.body_keep = 64;
    CHECK(sw_xml_new(&o, ev_hash, h, &x) == 0);
    return x;
}

static int run_xml(const uint8_t *d, size_t size, const size_t *cuts, int ncuts, struct xml_obs *ob)
{
    struct sw_errbuf eb;
    struct sw_xml *x;
    uint64_t *h = &ob->h;
    ob->h = ob->ev = 0xcbf29ce484222325ull;
    ob->n = 0;
    x = new_xml(ob);
    size_t off = 0;
    int rc = 0;
    for (int i = 0; i <= ncuts && rc == 0; i++) {
        size_t end = i < ncuts ? cuts[i] : size;
        rc = sw_xml_feed(x, (const char *)d + off, end - off, 1000, &eb);
        off = end;
    }
    if (rc == 0) {
        rc = sw_xml_finish(x, &eb);
    }
    const struct sw_xml_stats *st = sw_xml_stats(x);
    mix_u64(h, st->stanzas);
    mix_u64(h, st->skipped_depth);
    mix_u64(h, st->skipped_attr);
    mix_u64(h, st->skipped_unknown);
    mix_u64(h, st->skipped_oversize);
    mix_u64(h, st->bad_stamps);
    sw_xml_free(x);
    return rc;
}

/* The engine's way: header, then runs of whole stanzas, on a fresh instance.
 * Returns the parse result; @ob gets the events. */
static int run_engine_style(const uint8_t *d, const struct split_obs *o, struct xml_obs *ob)
{
    ob->h = ob->ev = 0xcbf29ce484222325ull;
    ob->n = 0;
    struct sw_xml *x = new_xml(ob);
    int rc = sw_xml_feed(x, (const char *)d + o->hs, o->he - o->hs, 1000, NULL);
    uint64_t n = o->n < 64 ? o->n : 64;
    for (uint64_t i = 0; i < n && rc == 0; i += 2) {
        uint64_t last = i + 1 < n ? i + 1 : i;
        sw_xml_set_stream(x, 1, o->line[i]);
        sw_xml_set_seq(x, i);
        rc = sw_xml_feed(x, (const char *)d + o->st[i], o->en[last] - o->st[i], 1000, NULL);
    }
    if (rc == 0) {
        rc = sw_xml_finish(x, NULL);
    }
    sw_xml_free(x);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cuts[2] = {0, 0};
    if (size > 0) {
        uint64_t h = 0xcbf29ce484222325ull;
        mix(&h, data, size < 64 ? size : 64);
        size_t a = (size_t)(h % (size + 1));
        size_t b = (size_t)((h >> 32) % (size + 1));
        cuts[0] = a < b ? a : b;
        cuts[1] = a < b ? b : a;
    }

    struct split_obs s1, s2, s0;
    int r1 = run_split(data, size, NULL, 0, &s1, 1);
    int r2 = run_split(data, size, cuts, 2, &s2, 1);
    CHECK(r1 == r2);
    CHECK(s1.h == s2.h);
    CHECK(s1.n == s2.n);
    /* Without the junk() callback the splitter fails exactly where it would
     * report junk, and otherwise sees the same. */
    int r0 = run_split(data, size, cuts, 2, &s0, 0);
    if (r1 == 0 && s1.junk == 0) {
        CHECK(r0 == 0 && s0.h == s1.h);
    } else if (r1 == 0) {
        CHECK(r0 != 0);
    }

    struct xml_obs o1, o2, o3;
    int x1 = run_xml(data, size, NULL, 0, &o1);
    int x2 = run_xml(data, size, cuts, 2, &o2);
    CHECK(x1 == x2);
    /* Events and counters must match for accepted input. For malformed input,
     * libxml2's push parser may stop at a different point depending on where
     * the buffer was cut (it defers tags with unbalanced quotes), so only the
     * verdict is compared there. */
    if (x1 == 0) {
        CHECK(o1.h == o2.h);
    }

    if (r1 == 0 && s1.have_header) {
        int x3 = run_engine_style(data, &s1, &o3);
        /* When libxml2 accepts the whole stream and the splitter skipped
         * nothing, the split-then-parse path must see exactly the same events,
         * line numbers included. */
        if (x1 == 0 && s1.n <= 64 && s1.oversize == 0 && s1.deep == 0) {
            CHECK(x3 == 0);
            CHECK(o3.n == o1.n);
            CHECK(o3.ev == o1.ev);
        }
    }
    return 0;
}
