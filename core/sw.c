/*
 * sw.c - error strings, error buffer, hashing and time helpers shared by every
 * module. Pure functions, reentrant.
 *
 * Hashing uses XXH3-64 from Debian's libxxhash: fast on short keys (JIDs are
 * 10-60 bytes), well distributed, and not ours to get wrong.
 */
#include "sw/sw.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

const char *sw_strerror(int err)
{
    switch (err) {
#define SW_ERR_CASE(name, value, text)                                                             \
    case (value):                                                                                  \
        return (text);
        SW_ERRORS(SW_ERR_CASE)
#undef SW_ERR_CASE
    default:
        return "unknown error";
    }
}

int sw_errbuf_set(struct sw_errbuf *eb, int err, const char *fmt, ...)
{
    if (eb != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
        va_end(ap);
    }
    return err;
}

uint64_t sw_hash64(const void *p, size_t len)
{
    if (len == 0) {
        return 0;
    }
    uint64_t h = XXH3_64bits(p, len);
    return h ? h : 1;
}

uint64_t sw_hash64_lower(const void *p, size_t len)
{
    const unsigned char *s = p;
    char buf[256];
    if (len == 0) {
        return 0;
    }
    if (len > sizeof(buf)) {
        /* Long JIDs are rare; hash in streaming mode without a size limit. */
        XXH3_state_t st;
        XXH3_64bits_reset(&st);
        for (size_t off = 0; off < len; off += sizeof(buf)) {
            size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);
            for (size_t i = 0; i < n; i++) {
                unsigned char c = s[off + i];
                buf[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            XXH3_64bits_update(&st, buf, n);
        }
        uint64_t h = XXH3_64bits_digest(&st);
        return h ? h : 1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        buf[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    uint64_t h = XXH3_64bits(buf, len);
    return h ? h : 1;
}

int64_t sw_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t sw_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Two decimal digits of @v (< 100). */
static inline void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

char *sw_fmt_time(int64_t ms, char *buf, size_t len)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int msec = (int)(ms - secs * 1000);
    int64_t z = (secs >= 0 ? secs : secs - 86399) / 86400;
    int sod = (int)(secs - z * 86400);
    /* civil_from_days */
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (len >= 25 && y >= 0 && y <= 9999) {
        /* what the snprintf below prints, without its ~3,600 instructions
         * (incident lines carry several times each) */
        put2(buf, (unsigned)y / 100);
        put2(buf + 2, (unsigned)y % 100);
        buf[4] = '-';
        put2(buf + 5, m);
        buf[7] = '-';
        put2(buf + 8, d);
        buf[10] = 'T';
        put2(buf + 11, (unsigned)sod / 3600);
        buf[13] = ':';
        put2(buf + 14, (unsigned)(sod / 60) % 60);
        buf[16] = ':';
        put2(buf + 17, (unsigned)sod % 60);
        buf[19] = '.';
        buf[20] = (char)('0' + msec / 100);
        put2(buf + 21, (unsigned)msec % 100);
        buf[23] = 'Z';
        buf[24] = '\0';
        return buf;
    }
    snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d, sod / 3600,
             (sod / 60) % 60, sod % 60, msec);
    return buf;
}

static int digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Two ASCII digits at @s (the common case of digits()). */
static inline int digits2(const char *s, unsigned *out)
{
    unsigned a = (unsigned)(unsigned char)s[0] - '0';
    unsigned b = (unsigned)(unsigned char)s[1] - '0';
    if (a > 9 || b > 9) {
        return -1;
    }
    *out = a * 10 + b;
    return 0;
}

/* Optional fraction of a second at s[*i] (".d+", any number of digits, kept to ms):
 * advances *i past it. Returns 0, or -1 for a '.' without digits. */
static int parse_frac(const char *s, size_t len, size_t *i, unsigned *frac_ms)
{
    size_t k = *i;
    unsigned ms = 0;
    if (k < len && s[k] == '.') {
        k++;
        unsigned scale = 100;
        size_t nd = 0;
        while (k < len && s[k] >= '0' && s[k] <= '9') {
            ms += (unsigned)(s[k] - '0') * scale;
            scale /= 10;
            k++;
            nd++;
        }
        if (nd == 0) {
            return -1;
        }
    }
    *i = k;
    *frac_ms = ms;
    return 0;
}

/* Per-thread memo of the last RFC 3339 date ("YYYY-MM-DD") and its day number:
 * consecutive stamps nearly always share the date. Only dates of stamps that
 * parsed are stored. */
static _Thread_local char pt_date[10];
static _Thread_local int64_t pt_days;
static _Thread_local bool pt_have;

/* The digit at s[@i] minus '0' (any byte: a non-digit is > 9). */
#define PT_D(i) ((unsigned)(unsigned char)s[i] - '0')

int sw_parse_time(const char *s, size_t len, int64_t *out_ms)
{
    unsigned y, mo, d, h, mi, se;
    size_t i;
    if (len == 24 && pt_have && memcmp(s, pt_date, 10) == 0 && s[10] == 'T' && s[13] == ':' &&
        s[16] == ':' && s[19] == '.' && (s[23] == 'Z' || s[23] == 'z')) {
        /* the common stamp, "YYYY-MM-DDThh:mm:ss.sssZ" on the last stamp's
         * date: the same value as the path below, without its calls (a third
         * of this function's instructions were parse_frac()'s call and loop) */
        unsigned h1 = PT_D(11), h0 = PT_D(12), m1 = PT_D(14), m0 = PT_D(15), s1 = PT_D(17),
                 s0 = PT_D(18), f2 = PT_D(20), f1 = PT_D(21), f0 = PT_D(22);
        if (!((h1 > 9) | (h0 > 9) | (m1 > 9) | (m0 > 9) | (s1 > 9) | (s0 > 9) | (f2 > 9) |
              (f1 > 9) | (f0 > 9))) {
            h = h1 * 10 + h0;
            mi = m1 * 10 + m0;
            se = s1 * 10 + s0;
            if (h <= 23 && mi <= 59 && se <= 60) {
                int64_t secs = pt_days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + (int64_t)se;
                *out_ms = secs * 1000 + (int64_t)(f2 * 100 + f1 * 10 + f0);
                return 0;
            }
        }
        /* a bad digit or field: the paths below say so */
    }
    if (len >= 19 && pt_have && s[10] == 'T' && memcmp(s, pt_date, 10) == 0 && s[13] == ':' &&
        s[16] == ':' && digits2(s + 11, &h) == 0 && digits2(s + 14, &mi) == 0 &&
        digits2(s + 17, &se) == 0 && h <= 23 && mi <= 59 && se <= 60) {
        /* same date as the last stamp: only the time of day and the tail */
        i = 19;
        unsigned frac_ms;
        if (parse_frac(s, len, &i, &frac_ms) != 0) {
            return SW_EPARSE;
        }
        if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
            int64_t secs = pt_days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + (int64_t)se;
            *out_ms = secs * 1000 + frac_ms;
            return 0;
        }
        /* an offset or junk after the seconds: the general path below */
    }
    if (len >= 17 && s[4] != '-' && s[8] == 'T') {
        /* XEP-0091 legacy: CCYYMMDDThh:mm:ss (UTC) */
        if (digits(s, 4, &y) || digits(s + 4, 2, &mo) || digits(s + 6, 2, &d) ||
            digits(s + 9, 2, &h) || s[11] != ':' || digits(s + 12, 2, &mi) || s[14] != ':' ||
            digits(s + 15, 2, &se)) {
            return SW_EPARSE;
        }
        i = 17;
    } else {
        if (len < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
            s[13] != ':' || s[16] != ':') {
            return SW_EPARSE;
        }
        if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
            digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se)) {
            return SW_EPARSE;
        }
        i = 19;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
        return SW_EPARSE;
    }
    unsigned frac_ms;
    if (parse_frac(s, len, &i, &frac_ms) != 0) {
        return SW_EPARSE;
    }
    int64_t off_s = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        unsigned oh, om;
        if (len - i < 6 || digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            digits(s + i + 4, 2, &om)) {
            return SW_EPARSE;
        }
        off_s = (int64_t)(oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else if (i < len) {
        return SW_EPARSE;
    }
    if (i != len) {
        return SW_EPARSE;
    }
    int64_t days = days_from_civil((int64_t)y, mo, d);
    if (s[4] == '-' && s[10] == 'T') {
        memcpy(pt_date, s, 10);
        pt_days = days;
        pt_have = true;
    }
    int64_t secs = days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + (int64_t)se - off_s;
    *out_ms = secs * 1000 + frac_ms;
    return 0;
}
#undef PT_D
