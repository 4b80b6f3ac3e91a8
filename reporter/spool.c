/*
 * spool.c - durable outbound spool of XEP-0268 reports.
 *
 * Design:
 * - Group commit off the caller's thread. sw_spool_put() (the aggregator
 *   thread) only copies the record into an in-memory queue and signals the
 *   spool's writer thread; it never touches the disk. The writer takes every
 *   queued record (up to SPOOL_BATCH_BYTES), writes them as one batch file
 *   with sw_file_write_atomic_at (write all, fsync, rename, fsync directory:
 *   one fsync pair for many reports) and only then indexes them for sending.
 *   So a report is durable before it is ever sent; a kill -9 loses only
 *   records still queued, which the caller was never told were stored
 *   (sw_spool_flush says when they are).
 * - A failed commit (ENOSPC, EIO) drops nothing: the records go back to the
 *   head of the queue and are retried with backoff (100 ms doubling to 5 s),
 *   counted (write_errors, enospc) and alarmed (an error line at most every
 *   10 s). The queue is bounded (SPOOL_MAX_QUEUE bytes): a put beyond it is
 *   refused with SW_ENOSPC/SW_ELIMIT, counted as dropped and logged.
 * - Batch file "<file seq:16 hex>.spl": "SWSPOOL2\n", then per record
 *   "R <seq> <key> <rev> <created ms> <peer len> <id len> <payload len>\n"
 *   + peer + incident id + payload + "\n", then "E <records> <hash>\n" where
 *   hash = sw_hash64 of everything before the E line. Files from the one-file-
 *   per-report format ("*.rep", "SWSPOOL1") still load. Unreadable files are
 *   set aside as *.bad; stale temp files are deleted on open.
 * - Index (all O(1) or O(log n), never a scan of the entries on put/ack/next):
 *   entries in an array with a free list; a hash map from (peer, incident)
 *   key to its newest entry (a newer revision supersedes a pending older one,
 *   so a peer down for hours gets the latest state once); a hash map from iq
 *   id to entry; a ready heap by seq (send order), a delayed heap by due time
 *   (backoff) and an in-flight heap by deadline. Heaps are lazy: an item
 *   whose entry generation changed is skipped. Each batch file has a live
 *   count; when its last record is acked, superseded or expired, the file is
 *   unlinked and the directory fsync'd. Acks are not journalled: after a
 *   restart, acked records of a batch that still holds pending ones are sent
 *   again (harmless, peers key incidents by IncidentID; batches are small
 *   unless a raid produced many reports at once).
 * - iq ids are 128 random bits, fresh per send; an ack or error counts only
 *   for an entry in flight and only from the peer it was sent to.
 * - Peers: sw_spool_set_peers() names the configured peers; entries for any
 *   other peer are held (kept on disk, not sent, counted, logged once per peer)
 *   and resume if the peer comes back.
 * - Expiry: an entry older than the expiry (sw_spool_set_expiry, 0 = never)
 *   when it comes up for sending is deleted, counted and logged.
 *
 * Threading: `qmu` guards the write queue (the only lock sw_spool_put takes,
 * held for a pointer swap); `mu` guards the index (reporter thread and the
 * writer's hand-over). Lock order: mu before qmu is never needed; each is
 * taken alone.
 */
#include "sw/reporter.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sw/file.h"
#include "sw/log.h"

#define SPOOL_MAGIC "SWSPOOL2\n"
#define SPOOL_MAGIC1 "SWSPOOL1\n"
#define SPOOL_MAX_FILE ((size_t)64 << 20) /* read cap of one spool file */
#define SPOOL_MAX_RECORD ((size_t)16 << 20)
#define SPOOL_BATCH_BYTES ((size_t)4 << 20) /* one commit writes at most this (or one record) */
#define SPOOL_MAX_QUEUE ((size_t)64 << 20)  /* bytes waiting for a commit */
#define REC_FMT "R %016" PRIx64 " %016" PRIx64 " %08" PRIx32 " %" PRId64 " %zu %zu %zu\n"
#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
#define ALARM_EVERY_MS 10000

enum { S_FREE = 0, S_READY, S_FLIGHT, S_HELD };

struct qrec {
    struct qrec *next;
    uint64_t seq, key;
    uint32_t rev;
    int64_t created_ms;
    size_t peer_len, id_len, plen;
    char data[]; /* peer, incident id, payload */
};

struct entry {
    uint64_t seq, key;
    uint32_t rev, gen;
    uint32_t file, peer;
    uint8_t state;
    int64_t created_ms, due_ms, backoff_ms;
    uint64_t off; /* payload offset in the file */
    uint32_t len;
    uint64_t id_hash;
    char iq[33];
};

struct sfile {
    char name[40]; /* "" = free slot */
    uint32_t live;
};

struct speer {
    char *jid;
    bool allowed;
    bool held_logged;
};

struct hmap {
    uint64_t *k; /* 0 = empty, 1 = deleted */
    uint32_t *v;
    size_t cap, used; /* used counts deleted slots too */
};

struct hitem {
    int64_t k1;
    uint64_t k2;
    uint32_t idx, gen;
};

struct heap {
    struct hitem *a;
    size_t n, cap;
};

struct sw_spool {
    /* index, guarded by mu */
    pthread_mutex_t mu;
    int dirfd;
    char *dir;
    int64_t retry_min_ms, retry_max_ms, expire_ms;
    struct entry *e;
    size_t n_e, cap_e;
    uint32_t free_e; /* UINT32_MAX = none; chained through file */
    struct sfile *f;
    size_t n_f, cap_f;
    struct speer *peers;
    size_t n_peers;
    bool peers_set;
    struct hmap by_key, by_id;
    struct heap ready, delayed, flight;
    size_t n_live, n_flight, n_held;
    uint64_t next_file;
    struct sw_spool_stats st;

    /* write queue, guarded by qmu */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;    /* writer waits for work */
    pthread_cond_t donecv; /* flush waits for commits */
    struct qrec *qhead, **qtail;
    size_t q_n, q_bytes;
    bool committing, stop;
    int last_commit_rc;
    uint64_t next_seq;
    int64_t last_alarm_ms;
    uint64_t dropped, q_write_errors, q_enospc, commits;
    pthread_t writer;
    bool writer_started;
};

/* ---- small containers ------------------------------------------------------ */

static uint64_t fix_key(uint64_t k)
{
    return k < 2 ? k + 2 : k;
}

static int hmap_grow(struct hmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *k = calloc(cap, sizeof(*k));
    uint32_t *v = calloc(cap, sizeof(*v));
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        return SW_ENOMEM;
    }
    size_t used = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->k[i] >= 2) {
            size_t j = m->k[i] & (cap - 1);
            while (k[j] != 0) {
                j = (j + 1) & (cap - 1);
            }
            k[j] = m->k[i];
            v[j] = m->v[i];
            used++;
        }
    }
    free(m->k);
    free(m->v);
    m->k = k;
    m->v = v;
    m->cap = cap;
    m->used = used;
    return 0;
}

/* Slot of @key, or SIZE_MAX. */
static size_t hmap_find(const struct hmap *m, uint64_t key)
{
    key = fix_key(key);
    if (m->cap == 0) {
        return SIZE_MAX;
    }
    for (size_t j = key & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        if (m->k[j] == 0) {
            return SIZE_MAX;
        }
        if (m->k[j] == key) {
            return j;
        }
    }
}

static int hmap_put(struct hmap *m, uint64_t key, uint32_t v)
{
    size_t j = hmap_find(m, key);
    if (j != SIZE_MAX) {
        m->v[j] = v;
        return 0;
    }
    if ((m->used + 1) * 4 > m->cap * 3) {
        int rc = hmap_grow(m);
        if (rc != 0) {
            return rc;
        }
    }
    key = fix_key(key);
    for (j = key & (m->cap - 1); m->k[j] >= 2; j = (j + 1) & (m->cap - 1)) {
    }
    if (m->k[j] == 0) {
        m->used++;
    }
    m->k[j] = key;
    m->v[j] = v;
    return 0;
}

static void hmap_del(struct hmap *m, uint64_t key, uint32_t v)
{
    size_t j = hmap_find(m, key);
    if (j != SIZE_MAX && m->v[j] == v) {
        m->k[j] = 1;
    }
}

static bool hless(const struct hitem *a, const struct hitem *b)
{
    return a->k1 < b->k1 || (a->k1 == b->k1 && a->k2 < b->k2);
}

static int heap_push(struct heap *h, int64_t k1, uint64_t k2, uint32_t idx, uint32_t gen)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        struct hitem *a = realloc(h->a, cap * sizeof(*a));
        if (a == NULL) {
            return SW_ENOMEM;
        }
        h->a = a;
        h->cap = cap;
    }
    size_t i = h->n++;
    struct hitem it = {k1, k2, idx, gen};
    while (i > 0 && hless(&it, &h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = it;
    return 0;
}

static void heap_pop(struct heap *h)
{
    struct hitem last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) {
            break;
        }
        if (c + 1 < h->n && hless(&h->a[c + 1], &h->a[c])) {
            c++;
        }
        if (!hless(&h->a[c], &last)) {
            break;
        }
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n > 0) {
        h->a[i] = last;
    }
}

/* ---- index ------------------------------------------------------------------ */

static uint64_t entry_key(const char *peer, size_t pl, const char *id, size_t il)
{
    char buf[SW_JID_TEXT + 512];
    size_t n = 0;
    memcpy(buf, peer, pl < SW_JID_TEXT ? pl : SW_JID_TEXT);
    n = pl < SW_JID_TEXT ? pl : SW_JID_TEXT;
    buf[n++] = '\n';
    size_t take = il < 511 ? il : 511;
    memcpy(buf + n, id, take);
    return sw_hash64(buf, n + take);
}

static uint32_t peer_index(struct sw_spool *sp, const char *jid, size_t len)
{
    for (size_t i = 0; i < sp->n_peers; i++) {
        if (strlen(sp->peers[i].jid) == len && memcmp(sp->peers[i].jid, jid, len) == 0) {
            return (uint32_t)i;
        }
    }
    struct speer *p = realloc(sp->peers, (sp->n_peers + 1) * sizeof(*p));
    if (p == NULL) {
        return UINT32_MAX;
    }
    sp->peers = p;
    char *s = malloc(len + 1);
    if (s == NULL) {
        return UINT32_MAX;
    }
    memcpy(s, jid, len);
    s[len] = '\0';
    p[sp->n_peers].jid = s;
    p[sp->n_peers].allowed = !sp->peers_set;
    p[sp->n_peers].held_logged = false;
    return (uint32_t)sp->n_peers++;
}

static uint32_t file_new(struct sw_spool *sp, const char *name)
{
    for (size_t i = 0; i < sp->n_f; i++) {
        if (sp->f[i].name[0] == '\0') {
            snprintf(sp->f[i].name, sizeof(sp->f[i].name), "%s", name);
            sp->f[i].live = 0;
            return (uint32_t)i;
        }
    }
    if (sp->n_f == sp->cap_f) {
        size_t cap = sp->cap_f ? sp->cap_f * 2 : 64;
        struct sfile *f = realloc(sp->f, cap * sizeof(*f));
        if (f == NULL) {
            return UINT32_MAX;
        }
        sp->f = f;
        sp->cap_f = cap;
    }
    snprintf(sp->f[sp->n_f].name, sizeof(sp->f[0].name), "%s", name);
    sp->f[sp->n_f].live = 0;
    return (uint32_t)sp->n_f++;
}

static void file_release(struct sw_spool *sp, uint32_t fi)
{
    struct sfile *f = &sp->f[fi];
    if (--f->live > 0) {
        return;
    }
    int rc = sw_file_unlink_at(sp->dirfd, f->name, true);
    if (rc != 0 && rc != SW_ENOENT) {
        sw_log_warn("spool", "%s/%s: unlink: %s", sp->dir, f->name, strerror(errno));
    }
    f->name[0] = '\0';
}

static uint32_t entry_alloc(struct sw_spool *sp)
{
    if (sp->free_e != UINT32_MAX) {
        uint32_t i = sp->free_e;
        sp->free_e = sp->e[i].file;
        return i;
    }
    if (sp->n_e == sp->cap_e) {
        size_t cap = sp->cap_e ? sp->cap_e * 2 : 256;
        struct entry *e = realloc(sp->e, cap * sizeof(*e));
        if (e == NULL) {
            return UINT32_MAX;
        }
        sp->e = e;
        sp->cap_e = cap;
    }
    sp->e[sp->n_e].gen = 0;
    return (uint32_t)sp->n_e++;
}

static void set_state(struct sw_spool *sp, struct entry *e, uint8_t s)
{
    if (e->state == S_FLIGHT) {
        sp->n_flight--;
    } else if (e->state == S_HELD) {
        sp->n_held--;
    }
    if (s == S_FLIGHT) {
        sp->n_flight++;
    } else if (s == S_HELD) {
        sp->n_held++;
    }
    e->state = s;
    e->gen++;
}

static void entry_remove(struct sw_spool *sp, uint32_t i)
{
    struct entry *e = &sp->e[i];
    set_state(sp, e, S_FREE);
    hmap_del(&sp->by_key, e->key, i);
    if (e->id_hash != 0) {
        hmap_del(&sp->by_id, e->id_hash, i);
    }
    file_release(sp, e->file);
    sp->n_live--;
    e->file = sp->free_e;
    sp->free_e = i;
}

static int make_ready(struct sw_spool *sp, uint32_t i, int64_t due_ms)
{
    struct entry *e = &sp->e[i];
    set_state(sp, e, S_READY);
    e->due_ms = due_ms;
    if (due_ms > INT64_MIN / 2) {
        return heap_push(&sp->delayed, due_ms, e->seq, i, e->gen);
    }
    return heap_push(&sp->ready, 0, e->seq, i, e->gen);
}

/* Index one committed record (file @fi). Supersedes older pending revisions. */
static int index_record(struct sw_spool *sp, uint32_t fi, uint64_t seq, uint64_t key, uint32_t rev,
                        int64_t created_ms, const char *peer, size_t peer_len, uint64_t off,
                        size_t len)
{
    uint32_t pi = peer_index(sp, peer, peer_len);
    uint32_t i = pi == UINT32_MAX ? UINT32_MAX : entry_alloc(sp);
    if (i == UINT32_MAX) {
        return SW_ENOMEM;
    }
    struct entry *e = &sp->e[i];
    uint32_t gen = e->gen;
    memset(e, 0, sizeof(*e));
    e->gen = gen;
    e->seq = seq;
    e->key = key;
    e->rev = rev;
    e->file = fi;
    e->peer = pi;
    e->created_ms = created_ms;
    e->off = off;
    e->len = (uint32_t)len;
    e->state = S_FREE;
    sp->f[fi].live++;
    sp->n_live++;
    size_t slot = hmap_find(&sp->by_key, key);
    if (slot != SIZE_MAX) {
        uint32_t oi = sp->by_key.v[slot];
        struct entry *o = &sp->e[oi];
        if (o->peer == pi && o->seq > seq) {
            /* an older record than the one we have (load order): drop it */
            entry_remove(sp, i);
            sp->st.superseded++;
            return 0;
        }
        if (o->peer == pi && o->state != S_FLIGHT) {
            entry_remove(sp, oi);
            sp->st.superseded++;
        }
    }
    int rc = hmap_put(&sp->by_key, key, i);
    if (rc == 0) {
        rc = make_ready(sp, i, INT64_MIN);
    }
    return rc;
}

/* ---- batch files ------------------------------------------------------------- */

static void quarantine(struct sw_spool *sp, const char *name)
{
    char bad[300];
    snprintf(bad, sizeof(bad), "%s.bad", name);
    if (renameat(sp->dirfd, name, sp->dirfd, bad) != 0) {
        unlinkat(sp->dirfd, name, 0);
    }
    sw_file_sync_dir(sp->dirfd);
    sw_log_error("spool", "%s/%s: unreadable spool file set aside as %s", sp->dir, name, bad);
}

/* Parse a batch file image; index its records (file slot @fi). SW_EPARSE if torn. */
static int load_batch(struct sw_spool *sp, uint32_t fi, const char *b, size_t len)
{
    size_t ml = strlen(SPOOL_MAGIC);
    if (len < ml || memcmp(b, SPOOL_MAGIC, ml) != 0) {
        return SW_EPARSE;
    }
    /* verify the trailer first: nothing of a torn file is indexed */
    if (len < 2 || b[len - 1] != '\n') {
        return SW_EPARSE;
    }
    const char *el = b + len - 1;
    while (el > b && el[-1] != '\n') {
        el--;
    }
    unsigned long long nrec, hash;
    if (el[0] != 'E' || sscanf(el, "E %llu %llx", &nrec, &hash) != 2 ||
        sw_hash64(b, (size_t)(el - b)) != hash) {
        return SW_EPARSE;
    }
    const char *p = b + ml;
    unsigned long long got = 0;
    while (p < el) {
        /* hand-parsed: sscanf would strlen() the rest of the file per record */
        uint64_t f[7];
        const char *q = p;
        if (*q++ != 'R') {
            return SW_EPARSE;
        }
        for (int k = 0; k < 7; k++) {
            char *end;
            if (*q++ != ' ' || !((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f'))) {
                return SW_EPARSE;
            }
            errno = 0;
            f[k] = strtoull(q, &end, k < 3 ? 16 : 10);
            if (errno != 0 || end == q) {
                return SW_EPARSE;
            }
            q = end;
        }
        if (*q++ != '\n') {
            return SW_EPARSE;
        }
        size_t pl = (size_t)f[4], il = (size_t)f[5], plen = (size_t)f[6];
        const char *peer = q;
        if (f[4] >= SW_JID_TEXT || f[5] > SPOOL_MAX_FILE || f[6] > SPOOL_MAX_FILE || pl == 0 ||
            (size_t)(el - peer) < pl + il + plen + 1 || f[2] > UINT32_MAX) {
            return SW_EPARSE;
        }
        int rc = index_record(sp, fi, f[0], f[1], (uint32_t)f[2], (int64_t)f[3], peer, pl,
                              (uint64_t)(peer + pl + il - b), plen);
        if (rc != 0) {
            return rc;
        }
        if (f[0] >= sp->next_seq) {
            sp->next_seq = f[0] + 1;
        }
        p = peer + pl + il + plen + 1;
        got++;
    }
    return got == nrec ? 0 : SW_EPARSE;
}

/* The previous one-file-per-report format: "SWSPOOL1\n<peer>\n<id>\n<payload>". */
static int load_legacy(struct sw_spool *sp, uint32_t fi, const char *name, const char *b,
                       size_t len, int64_t mtime_ms)
{
    unsigned long long seq, key;
    unsigned rev;
    size_t ml = strlen(SPOOL_MAGIC1);
    if (sscanf(name, "%16llx-%16llx-%8x", &seq, &key, &rev) != 3 || len < ml ||
        memcmp(b, SPOOL_MAGIC1, ml) != 0) {
        return SW_EPARSE;
    }
    const char *peer = b + ml;
    const char *nl = memchr(peer, '\n', len - ml);
    const char *nl2 = nl ? memchr(nl + 1, '\n', len - (size_t)(nl + 1 - b)) : NULL;
    if (nl == NULL || nl2 == NULL || nl == peer || (size_t)(nl - peer) >= SW_JID_TEXT) {
        return SW_EPARSE;
    }
    if (seq >= sp->next_seq) {
        sp->next_seq = seq + 1;
    }
    uint64_t k = entry_key(peer, (size_t)(nl - peer), nl + 1, (size_t)(nl2 - nl - 1));
    return index_record(sp, fi, seq, k, rev, mtime_ms, peer, (size_t)(nl - peer),
                        (uint64_t)(nl2 + 1 - b), len - (size_t)(nl2 + 1 - b));
}

static int load(struct sw_spool *sp, struct sw_errbuf *eb)
{
    int fd = dup(sp->dirfd);
    if (fd < 0) {
        return sw_errbuf_set(eb, SW_EIO, "spool %s: dup: %s", sp->dir, strerror(errno));
    }
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return sw_errbuf_set(eb, SW_EIO, "spool %s: opendir: %s", sp->dir, strerror(errno));
    }
    rewinddir(d);
    struct dirent *de;
    int rc = 0;
    bool unlinked = false;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        size_t nl = strlen(nm);
        if (strncmp(nm, ".tmp-", 5) == 0) {
            unlinkat(sp->dirfd, nm, 0); /* never committed */
            unlinked = true;
            continue;
        }
        bool batch = nl == 16 + 4 && strcmp(nm + 16, ".spl") == 0;
        bool legacy = nl == 16 + 1 + 16 + 1 + 8 + 4 && strcmp(nm + nl - 4, ".rep") == 0;
        if (!batch && !legacy) {
            continue;
        }
        char *b = NULL;
        size_t len = 0;
        struct stat st;
        int r = sw_file_read_at(sp->dirfd, nm, SPOOL_MAX_FILE, SW_FILE_NOFOLLOW, &b, &len);
        uint32_t fi = r == 0 ? file_new(sp, nm) : UINT32_MAX;
        if (r == 0 && fi == UINT32_MAX) {
            r = SW_ENOMEM;
        }
        if (fi != UINT32_MAX) {
            sp->f[fi].live = 1; /* held while loading: a superseded record cannot unlink it */
        }
        if (r == 0 && batch) {
            unsigned long long fseq = strtoull(nm, NULL, 16);
            if (fseq >= sp->next_file) {
                sp->next_file = fseq + 1;
            }
            r = load_batch(sp, fi, b, len);
        } else if (r == 0) {
            int64_t mt = fstatat(sp->dirfd, nm, &st, 0) == 0 ? (int64_t)st.st_mtime * 1000 : 0;
            r = load_legacy(sp, fi, nm, b, len, mt);
        }
        free(b);
        if (r == SW_ENOMEM) {
            rc = r;
            break;
        }
        if (r != 0) {
            /* a torn or foreign file: nothing of it may stay indexed (the
             * trailer is checked first, so this scan runs only for a file
             * that is well-formed yet wrong: rare) */
            for (size_t i = 0; fi != UINT32_MAX && i < sp->n_e; i++) {
                if (sp->e[i].state != S_FREE && sp->e[i].file == fi) {
                    entry_remove(sp, (uint32_t)i); /* live stays >= 1: no unlink */
                }
            }
            if (fi != UINT32_MAX) {
                sp->f[fi].name[0] = '\0';
                sp->f[fi].live = 0;
            }
            quarantine(sp, nm);
            continue;
        }
        file_release(sp, fi); /* unlinks it if everything in it was superseded */
    }
    closedir(d);
    if (unlinked) {
        sw_file_sync_dir(sp->dirfd);
    }
    if (rc != 0) {
        return sw_errbuf_set(eb, rc, "spool %s: out of memory", sp->dir);
    }
    return 0;
}

/* ---- writer thread (group commit) -------------------------------------------- */

static void alarm_locked(struct sw_spool *sp, int rc, size_t n)
{
    int64_t now = sw_wall_ms();
    if (now - sp->last_alarm_ms < ALARM_EVERY_MS) {
        return;
    }
    sp->last_alarm_ms = now;
    sw_log_error("spool",
                 "%s: cannot store %zu report(s): %s; kept in memory (%zu bytes queued), "
                 "retrying",
                 sp->dir, n, sw_strerror(rc), sp->q_bytes);
}

/* Commit @list (n records, first..last in seq order) as one batch file. */
static int commit(struct sw_spool *sp, struct qrec *list, size_t bytes)
{
    size_t cap = strlen(SPOOL_MAGIC) + bytes + 128;
    for (struct qrec *q = list; q; q = q->next) {
        cap += 128;
    }
    char *b = malloc(cap);
    if (b == NULL) {
        return SW_ENOMEM;
    }
    size_t o = strlen(SPOOL_MAGIC);
    memcpy(b, SPOOL_MAGIC, o);
    size_t nrec = 0;
    for (struct qrec *q = list; q; q = q->next) {
        o += (size_t)snprintf(b + o, cap - o, REC_FMT, q->seq, q->key, q->rev, q->created_ms,
                              q->peer_len, q->id_len, q->plen);
        size_t dl = q->peer_len + q->id_len + q->plen;
        memcpy(b + o, q->data, dl);
        o += dl;
        b[o++] = '\n';
        nrec++;
    }
    uint64_t h = sw_hash64(b, o);
    o += (size_t)snprintf(b + o, cap - o, "E %zu %016" PRIx64 "\n", nrec, h);

    char name[40];
    pthread_mutex_lock(&sp->mu);
    uint64_t fseq = sp->next_file++;
    pthread_mutex_unlock(&sp->mu);
    snprintf(name, sizeof(name), "%016" PRIx64 ".spl", fseq);
    struct sw_file_part part = {b, o};
    int rc = sw_file_write_atomic_at(sp->dirfd, name, &part, 1, 0600);
    if (rc != 0) {
        free(b);
        return rc;
    }
    /* durable: index for sending */
    pthread_mutex_lock(&sp->mu);
    uint32_t fi = file_new(sp, name);
    if (fi == UINT32_MAX) {
        rc = SW_ENOMEM;
    } else {
        sp->f[fi].live = 1; /* held while indexing so supersede cannot unlink it */
        size_t off = strlen(SPOOL_MAGIC);
        for (struct qrec *q = list; q && rc == 0; q = q->next) {
            int hl = snprintf(NULL, 0, REC_FMT, q->seq, q->key, q->rev, q->created_ms, q->peer_len,
                              q->id_len, q->plen);
            off += (size_t)hl;
            rc = index_record(sp, fi, q->seq, q->key, q->rev, q->created_ms, q->data, q->peer_len,
                              off + q->peer_len + q->id_len, q->plen);
            off += q->peer_len + q->id_len + q->plen + 1;
            sp->st.put++;
        }
        file_release(sp, fi);
    }
    pthread_mutex_unlock(&sp->mu);
    free(b);
    if (rc != 0) {
        /* on disk but not indexed (out of memory): the next start sends it */
        sw_log_error("spool", "%s/%s: stored but not indexed: %s", sp->dir, name, sw_strerror(rc));
        return 0;
    }
    return 0;
}

static void *writer_main(void *arg)
{
    struct sw_spool *sp = arg;
    int64_t retry_ms = 0;
    pthread_mutex_lock(&sp->qmu);
    for (;;) {
        while (sp->qhead == NULL && !sp->stop) {
            pthread_cond_wait(&sp->qcv, &sp->qmu);
        }
        if (sp->qhead == NULL) {
            break; /* stopped, nothing left */
        }
        /* take up to SPOOL_BATCH_BYTES (at least one record) */
        struct qrec *list = sp->qhead, *last = list;
        size_t bytes = last->peer_len + last->id_len + last->plen, n = 1;
        while (last->next != NULL) {
            size_t nb = last->next->peer_len + last->next->id_len + last->next->plen;
            if (bytes + nb > SPOOL_BATCH_BYTES) {
                break;
            }
            last = last->next;
            bytes += nb;
            n++;
        }
        sp->qhead = last->next;
        if (sp->qhead == NULL) {
            sp->qtail = &sp->qhead;
        }
        last->next = NULL;
        sp->committing = true;
        pthread_mutex_unlock(&sp->qmu);

        int rc = commit(sp, list, bytes);

        pthread_mutex_lock(&sp->qmu);
        sp->committing = false;
        sp->last_commit_rc = rc;
        if (rc == 0) {
            sp->commits++;
            sp->q_n -= n;
            for (struct qrec *q = list; q;) {
                struct qrec *nx = q->next;
                sp->q_bytes -= sizeof(*q) + q->peer_len + q->id_len + q->plen;
                free(q);
                q = nx;
            }
            retry_ms = 0;
            pthread_cond_broadcast(&sp->donecv);
            continue;
        }
        /* keep every record, in order, at the head of the queue */
        last->next = sp->qhead;
        if (sp->qhead == NULL) {
            sp->qtail = &last->next;
        }
        sp->qhead = list;
        sp->q_write_errors++;
        if (rc == SW_ENOSPC) {
            sp->q_enospc++;
        }
        alarm_locked(sp, rc, sp->q_n);
        pthread_cond_broadcast(&sp->donecv);
        if (sp->stop) {
            break;
        }
        retry_ms = retry_ms ? retry_ms * 2 : RETRY_MIN_MS;
        if (retry_ms > RETRY_MAX_MS) {
            retry_ms = RETRY_MAX_MS;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += retry_ms / 1000;
        ts.tv_nsec += (retry_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!sp->stop && pthread_cond_timedwait(&sp->qcv, &sp->qmu, &ts) == 0) {
        }
    }
    if (sp->qhead != NULL) {
        sw_log_error("spool", "%s: %zu report(s) could not be stored before exit: %s", sp->dir,
                     sp->q_n, sw_strerror(sp->last_commit_rc));
    }
    pthread_mutex_unlock(&sp->qmu);
    return NULL;
}

/* ---- public ------------------------------------------------------------------ */

int sw_spool_open(const char *dir, int64_t retry_min_ms, int64_t retry_max_ms,
                  struct sw_spool **out, struct sw_errbuf *eb)
{
    struct sw_spool *sp = calloc(1, sizeof(*sp));
    int rc;
    if (sp == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "spool: out of memory");
    }
    sp->dirfd = -1;
    pthread_mutex_init(&sp->mu, NULL);
    pthread_mutex_init(&sp->qmu, NULL);
    pthread_cond_init(&sp->qcv, NULL);
    pthread_cond_init(&sp->donecv, NULL);
    sp->qtail = &sp->qhead;
    sp->free_e = UINT32_MAX;
    sp->dir = strdup(dir);
    sp->retry_min_ms = retry_min_ms > 0 ? retry_min_ms : 1000;
    sp->retry_max_ms = retry_max_ms >= sp->retry_min_ms ? retry_max_ms : sp->retry_min_ms;
    sp->next_seq = 1;
    sp->next_file = 1;
    sp->last_alarm_ms = INT64_MIN / 2;
    if (sp->dir == NULL) {
        rc = sw_errbuf_set(eb, SW_ENOMEM, "spool: out of memory");
        goto fail;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = sw_errbuf_set(eb, SW_EIO, "spool %s: mkdir: %s", dir, strerror(errno));
        goto fail;
    }
    sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sp->dirfd < 0) {
        rc = sw_errbuf_set(eb, SW_EIO, "spool %s: open: %s", dir, strerror(errno));
        goto fail;
    }
    if ((rc = load(sp, eb)) != 0) {
        goto fail;
    }
    if (pthread_create(&sp->writer, NULL, writer_main, sp) != 0) {
        rc = sw_errbuf_set(eb, SW_ENOMEM, "spool %s: cannot start the writer thread", dir);
        goto fail;
    }
    sp->writer_started = true;
    if (sp->n_live > 0) {
        sw_log_info("spool", "%s: resuming %zu pending report(s)", dir, sp->n_live);
    }
    *out = sp;
    return 0;
fail:
    sw_spool_free(sp);
    return rc;
}

void sw_spool_free(struct sw_spool *sp)
{
    if (sp == NULL) {
        return;
    }
    if (sp->writer_started) {
        pthread_mutex_lock(&sp->qmu);
        sp->stop = true;
        pthread_cond_broadcast(&sp->qcv);
        pthread_mutex_unlock(&sp->qmu);
        pthread_join(sp->writer, NULL);
    }
    for (struct qrec *q = sp->qhead; q;) {
        struct qrec *nx = q->next;
        free(q);
        q = nx;
    }
    if (sp->dirfd >= 0) {
        close(sp->dirfd);
    }
    pthread_mutex_destroy(&sp->mu);
    pthread_mutex_destroy(&sp->qmu);
    pthread_cond_destroy(&sp->qcv);
    pthread_cond_destroy(&sp->donecv);
    for (size_t i = 0; i < sp->n_peers; i++) {
        free(sp->peers[i].jid);
    }
    free(sp->peers);
    free(sp->e);
    free(sp->f);
    free(sp->by_key.k);
    free(sp->by_key.v);
    free(sp->by_id.k);
    free(sp->by_id.v);
    free(sp->ready.a);
    free(sp->delayed.a);
    free(sp->flight.a);
    free(sp->dir);
    free(sp);
}

int sw_spool_put(struct sw_spool *sp, const char *peer, const char *incident_id, uint32_t rev,
                 const char *payload, size_t len)
{
    if (peer == NULL || incident_id == NULL || peer[0] == '\0' || strchr(peer, '\n') ||
        strlen(peer) >= SW_JID_TEXT || len > SPOOL_MAX_RECORD) {
        return SW_EINVAL;
    }
    size_t pl = strlen(peer), il = strlen(incident_id);
    size_t need = sizeof(struct qrec) + pl + il + len;
    pthread_mutex_lock(&sp->qmu);
    if (sp->q_bytes + need > SPOOL_MAX_QUEUE) {
        sp->dropped++;
        int why = sp->last_commit_rc;
        size_t queued = sp->q_bytes;
        pthread_mutex_unlock(&sp->qmu);
        sw_log_error("spool",
                     "%s: report for %s (incident %s) DROPPED: %zu bytes already wait for the "
                     "disk (%s)",
                     sp->dir, peer, incident_id, queued, sw_strerror(why));
        return why == SW_ENOSPC ? SW_ENOSPC : SW_ELIMIT;
    }
    pthread_mutex_unlock(&sp->qmu);
    struct qrec *q = malloc(need);
    if (q == NULL) {
        return SW_ENOMEM;
    }
    q->next = NULL;
    q->key = entry_key(peer, pl, incident_id, il);
    q->rev = rev;
    q->created_ms = sw_wall_ms();
    q->peer_len = pl;
    q->id_len = il;
    q->plen = len;
    memcpy(q->data, peer, pl);
    memcpy(q->data + pl, incident_id, il);
    if (len > 0) {
        memcpy(q->data + pl + il, payload, len);
    }
    pthread_mutex_lock(&sp->qmu);
    q->seq = sp->next_seq++;
    *sp->qtail = q;
    sp->qtail = &q->next;
    sp->q_n++;
    sp->q_bytes += need;
    pthread_cond_signal(&sp->qcv);
    pthread_mutex_unlock(&sp->qmu);
    return 0;
}

int sw_spool_flush(struct sw_spool *sp, int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&sp->qmu);
    while (sp->qhead != NULL || sp->committing) {
        if (pthread_cond_timedwait(&sp->donecv, &sp->qmu, &ts) != 0) {
            rc = sp->last_commit_rc ? sp->last_commit_rc : SW_EAGAIN;
            break;
        }
    }
    pthread_mutex_unlock(&sp->qmu);
    return rc;
}

static bool same_bare(const char *peer, const char *from)
{
    if (from == NULL) {
        return false;
    }
    size_t bl = strcspn(from, "/");
    return strlen(peer) == bl && strncasecmp(peer, from, bl) == 0;
}

static void fresh_id(char out[33])
{
    unsigned char r[16];
    static const char hex[] = "0123456789abcdef";
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        /* getrandom cannot fail for 16 bytes once the pool is ready; be safe */
        uint64_t a = sw_mono_ns(), b = (uint64_t)sw_wall_ms() ^ ((uint64_t)getpid() << 32);
        memcpy(r, &a, 8);
        memcpy(r + 8, &b, 8);
    }
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[32] = '\0';
}

static int read_payload(struct sw_spool *sp, const struct entry *e, char **out)
{
    int fd = openat(sp->dirfd, sp->f[e->file].name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return errno == ENOENT ? SW_ENOENT : SW_EIO;
    }
    char *b = malloc((size_t)e->len + 1);
    if (b == NULL) {
        close(fd);
        return SW_ENOMEM;
    }
    size_t got = 0;
    while (got < e->len) {
        ssize_t r = pread(fd, b + got, e->len - got, (off_t)(e->off + got));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            free(b);
            close(fd);
            return SW_EIO;
        }
        got += (size_t)r;
    }
    close(fd);
    b[got] = '\0';
    *out = b;
    return 0;
}

bool sw_spool_has(struct sw_spool *sp, const char *peer, const char *incident_id)
{
    uint64_t key = entry_key(peer, strlen(peer), incident_id, strlen(incident_id));
    pthread_mutex_lock(&sp->mu);
    bool found = hmap_find(&sp->by_key, key) != SIZE_MAX;
    pthread_mutex_unlock(&sp->mu);
    if (found) {
        return true;
    }
    pthread_mutex_lock(&sp->qmu);
    found = sp->committing; /* a batch between queue and index: cannot tell, say pending */
    for (const struct qrec *q = sp->qhead; q != NULL && !found; q = q->next) {
        found = q->key == key;
    }
    pthread_mutex_unlock(&sp->qmu);
    return found;
}

int sw_spool_next(struct sw_spool *sp, int64_t now_ms, int64_t timeout_ms, struct sw_spool_item *it)
{
    int rc = 0;
    pthread_mutex_lock(&sp->mu);
    while (sp->delayed.n > 0 && sp->delayed.a[0].k1 <= now_ms) {
        struct hitem h = sp->delayed.a[0];
        heap_pop(&sp->delayed);
        struct entry *e = &sp->e[h.idx];
        if (e->gen == h.gen && e->state == S_READY) {
            heap_push(&sp->ready, 0, e->seq, h.idx, e->gen);
        }
    }
    while (sp->ready.n > 0) {
        struct hitem h = sp->ready.a[0];
        heap_pop(&sp->ready);
        struct entry *e = &sp->e[h.idx];
        if (e->gen != h.gen || e->state != S_READY) {
            continue;
        }
        struct speer *p = &sp->peers[e->peer];
        if (!p->allowed) {
            set_state(sp, e, S_HELD);
            if (!p->held_logged) {
                p->held_logged = true;
                sw_log_warn("spool",
                            "%s: reports for %s kept aside (not sent): peer no longer "
                            "configured",
                            sp->dir, p->jid);
            }
            continue;
        }
        if (sp->expire_ms > 0 && now_ms - e->created_ms >= sp->expire_ms) {
            sp->st.expired++;
            sw_log_warn("spool", "%s: report for %s expired undelivered after %lld s", sp->dir,
                        p->jid, (long long)((now_ms - e->created_ms) / 1000));
            entry_remove(sp, h.idx);
            continue;
        }
        char *payload = NULL;
        int r = read_payload(sp, e, &payload);
        if (r != 0) {
            sp->st.write_errors++;
            sw_log_error("spool", "%s/%s: cannot read a report for %s: %s", sp->dir,
                         sp->f[e->file].name, p->jid, sw_strerror(r));
            entry_remove(sp, h.idx);
            rc = r;
            continue;
        }
        if (e->id_hash != 0) {
            hmap_del(&sp->by_id, e->id_hash, h.idx);
        }
        fresh_id(e->iq);
        e->id_hash = sw_hash64(e->iq, 32);
        if (hmap_put(&sp->by_id, e->id_hash, h.idx) != 0) {
            free(payload);
            e->id_hash = 0;
            heap_push(&sp->ready, 0, e->seq, h.idx, e->gen);
            rc = SW_ENOMEM;
            break;
        }
        set_state(sp, e, S_FLIGHT);
        heap_push(&sp->flight, now_ms + timeout_ms, e->seq, h.idx, e->gen);
        snprintf(it->name, sizeof(it->name), "%s", e->iq);
        snprintf(it->peer, sizeof(it->peer), "%s", p->jid);
        it->payload = payload;
        it->len = e->len;
        rc = 1;
        break;
    }
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

/* Entry in flight under iq id @id, checked against the sender. */
static int lookup_flight(struct sw_spool *sp, const char *id, const char *from, uint32_t *out)
{
    if (id == NULL || strlen(id) != 32) {
        return SW_ENOENT;
    }
    size_t slot = hmap_find(&sp->by_id, sw_hash64(id, 32));
    if (slot == SIZE_MAX) {
        return SW_ENOENT;
    }
    uint32_t i = sp->by_id.v[slot];
    struct entry *e = &sp->e[i];
    if (e->state != S_FLIGHT || strcmp(e->iq, id) != 0) {
        return SW_ENOENT;
    }
    if (!same_bare(sp->peers[e->peer].jid, from)) {
        sp->st.spoofed++;
        return SW_EFORBIDDEN;
    }
    *out = i;
    return 0;
}

int sw_spool_ack(struct sw_spool *sp, const char *id, const char *from)
{
    uint32_t i;
    pthread_mutex_lock(&sp->mu);
    int rc = lookup_flight(sp, id, from, &i);
    if (rc == 0) {
        entry_remove(sp, i);
        sp->st.acked++;
    }
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

static void fail_entry(struct sw_spool *sp, uint32_t i, int64_t now_ms)
{
    struct entry *e = &sp->e[i];
    e->backoff_ms = e->backoff_ms ? e->backoff_ms * 2 : sp->retry_min_ms;
    if (e->backoff_ms > sp->retry_max_ms) {
        e->backoff_ms = sp->retry_max_ms;
    }
    make_ready(sp, i, now_ms + e->backoff_ms);
    sp->st.failed++;
}

int sw_spool_fail(struct sw_spool *sp, const char *id, const char *from, int64_t now_ms)
{
    uint32_t i;
    pthread_mutex_lock(&sp->mu);
    int rc = lookup_flight(sp, id, from, &i);
    if (rc == 0) {
        fail_entry(sp, i, now_ms);
    }
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

int sw_spool_expire_each(struct sw_spool *sp, int64_t now_ms,
                         void (*on_timeout)(void *ctx, const char *peer), void *ctx)
{
    int n = 0;
    pthread_mutex_lock(&sp->mu);
    while (sp->flight.n > 0 && sp->flight.a[0].k1 <= now_ms) {
        struct hitem h = sp->flight.a[0];
        heap_pop(&sp->flight);
        struct entry *e = &sp->e[h.idx];
        if (e->gen == h.gen && e->state == S_FLIGHT) {
            if (on_timeout != NULL) {
                on_timeout(ctx, sp->peers[e->peer].jid);
            }
            fail_entry(sp, h.idx, now_ms);
            n++;
        }
    }
    pthread_mutex_unlock(&sp->mu);
    return n;
}

int sw_spool_expire(struct sw_spool *sp, int64_t now_ms)
{
    return sw_spool_expire_each(sp, now_ms, NULL, NULL);
}

void sw_spool_requeue_all(struct sw_spool *sp, int64_t now_ms)
{
    (void)now_ms;
    pthread_mutex_lock(&sp->mu);
    while (sp->flight.n > 0) {
        struct hitem h = sp->flight.a[0];
        heap_pop(&sp->flight);
        struct entry *e = &sp->e[h.idx];
        if (e->gen == h.gen && e->state == S_FLIGHT) {
            make_ready(sp, h.idx, INT64_MIN);
        }
    }
    pthread_mutex_unlock(&sp->mu);
}

int64_t sw_spool_due_in(struct sw_spool *sp, const char *id, int64_t now_ms)
{
    int64_t r = -1;
    pthread_mutex_lock(&sp->mu);
    size_t slot = id && strlen(id) == 32 ? hmap_find(&sp->by_id, sw_hash64(id, 32)) : SIZE_MAX;
    if (slot != SIZE_MAX) {
        struct entry *e = &sp->e[sp->by_id.v[slot]];
        if (e->state == S_READY && strcmp(e->iq, id) == 0) {
            r = e->due_ms > now_ms ? e->due_ms - now_ms : 0;
        }
    }
    pthread_mutex_unlock(&sp->mu);
    return r;
}

void sw_spool_set_expiry(struct sw_spool *sp, int64_t expire_ms)
{
    pthread_mutex_lock(&sp->mu);
    sp->expire_ms = expire_ms > 0 ? expire_ms : 0;
    pthread_mutex_unlock(&sp->mu);
}

int sw_spool_set_peers(struct sw_spool *sp, const char *const *peers, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&sp->mu);
    sp->peers_set = peers != NULL;
    for (size_t i = 0; peers != NULL && i < n; i++) {
        if (peer_index(sp, peers[i], strlen(peers[i])) == UINT32_MAX) {
            rc = SW_ENOMEM;
        }
    }
    bool revived = false;
    for (size_t p = 0; p < sp->n_peers; p++) {
        bool allow = peers == NULL;
        for (size_t i = 0; !allow && i < n; i++) {
            allow = strcmp(peers[i], sp->peers[p].jid) == 0;
        }
        if (allow && !sp->peers[p].allowed) {
            revived = true;
        }
        sp->peers[p].allowed = allow;
        sp->peers[p].held_logged = false;
    }
    /* a peer that came back: its held entries are due again (reload only) */
    for (size_t i = 0; revived && i < sp->n_e; i++) {
        struct entry *e = &sp->e[i];
        if (e->state == S_HELD && sp->peers[e->peer].allowed) {
            make_ready(sp, (uint32_t)i, INT64_MIN);
        }
    }
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

void sw_spool_get_stats(struct sw_spool *sp, struct sw_spool_stats *st)
{
    pthread_mutex_lock(&sp->mu);
    *st = sp->st;
    st->in_flight = sp->n_flight;
    st->held = sp->n_held;
    st->pending = sp->n_live - sp->n_held;
    pthread_mutex_unlock(&sp->mu);
    pthread_mutex_lock(&sp->qmu);
    st->queued = sp->q_n;
    st->pending += sp->q_n;
    st->dropped = sp->dropped;
    st->write_errors += sp->q_write_errors;
    st->enospc = sp->q_enospc;
    st->commits = sp->commits;
    pthread_mutex_unlock(&sp->qmu);
}

uint64_t sw_spool_pending_peer(struct sw_spool *sp, const char *peer)
{
    uint64_t n = 0;
    size_t plen = strlen(peer);
    pthread_mutex_lock(&sp->mu);
    for (size_t i = 0; i < sp->n_e; i++) {
        const struct entry *e = &sp->e[i];
        n += (e->state == S_READY || e->state == S_FLIGHT) && e->peer < sp->n_peers &&
             strcasecmp(sp->peers[e->peer].jid, peer) == 0;
    }
    pthread_mutex_unlock(&sp->mu);
    pthread_mutex_lock(&sp->qmu);
    for (const struct qrec *q = sp->qhead; q != NULL; q = q->next) {
        n += q->peer_len == plen && strncasecmp(q->data, peer, plen) == 0;
    }
    pthread_mutex_unlock(&sp->qmu);
    return n;
}
