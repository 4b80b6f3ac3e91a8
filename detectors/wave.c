/*
 * wave.c - the "wave" detector: thin spam waves spread over many senders.
 *
 * A wave reported by a public server's operator: ~47k messages from ~14k
 * accounts on ~280 servers in two weeks, about 3 messages per account. No
 * per-account rate catches that; the signal is across senders: near-identical
 * or same-template texts, or one link target, sent by many young accounts to
 * people who never talked to them.
 *
 * What it sees: every 1:1 message (chat/normal, with a body, from an account,
 * not a carbon, history copy, reflection, MUC private message or server
 * message), every presence an account sends (available, unavailable,
 * subscribe, subscribed) and every room line it sends (groupchat), which
 * only date the account and, for presence to an account, record the pair
 * (below). Routing: the key hook gives every such stanza one constant key,
 * so all of them meet on one worker (cross-sender state cannot be split by
 * sender; the per-event work is a few table probes and a scan of a small
 * cluster ring, see bench_detectors). Output is identical for any thread count.
 *
 * Per message:
 *   - account age as seen in the stream: a table of accounts with the time of
 *     the first stanza they sent here (1:1 message, room line, presence): a
 *     room regular sending its first 1:1 message late in a capture is not
 *     new. An account first seen less than `fresh` ago
 *     is young, except in the first `fresh` of the stream (every account is
 *     "new" when the capture starts: those count as established);
 *   - "talked first": a table of directed pairs (A wrote to B, or A's presence
 *     reached B: A shares its presence with B, a contact, or asked for or
 *     approved B's). A message to someone who wrote to the sender before, or
 *     whose presence reached the sender, is a reply and weighs nothing (only
 *     the recipient's side counts: directed presence from the sender is
 *     something anyone can send; a refusal, unsubscribed, is no consent);
 *   - sender weight: young sender to a stranger 1.0, a sender first seen in
 *     the stream's first `fresh` (age unknown) 0.5 during its first `fresh`
 *     unless it has replied to someone who wrote to it first (in conversations
 *     already: established), else 0 (established accounts and replies are counted separately as
 *     `established`);
 *   - text cluster (messages with a link, also a defanged one: a wave wants
 *     its victims to go somewhere): the body's SimHash (sw_simhash_text; the same-template
 *     variants of a wave differ in a few words, i.e. a few bits) is compared
 *     with a ring of `clusters` recent cluster fingerprints (Hamming distance
 *     <= simhash_distance); a new cluster is opened only by a weighted sender,
 *     so ordinary chat never churns the ring;
 *   - link cluster: the first link, normalized (host lower-cased, "www."
 *     dropped, path kept, trailing punctuation dropped, a query of tracking
 *     keys only dropped: "?ref=..."), keys a second cluster
 *     (same ring, tagged as a link cluster). A link that established senders
 *     or replies also share (WAVE_POPULAR times, counted in the account table
 *     under a key of its own) is a popular page, not a wave target: it gets no
 *     cluster.
 * A cluster fires when the weighted distinct senders within `window` of its
 * first message reach min_senders (with no more than max_established_pct of
 * its distinct senders established). Then every weighted sender of it is
 * reported (wave.account): the earlier ones from a ring of recent weighted
 * posts (`posts`), later ones as they come. Domain roll-up (wave.domain): a
 * sender domain with at least domain_min of the cluster's weighted senders
 * and domain_share_pct of them is reported too, unless established accounts
 * of it write here (WAVE_POPULATED messages): a public server some of whose
 * accounts are in the wave is not a spam domain.
 *
 * Memory: accounts and pairs are sw_table tables inside max_memory (a fixed
 * split: 1/2 pairs, 1/4 accounts, the rest clusters and posts), so memory is
 * capped like every detector; under key churn the least recently seen go
 * first (an evicted account looks young again only once it writes again, and
 * an evicted pair makes a reply look like a first contact: both only add
 * weight to clusters that already exist).
 *
 * Threading: setup/teardown on the control thread; the rest on the one worker
 * that owns the constant key. Ownership: shared holds the settings only.
 */
#include "sw/detector.h"
#include "sw/link.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dcommon.h"
#include "sw/simhash.h"
#include "table.h"

#define WAVE_NAME "wave"
#define WAVE_KIND "message-spam"
#define WAVE_MEMBERS 16  /* distinct senders remembered per cluster (32-bit tags) */
#define WAVE_DOMS 4      /* sender domains counted per cluster */
#define WAVE_JID 96      /* bytes of a post's sender JID kept to name it later */
#define WAVE_POPULAR 2   /* established shares that make a link popular (never a wave target) */
#define WAVE_POPULATED 3 /* messages of established accounts that make a domain a real server */
/* in an account's user (first-seen seconds): it replied to someone who wrote to it first */
#define WAVE_CONVERSED 0x80000000u

struct sw_wave_settings {
    bool enabled;
    int64_t max_memory, idle, cooldown;
    int64_t window, fresh, min_senders, max_established_pct, min_len, simhash_distance;
    int64_t domain_min, domain_share_pct, clusters, posts;
};

#define SW_DC_S struct sw_wave_settings
static const struct sw_conf_item schema[] = {
    SW_DC_COMMON_ITEMS("32MB", "24h", "30m"),
    SW_DC_DUR("window", window, 60000, 7 * SW_DC_DAY_MS, "1h",
              "a cluster counts senders this long after its first message"),
    SW_DC_DUR("fresh", fresh, 60000, 7 * SW_DC_DAY_MS, "1h",
              "an account first seen (in the stream) less than this long ago is young; the "
              "stream's first `fresh` counts as established"),
    SW_DC_INT("min_senders", min_senders, 2, 1000000, "5",
              "young accounts writing to strangers one near-identical text or link that make a "
              "wave"),
    SW_DC_INT("max_established_pct", max_established_pct, 0, 100, "30",
              "a cluster whose distinct senders are more than this percentage established "
              "accounts or replies (a popular link, a meme) never fires"),
    SW_DC_INT("min_len", min_len, 1, 100000, "24",
              "normalized text bytes a message needs to join a text cluster (greetings do not)"),
    SW_DC_INT("simhash_distance", simhash_distance, 0, 32, "12",
              "max Hamming distance of 64-bit SimHashes for same-template texts"),
    SW_DC_INT("domain_min", domain_min, 1, 100000, "3",
              "wave senders from one domain needed to also report the domain"),
    SW_DC_INT("domain_share_pct", domain_share_pct, 1, 100, "50",
              "share of the wave's senders that domain must have"),
    SW_DC_INT("clusters", clusters, 16, 1000000, "1024",
              "recent text/link clusters kept (a new one replaces the least recently active)"),
    SW_DC_INT("posts", posts, 64, 1000000, "4096",
              "recent weighted posts kept to name a wave's earlier senders"),
    SW_CONF_END,
};
#undef SW_DC_S

/* A cluster is split in two arrays of the same index: what cluster_find()
 * reads of every cluster for every message (24 bytes: 1024 clusters are 24 KB,
 * cache-resident) and its sender tally, touched only when a message joins it.
 * Together they are the 120 bytes a cluster always took (asserted: the rings'
 * size is in the memory budget, so the tables' sizes do not change). */
struct wave_cluster {
    uint64_t fp; /* text SimHash, or the link host hash */
    uint32_t first_s, last_s;
    uint32_t id; /* never 0 for a live cluster */
    uint8_t link, fired, dom_fired;
};

struct wave_tally {
    uint32_t member[WAVE_MEMBERS];
    uint32_t dom[WAVE_DOMS];
    uint16_t domn[WAVE_DOMS];
    uint16_t weighted, established, n_members;
    uint16_t units; /* weight of the weighted senders in halves: young 2, unknown age 1 */
};
#define WAVE_CLUSTER_BYTES (sizeof(struct wave_cluster) + sizeof(struct wave_tally))
_Static_assert(WAVE_CLUSTER_BYTES == 120, "the cluster rings' size is in the memory budget");

struct wave_post {
    uint64_t sender;
    uint64_t domain;
    uint64_t seq;
    int64_t t_ms;
    uint32_t cluster[2]; /* text and link cluster ids (0 = none) */
    char jid[WAVE_JID];  /* bare JID, "" when longer than WAVE_JID - 1 */
};

struct wave_shared {
    struct sw_dc_shared dc;
    struct sw_wave_settings s;
};

struct wave_local {
    SW_DC_LOCAL_HEAD; /* t: accounts (user = first-seen seconds); sizing: max_memory */
    struct sw_table *pairs;
    struct wave_cluster *cl;
    struct wave_tally *tl; /* tl[i] is cl[i]'s */
    size_t n_cl, n_used;   /* slots; slots ever used (only those are scanned) */
    struct wave_post *post;
    size_t n_post, post_next;
    uint32_t next_id;
    uint32_t start_s; /* stream second of the first event */
};

static uint64_t wave_key(const struct sw_event *ev)
{
    const uint32_t never = SW_F_MUC_PM | SW_F_MUC_REFLECTION;
    bool msg = ev->kind == SW_EV_MESSAGE && (ev->type == SW_T_CHAT || ev->type == SW_T_NORMAL ||
                                             (ev->flags & SW_F_MUC_GROUPCHAT) != 0);
    bool pres =
        ev->kind == SW_EV_PRESENCE && (ev->type == SW_T_AVAILABLE || ev->type == SW_T_UNAVAILABLE ||
                                       ev->type == SW_T_SUBSCRIBE || ev->type == SW_T_SUBSCRIBED);
    if ((!msg && !pres) || (ev->flags & never) != 0 || ev->to.local_len == 0 ||
        sw_dc_excluded(ev)) {
        return 0;
    }
    return 0x77617665ull; /* "wave": one key, one worker */
}

static int wave_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    const struct sw_wave_settings *s = settings;
    struct wave_shared *sh =
        sw_dc_shared_new(sizeof(*sh), sizeof(struct wave_local), 0, s->max_memory, s->idle);
    if (sh == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "wave: out of memory");
    }
    sh->s = *s;
    sh->dc.sizing = s->max_memory ^ (s->clusters << 40) ^ (s->posts << 20);
    *shared = sh;
    return 0;
}

static void wave_thread_fini(void *local)
{
    struct wave_local *l = local;
    if (l == NULL) {
        return;
    }
    sw_table_free(l->t);
    sw_table_free(l->pairs);
    free(l->cl);
    free(l->tl);
    free(l->post);
    free(l);
}

static int wave_thread_init(const void *shared, void **local)
{
    const struct wave_shared *sh = shared;
    const struct sw_wave_settings *s = &sh->s;
    struct wave_local *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return SW_ENOMEM;
    }
    l->sizing = sh->dc.sizing;
    l->n_cl = (size_t)s->clusters;
    l->n_post = (size_t)s->posts;
    int64_t rings = (int64_t)(l->n_cl * WAVE_CLUSTER_BYTES + l->n_post * sizeof(struct wave_post));
    int64_t rest = s->max_memory - rings;
    int rc = SW_ENOMEM;
    if (rest < 2 * 65536) {
        rc = SW_EINVAL; /* max_memory too small for the rings */
        goto fail;
    }
    l->cl = calloc(l->n_cl, sizeof(*l->cl));
    l->tl = calloc(l->n_cl, sizeof(*l->tl));
    l->post = calloc(l->n_post, sizeof(*l->post));
    if (l->cl == NULL || l->tl == NULL || l->post == NULL) {
        goto fail;
    }
    rc = sw_table_new(&l->t, sizeof(struct sw_table_entry), rest / 3);
    if (rc == 0) {
        rc = sw_table_new(&l->pairs, sizeof(struct sw_table_entry), rest - rest / 3);
    }
    if (rc != 0) {
        goto fail;
    }
    *local = l;
    return 0;
fail:
    wave_thread_fini(l);
    return rc;
}

static int wave_thread_reload(const void *shared, void *local)
{
    const struct wave_shared *sh = shared;
    const struct wave_local *l = local;
    return l->sizing == sh->dc.sizing ? 0 : SW_EAGAIN;
}

/* A defanged link ("bit[.]ly/x", "t(.)me/x", "cutt . ly/x"): a link that hides
 * from link parsers. */
/* Query keys that only track who clicked (per message or per recipient), not
 * what the link points to: utm_*, ref*, aff*, click ids, share ids. */
static bool tracking_key(const char *k, size_t n)
{
    static const char *const keys[] = {"u",  "uid",    "r",     "src",    "source", "via",
                                       "si", "fbclid", "gclid", "igshid", "mc_eid", "yclid"};
    if ((n >= 4 && memcmp(k, "utm_", 4) == 0) || (n >= 3 && memcmp(k, "ref", 3) == 0) ||
        (n >= 3 && memcmp(k, "aff", 3) == 0)) {
        return true;
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strlen(keys[i]) == n && memcmp(keys[i], k, n) == 0) {
            return true;
        }
    }
    return false;
}

/* The link's target: @link (@n bytes, canonical, see sw_link_first) without a
 * query made of tracking keys only. A wave sends one target with a fresh
 * "?ref=..." per message, so the whole link would never repeat (swgen seed
 * 9406: a thin wave's senders whose every link carried one were missed, recall
 * 0.891); a query that selects content ("watch?v=...") is kept. Returns the
 * new length. */
static size_t link_target(const char *link, size_t n)
{
    const char *q = memchr(link, '?', n);
    if (q == NULL) {
        return n;
    }
    const char *p = q + 1, *end = link + n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (!tracking_key(p, (size_t)((eq != NULL ? eq : stop) - p))) {
            return n;
        }
        p = stop + 1;
    }
    return (size_t)(q - link);
}

/* Bytes of the body the text fingerprint reads (sw_simhash_text reads at most
 * 4 * SW_SIMHASH_MAX_TEXT raw bytes). */
#define WAVE_WORDS_MAX (4 * SW_SIMHASH_MAX_TEXT)

/* Is the white-space-delimited token @t (@n bytes) a link: "scheme://...",
 * "www....", or a host and path ("t.ly/x", "evil[.]com/x")? */
static bool link_token(const char *t, size_t n)
{
    if (n >= 4 && (t[0] | 32) == 'w' && (t[1] | 32) == 'w' && (t[2] | 32) == 'w' && t[3] == '.') {
        return true;
    }
    const char *slash = memchr(t, '/', n);
    if (slash == NULL) {
        return false;
    }
    return (slash > t && slash[-1] == ':') || memchr(t, '.', n) != NULL;
}

/* The first WAVE_WORDS_MAX bytes of the body without their links, tokens
 * joined by one space, into @out (WAVE_WORDS_MAX bytes); its length, and
 * *@dropped whether a link was dropped (if not, the caller fingerprints the
 * body itself, or reuses the parser's fingerprint of it). Text clusters
 * compare the words around the links: texts that are a short line and a link
 * ("the talk from yesterday https://...", many people sharing videos) are
 * near-duplicates only through the link's host and path, which the link
 * cluster and its popular-page rule handle; a wave's pitch is in its words. */
static size_t strip_links(const char *body, size_t len, char *out, bool *dropped)
{
    size_t o = 0, in = len > WAVE_WORDS_MAX ? WAVE_WORDS_MAX : len;
    for (size_t i = 0; i < in;) {
        size_t j = i;
        while (j < in && body[j] != ' ' && body[j] != '\n' && body[j] != '\t') {
            j++;
        }
        if (j > i) {
            if (link_token(body + i, j - i)) {
                *dropped = true;
            } else {
                if (o > 0) {
                    out[o++] = ' ';
                }
                memcpy(out + o, body + i, j - i); /* o + (j - i) <= j <= in */
                o += j - i;
            }
        }
        i = j + 1;
    }
    return o;
}

static bool defanged(const char *body, size_t len)
{
    if (len <= 4) {
        return false;
    }
    /* every form has its '.' at i + 1 for some i in 1..len-4: memchr to each */
    for (const char *q = body + 2; q < body + len - 2; q++) {
        q = memchr(q, '.', (size_t)(body + len - 2 - q));
        if (q == NULL) {
            break;
        }
        size_t i = (size_t)(q - body) - 1;
        char a = body[i], c = body[i + 2];
        if ((a == '[' && c == ']') || (a == '(' && c == ')')) {
            return true;
        }
        if (a == ' ' && c == ' ' && body[i - 1] != ' ' && body[i - 1] != '.') {
            /* "cutt . ly/x": a short word, then '/' before the next space */
            for (size_t j = i + 3; j < len && j < i + 12 && body[j] != ' '; j++) {
                if (body[j] == '/') {
                    return true;
                }
            }
        }
    }
    return false;
}

/* The live cluster of kind @link matching @fp (text: within @dist bits), or a
 * slot to open one (NULL when @open is false and none matches). */
static struct wave_cluster *cluster_find(struct wave_local *l, uint64_t fp, bool link,
                                         unsigned dist, uint32_t now, uint32_t window_s, bool open)
{
    struct wave_cluster *victim = NULL;
    bool v_empty = false; /* victim != NULL && victim->id == 0 */
    uint32_t v_last = 0;  /* victim->last_s (the scan writes no cluster) */
    for (size_t i = 0; i < l->n_used; i++) {
        struct wave_cluster *c = &l->cl[i];
        uint32_t id = c->id;
        bool live = id != 0 && now - c->first_s <= window_s;
        if (live && c->link == link &&
            (link ? c->fp == fp : sw_simhash_distance(c->fp, fp) <= dist)) {
            return c;
        }
        if (!live) {
            if (!v_empty) {
                victim = c;
                v_empty = id == 0;
                v_last = c->last_s;
            }
        } else if (victim == NULL || (!v_empty && c->last_s < v_last)) {
            victim = c;
            v_empty = false;
            v_last = c->last_s;
        }
    }
    if (!open) {
        return NULL;
    }
    if ((victim == NULL || victim->id != 0) && l->n_used < l->n_cl) {
        victim = &l->cl[l->n_used++]; /* a slot never used yet */
    }
    if (victim == NULL) {
        return NULL;
    }
    memset(victim, 0, sizeof(*victim));
    memset(&l->tl[victim - l->cl], 0, sizeof(l->tl[0]));
    victim->fp = fp;
    victim->link = link;
    victim->first_s = now;
    victim->last_s = now;
    victim->id = ++l->next_id ? l->next_id : ++l->next_id;
    return victim;
}

/* wave.account for @jid (an earlier post first seen at @t_ms), or for the
 * current event's sender when @jid is NULL. */
static void emit_account(const struct wave_cluster *c, const struct wave_tally *t,
                         const struct sw_event *ev, const char *jid, int64_t t_ms,
                         struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    struct sw_hit h;
    sw_hit_init(&h, WAVE_NAME, "wave.account", WAVE_KIND, ev);
    if (jid != NULL) {
        sw_hit_set_offender(&h, SW_OFFENDER_ACCOUNT, jid, strlen(jid));
        /* the event is the current sender's: its text, target and stanza id
         * are no evidence against this one (swgen seed 7132: an earlier
         * sender's incident named the current sender's victim as its target) */
        h.body[0] = '\0';
        h.target[0] = '\0';
        h.stanza_id[0] = '\0';
    }
    h.first_ms = t_ms < ev->t_ms ? t_ms : ev->t_ms;
    sw_hit_add_value(&h, "senders", t->weighted);
    sw_hit_add_value(&h, "established", t->established);
    sw_hit_add_value(&h, "link_cluster", c->link);
    sw_hit_emit(out, &h);
    st->hits++;
}

static bool member_add(struct wave_tally *t, uint64_t sender)
{
    uint32_t tag = (uint32_t)(sender >> 32) | 1u;
    unsigned n = t->n_members < WAVE_MEMBERS ? t->n_members : WAVE_MEMBERS;
    for (unsigned i = 0; i < n; i++) {
        if (t->member[i] == tag) {
            return false;
        }
    }
    t->member[t->n_members % WAVE_MEMBERS] = tag;
    t->n_members++;
    return true;
}

static void dom_add(struct wave_tally *t, uint64_t domain)
{
    uint32_t tag = (uint32_t)(domain >> 32) | 1u;
    unsigned least = 0;
    for (unsigned i = 0; i < WAVE_DOMS; i++) {
        if (t->dom[i] == tag) {
            t->domn[i]++;
            return;
        }
        if (t->domn[i] < t->domn[least]) {
            least = i;
        }
    }
    t->dom[least] = tag;
    t->domn[least] = 1;
}

static bool fires(const struct sw_wave_settings *s, const struct wave_tally *t)
{
    unsigned total = (unsigned)t->weighted + t->established;
    return t->units >= 2 * s->min_senders &&
           (uint64_t)t->established * 100 <= (uint64_t)s->max_established_pct * total;
}

/* Domain roll-up for the current event's sender domain. */
static void maybe_domain(const struct wave_shared *sh, struct wave_local *l, struct wave_cluster *c,
                         const struct sw_event *ev, struct sw_hit_sink *out,
                         struct sw_detector_stats *st)
{
    const struct wave_tally *t = &l->tl[c - l->cl];
    const struct sw_table_entry *de =
        sw_table_find(l->t, sw_table_key2(ev->from.domain, 0x646f6d61696eull));
    if (de != NULL && de->user >= WAVE_POPULATED) {
        return; /* established accounts of this domain write here: a real server */
    }
    uint32_t tag = (uint32_t)(ev->from.domain >> 32) | 1u;
    for (unsigned i = 0; i < WAVE_DOMS; i++) {
        if (t->dom[i] != tag || (c->dom_fired & (1u << i)) != 0) {
            continue;
        }
        if (t->domn[i] >= sh->s.domain_min &&
            (uint64_t)t->domn[i] * 100 >= (uint64_t)sh->s.domain_share_pct * t->weighted) {
            struct sw_hit h;
            sw_hit_init(&h, WAVE_NAME, "wave.domain", WAVE_KIND, ev);
            sw_hit_set_offender(&h, SW_OFFENDER_DOMAIN, ev->from.text + ev->from.domain_off,
                                ev->from.domain_len);
            h.first_ms = (int64_t)c->first_s * 1000;
            if (h.first_ms > ev->t_ms) {
                h.first_ms = ev->t_ms;
            }
            sw_hit_add_value(&h, "senders", t->weighted);
            sw_hit_add_value(&h, "domain_senders", t->domn[i]);
            sw_hit_emit(out, &h);
            st->hits++;
            c->dom_fired = (uint8_t)(c->dom_fired | (1u << i));
        }
    }
}

/* Add one message to cluster @c; @w: the sender's weight in halves (0: an
 * established account or a reply). */
static void cluster_add(const struct wave_shared *sh, struct wave_local *l, struct wave_cluster *c,
                        unsigned w, uint32_t now, const struct sw_event *ev,
                        struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    struct wave_tally *t = &l->tl[c - l->cl];
    c->last_s = now;
    if (!member_add(t, ev->from.bare)) {
        if (w && c->fired) {
            maybe_domain(sh, l, c, ev, out, st);
        }
        return;
    }
    if (!w) {
        t->established++;
        return;
    }
    t->weighted++;
    t->units = (uint16_t)(t->units + w);
    dom_add(t, ev->from.domain);
    if (!c->fired && fires(&sh->s, t)) {
        c->fired = 1;
        /* name the earlier weighted senders of this cluster (each once) */
        uint64_t named[64];
        unsigned n_named = 0;
        for (size_t k = 0; k < l->n_post; k++) {
            const struct wave_post *p = &l->post[(l->post_next + k) % l->n_post]; /* oldest first */
            if ((p->cluster[0] != c->id && p->cluster[1] != c->id) || p->jid[0] == '\0' ||
                p->sender == ev->from.bare) {
                continue;
            }
            bool dup = false;
            for (unsigned j = 0; j < n_named && !dup; j++) {
                dup = named[j] == p->sender;
            }
            if (dup) {
                continue;
            }
            if (n_named < 64) {
                named[n_named++] = p->sender;
            }
            emit_account(c, t, ev, p->jid, p->t_ms, out, st);
        }
        emit_account(c, t, ev, NULL, ev->t_ms, out, st);
    } else if (c->fired) {
        emit_account(c, t, ev, NULL, ev->t_ms, out, st);
    }
    if (c->fired) {
        maybe_domain(sh, l, c, ev, out, st);
    }
}

static void wave_process(const void *shared, void *local, const struct sw_event *ev,
                         struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct wave_shared *sh = shared;
    const struct sw_wave_settings *s = &sh->s;
    struct wave_local *l = local;
    st->events++;
    if (wave_key(ev) == 0) {
        return;
    }
    /* One clock for both tables: their bases are set by the same first call
     * (here or in wave_expire, which also stamps both), so they are equal and
     * the pairs table's needs setting only once. */
    uint32_t now = sw_table_now(l->t, ev->t_ms);
    if (l->start_s == 0) {
        (void)sw_table_now(l->pairs, ev->t_ms);
        l->start_s = now;
    }
    uint32_t fresh_s = sw_dc_secs(s->fresh), window_s = sw_dc_secs(s->window);

    /* account age as seen in the stream: from the first stanza the account
     * sends here, its room lines and presence too (swgen seed 7132: room
     * regulars all day were young at their first 1:1 message) */
    uint32_t prev;
    struct sw_table_entry *a = sw_table_get(l->t, ev->from.bare, now, &prev, st);
    if (prev == 0) {
        a->user = now;
    }
    if (ev->kind == SW_EV_PRESENCE || (ev->flags & SW_F_MUC_GROUPCHAT) != 0) {
        /* the sender's presence reaches the recipient: a message back from
         * the recipient is no first contact (swgen seed 7132: a regular's
         * first 1:1 message, a shortener link to a contact whose presence it
         * had had for an hour, clustered with a wave's lures and was named) */
        if (ev->kind == SW_EV_PRESENCE && (ev->flags & SW_F_MUC_PRESENCE) == 0) {
            (void)sw_table_get(l->pairs, sw_table_key2(ev->from.bare, ev->to.bare), now, &prev, st);
        }
        return;
    }
    /* young: first seen after the stream's first `fresh`, less than `fresh`
     * ago; unknown age: first seen within the stream's first `fresh` (every
     * account is new when a capture starts), less than `fresh` ago: half */
    uint32_t first = a->user & ~WAVE_CONVERSED;
    bool recent = now - first <= fresh_s;
    bool young = recent && first - l->start_s > fresh_s;
    bool unknown = recent && !young;
    /* did the recipient write to the sender first? */
    bool reply = sw_table_find(l->pairs, sw_table_key2(ev->to.bare, ev->from.bare)) != NULL;
    (void)sw_table_get(l->pairs, sw_table_key2(ev->from.bare, ev->to.bare), now, &prev, st);
    if (reply) {
        a->user |= WAVE_CONVERSED;
    }
    if (ev->body_len == 0) {
        return;
    }
    /* An account of unknown age that answers people who wrote to it is in
     * conversations already: established, not half a wave sender (swgen seed
     * 9208: a regular chatting with a contact since the capture's first
     * minutes shared a shortener link with a stranger, its text clustered with
     * a wave's shortener lures and it was named). A young account stays young:
     * that is what a wave's accounts are. */
    unsigned w = reply ? 0u : young ? 2u : unknown && (a->user & WAVE_CONVERSED) == 0 ? 1u : 0u;
    /* a domain whose established accounts write here is a real, populated
     * server: never rolled up (counted in the account table, own key) */
    uint64_t dk = sw_table_key2(ev->from.domain, 0x646f6d61696eull);
    if (!young) {
        struct sw_table_entry *de = sw_table_get(l->t, dk, now, &prev, st);
        de->user = prev == 0 ? 1u : (de->user < UINT32_MAX ? de->user + 1u : de->user);
    }

    struct wave_cluster *c[2] = {NULL, NULL};
    char host[SW_LINK_MAX];
    size_t hl = sw_link_first(ev->body, ev->body_len, host);
    hl = link_target(host, hl);
    /* Text clusters only for messages that point somewhere (a link, also a
     * defanged one): a wave wants its victims to go somewhere, while
     * near-identical small talk of many new accounts is just small talk. So
     * the SimHash is computed for those only. */
    size_t norm = 0;
    uint64_t fp = 0;
    if ((hl > 0 || defanged(ev->body, ev->body_len)) && ev->body_full >= (uint32_t)s->min_len) {
        /* the words around the links: the links have a cluster of their own */
        char words[WAVE_WORDS_MAX];
        bool dropped = false;
        size_t wl = strip_links(ev->body, ev->body_len, words, &dropped);
        if (!dropped && (ev->flags & SW_F_BODY_FP)) {
            fp = ev->body_fp;
            norm = ev->body_fp_len;
        } else if (!dropped) {
            fp = sw_simhash_text(ev->body, ev->body_len, &norm);
        } else if (wl > 0) {
            fp = sw_simhash_text(words, wl, &norm);
        }
    }
    if (norm >= (size_t)s->min_len) {
        c[0] = cluster_find(l, fp, false, (unsigned)s->simhash_distance, now, window_s, w > 0);
    }
    if (hl > 0) {
        /* hosts that established senders or replies share are popular sites: the
         * account table keeps a count per host under a key of its own */
        uint64_t hh = sw_hash64(host, hl) | 1u;
        uint64_t hk = sw_table_key2(hh, 0x686f7374ull);
        if (!w) {
            struct sw_table_entry *e = sw_table_get(l->t, hk, now, &prev, st);
            e->user = prev == 0 ? 1u : (e->user < UINT32_MAX ? e->user + 1u : e->user);
        } else {
            const struct sw_table_entry *e = sw_table_find(l->t, hk);
            if (e == NULL || e->user < WAVE_POPULAR) {
                c[1] = cluster_find(l, hh, true, 0, now, window_s, true);
            }
        }
    }
    if (w > 0) {
        struct wave_post *p = &l->post[l->post_next];
        l->post_next = (l->post_next + 1) % l->n_post;
        p->sender = ev->from.bare;
        p->domain = ev->from.domain;
        p->seq = ev->seq;
        p->t_ms = ev->t_ms;
        p->cluster[0] = c[0] != NULL ? c[0]->id : 0;
        p->cluster[1] = c[1] != NULL ? c[1]->id : 0;
        size_t bl = (size_t)ev->from.domain_off + ev->from.domain_len;
        if (bl < WAVE_JID && bl <= ev->from.len) {
            memcpy(p->jid, ev->from.text, bl);
            p->jid[bl] = '\0';
        } else {
            p->jid[0] = '\0';
        }
    }
    for (int k = 0; k < 2; k++) {
        if (c[k] != NULL) {
            cluster_add(sh, l, c[k], w, now, ev, out, st);
        }
    }
}

/* The slots wave_process will probe first for @ev (wave_key(ev) != 0, the
 * engine checked): the sender's account and, but for a room line or MUC
 * presence, the pair or the two pairs. Both tables are several MB (the
 * bench capture: 275k keys, 24 MB in use) and these lookups were most of
 * the worker's cache misses. The domain and host keys are few and stay
 * cached. */
static void wave_prefetch(const void *shared, void *local, const struct sw_event *ev)
{
    (void)shared;
    const struct wave_local *l = local;
    sw_table_prefetch(l->t, ev->from.bare);
    if (ev->kind == SW_EV_PRESENCE) {
        if ((ev->flags & SW_F_MUC_PRESENCE) == 0) {
            sw_table_prefetch(l->pairs, sw_table_key2(ev->from.bare, ev->to.bare));
        }
    } else if ((ev->flags & SW_F_MUC_GROUPCHAT) == 0) {
        sw_table_prefetch(l->pairs, sw_table_key2(ev->to.bare, ev->from.bare));
        sw_table_prefetch(l->pairs, sw_table_key2(ev->from.bare, ev->to.bare));
    }
}

static void wave_expire(const void *shared, void *local, int64_t now_ms,
                        struct sw_detector_stats *st)
{
    const struct wave_shared *sh = shared;
    struct wave_local *l = local;
    struct sw_detector_stats tmp = {0};
    uint32_t idle = sw_dc_secs(sh->s.idle);
    sw_table_expire(l->pairs, sw_table_now(l->pairs, now_ms), idle, &tmp);
    sw_table_expire(l->t, sw_table_now(l->t, now_ms), idle, st);
    st->expired += tmp.expired;
    st->keys += tmp.keys;
    st->mem_bytes +=
        tmp.mem_bytes + l->n_cl * WAVE_CLUSTER_BYTES + l->n_post * sizeof(struct wave_post);
}

static const struct sw_detector_symbol wave_symbols[] = {
    {.symbol = "wave.account", .score = 1.0, .group = NULL},
    {.symbol = "wave.domain", .score = 1.0, .group = NULL},
    {.symbol = NULL},
};

const struct sw_detector_ops sw_wave_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = WAVE_NAME,
    .description = "thin spam waves: one text template or link target from many young accounts "
                   "to strangers (cross-sender clusters), rolled up to the domain",
    .symbols = wave_symbols,
    .events = SW_EV_MESSAGE | SW_EV_PRESENCE,
    .shard = SW_SHARD_SENDER,
    .key = wave_key,
    .schema = schema,
    .settings_size = sizeof(struct sw_wave_settings),
    .setup = wave_setup,
    .thread_init = wave_thread_init,
    .process = wave_process,
    .prefetch = wave_prefetch,
    .expire = wave_expire,
    .thread_reload = wave_thread_reload,
    .thread_fini = wave_thread_fini,
    .teardown = sw_dc_teardown,
};
