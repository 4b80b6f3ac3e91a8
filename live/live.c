/*
 * live.c - the live tap set (include/sw/live.h): config sections "taps" and
 * "metrics", starting and stopping the taps, their counters.
 *
 * Reload (SIGHUP, through cli/cmd_run.c): sw_live_reload_prepare builds the
 * new set beside the running one (unchanged taps kept as they are, fresh
 * ones prepared: sockets bound, addresses checked) and refuses the whole
 * config on any error with nothing touched; sw_live_reload_commit stops the
 * removed and changed taps (each reads what its peers had sent, flushes,
 * and its queue is drained into the pipeline before it is freed), starts
 * the fresh ones and publishes the set; sw_live_reload_abort drops a plan
 * (the detectors refused the config).
 *
 * Threading: control thread, except sw_live_count/sw_live_get_stats (any
 * thread: under set_mu, relaxed loads of single-writer counters).
 * Ownership: sw_live_new/sw_live_free; the mux tap ops point into the set;
 * every tap owns a copy of its settings.
 */
#include "sw/live.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
/* one tap                                                             */

/* A prepared reload (sw_live_reload_prepare): the next active list, in
 * config order, made of kept taps (the running object) and fresh ones
 * (prepared, not started); the running taps it stops (removed or changed);
 * for each fresh tap the tap it replaces (same name) or NULL. */
struct lt_plan {
    size_t n;
    struct lt_tap **next;
    struct lt_tap **replaces; /* [n]: fresh: the changed tap it replaces; kept: NULL */
    bool *fresh;              /* [n] */
    size_t n_retire;
    struct lt_tap **retire;
};

static char *dup_or_null(const char *s, bool *oom)
{
    if (s == NULL) {
        return NULL;
    }
    char *d = strdup(s);
    if (d == NULL) {
        *oom = true;
    }
    return d;
}

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL || a[0] == '\0') ? (b == NULL || b[0] == '\0')
                                       : (b != NULL && strcmp(a, b) == 0);
}

/* Same settings: the running tap is kept as it is. */
static bool tap_settings_eq(const struct sw_live_tap_settings *a,
                            const struct sw_live_tap_settings *b)
{
    return a->type == b->type && str_eq(a->listen, b->listen) && str_eq(a->address, b->address) &&
           str_eq(a->jid, b->jid) && str_eq(a->secret, b->secret) &&
           a->queue_bytes == b->queue_bytes && a->max_connections == b->max_connections &&
           a->idle_timeout_ms == b->idle_timeout_ms && a->dedup_ms == b->dedup_ms;
}

static void tap_free(struct lt_tap *t)
{
    if (t == NULL) {
        return;
    }
    if (t->s->type == SW_LIVE_TAP_SOCKET) {
        lt_socket_fini(t);
    } else {
        lt_component_fini(t);
    }
    if (t->wake_fd >= 0) {
        close(t->wake_fd);
    }
    lt_queue_fini(t);
    free(t->own.name);
    free(t->own.listen);
    free(t->own.address);
    free(t->own.jid);
    free(t->own.secret);
    free(t);
}

/* Item @i of a "taps" list as a tap object (queue allocated, nothing
 * started); its name is the configured one or "<type><i>". */
static int tap_new(struct sw_live *l, const struct sw_live_tap_settings *s, size_t i,
                   struct lt_tap **out, struct sw_errbuf *eb)
{
    struct lt_tap *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
    }
    bool oom = false;
    t->own = *s;
    t->own.name = dup_or_null(s->name, &oom);
    t->own.listen = dup_or_null(s->listen, &oom);
    t->own.address = dup_or_null(s->address, &oom);
    t->own.jid = dup_or_null(s->jid, &oom);
    t->own.secret = dup_or_null(s->secret, &oom);
    t->s = &t->own;
    t->live = l;
    t->idx = l->next_idx++;
    t->wake_fd = -1;
    t->type_name = tap_type_names[s->type];
    if (s->name != NULL && s->name[0] != '\0') {
        snprintf(t->name, sizeof(t->name), "%s", s->name);
    } else {
        snprintf(t->name, sizeof(t->name), "%s%zu", t->type_name, i);
    }
    atomic_init(&t->started, false);
    atomic_init(&t->stop, false);
    atomic_init(&t->stopped, false);
    /* a wrapped stanza is at most max_stanza_bytes (bigger ones are skipped) */
    int rc = oom ? SW_ENOMEM
                 : lt_queue_init(t, (size_t)s->queue_bytes, (size_t)l->lim->max_stanza_bytes + 64);
    if (rc < 0) {
        tap_free(t);
        return sw_errbuf_set(eb, rc, "tap %s: cannot allocate its queue", t->name);
    }
    *out = t;
    return 0;
}

static void tap_signal_stop(struct lt_tap *t)
{
    atomic_store_explicit(&t->stop, true, memory_order_release);
    if (t->wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(t->wake_fd, &one, sizeof(one));
        (void)w;
    }
}

/* Control thread: wait for a stopping tap's thread (it flushed its last block). */
static void tap_join(struct sw_live *l, struct lt_tap *t)
{
    if (atomic_load_explicit(&t->started, memory_order_acquire)) {
        pthread_join(t->th, NULL);
        pthread_mutex_lock(&l->set_mu);
        atomic_store_explicit(&t->started, false, memory_order_release);
        pthread_mutex_unlock(&l->set_mu);
    }
}

static int tap_run(struct lt_tap *t, struct sw_errbuf *eb)
{
    return t->s->type == SW_LIVE_TAP_SOCKET ? lt_socket_run(t, eb) : lt_component_run(t, eb);
}

/* ------------------------------------------------------------------ */
/* the set                                                             */

/* Free the retired taps whose queue the mux has emptied (their threads are
 * joined). Control thread; returns how many are left. */
static size_t live_reap(struct sw_live *l)
{
    struct lt_tap *done = NULL;
    size_t left = 0;
    pthread_mutex_lock(&l->set_mu);
    for (struct lt_tap **pp = &l->retired; *pp != NULL;) {
        struct lt_tap *t = *pp;
        if (!atomic_load_explicit(&t->started, memory_order_acquire) && sw_ring_count(t->q) == 0) {
            *pp = t->next;
            l->gone_bytes += LT_CNT_GET(t->c.bytes);
            t->next = done;
            done = t;
        } else {
            pp = &t->next;
            left++;
        }
    }
    pthread_mutex_unlock(&l->set_mu);
    while (done != NULL) {
        struct lt_tap *t = done;
        done = t->next;
        tap_free(t);
    }
    return left;
}

static void plan_free(struct sw_live *l, struct lt_plan *pl, bool abort)
{
    if (pl == NULL) {
        return;
    }
    for (size_t i = 0; abort && i < pl->n; i++) {
        if (pl->fresh[i]) {
            tap_free(pl->next[i]);
        }
    }
    free(pl->next);
    free(pl->replaces);
    free(pl->fresh);
    free(pl->retire);
    free(pl);
    (void)l;
}

void sw_live_free(struct sw_live *l)
{
    if (l == NULL) {
        return;
    }
    plan_free(l, l->plan, true);
    for (size_t i = 0; i < l->n; i++) {
        tap_signal_stop(l->taps[i]);
    }
    for (size_t i = 0; i < l->n; i++) {
        tap_join(l, l->taps[i]);
    }
    for (struct lt_tap *t = l->retired; t != NULL; t = t->next) {
        tap_join(l, t);
    }
    for (size_t i = 0; i < l->n; i++) {
        tap_free(l->taps[i]);
    }
    while (l->retired != NULL) {
        struct lt_tap *t = l->retired;
        l->retired = t->next;
        tap_free(t);
    }
    free(l->taps);
    free(l->dd_key);
    free(l->dd_ms);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->set_mu);
    free(l);
}

/*
 * Build the tap set @ts describes against the running one (l->taps, empty at
 * start): an item whose name and settings match a running tap keeps it; any
 * other item becomes a fresh tap, prepared (socket bound, component address
 * checked) but not started. A socket tap listening where a running tap that
 * goes away listens takes that listener over (a dup: no moment without a
 * listener, no unlink of the path). Nothing running is touched, so an error
 * leaves everything as it was.
 */
static int live_plan(struct sw_live *l, const struct sw_conf *conf,
                     const struct sw_live_taps_settings *ts, struct lt_plan **out,
                     struct sw_errbuf *eb)
{
    int rc;
    if (ts->taps.n == 0) {
        return sw_errbuf_set(eb, SW_ECONF,
                             "%s: no taps: `run` needs a 'taps:' list (see configs/live.yaml)",
                             sw_conf_path(conf));
    }
    struct lt_plan *pl = calloc(1, sizeof(*pl));
    if (pl == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
    }
    size_t n = ts->taps.n;
    pl->next = calloc(n, sizeof(*pl->next));
    pl->replaces = calloc(n, sizeof(*pl->replaces));
    pl->fresh = calloc(n, sizeof(*pl->fresh));
    pl->retire = calloc(l->n ? l->n : 1, sizeof(*pl->retire));
    if (pl->next == NULL || pl->replaces == NULL || pl->fresh == NULL || pl->retire == NULL) {
        rc = sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
        goto fail;
    }
    const struct sw_live_tap_settings *items = ts->taps.items;
    for (size_t i = 0; i < n; i++) {
        const struct sw_live_tap_settings *s = &items[i];
        char nm[64];
        if (s->name != NULL && s->name[0] != '\0') {
            snprintf(nm, sizeof(nm), "%s", s->name);
        } else {
            snprintf(nm, sizeof(nm), "%s%zu", tap_type_names[s->type], i);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(pl->next[j]->name, nm) == 0) {
                rc = sw_errbuf_set(eb, SW_ECONF, "taps[%zu]: name '%s' used twice", i, nm);
                goto fail;
            }
            if (s->type == SW_LIVE_TAP_SOCKET && pl->next[j]->s->type == SW_LIVE_TAP_SOCKET &&
                s->listen != NULL && str_eq(pl->next[j]->s->listen, s->listen)) {
                rc = sw_errbuf_set(eb, SW_ECONF, "taps[%zu]: listen '%s' used twice", i, s->listen);
                goto fail;
            }
        }
        struct lt_tap *old = NULL;
        for (size_t k = 0; k < l->n; k++) {
            if (strcmp(l->taps[k]->name, nm) == 0) {
                old = l->taps[k];
            }
        }
        if (old != NULL && tap_settings_eq(old->s, s)) {
            pl->next[i] = old;
            pl->n = i + 1;
            continue;
        }
        rc = tap_new(l, s, i, &pl->next[i], eb);
        if (rc < 0) {
            goto fail;
        }
        pl->fresh[i] = true;
        pl->replaces[i] = old;
        pl->n = i + 1;
    }
    /* running taps not kept stop; fresh ones are prepared, a socket tap on a
     * listener of a tap that stops inherits it */
    for (size_t k = 0; k < l->n; k++) {
        bool kept = false;
        for (size_t i = 0; i < n && !kept; i++) {
            kept = pl->next[i] == l->taps[k];
        }
        if (!kept) {
            pl->retire[pl->n_retire++] = l->taps[k];
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct lt_tap *t = pl->next[i];
        if (!pl->fresh[i]) {
            continue;
        }
        if (t->s->type == SW_LIVE_TAP_SOCKET) {
            int lfd = -1;
            for (size_t r = 0; r < pl->n_retire && t->s->listen != NULL; r++) {
                struct lt_tap *o = pl->retire[r];
                if (o->s->type == SW_LIVE_TAP_SOCKET && str_eq(o->s->listen, t->s->listen) &&
                    lt_socket_lfd(o) != -1) {
                    lfd = fcntl(lt_socket_lfd(o), F_DUPFD_CLOEXEC, 0);
                    if (lfd == -1) {
                        rc = sw_errbuf_set(eb, SW_EIO, "tap %s: dup listener: %s", t->name,
                                           strerror(errno));
                        goto fail;
                    }
                }
            }
            rc = lt_socket_prepare(t, lfd, eb);
        } else {
            rc = lt_component_prepare(t, eb);
        }
        if (rc < 0) {
            goto fail;
        }
    }
    *out = pl;
    return 0;
fail:
    plan_free(l, pl, true);
    return rc;
}

/* Apply a plan: stop the taps that go (they read what their peers had sent
 * and flush it; the mux drains their queues), then start the fresh ones
 * (a changed tap's counters carry on under its name), publish the new list
 * and free the stopped taps once drained (waiting up to @drain_ms). */
static int live_apply(struct sw_live *l, struct lt_plan *pl, int64_t drain_ms, struct sw_errbuf *eb)
{
    int rc = 0;
    pthread_mutex_lock(&l->set_mu);
    /* the running list without the taps that go, until the fresh ones run */
    size_t m = 0;
    for (size_t k = 0; k < l->n; k++) {
        bool going = false;
        for (size_t r = 0; r < pl->n_retire && !going; r++) {
            going = pl->retire[r] == l->taps[k];
        }
        if (!going) {
            l->taps[m++] = l->taps[k];
        }
    }
    l->n = m;
    for (size_t r = 0; r < pl->n_retire; r++) {
        struct lt_tap *o = pl->retire[r];
        o->next = l->retired;
        l->retired = o;
    }
    pthread_mutex_unlock(&l->set_mu);
    for (size_t r = 0; r < pl->n_retire; r++) {
        struct lt_tap *o = pl->retire[r];
        for (size_t i = 0; i < pl->n; i++) {
            if (pl->fresh[i] && o->s->type == SW_LIVE_TAP_SOCKET &&
                pl->next[i]->s->type == SW_LIVE_TAP_SOCKET &&
                str_eq(o->s->listen, pl->next[i]->s->listen)) {
                lt_socket_keep_path(o, true);            /* the successor listens there */
                lt_socket_keep_path(pl->next[i], false); /* and owns the path from now on */
            }
        }
        tap_signal_stop(o);
    }
    for (size_t r = 0; r < pl->n_retire; r++) {
        tap_join(l, pl->retire[r]);
    }
    bool stopping = atomic_load_explicit(&l->stopping, memory_order_acquire);
    for (size_t i = 0; i < pl->n; i++) {
        struct lt_tap *t = pl->next[i];
        if (!pl->fresh[i]) {
            continue;
        }
        if (pl->replaces[i] != NULL) {
            /* counters go on under the same name (Prometheus sees no reset);
             * the old thread is joined, the mux may still bump its dedup */
            const uint64_t *src = (const uint64_t *)&pl->replaces[i]->c;
            uint64_t *dst = (uint64_t *)&t->c;
            for (size_t k = 0; k < sizeof(t->c) / sizeof(uint64_t); k++) {
                LT_CNT_SET(dst[k], LT_CNT_GET(src[k]));
            }
            LT_CNT_SET(t->c.open, 0);
        }
        if (!stopping && rc == 0) {
            rc = tap_run(t, eb);
        }
    }
    pthread_mutex_lock(&l->set_mu);
    struct lt_tap **nt = l->n >= pl->n ? l->taps : realloc(l->taps, pl->n * sizeof(*nt));
    if (nt != NULL) {
        l->taps = nt;
        memcpy(l->taps, pl->next, pl->n * sizeof(*nt));
        l->n = pl->n;
    }
    pthread_mutex_unlock(&l->set_mu);
    if (nt == NULL) {
        /* cannot grow the array: the fresh taps stop and go with the retired */
        for (size_t i = 0; i < pl->n; i++) {
            if (pl->fresh[i]) {
                tap_signal_stop(pl->next[i]);
                tap_join(l, pl->next[i]);
                pthread_mutex_lock(&l->set_mu);
                pl->next[i]->next = l->retired;
                l->retired = pl->next[i];
                pthread_mutex_unlock(&l->set_mu);
            }
        }
        rc = rc < 0 ? rc : sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
    }
    int64_t until = sw_wall_ms() + drain_ms;
    while (live_reap(l) > 0 && sw_wall_ms() < until) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return rc;
}

int sw_live_new(const struct sw_conf *conf, struct sw_live **out, struct sw_tap_ops *tap,
                struct sw_errbuf *eb)
{
    const struct sw_live_taps_settings *ts = sw_conf_section(conf, "taps");
    const struct sw_limits_settings *lim = sw_conf_section(conf, "limits");
    if (ts == NULL || lim == NULL) {
        return sw_errbuf_set(eb, SW_ECONF, "live: sections taps/limits not registered");
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
    struct lt_plan *pl = NULL;
    int rc = live_plan(l, conf, ts, &pl, eb);
    if (rc == 0) {
        rc = live_apply(l, pl, 0, eb);
        plan_free(l, pl, false);
    }
    if (rc < 0) {
        sw_live_free(l);
        return rc;
    }
    lt_mux_ops(l, tap);
    *out = l;
    return 0;
}

static const char *tap_summary(const struct lt_tap *t, char *buf, size_t cap)
{
    if (t->s->type == SW_LIVE_TAP_SOCKET) {
        snprintf(buf, cap, "socket on %s", t->s->listen ? t->s->listen : "?");
    } else {
        snprintf(buf, cap, "component %s via %s", t->s->jid ? t->s->jid : "?",
                 t->s->address ? t->s->address : "?");
    }
    return buf;
}

int sw_live_reload_prepare(struct sw_live *l, const struct sw_conf *conf, struct sw_errbuf *eb)
{
    const struct sw_live_taps_settings *ts = sw_conf_section(conf, "taps");
    if (ts == NULL) {
        return sw_errbuf_set(eb, SW_ECONF, "live: section taps not registered");
    }
    plan_free(l, l->plan, true);
    l->plan = NULL;
    return live_plan(l, conf, ts, &l->plan, eb);
}

void sw_live_reload_abort(struct sw_live *l)
{
    plan_free(l, l->plan, true);
    l->plan = NULL;
}

int sw_live_reload_commit(struct sw_live *l, struct sw_errbuf *eb)
{
    struct lt_plan *pl = l->plan;
    char what[320];
    if (pl == NULL) {
        return 0;
    }
    l->plan = NULL;
    size_t kept = 0;
    for (size_t r = 0; r < pl->n_retire; r++) {
        const struct lt_tap *o = pl->retire[r];
        bool changed = false;
        for (size_t i = 0; i < pl->n && !changed; i++) {
            changed = pl->replaces[i] == o;
        }
        if (!changed) {
            sw_log_info("tap",
                        "%s: removed by the reload (%s): stopping; what it queued is "
                        "still processed",
                        o->name, tap_summary(o, what, sizeof(what)));
        }
    }
    for (size_t i = 0; i < pl->n; i++) {
        const struct lt_tap *t = pl->next[i];
        if (!pl->fresh[i]) {
            kept++;
        } else if (pl->replaces[i] != NULL) {
            sw_log_info("tap", "%s: settings changed by the reload: restarting (%s)", t->name,
                        tap_summary(t, what, sizeof(what)));
        } else {
            sw_log_info("tap", "%s: added by the reload (%s)", t->name,
                        tap_summary(t, what, sizeof(what)));
        }
    }
    int rc = live_apply(l, pl, 2000, eb);
    sw_log_info("tap", "reload: %zu tap(s) running, %zu unchanged, %zu started, %zu stopped", pl->n,
                kept, pl->n - kept, pl->n_retire);
    plan_free(l, pl, false);
    return rc;
}

size_t sw_live_count(const struct sw_live *l)
{
    if (l == NULL) {
        return 0;
    }
    struct sw_live *m = (struct sw_live *)l; /* the lock, not the set, changes */
    pthread_mutex_lock(&m->set_mu);
    size_t n = l->n;
    pthread_mutex_unlock(&m->set_mu);
    return n;
}

size_t sw_live_get_stats(const struct sw_live *l, struct sw_live_tap_stats *st, size_t cap)
{
    if (l == NULL) {
        return 0;
    }
    struct sw_live *m = (struct sw_live *)l;
    pthread_mutex_lock(&m->set_mu);
    size_t n = l->n < cap ? l->n : cap;
    for (size_t i = 0; i < n; i++) {
        const struct lt_tap *t = l->taps[i];
        struct sw_live_tap_stats *o = &st[i];
        memset(o, 0, sizeof(*o));
        snprintf(o->name, sizeof(o->name), "%s", t->name);
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
    pthread_mutex_unlock(&m->set_mu);
    return n;
}
