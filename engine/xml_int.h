/*
 * xml_int.h - helpers shared by engine/split.c and engine/xml.c (not public).
 */
#ifndef SW_XML_INT_H
#define SW_XML_INT_H

#include <stddef.h>
#include <stdint.h>

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
