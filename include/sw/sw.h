/*
 * sw.h - stanzawatch common definitions: version, error codes, error buffer,
 * hashing and small helpers shared by every module.
 *
 * Errors are ints: 0 on success or a negative SW_E* value (-errno where one
 * fits). sw_strerror() is generated from the one X-macro list below.
 * Thread-safety: everything here is reentrant.
 */
#ifndef SW_SW_H
#define SW_SW_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SW_VERSION "0.1.0"

/* X(name, value, text): one list makes the enum and sw_strerror(). */
#define SW_ERRORS(X)                                                                               \
    X(SW_OK, 0, "success")                                                                         \
    X(SW_EINVAL, -EINVAL, "invalid argument")                                                      \
    X(SW_ENOMEM, -ENOMEM, "out of memory")                                                         \
    X(SW_EIO, -EIO, "input/output error")                                                          \
    X(SW_ENOENT, -ENOENT, "no such file or entry")                                                 \
    X(SW_EAGAIN, -EAGAIN, "try again")                                                             \
    X(SW_ENOSPC, -ENOSPC, "no space left on device")                                               \
    X(SW_EPARSE, -1001, "malformed input")                                                         \
    X(SW_ECONF, -1002, "configuration error")                                                      \
    X(SW_ELIMIT, -1003, "limit exceeded")                                                          \
    X(SW_EPATTERN, -1004, "pattern compile error")                                                 \
    X(SW_EPROTO, -1005, "protocol error")                                                          \
    X(SW_EFORBIDDEN, -1006, "forbidden")

enum sw_err {
#define SW_ERR_ENUM(name, value, text) name = (value),
    SW_ERRORS(SW_ERR_ENUM)
#undef SW_ERR_ENUM
};

/** Static text for an SW_E* code (or "unknown error"); never NULL. */
const char *sw_strerror(int err);

/** One readable sentence explaining the last failure of a setup/config call. */
struct sw_errbuf {
    char msg[512];
};

/** printf-style: fill @eb (may be NULL) and return @err unchanged. */
int sw_errbuf_set(struct sw_errbuf *eb, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** 64-bit hash of @len bytes (XXH3-64, libxxhash). Never returns 0 for non-empty
 *  input: 0 is reserved for "no key". */
uint64_t sw_hash64(const void *p, size_t len);

/** Like sw_hash64 but folds ASCII upper case to lower case first (JID parts). */
uint64_t sw_hash64_lower(const void *p, size_t len);

/** Wall clock in milliseconds since the Unix epoch. */
int64_t sw_wall_ms(void);

/** Monotonic clock in nanoseconds. */
uint64_t sw_mono_ns(void);

/** Format @ms (Unix epoch milliseconds, UTC) as RFC 3339 "YYYY-MM-DDThh:mm:ss.sssZ" into
 *  @buf (at least 25 bytes). Returns @buf. */
char *sw_fmt_time(int64_t ms, char *buf, size_t len);

/** Parse an XEP-0082 DateTime ("CCYY-MM-DDThh:mm:ss[.s+](Z|+-hh:mm)") or legacy
 *  XEP-0091 "CCYYMMDDThh:mm:ss" into Unix epoch ms. Returns 0 or SW_EPARSE. */
int sw_parse_time(const char *s, size_t len, int64_t *out_ms);

#ifdef __cplusplus
}
#endif
#endif
