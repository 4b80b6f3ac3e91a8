/*
 * table.c - capped open-addressing table with sampled-LRU eviction and
 * idle expiry (see table.h for the design and its reasons).
 */
#include "table.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct sw_table {
    uint8_t *slots;
    size_t entry_size;
    size_t n;        /* slots in use (any count: homes use multiply-shift, not a mask) */
    size_t n_cap;    /* slots allocated (the max_memory capacity); n grows to it */
    unsigned grow_k; /* n = ceil(n_cap / 2^grow_k); 0 = at the cap */
    uint32_t sec_s;  /* sw_table_now memo (0 = none): stamps base_ms + sec_s * 1000 .. + 999
                      * are second sec_s (in grow_k's padding: the header, counted in
                      * mem_bytes, keeps its size) */
    size_t count;
    size_t grow_hold;  /* after a failed grow, retry only once count reaches this */
    size_t max_live;   /* 7/8 of n_cap: beyond it new keys replace old ones (short probe runs) */
    uint32_t idle_s;   /* last expiry limit (0 = none yet): older keys are absent on access */
    uint32_t last_now; /* latest now passed to get/expire (for find's idle check) */
    size_t cursor;     /* expiry sweep position */
    uint64_t *occ;     /* occupancy bitmap, one bit per slot: the sweep visits live slots only;
                        * followed in the same allocation by the slots' seen stamps */
    int64_t base_ms;   /* INT64_MIN until the first stamp */
};

/* A bitmap of occupied slots lets the expiry sweep jump from live slot to
 * live slot without reading the empty ones: a big, mostly empty table (the
 * usual case: max_memory is sized for floods) then costs per live key, not
 * per slot, and its untouched pages are never faulted in. The slots visited
 * and the deletions are exactly those of a slot-by-slot sweep. */
/* Slots a table starts with (or its capacity if smaller); it doubles from
 * there, each time its keys fill half of it, until it reaches the capacity. */
#define SW_TABLE_START_SLOTS 512

#define OCC_SHIFT 6
#define OCC_BLOCK ((size_t)1 << OCC_SHIFT)

static void occ_add(struct sw_table *t, size_t i)
{
    t->occ[i >> OCC_SHIFT] |= 1ull << (i & (OCC_BLOCK - 1));
}

static void occ_del(struct sw_table *t, size_t i)
{
    t->occ[i >> OCC_SHIFT] &= ~(1ull << (i & (OCC_BLOCK - 1)));
}

/* Is slot i (0 <= i < 2n, wrapping once) occupied? Lookups ask the bitmap
 * before reading a slot, so an empty slot is never read: its page is first
 * touched by the write that fills it (a plain zero-fill fault) instead of
 * being mapped to the shared zero page on a read and copied on the later
 * write (a write-protect fault plus a TLB-shootdown IPI to every CPU running
 * one of our threads: 12% of the replay's CPU before). */
/* Copies of each live slot's seen, dense (16 a cache line): the expiry
 * sweep reads these instead of the entries, so it touches an entry only to
 * delete it. Kept equal to the entry's seen by every write of it. */
static uint32_t *stamps(const struct sw_table *t)
{
    return (uint32_t *)(void *)(t->occ + ((t->n_cap + OCC_BLOCK - 1) >> OCC_SHIFT));
}

static bool live(const struct sw_table *t, size_t i)
{
    if (i >= t->n) {
        i -= t->n;
    }
    return (t->occ[i >> OCC_SHIFT] >> (i & (OCC_BLOCK - 1))) & 1u;
}

/* Slot i, for 0 <= i < 2n (probe runs wrap around the end once). */
static struct sw_table_entry *slot(const struct sw_table *t, size_t i)
{
    if (i >= t->n) {
        i -= t->n;
    }
    return (struct sw_table_entry *)(void *)(t->slots + i * t->entry_size);
}

/* Home slot of a key: Lemire's multiply-shift range reduction of the high
 * half (keys are well-mixed 64-bit hashes), so any slot count works and the
 * whole memory budget is used. */
static size_t home_of(const struct sw_table *t, uint64_t key)
{
    return (size_t)(((key >> 32) * (uint64_t)t->n) >> 32);
}

int sw_table_new(struct sw_table **out, size_t entry_size, int64_t max_memory)
{
    if (entry_size < sizeof(struct sw_table_entry) || entry_size % 8 != 0 || max_memory <= 0) {
        return SW_EINVAL;
    }
    /* The cap covers the header, the slots and per slot 4 bytes of seen copy
     * and one occupancy bit (in 64-bit words: at most 8 bytes of rounding). */
    size_t budget = (size_t)max_memory - (max_memory > 4096 ? sizeof(struct sw_table) + 8 : 0);
    size_t want = budget * 8 / (8 * (entry_size + sizeof(uint32_t)) + 1);
    size_t n = want < 64 ? 64 : want;
    if (n > UINT32_MAX) {
        n = UINT32_MAX; /* multiply-shift homes need n < 2^32 */
    }
    struct sw_table *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return SW_ENOMEM;
    }
    /* 4 KB pages, on purpose: the slot array as its own 2 MB-aligned
     * mapping with MADV_HUGEPAGE (jemalloc's extents get no huge page here:
     * THP "always", defrag "madvise") took 45 MB of huge pages on the bench
     * capture and cut sw_table_prefetch's samples (its slot prefetch's page
     * walks) by a third, but the worker's samples did not drop (+0.4%, +9%,
     * +0.2%, -13% in 4 alternating pairs: the walks' time went to the same
     * misses in sw_table_get and to clear_page_erms faulting in 2 MB at a
     * time), and max RSS grew 126 -> 143 MB. */
    t->slots = calloc(n, entry_size);
    t->occ =
        calloc(1, ((n + OCC_BLOCK - 1) >> OCC_SHIFT) * sizeof(uint64_t) + n * sizeof(uint32_t));
    if (t->slots == NULL || t->occ == NULL) {
        free(t->slots);
        free(t->occ);
        free(t);
        return SW_ENOMEM;
    }
    t->entry_size = entry_size;
    t->n_cap = n;
    t->max_live = n - n / 8;
    /* Start small: the slot array is calloc'ed at full capacity (untouched
     * pages cost nothing) but only a prefix of it is used until the keys
     * need more, so the pages touched follow the live keys. */
    while (((n + ((size_t)1 << t->grow_k) - 1) >> t->grow_k) > SW_TABLE_START_SLOTS) {
        t->grow_k++;
    }
    t->n = (n + ((size_t)1 << t->grow_k) - 1) >> t->grow_k;
    t->base_ms = INT64_MIN;
    *out = t;
    return 0;
}

void sw_table_free(struct sw_table *t)
{
    if (t == NULL) {
        return;
    }
    free(t->slots);
    free(t->occ);
    free(t);
}

uint32_t sw_table_now(struct sw_table *t, int64_t t_ms)
{
    /* Called once per event by each detector with a table: most events
     * fall in the second of the one before (the division below was most of
     * the ~15 instructions a call). */
    if (t->sec_s != 0 &&
        (uint64_t)t_ms - (uint64_t)t->base_ms - (uint64_t)t->sec_s * 1000u < 1000u) {
        return t->sec_s;
    }
    if (t->base_ms == INT64_MIN) {
        /* Whole seconds of the epoch, one before the first stamp: second
         * boundaries (cooldowns, gaps, idle) then fall at the same instants
         * on every worker, whichever event each saw first, so results do not
         * depend on the thread count. */
        int64_t s0 = t_ms >= 0 ? t_ms / 1000 : -((-t_ms + 999) / 1000);
        t->base_ms = (s0 - 1) * 1000;
    }
    int64_t s = (t_ms - t->base_ms) / 1000;
    if (s < 1) {
        s = 1; /* stamps before the base clamp to it */
    }
    if (s > (int64_t)UINT32_MAX) {
        s = UINT32_MAX;
    }
    if (s > 1 && s < (int64_t)UINT32_MAX) {
        /* unclamped: exactly the stamps base + s * 1000 .. + 999 give s */
        t->sec_s = (uint32_t)s;
    }
    return (uint32_t)s;
}

static uint32_t age(uint32_t now, uint32_t seen)
{
    return now > seen ? now - seen : 0;
}

/* A key idle past the expiry limit counts as absent whether or not the
 * sweep has reached its slot yet, so results never depend on slot order. */
static bool stale(const struct sw_table *t, uint32_t now, uint32_t seen)
{
    return t->idle_s != 0 && age(now, seen) > t->idle_s;
}

void *sw_table_find(struct sw_table *t, uint64_t key)
{
    size_t home = home_of(t, key);
    for (size_t k = 0; k < SW_TABLE_PROBE; k++) {
        if (!live(t, home + k)) {
            return NULL;
        }
        struct sw_table_entry *e = slot(t, home + k);
        if (e->key == key) {
            return stale(t, t->last_now, e->seen) ? NULL : e;
        }
    }
    return NULL;
}

void sw_table_prefetch(const struct sw_table *t, uint64_t key)
{
    size_t home = home_of(t, key);
    __builtin_prefetch(&t->occ[home >> OCC_SHIFT]);
    __builtin_prefetch(t->slots + home * t->entry_size);
    __builtin_prefetch(&stamps(t)[home], 1);
}

/* Backward-shift deletion for linear probing: pull later entries of the run
 * back into the hole unless that would move them before their home slot. */
static void delete_at(struct sw_table *t, size_t i)
{
    size_t n = t->n;
    size_t hole = i % n;
    size_t j = hole;
    /* Empty the hole first: the scan below then always ends, even in a
     * table with no other empty slot. */
    memset(slot(t, hole), 0, t->entry_size);
    occ_del(t, hole);
    for (;;) {
        j = j + 1 == n ? 0 : j + 1;
        if (!live(t, j)) {
            break;
        }
        struct sw_table_entry *e = slot(t, j);
        size_t home = home_of(t, e->key);
        /* e may move to hole iff home is not cyclically in (hole, j]. */
        size_t dist_j = (j + n - home) % n;
        size_t dist_hole = (j + n - hole) % n;
        if (dist_j >= dist_hole) {
            memcpy(slot(t, hole), e, t->entry_size);
            memset(e, 0, t->entry_size);
            stamps(t)[hole] = stamps(t)[j];
            occ_add(t, hole);
            occ_del(t, j);
            hole = j;
        }
    }
    t->count--;
}

/* Entries in ascending key order, which is ascending home order for any
 * slot count (a home is a monotone function of the key's high half) with
 * ties in key order: the order grow() lays them out in. */
static uint64_t key_at(const uint8_t *e)
{
    return ((const struct sw_table_entry *)(const void *)e)->key;
}

/* Append the entry at @e to the sorted run of @c entries at @dst (insertion
 * sort). Gathered in slot order, the entries arrive almost sorted: an entry
 * sits at most SW_TABLE_PROBE - 1 slots after its home and homes follow the
 * keys, so each moves back past a few at most (qsort took ~63% of
 * sw_table_get's instructions on the bench capture's first 100k lines). Keys
 * are unique, so the result is the one order any sort gives. */
static void insert_sorted(uint8_t *dst, size_t c, size_t es, const uint8_t *e)
{
    uint64_t key = key_at(e);
    size_t j = c;
    while (j > 0 && key_at(dst + (j - 1) * es) > key) {
        j--;
    }
    if (j < c) {
        memmove(dst + (j + 1) * es, dst + j * es, (c - j) * es);
    }
    memcpy(dst + j * es, e, es);
}

/* Positions of @c entries sorted by home (homes ascending) laid out by linear
 * probing in @m slots with the first @w slots taken by the last @w entries
 * (those that wrap around the end). Returns how many entries do not fit
 * before slot m (must wrap) and the largest probe distance in *maxd. */
static size_t layout_pass(const uint8_t *src, size_t es, size_t c, size_t m, size_t w, size_t *maxd)
{
    size_t next = w; /* first free slot */
    *maxd = 0;
    for (size_t j = 0; j < c; j++) {
        uint64_t key = ((const struct sw_table_entry *)(const void *)(src + j * es))->key;
        size_t h = (size_t)(((key >> 32) * (uint64_t)m) >> 32);
        size_t d = h > next ? h : next;
        if (d >= m) {
            return c - j;
        }
        if (d - h > *maxd) {
            *maxd = d - h;
        }
        next = d + 1;
    }
    return 0;
}

/* Double the slots in use (up to the capacity), in place: the live entries
 * are gathered into the unused tail of the allocation, sorted by their new
 * home and laid out again by linear probing, so no other memory is needed
 * and the cap holds. Which slot a key sits in is never observable: lookups
 * find the same keys, and expiry deletes every key idle past its limit
 * whenever it is next seen (sw_table_get/sw_table_find), not only when the
 * sweep reaches its slot. Returns false (table unchanged) when the new
 * layout would put a key beyond its probe window (practically never at a
 * quarter load); the caller then carries on at the current size. */
static bool grow(struct sw_table *t)
{
    if (t->grow_k == 0) {
        return false;
    }
    size_t n = t->n;
    size_t m = (t->n_cap + ((size_t)1 << (t->grow_k - 1)) - 1) >> (t->grow_k - 1);
    size_t c = t->count;
    size_t es = t->entry_size;
    if (c == 0 || c > m - n) {
        if (c == 0) {
            t->n = m;
            t->grow_k--;
            return true;
        }
        return false;
    }
    uint8_t *scr = t->slots + (m - c) * es; /* in [n, m): never used yet, all zero */
    /* Gather sorted by key: first the entries at or after their home in slot
     * order, then those of the run that wraps around the end (home > slot,
     * only at the start of the table), which sort near the end. */
    size_t idx = 0;
    for (size_t w = 0; w < (n + OCC_BLOCK - 1) >> OCC_SHIFT; w++) {
        /* live slots only, one occupancy word at a time (no bit past n is set) */
        for (uint64_t bits = t->occ[w]; bits != 0; bits &= bits - 1) {
            size_t i = (w << OCC_SHIFT) + (size_t)__builtin_ctzll(bits);
            if (home_of(t, slot(t, i)->key) <= i) {
                insert_sorted(scr, idx++, es, (const uint8_t *)slot(t, i));
            }
        }
    }
    for (size_t i = 0; i < n && live(t, i); i++) {
        if (home_of(t, slot(t, i)->key) > i) {
            insert_sorted(scr, idx++, es, (const uint8_t *)slot(t, i));
        }
    }
    size_t maxd = 0;
    size_t w = 0;
    for (;;) {
        size_t ov = layout_pass(scr, es, c, m, w, &maxd);
        if (ov <= w) {
            break;
        }
        w = ov;
    }
    bool ok = w < c && maxd < SW_TABLE_PROBE;
    for (size_t j = c - w; ok && j < c; j++) {
        uint64_t key = ((const struct sw_table_entry *)(const void *)(scr + j * es))->key;
        size_t h = (size_t)(((key >> 32) * (uint64_t)m) >> 32);
        ok = (m - h) + (j - (c - w)) < SW_TABLE_PROBE;
    }
    if (!ok) {
        memset(scr, 0, c * es);
        t->grow_hold = c + n / 32 + 1;
        return false;
    }
    /* Commit: clear the old prefix and the bitmap, place the wrapping
     * entries at slots 0..w-1, move the rest to the end of the tail and lay
     * them out in ascending order: entry j's slot is at most its own copy's
     * (m - k + j), so no copy is overwritten before it is placed. */
    memset(t->slots, 0, n * es);
    memset(t->occ, 0, ((m + OCC_BLOCK - 1) >> OCC_SHIFT) * sizeof(uint64_t));
    t->n = m;
    t->grow_k--;
    size_t k = c - w;
    for (size_t j = 0; j < w; j++) {
        memcpy(t->slots + j * es, scr + (k + j) * es, es);
        stamps(t)[j] = ((struct sw_table_entry *)(void *)(t->slots + j * es))->seen;
        occ_add(t, j);
    }
    uint8_t *src = t->slots + (m - k) * es;
    memmove(src, scr, k * es);
    size_t next = w;
    for (size_t j = 0; j < k; j++) {
        uint8_t *e = src + j * es;
        uint64_t key = ((struct sw_table_entry *)(void *)e)->key;
        size_t h = (size_t)(((key >> 32) * (uint64_t)m) >> 32);
        size_t d = h > next ? h : next;
        if (t->slots + d * es != e) {
            memcpy(t->slots + d * es, e, es);
        }
        stamps(t)[d] = ((struct sw_table_entry *)(void *)e)->seen;
        occ_add(t, d);
        next = d + 1;
    }
    /* Zero the tail slots left holding stale copies. */
    for (size_t i = m - c; i < m;) {
        if (live(t, i)) {
            i++;
            continue;
        }
        size_t j = i + 1; /* one memset per run of empty slots */
        while (j < m && !live(t, j)) {
            j++;
        }
        memset(t->slots + i * es, 0, (j - i) * es);
        i = j;
    }
    return true;
}

/* At the load cap with an empty home slot: make room by deleting the
 * least-recently-seen entry of the PROBE slots after @start (other keys'
 * runs), so the table never fills past its cap and runs stay short. */
static void evict_near(struct sw_table *t, size_t start, uint32_t now, struct sw_detector_stats *st)
{
    size_t best = SIZE_MAX;
    uint32_t best_age = 0;
    for (size_t k = 0; k < SW_TABLE_PROBE; k++) {
        size_t i = (start + k) % t->n;
        if (!live(t, i)) {
            continue;
        }
        uint32_t seen = stamps(t)[i];
        if (best == SIZE_MAX || age(now, seen) > best_age) {
            best = i;
            best_age = age(now, seen);
        }
    }
    if (best != SIZE_MAX) {
        delete_at(t, best);
        if (st != NULL) {
            st->evictions++;
        }
    }
}

static void *get_slow(struct sw_table *t, uint64_t key, uint32_t now, uint32_t *prev,
                      struct sw_detector_stats *st) __attribute__((noinline));

/* The common case, a live key found in its window with no grow due, in a
 * small function that needs no saved registers (the whole lookup's prologue
 * and epilogue were ~20 instructions a call); anything else is redone from
 * the start by get_slow(), which this path leaves unchanged for (last_now
 * aside, which get_slow sets the same). */
void *sw_table_get(struct sw_table *t, uint64_t key, uint32_t now, uint32_t *prev,
                   struct sw_detector_stats *st)
{
    if (now > t->last_now) {
        t->last_now = now;
    }
    if (t->count >= t->n / 2 && t->grow_k > 0 && t->count >= t->grow_hold) {
        return get_slow(t, key, now, prev, st);
    }
    size_t home = home_of(t, key);
    for (size_t k = 0; k < SW_TABLE_PROBE; k++) {
        size_t i = home + k;
        if (i >= t->n) {
            i -= t->n;
        }
        if (!((t->occ[i >> OCC_SHIFT] >> (i & (OCC_BLOCK - 1))) & 1u)) {
            break;
        }
        struct sw_table_entry *e = (struct sw_table_entry *)(void *)(t->slots + i * t->entry_size);
        if (e->key == key) {
            if (stale(t, now, e->seen)) {
                break;
            }
            *prev = e->seen;
            if (now > e->seen) {
                e->seen = now;
                stamps(t)[i] = now;
            }
            return e;
        }
    }
    return get_slow(t, key, now, prev, st);
}

static void *get_slow(struct sw_table *t, uint64_t key, uint32_t now, uint32_t *prev,
                      struct sw_detector_stats *st)
{
    if (now > t->last_now) {
        t->last_now = now;
    }
    if (t->count >= t->n / 2 && t->grow_k > 0 && t->count >= t->grow_hold) {
        grow(t);
    }
retry:;
    size_t home = home_of(t, key);
    struct sw_table_entry *victim = NULL;
    size_t vi = 0; /* victim's slot index */
    for (size_t k = 0; k < SW_TABLE_PROBE; k++) {
        struct sw_table_entry *e = slot(t, home + k);
        if (!live(t, home + k)) {
            if (t->count >= t->max_live) {
                if (victim != NULL) {
                    break; /* at the load cap: replace the window's oldest instead */
                }
                /* Home slot empty: delete an old key nearby (never in this
                 * key's path: the empty home slot ends every run before it). */
                evict_near(t, home + 1 + SW_TABLE_PROBE, now, st);
            }
            victim = e;
            vi = (home + k) % t->n;
            t->count++;
            occ_add(t, vi);
            goto fill;
        }
        if (e->key == key) {
            if (stale(t, now, e->seen)) {
                /* Idle past the limit: what the sweep would have deleted. */
                if (st != NULL) {
                    st->expired++;
                }
                victim = e;
                vi = (home + k) % t->n;
                goto fill;
            }
            *prev = e->seen;
            if (now > e->seen) {
                e->seen = now;
                stamps(t)[(home + k) % t->n] = now;
            }
            return e;
        }
        if (victim == NULL || age(now, e->seen) > age(now, victim->seen)) {
            victim = e;
            vi = (home + k) % t->n;
        }
    }
    /* Window full below the capacity: grow instead of evicting. */
    if (t->grow_k > 0 && t->count >= t->grow_hold && grow(t)) {
        goto retry;
    }
    /* Window full, or the table at its load cap: replace the window's
     * least-recently-seen entry in place (the slot stays occupied, so every
     * other key's probe path is unchanged). */
    if (st != NULL) {
        st->evictions++;
    }
fill:
    memset(victim, 0, t->entry_size);
    victim->key = key;
    victim->seen = now;
    stamps(t)[vi] = now;
    *prev = 0;
    return victim;
}

/* Bit k (k < 64) set when live slot w * 64 + k holds a key seen before @thr
 * (idle past the limit). @live is the slots' occupancy word. A whole word
 * of stamps lies inside the allocation: compared 16 at a time (SSE2, signed
 * compares of sign-flipped values are unsigned compares), ~70 instructions
 * per 64 slots instead of ~25 per live slot; the last partial word, and
 * other targets, test the live slots one by one. */
static uint64_t old_bits(const struct sw_table *t, size_t w, uint64_t live, uint32_t thr)
{
    const uint32_t *s = stamps(t) + (w << OCC_SHIFT);
    uint64_t m = 0;
#if defined(__SSE2__)
    if (((w + 1) << OCC_SHIFT) <= t->n_cap) {
        const __m128i flip = _mm_set1_epi32(INT32_MIN);
        const __m128i lim = _mm_set1_epi32((int32_t)(thr ^ 0x80000000u));
        for (unsigned k = 0; k < OCC_BLOCK; k += 16) {
            __m128i c[4];
            for (unsigned q = 0; q < 4; q++) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + k + 4 * q));
                c[q] = _mm_cmplt_epi32(_mm_xor_si128(v, flip), lim);
            }
            __m128i b = _mm_packs_epi16(_mm_packs_epi32(c[0], c[1]), _mm_packs_epi32(c[2], c[3]));
            m |= (uint64_t)(uint32_t)_mm_movemask_epi8(b) << k;
        }
        return m & live;
    }
#endif
    while (live != 0) {
        unsigned k = (unsigned)__builtin_ctzll(live);
        live &= live - 1;
        m |= (uint64_t)(s[k] < thr) << k;
    }
    return m;
}

void sw_table_expire(struct sw_table *t, uint32_t now, uint32_t idle_s,
                     struct sw_detector_stats *st)
{
    /* Sweep the whole table about twice per idle period (at least 256 and at
     * most 1/8 of the slots per call): cost stays small when stream time is
     * sparse, and a full table does not need expiry to take new keys
     * (eviction does that), only to keep the gauges and probe runs short. */
    t->idle_s = idle_s;
    if (now > t->last_now) {
        t->last_now = now;
    }
    size_t n = t->n;
    size_t per = idle_s / 2 > 0 ? idle_s / 2 : 1;
    size_t slice = n / per;
    if (slice < 256) {
        slice = 256;
    }
    if (slice > n / 8) {
        slice = n / 8 > 0 ? n / 8 : n;
    }
    /* age(now, seen) > idle_s  <=>  seen < thr (none when now <= idle_s). */
    uint32_t thr = now > idle_s ? now - idle_s : 0;
    size_t i = t->cursor % n;
    size_t left = slice;
    /* Visit the slice [cursor, cursor + slice) one occupancy word at a time:
     * a word whose live slots are all recent (the usual case: small tables
     * are swept every few seconds, keys expire after minutes) is passed in
     * one step; otherwise stop at its first old slot and delete there exactly
     * as a slot-by-slot sweep does, then go on from the next slot with the
     * word read again (a deletion shifts later entries back). */
    while (left > 0) {
        size_t w = i >> OCC_SHIFT;
        size_t off = i & (OCC_BLOCK - 1);
        size_t span = OCC_BLOCK - off;
        if (span > n - i) {
            span = n - i;
        }
        if (span > left) {
            span = left;
        }
        uint64_t bits = t->occ[w] >> off; /* bits past n are never set */
        if (span < OCC_BLOCK) {
            bits &= ((uint64_t)1 << span) - 1;
        }
        uint64_t old = bits != 0 && thr != 0 ? (old_bits(t, w, t->occ[w], thr) >> off) & bits : 0;
        if (old == 0) {
            left -= span;
            i += span;
            if (i == n) {
                i = 0;
            }
            continue;
        }
        size_t tz = (size_t)__builtin_ctzll(old);
        i += tz;
        left -= tz;
        /* A shifted-in entry lands on i again: re-check i before moving on,
         * but only a bounded number of times (the run length). */
        int guard = SW_TABLE_PROBE;
        while (live(t, i) && age(now, stamps(t)[i]) > idle_s && guard-- > 0) {
            delete_at(t, i);
            if (st != NULL) {
                st->expired++;
            }
        }
        i = i + 1 == n ? 0 : i + 1;
        left--;
    }
    t->cursor = i;
    if (st != NULL) {
        st->keys = t->count;
        st->mem_bytes = sw_table_mem_bytes(t);
    }
}

size_t sw_table_count(const struct sw_table *t)
{
    return t->count;
}

size_t sw_table_slots(const struct sw_table *t)
{
    return t->n_cap;
}

size_t sw_table_mem_bytes(const struct sw_table *t)
{
    /* The slots in use (n only grows): the capacity beyond them is allocated
     * but never touched, so it costs no memory (sw_table_new). */
    return t->n * t->entry_size + sizeof(*t) +
           ((t->n + OCC_BLOCK - 1) >> OCC_SHIFT) * sizeof(uint64_t) + t->n * sizeof(uint32_t);
}
