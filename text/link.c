/*
 * link.c - the canonical form of a message's first link, shared by the
 * detectors that cluster link targets (wave: across senders, room_spam: one
 * sender's mutated pitch across rooms).
 *
 * Canonical form: host lower-cased, a leading "www." dropped, then the path
 * up to white space or a quote, trailing punctuation and '/' dropped, at most
 * SW_LINK_MAX - 1 bytes. "scheme://host/..." and bare "host.tld/..." count as
 * links; a host without a dot does not. Pure function, no allocation, any
 * thread.
 */
#include "sw/link.h"

#include <string.h>

/* The first link of @body as host (lower-cased, "www." dropped) + path (up to
 * white space, trailing punctuation and '/' dropped) into @host; its length,
 * 0 without a link. A link is "scheme://host..." or "host.tld/...". */
size_t sw_link_first(const char *body, size_t len, char *host)
{
    const char *p = NULL;
    if (len <= 3) {
        return 0; /* no room for a link (the loops below would find none) */
    }
    /* the first "://" with a byte after it (memchr to each ':') */
    for (const char *q = body; q < body + len - 3; q++) {
        q = memchr(q, ':', (size_t)(body + len - 3 - q));
        if (q == NULL) {
            break;
        }
        if (q[1] == '/' && q[2] == '/') {
            p = q + 3;
            break;
        }
    }
    if (p == NULL) {
        /* bare "word.tld/...": the first '/' at 4..len-2 whose word has a dot */
        for (const char *q = body + 4; len > 5 && q < body + len - 1 && p == NULL; q++) {
            q = memchr(q, '/', (size_t)(body + len - 1 - q));
            if (q == NULL) {
                break;
            }
            size_t i = (size_t)(q - body), j = i;
            while (j > 0 && body[j - 1] != ' ' && body[j - 1] != '\n') {
                j--;
            }
            if (memchr(body + j, '.', i - j) != NULL) {
                p = body + j;
            }
        }
        if (p == NULL) {
            return 0;
        }
    }
    const char *end = body + len;
    if (end - p > 4 && (p[0] | 32) == 'w' && (p[1] | 32) == 'w' && (p[2] | 32) == 'w' &&
        p[3] == '.') {
        p += 4;
    }
    size_t n = 0;
    while (p < end && n < SW_LINK_MAX - 1) {
        char c = *p++;
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
            break;
        }
        host[n++] = c;
    }
    while (n > 0 && host[n - 1] == '.') {
        n--;
    }
    if (memchr(host, '.', n) == NULL) {
        return 0;
    }
    /* the path (case kept) up to white space, without trailing punctuation:
     * a campaign's shared target is the whole link, not the (shortener) host */
    p--;
    if (p < end && *p == '/') {
        while (p < end && n < SW_LINK_MAX - 1 && *p != ' ' && *p != '\n' && *p != '\t' &&
               *p != '<' && *p != '"' && *p != '\'') {
            host[n++] = *p++;
        }
        while (n > 0 && (host[n - 1] == '.' || host[n - 1] == ',' || host[n - 1] == ')' ||
                         host[n - 1] == '!' || host[n - 1] == '?' || host[n - 1] == '/')) {
            n--;
        }
    }
    host[n] = '\0';
    return n;
}
