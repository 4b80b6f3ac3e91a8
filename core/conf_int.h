/*
 * conf_int.h - internals shared by core/conf.c (schema binding, registry,
 * dump, RCU), core/conf_yaml.c (file reading, YAML -> node tree, node
 * accessors) and core/conf_arena.c (arena, error format). Calls run one way:
 * conf.c -> conf_yaml.c -> conf_arena.c (and conf.c -> conf_arena.c).
 * Not a public header.
 */
#ifndef SW_CONF_INT_H
#define SW_CONF_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "sw/conf.h"

#define CONF_MAX_FILE ((size_t)4 << 20) /* bytes: larger files are refused */
#define CONF_MAX_DEPTH 64               /* YAML nesting levels */
#define CONF_MAX_SECTIONS 128
#define CONF_NAME_MAX 96
#define CONF_PATH_MAX 256
#define CONF_CHUNK 16384 /* arena chunk bytes */
#define CONF_DEFAULTS_NAME "(built-in defaults)"

struct sw_conf_node {
    enum sw_conf_node_kind kind;
    unsigned line, col; /* 1-based; 0 for built-in defaults */
    const char *file;   /* NULL for built-in defaults */
    const char *str;    /* SCALAR (and NULL: "" or "~"), NUL-terminated */
    size_t len;
    size_t n;                   /* MAP: pairs; SEQ: elements */
    struct sw_conf_node **kids; /* MAP: key0, value0, key1, ...; SEQ: elements */
};

struct conf_chunk {
    struct conf_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

struct conf_section {
    const char *name;
    const struct sw_conf_item *schema;
    size_t size;
    void *settings;
    const struct sw_conf_node *node; /* NULL when absent from the file */
};

struct sw_conf {
    atomic_int refs; /* references besides the creator's (sw_conf_ref) */
    struct conf_chunk *chunks;
    const char *path;
    const struct sw_conf_node *root; /* NULL: defaults only or empty file */
    struct conf_section *sec;
    size_t nsec;
};

/* conf_arena.c */
/* Arena of @c: zeroed, max_align_t-aligned, freed with the snapshot; NULL on ENOMEM. */
void *sw_conf_alloc(struct sw_conf *c, size_t size);
char *sw_conf_strndup(struct sw_conf *c, const char *s, size_t len);

/* "a mapping", "a list", ... for messages. */
const char *sw_conf_node_what(const struct sw_conf_node *n);

/* Fill @eb with "file:line: path: reason" (parts omitted when unknown); returns SW_ECONF. */
int sw_conf_err(struct sw_errbuf *eb, const struct sw_conf_node *at, const char *path,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* conf_yaml.c */
/* YAML plain-scalar spellings of null: "", "~", "null", "Null", "NULL". */
bool sw_conf_scalar_is_null(const char *s, size_t len);

/* Parse @len bytes of YAML into a tree in @owner's arena; @file names the
 * source in nodes and messages (NULL: built-in default). *out = NULL when the
 * stream holds no document. */
int sw_conf_parse(struct sw_conf *owner, const char *file, const char *buf, size_t len,
                  struct sw_conf_node **out, struct sw_errbuf *eb);

/* Read @path (regular file, at most CONF_MAX_FILE bytes) and parse it. */
int sw_conf_parse_file(struct sw_conf *owner, const char *path, struct sw_conf_node **out,
                       struct sw_errbuf *eb);

#endif
