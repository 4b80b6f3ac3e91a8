/*
 * share_cmd.c - `stanzawatch retract [-c FILE] [--drain-timeout S] JID|DOMAIN...`:
 * take entities off the RTBL and every feed, now.
 *
 * It starts the live reporter from the config (same spool, same state_dir as
 * the daemon), hands each entity to sw_share_retract() (which spools a pubsub
 * <retract/> per published item, durably, and forgets the offences), waits up
 * to --drain-timeout seconds for the service to acknowledge, and exits. What
 * is not acknowledged by then stays in the spool and is sent by the next
 * stanzawatch run. Run it while no other stanzawatch uses the same component
 * JID (the server accepts one connection per component).
 * Control thread only; the config sections are registered by main().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "share_int.h"
#include "sw/log.h"

static const char usage[] =
    "Usage: stanzawatch retract [-c FILE] [--drain-timeout SECS] JID|DOMAIN...\n"
    "\n"
    "Retract each bare JID or domain from the real-time block list (share.rtbl)\n"
    "and every feed item about it on share.service, and forget its offences.\n"
    "Needs reporter.enabled and share in the configuration. Waits up to SECS\n"
    "(default 10) for the service to acknowledge; the rest stays spooled.\n"
    "Run it while no other stanzawatch holds reporter.component.jid (the server\n"
    "takes one connection per component); what is not sent stays in spool_dir.\n"
    "Exit status: 0 all acknowledged, 1 some left in the spool, 2 usage/config.\n";

int sw_share_cmd_retract(int argc, char **argv)
{
    const char *conf_path = NULL;
    long drain_s = 10;
    int i = 1;
    for (; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            conf_path = argv[++i];
        } else if (strcmp(argv[i], "--drain-timeout") == 0 && i + 1 < argc) {
            char *end;
            drain_s = strtol(argv[++i], &end, 10);
            if (*end != '\0' || drain_s < 0 || drain_s > 86400) {
                fprintf(stderr, "stanzawatch retract: bad --drain-timeout\n");
                return 2;
            }
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            fputs(usage, stderr);
            return 2;
        } else {
            break;
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    struct sw_errbuf eb = {0};
    struct sw_conf *c = NULL;
    if (sw_conf_load(conf_path, &c, &eb) != 0) {
        fprintf(stderr, "stanzawatch retract: %s\n", eb.msg);
        return 2;
    }
    const struct sw_reporter_settings *rs = sw_conf_section(c, "reporter");
    const struct sw_share_settings *ss = sw_conf_section(c, "share");
    if (rs == NULL || ss == NULL || !rs->enabled || !sw_share_wanted(ss)) {
        fprintf(stderr, "stanzawatch retract: needs reporter.enabled: true and a share section\n");
        sw_conf_free(c);
        return 2;
    }
    struct sw_output_ops o;
    struct sw_reporter *r = NULL;
    if (sw_reporter_start(c, &o, &r, &eb) != 0) {
        fprintf(stderr, "stanzawatch retract: %s\n", eb.msg);
        sw_conf_free(c);
        return 2;
    }
    int rc = 0;
    for (; i < argc; i++) {
        int n = sw_share_retract(sw_reporter_share(r), argv[i]);
        if (n < 0) {
            fprintf(stderr, "stanzawatch retract: %s: %s\n", argv[i], sw_strerror(n));
            rc = 2;
        } else {
            printf("%s: %d item(s) to retract\n", argv[i], n);
        }
    }
    struct sw_reporter_stats st;
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
    for (long waited = 0;; waited += 50) {
        sw_reporter_get_stats(r, &st);
        if (st.spool_pending == 0 || waited >= drain_s * 1000) {
            break;
        }
        nanosleep(&tick, NULL);
    }
    sw_reporter_stop(r, 0);
    if (st.spool_pending > 0) {
        fprintf(stderr,
                "stanzawatch retract: %llu stanza(s) not acknowledged within %ld s; they stay in "
                "%s for the next run\n",
                (unsigned long long)st.spool_pending, drain_s, rs->spool_dir);
        rc = rc ? rc : 1;
    }
    sw_conf_free(c);
    return rc;
}
