/*
 * share_int.h - internals of the share side (share.c, rtbl.c, pubsub.c) and
 * the hooks the live reporter (xmpp.c) calls. Not a public contract.
 */
#ifndef SW_SHARE_INT_H
#define SW_SHARE_INT_H

#include <strophe.h>

#include "sw/reporter.h"
#include "sw/share.h"

#define SW_PUBSUB_NS "http://jabber.org/protocol/pubsub"
#define SW_PUBSUB_OWNER_NS "http://jabber.org/protocol/pubsub#owner"
#define SW_PUBSUB_EVENT_NS "http://jabber.org/protocol/pubsub#event"
#define SW_XEP0377_NS "urn:xmpp:reporting:1"
#define SW_FEED_NS "urn:stanzawatch:feed:0"

/* Payload / wrapper builders (rtbl.c); malloc'd results, caller frees. */
int sw_share_summary(const struct sw_incident *inc, const char *domain, char **out, size_t *len);
int sw_share_publish_iq(const char *node, const char *item_id, const char *payload, char **out,
                        size_t *len);
int sw_share_retract_iq(const char *node, const char *item_id, char **out, size_t *len);

#include <pthread.h>
#include <stdatomic.h>

/* One item we published (or an offender we remember between listings). */
struct share_pub {
    char node[128];
    char item[72]; /* RTBL: SHA-256 hex of entity; feed: incident id */
    char entity[SW_JID_TEXT];
    char last_inc[40]; /* incident id of the latest offence counted */
    uint32_t offences;
    bool rtbl;
    bool listed;        /* currently published */
    int64_t expires_ms; /* wall clock: retract at (listed) */
    int64_t forget_ms;  /* wall clock: drop the offence memory at (not listed) */
};

/* Entries kept per consumed list at most (32 bytes each: 32 MB). */
#define SW_SHARE_MAX_LIST 1000000

/* One consumed list: sorted binary SHA-256 ids. */
struct share_src {
    uint8_t (*ids)[32];
    size_t n, cap;
    int64_t synced_ms; /* wall clock of the last full resync (persisted) */
    bool dirty;
};

/* A full re-read of one source in progress (reporter thread): the pages
 * received so far when the service pages with XEP-0059 RSM. */
#define SW_SHARE_PAGE 1000 /* items asked per page */
struct share_sync {
    char (*ids)[65];
    size_t n, cap, seen; /* 64-hex ids kept; items seen (all ids) */
    unsigned pages;
    char last[256]; /* RSM <last/> of the latest page */
};

/* Spam reports about one account: distinct reporters (hashes) and when. */
#define SHARE_REPORT_SLOTS 16384 /* accounts remembered (open addressing, oldest evicted) */
#define SHARE_REPORTERS 8
struct share_report {
    uint64_t h; /* hash of the offender's bare JID, 0 = free */
    uint64_t who[SHARE_REPORTERS];
    int64_t when[SHARE_REPORTERS];
    int64_t last_ms;
};

struct sw_share {
    const struct sw_share_settings *s;
    const struct sw_reporter_settings *rs;
    struct sw_spool *spool;

    pthread_mutex_t mu; /* published state */
    struct share_pub *e;
    size_t n, cap;
    uint32_t rev; /* spool revision counter, persisted */

    pthread_mutex_t src_mu; /* consumed lists and reports */
    struct share_src *src;
    struct share_report *reports; /* SHARE_REPORT_SLOTS, allocated when reports_from is set */
    bool reports_dirty;           /* a report since reports.state was written */

    /* reporter thread only */
    int64_t last_tick_ms, last_src_save_ms;
    xmpp_conn_t *conn;
    char my_jid[SW_JID_TEXT];
    int64_t connected_ms;
    int setup_pending; /* node setup iqs still unanswered */
    unsigned iq_seq;
    atomic_int ready;
    atomic_int unsynced;     /* sources without an items answer yet in this process */
    bool *answered;          /* per source: items answered at least once */
    struct share_sync *sync; /* per source, allocated on the first re-read */

    struct share_ctl *ctl; /* control socket (share_ctl.c), NULL when not started */

    struct {
        atomic_ullong published, retracted, expired, setup_errors, reports_in, reports_refused;
    } st;
};

/* Spool key of one pubsub item: "pubsub:<node>:<item>". */
#define SW_SHARE_KEY 256
/** sw_share_retract that also returns the spool keys of the retractions it
 *  spooled (at most @max_keys in @keys, count in *@n_keys). */
int sw_share_retract_keys(struct sw_share *sh, const char *what, char (*keys)[SW_SHARE_KEY],
                          size_t max_keys, size_t *n_keys);
/** True while the spooled stanza with @key waits for share.service's answer. */
bool sw_share_item_pending(struct sw_share *sh, const char *key);

/** sw_share_incident with the wall clock given (tests). */
int sw_share_incident_at(struct sw_share *sh, const struct sw_incident *inc, int64_t now_ms);

/* Helpers shared by share.c and share_lists.c. */
void sw_share_bump(atomic_ullong *c);
/** Write @len bytes as @dir/@name: temp file, fsync, rename, fsync of @dir. 0 or SW_E*. */
int sw_share_write_atomic(const char *dir, const char *name, const char *buf, size_t len);
/** @dir/@name into a malloc'd NUL-terminated buffer; SW_ENOENT if absent. */
int sw_share_read_all(const char *dir, const char *name, char **out);
void sw_share_copy(char *dst, size_t cap, const char *src);
/** Bare form of @e (resource cut). */
void sw_share_bare(char *dst, size_t cap, const char *e);
/** Load source @i's persisted list (start-up). */
void sw_share_list_load(struct sw_share *sh, size_t i);
/** Persist source @i's list; caller holds src_mu. */
void sw_share_list_save_locked(struct sw_share *sh, size_t i);

/* Consumed lists (share_lists.c), called by pubsub.c on the reporter thread. */
/** Source index of (@service, @node), or -1. */
int sw_share_source_find(struct sw_share *sh, const char *service, const char *node);
const struct sw_share_source *sw_share_source_at(struct sw_share *sh, size_t i);
size_t sw_share_n_sources(struct sw_share *sh);
/** Add (@add) or remove a 64-hex item id of source @i. */
void sw_share_source_item(struct sw_share *sh, size_t i, const char *id, bool add);
/** Full resync of source @i: @ids (n of them) replace the list; stamps the sync time. */
void sw_share_source_replace(struct sw_share *sh, size_t i, const char *const *ids, size_t n);
const struct sw_share_settings *sw_share_settings_of(struct sw_share *sh);
/** A XEP-0377 report on @offender by @reporter forwarded by @from at @now_ms:
 *  false (counted as refused) if @from is not in reports_from; true otherwise
 *  (a report on a domain is accepted but not counted: accounts only). */
bool sw_share_report(struct sw_share *sh, const char *from, const char *offender,
                     const char *reporter, const char *reason, int64_t now_ms);
/** Write state_dir/reports.state (reports still live at @now_ms); caller holds src_mu. */
void sw_share_reports_save_locked(struct sw_share *sh, int64_t now_ms);
/** Load state_dir/reports.state, keeping what is live at @now_ms (start-up). */
void sw_share_reports_load(struct sw_share *sh, int64_t now_ms);
/** Weight (milli) of the live reports on @offender at @now_ms. */
int64_t sw_share_report_weight(struct sw_share *sh, const char *offender, int64_t now_ms);
void sw_share_count_setup_error(struct sw_share *sh);

/* Reporter-thread hooks (pubsub.c), called from xmpp.c. */
/** Connected (or reconnected) as @my_jid: set up our nodes, subscribe to and
 *  re-read the sources. Registers its own handlers on @conn. */
void sw_share_connected(struct sw_share *sh, xmpp_conn_t *conn, const char *my_jid);
/** Spooled publishes may go out (node setup done, or given up after a while). */
bool sw_share_ready(struct sw_share *sh, int64_t now_ms);
/** An iq error from @from with condition @cond: true if it means the spooled
 *  stanza's goal is reached (retracting an item the service does not have). */
bool sw_share_error_done(struct sw_share *sh, const char *from, const char *cond);

/** An inbound iq set whose child is a XEP-0191 <block/> from @from: its items'
 *  XEP-0377 reports are taken when @from is in share.reports_from. True if
 *  accepted (answer result), false if refused (answer forbidden). */
bool sw_share_block_iq(struct sw_share *sh, xmpp_stanza_t *iq, const char *from);
/** The payload a peer of @format (enum sw_peer_format) is sent for @inc. */
int sw_share_peer_payload(const struct sw_reporter_settings *s, int format,
                          const struct sw_incident *inc, int64_t report_ms, char **out,
                          size_t *len);
/** XEP-0191 <block><item jid=offender><report xmlns='urn:xmpp:reporting:1'/></item></block>. */
int sw_share_xep0377_block(const struct sw_incident *inc, const char *domain, char **out,
                           size_t *len);

#endif
