/*
 * conf.h - the YAML configuration: schema tables, binding, snapshots, RCU.
 *
 * Design (after nginx's directive tables and Knot's module schemas): the config
 * file is read with libyaml into a tree that remembers file:line of every node.
 * Each module describes its settings as a const array of struct sw_conf_item
 * (key, type, bounds, default, help, offset into the module's settings struct)
 * and sw_conf_bind() fills that struct from one mapping, applying defaults for
 * absent keys and refusing unknown keys, wrong types and out-of-range values
 * with "file:line: key: reason". Defaults are the `def` strings, parsed by the
 * same code as the file, so built-in defaults and configs/stanzawatch.yaml can
 * be checked against each other by a test.
 *
 * A loaded configuration is an immutable snapshot (struct sw_conf). A reload
 * builds a whole new snapshot; holders that outlive their creator's copy take
 * a reference (sw_conf_ref) and release it with sw_conf_free.
 */
#ifndef SW_CONF_H
#define SW_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sw/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sw_conf_type {
    SW_CONF_BOOL,     /* bool */
    SW_CONF_INT,      /* int64_t, min..max */
    SW_CONF_DOUBLE,   /* double, min..max (bounds as integers scaled by 1e-3: see fmin/fmax) */
    SW_CONF_DURATION, /* int64_t milliseconds; "250ms", "10s", "5m", "2h", "1d" or bare seconds */
    SW_CONF_SIZE,     /* int64_t bytes; "512", "64KB", "16MB", "1GB" (powers of 1024) */
    SW_CONF_STRING,   /* char * (owned by the snapshot), NULL when absent and def NULL */
    SW_CONF_ENUM,     /* int: index into enum_names, given as one of those strings */
    SW_CONF_STRLIST,  /* struct sw_conf_strlist: a YAML sequence of scalars */
    SW_CONF_SECTION,  /* nested mapping bound with .sub into the struct at offset */
    SW_CONF_LIST,     /* sequence of mappings bound with .sub; struct sw_conf_list at offset */
    /* Additions: file paths. Bound like STRING / STRLIST, but a relative path
     * read from a YAML file is resolved against the (absolute) directory of
     * that file; built-in defaults and absolute paths are kept as given (so a
     * relative default is relative to the working directory). "" stays "". */
    SW_CONF_PATH,     /* char *, like STRING */
    SW_CONF_PATHLIST, /* struct sw_conf_strlist, like STRLIST, each entry resolved */
};

struct sw_conf_strlist {
    char **v; /* owned by the snapshot */
    size_t n;
};

struct sw_conf_list {
    void *items; /* n elements of item_size bytes each, owned by the snapshot */
    size_t n;
};

struct sw_conf_item {
    const char *key;
    enum sw_conf_type type;
    size_t offset; /* offsetof() into the settings struct */
    int64_t min;   /* INT/DURATION/SIZE: inclusive bounds (ms, bytes) */
    int64_t max;
    double fmin, fmax;              /* DOUBLE bounds */
    const char *def;                /* default as YAML scalar text; NULL = required (SECTION/LIST:
                                     * empty mapping / empty list) */
    const char *help;               /* one line for `stanzawatch --help-config` and docs */
    const char *const *enum_names;  /* ENUM: NULL-terminated */
    const struct sw_conf_item *sub; /* SECTION/LIST: schema of the nested mapping */
    size_t item_size;               /* LIST: size of one element struct */
};
/* A schema array ends with an item whose key is NULL. */
#define SW_CONF_END                                                                                \
    {                                                                                              \
        .key = NULL                                                                                \
    }

/* Opaque parsed YAML node (mapping, sequence or scalar) with its file:line. */
struct sw_conf_node;

/* An immutable loaded configuration. */
struct sw_conf;

/**
 * Load and fully validate a configuration file (NULL path = built-in defaults
 * only). Every registered section (engine, limits, detectors.*, aggregate,
 * content, reporter, ...) is bound; the returned snapshot owns everything.
 * @return 0 and *out (caller frees with sw_conf_free or hands it on), or SW_ECONF / SW_EIO /
 * SW_ENOMEM with @eb filled as "file:line: key: reason".
 */
int sw_conf_load(const char *path, struct sw_conf **out, struct sw_errbuf *eb);
/** Drop a reference; the snapshot is freed with the last one. Any thread. */
void sw_conf_free(struct sw_conf *c);
/** One more reference to @c (released with sw_conf_free), so a module can keep
 *  a snapshot after its creator let go of it (reload). Any thread. */
void sw_conf_ref(struct sw_conf *c);

/** The settings struct bound for a registered section name ("engine", "limits",
 *  "detectors.muc_flood", "aggregate", "content", "reporter"), or NULL.
 *  Borrowed: valid as long as the snapshot. */
const void *sw_conf_section(const struct sw_conf *c, const char *name);

/** Raw YAML node of a section (for modules that want more than the schema gives). */
const struct sw_conf_node *sw_conf_section_node(const struct sw_conf *c, const char *name);

/** Path the snapshot was loaded from ("(built-in defaults)" when none). */
const char *sw_conf_path(const struct sw_conf *c);

/**
 * Register a top-level or nested section before sw_conf_load (done once at
 * start-up by the engine for its own sections and by the detector registry for
 * detectors.<name>). @name may be dotted ("detectors.muc_flood"). Not
 * thread-safe: call from main before any load.
 */
int sw_conf_register(const char *name, const struct sw_conf_item *schema, size_t settings_size);

/**
 * Bind one mapping node (NULL = absent: all defaults) into @settings with
 * @schema. Used by sw_conf_load and by modules that bind nested rule files.
 * Allocations (strings, lists) are recorded in @owner and freed with it.
 */
int sw_conf_bind(struct sw_conf *owner, const struct sw_conf_node *map,
                 const struct sw_conf_item *schema, void *settings, struct sw_errbuf *eb);

/**
 * Directory of the shipped data files (engine/datadir.c): the source tree's
 * configs/ when the binary runs from its build tree, else the install's
 * sysconfdir/stanzawatch found relative to the binary, else the compiled-in
 * one. A relative SW_CONF_PATH(LIST) built-in default resolves against it.
 * Absolute, no trailing slash; static storage; thread-safe (computed once).
 */
const char *sw_conf_data_dir(void);

/** Write the documented defaults of every registered section as YAML to @fp
 *  (what configs/stanzawatch.yaml must equal modulo comments). */
int sw_conf_dump_defaults(FILE *fp);

/* ---- Additions (core/conf.c): raw nodes, extra files, dump, registry ---- */

/* Kind of a parsed YAML node. NULL is a plain empty scalar, "~" or "null"; where
 * a mapping or list is expected it counts as an empty one. */
enum sw_conf_node_kind {
    SW_CONF_NODE_NULL = 0,
    SW_CONF_NODE_SCALAR,
    SW_CONF_NODE_MAP,
    SW_CONF_NODE_SEQ,
};

/**
 * Parse an extra YAML file (e.g. a rule file included by the content section)
 * with the same limits and checks as sw_conf_load (4 MB, no anchors/aliases,
 * no duplicate keys, one document). The nodes live as long as @owner.
 * An empty file gives a NULL-kind node. Not thread-safe for one @owner: call
 * while building the snapshot (control thread), before handing it on.
 * @return 0 and *out, or SW_EIO / SW_ECONF / SW_ENOMEM with @eb filled.
 */
int sw_conf_load_node(struct sw_conf *owner, const char *path, const struct sw_conf_node **out,
                      struct sw_errbuf *eb);

/* Node accessors; all take NULL and then return NULL / 0 / SW_CONF_NODE_NULL.
 * Returned pointers are borrowed from the owning snapshot. */
enum sw_conf_node_kind sw_conf_node_kind(const struct sw_conf_node *n);
/** Text of a SCALAR node (NUL-terminated; quoted scalars unescaped), else NULL. */
const char *sw_conf_node_scalar(const struct sw_conf_node *n);
/** Number of entries of a MAP (pairs) or SEQ (elements); 0 otherwise. */
size_t sw_conf_node_count(const struct sw_conf_node *n);
/** Element @i of a SEQ, or the value of pair @i of a MAP; NULL if out of range. */
const struct sw_conf_node *sw_conf_node_item(const struct sw_conf_node *n, size_t i);
/** Key text of pair @i of a MAP, else NULL. */
const char *sw_conf_node_key(const struct sw_conf_node *n, size_t i);
/** Value of @key in a MAP, else NULL. */
const struct sw_conf_node *sw_conf_node_get(const struct sw_conf_node *map, const char *key);
/** 1-based line of the node in its file (0 for built-in defaults). */
unsigned sw_conf_node_line(const struct sw_conf_node *n);
/** File the node was read from (NULL for built-in defaults). */
const char *sw_conf_node_file(const struct sw_conf_node *n);

/** Write the effective values of every section of @c as YAML (registration
 *  order, then schema order), so that loading the output gives the same dump.
 *  @return 0 or SW_EIO. */
int sw_conf_dump(const struct sw_conf *c, FILE *fp);

/** Like sw_conf_dump_defaults, with a comment line above every key giving its
 *  help text, type and range (for `stanzawatch --help-config` and as a
 *  starting point for configs/stanzawatch.yaml). @return 0 or SW_E*. */
int sw_conf_dump_help(FILE *fp);

/** Registered section @i (registration order): 0 and its name and schema, or
 *  SW_ENOENT past the end. Start-up / tests only (see sw_conf_register). */
int sw_conf_registry_get(size_t i, const char **name, const struct sw_conf_item **schema);
/** Forget every registered section (tests). Snapshots already loaded keep working. */
void sw_conf_registry_reset(void);

/* Schema notes (conf.c):
 * - INT/DURATION/SIZE with min == max == 0 are unbounded (any non-negative
 *   duration/size, any int64 integer).
 * - DOUBLE bounds: fmin..fmax when fmin < fmax; else min..max scaled by 1e-3
 *   when min < max; else unbounded (finite values only).
 * - STRING with enum_names set only accepts those strings (kept as char *).
 * - def NULL: STRING -> NULL, STRLIST/LIST -> empty, SECTION -> sub defaults,
 *   other types -> the key is required. STRLIST/LIST/SECTION defaults are YAML
 *   text ("[a, b]"); scalar defaults are taken as plain scalar text. */

#ifdef __cplusplus
}
#endif
#endif
