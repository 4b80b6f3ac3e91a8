/*
 * aggregate_int.h - internal layout of the "aggregate" config section, for
 * reporter/aggregate.c and its unit tests (tests/reporter/test_aggregate.c),
 * which build an aggregator from a settings struct without a config file.
 * Not a public contract: the engine uses sw_aggregate_new() from incident.h.
 */
#ifndef SW_AGGREGATE_INT_H
#define SW_AGGREGATE_INT_H

#include <stdint.h>

#include "sw/conf.h"
#include "sw/incident.h"

/* One element of aggregate.symbols. */
struct sw_aggregate_symbol {
    char *symbol; /* "<detector>.<signal>" */
    double score; /* points for one full-strength hit (weight_milli 1000) */
    char *group;  /* optional: symbols of one group count once (the strongest) */
};

/* Section "aggregate" (documented in configs/stanzawatch.yaml). */
struct sw_aggregate_settings {
    double report_threshold;      /* score at which an incident opens */
    double default_score;         /* score of a symbol missing from `symbols` */
    int64_t window_ms;            /* a symbol's contribution lives this long after its hit */
    int64_t update_interval_ms;   /* min stream time between two "updated" lines */
    int64_t close_after_ms;       /* close after this much stream time without hits */
    int64_t reopen_window_ms;     /* a crossing this soon after closure re-opens the same id */
    int64_t max_tracked;          /* offenders tracked at once (candidates + open + closed) */
    struct sw_conf_list symbols;  /* struct sw_aggregate_symbol[] */
    struct sw_conf_strlist never; /* extra JIDs / domains never reported */
};

/** Build an aggregator from explicit settings (borrowed for its life) and an
 *  optional list of never-offender JIDs/domains (e.g. muc.server_jids), the
 *  MUC services (muc.services) and the service prefixes used while that list
 *  is empty (muc.service_prefixes); all borrowed for its life, may be NULL.
 *  Control thread. */
int sw_aggregate_new_settings(const struct sw_aggregate_settings *s,
                              const struct sw_conf_strlist *never,
                              const struct sw_conf_strlist *services,
                              const struct sw_conf_strlist *prefixes, struct sw_output_ops *outputs,
                              size_t n_outputs, struct sw_aggregate **out, struct sw_errbuf *eb);

#endif
