/*
 * presence_churn.c - one occupant joining, leaving and changing nick in a
 * room far beyond normal.
 *
 * Sharded by ROOM, keyed by (room, sender). Counted: MUC joins, leaves and
 * nick changes (an available presence to the room under a nick other than
 * the last one seen); plain status updates are not churn. Fan-out copies of
 * one presence (same id) count once (a 2-slot ring of recent ids per key).
 * Two sliding windows (default 6 s and 60 s): "presence_churn.rate_short" /
 * "presence_churn.rate_long" when the count exceeds short_max / long_max, then
 * at most once per cooldown. A flaky phone rejoining every 30 s makes 2
 * changes in a few seconds (leave + join) and 6 in a minute, 3 in 6 s and 7 in
 * a minute with a manual rejoin on top; a rejoin bot makes 4 in 6 s within
 * its first seconds (3 in 5 s was measured to catch flaky phones whose
 * reconnect meets a manual rejoin). Churn needs more than flapping: joins and
 * leaves alone count only for an occupant that arrived (its first presence
 * seen here was a join) less than `fresh` (30 s) ago, and then one more than
 * short_max in the short window (join, leave, rejoin is a slip), so occupants who were
 * in the room before and reconnect again and again (a flaky phone, every local
 * user during a server overload) are never reported (keys are kept an hour
 * idle, so "was here before" outlives a quiet spell); two nick changes or more
 * in one run of changes (no long_window without any) always count (a nick
 * storm), and a newcomer's nick storm needs one change
 * fewer (its arrival counts while it is fresh: join, then two nick changes
 * within the short window, however long within `fresh` the join came before
 * them). Kind "presence-flood".
 */
#include "sw/detector.h"

#include <stdbool.h>
#include <stdlib.h>

#include "dcommon.h"
#include "table.h"
#include "window.h"

struct sw_presence_churn_settings {
    bool enabled;
    int64_t max_memory, idle, cooldown;
    int64_t short_window, short_max, long_window, long_max, fresh;
};

#define SW_DC_S struct sw_presence_churn_settings
static const struct sw_conf_item schema[] = {
    SW_DC_COMMON_ITEMS("16MB", "1h", "2m"),
    SW_DC_DUR("short_window", short_window, 1000, 3600000, "10s", "short churn window"),
    SW_DC_INT("short_max", short_max, 1, 100000, "2",
              "joins+leaves+nick changes allowed per short_window"),
    SW_DC_DUR("long_window", long_window, 1000, 3600000, "60s", "long churn window"),
    SW_DC_INT("long_max", long_max, 1, 1000000, "8",
              "joins+leaves+nick changes allowed per long_window"),
    SW_DC_DUR("fresh", fresh, 5000, 86400000, "30s",
              "joins and leaves alone (flapping) hit only for an occupant that arrived (its "
              "first presence seen here was a join) less than this long ago; with two nick "
              "changes or more in a run of changes (no long_window without any) they always "
              "count, and such a newcomer's nick storm needs one change fewer per short_window "
              "(its arrival counts as one while it is fresh)"),
    SW_CONF_END,
};
#undef SW_DC_S

struct pc_entry {
    struct sw_table_entry h; /* user: last hit seconds */
    struct sw_window ws, wl;
    uint32_t nick;
    uint32_t ids[2];
    uint8_t fired;
    uint8_t in_room;  /* bit 0: in the room; bits 1..7: nick changes in this run (saturating) */
    uint16_t arrived; /* pc_tick() of its first presence when that was
                       * a join; 0 = first seen leaving or changing (was there before) */
};
_Static_assert(sizeof(struct pc_entry) == 64, "presence_churn entry is 64 bytes");

struct pc_shared {
    struct sw_dc_shared dc;
    struct sw_presence_churn_settings s;
    int64_t ws, wl;
};

struct pc_local {
    SW_DC_LOCAL_HEAD; /* t: the table */
};

static int pc_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    const struct sw_presence_churn_settings *s = settings;
    struct pc_shared *sh = sw_dc_shared_new(sizeof(*sh), sizeof(struct pc_local),
                                            sizeof(struct pc_entry), s->max_memory, s->idle);
    if (sh == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "presence_churn: out of memory");
    }
    sh->s = *s;
    sh->ws = sw_window_width(sh->s.short_window);
    sh->wl = sw_window_width(sh->s.long_window);
    *shared = sh;
    return 0;
}

static void pc_hit(const struct pc_shared *sh, const struct sw_event *ev, const struct pc_entry *e,
                   const char *sym, int64_t window_ms, struct sw_hit_sink *out,
                   struct sw_detector_stats *st)
{
    struct sw_hit h;
    sw_hit_init(&h, "presence_churn", sym, "presence-flood", ev);
    h.first_ms = ev->t_ms - window_ms;
    sw_hit_add_value(&h, "changes_short", sw_window_sum(&e->ws, sh->ws, ev->t_ms));
    sw_hit_add_value(&h, "changes_long", sw_window_sum(&e->wl, sh->wl, ev->t_ms));
    sw_hit_emit(out, &h);
    st->hits++;
}

/* 4-second ticks of table seconds @now, mod 2^16 (3 days), never 0 (0 = not
 * arrived). */
static uint16_t pc_tick(uint32_t now)
{
    uint16_t t = (uint16_t)((now >> 2) + 1u);
    return t != 0 ? t : 1u;
}

static void pc_process(const void *shared, void *local, const struct sw_event *ev,
                       struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct pc_shared *sh = shared;
    struct pc_local *l = local;
    const uint32_t muc = SW_F_MUC_PRESENCE | SW_F_MUC_JOIN | SW_F_MUC_LEAVE;
    if (ev->kind != SW_EV_PRESENCE || (ev->flags & muc) == 0 || ev->key[SW_SHARD_ROOM] == 0 ||
        sw_dc_excluded(ev)) {
        return;
    }
    if (ev->type != SW_T_AVAILABLE && ev->type != SW_T_UNAVAILABLE) {
        return;
    }
    st->events++;
    uint32_t now = sw_table_now(l->t, ev->t_ms);
    uint32_t prev;
    struct pc_entry *e =
        sw_table_get(l->t, sw_table_key2(ev->key[SW_SHARD_ROOM], ev->from.bare), now, &prev, st);
    if (sw_dc_seen_id(e->ids, 2, ev->id_hash)) {
        return;
    }
    uint32_t nick = ev->nick_len > 0 ? (uint32_t)(sw_hash64(ev->nick, ev->nick_len) >> 32) | 1u : 0;
    bool change, nick_change = false;
    bool join = (ev->flags & SW_F_MUC_JOIN) != 0 && ev->type == SW_T_AVAILABLE;
    if (prev == 0 && join) {
        e->arrived = pc_tick(now);
    }
    if ((ev->flags & SW_F_MUC_LEAVE) != 0 || ev->type == SW_T_UNAVAILABLE) {
        change = true;
        e->in_room &= (uint8_t)~1u;
    } else if ((ev->flags & SW_F_MUC_JOIN) != 0) {
        change = true;
        e->in_room |= 1u;
    } else {
        /* Available presence without the muc <x/>: status update, or a nick
         * change when the nick differs from the one in use. */
        change = nick_change = (e->in_room & 1u) && nick != 0 && e->nick != 0 && nick != e->nick;
    }
    if (nick != 0 && ev->type == SW_T_AVAILABLE) {
        e->nick = nick;
    }
    if (!change) {
        return;
    }
    /* Nick changes make a storm within one run of changes: after a
     * long_window without any change the count starts again (a regular who
     * went "nick|afk" and came back an hour ago is no nick storm when a load
     * spike makes it reconnect twice in seconds). */
    if (sw_window_sum(&e->wl, sh->wl, ev->t_ms) == 0) {
        e->in_room &= 1u;
    }
    if (nick_change && e->in_room < 0xFEu) {
        e->in_room = (uint8_t)(e->in_room + 2u);
    }
    sw_window_add(&e->ws, sh->ws, ev->t_ms, 1);
    sw_window_add(&e->wl, sh->wl, ev->t_ms, 1);
    /* More than flapping: nick changes, or joins and leaves of an occupant
     * that arrived lately (a rejoin bot). Someone who was in the room before
     * (first seen leaving) and reconnects, however often, is not churn. */
    bool arrived_lately = e->arrived != 0 && (uint16_t)(pc_tick(now) - e->arrived) <=
                                                 (uint16_t)((sw_dc_secs(sh->s.fresh) + 3u) >> 2);
    bool nick_storm = (e->in_room >> 1) >= 2;
    if (!nick_storm && !arrived_lately) {
        return;
    }
    /* Joins and leaves alone need one change more in the short window: a
     * newcomer who joins, slips out and rejoins within seconds (3 changes;
     * swgen seeds 2001 and 6103, topic-talk) is a person, a rejoin bot goes on.
     * A nick storm of a newcomer needs one change fewer: its arrival counts as
     * a change as long as it is fresh, not only while the join is inside the
     * short window (join, then two nick changes in seconds hit whether the
     * join came 9 s or 15 s before the second one). */
    int64_t short_max = !nick_storm      ? sh->s.short_max + 1
                        : arrived_lately ? sh->s.short_max - 1
                                         : sh->s.short_max;
    if ((int64_t)sw_window_sum(&e->ws, sh->ws, ev->t_ms) > short_max &&
        sw_dc_may_hit(&e->h.user, &e->fired, 0, now, sh->s.cooldown)) {
        pc_hit(sh, ev, e, "presence_churn.rate_short", sh->s.short_window, out, st);
    }
    if ((int64_t)sw_window_sum(&e->wl, sh->wl, ev->t_ms) > sh->s.long_max &&
        sw_dc_may_hit(&e->h.user, &e->fired, 1, now, sh->s.cooldown)) {
        pc_hit(sh, ev, e, "presence_churn.rate_long", sh->s.long_window, out, st);
    }
}

static const struct sw_detector_symbol pc_symbols[] = {
    {.symbol = "presence_churn.rate_short", .score = 1.0, .group = "presence_churn"},
    {.symbol = "presence_churn.rate_long", .score = 1.0, .group = "presence_churn"},
    {.symbol = NULL},
};

const struct sw_detector_ops sw_presence_churn_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "presence_churn",
    .description = "one occupant joining, leaving and changing nick in a room far beyond normal",
    .symbols = pc_symbols,
    .events = SW_EV_PRESENCE,
    .shard = SW_SHARD_ROOM,
    .schema = schema,
    .settings_size = sizeof(struct sw_presence_churn_settings),
    .setup = pc_setup,
    .thread_init = sw_dc_thread_init,
    .process = pc_process,
    .expire = sw_dc_expire,
    .thread_reload = sw_dc_thread_reload, /* keeps every window unless max_memory changed */
    .thread_fini = sw_dc_thread_fini,
    .teardown = sw_dc_teardown,
};
