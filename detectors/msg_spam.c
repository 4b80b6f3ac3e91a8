/*
 * msg_spam.c - 1:1 message spam: chat messages to many distinct recipients
 * the sender never talked with.
 *
 * Routing: own key hook (detector.h `key`): a chat/normal message is keyed by
 * its sender, a presence `subscribed` answer and a `subscribe` request by
 * its recipient. So on one worker we see everything an account sends and
 * every subscription approval and request it receives: a message to someone
 * who asked the sender for a subscription first is no first contact (a
 * directed entry: the asker messaging the people it asked still counts).
 *
 * "Talked with" is a per-worker filter of unordered account pairs: two Bloom
 * filter generations (k = 3, rotated when the current one holds
 * bits/12 pairs, ~1% false positives) sized by contact_memory. A pair enters
 * when either account of it messages the other on this worker, or when one
 * approves the other's subscription. A message to a recipient whose pair is
 * not yet in the filter is a first contact: it enters the filter and counts
 * once for the sender in a sliding short window ("msg_spam.new_burst" above
 * burst_max) and in an activity-started long window ("msg_spam.new_slow" at
 * slow_min, when at least slow_same_pct of those first contacts carried
 * near-identical text by SimHash or a link to the same host (the sender's
 * pitch: its first variant confirmed by a second, followed to the newest text
 * while it holds less than a quarter of them): one pitch to many strangers, while a person
 * back from holidays greeting old contacts writes each something else). A filter false positive
 * only hides a first contact (never causes one). Replies across workers: a message is keyed by its
 * sender, so the recipient's worker would not know that the recipient was written to first; the
 * second routing key (detector.h peer_key/observe) hands the message to the recipient's worker
 * too, which enters the pair in its own filter (ms_observe), so a reply to someone who wrote first
 * is no first contact for any number of workers. Never counted: MUC private messages,
 * groupchat/headline/error, messages to a domain, carbons, history/offline copies, server JIDs.
 * Kind "message-spam".
 */
#include "sw/detector.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "dcommon.h"
#include "sw/link.h"
#include "sw/simhash.h"
#include "table.h"
#include "window.h"

struct sw_msg_spam_settings {
    bool enabled;
    int64_t max_memory, idle, cooldown;
    int64_t short_window, burst_max, long_window, slow_min, slow_same_pct, simhash_distance;
    int64_t contact_memory;
};

#define SW_DC_S struct sw_msg_spam_settings
static const struct sw_conf_item schema[] = {
    SW_DC_COMMON_ITEMS("32MB", "2h", "10m"),
    SW_DC_DUR("short_window", short_window, 1000, 86400000, "60s",
              "sliding window for bursts of first contacts"),
    SW_DC_INT("burst_max", burst_max, 1, 1000000, "8",
              "first contacts allowed per short_window; more hit msg_spam.new_burst"),
    SW_DC_DUR("long_window", long_window, 60000, 7 * SW_DC_DAY_MS, "1h",
              "first contacts are counted this long after an account's first one"),
    SW_DC_INT("slow_min", slow_min, 2, 1000000, "20",
              "first contacts within long_window that hit msg_spam.new_slow (with slow_same_pct)"),
    SW_DC_INT("slow_same_pct", slow_same_pct, 0, 100, "50",
              "new_slow needs at least this percentage of them to carry near-identical text "
              "or a link to the pitch's link host (one pitch to many strangers; a person "
              "greeting old contacts writes each something else)"),
    SW_DC_INT("simhash_distance", simhash_distance, 0, 32, "12",
              "max Hamming distance of 64-bit SimHashes for near-identical text"),
    SW_DC_SIZE("contact_memory", contact_memory, 65536, 16384 * SW_DC_MB, "8MB",
               "per-worker memory of account pairs that talked (two Bloom generations)"),
    SW_CONF_END,
};
#undef SW_DC_S

struct ms_entry {
    struct sw_table_entry h; /* user: last hit seconds */
    struct sw_window ws;
    uint64_t fp, fp_last; /* the pitch's first SimHash and its latest variant */
    uint32_t long_start;
    uint32_t id;
    uint16_t long_n; /* first contacts in the long window */
    uint16_t same_n; /* ... of which near-identical to fp, or with its link host */
    uint8_t fired;
    uint8_t link[3]; /* 24-bit hash of the pitch's link host, 0 = none (ms_link_host) */
};
_Static_assert(sizeof(struct ms_entry) == 64, "msg_spam entry is 64 bytes");

struct ms_shared {
    struct sw_dc_shared dc;
    struct sw_msg_spam_settings s;
    int64_t ws;
};

struct ms_bloom {
    uint64_t *bits[2]; /* [cur] is written, both are read */
    size_t nbits;      /* per generation, power of two */
    size_t n, max_n;
    int cur;
    bool used[2]; /* a bit set since the generation was cleared: an empty one is not read */
};

struct ms_local {
    SW_DC_LOCAL_HEAD; /* t: the table; sizing: max_memory and contact_memory */
    struct ms_bloom f;
};

/* 24-bit hash of the host of @ev's first link (sw_link_first: lower-cased,
 * "www." dropped), 0 when the body has none. The host, not the whole link: a
 * pitch re-spun per message keeps its host while paths and queries vary. */
static uint32_t ms_link_host(const struct sw_event *ev)
{
    char link[SW_LINK_MAX];
    size_t n = sw_link_first(ev->body, ev->body_len, link);
    if (n == 0) {
        return 0;
    }
    const char *slash = memchr(link, '/', n);
    if (slash != NULL) {
        n = (size_t)(slash - link);
    }
    uint32_t h = (uint32_t)XXH3_64bits(link, n) & 0xffffffu;
    return h != 0 ? h : 1;
}

static uint32_t ms_link_get(const struct ms_entry *e)
{
    return (uint32_t)e->link[0] | (uint32_t)e->link[1] << 8 | (uint32_t)e->link[2] << 16;
}

static void ms_link_set(struct ms_entry *e, uint32_t h)
{
    e->link[0] = (uint8_t)h;
    e->link[1] = (uint8_t)(h >> 8);
    e->link[2] = (uint8_t)(h >> 16);
}

static uint64_t ms_key(const struct sw_event *ev)
{
    if (ev->kind == SW_EV_MESSAGE) {
        return ev->from.local_len > 0 ? ev->from.bare : 0;
    }
    if (ev->kind == SW_EV_PRESENCE && (ev->type == SW_T_SUBSCRIBED || ev->type == SW_T_SUBSCRIBE)) {
        return ev->to.local_len > 0 ? ev->to.bare : 0;
    }
    return 0;
}

/* "@asker asked @to for a subscription": directed, so only @to's messages to
 * @asker are excused (an asker messaging the people it asked is not). */
static uint64_t asked_of(uint64_t asker, uint64_t to)
{
    return sw_table_key2(asker, to) ^ 0x61736b6564ull;
}

static uint64_t pair_of(uint64_t a, uint64_t b)
{
    return a < b ? sw_table_key2(a, b) : sw_table_key2(b, a);
}

static bool bloom_has(const struct ms_bloom *f, uint64_t h)
{
    for (int g = 0; g < 2; g++) {
        if (!f->used[g]) {
            /* All zero: no pair is in it. The older generation stays empty
             * until the first rotation (2.8M pairs a worker at the default
             * contact_memory): its random reads were a cache miss a test and
             * mapped its untouched pages to the zero page, each copied on
             * the rotation's first write (a write-protect fault and a
             * TLB-shootdown IPI). */
            continue;
        }
        uint64_t x = h;
        bool all = true;
        for (int k = 0; k < 3 && all; k++) {
            size_t bit = (size_t)(x & (f->nbits - 1));
            all = (f->bits[g][bit >> 6] >> (bit & 63)) & 1u;
            x = (x >> 21) | (x << 43);
        }
        if (all) {
            return true;
        }
    }
    return false;
}

static void bloom_add(struct ms_bloom *f, uint64_t h)
{
    if (f->n >= f->max_n) {
        /* Rotate: the older generation is cleared and becomes current. */
        f->cur ^= 1;
        memset(f->bits[f->cur], 0, f->nbits / 8);
        f->n = 0;
    }
    f->used[f->cur] = true;
    uint64_t x = h;
    for (int k = 0; k < 3; k++) {
        size_t bit = (size_t)(x & (f->nbits - 1));
        f->bits[f->cur][bit >> 6] |= 1ull << (bit & 63);
        x = (x >> 21) | (x << 43);
    }
    f->n++;
}

static int ms_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    const struct sw_msg_spam_settings *s = settings;
    struct ms_shared *sh = sw_dc_shared_new(sizeof(*sh), sizeof(struct ms_local),
                                            sizeof(struct ms_entry), s->max_memory, s->idle);
    if (sh == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "msg_spam: out of memory");
    }
    sh->s = *s;
    /* Hot reload keeps windows and contacts; only new memory sizes need new state. */
    sh->dc.sizing = s->max_memory * 1000003 + s->contact_memory;
    sh->ws = sw_window_width(sh->s.short_window);
    *shared = sh;
    return 0;
}

static void ms_thread_fini(void *local)
{
    struct ms_local *l = local;
    if (l != NULL) {
        free(l->f.bits[0]);
        free(l->f.bits[1]);
        sw_dc_thread_fini(l);
    }
}

static int ms_thread_init(const void *shared, void **local)
{
    const struct ms_shared *sh = shared;
    int rc = sw_dc_thread_init(shared, local);
    if (rc < 0) {
        return rc;
    }
    struct ms_local *l = *local;
    size_t nbits = 65536;
    while (nbits * 2 <= (size_t)sh->s.contact_memory * 8 / 2) {
        nbits *= 2;
    }
    l->f.nbits = nbits;
    l->f.max_n = nbits / 12;
    l->f.bits[0] = calloc(nbits / 64, sizeof(uint64_t));
    l->f.bits[1] = calloc(nbits / 64, sizeof(uint64_t));
    if (l->f.bits[0] == NULL || l->f.bits[1] == NULL) {
        ms_thread_fini(l);
        *local = NULL;
        return SW_ENOMEM;
    }
    /* A pair is tested (read) before it is added (written): the current
     * generation is touched by writes first (sw_dc_touch; write-protect
     * faults were seen in ms_process). Random bits reach every page of it
     * within a few thousand pairs anyway. The other generation is neither
     * read nor written before the first rotation clears it (used[]). */
    sw_dc_touch(l->f.bits[0], nbits / 8);
    return 0;
}

static void ms_hit(const struct ms_entry *e, const struct sw_event *ev, const char *sym, uint32_t n,
                   int64_t first_ms, struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    struct sw_hit h;
    sw_hit_init(&h, "msg_spam", sym, "message-spam", ev);
    h.first_ms = first_ms < ev->t_ms ? first_ms : ev->t_ms;
    sw_hit_add_value(&h, "new_recipients", n);
    sw_hit_add_value(&h, "same_text", e->same_n);
    sw_hit_emit(out, &h);
    st->hits++;
}

/* A 1:1 message that counts (a possible first contact of its sender). */
static bool ms_counted_message(const struct sw_event *ev)
{
    return ev->kind == SW_EV_MESSAGE && (ev->type == SW_T_CHAT || ev->type == SW_T_NORMAL) &&
           ev->body_len > 0 && ev->from.local_len > 0 && ev->to.local_len > 0 &&
           ev->to.bare != ev->from.bare &&
           (ev->flags & (SW_F_CARBON | SW_F_HISTORY | SW_F_MUC_PM | SW_F_MUC_GROUPCHAT |
                         SW_F_MUC_INVITE)) == 0 &&
           !sw_dc_excluded(ev);
}

/* The recipient of a counted message: its worker learns who wrote to it. */
static uint64_t ms_peer_key(const struct sw_event *ev)
{
    return ms_counted_message(ev) ? ev->to.bare : 0;
}

/* On the recipient's worker (when the sender's is another one): the pair has
 * talked, as ms_process() records it on the sender's. */
static void ms_observe(const void *shared, void *local, const struct sw_event *ev)
{
    (void)shared;
    struct ms_local *l = local;
    uint64_t pair = pair_of(ev->from.bare, ev->to.bare);
    if (!bloom_has(&l->f, pair)) {
        bloom_add(&l->f, pair);
    }
}

static void ms_process(const void *shared, void *local, const struct sw_event *ev,
                       struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct ms_shared *sh = shared;
    struct ms_local *l = local;
    uint64_t key = ms_key(ev);
    if (key == 0 || (ev->flags & (SW_F_CARBON | SW_F_HISTORY)) != 0) {
        return;
    }
    if (ev->kind == SW_EV_PRESENCE) {
        if (ev->from.bare != 0 && ev->type == SW_T_SUBSCRIBED) {
            /* An approved subscription: the pair has a relationship. */
            bloom_add(&l->f, pair_of(ev->from.bare, ev->to.bare));
        } else if (ev->from.bare != 0 && !sw_dc_excluded(ev)) {
            /* A request: the recipient may write to the asker (not the reverse). */
            bloom_add(&l->f, asked_of(ev->from.bare, ev->to.bare));
        }
        return;
    }
    if (!ms_counted_message(ev)) {
        return;
    }
    st->events++;
    uint64_t pair = pair_of(ev->from.bare, ev->to.bare);
    if (bloom_has(&l->f, pair) || bloom_has(&l->f, asked_of(ev->to.bare, ev->from.bare))) {
        return; /* they talked before, or the recipient asked the sender first */
    }
    bloom_add(&l->f, pair);
    uint32_t now = sw_table_now(l->t, ev->t_ms);
    uint32_t prev;
    struct ms_entry *e = sw_table_get(l->t, key, now, &prev, st);
    if (sw_dc_seen_id(&e->id, 1, ev->id_hash)) {
        return;
    }
    sw_window_add(&e->ws, sh->ws, ev->t_ms, 1);
    uint32_t nb = sw_window_sum(&e->ws, sh->ws, ev->t_ms);
    if (e->long_start == 0 ||
        (now > e->long_start && now - e->long_start >= sw_dc_secs(sh->s.long_window))) {
        e->long_start = now;
        e->long_n = 0;
        e->same_n = 0;
    }
    if (e->long_n < UINT16_MAX) {
        e->long_n++;
    }
    /* Near-identical pitch: one cluster fingerprint per sender, re-seeded
     * while it has not been confirmed by a second message, or while the
     * confirmed variant holds less than a quarter of the first contacts (two
     * outlier variants of a mutated pitch, close to each other, must not keep
     * the rest from counting: swgen seed 9501; replacing it below a majority
     * lost the count of a noisier pitch, seed 9303). */
    uint64_t fp = sw_simhash_body(ev, NULL);
    uint32_t lh = ms_link_host(ev);
    unsigned dmax = (unsigned)sh->s.simhash_distance;
    bool text = e->same_n > 0 && (sw_simhash_distance(fp, e->fp) <= dmax ||
                                  sw_simhash_distance(fp, e->fp_last) <= dmax);
    /* The same link host as the pitch is the same pitch too: short pitches
     * re-spun per message (a prefix word added or not, letters re-cased or
     * leet) fall into SimHash modes 13-15 bits apart, and one mode alone can
     * stay just under slow_same_pct (swgen seed 69087688: 35 strangers, one
     * link host, missed). A person writing strangers different texts with
     * links to one host that often is pitching that host. */
    bool link = e->same_n > 0 && lh != 0 && lh == ms_link_get(e);
    if (text || link) {
        if (text) {
            e->fp_last = fp; /* mutations drift: match the first or the latest variant */
        }
        if (ms_link_get(e) == 0) {
            ms_link_set(e, lh);
        }
        if (e->same_n < UINT16_MAX) {
            e->same_n++;
        }
    } else if (e->same_n <= 1 || (uint32_t)e->same_n * 4 <= e->long_n) {
        e->fp = e->fp_last = fp;
        ms_link_set(e, lh);
        e->same_n = 1;
    }
    if ((int64_t)nb > sh->s.burst_max &&
        sw_dc_may_hit(&e->h.user, &e->fired, 0, now, sh->s.cooldown)) {
        ms_hit(e, ev, "msg_spam.new_burst", nb, ev->t_ms - sh->s.short_window, out, st);
    }
    if ((int64_t)e->long_n >= sh->s.slow_min &&
        (int64_t)e->same_n * 100 >= sh->s.slow_same_pct * (int64_t)e->long_n &&
        sw_dc_may_hit(&e->h.user, &e->fired, 1, now, sh->s.cooldown)) {
        ms_hit(e, ev, "msg_spam.new_slow", e->long_n,
               ev->t_ms - (int64_t)(now - e->long_start) * 1000, out, st);
    }
}

static void ms_expire(const void *shared, void *local, int64_t now_ms, struct sw_detector_stats *st)
{
    const struct ms_local *l = local;
    sw_dc_expire(shared, local, now_ms, st);
    st->mem_bytes += 2 * l->f.nbits / 8;
}

static const struct sw_detector_symbol ms_symbols[] = {
    {.symbol = "msg_spam.new_burst", .score = 1.0, .group = "msg_spam"},
    {.symbol = "msg_spam.new_slow", .score = 1.0, .group = "msg_spam"},
    {.symbol = NULL},
};

const struct sw_detector_ops sw_msg_spam_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "msg_spam",
    .description = "chat messages to many distinct accounts the sender never talked with",
    .symbols = ms_symbols,
    .events = SW_EV_MESSAGE | SW_EV_PRESENCE,
    .shard = SW_SHARD_SENDER,
    .key = ms_key,
    .peer_key = ms_peer_key,
    .observe = ms_observe,
    .schema = schema,
    .settings_size = sizeof(struct sw_msg_spam_settings),
    .setup = ms_setup,
    .thread_init = ms_thread_init,
    .process = ms_process,
    .expire = ms_expire,
    .thread_reload = sw_dc_thread_reload, /* keeps windows and contacts (sizing: ms_setup) */
    .thread_fini = ms_thread_fini,
    .teardown = sw_dc_teardown,
};
