/*
 * metrics.h - Prometheus text exposition at /metrics for `stanzawatch run`
 * (live/metrics.c, libmicrohttpd), plus the incident observer output that
 * counts incidents by kind and status and times arrival-to-incident latency.
 *
 * Threading: the observer output runs on the aggregator thread (as every
 * output); the HTTP server on libmicrohttpd's own thread, reading snapshots
 * (sw_pipeline_get_stats, sw_live_get_stats, sw_reporter_get_stats and the
 * observer's relaxed-atomic counters). Start after the signals are blocked so
 * its thread inherits the mask.
 */
#ifndef SW_METRICS_H
#define SW_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sw/incident.h"
#include "sw/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sw_pipeline;
struct sw_live;
struct sw_reporter;
struct sw_metrics_obs;

/** Incident observer: counts and latency. _new/_free; free after the
 *  pipeline and the metrics server are gone. */
struct sw_metrics_obs *sw_metrics_obs_new(void);
void sw_metrics_obs_free(struct sw_metrics_obs *o);
/** An output (sw_output_ops) feeding @o; close() is a no-op. */
void sw_metrics_obs_output(struct sw_metrics_obs *o, struct sw_output_ops *out);
/** Latency quantile @q (0..1) in ms over the last 4096 incidents opened, -1
 *  if none; @n = samples. Any thread (approximate while running). */
int64_t sw_metrics_obs_latency_ms(const struct sw_metrics_obs *o, double q, uint64_t *n);

/* What /metrics reports (all borrowed; any may be NULL). */
struct sw_metrics_sources {
    const struct sw_pipeline *pipeline;
    const struct sw_live *live;
    struct sw_reporter *reporter;
    const struct sw_metrics_obs *obs;
};

/** Write the exposition text of @src to @fp. Returns 0 or SW_EIO. */
int sw_metrics_write(const struct sw_metrics_sources *src, FILE *fp);

struct sw_metrics;
/** Serve /metrics on @listen ("HOST:PORT", numeric host). Returns 0,
 *  SW_ECONF (bad address) or SW_EIO (cannot bind) with @eb filled. */
int sw_metrics_start(const char *listen, const struct sw_metrics_sources *src,
                     struct sw_metrics **out, struct sw_errbuf *eb);
void sw_metrics_stop(struct sw_metrics *m);

#ifdef __cplusplus
}
#endif
#endif
