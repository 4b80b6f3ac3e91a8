/*
 * test_conf.c - core/conf.c: YAML parsing, schema binding for every type,
 * error messages ("file:line: key.path: reason"), defaults, registry with
 * dotted sections, dump round trip, extra files, and RCU publish/get with a
 * reader thread across many generations.
 *
 * Fixtures live in tests/data/conf/; one-off inputs are written to temporary
 * files so the messages carry a real file name and line.
 */
#include <inttypes.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "sw/conf.h"
#include "sw/sw.h"

#define DATA SW_SOURCE_DIR "/tests/data/conf/"

struct t_peer {
    char *jid;
    int64_t weight;
};

struct t_sub {
    bool on;
    int64_t n;
};

struct t_settings {
    bool flag;
    int64_t count;
    double ratio;
    int64_t window;
    int64_t buf;
    char *name;
    int mode;
    struct sw_conf_strlist tags;
    struct t_sub sub;
    struct sw_conf_list peers;
};

struct t_det {
    bool enabled;
    int64_t rate;
};

static const char *const mode_names[] = {"fast", "slow", NULL};

static const struct sw_conf_item sub_schema[] = {
    {.key = "on", .type = SW_CONF_BOOL, .offset = offsetof(struct t_sub, on), .def = "false"},
    {.key = "n", .type = SW_CONF_INT, .offset = offsetof(struct t_sub, n), .def = "3"},
    SW_CONF_END,
};

static const struct sw_conf_item peer_schema[] = {
    {.key = "jid", .type = SW_CONF_STRING, .offset = offsetof(struct t_peer, jid)},
    {.key = "weight",
     .type = SW_CONF_INT,
     .offset = offsetof(struct t_peer, weight),
     .min = 0,
     .max = 10}, /* def NULL: required */
    SW_CONF_END,
};

static const struct sw_conf_item test_schema[] = {
    {.key = "flag",
     .type = SW_CONF_BOOL,
     .offset = offsetof(struct t_settings, flag),
     .def = "false"},
    {.key = "count",
     .type = SW_CONF_INT,
     .offset = offsetof(struct t_settings, count),
     .min = 1,
     .max = 100,
     .def = "10"},
    {.key = "ratio",
     .type = SW_CONF_DOUBLE,
     .offset = offsetof(struct t_settings, ratio),
     .fmin = 0.0,
     .fmax = 1.0,
     .def = "0.5"},
    {.key = "window",
     .type = SW_CONF_DURATION,
     .offset = offsetof(struct t_settings, window),
     .min = 100,
     .max = 3600000,
     .def = "10s"},
    {.key = "buf",
     .type = SW_CONF_SIZE,
     .offset = offsetof(struct t_settings, buf),
     .min = 1024,
     .max = 16 << 20,
     .def = "64KB"},
    {.key = "name", .type = SW_CONF_STRING, .offset = offsetof(struct t_settings, name)},
    {.key = "mode",
     .type = SW_CONF_ENUM,
     .offset = offsetof(struct t_settings, mode),
     .def = "fast",
     .enum_names = mode_names},
    {.key = "tags",
     .type = SW_CONF_STRLIST,
     .offset = offsetof(struct t_settings, tags),
     .def = "[a, b]"},
    {.key = "sub",
     .type = SW_CONF_SECTION,
     .offset = offsetof(struct t_settings, sub),
     .sub = sub_schema},
    {.key = "peers",
     .type = SW_CONF_LIST,
     .offset = offsetof(struct t_settings, peers),
     .sub = peer_schema,
     .item_size = sizeof(struct t_peer)},
    SW_CONF_END,
};

static const struct sw_conf_item det_schema[] = {
    {.key = "enabled",
     .type = SW_CONF_BOOL,
     .offset = offsetof(struct t_det, enabled),
     .def = "true"},
    {.key = "rate",
     .type = SW_CONF_INT,
     .offset = offsetof(struct t_det, rate),
     .min = 1,
     .max = 100000,
     .def = "50"},
    SW_CONF_END,
};

/* Rule-file wrapper schema for sw_conf_bind of an extra file. */
struct t_rules {
    struct sw_conf_list peers;
};
static const struct sw_conf_item rules_schema[] = {
    {.key = "peers",
     .type = SW_CONF_LIST,
     .offset = offsetof(struct t_rules, peers),
     .sub = peer_schema,
     .item_size = sizeof(struct t_peer)},
    SW_CONF_END,
};

static int group_setup(void **state)
{
    (void)state;
    sw_conf_registry_reset();
    if (sw_conf_register("test", test_schema, sizeof(struct t_settings)) != 0 ||
        sw_conf_register("detectors.alpha", det_schema, sizeof(struct t_det)) != 0 ||
        sw_conf_register("detectors.beta", det_schema, sizeof(struct t_det)) != 0) {
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sw_conf_registry_reset();
    return 0;
}

/* Write @text to a fresh temporary file; returns its malloc'd path. */
static char *tmp_write(const char *text, size_t len)
{
    char *path = strdup("/tmp/sw_test_conf_XXXXXX.yaml");
    assert_non_null(path);
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        assert_true(w > 0);
        off += (size_t)w;
    }
    close(fd);
    return path;
}

/* Load @yaml from a temp file; returns rc, fills eb, frees the snapshot. */
static int load_text(const char *yaml, struct sw_errbuf *eb, char **path_out)
{
    char *path = tmp_write(yaml, strlen(yaml));
    struct sw_conf *c = NULL;
    int rc = sw_conf_load(path, &c, eb);
    sw_conf_free(c);
    unlink(path);
    if (path_out != NULL) {
        *path_out = path;
    } else {
        free(path);
    }
    return rc;
}

static void expect_error(const char *yaml, int want_rc, const char *want)
{
    struct sw_errbuf eb = {{0}};
    char *path = NULL;
    int rc = load_text(yaml, &eb, &path);
    if (rc != want_rc || strstr(eb.msg, want) == NULL) {
        print_error("input:\n%s\nrc %d (want %d), msg: %s\nwant substring: %s\n", yaml, rc, want_rc,
                    eb.msg, want);
        free(path);
        fail();
    }
    if (getenv("SW_TEST_VERBOSE") != NULL) {
        fprintf(stderr, "%s\n", eb.msg);
    }
    /* every file error names the file */
    assert_non_null(strstr(eb.msg, path));
    free(path);
}

static void test_defaults(void **state)
{
    (void)state;
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load(NULL, &c, &eb), 0);
    assert_string_equal(sw_conf_path(c), "(built-in defaults)");
    const struct t_settings *s = sw_conf_section(c, "test");
    assert_non_null(s);
    assert_false(s->flag);
    assert_int_equal(s->count, 10);
    assert_true(s->ratio == 0.5);
    assert_int_equal(s->window, 10000);
    assert_int_equal(s->buf, 65536);
    assert_null(s->name);
    assert_int_equal(s->mode, 0);
    assert_int_equal(s->tags.n, 2);
    assert_string_equal(s->tags.v[0], "a");
    assert_string_equal(s->tags.v[1], "b");
    assert_false(s->sub.on);
    assert_int_equal(s->sub.n, 3);
    assert_int_equal(s->peers.n, 0);
    const struct t_det *a = sw_conf_section(c, "detectors.alpha");
    assert_non_null(a);
    assert_true(a->enabled);
    assert_int_equal(a->rate, 50);
    assert_null(sw_conf_section(c, "detectors"));
    assert_null(sw_conf_section(c, "nope"));
    assert_null(sw_conf_section_node(c, "test"));
    sw_conf_free(c);
}

static void test_file_values(void **state)
{
    (void)state;
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    int rc = sw_conf_load(DATA "good.yaml", &c, &eb);
    if (rc != 0) {
        print_error("%s\n", eb.msg);
    }
    assert_int_equal(rc, 0);
    const struct t_settings *s = sw_conf_section(c, "test");
    assert_true(s->flag);
    assert_int_equal(s->count, 42);
    assert_true(s->ratio == 0.25);
    assert_int_equal(s->window, 300000);
    assert_int_equal(s->buf, 2 << 20);
    assert_string_equal(s->name, "say \"hi\"\tand: go # not a comment");
    assert_int_equal(s->mode, 1);
    assert_int_equal(s->tags.n, 3);
    assert_string_equal(s->tags.v[1], "two words");
    assert_string_equal(s->tags.v[2], "üñí");
    assert_true(s->sub.on);
    assert_int_equal(s->sub.n, -7);
    assert_int_equal(s->peers.n, 2);
    const struct t_peer *p = s->peers.items;
    assert_string_equal(p[0].jid, "a@example.org");
    assert_int_equal(p[0].weight, 3);
    assert_string_equal(p[1].jid, "b@example.org");
    assert_int_equal(p[1].weight, 10);
    const struct t_det *a = sw_conf_section(c, "detectors.alpha");
    const struct t_det *b = sw_conf_section(c, "detectors.beta");
    assert_false(a->enabled);
    assert_int_equal(a->rate, 100000);
    assert_true(b->enabled);
    assert_int_equal(b->rate, 50);
    /* raw nodes keep file:line */
    const struct sw_conf_node *n = sw_conf_section_node(c, "test");
    assert_int_equal(sw_conf_node_kind(n), SW_CONF_NODE_MAP);
    assert_int_equal(sw_conf_node_line(n), 4);
    assert_string_equal(sw_conf_node_file(n), DATA "good.yaml");
    assert_string_equal(sw_conf_node_key(n, 0), "flag");
    assert_string_equal(sw_conf_node_scalar(sw_conf_node_item(n, 1)), "42");
    const struct sw_conf_node *peers = sw_conf_node_get(n, "peers");
    assert_int_equal(sw_conf_node_kind(peers), SW_CONF_NODE_SEQ);
    assert_int_equal(sw_conf_node_count(peers), 2);
    assert_int_equal(sw_conf_node_line(sw_conf_node_item(peers, 1)), 21);
    assert_null(sw_conf_node_get(n, "missing"));
    assert_null(sw_conf_node_item(peers, 2));
    sw_conf_free(c);
}

struct bad_case {
    const char *yaml;
    const char *want; /* substring of the one-line message */
};

static void test_bad_values(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"test:\n  count: 0\n", ":2: test.count: 0 is out of range 1..100"},
        {"test:\n  count: 101\n", "test.count: 101 is out of range 1..100"},
        {"test:\n  count: abc\n", ":2: test.count: \"abc\" is not an integer"},
        {"test:\n  count: 1.5\n", "test.count: \"1.5\" is not an integer"},
        {"test:\n  count: 99999999999999999999\n", "is not an integer"},
        {"test:\n  count: [1]\n", "test.count: expected an integer, got a list"},
        {"test:\n  count:\n", "test.count: expected an integer, got an empty value"},
        {"test:\n  flag: maybe\n", "test.flag: \"maybe\" is not a boolean (use true or false)"},
        {"test:\n  ratio: 1.5\n", "test.ratio: 1.5 is out of range 0.0..1.0"},
        {"test:\n  ratio: -0.1\n", "test.ratio: -0.1 is out of range 0.0..1.0"},
        {"test:\n  ratio: nan\n", "test.ratio: \"nan\" is not a number"},
        {"test:\n  ratio: 1e999\n", "test.ratio: \"1e999\" is not a number"},
        {"test:\n  window: 10x\n", "test.window: bad duration \"10x\""},
        {"test:\n  window: -5s\n", "test.window: bad duration \"-5s\""},
        {"test:\n  window: 1.5s\n", "bad duration"},
        {"test:\n  window: 50ms\n", "test.window: 50ms is out of range 100ms..1h"},
        {"test:\n  window: 2h\n", "test.window: 2h is out of range 100ms..1h"},
        {"test:\n  window: 99999999999999999d\n", "bad duration"},
        {"test:\n  buf: 12QB\n", "test.buf: bad size \"12QB\""},
        {"test:\n  buf: 32MB\n", "test.buf: 32MB is out of range 1KB..16MB"},
        {"test:\n  buf: 100\n", "test.buf: 100 is out of range 1KB..16MB"},
        {"test:\n  mode: medium\n", "test.mode: \"medium\" is not one of fast, slow"},
        {"test:\n  name: [x]\n", "test.name: expected a string, got a list"},
        {"test:\n  name: \"a\\0b\"\n", "test.name: value contains a NUL character"},
        {"test:\n  tags: foo\n", "test.tags: expected a list of strings, got a scalar"},
        {"test:\n  tags: [a, [b]]\n", "test.tags[1]: expected a string, got a list"},
        {"test:\n  sub: 5\n", ":2: test.sub: expected a mapping, got a scalar"},
        {"test:\n  sub:\n    n: x\n", ":3: test.sub.n: \"x\" is not an integer"},
        {"test:\n  sub:\n    m: 1\n", "test.sub.m: unknown key (did you mean 'n'?)"},
        {"test:\n  peers: {a: 1}\n", "test.peers: expected a list of mappings, got a mapping"},
        {"test:\n  peers: [5]\n", "test.peers[0]: expected a mapping, got a scalar"},
        {"test:\n  peers:\n    - jid: x\n", ":3: test.peers[0].weight: missing required key"},
        {"test:\n  peers:\n    - {jid: x, weight: 1}\n    - {jid: y, weight: 11}\n",
         ":4: test.peers[1].weight: 11 is out of range 0..10"},
        {"test:\n  peers:\n    - {jid: x, weight: 1, wieght: 2}\n",
         "test.peers[0].wieght: unknown key (did you mean 'weight'?)"},
        {"test:\n  coutn: 5\n", ":2: test.coutn: unknown key (did you mean 'count'?)"},
        {"test:\n  zzzzzzzz: 5\n", "test.zzzzzzzz: unknown key"},
        {"tset:\n  count: 5\n", ":1: tset: unknown key (did you mean 'test'?)"},
        {"detectors:\n  alpah: {}\n", ":2: detectors.alpah: unknown key (did you mean 'alpha'?)"},
        {"detectors: 5\n", ":1: detectors: expected a mapping, got a scalar"},
        {"detectors:\n  alpha: [1]\n", "detectors.alpha: expected a mapping, got a list"},
        {"detectors:\n  alpha:\n    rate: 0\n",
         ":3: detectors.alpha.rate: 0 is out of range 1..100000"},
        {"test:\n  count: 1\n  count: 2\n", ":3: test.count: duplicate key (first at line 2)"},
        {"test: {}\ntest: {}\n", ":2: test: duplicate key (first at line 1)"},
        {"test:\n  peers:\n    - {jid: a, jid: b}\n", "test.peers[0].jid: duplicate key"},
        {"test:\n  count: [1, 2\n", "YAML syntax error"},
        {"test:\n count: 1\n  flag: true\n", ":3: YAML syntax error"},
        {"test:\n\tcount: 1\n", "YAML syntax error"},
        {"- test\n", ":1: the top level must be a mapping of sections, got a list"},
        {"just text\n", "the top level must be a mapping of sections, got a scalar"},
        {"test: {}\n---\ntest: {}\n", ":2: only one YAML document is allowed per file"},
        {"test:\n  count: &n 5\n", ":2: YAML anchors (&n) are not accepted"},
        {"test:\n  count: *n\n", ":2: YAML aliases (*n) are not accepted"},
        {"? [a, b]\n: 1\n", "mapping keys must be non-empty scalars, got a list"},
        {"test:\n  sub:\n    ~: 1\n", "mapping keys must be non-empty scalars"},
        {"test: \"\\xff\\xfe\"\n", "test: expected a mapping, got a scalar"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_error(cases[i].yaml, SW_ECONF, cases[i].want);
    }
}

static void test_bad_range_message(void **state)
{
    (void)state;
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load(DATA "bad_range.yaml", &c, &eb), SW_ECONF);
    assert_null(c);
    assert_string_equal(eb.msg, DATA "bad_range.yaml:5: detectors.alpha.rate: 0 is out of range "
                                     "1..100000");
}

static void test_duplicate_in_large_mapping(void **state)
{
    (void)state;
    char buf[2048];
    size_t off = (size_t)snprintf(buf, sizeof(buf), "test:\n  sub:\n");
    for (int i = 0; i < 40; i++) {
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "    k%d: 1\n", i);
    }
    snprintf(buf + off, sizeof(buf) - off, "    k17: 2\n");
    /* k17 first at line 3 + 17 = 20, again at line 43 */
    expect_error(buf, SW_ECONF, ":43: test.sub.k17: duplicate key (first at line 20)");
}

static void test_deep_nesting(void **state)
{
    (void)state;
    char buf[512];
    size_t off = (size_t)snprintf(buf, sizeof(buf), "test:\n  tags: ");
    for (int i = 0; i < 100; i++) {
        buf[off++] = '[';
    }
    buf[off++] = '\n';
    buf[off] = '\0';
    expect_error(buf, SW_ECONF, "YAML nested deeper than 64 levels");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    expect_error("test:\n  name: \xff\xfe\n", SW_ECONF, "YAML syntax error: invalid");
}

static void test_empty_files(void **state)
{
    (void)state;
    static const char *const files[] = {DATA "empty.yaml", DATA "comments_only.yaml",
                                        DATA "null_sections.yaml"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct sw_conf *c = NULL;
        struct sw_errbuf eb = {{0}};
        int rc = sw_conf_load(files[i], &c, &eb);
        if (rc != 0) {
            print_error("%s: %s\n", files[i], eb.msg);
        }
        assert_int_equal(rc, 0);
        const struct t_settings *s = sw_conf_section(c, "test");
        assert_int_equal(s->count, 10);
        assert_int_equal(s->tags.n, 2);
        const struct t_det *a = sw_conf_section(c, "detectors.alpha");
        assert_int_equal(a->rate, 50);
        assert_string_equal(sw_conf_path(c), files[i]);
        sw_conf_free(c);
    }
    /* "---" alone and explicit nulls */
    struct sw_errbuf eb = {{0}};
    assert_int_equal(load_text("---\n", &eb, NULL), 0);
    assert_int_equal(load_text("test: ~\ndetectors: null\n", &eb, NULL), 0);
    assert_int_equal(load_text("test:\n  tags:\n  peers: ~\n  sub:\n", &eb, NULL), 0);
}

static void test_null_lists_are_empty(void **state)
{
    (void)state;
    static const char y[] = "test:\n  tags:\n  name: ~\n";
    char *path = tmp_write(y, strlen(y));
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load(path, &c, &eb), 0);
    const struct t_settings *s = sw_conf_section(c, "test");
    assert_int_equal(s->tags.n, 0); /* explicit empty overrides the default [a, b] */
    assert_null(s->name);
    sw_conf_free(c);
    unlink(path);
    free(path);
}

static void test_missing_file(void **state)
{
    (void)state;
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load("/nonexistent/dir/sw.yaml", &c, &eb), SW_EIO);
    assert_null(c);
    assert_string_equal(eb.msg, "/nonexistent/dir/sw.yaml: cannot open: No such file or directory");
    assert_int_equal(sw_conf_load("/tmp", &c, &eb), SW_EIO);
    assert_non_null(strstr(eb.msg, "/tmp: not a regular file"));
}

static void test_file_too_large(void **state)
{
    (void)state;
    size_t len = (4u << 20) + 100;
    char *big = malloc(len + 1);
    assert_non_null(big);
    memset(big, '#', len);
    big[len - 1] = '\n';
    big[len] = '\0';
    char *path = tmp_write(big, len);
    free(big);
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load(path, &c, &eb), SW_ECONF);
    assert_non_null(strstr(eb.msg, "over the 4 MB limit"));
    assert_non_null(strstr(eb.msg, path));
    unlink(path);
    free(path);
}

static char *dump_to_string(const struct sw_conf *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    assert_non_null(fp);
    assert_int_equal(sw_conf_dump(c, fp), 0);
    fclose(fp);
    return buf;
}

static void round_trip(const char *path)
{
    struct sw_conf *c1 = NULL, *c2 = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load(path, &c1, &eb), 0);
    char *d1 = dump_to_string(c1);
    char *p2 = tmp_write(d1, strlen(d1));
    int rc = sw_conf_load(p2, &c2, &eb);
    if (rc != 0) {
        print_error("reload of dump failed: %s\n%s", eb.msg, d1);
    }
    assert_int_equal(rc, 0);
    char *d2 = dump_to_string(c2);
    assert_string_equal(d1, d2);
    unlink(p2);
    free(p2);
    free(d1);
    free(d2);
    sw_conf_free(c1);
    sw_conf_free(c2);
}

static void test_dump_round_trip(void **state)
{
    (void)state;
    round_trip(NULL);
    round_trip(DATA "good.yaml");
    /* strings that need quoting survive */
    static const char y[] =
        "test:\n  name: \"null\"\n  tags: [\"-x\", \"a: b\", \"\\x01\\n\", yes, '',\n"
        "    \"a\\Nb\\Lc\\Pd\\uFEFFe\\x85\"]\n";
    char *p = tmp_write(y, strlen(y));
    round_trip(p);
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load(p, &c, &eb), 0);
    const struct t_settings *s = sw_conf_section(c, "test");
    assert_string_equal(s->name, "null");
    assert_int_equal(s->tags.n, 6);
    assert_string_equal(s->tags.v[5], "a\xc2\x85"
                                      "b\xe2\x80\xa8"
                                      "c\xe2\x80\xa9"
                                      "d\xef\xbb\xbf"
                                      "e\xc2\x85");
    assert_string_equal(s->tags.v[1], "a: b");
    assert_string_equal(s->tags.v[2], "\x01\n");
    assert_string_equal(s->tags.v[4], "");
    sw_conf_free(c);
    unlink(p);
    free(p);
}

static void test_dump_defaults_text(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    assert_non_null(fp);
    assert_int_equal(sw_conf_dump_defaults(fp), 0);
    fclose(fp);
    static const char want[] = "test:\n"
                               "  flag: false\n"
                               "  count: 10\n"
                               "  ratio: 0.5\n"
                               "  window: 10s\n"
                               "  buf: 64KB\n"
                               "  name: ~\n"
                               "  mode: fast\n"
                               "  tags:\n"
                               "    - a\n"
                               "    - b\n"
                               "  sub:\n"
                               "    on: false\n"
                               "    n: 3\n"
                               "  peers: []\n"
                               "detectors:\n"
                               "  alpha:\n"
                               "    enabled: true\n"
                               "    rate: 50\n"
                               "  beta:\n"
                               "    enabled: true\n"
                               "    rate: 50\n";
    assert_string_equal(buf, want);
    free(buf);
}

static void test_dump_list_of_mappings(void **state)
{
    (void)state;
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load(DATA "good.yaml", &c, &eb), 0);
    char *d = dump_to_string(c);
    assert_non_null(strstr(d, "  peers:\n"
                              "    - jid: a@example.org\n"
                              "      weight: 3\n"
                              "    - jid: b@example.org\n"
                              "      weight: 10\n"));
    assert_non_null(strstr(d, "  window: 5m\n  buf: 2MB\n"));
    assert_non_null(strstr(d, "  name: \"say \\\"hi\\\"\\tand: go # not a comment\"\n"));
    free(d);
    sw_conf_free(c);
}

static void test_dump_help(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    assert_non_null(fp);
    assert_int_equal(sw_conf_dump_help(fp), 0);
    fclose(fp);
    assert_non_null(strstr(buf, "  # [integer, 1..100]\n  count: 10\n"));
    assert_non_null(strstr(buf, "  # [number, 0.0..1.0]\n  ratio: 0.5\n"));
    assert_non_null(strstr(buf, "  # [duration (ms, s, m, h, d), 100ms..1h]\n  window: 10s\n"));
    assert_non_null(strstr(buf, "  # [size (B, KB, MB, GB), 1KB..16MB]\n  buf: 64KB\n"));
    assert_non_null(strstr(buf, "  # [one of fast, slow]\n  mode: fast\n"));
    assert_non_null(strstr(buf, "  # [list of mappings with keys: jid, weight]\n  peers: []\n"));
    assert_non_null(strstr(buf, "  # [mapping]\n  sub:\n    # [true or false]\n    on: false\n"));
    /* the commented output is itself a valid config equal to the defaults */
    char *p = tmp_write(buf, strlen(buf));
    struct sw_conf *c1 = NULL, *c2 = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load(p, &c1, &eb), 0);
    assert_int_equal(sw_conf_load(NULL, &c2, &eb), 0);
    char *d1 = dump_to_string(c1);
    char *d2 = dump_to_string(c2);
    assert_string_equal(d1, d2);
    free(d1);
    free(d2);
    sw_conf_free(c1);
    sw_conf_free(c2);
    unlink(p);
    free(p);
    free(buf);
}

static void test_load_node_bind(void **state)
{
    (void)state;
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load(NULL, &c, &eb), 0);
    const struct sw_conf_node *n = NULL;
    assert_int_equal(sw_conf_load_node(c, DATA "rules.yaml", &n, &eb), 0);
    assert_int_equal(sw_conf_node_kind(n), SW_CONF_NODE_MAP);
    assert_string_equal(sw_conf_node_file(n), DATA "rules.yaml");
    struct t_rules r;
    memset(&r, 0xa5, sizeof(r));
    assert_int_equal(sw_conf_bind(c, n, rules_schema, &r, &eb), 0);
    assert_int_equal(r.peers.n, 2);
    const struct t_peer *p = r.peers.items;
    assert_string_equal(p[1].jid, "two@example.org");
    assert_int_equal(p[1].weight, 2);
    /* a bad element names the extra file and line */
    const struct sw_conf_node *bad = NULL;
    assert_int_equal(sw_conf_load_node(c, DATA "good.yaml", &bad, &eb), 0);
    assert_int_equal(sw_conf_bind(c, bad, rules_schema, &r, &eb), SW_ECONF);
    assert_string_equal(eb.msg, DATA "good.yaml:3: test: unknown key");
    /* bind of an absent node: all defaults */
    struct t_sub sub;
    assert_int_equal(sw_conf_bind(c, NULL, sub_schema, &sub, &eb), 0);
    assert_int_equal(sub.n, 3);
    /* missing and empty extra files */
    assert_int_equal(sw_conf_load_node(c, DATA "missing.yaml", &bad, &eb), SW_EIO);
    assert_non_null(strstr(eb.msg, "missing.yaml: cannot open"));
    assert_int_equal(sw_conf_load_node(c, DATA "empty.yaml", &bad, &eb), 0);
    assert_int_equal(sw_conf_node_kind(bad), SW_CONF_NODE_NULL);
    assert_int_equal(sw_conf_load_node(c, DATA "alias.yaml", &bad, &eb), SW_ECONF);
    assert_non_null(strstr(eb.msg, "alias.yaml:3: YAML anchors (&n) are not accepted"));
    sw_conf_free(c); /* frees both extra files' nodes (ASan checks) */
}

/* SW_CONF_PATH / SW_CONF_PATHLIST: relative paths read from a file resolve
 * against that file's directory (made absolute, also when the file was named
 * by a relative path); absolute and empty paths stay; defaults stay relative
 * to the working directory. */
struct t_paths {
    char *one, *abs, *empty, *dflt, *none;
    struct sw_conf_strlist list, dlist;
};
static const struct sw_conf_item paths_schema[] = {
    {.key = "one", .type = SW_CONF_PATH, .offset = offsetof(struct t_paths, one)},
    {.key = "abs", .type = SW_CONF_PATH, .offset = offsetof(struct t_paths, abs)},
    {.key = "empty", .type = SW_CONF_PATH, .offset = offsetof(struct t_paths, empty)},
    {.key = "dflt",
     .type = SW_CONF_PATH,
     .offset = offsetof(struct t_paths, dflt),
     .def = "rel/d.yaml"},
    {.key = "none", .type = SW_CONF_PATH, .offset = offsetof(struct t_paths, none)},
    {.key = "list", .type = SW_CONF_PATHLIST, .offset = offsetof(struct t_paths, list)},
    {.key = "dlist",
     .type = SW_CONF_PATHLIST,
     .offset = offsetof(struct t_paths, dlist),
     .def = "[x.yaml]"},
    SW_CONF_END,
};

static void check_paths(const struct t_paths *t, const char *dir)
{
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "%s/rules/a.yaml", dir);
    assert_string_equal(t->one, want);
    assert_string_equal(t->abs, "/etc/stanzawatch/x.yaml");
    assert_string_equal(t->empty, "");
    /* a relative built-in default is relative to the shipped data directory */
    snprintf(want, sizeof(want), "%s/rel/d.yaml", sw_conf_data_dir());
    assert_string_equal(t->dflt, want);
    assert_null(t->none);
    assert_int_equal(t->list.n, 3);
    snprintf(want, sizeof(want), "%s/r1.yaml", dir);
    assert_string_equal(t->list.v[0], want);
    assert_string_equal(t->list.v[1], "/abs/r2.yaml");
    snprintf(want, sizeof(want), "%s/../up.yaml", dir);
    assert_string_equal(t->list.v[2], want);
    assert_int_equal(t->dlist.n, 1);
    snprintf(want, sizeof(want), "%s/x.yaml", sw_conf_data_dir());
    assert_string_equal(t->dlist.v[0], want);
}

static void test_paths_relative_to_file(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/sw_test_conf_paths_XXXXXX";
    char top[PATH_MAX], sub[PATH_MAX + 8], file[PATH_MAX + 16], cwd[PATH_MAX];
    assert_non_null(mkdtemp(tmpl));
    assert_non_null(realpath(tmpl, top));
    snprintf(sub, sizeof(sub), "%s/sub", top);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(file, sizeof(file), "%s/p.yaml", sub);
    static const char y[] = "one: rules/a.yaml\n"
                            "abs: /etc/stanzawatch/x.yaml\n"
                            "empty: \"\"\n"
                            "list: [r1.yaml, /abs/r2.yaml, ../up.yaml]\n";
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(y, 1, sizeof(y) - 1, f), sizeof(y) - 1);
    assert_int_equal(fclose(f), 0);

    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load(NULL, &c, &eb), 0);
    const struct sw_conf_node *n = NULL;
    struct t_paths t;
    /* named by an absolute path */
    assert_int_equal(sw_conf_load_node(c, file, &n, &eb), 0);
    assert_int_equal(sw_conf_bind(c, n, paths_schema, &t, &eb), 0);
    check_paths(&t, sub);
    /* named relative to the working directory: resolved to the same absolute paths */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(top), 0);
    assert_int_equal(sw_conf_load_node(c, "sub/p.yaml", &n, &eb), 0);
    memset(&t, 0, sizeof(t));
    assert_int_equal(sw_conf_bind(c, n, paths_schema, &t, &eb), 0);
    assert_int_equal(chdir(cwd), 0);
    check_paths(&t, sub);
    /* absent node: built-in defaults, relative to the shipped data directory,
     * which from this build tree is the source tree's configs/ */
    assert_int_equal(sw_conf_bind(c, NULL, paths_schema, &t, &eb), 0);
    char want[PATH_MAX + 64], data[PATH_MAX];
    assert_non_null(realpath(SW_SOURCE_DIR "/configs", data));
    assert_string_equal(sw_conf_data_dir(), data);
    snprintf(want, sizeof(want), "%s/rel/d.yaml", data);
    assert_string_equal(t.dflt, want);
    assert_int_equal(t.list.n, 0);
    snprintf(want, sizeof(want), "%s/x.yaml", data);
    assert_string_equal(t.dlist.v[0], want);
    /* a path must be a scalar */
    static const char bad[] = "one: [a]\n";
    f = fopen(file, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(bad, 1, sizeof(bad) - 1, f), sizeof(bad) - 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(sw_conf_load_node(c, file, &n, &eb), 0);
    assert_int_equal(sw_conf_bind(c, n, paths_schema, &t, &eb), SW_ECONF);
    assert_non_null(strstr(eb.msg, "expected a path"));
    sw_conf_free(c);
    unlink(file);
    rmdir(sub);
    rmdir(top);
}

static void test_registry(void **state)
{
    (void)state;
    assert_int_equal(sw_conf_register("test", test_schema, sizeof(struct t_settings)), SW_EINVAL);
    assert_int_equal(sw_conf_register("Bad Name", test_schema, 8), SW_EINVAL);
    assert_int_equal(sw_conf_register("a..b", test_schema, 8), SW_EINVAL);
    assert_int_equal(sw_conf_register(".a", test_schema, 8), SW_EINVAL);
    assert_int_equal(sw_conf_register("ok", NULL, 8), SW_EINVAL);
    const char *name = NULL;
    const struct sw_conf_item *schema = NULL;
    assert_int_equal(sw_conf_registry_get(0, &name, &schema), 0);
    assert_string_equal(name, "test");
    assert_ptr_equal(schema, test_schema);
    assert_int_equal(sw_conf_registry_get(2, &name, &schema), 0);
    assert_string_equal(name, "detectors.beta");
    assert_int_equal(sw_conf_registry_get(3, &name, &schema), SW_ENOENT);
}

static void test_bad_default(void **state)
{
    (void)state;
    static const struct sw_conf_item bad[] = {
        {.key = "n", .type = SW_CONF_INT, .offset = 0, .min = 1, .max = 5, .def = "9"},
        SW_CONF_END,
    };
    int64_t v;
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load(NULL, &c, &eb), 0);
    assert_int_equal(sw_conf_bind(c, NULL, bad, &v, &eb), SW_ECONF);
    assert_string_equal(eb.msg, "n: 9 is out of range 1..5 (built-in default)");
    sw_conf_free(c);
}

/* ---- references: a holder keeps a snapshot its creator freed ---- */

struct ref_ctx {
    struct sw_conf *c;
    atomic_int ok;
};

static void *ref_reader(void *arg)
{
    struct ref_ctx *x = arg;
    for (int i = 0; i < 2000; i++) {
        const struct t_settings *s = sw_conf_section(x->c, "test");
        if (s == NULL || s->count != 7 || strcmp(s->name, "gen7") != 0) {
            return NULL;
        }
    }
    sw_conf_free(x->c); /* the last reference: frees it (ASan/TSan check) */
    atomic_store(&x->ok, 1);
    return NULL;
}

static void test_conf_ref(void **state)
{
    (void)state;
    static const char yaml[] = "test:\n  count: 7\n  name: gen7\n";
    char *path = tmp_write(yaml, sizeof(yaml) - 1);
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_conf_load(path, &c, &eb), 0);
    unlink(path);
    free(path);
    struct ref_ctx x = {.c = c};
    atomic_init(&x.ok, 0);
    sw_conf_ref(c); /* the reader's */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, ref_reader, &x), 0);
    sw_conf_free(c); /* the creator lets go while the reader still uses it */
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&x.ok), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_file_values),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_range_message),
        cmocka_unit_test(test_duplicate_in_large_mapping),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_empty_files),
        cmocka_unit_test(test_null_lists_are_empty),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_file_too_large),
        cmocka_unit_test(test_dump_round_trip),
        cmocka_unit_test(test_dump_defaults_text),
        cmocka_unit_test(test_dump_list_of_mappings),
        cmocka_unit_test(test_dump_help),
        cmocka_unit_test(test_load_node_bind),
        cmocka_unit_test(test_paths_relative_to_file),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_bad_default),
        cmocka_unit_test(test_conf_ref),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
