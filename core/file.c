/*
 * file.c - atomic file writes, capped reads and the disk fault seam (see
 * include/sw/file.h).
 *
 * Design: every syscall that changes the disk goes through four small
 * functions (fs_write, fs_fsync, fs_rename, fs_unlink) plus fs_sync_dir.
 * Without faults they are the syscalls. With SW_FAULT_FS / sw_file_fault_set
 * they consult one seam state: a byte budget for ENOSPC, an fsync EIO switch,
 * and for "volatile" per-fd buffers (bytes reach the file only on its fsync;
 * closing without fsync drops them) and a list of renames/unlinks that happen
 * only when their directory is fsync'd (matched by st_dev/st_ino).
 *
 * Threading: the seam state is guarded by one mutex; `seam_on` is read
 * relaxed on every call so the no-fault path takes no lock. Ownership: read
 * buffers are malloc'd for the caller.
 */
#include "sw/file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fault seam ---------------------------------------------------------- */

struct vbuf {
    int fd; /* -1 = free slot */
    char *b;
    size_t len, cap;
};

struct vop {
    dev_t dev;
    ino_t ino;
    bool is_rename;
    char *from, *to;
};

static struct {
    pthread_mutex_t mu;
    int64_t enospc_after; /* -1 = off */
    int64_t written;
    bool eio_fsync, vol;
    struct vbuf v[64];
    struct vop *ops;
    size_t n_ops, cap_ops;
} seam = {.mu = PTHREAD_MUTEX_INITIALIZER, .enospc_after = -1};
static atomic_int seam_on;
static pthread_once_t seam_once = PTHREAD_ONCE_INIT;

static void seam_clear_locked(void)
{
    for (size_t i = 0; i < sizeof(seam.v) / sizeof(seam.v[0]); i++) {
        free(seam.v[i].b);
        memset(&seam.v[i], 0, sizeof(seam.v[i]));
        seam.v[i].fd = -1;
    }
    for (size_t i = 0; i < seam.n_ops; i++) {
        free(seam.ops[i].from);
        free(seam.ops[i].to);
    }
    seam.n_ops = 0;
    seam.enospc_after = -1;
    seam.written = 0;
    seam.eio_fsync = false;
    seam.vol = false;
}

static int seam_parse_locked(const char *spec)
{
    seam_clear_locked();
    if (spec == NULL || spec[0] == '\0') {
        atomic_store_explicit(&seam_on, 0, memory_order_relaxed);
        return 0;
    }
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", spec);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "volatile") == 0) {
            seam.vol = true;
        } else if (strcmp(t, "eio") == 0) {
            seam.eio_fsync = true;
        } else if (strncmp(t, "enospc:", 7) == 0) {
            char *end;
            long long n = strtoll(t + 7, &end, 10);
            if (*end != '\0' || n < 0) {
                return SW_EINVAL;
            }
            seam.enospc_after = n;
        } else {
            return SW_EINVAL;
        }
    }
    atomic_store_explicit(&seam_on, 1, memory_order_relaxed);
    return 0;
}

static void seam_init_env(void)
{
    const char *s = getenv("SW_FAULT_FS");
    if (s != NULL && s[0] != '\0') {
        pthread_mutex_lock(&seam.mu);
        if (seam_parse_locked(s) != 0) {
            fprintf(stderr, "stanzawatch: SW_FAULT_FS='%s' not understood, ignored\n", s);
            seam_parse_locked(NULL);
        }
        pthread_mutex_unlock(&seam.mu);
    }
}

static bool seam_active(void)
{
    pthread_once(&seam_once, seam_init_env);
    return atomic_load_explicit(&seam_on, memory_order_relaxed) != 0;
}

int sw_file_fault_set(const char *spec)
{
    pthread_once(&seam_once, seam_init_env);
    pthread_mutex_lock(&seam.mu);
    int rc = seam_parse_locked(spec);
    if (rc != 0) {
        seam_parse_locked(NULL);
    }
    pthread_mutex_unlock(&seam.mu);
    return rc;
}

static struct vbuf *vbuf_of(int fd, bool create)
{
    struct vbuf *free_slot = NULL;
    for (size_t i = 0; i < sizeof(seam.v) / sizeof(seam.v[0]); i++) {
        if (seam.v[i].fd == fd && seam.v[i].b != NULL) {
            return &seam.v[i];
        }
        if (free_slot == NULL && seam.v[i].b == NULL) {
            free_slot = &seam.v[i];
        }
    }
    if (!create || free_slot == NULL) {
        return NULL;
    }
    free_slot->fd = fd;
    free_slot->cap = 4096;
    free_slot->len = 0;
    free_slot->b = malloc(free_slot->cap);
    return free_slot->b ? free_slot : NULL;
}

static ssize_t fs_write(int fd, const void *p, size_t len)
{
    if (!seam_active()) {
        return write(fd, p, len);
    }
    ssize_t rc;
    pthread_mutex_lock(&seam.mu);
    if (seam.enospc_after >= 0) {
        int64_t room = seam.enospc_after - seam.written;
        if (room <= 0) {
            pthread_mutex_unlock(&seam.mu);
            errno = ENOSPC;
            return -1;
        }
        if ((int64_t)len > room) {
            len = (size_t)room; /* a short write first, as a filling disk does */
        }
    }
    if (seam.vol) {
        struct vbuf *v = vbuf_of(fd, true);
        if (v == NULL) {
            pthread_mutex_unlock(&seam.mu);
            errno = ENOMEM;
            return -1;
        }
        while (v->len + len > v->cap) {
            char *nb = realloc(v->b, v->cap * 2);
            if (nb == NULL) {
                pthread_mutex_unlock(&seam.mu);
                errno = ENOMEM;
                return -1;
            }
            v->b = nb;
            v->cap *= 2;
        }
        memcpy(v->b + v->len, p, len);
        v->len += len;
        rc = (ssize_t)len;
    } else {
        rc = write(fd, p, len);
    }
    if (rc > 0) {
        seam.written += rc;
    }
    pthread_mutex_unlock(&seam.mu);
    return rc;
}

static int fs_fsync(int fd)
{
    if (!seam_active()) {
        return fsync(fd);
    }
    pthread_mutex_lock(&seam.mu);
    if (seam.eio_fsync) {
        pthread_mutex_unlock(&seam.mu);
        errno = EIO;
        return -1;
    }
    struct vbuf *v = seam.vol ? vbuf_of(fd, false) : NULL;
    if (v != NULL) {
        size_t off = 0;
        while (off < v->len) {
            ssize_t w = write(fd, v->b + off, v->len - off);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                pthread_mutex_unlock(&seam.mu);
                return -1;
            }
            off += (size_t)w;
        }
        v->len = 0;
    }
    pthread_mutex_unlock(&seam.mu);
    return fsync(fd);
}

/* close: in volatile mode whatever was never fsync'd is gone. */
static int fs_close(int fd)
{
    if (seam_active()) {
        pthread_mutex_lock(&seam.mu);
        struct vbuf *v = seam.vol ? vbuf_of(fd, false) : NULL;
        if (v != NULL) {
            free(v->b);
            memset(v, 0, sizeof(*v));
            v->fd = -1;
        }
        pthread_mutex_unlock(&seam.mu);
    }
    return close(fd);
}

static int defer_op(int dirfd, bool is_rename, const char *from, const char *to)
{
    struct stat st;
    if (fstat(dirfd, &st) != 0) {
        return -1;
    }
    if (seam.n_ops == seam.cap_ops) {
        size_t cap = seam.cap_ops ? seam.cap_ops * 2 : 16;
        struct vop *o = realloc(seam.ops, cap * sizeof(*o));
        if (o == NULL) {
            errno = ENOMEM;
            return -1;
        }
        seam.ops = o;
        seam.cap_ops = cap;
    }
    struct vop *o = &seam.ops[seam.n_ops];
    o->dev = st.st_dev;
    o->ino = st.st_ino;
    o->is_rename = is_rename;
    o->from = strdup(from);
    o->to = to ? strdup(to) : NULL;
    if (o->from == NULL || (to != NULL && o->to == NULL)) {
        free(o->from);
        free(o->to);
        errno = ENOMEM;
        return -1;
    }
    seam.n_ops++;
    return 0;
}

static int fs_rename(int dirfd, const char *from, const char *to)
{
    if (seam_active()) {
        pthread_mutex_lock(&seam.mu);
        if (seam.vol) {
            int rc = defer_op(dirfd, true, from, to);
            pthread_mutex_unlock(&seam.mu);
            return rc;
        }
        pthread_mutex_unlock(&seam.mu);
    }
    return renameat(dirfd, from, dirfd, to);
}

static int fs_unlink(int dirfd, const char *name)
{
    if (seam_active()) {
        pthread_mutex_lock(&seam.mu);
        if (seam.vol) {
            int rc = defer_op(dirfd, false, name, NULL);
            pthread_mutex_unlock(&seam.mu);
            return rc;
        }
        pthread_mutex_unlock(&seam.mu);
    }
    return unlinkat(dirfd, name, 0);
}

int sw_file_sync_dir(int dirfd)
{
    if (seam_active()) {
        pthread_mutex_lock(&seam.mu);
        if (seam.eio_fsync) {
            pthread_mutex_unlock(&seam.mu);
            errno = EIO;
            return SW_EIO;
        }
        struct stat st;
        if (seam.vol && seam.n_ops > 0 && fstat(dirfd, &st) == 0) {
            size_t keep = 0;
            for (size_t i = 0; i < seam.n_ops; i++) {
                struct vop *o = &seam.ops[i];
                if (o->dev != st.st_dev || o->ino != st.st_ino) {
                    seam.ops[keep++] = *o;
                    continue;
                }
                if (o->is_rename) {
                    (void)renameat(dirfd, o->from, dirfd, o->to);
                } else {
                    (void)unlinkat(dirfd, o->from, 0);
                }
                free(o->from);
                free(o->to);
            }
            seam.n_ops = keep;
        }
        pthread_mutex_unlock(&seam.mu);
    }
    return fsync(dirfd) == 0 ? 0 : SW_EIO;
}

/* ---- writes -------------------------------------------------------------- */

static int err_of(int e)
{
    if (e == ENOSPC || e == EDQUOT) {
        return SW_ENOSPC;
    }
    return e == ENOMEM ? SW_ENOMEM : SW_EIO;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = fs_write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            if (w == 0) {
                errno = ENOSPC; /* write(2) returning 0 on a regular file: no room */
            }
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* mkstemp relative to a directory fd: ".tmp-<name>.<16 random hex>", O_EXCL. */
static int open_temp(int dirfd, const char *name, unsigned mode, char *tmp, size_t cap)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
            r = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ sw_mono_ns();
        }
        int n = snprintf(tmp, cap, ".tmp-%s.%016llx", name, (unsigned long long)r);
        if (n < 0 || (size_t)n >= cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd =
            openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
        if (fd >= 0 || errno != EEXIST) {
            return fd;
        }
    }
    errno = EEXIST;
    return -1;
}

int sw_file_write_atomic_at(int dirfd, const char *name, const struct sw_file_part *parts, size_t n,
                            unsigned mode)
{
    char tmp[512];
    int err = 0;
    int fd = open_temp(dirfd, name, mode, tmp, sizeof(tmp));
    if (fd < 0) {
        return err_of(errno);
    }
    for (size_t i = 0; i < n && err == 0; i++) {
        if (write_all(fd, parts[i].p, parts[i].len) != 0) {
            err = errno;
        }
    }
    if (err == 0 && fs_fsync(fd) != 0) {
        err = errno;
    }
    if (fs_close(fd) != 0 && err == 0) {
        err = errno;
    }
    if (err == 0 && fs_rename(dirfd, tmp, name) != 0) {
        err = errno;
    }
    if (err != 0) {
        (void)unlinkat(dirfd, tmp, 0);
        errno = err;
        return err_of(err);
    }
    if (sw_file_sync_dir(dirfd) != 0) {
        return err_of(errno); /* renamed, but not known to be durable */
    }
    return 0;
}

/* Open the directory of @path and point *base at its last component. */
static int open_parent(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        *base = path;
        return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    *base = slash + 1;
    if (slash == path) {
        return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    char dir[4096];
    size_t dl = (size_t)(slash - path);
    if (dl >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, path, dl);
    dir[dl] = '\0';
    return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int sw_file_write_atomicv(const char *path, const struct sw_file_part *parts, size_t n,
                          unsigned mode)
{
    const char *base;
    int dfd = open_parent(path, &base);
    if (dfd < 0) {
        return errno == ENOENT ? SW_ENOENT : SW_EIO;
    }
    if (base[0] == '\0') {
        close(dfd);
        return SW_EINVAL;
    }
    int rc = sw_file_write_atomic_at(dfd, base, parts, n, mode);
    int e = errno;
    close(dfd);
    errno = e;
    return rc;
}

int sw_file_write_atomic(const char *path, const void *buf, size_t len, unsigned mode)
{
    struct sw_file_part part = {buf, len};
    return sw_file_write_atomicv(path, &part, 1, mode);
}

int sw_file_unlink_at(int dirfd, const char *name, bool sync)
{
    if (fs_unlink(dirfd, name) != 0) {
        return errno == ENOENT ? SW_ENOENT : SW_EIO;
    }
    return sync ? sw_file_sync_dir(dirfd) : 0;
}

/* ---- reads --------------------------------------------------------------- */

int sw_file_read_at(int dirfd, const char *name, size_t max, unsigned flags, char **out,
                    size_t *len)
{
    int oflags = O_RDONLY | O_CLOEXEC | ((flags & SW_FILE_NOFOLLOW) ? O_NOFOLLOW : 0);
    int fd = openat(dirfd, name, oflags);
    if (fd < 0) {
        if (errno == ELOOP) {
            return SW_EFORBIDDEN;
        }
        return errno == ENOENT ? SW_ENOENT : SW_EIO;
    }
    struct stat st;
    char *b = NULL;
    int rc = SW_EIO;
    if (fstat(fd, &st) != 0) {
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = SW_EFORBIDDEN;
        goto fail;
    }
    if ((flags & SW_FILE_OWNED) && (st.st_uid != geteuid() || (st.st_mode & 022) != 0)) {
        rc = SW_EFORBIDDEN;
        goto fail;
    }
    if ((uint64_t)st.st_size > max) {
        rc = SW_ELIMIT;
        goto fail;
    }
    b = malloc((size_t)st.st_size + 1);
    if (b == NULL) {
        rc = SW_ENOMEM;
        goto fail;
    }
    size_t got = 0;
    for (;;) {
        /* read to EOF, not to st_size: a file that grew is over the cap or torn */
        if (got == (size_t)st.st_size) {
            char c;
            ssize_t r = read(fd, &c, 1);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r != 0) {
                rc = r > 0 ? SW_ELIMIT : SW_EIO;
                goto fail;
            }
            break;
        }
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            goto fail;
        }
        if (r == 0) {
            break; /* shrank while we read: return what is there */
        }
        got += (size_t)r;
    }
    b[got] = '\0';
    close(fd);
    *out = b;
    *len = got;
    return 0;
fail:
    free(b);
    close(fd);
    return rc;
}

int sw_file_read(const char *path, size_t max, unsigned flags, char **out, size_t *len)
{
    return sw_file_read_at(AT_FDCWD, path, max, flags, out, len);
}
