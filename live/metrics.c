/*
 * metrics.c - /metrics in the Prometheus text format (version 0.0.4) with
 * libmicrohttpd, and the incident observer output (see include/sw/metrics.h).
 *
 * Families (every name passes `promtool check metrics`; counters end in
 * _total, units in the name):
 *   stanzawatch_build_info{version}                      gauge 1
 *   stanzawatch_tap_stanzas_total{tap,kind}              counter
 *   stanzawatch_tap_bytes_total{tap}                     counter
 *   stanzawatch_tap_connections_total{tap} / _open{tap}  counter / gauge
 *   stanzawatch_tap_queue_depth_blocks{tap} / _capacity  gauge
 *   stanzawatch_tap_dropped_total{tap,reason}            counter: queue_full, oversize,
 *                                                        gap, server_module, dedup
 *   stanzawatch_pipeline_stanzas_total{kind}, _bytes_total, _events_total
 *   stanzawatch_parse_errors_total, stanzawatch_stanzas_skipped_total{reason}
 *   stanzawatch_pipeline_dropped_total (chunks' stanzas dropped by queue_policy drop)
 *   stanzawatch_detector_{events,hits,evictions}_total{detector}
 *   stanzawatch_detector_{keys,memory_bytes}{detector}   gauge
 *   stanzawatch_incidents_total{kind,status}             counter
 *   stanzawatch_reports_total{state}, stanzawatch_reports_pending   (all peers)
 *   stanzawatch_peer_reports_total{peer,state}  spooled/sent/acked/failed/timeout
 *       per configured peer (failed = error replies, timeout = no answer within
 *       reporter.ack_timeout)
 *   stanzawatch_peer_reports_pending{peer}      gauge: spooled, not yet acked
 *   stanzawatch_reloads_total{result}
 *   stanzawatch_share_items_total{action}, _expired_total, _listed, _setup_errors_total,
 *   stanzawatch_share_reports_total{outcome}             XEP-0377 in: accepted / refused
 *   stanzawatch_share_source_entries{source}, _last_sync_timestamp_seconds{source},
 *   stanzawatch_share_source_sync_age_seconds{source}    consumed lists (share.sources)
 *   stanzawatch_incident_latency_seconds                 histogram: arrival of the stanza
 *       that crossed the threshold (its event time) to the incident's output
 *
 * Threading: the observer's incident() runs on the aggregator thread and
 * writes relaxed atomics; the HTTP thread reads them. Kinds are static
 * strings, published by a release store of the kind count.
 */
#include "sw/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sw/live.h"
#include "sw/pipeline.h"
#include "sw/reporter.h"
#include "sw/share.h"

#define OBS_KINDS 32
#define OBS_LAT 4096

static const double lat_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define N_BOUNDS (sizeof(lat_bounds) / sizeof(lat_bounds[0]))

struct sw_metrics_obs {
    const char *kind[OBS_KINDS];
    _Atomic size_t n_kinds;
    uint64_t count[OBS_KINDS][3]; /* by status */
    uint64_t bucket[N_BOUNDS + 1];
    uint64_t lat_n, lat_sum_ms;
    int64_t lat_ring[OBS_LAT];
};

#define OBS_ADD(x, n)                                                                              \
    __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define OBS_GET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

struct sw_metrics_obs *sw_metrics_obs_new(void)
{
    struct sw_metrics_obs *o = calloc(1, sizeof(*o));
    if (o != NULL) {
        atomic_init(&o->n_kinds, 0);
    }
    return o;
}

void sw_metrics_obs_free(struct sw_metrics_obs *o)
{
    free(o);
}

static int obs_incident(void *ctx, const struct sw_incident *inc)
{
    struct sw_metrics_obs *o = ctx;
    size_t n = atomic_load_explicit(&o->n_kinds, memory_order_relaxed);
    size_t k = 0;
    while (k < n && o->kind[k] != inc->kind && strcmp(o->kind[k], inc->kind) != 0) {
        k++;
    }
    if (k == n) {
        if (n == OBS_KINDS) {
            k = OBS_KINDS - 1; /* more kinds than slots: counted under the last */
        } else {
            o->kind[n] = inc->kind;
            atomic_store_explicit(&o->n_kinds, n + 1, memory_order_release);
        }
    }
    OBS_ADD(o->count[k][inc->status < 3 ? inc->status : 2], 1);
    if (inc->status == SW_INC_OPEN) {
        int64_t ms = sw_wall_ms() - inc->detected_at;
        if (ms < 0) {
            ms = 0;
        }
        size_t b = 0;
        while (b < N_BOUNDS && (double)ms / 1000.0 > lat_bounds[b]) {
            b++;
        }
        OBS_ADD(o->bucket[b], 1);
        __atomic_store_n(&o->lat_ring[OBS_GET(o->lat_n) % OBS_LAT], ms, __ATOMIC_RELAXED);
        OBS_ADD(o->lat_sum_ms, (uint64_t)ms);
        OBS_ADD(o->lat_n, 1);
    }
    return 0;
}

static int obs_close(void *ctx)
{
    (void)ctx;
    return 0;
}

void sw_metrics_obs_output(struct sw_metrics_obs *o, struct sw_output_ops *out)
{
    memset(out, 0, sizeof(*out));
    out->name = "metrics";
    out->incident = obs_incident;
    out->close = obs_close;
    out->ctx = o;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t sw_metrics_obs_latency_ms(const struct sw_metrics_obs *o, double q, uint64_t *n)
{
    uint64_t total = OBS_GET(o->lat_n);
    size_t m = total < OBS_LAT ? (size_t)total : OBS_LAT;
    *n = total;
    if (m == 0) {
        return -1;
    }
    int64_t *v = malloc(m * sizeof(*v));
    if (v == NULL) {
        return -1;
    }
    for (size_t i = 0; i < m; i++) {
        v[i] = __atomic_load_n(&o->lat_ring[i], __ATOMIC_RELAXED);
    }
    qsort(v, m, sizeof(*v), cmp_i64);
    size_t idx = (size_t)(q * (double)(m - 1) + 0.5);
    int64_t r = v[idx < m ? idx : m - 1];
    free(v);
    return r;
}

/* ------------------------------------------------------------------ */
/* exposition                                                          */

static void fam(FILE *fp, const char *name, const char *type, const char *help)
{
    fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* label values are names from the config or static strings: escape \ " \n anyway */
static void lv(FILE *fp, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"') {
            fputc('\\', fp);
            fputc(*s, fp);
        } else if (*s == '\n') {
            fputs("\\n", fp);
        } else {
            fputc(*s, fp);
        }
    }
}

static const char *const kind_names[3] = {"message", "presence", "iq"};

static void write_taps(const struct sw_live *live, FILE *fp)
{
    size_t cap = sw_live_count(live) + 4; /* a reload may add taps meanwhile */
    struct sw_live_tap_stats *st = calloc(cap, sizeof(*st));
    if (st == NULL) {
        return;
    }
    size_t n = sw_live_get_stats(live, st, cap);
    if (n == 0) {
        free(st);
        return;
    }
    fam(fp, "stanzawatch_tap_stanzas_total", "counter", "Stanzas received by a tap, by kind.");
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) {
            fputs("stanzawatch_tap_stanzas_total{tap=\"", fp);
            lv(fp, st[i].name);
            fprintf(fp, "\",kind=\"%s\"} %llu\n", kind_names[k],
                    (unsigned long long)st[i].by_kind[k]);
        }
        fputs("stanzawatch_tap_stanzas_total{tap=\"", fp);
        lv(fp, st[i].name);
        fprintf(fp, "\",kind=\"other\"} %llu\n", (unsigned long long)st[i].other);
    }
#define TAP_ONE(metric, type, help, field)                                                         \
    fam(fp, metric, type, help);                                                                   \
    for (size_t i = 0; i < n; i++) {                                                               \
        fputs(metric "{tap=\"", fp);                                                               \
        lv(fp, st[i].name);                                                                        \
        fprintf(fp, "\"} %llu\n", (unsigned long long)st[i].field);                                \
    }
    TAP_ONE("stanzawatch_tap_bytes_total", "counter", "Bytes received by a tap.", bytes)
    TAP_ONE("stanzawatch_tap_connections_total", "counter",
            "Connections accepted (socket) or established (component).", connections)
    TAP_ONE("stanzawatch_tap_connections_open", "gauge", "Connections open now.", open)
    TAP_ONE("stanzawatch_tap_queue_depth_blocks", "gauge",
            "Blocks waiting in the tap's queue to the pipeline.", queue_depth)
    TAP_ONE("stanzawatch_tap_queue_capacity_blocks", "gauge",
            "Capacity of the tap's queue in blocks.", queue_blocks)
    TAP_ONE("stanzawatch_tap_parse_errors_total", "counter",
            "Connections closed because the peer sent junk.", parse_errors)
    TAP_ONE("stanzawatch_tap_junk_total", "counter",
            "Junk between stanzas skipped (text at the top level; the connection stays open).",
            junk)
#undef TAP_ONE
    fam(fp, "stanzawatch_tap_dropped_total", "counter",
        "Stanzas lost or dropped on the way in, by reason (queue_full: stanzawatch behind; "
        "oversize: over limits; gap: missing sequence numbers; server_module: dropped by the "
        "server-side module; dedup: presence fan-out copies).");
    for (size_t i = 0; i < n; i++) {
        const struct {
            const char *r;
            uint64_t v;
        } d[] = {{"queue_full", st[i].queue_drops},
                 {"oversize", st[i].oversize},
                 {"gap", st[i].gaps},
                 {"server_module", st[i].peer_dropped},
                 {"dedup", st[i].dedup}};
        for (size_t k = 0; k < sizeof(d) / sizeof(d[0]); k++) {
            fputs("stanzawatch_tap_dropped_total{tap=\"", fp);
            lv(fp, st[i].name);
            fprintf(fp, "\",reason=\"%s\"} %llu\n", d[k].r, (unsigned long long)d[k].v);
        }
    }
    free(st);
}

static void write_pipeline(const struct sw_pipeline *p, FILE *fp)
{
    struct sw_pipeline_stats *st = malloc(sizeof(*st));
    if (st == NULL) {
        return;
    }
    sw_pipeline_get_stats(p, st);
    fam(fp, "stanzawatch_pipeline_stanzas_total", "counter", "Events parsed, by stanza kind.");
    for (int k = 0; k < 3; k++) {
        fprintf(fp, "stanzawatch_pipeline_stanzas_total{kind=\"%s\"} %llu\n", kind_names[k],
                (unsigned long long)st->by_kind[k]);
    }
    fam(fp, "stanzawatch_pipeline_bytes_total", "counter", "Stream bytes read by the pipeline.");
    fprintf(fp, "stanzawatch_pipeline_bytes_total %llu\n", (unsigned long long)st->bytes);
    fam(fp, "stanzawatch_parse_errors_total", "counter", "Malformed stanzas or streams.");
    fprintf(fp, "stanzawatch_parse_errors_total %llu\n", (unsigned long long)st->parse_errors);
    fam(fp, "stanzawatch_stanzas_skipped_total", "counter", "Stanzas skipped, by reason.");
    fprintf(fp, "stanzawatch_stanzas_skipped_total{reason=\"oversize\"} %llu\n",
            (unsigned long long)st->skipped_oversize);
    fprintf(fp, "stanzawatch_stanzas_skipped_total{reason=\"depth\"} %llu\n",
            (unsigned long long)st->skipped_depth);
    fprintf(fp, "stanzawatch_stanzas_skipped_total{reason=\"attribute\"} %llu\n",
            (unsigned long long)st->skipped_attr);
    fprintf(fp, "stanzawatch_stanzas_skipped_total{reason=\"unknown\"} %llu\n",
            (unsigned long long)st->skipped_unknown);
    fam(fp, "stanzawatch_pipeline_dropped_total", "counter",
        "Stanzas dropped inside the pipeline (engine.queue_policy drop).");
    fprintf(fp, "stanzawatch_pipeline_dropped_total %llu\n",
            (unsigned long long)st->stanzas_dropped);
#define DET(metric, type, help, field)                                                             \
    fam(fp, metric, type, help);                                                                   \
    for (size_t d = 0; d < st->n_detectors; d++) {                                                 \
        if (st->det[d].enabled) {                                                                  \
            fprintf(fp, metric "{detector=\"%s\"} %llu\n", st->det[d].name,                        \
                    (unsigned long long)st->det[d].field);                                         \
        }                                                                                          \
    }
    DET("stanzawatch_detector_events_total", "counter", "Events a detector processed.", events)
    DET("stanzawatch_detector_hits_total", "counter", "Hits a detector emitted.", hits)
    DET("stanzawatch_detector_keys", "gauge", "Keys in a detector's tables.", keys)
    DET("stanzawatch_detector_evictions_total", "counter",
        "Keys evicted from a full detector table.", evictions)
    DET("stanzawatch_detector_memory_bytes", "gauge", "Memory of a detector's tables.", mem_bytes)
#undef DET
    fam(fp, "stanzawatch_reloads_total", "counter", "Configuration reloads (SIGHUP) by result.");
    fprintf(fp, "stanzawatch_reloads_total{result=\"ok\"} %llu\n", (unsigned long long)st->reloads);
    fprintf(fp, "stanzawatch_reloads_total{result=\"failed\"} %llu\n",
            (unsigned long long)(st->reload_errors + st->detector_reload_errors));
    free(st);
}

static void write_obs(const struct sw_metrics_obs *o, FILE *fp)
{
    static const char *const status[3] = {"opened", "updated", "closed"};
    size_t n = atomic_load_explicit(&((struct sw_metrics_obs *)o)->n_kinds, memory_order_acquire);
    fam(fp, "stanzawatch_incidents_total", "counter", "Incident state changes by kind.");
    for (size_t k = 0; k < n; k++) {
        for (int s = 0; s < 3; s++) {
            fprintf(fp, "stanzawatch_incidents_total{kind=\"%s\",status=\"%s\"} %llu\n", o->kind[k],
                    status[s], (unsigned long long)OBS_GET(o->count[k][s]));
        }
    }
    fam(fp, "stanzawatch_incident_latency_seconds", "histogram",
        "From the arrival of the stanza that crossed the threshold to the incident's output.");
    uint64_t cum = 0;
    for (size_t b = 0; b <= N_BOUNDS; b++) {
        cum += OBS_GET(o->bucket[b]);
        if (b < N_BOUNDS) {
            fprintf(fp, "stanzawatch_incident_latency_seconds_bucket{le=\"%g\"} %llu\n",
                    lat_bounds[b], (unsigned long long)cum);
        } else {
            fprintf(fp, "stanzawatch_incident_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
                    (unsigned long long)cum);
        }
    }
    fprintf(fp, "stanzawatch_incident_latency_seconds_sum %.3f\n",
            (double)OBS_GET(o->lat_sum_ms) / 1000.0);
    fprintf(fp, "stanzawatch_incident_latency_seconds_count %llu\n", (unsigned long long)cum);
}

static void write_reporter(struct sw_reporter *r, FILE *fp)
{
    struct sw_reporter_stats st;
    sw_reporter_get_stats(r, &st);
    fam(fp, "stanzawatch_reports_total", "counter",
        "XEP-0268 reports by outcome, over all peers (sent, acked, failed, timeout).");
    fprintf(fp, "stanzawatch_reports_total{state=\"sent\"} %llu\n", (unsigned long long)st.sent);
    fprintf(fp, "stanzawatch_reports_total{state=\"acked\"} %llu\n", (unsigned long long)st.acked);
    fprintf(fp, "stanzawatch_reports_total{state=\"failed\"} %llu\n",
            (unsigned long long)st.errors);
    fprintf(fp, "stanzawatch_reports_total{state=\"timeout\"} %llu\n",
            (unsigned long long)st.timeouts);
    fam(fp, "stanzawatch_reports_pending", "gauge", "Reports waiting in the spool.");
    fprintf(fp, "stanzawatch_reports_pending %llu\n", (unsigned long long)st.spool_pending);
    struct sw_reporter_peer_stats ps[64];
    size_t np = sw_reporter_get_peer_stats(r, ps, 64);
    np = np < 64 ? np : 64;
    if (np > 0) {
        fam(fp, "stanzawatch_peer_reports_total", "counter",
            "XEP-0268 reports per configured peer by outcome (spooled, sent, acked, failed "
            "= error reply, timeout = no answer within reporter.ack_timeout; failed and "
            "timed-out sends are retried).");
        for (size_t i = 0; i < np; i++) {
            const uint64_t v[5] = {ps[i].spooled, ps[i].sent, ps[i].acked, ps[i].failed,
                                   ps[i].timeouts};
            static const char *const names[5] = {"spooled", "sent", "acked", "failed", "timeout"};
            for (int k = 0; k < 5; k++) {
                fputs("stanzawatch_peer_reports_total{peer=\"", fp);
                lv(fp, ps[i].jid);
                fprintf(fp, "\",state=\"%s\"} %llu\n", names[k], (unsigned long long)v[k]);
            }
        }
        fam(fp, "stanzawatch_peer_reports_pending", "gauge",
            "Reports in the spool per configured peer (not yet acked).");
        for (size_t i = 0; i < np; i++) {
            fputs("stanzawatch_peer_reports_pending{peer=\"", fp);
            lv(fp, ps[i].jid);
            fprintf(fp, "\"} %llu\n", (unsigned long long)ps[i].pending);
        }
    }
    fam(fp, "stanzawatch_reporter_connected", "gauge",
        "1 while the reporter's XMPP session is up.");
    fprintf(fp, "stanzawatch_reporter_connected %d\n", sw_reporter_connected(r) ? 1 : 0);
}

/* The share side (issue 15): what we publish on our RTBL/feeds, the lists we
 * consume (size, last full sync) and the XEP-0377 reports forwarded to us. */
static void write_share(struct sw_share *sh, FILE *fp)
{
    struct sw_share_stats st;
    sw_share_get_stats(sh, &st);
    fam(fp, "stanzawatch_share_items_total", "counter",
        "Pubsub items spooled for share.service: published (RTBL entries and feed items, "
        "re-publishes included) and retracted (expiry, retract command, allow list, closed "
        "feed incidents).");
    fprintf(fp, "stanzawatch_share_items_total{action=\"published\"} %llu\n",
            (unsigned long long)st.published);
    fprintf(fp, "stanzawatch_share_items_total{action=\"retracted\"} %llu\n",
            (unsigned long long)st.retracted);
    fam(fp, "stanzawatch_share_expired_total", "counter",
        "Listings retracted because their time ran out (a subset of the retracted items).");
    fprintf(fp, "stanzawatch_share_expired_total %llu\n", (unsigned long long)st.expired);
    fam(fp, "stanzawatch_share_listed", "gauge",
        "Entries currently published (RTBL entries and live feed items).");
    fprintf(fp, "stanzawatch_share_listed %llu\n", (unsigned long long)st.listed_now);
    fam(fp, "stanzawatch_share_setup_errors_total", "counter",
        "Node set-up requests (create, configure, affiliations, subscribe) the service refused.");
    fprintf(fp, "stanzawatch_share_setup_errors_total %llu\n", (unsigned long long)st.setup_errors);
    fam(fp, "stanzawatch_share_reports_total", "counter",
        "Inbound XEP-0377 spam reports: accepted (sender in share.reports_from) or refused.");
    fprintf(fp, "stanzawatch_share_reports_total{outcome=\"accepted\"} %llu\n",
            (unsigned long long)st.reports_in);
    fprintf(fp, "stanzawatch_share_reports_total{outcome=\"refused\"} %llu\n",
            (unsigned long long)st.reports_refused);
    if (st.n_sources == 0) {
        return;
    }
    const char *name;
    uint64_t items;
    int64_t synced, now = sw_wall_ms();
    fam(fp, "stanzawatch_share_source_entries", "gauge",
        "Entries in a consumed block list (share.sources), as persisted in state_dir.");
    for (size_t i = 0; sw_share_source_stats(sh, i, &name, &items, &synced) == 0; i++) {
        fputs("stanzawatch_share_source_entries{source=\"", fp);
        lv(fp, name);
        fprintf(fp, "\"} %llu\n", (unsigned long long)items);
    }
    fam(fp, "stanzawatch_share_source_last_sync_timestamp_seconds", "gauge",
        "Unix time of a consumed list's last full items fetch (0: never synced).");
    for (size_t i = 0; sw_share_source_stats(sh, i, &name, &items, &synced) == 0; i++) {
        fputs("stanzawatch_share_source_last_sync_timestamp_seconds{source=\"", fp);
        lv(fp, name);
        fprintf(fp, "\"} %.3f\n", (double)synced / 1000.0);
    }
    fam(fp, "stanzawatch_share_source_sync_age_seconds", "gauge",
        "Seconds since a consumed list's last full items fetch (absent: never synced).");
    for (size_t i = 0; sw_share_source_stats(sh, i, &name, &items, &synced) == 0; i++) {
        if (synced <= 0) {
            continue;
        }
        fputs("stanzawatch_share_source_sync_age_seconds{source=\"", fp);
        lv(fp, name);
        fprintf(fp, "\"} %.3f\n", (double)(now - synced) / 1000.0);
    }
}

int sw_metrics_write(const struct sw_metrics_sources *src, FILE *fp)
{
    fam(fp, "stanzawatch_build_info", "gauge", "Build information.");
    fprintf(fp, "stanzawatch_build_info{version=\"%s\"} 1\n", SW_VERSION);
    if (src->live != NULL) {
        write_taps(src->live, fp);
    }
    if (src->pipeline != NULL) {
        write_pipeline(src->pipeline, fp);
    }
    if (src->obs != NULL) {
        write_obs(src->obs, fp);
    }
    if (src->reporter != NULL) {
        write_reporter(src->reporter, fp);
        if (sw_reporter_share(src->reporter) != NULL) {
            write_share(sw_reporter_share(src->reporter), fp);
        }
    }
    return ferror(fp) ? SW_EIO : 0;
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                */

struct sw_metrics {
    struct MHD_Daemon *d;
    struct sw_metrics_sources src;
};

static enum MHD_Result mh_handler(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct sw_metrics *m = cls;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static char msg[] = "method not allowed\n";
        resp = MHD_create_response_from_buffer(sizeof(msg) - 1, msg, MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    if (strcmp(url, "/metrics") != 0) {
        static char msg[] = "stanzawatch: see /metrics\n";
        resp = MHD_create_response_from_buffer(sizeof(msg) - 1, msg, MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (fp == NULL) {
        return MHD_NO;
    }
    sw_metrics_write(&m->src, fp);
    fclose(fp);
    resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(buf);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

int sw_metrics_start(const char *listen, const struct sw_metrics_sources *src,
                     struct sw_metrics **out, struct sw_errbuf *eb)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0') {
        return sw_errbuf_set(eb, SW_ECONF, "listen '%s': expected HOST:PORT", listen);
    }
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) {
        return sw_errbuf_set(eb, SW_ECONF, "listen '%s': host too long", listen);
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    int g = getaddrinfo(host, colon + 1, &hints, &ai);
    if (g != 0) {
        return sw_errbuf_set(eb, SW_ECONF, "listen '%s': %s (numeric address needed)", listen,
                             gai_strerror(g));
    }
    struct sw_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        freeaddrinfo(ai);
        return sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
    }
    m->src = *src;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (ai->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    m->d = MHD_start_daemon(flags, 0, NULL, NULL, mh_handler, m, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (m->d == NULL) {
        free(m);
        return sw_errbuf_set(eb, SW_EIO, "cannot listen on %s (address in use?)", listen);
    }
    *out = m;
    return 0;
}

void sw_metrics_stop(struct sw_metrics *m)
{
    if (m == NULL) {
        return;
    }
    MHD_stop_daemon(m->d);
    free(m);
}
