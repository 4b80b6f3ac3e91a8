/*
 * dcommon.c - the lifecycle the rate/spam detectors share (see dcommon.h):
 * a shared state that starts with struct sw_dc_shared and a per-worker local
 * that starts with SW_DC_LOCAL_HEAD and holds one sw_table. Detectors with
 * more state (a second table, a ring, Bloom filters, owned strings) wrap
 * these in their own callbacks.
 *
 * Threading: sw_dc_shared_new/sw_dc_teardown run on the control thread, the
 * others on the worker owning @local. None is on the per-event path.
 */
#include "dcommon.h"

#include <stdlib.h>

#include "table.h"

void *sw_dc_shared_new(size_t shared_size, size_t local_size, size_t entry_size, int64_t max_memory,
                       int64_t idle)
{
    struct sw_dc_shared *dc = calloc(1, shared_size);
    if (dc == NULL) {
        return NULL;
    }
    dc->local_size = local_size;
    dc->entry_size = entry_size;
    dc->table_memory = max_memory;
    dc->idle = idle;
    dc->sizing = max_memory;
    return dc;
}

int sw_dc_thread_init(const void *shared, void **local)
{
    const struct sw_dc_shared *dc = shared;
    struct sw_dc_local *l = calloc(1, dc->local_size);
    if (l == NULL) {
        return SW_ENOMEM;
    }
    int rc = sw_table_new(&l->t, dc->entry_size, dc->table_memory);
    if (rc < 0) {
        free(l);
        return rc;
    }
    l->sizing = dc->sizing;
    *local = l;
    return 0;
}

void sw_dc_expire(const void *shared, void *local, int64_t now_ms, struct sw_detector_stats *st)
{
    const struct sw_dc_shared *dc = shared;
    struct sw_dc_local *l = local;
    sw_table_expire(l->t, sw_table_now(l->t, now_ms), sw_dc_secs(dc->idle), st);
}

int sw_dc_thread_reload(const void *shared, void *local)
{
    const struct sw_dc_shared *dc = shared;
    const struct sw_dc_local *l = local;
    return l->sizing == dc->sizing ? 0 : SW_EAGAIN;
}

void sw_dc_thread_fini(void *local)
{
    struct sw_dc_local *l = local;
    if (l != NULL) {
        sw_table_free(l->t);
        free(l);
    }
}

void sw_dc_teardown(void *shared)
{
    free(shared);
}

void sw_dc_prefetch_occupant(const struct sw_table *t, const struct sw_event *ev)
{
    uint64_t room = ev->key[SW_SHARD_ROOM];
    if (room != 0 && (ev->flags & (SW_F_MUC_JOIN | SW_F_MUC_GROUPCHAT)) != 0) {
        sw_table_prefetch(t, sw_table_key2(room, ev->from.bare));
    }
}
