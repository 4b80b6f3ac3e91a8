/*
 * xml.c - per-stream libxml2 push parser (SAX1 callbacks) that turns
 * top-level stanzas into struct sw_event (sw_xml).
 *
 * Design: one xmlParserCtxt in push mode with only the SAX1 startElement,
 * endElement and characters (plus error and DTD traps) set; no DOM is built.
 * Element and attribute names come from the parser's dictionary, so the names
 * we care about are interned once at creation and compared by pointer.
 *
 * SAX1, not SAX2: in SAX2 mode libxml2 resolves namespaces itself, and for
 * that parses every xmlns value as a URI (xmlParseURI), interns it and keeps
 * a table of bindings; with no-op callbacks that made it ~20% dearer than
 * SAX1 on the bench capture (bench/RESULTS.md, 2026-12-06). We need the
 * namespace of a handful of elements only, so we resolve those ourselves:
 *  - SAX1 gives the qualified name (interned whole): an unprefixed name is
 *    compared by pointer as before; a prefixed one (p:local) is split as
 *    libxml2's SAX2 split it, its local part looked up in the dictionary
 *    (xmlDictExists: never interned anew) and its namespace is p's binding;
 *  - the default namespace of each open element (enum xml_ns: the few URIs
 *    the checks compare, OTHER, NONE) is its parent's unless it declares
 *    xmlns='...'; prefix bindings (xmlns:p='...') sit on a stack of
 *    XML_NS_BINDINGS entries popped when their element closes; an unbound
 *    prefix is no namespace. Past the bound every prefixed name is in an
 *    unknown namespace until the overflowing element closes (counted:
 *    ns_overflow); SAX2 grew its table without bound. Declarations SAX2
 *    ignored (the xml/xmlns prefixes and namespace names, xmlns:p='') are
 *    ignored alike;
 *  - attributes come as (qualified name, value) pairs, values decoded and
 *    NUL-terminated (a copy libxml2 frees after the callback); a namespace
 *    declaration is never one of them for the max_attr_bytes check (SAX2 did
 *    not pass them as attributes); a prefixed attribute is never from/to/
 *    type/id/stamp. One difference from SAX2: SAX2 passed an attribute whose
 *    prefix is unbound (p:from, no xmlns:p) under its local name, so it was
 *    read as the stanza's from; it is now ignored like any prefixed one.
 * Errors keep SAX2's wording (sax2_message()). What SAX1 still judges
 * differently, all in start tags no XMPP server lets through: a name with two
 * colons whose last part starts with a digit, '-' or '.' (a:b:1c: fatal in
 * SAX2, accepted now); a repeated xmlns:p after one SAX2 ignored (fatal now,
 * as XML says); the column of a duplicate attribute (now right after it,
 * SAX2 at the end of the tag).
 *
 * Per stanza we keep a small state: the "candidate" element (the stanza the
 * event describes: the top-level stanza, or the stanza inside a mirror
 * <forwarded/> or a carbon), copies of its from/to/type/id attributes, the
 * first body/subject/status/nick text (up to body_keep bytes) and the delay
 * stamps. All copies go to fixed scratch buffers sized at creation; nothing
 * is allocated per stanza. The event is built and passed to the callback when
 * the top-level element closes; its strings point into the scratch buffers.
 * Its from/to are split and hashed through a direct-mapped cache of the last
 * 4096 JIDs of up to 34 bytes, one 64-byte cache line each (jid_split(),
 * allocated once an instance has split 256 JIDs): a stream repeats its rooms
 * and people, and a hit costs a compare instead of sw_jid_parse()'s three
 * hashes.
 *
 * Unwrapping: a top-level <message/> whose from has no local part (a server or
 * component, as mod_firewall's FORWARD writes it) with a direct
 * <forwarded xmlns='urn:xmpp:forward:0'> child is a mirror copy: the first
 * stanza inside <forwarded/> becomes the candidate (SW_F_FORWARDED). A message
 * candidate with <sent|received xmlns='urn:xmpp:carbons:2'><forwarded>
 * <message/> is a carbon: the inner message becomes the candidate
 * (SW_F_CARBON).
 *
 * Time and re-delivery (THE rule; README "Input" says the same):
 *  - Event time is the recorder's, never the sender's. In order: (1) the
 *    capture's stamp, the LAST <delay xmlns='urn:xmpp:delay'/> without a
 *    `from` attribute that is a direct child of the top-level element (the
 *    recorder appends it after everything the sender wrote: swgen, carbons
 *    stamped on the wrapper message); with opts.no_top_stamps (a live tap,
 *    where a plain top-level stanza is written by its sender) never used;
 *    (2) the mirror wrapper's stamp, a <delay/> inside the top-level
 *    <forwarded/> of a mirror copy (the forwarder's receive time, XEP-0297);
 *    (3) arrival time. A <delay/> inside the stanza the event describes (or
 *    a carbon's <forwarded/>) never sets time; any stamp sets SW_F_DELAYED
 *    ("had a stamp"). The workers bound what is left: a jump far ahead of
 *    stream time is clamped (engine/worker.c).
 *  - SW_F_HISTORY (a re-delivery: skipped by rate counters) only when the
 *    described stanza carries a <delay from=X stamp=.../> and X is who
 *    re-delivers it: (a) MUC history: a groupchat message from a room at a
 *    MUC service (config or prefix rule; room@service/nick or the bare room)
 *    to an account, X = the bare room JID = the stanza's bare from; or
 *    (b) offline storage: a message or presence to an account that is not
 *    sent to a room, X = the bare domain of the recipient (its server);
 *    captures only: a live tap never sees a server's offline store (it is
 *    sent past the hooks), so there (b) could only be a sender's forgery.
 *    Never on a groupchat message an occupant sends to a room, never because
 *    a sender put a delay from some room on its own chat.
 *
 * Limits: a stanza nested deeper than max_depth, with an attribute over
 * max_attr_bytes, a text node over max_text_bytes or a JID over 3071 bytes
 * (or a part over 1023: RFC 7622) still yields a minimal event: kind, type, from, to
 * (a JID over the bound is dropped, never cut) flagged SW_F_OVER_LIMIT, no
 * id/body/subject/status/nick; counted (over_limit and the reason). A stanza
 * over max_stanza_bytes never gets here whole: the reader feeds a stand-in
 * (engine/oversize.c) with sw_xml_force_over() on, counted over_size.
 *
 * MUC services: the configured domain hashes (muc.services); when that list
 * is empty, a domain whose first label is one of muc.service_prefixes and that
 * has two more labels (conference.example.org), decided once per domain in a
 * small direct-mapped cache of domain hashes, not per event.
 *
 * Security: XML_PARSE_NONET, never XML_PARSE_NOENT (no entity expansion); any
 * DOCTYPE, entity/element/attribute/notation declaration stops the parser with
 * "DTD not allowed" (so billion laughs dies at its DOCTYPE). libxml2's own
 * default limits (no XML_PARSE_HUGE) bound the rest.
 *
 * Long streams: libxml2 interns every element and attribute name it meets and its
 * dictionary never shrinks; when it passes XML_DICT_RECYCLE entries and a
 * feed ended between stanzas, the context is replaced by a fresh one fed the
 * saved stream start tag (line numbering continues). Feeds are handed to
 * libxml2 in 256 KiB slices: more than 10 MB of unparsed input makes it halt.
 * A new instance starts with 16 KiB and doubles: one is made after each
 * malformed stanza, and its first push would otherwise copy 256 KiB to parse
 * as little as the next stanza.
 * Before each slice an empty push lets libxml2 drop the bytes it has parsed
 * (it memmoves what is left to the front of its buffer at the start of a
 * parse): pushed first, every slice would be copied in and then moved again.
 *
 * Lines: libxml2 counts the lines it parsed. The stanza start line is its line
 * at the start tag minus newlines inside the tag (found by scanning back to
 * its '<'; '<' cannot occur in attribute values), rebased to the line_base of
 * sw_xml_set_stream(), which notes libxml2's line for the next byte fed.
 *
 * Threading: one instance per thread at a time; instances on different
 * threads are independent (libxml2 is initialised once, under pthread_once,
 * by the first sw_xml_new()). Ownership:
 * _new/_free; the opts arrays are borrowed and must outlive the instance.
 */
#include "sw/xml.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "xml_int.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define XML_SSE2 1
#endif

#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_DELAY "urn:xmpp:delay"
#define NS_DELAY_LEGACY "jabber:x:delay"
#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_CONFERENCE "jabber:x:conference"
#define NS_NICK "http://jabber.org/protocol/nick"
#define NS_XML "http://www.w3.org/XML/1998/namespace"
#define NS_XMLNS "http://www.w3.org/2000/xmlns/"

/* Bytes handed to xmlParseChunk() at a time (see sw_xml_feed()). */
#define XML_FEED_SLICE (256 * 1024)
/* a new instance's first slice; doubling up to XML_FEED_SLICE */
#define XML_FEED_FIRST (16 * 1024)
#define XML_MUC_CACHE 64 /* domains remembered by the service-prefix test (power of 2) */
/* from/to JIDs remembered with their split and hashes (power of 2), and the
 * longest one kept (what is left of a 64-byte slot): see jid_split() */
#define XML_JID_CACHE 4096
#define XML_JID_CACHE_LEN 34
/* JIDs an instance splits before it allocates the cache: an instance that
 * lives for a stanza or two (one is made after each malformed stanza) never
 * pays for zeroing it */
#define XML_JID_CACHE_AFTER 256
/* libxml2 interns every element/attribute (qualified) name of the
 * stream in the context's dictionary, which never shrinks: a peer sending
 * ever new names would grow it without bound. Past this many entries the
 * context is replaced between stanzas (see recycle()). */
#define XML_DICT_RECYCLE 10000
/* Longest stream start tag kept for re-feeding a replacement context. */
#define XML_HDR_MAX 4096
/* element names whose prefix split is remembered (power of 2): colon_of() */
#define XML_QN_CACHE 64

enum xml_text { TX_NONE = 0, TX_BODY, TX_SUBJECT, TX_STATUS, TX_NICK };

enum xml_skip { SK_NONE = 0, SK_UNKNOWN };

/* Why a stanza is over a limit (bits of sw_xml.over). */
enum xml_over {
    OV_DEPTH = 1u << 0,
    OV_ATTR = 1u << 1,
    OV_TEXT = 1u << 2,
    OV_JID = 1u << 3,
    OV_SIZE = 1u << 4, /* a stand-in for an oversize stanza (sw_xml_force_over) */
};

/* Longest JID kept (RFC 7622: 1023 bytes per part, 3071 in all). */
#define XML_JID_MAX 3071

/* A bounded copy of one string. */
struct xml_str {
    char *buf;
    uint32_t cap; /* bytes available, excluding the NUL */
    uint32_t len;
    /* from and to: jid_slot() of the text, as jid_set() found it (valid
     * while len > 0: only jid_set() writes these strings) */
    struct xml_jid_cache *slot;
};

/* Interned names (pointers from the parser dictionary). */
struct xml_names {
    const xmlChar *message, *presence, *iq, *forwarded, *delay, *x, *body, *subject, *status, *nick,
        *sent, *received, *invite, *from, *to, *type, *id, *stamp, *xmlns;
};

/* One slot of the JID cache (see jid_split()): a struct sw_jid without its text
 * pointer, offsets narrowed to the bytes a kept JID can need, and the JID's
 * bytes, in one 64-byte cache line (the slots are 64-byte aligned), so a hit
 * reads one line; the old layout (struct sw_jid + 62 bytes, 112 bytes
 * unaligned) touched two or three. */
struct xml_jid_cache {
    uint64_t bare, domain, full;
    uint8_t len; /* 0 = empty slot */
    uint8_t local_len, domain_off, domain_len, res_off, res_len;
    char text[XML_JID_CACHE_LEN];
};
_Static_assert(sizeof(struct xml_jid_cache) == 64, "one JID cache slot per cache line");

/* The namespaces the code tells apart (see ns_of()); an element's is its
 * prefix's binding or the default namespace in scope. */
enum xml_ns {
    NSI_NONE = 0, /* no namespace: none declared, xmlns='', an unbound prefix */
    NSI_OTHER,    /* a namespace none of the checks cares about */
    NSI_FORWARD,
    NSI_CARBONS,
    NSI_DELAY,
    NSI_DELAY_LEGACY,
    NSI_MUC,
    NSI_MUC_USER,
    NSI_CONFERENCE,
    NSI_NICK,
    NSI_KEEP, /* the xml or xmlns namespace name: libxml2's SAX2 ignored such a declaration */
};

/* Prefix bindings (xmlns:p='...') in scope, innermost last. Past
 * XML_NS_BINDINGS every prefixed name is in an unknown namespace until the
 * element that overflowed closes (hostile input: SAX2 grew its table
 * without bound). */
#define XML_NS_BINDINGS 32
struct xml_ns_binding {
    const xmlChar *prefix; /* in the declaring attribute's name (ctxt->dict) */
    uint32_t len;
    uint32_t depth; /* of the declaring element: popped when it closes */
    uint8_t ns;     /* enum xml_ns */
};

struct sw_xml {
    xmlParserCtxtPtr ctxt;
    xmlSAXHandler sax;
    sw_xml_event_fn cb;
    void *ud;
    struct sw_xml_limits lim;
    const uint64_t *muc;
    size_t n_muc;
    const uint64_t *srv;
    size_t n_srv;
    struct xml_names n;
    struct sw_xml_stats st;

    /* the stream start tag, re-fed to a replacement context */
    uint32_t hdr_len;
    uint64_t resets;
    uint64_t closed; /* top-level elements closed (sw_xml_closed) */
    char hdr[XML_HDR_MAX];

    /* feeding */
    int64_t arrival_ms;
    int64_t line0; /* libxml2 line number of the first byte after set_stream */
    uint32_t line_base;
    uint16_t stream;
    uint64_t seq;
    int failed;
    int err_set;
    char err[400];

    /* stanza state; depth counts the stream element as 1 */
    uint32_t depth;
    uint8_t skip; /* enum xml_skip */
    uint8_t text; /* enum xml_text being captured */
    uint8_t cand_closed, fwd_mode, has_muc_x, invite;
    uint8_t any_delay;    /* some <delay/> or legacy stamp was seen (SW_F_DELAYED) */
    uint8_t fwd_delay_ok; /* the mirror's <forwarded/> had a parsable stamp */
    uint8_t top_delay_ok; /* the recorder's stamp on the top-level element */
    uint8_t hist_delay;   /* the candidate had a <delay from=.../> (delay_from) */
    uint8_t hist_ok;      /* ... with a parsable stamp */
    uint8_t over;         /* enum xml_over bits of the current stanza */
    uint8_t no_top;       /* opts.no_top_stamps */
    uint8_t force_over;   /* sw_xml_force_over(): every stanza is over-limit */
    uint16_t kind;
    uint32_t cand_depth, fwd_depth, carbon_depth, muc_user_depth, text_depth;
    /* after a wrapper gave up its stanza: the carbon wrapper message and the
     * <forwarded/> elements that held the candidate, so their later <delay/>
     * children still count (0 = none) */
    uint32_t wrap_depth, mfwd_depth, cfwd_depth;
    int64_t top_stamp_ms;

    /* MUC services by first label (only while no service list is given) */
    const char *const *pfx;
    size_t n_pfx;
    struct xml_muc_cache {
        uint64_t hash; /* domain hash, 0 = empty slot (sw_jid domain 0 = none) */
        uint8_t yes;
    } mcache[XML_MUC_CACHE];
    uint32_t flags;
    uint32_t stanza_line;
    int64_t fwd_stamp_ms;
    uint64_t text_full; /* bytes of the text being captured */
    uint32_t body_full, body_lines;
    uint8_t have_body, have_subject, have_status, have_nick, subject_trunc, status_trunc;
    struct xml_str from, to, type, id, delay_from;
    struct xml_str body, subject, status, nick;
    struct sw_event ev;
    struct xml_jid_cache *jcache; /* XML_JID_CACHE slots, NULL until XML_JID_CACHE_AFTER JIDs */
    uint32_t jid_plain;           /* JIDs split without the cache so far */
    uint32_t slice;               /* bytes of the next slice handed to libxml2 */

    /* namespaces (SAX1 does none): the default namespace (enum xml_ns) of
     * each open element up to max_depth + 1 (index = depth, [0] = none) and
     * the prefix bindings in scope; ns_over = depth of the outermost element
     * whose binding did not fit (0 = none) */
    uint8_t *dns;
    uint32_t n_bind;
    uint32_t ns_over;
    uint32_t ns_hi; /* max(ns_over, depth of the innermost binding): on_end's one test */
    struct xml_ns_binding bind[XML_NS_BINDINGS];
    /* libxml2's stream offset at the last start tag with attributes, 0 in
     * a fresh context (attrs_may_be_big()) */
    uint64_t attr_mark;
    /* qname_colon() of the element names met, by name (see colon_of()) */
    struct xml_qn {
        const xmlChar *q; /* NULL = empty slot */
        const xmlChar *colon;
    } qn[XML_QN_CACHE];
};

/* ---- small helpers ---- */

static void str_set(struct xml_str *s, const xmlChar *v, const xmlChar *end)
{
    size_t n = (size_t)(end - v);
    if (n > s->cap) {
        n = s->cap;
    }
    sw_copy_short(s->buf, v, n);
    s->buf[n] = '\0';
    s->len = (uint32_t)n;
}

static void str_clear(struct xml_str *s)
{
    s->len = 0;
    s->buf[0] = '\0';
}

/* Cut @s back to a UTF-8 character boundary (drop a trailing partial sequence). */
static void utf8_trim(struct xml_str *s)
{
    uint32_t n = s->len;
    uint32_t i = n;
    while (i > 0 && i + 4 > n && ((unsigned char)s->buf[i - 1] & 0xC0) == 0x80) {
        i--;
    }
    if (i == 0) {
        return;
    }
    unsigned char lead = (unsigned char)s->buf[i - 1];
    uint32_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (lead >= 0xC0 && (n - (i - 1)) < need) {
        n = i - 1;
    }
    s->len = n;
    s->buf[n] = '\0';
}

static int in_set(const uint64_t *set, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        if (set[i] == h) {
            return 1;
        }
    }
    return 0;
}

static int64_t rel_line(const struct sw_xml *x, int64_t libline)
{
    int64_t l = (int64_t)x->line_base + (libline - x->line0);
    return l < 0 ? 0 : l;
}

static void set_error(struct sw_xml *x, int64_t line, int64_t col, const char *msg)
{
    if (x->err_set) {
        return;
    }
    x->err_set = 1;
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
        n--;
    }
    snprintf(x->err, sizeof(x->err), "%lld:%lld: %.*s", (long long)rel_line(x, line),
             (long long)(col > 0 ? col : 1), (int)n, msg);
}

/* ---- SAX callbacks ---- */

static const xmlChar *qname_colon(const xmlChar *q);

#if LIBXML_VERSION >= 20911 && LIBXML_VERSION < 21300
/* libxml2's private struct _xmlStartTag (parser.c; the same from 2.9.11 to
 * 2.12), the entries of ctxt->pushTab */
struct xml_start_tag {
    const xmlChar *prefix;
    const xmlChar *URI;
    int line;
    int nsNr;
};
#define XML_HAVE_PUSHTAB 1
#endif

/* The local part of @q as SAX2 named it. */
static const char *sax2_name(const char *q)
{
    const xmlChar *c = qname_colon((const xmlChar *)q);
    return c != NULL ? (const char *)c + 1 : q;
}

/* libxml2's message for @err as its SAX2 path words it (see the file
 * comment): SAX1 names an element or attribute by its qualified name where
 * SAX2 used the local part, words "invalid element name" differently and, in
 * the push parser, gives a mismatched end tag's start line as 0 (the line is
 * in ctxt->pushTab all the same). Cold: a fatal error ends the instance. */
static const char *sax2_message(const struct sw_xml *x, const xmlError *err, char *buf, size_t len)
{
    const char *m = err->message;
    switch (err->code) {
    case XML_ERR_NAME_REQUIRED:
        if (strcmp(m, "xmlParseStartTag: invalid element name\n") == 0) {
            return "StartTag: invalid element name\n";
        }
        return m;
    case XML_ERR_TAG_NAME_MISMATCH: {
        if (err->str1 == NULL || err->str2 == NULL) {
            return m;
        }
        int line = err->int1;
#ifdef XML_HAVE_PUSHTAB
        xmlParserCtxtPtr c = x->ctxt;
        if (c->pushTab != NULL && c->nameNr > 0) {
            line = ((const struct xml_start_tag *)(const void *)c->pushTab)[c->nameNr - 1].line;
        }
#else
        (void)x;
#endif
        /* the end tag's name: as parsed (a whole Name) after an unprefixed
         * start tag, else its local part (xmlParseQNameAndCompare()) */
        const char *open = sax2_name(err->str1);
        snprintf(buf, len, "Opening and ending tag mismatch: %s line %d and %s\n", open, line,
                 open != err->str1 ? sax2_name(err->str2) : err->str2);
        return buf;
    }
    case XML_ERR_GT_REQUIRED:
        if (err->str1 != NULL) {
            snprintf(buf, len, "Couldn't find end of Start Tag %s\n", sax2_name(err->str1));
            return buf;
        }
        return m;
    case XML_ERR_ATTRIBUTE_WITHOUT_VALUE:
        if (err->str1 != NULL) {
            snprintf(buf, len, "Specification mandates value for attribute %s\n",
                     sax2_name(err->str1));
            return buf;
        }
        return m;
    default:
        return m;
    }
}

/* libxml2's error channel. A SAX1 handler has no structured callback (serror
 * is read only from an XML_SAX2_MAGIC handler, and with that magic Debian's
 * 2.9.14 parses in SAX2 mode whatever callbacks are set): libxml2 hands over
 * its formatted text, and the structured error it made it from is the
 * thread's last error, copied there just before (__xmlRaiseError()).
 * Warnings never get here (the warning channel is unset:
 * XML_PARSE_NOWARNING). */
static void on_error(void *ud, const char *msg, ...)
{
    struct sw_xml *x = ud;
    const xmlError *err = xmlGetLastError();
    char buf[sizeof(x->err)];
    (void)msg;
    if (err == NULL || x->ctxt == NULL) {
        set_error(x, 0, 0, "parse error"); /* (out of memory making the error) */
        return;
    }
    if (err->level < XML_ERR_FATAL) {
        return; /* recoverable errors */
    }
    if (x->err_set || err->message == NULL) {
        set_error(x, err->line, err->int2, "parse error");
        return;
    }
    set_error(x, err->line, err->int2, sax2_message(x, err, buf, sizeof(buf)));
}

static void stop_dtd(struct sw_xml *x)
{
    xmlParserInputPtr in = x->ctxt->input;
    set_error(x, in != NULL ? in->line : 0, in != NULL ? in->col : 0, "DTD not allowed");
    x->failed = 1;
    xmlStopParser(x->ctxt);
}

static void on_internal_subset(void *ud, const xmlChar *name, const xmlChar *eid,
                               const xmlChar *sid)
{
    (void)name;
    (void)eid;
    (void)sid;
    stop_dtd(ud);
}

static void on_entity_decl(void *ud, const xmlChar *name, int type, const xmlChar *pid,
                           const xmlChar *sid, xmlChar *content)
{
    (void)name;
    (void)type;
    (void)pid;
    (void)sid;
    (void)content;
    stop_dtd(ud);
}

static void on_element_decl(void *ud, const xmlChar *name, int type, xmlElementContentPtr content)
{
    (void)name;
    (void)type;
    (void)content;
    stop_dtd(ud);
}

static void on_attribute_decl(void *ud, const xmlChar *elem, const xmlChar *fullname, int type,
                              int def, const xmlChar *defaultValue, xmlEnumerationPtr tree)
{
    (void)elem;
    (void)fullname;
    (void)type;
    (void)def;
    (void)defaultValue;
    xmlFreeEnumeration(tree); /* the callee owns it */
    stop_dtd(ud);
}

static void on_notation_decl(void *ud, const xmlChar *name, const xmlChar *pid, const xmlChar *sid)
{
    (void)name;
    (void)pid;
    (void)sid;
    stop_dtd(ud);
}

static void on_unparsed_decl(void *ud, const xmlChar *name, const xmlChar *pid, const xmlChar *sid,
                             const xmlChar *notation)
{
    (void)name;
    (void)pid;
    (void)sid;
    (void)notation;
    stop_dtd(ud);
}

/* Reset the per-candidate fields (a new stanza, or the inner stanza of a wrapper). */
static void cand_reset(struct sw_xml *x)
{
    str_clear(&x->from);
    str_clear(&x->to);
    str_clear(&x->type);
    str_clear(&x->id);
    str_clear(&x->delay_from);
    str_clear(&x->body);
    str_clear(&x->subject);
    str_clear(&x->status);
    str_clear(&x->nick);
    x->have_body = x->have_subject = x->have_status = x->have_nick = 0;
    x->subject_trunc = x->status_trunc = 0;
    x->body_full = x->body_lines = 0;
    x->has_muc_x = x->invite = 0;
    x->hist_delay = x->hist_ok = 0;
    x->cand_closed = 0;
    x->carbon_depth = x->muc_user_depth = 0;
    x->text = TX_NONE;
}

/* The JID cache slot of @text (@len bytes), or NULL when it is not cached
 * (empty, over XML_JID_CACHE_LEN bytes, or no cache yet): see jid_split(). */
static struct xml_jid_cache *jid_slot(const struct sw_xml *x, const char *text, uint32_t len)
{
    if (x->jcache == NULL || len == 0 || len > XML_JID_CACHE_LEN) {
        return NULL;
    }
    /* from the first and the last 8 bytes (fixed-size loads for the usual
     * JID of 8 bytes or more) */
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        memcpy(&a, text, 8);
        memcpy(&b, text + len - 8, 8);
    } else {
        memcpy(&a, text, len);
        memcpy(&b, text, len);
    }
    uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^ len;
    return &x->jcache[(h >> 32) & (XML_JID_CACHE - 1)];
}

/* A JID attribute: kept whole or, over RFC 7622's bounds (1023 bytes per part,
 * XML_JID_MAX in all) or the buffer, not at all (never cut: a cut JID names
 * someone else). */
static void jid_set(struct sw_xml *x, struct xml_str *s, const xmlChar *v, const xmlChar *end)
{
    size_t n = (size_t)(end - v);
    if (n > 1023) {
        /* RFC 7622: each part at most 1023 bytes (so a bare JID fits 2047);
         * a shorter JID cannot have a longer part */
        const xmlChar *slash = memchr(v, '/', n);
        const xmlChar *bend = slash != NULL ? slash : end;
        const xmlChar *at = memchr(v, '@', (size_t)(bend - v));
        const xmlChar *dom = at != NULL ? at + 1 : v;
        if ((at != NULL && at - v > 1023) || bend - dom > 1023 ||
            (slash && end - slash - 1 > 1023)) {
            x->over |= OV_JID;
            str_clear(s);
            return;
        }
    }
    if (n > XML_JID_MAX || n > s->cap) {
        x->over |= OV_JID;
        str_clear(s);
        return;
    }
    str_set(s, v, end);
    /* jid_split() reads this slot when the stanza closes; the slots are
     * rarely still in cache by then (256 KB, visited at random, sharing the
     * core with a worker), so fetch it now and let the miss overlap the
     * parse of the stanza's children, and keep it for jid_split(). The
     * index is computed from libxml2's bytes, not the copy just made: loads
     * from the copy would wait for its stores (same bytes and length, so
     * the same slot). */
    struct xml_jid_cache *e = jid_slot(x, (const char *)v, (uint32_t)n);
    s->slot = e;
    if (e != NULL) {
        __builtin_prefetch(e);
    }
}

/* ---- namespaces ----
 * SAX1 hands over qualified names and the xmlns attributes as they are; what
 * libxml2's SAX2 path did for us (resolve prefixes, keep the bindings in
 * scope) is done here for the few namespaces the checks compare, with SAX2's
 * answers: it is the reference the tests and replays compare against. */

/* Can @c (the byte after a name's first ':') start an NCName? SAX1 checked
 * that the whole name is a Name, so the character there is a NameChar; it is
 * not an NCName start when it is ':', '-', '.', a digit, U+00B7,
 * U+0300-036F or U+203F-2040 (XML 1.0 5th edition, libxml2's default), or
 * the name ends there. */
static int ncname_start(const xmlChar *c)
{
    if (c[0] < 0x80) {
        return (c[0] >= 'a' && c[0] <= 'z') || (c[0] >= 'A' && c[0] <= 'Z') || c[0] == '_';
    }
    if (c[0] == 0xC2) {
        return c[1] != 0xB7;
    }
    if (c[0] == 0xCC || (c[0] == 0xCD && c[1] <= 0xAF)) {
        return 0;
    }
    if (c[0] == 0xE2) {
        return !((c[1] == 0x80 && c[2] == 0xBF) || (c[1] == 0x81 && c[2] == 0x80));
    }
    return 1;
}

/* The ':' that ends @q's prefix, or NULL when @q has none, split as
 * libxml2's xmlParseQName() does: a name starting with ':', or whose first
 * ':' is not followed by an NCName start, is a local name as a whole (libxml2
 * reported a namespace error, not fatal, and used the whole name). */
static const xmlChar *qname_colon(const xmlChar *q)
{
    const xmlChar *c = (const xmlChar *)strchr((const char *)q, ':');
    if (c == NULL || c == q || !ncname_start(c + 1)) {
        return NULL;
    }
    return c;
}

/* The namespace (enum xml_ns) of a declared URI, @v (@n bytes). A switch on
 * the length: each case compares constant-size literals, which the compiler
 * inlines (a table walked with memcmp() cost ~12 Ir more per declaration). */
static uint8_t ns_of(const xmlChar *v, size_t n)
{
#define NS_IS(lit) (n == sizeof(lit) - 1 && memcmp(v, lit, sizeof(lit) - 1) == 0)
    switch (n) {
    case 0:
        return NSI_NONE;
    case sizeof(NS_DELAY) - 1: /* == sizeof(NS_DELAY_LEGACY) - 1 */
        return NS_IS(NS_DELAY) ? NSI_DELAY : NS_IS(NS_DELAY_LEGACY) ? NSI_DELAY_LEGACY : NSI_OTHER;
    case sizeof(NS_FORWARD) - 1: /* == sizeof(NS_CARBONS) - 1 */
        return NS_IS(NS_FORWARD) ? NSI_FORWARD : NS_IS(NS_CARBONS) ? NSI_CARBONS : NSI_OTHER;
    case sizeof(NS_MUC) - 1:
        return NS_IS(NS_MUC) ? NSI_MUC : NSI_OTHER;
    case sizeof(NS_MUC_USER) - 1:
        return NS_IS(NS_MUC_USER) ? NSI_MUC_USER : NSI_OTHER;
    case sizeof(NS_CONFERENCE) - 1:
        return NS_IS(NS_CONFERENCE) ? NSI_CONFERENCE : NSI_OTHER;
    case sizeof(NS_NICK) - 1:
        return NS_IS(NS_NICK) ? NSI_NICK : NSI_OTHER;
    case sizeof(NS_XML) - 1:
        return NS_IS(NS_XML) ? NSI_KEEP : NSI_OTHER;
    case sizeof(NS_XMLNS) - 1:
        return NS_IS(NS_XMLNS) ? NSI_KEEP : NSI_OTHER;
    default:
        return NSI_OTHER;
    }
#undef NS_IS
}

/* xmlns:@p='@v' on the element at depth @d, the checks SAX2 made: the xml and
 * xmlns prefixes, the xml and xmlns namespace names and an empty URI bind
 * nothing (libxml2 reported a namespace error, not fatal, and went on with
 * the binding it had). */
static void ns_bind(struct sw_xml *x, const xmlChar *p, const xmlChar *v, size_t vlen, uint32_t d)
{
    size_t len = strlen((const char *)p);
    uint8_t ns = ns_of(v, vlen);
    if (ns == NSI_NONE || ns == NSI_KEEP || (len == 3 && memcmp(p, "xml", 3) == 0) ||
        (len == 5 && memcmp(p, "xmlns", 5) == 0)) {
        return;
    }
    x->ns_hi = d; /* (>= every depth in scope) */
    if (x->n_bind == XML_NS_BINDINGS) {
        x->st.ns_overflow++;
        if (x->ns_over == 0) {
            x->ns_over = d;
        }
        return;
    }
    struct xml_ns_binding *b = &x->bind[x->n_bind++];
    b->prefix = p;
    b->len = (uint32_t)len;
    b->depth = d;
    b->ns = ns;
}

/* The namespace of a name with prefix @p (@len bytes) in scope. */
static uint8_t ns_prefix(const struct sw_xml *x, const xmlChar *p, size_t len)
{
    if (len == 3 && memcmp(p, "xml", 3) == 0) {
        return NSI_OTHER; /* always bound, to the xml namespace */
    }
    if (x->ns_over != 0) {
        return NSI_OTHER; /* a binding that did not fit may shadow any below */
    }
    for (uint32_t i = x->n_bind; i-- > 0;) {
        const struct xml_ns_binding *b = &x->bind[i];
        if (b->len == len && memcmp(b->prefix, p, len) == 0) {
            return b->ns;
        }
    }
    return NSI_NONE; /* unbound */
}

/* Is attribute @an a namespace declaration: 0 no, 1 xmlns, 2 xmlns:p. */
static int ns_decl(const struct sw_xml *x, const xmlChar *an)
{
    if (an == x->n.xmlns) {
        return 1;
    }
    if (an[0] == 'x' && strncmp((const char *)an, "xmlns:", 6) == 0 && ncname_start(an + 6)) {
        return 2;
    }
    return 0;
}

/* The declarations of the element at depth @d (its default namespace, from
 * its parent's or its own xmlns, and its prefix bindings). Returns 1 when one
 * of its other attributes is over max_attr_bytes (a declaration never
 * counts: SAX2 did not pass them as attributes); with @may_big 0 none can
 * be (attrs_may_be_big()) and their values are not measured. (Always
 * inline: called for every element with attributes, and saving and restoring
 * registers for the call was a quarter of its instructions.) */
static inline __attribute__((always_inline)) int ns_enter(struct sw_xml *x, uint32_t d,
                                                          const xmlChar **a, int may_big)
{
    int big = 0;
    x->dns[d] = x->dns[d - 1];
    if (a == NULL) {
        return 0;
    }
    for (; a[0] != NULL; a += 2) {
        int k = ns_decl(x, a[0]);
        if (k == 1) {
            uint8_t ns = ns_of(a[1], strlen((const char *)a[1]));
            if (ns != NSI_KEEP) {
                x->dns[d] = ns;
            }
        } else if (k == 2) {
            ns_bind(x, a[0] + 6, a[1], strlen((const char *)a[1]), d);
        } else if (may_big && strlen((const char *)a[1]) > x->lim.max_attr_bytes) {
            big = 1;
        }
    }
    return big;
}

/* Can an attribute of the start tag just parsed be over max_attr_bytes?
 * Not when the whole tag is shorter: libxml2's offset in the stream
 * (consumed + cur - base, what it reports as node positions: its shrinks
 * add what they drop to consumed) has moved by less since the last start
 * tag with attributes, whose end lies before this tag's '<' (callbacks come
 * in input order). A decoded value is never longer than its text in the
 * tag: no reference grows (&lt; gives one byte, &#x10000; four, &amp; the
 * five of "&#38;": without XML_PARSE_NOENT libxml2 keeps it escaped), CR LF
 * becomes one byte, and the buffer already holds UTF-8 whatever the
 * encoding. No
 * entity is ever expanded from elsewhere (no DTD: stop_dtd()), so the
 * input stays the one stream. Saves a strlen() per attribute of every element
 * (~30% of ns_enter()'s instructions); the values of an element after a long
 * text, or the first of a context, are measured as before. */
static int attrs_may_be_big(struct sw_xml *x)
{
    const xmlParserInputPtr in = x->ctxt->input;
    uint64_t pos = (uint64_t)in->consumed + (uint64_t)(in->cur - in->base);
    uint64_t span = pos - x->attr_mark; /* (huge if the mark were ahead: measured) */
    x->attr_mark = pos;
    return span > x->lim.max_attr_bytes;
}

/* The element closing at depth @d (<= x->ns_hi) takes its bindings along. */
static void ns_leave(struct sw_xml *x, uint32_t d)
{
    while (x->n_bind > 0 && x->bind[x->n_bind - 1].depth >= d) {
        x->n_bind--;
    }
    if (x->ns_over >= d) {
        x->ns_over = 0;
    }
    x->ns_hi = x->n_bind > 0 ? x->bind[x->n_bind - 1].depth : 0;
    if (x->ns_over > x->ns_hi) {
        x->ns_hi = x->ns_over;
    }
}

/* Attributes: SAX1 passes (qualified name, value) pairs, values decoded and
 * NUL-terminated (a decoded value never holds a NUL: &#0; is fatal). A
 * prefixed attribute never equals an interned plain name, so the comparisons
 * below skip it as SAX2's "namespaced attribute" test did. */
static void read_stanza_attrs(struct sw_xml *x, const xmlChar **a)
{
    if (a == NULL) {
        return;
    }
    for (; a[0] != NULL; a += 2) {
        const xmlChar *an = a[0];
        const xmlChar *v = a[1];
        if (an != x->n.from && an != x->n.to && an != x->n.type && an != x->n.id) {
            continue;
        }
        size_t n = strlen((const char *)v);
        if (n > x->lim.max_attr_bytes) {
            continue; /* over the limit (counted by the caller): not read */
        }
        if (an == x->n.from) {
            jid_set(x, &x->from, v, v + n);
        } else if (an == x->n.to) {
            jid_set(x, &x->to, v, v + n);
        } else if (an == x->n.type) {
            str_set(&x->type, v, v + n);
        } else {
            str_set(&x->id, v, v + n);
        }
    }
}

static uint16_t kind_of(const struct sw_xml *x, const xmlChar *ln)
{
    if (ln == x->n.message) {
        return SW_EV_MESSAGE;
    }
    if (ln == x->n.presence) {
        return SW_EV_PRESENCE;
    }
    if (ln == x->n.iq) {
        return SW_EV_IQ;
    }
    return 0;
}

/* Where a <delay/> sits decides what it may do (see the file comment). */
enum xml_delay {
    DL_CAND = 1, /* on the stanza the event describes: history evidence only */
    DL_TOP = 2,  /* direct child of the top-level element: the recorder's if it has no from */
    DL_FWD = 4,  /* inside the mirror's <forwarded/>: the forwarder's stamp */
};

/* A XEP-0203 (or, @legacy, XEP-0091) stamp at place @where (enum xml_delay bits). */
static void read_delay(struct sw_xml *x, const xmlChar **a, unsigned where, int legacy)
{
    const xmlChar *stamp = NULL, *stamp_end = NULL, *from = NULL, *from_end = NULL;
    for (; a != NULL && a[0] != NULL; a += 2) {
        if (a[0] == x->n.stamp) {
            stamp = a[1];
            stamp_end = stamp + strlen((const char *)stamp);
        } else if (a[0] == x->n.from) {
            from = a[1];
            from_end = from + strlen((const char *)from);
        }
    }
    int64_t ms = 0;
    int ok =
        stamp != NULL && sw_parse_time((const char *)stamp, (size_t)(stamp_end - stamp), &ms) == 0;
    if (!ok) {
        x->st.bad_stamps++;
    } else {
        x->any_delay = 1;
    }
    if ((where & DL_CAND) && from != NULL && !x->hist_delay) {
        x->hist_delay = 1;
        x->hist_ok = (uint8_t)ok;
        str_set(&x->delay_from, from, from_end);
    }
    if (!ok || legacy) {
        return;
    }
    if ((where & DL_TOP) && from == NULL && !x->no_top) {
        x->top_delay_ok = 1; /* the last one: the recorder appends after the sender's bytes */
        x->top_stamp_ms = ms;
    }
    if ((where & DL_FWD) && !x->fwd_delay_ok) {
        x->fwd_delay_ok = 1;
        x->fwd_stamp_ms = ms;
    }
}

static void start_text(struct sw_xml *x, enum xml_text t, uint32_t depth)
{
    x->text = (uint8_t)t;
    x->text_depth = depth;
    x->text_full = 0;
}

/* Line of the '<' of the start tag just parsed: libxml2's current line minus
 * the newlines between that '<' and the parse position (16 bytes at a time
 * backwards; start tags are short and rarely span lines). */
static int64_t start_tag_line(const struct sw_xml *x)
{
    xmlParserInputPtr in = x->ctxt->input;
    int64_t line = in->line;
    const xmlChar *c = in->cur;
#ifdef XML_SSE2
    const __m128i lt = _mm_set1_epi8('<'), nl = _mm_set1_epi8('\n');
    while (c - in->base >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(c - 16));
        unsigned mlt = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, lt));
        unsigned mnl = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl));
        if (mlt != 0) {
            unsigned top = 31u - (unsigned)__builtin_clz(mlt); /* last '<' */
            mnl &= ~((2u << top) - 1u);                        /* newlines after it */
        }
        for (; mnl != 0; mnl &= mnl - 1) {
            line--;
        }
        if (mlt != 0) {
            return line;
        }
        c -= 16;
    }
#endif
    while (c > in->base) {
        c--;
        if (*c == '<') {
            break;
        }
        if (*c == '\n') {
            line--;
        }
    }
    return line;
}

/* Keep a copy of the stream start tag just parsed ('<' .. '>'), as libxml2
 * holds it (UTF-8), so recycle() can open the stream again. */
static void save_stream_tag(struct sw_xml *x)
{
    xmlParserInputPtr in = x->ctxt->input;
    const xmlChar *end = in->cur;
    const xmlChar *c = end;
    if (end >= in->end || *end != '>') {
        return; /* "<stream/>": nothing to continue */
    }
    while (c > in->base && *c != '<') {
        c--;
    }
    size_t n = (size_t)(end - c) + 1;
    if (*c != '<' || n > sizeof(x->hdr)) {
        return;
    }
    memcpy(x->hdr, c, n);
    x->hdr_len = (uint32_t)n;
}

/* A top-level stanza starts (depth 2): reset the per-stanza state; x->kind
 * is 0 for an element that is not a stanza. */
static void stanza_begin(struct sw_xml *x, const xmlChar *ln)
{
    x->st.stanzas++;
    x->skip = SK_NONE;
    x->flags = 0;
    x->cand_depth = 2;
    x->fwd_depth = 0;
    x->fwd_mode = 0;
    x->fwd_delay_ok = 0;
    x->top_delay_ok = 0;
    x->any_delay = 0;
    x->over = x->force_over;
    x->wrap_depth = x->mfwd_depth = x->cfwd_depth = 0;
    x->stanza_line = (uint32_t)rel_line(x, start_tag_line(x));
    cand_reset(x);
    x->kind = kind_of(x, ln);
}

/* A child (depth @d) of <forwarded/> in a mirror copy or a carbon: its delay,
 * then the wrapped stanza, which becomes the candidate the event describes. */
static void forwarded_child(struct sw_xml *x, const xmlChar *ln, uint8_t ns, uint32_t d,
                            const xmlChar **attrs)
{
    if (ln == x->n.delay && ns == NSI_DELAY) {
        read_delay(x, attrs, x->fwd_mode == SW_F_FORWARDED ? DL_FWD : 0u, 0);
        return;
    }
    uint16_t k = kind_of(x, ln);
    if (k == 0 || (x->fwd_mode == SW_F_CARBON && k != SW_EV_MESSAGE)) {
        return;
    }
    x->flags |= x->fwd_mode;
    if (x->fwd_mode == SW_F_FORWARDED) {
        x->st.unwrapped++;
        x->mfwd_depth = x->fwd_depth;
    } else {
        x->st.carbons++;
        x->cfwd_depth = x->fwd_depth;
    }
    cand_reset(x);
    x->kind = k;
    x->cand_depth = d;
    x->fwd_depth = 0; /* only the first stanza */
    read_stanza_attrs(x, attrs);
}

/* The local name of qualified name @q as an interned pointer comparable to
 * x->n (or @q itself when it has no prefix, or when its local part was never
 * interned, so that it is none of ours), and in *@ns its namespace: the
 * prefix's binding, else the default namespace of depth @d. */
static __attribute__((noinline)) const xmlChar *resolve_prefixed(struct sw_xml *x, const xmlChar *q,
                                                                 const xmlChar *c, uint8_t *ns)
{
    *ns = ns_prefix(x, q, (size_t)(c - q));
    const xmlChar *ln = xmlDictExists(x->ctxt->dict, c + 1, -1);
    return ln != NULL ? ln : q;
}

/* qname_colon(@q) for an element name, remembered by pointer in a small
 * direct-mapped table: names come from the context's dictionary, so equal
 * pointers are equal names, and a stream uses a few dozen (the strchr() was
 * as dear as the rest of resolve()). Emptied with the dictionary
 * (recycle()). */
static inline const xmlChar *colon_of(struct sw_xml *x, const xmlChar *q)
{
    uint64_t h = (uint64_t)(uintptr_t)q * 0x9E3779B97F4A7C15ull;
    struct xml_qn *e = &x->qn[(h >> 32) & (XML_QN_CACHE - 1)];
    if (e->q != q) {
        e->q = q;
        e->colon = qname_colon(q);
    }
    return e->colon;
}

/* (inline: once per element, and a call cost as much as the common case) */
static inline const xmlChar *resolve(struct sw_xml *x, const xmlChar *q, uint32_t d, uint8_t *ns)
{
    const xmlChar *c = colon_of(x, q);
    if (c == NULL) {
        *ns = x->dns[d];
        return q;
    }
    return resolve_prefixed(x, q, c, ns);
}

static void on_start(void *ud, const xmlChar *name, const xmlChar **attrs)
{
    struct sw_xml *x = ud;
    uint32_t d = ++x->depth;
    uint8_t uri;
    const xmlChar *ln;

    if (d <= 1) {
        if (x->hdr_len == 0) {
            save_stream_tag(x);
        }
        /* the stream element: its declarations are every stanza's scope */
        x->n_bind = 0;
        x->ns_over = 0;
        x->ns_hi = 0;
        (void)ns_enter(x, 1, attrs, 1);
        return;
    }
    if (d == 2) {
        /* (namespaces of this depth are not set yet: only the name is used) */
        stanza_begin(x, resolve(x, name, 1, &uri));
        if (x->kind == 0) {
            x->skip = SK_UNKNOWN;
            return;
        }
    } else if (x->skip != SK_NONE) {
        return;
    }
    if (d - 1 > x->lim.max_depth) {
        /* too deep: this element (and so everything under it) is ignored, the
         * stanza becomes a minimal over-limit event */
        x->over |= OV_DEPTH;
        return;
    }
    int big = 0;
    if (attrs != NULL) {
        big = ns_enter(x, d, attrs, attrs_may_be_big(x));
    } else {
        x->dns[d] = x->dns[d - 1]; /* (half the elements: no call) */
    }
    if (big) {
        x->over |= OV_ATTR;
    }
    if (d == 2) {
        read_stanza_attrs(x, attrs);
        return;
    }
    ln = resolve(x, name, d, &uri);
    if (big && kind_of(x, ln) == 0) {
        return; /* a foreign element with a huge attribute: ignored */
    }
    if (d == x->cand_depth + 1 && !x->cand_closed) {
        /* direct child of the stanza the event describes */
        if (ln == x->n.body) {
            if (x->kind == SW_EV_MESSAGE && !x->have_body) {
                x->have_body = 1;
                x->body_lines = 1;
                start_text(x, TX_BODY, d);
            }
        } else if (ln == x->n.subject) {
            if (x->kind == SW_EV_MESSAGE && !x->have_subject) {
                x->have_subject = 1;
                start_text(x, TX_SUBJECT, d);
            }
        } else if (ln == x->n.status) {
            if (x->kind == SW_EV_PRESENCE && !x->have_status) {
                x->have_status = 1;
                start_text(x, TX_STATUS, d);
            }
        } else if (ln == x->n.nick) {
            if (!x->have_nick && uri == NSI_NICK) {
                x->have_nick = 1;
                start_text(x, TX_NICK, d);
            }
        } else if (ln == x->n.delay) {
            if (uri == NSI_DELAY) {
                read_delay(x, attrs, DL_CAND | (d == 3 ? DL_TOP : 0u), 0);
            }
        } else if (ln == x->n.x) {
            if (uri == NSI_MUC) {
                x->has_muc_x = 1;
            } else if (uri == NSI_MUC_USER) {
                x->muc_user_depth = d;
            } else if (uri == NSI_CONFERENCE) {
                x->invite = 1;
            } else if (uri == NSI_DELAY_LEGACY) {
                read_delay(x, attrs, DL_CAND, 1);
            }
        } else if (ln == x->n.forwarded) {
            if (x->kind == SW_EV_MESSAGE && x->cand_depth == 2 && x->fwd_depth == 0 &&
                memchr(x->from.buf, '@', x->from.len) == NULL && uri == NSI_FORWARD) {
                x->fwd_depth = d;
                x->fwd_mode = SW_F_FORWARDED;
            }
        } else if (ln == x->n.sent || ln == x->n.received) {
            if (x->kind == SW_EV_MESSAGE && x->carbon_depth == 0 && uri == NSI_CARBONS) {
                x->carbon_depth = d;
                x->wrap_depth = x->cand_depth;
            }
        }
    } else if (x->carbon_depth != 0 && d == x->carbon_depth + 1 && !x->cand_closed) {
        if (ln == x->n.forwarded && uri == NSI_FORWARD) {
            x->fwd_depth = d;
            x->fwd_mode = SW_F_CARBON;
            /* a mirror's delay (outermost, the server's receive time) stays first */
        }
    } else if (x->fwd_depth != 0 && d == x->fwd_depth + 1) {
        forwarded_child(x, ln, uri, d, attrs);
    } else if (x->muc_user_depth != 0 && d == x->muc_user_depth + 1 && !x->cand_closed) {
        if (ln == x->n.invite) {
            x->invite = 1;
        }
    } else if (ln == x->n.delay && (x->wrap_depth | x->cfwd_depth | x->mfwd_depth) != 0 &&
               uri == NSI_DELAY) {
        /* delays met after the wrapped stanza was taken (rare: only in carbons
         * and mirror copies): on the top-level element the recorder's, in
         * the mirror's <forwarded/> the forwarder's, in a carbon's neither */
        if (d == 3) {
            read_delay(x, attrs, DL_TOP, 0);
        } else if (d == x->mfwd_depth + 1) {
            read_delay(x, attrs, DL_FWD, 0);
        } else if (d == x->cfwd_depth + 1 || d == x->wrap_depth + 1) {
            read_delay(x, attrs, 0, 0);
        }
    }
}

static struct xml_str *text_buf(struct sw_xml *x)
{
    switch (x->text) {
    case TX_BODY:
        return &x->body;
    case TX_SUBJECT:
        return &x->subject;
    case TX_STATUS:
        return &x->status;
    default:
        return &x->nick;
    }
}

/* Character data directly inside the stream element (between stanzas): only
 * whitespace belongs there (keepalives, pretty printing). Anything else stops
 * the parser, as sw_split rejects it. Failing here rather than ignoring it
 * keeps the verdict independent of how the input was cut: libxml2's push
 * parser delivers top-level text only once it sees a '<' or has 300 bytes
 * buffered, so text it still holds at the end is judged by sw_xml_finish()
 * (any non-space left unparsed fails there), text it delivered is judged
 * here, and both fail the same way. libxml2 never delivers a control byte
 * other than tab, LF and CR, so "above ' '" is "not whitespace". */
static __attribute__((noinline, cold)) void top_text(struct sw_xml *x)
{
    xmlParserInputPtr in = x->ctxt->input;
    set_error(x, in != NULL ? in->line : 0, in != NULL ? in->col : 0,
              "text at the top level of the stream");
    xmlStopParser(x->ctxt);
}

static void on_chars(void *ud, const xmlChar *ch, int len)
{
    struct sw_xml *x = ud;
    if (x->text == TX_NONE || x->depth != x->text_depth || x->skip != SK_NONE) {
        if (x->depth == 1) {
            for (int i = 0; i < len; i++) {
                if (ch[i] > ' ') {
                    top_text(x);
                    break;
                }
            }
        }
        return;
    }
    struct xml_str *s = text_buf(x);
    size_t n = (size_t)len;
    x->text_full += n;
    if (x->text_full > x->lim.max_text_bytes) {
        x->over |= OV_TEXT;
        x->text = TX_NONE;
        return;
    }
    if (x->text == TX_BODY) {
        x->body_full = (uint32_t)x->text_full;
        x->body_lines += (uint32_t)sw_split_count_nl((const char *)ch, n);
    }
    size_t room = s->cap - s->len;
    if (n > room) {
        n = room;
        if (x->text == TX_SUBJECT) {
            x->subject_trunc = 1;
        } else if (x->text == TX_STATUS) {
            x->status_trunc = 1;
        }
    }
    sw_copy_short(s->buf + s->len, ch, n);
    s->len += (uint32_t)n;
    s->buf[s->len] = '\0';
}

static void emit(struct sw_xml *x);

static void on_end(void *ud, const xmlChar *name)
{
    struct sw_xml *x = ud;
    uint32_t d = x->depth--;
    (void)name;
    if (x->ns_hi >= d) {
        ns_leave(x, d);
    }
    if (d == 2) {
        x->closed++;
        if (x->skip == SK_UNKNOWN) {
            x->st.skipped_unknown++;
        } else {
            if (x->over != 0) {
                x->st.over_limit++;
                x->st.over_depth += (x->over & OV_DEPTH) != 0;
                x->st.over_attr += (x->over & OV_ATTR) != 0;
                x->st.over_text += (x->over & OV_TEXT) != 0;
                x->st.over_jid += (x->over & OV_JID) != 0;
                x->st.over_size += (x->over & OV_SIZE) != 0;
            }
            emit(x);
        }
        x->skip = SK_NONE;
        x->text = TX_NONE;
        return;
    }
    if (x->text != TX_NONE && d == x->text_depth) {
        struct xml_str *s = text_buf(x);
        if (x->text_full > s->len) {
            utf8_trim(s);
        }
        x->text = TX_NONE;
    }
    if (d == x->cand_depth) {
        x->cand_closed = 1;
    } else if (d == x->fwd_depth) {
        x->fwd_depth = 0;
    } else if (d == x->carbon_depth) {
        x->carbon_depth = 0;
    } else if (d == x->muc_user_depth) {
        x->muc_user_depth = 0;
    }
    if (d == x->cfwd_depth) {
        x->cfwd_depth = 0;
    } else if (d == x->mfwd_depth) {
        x->mfwd_depth = 0;
    } else if (d == x->wrap_depth) {
        x->wrap_depth = 0;
    }
}

/* ---- event building ---- */

static int is(const struct xml_str *t, const char *lit, size_t n)
{
    return t->len == n && memcmp(t->buf, lit, n) == 0;
}

#define IS(t, lit) is((t), (lit), sizeof(lit) - 1)

static uint16_t type_of(uint16_t kind, const struct xml_str *t)
{
    if (t->len == 0) {
        return kind == SW_EV_MESSAGE    ? SW_T_NORMAL
               : kind == SW_EV_PRESENCE ? SW_T_AVAILABLE
                                        : SW_T_OTHER;
    }
    if (IS(t, "error")) {
        return SW_T_ERROR;
    }
    switch (kind) {
    case SW_EV_MESSAGE:
        return IS(t, "groupchat")  ? SW_T_GROUPCHAT
               : IS(t, "chat")     ? SW_T_CHAT
               : IS(t, "normal")   ? SW_T_NORMAL
               : IS(t, "headline") ? SW_T_HEADLINE
                                   : SW_T_OTHER;
    case SW_EV_PRESENCE:
        return IS(t, "unavailable")    ? SW_T_UNAVAILABLE
               : IS(t, "subscribe")    ? SW_T_SUBSCRIBE
               : IS(t, "subscribed")   ? SW_T_SUBSCRIBED
               : IS(t, "unsubscribe")  ? SW_T_UNSUBSCRIBE
               : IS(t, "unsubscribed") ? SW_T_UNSUBSCRIBED
               : IS(t, "probe")        ? SW_T_PROBE
                                       : SW_T_OTHER;
    default:
        return IS(t, "get")      ? SW_T_GET
               : IS(t, "set")    ? SW_T_SET
               : IS(t, "result") ? SW_T_RESULT
                                 : SW_T_OTHER;
    }
}

/* Does @d (@len bytes) start with one of the configured service prefixes as
 * its whole first label, followed by at least two more labels? */
static int prefix_match(const struct sw_xml *x, const char *d, size_t len)
{
    const char *dot = memchr(d, '.', len);
    if (dot == NULL || memchr(dot + 1, '.', len - (size_t)(dot + 1 - d)) == NULL) {
        return 0;
    }
    size_t l = (size_t)(dot - d);
    for (size_t i = 0; i < x->n_pfx; i++) {
        if (strlen(x->pfx[i]) == l && strncasecmp(x->pfx[i], d, l) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Is @j's domain a MUC service: in the configured list, or (list empty) by
 * its first label. The label test runs once per domain hash seen recently
 * (direct-mapped cache), not per event. */
static int is_muc_domain(struct sw_xml *x, const struct sw_jid *j)
{
    if (j->domain == 0) {
        return 0;
    }
    if (x->n_muc > 0 || x->n_pfx == 0) {
        return in_set(x->muc, x->n_muc, j->domain);
    }
    struct xml_muc_cache *e = &x->mcache[j->domain & (XML_MUC_CACHE - 1)];
    if (e->hash != j->domain) {
        e->hash = j->domain;
        e->yes = (uint8_t)prefix_match(x, j->text + j->domain_off, j->domain_len);
    }
    return e->yes;
}

/* Is the described stanza a re-delivery by a room or a server (SW_F_HISTORY)?
 * The rule is the file comment's; @f holds the MUC facts already derived. */
static int is_redelivery(const struct sw_xml *x, const struct sw_event *ev, uint32_t f,
                         int muc_from)
{
    struct sw_jid dj;
    if (x->delay_from.len == 0 || !x->hist_ok) {
        return 0;
    }
    if (ev->to.local_len == 0 || (f & (SW_F_MUC_GROUPCHAT | SW_F_MUC_PRESENCE | SW_F_MUC_PM))) {
        return 0; /* delivered to an account, never sent to a room */
    }
    sw_jid_parse(&dj, x->delay_from.buf, x->delay_from.len);
    if (dj.res_len != 0 || dj.domain == 0) {
        return 0;
    }
    if (dj.local_len > 0) {
        /* (a) MUC history: the room at a MUC service (as room@service/nick,
         * or itself for the subject) reflecting to an occupant */
        return ev->kind == SW_EV_MESSAGE && ev->type == SW_T_GROUPCHAT && muc_from &&
               dj.bare == ev->from.bare;
    }
    /* (b) offline storage: the recipient's server. Never on a live tap: a
     * server delivers its offline store straight to the session, past every
     * hook a mirror sits on, so a live copy claiming it is a remote sender's
     * forgery to slip under the rate counters. */
    return !x->no_top && ev->kind != SW_EV_IQ && dj.domain == ev->to.domain;
}

/* The cache, zeroed (all slots empty); NULL if out of memory. 64-byte aligned
 * so that each slot is one cache line. */
static struct xml_jid_cache *jid_cache_new(void)
{
    size_t n = XML_JID_CACHE * sizeof(struct xml_jid_cache);
    struct xml_jid_cache *c = aligned_alloc(64, n);
    if (c != NULL) {
        memset(c, 0, n);
    }
    return c;
}

/* sw_jid_parse(@j, @s), through a direct-mapped cache of the JIDs seen
 * last: a stream names the same rooms and people over and over, and the
 * split and the three hashes depend on the bytes alone. 4096 slots: on swgen
 * captures 1024 kept ~78% of the lookups, 4096 ~93%; a JID over
 * XML_JID_CACHE_LEN bytes (~3% there) is split every time. The bench
 * capture names more people: 4096 slots keep 59% there, 16384 77%, 65536
 * 89%, but 16384 (1 MB) did not pay: the slots jid_set() fetches missed the
 * caches about as often as the splits it saved (perf samples, 2026-12-06). */
static void jid_split(struct sw_xml *x, struct sw_jid *j, const struct xml_str *s)
{
    const char *text = s->buf;
    uint32_t len = s->len;
    if (len > 0 && len <= XML_JID_CACHE_LEN && x->jcache == NULL &&
        x->jid_plain++ >= XML_JID_CACHE_AFTER) {
        x->jcache = jid_cache_new(); /* NULL (out of memory): split without it */
    }
    /* the slot jid_set() computed, unless there was no cache yet */
    struct xml_jid_cache *e = len > 0 && s->slot != NULL ? s->slot : jid_slot(x, text, len);
    if (e == NULL) {
        sw_jid_parse(j, text, len);
        return;
    }
    if (e->len == len && memcmp(e->text, text, len) == 0) {
        j->text = text;
        j->len = (uint16_t)len;
        j->local_len = e->local_len;
        j->domain_off = e->domain_off;
        j->domain_len = e->domain_len;
        j->res_off = e->res_off;
        j->res_len = e->res_len;
        j->bare = e->bare;
        j->domain = e->domain;
        j->full = e->full;
        return;
    }
    sw_jid_parse(j, text, len);
    /* every offset and length is <= len <= XML_JID_CACHE_LEN: fits a byte */
    e->bare = j->bare;
    e->domain = j->domain;
    e->full = j->full;
    e->len = (uint8_t)len;
    e->local_len = (uint8_t)j->local_len;
    e->domain_off = (uint8_t)j->domain_off;
    e->domain_len = (uint8_t)j->domain_len;
    e->res_off = (uint8_t)j->res_off;
    e->res_len = (uint8_t)j->res_len;
    memcpy(e->text, text, len);
}

static void emit(struct sw_xml *x)
{
    struct sw_event *ev = &x->ev;
    uint32_t f = x->flags;
    int muc_from, muc_to;

    /* Every field not set below is 0. A copy of a zero event rather than
     * memset: GCC makes this 240-byte memset a rep stos, whose start-up was a
     * quarter of on_end's time; the copy is 15 vector moves. */
    static const struct sw_event ev_zero;
    *ev = ev_zero;
    ev->kind = x->kind;
    ev->type = type_of(x->kind, &x->type);
    jid_split(x, &ev->from, &x->from);
    jid_split(x, &ev->to, &x->to);
    muc_from = is_muc_domain(x, &ev->from);
    muc_to = is_muc_domain(x, &ev->to);

    if (ev->kind == SW_EV_MESSAGE) {
        if (ev->type == SW_T_GROUPCHAT) {
            if (ev->from.res_len > 0 && (muc_from || ev->to.res_len > 0)) {
                f |= SW_F_MUC_REFLECTION;
            } else if (ev->to.local_len > 0 && ev->to.res_len == 0 && !muc_from) {
                /* (from a muc domain without a nick it is the room itself
                 * talking, e.g. a subject: not an occupant's send) */
                f |= SW_F_MUC_GROUPCHAT;
            }
        } else if (ev->type == SW_T_CHAT && muc_to && ev->to.res_len > 0) {
            f |= SW_F_MUC_PM;
        }
        if (x->invite) {
            f |= SW_F_MUC_INVITE;
        }
    } else if (ev->kind == SW_EV_PRESENCE) {
        if (ev->to.res_len > 0 && (muc_to || x->has_muc_x)) {
            f |= SW_F_MUC_PRESENCE;
            if (ev->type == SW_T_UNAVAILABLE) {
                f |= SW_F_MUC_LEAVE;
            } else if (ev->type == SW_T_AVAILABLE && x->has_muc_x) {
                f |= SW_F_MUC_JOIN;
            }
        }
    }
    if (ev->from.local_len == 0 || (x->n_srv > 0 && in_set(x->srv, x->n_srv, ev->from.bare))) {
        f |= SW_F_FROM_SERVER;
    }

    /* keys */
    ev->key[SW_SHARD_SENDER] = ev->from.bare;
    ev->key[SW_SHARD_SENDER_DOMAIN] = ev->from.domain;
    if (f & (SW_F_MUC_GROUPCHAT | SW_F_MUC_PRESENCE | SW_F_MUC_PM)) {
        ev->key[SW_SHARD_ROOM] = ev->to.bare;
    } else {
        if ((f & SW_F_MUC_REFLECTION) || (muc_from && ev->type == SW_T_GROUPCHAT)) {
            ev->key[SW_SHARD_ROOM] = ev->from.bare; /* the room speaking */
        }
        ev->key[SW_SHARD_TARGET] = ev->to.bare;
    }

    /* time: the recorder's (see the file comment), never the sender's */
    ev->t_ms = x->top_delay_ok   ? x->top_stamp_ms
               : x->fwd_delay_ok ? x->fwd_stamp_ms
                                 : x->arrival_ms;
    if (x->any_delay) {
        f |= SW_F_DELAYED;
    }
    if (x->hist_delay && is_redelivery(x, ev, f, muc_from)) {
        f |= SW_F_HISTORY;
    }
    if (x->over != 0) {
        /* minimal event: kind, type, from, to and the facts derived from them */
        f |= SW_F_OVER_LIMIT;
        if (x->over & (OV_DEPTH | OV_JID)) {
            f |= SW_F_OVER_FORM;
        }
        str_clear(&x->id);
        str_clear(&x->body);
        str_clear(&x->subject);
        str_clear(&x->status);
        str_clear(&x->nick);
        x->have_body = x->have_subject = x->have_nick = 0;
        x->invite = 0;
        f &= ~SW_F_MUC_INVITE;
    }

    /* strings */
    ev->id = x->id.buf;
    ev->id_len = (uint16_t)x->id.len;
    ev->id_hash = sw_hash64(x->id.buf, x->id.len);
    ev->body = x->body.buf;
    ev->body_len = (uint16_t)x->body.len;
    ev->subject = x->subject.buf;
    ev->subject_len = (uint16_t)x->subject.len;
    ev->status = x->status.buf;
    ev->status_len = (uint16_t)x->status.len;
    if (x->have_body) {
        f |= SW_F_HAS_BODY;
        ev->body_full = x->body_full;
        ev->body_lines = x->body_lines;
        if (x->body_full > x->body.len) {
            f |= SW_F_BODY_TRUNCATED;
        }
    }
    if (x->have_subject) {
        f |= SW_F_HAS_SUBJECT;
    }
    if (f & (SW_F_MUC_PRESENCE | SW_F_MUC_REFLECTION)) {
        /* the room JID's resource replaces any XEP-0172 nick */
        const struct sw_jid *rj = (f & SW_F_MUC_PRESENCE) ? &ev->to : &ev->from;
        const xmlChar *r = (const xmlChar *)rj->text + rj->res_off;
        str_set(&x->nick, r, r + rj->res_len);
        if (rj->res_len > x->nick.len) {
            utf8_trim(&x->nick);
        }
    }
    ev->nick = x->nick.buf;
    ev->nick_len = (uint16_t)x->nick.len;

    ev->flags = f;
    ev->seq = x->seq++;
    ev->stream = x->stream;
    ev->line = x->stanza_line;
    x->st.by_kind[ev->kind == SW_EV_MESSAGE ? 0 : ev->kind == SW_EV_PRESENCE ? 1 : 2]++;
    x->cb(x->ud, ev);
}

/* ---- public API ---- */

static int str_alloc(struct xml_str *s, uint32_t cap)
{
    s->buf = malloc((size_t)cap + 1);
    if (s->buf == NULL) {
        return SW_ENOMEM;
    }
    s->cap = cap;
    str_clear(s);
    return 0;
}

/* xmlInitParser() is not safe to race on first use: run it once per process. */
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init_once(void)
{
    xmlInitParser();
}

/* A push parser context on x->sax, with the names we compare interned in its
 * dictionary (into @n). NULL on allocation failure. */
static xmlParserCtxtPtr new_ctxt(struct sw_xml *x, struct xml_names *n)
{
    xmlParserCtxtPtr c = xmlCreatePushParserCtxt(&x->sax, x, NULL, 0, NULL);
    if (c == NULL) {
        return NULL;
    }
    xmlCtxtUseOptions(c, XML_PARSE_NONET | XML_PARSE_NOWARNING);
    static const struct {
        size_t off;
        const char *name;
    } names[] = {
#define NAME(f) {offsetof(struct xml_names, f), #f}
        NAME(message), NAME(presence), NAME(iq),      NAME(forwarded), NAME(delay),
        NAME(x),       NAME(body),     NAME(subject), NAME(status),    NAME(nick),
        NAME(sent),    NAME(received), NAME(invite),  NAME(from),      NAME(to),
        NAME(type),    NAME(id),       NAME(stamp),   NAME(xmlns),
#undef NAME
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const xmlChar *v = xmlDictLookup(c->dict, (const xmlChar *)names[i].name, -1);
        if (v == NULL) {
            xmlFreeParserCtxt(c);
            return NULL;
        }
        memcpy((char *)n + names[i].off, &v, sizeof(v));
    }
    return c;
}

static uint32_t lim_or(uint32_t v, uint32_t def)
{
    return v != 0 ? v : def;
}

int sw_xml_new(const struct sw_xml_opts *opts, sw_xml_event_fn cb, void *ud, struct sw_xml **out)
{
    struct sw_xml *x;
    int rc = SW_ENOMEM;

    if (cb == NULL || out == NULL) {
        return SW_EINVAL;
    }
    pthread_once(&xml_once, xml_init_once);
    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return SW_ENOMEM;
    }
    x->cb = cb;
    x->ud = ud;
    if (opts != NULL) {
        x->lim = opts->limits;
        x->muc = opts->muc_domains;
        x->n_muc = opts->muc_domains != NULL ? opts->n_muc_domains : 0;
        x->srv = opts->server_jids;
        x->n_srv = opts->server_jids != NULL ? opts->n_server_jids : 0;
        x->no_top = opts->no_top_stamps ? 1 : 0;
        if (x->n_muc == 0 && opts->muc_prefixes != NULL) {
            x->pfx = opts->muc_prefixes;
            x->n_pfx = opts->n_muc_prefixes;
        }
    }
    x->lim.max_depth = lim_or(x->lim.max_depth, 32);
    x->lim.max_attr_bytes = lim_or(x->lim.max_attr_bytes, 4096);
    x->lim.max_text_bytes = lim_or(x->lim.max_text_bytes, 65536);
    x->lim.max_stanza_bytes = lim_or(x->lim.max_stanza_bytes, 262144);
    x->lim.body_keep = lim_or(x->lim.body_keep, 1024);
    if (x->lim.body_keep > UINT16_MAX) {
        x->lim.body_keep = UINT16_MAX;
    }
    uint32_t acap = x->lim.max_attr_bytes < UINT16_MAX ? x->lim.max_attr_bytes : UINT16_MAX;
    /* default namespaces of depths 0 .. max_depth + 1 (deeper elements are ignored) */
    x->dns = calloc((size_t)x->lim.max_depth + 2, 1);
    if (x->dns == NULL) {
        goto fail;
    }
    if (str_alloc(&x->from, acap) || str_alloc(&x->to, acap) || str_alloc(&x->type, 32) ||
        str_alloc(&x->id, acap) || str_alloc(&x->delay_from, acap) ||
        str_alloc(&x->body, x->lim.body_keep) || str_alloc(&x->subject, x->lim.body_keep) ||
        str_alloc(&x->status, x->lim.body_keep) || str_alloc(&x->nick, x->lim.body_keep)) {
        goto fail;
    }

    memset(&x->sax, 0, sizeof(x->sax));
    /* SAX1: libxml2 parses start tags without namespace processing (see the
     * file comment); only the SAX1 part of the handler is copied */
    x->sax.initialized = 1;
    x->sax.startElement = on_start;
    x->sax.endElement = on_end;
    x->sax.characters = on_chars;
    x->sax.cdataBlock = on_chars;
    x->sax.ignorableWhitespace = on_chars;
    x->sax.error = on_error;
    x->sax.fatalError = on_error; /* (unused by libxml2 2.9) */
    x->sax.internalSubset = on_internal_subset;
    x->sax.externalSubset = on_internal_subset;
    x->sax.entityDecl = on_entity_decl;
    x->sax.elementDecl = on_element_decl;
    x->sax.attributeDecl = on_attribute_decl;
    x->sax.notationDecl = on_notation_decl;
    x->sax.unparsedEntityDecl = on_unparsed_decl;

    x->ctxt = new_ctxt(x, &x->n);
    if (x->ctxt == NULL) {
        goto fail;
    }
    x->line_base = 1;
    x->line0 = 1;
    x->slice = XML_FEED_FIRST;
    *out = x;
    return 0;
fail:
    sw_xml_free(x);
    return rc;
}

/* libxml2's line number for the next byte fed: its current line plus the
 * newlines still waiting unparsed in its buffer (usually a little trailing
 * whitespace). Using libxml2's own count keeps event lines consistent. */
static int64_t next_line(xmlParserCtxtPtr c)
{
    xmlParserInputPtr in = c->input;
    int64_t line = 1;
    if (in != NULL) {
        line = in->line;
        if (in->cur != NULL && in->end != NULL && in->end > in->cur) {
            line += (int64_t)sw_split_count_nl((const char *)in->cur, (size_t)(in->end - in->cur));
        }
    }
    return line;
}

static int only_space(xmlParserCtxtPtr c)
{
    xmlParserInputPtr in = c->input;
    if (in == NULL || in->cur == NULL || in->end == NULL) {
        return 1;
    }
    for (const xmlChar *p = in->cur; p < in->end; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            return 0;
        }
    }
    return 1;
}

/* The first unparsed non-space byte is not markup: text libxml2 holds back
 * (it hands over top-level text once it sees a '<' or 300 bytes). */
static int pending_text(xmlParserCtxtPtr c)
{
    xmlParserInputPtr in = c->input;
    for (const xmlChar *p = in->cur; p < in->end; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            return *p != '<';
        }
    }
    return 0;
}

/* Between stanzas, swap the context for a fresh one that has seen only the
 * stream start tag, bounding the dictionary. Line numbering continues where
 * it was. On any failure the old context simply stays. */
static void recycle(struct sw_xml *x)
{
    struct xml_names n;
    xmlParserCtxtPtr nc = new_ctxt(x, &n);
    if (nc == NULL) {
        return;
    }
    xmlParserCtxtPtr old = x->ctxt;
    uint32_t depth = x->depth;
    int64_t before = next_line(old);
    /* the stream element's bindings point into the old dictionary until the
     * new context has parsed its own copy of the tag */
    uint32_t n_bind = x->n_bind, ns_over = x->ns_over, ns_hi = x->ns_hi;
    uint8_t dns1 = x->dns[1];
    struct xml_ns_binding bind[XML_NS_BINDINGS];
    memcpy(bind, x->bind, sizeof(bind));
    x->ctxt = nc;
    x->depth = 0;
    if (xmlParseChunk(nc, x->hdr, (int)x->hdr_len, 0) != 0 || nc->wellFormed == 0 ||
        x->depth != 1 || x->failed) {
        xmlFreeParserCtxt(nc); /* cannot happen for a tag libxml2 accepted once */
        x->ctxt = old;
        x->depth = depth;
        x->n_bind = n_bind;
        x->ns_over = ns_over;
        x->ns_hi = ns_hi;
        x->dns[1] = dns1;
        memcpy(x->bind, bind, sizeof(bind));
        return;
    }
    x->n = n;
    x->attr_mark = 0;                /* (offsets start again in the new context) */
    memset(x->qn, 0, sizeof(x->qn)); /* (the old names are freed with their dictionary) */
    x->line0 += next_line(nc) - before;
    x->resets++;
    xmlFreeParserCtxt(old);
}

uint64_t sw_xml_resets(const struct sw_xml *x)
{
    return x->resets;
}

uint64_t sw_xml_closed(const struct sw_xml *x)
{
    return x->closed;
}

void sw_xml_force_over(struct sw_xml *x, int on)
{
    x->force_over = on ? OV_SIZE : 0;
}

static int check(struct sw_xml *x, int rc, struct sw_errbuf *eb)
{
    xmlParserCtxtPtr c = x->ctxt;
    if (x->failed || c->wellFormed == 0 || c->instate == XML_PARSER_EOF ||
        rc == XML_ERR_NO_MEMORY) {
        if (!x->err_set) {
            xmlParserInputPtr in = c->input;
            set_error(x, in != NULL ? in->line : 0, in != NULL ? in->col : 0,
                      rc == XML_ERR_NO_MEMORY ? "out of memory" : "parse error");
        }
        if (!x->failed) {
            x->st.parse_errors++;
        }
        x->failed = 1;
        return sw_errbuf_set(eb, SW_EPARSE, "%s", x->err);
    }
    return 0;
}

int sw_xml_feed(struct sw_xml *x, const char *buf, size_t len, int64_t arrival_ms,
                struct sw_errbuf *eb)
{
    if (x->failed) {
        return sw_errbuf_set(eb, SW_EPARSE, "%s", x->err);
    }
    x->arrival_ms = arrival_ms;
    x->st.bytes += len;
    /* Slices: without XML_PARSE_HUGE libxml2 halts ("Huge input lookup") once
     * more than 10 MB wait unparsed in its buffer, which one big chunk causes. */
    while (len > 0) {
        int n = len > x->slice ? (int)x->slice : (int)len;
        if (x->slice < XML_FEED_SLICE) {
            x->slice *= 2; /* see XML_FEED_FIRST */
        }
        int rc;
        if (x->ctxt->input != NULL && x->ctxt->input->cur - x->ctxt->input->base > 4096) {
            /* Let libxml2 drop what it has parsed before the push, not after:
             * it shrinks its buffer (memmove of what is left) at the start of
             * each parse, so pushing first would move every slice twice. An
             * empty push only runs that step (and parses nothing new). */
            rc = xmlParseChunk(x->ctxt, NULL, 0, 0);
            int r = check(x, rc, eb);
            if (r != 0) {
                return r;
            }
        }
        rc = xmlParseChunk(x->ctxt, buf, n, 0);
        int r = check(x, rc, eb);
        if (r != 0) {
            return r;
        }
        buf += n;
        len -= (size_t)n;
    }
    if (x->depth == 1 && x->hdr_len > 0 && xmlDictSize(x->ctxt->dict) > XML_DICT_RECYCLE &&
        only_space(x->ctxt)) {
        recycle(x);
    }
    return 0;
}

int sw_xml_finish(struct sw_xml *x, struct sw_errbuf *eb)
{
    if (x->failed) {
        return sw_errbuf_set(eb, SW_EPARSE, "%s", x->err);
    }
    xmlParserInputPtr in = x->ctxt->input;
    int pending = !only_space(x->ctxt); /* unparsed markup left (a cut start tag) */
    if (x->depth >= 2 || pending || (x->depth == 0 && x->ctxt->instate != XML_PARSER_EPILOG)) {
        set_error(x, in != NULL ? in->line : 0, in != NULL ? in->col : 0,
                  x->depth >= 2           ? "truncated stanza at end of input"
                  : x->depth == 0         ? "no stream element"
                  : pending_text(x->ctxt) ? "text at the top level of the stream"
                                          : "truncated markup at end of input");
        x->failed = 1;
        x->st.parse_errors++;
        return sw_errbuf_set(eb, SW_EPARSE, "%s", x->err);
    }
    /* Do not terminate libxml2's parse: a missing </stream:stream> is fine, and
     * everything complete has been delivered already. */
    return 0;
}

void sw_xml_set_seq(struct sw_xml *x, uint64_t base)
{
    x->seq = base;
}

void sw_xml_set_stream(struct sw_xml *x, uint16_t stream, uint32_t line_base)
{
    x->stream = stream;
    x->line_base = line_base;
    x->line0 = next_line(x->ctxt);
}

const struct sw_xml_stats *sw_xml_stats(const struct sw_xml *x)
{
    return &x->st;
}

void sw_xml_free(struct sw_xml *x)
{
    if (x == NULL) {
        return;
    }
    if (x->ctxt != NULL) {
        xmlFreeParserCtxt(x->ctxt);
    }
    free(x->jcache);
    free(x->dns);
    free(x->from.buf);
    free(x->to.buf);
    free(x->type.buf);
    free(x->id.buf);
    free(x->delay_from.buf);
    free(x->body.buf);
    free(x->subject.buf);
    free(x->status.buf);
    free(x->nick.buf);
    free(x);
}
