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

#include "sw/simhash.h"

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

/* A plain word (letters, digits) at either end of a text of 5+ tokens casts no
 * votes: pronounceable random suffixes or prefixes pass the noise filter. */
static void test_end_words(void **state)
{
    (void)state;
    const char *base =
        "Cheap followers & likes, best price! Visit http://kua03de.example/o24tve now";
    char buf[256];
    snprintf(buf, sizeof(buf), "%s sebevyo", base);
    uint64_t a = fp(buf);
    const char *suffixes[] = {" kaxolu", " tumeabo", " x7f3k", " e62", " Sebevyo", " qxzkvbn"};
    for (size_t i = 0; i < 6; i++) {
        snprintf(buf, sizeof(buf), "%s%s", base, suffixes[i]);
        assert_int_equal(sw_simhash_distance(a, fp(buf)), 0);
    }
    /* The same line without a suffix loses "now" instead: still close. */
    assert_true(sw_simhash_distance(a, fp(base)) <= 8);
    assert_true(sw_simhash_distance(a, fp(base)) > 0);
    /* A prepended plain word too: variants with one agree (against those
     * without, "cheap" instead of "hola" is the difference, as far as before). */
    snprintf(buf, sizeof(buf), "hola %s sebevyo", base);
    uint64_t b = fp(buf);
    snprintf(buf, sizeof(buf), "yo %s kaxolu", base);
    assert_int_equal(sw_simhash_distance(b, fp(buf)), 0);
    snprintf(buf, sizeof(buf), "Yo  %s  e62", base);
    assert_int_equal(sw_simhash_distance(b, fp(buf)), 0);
    /* A URL or non-ASCII text at the end keeps its votes; a short number not. */
    assert_true(fp("read the full report at http://news.example/a") !=
                fp("read the full report at http://news.example/b"));
    assert_true(fp("the next train leaves at 1715") == fp("the next train leaves at 1745"));
    assert_true(fp("the next train leaves at 17:15") != fp("the next train leaves at 17:45"));
    assert_true(fp("see you all at the \xe6\x9d\xb1\xe4\xba\xac\xe9\xa7\x85") !=
                fp("see you all at the \xe5\xa4\xa7\xe9\x98\xaa\xe9\xa7\x85"));
    /* Words over SW_SIMHASH_END_MAX_WORD letters keep their votes. */
    assert_true(fp("we all need more patience and understanding") !=
                fp("we all need more patience and responsibility"));
    /* Fewer than SW_SIMHASH_END_MIN_TOKENS tokens: every word counts. */
    assert_true(fp("GOAL what a shot") != fp("GOAL what a save"));
    assert_true(fp("messi scores again") != fp("ronaldo scores again"));
}

/* sw_simhash_raw against the definition: per shingle the same 64-bit mix,
 * one counter per bit, majority of the shingles. */
static uint64_t ref_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

static uint64_t ref_raw(const char *s, size_t len)
{
    if (len == 0) {
        return 0;
    }
    if (len > SW_SIMHASH_MAX_TEXT) {
        len = SW_SIMHASH_MAX_TEXT;
    }
    if (len < SW_SIMHASH_SHINGLE) {
        uint64_t v = 0;
        memcpy(&v, s, len);
        return ref_mix64(v ^ (uint64_t)len << 56);
    }
    unsigned ones[64] = {0}, ng = 0;
    for (size_t i = 0; i + SW_SIMHASH_SHINGLE <= len; i++) {
        uint32_t g;
        memcpy(&g, s + i, sizeof(g));
        uint64_t h = ref_mix64((uint64_t)g * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
        for (unsigned b = 0; b < 64; b++) {
            ones[b] += (unsigned)(h >> b & 1);
        }
        ng++;
    }
    uint64_t fp = 0;
    for (unsigned b = 0; b < 64; b++) {
        fp |= (uint64_t)(2 * ones[b] > ng) << b;
    }
    return fp;
}

static void test_raw_matches_definition(void **state)
{
    (void)state;
    char buf[SW_SIMHASH_MAX_TEXT + 40];
    uint64_t x = 0x243F6A8885A308D3ull;
    for (unsigned n = 0; n < 20000; n++) {
        size_t len = n % (sizeof(buf) + 1);
        /* few distinct bytes for some texts: many repeated shingles, so
         * counters near the majority edge and at their maximum */
        unsigned alpha = n % 3 == 0 ? 2 : n % 3 == 1 ? 26 : 256;
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (char)(alpha == 256 ? (x & 0xFF) : 'a' + x % alpha);
        }
        uint64_t want = ref_raw(buf, len);
        assert_true(sw_simhash_raw(buf, len) == want);
        /* and the AVX2 and SSE2 code, where the AVX-512 one ran above */
        sw_simhash_force_avx2(1);
        assert_true(sw_simhash_raw(buf, len) == want);
        sw_simhash_force_avx2(0);
        sw_simhash_force_sse2(1);
        assert_true(sw_simhash_raw(buf, len) == want);
        sw_simhash_force_sse2(0);
    }
}

/* Generated text for test_token_scan_matches_scalar: pieces of ASCII words
 * (both cases, vowel-less runs, letters mixed with digits, long tokens), digit
 * runs, punctuation runs, URLs, UTF-8 of several scripts and zero-width
 * characters, separated by runs of spaces, tabs, CR and LF (or not at all). */
static uint64_t xs_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static size_t gen_text(uint64_t *x, char *buf, size_t cap)
{
    static const char *const pieces[] = {
        "hello",
        "World",
        "FREE",
        "bitcoin",
        "qxzkvbn",
        "x7f3k",
        "9e3779b1",
        "a",
        "I",
        "yy",
        "rhythm",
        "AEIOUY",
        "2026",
        "1234567",
        "0",
        "b1tc0in",
        "fr33",
        "Zz9",
        "9",
        "1999",
        "z9",
        "supercalifragilistic",
        "http://cheap-coins.example/win?x=1&y=2",
        "!!!",
        "...",
        "->",
        ":-)",
        "?!?!",
        "#tag",
        "@nick",
        "&amp;",
        "\"quoted\"",
        "(x)",
        "[ok]",
        "_-_-_",
        "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82",
        "\xce\xba\xce\xb1\xce\xbb\xce\xb7\xce\xbc\xce\xad\xcf\x81\xce\xb1",
        "\xe6\x9d\xb1\xe4\xba\xac\xe9\xa7\x85",
        "\xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7",
        "\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87",
        "\xf0\x9f\x98\x80\xf0\x9f\x94\xa5",
        "caf\xc3\xa9",
        "\xc3\x9c\xc3\x9f",
        "\xe2\x80\x8b",
        "\xe2\x80\x8c",
        "\xe2\x80\x8d",
        "\xef\xbb\xbf",
        "\xe2\x81\xa0",
        "fr\xe2\x80\x8b\x65\x65", /* "fr<ZWSP>ee" */
        "\xd0\xb0\xd0\xb5\xd0\xbe",
        "\x01\x7f",
        "\xff\xfe"};
    static const char *const seps[] = {" ", " ", " ", "  ", "\t", "\n", "\r\n", " \t ", "", "    "};
    size_t n = 0;
    while (n < cap) {
        uint64_t r = xs_next(x);
        const char *p;
        char tok[24];
        if (r % 3 == 0) {
            /* a random token of 1..23 bytes from one class mix (vowels,
             * letters, letters and digits, those and the bytes next to the
             * class ranges, anything), so token ends fall everywhere in the
             * 16-byte windows and every class edge is met */
            static const char cls[] = "aeiouy"
                                      "bcdfghjklmnpqrstvwxzBCDXZAEIOUY"
                                      "0123456789"
                                      "@[`{/:\x7f\x80\xc3\xff"
                                      ".,;!?-_'\"#$%&()*+<=>\\]^|}~";
            static const unsigned span[5][2] = {
                {0, 6}, {6, 31}, {0, 47}, {6, 51}, {0, sizeof(cls) - 1}};
            size_t tl = 1 + (size_t)(r >> 8) % 23;
            const unsigned *sp = span[(r >> 16) % 5];
            for (size_t k = 0; k < tl; k++) {
                tok[k] = cls[sp[0] + (xs_next(x) >> 3) % sp[1]];
            }
            tok[tl] = '\0';
            p = tok;
        } else {
            p = pieces[(r >> 8) % (sizeof(pieces) / sizeof(pieces[0]))];
        }
        for (; *p != '\0' && n < cap; p++) {
            buf[n++] = *p;
        }
        for (p = seps[(r >> 40) % (sizeof(seps) / sizeof(seps[0]))]; *p != '\0' && n < cap; p++) {
            buf[n++] = *p;
        }
    }
    return n;
}

/* The SSE2 token scan (ends and class counts of 16 bytes at a time) against
 * the byte-at-a-time loop it replaced: the same fingerprint and normalized
 * length for every text of 0..300 bytes (token ends on both sides of every
 * 16-byte boundary, UTF-8 sequences cut anywhere) and for texts around the
 * 4 * SW_SIMHASH_MAX_TEXT raw bytes the tokenizer reads. */
static void test_token_scan_matches_scalar(void **state)
{
    (void)state;
    static char buf[4 * SW_SIMHASH_MAX_TEXT + 64];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    unsigned checked = 0;
    for (size_t len = 0; len <= 300; len++) {
        for (unsigned rep = 0; rep < 60; rep++) {
            gen_text(&x, buf, len);
            /* a third start with separators: a token can start anywhere */
            if (rep % 3 == 0 && len > 0) {
                buf[0] = rep % 2 ? ' ' : '\t';
            }
            size_t nv, ns;
            uint64_t fv = sw_simhash_text(buf, len, &nv);
            sw_simhash_force_sse2(1); /* and none of the AVX-512 code */
            sw_simhash_force_scalar_tokens(1);
            uint64_t fs = sw_simhash_text(buf, len, &ns);
            sw_simhash_force_scalar_tokens(0);
            sw_simhash_force_sse2(0);
            if (fv != fs || nv != ns) {
                print_error("len %zu rep %u: sse2 %016llx/%zu scalar %016llx/%zu\n", len, rep,
                            (unsigned long long)fv, nv, (unsigned long long)fs, ns);
                fail();
            }
            checked++;
        }
    }
    for (size_t len = 4 * SW_SIMHASH_MAX_TEXT - 40; len <= sizeof(buf); len += 3) {
        gen_text(&x, buf, len);
        size_t nv, ns;
        uint64_t fv = sw_simhash_text(buf, len, &nv);
        sw_simhash_force_scalar_tokens(1);
        uint64_t fs = sw_simhash_text(buf, len, &ns);
        sw_simhash_force_scalar_tokens(0);
        assert_true(fv == fs);
        assert_true(nv == ns);
        checked++;
    }
    assert_true(checked > 18000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_near_duplicates),
        cmocka_unit_test(test_different_texts),
        cmocka_unit_test(test_end_words),
        cmocka_unit_test(test_raw_matches_definition),
        cmocka_unit_test(test_token_scan_matches_scalar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
