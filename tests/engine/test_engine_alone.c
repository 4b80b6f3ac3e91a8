/*
 * test_engine_alone.c - the engine library without any detector or reporter
 * object: this program links sw_engine only (with core and text, which it
 * depends on), so it builds only while the engine names no detector,
 * registry or aggregator. It runs a real pipeline (2 parsers, 2 workers,
 * small batches) over a generated capture with a detector and a hit stage of
 * its own, and checks what the engine promises the stage: every hit once, in
 * strictly increasing ev_seq order, ticks in between, finish once at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sw/conf.h"
#include "sw/detector.h"
#include "sw/incident.h"
#include "sw/pipeline.h"
#include "sw/settings.h"
#include "sw/sw.h"

#define N_MSG 3000
#define BASE_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

/* A detector: one hit per message, keyed by sender. */
static int ea_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    (void)settings;
    (void)eb;
    *shared = NULL;
    return 0;
}

static int ea_thread_init(const void *shared, void **local)
{
    (void)shared;
    *local = NULL;
    return 0;
}

static void ea_process(const void *shared, void *local, const struct sw_event *ev,
                       struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    (void)shared;
    (void)local;
    struct sw_hit h;
    memset(&h, 0, sizeof(h));
    h.detector = "alone";
    h.symbol = "alone.msg";
    h.kind = "test";
    h.ev_seq = ev->seq;
    h.t_ms = ev->t_ms;
    h.weight_milli = 1000;
    snprintf(h.offender, sizeof(h.offender), "x@a.test");
    sw_hit_emit(out, &h);
    st->hits++;
}

static void ea_expire(const void *shared, void *local, int64_t now_ms, struct sw_detector_stats *st)
{
    (void)shared;
    (void)local;
    (void)now_ms;
    (void)st;
}

static void ea_thread_fini(void *local)
{
    (void)local;
}

static void ea_teardown(void *shared)
{
    (void)shared;
}

static const struct sw_detector_ops alone_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "alone",
    .description = "test: one hit per message",
    .events = SW_EV_MESSAGE,
    .shard = SW_SHARD_SENDER,
    .setup = ea_setup,
    .thread_init = ea_thread_init,
    .process = ea_process,
    .expire = ea_expire,
    .thread_fini = ea_thread_fini,
    .teardown = ea_teardown,
};

/* A hit stage recording what the engine hands it (aggregator thread only). */
struct rec_stage {
    uint64_t hits, ticks, finishes, out_of_order;
    uint64_t last_seq;
    int64_t finish_ms;
};

static void rs_hit(void *ctx, const struct sw_hit *hit)
{
    struct rec_stage *r = ctx;
    if (r->hits > 0 && hit->ev_seq <= r->last_seq) {
        r->out_of_order++;
    }
    r->last_seq = hit->ev_seq;
    r->hits++;
}

static void rs_tick(void *ctx, int64_t now_ms)
{
    (void)now_ms;
    ((struct rec_stage *)ctx)->ticks++;
}

static void rs_finish(void *ctx, int64_t now_ms)
{
    struct rec_stage *r = ctx;
    r->finishes++;
    r->finish_ms = now_ms;
}

static void rs_stats(const void *ctx, struct sw_aggregate_stats *st)
{
    st->hits = ((const struct rec_stage *)ctx)->hits;
}

static void test_pipeline_without_detectors_lib(void **state)
{
    (void)state;
    char path[] = "/tmp/test_engine_alone_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    assert_non_null(fp);
    fputs("<?xml version='1.0'?>\n<stream:stream xmlns='jabber:server' "
          "xmlns:stream='http://etherx.jabber.org/streams'>\n",
          fp);
    for (int i = 0; i < N_MSG; i++) {
        char ts[40];
        sw_fmt_time(BASE_MS + 700LL * i, ts, sizeof(ts));
        fprintf(fp,
                "<message from='u%d@a.test/r' to='v@b.test' type='chat' id='m%d'>"
                "<body>hello %d</body><delay xmlns='urn:xmpp:delay' stamp='%s'/></message>\n",
                i % 41, i, i, ts);
        if (i % 10 == 0) {
            fprintf(fp, "<presence from='u%d@a.test/r' to='w@b.test' type='subscribe'/>\n", i);
        }
    }
    fputs("</stream:stream>\n", fp);
    assert_int_equal(fclose(fp), 0);

    struct sw_errbuf eb = {{0}};
    struct sw_conf *conf = NULL;
    assert_int_equal(sw_settings_register(), 0);
    assert_int_equal(sw_conf_load(NULL, &conf, &eb), 0);
    const struct sw_detector_ops *const dets[] = {&alone_ops, NULL};
    struct rec_stage rec = {0};
    const struct sw_hit_stage stage = {
        .ctx = &rec, .hit = rs_hit, .tick = rs_tick, .finish = rs_finish, .get_stats = rs_stats};
    struct sw_pipeline_opts po = {.conf = conf,
                                  .detectors = dets,
                                  .stage = &stage,
                                  .threads = 2,
                                  .parse_threads = 2,
                                  .batch_bytes = 1024};
    struct sw_pipeline *p = NULL;
    assert_int_equal(sw_pipeline_new(&po, &p, &eb), 0);
    const char *paths[] = {path};
    assert_int_equal(sw_pipeline_run(p, paths, 1, &eb), 0);
    struct sw_pipeline_stats st;
    sw_pipeline_get_stats(p, &st);
    sw_pipeline_free(p);
    sw_conf_free(conf);
    unlink(path);

    assert_int_equal(rec.hits, N_MSG);
    assert_int_equal(rec.out_of_order, 0);
    assert_true(rec.ticks > 0); /* 35 min of stream time: ticks about once a second */
    assert_int_equal(rec.finishes, 1);
    assert_true(rec.finish_ms >= BASE_MS + 700LL * (N_MSG - 1));
    assert_int_equal(st.hits, N_MSG);
    assert_int_equal(st.agg.hits, N_MSG); /* read through the stage's get_stats */
    assert_int_equal(st.stanzas, N_MSG + N_MSG / 10);
}

/* Without a detector list the engine refuses to start (it has no registry). */
static void test_no_detector_list(void **state)
{
    (void)state;
    struct sw_errbuf eb = {{0}};
    struct sw_conf *conf = NULL;
    assert_int_equal(sw_conf_load(NULL, &conf, &eb), 0);
    struct sw_pipeline_opts po = {.conf = conf};
    struct sw_pipeline *p = NULL;
    assert_int_equal(sw_pipeline_new(&po, &p, &eb), SW_EINVAL);
    assert_null(p);
    sw_conf_free(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_without_detectors_lib),
        cmocka_unit_test(test_no_detector_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
