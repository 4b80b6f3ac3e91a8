/*
 * pipeline.h - the replay pipeline as a library: tap -> split -> P parsers ->
 * ordered batch ring -> W detector workers -> ordered hit merge -> hit stage
 * (the aggregator and its outputs, handed in by the caller).
 *
 * Usage: sw_pipeline_new() from a loaded config snapshot and the outputs,
 * sw_pipeline_run() on capture paths (or a tap) once, sw_pipeline_get_stats()
 * / sw_pipeline_print_stats(), sw_pipeline_free(). The incident output is
 * byte-identical for any number of parser and worker threads (see
 * engine/pipeline.c for why). cli/cmd_replay.c is a thin CLI over this; tests call it
 * directly without forking the binary.
 *
 * Threading: new/run/free on one control thread. sw_pipeline_reload() and
 * sw_pipeline_stop() may be called from any thread while run() executes;
 * sw_pipeline_get_stats() too (figures are then approximate snapshots).
 */
#ifndef SW_PIPELINE_H
#define SW_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sw/conf.h"
#include "sw/detector.h"
#include "sw/incident.h"
#include "sw/ring.h"
#include "sw/sw.h"
#include "sw/tap.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SW_PIPELINE_MAX_DETECTORS 32

/* What a SIGHUP reload also reconfigures beyond the detectors and the hit
 * stage (`run`: the live taps and /metrics). prepare() checks @conf and gets
 * its part ready without disturbing what runs (0, or SW_E* with @eb filled:
 * the whole reload is refused); after the detectors accepted @conf too,
 * commit() applies it (errors are logged there), else abort() undoes
 * prepare(). All on the control thread; @conf is only read during the call. */
struct sw_reload_hook {
    int (*prepare)(void *ctx, const struct sw_conf *conf, struct sw_errbuf *eb);
    void (*commit)(void *ctx);
    void (*abort)(void *ctx);
    void *ctx;
};

struct sw_pipeline_opts {
    const struct sw_conf *conf; /* borrowed; must outlive the pipeline */
    /* NULL-terminated detector list (the command line passes sw_registry_list()).
     * Required, borrowed. A detector whose config section "detectors.<name>"
     * is not registered runs enabled with settings NULL (test detectors). */
    const struct sw_detector_ops *const *detectors;
    /* Where the merged hits go (the aggregator, see sw_aggregate_stage()).
     * Borrowed; its ctx must outlive the pipeline. NULL: hits are counted only. */
    const struct sw_hit_stage *stage;
    unsigned threads;       /* detector workers; 0 = engine.threads (0 there = online cores) */
    unsigned parse_threads; /* 0 = engine.parse_threads (0 there = as many as workers) */
    size_t batch_bytes;     /* 0 = engine.batch_bytes; tests force many small chunks */
    bool progress;          /* progress bar on stderr when stderr is a TTY */
    bool signals;           /* run() polls SIGHUP (reload conf_path), SIGUSR1 (stats to stderr),
                             * SIGINT/SIGTERM (stop after what was read); the caller must have
                             * blocked them in every thread (sw_pipeline_block_signals) */
    const char *conf_path;  /* re-read on SIGHUP; NULL = built-in defaults */
    const struct sw_reload_hook *reload_hook; /* SIGHUP: also reconfigure this; NULL = none */
};

struct sw_pipeline_det_stats {
    const char *name;
    bool enabled;
    uint64_t events, hits, keys, evictions, expired, mem_bytes;
};

struct sw_pipeline_stats {
    unsigned threads, parse_threads;
    double wall_s;
    uint64_t bytes;  /* capture bytes read */
    uint64_t chunks; /* whole-stanza chunks handed to parsers */
    uint64_t stanzas, events, by_kind[3], unwrapped, carbons;
    uint64_t reflections; /* MUC reflections not parsed (engine.skip_reflections), in stanzas */
    uint64_t skipped_oversize, skipped_depth, skipped_attr, skipped_unknown, bad_stamps;
    uint64_t parse_errors;
    uint64_t over_limit;      /* minimal SW_F_OVER_LIMIT events (depth, attribute, text, JID) */
    uint64_t malformed;       /* stanzas skipped as not well-formed ("file:line:col" logged) */
    uint64_t time_clamped;    /* events held at stream time: stamped too far ahead */
    uint64_t truncated;       /* mapped captures that shrank while being read (an error) */
    uint64_t drops;           /* chunks dropped by a live tap with queue_policy drop */
    uint64_t stanzas_dropped; /* stanzas in those chunks */
    uint64_t reloads, reload_errors, detector_reload_errors;
    uint64_t hits, ticks; /* records delivered to the aggregator */
    int64_t last_t_ms;    /* stream time at the end */
    /* queue waits per stage: reader (free buffer, parser queue), parser input,
     * parser output (batch slot), worker input (batch), worker hit queue,
     * aggregator input */
    struct sw_wait_stats wait_reader, wait_parse_in, wait_parse_out, wait_worker_in,
        wait_worker_hits, wait_aggregate;
    struct sw_aggregate_stats agg;
    size_t n_detectors;
    struct sw_pipeline_det_stats det[SW_PIPELINE_MAX_DETECTORS];
};

struct sw_pipeline;

/** Set up detectors (setup() on their settings). Returns 0 or
 *  SW_ECONF/SW_EINVAL/SW_ENOMEM with @eb filled. */
int sw_pipeline_new(const struct sw_pipeline_opts *opts, struct sw_pipeline **out,
                    struct sw_errbuf *eb);

/**
 * Replay @paths (in order, "-" = stdin, each its own stream; together one
 * event sequence) to the end, then close every open incident. Callable once.
 * Returns 0; SW_EPARSE with @eb = "file:line:col: reason" after processing
 * everything before a malformed spot; SW_ENOENT/SW_EIO for unreadable input
 * (everything before it processed); SW_ENOMEM.
 */
int sw_pipeline_run(struct sw_pipeline *p, const char *const *paths, size_t n,
                    struct sw_errbuf *eb);
/** Same with any tap (ownership stays with the caller, who closes it). */
int sw_pipeline_run_tap(struct sw_pipeline *p, struct sw_tap_ops *tap, struct sw_errbuf *eb);

/**
 * Hot reload: run every detector's setup() on @conf and publish the new
 * generation (RCU); workers switch at their next batch boundary keeping window
 * state (thread_reload) and the old generation is torn down after a grace
 * period. Takes ownership of @conf on success (freed when replaced or at
 * sw_pipeline_free); on error nothing changes and the caller keeps @conf.
 * Control thread only (run() calls it itself on SIGHUP).
 */
int sw_pipeline_reload(struct sw_pipeline *p, struct sw_conf *conf, struct sw_errbuf *eb);

/** Ask run() to stop reading; what was read is still processed. Any thread,
 *  async-signal-safe. */
void sw_pipeline_stop(struct sw_pipeline *p);
/** True once sw_pipeline_stop() was called (a signal): the run ended early. Any thread. */
bool sw_pipeline_stopped(const struct sw_pipeline *p);

void sw_pipeline_get_stats(const struct sw_pipeline *p, struct sw_pipeline_stats *st);
/** Human-readable stats block (several lines). */
int sw_pipeline_print_stats(const struct sw_pipeline_stats *st, FILE *fp);
/** The same as one JSON object + "\n". */
int sw_pipeline_write_stats_json(const struct sw_pipeline_stats *st, FILE *fp);

/** Block SIGHUP, SIGUSR1, SIGINT and SIGTERM in the calling thread (call in
 *  main before any thread starts; run() then polls them). */
void sw_pipeline_block_signals(void);

void sw_pipeline_free(struct sw_pipeline *p);

#ifdef __cplusplus
}
#endif
#endif
