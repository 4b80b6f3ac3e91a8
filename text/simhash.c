/*
 * simhash.c - SimHash over character shingles (see simhash.h).
 *
 * Per shingle: a 64-bit mix of its bytes (splitmix64 finalizer over the packed
 * bytes; shingles are <= 8 bytes so no general hash is needed), then one vote
 * per bit, counted in 64 byte-wide counters: on x86-64, four SSE2 registers
 * (each byte of the hash broadcast to 8 lanes, masked, compared, subtracted),
 * or two AVX2 registers with the broadcast done by byte shuffles when the CPU
 * has AVX2 (the parser threads fingerprint every occupant's groupchat body),
 * or eight shingles at a time, hashed in one register and counted by bit
 * transposes and byte popcounts, when it has AVX-512 VBMI, BITALG and GFNI;
 * elsewhere bit-sliced with 8 table lookups and 8 adds per shingle. A bit is
 * set when more than half the shingles voted 1 (all paths give the same
 * fingerprint; tests/text/test_simhash.c checks them against plain
 * per-bit counting). The tokenizer in front of it finds a token's end and
 * class counts from SSE2 masks of the 16 bytes at its start; the
 * byte-at-a-time loop stays for the rest, and for that test as the
 * reference (sw_simhash_force_scalar_tokens). With AVX-512 VBMI2 the bytes
 * kept after normalizing are picked 64 at a time (keep_avx512).
 */
#include "sw/simhash.h"

#include <stdint.h>
#include <string.h>

#include "sw/normalize.h"

#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#define SIMHASH_SSE2 1
#if defined(__GNUC__)
#include <immintrin.h>
#define SIMHASH_AVX2 1 /* built with target("avx2"), used when the CPU has it */
#endif
#endif

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

#if !defined(SIMHASH_SSE2)
/* SPREAD[v]: byte k = bit k of v (0 or 1), built at compile time. */
#define SP1(v)                                                                                     \
    ((uint64_t)((v)&1) | (uint64_t)((v) >> 1 & 1) << 8 | (uint64_t)((v) >> 2 & 1) << 16 |          \
     (uint64_t)((v) >> 3 & 1) << 24 | (uint64_t)((v) >> 4 & 1) << 32 |                             \
     (uint64_t)((v) >> 5 & 1) << 40 | (uint64_t)((v) >> 6 & 1) << 48 |                             \
     (uint64_t)((v) >> 7 & 1) << 56)
#define SP4(v) SP1(v), SP1((v) + 1), SP1((v) + 2), SP1((v) + 3)
#define SP16(v) SP4(v), SP4((v) + 4), SP4((v) + 8), SP4((v) + 12)
#define SP64(v) SP16(v), SP16((v) + 16), SP16((v) + 32), SP16((v) + 48)
static const uint64_t SPREAD[256] = {SP64(0u), SP64(64u), SP64(128u), SP64(192u)};

static uint64_t spread(uint64_t v)
{
    return SPREAD[v & 0xFFu];
}
#endif

/* The shingle hash: a 64-bit mix of the 4 bytes at @s. */
static uint64_t shingle_hash(const char *s)
{
    uint32_t g;
    memcpy(&g, s, sizeof(g));
    return mix64((uint64_t)g * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull);
}

#if defined(SIMHASH_AVX2)
static _Atomic int simhash_isa_max = 2; /* 2 AVX-512, 1 AVX2, 0 SSE2: sw_simhash_force_*() */

void sw_simhash_force_sse2(int on)
{
    simhash_isa_max = on ? 0 : 2;
}

void sw_simhash_force_avx2(int on)
{
    simhash_isa_max = on ? 1 : 2;
}

/* The AVX-512 votes need VBMI (byte permutes), GFNI (bit transposes),
 * BITALG (byte popcounts) and DQ (64-bit multiplies): Ice Lake, Zen 4. */
static int simhash_has_avx512(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512bitalg") &&
           __builtin_cpu_supports("gfni");
}

/* sw_simhash_raw's votes for @len >= SW_SIMHASH_SHINGLE bytes, 8 shingles at
 * a time: their hashes in the 8 lanes of one register (the same mix64, with
 * 64-bit lane multiplies), then the votes without a loop over shingles: the
 * bytes are transposed so that lane b holds byte b of the 8 hashes, each
 * lane, an 8x8 bit matrix, is transposed by one GF(2) affine op so that its
 * byte t holds bit t of those bytes, and a byte popcount gives, for each of
 * the 64 bit positions (byte 8b + t), how many of the 8 hashes have it set.
 * The same 64 byte-wide counters as the other paths, so the same
 * fingerprint; 16 vector instructions per 8 shingles where the AVX2 loop
 * ran ~25 instructions per shingle. Lanes past the last shingle are zeroed, and the
 * loads are masked to @len (no byte past the text is read). */
__attribute__((
    target("avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi,avx512bitalg,gfni"))) static uint64_t
votes_avx512(const char *s, size_t len)
{
    /* lane k (8 bytes): bytes k..k+3 of the 16 loaded, zero-extended (the
     * zero bytes come from the permute's zero mask) */
    const __m512i win =
        _mm512_set_epi8(0, 0, 0, 0, 10, 9, 8, 7, 0, 0, 0, 0, 9, 8, 7, 6, 0, 0, 0, 0, 8, 7, 6, 5, 0,
                        0, 0, 0, 7, 6, 5, 4, 0, 0, 0, 0, 6, 5, 4, 3, 0, 0, 0, 0, 5, 4, 3, 2, 0, 0,
                        0, 0, 4, 3, 2, 1, 0, 0, 0, 0, 3, 2, 1, 0);
    /* byte 8b + k of the result = byte 8k + b of the hashes */
    const __m512i tr = _mm512_set_epi8(63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6,
                                       61, 53, 45, 37, 29, 21, 13, 5, 60, 52, 44, 36, 28, 20, 12, 4,
                                       59, 51, 43, 35, 27, 19, 11, 3, 58, 50, 42, 34, 26, 18, 10, 2,
                                       57, 49, 41, 33, 25, 17, 9, 1, 56, 48, 40, 32, 24, 16, 8, 0);
    /* affine with these unit vectors as the "source" and the data as the
     * matrix: result byte t, bit i = bit t of data byte 7 - i (a column) */
    const __m512i unit = _mm512_set1_epi64((long long)0x8040201008040201ull);
    const __m512i k0 = _mm512_set1_epi64((long long)0x9E3779B97F4A7C15ull);
    const __m512i k1 = _mm512_set1_epi64((long long)0x632BE59BD9B4E019ull);
    const __m512i m1 = _mm512_set1_epi64((long long)0xBF58476D1CE4E5B9ull);
    const __m512i m2 = _mm512_set1_epi64((long long)0x94D049BB133111EBull);
    size_t ng = len - SW_SIMHASH_SHINGLE + 1;
    __m512i c = _mm512_setzero_si512();
    for (size_t i = 0; i < ng; i += 8) {
        size_t left = len - i; /* >= 4 */
        __mmask16 lm = (__mmask16)(left >= 16 ? 0xFFFFu : (1u << left) - 1u);
        __mmask8 valid = (__mmask8)(ng - i >= 8 ? 0xFFu : (1u << (ng - i)) - 1u);
        __m128i b = _mm_maskz_loadu_epi8(lm, s + i);
        __m512i x =
            _mm512_maskz_permutexvar_epi8(0x0F0F0F0F0F0F0F0Full, win, _mm512_castsi128_si512(b));
        x = _mm512_add_epi64(_mm512_mullo_epi64(x, k0), k1);
        x = _mm512_xor_si512(x, _mm512_srli_epi64(x, 30));
        x = _mm512_mullo_epi64(x, m1);
        x = _mm512_xor_si512(x, _mm512_srli_epi64(x, 27));
        x = _mm512_mullo_epi64(x, m2);
        x = _mm512_maskz_xor_epi64(valid, x, _mm512_srli_epi64(x, 31));
        x = _mm512_permutexvar_epi8(tr, x);
        x = _mm512_gf2p8affine_epi64_epi8(unit, x, 0);
        c = _mm512_add_epi8(c, _mm512_popcnt_epi8(x));
    }
    return (uint64_t)_mm512_cmpgt_epu8_mask(c, _mm512_set1_epi8((char)(ng / 2)));
}

/* sw_simhash_raw's votes for @len >= SW_SIMHASH_SHINGLE bytes with AVX2: the
 * same 64 byte-wide counters as the SSE2 loop, in two registers, and byte k
 * of h is broadcast to its 8 lanes by one byte shuffle per 4 bytes of h
 * instead of three levels of unpacks (about 10 vector instructions per
 * shingle instead of 30). Same counts, so the same fingerprint. */
__attribute__((target("avx2"))) static uint64_t votes_avx2(const char *s, size_t len)
{
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    /* c_lo counts bytes 0-3 of h (lane 0 bytes 0-1, lane 1 bytes 2-3), c_hi bytes 4-7 */
    const __m256i lo = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
                                        2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i hi = _mm256_setr_epi8(4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6, 6, 6, 6,
                                        6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7);
    __m256i c_lo = _mm256_setzero_si256(), c_hi = c_lo;
    unsigned ng = 0;
    for (size_t i = 0; i + SW_SIMHASH_SHINGLE <= len; i++) {
        __m256i v = _mm256_set1_epi64x((long long)shingle_hash(s + i));
        __m256i v_lo = _mm256_shuffle_epi8(v, lo);
        __m256i v_hi = _mm256_shuffle_epi8(v, hi);
        c_lo = _mm256_sub_epi8(c_lo, _mm256_cmpeq_epi8(_mm256_and_si256(v_lo, bit), bit));
        c_hi = _mm256_sub_epi8(c_hi, _mm256_cmpeq_epi8(_mm256_and_si256(v_hi, bit), bit));
        ng++;
    }
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    const __m256i half = _mm256_xor_si256(_mm256_set1_epi8((char)(ng / 2)), flip);
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(
               _mm256_cmpgt_epi8(_mm256_xor_si256(c_lo, flip), half)) |
           (uint64_t)(uint32_t)_mm256_movemask_epi8(
               _mm256_cmpgt_epi8(_mm256_xor_si256(c_hi, flip), half))
               << 32;
}
#else
void sw_simhash_force_sse2(int on)
{
    (void)on;
}

void sw_simhash_force_avx2(int on)
{
    (void)on;
}
#endif

uint64_t sw_simhash_raw(const char *s, size_t len)
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
        return mix64(v ^ (uint64_t)len << 56);
    }
    /* Bit-sliced votes: acc[i] holds 8 byte-wide counters, one per bit of
     * byte i of the shingle hashes; SPREAD[v] has byte k = bit k of v. At most
     * SW_SIMHASH_MAX_TEXT - 3 < 255 shingles, so no lane overflows. */
    unsigned ng = 0;
#if defined(SIMHASH_AVX2)
    int isa = simhash_isa_max;
    if (isa >= 2 && simhash_has_avx512()) {
        return votes_avx512(s, len);
    }
    if (isa >= 1 && __builtin_cpu_supports("avx2")) {
        return votes_avx2(s, len);
    }
#endif
#if defined(SIMHASH_SSE2)
    /* Same votes, 16 byte-wide counters per register: byte k of h is
     * broadcast to 8 lanes (three unpacks), lane j keeps bit j % 8 of it
     * (and + compare with 1 << j % 8), and a set bit subtracts -1. */
    const __m128i bit = _mm_set1_epi64x((long long)0x8040201008040201ull);
    __m128i c0 = _mm_setzero_si128(), c1 = c0, c2 = c0, c3 = c0;
    for (size_t i = 0; i + SW_SIMHASH_SHINGLE <= len; i++) {
        uint64_t h = shingle_hash(s + i);
        __m128i v = _mm_cvtsi64_si128((long long)h);
        v = _mm_unpacklo_epi8(v, v);             /* b0 b0 b1 b1 .. b7 b7 */
        __m128i lo = _mm_unpacklo_epi16(v, v);   /* b0 x4 .. b3 x4 */
        __m128i hi = _mm_unpackhi_epi16(v, v);   /* b4 x4 .. b7 x4 */
        __m128i v0 = _mm_unpacklo_epi32(lo, lo); /* b0 x8 b1 x8 */
        __m128i v1 = _mm_unpackhi_epi32(lo, lo); /* b2 x8 b3 x8 */
        __m128i v2 = _mm_unpacklo_epi32(hi, hi); /* b4 x8 b5 x8 */
        __m128i v3 = _mm_unpackhi_epi32(hi, hi); /* b6 x8 b7 x8 */
        c0 = _mm_sub_epi8(c0, _mm_cmpeq_epi8(_mm_and_si128(v0, bit), bit));
        c1 = _mm_sub_epi8(c1, _mm_cmpeq_epi8(_mm_and_si128(v1, bit), bit));
        c2 = _mm_sub_epi8(c2, _mm_cmpeq_epi8(_mm_and_si128(v2, bit), bit));
        c3 = _mm_sub_epi8(c3, _mm_cmpeq_epi8(_mm_and_si128(v3, bit), bit));
        ng++;
    }
    /* Majority: 2 * ones > ng, i.e. ones > ng / 2 (unsigned bytes: compare
     * after flipping the sign bit). */
    const __m128i flip = _mm_set1_epi8((char)0x80);
    const __m128i half = _mm_xor_si128(_mm_set1_epi8((char)(ng / 2)), flip);
    uint64_t fp =
        (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpgt_epi8(_mm_xor_si128(c0, flip), half)) |
        (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpgt_epi8(_mm_xor_si128(c1, flip), half)) << 16 |
        (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpgt_epi8(_mm_xor_si128(c2, flip), half)) << 32 |
        (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpgt_epi8(_mm_xor_si128(c3, flip), half)) << 48;
    return fp;
#else
    uint64_t acc[8] = {0};
    for (size_t i = 0; i + SW_SIMHASH_SHINGLE <= len; i++) {
        uint64_t h = shingle_hash(s + i);
        for (unsigned k = 0; k < 8; k++) {
            acc[k] += spread(h >> (8 * k));
        }
        ng++;
    }
    uint64_t fp = 0;
    for (unsigned b = 0; b < 64; b++) {
        unsigned ones = (unsigned)(acc[b / 8] >> (8 * (b % 8))) & 0xFFu;
        if (2 * ones > ng) {
            fp |= 1ull << b;
        }
    }
    return fp;
#endif
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Per-byte increments of noise_counts()'s counters packed in one word: digits
 * in bits 0-15, letters 16-31, vowels 32-47, other bytes 48-63 (a token is at
 * most 4 * SW_SIMHASH_MAX_TEXT bytes, so no field overflows); 0 for the
 * token separators (is_space). Built once per thread on first use. */
#define TOK_DIGIT 1ull
#define TOK_LETTER (1ull << 16)
#define TOK_VOWEL (1ull << 32)
#define TOK_OTHER (1ull << 48)
static _Thread_local uint64_t tok_inc[256];
static _Thread_local uint8_t keep_byte[256]; /* step 3 keeps a-z, 0-9, non-ASCII */
static _Thread_local int tok_ready;

static void tok_init(void)
{
    for (unsigned c = 0; c < 256; c++) {
        unsigned l = c >= 'A' && c <= 'Z' ? c + 32 : c;
        uint64_t v;
        if (is_space((unsigned char)c)) {
            v = 0;
        } else if (l >= '0' && l <= '9') {
            v = TOK_DIGIT;
        } else if (l >= 'a' && l <= 'z') {
            v = TOK_LETTER;
            if (l == 'a' || l == 'e' || l == 'i' || l == 'o' || l == 'u' || l == 'y') {
                v |= TOK_VOWEL;
            }
        } else {
            v = TOK_OTHER;
        }
        tok_inc[c] = v;
        keep_byte[c] = (uint8_t)((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80);
    }
    tok_ready = 1;
}

/* A raw token that looks machine-made: letters mixed with digits ("x7f3k",
 * "9e3779b1", "bbonio0"), a long run of digits, or a long run without vowels
 * ("qxzkvbn"). Spammers append such tokens to beat exact hashes; they carry
 * no meaning, so they cast no votes. Judged on the raw text, before the
 * normalizer's leetspeak folding could turn "bbonio0" into a word (leet
 * words such as "fr33" are dropped too: every variant drops them alike).
 * Tokens with other characters (URLs, punctuation, non-ASCII) are kept.
 * Judged from the packed counters (tok_inc) of a token of @n bytes. */
static int noise_counts(uint64_t acc, size_t n)
{
    if (n < 4) {
        return 0;
    }
    size_t digits = (size_t)(acc & 0xFFFF), letters = (size_t)(acc >> 16 & 0xFFFF);
    size_t vowels = (size_t)(acc >> 32 & 0xFFFF), other = (size_t)(acc >> 48);
    if (other > 0) {
        return 0;
    }
    if (digits > 0 && letters > 0) {
        return 1;
    }
    if (digits >= 5) {
        return 1;
    }
    return letters >= 5 && vowels == 0;
}

/* A plain word at either end of a longer text casts no votes: spammers
 * append (or prepend) a random token to beat exact hashes, and one made of
 * letters only ("sebevyo", "kaxolu") passes noise_counts as a word, as does
 * a short mixed one ("e62"); on a 60-byte line its shingles alone move the
 * fingerprint 8-15 bits. A plain word here: ASCII letters and digits only,
 * at most SW_SIMHASH_END_MAX_WORD bytes (a URL, punctuation, non-ASCII text
 * keeps its votes). The decision is made on the raw tokens, noise included,
 * so "... now sebevyo" and "... now x7f3k" both keep "now". Judged from the
 * packed counters (tok_inc) of a token of @n bytes. */
static int end_word(uint64_t acc, size_t n)
{
    return n <= SW_SIMHASH_END_MAX_WORD && (acc >> 48) == 0;
}

/* One-entry memo per thread: a worker runs muc_flood, muc_raid, room_spam
 * and msg_spam on the same body one after the other, so the second to fourth
 * call for an event costs one compare instead of a normalize + fingerprint.
 * The result depends only on the first SW_SIMHASH_MAX_RAW bytes of the text,
 * which are the key: a hit is exact, whatever the caller. */
#define SW_SIMHASH_MAX_RAW (4 * SW_SIMHASH_MAX_TEXT)
struct simhash_memo {
    size_t in; /* key length; SIZE_MAX = empty */
    size_t norm_len;
    uint64_t fp;
    char key[SW_SIMHASH_MAX_RAW];
};
static _Thread_local struct simhash_memo memo = {.in = SIZE_MAX};

static uint64_t simhash_text(const char *s, size_t len, size_t *norm_len);

/* sw_simhash_force_scalar_tokens(): the tokenizer's byte-at-a-time loop, the
 * reference tests/text/test_simhash.c holds the SSE2 token scan against. */
static _Atomic int simhash_scalar_tokens;

void sw_simhash_force_scalar_tokens(int on)
{
    simhash_scalar_tokens = on != 0;
    memo.in = SIZE_MAX; /* the next call computes, whichever tokenizer it uses */
}

uint64_t sw_simhash_text(const char *s, size_t len, size_t *norm_len)
{
    size_t in = len > SW_SIMHASH_MAX_RAW ? SW_SIMHASH_MAX_RAW : len;
    if (memo.in == in && memcmp(memo.key, s, in) == 0) {
        if (norm_len != NULL) {
            *norm_len = memo.norm_len;
        }
        return memo.fp;
    }
    size_t m;
    uint64_t fp = simhash_text(s, in, &m);
    memcpy(memo.key, s, in);
    memo.in = in;
    memo.norm_len = m;
    memo.fp = fp;
    if (norm_len != NULL) {
        *norm_len = m;
    }
    return fp;
}

#if defined(SIMHASH_SSE2)
/* The token starting at @s (a non-space byte, 16 bytes readable): its length
 * and *@acc as tok_inc[] sums it, or 0 when it runs past the 16 bytes. */
static size_t token_sse2(const char *s, uint64_t *acc)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    const __m128i sp = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'))),
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')),
                     _mm_cmpeq_epi8(v, _mm_set1_epi8('\r'))));
    unsigned spm = (unsigned)_mm_movemask_epi8(sp);
    if (spm == 0) {
        return 0;
    }
    unsigned n = (unsigned)__builtin_ctz(spm);
    unsigned in_tok = (1u << n) - 1;
    /* digits: v - '0' <= 9; letters: (v | 0x20) - 'a' <= 25 (only A-Z and
     * a-z land there); vowels: v | 0x20 one of aeiouy (only letters do) */
    const __m128i zero = _mm_setzero_si128();
    const __m128i d = _mm_subs_epu8(_mm_sub_epi8(v, _mm_set1_epi8('0')), _mm_set1_epi8(9));
    const __m128i lo = _mm_or_si128(v, _mm_set1_epi8(0x20));
    const __m128i l = _mm_subs_epu8(_mm_sub_epi8(lo, _mm_set1_epi8('a')), _mm_set1_epi8(25));
    const __m128i vw =
        _mm_or_si128(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(lo, _mm_set1_epi8('a')),
                                               _mm_cmpeq_epi8(lo, _mm_set1_epi8('e'))),
                                  _mm_or_si128(_mm_cmpeq_epi8(lo, _mm_set1_epi8('i')),
                                               _mm_cmpeq_epi8(lo, _mm_set1_epi8('o')))),
                     _mm_or_si128(_mm_cmpeq_epi8(lo, _mm_set1_epi8('u')),
                                  _mm_cmpeq_epi8(lo, _mm_set1_epi8('y'))));
    /* the three in-token masks side by side, counted in place (SWAR: no
     * popcnt in the x86-64 baseline): fields 0, 16, 32 are where tok_inc
     * counts digits, letters and vowels */
    uint64_t w = (uint64_t)((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(d, zero)) & in_tok) |
                 (uint64_t)((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(l, zero)) & in_tok) << 16 |
                 (uint64_t)((unsigned)_mm_movemask_epi8(vw) & in_tok) << 32;
    w = w - ((w >> 1) & 0x5555555555555555ull);
    w = (w & 0x3333333333333333ull) + ((w >> 2) & 0x3333333333333333ull);
    w = (w + (w >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    w = (w + (w >> 8)) & 0x001F001F001F001Full;
    uint64_t other = n - (w & 0xFFFF) - (w >> 16 & 0xFFFF);
    *acc = w + other * TOK_OTHER;
    return n;
}
#endif

#if defined(SIMHASH_AVX2)
/* Step 3 of simhash_text (keep_byte[]) 64 bytes at a time: a mask of the
 * bytes kept (a-z, 0-9, >= 0x80), compressed in a register and stored under
 * a mask (no byte past the kept ones is written). @n bytes of @buf to
 * @clean; returns the bytes kept. */
__attribute__((target("avx512f,avx512bw,avx512vbmi2,popcnt"))) static size_t
keep_avx512(const char *buf, size_t n, char *clean)
{
    size_t m = 0;
    for (size_t k = 0; k < n; k += 64) {
        size_t left = n - k;
        __mmask64 lm = left >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << left) - 1;
        __m512i v = _mm512_maskz_loadu_epi8(lm, buf + k);
        __mmask64 keep = (_mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8('a')),
                                                 _mm512_set1_epi8(26)) |
                          _mm512_cmplt_epu8_mask(_mm512_sub_epi8(v, _mm512_set1_epi8('0')),
                                                 _mm512_set1_epi8(10)) |
                          _mm512_movepi8_mask(v)) &
                         lm;
        unsigned kept = (unsigned)__builtin_popcountll(keep);
        __mmask64 sm = kept >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << kept) - 1;
        _mm512_mask_storeu_epi8(clean + m, sm, _mm512_maskz_compress_epi8(keep, v));
        m += kept;
    }
    return m;
}
#endif

static uint64_t simhash_text(const char *s, size_t len, size_t *norm_len)
{
    char raw[4 * SW_SIMHASH_MAX_TEXT + 16]; /* (+16: whole 16-byte token copies) */
    char buf[SW_SIMHASH_MAX_TEXT + 1];
    char clean[SW_SIMHASH_MAX_TEXT + 1];
    /* 1. Drop machine-made tokens from a bounded prefix of the raw text. */
    size_t in = len > 4 * SW_SIMHASH_MAX_TEXT ? 4 * SW_SIMHASH_MAX_TEXT : len;
    size_t r = 0;
    if (!tok_ready) {
        tok_init();
    }
    /* End words: the first and the last raw token, when they are plain
     * words (see end_word) and the text has SW_SIMHASH_END_MIN_TOKENS tokens
     * or more, are dropped like noise. head_end: end of the first kept token
     * in raw when it was the first raw token and a plain word; tail_at: raw
     * length before the last kept token when that one is a plain word (only
     * used when it turns out to be the last raw token). */
    size_t ntok = 0, head_end = 0, tail_at = 0;
    int tail_plain = 0;
#if defined(SIMHASH_SSE2)
    /* the vector token scan runs while 16 bytes are left; none when forced scalar */
    const size_t vec_in = simhash_scalar_tokens ? 0 : in;
#endif
    for (size_t i = 0; i < in;) {
        while (i < in && is_space((unsigned char)s[i])) {
            i++;
        }
        size_t j = i;
        uint64_t acc = 0, inc;
#if defined(SIMHASH_SSE2)
        /* A token that ends within the 16 bytes at i (most do): its end and
         * class counts from masks, without a branch per byte (the scalar
         * loop's exit mispredicted once a token, the loop was ~40% of
         * simhash_text's samples). */
        if (i + 16 <= vec_in && (j = token_sse2(s + i, &acc)) != 0) {
            j += i;
        } else {
            j = i;
            acc = 0;
#else
        {
#endif
            /* one pass: find the token's end and count its classes (noise_token) */
            while (j < in && ((inc = tok_inc[(unsigned char)s[j]]) != 0)) {
                acc += inc;
                j++;
            }
        }
        if (j == i) {
            break;
        }
        ntok++;
        tail_plain = 0;
        if (!noise_counts(acc, j - i)) {
            int plain = end_word(acc, j - i);
            tail_at = r;
            tail_plain = plain;
            if (r > 0) {
                raw[r++] = ' ';
            }
            if (j - i <= 16 && i + 16 <= in) {
                memcpy(raw + r, s + i, 16); /* inline; the bytes past the token are
                                             * overwritten or past the end */
            } else {
                memcpy(raw + r, s + i, j - i);
            }
            r += j - i;
            if (ntok == 1 && plain) {
                head_end = r;
            }
        }
        i = j;
    }
    if (ntok >= SW_SIMHASH_END_MIN_TOKENS) {
        if (tail_plain) {
            r = tail_at;
        }
        if (head_end > 0 && head_end < r) {
            memmove(raw, raw + head_end + 1, r - head_end - 1); /* and its space */
            r -= head_end + 1;
        } else if (head_end > 0) {
            r = 0;
        }
    }
    if (r == 0) {
        memcpy(raw, s, in); /* all noise: fingerprint it as is */
        r = in;
    }
    /* 2. Fold case, leetspeak, confusables, invisible characters. */
    size_t n = sw_normalize(raw, r, buf, sizeof(buf), SW_NORM_DEFAULT | SW_NORM_NO_MEMO);
    /* 3. Keep letters, digits and non-ASCII bytes only: dropped or added
     *    spaces and punctuation ("first100", "->" vs " -> ") then do not
     *    change the shingles. */
    size_t m = 0;
#if defined(SIMHASH_AVX2)
    if (simhash_isa_max >= 2 && __builtin_cpu_supports("avx512vbmi2") &&
        __builtin_cpu_supports("avx512bw")) {
        m = keep_avx512(buf, n, clean);
    } else
#endif
    {
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)buf[k];
            clean[m] = (char)c; /* m <= k: in bounds, overwritten unless kept */
            m += keep_byte[c];
        }
    }
    if (m == 0 && n > 0) {
        memcpy(clean, buf, n); /* punctuation only ("!!!", ":-)"): as is */
        m = n;
    }
    if (norm_len != NULL) {
        *norm_len = m;
    }
    return sw_simhash_raw(clean, m);
}
