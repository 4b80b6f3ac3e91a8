/*
 * share_cmd.c - `stanzawatch retract [-c FILE] [--drain-timeout S] JID|DOMAIN...`:
 * take entities off the RTBL and every feed, now.
 *
 * With a daemon running (`stanzawatch run`, or a live replay) on the same
 * share.state_dir, it talks to it through share.state_dir/control.sock
 * (share_ctl.c): the daemon retracts (durably, through its spool), sends on
 * its own component connection and answers once share.service acknowledged
 * or --drain-timeout passed. Without one (no socket, or a stale one that
 * refuses), it starts the live reporter itself from the config (same spool,
 * same state_dir), hands each entity to sw_share_retract() (which spools a
 * pubsub <retract/> per published item, durably, and forgets the offences),
 * waits up to --drain-timeout seconds for the service to acknowledge, and
 * exits; what is not acknowledged stays in the spool for the next run.
 * Control thread only; the config sections are registered by main().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "share_int.h"
#include "sw/log.h"

static const char usage[] =
    "Usage: stanzawatch retract [-c FILE] [--drain-timeout SECS] JID|DOMAIN...\n"
    "\n"
    "Retract each bare JID or domain from the real-time block list (share.rtbl)\n"
    "and every feed item about it on share.service, and forget its offences.\n"
    "Needs reporter.enabled and share in the configuration. Waits up to SECS\n"
    "(default 10) for the service to acknowledge; the rest stays spooled.\n"
    "\n"
    "When a daemon (stanzawatch run) uses the same share.state_dir, the request\n"
    "goes through its control socket (STATE_DIR/control.sock, owner only) and the\n"
    "daemon's own connection: the retraction reaches the service within about a\n"
    "second. Otherwise this command connects as reporter.component.jid itself.\n"
    "Exit status: 0 all acknowledged, 1 some left in the spool, 2 usage/config.\n";

/* Connect to a running daemon's control socket: fd, or -1 (none: work alone). */
static int ctl_connect(const struct sw_share_settings *ss)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (sw_share_control_path(ss, sa.sun_path, sizeof(sa.sun_path)) != 0) {
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd); /* ENOENT: no daemon; ECONNREFUSED: stale socket of a dead one */
        fd = -1;
    }
    return fd;
}

/* One request through the daemon: 0 acked, 1 pending, 2 error, -1 no daemon. */
static int ctl_retract(const struct sw_share_settings *ss, const char *entity, long drain_s)
{
    int fd = ctl_connect(ss);
    if (fd < 0) {
        return -1;
    }
    char line[1024];
    int n = snprintf(line, sizeof(line), "retract %s %ld\n", entity, drain_s * 1000);
    int rc = 2;
    if (n < 0 || (size_t)n >= sizeof(line) || send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        fprintf(stderr, "stanzawatch retract: %s: cannot send the request\n", entity);
        goto out;
    }
    size_t got = 0;
    line[0] = '\0';
    while (got + 1 < sizeof(line) && strchr(line, '\n') == NULL) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(drain_s * 1000 + 5000)) <= 0) {
            break;
        }
        ssize_t r = read(fd, line + got, sizeof(line) - 1 - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        line[got] = '\0';
    }
    line[strcspn(line, "\n")] = '\0';
    int items = 0;
    unsigned long pending = 0;
    if (sscanf(line, "ok %d pending %lu", &items, &pending) == 2) {
        printf("%s: %d item(s) retracted by the running daemon, %lu not yet acknowledged\n", entity,
               items, pending);
        fprintf(stderr,
                "stanzawatch retract: %s: %lu retraction(s) not acknowledged within %ld s; the "
                "daemon keeps sending them\n",
                entity, pending, drain_s);
        rc = 1;
    } else if (sscanf(line, "ok %d acked", &items) == 1) {
        printf("%s: %d item(s) retracted by the running daemon, acknowledged\n", entity, items);
        rc = 0;
    } else {
        fprintf(stderr, "stanzawatch retract: %s: daemon: %s\n", entity,
                line[0] ? line : "no answer");
    }
out:
    close(fd);
    return rc;
}

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
    int rc = ctl_retract(ss, argv[i], drain_s);
    if (rc >= 0) { /* a daemon answers on control.sock: it does the rest too */
        while (++i < argc) {
            int e = ctl_retract(ss, argv[i], drain_s);
            if (e < 0) {
                fprintf(stderr, "stanzawatch retract: %s: the daemon went away\n", argv[i]);
                e = 2;
            }
            rc = e > rc ? e : rc;
        }
        sw_conf_free(c);
        return rc;
    }
    rc = 0;
    struct sw_output_ops o;
    struct sw_reporter *r = NULL;
    if (sw_reporter_start(c, &o, &r, &eb) != 0) {
        fprintf(stderr, "stanzawatch retract: %s\n", eb.msg);
        sw_conf_free(c);
        return 2;
    }
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
