/*
 * tapq.c - the live taps' block queues and the mux tap the pipeline reads
 * (see include/sw/live.h and live/live_int.h for the design).
 *
 * Producer side (each tap thread): lt_tap_stanza() scans a stanza's start tag
 * (kind, from, to, id, type), computes its dedup key and copies it as one
 * record into the reserved block (lt_queue_put); lt_queue_flush() commits the
 * block and wakes the mux if it sleeps. A full queue drops the stanza and
 * counts it: taps never block, so the server never waits for stanzawatch.
 *
 * Consumer side (the pipeline's reader thread, through the mux's
 * sw_tap_ops.read): one synthetic stream header first, then records copied
 * round robin over the taps, a presence fan-out copy skipped when its dedup
 * key was seen within the tap's dedup window. A read returns what is queued
 * (up to the caller's buffer) or, after waiting up to 100 ms for data, 0
 * bytes, so the reader keeps polling its stop flag. tap->stop (called by the
 * reader on SIGTERM/SIGINT) stops the taps; the mux then hands out what is
 * still queued, the closing tag, and EOF: a drained stop.
 *
 * Reload: the mux copies under the set's lock (set_mu, live_int.h), the
 * taps a reload stopped first, until their queues are empty.
 *
 * Threading: as above; the mux's sleep uses a mutex/condvar pair touched
 * only when the mux actually sleeps (seq_cst RMWs on both sides close the
 * lost-wake-up window; the 100 ms timeout bounds it anyway).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "live_int.h"

#define LT_HEADER                                                                                  \
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "                                   \
    "xmlns:stream='http://etherx.jabber.org/streams'>\n"
#define LT_CLOSE "</stream:stream>\n"
#define LT_DEDUP_SLOTS 16384u
#define LT_IDLE_WAIT_MS 100

/* ------------------------------------------------------------------ */
/* queue                                                               */

int lt_queue_init(struct lt_tap *t, size_t queue_bytes, size_t max_record)
{
    size_t blk = 64 * 1024;
    if (blk < max_record + LT_REC_HDR + sizeof(struct lt_blk) + 8) {
        blk = max_record + LT_REC_HDR + sizeof(struct lt_blk) + 8;
    }
    blk = (blk + 63) & ~(size_t)63;
    size_t n = queue_bytes / blk;
    if (n < 4) {
        n = 4;
    }
    t->blk_size = blk;
    return sw_ring_new(blk, n, &t->q);
}

void lt_queue_fini(struct lt_tap *t)
{
    sw_ring_free(t->q);
    t->q = NULL;
}

bool lt_queue_put(struct lt_tap *t, const char *s, size_t len, unsigned kind, uint64_t dkey)
{
    size_t need = LT_REC_HDR + ((len + 7) & ~(size_t)7);
    size_t cap = t->blk_size - sizeof(struct lt_blk);
    if (need > cap) {
        LT_CNT_ADD(t->c.oversize, 1);
        return false;
    }
    if (t->cur != NULL && t->cur->used + need > cap) {
        lt_queue_flush(t);
    }
    if (t->cur == NULL) {
        size_t k = 1;
        struct lt_blk *b = sw_ring_reserve(t->q, &k);
        if (k == 0) {
            LT_CNT_ADD(t->c.queue_drops, 1);
            return false;
        }
        b->used = 0;
        t->cur = b;
    }
    char *p = t->cur->data + t->cur->used;
    uint32_t l32 = (uint32_t)len, k32 = kind;
    memcpy(p, &l32, 4);
    memcpy(p + 4, &k32, 4);
    memcpy(p + 8, &dkey, 8);
    memcpy(p + LT_REC_HDR, s, len);
    t->cur->used += (uint32_t)need;
    return true;
}

static void mux_wake(struct sw_live *l)
{
    /* a locked RMW orders the block commit before the load of `sleeping`
     * (no fences: TSan does not model them); one per block, not per stanza */
    (void)atomic_fetch_add_explicit(&l->wake_gen, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&l->sleeping, memory_order_seq_cst)) {
        pthread_mutex_lock(&l->mu);
        pthread_cond_signal(&l->cv);
        pthread_mutex_unlock(&l->mu);
    }
}

void lt_queue_flush(struct lt_tap *t)
{
    if (t->cur == NULL) {
        return;
    }
    if (t->cur->used > 0) {
        sw_ring_commit(t->q, 1);
        t->cur = NULL;
        mux_wake(t->live);
    }
}

void lt_queue_flush_lazy(struct lt_tap *t, bool idle)
{
    if (t->cur == NULL || t->cur->used == 0) {
        return;
    }
    /* Publish now if the mux waits for data, the input went quiet or the
     * block is half full; else keep filling it (fewer, fuller blocks when
     * stanzawatch is busy, so the queue holds more). */
    if (idle || atomic_load_explicit(&t->live->sleeping, memory_order_relaxed) ||
        t->cur->used >= (t->blk_size - sizeof(struct lt_blk)) / 2) {
        lt_queue_flush(t);
    }
}

/* ------------------------------------------------------------------ */
/* start tags and dedup keys                                           */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int lt_scan_stag(const char *s, size_t n, struct lt_stag *st)
{
    memset(st, 0, sizeof(*st));
    st->kind = LT_KIND_OTHER;
    if (n < 3 || s[0] != '<') {
        return -1;
    }
    size_t i = 1;
    size_t ns = i;
    while (i < n && !is_space(s[i]) && s[i] != '>' && s[i] != '/') {
        i++;
    }
    const char *name = s + ns;
    size_t nl = i - ns;
    const char *colon = memchr(name, ':', nl); /* a prefixed stanza (jabber:client bound) */
    if (colon != NULL) {
        nl -= (size_t)(colon + 1 - name);
        name = colon + 1;
    }
    if (nl == 7 && memcmp(name, "message", 7) == 0) {
        st->kind = LT_KIND_MESSAGE;
    } else if (nl == 8 && memcmp(name, "presence", 8) == 0) {
        st->kind = LT_KIND_PRESENCE;
    } else if (nl == 2 && memcmp(name, "iq", 2) == 0) {
        st->kind = LT_KIND_IQ;
    }
    /* attributes: name = 'value' | "value" */
    while (i < n) {
        while (i < n && is_space(s[i])) {
            i++;
        }
        if (i >= n || s[i] == '>' || s[i] == '/') {
            return 0;
        }
        size_t an = i;
        while (i < n && s[i] != '=' && !is_space(s[i]) && s[i] != '>') {
            i++;
        }
        size_t al = i - an;
        while (i < n && is_space(s[i])) {
            i++;
        }
        if (i >= n || s[i] != '=') {
            return -1;
        }
        i++;
        while (i < n && is_space(s[i])) {
            i++;
        }
        if (i >= n || (s[i] != '\'' && s[i] != '"')) {
            return -1;
        }
        char q = s[i++];
        const char *v = s + i;
        const char *e = memchr(v, q, n - i);
        if (e == NULL) {
            return -1;
        }
        size_t vl = (size_t)(e - v);
        i += vl + 1;
        const char *a = s + an;
        if (al == 4 && memcmp(a, "from", 4) == 0) {
            st->from = v, st->from_len = vl;
        } else if (al == 2 && memcmp(a, "to", 2) == 0) {
            st->to = v, st->to_len = vl;
        } else if (al == 2 && memcmp(a, "id", 2) == 0) {
            st->id = v, st->id_len = vl;
        } else if (al == 4 && memcmp(a, "type", 4) == 0) {
            st->type = v, st->type_len = vl;
        }
    }
    return 0;
}

/*
 * Presence fan-out: a client's broadcast presence comes once without 'to'
 * and again per contact with 'to' = the contact's bare JID and the same id
 * (Prosody's mod_presence, ejabberd likewise); only the first is the
 * client's action. Directed copies (to a full JID: MUC room/nick, another
 * resource) are kept, they are what MUC presence detectors count, and so
 * are subscription presences (a spammer reusing one id must not hide).
 * Presence without id is never deduplicated.
 */
uint64_t lt_dedup_key(const struct lt_stag *st)
{
    if (st->kind != LT_KIND_PRESENCE || st->id_len == 0 || st->from_len == 0) {
        return 0;
    }
    if (st->type_len != 0 && !(st->type_len == 11 && memcmp(st->type, "unavailable", 11) == 0)) {
        return 0;
    }
    if (st->to_len != 0 && memchr(st->to, '/', st->to_len) != NULL) {
        return 0;
    }
    char key[640];
    size_t fl = st->from_len < 300 ? st->from_len : 300;
    size_t il = st->id_len < 300 ? st->id_len : 300;
    memcpy(key, st->from, fl);
    key[fl] = '\0';
    memcpy(key + fl + 1, st->id, il);
    key[fl + 1 + il] = st->type_len ? 'u' : 'a';
    return sw_hash64(key, fl + il + 2);
}

void lt_tap_stanza(struct lt_tap *t, const char *s, size_t n)
{
    struct lt_stag st;
    uint64_t dkey = 0;
    if (lt_scan_stag(s, n, &st) == 0) {
        /* a mirror copy (mod_firewall FORWARD: <message from='host'><forwarded
         * xmlns='urn:xmpp:forward:0'>[<delay/>]STANZA): look at STANZA */
        const char *gt = memchr(s, '>', n);
        if (st.kind == LT_KIND_MESSAGE && st.from_len > 0 &&
            memchr(st.from, '@', st.from_len) == NULL && gt != NULL && gt[-1] != '/' &&
            (size_t)(s + n - gt) > 12 && memcmp(gt + 1, "<forwarded", 10) == 0) {
            const char *in = memchr(gt + 1, '>', (size_t)(s + n - gt - 1));
            while (in != NULL && (size_t)(s + n - in) > 8 && memcmp(in + 1, "<delay", 6) == 0) {
                in = memchr(in + 1, '>', (size_t)(s + n - in - 1)); /* skip <delay .../> */
            }
            struct lt_stag inner;
            if (in != NULL && lt_scan_stag(in + 1, (size_t)(s + n - in - 1), &inner) == 0 &&
                inner.kind != LT_KIND_OTHER) {
                st = inner;
            }
        }
        dkey = lt_dedup_key(&st);
    }
    LT_CNT_ADD(t->c.stanzas, 1);
    LT_CNT_ADD(t->c.by_kind[st.kind], 1);
    lt_queue_put(t, s, n, st.kind, dkey);
}

/* true: a copy seen within @window_ms (drop it); else remembered. */
static bool mux_dedup(struct sw_live *l, uint64_t key, int64_t now, int64_t window_ms)
{
    size_t i = (size_t)key & l->dd_mask;
    for (size_t probe = 0; probe < 8; probe++, i = (i + 1) & l->dd_mask) {
        if (l->dd_key[i] == key) {
            bool dup = now - l->dd_ms[i] <= window_ms;
            l->dd_ms[i] = now;
            return dup;
        }
        if (l->dd_key[i] == 0 || now - l->dd_ms[i] > window_ms) {
            break;
        }
    }
    /* not found: take the first free or stale slot of the probe run, else
     * overwrite the home slot (a lost key only means a copy gets through) */
    size_t j = (size_t)key & l->dd_mask;
    for (size_t probe = 0; probe < 8; probe++, j = (j + 1) & l->dd_mask) {
        if (l->dd_key[j] == 0 || now - l->dd_ms[j] > window_ms) {
            break;
        }
    }
    l->dd_key[j] = key;
    l->dd_ms[j] = now;
    return false;
}

/* ------------------------------------------------------------------ */
/* mux                                                                 */

/* The next piece of a record larger than a read (l->part_*) into buf[0, cap);
 * the last piece ends with the record's newline, so it is left one byte short
 * of @cap if need be. Returns the bytes written. */
static size_t mux_piece(struct sw_live *l, char *buf, size_t cap)
{
    size_t c = l->part_left < cap ? l->part_left : cap;
    if (c == l->part_left && c == cap) {
        c--; /* room for the newline on the next read */
    }
    memcpy(buf, l->part_src, c);
    l->part_src += c;
    l->part_left -= c;
    if (l->part_left == 0) {
        buf[c++] = '\n';
    }
    return c;
}

/* Copy records of tap @t into buf[*len, cap). Returns true if the tap's queue
 * had something (progress made or a partial record pending). */
static bool mux_drain_tap(struct sw_live *l, struct lt_tap *t, char *buf, size_t cap, size_t *len,
                          int64_t now)
{
    bool any = false;
    for (;;) {
        size_t k = 0;
        const struct lt_blk *b = sw_ring_peek(t->q, &k);
        if (k == 0) {
            return any;
        }
        any = true;
        while (t->rd_off < b->used) {
            const char *rec = b->data + t->rd_off;
            uint32_t rl, kind;
            uint64_t dkey;
            memcpy(&rl, rec, 4);
            memcpy(&kind, rec + 4, 4);
            memcpy(&dkey, rec + 8, 8);
            size_t need = LT_REC_HDR + ((rl + 7) & ~(size_t)7);
            if (dkey != 0 && t->s->dedup_ms > 0 && mux_dedup(l, dkey, now, t->s->dedup_ms)) {
                LT_CNT_ADD(t->c.dedup, 1);
                t->rd_off += need;
                continue;
            }
            if (cap - *len < (size_t)rl + 1) {
                if (*len > 0) {
                    return true; /* next read */
                }
                /* a record larger than the caller's buffer: hand it out in pieces */
                l->part_src = rec + LT_REC_HDR;
                l->part_left = rl;
                *len = mux_piece(l, buf, cap);
                t->rd_off += need; /* the block stays until the next read copies the rest */
                return true;
            }
            memcpy(buf + *len, rec + LT_REC_HDR, rl);
            *len += rl;
            buf[(*len)++] = '\n';
            t->rd_off += need;
        }
        if (l->part_left > 0) {
            return true;
        }
        sw_ring_release(t->q, 1);
        t->rd_off = 0;
    }
}

static bool tap_running(const struct lt_tap *t)
{
    return atomic_load_explicit(&t->started, memory_order_acquire) &&
           !atomic_load_explicit(&t->stopped, memory_order_acquire);
}

/* set_mu held */
static bool mux_all_stopped(struct sw_live *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (tap_running(l->taps[i])) {
            return false;
        }
    }
    for (const struct lt_tap *t = l->retired; t != NULL; t = t->next) {
        if (tap_running(t)) {
            return false;
        }
    }
    return true;
}

/* set_mu held: nothing queued in any tap, retired ones included */
static bool mux_all_empty(struct sw_live *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (sw_ring_count(l->taps[i]->q) != 0) {
            return false;
        }
    }
    for (const struct lt_tap *t = l->retired; t != NULL; t = t->next) {
        if (sw_ring_count(t->q) != 0) {
            return false;
        }
    }
    return true;
}

/* set_mu held: copy from the retired taps first (what a reload stopped
 * arrived before what the taps that replaced them receive now) */
static bool mux_drain_retired(struct sw_live *l, char *buf, size_t cap, size_t *len, int64_t now)
{
    bool pending = false;
    for (struct lt_tap *t = l->retired; t != NULL && *len < cap; t = t->next) {
        pending |= mux_drain_tap(l, t, buf, cap, len, now);
        if (l->part_left > 0) {
            break;
        }
    }
    return pending;
}

static int mux_read(void *ctx, char *buf, size_t cap, struct sw_tap_read *out, struct sw_errbuf *eb)
{
    struct sw_live *l = ctx;
    (void)eb;
    memset(out, 0, sizeof(*out));
    if (l->end_sent) {
        out->eof = true;
        return 0;
    }
    out->stream = 0;
    out->name = "live";
    if (!l->hdr_sent) {
        size_t hl = strlen(LT_HEADER);
        memcpy(buf, LT_HEADER, hl < cap ? hl : cap);
        out->len = hl;
        l->hdr_sent = true;
        return 0;
    }
    for (int round = 0; round < 2; round++) {
        size_t len = 0;
        bool pending = false;
        if (l->part_left > 0) {
            /* the rest of a record larger than a read, then its block */
            out->len = mux_piece(l, buf, cap);
            return 0;
        }
        pthread_mutex_lock(&l->set_mu);
        bool stopped = atomic_load_explicit(&l->stopping, memory_order_acquire) &&
                       mux_all_stopped(l); /* checked before draining: nothing comes after */
        int64_t now = sw_wall_ms();
        pending = mux_drain_retired(l, buf, cap, &len, now);
        for (size_t i = 0; i < l->n && len < cap && l->part_left == 0; i++) {
            struct lt_tap *t = l->taps[(l->rr + i) % l->n];
            pending |= mux_drain_tap(l, t, buf, cap, &len, now);
        }
        l->rr = (l->rr + 1) % (l->n ? l->n : 1);
        pthread_mutex_unlock(&l->set_mu);
        if (len > 0 || pending) {
            out->len = len;
            return 0;
        }
        if (stopped) {
            size_t cl = strlen(LT_CLOSE);
            memcpy(buf, LT_CLOSE, cl < cap ? cl : cap);
            out->len = cl < cap ? cl : cap;
            out->stream_end = true;
            l->end_sent = true;
            return 0;
        }
        if (round == 0) {
            /* nothing queued: sleep until a tap flushes, at most 100 ms */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += LT_IDLE_WAIT_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_mutex_lock(&l->mu);
            (void)atomic_exchange_explicit(&l->sleeping, 1, memory_order_seq_cst);
            pthread_mutex_lock(&l->set_mu); /* order: mu -> set_mu */
            bool empty = mux_all_empty(l);
            pthread_mutex_unlock(&l->set_mu);
            if (empty && !atomic_load_explicit(&l->stopping, memory_order_acquire)) {
                pthread_cond_timedwait(&l->cv, &l->mu, &ts);
            }
            atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
            pthread_mutex_unlock(&l->mu);
        }
    }
    out->len = 0;
    return 0;
}

static void mux_stop(void *ctx)
{
    struct sw_live *l = ctx;
    pthread_mutex_lock(&l->set_mu);
    atomic_store_explicit(&l->stopping, true, memory_order_release);
    for (size_t i = 0; i < l->n; i++) {
        atomic_store_explicit(&l->taps[i]->stop, true, memory_order_release);
        if (l->taps[i]->wake_fd >= 0) {
            uint64_t one = 1;
            ssize_t w = write(l->taps[i]->wake_fd, &one, sizeof(one));
            (void)w;
        }
    }
    pthread_mutex_unlock(&l->set_mu);
}

static uint64_t mux_position(void *ctx)
{
    struct sw_live *l = ctx;
    pthread_mutex_lock(&l->set_mu);
    uint64_t b = l->gone_bytes;
    for (size_t i = 0; i < l->n; i++) {
        b += LT_CNT_GET(l->taps[i]->c.bytes);
    }
    for (const struct lt_tap *t = l->retired; t != NULL; t = t->next) {
        b += LT_CNT_GET(t->c.bytes);
    }
    pthread_mutex_unlock(&l->set_mu);
    return b;
}

static void mux_close(void *ctx)
{
    (void)ctx; /* owned by the live set: sw_live_free */
}

void lt_mux_ops(struct sw_live *l, struct sw_tap_ops *ops)
{
    memset(ops, 0, sizeof(*ops));
    ops->kind = "live";
    ops->live = true;
    ops->read = mux_read;
    ops->size_hint = NULL;
    ops->position = mux_position;
    ops->close = mux_close;
    ops->stop = mux_stop;
    ops->ctx = l;
}

int lt_mux_init(struct sw_live *l)
{
    l->dd_mask = LT_DEDUP_SLOTS - 1;
    l->dd_key = calloc(LT_DEDUP_SLOTS, sizeof(*l->dd_key));
    l->dd_ms = calloc(LT_DEDUP_SLOTS, sizeof(*l->dd_ms));
    if (l->dd_key == NULL || l->dd_ms == NULL) {
        return SW_ENOMEM;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->set_mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    atomic_init(&l->sleeping, 0);
    atomic_init(&l->wake_gen, 0);
    atomic_init(&l->stopping, false);
    return 0;
}
