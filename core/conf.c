/*
 * conf.c - YAML configuration: parse, bind to schema tables, snapshot, RCU.
 *
 * Design. core/conf_yaml.c reads a file whole (at most 4 MB) and turns
 * libyaml's events into a small tree of nodes (NULL / SCALAR / MAP / SEQ) that
 * remembers file:line:col of every node. Anchors and aliases are refused
 * outright (alias bombs, and nobody needs them in a daemon config), so the tree
 * is a real tree and its size is bounded by the file size. Duplicate keys are
 * refused while the tree is built, with the line of the first occurrence.
 * This file binds trees to schemas, keeps the registry, dumps and publishes;
 * the arena and the error format both use are in core/conf_arena.c.
 *
 * Binding walks a schema table (struct sw_conf_item[], nginx-style directives)
 * over one mapping node: unknown keys are refused with the closest known key
 * as a suggestion (edit distance), absent keys take the item's `def` string,
 * which goes through exactly the same conversion code as file values, so a
 * bad default fails the same way a bad file would. Every error is one line:
 * "file:line: key.path: reason".
 *
 * Sections are registered once at start-up into a global registry (a fixed
 * array; registration is single-threaded, before any load). A dotted name
 * ("detectors.muc_flood") addresses nested mappings. A load binds every
 * registered section into its settings struct and checks that the file holds
 * no key outside the registered sections.
 *
 * Ownership: everything a snapshot needs (nodes, strings, settings structs,
 * lists, extra files loaded with sw_conf_load_node) lives in one arena of
 * chunks owned by the struct sw_conf, freed whole by sw_conf_free().
 *
 * Threading: load/bind run on the control thread. A snapshot is immutable
 * once loaded; whoever keeps one beyond its creator takes a reference
 * (sw_conf_ref, an atomic count), and the last sw_conf_free frees it. The
 * pipeline hands a reloaded snapshot to its detector generation (RCU there,
 * engine/pipeline.c) and to its hit stage, which keeps a reference.
 */
#include "sw/conf.h"

#include "conf_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sw/log.h"

struct conf_reg {
    char name[CONF_NAME_MAX];
    const struct sw_conf_item *schema;
    size_t size;
};

/* Start-up registry: written only before loads, from one thread. */
static struct conf_reg conf_reg[CONF_MAX_SECTIONS];
static size_t conf_nreg;

static struct sw_conf *conf_new(const char *path)
{
    struct sw_conf *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    const char *p = path != NULL ? path : CONF_DEFAULTS_NAME;
    c->path = sw_conf_strndup(c, p, strlen(p));
    if (c->path == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

/* ------------------------------------------------------------------------ */
/* Scalar conversions (shared by file values and `def` strings)              */

/* Unsigned decimal with optional sign; rejects anything else. */
static bool parse_i64(const char *s, int64_t *out)
{
    bool neg = false;
    uint64_t v = 0;
    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    if (!isdigit((unsigned char)*s)) {
        return false;
    }
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (*s != '\0') {
        return false;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) {
            return false;
        }
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) {
            return false;
        }
        *out = (int64_t)v;
    }
    return true;
}

/* Digits, optional blanks, unit; returns the number and points *unit at the unit. */
static bool parse_num_unit(const char *s, int64_t *num, const char **unit)
{
    uint64_t v = 0;
    if (!isdigit((unsigned char)*s)) {
        return false;
    }
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    while (*s == ' ') {
        s++;
    }
    *num = (int64_t)v;
    *unit = s;
    return true;
}

static bool mul_ok(int64_t a, int64_t m, int64_t *out)
{
    if (a != 0 && m > INT64_MAX / a) {
        return false;
    }
    *out = a * m;
    return true;
}

static bool parse_duration(const char *s, int64_t *ms)
{
    static const struct {
        const char *u;
        int64_t mul;
    } units[] = {{"", 1000},   {"ms", 1},      {"s", 1000},    {"sec", 1000},
                 {"m", 60000}, {"min", 60000}, {"h", 3600000}, {"d", 86400000}};
    int64_t num;
    const char *u;
    if (!parse_num_unit(s, &num, &u)) {
        return false;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(u, units[i].u) == 0) {
            return mul_ok(num, units[i].mul, ms);
        }
    }
    return false;
}

static bool parse_size(const char *s, int64_t *bytes)
{
    static const struct {
        const char *u;
        int shift;
    } units[] = {{"", 0},     {"b", 0},   {"k", 10},   {"kb", 10}, {"kib", 10},
                 {"m", 20},   {"mb", 20}, {"mib", 20}, {"g", 30},  {"gb", 30},
                 {"gib", 30}, {"t", 40},  {"tb", 40},  {"tib", 40}};
    int64_t num;
    const char *u;
    if (!parse_num_unit(s, &num, &u)) {
        return false;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(u, units[i].u) == 0) {
            return mul_ok(num, (int64_t)1 << units[i].shift, bytes);
        }
    }
    return false;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES",  "on",   "On",   "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                     "NO",    "off",   "Off",   "OFF"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    if (*s == '\0' || isspace((unsigned char)*s)) {
        return false;
    }
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v)) {
        return false;
    }
    *out = v;
    return true;
}

/* Shortest "%.Ng" that reads back as the same double. */
static void fmt_double(double v, char *buf, size_t size)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            break;
        }
    }
    /* keep it a float to a YAML reader: "1" -> "1.0" */
    if (strpbrk(buf, ".eEn") == NULL) {
        size_t l = strlen(buf);
        if (l + 3 <= size) {
            memcpy(buf + l, ".0", 3);
        }
    }
}

static void fmt_duration(int64_t ms, char *buf, size_t size)
{
    static const struct {
        const char *u;
        int64_t mul;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    if (ms == 0) {
        snprintf(buf, size, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms % units[i].mul == 0) {
            snprintf(buf, size, "%" PRId64 "%s", ms / units[i].mul, units[i].u);
            return;
        }
    }
    snprintf(buf, size, "%" PRId64 "ms", ms);
}

static void fmt_size(int64_t b, char *buf, size_t size)
{
    static const char *const units[] = {"TB", "GB", "MB", "KB"};
    static const int shifts[] = {40, 30, 20, 10};
    if (b > 0) {
        for (size_t i = 0; i < 4; i++) {
            int64_t m = (int64_t)1 << shifts[i];
            if (b % m == 0) {
                snprintf(buf, size, "%" PRId64 "%s", b / m, units[i]);
                return;
            }
        }
    }
    snprintf(buf, size, "%" PRId64, b);
}

static void fmt_typed(enum sw_conf_type t, int64_t v, char *buf, size_t size)
{
    if (t == SW_CONF_DURATION) {
        fmt_duration(v, buf, size);
    } else if (t == SW_CONF_SIZE) {
        fmt_size(v, buf, size);
    } else {
        snprintf(buf, size, "%" PRId64, v);
    }
}

/* ------------------------------------------------------------------------ */
/* Suggestions                                                               */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65], prev[65];
    if (la > 64 || lb > 64) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] +
                         (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = row[j - 1] + 1;
            size_t m = sub < del ? sub : del;
            row[j] = m < ins ? m : ins;
        }
        memcpy(prev, row, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

struct conf_suggest {
    const char *key;
    const char *best;
    size_t best_len; /* length of best when it is a name prefix component */
    size_t dist;
};

static void suggest_try(struct conf_suggest *sg, const char *cand, size_t len)
{
    char tmp[CONF_NAME_MAX];
    if (len >= sizeof(tmp)) {
        return;
    }
    memcpy(tmp, cand, len);
    tmp[len] = '\0';
    size_t d = edit_distance(sg->key, tmp);
    size_t kl = strlen(sg->key);
    size_t limit = kl > len ? kl : len;
    limit = limit / 3 > 2 ? limit / 3 : 2;
    if (d <= limit && d < sg->dist) {
        sg->dist = d;
        sg->best = cand;
        sg->best_len = len;
    }
}

/* Children of registered section prefix @prefix (plen bytes, "" or "a.b."):
 * calls suggest_try / matches for each next name component. */
static bool reg_has_child(const char *prefix, size_t plen, const char *key, size_t klen,
                          bool *exact)
{
    bool found = false;
    for (size_t i = 0; i < conf_nreg; i++) {
        const char *nm = conf_reg[i].name;
        if (strncmp(nm, prefix, plen) != 0) {
            continue;
        }
        const char *rest = nm + plen;
        size_t cl = strcspn(rest, ".");
        if (cl == klen && memcmp(rest, key, klen) == 0) {
            found = true;
            if (rest[cl] == '\0' && exact != NULL) {
                *exact = true;
            }
        }
    }
    return found;
}

static void reg_suggest(struct conf_suggest *sg, const char *prefix, size_t plen)
{
    for (size_t i = 0; i < conf_nreg; i++) {
        const char *nm = conf_reg[i].name;
        if (strncmp(nm, prefix, plen) == 0 && nm[plen] != '\0') {
            suggest_try(sg, nm + plen, strcspn(nm + plen, "."));
        }
    }
}

static int unknown_key(struct sw_errbuf *eb, const struct sw_conf_node *key, const char *path,
                       const struct conf_suggest *sg)
{
    if (sg->best != NULL) {
        return sw_conf_err(eb, key, path, "unknown key (did you mean '%.*s'?)", (int)sg->best_len,
                           sg->best);
    }
    return sw_conf_err(eb, key, path, "unknown key");
}

/* ------------------------------------------------------------------------ */
/* Binding                                                                   */

struct conf_bind {
    struct sw_conf *owner;
    struct sw_errbuf *eb;
    char path[CONF_PATH_MAX];
};

static size_t path_push(struct conf_bind *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append to b->path; returns the previous length for path_pop. */
static size_t path_push(struct conf_bind *b, const char *fmt, ...)
{
    size_t old = strlen(b->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->path + old, sizeof(b->path) - old, fmt, ap);
    va_end(ap);
    return old;
}

static void path_pop(struct conf_bind *b, size_t old)
{
    b->path[old] = '\0';
}

static int bind_map(struct conf_bind *b, const struct sw_conf_node *map,
                    const struct sw_conf_item *schema, void *settings, const char *reg_name);

static int bind_default_tree(struct conf_bind *b, const struct sw_conf_item *it,
                             const struct sw_conf_node **out)
{
    struct sw_conf_node *n = NULL;
    int rc = sw_conf_parse(b->owner, NULL, it->def, strlen(it->def), &n, b->eb);
    if (rc != 0) {
        char msg[sizeof(b->eb->msg)];
        snprintf(msg, sizeof(msg), "%s", b->eb->msg);
        return sw_errbuf_set(b->eb, rc, "%s: bad built-in default \"%s\": %s", b->path, it->def,
                             msg);
    }
    *out = n;
    return 0;
}

static bool in_names(const char *const *names, const char *s, int *idx)
{
    for (int i = 0; names != NULL && names[i] != NULL; i++) {
        if (strcmp(names[i], s) == 0) {
            *idx = i;
            return true;
        }
    }
    return false;
}

static void names_list(const char *const *names, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; names != NULL && names[i] != NULL && off < size; i++) {
        int w = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", names[i]);
        if (w < 0) {
            break;
        }
        off += (size_t)w;
    }
}

static const char *type_what(enum sw_conf_type t)
{
    switch (t) {
    case SW_CONF_BOOL:
        return "a boolean";
    case SW_CONF_INT:
        return "an integer";
    case SW_CONF_DOUBLE:
        return "a number";
    case SW_CONF_DURATION:
        return "a duration";
    case SW_CONF_SIZE:
        return "a size";
    case SW_CONF_STRING:
        return "a string";
    case SW_CONF_PATH:
        return "a path";
    case SW_CONF_ENUM:
        return "a name";
    default:
        return "a value";
    }
}

/*
 * SW_CONF_PATH(LIST) value @s (@len bytes) of node @v: a relative path read
 * from a file becomes "<absolute dir of that file>/<s>" (the directory made
 * absolute with realpath(3), so a dump of the snapshot loads the same from
 * anywhere); a relative built-in default (no file) becomes
 * "<sw_conf_data_dir()>/<s>" (engine/datadir.c); absolute and empty paths are
 * copied as they are. Returns a copy owned by @owner, or NULL when out of memory.
 */
static char *resolve_path(struct sw_conf *owner, const struct sw_conf_node *v, const char *s,
                          size_t len)
{
    if (len == 0 || s[0] == '/') {
        return sw_conf_strndup(owner, s, len);
    }
    char dir[PATH_MAX];
    const char *slash = v->file != NULL ? strrchr(v->file, '/') : NULL;
    if (v->file == NULL) {
        snprintf(dir, sizeof(dir), "%s", sw_conf_data_dir()); /* a built-in default */
    } else if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else if (slash == v->file) {
        snprintf(dir, sizeof(dir), "/");
    } else {
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - v->file), v->file);
    }
    char abs[PATH_MAX];
    const char *base = realpath(dir, abs) != NULL ? abs : dir;
    size_t blen = strlen(base);
    bool sep = blen > 0 && base[blen - 1] != '/';
    size_t n = blen + (sep ? 1 : 0) + len;
    char *out = sw_conf_alloc(owner, n + 1);
    if (out == NULL) {
        return NULL;
    }
    memcpy(out, base, blen);
    if (sep) {
        out[blen] = '/';
    }
    memcpy(out + blen + (sep ? 1 : 0), s, len);
    out[n] = '\0';
    return out;
}

static bool item_bounded(const struct sw_conf_item *it)
{
    return !(it->min == 0 && it->max == 0);
}

static int bind_scalar(struct conf_bind *b, const struct sw_conf_item *it,
                       const struct sw_conf_node *v, void *dst)
{
    char r1[48], r2[48];
    const char *s = v->str;
    if (v->kind != SW_CONF_NODE_SCALAR &&
        !(v->kind == SW_CONF_NODE_NULL &&
          (it->type == SW_CONF_STRING || it->type == SW_CONF_PATH))) {
        return sw_conf_err(b->eb, v, b->path, "expected %s, got %s", type_what(it->type),
                           sw_conf_node_what(v));
    }
    if (v->kind == SW_CONF_NODE_SCALAR && strlen(s) != v->len) {
        return sw_conf_err(b->eb, v, b->path, "value contains a NUL character");
    }
    switch (it->type) {
    case SW_CONF_BOOL: {
        bool x;
        if (!parse_bool(s, &x)) {
            return sw_conf_err(b->eb, v, b->path, "\"%s\" is not a boolean (use true or false)", s);
        }
        memcpy(dst, &x, sizeof(x));
        return 0;
    }
    case SW_CONF_INT:
    case SW_CONF_DURATION:
    case SW_CONF_SIZE: {
        int64_t x = 0;
        if (it->type == SW_CONF_INT && !parse_i64(s, &x)) {
            return sw_conf_err(b->eb, v, b->path, "\"%s\" is not an integer", s);
        }
        if (it->type == SW_CONF_DURATION && !parse_duration(s, &x)) {
            return sw_conf_err(b->eb, v, b->path,
                               "bad duration \"%s\" (an integer with unit ms, s, m, h or d, "
                               "e.g. 250ms, 10s, 5m; bare numbers are seconds)",
                               s);
        }
        if (it->type == SW_CONF_SIZE && !parse_size(s, &x)) {
            return sw_conf_err(b->eb, v, b->path,
                               "bad size \"%s\" (an integer with unit B, KB, MB or GB, "
                               "powers of 1024, e.g. 64KB)",
                               s);
        }
        if (item_bounded(it) && (x < it->min || x > it->max)) {
            fmt_typed(it->type, it->min, r1, sizeof(r1));
            fmt_typed(it->type, it->max, r2, sizeof(r2));
            return sw_conf_err(b->eb, v, b->path, "%s is out of range %s..%s", s, r1, r2);
        }
        memcpy(dst, &x, sizeof(x));
        return 0;
    }
    case SW_CONF_DOUBLE: {
        double x, lo = -HUGE_VAL, hi = HUGE_VAL;
        if (!parse_double(s, &x)) {
            return sw_conf_err(b->eb, v, b->path, "\"%s\" is not a number", s);
        }
        if (it->fmin < it->fmax) {
            lo = it->fmin;
            hi = it->fmax;
        } else if (it->min < it->max) {
            lo = (double)it->min * 1e-3;
            hi = (double)it->max * 1e-3;
        }
        if (x < lo || x > hi) {
            fmt_double(lo, r1, sizeof(r1));
            fmt_double(hi, r2, sizeof(r2));
            return sw_conf_err(b->eb, v, b->path, "%s is out of range %s..%s", s, r1, r2);
        }
        memcpy(dst, &x, sizeof(x));
        return 0;
    }
    case SW_CONF_STRING: {
        char *x = NULL;
        int idx;
        if (v->kind == SW_CONF_NODE_SCALAR) {
            if (it->enum_names != NULL && !in_names(it->enum_names, s, &idx)) {
                char names[256];
                names_list(it->enum_names, names, sizeof(names));
                return sw_conf_err(b->eb, v, b->path, "\"%s\" is not one of %s", s, names);
            }
            x = sw_conf_strndup(b->owner, s, v->len);
            if (x == NULL) {
                return sw_errbuf_set(b->eb, SW_ENOMEM, "%s: out of memory", b->path);
            }
        }
        memcpy(dst, &x, sizeof(x));
        return 0;
    }
    case SW_CONF_PATH: {
        char *x = NULL;
        if (v->kind == SW_CONF_NODE_SCALAR) {
            x = resolve_path(b->owner, v, s, v->len);
            if (x == NULL) {
                return sw_errbuf_set(b->eb, SW_ENOMEM, "%s: out of memory", b->path);
            }
        }
        memcpy(dst, &x, sizeof(x));
        return 0;
    }
    case SW_CONF_ENUM: {
        int idx;
        if (!in_names(it->enum_names, s, &idx)) {
            char names[256];
            names_list(it->enum_names, names, sizeof(names));
            return sw_conf_err(b->eb, v, b->path, "\"%s\" is not one of %s", s, names);
        }
        memcpy(dst, &idx, sizeof(idx));
        return 0;
    }
    default:
        return sw_conf_err(b->eb, v, b->path, "schema error: bad type %d", (int)it->type);
    }
}

static int bind_strlist(struct conf_bind *b, const struct sw_conf_node *v, void *dst, bool paths)
{
    struct sw_conf_strlist l = {0};
    if (v != NULL && v->kind != SW_CONF_NODE_NULL) {
        if (v->kind != SW_CONF_NODE_SEQ) {
            return sw_conf_err(b->eb, v, b->path, "expected a list of strings, got %s",
                               sw_conf_node_what(v));
        }
        if (v->n > 0) {
            l.v = sw_conf_alloc(b->owner, v->n * sizeof(*l.v));
            if (l.v == NULL) {
                return sw_errbuf_set(b->eb, SW_ENOMEM, "%s: out of memory", b->path);
            }
        }
        for (size_t i = 0; i < v->n; i++) {
            const struct sw_conf_node *e = v->kids[i];
            if (e->kind != SW_CONF_NODE_SCALAR) {
                size_t old = path_push(b, "[%zu]", i);
                int rc = sw_conf_err(b->eb, e, b->path, "expected a string, got %s",
                                     sw_conf_node_what(e));
                path_pop(b, old);
                return rc;
            }
            if (strlen(e->str) != e->len) {
                size_t old = path_push(b, "[%zu]", i);
                int rc = sw_conf_err(b->eb, e, b->path, "value contains a NUL character");
                path_pop(b, old);
                return rc;
            }
            l.v[i] = (char *)e->str; /* node text already lives in the owner's arena */
            if (paths && (l.v[i] = resolve_path(b->owner, e, e->str, e->len)) == NULL) {
                return sw_errbuf_set(b->eb, SW_ENOMEM, "%s: out of memory", b->path);
            }
        }
        l.n = v->n;
    }
    memcpy(dst, &l, sizeof(l));
    return 0;
}

static int bind_list(struct conf_bind *b, const struct sw_conf_item *it,
                     const struct sw_conf_node *v, void *dst)
{
    struct sw_conf_list l = {0};
    if (v != NULL && v->kind != SW_CONF_NODE_NULL) {
        if (v->kind != SW_CONF_NODE_SEQ) {
            return sw_conf_err(b->eb, v, b->path, "expected a list of mappings, got %s",
                               sw_conf_node_what(v));
        }
        if (v->n > 0) {
            l.items = sw_conf_alloc(b->owner, v->n * it->item_size);
            if (l.items == NULL) {
                return sw_errbuf_set(b->eb, SW_ENOMEM, "%s: out of memory", b->path);
            }
        }
        for (size_t i = 0; i < v->n; i++) {
            const struct sw_conf_node *e = v->kids[i];
            size_t old = path_push(b, "[%zu]", i);
            int rc;
            if (e->kind != SW_CONF_NODE_MAP) {
                rc = sw_conf_err(b->eb, e, b->path, "expected a mapping, got %s",
                                 sw_conf_node_what(e));
            } else {
                rc = bind_map(b, e, it->sub, (char *)l.items + i * it->item_size, NULL);
            }
            path_pop(b, old);
            if (rc != 0) {
                return rc;
            }
        }
        l.n = v->n;
    }
    memcpy(dst, &l, sizeof(l));
    return 0;
}

/* Bind item @it from value node @v (NULL = absent: default). @map locates
 * "missing required key" errors. */
static int bind_item(struct conf_bind *b, const struct sw_conf_item *it,
                     const struct sw_conf_node *v, const struct sw_conf_node *map, void *settings)
{
    void *dst = (char *)settings + it->offset;
    struct sw_conf_node defnode;
    int rc;
    bool aggregate = it->type == SW_CONF_STRLIST || it->type == SW_CONF_LIST ||
                     it->type == SW_CONF_SECTION || it->type == SW_CONF_PATHLIST;

    if (v == NULL && it->def != NULL) {
        if (aggregate) {
            rc = bind_default_tree(b, it, &v);
            if (rc != 0) {
                return rc;
            }
        } else {
            defnode = (struct sw_conf_node){
                .kind = SW_CONF_NODE_SCALAR, .str = it->def, .len = strlen(it->def)};
            v = &defnode;
        }
    }
    if (v == NULL && !aggregate && it->type != SW_CONF_STRING && it->type != SW_CONF_PATH) {
        return sw_conf_err(b->eb, map, b->path, "missing required key");
    }
    switch (it->type) {
    case SW_CONF_STRLIST:
    case SW_CONF_PATHLIST:
        return bind_strlist(b, v, dst, it->type == SW_CONF_PATHLIST);
    case SW_CONF_LIST:
        return bind_list(b, it, v, dst);
    case SW_CONF_SECTION:
        return bind_map(b, v, it->sub, dst, NULL);
    case SW_CONF_STRING:
    case SW_CONF_PATH:
        if (v == NULL) {
            char *none = NULL;
            memcpy(dst, &none, sizeof(none));
            return 0;
        }
        return bind_scalar(b, it, v, dst);
    default:
        return bind_scalar(b, it, v, dst);
    }
}

/*
 * Bind mapping @map (NULL or NULL-kind = empty) with @schema into @settings.
 * @reg_name: registered section name whose child sections may appear as keys
 * here (they are bound on their own), or NULL.
 */
static int bind_map(struct conf_bind *b, const struct sw_conf_node *map,
                    const struct sw_conf_item *schema, void *settings, const char *reg_name)
{
    if (map != NULL && map->kind == SW_CONF_NODE_NULL) {
        map = NULL;
    }
    if (map != NULL && map->kind != SW_CONF_NODE_MAP) {
        return sw_conf_err(b->eb, map, b->path, "expected a mapping, got %s",
                           sw_conf_node_what(map));
    }
    char prefix[CONF_NAME_MAX + 1];
    size_t plen = 0;
    if (reg_name != NULL) {
        plen = (size_t)snprintf(prefix, sizeof(prefix), "%s.", reg_name);
    }
    /* Refuse unknown keys first: a typo should be reported as such, not as a
     * missing required key. */
    for (size_t k = 0; map != NULL && k < map->n; k++) {
        const struct sw_conf_node *key = map->kids[2 * k];
        bool known = false;
        for (const struct sw_conf_item *it = schema; it != NULL && it->key != NULL; it++) {
            if (strcmp(it->key, key->str) == 0) {
                known = true;
                break;
            }
        }
        if (!known && reg_name != NULL && reg_has_child(prefix, plen, key->str, key->len, NULL)) {
            known = true;
        }
        if (!known) {
            struct conf_suggest sg = {.key = key->str, .dist = SIZE_MAX};
            for (const struct sw_conf_item *it = schema; it != NULL && it->key != NULL; it++) {
                suggest_try(&sg, it->key, strlen(it->key));
            }
            if (reg_name != NULL) {
                reg_suggest(&sg, prefix, plen);
            }
            size_t old = path_push(b, "%s%s", b->path[0] ? "." : "", key->str);
            int rc = unknown_key(b->eb, key, b->path, &sg);
            path_pop(b, old);
            return rc;
        }
    }
    for (const struct sw_conf_item *it = schema; it != NULL && it->key != NULL; it++) {
        const struct sw_conf_node *v = NULL;
        for (size_t k = 0; map != NULL && k < map->n; k++) {
            if (strcmp(map->kids[2 * k]->str, it->key) == 0) {
                v = map->kids[2 * k + 1];
                break;
            }
        }
        size_t old = path_push(b, "%s%s", b->path[0] ? "." : "", it->key);
        int rc = bind_item(b, it, v, map, settings);
        path_pop(b, old);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int sw_conf_bind(struct sw_conf *owner, const struct sw_conf_node *map,
                 const struct sw_conf_item *schema, void *settings, struct sw_errbuf *eb)
{
    struct conf_bind b = {.owner = owner, .eb = eb};
    if (owner == NULL || schema == NULL || settings == NULL) {
        return sw_errbuf_set(eb, SW_EINVAL, "sw_conf_bind: NULL argument");
    }
    return bind_map(&b, map, schema, settings, NULL);
}

/* ------------------------------------------------------------------------ */
/* Registry and load                                                         */

static bool name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= CONF_NAME_MAX || name[0] == '.' || name[len - 1] == '.') {
        return false;
    }
    for (const char *p = name; *p != '\0'; p++) {
        bool ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' ||
                  *p == '-' || (*p == '.' && p[1] != '.');
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* A list section ("taps:"): the schema is one SW_CONF_LIST item with the
 * empty key, bound from the section's node itself. */
static bool reg_is_list(const struct sw_conf_item *schema)
{
    return schema != NULL && schema->key != NULL && schema->key[0] == '\0' &&
           schema->type == SW_CONF_LIST;
}

int sw_conf_register(const char *name, const struct sw_conf_item *schema, size_t settings_size)
{
    if (name == NULL || schema == NULL || !name_valid(name)) {
        return SW_EINVAL;
    }
    for (size_t i = 0; i < conf_nreg; i++) {
        if (strcmp(conf_reg[i].name, name) == 0) {
            return SW_EINVAL;
        }
    }
    if (conf_nreg == CONF_MAX_SECTIONS) {
        return SW_ENOSPC;
    }
    struct conf_reg *r = &conf_reg[conf_nreg++];
    memcpy(r->name, name, strlen(name) + 1);
    r->schema = schema;
    r->size = settings_size;
    return 0;
}

int sw_conf_registry_get(size_t i, const char **name, const struct sw_conf_item **schema)
{
    if (i >= conf_nreg) {
        return SW_ENOENT;
    }
    if (name != NULL) {
        *name = conf_reg[i].name;
    }
    if (schema != NULL) {
        *schema = conf_reg[i].schema;
    }
    return 0;
}

void sw_conf_registry_reset(void)
{
    memset(conf_reg, 0, sizeof(conf_reg));
    conf_nreg = 0;
}

/*
 * Check the intermediate levels of the file against the registry: at prefix
 * @prefix every key must be a registered section or lead to one. Keys of
 * registered sections themselves are checked by bind_map.
 */
static int check_levels(struct conf_bind *b, const struct sw_conf_node *map, char *prefix,
                        size_t plen)
{
    if (map == NULL || map->kind == SW_CONF_NODE_NULL) {
        return 0;
    }
    if (map->kind != SW_CONF_NODE_MAP) {
        return sw_conf_err(b->eb, map, b->path, "expected a mapping, got %s",
                           sw_conf_node_what(map));
    }
    for (size_t k = 0; k < map->n; k++) {
        const struct sw_conf_node *key = map->kids[2 * k];
        bool exact = false;
        if (!reg_has_child(prefix, plen, key->str, key->len, &exact)) {
            struct conf_suggest sg = {.key = key->str, .dist = SIZE_MAX};
            reg_suggest(&sg, prefix, plen);
            size_t old = path_push(b, "%s%s", b->path[0] ? "." : "", key->str);
            int rc = unknown_key(b->eb, key, b->path, &sg);
            path_pop(b, old);
            return rc;
        }
        if (exact) {
            continue; /* a section: bind_map checks its keys and children */
        }
        if (plen + key->len + 2 > CONF_NAME_MAX) {
            continue;
        }
        memcpy(prefix + plen, key->str, key->len);
        prefix[plen + key->len] = '.';
        prefix[plen + key->len + 1] = '\0';
        size_t old = path_push(b, "%s%s", b->path[0] ? "." : "", key->str);
        int rc = check_levels(b, map->kids[2 * k + 1], prefix, plen + key->len + 1);
        path_pop(b, old);
        prefix[plen] = '\0';
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Node at dotted @name under @root, NULL if absent (levels are already checked). */
static const struct sw_conf_node *find_section(const struct sw_conf_node *root, const char *name)
{
    const struct sw_conf_node *n = root;
    while (n != NULL && *name != '\0') {
        size_t cl = strcspn(name, ".");
        const struct sw_conf_node *next = NULL;
        if (n->kind == SW_CONF_NODE_MAP) {
            for (size_t k = 0; k < n->n; k++) {
                const struct sw_conf_node *key = n->kids[2 * k];
                if (key->len == cl && memcmp(key->str, name, cl) == 0) {
                    next = n->kids[2 * k + 1];
                    break;
                }
            }
        }
        n = next;
        name += cl;
        if (*name == '.') {
            name++;
        }
    }
    return n;
}

int sw_conf_load(const char *path, struct sw_conf **out, struct sw_errbuf *eb)
{
    struct sw_conf_node *root = NULL;
    int rc;
    struct sw_conf *c = conf_new(path);
    if (c == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
    }
    if (path != NULL) {
        rc = sw_conf_parse_file(c, path, &root, eb);
        if (rc != 0) {
            goto fail;
        }
    }
    if (root != NULL && root->kind != SW_CONF_NODE_MAP && root->kind != SW_CONF_NODE_NULL) {
        rc = sw_conf_err(eb, root, NULL, "the top level must be a mapping of sections, got %s",
                         sw_conf_node_what(root));
        goto fail;
    }
    c->root = root;
    struct conf_bind b = {.owner = c, .eb = eb};
    char prefix[CONF_NAME_MAX + 1] = "";
    rc = check_levels(&b, root, prefix, 0);
    if (rc != 0) {
        goto fail;
    }
    if (conf_nreg > 0) {
        c->sec = sw_conf_alloc(c, conf_nreg * sizeof(*c->sec));
        if (c->sec == NULL) {
            rc = sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
            goto fail;
        }
    }
    for (size_t i = 0; i < conf_nreg; i++) {
        const struct conf_reg *r = &conf_reg[i];
        struct conf_section *s = &c->sec[i];
        s->name = sw_conf_strndup(c, r->name, strlen(r->name));
        s->settings = sw_conf_alloc(c, r->size);
        if (s->name == NULL || s->settings == NULL) {
            rc = sw_errbuf_set(eb, SW_ENOMEM, "out of memory");
            goto fail;
        }
        s->schema = r->schema;
        s->size = r->size;
        s->node = find_section(root, r->name);
        snprintf(b.path, sizeof(b.path), "%s", r->name);
        if (reg_is_list(r->schema)) {
            rc = bind_item(&b, r->schema, s->node, root, s->settings);
        } else {
            rc = bind_map(&b, s->node, r->schema, s->settings, r->name);
        }
        if (rc != 0) {
            goto fail;
        }
        c->nsec = i + 1;
    }
    *out = c;
    return 0;
fail:
    sw_conf_free(c);
    return rc;
}

const void *sw_conf_section(const struct sw_conf *c, const char *name)
{
    for (size_t i = 0; c != NULL && name != NULL && i < c->nsec; i++) {
        if (strcmp(c->sec[i].name, name) == 0) {
            return c->sec[i].settings;
        }
    }
    return NULL;
}

const struct sw_conf_node *sw_conf_section_node(const struct sw_conf *c, const char *name)
{
    for (size_t i = 0; c != NULL && name != NULL && i < c->nsec; i++) {
        if (strcmp(c->sec[i].name, name) == 0) {
            return c->sec[i].node;
        }
    }
    return NULL;
}

const char *sw_conf_path(const struct sw_conf *c)
{
    return c != NULL ? c->path : NULL;
}

/* ------------------------------------------------------------------------ */
/* Dump                                                                      */

/* Text that reads back unchanged as a YAML plain scalar (and not as null). */
static bool plain_safe(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 64 || sw_conf_scalar_is_null(s, len) ||
        !(isalnum((unsigned char)s[0]) || s[0] == '_' || s[0] == '/')) {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (!(isalnum((unsigned char)*p) || strchr("_.@/+-", *p) != NULL)) {
            return false;
        }
    }
    return true;
}

static void dump_quoted(FILE *fp, const char *s)
{
    if (plain_safe(s)) {
        fputs(s, fp);
        return;
    }
    /* the escapes YAML shares with C; *p is never NUL here */
    static const char esc_from[] = "\"\\\n\t\r";
    static const char *const esc_to[] = {"\\\"", "\\\\", "\\n", "\\t", "\\r"};
    fputc('"', fp);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        /* YAML escapes are code points: C0 controls and DEL as \xNN; C1
         * controls (U+0080..U+009F, NEL among them), LS, PS and BOM are
         * line breaks or invisible to a YAML reader, so escape them too. */
        const char *hit = strchr(esc_from, *p);
        if (hit != NULL) {
            fputs(esc_to[hit - esc_from], fp);
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(fp, "\\x%02x", *p);
        } else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            fprintf(fp, "\\x%02x", p[1]);
            p++;
        } else if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            fputs(p[2] == 0xa8 ? "\\L" : "\\P", fp);
            p += 2;
        } else if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
            fputs("\\uFEFF", fp);
            p += 2;
        } else {
            fputc(*p, fp);
        }
    }
    fputc('"', fp);
}

/* Key prefix: indentation, or "- " for the first key of a list element. */
static void dump_key(FILE *fp, int indent, bool *dash, const char *key)
{
    if (dash != NULL && *dash) {
        fprintf(fp, "%*s- %s:", indent - 2, "", key);
        *dash = false;
    } else {
        fprintf(fp, "%*s%s:", indent, "", key);
    }
}

/* "integer, 1..100", "one of block, drop", ... for --help-config comments. */
static void describe_type(const struct sw_conf_item *it, char *buf, size_t size)
{
    char r1[48], r2[48], names[256];
    switch (it->type) {
    case SW_CONF_BOOL:
        snprintf(buf, size, "true or false");
        return;
    case SW_CONF_INT:
    case SW_CONF_DURATION:
    case SW_CONF_SIZE: {
        const char *t = it->type == SW_CONF_INT    ? "integer"
                        : it->type == SW_CONF_SIZE ? "size (B, KB, MB, GB)"
                                                   : "duration (ms, s, m, h, d)";
        if (!item_bounded(it)) {
            snprintf(buf, size, "%s", t);
            return;
        }
        fmt_typed(it->type, it->min, r1, sizeof(r1));
        fmt_typed(it->type, it->max, r2, sizeof(r2));
        snprintf(buf, size, "%s, %s..%s", t, r1, r2);
        return;
    }
    case SW_CONF_DOUBLE:
        if (it->fmin < it->fmax || it->min < it->max) {
            fmt_double(it->fmin < it->fmax ? it->fmin : (double)it->min * 1e-3, r1, sizeof(r1));
            fmt_double(it->fmin < it->fmax ? it->fmax : (double)it->max * 1e-3, r2, sizeof(r2));
            snprintf(buf, size, "number, %s..%s", r1, r2);
        } else {
            snprintf(buf, size, "number");
        }
        return;
    case SW_CONF_PATH:
        snprintf(buf, size, "path, relative to this file's directory");
        return;
    case SW_CONF_STRING:
    case SW_CONF_ENUM:
        if (it->enum_names != NULL) {
            names_list(it->enum_names, names, sizeof(names));
            snprintf(buf, size, "one of %s", names);
        } else {
            snprintf(buf, size, "string");
        }
        return;
    case SW_CONF_STRLIST:
        snprintf(buf, size, "list of strings");
        return;
    case SW_CONF_PATHLIST:
        snprintf(buf, size, "list of paths, relative to this file's directory");
        return;
    case SW_CONF_SECTION:
        snprintf(buf, size, "mapping");
        return;
    case SW_CONF_LIST: {
        size_t off = (size_t)snprintf(buf, size, "list of mappings with keys");
        for (const struct sw_conf_item *k = it->sub; k != NULL && k->key != NULL && off < size;
             k++) {
            int w = snprintf(buf + off, size - off, "%s %s", k == it->sub ? ":" : ",", k->key);
            if (w < 0) {
                break;
            }
            off += (size_t)w;
        }
        return;
    }
    }
    snprintf(buf, size, "value");
}

/* Write the items of @schema bound in @settings; @dash: first key of a list
 * element; @help: a "# help [type, range]" comment line above every key. */
static void dump_items(FILE *fp, const struct sw_conf_item *schema, const void *settings,
                       int indent, bool *dash, bool help)
{
    char buf[64];
    for (const struct sw_conf_item *it = schema; it != NULL && it->key != NULL; it++) {
        const void *src = (const char *)settings + it->offset;
        if (help) {
            char desc[512];
            describe_type(it, desc, sizeof(desc));
            fprintf(fp, "%*s# %s%s[%s]\n", indent, "", it->help != NULL ? it->help : "",
                    it->help != NULL ? " " : "", desc);
        }
        dump_key(fp, indent, dash, it->key);
        switch (it->type) {
        case SW_CONF_BOOL: {
            bool x;
            memcpy(&x, src, sizeof(x));
            fprintf(fp, " %s\n", x ? "true" : "false");
            break;
        }
        case SW_CONF_INT:
        case SW_CONF_DURATION:
        case SW_CONF_SIZE: {
            int64_t x;
            memcpy(&x, src, sizeof(x));
            fmt_typed(it->type, x, buf, sizeof(buf));
            fprintf(fp, " %s\n", buf);
            break;
        }
        case SW_CONF_DOUBLE: {
            double x;
            memcpy(&x, src, sizeof(x));
            fmt_double(x, buf, sizeof(buf));
            fprintf(fp, " %s\n", buf);
            break;
        }
        case SW_CONF_STRING:
        case SW_CONF_PATH: {
            const char *x;
            memcpy(&x, src, sizeof(x));
            if (x == NULL) {
                fputs(" ~\n", fp);
            } else {
                fputc(' ', fp);
                dump_quoted(fp, x);
                fputc('\n', fp);
            }
            break;
        }
        case SW_CONF_ENUM: {
            int x;
            memcpy(&x, src, sizeof(x));
            fputc(' ', fp);
            dump_quoted(fp, it->enum_names != NULL && x >= 0 ? it->enum_names[x] : "?");
            fputc('\n', fp);
            break;
        }
        case SW_CONF_STRLIST:
        case SW_CONF_PATHLIST: {
            struct sw_conf_strlist l;
            memcpy(&l, src, sizeof(l));
            if (l.n == 0) {
                fputs(" []\n", fp);
                break;
            }
            fputc('\n', fp);
            for (size_t i = 0; i < l.n; i++) {
                fprintf(fp, "%*s- ", indent + 2, "");
                dump_quoted(fp, l.v[i]);
                fputc('\n', fp);
            }
            break;
        }
        case SW_CONF_SECTION:
            if (it->sub == NULL || it->sub->key == NULL) {
                fputs(" {}\n", fp);
            } else {
                fputc('\n', fp);
                dump_items(fp, it->sub, src, indent + 2, NULL, help);
            }
            break;
        case SW_CONF_LIST: {
            struct sw_conf_list l;
            memcpy(&l, src, sizeof(l));
            if (l.n == 0) {
                fputs(" []\n", fp);
                break;
            }
            fputc('\n', fp);
            for (size_t i = 0; i < l.n; i++) {
                const void *e = (const char *)l.items + i * it->item_size;
                if (it->sub == NULL || it->sub->key == NULL) {
                    fprintf(fp, "%*s- {}\n", indent + 2, "");
                    continue;
                }
                bool d = true;
                dump_items(fp, it->sub, e, indent + 4, &d, false);
            }
            break;
        }
        }
    }
}

/* Emit the sections below dotted @prefix ("" or "a.b.") as nested mappings. */
static void dump_level(FILE *fp, const struct sw_conf *c, char *prefix, size_t plen, int indent,
                       bool help)
{
    for (size_t i = 0; i < c->nsec; i++) {
        const char *nm = c->sec[i].name;
        if (strncmp(nm, prefix, plen) != 0) {
            continue;
        }
        const char *comp = nm + plen;
        size_t cl = strcspn(comp, ".");
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            const char *o = c->sec[j].name;
            seen = strncmp(o, prefix, plen) == 0 && strncmp(o + plen, comp, cl) == 0 &&
                   (o[plen + cl] == '.' || o[plen + cl] == '\0');
        }
        if (seen) {
            continue;
        }
        const struct conf_section *self = NULL;
        bool children = false;
        for (size_t j = 0; j < c->nsec; j++) {
            const char *o = c->sec[j].name;
            if (strncmp(o, prefix, plen) != 0 || strncmp(o + plen, comp, cl) != 0) {
                continue;
            }
            if (o[plen + cl] == '\0') {
                self = &c->sec[j];
            } else if (o[plen + cl] == '.') {
                children = true;
            }
        }
        bool items = self != NULL && self->schema != NULL && self->schema->key != NULL;
        if (items && reg_is_list(self->schema)) {
            /* a list section: "name:" then the list's elements, as for a LIST item */
            const struct sw_conf_item *li = self->schema;
            struct sw_conf_list l;
            memcpy(&l, (const char *)self->settings + li->offset, sizeof(l));
            if (help) {
                char desc[512];
                describe_type(li, desc, sizeof(desc));
                fprintf(fp, "%*s# %s [%s]\n", indent, "", li->help != NULL ? li->help : "", desc);
            }
            fprintf(fp, "%*s%.*s:%s\n", indent, "", (int)cl, comp, l.n == 0 ? " []" : "");
            for (size_t e = 0; e < l.n; e++) {
                bool d = true;
                dump_items(fp, li->sub, (const char *)l.items + e * li->item_size, indent + 4, &d,
                           false);
            }
            continue;
        }
        fprintf(fp, "%*s%.*s:%s\n", indent, "", (int)cl, comp, items || children ? "" : " {}");
        if (items) {
            dump_items(fp, self->schema, self->settings, indent + 2, NULL, help);
        }
        if (children && plen + cl + 2 <= CONF_NAME_MAX) {
            char save[CONF_NAME_MAX + 1];
            memcpy(save, prefix, plen + 1);
            memcpy(prefix + plen, comp, cl);
            prefix[plen + cl] = '.';
            prefix[plen + cl + 1] = '\0';
            dump_level(fp, c, prefix, plen + cl + 1, indent + 2, help);
            memcpy(prefix, save, plen + 1);
        }
    }
}

static int conf_dump(const struct sw_conf *c, FILE *fp, bool help)
{
    char prefix[CONF_NAME_MAX + 1] = "";
    if (c == NULL || fp == NULL) {
        return SW_EINVAL;
    }
    dump_level(fp, c, prefix, 0, 0, help);
    fflush(fp);
    return ferror(fp) ? SW_EIO : 0;
}

int sw_conf_dump(const struct sw_conf *c, FILE *fp)
{
    return conf_dump(c, fp, false);
}

/* Dump the built-in defaults, with or without the help comments. */
static int conf_dump_builtin(FILE *fp, bool help)
{
    struct sw_conf *c = NULL;
    struct sw_errbuf eb;
    int rc = sw_conf_load(NULL, &c, &eb);
    if (rc != 0) {
        sw_log_error("conf", "built-in defaults: %s", eb.msg);
        return rc;
    }
    rc = conf_dump(c, fp, help);
    sw_conf_free(c);
    return rc;
}

int sw_conf_dump_help(FILE *fp)
{
    return conf_dump_builtin(fp, true);
}

int sw_conf_dump_defaults(FILE *fp)
{
    return conf_dump_builtin(fp, false);
}
