/*
 * pipeline.c - set-up, the reader thread, the parser threads and the control
 * loop of the replay pipeline (include/sw/pipeline.h). Workers and the hit
 * merge live in worker.c, counters in stats.c.
 *
 * Design. Replay of one capture must not be bound to one parsing core, and the
 * incident output must be byte-identical for any thread count:
 *
 *   tap --bytes--> reader --chunk k--> parser k % P --batch k--> slot k % S
 *        (sw_split finds whole        (libxml2 SAX2,           (every worker
 *         top-level stanzas)           events packed)            reads every batch)
 *   worker w: events whose shard key it owns -> detectors -> hits (seq-tagged)
 *   aggregator: merges the W hit rings in (seq, detector, emission) order
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

#define PL_PARSER_QUEUE 4 /* chunks queued per parser */
#define PL_MAX_THREADS 64

void pl_set_error(struct sw_pipeline *p, int rc, const char *msg)
{
    pthread_mutex_lock(&p->err_mu);
    if (p->err_rc == 0) {
        p->err_rc = rc;
        snprintf(p->err, sizeof(p->err), "%s", msg);
    }
    pthread_mutex_unlock(&p->err_mu);
}

void pl_request_abort(struct sw_pipeline *p, uint64_t k)
{
    uint64_t cur = atomic_load_explicit(&p->abort_k, memory_order_relaxed);
    while (k < cur && !atomic_compare_exchange_weak_explicit(
                          &p->abort_k, &cur, k, memory_order_acq_rel, memory_order_relaxed)) {
    }
}

/* ------------------------------------------------------------------ */
/* detector generations                                                */

static void gen_free(struct sw_pipeline *p, struct pl_gen *g)
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
    gen_free(p, g);
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
    struct pl_gen *old = rcu_xchg_pointer(&p->gen, g);
    /* Workers read the generation only inside rcu_read_lock() (one batch at a
     * time), so after the grace period nobody uses old's shared state. */
    synchronize_rcu();
    gen_free(p, old);
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

static uint64_t *hash_list(const struct sw_conf_strlist *l, bool domain_only)
{
    (void)domain_only;
    uint64_t *h = calloc(l->n ? l->n : 1, sizeof(*h));
    if (h == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++) {
        h[i] = sw_hash64_lower(l->v[i], strlen(l->v[i]));
    }
    return h;
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
    p->W = opts->threads ? opts->threads
                         : (p->eng->threads > 0 ? (unsigned)p->eng->threads : online_cpus());
    p->P = opts->parse_threads
               ? opts->parse_threads
               : (p->eng->parse_threads > 0 ? (unsigned)p->eng->parse_threads : p->W);
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

    p->xopts.limits.max_depth = (uint32_t)lim->max_depth;
    p->xopts.limits.max_attr_bytes = (uint32_t)lim->max_attr_bytes;
    p->xopts.limits.max_text_bytes = (uint32_t)lim->max_text_bytes;
    p->xopts.limits.max_stanza_bytes = (uint32_t)lim->max_stanza_bytes;
    p->xopts.limits.body_keep = (uint32_t)lim->body_keep;
    p->muc_hashes = hash_list(&muc->services, true);
    p->server_hashes = hash_list(&muc->server_jids, false);
    if (p->muc_hashes == NULL || p->server_hashes == NULL) {
        rc = sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
        goto fail;
    }
    p->xopts.muc_domains = p->muc_hashes;
    p->xopts.n_muc_domains = muc->services.n;
    p->xopts.server_jids = p->server_hashes;
    p->xopts.n_server_jids = muc->server_jids.n;

    const struct sw_detector_ops *const *list =
        opts->detectors ? opts->detectors : sw_registry_list();
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
        p->det[p->n_det++] = list[i];
    }
    struct pl_gen *g0 = NULL;
    rc = gen_build(p, (struct sw_conf *)opts->conf, false, &g0, eb);
    if (rc < 0) {
        goto fail;
    }
    rcu_assign_pointer(p->gen, g0);
    rc = sw_aggregate_new(opts->conf, opts->outputs, opts->n_outputs, &p->agg, eb);
    if (rc < 0) {
        goto fail;
    }
    atomic_init(&p->abort_k, UINT64_MAX);
    atomic_init(&p->stop, false);
    atomic_init(&p->done, false);
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
    if (p->agg != NULL) {
        sw_aggregate_free(p->agg);
    }
    gen_free(p, p->gen);
    free(p->muc_hashes);
    free(p->server_hashes);
    for (size_t i = 0; i < p->n_streams; i++) {
        free(p->streams[i].hdr);
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

/* ------------------------------------------------------------------ */
/* reader                                                              */

struct rd {
    struct sw_pipeline *p;
    uint64_t skip_oversize, skip_depth; /* totals of finished streams */
    struct pl_buf *pool;                /* free buffers */
    unsigned n_bufs, max_bufs;
    struct pl_buf *b; /* buffer being filled, NULL between streams */
    uint64_t b_off;   /* stream offset of b->data[0] */
    size_t b_len;
    struct sw_split *split;
    bool in_stream;
    uint16_t stream;
    const char *name;
    bool pend;
    uint64_t pend_start, pend_end;
    uint32_t pend_line, pend_stanzas;
    uint64_t consumed; /* stream offset before which no byte is needed */
    uint64_t k;
    int64_t arrival;
    int cb_rc;
    char cb_err[512];
};

static struct pl_buf *buf_alloc(size_t cap)
{
    struct pl_buf *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->data = malloc(cap);
    if (b->data == NULL) {
        free(b);
        return NULL;
    }
    b->cap = cap;
    atomic_init(&b->refs, 0);
    return b;
}

static void buf_destroy(struct pl_buf *b)
{
    if (b != NULL) {
        free(b->data);
        free(b);
    }
}

/* Drain the parsers' return rings into the pool; true if the pool is non-empty. */
static bool rd_collect(struct rd *r)
{
    struct sw_pipeline *p = r->p;
    for (unsigned i = 0; i < p->P; i++) {
        struct pl_buf *b;
        while (sw_ring_pop(p->parsers[i].back, &b, 1) == 1) {
            b->next = r->pool;
            r->pool = b;
        }
    }
    return r->pool != NULL;
}

static bool rd_any_returned(void *arg)
{
    struct sw_pipeline *p = arg;
    for (unsigned i = 0; i < p->P; i++) {
        if (sw_ring_count(p->parsers[i].back) > 0) {
            return true;
        }
    }
    return false;
}

static struct pl_buf *rd_get_buf(struct rd *r)
{
    while (!rd_collect(r)) {
        if (r->n_bufs < r->max_bufs) {
            struct pl_buf *b = buf_alloc(r->p->buf_cap);
            if (b == NULL) {
                return NULL;
            }
            r->n_bufs++;
            b->next = r->pool;
            r->pool = b;
            break;
        }
        sw_evcount_wait(&r->p->ec_bufs, rd_any_returned, r->p, 200, &r->p->wait_reader);
    }
    struct pl_buf *b = r->pool;
    r->pool = b->next;
    atomic_store_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

static void rd_put_buf(struct rd *r, struct pl_buf *b)
{
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        b->next = r->pool;
        r->pool = b;
    }
}

static void rd_dispatch(struct rd *r, struct pl_chunk *c)
{
    struct sw_pipeline *p = r->p;
    struct pl_parser *ps = &p->parsers[c->k % p->P];
    if (c->kind == PL_CHUNK_DATA && p->tap->live && p->eng->queue_policy == SW_QUEUE_DROP) {
        if (sw_ring_push(ps->in, c, 1) == 0) {
            /* Live tap, parsers behind: drop rather than stall the server. The
             * chunk number is reused, so the sequence stays gap-free. */
            SW_CNT_ADD(p->drops, 1);
            SW_CNT_ADD(p->stanzas_dropped, c->stanzas);
            rd_put_buf(r, c->buf);
            return;
        }
    } else {
        sw_ring_push_wait(ps->in, c, 1, &p->wait_reader);
    }
    r->k++;
    SW_CNT_ADD(p->chunks, 1);
}

static void rd_flush(struct rd *r)
{
    if (!r->pend) {
        return;
    }
    struct pl_chunk c = {0};
    c.k = r->k;
    c.kind = PL_CHUNK_DATA;
    c.buf = r->b;
    atomic_fetch_add_explicit(&r->b->refs, 1, memory_order_relaxed);
    c.off = (size_t)(r->pend_start - r->b_off);
    c.len = (size_t)(r->pend_end - r->pend_start);
    c.stream = r->stream;
    c.line = r->pend_line;
    c.stanzas = r->pend_stanzas;
    c.arrival_ms = r->arrival;
    r->pend = false;
    r->pend_stanzas = 0;
    rd_dispatch(r, &c);
}

static void rd_send_error(struct rd *r, int rc, const char *msg)
{
    struct pl_chunk c = {0};
    c.k = r->k;
    c.kind = PL_CHUNK_ERROR;
    c.stream = r->stream;
    c.err = strdup(msg);
    pl_set_error(r->p, rc, msg);
    rd_dispatch(r, &c);
}

static void rd_on_header(void *ud, uint64_t start, uint64_t end)
{
    struct rd *r = ud;
    struct sw_pipeline *p = r->p;
    if (r->cb_rc < 0) {
        return;
    }
    if (start < r->b_off) {
        r->cb_rc = SW_ELIMIT;
        snprintf(r->cb_err, sizeof(r->cb_err), "%s: stream header longer than %zu bytes", r->name,
                 p->tail_keep);
        return;
    }
    struct pl_stream *s = &p->streams[r->stream];
    free(s->hdr);
    s->hdr_len = (size_t)(end - start);
    s->hdr = malloc(s->hdr_len ? s->hdr_len : 1);
    if (s->hdr == NULL) {
        r->cb_rc = SW_ENOMEM;
        snprintf(r->cb_err, sizeof(r->cb_err), "out of memory");
        return;
    }
    memcpy(s->hdr, r->b->data + (start - r->b_off), s->hdr_len);
    r->consumed = end;
}

static bool rd_gap_is_space(const struct rd *r, uint64_t from, uint64_t to)
{
    const char *d = r->b->data;
    for (uint64_t i = from; i < to; i++) {
        char ch = d[i - r->b_off];
        if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') {
            return false;
        }
    }
    return true;
}

static void rd_on_stanza(void *ud, uint64_t start, uint64_t end, uint32_t line)
{
    struct rd *r = ud;
    if (r->cb_rc < 0) {
        return;
    }
    r->consumed = end;
    if (start < r->b_off) {
        /* Its start was dropped while carrying an over-long tail: the splitter
         * reports it although it is larger than we keep; skip it. */
        return;
    }
    if (r->pend && start != r->pend_end && !rd_gap_is_space(r, r->pend_end, start)) {
        rd_flush(r); /* something skipped in between (oversize stanza) */
    }
    if (!r->pend) {
        r->pend = true;
        r->pend_start = start;
        r->pend_line = line;
    }
    r->pend_end = end;
    if (++r->pend_stanzas == SW_SEQ_MAX_PER_CHUNK - 1) {
        rd_flush(r);
    }
}

static void rd_on_close(void *ud, uint64_t start, uint64_t end)
{
    struct rd *r = ud;
    (void)start;
    r->consumed = end;
}

static int rd_stream_begin(struct rd *r, const struct sw_tap_read *t)
{
    struct sw_pipeline *p = r->p;
    if (t->stream >= p->cap_streams) {
        size_t ncap = p->cap_streams ? p->cap_streams * 2 : 8;
        while (ncap <= t->stream) {
            ncap *= 2;
        }
        struct pl_stream *ns = realloc(p->streams, ncap * sizeof(*ns));
        if (ns == NULL) {
            return SW_ENOMEM;
        }
        memset(ns + p->cap_streams, 0, (ncap - p->cap_streams) * sizeof(*ns));
        p->streams = ns;
        p->cap_streams = ncap;
    }
    if (t->stream >= p->n_streams) {
        p->n_streams = (size_t)t->stream + 1;
    }
    p->streams[t->stream].name = t->name;
    struct sw_split_cb cb = {
        .header = rd_on_header, .stanza = rd_on_stanza, .close = rd_on_close, .ud = r};
    int rc = sw_split_new(&p->xopts.limits, &cb, &r->split);
    if (rc < 0) {
        return rc;
    }
    r->in_stream = true;
    r->stream = t->stream;
    r->name = t->name;
    r->consumed = 0;
    r->pend = false;
    r->pend_stanzas = 0;
    return 0;
}

/* Publish the splitter's skip counters (totals so far). */
static void rd_split_stats(struct rd *r, bool final)
{
    uint64_t o = 0, d = 0;
    if (r->split != NULL) {
        sw_split_stats(r->split, &o, &d);
    }
    SW_CNT_SET(r->p->split_oversize, r->skip_oversize + o);
    SW_CNT_SET(r->p->split_depth, r->skip_depth + d);
    if (final) {
        r->skip_oversize += o;
        r->skip_depth += d;
    }
}

static void rd_stream_end(struct rd *r)
{
    rd_split_stats(r, true);
    sw_split_free(r->split);
    r->split = NULL;
    r->in_stream = false;
    if (r->b != NULL) {
        rd_put_buf(r, r->b);
        r->b = NULL;
    }
}

/* The buffer is full: hand out the pending chunk, carry the tail over. */
static int rd_rotate(struct rd *r)
{
    rd_flush(r);
    struct pl_buf *nb = rd_get_buf(r);
    if (nb == NULL) {
        return SW_ENOMEM;
    }
    uint64_t end = r->b_off + r->b_len;
    uint64_t from = r->consumed > r->b_off ? r->consumed : r->b_off;
    if (end - from > r->p->tail_keep) {
        /* An element longer than any stanza we keep is in progress (the
         * splitter will skip it as oversize): keep only the bytes a stanza
         * that is not oversize could have started in. */
        from = end - r->p->tail_keep;
    }
    size_t tail = (size_t)(end - from);
    memcpy(nb->data, r->b->data + (from - r->b_off), tail);
    rd_put_buf(r, r->b);
    r->b = nb;
    r->b_off = from;
    r->b_len = tail;
    return 0;
}

static void *pl_reader_main(void *arg)
{
    struct sw_pipeline *p = arg;
    struct rd r = {0};
    struct sw_errbuf eb;
    char msg[1024];
    int rc = 0;
    r.p = p;
    r.max_bufs = p->P * (PL_PARSER_QUEUE + 2) + 2;
    for (;;) {
        if (atomic_load_explicit(&p->stop, memory_order_relaxed) ||
            atomic_load_explicit(&p->abort_k, memory_order_relaxed) != UINT64_MAX) {
            break;
        }
        if (r.b == NULL) {
            r.b = rd_get_buf(&r);
            if (r.b == NULL) {
                rc = SW_ENOMEM;
                snprintf(msg, sizeof(msg), "out of memory");
                break;
            }
            r.b_off = 0;
            r.b_len = 0;
        }
        struct sw_tap_read t;
        eb.msg[0] = '\0';
        /* One read of batch_bytes per buffer (after the carried tail): chunk
         * sizes depend only on the bytes, not on how the source delivers them. */
        size_t want = r.b->cap - r.b_len;
        if (want > p->batch_bytes) {
            want = p->batch_bytes;
        }
        rc = p->tap->read(p->tap->ctx, r.b->data + r.b_len, want, &t, &eb);
        if (rc < 0) {
            snprintf(msg, sizeof(msg), "%s", eb.msg[0] ? eb.msg : sw_strerror(rc));
            break;
        }
        if (t.eof) {
            break;
        }
        if (!r.in_stream) {
            rc = rd_stream_begin(&r, &t);
            if (rc < 0) {
                snprintf(msg, sizeof(msg), "%s: %s", t.name, sw_strerror(rc));
                break;
            }
        }
        SW_CNT_ADD(p->bytes, t.len);
        r.arrival = sw_wall_ms();
        eb.msg[0] = '\0';
        rc = sw_split_feed(r.split, r.b->data + r.b_len, t.len, &eb);
        r.b_len += t.len;
        rd_split_stats(&r, false);
        if (rc == 0 && r.cb_rc < 0) {
            rc = r.cb_rc;
            snprintf(msg, sizeof(msg), "%s", r.cb_err);
            break;
        }
        if (rc < 0) {
            rd_flush(&r);
            snprintf(msg, sizeof(msg), "%s:%s", r.name, eb.msg);
            break;
        }
        if (t.stream_end) {
            eb.msg[0] = '\0';
            rc = sw_split_finish(r.split, &eb);
            rd_flush(&r);
            if (rc < 0) {
                snprintf(msg, sizeof(msg), "%s:%s", r.name, eb.msg);
                break;
            }
            rd_stream_end(&r);
            continue;
        }
        rc = rd_rotate(&r); /* the chunk of this read goes out, the tail stays */
        if (rc < 0) {
            snprintf(msg, sizeof(msg), "out of memory");
            break;
        }
    }
    if (rc < 0) {
        if (rc == SW_EPARSE || rc == SW_ELIMIT) {
            rc = SW_EPARSE;
        }
        rd_send_error(&r, rc, msg);
    } else if (r.in_stream && r.pend) {
        rd_flush(&r); /* stopped: hand out what was read */
    }
    if (r.split != NULL) {
        rd_split_stats(&r, true);
        sw_split_free(r.split);
    }
    if (r.b != NULL) {
        rd_put_buf(&r, r.b);
    }
    struct pl_chunk end = {0};
    end.k = r.k;
    end.kind = PL_CHUNK_END;
    rd_dispatch(&r, &end);
    for (unsigned i = 0; i < p->P; i++) {
        sw_ring_close(p->parsers[i].in);
    }
    /* Wait for every buffer to come back before freeing the pool. */
    while (r.n_bufs > 0) {
        while (r.pool != NULL) {
            struct pl_buf *b = r.pool;
            r.pool = b->next;
            buf_destroy(b);
            r.n_bufs--;
        }
        if (r.n_bufs > 0 && !rd_collect(&r)) {
            sw_evcount_wait(&p->ec_bufs, rd_any_returned, p, 200, NULL);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* parsers                                                             */

static struct pl_batch *batch_new(size_t batch_bytes)
{
    struct pl_batch *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->cap = (uint32_t)(batch_bytes / 96 + 64);
    b->arena_cap = batch_bytes + batch_bytes / 2 + 4096;
    b->ev = malloc(b->cap * sizeof(*b->ev));
    b->arena = malloc(b->arena_cap);
    if (b->ev == NULL || b->arena == NULL) {
        free(b->ev);
        free(b->arena);
        free(b);
        return NULL;
    }
    return b;
}

static void batch_free(struct pl_batch *b)
{
    if (b != NULL) {
        free(b->ev);
        free(b->arena);
        free(b);
    }
}

static void rebase(const char **s, const char *old, size_t used, char *nw)
{
    if (*s >= old && *s < old + used) {
        *s = nw + (*s - old);
    }
}

/* Grow the arena (rare: a chunk with more text than batch_bytes * 1.5) and
 * move every string pointer of the events already packed. */
static int batch_grow_arena(struct pl_batch *b, size_t need)
{
    size_t ncap = b->arena_cap * 2;
    while (ncap < b->used + need) {
        ncap *= 2;
    }
    char *na = malloc(ncap);
    if (na == NULL) {
        return SW_ENOMEM;
    }
    memcpy(na, b->arena, b->used);
    for (uint32_t i = 0; i < b->n; i++) {
        struct sw_event *e = &b->ev[i];
        rebase(&e->from.text, b->arena, b->used, na);
        rebase(&e->to.text, b->arena, b->used, na);
        rebase(&e->id, b->arena, b->used, na);
        rebase(&e->body, b->arena, b->used, na);
        rebase(&e->subject, b->arena, b->used, na);
        rebase(&e->status, b->arena, b->used, na);
        rebase(&e->nick, b->arena, b->used, na);
    }
    free(b->arena);
    b->arena = na;
    b->arena_cap = ncap;
    return 0;
}

static void parser_on_event(void *ud, const struct sw_event *ev)
{
    struct pl_parser *ps = ud;
    struct pl_batch *b = ps->b;
    if (b->n == b->cap) {
        uint32_t ncap = b->cap * 2;
        struct sw_event *ne = realloc(b->ev, (size_t)ncap * sizeof(*ne));
        if (ne == NULL) {
            ps->rc = SW_ENOMEM;
            return;
        }
        b->ev = ne;
        b->cap = ncap;
    }
    size_t need = sw_event_text_size(ev);
    if (b->used + need > b->arena_cap && batch_grow_arena(b, need) < 0) {
        ps->rc = SW_ENOMEM;
        return;
    }
    b->used += sw_event_pack(ev, &b->ev[b->n], b->arena + b->used);
    b->n++;
}

static void parser_add_stats(struct sw_xml_stats *dst, const struct sw_xml_stats *s)
{
    dst->bytes += s->bytes;
    dst->stanzas += s->stanzas;
    for (int i = 0; i < 3; i++) {
        dst->by_kind[i] += s->by_kind[i];
    }
    dst->unwrapped += s->unwrapped;
    dst->carbons += s->carbons;
    dst->skipped_oversize += s->skipped_oversize;
    dst->skipped_depth += s->skipped_depth;
    dst->skipped_attr += s->skipped_attr;
    dst->skipped_unknown += s->skipped_unknown;
    dst->bad_stamps += s->bad_stamps;
    dst->parse_errors += s->parse_errors;
}

static void parser_publish_stats(struct pl_parser *ps)
{
    struct sw_xml_stats t = ps->xs;
    if (ps->x != NULL) {
        parser_add_stats(&t, sw_xml_stats(ps->x));
    }
    const uint64_t *src = (const uint64_t *)&t;
    uint64_t *dst = (uint64_t *)&ps->pub;
    for (size_t i = 0; i < sizeof(t) / sizeof(uint64_t); i++) {
        SW_CNT_SET(dst[i], src[i]);
    }
}

static void parser_drop_xml(struct pl_parser *ps)
{
    if (ps->x != NULL) {
        parser_add_stats(&ps->xs, sw_xml_stats(ps->x));
        sw_xml_free(ps->x);
        ps->x = NULL;
    }
    ps->cur_stream = -1;
}

static void parser_parse(struct pl_parser *ps, const struct pl_chunk *c)
{
    struct sw_pipeline *p = ps->p;
    struct pl_batch *b = ps->b;
    struct sw_errbuf eb;
    int rc;
    eb.msg[0] = '\0';
    if (ps->cur_stream != (int)c->stream) {
        const struct pl_stream *s = &p->streams[c->stream];
        parser_drop_xml(ps);
        rc = sw_xml_new(&p->xopts, parser_on_event, ps, &ps->x);
        if (rc < 0) {
            snprintf(b->err, sizeof(b->err), "%s: cannot create parser: %s", s->name,
                     sw_strerror(rc));
            goto fail;
        }
        sw_xml_set_stream(ps->x, c->stream, 1);
        rc = sw_xml_feed(ps->x, s->hdr, s->hdr_len, c->arrival_ms, &eb);
        if (rc < 0) {
            snprintf(b->err, sizeof(b->err), "%s:%s", s->name, eb.msg);
            goto fail;
        }
        ps->cur_stream = c->stream;
    }
    sw_xml_set_seq(ps->x, c->k << SW_SEQ_SHIFT);
    sw_xml_set_stream(ps->x, c->stream, c->line);
    rc = sw_xml_feed(ps->x, c->buf->data + c->off, c->len, c->arrival_ms, &eb);
    if (rc < 0) {
        snprintf(b->err, sizeof(b->err), "%s:%s", p->streams[c->stream].name, eb.msg);
        goto fail;
    }
    if (ps->rc < 0) {
        rc = ps->rc;
        snprintf(b->err, sizeof(b->err), "out of memory");
        goto fail;
    }
    return;
fail:
    b->flags |= PL_BATCH_ERROR;
    parser_drop_xml(ps); /* an instance is dead after an error */
    pl_set_error(p, rc == SW_ENOMEM ? SW_ENOMEM : SW_EPARSE, b->err);
    pl_request_abort(p, c->k + 1);
}

struct slot_wait {
    struct pl_slot *s;
    uint64_t turn;
};

static bool slot_turn_is(void *arg)
{
    struct slot_wait *w = arg;
    return atomic_load_explicit(&w->s->turn, memory_order_acquire) == w->turn;
}

void pl_slot_wait_readable(struct sw_pipeline *p, uint64_t k, struct sw_wait_stats *st)
{
    struct slot_wait w = {&p->slots[k % p->S], 2 * k + 1};
    sw_evcount_wait(&p->ec_slots, slot_turn_is, &w, 400, st);
}

static void parser_publish(struct pl_parser *ps)
{
    struct sw_pipeline *p = ps->p;
    uint64_t k = ps->b->k;
    struct slot_wait w = {&p->slots[k % p->S], 2 * k};
    sw_evcount_wait(&p->ec_slots, slot_turn_is, &w, 400, &ps->wait_out);
    struct pl_batch *old = w.s->b;
    w.s->b = ps->b;
    ps->b = old;
    atomic_store_explicit(&w.s->remaining, p->W, memory_order_relaxed);
    atomic_store_explicit(&w.s->turn, 2 * k + 1, memory_order_release);
    sw_evcount_notify(&p->ec_slots);
}

static void *pl_parser_main(void *arg)
{
    struct pl_parser *ps = arg;
    struct sw_pipeline *p = ps->p;
    struct pl_chunk c;
    while (sw_ring_wait_readable(ps->in, &ps->wait_in)) {
        sw_ring_pop(ps->in, &c, 1);
        struct pl_batch *b = ps->b;
        b->k = c.k;
        b->flags = 0;
        b->n = 0;
        b->used = 0;
        b->bytes = c.len;
        b->err[0] = '\0';
        if (c.kind == PL_CHUNK_END) {
            b->flags |= PL_BATCH_END;
        } else if (c.kind == PL_CHUNK_ERROR) {
            b->flags |= PL_BATCH_ERROR;
            snprintf(b->err, sizeof(b->err), "%s", c.err ? c.err : "error");
            ps->xs.parse_errors++;
            free(c.err);
        } else if (c.k < atomic_load_explicit(&p->abort_k, memory_order_acquire)) {
            parser_parse(ps, &c);
        }
        if (c.buf != NULL &&
            atomic_fetch_sub_explicit(&c.buf->refs, 1, memory_order_acq_rel) == 1) {
            sw_ring_push_wait(ps->back, &c.buf, 1, NULL);
            sw_evcount_notify(&p->ec_bufs);
        }
        parser_publish_stats(ps);
        parser_publish(ps);
        ps->batches++;
    }
    parser_drop_xml(ps);
    parser_publish_stats(ps);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* run                                                                 */

void sw_pipeline_block_signals(void)
{
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
            int rc = sw_conf_load(p->o.conf_path, &c, &eb);
            if (rc == 0) {
                rc = sw_pipeline_reload(p, c, &eb);
                if (rc < 0) {
                    sw_conf_free(c);
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
            batch_free(p->parsers[i].b);
        }
    }
    if (p->workers != NULL) {
        for (unsigned i = 0; i < p->W; i++) {
            sw_ring_free(p->workers[i].hits);
        }
    }
    if (p->slots != NULL) {
        for (unsigned i = 0; i < p->S; i++) {
            batch_free(p->slots[i].b);
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
    p->t_start_ns = sw_mono_ns();
    sw_evcount_init(&p->ec_slots);
    sw_evcount_init(&p->ec_agg);
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
        p->slots[i].b = batch_new(p->batch_bytes);
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
        ps->b = batch_new(p->batch_bytes);
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
        if (sw_ring_new(sizeof(struct pl_rec), hq, &w->hits) < 0) {
            goto fail_alloc;
        }
    }
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
    /* Cannot start every thread: stop before any chunk and drain. A thread
     * that never started cannot drain, so this path only ends cleanly when the
     * missing thread is the reader: feed END ourselves in that case. */
    rc = SW_ENOMEM;
    pl_set_error(p, rc, "cannot start threads");
    if (!rd_started && started_p == p->P && started_w == p->W && agg_started) {
        struct pl_chunk end = {0};
        end.kind = PL_CHUNK_END;
        sw_ring_push_wait(p->parsers[0].in, &end, 1, NULL);
        for (unsigned i = 0; i < p->P; i++) {
            sw_ring_close(p->parsers[i].in);
        }
        control_loop(p);
    } else {
        sw_log_error("pipeline", "cannot start threads; aborting");
        abort();
    }
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
    p->t_end_ns = sw_mono_ns();
    run_cleanup(p);
    if (p->err_rc < 0) {
        return sw_errbuf_set(eb, p->err_rc, "%s", p->err);
    }
    return 0;

fail_alloc:
    run_cleanup(p);
    p->t_end_ns = sw_mono_ns();
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
