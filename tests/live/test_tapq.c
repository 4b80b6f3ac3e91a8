/*
 * test_tapq.c - live/tapq.c: start-tag scanning, presence fan-out dedup keys,
 * the block queue (drops when full, never blocks) and the mux tap the
 * pipeline reads (header first, records in order, a presence fan-out copy
 * skipped, a record larger than the reader's buffer handed out in pieces,
 * closing tag and EOF after a stop). No threads: the test is the producer
 * and the consumer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../live/live_int.h"

static void test_scan_stag(void **state)
{
    (void)state;
    struct lt_stag st;
    const char *m = "<message from='a@b.test/r' to=\"room@rooms.b.test\" type='groupchat' id='x1'>"
                    "<body>hi</body></message>";
    assert_int_equal(lt_scan_stag(m, strlen(m), &st), 0);
    assert_int_equal(st.kind, LT_KIND_MESSAGE);
    assert_int_equal(st.from_len, 10);
    assert_memory_equal(st.from, "a@b.test/r", 10);
    assert_int_equal(st.to_len, 17);
    assert_memory_equal(st.type, "groupchat", 9);
    assert_memory_equal(st.id, "x1", 2);
    const char *p = "<cl:presence xmlns:cl='jabber:client' from='u@a.test/x'/>";
    assert_int_equal(lt_scan_stag(p, strlen(p), &st), 0);
    assert_int_equal(st.kind, LT_KIND_PRESENCE);
    const char *bad = "<message from=unquoted>";
    assert_int_equal(lt_scan_stag(bad, strlen(bad), &st), -1);
    const char *trunc = "<iq id='abc";
    assert_int_equal(lt_scan_stag(trunc, strlen(trunc), &st), -1);
}

static uint64_t key_of(const char *s)
{
    struct lt_stag st;
    assert_int_equal(lt_scan_stag(s, strlen(s), &st), 0);
    return lt_dedup_key(&st);
}

static void test_dedup_keys(void **state)
{
    (void)state;
    uint64_t bcast = key_of("<presence from='u@a.test/r' id='p1'/>");
    uint64_t copy = key_of("<presence from='u@a.test/r' to='c@b.test' id='p1'/>");
    assert_true(bcast != 0);
    assert_true(bcast == copy); /* same client action */
    /* kept: directed to a full JID (MUC room/nick), subscriptions, no id, messages */
    assert_true(key_of("<presence from='u@a.test/r' to='room@rooms.a.test/nick' id='p1'/>") == 0);
    assert_true(key_of("<presence from='u@a.test/r' to='c@b.test' type='subscribe' id='p1'/>") ==
                0);
    assert_true(key_of("<presence from='u@a.test/r' to='c@b.test'/>") == 0);
    assert_true(key_of("<message from='u@a.test/r' to='c@b.test' id='p1'/>") == 0);
    uint64_t un = key_of("<presence from='u@a.test/r' type='unavailable' id='p1'/>");
    assert_true(un != 0 && un != bcast);
}

struct fixture {
    struct sw_live *l;
    struct sw_live_tap_settings s;
    struct sw_tap_ops ops;
};

static struct fixture *fx_new(size_t queue_bytes, size_t max_record)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->l = calloc(1, sizeof(*f->l));
    assert_non_null(f->l);
    assert_int_equal(lt_mux_init(f->l), 0);
    f->l->taps = calloc(1, sizeof(*f->l->taps));
    assert_non_null(f->l->taps);
    f->l->taps[0] = calloc(1, sizeof(**f->l->taps));
    assert_non_null(f->l->taps[0]);
    f->l->n = 1;
    f->s.dedup_ms = 2000;
    struct lt_tap *t = f->l->taps[0];
    t->live = f->l;
    t->s = &f->s;
    t->wake_fd = -1;
    snprintf(t->name, sizeof(t->name), "t");
    atomic_init(&t->stop, false);
    atomic_init(&t->stopped, false);
    assert_int_equal(lt_queue_init(t, queue_bytes, max_record), 0);
    lt_mux_ops(f->l, &f->ops);
    return f;
}

static void fx_free(struct fixture *f)
{
    lt_queue_fini(f->l->taps[0]);
    free(f->l->taps[0]);
    free(f->l->taps);
    free(f->l->dd_key);
    free(f->l->dd_ms);
    pthread_mutex_destroy(&f->l->mu);
    pthread_cond_destroy(&f->l->cv);
    pthread_mutex_destroy(&f->l->set_mu);
    free(f->l);
    free(f);
}

static size_t rd(struct fixture *f, char *buf, size_t cap, struct sw_tap_read *r)
{
    struct sw_errbuf eb;
    assert_int_equal(f->ops.read(f->ops.ctx, buf, cap, r, &eb), 0);
    return r->len;
}

static void test_mux_order_and_dedup(void **state)
{
    (void)state;
    struct fixture *f = fx_new(256 * 1024, 4096);
    struct lt_tap *t = f->l->taps[0];
    char buf[65536];
    struct sw_tap_read r;
    size_t n = rd(f, buf, sizeof(buf), &r);
    buf[n < sizeof(buf) ? n : sizeof(buf) - 1] = 0;
    assert_true(n > 0 && strstr(buf, "<stream:stream") != NULL);
    const char *a = "<presence from='u@a.test/r' id='p1'/>";
    const char *b = "<presence from='u@a.test/r' to='c@b.test' id='p1'/>"; /* fan-out copy */
    const char *c = "<message from='u@a.test/r' to='c@b.test'><body>x</body></message>";
    const char *w =
        "<message from='a.test' to='watch.a.test'><forwarded xmlns='urn:xmpp:forward:0'>"
        "<presence xmlns='jabber:client' from='u@a.test/r' to='d@b.test' id='p1'/>"
        "</forwarded></message>"; /* a FORWARD copy of the same broadcast */
    lt_tap_stanza(t, a, strlen(a));
    lt_tap_stanza(t, b, strlen(b));
    lt_tap_stanza(t, c, strlen(c));
    lt_tap_stanza(t, w, strlen(w));
    lt_queue_flush(t);
    n = rd(f, buf, sizeof(buf), &r);
    char want[512];
    snprintf(want, sizeof(want), "%s\n%s\n", a, c);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    assert_int_equal(LT_CNT_GET(t->c.dedup), 2);
    assert_int_equal(LT_CNT_GET(t->c.stanzas), 4);
    assert_int_equal(LT_CNT_GET(t->c.by_kind[LT_KIND_PRESENCE]), 3); /* the wrapped one too */
    /* nothing queued: a read waits (<= 100 ms) and returns 0 bytes, no EOF */
    n = rd(f, buf, sizeof(buf), &r);
    assert_int_equal(n, 0);
    assert_false(r.eof);
    /* stopped, no tap thread running: closing tag, then EOF */
    atomic_store(&f->l->stopping, true);
    n = rd(f, buf, sizeof(buf), &r);
    assert_true(r.stream_end);
    assert_memory_equal(buf, "</stream:stream>", 16);
    rd(f, buf, sizeof(buf), &r);
    assert_true(r.eof);
    fx_free(f);
}

static void test_mux_large_record_in_pieces(void **state)
{
    (void)state;
    struct fixture *f = fx_new(256 * 1024, 8192);
    struct lt_tap *t = f->l->taps[0];
    char big[6000];
    memcpy(big, "<message><body>", 15);
    memset(big + 15, 'y', sizeof(big) - 15 - 17);
    memcpy(big + sizeof(big) - 17, "</body></message>", 17);
    const char *after = "<iq id='1'/>";
    lt_tap_stanza(t, big, sizeof(big));
    lt_tap_stanza(t, after, strlen(after));
    lt_queue_flush(t);
    char buf[1000], out[16384];
    size_t got = 0;
    struct sw_tap_read r;
    rd(f, buf, sizeof(buf), &r); /* header */
    for (int i = 0; i < 20 && got < sizeof(big) + strlen(after) + 2; i++) {
        size_t n = rd(f, buf, sizeof(buf), &r);
        assert_true(n <= sizeof(buf));
        memcpy(out + got, buf, n);
        got += n;
    }
    assert_int_equal(got, sizeof(big) + 1 + strlen(after) + 1);
    assert_memory_equal(out, big, sizeof(big));
    assert_int_equal(out[sizeof(big)], '\n');
    assert_memory_equal(out + sizeof(big) + 1, after, strlen(after));
    fx_free(f);
}

static void test_queue_full_drops(void **state)
{
    (void)state;
    struct fixture *f = fx_new(256 * 1024, 1024); /* 4 blocks of 64 KB */
    struct lt_tap *t = f->l->taps[0];
    char s[1000];
    memset(s, 'z', sizeof(s));
    memcpy(s, "<iq>", 4);
    memcpy(s + sizeof(s) - 5, "</iq>", 5);
    for (int i = 0; i < 2000; i++) { /* ~2 MB into 256 KB: never blocks */
        lt_tap_stanza(t, s, sizeof(s));
    }
    lt_queue_flush(t);
    uint64_t drops = LT_CNT_GET(t->c.queue_drops);
    assert_true(drops > 1500 && drops < 2000);
    /* the consumer frees blocks: puts succeed again */
    char buf[1 << 20];
    struct sw_tap_read r;
    while (rd(f, buf, sizeof(buf), &r) > 0) {
    }
    lt_tap_stanza(t, s, sizeof(s));
    assert_int_equal(LT_CNT_GET(t->c.queue_drops), drops);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_stag),
        cmocka_unit_test(test_dedup_keys),
        cmocka_unit_test(test_mux_order_and_dedup),
        cmocka_unit_test(test_mux_large_record_in_pieces),
        cmocka_unit_test(test_queue_full_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
