/*
 * test_normalize.c - sw_normalize(): each obfuscation class folds to the same
 * skeleton as the plain text, normal text in several languages stays
 * readable, output is bounded and valid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sw/normalize.h"

static const char *norm(const char *in, unsigned flags)
{
    static char out[1024];
    size_t n = sw_normalize(in, strlen(in), out, sizeof(out), flags);
    assert_int_equal(n, strlen(out));
    return out;
}

#define NORM_EQ(in, want) assert_string_equal(norm(in, SW_NORM_DEFAULT), want)

static void test_ascii_case_spaces(void **state)
{
    (void)state;
    NORM_EQ("  Hello   WORLD \t\n ok ", "hello world ok");
    assert_string_equal(norm("A  b", 0), "a  b");
    NORM_EQ("", "");
}

static void test_leet(void **state)
{
    (void)state;
    NORM_EQ("FR33 B1TC0IN", "free bitcoin");
    NORM_EQ("c4s1n0 v14gr4", "casino viagra");
    NORM_EQ("@dd me", "add me");
    NORM_EQ("fr$$e", "frsse");
}

static void test_leet_keeps_numbers(void **state)
{
    (void)state;
    NORM_EQ("meeting at 10:30 on 2024-05-01", "meeting at 10:30 on 2024-05-01");
    NORM_EQ("h264 10k 5g", "h264 10k 5g");
    assert_string_equal(norm("fr33", SW_NORM_SPACES), "fr33"); /* LEET off */
}

static void test_squeeze(void **state)
{
    (void)state;
    NORM_EQ("heeeeeey!!!!!!", "heey!!");
    NORM_EQ("ааааааа", "aa"); /* Cyrillic a run */
    assert_string_equal(norm("heeeey", SW_NORM_LEET), "heeeey");
}

static void test_zero_width_and_format(void **state)
{
    (void)state;
    /* ZWSP, ZWNJ, ZWJ, word joiner, BOM, soft hyphen, LRM, variation selector */
    NORM_EQ("t.me/join\xE2\x80\x8B"
            "chat",
            "t.me/joinchat");
    NORM_EQ("fr\xE2\x80\x8C"
            "e\xE2\x80\x8D"
            "e",
            "free");
    NORM_EQ("\xEF\xBB\xBF"
            "bit\xE2\x81\xA0"
            "co\xC2\xAD"
            "in\xE2\x80\x8E",
            "bitcoin");
    NORM_EQ("sp\xEF\xB8\x8F"
            "am",
            "spam");
}

static void test_cyrillic_greek_lookalikes(void **state)
{
    (void)state;
    NORM_EQ("с\xD0\xB0sinо", "casino");         /* Cyrillic с, а, о */
    NORM_EQ("ВІТСОІN", "bitcoin");              /* Cyrillic capitals */
    NORM_EQ("\xCE\x91\xCE\x92\xCE\x9F", "abo"); /* Greek capitals Α Β Ο */
    NORM_EQ("ρ\xCE\xB1yρ\xCE\xB1l", "paypal");  /* Greek ρ α */
}

static void test_fullwidth_math_enclosed(void **state)
{
    (void)state;
    NORM_EQ("ＦＲＥＥ　ｍｏｎｅｙ！", "free money!");
    NORM_EQ("𝐟𝐫𝐞𝐞 𝓫𝓲𝓽𝓬𝓸𝓲𝓷 𝟙𝟘𝟘", "free bitcoin 100");
    NORM_EQ("ⓒⓐⓢⓘⓝⓞ 🅒🅐🅢🅘🅝🅞", "casino casino");
    NORM_EQ("ℂ𝕒𝕤𝕚𝕟𝕠", "casino");
    NORM_EQ("ᴄᴀsɪɴᴏ", "casino");
}

static void test_zalgo(void **state)
{
    (void)state;
    NORM_EQ("Z̴̡̛̖̗a̷̢͎l̸͚̦g̵̛̳o̶̬͝", "zalgo");
    NORM_EQ("e\xCC\x81", "e"); /* decomposed é */
}

static void test_accents_and_languages(void **state)
{
    (void)state;
    NORM_EQ("Ça coûte cher, STRAßE, Œuvre, Łódź", "ca coute cher, strasse, oeuvre, lodz");
    NORM_EQ("Ärger über Öl", "arger uber ol");
    /* Russian: lower-cased, look-alikes mapped, the rest kept */
    NORM_EQ("ПРИВЕТ, как дела?", "пpиbet, kak дeлa?");
    NORM_EQ("привет", norm("ПРИВЕТ", SW_NORM_DEFAULT));
    /* Greek: tonos stripped, lower-cased */
    NORM_EQ("Καλημέρα", "kaλnμepa");
    NORM_EQ("ΚΑΛΗΜΕΡΑ", "kaλnμepa");
    /* CJK, Arabic and emoji are kept as they are */
    NORM_EQ("你好 世界 😀", "你好 世界 😀");
    NORM_EQ("مرحبا", "مرحبا");
}

static void test_invalid_utf8_and_controls(void **state)
{
    (void)state;
    NORM_EQ("a\xFF"
            "b\xC0\xAF"
            "c",
            "a?b??c");             /* stray byte, overlong */
    NORM_EQ("ab\xE2\x82", "ab??"); /* truncated sequence: a '?' per byte */
    NORM_EQ("a\x01\x7F"
            "b",
            "ab");
}

static void test_bounded_output(void **state)
{
    (void)state;
    char out[8];
    size_t n = sw_normalize("hello wonderful world", 21, out, sizeof(out), SW_NORM_DEFAULT);
    assert_true(n < sizeof(out));
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "hello w");
    /* never cut inside a multi-byte character */
    n = sw_normalize("ab你好", strlen("ab你好"), out, 6, 0);
    assert_string_equal(out, "ab你");
    assert_int_equal(n, 5);
    n = sw_normalize("x", 1, out, 1, 0);
    assert_int_equal(n, 0);
    assert_string_equal(out, "");
    assert_int_equal(sw_normalize(NULL, 0, out, sizeof(out), 0), 0);
}

/* Every single code point folds to valid UTF-8 without crashing. */
static void test_all_code_points(void **state)
{
    (void)state;
    char in[8], out[32];
    for (uint32_t cp = 1; cp < 0x110000; cp++) {
        size_t len;
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            continue;
        }
        if (cp < 0x80) {
            in[0] = (char)cp;
            len = 1;
        } else if (cp < 0x800) {
            in[0] = (char)(0xC0 | (cp >> 6));
            in[1] = (char)(0x80 | (cp & 0x3F));
            len = 2;
        } else if (cp < 0x10000) {
            in[0] = (char)(0xE0 | (cp >> 12));
            in[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            in[2] = (char)(0x80 | (cp & 0x3F));
            len = 3;
        } else {
            in[0] = (char)(0xF0 | (cp >> 18));
            in[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
            in[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
            in[3] = (char)(0x80 | (cp & 0x3F));
            len = 4;
        }
        size_t n = sw_normalize(in, len, out, sizeof(out), SW_NORM_DEFAULT);
        assert_true(n <= 4);
        for (size_t i = 0; i < n; i++) {
            assert_true(out[i] != '?' || cp == '?' || cp == 0xFF1F);
        }
    }
}

/* The per-thread memo (text/normalize.c) is invisible: a call right after
 * one with the same bytes, flags and any cap (smaller, equal or larger, so
 * cut or not) gives what a fresh call gives, and so does the same buffer
 * changed in place. The fresh result follows a call on other bytes. */
static void fresh(const char *in, size_t len, char *out, size_t cap, unsigned flags)
{
    char sink[64];
    sw_normalize("flush the memo: other bytes", 27, sink, sizeof(sink), flags);
    sw_normalize(in, len, out, cap, flags);
}

/* A random text of @min .. @min + @span - 1 bytes (at most @cap) glued from
 * @pieces; returns its length. */
static size_t rand_text(uint64_t *rng, const char *const *pieces, size_t np, char *in, size_t cap,
                        size_t min, size_t span)
{
    *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
    size_t target = min + (*rng >> 33) % span;
    size_t len = 0;
    while (len < target) {
        *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
        const char *pc = pieces[(*rng >> 33) % np];
        size_t pl = strlen(pc);
        if (len + pl > cap) {
            break;
        }
        memcpy(in + len, pc, pl);
        len += pl;
    }
    return len;
}

static void test_memo_matches_fresh(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "a",  "B",    "3",    "0", "@",  "$", " ",  "  ",           "\t",
        "!",  "e",    "eee",  "é", "ß",  "а", "Ｆ", "\xe2\x80\x8b", "\xcc\x81",
        "你", "\xff", "\xc3", "Ⱥ", "x7", "1", "zz"};
    static const unsigned flag_sets[] = {0, SW_NORM_DEFAULT, SW_NORM_LEET, SW_NORM_SQUEEZE,
                                         SW_NORM_SPACES};
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    char in[600], want[1400], got[1400];
    for (int iter = 0; iter < 1500; iter++) {
        size_t len =
            rand_text(&rng, pieces, sizeof(pieces) / sizeof(pieces[0]), in, sizeof(in), 16, 400);
        unsigned flags = flag_sets[iter % 5];
        size_t full = len * 2 + 8;
        size_t caps[] = {1, 2, 7, len / 3 + 1, len / 2, len, len + 1, full};
        for (size_t a = 0; a < sizeof(caps) / sizeof(caps[0]); a++) {
            for (size_t b = 0; b < sizeof(caps) / sizeof(caps[0]); b++) {
                fresh(in, len, want, caps[b], flags);
                size_t wn = strlen(want);
                sw_normalize(in, len, got, caps[a], flags); /* primes the memo */
                size_t n = sw_normalize(in, len, got, caps[b], flags);
                assert_int_equal(n, wn);
                assert_memory_equal(got, want, wn + 1);
            }
        }
        /* same buffer, one byte changed: never the old answer */
        sw_normalize(in, len, got, full, flags);
        in[len / 2] = in[len / 2] == 'q' ? 'r' : 'q';
        fresh(in, len, want, full, flags);
        size_t n = sw_normalize(in, len, got, full, flags);
        assert_int_equal(n, strlen(want));
        assert_string_equal(got, want);
    }
}

/* Reference squeeze, written plainly: split @s into characters (the lead
 * byte gives the length), then keep a character unless the two kept before
 * it are both the same bytes. Returns the new length. */
static size_t ref_squeeze(char *s, size_t n)
{
    char out[1400];
    size_t start[1400], clen[1400], nc = 0, o = 0;
    for (size_t r = 0; r < n; r += clen[nc++]) {
        unsigned char c = (unsigned char)s[r];
        start[nc] = r;
        clen[nc] = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        clen[nc] = clen[nc] > n - r ? n - r : clen[nc];
    }
    for (size_t k = 0; k < nc; k++) {
        bool same1 = k >= 1 && clen[k - 1] == clen[k] &&
                     memcmp(s + start[k - 1], s + start[k], clen[k]) == 0;
        bool same2 = k >= 2 && clen[k - 2] == clen[k] &&
                     memcmp(s + start[k - 2], s + start[k], clen[k]) == 0;
        if (!(same1 && same2)) {
            memcpy(out + o, s + start[k], clen[k]);
            o += clen[k];
        }
    }
    memcpy(s, out, o);
    return o;
}

/* squeeze is skipped when no character can repeat three times (maybe_runs):
 * the result must always be the reference squeeze of the unsqueezed text, for
 * runs of 1-4 byte characters at every offset, near the end and across the
 * 16-byte blocks of the fast check. */
static void test_squeeze_skip_exact(void **state)
{
    (void)state;
    static const char *const pieces[] = {"a",
                                         "b",
                                         "aa",
                                         "aaa",
                                         "é",
                                         "éé",
                                         "ééé",
                                         "你",
                                         "你你",
                                         "你你你",
                                         "\xf0\x9f\x98\x80",
                                         "\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
                                         "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
                                         " ",
                                         "!",
                                         "!!!",
                                         "xyz",
                                         "ab"};
    uint64_t rng = 0x2545f4914f6cdd1dull;
    char in[300], a[700], b[700];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len =
            rand_text(&rng, pieces, sizeof(pieces) / sizeof(pieces[0]), in, sizeof(in), 1, 90);
        size_t na = sw_normalize(in, len, a, sizeof(a), SW_NORM_DEFAULT);
        size_t nb = sw_normalize(in, len, b, sizeof(b), SW_NORM_DEFAULT & ~SW_NORM_SQUEEZE);
        nb = ref_squeeze(b, nb);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na);
    }
}

/* Plain text (printable ASCII without leet bytes, single inner spaces) takes
 * a lower-casing fast path: its output must be what the full run gives. A
 * control byte (dropped) at the end leaves the output as it is but sends the
 * text the full way, so the two must agree for texts around and across the
 * 16-byte blocks of the check, plain or not (double, leading and trailing
 * spaces, leet bytes, '@', '$', tabs, DEL, non-ASCII), at every flag set. */
static void test_plain_fast_path(void **state)
{
    (void)state;
    static const char *const pieces[] = {"a", "Z", "q", "2", "6",  "9",    ".",  "'",
                                         "~", "`", "{", " ", " ",  "xY",   "  ", "3",
                                         "0", "7", "@", "$", "\t", "\x7f", "é",  "!"};
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    char in[200], a[500], b[500];
    unsigned plain = 0, fast = 0;
    for (int iter = 0; iter < 40000; iter++) {
        /* mostly from the first 14 pieces: many texts are plain */
        size_t np = iter % 3 == 0 ? sizeof(pieces) / sizeof(pieces[0]) : 14;
        size_t len = rand_text(&rng, pieces, np, in, sizeof(in) - 1, 1, 70);
        unsigned flags = (unsigned)iter % 8;
        bool pa = false, pb = true;
        size_t na = sw_normalize_ex(in, len, a, sizeof(a), flags, &pa);
        in[len] = '\x01';
        size_t nb = sw_normalize_ex(in, len + 1, b, sizeof(b), flags, &pb);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na + 1);
        assert_false(pb);      /* a control byte is never plain */
        if (pa && na == len) { /* reported plain: exactly the lower-cased input */
            for (size_t i = 0; i < len; i++) {
                char c = in[i] >= 'A' && in[i] <= 'Z' ? (char)(in[i] + 32) : in[i];
                assert_int_equal(a[i], c);
            }
            fast++;
        }
        plain += na == len && len > 0 && in[0] != ' ' && strchr(a, ' ') != NULL;
    }
    assert_true(plain > 1000); /* the fast path was taken often */
    assert_true(fast > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_case_spaces),
        cmocka_unit_test(test_leet),
        cmocka_unit_test(test_leet_keeps_numbers),
        cmocka_unit_test(test_squeeze),
        cmocka_unit_test(test_zero_width_and_format),
        cmocka_unit_test(test_cyrillic_greek_lookalikes),
        cmocka_unit_test(test_fullwidth_math_enclosed),
        cmocka_unit_test(test_zalgo),
        cmocka_unit_test(test_accents_and_languages),
        cmocka_unit_test(test_invalid_utf8_and_controls),
        cmocka_unit_test(test_bounded_output),
        cmocka_unit_test(test_all_code_points),
        cmocka_unit_test(test_memo_matches_fresh),
        cmocka_unit_test(test_squeeze_skip_exact),
        cmocka_unit_test(test_plain_fast_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
