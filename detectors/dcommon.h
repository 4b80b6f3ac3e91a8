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
 * - cooldown: a key emits a given signal when it first crosses its threshold
 *   and then at most once per cooldown, so a flood gives a few hits.
 * Thread-safety: pure inline functions on caller state.
 */
#ifndef SW_DET_DCOMMON_H
#define SW_DET_DCOMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw/detector.h"

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

#endif
