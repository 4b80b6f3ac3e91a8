/*
 * xml.h - stanza stream parsing: a fast boundary splitter and the libxml2 (SAX1)
 * push parser that turns stanzas into struct sw_event.
 *
 * Two layers, both incremental (any split of the input gives the same result):
 *  - sw_split: a small hand-written scanner that only tracks XML nesting (tags,
 *    quoted attribute values, comments, CDATA, PIs) to find the stream header
 *    and the byte range of every top-level stanza. It lets the engine cut a
 *    capture into chunks of whole stanzas that several threads parse in
 *    parallel, and skip oversize stanzas before libxml2 buffers them. It does
 *    NOT validate: libxml2 does.
 *  - sw_xml: one libxml2 SAX1 push parser per stream (or per parsing thread, fed
 *    the stream header and then whole-stanza chunks). No DOM, no entity
 *    expansion, no DTD, no network; depth/attribute/text limits. Emits one event
 *    per top-level message/presence/iq (mirror copies unwrapped) through a
 *    callback; strings in the event point into parser scratch valid only during
 *    the callback (copy with sw_event_pack()).
 *
 * Threading: an instance is used by one thread at a time. Ownership: _new/_free.
 */
#ifndef SW_XML_H
#define SW_XML_H

#include <stddef.h>
#include <stdint.h>

#include "sw/event.h"
#include "sw/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Over max_depth, max_attr_bytes or max_text_bytes (or a JID over 3071 bytes)
 * a stanza still yields a minimal event flagged SW_F_OVER_LIMIT (xml.c). */
struct sw_xml_limits {
    uint32_t max_depth;        /* element nesting inside a stanza (default 32) */
    uint32_t max_attr_bytes;   /* one attribute value (default 4096) */
    uint32_t max_text_bytes;   /* one text node (default 65536) */
    uint32_t max_stanza_bytes; /* one top-level stanza (default 262144); the splitter skips
                                * larger ones (counted), the engine's reader stands in a
                                * small element for each (engine/oversize.c) */
    uint32_t body_keep;        /* bytes of body/subject/status kept in the event (default 1024) */
};

/* Domain hashes (sw_hash64_lower of the domain) and bare-JID hashes the parser
 * uses to set SW_F_MUC_* and SW_F_FROM_SERVER. Borrowed, read-only. */
struct sw_xml_opts {
    struct sw_xml_limits limits;
    const uint64_t *muc_domains;
    size_t n_muc_domains;
    const uint64_t *server_jids; /* bare JIDs never treated as offenders (announce bots, ...) */
    size_t n_server_jids;
    /* Addition: MUC services by convention. Used only when n_muc_domains is 0:
     * a domain whose first label equals one of these (ASCII case-insensitive)
     * and that has at least two more labels is a MUC service. Borrowed. */
    const char *const *muc_prefixes;
    size_t n_muc_prefixes;
    /* Never take event time from a <delay/> on a plain top-level stanza (a
     * live tap: there its sender wrote it); only a mirror wrapper's stamp or
     * arrival time. Replay of a capture leaves it false (the recorder's). */
    int no_top_stamps;
};

/* The engine's splitter runs with this max_depth, whatever limits.max_depth
 * (the parser's) is: it drops (counts) only what libxml2 would refuse anyway
 * (256 levels, an error for the whole stanza). */
#define SW_SPLIT_HARD_DEPTH 200

struct sw_xml_stats {
    uint64_t bytes;
    uint64_t stanzas;          /* top-level stanzas seen (before filtering) */
    uint64_t by_kind[3];       /* message, presence, iq events emitted */
    uint64_t unwrapped;        /* mirror copies unwrapped */
    uint64_t carbons;          /* carbon copies flagged */
    uint64_t skipped_oversize; /* stanzas over max_stanza_bytes (counted by sw_split) */
    uint64_t skipped_depth;    /* unused by sw_xml (the splitter counts its own) */
    uint64_t skipped_attr;     /* unused by sw_xml (over-limit stanzas are not skipped) */
    uint64_t skipped_unknown;  /* top-level elements that are not message/presence/iq */
    uint64_t bad_stamps;       /* unparsable delay stamps (arrival time used) */
    uint64_t parse_errors;
    uint64_t over_limit; /* minimal SW_F_OVER_LIMIT events, and why (a stanza may count twice): */
    uint64_t over_depth, over_attr, over_text, over_jid;
    uint64_t over_size;   /* stand-ins for stanzas over max_stanza_bytes (or too deep to split) */
    uint64_t malformed;   /* stanzas skipped as not well-formed (the pipeline goes on) */
    uint64_t ns_overflow; /* xmlns:p declarations past the parser's bound of prefixes in scope */
    uint64_t reflections; /* MUC reflections left unparsed (engine.skip_reflections; in stanzas) */
};

/* ---- splitter ---- */
struct sw_split;

/* Callbacks get absolute stream offsets [start, end). */
struct sw_split_cb {
    void (*header)(void *ud, uint64_t start, uint64_t end); /* <?xml?> + <stream:stream ...> */
    void (*stanza)(void *ud, uint64_t start, uint64_t end,
                   uint32_t line); /* one complete top-level element, 1-based start line */
    void (*close)(void *ud, uint64_t start, uint64_t end); /* </stream:stream> */
    void *ud;
    /* optional (last, so positional initializers stay valid): a top-level
     * element not reported as a stanza because it is longer than
     * max_stanza_bytes or nested deeper than max_depth */
    void (*skipped)(void *ud, uint64_t start, uint64_t end, uint32_t line);
    /* optional: junk between stanzas (text, an unbalanced close tag, CDATA or
     * bad '<!' markup at the top level of the open stream), [start, end) up to
     * the next top-level '<' or the end of input, at 1-based line:col, with a
     * static reason. Without it such junk is SW_EPARSE and the scanner fails. */
    void (*junk)(void *ud, uint64_t start, uint64_t end, uint32_t line, uint32_t col,
                 const char *reason);
};

int sw_split_new(const struct sw_xml_limits *lim, const struct sw_split_cb *cb,
                 struct sw_split **out);
/** Scan the next @len bytes of the stream. Returns 0, or SW_EPARSE with @eb =
 *  "line:col: reason" for input that cannot be a stanza stream (text or junk
 *  at top level, no stream header, unbalanced close, DOCTYPE). Stanzas nested
 *  over max_depth or longer than max_stanza_bytes are not reported, only
 *  counted (sw_split_stats()). A UTF-8 BOM before the header is skipped. */
int sw_split_feed(struct sw_split *s, const char *buf, size_t len, struct sw_errbuf *eb);
/** End of input: 0, or SW_EPARSE if EOF falls inside a stanza (truncated).
 *  A missing </stream:stream> is fine. */
int sw_split_finish(struct sw_split *s, struct sw_errbuf *eb);
/** 1-based line and column of the scanner position (for error messages). */
void sw_split_position(const struct sw_split *s, uint32_t *line, uint32_t *col);
/** Stanzas not reported because they were longer than max_stanza_bytes or nested
 *  deeper than max_depth (either pointer may be NULL). */
void sw_split_stats(const struct sw_split *s, uint64_t *skipped_oversize, uint64_t *skipped_depth);
void sw_split_free(struct sw_split *s);

/* ---- parser ---- */
struct sw_xml;

/* Called once per emitted event, on the feeding thread. */
typedef void (*sw_xml_event_fn)(void *ud, const struct sw_event *ev);

int sw_xml_new(const struct sw_xml_opts *opts, sw_xml_event_fn cb, void *ud, struct sw_xml **out);
/** Parse bytes. @arrival_ms is the event time for stanzas without a delay stamp.
 *  Returns 0 or SW_EPARSE with @eb = "line:col: reason" (position relative to
 *  everything fed to this instance); after an error the instance is dead. */
int sw_xml_feed(struct sw_xml *x, const char *buf, size_t len, int64_t arrival_ms,
                struct sw_errbuf *eb);
/** End of input (a missing </stream:stream> is fine; a truncated stanza is SW_EPARSE). */
int sw_xml_finish(struct sw_xml *x, struct sw_errbuf *eb);
/** Next events get seq = base, base+1, ... (the engine sets it per chunk). */
void sw_xml_set_seq(struct sw_xml *x, uint64_t base);
/** Events get ev->stream = @stream and ev->line / error positions are reported as
 *  @line_base + (lines fed since this call); call before each chunk. */
void sw_xml_set_stream(struct sw_xml *x, uint16_t stream, uint32_t line_base);
const struct sw_xml_stats *sw_xml_stats(const struct sw_xml *x);
void sw_xml_free(struct sw_xml *x);

/* ---- events ---- */
/** Bytes sw_event_pack() needs for @ev's strings. */
size_t sw_event_text_size(const struct sw_event *ev);
/** Copy @src into @dst with every string copied into @arena (at least
 *  sw_event_text_size(src) bytes). Returns bytes of arena used. */
size_t sw_event_pack(const struct sw_event *src, struct sw_event *dst, char *arena);
/** Split @text (len bytes) into @j, computing hashes. */
void sw_jid_parse(struct sw_jid *j, const char *text, size_t len);

#ifdef __cplusplus
}
#endif
#endif
