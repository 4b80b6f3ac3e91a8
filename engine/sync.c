/*
 * sync.c - what every pipeline thread (reader, parsers, workers, aggregator,
 * control) shares, in one file so that pipeline.c, reader.c, parser.c and
 * worker.c each depend on it and not on one another: thread names, the first
 * error of a run, the abort point, and the wait on a batch slot's turn (see
 * struct pl_slot in pipeline_int.h).
 *
 * Threading: every function may be called from any pipeline thread;
 * pl_set_error takes err_mu, pl_request_abort is a CAS loop lowering abort_k.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "pipeline_int.h"

void pl_thread_name(const char *role, int idx)
{
    char name[16]; /* the kernel keeps 15 bytes */
    if (idx >= 0) {
        snprintf(name, sizeof(name), "sw-%s/%d", role, idx);
    } else {
        snprintf(name, sizeof(name), "sw-%s", role);
    }
    (void)prctl(PR_SET_NAME, name, 0, 0, 0);
}

void pl_set_error(struct sw_pipeline *p, int rc, const char *msg)
{
    pthread_mutex_lock(&p->err_mu);
    if (p->err_rc == 0) {
        p->err_rc = rc;
        snprintf(p->err, sizeof(p->err), "%s", msg);
    }
    pthread_mutex_unlock(&p->err_mu);
}

void pl_request_abort(struct sw_pipeline *p, uint64_t k)
{
    uint64_t cur = atomic_load_explicit(&p->abort_k, memory_order_relaxed);
    while (k < cur && !atomic_compare_exchange_weak_explicit(
                          &p->abort_k, &cur, k, memory_order_acq_rel, memory_order_relaxed)) {
    }
}

struct slot_wait {
    struct pl_slot *s;
    uint64_t turn;
};

static bool slot_turn_is(void *arg)
{
    struct slot_wait *w = arg;
    return atomic_load_explicit(&w->s->turn, memory_order_acquire) == w->turn;
}

void pl_slot_wait_turn(struct sw_pipeline *p, uint64_t k, uint64_t turn, struct sw_wait_stats *st)
{
    struct slot_wait w = {&p->slots[k % p->S], turn};
    sw_evcount_wait(&p->ec_slots, slot_turn_is, &w, 400, st);
}

void pl_slot_wait_readable(struct sw_pipeline *p, uint64_t k, struct sw_wait_stats *st)
{
    pl_slot_wait_turn(p, k, 2 * k + 1, st);
}
