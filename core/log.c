/*
 * log.c - leveled logging to stderr, one write(2) per line so lines from
 * several threads never interleave. Level set once at start-up.
 */
#include "sw/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sw/sw.h"

static enum sw_log_level log_level = SW_LOG_INFO;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void sw_log_set_level(enum sw_log_level lvl)
{
    log_level = lvl;
}

enum sw_log_level sw_log_get_level(void)
{
    return log_level;
}

void sw_log(enum sw_log_level lvl, const char *module, const char *fmt, ...)
{
    char line[1024];
    char ts[32];
    if (lvl > log_level) {
        return;
    }
    int n = snprintf(line, sizeof(line),
                     "%s stanzawatch[%ld]: %s: %s: ", sw_fmt_time(sw_wall_ms(), ts, sizeof(ts)),
                     (long)getpid(), level_names[lvl], module);
    if (n < 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
