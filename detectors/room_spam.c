/*
 * room_spam.c - one account posting the same or mutated text into many rooms.
 *
 * Sharded by SENDER. Per account one 64-byte entry with one cluster of
 * near-identical lines: a line joins it when its 64-bit SimHash is within
 * simhash_distance of the cluster's first line or of its latest member (so a
 * random suffix, a swapped word or drifting mutations stay one text) or
 * when it names the cluster's link (text/link.c, case folded: a pitch mutated
 * past simhash_distance still points at one target), and the cluster holds the distinct rooms it
 * was posted to (16-bit room fingerprints, up to 10) since its first line, for at most `window`.
 * Another text takes the cluster over only when it is dead, holds a single room, or saw no matching
 * line for window/3, or when other texts in a row outnumber its rooms (outlier variants of a
 * mutated pitch do not hold it). "room_spam.rooms" hits when one cluster reached min_rooms distinct
 * rooms, then at most once per cooldown. Lines shorter than min_len normalized bytes never count
 * ("hi", "good morning" in each room one joins). A news bot posting one headline to a few rooms
 * stays below min_rooms. A line in a room the account is a member of does not count that room (a
 * second table of (account, room) sightings, 1/4 of max_memory): it spoke there a minute or more
 * before, joined member_age or more before, or was never seen joining nor speaking there (an
 * occupant since before the capture: nobody posts without being in the
 * room). So a long-standing member posting an item to the rooms it belongs to
 * (a feed bot, an admin's warning) is not cross-room spam by itself, while a
 * spammer joining rooms to post is. Limitation: a mirror that drops MUC
 * presences hides the joins, and room_spam then sees members only.
 * Kind "message-spam".
 *
 * Threading: shared = settings copy; local = the table, per worker.
 */
#include "sw/detector.h"
#include "sw/link.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dcommon.h"
#include "sw/simhash.h"
#include "table.h"

#define RS_ROOMS 10

struct sw_room_spam_settings {
    bool enabled;
    int64_t max_memory, idle, cooldown;
    int64_t window, min_rooms, min_len, simhash_distance, member_age;
};

#define SW_DC_S struct sw_room_spam_settings
static const struct sw_conf_item schema[] = {
    SW_DC_COMMON_ITEMS("32MB", "15m", "10m"),
    SW_DC_DUR("window", window, 1000, 86400000, "10m",
              "rooms are counted for a text cluster this long after its first line"),
    SW_DC_INT("min_rooms", min_rooms, 2, RS_ROOMS, "5",
              "distinct rooms one near-identical text must reach (at most 10)"),
    SW_DC_INT("min_len", min_len, 1, 100000, "30",
              "normalized text bytes a line needs to count (greetings do not)"),
    SW_DC_INT("simhash_distance", simhash_distance, 0, 32, "14",
              "max Hamming distance of 64-bit SimHashes for the same text"),
    SW_DC_DUR("member_age", member_age, 60000, 30 * SW_DC_DAY_MS, "1h",
              "an account that joined a room at least this long before a line (or spoke there "
              "before, or was never seen joining: in the room since before the capture) is a "
              "member there: that room does not count for the line (a feed bot posting each item "
              "to the rooms it belongs to is not spam by itself)"),
    SW_CONF_END,
};
#undef SW_DC_S

struct rs_entry {
    struct sw_table_entry h; /* user: last hit seconds */
    uint64_t fp, fp_last;    /* the cluster's first line and its latest matching one */
    uint32_t first_s, last_s;
    uint16_t rooms[RS_ROOMS];
    uint16_t misses; /* other texts in a row since the cluster's latest match (< RS_ROOMS) */
    uint16_t link;   /* 16-bit hash of the cluster's link, case folded; 0 = none */
};
_Static_assert(sizeof(struct rs_entry) == 64, "room_spam entry is 64 bytes");

struct rs_shared {
    struct sw_dc_shared dc;
    struct sw_room_spam_settings s;
};

struct rs_local {
    SW_DC_LOCAL_HEAD;     /* t: the table */
    struct sw_table *mem; /* (sender, room) -> first seen there (user, seconds) */
};

/* (account, room) sightings: the join seen last, and the first own line. */
struct rs_mem {
    struct sw_table_entry h; /* user: seconds of the join seen, 0 = none */
    uint32_t first_line_s;   /* seconds of its first line there, 0 = none */
    uint32_t pad;
};

#define RS_MEM_IDLE_S (7u * 86400u) /* membership is remembered for a week (LRU at the cap) */

/* The line's first link (text/link.c), case and leet folded (0 1 3 4 5 7 as
 * o i e a s t, as sw_normalize() reads them) and hashed to 16 bits, 0 without
 * one: a pitch whose text mutates beyond simhash_distance (random suffixes, a
 * greeting, "hTtp", a re-cased path, "3xample" for "example": swgen seed
 * 282329097, whose second line took the one-room cluster over and left 4 of
 * 6 rooms) still names one target, so the same link from one account keeps
 * its cluster. Only one account's lines are compared, so a 16-bit hash, and
 * a fold that makes "x3.example" and "xe.example" one, are enough. */
static uint16_t rs_link(const struct sw_event *ev)
{
    static const char leet[10] = {'o', 'i', '2', 'e', 'a', 's', '6', 't', '8', '9'};
    char link[SW_LINK_MAX];
    size_t n = sw_link_first(ev->body, ev->body_len, link);
    if (n == 0) {
        return 0;
    }
    uint32_t h = 2166136261u; /* FNV-1a over the lower-cased link */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)link[i];
        c = c >= 'A' && c <= 'Z'   ? (unsigned char)(c + 32)
            : c >= '0' && c <= '9' ? (unsigned char)leet[c - '0']
                                   : c;
        h = (h ^ (uint32_t)c) * 16777619u;
    }
    uint16_t v = (uint16_t)(h ^ (h >> 16));
    return v != 0 ? v : 1;
}

static int rs_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    const struct sw_room_spam_settings *s = settings;
    /* 3/4 of max_memory for the text clusters, 1/4 for room membership */
    struct rs_shared *sh =
        sw_dc_shared_new(sizeof(*sh), sizeof(struct rs_local), sizeof(struct rs_entry),
                         s->max_memory - s->max_memory / 4, s->idle);
    if (sh == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "room_spam: out of memory");
    }
    sh->s = *s;
    sh->dc.sizing = s->max_memory;
    *shared = sh;
    return 0;
}

static int rs_thread_init(const void *shared, void **local)
{
    const struct rs_shared *sh = shared;
    int rc = sw_dc_thread_init(shared, local);
    if (rc != 0) {
        return rc;
    }
    struct rs_local *l = *local;
    rc = sw_table_new(&l->mem, sizeof(struct rs_mem), sh->s.max_memory / 4);
    if (rc != 0) {
        sw_dc_thread_fini(l);
        *local = NULL;
    }
    return rc;
}

static void rs_thread_fini(void *local)
{
    struct rs_local *l = local;
    if (l != NULL) {
        sw_table_free(l->mem);
    }
    sw_dc_thread_fini(local);
}

static void rs_expire(const void *shared, void *local, int64_t now_ms, struct sw_detector_stats *st)
{
    struct rs_local *l = local;
    struct sw_detector_stats ms = {0};
    sw_table_expire(l->mem, sw_table_now(l->mem, now_ms), RS_MEM_IDLE_S, &ms);
    sw_dc_expire(shared, local, now_ms, st);
    st->keys += ms.keys;
    st->mem_bytes += ms.mem_bytes;
    st->expired += ms.expired;
}

#define RS_HISTORY_GAP_S 60u /* an own line this much older than the current one is history */

/* Record a MUC join of the event's sender into the event's room. */
static void rs_joined(struct rs_local *l, const struct sw_event *ev, struct sw_detector_stats *st)
{
    uint32_t now = sw_table_now(l->mem, ev->t_ms);
    uint32_t prev;
    struct rs_mem *m =
        sw_table_get(l->mem, sw_table_key2(ev->key[SW_SHARD_ROOM], ev->from.bare), now, &prev, st);
    m->h.user = now;
}

/* True when the sender of groupchat line @ev is a member of its room: it
 * spoke there before (RS_HISTORY_GAP_S or more before this line), joined
 * member_age or more before, or was never seen joining nor speaking (an
 * occupant since before the capture began: you cannot post without being in
 * the room). A spammer joining a room to post there is not a member. */
static bool rs_member(const struct rs_shared *sh, struct rs_local *l, const struct sw_event *ev,
                      struct sw_detector_stats *st)
{
    uint32_t now = sw_table_now(l->mem, ev->t_ms);
    uint32_t prev;
    struct rs_mem *m =
        sw_table_get(l->mem, sw_table_key2(ev->key[SW_SHARD_ROOM], ev->from.bare), now, &prev, st);
    if (prev == 0) {
        m->first_line_s = now;
        return true; /* neither its join nor a line seen: there before the capture */
    }
    if (m->first_line_s != 0 && now >= m->first_line_s + RS_HISTORY_GAP_S) {
        return true;
    }
    if (m->first_line_s == 0) {
        m->first_line_s = now;
    }
    return m->h.user == 0 || (now > m->h.user && now - m->h.user >= sw_dc_secs(sh->s.member_age));
}

static unsigned nrooms(const struct rs_entry *e)
{
    unsigned n = 0;
    for (int i = 0; i < RS_ROOMS; i++) {
        n += e->rooms[i] != 0;
    }
    return n;
}

static void rs_process(const void *shared, void *local, const struct sw_event *ev,
                       struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct rs_shared *sh = shared;
    struct rs_local *l = local;
    if (ev->kind == SW_EV_PRESENCE) {
        if ((ev->flags & SW_F_MUC_JOIN) != 0 && ev->key[SW_SHARD_ROOM] != 0 &&
            !sw_dc_excluded(ev)) {
            rs_joined(l, ev, st);
        }
        return;
    }
    if (ev->type != SW_T_GROUPCHAT || (ev->flags & SW_F_MUC_GROUPCHAT) == 0 ||
        ev->key[SW_SHARD_ROOM] == 0 || ev->body_len == 0 || sw_dc_excluded(ev)) {
        return;
    }
    if (rs_member(sh, l, ev, st)) {
        return; /* a line in a room it belongs to: not cross-room spam by itself */
    }
    st->events++;
    if ((int64_t)ev->body_full < sh->s.min_len) {
        return; /* normalized text is never longer than the raw body */
    }
    size_t nlen = 0;
    uint64_t fp = sw_simhash_body(ev, &nlen);
    if ((int64_t)nlen < sh->s.min_len) {
        return;
    }
    uint32_t now = sw_table_now(l->t, ev->t_ms);
    uint32_t prev;
    struct rs_entry *e = sw_table_get(l->t, ev->from.bare, now, &prev, st);
    uint32_t win = sw_dc_secs(sh->s.window);
    unsigned dmax = (unsigned)sh->s.simhash_distance;
    bool alive = e->first_s != 0 && (e->first_s >= now || now - e->first_s <= win);
    uint16_t link = rs_link(ev);
    bool match =
        alive && (sw_simhash_distance(e->fp, fp) <= dmax ||
                  sw_simhash_distance(e->fp_last, fp) <= dmax || (link != 0 && e->link == link));
    if (match) {
        e->fp_last = fp; /* mutations drift: match the seed or the latest variant */
        e->last_s = now;
        e->misses = 0;
    } else {
        /* Another text: it takes over the cluster when the cluster is dead,
         * has one room only, went stale (no matching line for window/3), or
         * other texts in a row outnumber its rooms (two outlier variants of
         * a mutated pitch must not hold the cluster against the rest). */
        bool stale = e->last_s < now && now - e->last_s > win / 3;
        unsigned nr = nrooms(e);
        if (alive && nr > 1 && !stale && ++e->misses < nr) {
            return;
        }
        e->misses = 0;
        e->link = link;
        e->fp = e->fp_last = fp;
        e->first_s = e->last_s = now;
        memset(e->rooms, 0, sizeof(e->rooms));
    }
    uint16_t rf = (uint16_t)((ev->key[SW_SHARD_ROOM] >> 48) | 1u);
    for (int i = 0; i < RS_ROOMS; i++) {
        if (e->rooms[i] == rf) {
            break;
        }
        if (e->rooms[i] == 0) {
            e->rooms[i] = rf;
            break;
        }
    }
    unsigned n = nrooms(e);
    if ((int64_t)n < sh->s.min_rooms) {
        return;
    }
    uint32_t cd = sw_dc_secs(sh->s.cooldown);
    if (e->h.user != 0 && (e->h.user >= now || now - e->h.user < cd)) {
        return;
    }
    e->h.user = now;
    struct sw_hit h;
    sw_hit_init(&h, "room_spam", "room_spam.rooms", "message-spam", ev);
    h.first_ms = ev->t_ms - (int64_t)(now - e->first_s) * 1000;
    sw_hit_add_value(&h, "rooms", n);
    sw_hit_add_value(&h, "span_s", (int64_t)(now - e->first_s));
    sw_hit_emit(out, &h);
    st->hits++;
}

/* The membership slot (room, sender) rs_process will look up for @ev (a
 * join or a room line), a few events ahead (see sw_detector_ops.prefetch). */
static void rs_prefetch(const void *shared, void *local, const struct sw_event *ev)
{
    (void)shared;
    const struct rs_local *l = local;
    sw_dc_prefetch_occupant(l->mem, ev);
}

static const struct sw_detector_symbol rs_symbols[] = {
    {.symbol = "room_spam.rooms", .score = 1.0},
    {.symbol = NULL},
};

const struct sw_detector_ops sw_room_spam_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "room_spam",
    .description = "one account posting the same or mutated text into many rooms",
    .symbols = rs_symbols,
    .events = SW_EV_MESSAGE | SW_EV_PRESENCE,
    .shard = SW_SHARD_SENDER,
    .schema = schema,
    .settings_size = sizeof(struct sw_room_spam_settings),
    .setup = rs_setup,
    .thread_init = rs_thread_init,
    .process = rs_process,
    .prefetch = rs_prefetch,
    .expire = rs_expire,
    .thread_reload = sw_dc_thread_reload, /* keeps every window unless max_memory changed */
    .thread_fini = rs_thread_fini,
    .teardown = sw_dc_teardown,
};
