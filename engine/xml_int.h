/*
 * xml_int.h - helpers shared by engine/split.c and engine/xml.c (not public).
 */
#ifndef SW_XML_INT_H
#define SW_XML_INT_H

#include <stddef.h>
#include <stdint.h>

/** Number of '\n' bytes in @p[0 .. len). Word-at-a-time, no allocation. */
uint64_t sw_split_count_nl(const char *p, size_t len);

#endif
