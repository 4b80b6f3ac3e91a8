/*
 * main.c - the stanzawatch command line: replay, check-config, dump-config,
 * reload, help. A thin layer over the pipeline library (include/sw/pipeline.h):
 * parse arguments, register every config section, load the config, open the
 * outputs, run, print stats, map errors to exit codes:
 *   0 ok, 1 input or parse error (file:line:col printed), 2 usage or config
 *   error (file:line: reason printed).
 * Signals are blocked here, before any thread starts, and polled by the
 * pipeline's control loop (SIGHUP reload, SIGUSR1 stats, SIGINT/SIGTERM stop).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sw/conf.h"
#include "sw/detector.h"
#include "sw/incident.h"
#include "sw/log.h"
#include "sw/pipeline.h"
#include "sw/reporter.h"
#include "sw/settings.h"
#include "sw/sw.h"
#if defined(__has_include)
#if __has_include("sw/classifier.h")
#include "sw/classifier.h"
#define SW_HAVE_TRAIN 1
#endif
#endif

#define EXIT_INPUT 1
#define EXIT_USAGE 2
#define DEFAULT_PID_FILE "/run/stanzawatch/stanzawatch.pid"

static const char usage_main[] =
    "Usage: stanzawatch COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "stanzawatch watches an XMPP server's stanza mirror, catches MUC flooders and\n"
    "subscription spammers, and turns them into incidents (JSON Lines, XEP-0268).\n"
    "\n"
    "Commands:\n"
    "  replay [OPTIONS] CAPTURE...   run the detectors over stanza captures\n"
    "  check-config FILE             validate a configuration file\n"
    "  dump-config [-c FILE]         print the effective configuration as YAML\n"
#ifdef SW_HAVE_TRAIN
    "  train ...                     train the content classifier (see help train)\n"
#endif
    "  reload [--pid-file F]         make a running replay re-read its config (SIGHUP)\n"
    "  help [COMMAND]                show help for a command\n"
    "  --version                     print the version\n"
    "\n"
    "Exit status: 0 success, 1 input or parse error, 2 usage or configuration error.\n"
    "Run 'stanzawatch help replay' for the replay options.\n";

static const char usage_replay[] =
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

static const char usage_check[] =
    "Usage: stanzawatch check-config FILE\n"
    "\n"
    "Load and validate FILE with every section's schema, then set up and tear down\n"
    "every enabled detector as a replay would (rule files compiled, list and model\n"
    "files read). Prints 'FILE: ok' and exits 0, or prints 'file:line: key: reason'\n"
    "(or 'FILE: detector NAME: reason') and exits 2. Unknown keys, wrong types and\n"
    "out-of-range values are errors.\n";

static const char usage_dump[] =
    "Usage: stanzawatch dump-config [-c FILE]\n"
    "\n"
    "Print the effective configuration (FILE merged over the built-in defaults, or\n"
    "the defaults alone) as YAML. Loading the output gives the same configuration.\n";

static const char usage_reload[] =
    "Usage: stanzawatch reload [--pid-file FILE]\n"
    "\n"
    "Send SIGHUP to the stanzawatch whose pid is in FILE (default " DEFAULT_PID_FILE ",\n"
    "written by 'replay --pid-file'). It re-reads its configuration file; an invalid\n"
    "file is logged by that process, which keeps running with the old one.\n";

static int register_sections(void)
{
    struct sw_errbuf eb;
    int rc = sw_settings_register();
    if (rc == 0) {
        rc = sw_registry_register_conf(&eb);
        if (rc < 0) {
            fprintf(stderr, "stanzawatch: %s\n", eb.msg);
            return rc;
        }
    }
    if (rc == 0) {
        rc = sw_aggregate_register_conf();
    }
    if (rc == 0) {
        rc = sw_reporter_register_conf();
    }
    if (rc < 0) {
        fprintf(stderr, "stanzawatch: cannot register config sections: %s\n", sw_strerror(rc));
    }
    return rc;
}

static int load_conf(const char *path, struct sw_conf **out)
{
    struct sw_errbuf eb;
    eb.msg[0] = '\0';
    int rc = sw_conf_load(path, out, &eb);
    if (rc < 0) {
        fprintf(stderr, "%s\n", eb.msg[0] ? eb.msg : sw_strerror(rc));
    }
    return rc;
}

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

static int cmd_replay(int argc, char **argv)
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
            fputs(usage_replay, stdout);
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
    if (register_sections() < 0 || load_conf(conf_path, &conf) < 0) {
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

    struct sw_pipeline_opts po = {
        .conf = conf,
        .outputs = outs,
        .n_outputs = n_outs,
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

/*
 * Run every enabled detector's setup() on @conf and tear it down again, as a
 * replay would at start: a rule file with a bad regex, a missing list or model
 * file is a configuration error only setup() can see. Prints the first failure
 * as "FILE: detector NAME: reason". Returns 0 or the failing setup's SW_E*.
 */
static int check_detectors(const struct sw_conf *conf)
{
    const struct sw_detector_ops *const *list = sw_registry_list();
    char section[160];
    for (size_t i = 0; list[i] != NULL; i++) {
        const struct sw_detector_ops *ops = list[i];
        snprintf(section, sizeof(section), "detectors.%s", ops->name);
        const void *settings = sw_conf_section(conf, section);
        /* settings structs start with `bool enabled` (detector.h) */
        if (settings == NULL || !*(const bool *)settings || ops->setup == NULL) {
            continue;
        }
        struct sw_errbuf eb;
        void *shared = NULL;
        eb.msg[0] = '\0';
        int rc = ops->setup(settings, &shared, &eb);
        if (rc < 0) {
            fprintf(stderr, "%s: detector %s: %s\n", sw_conf_path(conf), ops->name,
                    eb.msg[0] ? eb.msg : sw_strerror(rc));
            return rc;
        }
        if (ops->teardown != NULL) {
            ops->teardown(shared);
        }
    }
    return 0;
}

static int cmd_check_config(int argc, char **argv)
{
    struct sw_conf *conf = NULL;
    if (argc != 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage_check, argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : EXIT_USAGE;
    }
    if (register_sections() < 0 || load_conf(argv[1], &conf) < 0) {
        return EXIT_USAGE;
    }
    int rc = check_detectors(conf);
    if (rc == 0) {
        printf("%s: ok\n", argv[1]);
    }
    sw_conf_free(conf);
    return rc < 0 ? EXIT_USAGE : 0;
}

static int cmd_dump_config(int argc, char **argv)
{
    const char *path = NULL;
    struct sw_conf *conf = NULL;
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(usage_dump, stdout);
        return 0;
    }
    if (argc == 3 && (strcmp(argv[1], "-c") == 0 || strcmp(argv[1], "--config") == 0)) {
        path = argv[2];
    } else if (argc != 1) {
        fputs(usage_dump, stderr);
        return EXIT_USAGE;
    }
    if (register_sections() < 0 || load_conf(path, &conf) < 0) {
        return EXIT_USAGE;
    }
    int rc = sw_conf_dump(conf, stdout);
    sw_conf_free(conf);
    return rc < 0 ? EXIT_INPUT : 0;
}

static int cmd_reload(int argc, char **argv)
{
    const char *path = DEFAULT_PID_FILE;
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(usage_reload, stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--pid-file") == 0) {
        path = argv[2];
    } else if (argc != 1) {
        fputs(usage_reload, stderr);
        return EXIT_USAGE;
    }
    FILE *fp = fopen(path, "r");
    long pid = 0;
    if (fp == NULL) {
        fprintf(stderr, "stanzawatch reload: %s: %s\n", path, strerror(errno));
        return EXIT_INPUT;
    }
    int n = fscanf(fp, "%ld", &pid);
    fclose(fp);
    if (n != 1 || pid <= 1) {
        fprintf(stderr, "stanzawatch reload: %s: no pid in the file\n", path);
        return EXIT_INPUT;
    }
    if (kill((pid_t)pid, SIGHUP) != 0) {
        fprintf(stderr, "stanzawatch reload: pid %ld: %s\n", pid, strerror(errno));
        return EXIT_INPUT;
    }
    printf("sent SIGHUP to %ld\n", pid);
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stdout);
        return 0;
    }
    const char *c = argv[1];
    if (strcmp(c, "replay") == 0) {
        fputs(usage_replay, stdout);
    } else if (strcmp(c, "check-config") == 0) {
        fputs(usage_check, stdout);
    } else if (strcmp(c, "dump-config") == 0) {
        fputs(usage_dump, stdout);
    } else if (strcmp(c, "reload") == 0) {
        fputs(usage_reload, stdout);
#ifdef SW_HAVE_TRAIN
    } else if (strcmp(c, "train") == 0) {
        char *targv[] = {(char *)"train", (char *)"--help", NULL};
        return sw_train_main(2, targv);
#endif
    } else {
        fprintf(stderr, "stanzawatch: no such command '%s'\n", c);
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("stanzawatch %s\n", SW_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        return cmd_help(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "replay") == 0) {
        return cmd_replay(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "check-config") == 0) {
        return cmd_check_config(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "dump-config") == 0) {
        return cmd_dump_config(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "reload") == 0) {
        return cmd_reload(argc - 1, argv + 1);
    }
#ifdef SW_HAVE_TRAIN
    if (strcmp(cmd, "train") == 0) {
        return sw_train_main(argc - 1, argv + 1);
    }
#endif
    fprintf(stderr, "stanzawatch: unknown command '%s'\n\n", cmd);
    fputs(usage_main, stderr);
    return EXIT_USAGE;
}
