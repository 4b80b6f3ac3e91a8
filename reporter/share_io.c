/*
 * share_io.c - small helpers of the share side's files and counters:
 * whole-file atomic rewrite (temp file, fsync, rename, fsync of the
 * directory), whole-file read, bounded copies, bare JIDs. A leaf: share.c and
 * share_lists.c use it, it uses neither. Reentrant.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "share_int.h"

#define MAX_STATE_BYTES (64 << 20)

void sw_share_bump(atomic_ullong *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

int sw_share_write_atomic(const char *dir, const char *name, const char *buf, size_t len)
{
    char path[4096], tmp[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return SW_EIO;
    }
    int rc = 0;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            rc = errno == ENOSPC ? SW_ENOSPC : SW_EIO;
            break;
        }
        off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0) {
        rc = SW_EIO;
    }
    if (close(fd) != 0 && rc == 0) {
        rc = SW_EIO;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = SW_EIO;
    }
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* Whole file into a malloc'd NUL-terminated buffer; SW_ENOENT if absent. */
int sw_share_read_all(const char *dir, const char *name, char **out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return errno == ENOENT ? SW_ENOENT : SW_EIO;
    }
    char *b = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (cap - n < 65536) {
            cap = cap ? cap * 2 : 65536;
            char *nb = cap <= MAX_STATE_BYTES ? realloc(b, cap + 1) : NULL;
            if (nb == NULL) {
                rc = SW_ENOMEM;
                break;
            }
            b = nb;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            rc = ferror(f) ? SW_EIO : 0;
            break;
        }
    }
    fclose(f);
    if (rc != 0) {
        free(b);
        return rc;
    }
    b[n] = '\0';
    *out = b;
    return 0;
}

void sw_share_copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Bare form of @e (resource cut) in @dst. */
void sw_share_bare(char *dst, size_t cap, const char *e)
{
    sw_share_copy(dst, cap, e);
    char *slash = strchr(dst, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
}
