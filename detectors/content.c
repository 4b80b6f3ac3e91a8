/*
 * content.c - the "content" detector: operator pattern rules on stanza text,
 * matched with Hyperscan.
 *
 * Rules come from detectors.content.rules and from YAML rule files listed in
 * detectors.content.rule_files (each a mapping with one key, `rules:`, holding
 * the same list). A rule has an id, exactly one of `literal`, `regex` or `list`
 * (a file with one literal, or regex with list_regex, per line; '#' comments),
 * flags (caseless, utf8, whole_word), the field it scans (body, subject,
 * status, nick, room, resource), a weight and `normalized`: scan the
 * sw_normalize() skeleton of the text instead of the raw bytes, so leet,
 * look-alike letters, zero-width characters, fullwidth forms and zalgo do not
 * hide a word (literals and list entries of such rules are normalized too;
 * regexes must be written against the skeleton: lower-case ASCII).
 *
 * Design. setup() (control thread, per config generation) loads rule files
 * with sw_conf_load_node + sw_conf_bind into a temporary owner, builds one
 * Hyperscan block database per (field, raw|normalized) that has rules (cached
 * on disk by hs.c), a prototype scratch grown for all of them, and the rule
 * table (ids, symbols, weights); a field with both raw and normalized rules,
 * all raw ones caseless, also gets one database of both: plain ASCII text
 * (most chat lines) normalizes to its own lower-casing, so one scan of that
 * finds both halves' rules (content_process; 2 scans otherwise, or when the
 * one scan finds several rules, whose order the 2 scans define). A bad regex
 * fails setup with the rule id, its file:line and Hyperscan's message, so a
 * reload keeps the old generation.
 * process() (worker) scans each field of the event that has a database, at
 * most max_scan bytes, collects the matched rules (each at most once) and emits
 * one hit per rule: symbol "content.<id>", kind "content-spam", weight = rule
 * weight. Short status, nick, room and resource texts, which repeat all
 * through a stream, are scanned once per worker while they stay in a small
 * memo of what their scans found (struct memo_entry); the texts of an event
 * are prefetched a few events ahead (content_prefetch).
 * A single hit is a signal, not a verdict: the aggregator scores
 * symbols and combines them with the behaviour detectors. One per-worker
 * table (persist_memory) remembers, per sender, its recent messages that
 * matched rules: persist_count of them within persist_window with
 * persist_rules distinct rules (the same text pasted again counts once)
 * emit "content.persistent", a full signal
 * (low-and-slow spam from a long-lived account: no rate, no strangers, only
 * what its lines say gives it away).
 *
 * Symbol strings must outlive a generation (hits sit in queues and the
 * aggregator keys incidents by symbol), so they are interned in a
 * process-lifetime, append-only table written only by setup() under a mutex
 * and never freed: the one global in this file, bounded by distinct rule ids.
 *
 * Threading: setup/teardown on the control thread; thread_init/process/
 * thread_reload/thread_fini on one worker each, with the worker's own scratch,
 * normalization buffer and scan memo in `local`. Shared state is read-only.
 * Ownership: `shared` owns databases, prototype scratch and rule table.
 */
#include "sw/detector.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcommon.h"
#include "hs.h"
#include "sw/simhash.h"
#include "table.h"
#include "sw/conf.h"
#include "sw/log.h"
#include "sw/normalize.h"

#define CONTENT_NAME "content"
#define CONTENT_KIND "content-spam"
#define CONTENT_MAX_SCAN (16 * 1024) /* bytes: upper bound of max_scan */
#define CONTENT_BUF (CONTENT_MAX_SCAN + 64)
#define CONTENT_MAX_MATCH 16   /* distinct rules remembered per event */
#define CONTENT_LIST_LINE 4096 /* bytes of one list file line */

enum content_field { CF_BODY = 0, CF_SUBJECT, CF_STATUS, CF_NICK, CF_ROOM, CF_RESOURCE, CF__COUNT };

/* Schema enum names, in enum content_field order. */
static const char *const field_names[] = {"body", "subject",  "status", "nick",
                                          "room", "resource", NULL};

/* One rule as bound from YAML. */
struct content_rule_conf {
    char *id;
    char *literal;
    char *regex;
    char *list;
    int field; /* index into field_names */
    bool caseless;
    bool utf8;
    bool whole_word;
    bool normalized;
    bool list_regex;
    double weight;
    char *description;
};

struct content_settings {
    bool enabled;
    struct sw_conf_list rules;
    struct sw_conf_strlist rule_files;
    char *base_dir;
    bool cache;
    char *cache_dir;
    int64_t max_scan;
    int64_t persist_window, persist_count, persist_rules, persist_memory;
    double persist_weight;
};

struct content_rule_file {
    struct sw_conf_list rules;
};

#define RULE_ITEM(k, t, f, d, h)                                                                   \
    {                                                                                              \
        .key = (k), .type = (t), .offset = offsetof(struct content_rule_conf, f), .def = (d),      \
        .help = (h)                                                                                \
    }

static const struct sw_conf_item rule_schema[] = {
    RULE_ITEM("id", SW_CONF_STRING, id, NULL,
              "rule name, unique; the hit's symbol is content.<id> (letters, digits, _ - .)"),
    RULE_ITEM("literal", SW_CONF_STRING, literal, NULL, "match this exact text"),
    RULE_ITEM("regex", SW_CONF_STRING, regex, NULL, "match this Hyperscan (PCRE subset) regex"),
    RULE_ITEM("list", SW_CONF_PATH, list, NULL,
              "file with one literal (or regex, see list_regex) per line; '#' starts a comment; "
              "relative to the file that names it"),
    {.key = "field",
     .type = SW_CONF_ENUM,
     .offset = offsetof(struct content_rule_conf, field),
     .def = "body",
     .help = "text scanned",
     .enum_names = field_names},
    RULE_ITEM("caseless", SW_CONF_BOOL, caseless, "true", "ignore case"),
    RULE_ITEM("utf8", SW_CONF_BOOL, utf8, "false",
              "pattern and text are UTF-8 (Unicode classes, caseless beyond ASCII)"),
    RULE_ITEM("whole_word", SW_CONF_BOOL, whole_word, "false", "match only at word boundaries"),
    RULE_ITEM("normalized", SW_CONF_BOOL, normalized, "false",
              "scan the normalized skeleton (leet, look-alikes, zero-width, zalgo folded; "
              "lower-case ASCII) instead of the raw text"),
    RULE_ITEM("list_regex", SW_CONF_BOOL, list_regex, "false",
              "lines of the list file are regexes, not literals"),
    {.key = "weight",
     .type = SW_CONF_DOUBLE,
     .offset = offsetof(struct content_rule_conf, weight),
     .fmin = 0.0,
     .fmax = 100.0,
     .def = "1.0",
     .help = "strength of one hit (1.0 = one full hit); the aggregator multiplies by the "
             "symbol's score"},
    RULE_ITEM("description", SW_CONF_STRING, description, NULL, "free text for operators"),
    SW_CONF_END,
};

static const struct sw_conf_item rule_file_schema[] = {
    {.key = "rules",
     .type = SW_CONF_LIST,
     .offset = offsetof(struct content_rule_file, rules),
     .def = NULL,
     .help = "content rules",
     .sub = rule_schema,
     .item_size = sizeof(struct content_rule_conf)},
    SW_CONF_END,
};

static const struct sw_conf_item content_schema[] = {
    {.key = "enabled",
     .type = SW_CONF_BOOL,
     .offset = offsetof(struct content_settings, enabled),
     .def = "true",
     .help = "run the pattern rules"},
    {.key = "rules",
     .type = SW_CONF_LIST,
     .offset = offsetof(struct content_settings, rules),
     .def = NULL,
     .help = "inline rules (same keys as in rule files)",
     .sub = rule_schema,
     .item_size = sizeof(struct content_rule_conf)},
    {.key = "rule_files",
     .type = SW_CONF_PATHLIST,
     .offset = offsetof(struct content_settings, rule_files),
     .def = "[rules/default.yaml]",
     .help = "YAML files with a `rules:` list; relative to the directory of the config file "
             "that names them (built-in default: the shipped rules/default.yaml, found by "
             "sw_conf_data_dir())"},
    {.key = "base_dir",
     .type = SW_CONF_PATH,
     .offset = offsetof(struct content_settings, base_dir),
     .def = NULL,
     .help = "deprecated: paths read from a config file are relative to that file's "
             "directory; this only applies to relative paths of the built-in defaults"},
    {.key = "cache",
     .type = SW_CONF_BOOL,
     .offset = offsetof(struct content_settings, cache),
     .def = "true",
     .help = "keep compiled Hyperscan databases on disk so restarts skip compiling"},
    {.key = "cache_dir",
     .type = SW_CONF_STRING,
     .offset = offsetof(struct content_settings, cache_dir),
     .def = "/var/cache/stanzawatch",
     .help = "database cache; if not writable: $XDG_CACHE_HOME/stanzawatch, then "
             "/tmp/stanzawatch-cache-<uid>"},
    {.key = "max_scan",
     .type = SW_CONF_SIZE,
     .offset = offsetof(struct content_settings, max_scan),
     .min = 64,
     .max = CONTENT_MAX_SCAN,
     .def = "4KB",
     .help = "bytes of each field scanned (the body is also bounded by limits.body_keep)"},
    {.key = "persist_window",
     .type = SW_CONF_DURATION,
     .offset = offsetof(struct content_settings, persist_window),
     .min = 60000,
     .max = 7 * 86400000ll,
     .def = "1h",
     .help = "content.persistent: an account's messages matching rules are counted this long "
             "after its first one"},
    {.key = "persist_count",
     .type = SW_CONF_INT,
     .offset = offsetof(struct content_settings, persist_count),
     .min = 2,
     .max = 100000,
     .def = "3",
     .help = "messages with a rule of at least persist_weight within persist_window that make "
             "content.persistent (a full signal: low-and-slow spam from an account with a normal "
             "history; one quoted spam line is not)"},
    {.key = "persist_rules",
     .type = SW_CONF_INT,
     .offset = offsetof(struct content_settings, persist_rules),
     .min = 1,
     .max = 32,
     .def = "2",
     .help = "and distinct rules among them (someone talking about medicine repeats one word "
             "list; a spammer varies links, look-alike letters and bait)"},
    {.key = "persist_weight",
     .type = SW_CONF_DOUBLE,
     .offset = offsetof(struct content_settings, persist_weight),
     .fmin = 0.0,
     .fmax = 100.0,
     .def = "0.3",
     .help = "rules weaker than this do not count towards content.persistent"},
    {.key = "persist_memory",
     .type = SW_CONF_SIZE,
     .offset = offsetof(struct content_settings, persist_memory),
     .min = 1024 * 1024,
     .max = 16384ll * 1024 * 1024,
     .def = "8MB",
     .help = "hard cap on the per-worker state (the table of accounts with matching messages, "
             "least recently seen evicted first, plus scan buffers and Hyperscan scratch)"},
    SW_CONF_END,
};

/* ---- symbol interning (process lifetime, setup only) ---- */

#define INTERN_BUCKETS 4096

struct intern_entry {
    struct intern_entry *next;
    char s[];
};

static pthread_mutex_t intern_mu = PTHREAD_MUTEX_INITIALIZER;
static struct intern_entry *intern_tab[INTERN_BUCKETS];

static const char *intern_symbol(const char *prefix, const char *id)
{
    char buf[256];
    int len = snprintf(buf, sizeof(buf), "%s.%s", prefix, id);
    if (len < 0 || (size_t)len >= sizeof(buf)) {
        return NULL;
    }
    size_t b = sw_hash64(buf, (size_t)len) % INTERN_BUCKETS;
    const char *res = NULL;
    pthread_mutex_lock(&intern_mu);
    for (struct intern_entry *e = intern_tab[b]; e != NULL; e = e->next) {
        if (strcmp(e->s, buf) == 0) {
            res = e->s;
            goto out;
        }
    }
    struct intern_entry *e = malloc(sizeof(*e) + (size_t)len + 1);
    if (e != NULL) {
        memcpy(e->s, buf, (size_t)len + 1);
        e->next = intern_tab[b];
        intern_tab[b] = e;
        res = e->s;
    }
out:
    pthread_mutex_unlock(&intern_mu);
    return res;
}

/* ---- shared and local ---- */

struct content_rule {
    const char *symbol; /* interned "content.<id>" */
    uint32_t weight_milli;
    uint8_t field;
};

struct content_shared {
    struct content_rule *rules;
    size_t n_rules;
    struct sw_hs_db *db[CF__COUNT][2]; /* [field][0 raw, 1 normalized] */
    struct sw_hs_db *both[CF__COUNT];  /* raw + normalized patterns in one (mergeable()) */
    uint8_t fields[CF__COUNT];         /* the fields with a database, ascending: the only */
    unsigned n_fields;                 /* ones content_process looks at */
    unsigned pf_fields;                /* the same as bits (1 << field), for content_prefetch */
    struct sw_hs_scratch *proto;
    size_t max_scan;
    int64_t persist_window, persist_count, persist_rules, persist_memory;
    uint32_t persist_weight_milli;
    size_t n_patterns;
    unsigned cache_hits, cache_misses, cache_corrupt;
    double build_ms;
};

/* Scan memo: what the scans of one short field text gave (the rule ids
 * on_match received, in order), keyed by the field and the text's exact
 * bytes. Presence status, nick, room and resource texts repeat all through a
 * stream (a client sends its resource with every stanza: in a swgen capture,
 * seed 7, 150k stanzas, 522 distinct resources in 114,658 scanned, 519 nicks
 * in 4,878), and a resource or nick scan costs ~400 instructions of
 * Hyperscan while a probe costs a hash and a compare.
 * Bodies and subjects are not kept: the bodies scanned here hardly ever
 * repeat. Floods and waves do repeat texts (in the first 200 MB of the
 * bench capture, 36% of the 424,102 message bodies repeat an earlier one),
 * but the repeats are the copies a room sends of one line (reflections to
 * each occupant, forwarded copies), which excluded() skips: of the 272,599
 * bodies scanned there, 1,592 (0.58%) repeat an earlier one at any distance
 * (median 41,946 bodies later), in the swgen capture 135 of 63,998 (0.21%).
 * A body memo of 2048 slots of 128 bytes (256 KB a worker, up to 112 bytes
 * of text, XXH3 of all of it, compared verbatim) hit 414 and 62 times there
 * and cost instructions (callgrind, --threads 1: content_process +5.5% and
 * +5.8%, ~150 a body for the hash and the store; total +0.3%) and samples
 * (worker +8.3%, +8.5%, +9.7%, +2.1% in 4 alternating pairs on the bench
 * capture; the hash took the body's first cache miss, see content_prefetch).
 * Direct-mapped, a slot per cache line; an entry holds the rule ids of the
 * field's scans for a text verbatim, so replaying them into on_match() gives
 * the match set those scans would (on_match() looks only at the id; no scan
 * is ever stopped). Texts over MEMO_TEXT bytes or with more than MEMO_IDS
 * ids are not kept. Rule ids belong to one generation: thread_reload empties
 * the memo. */
#define MEMO_SLOTS 1024 /* power of two: 64 KB a worker */
#define MEMO_TEXT 48    /* bytes of text an entry holds */
#define MEMO_IDS 3      /* rule ids an entry holds */

struct memo_entry {
    uint8_t len;   /* text length, 1..MEMO_TEXT; 0 = empty slot */
    uint8_t field; /* enum content_field */
    uint8_t n;     /* ids */
    uint8_t pad;
    uint32_t id[MEMO_IDS];
    char text[MEMO_TEXT];
};

struct content_local {
    struct sw_hs_scratch *scratch;
    struct sw_table *persist; /* sender -> struct persist_entry */
    int64_t persist_memory;   /* the table was sized from this */
    char norm[CONTENT_BUF];
    struct memo_entry memo[MEMO_SLOTS];
};

/* An account's messages matching rules (content.persistent). */
struct persist_entry {
    struct sw_table_entry h; /* user: seconds of the last content.persistent hit */
    uint32_t start_s;        /* first counted message of the current window */
    uint32_t rules;          /* bit (rule index % 32) of each rule seen */
    uint32_t count;          /* messages counted in the window */
    uint16_t last_to;        /* 16-bit tags of the last counted message's recipient (room) */
    uint16_t last_raw;       /* and of its bytes */
    uint32_t last_s;         /* when the last counted message came */
    uint64_t last_fp;        /* SimHash of the last counted message: one text pasted into several
                              * rooms (a warning quoting spam) counts once */
};

#define PERSIST_SAME_BITS 6 /* SimHash distance up to which two lines are one text */
/* A lure re-spun into the same room counts again only this many seconds after
 * the last counted line: persistence is over time, and a burst of re-spins
 * (three lines of one lure in a second) is a flood, muc_flood's to name. */
#define PERSIST_RESPIN_S 30

/* ---- setup: collecting patterns ---- */

/* Where a pattern came from, for error messages. */
struct pat_src {
    size_t rule;      /* index into the rule table */
    const char *file; /* rule file or list file, NULL = main config */
    unsigned line;    /* 0 if unknown */
    bool from_list;
};

struct pat_group {
    struct sw_hs_pattern *pats;
    struct pat_src *src;
    size_t n, cap;
};

struct build {
    struct content_shared *sh;
    struct pat_group group[CF__COUNT][2];
    char **owned; /* strings to free after compiling */
    size_t n_owned, cap_owned;
    char **rule_ids; /* for duplicate detection, borrowed from the owner */
    const char **rule_where;
    size_t cap_rules;
    struct sw_errbuf *eb;
};

static int own(struct build *b, char *s)
{
    if (b->n_owned == b->cap_owned) {
        size_t cap = b->cap_owned ? b->cap_owned * 2 : 64;
        char **v = realloc(b->owned, cap * sizeof(*v));
        if (v == NULL) {
            free(s);
            return SW_ENOMEM;
        }
        b->owned = v;
        b->cap_owned = cap;
    }
    b->owned[b->n_owned++] = s;
    return 0;
}

static int add_pattern(struct build *b, unsigned field, bool norm, const struct sw_hs_pattern *p,
                       const struct pat_src *src)
{
    struct pat_group *g = &b->group[field][norm ? 1 : 0];
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        struct sw_hs_pattern *np = realloc(g->pats, cap * sizeof(*np));
        if (np == NULL) {
            return SW_ENOMEM;
        }
        g->pats = np;
        struct pat_src *ns = realloc(g->src, cap * sizeof(*ns));
        if (ns == NULL) {
            return SW_ENOMEM;
        }
        g->src = ns;
        g->cap = cap;
    }
    g->pats[g->n] = *p;
    g->src[g->n] = *src;
    g->n++;
    return 0;
}

/* Add one literal or regex entry of rule @ri. Literals of normalized rules are
 * normalized so they look like the text they will meet. */
static int add_entry(struct build *b, size_t ri, const struct content_rule_conf *rc,
                     const char *text, bool is_regex, const struct pat_src *src)
{
    unsigned field = (unsigned)rc->field;
    struct sw_hs_pattern p = {.id = (unsigned)ri};
    p.flags = (rc->caseless ? SW_HS_CASELESS : 0u) | (rc->utf8 ? SW_HS_UTF8 : 0u) |
              (rc->whole_word ? SW_HS_WHOLE_WORD : 0u);
    if (is_regex) {
        p.expr = text;
    } else {
        size_t len = strlen(text);
        p.flags |= SW_HS_LITERAL;
        if (rc->normalized) {
            char *n = malloc(len * 2 + 8);
            if (n == NULL || own(b, n) != 0) {
                return SW_ENOMEM;
            }
            len = sw_normalize(text, len, n, len * 2 + 8, SW_NORM_DEFAULT);
            text = n;
        }
        if (len == 0) {
            return sw_errbuf_set(b->eb, SW_ECONF, "%s: content rule '%s': empty literal",
                                 b->rule_where[ri], b->rule_ids[ri]);
        }
        p.expr = text;
        p.len = len;
    }
    return add_pattern(b, field, rc->normalized, &p, src);
}

static void dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = path != NULL ? strrchr(path, '/') : NULL;
    if (slash == NULL) {
        snprintf(dir, cap, ".");
    } else if (slash == path) {
        snprintf(dir, cap, "/");
    } else {
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
    }
}

static void resolve(const char *base_dir, const char *path, char *out, size_t cap)
{
    if (path[0] == '/' || base_dir == NULL || base_dir[0] == '\0') {
        snprintf(out, cap, "%s", path);
    } else {
        snprintf(out, cap, "%s/%s", base_dir, path);
    }
}

static int add_list(struct build *b, size_t ri, const struct content_rule_conf *rc,
                    const char *path, const struct pat_src *rsrc)
{
    char line[CONTENT_LIST_LINE];
    unsigned lineno = 0, entries = 0;
    int rc_ = 0;
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        return sw_errbuf_set(b->eb, SW_ECONF, "%s:%u: content rule '%s': list %s: %s",
                             rsrc->file ? rsrc->file : "detectors.content", rsrc->line,
                             b->rule_ids[ri], path, strerror(errno));
    }
    char *fname = strdup(path);
    if (fname == NULL || own(b, fname) != 0) {
        fclose(fp);
        return SW_ENOMEM;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            rc_ = sw_errbuf_set(b->eb, SW_ECONF, "%s:%u: line longer than %d bytes", path, lineno,
                                CONTENT_LIST_LINE - 2);
            goto out;
        }
        char *s = line;
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        len = strlen(s);
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' ||
                           s[len - 1] == '\t')) {
            s[--len] = '\0';
        }
        if (len == 0 || s[0] == '#') {
            continue;
        }
        char *copy = strdup(s);
        if (copy == NULL || own(b, copy) != 0) {
            rc_ = SW_ENOMEM;
            goto out;
        }
        struct pat_src src = {.rule = ri, .file = fname, .line = lineno, .from_list = true};
        rc_ = add_entry(b, ri, rc, copy, rc->list_regex, &src);
        if (rc_ != 0) {
            goto out;
        }
        entries++;
    }
    if (ferror(fp)) {
        rc_ = sw_errbuf_set(b->eb, SW_EIO, "%s: read error", path);
    } else if (entries == 0) {
        rc_ = sw_errbuf_set(b->eb, SW_ECONF, "%s:%u: content rule '%s': list %s has no entries",
                            rsrc->file ? rsrc->file : "detectors.content", rsrc->line,
                            b->rule_ids[ri], path);
    }
out:
    fclose(fp);
    return rc_;
}

static bool id_valid(const char *id)
{
    if (id == NULL || id[0] == '\0' || strlen(id) > 120) {
        return false;
    }
    for (const char *p = id; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

/* Add rule @rc (from @file:@line, file NULL = main config, index @idx there). */
static int add_rule(struct build *b, const struct content_rule_conf *rc, const char *file,
                    unsigned line, size_t idx, const char *list_base)
{
    char where[600];
    struct content_shared *sh = b->sh;
    if (file != NULL) {
        snprintf(where, sizeof(where), "%s:%u", file, line);
    } else {
        snprintf(where, sizeof(where), "detectors.content.rules[%zu]", idx);
    }
    if (!id_valid(rc->id)) {
        return sw_errbuf_set(b->eb, SW_ECONF,
                             "%s: content rule needs an id of letters, digits, '_', '-', '.' "
                             "(got '%s')",
                             where, rc->id ? rc->id : "");
    }
    for (size_t i = 0; i < sh->n_rules; i++) {
        if (strcmp(b->rule_ids[i], rc->id) == 0) {
            return sw_errbuf_set(b->eb, SW_ECONF, "%s: content rule '%s' already defined at %s",
                                 where, rc->id, b->rule_where[i]);
        }
    }
    int kinds = (rc->literal != NULL) + (rc->regex != NULL) + (rc->list != NULL);
    if (kinds != 1) {
        return sw_errbuf_set(b->eb, SW_ECONF,
                             "%s: content rule '%s' needs exactly one of literal, regex, list",
                             where, rc->id);
    }
    if (sh->n_rules == b->cap_rules) {
        size_t cap = b->cap_rules ? b->cap_rules * 2 : 64;
        struct content_rule *nr = realloc(sh->rules, cap * sizeof(*nr));
        if (nr == NULL) {
            return SW_ENOMEM;
        }
        sh->rules = nr;
        char **ni = realloc(b->rule_ids, cap * sizeof(*ni));
        if (ni == NULL) {
            return SW_ENOMEM;
        }
        b->rule_ids = ni;
        const char **nw = realloc(b->rule_where, cap * sizeof(*nw));
        if (nw == NULL) {
            return SW_ENOMEM;
        }
        b->rule_where = nw;
        b->cap_rules = cap;
    }
    size_t ri = sh->n_rules;
    char *id = strdup(rc->id);
    char *wh = strdup(where);
    if (id == NULL || own(b, id) != 0 || wh == NULL || own(b, wh) != 0) {
        return SW_ENOMEM;
    }
    const char *sym = intern_symbol(CONTENT_NAME, rc->id);
    if (sym == NULL) {
        return SW_ENOMEM;
    }
    b->rule_ids[ri] = id;
    b->rule_where[ri] = wh;
    sh->rules[ri].symbol = sym;
    sh->rules[ri].weight_milli = (uint32_t)(rc->weight * 1000.0 + 0.5);
    sh->rules[ri].field = (uint8_t)(unsigned)rc->field;
    sh->n_rules++;

    struct pat_src src = {.rule = ri, .file = wh, .line = 0, .from_list = false};
    if (rc->literal != NULL) {
        return add_entry(b, ri, rc, rc->literal, false, &src);
    }
    if (rc->regex != NULL) {
        if (rc->regex[0] == '\0') {
            return sw_errbuf_set(b->eb, SW_ECONF, "%s: content rule '%s': empty regex", where,
                                 rc->id);
        }
        return add_entry(b, ri, rc, rc->regex, true, &src);
    }
    char path[1024];
    resolve(list_base, rc->list, path, sizeof(path));
    struct pat_src rsrc = {.rule = ri, .file = file, .line = line};
    return add_list(b, ri, rc, path, &rsrc);
}

static int load_rule_file(struct build *b, struct sw_conf *owner, const char *path)
{
    const struct sw_conf_node *root = NULL;
    struct content_rule_file rf;
    char dir[1024];
    memset(&rf, 0, sizeof(rf));
    int rc = sw_conf_load_node(owner, path, &root, b->eb);
    if (rc != 0) {
        return rc;
    }
    rc = sw_conf_bind(owner, root, rule_file_schema, &rf, b->eb);
    if (rc != 0) {
        return rc;
    }
    const struct sw_conf_node *seq = sw_conf_node_get(root, "rules");
    dir_of(path, dir, sizeof(dir));
    for (size_t i = 0; i < rf.rules.n; i++) {
        const struct content_rule_conf *rcf = (const struct content_rule_conf *)rf.rules.items + i;
        const struct sw_conf_node *item = sw_conf_node_item(seq, i);
        const char *file = sw_conf_node_file(item);
        rc = add_rule(b, rcf, file != NULL ? file : path, sw_conf_node_line(item), i, dir);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static void content_teardown(void *shared)
{
    struct content_shared *sh = shared;
    if (sh == NULL) {
        return;
    }
    for (int f = 0; f < CF__COUNT; f++) {
        sw_hs_db_free(sh->db[f][0]);
        sw_hs_db_free(sh->db[f][1]);
        sw_hs_db_free(sh->both[f]);
    }
    sw_hs_scratch_free(sh->proto);
    free(sh->rules);
    free(sh);
}

/* Can field @f's raw and normalized patterns share one scan of plain text?
 * Plain text (sw_normalize_ex) whose normalized form has its length is
 * its own lower-casing, so a raw pattern finds in the normalized text what
 * it finds in the raw text when its matching ignores case: every raw pattern
 * caseless, and no regex switching that off inside ("(?-i)", "(?i-...)"; any
 * "(?" but "(?:" disqualifies). */
static bool mergeable(const struct pat_group *raw)
{
    for (size_t i = 0; i < raw->n; i++) {
        const struct sw_hs_pattern *p = &raw->pats[i];
        if ((p->flags & SW_HS_CASELESS) == 0) {
            return false;
        }
        for (const char *q = (p->flags & SW_HS_LITERAL) ? NULL : strstr(p->expr, "(?"); q != NULL;
             q = strstr(q + 2, "(?")) {
            if (q[2] != ':') {
                return false;
            }
        }
    }
    return true;
}

/* One code point of a class, \x{H..} or \xHH, at *@q; advances *@q. */
static bool class_cp(const char **q, uint32_t *cp)
{
    const char *r = *q;
    char *end;
    if (r[0] != '\\' || r[1] != 'x') {
        return false;
    }
    if (r[2] == '{') {
        if (!isxdigit((unsigned char)r[3])) {
            return false;
        }
        unsigned long v = strtoul(r + 3, &end, 16);
        if (*end != '}' || v > 0x10FFFF) {
            return false;
        }
        *cp = (uint32_t)v;
        *q = end + 1;
        return true;
    }
    if (!isxdigit((unsigned char)r[2]) || !isxdigit((unsigned char)r[3])) {
        return false;
    }
    char hex[3] = {r[2], r[3], '\0'};
    *cp = (uint32_t)strtoul(hex, NULL, 16);
    *q = r + 4;
    return true;
}

/* Can no text of printable ASCII bytes match @p? Proven only for shapes
 * read here, anything else is "it may": a literal with a byte >= 0x80 (but
 * under utf8 + caseless, where Unicode case folding could meet ASCII), or a
 * regex that is an alternation of classes of code points, each class
 * [\x{..}-\x{..}...] of code points >= 0x80 taken at least once ({n,},
 * {n,m}, n >= 1, '+' or no quantifier): every match then holds a UTF-8
 * sequence of such a code point, all bytes >= 0x80. Classes holding a
 * code point that Unicode folds together with ASCII (U+017F long s, U+212A
 * Kelvin sign; U+0130, U+0131 dotted and dotless i, U+212B and U+1E9E to be
 * safe) do not count. The default rules zalgo, invisible_flood and
 * fancy_text are such classes: a third of the Hyperscan instructions of
 * plain chat lines went into them (swgen seed 7, 150k stanzas). */
static bool never_plain(const struct sw_hs_pattern *p)
{
    if (p->flags & SW_HS_LITERAL) {
        if ((p->flags & (SW_HS_UTF8 | SW_HS_CASELESS)) == (SW_HS_UTF8 | SW_HS_CASELESS)) {
            return false;
        }
        for (size_t i = 0; i < p->len; i++) {
            if ((unsigned char)p->expr[i] >= 0x80) {
                return true;
            }
        }
        return false;
    }
    static const uint32_t folds_ascii[] = {0x0130, 0x0131, 0x017F, 0x1E9E, 0x212A, 0x212B};
    const char *q = p->expr;
    for (;;) {
        if (*q++ != '[' || *q == ']' || *q == '^') {
            return false;
        }
        while (*q != ']') {
            uint32_t lo, hi;
            if (!class_cp(&q, &lo)) {
                return false;
            }
            hi = lo;
            if (*q == '-' && (q++, !class_cp(&q, &hi))) {
                return false;
            }
            if (lo < 0x80 || hi < lo) {
                return false;
            }
            for (size_t k = 0; k < sizeof(folds_ascii) / sizeof(folds_ascii[0]); k++) {
                if (folds_ascii[k] >= lo && folds_ascii[k] <= hi) {
                    return false;
                }
            }
        }
        q++;
        if (*q == '+') {
            q++;
        } else if (*q == '{') {
            char *end;
            if (!isdigit((unsigned char)q[1]) || strtoul(q + 1, &end, 10) < 1) {
                return false;
            }
            if (*end == ',') {
                end++;
                while (isdigit((unsigned char)*end)) {
                    end++;
                }
            }
            if (*end != '}') {
                return false;
            }
            q = end + 1;
        }
        if (*q == '\0') {
            return true;
        }
        if (*q++ != '|') {
            return false;
        }
    }
}

/* sh->both[f]: field @f's raw and normalized patterns in one database, when
 * it has both and mergeable() (see content_process). It is scanned only on
 * plain text (printable ASCII), so patterns that never_plain() are left out.
 * Not having it only costs a scan: a compile failure here is not an error
 * (each half compiled). */
static int compile_both(struct build *b, int f, const char *cache_dir)
{
    struct content_shared *sh = b->sh;
    const struct pat_group *raw = &b->group[f][0], *norm = &b->group[f][1];
    if (raw->n == 0 || norm->n == 0 || !mergeable(raw)) {
        return 0;
    }
    struct sw_hs_pattern *pats = malloc((raw->n + norm->n) * sizeof(*pats));
    if (pats == NULL) {
        return SW_ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < raw->n + norm->n; i++) {
        const struct sw_hs_pattern *p = i < raw->n ? &raw->pats[i] : &norm->pats[i - raw->n];
        if (!never_plain(p)) {
            pats[n++] = *p;
        }
    }
    if (n == 0) {
        free(pats); /* (no rule can match plain text: two scans, each finding nothing) */
        return 0;
    }
    struct sw_hs_build_info info;
    struct sw_errbuf heb = {.msg = ""};
    int rc = sw_hs_db_build(pats, n, cache_dir, &sh->both[f], &info, &heb);
    free(pats);
    if (rc != 0) {
        sw_log_warn(CONTENT_NAME, "%s: raw and normalized rules not merged: %s", field_names[f],
                    heb.msg);
        return 0;
    }
    sh->build_ms += info.elapsed_ms;
    sh->cache_hits += info.cache_hit;
    sh->cache_misses += !info.cache_hit;
    sh->cache_corrupt += info.cache_corrupt;
    rc = sw_hs_scratch_grow(&sh->proto, sh->both[f]);
    if (rc != 0) {
        return sw_errbuf_set(b->eb, rc, "content: cannot allocate Hyperscan scratch");
    }
    return 0;
}

static int compile_groups(struct build *b, const char *cache_dir)
{
    struct content_shared *sh = b->sh;
    for (int f = 0; f < CF__COUNT; f++) {
        for (int k = 0; k < 2; k++) {
            struct pat_group *g = &b->group[f][k];
            struct sw_hs_build_info info;
            struct sw_errbuf heb = {.msg = ""};
            if (g->n == 0) {
                continue;
            }
            int rc = sw_hs_db_build(g->pats, g->n, cache_dir, &sh->db[f][k], &info, &heb);
            if (rc == SW_EPATTERN && info.bad_index < g->n) {
                const struct pat_src *s = &g->src[info.bad_index];
                if (s->from_list) {
                    return sw_errbuf_set(
                        b->eb, SW_ECONF, "%s:%u: content rule '%s' (%s): bad regex: %s", s->file,
                        s->line, b->rule_ids[s->rule], b->rule_where[s->rule], heb.msg);
                }
                return sw_errbuf_set(b->eb, SW_ECONF, "%s: content rule '%s': bad regex: %s",
                                     b->rule_where[s->rule], b->rule_ids[s->rule], heb.msg);
            }
            if (rc != 0) {
                return sw_errbuf_set(b->eb, rc, "content: %s", heb.msg);
            }
            sh->n_patterns += g->n;
            sh->build_ms += info.elapsed_ms;
            sh->cache_hits += info.cache_hit;
            sh->cache_misses += !info.cache_hit;
            sh->cache_corrupt += info.cache_corrupt;
            rc = sw_hs_scratch_grow(&sh->proto, sh->db[f][k]);
            if (rc != 0) {
                return sw_errbuf_set(b->eb, rc, "content: cannot allocate Hyperscan scratch");
            }
        }
        int rc = compile_both(b, f, cache_dir);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int content_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    /* NULL settings (engine tests without a registered section): no rules. */
    static const struct content_settings no_rules = {.enabled = true,
                                                     .max_scan = 4096,
                                                     .persist_window = 3600000,
                                                     .persist_count = 3,
                                                     .persist_rules = 2,
                                                     .persist_weight = 0.3,
                                                     .persist_memory = 8 * 1024 * 1024};
    const struct content_settings *cs = settings != NULL ? settings : &no_rules;
    struct sw_conf *owner = NULL;
    struct build b;
    char cache_dir[512];
    int rc = SW_ENOMEM;

    memset(&b, 0, sizeof(b));
    *shared = NULL;
    b.eb = eb;
    b.sh = calloc(1, sizeof(*b.sh));
    if (b.sh == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "content: out of memory");
    }
    b.sh->max_scan = (size_t)cs->max_scan;
    b.sh->persist_window = cs->persist_window > 0 ? cs->persist_window : 3600000;
    b.sh->persist_count = cs->persist_count > 0 ? cs->persist_count : 3;
    b.sh->persist_rules = cs->persist_rules > 0 ? cs->persist_rules : 2;
    b.sh->persist_memory = cs->persist_memory > 0 ? cs->persist_memory : 8 * 1024 * 1024;
    b.sh->persist_weight_milli = (uint32_t)(cs->persist_weight * 1000.0 + 0.5);
    if (b.sh->max_scan > CONTENT_MAX_SCAN || b.sh->max_scan == 0) {
        b.sh->max_scan = CONTENT_MAX_SCAN;
    }

    for (size_t i = 0; i < cs->rules.n; i++) {
        rc = add_rule(&b, (const struct content_rule_conf *)cs->rules.items + i, NULL, 0, i,
                      cs->base_dir);
        if (rc != 0) {
            goto fail;
        }
    }
    if (cs->rule_files.n > 0) {
        /* A scratch snapshot of built-in defaults owns the rule files' nodes
         * and bound strings while we copy what we need out of them. */
        rc = sw_conf_load(NULL, &owner, eb);
        if (rc != 0) {
            goto fail;
        }
        for (size_t i = 0; i < cs->rule_files.n; i++) {
            char path[1024];
            resolve(cs->base_dir, cs->rule_files.v[i], path, sizeof(path));
            rc = load_rule_file(&b, owner, path);
            if (rc != 0) {
                goto fail;
            }
        }
    }
    const char *cdir = NULL;
    /* no rules, no cache directory (do not create one for nothing) */
    if (cs->cache && b.sh->n_rules > 0 &&
        sw_hs_cache_dir(cs->cache_dir, cache_dir, sizeof(cache_dir)) == 0) {
        cdir = cache_dir;
    }
    rc = compile_groups(&b, cdir);
    if (rc != 0) {
        goto fail;
    }
    for (int f = 0; f < CF__COUNT; f++) {
        if (b.sh->db[f][0] != NULL || b.sh->db[f][1] != NULL) {
            b.sh->fields[b.sh->n_fields++] = (uint8_t)f;
            b.sh->pf_fields |= 1u << f;
        }
    }
    if (b.sh->n_rules > 0) {
        sw_log_info(CONTENT_NAME,
                    "%zu rules, %zu patterns: %u databases from cache, %u compiled%s (%.0f ms)%s%s",
                    b.sh->n_rules, b.sh->n_patterns, b.sh->cache_hits, b.sh->cache_misses,
                    b.sh->cache_corrupt ? ", corrupt cache files replaced" : "", b.sh->build_ms,
                    cdir ? ", cache " : "", cdir ? cdir : "");
    }
    *shared = b.sh;
    b.sh = NULL;
    rc = 0;
fail:
    if (owner != NULL) {
        sw_conf_free(owner);
    }
    content_teardown(b.sh);
    for (int f = 0; f < CF__COUNT; f++) {
        for (int k = 0; k < 2; k++) {
            free(b.group[f][k].pats);
            free(b.group[f][k].src);
        }
    }
    for (size_t i = 0; i < b.n_owned; i++) {
        free(b.owned[i]);
    }
    free(b.owned);
    free(b.rule_ids);
    free(b.rule_where);
    return rc;
}

/* ---- worker side ---- */

static int content_thread_init(const void *shared, void **local)
{
    const struct content_shared *sh = shared;
    struct content_local *lo = calloc(1, sizeof(*lo));
    if (lo == NULL) {
        return SW_ENOMEM;
    }
    if (sh->proto != NULL && sw_hs_scratch_clone(sh->proto, &lo->scratch) != 0) {
        free(lo);
        return SW_ENOMEM;
    }
    /* persist_memory caps this worker's whole content state: the table gets
     * what the buffers and the Hyperscan scratch leave */
    int64_t budget =
        sh->persist_memory - (int64_t)sizeof(*lo) - (int64_t)sw_hs_scratch_size(lo->scratch);
    int rc = budget < 65536 ? SW_EINVAL
                            : sw_table_new(&lo->persist, sizeof(struct persist_entry), budget);
    if (rc != 0) {
        sw_hs_scratch_free(lo->scratch);
        free(lo);
        return rc;
    }
    lo->persist_memory = sh->persist_memory;
    *local = lo;
    return 0;
}

/* Hot reload: a new generation may have bigger databases; clone its prototype
 * (cheaper and safer than growing in place: on failure the old scratch, still
 * right for the old generation, is kept). The persistence table is kept unless
 * its size changed (SW_EAGAIN: the worker builds a new local). */
static int content_thread_reload(const void *shared, void *local)
{
    const struct content_shared *sh = shared;
    struct content_local *lo = local;
    struct sw_hs_scratch *ns = NULL;
    if (lo->persist_memory != sh->persist_memory) {
        return SW_EAGAIN;
    }
    if (sh->proto != NULL && sw_hs_scratch_clone(sh->proto, &ns) != 0) {
        return SW_ENOMEM;
    }
    sw_hs_scratch_free(lo->scratch);
    lo->scratch = ns;
    /* the memo's rule ids are indexes into the old generation's rules */
    memset(lo->memo, 0, sizeof(lo->memo));
    return 0;
}

static void content_thread_fini(void *local)
{
    struct content_local *lo = local;
    if (lo == NULL) {
        return;
    }
    sw_hs_scratch_free(lo->scratch);
    sw_table_free(lo->persist);
    free(lo);
}

struct match_set {
    uint32_t rule[CONTENT_MAX_MATCH];
    unsigned n;
    unsigned dropped;
};

static int on_match(unsigned id, unsigned long long to, void *ctx)
{
    (void)to;
    struct match_set *m = ctx;
    for (unsigned i = 0; i < m->n; i++) {
        if (m->rule[i] == id) {
            return 0;
        }
    }
    if (m->n == CONTENT_MAX_MATCH) {
        m->dropped++;
        return 0;
    }
    m->rule[m->n++] = id;
    return 0;
}

/* The rule ids on_match() receives for one field, for the memo. */
struct field_rec {
    struct match_set *m;
    uint32_t id[MEMO_IDS];
    unsigned n; /* ids received; more than MEMO_IDS: not kept */
};

static int on_match_rec(unsigned id, unsigned long long to, void *ctx)
{
    struct field_rec *r = ctx;
    if (r->n < MEMO_IDS) {
        r->id[r->n] = id;
    }
    r->n++;
    return on_match(id, to, r->m);
}

/* Fields whose texts the memo keeps (see struct memo_entry). */
static const bool memo_field[CF__COUNT] = {
    [CF_STATUS] = true, [CF_NICK] = true, [CF_ROOM] = true, [CF_RESOURCE] = true};

/* The slot of @field's text (@len 1..MEMO_TEXT bytes). The hash reads the
 * first and last 8 bytes (all of a text up to 16: most nicks and
 * resources), inline: sw_hash64 was 41 instructions a probe, a third of
 * what the memo cost. A collision only costs a scan: entries compare the
 * whole text. */
static struct memo_entry *memo_slot(struct content_local *lo, int field, const char *text,
                                    size_t len)
{
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        memcpy(&a, text, 8);
        memcpy(&b, text + len - 8, 8);
    } else if (len >= 4) {
        uint32_t x, y;
        memcpy(&x, text, 4);
        memcpy(&y, text + len - 4, 4);
        a = x;
        b = y;
    } else {
        a = (unsigned char)text[0] | (uint64_t)(unsigned char)text[len / 2] << 8 |
            (uint64_t)(unsigned char)text[len - 1] << 16;
    }
    uint64_t h =
        (a * 0x9E3779B97F4A7C15ull ^ (b + (len << 3 | (uint64_t)field))) * 0xC2B2AE3D27D4EB4Full;
    return &lo->memo[(h >> 40) & (MEMO_SLOTS - 1)];
}

/* Text of @field in @ev (borrowed); *len 0 when absent. */
static const char *field_text(const struct sw_event *ev, int field, size_t *len)
{
    const uint32_t muc =
        SW_F_MUC_GROUPCHAT | SW_F_MUC_PRESENCE | SW_F_MUC_JOIN | SW_F_MUC_LEAVE | SW_F_MUC_PM;
    switch (field) {
    case CF_BODY:
        *len = ev->body_len;
        return ev->body;
    case CF_SUBJECT:
        *len = ev->subject_len;
        return ev->subject;
    case CF_STATUS:
        *len = ev->status_len;
        return ev->status;
    case CF_NICK:
        *len = ev->nick_len;
        return ev->nick;
    case CF_ROOM:
        if ((ev->flags & muc) == 0 || ev->to.text == NULL) {
            *len = 0;
            return NULL;
        }
        *len = (size_t)ev->to.domain_off + ev->to.domain_len;
        if (*len > ev->to.len) {
            *len = ev->to.len;
        }
        return ev->to.text;
    case CF_RESOURCE:
        if (ev->from.text == NULL || ev->from.res_len == 0 ||
            (size_t)ev->from.res_off + ev->from.res_len > ev->from.len) {
            *len = 0;
            return NULL;
        }
        *len = ev->from.res_len;
        return ev->from.text + ev->from.res_off;
    default:
        *len = 0;
        return NULL;
    }
}

static bool excluded(const struct sw_event *ev)
{
    const uint32_t never = SW_F_FROM_SERVER | SW_F_MUC_REFLECTION | SW_F_HISTORY | SW_F_CARBON;
    return (ev->flags & never) != 0 || ev->from.local_len == 0;
}

/* Bounded copy of "<field>: text" into the hit's body sample (evidence when
 * the matching field is not the body). Cuts before a UTF-8 continuation byte. */
static void set_sample(struct sw_hit *h, int field, const char *text, size_t len)
{
    int n = snprintf(h->body, sizeof(h->body), "%s: ", field_names[field]);
    size_t off = n > 0 ? (size_t)n : 0;
    size_t room = sizeof(h->body) - 1 - off;
    if (len > room) {
        len = room;
        while (len > 0 && ((unsigned char)text[len] & 0xC0u) == 0x80u) {
            len--;
        }
    }
    memcpy(h->body + off, text, len);
    h->body[off + len] = '\0';
}

/* content.persistent: persist_count messages of one account within
 * persist_window, each matching a rule of at least persist_weight, with
 * persist_rules distinct rules among them. One quoted spam line, or one word
 * list repeated in a conversation about medicine, is not; a long-lived
 * account posting a lure every few minutes, varied, is. */
static void persist(const struct content_shared *sh, struct content_local *lo,
                    const struct sw_event *ev, const struct match_set *m, struct sw_hit_sink *out,
                    struct sw_detector_stats *st)
{
    uint32_t bits = 0;
    for (unsigned i = 0; i < m->n; i++) {
        if (sh->rules[m->rule[i]].weight_milli >= sh->persist_weight_milli) {
            bits |= 1u << (m->rule[i] % 32u);
        }
    }
    if (bits == 0 || ev->kind != SW_EV_MESSAGE) {
        return;
    }
    uint32_t now = sw_table_now(lo->persist, ev->t_ms);
    uint32_t prev;
    struct persist_entry *e = sw_table_get(lo->persist, ev->from.bare, now, &prev, st);
    uint32_t win = (uint32_t)(sh->persist_window / 1000);
    if (prev == 0 || e->start_s == 0 || (now > e->start_s && now - e->start_s >= win)) {
        e->start_s = now;
        e->rules = 0;
        e->count = 0;
    }
    /* The same text again counts once when it is pasted: the same bytes, or
     * near the same into another room. Near the same, re-typed into the same
     * room is a lure re-spun (look-alike letters, leet, fullwidth, a
     * defanged link: the skeletons match, the bytes do not), and counts
     * when it comes PERSIST_RESPIN_S after the last counted line (swgen seed
     * 7132: 12 such lures in one room in 47 min counted once). */
    uint64_t fp = sw_simhash_body(ev, NULL);
    uint16_t to = (uint16_t)(ev->to.bare >> 48 | 1u);
    uint16_t raw = (uint16_t)(sw_hash64(ev->body, ev->body_len) >> 48 | 1u);
    if (e->count > 0 && sw_simhash_distance(fp, e->last_fp) <= PERSIST_SAME_BITS &&
        (raw == e->last_raw || to != e->last_to ||
         (now >= e->last_s && now - e->last_s < PERSIST_RESPIN_S))) {
        return;
    }
    e->last_s = now;
    e->last_fp = fp;
    e->last_to = to;
    e->last_raw = raw;
    e->rules |= bits;
    e->count++;
    if ((int64_t)e->count < sh->persist_count ||
        __builtin_popcount(e->rules) < (int)sh->persist_rules) {
        return;
    }
    if (e->h.user != 0 && now >= e->h.user && now - e->h.user < win) {
        return; /* once per window */
    }
    e->h.user = now;
    struct sw_hit h;
    sw_hit_init(&h, CONTENT_NAME, "content.persistent", CONTENT_KIND, ev);
    h.first_ms = ev->t_ms - (int64_t)(now - e->start_s) * 1000;
    sw_hit_add_value(&h, "messages", e->count);
    sw_hit_add_value(&h, "rules", __builtin_popcount(e->rules));
    sw_hit_emit(out, &h);
    st->hits++;
}

/* Scan field @f's @len bytes of @text with its databases; every rule found
 * goes to on_match_rec(@rec), in the order the scans report them. */
static void scan_field(const struct content_shared *sh, struct content_local *lo, int f,
                       const char *text, size_t len, struct field_rec *rec)
{
    size_t n = 0;
    bool normalized = false, plain = false;
    if (sh->both[f] != NULL) {
        /* Plain text normalized to its own length is its lower-casing:
         * the raw patterns (all caseless, mergeable()) match it as they
         * match the raw text, so one scan finds both halves' rules. With
         * at most one rule found that is the whole answer; with more, the
         * order of the two scans below decides the hits' order: scan
         * again that way (rare). */
        n = sw_normalize_ex(text, len, lo->norm, sizeof(lo->norm), SW_NORM_DEFAULT, &plain);
        normalized = true;
        if (plain && n == len) {
            struct match_set one;
            one.n = 0;
            one.dropped = 0;
            sw_hs_scan(sh->both[f], lo->norm, n, lo->scratch, on_match, &one);
            if (one.n + one.dropped <= 1) {
                for (unsigned i = 0; i < one.n; i++) {
                    on_match_rec(one.rule[i], 0, rec);
                }
                return;
            }
        }
    }
    if (sh->db[f][0] != NULL) {
        sw_hs_scan(sh->db[f][0], text, len, lo->scratch, on_match_rec, rec);
    }
    if (sh->db[f][1] != NULL) {
        if (!normalized) {
            n = sw_normalize(text, len, lo->norm, sizeof(lo->norm), SW_NORM_DEFAULT);
        }
        sw_hs_scan(sh->db[f][1], lo->norm, n, lo->scratch, on_match_rec, rec);
    }
}

static void content_process(const void *shared, void *local, const struct sw_event *ev,
                            struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct content_shared *sh = shared;
    struct content_local *lo = local;
    struct match_set m;
    /* Set for the fields with a database only: a rule's field has one. */
    const char *ftext[CF__COUNT];
    size_t flen[CF__COUNT];

    st->events++;
    if (excluded(ev) || lo->scratch == NULL) {
        return;
    }
    m.n = 0; /* rule[] is written before it is read: not zeroed (72 bytes an event) */
    m.dropped = 0;
    /* Only the fields with rules: four of six in the default set (this and
     * the match sets no longer zeroed: ~50 instructions an event fewer).
     * First the texts and their memo slots, fetched while the body is
     * scanned (a memo slot is often out of cache: waiting for it took a
     * sixth of content_process's samples on the bench capture). */
    struct memo_entry *mslot[CF__COUNT];
    for (unsigned j = 0; j < sh->n_fields; j++) {
        int f = sh->fields[j];
        ftext[f] = NULL;
        flen[f] = 0;
        mslot[f] = NULL;
        size_t len;
        const char *text = field_text(ev, f, &len);
        if (text == NULL || len == 0) {
            continue;
        }
        if (len > sh->max_scan) {
            len = sh->max_scan;
            while (len > 0 && ((unsigned char)text[len] & 0xC0u) == 0x80u) {
                len--; /* do not cut a UTF-8 sequence in half */
            }
        }
        ftext[f] = text;
        flen[f] = len;
        if (memo_field[f] && len <= MEMO_TEXT) {
            mslot[f] = memo_slot(lo, f, text, len);
            __builtin_prefetch(mslot[f]);
        }
    }
    for (unsigned j = 0; j < sh->n_fields; j++) {
        int f = sh->fields[j];
        const char *text = ftext[f];
        size_t len = flen[f];
        struct memo_entry *me = mslot[f];
        if (text == NULL) {
            continue;
        }
        if (me != NULL && me->len == len && me->field == f && memcmp(me->text, text, len) == 0) {
            for (unsigned i = 0; i < me->n; i++) {
                on_match(me->id[i], 0, &m);
            }
            continue;
        }
        struct field_rec rec = {.m = &m, .n = 0};
        scan_field(sh, lo, f, text, len, &rec);
        if (me != NULL && rec.n <= MEMO_IDS) {
            me->len = (uint8_t)len;
            me->field = (uint8_t)f;
            me->n = (uint8_t)rec.n;
            memcpy(me->id, rec.id, rec.n * sizeof(rec.id[0]));
            memcpy(me->text, text, len);
        }
    }
    for (unsigned i = 0; i < m.n; i++) {
        const struct content_rule *r = &sh->rules[m.rule[i]];
        struct sw_hit h;
        sw_hit_init(&h, CONTENT_NAME, r->symbol, CONTENT_KIND, ev);
        h.weight_milli = r->weight_milli;
        sw_hit_add_value(&h, "rules_matched", (int64_t)(m.n + m.dropped));
        sw_hit_add_value(&h, "field", (int64_t)r->field);
        if (r->field != CF_BODY && ftext[r->field] != NULL) {
            set_sample(&h, r->field, ftext[r->field], flen[r->field]);
        }
        sw_hit_emit(out, &h);
        st->hits++;
    }
    persist(sh, lo, ev, &m, out, st);
}

/* The prefetch op: the texts process(@ev) will scan, their first
 * CONTENT_PF_BYTES (a body is ~70 bytes on average). A parser thread on the
 * other core wrote them into its batch, so their first read missed the
 * cache, in sw_normalize_ex or content_process; prefetched when the worker
 * is WK_AHEAD events before @ev, the misses overlap with those events. Bench
 * capture, 8 alternating pairs, worker samples of content_process,
 * sw_normalize_ex, libhs and this together: 588 -> 520, 597 -> 551,
 * 558 -> 538, 777 -> 606, 674 -> 605, 688 -> 595, 759 -> 778, 724 -> 695
 * (median -9%; on average sw_normalize_ex 140 -> 90, content_process
 * 138 -> 103, this 19), for ~29 instructions an event (callgrind); the
 * worker's total moves more than that from run to run. Room and resource
 * texts too (JID bytes): within noise in 4 pairs, left out. */
#define CONTENT_PF_BYTES 256
#define CONTENT_PF_LINE 64 /* bytes of a cache line */

static void content_prefetch(const void *shared, void *local, const struct sw_event *ev)
{
    const struct content_shared *sh = shared;
    (void)local;
    if (excluded(ev)) {
        return;
    }
    if (ev->body_len > 0 && (sh->pf_fields & (1u << CF_BODY))) {
        size_t len = ev->body_len < CONTENT_PF_BYTES ? ev->body_len : CONTENT_PF_BYTES;
        uintptr_t q = (uintptr_t)ev->body & ~(uintptr_t)(CONTENT_PF_LINE - 1);
        for (uintptr_t end = (uintptr_t)ev->body + len; q < end; q += CONTENT_PF_LINE) {
            __builtin_prefetch((const void *)q);
        }
    }
    if (ev->subject_len > 0 && (sh->pf_fields & (1u << CF_SUBJECT))) {
        __builtin_prefetch(ev->subject);
    }
    if (ev->status_len > 0 && (sh->pf_fields & (1u << CF_STATUS))) {
        __builtin_prefetch(ev->status);
    }
    if (ev->nick_len > 0 && (sh->pf_fields & (1u << CF_NICK))) {
        __builtin_prefetch(ev->nick);
    }
}

static void content_expire(const void *shared, void *local, int64_t now_ms,
                           struct sw_detector_stats *st)
{
    const struct content_shared *sh = shared;
    struct content_local *lo = local;
    sw_table_expire(lo->persist, sw_table_now(lo->persist, now_ms),
                    (uint32_t)(sh->persist_window / 1000), st);
    st->mem_bytes += sizeof(*lo) + sw_hs_scratch_size(lo->scratch);
}

/* One symbol per rule (content.<id>), scored as a family. Content rules and the
 * classifier (one group) stay below the report threshold alone: they need a
 * behaviour signal. */
static const struct sw_detector_symbol ct_symbols[] = {
    {.symbol = "content.persistent", .score = 1.0, .group = NULL},
    {.symbol = "content.*", .score = 0.6, .group = "content"},
    {.symbol = NULL},
};

const struct sw_detector_ops sw_content_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = CONTENT_NAME,
    .description = "operator pattern rules (literal/regex/list, raw or normalized text) on "
                   "body, subject, status, nick, room and resource, matched with Hyperscan",
    .symbols = ct_symbols,
    .events = SW_EV_MESSAGE | SW_EV_PRESENCE,
    .shard = SW_SHARD_SENDER,
    .key = NULL,
    .schema = content_schema,
    .settings_size = sizeof(struct content_settings),
    .setup = content_setup,
    .thread_init = content_thread_init,
    .process = content_process,
    .expire = content_expire,
    .prefetch = content_prefetch,
    .thread_reload = content_thread_reload,
    .thread_fini = content_thread_fini,
    .teardown = content_teardown,
};
