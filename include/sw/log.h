/*
 * log.h - leveled, rate-limited logging to stderr.
 *
 * Lines: "2026-11-29T19:50:01.123Z stanzawatch[pid]: <level>: <module>: message".
 * Thread-safe (one write(2) per line). Never call from a detector's process().
 *
 * Rate limit: every sw_log_error/warn/info/debug call site has its own token
 * bucket (a static struct sw_log_site made by the macro): a burst of
 * SW_LOG_BURST lines, then one line per SW_LOG_REFILL_MS of monotonic time.
 * Lines over the limit are dropped and counted; the site's next printed line
 * ends with "[N similar lines suppressed]". So a peer flapping or a disk
 * filling up cannot flood the log, and one noisy site does not silence
 * another. sw_log() itself is not limited.
 */
#ifndef SW_LOG_H
#define SW_LOG_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum sw_log_level { SW_LOG_ERROR = 0, SW_LOG_WARN, SW_LOG_INFO, SW_LOG_DEBUG };

#define SW_LOG_BURST 10u
#define SW_LOG_REFILL_MS 6000 /* one more line per 6 s: 10 a minute sustained */

/* One call site's token bucket; zero-initialized (static), guarded by log.c. */
struct sw_log_site {
    int64_t last_ms; /* monotonic time of the last refill */
    uint32_t tokens;
    uint32_t suppressed; /* lines dropped since the last printed one */
    bool started;
};

/** Set the most verbose level printed (default SW_LOG_INFO). Not thread-safe: call at start. */
void sw_log_set_level(enum sw_log_level lvl);

/** Print one line, unlimited. */
void sw_log(enum sw_log_level lvl, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Print one line if @site's bucket has a token (see above). */
void sw_log_at(struct sw_log_site *site, enum sw_log_level lvl, const char *module, const char *fmt,
               ...) __attribute__((format(printf, 4, 5)));

/** The bucket step of sw_log_at at monotonic time @now_ms: true and
 *  *suppressed = lines dropped before this one, or false (counted). */
bool sw_log_admit(struct sw_log_site *site, int64_t now_ms, uint32_t *suppressed);

#define SW_LOG_SITE(lvl, mod, ...)                                                                 \
    do {                                                                                           \
        static struct sw_log_site sw_log_site_;                                                    \
        sw_log_at(&sw_log_site_, lvl, mod, __VA_ARGS__);                                           \
    } while (0)

#define sw_log_error(mod, ...) SW_LOG_SITE(SW_LOG_ERROR, mod, __VA_ARGS__)
#define sw_log_warn(mod, ...) SW_LOG_SITE(SW_LOG_WARN, mod, __VA_ARGS__)
#define sw_log_info(mod, ...) SW_LOG_SITE(SW_LOG_INFO, mod, __VA_ARGS__)
#define sw_log_debug(mod, ...) SW_LOG_SITE(SW_LOG_DEBUG, mod, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
