/*
 * test_time.c - sw_parse_time (XEP-0082 / XEP-0091 stamps) and sw_fmt_time
 * from core/sw.c.
 */
#include "sw/sw.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static int64_t parse(const char *s)
{
    int64_t ms = -1;
    assert_int_equal(sw_parse_time(s, strlen(s), &ms), 0);
    return ms;
}

static void test_parse_valid(void **state)
{
    (void)state;
    assert_int_equal(parse("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse("2025-03-02T10:14:51.250Z"), 1740910491250LL);
    /* fraction: any number of digits, truncated to ms */
    assert_int_equal(parse("2025-03-02T10:14:51.2Z"), 1740910491200LL);
    assert_int_equal(parse("2025-03-02T10:14:51.123456789Z"), 1740910491123LL);
    /* offsets */
    assert_int_equal(parse("2025-03-02T12:14:51+02:00"), 1740910491000LL);
    assert_int_equal(parse("2025-03-02T05:44:51-04:30"), 1740910491000LL);
    /* no zone: taken as UTC */
    assert_int_equal(parse("2025-03-02T10:14:51"), 1740910491000LL);
    /* XEP-0091 legacy */
    assert_int_equal(parse("20250302T10:14:51"), 1740910491000LL);
    /* leap day and year boundaries */
    assert_int_equal(parse("2024-02-29T00:00:00Z"), 1709164800000LL);
    assert_int_equal(parse("1999-12-31T23:59:59.999Z"), 946684799999LL);
    /* before the epoch */
    assert_int_equal(parse("1969-12-31T23:59:59Z"), -1000);
    /* lower-case separators */
    assert_int_equal(parse("2025-03-02t10:14:51z"), 1740910491000LL);
}

static void test_parse_invalid(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "yesterday",
        "2025-03-02",
        "2025-03-02 10:14:51Z",
        "2025-13-02T10:14:51Z",
        "2025-03-32T10:14:51Z",
        "2025-03-02T24:00:00Z",
        "2025-03-02T10:60:00Z",
        "2025-03-02T10:14:51.Z",
        "2025-03-02T10:14:51+0200",
        "2025-03-02T10:14:51ZZ",
        "2025-03-02T10:14:5xZ",
        "20250302T10:14",
        "2025030xT10:14:51",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 42;
        if (sw_parse_time(bad[i], strlen(bad[i]), &ms) != SW_EPARSE) {
            fail_msg("accepted '%s'", bad[i]);
        }
        assert_int_equal(ms, 42); /* untouched on failure */
    }
    /* length is honoured: a valid prefix with trailing bytes outside len */
    int64_t ms;
    assert_int_equal(sw_parse_time("2025-03-02T10:14:51Zjunk", 20, &ms), 0);
    assert_int_equal(ms, 1740910491000LL);
}

/* A stamp on the date of the last one takes a shorter path (core/sw.c keeps
 * a per-thread memo of the date): every one-byte change of such a stamp
 * parses, or fails, as it does with the memo holding another date. */
static void test_parse_same_date(void **state)
{
    (void)state;
    static const char base[] = "2025-03-02T10:14:51.250Z";
    static const char subst[] = "0123456789/:.-+TtZz a\x7f\xb0";
    char v[sizeof(base)];
    int checked = 0;
    for (size_t pos = 0; pos < sizeof(base) - 1; pos++) {
        for (size_t k = 0; k < sizeof(subst) - 1; k++) {
            memcpy(v, base, sizeof(base));
            v[pos] = subst[k];
            int64_t cold = 42, warm = 42, ms;
            /* memo on another date: the general path */
            assert_int_equal(sw_parse_time("2001-01-01T00:00:00Z", 20, &ms), 0);
            int rc_cold = sw_parse_time(v, sizeof(base) - 1, &cold);
            /* memo on this stamp's date */
            assert_int_equal(sw_parse_time(base, sizeof(base) - 1, &ms), 0);
            int rc_warm = sw_parse_time(v, sizeof(base) - 1, &warm);
            if (rc_cold != rc_warm || cold != warm) {
                fail_msg("'%s': %d/%lld without the memo, %d/%lld with it", v, rc_cold,
                         (long long)cold, rc_warm, (long long)warm);
            }
            checked++;
        }
    }
    assert_int_equal(checked, (int)((sizeof(base) - 1) * (sizeof(subst) - 1)));
    assert_int_equal(parse("2025-03-02T10:14:51.250Z"), 1740910491250LL);
    assert_int_equal(parse("2025-03-02T23:59:60.999z"), 1740959999999LL + 1000);
}

static void test_fmt_roundtrip(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(sw_fmt_time(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
    assert_string_equal(sw_fmt_time(1740910491250LL, buf, sizeof(buf)), "2025-03-02T10:14:51.250Z");
    assert_string_equal(sw_fmt_time(-1, buf, sizeof(buf)), "1969-12-31T23:59:59.999Z");
    assert_string_equal(sw_fmt_time(1709164800000LL, buf, sizeof(buf)), "2024-02-29T00:00:00.000Z");
    /* every ~37 hours over 60 years plus odd ms: format then parse gives the value */
    for (int64_t t = -86400000LL * 365; t < 86400000LL * 365 * 60; t += 133333337LL) {
        sw_fmt_time(t, buf, sizeof(buf));
        assert_int_equal(strlen(buf), 24);
        assert_int_equal(parse(buf), t);
    }
}

/* The digit fast path prints what snprintf + gmtime_r print, for years 0000
 * to 9999 and beyond (the snprintf fallback), and a short buffer gets the
 * same cut prefix. */
static void test_fmt_matches_gmtime(void **state)
{
    (void)state;
    char buf[40], want[64], cut[40];
    uint64_t rng = 88172645463325252ull;
    const int64_t lo = -62167219200000LL - 86400000LL * 3660; /* ~10 years before 0000 */
    const int64_t hi = 253402300800000LL + 86400000LL * 3660; /* ~10 years after 9999 */
    for (int i = 0; i < 300000; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int64_t t;
        if (i % 3 == 0) {
            t = lo + (int64_t)(rng % (uint64_t)(hi - lo));
        } else {
            t = 1262304000000LL + (int64_t)(rng % (86400000ull * 365 * 40)); /* 2010..2050 */
        }
        if (i < 8) {
            int64_t edge[] = {lo, -62167219200000LL, -62167219200001LL, -1,
                              0,  253402300799999LL, 253402300800000LL, hi};
            t = edge[i];
        }
        int64_t secs = t >= 0 ? t / 1000 : (t - 999) / 1000;
        time_t tt = (time_t)secs;
        struct tm tm;
        assert_non_null(gmtime_r(&tt, &tm));
        snprintf(want, sizeof(want), "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 (long long)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, (int)(t - secs * 1000));
        assert_string_equal(sw_fmt_time(t, buf, sizeof(buf)), want);
        size_t n = (size_t)(rng >> 59); /* 0..31 */
        if (n > 0) {
            memset(cut, 'x', sizeof(cut));
            sw_fmt_time(t, cut, n);
            assert_int_equal(strlen(cut), strlen(want) < n ? strlen(want) : n - 1);
            assert_memory_equal(cut, want, strlen(cut));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_same_date),    cmocka_unit_test(test_fmt_roundtrip),
        cmocka_unit_test(test_fmt_matches_gmtime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
