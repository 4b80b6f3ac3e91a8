/*
 * muc_raid.c - distributed MUC flood: a wave of accounts posting the same or
 * near-same text into one room within seconds.
 *
 * Sharded by ROOM. Three pieces of per-worker state:
 *   - occupants: (room, sender) -> when the sender last joined the room (MUC
 *     join presence), whether it spoke there since, and when it was last hit.
 *     "Fresh" = joined less than `fresh` ago and not yet spoken there; an
 *     occupant whose join we never saw, or who spoke there before (a rejoin
 *     keeps that, unless this detector named it a raider in that room),
 *     counts as established. Kept `regular_memory` (24h) after its last line
 *     or join, so a regular back from hours away who rejoins during a raid
 *     and quotes the spam line in a complaint is still a regular (it was
 *     an hour: swgen raid-returner, 37-43 such accounts named per 400k/8 h
 *     run on seeds 7, 42, 101, 104). One table, one idle limit: occupants
 *     that only joined are kept as long. It holds at most max_memory (half
 *     of what the ring leaves, 24-byte entries: about 240k occupants at the
 *     default 16MB); when full, a new occupant replaces the least recently
 *     seen one of its probe window, so the regulars silent the longest are
 *     forgotten first. A forgotten regular that rejoins is fresh again: its
 *     first line within `fresh` of the join counts as a fresh account's (as
 *     every regular's did an hour after its last line before).
 *   - rooms: room -> 4 clusters of near-identical lines (SimHash within
 *     simhash_distance), each with the distinct accounts that posted it
 *     (exact set -> HLL, distinct.h) while the cluster stays active (a new
 *     line within `window` of the previous one).
 *   - a ring of the last `ring` qualifying posts (room, fingerprint, account
 *     JID text): when a wave trips, its earlier accounts are named from it.
 * Only lines that look like raid material count: a fresh account's line with
 * at least min_len_fresh normalized bytes, or anyone's line of at least
 * min_len_established bytes. So established occupants all shouting "GOAL!"
 * never count, and newcomers greeting with "hi" neither. An established
 * occupant counts towards a wave but is named only when it posted the wave's
 * line at least four times: the regulars who quote a spam line back in a
 * complaint are not raiders.
 * When min_accounts distinct accounts (min_accounts_long for a line of at
 * least min_len_long bytes: a pitch, not a cheer) posted one cluster, every one of them
 * gets a "muc_raid.account" hit (later ones as they post; once per cooldown
 * per account). When at least domain_min of the wave's accounts, and
 * domain_share_pct of them, come from one domain that is neither the room's
 * service domain nor its parent (the room's own server), that domain gets a
 * "muc_raid.domain" hit (offender_kind domain). Before that, with `pair` on,
 * two fresh accounts of one domain other than the room's own posting one
 * long line (min_len_long) are a partial signal each ("muc_raid.account" at
 * weight MR_PAIR_WEIGHT 0.6, once per cluster, no cooldown taken): two
 * friends from one server sharing a link are not reported for that alone (a
 * link or shortener rule adds at most 0.36), but with a spam-bait content
 * rule on the line (weight 0.7 or more, scored 0.6 x weight: 0.42+) the raid
 * is reported at its second account instead of its third. Kind "muc-flood".
 *
 * Threading: shared = settings copy; local = tables + ring, per worker.
 */
#include "sw/detector.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dcommon.h"
#include "distinct.h"
#include "sw/simhash.h"
#include "table.h"

#define MR_ESTABLISHED_LINES 4 /* wave lines that make an established occupant a raider */
#define MR_SPOKE 0x80000000u   /* in mr_occ.h.user: it spoke in the room (then not fresh) */
#define MR_PAIR_WEIGHT 600     /* weight_milli of a pair's hits (see the file comment) */

struct sw_muc_raid_settings {
    bool enabled;
    int64_t max_memory, idle, cooldown;
    int64_t window, min_accounts, min_accounts_long, min_len_long, fresh, min_len_fresh,
        min_len_established;
    int64_t simhash_distance, domain_min, domain_share_pct, ring;
    bool pair;
    int64_t regular_memory;
};

#define SW_DC_S struct sw_muc_raid_settings
static const struct sw_conf_item schema[] = {
    SW_DC_COMMON_ITEMS("16MB", "10m", "5m"),
    SW_DC_DUR("window", window, 1000, 3600000, "30s",
              "a wave stays open while its lines follow each other within this long"),
    SW_DC_INT("min_accounts", min_accounts, 2, 100000, "4",
              "distinct accounts posting one near-identical line that make a raid"),
    SW_DC_INT("min_accounts_long", min_accounts_long, 2, 100000, "3",
              "fewer accounts suffice when the line is long (min_len_long)"),
    SW_DC_INT("min_len_long", min_len_long, 1, 100000, "30",
              "normalized text bytes of a line for min_accounts_long"),
    SW_DC_DUR("fresh", fresh, 1000, 86400000, "5m",
              "an account that joined the room less than this long ago is fresh"),
    SW_DC_INT("min_len_fresh", min_len_fresh, 1, 100000, "12",
              "normalized text bytes a fresh account's line needs to count"),
    SW_DC_INT("min_len_established", min_len_established, 1, 100000, "60",
              "normalized text bytes an established occupant's line needs to count"),
    SW_DC_INT("simhash_distance", simhash_distance, 0, 32, "12",
              "max Hamming distance of 64-bit SimHashes for near-identical lines"),
    SW_DC_INT("domain_min", domain_min, 1, 100000, "5",
              "wave accounts from one domain needed to also report the domain"),
    SW_DC_INT("domain_share_pct", domain_share_pct, 1, 100, "60",
              "share of the wave's accounts that domain must have"),
    SW_DC_INT("ring", ring, 64, 1000000, "4096",
              "recent qualifying posts kept per worker to name a wave's earlier accounts"),
    SW_DC_BOOL("pair", pair, "true",
               "two fresh accounts of one domain (not the room's own server) posting one long "
               "line (min_len_long) are a partial signal each (weight 0.6: reported only together "
               "with another signal, such as a spam-bait content rule on the line)"),
    SW_DC_DUR("regular_memory", regular_memory, 60000, 30 * SW_DC_DAY_MS, "24h",
              "an occupant is remembered this long after its last line or join in a room, so a "
              "regular who rejoins later is still no fresh account (bounded by max_memory: when "
              "full, the occupants seen least recently are forgotten first)"),
    SW_CONF_END,
};
#undef SW_DC_S

#define MR_CLUSTERS 4
#define MR_MAX_WAVE 256 /* accounts named at once when a wave trips */

struct mr_shared {
    struct sw_dc_shared dc;
    struct sw_muc_raid_settings s;
};

struct mr_occ {
    struct sw_table_entry h; /* user: join seconds, 0 = join not seen */
    uint32_t hit_s;
    uint32_t id;
};

struct mr_cluster {
    uint64_t fp, fp_last; /* first line and latest member: mutations may drift */
    uint32_t first_s, last_s;
    uint32_t tripped_s, dom_hit_s;
    struct sw_distinct32 acc;
    uint32_t paired_s; /* the pair signal was given (once per cluster) */
};

struct mr_room {
    struct sw_table_entry h;
    struct mr_cluster c[MR_CLUSTERS];
};

/* A ring post; its bare JID text is kept apart (mr_jid(), jids[i] for
 * ring[i]) so the scans for a wave's posts (mr_collect_wave, mr_pair) read
 * 56-byte records instead of 312-byte ones with the text. Together they are
 * the 312 bytes a post always took (asserted: the ring is in the memory
 * budget, so the tables' sizes do not change). */
struct mr_post {
    uint64_t room, cid, sender, domain; /* cid: the cluster (room, slot, first_s) */
    int64_t t_ms;
    uint32_t t_s;
    uint16_t dom_off, dom_len;
    uint8_t fresh; /* the sender had joined the room less than `fresh` before, not yet spoken */
};
#define MR_POST_BYTES (sizeof(struct mr_post) + SW_JID_TEXT)
_Static_assert(MR_POST_BYTES == 312, "the ring's size is in the memory budget");

struct mr_local {
    SW_DC_LOCAL_HEAD; /* t unused (NULL); sizing: max_memory and ring */
    struct sw_table *occ, *rooms;
    struct mr_post *ring;
    char *jids; /* ring_n x SW_JID_TEXT: jids + i * SW_JID_TEXT is ring[i]'s bare JID */
    size_t ring_n, ring_pos;
};

static int mr_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    const struct sw_muc_raid_settings *s = settings;
    /* Entry size 0: mr_thread_init builds its own two tables and ring. */
    struct mr_shared *sh =
        sw_dc_shared_new(sizeof(*sh), sizeof(struct mr_local), 0, s->max_memory, s->idle);
    if (sh == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "muc_raid: out of memory");
    }
    sh->s = *s;
    /* Hot reload keeps every wave; only new memory sizes need new tables. */
    sh->dc.sizing = s->max_memory * 1000003 + s->ring;
    *shared = sh;
    return 0;
}

static void mr_thread_fini(void *local)
{
    struct mr_local *l = local;
    if (l == NULL) {
        return;
    }
    sw_table_free(l->occ);
    sw_table_free(l->rooms);
    free(l->ring);
    free(l->jids);
    sw_dc_thread_fini(l);
}

static int mr_thread_init(const void *shared, void **local)
{
    const struct mr_shared *sh = shared;
    struct mr_local *l = calloc(1, sizeof(*l));
    int rc = SW_ENOMEM;
    if (l == NULL) {
        return SW_ENOMEM;
    }
    /* Budget: the ring first, then half of the rest for each table. */
    l->ring_n = (size_t)sh->s.ring;
    int64_t ring_bytes = (int64_t)(l->ring_n * MR_POST_BYTES);
    int64_t rest = sh->s.max_memory - ring_bytes;
    if (rest < 2 * 65536) {
        rest = 2 * 65536;
    }
    l->ring = calloc(l->ring_n, sizeof(struct mr_post));
    l->jids = calloc(l->ring_n, SW_JID_TEXT);
    if (l->ring == NULL || l->jids == NULL) {
        goto fail;
    }
    rc = sw_table_new(&l->occ, sizeof(struct mr_occ), rest / 2);
    if (rc < 0) {
        goto fail;
    }
    rc = sw_table_new(&l->rooms, sizeof(struct mr_room), rest / 2);
    if (rc < 0) {
        goto fail;
    }
    l->sizing = sh->dc.sizing;
    *local = l;
    return 0;
fail:
    mr_thread_fini(l);
    return rc;
}

/* The room's service domain and its parent (conference.example.org ->
 * example.org): a wave from there is local users, never a spam domain. */
static bool is_room_home(const struct sw_event *ev, uint64_t dom)
{
    const char *d = ev->to.text + ev->to.domain_off;
    size_t n = ev->to.domain_len;
    if (dom == ev->to.domain) {
        return true;
    }
    const char *dot = memchr(d, '.', n);
    if (dot != NULL && (size_t)(dot - d) + 1 < n) {
        size_t off = (size_t)(dot - d) + 1;
        return dom == sw_hash64_lower(d + off, n - off);
    }
    return false;
}

/* Bare JID text of ring post @p. */
static char *mr_jid(const struct mr_local *l, const struct mr_post *p)
{
    return l->jids + (size_t)(p - l->ring) * SW_JID_TEXT;
}

/* @jid: an earlier post's account, NULL for the current event's sender. */
static void mr_hit_account(const struct sw_event *ev, const struct mr_cluster *c, uint32_t n,
                           const char *jid, int64_t first_ms, uint32_t weight_milli,
                           struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    struct sw_hit h;
    sw_hit_init(&h, "muc_raid", "muc_raid.account", "muc-flood", ev);
    if (jid != NULL) {
        sw_hit_set_offender(&h, SW_OFFENDER_ACCOUNT, jid, strlen(jid));
    }
    h.weight_milli = weight_milli;
    h.first_ms = first_ms < ev->t_ms ? first_ms : ev->t_ms;
    sw_hit_add_value(&h, "accounts", n);
    sw_hit_add_value(&h, "wave_s", (int64_t)(c->last_s - c->first_s));
    sw_hit_emit(out, &h);
    st->hits++;
}

/* The live cluster of @r whose first or latest fingerprint is within
 * simhash_distance of @fp; else a fresh one opened in a dead slot, or in the
 * live one with the fewest accounts (then idle the longest). So a wave in
 * progress is not evicted by one occupant's chatter: a bridge relaying long
 * varied lines opens a one-account cluster per line, and evicting by idle
 * time alone lost a raid's cluster in a 5 s pause between its lines (swgen
 * seed 9203: its last two raiders started a new cluster and were missed). */
static struct mr_cluster *mr_cluster_for(const struct mr_shared *sh, struct mr_room *r, uint64_t fp,
                                         uint32_t now)
{
    uint32_t win = sw_dc_secs(sh->s.window);
    struct mr_cluster *c = NULL, *victim = NULL;
    bool victim_alive = true;
    uint32_t victim_n = 0;
    for (int i = 0; i < MR_CLUSTERS; i++) {
        struct mr_cluster *k = &r->c[i];
        bool alive = k->last_s != 0 && (k->last_s >= now || now - k->last_s <= win);
        if (alive && (sw_simhash_distance(k->fp, fp) <= (unsigned)sh->s.simhash_distance ||
                      sw_simhash_distance(k->fp_last, fp) <= (unsigned)sh->s.simhash_distance)) {
            c = k;
            break;
        }
        /* Reuse a dead cluster first, else the live one with the fewest
         * accounts, then the one idle the longest. */
        if (!alive) {
            if (victim == NULL || victim_alive) {
                victim = k;
                victim_alive = false;
            }
        } else if (victim == NULL || victim_alive) {
            uint32_t n = sw_distinct_count(&k->acc, sizeof(k->acc));
            if (victim == NULL || n < victim_n || (n == victim_n && k->last_s < victim->last_s)) {
                victim = k;
                victim_n = n;
            }
        }
    }
    if (c == NULL) {
        c = victim;
        memset(c, 0, sizeof(*c));
        c->fp = fp;
        c->first_s = now;
    }
    return c;
}

/* Remember @ev's post in the ring, for naming the wave later. */
static void mr_remember_post(struct mr_local *l, uint64_t room, uint64_t cid,
                             const struct sw_event *ev, uint32_t now, bool fresh)
{
    struct mr_post *p = &l->ring[l->ring_pos];
    l->ring_pos = (l->ring_pos + 1) % l->ring_n;
    p->room = room;
    p->cid = cid;
    p->sender = ev->from.bare;
    p->domain = ev->from.domain;
    p->t_ms = ev->t_ms;
    p->t_s = now;
    if (sw_jid_copy_bare(mr_jid(l, p), SW_JID_TEXT, &ev->from) > 0) {
        p->dom_off = ev->from.local_len > 0 ? (uint16_t)(ev->from.local_len + 1) : 0;
        p->dom_len = ev->from.domain_len;
    } else {
        p->dom_off = p->dom_len = 0; /* too long to keep whole: never named by a cut copy */
    }
    p->fresh = fresh;
}

/* The wave's distinct accounts from the ring (newest first) into @posts
 * (MR_MAX_WAVE entries); returns how many. Occupants with a history in the
 * room (joined before `fresh`, join never seen, or spoke there before) who say
 * the wave's line a few times are bystanders quoting it ("stop posting 'FREE
 * NITRO ...'", a moderator's warning): they count towards the wave but are
 * left out here (not named, not in the domain share) unless their own traffic
 * is raid-like: the line MR_ESTABLISHED_LINES times or more. */
static size_t mr_collect_wave(const struct mr_local *l, uint64_t room, uint64_t cid,
                              const struct mr_post **posts)
{
    uint64_t seen[MR_MAX_WAVE];
    unsigned lines[MR_MAX_WAVE]; /* the account's lines in this wave */
    bool fresh_any[MR_MAX_WAVE]; /* one of them posted while it was fresh */
    size_t ns = 0;
    for (size_t k = 0; k < l->ring_n && ns < MR_MAX_WAVE; k++) {
        const struct mr_post *q = &l->ring[(l->ring_pos + l->ring_n - 1 - k) % l->ring_n];
        if (q->cid != cid || q->room != room) {
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < ns; j++) {
            if (seen[j] == q->sender) {
                dup = true;
                lines[j]++;
                fresh_any[j] = fresh_any[j] || q->fresh;
                break;
            }
        }
        if (!dup) {
            seen[ns] = q->sender;
            lines[ns] = 1;
            fresh_any[ns] = q->fresh;
            posts[ns++] = q;
        }
    }
    size_t nq = 0;
    for (size_t j = 0; j < ns; j++) {
        if (fresh_any[j] || lines[j] >= MR_ESTABLISHED_LINES) {
            posts[nq++] = posts[j];
        }
    }
    return nq;
}

/* Domain: a "muc_raid.domain" hit when a majority of the named wave accounts
 * share one domain (not the room's own), once per cooldown per cluster. */
static void mr_hit_domain(const struct mr_shared *sh, const struct mr_local *l,
                          const struct sw_event *ev, struct mr_cluster *c,
                          const struct mr_post *const *posts, size_t ns, uint32_t now,
                          int64_t first_ms, struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    uint32_t cd = sw_dc_secs(sh->s.cooldown);
    uint64_t best = 0;
    size_t best_n = 0, best_j = 0;
    for (size_t j = 0; j < ns; j++) {
        size_t cnt = 0;
        for (size_t k = 0; k < ns; k++) {
            cnt += posts[k]->domain == posts[j]->domain;
        }
        if (cnt > best_n) {
            best_n = cnt;
            best = posts[j]->domain;
            best_j = j;
        }
    }
    if (best != 0 && (int64_t)best_n >= sh->s.domain_min &&
        (int64_t)best_n * 100 >= sh->s.domain_share_pct * (int64_t)ns && !is_room_home(ev, best) &&
        (c->dom_hit_s == 0 || now - (c->dom_hit_s < now ? c->dom_hit_s : now) >= cd)) {
        c->dom_hit_s = now;
        struct sw_hit h;
        sw_hit_init(&h, "muc_raid", "muc_raid.domain", "muc-flood", ev);
        const struct mr_post *q = posts[best_j];
        sw_hit_set_offender(&h, SW_OFFENDER_DOMAIN, mr_jid(l, q) + q->dom_off, q->dom_len);
        h.first_ms = first_ms;
        sw_hit_add_value(&h, "accounts", (int64_t)ns);
        sw_hit_add_value(&h, "domain_accounts", (int64_t)best_n);
        sw_hit_emit(out, &h);
        st->hits++;
    }
}

/* Below min_accounts: a fresh account's long line (@ev) in cluster @c of
 * @room whose ring already holds a fresh post of another account of the same
 * domain (not the room's own server) makes the pair: a partial signal for each
 * fresh account of that domain in the cluster, once per cluster. No cooldown
 * is taken, so the full hits follow when the wave trips. */
static void mr_pair(const struct mr_local *l, const struct sw_event *ev, struct mr_cluster *c,
                    uint64_t room, uint64_t cid, uint32_t n, uint32_t now, int64_t first_ms,
                    struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    if (c->paired_s != 0 || is_room_home(ev, ev->from.domain)) {
        return;
    }
    const struct mr_post *mates[MR_MAX_WAVE];
    size_t nm = 0;
    for (size_t k = 0; k < l->ring_n && nm < MR_MAX_WAVE; k++) {
        const struct mr_post *q = &l->ring[(l->ring_pos + l->ring_n - 1 - k) % l->ring_n];
        if (q->cid != cid || q->room != room || !q->fresh || q->domain != ev->from.domain ||
            q->sender == ev->from.bare) {
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < nm && !dup; j++) {
            dup = mates[j]->sender == q->sender;
        }
        if (!dup) {
            mates[nm++] = q;
        }
    }
    if (nm == 0) {
        return;
    }
    c->paired_s = now;
    mr_hit_account(ev, c, n, NULL, first_ms, MR_PAIR_WEIGHT, out, st);
    for (size_t j = 0; j < nm; j++) {
        mr_hit_account(ev, c, n, mr_jid(l, mates[j]), first_ms, MR_PAIR_WEIGHT, out, st);
    }
}

static void mr_process(const void *shared, void *local, const struct sw_event *ev,
                       struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct mr_shared *sh = shared;
    struct mr_local *l = local;
    uint64_t room = ev->key[SW_SHARD_ROOM];
    if (room == 0 || sw_dc_excluded(ev)) {
        return;
    }
    uint32_t now = sw_table_now(l->occ, ev->t_ms);
    uint32_t prev;
    uint64_t okey = sw_table_key2(room, ev->from.bare);
    if (ev->kind == SW_EV_PRESENCE) {
        if ((ev->flags & SW_F_MUC_JOIN) != 0) {
            st->events++;
            struct mr_occ *o = sw_table_get(l->occ, okey, now, &prev, st);
            /* a rejoin keeps the "spoke here" mark: a regular who reconnects
             * is still a regular; not an account named a raider in this room
             * (a raider back for more is fresh again, as it was when an
             * occupant was forgotten an hour after its last line) */
            uint32_t spoke = o->hit_s != 0 ? 0 : (o->h.user & MR_SPOKE);
            o->h.user = now | spoke;
        }
        return;
    }
    if (ev->type != SW_T_GROUPCHAT || (ev->flags & SW_F_MUC_GROUPCHAT) == 0 || ev->body_len == 0) {
        return;
    }
    st->events++;
    /* A get, not a find: each line renews the occupant's last-seen, so a
     * regular is remembered for regular_memory after its last line, not after
     * its first one or its last join (swgen seed 31007: a regular whose entry
     * dated from its first line 71 min before, with a line 18 min before the
     * raid, expired; its rejoin a minute before the raid made it fresh and
     * its quote of the spam line named it a raider). A new entry (join not
     * seen, or forgotten: user 0) is an occupant from before. */
    struct mr_occ *o = sw_table_get(l->occ, okey, now, &prev, st);
    uint32_t joined = o->h.user & ~MR_SPOKE;
    bool fresh =
        joined != 0 && (o->h.user & MR_SPOKE) == 0 && now - joined <= sw_dc_secs(sh->s.fresh);
    o->h.user |= MR_SPOKE; /* it spoke here: from now on a regular, also after a rejoin */
    /* The normalized text is never longer than the raw body: skip the
     * fingerprint when the line cannot qualify anyway (most chatter). */
    int64_t need = fresh ? sh->s.min_len_fresh : sh->s.min_len_established;
    if ((int64_t)ev->body_full < need) {
        return;
    }
    size_t nlen = 0;
    uint64_t fp = sw_simhash_body(ev, &nlen);
    if (!((fresh && (int64_t)nlen >= sh->s.min_len_fresh) ||
          (int64_t)nlen >= sh->s.min_len_established)) {
        return;
    }
    if (sw_dc_seen_id(&o->id, 1, ev->id_hash)) {
        return;
    }

    /* Find or open the cluster. */
    struct mr_room *r = sw_table_get(l->rooms, room, now, &prev, st);
    struct mr_cluster *c = mr_cluster_for(sh, r, fp, now);
    c->fp_last = fp;
    /* The first line's fingerprint too: a cluster evicted and reused by
     * another text within the same second must not share its ring posts. */
    uint64_t cid =
        sw_table_key2(room, c->fp ^ (((uint64_t)c->first_s << 3) | (uint64_t)(c - r->c)));
    if (now > c->last_s) {
        c->last_s = now;
    }
    sw_distinct_add(&c->acc, sizeof(c->acc), ev->from.bare);
    uint32_t n = sw_distinct_count(&c->acc, sizeof(c->acc));

    mr_remember_post(l, room, cid, ev, now, fresh);

    int64_t first_ms = ev->t_ms - (int64_t)(now - c->first_s) * 1000;
    if ((int64_t)n < sh->s.min_accounts &&
        ((int64_t)n < sh->s.min_accounts_long || (int64_t)nlen < sh->s.min_len_long)) {
        if (sh->s.pair && fresh && n >= 2 && (int64_t)nlen >= sh->s.min_len_long) {
            mr_pair(l, ev, c, room, cid, n, now, first_ms, out, st);
        }
        return;
    }
    uint32_t cd = sw_dc_secs(sh->s.cooldown);
    /* Once a wave tripped, only an account not yet hit changes anything (its
     * own hit, the domain share); skip the ring scan for the others. */
    if (c->tripped_s != 0 && o->hit_s != 0 && (o->hit_s >= now || now - o->hit_s < cd)) {
        return;
    }

    const struct mr_post *posts[MR_MAX_WAVE];
    size_t ns = mr_collect_wave(l, room, cid, posts);

    /* Hit every wave account whose own cooldown allows (the tripping one
     * included). Later posters are hit as they post. */
    bool tripping = c->tripped_s == 0;
    if (tripping) {
        c->tripped_s = now;
    }
    for (size_t j = 0; j < ns; j++) {
        bool self = posts[j]->sender == ev->from.bare;
        if (!tripping && !self) {
            continue;
        }
        struct mr_occ *oo =
            sw_table_get(l->occ, sw_table_key2(room, posts[j]->sender), now, &prev, st);
        if (oo->hit_s != 0 && now - (oo->hit_s < now ? oo->hit_s : now) < cd) {
            continue;
        }
        oo->hit_s = now;
        mr_hit_account(ev, c, n, self ? NULL : mr_jid(l, posts[j]), first_ms, 1000, out, st);
    }

    mr_hit_domain(sh, l, ev, c, posts, ns, now, first_ms, out, st);
}

/* The occupant slot mr_process will look up for @ev (a join or a room line:
 * key (room, sender)); the engine calls this a few events ahead (the
 * occupant table is MBs: most lookups missed the cache). */
static void mr_prefetch(const void *shared, void *local, const struct sw_event *ev)
{
    (void)shared;
    const struct mr_local *l = local;
    sw_dc_prefetch_occupant(l->occ, ev);
}

static void mr_expire(const void *shared, void *local, int64_t now_ms, struct sw_detector_stats *st)
{
    const struct mr_shared *sh = shared;
    struct mr_local *l = local;
    struct sw_detector_stats a = {0}, b = {0};
    uint32_t now = sw_table_now(l->occ, now_ms);
    /* Occupants matter while fresh or in cooldown, and as regulars for
     * regular_memory (who spoke where); rooms while waves may run. */
    int64_t occ_ms = sh->s.fresh > sh->s.cooldown ? sh->s.fresh : sh->s.cooldown;
    uint32_t occ_idle = sw_dc_secs(sh->s.regular_memory > occ_ms ? sh->s.regular_memory : occ_ms);
    sw_table_expire(l->occ, now, occ_idle, &a);
    sw_table_expire(l->rooms, now, sw_dc_secs(sh->s.idle), &b);
    st->expired += a.expired + b.expired;
    st->keys = a.keys + b.keys;
    st->mem_bytes = a.mem_bytes + b.mem_bytes + l->ring_n * MR_POST_BYTES;
}

static const struct sw_detector_symbol mr_symbols[] = {
    {.symbol = "muc_raid.account", .score = 1.0},
    {.symbol = "muc_raid.domain", .score = 1.0},
    {.symbol = NULL},
};

const struct sw_detector_ops sw_muc_raid_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "muc_raid",
    .description = "many (fresh) accounts posting near-identical lines into one room in seconds",
    .symbols = mr_symbols,
    .events = SW_EV_MESSAGE | SW_EV_PRESENCE,
    .shard = SW_SHARD_ROOM,
    .schema = schema,
    .settings_size = sizeof(struct sw_muc_raid_settings),
    .setup = mr_setup,
    .thread_init = mr_thread_init,
    .process = mr_process,
    .prefetch = mr_prefetch,
    .expire = mr_expire,
    .thread_reload = sw_dc_thread_reload, /* keeps every wave (sizing: mr_setup) */
    .thread_fini = mr_thread_fini,
    .teardown = sw_dc_teardown,
};
