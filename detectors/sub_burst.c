/*
 * sub_burst.c - subscription spam in bursts: many presence type='subscribe'
 * to distinct targets within a minute, from one account ("sub_burst",
 * sharded by SENDER) or from the accounts of one domain ("sub_burst_domain",
 * sharded by SENDER_DOMAIN; offender_kind domain).
 *
 * Per key: a window opened by the first subscribe and closed `window` later
 * (tumbling, activity-started, so a burst never straddles a boundary) and the
 * distinct targets in it as exact-set-then-HLL counters (distinct.h; fan-out
 * copies of one subscribe count once because the target is the same), and
 * for accounts the current run of new targets each asked within run_gap of
 * the previous one (a fast burst hits at run_targets without waiting for
 * min_targets; a person adding contacts by hand pauses longer). For
 * domains also the distinct subscribing accounts and, for the first 32 of
 * them exactly, the new targets each asked and whether the account was fresh
 * (account age as seen in the stream: not seen sending anything from this domain
 * in the activity windows of the last 30 to 60 minutes before the current one; per
 * domain Bloom filters, see struct sbd_entry, kept while the domain is seen at least
 * once per `idle`: a quiet domain's accounts are all fresh, as in a young domain;
 * only fresh accounts count towards min_accounts: a farm's accounts show up to
 * burst, while a server's slow spammer and its users adding a contact each were
 * online before). A hit when the distinct targets reach
 * min_targets (domains: and at least min_accounts fresh accounts each asked
 * min_targets_per_account targets or more, and those are at least
 * min_share_pct of the domain's subscribing accounts: a farm's accounts all
 * burst, while a big domain's users each add a contact and a spammer of its
 * own is one account; and the subscribing accounts are at least
 * min_share_pct of the domain's active accounts: every account seen sending
 * a message or presence in the current `window` or, if more, the previous
 * one; a peer server whose users keep chatting is not a farm even when a
 * handful of its accounts spam at once; and no single account asked more than
 * max_account_pct of the targets: a farm's accounts share the work), then
 * once per cooldown. A young domain (first seen, within `idle`, in the
 * current window; every active account of it subscribed; none active the
 * window before) needs only min_targets_new targets: a farm shows up only to
 * subscribe to strangers, a server with users is seen chatting first (after
 * a restart every domain is new again: a peer whose only traffic in that
 * first window is 4 of its accounts asking 4 strangers would be reported;
 * a busy server is not young: its active users outnumber its subscribers).
 * An account's burst is half a signal (weight 0.5) when it crosses and a full one once `grace` has
 * passed without approvals (subscribed) from answered_pct of its targets, or with more refusals
 * (unsubscribed) than approvals (a contact import: the contacts accept and
 * subscribe back; strangers refuse or ignore); a refusal (SB_REFUSED) before
 * any approval ends the grace at once; the check runs on the requester's next stanza, the
 * next answer to it (the key hook routes answers to the requester's worker) or, at the latest,
 * on stream time: each crossing is queued (key, crossing second, the requester's bare JID) in a
 * FIFO ordered by crossing time (the grace is one constant), and timer() settles the queue's
 * due head at each tick, so a requester that bursts and falls silent is reported `grace` after
 * crossing. Domains listed in exempt_domains never hit, nor (exempt_muc_hosts) a domain whose
 * own users were seen talking in a room hosted at that domain or a subdomain of it (a real server
 * with users and a MUC service; learned from the domain's own groupchat messages, which this
 * domain-sharded detector sees). Kind "subscription-spam".
 *
 * Memory (sub_burst): max_memory covers the table and the due FIFO. The FIFO
 * gets max_memory / SB_DUE_SHARE (the table the rest): slots for one crossing
 * per SB_DUE_SLOT_BYTES of it, and the remainder for the requesters' JID
 * copies. A crossing that finds no free slot or no room for its JID is not
 * queued (counted in evictions: that burst still settles on its requester's
 * next stanza or answer, only not on stream time alone).
 *
 * Threading: shared = settings copy (+ hashed exempt list); local = table and
 * (sub_burst) the due FIFO, whose JID copies the local owns (sb_thread_fini
 * frees them; one malloc per crossing, rare).
 */
#include "sw/detector.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dcommon.h"
#include "distinct.h"
#include "table.h"

struct sw_sub_burst_settings {
    bool enabled;
    int64_t max_memory, idle, cooldown;
    int64_t window, min_targets, run_gap, run_targets, grace, answered_pct;
};

struct sw_sub_burst_domain_settings {
    bool enabled;
    int64_t max_memory, idle, cooldown;
    int64_t window, min_targets, min_accounts, min_targets_per_account, min_share_pct;
    int64_t max_account_pct, min_targets_new;
    struct sw_conf_strlist exempt_domains;
    bool exempt_muc_hosts;
};

#define SW_DC_S struct sw_sub_burst_settings
static const struct sw_conf_item schema[] = {
    SW_DC_COMMON_ITEMS("32MB", "15m", "10m"),
    SW_DC_DUR("window", window, 1000, 86400000, "60s",
              "burst window, opened by an account's first subscribe"),
    SW_DC_INT("min_targets", min_targets, 2, 1000000, "12",
              "distinct accounts one account asks to subscribe to within window"),
    SW_DC_DUR("run_gap", run_gap, 100, 60000, "3s",
              "a pause longer than this between two new targets ends a run"),
    SW_DC_INT("run_targets", run_targets, 2, 1000000, "8",
              "new targets in one run (each asked within run_gap of the previous) that hit "
              "before min_targets is reached (a fast burst; people adding contacts by hand "
              "pause longer)"),
    SW_DC_DUR("grace", grace, 0, 3600000, "60s",
              "a burst is a half signal until this long after it crossed; then, unless "
              "answered_pct of its targets approved (subscribed) and approvals outnumber "
              "refusals (a contact import), a full one. 0 = full at once"),
    SW_DC_INT("answered_pct", answered_pct, 1, 100, "10",
              "approvals, as a percentage of the targets asked so far, that make it a contact "
              "import (a spammer's late approval or two does not)"),
    SW_CONF_END,
};
#undef SW_DC_S

#define SW_DC_S struct sw_sub_burst_domain_settings
static const struct sw_conf_item schema_domain[] = {
    SW_DC_COMMON_ITEMS("8MB", "5m", "10m"),
    SW_DC_DUR("window", window, 1000, 86400000, "60s",
              "burst window, opened by a domain's first subscribe"),
    SW_DC_INT("min_targets", min_targets, 2, 1000000, "6",
              "distinct accounts the accounts of one domain ask to subscribe to within window"),
    SW_DC_INT("min_accounts", min_accounts, 1, 32, "3",
              "fresh sending accounts of that domain (not seen here in the 30-60 minutes "
              "before) that each asked min_targets_per_account targets or more, needed too "
              "(at most 32)"),
    SW_DC_INT("min_targets_per_account", min_targets_per_account, 1, 1000, "1",
              "targets an account must ask to count towards min_accounts (a big domain "
              "whose users add a contact each, plus one spammer, is not a spam farm)"),
    SW_DC_INT("min_share_pct", min_share_pct, 0, 100, "50",
              "and those accounts must be at least this percentage of the domain's "
              "subscribing accounts in the window (a farm's accounts all burst), and the "
              "subscribing accounts this percentage of its active accounts (any message or "
              "presence in this window or the one before: a busy peer server is no farm)"),
    SW_DC_INT("max_account_pct", max_account_pct, 1, 100, "40",
              "and no single account asked more than this percentage of the targets (a "
              "farm's accounts share the work; one spammer among users adding a contact "
              "each is sub_burst's case)"),
    SW_DC_INT("min_targets_new", min_targets_new, 2, 1000000, "4",
              "min_targets for a domain first seen in the current window whose every active "
              "account subscribed (it shows up only to subscribe to strangers: a farm's first "
              "minute; a server with users is seen doing other things first)"),
    SW_DC_STRLIST("exempt_domains", exempt_domains,
                  "domains never reported (your own server and its big neighbours)"),
    SW_DC_BOOL("exempt_muc_hosts", exempt_muc_hosts, "true",
               "never report a domain whose users talk in rooms it hosts (users of "
               "example.org in rooms at conference.example.org)"),
    SW_CONF_END,
};
#undef SW_DC_S

struct sb_entry {
    struct sw_table_entry h; /* user: last hit seconds */
    uint32_t start_s;
    uint32_t run_ms; /* low 32 bits of the event ms of the run's last new target; while
                      * SB_PENDING: the table seconds the burst crossed */
    struct sw_distinct32 targets;
    uint16_t run;     /* new targets in the current run; while SB_PENDING: targets at crossing */
    uint8_t answered; /* approvals (subscribed) received while SB_PENDING */
    uint8_t state;    /* bit 0: SB_PENDING; bits 1..7: refusals (unsubscribed) while pending */
};
enum { SB_IDLE = 0, SB_PENDING = 1 };
#define SB_REFUSALS(e) ((unsigned)(e)->state >> 1)
#define SB_REFUSED 1 /* refusals without an approval that end the grace at once */
_Static_assert(sizeof(struct sb_entry) == 64, "sub_burst entry is 64 bytes");

#define SBD_ACCOUNTS 32
#define SBD_SEEN_WORDS 8 /* 512 bits per filter */
#define SBD_SEEN_AGE_S 1800
struct sbd_entry {
    struct sw_table_entry h;
    uint32_t start_s;
    struct sw_distinct32 targets, accounts;
    uint32_t acc[SBD_ACCOUNTS]; /* account fingerprint << 16 | new targets it asked */
    /* Accounts of the domain seen sending anything (messages, presence),
     * tumbling windows of `window`: the current one and the previous count. */
    uint32_t act_start_s, act_prev;
    struct sw_distinct32 active;
    uint32_t first_s; /* table seconds the domain was first seen (entry created) */
    /* Account age as seen in the stream, per domain: Bloom filters (SBD_SEEN_WORDS
     * words, two bits from the bare JID's hash: seen_bit) of the accounts seen sending
     * anything in the current activity window (seen_cur), folded at each window's end
     * into seen_old, which moves to seen_older every SBD_SEEN_AGE_S. An account in
     * neither is fresh: not seen here in the previous SBD_SEEN_AGE_S to
     * 2 * SBD_SEEN_AGE_S before this window (a farm's accounts show up to burst; a
     * server's users were online before). */
    uint32_t old_start_s;
    uint32_t fresh; /* bit i: acc[i]'s account was fresh at its first subscribe */
    uint64_t seen_cur[SBD_SEEN_WORDS], seen_old[SBD_SEEN_WORDS], seen_older[SBD_SEEN_WORDS];
};

struct sb_shared {
    struct sw_dc_shared dc;
    struct sw_sub_burst_settings s;
    struct sw_sub_burst_domain_settings d;
    uint64_t *exempt;
    size_t n_exempt;
    int domain;
};

/* A pending burst waiting for its grace to end (sub_burst only). */
struct sb_due {
    uint64_t key;     /* the requester's table key (bare JID hash) */
    uint32_t cross_s; /* table seconds of the crossing (the entry's run_ms while pending) */
    uint32_t len;
    char *jid; /* the requester's bare JID (owned), NULL when out of memory */
};
#define SB_DUE_SHARE 16       /* the due FIFO's part of max_memory: 1/16 */
#define SB_DUE_SLOT_BYTES 128 /* FIFO budget per queued crossing: its slot and a JID copy */
#define SB_DUE_MIN 16
#define SB_DUE_CAP 65536

#define SB_LEARNED 64
struct sb_local {
    SW_DC_LOCAL_HEAD; /* t: the table */
    /* Domains whose users talk in rooms the domain itself hosts (a.test
     * users in rooms.a.test): servers with their own users and MUC service,
     * not spam farms. Fixed size; when full, the oldest is overwritten. */
    uint64_t learned[SB_LEARNED];
    unsigned n_learned, next_learned;
    size_t pending; /* sub_burst: entries in SB_PENDING (an evicted one is counted until the
                     * table forgets it: only a hint that skips lookups when 0) */
    /* sub_burst: crossings in time order, a ring of due_cap (NULL for the domain detector) */
    struct sb_due *due;
    unsigned due_cap, due_head, due_n;
    size_t due_jid_bytes, due_jid_max; /* bytes of JID copies held / allowed */
};

static int sb_setup_common(const void *settings, void **shared, struct sw_errbuf *eb, int domain)
{
    const struct sw_sub_burst_settings *ss = settings;
    const struct sw_sub_burst_domain_settings *ds = settings;
    struct sb_shared *sh =
        domain ? sw_dc_shared_new(sizeof(*sh), sizeof(struct sb_local), sizeof(struct sbd_entry),
                                  ds->max_memory, ds->idle)
               : sw_dc_shared_new(sizeof(*sh), sizeof(struct sb_local), sizeof(struct sb_entry),
                                  ss->max_memory, ss->idle);
    if (sh == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "sub_burst: out of memory");
    }
    sh->domain = domain;
    if (domain) {
        sh->d = *ds;
        size_t n = sh->d.exempt_domains.n;
        if (n > 0) {
            sh->exempt = calloc(n, sizeof(uint64_t));
            if (sh->exempt == NULL) {
                free(sh);
                return sw_errbuf_set(eb, SW_ENOMEM, "sub_burst_domain: out of memory");
            }
            for (size_t i = 0; i < n; i++) {
                const char *d = sh->d.exempt_domains.v[i];
                sh->exempt[i] = sw_hash64_lower(d, strlen(d));
            }
            sh->n_exempt = n;
        }
    } else {
        sh->s = *ss;
        sh->dc.table_memory = ss->max_memory - ss->max_memory / SB_DUE_SHARE;
    }
    *shared = sh;
    return 0;
}

static int sb_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    return sb_setup_common(settings, shared, eb, 0);
}

static int sbd_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    return sb_setup_common(settings, shared, eb, 1);
}

static bool is_subscribe(const struct sw_event *ev)
{
    return sw_event_is(ev, SW_EV_PRESENCE, SW_T_SUBSCRIBE) && ev->to.bare != 0 &&
           ev->to.local_len > 0 && !sw_dc_excluded(ev);
}

static bool cooled(uint32_t *last, uint32_t now, int64_t cooldown_ms)
{
    uint32_t cd = sw_dc_secs(cooldown_ms);
    if (*last != 0 && (*last >= now || now - *last < cd)) {
        return false;
    }
    *last = now;
    return true;
}

/* Routing: a subscribe by its sender, an answer (subscribed, unsubscribed)
 * by its recipient, the requester; any other presence or message by its
 * sender (a requester's later traffic ends its grace period). */
static uint64_t sb_key(const struct sw_event *ev)
{
    if (ev->kind == SW_EV_PRESENCE &&
        (ev->type == SW_T_SUBSCRIBED || ev->type == SW_T_UNSUBSCRIBED)) {
        return ev->to.local_len > 0 ? ev->to.bare : 0;
    }
    return ev->from.local_len > 0 ? ev->from.bare : 0;
}

/* @ev: the event at hand, or NULL from timer() (then @off names the requester
 * and @t_ms is the tick's time). */
static void sb_emit(const struct sb_shared *sh, const struct sw_event *ev, int64_t t_ms,
                    const struct sb_entry *e, const struct sw_jid *who, const char *off,
                    size_t off_len, uint32_t n, uint32_t weight_milli, uint32_t now,
                    struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    struct sw_hit h;
    sw_hit_init(&h, "sub_burst", "sub_burst.targets", "subscription-spam", ev);
    if (ev == NULL) {
        h.t_ms = t_ms;
        sw_hit_set_offender(&h, SW_OFFENDER_ACCOUNT, off, off_len);
    } else if (who != &ev->from) {
        char bare[SW_OFFENDER_TEXT];
        size_t blen = sw_jid_copy_bare(bare, sizeof(bare), who);
        sw_hit_set_offender(&h, SW_OFFENDER_ACCOUNT, bare, blen);
        h.target[0] = '\0';
    }
    h.weight_milli = weight_milli;
    h.first_ms = t_ms - (int64_t)(now - e->start_s) * 1000;
    if (h.first_ms > t_ms) {
        h.first_ms = t_ms;
    }
    sw_hit_add_value(&h, "targets", n);
    sw_hit_add_value(&h, "approved", (e->state & SB_PENDING) ? e->answered : 0);
    sw_hit_add_value(&h, "window_s", sh->s.window / 1000);
    sw_hit_emit(out, &h);
    st->hits++;
}

/* A pending burst whose grace is over (at table second @now, stream time
 * @t_ms): a full signal unless answered enough. @ev as for sb_emit. */
static void sb_settle(const struct sb_shared *sh, const struct sw_event *ev, int64_t t_ms,
                      struct sb_entry *e, const struct sw_jid *who, const char *off, size_t off_len,
                      uint32_t now, struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    if ((e->state & SB_PENDING) == 0 || now < e->run_ms ||
        now - e->run_ms < sw_dc_secs(sh->s.grace)) {
        return;
    }
    uint32_t at_cross = e->run;
    unsigned refusals = SB_REFUSALS(e);
    /* the targets asked so far (the window's, when it is still the crossing's) */
    uint32_t asked = sw_distinct_count(&e->targets, sizeof(e->targets));
    if (asked < at_cross) {
        asked = at_cross;
    }
    e->state = SB_IDLE;
    e->run = 0;
    e->run_ms = (uint32_t)t_ms;
    if ((uint64_t)e->answered * 100 >= (uint64_t)sh->s.answered_pct * asked &&
        e->answered > refusals) {
        return; /* its targets approve: a contact import */
    }
    sb_emit(sh, ev, t_ms, e, who, off, off_len, at_cross, 1000, now, out, st);
}

/* Queue a crossing for timer(); a full ring, or no room left for the JID
 * copy, leaves it to traffic (counted in evictions). */
static void sb_due_push(struct sb_local *l, const struct sw_event *ev, uint32_t cross_s,
                        struct sw_detector_stats *st)
{
    char bare[SW_OFFENDER_TEXT];
    size_t len = sw_jid_copy_bare(bare, sizeof(bare), &ev->from);
    if (l->due_n == l->due_cap || len == 0 || l->due_jid_bytes + len + 1 > l->due_jid_max) {
        st->evictions++;
        return;
    }
    struct sb_due *d = &l->due[(l->due_head + l->due_n) % l->due_cap];
    d->key = ev->from.bare;
    d->cross_s = cross_s;
    d->len = (uint32_t)len;
    d->jid = malloc(len + 1);
    if (d->jid != NULL) {
        memcpy(d->jid, bare, len + 1);
        l->due_jid_bytes += len + 1;
    }
    l->due_n++;
}

/* timer(): settle every queued crossing whose grace is over. An entry that
 * traffic settled already, or that crossed again since (its own record is
 * further back), or that the table dropped, is skipped. */
static void sb_timer(const void *shared, void *local, int64_t now_ms, struct sw_hit_sink *out,
                     struct sw_detector_stats *st)
{
    const struct sb_shared *sh = shared;
    struct sb_local *l = local;
    uint32_t now = sw_table_now(l->t, now_ms), grace = sw_dc_secs(sh->s.grace);
    while (l->due_n > 0) {
        struct sb_due *d = &l->due[l->due_head];
        if (now >= d->cross_s && now - d->cross_s < grace) {
            break; /* FIFO: later ones are not due either */
        }
        struct sb_entry *e = sw_table_find(l->t, d->key);
        if (e != NULL && (e->state & SB_PENDING) != 0 && e->run_ms == d->cross_s &&
            d->jid != NULL) {
            sb_settle(sh, NULL, now_ms, e, NULL, d->jid, d->len, now, out, st);
            if ((e->state & SB_PENDING) == 0 && l->pending > 0) {
                l->pending--;
            }
        }
        if (d->jid != NULL) {
            l->due_jid_bytes -= d->len + 1;
            free(d->jid);
            d->jid = NULL;
        }
        l->due_head = (l->due_head + 1) % l->due_cap;
        l->due_n--;
    }
}

static void sb_thread_fini(void *local)
{
    struct sb_local *l = local;
    if (l != NULL && l->due != NULL) {
        for (unsigned i = 0; i < l->due_n; i++) {
            free(l->due[(l->due_head + i) % l->due_cap].jid);
        }
        free(l->due);
    }
    sw_dc_thread_fini(local);
}

/* sub_burst's thread_init: the common table (max_memory less the FIFO's
 * part, see sb_setup_common) and the due FIFO sized from that part. */
static int sb_thread_init(const void *shared, void **local)
{
    const struct sb_shared *sh = shared;
    int rc = sw_dc_thread_init(shared, local);
    if (rc < 0) {
        return rc;
    }
    struct sb_local *l = *local;
    size_t budget = (size_t)(sh->s.max_memory / SB_DUE_SHARE);
    size_t cap = budget / SB_DUE_SLOT_BYTES;
    cap = cap < SB_DUE_MIN ? SB_DUE_MIN : cap > SB_DUE_CAP ? SB_DUE_CAP : cap;
    l->due = calloc(cap, sizeof(struct sb_due));
    if (l->due == NULL) {
        sb_thread_fini(l);
        *local = NULL;
        return SW_ENOMEM;
    }
    l->due_cap = (unsigned)cap;
    l->due_jid_max =
        budget > cap * sizeof(struct sb_due) ? budget - cap * sizeof(struct sb_due) : 0;
    return 0;
}

/* sub_burst's expire: the table's sweep; the memory gauge adds the FIFO. */
static void sb_expire(const void *shared, void *local, int64_t now_ms, struct sw_detector_stats *st)
{
    const struct sb_local *l = local;
    sw_dc_expire(shared, local, now_ms, st);
    st->mem_bytes += l->due_cap * sizeof(struct sb_due) + l->due_jid_bytes;
}

static void sb_process(const void *shared, void *local, const struct sw_event *ev,
                       struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct sb_shared *sh = shared;
    struct sb_local *l = local;
    if (!is_subscribe(ev)) {
        if (l->pending == 0 || sw_dc_excluded(ev)) {
            return; /* nothing waits for an answer on this worker */
        }
        bool answer = ev->kind == SW_EV_PRESENCE &&
                      (ev->type == SW_T_SUBSCRIBED || ev->type == SW_T_UNSUBSCRIBED);
        const struct sw_jid *who = answer ? &ev->to : &ev->from;
        struct sb_entry *e = sw_table_find(l->t, who->bare);
        if (e == NULL || (e->state & SB_PENDING) == 0) {
            return;
        }
        st->events++;
        uint32_t now = sw_table_now(l->t, ev->t_ms);
        uint32_t prev;
        e = sw_table_get(l->t, who->bare, now, &prev, st); /* keep a pending burst alive */
        if (answer && ev->type == SW_T_SUBSCRIBED && e->answered < UINT8_MAX) {
            e->answered++;
        } else if (answer && SB_REFUSALS(e) < 127) {
            e->state = (uint8_t)(e->state + 2u);
        }
        if (answer && e->answered == 0 && SB_REFUSALS(e) >= SB_REFUSED) {
            /* strangers refuse, contacts approve or say nothing: no need to wait */
            uint32_t at_cross = e->run;
            e->state = SB_IDLE;
            e->run = 0;
            e->run_ms = (uint32_t)ev->t_ms;
            sb_emit(sh, ev, ev->t_ms, e, who, NULL, 0, at_cross, 1000, now, out, st);
        }
        sb_settle(sh, ev, ev->t_ms, e, who, NULL, 0, now, out, st);
        if ((e->state & SB_PENDING) == 0) {
            l->pending--;
        }
        return;
    }
    st->events++;
    uint32_t now = sw_table_now(l->t, ev->t_ms);
    uint32_t prev;
    struct sb_entry *e = sw_table_get(l->t, ev->from.bare, now, &prev, st);
    if (e->start_s == 0 || (now > e->start_s && now - e->start_s >= sw_dc_secs(sh->s.window))) {
        e->start_s = now;
        sw_distinct_init(&e->targets, sizeof(e->targets));
    }
    if (e->state & SB_PENDING) {
        sb_settle(sh, ev, ev->t_ms, e, &ev->from, NULL, 0, now, out, st);
        if ((e->state & SB_PENDING) == 0) {
            l->pending--;
        }
        sw_distinct_add(&e->targets, sizeof(e->targets), ev->to.bare);
        return;
    }
    if (!sw_distinct_add(&e->targets, sizeof(e->targets), ev->to.bare)) {
        return;
    }
    /* Run of new targets close together (the window keeps them < 2^32 ms
     * apart; a backward stamp continues the run). */
    uint32_t tlow = (uint32_t)ev->t_ms;
    uint32_t gap = tlow - e->run_ms;
    e->run = (uint16_t)((e->run != 0 && (gap <= (uint32_t)sh->s.run_gap || gap > 0x80000000u))
                            ? (e->run < UINT16_MAX ? e->run + 1 : e->run)
                            : 1);
    e->run_ms = tlow;
    uint32_t n = sw_distinct_count(&e->targets, sizeof(e->targets));
    if (((int64_t)n < sh->s.min_targets && (int64_t)e->run < sh->s.run_targets) ||
        !cooled(&e->h.user, now, sh->s.cooldown)) {
        return;
    }
    if (sh->s.grace == 0) {
        sb_emit(sh, ev, ev->t_ms, e, &ev->from, NULL, 0, n, 1000, now, out, st);
        return;
    }
    /* half a signal now; the rest when the grace is over and nobody answered */
    sb_emit(sh, ev, ev->t_ms, e, &ev->from, NULL, 0, n, 500, now, out, st);
    e->state = SB_PENDING;
    e->answered = 0;
    e->run = (uint16_t)(n < UINT16_MAX ? n : UINT16_MAX);
    e->run_ms = now;
    l->pending++;
    sb_due_push(l, ev, now, st);
}

static bool learned_has(const struct sb_local *l, uint64_t dom)
{
    for (unsigned i = 0; i < l->n_learned; i++) {
        if (l->learned[i] == dom) {
            return true;
        }
    }
    return false;
}

static void learn(struct sb_local *l, uint64_t dom)
{
    if (dom == 0 || learned_has(l, dom)) {
        return;
    }
    l->learned[l->next_learned] = dom;
    l->next_learned = (l->next_learned + 1) % SB_LEARNED;
    if (l->n_learned < SB_LEARNED) {
        l->n_learned++;
    }
}

/* A groupchat from a user of domain D to a room at D or at a subdomain of D
 * (lobby@conference.example.org from someone@example.org): D hosts a MUC
 * service for its own users. Learned from the sender's own events only, so
 * the result does not depend on which worker saw which message. */
static void learn_muc_host(struct sb_local *l, const struct sw_event *ev)
{
    uint64_t dom = ev->from.domain;
    if (learned_has(l, dom)) {
        return;
    }
    if (ev->to.domain == dom) {
        learn(l, dom);
        return;
    }
    const char *d = ev->to.text + ev->to.domain_off;
    size_t n = ev->to.domain_len;
    const char *dot = memchr(d, '.', n);
    if (dot != NULL && (size_t)(dot - d) + 1 < n) {
        size_t off = (size_t)(dot - d) + 1;
        if (sw_hash64_lower(d + off, n - off) == dom) {
            learn(l, dom);
        }
    }
}

/* The end of an activity window: its accounts join seen_old, which moves to
 * seen_older (and starts empty) once it is SBD_SEEN_AGE_S old. */
static void seen_fold(struct sbd_entry *e, uint32_t now)
{
    if (e->old_start_s == 0) {
        e->old_start_s = now;
    } else if (now - e->old_start_s >= SBD_SEEN_AGE_S) {
        /* older than two ages: nothing of it is recent */
        bool stale = now - e->old_start_s >= 2 * SBD_SEEN_AGE_S;
        for (int i = 0; i < SBD_SEEN_WORDS; i++) {
            e->seen_older[i] = stale ? 0 : e->seen_old[i];
            e->seen_old[i] = 0;
        }
        e->old_start_s = now;
    }
    for (int i = 0; i < SBD_SEEN_WORDS; i++) {
        e->seen_old[i] |= e->seen_cur[i];
        e->seen_cur[i] = 0;
    }
}

/* Bit @k (0 or 1) of the bare JID hash @b in a seen filter: its word, *mask. */
static size_t seen_bit(uint64_t b, int k, uint64_t *mask)
{
    uint64_t h = b >> (32 * k);
    *mask = 1ull << (h & 63);
    return (size_t)((h >> 6) % SBD_SEEN_WORDS);
}

/* Was the account seen here before the current activity window? */
static bool seen_before(const struct sbd_entry *e, uint64_t b)
{
    for (int k = 0; k < 2; k++) {
        uint64_t m;
        size_t w = seen_bit(b, k, &m);
        if (((e->seen_old[w] | e->seen_older[w]) & m) == 0) {
            return false;
        }
    }
    return true;
}

/* Count the sender among its domain's active accounts (any message or
 * presence). A big server's users keep talking while a few of them
 * subscribe; a farm's accounts only show up to burst. */
static struct sbd_entry *sbd_active(const struct sb_shared *sh, struct sb_local *l,
                                    const struct sw_event *ev, uint32_t now,
                                    struct sw_detector_stats *st)
{
    uint32_t prev;
    struct sbd_entry *e = sw_table_get(l->t, ev->from.domain, now, &prev, st);
    if (prev == 0) {
        e->first_s = now;
    }
    uint32_t w = sw_dc_secs(sh->d.window);
    if (e->act_start_s == 0 || (now > e->act_start_s && now - e->act_start_s >= w)) {
        e->act_prev = (e->act_start_s != 0 && now - e->act_start_s < 2 * w)
                          ? sw_distinct_count(&e->active, sizeof(e->active))
                          : 0;
        e->act_start_s = now;
        sw_distinct_init(&e->active, sizeof(e->active));
        seen_fold(e, now);
    }
    sw_distinct_add(&e->active, sizeof(e->active), ev->from.bare);
    for (int k = 0; k < 2; k++) {
        uint64_t m;
        e->seen_cur[seen_bit(ev->from.bare, k, &m)] |= m;
    }
    return e;
}

static void sbd_process(const void *shared, void *local, const struct sw_event *ev,
                        struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct sb_shared *sh = shared;
    struct sb_local *l = local;
    bool sub = is_subscribe(ev);
    if (ev->from.domain == 0 || ev->from.local_len == 0 || (!sub && sw_dc_excluded(ev))) {
        return;
    }
    if (ev->kind == SW_EV_MESSAGE && sh->d.exempt_muc_hosts &&
        (ev->flags & SW_F_MUC_GROUPCHAT) != 0 && ev->to.domain != 0) {
        learn_muc_host(l, ev);
    }
    if (!sub) {
        sbd_active(sh, l, ev, sw_table_now(l->t, ev->t_ms), st);
        return;
    }
    for (size_t i = 0; i < sh->n_exempt; i++) {
        if (sh->exempt[i] == ev->from.domain) {
            return;
        }
    }
    if (sh->d.exempt_muc_hosts && learned_has(l, ev->from.domain)) {
        return;
    }
    st->events++;
    uint32_t now = sw_table_now(l->t, ev->t_ms);
    struct sbd_entry *e = sbd_active(sh, l, ev, now, st);
    if (e->start_s == 0 || (now > e->start_s && now - e->start_s >= sw_dc_secs(sh->d.window))) {
        e->start_s = now;
        sw_distinct_init(&e->targets, sizeof(e->targets));
        sw_distinct_init(&e->accounts, sizeof(e->accounts));
        memset(e->acc, 0, sizeof(e->acc));
        e->fresh = 0;
    }
    sw_distinct_add(&e->accounts, sizeof(e->accounts), ev->from.bare);
    if (!sw_distinct_add(&e->targets, sizeof(e->targets), ev->to.bare)) {
        return;
    }
    /* Per-account count of new targets, exact for the window's first 32
     * subscribing accounts (later ones only count in `accounts`). */
    uint32_t afp = (uint32_t)(ev->from.bare >> 48) | 1u;
    uint32_t *slot = NULL;
    for (int i = 0; i < SBD_ACCOUNTS; i++) {
        if ((e->acc[i] >> 16) == afp || e->acc[i] == 0) {
            slot = &e->acc[i];
            break;
        }
    }
    if (slot != NULL) {
        if (*slot == 0) {
            *slot = afp << 16;
            if (!seen_before(e, ev->from.bare)) {
                e->fresh |= 1u << (slot - e->acc);
            }
        }
        if ((*slot & 0xFFFFu) < 0xFFFFu) {
            (*slot)++;
        }
    }
    uint32_t n = sw_distinct_count(&e->targets, sizeof(e->targets));
    uint32_t na = 0, amax = 0;
    for (int i = 0; i < SBD_ACCOUNTS; i++) {
        uint32_t c = e->acc[i] & 0xFFFFu;
        /* only fresh accounts count: a farm's; a server's own users were seen before */
        na += (int64_t)c >= sh->d.min_targets_per_account && (e->fresh >> i & 1u) != 0;
        amax = c > amax ? c : amax;
    }
    uint32_t nall = sw_distinct_count(&e->accounts, sizeof(e->accounts));
    uint32_t nact = sw_distinct_count(&e->active, sizeof(e->active));
    if (e->act_prev > nact) {
        nact = e->act_prev;
    }
    /* A domain first seen in this window, all of whose active accounts
     * subscribed, needs fewer targets: it only showed up to do this. */
    bool young = e->first_s >= e->start_s && nall >= nact && e->act_prev == 0;
    int64_t min_targets = young && sh->d.min_targets_new < sh->d.min_targets ? sh->d.min_targets_new
                                                                             : sh->d.min_targets;
    if ((int64_t)n < min_targets || (int64_t)na < sh->d.min_accounts ||
        (int64_t)na * 100 <
            sh->d.min_share_pct * (int64_t)(nall < SBD_ACCOUNTS ? nall : SBD_ACCOUNTS) ||
        (int64_t)nall * 100 < sh->d.min_share_pct * (int64_t)nact ||
        (int64_t)amax * 100 > sh->d.max_account_pct * (int64_t)n ||
        !cooled(&e->h.user, now, sh->d.cooldown)) {
        return;
    }
    struct sw_hit h;
    sw_hit_init(&h, "sub_burst_domain", "sub_burst_domain.targets", "subscription-spam", ev);
    sw_hit_set_offender(&h, SW_OFFENDER_DOMAIN, ev->from.text + ev->from.domain_off,
                        ev->from.domain_len);
    h.first_ms = ev->t_ms - (int64_t)(now - e->start_s) * 1000;
    sw_hit_add_value(&h, "targets", n);
    sw_hit_add_value(&h, "accounts", na);
    sw_hit_add_value(&h, "active", nact);
    sw_hit_add_value(&h, "window_s", sh->d.window / 1000);
    sw_hit_emit(out, &h);
    st->hits++;
}

static void sb_teardown(void *shared)
{
    struct sb_shared *sh = shared;
    if (sh != NULL) {
        free(sh->exempt);
        free(sh);
    }
}

static const struct sw_detector_symbol sb_symbols[] = {
    {.symbol = "sub_burst.targets", .score = 1.0},
    {.symbol = NULL},
};

const struct sw_detector_ops sw_sub_burst_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "sub_burst",
    .description = "one account sending subscription requests to many accounts in a minute",
    .symbols = sb_symbols,
    .events = SW_EV_PRESENCE | SW_EV_MESSAGE,
    .shard = SW_SHARD_SENDER,
    .key = sb_key,
    .schema = schema,
    .settings_size = sizeof(struct sw_sub_burst_settings),
    .setup = sb_setup,
    .thread_init = sb_thread_init, /* table + due FIFO, both under max_memory */
    .process = sb_process,
    .expire = sb_expire,
    .timer = sb_timer,                    /* settles graces on stream time */
    .thread_reload = sw_dc_thread_reload, /* keeps every window unless max_memory changed */
    .thread_fini = sb_thread_fini,
    .teardown = sb_teardown,
};

static const struct sw_detector_symbol sbd_symbols[] = {
    {.symbol = "sub_burst_domain.targets", .score = 1.0},
    {.symbol = NULL},
};

const struct sw_detector_ops sw_sub_burst_domain_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = "sub_burst_domain",
    .description = "the accounts of one domain sending subscription requests to many accounts",
    .symbols = sbd_symbols,
    .events = SW_EV_PRESENCE | SW_EV_MESSAGE, /* messages: learning MUC hosts */
    .shard = SW_SHARD_SENDER_DOMAIN,
    .schema = schema_domain,
    .settings_size = sizeof(struct sw_sub_burst_domain_settings),
    .setup = sbd_setup,
    .thread_init = sw_dc_thread_init,
    .process = sbd_process,
    .expire = sw_dc_expire,
    .thread_reload = sw_dc_thread_reload, /* keeps windows and learned MUC hosts */
    .thread_fini = sb_thread_fini,
    .teardown = sb_teardown,
};
