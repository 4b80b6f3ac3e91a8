/*
 * capture.h - for engine tests that read the capture fixtures in
 * tests/data/captures (test_split, test_xml, test_reflect): sw_test_load_capture() returns
 * the whole file, NUL-terminated, malloc'ed (the caller frees it), with its
 * length in *len; a missing or short file fails the test (cmocka asserts).
 * sw_test_load_file() does the same for any path.
 *
 * Needs SW_SOURCE_DIR (set for every test by sw_add_test). Header-only
 * (static functions) so each test binary is self-contained.
 */
#ifndef SW_TEST_CAPTURE_H
#define SW_TEST_CAPTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

/* The whole file at @path (absolute), NUL-terminated, malloc'ed. */
static char *sw_test_load_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot read %s", path);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static char *sw_test_load_capture(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/captures/%s", SW_SOURCE_DIR, name);
    return sw_test_load_file(path, len);
}

#endif
