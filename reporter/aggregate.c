/*
 * aggregate.c - hits -> incidents: weighted symbols per offender, dedup,
 * update rate limit, close on idle stream time, re-open.
 *
 * Design (after rspamd's symbols/scores/groups):
 * - One entry per (offender, offender_kind), whatever the symbol or detector:
 *   the same offender never has two incidents at once (dedup).
 * - A hit of symbol S contributes score(S) * weight_milli / 1000 points
 *   (aggregate.symbols, else aggregate.default_score). A symbol does not add up
 *   over repeated hits: it keeps its strongest contribution of the last
 *   `window` (plus its latest one, used when the strongest ages out); symbols of
 *   one `group` count once (the strongest of the group), so correlated signals
 *   are not counted twice. Score = sum of live contributions.
 * - The entry opens an incident (status open, revision 0) on the hit that makes
 *   the score reach report_threshold: detected_at = that hit's event time, id =
 *   UUID (v5 layout) from a hash of (offender, kind, opening ev_seq), so it is
 *   deterministic. Kind = kind of the strongest live symbol.
 * - While open, a hit that raises the peak score or brings a new symbol, room
 *   or target makes the incident dirty; "updated" lines are emitted at most once
 *   per update_interval of stream time (the rest wait for the next hit or tick).
 * - sw_aggregate_tick closes incidents idle for close_after (status closed).
 *   Contributions are reset on closure, so a re-open needs the threshold again
 *   (that hysteresis is the cooldown: a closed incident does not flap on one
 *   stray weak hit). A crossing within reopen_window of the closure re-opens the
 *   same id (status open, revision+1, counted as reopened); later, the entry is
 *   forgotten and a new crossing makes a new incident with a new id.
 * - Never offenders: an empty offender, an account without '@' (a server or
 *   component), anything in muc.server_jids or aggregate.never, a domain or an
 *   account at a muc.services domain, and a room seen in a hit recently. Such
 *   hits are dropped and counted (the detectors already skip them: defence in
 *   depth). Rooms: a hit's room joins the set only when it is at a known MUC
 *   service, a muc.services domain or, with that list empty, a domain the
 *   muc.service_prefixes rule names (the parser's notion of a MUC service):
 *   a groupchat message "to" a plain account JID does not make it a room, so
 *   nobody whitelists an accomplice. The set is bounded (AGG_ROOMS slots,
 *   probed AGG_ROOM_PROBE at a time, the least recently seen evicted) and an
 *   entry not seen for AGG_ROOM_TTL_MS of stream time is gone. Services are
 *   not learned from traffic: any account can send a presence with muc#user
 *   from itself, which would let it declare its own domain a MUC service.
 * - Symbol slots: an entry has SW_INC_MAX_DETECTORS; when they are full a new
 *   symbol takes the slot of the weakest live contribution (the oldest among
 *   equals; an aged-out one first) if the new hit is stronger, so a bait that
 *   matches a dozen weak rules cannot keep a flood's strong hit out.
 * - Memory is bounded: max_tracked entries in one array (calloc'd: untouched
 *   pages cost nothing), a chained hash index, and an LRU list ordered by last
 *   hit time. A full table evicts the least recently hit entry (closing it first
 *   if it is open, counted). The LRU links, the last hit time and a lower
 *   bound of when the entry next has work due live in a compact array beside
 *   the entries (struct agg_tk), so the tick's walk over the idle entries
 *   (mostly closed incidents waiting out reopen_window) skips those with
 *   nothing due without touching them. Candidates expire after `window` without hits,
 *   closed entries after reopen_window. An open incident's full record (struct
 *   sw_incident + distinct room/target hash sets, ~14 KB) is allocated when it
 *   opens, on the aggregator thread (hits are rare next to events).
 *
 * Threading: everything runs on the single aggregator thread, in ev_seq order;
 * outputs are called synchronously. Time is the hits' event time (clamped so
 * it never goes backwards) and the now_ms given to tick/finish.
 */
#include "sw/incident.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aggregate_int.h"
#include "sw/log.h"
#include "sw/settings.h"

#define AGG_SET_SLOTS 512 /* distinct rooms / targets counted exactly per incident */
#define AGG_SET_INLINE 8  /* slots in the record itself; more are on the heap */
#define AGG_CAND_EVIDENCE 2
#define AGG_ROOMS 4096    /* rooms remembered (power of 2) */
#define AGG_ROOM_PROBE 16 /* slots looked at per room */
#define AGG_ROOM_TTL_MS (24LL * 3600 * 1000)

enum agg_state { AGG_FREE = 0, AGG_CAND, AGG_OPEN, AGG_CLOSED };

struct agg_contrib {
    const char *symbol, *detector, *kind;
    int32_t group; /* group id, -1 = none (counts on its own) */
    int64_t best_milli, best_t;
    int64_t last_milli, last_t;
    int64_t peak_milli; /* strongest contribution ever (what the incident shows) */
    uint32_t hits;
    uint32_t n_values;
    struct sw_hit_value values[SW_HIT_MAX_VALUES];
};

/* Distinct hashes, open addressing: AGG_SET_INLINE slots in place, doubled
 * on the heap up to AGG_SET_SLOTS as the set fills (most incidents name a
 * handful of rooms and targets: a full-size set in every record cost two
 * first-touched pages per incident). */
struct agg_oset {
    uint64_t *heap; /* NULL: the slots are inl */
    uint32_t cap;   /* slots in heap */
    uint64_t inl[AGG_SET_INLINE];
};

struct agg_open {
    struct sw_incident inc;
    struct agg_oset rooms, targets;
};

struct agg_entry {
    uint64_t hash;
    int32_t chain;          /* next entry in the hash bucket, -1 = end */
    int32_t w_prev, w_next; /* watch list (see sw_aggregate_tick); -1 = end */
    uint8_t state;          /* enum agg_state */
    uint8_t okind;
    uint8_t dirty;
    uint8_t watched; /* on the watch list */
    uint32_t n_contrib;
    uint32_t n_cand_ev;
    int64_t first_ms, last_ms, closed_ms, last_emit_ms;
    uint64_t hits;
    struct agg_open *open; /* record of an open or closed incident */
    struct agg_contrib contrib[SW_INC_MAX_DETECTORS];
    struct sw_incident_evidence cand_ev[AGG_CAND_EVIDENCE];
    char offender[SW_OFFENDER_TEXT];
};

/* What the tick's walk over idle entries reads, in an array beside the
 * entries (24 bytes each, not a cache and TLB miss per ~6 KB entry): the LRU
 * links (also the free list), the last hit time and when the entry may next
 * have work due. */
struct agg_tk {
    int64_t last_ms;            /* = agg_entry.last_ms */
    int64_t due;                /* <= entry_due() (the walk skips the entry before it);
                                 * INT64_MIN: unknown (changed since the walk saw it) */
    int32_t lru_prev, lru_next; /* by last hit time; -1 = end */
};

struct agg_sym {
    const char *name;
    int64_t score_milli; /* per full-strength hit */
    int32_t group;
};

struct sw_aggregate {
    const struct sw_aggregate_settings *s;
    uint8_t stopping;     /* sw_aggregate_stop: closes are marked at_stop */
    struct sw_conf *conf; /* referenced snapshot @s lives in (NULL: borrowed settings) */
    int64_t threshold_milli, default_milli;
    struct agg_sym *syms;
    size_t n_syms;
    uint64_t *never; /* hashes (case-folded) of never-offender JIDs and domains */
    size_t n_never;
    uint64_t *services; /* MUC service domains */
    size_t n_services;
    const struct sw_conf_strlist *prefixes; /* muc.service_prefixes, used while services empty */
    struct agg_room {
        uint64_t hash; /* room JID, case-folded; 0 = free */
        int64_t last_ms;
    } rooms[AGG_ROOMS];
    struct agg_entry *e;
    struct agg_tk *tk; /* beside e[] */
    size_t cap;
    int32_t *buckets;
    size_t n_buckets;  /* power of two */
    int32_t free_head; /* freed entries chained through lru_next */
    size_t hw;         /* entries [hw, cap) never used yet (their pages untouched) */
    int32_t lru_head, lru_tail;
    int32_t w_head, w_tail; /* watch list: LRU order, dirty or closed when last hit */
    int64_t next_walk;      /* no idle entry has work due before this stream time */
    size_t used;
    size_t n_dirty; /* open entries with a held-back update */
    int64_t now;
    struct sw_output_ops *outputs;
    size_t n_outputs;
    struct sw_aggregate_stats st;
    sw_aggregate_listed_fn listed; /* consumed block lists (share.c), NULL = none */
    void *listed_ctx;
};

/* Set by the live reporter before the aggregator is made (sw_aggregate_set_listed). */
static sw_aggregate_listed_fn g_listed;
static void *g_listed_ctx;
static const char listed_symbol[] = "share.listed";

void sw_aggregate_set_listed(sw_aggregate_listed_fn fn, void *ctx)
{
    g_listed = fn;
    g_listed_ctx = ctx;
}

/* ---- config ------------------------------------------------------------ */

static const struct sw_conf_item sym_schema[] = {
    {.key = "symbol",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_aggregate_symbol, symbol),
     .def = NULL,
     .help = "symbol name, \"<detector>.<signal>\", or \"prefix*\" for a family"},
    {.key = "score",
     .type = SW_CONF_DOUBLE,
     .offset = offsetof(struct sw_aggregate_symbol, score),
     .fmin = -100.0,
     .fmax = 100.0,
     .def = "1.0",
     .help = "points for one full-strength hit (scaled by the hit's weight)"},
    {.key = "group",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_aggregate_symbol, group),
     .def = "",
     .help = "symbols of one group count once (the strongest); empty = own group"},
    SW_CONF_END,
};

static const struct sw_conf_item agg_schema[] = {
    {.key = "report_threshold",
     .type = SW_CONF_DOUBLE,
     .offset = offsetof(struct sw_aggregate_settings, report_threshold),
     .fmin = 0.001,
     .fmax = 1000.0,
     .def = "1.0",
     .help = "score at which an incident opens"},
    {.key = "default_score",
     .type = SW_CONF_DOUBLE,
     .offset = offsetof(struct sw_aggregate_settings, default_score),
     .fmin = -100.0,
     .fmax = 100.0,
     .def = "1.0",
     .help = "score of a symbol not listed in symbols"},
    {.key = "window",
     .type = SW_CONF_DURATION,
     .offset = offsetof(struct sw_aggregate_settings, window_ms),
     .min = 1000,
     .max = 7LL * 86400 * 1000,
     .def = "10m",
     .help = "how long a hit's contribution counts towards the score"},
    {.key = "update_interval",
     .type = SW_CONF_DURATION,
     .offset = offsetof(struct sw_aggregate_settings, update_interval_ms),
     .min = 0,
     .max = 86400LL * 1000,
     .def = "30s",
     .help = "minimum stream time between two updated lines of one incident"},
    {.key = "close_after",
     .type = SW_CONF_DURATION,
     .offset = offsetof(struct sw_aggregate_settings, close_after_ms),
     .min = 1000,
     .max = 7LL * 86400 * 1000,
     .def = "10m",
     .help = "close an incident after this much stream time without hits"},
    {.key = "reopen_window",
     .type = SW_CONF_DURATION,
     .offset = offsetof(struct sw_aggregate_settings, reopen_window_ms),
     .min = 0,
     .max = 30LL * 86400 * 1000,
     .def = "1h",
     .help = "a new crossing this soon after closure re-opens the same incident id"},
    {.key = "max_tracked",
     .type = SW_CONF_INT,
     .offset = offsetof(struct sw_aggregate_settings, max_tracked),
     .min = 16,
     .max = 10000000,
     .def = "16384",
     .help = "offenders tracked at once; the least recently hit is evicted when full"},
    {.key = "never",
     .type = SW_CONF_STRLIST,
     .offset = offsetof(struct sw_aggregate_settings, never),
     .def = "[]",
     .help = "JIDs or domains never reported (besides muc.server_jids and muc.services)"},
    {.key = "symbols",
     .type = SW_CONF_LIST,
     .offset = offsetof(struct sw_aggregate_settings, symbols),
     .def = "[]", /* replaced by the detectors' symbols at registration */
     .help = "symbol scores: list of {symbol, score, group}; \"prefix*\" matches a family",
     .sub = sym_schema,
     .item_size = sizeof(struct sw_aggregate_symbol)},
    SW_CONF_END,
};

#define AGG_N_ITEMS (sizeof(agg_schema) / sizeof(agg_schema[0]))
#define AGG_DEFAULT_MAX 8192 /* bytes of the built-in aggregate.symbols text */

/* The registered schema: agg_schema with the "symbols" default built from the
 * detectors' own symbol lists (registration runs once, before any load). */
static struct sw_conf_item agg_schema_live[AGG_N_ITEMS];
static char agg_symbols_def[AGG_DEFAULT_MAX];

/* Append one "{symbol: 'S', score: X, group: 'G'}" flow mapping to @buf (@cap
 * bytes, @*len used). The score is printed with 17 digits so that it reads back
 * as the same double. Returns 0, SW_EINVAL (a name outside [a-z0-9_.*-]) or
 * SW_ELIMIT. */
static int symbols_append(char *buf, size_t cap, size_t *len, const struct sw_detector_symbol *sy)
{
    static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_.-*";
    if (sy->symbol[strspn(sy->symbol, name_chars)] != '\0' ||
        (sy->group != NULL && sy->group[strspn(sy->group, name_chars)] != '\0')) {
        return SW_EINVAL; /* nothing that would need quoting in YAML */
    }
    int n = snprintf(buf + *len, cap - *len, "%s{symbol: '%s', score: %.17g%s%s%s}",
                     *len > 1 ? ", " : "", sy->symbol, sy->score, sy->group ? ", group: '" : "",
                     sy->group ? sy->group : "", sy->group ? "'" : "");
    if (n < 0 || (size_t)n >= cap - *len) {
        return SW_ELIMIT;
    }
    *len += (size_t)n;
    return 0;
}

int sw_aggregate_register_conf(const struct sw_detector_ops *const *detectors)
{
    size_t len = 1;
    memcpy(agg_symbols_def, "[", 2);
    for (size_t i = 0; detectors != NULL && detectors[i] != NULL; i++) {
        const struct sw_detector_symbol *sy = detectors[i]->symbols;
        for (size_t j = 0; sy != NULL && sy[j].symbol != NULL; j++) {
            int rc = symbols_append(agg_symbols_def, sizeof(agg_symbols_def) - 1, &len, &sy[j]);
            if (rc < 0) {
                return rc;
            }
        }
    }
    memcpy(agg_symbols_def + len, "]", 2);
    memcpy(agg_schema_live, agg_schema, sizeof(agg_schema));
    for (size_t i = 0; i < AGG_N_ITEMS; i++) {
        if (agg_schema_live[i].key != NULL && strcmp(agg_schema_live[i].key, "symbols") == 0) {
            agg_schema_live[i].def = agg_symbols_def;
        }
    }
    return sw_conf_register("aggregate", agg_schema_live, sizeof(struct sw_aggregate_settings));
}

/* ---- helpers ----------------------------------------------------------- */

static uint64_t hash_lower(const char *s)
{
    size_t n = strlen(s);
    return n ? sw_hash64_lower(s, n) : 0;
}

static bool set_has(const uint64_t *v, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == h) {
            return true;
        }
    }
    return false;
}

/* Open-addressed set insert; returns 1 if new, 0 if present, -1 if full. */
/* Add @h to a set of n_slots slots holding *count hashes: 1 added, 0
 * already there (or h == 0), -1 full (3/4 of the slots used). */
static int oset_put(uint64_t *slots, size_t n_slots, size_t *count, uint64_t h)
{
    size_t mask = n_slots - 1;
    for (size_t i = 0, p = (size_t)h & mask; i < n_slots; i++, p = (p + 1) & mask) {
        if (slots[p] == h) {
            return 0;
        }
        if (slots[p] == 0) {
            if (*count * 4 >= n_slots * 3) {
                return -1;
            }
            slots[p] = h;
            (*count)++;
            return 1;
        }
    }
    return -1;
}

/* A set that grows to AGG_SET_SLOTS counts exactly what one full-size set
 * would: a new hash is added while fewer than 3/4 of AGG_SET_SLOTS are used. */
static int oset_add(struct agg_oset *s, size_t *count, uint64_t h)
{
    if (h == 0) {
        return 0;
    }
    for (;;) {
        uint64_t *slots = s->heap != NULL ? s->heap : s->inl;
        size_t n = s->heap != NULL ? s->cap : AGG_SET_INLINE;
        int r = oset_put(slots, n, count, h);
        if (r >= 0 || n >= AGG_SET_SLOTS) {
            return r;
        }
        /* a new hash, 3/4 full below the final size: grow, then add it */
        size_t nn = n * 2;
        uint64_t *ns = calloc(nn, sizeof(*ns));
        if (ns == NULL) {
            return -1;
        }
        size_t moved = 0;
        for (size_t i = 0; i < n; i++) {
            if (slots[i] != 0) {
                (void)oset_put(ns, nn, &moved, slots[i]);
            }
        }
        free(s->heap);
        s->heap = ns;
        s->cap = (uint32_t)nn;
    }
}

static void oset_free(struct agg_oset *s)
{
    free(s->heap);
    s->heap = NULL;
    s->cap = 0;
}

static void agg_open_free(struct agg_open *o)
{
    if (o != NULL) {
        oset_free(&o->rooms);
        oset_free(&o->targets);
        free(o);
    }
}

/* Bare JID text of @s (stops at '/') into @dst (SW_OFFENDER_TEXT bytes): whole,
 * or "" (0) when it does not fit: an identity is never cut. */
static size_t copy_bare(char *dst, const char *s)
{
    size_t n = 0;
    while (s[n] != '\0' && s[n] != '/') {
        if (n + 1 >= SW_OFFENDER_TEXT) {
            dst[0] = '\0';
            return 0;
        }
        dst[n] = s[n];
        n++;
    }
    dst[n] = '\0';
    return n;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Exact name first; else the longest "prefix*" pattern that matches (e.g.
 * "content.*" scores every content rule). */
static const struct agg_sym *find_sym(const struct sw_aggregate *a, const char *name)
{
    const struct agg_sym *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < a->n_syms; i++) {
        const char *p = a->syms[i].name;
        size_t n = strlen(p);
        if (n > 0 && p[n - 1] == '*') {
            if (strncmp(p, name, n - 1) == 0 && (best == NULL || n - 1 > best_len)) {
                best = &a->syms[i];
                best_len = n - 1;
            }
        } else if (strcmp(p, name) == 0) {
            return &a->syms[i];
        }
    }
    return best;
}

/* ---- table ------------------------------------------------------------- */

/* The LRU and the watch list are intrusive doubly linked lists over a->e:
 * @po/@no are the offsets of an entry's prev/next fields, -1 = end. */
/* Intrusive lists over an array of nodes: element i of @base (stride bytes
 * each) has its prev / next links at offsets po / no. */
struct agg_list {
    char *base;
    size_t stride, po, no;
};

static int32_t *link_at(struct agg_list l, int32_t i, size_t off)
{
    return (int32_t *)(void *)(l.base + (size_t)i * l.stride + off);
}

static void list_unlink(struct agg_list l, int32_t i, int32_t *head, int32_t *tail)
{
    int32_t prev = *link_at(l, i, l.po), next = *link_at(l, i, l.no);
    if (prev >= 0) {
        *link_at(l, prev, l.no) = next;
    } else {
        *head = next;
    }
    if (next >= 0) {
        *link_at(l, next, l.po) = prev;
    } else {
        *tail = prev;
    }
    *link_at(l, i, l.po) = *link_at(l, i, l.no) = -1;
}

static void list_push_tail(struct agg_list l, int32_t i, int32_t *head, int32_t *tail)
{
    *link_at(l, i, l.po) = *tail;
    *link_at(l, i, l.no) = -1;
    if (*tail >= 0) {
        *link_at(l, *tail, l.no) = i;
    } else {
        *head = i;
    }
    *tail = i;
}

#define AGG_LRU                                                                                    \
    ((struct agg_list){(char *)a->tk, sizeof(struct agg_tk), offsetof(struct agg_tk, lru_prev),    \
                       offsetof(struct agg_tk, lru_next)})
#define AGG_WATCH                                                                                  \
    ((struct agg_list){(char *)a->e, sizeof(struct agg_entry), offsetof(struct agg_entry, w_prev), \
                       offsetof(struct agg_entry, w_next)})

static void lru_unlink(struct sw_aggregate *a, int32_t i)
{
    list_unlink(AGG_LRU, i, &a->lru_head, &a->lru_tail);
}

/* The watch list holds, in LRU order, every entry that was dirty or closed
 * when last hit (and some that no longer are: dropped lazily by the tick), so
 * the tick finds the young entries that need it without walking the LRU. */
static void w_unlink(struct sw_aggregate *a, int32_t i)
{
    if (a->e[i].watched) {
        list_unlink(AGG_WATCH, i, &a->w_head, &a->w_tail);
        a->e[i].watched = 0;
    }
}

/* Only for the entry at the LRU tail (just hit), or in LRU order, so the
 * list's order stays LRU order. */
static void w_push_tail(struct sw_aggregate *a, int32_t i)
{
    w_unlink(a, i);
    list_push_tail(AGG_WATCH, i, &a->w_head, &a->w_tail);
    a->e[i].watched = 1;
}

/* A reload may move the horizons, so an entry the tick dropped as idle can
 * count as young again: put back every entry that could need a tick, walking
 * the LRU so the order stays LRU order. */
static void w_rebuild(struct sw_aggregate *a)
{
    while (a->w_head >= 0) {
        w_unlink(a, a->w_head);
    }
    for (int32_t i = a->lru_head; i >= 0; i = a->tk[i].lru_next) {
        a->tk[i].due = INT64_MIN; /* the horizons may have moved */
        if (a->e[i].dirty || a->e[i].state == AGG_CLOSED) {
            w_push_tail(a, i);
        }
    }
}

static void lru_push_tail(struct sw_aggregate *a, int32_t i)
{
    list_push_tail(AGG_LRU, i, &a->lru_head, &a->lru_tail);
}

static size_t bucket_of(const struct sw_aggregate *a, uint64_t h)
{
    return (size_t)(h ^ (h >> 29)) & (a->n_buckets - 1);
}

static int32_t table_find(const struct sw_aggregate *a, uint64_t h, uint8_t okind,
                          const char *offender)
{
    for (int32_t i = a->buckets[bucket_of(a, h)]; i >= 0; i = a->e[i].chain) {
        const struct agg_entry *e = &a->e[i];
        if (e->hash == h && e->okind == okind && strcasecmp(e->offender, offender) == 0) {
            return i;
        }
    }
    return -1;
}

static void table_remove(struct sw_aggregate *a, int32_t i)
{
    struct agg_entry *e = &a->e[i];
    int32_t *pp = &a->buckets[bucket_of(a, e->hash)];
    while (*pp >= 0 && *pp != i) {
        pp = &a->e[*pp].chain;
    }
    if (*pp == i) {
        *pp = e->chain;
    }
    lru_unlink(a, i);
    w_unlink(a, i);
    agg_open_free(e->open);
    memset(e, 0, offsetof(struct agg_entry, contrib));
    e->state = AGG_FREE;
    e->chain = -1;
    a->tk[i].lru_prev = -1;
    a->tk[i].lru_next = a->free_head;
    a->free_head = i;
    a->used--;
}

static void emit(struct sw_aggregate *a, struct agg_entry *e);
static void close_entry(struct sw_aggregate *a, struct agg_entry *e, int64_t now);

static int32_t table_insert(struct sw_aggregate *a, uint64_t h, uint8_t okind, const char *offender)
{
    if (a->free_head < 0 && a->hw < a->cap) {
        a->free_head = (int32_t)a->hw++;
        a->tk[a->free_head].lru_next = -1;
    }
    if (a->free_head < 0) {
        /* full: evict the least recently hit entry */
        int32_t victim = a->lru_head;
        if (a->e[victim].state == AGG_OPEN) {
            close_entry(a, &a->e[victim], a->now);
        }
        table_remove(a, victim);
        a->st.evicted++;
    }
    int32_t i = a->free_head;
    struct agg_entry *e = &a->e[i];
    a->free_head = a->tk[i].lru_next;
    memset(e, 0, sizeof(*e));
    e->hash = h;
    e->okind = okind;
    e->state = AGG_CAND;
    copy_text(e->offender, sizeof(e->offender), offender);
    size_t b = bucket_of(a, h);
    e->chain = a->buckets[b];
    a->buckets[b] = i;
    a->tk[i] = (struct agg_tk){.last_ms = 0, .due = INT64_MIN, .lru_prev = -1, .lru_next = -1};
    lru_push_tail(a, i);
    a->used++;
    return i;
}

/* ---- scoring ----------------------------------------------------------- */

static int64_t contrib_live(const struct sw_aggregate *a, const struct agg_contrib *c, int64_t now)
{
    int64_t w = a->s->window_ms;
    if (now - c->best_t <= w) {
        return c->best_milli;
    }
    if (now - c->last_t <= w) {
        return c->last_milli;
    }
    return 0;
}

/* Score of @e at @now; *strongest = index of the strongest live contribution. */
static int64_t entry_score(const struct sw_aggregate *a, const struct agg_entry *e, int64_t now,
                           int32_t *strongest)
{
    int64_t sum = 0, best = INT64_MIN;
    int32_t bi = -1;
    for (uint32_t i = 0; i < e->n_contrib; i++) {
        const struct agg_contrib *c = &e->contrib[i];
        int64_t v = contrib_live(a, c, now);
        if (c->hits > 0 && v > best) {
            best = v;
            bi = (int32_t)i;
        }
        if (c->group >= 0) {
            /* count a group once: only its first strongest member adds */
            bool skip = false;
            for (uint32_t j = 0; j < e->n_contrib && !skip; j++) {
                const struct agg_contrib *o = &e->contrib[j];
                if (j == i || o->group != c->group) {
                    continue;
                }
                int64_t ov = contrib_live(a, o, now);
                if (ov > v || (ov == v && j < i)) {
                    skip = true;
                }
            }
            if (skip) {
                continue;
            }
        }
        sum += v;
    }
    if (strongest) {
        *strongest = bi;
    }
    return sum;
}

/* ---- incidents --------------------------------------------------------- */

static void make_id(char out[40], const char *offender, const char *kind, uint64_t seq)
{
    unsigned char buf[SW_OFFENDER_TEXT + 64 + 8 + 8];
    size_t n = 0;
    size_t lo = strnlen(offender, SW_OFFENDER_TEXT - 1);
    for (size_t i = 0; i < lo; i++) {
        buf[n++] = (unsigned char)tolower((unsigned char)offender[i]);
    }
    buf[n++] = 0;
    size_t lk = strnlen(kind, 63);
    memcpy(buf + n, kind, lk);
    n += lk;
    buf[n++] = 0;
    for (int i = 0; i < 8; i++) {
        buf[n++] = (unsigned char)(seq >> (8 * i));
    }
    uint64_t h1 = sw_hash64(buf, n);
    buf[n++] = 0x5a; /* a second, independent 64 bits */
    uint64_t h2 = sw_hash64(buf, n);
    unsigned char u[16];
    for (int i = 0; i < 8; i++) {
        u[i] = (unsigned char)(h1 >> (56 - 8 * i));
        u[8 + i] = (unsigned char)(h2 >> (56 - 8 * i));
    }
    u[6] = (unsigned char)((u[6] & 0x0F) | 0x50); /* version 5 layout */
    u[8] = (unsigned char)((u[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    size_t p = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[p++] = '-';
        }
        out[p++] = hex[u[i] >> 4];
        out[p++] = hex[u[i] & 15];
    }
    out[p] = '\0';
}

static void inc_add_room(struct agg_open *o, const char *room)
{
    if (room[0] == '\0') {
        return;
    }
    size_t cnt = o->inc.n_rooms;
    int r = oset_add(&o->rooms, &cnt, hash_lower(room));
    if (r == 0) {
        return;
    }
    if (r > 0 && o->inc.n_rooms < SW_INC_MAX_TARGETS) {
        copy_text(o->inc.rooms[o->inc.n_rooms], SW_JID_TEXT, room);
    }
    if (r > 0) {
        o->inc.n_rooms = (uint32_t)cnt;
    }
}

static void inc_add_target(struct agg_open *o, const char *t)
{
    if (t[0] == '\0') {
        return;
    }
    size_t cnt = o->inc.n_targets;
    int r = oset_add(&o->targets, &cnt, hash_lower(t));
    if (r > 0 && o->inc.n_targets < SW_INC_MAX_TARGETS) {
        copy_text(o->inc.targets[o->inc.n_targets], SW_JID_TEXT, t);
    }
    if (r > 0) {
        o->inc.n_targets = (uint32_t)cnt;
    }
}

static void inc_add_evidence(struct sw_incident *inc, const struct sw_incident_evidence *ev)
{
    for (uint32_t i = 0; i < inc->n_evidence; i++) {
        if (inc->evidence[i].ev_seq == ev->ev_seq) {
            return;
        }
    }
    if (inc->n_evidence < SW_INC_MAX_EVIDENCE) {
        inc->evidence[inc->n_evidence++] = *ev;
    }
}

static void evidence_from_hit(struct sw_incident_evidence *ev, const struct sw_hit *h)
{
    ev->ev_seq = h->ev_seq;
    ev->t_ms = h->t_ms;
    copy_text(ev->stanza_id, sizeof(ev->stanza_id), h->stanza_id);
    copy_text(ev->room, sizeof(ev->room), h->room);
    copy_text(ev->target, sizeof(ev->target), h->target);
    copy_text(ev->body, sizeof(ev->body), h->body);
}

/* Refresh the incident's score, kind and contributor list from the entry. */
static void inc_refresh(struct sw_aggregate *a, struct agg_entry *e, int64_t now)
{
    struct sw_incident *inc = &e->open->inc;
    int32_t strongest = -1;
    int64_t s = entry_score(a, e, now, &strongest);
    if (s > inc->score_milli) {
        inc->score_milli = s;
    }
    if (strongest >= 0 && contrib_live(a, &e->contrib[strongest], now) > 0) {
        inc->kind = e->contrib[strongest].kind;
    }
    inc->n_contrib = e->n_contrib;
    for (uint32_t i = 0; i < e->n_contrib; i++) {
        const struct agg_contrib *c = &e->contrib[i];
        struct sw_incident_contrib *o = &inc->contrib[i];
        o->symbol = c->symbol;
        o->detector = c->detector;
        o->score_milli = c->peak_milli;
        o->hits = c->hits;
        o->n_values = c->n_values;
        memcpy(o->values, c->values, sizeof(o->values));
    }
    inc->first_seen = e->first_ms;
    inc->last_seen = e->last_ms;
    inc->hits = e->hits;
}

static void emit(struct sw_aggregate *a, struct agg_entry *e)
{
    if (e->dirty) {
        a->n_dirty--;
    }
    for (size_t i = 0; i < a->n_outputs; i++) {
        struct sw_output_ops *o = &a->outputs[i];
        if (o->incident && o->incident(o->ctx, &e->open->inc) < 0) {
            a->st.output_errors++;
        }
    }
    e->dirty = 0;
}

static void close_entry(struct sw_aggregate *a, struct agg_entry *e, int64_t now)
{
    inc_refresh(a, e, now);
    e->open->inc.status = SW_INC_CLOSED;
    e->open->inc.at_stop = a->stopping;
    e->open->inc.revision++;
    emit(a, e);
    a->tk[e - a->e].due = INT64_MIN;
    e->state = AGG_CLOSED;
    e->closed_ms = now;
    e->last_emit_ms = now;
    /* hysteresis: a re-open must cross the threshold again */
    for (uint32_t i = 0; i < e->n_contrib; i++) {
        e->contrib[i].best_milli = e->contrib[i].last_milli = 0;
    }
    a->st.closed++;
}

static int open_entry(struct sw_aggregate *a, struct agg_entry *e, const struct sw_hit *h,
                      int64_t now)
{
    if (e->state == AGG_CLOSED) {
        /* re-open the same incident */
        struct sw_incident *inc = &e->open->inc;
        inc->status = SW_INC_OPEN;
        inc->revision++;
        e->state = AGG_OPEN;
        inc_refresh(a, e, now);
        e->last_emit_ms = now;
        emit(a, e);
        a->st.reopened++;
        return 0;
    }
    struct agg_open *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        a->st.dropped++;
        return SW_ENOMEM;
    }
    e->open = o;
    struct sw_incident *inc = &o->inc;
    copy_text(inc->offender, sizeof(inc->offender), e->offender);
    inc->offender_kind = e->okind;
    inc->detected_at = h->t_ms;
    inc->status = SW_INC_OPEN;
    inc->revision = 0;
    inc->score_milli = 0;
    for (uint32_t i = 0; i < e->n_cand_ev; i++) {
        inc_add_evidence(inc, &e->cand_ev[i]);
        inc_add_room(o, e->cand_ev[i].room);
        inc_add_target(o, e->cand_ev[i].target);
    }
    struct sw_incident_evidence ev;
    evidence_from_hit(&ev, h);
    inc_add_evidence(inc, &ev);
    inc_add_room(o, h->room);
    inc_add_target(o, h->target);
    inc->kind = h->kind;
    inc_refresh(a, e, now);
    make_id(inc->id, e->offender, inc->kind ? inc->kind : "", h->ev_seq);
    e->state = AGG_OPEN;
    e->last_emit_ms = now;
    emit(a, e);
    a->st.opened++;
    return 0;
}

/* ---- never-offenders --------------------------------------------------- */

/* Is @dom (@len bytes) a MUC service: a muc.services domain or, with that
 * list empty, first label in muc.service_prefixes and two more labels (the
 * parser's rule, engine/xml.c). */
static bool is_service(const struct sw_aggregate *a, const char *dom, size_t len)
{
    char low[SW_OFFENDER_TEXT];
    if (len == 0 || len >= sizeof(low)) {
        return false;
    }
    memcpy(low, dom, len);
    low[len] = '\0';
    if (a->n_services > 0 || a->prefixes == NULL) {
        return set_has(a->services, a->n_services, hash_lower(low));
    }
    const char *dot = memchr(dom, '.', len);
    if (dot == NULL || memchr(dot + 1, '.', len - (size_t)(dot + 1 - dom)) == NULL) {
        return false;
    }
    size_t l = (size_t)(dot - dom);
    for (size_t i = 0; i < a->prefixes->n; i++) {
        const char *p = a->prefixes->v[i];
        if (p != NULL && strlen(p) == l && strncasecmp(p, dom, l) == 0) {
            return true;
        }
    }
    return false;
}

static struct agg_room *room_find(struct sw_aggregate *a, uint64_t h)
{
    for (size_t i = 0; i < AGG_ROOM_PROBE; i++) {
        struct agg_room *r = &a->rooms[(h + i) & (AGG_ROOMS - 1)];
        if (r->hash == h) {
            return r;
        }
    }
    return NULL;
}

static bool room_has(struct sw_aggregate *a, uint64_t h, int64_t now)
{
    const struct agg_room *r = room_find(a, h);
    return r != NULL && now - r->last_ms <= AGG_ROOM_TTL_MS;
}

/* Remember @room (a hit's room) if it is at a MUC service. */
static void room_note(struct sw_aggregate *a, const char *room, int64_t now)
{
    const char *at = strchr(room, '@');
    if (at == NULL || at == room || !is_service(a, at + 1, strlen(at + 1))) {
        if (room[0] != '\0') {
            a->st.not_rooms++;
        }
        return;
    }
    uint64_t h = hash_lower(room);
    struct agg_room *r = room_find(a, h), *victim = NULL;
    for (size_t i = 0; r == NULL && i < AGG_ROOM_PROBE; i++) {
        struct agg_room *c = &a->rooms[(h + i) & (AGG_ROOMS - 1)];
        if (c->hash == 0 || now - c->last_ms > AGG_ROOM_TTL_MS) {
            r = c; /* free or expired */
        } else if (victim == NULL || c->last_ms < victim->last_ms) {
            victim = c;
        }
    }
    if (r == NULL) {
        r = victim; /* the least recently seen of the probe window */
        a->st.rooms_evicted++;
    }
    r->hash = h;
    r->last_ms = now;
}

static bool is_never(struct sw_aggregate *a, const char *off, uint8_t okind)
{
    uint64_t h = hash_lower(off);
    if (set_has(a->never, a->n_never, h)) {
        return true;
    }
    const char *at = strchr(off, '@');
    if (okind == SW_OFFENDER_DOMAIN) {
        if (at != NULL) {
            return true; /* a "domain" with a local part is malformed */
        }
        return set_has(a->services, a->n_services, h);
    }
    if (at == NULL || at == off || at[1] == '\0') {
        return true; /* bare domain (server, component) or malformed */
    }
    if (set_has(a->services, a->n_services, hash_lower(at + 1))) {
        return true; /* a room */
    }
    return room_has(a, h, a->now);
}

/* ---- public ------------------------------------------------------------ */

/* An entry idle this long (stream time) is one the tick walks to. */
static int64_t agg_horizon(const struct sw_aggregate *a)
{
    return a->s->close_after_ms < a->s->window_ms ? a->s->close_after_ms : a->s->window_ms;
}

void sw_aggregate_hit(struct sw_aggregate *a, const struct sw_hit *h)
{
    if (a->listed != NULL && h->symbol != listed_symbol) {
        /* a listed offender: the listing is one more weighted symbol (share.h) */
        int64_t w = a->listed(a->listed_ctx, h->offender);
        if (w > 0) {
            struct sw_hit lh = *h;
            lh.symbol = listed_symbol;
            lh.detector = "share";
            lh.n_values = 0;
            lh.weight_milli = (uint32_t)(w < a->threshold_milli ? w : a->threshold_milli - 1);
            sw_aggregate_hit(a, &lh);
            a->st.hits--;
        }
    }
    a->st.hits++;
    int64_t now = h->t_ms > a->now ? h->t_ms : a->now;
    a->now = now;
    if (now + agg_horizon(a) < a->next_walk) {
        a->next_walk = now + agg_horizon(a); /* the entry hit now turns idle then */
    }
    if (h->room[0] != '\0') {
        char room[SW_OFFENDER_TEXT];
        if (copy_bare(room, h->room) > 0) {
            room_note(a, room, now);
        }
    }
    char off[SW_OFFENDER_TEXT];
    if (copy_bare(off, h->offender) == 0 || h->symbol == NULL ||
        is_never(a, off, h->offender_kind)) {
        a->st.dropped++;
        return;
    }
    uint64_t hh = hash_lower(off);
    int32_t idx = table_find(a, hh, h->offender_kind, off);
    if (idx >= 0 && a->e[idx].state == AGG_CLOSED &&
        now - a->e[idx].closed_ms > a->s->reopen_window_ms) {
        table_remove(a, idx); /* too late to re-open: start afresh */
        idx = -1;
    }
    if (idx < 0) {
        idx = table_insert(a, hh, h->offender_kind, off);
    } else {
        lru_unlink(a, idx);
        lru_push_tail(a, idx);
        const struct agg_entry *m = &a->e[idx];
        if (m->watched || m->dirty || m->state == AGG_CLOSED) {
            w_push_tail(a, idx);
        }
    }
    struct agg_entry *e = &a->e[idx];
    int64_t first = h->first_ms > 0 && h->first_ms <= h->t_ms ? h->first_ms : h->t_ms;
    if (e->hits == 0 || first < e->first_ms) {
        e->first_ms = first;
    }
    e->last_ms = now;
    a->tk[idx].last_ms = now;
    a->tk[idx].due = INT64_MIN; /* whatever this hit changes, the walk looks again */
    e->hits++;

    /* the symbol's contribution */
    const struct agg_sym *sym = find_sym(a, h->symbol);
    int64_t score_milli = sym ? sym->score_milli : a->default_milli;
    int64_t c = (int64_t)llround((double)score_milli * (double)h->weight_milli / 1000.0);
    if (h->symbol == listed_symbol) {
        c = h->weight_milli; /* already scaled and capped below the threshold */
    }
    struct agg_contrib *ct = NULL;
    bool new_symbol = false;
    for (uint32_t i = 0; i < e->n_contrib; i++) {
        if (strcmp(e->contrib[i].symbol, h->symbol) == 0) {
            ct = &e->contrib[i];
            break;
        }
    }
    bool fresh = false;
    if (ct == NULL && e->n_contrib == SW_INC_MAX_DETECTORS) {
        /* Saturated: the weakest live contribution (oldest among equals) gives
         * its slot to a stronger new symbol; a weaker one is dropped. */
        struct agg_contrib *v = NULL;
        int64_t vl = 0;
        for (uint32_t i = 0; i < e->n_contrib; i++) {
            struct agg_contrib *o = &e->contrib[i];
            int64_t l = contrib_live(a, o, now);
            if (v == NULL || l < vl || (l == vl && o->last_t < v->last_t)) {
                v = o;
                vl = l;
            }
        }
        if (v != NULL && (vl == 0 || vl < c)) {
            ct = v;
            fresh = true;
            a->st.evicted_symbols++;
        }
    } else if (ct == NULL) {
        ct = &e->contrib[e->n_contrib++];
        fresh = true;
    }
    if (fresh) {
        memset(ct, 0, sizeof(*ct));
        ct->symbol = h->symbol;
        ct->detector = h->detector ? h->detector : "";
        ct->group = sym ? sym->group : -1;
        ct->best_t = ct->last_t = INT64_MIN / 2;
        new_symbol = true;
    }
    if (ct != NULL) {
        ct->kind = h->kind ? h->kind : "abuse";
        ct->hits++;
        if (now - ct->best_t > a->s->window_ms || c >= ct->best_milli) {
            ct->best_milli = c;
            ct->best_t = now;
        }
        ct->last_milli = c;
        ct->last_t = now;
        if (c > ct->peak_milli) {
            ct->peak_milli = c;
        }
        uint32_t nv = h->n_values < SW_HIT_MAX_VALUES ? h->n_values : SW_HIT_MAX_VALUES;
        ct->n_values = nv;
        memcpy(ct->values, h->values, nv * sizeof(h->values[0]));
    } else {
        a->st.dropped_symbols++;
    }

    if (e->state == AGG_OPEN) {
        struct agg_open *o = e->open;
        uint32_t rooms = o->inc.n_rooms, targets = o->inc.n_targets;
        int64_t before = o->inc.score_milli;
        struct sw_incident_evidence ev;
        evidence_from_hit(&ev, h);
        inc_add_evidence(&o->inc, &ev);
        inc_add_room(o, h->room);
        inc_add_target(o, h->target);
        int64_t s = entry_score(a, e, now, NULL);
        if ((new_symbol || s > before || o->inc.n_rooms != rooms || o->inc.n_targets != targets) &&
            !e->dirty) {
            e->dirty = 1;
            a->n_dirty++;
            w_push_tail(a, idx);
        }
        if (e->dirty && now - e->last_emit_ms >= a->s->update_interval_ms) {
            inc_refresh(a, e, now);
            o->inc.status = SW_INC_UPDATED;
            o->inc.revision++;
            e->last_emit_ms = now;
            emit(a, e);
            a->st.updated++;
        } else if (e->dirty) {
            a->st.suppressed++;
        }
        return;
    }

    if (e->state == AGG_CAND && e->n_cand_ev < AGG_CAND_EVIDENCE) {
        evidence_from_hit(&e->cand_ev[e->n_cand_ev++], h);
    }
    if (e->state == AGG_CLOSED) {
        struct agg_open *o = e->open;
        struct sw_incident_evidence ev;
        evidence_from_hit(&ev, h);
        inc_add_evidence(&o->inc, &ev);
        inc_add_room(o, h->room);
        inc_add_target(o, h->target);
    }
    if (entry_score(a, e, now, NULL) >= a->threshold_milli) {
        open_entry(a, e, h, now);
    }
}

/* One entry's due work at tick time @now (closing, a held-back update,
 * forgetting a closed or stale candidate entry). */
static void tick_entry(struct sw_aggregate *a, int32_t i, int64_t now)
{
    struct agg_entry *e = &a->e[i];
    switch (e->state) {
    case AGG_OPEN:
        if (now - e->last_ms >= a->s->close_after_ms) {
            close_entry(a, e, now);
        } else if (e->dirty && now - e->last_emit_ms >= a->s->update_interval_ms) {
            inc_refresh(a, e, e->last_ms);
            e->open->inc.status = SW_INC_UPDATED;
            e->open->inc.revision++;
            e->last_emit_ms = now;
            emit(a, e);
            a->st.updated++;
        }
        break;
    case AGG_CLOSED:
        if (now - e->closed_ms > a->s->reopen_window_ms) {
            table_remove(a, i);
        }
        break;
    case AGG_CAND:
        if (now - e->last_ms > a->s->window_ms) {
            table_remove(a, i);
        }
        break;
    default:
        break;
    }
}

/* The stream time at which tick_entry() would first do something to @e
 * (INT64_MAX: never, e.g. a freed entry), given no hit in between. */
static int64_t entry_due(const struct sw_aggregate *a, const struct agg_entry *e)
{
    switch (e->state) {
    case AGG_OPEN: {
        int64_t d = e->last_ms + a->s->close_after_ms;
        if (e->dirty && e->last_emit_ms + a->s->update_interval_ms < d) {
            d = e->last_emit_ms + a->s->update_interval_ms;
        }
        return d;
    }
    case AGG_CLOSED:
        return e->closed_ms + a->s->reopen_window_ms + 1;
    case AGG_CAND:
        return e->last_ms + a->s->window_ms + 1;
    default:
        return INT64_MAX;
    }
}

void sw_aggregate_tick(struct sw_aggregate *a, int64_t now_ms)
{
    int64_t now = now_ms > a->now ? now_ms : a->now;
    a->now = now;
    /* The LRU list is ordered by last hit time (hit times never go back), so
     * the entries idle for at least both horizons are a prefix of it: each
     * gets its due work in LRU order. Past that point (the young entries)
     * only those on the watch list can have any (a held-back update, or a
     * closed entry hit again and past reopen_window), and only while some
     * update is held back: they are taken in the same (LRU) order, which is
     * what walking the rest of the LRU list did, without touching the others. */
    int64_t horizon = agg_horizon(a);
    int32_t i = a->lru_head;
    if (now >= a->next_walk) {
        /* next_walk: the earliest time an idle entry has work due, or a young
         * one turns idle; hits only add young entries (sw_aggregate_hit lowers
         * it to their turning idle), so before it the walk would do nothing. */
        int64_t next_walk = INT64_MAX;
        while (i >= 0 && now - a->tk[i].last_ms >= horizon) {
            struct agg_tk *t = &a->tk[i];
            int32_t next = t->lru_next;
            if (t->due > now) {
                /* nothing due yet (tick_entry would do nothing): the entry
                 * itself is not touched */
                next_walk = t->due < next_walk ? t->due : next_walk;
                i = next;
                continue;
            }
            tick_entry(a, i, now);
            int64_t d = entry_due(a, &a->e[i]);
            t->due = d;
            next_walk = d < next_walk ? d : next_walk;
            i = next;
        }
        if (i >= 0 && a->tk[i].last_ms + horizon < next_walk) {
            next_walk = a->tk[i].last_ms + horizon;
        }
        a->next_walk = next_walk;
    }
    for (i = a->w_head; i >= 0;) {
        struct agg_entry *e = &a->e[i];
        int32_t next = e->w_next;
        if (now - e->last_ms >= horizon) {
            /* done above; back on the list if hit while dirty or closed */
            w_unlink(a, i);
        } else if (a->n_dirty == 0) {
            break;
        } else if (e->state == AGG_CLOSED || (e->state == AGG_OPEN && e->dirty)) {
            tick_entry(a, i, now);
            a->tk[i].due = INT64_MIN;
        } else {
            w_unlink(a, i); /* needs nothing until its next hit */
        }
        i = next;
    }
}

void sw_aggregate_finish(struct sw_aggregate *a, int64_t now_ms)
{
    int64_t now = now_ms > a->now ? now_ms : a->now;
    a->now = now;
    /* close in LRU (last hit time) order: deterministic */
    for (int32_t i = a->lru_head; i >= 0; i = a->tk[i].lru_next) {
        if (a->e[i].state == AGG_OPEN) {
            close_entry(a, &a->e[i], now);
        }
    }
}

void sw_aggregate_get_stats(const struct sw_aggregate *a, struct sw_aggregate_stats *st)
{
    *st = a->st;
}

static int build_hashes(const struct sw_conf_strlist *l, uint64_t **v, size_t *n)
{
    size_t cnt = l ? l->n : 0;
    uint64_t *arr = realloc(*v, (*n + cnt + 1) * sizeof(uint64_t));
    if (arr == NULL) {
        return SW_ENOMEM;
    }
    *v = arr;
    for (size_t i = 0; i < cnt; i++) {
        char bare[SW_OFFENDER_TEXT];
        copy_bare(bare, l->v[i] ? l->v[i] : "");
        uint64_t h = hash_lower(bare);
        if (h != 0) {
            arr[(*n)++] = h;
        }
    }
    return 0;
}

/* Scores, symbols, groups and never-offender hashes of @s into @a (the
 * policy part: everything a reload may change). */
static int agg_policy(struct sw_aggregate *a, const struct sw_aggregate_settings *s,
                      const struct sw_conf_strlist *never, const struct sw_conf_strlist *services,
                      struct sw_errbuf *eb)
{
    a->s = s;
    a->threshold_milli = (int64_t)llround(s->report_threshold * 1000.0);
    a->default_milli = (int64_t)llround(s->default_score * 1000.0);
    if (s->max_tracked < 1 || s->window_ms < 1 || a->threshold_milli < 1) {
        return sw_errbuf_set(eb, SW_EINVAL, "aggregate: bad settings");
    }
    const struct sw_aggregate_symbol *sy = s->symbols.items;
    a->n_syms = s->symbols.n;
    a->syms = calloc(a->n_syms + 1, sizeof(*a->syms));
    if (a->syms == NULL) {
        return SW_ENOMEM;
    }
    for (size_t i = 0; i < a->n_syms; i++) {
        if (sy[i].symbol == NULL || sy[i].symbol[0] == '\0') {
            return sw_errbuf_set(eb, SW_ECONF, "aggregate.symbols[%zu]: empty symbol", i);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(sy[j].symbol, sy[i].symbol) == 0) {
                return sw_errbuf_set(eb, SW_ECONF, "aggregate.symbols[%zu]: duplicate symbol %s", i,
                                     sy[i].symbol);
            }
        }
        a->syms[i].name = sy[i].symbol;
        a->syms[i].score_milli = (int64_t)llround(sy[i].score * 1000.0);
        a->syms[i].group = -1;
        if (sy[i].group != NULL && sy[i].group[0] != '\0') {
            a->syms[i].group = (int32_t)i;
            for (size_t j = 0; j < i; j++) {
                if (sy[j].group != NULL && strcmp(sy[j].group, sy[i].group) == 0) {
                    a->syms[i].group = a->syms[j].group;
                    break;
                }
            }
        }
    }
    int rc = build_hashes(never, &a->never, &a->n_never);
    if (rc == 0) {
        rc = build_hashes(&s->never, &a->never, &a->n_never);
    }
    if (rc == 0) {
        rc = build_hashes(services, &a->services, &a->n_services);
    }
    return rc;
}

static int agg_init(struct sw_aggregate *a, const struct sw_aggregate_settings *s,
                    const struct sw_conf_strlist *never, const struct sw_conf_strlist *services,
                    struct sw_errbuf *eb)
{
    a->lru_head = a->lru_tail = -1;
    a->w_head = a->w_tail = -1;
    a->next_walk = INT64_MIN;
    a->now = INT64_MIN / 2;
    a->listed = g_listed;
    a->listed_ctx = g_listed_ctx;
    int rc = agg_policy(a, s, never, services, eb);
    if (rc < 0) {
        return rc;
    }
    a->cap = (size_t)s->max_tracked;
    a->e = calloc(a->cap, sizeof(*a->e));
    a->tk = malloc(a->cap * sizeof(*a->tk));
    a->n_buckets = 16;
    while (a->n_buckets < a->cap) {
        a->n_buckets <<= 1;
    }
    a->buckets = malloc(a->n_buckets * sizeof(int32_t));
    if (a->e == NULL || a->tk == NULL || a->buckets == NULL) {
        return SW_ENOMEM;
    }
    for (size_t i = 0; i < a->n_buckets; i++) {
        a->buckets[i] = -1;
    }
    a->free_head = -1;
    a->hw = 0;
    return 0;
}

int sw_aggregate_new_settings(const struct sw_aggregate_settings *s,
                              const struct sw_conf_strlist *never,
                              const struct sw_conf_strlist *services,
                              const struct sw_conf_strlist *prefixes, struct sw_output_ops *outputs,
                              size_t n_outputs, struct sw_aggregate **out, struct sw_errbuf *eb)
{
    *out = NULL;
    struct sw_aggregate *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "aggregate: out of memory");
    }
    a->outputs = outputs;
    a->n_outputs = n_outputs;
    a->prefixes = prefixes;
    int rc = agg_init(a, s, never, services, eb);
    if (rc < 0) {
        sw_aggregate_free(a);
        if (rc == SW_ENOMEM) {
            sw_errbuf_set(eb, rc, "aggregate: out of memory");
        }
        return rc;
    }
    *out = a;
    return 0;
}

int sw_aggregate_new(const struct sw_conf *conf, struct sw_output_ops *outputs, size_t n_outputs,
                     struct sw_aggregate **out, struct sw_errbuf *eb)
{
    const struct sw_aggregate_settings *s = sw_conf_section(conf, "aggregate");
    if (s == NULL) {
        return sw_errbuf_set(eb, SW_ECONF, "aggregate: section not registered");
    }
    const struct sw_muc_settings *muc = sw_conf_section(conf, "muc");
    int rc =
        sw_aggregate_new_settings(s, muc ? &muc->server_jids : NULL, muc ? &muc->services : NULL,
                                  muc ? &muc->service_prefixes : NULL, outputs, n_outputs, out, eb);
    if (rc == 0) {
        /* only a count changes: the snapshot's content stays immutable */
        (*out)->conf = (struct sw_conf *)conf;
        sw_conf_ref((*out)->conf);
    }
    return rc;
}

int sw_aggregate_reload(struct sw_aggregate *a, struct sw_conf *conf, struct sw_errbuf *eb)
{
    const struct sw_aggregate_settings *s = sw_conf_section(conf, "aggregate");
    const struct sw_muc_settings *muc = sw_conf_section(conf, "muc");
    if (s == NULL) {
        return sw_errbuf_set(eb, SW_ECONF, "aggregate: section not registered");
    }
    /* build the new policy aside, then swap: a bad config changes nothing */
    struct sw_aggregate n;
    memset(&n, 0, sizeof(n));
    int rc = agg_policy(&n, s, muc ? &muc->server_jids : NULL, muc ? &muc->services : NULL, eb);
    if (rc < 0) {
        free(n.syms);
        free(n.never);
        free(n.services);
        return rc;
    }
    if ((size_t)s->max_tracked != a->cap) {
        sw_log_warn("aggregate", "max_tracked %lld -> %lld takes effect at restart",
                    (long long)a->cap, (long long)s->max_tracked);
    }
    free(a->syms);
    free(a->never);
    free(a->services);
    a->s = s;
    a->threshold_milli = n.threshold_milli;
    a->default_milli = n.default_milli;
    a->syms = n.syms;
    a->n_syms = n.n_syms;
    a->never = n.never;
    a->n_never = n.n_never;
    a->services = n.services;
    a->n_services = n.n_services;
    a->prefixes = muc ? &muc->service_prefixes : NULL; /* lives in @conf, referenced below */
    w_rebuild(a);
    a->next_walk = INT64_MIN; /* new horizons: walk at the next tick */
    sw_conf_ref(conf);
    sw_conf_free(a->conf);
    a->conf = conf;
    a->st.reloads++;
    return 0;
}

void sw_aggregate_free(struct sw_aggregate *a)
{
    if (a == NULL) {
        return;
    }
    if (a->e != NULL) {
        for (size_t i = 0; i < a->hw; i++) {
            agg_open_free(a->e[i].open);
        }
    }
    free(a->e);
    free(a->tk);
    free(a->buckets);
    free(a->syms);
    free(a->never);
    free(a->services);
    sw_conf_free(a->conf);
    free(a);
}

/* ---- the pipeline stage (struct sw_hit_stage) ---------------------------- */

static void stage_hit(void *ctx, const struct sw_hit *hit)
{
    sw_aggregate_hit(ctx, hit);
}

static void stage_tick(void *ctx, int64_t now_ms)
{
    sw_aggregate_tick(ctx, now_ms);
}

static void stage_finish(void *ctx, int64_t now_ms)
{
    sw_aggregate_finish(ctx, now_ms);
}

/* Stopped by a signal: close locally (outputs write it), but each close is
 * marked at_stop, so the live reporter does not tell peers the abuse ended. */
static void stage_stop(void *ctx, int64_t now_ms)
{
    struct sw_aggregate *a = ctx;
    a->stopping = 1;
    sw_aggregate_finish(a, now_ms);
    a->stopping = 0;
}

static void stage_get_stats(const void *ctx, struct sw_aggregate_stats *st)
{
    sw_aggregate_get_stats(ctx, st);
}

/* A reload reaches the aggregator and, through it, every output (the live
 * reporter swaps peers, trust and policies). */
static void stage_reload(void *ctx, struct sw_conf *c)
{
    struct sw_aggregate *a = ctx;
    struct sw_errbuf eb;
    eb.msg[0] = '\0';
    if (sw_aggregate_reload(a, c, &eb) < 0) {
        sw_log_error("aggregate", "reload refused, keeping the running settings: %s", eb.msg);
    }
    for (size_t i = 0; i < a->n_outputs; i++) {
        struct sw_output_ops *o = &a->outputs[i];
        if (o->reload != NULL && o->reload(o->ctx, c) < 0) {
            sw_log_error("aggregate", "output %s keeps its settings after the reload", o->name);
        }
    }
}

void sw_aggregate_stage(struct sw_aggregate *a, struct sw_hit_stage *out)
{
    *out = (struct sw_hit_stage){
        .ctx = a,
        .hit = stage_hit,
        .tick = stage_tick,
        .finish = stage_finish,
        .stop = stage_stop,
        .get_stats = stage_get_stats,
        .reload = stage_reload,
    };
}
