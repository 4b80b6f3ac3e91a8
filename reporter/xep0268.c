/*
 * xep0268.c - XEP-0268 (urn:xmpp:incident:2) wrapping and lenient parsing.
 *
 * Outbound: the IODEF writer (iodef.c) produces <report><Incident/></report>;
 * sw_xep0268_iq() puts it into the iq envelope with escaped attributes.
 *
 * Inbound: peers, notably Prosody's mod_incidents_handling, send IODEF that
 * the schema refuses (xml:lang, children out of order, ext-category/ext-type as
 * escape values, IncidentID-only inquiries). We therefore do not validate
 * inbound documents; we read what we need by local element name, in any
 * order. Hostile input is bounded before libxml2 sees it: a size limit, no
 * DOCTYPE at all (so no entity can be declared, let alone expanded), libxml2
 * with XML_PARSE_NONET and without XML_PARSE_NOENT / XML_PARSE_HUGE, and a depth
 * limit checked while walking the tree (libxml2 itself stops at 256).
 *
 * Threading: reentrant (libxml2 must have been initialised by xmlInitParser()
 * on the main thread, which sw_reporter_start does).
 */
#include "sw/reporter.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reporter_int.h"

static const char *const kind_names[SW_XEP0268_NKINDS] = {"report", "inquiry", "request",
                                                          "response"};

const char *sw_xep0268_kind_name(int kind)
{
    return kind >= 0 && kind < SW_XEP0268_NKINDS ? kind_names[kind] : "none";
}

int sw_xep0268_kind_from_name(const char *name)
{
    for (int i = 0; i < SW_XEP0268_NKINDS; i++) {
        if (name != NULL && strcmp(name, kind_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

size_t sw_reporter_esc_attr(char *dst, size_t cap, const char *s)
{
    size_t o = 0;
    for (; s != NULL && *s != '\0' && (dst == NULL || o + 7 < cap); s++) {
        const char *r = *s == '&'    ? "&amp;"
                        : *s == '<'  ? "&lt;"
                        : *s == '>'  ? "&gt;"
                        : *s == '\'' ? "&apos;"
                        : *s == '"'  ? "&quot;"
                                     : NULL;
        size_t n = r != NULL ? strlen(r) : 1;
        if (dst != NULL) {
            memcpy(dst + o, r != NULL ? r : s, n);
        }
        o += n;
    }
    if (dst != NULL) {
        dst[o] = '\0';
    }
    return o;
}

int sw_xep0268_iq(const char *type, const char *id, const char *from, const char *to,
                  const char *payload, size_t plen, char **out, size_t *len)
{
    const char *names[4] = {"type", "id", "from", "to"};
    const char *vals[4] = {type, id, from, to};
    size_t need = 4 + 6 + plen + 1;
    for (int i = 0; i < 4; i++) {
        if (vals[i] != NULL) {
            need += strlen(names[i]) + 4 + sw_reporter_esc_attr(NULL, 0, vals[i]);
        }
    }
    char *b = malloc(need);
    if (b == NULL) {
        return SW_ENOMEM;
    }
    size_t o = 0;
    memcpy(b, "<iq", 3);
    o = 3;
    for (int i = 0; i < 4; i++) {
        if (vals[i] == NULL) {
            continue;
        }
        b[o++] = ' ';
        memcpy(b + o, names[i], strlen(names[i]));
        o += strlen(names[i]);
        b[o++] = '=';
        b[o++] = '\'';
        o += sw_reporter_esc_attr(b + o, SIZE_MAX, vals[i]);
        b[o++] = '\'';
    }
    b[o++] = '>';
    memcpy(b + o, payload, plen);
    o += plen;
    memcpy(b + o, "</iq>", 5);
    o += 5;
    b[o] = '\0';
    *out = b;
    if (len != NULL) {
        *len = o;
    }
    return 0;
}

/* ---- inbound ---- */

struct walk {
    struct sw_xep0268_msg *m;
    unsigned max_depth;
    int too_deep;
    int in_source; /* depth of an enclosing source System, 0 = none */
    int in_contact;
};

static void copy_text(char *dst, size_t cap, const xmlChar *s)
{
    if (s == NULL) {
        dst[0] = '\0';
        return;
    }
    sw_iodef_clean(dst, cap, (const char *)s);
}

static void copy_content(char *dst, size_t cap, xmlNodePtr n)
{
    xmlChar *c = xmlNodeGetContent(n);
    copy_text(dst, cap, c);
    if (c != NULL) {
        xmlFree(c);
    }
    /* trim surrounding white space (pretty-printed input) */
    size_t l = strlen(dst), a = 0;
    while (l > 0 &&
           (dst[l - 1] == ' ' || dst[l - 1] == '\n' || dst[l - 1] == '\t' || dst[l - 1] == '\r')) {
        dst[--l] = '\0';
    }
    while (dst[a] == ' ' || dst[a] == '\n' || dst[a] == '\t' || dst[a] == '\r') {
        a++;
    }
    if (a > 0) {
        memmove(dst, dst + a, l - a + 1);
    }
}

static void copy_attr(char *dst, size_t cap, xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    if (v != NULL) {
        copy_text(dst, cap, v);
        xmlFree(v);
    }
}

static bool is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* Walk the Incident subtree; first occurrence of each field wins. */
static void walk_incident(struct walk *w, xmlNodePtr n, unsigned depth, xmlNodePtr incident)
{
    struct sw_xep0268_msg *m = w->m;
    if (depth > w->max_depth) {
        w->too_deep = 1;
        return;
    }
    for (xmlNodePtr c = n->children; c != NULL && !w->too_deep; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        bool direct = n == incident;
        if (direct && is(c, "IncidentID") && m->incident_id[0] == '\0') {
            copy_attr(m->incident_name, sizeof(m->incident_name), c, "name");
            copy_content(m->incident_id, sizeof(m->incident_id), c);
        } else if (direct && is(c, "ReportTime") && m->report_time[0] == '\0') {
            copy_content(m->report_time, sizeof(m->report_time), c);
        } else if (direct && is(c, "Description") && m->description[0] == '\0') {
            copy_content(m->description, sizeof(m->description), c);
        } else if (is(c, "Impact") && m->severity[0] == '\0' && m->impact_type[0] == '\0') {
            copy_attr(m->severity, sizeof(m->severity), c, "severity");
            copy_attr(m->impact_type, sizeof(m->impact_type), c, "type");
        } else if (is(c, "Expectation") && m->expectation[0] == '\0') {
            copy_attr(m->expectation, sizeof(m->expectation), c, "action");
        } else if (is(c, "HistoryItem") && m->history_action[0] == '\0') {
            copy_attr(m->history_action, sizeof(m->history_action), c, "action");
        } else if (is(c, "Address") && w->in_source && m->n_offenders < SW_XEP0268_MAX_OFFENDERS) {
            copy_content(m->offenders[m->n_offenders], SW_JID_TEXT, c);
            if (m->offenders[m->n_offenders][0] != '\0') {
                m->n_offenders++;
            }
        } else if (is(c, "jid") && w->in_contact && m->contact_jid[0] == '\0') {
            copy_content(m->contact_jid, sizeof(m->contact_jid), c);
        }
        int was_source = w->in_source, was_contact = w->in_contact;
        if (is(c, "System")) {
            xmlChar *cat = xmlGetProp(c, (const xmlChar *)"category");
            if (cat != NULL && strcmp((const char *)cat, "source") == 0) {
                w->in_source = 1;
            }
            if (cat != NULL) {
                xmlFree(cat);
            }
        } else if (is(c, "Contact")) {
            w->in_contact = 1;
        }
        walk_incident(w, c, depth + 1, incident);
        w->in_source = was_source;
        w->in_contact = was_contact;
    }
}

static unsigned max_depth_of(xmlNodePtr n, unsigned depth, unsigned limit)
{
    unsigned best = depth;
    if (depth > limit) {
        return depth;
    }
    for (xmlNodePtr c = n->children; c != NULL; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            unsigned d = max_depth_of(c, depth + 1, limit);
            if (d > best) {
                best = d;
            }
            if (best > limit) {
                break;
            }
        }
    }
    return best;
}

static bool has_ns(xmlNodePtr n, const char *ns)
{
    return n->ns != NULL && n->ns->href != NULL && strcmp((const char *)n->ns->href, ns) == 0;
}

static bool contains(const char *buf, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++) {
        if (buf[i] == needle[0] && memcmp(buf + i, needle, nl) == 0) {
            return true;
        }
    }
    return false;
}

void *sw_xep0268_read_doc(const char *buf, size_t len)
{
    /* No XML_PARSE_NOENT (entities are never substituted), no DTDLOAD (no
     * external subset or entity is fetched), NONET (nothing from the network
     * even if asked), no HUGE (libxml2's own size and depth caps stay). */
    return xmlReadMemory(buf, (int)len, NULL, NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                             XML_PARSE_NOCDATA);
}

int sw_xep0268_parse_ex(const char *buf, size_t len, size_t max_bytes, unsigned max_depth,
                        bool prefilter, struct sw_xep0268_msg *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = -1;
    if (len > max_bytes || len > (size_t)INT32_MAX) {
        return SW_ELIMIT;
    }
    /* XMPP forbids DTDs; refusing any markup declaration rules out entity tricks. */
    if (prefilter && (contains(buf, len, "<!DOCTYPE") || contains(buf, len, "<!ENTITY") ||
                      contains(buf, len, "<!doctype"))) {
        return SW_EPARSE;
    }
    xmlDocPtr doc = sw_xep0268_read_doc(buf, len);
    if (doc == NULL) {
        return SW_EPARSE;
    }
    int rc = 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    /* second line of defence, without the prefilter: a document that
     * declares anything (internal subset) is refused before any text of it is
     * read (xmlNodeGetContent would expand entity references) */
    if (root == NULL || doc->intSubset != NULL || doc->extSubset != NULL) {
        rc = SW_EPARSE;
        goto out;
    }
    if (max_depth_of(root, 1, max_depth) > max_depth) {
        rc = SW_ELIMIT;
        goto out;
    }
    xmlNodePtr wrapper = NULL;
    if (is(root, "iq")) {
        copy_attr(out->iq_type, sizeof(out->iq_type), root, "type");
        copy_attr(out->iq_id, sizeof(out->iq_id), root, "id");
        copy_attr(out->from, sizeof(out->from), root, "from");
        copy_attr(out->to, sizeof(out->to), root, "to");
        for (xmlNodePtr c = root->children; c != NULL; c = c->next) {
            if (c->type == XML_ELEMENT_NODE && has_ns(c, SW_XEP0268_NS) &&
                sw_xep0268_kind_from_name((const char *)c->name) >= 0) {
                wrapper = c;
                break;
            }
        }
    } else if (has_ns(root, SW_XEP0268_NS) &&
               sw_xep0268_kind_from_name((const char *)root->name) >= 0) {
        wrapper = root;
    }
    if (wrapper == NULL) {
        goto out; /* kind -1: not for us */
    }
    out->kind = sw_xep0268_kind_from_name((const char *)wrapper->name);
    xmlNodePtr incident = NULL;
    for (xmlNodePtr c = wrapper->children; c != NULL; c = c->next) {
        if (is(c, "Incident")) {
            out->n_incidents++;
            if (incident == NULL) {
                incident = c;
            }
        }
    }
    if (incident == NULL) {
        goto out;
    }
    copy_attr(out->purpose, sizeof(out->purpose), incident, "purpose");
    struct walk w = {.m = out, .max_depth = max_depth};
    walk_incident(&w, incident, 1, incident);
    if (w.too_deep) {
        rc = SW_ELIMIT;
    }
out:
    xmlFreeDoc(doc);
    return rc;
}

int sw_xep0268_parse(const char *buf, size_t len, size_t max_bytes, unsigned max_depth,
                     struct sw_xep0268_msg *out)
{
    return sw_xep0268_parse_ex(buf, len, max_bytes, max_depth, true, out);
}
