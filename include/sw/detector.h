/*
 * detector.h - the detector plugin contract, hits, and the registry.
 *
 * Each detector is one detectors/<stem>.c exporting one const struct
 * sw_detector_ops (name, schema, symbols, callbacks), listed once in
 * detectors/list.h, which drives the registry, the build and the tests. The
 * engine knows no detector by name: it is handed the list (the registry
 * registers each one's config schema as section "detectors.<name>"), calls
 * setup() per config generation on the control thread
 * (building read-only `shared`: thresholds, Hyperscan databases), thread_init()
 * per worker (building per-worker `local`: windows, tables, scratch) and then
 * process() for every event whose kind is in `events` and whose shard key
 * (ev->key[ops->shard]) is owned by that worker. State for one key therefore
 * lives on exactly one worker and needs no lock.
 *
 * process() never fails, allocates on the heap per event, locks or logs:
 * trouble becomes a counter. Time comes only from the event (ev->t_ms) or the
 * now_ms passed to expire().
 *
 * Settings: every detector's settings struct starts with `bool enabled;` and its
 * schema's first item is "enabled" (offset 0); the engine skips disabled ones.
 * expire() is called by each worker about once per second of stream time,
 * then the optional timer(), which may emit hits: a detector that waits for
 * something to happen (an answer within a grace period) settles on stream
 * time even when the offender falls silent. Timer hits take the seq of the
 * event whose time crossed the tick and sort after that tick and before that
 * event's process() hits (engine/worker.c), so they are as deterministic as
 * any other hit for any number of workers.
 *
 * Threading: setup/teardown on the control thread; thread_init/process/expire/
 * thread_fini on one worker thread each. Ownership: `shared` belongs to the
 * detector until teardown(); `local` until thread_fini().
 */
#ifndef SW_DETECTOR_H
#define SW_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "sw/conf.h"
#include "sw/event.h"
#include "sw/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SW_DETECTOR_ABI 5u

enum sw_offender_kind { SW_OFFENDER_ACCOUNT = 0, SW_OFFENDER_DOMAIN = 1 };

#define SW_HIT_MAX_VALUES 6
#define SW_HIT_TEXT 192 /* bounded evidence text (body sample), NUL-terminated */
/* JIDs. An identity is never cut (a cut JID names someone else: a 238-byte
 * localpart at innocent.example.evil.test cut at 255 bytes is an account at
 * innocent.example). The parser refuses JIDs over RFC 7622's bounds (1023
 * bytes per part, 3071 in all), so a bare JID (an offender) fits
 * SW_OFFENDER_TEXT whole. Evidence copies (room, target) are bounded to
 * SW_JID_TEXT; one that does not fit is cut and ends in "..." (visibly not
 * a JID). */
#define SW_JID_MAX 3071
#define SW_OFFENDER_TEXT 2048 /* 1023 + '@' + 1023 + NUL */
#define SW_JID_TEXT 256

/* One named number a detector measured, e.g. {"msgs_10s", 37}. */
struct sw_hit_value {
    const char *name; /* static string owned by the detector */
    int64_t value;
};

/*
 * A hit: one detector saw one offender cross one threshold (or contribute a
 * weighted signal). Hits are rare compared to events, so a hit is a fat,
 * self-contained value: all text is copied in, nothing points into a batch.
 */
struct sw_hit {
    const char *detector;  /* ops->name */
    const char *symbol;    /* static, "<detector>.<signal>", e.g. "muc_flood.rate"; scored by the
                            * aggregator from config aggregate.symbols, like rspamd symbols */
    const char *kind;      /* incident kind: "muc-flood", "subscription-spam", "message-spam",
                            * "presence-flood", "content-spam", ... */
    uint64_t ev_seq;       /* seq of the event that crossed the threshold */
    int64_t t_ms;          /* its event time */
    int64_t first_ms;      /* when the offending activity began (window start), <= t_ms */
    uint8_t offender_kind; /* enum sw_offender_kind */
    uint32_t weight_milli; /* detector's own strength of signal, 1000 = one full hit;
                            * the aggregator multiplies it by the symbol's score */
    uint32_t n_values;
    struct sw_hit_value values[SW_HIT_MAX_VALUES];
    /* evidence */
    char room[SW_JID_TEXT];   /* room involved, "" if none (evidence: may be cut, "...") */
    char target[SW_JID_TEXT]; /* a target account involved, "" if none (likewise) */
    char stanza_id[96];       /* id of the crossing stanza, "" if none */
    char body[SW_HIT_TEXT];   /* sample text, "" if none */
    /* last: the engine's hit queues carry only the bytes before it and the
     * offender's own length (most JIDs are short) */
    char offender[SW_OFFENDER_TEXT]; /* bare JID (account) or domain, whole */
};

/* Where a detector puts hits. emit() copies the hit; it never fails (a full
 * queue is the engine's problem: it blocks in replay, counts drops live). */
struct sw_hit_sink {
    void (*emit)(struct sw_hit_sink *sink, const struct sw_hit *hit);
    void *ctx;
};

static inline void sw_hit_emit(struct sw_hit_sink *sink, const struct sw_hit *hit)
{
    sink->emit(sink, hit);
}

/* Helpers to fill a hit's evidence from an event (bounded copies). */
void sw_hit_init(struct sw_hit *h, const char *detector, const char *symbol, const char *kind,
                 const struct sw_event *ev);
/** Set the offender to @s (@len bytes) whole; one that does not fit SW_OFFENDER_TEXT
 *  leaves it "" (never reported) rather than cut. */
void sw_hit_set_offender(struct sw_hit *h, enum sw_offender_kind k, const char *s, size_t len);
void sw_hit_add_value(struct sw_hit *h, const char *name, int64_t value);
/** Copy the bare part of @j (local@domain, or the domain) into @dst (@cap bytes)
 *  whole. Returns its length, or 0 with @dst = "" when it does not fit (never cut). */
size_t sw_jid_copy_bare(char *dst, size_t cap, const struct sw_jid *j);

/* Per-worker counters a detector may bump (summed on read by the engine). */
struct sw_detector_stats {
    uint64_t events;    /* process() calls */
    uint64_t hits;      /* hits emitted */
    uint64_t keys;      /* keys currently tracked (gauge, set by the detector) */
    uint64_t evictions; /* keys evicted because the table was full */
    uint64_t expired;   /* keys dropped because idle */
    uint64_t mem_bytes; /* bytes of state (gauge) */
};

/*
 * A symbol a detector emits, with its default score (like rspamd's symbols):
 * the aggregator's built-in aggregate.symbols is every registered detector's
 * list in registry order, and configs/stanzawatch.yaml repeats it
 * (tests/detectors/test_registry.c checks each detector has one).
 */
struct sw_detector_symbol {
    const char
        *symbol;       /* "<detector>.<signal>", or "<detector>.*" for a family; NULL ends a list */
    double score;      /* points for one full-strength hit, -100..100 */
    const char *group; /* symbols of one group count once (the strongest); NULL = own group */
};

struct sw_detector_ops {
    uint32_t abi;            /* SW_DETECTOR_ABI; sw_pipeline_new() rejects a mismatch */
    const char *name;        /* config section detectors.<name>, symbol prefix, log tag */
    const char *description; /* one line for --help and the README */
    const struct sw_detector_symbol *symbols; /* what it emits, NULL-terminated */
    uint32_t events;                          /* mask of SW_EV_* kinds passed to process() */
    enum sw_shard shard;                      /* which ev->key this detector's state is keyed by */
    /* Optional (may be NULL): the detector's own routing key for @ev, overriding
     * ev->key[shard]; 0 = not for this detector. Lets one detector see both a
     * sender's requests and the answers addressed to that sender (e.g. key =
     * from.bare for subscribe, to.bare for subscribed). The engine routes every
     * shard and this hook with the same owner function of the hash. Pure,
     * cheap, called on every worker for every event of a matching kind. */
    uint64_t (*key)(const struct sw_event *ev);
    /* Optional (may be NULL; both or neither, only with `key`): a second
     * routing key, so the worker owning another account of @ev (e.g. the
     * recipient of a message) learns of it. For an event with key(ev) != 0,
     * observe() is called on the owner of peer_key(ev) (non-zero) when that
     * is not the owner of key(ev); process() on the key's owner must record
     * the same itself, so the state a later decision reads is the same for
     * any number of workers. observe() emits nothing and counts nothing;
     * same threading and rules as process(). */
    uint64_t (*peer_key)(const struct sw_event *ev);
    void (*observe)(const void *shared, void *local, const struct sw_event *ev);
    const struct sw_conf_item *schema; /* keys, types, bounds, defaults (settings struct) */
    size_t settings_size;
    /* settings: the bound settings struct (borrowed for the snapshot's life). */
    int (*setup)(const void *settings, void **shared, struct sw_errbuf *eb);
    int (*thread_init)(const void *shared, void **local);
    void (*process)(const void *shared, void *local, const struct sw_event *ev,
                    struct sw_hit_sink *out, struct sw_detector_stats *st);
    void (*expire)(const void *shared, void *local, int64_t now_ms, struct sw_detector_stats *st);
    /* Optional (may be NULL): process(@ev) comes soon on this worker. The
     * engine calls it a few events ahead, on the worker that will call
     * process(@ev) (same routing), with the same `local`; other events'
     * process() and a tick may come in between. It only prefetches
     * (__builtin_prefetch) what process(@ev) will read of `local`, e.g.
     * sw_table_prefetch() of the keys it will look up, so that those cache
     * misses overlap with the work on the events before. It changes no state
     * and reads nothing but `local` and @ev: results never depend on it. */
    void (*prefetch)(const void *shared, void *local, const struct sw_event *ev);
    /* Optional (may be NULL): called right after expire() at each tick with
     * the same now_ms; may emit hits (t_ms = now_ms; ev_seq is set by the
     * engine). For decisions that fall due on stream time alone. Same rules
     * as process(). */
    void (*timer)(const void *shared, void *local, int64_t now_ms, struct sw_hit_sink *out,
                  struct sw_detector_stats *st);
    /* Optional (may be NULL). Hot reload: a new config generation's `shared`
     * replaces the old one on this worker at a batch boundary and `local` (all
     * window state) is KEPT; this hook adapts local to the new shared (e.g.
     * re-grow Hyperscan scratch, resize a table). Returns 0 or SW_E*; on error
     * the worker keeps the old generation for this detector and counts it. */
    int (*thread_reload)(const void *shared, void *local);
    void (*thread_fini)(void *local);
    void (*teardown)(void *shared);
};

/* Registry (detectors/registry.c, generated from detectors/list.h). */
/** NULL-terminated list of every built-in detector, in detectors/list.h order. */
const struct sw_detector_ops *const *sw_registry_list(void);
/** Register every detector's schema as config section "detectors.<name>".
 *  Returns 0 or the sw_conf_register() error with @eb filled. */
int sw_registry_register_conf(struct sw_errbuf *eb);

#ifdef __cplusplus
}
#endif
#endif
