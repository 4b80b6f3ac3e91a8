/*
 * share_io.c - small helpers of the share side's files and counters:
 * whole-file atomic rewrite (temp file, fsync, rename, fsync of the
 * directory), whole-file read, bounded copies, bare JIDs. A leaf: share.c and
 * share_lists.c use it, it uses neither. Reentrant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "share_int.h"
#include "sw/file.h"

#define MAX_STATE_BYTES (64 << 20)

void sw_share_bump(atomic_ullong *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* dir/name through core/file.c: the one way files are written and read. */
int sw_share_write_atomic(const char *dir, const char *name, const char *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return sw_file_write_atomic(path, buf, len, 0600);
}

/* Whole file into a malloc'd NUL-terminated buffer; SW_ENOENT if absent. */
int sw_share_read_all(const char *dir, const char *name, char **out)
{
    char path[4096];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return sw_file_read(path, MAX_STATE_BYTES, SW_FILE_NOFOLLOW, out, &len);
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
