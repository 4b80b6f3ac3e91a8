/*
 * live_int.h - internal layout of the live taps (live/): the per-tap block
 * queue, the tap record and the live set. Not a contract: other modules use
 * include/sw/live.h.
 *
 * Queue: a tap thread (producer) copies whole stanzas as records
 *   [u32 len][u32 kind][u64 dedup key][len bytes, padded to 8]
 * into a block it holds reserved in an sw_ring of fixed-size blocks, and
 * commits the block when it is full or at the end of each poll round
 * (lt_queue_flush), so a quiet tap still delivers within one round. No free
 * block = the stanza is dropped and counted: a tap never waits. The mux
 * (the pipeline's reader thread, the only consumer) copies records out in
 * tap order, round robin over the taps.
 *
 * Tap set (reload, live.c): taps are allocated one by one and own a copy of
 * their settings, so a SIGHUP can add, stop and restart taps while the others
 * run on untouched. set_mu guards the active array, the retired list and the
 * taps' `started` flags; the mux holds it while it copies records (never
 * while it sleeps), the control thread while it swaps the set, stats readers
 * while they read. A stopped tap moves to the retired list and stays there
 * until the mux has copied out everything it had queued; only then is it
 * freed (by the control thread, under set_mu). Lock order: mu -> set_mu.
 */
#ifndef SW_LIVE_INT_H
#define SW_LIVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sw/live.h"
#include "sw/ring.h"
#include "sw/settings.h"
#include "sw/xml.h"

/* single-writer counters read concurrently (same as engine/pipeline_int.h) */
#define LT_CNT_ADD(x, n)                                                                           \
    __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define LT_CNT_SET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define LT_CNT_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

#define LT_REC_HDR 16u
#define LT_KIND_MESSAGE 0u
#define LT_KIND_PRESENCE 1u
#define LT_KIND_IQ 2u
#define LT_KIND_OTHER 3u

struct lt_blk {
    uint32_t used; /* bytes of records in data */
    uint32_t pad;
    char data[]; /* records */
};

/* counters of one tap: written by its thread (dedup: by the mux) */
struct lt_counters {
    uint64_t connections, open, closed_error, idle_closed, refused;
    uint64_t bytes, stanzas, by_kind[4];
    uint64_t queue_drops, oversize, parse_errors, gaps, peer_dropped, dedup, reconnects;
    uint64_t junk; /* junk between stanzas skipped (socket tap; the connection stays) */
    uint64_t transit_ms_sum, transit_n;
};

struct sw_live;

struct lt_tap {
    struct sw_live *live;
    unsigned idx;                         /* thread name sw-tap/IDX, never reused */
    const struct sw_live_tap_settings *s; /* = &own, or the caller's (tests) */
    struct sw_live_tap_settings own;      /* deep copy: outlives the config it came from */
    struct lt_tap *next;                  /* retired list */
    char name[64];
    const char *type_name;
    /* queue */
    struct sw_ring *q;
    size_t blk_size;    /* bytes per block including the header */
    struct lt_blk *cur; /* producer: reserved block being filled, NULL none */
    size_t rd_off;      /* consumer: bytes of the head block already copied */
    struct lt_counters c;
    /* thread */
    pthread_t th;
    _Atomic bool started; /* written by the control thread under set_mu */
    _Atomic bool stop;
    _Atomic bool stopped; /* the thread flushed its last block and ended */
    int wake_fd;          /* eventfd: interrupts the thread's poll on stop */
    void *impl;           /* kind-specific state */
};

struct sw_live {
    const struct sw_conf *conf;
    const struct sw_limits_settings *lim;
    struct sw_xml_limits xlim;
    size_t tail_keep; /* bytes of an incomplete stanza worth keeping */
    /* tap set: under set_mu (see above) */
    pthread_mutex_t set_mu;
    size_t n;
    struct lt_tap **taps;   /* active, in config order */
    struct lt_tap *retired; /* stopped or stopping, queue not yet drained */
    uint64_t gone_bytes;    /* bytes of taps already freed (mux_position) */
    unsigned next_idx;      /* control thread */
    struct lt_plan *plan;   /* control thread: a prepared reload */
    /* mux (reader thread) */
    bool hdr_sent, end_sent;
    size_t rr;
    size_t part_left; /* bytes of a record still to copy (a record larger than a read) */
    const char *part_src;
    uint64_t *dd_key; /* dedup table: key and time, open addressing, 2^k slots */
    int64_t *dd_ms;
    size_t dd_mask;
    _Atomic bool stopping;
    /* wake-up of the mux when it sleeps on empty queues */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic int sleeping;
    _Atomic uint64_t wake_gen; /* producers' RMW before reading `sleeping` */
};

/* tapq.c: queue and mux */
int lt_queue_init(struct lt_tap *t, size_t queue_bytes, size_t max_record);
void lt_queue_fini(struct lt_tap *t);
/** Producer: copy one stanza; false = dropped (queue full, counted). */
bool lt_queue_put(struct lt_tap *t, const char *s, size_t len, unsigned kind, uint64_t dkey);
/** Producer: publish the block being filled and wake the mux. */
void lt_queue_flush(struct lt_tap *t);
/** Producer, end of a poll round: flush if the mux sleeps, @idle (nothing
 *  arrived this round) or the block is half full. */
void lt_queue_flush_lazy(struct lt_tap *t, bool idle);
int lt_mux_init(struct sw_live *l);
void lt_mux_ops(struct sw_live *l, struct sw_tap_ops *ops);

/* Start tag of a stanza: kind and the attributes the taps look at. */
struct lt_stag {
    unsigned kind;
    const char *from, *to, *id, *type;
    size_t from_len, to_len, id_len, type_len;
};
/** Scan the start tag at @s (len @n). Returns 0 or -1 (not a start tag). */
int lt_scan_stag(const char *s, size_t n, struct lt_stag *st);
/** Dedup key of a presence fan-out copy (0 = never deduplicated). */
uint64_t lt_dedup_key(const struct lt_stag *st);
/** Count one stanza in @t and queue it (kind and dedup key from its start tag). */
void lt_tap_stanza(struct lt_tap *t, const char *s, size_t n);

/* tap_socket.c: prepare = listen (on @lfd, a listening socket handed over
 * by the tap it replaces, if not -1; taken even on error), epoll, eventfd;
 * run = start the thread. */
int lt_socket_prepare(struct lt_tap *t, int lfd, struct sw_errbuf *eb);
int lt_socket_run(struct lt_tap *t, struct sw_errbuf *eb);
/** The listening socket (for a successor to dup), -1 if none. Control thread. */
int lt_socket_lfd(const struct lt_tap *t);
/** @keep: leave the unix socket path in place at stop (the listener is
 *  shared with a successor, or, for a tap prepared on an inherited listener,
 *  still with its predecessor). Control thread, before t->stop. */
void lt_socket_keep_path(struct lt_tap *t, bool keep);
void lt_socket_fini(struct lt_tap *t);

/* tap_component.c */
int lt_component_prepare(struct lt_tap *t, struct sw_errbuf *eb);
int lt_component_run(struct lt_tap *t, struct sw_errbuf *eb);
void lt_component_fini(struct lt_tap *t);

#endif
