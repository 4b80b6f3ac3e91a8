/*
 * share_ctl.c - the running daemon's control socket, so that `stanzawatch
 * retract` acts through a running `stanzawatch run` (or a live replay)
 * instead of opening a second component connection, which the server would
 * refuse or use to kick the daemon's (one connection per component JID).
 *
 * Design: the unbound-control / knotc pattern. An AF_UNIX stream socket
 * share.state_dir/control.sock (the state dir is 0700, the socket 0600, and
 * a client whose SO_PEERCRED uid is neither ours nor root is refused). One
 * request line, one answer line, then the daemon closes:
 *   "retract ENTITY WAIT_MS\n" -> "ok N acked\n" | "ok N pending K\n" | "error TEXT\n"
 *   "ping\n"                   -> "pong\n"
 * A retract goes through sw_share_retract and sw_spool_flush (durable: the
 * spool's writer committed it, fsync'd, before the wait starts), then the answer waits until every
 * retraction it spooled has been acknowledged by share.service (its spool entry is gone: the
 * reporter thread sends within one loop turn, 50 ms) or WAIT_MS (capped at
 * 60 s) passed; what is pending then stays spooled and is sent on.
 *
 * A socket left by a killed daemon answers nothing (ECONNREFUSED) and is
 * replaced at start; one that accepts a connection belongs to another live
 * process using the same state_dir: refused (SW_EAGAIN).
 *
 * Threading/ownership: struct share_ctl belongs to the struct sw_share it
 * serves (sh->ctl). One thread accepts and serves clients one at a time (an
 * operator tool, not a hot path; a client has 2 s to send its line).
 * sw_share_retract_keys and sw_spool_has are thread-safe. Stop: a byte on a
 * pipe wakes the thread's poll (also during a wait), then join and unlink.
 */
#define _GNU_SOURCE 1 /* SO_PEERCRED, struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "share_int.h"
#include "sw/log.h"

#define CTL_LINE 1024
#define CTL_READ_MS 2000
#define CTL_WAIT_MAX_MS 60000
#define CTL_KEYS 64

struct share_ctl {
    struct sw_share *sh;
    int lfd;
    int wake[2]; /* [0] polled by the thread, [1] written by stop */
    pthread_t th;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char keys[CTL_KEYS][SW_SHARE_KEY]; /* spool keys of the retract being served */
};

static int64_t ctl_now_ms(void)
{
    return (int64_t)(sw_mono_ns() / 1000000u);
}

int sw_share_control_path(const struct sw_share_settings *s, char *buf, size_t cap)
{
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
    int n = snprintf(buf, cap, "%s/%s", s->state_dir ? s->state_dir : ".", SW_SHARE_CONTROL_SOCK);
    if (n < 0 || (size_t)n >= cap || (size_t)n >= max) {
        return SW_ELIMIT;
    }
    return 0;
}

/* true if @ms passed without a stop request (false: stop asked) */
static bool ctl_sleep(struct share_ctl *c, int ms)
{
    struct pollfd p = {.fd = c->wake[0], .events = POLLIN};
    return poll(&p, 1, ms) == 0;
}

/* Read one line (without its newline) within CTL_READ_MS. 0 or SW_E*. */
static int ctl_read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    int64_t deadline = ctl_now_ms() + CTL_READ_MS;
    while (n + 1 < cap) {
        int64_t left = deadline - ctl_now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            return SW_EAGAIN;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0) {
            return SW_EIO;
        }
        n += (size_t)r;
        buf[n] = '\0';
        char *nl = strchr(buf, '\n');
        if (nl != NULL) {
            *nl = '\0';
            return 0;
        }
    }
    return SW_ELIMIT;
}

static void ctl_reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ctl_reply(int fd, const char *fmt, ...)
{
    char buf[CTL_LINE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n > sizeof(buf) - 2) {
        n = (int)sizeof(buf) - 2;
    }
    buf[n++] = '\n';
    /* a client that left does not matter; MSG_NOSIGNAL: no SIGPIPE for it */
    (void)!send(fd, buf, (size_t)n, MSG_NOSIGNAL);
}

static bool entity_ok(const char *e)
{
    if (e[0] == '\0' || strlen(e) >= SW_OFFENDER_TEXT) {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)e; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

static void ctl_retract(struct share_ctl *c, int fd, char *args)
{
    char *save = NULL;
    char *entity = strtok_r(args, " ", &save);
    char *wait_s = strtok_r(NULL, " ", &save);
    char *end = NULL;
    long wait_ms = wait_s ? strtol(wait_s, &end, 10) : 0;
    if (entity == NULL || !entity_ok(entity) || (wait_s != NULL && (*end != '\0' || wait_ms < 0))) {
        ctl_reply(fd, "error usage: retract ENTITY [WAIT_MS]");
        return;
    }
    if (wait_ms > CTL_WAIT_MAX_MS) {
        wait_ms = CTL_WAIT_MAX_MS;
    }
    char(*keys)[SW_SHARE_KEY] = c->keys;
    size_t nk = 0;
    int n = sw_share_retract_keys(c->sh, entity, keys, CTL_KEYS, &nk);
    if (n < 0) {
        ctl_reply(fd, "error %s", sw_strerror(n));
        return;
    }
    /* durable before we say anything: the spool commits off the caller's thread */
    int f = c->sh->spool != NULL ? sw_spool_flush(c->sh->spool, 10000) : 0;
    if (f != 0) {
        ctl_reply(fd, "error spool not written: %s", sw_strerror(f));
        return;
    }
    sw_log_info("share", "control: retract %s: %d item(s) spooled", entity, n);
    int64_t deadline = ctl_now_ms() + wait_ms;
    size_t pending = nk;
    for (;;) {
        pending = 0;
        for (size_t i = 0; i < nk; i++) {
            pending += sw_share_item_pending(c->sh, keys[i]);
        }
        if (pending == 0 || ctl_now_ms() >= deadline || !ctl_sleep(c, 20)) {
            break;
        }
    }
    if (pending == 0) {
        ctl_reply(fd, "ok %d acked", n);
    } else {
        ctl_reply(fd, "ok %d pending %zu", n, pending);
    }
}

static void ctl_serve(struct share_ctl *c, int fd)
{
    struct ucred cr;
    socklen_t cl = sizeof(cr);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 ||
        (cr.uid != geteuid() && cr.uid != 0)) {
        sw_log_warn("share", "control: client uid %ld refused", (long)cr.uid);
        ctl_reply(fd, "error forbidden");
        return;
    }
    char line[CTL_LINE];
    int rc = ctl_read_line(fd, line, sizeof(line));
    if (rc != 0) {
        ctl_reply(fd, "error %s", rc == SW_ELIMIT ? "line too long" : "no request");
        return;
    }
    if (strcmp(line, "ping") == 0) {
        ctl_reply(fd, "pong");
    } else if (strncmp(line, "retract ", 8) == 0) {
        ctl_retract(c, fd, line + 8);
    } else {
        ctl_reply(fd, "error unknown request (retract ENTITY WAIT_MS | ping)");
    }
}

static void *ctl_main(void *arg)
{
    struct share_ctl *c = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = c->wake[0], .events = POLLIN},
                              {.fd = c->lfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            sw_log_error("share", "control: poll: %s", strerror(errno));
            break;
        }
        if (p[0].revents != 0) {
            break;
        }
        if (p[1].revents & POLLIN) {
            int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                ctl_serve(c, fd);
                close(fd);
            }
        }
    }
    return NULL;
}

/* Is a live process listening on @path? (a stale socket refuses) */
static bool ctl_alive(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    bool alive = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
    close(fd);
    return alive;
}

bool sw_share_control_busy(const struct sw_share_settings *s)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    return sw_share_control_path(s, sa.sun_path, sizeof(sa.sun_path)) == 0 && ctl_alive(&sa);
}

int sw_share_control_start(struct sw_share *sh, struct sw_errbuf *eb)
{
    int rc;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (sh == NULL || sh->ctl != NULL) {
        return 0;
    }
    if (sw_share_control_path(sh->s, sa.sun_path, sizeof(sa.sun_path)) != 0) {
        return sw_errbuf_set(eb, SW_ELIMIT, "share: state_dir %s is too long for a unix socket",
                             sh->s->state_dir);
    }
    struct share_ctl *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "share: out of memory");
    }
    c->sh = sh;
    c->lfd = -1;
    c->wake[0] = c->wake[1] = -1;
    memcpy(c->path, sa.sun_path, sizeof(c->path));
    struct stat st;
    if (lstat(sa.sun_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            rc = sw_errbuf_set(eb, SW_EINVAL, "share: %s exists and is not a socket", c->path);
            goto fail;
        }
        if (ctl_alive(&sa)) {
            rc = sw_errbuf_set(eb, SW_EAGAIN,
                               "share: %s answers: another stanzawatch uses this state_dir",
                               c->path);
            goto fail;
        }
        unlink(sa.sun_path); /* stale, from a killed process */
    }
    if (pipe2(c->wake, O_CLOEXEC) != 0 ||
        (c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        rc = sw_errbuf_set(eb, SW_EIO, "share: control socket: %s", strerror(errno));
        goto fail;
    }
    mode_t old = umask(0177); /* the socket is born 0600: no window */
    int b = bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (b != 0 || listen(c->lfd, 8) != 0) {
        rc = sw_errbuf_set(eb, SW_EIO, "share: %s: %s", c->path, strerror(errno));
        goto fail;
    }
    if (pthread_create(&c->th, NULL, ctl_main, c) != 0) {
        unlink(c->path);
        rc = sw_errbuf_set(eb, SW_ENOMEM, "share: cannot start the control thread");
        goto fail;
    }
    sh->ctl = c;
    sw_log_info("share", "control socket %s (stanzawatch retract reaches this process)", c->path);
    return 0;
fail:
    if (c->lfd >= 0) {
        close(c->lfd);
    }
    for (int i = 0; i < 2; i++) {
        if (c->wake[i] >= 0) {
            close(c->wake[i]);
        }
    }
    free(c);
    return rc;
}

void sw_share_control_stop(struct sw_share *sh)
{
    struct share_ctl *c = sh ? sh->ctl : NULL;
    if (c == NULL) {
        return;
    }
    (void)!write(c->wake[1], "x", 1);
    pthread_join(c->th, NULL);
    unlink(c->path);
    close(c->lfd);
    close(c->wake[0]);
    close(c->wake[1]);
    free(c);
    sh->ctl = NULL;
}
