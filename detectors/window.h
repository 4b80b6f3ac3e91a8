/*
 * window.h - sliding-window counter and token bucket in integer fixed point.
 *
 * struct sw_window is a ring of SW_WINDOW_BUCKETS uint16 buckets plus the
 * absolute index of the newest bucket (16 bytes, meant to be embedded in
 * compact per-key table entries). A window of W ms uses buckets of
 * sw_window_width(W) = W / (SW_WINDOW_BUCKETS - 1) ms; the sum at time t is the
 * classic interpolated sliding count: every bucket newer than the oldest one
 * in full, plus the oldest bucket weighted by the part of it that still lies
 * inside [t - W, t] (Q10 fixed point). Counts saturate at 65535 per bucket.
 *
 * Time: t_ms is event time. Equal stamps add to the same bucket; a backward
 * stamp still inside the ring adds to its own (older) bucket and one older
 * than the ring counts in the newest bucket, so no event is lost and the
 * window never moves backwards.
 *
 * struct sw_tbucket is a token bucket: tokens in milli-tokens, refilled at
 * rate_milli milli-tokens per second up to burst; backward stamps refill
 * nothing.
 *
 * Thread-safety: plain values owned by the caller; no locking.
 */
#ifndef SW_DET_WINDOW_H
#define SW_DET_WINDOW_H

#include <stdint.h>

#define SW_WINDOW_BUCKETS 6

struct sw_window {
    uint32_t head; /* absolute bucket index (t_ms / width, mod 2^32) of the newest bucket;
                    * 0 with all buckets 0 = empty */
    uint16_t b[SW_WINDOW_BUCKETS];
};

/** Bucket width in ms for a window of @window_ms (at least 1). */
int64_t sw_window_width(int64_t window_ms);
/** Count @n events at @t_ms. */
void sw_window_add(struct sw_window *w, int64_t width_ms, int64_t t_ms, uint32_t n);
/** Interpolated number of events in (t_ms - window, t_ms]; window = width * (BUCKETS - 1). */
uint32_t sw_window_sum(const struct sw_window *w, int64_t width_ms, int64_t t_ms);
/** Forget everything. */
void sw_window_reset(struct sw_window *w);

struct sw_tbucket {
    int64_t last_ms; /* time of the last refill; 0 = full, never used */
    int64_t tokens;  /* milli-tokens */
};

/** Start full (@burst tokens) at @t_ms. */
void sw_tbucket_init(struct sw_tbucket *b, uint32_t burst, int64_t t_ms);
/**
 * Refill up to @burst tokens at @rate_milli milli-tokens per second, then take
 * @cost tokens if available. Returns 1 when taken (conforming), 0 when the
 * bucket is short (the event is over the rate; nothing taken).
 */
int sw_tbucket_take(struct sw_tbucket *b, uint32_t rate_milli, uint32_t burst, int64_t t_ms,
                    uint32_t cost);
/** Whole tokens currently left (after a refill at @t_ms, without taking). */
uint32_t sw_tbucket_level(const struct sw_tbucket *b, uint32_t rate_milli, uint32_t burst,
                          int64_t t_ms);

#endif
