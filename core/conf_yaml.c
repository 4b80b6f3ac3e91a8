/*
 * conf_yaml.c - configuration files to node trees, and the node accessors.
 *
 * A file is read whole (regular files only, at most 4 MB) and fed to
 * libyaml's event parser; events become a tree of nodes (NULL / SCALAR / MAP /
 * SEQ) in the snapshot's arena, each with file:line:col. Anchors and aliases
 * are refused (alias bombs), so the tree is a real tree bounded by the file
 * size; nesting is capped at CONF_MAX_DEPTH; mapping keys must be scalars and
 * duplicate keys are refused with the line of the first occurrence (pairwise
 * for small mappings, sorted for large ones); one document per file.
 *
 * Threading: parsing runs on the control thread while a snapshot is built;
 * the accessors only read an immutable tree and are safe anywhere the
 * snapshot is alive.
 */
#include "conf_int.h"
#include "sw/file.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* ------------------------------------------------------------------------ */
/* YAML -> node tree                                                         */

struct conf_frame {
    struct sw_conf_node *node;
    struct sw_conf_node **kids; /* malloc'd while open, copied to the arena on close */
    size_t n, cap;
};

bool sw_conf_scalar_is_null(const char *s, size_t len)
{
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 &&
            (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0));
}

/*
 * Dotted path of the position being parsed, from the first @count open frames.
 * Each frame but the innermost is at its last child (the next frame's
 * container); the innermost is at its last child too unless @next, in which
 * case it is at the entry about to be added (a key awaiting its value).
 */
static void frames_path(const struct conf_frame *st, size_t count, bool next, char *buf,
                        size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && off < size; i++) {
        const struct conf_frame *f = &st[i];
        bool child = i + 1 < count || !next;
        int w = 0;
        if (f->node->kind == SW_CONF_NODE_MAP) {
            const struct sw_conf_node *key = NULL;
            if (child && f->n >= 2) {
                key = f->kids[(f->n - 1) & ~(size_t)1];
            } else if (!child && f->n % 2 == 1) {
                key = f->kids[f->n - 1];
            }
            if (key != NULL) {
                w = snprintf(buf + off, size - off, "%s%s", off ? "." : "", key->str);
            }
        } else if (!child || f->n > 0) {
            w = snprintf(buf + off, size - off, "[%zu]", child ? f->n - 1 : f->n);
        }
        if (w > 0) {
            off += (size_t)w;
        }
    }
    if (off >= size) {
        buf[size - 1] = '\0';
    }
}

static int key_cmp(const void *a, const void *b)
{
    const struct sw_conf_node *x = *(const struct sw_conf_node *const *)a;
    const struct sw_conf_node *y = *(const struct sw_conf_node *const *)b;
    size_t l = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->str, y->str, l);
    if (r != 0) {
        return r;
    }
    if (x->len != y->len) {
        return x->len < y->len ? -1 : 1;
    }
    /* equal keys: earlier line first, so the later one is reported */
    return x->line < y->line ? -1 : (x->line > y->line ? 1 : (x->col < y->col ? -1 : 1));
}

static bool key_eq(const struct sw_conf_node *a, const struct sw_conf_node *b)
{
    return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

/* Close a MAP/SEQ frame: copy its children to the arena, refuse duplicate keys. */
static int frame_close(struct sw_conf *owner, struct conf_frame *st, size_t depth,
                       struct sw_errbuf *eb)
{
    struct conf_frame *f = &st[depth - 1];
    struct sw_conf_node *n = f->node;
    if (f->n > 0) {
        n->kids = sw_conf_alloc(owner, f->n * sizeof(*n->kids));
        if (n->kids == NULL) {
            return sw_errbuf_set(eb, SW_ENOMEM, "%s: out of memory", n->file);
        }
        memcpy(n->kids, f->kids, f->n * sizeof(*n->kids));
    }
    n->n = n->kind == SW_CONF_NODE_MAP ? f->n / 2 : f->n;
    if (n->kind != SW_CONF_NODE_MAP || n->n < 2) {
        return 0;
    }
    const struct sw_conf_node *dup = NULL, *first = NULL;
    if (n->n <= 16) {
        for (size_t i = 1; i < n->n && dup == NULL; i++) {
            for (size_t j = 0; j < i; j++) {
                if (key_eq(n->kids[2 * i], n->kids[2 * j])) {
                    dup = n->kids[2 * i];
                    first = n->kids[2 * j];
                    break;
                }
            }
        }
    } else {
        /* Large mappings: sort the keys (scratch array) and compare neighbours. */
        struct sw_conf_node **keys = malloc(n->n * sizeof(*keys));
        if (keys == NULL) {
            return sw_errbuf_set(eb, SW_ENOMEM, "%s: out of memory", n->file);
        }
        for (size_t i = 0; i < n->n; i++) {
            keys[i] = n->kids[2 * i];
        }
        qsort(keys, n->n, sizeof(*keys), key_cmp);
        for (size_t i = 1; i < n->n; i++) {
            if (key_eq(keys[i], keys[i - 1])) {
                dup = keys[i];
                first = keys[i - 1];
                break;
            }
        }
        free(keys);
    }
    if (dup != NULL) {
        char path[CONF_PATH_MAX];
        frames_path(st, depth - 1, false, path, sizeof(path));
        size_t pl = strlen(path);
        snprintf(path + pl, sizeof(path) - pl, "%s%s", pl ? "." : "", dup->str);
        return sw_conf_err(eb, dup, path, "duplicate key (first at line %u)", first->line);
    }
    return 0;
}

static int frame_push_kid(struct conf_frame *f, struct sw_conf_node *kid)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        struct sw_conf_node **k = realloc(f->kids, cap * sizeof(*k));
        if (k == NULL) {
            return SW_ENOMEM;
        }
        f->kids = k;
        f->cap = cap;
    }
    f->kids[f->n++] = kid;
    return 0;
}

static int yaml_error(const yaml_parser_t *p, const char *file, struct sw_errbuf *eb)
{
    if (p->error == YAML_MEMORY_ERROR) {
        return sw_errbuf_set(eb, SW_ENOMEM, "%s: out of memory parsing YAML", file);
    }
    const char *problem = p->problem != NULL ? p->problem : "unknown problem";
    if (p->error == YAML_READER_ERROR) {
        return sw_errbuf_set(eb, SW_ECONF, "%s: YAML syntax error: %s (byte offset %zu)", file,
                             problem, p->problem_offset);
    }
    if (p->context != NULL) {
        return sw_errbuf_set(eb, SW_ECONF,
                             "%s:%zu: YAML syntax error: %s (column %zu, %s at line %zu)", file,
                             p->problem_mark.line + 1, problem, p->problem_mark.column + 1,
                             p->context, p->context_mark.line + 1);
    }
    return sw_errbuf_set(eb, SW_ECONF, "%s:%zu: YAML syntax error: %s (column %zu)", file,
                         p->problem_mark.line + 1, problem, p->problem_mark.column + 1);
}

/*
 * Parse @len bytes of YAML into a tree in @owner's arena. @file is the name
 * used in messages and stored in the nodes (NULL for built-in defaults, whose
 * messages then carry no location). *out = NULL for an empty stream.
 */
int sw_conf_parse(struct sw_conf *owner, const char *file, const char *buf, size_t len,
                  struct sw_conf_node **out, struct sw_errbuf *eb)
{
    yaml_parser_t p;
    yaml_event_t ev;
    struct conf_frame st[CONF_MAX_DEPTH];
    size_t depth = 0;
    struct sw_conf_node *root = NULL;
    const char *fname = file != NULL ? file : CONF_DEFAULTS_NAME;
    int ndocs = 0;
    int rc = 0;

    *out = NULL;
    if (!yaml_parser_initialize(&p)) {
        return sw_errbuf_set(eb, SW_ENOMEM, "%s: out of memory", fname);
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    for (bool done = false; !done;) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = yaml_error(&p, fname, eb);
            goto fail;
        }
        struct sw_conf_node at = {.file = file,
                                  .line = (unsigned)ev.start_mark.line + 1,
                                  .col = (unsigned)ev.start_mark.column + 1};
        const yaml_char_t *anchor = NULL;
        enum sw_conf_node_kind kind = SW_CONF_NODE_NULL;
        bool is_node = false;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (ndocs++ > 0) {
                rc = sw_conf_err(eb, &at, NULL, "only one YAML document is allowed per file");
            }
            break;
        case YAML_ALIAS_EVENT:
            rc = sw_conf_err(eb, &at, NULL, "YAML aliases (*%s) are not accepted",
                             (const char *)ev.data.alias.anchor);
            break;
        case YAML_SCALAR_EVENT:
            anchor = ev.data.scalar.anchor;
            is_node = true;
            kind = SW_CONF_NODE_SCALAR;
            if (ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                sw_conf_scalar_is_null((const char *)ev.data.scalar.value, ev.data.scalar.length)) {
                kind = SW_CONF_NODE_NULL;
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
            anchor = ev.data.sequence_start.anchor;
            is_node = true;
            kind = SW_CONF_NODE_SEQ;
            break;
        case YAML_MAPPING_START_EVENT:
            anchor = ev.data.mapping_start.anchor;
            is_node = true;
            kind = SW_CONF_NODE_MAP;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            rc = frame_close(owner, st, depth, eb);
            free(st[depth - 1].kids);
            depth--;
            break;
        default:
            break;
        }
        if (rc == 0 && anchor != NULL) {
            rc = sw_conf_err(eb, &at, NULL, "YAML anchors (&%s) are not accepted",
                             (const char *)anchor);
        }
        if (rc == 0 && is_node) {
            struct sw_conf_node *n = sw_conf_alloc(owner, sizeof(*n));
            if (n == NULL) {
                rc = sw_errbuf_set(eb, SW_ENOMEM, "%s: out of memory", fname);
                goto ev_done;
            }
            *n = at;
            n->kind = kind;
            if (ev.type == YAML_SCALAR_EVENT) {
                n->len = ev.data.scalar.length;
                n->str = sw_conf_strndup(owner, (const char *)ev.data.scalar.value, n->len);
                if (n->str == NULL) {
                    rc = sw_errbuf_set(eb, SW_ENOMEM, "%s: out of memory", fname);
                    goto ev_done;
                }
            }
            if (depth == 0) {
                root = n;
            } else {
                struct conf_frame *f = &st[depth - 1];
                if (f->node->kind == SW_CONF_NODE_MAP && f->n % 2 == 0 &&
                    n->kind != SW_CONF_NODE_SCALAR) {
                    char path[CONF_PATH_MAX];
                    frames_path(st, depth, true, path, sizeof(path));
                    rc = sw_conf_err(eb, n, path, "mapping keys must be non-empty scalars, got %s",
                                     sw_conf_node_what(n));
                    goto ev_done;
                }
                if (frame_push_kid(f, n) != 0) {
                    rc = sw_errbuf_set(eb, SW_ENOMEM, "%s: out of memory", fname);
                    goto ev_done;
                }
            }
            if (kind == SW_CONF_NODE_MAP || kind == SW_CONF_NODE_SEQ) {
                if (depth == CONF_MAX_DEPTH) {
                    rc = sw_conf_err(eb, n, NULL, "YAML nested deeper than %d levels",
                                     CONF_MAX_DEPTH);
                    goto ev_done;
                }
                st[depth++] = (struct conf_frame){.node = n};
            }
        }
    ev_done:
        yaml_event_delete(&ev);
        if (rc != 0) {
            goto fail;
        }
    }
    *out = root;
fail:
    while (depth > 0) {
        free(st[--depth].kids);
    }
    yaml_parser_delete(&p);
    return rc;
}

/* Read a whole regular file of at most CONF_MAX_FILE bytes (NUL-terminated). */
static int conf_read_file(const char *path, char **buf, size_t *len, struct sw_errbuf *eb)
{
    int rc = sw_file_read(path, CONF_MAX_FILE, 0, buf, len);
    switch (rc) {
    case 0:
        return 0;
    case SW_ENOENT:
        return sw_errbuf_set(eb, SW_EIO, "%s: cannot open: %s", path, strerror(errno));
    case SW_EFORBIDDEN:
        return sw_errbuf_set(eb, SW_EIO, "%s: not a regular file", path);
    case SW_ELIMIT:
        return sw_errbuf_set(eb, SW_ECONF, "%s: file is over the 4 MB limit", path);
    case SW_ENOMEM:
        return sw_errbuf_set(eb, SW_ENOMEM, "%s: out of memory", path);
    default:
        return sw_errbuf_set(eb, SW_EIO, "%s: cannot read: %s", path, strerror(errno));
    }
}

int sw_conf_parse_file(struct sw_conf *owner, const char *path, struct sw_conf_node **out,
                       struct sw_errbuf *eb)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = conf_read_file(path, &buf, &len, eb);
    if (rc != 0) {
        return rc;
    }
    const char *file = sw_conf_strndup(owner, path, strlen(path));
    if (file == NULL) {
        free(buf);
        return sw_errbuf_set(eb, SW_ENOMEM, "%s: out of memory", path);
    }
    rc = sw_conf_parse(owner, file, buf, len, out, eb);
    free(buf);
    return rc;
}

int sw_conf_load_node(struct sw_conf *owner, const char *path, const struct sw_conf_node **out,
                      struct sw_errbuf *eb)
{
    static const struct sw_conf_node null_node = {.kind = SW_CONF_NODE_NULL, .str = ""};
    struct sw_conf_node *n = NULL;
    if (owner == NULL || path == NULL || out == NULL) {
        return sw_errbuf_set(eb, SW_EINVAL, "sw_conf_load_node: NULL argument");
    }
    int rc = sw_conf_parse_file(owner, path, &n, eb);
    if (rc != 0) {
        return rc;
    }
    *out = n != NULL ? n : &null_node;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Node accessors                                                            */

enum sw_conf_node_kind sw_conf_node_kind(const struct sw_conf_node *n)
{
    return n != NULL ? n->kind : SW_CONF_NODE_NULL;
}

const char *sw_conf_node_scalar(const struct sw_conf_node *n)
{
    return n != NULL && n->kind == SW_CONF_NODE_SCALAR ? n->str : NULL;
}

size_t sw_conf_node_count(const struct sw_conf_node *n)
{
    return n != NULL && (n->kind == SW_CONF_NODE_MAP || n->kind == SW_CONF_NODE_SEQ) ? n->n : 0;
}

const struct sw_conf_node *sw_conf_node_item(const struct sw_conf_node *n, size_t i)
{
    if (n == NULL || i >= sw_conf_node_count(n)) {
        return NULL;
    }
    return n->kind == SW_CONF_NODE_MAP ? n->kids[2 * i + 1] : n->kids[i];
}

const char *sw_conf_node_key(const struct sw_conf_node *n, size_t i)
{
    if (n == NULL || n->kind != SW_CONF_NODE_MAP || i >= n->n) {
        return NULL;
    }
    return n->kids[2 * i]->str;
}

const struct sw_conf_node *sw_conf_node_get(const struct sw_conf_node *map, const char *key)
{
    if (map == NULL || map->kind != SW_CONF_NODE_MAP || key == NULL) {
        return NULL;
    }
    for (size_t k = 0; k < map->n; k++) {
        if (strcmp(map->kids[2 * k]->str, key) == 0) {
            return map->kids[2 * k + 1];
        }
    }
    return NULL;
}

unsigned sw_conf_node_line(const struct sw_conf_node *n)
{
    return n != NULL ? n->line : 0;
}

const char *sw_conf_node_file(const struct sw_conf_node *n)
{
    return n != NULL ? n->file : NULL;
}
