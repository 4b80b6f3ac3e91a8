/*
 * worker.c - detector workers and the ordered hit merge (the aggregator
 * thread) of the replay pipeline; see engine/pipeline.c for the whole design.
 *
 * Workers. Every worker reads every batch, in sequence order, straight from
 * the shared slot (read-only, no copy), and runs detector d on an event only
 * if it owns the event's key for that detector (ev->key[ops->shard], or
 * ops->key(ev) when the detector routes by its own key):
 * owner = (mix(key) >> 32) * W >> 32. A key-routed detector with a second
 * routing key (ops->peer_key) also has observe() called on the peer key's
 * owner when that worker does not own the key (detector.h).
 * So each key's state lives on exactly one worker, without locks, and every
 * worker sees every event's time: all compute the same clamped stream time
 * (below) and call expire() at the same tick boundaries. A
 * slot is freed when the last of the W workers is done with it.
 *
 * Hits. A worker tags every hit with (event seq, detector index, emission
 * index) and pushes it to its own SPSC ring; worker 0 also pushes a tick
 * record (seq of the event that crossed a tick_ms boundary, sub 0) so ticks
 * sort before that event's hits. Hits a detector's timer() emits at a tick
 * (decisions due on stream time: a grace period over) take that event's seq
 * too and sort after the tick and before every process() hit of the event
 * (sub: tick 0 < timer (d + 1) << 16 | i < process PL_SUB_PROCESS | ...):
 * every worker ticks at the same events, so this order, like the rest, is
 * independent of W. After each batch a worker publishes a
 * watermark: every record it will still push has seq >= wm. The aggregator
 * merges the W rings: it takes the smallest head record unless some worker
 * with an empty ring has wm <= that record's seq (it might still push a
 * smaller one). Each ring is sorted, so the merged order is the total order
 * of (seq, detector, emission): independent of W and P, hence byte-identical
 * output. A record is never held back by a worker whose ring is full (a
 * non-empty ring is merged by its head), so back-pressure cannot deadlock.
 *
 * Waking the aggregator. Live, a worker wakes it after every push (hits and
 * ticks must not wait). Replay only needs the records eventually, and a wake
 * per hit cost a futex call and a context switch (the aggregator preempting
 * a worker) several thousand times a run: there a worker "kicks" (bumps its
 * kicks counter, then notifies) only when its ring is a quarter full, when it
 * is about to wait for its next batch (the pipeline is idle: catch up), and
 * at its end. The aggregator, with nothing it may merge, sleeps until some
 * worker kicks or ends (the kick signature is read before it looks at the
 * rings, so a kick it did not see wakes it at once); with a ring a quarter
 * full it waits for watermarks as live. A worker blocked on a full ring has
 * kicked on each push past a quarter, so this cannot deadlock either.
 *
 * Time: a stamp going backwards is clamped to stream time (windows never
 * break). A stamp more than engine.max_time_jump ahead of stream time (one
 * stanza stamped 2999-01-01 would freeze every window) is clamped to stream
 * time too, counted (time_clamped) and logged by worker 0 (at the 1st, 2nd,
 * 4th, 8th, ... occurrence); the jump is taken only when the far-ahead
 * events come from WK_JUMP_CONFIRM different senders in a row (a capture
 * resuming after a gap). Every worker sees every event, so all compute the
 * same clamped time and the output stays independent of W.
 *
 * Live clock: on a live tap stream time would only move when stanzas
 * arrive, so on a quiet server incidents would not close and expire() would
 * not run until traffic resumes. The reader hands out CLOCK batches while
 * the tap is idle (engine/reader.c). Each batch with events anchors
 * (stream time after it, wall clock of its arrival); a CLOCK batch moves
 * stream time to anchor + the wall time elapsed since, and ticks like an
 * event would (its tick record takes the batch's first seq). Relative, not
 * the absolute wall clock: a capture with old stamps streamed into a tap
 * still keeps its own timeline. All workers see the same batches, so all
 * compute the same time. Replay has no CLOCK batches and stays purely
 * stream-time (byte-identical output).
 *
 * Reload: at each batch boundary, inside rcu_read_lock(), a worker compares
 * the published generation with its own and switches its detectors' local
 * state (thread_reload, or thread_fini + thread_init when a detector has no
 * hook or the hook fails: state lost, counted).
 */
#include <stdlib.h>
#include <string.h>
#include <urcu.h>

#include "pipeline_int.h"
#include "sw/log.h"

struct wk_sink {
    struct sw_hit_sink s; /* first: emit() gets &s */
    struct pl_worker *w;
    uint64_t seq;
    uint32_t det;
    uint32_t emission;
    uint32_t sub_flag; /* PL_SUB_PROCESS for process() hits, 0 for timer() hits */
    uint64_t *hits;    /* per-detector hit counters, indexed by det (hits are rare) */
};

/* Make the aggregator look at the rings now (see "Waking the aggregator"). */
static void wk_kick(struct pl_worker *w)
{
    /* only this worker writes it; release pairs with the aggregator's acquire */
    atomic_store_explicit(&w->kicks, atomic_load_explicit(&w->kicks, memory_order_relaxed) + 1,
                          memory_order_release);
    sw_evcount_notify(&w->p->ec_agg);
    sw_evcount_notify(&w->p->ec_agg_wm);
}

/* After a push: live, at once; replay, once the ring is a quarter full. */
static void wk_pushed(struct pl_worker *w)
{
    if (w->p->tap->live || sw_ring_count(w->hits) >= sw_ring_capacity(w->hits) / 4) {
        wk_kick(w);
    }
}

static void wk_emit(struct sw_hit_sink *sink, const struct sw_hit *hit)
{
    struct wk_sink *k = (struct wk_sink *)sink;
    struct pl_worker *w = k->w;
    /* built in place in the ring: a record is ~1.3 KB */
    struct pl_rec *rec = sw_ring_reserve_wait(w->hits, &w->wait_hits);
    rec->seq = k->seq;
    rec->sub = k->sub_flag | ((k->det + 1) << 16) | (k->emission++ & 0xffffu);
    rec->kind = PL_REC_HIT;
    rec->t_ms = hit->t_ms;
    memcpy(rec->hit, hit, PL_HIT_HEAD);
    memcpy(rec->hit + offsetof(struct sw_hit, ev_seq), &k->seq, sizeof(k->seq));
    size_t ol = strnlen(hit->offender, sizeof(hit->offender) - 1);
    rec->off_long = NULL;
    if (ol < PL_OFF_INLINE) {
        memcpy(rec->hit + PL_HIT_HEAD, hit->offender, ol);
        rec->hit[PL_HIT_HEAD + ol] = '\0';
    } else {
        /* rare (a 256+ byte JID): a heap copy, freed by the aggregator; out
         * of memory leaves it "" (never reported) */
        rec->hit[PL_HIT_HEAD] = '\0';
        rec->off_long = malloc(ol + 1);
        if (rec->off_long != NULL) {
            memcpy(rec->off_long, hit->offender, ol);
            rec->off_long[ol] = '\0';
        }
    }
    k->hits[k->det]++;
    sw_ring_commit(w->hits, 1);
    wk_pushed(w);
}

static inline unsigned wk_owner(uint64_t key, unsigned W)
{
    /* splitmix64 finalizer, then multiply-shift into [0, W) */
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ull;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebull;
    key ^= key >> 31;
    return (unsigned)(((key >> 32) * W) >> 32);
}

#define WK_JUMP_CONFIRM 3

/* Stream time and a pending forward jump (see the file comment). */
struct wk_time {
    int64_t prev;   /* stream time, INT64_MIN before the first event */
    int64_t jump_t; /* time the pending far-ahead events agree on */
    uint64_t jump_from[WK_JUMP_CONFIRM];
    unsigned jump_n;
    int64_t anchor_t, anchor_wall; /* live clock: stream time / wall ms after the last events */
};

/* One enabled detector's dispatch record, rebuilt with the lists at each
 * generation switch: everything the per-event loop needs in one place (no
 * ops / shared / local / stats lookups per call). */
struct wk_call {
    void (*process)(const void *shared, void *local, const struct sw_event *ev,
                    struct sw_hit_sink *out, struct sw_detector_stats *st);
    uint64_t (*key)(const struct sw_event *ev); /* NULL: routed by shard (list) */
    uint64_t (*peer_key)(const struct sw_event *ev);
    void (*observe)(const void *shared, void *local, const struct sw_event *ev);
    void (*prefetch)(const void *shared, void *local, const struct sw_event *ev);
    const void *shared;
    void *local;
    struct sw_detector_stats *st;
    uint64_t *events;
    uint32_t d;
    bool last_own;     /* owner cache of the last routing key not among ev->key[] */
    uint64_t last_key; /* 0 = none (a routing key is never 0) */
};

struct wk_state {
    struct wk_time tm;
    uint64_t gen_id;
    bool enabled[SW_PIPELINE_MAX_DETECTORS];
    void *local[SW_PIPELINE_MAX_DETECTORS];
    struct sw_detector_stats st[SW_PIPELINE_MAX_DETECTORS];
    uint64_t events[SW_PIPELINE_MAX_DETECTORS];
    uint64_t hits[SW_PIPELINE_MAX_DETECTORS];
    /* per-kind dispatch lists of enabled detector indexes (kind bit 0..2) */
    uint32_t n_by_kind[3];
    uint8_t by_kind[3][SW_PIPELINE_MAX_DETECTORS];
    /* the same lists cut down, per set of shard keys this worker owns (bit
     * sh = key[sh] is mine): a shard-routed detector only where its shard's
     * bit is set, a key-routed one (ops->key) always. Index order kept, so
     * hits are pushed in (seq, detector) order as before. Pointers into
     * call[] (by detector index), NULL-terminated. */
    struct wk_call call[SW_PIPELINE_MAX_DETECTORS];
    struct wk_call *by_mask[3][1u << SW_SHARD__COUNT][SW_PIPELINE_MAX_DETECTORS + 1];
    /* the same lists with only the detectors that have a prefetch op */
    struct wk_call *pf_by_mask[3][1u << SW_SHARD__COUNT][SW_PIPELINE_MAX_DETECTORS + 1];
};

static void wk_rebuild_lists(struct sw_pipeline *p, struct wk_state *ws, const struct pl_gen *g)
{
    for (size_t d = 0; d < p->n_det; d++) {
        const struct sw_detector_ops *ops = p->det[d];
        struct wk_call *c = &ws->call[d];
        c->process = ops->process;
        c->key = ops->key;
        c->peer_key = ops->observe != NULL ? ops->peer_key : NULL;
        c->observe = ops->observe;
        c->prefetch = ops->prefetch;
        c->shared = g->shared[d];
        c->local = ws->local[d];
        c->st = &ws->st[d];
        c->events = &ws->events[d];
        c->d = (uint32_t)d;
        c->last_key = 0;
        c->last_own = false;
    }
    for (unsigned kb = 0; kb < 3; kb++) {
        ws->n_by_kind[kb] = 0;
        for (size_t d = 0; d < p->n_det; d++) {
            if (ws->enabled[d] && (p->det[d]->events & (1u << kb))) {
                ws->by_kind[kb][ws->n_by_kind[kb]++] = (uint8_t)d;
            }
        }
        for (unsigned m = 0; m < (1u << SW_SHARD__COUNT); m++) {
            uint8_t n = 0, npf = 0;
            for (uint32_t j = 0; j < ws->n_by_kind[kb]; j++) {
                unsigned d = ws->by_kind[kb][j];
                const struct sw_detector_ops *ops = p->det[d];
                if (ops->key != NULL || (m & (1u << ops->shard)) != 0) {
                    ws->by_mask[kb][m][n++] = &ws->call[d];
                    if (ops->prefetch != NULL) {
                        ws->pf_by_mask[kb][m][npf++] = &ws->call[d];
                    }
                }
            }
            ws->by_mask[kb][m][n] = NULL;
            ws->pf_by_mask[kb][m][npf] = NULL;
        }
    }
}

/* Adopt generation @g (caller holds rcu_read_lock). Returns 0 or SW_E*. */
static int wk_switch(struct pl_worker *w, struct wk_state *ws, const struct pl_gen *g, bool first)
{
    struct sw_pipeline *p = w->p;
    int rc = 0;
    for (size_t d = 0; d < p->n_det; d++) {
        const struct sw_detector_ops *ops = p->det[d];
        bool was = ws->enabled[d], now = g->enabled[d];
        if (was && now && !first) {
            int r = ops->thread_reload ? ops->thread_reload(g->shared[d], ws->local[d]) : -1;
            if (r == 0) {
                continue;
            }
            if (ops->thread_reload != NULL) {
                SW_CNT_ADD(w->reload_errors, 1);
            }
            ops->thread_fini(ws->local[d]);
            ws->local[d] = NULL;
            was = false;
        } else if (was && !now) {
            ops->thread_fini(ws->local[d]);
            ws->local[d] = NULL;
            ws->enabled[d] = false;
            continue;
        }
        if (now && !was) {
            int r = ops->thread_init(g->shared[d], &ws->local[d]);
            if (r < 0) {
                ws->enabled[d] = false;
                rc = r;
                continue;
            }
            ws->enabled[d] = true;
        }
    }
    ws->gen_id = g->id;
    wk_rebuild_lists(p, ws, g);
    return rc;
}

static void wk_publish_stats(struct pl_worker *w, const struct wk_state *ws)
{
    for (size_t d = 0; d < w->p->n_det; d++) {
        struct pl_det_counters *c = &w->det[d];
        SW_CNT_SET(c->events, ws->events[d]);
        SW_CNT_SET(c->hits, ws->hits[d]);
        SW_CNT_SET(c->keys, ws->st[d].keys);
        SW_CNT_SET(c->evictions, ws->st[d].evictions);
        SW_CNT_SET(c->expired, ws->st[d].expired);
        SW_CNT_SET(c->mem_bytes, ws->st[d].mem_bytes);
    }
}

static void wk_tick(struct pl_worker *w, struct wk_state *ws, const struct pl_gen *g, uint64_t seq,
                    int64_t t)
{
    struct sw_pipeline *p = w->p;
    if (w->idx == 0) {
        /* pushed before any timer() hit of this tick: the ring stays sorted */
        /* only the header: the aggregator reads nothing else of a tick */
        struct pl_rec *rec = sw_ring_reserve_wait(w->hits, &w->wait_hits);
        rec->seq = seq;
        rec->sub = 0;
        rec->kind = PL_REC_TICK;
        rec->t_ms = t;
        rec->off_long = NULL;
        sw_ring_commit(w->hits, 1);
        wk_pushed(w); /* live taps tick in real time: at once, so incidents close on time */
    }
    struct wk_sink sink;
    sink.s.emit = wk_emit;
    sink.s.ctx = &sink;
    sink.w = w;
    sink.seq = seq;
    sink.sub_flag = 0;
    sink.hits = ws->hits;
    for (size_t d = 0; d < p->n_det; d++) {
        if (ws->enabled[d]) {
            const struct sw_detector_ops *ops = p->det[d];
            ops->expire(g->shared[d], ws->local[d], t, &ws->st[d]);
            if (ops->timer != NULL) {
                sink.det = (uint32_t)d;
                sink.emission = 0;
                ops->timer(g->shared[d], ws->local[d], t, &sink.s, &ws->st[d]);
            }
        }
    }
}

/* Event time as the detectors see it: never backwards, never far ahead unless
 * confirmed. Returns the time; counts and (worker 0) logs a forward clamp. */
static int64_t wk_event_time(struct pl_worker *w, struct wk_time *tm, const struct sw_event *ev)
{
    int64_t t = ev->t_ms, prev = tm->prev, max_jump = w->p->max_jump_ms;
    if (prev == INT64_MIN) {
        return t;
    }
    if (t < prev) {
        return prev;
    }
    if (t - prev <= max_jump) {
        tm->jump_n = 0; /* in step with the stream: a pending jump is not confirmed */
        return t;
    }
    uint64_t who = ev->from.bare ? ev->from.bare : ev->from.domain;
    if (tm->jump_n > 0 && (t - tm->jump_t > max_jump || tm->jump_t - t > max_jump)) {
        tm->jump_n = 0; /* far ahead, but somewhere else */
    }
    if (tm->jump_n == 0) {
        tm->jump_t = t;
    }
    bool seen = false;
    for (unsigned i = 0; i < tm->jump_n; i++) {
        seen |= tm->jump_from[i] == who;
    }
    if (!seen && who != 0) {
        tm->jump_from[tm->jump_n++] = who;
    }
    if (tm->jump_n >= WK_JUMP_CONFIRM) {
        tm->jump_n = 0;
        return t; /* several senders agree: the stream really moved on */
    }
    uint64_t n = SW_CNT_GET(w->time_clamped) + 1;
    SW_CNT_SET(w->time_clamped, n);
    if (w->idx == 0 && (n & (n - 1)) == 0) {
        sw_log_warn("engine",
                    "event time %lld ms ahead of stream time (line %u of stream %u) clamped "
                    "to stream time; %llu so far",
                    (long long)(t - prev), (unsigned)ev->line, (unsigned)ev->stream,
                    (unsigned long long)n);
    }
    return prev;
}

/* A CLOCK batch (live taps, idle): stream time follows the wall clock from
 * the last anchor (see the file comment). */
static void wk_clock(struct pl_worker *w, struct wk_state *ws, const struct pl_gen *g,
                     const struct pl_batch *b, int64_t *next_tick)
{
    struct wk_time *tm = &ws->tm;
    if (tm->prev == INT64_MIN || tm->anchor_wall == 0 || b->arrival_ms <= tm->anchor_wall) {
        return;
    }
    int64_t t = tm->anchor_t + (b->arrival_ms - tm->anchor_wall);
    if (t <= tm->prev) {
        return;
    }
    tm->prev = t;
    if (t >= *next_tick) {
        wk_tick(w, ws, g, b->k << SW_SEQ_SHIFT, t);
        *next_tick = t - (t % w->p->tick_ms) + w->p->tick_ms;
    }
}

/* Does this worker own @key (non-zero), a detector's own routing key for
 * @ev? Mostly it is one of the event's shard keys (the sender, the
 * recipient), whose owners @mine already holds; else (e.g. wave's one
 * constant key) the last answer for the same key, else the hash. */
static inline bool wk_owns(struct wk_call *c, uint64_t key, const struct sw_event *ev,
                           unsigned mine, unsigned W, unsigned me)
{
    if (W == 1) {
        return true;
    }
    if (key == ev->key[SW_SHARD_SENDER]) {
        return (mine >> SW_SHARD_SENDER) & 1u;
    }
    if (key == ev->key[SW_SHARD_TARGET]) {
        return (mine >> SW_SHARD_TARGET) & 1u;
    }
    if (key != c->last_key) {
        c->last_key = key;
        c->last_own = wk_owner(key, W) == me;
    }
    return c->last_own;
}

#define WK_PREFETCH 8 /* events (240 bytes each) ahead that wk_process_batch prefetches */
/* Events ahead whose detectors are asked to prefetch (ops->prefetch). An
 * event takes a worker ~0.4 us on the bench capture, a miss ~0.1 us: 2 is
 * enough, and measured best on the bench capture (workers' perf samples in paired runs on a busy
 * machine, 2 and 3 rounds: 0, i.e. just before process(), took 2-9% more
 * than 2, and 4 took 4-5% more).
 * -DWK_AHEAD=N to measure another (N < WK_AHEAD_RING). */
#ifndef WK_AHEAD
#define WK_AHEAD 2
#endif
#define WK_AHEAD_RING 8 /* power of two > WK_AHEAD: the owned-keys masks computed ahead */
_Static_assert(WK_AHEAD < WK_AHEAD_RING, "an event's mask is overwritten before its turn");

/* Which of @ev's shard keys this worker owns (bit sh: ev->key[sh]): one hash
 * per shard kind, not per detector. Key 0 = no such key: never owned. */
static inline unsigned wk_mine(const struct sw_event *ev, unsigned W, unsigned me)
{
    unsigned mine = 0;
    for (unsigned sh = 0; sh < SW_SHARD__COUNT; sh++) {
        /* Branch-free (with W > 1 ownership is a coin toss per key, a
         * branch on it mispredicted half the time); W = 1 owns all. */
        uint64_t key = ev->key[sh];
        unsigned own = W == 1 ? 1u : (unsigned)(wk_owner(key, W) == me);
        mine |= ((unsigned)(key != 0) & own) << sh;
    }
    return mine;
}

/* Event @ev comes WK_AHEAD events later: compute which of its keys this
 * worker owns (returned, for its turn) and let the detectors that will
 * process it prefetch their table slots for it. Their tables (wave's
 * accounts and pairs, several MB) miss the cache on nearly every lookup;
 * prefetched this early, the misses overlap with the work on the events in
 * between instead of stalling the worker. Routing as in wk_process_batch. */
static unsigned wk_ahead(struct wk_state *ws, const struct sw_event *ev, unsigned W, unsigned me)
{
    unsigned kb = (unsigned)__builtin_ctz(ev->kind ? ev->kind : 1u);
    if (kb > 2 || ws->n_by_kind[kb] == 0) {
        return 0; /* skipped at its turn */
    }
    unsigned mine = wk_mine(ev, W, me);
    struct wk_call *const *list = ws->pf_by_mask[kb][mine];
    for (struct wk_call *c; (c = *list) != NULL; list++) {
        if (c->key != NULL) {
            uint64_t key = c->key(ev);
            if (key == 0 || !wk_owns(c, key, ev, mine, W, me)) {
                continue;
            }
        }
        c->prefetch(c->shared, c->local, ev);
    }
    return mine;
}

static void wk_process_batch(struct pl_worker *w, struct wk_state *ws, const struct pl_gen *g,
                             const struct pl_batch *b, int64_t *next_tick)
{
    struct sw_pipeline *p = w->p;
    const unsigned W = p->W, me = w->idx;
    if (b->flags & PL_BATCH_CLOCK) {
        wk_clock(w, ws, g, b, next_tick);
        return;
    }
    if (b->n > 0 && p->tap->live) {
        ws->tm.anchor_wall = b->arrival_ms; /* ws->tm.prev is set below */
    }
    struct wk_sink sink;
    sink.s.emit = wk_emit;
    sink.s.ctx = &sink;
    sink.w = w;
    sink.sub_flag = PL_SUB_PROCESS;
    sink.hits = ws->hits;
    unsigned ahead[WK_AHEAD_RING]; /* wk_ahead()'s masks, by event index */
    /* the next line of the batch's events to prefetch */
    const char *pf_line = (const char *)((uintptr_t)b->ev & ~(uintptr_t)(SW_CACHELINE - 1));
    for (uint32_t j = 0; j < WK_AHEAD && j < b->n; j++) {
        ahead[j] = wk_ahead(ws, &b->ev[j], W, me);
    }
    for (uint32_t i = 0; i < b->n; i++) {
        const struct sw_event *ev = &b->ev[i];
        struct sw_event clamped;
        /* every line of the event WK_PREFETCH ahead, each once: a parser on
         * the other core wrote the batch, the first read of each line missed
         * (an event is 240 bytes: its kind, keys and JIDs often lie in a line
         * after the one it starts in) */
        uint32_t pf_end = i + WK_PREFETCH < b->n ? i + WK_PREFETCH + 1 : b->n;
        for (; pf_line < (const char *)&b->ev[pf_end]; pf_line += SW_CACHELINE) {
            __builtin_prefetch(pf_line);
        }
        if (i + WK_AHEAD < b->n) {
            ahead[(i + WK_AHEAD) % WK_AHEAD_RING] = wk_ahead(ws, &b->ev[i + WK_AHEAD], W, me);
        }
        int64_t t = wk_event_time(w, &ws->tm, ev);
        if (t != ev->t_ms) {
            /* Backwards or far ahead: detectors see a monotonic, bounded
             * stream time. Copy only in that (rare) case. */
            clamped = *ev;
            clamped.t_ms = t;
            ev = &clamped;
        }
        ws->tm.prev = t;
        if (*next_tick == INT64_MIN) {
            *next_tick = t - (t % p->tick_ms) + p->tick_ms;
        } else if (t >= *next_tick) {
            wk_tick(w, ws, g, ev->seq, t);
            *next_tick = t - (t % p->tick_ms) + p->tick_ms;
        }
        unsigned kb = (unsigned)__builtin_ctz(ev->kind ? ev->kind : 1u);
        if (kb > 2) {
            continue;
        }
        if (ws->n_by_kind[kb] == 0) {
            continue;
        }
        /* Which of this event's keys does this worker own (computed
         * WK_AHEAD events before, by wk_ahead)? */
        unsigned mine = ahead[i % WK_AHEAD_RING];
        struct wk_call *const *list = ws->by_mask[kb][mine];
        sink.seq = ev->seq;
        for (struct wk_call *c; (c = *list) != NULL; list++) {
            if (c->key != NULL) {
                /* The detector's own routing key (e.g. the requester for both
                 * a subscribe and the answer to it); same owner function. */
                uint64_t key = c->key(ev);
                if (key == 0 || !wk_owns(c, key, ev, mine, W, me)) {
                    if (key != 0 && c->observe != NULL) {
                        /* not mine: maybe the other account of it is (detector.h) */
                        uint64_t peer = c->peer_key(ev);
                        if (peer != 0 && wk_owns(c, peer, ev, mine, W, me)) {
                            c->observe(c->shared, c->local, ev);
                        }
                    }
                    continue;
                }
            }
            sink.det = c->d;
            sink.emission = 0;
            (*c->events)++;
            c->process(c->shared, c->local, ev, &sink.s, c->st);
        }
    }
    ws->tm.anchor_t = ws->tm.prev;
}

void *pl_worker_main(void *arg)
{
    struct pl_worker *w = arg;
    struct sw_pipeline *p = w->p;
    struct wk_state *ws = calloc(1, sizeof(*ws));
    int64_t next_tick = INT64_MIN;
    bool aborted = false;
    pl_thread_name("work", (int)w->idx);
    rcu_register_thread();
    if (ws == NULL) {
        pl_set_error(p, SW_ENOMEM, "out of memory");
        pl_request_abort(p, 0);
        aborted = true;
    } else {
        ws->tm.prev = INT64_MIN;
        rcu_read_lock();
        int rc = wk_switch(w, ws, atomic_load_explicit(&p->gen, memory_order_acquire), true);
        rcu_read_unlock();
        if (rc < 0) {
            pl_set_error(p, rc, "detector thread_init failed");
            pl_request_abort(p, 0);
            aborted = true;
        }
    }
    for (uint64_t k = 0;; k++) {
        if (!p->tap->live &&
            atomic_load_explicit(&p->slots[k % p->S].turn, memory_order_acquire) != 2 * k + 1) {
            wk_kick(w); /* about to wait for input: let the aggregator catch up meanwhile */
        }
        pl_slot_wait_readable(p, k, &w->wait_in);
        struct pl_slot *s = &p->slots[k % p->S];
        const struct pl_batch *b = s->b;
        uint32_t flags = b->flags;
        if (!aborted) {
            rcu_read_lock();
            const struct pl_gen *g = atomic_load_explicit(&p->gen, memory_order_acquire);
            if (g->id != ws->gen_id && wk_switch(w, ws, g, false) < 0) {
                SW_CNT_ADD(w->reload_errors, 1);
            }
            wk_process_batch(w, ws, g, b, &next_tick);
            rcu_read_unlock();
            wk_publish_stats(w, ws);
            if (flags & PL_BATCH_ERROR) {
                /* Everything before the error is processed; later batches are
                 * only released. Every worker stops at the same batch. */
                aborted = true;
                pl_request_abort(p, k + 1);
            }
        }
        w->last_t = ws != NULL ? ws->tm.prev : INT64_MIN;
        atomic_store_explicit(&w->wm, (k + 1) << SW_SEQ_SHIFT, memory_order_release);
        /* Only an aggregator holding records back waits for watermarks; with
         * nobody waiting this is one fence and one load per batch. */
        sw_evcount_notify(&p->ec_agg_wm);
        if (atomic_fetch_sub_explicit(&s->remaining, 1, memory_order_acq_rel) == 1) {
            atomic_store_explicit(&s->turn, 2 * (k + p->S), memory_order_release);
            sw_evcount_notify(&p->ec_slots);
        }
        if (flags & PL_BATCH_END) {
            break;
        }
    }
    if (ws != NULL) {
        for (size_t d = 0; d < p->n_det; d++) {
            if (ws->enabled[d]) {
                p->det[d]->thread_fini(ws->local[d]);
            }
        }
        wk_publish_stats(w, ws);
        free(ws);
    }
    rcu_unregister_thread();
    atomic_store_explicit(&w->wm, UINT64_MAX, memory_order_release);
    sw_ring_close(w->hits);
    sw_evcount_notify(&p->ec_agg);
    sw_evcount_notify(&p->ec_agg_wm);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* aggregator: ordered merge of the workers' hit rings                 */

static inline bool rec_less(const struct pl_rec *a, const struct pl_rec *b)
{
    return a->seq < b->seq || (a->seq == b->seq && a->sub < b->sub);
}

struct agg_wait {
    struct sw_pipeline *p;
    uint64_t sig;
};

/* Anything that can unblock the merge changes this sum: ring contents or a
 * watermark. */
static uint64_t agg_signature(struct sw_pipeline *p)
{
    uint64_t sig = 0;
    for (unsigned i = 0; i < p->W; i++) {
        struct pl_worker *w = &p->workers[i];
        sig += atomic_load_explicit(&w->wm, memory_order_acquire);
        sig += sw_ring_count(w->hits) * 0x9e3779b97f4a7c15ull;
    }
    return sig;
}

static bool agg_changed(void *arg)
{
    struct agg_wait *a = arg;
    return agg_signature(a->p) != a->sig ||
           atomic_load_explicit(&a->p->agg_next, memory_order_acquire) != NULL;
}

static bool agg_record_or_end(void *arg)
{
    struct sw_pipeline *p = arg;
    bool all_done = true;
    if (atomic_load_explicit(&p->agg_next, memory_order_acquire) != NULL) {
        return true; /* a reload to hand to the stage */
    }
    for (unsigned i = 0; i < p->W; i++) {
        struct pl_worker *w = &p->workers[i];
        if (sw_ring_count(w->hits) > 0) {
            return true;
        }
        if (atomic_load_explicit(&w->wm, memory_order_acquire) != UINT64_MAX) {
            all_done = false;
        }
    }
    return all_done;
}

/* Replay: changes when a worker kicks (wk_kick) or ends. */
static uint64_t agg_kick_signature(struct sw_pipeline *p)
{
    uint64_t sig = 0;
    for (unsigned i = 0; i < p->W; i++) {
        struct pl_worker *w = &p->workers[i];
        sig += atomic_load_explicit(&w->kicks, memory_order_acquire);
        sig += atomic_load_explicit(&w->wm, memory_order_acquire) == UINT64_MAX ? 1ull << 48 : 0;
    }
    return sig;
}

static bool agg_kicked(void *arg)
{
    struct agg_wait *a = arg;
    return agg_kick_signature(a->p) != a->sig ||
           atomic_load_explicit(&a->p->agg_next, memory_order_acquire) != NULL;
}

void *pl_aggregator_main(void *arg)
{
    struct sw_pipeline *p = arg;
    const bool live = p->tap->live;
    pl_thread_name("aggregate", -1);
    for (;;) {
        /* a reload: the stage adopts it between two hits, on this thread */
        struct sw_conf *nc = atomic_exchange_explicit(&p->agg_next, NULL, memory_order_acq_rel);
        if (nc != NULL) {
            if (p->stage.reload != NULL) {
                p->stage.reload(p->stage.ctx, nc);
            }
            sw_conf_free(nc);
        }
        /* taken before looking at the rings: a change after the look wakes the wait below */
        uint64_t sig = agg_signature(p);
        uint64_t kick_sig = live ? 0 : agg_kick_signature(p);
        bool backed_up = false; /* replay: a ring at least a quarter full */
        const struct pl_rec *best = NULL;
        unsigned best_w = 0;
        uint64_t limit = UINT64_MAX; /* min wm of workers with an empty ring */
        bool all_done = true;
        for (unsigned i = 0; i < p->W; i++) {
            struct pl_worker *w = &p->workers[i];
            /* Watermark before ring: a record pushed before the wm store is
             * then visible, so "empty" really means "nothing below wm". */
            uint64_t wm = atomic_load_explicit(&w->wm, memory_order_acquire);
            size_t n;
            const struct pl_rec *head = sw_ring_peek(w->hits, &n);
            if (n == 0) {
                if (wm < limit) {
                    limit = wm;
                }
                if (wm != UINT64_MAX) {
                    all_done = false;
                }
                continue;
            }
            all_done = false;
            if (sw_ring_count(w->hits) >= sw_ring_capacity(w->hits) / 4) {
                backed_up = true;
            }
            if (best == NULL || rec_less(head, best)) {
                best = head;
                best_w = i;
            }
        }
        if (best != NULL && best->seq < limit) {
            if (best->kind == PL_REC_TICK) {
                p->stage.tick(p->stage.ctx, best->t_ms);
                SW_CNT_ADD(p->ticks, 1);
            } else {
                struct sw_hit h;
                memcpy(&h, best->hit, PL_HIT_HEAD);
                const char *off =
                    best->off_long != NULL ? best->off_long : (const char *)best->hit + PL_HIT_HEAD;
                size_t ol = strnlen(off, sizeof(h.offender) - 1);
                memcpy(h.offender, off, ol);
                h.offender[ol] = '\0';
                free(best->off_long);
                p->stage.hit(p->stage.ctx, &h);
                SW_CNT_ADD(p->hits, 1);
            }
            sw_ring_release(p->workers[best_w].hits, 1);
            continue;
        }
        if (all_done) {
            break;
        }
        struct agg_wait aw = {p, sig};
        if (!live) {
            if (backed_up) {
                /* held back by a worker's watermark with a ring filling up:
                 * look again at each watermark */
                sw_evcount_wait(&p->ec_agg_wm, agg_changed, &aw, 200, &p->wait_agg);
            } else {
                aw.sig = kick_sig;
                sw_evcount_wait(&p->ec_agg, agg_kicked, &aw, 200, &p->wait_agg);
            }
        } else if (best == NULL) {
            /* Nothing buffered: sleep until a record arrives or every worker
             * ends, not at every batch's watermark. */
            sw_evcount_wait(&p->ec_agg, agg_record_or_end, p, 200, &p->wait_agg);
        } else {
            sw_evcount_wait(&p->ec_agg_wm, agg_changed, &aw, 200, &p->wait_agg);
        }
    }
    /* Workers stored last_t before their final watermark (release). */
    int64_t last = p->workers[0].last_t;
    SW_CNT_SET(p->last_t, last);
    if (atomic_load_explicit(&p->stop, memory_order_relaxed) && p->stage.stop != NULL) {
        /* stopped (SIGTERM/SIGINT), not at the end of the input: the abuse
         * is not known to be over, so closes are marked at_stop (peers are
         * not told); a later run reports the offenders again if they go on */
        p->stage.stop(p->stage.ctx, last == INT64_MIN ? 0 : last);
    } else {
        p->stage.finish(p->stage.ctx, last == INT64_MIN ? 0 : last);
    }
    pthread_mutex_lock(&p->done_mu);
    atomic_store_explicit(&p->done, true, memory_order_release);
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->done_mu);
    return NULL;
}
