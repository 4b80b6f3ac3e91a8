/*
 * dcommon.h - small inline helpers shared by the rate/spam detectors
 * (muc_flood, muc_raid, room_spam, sub_burst, sub_slow, msg_spam,
 * presence_churn). Private to detectors/.
 *
 * - sw_dc_excluded(): the "never an offender / never counted" rule: server
 *   and component JIDs, room JIDs (a bare room JID or a room's reflection),
 *   MUC history and offline delivery (SW_F_HISTORY), carbons.
 * - sw_dc_seen_id(): per-key ring of recent stanza ids so fan-out copies of
 *   one stanza (same from, same id) count once.
 * - sw_dc_relayed(): a line a bridge relays ("<nick> text").
 * - cooldown: a key emits a given signal when it first crosses its threshold
 *   and then at most once per cooldown, so a flood gives a few hits.
 * - the common lifecycle (dcommon.c): a detector's shared state starts with
 *   struct sw_dc_shared (filled by sw_dc_shared_new() in its setup) and its
 *   local state with SW_DC_LOCAL_HEAD; then sw_dc_thread_init (one table in
 *   a zeroed local), sw_dc_expire (idle expiry of that table),
 *   sw_dc_thread_reload (keep all state unless the sizing changed: SW_EAGAIN),
 *   sw_dc_thread_fini and sw_dc_teardown serve as its ops callbacks, or are
 *   called from the detector's own ones when it holds more.
 * Thread-safety: pure functions on caller state (the lifecycle ones follow
 * detector.h: setup/teardown on the control thread, the rest per worker).
 */
#ifndef SW_DET_DCOMMON_H
#define SW_DET_DCOMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw/detector.h"
#include "sw/simhash.h"

/* Schema item shorthands; SW_DC_S must name the settings struct. */
#define SW_DC_BOOL(k, f, d, h)                                                                     \
    {                                                                                              \
        .key = (k), .type = SW_CONF_BOOL, .offset = offsetof(SW_DC_S, f), .def = (d), .help = (h)  \
    }
#define SW_DC_INT(k, f, lo, hi, d, h)                                                              \
    {                                                                                              \
        .key = (k), .type = SW_CONF_INT, .offset = offsetof(SW_DC_S, f), .min = (lo), .max = (hi), \
        .def = (d), .help = (h)                                                                    \
    }
#define SW_DC_DUR(k, f, lo, hi, d, h)                                                              \
    {                                                                                              \
        .key = (k), .type = SW_CONF_DURATION, .offset = offsetof(SW_DC_S, f), .min = (lo),         \
        .max = (hi), .def = (d), .help = (h)                                                       \
    }
#define SW_DC_SIZE(k, f, lo, hi, d, h)                                                             \
    {                                                                                              \
        .key = (k), .type = SW_CONF_SIZE, .offset = offsetof(SW_DC_S, f), .min = (lo),             \
        .max = (hi), .def = (d), .help = (h)                                                       \
    }
#define SW_DC_STRLIST(k, f, h)                                                                     \
    {                                                                                              \
        .key = (k), .type = SW_CONF_STRLIST, .offset = offsetof(SW_DC_S, f), .def = NULL,          \
        .help = (h)                                                                                \
    }

#define SW_DC_MB (1024ll * 1024ll)
#define SW_DC_DAY_MS (86400000ll)

/* The common keys every detector here has, in this order after "enabled". */
#define SW_DC_COMMON_ITEMS(defmem, defidle, defcool)                                               \
    SW_DC_BOOL("enabled", enabled, "true", "run this detector"),                                   \
        SW_DC_SIZE("max_memory", max_memory, 64 * 1024, 16384 * SW_DC_MB, defmem,                  \
                   "hard cap on this detector's per-worker state; when full the least recently "   \
                   "seen key of a probe window is evicted (counted)"),                             \
        SW_DC_DUR("idle", idle, 1000, 7 * SW_DC_DAY_MS, defidle,                                   \
                  "forget a key after this long without events"),                                  \
        SW_DC_DUR("cooldown", cooldown, 0, SW_DC_DAY_MS, defcool,                                  \
                  "after a hit, the same key and signal hits again at most once per cooldown")

/** 1 when @ev must not be counted as the sender's own activity. */
static inline bool sw_dc_excluded(const struct sw_event *ev)
{
    const uint32_t never = SW_F_FROM_SERVER | SW_F_MUC_REFLECTION | SW_F_HISTORY | SW_F_CARBON;
    /* SW_F_DELAYED alone is NOT excluded: mirror captures stamp every copy
     * (t_ms comes from the stamp); replays and offline delivery carry
     * SW_F_HISTORY. */
    if ((ev->flags & never) != 0) {
        return true;
    }
    if (ev->from.local_len == 0 || ev->from.bare == 0) {
        return true; /* a bare domain: server or component */
    }
    if (ev->key[SW_SHARD_ROOM] != 0 && ev->key[SW_SHARD_ROOM] == ev->from.bare) {
        return true; /* the room itself (subject, status codes, its copies) */
    }
    return false;
}

/** Dedup ring: returns true when @id_hash (non-zero) was among the last @n ids,
 *  else remembers it. id 0 (no id attribute) is never a duplicate. */
static inline bool sw_dc_seen_id(uint32_t *ring, unsigned n, uint64_t id_hash)
{
    if (id_hash == 0) {
        return false;
    }
    uint32_t v = (uint32_t)(id_hash >> 32) | 1u;
    for (unsigned i = 0; i < n; i++) {
        if (ring[i] == v) {
            return true;
        }
    }
    for (unsigned i = n - 1; i > 0; i--) {
        ring[i] = ring[i - 1];
    }
    ring[0] = v;
    return false;
}

/**
 * Cooldown gate. @last: seconds of the key's last hit (0 = never), @fired: bit
 * set of signals that hit since then. A signal @bit may hit when it has not
 * yet hit in the current cooldown period. On yes, records it.
 */
static inline bool sw_dc_may_hit(uint32_t *last, uint8_t *fired, unsigned bit, uint32_t now,
                                 int64_t cooldown_ms)
{
    uint32_t cd = (uint32_t)(cooldown_ms / 1000);
    if (*last == 0 || (now > *last && now - *last >= cd)) {
        *last = now;
        *fired = 0;
    }
    if ((*fired & (1u << bit)) != 0) {
        return false;
    }
    *fired = (uint8_t)(*fired | (1u << bit));
    return true;
}

/** Milliseconds -> whole seconds, at least 1 (for table-second comparisons). */
static inline uint32_t sw_dc_secs(int64_t ms)
{
    int64_t s = ms / 1000;
    return s < 1 ? 1u : (s > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)s);
}

/** A line a bridge relays from another network: "<nick> text", optionally
 *  after a "[network] " tag (matterbridge, biboumi, IRC/Matrix relays). Its
 *  words and its rate are someone else's: the classifier does not score it
 *  and muc_flood gives it the steady-relay thresholds (swgen busy-bridge). */
static inline bool sw_dc_relayed(const char *b, size_t n)
{
    size_t i = 0;
    if (n > 0 && b[0] == '[') {
        while (i < n && i < 24 && b[i] != ']') {
            i++;
        }
        if (i + 2 >= n || b[i] != ']' || b[i + 1] != ' ') {
            return false;
        }
        i += 2;
    }
    if (i >= n || b[i] != '<') {
        return false;
    }
    size_t j = i + 1;
    while (j < n && j - i <= 33 && b[j] != '>' && b[j] != ' ' && b[j] != '<') {
        j++;
    }
    return j > i + 1 && j + 1 < n && b[j] == '>' && b[j + 1] == ' ';
}

/** Write a zero into every 4 KB of zeroed (calloc'ed) memory @p of @n bytes
 *  that is read before it is written at random places: a read of an
 *  untouched page maps the zero page, which the later write copies (a
 *  write-protect fault plus a TLB-shootdown IPI to every CPU running one of
 *  our threads); written first, each page takes one plain zero-fill fault.
 *  Volatile stores: a compiler may drop a plain memset after calloc. Only for
 *  memory that random keys make resident within seconds anyway. */
static inline void sw_dc_touch(void *p, size_t n)
{
    volatile char *c = p;
    for (size_t i = 0; i < n; i += 4096) {
        c[i] = 0;
    }
}

struct sw_table;

/* First member of a detector's shared state: what the common lifecycle needs. */
struct sw_dc_shared {
    size_t local_size;    /* bytes of the detector's local (starts with SW_DC_LOCAL_HEAD) */
    size_t entry_size;    /* bytes of one entry of its table */
    int64_t table_memory; /* the table's budget (max_memory) */
    int64_t idle;         /* ms: sw_dc_expire forgets keys idle longer than this */
    int64_t sizing;       /* the settings a worker's memory is sized from (max_memory, or a mix
                           * of every size setting): a reload with another value rebuilds */
};

/* The common part of a detector's local state. */
struct sw_dc_local {
    struct sw_table *t; /* NULL when the detector keeps its own tables */
    int64_t sizing;     /* sw_dc_shared.sizing the memory was sized from */
};

/* First member of a detector's local state: the header as `dc` for the
 * lifecycle functions, its fields as l->t and l->sizing for the detector
 * (a common initial sequence of one union, so both views are defined). */
#define SW_DC_LOCAL_HEAD                                                                           \
    union {                                                                                        \
        struct sw_dc_local dc;                                                                     \
        struct {                                                                                   \
            struct sw_table *t;                                                                    \
            int64_t sizing;                                                                        \
        };                                                                                         \
    }

/**
 * setup's allocation: @shared_size zeroed bytes whose struct sw_dc_shared
 * header describes one table of @entry_size-byte entries in a @local_size
 * local, budget and sizing @max_memory, expiry after @idle ms. @entry_size 0:
 * the detector builds its own tables and uses neither sw_dc_thread_init nor
 * sw_dc_expire. NULL when out of memory. The caller fills the rest (and may
 * widen sizing to more size settings) and owns it (sw_dc_teardown frees it).
 */
void *sw_dc_shared_new(size_t shared_size, size_t local_size, size_t entry_size, int64_t max_memory,
                       int64_t idle);
/** thread_init: a zeroed local of the shared's local_size with its table.
 *  0, or SW_ENOMEM / sw_table_new's error (*local untouched). */
int sw_dc_thread_init(const void *shared, void **local);
/** expire: one idle sweep of the local's table (refreshes keys/mem gauges). */
void sw_dc_expire(const void *shared, void *local, int64_t now_ms, struct sw_detector_stats *st);
/** thread_reload: all state is kept; only another sizing needs a new local (SW_EAGAIN). */
int sw_dc_thread_reload(const void *shared, void *local);
/** thread_fini: frees the table and the local (NULL is fine). */
void sw_dc_thread_fini(void *local);
/** teardown: frees a shared state that owns no other memory. */
void sw_dc_teardown(void *shared);
/** For a prefetch op (sw/detector.h): the (room, sender) slot of @t
 *  (sw_table_key2(room, from.bare)) that a MUC join or room line @ev will be
 *  looked up in; nothing for other events. A hint only. */
void sw_dc_prefetch_occupant(const struct sw_table *t, const struct sw_event *ev);

/** sw_simhash_text of @ev's body: the parser's precomputed value when the event
 *  carries SW_F_BODY_FP (the same function, run once per event instead of once
 *  per worker and detector), else computed here. */
static inline uint64_t sw_simhash_body(const struct sw_event *ev, size_t *norm_len)
{
    if ((ev->flags & SW_F_BODY_FP) != 0) {
        if (norm_len != NULL) {
            *norm_len = ev->body_fp_len;
        }
        return ev->body_fp;
    }
    return sw_simhash_text(ev->body, ev->body_len, norm_len);
}

#endif
