/*
 * cmd_replay.c - `stanzawatch replay`: open the outputs (JSON Lines, reports
 * file, live reporter), run the pipeline over the captures, print the stats.
 * Signals are blocked here, before any thread starts, and polled by the
 * pipeline's control loop (SIGHUP reload, SIGUSR1 stats, SIGINT/SIGTERM stop).
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
#include "sw/log.h"
#include "sw/pipeline.h"
#include "sw/reporter.h"
#include "sw/settings.h"
#include "sw/sw.h"

const char cli_usage_replay[] =
    "Usage: stanzawatch replay [OPTIONS] CAPTURE...\n"
    "\n"
    "Replay XMPP stanza captures (an XML stream: <stream:stream ...> then top-level\n"
    "<message/>, <presence/>, <iq/>) through the detector pipeline and write every\n"
    "incident state change (open, updated, closed) as one JSON object per line.\n"
    "Several CAPTUREs form one stream of events, in the order given; '-' reads\n"
    "standard input. The output is byte-identical for any thread count.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE        YAML configuration (default: built-in defaults, which\n"
    "                           equal configs/stanzawatch.yaml)\n"
    "  -o, --incidents FILE     incidents as JSON Lines to FILE ('-' = stdout, the default)\n"
    "  -r, --reports FILE       also write the XEP-0268 report stanzas to FILE\n"
    "  -t, --threads N          detector worker threads (default engine.threads;\n"
    "                           0 = a third of the cores, rounded up)\n"
    "  -p, --parse-threads N    XML parser threads (default engine.parse_threads;\n"
    "                           0 = the cores the workers leave plus one, or as\n"
    "                           many as workers when those are given: on 2 cores\n"
    "                           the default is 1 worker and 2 parsers)\n"
    "  -s, --stats-json FILE    write the final statistics as JSON to FILE\n"
    "      --drain-timeout SECS with reporter.enabled: at the end, wait up to SECS\n"
    "                           (default 10) for the live reporter's spool to empty;\n"
    "                           what is left stays in reporter.spool_dir for the next run\n"
    "      --pid-file FILE      write our pid to FILE (for 'stanzawatch reload')\n"
    "      --no-progress        no progress bar (it is shown only on a TTY anyway)\n"
    "  -q, --quiet              errors only; no statistics on stderr\n"
    "  -v, --verbose            debug logging\n"
    "  -h, --help               this help\n"
    "\n"
    "Signals: SIGHUP re-reads the configuration (detector state is kept; an invalid\n"
    "file is reported and the running configuration stays); SIGUSR1 prints the\n"
    "statistics to stderr; SIGINT/SIGTERM stop reading and finish what was read:\n"
    "open incidents are written as closed, but with reporter.enabled peers are not\n"
    "told they closed and the spool is not drained (it goes out with the next run).\n"
    "\n"
    "At the end the statistics (stanzas by kind, events/s, MB/s, queue waits, drops,\n"
    "skipped stanzas, parse errors, over-limit and malformed stanzas, per detector\n"
    "its events, hits, keys and memory in use, the aggregator's hits and incidents\n"
    "opened/updated/closed) go to stderr, and as JSON to --stats-json.\n"
    "\n"
    "A stanza that is not well-formed (e.g. an undefined entity), and junk between\n"
    "stanzas (text, a stray close tag or CDATA at the top level of the stream), is\n"
    "reported as file:line:col: reason and skipped; the rest of the capture is analysed.\n"
    "\n"
    "Exit status: 0 success; 1 unreadable capture or one that is not a stanza\n"
    "stream (after processing everything before the error, reported as\n"
    "file:line:col: reason); 2 usage or configuration error (file:line: reason);\n"
    "3 everything analysed, but malformed stanzas were skipped (each reported).\n";

static int parse_uint(const char *s, const char *opt, unsigned *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > 1024) {
        fprintf(stderr, "stanzawatch: %s: expected a number 0..1024, got '%s'\n", opt, s);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static FILE *open_out(const char *path, const char *what)
{
    if (path == NULL || strcmp(path, "-") == 0) {
        return stdout;
    }
    FILE *fp = fopen(path, "w");
    if (fp == NULL) {
        fprintf(stderr, "stanzawatch: %s %s: %s\n", what, path, strerror(errno));
    }
    return fp;
}

/* The command line of one replay. */
struct replay_args {
    const char *conf_path, *inc_path, *rep_path, *stats_path, *pid_path;
    unsigned threads, pthreads, drain_s;
    bool progress;
    int verbosity; /* -1 quiet, 0 normal, 1 verbose */
};

/* Parse the options into @a. Returns -1 to go on (captures at argv[optind..]),
 * else the exit code (0 after --help). */
static int parse_args(int argc, char **argv, struct replay_args *a)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"incidents", required_argument, NULL, 'o'},
        {"reports", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'},
        {"parse-threads", required_argument, NULL, 'p'},
        {"stats-json", required_argument, NULL, 's'},
        {"pid-file", required_argument, NULL, 'P'},
        {"drain-timeout", required_argument, NULL, 'D'},
        {"no-progress", no_argument, NULL, 'N'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (struct replay_args){.inc_path = "-", .drain_s = 10, .progress = true};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:o:r:t:p:s:qvh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            a->conf_path = optarg;
            break;
        case 'o':
            a->inc_path = optarg;
            break;
        case 'r':
            a->rep_path = optarg;
            break;
        case 't':
            if (parse_uint(optarg, "--threads", &a->threads) < 0) {
                return EXIT_USAGE;
            }
            break;
        case 'p':
            if (parse_uint(optarg, "--parse-threads", &a->pthreads) < 0) {
                return EXIT_USAGE;
            }
            break;
        case 's':
            a->stats_path = optarg;
            break;
        case 'P':
            a->pid_path = optarg;
            break;
        case 'D':
            if (parse_uint(optarg, "--drain-timeout", &a->drain_s) < 0) {
                return EXIT_USAGE;
            }
            break;
        case 'N':
            a->progress = false;
            break;
        case 'q':
            a->verbosity = -1;
            break;
        case 'v':
            a->verbosity = 1;
            break;
        case 'h':
            fputs(cli_usage_replay, stdout);
            return 0;
        default:
            fputs("Try 'stanzawatch help replay'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs("stanzawatch replay: no CAPTURE given (use '-' for stdin)\n", stderr);
        fputs("Try 'stanzawatch help replay'.\n", stderr);
        return EXIT_USAGE;
    }
    return -1;
}

/* What a replay opened and must close: the outputs and their files. */
struct replay_outs {
    FILE *inc_fp, *rep_fp;
    struct sw_output_ops v[3];
    size_t n;
    struct sw_reporter *live;
    const struct sw_reporter_settings *rs;
};

/* Open the JSON Lines output, the --reports file and the live reporter (if
 * enabled), and write the pid file. Returns 0, or -1 with the reason printed. */
static int open_outputs(const struct replay_args *a, const struct sw_conf *conf,
                        struct replay_outs *o)
{
    struct sw_errbuf eb;
    o->inc_fp = open_out(a->inc_path, "--incidents");
    if (o->inc_fp == NULL) {
        return -1;
    }
    if (sw_output_json_init(&o->v[o->n], o->inc_fp) < 0) {
        fprintf(stderr, "stanzawatch: cannot set up the JSON output\n");
        return -1;
    }
    o->n++;
    if (a->rep_path != NULL) {
        o->rep_fp = open_out(a->rep_path, "--reports");
        if (o->rep_fp == NULL) {
            return -1;
        }
        eb.msg[0] = '\0';
        if (sw_output_reports_init(&o->v[o->n], conf, o->rep_fp, &eb) < 0) {
            fprintf(stderr, "stanzawatch: --reports: %s\n", eb.msg);
            return -1;
        }
        o->n++;
    }
    o->rs = sw_conf_section(conf, "reporter");
    if (o->rs != NULL && o->rs->enabled) {
        eb.msg[0] = '\0';
        if (sw_reporter_start(conf, &o->v[o->n], &o->live, &eb) < 0) {
            fprintf(stderr, "stanzawatch: reporter: %s\n", eb.msg);
            return -1;
        }
        o->n++;
        sw_log_info("main", "live reporter started: %zu peer(s), spool %s", o->rs->peers.n,
                    o->rs->spool_dir);
    }
    if (a->pid_path != NULL && cli_write_pid(a->pid_path) < 0) {
        return -1;
    }
    return 0;
}

/* End of a run: close the outputs (flush), let the live reporter drain (not
 * when a signal stopped the run: what is spooled goes out with the next run).
 * Sets *status to EXIT_INPUT if an output failed. */
static void finish_outputs(const struct replay_args *a, struct replay_outs *o, bool stopped,
                           int *status)
{
    if (cli_close_outputs(o->v, &o->n) < 0) {
        *status = EXIT_INPUT;
    }
    if (o->live != NULL) {
        cli_drain_reporter(o->live, o->rs, stopped ? 0 : (int64_t)a->drain_s * 1000);
        o->live = NULL;
    }
}

/* Print the statistics (unless quiet) and write --stats-json. */
static void report_stats(const struct replay_args *a, const struct sw_pipeline *p, int *status)
{
    struct sw_pipeline_stats st;
    sw_pipeline_get_stats(p, &st);
    if (a->verbosity >= 0) {
        sw_pipeline_print_stats(&st, stderr);
    }
    if (*status == 0 && st.malformed > 0) {
        fprintf(stderr, "stanzawatch: %llu malformed stanza(s) skipped\n",
                (unsigned long long)st.malformed);
        *status = EXIT_MALFORMED;
    }
    if (a->stats_path != NULL && cli_write_stats(a->stats_path, &st) < 0) {
        *status = *status ? *status : EXIT_INPUT;
    }
}

/* Error paths and the end: close what is still open, in order. */
static void close_outputs(const struct replay_args *a, struct replay_outs *o, int *status)
{
    (void)cli_close_outputs(o->v, &o->n);
    sw_reporter_stop(o->live, 0); /* error paths only: spooled reports stay for the next run */
    if (cli_close_file(o->inc_fp, a->inc_path) < 0 && *status == 0) {
        *status = EXIT_INPUT;
    }
    if (cli_close_file(o->rep_fp, a->rep_path) < 0 && *status == 0) {
        *status = EXIT_INPUT;
    }
}

int cli_cmd_replay(int argc, char **argv)
{
    struct replay_args a;
    int status = parse_args(argc, argv, &a);
    if (status >= 0) {
        return status;
    }
    status = EXIT_USAGE;
    struct sw_conf *conf = NULL;
    struct sw_pipeline *p = NULL;
    struct replay_outs o = {0};
    struct sw_aggregate *agg = NULL;
    struct sw_hit_stage stage;
    struct sw_errbuf eb;

    /* before any thread starts (the live reporter and its spool writer start in
     * open_outputs): every thread inherits the mask, so SIGHUP/SIGTERM/SIGINT/
     * SIGUSR1 reach only the control loop's sigtimedwait; SIGPIPE is ignored */
    sw_pipeline_block_signals();
    if (cli_register_sections() < 0 || cli_load_conf(a.conf_path, &conf) < 0) {
        return EXIT_USAGE;
    }
    const struct sw_engine_settings *eng = sw_conf_section(conf, "engine");
    sw_log_set_level(a.verbosity < 0   ? SW_LOG_ERROR
                     : a.verbosity > 0 ? SW_LOG_DEBUG
                                       : cli_log_level(eng ? eng->log_level : NULL));
    if (open_outputs(&a, conf, &o) < 0) {
        goto out;
    }

    if (cli_aggregate_start(conf, o.v, o.n, &agg, &stage) < 0) {
        goto out;
    }
    struct sw_pipeline_opts po = {
        .conf = conf,
        .detectors = sw_registry_list(),
        .stage = &stage,
        .threads = a.threads,
        .parse_threads = a.pthreads,
        .progress = a.progress && a.verbosity >= 0,
        .signals = true,
        .conf_path = a.conf_path,
    };
    eb.msg[0] = '\0';
    int rc = sw_pipeline_new(&po, &p, &eb);
    if (rc < 0) {
        fprintf(stderr, "%s\n", eb.msg);
        goto out;
    }
    eb.msg[0] = '\0';
    rc = sw_pipeline_run(p, (const char *const *)(argv + optind), (size_t)(argc - optind), &eb);
    status = 0;
    if (rc < 0) {
        fprintf(stderr, "%s\n", eb.msg[0] ? eb.msg : sw_strerror(rc));
        status = EXIT_INPUT;
    }
    finish_outputs(&a, &o, sw_pipeline_stopped(p), &status);
    report_stats(&a, p, &status);
out:
    close_outputs(&a, &o, &status);
    sw_pipeline_free(p);
    sw_aggregate_free(agg);
    if (a.pid_path != NULL && status != EXIT_USAGE) {
        unlink(a.pid_path);
    }
    sw_conf_free(conf);
    return status;
}
