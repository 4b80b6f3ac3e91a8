/*
 * pubsub.c - the XEP-0060 side of sharing, on the reporter thread (the only
 * libstrophe user; these functions are called from xmpp.c's connection
 * handler and run on its connection).
 *
 * On every (re)connection:
 *  - our nodes (share.rtbl, share.feeds) are created with their
 *    configuration (access model, max_items=max, persist_items) or, when they
 *    exist (<conflict/>), reconfigured with the same form through the owner
 *    namespace, then for access_model whitelist the listed JIDs are made
 *    members (owner <affiliations/>) and the JIDs in `subscribers` (e.g. the
 *    local MUC host running mod_muc_rtbl, which cannot subscribe itself to a
 *    node that does not exist yet at its start) are subscribed. Until every node answered, spooled
 *    publishes wait (sw_share_ready), so an item never races its node's
 *    creation; after SETUP_WAIT_MS they go anyway (a broken service must not
 *    hold back the XEP-0268 reports that share the spool).
 *  - each source is subscribed to (events: item/retract/purge/delete) and
 *    re-read in full with an items get, which replaces the persisted list:
 *    what was retracted while we were away disappears, nothing is missed.
 *    The get asks for SW_SHARE_PAGE items with XEP-0059 RSM; a service that
 *    pages (a full page with an RSM <last/>) is asked for the next page
 *    (<after/>) until a short page, and the list is replaced once, from all
 *    pages. A service that ignores RSM (Prosody 0.12's pubsub) answers with
 *    the whole node at once, which is then the complete list.
 * Only events and results from a source's configured service are used.
 * Our iq ids start with "swshare-" (the reporter's spool ids never do).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reporter_int.h"
#include "share_int.h"
#include "sw/log.h"

#define SETUP_WAIT_MS 10000
#define ID_PREFIX "swshare-"

static const char *const access_names[] = {"open", "presence", "whitelist"};

/* XML-escape @s for an attribute value into @dst (cap bytes). */
static const char *esc(char *dst, size_t cap, const char *s)
{
    sw_reporter_esc_attr(dst, cap, s);
    return dst;
}

/* Our node k: 0 = the RTBL (when enabled), 1 + i = feed i. NULL past the end. */
static const struct sw_share_node *node_at(const struct sw_share_settings *s, size_t k)
{
    if (k == 0) {
        return s->rtbl.enabled ? &s->rtbl : NULL;
    }
    return k - 1 < s->feeds.n ? &((const struct sw_share_node *)s->feeds.items)[k - 1] : NULL;
}

static void send_iq(struct sw_share *sh, const char *type, const char *step, size_t k,
                    const char *to, const char *payload)
{
    char id[96], eto[SW_JID_TEXT * 6], efrom[SW_JID_TEXT * 6];
    snprintf(id, sizeof(id), ID_PREFIX "%s-%zu-%u", step, k, ++sh->iq_seq);
    size_t cap = strlen(payload) + sizeof(eto) + sizeof(efrom) + 256;
    char *buf = malloc(cap);
    if (buf == NULL) {
        return;
    }
    /* 'from' is required on a component stream by ejabberd (it closes the
     * stream otherwise); Prosody fills it in */
    int n = snprintf(buf, cap, "<iq type='%s' id='%s' from='%s' to='%s'>%s</iq>", type, id,
                     esc(efrom, sizeof(efrom), sh->my_jid), esc(eto, sizeof(eto), to), payload);
    xmpp_send_raw(sh->conn, buf, (size_t)n);
    free(buf);
}

static void config_form(const struct sw_share_node *n, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "<x xmlns='jabber:x:data' type='submit'>"
             "<field var='FORM_TYPE' type='hidden'>"
             "<value>http://jabber.org/protocol/pubsub#node_config</value></field>"
             "<field var='pubsub#access_model'><value>%s</value></field>"
             "<field var='pubsub#max_items'><value>max</value></field>"
             "<field var='pubsub#persist_items'><value>1</value></field>"
             "</x>",
             access_names[n->access_model]);
}

static void setup_done(struct sw_share *sh)
{
    if (sh->setup_pending > 0 && --sh->setup_pending == 0) {
        atomic_store(&sh->ready, 1);
        sw_log_info("share", "pubsub nodes on %s ready", sh->s->service);
    }
}

static void send_create(struct sw_share *sh, size_t k)
{
    const struct sw_share_node *n = node_at(sh->s, k);
    char form[1024], en[512], p[2048];
    config_form(n, form, sizeof(form));
    snprintf(p, sizeof(p),
             "<pubsub xmlns='" SW_PUBSUB_NS "'><create node='%s'/><configure>%s</configure>"
             "</pubsub>",
             esc(en, sizeof(en), n->node), form);
    send_iq(sh, "set", "create", k, sh->s->service, p);
}

static void send_configure(struct sw_share *sh, size_t k)
{
    const struct sw_share_node *n = node_at(sh->s, k);
    char form[1024], en[512], p[2048];
    config_form(n, form, sizeof(form));
    snprintf(p, sizeof(p),
             "<pubsub xmlns='" SW_PUBSUB_OWNER_NS "'><configure node='%s'>%s</configure></pubsub>",
             esc(en, sizeof(en), n->node), form);
    send_iq(sh, "set", "config", k, sh->s->service, p);
}

/* Owner list @list ("affiliations"): one <@item jid=J @item=@value/> per JID
 * of @jids, as an iq set tagged @tag; false if there is nothing to send. */
static bool send_owner_list(struct sw_share *sh, size_t k, const struct sw_conf_strlist *jids,
                            const char *list, const char *item, const char *value, const char *tag)
{
    const struct sw_share_node *n = node_at(sh->s, k);
    if (jids->n == 0) {
        return false;
    }
    size_t cap = 512 + jids->n * (SW_JID_TEXT * 6 + 64);
    char *p = malloc(cap), en[512], ej[SW_JID_TEXT * 6];
    if (p == NULL) {
        return false;
    }
    size_t o = (size_t)snprintf(p, cap, "<pubsub xmlns='" SW_PUBSUB_OWNER_NS "'><%s node='%s'>",
                                list, esc(en, sizeof(en), n->node));
    for (size_t i = 0; i < jids->n; i++) {
        o += (size_t)snprintf(p + o, cap - o, "<%s jid='%s' %s='%s'/>", item,
                              esc(ej, sizeof(ej), jids->v[i]), item, value);
    }
    snprintf(p + o, cap - o, "</%s></pubsub>", list);
    send_iq(sh, "set", tag, k, sh->s->service, p);
    free(p);
    return true;
}

/* Whitelisted JIDs become members; returns false if there is nothing to send. */
static bool send_affiliations(struct sw_share *sh, size_t k)
{
    const struct sw_share_node *n = node_at(sh->s, k);
    if (n->access_model != SW_SHARE_WHITELIST) {
        return false;
    }
    return send_owner_list(sh, k, &n->whitelist, "affiliations", "affiliation", "member", "aff");
}

/* Subscribe the configured JIDs as node owner; false if there is nothing to send. */
static bool send_subscribers(struct sw_share *sh, size_t k)
{
    const struct sw_share_node *n = node_at(sh->s, k);
    return send_owner_list(sh, k, &n->subscribers, "subscriptions", "subscription", "subscribed",
                           "subs");
}

#define SW_RSM_NS "http://jabber.org/protocol/rsm"

/* Items get of source @i: the first page, or the one after item @after. */
static void send_items_page(struct sw_share *sh, size_t i, const char *after)
{
    const struct sw_share_source *src = sw_share_source_at(sh, i);
    char en[512], ea[256 * 6], p[sizeof(en) + sizeof(ea) + 256];
    snprintf(p, sizeof(p),
             "<pubsub xmlns='" SW_PUBSUB_NS "'><items node='%s'/><set xmlns='" SW_RSM_NS
             "'><max>%d</max>%s%s%s</set></pubsub>",
             esc(en, sizeof(en), src->node), SW_SHARE_PAGE, after ? "<after>" : "",
             after ? esc(ea, sizeof(ea), after) : "", after ? "</after>" : "");
    send_iq(sh, "get", "items", i, src->service, p);
}

static void send_source_sync(struct sw_share *sh, size_t i)
{
    const struct sw_share_source *src = sw_share_source_at(sh, i);
    char en[512], ej[SW_JID_TEXT * 6], bare[SW_JID_TEXT], p[sizeof(en) + sizeof(ej) + 256];
    snprintf(bare, sizeof(bare), "%s", sh->my_jid);
    char *slash = strchr(bare, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    snprintf(p, sizeof(p),
             "<pubsub xmlns='" SW_PUBSUB_NS "'><subscribe node='%s' jid='%s'/></pubsub>",
             esc(en, sizeof(en), src->node), esc(ej, sizeof(ej), bare));
    send_iq(sh, "set", "sub", i, src->service, p);
    if (sh->sync == NULL) {
        sh->sync = calloc(sw_share_n_sources(sh) + 1, sizeof(*sh->sync));
    }
    if (sh->sync != NULL) {
        sh->sync[i].n = sh->sync[i].seen = 0;
        sh->sync[i].pages = 0;
        sh->sync[i].last[0] = '\0';
    }
    send_items_page(sh, i, NULL);
}

static const char *error_cond(xmpp_stanza_t *st)
{
    xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(st, "error");
    for (xmpp_stanza_t *c = err ? xmpp_stanza_get_children(err) : NULL; c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *nm = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_name(c) : NULL;
        const char *ns = nm ? xmpp_stanza_get_ns(c) : NULL;
        if (ns != NULL && strcmp(ns, "urn:ietf:params:xml:ns:xmpp-stanzas") == 0 &&
            strcmp(nm, "text") != 0) {
            return nm;
        }
    }
    return "undefined-condition";
}

/* Keep the 64-character ids of one items page in @y; returns the items seen. */
static size_t page_ids(struct share_sync *y, xmpp_stanza_t *items)
{
    size_t seen = 0;
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(items); c != NULL;
         c = xmpp_stanza_get_next(c)) {
        const char *nm = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_name(c) : NULL;
        const char *id = nm && strcmp(nm, "item") == 0 ? xmpp_stanza_get_id(c) : NULL;
        if (id == NULL) {
            continue;
        }
        seen++;
        if (strlen(id) != 64 || y->n >= SW_SHARE_MAX_LIST) {
            continue; /* not a SHA-256 hex id: the resync would drop it anyway */
        }
        if (y->n == y->cap) {
            size_t cap = y->cap ? y->cap * 2 : 256;
            char(*v)[65] = realloc(y->ids, cap * sizeof(*v));
            if (v == NULL) {
                return (size_t)-1;
            }
            y->ids = v;
            y->cap = cap;
        }
        memcpy(y->ids[y->n++], id, 65);
    }
    return seen;
}

/* The RSM <last/> of an items result, or NULL (the service does not page). */
static const char *rsm_last(xmpp_stanza_t *ps, char *buf, size_t cap)
{
    xmpp_stanza_t *set = xmpp_stanza_get_child_by_ns(ps, SW_RSM_NS);
    xmpp_stanza_t *last = set ? xmpp_stanza_get_child_by_name(set, "last") : NULL;
    char *t = last ? xmpp_stanza_get_text(last) : NULL;
    if (t == NULL) {
        return NULL;
    }
    snprintf(buf, cap, "%s", t);
    xmpp_free(xmpp_stanza_get_context(last), t);
    return buf[0] ? buf : NULL;
}

/* An items result (one page) of source @i: ask for the next page, or replace
 * the list with all pages. True when the re-read is over (done or given up). */
static bool sync_items(struct sw_share *sh, size_t i, xmpp_stanza_t *st)
{
    const char *name = sw_share_source_at(sh, i)->name;
    xmpp_stanza_t *ps = xmpp_stanza_get_child_by_ns(st, SW_PUBSUB_NS);
    xmpp_stanza_t *items = ps ? xmpp_stanza_get_child_by_name(ps, "items") : NULL;
    struct share_sync *y = sh->sync ? &sh->sync[i] : NULL;
    if (items == NULL || y == NULL) {
        sw_log_warn("share", "source %s: items result without <items/>: list kept", name);
        return true;
    }
    size_t seen = page_ids(y, items);
    if (seen == (size_t)-1) {
        sw_log_error("share", "source %s: out of memory during a resync: list kept", name);
        return true; /* keep the old list rather than a partial one */
    }
    y->seen += seen;
    y->pages++;
    char last[256];
    const char *l = rsm_last(ps, last, sizeof(last));
    if (l != NULL && seen >= SW_SHARE_PAGE && strcmp(l, y->last) != 0 &&
        y->seen < SW_SHARE_MAX_LIST) {
        snprintf(y->last, sizeof(y->last), "%s", l);
        send_items_page(sh, i, y->last); /* a full page: there may be more */
        return false;
    }
    const char **ids = malloc((y->n + 1) * sizeof(*ids));
    if (ids == NULL) {
        return true;
    }
    for (size_t k = 0; k < y->n; k++) {
        ids[k] = y->ids[k];
    }
    if (y->pages > 1) {
        sw_log_info("share", "source %s: %zu items read in %u RSM pages", name, y->seen, y->pages);
    }
    sw_share_source_replace(sh, i, ids, y->n);
    free(ids);
    free(y->ids);
    y->ids = NULL;
    y->n = y->cap = 0;
    return true;
}

static int on_share_iq(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct sw_share *sh = ud;
    (void)conn;
    const char *id = xmpp_stanza_get_id(st), *type = xmpp_stanza_get_type(st);
    const char *from = xmpp_stanza_get_from(st);
    char step[16];
    size_t k;
    unsigned seq;
    if (id == NULL || type == NULL || strncmp(id, ID_PREFIX, strlen(ID_PREFIX)) != 0 ||
        sscanf(id + strlen(ID_PREFIX), "%15[a-z]-%zu-%u", step, &k, &seq) != 3) {
        return 1;
    }
    bool ok = strcmp(type, "result") == 0;
    if (!ok && strcmp(type, "error") != 0) {
        return 1;
    }
    const char *cond = ok ? "" : error_cond(st);
    if (strcmp(step, "sub") == 0 || strcmp(step, "items") == 0) {
        if (k >= sw_share_n_sources(sh) || from == NULL ||
            sw_share_source_find(sh, from, sw_share_source_at(sh, k)->node) != (int)k) {
            return 1; /* not from that source's service */
        }
        const char *name = sw_share_source_at(sh, k)->name;
        bool over = strcmp(step, "items") == 0 && (!ok || sync_items(sh, k, st));
        if (over && sh->answered != NULL && !sh->answered[k]) {
            sh->answered[k] = true;
            atomic_fetch_sub(&sh->unsynced, 1);
        }
        if (!ok) {
            sw_log_warn("share", "source %s: %s refused (%s); the persisted list stays in use",
                        name, step, cond);
        } else if (strcmp(step, "items") != 0) {
            sw_log_info("share", "source %s: subscribed", name);
        }
        return 1;
    }
    const struct sw_share_node *n = node_at(sh->s, k);
    if (n == NULL || from == NULL || strcasecmp(from, sh->s->service) != 0) {
        return 1;
    }
    if (strcmp(step, "create") == 0) {
        if (ok || strcmp(cond, "conflict") == 0) {
            send_configure(sh, k); /* existing node: make its config ours */
            return 1;
        }
    } else if (strcmp(step, "config") == 0) {
        if (ok && (send_affiliations(sh, k) || send_subscribers(sh, k))) {
            return 1;
        }
    } else if (strcmp(step, "aff") == 0) {
        if (ok && send_subscribers(sh, k)) {
            return 1;
        }
    }
    if (!ok) {
        sw_share_count_setup_error(sh);
        sw_log_error("share", "node %s on %s: %s refused (%s); is %s an admin of the service?",
                     n->node, sh->s->service, step, cond, sh->my_jid);
    } else {
        sw_log_info("share", "node %s on %s: access model %s", n->node, sh->s->service,
                    access_names[n->access_model]);
    }
    setup_done(sh);
    return 1;
}

static const char *reason_of(xmpp_stanza_t *report)
{
    const char *r = xmpp_stanza_get_attribute(report, "reason");
    return r != NULL ? r : "urn:xmpp:reporting:spam";
}

/* Each <item jid=OFFENDER> of @block carrying a XEP-0377 <report/> is a report
 * by @reporter forwarded by @from. Returns the number accepted, -1 if any was
 * refused (untrusted @from), 0 if there was none. */
static int block_items(struct sw_share *sh, xmpp_stanza_t *block, const char *from,
                       const char *reporter, int64_t now)
{
    int n = 0;
    for (xmpp_stanza_t *it = xmpp_stanza_get_children(block); it != NULL;
         it = xmpp_stanza_get_next(it)) {
        xmpp_stanza_t *r =
            xmpp_stanza_is_tag(it) ? xmpp_stanza_get_child_by_ns(it, SW_XEP0377_NS) : NULL;
        if (r != NULL) {
            if (!sw_share_report(sh, from, xmpp_stanza_get_attribute(it, "jid"), reporter,
                                 reason_of(r), now)) {
                return -1;
            }
            n++;
        }
    }
    return n;
}

/*
 * XEP-0377 reports forwarded by the local server (see share.h):
 *  - mod_firewall `REPORT TO`: <message><forwarded><message from=OFFENDER/>
 *    </forwarded><report xmlns='urn:xmpp:reporting:1'/></message>, reporter =
 *    the forwarding server;
 *  - a user's XEP-0191 block copied by a FORWARD rule: <message><forwarded>
 *    <iq from=USER><block><item jid=OFFENDER><report/></item></block></iq>
 *    </forwarded></message>, one report per item that carries one.
 * Returns true when the message held a report (accepted or refused).
 */
static bool handle_reports(struct sw_share *sh, xmpp_stanza_t *st, const char *from)
{
    xmpp_stanza_t *fwd = xmpp_stanza_get_child_by_ns(st, "urn:xmpp:forward:0");
    xmpp_stanza_t *inner = fwd ? xmpp_stanza_get_children(fwd) : NULL;
    while (inner != NULL &&
           (!xmpp_stanza_is_tag(inner) || strcmp(xmpp_stanza_get_name(inner), "delay") == 0)) {
        inner = xmpp_stanza_get_next(inner);
    }
    xmpp_stanza_t *rep = xmpp_stanza_get_child_by_ns(st, SW_XEP0377_NS);
    int64_t now = sw_wall_ms();
    if (rep != NULL) {
        const char *offender = inner ? xmpp_stanza_get_from(inner) : NULL;
        sw_share_report(sh, from, offender, from, reason_of(rep), now);
        return true;
    }
    xmpp_stanza_t *block = inner != NULL && strcmp(xmpp_stanza_get_name(inner), "iq") == 0
                               ? xmpp_stanza_get_child_by_ns(inner, "urn:xmpp:blocking")
                               : NULL;
    if (block == NULL || strcmp(xmpp_stanza_get_name(block), "block") != 0) {
        return false;
    }
    return block_items(sh, block, from, xmpp_stanza_get_from(inner), now) != 0;
}

bool sw_share_block_iq(struct sw_share *sh, xmpp_stanza_t *iq, const char *from)
{
    xmpp_stanza_t *block = xmpp_stanza_get_child_by_ns(iq, "urn:xmpp:blocking");
    if (block == NULL || strcmp(xmpp_stanza_get_name(block), "block") != 0) {
        return false;
    }
    /* the sender is the reporter: a peer stanzawatch with format xep0377 */
    return block_items(sh, block, from, from, sw_wall_ms()) > 0;
}

/* Pubsub event notifications from a source's service; XEP-0377 reports. */
static int on_share_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct sw_share *sh = ud;
    (void)conn;
    const char *from = xmpp_stanza_get_from(st);
    if (from == NULL) {
        return 1;
    }
    xmpp_stanza_t *ev = xmpp_stanza_get_child_by_ns(st, SW_PUBSUB_EVENT_NS);
    if (ev == NULL) {
        handle_reports(sh, st, from);
        return 1;
    }
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(ev); c != NULL; c = xmpp_stanza_get_next(c)) {
        const char *nm = xmpp_stanza_is_tag(c) ? xmpp_stanza_get_name(c) : NULL;
        const char *node = nm ? xmpp_stanza_get_attribute(c, "node") : NULL;
        int i = node ? sw_share_source_find(sh, from, node) : -1;
        if (i < 0) {
            continue;
        }
        if (strcmp(nm, "purge") == 0 || strcmp(nm, "delete") == 0) {
            sw_share_source_replace(sh, (size_t)i, NULL, 0);
            continue;
        }
        if (strcmp(nm, "items") != 0) {
            continue;
        }
        for (xmpp_stanza_t *it = xmpp_stanza_get_children(c); it != NULL;
             it = xmpp_stanza_get_next(it)) {
            const char *inm = xmpp_stanza_is_tag(it) ? xmpp_stanza_get_name(it) : NULL;
            if (inm != NULL && (strcmp(inm, "item") == 0 || strcmp(inm, "retract") == 0)) {
                sw_share_source_item(sh, (size_t)i, xmpp_stanza_get_id(it),
                                     strcmp(inm, "item") == 0);
            }
        }
    }
    return 1;
}

void sw_share_connected(struct sw_share *sh, xmpp_conn_t *conn, const char *my_jid)
{
    sh->conn = conn;
    snprintf(sh->my_jid, sizeof(sh->my_jid), "%s", my_jid);
    sh->connected_ms = sw_wall_ms();
    sh->setup_pending = 0;
    atomic_store(&sh->ready, 0);
    xmpp_handler_add(conn, on_share_iq, NULL, "iq", NULL, sh);
    xmpp_handler_add(conn, on_share_message, NULL, "message", NULL, sh);
    for (size_t k = 0; node_at(sh->s, k) != NULL || k == 0; k++) {
        if (node_at(sh->s, k) != NULL) {
            sh->setup_pending++;
            send_create(sh, k);
        }
    }
    if (sh->setup_pending == 0) {
        atomic_store(&sh->ready, 1);
    }
    for (size_t i = 0; i < sw_share_n_sources(sh); i++) {
        send_source_sync(sh, i);
    }
}

bool sw_share_ready(struct sw_share *sh, int64_t now_ms)
{
    if (atomic_load(&sh->ready)) {
        return true;
    }
    if (now_ms - sh->connected_ms >= SETUP_WAIT_MS) {
        sw_log_warn("share", "pubsub node setup on %s unanswered after %d s: sending anyway",
                    sh->s->service, SETUP_WAIT_MS / 1000);
        atomic_store(&sh->ready, 1);
        return true;
    }
    return false;
}

bool sw_share_error_done(struct sw_share *sh, const char *from, const char *cond)
{
    /* after setup our nodes exist, so item-not-found from our service means
     * the item is already gone: the retract's goal is reached */
    return from != NULL && cond != NULL && strcasecmp(from, sh->s->service) == 0 &&
           strcmp(cond, "item-not-found") == 0;
}
