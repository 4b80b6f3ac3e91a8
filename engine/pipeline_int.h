/*
 * pipeline_int.h - internal layout shared by engine/pipeline.c (set-up, control
 * loop), reader.c, parser.c, worker.c (detector workers, hit merge), stats.c
 * and sync.c (thread names, errors, abort, slot waits). Not a contract: other modules use
 * include/sw/pipeline.h.
 */
#ifndef SW_PIPELINE_INT_H
#define SW_PIPELINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw/detector.h"
#include "sw/event.h"
#include "sw/incident.h"
#include "sw/pipeline.h"
#include "sw/ring.h"
#include "sw/settings.h"
#include "sw/tap.h"
#include "sw/xml.h"

#define SW_CACHELINE 64
/* Event seq = chunk index << SW_SEQ_SHIFT | index in chunk. */
#define SW_SEQ_SHIFT 24
#define SW_SEQ_MAX_PER_CHUNK ((uint64_t)1 << SW_SEQ_SHIFT)

/* Counters one thread writes and the stats reader reads concurrently:
 * relaxed atomic load + store (no locked instruction: a single writer). */
#define SW_CNT_ADD(x, n)                                                                           \
    __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define SW_CNT_SET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define SW_CNT_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* ---- reader -> parser ---- */
/* A capture buffer, refcounted by the chunks cut from it (+1 while the reader
 * fills it). Returned to the reader's pool when the count drops to 0. */
struct pl_buf {
    char *data; /* store, or a view of map */
    size_t cap;
    _Atomic int refs;
    struct pl_buf *next; /* pool free list (reader only) */
    /* reader only: */
    char *store;           /* malloc'd bytes (cap), NULL until a read() needs them */
    struct sw_capmap *map; /* a mapped capture's view (holds a reference), else NULL */
    uint64_t off, end;     /* mapped: stream offsets of data[0] and of the end */
    struct pl_buf *qnext;  /* mapped: the reader's queue of views in stream order */
    bool returned;         /* mapped: refs reached 0, waits for the views before it */
};

/* PL_CHUNK_CLOCK (live taps only): no bytes; the source was idle and
 * arrival_ms is the wall clock now (see "Live clock" in engine/worker.c). */
enum pl_chunk_kind { PL_CHUNK_DATA = 0, PL_CHUNK_ERROR, PL_CHUNK_END, PL_CHUNK_CLOCK };

struct pl_chunk {
    uint64_t k; /* chunk sequence number */
    int kind;   /* enum pl_chunk_kind */
    struct pl_buf *buf;
    size_t off, len; /* whole stanzas: buf->data[off, off + len) */
    uint16_t stream;
    const struct pl_stream *st; /* header and name (stable until sw_pipeline_free) */
    uint32_t line;              /* line of the first byte in its capture */
    uint32_t stanzas;
    int64_t arrival_ms;
    char *err; /* PL_CHUNK_ERROR: "file:line:col: reason", owned by the chunk */
    char *own; /* instead of buf: a stand-in for an oversize stanza (pl_oversize_stub()),
                * owned by the chunk; its event is flagged over-limit */
    size_t own_len;
    /* engine.skip_reflections: the chunk's stanzas as [start, end) offsets
     * from off (2 * n_spans, owned by the chunk), so the parser can leave MUC
     * reflections out (engine/reflect.c); NULL when not collected */
    uint32_t *spans;
    uint32_t n_spans;
};

/* Per stream: the header bytes every parser feeds first. */
struct pl_stream {
    char *hdr;
    size_t hdr_len;
    const char *name;
};

/* ---- parser -> workers ---- */
enum pl_batch_flag { PL_BATCH_END = 1u << 0, PL_BATCH_ERROR = 1u << 1, PL_BATCH_CLOCK = 1u << 2 };

struct pl_batch {
    uint64_t k;
    uint32_t flags;
    uint32_t n, cap;    /* events */
    int64_t arrival_ms; /* wall clock when the chunk's bytes were read (PL_BATCH_CLOCK: now) */
    struct sw_event *ev;
    char *arena;
    size_t used, arena_cap;
    uint64_t bytes;
    char err[768];
};

/* Slot k % S of the ordered batch ring. turn == 2k: the parser of batch k may
 * publish; turn == 2k + 1: batch k readable; the last of the W workers to
 * finish sets turn = 2(k + S). */
struct pl_slot {
    _Alignas(SW_CACHELINE) _Atomic uint64_t turn;
    _Atomic uint32_t remaining;
    struct pl_batch *b;
};

/* ---- workers -> aggregator ---- */
enum pl_rec_kind { PL_REC_HIT = 0, PL_REC_TICK = 1 };

/* A hit travels as the bytes of struct sw_hit before its offender (the last
 * member) plus the offender inline when shorter than PL_OFF_INLINE, else in a
 * heap copy (rare: JIDs of 256+ bytes) the aggregator frees: a record stays
 * ~1.3 KB, not 3 KB, and the W rings of hit_queue records stay small. */
#define PL_OFF_INLINE 256
#define PL_HIT_HEAD offsetof(struct sw_hit, offender)

#define PL_SUB_PROCESS (1u << 24) /* above (SW_PIPELINE_MAX_DETECTORS + 1) << 16 */

struct pl_rec {
    uint64_t seq; /* event seq */
    uint32_t sub; /* 0: tick; a timer() hit: (detector index + 1) << 16 | emission index;
                   * a process() hit: the same | PL_SUB_PROCESS (after the timer hits) */
    uint32_t kind;
    int64_t t_ms;
    char *off_long; /* the offender when it does not fit inline (owned), else NULL */
    _Alignas(8) unsigned char hit[PL_HIT_HEAD + PL_OFF_INLINE];
};

/* A detector configuration generation (published with RCU). */
struct pl_gen {
    uint64_t id;
    struct sw_conf *conf; /* owned when own_conf */
    bool own_conf;
    size_t n;
    bool enabled[SW_PIPELINE_MAX_DETECTORS];
    void *shared[SW_PIPELINE_MAX_DETECTORS];
};

struct pl_det_counters {
    uint64_t events, hits, keys, evictions, expired, mem_bytes;
};

struct pl_worker {
    struct sw_pipeline *p;
    unsigned idx;
    pthread_t th;
    struct sw_ring *hits;                       /* SPSC to the aggregator */
    _Alignas(SW_CACHELINE) _Atomic uint64_t wm; /* future records have seq >= wm */
    _Atomic uint64_t kicks; /* replay: bumped when the aggregator should look (see worker.c) */
    struct sw_wait_stats wait_in, wait_hits;
    struct pl_det_counters det[SW_PIPELINE_MAX_DETECTORS]; /* published per batch */
    uint64_t reload_errors;
    uint64_t time_clamped; /* events held back from a far-ahead jump */
    int64_t last_t;
    int rc;
};

struct pl_parser {
    struct sw_pipeline *p;
    unsigned idx;
    pthread_t th;
    struct sw_ring *in;   /* chunks from the reader */
    struct sw_ring *back; /* consumed buffers back to the reader (struct pl_buf *) */
    struct pl_batch *b;   /* batch being filled (swapped with a slot's) */
    struct sw_xml *x;
    int cur_stream; /* stream x was fed the header of, -1 none */
    bool skip_ok;   /* that stream's MUC reflections may be left out (parser_open()) */
    char *cbuf;     /* a chunk without its reflections (parser_compact()) */
    size_t cbuf_cap;
    struct sw_wait_stats wait_in, wait_out;
    struct sw_xml_stats xs;  /* totals of finished sw_xml instances */
    struct sw_xml_stats pub; /* published snapshot (SW_CNT_*) */
    uint64_t batches;
    int rc;
};

struct sw_pipeline {
    struct sw_pipeline_opts o;
    const struct sw_engine_settings *eng;
    struct sw_xml_opts xopts;
    uint64_t *muc_hashes, *server_hashes;
    unsigned W, P, S;
    size_t batch_bytes, buf_cap, tail_keep;
    int64_t tick_ms;
    int64_t max_jump_ms; /* engine.max_time_jump */
    size_t n_det;
    const struct sw_detector_ops *det[SW_PIPELINE_MAX_DETECTORS];
    bool fp_bodies; /* parsers fingerprint message bodies (a detector takes messages) */
    /* RCU-protected: published with C11 release/acquire (the same ordering as
     * rcu_assign_pointer/rcu_dereference, and visible to ThreadSanitizer, so
     * only the grace-period free in pl_gen_free needs a suppression); freed
     * after synchronize_rcu() */
    struct pl_gen *_Atomic gen;
    uint64_t gen_ids;
    struct sw_hit_stage stage; /* copy of *o.stage; no-op callbacks when NULL */
    bool ran;

    /* run state */
    struct sw_tap_ops *tap;
    struct pl_stream **streams; /* each allocated once: chunks point to them */
    size_t n_streams, cap_streams;
    struct pl_slot *slots;
    struct pl_parser *parsers;
    struct pl_worker *workers;
    pthread_t reader_th, agg_th;
    struct sw_evcount ec_slots;  /* parsers wait for a free slot, workers for a batch */
    struct sw_evcount ec_agg;    /* aggregator, all rings empty: waits for a record or the end */
    struct sw_evcount ec_agg_wm; /* aggregator, records held back: waits for watermarks */
    struct sw_evcount ec_bufs;   /* reader waits for a returned buffer */
    _Atomic uint64_t abort_k;    /* first chunk not to process (UINT64_MAX: none) */
    _Atomic bool stop;           /* sw_pipeline_stop() */
    struct sw_conf *_Atomic agg_next; /* reloaded config for the aggregator (referenced) */
    _Atomic bool done;                /* aggregator finished */
    _Atomic bool started;             /* run state set up: stats may read parsers/workers */
    pthread_mutex_t done_mu;
    pthread_cond_t done_cv;
    char err[1024]; /* first error, set by the thread that found it (guarded by err_mu) */
    int err_rc;
    pthread_mutex_t err_mu;
    /* reader counters */
    uint64_t bytes, chunks, drops, stanzas_dropped;
    uint64_t split_oversize, split_depth; /* stanzas sw_split skipped */
    uint64_t split_junk;                  /* junk between stanzas skipped (counted as malformed) */
    uint64_t truncated;                   /* mapped captures that shrank while being read */
    struct sw_wait_stats wait_reader;
    /* aggregator counters */
    struct sw_wait_stats wait_agg;
    uint64_t hits, ticks;
    int64_t last_t;
    uint64_t reloads, reload_errors;
    uint64_t t_start_ns, t_end_ns;
};

#define PL_PARSER_QUEUE 4 /* chunks queued per parser */

/* sync.c */
/** Name the calling thread "sw-<role>[/<i>]" (top, perf, gdb). */
void pl_thread_name(const char *role, int idx);
/** Record the run's first error (later ones are dropped). */
void pl_set_error(struct sw_pipeline *p, int rc, const char *msg);
/** Lower abort_k to @k: chunks >= k are not processed. */
void pl_request_abort(struct sw_pipeline *p, uint64_t k);
/** Wait until slot k % S has turn @turn (2k: the parser of batch k may publish). */
void pl_slot_wait_turn(struct sw_pipeline *p, uint64_t k, uint64_t turn, struct sw_wait_stats *st);
/** Wait until batch k is readable in its slot (turn 2k + 1). */
void pl_slot_wait_readable(struct sw_pipeline *p, uint64_t k, struct sw_wait_stats *st);

/* reader.c */
void *pl_reader_main(void *arg);

/* oversize.c */
#define PL_HEAD_MAX (16 * 1024) /* head of an oversize stanza kept for its stand-in */
#define PL_TAIL_MAX 4096        /* tail searched for the recorder's stamp */
/** Write into @out (@cap bytes) a small well-formed element standing for the
 *  oversize top-level element whose first bytes are @head and last bytes
 *  @tail: its start tags down to the described stanza (through a mirror or
 *  carbon wrapper), the wrapper's and the recorder's empty <delay/>s, the end
 *  tags. Returns its length, or 0 when the head is not understood. */
/* 1 when the stanza [s, s + len) is certainly a MUC reflection engine/xml.c
 * would flag SW_F_MUC_REFLECTION (engine/reflect.c); 0 when not or unsure. */
bool pl_is_reflection(const char *s, size_t len, size_t max_attr);
/* The first @needle (@m bytes) in [h, h + n), or NULL (memmem, which C11 lacks). */
const char *pl_memfind(const char *h, size_t n, const char *needle, size_t m);

size_t pl_oversize_stub(const char *head, size_t head_len, const char *tail, size_t tail_len,
                        char *out, size_t cap);

/* parser.c */
void *pl_parser_main(void *arg);
struct pl_batch *pl_batch_new(size_t batch_bytes);
/** Events a batch holds without growing: the reader cuts chunks at this many
 *  stanzas, so the densest capture (12 MB of "<iq/>") needs no bigger batch. */
uint32_t pl_batch_events_cap(size_t batch_bytes);
/** Give back what a dense chunk made @b grow by (back to pl_batch_new's size). */
void pl_batch_trim(struct pl_batch *b, size_t batch_bytes);
void pl_batch_free(struct pl_batch *b);

/* worker.c */
void *pl_worker_main(void *arg);
void *pl_aggregator_main(void *arg);

#endif
