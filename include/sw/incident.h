/*
 * incident.h - incidents (what the aggregator makes of hits) and outputs.
 *
 * The aggregator (reporter/aggregate.c) consumes hits in stream order (the
 * engine merges the workers' hit queues by ev_seq, so output is identical for
 * any thread count), combines weighted symbols per offender into a score, and
 * opens / updates / closes incidents with dedup, cooldown and re-open. Every
 * state change is handed to every output (JSON Lines, XEP-0268 reports file,
 * the live XMPP reporter, later pubsub) through struct sw_output_ops.
 *
 * Threading: the aggregator and all outputs' incident() callbacks run on the
 * single aggregator thread; an output that does slow I/O (XMPP) copies the
 * incident into its own queue and returns.
 */
#ifndef SW_INCIDENT_H
#define SW_INCIDENT_H

#include <stdint.h>
#include <stdio.h>

#include "sw/conf.h"
#include "sw/detector.h"
#include "sw/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sw_incident_status { SW_INC_OPEN = 0, SW_INC_UPDATED, SW_INC_CLOSED };

#define SW_INC_MAX_DETECTORS 12
#define SW_INC_MAX_EVIDENCE 5
#define SW_INC_MAX_TARGETS 8

/* What one detector symbol contributed to an incident. */
struct sw_incident_contrib {
    const char *symbol;   /* static */
    const char *detector; /* static */
    int64_t score_milli;  /* contribution to the incident score, 1000 = 1.0 */
    uint32_t hits;
    uint32_t n_values;
    struct sw_hit_value values[SW_HIT_MAX_VALUES]; /* latest window values */
};

struct sw_incident_evidence {
    uint64_t ev_seq;
    int64_t t_ms;
    char stanza_id[96];
    char room[SW_JID_TEXT];
    char target[SW_JID_TEXT];
    char body[SW_HIT_TEXT];
};

struct sw_incident {
    char id[40];      /* UUID text, deterministic: derived from kind, offender and the
                       * ev_seq that opened it; stable across updates and closure */
    const char *kind; /* static */
    char offender[SW_OFFENDER_TEXT]; /* whole, never cut */
    uint8_t offender_kind;           /* enum sw_offender_kind */
    uint8_t status;                  /* enum sw_incident_status */
    uint8_t at_stop;     /* closed only because the process stopped (SIGTERM/SIGINT), not
                          * because the abuse ended: written locally, never told to peers */
    uint32_t revision;   /* 0 when opened, +1 per update/close */
    int64_t detected_at; /* event time of the stanza that crossed the threshold */
    int64_t first_seen, last_seen;
    int64_t score_milli;
    uint64_t hits;
    uint32_t n_contrib;
    struct sw_incident_contrib contrib[SW_INC_MAX_DETECTORS];
    uint32_t n_evidence;
    struct sw_incident_evidence evidence[SW_INC_MAX_EVIDENCE];
    uint32_t n_rooms, n_targets; /* distinct counts seen (bounded samples below) */
    char rooms[SW_INC_MAX_TARGETS][SW_JID_TEXT];
    char targets[SW_INC_MAX_TARGETS][SW_JID_TEXT];
};

/* An output: JSON Lines, reports file, XMPP reporter, ... */
struct sw_output_ops {
    const char *name;
    /* Called on the aggregator thread for every open/update/close. Returns 0 or
     * a negative SW_E*; a failing output is logged and counted, never stops the
     * pipeline. */
    int (*incident)(void *ctx, const struct sw_incident *inc);
    /* Flush and release; called once at shutdown. */
    int (*close)(void *ctx);
    /* Optional (NULL = none): the configuration was reloaded and the detectors
     * switched to @c. Control thread. @c is valid during the call only; an
     * output that keeps it takes a reference (sw_conf_ref). */
    int (*reload)(void *ctx, struct sw_conf *c);
    void *ctx;
};

/** Write @inc as one JSON object + "\n" (the output contract of the README). */
int sw_incident_write_json(FILE *fp, const struct sw_incident *inc);
const char *sw_incident_status_name(unsigned status);

/** JSON Lines output on @fp (borrowed; the caller closes it after close()). */
int sw_output_json_init(struct sw_output_ops *o, FILE *fp);

/* Aggregator (reporter/aggregate.c). */
/** Register the "aggregate" config section. Its built-in aggregate.symbols is
 *  every symbol of @detectors (NULL-terminated, e.g. sw_registry_list(); may
 *  be NULL: no symbols) in list order, with the detectors' default scores and
 *  groups. Call once at start-up. Returns 0, SW_EINVAL (a symbol or group
 *  name outside [a-z0-9_.*-]), SW_ELIMIT (symbols too long) or the
 *  sw_conf_register() error. */
int sw_aggregate_register_conf(const struct sw_detector_ops *const *detectors);
struct sw_aggregate;

/** Create from the "aggregate" config section. Outputs are borrowed; they must
 *  outlive the aggregator. Control thread. */
int sw_aggregate_new(const struct sw_conf *conf, struct sw_output_ops *outputs, size_t n_outputs,
                     struct sw_aggregate **out, struct sw_errbuf *eb);
/** Feed one hit (in ev_seq order). */
void sw_aggregate_hit(struct sw_aggregate *a, const struct sw_hit *hit);
/** Stream time advanced to @now_ms with no hit (ticks): close idle incidents. */
void sw_aggregate_tick(struct sw_aggregate *a, int64_t now_ms);
/** End of stream: close every open incident (status closed), flush outputs. */
void sw_aggregate_finish(struct sw_aggregate *a, int64_t now_ms);
/**
 * Adopt the "aggregate" and "muc" sections of @c (scores, symbols, groups,
 * thresholds, windows, never-offenders); tracked entries and open incidents
 * are kept (max_tracked changes need a restart). Takes a reference to @c.
 * Aggregator thread. Returns 0, or SW_ECONF/SW_EINVAL/SW_ENOMEM with @eb and
 * nothing changed.
 */
int sw_aggregate_reload(struct sw_aggregate *a, struct sw_conf *c, struct sw_errbuf *eb);
/** Counters for the stats line. */
struct sw_aggregate_stats {
    uint64_t hits, opened, updated, closed, suppressed, reopened;
    /* added by the aggregator: suppressed = updates held back by the rate limit */
    uint64_t dropped;         /* hits with an empty or never-offender offender */
    uint64_t dropped_symbols; /* hits of a 13th+ distinct symbol weaker than every slot */
    uint64_t evicted_symbols; /* weakest contributions replaced by a stronger new symbol */
    uint64_t not_rooms;       /* hit rooms not at a MUC service (never made never-offenders) */
    uint64_t rooms_evicted;   /* rooms forgotten early: the bounded room set was full */
    uint64_t evicted;         /* entries evicted because aggregate.max_tracked was full */
    uint64_t output_errors;   /* output incident() calls that failed */
    uint64_t reloads;         /* sw_aggregate_reload calls that took effect */
};
void sw_aggregate_get_stats(const struct sw_aggregate *a, struct sw_aggregate_stats *st);
/** Consumed block lists (include/sw/share.h): weight_milli of a listed offender, 0 if not. */
typedef int64_t (*sw_aggregate_listed_fn)(void *ctx, const char *offender);
/** Aggregators made after this call add symbol share.listed (the returned
 *  weight, capped below report_threshold) to a listed offender's hits. Control
 *  thread, before the pipeline starts; NULL turns it off for later ones. */
void sw_aggregate_set_listed(sw_aggregate_listed_fn fn, void *ctx);
void sw_aggregate_free(struct sw_aggregate *a);

/*
 * The pipeline's last stage, as the engine sees it: a consumer of the merged
 * hits and ticks, in ev_seq order, on the pipeline's single aggregator thread.
 * The engine is handed one (struct sw_pipeline_opts.stage) and knows no
 * aggregator; the command line wires the aggregator above with
 * sw_aggregate_stage(), so the engine library links without the reporter.
 */
struct sw_hit_stage {
    void *ctx;
    void (*hit)(void *ctx, const struct sw_hit *hit); /* one hit */
    void (*tick)(void *ctx, int64_t now_ms);          /* stream time advanced, no hit */
    void (*finish)(void *ctx, int64_t now_ms);        /* end of stream */
    /* Counters for the stats (may be NULL); read after the stage finished. */
    void (*get_stats)(const void *ctx, struct sw_aggregate_stats *st);
    /* End of input because the pipeline was stopped (may be NULL: finish is
     * called instead): like finish, but what is closed now is marked at_stop. */
    void (*stop)(void *ctx, int64_t now_ms);
    /* The configuration was reloaded (may be NULL): called on the stage's
     * thread between two hits; @c is valid during the call only (keep it with
     * sw_conf_ref). */
    void (*reload)(void *ctx, struct sw_conf *c);
};

/** The aggregator @a (borrowed; must outlive the pipeline) as a pipeline stage. */
void sw_aggregate_stage(struct sw_aggregate *a, struct sw_hit_stage *out);

#ifdef __cplusplus
}
#endif
#endif
