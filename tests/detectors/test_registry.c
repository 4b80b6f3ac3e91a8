/*
 * test_registry.c - detectors/list.h against everything a detector needs:
 * for every SW_DETECTOR(name, stem) line, the registry holds sw_<name>_ops
 * under that name and in that order, tests/detectors/test_<stem>.c exists,
 * the ops declare symbols ("<name>.<signal>" or "<name>.*", sane scores),
 * configs/stanzawatch.yaml has a detectors.<name> section and lists every one
 * of those symbols under aggregate.symbols, and the aggregator's built-in
 * symbols are exactly the detectors' own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sw/conf.h"
#include "sw/detector.h"
#include "sw/incident.h"
#include "sw/settings.h"
#include "sw/sw.h"

#include "../../reporter/aggregate_int.h"

#define CONFIG_FILE SW_SOURCE_DIR "/configs/stanzawatch.yaml"

struct entry {
    const char *name, *stem;
};

static const struct entry listed[] = {
#define SW_DETECTOR(name, stem) {#name, #stem},
#include "../../detectors/list.h"
#undef SW_DETECTOR
};
#define N_LISTED (sizeof(listed) / sizeof(listed[0]))

static void test_registry_follows_list(void **state)
{
    (void)state;
    const struct sw_detector_ops *const *reg = sw_registry_list();
    size_t n = 0;
    for (; reg[n] != NULL; n++) {
        assert_true(n < N_LISTED);
        assert_string_equal(reg[n]->name, listed[n].name);
        assert_int_equal(reg[n]->abi, SW_DETECTOR_ABI);
    }
    assert_int_equal(n, N_LISTED);
}

static void test_every_detector_has_a_test(void **state)
{
    (void)state;
    char path[512];
    for (size_t i = 0; i < N_LISTED; i++) {
        snprintf(path, sizeof(path), "%s/tests/detectors/test_%s.c", SW_SOURCE_DIR, listed[i].stem);
        if (access(path, R_OK) != 0) {
            fail_msg("detector %s: no test %s", listed[i].name, path);
        }
        snprintf(path, sizeof(path), "%s/detectors/%s.c", SW_SOURCE_DIR, listed[i].stem);
        if (access(path, R_OK) != 0) {
            fail_msg("detector %s: no source %s", listed[i].name, path);
        }
    }
}

static void test_every_detector_has_symbols(void **state)
{
    (void)state;
    for (const struct sw_detector_ops *const *d = sw_registry_list(); *d != NULL; d++) {
        const struct sw_detector_symbol *sy = (*d)->symbols;
        size_t plen = strlen((*d)->name);
        if (sy == NULL || sy[0].symbol == NULL) {
            fail_msg("detector %s declares no symbols", (*d)->name);
        }
        for (; sy->symbol != NULL; sy++) {
            if (strncmp(sy->symbol, (*d)->name, plen) != 0 || sy->symbol[plen] != '.' ||
                sy->symbol[plen + 1] == '\0') {
                fail_msg("detector %s: symbol %s is not <name>.<signal>", (*d)->name, sy->symbol);
            }
            assert_true(sy->score >= -100.0 && sy->score <= 100.0);
        }
    }
}

/* Is @symbol listed in the aggregate.symbols sequence @seq? */
static bool seq_has_symbol(const struct sw_conf_node *seq, const char *symbol)
{
    for (size_t i = 0; i < sw_conf_node_count(seq); i++) {
        const char *s = sw_conf_node_scalar(sw_conf_node_get(sw_conf_node_item(seq, i), "symbol"));
        if (s != NULL && strcmp(s, symbol) == 0) {
            return true;
        }
    }
    return false;
}

static void test_every_detector_is_configured(void **state)
{
    (void)state;
    struct sw_errbuf eb = {{0}};
    struct sw_conf *c = NULL;
    assert_int_equal(sw_conf_load(NULL, &c, &eb), 0);
    const struct sw_conf_node *root = NULL;
    if (sw_conf_load_node(c, CONFIG_FILE, &root, &eb) != 0) {
        fail_msg("%s", eb.msg);
    }
    const struct sw_conf_node *dets = sw_conf_node_get(root, "detectors");
    const struct sw_conf_node *syms =
        sw_conf_node_get(sw_conf_node_get(root, "aggregate"), "symbols");
    assert_int_equal(sw_conf_node_kind(dets), SW_CONF_NODE_MAP);
    assert_int_equal(sw_conf_node_kind(syms), SW_CONF_NODE_SEQ);
    for (const struct sw_detector_ops *const *d = sw_registry_list(); *d != NULL; d++) {
        if (sw_conf_node_kind(sw_conf_node_get(dets, (*d)->name)) != SW_CONF_NODE_MAP) {
            fail_msg("%s: no section detectors.%s", CONFIG_FILE, (*d)->name);
        }
        for (const struct sw_detector_symbol *sy = (*d)->symbols; sy && sy->symbol; sy++) {
            if (!seq_has_symbol(syms, sy->symbol)) {
                fail_msg("%s: aggregate.symbols lacks %s", CONFIG_FILE, sy->symbol);
            }
        }
    }
    sw_conf_free(c);
}

/* The aggregator's built-in symbols are the detectors' own, in list order. */
static void test_aggregate_defaults_are_the_detectors(void **state)
{
    (void)state;
    struct sw_errbuf eb = {{0}};
    struct sw_conf *c = NULL;
    assert_int_equal(sw_conf_load(NULL, &c, &eb), 0);
    const struct sw_aggregate_settings *as = sw_conf_section(c, "aggregate");
    assert_non_null(as);
    const struct sw_aggregate_symbol *got = as->symbols.items;
    size_t k = 0;
    for (const struct sw_detector_ops *const *d = sw_registry_list(); *d != NULL; d++) {
        for (const struct sw_detector_symbol *sy = (*d)->symbols; sy && sy->symbol; sy++, k++) {
            assert_true(k < as->symbols.n);
            assert_string_equal(got[k].symbol, sy->symbol);
            assert_true(got[k].score == sy->score);
            assert_string_equal(got[k].group, sy->group ? sy->group : "");
        }
    }
    assert_int_equal(as->symbols.n, k);
    sw_conf_free(c);
}

int main(void)
{
    struct sw_errbuf eb = {{0}};
    if (sw_settings_register() != 0 || sw_registry_register_conf(&eb) != 0 ||
        sw_aggregate_register_conf(sw_registry_list()) != 0) {
        fprintf(stderr, "register: %s\n", eb.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_follows_list),
        cmocka_unit_test(test_every_detector_has_a_test),
        cmocka_unit_test(test_every_detector_has_symbols),
        cmocka_unit_test(test_every_detector_is_configured),
        cmocka_unit_test(test_aggregate_defaults_are_the_detectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
