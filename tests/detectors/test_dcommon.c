/*
 * test_dcommon.c - the lifecycle the rate/spam detectors share (dcommon.c):
 * the sw_dc_* functions on a detector-like state of the test's own, and
 * every detector that uses them through its ops: a reload with the same
 * sizes keeps local (0), another max_memory (or contact_memory, ring) asks
 * for a rebuild (SW_EAGAIN), and expire() forgets a key after that
 * detector's own `idle`, not before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../../detectors/dcommon.h"
#include "../../detectors/table.h"
#include "../support/evbuild.h"

extern const struct sw_detector_ops sw_muc_flood_ops, sw_muc_raid_ops, sw_room_spam_ops,
    sw_sub_burst_ops, sw_sub_burst_domain_ops, sw_sub_slow_ops, sw_msg_spam_ops,
    sw_presence_churn_ops;

#define T0 1700000000000ll

struct t_entry {
    struct sw_table_entry h;
    uint64_t payload[2];
};

struct t_shared {
    struct sw_dc_shared dc;
    int64_t own;
};

struct t_local {
    SW_DC_LOCAL_HEAD;
    uint64_t own[3];
};

/* Sweeps enough for sw_table_expire to have visited every slot. */
static size_t full_sweep(const struct sw_table *t)
{
    return sw_table_slots(t) / 256 + 16;
}

static void test_functions(void **state)
{
    (void)state;
    struct t_shared *sh = sw_dc_shared_new(sizeof(*sh), sizeof(struct t_local),
                                           sizeof(struct t_entry), 256 * 1024, 10000);
    assert_non_null(sh);
    assert_int_equal(sh->dc.sizing, 256 * 1024);
    assert_int_equal(sh->own, 0);
    void *local = NULL;
    assert_int_equal(sw_dc_thread_init(sh, &local), 0);
    struct t_local *l = local;
    /* Both views of the header name the same table and sizing. */
    assert_non_null(l->t);
    assert_ptr_equal(l->t, l->dc.t);
    assert_int_equal(l->sizing, 256 * 1024);
    assert_int_equal(l->own[0] | l->own[1] | l->own[2], 0);

    uint32_t prev;
    struct sw_detector_stats st = {0};
    sw_table_get(l->t, 12345, sw_table_now(l->t, T0), &prev, &st);
    /* Idle 10 s: at 9 s it stays, however often the sweep passes... */
    for (size_t i = 0, n = full_sweep(l->t); i < n; i++) {
        sw_dc_expire(sh, l, T0 + 9000, &st);
    }
    assert_int_equal(sw_table_count(l->t), 1);
    assert_int_equal(st.keys, 1);
    assert_int_equal(st.expired, 0);
    /* ...at 12 s it goes. */
    for (size_t i = 0, n = full_sweep(l->t); i < n; i++) {
        sw_dc_expire(sh, l, T0 + 12000, &st);
    }
    assert_int_equal(sw_table_count(l->t), 0);
    assert_int_equal(st.expired, 1);
    assert_true(st.mem_bytes >= sw_table_mem_bytes(l->t));

    assert_int_equal(sw_dc_thread_reload(sh, l), 0);
    sh->dc.sizing++;
    assert_int_equal(sw_dc_thread_reload(sh, l), SW_EAGAIN);
    sw_dc_thread_fini(l);
    sw_dc_thread_fini(NULL);

    /* A table that cannot be built: the error comes back, *local untouched. */
    sh->dc.entry_size = 0;
    void *sentinel = &sentinel;
    local = sentinel;
    assert_true(sw_dc_thread_init(sh, &local) < 0);
    assert_ptr_equal(local, sentinel);
    sw_dc_teardown(sh);
}

static const struct sw_detector_ops *const users[] = {
    &sw_muc_flood_ops,        &sw_muc_raid_ops, &sw_room_spam_ops, &sw_sub_burst_ops,
    &sw_sub_burst_domain_ops, &sw_sub_slow_ops, &sw_msg_spam_ops,  &sw_presence_churn_ops,
};

static void small(const struct sw_conf_item *schema, void *settings)
{
    sw_test_set_int(schema, settings, "max_memory", 512 * 1024);
}

/* setup() a new generation from d's settings with @key set to @v (key NULL:
 * unchanged) and return what thread_reload says about d's local. */
static int reload_with(struct sw_test_det *d, const char *key, int64_t v)
{
    void *settings = malloc(d->ops->settings_size);
    assert_non_null(settings);
    memcpy(settings, d->settings, d->ops->settings_size);
    if (key != NULL) {
        sw_test_set_int(d->ops->schema, settings, key, v);
    }
    void *shared = NULL;
    struct sw_errbuf eb;
    assert_int_equal(d->ops->setup(settings, &shared, &eb), 0);
    int rc = d->ops->thread_reload(shared, d->local);
    d->ops->teardown(shared);
    free(settings);
    return rc;
}

static void test_reload_sizing(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        const struct sw_detector_ops *ops = users[i];
        struct sw_test_det d;
        assert_int_equal(sw_test_det_start(&d, ops, small), 0);
        assert_ptr_equal(ops->thread_reload, sw_dc_thread_reload);
        assert_int_equal(reload_with(&d, NULL, 0), 0);
        assert_int_equal(reload_with(&d, "cooldown", 1000), 0);
        assert_int_equal(reload_with(&d, "idle", 3600000), 0);
        assert_int_equal(reload_with(&d, "max_memory", 1024 * 1024), SW_EAGAIN);
        if (ops == &sw_msg_spam_ops) {
            assert_int_equal(reload_with(&d, "contact_memory", 1024 * 1024), SW_EAGAIN);
        }
        if (ops == &sw_muc_raid_ops) {
            assert_int_equal(reload_with(&d, "ring", 128), SW_EAGAIN);
        }
        sw_test_det_stop(&d);
    }
}

/* Each single-table detector's expire() uses its own idle setting. */
static void test_expire_uses_idle(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        const struct sw_detector_ops *ops = users[i];
        if (ops == &sw_muc_raid_ops) {
            continue; /* two tables of its own, its own expire */
        }
        struct sw_test_det d;
        assert_int_equal(sw_test_det_start(&d, ops, small), 0);
        int64_t idle = 0;
        for (const struct sw_conf_item *it = ops->schema; it->key != NULL; it++) {
            if (strcmp(it->key, "idle") == 0) {
                idle = *(const int64_t *)(const void *)((const char *)d.settings + it->offset);
            }
        }
        assert_true(idle >= 1000);
        struct sw_table *t = ((struct sw_dc_local *)d.local)->t;
        uint32_t prev;
        sw_table_get(t, 777, sw_table_now(t, T0), &prev, NULL);
        size_t n = full_sweep(t) + (size_t)(idle / 2000);
        for (size_t k = 0; k < n; k++) {
            ops->expire(d.shared, d.local, T0 + idle - 1000, &d.st);
        }
        assert_int_equal(sw_table_count(t), 1);
        for (size_t k = 0; k < n; k++) {
            ops->expire(d.shared, d.local, T0 + idle + 2000, &d.st);
        }
        assert_int_equal(sw_table_count(t), 0);
        assert_int_equal(d.st.expired, 1);
        sw_test_det_stop(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_reload_sizing),
        cmocka_unit_test(test_expire_uses_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
