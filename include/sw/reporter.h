/*
 * reporter.h - XEP-0268 incident reports: IODEF writer, the `--reports FILE`
 * output, the durable outbound spool and the live XMPP reporter.
 *
 * Design: every incident state change (open/update/close) becomes one IODEF
 * 1.0 <Incident> (reporter/iodef.c) wrapped in a XEP-0268 <report/>
 * (reporter/xep0268.c). The live reporter's incident() callback runs on the
 * aggregator thread and only queues one record per interested peer in the
 * spool (reporter/spool.c), whose writer thread stores queued records in
 * batches (write, one fsync, rename, directory fsync) before they can be sent:
 * durable before sending, and detection never waits for the disk. A dedicated
 * thread (reporter/xmpp.c, the only libstrophe user) sends due spool entries
 * under random iq ids, removes them on the result from the peer they were sent
 * to, and retries errors/timeouts with exponential backoff.
 *
 * Inbound: report/inquiry/request/response from configured peers are parsed
 * leniently (size and depth limits, no DTD, no entities, no network), stored in
 * inbound_dir and logged as JSON Lines with the peer's name; anything from an
 * unlisted sender gets <forbidden/> and a counter. A peer is recognised by its
 * exact bare JID (a domain peer only from the bare domain) or by one of the
 * JIDs listed in its `senders`.
 *
 * Ownership: settings are borrowed from the config snapshot; the live reporter
 * takes a reference to the snapshot it runs with (sw_reporter_reload swaps it). Thread-safety:
 * noted per function.
 */
#ifndef SW_REPORTER_H
#define SW_REPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sw/conf.h"
#include "sw/incident.h"
#include "sw/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sw_reporter_mode { SW_REPORTER_COMPONENT = 0, SW_REPORTER_CLIENT = 1 };
enum sw_severity { SW_SEV_LOW = 0, SW_SEV_MEDIUM = 1, SW_SEV_HIGH = 2 };

/* Wrapper kinds of urn:xmpp:incident:2 (bit i = 1u << kind in accept masks). */
enum sw_xep0268_kind {
    SW_XEP0268_REPORT = 0,
    SW_XEP0268_INQUIRY,
    SW_XEP0268_REQUEST,
    SW_XEP0268_RESPONSE,
    SW_XEP0268_NKINDS
};

/* What a peer is sent (reporter.peers[].format). */
enum sw_peer_format {
    SW_PEER_XEP0268 = 0,    /* XEP-0268 <report/> with IODEF 1.0 (the XEP's format) */
    SW_PEER_XEP0268_IODEF2, /* XEP-0268 <report/> with an IODEF 2.0 (RFC 7970) Incident */
    SW_PEER_XEP0377,        /* XEP-0191 <block/> item carrying a XEP-0377 <report/> */
    SW_PEER_NFORMATS
};

/* One trusted peer (item of reporter.peers). */
struct sw_reporter_peer {
    char *jid;                      /* bare JID or domain we send to; trusted exactly as is */
    struct sw_conf_strlist senders; /* further bare JIDs trusted as this peer */
    struct sw_conf_strlist send;    /* incident kinds we send ("*" or empty = all) */
    int min_severity;               /* enum sw_severity: send only at or above */
    struct sw_conf_strlist accept;  /* wrapper names accepted from this peer */
    int64_t rate_limit;             /* inbound stanzas per minute (token bucket, burst = same) */
    int format;                     /* enum sw_peer_format */
};

struct sw_reporter_component {
    char *jid, *secret, *host;
    int64_t port;
};

struct sw_reporter_client {
    char *jid, *password, *host;
    int64_t port;
};

/* section "reporter" */
struct sw_reporter_settings {
    bool enabled;    /* start the live XMPP reporter */
    char *domain;    /* IncidentID@name: our reporting domain */
    char *admin_jid; /* Contact/AdditionalData/jid */
    int mode;        /* enum sw_reporter_mode */
    struct sw_reporter_component component;
    struct sw_reporter_client client;
    char *spool_dir;
    char *inbound_dir;
    int64_t retry_min_ms, retry_max_ms; /* DURATION: backoff bounds */
    int64_t ack_timeout_ms;             /* DURATION: no iq result within this = retry */
    int64_t spool_expire_ms;            /* DURATION: undelivered reports deleted after; 0 = never */
    int64_t max_inbound_bytes;          /* SIZE: hard limit of one inbound stanza */
    int64_t max_inbound_depth;          /* element depth limit of inbound XML */
    double severity_medium, severity_high; /* score thresholds for Impact@severity */
    struct sw_conf_list peers;             /* of struct sw_reporter_peer */
};

/** Register the "reporter" section schema. Call once at start-up, control thread. */
int sw_reporter_register_conf(void);

/** Severity of an incident score under @s (never fails). */
enum sw_severity sw_reporter_severity(const struct sw_reporter_settings *s, int64_t score_milli);
const char *sw_severity_name(unsigned sev);

/** Does @p want incident @inc (kind list and minimum severity)? */
bool sw_reporter_peer_wants(const struct sw_reporter_settings *s, const struct sw_reporter_peer *p,
                            const struct sw_incident *inc);

/* ---- IODEF / XEP-0268 text (reporter/iodef.c, reporter/xep0268.c) ---- */

/**
 * Write @inc as one IODEF 1.0 <Incident purpose='reporting'> (no XML
 * declaration, one line) into a malloc'd NUL-terminated buffer *out (caller
 * frees with free()). @report_ms is ReportTime (Unix ms). Reentrant.
 * Returns 0, SW_ENOMEM or SW_EIO (writer failure).
 */
int sw_iodef_incident(const struct sw_reporter_settings *s, const struct sw_incident *inc,
                      int64_t report_ms, char **out, size_t *len);

/** Same, wrapped in <report xmlns='urn:xmpp:incident:2'>. */
int sw_xep0268_report(const struct sw_reporter_settings *s, const struct sw_incident *inc,
                      int64_t report_ms, char **out, size_t *len);

/* What we did about a peer's incident (XEP-0268 <response/>). */
struct sw_xep0268_response {
    const char *incident_name; /* the peer's IncidentID@name */
    const char *incident_id;   /* the peer's IncidentID text */
    const char *action;        /* IODEF action-type, e.g. "block-host", "investigate" */
    const char *text;          /* HistoryItem/Description, may be NULL */
};

/** True if @action is one of IODEF 1.0's action-type values (not ext-value). */
bool sw_iodef_action_valid(const char *action);

/**
 * <response xmlns='urn:xmpp:incident:2'> with an <Incident purpose='mitigation'>
 * carrying a History entry (@now_ms = ReportTime and HistoryItem/DateTime).
 * malloc'd result, caller frees. Returns 0, SW_EINVAL (unknown action, empty
 * id/name), SW_ENOMEM or SW_EIO. Reentrant.
 */
int sw_xep0268_response(const struct sw_reporter_settings *s, const struct sw_xep0268_response *rsp,
                        int64_t now_ms, char **out, size_t *len);

/**
 * Wrap a payload (e.g. from sw_xep0268_report) into <iq type=@type id=@id
 * from=@from to=@to> (@from / @to may be NULL to omit them). Attribute values
 * are escaped. malloc'd result, caller frees. Returns 0 or SW_ENOMEM.
 */
int sw_xep0268_iq(const char *type, const char *id, const char *from, const char *to,
                  const char *payload, size_t plen, char **out, size_t *len);

/* What the lenient inbound parser extracts (all strings NUL-terminated, bounded). */
#define SW_XEP0268_MAX_OFFENDERS 8
struct sw_xep0268_msg {
    char iq_type[8]; /* get | set | result | error */
    char iq_id[128];
    char from[SW_JID_TEXT], to[SW_JID_TEXT];
    int kind;                        /* enum sw_xep0268_kind, -1 if no incident:2 wrapper */
    int n_incidents;                 /* Incident children found in the wrapper */
    char incident_name[SW_JID_TEXT]; /* IncidentID@name */
    char incident_id[128];           /* IncidentID text */
    char purpose[32];
    char report_time[40];
    char severity[16]; /* first Impact@severity, "" if none */
    char impact_type[32];
    char description[256];   /* first Description text */
    char expectation[40];    /* first Expectation@action */
    char history_action[40]; /* first HistoryItem@action */
    uint32_t n_offenders;
    char offenders[SW_XEP0268_MAX_OFFENDERS][SW_JID_TEXT]; /* source System Address texts */
    char contact_jid[SW_JID_TEXT]; /* first Contact jid (urn:xmpp:jid:0 or incident:2) */
};

/**
 * Leniently parse one inbound stanza (an <iq/> or a bare wrapper) of @len
 * bytes: any child order, xml:lang, the XEP's wrong ext- escapes and
 * IncidentID-only inquiries are accepted. Refused: more than @max_bytes,
 * element depth over @max_depth, any DOCTYPE/entity declaration, malformed
 * XML (SW_EPARSE / SW_ELIMIT). libxml2 runs with no network and no entity
 * substitution. Reentrant. *out is filled on 0; kind -1 = no wrapper.
 */
int sw_xep0268_parse(const char *buf, size_t len, size_t max_bytes, unsigned max_depth,
                     struct sw_xep0268_msg *out);

const char *sw_xep0268_kind_name(int kind);
/** Kind for a wrapper element name, or -1. */
int sw_xep0268_kind_from_name(const char *name);

/* ---- durable spool (reporter/spool.c) ---- */

struct sw_spool;

/**
 * Open (create) the spool directory @dir, load what a previous run left
 * (stale temp files are removed, unreadable files set aside as *.bad) and
 * start its writer thread. Every loaded entry is due at once. Returns 0 and
 * *out (free with sw_spool_free), SW_EIO/SW_ENOMEM with @eb filled.
 * Thread-safety: every sw_spool_* call may come from any thread.
 */
int sw_spool_open(const char *dir, int64_t retry_min_ms, int64_t retry_max_ms,
                  struct sw_spool **out, struct sw_errbuf *eb);
/** Stop the writer (it makes a last attempt to store what is queued) and free. */
void sw_spool_free(struct sw_spool *sp);

/**
 * Queue a report for @peer; the writer thread stores queued reports in batches
 * (one fsync per batch) and only then makes them sendable. Never blocks on the
 * disk. A pending older revision of the same (peer, incident id) is
 * superseded once the new one is stored. Returns 0, SW_EINVAL, SW_ENOMEM, or
 * SW_ENOSPC/SW_ELIMIT when the in-memory queue is full because the disk
 * refuses writes (the report is dropped, counted and logged).
 */
int sw_spool_put(struct sw_spool *sp, const char *peer, const char *incident_id, uint32_t rev,
                 const char *payload, size_t len);
/**
 * Wait up to @timeout_ms until everything queued so far is on disk. Returns 0,
 * or the last store error (SW_ENOSPC, SW_EIO) / SW_EAGAIN if still queued.
 */
int sw_spool_flush(struct sw_spool *sp, int64_t timeout_ms);

/** True while an entry for (@peer, @incident_id) waits in the spool (not yet
 *  acknowledged): how `stanzawatch retract` learns its retraction arrived. */
bool sw_spool_has(struct sw_spool *sp, const char *peer, const char *incident_id);

/* One due entry handed out by sw_spool_next(). Strings are copies. */
struct sw_spool_item {
    char name[128]; /* iq id: 32 random hex digits, fresh for each send */
    char peer[SW_JID_TEXT];
    char *payload; /* malloc'd, caller frees */
    size_t len;
};

/**
 * Take the next stored entry (lowest sequence) that is due at @now_ms, mark
 * it in flight until @now_ms + @timeout_ms under a fresh iq id. Entries for
 * peers not in sw_spool_set_peers() are held, entries older than the expiry
 * are deleted (both counted). Returns 1 with *it filled, 0 if none, or a
 * negative SW_E* (an unreadable entry was dropped, counted and logged).
 */
int sw_spool_next(struct sw_spool *sp, int64_t now_ms, int64_t timeout_ms,
                  struct sw_spool_item *it);
/**
 * iq result with id @id from @from (full JID as received): delete the entry if
 * it is in flight under that id and @from's bare JID is the entry's peer.
 * Returns 0, SW_ENOENT (unknown, stale or not in flight) or SW_EFORBIDDEN
 * (another sender: counted as spoofed).
 */
int sw_spool_ack(struct sw_spool *sp, const char *id, const char *from);
/** iq error: same checks as ack; schedules a retry with exponential backoff. */
int sw_spool_fail(struct sw_spool *sp, const char *id, const char *from, int64_t now_ms);
/** In-flight entries whose deadline passed at @now_ms become failures; returns how many. */
int sw_spool_expire(struct sw_spool *sp, int64_t now_ms);
/** The same, calling @on_timeout(@ctx, peer JID) for each entry that timed
 *  out, under the spool's lock (it must not call the spool). */
int sw_spool_expire_each(struct sw_spool *sp, int64_t now_ms,
                         void (*on_timeout)(void *ctx, const char *peer), void *ctx);
/** Connection lost: every in-flight entry is due again at once (no backoff penalty). */
void sw_spool_requeue_all(struct sw_spool *sp, int64_t now_ms);
/** Entries created more than @expire_ms ago are deleted when due (0 = never). */
void sw_spool_set_expiry(struct sw_spool *sp, int64_t expire_ms);
/**
 * The configured peers (@n JIDs, copied). Entries for other peers are held:
 * kept on disk, not sent, until a later call names their peer again.
 * @peers NULL = every peer allowed (the default). Returns 0 or SW_ENOMEM.
 */
int sw_spool_set_peers(struct sw_spool *sp, const char *const *peers, size_t n);

struct sw_spool_stats {
    uint64_t pending;   /* stored or queued, not acked, not held */
    uint64_t in_flight; /* sent, waiting for the result */
    uint64_t queued;    /* waiting for the writer (not yet durable) */
    uint64_t held;      /* for peers no longer configured */
    uint64_t put, acked, failed, superseded, expired;
    uint64_t write_errors, enospc; /* failed commits (retried) */
    uint64_t dropped;              /* refused by put: queue full while the disk refused */
    uint64_t commits;              /* batch files written */
    uint64_t spoofed;              /* acks/errors from a sender that is not the entry's peer */
};
void sw_spool_get_stats(struct sw_spool *sp, struct sw_spool_stats *st);
/** Entries stored or queued for @peer, not acked, not held (its share of pending). */
uint64_t sw_spool_pending_peer(struct sw_spool *sp, const char *peer);
/** Milliseconds until the entry last sent as @id is due again (tests), or -1. */
int64_t sw_spool_due_in(struct sw_spool *sp, const char *id, int64_t now_ms);

/* ---- outputs ---- */

/**
 * The `--reports FILE` output: each incident state change becomes the XEP-0268
 * <iq type='set'> stanzas the live reporter would send, one per line, one per
 * peer that wants it (one without `to` when no peer is configured).
 * ReportTime is the incident's last stream time, so replays are reproducible.
 * @fp is borrowed. @c may be NULL (built-in defaults). Aggregator thread.
 */
int sw_output_reports_init(struct sw_output_ops *o, const struct sw_conf *c, FILE *fp,
                           struct sw_errbuf *eb);
/** Same from a settings struct (tests, tools). */
int sw_output_reports_init_settings(struct sw_output_ops *o, const struct sw_reporter_settings *s,
                                    FILE *fp, struct sw_errbuf *eb);

struct sw_reporter;

/**
 * Start the live reporter from the "reporter" section of @c: open the spool,
 * start the XMPP thread (which connects and reconnects by itself) and fill @o
 * with the output whose incident() spools a report per interested peer.
 * Control thread. Returns 0 and *out, or SW_ECONF/SW_EIO/SW_ENOMEM with @eb.
 */
int sw_reporter_start(const struct sw_conf *c, struct sw_output_ops *o, struct sw_reporter **out,
                      struct sw_errbuf *eb);
/** Same from a settings struct (borrowed, must outlive the reporter). */
int sw_reporter_start_settings(const struct sw_reporter_settings *s, struct sw_output_ops *o,
                               struct sw_reporter **out, struct sw_errbuf *eb);
/**
 * Tell configured peer @peer what we did about its incident: spools a
 * <response/> (durable, retried like reports). Any thread. Returns 0,
 * SW_EFORBIDDEN (@peer not configured), SW_EINVAL, SW_ENOSPC or SW_EIO.
 */
int sw_reporter_respond(struct sw_reporter *r, const char *peer,
                        const struct sw_xep0268_response *rsp);
/** Optional JSON Lines sink for inbound reports/requests (borrowed; stdio locks it). */
void sw_reporter_set_log(struct sw_reporter *r, FILE *fp);
/** What the reporter's reload would refuse in @c (invalid peers), checked
 *  beforehand so that a SIGHUP can refuse the whole config. 0 or SW_ECONF
 *  with @eb filled. Any thread. */
int sw_reporter_check_conf(const struct sw_conf *c, struct sw_errbuf *eb);
/** Stop the thread (waiting at most @drain_ms for the spool to empty), disconnect, free. */
void sw_reporter_stop(struct sw_reporter *r, int64_t drain_ms);

struct sw_reporter_stats {
    uint64_t connects, disconnects, sent, acked, errors, timeouts;
    uint64_t in_reports, in_inquiries, in_requests, in_responses;
    uint64_t in_forbidden, in_rate_limited, in_bad;
    uint64_t spoofed;         /* results/errors for our reports from someone else: ignored */
    uint64_t closes_withheld; /* closes at a SIGTERM stop (at_stop) not sent to peers */
    uint64_t spool_pending, spool_errors, spool_held, spool_expired, spool_dropped;
    uint64_t spool_write_errors;
};
/** Any thread. */
void sw_reporter_get_stats(struct sw_reporter *r, struct sw_reporter_stats *st);
/* Report counters of one configured peer (reporter.peers). Error replies
 * count as failed, sends with no answer within reporter.ack_timeout as
 * timeouts (both are retried: one report may count several times). */
struct sw_reporter_peer_stats {
    char jid[SW_JID_TEXT]; /* a copy: a reload may replace the settings */
    uint64_t spooled, sent, acked, failed, timeouts, pending;
};
/** Fill up to @cap entries for the peers configured now, in reporter.peers
 *  order; returns the number of peers (may exceed @cap). Counters are kept by
 *  JID, so they survive a reload. Any thread. */
size_t sw_reporter_get_peer_stats(struct sw_reporter *r, struct sw_reporter_peer_stats *out,
                                  size_t cap);
/** True while the XMPP session is established. Any thread. */
bool sw_reporter_connected(struct sw_reporter *r);

#ifdef __cplusplus
}
#endif
#endif
