/*
 * parser.c - the pipeline's parser threads (see engine/pipeline.c for the
 * whole design). Parser i takes chunks k = i, i + P, ... from its input ring,
 * parses them with its own sw_xml (one per stream, fed the stream header
 * once), packs the events into its batch (event array + text arena, reused;
 * the reader cuts chunks at pl_batch_events_cap() stanzas, so only a chunk
 * with more text than the arena makes it grow, and pl_batch_trim() gives
 * that back before the next chunk) and publishes batch k into slot k % S
 * by swapping batches with the slot once the workers have released it.
 *
 * A malformed stanza is skipped, not fatal: see parser_parse().
 *
 * Threading: one thread per parser; the slot turn protocol is described in
 * pipeline_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include "sw/simhash.h"
#include "pipeline_int.h"
#include "sw/log.h"
#include "xml_int.h"

/* ------------------------------------------------------------------ */
/* parsers                                                             */

uint32_t pl_batch_events_cap(size_t batch_bytes)
{
    return (uint32_t)(batch_bytes / 96 + 64);
}

static size_t batch_arena_cap(size_t batch_bytes)
{
    return batch_bytes + batch_bytes / 2 + 4096;
}

struct pl_batch *pl_batch_new(size_t batch_bytes)
{
    struct pl_batch *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->cap = pl_batch_events_cap(batch_bytes);
    b->arena_cap = batch_arena_cap(batch_bytes);
    b->ev = malloc(b->cap * sizeof(*b->ev));
    b->arena = malloc(b->arena_cap);
    if (b->ev == NULL || b->arena == NULL) {
        free(b->ev);
        free(b->arena);
        free(b);
        return NULL;
    }
    return b;
}

void pl_batch_trim(struct pl_batch *b, size_t batch_bytes)
{
    uint32_t cap = pl_batch_events_cap(batch_bytes);
    size_t acap = batch_arena_cap(batch_bytes);
    if (b->cap > cap) {
        struct sw_event *ne = realloc(b->ev, (size_t)cap * sizeof(*ne));
        if (ne != NULL) {
            b->ev = ne;
            b->cap = cap;
        }
    }
    if (b->arena_cap > acap) {
        char *na = realloc(b->arena, acap);
        if (na != NULL) {
            b->arena = na;
            b->arena_cap = acap;
        }
    }
}

void pl_batch_free(struct pl_batch *b)
{
    if (b != NULL) {
        free(b->ev);
        free(b->arena);
        free(b);
    }
}

static void rebase(const char **s, const char *old, size_t used, char *nw)
{
    if (*s >= old && *s < old + used) {
        *s = nw + (*s - old);
    }
}

/* Grow the arena (rare: a chunk with more text than batch_bytes * 1.5) and
 * move every string pointer of the events already packed. */
static int batch_grow_arena(struct pl_batch *b, size_t need)
{
    size_t ncap = b->arena_cap * 2;
    while (ncap < b->used + need) {
        ncap *= 2;
    }
    char *na = malloc(ncap);
    if (na == NULL) {
        return SW_ENOMEM;
    }
    memcpy(na, b->arena, b->used);
    for (uint32_t i = 0; i < b->n; i++) {
        struct sw_event *e = &b->ev[i];
        rebase(&e->from.text, b->arena, b->used, na);
        rebase(&e->to.text, b->arena, b->used, na);
        rebase(&e->id, b->arena, b->used, na);
        rebase(&e->body, b->arena, b->used, na);
        rebase(&e->subject, b->arena, b->used, na);
        rebase(&e->status, b->arena, b->used, na);
        rebase(&e->nick, b->arena, b->used, na);
    }
    free(b->arena);
    b->arena = na;
    b->arena_cap = ncap;
    return 0;
}

static void parser_on_event(void *ud, const struct sw_event *ev)
{
    struct pl_parser *ps = ud;
    struct pl_batch *b = ps->b;
    if (b->n == b->cap) {
        uint32_t ncap = b->cap * 2;
        struct sw_event *ne = realloc(b->ev, (size_t)ncap * sizeof(*ne));
        if (ne == NULL) {
            ps->rc = SW_ENOMEM;
            return;
        }
        b->ev = ne;
        b->cap = ncap;
    }
    size_t need = sw_event_text_size(ev);
    if (b->used + need > b->arena_cap && batch_grow_arena(b, need) < 0) {
        ps->rc = SW_ENOMEM;
        return;
    }
    struct sw_event *d = &b->ev[b->n];
    b->used += sw_event_pack(ev, d, b->arena + b->used);
    b->n++;
    /* Fingerprint an occupant's groupchat body once here, on the parser
     * thread (parsers run in parallel, ahead of the workers), instead of on
     * the room's worker and again on the sender's (muc_flood, muc_raid and
     * room_spam all use it). Direct messages are left to msg_spam, which
     * fingerprints only first contacts, a small share of them. The test and
     * the text read @ev (the parser's scratch, in cache), not its copy @d:
     * d's lines were just written in the batch's event array, usually not in
     * cache, so reading them back waited for those stores. No memo of
     * bodies here: the bodies fingerprinted (an occupant's line to its room,
     * once) hardly repeat; the 36% exact repeats among a capture's bodies
     * are reflections and mirror copies, which are not fingerprinted. A
     * 1024-slot direct-mapped memo (128 KB a parser) hit 0.19% on s150k,
     * 0.31% on the bench capture's first 200 MB, 0.47% on all of it, and
     * cost more than it saved (2026-12-06, branch psim). */
    if (ps->p->fp_bodies && ev->type == SW_T_GROUPCHAT && ev->body_len > 0 &&
        (ev->flags & (SW_F_MUC_GROUPCHAT | SW_F_MUC_REFLECTION | SW_F_HISTORY | SW_F_CARBON)) ==
            SW_F_MUC_GROUPCHAT) {
        size_t nlen;
        d->body_fp = sw_simhash_text(ev->body, ev->body_len, &nlen);
        d->body_fp_len = (uint16_t)nlen;
        d->flags |= SW_F_BODY_FP;
    }
}

static void parser_add_stats(struct sw_xml_stats *dst, const struct sw_xml_stats *s)
{
    dst->bytes += s->bytes;
    dst->stanzas += s->stanzas;
    for (int i = 0; i < 3; i++) {
        dst->by_kind[i] += s->by_kind[i];
    }
    dst->unwrapped += s->unwrapped;
    dst->carbons += s->carbons;
    dst->skipped_oversize += s->skipped_oversize;
    dst->skipped_depth += s->skipped_depth;
    dst->skipped_attr += s->skipped_attr;
    dst->skipped_unknown += s->skipped_unknown;
    dst->bad_stamps += s->bad_stamps;
    dst->parse_errors += s->parse_errors;
    dst->over_limit += s->over_limit;
    dst->over_depth += s->over_depth;
    dst->over_attr += s->over_attr;
    dst->over_text += s->over_text;
    dst->over_jid += s->over_jid;
    dst->over_size += s->over_size;
    dst->malformed += s->malformed;
    dst->ns_overflow += s->ns_overflow;
    dst->reflections += s->reflections;
}

static void parser_publish_stats(struct pl_parser *ps)
{
    struct sw_xml_stats t = ps->xs;
    if (ps->x != NULL) {
        parser_add_stats(&t, sw_xml_stats(ps->x));
    }
    const uint64_t *src = (const uint64_t *)&t;
    uint64_t *dst = (uint64_t *)&ps->pub;
    for (size_t i = 0; i < sizeof(t) / sizeof(uint64_t); i++) {
        SW_CNT_SET(dst[i], src[i]);
    }
}

static void parser_drop_xml(struct pl_parser *ps)
{
    if (ps->x != NULL) {
        parser_add_stats(&ps->xs, sw_xml_stats(ps->x));
        sw_xml_free(ps->x);
        ps->x = NULL;
    }
    ps->cur_stream = -1;
}

/* A stream header that declares no prefix but stream: and names no carbons
 * namespace, so a stanza's bytes alone say what its names mean (what
 * pl_is_reflection() reads them by). */
static bool hdr_plain(const char *h, size_t n)
{
    if (pl_memfind(h, n, "urn:xmpp:carbons", 16) != NULL) {
        return false;
    }
    const char *e = h + n;
    for (const char *q = h; (q = pl_memfind(q, (size_t)(e - q), "xmlns:", 6)) != NULL; q += 6) {
        if ((size_t)(e - q) < 13 || memcmp(q + 6, "stream", 6) != 0 ||
            (q[12] != '=' && q[12] != ' ')) {
            return false;
        }
    }
    return true;
}

/* A fresh sw_xml for @c's stream, fed the stream header. 0 or SW_E* with b->err set. */
static int parser_open(struct pl_parser *ps, const struct pl_chunk *c)
{
    struct sw_pipeline *p = ps->p;
    struct pl_batch *b = ps->b;
    const struct pl_stream *s = c->st;
    struct sw_errbuf eb;
    eb.msg[0] = '\0';
    parser_drop_xml(ps);
    int rc = sw_xml_new(&p->xopts, parser_on_event, ps, &ps->x);
    if (rc < 0) {
        snprintf(b->err, sizeof(b->err), "%s: cannot create parser: %s", s->name, sw_strerror(rc));
        return rc;
    }
    sw_xml_set_stream(ps->x, c->stream, 1);
    rc = sw_xml_feed(ps->x, s->hdr, s->hdr_len, c->arrival_ms, &eb);
    if (rc < 0) {
        snprintf(b->err, sizeof(b->err), "%s:%s", s->name, eb.msg);
        return rc;
    }
    ps->cur_stream = c->stream;
    ps->skip_ok = p->eng->skip_reflections && hdr_plain(s->hdr, s->hdr_len);
    return 0;
}

struct stanza_find {
    uint64_t want, seen; /* find stanza number `want` (0-based) */
    uint64_t end;        /* its end offset in the fed bytes, 0 = not found */
};

static void find_on_stanza(void *ud, uint64_t start, uint64_t end, uint32_t line)
{
    struct stanza_find *f = ud;
    (void)start;
    (void)line;
    if (f->seen++ == f->want) {
        f->end = end;
    }
}

/* Bytes of @d (@len, whole stanzas of stream @st) up to the end of its stanza
 * number @idx: a fresh splitter over the header and @d, with the reader's
 * limits (so it sees exactly the stanzas the reader put in the chunk). 0 if
 * there is no such stanza. Only after a parse error (but input may be full of
 * them: the scan stops at that stanza). */
static size_t stanza_end(const struct sw_pipeline *p, const struct pl_stream *st, const char *d,
                         size_t len, uint64_t idx)
{
    struct stanza_find f = {.want = idx};
    struct sw_split_cb cb = {.stanza = find_on_stanza, .ud = &f};
    struct sw_xml_limits lim = p->xopts.limits;
    struct sw_split *s;
    lim.max_depth = SW_SPLIT_HARD_DEPTH;
    if (sw_split_new(&lim, &cb, &s) < 0) {
        return 0;
    }
    if (sw_split_feed(s, st->hdr, st->hdr_len, NULL) == 0) {
        /* in growing pieces, up to the stanza sought: a stream of malformed
         * stanzas must not make each one rescan the rest of its chunk (the
         * callbacks do not depend on how the bytes are cut) */
        size_t off = 0, step = 4096;
        while (off < len && f.end == 0) {
            size_t n = len - off < step ? len - off : step;
            if (sw_split_feed(s, d + off, n, NULL) != 0) {
                break;
            }
            off += n;
            step = step < ((size_t)1 << 20) ? step * 2 : step;
        }
    }
    sw_split_free(s);
    return f.end > st->hdr_len ? (size_t)(f.end - st->hdr_len) : 0;
}

/*
 * engine.skip_reflections: the bytes of chunk @c (@data) without its MUC
 * reflections (engine/reflect.c), copied into ps->cbuf; *@len their length.
 * A reflection's newlines stay, so line numbers do not move, and one that
 * another stanza follows on its line is kept, so columns do not either. The
 * chunk itself when nothing is left out (or no memory for the copy).
 */
static const char *parser_compact(struct pl_parser *ps, const struct pl_chunk *c, const char *data,
                                  size_t *len)
{
    size_t max_attr = ps->p->xopts.limits.max_attr_bytes;
    size_t out = 0, from = 0;
    uint64_t n = 0;
    for (uint32_t i = 0; i < c->n_spans; i++) {
        size_t s = c->spans[2 * i], e = c->spans[2 * i + 1];
        size_t next = i + 1 < c->n_spans ? c->spans[2 * i + 2] : c->len;
        if (e >= next || e > c->len) {
            continue;
        }
        size_t g = e; /* white space up to the next stanza: usually one '\n' */
        while (g < next && data[g] != '\n') {
            g++;
        }
        if (g == next || !pl_is_reflection(data + s, e - s, max_attr)) {
            continue;
        }
        if (ps->cbuf_cap < c->len) {
            char *b = malloc(c->len);
            if (b == NULL) {
                return data;
            }
            free(ps->cbuf);
            ps->cbuf = b;
            ps->cbuf_cap = c->len;
        }
        memcpy(ps->cbuf + out, data + from, s - from);
        out += s - from;
        size_t nl = (size_t)sw_split_count_nl(data + s, e - s);
        memset(ps->cbuf + out, '\n', nl);
        out += nl;
        from = e;
        n++;
    }
    if (n == 0) {
        return data;
    }
    memcpy(ps->cbuf + out, data + from, c->len - from);
    *len = out + (c->len - from);
    ps->xs.reflections += n;
    ps->xs.stanzas += n;
    return ps->cbuf;
}

/*
 * Parse chunk @c into the batch. A stanza libxml2 rejects (an undefined
 * entity, a mismatched tag, ...) is reported "file:line:col: reason", counted
 * (malformed) and skipped: everything before it is kept, the parser is
 * replaced by a fresh one (fed the stream header) and parsing resumes after
 * it. Only when the bad stanza cannot be located does the whole run stop.
 */
static void parser_parse(struct pl_parser *ps, const struct pl_chunk *c)
{
    struct sw_pipeline *p = ps->p;
    struct pl_batch *b = ps->b;
    const char *data = c->own != NULL ? c->own : c->buf->data + c->off;
    size_t len = c->len;
    struct sw_errbuf eb;
    size_t off = 0;
    uint32_t line = c->line;
    int rc;
    if (ps->cur_stream != (int)c->stream && (rc = parser_open(ps, c)) < 0) {
        goto fail;
    }
    if (c->spans != NULL && c->own == NULL && ps->skip_ok) {
        data = parser_compact(ps, c, data, &len);
    }
    sw_xml_force_over(ps->x, c->own != NULL);
    while (off < len) {
        eb.msg[0] = '\0';
        sw_xml_set_seq(ps->x, (c->k << SW_SEQ_SHIFT) + b->n);
        sw_xml_set_stream(ps->x, c->stream, line);
        uint64_t closed0 = sw_xml_closed(ps->x);
        rc = sw_xml_feed(ps->x, data + off, len - off, c->arrival_ms, &eb);
        if (ps->rc < 0) {
            rc = ps->rc;
            snprintf(b->err, sizeof(b->err), "out of memory");
            goto fail;
        }
        if (rc == 0) {
            break;
        }
        size_t end = stanza_end(p, c->st, data + off, len - off, sw_xml_closed(ps->x) - closed0);
        if (end == 0) {
            snprintf(b->err, sizeof(b->err), "%s:%s", c->st->name, eb.msg);
            goto fail;
        }
        uint64_t n = ++ps->xs.malformed;
        if (n <= 100 || (n & (n - 1)) == 0) {
            sw_log_warn("engine", "%s:%s: malformed stanza skipped (%llu so far)", c->st->name,
                        eb.msg, (unsigned long long)n);
        }
        line += (uint32_t)sw_split_count_nl(data + off, end);
        off += end;
        if ((rc = parser_open(ps, c)) < 0) {
            goto fail;
        }
        sw_xml_force_over(ps->x, c->own != NULL);
    }
    sw_xml_force_over(ps->x, 0);
    return;
fail:
    b->flags |= PL_BATCH_ERROR;
    parser_drop_xml(ps); /* an instance is dead after an error */
    pl_set_error(p, rc == SW_ENOMEM ? SW_ENOMEM : SW_EPARSE, b->err);
    pl_request_abort(p, c->k + 1);
}

static void parser_publish(struct pl_parser *ps)
{
    struct sw_pipeline *p = ps->p;
    uint64_t k = ps->b->k;
    struct pl_slot *s = &p->slots[k % p->S];
    pl_slot_wait_turn(p, k, 2 * k, &ps->wait_out);
    struct pl_batch *old = s->b;
    s->b = ps->b;
    ps->b = old;
    atomic_store_explicit(&s->remaining, p->W, memory_order_relaxed);
    atomic_store_explicit(&s->turn, 2 * k + 1, memory_order_release);
    sw_evcount_notify(&p->ec_slots);
}

void *pl_parser_main(void *arg)
{
    struct pl_parser *ps = arg;
    struct sw_pipeline *p = ps->p;
    struct pl_chunk c;
    pl_thread_name("parse", (int)ps->idx);
    while (sw_ring_wait_readable(ps->in, &ps->wait_in)) {
        sw_ring_pop(ps->in, &c, 1);
        struct pl_batch *b = ps->b;
        pl_batch_trim(b, p->batch_bytes); /* empty now: a dense chunk's growth goes back */
        b->k = c.k;
        b->flags = 0;
        b->n = 0;
        b->used = 0;
        b->bytes = c.len;
        b->arrival_ms = c.arrival_ms;
        b->err[0] = '\0';
        if (c.kind == PL_CHUNK_CLOCK) {
            b->flags |= PL_BATCH_CLOCK;
        } else if (c.kind == PL_CHUNK_END) {
            b->flags |= PL_BATCH_END;
        } else if (c.kind == PL_CHUNK_ERROR) {
            b->flags |= PL_BATCH_ERROR;
            snprintf(b->err, sizeof(b->err), "%s", c.err ? c.err : "error");
            ps->xs.parse_errors++;
            free(c.err);
        } else if (c.k < atomic_load_explicit(&p->abort_k, memory_order_acquire)) {
            parser_parse(ps, &c);
        }
        free(c.own);
        free(c.spans);
        if (c.buf != NULL &&
            atomic_fetch_sub_explicit(&c.buf->refs, 1, memory_order_acq_rel) == 1) {
            sw_ring_push_wait(ps->back, &c.buf, 1, NULL);
            sw_evcount_notify(&p->ec_bufs);
        }
        parser_publish_stats(ps);
        parser_publish(ps);
        ps->batches++;
    }
    parser_drop_xml(ps);
    parser_publish_stats(ps);
    return NULL;
}
