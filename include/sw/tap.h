/*
 * tap.h - byte sources for the pipeline: "taps".
 *
 * A tap yields raw bytes of one or more XML stanza streams, tagged with a
 * stream index; it does no parsing. The pipeline's reader thread pulls from
 * one tap, finds stanza boundaries with sw_split and hands whole-stanza chunks
 * to the parser threads. Replay uses the file tap (capture files in order,
 * "-" = stdin, each file its own stream); a live XEP-0114 component tap can
 * implement the same ops later without touching the pipeline.
 *
 * Determinism: the file tap fills the caller's buffer completely unless the
 * stream ends, so chunk boundaries (and thus event sequence numbers) do not
 * depend on how read(2) happens to split a pipe.
 *
 * Threading: one tap is used by one thread (the pipeline's reader).
 * Ownership: ops->close() releases everything the tap allocated.
 */
#ifndef SW_TAP_H
#define SW_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What one read() returned. */
struct sw_tap_read {
    uint16_t stream;  /* stream index the bytes belong to */
    const char *name; /* stream name for messages (file path, "-" = stdin); borrowed */
    size_t len;       /* bytes written to the buffer */
    bool stream_end;  /* the stream ended after these bytes */
    bool eof;         /* no more streams: len is 0 and nothing else is set */
    bool truncated;   /* view(): the file shrank under its map; stream_end is set and
                       * len stops at its real end */
};

struct sw_capmap; /* engine/capmap.h */

struct sw_tap_ops {
    const char *kind; /* "files", "component", ... */
    bool live;        /* true: engine.queue_policy applies (drop instead of blocking) */
    /* Fill @buf (@cap bytes) with the next bytes of the current stream. Returns
     * 0 or a negative SW_E* with @eb = "name: reason". */
    int (*read)(void *ctx, char *buf, size_t cap, struct sw_tap_read *out, struct sw_errbuf *eb);
    /* Total bytes if known in advance (progress bar), else -1. */
    int64_t (*size_hint)(void *ctx);
    /* Bytes delivered so far (progress; readable from another thread). */
    uint64_t (*position)(void *ctx);
    void (*close)(void *ctx);
    /* Optional (NULL = none): make a read() blocked on an idle source return
     * at once with eof; any thread (the control thread on SIGTERM). */
    void (*cancel)(void *ctx);
    /* Optional (live taps): called once by the reader thread when the
     * pipeline is asked to stop; the tap stops taking input and read() goes
     * on returning what it had queued, then stream_end and eof (a drained
     * stop). NULL: the reader stops reading at once. */
    void (*stop)(void *ctx);
    /* Optional (NULL = none): like read(), but instead of copying, *@ptr is
     * set to the next (at most @cap) bytes of the current stream in a
     * read-only map of the file, *@map to that map with a reference the
     * caller owns (sw_capmap_unref() when the bytes are no longer read). Each
     * view follows the previous one in memory. Returns 1 with a view, 0 when
     * the current stream is not mapped (not a regular file given by path, an
     * empty file, or mmap failed): read() serves it then (decided when a
     * stream starts, so call it only there and while it keeps returning 1),
     * or a negative SW_E* like read(). */
    int (*view)(void *ctx, size_t cap, const char **ptr, struct sw_capmap **map,
                struct sw_tap_read *out, struct sw_errbuf *eb);
    void *ctx;
};

/**
 * A tap over capture files read in order; "-" is standard input. Each path is
 * one stream (index = position in @paths). Paths are borrowed and must outlive
 * the tap. Files are opened lazily, so a missing file is reported (SW_ENOENT/
 * SW_EIO with "path: reason") when its turn comes, after the earlier ones.
 * Returns 0 or SW_EINVAL/SW_ENOMEM.
 */
int sw_tap_files_new(const char *const *paths, size_t n, struct sw_tap_ops *out);

#ifdef __cplusplus
}
#endif
#endif
