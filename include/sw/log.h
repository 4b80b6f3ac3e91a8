/*
 * log.h - leveled, rate-limited logging to stderr (or syslog later).
 *
 * Lines: "2026-11-29T19:50:01.123Z stanzawatch[pid]: <level>: <module>: message".
 * Thread-safe (one write(2) per line). Never call from a detector's process().
 */
#ifndef SW_LOG_H
#define SW_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

enum sw_log_level { SW_LOG_ERROR = 0, SW_LOG_WARN, SW_LOG_INFO, SW_LOG_DEBUG };

/** Set the most verbose level printed (default SW_LOG_INFO). Not thread-safe: call at start. */
void sw_log_set_level(enum sw_log_level lvl);
enum sw_log_level sw_log_get_level(void);

void sw_log(enum sw_log_level lvl, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define sw_log_error(mod, ...) sw_log(SW_LOG_ERROR, mod, __VA_ARGS__)
#define sw_log_warn(mod, ...) sw_log(SW_LOG_WARN, mod, __VA_ARGS__)
#define sw_log_info(mod, ...) sw_log(SW_LOG_INFO, mod, __VA_ARGS__)
#define sw_log_debug(mod, ...) sw_log(SW_LOG_DEBUG, mod, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
