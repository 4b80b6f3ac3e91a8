/*
 * test_pipeline.c - the replay pipeline end to end, as a library (no fork):
 *  - exactly-once delivery: every event reaches each test detector exactly
 *    once, on the worker that owns its key, for W = 1..8 workers and P = 1..4
 *    parsers, with tiny batches (many chunks, much back-pressure);
 *  - identical incident JSON for 1 and N threads (test detectors that emit
 *    hits deterministically, plus the real registry detectors);
 *  - a malformed stanza (first, mid-file, last): skipped and counted, every
 *    other stanza processed once with its line; junk between stanzas
 *    (text, a stray close tag, CDATA) the same: reported as file:line:col,
 *    counted malformed, skipped; a DOCTYPE still stops the run;
 *  - stdin ("-") and several captures in order.
 *
 * Fixture: a capture generated here (gen_capture): stanza i is on line i + 3,
 * has a XEP-0203 delay stamp base + 10 ms * i (so event time does not depend
 * on arrival), and is, by i % 4: groupchat message from u<i%37>@a.test to
 * room<i%5>@conference.a.test, the same again, a chat message to a b.test
 * account, a subscribe presence to a c.test account.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sw/conf.h"
#include "sw/file.h"
#include "sw/detector.h"
#include "sw/incident.h"
#include "sw/pipeline.h"
#include "sw/settings.h"
#include "sw/sw.h"

#include "sw/simhash.h"

/* ---------------- test detector: records every event it sees ---------------- */

struct rec {
    uint64_t seq, key;
    int worker;
    uint16_t stream;
    uint32_t line;
    int64_t t_ms;
};

struct collected {
    pthread_mutex_t mu;
    struct rec *v;
    size_t n, cap;
};

static struct collected col[3] = {{PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0},
                                  {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0},
                                  {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0}};
static atomic_int next_local_id;
static atomic_int fp_checked; /* events whose parser-made SimHash was checked */
static atomic_int reload_calls, init_calls;

#define TBL 4096 /* per-key counters, open addressing; more than the fixture's keys */

struct tc_local {
    int id, which;
    struct rec *v;
    size_t n, cap;
    uint64_t keys[TBL];
    uint32_t counts[TBL];
    /* seqs prefetch() announced and process() has not had yet, in order
     * (test only: a real prefetch op changes no state) */
    uint64_t pf[16];
    unsigned pf_head, pf_tail;
};

struct tc_shared {
    int which; /* 0: sender detector, 1: room detector, 2: own key hook */
};

/* Detector 2 routes by its own key: a message by its sender, a presence by
 * its recipient (like sub_slow's request/answer pairing). */
static uint64_t tc_own_key(const struct sw_event *ev)
{
    return ev->kind == SW_EV_PRESENCE ? ev->to.bare : ev->from.bare;
}

static const struct tc_shared tc_shared_sender = {0}, tc_shared_room = {1}, tc_shared_own = {2};

static int tc_setup_own(const void *settings, void **shared, struct sw_errbuf *eb)
{
    (void)settings;
    (void)eb;
    *shared = (void *)&tc_shared_own;
    return 0;
}

static int tc_setup_sender(const void *settings, void **shared, struct sw_errbuf *eb)
{
    (void)settings;
    (void)eb;
    *shared = (void *)&tc_shared_sender;
    return 0;
}

static int tc_setup_room(const void *settings, void **shared, struct sw_errbuf *eb)
{
    (void)settings;
    (void)eb;
    *shared = (void *)&tc_shared_room;
    return 0;
}

static int tc_thread_init(const void *shared, void **local)
{
    const struct tc_shared *s = shared;
    struct tc_local *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return SW_ENOMEM;
    }
    l->which = s->which;
    /* worker identity = the thread, stable across a reload's fini + init */
    static _Thread_local int worker_id = -1;
    if (worker_id < 0) {
        worker_id = atomic_fetch_add(&next_local_id, 1);
    }
    l->id = worker_id;
    atomic_fetch_add(&init_calls, 1);
    l->cap = 1 << 16;
    l->v = malloc(l->cap * sizeof(*l->v));
    if (l->v == NULL) {
        free(l);
        return SW_ENOMEM;
    }
    *local = l;
    return 0;
}

static uint32_t *tc_count(struct tc_local *l, uint64_t key)
{
    size_t i = (size_t)(key % TBL);
    while (l->keys[i] != 0 && l->keys[i] != key) {
        i = (i + 1) % TBL;
    }
    l->keys[i] = key;
    return &l->counts[i];
}

static void tc_process(const void *shared, void *local, const struct sw_event *ev,
                       struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct tc_shared *s = shared;
    struct tc_local *l = local;
    uint64_t key =
        s->which == 2 ? tc_own_key(ev) : ev->key[s->which ? SW_SHARD_ROOM : SW_SHARD_SENDER];
    if (l->n == l->cap) {
        /* test only: growing here is fine (a real detector must not) */
        l->cap *= 2;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = (struct rec){ev->seq, key, l->id, ev->stream, ev->line, ev->t_ms};
    /* The parser fingerprints an occupant's groupchat body once: exactly
     * what the detectors would compute themselves. */
    bool want_fp =
        ev->type == SW_T_GROUPCHAT && ev->body_len > 0 &&
        (ev->flags & (SW_F_MUC_GROUPCHAT | SW_F_MUC_REFLECTION | SW_F_HISTORY | SW_F_CARBON)) ==
            SW_F_MUC_GROUPCHAT;
    assert_int_equal((ev->flags & SW_F_BODY_FP) != 0, want_fp);
    if (want_fp) {
        size_t nlen = 0;
        assert_true(ev->body_fp == sw_simhash_text(ev->body, ev->body_len, &nlen));
        assert_int_equal(ev->body_fp_len, nlen);
        atomic_fetch_add(&fp_checked, 1);
    }
    /* announced by prefetch() on this worker, once, in order, before */
    assert_true(l->pf_head != l->pf_tail);
    assert_int_equal(l->pf[l->pf_head++ % 16], ev->seq);
    uint32_t *c = tc_count(l, key);
    ++*c;
    st->keys = 0;
    /* Every 20th event of a sender: a hit; deterministic per key, whatever
     * worker owns the key. */
    if (s->which == 0 && *c % 20 == 0) {
        struct sw_hit h;
        sw_hit_init(&h, "tsender", "tsender.rate", "message-spam", ev);
        char bare[SW_JID_TEXT];
        sw_jid_copy_bare(bare, sizeof(bare), &ev->from);
        sw_hit_set_offender(&h, SW_OFFENDER_ACCOUNT, bare, strlen(bare));
        sw_hit_add_value(&h, "count", *c);
        sw_hit_emit(out, &h);
        if (*c % 40 == 0) { /* a second hit for the same event: emission order */
            sw_hit_init(&h, "tsender", "tsender.burst", "message-spam", ev);
            sw_hit_set_offender(&h, SW_OFFENDER_ACCOUNT, bare, strlen(bare));
            sw_hit_emit(out, &h);
        }
    }
}

/* The engine calls it a few events before process(ev), on the same worker:
 * tc_process checks that every event it gets was announced here, in order. */
static void tc_prefetch(const void *shared, void *local, const struct sw_event *ev)
{
    (void)shared;
    struct tc_local *l = local;
    assert_true(l->pf_tail - l->pf_head < 16);
    l->pf[l->pf_tail++ % 16] = ev->seq;
}

static void tc_expire(const void *shared, void *local, int64_t now_ms, struct sw_detector_stats *st)
{
    (void)shared;
    (void)local;
    (void)now_ms;
    (void)st;
}

static void tc_thread_fini(void *local)
{
    struct tc_local *l = local;
    assert_int_equal(l->pf_head, l->pf_tail); /* nothing announced was left out */
    struct collected *c = &col[l->which];
    pthread_mutex_lock(&c->mu);
    if (c->n + l->n > c->cap) {
        c->cap = (c->n + l->n) * 2;
        c->v = realloc(c->v, c->cap * sizeof(*c->v));
    }
    if (l->n > 0) {
        memcpy(c->v + c->n, l->v, l->n * sizeof(*l->v));
        c->n += l->n;
    }
    pthread_mutex_unlock(&c->mu);
    free(l->v);
    free(l);
}

static int tc_thread_reload(const void *shared, void *local)
{
    const struct tc_shared *s = shared;
    struct tc_local *l = local;
    assert_int_equal(s->which, l->which);
    atomic_fetch_add(&reload_calls, 1);
    return 0;
}

static void tc_teardown(void *shared)
{
    (void)shared;
}

static const struct sw_detector_ops tsender_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "tsender",
    .description = "test: counts events per sender",
    .events = SW_EV_MESSAGE | SW_EV_PRESENCE,
    .shard = SW_SHARD_SENDER,
    .setup = tc_setup_sender,
    .thread_init = tc_thread_init,
    .process = tc_process,
    .prefetch = tc_prefetch,
    .expire = tc_expire,
    .thread_fini = tc_thread_fini,
    .teardown = tc_teardown,
};

static const struct sw_detector_ops troom_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "troom",
    .description = "test: counts events per room",
    .events = SW_EV_MESSAGE,
    .shard = SW_SHARD_ROOM,
    .setup = tc_setup_room,
    .thread_init = tc_thread_init,
    .process = tc_process,
    .prefetch = tc_prefetch,
    .expire = tc_expire,
    .thread_reload = tc_thread_reload,
    .thread_fini = tc_thread_fini,
    .teardown = tc_teardown,
};

static const struct sw_detector_ops town_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "town",
    .description = "test: counts events per own routing key",
    .events = SW_EV_MESSAGE | SW_EV_PRESENCE,
    .shard = SW_SHARD_ROOM, /* ignored: the key hook wins */
    .key = tc_own_key,
    .setup = tc_setup_own,
    .thread_init = tc_thread_init,
    .process = tc_process,
    .prefetch = tc_prefetch,
    .expire = tc_expire,
    .thread_fini = tc_thread_fini,
    .teardown = tc_teardown,
};

static const struct sw_detector_ops *const test_dets[] = {&tsender_ops, &troom_ops, &town_ops,
                                                          NULL};

static void col_reset(void)
{
    for (int i = 0; i < 3; i++) {
        free(col[i].v);
        col[i].v = NULL;
        col[i].n = col[i].cap = 0;
    }
}

static int rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int key_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* ---------------- fixtures ---------------- */

static struct sw_conf *conf;
static char dir[64];

#define BASE_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

/* Write @n stanzas starting at index @first; @bad_at >= 0 puts a malformed
 * stanza at that index instead (mismatched end tag), @junk_at puts top-level
 * text there. Returns the path (static buffer per call slot). */
static void gen_capture_ex(const char *path, int first, int n, int bad_at, int junk_at,
                           const int *big_at, const size_t *big_len, int n_big);

static void gen_capture(const char *path, int first, int n, int bad_at, int junk_at)
{
    gen_capture_ex(path, first, n, bad_at, junk_at, NULL, NULL, 0);
}

/* Also: stanza big_at[j] carries a body of big_len[j] bytes (one line). */
static void gen_capture_ex(const char *path, int first, int n, int bad_at, int junk_at,
                           const int *big_at, const size_t *big_len, int n_big)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("<?xml version='1.0'?>\n<stream:stream xmlns='jabber:server' "
          "xmlns:stream='http://etherx.jabber.org/streams'>\n",
          fp);
    for (int i = first; i < first + n; i++) {
        char ts[40];
        sw_fmt_time(BASE_MS + 10LL * i, ts, sizeof(ts));
        int u = i % 37;
        if (i == bad_at) {
            fprintf(fp, "<message from='u%d@a.test/r' to='v@b.test'><body>x</bdy></message>\n", u);
            continue;
        }
        if (i == junk_at) {
            fputs("junk at top level\n", fp);
            continue;
        }
        int big = -1;
        for (int j = 0; j < n_big; j++) {
            if (big_at[j] == i) {
                big = j;
            }
        }
        if (big >= 0) {
            fprintf(fp, "<message from='u%d@a.test/r' to='v@b.test' type='chat' id='big%d'><body>",
                    u, i);
            for (size_t k = 0; k < big_len[big]; k++) {
                fputc('a' + (int)(k % 26), fp);
            }
            fputs("</body></message>\n", fp);
            continue;
        }
        switch (i % 4) {
        case 0:
        case 1:
            fprintf(fp,
                    "<message from='u%d@a.test/r' to='room%d@conference.a.test' "
                    "type='groupchat' id='m%d'><body>hello %d</body><delay "
                    "xmlns='urn:xmpp:delay' stamp='%s'/></message>\n",
                    u, i % 5, i, i, ts);
            break;
        case 2:
            fprintf(fp,
                    "<message from='u%d@a.test/r' to='w%d@b.test' type='chat' id='c%d'>"
                    "<body>hi</body><delay xmlns='urn:xmpp:delay' stamp='%s'/></message>\n",
                    u, i % 13, i, ts);
            break;
        default:
            fprintf(fp,
                    "<presence from='u%d@a.test' to='x%d@c.test' type='subscribe' id='p%d'>"
                    "<delay xmlns='urn:xmpp:delay' stamp='%s'/></presence>\n",
                    u, i % 11, i, ts);
            break;
        }
    }
    fputs("</stream:stream>\n", fp);
    fclose(fp);
}

static int setup_all(void **state)
{
    (void)state;
    struct sw_errbuf eb;
    snprintf(dir, sizeof(dir), "/tmp/sw_test_pipeline.XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    if (sw_settings_register() < 0 || sw_registry_register_conf(&eb) < 0 ||
        sw_aggregate_register_conf(sw_registry_list()) < 0) {
        return -1;
    }
    if (sw_conf_load(NULL, &conf, &eb) < 0) {
        fprintf(stderr, "conf: %s\n", eb.msg);
        return -1;
    }
    return 0;
}

static int teardown_all(void **state)
{
    (void)state;
    char cmd[128];
    sw_conf_free(conf);
    col_reset();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The aggregator writing JSON incidents to a memory buffer, wired as the
 * pipeline's hit stage (what cli/cmd_replay.c does). Not movable once wired
 * (the aggregator borrows &o). */
struct agg_wiring {
    struct sw_aggregate *a;
    struct sw_hit_stage stage;
    struct sw_output_ops o;
    FILE *mem;
    char *buf;
    size_t len;
};

static void wire_aggregator(const struct sw_conf *c, struct agg_wiring *w)
{
    struct sw_errbuf eb = {{0}};
    memset(w, 0, sizeof(*w));
    w->mem = open_memstream(&w->buf, &w->len);
    assert_non_null(w->mem);
    assert_int_equal(sw_output_json_init(&w->o, w->mem), 0);
    if (sw_aggregate_new(c, &w->o, 1, &w->a, &eb) != 0) {
        fail_msg("aggregate: %s", eb.msg);
    }
    sw_aggregate_stage(w->a, &w->stage);
}

/* Close the output and free the aggregator; *out gets the JSON (caller frees)
 * or, with @out NULL, it is freed. */
static void unwire_aggregator(struct agg_wiring *w, char **out)
{
    w->o.close(w->o.ctx);
    sw_aggregate_free(w->a);
    fclose(w->mem);
    if (out != NULL) {
        *out = w->buf;
    } else {
        free(w->buf);
    }
}

/* Run the pipeline; incidents go to a memory buffer (*out, caller frees). */
static int run(const struct sw_detector_ops *const *dets, unsigned W, unsigned P, size_t batch,
               const char *const *paths, size_t n, char **out, struct sw_errbuf *eb,
               struct sw_pipeline_stats *st)
{
    struct sw_pipeline *p = NULL;
    struct agg_wiring aw;
    wire_aggregator(conf, &aw);
    struct sw_pipeline_opts po = {
        .conf = conf,
        .detectors = dets,
        .stage = &aw.stage,
        .threads = W,
        .parse_threads = P,
        .batch_bytes = batch,
    };
    atomic_store(&next_local_id, 0);
    col_reset();
    int rc = sw_pipeline_new(&po, &p, eb);
    assert_int_equal(rc, 0);
    rc = sw_pipeline_run(p, paths, n, eb);
    if (st != NULL) {
        sw_pipeline_get_stats(p, st);
    }
    sw_pipeline_free(p);
    unwire_aggregator(&aw, out);
    return rc;
}

/* Run @dets on @paths (one file) with every (W, P) of @cfg: the incident
 * output must equal @ref (the W=1 P=1 run). */
static void assert_same_output(const struct sw_detector_ops *const *dets, size_t batch,
                               const char *const *paths, const char *ref, const unsigned (*cfg)[2],
                               size_t n)
{
    struct sw_errbuf eb;
    for (size_t i = 0; i < n; i++) {
        char *got = NULL;
        assert_int_equal(run(dets, cfg[i][0], cfg[i][1], batch, paths, 1, &got, &eb, NULL), 0);
        if (strcmp(got, ref) != 0) {
            fprintf(stderr, "W=%u P=%u: incident output differs from W=1 P=1\n", cfg[i][0],
                    cfg[i][1]);
        }
        assert_string_equal(got, ref);
        free(got);
    }
}

/* Write @yaml to @path and load it as the configuration (caller frees). */
static struct sw_conf *conf_from_text(const char *path, const char *yaml)
{
    struct sw_conf *c = NULL;
    struct sw_errbuf eb;
    assert_int_equal(sw_file_write_atomic(path, yaml, strlen(yaml), 0644), 0);
    assert_int_equal(sw_conf_load(path, &c, &eb), 0);
    return c;
}

/* The whole capture at @path (non-empty, under 1 MiB) in *@data (caller frees). */
static size_t read_capture(const char *path, char **data)
{
    size_t len = 0;
    assert_int_equal(sw_file_read(path, (1 << 20) - 1, 0, data, &len), 0);
    assert_true(len > 0);
    return len;
}

/* Each seq at most once per detector, each key on one worker; returns count. */
static size_t check_once(int which)
{
    struct collected *c = &col[which];
    qsort(c->v, c->n, sizeof(*c->v), rec_cmp);
    for (size_t i = 1; i < c->n; i++) {
        assert_true(c->v[i].seq != c->v[i - 1].seq);
    }
    /* key -> worker must be a function: sort a copy by key */
    struct rec *k = malloc((c->n ? c->n : 1) * sizeof(*k));
    assert_non_null(k);
    memcpy(k, c->v, c->n * sizeof(*k));
    qsort(k, c->n, sizeof(*k), key_cmp);
    for (size_t i = 0; i < c->n; i++) {
        assert_true(k[i].key != 0);
        if (i > 0 && k[i].key == k[i - 1].key) {
            assert_int_equal(k[i].worker, k[i - 1].worker);
        }
    }
    free(k);
    return c->n;
}

#define N_STANZAS 2400

/* After a run over N_STANZAS stanzas (capture lines 3..) with one bad stanza at
 * index @skipped: one malformed, every other stanza once, lines in order. */
static void check_all_but(const struct sw_pipeline_stats *st, int skipped)
{
    assert_int_equal(st->malformed, 1);
    assert_int_equal(check_once(0), N_STANZAS - 1);
    const struct collected *c = &col[0];
    for (size_t i = 0, idx = 0; i < c->n; i++, idx++) {
        if (idx == (size_t)skipped) {
            idx++;
        }
        assert_int_equal(c->v[i].line, idx + 3);
    }
}

/* ---------------- tests ---------------- */

static void test_exactly_once(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/once.xml", dir);
    gen_capture(path, 0, N_STANZAS, -1, -1);
    const char *paths[] = {path};
    struct sw_errbuf eb;
    for (unsigned W = 1; W <= 8; W++) {
        for (unsigned P = 1; P <= 4; P++) {
            struct sw_pipeline_stats st;
            size_t batch = W % 2 ? 512 : 2048;
            int rc = run(test_dets, W, P, batch, paths, 1, NULL, &eb, &st);
            if (rc != 0) {
                fprintf(stderr, "W=%u P=%u: %s\n", W, P, eb.msg);
            }
            assert_int_equal(rc, 0);
            assert_int_equal(st.stanzas, N_STANZAS);
            assert_int_equal(st.events, N_STANZAS);
            assert_true(st.chunks > 100);
            /* every event has a sender; groupchat ones (i % 4 < 2) a room */
            assert_int_equal(check_once(0), N_STANZAS);
            assert_int_equal(check_once(1), N_STANZAS / 2);
            assert_int_equal(check_once(2), N_STANZAS);
            assert_int_equal(st.det[0].events, N_STANZAS);
            assert_int_equal(st.det[1].events, N_STANZAS / 2);
            assert_true(atomic_exchange(&fp_checked, 0) > 0);
            /* all workers really took part when W > 1 */
            if (W > 1) {
                int seen[8] = {0};
                for (size_t i = 0; i < col[0].n; i++) {
                    seen[col[0].v[i].worker % 8] = 1;
                }
                int k = 0;
                for (int i = 0; i < 8; i++) {
                    k += seen[i];
                }
                assert_true(k >= 2);
            }
        }
    }
}

static void test_identical_output(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/same.xml", dir);
    gen_capture(path, 0, N_STANZAS, -1, -1);
    const char *paths[] = {path};
    struct sw_errbuf eb;
    /* test detectors plus every real detector of the registry */
    const struct sw_detector_ops *dets[SW_PIPELINE_MAX_DETECTORS + 1];
    size_t n = 0;
    dets[n++] = &tsender_ops;
    dets[n++] = &troom_ops;
    dets[n++] = &town_ops;
    for (const struct sw_detector_ops *const *r = sw_registry_list(); *r; r++) {
        dets[n++] = *r;
    }
    dets[n] = NULL;
    char *ref = NULL;
    struct sw_pipeline_stats st;
    assert_int_equal(run(dets, 1, 1, 1024, paths, 1, &ref, &eb, &st), 0);
    assert_true(strlen(ref) > 0);
    assert_true(st.hits > 0);
    assert_true(st.agg.opened > 0);
    const unsigned cfg[][2] = {{2, 2}, {4, 3}, {7, 2}, {3, 4}};
    assert_same_output(dets, 1024, paths, ref, cfg, sizeof(cfg) / sizeof(cfg[0]));
    free(ref);
}

static void tc_observe(const void *shared, void *local, const struct sw_event *ev)
{
    (void)shared;
    (void)local;
    (void)ev;
}

/* A second routing key needs both hooks and a key hook (detector.h): a
 * detector with observe() alone is refused, not run with half its routing. */
static void test_observe_needs_peer_key(void **state)
{
    (void)state;
    struct sw_detector_ops bad = town_ops, nokey = tsender_ops;
    bad.observe = tc_observe;
    nokey.peer_key = tc_own_key;
    nokey.observe = tc_observe;
    const struct sw_detector_ops *const *lists[] = {
        (const struct sw_detector_ops *const[]){&bad, NULL},
        (const struct sw_detector_ops *const[]){&nokey, NULL},
    };
    for (size_t i = 0; i < 2; i++) {
        struct agg_wiring aw;
        wire_aggregator(conf, &aw);
        struct sw_pipeline_opts po = {
            .conf = conf,
            .detectors = lists[i],
            .stage = &aw.stage,
            .threads = 2,
            .parse_threads = 1,
            .batch_bytes = 1024,
        };
        struct sw_pipeline *p = NULL;
        struct sw_errbuf eb = {.msg = ""};
        assert_int_equal(sw_pipeline_new(&po, &p, &eb), SW_EINVAL);
        assert_null(p);
        assert_non_null(strstr(eb.msg, "observe needs peer_key and key"));
        unwire_aggregator(&aw, NULL);
    }
}

/* The real detectors on a capture from the project's generator (swgen, built
 * with the tests): rooms, 1:1 chat, presence, subscriptions, abuse scenarios.
 * The incident stream must be byte-identical for any thread count; this
 * catches state that depends on which worker saw which key first. */
static void test_identical_output_swgen(void **state)
{
    (void)state;
    char path[128], cmd[512];
    snprintf(path, sizeof(path), "%s/swgen.xml", dir);
    snprintf(cmd, sizeof(cmd), "%s/swgen --seed 5 --stanzas 40000 -o %s 2>/dev/null", SW_BINARY_DIR,
             path);
    assert_int_equal(system(cmd), 0);
    const char *paths[] = {path};
    struct sw_errbuf eb;
    char *ref = NULL;
    struct sw_pipeline_stats st;
    assert_int_equal(run(sw_registry_list(), 1, 1, 64 * 1024, paths, 1, &ref, &eb, &st), 0);
    assert_true(st.agg.opened > 0);
    const unsigned cfg[][2] = {{2, 2}, {3, 2}};
    assert_same_output(sw_registry_list(), 64 * 1024, paths, ref, cfg,
                       sizeof(cfg) / sizeof(cfg[0]));
    free(ref);
}

/* Oversize stanzas (limits.max_stanza_bytes 4 KB): one of 6 KB (skipped by the
 * splitter, fits the reader's carried tail) and one of 40 KB (longer than the
 * tail the reader keeps: its bytes are dropped while it streams through, its
 * head is saved). Both still become (minimal, over-limit) events through the
 * reader's stand-ins (issue 12); every stanza is processed once, in order,
 * with the right line numbers. */
static void test_oversize(void **state)
{
    (void)state;
    char path[128], cpath[128];
    snprintf(path, sizeof(path), "%s/big.xml", dir);
    snprintf(cpath, sizeof(cpath), "%s/small_stanzas.yaml", dir);
    const int big_at[] = {300, 900};
    const size_t big_len[] = {6000, 40000};
    gen_capture_ex(path, 0, 1200, -1, -1, big_at, big_len, 2);
    struct sw_conf *sconf = conf_from_text(cpath, "limits:\n  max_stanza_bytes: 4KB\n");
    struct sw_errbuf eb;
    struct sw_conf *saved = conf;
    conf = sconf;
    for (unsigned W = 1; W <= 3; W += 2) {
        struct sw_pipeline_stats st;
        int rc = run(test_dets, W, 2, 1024, (const char *[]){path}, 1, NULL, &eb, &st);
        if (rc != 0) {
            fprintf(stderr, "%s\n", eb.msg);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(st.skipped_oversize, 2);
        assert_int_equal(st.over_limit, 2);
        assert_int_equal(st.stanzas, 1200);
        assert_int_equal(check_once(0), 1200);
        /* sorted by seq: stanza i is on line i + 3, the stand-ins included */
        struct collected *c = &col[0];
        for (size_t i = 0; i < c->n; i++) {
            assert_int_equal(c->v[i].line, i + 3);
        }
    }
    conf = saved;
    sw_conf_free(sconf);
}

/* Issue 12: one malformed stanza (mismatched end tag) must not stop the
 * stream. It is reported as file:line:col, counted and skipped; everything
 * before and after it is processed exactly once, with the right lines; the
 * run itself succeeds (the command line turns the count into exit status 3). */
static void test_parse_error(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/bad.xml", dir);
    static const int bads[] = {1700, 0, N_STANZAS - 1};
    for (size_t bi = 0; bi < sizeof(bads) / sizeof(bads[0]); bi++) {
        const int bad = bads[bi]; /* on line bad + 3 */
        gen_capture(path, 0, N_STANZAS, bad, -1);
        const char *paths[] = {path};
        for (unsigned W = 1; W <= 3; W += 2) {
            struct sw_errbuf eb;
            struct sw_pipeline_stats st;
            int rc = run(test_dets, W, 3, 700, paths, 1, NULL, &eb, &st);
            assert_int_equal(rc, 0);
            check_all_but(&st, bad);
        }
    }
}

/* Issue 12, time is bounded: one stamp far in the future (a sender's own, in a
 * capture line without the recorder's) is clamped to stream time and counted;
 * a real gap (the capture resumes 2 h later) is taken once three different
 * senders in a row agree, the first two of them clamped. Same for W = 1, 3. */
static void test_time_jump(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/jump.xml", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>\n",
          fp);
    const int64_t gap = 2 * 3600 * 1000LL;
    for (int i = 0; i < 100; i++) {
        char ts[40];
        int64_t t = BASE_MS + 10LL * i + (i >= 50 ? gap : 0);
        if (i == 20) {
            t = BASE_MS + 1000LL * 86400 * 1000; /* 1000 days ahead */
        }
        sw_fmt_time(t, ts, sizeof(ts));
        fprintf(fp,
                "<message from='u%d@a.test/r' to='v@b.test' type='chat'><body>x</body>"
                "<delay xmlns='urn:xmpp:delay' stamp='%s'/></message>\n",
                i, ts);
    }
    fclose(fp);
    const char *paths[] = {path};
    for (unsigned W = 1; W <= 3; W += 2) {
        struct sw_errbuf eb;
        struct sw_pipeline_stats st;
        assert_int_equal(run(test_dets, W, 2, 700, paths, 1, NULL, &eb, &st), 0);
        assert_int_equal(st.time_clamped, 3);
        assert_int_equal(check_once(0), 100);
        const struct rec *v = col[0].v; /* sorted by seq: stanza order */
        assert_int_equal(v[20].t_ms, BASE_MS + 190);
        assert_int_equal(v[21].t_ms, BASE_MS + 210);
        assert_int_equal(v[50].t_ms, BASE_MS + 490);
        assert_int_equal(v[51].t_ms, BASE_MS + 490);
        assert_int_equal(v[52].t_ms, BASE_MS + gap + 520);
        assert_int_equal(v[99].t_ms, BASE_MS + gap + 990);
    }
}

/* Run @paths with stderr captured into @log (cap bytes, NUL-terminated). */
static int run_logged(unsigned W, const char *const *paths, size_t n, struct sw_errbuf *eb,
                      struct sw_pipeline_stats *st, char *log, size_t cap)
{
    char lpath[128];
    snprintf(lpath, sizeof(lpath), "%s/stderr.log", dir);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(lpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0 && saved >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
    int rc = run(test_dets, W, 3, 600, paths, n, NULL, eb, st);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    FILE *fp = fopen(lpath, "r");
    assert_non_null(fp);
    size_t got = fread(log, 1, cap - 1, fp);
    log[got] = '\0';
    fclose(fp);
    return rc;
}

/* Junk between stanzas (top-level text) follows the malformed-stanza rule: it
 * is reported as file:line:col, counted as malformed and skipped; every
 * stanza before and after it is processed once with its line, the run
 * succeeds (exit 3 on the command line). First, mid-file and last; W = 1, 3. */
static void test_junk_skipped(void **state)
{
    (void)state;
    char path[128];
    static char log[1 << 16];
    snprintf(path, sizeof(path), "%s/junk.xml", dir);
    static const int junks[] = {1100, 0, N_STANZAS - 1};
    for (size_t ji = 0; ji < sizeof(junks) / sizeof(junks[0]); ji++) {
        const int junk = junks[ji]; /* on line junk + 3, column 1 */
        gen_capture(path, 0, N_STANZAS, -1, junk);
        const char *paths[] = {path};
        /* W = 1 and 3 for the mid-file junk, 3 for the others: the log site's
         * burst (SW_LOG_BURST lines) must cover this test and the next */
        for (unsigned W = ji == 0 ? 1 : 3; W <= 3; W += 2) {
            struct sw_errbuf eb;
            struct sw_pipeline_stats st;
            int rc = run_logged(W, paths, 1, &eb, &st, log, sizeof(log));
            assert_int_equal(rc, 0);
            check_all_but(&st, junk);
            char want[200];
            snprintf(want, sizeof(want), "%s:%d:1: text at the top level of the stream", path,
                     junk + 3);
            if (strstr(log, want) == NULL) {
                fprintf(stderr, "log '%s' lacks '%s'\n", log, want);
            }
            assert_non_null(strstr(log, want));
        }
    }
}

/* Every kind of junk the splitter skips between stanzas, glued to the
 * stanzas around it (no newline), and text before </stream:stream>: each is
 * one malformed count and one "file:line:col: reason" line, no stanza lost.
 * A DOCTYPE inside the stream is still fatal (DTDs are never parsed). */
static void test_junk_kinds(void **state)
{
    (void)state;
    char path[128];
    static char log[1 << 16];
    snprintf(path, sizeof(path), "%s/junk2.xml", dir);
    static const char *const junk[] = {"stray text", "</nope>", "<![CDATA[x]]>", "<!x y>",
                                       "a > b & c"};
    static const char *const why[] = {"text at the top level of the stream", "unbalanced close tag",
                                      "CDATA at the top level", "bad markup after '<!'",
                                      "text at the top level of the stream"};
    const int nj = (int)(sizeof(junk) / sizeof(junk[0]));
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>\n",
          fp);
    for (int i = 0; i < 2 * nj + 1; i++) {
        fprintf(fp,
                "<message from='u%d@a.test/r' to='v@b.test' type='chat'><body>x</body></message>",
                i);
        if (i % 2 == 1) {
            fputs(junk[i / 2], fp);
        }
        fputc('\n', fp);
    }
    fputs("trailing text</stream:stream>\n", fp);
    fclose(fp);
    const char *paths[] = {path};
    struct sw_errbuf eb;
    struct sw_pipeline_stats st;
    int rc = run_logged(2, paths, 1, &eb, &st, log, sizeof(log));
    assert_int_equal(rc, 0);
    assert_int_equal(st.malformed, (uint64_t)nj + 1);
    assert_int_equal(check_once(0), 2 * nj + 1);
    const size_t mlen = strlen("<message from='u1@a.test/r' to='v@b.test' type='chat'>"
                               "<body>x</body></message>");
    for (int j = 0; j < nj; j++) {
        char want[300];
        /* stanza 2j + 1 is on line 2j + 3; its junk follows it (u10+ is one byte longer) */
        snprintf(want, sizeof(want), "%s:%d:%zu: %s", path, 2 * j + 3,
                 mlen + 1 + (2 * j + 1 >= 10 ? 1 : 0), why[j]);
        if (strstr(log, want) == NULL) {
            fprintf(stderr, "log '%s' lacks '%s'\n", log, want);
        }
        assert_non_null(strstr(log, want));
    }
    char want[300];
    snprintf(want, sizeof(want), "%s:%d:1: text at the top level of the stream", path, 2 * nj + 3);
    assert_non_null(strstr(log, want));

    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>\n"
          "<message from='a@a.test/r' to='v@b.test'><body>x</body></message>\n"
          "<!DOCTYPE x>\n",
          fp);
    fclose(fp);
    rc = run(test_dets, 2, 2, 600, paths, 1, NULL, &eb, NULL);
    assert_int_equal(rc, SW_EPARSE);
    assert_non_null(strstr(eb.msg, "DTD not allowed"));
}

static void test_stdin(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/stdin.xml", dir);
    gen_capture(path, 0, 1000, -1, -1);
    int saved = dup(STDIN_FILENO);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0 && saved >= 0);
    assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
    close(fd);
    const char *paths[] = {"-"};
    struct sw_errbuf eb;
    struct sw_pipeline_stats st;
    int rc = run(test_dets, 2, 2, 1024, paths, 1, NULL, &eb, &st);
    dup2(saved, STDIN_FILENO);
    close(saved);
    assert_int_equal(rc, 0);
    assert_int_equal(st.stanzas, 1000);
    assert_int_equal(check_once(0), 1000);
}

static void test_several_captures(void **state)
{
    (void)state;
    /* 12 parts: more streams than the reader's first allocation (8) */
    enum { PARTS = 12, PER = 170 };
    static char part[PARTS][128];
    const char *paths[PARTS];
    for (int i = 0; i < PARTS; i++) {
        snprintf(part[i], sizeof(part[i]), "%s/part%d.xml", dir, i);
        gen_capture(part[i], i * PER, PER, -1, -1);
        paths[i] = part[i];
    }
    const char *p1 = part[0];
    struct sw_errbuf eb;
    struct sw_pipeline_stats st;
    assert_int_equal(run(test_dets, 3, 2, 800, paths, PARTS, NULL, &eb, &st), 0);
    assert_int_equal(st.stanzas, PARTS * PER);
    assert_int_equal(check_once(0), PARTS * PER);
    /* sorted by seq: streams appear in order, never going back */
    struct collected *c = &col[0];
    for (size_t i = 1; i < c->n; i++) {
        assert_true(c->v[i].stream >= c->v[i - 1].stream);
    }
    assert_int_equal(c->v[0].stream, 0);
    assert_int_equal(c->v[c->n - 1].stream, PARTS - 1);
    /* a missing capture: the earlier ones are processed, then an error */
    const char *paths2[] = {p1, "/nonexistent/capture.xml"};
    int rc = run(test_dets, 2, 2, 800, paths2, 2, NULL, &eb, &st);
    assert_true(rc == SW_ENOENT || rc == SW_EIO);
    assert_non_null(strstr(eb.msg, "/nonexistent/capture.xml"));
    assert_int_equal(check_once(0), PER);
}

/* A tap that serves a capture in two parts and waits for the test between
 * them, so a reload lands at a known point of the stream. */
struct two_part_tap {
    char *data;
    size_t len, cut, pos;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go;
};

static int tp_read(void *ctx, char *buf, size_t cap, struct sw_tap_read *out, struct sw_errbuf *eb)
{
    struct two_part_tap *t = ctx;
    (void)eb;
    memset(out, 0, sizeof(*out));
    if (t->pos == t->len) {
        out->eof = true;
        return 0;
    }
    if (t->pos == t->cut) {
        pthread_mutex_lock(&t->mu);
        while (!t->go) {
            pthread_cond_wait(&t->cv, &t->mu);
        }
        pthread_mutex_unlock(&t->mu);
    }
    size_t end = t->pos < t->cut ? t->cut : t->len;
    size_t n = end - t->pos < cap ? end - t->pos : cap;
    memcpy(buf, t->data + t->pos, n);
    t->pos += n;
    out->stream = 0;
    out->name = "two-part";
    out->len = n;
    out->stream_end = t->pos == t->len;
    return 0;
}

struct run_arg {
    struct sw_pipeline *p;
    struct sw_tap_ops *tap;
    int rc;
    struct sw_errbuf eb;
};

static void *run_thread(void *arg)
{
    struct run_arg *a = arg;
    a->rc = sw_pipeline_run_tap(a->p, a->tap, &a->eb);
    return NULL;
}

static void test_reload(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/reload.xml", dir);
    gen_capture(path, 0, N_STANZAS, -1, -1);
    struct two_part_tap t;
    memset(&t, 0, sizeof(t));
    t.len = read_capture(path, &t.data);
    /* cut after the header and the first 1000 stanzas (one per line) */
    int nl = 0;
    for (t.cut = 0; t.cut < t.len && nl < 2 + 1000; t.cut++) {
        nl += t.data[t.cut] == '\n';
    }
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    struct sw_tap_ops tap = {.kind = "test", .read = tp_read, .ctx = &t};

    for (unsigned W = 1; W <= 4; W += 3) {
        struct agg_wiring aw;
        wire_aggregator(conf, &aw);
        struct sw_pipeline_opts po = {.conf = conf,
                                      .detectors = test_dets,
                                      .stage = &aw.stage,
                                      .threads = W,
                                      .parse_threads = 2,
                                      .batch_bytes = 1024};
        struct run_arg ra = {0};
        col_reset();
        atomic_store(&reload_calls, 0);
        atomic_store(&init_calls, 0);
        t.pos = 0;
        t.go = 0;
        assert_int_equal(sw_pipeline_new(&po, &ra.p, &ra.eb), 0);
        ra.tap = &tap;
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, run_thread, &ra), 0);
        /* wait until the workers processed the first part */
        struct sw_pipeline_stats st;
        do {
            sched_yield();
            sw_pipeline_get_stats(ra.p, &st);
        } while (st.det[0].events < 1000);
        assert_int_equal(st.det[0].events, 1000);
        struct sw_conf *c2 = NULL;
        struct sw_errbuf eb;
        assert_int_equal(sw_conf_load(NULL, &c2, &eb), 0);
        assert_int_equal(sw_pipeline_reload(ra.p, c2, &eb), 0); /* takes c2 */
        pthread_mutex_lock(&t.mu);
        t.go = 1;
        pthread_cond_broadcast(&t.cv);
        pthread_mutex_unlock(&t.mu);
        pthread_join(th, NULL);
        assert_int_equal(ra.rc, 0);
        sw_pipeline_get_stats(ra.p, &st);
        assert_int_equal(st.reloads, 1);
        /* troom has the hook: each worker adapted its local once; tsender has
         * none, nor has town: each worker re-created their locals (2 inits
         * per worker each) */
        assert_int_equal(atomic_load(&reload_calls), (int)W);
        assert_int_equal(atomic_load(&init_calls), (int)(W * 2 + W + W * 2));
        sw_pipeline_free(ra.p);
        unwire_aggregator(&aw, NULL);
        /* nothing lost or doubled across the switch */
        assert_int_equal(check_once(0), N_STANZAS);
        assert_int_equal(check_once(1), N_STANZAS / 2);
        assert_int_equal(check_once(2), N_STANZAS);
    }
    pthread_mutex_destroy(&t.mu);
    pthread_cond_destroy(&t.cv);
    free(t.data);
}

/* Reload under load: a thread reloads the configuration again and again while
 * parsers and workers run at full speed (test_reload above reloads only while
 * they are idle). Every stanza is still seen exactly once by each detector,
 * the generations switch mid-stream, and the hit stage (aggregator) adopts
 * the reloads on its own thread. Meant for the TSan build too. */
struct reloader {
    struct sw_pipeline *p;
    atomic_int stop;
    atomic_int done;
};

static void *reloader_main(void *arg)
{
    struct reloader *r = arg;
    while (!atomic_load(&r->stop)) {
        struct sw_conf *c = NULL;
        struct sw_errbuf eb = {{0}};
        if (sw_conf_load(NULL, &c, &eb) != 0 || sw_pipeline_reload(r->p, c, &eb) != 0) {
            break;
        }
        atomic_fetch_add(&r->done, 1);
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void test_reload_under_load(void **state)
{
    (void)state;
    enum { N = 40000 };
    char path[128];
    snprintf(path, sizeof(path), "%s/reload_load.xml", dir);
    gen_capture(path, 0, N, -1, -1);
    for (unsigned W = 2; W <= 4; W += 2) {
        struct agg_wiring aw;
        wire_aggregator(conf, &aw);
        struct sw_pipeline_opts po = {.conf = conf,
                                      .detectors = test_dets,
                                      .stage = &aw.stage,
                                      .threads = W,
                                      .parse_threads = 2,
                                      .batch_bytes = 2048};
        struct sw_pipeline *p = NULL;
        struct sw_errbuf eb = {{0}};
        col_reset();
        assert_int_equal(sw_pipeline_new(&po, &p, &eb), 0);
        struct reloader r = {.p = p};
        atomic_init(&r.stop, 0);
        atomic_init(&r.done, 0);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, reloader_main, &r), 0);
        const char *paths[] = {path};
        assert_int_equal(sw_pipeline_run(p, paths, 1, &eb), 0);
        atomic_store(&r.stop, 1);
        pthread_join(th, NULL);
        struct sw_pipeline_stats st;
        sw_pipeline_get_stats(p, &st);
        int done = atomic_load(&r.done);
        assert_true(done >= 2); /* reloads happened while the run lasted */
        assert_int_equal(st.reloads, (uint64_t)done);
        assert_true(st.agg.reloads >= 1); /* the aggregator adopted at least one */
        sw_pipeline_free(p);
        unwire_aggregator(&aw, NULL);
        assert_int_equal(check_once(0), N);
        assert_int_equal(check_once(1), N / 2);
        assert_int_equal(check_once(2), N);
    }
}

/* ---- live tap with queue_policy drop: a full parser queue drops, never blocks ---- */

static atomic_int gate_open; /* the gated detector blocks until the tap is drained */

static int tg_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    (void)settings;
    (void)eb;
    *shared = NULL;
    return 0;
}

static int tg_thread_init(const void *shared, void **local)
{
    (void)shared;
    *local = NULL;
    return 0;
}

static void tg_process(const void *shared, void *local, const struct sw_event *ev,
                       struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    (void)shared;
    (void)local;
    (void)ev;
    (void)out;
    (void)st;
    while (!atomic_load(&gate_open)) {
        sched_yield(); /* test only: stall the workers so the queues fill */
    }
}

static void tg_thread_fini(void *local)
{
    (void)local;
}

static const struct sw_detector_ops tgate_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "tgate",
    .events = SW_EV_ALL,
    .shard = SW_SHARD_SENDER,
    .setup = tg_setup,
    .thread_init = tg_thread_init,
    .process = tg_process,
    .expire = tc_expire,
    .thread_fini = tg_thread_fini,
    .teardown = tc_teardown,
};

struct live_tap {
    char *data;
    size_t len, pos;
};

static int lt_read(void *ctx, char *buf, size_t cap, struct sw_tap_read *out, struct sw_errbuf *eb)
{
    struct live_tap *t = ctx;
    (void)eb;
    memset(out, 0, sizeof(*out));
    if (t->pos == t->len) {
        atomic_store(&gate_open, 1); /* everything offered: let the workers go */
        out->eof = true;
        return 0;
    }
    size_t n = t->len - t->pos < cap ? t->len - t->pos : cap;
    memcpy(buf, t->data + t->pos, n);
    t->pos += n;
    out->name = "live";
    out->len = n;
    out->stream_end = t->pos == t->len;
    return 0;
}

static void test_live_drop(void **state)
{
    (void)state;
    char path[128], cpath[128];
    snprintf(path, sizeof(path), "%s/live.xml", dir);
    snprintf(cpath, sizeof(cpath), "%s/drop.yaml", dir);
    gen_capture(path, 0, N_STANZAS, -1, -1);
    struct sw_conf *dconf =
        conf_from_text(cpath, "engine:\n  queue_policy: drop\n  queue_batches: 4\n");
    struct sw_errbuf eb;

    struct live_tap t = {0};
    t.len = read_capture(path, &t.data);
    struct sw_tap_ops tap = {.kind = "live-test", .live = true, .read = lt_read, .ctx = &t};

    const struct sw_detector_ops *dets[] = {&tgate_ops, &tsender_ops, NULL};
    struct agg_wiring aw;
    wire_aggregator(dconf, &aw);
    struct sw_pipeline_opts po = {.conf = dconf,
                                  .detectors = dets,
                                  .stage = &aw.stage,
                                  .threads = 2,
                                  .parse_threads = 2,
                                  .batch_bytes = 512};
    struct sw_pipeline *p = NULL;
    col_reset();
    atomic_store(&gate_open, 0);
    assert_int_equal(sw_pipeline_new(&po, &p, &eb), 0);
    assert_int_equal(sw_pipeline_run_tap(p, &tap, &eb), 0);
    struct sw_pipeline_stats st;
    sw_pipeline_get_stats(p, &st);
    sw_pipeline_free(p);
    unwire_aggregator(&aw, NULL);
    free(t.data);
    sw_conf_free(dconf);
    /* the reader never blocked on the stalled parsers: it dropped chunks */
    assert_true(st.drops > 0);
    assert_true(st.stanzas_dropped > 0);
    assert_int_equal(st.stanzas + st.stanzas_dropped, N_STANZAS);
    /* what was not dropped was processed exactly once */
    assert_int_equal(check_once(0), N_STANZAS - st.stanzas_dropped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exactly_once),
        cmocka_unit_test(test_identical_output),
        cmocka_unit_test(test_observe_needs_peer_key),
        cmocka_unit_test(test_identical_output_swgen),
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_time_jump),
        cmocka_unit_test(test_junk_skipped),
        cmocka_unit_test(test_junk_kinds),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_several_captures),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_reload_under_load),
        cmocka_unit_test(test_live_drop),
        cmocka_unit_test(test_oversize),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
