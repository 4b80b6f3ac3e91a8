/*
 * test_settings.c - core/settings.c and configs/stanzawatch.yaml against
 * every registered section (engine, limits, muc, detectors.*, aggregate,
 * reporter): the documented file must load to exactly the built-in defaults
 * (same sw_conf_dump output), must name every key of every section, and must
 * put a comment line right above every key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sw/conf.h"
#include "sw/detector.h"
#include "sw/incident.h"
#include "sw/reporter.h"
#include "sw/share.h"
#include "sw/settings.h"
#include "sw/sw.h"

#define CONFIG_FILE SW_SOURCE_DIR "/configs/stanzawatch.yaml"

static int group_setup(void **state)
{
    (void)state;
    struct sw_errbuf eb = {{0}};
    if (sw_settings_register() != 0) {
        return -1;
    }
    if (sw_registry_register_conf(&eb) != 0) {
        fprintf(stderr, "sw_registry_register_conf: %s\n", eb.msg);
        return -1;
    }
    if (sw_aggregate_register_conf(sw_registry_list()) != 0 || sw_reporter_register_conf() != 0 ||
        sw_share_register_conf() != 0) {
        return -1;
    }
    return 0;
}

static char *dump_to_string(const struct sw_conf *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    assert_non_null(fp);
    if (c != NULL) {
        assert_int_equal(sw_conf_dump(c, fp), 0);
    } else {
        assert_int_equal(sw_conf_dump_defaults(fp), 0);
    }
    fclose(fp);
    return buf;
}

static struct sw_conf *load_ok(const char *path)
{
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    int rc = sw_conf_load(path, &c, &eb);
    if (rc != 0) {
        print_error("%s\n", eb.msg);
    }
    assert_int_equal(rc, 0);
    return c;
}

static void test_file_equals_defaults(void **state)
{
    (void)state;
    struct sw_conf *c = load_ok(CONFIG_FILE);
    char *from_file = dump_to_string(c);
    char *builtin = dump_to_string(NULL);
    if (strcmp(from_file, builtin) != 0) {
        /* Same schemas, so the dumps align line by line (until a list differs
         * in length): print only the differing lines, with the dotted key. */
        fprintf(stderr, "configs/stanzawatch.yaml differs from the built-in defaults "
                        "(- built-in, + file):\n");
        const char *x = builtin, *y = from_file;
        while (*x != '\0' || *y != '\0') {
            size_t lx = strcspn(x, "\n"), ly = strcspn(y, "\n");
            if (lx != ly || memcmp(x, y, lx) != 0) {
                fprintf(stderr, "- %.*s\n+ %.*s\n", (int)lx, x, (int)ly, y);
            }
            x += lx + (x[lx] == '\n');
            y += ly + (y[ly] == '\n');
        }
        fail();
    }
    free(from_file);
    free(builtin);
    sw_conf_free(c);
}

/* Append to @miss every schema key (recursively) not present in @node. */
static void collect_missing(const struct sw_conf_node *node, const struct sw_conf_item *schema,
                            const char *path, char *miss, size_t size)
{
    for (const struct sw_conf_item *it = schema; it->key != NULL; it++) {
        const struct sw_conf_node *v = sw_conf_node_get(node, it->key);
        size_t off = strlen(miss);
        if (v == NULL) {
            snprintf(miss + off, size - off, "  %s.%s\n", path, it->key);
            continue;
        }
        if (it->type == SW_CONF_SECTION && it->sub != NULL) {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s.%s", path, it->key);
            collect_missing(v, it->sub, sub, miss, size);
        }
    }
}

static void test_file_names_every_key(void **state)
{
    (void)state;
    struct sw_conf *c = load_ok(CONFIG_FILE);
    char miss[16384] = "";
    const char *name;
    const struct sw_conf_item *schema;
    size_t n = 0;
    for (size_t i = 0; sw_conf_registry_get(i, &name, &schema) == 0; i++, n++) {
        collect_missing(sw_conf_section_node(c, name), schema, name, miss, sizeof(miss));
    }
    assert_true(n >= 5); /* engine, limits, muc, aggregate, reporter at least */
    if (miss[0] != '\0') {
        fprintf(stderr, "keys missing from configs/stanzawatch.yaml:\n%s", miss);
        fail();
    }
    sw_conf_free(c);
}

/* Lines of the file, for the comment check. */
struct lines {
    char *buf;
    char **v;
    size_t n;
};

static void read_lines(const char *path, struct lines *l)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    assert_true(sz > 0);
    rewind(fp);
    l->buf = malloc((size_t)sz + 1);
    assert_non_null(l->buf);
    assert_int_equal(fread(l->buf, 1, (size_t)sz, fp), (size_t)sz);
    l->buf[sz] = '\0';
    fclose(fp);
    l->v = calloc((size_t)sz + 2, sizeof(*l->v));
    assert_non_null(l->v);
    l->n = 0;
    l->v[l->n++] = NULL; /* 1-based */
    for (char *p = l->buf; p != NULL && *p != '\0';) {
        l->v[l->n++] = p;
        p = strchr(p, '\n');
        if (p != NULL) {
            *p++ = '\0';
        }
    }
}

static const char *trim(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

/* Every key of @schema present under @node has a '#' comment line right above
 * its own line. */
static void collect_uncommented(const struct lines *l, const struct sw_conf_node *node,
                                const struct sw_conf_item *schema, const char *path, char *out,
                                size_t size)
{
    for (const struct sw_conf_item *it = schema; it->key != NULL; it++) {
        const struct sw_conf_node *v = sw_conf_node_get(node, it->key);
        if (v == NULL) {
            continue;
        }
        size_t klen = strlen(it->key);
        unsigned line = sw_conf_node_line(v);
        /* the key is on the value's line (scalars, flow) or above it (block) */
        unsigned k = line;
        while (k > 0 && k < l->n) {
            const char *t = trim(l->v[k]);
            if (strncmp(t, it->key, klen) == 0 && t[klen] == ':') {
                break;
            }
            k--;
        }
        bool ok = k > 1 && k < l->n && trim(l->v[k - 1])[0] == '#';
        if (!ok) {
            size_t off = strlen(out);
            snprintf(out + off, size - off, "  %s.%s (line %u)\n", path, it->key, k);
        }
        if (it->type == SW_CONF_SECTION && it->sub != NULL) {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s.%s", path, it->key);
            collect_uncommented(l, v, it->sub, sub, out, size);
        }
    }
}

static void test_file_comments_every_key(void **state)
{
    (void)state;
    struct sw_conf *c = load_ok(CONFIG_FILE);
    struct lines l;
    read_lines(CONFIG_FILE, &l);
    char bad[16384] = "";
    const char *name;
    const struct sw_conf_item *schema;
    for (size_t i = 0; sw_conf_registry_get(i, &name, &schema) == 0; i++) {
        collect_uncommented(&l, sw_conf_section_node(c, name), schema, name, bad, sizeof(bad));
    }
    free(l.v);
    free(l.buf);
    sw_conf_free(c);
    if (bad[0] != '\0') {
        fprintf(stderr, "keys without a comment line above them in configs/stanzawatch.yaml:\n%s",
                bad);
        fail();
    }
}

static void test_engine_defaults(void **state)
{
    (void)state;
    struct sw_conf *c = load_ok(NULL);
    const struct sw_engine_settings *e = sw_conf_section(c, "engine");
    const struct sw_limits_settings *lim = sw_conf_section(c, "limits");
    const struct sw_muc_settings *m = sw_conf_section(c, "muc");
    assert_non_null(e);
    assert_non_null(lim);
    assert_non_null(m);
    assert_int_equal(e->threads, 0);
    assert_int_equal(e->parse_threads, 0);
    assert_int_equal(e->queue_policy, SW_QUEUE_BLOCK);
    assert_int_equal(e->batch_bytes, 1 << 20);
    assert_int_equal(e->queue_batches, 16);
    assert_int_equal(e->hit_queue, 4096);
    assert_int_equal(e->tick_ms, 1000);
    assert_string_equal(e->log_level, "info");
    assert_int_equal(lim->max_depth, 32);
    assert_int_equal(lim->max_attr_bytes, 4096);
    assert_int_equal(lim->max_text_bytes, 65536);
    assert_int_equal(lim->max_stanza_bytes, 256 * 1024);
    assert_int_equal(lim->body_keep, 1024);
    assert_int_equal(m->services.n, 0);
    assert_int_equal(m->server_jids.n, 0);
    sw_conf_free(c);
}

static void expect_error(const char *yaml, const char *want)
{
    char path[] = "/tmp/sw_test_settings_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    struct sw_conf *c = NULL;
    struct sw_errbuf eb = {{0}};
    int rc = sw_conf_load(path, &c, &eb);
    unlink(path);
    if (rc != SW_ECONF || strstr(eb.msg, want) == NULL || strstr(eb.msg, path) == NULL) {
        print_error("rc %d msg: %s\nwant: %s\n", rc, eb.msg, want);
        fail();
    }
}

static void test_engine_values_and_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/sw_test_settings_XXXXXX";
    static const char yaml[] = "engine:\n"
                               "  threads: 4\n"
                               "  queue_policy: drop\n"
                               "  batch_bytes: 256KB\n"
                               "  tick_ms: 250ms\n"
                               "  log_level: debug\n"
                               "muc:\n"
                               "  services: [conference.example.org, muc.example.net]\n"
                               "  server_jids:\n"
                               "    - example.org\n";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    struct sw_conf *c = load_ok(path);
    unlink(path);
    const struct sw_engine_settings *e = sw_conf_section(c, "engine");
    const struct sw_muc_settings *m = sw_conf_section(c, "muc");
    assert_int_equal(e->threads, 4);
    assert_int_equal(e->queue_policy, SW_QUEUE_DROP);
    assert_int_equal(e->batch_bytes, 256 * 1024);
    assert_int_equal(e->tick_ms, 250);
    assert_string_equal(e->log_level, "debug");
    assert_int_equal(m->services.n, 2);
    assert_string_equal(m->services.v[1], "muc.example.net");
    assert_int_equal(m->server_jids.n, 1);
    sw_conf_free(c);

    expect_error("engine:\n  threads: 65\n", ":2: engine.threads: 65 is out of range 0..64");
    expect_error("engine:\n  queue_policy: wait\n",
                 "engine.queue_policy: \"wait\" is not one of block, drop");
    expect_error("engine:\n  batch_bytes: 1GB\n",
                 "engine.batch_bytes: 1GB is out of range 64KB..64MB");
    expect_error("engine:\n  tick_ms: 5ms\n", "engine.tick_ms: 5ms is out of range 10ms..1m");
    expect_error("engine:\n  log_level: verbose\n",
                 "engine.log_level: \"verbose\" is not one of error, warning, info, debug");
    expect_error("limits:\n  max_depth: 1\n", "limits.max_depth: 1 is out of range 2..256");
    expect_error("limits:\n  max_stanza_bytes: 32MB\n",
                 "limits.max_stanza_bytes: 32MB is out of range 1KB..16MB");
    expect_error("muc:\n  services: conference.example.org\n",
                 "muc.services: expected a list of strings, got a scalar");
    expect_error("engin:\n  threads: 1\n", "engin: unknown key (did you mean 'engine'?)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_defaults),
        cmocka_unit_test(test_engine_values_and_errors),
        cmocka_unit_test(test_file_equals_defaults),
        cmocka_unit_test(test_file_names_every_key),
        cmocka_unit_test(test_file_comments_every_key),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
