/*
 * normalize.c - fold obfuscated chat text to a canonical skeleton.
 *
 * Design: one pass over the UTF-8 input decodes each code point and maps it:
 *   1. invisible format characters (zero-width space/joiners, bidi controls,
 *      word joiner, BOM, soft hyphen, variation selectors, tag characters,
 *      Hangul fillers) and combining marks (U+0300..U+036F and the other
 *      "diacritical marks" blocks: zalgo) are dropped;
 *   2. exotic spaces (NBSP, en/em spaces, ideographic space, braille blank)
 *      become ' '; C0 controls other than whitespace are dropped;
 *   3. look-alikes become ASCII: fullwidth forms U+FF01..U+FF5E, mathematical
 *      alphanumerics U+1D400..U+1D7FF, letterlike symbols, circled and
 *      parenthesized letters, small capitals, Cyrillic and Greek letters that
 *      render like Latin ones;
 *   4. case-fold: ASCII, Latin-1 and Latin Extended-A (accents stripped, so
 *      "é" -> "e", "ß" -> "ss"), Cyrillic and Greek to lower case. Scripts
 *      without a mapping are kept as they are so other languages still
 *      fingerprint.
 * Code points are written to @out as UTF-8 while a "word" (a run of letters,
 * digits, '@', '$' and non-ASCII characters) is tracked; at the end of each word
 * SW_NORM_LEET rewrites 0 1 3 4 5 7 @ $ to o i e a s t a s when the word has
 * at least three bytes and no more digits, '@' and '$' than letters ("fr33" -> "free",
 * "b1tc0in" -> "bitcoin", while "2024", "5g", "10k" and "h264" stay). SW_NORM_SPACES
 * collapses whitespace runs to one space and trims; SW_NORM_SQUEEZE runs last,
 * in place, cutting runs of one character to two ("freeeee" -> "free").
 *
 * Deviations from Unicode TR39 skeletons: we fold to lower-case ASCII rather
 * than to the prototype characters of confusables.txt, and Cyrillic/Greek
 * look-alikes are mapped whether or not the word mixes scripts (a fully
 * Cyrillic "сазіnо" spoof is as common as a mixed one), and only after
 * lower-casing, so "ПРИВЕТ" and "привет" give the same skeleton. Russian or
 * Greek text therefore comes out partly Latin, which is harmless for matching
 * because both rules and fingerprints see the same skeleton.
 *
 * Memo: a worker runs content and the classifier on the same body one after
 * the other, both with SW_NORM_DEFAULT, so sw_normalize() keeps its last
 * result per thread (input bytes, flags, output). sw_simhash_text(), whose
 * de-noised text is seldom normalized twice (at most 1% of its calls hit)
 * and which has a memo of its own, passes SW_NORM_NO_MEMO: no check and no
 * two copies. The output depends on @cap
 * only through the "full" checks, and a run that never filled its buffer
 * passed every one with n + 1 <= cap for each length n it reached, so its
 * output is also the output for any cap >= (longest length before squeeze)
 * + 1: a hit needs equal flags, equal input bytes and such a cap. Runs that
 * filled the buffer are not kept.
 *
 * Plain text (printable ASCII without the leet bytes, single inner spaces:
 * most chat lines) is only lower-cased, 16 bytes at a time (plain_text()),
 * which is all the run below would do to it.
 *
 * Threading: reentrant, no allocation; the memo is thread-local.
 */
#include "sw/normalize.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Output cursor. */
struct norm_out {
    char *buf;
    size_t cap;
    size_t n;
    size_t word_start;
    bool in_word;
    bool word_leet; /* a leet-mappable byte was put since word_start */
    bool pending_space;
    bool full;
    unsigned flags;
};

/* ASCII classes for the fast path (same sets as is_word_byte / leet_of and the
 * dropped / space tests of sw_normalize). */
enum { NC_WORD = 1, NC_LEET = 2, NC_SPACE = 4, NC_DROP = 8, NC_UPPER = 16 };

#define NC_L NC_WORD
#define NC_U (NC_WORD | NC_UPPER)
#define NC_D NC_WORD
#define NC_LT (NC_WORD | NC_LEET)
#define NC_X NC_DROP
#define NC_S NC_SPACE
static const unsigned char nc_class[128] = {
    /* 0x00 */ NC_X,      NC_X,  NC_X, NC_X,  NC_X,  NC_X,  NC_X, NC_X,
    /* 0x08 */ NC_X,      NC_S,  NC_S, NC_S,  NC_S,  NC_S,  NC_X, NC_X,
    /* 0x10 */ NC_X,      NC_X,  NC_X, NC_X,  NC_X,  NC_X,  NC_X, NC_X,
    /* 0x18 */ NC_X,      NC_X,  NC_X, NC_X,  NC_X,  NC_X,  NC_X, NC_X,
    /* ' '..'\'' */ NC_S, 0,     0,    0,     NC_LT, 0,     0,    0,
    /* '('..'/' */ 0,     0,     0,    0,     0,     0,     0,    0,
    /* '0'..'7' */ NC_LT, NC_LT, NC_D, NC_LT, NC_LT, NC_LT, NC_D, NC_LT,
    /* '8'..'?' */ NC_D,  NC_D,  0,    0,     0,     0,     0,    0,
    /* '@'..'G' */ NC_LT, NC_U,  NC_U, NC_U,  NC_U,  NC_U,  NC_U, NC_U,
    /* 'H'..'O' */ NC_U,  NC_U,  NC_U, NC_U,  NC_U,  NC_U,  NC_U, NC_U,
    /* 'P'..'W' */ NC_U,  NC_U,  NC_U, NC_U,  NC_U,  NC_U,  NC_U, NC_U,
    /* 'X'..'_' */ NC_U,  NC_U,  NC_U, 0,     0,     0,     0,    0,
    /* '`'..'g' */ 0,     NC_L,  NC_L, NC_L,  NC_L,  NC_L,  NC_L, NC_L,
    /* 'h'..'o' */ NC_L,  NC_L,  NC_L, NC_L,  NC_L,  NC_L,  NC_L, NC_L,
    /* 'p'..'w' */ NC_L,  NC_L,  NC_L, NC_L,  NC_L,  NC_L,  NC_L, NC_L,
    /* 'x'..DEL */ NC_L,  NC_L,  NC_L, 0,     0,     0,     0,    NC_X,
};
#undef NC_L
#undef NC_U
#undef NC_D
#undef NC_LT
#undef NC_X
#undef NC_S

/* Decode one UTF-8 sequence at @p (< @end). Returns the code point, or
 * UINT32_MAX for an invalid/overlong/surrogate/truncated sequence; *adv is the
 * number of bytes consumed (1 for an invalid lead or continuation byte). */
static uint32_t utf8_decode(const unsigned char *p, const unsigned char *end, size_t *adv)
{
    unsigned char c = p[0];
    uint32_t cp;
    size_t need;
    uint32_t min;

    *adv = 1;
    if (c < 0x80) {
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        cp = c & 0x1Fu;
        need = 1;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        cp = c & 0x0Fu;
        need = 2;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        cp = c & 0x07u;
        need = 3;
        min = 0x10000;
    } else {
        return UINT32_MAX;
    }
    if ((size_t)(end - p) <= need) {
        return UINT32_MAX;
    }
    for (size_t i = 1; i <= need; i++) {
        if ((p[i] & 0xC0u) != 0x80u) {
            return UINT32_MAX;
        }
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return UINT32_MAX;
    }
    *adv = need + 1;
    return cp;
}

static bool is_dropped(uint32_t cp)
{
    /* Combining marks: zalgo and stripped accents. Only the generic
     * diacritics blocks and Hebrew/Arabic points; Indic/Thai vowel signs are
     * letters of those scripts and are kept. */
    if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x0483 && cp <= 0x0489) ||
        (cp >= 0x0591 && cp <= 0x05BD) || (cp >= 0x0610 && cp <= 0x061A) ||
        (cp >= 0x064B && cp <= 0x065F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
        (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
        (cp >= 0xFE20 && cp <= 0xFE2F)) {
        return true;
    }
    /* Invisible format characters. */
    switch (cp) {
    case 0x00AD: /* soft hyphen */
    case 0x061C: /* Arabic letter mark */
    case 0x115F: /* Hangul choseong filler */
    case 0x1160: /* Hangul jungseong filler */
    case 0x17B4:
    case 0x17B5:
    case 0x3164: /* Hangul filler */
    case 0xFEFF: /* BOM / zero-width no-break space */
    case 0xFFA0: /* halfwidth Hangul filler */
        return true;
    default:
        break;
    }
    return (cp >= 0x180B && cp <= 0x180F) || (cp >= 0x200B && cp <= 0x200F) ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) ||
           (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xFFF9 && cp <= 0xFFFB) ||
           (cp >= 0xE0000 && cp <= 0xE007F) || (cp >= 0xE0100 && cp <= 0xE01EF) || cp == 0x7F ||
           (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r' && cp != '\v' && cp != '\f');
}

static bool is_space(uint32_t cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
           cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 ||
           cp == 0x2800;
}

/* Latin-1 U+00C0..U+00FF folded: a letter, '#' keep (multiplication and
 * division signs), 'A' "ae", 'T' "th", 'S' "ss". */
static const char latin1_fold[64] = "aaaaaaAceeeeiiiidnooooo#ouuuuyTS"
                                    "aaaaaaAceeeeiiiidnooooo#ouuuuyTy";

/* Latin Extended-A U+0100..U+017F folded to the base letter (U+0132/3 "ij" and
 * U+0152/3 "oe" are special-cased by the caller). */
static const char latin_ext_a_fold[128] = "aaaaaa"
                                          "cccccccc"
                                          "dddd"
                                          "eeeeeeeeee"
                                          "gggggggg"
                                          "hhhh"
                                          "iiiiiiiiii"
                                          "ii"
                                          "jj"
                                          "kkk"
                                          "llllllllll"
                                          "nnnnnnnnn"
                                          "oooooo"
                                          "oo"
                                          "rrrrrr"
                                          "ssssssss"
                                          "tttttt"
                                          "uuuuuuuuuuuu"
                                          "ww"
                                          "yyy"
                                          "zzzzzz"
                                          "s";

struct cp_map {
    uint32_t cp;
    char ascii;
};

/* Look-alikes and letterlike symbols, sorted by code point for bsearch. */
static const struct cp_map confusables[] = {
    {0x0180, 'b'},
    {0x0183, 'b'},
    {0x0188, 'c'},
    {0x018A, 'd'},
    {0x0192, 'f'},
    {0x0199, 'k'},
    {0x019A, 'l'},
    {0x01A5, 'p'},
    {0x01AB, 't'},
    {0x01B4, 'y'},
    {0x01B6, 'z'},
    {0x0237, 'j'},
    {0x0251, 'a'},
    {0x0261, 'g'},
    {0x0262, 'g'},
    {0x026A, 'i'},
    {0x0274, 'n'},
    {0x0280, 'r'},
    {0x028F, 'y'},
    {0x0299, 'b'},
    {0x029C, 'h'},
    {0x029F, 'l'},
    /* Greek small letters that look Latin */
    {0x03B1, 'a'},
    {0x03B2, 'b'},
    {0x03B3, 'y'},
    {0x03B5, 'e'},
    {0x03B7, 'n'},
    {0x03B9, 'i'},
    {0x03BA, 'k'},
    {0x03BD, 'v'},
    {0x03BF, 'o'},
    {0x03C1, 'p'},
    {0x03C4, 't'},
    {0x03C5, 'u'},
    {0x03C7, 'x'},
    {0x03C9, 'w'},
    {0x03F2, 'c'},
    {0x03F3, 'j'},
    /* Cyrillic small letters that look Latin */
    {0x0430, 'a'},
    {0x0432, 'b'},
    {0x0435, 'e'},
    {0x043A, 'k'},
    {0x043C, 'm'},
    {0x043D, 'h'},
    {0x043E, 'o'},
    {0x0440, 'p'},
    {0x0441, 'c'},
    {0x0442, 't'},
    {0x0443, 'y'},
    {0x0445, 'x'},
    {0x0450, 'e'},
    {0x0451, 'e'},
    {0x0455, 's'},
    {0x0456, 'i'},
    {0x0457, 'i'},
    {0x0458, 'j'},
    {0x04AE, 'y'},
    {0x04AF, 'y'},
    {0x04BA, 'h'},
    {0x04BB, 'h'},
    {0x04C0, 'l'},
    {0x04CF, 'l'},
    {0x0501, 'd'},
    {0x051B, 'q'},
    {0x051D, 'w'},
    /* small capitals */
    {0x1D00, 'a'},
    {0x1D04, 'c'},
    {0x1D05, 'd'},
    {0x1D07, 'e'},
    {0x1D0A, 'j'},
    {0x1D0B, 'k'},
    {0x1D0D, 'm'},
    {0x1D0F, 'o'},
    {0x1D18, 'p'},
    {0x1D1B, 't'},
    {0x1D1C, 'u'},
    {0x1D20, 'v'},
    {0x1D21, 'w'},
    {0x1D22, 'z'},
    /* letterlike symbols */
    {0x2102, 'c'},
    {0x210A, 'g'},
    {0x210B, 'h'},
    {0x210C, 'h'},
    {0x210D, 'h'},
    {0x210E, 'h'},
    {0x2110, 'i'},
    {0x2111, 'i'},
    {0x2112, 'l'},
    {0x2113, 'l'},
    {0x2115, 'n'},
    {0x2119, 'p'},
    {0x211A, 'q'},
    {0x211B, 'r'},
    {0x211C, 'r'},
    {0x211D, 'r'},
    {0x2124, 'z'},
    {0x2128, 'z'},
    {0x212A, 'k'},
    {0x212B, 'a'},
    {0x212C, 'b'},
    {0x212D, 'c'},
    {0x212F, 'e'},
    {0x2130, 'e'},
    {0x2131, 'f'},
    {0x2133, 'm'},
    {0x2134, 'o'},
    {0x2139, 'i'},
    {0x2145, 'd'},
    {0x2146, 'd'},
    {0x2147, 'e'},
    {0x2148, 'i'},
    {0x2149, 'j'},
    {0xA730, 'f'},
    {0xA731, 's'},
};

static char confusable_lookup(uint32_t cp)
{
    size_t lo = 0, hi = sizeof(confusables) / sizeof(confusables[0]);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (confusables[mid].cp == cp) {
            return confusables[mid].ascii;
        }
        if (confusables[mid].cp < cp) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

/* Math alphanumerics U+1D400..U+1D7FF: letters come in runs of 52 (A-Z a-z) per
 * style up to U+1D6A3, digits in runs of 10 from U+1D7CE. Greek styles are
 * left alone (rare in spam). Returns 0 when not a Latin letter or digit. */
static char math_alnum(uint32_t cp)
{
    if (cp >= 0x1D400 && cp <= 0x1D6A3) {
        uint32_t i = (cp - 0x1D400) % 52;
        return (char)(i < 26 ? 'a' + i : 'a' + (i - 26));
    }
    if (cp == 0x1D6A4) {
        return 'i';
    }
    if (cp == 0x1D6A5) {
        return 'j';
    }
    if (cp >= 0x1D7CE && cp <= 0x1D7FF) {
        return (char)('0' + (cp - 0x1D7CE) % 10);
    }
    return 0;
}

/* Enclosed letters and digits. */
static char enclosed(uint32_t cp)
{
    if (cp >= 0x2460 && cp <= 0x2468) { /* circled 1..9 */
        return (char)('1' + (cp - 0x2460));
    }
    if (cp >= 0x2474 && cp <= 0x247C) { /* parenthesized 1..9 */
        return (char)('1' + (cp - 0x2474));
    }
    if (cp >= 0x2488 && cp <= 0x2490) { /* digit full stop 1..9 */
        return (char)('1' + (cp - 0x2488));
    }
    if (cp >= 0x249C && cp <= 0x24B5) { /* parenthesized a..z */
        return (char)('a' + (cp - 0x249C));
    }
    if (cp >= 0x24B6 && cp <= 0x24CF) { /* circled A..Z */
        return (char)('a' + (cp - 0x24B6));
    }
    if (cp >= 0x24D0 && cp <= 0x24E9) { /* circled a..z */
        return (char)('a' + (cp - 0x24D0));
    }
    if (cp == 0x24EA || cp == 0x24FF || cp == 0x1F10B || cp == 0x1F10C) {
        return '0';
    }
    if (cp >= 0x2776 && cp <= 0x277E) { /* dingbat negative circled 1..9 */
        return (char)('1' + (cp - 0x2776));
    }
    if (cp >= 0x2780 && cp <= 0x2788) {
        return (char)('1' + (cp - 0x2780));
    }
    if (cp >= 0x278A && cp <= 0x2792) {
        return (char)('1' + (cp - 0x278A));
    }
    if (cp >= 0x1F110 && cp <= 0x1F129) { /* parenthesized A..Z */
        return (char)('a' + (cp - 0x1F110));
    }
    if (cp >= 0x1F130 && cp <= 0x1F149) { /* squared A..Z */
        return (char)('a' + (cp - 0x1F130));
    }
    if (cp >= 0x1F150 && cp <= 0x1F169) { /* negative circled A..Z */
        return (char)('a' + (cp - 0x1F150));
    }
    if (cp >= 0x1F170 && cp <= 0x1F189) { /* negative squared A..Z */
        return (char)('a' + (cp - 0x1F170));
    }
    return 0;
}

/* Simple lower-casing of Cyrillic and Greek capitals (after look-alikes). */
static uint32_t lower_nonlatin(uint32_t cp)
{
    if (cp >= 0x0410 && cp <= 0x042F) {
        return cp + 0x20;
    }
    if (cp >= 0x0400 && cp <= 0x040F) {
        return cp + 0x50;
    }
    if ((cp >= 0x0460 && cp <= 0x0481) || (cp >= 0x048A && cp <= 0x04BF) ||
        (cp >= 0x04D0 && cp <= 0x052F)) {
        return (cp & 1u) ? cp : cp + 1;
    }
    if (cp >= 0x04C1 && cp <= 0x04CE) {
        return (cp & 1u) ? cp + 1 : cp;
    }
    if (cp >= 0x0391 && cp <= 0x03AB && cp != 0x03A2) {
        return cp + 0x20;
    }
    switch (cp) { /* Greek with tonos: strip the accent too */
    case 0x0386:
    case 0x03AC:
        return 0x03B1;
    case 0x0388:
    case 0x03AD:
        return 0x03B5;
    case 0x0389:
    case 0x03AE:
        return 0x03B7;
    case 0x038A:
    case 0x03AF:
    case 0x0390:
    case 0x03CA:
        return 0x03B9;
    case 0x038C:
    case 0x03CC:
        return 0x03BF;
    case 0x038E:
    case 0x03CD:
    case 0x03B0:
    case 0x03CB:
        return 0x03C5;
    case 0x038F:
    case 0x03CE:
        return 0x03C9;
    case 0x03C2: /* final sigma */
        return 0x03C3;
    default:
        return cp;
    }
}

static bool is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '@' ||
           c == '$' || c >= 0x80;
}

static char leet_of(char c)
{
    switch (c) {
    case '0':
        return 'o';
    case '1':
        return 'i';
    case '3':
        return 'e';
    case '4':
        return 'a';
    case '5':
    case '$':
        return 's';
    case '7':
        return 't';
    case '@':
        return 'a';
    default:
        return 0;
    }
}

static void end_word(struct norm_out *o)
{
    if (!o->in_word) {
        return;
    }
    o->in_word = false;
    if (!(o->flags & SW_NORM_LEET) || !o->word_leet) {
        return; /* no leet-mappable byte in the word: leet == 0 below */
    }
    size_t letters = 0, nonletters = 0, leet = 0;
    for (size_t i = o->word_start; i < o->n; i++) {
        char c = o->buf[i];
        if (c >= 'a' && c <= 'z') {
            letters++;
        } else if ((c >= '0' && c <= '9') || c == '@' || c == '$') {
            nonletters++;
            leet += leet_of(c) != 0;
        }
    }
    if (leet == 0 || nonletters > letters || o->n - o->word_start < 3) {
        return;
    }
    for (size_t i = o->word_start; i < o->n; i++) {
        char m = leet_of(o->buf[i]);
        if (m != 0) {
            o->buf[i] = m;
        }
    }
}

/* Append raw bytes of one character; sets full when it does not fit (leaving
 * room for the NUL), so output is never cut inside a character. */
static void put_bytes(struct norm_out *o, const char *s, size_t len)
{
    if (o->full || o->n + len + 1 > o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->n, s, len);
    o->n += len;
}

static void put_char(struct norm_out *o, const char *s, size_t len)
{
    if (o->pending_space) {
        o->pending_space = false;
        put_bytes(o, " ", 1);
    }
    bool word = is_word_byte((unsigned char)s[0]);
    if (word && !o->in_word) {
        o->word_start = o->n;
        o->in_word = true;
        o->word_leet = false;
    } else if (!word) {
        end_word(o);
    }
    if (leet_of(s[0]) != 0) {
        o->word_leet = true;
    }
    put_bytes(o, s, len);
}

/* put_char() of one ASCII byte of class @k (nc_class), inlined for the fast
 * path: same steps, one table lookup instead of the range tests. */
static inline void put_ascii_k(struct norm_out *o, char c, unsigned k)
{
    if (o->pending_space) {
        o->pending_space = false;
        put_bytes(o, " ", 1);
    }
    if (k & NC_WORD) {
        if (!o->in_word) {
            o->word_start = o->n;
            o->in_word = true;
            o->word_leet = false;
        }
        if (k & NC_LEET) {
            o->word_leet = true;
        }
    } else if (o->in_word) {
        end_word(o);
    }
    if (o->full || o->n + 2 > o->cap) {
        o->full = true;
        return;
    }
    o->buf[o->n++] = c;
}

static void put_cp(struct norm_out *o, uint32_t cp)
{
    char b[4];
    size_t len;
    if (cp < 0x80) {
        b[0] = (char)cp;
        len = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        len = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        len = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        len = 4;
    }
    put_char(o, b, len);
}

static void put_space(struct norm_out *o, uint32_t cp)
{
    end_word(o);
    if (o->flags & SW_NORM_SPACES) {
        if (o->n > 0) {
            o->pending_space = true;
        }
        return;
    }
    char c = cp < 0x80 ? (char)cp : ' ';
    put_bytes(o, &c, 1);
}

static void put_ascii(struct norm_out *o, char c)
{
    put_char(o, &c, 1);
}

/* Map one decoded code point and append its folded form. */
static void emit(struct norm_out *o, uint32_t cp)
{
    char a;

    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z') {
            cp += 'a' - 'A';
        }
        put_ascii(o, (char)cp);
        return;
    }
    if (cp >= 0xC0 && cp <= 0xFF) {
        char f = latin1_fold[cp - 0xC0];
        switch (f) {
        case '#':
            put_cp(o, cp);
            break;
        case 'A':
            put_ascii(o, 'a');
            put_ascii(o, 'e');
            break;
        case 'T':
            put_ascii(o, 't');
            put_ascii(o, 'h');
            break;
        case 'S':
            put_ascii(o, 's');
            put_ascii(o, 's');
            break;
        default:
            put_ascii(o, f);
            break;
        }
        return;
    }
    if (cp >= 0x100 && cp <= 0x17F) {
        if (cp == 0x132 || cp == 0x133) {
            put_ascii(o, 'i');
            put_ascii(o, 'j');
        } else if (cp == 0x152 || cp == 0x153) {
            put_ascii(o, 'o');
            put_ascii(o, 'e');
        } else {
            put_ascii(o, latin_ext_a_fold[cp - 0x100]);
        }
        return;
    }
    if (cp >= 0xFF01 && cp <= 0xFF5E) { /* fullwidth ASCII */
        emit(o, cp - 0xFEE0);
        return;
    }
    if ((a = math_alnum(cp)) != 0 || (a = enclosed(cp)) != 0 || (a = confusable_lookup(cp)) != 0) {
        put_ascii(o, a);
        return;
    }
    uint32_t lower = lower_nonlatin(cp);
    if (lower != cp && (a = confusable_lookup(lower)) != 0) {
        put_ascii(o, a);
        return;
    }
    put_cp(o, lower);
}

/* Length in bytes of the UTF-8 character starting with @c (output is valid
 * UTF-8 by construction). */
static size_t char_len(unsigned char c)
{
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xF0) {
        return 4;
    }
    if (c >= 0xE0) {
        return 3;
    }
    return 2;
}

/* Where squeeze() has its first work: the first byte >= 0x80 or the first
 * start of three equal bytes in a row; n when there is neither. Before it
 * the text is ASCII without three equal characters in a row, which
 * squeeze() would copy onto itself byte by byte (~17 instructions a byte:
 * a "..." anywhere sends a whole text there). */
static size_t squeeze_start(const char *s, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 18 <= n; i += 16) {
        const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 1));
        const __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 2));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(a, _mm_and_si128(_mm_cmpeq_epi8(a, b), _mm_cmpeq_epi8(a, c))));
        if (m != 0) {
            return i + (unsigned)__builtin_ctz(m);
        }
    }
    if (n >= 18) {
        /* The last 2..17 positions in one more block, ending at the last
         * byte (the byte loop below took ~12 instructions a byte, a quarter
         * of content's sw_normalize_ex on chat lines). It overlaps positions
         * already found clean, so its first set bit is the first hit after
         * them. Bits 0..15: positions n - 18 .. n - 3 (a triple fits); bits
         * 16, 17: the last two bytes, where only a byte >= 0x80 counts. */
        i = n - 18;
        const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 1));
        const __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 2));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(a, _mm_and_si128(_mm_cmpeq_epi8(a, b), _mm_cmpeq_epi8(a, c))));
        m |= ((unsigned)_mm_movemask_epi8(c) >> 14) << 16;
        return m != 0 ? i + (unsigned)__builtin_ctz(m) : n;
    }
#endif
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 ||
            (i + 2 < n && (unsigned char)s[i + 1] == c && (unsigned char)s[i + 2] == c)) {
            return i;
        }
    }
    return n;
}

/* In place: keep at most two consecutive copies of any character. @q is
 * squeeze_start(s, n). */
static size_t squeeze(char *s, size_t n, size_t q)
{
    /* Start where the first cut or multi-byte character can be, in the
     * state the loop below has there: the last kept character is the ASCII
     * byte before it, in a run of one or two (three would start earlier). */
    size_t r = q, w = q;
    size_t prev_off = 0, prev_len = 0; /* last kept character, in the output */
    unsigned run = 0;
    if (q > 0) {
        prev_off = q - 1;
        prev_len = 1;
        run = q >= 2 && s[q - 1] == s[q - 2] ? 2 : 1;
    }
    while (r < n) {
        unsigned char c = (unsigned char)s[r];
        if (c < 0x80) { /* ASCII: one byte compare, one byte store */
            if (prev_len == 1 && (unsigned char)s[prev_off] == c) {
                run++;
            } else {
                run = 1;
            }
            if (run <= 2) {
                s[w] = (char)c;
                prev_off = w;
                prev_len = 1;
                w++;
            }
            r++;
            continue;
        }
        size_t len = char_len(c);
        if (r + len > n) {
            len = n - r;
        }
        if (prev_len == len && memcmp(s + prev_off, s + r, len) == 0) {
            run++;
        } else {
            run = 1;
        }
        if (run <= 2) {
            memmove(s + w, s + r, len);
            prev_off = w;
            prev_len = len;
            w += len;
        }
        r += len;
    }
    return w;
}

/* Could squeeze() change @s (@n bytes)? Only where one character comes three
 * times in a row, and then s[i] == s[i + L] == s[i + 2L] for its byte length
 * L, with s[i] a lead byte (>= 0xC0) when L is 2..4. Most texts have no such
 * i: checked 16 positions at a time (SSE2) and squeeze() skipped. A true
 * answer may be a false alarm (squeeze() then cuts nothing); a false one is
 * always right. The last positions are checked in a copy padded with bytes
 * 0xF8..0xFF, which never occur in UTF-8 (the output is valid UTF-8) and
 * differ within any 8 bytes, so the padding makes no triple of its own. */
#if defined(__SSE2__)
static bool runs16(const char *p)
{
    const __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* lead bytes 0xC0..0xFF are -64..-1 as signed bytes */
    const __m128i lead = _mm_cmpgt_epi8(a, _mm_set1_epi8(-65));
    __m128i m =
        _mm_and_si128(_mm_cmpeq_epi8(a, _mm_loadu_si128((const __m128i *)(const void *)(p + 1))),
                      _mm_cmpeq_epi8(a, _mm_loadu_si128((const __m128i *)(const void *)(p + 2))));
    for (unsigned l = 2; l <= 4; l++) {
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + l));
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * l));
        m = _mm_or_si128(
            m, _mm_and_si128(lead, _mm_and_si128(_mm_cmpeq_epi8(a, b), _mm_cmpeq_epi8(a, c))));
    }
    return _mm_movemask_epi8(m) != 0;
}

static const char runs_pad[48] = {
    '\xf8', '\xf9', '\xfa', '\xfb', '\xfc', '\xfd', '\xfe', '\xff', '\xf8', '\xf9', '\xfa', '\xfb',
    '\xfc', '\xfd', '\xfe', '\xff', '\xf8', '\xf9', '\xfa', '\xfb', '\xfc', '\xfd', '\xfe', '\xff',
    '\xf8', '\xf9', '\xfa', '\xfb', '\xfc', '\xfd', '\xfe', '\xff', '\xf8', '\xf9', '\xfa', '\xfb',
    '\xfc', '\xfd', '\xfe', '\xff', '\xf8', '\xf9', '\xfa', '\xfb', '\xfc', '\xfd', '\xfe', '\xff'};
#endif

static bool maybe_runs(const char *s, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 24 <= n; i += 16) {
        if (runs16(s + i)) {
            return true;
        }
    }
    char tail[48];
    size_t rem = n - i; /* < 24 */
    memcpy(tail, runs_pad, sizeof(tail));
    memcpy(tail, s + i, rem);
    return runs16(tail) || runs16(tail + 16);
#else
    for (; i + 2 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        for (size_t l = 1; l <= (c >= 0xC0 ? 4u : 1u) && i + 2 * l < n; l++) {
            if (s[i] == s[i + l] && s[i] == s[i + 2 * l]) {
                return true;
            }
        }
    }
    return false;
#endif
}

/* Copy the run of plain word bytes (class exactly NC_WORD: a-z and the
 * digits 2 6 8 9) at the start of @p, at most @lim bytes, to @dst; returns its
 * length. 16 bytes at a time (SSE2: the whole block is stored, @dst has room
 * for @lim bytes and what follows the run is overwritten later), then byte
 * by byte. */
static inline size_t word_copy(const unsigned char *p, size_t lim, char *dst)
{
    size_t k = 0;
#if defined(__SSE2__)
    /* c in 'a'..'z' <=> (signed char)(c - 'a' - 128) < -128 + 26 */
    const __m128i shift = _mm_set1_epi8((char)(-'a' - 128));
    const __m128i top = _mm_set1_epi8((char)(-128 + 26));
    for (; k + 16 <= lim; k += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
        _mm_storeu_si128((__m128i *)(void *)(dst + k), v);
        __m128i w = _mm_cmplt_epi8(_mm_add_epi8(v, shift), top);
        w = _mm_or_si128(w, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('2')),
                                         _mm_cmpeq_epi8(v, _mm_set1_epi8('6'))));
        w = _mm_or_si128(w, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('8')),
                                         _mm_cmpeq_epi8(v, _mm_set1_epi8('9'))));
        unsigned m = ~(unsigned)_mm_movemask_epi8(w) & 0xFFFFu;
        if (m != 0) {
            return k + (size_t)__builtin_ctz(m);
        }
    }
#endif
    while (k < lim && p[k] < 0x80 && nc_class[p[k]] == NC_WORD) {
        dst[k] = (char)p[k];
        k++;
    }
    return k;
}

/* The run itself: @o is set up by the caller; returns with o->n the length
 * before squeeze and o->full set if the output was cut. */
static void normalize_run(struct norm_out *o, const char *in, size_t len)
{
    struct norm_out oo = *o;
    const unsigned char *p = (const unsigned char *)in;
    const unsigned char *end = p + (in != NULL ? len : 0);

    while (p < end && !oo.full) {
        unsigned char c = *p;
        if (c < 0x80) {
            /* ASCII, the common case: the same decisions as below (dropped
             * controls, spaces, case fold) without the decoder and the
             * code-point tables. */
            unsigned k = nc_class[c];
            p++;
            if (k & (NC_SPACE | NC_DROP)) {
                if (k & NC_SPACE) {
                    put_space(&oo, c);
                }
                continue;
            }
            if (k & NC_UPPER) {
                c = (unsigned char)(c + ('a' - 'A'));
            }
            put_ascii_k(&oo, (char)c, k);
            /* The rest of a run of plain word bytes (a-z and the digits that
             * are not leet): put_ascii_k() would only store each of them
             * (in a word, no pending space) while they fit. */
            if (oo.in_word && !oo.full) {
                size_t room = oo.cap >= oo.n + 2 ? oo.cap - oo.n - 1 : 0;
                size_t lim = (size_t)(end - p) < room ? (size_t)(end - p) : room;
                size_t run = word_copy(p, lim, oo.buf + oo.n);
                oo.n += run;
                p += run;
            }
            continue;
        }
        size_t adv;
        uint32_t cp = utf8_decode(p, end, &adv);
        p += adv;
        if (cp == UINT32_MAX) {
            put_ascii(&oo, '?');
        } else if (is_dropped(cp)) {
            continue;
        } else if (is_space(cp)) {
            put_space(&oo, cp);
        } else {
            emit(&oo, cp);
        }
    }
    end_word(&oo);
    *o = oo;
}

/* Plain text: every byte printable ASCII but the leet bytes 0 1 3 4 5 7 @ $
 * (classes 0, NC_WORD and NC_WORD | NC_UPPER of nc_class), or a space with
 * such a byte on both sides. normalize_run() then only lower-cases: a space
 * between two bytes is put (or kept pending and put) as one ' ', no word has
 * a leet byte so end_word() changes nothing, nothing is dropped. Most chat
 * lines are plain (97% of the bench capture's bodies). */
static bool plain_byte(unsigned char c)
{
    return c > ' ' && c < 0x7F && (nc_class[c] & (NC_LEET | NC_DROP | NC_SPACE)) == 0;
}

#if defined(__SSE2__)
/* Bit i: byte i of @v is a plain byte; *sp bit i: it is a space. */
static inline unsigned plain16(__m128i v, unsigned *sp)
{
    /* 0x21..0x7E (bytes >= 0x80 compare negative) */
    __m128i ok = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(' ')),
                               _mm_cmplt_epi8(v, _mm_set1_epi8(0x7F)));
    /* minus 0 1 3 4 5 7 (the digits '0'..'7' but 2 and 6), '@', '$' */
    __m128i d = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                              _mm_cmplt_epi8(v, _mm_set1_epi8('7' + 1)));
    d = _mm_andnot_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('2')), _mm_cmpeq_epi8(v, _mm_set1_epi8('6'))),
        d);
    d = _mm_or_si128(d, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('@')),
                                     _mm_cmpeq_epi8(v, _mm_set1_epi8('$'))));
    ok = _mm_andnot_si128(d, ok);
    *sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
    return (unsigned)_mm_movemask_epi8(ok);
}
#endif

static bool plain_text(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n == 0 || p[0] == ' ' || p[n - 1] == ' ') {
        return false;
    }
    size_t i = 0;
#if defined(__SSE2__)
    unsigned prev_sp = 0; /* the byte before block i is a space */
    for (; i + 16 <= n; i += 16) {
        unsigned sp, ok = plain16(_mm_loadu_si128((const __m128i *)(const void *)(p + i)), &sp);
        if ((ok | sp) != 0xFFFFu || (sp & ((sp << 1) | prev_sp)) != 0) {
            return false;
        }
        prev_sp = sp >> 15;
    }
    if (i < n && n >= 16) {
        /* the last n - i bytes: bits 16 - (n - i) .. 15 of the final 16 */
        unsigned sh = 16 - (unsigned)(n - i), sp;
        unsigned ok = plain16(_mm_loadu_si128((const __m128i *)(const void *)(p + n - 16)), &sp);
        ok >>= sh;
        sp >>= sh;
        return (ok | sp) == (0xFFFFu >> sh) && (sp & ((sp << 1) | prev_sp)) == 0;
    }
#endif
    for (; i < n; i++) {
        if (!plain_byte(p[i]) && (p[i] != ' ' || p[i + 1] == ' ')) {
            return false; /* (p[n - 1] is not a space: p[i + 1] exists) */
        }
    }
    return true;
}

/* @n plain bytes lower-cased into @out (room for n + 1). */
static void plain_lower(const char *s, size_t n, char *out)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i lo = _mm_set1_epi8('A' - 1), hi = _mm_set1_epi8('Z' + 1);
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i up = _mm_and_si128(_mm_cmpgt_epi8(v, lo), _mm_cmplt_epi8(v, hi));
        _mm_storeu_si128((__m128i *)(void *)(out + i),
                         _mm_add_epi8(v, _mm_and_si128(up, _mm_set1_epi8('a' - 'A'))));
    }
    if (i < n && n >= 16) {
        /* the last 16 bytes, overlapping bytes already done: each output
         * byte is a function of its input byte alone (and lower-casing its
         * own output gives the same), so writing one twice changes nothing
         * (the byte loop below was ~9 instructions a byte of every tail) */
        i = n - 16;
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i up = _mm_and_si128(_mm_cmpgt_epi8(v, lo), _mm_cmplt_epi8(v, hi));
        _mm_storeu_si128((__m128i *)(void *)(out + i),
                         _mm_add_epi8(v, _mm_and_si128(up, _mm_set1_epi8('a' - 'A'))));
        i = n;
    }
#endif
    for (; i < n; i++) {
        char c = s[i];
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
}

#define NORM_MEMO_IN 4096  /* longest input kept (bodies are cut at 4096 by both callers) */
#define NORM_MEMO_OUT 8192 /* longest output kept, NUL included */
struct norm_memo {
    size_t in_len1; /* input length + 1; 0 = empty */
    size_t need;    /* smallest cap giving the same output: length before squeeze + 1 */
    size_t out_len;
    unsigned flags;
    bool plain; /* the input was plain text (sw_normalize_ex) */
    char in[NORM_MEMO_IN];
    char out[NORM_MEMO_OUT];
};
static _Thread_local struct norm_memo nmemo; /* zero: empty, in .tbss */

size_t sw_normalize_ex(const char *in, size_t len, char *out, size_t cap, unsigned flags,
                       bool *plain)
{
    bool pl = false;
    if (plain != NULL) {
        *plain = false;
    }
    if (out == NULL || cap == 0) {
        return 0;
    }
    if (in == NULL) {
        len = 0;
    }
    bool keep = len >= 16 && len <= NORM_MEMO_IN && !(flags & SW_NORM_NO_MEMO);
    if (keep && nmemo.in_len1 == len + 1 && nmemo.flags == flags && cap >= nmemo.need &&
        memcmp(nmemo.in, in, len) == 0) {
        memcpy(out, nmemo.out, nmemo.out_len + 1);
        if (plain != NULL) {
            *plain = nmemo.plain;
        }
        return nmemo.out_len;
    }
    struct norm_out o = {.buf = out, .cap = cap, .flags = flags};
    if (len < cap && plain_text(in, len)) {
        plain_lower(in, len, out); /* what normalize_run() gives for it */
        o.n = len;
        pl = true;
    } else {
        normalize_run(&o, in, len);
    }
    size_t pre = o.n;
    if (flags & SW_NORM_SQUEEZE) {
        /* squeeze_start first: an ASCII text without three equal bytes in
         * a row (most) ends there, in fewer instructions than maybe_runs */
        size_t q = squeeze_start(out, o.n);
        if (q < o.n && maybe_runs(out, o.n)) {
            o.n = squeeze(out, o.n, q);
        }
    }
    out[o.n] = '\0';
    if (keep && !o.full && pre + 1 <= NORM_MEMO_OUT) {
        memcpy(nmemo.in, in, len);
        nmemo.in_len1 = len + 1;
        nmemo.flags = flags;
        nmemo.need = pre + 1;
        nmemo.out_len = o.n;
        nmemo.plain = pl;
        memcpy(nmemo.out, out, o.n + 1);
    }
    if (plain != NULL) {
        *plain = pl;
    }
    return o.n;
}

size_t sw_normalize(const char *in, size_t len, char *out, size_t cap, unsigned flags)
{
    return sw_normalize_ex(in, len, out, cap, flags, NULL);
}
