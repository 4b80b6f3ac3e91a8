/*
 * pipeline.c - set-up, detector generations (hot reload) and the control
 * loop of the replay pipeline (include/sw/pipeline.h). The reader thread is
 * in reader.c, the parser threads in parser.c, workers and the hit merge in
 * worker.c, counters in stats.c, the progress bar in progress.c.
 *
 * Design. Replay of one capture must not be bound to one parsing core, and the
 * incident output must be byte-identical for any thread count:
 *
 *   tap --bytes--> reader --chunk k--> parser k % P --batch k--> slot k % S
 *        (sw_split finds whole        (libxml2 SAX1,           (every worker
 *         top-level stanzas)           events packed)            reads every batch)
 *   worker w: events whose shard key it owns -> detectors -> hits (seq-tagged)
 *   aggregator thread: merges the W hit rings in (seq, detector, emission)
 *   order into the hit stage it was handed (struct sw_hit_stage: the
 *   command line wires reporter/aggregate.c there; the engine names none)
 *
 * - Reader: reads the capture into refcounted buffers of batch_bytes (+ room
 *   for one stanza carried over), runs sw_split over the new bytes and cuts
 *   chunks made of whole stanzas; the incomplete tail is copied into the next
 *   buffer. A stanza the splitter skips (oversize) ends a chunk, so a chunk is
 *   always a contiguous run of whole stanzas. Chunk k goes to parser k % P
 *   through an SPSC ring (blocking: replay never drops; a live tap with
 *   queue_policy drop counts and drops instead).
 * - Parser: one sw_xml per stream, fed that stream's header once, then its
 *   chunks; sw_xml_set_seq(k << 24) makes event seqs depend only on the chunk
 *   cut, which depends only on the bytes and batch_bytes, never on threads.
 *   Events are packed (sw_event_pack) into the parser's batch (arrays reused,
 *   grown only when a chunk needs more), then published into slot k % S of a
 *   disruptor-style ring: the slot's `turn` says whose move it is (see
 *   pipeline_int.h). The parser swaps its batch with the slot's old one, so it
 *   can parse ahead while the slot is busy.
 * - A parse error in chunk k: the batch carries the events before the error
 *   and the message; the workers process them, then ignore later batches; the
 *   reader stops reading; run() returns SW_EPARSE with "file:line:col: reason".
 * - Control thread (the caller of run): waits for the end, polling signals
 *   (SIGHUP reload, SIGUSR1 stats, SIGINT/SIGTERM stop) and drawing the
 *   progress bar about 5 times a second.
 *
 * Threading: all cross-thread state is in struct sw_pipeline (pipeline_int.h):
 * SPSC rings, slot turns, watermarks and the RCU-published detector
 * generation. Counters are single-writer relaxed atomics read by stats.c.
 */
#include "sw/pipeline.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urcu.h>

#include "pipeline_int.h"
#include "progress.h"
#include "sw/log.h"
#include "sw/settings.h"

#define PL_MAX_THREADS 64

/* ------------------------------------------------------------------ */
/* detector generations                                                */

static void pl_gen_free(struct sw_pipeline *p, struct pl_gen *g)
{
    if (g == NULL) {
        return;
    }
    for (size_t d = 0; d < g->n; d++) {
        if (g->enabled[d] && p->det[d]->teardown != NULL) {
            p->det[d]->teardown(g->shared[d]);
        }
    }
    if (g->own_conf) {
        sw_conf_free(g->conf);
    }
    free(g);
}

static int gen_build(struct sw_pipeline *p, struct sw_conf *conf, bool own, struct pl_gen **out,
                     struct sw_errbuf *eb)
{
    struct pl_gen *g = calloc(1, sizeof(*g));
    struct sw_errbuf deb;
    char section[160];
    int rc;
    if (g == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
    }
    g->conf = conf;
    g->n = p->n_det;
    g->id = ++p->gen_ids;
    for (size_t d = 0; d < p->n_det; d++) {
        const struct sw_detector_ops *ops = p->det[d];
        snprintf(section, sizeof(section), "detectors.%s", ops->name);
        const void *settings = sw_conf_section(conf, section);
        /* Settings structs start with `bool enabled` (detector.h). A detector
         * without a registered section (tests) runs with NULL settings. */
        bool on = settings == NULL ? true : *(const bool *)settings;
        if (!on) {
            continue;
        }
        deb.msg[0] = '\0';
        rc = ops->setup(settings, &g->shared[d], &deb);
        if (rc < 0) {
            sw_errbuf_set(eb, rc < 0 ? rc : SW_ECONF, "detector %s: %s", ops->name,
                          deb.msg[0] ? deb.msg : sw_strerror(rc));
            goto fail;
        }
        g->enabled[d] = true;
    }
    g->own_conf = own;
    *out = g;
    return 0;
fail:
    g->own_conf = false; /* the caller keeps @conf on error */
    pl_gen_free(p, g);
    return rc;
}

int sw_pipeline_reload(struct sw_pipeline *p, struct sw_conf *conf, struct sw_errbuf *eb)
{
    struct pl_gen *g = NULL;
    int rc = gen_build(p, conf, true, &g, eb);
    if (rc < 0) {
        SW_CNT_ADD(p->reload_errors, 1);
        return rc;
    }
    struct pl_gen *old = atomic_exchange_explicit(&p->gen, g, memory_order_acq_rel);
    /* Workers read the generation only inside rcu_read_lock() (one batch at a
     * time), so after the grace period nobody uses old's shared state. */
    synchronize_rcu();
    pl_gen_free(p, old);
    /* the hit stage (aggregator, outputs) adopts the new snapshot on its own
     * thread between two hits; until then this reference keeps it alive */
    sw_conf_ref(conf);
    sw_conf_free(atomic_exchange_explicit(&p->agg_next, conf, memory_order_acq_rel));
    if (atomic_load_explicit(&p->started, memory_order_acquire)) {
        sw_evcount_notify(&p->ec_agg);
        sw_evcount_notify(&p->ec_agg_wm);
    }
    SW_CNT_ADD(p->reloads, 1);
    return 0;
}

/* ------------------------------------------------------------------ */
/* set-up                                                              */

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : (unsigned)n;
}

static uint64_t *hash_list(const struct sw_conf_strlist *l)
{
    uint64_t *h = calloc(l->n ? l->n : 1, sizeof(*h));
    if (h == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++) {
        h[i] = sw_hash64_lower(l->v[i], strlen(l->v[i]));
    }
    return h;
}

/* The stage of a pipeline handed none: hits are counted, nothing else. */
static void no_hit(void *ctx, const struct sw_hit *hit)
{
    (void)ctx;
    (void)hit;
}

static void no_time(void *ctx, int64_t now_ms)
{
    (void)ctx;
    (void)now_ms;
}

int sw_pipeline_new(const struct sw_pipeline_opts *opts, struct sw_pipeline **out,
                    struct sw_errbuf *eb)
{
    struct sw_pipeline *p = NULL;
    int rc = SW_ENOMEM;
    if (opts == NULL || opts->conf == NULL || out == NULL) {
        return sw_errbuf_set(eb, SW_EINVAL, "pipeline: no configuration");
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
    }
    p->o = *opts;
    pthread_mutex_init(&p->err_mu, NULL);
    pthread_mutex_init(&p->done_mu, NULL);
    pthread_cond_init(&p->done_cv, NULL);

    p->eng = sw_conf_section(opts->conf, "engine");
    const struct sw_limits_settings *lim = sw_conf_section(opts->conf, "limits");
    const struct sw_muc_settings *muc = sw_conf_section(opts->conf, "muc");
    if (p->eng == NULL || lim == NULL || muc == NULL) {
        rc = sw_errbuf_set(eb, SW_ECONF,
                           "pipeline: sections engine/limits/muc not registered "
                           "(call sw_settings_register before sw_conf_load)");
        goto fail;
    }
    /* Thread layout. Explicit counts win. Automatic (both 0): a third of the
     * cores (rounded up) run detectors and the rest plus one parse, since
     * parsing is about two thirds of the CPU (perf, bench capture, one worker:
     * parsers 58%, worker 31%, reader 9%) and every worker reads every event
     * of every batch (it keeps the ones whose keys it owns), so a second
     * worker costs more than it gives until the detectors need it. On 2 cores:
     * 1 worker + 2 parsers took 5.4-5.8 s of CPU and 3.0-3.3 s wall on the
     * bench capture, 2 + 2 took 5.9-6.4 s and 3.3-3.5 s. A worker count given
     * without a parser count gets as many parsers, as before. */
    unsigned cores = online_cpus();
    bool w_auto = opts->threads == 0 && p->eng->threads <= 0;
    p->W = opts->threads         ? opts->threads
           : p->eng->threads > 0 ? (unsigned)p->eng->threads
                                 : (cores + 2) / 3;
    p->P = opts->parse_threads         ? opts->parse_threads
           : p->eng->parse_threads > 0 ? (unsigned)p->eng->parse_threads
           : w_auto                    ? cores - p->W + 1
                                       : p->W;
    if (w_auto && p->P > PL_MAX_THREADS) {
        p->P = PL_MAX_THREADS; /* a machine with more cores than a stage may have */
    }
    if (p->W > PL_MAX_THREADS || p->P > PL_MAX_THREADS) {
        rc = sw_errbuf_set(eb, SW_EINVAL, "pipeline: at most %d threads per stage", PL_MAX_THREADS);
        goto fail;
    }
    p->S = p->eng->queue_batches > 1 ? (unsigned)p->eng->queue_batches : 2u;
    if (p->S < p->P + 1) {
        p->S = p->P + 1; /* every parser can publish while the workers read one */
    }
    int64_t bb = opts->batch_bytes ? (int64_t)opts->batch_bytes : p->eng->batch_bytes;
    if (bb < 512) {
        bb = 512;
    }
    if (bb > (int64_t)64 << 20) {
        bb = (int64_t)64 << 20;
    }
    p->batch_bytes = (size_t)bb;
    p->tail_keep = (size_t)lim->max_stanza_bytes + 4096;
    p->buf_cap = p->batch_bytes + p->tail_keep;
    p->tick_ms = p->eng->tick_ms > 0 ? p->eng->tick_ms : 1000;
    p->max_jump_ms = p->eng->max_time_jump > 0 ? p->eng->max_time_jump : 600000;

    p->xopts.limits.max_depth = (uint32_t)lim->max_depth;
    p->xopts.limits.max_attr_bytes = (uint32_t)lim->max_attr_bytes;
    p->xopts.limits.max_text_bytes = (uint32_t)lim->max_text_bytes;
    p->xopts.limits.max_stanza_bytes = (uint32_t)lim->max_stanza_bytes;
    p->xopts.limits.body_keep = (uint32_t)lim->body_keep;
    p->muc_hashes = hash_list(&muc->services);
    p->server_hashes = hash_list(&muc->server_jids);
    if (p->muc_hashes == NULL || p->server_hashes == NULL) {
        rc = sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
        goto fail;
    }
    p->xopts.muc_domains = p->muc_hashes;
    p->xopts.n_muc_domains = muc->services.n;
    p->xopts.server_jids = p->server_hashes;
    p->xopts.n_server_jids = muc->server_jids.n;
    p->xopts.muc_prefixes = (const char *const *)muc->service_prefixes.v;
    p->xopts.n_muc_prefixes = muc->service_prefixes.n;

    const struct sw_detector_ops *const *list = opts->detectors;
    if (list == NULL) {
        rc = sw_errbuf_set(eb, SW_EINVAL, "pipeline: no detector list");
        goto fail;
    }
    for (size_t i = 0; list[i] != NULL; i++) {
        if (p->n_det == SW_PIPELINE_MAX_DETECTORS) {
            rc = sw_errbuf_set(eb, SW_EINVAL, "pipeline: more than %d detectors",
                               SW_PIPELINE_MAX_DETECTORS);
            goto fail;
        }
        if (list[i]->abi != SW_DETECTOR_ABI) {
            rc = sw_errbuf_set(eb, SW_EINVAL, "detector %s: ABI %u, engine expects %u",
                               list[i]->name, list[i]->abi, SW_DETECTOR_ABI);
            goto fail;
        }
        if ((list[i]->observe != NULL) != (list[i]->peer_key != NULL) ||
            (list[i]->observe != NULL && list[i]->key == NULL)) {
            rc = sw_errbuf_set(eb, SW_EINVAL, "detector %s: observe needs peer_key and key",
                               list[i]->name);
            goto fail;
        }
        p->det[p->n_det++] = list[i];
        p->fp_bodies = p->fp_bodies || (list[i]->events & SW_EV_MESSAGE) != 0;
    }
    struct pl_gen *g0 = NULL;
    rc = gen_build(p, (struct sw_conf *)opts->conf, false, &g0, eb);
    if (rc < 0) {
        goto fail;
    }
    atomic_store_explicit(&p->gen, g0, memory_order_release);
    if (opts->stage != NULL) {
        p->stage = *opts->stage;
    } else {
        p->stage = (struct sw_hit_stage){.hit = no_hit, .tick = no_time, .finish = no_time};
    }
    atomic_init(&p->abort_k, UINT64_MAX);
    atomic_init(&p->stop, false);
    atomic_init(&p->agg_next, NULL);
    atomic_init(&p->done, false);
    atomic_init(&p->started, false);
    *out = p;
    return 0;
fail:
    sw_pipeline_free(p);
    return rc;
}

void sw_pipeline_free(struct sw_pipeline *p)
{
    if (p == NULL) {
        return;
    }
    sw_conf_free(atomic_load(&p->agg_next));
    pl_gen_free(p, atomic_load_explicit(&p->gen, memory_order_acquire));
    free(p->muc_hashes);
    free(p->server_hashes);
    for (size_t i = 0; i < p->n_streams; i++) {
        if (p->streams[i] != NULL) {
            free(p->streams[i]->hdr);
            free(p->streams[i]);
        }
    }
    free(p->streams);
    free(p->slots);
    free(p->parsers);
    free(p->workers);
    pthread_mutex_destroy(&p->err_mu);
    pthread_mutex_destroy(&p->done_mu);
    pthread_cond_destroy(&p->done_cv);
    free(p);
}

void sw_pipeline_stop(struct sw_pipeline *p)
{
    atomic_store_explicit(&p->stop, true, memory_order_relaxed);
}

bool sw_pipeline_stopped(const struct sw_pipeline *p)
{
    return atomic_load_explicit(&p->stop, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* run                                                                 */

void sw_pipeline_block_signals(void)
{
    /* a peer or reader that goes away is an error return (EPIPE), never death */
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void control_poll_signals(struct sw_pipeline *p)
{
    sigset_t set;
    struct timespec zero = {0, 0};
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &zero);
        if (sig < 0) {
            return;
        }
        if (sig == SIGUSR1) {
            struct sw_pipeline_stats st;
            sw_pipeline_get_stats(p, &st);
            sw_pipeline_print_stats(&st, stderr);
        } else if (sig == SIGHUP) {
            struct sw_conf *c = NULL;
            struct sw_errbuf eb;
            eb.msg[0] = '\0';
            const struct sw_reload_hook *h = p->o.reload_hook;
            int rc = sw_conf_load(p->o.conf_path, &c, &eb);
            if (rc == 0 && h != NULL) {
                /* the caller's part first: it may refuse without side effects */
                rc = h->prepare(h->ctx, c, &eb);
                if (rc < 0) {
                    sw_conf_free(c);
                }
            }
            if (rc == 0) {
                rc = sw_pipeline_reload(p, c, &eb);
                if (rc < 0) {
                    sw_conf_free(c);
                }
                if (h != NULL) {
                    if (rc < 0) {
                        h->abort(h->ctx);
                    } else {
                        h->commit(h->ctx);
                    }
                }
            } else {
                SW_CNT_ADD(p->reload_errors, 1);
            }
            if (rc < 0) {
                sw_log_error("pipeline", "reload failed, keeping the running config: %s", eb.msg);
            } else {
                sw_log_info("pipeline", "reloaded %s",
                            p->o.conf_path ? p->o.conf_path : "(built-in defaults)");
            }
        } else {
            sw_log_info("pipeline", "signal %d: stopping after what was read", sig);
            sw_pipeline_stop(p);
            if (p->tap != NULL && p->tap->cancel != NULL) {
                p->tap->cancel(p->tap->ctx); /* an idle stdin must not keep us */
            }
        }
    }
}

static void control_loop(struct sw_pipeline *p)
{
    struct sw_progress prog;
    int64_t total = p->tap->size_hint ? p->tap->size_hint(p->tap->ctx) : -1;
    sw_progress_init(&prog, p->o.progress, total);
    bool poll = p->o.signals || prog.enabled;
    pthread_mutex_lock(&p->done_mu);
    while (!atomic_load_explicit(&p->done, memory_order_acquire)) {
        if (!poll) {
            pthread_cond_wait(&p->done_cv, &p->done_mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->done_cv, &p->done_mu, &ts);
        pthread_mutex_unlock(&p->done_mu);
        if (p->o.signals) {
            control_poll_signals(p);
        }
        if (prog.enabled) {
            struct sw_pipeline_stats st;
            sw_pipeline_get_stats(p, &st);
            uint64_t pos = p->tap->position ? p->tap->position(p->tap->ctx) : st.bytes;
            sw_progress_update(&prog, pos, st.stanzas);
        }
        pthread_mutex_lock(&p->done_mu);
    }
    pthread_mutex_unlock(&p->done_mu);
    sw_progress_clear(&prog);
}

static void run_cleanup(struct sw_pipeline *p)
{
    if (p->parsers != NULL) {
        for (unsigned i = 0; i < p->P; i++) {
            sw_ring_free(p->parsers[i].in);
            sw_ring_free(p->parsers[i].back);
            pl_batch_free(p->parsers[i].b);
            free(p->parsers[i].cbuf);
            p->parsers[i].cbuf = NULL;
        }
    }
    if (p->workers != NULL) {
        for (unsigned i = 0; i < p->W; i++) {
            sw_ring_free(p->workers[i].hits);
        }
    }
    if (p->slots != NULL) {
        for (unsigned i = 0; i < p->S; i++) {
            pl_batch_free(p->slots[i].b);
        }
    }
    /* parsers/workers/slots arrays stay until free: stats read them. */
}

int sw_pipeline_run_tap(struct sw_pipeline *p, struct sw_tap_ops *tap, struct sw_errbuf *eb)
{
    int rc = SW_ENOMEM;
    unsigned started_w = 0, started_p = 0;
    bool agg_started = false, rd_started = false;
    if (p->ran) {
        return sw_errbuf_set(eb, SW_EINVAL, "pipeline: run() called twice");
    }
    p->ran = true;
    p->tap = tap;
    /* a live tap's plain top-level stanzas are written by their senders: only
     * a mirror wrapper's stamp or arrival time dates them (engine/xml.c) */
    p->xopts.no_top_stamps = tap->live ? 1 : 0;
    SW_CNT_SET(p->t_start_ns, sw_mono_ns());
    sw_evcount_init(&p->ec_slots);
    sw_evcount_init(&p->ec_agg);
    sw_evcount_init(&p->ec_agg_wm);
    sw_evcount_init(&p->ec_bufs);
    p->slots = aligned_alloc(SW_CACHELINE, sizeof(*p->slots) * p->S);
    p->parsers = calloc(p->P, sizeof(*p->parsers));
    p->workers = aligned_alloc(SW_CACHELINE, sizeof(*p->workers) * p->W);
    if (p->slots == NULL || p->parsers == NULL || p->workers == NULL) {
        goto fail_alloc;
    }
    memset(p->slots, 0, sizeof(*p->slots) * p->S);
    memset(p->workers, 0, sizeof(*p->workers) * p->W);
    for (unsigned i = 0; i < p->S; i++) {
        atomic_init(&p->slots[i].turn, 2 * (uint64_t)i);
        atomic_init(&p->slots[i].remaining, 0);
        p->slots[i].b = pl_batch_new(p->batch_bytes);
        if (p->slots[i].b == NULL) {
            goto fail_alloc;
        }
    }
    size_t max_bufs = p->P * (PL_PARSER_QUEUE + 2) + 2;
    for (unsigned i = 0; i < p->P; i++) {
        struct pl_parser *ps = &p->parsers[i];
        ps->p = p;
        ps->idx = i;
        ps->cur_stream = -1;
        ps->b = pl_batch_new(p->batch_bytes);
        if (ps->b == NULL || sw_ring_new(sizeof(struct pl_chunk), PL_PARSER_QUEUE, &ps->in) < 0 ||
            sw_ring_new(sizeof(struct pl_buf *), max_bufs, &ps->back) < 0) {
            goto fail_alloc;
        }
    }
    size_t hq = p->eng->hit_queue > 16 ? (size_t)p->eng->hit_queue : 16;
    for (unsigned i = 0; i < p->W; i++) {
        struct pl_worker *w = &p->workers[i];
        w->p = p;
        w->idx = i;
        atomic_init(&w->wm, 0);
        atomic_init(&w->kicks, 0);
        if (sw_ring_new(sizeof(struct pl_rec), hq, &w->hits) < 0) {
            goto fail_alloc;
        }
    }
    atomic_store_explicit(&p->started, true, memory_order_release);
    /* Start consumers first so producers never wait on a thread not yet there. */
    if (pthread_create(&p->agg_th, NULL, pl_aggregator_main, p) != 0) {
        goto fail_start;
    }
    agg_started = true;
    for (; started_w < p->W; started_w++) {
        if (pthread_create(&p->workers[started_w].th, NULL, pl_worker_main,
                           &p->workers[started_w]) != 0) {
            goto fail_start;
        }
    }
    for (; started_p < p->P; started_p++) {
        if (pthread_create(&p->parsers[started_p].th, NULL, pl_parser_main,
                           &p->parsers[started_p]) != 0) {
            goto fail_start;
        }
    }
    if (pthread_create(&p->reader_th, NULL, pl_reader_main, p) != 0) {
        goto fail_start;
    }
    rd_started = true;
    control_loop(p);
    goto join;

fail_start:
    /* Cannot start every thread (the reader, started last, is not running).
     * Drain what did start: parsers get no chunk (their rings close), batch
     * 0 is an END published here, workers that never started are marked
     * done, and if the aggregator did not start we finish for it. */
    rc = SW_ENOMEM;
    pl_set_error(p, rc, "cannot start the pipeline threads");
    pl_request_abort(p, 0);
    for (unsigned i = 0; i < started_p; i++) {
        sw_ring_close(p->parsers[i].in);
    }
    for (unsigned i = started_w; i < p->W; i++) {
        atomic_store_explicit(&p->workers[i].wm, UINT64_MAX, memory_order_release);
        sw_ring_close(p->workers[i].hits);
    }
    p->slots[0].b->k = 0;
    p->slots[0].b->n = 0;
    p->slots[0].b->flags = PL_BATCH_END;
    atomic_store_explicit(&p->slots[0].remaining, p->W, memory_order_relaxed);
    atomic_store_explicit(&p->slots[0].turn, 1, memory_order_release);
    sw_evcount_notify(&p->ec_slots);
    sw_evcount_notify(&p->ec_agg);
    sw_evcount_notify(&p->ec_agg_wm);
    if (!agg_started) {
        atomic_store_explicit(&p->done, true, memory_order_release);
    }
    control_loop(p);
join:
    if (rd_started) {
        pthread_join(p->reader_th, NULL);
    }
    for (unsigned i = 0; i < started_p; i++) {
        pthread_join(p->parsers[i].th, NULL);
    }
    for (unsigned i = 0; i < started_w; i++) {
        pthread_join(p->workers[i].th, NULL);
    }
    if (agg_started) {
        pthread_join(p->agg_th, NULL);
    }
    SW_CNT_SET(p->t_end_ns, sw_mono_ns());
    run_cleanup(p);
    if (p->err_rc < 0) {
        return sw_errbuf_set(eb, p->err_rc, "%s", p->err);
    }
    return 0;

fail_alloc:
    run_cleanup(p);
    SW_CNT_SET(p->t_end_ns, sw_mono_ns());
    return sw_errbuf_set(eb, rc, "out of memory");
}

int sw_pipeline_run(struct sw_pipeline *p, const char *const *paths, size_t n, struct sw_errbuf *eb)
{
    struct sw_tap_ops tap;
    int rc = sw_tap_files_new(paths, n, &tap);
    if (rc < 0) {
        return sw_errbuf_set(eb, rc, "cannot open captures: %s", sw_strerror(rc));
    }
    rc = sw_pipeline_run_tap(p, &tap, eb);
    tap.close(tap.ctx);
    return rc;
}
