/*
 * reader.c - the pipeline's reader thread (see engine/pipeline.c for the whole
 * design): pulls bytes from the tap into refcounted buffers, finds whole
 * top-level stanzas with sw_split, cuts chunks of whole stanzas and hands
 * chunk k to parser k % P.
 *
 * Buffers: one read of batch_bytes per buffer, after the tail carried over
 * from the previous one (an incomplete stanza, at most max_stanza_bytes +
 * 4 KB: a longer one is being skipped by the splitter as oversize, so only
 * its last bytes can matter). A chunk is a contiguous run of whole stanzas:
 * a gap that is not whitespace (a skipped stanza) ends it. Chunks borrow the
 * buffer (refcount); parsers send a buffer back through their return ring
 * when the last chunk cut from it is parsed. Chunk boundaries depend only on
 * the bytes and batch_bytes, so event seqs (chunk << 24 | index) do too.
 *
 * Oversize stanzas (over max_stanza_bytes, or nested deeper than
 * SW_SPLIT_HARD_DEPTH): the splitter skips them; the reader hands out a chunk
 * of its own with a small stand-in built from the stanza's head and tail
 * (pl_oversize_stub(): start tags, wrapper and recorder stamps), which the
 * parser turns into a minimal over-limit event. The head of an element that
 * outgrows the carried tail is saved when rd_rotate() drops its start.
 *
 * Live clock: a live tap's read() returns 0 bytes when nothing arrived (it
 * waits at most ~100 ms). Once the tap has been idle for the clock interval
 * (engine.tick_ms, clamped to 50 ms..1 s) the reader hands out a CLOCK chunk
 * (no bytes, arrival = wall clock now) every interval, so the workers can
 * move stream time on while the server is quiet (engine/worker.c). It is
 * best effort: when the parser's queue is full it is skipped (not a drop).
 * File taps never get one, so replay stays purely stream-time.
 *
 * Junk between stanzas (text, an unbalanced close tag, CDATA at the top
 * level) follows the malformed-stanza rule: reported "file:line:col: reason",
 * counted (malformed, so replay exits 3), skipped; the run goes on with the
 * next stanza (rd_on_junk()).
 *
 * Mapped captures (a regular file given by path, engine/capmap.c): the tap
 * hands out views of a read-only map of the file instead of read() copies,
 * in the same sizes, so the bytes, chunk boundaries and seqs are the same. A
 * buffer is then a view (map, off): rotating starts the next view at the
 * carried tail, which is contiguous, so nothing is copied. Views are queued
 * in stream order; when the oldest ones are back from every parser their
 * pages are dropped (MADV_DONTNEED), and the last view of a map unmaps it,
 * so at most the max_bufs views in flight are in our RSS, as with copies.
 * A file that shrinks under its map: the tap's size check before each view
 * ends the stream at the real end, or, shrunk after that check, the SIGBUS
 * handler zero-fills the rest of the map and the flag it sets stops any chunk
 * reaching past the real end (rd_map_ok()). Either way the complete stanzas
 * before the end are handed out, then an ERROR chunk "file: shrank ..." (an
 * unreadable capture, like a read error), counted in p->truncated.
 *
 * Errors (unreadable file, junk the splitter rejects, truncated stanza):
 * complete stanzas before the spot are still handed out, then an ERROR chunk
 * with "file:line:col: reason", then END. sw_pipeline_stop() and a parse
 * error found by a parser (abort_k) stop reading early; END always follows.
 *
 * Threading: the reader thread only, plus atomics documented in
 * pipeline_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include "capmap.h"
#include "pipeline_int.h"
#include "sw/log.h"

/* ------------------------------------------------------------------ */
/* reader                                                              */

struct rd {
    struct sw_pipeline *p;
    uint64_t skip_oversize, skip_depth; /* totals of finished streams */
    struct pl_buf *pool;                /* free buffers */
    struct pl_buf *mq_head, *mq_tail;   /* mapped views in stream order (not in pool) */
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
    uint32_t max_stanzas; /* per chunk: pl_batch_events_cap() */
    /* engine.skip_reflections: the pending chunk's stanza spans (struct
     * pl_chunk.spans), handed out with it */
    bool spans_on;
    uint32_t *spans;
    uint32_t n_spans, cap_spans;
    uint64_t consumed; /* stream offset before which no byte is needed */
    uint64_t fed;      /* stream offset of the end of the bytes fed to the splitter */
    char *head;        /* saved head of an element whose start was dropped (PL_HEAD_MAX) */
    size_t head_len;
    uint64_t head_start; /* its stream offset */
    uint64_t k;
    int64_t arrival;
    int64_t last_data_ms, last_clock_ms; /* live clock (wall ms) */
    int cb_rc;
    char cb_err[512];
};

static void buf_destroy(struct pl_buf *b)
{
    if (b != NULL) {
        free(b->store);
        free(b);
    }
}

/* A buffer's last reference is gone: a copy goes back to the pool; a view
 * waits until the views before it are back too, then its pages before the
 * next view's are dropped and its map reference released. */
static void rd_recycle(struct rd *r, struct pl_buf *b)
{
    if (b->map == NULL) {
        b->next = r->pool;
        r->pool = b;
        return;
    }
    b->returned = true;
    while (r->mq_head != NULL && r->mq_head->returned) {
        struct pl_buf *h = r->mq_head;
        struct pl_buf *n = h->qnext;
        r->mq_head = n;
        if (n == NULL) {
            r->mq_tail = NULL;
        }
        sw_capmap_drop(h->map, n != NULL && n->map == h->map && n->off < h->end ? n->off : h->end);
        sw_capmap_unref(h->map);
        h->map = NULL;
        h->data = NULL;
        h->next = r->pool;
        r->pool = h;
    }
}

/* Drain the parsers' return rings into the pool; true if the pool is non-empty. */
static bool rd_collect(struct rd *r)
{
    struct sw_pipeline *p = r->p;
    for (unsigned i = 0; i < p->P; i++) {
        struct pl_buf *b;
        while (sw_ring_pop(p->parsers[i].back, &b, 1) == 1) {
            rd_recycle(r, b);
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

/* A free buffer (refs 1): with bytes to read() into, or for a view of @map
 * (taking over the caller's reference) at stream offset @off. */
static struct pl_buf *rd_get_buf(struct rd *r, struct sw_capmap *map, const char *view,
                                 uint64_t off)
{
    while (!rd_collect(r)) {
        if (r->n_bufs < r->max_bufs) {
            struct pl_buf *b = calloc(1, sizeof(*b));
            if (b == NULL) {
                return NULL;
            }
            atomic_init(&b->refs, 0);
            r->n_bufs++;
            b->next = r->pool;
            r->pool = b;
            break;
        }
        sw_evcount_wait(&r->p->ec_bufs, rd_any_returned, r->p, 200, &r->p->wait_reader);
    }
    struct pl_buf *b = r->pool;
    if (map == NULL && b->store == NULL) {
        b->store = malloc(r->p->buf_cap);
        if (b->store == NULL) {
            return NULL;
        }
        b->cap = r->p->buf_cap;
    }
    r->pool = b->next;
    b->next = NULL;
    b->map = map;
    b->data = map != NULL ? (char *)view : b->store;
    if (map != NULL) {
        b->off = off;
        b->end = off;
        b->returned = false;
        b->qnext = NULL;
        if (r->mq_tail != NULL) {
            r->mq_tail->qnext = b;
        } else {
            r->mq_head = b;
        }
        r->mq_tail = b;
    }
    atomic_store_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

/* A mapped capture: false once the bytes before @end are no longer the
 * file's (it shrank and a SIGBUS zero-filled the rest of the map); the
 * capture then ends with an error (see the file comment). The flag is one
 * load; @stat also asks fstat() (for junk and splitter errors: the zeros the
 * kernel puts after the real end in its last page come before any SIGBUS). */
static bool rd_map_ok(struct rd *r, uint64_t end, bool stat)
{
    if (r->b == NULL || r->b->map == NULL || (!stat && !sw_capmap_faulted(r->b->map))) {
        return true;
    }
    uint64_t real;
    if (sw_capmap_intact(r->b->map, &real) || end <= real) {
        return true;
    }
    if (r->cb_rc >= 0) {
        if (sw_capmap_faulted(r->b->map)) {
            sw_log_info("engine", "%s: SIGBUS past its end: the rest of its map reads as zeros",
                        r->name);
        }
        r->cb_rc = SW_EIO;
        snprintf(r->cb_err, sizeof(r->cb_err), "%s: shrank to %llu bytes while being read", r->name,
                 (unsigned long long)real);
        SW_CNT_ADD(r->p->truncated, 1);
        if (r->fed > real) { /* bytes counts what was read: not the zeros */
            SW_CNT_SET(r->p->bytes, SW_CNT_GET(r->p->bytes) - (r->fed - real));
        }
    }
    return false;
}

static void rd_put_buf(struct rd *r, struct pl_buf *b)
{
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        rd_recycle(r, b);
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
            if (c->buf != NULL) {
                rd_put_buf(r, c->buf);
            }
            free(c->own);
            free(c->spans);
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
    if (!rd_map_ok(r, r->pend_end, false)) {
        r->pend = false;
        r->pend_stanzas = 0;
        r->n_spans = 0;
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
    c.st = r->p->streams[r->stream];
    c.line = r->pend_line;
    c.stanzas = r->pend_stanzas;
    c.arrival_ms = r->arrival;
    if (r->n_spans > 0) {
        /* (without memory the chunk is only parsed whole) */
        c.spans = malloc(sizeof(*c.spans) * 2 * r->n_spans);
        if (c.spans != NULL) {
            memcpy(c.spans, r->spans, sizeof(*c.spans) * 2 * r->n_spans);
            c.n_spans = r->n_spans;
        }
        r->n_spans = 0;
    }
    r->pend = false;
    r->pend_stanzas = 0;
    rd_dispatch(r, &c);
}

/* Live tap idle: a CLOCK chunk once per interval (see the file comment). */
static void rd_clock(struct rd *r, size_t got)
{
    struct sw_pipeline *p = r->p;
    int64_t now = sw_wall_ms();
    int64_t every = p->tick_ms < 50 ? 50 : p->tick_ms > 1000 ? 1000 : p->tick_ms;
    if (got > 0 || r->last_data_ms == 0) {
        r->last_data_ms = now;
        return;
    }
    if (now - r->last_data_ms < every || now - r->last_clock_ms < every) {
        return;
    }
    struct pl_chunk c = {0};
    c.k = r->k;
    c.kind = PL_CHUNK_CLOCK;
    c.stream = r->stream;
    c.arrival_ms = now;
    if (sw_ring_push(p->parsers[c.k % p->P].in, &c, 1) == 1) {
        r->k++;
        r->last_clock_ms = now;
    }
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
    if (r->cb_rc < 0 || !rd_map_ok(r, end, false)) {
        return;
    }
    if (start < r->b_off) {
        r->cb_rc = SW_ELIMIT;
        snprintf(r->cb_err, sizeof(r->cb_err), "%s: stream header longer than %zu bytes", r->name,
                 p->tail_keep);
        return;
    }
    struct pl_stream *s = p->streams[r->stream];
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

/* Remember a stanza of the pending chunk for the parser's reflection check
 * (offsets from pend_start). Out of memory: the chunk goes without spans. */
static void rd_add_span(struct rd *r, uint64_t start, uint64_t end)
{
    if (r->n_spans == UINT32_MAX) {
        return;
    }
    if (r->n_spans == r->cap_spans) {
        uint32_t cap = r->cap_spans ? r->cap_spans * 2 : 1024;
        uint32_t *s = realloc(r->spans, sizeof(*s) * 2 * cap);
        if (s == NULL) {
            r->spans_on = false;
            r->n_spans = 0;
            return;
        }
        r->spans = s;
        r->cap_spans = cap;
    }
    r->spans[2 * r->n_spans] = (uint32_t)(start - r->pend_start);
    r->spans[2 * r->n_spans + 1] = (uint32_t)(end - r->pend_start);
    r->n_spans++;
}

static void rd_on_stanza(void *ud, uint64_t start, uint64_t end, uint32_t line)
{
    struct rd *r = ud;
    if (r->cb_rc < 0 || !rd_map_ok(r, end, false)) {
        return; /* (past the real end of a shrunk map) */
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
    if (r->spans_on) {
        rd_add_span(r, start, end);
    }
    /* at most as many stanzas as a batch holds events without growing (and
     * far under the SW_SEQ_SHIFT bound): tiny stanzas cannot inflate batches */
    if (++r->pend_stanzas >= r->max_stanzas) {
        rd_flush(r);
    }
}

/* Junk between stanzas: what came before goes out as a chunk of its own,
 * the junk is logged (rate-limited like malformed stanzas) and counted. */
static void rd_on_junk(void *ud, uint64_t start, uint64_t end, uint32_t line, uint32_t col,
                       const char *reason)
{
    struct rd *r = ud;
    (void)start;
    if (r->cb_rc < 0 || !rd_map_ok(r, end, true)) {
        return; /* (zeros of a shrunk map are no junk) */
    }
    r->consumed = end;
    rd_flush(r);
    uint64_t n = SW_CNT_GET(r->p->split_junk) + 1;
    SW_CNT_SET(r->p->split_junk, n);
    if (n <= 100 || (n & (n - 1)) == 0) {
        sw_log_warn("engine", "%s:%u:%u: %s: junk between stanzas skipped (%llu so far)", r->name,
                    line, col, reason, (unsigned long long)n);
    }
}

/* A top-level element the splitter skips (oversize or too deep): hand out a
 * stand-in chunk so it still becomes a (minimal, over-limit) event. */
static void rd_on_skipped(void *ud, uint64_t start, uint64_t end, uint32_t line)
{
    struct rd *r = ud;
    if (r->cb_rc < 0 || !rd_map_ok(r, end, false)) {
        return;
    }
    r->consumed = end;
    const char *head = NULL;
    size_t hlen = 0;
    if (start >= r->b_off) {
        head = r->b->data + (start - r->b_off);
        hlen = end - start < PL_HEAD_MAX ? (size_t)(end - start) : PL_HEAD_MAX;
    } else if (r->head_len > 0 && r->head_start == start) {
        head = r->head;
        hlen = r->head_len;
    }
    if (head == NULL) {
        return; /* its start is gone (cannot happen unless it outgrew a buffer twice) */
    }
    uint64_t tfrom = start > r->b_off ? start : r->b_off;
    size_t tlen = end - tfrom < PL_TAIL_MAX ? (size_t)(end - tfrom) : PL_TAIL_MAX;
    const char *tail = r->b->data + (end - tlen - r->b_off);
    size_t cap = hlen + tlen + 256;
    char *stub = malloc(cap);
    if (stub == NULL) {
        return;
    }
    size_t n = pl_oversize_stub(head, hlen, tail, tlen, stub, cap);
    if (n == 0) {
        free(stub);
        return;
    }
    rd_flush(r); /* what came before goes first */
    struct pl_chunk c = {0};
    c.k = r->k;
    c.kind = PL_CHUNK_DATA;
    c.own = stub;
    c.own_len = n;
    c.len = n;
    c.stream = r->stream;
    c.st = r->p->streams[r->stream];
    c.line = line;
    c.stanzas = 1;
    c.arrival_ms = r->arrival;
    rd_dispatch(r, &c);
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
        struct pl_stream **ns = realloc(p->streams, ncap * sizeof(*ns));
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
    if (p->streams[t->stream] == NULL) {
        p->streams[t->stream] = calloc(1, sizeof(struct pl_stream));
        if (p->streams[t->stream] == NULL) {
            return SW_ENOMEM;
        }
    }
    p->streams[t->stream]->name = t->name;
    struct sw_split_cb cb = {.header = rd_on_header,
                             .stanza = rd_on_stanza,
                             .close = rd_on_close,
                             .skipped = rd_on_skipped,
                             .junk = rd_on_junk,
                             .ud = r};
    /* The configured max_depth is the parser's (an over-deep stanza becomes a
     * minimal over-limit event there); the splitter drops only what libxml2
     * would refuse anyway. */
    struct sw_xml_limits lim = p->xopts.limits;
    lim.max_depth = SW_SPLIT_HARD_DEPTH;
    int rc = sw_split_new(&lim, &cb, &r->split);
    if (rc < 0) {
        return rc;
    }
    r->in_stream = true;
    r->stream = t->stream;
    r->name = t->name;
    r->consumed = 0;
    r->pend = false;
    r->pend_stanzas = 0;
    r->n_spans = 0;
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
    uint64_t end = r->b_off + r->b_len;
    uint64_t from = r->consumed > r->b_off ? r->consumed : r->b_off;
    if (end - from > r->p->tail_keep) {
        /* An element longer than any stanza we keep is in progress (the
         * splitter will skip it as oversize): keep only the bytes a stanza
         * that is not oversize could have started in, and its head, for the
         * stand-in rd_on_skipped() builds. */
        const char *d = r->b->data + (from - r->b_off);
        const char *lt = memchr(d, '<', (size_t)(end - from));
        uint64_t st = lt != NULL ? from + (uint64_t)(lt - d) : UINT64_MAX;
        if (lt != NULL && r->consumed >= r->b_off && r->head != NULL) {
            /* (the first rotation of this element: its start is still here) */
            r->head_start = st;
            r->head_len = end - st < PL_HEAD_MAX ? (size_t)(end - st) : PL_HEAD_MAX;
            memcpy(r->head, lt, r->head_len);
        }
        from = end - r->p->tail_keep;
    }
    size_t tail = (size_t)(end - from);
    struct pl_buf *nb;
    if (r->b->map != NULL) {
        /* a view: the tail is already in place */
        sw_capmap_ref(r->b->map);
        nb = rd_get_buf(r, r->b->map, r->b->data + (from - r->b_off), from);
        if (nb == NULL) {
            sw_capmap_unref(r->b->map);
            return SW_ENOMEM;
        }
        nb->end = end;
    } else {
        nb = rd_get_buf(r, NULL, NULL, 0);
        if (nb == NULL) {
            return SW_ENOMEM;
        }
        memcpy(nb->data, r->b->data + (from - r->b_off), tail);
    }
    rd_put_buf(r, r->b);
    r->b = nb;
    r->b_off = from;
    r->b_len = tail;
    return 0;
}

void *pl_reader_main(void *arg)
{
    struct sw_pipeline *p = arg;
    struct rd r = {0};
    struct sw_errbuf eb;
    char msg[1024];
    int rc = 0;
    r.p = p;
    pl_thread_name("reader", -1);
    r.max_bufs = p->P * (PL_PARSER_QUEUE + 2) + 2;
    bool tap_stopped = false;
    r.head = malloc(PL_HEAD_MAX);
    r.head_start = UINT64_MAX;
    r.max_stanzas = pl_batch_events_cap(p->batch_bytes);
    if (r.max_stanzas > SW_SEQ_MAX_PER_CHUNK - 1) {
        r.max_stanzas = SW_SEQ_MAX_PER_CHUNK - 1;
    }
    r.spans_on = p->eng->skip_reflections;
    for (;;) {
        if (atomic_load_explicit(&p->abort_k, memory_order_relaxed) != UINT64_MAX) {
            break;
        }
        if (atomic_load_explicit(&p->stop, memory_order_relaxed)) {
            if (p->tap->stop == NULL) {
                break;
            }
            if (!tap_stopped) {
                p->tap->stop(p->tap->ctx); /* a live tap drains: read on until eof */
                tap_stopped = true;
            }
        }
        struct sw_tap_read t;
        eb.msg[0] = '\0';
        /* One read of batch_bytes per buffer (after the carried tail): chunk
         * sizes depend only on the bytes, not on how the source delivers them
         * (a view is cut the same). */
        size_t want = p->buf_cap - (r.b != NULL ? r.b_len : 0);
        if (want > p->batch_bytes) {
            want = p->batch_bytes;
        }
        const char *view = NULL;
        if (p->tap->view != NULL && (r.b == NULL || r.b->map != NULL)) {
            struct sw_capmap *vm = NULL;
            rc = p->tap->view(p->tap->ctx, want, &view, &vm, &t, &eb);
            if (rc < 0) {
                snprintf(msg, sizeof(msg), "%s", eb.msg[0] ? eb.msg : sw_strerror(rc));
                break;
            }
            rc = 0;
            if (view != NULL && r.b == NULL) {
                r.b = rd_get_buf(&r, vm, view, 0); /* a stream's first view */
                if (r.b == NULL) {
                    sw_capmap_unref(vm);
                    rc = SW_ENOMEM;
                    snprintf(msg, sizeof(msg), "out of memory");
                    break;
                }
                r.b_off = 0;
                r.b_len = 0;
            } else if (view != NULL) {
                sw_capmap_unref(vm); /* r.b's reference keeps it */
            }
        }
        if (view == NULL) {
            if (r.b == NULL) {
                r.b = rd_get_buf(&r, NULL, NULL, 0);
                if (r.b == NULL) {
                    rc = SW_ENOMEM;
                    snprintf(msg, sizeof(msg), "out of memory");
                    break;
                }
                r.b_off = 0;
                r.b_len = 0;
            }
            rc = p->tap->read(p->tap->ctx, r.b->data + r.b_len, want, &t, &eb);
            if (rc < 0) {
                snprintf(msg, sizeof(msg), "%s", eb.msg[0] ? eb.msg : sw_strerror(rc));
                break;
            }
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
        r.fed = r.b_off + r.b_len + t.len;
        rc = sw_split_feed(r.split, r.b->data + r.b_len, t.len, &eb);
        r.b_len += t.len;
        r.b->end = r.b_off + r.b_len;
        rd_split_stats(&r, false);
        if (!rd_map_ok(&r, r.b_off + r.b_len, rc < 0) && r.cb_rc < 0) {
            /* shrank under the splitter (its verdict on zeros is moot): the
             * complete stanzas before the real end go out, then the error */
            rd_flush(&r);
            rc = r.cb_rc;
            snprintf(msg, sizeof(msg), "%s", r.cb_err);
            break;
        }
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
        if (t.truncated) {
            rd_flush(&r); /* the complete stanzas before the real end */
            rc = r.cb_rc < 0 ? r.cb_rc : SW_EIO;
            if (r.cb_rc < 0) {
                snprintf(msg, sizeof(msg), "%s", r.cb_err);
            } else {
                snprintf(msg, sizeof(msg), "%s: shrank to %llu bytes while being read", r.name,
                         (unsigned long long)(r.b_off + r.b_len));
                SW_CNT_ADD(p->truncated, 1);
            }
            break;
        }
        if (t.stream_end && !rd_map_ok(&r, r.b_off + r.b_len, true)) {
            rd_flush(&r); /* shrank after the last view's size check */
            rc = r.cb_rc;
            snprintf(msg, sizeof(msg), "%s", r.cb_err);
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
        if (rc == 0 && p->tap->live) {
            rd_clock(&r, t.len);
        }
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
    free(r.head);
    free(r.spans);
    return NULL;
}
