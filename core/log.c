/*
 * log.c - leveled logging to stderr, one write(2) per line so lines from
 * several threads never interleave. Level set once at start-up.
 *
 * Messages often carry text from outside (JIDs, a peer's incident
 * description): every control byte in the formatted message (newline, CR,
 * ESC, DEL, ...) is written as \xNN, so nobody can forge or split log lines.
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
    if ((size_t)n > sizeof(line) - 8) {
        n = (int)(sizeof(line) - 8);
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t len = (size_t)n;
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)msg; m > 0 && *p; p++) {
        if (len + 5 > sizeof(line) - 1) {
            break;
        }
        if (*p < 0x20 || *p == 0x7f) {
            line[len++] = '\\';
            line[len++] = 'x';
            line[len++] = hex[*p >> 4];
            line[len++] = hex[*p & 15];
        } else {
            line[len++] = (char)*p;
        }
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
