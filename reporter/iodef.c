/*
 * iodef.c - IODEF 1.0 (RFC 5070) <Incident> writer for XEP-0268 reports.
 *
 * Design: libxml2's xmlTextWriter writes into a memory buffer, so escaping of
 * text and attributes is libxml2's job; what it does not do is refuse bytes
 * that XML 1.0 forbids (C0 controls, invalid UTF-8), and evidence is hostile
 * by nature, so every free text goes through sw_iodef_clean() first.
 *
 * Shape (RFC 5070, XEP-0268 §5/§8; schemas in tests/data/spec/): the Incident
 * children follow the schema's xs:sequence order; one Flow holding exactly
 * [System source, System target] with Counter on the source Node and NodeRole
 * on the target Node, and a jid AdditionalData in the Contact, which is the
 * shape both iodef-1.0.xsd and Prosody's mod_incidents_handling accept.
 * Extended enum values are written as `ext-value` + `ext-<attr>`.
 * Updates reuse the IncidentID (the incident's UUID) with a later ReportTime;
 * closure adds EndTime and a History entry.
 *
 * Threading: reentrant; no global state.
 */
#include "sw/reporter.h"

#include <stdlib.h>
#include <string.h>

#include "reporter_int.h"

#define W(call) SW_XML_TRY(call)
#define X(s) SW_XC(s)

/* XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF] */
static int xml_char_ok(uint32_t c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

/* Decode one UTF-8 sequence at @s (@n bytes left). Returns its length, or 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2, c = s[0] & 0x1Fu, min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, c = s[0] & 0x0Fu, min = 0x800;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, c = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    if (c < min || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) {
        return 0; /* overlong, surrogate, out of range */
    }
    *cp = c;
    return len;
}

char *sw_iodef_clean(char *dst, size_t cap, const char *src)
{
    static const char repl[] = "\xEF\xBF\xBD"; /* U+FFFD */
    const unsigned char *s = (const unsigned char *)src;
    size_t n = strlen(src), o = 0;
    if (cap == 0) {
        return dst;
    }
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t l = utf8_decode(s + i, n - i, &cp);
        const char *piece;
        size_t plen;
        if (l == 0 || !xml_char_ok(cp)) {
            piece = repl, plen = 3;
            i += l ? l : 1;
        } else {
            piece = (const char *)s + i, plen = l;
            i += l;
        }
        if (o + plen >= cap) {
            break;
        }
        memcpy(dst + o, piece, plen);
        o += plen;
    }
    dst[o] = '\0';
    return dst;
}

int sw_iodef_time_elem(xmlTextWriterPtr w, const char *name, int64_t ms)
{
    char t[40];
    W(xmlTextWriterWriteElement(w, X(name), X(sw_fmt_time(ms, t, sizeof(t)))));
    return 0;
}

int sw_iodef_attr(xmlTextWriterPtr w, const char *name, const char *value)
{
    char clean[512];
    sw_iodef_clean(clean, sizeof(clean), value);
    W(xmlTextWriterWriteAttribute(w, X(name), X(clean)));
    return 0;
}
#define attr sw_iodef_attr
#define elem_time sw_iodef_time_elem
#define xmpp_address sw_iodef_address

int sw_iodef_address(xmlTextWriterPtr w, const char *jid)
{
    char clean[SW_OFFENDER_TEXT * 3];
    W(xmlTextWriterStartElement(w, X("Address")));
    W(attr(w, "category", "ext-value"));
    W(attr(w, "ext-category", "xmpp"));
    W(xmlTextWriterWriteString(w, X(sw_iodef_clean(clean, sizeof(clean), jid))));
    W(xmlTextWriterEndElement(w));
    return 0;
}

int sw_iodef_counter(xmlTextWriterPtr w, bool v2, const char *type, const char *ext, uint64_t v)
{
    const char *key = v2 ? "unit" : "type";
    W(xmlTextWriterStartElement(w, X("Counter")));
    if (v2) {
        W(attr(w, "type", "counter"));
    }
    W(attr(w, key, ext != NULL ? "ext-value" : type));
    if (ext != NULL) {
        W(attr(w, v2 ? "ext-unit" : "ext-type", ext));
    }
    W(xmlTextWriterWriteFormatString(w, "%llu", (unsigned long long)v));
    W(xmlTextWriterEndElement(w));
    return 0;
}

int sw_iodef_text(xmlTextWriterPtr w, const char *name, const char *lang_attr, const char *text,
                  size_t cap)
{
    char clean[3 * (SW_OFFENDER_TEXT + 160)];
    W(xmlTextWriterStartElement(w, X(name)));
    W(attr(w, lang_attr, "en"));
    W(xmlTextWriterWriteString(
        w, X(sw_iodef_clean(clean, cap < sizeof(clean) ? cap : sizeof(clean), text))));
    W(xmlTextWriterEndElement(w));
    return 0;
}

int sw_iodef_targets(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                     const struct sw_incident *inc, const char **role, uint32_t *distinct)
{
    *role = "xmpp";
    *distinct = 0;
    if (inc->n_rooms > 0) {
        for (uint32_t i = 0; i < inc->n_rooms && i < SW_INC_MAX_TARGETS; i++) {
            W(xmpp_address(w, inc->rooms[i]));
        }
        *role = "xmpp-muc";
        *distinct = inc->n_rooms;
    } else if (inc->n_targets > 0) {
        for (uint32_t i = 0; i < inc->n_targets && i < SW_INC_MAX_TARGETS; i++) {
            W(xmpp_address(w, inc->targets[i]));
        }
        *distinct = inc->n_targets;
    } else {
        W(xmpp_address(w, s->domain ? s->domain : "localhost"));
    }
    return 0;
}

int sw_iodef_node_role(xmlTextWriterPtr w, const char *role)
{
    W(xmlTextWriterStartElement(w, X("NodeRole")));
    W(attr(w, "category", "ext-value"));
    W(attr(w, "ext-category", role));
    W(xmlTextWriterEndElement(w));
    return 0;
}

int sw_iodef_history_closed(xmlTextWriterPtr w, const char *lang_attr, int64_t report_ms)
{
    static const char text[] = "incident closed: no further activity observed";
    W(xmlTextWriterStartElement(w, X("History")));
    W(xmlTextWriterStartElement(w, X("HistoryItem")));
    W(attr(w, "action", "status-new-info"));
    W(elem_time(w, "DateTime", report_ms));
    W(sw_iodef_text(w, "Description", lang_attr, text, sizeof(text)));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    return 0;
}

/* Floods deny service (Impact type dos); spam of any kind breaks policy. */
static bool kind_is_flood(const struct sw_incident *inc)
{
    return inc->kind != NULL && (strstr(inc->kind, "flood") != NULL);
}

char *sw_iodef_contrib_text(const struct sw_incident_contrib *c, char *line, size_t cap)
{
    int off =
        snprintf(line, cap, "%s (%s): score %lld.%03lld, %u hits", c->symbol ? c->symbol : "?",
                 c->detector ? c->detector : "?", (long long)(c->score_milli / 1000),
                 (long long)((c->score_milli % 1000 + 1000) % 1000), c->hits);
    for (uint32_t v = 0; v < c->n_values && v < SW_HIT_MAX_VALUES && off > 0 && (size_t)off < cap;
         v++) {
        off += snprintf(line + off, cap - (size_t)off, ", %s=%lld",
                        c->values[v].name ? c->values[v].name : "?", (long long)c->values[v].value);
    }
    return line;
}

static int write_method(xmlTextWriterPtr w, const struct sw_incident *inc)
{
    char line[1024];
    W(xmlTextWriterStartElement(w, X("Method")));
    if (inc->n_contrib == 0) {
        snprintf(line, sizeof(line), "%s", inc->kind ? inc->kind : "unknown");
        W(sw_iodef_text(w, "Description", "lang", line, sizeof(line)));
    }
    for (uint32_t i = 0; i < inc->n_contrib && i < SW_INC_MAX_DETECTORS; i++) {
        sw_iodef_contrib_text(&inc->contrib[i], line, sizeof(line));
        W(sw_iodef_text(w, "Description", "lang", line, sizeof(line)));
    }
    W(xmlTextWriterEndElement(w));
    return 0;
}

int sw_iodef_contact(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                     const char *lang_attr)
{
    char name[SW_JID_TEXT + 32];
    W(xmlTextWriterStartElement(w, X("Contact")));
    W(attr(w, "role", "creator"));
    W(attr(w, "type", "organization"));
    snprintf(name, sizeof(name), "%s operators", s->domain ? s->domain : "localhost");
    W(xmlTextWriterStartElement(w, X("ContactName")));
    W(attr(w, lang_attr, "en"));
    char clean[sizeof(name) * 3];
    W(xmlTextWriterWriteString(w, X(sw_iodef_clean(clean, sizeof(clean), name))));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterStartElement(w, X("AdditionalData")));
    W(attr(w, "dtype", "xml"));
    W(attr(w, "meaning", "xmpp-admin"));
    W(xmlTextWriterStartElementNS(w, NULL, X("jid"), X(SW_JID_NS)));
    const char *admin = s->admin_jid ? s->admin_jid : "";
    W(xmlTextWriterWriteString(w, X(sw_iodef_clean(clean, sizeof(clean), admin))));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    return 0;
}

int sw_iodef_evidence(xmlTextWriterPtr w, const struct sw_incident *inc)
{
    char t[40];
    for (uint32_t i = 0; i < inc->n_evidence && i < SW_INC_MAX_EVIDENCE; i++) {
        const struct sw_incident_evidence *e = &inc->evidence[i];
        W(xmlTextWriterStartElement(w, X("AdditionalData")));
        W(attr(w, "dtype", "xml"));
        W(attr(w, "meaning", "evidence-stanza"));
        W(xmlTextWriterStartElementNS(w, NULL, X("evidence"), X(SW_EVIDENCE_NS)));
        W(attr(w, "time", sw_fmt_time(e->t_ms, t, sizeof(t))));
        char seq[32];
        snprintf(seq, sizeof(seq), "%llu", (unsigned long long)e->ev_seq);
        W(attr(w, "seq", seq));
        if (e->stanza_id[0]) {
            W(attr(w, "id", e->stanza_id));
        }
        if (e->room[0]) {
            W(attr(w, "room", e->room));
        }
        if (e->target[0]) {
            W(attr(w, "to", e->target));
        }
        char clean[SW_HIT_TEXT * 3];
        W(xmlTextWriterWriteString(w, X(sw_iodef_clean(clean, sizeof(clean), e->body))));
        W(xmlTextWriterEndElement(w));
        W(xmlTextWriterEndElement(w));
    }
    return 0;
}

static int write_event_data(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                            const struct sw_incident *inc, enum sw_severity sev)
{
    W(xmlTextWriterStartElement(w, X("EventData")));
    W(xmlTextWriterStartElement(w, X("Flow")));

    /* source: the offender (one per Incident, as Prosody reads it) */
    W(xmlTextWriterStartElement(w, X("System")));
    W(attr(w, "category", "source"));
    W(xmlTextWriterStartElement(w, X("Node")));
    W(xmpp_address(w, inc->offender));
    /* detector alerts raised against this offender (Prosody needs a Counter here) */
    W(sw_iodef_counter(w, false, "alert", NULL, inc->hits));
    W(xmlTextWriterEndElement(w)); /* Node */
    if (inc->offender_kind == SW_OFFENDER_DOMAIN) {
        W(sw_iodef_text(w, "Description", "lang", "offender is a whole domain", 64));
    }
    W(xmlTextWriterEndElement(w)); /* System */

    /* target: rooms (MUC), else target accounts, else our own service */
    W(xmlTextWriterStartElement(w, X("System")));
    W(attr(w, "category", "target"));
    W(xmlTextWriterStartElement(w, X("Node")));
    const char *role;
    uint32_t distinct;
    W(sw_iodef_targets(w, s, inc, &role, &distinct));
    W(sw_iodef_node_role(w, role));
    if (distinct > 0) {
        W(sw_iodef_counter(w, false, NULL,
                           inc->n_rooms > 0 ? "xmpp-distinct-rooms" : "xmpp-distinct-recipients",
                           distinct));
    }
    W(xmlTextWriterEndElement(w)); /* Node */
    W(xmlTextWriterEndElement(w)); /* System */
    W(xmlTextWriterEndElement(w)); /* Flow */

    /* what we ask of the offender's server */
    W(xmlTextWriterStartElement(w, X("Expectation")));
    bool block = inc->offender_kind == SW_OFFENDER_ACCOUNT && sev >= SW_SEV_MEDIUM;
    W(attr(w, "action", block ? "block-host" : "rate-limit-host"));
    W(attr(w, "severity", sw_severity_name(sev)));
    W(sw_iodef_text(w, "Description", "lang",
                    block ? "please disable or restrict the offending account"
                          : "please rate-limit the offending sender",
                    64));
    W(xmlTextWriterEndElement(w));

    W(sw_iodef_evidence(w, inc));
    W(xmlTextWriterEndElement(w)); /* EventData */
    return 0;
}

int sw_iodef_head(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                  const struct sw_incident *inc, int64_t report_ms)
{
    char buf[1024];
    W(xmlTextWriterStartElement(w, X("IncidentID")));
    W(attr(w, "name", s->domain ? s->domain : "localhost"));
    W(xmlTextWriterWriteString(w, X(sw_iodef_clean(buf, sizeof(buf), inc->id))));
    W(xmlTextWriterEndElement(w));
    W(elem_time(w, "DetectTime", inc->detected_at));
    W(elem_time(w, "StartTime", inc->first_seen));
    if (inc->status == SW_INC_CLOSED) {
        W(elem_time(w, "EndTime", inc->last_seen));
    }
    W(elem_time(w, "ReportTime", report_ms));
    return 0;
}

char *sw_iodef_summary_text(const struct sw_incident *inc, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s by %s %s (%s, revision %u)", inc->kind ? inc->kind : "unknown",
             inc->offender_kind == SW_OFFENDER_DOMAIN ? "domain" : "account", inc->offender,
             sw_incident_status_name(inc->status), inc->revision);
    return buf;
}

int sw_iodef_write(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                   const struct sw_incident *inc, int64_t report_ms)
{
    char buf[3 * (SW_OFFENDER_TEXT + 160)]; /* the Description names the whole offender */
    enum sw_severity sev = sw_reporter_severity(s, inc->score_milli);
    bool flood = kind_is_flood(inc);
    bool closed = inc->status == SW_INC_CLOSED;
    const char *kind = inc->kind ? inc->kind : "unknown";

    W(xmlTextWriterStartElementNS(w, NULL, X("Incident"), X(SW_IODEF_NS)));
    W(attr(w, "purpose", "reporting"));
    W(attr(w, "lang", "en"));
    W(sw_iodef_head(w, s, inc, report_ms));

    char desc[SW_OFFENDER_TEXT + 160];
    W(sw_iodef_text(w, "Description", "lang", sw_iodef_summary_text(inc, desc, sizeof(desc)),
                    sizeof(buf)));

    W(xmlTextWriterStartElement(w, X("Assessment")));
    W(attr(w, "occurrence", "actual"));
    W(xmlTextWriterStartElement(w, X("Impact")));
    W(attr(w, "lang", "en"));
    W(attr(w, "severity", sw_severity_name(sev)));
    W(attr(w, "completion", "succeeded"));
    W(attr(w, "type", flood ? "dos" : "policy"));
    snprintf(desc, sizeof(desc), "%s, score %lld.%03lld", kind,
             (long long)(inc->score_milli / 1000),
             (long long)((inc->score_milli % 1000 + 1000) % 1000));
    W(xmlTextWriterWriteString(w, X(sw_iodef_clean(buf, sizeof(buf), desc))));
    W(xmlTextWriterEndElement(w));
    W(sw_iodef_counter(w, false, "alert", NULL, inc->hits));
    W(xmlTextWriterEndElement(w));

    W(write_method(w, inc));
    W(sw_iodef_contact(w, s, "lang"));
    W(write_event_data(w, s, inc, sev));

    if (closed) {
        W(sw_iodef_history_closed(w, "lang", report_ms));
    }
    W(xmlTextWriterEndElement(w)); /* Incident */
    return 0;
}

static const char *const action_names[] = {"nothing",
                                           "contact-source-site",
                                           "contact-target-site",
                                           "contact-sender",
                                           "investigate",
                                           "block-host",
                                           "block-network",
                                           "block-port",
                                           "rate-limit-host",
                                           "rate-limit-network",
                                           "rate-limit-port",
                                           "remediate-other",
                                           "status-triage",
                                           "status-new-info",
                                           "other",
                                           NULL};

bool sw_iodef_action_valid(const char *action)
{
    for (size_t i = 0; action != NULL && action_names[i] != NULL; i++) {
        if (strcmp(action, action_names[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* <Incident purpose='mitigation'> telling a peer what we did about its incident. */
static int write_response(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                          const struct sw_xep0268_response *rsp, int64_t now_ms)
{
    char buf[1024];
    W(xmlTextWriterStartElementNS(w, NULL, X("Incident"), X(SW_IODEF_NS)));
    W(attr(w, "purpose", "mitigation"));
    W(attr(w, "lang", "en"));
    W(xmlTextWriterStartElement(w, X("IncidentID")));
    W(attr(w, "name", rsp->incident_name));
    W(xmlTextWriterWriteString(w, X(sw_iodef_clean(buf, sizeof(buf), rsp->incident_id))));
    W(xmlTextWriterEndElement(w));
    W(elem_time(w, "ReportTime", now_ms));
    W(xmlTextWriterStartElement(w, X("Assessment")));
    W(xmlTextWriterStartElement(w, X("Impact")));
    W(attr(w, "lang", "en"));
    W(attr(w, "type", "unknown"));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    W(sw_iodef_contact(w, s, "lang"));
    W(xmlTextWriterStartElement(w, X("History")));
    W(xmlTextWriterStartElement(w, X("HistoryItem")));
    W(attr(w, "action", rsp->action));
    W(elem_time(w, "DateTime", now_ms));
    if (rsp->text != NULL && rsp->text[0] != '\0') {
        W(xmlTextWriterStartElement(w, X("Description")));
        W(attr(w, "lang", "en"));
        W(xmlTextWriterWriteString(w, X(sw_iodef_clean(buf, sizeof(buf), rsp->text))));
        W(xmlTextWriterEndElement(w));
    }
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    return 0;
}

struct doc_job {
    const char *wrapper; /* NULL = bare Incident */
    const struct sw_reporter_settings *s;
    const struct sw_incident *inc;         /* a report ... */
    const struct sw_xep0268_response *rsp; /* ... or a response */
    int64_t ms;
};

int sw_reporter_xml_text(int (*fn)(xmlTextWriterPtr w, const void *arg), const void *arg,
                         char **out, size_t *len)
{
    int rc = SW_ENOMEM;
    xmlBufferPtr b = xmlBufferCreate();
    xmlTextWriterPtr w = b != NULL ? xmlNewTextWriterMemory(b, 0) : NULL;
    if (w == NULL) {
        goto done;
    }
    rc = fn(w, arg);
    if (rc == 0 && xmlTextWriterFlush(w) < 0) {
        rc = SW_EIO;
    }
    xmlFreeTextWriter(w);
    if (rc != 0) {
        goto done;
    }
    size_t n = (size_t)xmlBufferLength(b);
    char *t = malloc(n + 1);
    if (t == NULL) {
        rc = SW_ENOMEM;
        goto done;
    }
    memcpy(t, xmlBufferContent(b), n);
    t[n] = '\0';
    *out = t;
    if (len != NULL) {
        *len = n;
    }
done:
    if (b != NULL) {
        xmlBufferFree(b);
    }
    return rc;
}

/* The job's writes: the wrapper element (if any) around a report or response. */
static int write_job(xmlTextWriterPtr w, const void *arg)
{
    const struct doc_job *j = arg;
    if (j->wrapper != NULL) {
        W(xmlTextWriterStartElementNS(w, NULL, X(j->wrapper), X(SW_XEP0268_NS)));
    }
    if (j->inc != NULL ? sw_iodef_write(w, j->s, j->inc, j->ms) != 0
                       : write_response(w, j->s, j->rsp, j->ms) != 0) {
        return SW_EIO;
    }
    if (j->wrapper != NULL) {
        W(xmlTextWriterEndElement(w));
    }
    return 0;
}

static int write_doc(const struct doc_job *j, char **out, size_t *len)
{
    return sw_reporter_xml_text(write_job, j, out, len);
}

int sw_iodef_incident(const struct sw_reporter_settings *s, const struct sw_incident *inc,
                      int64_t report_ms, char **out, size_t *len)
{
    struct doc_job j = {.s = s, .inc = inc, .ms = report_ms};
    return write_doc(&j, out, len);
}

int sw_xep0268_report(const struct sw_reporter_settings *s, const struct sw_incident *inc,
                      int64_t report_ms, char **out, size_t *len)
{
    struct doc_job j = {.wrapper = "report", .s = s, .inc = inc, .ms = report_ms};
    return write_doc(&j, out, len);
}

int sw_xep0268_response(const struct sw_reporter_settings *s, const struct sw_xep0268_response *rsp,
                        int64_t now_ms, char **out, size_t *len)
{
    if (rsp == NULL || rsp->incident_name == NULL || rsp->incident_name[0] == '\0' ||
        rsp->incident_id == NULL || rsp->incident_id[0] == '\0' ||
        !sw_iodef_action_valid(rsp->action)) {
        return SW_EINVAL;
    }
    struct doc_job j = {.wrapper = "response", .s = s, .rsp = rsp, .ms = now_ms};
    return write_doc(&j, out, len);
}
