/*
 * live.h - stanzawatch beside a running XMPP server: live taps and their
 * config sections ("taps", "metrics"); cli/cmd_run.c is the `run` command.
 *
 * Design. Every configured tap runs on its own thread and turns what the
 * server sends it into whole top-level stanzas (a per-connection sw_split,
 * the replay splitter, with the same limits), which it copies into a bounded
 * SPSC block queue of its own. A tap never waits for stanzawatch: when its
 * queue is full the stanza is dropped and counted (fail open: the server is
 * never back-pressured). The pipeline's reader pulls from one "mux" tap
 * (struct sw_tap_ops, live = true) that interleaves the queues into a single
 * stanza stream with one synthetic stream header, so the replay pipeline
 * (parsers, workers, aggregator, outputs) runs unchanged. Presence fan-out
 * copies (same from, id and type, to a bare JID, within taps' dedup window)
 * are dropped in the mux, so every tap type benefits.
 *
 * Tap kinds (config `taps:` list items):
 *  - socket: `listen: unix:PATH | HOST:PORT`. The server-side modules
 *    (deploy/prosody/mod_stanzawatch.lua, deploy/ejabberd/mod_stanzawatch.erl)
 *    connect here; several connections (server nodes) at once. Wire format:
 *    an XML stream whose header may carry node='NAME' dropped='N', then per
 *    stanza <w n='SEQ' t='EPOCH_MS'>STANZA</w> (a plain stanza is accepted
 *    too; without n a record is the previous one's SEQ + 1, without t it
 *    has the previous one's stamp). SEQ gaps are counted; `dropped` is the
 *    module's own drop count.
 *  - component: XEP-0114 (live/tap_component.c).
 *
 * Reload: SIGHUP applies `taps:` changes (sw_live_reload_*): added taps
 * start, removed ones stop after handing over what they hold, changed ones
 * restart, unchanged ones are not touched; a bad config changes nothing.
 * Taps are matched by name (unnamed: "<type><index>", so naming them keeps
 * a reordered list from restarting them). limits: stay as at start.
 *
 * Threading: sw_live_* calls on the control thread (count/get_stats: any);
 * tap threads are private. Counters are single-writer relaxed atomics.
 */
#ifndef SW_LIVE_H
#define SW_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw/conf.h"
#include "sw/sw.h"
#include "sw/tap.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sw_live_tap_type { SW_LIVE_TAP_SOCKET = 0, SW_LIVE_TAP_COMPONENT = 1 };

/* one item of the "taps" section */
struct sw_live_tap_settings {
    int type;            /* enum sw_live_tap_type */
    char *name;          /* metric label; NULL = "<type><index>" */
    char *listen;        /* socket: "unix:PATH" or "HOST:PORT" */
    char *address;       /* component: "HOST:PORT" of the server's component port */
    char *jid;           /* component: the component's JID */
    char *secret;        /* component: shared secret */
    int64_t queue_bytes; /* bounded queue between the tap and the pipeline (SIZE) */
    int64_t max_connections;
    int64_t idle_timeout_ms; /* socket: close a connection silent this long (DURATION) */
    int64_t dedup_ms;        /* presence fan-out dedup window (DURATION), 0 = off */
};

/* the "taps" section: a YAML list */
struct sw_live_taps_settings {
    struct sw_conf_list taps; /* of struct sw_live_tap_settings */
};

/* the "metrics" section */
struct sw_live_metrics_settings {
    char *listen; /* "HOST:PORT" serving /metrics; NULL or "" = off */
};

/** Register "taps" and "metrics" with sw_conf_register(). Call once at start. */
int sw_live_register_conf(void);

/* Per-tap counters (snapshot). */
struct sw_live_tap_stats {
    char name[64];    /* a copy: a reload may free the tap */
    const char *type; /* "socket" | "component" */
    uint64_t connections, open, closed_error, idle_closed, refused;
    uint64_t bytes, stanzas, by_kind[3], other;
    uint64_t queue_drops;               /* stanzas dropped: queue full (stanzawatch slow) */
    uint64_t oversize;                  /* stanzas over limits.max_stanza_bytes / max_depth */
    uint64_t parse_errors;              /* connections closed on junk */
    uint64_t junk;                      /* junk between stanzas skipped, connection kept */
    uint64_t gaps;                      /* stanzas missing in the senders' sequence numbers */
    uint64_t peer_dropped;              /* drops the server-side module reported (latest headers) */
    uint64_t dedup;                     /* presence fan-out copies dropped */
    uint64_t queue_depth;               /* blocks waiting in the queue now */
    uint64_t queue_blocks;              /* queue capacity in blocks */
    uint64_t reconnects;                /* component: connection attempts after the first */
    uint64_t transit_ms_sum, transit_n; /* module stamp -> tap arrival */
};

struct sw_live;

/**
 * Start every tap of @conf's "taps" section (listeners bound, threads running)
 * and build the mux tap for sw_pipeline_run_tap (*@tap, owned by @live: do
 * not call tap->close). Returns 0, SW_ECONF (no taps, bad address) or
 * SW_EIO/SW_ENOMEM with @eb filled. @conf is borrowed and must outlive @live.
 */
int sw_live_new(const struct sw_conf *conf, struct sw_live **out, struct sw_tap_ops *tap,
                struct sw_errbuf *eb);
/** Number of running taps (a reload may change it). Any thread. */
size_t sw_live_count(const struct sw_live *l);
/** Fill up to @cap entries of @st, in config order; returns how many. Any thread. */
size_t sw_live_get_stats(const struct sw_live *l, struct sw_live_tap_stats *st, size_t cap);

/**
 * SIGHUP, control thread. prepare: compare @conf's "taps" with the running
 * taps; a tap whose name and settings are unchanged keeps running untouched;
 * new and changed ones are prepared (sockets bound, a listener of a tap that
 * goes away taken over) without disturbing anything. Returns 0, or SW_ECONF/
 * SW_EIO/SW_ENOMEM with @eb filled and nothing changed (the whole config is
 * to be refused). @conf is only read during the call.
 * commit: apply the prepared plan: removed and changed taps stop (what their
 * peers had sent is read, queued and processed, never dropped by the
 * reload), changed ones restart with their counters, added ones start.
 * Returns 0 or an error (a tap thread could not start: logged, the others run).
 * abort: drop the prepared plan (another part of the config was refused).
 */
int sw_live_reload_prepare(struct sw_live *l, const struct sw_conf *conf, struct sw_errbuf *eb);
int sw_live_reload_commit(struct sw_live *l, struct sw_errbuf *eb);
void sw_live_reload_abort(struct sw_live *l);
/** Stop the taps (listeners closed, threads joined) and free. */
void sw_live_free(struct sw_live *l);

#ifdef __cplusplus
}
#endif
#endif
