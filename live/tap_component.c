/*
 * tap_component.c - the component tap: an XEP-0114 component (libstrophe)
 * that receives the server's stanza mirror, e.g. Prosody's mod_firewall
 * FORWARD rules (deploy/prosody/mirror.pfw): <message from='HOST'
 * to='COMPONENT'><forwarded xmlns='urn:xmpp:forward:0'>STANZA</forwarded>.
 *
 * One thread per tap owns its own libstrophe context and connection (never
 * the reporter's: libstrophe is not thread-safe). Every stanza received is
 * serialised (xmpp_stanza_to_text) and queued whole (lt_tap_stanza); the
 * parser unwraps the FORWARD wrapper (SW_F_FORWARDED) and, as FORWARD adds no
 * <delay/>, dates the event with its arrival time. The queue is flushed
 * after each xmpp_run_once round.
 *
 * Connection: xmpp_connect_component plus the libstrophe 0.12 workaround
 * (xmpp_connect_client on the same conn, expected XMPP_EINVOP, allocates the
 * stream-management state; see reporter/xmpp.c). Lost or refused connections
 * are retried with backoff (0.5 s doubling to 30 s, reset once connected);
 * stream errors (conflict: another component holds the JID; not-authorized:
 * wrong secret) are logged with their condition.
 *
 * Threading: the tap thread only; counters as in live_int.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strophe.h>
#include <sys/prctl.h>

#include "live_int.h"
#include "sw/log.h"

#define CT_RUN_MS 50
#define CT_BACKOFF_MIN_MS 500
#define CT_BACKOFF_MAX_MS 30000

struct ct_tap {
    struct lt_tap *t;
    char host[256];
    unsigned short port;
    xmpp_log_t log; /* must outlive ctx */
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;
    bool connected, dead;
    int64_t next_ms, backoff_ms;
    uint64_t attempts;
};

static const char *ct_error_name(xmpp_error_type_t e)
{
    switch (e) {
    case XMPP_SE_CONFLICT:
        return "conflict (another component is connected with this JID)";
    case XMPP_SE_NOT_AUTHORIZED:
        return "not-authorized (wrong secret?)";
    case XMPP_SE_HOST_UNKNOWN:
        return "host-unknown (the server has no such component)";
    case XMPP_SE_INVALID_NS:
        return "invalid-namespace";
    case XMPP_SE_SYSTEM_SHUTDOWN:
        return "system-shutdown";
    default:
        return "stream error";
    }
}

static int ct_on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *ud)
{
    struct ct_tap *ct = ud;
    char *buf = NULL;
    size_t len = 0;
    (void)conn;
    if (xmpp_stanza_to_text(stanza, &buf, &len) == XMPP_EOK && buf != NULL) {
        LT_CNT_ADD(ct->t->c.bytes, len);
        lt_tap_stanza(ct->t, buf, len);
        xmpp_free(ct->ctx, buf);
    }
    return 1; /* keep the handler */
}

static void ct_on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err, xmpp_stream_error_t *se,
                       void *ud)
{
    struct ct_tap *ct = ud;
    struct lt_tap *t = ct->t;
    if (ev == XMPP_CONN_CONNECT) {
        ct->connected = true;
        ct->backoff_ms = CT_BACKOFF_MIN_MS;
        xmpp_handler_add(conn, ct_on_stanza, NULL, NULL, NULL, ct);
        LT_CNT_ADD(t->c.connections, 1);
        LT_CNT_SET(t->c.open, 1);
        sw_log_info("tap", "%s: connected as component %s to %s:%u", t->name, t->s->jid, ct->host,
                    (unsigned)ct->port);
        return;
    }
    if (atomic_load_explicit(&t->stop, memory_order_acquire)) {
        /* our own disconnect at stop (SIGTERM, or a reload stopping the tap) */
        if (ct->connected) {
            sw_log_info("tap", "%s: disconnected (tap stopping)", t->name);
        }
    } else if (se != NULL) {
        sw_log_warn("tap", "%s: %s%s%s", t->name, ct_error_name(se->type), se->text ? ": " : "",
                    se->text ? se->text : "");
    } else if (ct->connected) {
        sw_log_warn("tap", "%s: disconnected (error %d); reconnecting", t->name, err);
    } else if (ct->attempts <= 1 || ct->attempts % 10 == 0) {
        sw_log_info("tap", "%s: cannot connect to %s:%u (error %d); retrying", t->name, ct->host,
                    (unsigned)ct->port, err);
    }
    if (ct->connected) {
        LT_CNT_SET(t->c.open, 0);
    }
    ct->connected = false;
    ct->dead = true;
}

static void ct_log(void *ud, xmpp_log_level_t level, const char *area, const char *msg)
{
    struct ct_tap *ct = ud;
    if (level >= XMPP_LEVEL_ERROR) {
        sw_log_warn("tap", "%s: libstrophe %s: %s", ct->t->name, area, msg);
    }
}

static void ct_connect(struct ct_tap *ct, int64_t now)
{
    struct lt_tap *t = ct->t;
    if (ct->attempts++ > 0) {
        LT_CNT_ADD(t->c.reconnects, 1);
    }
    ct->dead = false;
    ct->conn = xmpp_conn_new(ct->ctx);
    int rc = XMPP_EMEM;
    if (ct->conn != NULL) {
        xmpp_conn_set_jid(ct->conn, t->s->jid);
        xmpp_conn_set_pass(ct->conn, t->s->secret);
        rc = xmpp_connect_component(ct->conn, ct->host, ct->port, ct_on_conn, ct);
        if (rc == XMPP_EOK) {
            /* libstrophe 0.12: allocates the SM state component conns lack */
            (void)xmpp_connect_client(ct->conn, ct->host, ct->port, ct_on_conn, ct);
        }
    }
    if (rc != XMPP_EOK) {
        ct->dead = true;
    }
    ct->next_ms = now + ct->backoff_ms;
    ct->backoff_ms =
        ct->backoff_ms * 2 > CT_BACKOFF_MAX_MS ? CT_BACKOFF_MAX_MS : ct->backoff_ms * 2;
}

static void *ct_main(void *arg)
{
    struct lt_tap *t = arg;
    struct ct_tap *ct = t->impl;
    char tn[16];
    snprintf(tn, sizeof(tn), "sw-tap/%u", t->idx);
    (void)prctl(PR_SET_NAME, tn, 0, 0, 0);
    ct->backoff_ms = CT_BACKOFF_MIN_MS;
    while (!atomic_load_explicit(&t->stop, memory_order_acquire)) {
        int64_t now = sw_wall_ms();
        if (ct->conn != NULL && ct->dead) {
            xmpp_conn_release(ct->conn);
            ct->conn = NULL;
        }
        if (ct->conn == NULL && now >= ct->next_ms) {
            ct_connect(ct, now);
        }
        xmpp_run_once(ct->ctx, CT_RUN_MS);
        lt_queue_flush_lazy(t, true);
    }
    if (ct->conn != NULL) {
        if (ct->connected) {
            xmpp_disconnect(ct->conn);
            for (int i = 0; i < 10 && ct->connected; i++) {
                xmpp_run_once(ct->ctx, CT_RUN_MS);
            }
        }
        xmpp_conn_release(ct->conn);
        ct->conn = NULL;
    }
    lt_queue_flush(t);
    atomic_store_explicit(&t->stopped, true, memory_order_release);
    return NULL;
}

int lt_component_prepare(struct lt_tap *t, struct sw_errbuf *eb)
{
    const struct sw_live_tap_settings *s = t->s;
    if (s->address == NULL || s->jid == NULL || s->secret == NULL) {
        return sw_errbuf_set(eb, SW_ECONF, "tap %s: type component needs address, jid and secret",
                             t->name);
    }
    const char *colon = strrchr(s->address, ':');
    char *end = NULL;
    long port = colon != NULL ? strtol(colon + 1, &end, 10) : 0;
    if (colon == NULL || colon == s->address || end == NULL || *end != '\0' || port < 1 ||
        port > 65535 || (size_t)(colon - s->address) >= 256) {
        return sw_errbuf_set(eb, SW_ECONF, "tap %s: address '%s': expected HOST:PORT", t->name,
                             s->address);
    }
    struct ct_tap *ct = calloc(1, sizeof(*ct));
    if (ct == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
    }
    t->impl = ct;
    ct->t = t;
    memcpy(ct->host, s->address, (size_t)(colon - s->address));
    ct->port = (unsigned short)port;
    xmpp_initialize();
    ct->log.handler = ct_log;
    ct->log.userdata = ct;
    ct->ctx = xmpp_ctx_new(NULL, &ct->log);
    if (ct->ctx == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "tap %s: xmpp_ctx_new failed", t->name);
    }
    return 0;
}

int lt_component_run(struct lt_tap *t, struct sw_errbuf *eb)
{
    if (pthread_create(&t->th, NULL, ct_main, t) != 0) {
        return sw_errbuf_set(eb, SW_ENOMEM, "tap %s: cannot start its thread", t->name);
    }
    atomic_store_explicit(&t->started, true, memory_order_release);
    return 0;
}

void lt_component_fini(struct lt_tap *t)
{
    struct ct_tap *ct = t->impl;
    if (ct == NULL) {
        return;
    }
    if (ct->ctx != NULL) {
        xmpp_ctx_free(ct->ctx);
        xmpp_shutdown();
    }
    free(ct);
    t->impl = NULL;
}
