/*
 * test_link.c - sw_link_first(): where a link starts ("scheme://" or a bare
 * "host.tld/..."), the canonical host + path it gives, and the edges of the
 * scans (a ':' or '/' too close to either end, texts of 0-6 bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sw/link.h"

static const char *first(const char *body)
{
    static char host[SW_LINK_MAX];
    size_t n = sw_link_first(body, strlen(body), host);
    assert_int_equal(n, n > 0 ? strlen(host) : 0);
    return n > 0 ? host : "";
}

static void test_scheme_links(void **state)
{
    (void)state;
    assert_string_equal(first("see https://Example.COM/Path?x=1 now"), "example.com/Path?x=1");
    assert_string_equal(first("time 10:30, then http://x.io/a"), "x.io/a"); /* first ':' no link */
    assert_string_equal(first("x://a.b"), "a.b");
    assert_string_equal(first("a://b"), ""); /* a host without a dot */
    assert_string_equal(first("https://www.Site.org/abc."), "site.org/abc");
    assert_string_equal(first("see ftp://"), ""); /* nothing after "://", no bare link */
}

static void test_bare_links(void **state)
{
    (void)state;
    assert_string_equal(first("go to www.site.org/abc."), "site.org/abc");
    assert_string_equal(first("WWW.Foo.Bar/X,"), "foo.bar/X");
    assert_string_equal(first("line1\nsite.com/x"), "site.com/x");
    assert_string_equal(first("abc.d/x"), "abc.d/x");
    assert_string_equal(first("ab.cd/e"), "ab.cd/e");
    assert_string_equal(first("ab.cd/"), "");   /* '/' as the last byte is not looked at */
    assert_string_equal(first("ab/c.d"), "");   /* '/' before index 4 */
    assert_string_equal(first("abcd/x.y"), ""); /* the word before '/' has no dot */
    assert_string_equal(first("and/or a.b/c"), "a.b/c");
}

static void test_short_texts(void **state)
{
    (void)state;
    char host[SW_LINK_MAX];
    assert_int_equal(sw_link_first(NULL, 0, host), 0);
    assert_int_equal(sw_link_first("", 0, host), 0);
    assert_int_equal(sw_link_first("a:/", 3, host), 0);
    assert_int_equal(sw_link_first("a://", 4, host), 0);
    /* the scans stop at len: a link past it is not seen */
    assert_int_equal(sw_link_first("abc http://x.io", 4, host), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scheme_links),
        cmocka_unit_test(test_bare_links),
        cmocka_unit_test(test_short_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
