/*
 * live.c - the live tap set (include/sw/live.h): config sections "taps" and
 * "metrics", starting and stopping the taps, their counters.
 *
 * Threading: control thread, except sw_live_get_stats (any thread: relaxed
 * loads of single-writer counters and ring counts).
 * Ownership: sw_live_new/sw_live_free; the mux tap ops point into the set.
 */
#include "sw/live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live_int.h"
#include "sw/log.h"

static const char *const tap_type_names[] = {"socket", "component", NULL};

static const struct sw_conf_item tap_item_schema[] = {
    {.key = "type",
     .type = SW_CONF_ENUM,
     .offset = offsetof(struct sw_live_tap_settings, type),
     .def = NULL,
     .enum_names = tap_type_names,
     .help = "socket (server-side module connects here) or component (XEP-0114 mirror)"},
    {.key = "name",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_live_tap_settings, name),
     .def = NULL,
     .help = "label in logs and metrics; default <type><index>"},
    {.key = "listen",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_live_tap_settings, listen),
     .def = NULL,
     .help = "socket: unix:PATH or HOST:PORT (numeric) to listen on"},
    {.key = "address",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_live_tap_settings, address),
     .def = NULL,
     .help = "component: HOST:PORT of the server's component port"},
    {.key = "jid",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_live_tap_settings, jid),
     .def = NULL,
     .help = "component: the component JID the mirror is sent to"},
    {.key = "secret",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_live_tap_settings, secret),
     .def = NULL,
     .help = "component: the shared secret"},
    {.key = "queue",
     .type = SW_CONF_SIZE,
     .offset = offsetof(struct sw_live_tap_settings, queue_bytes),
     .min = 256 * 1024,
     .max = (int64_t)1 << 30,
     .def = "8MB",
     .help = "bounded queue between the tap and the pipeline; full = drop and count"},
    {.key = "max_connections",
     .type = SW_CONF_INT,
     .offset = offsetof(struct sw_live_tap_settings, max_connections),
     .min = 1,
     .max = 4096,
     .def = "64",
     .help = "socket: connections at once (server nodes); more are refused"},
    {.key = "idle_timeout",
     .type = SW_CONF_DURATION,
     .offset = offsetof(struct sw_live_tap_settings, idle_timeout_ms),
     .min = 0,
     .max = 86400000,
     .def = "5m",
     .help = "socket: close a connection silent this long (0 = never)"},
    {.key = "dedup_window",
     .type = SW_CONF_DURATION,
     .offset = offsetof(struct sw_live_tap_settings, dedup_ms),
     .min = 0,
     .max = 60000,
     .def = "2s",
     .help = "drop presence fan-out copies (same from/id/type) seen within this window"},
    SW_CONF_END,
};

/* A list section: one item with the empty key (engine/conf.c binds the
 * section's node itself as that list). */
static const struct sw_conf_item taps_schema[] = {
    {.key = "",
     .type = SW_CONF_LIST,
     .offset = offsetof(struct sw_live_taps_settings, taps),
     .def = "[]",
     .help = "live taps for `stanzawatch run`",
     .sub = tap_item_schema,
     .item_size = sizeof(struct sw_live_tap_settings)},
    SW_CONF_END,
};

static const struct sw_conf_item metrics_schema[] = {
    {.key = "listen",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_live_metrics_settings, listen),
     .def = NULL,
     .help = "HOST:PORT serving Prometheus text at /metrics during `run`; null or empty = off"},
    SW_CONF_END,
};

int sw_live_register_conf(void)
{
    int rc = sw_conf_register("taps", taps_schema, sizeof(struct sw_live_taps_settings));
    if (rc == 0) {
        rc = sw_conf_register("metrics", metrics_schema, sizeof(struct sw_live_metrics_settings));
    }
    return rc;
}

/* ------------------------------------------------------------------ */

static void live_stop_taps(struct sw_live *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct lt_tap *t = &l->taps[i];
        atomic_store_explicit(&t->stop, true, memory_order_release);
        if (t->wake_fd >= 0) {
            uint64_t one = 1;
            ssize_t w = write(t->wake_fd, &one, sizeof(one));
            (void)w;
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        struct lt_tap *t = &l->taps[i];
        if (t->started) {
            pthread_join(t->th, NULL);
            t->started = false;
        }
    }
}

void sw_live_free(struct sw_live *l)
{
    if (l == NULL) {
        return;
    }
    live_stop_taps(l);
    for (size_t i = 0; i < l->n; i++) {
        struct lt_tap *t = &l->taps[i];
        if (t->s->type == SW_LIVE_TAP_SOCKET) {
            lt_socket_fini(t);
        } else {
            lt_component_fini(t);
        }
        if (t->wake_fd >= 0) {
            close(t->wake_fd);
        }
        lt_queue_fini(t);
    }
    free(l->taps);
    free(l->dd_key);
    free(l->dd_ms);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

int sw_live_new(const struct sw_conf *conf, struct sw_live **out, struct sw_tap_ops *tap,
                struct sw_errbuf *eb)
{
    const struct sw_live_taps_settings *ts = sw_conf_section(conf, "taps");
    const struct sw_limits_settings *lim = sw_conf_section(conf, "limits");
    int rc;
    if (ts == NULL || lim == NULL) {
        return sw_errbuf_set(eb, SW_ECONF, "live: sections taps/limits not registered");
    }
    if (ts->taps.n == 0) {
        return sw_errbuf_set(eb, SW_ECONF,
                             "%s: no taps: `run` needs a 'taps:' list (see configs/live.yaml)",
                             sw_conf_path(conf));
    }
    struct sw_live *l = calloc(1, sizeof(*l));
    if (l == NULL || lt_mux_init(l) < 0) {
        free(l);
        return sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
    }
    l->conf = conf;
    l->lim = lim;
    l->xlim.max_depth = (uint32_t)lim->max_depth;
    l->xlim.max_attr_bytes = (uint32_t)lim->max_attr_bytes;
    l->xlim.max_text_bytes = (uint32_t)lim->max_text_bytes;
    l->xlim.max_stanza_bytes = (uint32_t)lim->max_stanza_bytes;
    l->xlim.body_keep = (uint32_t)lim->body_keep;
    l->tail_keep = (size_t)lim->max_stanza_bytes + 4096;
    l->taps = calloc(ts->taps.n, sizeof(*l->taps));
    if (l->taps == NULL) {
        sw_live_free(l);
        return sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ts->taps.n; i++) {
        struct lt_tap *t = &l->taps[i];
        t->live = l;
        t->idx = (unsigned)i;
        t->wake_fd = -1;
        t->s = (const struct sw_live_tap_settings *)ts->taps.items + i;
        t->type_name = tap_type_names[t->s->type];
        if (t->s->name != NULL && t->s->name[0] != '\0') {
            snprintf(t->name, sizeof(t->name), "%s", t->s->name);
        } else {
            snprintf(t->name, sizeof(t->name), "%s%zu", t->type_name, i);
        }
        atomic_init(&t->stop, false);
        atomic_init(&t->stopped, false);
        l->n = i + 1;
        /* a wrapped stanza is at most max_stanza_bytes (bigger ones are skipped) */
        rc = lt_queue_init(t, (size_t)t->s->queue_bytes, (size_t)lim->max_stanza_bytes + 64);
        if (rc < 0) {
            sw_live_free(l);
            return sw_errbuf_set(eb, rc, "tap %s: cannot allocate its queue", t->name);
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        struct lt_tap *t = &l->taps[i];
        for (size_t j = 0; j < i; j++) {
            if (strcmp(l->taps[j].name, t->name) == 0) {
                sw_live_free(l);
                return sw_errbuf_set(eb, SW_ECONF, "taps[%zu]: name '%s' used twice", i, t->name);
            }
        }
        rc = t->s->type == SW_LIVE_TAP_SOCKET ? lt_socket_start(t, eb) : lt_component_start(t, eb);
        if (rc < 0) {
            sw_live_free(l);
            return rc;
        }
    }
    lt_mux_ops(l, tap);
    *out = l;
    return 0;
}

size_t sw_live_count(const struct sw_live *l)
{
    return l != NULL ? l->n : 0;
}

void sw_live_get_stats(const struct sw_live *l, struct sw_live_tap_stats *st)
{
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        const struct lt_tap *t = &l->taps[i];
        struct sw_live_tap_stats *o = &st[i];
        memset(o, 0, sizeof(*o));
        o->name = t->name;
        o->type = t->type_name;
        o->connections = LT_CNT_GET(t->c.connections);
        o->open = LT_CNT_GET(t->c.open);
        o->closed_error = LT_CNT_GET(t->c.closed_error);
        o->idle_closed = LT_CNT_GET(t->c.idle_closed);
        o->refused = LT_CNT_GET(t->c.refused);
        o->bytes = LT_CNT_GET(t->c.bytes);
        o->stanzas = LT_CNT_GET(t->c.stanzas);
        for (int k = 0; k < 3; k++) {
            o->by_kind[k] = LT_CNT_GET(t->c.by_kind[k]);
        }
        o->other = LT_CNT_GET(t->c.by_kind[LT_KIND_OTHER]);
        o->queue_drops = LT_CNT_GET(t->c.queue_drops);
        o->oversize = LT_CNT_GET(t->c.oversize);
        o->parse_errors = LT_CNT_GET(t->c.parse_errors);
        o->junk = LT_CNT_GET(t->c.junk);
        o->gaps = LT_CNT_GET(t->c.gaps);
        o->peer_dropped = LT_CNT_GET(t->c.peer_dropped);
        o->dedup = LT_CNT_GET(t->c.dedup);
        o->reconnects = LT_CNT_GET(t->c.reconnects);
        o->transit_ms_sum = LT_CNT_GET(t->c.transit_ms_sum);
        o->transit_n = LT_CNT_GET(t->c.transit_n);
        o->queue_depth = t->q != NULL ? sw_ring_count(t->q) : 0;
        o->queue_blocks = t->q != NULL ? sw_ring_capacity(t->q) : 0;
    }
}
