/*
 * file.h - the one way stanzawatch writes and reads its own files.
 *
 * Design: a file that must survive a crash (spool batches, inbound reports,
 * the Hyperscan cache, the classifier model) is written by
 * sw_file_write_atomic: a fresh temp file in the same directory (created
 * O_EXCL|O_NOFOLLOW with a random suffix, mode given by the caller), every
 * byte written (short writes and EINTR looped), fsync, close, rename over the
 * final name, fsync of the directory. A reader therefore sees the old file or
 * the whole new one, and a caller told "0" knows the bytes are on disk.
 * sw_file_read reads a whole file with a size cap (a file is never trusted to
 * be small) and can refuse symlinks and files not owned by us.
 *
 * Fault seam (tests only): every write, fsync, rename and unlink of this
 * module goes through one layer that SW_FAULT_FS (read once, at first use) or
 * sw_file_fault_set() can make fail or lose data, so disk faults are tested
 * without mounts:
 *   "enospc:N"  writes fail with ENOSPC once N bytes were written in total
 *   "eio"       fsync fails with EIO
 *   "volatile"  a power cut in slow motion: written bytes stay in memory until
 *               the file's fsync, renames and unlinks stay pending until the
 *               directory's fsync; so a kill -9 loses exactly what a crash of
 *               the machine could lose, and a missing fsync shows up as loss.
 *
 * Threading: all functions are thread-safe (the seam state has a mutex and
 * costs one relaxed load when off). Errors: 0, SW_ENOSPC (ENOSPC/EDQUOT),
 * SW_ENOENT, SW_ELIMIT (over the size cap), SW_EFORBIDDEN (ownership/symlink
 * check failed), SW_ENOMEM or SW_EIO; errno is kept from the failing call.
 */
#ifndef SW_FILE_H
#define SW_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "sw/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One piece of a file's contents (written in order). */
struct sw_file_part {
    const void *p;
    size_t len;
};

/* sw_file_read flags */
#define SW_FILE_NOFOLLOW 1u /* refuse a symlink as the last path component */
#define SW_FILE_OWNED 2u    /* refuse a file not owned by our euid or writable by others */

/**
 * Atomically replace @name in directory @dirfd with the concatenation of
 * @parts (see the file comment for the steps). @mode is the new file's mode.
 * The temp file is removed on failure.
 */
int sw_file_write_atomic_at(int dirfd, const char *name, const struct sw_file_part *parts, size_t n,
                            unsigned mode);

/** Same for a path: opens its directory (the part before the last '/', or "."). */
int sw_file_write_atomicv(const char *path, const struct sw_file_part *parts, size_t n,
                          unsigned mode);
/** One buffer. */
int sw_file_write_atomic(const char *path, const void *buf, size_t len, unsigned mode);

/**
 * Read the whole of @name (relative to @dirfd, or a path with AT_FDCWD) into a
 * malloc'd buffer *out with a NUL after the last byte (caller frees); *len is
 * the size. More than @max bytes is SW_ELIMIT. @flags: SW_FILE_*.
 */
int sw_file_read_at(int dirfd, const char *name, size_t max, unsigned flags, char **out,
                    size_t *len);
int sw_file_read(const char *path, size_t max, unsigned flags, char **out, size_t *len);

/** Unlink @name in @dirfd; with @sync the directory is fsync'd after it. */
int sw_file_unlink_at(int dirfd, const char *name, bool sync);
/** fsync a directory (after renames/unlinks done without @sync). */
int sw_file_sync_dir(int dirfd);

/**
 * Test seam: set the fault spec (see the file comment; NULL or "" = no
 * faults). Replaces what SW_FAULT_FS said. Returns 0 or SW_EINVAL.
 */
int sw_file_fault_set(const char *spec);

#ifdef __cplusplus
}
#endif
#endif
