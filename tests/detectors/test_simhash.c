/*
 * test_simhash.c - near-duplicates (random suffix, obfuscation, changed
 * token) stay close; different texts stay far.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../detectors/simhash.h"

static uint64_t fp(const char *s)
{
    return sw_simhash_text(s, strlen(s), NULL);
}

static void test_near_duplicates(void **state)
{
    (void)state;
    const char *base = "Get free bitcoin now at http://cheap-coins.example/win claim today";
    uint64_t a = fp(base);
    char buf[256];
    const char *suffixes[] = {" x7f3k", " qq91z", " 4kd8a", " zzpq1", " m0m0x"};
    for (size_t i = 0; i < 5; i++) {
        snprintf(buf, sizeof(buf), "%s%s", base, suffixes[i]);
        assert_true(sw_simhash_distance(a, fp(buf)) <= 12); /* the detectors' default distance */
    }
    /* Case, leetspeak and spacing are folded by the normalizer. */
    assert_true(sw_simhash_distance(
                    a, fp("GET  FR33 b1tc0in now at http://cheap-coins.example/win claim today")) <=
                12);
    /* A changed token in the middle. */
    assert_true(sw_simhash_distance(
                    a, fp("Get free bitcoin now at http://cheap-coins.example/lol claim today")) <=
                12);
    assert_int_equal(sw_simhash_distance(a, fp(base)), 0);
}

static void test_different_texts(void **state)
{
    (void)state;
    const char *t[] = {
        "Get free bitcoin now at http://cheap-coins.example/win claim today",
        "did anyone see the match yesterday? what a finish",
        "I pushed the fix for the build, please review when you can",
        "Lunch at noon? The place near the station has good noodles",
        "new release 2.4 is out with faster startup and a dark theme",
    };
    for (size_t i = 0; i < 5; i++) {
        for (size_t j = i + 1; j < 5; j++) {
            assert_true(sw_simhash_distance(fp(t[i]), fp(t[j])) > 16);
        }
    }
    assert_int_equal(fp(""), 0);
    /* Short texts hash whole: equal or not. */
    assert_int_equal(fp("hi"), fp("HI"));
    assert_int_not_equal(fp("hi"), fp("yo"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_near_duplicates),
        cmocka_unit_test(test_different_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
