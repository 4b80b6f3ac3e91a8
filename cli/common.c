/*
 * common.c - helpers more than one command uses: the log level named in the
 * config, draining the live reporter's spool at the end, closing the outputs
 * and the files a run writes (--pid-file, --stats-json, written atomically
 * with sw_file_write_atomic) (replay, run). Control thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sw/file.h"
#include "sw/incident.h"
#include "sw/log.h"
#include "sw/pipeline.h"
#include "sw/reporter.h"

enum sw_log_level cli_log_level(const char *s)
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

/*
 * End of a replay or run with the live reporter: every incident is spooled by now (the
 * pipeline has drained); give the reporter thread up to @drain_ms to deliver
 * them (it connects by itself, so a short replay may end before the first
 * connect), then stop it. Whatever is left stays in spool_dir, fsync'd, and is
 * sent by the next run. Control thread; consumes @r.
 */
void cli_drain_reporter(struct sw_reporter *r, const struct sw_reporter_settings *rs,
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

int cli_close_file(FILE *fp, const char *path)
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

int cli_close_outputs(struct sw_output_ops *v, size_t *n)
{
    int rc = 0;
    for (size_t i = 0; i < *n; i++) {
        if (v[i].close != NULL && v[i].close(v[i].ctx) < 0) {
            rc = -1;
        }
    }
    *n = 0;
    return rc;
}

int cli_write_pid(const char *path)
{
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (sw_file_write_atomic(path, buf, (size_t)len, 0644) != 0) {
        fprintf(stderr, "stanzawatch: --pid-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int cli_write_stats(const char *path, const struct sw_pipeline_stats *st)
{
    if (strcmp(path, "-") == 0) {
        sw_pipeline_write_stats_json(st, stdout);
        return cli_close_file(stdout, NULL);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (mem == NULL) {
        fprintf(stderr, "stanzawatch: --stats-json %s: %s\n", path, strerror(errno));
        return -1;
    }
    sw_pipeline_write_stats_json(st, mem);
    int rc = fclose(mem) != 0 ? SW_ENOMEM : sw_file_write_atomic(path, buf, len, 0644);
    free(buf);
    if (rc != 0) {
        fprintf(stderr, "stanzawatch: --stats-json %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int cli_aggregate_start(const struct sw_conf *conf, struct sw_output_ops *outs, size_t n,
                        struct sw_aggregate **agg, struct sw_hit_stage *stage)
{
    struct sw_errbuf eb;
    eb.msg[0] = '\0';
    if (sw_aggregate_new(conf, outs, n, agg, &eb) < 0) {
        fprintf(stderr, "%s\n", eb.msg);
        return -1;
    }
    sw_aggregate_stage(*agg, stage);
    return 0;
}
