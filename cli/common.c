/*
 * common.c - helpers more than one command uses: the log level named in the
 * config, and draining the live reporter's spool at the end (replay, run).
 * Control thread.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "sw/log.h"
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
