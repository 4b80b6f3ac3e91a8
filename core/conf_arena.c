/*
 * conf_arena.c - what the config parser (conf_yaml.c) and the binder
 * (conf.c) both use, so that each depends on this file and conf.c alone
 * calls conf_yaml.c: the snapshot's arena (every node, string and settings
 * struct of a snapshot lives in its chunks, freed whole by sw_conf_free) and
 * the one-line error format "file:line: key.path: reason".
 *
 * Threading: a snapshot's arena is used by one thread while it is built
 * (control thread); nothing here is shared.
 */
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"

/* ------------------------------------------------------------------------ */
/* Arena                                                                     */

void *sw_conf_alloc(struct sw_conf *c, size_t size)
{
    const size_t a = alignof(max_align_t);
    size = size == 0 ? a : (size + a - 1) & ~(a - 1);
    struct conf_chunk *ch = c->chunks;
    if (ch != NULL && ch->cap - ch->used >= size) {
        void *p = (char *)ch->data + ch->used;
        ch->used += size;
        return p;
    }
    /* Big blocks get their own chunk behind the current one, so the space
     * left in the current chunk is not wasted. */
    bool own = size > CONF_CHUNK / 4;
    size_t cap = own ? size : CONF_CHUNK;
    struct conf_chunk *nc = calloc(1, sizeof(*nc) + cap);
    if (nc == NULL) {
        return NULL;
    }
    nc->cap = cap;
    nc->used = size;
    if (own && ch != NULL) {
        nc->next = ch->next;
        ch->next = nc;
    } else {
        nc->next = ch;
        c->chunks = nc;
    }
    return nc->data;
}

char *sw_conf_strndup(struct sw_conf *c, const char *s, size_t len)
{
    char *p = sw_conf_alloc(c, len + 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

void sw_conf_ref(struct sw_conf *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void sw_conf_free(struct sw_conf *c)
{
    if (c == NULL) {
        return;
    }
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) > 0) {
        return; /* another holder still uses it */
    }
    struct conf_chunk *ch = c->chunks;
    while (ch != NULL) {
        struct conf_chunk *next = ch->next;
        free(ch);
        ch = next;
    }
    free(c);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

const char *sw_conf_node_what(const struct sw_conf_node *n)
{
    if (n == NULL) {
        return "nothing";
    }
    switch (n->kind) {
    case SW_CONF_NODE_NULL:
        return "an empty value";
    case SW_CONF_NODE_SCALAR:
        return "a scalar";
    case SW_CONF_NODE_MAP:
        return "a mapping";
    case SW_CONF_NODE_SEQ:
        return "a list";
    }
    return "?";
}

/* "file:line: path: reason" (location and path omitted when unknown). */
int sw_conf_err(struct sw_errbuf *eb, const struct sw_conf_node *at, const char *path,
                const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *sep = path != NULL && path[0] != '\0' ? ": " : "";
    const char *p = path != NULL ? path : "";
    if (at != NULL && at->file != NULL) {
        return sw_errbuf_set(eb, SW_ECONF, "%s:%u: %s%s%s", at->file, at->line, p, sep, msg);
    }
    if (at != NULL && at->file == NULL && p[0] != '\0') {
        return sw_errbuf_set(eb, SW_ECONF, "%s%s%s (built-in default)", p, sep, msg);
    }
    return sw_errbuf_set(eb, SW_ECONF, "%s%s%s", p, sep, msg);
}
