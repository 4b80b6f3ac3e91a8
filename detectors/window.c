/*
 * window.c - sliding-window counter and token bucket (see window.h for the
 * design). Integer arithmetic only; bucket indices are absolute and compared
 * modulo 2^32 so they never need rebasing.
 */
#include "window.h"

#include <string.h>

#define N SW_WINDOW_BUCKETS

int64_t sw_window_width(int64_t window_ms)
{
    int64_t w = window_ms / (N - 1);
    return w > 0 ? w : 1;
}

/* Absolute bucket indices live in 1..M with M a multiple of N, so ring
 * positions (index % N) stay consistent when the index wraps; 0 = empty. */
#define M ((uint32_t)N * (1u << 29))

static uint32_t bucket_of(int64_t width_ms, int64_t t_ms)
{
    if (t_ms < 0) {
        t_ms = 0;
    }
    return (uint32_t)(((uint64_t)t_ms / (uint64_t)width_ms) % M) + 1u;
}

/* a - b modulo M as a signed distance. */
static int32_t diff(uint32_t a, uint32_t b)
{
    uint32_t d = (a + M - b) % M;
    return d > M / 2 ? (int32_t)d - (int32_t)M : (int32_t)d;
}

void sw_window_reset(struct sw_window *w)
{
    memset(w, 0, sizeof(*w));
}

static void bump(uint16_t *b, uint32_t n)
{
    uint32_t v = (uint32_t)*b + n;
    *b = (uint16_t)(v > 0xFFFFu ? 0xFFFFu : v);
}

void sw_window_add(struct sw_window *w, int64_t width_ms, int64_t t_ms, uint32_t n)
{
    uint32_t idx = bucket_of(width_ms, t_ms);
    if (w->head == 0) {
        memset(w->b, 0, sizeof(w->b));
        w->head = idx;
    }
    int32_t d = diff(idx, w->head);
    if (d > 0) {
        if (d >= N) {
            memset(w->b, 0, sizeof(w->b));
        } else {
            for (int32_t k = 1; k <= d; k++) {
                w->b[(w->head + (uint32_t)k) % N] = 0; /* M % N == 0: wrap-safe */
            }
        }
        w->head = idx;
        bump(&w->b[idx % N], n);
    } else if (d > -N) {
        bump(&w->b[idx % N], n); /* equal or slightly backward: its own bucket */
    } else {
        bump(&w->b[w->head % N], n); /* far backward: clamp to the newest */
    }
}

uint32_t sw_window_sum(const struct sw_window *w, int64_t width_ms, int64_t t_ms)
{
    if (w->head == 0) {
        return 0;
    }
    uint32_t idx = bucket_of(width_ms, t_ms);
    int32_t d = diff(idx, w->head);
    int64_t frac_q10; /* elapsed part of the current bucket, Q10 */
    if (d < 0) {
        d = 0; /* backward query: read as of the newest bucket's start */
        idx = w->head;
        frac_q10 = 0;
    } else {
        int64_t tt = t_ms < 0 ? 0 : t_ms;
        frac_q10 = ((tt % width_ms) * 1024) / width_ms;
    }
    if (d >= N) {
        return 0;
    }
    /* Buckets idx-N+1 .. idx; those newer than head (k < d) are empty. The
     * bucket k before idx is head's k - d before: age k - d, in the ring
     * (0 <= age < N) exactly when k >= d, since 0 <= d < N; the oldest
     * (k = N - 1) always is. Its slot is (idx - k) mod N (M % N == 0): no
     * modulo-M index arithmetic per bucket (this loop was ~45 instructions
     * a bucket). */
    uint32_t base = idx % N;
    uint64_t full = 0;
    for (uint32_t k = (uint32_t)d; k + 1 < N; k++) {
        full += w->b[(base + N - k) % N];
    }
    uint64_t part = (uint64_t)w->b[(base + 1) % N] * (uint64_t)(1024 - frac_q10);
    return (uint32_t)((full * 1024 + part + 512) / 1024);
}

void sw_tbucket_init(struct sw_tbucket *b, uint32_t burst, int64_t t_ms)
{
    b->last_ms = t_ms;
    b->tokens = (int64_t)burst * 1000;
}

static int64_t refilled(const struct sw_tbucket *b, uint32_t rate_milli, uint32_t burst,
                        int64_t t_ms, int64_t *new_last)
{
    int64_t tokens = b->tokens;
    int64_t last = b->last_ms;
    if (t_ms > last) {
        /* milli-tokens = rate (milli/s) * elapsed ms / 1000 */
        int64_t add = (int64_t)rate_milli * (t_ms - last) / 1000;
        tokens += add;
        last = t_ms;
    }
    int64_t cap = (int64_t)burst * 1000;
    if (tokens > cap) {
        tokens = cap;
    }
    *new_last = last;
    return tokens;
}

int sw_tbucket_take(struct sw_tbucket *b, uint32_t rate_milli, uint32_t burst, int64_t t_ms,
                    uint32_t cost)
{
    int64_t last;
    int64_t tokens = refilled(b, rate_milli, burst, t_ms, &last);
    b->last_ms = last;
    if (tokens >= (int64_t)cost * 1000) {
        b->tokens = tokens - (int64_t)cost * 1000;
        return 1;
    }
    b->tokens = tokens;
    return 0;
}

uint32_t sw_tbucket_level(const struct sw_tbucket *b, uint32_t rate_milli, uint32_t burst,
                          int64_t t_ms)
{
    int64_t last;
    int64_t tokens = refilled(b, rate_milli, burst, t_ms, &last);
    return (uint32_t)(tokens / 1000);
}
