/*
 * distinct.h - distinct count: an exact small set that turns into a
 * HyperLogLog sketch in the same bytes.
 *
 * A distinct counter lives in caller memory of SW_DISTINCT_BYTES(d) bytes: a
 * uint32 header and d data bytes (d a power of two, >= 8). While few items
 * were seen it is an exact set of fingerprints: the top 16 bits of the 64-bit
 * hash when d <= 64 (d/2 items), else the top 32 bits (d/4 items); the
 * insert that overflows the set rebuilds it as a HLL of 2*d
 * 4-bit registers (Flajolet et al. 2007, with the linear-counting correction
 * for small ranges of Heule et al. 2013) fed from the same fingerprints, so
 * the switch loses nothing. The HLL only uses those fingerprint bits
 * (index = top log2(m) bits, rank from the rest, capped at 15): enough for
 * counts far beyond what a detector thresholds on (16-bit: ~10^5).
 *
 * Sizes used here: d = 32 (36 bytes: 16 exact, then 64 registers, ~13% error)
 * inside per-key table entries; d = 2048 (4096 registers, ~1.6% error) in the
 * unit test's error bound at 100k. Windowing is the caller's: detectors reset a
 * counter when their (per-key, activity-started) window ends.
 *
 * Thread-safety: caller-owned memory, no locking. No allocation.
 */
#ifndef SW_DET_DISTINCT_H
#define SW_DET_DISTINCT_H

#include <stddef.h>
#include <stdint.h>

#define SW_DISTINCT_BYTES(d) (4u + (d))
#define SW_DISTINCT_HLL 0xFFFFFFFFu

/* The 36-byte flavour embedded in table entries. */
struct sw_distinct32 {
    uint32_t n;    /* exact items, or SW_DISTINCT_HLL */
    uint32_t d[8]; /* 16 uint16 fingerprints, or 64 4-bit registers */
};

/** Empty counter in @mem (@bytes = 4 + d). */
void sw_distinct_init(void *mem, size_t bytes);
/** Add the item with 64-bit hash @h. Returns 1 when the count may have grown
 *  (a new exact item or a raised register), 0 for a known item. */
int sw_distinct_add(void *mem, size_t bytes, uint64_t h);
/** Exact count, or the HLL estimate rounded to an integer. */
uint32_t sw_distinct_count(const void *mem, size_t bytes);
/** 1 while still exact. */
int sw_distinct_is_exact(const void *mem);

#endif
