/*
 * hs.c - Hyperscan compile, on-disk cache, scratch and scan (see hs.h).
 *
 * Design (after Suricata util-mpm-hs.c and rspamd re_cache.c):
 * - Literals are escaped byte by byte (\xHH for anything not alphanumeric) and
 *   compiled together with regexes by hs_compile_multi, so one field needs one
 *   database; whole-word patterns are wrapped in \b(?:...)\b. Every pattern
 *   gets HS_FLAG_SINGLEMATCH: a rule only needs to know it matched.
 * - Cache key = XXH3-128 over "sw-hs-cache-v1", hs_version(), the platform
 *   struct from hs_populate_platform() and each pattern's (id, flags, length,
 *   bytes). File: <dir>/<key hex>.hsdb = header {magic "SWHSDB1\n", key,
 *   payload length, XXH64(payload)} + hs_serialize_database() bytes.
 *   Verification failure of any part = corrupt: ignored and overwritten.
 * - Scratch: struct sw_hs_scratch wraps hs_scratch_t so callers see no libhs
 *   type; growth uses hs_alloc_scratch on a clone so a failure leaves the old
 *   scratch intact.
 *
 * Threading: no global state; see hs.h.
 */
#include "hs.h"

#include <errno.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>
#include <xxhash.h>

#include "sw/file.h"

#define SW_HS_MAGIC "SWHSDB1\n"

struct sw_hs_db {
    hs_database_t *db;
};

struct sw_hs_scratch {
    hs_scratch_t *s;
};

struct cache_header {
    char magic[8];
    uint64_t key_lo, key_hi;
    uint64_t payload_len;
    uint64_t payload_sum;
};

const char *sw_hs_version(void)
{
    return hs_version();
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Regex text of pattern @p (escaped literal, word boundaries) in a new string. */
static char *pattern_text(const struct sw_hs_pattern *p)
{
    size_t len = p->len != 0 ? p->len : strlen(p->expr);
    size_t cap = ((p->flags & SW_HS_LITERAL) ? len * 4 : len) + 16;
    char *s = malloc(cap);
    size_t n = 0;
    if (s == NULL) {
        return NULL;
    }
    if (p->flags & SW_HS_WHOLE_WORD) {
        memcpy(s + n, "\\b(?:", 5);
        n += 5;
    }
    if (p->flags & SW_HS_LITERAL) {
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)p->expr[i];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c >= 0x80) {
                s[n++] = (char)c; /* UTF-8 bytes stay whole so HS_FLAG_UTF8 accepts them */
            } else {
                s[n++] = '\\';
                s[n++] = 'x';
                s[n++] = hex[c >> 4];
                s[n++] = hex[c & 15];
            }
        }
    } else {
        memcpy(s + n, p->expr, len);
        n += len;
    }
    if (p->flags & SW_HS_WHOLE_WORD) {
        memcpy(s + n, ")\\b", 3);
        n += 3;
    }
    s[n] = '\0';
    return s;
}

static unsigned hs_flags_of(unsigned f)
{
    unsigned h = HS_FLAG_SINGLEMATCH;
    if (f & SW_HS_CASELESS) {
        h |= HS_FLAG_CASELESS;
    }
    if (f & SW_HS_UTF8) {
        h |= HS_FLAG_UTF8 | HS_FLAG_UCP;
    }
    if (f & SW_HS_DOTALL) {
        h |= HS_FLAG_DOTALL;
    }
    if (f & SW_HS_MULTILINE) {
        h |= HS_FLAG_MULTILINE;
    }
    return h;
}

static void cache_key(const struct sw_hs_pattern *pats, size_t n, const hs_platform_info_t *plat,
                      XXH128_hash_t *key)
{
    XXH3_state_t *st = XXH3_createState();
    static const char tag[] = "sw-hs-cache-v1";
    const char *ver = hs_version();
    if (st == NULL) {
        key->low64 = key->high64 = 0;
        return;
    }
    XXH3_128bits_reset(st);
    XXH3_128bits_update(st, tag, sizeof(tag));
    XXH3_128bits_update(st, ver, strlen(ver) + 1);
    uint64_t platw[3] = {plat->tune, plat->cpu_features, n};
    XXH3_128bits_update(st, platw, sizeof(platw));
    for (size_t i = 0; i < n; i++) {
        uint64_t len = pats[i].len != 0 ? pats[i].len : strlen(pats[i].expr);
        uint64_t w[3] = {pats[i].id, pats[i].flags, len};
        XXH3_128bits_update(st, w, sizeof(w));
        XXH3_128bits_update(st, pats[i].expr, (size_t)len);
    }
    *key = XXH3_128bits_digest(st);
    XXH3_freeState(st);
}

/* Try to load @path; 0 and *db on success, SW_ENOENT when absent, SW_EPARSE when
 * present but not valid for @key. */
static int cache_load(const char *path, const XXH128_hash_t *key, hs_database_t **db)
{
    char *buf = NULL;
    size_t len = 0;
    struct cache_header h;
    /* a cache file is ours or nothing: no symlink, our uid, not writable by others */
    int rc = sw_file_read(path, sizeof(h) + ((size_t)1 << 31), SW_FILE_NOFOLLOW | SW_FILE_OWNED,
                          &buf, &len);
    if (rc != 0) {
        return rc == SW_ENOENT ? SW_ENOENT : rc == SW_ENOMEM ? SW_ENOMEM : SW_EPARSE;
    }
    rc = SW_EPARSE;
    if (len < sizeof(h)) {
        goto fail;
    }
    memcpy(&h, buf, sizeof(h));
    if (memcmp(h.magic, SW_HS_MAGIC, 8) != 0 || h.key_lo != key->low64 || h.key_hi != key->high64 ||
        h.payload_len == 0 || h.payload_len != len - sizeof(h)) {
        goto fail;
    }
    if (XXH64(buf + sizeof(h), (size_t)h.payload_len, 0) != h.payload_sum) {
        goto fail;
    }
    if (hs_deserialize_database(buf + sizeof(h), (size_t)h.payload_len, db) != HS_SUCCESS) {
        goto fail;
    }
    rc = 0;
fail:
    free(buf);
    return rc;
}

static int cache_store(const char *path, const XXH128_hash_t *key, const hs_database_t *db)
{
    char *bytes = NULL;
    size_t len = 0;

    if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) {
        return SW_ENOMEM;
    }
    struct cache_header h = {.key_lo = key->low64,
                             .key_hi = key->high64,
                             .payload_len = len,
                             .payload_sum = XXH64(bytes, len, 0)};
    memcpy(h.magic, SW_HS_MAGIC, 8);
    struct sw_file_part parts[2] = {{&h, sizeof(h)}, {bytes, len}};
    int rc = sw_file_write_atomicv(path, parts, 2, 0600);
    free(bytes); /* hs_serialize_database uses the misc allocator: malloc by default */
    return rc;
}

/* Delete cache files not used (loaded or written) for SW_HS_CACHE_MAX_AGE
 * seconds: every rule change leaves an orphan database behind. A hit refreshes
 * the file's mtime. */
#define SW_HS_CACHE_MAX_AGE (30 * 86400)

static void cache_prune(const char *dir)
{
    char path[1024];
    time_t now = time(NULL);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        struct stat st;
        if (len != 32 + 5 || strcmp(e->d_name + 32, ".hsdb") != 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && now - st.st_mtime > SW_HS_CACHE_MAX_AGE) {
            unlink(path);
        }
    }
    closedir(d);
}

/* The shared /tmp fallback: a directory we create, or one that is already
 * ours alone (owner = euid, mode 0700, not a symlink); anything else in its
 * place (another user's directory, a symlink) disqualifies it. */
static int dir_private(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return 0;
    }
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077) != 0) {
        return 0;
    }
    return access(dir, W_OK | X_OK) == 0;
}

static int dir_usable(const char *dir)
{
    struct stat st;
    if (dir == NULL || dir[0] == '\0') {
        return 0;
    }
    if (stat(dir, &st) != 0) {
        if (mkdir(dir, 0700) != 0) {
            return 0;
        }
        if (stat(dir, &st) != 0) {
            return 0;
        }
    }
    return S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) == 0;
}

int sw_hs_cache_dir(const char *configured, char *buf, size_t cap)
{
    char cand[512];
    if (dir_usable(configured)) {
        snprintf(buf, cap, "%s", configured);
        return 0;
    }
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg != NULL && xdg[0] == '/') {
        snprintf(cand, sizeof(cand), "%s/stanzawatch", xdg);
        if (dir_usable(cand)) {
            snprintf(buf, cap, "%s", cand);
            return 0;
        }
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(cand, sizeof(cand), "%s/stanzawatch-cache-%lu",
             tmp != NULL && tmp[0] == '/' ? tmp : "/tmp", (unsigned long)geteuid());
    if (dir_private(cand)) {
        snprintf(buf, cap, "%s", cand);
        return 0;
    }
    return SW_ENOENT;
}

int sw_hs_db_build(const struct sw_hs_pattern *pats, size_t n, const char *cache_dir,
                   struct sw_hs_db **out, struct sw_hs_build_info *info, struct sw_errbuf *eb)
{
    struct sw_hs_build_info dummy;
    hs_platform_info_t plat;
    XXH128_hash_t key;
    char **exprs = NULL;
    unsigned *flags = NULL, *ids = NULL;
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    struct sw_hs_db *res = NULL;
    int rc = SW_ENOMEM;
    double t0 = now_ms();

    if (info == NULL) {
        info = &dummy;
    }
    memset(info, 0, sizeof(*info));
    *out = NULL;
    if (n == 0 || n > UINT32_MAX) {
        return sw_errbuf_set(eb, SW_EINVAL, "no patterns to compile");
    }
    if (hs_populate_platform(&plat) != HS_SUCCESS) {
        memset(&plat, 0, sizeof(plat));
    }
    if (cache_dir != NULL) {
        cache_key(pats, n, &plat, &key);
        snprintf(info->cache_path, sizeof(info->cache_path), "%s/%016llx%016llx.hsdb", cache_dir,
                 (unsigned long long)key.high64, (unsigned long long)key.low64);
        int lrc = cache_load(info->cache_path, &key, &db);
        if (lrc == 0) {
            info->cache_hit = true;
            utime(info->cache_path, NULL); /* in use: keep it from pruning */
            goto done;
        }
        info->cache_corrupt = lrc != SW_ENOENT;
    }

    exprs = calloc(n, sizeof(*exprs));
    flags = calloc(n, sizeof(*flags));
    ids = calloc(n, sizeof(*ids));
    if (exprs == NULL || flags == NULL || ids == NULL) {
        sw_errbuf_set(eb, SW_ENOMEM, "out of memory compiling %zu patterns", n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        exprs[i] = pattern_text(&pats[i]);
        if (exprs[i] == NULL) {
            sw_errbuf_set(eb, SW_ENOMEM, "out of memory compiling %zu patterns", n);
            goto fail;
        }
        flags[i] = hs_flags_of(pats[i].flags);
        ids[i] = pats[i].id;
    }
    if (hs_compile_multi((const char *const *)exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, &plat,
                         &db, &cerr) != HS_SUCCESS) {
        if (cerr != NULL && cerr->expression >= 0) {
            info->bad_index = (size_t)cerr->expression;
            rc = sw_errbuf_set(eb, SW_EPATTERN, "%s", cerr->message);
        } else {
            rc = sw_errbuf_set(eb, SW_EPATTERN, "hyperscan: %s",
                               cerr != NULL ? cerr->message : "compile failed");
        }
        goto fail;
    }
    if (cache_dir != NULL && cache_store(info->cache_path, &key, db) == 0) {
        info->cache_written = true;
        cache_prune(cache_dir);
    }
done:
    res = malloc(sizeof(*res));
    if (res == NULL) {
        sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
        goto fail;
    }
    res->db = db;
    db = NULL;
    hs_database_size(res->db, &info->db_bytes);
    info->elapsed_ms = now_ms() - t0;
    *out = res;
    rc = 0;
fail:
    if (cerr != NULL) {
        hs_free_compile_error(cerr);
    }
    if (db != NULL) {
        hs_free_database(db);
    }
    if (exprs != NULL) {
        for (size_t i = 0; i < n; i++) {
            free(exprs[i]);
        }
    }
    free(exprs);
    free(flags);
    free(ids);
    return rc;
}

void sw_hs_db_free(struct sw_hs_db *db)
{
    if (db == NULL) {
        return;
    }
    hs_free_database(db->db);
    free(db);
}

int sw_hs_scratch_grow(struct sw_hs_scratch **s, const struct sw_hs_db *db)
{
    if (db == NULL) {
        return SW_EINVAL;
    }
    if (*s == NULL) {
        struct sw_hs_scratch *ns = calloc(1, sizeof(*ns));
        if (ns == NULL) {
            return SW_ENOMEM;
        }
        if (hs_alloc_scratch(db->db, &ns->s) != HS_SUCCESS) {
            free(ns);
            return SW_ENOMEM;
        }
        *s = ns;
        return 0;
    }
    /* Grow a clone so failure leaves the original usable. */
    hs_scratch_t *c = NULL;
    if (hs_clone_scratch((*s)->s, &c) != HS_SUCCESS) {
        return SW_ENOMEM;
    }
    if (hs_alloc_scratch(db->db, &c) != HS_SUCCESS) {
        hs_free_scratch(c);
        return SW_ENOMEM;
    }
    hs_free_scratch((*s)->s);
    (*s)->s = c;
    return 0;
}

int sw_hs_scratch_clone(const struct sw_hs_scratch *proto, struct sw_hs_scratch **out)
{
    struct sw_hs_scratch *ns = calloc(1, sizeof(*ns));
    if (ns == NULL) {
        return SW_ENOMEM;
    }
    if (hs_clone_scratch(proto->s, &ns->s) != HS_SUCCESS) {
        free(ns);
        return SW_ENOMEM;
    }
    *out = ns;
    return 0;
}

void sw_hs_scratch_free(struct sw_hs_scratch *s)
{
    if (s == NULL) {
        return;
    }
    hs_free_scratch(s->s);
    free(s);
}

size_t sw_hs_scratch_size(const struct sw_hs_scratch *s)
{
    size_t sz = 0;
    if (s != NULL && hs_scratch_size(s->s, &sz) != HS_SUCCESS) {
        sz = 0;
    }
    return sz;
}

struct scan_ctx {
    sw_hs_match_fn fn;
    void *ctx;
};

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx)
{
    (void)from;
    (void)flags;
    struct scan_ctx *sc = ctx;
    return sc->fn(id, to, sc->ctx);
}

int sw_hs_scan(const struct sw_hs_db *db, const char *data, size_t len, struct sw_hs_scratch *s,
               sw_hs_match_fn fn, void *ctx)
{
    struct scan_ctx sc = {fn, ctx};
    if (len > UINT32_MAX) {
        len = UINT32_MAX;
    }
    hs_error_t e = hs_scan(db->db, data, (unsigned)len, 0, s->s, on_match, &sc);
    return (e == HS_SUCCESS || e == HS_SCAN_TERMINATED) ? 0 : SW_EINVAL;
}
