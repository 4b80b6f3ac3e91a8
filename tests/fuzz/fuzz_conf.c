/*
 * fuzz_conf.c - libFuzzer target for the configuration loader (core/conf.c,
 * core/conf_yaml.c): the input is a YAML file loaded against the engine's
 * own sections plus a schema using every item type, including dotted
 * sections and a list of mappings.
 *
 * Property, beyond "no crash, no leak, no UB": whatever loads must dump, and
 * the dump must load again and dump to the same text (the round trip that
 * `stanzawatch dump-config` promises). The input goes through a real file in
 * /dev/shm (or /tmp) because sw_conf_load takes a path.
 *
 * Seeds: the YAML files in tests/data/conf (ctest fuzz.conf_corpus replays them).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sw/conf.h"
#include "sw/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_peer {
    char *jid;
    int64_t weight;
};

struct fz_sub {
    bool on;
    int64_t n;
};

struct fz_settings {
    bool flag;
    int64_t count;
    double ratio;
    int64_t window;
    int64_t buf;
    char *name;
    int mode;
    struct sw_conf_strlist tags;
    struct fz_sub sub;
    struct sw_conf_list peers;
};

static const char *const fz_modes[] = {"fast", "slow", NULL};

static const struct sw_conf_item fz_sub_schema[] = {
    {.key = "on", .type = SW_CONF_BOOL, .offset = offsetof(struct fz_sub, on), .def = "false"},
    {.key = "n", .type = SW_CONF_INT, .offset = offsetof(struct fz_sub, n), .def = "3"},
    SW_CONF_END,
};

static const struct sw_conf_item fz_peer_schema[] = {
    {.key = "jid", .type = SW_CONF_STRING, .offset = offsetof(struct fz_peer, jid)},
    {.key = "weight",
     .type = SW_CONF_INT,
     .offset = offsetof(struct fz_peer, weight),
     .min = 0,
     .max = 10},
    SW_CONF_END,
};

static const struct sw_conf_item fz_schema[] = {
    {.key = "flag",
     .type = SW_CONF_BOOL,
     .offset = offsetof(struct fz_settings, flag),
     .def = "false"},
    {.key = "count",
     .type = SW_CONF_INT,
     .offset = offsetof(struct fz_settings, count),
     .min = 1,
     .max = 100,
     .def = "10"},
    {.key = "ratio",
     .type = SW_CONF_DOUBLE,
     .offset = offsetof(struct fz_settings, ratio),
     .fmin = -1e300,
     .fmax = 1e300,
     .def = "0.5"},
    {.key = "window",
     .type = SW_CONF_DURATION,
     .offset = offsetof(struct fz_settings, window),
     .def = "10s"},
    {.key = "buf",
     .type = SW_CONF_SIZE,
     .offset = offsetof(struct fz_settings, buf),
     .def = "64KB"},
    {.key = "name", .type = SW_CONF_STRING, .offset = offsetof(struct fz_settings, name)},
    {.key = "mode",
     .type = SW_CONF_ENUM,
     .offset = offsetof(struct fz_settings, mode),
     .def = "fast",
     .enum_names = fz_modes},
    {.key = "tags",
     .type = SW_CONF_STRLIST,
     .offset = offsetof(struct fz_settings, tags),
     .def = "[a, b]"},
    {.key = "sub",
     .type = SW_CONF_SECTION,
     .offset = offsetof(struct fz_settings, sub),
     .sub = fz_sub_schema},
    {.key = "peers",
     .type = SW_CONF_LIST,
     .offset = offsetof(struct fz_settings, peers),
     .sub = fz_peer_schema,
     .item_size = sizeof(struct fz_peer)},
    SW_CONF_END,
};

static char fz_path[2][64];

static void fz_init(void)
{
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    if (sw_settings_register() != 0 ||
        sw_conf_register("test", fz_schema, sizeof(struct fz_settings)) != 0 ||
        sw_conf_register("detectors.alpha", fz_sub_schema, sizeof(struct fz_sub)) != 0) {
        abort();
    }
    for (int i = 0; i < 2; i++) {
        snprintf(fz_path[i], sizeof(fz_path[i]), "%s/sw_fuzz_conf_%d_%d.yaml", dir, (int)getpid(),
                 i);
    }
}

static void fz_write(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        abort();
    }
}

static char *fz_dump(const struct sw_conf *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (fp == NULL || sw_conf_dump(c, fp) != 0) {
        abort();
    }
    fclose(fp);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    struct sw_errbuf eb;
    struct sw_conf *c1 = NULL, *c2 = NULL;
    if (!ready) {
        fz_init();
        ready = true;
    }
    fz_write(fz_path[0], data, size);
    eb.msg[0] = '\0';
    if (sw_conf_load(fz_path[0], &c1, &eb) == 0) {
        char *d1 = fz_dump(c1);
        fz_write(fz_path[1], d1, strlen(d1));
        if (sw_conf_load(fz_path[1], &c2, &eb) != 0) {
            fprintf(stderr, "dump does not load again: %s\n%s", eb.msg, d1);
            abort();
        }
        char *d2 = fz_dump(c2);
        if (strcmp(d1, d2) != 0) {
            fprintf(stderr, "dump round trip differs:\n%s---\n%s", d1, d2);
            abort();
        }
        free(d1);
        free(d2);
        sw_conf_free(c2);
        sw_conf_free(c1);
    } else if (eb.msg[0] == '\0') {
        abort(); /* every failure explains itself */
    }
    unlink(fz_path[0]);
    unlink(fz_path[1]);
    return 0;
}
