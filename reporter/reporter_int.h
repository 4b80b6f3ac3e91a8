/*
 * reporter_int.h - internals shared by the reporter's own files (iodef.c,
 * xep0268.c, reports_out.c, xmpp.c). Not a public contract.
 */
#ifndef SW_REPORTER_INT_H
#define SW_REPORTER_INT_H

#include <libxml/xmlwriter.h>

#include "sw/reporter.h"

#define SW_IODEF_NS "urn:ietf:params:xml:ns:iodef-1.0"
#define SW_XEP0268_NS "urn:xmpp:incident:2"
#define SW_JID_NS "urn:xmpp:jid:0"
#define SW_EVIDENCE_NS "urn:stanzawatch:evidence:0"

/** Write the <Incident> element of @inc with @w (already started). 0 or SW_EIO. */
int sw_iodef_write(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                   const struct sw_incident *inc, int64_t report_ms);

/**
 * Copy @src into @dst (@cap bytes, NUL-terminated) keeping only what XML 1.0
 * allows: valid UTF-8 of allowed code points; every other byte or sequence
 * becomes U+FFFD. Output truncated on a character boundary. Returns @dst.
 */
char *sw_iodef_clean(char *dst, size_t cap, const char *src);

/**
 * The inbound parser's libxml2 call with its options alone (no prefilter, no
 * checks): an xmlDocPtr (free with xmlFreeDoc) or NULL if malformed. Exposed
 * so tests check the options themselves.
 */
void *sw_xep0268_read_doc(const char *buf, size_t len);
/** sw_xep0268_parse with the DOCTYPE/ENTITY string prefilter switchable (tests, fuzzing). */
int sw_xep0268_parse_ex(const char *buf, size_t len, size_t max_bytes, unsigned max_depth,
                        bool prefilter, struct sw_xep0268_msg *out);

/**
 * Index of the peer that @from (a full JID as received) speaks for, or -1: its
 * whole bare JID equals, case-insensitively, a peer's jid or one of its
 * `senders`. A domain peer is never matched by an account at the domain.
 */
int sw_reporter_find_peer(const struct sw_reporter_settings *s, const char *from);

/** Default settings used when no config is given (tests, --reports without a file). */
void sw_reporter_settings_defaults(struct sw_reporter_settings *s);

#endif
