/*
 * share_conf.c - the "share" config section (RTBL, feeds, consumed lists):
 * schema tables, the single source of the defaults documented in
 * configs/stanzawatch.yaml. Threading: registration on the control thread.
 */
#include "sw/share.h"

#include <stddef.h>

static const char *const payload_names[] = {"xep0377", "iodef", "iodef2", "summary", NULL};
static const char *const access_names[] = {"open", "presence", "whitelist", NULL};

#define NOFF(f) offsetof(struct sw_share_node, f)
#define NODE_COMMON(payload_def, ttl_def)                                                          \
    {.key = "kinds",                                                                               \
     .type = SW_CONF_STRLIST,                                                                      \
     .offset = NOFF(kinds),                                                                        \
     .def = "[\"*\"]",                                                                             \
     .help = "incident kinds published (\"*\" = all)"},                                            \
        {.key = "offender_kinds",                                                                  \
         .type = SW_CONF_STRLIST,                                                                  \
         .offset = NOFF(offender_kinds),                                                           \
         .def = "[\"*\"]",                                                                         \
         .help = "offender kinds published: account, domain (\"*\" = both)"},                      \
        {.key = "min_score",                                                                       \
         .type = SW_CONF_DOUBLE,                                                                   \
         .offset = NOFF(min_score),                                                                \
         .fmin = 0.0,                                                                              \
         .fmax = 1e9,                                                                              \
         .def = "5",                                                                               \
         .help = "publish only incidents whose score reached this"},                               \
        {.key = "payload",                                                                         \
         .type = SW_CONF_ENUM,                                                                     \
         .offset = NOFF(payload),                                                                  \
         .def = payload_def,                                                                       \
         .enum_names = payload_names,                                                              \
         .help = "item payload: xep0377, iodef, iodef2 (RFC 7970) or summary"},                    \
        {.key = "access_model",                                                                    \
         .type = SW_CONF_ENUM,                                                                     \
         .offset = NOFF(access_model),                                                             \
         .def = "open",                                                                            \
         .enum_names = access_names,                                                               \
         .help = "node access model set on the service: open, presence, whitelist"},               \
        {.key = "whitelist",                                                                       \
         .type = SW_CONF_STRLIST,                                                                  \
         .offset = NOFF(whitelist),                                                                \
         .def = "[]",                                                                              \
         .help = "JIDs made members of the node (who may read a whitelist node)"},                 \
        {.key = "subscribers",                                                                     \
         .type = SW_CONF_STRLIST,                                                                  \
         .offset = NOFF(subscribers),                                                              \
         .def = "[]",                                                                              \
         .help = "JIDs we subscribe to the node as its owner (e.g. our MUC host)"},                \
        {.key = "ttl",                                                                             \
         .type = SW_CONF_DURATION,                                                                 \
         .offset = NOFF(ttl_ms),                                                                   \
         .min = 1000,                                                                              \
         .max = 366LL * 86400000,                                                                  \
         .def = ttl_def,                                                                           \
         .help = "an item is retracted this long after the last offence (n-th: ttl * 2^(n-1))"},   \
    {                                                                                              \
        .key = "ttl_max", .type = SW_CONF_DURATION, .offset = NOFF(ttl_max_ms), .min = 1000,       \
        .max = 3660LL * 86400000, .def = "30d", .help = "cap of the repeat-offender listing time"  \
    }

static const struct sw_conf_item rtbl_schema[] = {
    {.key = "enabled",
     .type = SW_CONF_BOOL,
     .offset = NOFF(enabled),
     .def = "false",
     .help = "publish the real-time block list"},
    {.key = "node",
     .type = SW_CONF_STRING,
     .offset = NOFF(node),
     .def = "muc_bans_sha256",
     .help = "RTBL node (mod_muc_rtbl's default name)"},
    NODE_COMMON("xep0377", "1d"),
    SW_CONF_END,
};

static const struct sw_conf_item feed_schema[] = {
    {.key = "node",
     .type = SW_CONF_STRING,
     .offset = NOFF(node),
     .def = NULL,
     .help = "feed node name"},
    {.key = "retract_on_close",
     .type = SW_CONF_BOOL,
     .offset = NOFF(retract_on_close),
     .def = "true",
     .help = "retract an incident's item when it closes (else it stays until ttl)"},
    NODE_COMMON("iodef", "1d"),
    SW_CONF_END,
};
#undef NOFF

#define SOFF(f) offsetof(struct sw_share_source, f)
static const struct sw_conf_item source_schema[] = {
    {.key = "name",
     .type = SW_CONF_STRING,
     .offset = SOFF(name),
     .def = NULL,
     .help = "short name ([A-Za-z0-9_-]): log label and state file name"},
    {.key = "service",
     .type = SW_CONF_STRING,
     .offset = SOFF(service),
     .def = NULL,
     .help = "pubsub service JID of the list"},
    {.key = "node",
     .type = SW_CONF_STRING,
     .offset = SOFF(node),
     .def = "muc_bans_sha256",
     .help = "pubsub node of the list"},
    {.key = "weight",
     .type = SW_CONF_DOUBLE,
     .offset = SOFF(weight),
     .fmin = 0.0,
     .fmax = 100.0,
     .def = "1",
     .help = "how much a listing here counts (scales share.listed_score)"},
    SW_CONF_END,
};
#undef SOFF

#define OFF(f) offsetof(struct sw_share_settings, f)
static const struct sw_conf_item share_schema[] = {
    {.key = "service",
     .type = SW_CONF_STRING,
     .offset = OFF(service),
     .def = "pubsub.localhost",
     .help = "our pubsub service (e.g. Prosody's pubsub component); we must be its admin"},
    {.key = "state_dir",
     .type = SW_CONF_PATH,
     .offset = OFF(state_dir),
     .def = "/var/lib/stanzawatch/share",
     .help = "published items and consumed lists, kept across restarts"},
    {.key = "rtbl",
     .type = SW_CONF_SECTION,
     .offset = OFF(rtbl),
     .def = NULL,
     .sub = rtbl_schema,
     .help = "real-time block list"},
    {.key = "feeds",
     .type = SW_CONF_LIST,
     .offset = OFF(feeds),
     .def = NULL,
     .sub = feed_schema,
     .item_size = sizeof(struct sw_share_node),
     .help = "per-audience incident feeds"},
    {.key = "sources",
     .type = SW_CONF_LIST,
     .offset = OFF(sources),
     .def = NULL,
     .sub = source_schema,
     .item_size = sizeof(struct sw_share_source),
     .help = "block lists and feeds consumed as a weighted signal"},
    {.key = "allow",
     .type = SW_CONF_STRLIST,
     .offset = OFF(allow),
     .def = "[]",
     .help = "bare JIDs or domains never published (retracted if listed)"},
    {.key = "reports_from",
     .type = SW_CONF_STRLIST,
     .offset = OFF(reports_from),
     .def = "[]",
     .help = "JIDs trusted to forward XEP-0377 spam reports to us (the local server's host)"},
    {.key = "report_weight",
     .type = SW_CONF_DOUBLE,
     .offset = OFF(report_weight),
     .fmin = 0.0,
     .fmax = 100.0,
     .def = "0.5",
     .help = "weight of one distinct reporter (scales listed_score)"},
    {.key = "report_max",
     .type = SW_CONF_INT,
     .offset = OFF(report_max),
     .min = 1,
     .max = 64,
     .def = "4",
     .help = "distinct reporters of one account counted at most"},
    {.key = "report_ttl",
     .type = SW_CONF_DURATION,
     .offset = OFF(report_ttl_ms),
     .min = 1000,
     .max = 30LL * 86400000,
     .def = "1d",
     .help = "how long a spam report counts"},
    {.key = "listed_score",
     .type = SW_CONF_DOUBLE,
     .offset = OFF(listed_score),
     .fmin = 0.0,
     .fmax = 1e9,
     .def = "2",
     .help = "score of the share.listed symbol at weight 1 (capped below the report threshold)"},
    SW_CONF_END,
};
#undef OFF

int sw_share_register_conf(void)
{
    return sw_conf_register("share", share_schema, sizeof(struct sw_share_settings));
}

bool sw_share_wanted(const struct sw_share_settings *s)
{
    return s != NULL &&
           (s->rtbl.enabled || s->feeds.n > 0 || s->sources.n > 0 || s->reports_from.n > 0);
}
