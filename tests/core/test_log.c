/*
 * test_log.c - core/log.c: the per-call-site token bucket promised by log.h
 * (burst, refill, suppressed count on the next printed line, sites
 * independent, the level filter) on the real stderr, redirected to a file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sw/log.h"

static void test_bucket(void **state)
{
    (void)state;
    struct sw_log_site s = {0};
    uint32_t sup = 99;
    for (unsigned i = 0; i < SW_LOG_BURST; i++) {
        assert_true(sw_log_admit(&s, 1000, &sup));
        assert_int_equal(sup, 0);
    }
    for (int i = 0; i < 25; i++) { /* burst spent: dropped and counted */
        assert_false(sw_log_admit(&s, 1000 + i, &sup));
    }
    assert_false(sw_log_admit(&s, 1000 + SW_LOG_REFILL_MS - 1, &sup));
    assert_true(sw_log_admit(&s, 1000 + SW_LOG_REFILL_MS, &sup)); /* one token back */
    assert_int_equal(sup, 26);
    assert_false(sw_log_admit(&s, 1000 + SW_LOG_REFILL_MS, &sup));
    /* three refill periods later: three tokens */
    int64_t t = 1000 + 4 * SW_LOG_REFILL_MS;
    for (int i = 0; i < 3; i++) {
        assert_true(sw_log_admit(&s, t, &sup));
    }
    assert_false(sw_log_admit(&s, t, &sup));
    /* a long quiet time refills the burst, no more */
    t += 1000 * SW_LOG_REFILL_MS;
    for (unsigned i = 0; i < SW_LOG_BURST; i++) {
        assert_true(sw_log_admit(&s, t, &sup));
    }
    assert_false(sw_log_admit(&s, t, &sup));
}

/* Count the lines of @path containing @needle. */
static int count_lines(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        n += strstr(line, needle) != NULL;
    }
    fclose(fp);
    return n;
}

static void test_sites_on_stderr(void **state)
{
    (void)state;
    char path[] = "/tmp/test_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    sw_log_set_level(SW_LOG_INFO);
    for (int i = 0; i < 100; i++) {
        sw_log_warn("test", "noisy %d", i); /* one site */
    }
    for (int i = 0; i < 3; i++) {
        sw_log_info("test", "quiet %d", i); /* another site: not silenced by the first */
    }
    for (int i = 0; i < 5; i++) {
        sw_log_debug("test", "hidden %d", i); /* below the level */
    }
    for (int i = 0; i < 20; i++) {
        sw_log(SW_LOG_ERROR, "test", "unlimited %d", i);
    }
    struct sw_log_site site = {0};
    for (unsigned i = 0; i < SW_LOG_BURST + 2; i++) {
        sw_log_at(&site, SW_LOG_WARN, "test", "site %u", i);
    }
    site.last_ms -= SW_LOG_REFILL_MS; /* as if one refill period passed */
    sw_log_at(&site, SW_LOG_WARN, "test", "after");
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    close(fd);
    assert_int_equal(count_lines(path, ": warning: test: noisy "), SW_LOG_BURST);
    assert_int_equal(count_lines(path, "noisy 9\n"), 1);
    assert_int_equal(count_lines(path, "noisy 10"), 0);
    assert_int_equal(count_lines(path, ": info: test: quiet "), 3);
    assert_int_equal(count_lines(path, "hidden"), 0);
    assert_int_equal(count_lines(path, "unlimited"), 20);
    assert_int_equal(count_lines(path, "test: site "), SW_LOG_BURST);
    /* the next printed line of a site says how many were dropped */
    assert_int_equal(count_lines(path, "test: after [2 similar lines suppressed]\n"), 1);
    assert_int_equal(count_lines(path, "suppressed"), 1);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_sites_on_stderr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
