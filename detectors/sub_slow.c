/*
 * sub_slow.c - slow subscription spam: an account asking hundreds of distinct
 * accounts for a subscription over hours, at a rate no per-minute limit sees,
 * and mostly left unanswered.
 *
 * Routing: the detector has its own key hook (detector.h `key`): a
 * subscribe is keyed by its sender (the requester), a `subscribed` answer by
 * its recipient (the same requester). The engine routes both with the same
 * owner function, so one worker sees an account's requests and the answers
 * addressed to it, with no cross-worker state.
 *
 * Per requester one 160-byte entry: a window opened by the first request and
 * closed `window` later, the distinct targets requested in it (exact set ->
 * HLL), and the number of `subscribed` answers received (deduplicated by
 * stanza id). "sub_slow.unanswered" hits when the distinct targets reach
 * min_targets and at most max_answered_pct percent of them answered, then at
 * most once per cooldown. A new user adding ~40 contacts is far below
 * min_targets, and one adding many who answer is above max_answered_pct.
 * Kind "subscription-spam".
 */
#include "sw/detector.h"

#include <stdbool.h>
#include <stdlib.h>

#include "dcommon.h"
#include "distinct.h"
#include "table.h"

struct sw_sub_slow_settings {
    bool enabled;
    int64_t max_memory, idle, cooldown;
    int64_t window, min_targets, max_answered_pct;
};

#define SW_DC_S struct sw_sub_slow_settings
static const struct sw_conf_item schema[] = {
    SW_DC_COMMON_ITEMS("32MB", "6h", "1h"),
    SW_DC_DUR("window", window, 60000, 7 * SW_DC_DAY_MS, "6h",
              "requests are counted this long after an account's first one"),
    SW_DC_INT("min_targets", min_targets, 2, 1000000, "150",
              "distinct accounts asked for a subscription within window"),
    SW_DC_INT("max_answered_pct", max_answered_pct, 0, 100, "25",
              "hit only when at most this percentage of them answered 'subscribed'"),
    SW_CONF_END,
};
#undef SW_DC_S

/* The distinct-target counter: 128 data bytes, i.e. 32 exact targets, then a
 * HLL of 256 registers (~6.5% standard error). The 36-byte counter of other
 * entries (64 registers, ~13%) estimated a 205-target requester (8 answered)
 * at under 140 for its whole run, below min_targets 150: missed (swgen seed
 * 174954429, sub-slow recall 0.917). At 6.5% such a requester stays under
 * 150 with a probability of ~2e-5. Entries are 160 bytes instead of 64:
 * requesters only, so max_memory still holds ~200k of them. */
#define SS_DISTINCT_D 128

struct ss_entry {
    struct sw_table_entry h; /* user: last hit seconds */
    uint32_t start_s;
    uint16_t answers;
    uint16_t pad;
    uint32_t id;
    uint32_t targets[SW_DISTINCT_BYTES(SS_DISTINCT_D) / 4];
};
_Static_assert(sizeof(struct ss_entry) == 160, "sub_slow entry is 160 bytes");

struct ss_shared {
    struct sw_dc_shared dc;
    struct sw_sub_slow_settings s;
};

struct ss_local {
    SW_DC_LOCAL_HEAD; /* t: the table */
};

static uint64_t ss_key(const struct sw_event *ev)
{
    if (ev->kind != SW_EV_PRESENCE) {
        return 0;
    }
    if (ev->type == SW_T_SUBSCRIBE) {
        return ev->from.local_len > 0 ? ev->from.bare : 0;
    }
    if (ev->type == SW_T_SUBSCRIBED) {
        return ev->to.local_len > 0 ? ev->to.bare : 0;
    }
    return 0;
}

static int ss_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    const struct sw_sub_slow_settings *s = settings;
    struct ss_shared *sh = sw_dc_shared_new(sizeof(*sh), sizeof(struct ss_local),
                                            sizeof(struct ss_entry), s->max_memory, s->idle);
    if (sh == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "sub_slow: out of memory");
    }
    sh->s = *s;
    *shared = sh;
    return 0;
}

static void ss_process(const void *shared, void *local, const struct sw_event *ev,
                       struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct ss_shared *sh = shared;
    struct ss_local *l = local;
    uint64_t key = ss_key(ev);
    if (key == 0 || (ev->flags & (SW_F_CARBON | SW_F_HISTORY)) != 0) {
        return;
    }
    uint32_t now = sw_table_now(l->t, ev->t_ms);
    uint32_t prev;
    if (ev->type == SW_T_SUBSCRIBED) {
        /* An answer to the requester: only matters for a tracked requester. */
        struct ss_entry *e = sw_table_find(l->t, key);
        if (e != NULL && !sw_dc_seen_id(&e->id, 1, ev->id_hash) && e->answers < UINT16_MAX) {
            st->events++;
            e->answers++;
        }
        return;
    }
    if (ev->to.local_len == 0 || sw_dc_excluded(ev)) {
        return;
    }
    st->events++;
    struct ss_entry *e = sw_table_get(l->t, key, now, &prev, st);
    if (e->start_s == 0 || (now > e->start_s && now - e->start_s >= sw_dc_secs(sh->s.window))) {
        e->start_s = now;
        e->answers = 0;
        sw_distinct_init(e->targets, sizeof(e->targets));
    }
    if (!sw_distinct_add(e->targets, sizeof(e->targets), ev->to.bare)) {
        return;
    }
    uint32_t n = sw_distinct_count(e->targets, sizeof(e->targets));
    if ((int64_t)n < sh->s.min_targets ||
        (int64_t)e->answers * 100 > sh->s.max_answered_pct * (int64_t)n) {
        return;
    }
    uint32_t cd = sw_dc_secs(sh->s.cooldown);
    if (e->h.user != 0 && (e->h.user >= now || now - e->h.user < cd)) {
        return;
    }
    e->h.user = now;
    struct sw_hit h;
    sw_hit_init(&h, "sub_slow", "sub_slow.unanswered", "subscription-spam", ev);
    h.first_ms = ev->t_ms - (int64_t)(now - e->start_s) * 1000;
    sw_hit_add_value(&h, "targets", n);
    sw_hit_add_value(&h, "answered", e->answers);
    sw_hit_add_value(&h, "span_s", (int64_t)(now - e->start_s));
    sw_hit_emit(out, &h);
    st->hits++;
}

static const struct sw_detector_symbol ss_symbols[] = {
    {.symbol = "sub_slow.unanswered", .score = 1.0},
    {.symbol = NULL},
};

const struct sw_detector_ops sw_sub_slow_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "sub_slow",
    .description =
        "one account asking hundreds of accounts for subscription over hours, unanswered",
    .symbols = ss_symbols,
    .events = SW_EV_PRESENCE,
    .shard = SW_SHARD_SENDER,
    .key = ss_key,
    .schema = schema,
    .settings_size = sizeof(struct sw_sub_slow_settings),
    .setup = ss_setup,
    .thread_init = sw_dc_thread_init,
    .process = ss_process,
    .expire = sw_dc_expire,
    .thread_reload = sw_dc_thread_reload, /* keeps every window unless max_memory changed */
    .thread_fini = sw_dc_thread_fini,
    .teardown = sw_dc_teardown,
};
