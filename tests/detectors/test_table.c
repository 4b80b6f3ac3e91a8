/*
 * test_table.c - capped table: memory cap holds under a flood of fresh keys,
 * new keys are always tracked, evictions are counted, recently seen keys
 * survive, idle expiry with backward-shift deletion keeps every survivor
 * reachable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../detectors/table.h"

struct ent {
    struct sw_table_entry h;
    uint64_t payload[6];
};

static uint64_t k(uint64_t i)
{
    return sw_table_key2(i, 77);
}

static void test_cap_and_eviction(void **state)
{
    (void)state;
    struct sw_table *t;
    assert_int_equal(sw_table_new(&t, sizeof(struct ent), 64 * 1024), 0);
    size_t slots = sw_table_slots(t);
    /* header, then per slot the entry, a 4-byte seen copy and an occupancy bit */
    assert_int_equal(slots, (64 * 1024 - 64 - 8) * 8 / (8 * (sizeof(struct ent) + 4) + 1));
    /* A fresh table counts only the slots in use (the rest is untouched). */
    size_t mem0 = sw_table_mem_bytes(t);
    assert_true(mem0 <= 64 * 1024);
    struct sw_detector_stats st = {0};
    uint32_t prev;
    const uint64_t hot = k(999999999);
    for (uint64_t i = 0; i < 100000; i++) {
        uint32_t now = 10 + (uint32_t)(i / 100);
        struct ent *e = sw_table_get(t, k(i), now, &prev, &st);
        assert_int_equal(prev, 0); /* fresh key, always tracked */
        e->payload[0] = i;
        /* The new key is found right away. */
        struct ent *f = sw_table_find(t, k(i));
        assert_non_null(f);
        assert_int_equal(f->payload[0], i);
        if (i % 10 == 0) {
            sw_table_get(t, hot, now, &prev, &st);
        }
        assert_true(sw_table_count(t) <= slots - slots / 8 + 1); /* load cap 7/8 */
    }
    assert_true(st.evictions > 90000);
    /* Grown to the capacity: the cap includes everything. */
    size_t mem = sw_table_mem_bytes(t);
    assert_true(mem <= 64 * 1024);
    assert_true(mem > 64 * 1024 - sizeof(struct ent) - 16);
    assert_true(mem0 < mem);
    /* The key seen all along survived the churn (sampled LRU). */
    assert_non_null(sw_table_find(t, hot));
    /* Most recent keys are still there. */
    size_t found = 0;
    for (uint64_t i = 99900; i < 100000; i++) {
        found += sw_table_find(t, k(i)) != NULL;
    }
    assert_true(found >= 95);
    sw_table_free(t);
}

static void test_expire(void **state)
{
    (void)state;
    struct sw_table *t;
    assert_int_equal(sw_table_new(&t, sizeof(struct ent), 64 * 1024), 0);
    struct sw_detector_stats st = {0};
    uint32_t prev;
    /* 800 keys in 960 slots: long probe runs. Even keys old, odd keys fresh. */
    static uint8_t present[800];
    for (uint64_t i = 0; i < 800; i++) {
        struct ent *e = sw_table_get(t, k(i), (i % 2) ? 1000 : 10, &prev, &st);
        e->payload[1] = i;
    }
    /* A few may have been evicted by full probe windows: that is counted. */
    size_t fresh = 0, old = 0;
    for (uint64_t i = 0; i < 800; i++) {
        present[i] = sw_table_find(t, k(i)) != NULL;
        fresh += present[i] && (i % 2);
        old += present[i] && !(i % 2);
    }
    assert_int_equal(fresh + old + st.evictions, 800);
    assert_true(st.evictions < 40);
    for (int pass = 0; pass < 10; pass++) {
        sw_table_expire(t, 1001, 100, &st);
    }
    assert_int_equal(st.expired, old);
    assert_int_equal(sw_table_count(t), fresh);
    assert_int_equal(st.keys, fresh);
    for (uint64_t i = 0; i < 800; i++) {
        struct ent *e = sw_table_find(t, k(i));
        if ((i % 2) && present[i]) {
            assert_non_null(e);
            assert_int_equal(e->payload[1], i);
        } else {
            assert_null(e);
        }
    }
    sw_table_free(t);
}

static void test_long_rotation_with_expiry(void **state)
{
    (void)state;
    /* 2M fresh keys through a 1024-slot table, expiry every second of stream
     * time (1000 keys): the load cap holds, deletions stay cheap, and the
     * count matches what find() sees. */
    struct sw_table *t;
    assert_int_equal(sw_table_new(&t, sizeof(struct ent), 64 * 1024), 0);
    struct sw_detector_stats st = {0};
    uint32_t prev;
    size_t slots = sw_table_slots(t);
    for (uint64_t i = 0; i < 2000000; i++) {
        uint32_t now = 10 + (uint32_t)(i / 1000);
        sw_table_get(t, k(i), now, &prev, &st);
        if (i % 1000 == 999) {
            sw_table_expire(t, now, 5, &st);
        }
    }
    assert_true(sw_table_count(t) <= slots - slots / 8 + 1);
    size_t live = 0;
    for (uint64_t i = 2000000 - 5000; i < 2000000; i++) {
        live += sw_table_find(t, k(i)) != NULL;
    }
    assert_true(live > 0 && live <= sw_table_count(t));
    assert_true(st.evictions + st.expired + sw_table_count(t) == 2000000);
    sw_table_free(t);
}

static void test_time_base(void **state)
{
    (void)state;
    struct sw_table *t;
    assert_int_equal(sw_table_new(&t, 16, 1 << 20), 0);
    uint32_t a = sw_table_now(t, 1700000000000);
    assert_int_equal(a, 1);
    assert_int_equal(sw_table_now(t, 1700000010000), 11);
    assert_int_equal(sw_table_now(t, 1600000000000), 1); /* backward clamps */
    sw_table_free(t);
    struct sw_table *u = NULL;
    assert_int_equal(sw_table_new(&u, 12, 1 << 20), SW_EINVAL);
    assert_null(u);
}

/* sw_table_now remembers the last second it computed: every stamp, in any
 * order (same second, the next, backwards, before the base, far ahead),
 * still gives (t - base) / 1000 clamped to 1 .. UINT32_MAX. */
static void test_time_memo(void **state)
{
    (void)state;
    struct sw_table *t;
    assert_int_equal(sw_table_new(&t, 16, 1 << 20), 0);
    const int64_t t0 = 1767614400123, base = (t0 / 1000 - 1) * 1000;
    uint64_t r = 0x9E3779B97F4A7C15ull;
    int64_t ts = t0;
    for (int i = 0; i < 200000; i++) {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        switch (r % 8) {
        case 0:
            ts = t0 - (int64_t)(r >> 40); /* before the base */
            break;
        case 1:
            ts -= (int64_t)((r >> 32) % 3000); /* backwards */
            break;
        case 2:
            ts = base + 1000 * (int64_t)((r >> 32) % 100) + 999; /* last ms of a second */
            break;
        case 3:
            ts = base + 1000 * (int64_t)((r >> 32) % 100); /* first ms of a second */
            break;
        case 4:
            ts = base + 1000 * ((int64_t)UINT32_MAX + (int64_t)((r >> 32) % 3) - 1); /* the cap */
            break;
        default:
            ts += (int64_t)((r >> 32) % 1500);
            break;
        }
        int64_t want = (ts - base) / 1000;
        want = want < 1 ? 1 : want > (int64_t)UINT32_MAX ? (int64_t)UINT32_MAX : want;
        assert_int_equal(sw_table_now(t, ts), want);
    }
    sw_table_free(t);
}

/* Growth: a table sized for 140k slots starts small and doubles in place as
 * keys arrive. Checked against a plain model on 400k random gets: every
 * key keeps its entry (payload) across growths, prev is the model's last
 * seen (0 when new or idle past the limit, whether or not the sweep reached
 * it), find agrees, and nothing is evicted below the cap. Ten hot keys share
 * the last home and one key in 25 has its home in the first or last 16th of
 * the table, so growths lay out runs that wrap around the end. */
#define GM_KEYS 60000

static uint64_t gm_key(uint32_t id)
{
    if (id < 500 && id % 50 == 3) {
        return ((uint64_t)(0xFFFFFFFFu - id % 7) << 32) | id; /* hot keys at the last home */
    }
    if (id % 50 == 1) {
        return ((uint64_t)(0xFFFFFFFFu - (id * 2654435761u) % (1u << 28)) << 32) |
               id; /* homes at the end */
    }
    if (id % 50 == 2) {
        return ((uint64_t)((id * 2654435761u) % (1u << 28)) << 32) | id; /* homes at the start */
    }
    return k(id);
}

static void growth_model(int64_t max_memory)
{
    struct sw_table *t;
    assert_int_equal(sw_table_new(&t, sizeof(struct ent), max_memory), 0);
    assert_true(sw_table_slots(t) > 2 * GM_KEYS);
    uint32_t *seen = calloc(GM_KEYS, sizeof(uint32_t));
    assert_non_null(seen);
    struct sw_detector_stats st = {0};
    uint64_t rng = 12345;
    const uint32_t idle = 30;
    int expired_seen = 0;
    for (uint32_t step = 0; step < 400000; step++) {
        uint32_t now = 10 + step / 2000;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(rng >> 33);
        /* Keys come in over time (the table keeps growing); half the gets
         * revisit a small hot set. */
        uint32_t span = 1000 + step / 6;
        if (span > GM_KEYS) {
            span = GM_KEYS;
        }
        uint32_t id = (r & 1) ? (r >> 1) % 500 : (r >> 1) % span;
        uint32_t prev = 7;
        struct ent *e = sw_table_get(t, gm_key(id), now, &prev, &st);
        assert_non_null(e);
        uint32_t want = seen[id];
        if (want != 0 && now - want > idle && step >= 2000) {
            want = 0; /* idle past the limit (the limit is known after the first sweep) */
            expired_seen++;
        }
        assert_int_equal(prev, want);
        if (want == 0) {
            assert_int_equal(e->payload[0], 0);
            e->payload[0] = id + 1;
        } else {
            assert_int_equal(e->payload[0], id + 1);
        }
        seen[id] = now;
        if (step % 2000 == 1999) {
            sw_table_expire(t, now, idle, &st);
        }
        if (step % 97 == 0) {
            uint32_t q = (r >> 7) % GM_KEYS;
            struct ent *f = sw_table_find(t, gm_key(q));
            bool live = seen[q] != 0 && now - seen[q] <= idle;
            assert_true(live == (f != NULL));
            if (f != NULL) {
                assert_int_equal(f->payload[0], q + 1);
            }
        }
    }
    assert_int_equal(st.evictions, 0);
    assert_true(expired_seen > 0);
    assert_true(st.expired > 0);
    size_t live = 0;
    uint32_t now = 10 + 399999 / 2000;
    for (uint32_t id = 0; id < GM_KEYS; id++) {
        bool want = seen[id] != 0 && now - seen[id] <= idle;
        live += want;
        struct ent *f = sw_table_find(t, gm_key(id));
        assert_true(want == (f != NULL));
    }
    assert_true(live > 10000 && sw_table_count(t) >= live);
    free(seen);
    sw_table_free(t);
}

static void test_growth_model(void **state)
{
    (void)state;
    growth_model(8 << 20);        /* 123134 slots: 481 doubled 8 times */
    growth_model((8 << 20) + 68); /* 123135 slots: steps of 2n - 1 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_and_eviction),
        cmocka_unit_test(test_expire),
        cmocka_unit_test(test_long_rotation_with_expiry),
        cmocka_unit_test(test_time_base),
        cmocka_unit_test(test_time_memo),
        cmocka_unit_test(test_growth_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
