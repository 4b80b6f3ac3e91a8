/*
 * muc_flood.c - one occupant flooding one room.
 *
 * Sharded by ROOM; state is keyed by (room, sender) so a busy room with many
 * people never adds up to one person's rate. For every groupchat message an
 * occupant sends to a room (never the room's reflected copies, history,
 * carbons, server or room JIDs) it keeps, in one 64-byte table entry:
 *   - two sliding windows (default 10 s and 60 s): "muc_flood.rate_short" /
 *     "muc_flood.rate_long" when the count exceeds short_max / long_max;
 *   - the SimHash of the last line and the length of the current run of
 *     near-identical lines (Hamming distance <= simhash_distance, gaps <=
 *     repeat_gap): "muc_flood.repeat" when the run reaches repeat_count;
 *   - the number of very long (body_full >= long_bytes) or many-line
 *     (body_lines >= long_lines) messages in the current burst (gaps <=
 *     long_gap): "muc_flood.long" at long_count (one paste is not a flood).
 * Each signal hits on crossing and then at most once per cooldown per key.
 * A steady relay: an occupant that posted at least long_max/3 lines in each of
 * the last MF_STEADY_MIN minutes in a row (a bridge or relay bot carrying a
 * busy channel) needs 3/2 of short_max and long_max: its rate follows the
 * traffic it relays, and a burst there is not a flood (swgen busy-bridge:
 * 30-45 relayed lines a minute crossed 16 in 10 s or 50 in 60 s now and then);
 * a real flood from it, or a repeated line, still hits. A line a bridge
 * relays ("<nick> text", sw_dc_relayed) gets the same from the first minute
 * (a bridge that just reconnected carries the channel's bursts too: swgen
 * seed 9508, 2M/24 h, 17 relayed lines in 10 s two minutes after the start).
 * A newcomer: an occupant seen joining the room (a MUC join presence) less
 * than new_window (60 s) ago may send only new_max (8) lines per short_window
 * instead of short_max (16) before rate_short hits (value "newcomer" 1): a
 * flooder joins and floods at once (swgen muc-flood: 3-30 s after its join, 2-10
 * lines a second), while a person who just joined says hello and asks, a
 * member bot (feed, price, bridge) has been in the room for weeks (its join is
 * long past or never seen), and a bridge's relayed lines keep their own
 * allowance. Likewise a newcomer's run of new_repeat (4) near-identical lines
 * all within short_window (at least that many lines in it) is a repeat flood
 * instead of repeat_count (5) at any pace: someone who just joined and got no
 * answer asks again after a while, not four times in ten seconds. The join is kept in the entry:
 * the cooldown's last-hit second (h.user) holds the join second and `fired` bit MF_JOINED marks it,
 * set only when no cooldown runs, so a cooldown counts from the join at most. Kind "muc-flood",
 * offender the sender's bare JID.
 *
 * Threading: `shared` is the read-only copy of the settings; `local` (one per
 * worker) owns the table. process() never allocates.
 */
#include "sw/detector.h"

#include <stdbool.h>
#include <stdlib.h>

#include "dcommon.h"
#include "sw/simhash.h"
#include "table.h"
#include "window.h"

#define MF_STEADY_MIN 5 /* busy minutes in a row that make an occupant a steady relay */
#define MF_JOINED 7     /* `fired` bit: h.user is the second the occupant was seen joining */

struct sw_muc_flood_settings {
    bool enabled;
    int64_t max_memory, idle, cooldown;
    int64_t short_window, short_max;
    int64_t long_window, long_max;
    int64_t repeat_count, repeat_gap, simhash_distance;
    int64_t long_bytes, long_lines, long_count, long_gap;
    int64_t new_window, new_max, new_repeat;
};

#define SW_DC_S struct sw_muc_flood_settings
static const struct sw_conf_item schema[] = {
    SW_DC_COMMON_ITEMS("32MB", "10m", "2m"),
    SW_DC_DUR("short_window", short_window, 1000, 3600000, "10s", "short rate window"),
    SW_DC_INT("short_max", short_max, 1, 100000, "16",
              "messages allowed from one occupant in one room per short_window"),
    SW_DC_DUR("long_window", long_window, 1000, 3600000, "60s", "long rate window"),
    SW_DC_INT("long_max", long_max, 1, 1000000, "50",
              "messages allowed from one occupant in one room per long_window"),
    SW_DC_INT("repeat_count", repeat_count, 2, 1000, "5",
              "near-identical lines in a row that make a repeat flood"),
    SW_DC_DUR("repeat_gap", repeat_gap, 1000, 3600000, "30s",
              "a pause longer than this ends a run of repeated lines"),
    SW_DC_INT("simhash_distance", simhash_distance, 0, 32, "12",
              "max Hamming distance of 64-bit SimHashes for near-identical lines"),
    SW_DC_INT("long_bytes", long_bytes, 64, 100000000, "1500",
              "a message of at least this many body bytes is long"),
    SW_DC_INT("long_lines", long_lines, 2, 1000000, "20",
              "a message of at least this many lines is long"),
    SW_DC_INT("long_count", long_count, 1, 1000, "2", "long messages in one burst that hit"),
    SW_DC_DUR("long_gap", long_gap, 1000, 3600000, "60s",
              "a pause longer than this ends a burst of long messages"),
    SW_DC_DUR("new_window", new_window, 1000, 3600000, "60s",
              "an occupant seen joining the room less than this long ago is a newcomer"),
    SW_DC_INT("new_max", new_max, 1, 100000, "8",
              "messages a newcomer may send per short_window (instead of short_max; a bridge's "
              "relayed lines keep theirs)"),
    SW_DC_INT("new_repeat", new_repeat, 2, 1000, "4",
              "near-identical lines in a row, all within short_window, that make a newcomer's "
              "repeat flood (instead of repeat_count)"),
    SW_CONF_END,
};
#undef SW_DC_S

struct mf_shared {
    struct sw_dc_shared dc;
    struct sw_muc_flood_settings s;
    int64_t ws, wl; /* bucket widths */
};

struct mf_entry {
    struct sw_table_entry h; /* user: last hit seconds */
    struct sw_window ws, wl;
    uint64_t last_fp;
    uint32_t id;
    uint8_t rep, longn, fired;
    uint8_t steady; /* stream minutes in a row with at least long_max/3 lines */
};
_Static_assert(sizeof(struct mf_entry) == 64, "muc_flood entry is 64 bytes");

struct mf_local {
    SW_DC_LOCAL_HEAD; /* t: the table */
};

enum { SIG_SHORT, SIG_LONG, SIG_REPEAT, SIG_LONGMSG };
static const char *const symbols[] = {"muc_flood.rate_short", "muc_flood.rate_long",
                                      "muc_flood.repeat", "muc_flood.long"};

static int mf_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    const struct sw_muc_flood_settings *s = settings;
    struct mf_shared *sh = sw_dc_shared_new(sizeof(*sh), sizeof(struct mf_local),
                                            sizeof(struct mf_entry), s->max_memory, s->idle);
    if (sh == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "muc_flood: out of memory");
    }
    sh->s = *s;
    sh->ws = sw_window_width(sh->s.short_window);
    sh->wl = sw_window_width(sh->s.long_window);
    *shared = sh;
    return 0;
}

static void mf_hit(const struct mf_shared *sh, const struct sw_event *ev, const struct mf_entry *e,
                   int sig, int64_t first_ms, bool newcomer, struct sw_hit_sink *out,
                   struct sw_detector_stats *st)
{
    struct sw_hit h;
    sw_hit_init(&h, "muc_flood", symbols[sig], "muc-flood", ev);
    h.first_ms = first_ms < ev->t_ms ? first_ms : ev->t_ms;
    sw_hit_add_value(&h, "msgs_short", sw_window_sum(&e->ws, sh->ws, ev->t_ms));
    sw_hit_add_value(&h, "msgs_long", sw_window_sum(&e->wl, sh->wl, ev->t_ms));
    sw_hit_add_value(&h, "repeats", (int64_t)e->rep + 1);
    sw_hit_add_value(&h, "long_msgs", e->longn);
    sw_hit_add_value(&h, "body_full", ev->body_full);
    if (newcomer) {
        sw_hit_add_value(&h, "newcomer", 1);
    }
    sw_hit_emit(out, &h);
    st->hits++;
}

static void mf_process(const void *shared, void *local, const struct sw_event *ev,
                       struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct mf_shared *sh = shared;
    struct mf_local *l = local;
    if (ev->kind == SW_EV_PRESENCE) {
        /* a join to the room: remember when (see the file comment) */
        if ((ev->flags & SW_F_MUC_JOIN) == 0 || ev->type != SW_T_AVAILABLE ||
            ev->key[SW_SHARD_ROOM] == 0 || sw_dc_excluded(ev)) {
            return;
        }
        st->events++;
        uint32_t now = sw_table_now(l->t, ev->t_ms);
        uint32_t prev;
        struct mf_entry *e = sw_table_get(
            l->t, sw_table_key2(ev->key[SW_SHARD_ROOM], ev->from.bare), now, &prev, st);
        if (e->h.user == 0 || (now > e->h.user && now - e->h.user >= sw_dc_secs(sh->s.cooldown))) {
            e->h.user = now;
            e->fired = (uint8_t)(1u << MF_JOINED);
        }
        return;
    }
    if (ev->type != SW_T_GROUPCHAT || (ev->flags & SW_F_MUC_GROUPCHAT) == 0 ||
        ev->key[SW_SHARD_ROOM] == 0 || sw_dc_excluded(ev)) {
        return;
    }
    st->events++;
    uint32_t now = sw_table_now(l->t, ev->t_ms);
    uint32_t prev;
    struct mf_entry *e =
        sw_table_get(l->t, sw_table_key2(ev->key[SW_SHARD_ROOM], ev->from.bare), now, &prev, st);
    if (sw_dc_seen_id(&e->id, 1, ev->id_hash)) {
        return;
    }
    if (e->wl.head == 0) {
        prev = 0; /* made by a join: no line before this one */
    }
    uint32_t gap = prev == 0 ? UINT32_MAX : (now > prev ? now - prev : 0);

    if (prev == 0 || now / 60 != prev / 60) {
        /* a new minute: the run of busy minutes goes on when the last one was
         * busy (its last 60 s before this line) and directly before this one */
        bool busy = prev != 0 && now / 60 == prev / 60 + 1 &&
                    (int64_t)sw_window_sum(&e->wl, sh->wl, ev->t_ms) * 3 >= sh->s.long_max;
        e->steady = busy ? (uint8_t)(e->steady < 255 ? e->steady + 1 : 255) : 0;
    }
    sw_window_add(&e->ws, sh->ws, ev->t_ms, 1);
    sw_window_add(&e->wl, sh->wl, ev->t_ms, 1);
    uint32_t ns = sw_window_sum(&e->ws, sh->ws, ev->t_ms);
    uint32_t nl = sw_window_sum(&e->wl, sh->wl, ev->t_ms);
    bool relay = e->steady >= MF_STEADY_MIN || sw_dc_relayed(ev->body, ev->body_len);
    int64_t short_max = relay ? sh->s.short_max * 3 / 2 : sh->s.short_max;
    int64_t long_max = relay ? sh->s.long_max * 3 / 2 : sh->s.long_max;
    bool newcomer = !relay && (e->fired & (1u << MF_JOINED)) != 0 && now >= e->h.user &&
                    now - e->h.user < sw_dc_secs(sh->s.new_window);
    if (newcomer && sh->s.new_max < short_max) {
        short_max = sh->s.new_max;
    }

    if (ev->body_len > 0) {
        uint64_t fp = sw_simhash_body(ev, NULL);
        if (prev != 0 && gap <= sw_dc_secs(sh->s.repeat_gap) && fp != 0 &&
            sw_simhash_distance(fp, e->last_fp) <= (unsigned)sh->s.simhash_distance) {
            if (e->rep < 255) {
                e->rep++;
            }
        } else {
            e->rep = 0;
        }
        e->last_fp = fp;
    }
    if (gap > sw_dc_secs(sh->s.long_gap)) {
        e->longn = 0;
    }
    if ((int64_t)ev->body_full >= sh->s.long_bytes || (int64_t)ev->body_lines >= sh->s.long_lines) {
        if (e->longn < 255) {
            e->longn++;
        }
    }

    int64_t burst_ms = ev->t_ms - (int64_t)(e->rep) * 1000;
    if ((int64_t)ns > short_max &&
        sw_dc_may_hit(&e->h.user, &e->fired, SIG_SHORT, now, sh->s.cooldown)) {
        mf_hit(sh, ev, e, SIG_SHORT, ev->t_ms - sh->s.short_window, newcomer, out, st);
    }
    if ((int64_t)nl > long_max &&
        sw_dc_may_hit(&e->h.user, &e->fired, SIG_LONG, now, sh->s.cooldown)) {
        mf_hit(sh, ev, e, SIG_LONG, ev->t_ms - sh->s.long_window, false, out, st);
    }
    int64_t repeat_count = sh->s.repeat_count;
    if (newcomer && sh->s.new_repeat < repeat_count && (int64_t)ns >= sh->s.new_repeat) {
        repeat_count = sh->s.new_repeat; /* the last new_repeat lines are in the short window */
    }
    if ((int64_t)e->rep + 1 >= repeat_count &&
        sw_dc_may_hit(&e->h.user, &e->fired, SIG_REPEAT, now, sh->s.cooldown)) {
        mf_hit(sh, ev, e, SIG_REPEAT, burst_ms, newcomer, out, st);
    }
    if ((int64_t)e->longn >= sh->s.long_count &&
        sw_dc_may_hit(&e->h.user, &e->fired, SIG_LONGMSG, now, sh->s.cooldown)) {
        mf_hit(sh, ev, e, SIG_LONGMSG, ev->t_ms - sh->s.long_gap, false, out, st);
    }
}

/* The (room, sender) slot mf_process will look up for @ev, a few events
 * ahead (see sw_detector_ops.prefetch). */
static void mf_prefetch(const void *shared, void *local, const struct sw_event *ev)
{
    (void)shared;
    const struct mf_local *l = local;
    sw_dc_prefetch_occupant(l->t, ev);
}

/* A sustained rate alone (40+ lines a minute, no burst, no repeats) is what a
 * busy bridge or relay bot does: rate_long is a half signal. */
static const struct sw_detector_symbol mf_symbols[] = {
    {.symbol = "muc_flood.rate_short", .score = 1.0, .group = "muc_flood"},
    {.symbol = "muc_flood.rate_long", .score = 0.5, .group = "muc_flood"},
    {.symbol = "muc_flood.repeat", .score = 1.0, .group = "muc_flood"},
    {.symbol = "muc_flood.long", .score = 1.0, .group = "muc_flood"},
    {.symbol = NULL},
};

const struct sw_detector_ops sw_muc_flood_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "muc_flood",
    .description = "one occupant flooding a room: message rate, repeated lines, long pastes",
    .symbols = mf_symbols,
    .events = SW_EV_MESSAGE | SW_EV_PRESENCE, /* presence: joins (newcomers) */
    .shard = SW_SHARD_ROOM,
    .schema = schema,
    .settings_size = sizeof(struct sw_muc_flood_settings),
    .setup = mf_setup,
    .thread_init = sw_dc_thread_init,
    .process = mf_process,
    .prefetch = mf_prefetch,
    .expire = sw_dc_expire,
    .thread_reload = sw_dc_thread_reload, /* keeps every window unless max_memory changed */
    .thread_fini = sw_dc_thread_fini,
    .teardown = sw_dc_teardown,
};
