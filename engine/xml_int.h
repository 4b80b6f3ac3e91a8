/*
 * xml_int.h - helpers shared by engine/split.c, engine/xml.c and
 * engine/event.c (not public).
 */
#ifndef SW_XML_INT_H
#define SW_XML_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/** memcpy(@d, @s, @n) inline, for the short strings of a stanza (JIDs, ids,
 *  most bodies: under 64 bytes): two or four overlapping fixed-size copies
 *  (or a libc call past 64 bytes). Touches exactly s[0 .. n) and d[0 .. n);
 *  the two must not overlap. The parser threads made ~10 such copies a
 *  stanza, and the libc call (PLT jump, size dispatch) cost more than the
 *  copy. */
static inline void sw_copy_short(void *d, const void *s, size_t n)
{
    char *dp = d;
    const char *sp = s;
    uint64_t a8, b8;
    uint32_t a4, b4;
    if (n > 64) {
        memcpy(dp, sp, n);
    } else if (n >= 16) {
        char a[16], b[16], c[16], e[16];
        memcpy(a, sp, 16);
        memcpy(b, sp + n - 16, 16);
        if (n > 32) {
            memcpy(c, sp + 16, 16);
            memcpy(e, sp + n - 32, 16);
            memcpy(dp + 16, c, 16);
            memcpy(dp + n - 32, e, 16);
        }
        memcpy(dp, a, 16);
        memcpy(dp + n - 16, b, 16);
    } else if (n >= 8) {
        memcpy(&a8, sp, 8);
        memcpy(&b8, sp + n - 8, 8);
        memcpy(dp, &a8, 8);
        memcpy(dp + n - 8, &b8, 8);
    } else if (n >= 4) {
        memcpy(&a4, sp, 4);
        memcpy(&b4, sp + n - 4, 4);
        memcpy(dp, &a4, 4);
        memcpy(dp + n - 4, &b4, 4);
    } else if (n > 0) {
        dp[0] = sp[0];
        dp[n / 2] = sp[n / 2];
        dp[n - 1] = sp[n - 1];
    }
}

/** Number of '\n' bytes in @p[0 .. len). Word-at-a-time, no allocation. */
uint64_t sw_split_count_nl(const char *p, size_t len);

/** Tests: with @on, sw_split instances created afterwards use the SSE2
 *  scanner even on a CPU with AVX2 (so every version gets checked). */
void sw_split_force_sse2(int on);
/** Tests: with @on, the AVX2 scanner even on a CPU with AVX-512BW. */
void sw_split_force_avx2(int on);

struct sw_xml;
/** How many times @x replaced its libxml2 context to bound the name
 *  dictionary (tests, stats). */
uint64_t sw_xml_resets(const struct sw_xml *x);
/** Top-level elements (stanzas, known or not) @x has seen close: after a parse
 *  error, the count fed before the bad stanza (libxml2 reports errors in input
 *  order and calls no SAX callback after a fatal one). */
uint64_t sw_xml_closed(const struct sw_xml *x);
/** While @on, every stanza fed is over-limit (a stand-in for an oversize one,
 *  engine/oversize.c): a minimal SW_F_OVER_LIMIT event, counted over_size. */
void sw_xml_force_over(struct sw_xml *x, int on);

#endif
