/*
 * over_limit.c - one sender whose stanzas keep crossing the parser's limits.
 *
 * The parser turns a stanza over a limit (nesting deeper than limits.max_depth,
 * an attribute over max_attr_bytes, a text node over max_text_bytes, a JID
 * part over RFC 7622's 1023 bytes) into a minimal event flagged
 * SW_F_OVER_LIMIT (engine/xml.c) instead of dropping it, so rate detectors
 * still count it. Real clients almost never cross these limits; a sender who
 * does it again and again is probing the monitor or hiding content from it,
 * which is a signal of its own: "over_limit.repeat" when more than `max` of a
 * sender's stanzas in `window` were over a limit, then at most once per
 * cooldown. Kind "hostile-input".
 *
 * Not every limit is alike: a big attribute, text or stanza can be real media
 * (a photo's thumbnail as a data: URI, a long paste), but nesting beyond
 * limits.max_depth (no XMPP extension comes near the default 32) and a JID
 * part over RFC 7622's 1023 bytes (the sender's own server must refuse it,
 * jid-malformed) are malformed by construction (SW_F_OVER_FORM, set by
 * engine/xml.c). Such a stanza counts `malformed_weight` (3) instead of 1, so
 * with the default max of 3 two over-limit stanzas of which one is
 * malformed are a signal (a spray of mixed oversize messages is caught at
 * its second instead of its fourth), while one malformed stanza alone, or
 * up to three big thumbnails, are not.
 *
 * Sharded by SENDER (bare from), one 32-byte-window entry per sender that
 * ever sent an over-limit stanza (others cost nothing: the flag is checked
 * first). Excluded like the other rate detectors (servers, rooms, history,
 * carbons: sw_dc_excluded()); a JID dropped for its length leaves no sender,
 * so the stanza cannot be attributed here (the rate detectors key on what
 * is left).
 */
#include "sw/detector.h"

#include <stdbool.h>
#include <stdlib.h>

#include "dcommon.h"
#include "table.h"
#include "window.h"

struct sw_over_limit_settings {
    bool enabled;
    int64_t max_memory, idle, cooldown;
    int64_t window, max, malformed_weight;
};

#define SW_DC_S struct sw_over_limit_settings
static const struct sw_conf_item schema[] = {
    SW_DC_COMMON_ITEMS("4MB", "30m", "10m"),
    SW_DC_DUR("window", window, 1000, SW_DC_DAY_MS, "10m", "window over which they are counted"),
    SW_DC_INT("max", max, 0, 1000000, "3",
              "over-limit stanzas a sender may send per window before it is a signal"),
    SW_DC_INT("malformed_weight", malformed_weight, 1, 1000000, "3",
              "what one stanza malformed by construction (nesting beyond limits.max_depth, a "
              "JID part over 1023 bytes) counts towards max; the others count 1"),
    SW_CONF_END,
};
#undef SW_DC_S

struct ol_entry {
    struct sw_table_entry h; /* user: last hit seconds */
    struct sw_window w;
    uint8_t fired, pad[7];
};

struct ol_shared {
    struct sw_dc_shared dc;
    struct sw_over_limit_settings s;
    int64_t width;
};

struct ol_local {
    SW_DC_LOCAL_HEAD; /* t: the table */
};

static int ol_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    const struct sw_over_limit_settings *s = settings;
    struct ol_shared *sh = sw_dc_shared_new(sizeof(*sh), sizeof(struct ol_local),
                                            sizeof(struct ol_entry), s->max_memory, s->idle);
    if (sh == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "over_limit: out of memory");
    }
    sh->s = *s;
    sh->width = sw_window_width(sh->s.window);
    *shared = sh;
    return 0;
}

static void ol_process(const void *shared, void *local, const struct sw_event *ev,
                       struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct ol_shared *sh = shared;
    struct ol_local *l = local;
    if ((ev->flags & SW_F_OVER_LIMIT) == 0 || sw_dc_excluded(ev)) {
        return;
    }
    st->events++;
    uint32_t now = sw_table_now(l->t, ev->t_ms);
    uint32_t prev;
    struct ol_entry *e = sw_table_get(l->t, ev->from.bare, now, &prev, st);
    uint32_t weight = (ev->flags & SW_F_OVER_FORM) ? (uint32_t)sh->s.malformed_weight : 1u;
    sw_window_add(&e->w, sh->width, ev->t_ms, weight);
    uint32_t n = sw_window_sum(&e->w, sh->width, ev->t_ms);
    if ((int64_t)n > sh->s.max && sw_dc_may_hit(&e->h.user, &e->fired, 0, now, sh->s.cooldown)) {
        struct sw_hit h;
        sw_hit_init(&h, "over_limit", "over_limit.repeat", "hostile-input", ev);
        h.first_ms = ev->t_ms - sh->s.window;
        sw_hit_add_value(&h, "over_limit", n);
        sw_hit_emit(out, &h);
        st->hits++;
    }
}

static const struct sw_detector_symbol ol_symbols[] = {
    {.symbol = "over_limit.repeat", .score = 1.0, .group = NULL},
    {.symbol = NULL},
};

const struct sw_detector_ops sw_over_limit_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "over_limit",
    .description = "one sender whose stanzas keep crossing the parser's limits",
    .symbols = ol_symbols,
    .events = SW_EV_ALL,
    .shard = SW_SHARD_SENDER,
    .schema = schema,
    .settings_size = sizeof(struct sw_over_limit_settings),
    .setup = ol_setup,
    .thread_init = sw_dc_thread_init,
    .process = ol_process,
    .expire = sw_dc_expire,
    .thread_reload = sw_dc_thread_reload,
    .thread_fini = sw_dc_thread_fini,
    .teardown = sw_dc_teardown,
};
