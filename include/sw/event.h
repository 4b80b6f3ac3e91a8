/*
 * event.h - the compact, fixed-size event every detector sees.
 *
 * The XML layer (engine/xml.c) turns one top-level stanza (after unwrapping a
 * Prosody mod_firewall FORWARD mirror copy) into one
 * struct sw_event. Strings are NOT owned by the event: they point into the
 * text arena of the batch that carries it and live exactly as long as that
 * batch, i.e. for the duration of one detector process() call. A detector that
 * keeps text must copy it (bounded). All strings are NUL-terminated and their
 * lengths exclude the NUL; a missing field is "" with length 0, never NULL.
 *
 * JIDs are split into local/domain/resource with 64-bit hashes (case-folded
 * local and domain; resource kept exact) so detectors key their tables on
 * hashes and only copy text when they report.
 */
#ifndef SW_EVENT_H
#define SW_EVENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Stanza kinds, usable as a mask in struct sw_detector_ops.events. */
enum sw_ev_kind {
    SW_EV_MESSAGE = 1u << 0,
    SW_EV_PRESENCE = 1u << 1,
    SW_EV_IQ = 1u << 2,
};
#define SW_EV_ALL (SW_EV_MESSAGE | SW_EV_PRESENCE | SW_EV_IQ)

/* The stanza's type attribute. A message without type is SW_T_NORMAL; a presence
 * without type is SW_T_AVAILABLE. */
enum sw_ev_type {
    SW_T_NORMAL = 0,
    SW_T_CHAT,
    SW_T_GROUPCHAT,
    SW_T_HEADLINE,
    SW_T_ERROR,
    SW_T_AVAILABLE,
    SW_T_UNAVAILABLE,
    SW_T_SUBSCRIBE,
    SW_T_SUBSCRIBED,
    SW_T_UNSUBSCRIBE,
    SW_T_UNSUBSCRIBED,
    SW_T_PROBE,
    SW_T_GET,
    SW_T_SET,
    SW_T_RESULT,
    SW_T_OTHER,
    SW_T__COUNT
};

/* Facts the parser derives (bit flags in sw_event.flags). "room" below means a
 * JID at a MUC service: a domain listed in config muc.services, or a bare JID
 * that receives type='groupchat', or the target of a presence carrying
 * <x xmlns='http://jabber.org/protocol/muc'/>. */
enum sw_ev_flag {
    SW_F_FORWARDED = 1u << 0,       /* unwrapped from a mirror <forwarded/> copy */
    SW_F_CARBON = 1u << 1,          /* message carbon copy (urn:xmpp:carbons:2): not a new send */
    SW_F_DELAYED = 1u << 2,         /* had a XEP-0203 (or XEP-0091) stamp somewhere; t_ms is
                                     * the recorder's, never the sender's (engine/xml.c) */
    SW_F_MUC_GROUPCHAT = 1u << 3,   /* groupchat message from an occupant to a bare room JID */
    SW_F_MUC_REFLECTION = 1u << 4,  /* a room's copy from room@service/nick to an occupant:
                                     * NEVER counted as the occupant's own message */
    SW_F_MUC_JOIN = 1u << 5,        /* available presence to room/nick with the muc <x/> */
    SW_F_MUC_PRESENCE = 1u << 6,    /* presence to room/nick (join, leave, nick change, status) */
    SW_F_MUC_LEAVE = 1u << 7,       /* unavailable presence to room/nick */
    SW_F_MUC_PM = 1u << 8,          /* chat message to room/nick (private message in a room) */
    SW_F_HISTORY = 1u << 9,         /* re-delivery: MUC history a room at a MUC service
                                     * reflects to an occupant, or offline storage by the
                                     * recipient's server (the one rule: engine/xml.c);
                                     * exclude from rate counters */
    SW_F_FROM_SERVER = 1u << 10,    /* from is a bare domain (server or component), or listed in
                                     * muc.server_jids: never an offender */
    SW_F_BODY_TRUNCATED = 1u << 11, /* body longer than limits.body_keep: text cut, see body_full */
    SW_F_HAS_BODY = 1u << 12,
    SW_F_HAS_SUBJECT = 1u << 13,
    SW_F_MUC_INVITE = 1u << 14, /* message with a MUC mediated/direct invitation */
    SW_F_BODY_FP = 1u << 15,    /* body_fp/body_fp_len hold the body's SimHash, computed once
                                 * on the parser thread (see sw_event.body_fp) */
    SW_F_OVER_LIMIT = 1u << 16, /* over a parser limit (depth, attribute, text, JID length):
                                 * a minimal event, only kind, type, from, to (a JID over
                                 * 3071 bytes is "", never cut) and the facts from them */
    SW_F_OVER_FORM = 1u << 17,  /* with SW_F_OVER_LIMIT: over a limit no conforming client
                                 * reaches (nesting beyond limits.max_depth, a JID part over
                                 * RFC 7622's 1023 bytes), not only a big attribute, text or
                                 * stanza, which real media can be (detectors/over_limit.c) */
};

/* A JID split into parts. text is the full JID as it appeared; local/domain/
 * resource are views into it. Hashes: bare = local@domain (case-folded),
 * domain = domain (case-folded), full = bare + "/" + resource. 0 when empty. */
struct sw_jid {
    const char *text;
    uint16_t len;       /* whole JID */
    uint16_t local_len; /* text[0 .. local_len) when local_len > 0 */
    uint16_t domain_off, domain_len;
    uint16_t res_off, res_len; /* res_len == 0: bare JID */
    uint64_t bare;
    uint64_t domain;
    uint64_t full;
};

/* Shard keys: the engine routes an event to the worker owning each non-zero key,
 * and calls a detector's process() only on the worker owning the key the
 * detector is sharded by (struct sw_detector_ops.shard). */
enum sw_shard {
    SW_SHARD_SENDER = 0,    /* bare from (account) */
    SW_SHARD_SENDER_DOMAIN, /* from domain */
    SW_SHARD_ROOM,   /* bare room JID (to for groupchat/MUC presence, from for reflections) */
    SW_SHARD_TARGET, /* bare to (recipient account) */
    SW_SHARD__COUNT
};

struct sw_event {
    uint64_t seq; /* stream order: strictly increasing across the whole replay */
    int64_t t_ms; /* event time, Unix epoch ms (delay stamp, else arrival); after the
                   * engine's clamp it never goes backwards within a stream */
    uint64_t key[SW_SHARD__COUNT]; /* 0 = no such key for this event */
    uint32_t flags;                /* enum sw_ev_flag */
    uint16_t kind;                 /* enum sw_ev_kind (one bit) */
    uint16_t type;                 /* enum sw_ev_type */
    uint32_t body_full;            /* body length in bytes before truncation */
    uint32_t body_lines;           /* newline count + 1 of the whole body (0 without body) */
    struct sw_jid from, to;
    uint64_t id_hash;    /* hash of the stanza id attribute (0 without id) */
    const char *id;      /* stanza id attribute */
    const char *body;    /* first limits.body_keep bytes of <body/> (valid UTF-8 prefix) */
    const char *subject; /* <subject/>, bounded likewise */
    const char *status;  /* presence <status/>, bounded likewise */
    const char *nick;    /* MUC nick: resource of the room JID, or XEP-0172 <nick/> */
    uint16_t id_len;
    uint16_t body_len, subject_len, status_len, nick_len;
    uint16_t stream;      /* index of the capture/stream it came from */
    uint32_t line;        /* line of the stanza start in its capture (for evidence, 0 if unknown) */
    uint16_t body_fp_len; /* with SW_F_BODY_FP: normalized length the SimHash saw */
    uint64_t body_fp;     /* with SW_F_BODY_FP: SimHash of body[0 .. body_len) exactly as
                           * sw_simhash_text (sw/simhash.h, text/simhash.c) computes it; without the
                           * flag (events built by hand, tests) detectors compute it */
};

/* Accessors that read well in detectors. */
static inline int sw_event_is(const struct sw_event *ev, enum sw_ev_kind k, enum sw_ev_type t)
{
    return ev->kind == (uint16_t)k && ev->type == (uint16_t)t;
}

/** Human-readable name of a type ("groupchat", "subscribe", ...). */
const char *sw_ev_type_name(unsigned type);
/** Human-readable name of a kind ("message", "presence", "iq"). */
const char *sw_ev_kind_name(unsigned kind);

#ifdef __cplusplus
}
#endif
#endif
