/*
 * memrotate.c - sw_memrotate: the memory-cap proof for the detectors.
 *
 * A spammer rotating through fresh accounts must not grow the detectors'
 * memory without bound. This program loads the built-in default config (the
 * real binder), starts every registered detector on one worker, and feeds N
 * (default 10,000,000) fresh sender JIDs through their process(): each fresh
 * account joins a room, posts a groupchat line, sends a subscribe and a chat
 * message to a fresh recipient, 2000 accounts per stream second (so the
 * tables fill and must evict), with varied text, and expire()
 * once per stream second like a worker. It prints, per detector, the keys
 * tracked, state bytes, bytes per tracked key, evictions and expiries, and
 * the process peak RSS; it fails (exit 1) when a detector's state exceeds its
 * max_memory setting.
 *
 * Usage: sw_memrotate [N]
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "../tests/support/evbuild.h"
#include "sw/conf.h"
#include "sw/detector.h"
#include "sw/settings.h"

#define MAX_DET 32

struct det {
    const struct sw_detector_ops *ops;
    void *shared, *local;
    struct sw_detector_stats st;
    int64_t cap;
};

static uint64_t n_hits;

static void count_hit(struct sw_hit_sink *s, const struct sw_hit *h)
{
    (void)s;
    (void)h;
    n_hits++; /* also counted per detector in sw_detector_stats.hits */
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return -1;
    }
    return ru.ru_maxrss;
}

/* The detector's memory budget: max_memory plus any other SIZE budget it
 * declares (msg_spam's contact_memory). -1 when it has none. */
static int64_t setting_max_memory(const struct sw_detector_ops *ops, const void *settings)
{
    int64_t sum = -1;
    for (const struct sw_conf_item *it = ops->schema; it->key != NULL; it++) {
        if (it->type == SW_CONF_SIZE &&
            (strcmp(it->key, "max_memory") == 0 || strstr(it->key, "memory") != NULL)) {
            int64_t v = *(const int64_t *)(const void *)((const char *)settings + it->offset);
            sum = sum < 0 ? v : sum + v;
        }
    }
    return sum;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000ull;
    struct sw_errbuf eb = {{0}};
    struct sw_conf *conf = NULL;
    struct det d[MAX_DET];
    size_t nd = 0;
    int rc = sw_settings_register();
    if (rc == 0) {
        rc = sw_registry_register_conf(&eb);
    }
    if (rc == 0) {
        rc = sw_conf_load(NULL, &conf, &eb);
    }
    if (rc < 0) {
        fprintf(stderr, "sw_memrotate: config: %s (%s)\n", eb.msg, sw_strerror(rc));
        return 2;
    }
    long rss0 = peak_rss_kb();
    for (const struct sw_detector_ops *const *l = sw_registry_list(); *l && nd < MAX_DET; l++) {
        char name[160];
        snprintf(name, sizeof(name), "detectors.%s", (*l)->name);
        const void *settings = sw_conf_section(conf, name);
        if (settings == NULL || !*(const bool *)settings) {
            continue;
        }
        struct det *x = &d[nd];
        memset(x, 0, sizeof(*x));
        x->ops = *l;
        x->cap = setting_max_memory(*l, settings);
        if ((*l)->setup(settings, &x->shared, &eb) < 0 ||
            (*l)->thread_init(x->shared, &x->local) < 0) {
            fprintf(stderr, "sw_memrotate: %s: cannot start (%s), skipped\n", (*l)->name, eb.msg);
            continue;
        }
        nd++;
    }
    struct sw_hit_sink sink = {.emit = count_hit, .ctx = NULL};
    static struct sw_evb b;
    char jid[96], to[128], rn[160], body[128];
    const int64_t t0 = 1700000000000ll;
    int64_t last_tick = 0;
    uint64_t events = 0;
    uint64_t seed = 12345;
    for (uint64_t i = 0; i < n; i++) {
        int64_t t = t0 + (int64_t)(i / 2000) * 1000 + (int64_t)(i % 2000) / 2;
        unsigned room = (unsigned)(i % 50);
        snprintf(jid, sizeof(jid), "u%" PRIu64 "@rot%u.example", i, (unsigned)(i % 1000));
        struct sw_event *evs[4];
        for (int k = 0; k < 4; k++) {
            switch (k) {
            case 0:
                snprintf(rn, sizeof(rn), "room%u@conference.example.org/n%" PRIu64, room, i);
                snprintf(to, sizeof(to), "%s/r", jid);
                evs[0] = sw_evb_muc_presence(&b, t, to, rn, SW_EVB_JOIN);
                break;
            case 1:
                snprintf(rn, sizeof(rn), "room%u@conference.example.org", room);
                snprintf(to, sizeof(to), "%s/r", jid);
                sw_test_words(body, sizeof(body), &seed, 4 + (int)(i % 7));
                evs[1] = sw_evb_groupchat(&b, t + 1, to, rn, body);
                break;
            case 2:
                snprintf(to, sizeof(to), "target%" PRIu64 "@example.org", i * 7);
                evs[2] = sw_evb_presence(&b, t + 2, SW_T_SUBSCRIBE, jid, to);
                break;
            default:
                snprintf(to, sizeof(to), "target%" PRIu64 "@example.org", i * 7 + 1);
                evs[3] = sw_evb_chat(&b, t + 3, jid, to, "hi there, nice to meet you");
                break;
            }
            if (last_tick == 0 || t - last_tick >= 1000) {
                for (size_t j = 0; j < nd; j++) {
                    d[j].ops->expire(d[j].shared, d[j].local, t, &d[j].st);
                    if (d[j].ops->timer != NULL) {
                        d[j].ops->timer(d[j].shared, d[j].local, t, &sink, &d[j].st);
                    }
                }
                last_tick = t;
            }
            const struct sw_event *ev = evs[k];
            for (size_t j = 0; j < nd; j++) {
                if ((d[j].ops->events & ev->kind) != 0) {
                    d[j].ops->process(d[j].shared, d[j].local, ev, &sink, &d[j].st);
                }
            }
            events++;
        }
    }
    int64_t tend = t0 + (int64_t)(n / 2000) * 1000 + 1000;
    int bad = 0;
    printf("sw_memrotate: %" PRIu64 " fresh JIDs, %" PRIu64 " events, %" PRIu64
           " hits, stream %" PRId64 " s\n",
           n, events, n_hits, (tend - t0) / 1000);
    printf("%-18s %10s %12s %10s %12s %12s %10s %8s\n", "detector", "keys", "state_bytes",
           "bytes/key", "evictions", "expired", "cap", "hits");
    uint64_t tot_mem = 0, tot_keys = 0;
    for (size_t j = 0; j < nd; j++) {
        d[j].ops->expire(d[j].shared, d[j].local, tend, &d[j].st);
        double per = d[j].st.keys ? (double)d[j].st.mem_bytes / (double)d[j].st.keys : 0.0;
        printf("%-18s %10" PRIu64 " %12" PRIu64 " %10.1f %12" PRIu64 " %12" PRIu64 " %10" PRId64
               " %8" PRIu64 "\n",
               d[j].ops->name, d[j].st.keys, d[j].st.mem_bytes, per, d[j].st.evictions,
               d[j].st.expired, d[j].cap, d[j].st.hits);
        if (d[j].cap > 0 && (int64_t)d[j].st.mem_bytes > d[j].cap) {
            printf("  FAIL: %s state %" PRIu64 " > max_memory %" PRId64 "\n", d[j].ops->name,
                   d[j].st.mem_bytes, d[j].cap);
            bad = 1;
        }
        tot_mem += d[j].st.mem_bytes;
        tot_keys += d[j].st.keys;
    }
    long rss1 = peak_rss_kb();
    printf("total state %" PRIu64 " bytes for %" PRIu64 " keys (%.1f bytes/key); peak RSS %ld KB "
           "(%ld KB before detectors)\n",
           tot_mem, tot_keys, tot_keys ? (double)tot_mem / (double)tot_keys : 0.0, rss1, rss0);
    for (size_t j = 0; j < nd; j++) {
        d[j].ops->thread_fini(d[j].local);
        d[j].ops->teardown(d[j].shared);
    }
    sw_conf_free(conf);
    return bad;
}
