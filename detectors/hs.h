/*
 * hs.h - the project's only door to Hyperscan (libhs): compile, cache, scan.
 *
 * A struct sw_hs_db is one block-mode database built from a list of patterns
 * (regexes, or literals that hs.c escapes) for one config generation. It is
 * immutable after sw_hs_db_build() and shared read-only by every worker. Each
 * worker scans with its own struct sw_hs_scratch: the setup code allocates one
 * prototype scratch grown for every database of a generation
 * (sw_hs_scratch_grow), workers clone it (sw_hs_scratch_clone) in thread_init
 * and clone the new generation's prototype again on reload.
 *
 * Compiled databases are cached on disk: the file name is a 128-bit hash of the
 * patterns (expression bytes, flags, ids), the Hyperscan version string and the
 * platform (hs_populate_platform: CPU features and tuning), so a restart with
 * unchanged rules deserializes instead of compiling. The file carries a magic,
 * the key and an XXH64 checksum of the payload; anything that does not verify
 * is ignored (counted as corrupt) and rewritten after compiling. Writes go to a
 * temporary file renamed into place, so readers never see half a file.
 *
 * Threading: build/free/grow/clone on the control or worker thread at a batch
 * boundary; sw_hs_scan is reentrant given a scratch per thread. Ownership as
 * documented per function. No third-party types leak from this header.
 */
#ifndef SW_DETECTORS_HS_H
#define SW_DETECTORS_HS_H

#include <stdbool.h>
#include <stddef.h>

#include "sw/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sw_hs_db;
struct sw_hs_scratch;

enum sw_hs_flag {
    SW_HS_CASELESS = 1u << 0,   /* ASCII case-insensitive (Unicode too with UTF8) */
    SW_HS_UTF8 = 1u << 1,       /* pattern and data are UTF-8 (with Unicode properties) */
    SW_HS_LITERAL = 1u << 2,    /* expr is a literal byte string, escaped by hs.c */
    SW_HS_WHOLE_WORD = 1u << 3, /* wrap in \b...\b (regex word boundaries) */
    SW_HS_DOTALL = 1u << 4,     /* '.' matches newlines */
    SW_HS_MULTILINE = 1u << 5,  /* ^ and $ match at newlines */
};

struct sw_hs_pattern {
    const char *expr; /* regex (NUL-terminated) or literal bytes */
    size_t len;       /* literal length; ignored for regexes (0 = strlen) */
    unsigned id;      /* reported to the match callback */
    unsigned flags;   /* enum sw_hs_flag */
};

/* What sw_hs_db_build did. */
struct sw_hs_build_info {
    bool cache_hit;     /* loaded from the cache */
    bool cache_corrupt; /* a cache file existed but failed verification */
    bool cache_written; /* a new cache file was written */
    size_t bad_index;   /* on SW_EPATTERN: index into the pattern array */
    double elapsed_ms;  /* compile or load time */
    size_t db_bytes;    /* size of the compiled database */
    char cache_path[512];
};

/**
 * Build a block-mode database from @n patterns (n >= 1). Every pattern reports
 * at most once per scan (single-match). @cache_dir may be NULL (no cache).
 * @return 0 and *out (free with sw_hs_db_free), SW_EPATTERN with @eb holding
 * Hyperscan's message and info->bad_index the offending pattern, SW_EINVAL, or
 * SW_ENOMEM. Cache trouble is never an error: it only costs a compile.
 */
int sw_hs_db_build(const struct sw_hs_pattern *pats, size_t n, const char *cache_dir,
                   struct sw_hs_db **out, struct sw_hs_build_info *info, struct sw_errbuf *eb);
void sw_hs_db_free(struct sw_hs_db *db);

/**
 * Resolve the cache directory: @configured if it exists (or can be created) and
 * is writable, else $XDG_CACHE_HOME/stanzawatch, else ${TMPDIR:-/tmp}/
 * stanzawatch-cache-$EUID, which is used only if it is ours alone: created by
 * us, or a real directory (not a symlink) owned by our euid with mode 0700.
 * Cache files are read with O_NOFOLLOW and only if owned by us and not
 * writable by others, verified (magic, key, checksum) and written through a
 * private temp file (sw_file_write_atomic).
 * Writes the chosen path into @buf. @return 0, or SW_ENOENT if none is usable.
 */
int sw_hs_cache_dir(const char *configured, char *buf, size_t cap);

/**
 * Allocate *s (when NULL) or grow it so it can scan @db. On failure *s is
 * unchanged and still valid for what it could scan before.
 * @return 0 or SW_ENOMEM/SW_EINVAL.
 */
int sw_hs_scratch_grow(struct sw_hs_scratch **s, const struct sw_hs_db *db);
/** Clone @proto into *out (caller frees). @return 0 or SW_ENOMEM. Several threads
 *  may clone one prototype concurrently. */
int sw_hs_scratch_clone(const struct sw_hs_scratch *proto, struct sw_hs_scratch **out);
void sw_hs_scratch_free(struct sw_hs_scratch *s);
/** Bytes of a scratch (for stats). */
size_t sw_hs_scratch_size(const struct sw_hs_scratch *s);

/* Match callback: @id of the pattern, end offset @to. Return nonzero to stop. */
typedef int (*sw_hs_match_fn)(unsigned id, unsigned long long to, void *ctx);

/**
 * Scan @len bytes with @db using scratch @s (one thread at a time per scratch).
 * @return 0 (including when the callback stopped the scan) or SW_EINVAL (scratch
 * too small for @db, or a Hyperscan error).
 */
int sw_hs_scan(const struct sw_hs_db *db, const char *data, size_t len, struct sw_hs_scratch *s,
               sw_hs_match_fn fn, void *ctx);

/** Hyperscan's version string (static). */
const char *sw_hs_version(void);

#ifdef __cplusplus
}
#endif
#endif
