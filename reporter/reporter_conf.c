/*
 * reporter_conf.c - the "reporter" config section: schema, defaults, peer
 * policy (which incidents a peer wants) and score -> severity.
 *
 * Every key is documented in configs/stanzawatch.yaml with its default; the
 * schema table below is the single source of those defaults.
 * Threading: registration on the control thread; the rest is reentrant.
 */
#include "sw/reporter.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "reporter_int.h"

static const char *const mode_names[] = {"component", "client", NULL};
static const char *const severity_names[] = {"low", "medium", "high", NULL};
static const char *const format_names[] = {"xep0268", "xep0268-iodef2", "xep0377", NULL};

static const struct sw_conf_item peer_schema[] = {
    {.key = "jid",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_reporter_peer, jid),
     .def = NULL,
     .help = "peer's bare JID or domain: where reports go; trusted only from exactly this "
             "bare JID (a domain: from the bare domain, never from accounts at it)"},
    {.key = "senders",
     .type = SW_CONF_STRLIST,
     .offset = offsetof(struct sw_reporter_peer, senders),
     .def = "[]",
     .help = "further bare JIDs trusted as this peer (e.g. an account at a domain peer)"},
    {.key = "send",
     .type = SW_CONF_STRLIST,
     .offset = offsetof(struct sw_reporter_peer, send),
     .def = "[\"*\"]",
     .help = "incident kinds sent to this peer; \"*\" = all"},
    {.key = "min_severity",
     .type = SW_CONF_ENUM,
     .offset = offsetof(struct sw_reporter_peer, min_severity),
     .def = "low",
     .enum_names = severity_names,
     .help = "send only incidents of at least this severity"},
    {.key = "accept",
     .type = SW_CONF_STRLIST,
     .offset = offsetof(struct sw_reporter_peer, accept),
     .def = "[report, inquiry, request, response]",
     .help = "XEP-0268 wrappers accepted from this peer"},
    {.key = "rate_limit",
     .type = SW_CONF_INT,
     .offset = offsetof(struct sw_reporter_peer, rate_limit),
     .min = 1,
     .max = 100000,
     .def = "60",
     .help = "inbound stanzas per minute from this peer (burst of the same size)"},
    {.key = "format",
     .type = SW_CONF_ENUM,
     .offset = offsetof(struct sw_reporter_peer, format),
     .def = "xep0268",
     .enum_names = format_names,
     .help = "what it is sent: xep0268 (IODEF 1.0), xep0268-iodef2 (RFC 7970), xep0377"},
    SW_CONF_END,
};

static const struct sw_conf_item component_schema[] = {
    {.key = "jid",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_reporter_component, jid),
     .def = "incidents.localhost",
     .help = "component JID (XEP-0114)"},
    {.key = "secret",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_reporter_component, secret),
     .def = "",
     .help = "component shared secret"},
    {.key = "host",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_reporter_component, host),
     .def = "127.0.0.1",
     .help = "server address"},
    {.key = "port",
     .type = SW_CONF_INT,
     .offset = offsetof(struct sw_reporter_component, port),
     .min = 1,
     .max = 65535,
     .def = "5347",
     .help = "component port"},
    SW_CONF_END,
};

static const struct sw_conf_item client_schema[] = {
    {.key = "jid",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_reporter_client, jid),
     .def = "",
     .help = "account JID for client mode"},
    {.key = "password",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_reporter_client, password),
     .def = "",
     .help = "account password"},
    {.key = "host",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_reporter_client, host),
     .def = "127.0.0.1",
     .help = "server address"},
    {.key = "port",
     .type = SW_CONF_INT,
     .offset = offsetof(struct sw_reporter_client, port),
     .min = 1,
     .max = 65535,
     .def = "5222",
     .help = "client port"},
    SW_CONF_END,
};

#define OFF(f) offsetof(struct sw_reporter_settings, f)
static const struct sw_conf_item reporter_schema[] = {
    {.key = "enabled",
     .type = SW_CONF_BOOL,
     .offset = OFF(enabled),
     .def = "false",
     .help = "connect to XMPP and send XEP-0268 reports to the peers below"},
    {.key = "domain",
     .type = SW_CONF_STRING,
     .offset = OFF(domain),
     .def = "localhost",
     .help = "our reporting domain (IncidentID@name)"},
    {.key = "admin_jid",
     .type = SW_CONF_STRING,
     .offset = OFF(admin_jid),
     .def = "admin@localhost",
     .help = "admin JID put in every report's Contact"},
    {.key = "mode",
     .type = SW_CONF_ENUM,
     .offset = OFF(mode),
     .def = "component",
     .enum_names = mode_names,
     .help = "connect as an external component or as a client account"},
    {.key = "component",
     .type = SW_CONF_SECTION,
     .offset = OFF(component),
     .def = NULL,
     .sub = component_schema,
     .help = "XEP-0114 component connection"},
    {.key = "client",
     .type = SW_CONF_SECTION,
     .offset = OFF(client),
     .def = NULL,
     .sub = client_schema,
     .help = "client account connection"},
    {.key = "spool_dir",
     .type = SW_CONF_PATH,
     .offset = OFF(spool_dir),
     .def = "/var/spool/stanzawatch/out",
     .help = "durable outbound report spool"},
    {.key = "inbound_dir",
     .type = SW_CONF_PATH,
     .offset = OFF(inbound_dir),
     .def = "/var/spool/stanzawatch/in",
     .help = "store of reports received from peers"},
    {.key = "retry_min",
     .type = SW_CONF_DURATION,
     .offset = OFF(retry_min_ms),
     .min = 100,
     .max = 3600000,
     .def = "2s",
     .help = "first retry delay after an error or timeout"},
    {.key = "retry_max",
     .type = SW_CONF_DURATION,
     .offset = OFF(retry_max_ms),
     .min = 100,
     .max = 86400000,
     .def = "10m",
     .help = "retry delay cap (exponential backoff)"},
    {.key = "ack_timeout",
     .type = SW_CONF_DURATION,
     .offset = OFF(ack_timeout_ms),
     .min = 100,
     .max = 3600000,
     .def = "30s",
     .help = "no iq result within this counts as a failure"},
    {.key = "spool_expire",
     .type = SW_CONF_DURATION,
     .offset = OFF(spool_expire_ms),
     .min = 0,
     .max = 365LL * 86400000,
     .def = "7d",
     .help = "a spooled report not delivered within this is deleted (counted, logged); 0 = never"},
    {.key = "max_inbound_bytes",
     .type = SW_CONF_SIZE,
     .offset = OFF(max_inbound_bytes),
     .min = 1024,
     .max = 16 << 20,
     .def = "64KB",
     .help = "largest inbound stanza accepted"},
    {.key = "max_inbound_depth",
     .type = SW_CONF_INT,
     .offset = OFF(max_inbound_depth),
     .min = 4,
     .max = 256,
     .def = "32",
     .help = "deepest element nesting accepted inbound"},
    {.key = "severity_medium",
     .type = SW_CONF_DOUBLE,
     .offset = OFF(severity_medium),
     .fmin = 0.0,
     .fmax = 1e9,
     .def = "2",
     .help = "incident score from which severity is medium"},
    {.key = "severity_high",
     .type = SW_CONF_DOUBLE,
     .offset = OFF(severity_high),
     .fmin = 0.0,
     .fmax = 1e9,
     .def = "5",
     .help = "incident score from which severity is high"},
    {.key = "peers",
     .type = SW_CONF_LIST,
     .offset = OFF(peers),
     .def = NULL,
     .sub = peer_schema,
     .item_size = sizeof(struct sw_reporter_peer),
     .help = "trusted peers"},
    SW_CONF_END,
};
#undef OFF

int sw_reporter_register_conf(void)
{
    return sw_conf_register("reporter", reporter_schema, sizeof(struct sw_reporter_settings));
}

void sw_reporter_settings_defaults(struct sw_reporter_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->domain = "localhost";
    s->admin_jid = "admin@localhost";
    s->mode = SW_REPORTER_COMPONENT;
    s->component.jid = "incidents.localhost";
    s->component.secret = "";
    s->component.host = "127.0.0.1";
    s->component.port = 5347;
    s->client.jid = "";
    s->client.password = "";
    s->client.host = "127.0.0.1";
    s->client.port = 5222;
    s->spool_dir = "/var/spool/stanzawatch/out";
    s->inbound_dir = "/var/spool/stanzawatch/in";
    s->retry_min_ms = 2000;
    s->retry_max_ms = 600000;
    s->ack_timeout_ms = 30000;
    s->spool_expire_ms = 7LL * 86400000;
    s->max_inbound_bytes = 64 * 1024;
    s->max_inbound_depth = 32;
    s->severity_medium = 2.0;
    s->severity_high = 5.0;
}

const char *sw_severity_name(unsigned sev)
{
    return sev <= SW_SEV_HIGH ? severity_names[sev] : "low";
}

enum sw_severity sw_reporter_severity(const struct sw_reporter_settings *s, int64_t score_milli)
{
    double score = (double)score_milli / 1000.0;
    if (score >= s->severity_high) {
        return SW_SEV_HIGH;
    }
    if (score >= s->severity_medium) {
        return SW_SEV_MEDIUM;
    }
    return SW_SEV_LOW;
}

bool sw_reporter_peer_wants(const struct sw_reporter_settings *s, const struct sw_reporter_peer *p,
                            const struct sw_incident *inc)
{
    if ((int)sw_reporter_severity(s, inc->score_milli) < p->min_severity) {
        return false;
    }
    if (p->send.n == 0) {
        return true;
    }
    for (size_t i = 0; i < p->send.n; i++) {
        const char *k = p->send.v[i];
        if (strcmp(k, "*") == 0 || (inc->kind != NULL && strcmp(k, inc->kind) == 0)) {
            return true;
        }
    }
    return false;
}

/* Is @jid (configured, bare) the bare part of @from, all of it? No copy, so no
 * length limit can cut @from short. */
static bool bare_is(const char *jid, const char *from)
{
    size_t bl = strcspn(from, "/");
    return jid != NULL && strlen(jid) == bl && strncasecmp(jid, from, bl) == 0;
}

int sw_reporter_find_peer(const struct sw_reporter_settings *s, const char *from)
{
    const struct sw_reporter_peer *peers = s->peers.items;
    for (size_t i = 0; from != NULL && i < s->peers.n; i++) {
        if (bare_is(peers[i].jid, from)) {
            return (int)i;
        }
        for (size_t j = 0; j < peers[i].senders.n; j++) {
            if (bare_is(peers[i].senders.v[j], from)) {
                return (int)i;
            }
        }
    }
    return -1;
}
