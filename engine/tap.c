/*
 * tap.c - the file/stdin tap (see include/sw/tap.h).
 *
 * Reads capture files in order with read(2) into the caller's buffer, looping
 * until the buffer is full or the file ends, so chunking is deterministic even
 * on pipes. Each file is one stream; "-" is stdin (not closed). Files are
 * opened when their turn comes so earlier captures are processed before a bad
 * path is reported. posix_fadvise(SEQUENTIAL) doubles the kernel read-ahead.
 *
 * A pipe or terminal (stdin) may stay idle for ever: before each read of a
 * non-regular file the tap polls it together with an eventfd that cancel()
 * signals, so a stop request ends the read at once instead of waiting for the
 * writer to close the pipe. Regular files are read directly.
 *
 * Regular files given by path are also offered as views of a read-only map
 * (view(), engine/capmap.c): the reader then hands the parsers the page
 * cache's bytes instead of a read() copy. Empty files, stdin and other
 * files, and a map that fails (logged at debug level) are read().
 * SW_DEBUG_TAP_STOP_AT=N (tests): the view covering byte N stops the process
 * (SIGSTOP) after its size check, so a test can truncate the file then.
 *
 * Threading: used by the pipeline's reader thread only, except position(),
 * an atomic counter the progress bar reads, and cancel() (any thread).
 */
#include "sw/tap.h"

#include "capmap.h"
#include "sw/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

struct tap_files {
    const char *const *paths;
    size_t n;
    size_t cur; /* index of the current stream */
    int fd;     /* -1: current not opened yet */
    _Atomic uint64_t pos;
    int64_t total; /* -1 if some size is unknown (stdin, pipes) */
    bool regular;  /* current fd is a regular file: no poll needed */
    int cancel_fd; /* eventfd written by cancel() */

    bool started;          /* bytes of the current stream were delivered */
    uint64_t size;         /* current regular file's size at open */
    struct sw_capmap *map; /* current stream's map (owns fd), NULL: read() */
    uint64_t map_off;      /* next byte view() hands out */
    int64_t stop_at;       /* SW_DEBUG_TAP_STOP_AT, -1: none */
};

/* Wait until @t->fd is readable (true) or cancel() was called (false). */
static bool wait_readable(struct tap_files *t)
{
    if (t->regular) {
        return true;
    }
    struct pollfd pf[2] = {{.fd = t->fd, .events = POLLIN}, {.fd = t->cancel_fd, .events = POLLIN}};
    for (;;) {
        int n = poll(pf, t->cancel_fd >= 0 ? 2 : 1, -1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return true; /* let read() report the error */
        }
        if (pf[1].revents != 0 && t->cancel_fd >= 0) {
            return false;
        }
        return true; /* data, EOF (POLLHUP) or an error read() will report */
    }
}

static int tap_files_open(struct tap_files *t, struct sw_errbuf *eb)
{
    const char *p = t->paths[t->cur];
    if (strcmp(p, "-") == 0) {
        struct stat st;
        t->fd = STDIN_FILENO;
        t->regular = fstat(t->fd, &st) == 0 && S_ISREG(st.st_mode);
        return 0;
    }
    t->fd = open(p, O_RDONLY | O_CLOEXEC);
    if (t->fd == -1) {
        int e = errno;
        return sw_errbuf_set(eb, e == ENOENT ? SW_ENOENT : SW_EIO, "%s: %s", p, strerror(e));
    }
    struct stat st;
    t->regular = fstat(t->fd, &st) == 0 && S_ISREG(st.st_mode);
    t->size = t->regular ? (uint64_t)st.st_size : 0;
    (void)posix_fadvise(t->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return 0;
}

static int tap_files_read(void *ctx, char *buf, size_t cap, struct sw_tap_read *out,
                          struct sw_errbuf *eb)
{
    struct tap_files *t = ctx;
    memset(out, 0, sizeof(*out));
    if (t->cur >= t->n) {
        out->eof = true;
        return 0;
    }
    if (t->fd == -1) {
        int rc = tap_files_open(t, eb);
        if (rc < 0) {
            return rc;
        }
    }
    out->stream = (uint16_t)t->cur;
    out->name = t->paths[t->cur];
    while (out->len < cap) {
        if (!wait_readable(t)) {
            /* cancelled: what was read is handed out, then no more streams */
            out->stream_end = true;
            t->cur = t->n - 1;
            break;
        }
        ssize_t k = read(t->fd, buf + out->len, cap - out->len);
        if (k == -1) {
            if (errno == EINTR) {
                continue;
            }
            return sw_errbuf_set(eb, SW_EIO, "%s: %s", out->name, strerror(errno));
        }
        if (k == 0) {
            out->stream_end = true;
            break;
        }
        out->len += (size_t)k;
    }
    atomic_fetch_add_explicit(&t->pos, out->len, memory_order_relaxed);
    t->started = true;
    if (out->stream_end) {
        if (t->fd != STDIN_FILENO) {
            close(t->fd);
        }
        t->fd = -1;
        t->started = false;
        t->cur++;
    }
    return 0;
}

static int tap_files_view(void *ctx, size_t cap, const char **ptr, struct sw_capmap **map,
                          struct sw_tap_read *out, struct sw_errbuf *eb)
{
    struct tap_files *t = ctx;
    memset(out, 0, sizeof(*out));
    *ptr = NULL;
    *map = NULL;
    if (t->cur >= t->n) {
        return 0; /* read() reports eof */
    }
    if (t->map == NULL) {
        if (t->started) {
            return 0;
        }
        if (t->fd == -1) {
            int rc = tap_files_open(t, eb);
            if (rc < 0) {
                return rc;
            }
        }
        if (!t->regular || t->fd == STDIN_FILENO || t->size == 0) {
            return 0;
        }
        int rc = sw_capmap_open(t->fd, t->size, &t->map);
        if (rc < 0) {
            sw_log_debug("engine", "%s: not mapped (%s): read()", t->paths[t->cur], strerror(-rc));
            return 0;
        }
        t->map_off = 0;
        t->started = true;
    }
    struct sw_capmap *m = t->map;
    out->stream = (uint16_t)t->cur;
    out->name = t->paths[t->cur];
    uint64_t left = m->len - t->map_off;
    out->len = left < cap ? (size_t)left : cap;
    uint64_t real;
    if (!sw_capmap_intact(m, &real) && real < t->map_off + out->len) {
        out->len = real > t->map_off ? (size_t)(real - t->map_off) : 0;
        out->truncated = true;
    }
    if (t->stop_at >= 0 && (uint64_t)t->stop_at >= t->map_off &&
        (uint64_t)t->stop_at < t->map_off + out->len) {
        raise(SIGSTOP); /* SW_DEBUG_TAP_STOP_AT: the test truncates the file now */
    }
    *ptr = m->base + t->map_off;
    *map = m;
    sw_capmap_ref(m); /* the caller's */
    t->map_off += out->len;
    atomic_fetch_add_explicit(&t->pos, out->len, memory_order_relaxed);
    if (out->truncated || t->map_off == m->len) {
        out->stream_end = true;
        sw_capmap_unref(m); /* the fd goes with the last view's reference */
        t->map = NULL;
        t->fd = -1;
        t->started = false;
        t->cur++;
    }
    return 1;
}

static int64_t tap_files_size_hint(void *ctx)
{
    struct tap_files *t = ctx;
    return t->total;
}

static uint64_t tap_files_position(void *ctx)
{
    struct tap_files *t = ctx;
    return atomic_load_explicit(&t->pos, memory_order_relaxed);
}

static void tap_files_close(void *ctx)
{
    struct tap_files *t = ctx;
    if (t == NULL) {
        return;
    }
    if (t->map != NULL) {
        sw_capmap_unref(t->map); /* owns fd */
    } else if (t->fd != -1 && t->fd != STDIN_FILENO) {
        close(t->fd);
    }
    if (t->cancel_fd >= 0) {
        close(t->cancel_fd);
    }
    free(t);
}

static void tap_files_cancel(void *ctx)
{
    struct tap_files *t = ctx;
    uint64_t one = 1;
    if (t->cancel_fd >= 0) {
        ssize_t w = write(t->cancel_fd, &one, sizeof(one));
        (void)w; /* an eventfd write of 1 only fails on counter overflow */
    }
}

int sw_tap_files_new(const char *const *paths, size_t n, struct sw_tap_ops *out)
{
    struct tap_files *t;
    if (paths == NULL || n == 0 || n > UINT16_MAX || out == NULL) {
        return SW_EINVAL;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return SW_ENOMEM;
    }
    t->paths = paths;
    t->n = n;
    t->fd = -1;
    const char *stop_at = getenv("SW_DEBUG_TAP_STOP_AT");
    t->stop_at = stop_at != NULL && *stop_at != '\0' ? strtoll(stop_at, NULL, 10) : -1;
    t->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    atomic_init(&t->pos, 0);
    t->total = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (strcmp(paths[i], "-") == 0 || stat(paths[i], &st) != 0 || !S_ISREG(st.st_mode)) {
            t->total = -1;
            break;
        }
        t->total += (int64_t)st.st_size;
    }
    memset(out, 0, sizeof(*out));
    out->kind = "files";
    out->live = false;
    out->read = tap_files_read;
    out->size_hint = tap_files_size_hint;
    out->position = tap_files_position;
    out->close = tap_files_close;
    out->cancel = tap_files_cancel;
    out->view = tap_files_view;
    out->ctx = t;
    return 0;
}
