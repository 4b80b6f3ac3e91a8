/*
 * hitbuf.h - for detector tests that build events field by field (content,
 * classifier): a fixed-size hit buffer that can live on the stack or be
 * returned by value, and a JID setter that borrows its text.
 *
 * sw_test_jid_ref() splits @text (local@domain/resource) into *j pointing at
 * @text itself (it must outlive the event) and hashes `bare` (local@domain)
 * and `domain` exactly as written (sw_hash64, no case folding; `full` stays
 * 0). For events with every hash and shard key filled the way the engine
 * does, use evbuild.h.
 *
 * Header-only (static functions) so each test binary is self-contained.
 */
#ifndef SW_TEST_HITBUF_H
#define SW_TEST_HITBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sw/detector.h"
#include "sw/event.h"

#define SW_TEST_HITS 32

/* The first SW_TEST_HITS hits; n counts them all. Use as a sink's ctx. */
struct sw_test_hits {
    struct sw_hit hits[SW_TEST_HITS];
    size_t n;
};

static inline void sw_test_hits_emit(struct sw_hit_sink *sink, const struct sw_hit *hit)
{
    struct sw_test_hits *c = sink->ctx;
    if (c->n < SW_TEST_HITS) {
        c->hits[c->n] = *hit;
    }
    c->n++;
}

static inline void sw_test_jid_ref(struct sw_jid *j, const char *text)
{
    memset(j, 0, sizeof(*j));
    j->text = text;
    j->len = (uint16_t)strlen(text);
    const char *at = strchr(text, '@');
    const char *slash = strchr(text, '/');
    size_t dstart = 0;
    if (at != NULL && (slash == NULL || at < slash)) {
        j->local_len = (uint16_t)(at - text);
        dstart = (size_t)(at - text) + 1;
    }
    j->domain_off = (uint16_t)dstart;
    j->domain_len = (uint16_t)((slash ? (size_t)(slash - text) : strlen(text)) - dstart);
    if (slash != NULL) {
        j->res_off = (uint16_t)(slash - text + 1);
        j->res_len = (uint16_t)(strlen(text) - j->res_off);
    }
    j->bare = sw_hash64(text, (size_t)j->domain_off + j->domain_len);
    j->domain = sw_hash64(text + dstart, j->domain_len);
}

#endif
