/*
 * split.c - incremental stanza boundary scanner (sw_split).
 *
 * Purpose: find the stream header, the byte range [start, end) and start line
 * of every top-level stanza, and </stream:stream>, at memchr speed, so the
 * engine can cut a capture into chunks of whole stanzas for parallel libxml2
 * parsing and drop oversize or over-deep stanzas before libxml2 buffers them.
 *
 * Design: a byte-driven state machine that keeps only integers (lexical state,
 * element depth, a few counters) and a 64-byte copy of top-level tag names, so
 * any split of the input across sw_split_feed() calls gives identical
 * callbacks and memory stays constant whatever the input. It knows just enough
 * XML to track nesting: start/end/empty tags with quoted attribute values
 * (which may contain '>'), comments, CDATA sections and PIs. It does not
 * validate names, attributes or UTF-8: libxml2 does that later. With SSE2,
 * the bulk (stanza text, start tags, end tags, whitespace between stanzas)
 * goes through fast_scan(), which walks 64-byte windows of '<'/'>', quote and
 * newline bit masks and makes the same transitions as the switch; the switch
 * (the portable path) does the rest: comments, CDATA, PIs, the header, the
 * close, junk, and the last bytes of each buffer. Most windows fast_scan()
 * takes whole (its window walk: brackets and quotes resolved with prefix
 * parities, as simdjson does for JSON strings, depth moved by the count of
 * start and end tags), the others tag by tag. fast_scan() lives in
 * split_fast.inc, built three times: with SSE2 (x86-64's baseline), with
 * AVX2 (32-byte compares, hardware popcount, carry-less multiply, BMI) and
 * with AVX-512BW (one 64-byte compare per mask); sw_split_new() picks the
 * best the CPU has. tests/engine/test_split.c checks the switch and every
 * version against the pre-SSE2 scanner (split_ref.inc).
 * Newlines are counted lazily up to the positions that need a line: a
 * top-level '<', an error, the end of each fed buffer.
 *
 * Limits: a stanza nested deeper than max_depth or longer than
 * max_stanza_bytes is not reported as a stanza; it is counted
 * (sw_split_stats()) and passed to the optional skipped() callback.
 * Junk (text at top level, no header, unbalanced close, DOCTYPE) is SW_EPARSE
 * "line:col: reason", after which the instance stays failed. With the
 * optional junk() callback set, junk between stanzas of an open stream (text,
 * an unbalanced close tag, CDATA or bad '<!' markup at the top level) is
 * reported there instead, as the range [start, end) up to the next top-level
 * '<' (or the end of input), and scanning goes on with the next stanza; a
 * DOCTYPE, junk before the header and anything after the stream close stay
 * errors.
 *
 * Threading: one instance per thread at a time. Ownership: _new/_free.
 */
#include "sw/xml.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml_int.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define SPLIT_SSE2 1
#endif

enum split_phase { PH_PROLOG = 0, PH_STREAM, PH_END };

enum split_lex {
    LX_TEXT = 0, /* character data / top-level whitespace */
    LX_LT,       /* just after '<' */
    LX_HNAME,    /* name of the first element (the stream header) */
    LX_STAG,     /* inside a start tag, outside quotes */
    LX_DQ,       /* inside a "..." attribute value */
    LX_SQ,       /* inside a '...' attribute value */
    LX_ETAG,     /* inside an end tag */
    LX_BANG,     /* after "<!" */
    LX_COMMENT,  /* after "<!--" */
    LX_CDATA,    /* after "<![CDATA[" */
    LX_PI,       /* after "<?" */
    LX_JUNK,     /* junk between stanzas, skipped up to the next '<' (cb.junk) */
};

#define SPLIT_NAME_MAX 64

struct sw_split {
    struct sw_split_cb cb;
    uint32_t max_depth;
    uint64_t max_stanza;
    uint8_t phase, lex;
    uint8_t slash;     /* last byte seen in the start tag was '/' */
    uint8_t run;       /* trailing '-' / ']' / '?' count in comment, CDATA, PI */
    uint8_t bang_mode; /* 0 undecided, 1 comment, 2 CDATA */
    uint8_t bang_k;
    uint8_t too_deep, failed, have_hstart, name_done;
    uint8_t junk_cdata; /* the CDATA section being scanned is junk at the top level */
    uint8_t bom_ok;     /* still at the start: a BOM may follow */
    uint32_t depth;     /* open elements of the current stanza */
    uint64_t off;       /* absolute offset of the current buffer's first byte */
    uint64_t tag_start;
    uint32_t tag_line, tag_col;
    uint64_t hstart;
    uint64_t stanza_start;
    uint32_t stanza_line;
    uint64_t lines;      /* '\n' bytes in [0, counted) */
    uint64_t counted;    /* newline counting has reached this offset */
    uint64_t line_start; /* offset just after the last '\n' before counted */
    uint64_t skipped_oversize, skipped_depth;
    uint64_t junk_start; /* LX_JUNK: where the junk began, its position and why */
    uint32_t junk_line, junk_col;
    const char *junk_reason;
    uint32_t name_len, hname_len;
    char name[SPLIT_NAME_MAX];
    char hname[SPLIT_NAME_MAX];
    char err[256];
#ifdef SPLIT_SSE2
    /* fast_scan or its AVX2 version (sw_split_new() picks per CPU) */
    const char *(*fast)(struct sw_split *s, const char *buf, const char *p, const char *e);
#endif
};

/* First byte in [p, e) equal to a, b or c (pass a == b == c for one byte), or NULL.
 * Inline 16-byte compares: the spans are short (names, attribute values), where a
 * libc memchr call costs more than it saves. */
static inline const char *find3(const char *p, const char *e, char a, char b, char c)
{
#ifdef SPLIT_SSE2
    const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b), vc = _mm_set1_epi8(c);
    while (e - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)),
                                 _mm_cmpeq_epi8(v, vc));
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask != 0) {
            return p + __builtin_ctz(mask);
        }
        p += 16;
    }
#endif
    for (; p < e; p++) {
        if (*p == a || *p == b || *p == c) {
            return p;
        }
    }
    return NULL;
}

static inline const char *find1(const char *p, const char *e, char a)
{
    return find3(p, e, a, a, a);
}

uint64_t sw_split_count_nl(const char *p, size_t len)
{
    uint64_t n = 0;
    size_t i = 0;
#ifdef SPLIT_SSE2
    /* per-byte counters (cmpeq gives -1 per match), summed with SAD every 255 blocks */
    const __m128i nl = _mm_set1_epi8('\n');
    const __m128i zero = _mm_setzero_si128();
    while (len - i >= 16) {
        size_t blocks = (len - i) / 16;
        __m128i acc = zero;
        if (blocks > 255) {
            blocks = 255;
        }
        for (size_t b = 0; b < blocks; b++, i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
            acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, nl));
        }
        __m128i sad = _mm_sad_epu8(acc, zero);
        n += (uint64_t)_mm_cvtsi128_si64(sad) + (uint64_t)_mm_extract_epi16(sad, 4);
    }
    if (i < len && len >= 16) {
        /* the tail: the last 16 bytes, of which the first 16 - (len - i)
         * are already counted */
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + len - 16));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl)) >> (16 - (len - i));
        for (; m != 0; m &= m - 1) {
            n++;
        }
        return n;
    }
#else
    const uint64_t ones = 0x0101010101010101ull;
    const uint64_t nlw = ones * '\n';
    const uint64_t lo7 = ones * 0x7f;
    /* Exact per-byte zero test of w ^ "\n\n\n...": no carries between bytes. */
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        uint64_t v = w ^ nlw;
        uint64_t t = ~(((v & lo7) + lo7) | v) & (ones << 7);
        n += ((t >> 7) * ones) >> 56;
    }
#endif
    for (; i < len; i++) {
        n += p[i] == '\n';
    }
    return n;
}

static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

static inline int is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline uint64_t pos_of(const struct sw_split *s, const char *buf, const char *p)
{
    return s->off + (uint64_t)(p - buf);
}

/* Count newlines from where counting stopped up to @p (in the current buffer). */
static void sync_lines(struct sw_split *s, const char *buf, const char *p)
{
    uint64_t pos = pos_of(s, buf, p);
    if (pos <= s->counted) {
        return;
    }
    const char *from = buf + (s->counted - s->off);
    size_t n = (size_t)(p - from);
    uint64_t c = sw_split_count_nl(from, n);
    if (c != 0) {
        const char *nl = p - 1;
        while (*nl != '\n') {
            nl--;
        }
        s->lines += c;
        s->line_start = pos_of(s, buf, nl) + 1;
    }
    s->counted = pos;
}

static int fail_msg(struct sw_split *s, uint64_t line, uint64_t col, const char *reason,
                    const char *name, struct sw_errbuf *eb)
{
    snprintf(s->err, sizeof(s->err), "%llu:%llu: %s%s%s", (unsigned long long)line,
             (unsigned long long)col, reason, name ? name : "", name ? ">" : "");
    s->failed = 1;
    return sw_errbuf_set(eb, SW_EPARSE, "%s", s->err);
}

static int fail_at(struct sw_split *s, const char *buf, const char *p, const char *reason,
                   struct sw_errbuf *eb)
{
    sync_lines(s, buf, p);
    return fail_msg(s, s->lines + 1, pos_of(s, buf, p) - s->line_start + 1, reason, NULL, eb);
}

/* Errors about the markup that started at the last top-level '<'. */
static int fail_tag(struct sw_split *s, const char *reason, const char *name, struct sw_errbuf *eb)
{
    return fail_msg(s, s->tag_line, s->tag_col, reason, name, eb);
}

/* Junk at the top level with cb.junk set: remember it (starting at stream
 * offset @start, line:col) and skip to the next top-level '<' (LX_JUNK). */
static void junk_begin(struct sw_split *s, uint64_t start, uint32_t line, uint32_t col,
                       const char *reason)
{
    s->junk_start = start;
    s->junk_line = line;
    s->junk_col = col;
    s->junk_reason = reason;
    s->lex = LX_JUNK;
}

/* The junk ends before stream offset @end: report it, back to top-level text. */
static void junk_end(struct sw_split *s, uint64_t end)
{
    s->cb.junk(s->cb.ud, s->junk_start, end, s->junk_line, s->junk_col, s->junk_reason);
    s->lex = LX_TEXT;
}

static void stanza_end(struct sw_split *s, uint64_t end)
{
    if (s->too_deep || end - s->stanza_start > s->max_stanza) {
        if (s->too_deep) {
            s->skipped_depth++;
        } else {
            s->skipped_oversize++;
        }
        if (s->cb.skipped != NULL) {
            s->cb.skipped(s->cb.ud, s->stanza_start, end, s->stanza_line);
        }
    } else if (s->cb.stanza != NULL) {
        s->cb.stanza(s->cb.ud, s->stanza_start, end, s->stanza_line);
    }
}

static void name_add(struct sw_split *s, char c)
{
    if (s->name_done) {
        return;
    }
    if (is_ws(c) || c == '/' || c == '>') {
        s->name_done = 1;
        return;
    }
    if (s->name_len < SPLIT_NAME_MAX - 1) {
        s->name[s->name_len] = c;
    }
    s->name_len++;
}

static const char *name_str(struct sw_split *s)
{
    uint32_t n = s->name_len < SPLIT_NAME_MAX - 1 ? s->name_len : SPLIT_NAME_MAX - 1;
    s->name[n] = '\0';
    return s->name;
}

/* Scan a start tag from @p; returns the byte after its '>' or NULL if @e came first.
 * The tag is empty ("/>") iff the byte before '>' is '/': inside quotes a '/'
 * cannot be directly followed by '>' (the closing quote comes first). */
static const char *scan_stag(struct sw_split *s, const char *p, const char *e)
{
    const char *start = p;
    for (;;) {
        if (s->lex != LX_STAG) {
            const char *q = find1(p, e, s->lex == LX_DQ ? '"' : '\'');
            if (q == NULL) {
                return NULL; /* ends inside quotes: slash stays irrelevant */
            }
            p = q + 1;
            s->lex = LX_STAG;
        }
        const char *q = find3(p, e, '>', '"', '\'');
        if (q == NULL) {
            s->slash = e > start ? e[-1] == '/' : s->slash;
            return NULL;
        }
        if (*q == '>') {
            s->slash = q > start ? q[-1] == '/' : s->slash;
            return q + 1;
        }
        s->lex = *q == '"' ? LX_DQ : LX_SQ;
        p = q + 1;
    }
}

/* Trailing run of @t bytes in [p, q) (at most 2), continuing s->run if all are @t. */
static unsigned trailing_run(const struct sw_split *s, const char *p, const char *q, char t)
{
    unsigned r = 0;
    while (q > p && r < 2 && q[-1] == t) {
        q--;
        r++;
    }
    if (q == p) {
        r += s->run;
    }
    return r > 2 ? 2 : r;
}

/* Scan to the end of a comment / CDATA / PI: @need bytes @t then '>'. */
static const char *scan_term(struct sw_split *s, const char *p, const char *e, char t,
                             unsigned need)
{
    while (p < e) {
        const char *q = memchr(p, '>', (size_t)(e - p));
        if (q == NULL) {
            s->run = (uint8_t)trailing_run(s, p, e, t);
            return NULL;
        }
        if (trailing_run(s, p, q, t) >= need) {
            return q + 1;
        }
        s->run = 0;
        p = q + 1;
    }
    return NULL;
}

static int end_stag(struct sw_split *s, const char *buf, const char *gt, struct sw_errbuf *eb)
{
    uint64_t end = pos_of(s, buf, gt) + 1;
    if (s->phase == PH_PROLOG) {
        if (s->slash) {
            return fail_tag(s, "empty stream element <", name_str(s), eb);
        }
        memcpy(s->hname, s->name, SPLIT_NAME_MAX);
        s->hname_len = s->name_len;
        s->phase = PH_STREAM;
        if (s->cb.header != NULL) {
            s->cb.header(s->cb.ud, s->hstart, end);
        }
        return 0;
    }
    if (s->depth + 1 > s->max_depth) {
        s->too_deep = 1;
    }
    if (!s->slash) {
        s->depth++;
    } else if (s->depth == 0) {
        stanza_end(s, end);
    }
    return 0;
}

static int check_header_name(struct sw_split *s, struct sw_errbuf *eb)
{
    const char *n = name_str(s);
    const char *colon = strrchr(n, ':');
    const char *local = colon ? colon + 1 : n;
    if (s->name_len >= SPLIT_NAME_MAX - 1 || strcmp(local, "stream") != 0) {
        return fail_tag(s, "expected <stream:stream> header, got <", n, eb);
    }
    return 0;
}

#ifdef SPLIT_SSE2
static inline unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

/* The byte classes of a 64-byte window [b, b + 64) that fast_scan() works
 * on: bit i of each mask stands for byte b[i]. */
struct fs_win {
    uint64_t ang;  /* '<' or '>' */
    uint64_t gt;   /* '>' */
    uint64_t dq;   /* '"' */
    uint64_t sq;   /* '\'' */
    uint64_t nl;   /* '\n' */
    uint64_t sl;   /* '/' */
    uint64_t bang; /* '!' or '?' (after a '<': a comment, CDATA or a PI) */
};

/* The bytes the window loaders compare with, one vector of each. A loader
 * takes them from a struct win_keys filled once per fast_scan() call and
 * made opaque to the compiler, which otherwise builds them again for every
 * window (it must after each call out of the loop): now they stay in
 * registers or are read as the compares' memory operands. */
enum { WK_LT, WK_GT, WK_DQ, WK_SQ, WK_NL, WK_SL, WK_EX, WK_QM, WK_SP, WK_TAB, WK_CR, WK_N };
static const char win_key_chars[WK_N] = {'<', '>', '"', '\'', '\n', '/', '!', '?', ' ', '\t', '\r'};

struct win_keys {
    __m128i k[WK_N];
};

static inline void win_keys_init(struct win_keys *wk)
{
    for (int i = 0; i < WK_N; i++) {
        wk->k[i] = _mm_set1_epi8(win_key_chars[i]);
        __asm__("" : "+x"(wk->k[i]));
    }
}

/* Bit i: byte i of the window (four 16-byte vectors) equals key k. */
static inline uint64_t win_eq(const __m128i v[4], const struct win_keys *wk, int k)
{
    const __m128i vc = wk->k[k];
    return (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v[0], vc)) |
           (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v[1], vc)) << 16 |
           (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v[2], vc)) << 32 |
           (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v[3], vc)) << 48;
}

__attribute__((always_inline)) static inline void win_load(const char *b, struct fs_win *w,
                                                           const struct win_keys *wk)
{
    __m128i v[4];
    for (int i = 0; i < 4; i++) {
        v[i] = _mm_loadu_si128((const __m128i *)(const void *)(b + 16 * i));
    }
    w->gt = win_eq(v, wk, WK_GT);
    w->ang = win_eq(v, wk, WK_LT) | w->gt;
    w->dq = win_eq(v, wk, WK_DQ);
    w->sq = win_eq(v, wk, WK_SQ);
    w->nl = win_eq(v, wk, WK_NL);
    w->sl = win_eq(v, wk, WK_SL);
    w->bang = win_eq(v, wk, WK_EX) | win_eq(v, wk, WK_QM);
}

/* Bit i: byte b[i] is XML whitespace (space, tab, CR, LF). */
static inline uint64_t win_ws(const char *b, const struct win_keys *wk)
{
    __m128i v[4];
    for (int i = 0; i < 4; i++) {
        v[i] = _mm_loadu_si128((const __m128i *)(const void *)(b + 16 * i));
    }
    return win_eq(v, wk, WK_SP) | win_eq(v, wk, WK_TAB) | win_eq(v, wk, WK_CR) |
           win_eq(v, wk, WK_NL);
}

/* Bit i: parity of the set bits 0..i of x (the quote trick of simdjson). */
static inline uint64_t prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/* Add the newlines of [from, to) to *lines and move *lstart (the offset just
 * after the last one), without touching s->counted. */
__attribute__((noinline)) static void count_range(const struct sw_split *s, const char *buf,
                                                  const char *from, const char *to, uint64_t *lines,
                                                  uint64_t *lstart)
{
    uint64_t c = sw_split_count_nl(from, (size_t)(to - from));
    if (c != 0) {
        const char *nl = to - 1;
        while (*nl != '\n') {
            nl--;
        }
        *lines += c;
        *lstart = pos_of(s, buf, nl) + 1;
    }
}

/*
 * Fast path for the bulk of a stream: inside stanzas (text, start tags with
 * quoted values, end tags) and between them (whitespace, the next stanza's
 * '<'). It walks bit masks of angle brackets and quotes over consecutive
 * 64-byte windows and makes exactly the transitions of the byte-driven switch
 * in sw_split_feed(), with the same callbacks: a whole window at a time where
 * it can (the window walk, FS_WINDOW in split_fast.inc), else from bracket to
 * bracket. Anything else (comments, CDATA, PIs, the stream close, junk at
 * the top level, the last < 128 bytes of a buffer) is left to that switch:
 * it returns the position where it stopped, with the state stored in @s.
 */
/* The quote-parity shortcut of fast_scan's start-tag state, one step in the
 * window @b (masks @wa angle brackets, @wd double and @wsq single quotes) from
 * *p, outside attribute values. If the quotes before the next angle bracket
 * (or the window's end) are all of one kind, their parity says whether that
 * bracket is outside a value (even) or where the open value is (odd, no
 * bracket). Returns what fast_scan does next; *p, *q, *quote as it needs. */
enum stag_step {
    STAG_MIXED,  /* both kinds of quote, or the bracket is inside a value: slow loop */
    STAG_AGAIN,  /* *p moved (past a '<' outside values, or to the window's end) */
    STAG_QUOTED, /* inside a value of quote *quote from the window's end */
    STAG_GT,     /* *q is the '>' closing the tag */
};

static inline enum stag_step stag_step(const char *b, uint64_t wa, uint64_t wd, uint64_t wsq,
                                       const char **p, const char **q, char *quote)
{
    uint64_t m = wa >> (*p - b);
    uint64_t before = (m & (~m + 1)) - 1; /* all ones if m == 0 */
    uint64_t d = (wd >> (*p - b)) & before, sq = (wsq >> (*p - b)) & before;
    if ((d != 0) & (sq != 0)) {
        return STAG_MIXED;
    }
    unsigned odd = (unsigned)__builtin_parityll(d | sq);
    if (m == 0) {
        *p = b + 64; /* inside that value there, or still outside values */
        if (odd) {
            *quote = d != 0 ? '"' : '\'';
            return STAG_QUOTED;
        }
        return STAG_AGAIN;
    }
    if (odd) {
        return STAG_MIXED; /* that bracket is inside a value */
    }
    *q = *p + __builtin_ctzll(m);
    if (**q == '>') {
        return STAG_GT;
    }
    *p = *q + 1; /* a '<' outside values is skipped, like the switch */
    return STAG_AGAIN;
}

/* What fast_scan's whole-window step did (split_fast.inc). */
enum fs_window {
    FW_NONE, /* stopped at a window left to the per-byte code */
    FW_TOP,  /* stopped between stanzas */
    FW_OUT,  /* stopped at the last whole window's end */
};

/* fast_scan reached a stanza's '<' at @p: record where it starts (line from
 * the newline mask @wn of the window @b, @ln / @ls before it). */
__attribute__((always_inline)) static inline void fast_stanza_start(struct sw_split *s,
                                                                    const char *buf, const char *b,
                                                                    const char *p, uint64_t wn,
                                                                    uint64_t ln, uint64_t ls)
{
    uint64_t m = wn & (((uint64_t)1 << (p - b)) - 1); /* newlines in [b, p) */
    s->lines = ln + popcount64(m);
    s->line_start = m != 0 ? pos_of(s, buf, b) + 64 - (uint64_t)__builtin_clzll(m) : ls;
    s->tag_start = pos_of(s, buf, p);
    s->counted = s->tag_start;
    s->tag_line = (uint32_t)(s->lines + 1);
    s->tag_col = (uint32_t)(s->tag_start - s->line_start + 1);
    s->stanza_start = s->tag_start;
    s->stanza_line = s->tag_line;
    s->too_deep = 0;
    s->slash = 0;
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define SPLIT_AVX2 1
#include <immintrin.h>
/* win_load() and win_ws() with 32-byte compares, prefix_xor() with a
 * carry-less multiply, for CPUs with AVX2 and PCLMUL (chosen at run time). */
struct win_keys_avx2 {
    __m256i k[WK_N];
};

__attribute__((target("avx2"), always_inline)) static inline void
win_keys_init_avx2(struct win_keys_avx2 *wk)
{
    for (int i = 0; i < WK_N; i++) {
        wk->k[i] = _mm256_set1_epi8(win_key_chars[i]);
        __asm__("" : "+x"(wk->k[i]));
    }
}

__attribute__((target("avx2"), always_inline)) static inline uint64_t
win_eq_avx2(__m256i v0, __m256i v1, const struct win_keys_avx2 *wk, int k)
{
    const __m256i vc = wk->k[k];
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v0, vc)) |
           (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v1, vc)) << 32;
}

__attribute__((target("avx2"), always_inline)) static inline void
win_load_avx2(const char *b, struct fs_win *w, const struct win_keys_avx2 *wk)
{
    const __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)b);
    const __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(b + 32));
    w->gt = win_eq_avx2(v0, v1, wk, WK_GT);
    w->ang = win_eq_avx2(v0, v1, wk, WK_LT) | w->gt;
    w->dq = win_eq_avx2(v0, v1, wk, WK_DQ);
    w->sq = win_eq_avx2(v0, v1, wk, WK_SQ);
    w->nl = win_eq_avx2(v0, v1, wk, WK_NL);
    w->sl = win_eq_avx2(v0, v1, wk, WK_SL);
    w->bang = (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
                  _mm256_cmpeq_epi8(v0, wk->k[WK_EX]), _mm256_cmpeq_epi8(v0, wk->k[WK_QM]))) |
              (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
                  _mm256_cmpeq_epi8(v1, wk->k[WK_EX]), _mm256_cmpeq_epi8(v1, wk->k[WK_QM])))
                  << 32;
}

__attribute__((target("avx2"), always_inline)) static inline uint64_t
win_ws_avx2(const char *b, const struct win_keys_avx2 *wk)
{
    const __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)b);
    const __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(b + 32));
    return win_eq_avx2(v0, v1, wk, WK_SP) | win_eq_avx2(v0, v1, wk, WK_TAB) |
           win_eq_avx2(v0, v1, wk, WK_CR) | win_eq_avx2(v0, v1, wk, WK_NL);
}

/* win_load() and win_ws() for CPUs with AVX-512BW: one 64-byte compare
 * gives a window's mask. */
struct win_keys_avx512 {
    __m512i k[WK_N];
};

__attribute__((target("avx512f,avx512bw"), always_inline)) static inline void
win_keys_init_avx512(struct win_keys_avx512 *wk)
{
    for (int i = 0; i < WK_N; i++) {
        wk->k[i] = _mm512_set1_epi8(win_key_chars[i]);
        __asm__("" : "+v"(wk->k[i]));
    }
}

__attribute__((target("avx512f,avx512bw"), always_inline)) static inline void
win_load_avx512(const char *b, struct fs_win *w, const struct win_keys_avx512 *wk)
{
    const __m512i v = _mm512_loadu_si512((const void *)b);
    w->gt = _mm512_cmpeq_epi8_mask(v, wk->k[WK_GT]);
    w->ang = _mm512_cmpeq_epi8_mask(v, wk->k[WK_LT]) | w->gt;
    w->dq = _mm512_cmpeq_epi8_mask(v, wk->k[WK_DQ]);
    w->sq = _mm512_cmpeq_epi8_mask(v, wk->k[WK_SQ]);
    w->nl = _mm512_cmpeq_epi8_mask(v, wk->k[WK_NL]);
    w->sl = _mm512_cmpeq_epi8_mask(v, wk->k[WK_SL]);
    w->bang = _mm512_cmpeq_epi8_mask(v, wk->k[WK_EX]) | _mm512_cmpeq_epi8_mask(v, wk->k[WK_QM]);
}

__attribute__((target("avx512f,avx512bw"), always_inline)) static inline uint64_t
win_ws_avx512(const char *b, const struct win_keys_avx512 *wk)
{
    const __m512i v = _mm512_loadu_si512((const void *)b);
    return _mm512_cmpeq_epi8_mask(v, wk->k[WK_SP]) | _mm512_cmpeq_epi8_mask(v, wk->k[WK_TAB]) |
           _mm512_cmpeq_epi8_mask(v, wk->k[WK_CR]) | _mm512_cmpeq_epi8_mask(v, wk->k[WK_NL]);
}

__attribute__((target("pclmul"))) static inline uint64_t prefix_xor_clmul(uint64_t x)
{
    /* x times all ones, carry-less: bit i is the XOR of bits 0..i */
    const __m128i v = _mm_set_epi64x(0, (long long)x);
    return (uint64_t)_mm_cvtsi128_si64(_mm_clmulepi64_si128(v, _mm_set1_epi8(-1), 0));
}
#endif

#define FS_NAME fast_scan
#define FS_WINDOW fast_window
#define FS_ATTR
#define FS_KEYS win_keys
#define FS_KEYS_INIT win_keys_init
#define FS_WIN_LOAD win_load
#define FS_WIN_WS win_ws
#define FS_PREFIX_XOR prefix_xor
#define FS_POPCOUNT popcount64
#include "split_fast.inc"
#ifdef SPLIT_AVX2
#define FS_NAME fast_scan_avx2
#define FS_WINDOW fast_window_avx2
#define FS_ATTR __attribute__((target("avx2,popcnt,pclmul,bmi,bmi2")))
#define FS_KEYS win_keys_avx2
#define FS_KEYS_INIT win_keys_init_avx2
#define FS_WIN_LOAD win_load_avx2
#define FS_WIN_WS win_ws_avx2
#define FS_PREFIX_XOR prefix_xor_clmul
#define FS_POPCOUNT __builtin_popcountll
#include "split_fast.inc"
#define FS_NAME fast_scan_avx512
#define FS_WINDOW fast_window_avx512
#define FS_ATTR __attribute__((target("avx512f,avx512bw,avx2,popcnt,pclmul,bmi,bmi2")))
#define FS_KEYS win_keys_avx512
#define FS_KEYS_INIT win_keys_init_avx512
#define FS_WIN_LOAD win_load_avx512
#define FS_WIN_WS win_ws_avx512
#define FS_PREFIX_XOR prefix_xor_clmul
#define FS_POPCOUNT __builtin_popcountll
#include "split_fast.inc"
#endif
#endif

/* The byte-switch states of sw_split_feed that are not on the stanza path.
 * Each consumes from *pp (advancing it, never past e) and returns 0, or the
 * scanner's error (the scanner is then failed). */

/* LX_TEXT at depth 0: an optional UTF-8 byte order mark at the very start,
 * whitespace, then the '<' of a top-level tag (its position recorded). */
static int lex_top(struct sw_split *s, const char *buf, const char **pp, const char *e,
                   struct sw_errbuf *eb)
{
    const char *p = *pp;
    if (s->bom_ok) {
        /* a UTF-8 byte order mark may open the capture; it is not
         * part of the header range */
        while (p < e && pos_of(s, buf, p) < 3 && (unsigned char)*p == utf8_bom[pos_of(s, buf, p)]) {
            p++;
        }
        if (p == e) {
            *pp = p;
            return 0;
        }
        if (pos_of(s, buf, p) == 1 || pos_of(s, buf, p) == 2) {
            return fail_at(s, buf, p, "incomplete byte order mark", eb);
        }
        s->bom_ok = 0;
    }
    while (p < e && is_ws(*p)) {
        p++;
    }
    *pp = p;
    if (p == e) {
        return 0;
    }
    if (*p != '<' && s->phase == PH_STREAM && s->cb.junk != NULL) {
        sync_lines(s, buf, p);
        junk_begin(s, pos_of(s, buf, p), (uint32_t)(s->lines + 1),
                   (uint32_t)(pos_of(s, buf, p) - s->line_start + 1),
                   "text at the top level of the stream");
        return 0;
    }
    if (*p != '<') {
        return fail_at(s, buf, p,
                       s->phase == PH_PROLOG   ? "text before the stream header"
                       : s->phase == PH_STREAM ? "text at the top level of the stream"
                                               : "data after the stream close",
                       eb);
    }
    sync_lines(s, buf, p);
    s->tag_start = pos_of(s, buf, p);
    s->tag_line = (uint32_t)(s->lines + 1);
    s->tag_col = (uint32_t)(s->tag_start - s->line_start + 1);
    if (s->phase == PH_PROLOG && !s->have_hstart) {
        s->hstart = s->tag_start;
        s->have_hstart = 1;
    }
    *pp = p + 1;
    s->lex = LX_LT;
    return 0;
}

/* LX_LT: the byte after '<' says what the tag is. */
static int lex_lt(struct sw_split *s, const char **pp, struct sw_errbuf *eb)
{
    const char *p = *pp;
    s->slash = 0;
    s->name_len = 0;
    s->name_done = 0;
    if (*p == '/') {
        s->lex = LX_ETAG;
        p++;
    } else if (*p == '?') {
        s->lex = LX_PI;
        s->run = 0;
        p++;
    } else if (*p == '!') {
        s->lex = LX_BANG;
        s->bang_mode = 0;
        s->bang_k = 0;
        p++;
    } else if (s->depth > 0) {
        s->lex = LX_STAG;
    } else if (s->phase == PH_PROLOG) {
        s->lex = LX_HNAME;
    } else if (s->phase == PH_STREAM) {
        s->stanza_start = s->tag_start;
        s->stanza_line = s->tag_line;
        s->too_deep = 0;
        s->lex = LX_STAG;
    } else {
        return fail_tag(s, "element after the stream close", NULL, eb);
    }
    *pp = p;
    return 0;
}

/* LX_ETAG at depth 0: only the stream's own close tag may come. */
static int lex_stream_close(struct sw_split *s, const char *buf, const char **pp, const char *e,
                            struct sw_errbuf *eb)
{
    const char *p = *pp;
    while (p < e && *p != '>') {
        name_add(s, *p++);
    }
    *pp = p;
    if (p == e) {
        return 0;
    }
    if (s->phase != PH_STREAM) {
        return fail_tag(s, "unbalanced close tag </", name_str(s), eb);
    }
    if (s->name_len != s->hname_len || s->name_len >= SPLIT_NAME_MAX - 1 ||
        memcmp(s->name, s->hname, s->name_len) != 0) {
        if (s->cb.junk != NULL) {
            *pp = p + 1;
            junk_begin(s, s->tag_start, s->tag_line, s->tag_col, "unbalanced close tag");
            junk_end(s, pos_of(s, buf, p) + 1);
            return 0;
        }
        return fail_tag(s, "unbalanced close tag </", name_str(s), eb);
    }
    s->phase = PH_END;
    if (s->cb.close != NULL) {
        s->cb.close(s->cb.ud, s->tag_start, pos_of(s, buf, p) + 1);
    }
    *pp = p + 1;
    s->lex = LX_TEXT;
    return 0;
}

/* LX_BANG: one byte (at @p) of "<!--" or "<![CDATA[" after the '!'. */
static int lex_bang(struct sw_split *s, const char *buf, const char *p, struct sw_errbuf *eb)
{
    char c = *p;
    if (s->depth == 0 && s->phase == PH_STREAM && s->cb.junk != NULL) {
        if (s->bang_mode == 0 && c == '[') {
            /* CDATA at the top level: scanned to its "]]>" (its text may hold
             * a '<'), then reported as junk (see the LX_CDATA case) */
            s->junk_cdata = 1;
            s->junk_start = s->tag_start;
            s->junk_line = s->tag_line;
            s->junk_col = s->tag_col;
            s->junk_reason = "CDATA at the top level";
            s->bang_mode = 2;
            return 0;
        }
        if ((s->bang_mode == 0 && c != '-' && c != 'D') || (s->bang_mode == 1 && c != '-') ||
            (s->bang_mode == 2 && c != "CDATA["[s->bang_k])) {
            /* neither a comment, a CDATA section nor a DOCTYPE (which stays
             * an error): junk from its '<' to the next one */
            s->junk_cdata = 0;
            junk_begin(s, s->tag_start, s->tag_line, s->tag_col,
                       s->bang_mode == 2 ? "bad CDATA start" : "bad markup after '<!'");
            return 0;
        }
    }
    if (s->bang_mode == 0) {
        if (c == '-') {
            s->bang_mode = 1;
        } else if (c == '[' && s->depth > 0) {
            s->bang_mode = 2;
        } else if (c == '[') {
            return fail_tag(s, "CDATA at the top level", NULL, eb);
        } else if (c == 'D') {
            return fail_tag(s, "DTD not allowed", NULL, eb);
        } else {
            return fail_at(s, buf, p, "bad markup after '<!'", eb);
        }
    } else if (s->bang_mode == 1) {
        if (c != '-') {
            return fail_at(s, buf, p, "bad comment start", eb);
        }
        s->lex = LX_COMMENT;
        s->run = 0;
    } else {
        static const char cdata[] = "CDATA[";
        if (c != cdata[s->bang_k]) {
            return fail_at(s, buf, p, "bad CDATA start", eb);
        }
        if (++s->bang_k == sizeof(cdata) - 1) {
            s->lex = LX_CDATA;
            s->run = 0;
        }
    }
    return 0;
}

/* LX_JUNK: skip to the next '<' and report the junk before it. Out of line
 * (like the error paths), so the scanner's hot loop keeps its shape. */
static __attribute__((noinline, cold)) const char *lex_junk(struct sw_split *s, const char *buf,
                                                            const char *p, const char *e)
{
    const char *q = find1(p, e, '<');
    if (q == NULL) {
        return e;
    }
    junk_end(s, pos_of(s, buf, q));
    return q;
}

static __attribute__((noinline, cold)) void junk_cdata_end(struct sw_split *s, uint64_t end)
{
    s->junk_cdata = 0;
    junk_end(s, end);
}

int sw_split_feed(struct sw_split *s, const char *buf, size_t len, struct sw_errbuf *eb)
{
    const char *p = buf;
    const char *e = buf + len;
    const char *q;
    int rc;

    if (s->failed) {
        return sw_errbuf_set(eb, SW_EPARSE, "%s", s->err);
    }
    while (p < e) {
#ifdef SPLIT_SSE2
        if (s->phase == PH_STREAM && e - p >= 128) {
            p = s->fast(s, buf, p, e);
            if (p == e) {
                break;
            }
        }
#endif
        switch (s->lex) {
        case LX_TEXT:
            if (s->depth > 0) {
                q = find1(p, e, '<');
                if (q == NULL) {
                    p = e;
                    break;
                }
                s->tag_start = pos_of(s, buf, q);
                p = q + 1;
                s->lex = LX_LT;
                break;
            }
            rc = lex_top(s, buf, &p, e, eb);
            if (rc != 0) {
                return rc;
            }
            break;
        case LX_LT:
            rc = lex_lt(s, &p, eb);
            if (rc != 0) {
                return rc;
            }
            break;
        case LX_HNAME:
            while (p < e && !s->name_done) {
                name_add(s, *p);
                if (!s->name_done) {
                    p++;
                }
            }
            if (s->name_done) {
                rc = check_header_name(s, eb);
                if (rc != 0) {
                    return rc;
                }
                s->lex = LX_STAG;
            }
            break;
        case LX_STAG:
        case LX_DQ:
        case LX_SQ:
            q = scan_stag(s, p, e);
            if (q == NULL) {
                p = e;
                break;
            }
            p = q;
            s->lex = LX_TEXT;
            rc = end_stag(s, buf, q - 1, eb);
            if (rc != 0) {
                return rc;
            }
            break;
        case LX_ETAG:
            if (s->depth > 0) {
                q = find1(p, e, '>');
                if (q == NULL) {
                    p = e;
                    break;
                }
                p = q + 1;
                s->lex = LX_TEXT;
                if (--s->depth == 0) {
                    stanza_end(s, pos_of(s, buf, q) + 1);
                }
                break;
            }
            rc = lex_stream_close(s, buf, &p, e, eb);
            if (rc != 0) {
                return rc;
            }
            break;
        case LX_BANG:
            rc = lex_bang(s, buf, p, eb);
            if (rc != 0) {
                return rc;
            }
            if (s->lex != LX_JUNK) {
                p++;
            }
            break;
        case LX_JUNK:
            p = lex_junk(s, buf, p, e);
            break;
        case LX_COMMENT:
        case LX_CDATA:
        case LX_PI:
            q = s->lex == LX_COMMENT ? scan_term(s, p, e, '-', 2)
                : s->lex == LX_CDATA ? scan_term(s, p, e, ']', 2)
                                     : scan_term(s, p, e, '?', 1);
            if (q == NULL) {
                p = e;
                break;
            }
            p = q;
            s->lex = LX_TEXT;
            if (s->junk_cdata) {
                junk_cdata_end(s, pos_of(s, buf, q));
            }
            break;
        default:
            return fail_at(s, buf, p, "internal scanner state", eb);
        }
    }
    sync_lines(s, buf, e);
    s->off += len;
    return 0;
}

int sw_split_finish(struct sw_split *s, struct sw_errbuf *eb)
{
    if (s->failed) {
        return sw_errbuf_set(eb, SW_EPARSE, "%s", s->err);
    }
    uint64_t line = s->lines + 1;
    uint64_t col = s->counted - s->line_start + 1;
    if (s->lex == LX_JUNK) {
        junk_end(s, s->off); /* junk up to the end of input */
    }
    if (s->depth > 0 || (s->phase == PH_STREAM && (s->lex == LX_STAG || s->lex == LX_DQ ||
                                                   s->lex == LX_SQ || s->lex == LX_LT))) {
        return fail_msg(s, line, col, "truncated stanza at end of input", NULL, eb);
    }
    if (s->lex != LX_TEXT) {
        return fail_msg(s, line, col, "truncated markup at end of input", NULL, eb);
    }
    if (s->phase == PH_PROLOG) {
        return fail_msg(s, line, col, "no stream header", NULL, eb);
    }
    return 0;
}

void sw_split_position(const struct sw_split *s, uint32_t *line, uint32_t *col)
{
    if (line != NULL) {
        *line = (uint32_t)(s->lines + 1);
    }
    if (col != NULL) {
        *col = (uint32_t)(s->counted - s->line_start + 1);
    }
}

void sw_split_stats(const struct sw_split *s, uint64_t *skipped_oversize, uint64_t *skipped_depth)
{
    if (skipped_oversize != NULL) {
        *skipped_oversize = s->skipped_oversize;
    }
    if (skipped_depth != NULL) {
        *skipped_depth = s->skipped_depth;
    }
}

static _Atomic int split_isa_max = 2; /* 2 AVX-512, 1 AVX2, 0 SSE2: sw_split_force_*() */

void sw_split_force_sse2(int on)
{
    split_isa_max = on ? 0 : 2;
}

void sw_split_force_avx2(int on)
{
    split_isa_max = on ? 1 : 2;
}

int sw_split_new(const struct sw_xml_limits *lim, const struct sw_split_cb *cb,
                 struct sw_split **out)
{
    struct sw_split *s;
    if (cb == NULL || out == NULL) {
        return SW_EINVAL;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return SW_ENOMEM;
    }
    s->cb = *cb;
    s->bom_ok = 1;
#ifdef SPLIT_SSE2
    s->fast = fast_scan;
#ifdef SPLIT_AVX2
    __builtin_cpu_init();
    int isa = split_isa_max;
    /* the AVX2 version also wants PCLMUL (prefix parity) and BMI */
    if (isa >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
        __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("bmi") &&
        __builtin_cpu_supports("bmi2")) {
        s->fast = fast_scan_avx2;
        if (isa >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
            s->fast = fast_scan_avx512;
        }
    }
#endif
#endif
    s->max_depth = lim != NULL && lim->max_depth != 0 ? lim->max_depth : 32;
    s->max_stanza = lim != NULL && lim->max_stanza_bytes != 0 ? lim->max_stanza_bytes : 262144;
    *out = s;
    return 0;
}

void sw_split_free(struct sw_split *s)
{
    free(s);
}
