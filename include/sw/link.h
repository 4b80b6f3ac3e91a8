/*
 * link.h - the canonical form of a message's first link (text/link.c).
 */
#ifndef SW_LINK_H
#define SW_LINK_H

#include <stddef.h>

#define SW_LINK_MAX 128 /* bytes of a link (host and path) considered, NUL included */

/** Write the first link of @body (@len bytes) in canonical form (host
 *  lower-cased, "www." dropped, path case kept) into @host (SW_LINK_MAX bytes,
 *  NUL-terminated); returns its length, 0 when @body has no link. */
size_t sw_link_first(const char *body, size_t len, char *host);

#endif
