/*
 * settings.c - schemas of the engine's own config sections: "engine" (threads,
 * queues, tick), "limits" (hostile-input bounds for the XML layer) and "muc"
 * (MUC topology). Defaults here are the documented ones in
 * configs/stanzawatch.yaml; tests/engine/test_settings.c checks the two agree.
 *
 * Threading: sw_settings_register() runs once from main before any load.
 */
#include "sw/settings.h"

#include <stddef.h>

#define KB ((int64_t)1024)
#define MB (KB * 1024)

static const char *const queue_policy_names[] = {"block", "drop", NULL};
/* Order matches enum sw_log_level. */
static const char *const log_level_names[] = {"error", "warning", "info", "debug", NULL};

static const struct sw_conf_item engine_schema[] = {
    {.key = "threads",
     .type = SW_CONF_INT,
     .offset = offsetof(struct sw_engine_settings, threads),
     .min = 0,
     .max = 64,
     .def = "0",
     .help = "detector worker threads; 0 = a third of the online cores, rounded up"},
    {.key = "parse_threads",
     .type = SW_CONF_INT,
     .offset = offsetof(struct sw_engine_settings, parse_threads),
     .min = 0,
     .max = 64,
     .def = "0",
     .help = "parser threads; 0 = the cores the workers leave plus one when threads is 0 too, "
             "else as many as threads"},
    {.key = "queue_policy",
     .type = SW_CONF_ENUM,
     .offset = offsetof(struct sw_engine_settings, queue_policy),
     .def = "block",
     .enum_names = queue_policy_names,
     .help = "full worker queue in live mode: block (back-pressure) or drop (count, discard)"},
    {.key = "batch_bytes",
     .type = SW_CONF_SIZE,
     .offset = offsetof(struct sw_engine_settings, batch_bytes),
     .min = 64 * KB,
     .max = 64 * MB,
     .def = "1MB",
     .help = "capture bytes per parse chunk"},
    {.key = "queue_batches",
     .type = SW_CONF_INT,
     .offset = offsetof(struct sw_engine_settings, queue_batches),
     .min = 4,
     .max = 4096,
     .def = "16",
     .help = "batches in flight between parsers and workers"},
    {.key = "hit_queue",
     .type = SW_CONF_INT,
     .offset = offsetof(struct sw_engine_settings, hit_queue),
     .min = 16,
     .max = 1048576,
     .def = "4096",
     .help = "hits buffered per worker before back-pressure"},
    {.key = "tick_ms",
     .type = SW_CONF_DURATION,
     .offset = offsetof(struct sw_engine_settings, tick_ms),
     .min = 10,
     .max = 60000,
     .def = "1s",
     .help = "stream-time interval of detector expiry and aggregator ticks"},
    {.key = "max_time_jump",
     .type = SW_CONF_DURATION,
     .offset = offsetof(struct sw_engine_settings, max_time_jump),
     .min = 1000,
     .max = 7 * 24 * 3600 * 1000LL,
     .def = "10m",
     .help = "an event stamped further ahead of stream time is clamped to stream time "
             "(counted, logged) until 3 different senders confirm the jump"},
    {.key = "log_level",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct sw_engine_settings, log_level),
     .def = "info",
     .enum_names = log_level_names,
     .help = "log verbosity: error, warning, info or debug"},
    {.key = "skip_reflections",
     .type = SW_CONF_BOOL,
     .offset = offsetof(struct sw_engine_settings, skip_reflections),
     .def = "true",
     .help = "leave a MUC room's copies of an occupant's message (one per occupant; no detector "
             "counts them) out of parsing: counted, not analysed"},
    SW_CONF_END,
};

static const struct sw_conf_item limits_schema[] = {
    {.key = "max_depth",
     .type = SW_CONF_INT,
     .offset = offsetof(struct sw_limits_settings, max_depth),
     .min = 2,
     .max = 256,
     .def = "32",
     .help = "maximum element nesting depth inside a stanza"},
    {.key = "max_attr_bytes",
     .type = SW_CONF_SIZE,
     .offset = offsetof(struct sw_limits_settings, max_attr_bytes),
     .min = 64,
     .max = MB,
     .def = "4KB",
     .help = "maximum bytes of one attribute value"},
    {.key = "max_text_bytes",
     .type = SW_CONF_SIZE,
     .offset = offsetof(struct sw_limits_settings, max_text_bytes),
     .min = 256,
     .max = 16 * MB,
     .def = "64KB",
     .help = "maximum bytes of character data in one element"},
    {.key = "max_stanza_bytes",
     .type = SW_CONF_SIZE,
     .offset = offsetof(struct sw_limits_settings, max_stanza_bytes),
     .min = KB,
     .max = 16 * MB,
     .def = "256KB",
     .help = "maximum bytes of one whole stanza"},
    {.key = "body_keep",
     .type = SW_CONF_SIZE,
     .offset = offsetof(struct sw_limits_settings, body_keep),
     .min = 64,
     .max = 16 * KB,
     .def = "1KB",
     .help = "bytes of a message body kept for patterns and incident evidence"},
    SW_CONF_END,
};

static const struct sw_conf_item muc_schema[] = {
    {.key = "services",
     .type = SW_CONF_STRLIST,
     .offset = offsetof(struct sw_muc_settings, services),
     .def = "[]",
     .help = "MUC service domains (e.g. conference.example.org)"},
    {.key = "server_jids",
     .type = SW_CONF_STRLIST,
     .offset = offsetof(struct sw_muc_settings, server_jids),
     .def = "[]",
     .help = "JIDs that are never offenders (the server, announce bots)"},
    {.key = "service_prefixes",
     .type = SW_CONF_STRLIST,
     .offset = offsetof(struct sw_muc_settings, service_prefixes),
     .def = "[conference, muc, rooms, chat, groupchat, chatrooms]",
     .help = "with services empty: a domain whose first label is one of these (and that has "
             "two more labels, e.g. conference.example.org) is a MUC service"},
    SW_CONF_END,
};

int sw_settings_register(void)
{
    int rc = sw_conf_register("engine", engine_schema, sizeof(struct sw_engine_settings));
    if (rc == 0) {
        rc = sw_conf_register("limits", limits_schema, sizeof(struct sw_limits_settings));
    }
    if (rc == 0) {
        rc = sw_conf_register("muc", muc_schema, sizeof(struct sw_muc_settings));
    }
    return rc;
}
