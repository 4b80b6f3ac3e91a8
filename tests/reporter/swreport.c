/*
 * swreport.c - test driver: runs the live XEP-0268 reporter (component mode)
 * on a list of synthetic incidents, for the Prosody integration test
 * (tests/reporter/prosody_test.sh). Not installed.
 *
 * usage: swreport --port P --secret S --spool DIR --inbound DIR
 *                 [--jid incidents.a.test] [--domain a.test] [--peer JID]...
 *                 [--count N] [--prefix ID] [--until-empty] [--seconds T]
 *                 [--retry-min MS] [--retry-max MS] [--ack-timeout MS]
 *                 [--rate PER_MIN] [--log FILE]
 *                 [--client JID --password PW --client-port P]  (client mode)
 *                 [--respond "NAME ID ACTION"]  (also send a <response/> to the first peer)
 *                 [--peer-send KIND] [--peer-sender JID]  (policy/trust of the last --peer)
 * Feeds N incidents (ids PREFIX-0..N-1, opened) through the reporter's
 * output, prints "spooled N" on stdout, then runs until the spool is empty
 * (--until-empty) or for T seconds, and prints its counters as one line.
 * Exit 0, or 1 if --until-empty was not reached within T seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sw/reporter.h"

static char *accept_all[] = {"report", "inquiry", "request", "response"};
static char *send_all[] = {"*"};
static char *peer_send[8], *peer_sender[8];

int main(int argc, char **argv)
{
    struct sw_reporter_settings s;
    memset(&s, 0, sizeof(s));
    s.domain = "a.test";
    s.admin_jid = "admin@a.test";
    s.mode = SW_REPORTER_COMPONENT;
    s.component.jid = "incidents.a.test";
    s.component.host = "127.0.0.1";
    s.retry_min_ms = 300;
    s.retry_max_ms = 2000;
    s.ack_timeout_ms = 5000;
    s.max_inbound_bytes = 65536;
    s.max_inbound_depth = 32;
    s.severity_medium = 10;
    s.severity_high = 30;
    static struct sw_reporter_peer peers[8];
    size_t np = 0;
    long count = 0, seconds = 30, rate = 60;
    const char *prefix = "inc", *logpath = NULL, *respond = NULL;
    int until_empty = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--until-empty") == 0) {
            until_empty = 1;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "swreport: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--port") == 0) {
            s.component.port = atol(v);
        } else if (strcmp(a, "--secret") == 0) {
            s.component.secret = (char *)v;
        } else if (strcmp(a, "--jid") == 0) {
            s.component.jid = (char *)v;
        } else if (strcmp(a, "--domain") == 0) {
            s.domain = (char *)v;
        } else if (strcmp(a, "--spool") == 0) {
            s.spool_dir = (char *)v;
        } else if (strcmp(a, "--inbound") == 0) {
            s.inbound_dir = (char *)v;
        } else if (strcmp(a, "--peer") == 0 && np < 8) {
            peers[np].jid = (char *)v;
            peers[np].send = (struct sw_conf_strlist){send_all, 1};
            peers[np].accept = (struct sw_conf_strlist){accept_all, 4};
            np++;
        } else if (strcmp(a, "--peer-send") == 0 && np > 0) {
            peer_send[np - 1] = (char *)v;
            peers[np - 1].send = (struct sw_conf_strlist){&peer_send[np - 1], 1};
        } else if (strcmp(a, "--peer-sender") == 0 && np > 0) {
            peer_sender[np - 1] = (char *)v;
            peers[np - 1].senders = (struct sw_conf_strlist){&peer_sender[np - 1], 1};
        } else if (strcmp(a, "--count") == 0) {
            count = atol(v);
        } else if (strcmp(a, "--prefix") == 0) {
            prefix = v;
        } else if (strcmp(a, "--seconds") == 0) {
            seconds = atol(v);
        } else if (strcmp(a, "--retry-min") == 0) {
            s.retry_min_ms = atol(v);
        } else if (strcmp(a, "--retry-max") == 0) {
            s.retry_max_ms = atol(v);
        } else if (strcmp(a, "--ack-timeout") == 0) {
            s.ack_timeout_ms = atol(v);
        } else if (strcmp(a, "--rate") == 0) {
            rate = atol(v);
        } else if (strcmp(a, "--client") == 0) {
            s.mode = SW_REPORTER_CLIENT;
            s.client.jid = (char *)v;
            s.client.host = "127.0.0.1";
        } else if (strcmp(a, "--password") == 0) {
            s.client.password = (char *)v;
        } else if (strcmp(a, "--client-port") == 0) {
            s.client.port = atol(v);
        } else if (strcmp(a, "--respond") == 0) {
            respond = v;
        } else if (strcmp(a, "--log") == 0) {
            logpath = v;
        } else {
            fprintf(stderr, "swreport: unknown option %s\n", a);
            return 2;
        }
    }
    for (size_t i = 0; i < np; i++) {
        peers[i].rate_limit = rate;
    }
    s.peers.items = peers;
    s.peers.n = np;

    struct sw_output_ops o;
    struct sw_reporter *r;
    struct sw_errbuf eb = {{0}};
    if (sw_reporter_start_settings(&s, &o, &r, &eb) != 0) {
        fprintf(stderr, "swreport: %s\n", eb.msg);
        return 2;
    }
    FILE *logf = NULL;
    if (logpath != NULL) {
        logf = fopen(logpath, "a");
        sw_reporter_set_log(r, logf);
    }
    struct sw_incident *inc = calloc(1, sizeof(*inc));
    if (inc == NULL) {
        return 2;
    }
    int64_t t0 = sw_wall_ms();
    for (long i = 0; i < count; i++) {
        memset(inc, 0, sizeof(*inc));
        snprintf(inc->id, sizeof(inc->id), "%s-%ld", prefix, i);
        inc->kind = i % 2 ? "subscription-spam" : "muc-flood";
        snprintf(inc->offender, sizeof(inc->offender), "bot%ld@spam.example.net", i);
        inc->offender_kind = SW_OFFENDER_ACCOUNT;
        inc->first_seen = inc->detected_at = inc->last_seen = t0;
        inc->score_milli = 12000;
        inc->hits = 100 + (uint64_t)i;
        inc->n_rooms = i % 2 ? 0 : 1;
        snprintf(inc->rooms[0], SW_JID_TEXT, "lobby@rooms.a.test");
        inc->n_evidence = 1;
        snprintf(inc->evidence[0].body, SW_HIT_TEXT, "spam body %ld \x01<&>", i);
        if (o.incident(o.ctx, inc) != 0) {
            fprintf(stderr, "swreport: incident %ld not spooled\n", i);
        }
    }
    free(inc);
    if (respond != NULL && np > 0) {
        /* "NAME ID ACTION": tell the first peer what we did about its incident */
        char name[256], id[128], action[64];
        if (sscanf(respond, "%255s %127s %63s", name, id, action) != 3) {
            fprintf(stderr, "swreport: --respond wants \"NAME ID ACTION\"\n");
            return 2;
        }
        struct sw_xep0268_response rsp = {name, id, action, "handled by swreport"};
        int e = sw_reporter_respond(r, peers[0].jid, &rsp);
        if (e != 0) {
            fprintf(stderr, "swreport: respond: %s\n", sw_strerror(e));
            return 2;
        }
    }
    printf("spooled %ld\n", count);
    fflush(stdout);

    int rc = until_empty ? 1 : 0, said_connected = 0;
    struct sw_reporter_stats st;
    while (sw_wall_ms() - t0 < seconds * 1000) {
        if (!said_connected && sw_reporter_connected(r)) {
            printf("connected\n");
            fflush(stdout);
            said_connected = 1;
        }
        sw_reporter_get_stats(r, &st);
        if (until_empty && st.spool_pending == 0) {
            rc = 0;
            break;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    sw_reporter_get_stats(r, &st);
    o.close(o.ctx);
    sw_reporter_stop(r, 0);
    printf("stats connects=%llu sent=%llu acked=%llu errors=%llu timeouts=%llu pending=%llu "
           "in_reports=%llu in_inquiries=%llu in_requests=%llu in_forbidden=%llu in_bad=%llu "
           "in_rate_limited=%llu spoofed=%llu\n",
           (unsigned long long)st.connects, (unsigned long long)st.sent,
           (unsigned long long)st.acked, (unsigned long long)st.errors,
           (unsigned long long)st.timeouts, (unsigned long long)st.spool_pending,
           (unsigned long long)st.in_reports, (unsigned long long)st.in_inquiries,
           (unsigned long long)st.in_requests, (unsigned long long)st.in_forbidden,
           (unsigned long long)st.in_bad, (unsigned long long)st.in_rate_limited,
           (unsigned long long)st.spoofed);
    if (logf != NULL) {
        fclose(logf);
    }
    return rc;
}
