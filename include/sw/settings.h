/*
 * settings.h - the engine's own config sections: "engine", "limits", "muc".
 * Schemas and registration live in core/settings.c; every key is documented
 * in configs/stanzawatch.yaml with its default.
 */
#ifndef SW_SETTINGS_H
#define SW_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "sw/conf.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sw_queue_policy { SW_QUEUE_BLOCK = 0, SW_QUEUE_DROP = 1 };

/* section "engine" */
struct sw_engine_settings {
    int64_t threads;       /* detector workers; 0 = number of online cores */
    int64_t parse_threads; /* parser threads for replay; 0 = same as threads */
    int queue_policy;      /* enum sw_queue_policy; replay always blocks */
    int64_t batch_bytes;   /* capture bytes per parse chunk (SIZE) */
    int64_t queue_batches; /* batches in flight between parsers and workers */
    int64_t hit_queue;     /* hits buffered per worker before back-pressure */
    int64_t tick_ms;       /* stream-time interval of expire()/aggregate ticks (DURATION) */
    int64_t max_time_jump; /* a stamp further ahead of stream time is held (DURATION) */
    char *log_level;       /* "error" | "warning" | "info" | "debug" */
    bool skip_reflections; /* leave MUC reflections unparsed (engine/reflect.c) */
};

/* section "limits": hostile-input bounds for the XML layer */
struct sw_limits_settings {
    int64_t max_depth;
    int64_t max_attr_bytes;
    int64_t max_text_bytes;
    int64_t max_stanza_bytes;
    int64_t body_keep;
};

/* section "muc" */
struct sw_muc_settings {
    struct sw_conf_strlist services;    /* MUC service domains, e.g. conference.example.org */
    struct sw_conf_strlist server_jids; /* JIDs that are never offenders (server, announce bots) */
    /* Addition: with `services` empty, a domain whose first label is one of
     * these (and that has at least two more labels) is a MUC service. */
    struct sw_conf_strlist service_prefixes;
};

/** Register "engine", "limits" and "muc" with sw_conf_register(). Call once at start. */
int sw_settings_register(void);

#ifdef __cplusplus
}
#endif
#endif
