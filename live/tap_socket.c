/*
 * tap_socket.c - the socket tap: a listener (unix:PATH or HOST:PORT) the
 * server-side modules connect to, each connection one XML stream of
 * records (live/record.h: <w n='SEQ' t='MS'>STANZA</w>, the shorter
 * <m/>/<p/> of record 2 with per-connection keys for from/to/type, or plain
 * stanzas). After a connection's first bytes the tap writes LT_REC_HELLO,
 * the only bytes it ever sends: a module that reads it may switch to
 * record 2.
 *
 * One thread per tap runs an epoll loop over the listener, an eventfd (stop)
 * and every connection. Each connection has its own sw_split (the replay
 * splitter, same limits.max_stanza_bytes / max_depth) and a buffer holding
 * only the incomplete stanza at its end, so a hostile peer costs at most
 * max_stanza_bytes + 64 KB. Whole stanzas are unwrapped and queued
 * (lt_tap_stanza); the block is flushed after every poll round.
 *
 * Hostile or broken peers: junk the splitter rejects (no stream header, a
 * DOCTYPE, ...) closes the connection (parse_errors); junk between stanzas
 * (text, a stray close tag at the top level) is logged "peer: line:col:
 * reason", counted (junk) and skipped, the connection stays; an oversize or
 * over-deep stanza is skipped and counted; a peer silent for idle_timeout
 * (half-open TCP, hung module) is closed (idle_closed; the modules send a
 * whitespace keepalive); more than max_connections are refused. None of this
 * affects the other connections. Reads are bounded per round (fairness).
 *
 * Sequence numbers: a module numbers every stanza it sees, sent or dropped,
 * so a jump within a connection is a gap (counted). A record may leave out
 * n (then it is the previous record's + 1) and t (the previous record's
 * stamp): mod_stanzawatch.lua writes them only when they change that way. A
 * bad record 2 (unknown key, ...) is counted as junk and skipped. The stream header's
 * dropped='N' is the module's own drop count (reported as peer_dropped).
 *
 * Threading: the tap thread only; counters as in live_int.h.
 */
#define _GNU_SOURCE 1 /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "live_int.h"
#include "record.h"
#include "sw/log.h"

#define SK_READ 65536u
#define SK_READS_PER_ROUND 4
#define SK_MAX_EVENTS 64
#define SK_STOP_DRAIN_ROUNDS 256 /* at stop, at most this many read rounds per connection */
#define SK_STOP_LINGER_MS 1000   /* at stop, how long TCP peers have to close after our FIN */

struct sk_conn {
    struct sk_tap *sk;
    int fd;
    struct sw_split *split;
    char *buf;
    size_t cap, len;   /* buf[0, len) holds stream bytes [off, off + len) */
    uint64_t off;      /* stream offset of buf[0] */
    uint64_t consumed; /* stream offset before which no byte is needed */
    int64_t last_rx;
    uint64_t last_n, last_t; /* the previous record's n and t */
    bool have_n, have_t;
    uint64_t peer_dropped;  /* this connection's latest dropped='N' */
    uint64_t skipped;       /* oversize + over-deep stanzas already counted */
    struct lt_rec_conn rec; /* record 2 keys and expansion buffer */
    bool dead;
    bool drained;         /* the last sk_conn_read emptied the socket (EAGAIN or a short read) */
    bool hello_sent;      /* LT_REC_HELLO, after the peer's first bytes */
    unsigned stop_rounds; /* read rounds since the stop cut the stream (sk_stop_drain) */
    char peer[64];
    struct sk_conn *next;
};

struct sk_tap {
    struct lt_tap *t;
    int lfd, ep;
    bool keep_path; /* a successor took the listener over: leave unix_path at stop */
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct sk_conn *conns;
    uint64_t peer_dropped_closed; /* drops reported by connections already closed */
};

/* ------------------------------------------------------------------ */
/* listening                                                           */

static int sk_listen(struct sk_tap *sk, const char *spec, struct sw_errbuf *eb)
{
    int fd = -1;
    if (strncmp(spec, "unix:", 5) == 0) {
        const char *path = spec + 5;
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        if (path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
            return sw_errbuf_set(eb, SW_ECONF, "tap %s: bad unix socket path '%s'", sk->t->name,
                                 path);
        }
        memcpy(sa.sun_path, path, strlen(path) + 1);
        struct stat st;
        if (lstat(path, &st) == 0) {
            if (!S_ISSOCK(st.st_mode)) {
                return sw_errbuf_set(eb, SW_ECONF, "tap %s: %s exists and is not a socket",
                                     sk->t->name, path);
            }
            unlink(path); /* stale socket of an earlier run */
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            goto sys_fail;
        }
        (void)chmod(path, 0660); /* the server's group writes; others do not */
        snprintf(sk->unix_path, sizeof(sk->unix_path), "%s", path);
    } else {
        char host[256];
        const char *colon = strrchr(spec, ':');
        if (colon == NULL || colon == spec || colon[1] == '\0') {
            return sw_errbuf_set(eb, SW_ECONF,
                                 "tap %s: listen '%s': expected unix:PATH or HOST:PORT",
                                 sk->t->name, spec);
        }
        size_t hl = (size_t)(colon - spec);
        if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
            spec++;
            hl -= 2;
        }
        if (hl >= sizeof(host)) {
            return sw_errbuf_set(eb, SW_ECONF, "tap %s: listen host too long", sk->t->name);
        }
        memcpy(host, spec, hl);
        host[hl] = '\0';
        struct addrinfo hints, *ai = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
        int g = getaddrinfo(host, colon + 1, &hints, &ai);
        if (g != 0) {
            return sw_errbuf_set(eb, SW_ECONF, "tap %s: listen '%s': %s (numeric address needed)",
                                 sk->t->name, spec, gai_strerror(g));
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd != -1) {
            (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        }
        if (fd == -1 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            freeaddrinfo(ai);
            goto sys_fail;
        }
        freeaddrinfo(ai);
    }
    if (listen(fd, 64) != 0) {
        goto sys_fail;
    }
    sk->lfd = fd;
    return 0;
sys_fail : {
    int e = errno;
    if (fd != -1) {
        close(fd);
    }
    return sw_errbuf_set(eb, SW_EIO, "tap %s: listen %s: %s", sk->t->name, spec, strerror(e));
}
}

/* ------------------------------------------------------------------ */
/* one connection                                                      */

static void sk_conn_close(struct sk_conn *c)
{
    if (c->fd != -1) {
        epoll_ctl(c->sk->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        LT_CNT_ADD(c->sk->t->c.open, (uint64_t)-1);
    }
    c->dead = true;
}

static void sk_conn_free(struct sk_conn *c)
{
    sk_conn_close(c);
    c->sk->peer_dropped_closed += c->peer_dropped;
    sw_split_free(c->split);
    lt_rec_conn_free(&c->rec);
    free(c->buf);
    free(c);
}

/* unsigned integer attribute @name='digits' in @s[0, n) */
static bool attr_u64(const char *s, size_t n, const char *name, uint64_t *out)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 2 < n; i++) {
        if ((i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t' || s[i - 1] == '\n') &&
            memcmp(s + i, name, nl) == 0 && s[i + nl] == '=' &&
            (s[i + nl + 1] == '\'' || s[i + nl + 1] == '"')) {
            uint64_t v = 0;
            size_t j = i + nl + 2;
            bool digits = false;
            while (j < n && s[j] >= '0' && s[j] <= '9' && v < UINT64_MAX / 10) {
                v = v * 10 + (uint64_t)(s[j] - '0');
                j++;
                digits = true;
            }
            if (!digits) {
                return false;
            }
            *out = v;
            return true;
        }
    }
    return false;
}

static void sk_on_header(void *ud, uint64_t start, uint64_t end)
{
    struct sk_conn *c = ud;
    if (start < c->off) {
        return;
    }
    const char *h = c->buf + (start - c->off);
    size_t hl = (size_t)(end - start);
    uint64_t d;
    if (attr_u64(h, hl, "dropped", &d)) {
        struct lt_tap *t = c->sk->t;
        c->peer_dropped = d;
        uint64_t total = c->sk->peer_dropped_closed;
        for (struct sk_conn *o = c->sk->conns; o != NULL; o = o->next) {
            total += o->peer_dropped;
        }
        LT_CNT_SET(t->c.peer_dropped, total);
    }
    c->consumed = end;
}

/* a record (record.h): unwrap or expand it, count gaps and transit time */
static void sk_on_stanza(void *ud, uint64_t start, uint64_t end, uint32_t line)
{
    struct sk_conn *c = ud;
    struct lt_tap *t = c->sk->t;
    c->consumed = end;
    if (start < c->off) {
        return; /* its start was cut while the splitter skipped it as oversize */
    }
    const char *s = c->buf + (start - c->off);
    size_t n = (size_t)(end - start);
    struct lt_rec r;
    const char *why = NULL;
    int rc = lt_rec_parse(&c->rec, s, n, &r, &why);
    if (rc < 0) {
        LT_CNT_ADD(t->c.junk, 1);
        sw_log_warn("tap", "%s: %s: line %u: %s: record skipped", t->name, c->peer, line,
                    why != NULL ? why : "out of memory");
        return;
    }
    if (r.numbered) {
        if (r.has_n) {
            if (c->have_n && r.n > c->last_n + 1) {
                LT_CNT_ADD(t->c.gaps, r.n - c->last_n - 1);
            }
            c->last_n = r.n;
            c->have_n = true;
        } else if (c->have_n) {
            c->last_n++; /* no n: the previous record's + 1 */
        }
        if (r.has_t) {
            c->last_t = r.t;
            c->have_t = true;
        }
        if (c->have_t) { /* no t: the previous record's stamp */
            int64_t d = sw_wall_ms() - (int64_t)c->last_t;
            LT_CNT_ADD(t->c.transit_ms_sum, (uint64_t)(d > 0 ? d : 0));
            LT_CNT_ADD(t->c.transit_n, 1);
        }
    }
    if (r.stanza != NULL) {
        lt_tap_stanza(t, r.stanza, r.len);
    }
}

static void sk_on_junk(void *ud, uint64_t start, uint64_t end, uint32_t line, uint32_t col,
                       const char *reason)
{
    struct sk_conn *c = ud;
    struct lt_tap *t = c->sk->t;
    (void)start;
    c->consumed = end;
    LT_CNT_ADD(t->c.junk, 1);
    sw_log_warn("tap", "%s: %s: %u:%u: %s: junk between stanzas skipped", t->name, c->peer, line,
                col, reason);
}

static void sk_on_close(void *ud, uint64_t start, uint64_t end)
{
    struct sk_conn *c = ud;
    (void)start;
    c->consumed = end;
}

/* Make room for one more read: drop consumed bytes, keep at most tail_keep
 * of an incomplete stanza, grow once if needed. */
static int sk_conn_room(struct sk_conn *c)
{
    size_t keep_max = c->sk->t->live->tail_keep;
    uint64_t end = c->off + c->len;
    uint64_t from = c->consumed > c->off ? c->consumed : c->off;
    if (end - from > keep_max) {
        from = end - keep_max;
    }
    size_t tail = (size_t)(end - from);
    if (from > c->off) {
        memmove(c->buf, c->buf + (from - c->off), tail);
        c->off = from;
        c->len = tail;
    }
    if (c->cap - c->len < SK_READ) {
        size_t ncap = c->len + SK_READ;
        char *nb = realloc(c->buf, ncap);
        if (nb == NULL) {
            return SW_ENOMEM;
        }
        c->buf = nb;
        c->cap = ncap;
    }
    return 0;
}

/* Read what the peer sent (bounded per round). false: the connection ended. */
static bool sk_conn_read(struct sk_conn *c)
{
    struct lt_tap *t = c->sk->t;
    struct sw_errbuf eb;
    c->drained = false;
    for (int i = 0; i < SK_READS_PER_ROUND; i++) {
        if (sk_conn_room(c) < 0) {
            return false;
        }
        ssize_t k = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (k == 0) {
            return false;
        }
        if (k < 0) {
            if (errno == EINTR) {
                continue;
            }
            c->drained = true;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        c->last_rx = sw_wall_ms();
        if (!c->hello_sent) {
            /* record 2 is on offer (record.h), once the peer has spoken: a
             * module is then surely past its connect (Prosody 0.12's
             * net.server drops a connection that reads before it wrote); a
             * peer that never reads leaves it in its buffer, one already gone
             * gets no SIGPIPE */
            (void)send(c->fd, LT_REC_HELLO, sizeof(LT_REC_HELLO) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            c->hello_sent = true;
        }
        LT_CNT_ADD(t->c.bytes, (uint64_t)k);
        size_t at = c->len;
        c->len += (size_t)k;
        eb.msg[0] = '\0';
        if (sw_split_feed(c->split, c->buf + at, (size_t)k, &eb) < 0) {
            LT_CNT_ADD(t->c.parse_errors, 1);
            LT_CNT_ADD(t->c.closed_error, 1);
            sw_log_warn("tap", "%s: %s: closing: %s", t->name, c->peer, eb.msg);
            return false;
        }
        uint64_t o = 0, d = 0;
        sw_split_stats(c->split, &o, &d);
        if (o + d > c->skipped) {
            LT_CNT_ADD(t->c.oversize, o + d - c->skipped);
            c->skipped = o + d;
        }
        if ((size_t)k < c->cap - at) {
            c->drained = true;
            return true; /* drained the socket */
        }
    }
    return true;
}

static void sk_accept(struct sk_tap *sk)
{
    struct lt_tap *t = sk->t;
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(sk->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            return; /* EAGAIN, or a transient error: epoll reports again */
        }
        if ((int64_t)LT_CNT_GET(t->c.open) >= t->s->max_connections) {
            LT_CNT_ADD(t->c.refused, 1);
            close(fd);
            continue;
        }
        struct sk_conn *c = calloc(1, sizeof(*c));
        struct sw_split_cb cb = {.header = sk_on_header,
                                 .stanza = sk_on_stanza,
                                 .close = sk_on_close,
                                 .junk = sk_on_junk,
                                 .ud = c};
        /* a record's <w> wrapper is one level more than the stanza in it:
         * the parser still applies max_depth to the stanza (over-limit
         * event), the splitter must not skip it for the wrapper's level */
        struct sw_xml_limits slim = t->live->xlim;
        slim.max_depth++;
        if (c == NULL || sw_split_new(&slim, &cb, &c->split) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->sk = sk;
        c->fd = fd;
        c->last_rx = sw_wall_ms();
        lt_rec_conn_init(&c->rec);
        if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
            char h[INET6_ADDRSTRLEN] = "?";
            int port = 0;
            if (ss.ss_family == AF_INET) {
                struct sockaddr_in *a = (struct sockaddr_in *)&ss;
                inet_ntop(AF_INET, &a->sin_addr, h, sizeof(h));
                port = ntohs(a->sin_port);
            } else {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
                inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof(h));
                port = ntohs(a->sin6_port);
            }
            snprintf(c->peer, sizeof(c->peer), "%s:%d", h, port);
        } else {
            snprintf(c->peer, sizeof(c->peer), "unix#%llu",
                     (unsigned long long)(LT_CNT_GET(t->c.connections) + 1));
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(sk->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            sw_split_free(c->split);
            free(c);
            close(fd);
            continue;
        }
        c->next = sk->conns;
        sk->conns = c;
        LT_CNT_ADD(t->c.connections, 1);
        LT_CNT_ADD(t->c.open, 1);
        sw_log_info("tap", "%s: connection from %s", t->name, c->peer);
    }
}

/* Free dead connections; close idle ones. */
static void sk_sweep(struct sk_tap *sk, int64_t now)
{
    struct lt_tap *t = sk->t;
    struct sk_conn **pp = &sk->conns;
    while (*pp != NULL) {
        struct sk_conn *c = *pp;
        if (!c->dead && t->s->idle_timeout_ms > 0 && now - c->last_rx > t->s->idle_timeout_ms) {
            sw_log_warn("tap", "%s: %s silent for %lld ms: closing", t->name, c->peer,
                        (long long)(now - c->last_rx));
            LT_CNT_ADD(t->c.idle_closed, 1);
            sk_conn_close(c);
        }
        if (c->dead) {
            *pp = c->next;
            sk_conn_free(c);
            continue;
        }
        pp = &c->next;
    }
}

/* At stop, end every connection without losing what its peer managed to send,
 * so a reload that stops this tap loses nothing that reached us and the close
 * is a FIN, not the RST of closing over unread data. Reading until EAGAIN and
 * then closing is not enough: what the peer writes between that last read and
 * close() is thrown away by the kernel although the peer's send() succeeded,
 * so the module counts it as sent, not as dropped (one batch of a steady load
 * per reload, now and then, under load: live.prosody_reload). So the stream
 * is cut first. shutdown(SHUT_WR) gives the peer its end of stream (the
 * modules close and reconnect on it); on a unix socket SHUT_RD also makes
 * every later send() of the peer fail (EPIPE: the module counts those records
 * as dropped and reports them on its next connection), so what is queued now
 * is all that comes and a read returns 0 once it is read. TCP has no such cut:
 * reads go on until the peer's FIN, at most SK_STOP_LINGER_MS for all
 * connections together. Bounded either way: a peer that neither closes in
 * time nor stops writing (SK_STOP_DRAIN_ROUNDS) is cut off. */
static void sk_stop_drain(struct sk_tap *sk)
{
    struct lt_tap *t = sk->t;
    int how = sk->unix_path[0] != '\0' ? SHUT_RDWR : SHUT_WR;
    for (struct sk_conn *c = sk->conns; c != NULL; c = c->next) {
        if (!c->dead) {
            (void)shutdown(c->fd, how); /* fails only on a connection already gone */
        }
    }
    int64_t until = sw_wall_ms() + SK_STOP_LINGER_MS;
    for (;;) {
        bool waiting = false;
        for (struct sk_conn *c = sk->conns; c != NULL; c = c->next) {
            while (!c->dead) {
                if (!sk_conn_read(c) || ++c->stop_rounds >= SK_STOP_DRAIN_ROUNDS) {
                    sk_conn_close(c); /* its end of stream (or an error, or too much) */
                } else if (c->drained) {
                    waiting = true; /* read empty for now: its end of stream is to come */
                    break;
                }
            }
            lt_queue_flush(t);
        }
        if (!waiting || sw_wall_ms() >= until) {
            return; /* the rest is closed by the caller */
        }
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void *sk_main(void *arg)
{
    struct lt_tap *t = arg;
    struct sk_tap *sk = t->impl;
    struct epoll_event evs[SK_MAX_EVENTS];
    int64_t last_sweep = sw_wall_ms();
    char tn[16];
    snprintf(tn, sizeof(tn), "sw-tap/%u", t->idx);
    (void)prctl(PR_SET_NAME, tn, 0, 0, 0);
    while (!atomic_load_explicit(&t->stop, memory_order_acquire)) {
        /* a partly filled block waits at most ~2 ms for more stanzas */
        int n = epoll_wait(sk->ep, evs, SK_MAX_EVENTS, t->cur != NULL ? 2 : 1000);
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &sk->lfd) {
                sk_accept(sk);
            } else if (p == &t->wake_fd) {
                /* stop requested: the loop condition sees it */
            } else {
                struct sk_conn *c = p;
                if (c->dead) {
                    continue;
                }
                if (!sk_conn_read(c)) {
                    if (!c->dead) {
                        sw_log_info("tap", "%s: %s closed", t->name, c->peer);
                    }
                    sk_conn_close(c);
                }
            }
        }
        lt_queue_flush_lazy(t, n == 0);
        int64_t now = sw_wall_ms();
        if (now - last_sweep >= 1000 || n == SK_MAX_EVENTS) {
            sk_sweep(sk, now);
            last_sweep = now;
        } else {
            /* free the connections closed this round right away */
            struct sk_conn **pp = &sk->conns;
            while (*pp != NULL) {
                if ((*pp)->dead) {
                    struct sk_conn *c = *pp;
                    *pp = c->next;
                    sk_conn_free(c);
                } else {
                    pp = &(*pp)->next;
                }
            }
        }
    }
    /* stop: no new connections (a successor may hold the listener on) */
    close(sk->lfd);
    sk->lfd = -1;
    if (sk->unix_path[0] != '\0' && !sk->keep_path) {
        unlink(sk->unix_path);
    }
    sk_stop_drain(sk);
    while (sk->conns != NULL) {
        struct sk_conn *c = sk->conns;
        sk->conns = c->next;
        sk_conn_free(c);
    }
    lt_queue_flush(t);
    atomic_store_explicit(&t->stopped, true, memory_order_release);
    return NULL;
}

int lt_socket_prepare(struct lt_tap *t, int lfd, struct sw_errbuf *eb)
{
    struct sk_tap *sk = calloc(1, sizeof(*sk));
    if (sk == NULL) {
        if (lfd != -1) {
            close(lfd);
        }
        return sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
    }
    sk->t = t;
    sk->lfd = lfd;
    sk->ep = -1;
    t->impl = sk;
    if (t->s->listen == NULL || t->s->listen[0] == '\0') {
        return sw_errbuf_set(eb, SW_ECONF, "tap %s: type socket needs 'listen'", t->name);
    }
    if (lfd != -1) {
        /* the path is its predecessor's until the reload commits (lt_socket_keep_path) */
        sk->keep_path = true;
        if (strncmp(t->s->listen, "unix:", 5) == 0) {
            snprintf(sk->unix_path, sizeof(sk->unix_path), "%s", t->s->listen + 5);
        }
    } else {
        int rc = sk_listen(sk, t->s->listen, eb);
        if (rc < 0) {
            return rc;
        }
    }
    sk->ep = epoll_create1(EPOLL_CLOEXEC);
    t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sk->ep == -1 || t->wake_fd == -1) {
        return sw_errbuf_set(eb, SW_EIO, "tap %s: epoll/eventfd: %s", t->name, strerror(errno));
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &sk->lfd};
    struct epoll_event wv = {.events = EPOLLIN, .data.ptr = &t->wake_fd};
    if (epoll_ctl(sk->ep, EPOLL_CTL_ADD, sk->lfd, &ev) != 0 ||
        epoll_ctl(sk->ep, EPOLL_CTL_ADD, t->wake_fd, &wv) != 0) {
        return sw_errbuf_set(eb, SW_EIO, "tap %s: epoll_ctl: %s", t->name, strerror(errno));
    }
    return 0;
}

int lt_socket_run(struct lt_tap *t, struct sw_errbuf *eb)
{
    if (pthread_create(&t->th, NULL, sk_main, t) != 0) {
        return sw_errbuf_set(eb, SW_ENOMEM, "tap %s: cannot start its thread", t->name);
    }
    atomic_store_explicit(&t->started, true, memory_order_release);
    sw_log_info("tap", "%s: listening on %s", t->name, t->s->listen);
    return 0;
}

int lt_socket_lfd(const struct lt_tap *t)
{
    const struct sk_tap *sk = t->impl;
    return sk != NULL ? sk->lfd : -1;
}

void lt_socket_keep_path(struct lt_tap *t, bool keep)
{
    struct sk_tap *sk = t->impl;
    if (sk != NULL) {
        sk->keep_path = keep;
    }
}

void lt_socket_fini(struct lt_tap *t)
{
    struct sk_tap *sk = t->impl;
    if (sk == NULL) {
        return;
    }
    if (sk->lfd != -1) {
        close(sk->lfd);
        if (sk->unix_path[0] != '\0' && !sk->keep_path) {
            unlink(sk->unix_path);
        }
    }
    if (sk->ep != -1) {
        close(sk->ep);
    }
    free(sk);
    t->impl = NULL;
}
