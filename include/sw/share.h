/*
 * share.h - enforce and share in the formats XMPP servers already speak:
 * a real-time block list (RTBL) and per-audience feeds published on a
 * XEP-0060 pubsub service, and block lists / feeds of others consumed as a
 * weighted signal.
 *
 * Design:
 *  - Publishing (reporter/share.c, reporter/rtbl.c): every incident the
 *    aggregator hands to the live reporter is also offered to the RTBL and to
 *    every configured feed. What passes a node's filter (kinds, offender kinds,
 *    minimum score, allow list) becomes a pubsub <publish/> iq that goes
 *    through the reporter's durable spool exactly like a XEP-0268 report
 *    (fsync'd before the aggregator returns, retried until the service answers,
 *    superseded by a newer state of the same item). RTBL items are keyed by
 *    the SHA-256 hex of the offender's bare JID or domain (what Prosody's
 *    mod_muc_rtbl and ejabberd's mod_antispam look up) and carry a XEP-0377
 *    <report xmlns='urn:xmpp:reporting:1'/>; feed items are keyed by the
 *    incident id and carry the IODEF <Incident> or a compact summary.
 *  - What is listed is remembered in a state file (state_dir/published.state,
 *    rewritten atomically) with its expiry: an entry expires after rtbl.ttl
 *    unless the offender re-offends; the n-th offence keeps it ttl * 2^(n-1)
 *    (capped at ttl_max). Expired or retracted entries become pubsub
 *    <retract/> iqs through the same spool.
 *  - Node setup (pubsub.c, reporter thread): on every (re)connection the nodes
 *    are created if missing and configured (access model open, presence or
 *    whitelist, with whitelisted JIDs made members); spooled publishes wait
 *    until that is done.
 *  - Consuming (pubsub.c): each configured source (a service + node, with a
 *    weight) is subscribed to and fully re-read (items get, paged with
 *    XEP-0059 RSM when the service pages) on every connection; item and retract events update the
 * list in memory and in state_dir/source-<name>.list (atomic rewrite), which is loaded at start so
 *    a restart with the source down keeps the list. The aggregator asks
 *    sw_share_listed_weight() for an offender that has a hit: a listed entity
 *    adds a symbol `share.listed` scaled by the summed weights, capped below
 *    the report threshold, so a listing alone never opens an incident.
 *
 *  - XEP-0377 in (pubsub.c): spam reports the local server forwards to our
 *    JID (mod_firewall `REPORT TO`, or a user's XEP-0191 <block/> carrying a
 *    <report xmlns='urn:xmpp:reporting:1'/> that a FORWARD rule copies to us)
 *    are accepted from the JIDs in share.reports_from only; each distinct
 *    reporter of an account adds report_weight (at most report_max of them,
 *    each for report_ttl) to the same share.listed symbol; the live reports
 *    are kept in state_dir/reports.state (hashes only) across restarts.
 *  - Control (share_ctl.c): `stanzawatch run` listens on
 *    state_dir/control.sock so that `stanzawatch retract` acts through the
 *    running daemon's connection instead of a second component connection.
 *
 * Threading: sw_share_incident() runs on the aggregator thread, the XMPP side
 * and sw_share_tick() on the reporter thread, sw_share_listed_weight() on the
 * aggregator thread; one mutex guards the published state and one the
 * consumed lists. Ownership: settings are borrowed from the config snapshot.
 */
#ifndef SW_SHARE_H
#define SW_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw/conf.h"
#include "sw/incident.h"
#include "sw/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sw_share_payload {
    SW_SHARE_XEP0377 = 0, /* <report xmlns='urn:xmpp:reporting:1'/> (RTBL default) */
    SW_SHARE_IODEF,       /* full IODEF 1.0 <Incident> */
    SW_SHARE_IODEF2,      /* full IODEF 2.0 (RFC 7970) <Incident> */
    SW_SHARE_SUMMARY,     /* compact <incident xmlns='urn:stanzawatch:feed:0'/> */
};
enum sw_share_access { SW_SHARE_OPEN = 0, SW_SHARE_PRESENCE, SW_SHARE_WHITELIST };

/* One published node: the RTBL (share.rtbl) or a feed (item of share.feeds). */
struct sw_share_node {
    bool enabled;                          /* rtbl only: publish it at all */
    char *node;                            /* pubsub node name */
    struct sw_conf_strlist kinds;          /* incident kinds ("*" or empty = all) */
    struct sw_conf_strlist offender_kinds; /* account | domain ("*" or empty = all) */
    double min_score;                      /* publish only from this incident score */
    int payload;                           /* enum sw_share_payload */
    int access_model;                      /* enum sw_share_access */
    struct sw_conf_strlist whitelist;      /* JIDs made members (access_model whitelist) */
    struct sw_conf_strlist subscribers;    /* JIDs we subscribe as owner (e.g. our MUC host) */
    int64_t ttl_ms, ttl_max_ms;            /* rtbl: listing time, first / cap */
    bool retract_on_close;                 /* feeds: retract an item when its incident closes */
};

/* One consumed list (item of share.sources). */
struct sw_share_source {
    char *name;    /* short name: file name and log label */
    char *service; /* pubsub service JID */
    char *node;    /* node (RTBL: muc_bans_sha256) */
    double weight; /* scales the share.listed symbol */
};

/* section "share" */
struct sw_share_settings {
    char *service;   /* our pubsub service (Prosody: a "pubsub" component) */
    char *state_dir; /* published.state, source-*.list */
    struct sw_share_node rtbl;
    struct sw_conf_list feeds;    /* of struct sw_share_node */
    struct sw_conf_list sources;  /* of struct sw_share_source */
    struct sw_conf_strlist allow; /* JIDs / domains never listed (and retracted if listed) */
    double listed_score;          /* share.listed contribution at weight 1.0 */
    /* XEP-0377 spam reports forwarded by the local server (share.reports) */
    struct sw_conf_strlist reports_from; /* senders trusted to forward them (the server's host) */
    double report_weight;                /* per distinct reporter, scales listed_score */
    int64_t report_max;                  /* distinct reporters counted at most */
    int64_t report_ttl_ms;               /* a report counts this long */
};

/** Register the "share" section. Control thread, once, before sw_conf_load. */
int sw_share_register_conf(void);

/**
 * SHA-256 hex (64 lowercase digits + NUL) of @entity as mod_muc_rtbl hashes
 * it: the bare JID (resource cut) or domain, ASCII-lowercased (Prosody's
 * nodeprep/nameprep of ASCII). OpenSSL libcrypto. Reentrant. 0 or SW_EINVAL.
 */
int sw_share_rtbl_hash(const char *entity, char out[65]);

/** XEP-0377 <report/> payload for @inc (malloc'd, caller frees). 0 or SW_ENOMEM. */
int sw_share_xep0377(const struct sw_incident *inc, const char *domain, char **out, size_t *len);

struct sw_share;
struct sw_spool;
struct sw_reporter_settings;

/**
 * Build the share side from @s (borrowed) publishing through @spool
 * (borrowed, the reporter's): loads state_dir (published state, consumed
 * lists), retracts listed entries now covered by the allow list.
 * Returns 0 and *out, or SW_ECONF / SW_EIO / SW_ENOMEM with @eb.
 */
int sw_share_new(const struct sw_share_settings *s, const struct sw_reporter_settings *rs,
                 struct sw_spool *spool, struct sw_share **out, struct sw_errbuf *eb);
void sw_share_free(struct sw_share *sh);
/** True when @s asks for anything (rtbl enabled, a feed or a source). */
bool sw_share_wanted(const struct sw_share_settings *s);

/** Aggregator thread: publish / update / retract what @inc implies. 0 or SW_E*. */
int sw_share_incident(struct sw_share *sh, const struct sw_incident *inc);
/** Any thread: retract @entity (bare JID or domain) from the RTBL and every
 *  feed item about it; forgets its offences. Returns how many items. */
int sw_share_retract(struct sw_share *sh, const char *entity);
/** Work the reporter still has to do for the share side: node setups and
 *  first syncs of sources not answered yet in this process. Any thread. */
uint64_t sw_share_pending(struct sw_share *sh);
/** Reporter thread: retract what expired by @now_ms (wall clock). */
void sw_share_tick(struct sw_share *sh, int64_t now_ms);

/** Aggregator thread: weight_milli of @offender (bare JID or domain; the
 *  domain of an account counts too) over all consumed lists, 0 if unlisted. */
int64_t sw_share_listed_weight(void *sh, const char *offender);

struct sw_share_stats {
    uint64_t published, retracted, expired, setup_errors;
    uint64_t reports_in, reports_refused; /* XEP-0377 reports accepted / from untrusted senders */
    uint64_t listed_now;                  /* entries currently in published.state */
    uint64_t n_sources;
    uint64_t source_items;  /* sum of consumed list sizes */
    int64_t oldest_sync_ms; /* wall ms of the least recent full sync (0: never) */
};
void sw_share_get_stats(struct sw_share *sh, struct sw_share_stats *st);
/** Size and last full sync (wall ms, 0 = never) of source @i; SW_ENOENT past the end. */
int sw_share_source_stats(struct sw_share *sh, size_t i, const char **name, uint64_t *items,
                          int64_t *synced_ms);

/** The share side of a running reporter (NULL without one). */
struct sw_reporter;
struct sw_share *sw_reporter_share(struct sw_reporter *r);

/* Control socket (reporter/share_ctl.c): how `stanzawatch retract` reaches a
 * running daemon. share.state_dir/control.sock, mode 0600, same uid (or root)
 * only; one request line, one answer line:
 *   "retract ENTITY WAIT_MS" -> "ok N acked" | "ok N pending K" | "error TEXT"
 *   "ping" -> "pong" */
#define SW_SHARE_CONTROL_SOCK "control.sock"
/** Path of @s's control socket into @buf; SW_ELIMIT if it does not fit a sockaddr_un. */
int sw_share_control_path(const struct sw_share_settings *s, char *buf, size_t cap);
/** True if a live process answers on @s's control socket (another daemon
 *  on this state_dir): `run` checks it before its reporter connects. */
bool sw_share_control_busy(const struct sw_share_settings *s);
/** Listen on the control socket and serve it from a thread of its own. A stale
 *  socket is replaced; a live one (another daemon on this state_dir) is
 *  SW_EAGAIN. 0 or SW_E* with @eb. Control thread. */
int sw_share_control_start(struct sw_share *sh, struct sw_errbuf *eb);
/** Stop serving, join the thread, unlink the socket. Idempotent; due before
 *  sw_share_free (sw_reporter_stop calls it first thing). */
void sw_share_control_stop(struct sw_share *sh);

/** `stanzawatch retract [-c FILE] [--drain-timeout S] JID|DOMAIN...` (conf sections
 *  registered by the caller). Returns the process exit code. */
int sw_share_cmd_retract(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
