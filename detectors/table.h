/*
 * table.h - per-worker open-addressing hash table of fixed-size entries keyed
 * by a 64-bit hash, with a hard memory cap, idle expiry and a counted
 * eviction policy that never refuses a new key.
 *
 * Design: one calloc'ed array of slots of entry_size bytes, sized once at
 * creation from max_memory (any slot count: homes by multiply-shift) (the cap: the allocation
 * never grows, so memory is fixed no matter how many keys rotate through). Only a prefix of it
 * is in use: a table starts at about 512 slots and doubles (in place, rehashing its keys through
 * the unused tail of the same allocation, so no other memory is needed) each time its keys fill
 * half of it or a probe window fills, until it uses the whole capacity; so the pages touched
 * (faulted in) follow the number of live keys, not max_memory. Below the capacity nothing is
 * evicted; at it the policy below applies. Linear probing over a probe
 * window of SW_TABLE_PROBE slots. An entry starts with struct
 * sw_table_entry (key 0 = empty slot). A lookup of a new key takes the first
 * empty slot of its window; when the whole window is occupied, or the table
 * holds 7/8 of its slots (a load cap that keeps probe runs and deletions
 * short), it evicts the least-recently-seen entry of that window (sampled LRU over 16 candidates)
 * and counts it in sw_detector_stats.evictions. So under a flood of fresh keys the table keeps
 * tracking every new key (detection never stops, unlike a table that refuses keys once full), idle
 * keys go first, and a key that keeps being seen survives. Expiry (sw_table_expire) sweeps a slice
 * of the array per call and deletes keys idle longer than a limit with backward-shift deletion (no
 * tombstones), so the probe invariant "an entry sits within PROBE slots of its
 * home" always holds. A key idle past the last expiry limit is treated as absent by
 * sw_table_get/sw_table_find even before the sweep reaches its slot (get recreates it, counted
 * in st->expired), so what expiry forgets does not depend on slot order or table size.
 *
 * Time: entries carry last-seen seconds as uint32 relative to the table's base
 * (set from the first event); sw_table_now() converts event ms to that scale.
 *
 * Thread-safety: one table per worker and detector; no locking. Ownership:
 * sw_table_new/sw_table_free; max_memory includes the header, the slots, an occupancy bitmap and
 * a copy of each slot's seen (4 bytes + 1 bit per slot, ~6% of a 64-byte-entry table): the expiry
 * sweep reads only those, never an empty slot nor a live entry it keeps, and lookups never read
 * an empty slot. Entry pointers are borrowed until the
 * next sw_table_get or sw_table_expire on the same table.
 */
#ifndef SW_DET_TABLE_H
#define SW_DET_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "sw/detector.h"

#define SW_TABLE_PROBE 16

struct sw_table_entry {
    uint64_t key;  /* 0 = empty slot */
    uint32_t seen; /* last-seen seconds relative to the table base */
    uint32_t user; /* free for the detector (e.g. last hit seconds for the cooldown) */
};

struct sw_table;

/**
 * Create a table of entries of @entry_size bytes (multiple of 8, >= 16, starting
 * with struct sw_table_entry) using at most @max_memory bytes (at least 64
 * slots). Returns 0 and *out, or SW_EINVAL / SW_ENOMEM.
 */
int sw_table_new(struct sw_table **out, size_t entry_size, int64_t max_memory);
void sw_table_free(struct sw_table *t);

/** Event ms -> table seconds (>= 1; the base is the whole epoch second before
 *  the first stamp seen, so second boundaries agree across tables). */
uint32_t sw_table_now(struct sw_table *t, int64_t t_ms);

/**
 * The entry for @key (non-zero), creating it (zeroed, key and seen set) when
 * absent. *prev receives the entry's previous last-seen seconds, or 0 when it
 * was just created. Never NULL: a full probe window evicts its
 * least-recently-seen entry (counted in st->evictions, @st may be NULL).
 * Updates seen to @now (never backwards).
 */
void *sw_table_get(struct sw_table *t, uint64_t key, uint32_t now, uint32_t *prev,
                   struct sw_detector_stats *st);
/** The entry for @key or NULL; does not touch seen. */
void *sw_table_find(struct sw_table *t, uint64_t key);

/**
 * Prefetch the three lines a lookup of @key found in its home slot touches:
 * the slot's occupancy word, the slot, and its seen copy (written when the
 * second changed). Changes nothing (a hint: the table may change before the
 * lookup), reads only the header. For detectors' prefetch op
 * (sw/detector.h): in a table of several MB nearly every lookup missed all
 * three.
 */
void sw_table_prefetch(const struct sw_table *t, uint64_t key);

/**
 * Sweep the next slice (about slots / (idle_s / 2), within 256 .. slots/8;
 * callers call it about once per stream second) and delete entries not seen
 * for more than @idle_s seconds (counted in st->expired).
 * Also refreshes the st->keys and st->mem_bytes gauges.
 */
void sw_table_expire(struct sw_table *t, uint32_t now, uint32_t idle_s,
                     struct sw_detector_stats *st);

size_t sw_table_count(const struct sw_table *t);
/** Slot capacity (what max_memory allows; the slots in use grow up to it). */
size_t sw_table_slots(const struct sw_table *t);
/** Bytes of the table in use: the slots in use (they grow up to the capacity
 *  and never shrink), their bitmap and stamps, and the header; at most
 *  max_memory. The capacity beyond the slots in use is allocated but untouched. */
size_t sw_table_mem_bytes(const struct sw_table *t);

/** Mix two 64-bit keys into one non-zero key (room + sender pairs). */
static inline uint64_t sw_table_key2(uint64_t a, uint64_t b)
{
    uint64_t x = a ^ (b * 0x9E3779B97F4A7C15ull) ^ (b >> 29);
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x ? x : 1;
}

#endif
