/*
 * share.c - the share side's publishing state: what we published (RTBL
 * entries and feed items, with expiry and offence counts), persisted in
 * share.state_dir; the life cycle of struct sw_share, the aggregator-thread
 * entry point sw_share_incident and the reporter-thread tick. What we consume
 * (lists, XEP-0377 reports) is share_lists.c.
 * Design and threading: see include/sw/share.h. Publishing never talks XMPP
 * here: it renders a pubsub iq payload and hands it to the reporter's durable
 * spool (peer = share.service), keyed "pubsub:<node>:<item>" so that a newer
 * state of an item (publish after publish, retract after publish) supersedes
 * a pending older one.
 *
 * Files (each rewritten whole: temp file, fsync, rename, fsync of the dir):
 *  published.state  "SWSHARE1 <rev>\n" then one tab-separated line per entry;
 *  (source-<name>.list and reports.state: share_lists.c).
 * The files are small (one line per listed offender) and change only when an
 * incident passes a filter or an event arrives, so whole rewrites are fine.
 */
#include "sw/share.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reporter_int.h"
#include "share_int.h"
#include "sw/log.h"

#define STATE_FILE "published.state"
#define STATE_MAGIC "SWSHARE1"
#define SAVE_EVERY_MS 1000

static void save_state_locked(struct sw_share *sh)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        return;
    }
    fprintf(f, "%s %" PRIu32 "\n", STATE_MAGIC, sh->rev);
    for (size_t i = 0; i < sh->n; i++) {
        const struct share_pub *e = &sh->e[i];
        fprintf(f, "%d\t%d\t%" PRIu32 "\t%" PRId64 "\t%" PRId64 "\t%s\t%s\t%s\t%s\n", e->rtbl,
                e->listed, e->offences, e->expires_ms, e->forget_ms, e->node, e->item, e->entity,
                e->last_inc[0] ? e->last_inc : "-");
    }
    if (fclose(f) != 0) {
        free(buf);
        return;
    }
    if (sw_share_write_atomic(sh->s->state_dir, STATE_FILE, buf, len) != 0) {
        sw_log_error("share", "%s/%s: cannot write the published state", sh->s->state_dir,
                     STATE_FILE);
    }
    free(buf);
}

static int grow_pub(struct sw_share *sh)
{
    if (sh->n < sh->cap) {
        return 0;
    }
    size_t cap = sh->cap ? sh->cap * 2 : 64;
    struct share_pub *e = realloc(sh->e, cap * sizeof(*e));
    if (e == NULL) {
        return SW_ENOMEM;
    }
    sh->e = e;
    sh->cap = cap;
    return 0;
}

static int load_state(struct sw_share *sh)
{
    char *b = NULL;
    int rc = sw_share_read_all(sh->s->state_dir, STATE_FILE, &b);
    if (rc == SW_ENOENT) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    char *save = NULL;
    char *line = strtok_r(b, "\n", &save);
    unsigned rev = 0;
    if (line == NULL || sscanf(line, STATE_MAGIC " %u", &rev) != 1) {
        free(b);
        return SW_EPARSE;
    }
    sh->rev = rev;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        char *f[9], *fs = NULL;
        int nf = 0;
        for (char *t = strtok_r(line, "\t", &fs); t && nf < 9; t = strtok_r(NULL, "\t", &fs)) {
            f[nf++] = t;
        }
        if (nf != 9 || grow_pub(sh) != 0) {
            continue;
        }
        struct share_pub *e = &sh->e[sh->n];
        memset(e, 0, sizeof(*e));
        e->rtbl = atoi(f[0]) != 0;
        e->listed = atoi(f[1]) != 0;
        e->offences = (uint32_t)strtoul(f[2], NULL, 10);
        e->expires_ms = strtoll(f[3], NULL, 10);
        e->forget_ms = strtoll(f[4], NULL, 10);
        sw_share_copy(e->node, sizeof(e->node), f[5]);
        sw_share_copy(e->item, sizeof(e->item), f[6]);
        sw_share_copy(e->entity, sizeof(e->entity), f[7]);
        sw_share_copy(e->last_inc, sizeof(e->last_inc), strcmp(f[8], "-") == 0 ? "" : f[8]);
        sh->n++;
    }
    free(b);
    return 0;
}

/* ---- publishing ---- */

static bool in_list(const struct sw_conf_strlist *l, const char *v)
{
    if (l->n == 0) {
        return true;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i], "*") == 0 || (v != NULL && strcmp(l->v[i], v) == 0)) {
            return true;
        }
    }
    return false;
}

static bool node_wants(const struct sw_share_node *n, const struct sw_incident *inc)
{
    const char *okind = inc->offender_kind == SW_OFFENDER_DOMAIN ? "domain" : "account";
    return (double)inc->score_milli / 1000.0 >= n->min_score && in_list(&n->kinds, inc->kind) &&
           in_list(&n->offender_kinds, okind);
}

/* Is @entity (bare JID or domain) on the allow list (itself or its domain)? */
static bool allowed(const struct sw_share_settings *s, const char *entity)
{
    const char *at = strchr(entity, '@');
    for (size_t i = 0; i < s->allow.n; i++) {
        if (strcasecmp(s->allow.v[i], entity) == 0 ||
            (at != NULL && strcasecmp(s->allow.v[i], at + 1) == 0)) {
            return true;
        }
    }
    return false;
}

/* Spool key of a pubsub item: a newer state of the item supersedes a pending one. */
static void item_key(char *dst, size_t cap, const char *node, const char *item)
{
    snprintf(dst, cap, "pubsub:%s:%s", node, item);
}

static int spool_item(struct sw_share *sh, const char *node, const char *item, const char *payload)
{
    char *iq = NULL, key[256];
    size_t len;
    if (sh->spool == NULL) {
        return SW_EINVAL; /* consume-only use without a reporter (tests) */
    }
    int rc = payload ? sw_share_publish_iq(node, item, payload, &iq, &len)
                     : sw_share_retract_iq(node, item, &iq, &len);
    if (rc != 0) {
        return rc;
    }
    item_key(key, sizeof(key), node, item);
    rc = sw_spool_put(sh->spool, sh->s->service, key, ++sh->rev, iq, len);
    free(iq);
    if (rc == 0) {
        sw_share_bump(payload ? &sh->st.published : &sh->st.retracted);
    }
    return rc;
}

static struct share_pub *find_pub(struct sw_share *sh, const char *node, const char *item)
{
    for (size_t i = 0; i < sh->n; i++) {
        if (strcmp(sh->e[i].item, item) == 0 && strcmp(sh->e[i].node, node) == 0) {
            return &sh->e[i];
        }
    }
    return NULL;
}

static struct share_pub *add_pub(struct sw_share *sh, const char *node, const char *item,
                                 const char *entity, bool rtbl)
{
    if (grow_pub(sh) != 0) {
        return NULL;
    }
    struct share_pub *e = &sh->e[sh->n++];
    memset(e, 0, sizeof(*e));
    sw_share_copy(e->node, sizeof(e->node), node);
    sw_share_copy(e->item, sizeof(e->item), item);
    sw_share_copy(e->entity, sizeof(e->entity), entity);
    e->rtbl = rtbl;
    return e;
}

static int64_t listing_ms(const struct sw_share_node *n, uint32_t offences)
{
    int64_t t = n->ttl_ms;
    for (uint32_t i = 1; i < offences && t < n->ttl_max_ms; i++) {
        t *= 2;
    }
    return t < n->ttl_max_ms ? t : n->ttl_max_ms;
}

static int payload_for(struct sw_share *sh, int kind, const struct sw_incident *inc, char **out,
                       size_t *len)
{
    switch (kind) {
    case SW_SHARE_IODEF:
        return sw_iodef_incident(sh->rs, inc, sw_wall_ms(), out, len);
    case SW_SHARE_IODEF2:
        return sw_iodef2_incident(sh->rs, inc, sw_wall_ms(), out, len);
    case SW_SHARE_SUMMARY:
        return sw_share_summary(inc, sh->rs->domain, out, len);
    default:
        return sw_share_xep0377(inc, sh->rs->domain, out, len);
    }
}

static int rtbl_incident(struct sw_share *sh, const struct sw_incident *inc, const char *entity,
                         int64_t now)
{
    const struct sw_share_node *n = &sh->s->rtbl;
    char hash[65];
    if (sw_share_rtbl_hash(entity, hash) != 0) {
        return SW_EINVAL;
    }
    struct share_pub *e = find_pub(sh, n->node, hash);
    if (e == NULL && (e = add_pub(sh, n->node, hash, entity, true)) == NULL) {
        return SW_ENOMEM;
    }
    bool new_offence = strcmp(e->last_inc, inc->id) != 0;
    if (new_offence) {
        e->offences++;
        sw_share_copy(e->last_inc, sizeof(e->last_inc), inc->id);
    }
    int64_t until = now + listing_ms(n, e->offences);
    if (until > e->expires_ms) {
        e->expires_ms = until;
    }
    int rc = 0;
    if (!e->listed || new_offence) {
        char *payload = NULL;
        size_t plen;
        rc = payload_for(sh, n->payload, inc, &payload, &plen);
        if (rc == 0) {
            rc = spool_item(sh, n->node, hash, payload);
            free(payload);
        }
        if (rc == 0) {
            if (!e->listed) {
                sw_log_info("share", "RTBL %s: listed %s (%s) until +%llds, offence %u", n->node,
                            entity, hash, (long long)((e->expires_ms - now) / 1000), e->offences);
            }
            e->listed = true;
        }
    }
    return rc;
}

static int feed_incident(struct sw_share *sh, const struct sw_share_node *n,
                         const struct sw_incident *inc, const char *entity, int64_t now)
{
    struct share_pub *e = find_pub(sh, n->node, inc->id);
    if (inc->status == SW_INC_CLOSED) {
        if (e == NULL || !e->listed || !n->retract_on_close) {
            return 0;
        }
        int rc = spool_item(sh, n->node, inc->id, NULL);
        if (rc == 0) {
            *e = sh->e[--sh->n];
        }
        return rc;
    }
    if (e == NULL && (e = add_pub(sh, n->node, inc->id, entity, false)) == NULL) {
        return SW_ENOMEM;
    }
    sw_share_copy(e->last_inc, sizeof(e->last_inc), inc->id);
    e->offences = 1;
    e->expires_ms = now + n->ttl_ms;
    char *payload = NULL;
    size_t plen;
    int rc = payload_for(sh, n->payload, inc, &payload, &plen);
    if (rc == 0) {
        rc = spool_item(sh, n->node, inc->id, payload);
        free(payload);
    }
    if (rc == 0) {
        e->listed = true;
    }
    return rc;
}

int sw_share_incident(struct sw_share *sh, const struct sw_incident *inc)
{
    return sw_share_incident_at(sh, inc, sw_wall_ms());
}

int sw_share_incident_at(struct sw_share *sh, const struct sw_incident *inc, int64_t now)
{
    char entity[SW_OFFENDER_TEXT];
    sw_share_bare(entity, sizeof(entity), inc->offender);
    if (entity[0] == '\0' || allowed(sh->s, entity)) {
        return 0;
    }
    int rc = 0;
    bool changed = false;
    pthread_mutex_lock(&sh->mu);
    if (sh->s->rtbl.enabled && inc->status != SW_INC_CLOSED && node_wants(&sh->s->rtbl, inc)) {
        rc = rtbl_incident(sh, inc, entity, now);
        changed = true;
    }
    const struct sw_share_node *feeds = sh->s->feeds.items;
    for (size_t i = 0; i < sh->s->feeds.n; i++) {
        if (node_wants(&feeds[i], inc) || inc->status == SW_INC_CLOSED) {
            int e = feed_incident(sh, &feeds[i], inc, entity, now);
            rc = rc ? rc : e;
            changed = true;
        }
    }
    if (changed) {
        save_state_locked(sh);
    }
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

int sw_share_retract_keys(struct sw_share *sh, const char *what, char (*keys)[SW_SHARE_KEY],
                          size_t max_keys, size_t *n_keys)
{
    char entity[SW_OFFENDER_TEXT], hash[65];
    int n = 0;
    size_t nk = 0;
    sw_share_bare(entity, sizeof(entity), what);
    if (sw_share_rtbl_hash(entity, hash) != 0) {
        return SW_EINVAL;
    }
    pthread_mutex_lock(&sh->mu);
    bool rtbl_done = false;
    for (size_t i = 0; i < sh->n;) {
        struct share_pub *e = &sh->e[i];
        if (strcasecmp(e->entity, entity) == 0) {
            if (e->listed && spool_item(sh, e->node, e->item, NULL) == 0) {
                n++;
                if (keys != NULL && nk < max_keys) {
                    item_key(keys[nk++], SW_SHARE_KEY, e->node, e->item);
                }
            }
            rtbl_done |= e->rtbl && strcmp(e->node, sh->s->rtbl.node) == 0;
            *e = sh->e[--sh->n]; /* offences forgotten too */
            continue;
        }
        i++;
    }
    if (!rtbl_done && sh->s->rtbl.enabled && spool_item(sh, sh->s->rtbl.node, hash, NULL) == 0) {
        n++; /* not in our state (lost, or listed by hand): retract anyway */
        if (keys != NULL && nk < max_keys) {
            item_key(keys[nk++], SW_SHARE_KEY, sh->s->rtbl.node, hash);
        }
    }
    save_state_locked(sh);
    pthread_mutex_unlock(&sh->mu);
    sw_log_info("share", "retracted %s (%s): %d item(s)", entity, hash, n);
    if (n_keys != NULL) {
        *n_keys = nk;
    }
    return n;
}

int sw_share_retract(struct sw_share *sh, const char *what)
{
    return sw_share_retract_keys(sh, what, NULL, 0, NULL);
}

bool sw_share_item_pending(struct sw_share *sh, const char *key)
{
    return sh->spool != NULL && sw_spool_has(sh->spool, sh->s->service, key);
}

void sw_share_tick(struct sw_share *sh, int64_t now)
{
    if (now - sh->last_tick_ms < SAVE_EVERY_MS) {
        return;
    }
    sh->last_tick_ms = now;
    bool changed = false;
    pthread_mutex_lock(&sh->mu);
    for (size_t i = 0; i < sh->n;) {
        struct share_pub *e = &sh->e[i];
        if (e->listed && e->expires_ms <= now) {
            if (spool_item(sh, e->node, e->item, NULL) == 0) {
                sw_share_bump(&sh->st.expired);
                sw_log_info("share", "%s: %s (%s) expired after %u offence(s)", e->node, e->entity,
                            e->item, e->offences);
                e->listed = false;
                const struct sw_share_node *n = &sh->s->rtbl;
                e->forget_ms = now + (e->rtbl ? n->ttl_max_ms : 0);
                changed = true;
            }
        }
        if (!e->listed && e->forget_ms <= now) {
            *e = sh->e[--sh->n];
            changed = true;
            continue;
        }
        i++;
    }
    if (changed) {
        save_state_locked(sh);
    }
    pthread_mutex_unlock(&sh->mu);
    pthread_mutex_lock(&sh->src_mu);
    for (size_t i = 0; i < sw_share_n_sources(sh); i++) {
        if (sh->src[i].dirty) {
            sw_share_list_save_locked(sh, i);
        }
    }
    if (sh->reports_dirty) {
        sw_share_reports_save_locked(sh, now);
    }
    pthread_mutex_unlock(&sh->src_mu);
}

/* ---- life cycle ---- */

static bool name_ok(const char *s, bool jid)
{
    if (s == NULL || s[0] == '\0') {
        return false;
    }
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == '\t' || (!jid && c == '/')) {
            return false;
        }
    }
    return true;
}

int sw_share_new(const struct sw_share_settings *s, const struct sw_reporter_settings *rs,
                 struct sw_spool *spool, struct sw_share **out, struct sw_errbuf *eb)
{
    int rc;
    if (!name_ok(s->service, true) || s->state_dir == NULL || s->state_dir[0] == '\0') {
        return sw_errbuf_set(eb, SW_ECONF, "share: service and state_dir are required");
    }
    if (s->rtbl.enabled && !name_ok(s->rtbl.node, false)) {
        return sw_errbuf_set(eb, SW_ECONF, "share.rtbl.node is empty or invalid");
    }
    const struct sw_share_node *feeds = s->feeds.items;
    for (size_t i = 0; i < s->feeds.n; i++) {
        if (!name_ok(feeds[i].node, false) ||
            (s->rtbl.enabled && strcmp(feeds[i].node, s->rtbl.node) == 0)) {
            return sw_errbuf_set(eb, SW_ECONF,
                                 "share.feeds[%zu].node is empty, invalid or the RTBL's", i);
        }
    }
    const struct sw_share_source *srcs = s->sources.items;
    for (size_t i = 0; i < s->sources.n; i++) {
        bool ok = name_ok(srcs[i].service, true) && name_ok(srcs[i].node, false) &&
                  name_ok(srcs[i].name, false);
        for (const char *p = srcs[i].name; ok && *p; p++) {
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '_' || *p == '-';
        }
        if (!ok) {
            return sw_errbuf_set(eb, SW_ECONF,
                                 "share.sources[%zu]: name ([A-Za-z0-9_-]), service and node "
                                 "are required",
                                 i);
        }
    }
    if (mkdir(s->state_dir, 0700) != 0 && errno != EEXIST) {
        return sw_errbuf_set(eb, SW_EIO, "share: state_dir %s: %s", s->state_dir, strerror(errno));
    }
    struct sw_share *sh = calloc(1, sizeof(*sh));
    if (sh == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "share: out of memory");
    }
    sh->s = s;
    sh->rs = rs;
    sh->spool = spool;
    pthread_mutex_init(&sh->mu, NULL);
    pthread_mutex_init(&sh->src_mu, NULL);
    sh->src = calloc(s->sources.n + 1, sizeof(*sh->src));
    atomic_store(&sh->unsynced, (int)s->sources.n);
    if (s->reports_from.n > 0) {
        sh->reports = calloc(SHARE_REPORT_SLOTS, sizeof(*sh->reports));
        if (sh->reports == NULL) {
            rc = sw_errbuf_set(eb, SW_ENOMEM, "share: out of memory");
            goto fail;
        }
    }
    sh->answered = calloc(s->sources.n + 1, sizeof(bool));
    if (sh->answered == NULL) {
        free(sh->src);
        sh->src = NULL;
    }
    if (sh->src == NULL) {
        rc = sw_errbuf_set(eb, SW_ENOMEM, "share: out of memory");
        goto fail;
    }
    if ((rc = load_state(sh)) != 0) {
        rc = sw_errbuf_set(eb, rc, "share: %s/%s: unreadable (%s)", s->state_dir, STATE_FILE,
                           sw_strerror(rc));
        goto fail;
    }
    for (size_t i = 0; i < s->sources.n; i++) {
        sw_share_list_load(sh, i);
    }
    sw_share_reports_load(sh, sw_wall_ms());
    /* the allow list wins over anything listed before it was written */
    for (size_t i = 0; i < sh->n; i++) {
        if (allowed(s, sh->e[i].entity)) {
            char entity[SW_OFFENDER_TEXT];
            sw_share_copy(entity, sizeof(entity), sh->e[i].entity);
            sw_share_retract(sh, entity);
            i = (size_t)-1; /* the array changed: start over */
        }
    }
    *out = sh;
    return 0;
fail:
    sw_share_free(sh);
    return rc;
}

/* One stats line for the log at the end: what was published, each list's size and age. */
static void log_stats(struct sw_share *sh)
{
    struct sw_share_stats st;
    sw_share_get_stats(sh, &st);
    sw_log_info("share",
                "published %llu, retracted %llu, expired %llu, listed now %llu, setup errors "
                "%llu, XEP-0377 reports %llu (refused %llu)",
                (unsigned long long)st.published, (unsigned long long)st.retracted,
                (unsigned long long)st.expired, (unsigned long long)st.listed_now,
                (unsigned long long)st.setup_errors, (unsigned long long)st.reports_in,
                (unsigned long long)st.reports_refused);
    int64_t now = sw_wall_ms();
    for (size_t i = 0; i < sw_share_n_sources(sh); i++) {
        const char *name;
        uint64_t items;
        int64_t synced;
        if (sw_share_source_stats(sh, i, &name, &items, &synced) != 0) {
            continue;
        }
        if (synced > 0) {
            sw_log_info("share", "source %s: %llu entries, last full sync %lld s ago", name,
                        (unsigned long long)items, (long long)((now - synced) / 1000));
        } else {
            sw_log_info("share", "source %s: %llu entries, never synced", name,
                        (unsigned long long)items);
        }
    }
}

void sw_share_free(struct sw_share *sh)
{
    if (sh == NULL) {
        return;
    }
    if (sh->src != NULL) {
        log_stats(sh);
    }
    if (sh->src != NULL) {
        for (size_t i = 0; i < sw_share_n_sources(sh); i++) {
            if (sh->src[i].dirty) {
                sw_share_list_save_locked(sh, i);
            }
            free(sh->src[i].ids);
        }
    }
    if (sh->reports_dirty) {
        sw_share_reports_save_locked(sh, sw_wall_ms());
    }
    free(sh->src);
    free(sh->answered);
    for (size_t i = 0; sh->sync != NULL && i < sh->s->sources.n; i++) {
        free(sh->sync[i].ids);
    }
    free(sh->sync);
    free(sh->reports);
    free(sh->e);
    pthread_mutex_destroy(&sh->mu);
    pthread_mutex_destroy(&sh->src_mu);
    free(sh);
}

uint64_t sw_share_pending(struct sw_share *sh)
{
    int setup = atomic_load(&sh->ready) ? 0 : 1;
    int unsynced = atomic_load(&sh->unsynced);
    return (uint64_t)(setup + (unsynced > 0 ? unsynced : 0));
}

const struct sw_share_settings *sw_share_settings_of(struct sw_share *sh)
{
    return sh->s;
}

void sw_share_count_setup_error(struct sw_share *sh)
{
    sw_share_bump(&sh->st.setup_errors);
}

void sw_share_get_stats(struct sw_share *sh, struct sw_share_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->published = atomic_load(&sh->st.published);
    st->retracted = atomic_load(&sh->st.retracted);
    st->expired = atomic_load(&sh->st.expired);
    st->setup_errors = atomic_load(&sh->st.setup_errors);
    st->reports_in = atomic_load(&sh->st.reports_in);
    st->reports_refused = atomic_load(&sh->st.reports_refused);
    pthread_mutex_lock(&sh->mu);
    for (size_t i = 0; i < sh->n; i++) {
        st->listed_now += sh->e[i].listed;
    }
    pthread_mutex_unlock(&sh->mu);
    pthread_mutex_lock(&sh->src_mu);
    st->n_sources = sw_share_n_sources(sh);
    for (size_t i = 0; i < st->n_sources; i++) {
        st->source_items += sh->src[i].n;
        if (st->oldest_sync_ms == 0 || sh->src[i].synced_ms < st->oldest_sync_ms) {
            st->oldest_sync_ms = sh->src[i].synced_ms;
        }
    }
    pthread_mutex_unlock(&sh->src_mu);
}
