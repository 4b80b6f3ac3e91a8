/*
 * evbuild.h - build struct sw_event by hand for detector unit tests, bind a
 * schema's documented defaults, and collect hits.
 *
 * struct sw_evb owns the text the event points at (one event at a time per
 * builder, like one batch slot). JIDs are split and hashed the way event.h
 * describes: bare/domain hashes case-folded (sw_hash64_lower), full exact.
 * Shard keys are filled like the engine does: SENDER = from bare, SENDER_DOMAIN
 * = from domain, ROOM = the room's bare JID (to for groupchat and MUC presence,
 * from for reflections), TARGET = to bare for non-room traffic.
 *
 * sw_test_defaults() applies every item's `def` text of a flat schema
 * (BOOL/INT/DURATION/SIZE/STRLIST-empty) so tests run with the shipped
 * defaults without the config loader.
 *
 * Header-only (static functions) so each test binary is self-contained.
 */
#ifndef SW_TEST_EVBUILD_H
#define SW_TEST_EVBUILD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw/conf.h"
#include "sw/detector.h"
#include "sw/event.h"

struct sw_evb {
    struct sw_event ev;
    char from[512], to[512], body[4096], id[96], nick[128];
    uint64_t seq;
};

static inline void sw_evb_jid(struct sw_jid *j, char *buf, size_t cap, const char *text)
{
    snprintf(buf, cap, "%s", text);
    memset(j, 0, sizeof(*j));
    j->text = buf;
    j->len = (uint16_t)strlen(buf);
    const char *slash = strchr(buf, '/');
    size_t bare_len = slash ? (size_t)(slash - buf) : j->len;
    const char *at = memchr(buf, '@', bare_len);
    if (at != NULL) {
        j->local_len = (uint16_t)(at - buf);
        j->domain_off = (uint16_t)(j->local_len + 1);
    }
    j->domain_len = (uint16_t)(bare_len - j->domain_off);
    if (slash != NULL) {
        j->res_off = (uint16_t)(bare_len + 1);
        j->res_len = (uint16_t)(j->len - j->res_off);
    }
    j->bare = sw_hash64_lower(buf, bare_len);
    j->domain = sw_hash64_lower(buf + j->domain_off, j->domain_len);
    j->full = sw_hash64(buf, j->len);
}

/* Start a new event: clears everything but the sequence counter. */
static inline struct sw_event *sw_evb_new(struct sw_evb *b, int64_t t_ms, uint16_t kind,
                                          uint16_t type, const char *from, const char *to)
{
    uint64_t seq = b->seq + 1;
    memset(b, 0, sizeof(*b));
    b->seq = seq;
    struct sw_event *ev = &b->ev;
    ev->seq = seq;
    ev->t_ms = t_ms;
    ev->kind = kind;
    ev->type = type;
    sw_evb_jid(&ev->from, b->from, sizeof(b->from), from);
    sw_evb_jid(&ev->to, b->to, sizeof(b->to), to);
    ev->id = b->id;
    ev->body = b->body;
    ev->subject = "";
    ev->status = "";
    ev->nick = b->nick;
    ev->key[SW_SHARD_SENDER] = ev->from.local_len > 0 ? ev->from.bare : 0;
    ev->key[SW_SHARD_SENDER_DOMAIN] = ev->from.domain;
    ev->key[SW_SHARD_TARGET] = ev->to.bare;
    if (ev->from.local_len == 0) {
        ev->flags |= SW_F_FROM_SERVER;
    }
    return ev;
}

static inline void sw_evb_body(struct sw_evb *b, const char *body)
{
    snprintf(b->body, sizeof(b->body), "%s", body);
    size_t n = strlen(body);
    b->ev.body_len = (uint16_t)(n < sizeof(b->body) ? n : sizeof(b->body) - 1);
    b->ev.body_full = (uint32_t)n;
    uint32_t lines = n > 0 ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        lines += body[i] == '\n';
    }
    b->ev.body_lines = lines;
    if (n > 0) {
        b->ev.flags |= SW_F_HAS_BODY;
    }
}

static inline void sw_evb_id(struct sw_evb *b, const char *id)
{
    snprintf(b->id, sizeof(b->id), "%s", id);
    b->ev.id_len = (uint16_t)strlen(b->id);
    b->ev.id_hash = sw_hash64(b->id, b->ev.id_len);
}

/* Groupchat message from occupant @from (a user JID) to the bare @room. */
static inline struct sw_event *sw_evb_groupchat(struct sw_evb *b, int64_t t_ms, const char *from,
                                                const char *room, const char *body)
{
    struct sw_event *ev = sw_evb_new(b, t_ms, SW_EV_MESSAGE, SW_T_GROUPCHAT, from, room);
    ev->flags |= SW_F_MUC_GROUPCHAT;
    ev->key[SW_SHARD_ROOM] = ev->to.bare;
    ev->key[SW_SHARD_TARGET] = 0;
    sw_evb_body(b, body);
    return ev;
}

/* The room's reflected copy: from room@service/nick to occupant @to. */
static inline struct sw_event *sw_evb_reflection(struct sw_evb *b, int64_t t_ms,
                                                 const char *room_nick, const char *to,
                                                 const char *body)
{
    struct sw_event *ev = sw_evb_new(b, t_ms, SW_EV_MESSAGE, SW_T_GROUPCHAT, room_nick, to);
    ev->flags |= SW_F_MUC_REFLECTION;
    ev->key[SW_SHARD_ROOM] = ev->from.bare;
    sw_evb_body(b, body);
    return ev;
}

/* Presence from user @from to room@service/nick: join (with muc x), leave, or
 * a plain available (status update or nick change). */
enum sw_evb_muc { SW_EVB_JOIN, SW_EVB_LEAVE, SW_EVB_AVAIL };
static inline struct sw_event *sw_evb_muc_presence(struct sw_evb *b, int64_t t_ms, const char *from,
                                                   const char *room_nick, enum sw_evb_muc what)
{
    uint16_t type = what == SW_EVB_LEAVE ? SW_T_UNAVAILABLE : SW_T_AVAILABLE;
    struct sw_event *ev = sw_evb_new(b, t_ms, SW_EV_PRESENCE, type, from, room_nick);
    ev->flags |= SW_F_MUC_PRESENCE;
    if (what == SW_EVB_JOIN) {
        ev->flags |= SW_F_MUC_JOIN;
    } else if (what == SW_EVB_LEAVE) {
        ev->flags |= SW_F_MUC_LEAVE;
    }
    ev->key[SW_SHARD_ROOM] = ev->to.bare;
    ev->key[SW_SHARD_TARGET] = 0;
    snprintf(b->nick, sizeof(b->nick), "%s", b->to + ev->to.res_off);
    ev->nick_len = ev->to.res_len;
    return ev;
}

/* presence type=subscribe/subscribed/... from @from to @to. */
static inline struct sw_event *sw_evb_presence(struct sw_evb *b, int64_t t_ms, uint16_t type,
                                               const char *from, const char *to)
{
    return sw_evb_new(b, t_ms, SW_EV_PRESENCE, type, from, to);
}

/* 1:1 chat message. */
static inline struct sw_event *sw_evb_chat(struct sw_evb *b, int64_t t_ms, const char *from,
                                           const char *to, const char *body)
{
    struct sw_event *ev = sw_evb_new(b, t_ms, SW_EV_MESSAGE, SW_T_CHAT, from, to);
    sw_evb_body(b, body);
    return ev;
}

/* A chat-like line of @nwords words drawn pseudo-randomly from a small
 * vocabulary (xorshift on *seed): ordinary varied conversation. */
static inline const char *sw_test_words(char *buf, size_t cap, uint64_t *seed, int nwords)
{
    static const char *const vocab[] = {
        "the",      "build",   "is",     "green",   "again",  "did",     "you",     "see",
        "that",     "match",   "lunch",  "today",   "maybe",  "later",   "release", "notes",
        "look",     "good",    "thanks", "for",     "fixing", "it",      "what",    "about",
        "tomorrow", "meeting", "agenda", "coffee",  "train",  "late",    "weather", "nice",
        "server",   "restart", "done",   "python",  "rust",   "kernel",  "patch",   "review",
        "please",   "merge",   "tests",  "failing", "flaky",  "network", "cat",     "dog",
        "music",    "concert", "ticket", "price",   "cheap",  "book",    "reading", "movie",
        "night"};
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < nwords; i++) {
        uint64_t x = *seed;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *seed = x;
        const char *w = vocab[x % (sizeof(vocab) / sizeof(vocab[0]))];
        int k = snprintf(buf + n, cap - n, "%s%s", i ? " " : "", w);
        if (k < 0 || (size_t)k >= cap - n) {
            break;
        }
        n += (size_t)k;
    }
    return buf;
}

/* ---- defaults ---- */

static inline int64_t sw_test_parse_num(const char *s, int is_size)
{
    char *end;
    double v = strtod(s, &end);
    while (*end == ' ') {
        end++;
    }
    if (is_size) {
        if (end[0] == 'K') {
            v *= 1024.0;
        } else if (end[0] == 'M') {
            v *= 1024.0 * 1024.0;
        } else if (end[0] == 'G') {
            v *= 1024.0 * 1024.0 * 1024.0;
        }
        return (int64_t)v;
    }
    if (strcmp(end, "ms") == 0) {
        return (int64_t)v;
    }
    if (end[0] == 'm') {
        return (int64_t)(v * 60000.0);
    }
    if (end[0] == 'h') {
        return (int64_t)(v * 3600000.0);
    }
    if (end[0] == 'd') {
        return (int64_t)(v * 86400000.0);
    }
    return (int64_t)(v * 1000.0); /* "s" or bare seconds */
}

/* Apply a flat schema's defaults to @settings (zeroed first by the caller). */
static inline void sw_test_defaults(const struct sw_conf_item *schema, void *settings)
{
    char *base = settings;
    for (const struct sw_conf_item *it = schema; it->key != NULL; it++) {
        if (it->def == NULL) {
            continue;
        }
        switch (it->type) {
        case SW_CONF_BOOL:
            *(bool *)(void *)(base + it->offset) = strcmp(it->def, "true") == 0;
            break;
        case SW_CONF_INT:
            *(int64_t *)(void *)(base + it->offset) = strtoll(it->def, NULL, 10);
            break;
        case SW_CONF_DURATION:
            *(int64_t *)(void *)(base + it->offset) = sw_test_parse_num(it->def, 0);
            break;
        case SW_CONF_SIZE:
            *(int64_t *)(void *)(base + it->offset) = sw_test_parse_num(it->def, 1);
            break;
        default:
            break;
        }
    }
}

/* Set one INT/DURATION/SIZE setting by key (tests that shrink memory etc.). */
static inline void sw_test_set_int(const struct sw_conf_item *schema, void *settings,
                                   const char *key, int64_t v)
{
    for (const struct sw_conf_item *it = schema; it->key != NULL; it++) {
        if (strcmp(it->key, key) == 0) {
            *(int64_t *)(void *)((char *)settings + it->offset) = v;
            return;
        }
    }
    fprintf(stderr, "no such key %s\n", key);
    abort();
}

/* ---- hit collection ---- */

#define SW_TEST_MAX_HITS 4096
struct sw_test_sink {
    struct sw_hit_sink sink;
    size_t n;
    struct sw_hit *hits; /* SW_TEST_MAX_HITS */
};

static inline void sw_test_emit(struct sw_hit_sink *s, const struct sw_hit *h)
{
    struct sw_test_sink *t = s->ctx;
    if (t->n < SW_TEST_MAX_HITS) {
        t->hits[t->n] = *h;
    }
    t->n++;
}

static inline void sw_test_sink_init(struct sw_test_sink *t)
{
    t->sink.emit = sw_test_emit;
    t->sink.ctx = t;
    t->n = 0;
    if (t->hits == NULL) {
        t->hits = calloc(SW_TEST_MAX_HITS, sizeof(struct sw_hit));
    }
}

static inline void sw_test_sink_fini(struct sw_test_sink *t)
{
    free(t->hits);
    t->hits = NULL;
}

/* Number of hits with @symbol (NULL = any) and @offender (NULL = any). */
static inline size_t sw_test_count(const struct sw_test_sink *t, const char *symbol,
                                   const char *offender)
{
    size_t c = 0;
    size_t n = t->n < SW_TEST_MAX_HITS ? t->n : SW_TEST_MAX_HITS;
    for (size_t i = 0; i < n; i++) {
        if ((symbol == NULL || strcmp(t->hits[i].symbol, symbol) == 0) &&
            (offender == NULL || strcmp(t->hits[i].offender, offender) == 0)) {
            c++;
        }
    }
    return c;
}

/* ---- a detector instance on one worker ---- */

struct sw_test_det {
    const struct sw_detector_ops *ops;
    void *settings, *shared, *local;
    struct sw_detector_stats st;
    struct sw_test_sink out;
    int64_t last_tick;
};

/* Setup with defaults, then let @tweak adjust settings (may be NULL). */
static inline int sw_test_det_start(struct sw_test_det *d, const struct sw_detector_ops *ops,
                                    void (*tweak)(const struct sw_conf_item *, void *))
{
    memset(d, 0, sizeof(*d));
    d->ops = ops;
    d->settings = calloc(1, ops->settings_size);
    sw_test_defaults(ops->schema, d->settings);
    if (tweak != NULL) {
        tweak(ops->schema, d->settings);
    }
    struct sw_errbuf eb;
    int rc = ops->setup(d->settings, &d->shared, &eb);
    if (rc < 0) {
        return rc;
    }
    rc = ops->thread_init(d->shared, &d->local);
    sw_test_sink_init(&d->out);
    return rc;
}

/* A tick at @t_ms as a worker does it: expire(), then timer() (may emit). */
static inline void sw_test_det_tick(struct sw_test_det *d, int64_t t_ms)
{
    d->ops->expire(d->shared, d->local, t_ms, &d->st);
    if (d->ops->timer != NULL) {
        d->ops->timer(d->shared, d->local, t_ms, &d->out.sink, &d->st);
    }
    d->last_tick = t_ms;
}

/* Feed one event like a single worker would (kind mask, key hook or shard key
 * must be non-zero), and call expire() once per second of stream time. */
static inline void sw_test_det_feed(struct sw_test_det *d, const struct sw_event *ev)
{
    if ((d->ops->events & ev->kind) == 0) {
        return;
    }
    uint64_t key = d->ops->key != NULL ? d->ops->key(ev) : ev->key[d->ops->shard];
    if (key == 0) {
        return;
    }
    if (d->ops->prefetch != NULL) {
        /* the engine calls it a few events before; before a tick here, so
         * the tick runs in between as it may there (a hint: no effect) */
        d->ops->prefetch(d->shared, d->local, ev);
    }
    if (d->last_tick == 0 || ev->t_ms - d->last_tick >= 1000) {
        sw_test_det_tick(d, ev->t_ms);
    }
    d->ops->process(d->shared, d->local, ev, &d->out.sink, &d->st);
}

static inline void sw_test_det_stop(struct sw_test_det *d)
{
    d->ops->thread_fini(d->local);
    d->ops->teardown(d->shared);
    free(d->settings);
    sw_test_sink_fini(&d->out);
}

#endif
