/*
 * table.c - capped open-addressing table with sampled-LRU eviction and
 * idle expiry (see table.h for the design and its reasons).
 */
#include "table.h"

#include <stdlib.h>
#include <string.h>

struct sw_table {
    uint8_t *slots;
    size_t entry_size;
    size_t mask; /* slots - 1 */
    size_t count;
    size_t cursor; /* expiry sweep position */
    int64_t base_ms;
    int based;
};

static struct sw_table_entry *slot(const struct sw_table *t, size_t i)
{
    return (struct sw_table_entry *)(void *)(t->slots + (i & t->mask) * t->entry_size);
}

int sw_table_new(struct sw_table **out, size_t entry_size, int64_t max_memory)
{
    if (entry_size < sizeof(struct sw_table_entry) || entry_size % 8 != 0 || max_memory <= 0) {
        return SW_EINVAL;
    }
    size_t want = (size_t)max_memory / entry_size;
    size_t n = 64;
    while (n * 2 <= want) {
        n *= 2;
    }
    struct sw_table *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return SW_ENOMEM;
    }
    t->slots = calloc(n, entry_size);
    if (t->slots == NULL) {
        free(t);
        return SW_ENOMEM;
    }
    t->entry_size = entry_size;
    t->mask = n - 1;
    *out = t;
    return 0;
}

void sw_table_free(struct sw_table *t)
{
    if (t == NULL) {
        return;
    }
    free(t->slots);
    free(t);
}

uint32_t sw_table_now(struct sw_table *t, int64_t t_ms)
{
    if (!t->based) {
        t->base_ms = t_ms - 1000;
        t->based = 1;
    }
    int64_t s = (t_ms - t->base_ms) / 1000;
    if (s < 1) {
        s = 1; /* stamps before the base clamp to it */
    }
    if (s > (int64_t)UINT32_MAX) {
        s = UINT32_MAX;
    }
    return (uint32_t)s;
}

static uint32_t age(uint32_t now, uint32_t seen)
{
    return now > seen ? now - seen : 0;
}

void *sw_table_find(struct sw_table *t, uint64_t key)
{
    size_t home = (size_t)key;
    for (size_t k = 0; k < SW_TABLE_PROBE; k++) {
        struct sw_table_entry *e = slot(t, home + k);
        if (e->key == key) {
            return e;
        }
        if (e->key == 0) {
            return NULL;
        }
    }
    return NULL;
}

void *sw_table_get(struct sw_table *t, uint64_t key, uint32_t now, uint32_t *prev,
                   struct sw_detector_stats *st)
{
    size_t home = (size_t)key;
    struct sw_table_entry *victim = NULL;
    for (size_t k = 0; k < SW_TABLE_PROBE; k++) {
        struct sw_table_entry *e = slot(t, home + k);
        if (e->key == key) {
            *prev = e->seen;
            if (now > e->seen) {
                e->seen = now;
            }
            return e;
        }
        if (e->key == 0) {
            victim = e;
            t->count++;
            goto fill;
        }
        if (victim == NULL || age(now, e->seen) > age(now, victim->seen)) {
            victim = e;
        }
    }
    /* Window full: replace its least-recently-seen entry in place (the slot
     * stays occupied, so every other key's probe path is unchanged). */
    if (st != NULL) {
        st->evictions++;
    }
fill:
    memset(victim, 0, t->entry_size);
    victim->key = key;
    victim->seen = now;
    *prev = 0;
    return victim;
}

/* Backward-shift deletion for linear probing: pull later entries of the run
 * back into the hole unless that would move them before their home slot. */
static void delete_at(struct sw_table *t, size_t i)
{
    size_t hole = i & t->mask;
    size_t j = hole;
    for (;;) {
        j = (j + 1) & t->mask;
        struct sw_table_entry *e = slot(t, j);
        if (e->key == 0) {
            break;
        }
        size_t home = (size_t)e->key & t->mask;
        /* e may move to hole iff home is not cyclically in (hole, j]. */
        size_t dist_j = (j - home) & t->mask;
        size_t dist_hole = (j - hole) & t->mask;
        if (dist_j >= dist_hole) {
            memcpy(slot(t, hole), e, t->entry_size);
            hole = j;
        }
    }
    memset(slot(t, hole), 0, t->entry_size);
    t->count--;
}

void sw_table_expire(struct sw_table *t, uint32_t now, uint32_t idle_s,
                     struct sw_detector_stats *st)
{
    size_t n = t->mask + 1;
    size_t slice = n / 8;
    if (slice < 1024) {
        slice = n < 1024 ? n : 1024;
    }
    size_t i = t->cursor & t->mask;
    for (size_t done = 0; done < slice; done++) {
        struct sw_table_entry *e = slot(t, i);
        /* A shifted-in entry lands on i again: re-check i before moving on,
         * but only a bounded number of times (the run length). */
        int guard = SW_TABLE_PROBE;
        while (e->key != 0 && age(now, e->seen) > idle_s && guard-- > 0) {
            delete_at(t, i);
            if (st != NULL) {
                st->expired++;
            }
        }
        i = (i + 1) & t->mask;
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
    return t->mask + 1;
}

size_t sw_table_mem_bytes(const struct sw_table *t)
{
    return (t->mask + 1) * t->entry_size + sizeof(*t);
}
