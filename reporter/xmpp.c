/*
 * xmpp.c - the live XEP-0268 reporter: the only libstrophe user.
 *
 * Design: two sides meet at the durable spool (spool.c).
 *  - Aggregator thread: the output's incident() renders the report once
 *    (ReportTime = now) and queues it in the spool once per interested peer;
 *    the spool's writer thread stores it (group commit) before it can be sent,
 *    so detection never waits for the disk. It also keeps a copy of the
 *    incident in a small table so that an inquiry can be answered with a fresh
 *    report, if the inquiring peer's send policy covers the incident.
 *  - Reporter thread (own libstrophe ctx/conn, never touched elsewhere, as the
 *    libstrophe maintainers advise): connects as a XEP-0114 component or as a
 *    client account, reconnects with backoff, sends due spool entries as
 *    <iq type='set'> under a random id, deletes the entry on the result from
 *    the peer it was sent to (a result or error from anyone else, or for an
 *    entry not in flight, is counted and ignored), retries errors/timeouts with
 *    exponential backoff, and handles inbound urn:xmpp:incident:2 requests:
 *      untrusted sender -> <forbidden/> (counted; the warning is rate-limited);
 *      over the peer's rate -> <resource-constraint/>;
 *      unparsable / not exactly one Incident -> <bad-request/>;
 *      report/response -> stored in inbound_dir + JSON Lines, result;
 *      request -> stored, logged for the operator, result, never acted on;
 *      inquiry -> result, then a fresh report via the spool (item-not-found
 *      for an incident we do not know).
 *
 * libstrophe 0.12 workaround: for a component connection,
 * xmpp_connect_client() is called on the same conn right after
 * xmpp_connect_component(); it allocates the stream-management state the
 * component path forgets (SIGSEGV on the first stanza otherwise) and returns
 * XMPP_EINVOP without opening a second connection (found in the XMPP lab).
 *
 * Trust: a sender is a peer only if its bare JID (the whole of it, however
 * long) equals the peer's jid or one of its `senders`, case-insensitively; a
 * peer configured as a domain is never matched by accounts at that domain.
 *
 * Reload: the reporter holds a reference to the config snapshot it runs with.
 * sw_output_ops.reload swaps it under cfg_mu; the aggregator side takes a
 * reference per incident, the reporter thread adopts the new snapshot at the
 * top of its next turn (peers, trust, policies, spool peer list and expiry;
 * connection settings take effect at the next reconnect, spool_dir and
 * inbound_dir need a restart).
 *
 * Inbound size: libstrophe parses a stanza fully before we see it; the size
 * and depth limits are enforced on its serialized text before libxml2 reads
 * it. Prosody's own stanza size limit bounds what reaches us.
 */
#include "sw/reporter.h"

#include <fcntl.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <strophe.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reporter_int.h"
#include "share_int.h"
#include "sw/file.h"
#include "sw/log.h"

#define RECENT_MAX 256    /* incidents remembered for inquiries */
#define SEND_BURST 64     /* spool entries sent per loop turn */
#define MAX_IN_FLIGHT 256 /* unanswered reports at once: a returning peer is not flooded */
#define RUN_ONCE_MS 50    /* libstrophe poll timeout per turn */
#define RECONNECT_MIN_MS 500
#define RECONNECT_MAX_MS 30000
#define WARN_EVERY_MS 10000 /* untrusted/spoofing senders: one warning line per this */

struct peer_state {
    int64_t tokens_milli; /* token bucket, 1000 = one stanza */
    int64_t last_ms;
};

/* Report counters per peer JID (sw_reporter_get_peer_stats), kept by JID so
 * they survive a reload that reorders or replaces peers. Bumped by the
 * aggregator (spooled) and reporter (sent, acked, failed, timeout) threads,
 * read by any: one mutex (reports are rare events; the timeout bump runs under
 * the spool's lock: lock order spool -> pc_mu, never the reverse). Past PEER_COUNT_MAX JIDs more
 * are not counted per peer (the totals still are). */
#define PEER_COUNT_MAX 64
enum { PC_SPOOLED, PC_SENT, PC_ACKED, PC_FAILED, PC_TIMEOUT, PC__N };
struct peer_count {
    char *jid; /* bare, owned */
    uint64_t v[PC__N];
};

struct sw_reporter {
    /* current config: swapped under cfg_mu by reload, read with cfg_get() */
    pthread_mutex_t cfg_mu;
    struct sw_conf *conf; /* referenced; NULL when started from bare settings */
    const struct sw_reporter_settings *s;
    atomic_uint cfg_gen;
    struct sw_spool *spool;
    struct sw_share *share; /* RTBL / feeds / sources (share.c), NULL when not configured */
    pthread_t th;
    bool th_started;
    atomic_int stop;
    atomic_int connected;
    atomic_llong drain_until_ms;
    FILE *_Atomic log;

    /* reporter thread only */
    const struct sw_reporter_settings *ts; /* the thread's view of the config */
    struct sw_conf *tconf;                 /* its reference */
    unsigned tgen;
    size_t n_peer_state;
    int64_t last_untrusted_log_ms;
    uint64_t untrusted_suppressed;
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;
    bool conn_dead;
    int64_t next_connect_ms, reconnect_ms;
    char my_jid[SW_JID_TEXT];
    struct peer_state *peers;
    unsigned inbound_seq; /* disambiguates inbound file names within one ms */
    int64_t last_fail_log_ms;
    uint64_t fail_log_suppressed;

    /* incidents for inquiries: written by the aggregator thread */
    pthread_mutex_t recent_mu;
    struct sw_incident *recent;
    size_t recent_next, recent_n;

    pthread_mutex_t pc_mu;
    struct peer_count pc[PEER_COUNT_MAX];
    size_t n_pc;

    struct {
        atomic_ullong connects, disconnects, sent, acked, errors, timeouts;
        atomic_ullong in_reports, in_inquiries, in_requests, in_responses;
        atomic_ullong in_forbidden, in_rate_limited, in_bad, spool_errors, spoofed;
        atomic_ullong closes_withheld;
    } st;
};

static void bump(atomic_ullong *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* Count @what for the peer whose bare JID starts @jid (a resource is ignored). */
static void peer_bump(struct sw_reporter *r, const char *jid, int what)
{
    if (jid == NULL) {
        return;
    }
    size_t bl = strcspn(jid, "/");
    pthread_mutex_lock(&r->pc_mu);
    size_t i = 0;
    while (i < r->n_pc &&
           !(strlen(r->pc[i].jid) == bl && strncasecmp(r->pc[i].jid, jid, bl) == 0)) {
        i++;
    }
    if (i == r->n_pc && i < PEER_COUNT_MAX && (r->pc[i].jid = strndup(jid, bl)) != NULL) {
        r->n_pc++;
    }
    if (i < r->n_pc) {
        r->pc[i].v[what]++;
    }
    pthread_mutex_unlock(&r->pc_mu);
}

/* ---------------- config ---------------- */

/* Current settings with a reference to their snapshot (*ref, may be NULL);
 * release with sw_conf_free(*ref). Any thread. */
static const struct sw_reporter_settings *cfg_get(struct sw_reporter *r, struct sw_conf **ref)
{
    pthread_mutex_lock(&r->cfg_mu);
    const struct sw_reporter_settings *s = r->s;
    *ref = r->conf;
    if (*ref != NULL) {
        sw_conf_ref(*ref);
    }
    pthread_mutex_unlock(&r->cfg_mu);
    return s;
}

static int check_peers(const struct sw_reporter_settings *s, struct sw_errbuf *eb)
{
    const struct sw_reporter_peer *peers = s->peers.items;
    for (size_t i = 0; i < s->peers.n; i++) {
        if (peers[i].jid == NULL || peers[i].jid[0] == '\0' || strchr(peers[i].jid, '\n') ||
            strchr(peers[i].jid, '/') || strlen(peers[i].jid) >= SW_JID_TEXT) {
            return sw_errbuf_set(eb, SW_ECONF, "reporter.peers[%zu].jid is empty or invalid", i);
        }
    }
    return 0;
}

int sw_reporter_check_conf(const struct sw_conf *c, struct sw_errbuf *eb)
{
    const struct sw_reporter_settings *s = sw_conf_section(c, "reporter");
    return s == NULL ? 0 : check_peers(s, eb);
}

/* Reporter thread: adopt the current config if it changed. */
static void thread_cfg_sync(struct sw_reporter *r)
{
    unsigned g = atomic_load(&r->cfg_gen);
    if (r->ts != NULL && g == r->tgen) {
        return;
    }
    struct sw_conf *old = r->tconf;
    bool first = r->ts == NULL;
    r->ts = cfg_get(r, &r->tconf);
    r->tgen = g;
    sw_conf_free(old);
    const struct sw_reporter_peer *peers = r->ts->peers.items;
    size_t n = r->ts->peers.n;
    struct peer_state *ps = calloc(n + 1, sizeof(*ps));
    if (ps != NULL) {
        free(r->peers);
        r->peers = ps; /* fresh buckets: a reload may reorder or replace peers */
        r->n_peer_state = n;
    }
    /* who the spool may send to: the peers, and the share side's pubsub
     * service (its publishes go through the same spool) */
    const char **jids = calloc(n + 2, sizeof(*jids));
    if (jids != NULL) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            jids[k++] = peers[i].jid;
        }
        if (r->share != NULL && r->share->s->service != NULL && r->share->s->service[0]) {
            jids[k++] = r->share->s->service;
        }
        sw_spool_set_peers(r->spool, jids, k);
        free(jids);
    }
    sw_spool_set_expiry(r->spool, r->ts->spool_expire_ms);
    if (!first) {
        sw_log_info("reporter", "configuration reloaded: %zu peer(s)", n);
    }
}

static int reporter_reload(void *ctx, struct sw_conf *c)
{
    struct sw_reporter *r = ctx;
    struct sw_errbuf eb;
    const struct sw_reporter_settings *s = sw_conf_section(c, "reporter");
    if (s == NULL) {
        return SW_ECONF;
    }
    int rc = check_peers(s, &eb);
    if (rc != 0) {
        sw_log_error("reporter", "reload refused, keeping the running peers: %s", eb.msg);
        return rc;
    }
    if (strcmp(s->spool_dir, r->s->spool_dir) != 0 ||
        strcmp(s->inbound_dir, r->s->inbound_dir) != 0) {
        sw_log_warn("reporter", "spool_dir/inbound_dir changes take effect at restart");
    }
    sw_conf_ref(c);
    pthread_mutex_lock(&r->cfg_mu);
    struct sw_conf *old = r->conf;
    r->conf = c;
    r->s = s;
    atomic_fetch_add(&r->cfg_gen, 1);
    pthread_mutex_unlock(&r->cfg_mu);
    sw_conf_free(old);
    return 0;
}

/* ---------------- aggregator side ---------------- */

static void remember(struct sw_reporter *r, const struct sw_incident *inc)
{
    pthread_mutex_lock(&r->recent_mu);
    for (size_t i = 0; i < r->recent_n; i++) {
        if (strcmp(r->recent[i].id, inc->id) == 0) {
            r->recent[i] = *inc;
            pthread_mutex_unlock(&r->recent_mu);
            return;
        }
    }
    r->recent[r->recent_next] = *inc;
    r->recent_next = (r->recent_next + 1) % RECENT_MAX;
    if (r->recent_n < RECENT_MAX) {
        r->recent_n++;
    }
    pthread_mutex_unlock(&r->recent_mu);
}

static bool recall(struct sw_reporter *r, const char *id, struct sw_incident *out)
{
    bool found = false;
    pthread_mutex_lock(&r->recent_mu);
    for (size_t i = 0; i < r->recent_n; i++) {
        if (strcmp(r->recent[i].id, id) == 0) {
            *out = r->recent[i];
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&r->recent_mu);
    return found;
}

static int reporter_incident(void *ctx, const struct sw_incident *inc)
{
    struct sw_reporter *r = ctx;
    struct sw_conf *ref;
    const struct sw_reporter_settings *s = cfg_get(r, &ref);
    const struct sw_reporter_peer *peers = s->peers.items;
    char *payloads[SW_PEER_NFORMATS] = {NULL}; /* rendered once per format */
    size_t plens[SW_PEER_NFORMATS] = {0};
    int rc = 0;
    remember(r, inc);
    if (inc->status == SW_INC_CLOSED && inc->at_stop) {
        /* closed only because we stop: peers are not told the abuse ended */
        atomic_fetch_add_explicit(&r->st.closes_withheld, 1, memory_order_relaxed);
        sw_conf_free(ref);
        return 0;
    }
    if (r->share != NULL && sw_share_incident(r->share, inc) != 0) {
        bump(&r->st.spool_errors);
    }
    for (size_t i = 0; i < s->peers.n; i++) {
        if (!sw_reporter_peer_wants(s, &peers[i], inc)) {
            continue;
        }
        int f = peers[i].format >= 0 && peers[i].format < SW_PEER_NFORMATS ? peers[i].format : 0;
        if (payloads[f] == NULL &&
            (rc = sw_share_peer_payload(s, f, inc, sw_wall_ms(), &payloads[f], &plens[f])) != 0) {
            bump(&r->st.spool_errors);
            break;
        }
        int e = sw_spool_put(r->spool, peers[i].jid, inc->id, inc->revision, payloads[f], plens[f]);
        if (e != 0) {
            bump(&r->st.spool_errors);
            rc = rc ? rc : e;
        } else {
            peer_bump(r, peers[i].jid, PC_SPOOLED);
        }
    }
    for (int f = 0; f < SW_PEER_NFORMATS; f++) {
        free(payloads[f]);
    }
    sw_conf_free(ref);
    return rc;
}

static int reporter_close(void *ctx)
{
    (void)ctx; /* the reporter is stopped by sw_reporter_stop() */
    return 0;
}

/* ---------------- reporter thread ---------------- */

static void send_iq(struct sw_reporter *r, const char *type, const char *id, const char *to,
                    const char *payload)
{
    char *iq;
    size_t len;
    if (sw_xep0268_iq(type, id, r->my_jid, to, payload ? payload : "",
                      payload ? strlen(payload) : 0, &iq, &len) == 0) {
        xmpp_send_raw(r->conn, iq, len);
        free(iq);
    }
}

static void send_error(struct sw_reporter *r, const char *id, const char *to, const char *etype,
                       const char *cond)
{
    char payload[256];
    snprintf(payload, sizeof(payload),
             "<error type='%s'><%s xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>", etype,
             cond);
    send_iq(r, "error", id, to, payload);
}

/* One warning line per WARN_EVERY_MS about strangers; the rest are counted. */
static void warn_stranger(struct sw_reporter *r, const char *what, const char *from)
{
    int64_t now = sw_wall_ms();
    if (now - r->last_untrusted_log_ms < WARN_EVERY_MS) {
        r->untrusted_suppressed++;
        return;
    }
    char shown[160];
    size_t fl = strlen(from);
    snprintf(shown, sizeof(shown), "%.120s%s", from, fl > 120 ? "..." : "");
    sw_log_warn("reporter", "%s from untrusted sender %s%s", what, shown,
                r->untrusted_suppressed ? " (similar warnings since the last one not logged)" : "");
    r->last_untrusted_log_ms = now;
    r->untrusted_suppressed = 0;
}

static bool peer_accepts(const struct sw_reporter_peer *p, int kind)
{
    for (size_t i = 0; i < p->accept.n; i++) {
        if (strcmp(p->accept.v[i], sw_xep0268_kind_name(kind)) == 0) {
            return true;
        }
    }
    return false;
}

static bool rate_ok(struct sw_reporter *r, int pi, int64_t now_ms)
{
    const struct sw_reporter_peer *p = &((const struct sw_reporter_peer *)r->ts->peers.items)[pi];
    struct peer_state *ps = &r->peers[pi];
    int64_t cap = p->rate_limit * 1000;
    if (ps->last_ms == 0) {
        ps->tokens_milli = cap;
        ps->last_ms = now_ms;
    }
    int64_t dt = now_ms - ps->last_ms;
    if (dt > 0) {
        /* rate_limit per minute = rate_limit * 1000 milli-tokens per 60000 ms */
        ps->tokens_milli += dt * p->rate_limit / 60;
        if (ps->tokens_milli > cap) {
            ps->tokens_milli = cap;
        }
        ps->last_ms = now_ms;
    }
    if (ps->tokens_milli < 1000) {
        return false;
    }
    ps->tokens_milli -= 1000;
    return true;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fprintf(f, "\\%c", *p);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p);
        } else {
            fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* ,"key":"value" (@key is a plain literal, written as is). */
static void json_kv(FILE *f, const char *key, const char *val)
{
    fprintf(f, ",\"%s\":", key);
    json_str(f, val);
}

/* One JSON object line describing an inbound message, built in memory so it
 * reaches each sink with a single write. */
static char *inbound_json(const char *peer, const struct sw_xep0268_msg *m, const char *file,
                          size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    char t[40];
    if (f == NULL) {
        return NULL;
    }
    fprintf(f, "{\"type\":\"inbound\",\"received_at\":\"%s\"",
            sw_fmt_time(sw_wall_ms(), t, sizeof(t)));
    json_kv(f, "peer", peer);
    json_kv(f, "from", m->from);
    json_kv(f, "kind", sw_xep0268_kind_name(m->kind)); /* fixed names: escaping keeps them as is */
    json_kv(f, "incident_name", m->incident_name);
    json_kv(f, "incident_id", m->incident_id);
    json_kv(f, "report_time", m->report_time);
    json_kv(f, "severity", m->severity);
    json_kv(f, "impact", m->impact_type);
    json_kv(f, "description", m->description);
    json_kv(f, "expectation", m->expectation);
    json_kv(f, "history_action", m->history_action);
    fputs(",\"offenders\":[", f);
    for (uint32_t i = 0; i < m->n_offenders; i++) {
        if (i) {
            fputc(',', f);
        }
        json_str(f, m->offenders[i]);
    }
    fputs("],\"file\":", f);
    json_str(f, file);
    fputs("}\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int append_line(const char *path, const char *line, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        return SW_EIO;
    }
    int rc = write(fd, line, len) == (ssize_t)len ? 0 : SW_EIO;
    if (close(fd) != 0) {
        rc = SW_EIO;
    }
    return rc;
}

/* Store an inbound stanza durably in inbound_dir; *name gets the file name. */
static int store_inbound(struct sw_reporter *r, const char *peer, const struct sw_xep0268_msg *m,
                         const char *text, size_t len, char *name, size_t cap)
{
    char path[4096], safe[64];
    size_t o = 0;
    for (const char *p = m->incident_id; *p && o + 1 < sizeof(safe); p++) {
        char c = *p;
        safe[o++] =
            ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')
                ? c
                : '_';
    }
    safe[o] = '\0';
    char peer_safe[SW_JID_TEXT];
    o = 0;
    for (const char *p = peer; *p && o + 1 < sizeof(peer_safe); p++) {
        peer_safe[o++] = (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20) ? '_' : *p;
    }
    peer_safe[o] = '\0';
    snprintf(name, cap, "%lld-%s-%s-%s-%u.xml", (long long)sw_wall_ms(), peer_safe,
             sw_xep0268_kind_name(m->kind), safe, r->inbound_seq++);
    snprintf(path, sizeof(path), "%s/%s", r->ts->inbound_dir, name);
    int rc = sw_file_write_atomic(path, text, len, 0600);
    if (rc != 0) {
        return rc;
    }
    char *line;
    size_t llen;
    line = inbound_json(peer, m, name, &llen);
    if (line != NULL) {
        snprintf(path, sizeof(path), "%s/inbound.jsonl", r->ts->inbound_dir);
        if (append_line(path, line, llen) != 0) {
            rc = SW_EIO;
        }
        FILE *lf = atomic_load(&r->log);
        if (lf != NULL) {
            fwrite(line, 1, llen, lf);
            fflush(lf);
        }
        free(line);
    }
    return rc;
}

static void answer_inquiry(struct sw_reporter *r, const struct sw_xep0268_msg *m,
                           const struct sw_reporter_peer *p)
{
    const char *to = p->jid;
    struct sw_incident *inc = malloc(sizeof(*inc));
    if (inc == NULL) {
        send_error(r, m->iq_id, m->from, "wait", "resource-constraint");
        return;
    }
    bool ours = m->incident_name[0] == '\0' || strcasecmp(m->incident_name, r->ts->domain) == 0;
    /* an incident this peer's send policy excludes is not disclosed by asking:
     * the answer is the same as for an unknown id */
    if (!ours || !recall(r, m->incident_id, inc) || !sw_reporter_peer_wants(r->ts, p, inc)) {
        send_error(r, m->iq_id, m->from, "cancel", "item-not-found");
        free(inc);
        return;
    }
    send_iq(r, "result", m->iq_id, m->from, NULL);
    char *payload;
    size_t plen;
    if (sw_xep0268_report(r->ts, inc, sw_wall_ms(), &payload, &plen) == 0) {
        if (sw_spool_put(r->spool, to, inc->id, inc->revision, payload, plen) != 0) {
            bump(&r->st.spool_errors);
        }
        free(payload);
    }
    free(inc);
}

static void handle_request(struct sw_reporter *r, xmpp_stanza_t *st, const char *type,
                           const char *id, const char *from)
{
    char *text = NULL;
    size_t len = 0;
    struct sw_xep0268_msg *m = NULL;
    const char *ns = NULL;
    xmpp_stanza_t *child = xmpp_stanza_get_children(st);
    while (child != NULL && !xmpp_stanza_is_tag(child)) {
        child = xmpp_stanza_get_next(child);
    }
    if (child != NULL) {
        ns = xmpp_stanza_get_ns(child);
    }
    if (ns != NULL && strcmp(ns, "urn:xmpp:ping") == 0) {
        send_iq(r, "result", id, from, NULL);
        return;
    }
    if (ns != NULL && strcmp(ns, "urn:xmpp:blocking") == 0 && r->share != NULL &&
        strcmp(type, "set") == 0) {
        /* XEP-0377 reports from peers that send them (share.reports_from) */
        if (sw_share_block_iq(r->share, st, from)) {
            send_iq(r, "result", id, from, NULL);
        } else {
            send_error(r, id, from, "auth", "forbidden");
        }
        return;
    }
    if (ns == NULL || strcmp(ns, SW_XEP0268_NS) != 0) {
        send_error(r, id, from, "cancel", "service-unavailable");
        return;
    }
    int pi = sw_reporter_find_peer(r->ts, from);
    if (pi < 0) {
        bump(&r->st.in_forbidden);
        warn_stranger(r, strcmp(type, "get") == 0 ? "refused XEP-0268 get" : "refused XEP-0268 set",
                      from);
        send_error(r, id, from, "auth", "forbidden");
        return;
    }
    const struct sw_reporter_peer *p = &((const struct sw_reporter_peer *)r->ts->peers.items)[pi];
    int kind = sw_xep0268_kind_from_name(xmpp_stanza_get_name(child));
    if (kind < 0 || !peer_accepts(p, kind)) {
        bump(&r->st.in_forbidden);
        send_error(r, id, from, "auth", "forbidden");
        return;
    }
    if (!rate_ok(r, pi, sw_wall_ms())) {
        bump(&r->st.in_rate_limited);
        send_error(r, id, from, "wait", "resource-constraint");
        return;
    }
    m = malloc(sizeof(*m));
    if (m == NULL || xmpp_stanza_to_text(st, &text, &len) != XMPP_EOK) {
        send_error(r, id, from, "wait", "resource-constraint");
        goto out;
    }
    int rc = sw_xep0268_parse(text, len, (size_t)r->ts->max_inbound_bytes,
                              (unsigned)r->ts->max_inbound_depth, m);
    if (rc != 0 || m->kind < 0 || m->n_incidents != 1 || m->incident_id[0] == '\0') {
        bump(&r->st.in_bad);
        send_error(r, id, from, "modify", "bad-request");
        goto out;
    }
    char name[512];
    switch (m->kind) {
    case SW_XEP0268_INQUIRY:
        bump(&r->st.in_inquiries);
        answer_inquiry(r, m, p);
        break;
    case SW_XEP0268_REQUEST:
    case SW_XEP0268_RESPONSE:
    case SW_XEP0268_REPORT:
        bump(m->kind == SW_XEP0268_REPORT    ? &r->st.in_reports
             : m->kind == SW_XEP0268_REQUEST ? &r->st.in_requests
                                             : &r->st.in_responses);
        if (store_inbound(r, p->jid, m, text, len, name, sizeof(name)) != 0) {
            sw_log_error("reporter", "cannot store %s from %s in %s", sw_xep0268_kind_name(m->kind),
                         p->jid, r->ts->inbound_dir);
            send_error(r, id, from, "wait", "resource-constraint");
            break;
        }
        if (m->kind == SW_XEP0268_REQUEST) {
            sw_log_warn("reporter",
                        "peer %s requests action '%s' on incident %s (%s); recorded in %s, "
                        "operator decision needed, nothing done automatically",
                        p->jid, m->expectation[0] ? m->expectation : "unspecified", m->incident_id,
                        m->description, name);
        } else {
            sw_log_info("reporter", "%s from %s: incident %s stored as %s",
                        sw_xep0268_kind_name(m->kind), p->jid, m->incident_id, name);
        }
        send_iq(r, "result", id, from, NULL);
        break;
    default:
        send_error(r, id, from, "cancel", "feature-not-implemented");
        break;
    }
out:
    if (text != NULL) {
        xmpp_free(r->ctx, text);
    }
    free(m);
}

/* An error that means a spooled pubsub stanza reached its goal (share.c). */
static bool share_error_done(struct sw_reporter *r, xmpp_stanza_t *st, const char *from)
{
    xmpp_stanza_t *err = r->share ? xmpp_stanza_get_child_by_name(st, "error") : NULL;
    xmpp_stanza_t *c = err ? xmpp_stanza_get_children(err) : NULL;
    while (c != NULL && !xmpp_stanza_is_tag(c)) {
        c = xmpp_stanza_get_next(c);
    }
    return c != NULL && sw_share_error_done(r->share, from, xmpp_stanza_get_name(c));
}

static int on_iq(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct sw_reporter *r = ud;
    (void)conn;
    const char *type = xmpp_stanza_get_type(st);
    const char *id = xmpp_stanza_get_id(st);
    const char *from = xmpp_stanza_get_from(st);
    if (type == NULL) {
        return 1;
    }
    if (strcmp(type, "result") == 0 || strcmp(type, "error") == 0) {
        if (id == NULL) {
            return 1;
        }
        /* a XEP-0191 block item's "already there" error completes it too */
        bool done = strcmp(type, "result") == 0 || share_error_done(r, st, from);
        int rc = done ? sw_spool_ack(r->spool, id, from)
                      : sw_spool_fail(r->spool, id, from, sw_wall_ms());
        if (rc == SW_EFORBIDDEN) {
            /* someone else answering for the peer: ignored, counted */
            bump(&r->st.spoofed);
            warn_stranger(r, "ignored iq result/error for a report in flight", from ? from : "?");
        } else if (rc == 0 && done) {
            bump(&r->st.acked);
            peer_bump(r, from, PC_ACKED); /* the spool checked: from's bare JID is the peer */
        } else if (rc == 0) {
            bump(&r->st.errors);
            peer_bump(r, from, PC_FAILED);
            /* a peer down for hours fails every retry: one line per minute at most */
            int64_t now = sw_wall_ms();
            if (now - r->last_fail_log_ms >= 60000) {
                const char *cond = "?";
                xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(st, "error");
                for (xmpp_stanza_t *c = err ? xmpp_stanza_get_children(err) : NULL; c != NULL;
                     c = xmpp_stanza_get_next(c)) {
                    if (xmpp_stanza_is_tag(c) && xmpp_stanza_get_name(c) != NULL &&
                        strcmp(xmpp_stanza_get_name(c), "text") != 0) {
                        cond = xmpp_stanza_get_name(c);
                        break;
                    }
                }
                sw_log_warn("reporter", "report %s refused by %s (%s); will retry with backoff%s",
                            id, from ? from : "?", cond,
                            r->fail_log_suppressed ? " (similar errors were not logged)" : "");
                r->last_fail_log_ms = now;
                r->fail_log_suppressed = 0;
            } else {
                r->fail_log_suppressed++;
            }
        }
        return 1;
    }
    if ((strcmp(type, "get") == 0 || strcmp(type, "set") == 0) && id != NULL && from != NULL) {
        handle_request(r, st, type, id, from);
    }
    return 1;
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err, xmpp_stream_error_t *se,
                    void *ud)
{
    struct sw_reporter *r = ud;
    (void)err;
    if (ev == XMPP_CONN_CONNECT) {
        const char *bound = xmpp_conn_get_bound_jid(conn);
        if (r->ts->mode == SW_REPORTER_CLIENT && bound != NULL) {
            snprintf(r->my_jid, sizeof(r->my_jid), "%s", bound);
            xmpp_send_raw_string(conn, "<presence/>");
        } else {
            snprintf(r->my_jid, sizeof(r->my_jid), "%s", r->ts->component.jid);
        }
        xmpp_handler_add(conn, on_iq, NULL, "iq", NULL, r);
        if (r->share != NULL) {
            sw_share_connected(r->share, conn, r->my_jid);
        }
        atomic_store(&r->connected, 1);
        bump(&r->st.connects);
        r->reconnect_ms = RECONNECT_MIN_MS;
        sw_log_info("reporter", "connected as %s", r->my_jid);
        return;
    }
    if (atomic_load(&r->connected)) {
        bump(&r->st.disconnects);
        sw_log_warn("reporter", "disconnected%s%s", se && se->text ? ": " : "",
                    se && se->text ? se->text : "");
    }
    atomic_store(&r->connected, 0);
    r->conn_dead = true;
}

static void strophe_log(void *ud, xmpp_log_level_t level, const char *area, const char *msg)
{
    (void)ud;
    if (level >= XMPP_LEVEL_WARN) {
        sw_log_warn("reporter", "libstrophe %s: %s", area, msg);
    }
}

static void start_connect(struct sw_reporter *r, int64_t now)
{
    const struct sw_reporter_settings *s = r->ts;
    r->conn = xmpp_conn_new(r->ctx);
    if (r->conn == NULL) {
        r->next_connect_ms = now + r->reconnect_ms;
        return;
    }
    r->conn_dead = false;
    int rc;
    if (s->mode == SW_REPORTER_CLIENT) {
        xmpp_conn_set_jid(r->conn, s->client.jid);
        xmpp_conn_set_pass(r->conn, s->client.password);
        rc = xmpp_connect_client(r->conn, s->client.host, (unsigned short)s->client.port, on_conn,
                                 r);
    } else {
        xmpp_conn_set_jid(r->conn, s->component.jid);
        xmpp_conn_set_pass(r->conn, s->component.secret);
        rc = xmpp_connect_component(r->conn, s->component.host, (unsigned short)s->component.port,
                                    on_conn, r);
        if (rc == XMPP_EOK) {
            /* libstrophe 0.12 workaround (see the file comment): expected XMPP_EINVOP */
            int w = xmpp_connect_client(r->conn, s->component.host,
                                        (unsigned short)s->component.port, on_conn, r);
            if (w != XMPP_EINVOP) {
                sw_log_warn("reporter", "libstrophe SM workaround returned %d", w);
            }
        }
    }
    if (rc != XMPP_EOK) {
        r->conn_dead = true;
    }
    r->next_connect_ms = now + r->reconnect_ms;
    r->reconnect_ms =
        r->reconnect_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : r->reconnect_ms * 2;
}

/* sw_spool_expire_each callback (spool lock held): a report got no answer in time */
static void on_ack_timeout(void *ctx, const char *peer)
{
    struct sw_reporter *r = ctx;
    bump(&r->st.timeouts);
    peer_bump(r, peer, PC_TIMEOUT);
}

static void send_due(struct sw_reporter *r, int64_t now)
{
    struct sw_spool_item it;
    struct sw_spool_stats ss;
    sw_spool_get_stats(r->spool, &ss);
    for (uint64_t i = 0; i < SEND_BURST && ss.in_flight + i < MAX_IN_FLIGHT; i++) {
        int got = sw_spool_next(r->spool, now, r->ts->ack_timeout_ms, &it);
        if (got <= 0) {
            break;
        }
        send_iq(r, "set", it.name, it.peer, it.payload);
        free(it.payload);
        bump(&r->st.sent);
        peer_bump(r, it.peer, PC_SENT);
    }
    (void)sw_spool_expire_each(r->spool, now, on_ack_timeout, r);
}

static void *reporter_main(void *arg)
{
    struct sw_reporter *r = arg;
    r->reconnect_ms = RECONNECT_MIN_MS;
    for (;;) {
        thread_cfg_sync(r);
        int64_t now = sw_wall_ms();
        if (atomic_load(&r->stop)) {
            struct sw_spool_stats ss;
            sw_spool_get_stats(r->spool, &ss);
            if (ss.pending == 0 || now >= atomic_load(&r->drain_until_ms) ||
                !atomic_load(&r->connected)) {
                break;
            }
        }
        if (r->conn != NULL && r->conn_dead) {
            xmpp_conn_release(r->conn);
            r->conn = NULL;
            sw_spool_requeue_all(r->spool, now);
        }
        if (r->conn == NULL && now >= r->next_connect_ms) {
            start_connect(r, now);
        }
        if (r->conn != NULL && atomic_load(&r->connected) &&
            (r->share == NULL || sw_share_ready(r->share, now))) {
            send_due(r, now);
        }
        if (r->share != NULL) {
            sw_share_tick(r->share, now);
        }
        xmpp_run_once(r->ctx, RUN_ONCE_MS);
    }
    if (r->conn != NULL) {
        if (atomic_load(&r->connected)) {
            xmpp_disconnect(r->conn);
            for (int i = 0; i < 20 && atomic_load(&r->connected); i++) {
                xmpp_run_once(r->ctx, RUN_ONCE_MS);
            }
        }
        xmpp_conn_release(r->conn);
        r->conn = NULL;
    }
    return NULL;
}

/* Start from @s, which belongs to snapshot @c (referenced here) or, with @c
 * NULL, is borrowed and must outlive the reporter. */
static int reporter_start(struct sw_conf *c, const struct sw_reporter_settings *s,
                          const struct sw_share_settings *sh, struct sw_output_ops *o,
                          struct sw_reporter **out, struct sw_errbuf *eb)
{
    int rc;
    struct sw_reporter *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "reporter: out of memory");
    }
    r->s = s;
    r->conf = c;
    if (c != NULL) {
        sw_conf_ref(c);
    }
    pthread_mutex_init(&r->cfg_mu, NULL);
    pthread_mutex_init(&r->recent_mu, NULL);
    pthread_mutex_init(&r->pc_mu, NULL);
    xmlInitParser();
    if (s->domain == NULL || s->domain[0] == '\0' || s->spool_dir == NULL ||
        s->inbound_dir == NULL) {
        rc =
            sw_errbuf_set(eb, SW_ECONF, "reporter: domain, spool_dir and inbound_dir are required");
        goto fail;
    }
    if (s->mode == SW_REPORTER_COMPONENT && (s->component.jid == NULL || !s->component.jid[0])) {
        rc = sw_errbuf_set(eb, SW_ECONF, "reporter.component.jid is required in component mode");
        goto fail;
    }
    if (s->mode == SW_REPORTER_CLIENT && (s->client.jid == NULL || !s->client.jid[0])) {
        rc = sw_errbuf_set(eb, SW_ECONF, "reporter.client.jid is required in client mode");
        goto fail;
    }
    if ((rc = check_peers(s, eb)) != 0) {
        goto fail;
    }
    if (mkdir(s->inbound_dir, 0700) != 0 && errno != EEXIST) {
        rc = sw_errbuf_set(eb, SW_EIO, "reporter: inbound_dir %s: %s", s->inbound_dir,
                           strerror(errno));
        goto fail;
    }
    if ((rc = sw_spool_open(s->spool_dir, s->retry_min_ms, s->retry_max_ms, &r->spool, eb)) != 0) {
        goto fail;
    }
    if (sw_share_wanted(sh) && (rc = sw_share_new(sh, s, r->spool, &r->share, eb)) != 0) {
        goto fail;
    }
    if (r->share != NULL && (sh->sources.n > 0 || sh->reports_from.n > 0)) {
        sw_aggregate_set_listed(sw_share_listed_weight, r->share);
    }
    r->recent = calloc(RECENT_MAX, sizeof(*r->recent));
    if (r->recent == NULL) {
        rc = sw_errbuf_set(eb, SW_ENOMEM, "reporter: out of memory");
        goto fail;
    }
    xmpp_initialize();
    static const xmpp_log_t logger = {strophe_log, NULL};
    r->ctx = xmpp_ctx_new(NULL, &logger);
    if (r->ctx == NULL) {
        rc = sw_errbuf_set(eb, SW_ENOMEM, "reporter: xmpp_ctx_new failed");
        goto fail;
    }
    if (pthread_create(&r->th, NULL, reporter_main, r) != 0) {
        rc = sw_errbuf_set(eb, SW_ENOMEM, "reporter: cannot start thread");
        goto fail;
    }
    r->th_started = true;
    o->name = "xmpp";
    o->incident = reporter_incident;
    o->close = reporter_close;
    o->reload = c != NULL ? reporter_reload : NULL;
    o->ctx = r;
    *out = r;
    return 0;
fail:
    sw_reporter_stop(r, 0);
    return rc;
}

int sw_reporter_start(const struct sw_conf *c, struct sw_output_ops *o, struct sw_reporter **out,
                      struct sw_errbuf *eb)
{
    const struct sw_reporter_settings *s = sw_conf_section(c, "reporter");
    if (s == NULL) {
        return sw_errbuf_set(eb, SW_ECONF, "reporter: config section not registered");
    }
    /* the reference only adds a count: the snapshot's content stays immutable */
    return reporter_start((struct sw_conf *)c, s, sw_conf_section(c, "share"), o, out, eb);
}

int sw_reporter_start_settings(const struct sw_reporter_settings *s, struct sw_output_ops *o,
                               struct sw_reporter **out, struct sw_errbuf *eb)
{
    return reporter_start(NULL, s, NULL, o, out, eb);
}

struct sw_share *sw_reporter_share(struct sw_reporter *r)
{
    return r != NULL ? r->share : NULL;
}

int sw_reporter_respond(struct sw_reporter *r, const char *peer,
                        const struct sw_xep0268_response *rsp)
{
    struct sw_conf *ref;
    const struct sw_reporter_settings *s = cfg_get(r, &ref);
    const struct sw_reporter_peer *peers = s->peers.items;
    const char *to = NULL;
    for (size_t i = 0; i < s->peers.n && peer != NULL; i++) {
        if (strcasecmp(peers[i].jid, peer) == 0) {
            to = peers[i].jid;
        }
    }
    if (to == NULL) {
        sw_conf_free(ref);
        return SW_EFORBIDDEN;
    }
    char *payload;
    size_t plen;
    int rc = sw_xep0268_response(s, rsp, sw_wall_ms(), &payload, &plen);
    if (rc != 0) {
        sw_conf_free(ref);
        return rc;
    }
    /* spool key distinct from our own reports with the same id text */
    char key[400];
    snprintf(key, sizeof(key), "response:%s:%s", rsp->incident_name, rsp->incident_id);
    for (char *p = key; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    rc = sw_spool_put(r->spool, to, key, 0, payload, plen);
    if (rc != 0) {
        bump(&r->st.spool_errors);
    }
    free(payload);
    sw_conf_free(ref);
    return rc;
}

void sw_reporter_set_log(struct sw_reporter *r, FILE *fp)
{
    atomic_store(&r->log, fp);
}

void sw_reporter_stop(struct sw_reporter *r, int64_t drain_ms)
{
    if (r == NULL) {
        return;
    }
    sw_share_control_stop(r->share); /* no retract arrives during the drain */
    if (r->th_started) {
        atomic_store(&r->drain_until_ms, (long long)(sw_wall_ms() + drain_ms));
        atomic_store(&r->stop, 1);
        pthread_join(r->th, NULL);
    }
    unsigned long long withheld = atomic_load(&r->st.closes_withheld);
    if (withheld > 0) {
        sw_log_info("reporter",
                    "stopped: %llu incident(s) closed at the stop were not reported closed to "
                    "peers",
                    withheld);
    }
    if (r->ctx != NULL) {
        xmpp_ctx_free(r->ctx);
        xmpp_shutdown();
    }
    if (r->share != NULL) {
        sw_aggregate_set_listed(NULL, NULL);
        sw_share_free(r->share);
    }
    sw_spool_free(r->spool);
    for (size_t i = 0; i < r->n_pc; i++) {
        free(r->pc[i].jid);
    }
    pthread_mutex_destroy(&r->pc_mu);
    pthread_mutex_destroy(&r->recent_mu);
    pthread_mutex_destroy(&r->cfg_mu);
    sw_conf_free(r->tconf);
    sw_conf_free(r->conf);
    free(r->recent);
    free(r->peers);
    free(r);
}

size_t sw_reporter_get_peer_stats(struct sw_reporter *r, struct sw_reporter_peer_stats *out,
                                  size_t cap)
{
    struct sw_conf *ref;
    const struct sw_reporter_settings *s = cfg_get(r, &ref);
    const struct sw_reporter_peer *peers = s->peers.items;
    size_t n = s->peers.n;
    for (size_t i = 0; i < n && i < cap; i++) {
        struct sw_reporter_peer_stats *o = &out[i];
        memset(o, 0, sizeof(*o));
        snprintf(o->jid, sizeof(o->jid), "%s", peers[i].jid);
        pthread_mutex_lock(&r->pc_mu);
        for (size_t k = 0; k < r->n_pc; k++) {
            if (strcasecmp(r->pc[k].jid, peers[i].jid) == 0) {
                o->spooled = r->pc[k].v[PC_SPOOLED];
                o->sent = r->pc[k].v[PC_SENT];
                o->acked = r->pc[k].v[PC_ACKED];
                o->failed = r->pc[k].v[PC_FAILED];
                o->timeouts = r->pc[k].v[PC_TIMEOUT];
                break;
            }
        }
        pthread_mutex_unlock(&r->pc_mu);
        o->pending = r->spool != NULL ? sw_spool_pending_peer(r->spool, peers[i].jid) : 0;
    }
    sw_conf_free(ref);
    return n;
}

void sw_reporter_get_stats(struct sw_reporter *r, struct sw_reporter_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->connects = atomic_load(&r->st.connects);
    st->disconnects = atomic_load(&r->st.disconnects);
    st->sent = atomic_load(&r->st.sent);
    st->acked = atomic_load(&r->st.acked);
    st->errors = atomic_load(&r->st.errors);
    st->timeouts = atomic_load(&r->st.timeouts);
    st->in_reports = atomic_load(&r->st.in_reports);
    st->in_inquiries = atomic_load(&r->st.in_inquiries);
    st->in_requests = atomic_load(&r->st.in_requests);
    st->in_responses = atomic_load(&r->st.in_responses);
    st->in_forbidden = atomic_load(&r->st.in_forbidden);
    st->in_rate_limited = atomic_load(&r->st.in_rate_limited);
    st->in_bad = atomic_load(&r->st.in_bad);
    st->spool_errors = atomic_load(&r->st.spool_errors);
    st->spoofed = atomic_load(&r->st.spoofed);
    st->closes_withheld = atomic_load(&r->st.closes_withheld);
    if (r->spool != NULL) {
        struct sw_spool_stats ss;
        sw_spool_get_stats(r->spool, &ss);
        st->spool_pending = ss.pending;
        st->spool_held = ss.held;
        st->spool_expired = ss.expired;
        st->spool_dropped = ss.dropped;
        st->spool_write_errors = ss.write_errors;
        st->acked = ss.acked; /* read under the spool lock, consistent with pending */
    }
    if (r->share != NULL) {
        st->spool_pending += sw_share_pending(r->share); /* node setup, first source syncs */
    }
}

bool sw_reporter_connected(struct sw_reporter *r)
{
    return atomic_load(&r->connected) != 0;
}
