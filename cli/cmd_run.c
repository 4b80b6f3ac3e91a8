/*
 * cmd_run.c - `stanzawatch run`: the live daemon. Loads the config, starts the
 * taps under `taps:` (live/live.c), the optional /metrics endpoint and the
 * live reporter, and runs the replay pipeline on the taps' mux until
 * SIGTERM/SIGINT; then the taps stop, what they had queued is processed, open
 * incidents are closed and flushed, the reporter spool is drained (bounded)
 * and the process exits 0. SIGHUP reloads the configuration: detectors and
 * reporter (as for replay), and through struct sw_reload_hook the taps
 * (live/live.c: added, removed, restarted, unchanged left alone) and
 * metrics.listen, all or nothing; SIGUSR1 prints the statistics.
 *
 * Signals are blocked (sw_pipeline_block_signals) before any thread starts;
 * the pipeline's control loop polls them, as for replay.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sw/conf.h"
#include "sw/detector.h"
#include "sw/incident.h"
#include "sw/live.h"
#include "sw/log.h"
#include "sw/metrics.h"
#include "sw/pipeline.h"
#include "sw/reporter.h"
#include "sw/settings.h"
#include "sw/share.h"

#define EXIT_FAIL EXIT_INPUT

const char cli_usage_run[] =
    "Usage: stanzawatch run [OPTIONS]\n"
    "\n"
    "Run beside a live XMPP server: read the stanza mirror from the taps listed\n"
    "under 'taps:' in the configuration, run the detectors and write every incident\n"
    "state change as one JSON object per line, until SIGTERM or SIGINT. Then the\n"
    "taps stop taking input, what they had queued is processed, open incidents are\n"
    "closed and written, the live reporter's spool is drained (bounded), and the\n"
    "exit status is 0.\n"
    "\n"
    "Taps (a YAML list; several at once feed one pipeline):\n"
    "  - {type: socket, listen: unix:PATH | HOST:PORT}\n"
    "        the server-side modules (deploy/prosody/mod_stanzawatch.lua,\n"
    "        deploy/ejabberd/mod_stanzawatch.erl) connect here; HOST is numeric;\n"
    "        a unix socket is created mode 0660 (the server's group writes to it)\n"
    "        and a stale socket file left by an earlier run is replaced\n"
    "  - {type: component, address: HOST:PORT, jid: JID, secret: S}\n"
    "        XEP-0114 component receiving a mod_firewall FORWARD mirror\n"
    "        (deploy/prosody/mirror.pfw); reconnects with backoff (0.5 s to 30 s)\n"
    "  Every tap also takes: name (label in logs and metrics, and how a reload\n"
    "  matches taps; default <type><index>, so name your taps), queue (bounded\n"
    "  queue to the pipeline, default 8MB), dedup_window (presence fan-out copies,\n"
    "  default 2s); socket taps: max_connections (default 64), idle_timeout (close\n"
    "  a silent connection, default 5m). 'stanzawatch dump-config' lists them all.\n"
    "A tap never slows the server: when stanzawatch falls behind, its bounded\n"
    "queue drops stanzas and counts them (stanzawatch_tap_dropped_total).\n"
    "\n"
    "Metrics: 'metrics: {listen: HOST:PORT}' serves Prometheus text at /metrics\n"
    "(GET or HEAD; deploy/prometheus/stanzawatch.yml is a scrape snippet):\n"
    "stanzawatch_tap_* per tap (stanzas by kind, bytes, connections, queue depth,\n"
    "drops by reason), stanzawatch_pipeline_*, stanzawatch_detector_* per detector,\n"
    "stanzawatch_incidents_total{kind,status}, stanzawatch_incident_latency_seconds,\n"
    "stanzawatch_reports_total{state} and stanzawatch_peer_reports_total{peer,state}\n"
    "(spooled, sent, acked, failed, timeout), stanzawatch_reloads_total{result},\n"
    "stanzawatch_build_info.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE        YAML configuration (taps: is required)\n"
    "  -o, --incidents FILE     incidents as JSON Lines to FILE ('-' = stdout, the\n"
    "                           default); each line is flushed when written\n"
    "  -r, --reports FILE       also write the XEP-0268 report stanzas to FILE\n"
    "  -t, --threads N          detector worker threads (default engine.threads)\n"
    "  -s, --stats-json FILE    write the final statistics as JSON to FILE at exit\n"
    "      --drain-timeout SECS with reporter.enabled: at exit, wait up to SECS\n"
    "                           (default 10) for the reporter's spool to empty;\n"
    "                           what is left stays spooled for the next run\n"
    "      --pid-file FILE      write our pid to FILE (for 'stanzawatch reload');\n"
    "                           removed at exit\n"
    "  -q, --quiet              errors only; no statistics on stderr\n"
    "  -v, --verbose            debug logging\n"
    "  -h, --help               this help\n";

/* the rest of `help run` (split: C99 string literal length) */
const char cli_usage_run_more[] =
    "\n"
    "With share: in the configuration, STATE_DIR/control.sock (owner only) takes\n"
    "'stanzawatch retract' requests: they are sent on this process's connection.\n"
    "\n"
    "Signals:\n"
    "  SIGHUP   re-read the configuration file and apply it as a whole: detector\n"
    "           settings (their state is kept), the aggregator, the reporter (peers\n"
    "           and policies; its server connection settings at its next reconnect),\n"
    "           the taps and metrics.listen. Taps are matched by name: an unchanged\n"
    "           tap keeps running and its connections stay open; a removed tap stops\n"
    "           (what its peers had already sent is read and processed, then its\n"
    "           connections are closed); a changed tap restarts (its connections\n"
    "           close and the server modules reconnect; a socket tap on the same\n"
    "           listen address keeps its listening socket, so no connection is\n"
    "           refused meanwhile; its counters go on); an added tap starts. A new\n"
    "           metrics.listen is bound before the old endpoint closes. If any part\n"
    "           fails (invalid file, a tap address that cannot be bound, a detector\n"
    "           that refuses its settings, an invalid reporter peer, a metrics\n"
    "           address in use) nothing changes and the log says \"pipeline: reload\n"
    "           failed, keeping the running config: REASON\";\n"
    "           stanzawatch_reloads_total{result} counts both outcomes. Not reloaded\n"
    "           (restart to change them): engine: (threads, batching, queue policy),\n"
    "           limits: as the taps apply them, reporter.enabled, spool_dir and\n"
    "           inbound_dir, and the command-line options.\n"
    "  SIGUSR1  print the statistics to stderr\n"
    "  SIGTERM, SIGINT  stop and drain (see above), exit 0\n"
    "  SIGPIPE  ignored (a reader or peer going away is an error return)\n"
    "\n"
    "Logging: one line per event on stderr (\"TIME stanzawatch[PID]: LEVEL: MODULE:\n"
    "text\"), written with one write(2) each, so journald or a file opened for\n"
    "appending (logrotate copytruncate) both work. At exit the statistics follow,\n"
    "one line per tap.\n"
    "\n"
    "Exit status: 0 after a signal-driven stop; 1 a tap that cannot listen or\n"
    "start, an output that cannot be opened or written, or a runtime error; 2 usage\n"
    "or configuration error (file:line: reason), also a metrics.listen address that\n"
    "cannot be bound and another stanzawatch already running on share.state_dir.\n";

static FILE *run_open(const char *path, const char *what)
{
    if (path == NULL || strcmp(path, "-") == 0) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        return stdout;
    }
    FILE *fp = fopen(path, "a");
    if (fp == NULL) {
        fprintf(stderr, "stanzawatch: %s %s: %s\n", what, path, strerror(errno));
        return NULL;
    }
    setvbuf(fp, NULL, _IOLBF, 0);
    return fp;
}

/* Print one line per tap after the pipeline statistics. */
static void run_print_taps(const struct sw_live *live, FILE *fp)
{
    struct sw_live_tap_stats st[64];
    size_t n = sw_live_get_stats(live, st, 64);
    for (size_t i = 0; i < n; i++) {
        const struct sw_live_tap_stats *s = &st[i];
        fprintf(fp,
                "tap %s (%s): %llu connections (%llu refused, %llu closed on junk, %llu idle), "
                "%llu bytes, %llu stanzas (%llu message, %llu presence, %llu iq, %llu other), "
                "%llu dropped (queue full), %llu oversize, %llu gaps, %llu dropped by the "
                "server module, %llu fan-out copies deduplicated, %llu reconnects\n",
                s->name, s->type, (unsigned long long)s->connections,
                (unsigned long long)s->refused, (unsigned long long)s->closed_error,
                (unsigned long long)s->idle_closed, (unsigned long long)s->bytes,
                (unsigned long long)s->stanzas, (unsigned long long)s->by_kind[0],
                (unsigned long long)s->by_kind[1], (unsigned long long)s->by_kind[2],
                (unsigned long long)s->other, (unsigned long long)s->queue_drops,
                (unsigned long long)s->oversize, (unsigned long long)s->gaps,
                (unsigned long long)s->peer_dropped, (unsigned long long)s->dedup,
                (unsigned long long)s->reconnects);
    }
}

/* SIGHUP (struct sw_reload_hook): the taps and metrics.listen follow the
 * reloaded config; refused as a whole when a tap cannot be set up or the new
 * metrics address cannot be bound. Control thread. */
struct run_reload {
    struct sw_live *live;
    struct sw_metrics **metrics; /* the running endpoint (cli_cmd_run's variable) */
    struct sw_metrics_sources src;
    char *listen;              /* its address, NULL = off */
    bool change;               /* prepared: metrics.listen changes */
    struct sw_metrics *next_m; /* prepared: the endpoint on the new address */
    char *next_listen;
};

static bool run_str_eq(const char *a, const char *b)
{
    return (a == NULL || a[0] == '\0') ? (b == NULL || b[0] == '\0')
                                       : (b != NULL && strcmp(a, b) == 0);
}

static void run_reload_abort(void *ctx)
{
    struct run_reload *rr = ctx;
    sw_live_reload_abort(rr->live);
    sw_metrics_stop(rr->next_m);
    rr->next_m = NULL;
    free(rr->next_listen);
    rr->next_listen = NULL;
    rr->change = false;
}

static int run_reload_prepare(void *ctx, const struct sw_conf *conf, struct sw_errbuf *eb)
{
    struct run_reload *rr = ctx;
    /* the reporter would refuse it later, alone, on the aggregator's thread */
    int rc = rr->src.reporter != NULL ? sw_reporter_check_conf(conf, eb) : 0;
    if (rc < 0) {
        return rc;
    }
    rc = sw_live_reload_prepare(rr->live, conf, eb);
    if (rc < 0) {
        return rc;
    }
    const struct sw_live_metrics_settings *ms = sw_conf_section(conf, "metrics");
    const char *nl = ms != NULL ? ms->listen : NULL;
    if (run_str_eq(nl, rr->listen)) {
        return 0;
    }
    rr->change = true;
    if (nl != NULL && nl[0] != '\0') {
        /* bound beside the running endpoint: a bad address refuses the reload */
        struct sw_errbuf meb;
        meb.msg[0] = '\0';
        rr->next_listen = strdup(nl);
        if (rr->next_listen == NULL || sw_metrics_start(nl, &rr->src, &rr->next_m, &meb) < 0) {
            run_reload_abort(rr);
            return sw_errbuf_set(eb, SW_ECONF, "metrics: %s",
                                 meb.msg[0] ? meb.msg : "out of memory");
        }
    }
    return 0;
}

static void run_reload_commit(void *ctx)
{
    struct run_reload *rr = ctx;
    struct sw_errbuf eb;
    eb.msg[0] = '\0';
    if (sw_live_reload_commit(rr->live, &eb) < 0) {
        sw_log_error("run", "reload: %s", eb.msg);
    }
    if (rr->change) {
        sw_metrics_stop(*rr->metrics);
        *rr->metrics = rr->next_m;
        free(rr->listen);
        rr->listen = rr->next_listen;
        if (rr->listen != NULL) {
            sw_log_info("run", "metrics: now serving /metrics on %s", rr->listen);
        } else {
            sw_log_info("run", "metrics: endpoint closed (metrics.listen unset)");
        }
        rr->next_m = NULL;
        rr->next_listen = NULL;
        rr->change = false;
    }
}

int cli_cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"incidents", required_argument, NULL, 'o'},
        {"reports", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'},
        {"stats-json", required_argument, NULL, 's'},
        {"pid-file", required_argument, NULL, 'P'},
        {"drain-timeout", required_argument, NULL, 'D'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *conf_path = NULL, *inc_path = "-", *rep_path = NULL, *pid_path = NULL,
               *stats_path = NULL;
    long threads = 0, drain_s = 10;
    int verbosity = 0, opt, status = EXIT_USAGE;
    struct sw_conf *conf = NULL;
    struct sw_pipeline *p = NULL;
    struct sw_aggregate *agg = NULL;
    struct sw_hit_stage stage;
    struct sw_live *live = NULL;
    struct sw_metrics *metrics = NULL;
    struct sw_metrics_obs *obs = NULL;
    struct sw_reporter *rep = NULL;
    FILE *inc_fp = NULL, *rep_fp = NULL;
    struct sw_output_ops outs[4];
    size_t n_outs = 0;
    struct sw_errbuf eb;
    struct sw_tap_ops tap;
    struct run_reload rr = {0};
    struct sw_reload_hook hook = {.prepare = run_reload_prepare,
                                  .commit = run_reload_commit,
                                  .abort = run_reload_abort,
                                  .ctx = &rr};
    char *end;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:o:r:t:s:qvh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            conf_path = optarg;
            break;
        case 'o':
            inc_path = optarg;
            break;
        case 'r':
            rep_path = optarg;
            break;
        case 't':
            threads = strtol(optarg, &end, 10);
            if (*end != '\0' || threads < 0 || threads > 64) {
                fprintf(stderr, "stanzawatch run: --threads: expected 0..64\n");
                return EXIT_USAGE;
            }
            break;
        case 's':
            stats_path = optarg;
            break;
        case 'P':
            pid_path = optarg;
            break;
        case 'D':
            drain_s = strtol(optarg, &end, 10);
            if (*end != '\0' || drain_s < 0 || drain_s > 3600) {
                fprintf(stderr, "stanzawatch run: --drain-timeout: expected 0..3600\n");
                return EXIT_USAGE;
            }
            break;
        case 'q':
            verbosity = -1;
            break;
        case 'v':
            verbosity = 1;
            break;
        case 'h':
            fputs(cli_usage_run, stdout);
            fputs(cli_usage_run_more, stdout);
            return 0;
        default:
            fputs("Try 'stanzawatch help run'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stanzawatch run: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (cli_register_sections() < 0 || cli_load_conf(conf_path, &conf) < 0) {
        return EXIT_USAGE;
    }
    const struct sw_engine_settings *eng = sw_conf_section(conf, "engine");
    sw_log_set_level(verbosity < 0   ? SW_LOG_ERROR
                     : verbosity > 0 ? SW_LOG_DEBUG
                                     : cli_log_level(eng ? eng->log_level : NULL));
    const struct sw_live_taps_settings *ts = sw_conf_section(conf, "taps");
    if (ts == NULL || ts->taps.n == 0) {
        fprintf(stderr, "%s: no taps: `run` needs a 'taps:' list\n", sw_conf_path(conf));
        goto out;
    }

    /* every thread started from here on inherits the blocked signals */
    sw_pipeline_block_signals();
    status = EXIT_FAIL;
    inc_fp = run_open(inc_path, "--incidents");
    if (inc_fp == NULL || sw_output_json_init(&outs[n_outs], inc_fp) < 0) {
        goto out;
    }
    n_outs++;
    if (rep_path != NULL) {
        rep_fp = run_open(rep_path, "--reports");
        eb.msg[0] = '\0';
        if (rep_fp == NULL || sw_output_reports_init(&outs[n_outs], conf, rep_fp, &eb) < 0) {
            fprintf(stderr, "stanzawatch: --reports: %s\n", eb.msg);
            goto out;
        }
        n_outs++;
    }
    const struct sw_reporter_settings *rs = sw_conf_section(conf, "reporter");
    const struct sw_share_settings *shs = sw_conf_section(conf, "share");
    if (rs != NULL && rs->enabled && shs != NULL && sw_share_wanted(shs) &&
        sw_share_control_busy(shs)) {
        /* before our reporter connects: a second component connection would
         * disturb the running daemon's */
        fprintf(stderr, "stanzawatch: another stanzawatch runs on share.state_dir %s\n",
                shs->state_dir);
        status = EXIT_USAGE;
        goto out;
    }
    if (rs != NULL && rs->enabled) {
        eb.msg[0] = '\0';
        if (sw_reporter_start(conf, &outs[n_outs], &rep, &eb) < 0) {
            fprintf(stderr, "stanzawatch: reporter: %s\n", eb.msg);
            goto out;
        }
        n_outs++;
        /* `stanzawatch retract` reaches us here instead of taking our component JID */
        eb.msg[0] = '\0';
        if (sw_share_control_start(sw_reporter_share(rep), &eb) < 0) {
            fprintf(stderr, "stanzawatch: %s\n", eb.msg);
            goto out;
        }
    }
    obs = sw_metrics_obs_new();
    if (obs == NULL) {
        fprintf(stderr, "stanzawatch: out of memory\n");
        goto out;
    }
    sw_metrics_obs_output(obs, &outs[n_outs++]);
    eb.msg[0] = '\0';
    int rc = sw_live_new(conf, &live, &tap, &eb);
    if (rc < 0) {
        fprintf(stderr, "stanzawatch: %s\n", eb.msg);
        status = rc == SW_ECONF ? EXIT_USAGE : EXIT_FAIL;
        goto out;
    }
    if (cli_aggregate_start(conf, outs, n_outs, &agg, &stage) < 0) {
        goto out;
    }
    struct sw_pipeline_opts po = {
        .conf = conf,
        .detectors = sw_registry_list(),
        .stage = &stage,
        .threads = (unsigned)threads,
        .progress = false,
        .signals = true,
        .conf_path = conf_path,
        .reload_hook = &hook,
    };
    eb.msg[0] = '\0';
    rc = sw_pipeline_new(&po, &p, &eb);
    if (rc < 0) {
        fprintf(stderr, "%s\n", eb.msg);
        goto out;
    }
    rr.live = live;
    rr.metrics = &metrics;
    rr.src = (struct sw_metrics_sources){.pipeline = p, .live = live, .reporter = rep, .obs = obs};
    const struct sw_live_metrics_settings *ms = sw_conf_section(conf, "metrics");
    if (ms != NULL && ms->listen != NULL && ms->listen[0] != '\0') {
        eb.msg[0] = '\0';
        rr.listen = strdup(ms->listen);
        if (rr.listen == NULL || sw_metrics_start(ms->listen, &rr.src, &metrics, &eb) < 0) {
            fprintf(stderr, "stanzawatch: metrics: %s\n", eb.msg[0] ? eb.msg : "out of memory");
            status = EXIT_USAGE;
            goto out;
        }
    }
    if (pid_path != NULL && cli_write_pid(pid_path) < 0) {
        goto out;
    }
    sw_log_info("run", "running: %zu tap(s)%s%s; SIGTERM/SIGINT stop and drain, SIGHUP reloads",
                sw_live_count(live), metrics ? ", metrics on " : "", metrics ? ms->listen : "");
    eb.msg[0] = '\0';
    rc = sw_pipeline_run_tap(p, &tap, &eb);
    status = 0;
    if (rc < 0) {
        fprintf(stderr, "stanzawatch: %s\n", eb.msg[0] ? eb.msg : sw_strerror(rc));
        status = EXIT_FAIL;
    }
    if (cli_close_outputs(outs, &n_outs) < 0) {
        status = EXIT_FAIL;
    }
    if (rep != NULL) {
        cli_drain_reporter(rep, rs, (int64_t)drain_s * 1000);
        rep = NULL;
    }
    struct sw_pipeline_stats st;
    sw_pipeline_get_stats(p, &st);
    if (verbosity >= 0) {
        sw_pipeline_print_stats(&st, stderr);
        run_print_taps(live, stderr);
        uint64_t ln = 0;
        int64_t p50 = sw_metrics_obs_latency_ms(obs, 0.5, &ln);
        int64_t p99 = sw_metrics_obs_latency_ms(obs, 0.99, &ln);
        fprintf(stderr,
                "incident latency (arrival to output): %llu opened, p50 %lld ms, p99 %lld ms\n",
                (unsigned long long)ln, (long long)p50, (long long)p99);
    }
    if (stats_path != NULL && cli_write_stats(stats_path, &st) < 0) {
        status = EXIT_FAIL;
    }
    sw_log_info("run", "stopped");
out:
    sw_metrics_stop(metrics);
    free(rr.listen);
    (void)cli_close_outputs(outs, &n_outs);
    sw_pipeline_free(p);
    sw_aggregate_free(agg);
    sw_reporter_stop(rep, 0); /* error paths only: spooled reports stay for the next run */
    sw_live_free(live);
    int inc_bad = cli_close_file(inc_fp, inc_path);
    if ((cli_close_file(rep_fp, rep_path) < 0 || inc_bad < 0) && status == 0) {
        status = EXIT_FAIL;
    }
    if (pid_path != NULL && status != EXIT_USAGE) {
        unlink(pid_path);
    }
    sw_metrics_obs_free(obs);
    sw_conf_free(conf);
    return status;
}
