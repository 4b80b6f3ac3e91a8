/*
 * log.c - leveled logging to stderr, one write(2) per line so lines from
 * several threads never interleave. Level set once at start-up.
 *
 * Messages often carry text from outside (JIDs, a peer's incident
 * description): every control byte in the formatted message (newline, CR,
 * ESC, DEL, ...) is written as \xNN, so nobody can forge or split log lines.
 *
 * Rate limit (log.h): each call site's token bucket is read and updated under
 * one process-wide mutex (logging is rare and never on a hot path); the line
 * is formatted and written outside it.
 */
#include "sw/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sw/sw.h"

static enum sw_log_level log_level = SW_LOG_INFO;
static pthread_mutex_t site_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void sw_log_set_level(enum sw_log_level lvl)
{
    log_level = lvl;
}

/* format(printf, 4, 0): @fmt is checked at sw_log()'s callers; this tells
 * compilers that warn on a non-literal format (clang) where it comes from. */
__attribute__((format(printf, 4, 0))) static void log_line(enum sw_log_level lvl,
                                                           const char *module, uint32_t suppressed,
                                                           const char *fmt, va_list ap)
{
    char line[1024];
    char ts[32];
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
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
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
    if (suppressed > 0) {
        int k = snprintf(line + len, sizeof(line) - len - 1, " [%u similar lines suppressed]",
                         suppressed);
        len += k < 0 ? 0 : (size_t)k;
        if (len > sizeof(line) - 2) {
            len = sizeof(line) - 2;
        }
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void sw_log(enum sw_log_level lvl, const char *module, const char *fmt, ...)
{
    if (lvl > log_level) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    log_line(lvl, module, 0, fmt, ap);
    va_end(ap);
}

bool sw_log_admit(struct sw_log_site *site, int64_t now_ms, uint32_t *suppressed)
{
    pthread_mutex_lock(&site_mu);
    if (!site->started) {
        site->started = true;
        site->tokens = SW_LOG_BURST;
        site->last_ms = now_ms;
    } else if (now_ms - site->last_ms >= SW_LOG_REFILL_MS) {
        int64_t add = (now_ms - site->last_ms) / SW_LOG_REFILL_MS;
        if (add >= (int64_t)(SW_LOG_BURST - site->tokens)) {
            site->tokens = SW_LOG_BURST;
            site->last_ms = now_ms;
        } else {
            site->tokens += (uint32_t)add;
            site->last_ms += add * SW_LOG_REFILL_MS;
        }
    }
    bool ok = site->tokens > 0;
    if (ok) {
        site->tokens--;
        *suppressed = site->suppressed;
        site->suppressed = 0;
    } else {
        site->suppressed++;
    }
    pthread_mutex_unlock(&site_mu);
    return ok;
}

void sw_log_at(struct sw_log_site *site, enum sw_log_level lvl, const char *module, const char *fmt,
               ...)
{
    uint32_t suppressed = 0;
    if (lvl > log_level || !sw_log_admit(site, (int64_t)(sw_mono_ns() / 1000000), &suppressed)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    log_line(lvl, module, suppressed, fmt, ap);
    va_end(ap);
}
