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
    "  -t, --threads N          detector worker threads (default engine.threads, 0 = cores)\n"
    "  -p, --parse-threads N    XML parser threads (default engine.parse_threads,\n"
    "                           0 = as many as workers)\n"
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
    "statistics to stderr; SIGINT/SIGTERM stop reading and finish what was read.\n"
    "\n"
    "At the end the statistics (stanzas by kind, events/s, MB/s, queue waits, drops,\n"
    "skipped stanzas, parse errors, per-detector hits) go to stderr.\n"
    "\n"
    "Exit status: 0 success; 1 unreadable or malformed capture (after processing\n"
    "everything before the error, reported as file:line:col: reason); 2 usage or\n"
    "configuration error (file:line: reason).\n";

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

static enum sw_log_level level_from_name(const char *s)
{
    if (s == NULL) {
        return SW_LOG_INFO;
    }
    if (strcmp(s, "error") == 0) {
        return SW_LOG_ERROR;
    }
    if (strcmp(s, "warning") == 0) {
        return SW_LOG_WARN;
    }
    if (strcmp(s, "debug") == 0) {
        return SW_LOG_DEBUG;
    }
    return SW_LOG_INFO;
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

static int close_out(FILE *fp, const char *path)
{
    if (fp == NULL) {
        return 0;
    }
    int bad = fflush(fp) != 0 || ferror(fp);
    if (fp != stdout) {
        bad |= fclose(fp) != 0;
    }
    if (bad) {
        fprintf(stderr, "stanzawatch: writing %s failed\n", path ? path : "stdout");
        return -1;
    }
    return 0;
}

/*
 * End of a replay with the live reporter: every incident is spooled by now (the
 * pipeline has drained); give the reporter thread up to @drain_ms to deliver
 * them (it connects by itself, so a short replay may end before the first
 * connect), then stop it. Whatever is left stays in spool_dir, fsync'd, and is
 * sent by the next run. Control thread; consumes @r.
 */
static void drain_reporter(struct sw_reporter *r, const struct sw_reporter_settings *rs,
                           int64_t drain_ms)
{
    struct sw_reporter_stats st;
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
    for (int64_t waited = 0;; waited += 50) {
        sw_reporter_get_stats(r, &st);
        if (st.spool_pending == 0 || waited >= drain_ms) {
            break;
        }
        nanosleep(&tick, NULL);
    }
    sw_reporter_stop(r, 0);
    if (st.spool_pending > 0) {
        sw_log_warn("main",
                    "reporter: %llu report(s) not delivered within %lld s (%s); they stay in %s "
                    "and are sent by the next run",
                    (unsigned long long)st.spool_pending, (long long)(drain_ms / 1000),
                    st.connects > 0 ? "peer slow or down" : "never connected", rs->spool_dir);
    } else {
        sw_log_info("main", "reporter: spool empty, %llu report(s) acknowledged",
                    (unsigned long long)st.acked);
    }
}

int cli_cmd_replay(int argc, char **argv)
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
    const char *conf_path = NULL, *inc_path = "-", *rep_path = NULL, *stats_path = NULL,
               *pid_path = NULL;
    unsigned threads = 0, pthreads = 0, drain_s = 10;
    bool progress = true;
    int verbosity = 0, opt;
    int status = EXIT_USAGE;
    struct sw_conf *conf = NULL;
    struct sw_pipeline *p = NULL;
    FILE *inc_fp = NULL, *rep_fp = NULL;
    struct sw_output_ops outs[3] = {{0}};
    size_t n_outs = 0;
    struct sw_reporter *live = NULL;
    struct sw_aggregate *agg = NULL;
    struct sw_hit_stage stage;
    struct sw_errbuf eb;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:o:r:t:p:s:qvh", longopts, NULL)) != -1) {
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
            if (parse_uint(optarg, "--threads", &threads) < 0) {
                return EXIT_USAGE;
            }
            break;
        case 'p':
            if (parse_uint(optarg, "--parse-threads", &pthreads) < 0) {
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
            if (parse_uint(optarg, "--drain-timeout", &drain_s) < 0) {
                return EXIT_USAGE;
            }
            break;
        case 'N':
            progress = false;
            break;
        case 'q':
            verbosity = -1;
            break;
        case 'v':
            verbosity = 1;
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
    /* before any thread starts (the live reporter and its spool writer start
     * below): every thread inherits the mask, so SIGHUP/SIGTERM/SIGINT/SIGUSR1
     * reach only the control loop's sigtimedwait, and SIGPIPE is ignored */
    sw_pipeline_block_signals();
    if (cli_register_sections() < 0 || cli_load_conf(conf_path, &conf) < 0) {
        return EXIT_USAGE;
    }
    const struct sw_engine_settings *eng = sw_conf_section(conf, "engine");
    sw_log_set_level(verbosity < 0   ? SW_LOG_ERROR
                     : verbosity > 0 ? SW_LOG_DEBUG
                                     : level_from_name(eng ? eng->log_level : NULL));

    inc_fp = open_out(inc_path, "--incidents");
    if (inc_fp == NULL) {
        goto out;
    }
    if (sw_output_json_init(&outs[n_outs], inc_fp) < 0) {
        fprintf(stderr, "stanzawatch: cannot set up the JSON output\n");
        goto out;
    }
    n_outs++;
    if (rep_path != NULL) {
        rep_fp = open_out(rep_path, "--reports");
        if (rep_fp == NULL) {
            goto out;
        }
        eb.msg[0] = '\0';
        if (sw_output_reports_init(&outs[n_outs], conf, rep_fp, &eb) < 0) {
            fprintf(stderr, "stanzawatch: --reports: %s\n", eb.msg);
            goto out;
        }
        n_outs++;
    }
    const struct sw_reporter_settings *rs = sw_conf_section(conf, "reporter");
    if (rs != NULL && rs->enabled) {
        eb.msg[0] = '\0';
        if (sw_reporter_start(conf, &outs[n_outs], &live, &eb) < 0) {
            fprintf(stderr, "stanzawatch: reporter: %s\n", eb.msg);
            goto out;
        }
        n_outs++;
        sw_log_info("main", "live reporter started: %zu peer(s), spool %s", rs->peers.n,
                    rs->spool_dir);
    }
    if (pid_path != NULL) {
        FILE *pf = fopen(pid_path, "w");
        if (pf == NULL || fprintf(pf, "%ld\n", (long)getpid()) < 0 || fclose(pf) != 0) {
            fprintf(stderr, "stanzawatch: --pid-file %s: %s\n", pid_path, strerror(errno));
            goto out;
        }
    }

    eb.msg[0] = '\0';
    if (sw_aggregate_new(conf, outs, n_outs, &agg, &eb) < 0) {
        fprintf(stderr, "%s\n", eb.msg);
        goto out;
    }
    sw_aggregate_stage(agg, &stage);
    struct sw_pipeline_opts po = {
        .conf = conf,
        .detectors = sw_registry_list(),
        .stage = &stage,
        .threads = threads,
        .parse_threads = pthreads,
        .progress = progress && verbosity >= 0,
        .signals = true,
        .conf_path = conf_path,
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
    for (size_t i = 0; i < n_outs; i++) {
        if (outs[i].close != NULL && outs[i].close(outs[i].ctx) < 0) {
            status = EXIT_INPUT;
        }
    }
    n_outs = 0;
    if (live != NULL) {
        /* stopped by a signal: stop now; what is spooled goes out next run */
        drain_reporter(live, rs, sw_pipeline_stopped(p) ? 0 : (int64_t)drain_s * 1000);
        live = NULL;
    }
    struct sw_pipeline_stats st;
    sw_pipeline_get_stats(p, &st);
    if (verbosity >= 0) {
        sw_pipeline_print_stats(&st, stderr);
    }
    if (stats_path != NULL) {
        FILE *sf = open_out(stats_path, "--stats-json");
        if (sf == NULL) {
            status = status ? status : EXIT_INPUT;
        } else {
            sw_pipeline_write_stats_json(&st, sf);
            if (close_out(sf, stats_path) < 0) {
                status = status ? status : EXIT_INPUT;
            }
        }
    }
out:
    for (size_t i = 0; i < n_outs; i++) {
        if (outs[i].close != NULL) {
            outs[i].close(outs[i].ctx);
        }
    }
    sw_pipeline_free(p);
    sw_aggregate_free(agg);
    sw_reporter_stop(live, 0); /* error paths only: spooled reports stay for the next run */
    if (close_out(inc_fp, inc_path) < 0 && status == 0) {
        status = EXIT_INPUT;
    }
    if (close_out(rep_fp, rep_path) < 0 && status == 0) {
        status = EXIT_INPUT;
    }
    if (pid_path != NULL && status != EXIT_USAGE) {
        unlink(pid_path);
    }
    sw_conf_free(conf);
    return status;
}
