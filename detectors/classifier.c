/*
 * classifier.c - hashed-feature naive Bayes (classifier.h), its model file,
 * the `stanzawatch train` command and the "classifier" detector.
 *
 * Features: the text is folded with sw_normalize(SW_NORM_DEFAULT) so leet and
 * look-alike spellings share features with the plain words; tokens are runs of
 * ASCII letters/digits or non-ASCII bytes (1..40 bytes; longer runs are cut),
 * each token gives a unigram feature and, with the previous token, a bigram
 * feature; a feature is XXH3(token bytes, seed) masked to 2^bits buckets.
 * Collisions only blur the model a little at 2^18 buckets.
 *
 * Model: w[b] = log((S[b] + a) / (S + a*B)) - log((H[b] + a) / (H + a*B)),
 * a = 1 (Laplace), S/H = total spam/ham feature counts; prior = log(ns/nh).
 * score = sigmoid(prior + sum of w over the features of the text).
 *
 * File (little-endian, as written by this host; the magic doubles as a byte
 * order check through the version field):
 *   "SWNBAYES" u32 version u32 bits u64 n_ham u64 n_spam f64 prior
 *   u64 xxh64(table) then float table[2^bits].
 *
 * Detector "classifier": setup loads detectors.classifier.model (disabled when
 * empty); process scores message bodies with at least min_tokens tokens and
 * emits "classifier.spam" with weight = weight * (p - threshold) / (1 - threshold)
 * when p >= threshold, unless the sender's recent scored messages were mostly
 * ham (cls_history.h: history_min, history_share). Lines a bridge relays
 * ("<nick> text") are not scored: not the sender's words. Hot reload: the model lives in `shared`,
 * `local` holds only the normalization buffer and the sender history (sized by constants), so
 * thread_reload has nothing to adapt.
 *
 * Threading: models are immutable once built; see classifier.h.
 */
#include "sw/classifier.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
/* XXH3 inlined (as core/sw.c does): two short hashes per token, the library
 * call was ~1/3 of the scoring cost. Same function, same values. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "sw/detector.h"
#include "sw/file.h"
#include "sw/normalize.h"

#include "cls_history.h"
#include "dcommon.h"

#define NB_MAGIC "SWNBAYES"
#define NB_TOKEN_MAX 40
#define NB_SEED_UNI 0x5357u
#define NB_SEED_BI 0x5342u

#define NB_SHAPES 7

struct sw_classifier {
    unsigned bits;
    uint64_t n_ham, n_spam;
    double prior;
    float *w;                    /* 2^bits */
    uint32_t shape_b[NB_SHAPES]; /* bucket of each shape pseudo-token (set_shape_buckets) */
};

struct sw_classifier_trainer {
    unsigned bits;
    uint64_t n_docs[2];
    uint64_t total[2];
    uint32_t *count[2];
    /* every document's buckets, for logistic regression */
    uint32_t *feat;
    size_t n_feat, cap_feat;
    size_t *doc_end; /* feat[doc_end[i-1] .. doc_end[i]) */
    uint8_t *label;
    size_t n_doc, cap_doc;
    bool oom;
};

struct nb_header {
    char magic[8];
    uint32_t version;
    uint32_t bits;
    uint64_t n_ham, n_spam;
    double prior;
    uint64_t sum;
};

/* Walk the features of normalized text @s (@n bytes): calls @fn with each
 * bucket. Returns the token count. */
typedef void (*nb_feature_fn)(void *ctx, uint32_t bucket);

/* Token bytes: a-z, 0-9 and every byte >= 0x80 (one table load per byte
 * instead of three range tests). */
#define TB_R10(x) x, x, x, x, x, x, x, x, x, x
#define TB_R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
static const bool tok_tab[256] = {
    ['0'] = TB_R10(true),  ['a'] = TB_R10(true),  ['k'] = TB_R16(true),  [0x80] = TB_R16(true),
    [0x90] = TB_R16(true), [0xA0] = TB_R16(true), [0xB0] = TB_R16(true), [0xC0] = TB_R16(true),
    [0xD0] = TB_R16(true), [0xE0] = TB_R16(true), [0xF0] = TB_R16(true),
};
#undef TB_R10
#undef TB_R16

static inline bool tok_byte(unsigned char c)
{
    return tok_tab[c];
}

/* The next token of @s at or after *i: its hash (XXH3 of at most
 * NB_TOKEN_MAX bytes), *i moved past it; false at the end. */
static inline bool nb_next_token(const char *s, size_t n, size_t *i, uint64_t *h)
{
    size_t k = *i;
    while (k < n && !tok_byte((unsigned char)s[k])) {
        k++;
    }
    size_t start = k;
    while (k < n && tok_byte((unsigned char)s[k])) {
        k++;
    }
    *i = k;
    size_t len = k - start;
    if (len == 0) {
        return false;
    }
    if (len > NB_TOKEN_MAX) {
        len = NB_TOKEN_MAX;
    }
    *h = XXH3_64bits_withSeed(s + start, len, NB_SEED_UNI);
    return true;
}

#if defined(__SSE2__)
/* The same tokens as nb_next_token from a bitmap of token bytes, 64 bytes
 * at a time (SSE2 range compares): a token's start and end are one tzcnt
 * each instead of a table load and a branch per byte (the byte loops were
 * ~40% of nb_sum's own instructions). */
struct tok_it {
    const char *s;
    size_t n;
    size_t base; /* m covers s[base .. base + 64) */
    uint64_t m;  /* token-byte bits of it not yet walked (0 past n) */
};

/* Token-byte bits of s[base .. base + 64), 0 for bytes at or past n. */
static inline uint64_t tok_mask64(const char *s, size_t n, size_t base)
{
    const char *p = s + base;
    char tail[64];
    if (n - base < 64) {
        memset(tail, 0, sizeof(tail)); /* NUL is no token byte */
        memcpy(tail, p, n - base);
        p = tail;
    }
    /* c - '0' < 10 and c - 'a' < 26 as signed compares of bytes moved to
     * start at -128; bytes >= 0x80 by their own sign bit */
    const __m128i d0 = _mm_set1_epi8((char)(0x80 - '0')), dl = _mm_set1_epi8((char)(-128 + 10));
    const __m128i a0 = _mm_set1_epi8((char)(0x80 - 'a')), al = _mm_set1_epi8((char)(-128 + 26));
    uint64_t m = 0;
    for (unsigned k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i dig = _mm_cmplt_epi8(_mm_add_epi8(v, d0), dl);
        __m128i let = _mm_cmplt_epi8(_mm_add_epi8(v, a0), al);
        m |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(dig, let), v))
             << (16 * k);
    }
    return m;
}

static inline void tok_init(struct tok_it *it, const char *s, size_t n)
{
    it->s = s;
    it->n = n;
    it->base = 0;
    it->m = n > 0 ? tok_mask64(s, n, 0) : 0;
}

/* The next token: *start and *len (whole length, not capped); false at the end. */
static inline bool tok_next(struct tok_it *it, size_t *start, size_t *len)
{
    while (it->m == 0) {
        it->base += 64;
        if (it->base >= it->n) {
            return false;
        }
        it->m = tok_mask64(it->s, it->n, it->base);
    }
    unsigned off = (unsigned)__builtin_ctzll(it->m);
    *start = it->base + off;
    /* bits off.. of m are the token's while set; the shift brings in zeros,
     * so rest is 0 only for a token over all 64 bytes */
    uint64_t rest = ~(it->m >> off);
    unsigned run = rest != 0 ? (unsigned)__builtin_ctzll(rest) : 64;
    if (off + run < 64) {
        it->m &= ~0ull << (off + run);
        *len = run;
        return true;
    }
    /* the token reaches the end of these 64 bytes: it goes on in the next
     * ones while they start with token bytes (bits past n are 0) */
    size_t end;
    for (;;) {
        it->base += 64;
        end = it->base;
        if (it->base >= it->n) {
            it->m = 0;
            break;
        }
        it->m = tok_mask64(it->s, it->n, it->base);
        if (~it->m == 0) {
            continue;
        }
        unsigned r = (unsigned)__builtin_ctzll(~it->m);
        end = it->base + r;
        it->m &= ~0ull << r;
        break;
    }
    *len = end - *start;
    return true;
}
#endif

/* Bigram feature hash of two token hashes. */
static inline uint64_t nb_pair(uint64_t prev, uint64_t h)
{
    uint64_t pair[2] = {prev, h};
    return XXH3_64bits_withSeed(pair, sizeof(pair), NB_SEED_BI);
}

static unsigned nb_features(const char *s, size_t n, unsigned bits, nb_feature_fn fn, void *ctx)
{
    const uint32_t mask = (1u << bits) - 1u;
    uint64_t prev = 0, h;
    unsigned tokens = 0;
    size_t i = 0;
    while (nb_next_token(s, n, &i, &h)) {
        fn(ctx, (uint32_t)h & mask);
        if (prev != 0) {
            fn(ctx, (uint32_t)nb_pair(prev, h) & mask);
        }
        prev = h;
        tokens++;
    }
    return tokens;
}

/* A few features of the raw text that normalization removes: shouting,
 * money signs, exclamation runs, links, digit-heavy text. Each adds one
 * pseudo-token, named in shape_names. shape_on() returns the set (bit i:
 * shape_names[i]); the feature order is i = 0, 1, ... */
static const char *const shape_names[NB_SHAPES] = {"#caps",   "#money", "#excl", "#url",
                                                   "#digits", "#short", "#long"};

/* Byte classes of shape_on(), as increments of 16-bit counters packed in
 * one word (upper, lower, digit, '!' from the low end), so the loop is one
 * load and one add per byte; SH_M marks a byte that may start a money sign
 * or a link ('$', 0xE2 of U+20AC, ':'), looked at on its own. */
#define SH_U (1ull << 0)
#define SH_L (1ull << 16)
#define SH_D (1ull << 32)
#define SH_E (1ull << 48)
#define SH_M (1ull << 63)
static const uint64_t shape_inc[256] = {
    [':'] = SH_M, ['$'] = SH_M, [0xE2] = SH_M, ['!'] = SH_E, ['0'] = SH_D, ['1'] = SH_D,
    ['2'] = SH_D, ['3'] = SH_D, ['4'] = SH_D,  ['5'] = SH_D, ['6'] = SH_D, ['7'] = SH_D,
    ['8'] = SH_D, ['9'] = SH_D, ['A'] = SH_U,  ['B'] = SH_U, ['C'] = SH_U, ['D'] = SH_U,
    ['E'] = SH_U, ['F'] = SH_U, ['G'] = SH_U,  ['H'] = SH_U, ['I'] = SH_U, ['J'] = SH_U,
    ['K'] = SH_U, ['L'] = SH_U, ['M'] = SH_U,  ['N'] = SH_U, ['O'] = SH_U, ['P'] = SH_U,
    ['Q'] = SH_U, ['R'] = SH_U, ['S'] = SH_U,  ['T'] = SH_U, ['U'] = SH_U, ['V'] = SH_U,
    ['W'] = SH_U, ['X'] = SH_U, ['Y'] = SH_U,  ['Z'] = SH_U, ['a'] = SH_L, ['b'] = SH_L,
    ['c'] = SH_L, ['d'] = SH_L, ['e'] = SH_L,  ['f'] = SH_L, ['g'] = SH_L, ['h'] = SH_L,
    ['i'] = SH_L, ['j'] = SH_L, ['k'] = SH_L,  ['l'] = SH_L, ['m'] = SH_L, ['n'] = SH_L,
    ['o'] = SH_L, ['p'] = SH_L, ['q'] = SH_L,  ['r'] = SH_L, ['s'] = SH_L, ['t'] = SH_L,
    ['u'] = SH_L, ['v'] = SH_L, ['w'] = SH_L,  ['x'] = SH_L, ['y'] = SH_L, ['z'] = SH_L,
};

/* The SH_M byte at s[i]: a money sign or the start of "://". */
static inline void shape_mark(const char *s, size_t n, size_t i, bool *money, bool *url)
{
    unsigned char c = (unsigned char)s[i];
    if (c == '$' || (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x82 &&
                     (unsigned char)s[i + 2] == 0xAC)) {
        *money = true;
    } else if (c == ':' && i + 2 < n && s[i + 1] == '/' && s[i + 2] == '/') {
        *url = true;
    }
}

#if defined(__SSE2__)
/* Bytes of @v in [lo, hi] (ASCII bounds; bytes >= 0x80 compare negative, so never). */
static inline __m128i sh_range(__m128i v, char lo, char hi)
{
    return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8((char)(lo - 1))),
                         _mm_cmplt_epi8(v, _mm_set1_epi8((char)(hi + 1))));
}

/* Horizontal sum of the 16 byte counters of @acc. */
static inline size_t sh_hsum(__m128i acc)
{
    __m128i s = _mm_sad_epu8(acc, _mm_setzero_si128());
    return (size_t)_mm_cvtsi128_si32(s) + (size_t)_mm_cvtsi128_si32(_mm_srli_si128(s, 8));
}

struct sh_acc {
    __m128i u, l, d, e;
};

/* Count the 16 bytes @v (= s[at..at+16), lanes already counted zeroed) into
 * @a; SH_M bytes are looked at one by one, as in the byte loop. */
static inline void sh_block(struct sh_acc *a, __m128i v, const char *s, size_t n, size_t at,
                            bool *money, bool *url)
{
    a->u = _mm_sub_epi8(a->u, sh_range(v, 'A', 'Z'));
    a->l = _mm_sub_epi8(a->l, sh_range(v, 'a', 'z'));
    a->d = _mm_sub_epi8(a->d, sh_range(v, '0', '9'));
    a->e = _mm_sub_epi8(a->e, _mm_cmpeq_epi8(v, _mm_set1_epi8('!')));
    __m128i m = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(':')), _mm_cmpeq_epi8(v, _mm_set1_epi8('$'))),
        _mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xE2)));
    unsigned mm = (unsigned)_mm_movemask_epi8(m);
    while (mm != 0) {
        shape_mark(s, n, at + (size_t)__builtin_ctz(mm), money, url);
        mm &= mm - 1;
    }
}
#endif

static unsigned shape_on(const char *s, size_t n)
{
    size_t upper = 0, letters = 0, digits = 0, excl = 0;
    bool money = false, url = false;
    size_t i = 0;
#if defined(__SSE2__)
    /* 16 bytes at a time into per-lane byte counters (summed every 255
     * blocks); a last partial block is the final 16 bytes with the lanes
     * already counted zeroed (0 is in no class). Same counts and flags as the
     * byte loop below, which takes texts under 16 bytes. */
    static const char lead[32] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
    while (n >= 16 && i < n) {
        struct sh_acc a = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(),
                           _mm_setzero_si128()};
        for (unsigned blk = 0; blk < 255 && i < n; blk++) {
            if (n - i >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
                sh_block(&a, v, s, n, i, &money, &url);
                i += 16;
            } else {
                size_t rest = n - i; /* 1..15 bytes left: lanes 16 - rest.. of the last 16 */
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16));
                v = _mm_andnot_si128(_mm_loadu_si128((const __m128i *)(const void *)(lead + rest)),
                                     v);
                sh_block(&a, v, s, n, n - 16, &money, &url);
                i = n;
            }
        }
        size_t u = sh_hsum(a.u);
        upper += u;
        letters += u + sh_hsum(a.l);
        digits += sh_hsum(a.d);
        excl += sh_hsum(a.e);
    }
#endif
    while (i < n) {
        /* at most 0x7FFF bytes per pass: the 16-bit counters cannot carry */
        size_t end = n - i > 0x7FFF ? i + 0x7FFF : n;
        uint64_t acc = 0;
        for (; i < end; i++) {
            uint64_t inc = shape_inc[(unsigned char)s[i]];
            if (inc != SH_M) {
                acc += inc;
            } else {
                shape_mark(s, n, i, &money, &url);
            }
        }
        upper += acc & 0xFFFF;
        letters += (acc & 0xFFFF) + ((acc >> 16) & 0xFFFF);
        digits += (acc >> 32) & 0xFFFF;
        excl += (acc >> 48) & 0xFFFF;
    }
    /* ("www." never counts: 'w' is a letter, tested first, since the feature
     * set was trained; the model's weights depend on it.) */
    bool on[NB_SHAPES] = {letters >= 8 && upper * 2 > letters,          money,  excl >= 2, url,
                          digits * 3 > letters + digits && digits >= 4, n < 40, n >= 160};
    unsigned set = 0;
    for (unsigned k = 0; k < NB_SHAPES; k++) {
        set |= (unsigned)on[k] << k;
    }
    return set;
}

static uint32_t shape_bucket(unsigned i, unsigned bits)
{
    return (uint32_t)XXH3_64bits_withSeed(shape_names[i], strlen(shape_names[i]), NB_SEED_UNI) &
           ((1u << bits) - 1u);
}

static void shape_features(const char *s, size_t n, unsigned bits, nb_feature_fn fn, void *ctx)
{
    unsigned on = shape_on(s, n);
    for (unsigned i = 0; i < NB_SHAPES; i++) {
        if (on & (1u << i)) {
            fn(ctx, shape_bucket(i, bits));
        }
    }
}

static void set_shape_buckets(struct sw_classifier *m)
{
    for (unsigned i = 0; i < NB_SHAPES; i++) {
        m->shape_b[i] = shape_bucket(i, m->bits);
    }
}

static uint64_t rng_next(uint64_t *s);

/* ---- training ---- */

int sw_classifier_trainer_new(unsigned bits, struct sw_classifier_trainer **out)
{
    if (bits < 10 || bits > 24) {
        return SW_EINVAL;
    }
    struct sw_classifier_trainer *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return SW_ENOMEM;
    }
    t->bits = bits;
    t->count[0] = calloc((size_t)1 << bits, sizeof(uint32_t));
    t->count[1] = calloc((size_t)1 << bits, sizeof(uint32_t));
    if (t->count[0] == NULL || t->count[1] == NULL) {
        sw_classifier_trainer_free(t);
        return SW_ENOMEM;
    }
    *out = t;
    return 0;
}

void sw_classifier_trainer_free(struct sw_classifier_trainer *t)
{
    if (t == NULL) {
        return;
    }
    free(t->count[0]);
    free(t->count[1]);
    free(t->feat);
    free(t->doc_end);
    free(t->label);
    free(t);
}

struct train_ctx {
    struct sw_classifier_trainer *t;
    int cls;
};

static void train_feature(void *ctx, uint32_t b)
{
    struct train_ctx *c = ctx;
    struct sw_classifier_trainer *t = c->t;
    if (t->count[c->cls][b] < UINT32_MAX) {
        t->count[c->cls][b]++;
        t->total[c->cls]++;
    }
    if (t->n_feat == t->cap_feat) {
        size_t cap = t->cap_feat ? t->cap_feat * 2 : 65536;
        uint32_t *nf = realloc(t->feat, cap * sizeof(*nf));
        if (nf == NULL) {
            t->oom = true;
            return;
        }
        t->feat = nf;
        t->cap_feat = cap;
    }
    t->feat[t->n_feat++] = b;
}

void sw_classifier_trainer_add(struct sw_classifier_trainer *t, const char *text, size_t len,
                               bool spam)
{
    char stackbuf[4096];
    char *buf = stackbuf;
    size_t cap = sizeof(stackbuf);
    if (SW_CLASSIFIER_BUF(len) > cap) {
        char *heap = malloc(SW_CLASSIFIER_BUF(len));
        if (heap != NULL) {
            buf = heap;
            cap = SW_CLASSIFIER_BUF(len);
        }
    }
    size_t n = sw_normalize(text, len, buf, cap, SW_NORM_DEFAULT);
    struct train_ctx c = {t, spam ? 1 : 0};
    if (t->n_doc == t->cap_doc) {
        size_t dcap = t->cap_doc ? t->cap_doc * 2 : 1024;
        size_t *ne = realloc(t->doc_end, dcap * sizeof(*ne));
        uint8_t *nl = ne != NULL ? realloc(t->label, dcap) : NULL;
        if (ne != NULL) {
            t->doc_end = ne;
        }
        if (nl == NULL) {
            t->oom = true;
            goto out;
        }
        t->label = nl;
        t->cap_doc = dcap;
    }
    shape_features(text, len, t->bits, train_feature, &c);
    nb_features(buf, n, t->bits, train_feature, &c);
    t->doc_end[t->n_doc] = t->n_feat;
    t->label[t->n_doc] = (uint8_t)c.cls;
    t->n_doc++;
    t->n_docs[c.cls]++;
out:
    if (buf != stackbuf) {
        free(buf);
    }
}

int sw_classifier_trainer_build(const struct sw_classifier_trainer *t, struct sw_classifier **out)
{
    if (t->n_docs[0] == 0 || t->n_docs[1] == 0) {
        return SW_EINVAL;
    }
    size_t nb = (size_t)1 << t->bits;
    struct sw_classifier *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return SW_ENOMEM;
    }
    m->w = malloc(nb * sizeof(float));
    if (m->w == NULL) {
        free(m);
        return SW_ENOMEM;
    }
    m->bits = t->bits;
    set_shape_buckets(m);
    m->n_ham = t->n_docs[0];
    m->n_spam = t->n_docs[1];
    m->prior = log((double)m->n_spam / (double)m->n_ham);
    const double a = 1.0;
    double ds = log((double)t->total[1] + a * (double)nb);
    double dh = log((double)t->total[0] + a * (double)nb);
    for (size_t b = 0; b < nb; b++) {
        double ls = log((double)t->count[1][b] + a) - ds;
        double lh = log((double)t->count[0][b] + a) - dh;
        m->w[b] = (float)(ls - lh);
    }
    *out = m;
    return 0;
}

int sw_classifier_trainer_build_lr(const struct sw_classifier_trainer *t, unsigned epochs,
                                   uint64_t seed, struct sw_classifier **out)
{
    struct sw_classifier *m = NULL;
    size_t *order = NULL;
    int rc = sw_classifier_trainer_build(t, &m); /* NB header fields; weights replaced */
    if (rc != 0) {
        return rc;
    }
    if (t->oom) {
        sw_classifier_free(m);
        return SW_ENOMEM;
    }
    size_t nb = (size_t)1 << t->bits;
    order = malloc(t->n_doc * sizeof(*order));
    if (order == NULL) {
        sw_classifier_free(m);
        return SW_ENOMEM;
    }
    memset(m->w, 0, nb * sizeof(float));
    double bias = m->prior;
    const double l2 = 1e-6;
    uint64_t s = seed;
    for (size_t i = 0; i < t->n_doc; i++) {
        order[i] = i;
    }
    for (unsigned e = 0; e < epochs; e++) {
        double lr = 0.5 / (1.0 + 0.3 * e);
        for (size_t i = t->n_doc; i > 1; i--) {
            size_t j = (size_t)(rng_next(&s) % i);
            size_t tmp = order[i - 1];
            order[i - 1] = order[j];
            order[j] = tmp;
        }
        for (size_t k = 0; k < t->n_doc; k++) {
            size_t d = order[k];
            size_t a = d == 0 ? 0 : t->doc_end[d - 1], z = t->doc_end[d];
            double x = bias;
            for (size_t f = a; f < z; f++) {
                x += m->w[t->feat[f]];
            }
            double p = 1.0 / (1.0 + exp(-(x > 40 ? 40 : x < -40 ? -40 : x)));
            double g = p - (double)t->label[d];
            for (size_t f = a; f < z; f++) {
                float *w = &m->w[t->feat[f]];
                *w -= (float)(lr * (g + l2 * *w));
            }
            bias -= lr * 0.1 * g;
        }
    }
    m->prior = bias;
    free(order);
    *out = m;
    return 0;
}

/* ---- scoring ---- */

/* Features are gathered in blocks of NB_BLOCK buckets whose weights are
 * prefetched (the table is 2^bits floats, 1 MB at 18 bits: mostly cache
 * misses), then added in the order the features came, so the sum is the
 * same double as adding them one by one. */
#define NB_BLOCK 64

static double nb_add_block(const float *w, const uint32_t *b, unsigned nb, double sum)
{
    for (unsigned k = 0; k < nb; k++) {
        sum += w[b[k]];
    }
    return sum;
}

static double shape_sum(const struct sw_classifier *m, const char *text, size_t len, double sum)
{
    unsigned on = shape_on(text, len);
    for (unsigned i = 0; i < NB_SHAPES; i++) {
        if (on & (1u << i)) {
            sum += m->w[m->shape_b[i]];
        }
    }
    return sum;
}

/* prior + the weights of the shape features of @text and of the token
 * features of the normalized @s, in the order shape_features() and
 * nb_features() give them; *n_tokens = the tokens. A text of fewer than
 * @min_tokens tokens is only counted (from its token bitmap when @s fits in
 * 64 bytes, else walked): returns false, nothing summed.
 * flatten: XXH3_64bits_withSeed of each token is inlined (as a call it was a
 * tenth of this function's instructions). */
__attribute__((flatten)) static bool nb_sum(const struct sw_classifier *m, const char *text,
                                            size_t len, const char *s, size_t n,
                                            unsigned min_tokens, double *out, unsigned *n_tokens)
{
    const uint32_t mask = (1u << m->bits) - 1u;
    const float *w = m->w;
    double sum = m->prior;
    bool shaped = false; /* shape features added (before the first token block) */
    uint32_t b[NB_BLOCK];
    unsigned nb = 0, tokens = 0;
    uint64_t prev = 0, h;
#if defined(__SSE2__)
    struct tok_it it;
    tok_init(&it, s, n);
    if (n <= 64) {
        /* The whole text is in the first mask: its tokens are its runs of
         * set bits, counted before any is hashed. About 23% of the bodies
         * scored on the bench capture have fewer than min_tokens (6), all
         * of them at most 64 bytes: their hashes and weight prefetches were
         * 5% of nb_sum's instructions. */
        unsigned runs = (unsigned)__builtin_popcountll(it.m & ~(it.m << 1));
        if (runs < min_tokens) {
            *n_tokens = runs;
            return false;
        }
    }
    size_t start, tl;
    while (tok_next(&it, &start, &tl)) {
        h = XXH3_64bits_withSeed(s + start, tl < NB_TOKEN_MAX ? tl : NB_TOKEN_MAX, NB_SEED_UNI);
#else
    size_t i = 0;
    while (nb_next_token(s, n, &i, &h)) {
#endif
        if (nb + 2 > NB_BLOCK) { /* the sum is dropped if min_tokens is not reached */
            if (!shaped) {
                sum = shape_sum(m, text, len, sum);
                shaped = true;
            }
            sum = nb_add_block(w, b, nb, sum);
            nb = 0;
        }
        b[nb] = (uint32_t)h & mask;
        __builtin_prefetch(&w[b[nb]]);
        nb++;
        if (prev != 0) {
            b[nb] = (uint32_t)nb_pair(prev, h) & mask;
            __builtin_prefetch(&w[b[nb]]);
            nb++;
        }
        prev = h;
        tokens++;
    }
    *n_tokens = tokens;
    if (tokens < min_tokens) {
        return false;
    }
    if (!shaped) {
        sum = shape_sum(m, text, len, sum);
    }
    *out = nb_add_block(w, b, nb, sum);
    return true;
}

double sw_classifier_score_min(const struct sw_classifier *m, const char *text, size_t len,
                               char *buf, size_t cap, unsigned min_tokens, unsigned *n_tokens)
{
    size_t n = sw_normalize(text, len, buf, cap, SW_NORM_DEFAULT);
    unsigned tokens = 0;
    double x = 0.0;
    bool scored = nb_sum(m, text, len, buf, n, min_tokens, &x, &tokens);
    if (n_tokens != NULL) {
        *n_tokens = tokens;
    }
    if (!scored) {
        return -1.0;
    }
    if (x > 40.0) {
        x = 40.0;
    } else if (x < -40.0) {
        x = -40.0;
    }
    return 1.0 / (1.0 + exp(-x));
}

double sw_classifier_score(const struct sw_classifier *m, const char *text, size_t len, char *buf,
                           size_t cap, unsigned *n_tokens)
{
    return sw_classifier_score_min(m, text, len, buf, cap, 0, n_tokens);
}

void sw_classifier_counts(const struct sw_classifier *m, uint64_t *ham, uint64_t *spam)
{
    *ham = m->n_ham;
    *spam = m->n_spam;
}

void sw_classifier_free(struct sw_classifier *m)
{
    if (m == NULL) {
        return;
    }
    free(m->w);
    free(m);
}

/* ---- model file ---- */

int sw_classifier_save(const struct sw_classifier *m, const char *path, struct sw_errbuf *eb)
{
    size_t nb = (size_t)1 << m->bits;
    struct nb_header h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, NB_MAGIC, 8);
    h.version = SW_CLASSIFIER_VERSION;
    h.bits = m->bits;
    h.n_ham = m->n_ham;
    h.n_spam = m->n_spam;
    h.prior = m->prior;
    h.sum = XXH64(m->w, nb * sizeof(float), 0);
    struct sw_file_part parts[2] = {{&h, sizeof(h)}, {m->w, nb * sizeof(float)}};
    int rc = sw_file_write_atomicv(path, parts, 2, 0644);
    if (rc != 0) {
        return sw_errbuf_set(eb, rc, "%s: cannot write model: %s", path, strerror(errno));
    }
    return 0;
}

int sw_classifier_load(const char *path, struct sw_classifier **out, struct sw_errbuf *eb)
{
    struct nb_header h;
    struct sw_classifier *m = NULL;
    char *buf = NULL;
    size_t len = 0;
    /* the largest model: 2^24 buckets */
    int rc = sw_file_read(path, sizeof(h) + ((size_t)1 << 24) * sizeof(float), 0, &buf, &len);
    if (rc == SW_ELIMIT) {
        return sw_errbuf_set(eb, SW_EPARSE, "%s: model size does not match its header", path);
    }
    if (rc != 0) {
        return sw_errbuf_set(eb, SW_EIO, "%s: %s", path, strerror(errno));
    }
    if (len < sizeof(h) || memcmp(buf, NB_MAGIC, 8) != 0) {
        rc = sw_errbuf_set(eb, SW_EPARSE, "%s: not a stanzawatch classifier model", path);
        goto fail;
    }
    memcpy(&h, buf, sizeof(h));
    if (h.version != SW_CLASSIFIER_VERSION) {
        rc = sw_errbuf_set(eb, SW_EPARSE, "%s: model version %u, this build reads version %u", path,
                           h.version, SW_CLASSIFIER_VERSION);
        goto fail;
    }
    if (h.bits < 10 || h.bits > 24 || h.n_ham == 0 || h.n_spam == 0 || !isfinite(h.prior)) {
        rc = sw_errbuf_set(eb, SW_EPARSE, "%s: corrupt model header", path);
        goto fail;
    }
    size_t nb = (size_t)1 << h.bits;
    m = calloc(1, sizeof(*m));
    if (m == NULL || (m->w = malloc(nb * sizeof(float))) == NULL) {
        rc = sw_errbuf_set(eb, SW_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (len - sizeof(h) != nb * sizeof(float)) {
        rc = sw_errbuf_set(eb, SW_EPARSE, "%s: model size does not match its header", path);
        goto fail;
    }
    memcpy(m->w, buf + sizeof(h), nb * sizeof(float));
    if (XXH64(m->w, nb * sizeof(float), 0) != h.sum) {
        rc = sw_errbuf_set(eb, SW_EPARSE, "%s: model checksum mismatch", path);
        goto fail;
    }
    m->bits = h.bits;
    set_shape_buckets(m);
    m->n_ham = h.n_ham;
    m->n_spam = h.n_spam;
    m->prior = h.prior;
    free(buf);
    *out = m;
    return 0;
fail:
    sw_classifier_free(m);
    free(buf);
    return rc;
}

/* ---- stanzawatch train ---- */

struct doc_list {
    char **v;
    size_t n, cap;
};

static int read_lines(const char *path, struct doc_list *d)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    if (fp == NULL) {
        fprintf(stderr, "train: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((len = getline(&line, &cap, fp)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (len == 0) {
            continue;
        }
        if (d->n == d->cap) {
            size_t nc = d->cap ? d->cap * 2 : 1024;
            char **nv = realloc(d->v, nc * sizeof(*nv));
            if (nv == NULL) {
                break;
            }
            d->v = nv;
            d->cap = nc;
        }
        d->v[d->n] = strdup(line);
        if (d->v[d->n] == NULL) {
            break;
        }
        d->n++;
    }
    free(line);
    fclose(fp);
    return 0;
}

static void free_lines(struct doc_list *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i]);
    }
    free(d->v);
}

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: small, seedable, good enough for a shuffle */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void shuffle(struct doc_list *d, uint64_t *seed)
{
    for (size_t i = d->n; i > 1; i--) {
        size_t j = (size_t)(rng_next(seed) % i);
        char *t = d->v[i - 1];
        d->v[i - 1] = d->v[j];
        d->v[j] = t;
    }
}

static const char train_usage[] =
    "Usage: stanzawatch train --ham FILE --spam FILE -o MODEL [--test-fraction F]\n"
    "                         [--seed N] [--bits B] [--threshold P] [--algo lr|nb]\n"
    "                         [--epochs E]\n"
    "Train the content classifier (logistic regression, or naive Bayes with --algo nb,\n"
    "on hashed words, word pairs and text-shape features of normalized text) from one\n"
    "document per line. F (default 0.2) of each class is\n"
    "held out, shuffled with seed N (default 1); held-out accuracy, precision and\n"
    "recall at probability P (default 0.5) are printed and the model trained on the\n"
    "rest is written to MODEL. B: log2 of the feature table size (10..24, default 18).\n";

/* Score the held-out documents (the first @n_test[c] of @docs[c], c = 1:
 * spam) at threshold @thr and print accuracy, precision and recall. */
static void print_heldout(const struct sw_classifier *m, const struct doc_list docs[2],
                          const size_t n_test[2], double thr)
{
    size_t tp = 0, fp = 0, tn = 0, fn = 0;
    char buf[8192];
    for (int c = 0; c < 2; c++) {
        for (size_t i = 0; i < n_test[c]; i++) {
            double p =
                sw_classifier_score(m, docs[c].v[i], strlen(docs[c].v[i]), buf, sizeof(buf), NULL);
            bool said_spam = p >= thr;
            if (c == 1) {
                said_spam ? tp++ : fn++;
            } else {
                said_spam ? fp++ : tn++;
            }
        }
    }
    double total = (double)(tp + fp + tn + fn);
    printf("held-out: accuracy %.4f  precision %.4f  recall %.4f  (threshold %.2f; "
           "tp %zu fp %zu tn %zu fn %zu)\n",
           (double)(tp + tn) / total, tp + fp ? (double)tp / (double)(tp + fp) : 0.0,
           tp + fn ? (double)tp / (double)(tp + fn) : 0.0, thr, tp, fp, tn, fn);
}

int sw_train_main(int argc, char **argv)
{
    const char *ham = NULL, *spam = NULL, *out = NULL;
    double frac = 0.2, thr = 0.5;
    unsigned long long seed = 1;
    unsigned bits = SW_CLASSIFIER_DEFAULT_BITS;
    unsigned epochs = 10;
    bool use_lr = true;
    struct doc_list docs[2] = {{0}};
    struct sw_classifier_trainer *t = NULL;
    struct sw_classifier *m = NULL;
    int rc = 2;

    /* options come in pairs "--key value" (help aside) */
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(train_usage, stdout);
            return 0;
        }
        if (v == NULL) {
            fprintf(stderr, "train: %s needs a value\n%s", a, train_usage);
            return 2;
        }
        char *end = NULL;
        if (strcmp(a, "--ham") == 0) {
            ham = v;
        } else if (strcmp(a, "--spam") == 0) {
            spam = v;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            out = v;
        } else if (strcmp(a, "--test-fraction") == 0) {
            frac = strtod(v, &end);
            if (*end != '\0' || !(frac >= 0.0 && frac < 1.0)) {
                fprintf(stderr, "train: --test-fraction must be in [0, 1)\n");
                return 2;
            }
        } else if (strcmp(a, "--threshold") == 0) {
            thr = strtod(v, &end);
            if (*end != '\0' || !(thr > 0.0 && thr < 1.0)) {
                fprintf(stderr, "train: --threshold must be in (0, 1)\n");
                return 2;
            }
        } else if (strcmp(a, "--seed") == 0) {
            seed = strtoull(v, &end, 10);
            if (*end != '\0') {
                fprintf(stderr, "train: --seed must be a number\n");
                return 2;
            }
        } else if (strcmp(a, "--algo") == 0) {
            if (strcmp(v, "lr") == 0) {
                use_lr = true;
            } else if (strcmp(v, "nb") == 0) {
                use_lr = false;
            } else {
                fprintf(stderr, "train: --algo is lr or nb\n");
                return 2;
            }
        } else if (strcmp(a, "--epochs") == 0) {
            unsigned long e = strtoul(v, &end, 10);
            if (*end != '\0' || e < 1 || e > 1000) {
                fprintf(stderr, "train: --epochs must be 1..1000\n");
                return 2;
            }
            epochs = (unsigned)e;
        } else if (strcmp(a, "--bits") == 0) {
            unsigned long b = strtoul(v, &end, 10);
            if (*end != '\0' || b < 10 || b > 24) {
                fprintf(stderr, "train: --bits must be 10..24\n");
                return 2;
            }
            bits = (unsigned)b;
        } else {
            fprintf(stderr, "train: unknown option %s\n%s", a, train_usage);
            return 2;
        }
    }
    if (ham == NULL || spam == NULL || out == NULL) {
        fprintf(stderr, "train: --ham, --spam and -o are required\n%s", train_usage);
        return 2;
    }
    rc = 1;
    if (read_lines(ham, &docs[0]) != 0 || read_lines(spam, &docs[1]) != 0) {
        goto done;
    }
    if (docs[0].n < 2 || docs[1].n < 2) {
        fprintf(stderr, "train: need at least 2 documents per class (ham %zu, spam %zu)\n",
                docs[0].n, docs[1].n);
        goto done;
    }
    uint64_t s = seed;
    size_t n_test[2];
    for (int c = 0; c < 2; c++) {
        shuffle(&docs[c], &s);
        n_test[c] = (size_t)((double)docs[c].n * frac + 0.5);
        if (n_test[c] >= docs[c].n) {
            n_test[c] = docs[c].n - 1;
        }
    }
    if (sw_classifier_trainer_new(bits, &t) != 0) {
        fprintf(stderr, "train: out of memory\n");
        goto done;
    }
    for (int c = 0; c < 2; c++) {
        for (size_t i = n_test[c]; i < docs[c].n; i++) {
            sw_classifier_trainer_add(t, docs[c].v[i], strlen(docs[c].v[i]), c == 1);
        }
    }
    if ((use_lr ? sw_classifier_trainer_build_lr(t, epochs, seed, &m)
                : sw_classifier_trainer_build(t, &m)) != 0) {
        fprintf(stderr, "train: cannot build the model\n");
        goto done;
    }
    printf("train: %zu ham + %zu spam documents; trained on %zu + %zu, held out %zu + %zu "
           "(fraction %.2f, seed %llu, 2^%u buckets, %s)\n",
           docs[0].n, docs[1].n, docs[0].n - n_test[0], docs[1].n - n_test[1], n_test[0], n_test[1],
           frac, seed, bits, use_lr ? "logistic regression" : "naive Bayes");
    if (n_test[0] + n_test[1] > 0) {
        print_heldout(m, docs, n_test, thr);
    }
    struct sw_errbuf eb;
    if (sw_classifier_save(m, out, &eb) != 0) {
        fprintf(stderr, "train: %s\n", eb.msg);
        goto done;
    }
    printf("model: %s (version %u, %zu bytes)\n", out, SW_CLASSIFIER_VERSION,
           sizeof(struct nb_header) + ((size_t)1 << bits) * sizeof(float));
    rc = 0;
done:
    sw_classifier_free(m);
    sw_classifier_trainer_free(t);
    free_lines(&docs[0]);
    free_lines(&docs[1]);
    return rc;
}

/* ---- the "classifier" detector ---- */

#define CLS_NAME "classifier"
#define CLS_MAX_TEXT 4096

struct cls_settings {
    bool enabled;
    char *model;
    double threshold;
    int64_t min_tokens;
    double weight;
    int64_t history_min;
    double history_share;
};

static const struct sw_conf_item cls_schema[] = {
    {.key = "enabled",
     .type = SW_CONF_BOOL,
     .offset = offsetof(struct cls_settings, enabled),
     .def = "true",
     .help = "score message bodies with the trained model (needs `model`)"},
    {.key = "model",
     .type = SW_CONF_PATH,
     .offset = offsetof(struct cls_settings, model),
     .def = "models/chat.swnb",
     .help = "model file written by `stanzawatch train`; unset or empty disables the "
             "classifier"},
    {.key = "threshold",
     .type = SW_CONF_DOUBLE,
     .offset = offsetof(struct cls_settings, threshold),
     .fmin = 0.5,
     .fmax = 0.9999,
     .def = "0.97",
     .help = "spam probability at which a body becomes a signal"},
    {.key = "min_tokens",
     .type = SW_CONF_INT,
     .offset = offsetof(struct cls_settings, min_tokens),
     .min = 1,
     .max = 1000,
     .def = "6",
     .help = "bodies with fewer words are not scored (too short to judge)"},
    {.key = "weight",
     .type = SW_CONF_DOUBLE,
     .offset = offsetof(struct cls_settings, weight),
     .fmin = 0.0,
     .fmax = 10.0,
     .def = "1.0",
     .help = "hit weight at probability 1; scaled linearly from 0 at the threshold"},
    {.key = "history_min",
     .type = SW_CONF_INT,
     .offset = offsetof(struct cls_settings, history_min),
     .min = 0,
     .max = 100000,
     .def = "20",
     .help = "scored messages of a sender in the last hour after which its spam share counts: a "
             "spammy line from a sender below history_share is noise"},
    {.key = "history_share",
     .type = SW_CONF_DOUBLE,
     .offset = offsetof(struct cls_settings, history_share),
     .fmin = 0.0,
     .fmax = 1.0,
     .def = "0.1",
     .help =
         "share of a sender's recent scored messages that must be spammy for one more to hit (0: "
         "no history, every spammy line hits)"},
    SW_CONF_END,
};

struct cls_shared {
    struct sw_classifier *model; /* NULL: disabled */
    double threshold;
    unsigned min_tokens;
    double weight;
    unsigned history_min;
    double history_share;
};

struct cls_local {
    char buf[SW_CLASSIFIER_BUF(CLS_MAX_TEXT)];
    struct cls_hist_slot hist[CLS_HIST_SLOTS];
};

static int cls_setup(const void *settings, void **shared, struct sw_errbuf *eb)
{
    /* NULL settings (engine tests without a registered section): no model. */
    static const struct cls_settings no_model = {.enabled = true,
                                                 .threshold = 0.97,
                                                 .min_tokens = 6,
                                                 .weight = 1.0,
                                                 .history_min = 20,
                                                 .history_share = 0.1};
    const struct cls_settings *cs = settings != NULL ? settings : &no_model;
    struct cls_shared *sh = calloc(1, sizeof(*sh));
    if (sh == NULL) {
        return sw_errbuf_set(eb, SW_ENOMEM, "classifier: out of memory");
    }
    sh->threshold = cs->threshold;
    sh->min_tokens = (unsigned)cs->min_tokens;
    sh->weight = cs->weight;
    sh->history_min = (unsigned)cs->history_min;
    sh->history_share = cs->history_share;
    if (cs->model != NULL && cs->model[0] != '\0') {
        struct sw_errbuf leb;
        int rc = sw_classifier_load(cs->model, &sh->model, &leb);
        if (rc != 0) {
            free(sh);
            return sw_errbuf_set(eb, SW_ECONF, "detectors.classifier.model: %s", leb.msg);
        }
    }
    *shared = sh;
    return 0;
}

static void cls_teardown(void *shared)
{
    struct cls_shared *sh = shared;
    if (sh == NULL) {
        return;
    }
    sw_classifier_free(sh->model);
    free(sh);
}

static int cls_thread_init(const void *shared, void **local)
{
    (void)shared;
    struct cls_local *lo = calloc(1, sizeof(*lo));
    if (lo == NULL) {
        return SW_ENOMEM;
    }
    /* The history (1 MB) is read before it is written: touched first by
     * writes (sw_dc_touch), not by cls_process's reads (write-protect faults
     * seen there). Senders hash all over it: it is all resident after the
     * first thousands of senders anyway. */
    sw_dc_touch(lo, sizeof(*lo));
    *local = lo;
    return 0;
}

static int cls_thread_reload(const void *shared, void *local)
{
    (void)shared; /* the model is in shared; the buffer fits any model */
    (void)local;
    return 0;
}

static void cls_thread_fini(void *local)
{
    free(local);
}

static void cls_process(const void *shared, void *local, const struct sw_event *ev,
                        struct sw_hit_sink *out, struct sw_detector_stats *st)
{
    const struct cls_shared *sh = shared;
    struct cls_local *lo = local;
    const uint32_t never = SW_F_FROM_SERVER | SW_F_MUC_REFLECTION | SW_F_HISTORY | SW_F_CARBON;

    st->events++;
    if (sh->model == NULL || (ev->flags & never) != 0 || ev->from.local_len == 0 ||
        ev->body_len == 0 || sw_dc_relayed(ev->body, ev->body_len)) {
        return;
    }
    /* The sender's history set (1 MiB per worker: mostly a cache miss,
     * ~3/4 of cls_process's own samples) is loaded while the text is scored. */
    __builtin_prefetch(cls_hist_set(lo->hist, ev->from.bare), 1);
    size_t len = ev->body_len;
    if (len > CLS_MAX_TEXT) {
        len = CLS_MAX_TEXT;
    }
    unsigned tokens = 0;
    /* Texts under min_tokens tokens never count: counted, not scored.
     * The score is a pure function of the text (cut at CLS_MAX_TEXT), the
     * model and min_tokens, but it is not memoized: of the message bodies
     * that repeat an earlier one (36% in the bench capture's first 200 MB),
     * 98.7% are MUC reflections, skipped above. Of the 1,284,134 bodies
     * scored on the whole capture 1.9% repeat an earlier one, half of those
     * over 235,000 bodies later; a 2048-slot memo (256 KB, texts up to 106
     * bytes, whole text compared) hit 0.22% and cost 5.7% more instructions
     * in cls_process (s150k, callgrind) and 3.4x its perf samples. */
    double p = sw_classifier_score_min(sh->model, ev->body, len, lo->buf, sizeof(lo->buf),
                                       sh->min_tokens, &tokens);
    if (tokens < sh->min_tokens ||
        !cls_hist_count(lo->hist, ev->from.bare, ev->t_ms, p >= sh->threshold, sh->history_min,
                        sh->history_share, &st->evictions)) {
        return;
    }
    struct sw_hit h;
    sw_hit_init(&h, CLS_NAME, "classifier.spam", "content-spam", ev);
    double wm = 1000.0 * sh->weight * (p - sh->threshold) / (1.0 - sh->threshold);
    h.weight_milli = wm < 1.0 ? 1u : (uint32_t)wm;
    sw_hit_add_value(&h, "p_milli", (int64_t)(p * 1000.0));
    sw_hit_add_value(&h, "tokens", (int64_t)tokens);
    sw_hit_emit(out, &h);
    st->hits++;
}

static void cls_expire(const void *shared, void *local, int64_t now_ms,
                       struct sw_detector_stats *st)
{
    (void)shared;
    (void)local;
    (void)now_ms;
    st->mem_bytes = sizeof(struct cls_local);
}

/* In the content rules' group: together they count once. */
static const struct sw_detector_symbol cls_symbols[] = {
    {.symbol = "classifier.spam", .score = 0.6, .group = "content"},
    {.symbol = NULL},
};

const struct sw_detector_ops sw_classifier_ops = {
    .abi = SW_DETECTOR_ABI,
    .name = CLS_NAME,
    .description = "naive Bayes spam probability of message bodies (model from `stanzawatch "
                   "train`), one weighted signal",
    .symbols = cls_symbols,
    .events = SW_EV_MESSAGE,
    .shard = SW_SHARD_SENDER,
    .key = NULL,
    .schema = cls_schema,
    .settings_size = sizeof(struct cls_settings),
    .setup = cls_setup,
    .thread_init = cls_thread_init,
    .process = cls_process,
    .expire = cls_expire,
    .thread_reload = cls_thread_reload,
    .thread_fini = cls_thread_fini,
    .teardown = cls_teardown,
};
