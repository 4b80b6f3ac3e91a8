/*
 * reporter_int.h - internals shared by the reporter's own files (iodef.c,
 * xep0268.c, reports_out.c, xmpp.c). Not a public contract.
 */
#ifndef SW_REPORTER_INT_H
#define SW_REPORTER_INT_H

#include <libxml/xmlwriter.h>

#include "sw/reporter.h"

#define SW_IODEF_NS "urn:ietf:params:xml:ns:iodef-1.0"
#define SW_IODEF2_NS "urn:ietf:params:xml:ns:iodef-2.0"
#define SW_XEP0268_NS "urn:xmpp:incident:2"
#define SW_JID_NS "urn:xmpp:jid:0"
#define SW_EVIDENCE_NS "urn:stanzawatch:evidence:0"

/* xmlTextWriter calls in the writers: a negative result is SW_EIO. */
#define SW_XML_TRY(call)                                                                           \
    do {                                                                                           \
        if ((call) < 0) {                                                                          \
            return SW_EIO;                                                                         \
        }                                                                                          \
    } while (0)
#define SW_XC(s) ((const xmlChar *)(s))

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

/**
 * IODEF 2.0 (RFC 7970) <Incident> of @inc (reporter/iodef2.c), one line, no
 * XML declaration, malloc'd (caller frees). 0, SW_ENOMEM or SW_EIO. Reentrant.
 */
int sw_iodef2_incident(const struct sw_reporter_settings *s, const struct sw_incident *inc,
                       int64_t report_ms, char **out, size_t *len);

/* Writer pieces shared by iodef.c (1.0) and iodef2.c (2.0); 0 or SW_EIO. */
/** Attribute @name = sw_iodef_clean(@value). */
int sw_iodef_attr(xmlTextWriterPtr w, const char *name, const char *value);
/** <@name>ISO 8601 UTC of @ms</@name>. */
int sw_iodef_time_elem(xmlTextWriterPtr w, const char *name, int64_t ms);
/** <Address category='ext-value' ext-category='xmpp'>@jid</Address>. */
int sw_iodef_address(xmlTextWriterPtr w, const char *jid);
/** One AdditionalData (dtype xml, urn:stanzawatch:evidence:0) per evidence stanza. */
int sw_iodef_evidence(xmlTextWriterPtr w, const struct sw_incident *inc);
/** Contact creator/organization with ContactName (language attribute @lang_attr:
 *  "lang" in 1.0, "xml:lang" in 2.0) and the admin JID as AdditionalData. */
int sw_iodef_contact(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                     const char *lang_attr);
/** IncidentID, DetectTime, StartTime, EndTime (closed only), ReportTime. */
int sw_iodef_head(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                  const struct sw_incident *inc, int64_t report_ms);
/** "kind by account|domain OFFENDER (status, revision N)" into @buf; returns @buf. */
char *sw_iodef_summary_text(const struct sw_incident *inc, char *buf, size_t cap);
/** <@name @lang_attr="en">sw_iodef_clean(@text), at most @cap bytes</@name>. */
int sw_iodef_text(xmlTextWriterPtr w, const char *name, const char *lang_attr, const char *text,
                  size_t cap);
/** IODEF 1.0 (@v2 false): <Counter type=@type> or type="ext-value" ext-type=@ext;
 *  2.0: <Counter type="counter" unit=@type> or unit="ext-value" ext-unit=@ext. */
int sw_iodef_counter(xmlTextWriterPtr w, bool v2, const char *type, const char *ext, uint64_t v);
/** The target Node's addresses: the rooms, else the target accounts, else our
 *  own domain; *@role "xmpp-muc" or "xmpp", *@distinct the rooms or targets
 *  counted (0 for our domain). */
int sw_iodef_targets(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                     const struct sw_incident *inc, const char **role, uint32_t *distinct);
/** <NodeRole category="ext-value" ext-category=@role/>. */
int sw_iodef_node_role(xmlTextWriterPtr w, const char *role);
/** History with the one "incident closed" HistoryItem at @report_ms. */
int sw_iodef_history_closed(xmlTextWriterPtr w, const char *lang_attr, int64_t report_ms);
/** Run @fn(@w, @arg) on a writer into a fresh memory buffer and return the
 *  text malloc'd in *@out (caller frees; *@len its length if @len is not
 *  NULL). 0, @fn's error, SW_ENOMEM or SW_EIO. */
int sw_reporter_xml_text(int (*fn)(xmlTextWriterPtr w, const void *arg), const void *arg,
                         char **out, size_t *len);
/** Escape @s (NULL: "") for an XML attribute value (& < > ' ") into @dst
 *  and NUL-terminate it; stops once fewer than 8 of @cap bytes are left
 *  (@cap > 7). @dst NULL: only count. Returns the length written. */
size_t sw_reporter_esc_attr(char *dst, size_t cap, const char *s);
/** "symbol (detector): score S, N hits, name=value..." into @line; returns @line. */
char *sw_iodef_contrib_text(const struct sw_incident_contrib *c, char *line, size_t cap);

/** Default settings used when no config is given (tests, --reports without a file). */
void sw_reporter_settings_defaults(struct sw_reporter_settings *s);

#endif
