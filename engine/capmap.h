/*
 * capmap.h - read-only mappings of capture files (see engine/capmap.c).
 *
 * Threading: a map is made, dropped and released by the pipeline's reader
 * thread (the file tap and reader.c); any thread may read its bytes and
 * take the SIGBUS of a truncated file (the handler is async-signal-safe).
 */
#ifndef SW_CAPMAP_H
#define SW_CAPMAP_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sw_capmap {
    const char *base;
    uint64_t len;               /* file size when mapped */
    int fd;                     /* owned: closed by the last sw_capmap_unref() */
    int slot;                   /* index in the SIGBUS registry */
    unsigned refs;              /* reader thread only */
    uint64_t dropped;           /* [0, dropped) is MADV_DONTNEED'd (page multiple) */
    const _Atomic int *faulted; /* its registry slot's flag, set by the SIGBUS handler */
};

/* Map @size (> 0) bytes of regular file @fd read-only and register the range
 * with the SIGBUS handler. On success the map owns @fd (refs = 1) and 0 is
 * returned; else a negative errno and @fd is left to the caller. */
int sw_capmap_open(int fd, uint64_t size, struct sw_capmap **out);
/* The file's bytes [0, *size) are still what the map shows (fstat, or the
 * SIGBUS flag): false when the file shrank under the map (*size = its size). */
bool sw_capmap_intact(struct sw_capmap *m, uint64_t *size);
/* Cheap check for the hot path (per stanza): a SIGBUS was taken on this map. */
static inline bool sw_capmap_faulted(const struct sw_capmap *m)
{
    return atomic_load_explicit(m->faulted, memory_order_relaxed) != 0;
}
/* No byte before @upto is read again: let the kernel unmap those pages
 * (our RSS stays bounded however large the capture). */
void sw_capmap_drop(struct sw_capmap *m, uint64_t upto);
void sw_capmap_ref(struct sw_capmap *m);
/* The last reference unmaps, unregisters and closes the fd. */
void sw_capmap_unref(struct sw_capmap *m);
#endif
