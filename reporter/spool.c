/*
 * spool.c - durable outbound spool of XEP-0268 reports, one file per
 * (peer, report).
 *
 * Design (the maildir recipe): a report is written to ".tmp-<name>", fsync'd,
 * renamed to "<name>" and the directory fsync'd, all before sw_spool_put()
 * returns; a file is unlinked only after the peer's iq result. So a kill -9 at
 * any moment leaves either no file (the caller has not been told "stored") or
 * a complete one, which the next run loads and sends; at worst a report is
 * sent twice, which is harmless because the peer keys incidents by
 * IncidentID. Stale temp files are deleted on open.
 *
 * Names: "<seq:16 hex>-<key:16 hex>-<rev:8 hex>.rep"; seq orders sending
 * (continues after the highest found on open), key = hash(peer, incident id).
 * The name doubles as the iq id, so a result maps straight to its file.
 * File: "SWSPOOL1\n<peer>\n<incident id>\n<payload>".
 *
 * A newer revision of the same (peer, incident) supersedes pending older ones
 * (they are unlinked unless in flight), so a peer that was down for hours gets
 * the latest state of each incident once, not every intermediate update.
 *
 * Retry: an error reply or timeout delays the entry by retry_min, doubling up
 * to retry_max; a lost connection re-queues in-flight entries without penalty.
 *
 * Disk full: ENOSPC/EDQUOT makes put() return SW_ENOSPC after removing its
 * temp file, with an error log line and a counter; nothing crashes.
 *
 * Threading: one mutex serializes every call (the aggregator thread puts, the
 * reporter thread sends/acks); reports are rare, so this is not a hot path.
 */
#include "sw/reporter.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw/log.h"

#define SPOOL_MAGIC "SWSPOOL1\n"
#define SPOOL_MAX_FILE (16 << 20)

struct spool_entry {
    char name[64];
    char peer[SW_JID_TEXT];
    uint64_t seq, key;
    uint32_t rev;
    int in_flight;
    int64_t due_ms, deadline_ms, backoff_ms;
};

struct sw_spool {
    pthread_mutex_t mu;
    int dirfd;
    char *dir;
    int64_t retry_min_ms, retry_max_ms;
    uint64_t next_seq;
    struct spool_entry *e;
    size_t n, cap;
    size_t n_in_flight;
    sw_spool_write_fn write_fn;
    struct sw_spool_stats st;
};

static long default_write(int fd, const void *buf, size_t len)
{
    return (long)write(fd, buf, len);
}

static uint64_t entry_key(const char *peer, const char *incident_id)
{
    char buf[SW_JID_TEXT + 160];
    int n = snprintf(buf, sizeof(buf), "%s\n%s", peer, incident_id);
    if (n < 0) {
        n = 0;
    }
    return sw_hash64(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static int grow(struct sw_spool *sp)
{
    if (sp->n < sp->cap) {
        return 0;
    }
    size_t cap = sp->cap ? sp->cap * 2 : 64;
    struct spool_entry *e = realloc(sp->e, cap * sizeof(*e));
    if (e == NULL) {
        return SW_ENOMEM;
    }
    sp->e = e;
    sp->cap = cap;
    return 0;
}

static struct spool_entry *find(struct sw_spool *sp, const char *name)
{
    for (size_t i = 0; i < sp->n; i++) {
        if (strcmp(sp->e[i].name, name) == 0) {
            return &sp->e[i];
        }
    }
    return NULL;
}

static void remove_at(struct sw_spool *sp, size_t i)
{
    if (sp->e[i].in_flight) {
        sp->n_in_flight--;
    }
    sp->e[i] = sp->e[sp->n - 1];
    sp->n--;
}

/* Read a whole spool file into a malloc'd buffer. */
static int read_file(int dirfd, const char *name, char **out, size_t *len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? SW_ENOENT : SW_EIO;
    }
    struct stat st;
    char *b = NULL;
    int rc = SW_EIO;
    if (fstat(fd, &st) != 0 || st.st_size > SPOOL_MAX_FILE) {
        goto fail;
    }
    b = malloc((size_t)st.st_size + 1);
    if (b == NULL) {
        rc = SW_ENOMEM;
        goto fail;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            goto fail;
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

/* Split a file into peer and payload; returns 0 or SW_EPARSE. */
static int parse_file(char *b, size_t len, char **peer, char **incid, char **payload, size_t *plen)
{
    size_t ml = strlen(SPOOL_MAGIC);
    if (len < ml || memcmp(b, SPOOL_MAGIC, ml) != 0) {
        return SW_EPARSE;
    }
    char *p = b + ml;
    char *nl = memchr(p, '\n', len - ml);
    if (nl == NULL) {
        return SW_EPARSE;
    }
    *nl = '\0';
    char *q = nl + 1;
    char *nl2 = memchr(q, '\n', len - (size_t)(q - b));
    if (nl2 == NULL) {
        return SW_EPARSE;
    }
    *nl2 = '\0';
    *peer = p;
    *incid = q;
    *payload = nl2 + 1;
    *plen = len - (size_t)(*payload - b);
    return 0;
}

static void quarantine(struct sw_spool *sp, const char *name)
{
    char bad[80];
    snprintf(bad, sizeof(bad), "%s.bad", name);
    if (renameat(sp->dirfd, name, sp->dirfd, bad) != 0) {
        unlinkat(sp->dirfd, name, 0);
    }
    sw_log_error("spool", "%s/%s: unreadable spool file set aside as %s", sp->dir, name, bad);
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
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (strncmp(nm, ".tmp-", 5) == 0) {
            unlinkat(sp->dirfd, nm, 0); /* never acknowledged to anyone */
            continue;
        }
        unsigned long long seq, key;
        unsigned rev;
        char tail[8];
        if (strlen(nm) != 16 + 1 + 16 + 1 + 8 + 4 ||
            sscanf(nm, "%16llx-%16llx-%8x%4s", &seq, &key, &rev, tail) != 4 ||
            strcmp(tail, ".rep") != 0) {
            continue;
        }
        char *b = NULL, *peer, *incid, *payload;
        size_t len, plen;
        if (read_file(sp->dirfd, nm, &b, &len) != 0 ||
            parse_file(b, len, &peer, &incid, &payload, &plen) != 0) {
            free(b);
            quarantine(sp, nm);
            continue;
        }
        if ((rc = grow(sp)) != 0) {
            free(b);
            break;
        }
        struct spool_entry *e = &sp->e[sp->n++];
        memset(e, 0, sizeof(*e));
        memcpy(e->name, nm, strlen(nm) + 1); /* length checked above: 46 < sizeof(name) */
        snprintf(e->peer, sizeof(e->peer), "%s", peer);
        e->seq = seq;
        e->key = key;
        e->rev = rev;
        if (seq >= sp->next_seq) {
            sp->next_seq = seq + 1;
        }
        free(b);
    }
    closedir(d);
    if (rc != 0) {
        return sw_errbuf_set(eb, rc, "spool %s: out of memory", sp->dir);
    }
    return 0;
}

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
    sp->dir = strdup(dir);
    sp->retry_min_ms = retry_min_ms > 0 ? retry_min_ms : 1000;
    sp->retry_max_ms = retry_max_ms >= sp->retry_min_ms ? retry_max_ms : sp->retry_min_ms;
    sp->write_fn = default_write;
    sp->next_seq = 1;
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
    sp->st.pending = sp->n;
    if (sp->n > 0) {
        sw_log_info("spool", "%s: resuming %zu pending report(s)", dir, sp->n);
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
    if (sp->dirfd >= 0) {
        close(sp->dirfd);
    }
    pthread_mutex_destroy(&sp->mu);
    free(sp->e);
    free(sp->dir);
    free(sp);
}

void sw_spool_set_write_fn(struct sw_spool *sp, sw_spool_write_fn fn)
{
    pthread_mutex_lock(&sp->mu);
    sp->write_fn = fn ? fn : default_write;
    pthread_mutex_unlock(&sp->mu);
}

static int write_all(struct sw_spool *sp, int fd, const char *p, size_t len)
{
    while (len > 0) {
        long w = sp->write_fn(fd, p, len);
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

static int put_locked(struct sw_spool *sp, const char *peer, const char *incident_id, uint32_t rev,
                      const char *payload, size_t len)
{
    struct spool_entry ne;
    char tmp[80];
    memset(&ne, 0, sizeof(ne));
    ne.seq = sp->next_seq;
    ne.key = entry_key(peer, incident_id);
    ne.rev = rev;
    snprintf(ne.name, sizeof(ne.name), "%016llx-%016llx-%08x.rep", (unsigned long long)ne.seq,
             (unsigned long long)ne.key, rev);
    snprintf(ne.peer, sizeof(ne.peer), "%s", peer);
    snprintf(tmp, sizeof(tmp), ".tmp-%s", ne.name);
    if (grow(sp) != 0) {
        return SW_ENOMEM;
    }

    int fd = openat(sp->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = 0;
    if (fd < 0) {
        err = errno;
        goto fail;
    }
    if (write_all(sp, fd, SPOOL_MAGIC, strlen(SPOOL_MAGIC)) != 0 ||
        write_all(sp, fd, peer, strlen(peer)) != 0 || write_all(sp, fd, "\n", 1) != 0 ||
        write_all(sp, fd, incident_id, strlen(incident_id)) != 0 ||
        write_all(sp, fd, "\n", 1) != 0 || write_all(sp, fd, payload, len) != 0) {
        err = errno;
        goto fail;
    }
    if (fsync(fd) != 0) {
        err = errno;
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        err = errno;
        goto fail;
    }
    fd = -1;
    if (renameat(sp->dirfd, tmp, sp->dirfd, ne.name) != 0) {
        err = errno;
        goto fail;
    }
    if (fsync(sp->dirfd) != 0) {
        /* The rename happened; the entry exists even if durability is unsure. */
        sw_log_warn("spool", "%s: fsync of the directory: %s", sp->dir, strerror(errno));
    }
    sp->next_seq++;
    sp->e[sp->n++] = ne;
    sp->st.put++;

    /* supersede pending older revisions of the same (peer, incident) */
    for (size_t i = 0; i < sp->n;) {
        struct spool_entry *e = &sp->e[i];
        if (e->key == ne.key && e->seq < ne.seq && !e->in_flight && strcmp(e->peer, ne.peer) == 0) {
            unlinkat(sp->dirfd, e->name, 0);
            sp->st.superseded++;
            remove_at(sp, i);
            continue;
        }
        i++;
    }
    return 0;
fail:
    if (fd >= 0) {
        close(fd);
    }
    unlinkat(sp->dirfd, tmp, 0);
    sp->st.write_errors++;
    if (err == ENOSPC || err == EDQUOT) {
        sp->st.enospc++;
        sw_log_error("spool", "%s: disk full, report for %s (incident %s) not stored", sp->dir,
                     peer, incident_id);
        return SW_ENOSPC;
    }
    sw_log_error("spool", "%s: cannot store report for %s: %s", sp->dir, peer, strerror(err));
    return SW_EIO;
}

int sw_spool_put(struct sw_spool *sp, const char *peer, const char *incident_id, uint32_t rev,
                 const char *payload, size_t len)
{
    if (peer == NULL || incident_id == NULL || peer[0] == '\0' || strchr(peer, '\n') ||
        strchr(incident_id, '\n') || strlen(peer) >= SW_JID_TEXT) {
        return SW_EINVAL;
    }
    pthread_mutex_lock(&sp->mu);
    int rc = put_locked(sp, peer, incident_id, rev, payload, len);
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

bool sw_spool_has(struct sw_spool *sp, const char *peer, const char *incident_id)
{
    uint64_t key = entry_key(peer, incident_id);
    bool found = false;
    pthread_mutex_lock(&sp->mu);
    for (size_t i = 0; i < sp->n && !found; i++) {
        found = sp->e[i].key == key;
    }
    pthread_mutex_unlock(&sp->mu);
    return found;
}

int sw_spool_next(struct sw_spool *sp, int64_t now_ms, int64_t timeout_ms, struct sw_spool_item *it)
{
    int rc = 0;
    pthread_mutex_lock(&sp->mu);
    for (;;) {
        struct spool_entry *best = NULL;
        for (size_t i = 0; i < sp->n; i++) {
            struct spool_entry *e = &sp->e[i];
            if (!e->in_flight && e->due_ms <= now_ms && (best == NULL || e->seq < best->seq)) {
                best = e;
            }
        }
        if (best == NULL) {
            rc = 0;
            break;
        }
        char *b = NULL, *peer, *incid, *payload;
        size_t len, plen;
        int r = read_file(sp->dirfd, best->name, &b, &len);
        if (r == 0) {
            r = parse_file(b, len, &peer, &incid, &payload, &plen);
        }
        if (r != 0) {
            free(b);
            if (r != SW_ENOENT) {
                quarantine(sp, best->name);
            }
            remove_at(sp, (size_t)(best - sp->e));
            continue;
        }
        memmove(b, payload, plen);
        b[plen] = '\0';
        snprintf(it->name, sizeof(it->name), "%s", best->name);
        snprintf(it->peer, sizeof(it->peer), "%s", best->peer);
        it->payload = b;
        it->len = plen;
        best->in_flight = 1;
        sp->n_in_flight++;
        best->deadline_ms = now_ms + timeout_ms;
        rc = 1;
        break;
    }
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

int sw_spool_ack(struct sw_spool *sp, const char *name)
{
    int rc = SW_ENOENT;
    pthread_mutex_lock(&sp->mu);
    struct spool_entry *e = find(sp, name);
    if (e != NULL) {
        if (unlinkat(sp->dirfd, e->name, 0) != 0 && errno != ENOENT) {
            sw_log_warn("spool", "%s/%s: unlink: %s", sp->dir, e->name, strerror(errno));
        }
        fsync(sp->dirfd);
        remove_at(sp, (size_t)(e - sp->e));
        sp->st.acked++;
        rc = 0;
    }
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

static void fail_entry(struct sw_spool *sp, struct spool_entry *e, int64_t now_ms)
{
    e->backoff_ms = e->backoff_ms ? e->backoff_ms * 2 : sp->retry_min_ms;
    if (e->backoff_ms > sp->retry_max_ms) {
        e->backoff_ms = sp->retry_max_ms;
    }
    e->due_ms = now_ms + e->backoff_ms;
    if (e->in_flight) {
        e->in_flight = 0;
        sp->n_in_flight--;
    }
    sp->st.failed++;
}

int sw_spool_fail(struct sw_spool *sp, const char *name, int64_t now_ms)
{
    int rc = SW_ENOENT;
    pthread_mutex_lock(&sp->mu);
    struct spool_entry *e = find(sp, name);
    if (e != NULL) {
        fail_entry(sp, e, now_ms);
        rc = 0;
    }
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

int sw_spool_expire(struct sw_spool *sp, int64_t now_ms)
{
    int n = 0;
    pthread_mutex_lock(&sp->mu);
    for (size_t i = 0; i < sp->n; i++) {
        struct spool_entry *e = &sp->e[i];
        if (e->in_flight && e->deadline_ms <= now_ms) {
            fail_entry(sp, e, now_ms);
            n++;
        }
    }
    pthread_mutex_unlock(&sp->mu);
    return n;
}

void sw_spool_requeue_all(struct sw_spool *sp, int64_t now_ms)
{
    pthread_mutex_lock(&sp->mu);
    for (size_t i = 0; i < sp->n; i++) {
        if (sp->e[i].in_flight) {
            sp->e[i].in_flight = 0;
            sp->e[i].due_ms = now_ms;
        }
    }
    sp->n_in_flight = 0;
    pthread_mutex_unlock(&sp->mu);
}

int64_t sw_spool_due_in(struct sw_spool *sp, const char *name, int64_t now_ms)
{
    int64_t r = -1;
    pthread_mutex_lock(&sp->mu);
    struct spool_entry *e = find(sp, name);
    if (e != NULL && !e->in_flight) {
        r = e->due_ms > now_ms ? e->due_ms - now_ms : 0;
    }
    pthread_mutex_unlock(&sp->mu);
    return r;
}

void sw_spool_get_stats(struct sw_spool *sp, struct sw_spool_stats *st)
{
    pthread_mutex_lock(&sp->mu);
    *st = sp->st;
    st->pending = sp->n;
    st->in_flight = sp->n_in_flight;
    pthread_mutex_unlock(&sp->mu);
}
