/*
 * progress.c - a one-line progress bar on stderr for long replays:
 *   [#########.........]  45.2%  123.4/273.0 MB  812k st/s  ETA 0:12
 * Shown only when stderr is a TTY, after the replay has run for a second (so
 * short runs and tests print nothing), redrawn at most ~5 times a second with
 * "\r" and erased with "\r\033[K" at the end. Without a known total (stdin)
 * it shows bytes and rate only. Control thread only.
 */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sw/sw.h"

#define PROGRESS_DELAY_NS 1000000000ull
#define PROGRESS_PERIOD_NS 180000000ull

void sw_progress_init(struct sw_progress *pr, bool want, int64_t total)
{
    memset(pr, 0, sizeof(*pr));
    pr->enabled = want && isatty(STDERR_FILENO) == 1;
    pr->total = total;
    pr->start_ns = sw_mono_ns();
    pr->last_ns = pr->start_ns;
}

static void fmt_count(char *buf, size_t len, double v)
{
    if (v >= 1e6) {
        snprintf(buf, len, "%.2fM", v / 1e6);
    } else if (v >= 1e3) {
        snprintf(buf, len, "%.0fk", v / 1e3);
    } else {
        snprintf(buf, len, "%.0f", v);
    }
}

void sw_progress_update(struct sw_progress *pr, uint64_t bytes, uint64_t stanzas)
{
    if (!pr->enabled) {
        return;
    }
    uint64_t now = sw_mono_ns();
    if (now - pr->start_ns < PROGRESS_DELAY_NS || now - pr->last_ns < PROGRESS_PERIOD_NS) {
        return;
    }
    double dt = (double)(now - pr->last_ns) / 1e9;
    double inst = (double)(stanzas - pr->last_stanzas) / dt;
    pr->rate = pr->rate == 0 ? inst : 0.7 * pr->rate + 0.3 * inst;
    pr->last_ns = now;
    pr->last_stanzas = stanzas;

    double elapsed = (double)(now - pr->start_ns) / 1e9;
    double mb = (double)bytes / 1e6;
    char rate[32], line[160];
    fmt_count(rate, sizeof(rate), pr->rate);
    if (pr->total > 0) {
        double frac = (double)bytes / (double)pr->total;
        if (frac > 1) {
            frac = 1;
        }
        char bar[26];
        int fill = (int)(frac * 24);
        for (int i = 0; i < 24; i++) {
            bar[i] = i < fill ? '#' : '.';
        }
        bar[24] = '\0';
        double bps = (double)bytes / elapsed;
        double eta = bps > 0 ? ((double)pr->total - (double)bytes) / bps : 0;
        unsigned e = eta > 0 ? (unsigned)eta : 0;
        snprintf(line, sizeof(line), "\r[%s] %5.1f%%  %.1f/%.1f MB  %s st/s  ETA %u:%02u ", bar,
                 frac * 100, mb, (double)pr->total / 1e6, rate, e / 60, e % 60);
    } else {
        snprintf(line, sizeof(line), "\r%.1f MB  %s st/s  %.0fs ", mb, rate, elapsed);
    }
    fputs(line, stderr);
    fflush(stderr);
    pr->shown = true;
}

void sw_progress_clear(struct sw_progress *pr)
{
    if (pr->shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        pr->shown = false;
    }
}
