/*
 * iodef2.c - IODEF 2.0 (RFC 7970) <Incident> writer, the per-feed (and
 * per-peer) alternative to the IODEF 1.0 of XEP-0268 reports (iodef.c).
 *
 * Same content as the 1.0 document, in 2.0's shape (RFC 7970 §8 schema,
 * tests/data/spec/iodef-2.0.xsd): the Incident carries status (new,
 * in-progress, resolved) and the required GenerationTime; Impact becomes
 * SystemImpact (availability-service for floods, policy for spam); Counter
 * needs type and unit (counter/alert, counter/message); MLString texts use
 * xml:lang; the offender and its targets are one Flow of two Systems with
 * ext-value xmpp Addresses and NodeRole; evidence goes in AdditionalData.
 * Free text goes through sw_iodef_clean(). Threading: reentrant.
 */
#include <stdlib.h>
#include <string.h>

#include "reporter_int.h"

#define W(call) SW_XML_TRY(call)
#define X(s) SW_XC(s)

#define attr sw_iodef_attr

/* 2.0's MLString: xml:lang; at most 2048 bytes of cleaned text. */
static int text_elem(xmlTextWriterPtr w, const char *name, const char *text)
{
    return sw_iodef_text(w, name, "xml:lang", text, 2048);
}

static int write_assessment(xmlTextWriterPtr w, const struct sw_incident *inc, enum sw_severity sev)
{
    char desc[256];
    bool flood = inc->kind != NULL && strstr(inc->kind, "flood") != NULL;
    W(xmlTextWriterStartElement(w, X("Assessment")));
    W(attr(w, "occurrence", "actual"));
    W(text_elem(w, "IncidentCategory", inc->kind ? inc->kind : "unknown"));
    W(xmlTextWriterStartElement(w, X("SystemImpact")));
    W(attr(w, "severity", sw_severity_name(sev)));
    W(attr(w, "completion", "succeeded"));
    W(attr(w, "type", flood ? "availability-service" : "policy"));
    snprintf(desc, sizeof(desc), "%s, score %lld.%03lld", inc->kind ? inc->kind : "unknown",
             (long long)(inc->score_milli / 1000),
             (long long)((inc->score_milli % 1000 + 1000) % 1000));
    W(text_elem(w, "Description", desc));
    W(xmlTextWriterEndElement(w));
    W(sw_iodef_counter(w, true, "alert", NULL, inc->hits));
    W(xmlTextWriterEndElement(w));
    return 0;
}

static int write_method(xmlTextWriterPtr w, const struct sw_incident *inc)
{
    char line[1024];
    W(xmlTextWriterStartElement(w, X("Method")));
    if (inc->n_contrib == 0) {
        W(text_elem(w, "Description", inc->kind ? inc->kind : "unknown"));
    }
    for (uint32_t i = 0; i < inc->n_contrib && i < SW_INC_MAX_DETECTORS; i++) {
        W(text_elem(w, "Description", sw_iodef_contrib_text(&inc->contrib[i], line, sizeof(line))));
    }
    W(xmlTextWriterEndElement(w));
    return 0;
}

static int write_system(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                        const struct sw_incident *inc, bool source)
{
    W(xmlTextWriterStartElement(w, X("System")));
    W(attr(w, "category", source ? "source" : "target"));
    W(xmlTextWriterStartElement(w, X("Node")));
    uint32_t distinct = 0;
    const char *role = "xmpp";
    if (source) {
        W(sw_iodef_address(w, inc->offender));
    } else {
        W(sw_iodef_targets(w, s, inc, &role, &distinct));
    }
    W(xmlTextWriterEndElement(w)); /* Node */
    if (!source) {
        W(sw_iodef_node_role(w, role));
    }
    if (source) {
        W(sw_iodef_counter(w, true, "alert", NULL, inc->hits));
    } else if (distinct > 0) {
        W(sw_iodef_counter(w, true, NULL, inc->n_rooms > 0 ? "xmpp-rooms" : "xmpp-recipients",
                           distinct));
    }
    if (source && inc->offender_kind == SW_OFFENDER_DOMAIN) {
        W(text_elem(w, "Description", "offender is a whole domain"));
    }
    W(xmlTextWriterEndElement(w)); /* System */
    return 0;
}

static int write_event_data(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                            const struct sw_incident *inc, enum sw_severity sev)
{
    W(xmlTextWriterStartElement(w, X("EventData")));
    W(xmlTextWriterStartElement(w, X("Flow")));
    W(write_system(w, s, inc, true));
    W(write_system(w, s, inc, false));
    W(xmlTextWriterEndElement(w)); /* Flow */
    bool block = inc->offender_kind == SW_OFFENDER_ACCOUNT && sev >= SW_SEV_MEDIUM;
    W(xmlTextWriterStartElement(w, X("Expectation")));
    W(attr(w, "action", block ? "block-host" : "rate-limit-host"));
    W(attr(w, "severity", sw_severity_name(sev)));
    W(text_elem(w, "Description",
                block ? "please disable or restrict the offending account"
                      : "please rate-limit the offending sender"));
    W(xmlTextWriterEndElement(w));
    W(sw_iodef_evidence(w, inc));
    W(xmlTextWriterEndElement(w)); /* EventData */
    return 0;
}

static int write_incident(xmlTextWriterPtr w, const struct sw_reporter_settings *s,
                          const struct sw_incident *inc, int64_t report_ms)
{
    char desc[SW_JID_TEXT + 160];
    enum sw_severity sev = sw_reporter_severity(s, inc->score_milli);
    bool closed = inc->status == SW_INC_CLOSED;
    W(xmlTextWriterStartElementNS(w, NULL, X("Incident"), X(SW_IODEF2_NS)));
    W(attr(w, "purpose", "reporting"));
    W(attr(w, "status", closed ? "resolved" : inc->revision == 0 ? "new" : "in-progress"));
    W(attr(w, "xml:lang", "en"));
    W(sw_iodef_head(w, s, inc, report_ms));
    W(sw_iodef_time_elem(w, "GenerationTime", report_ms));
    W(text_elem(w, "Description", sw_iodef_summary_text(inc, desc, sizeof(desc))));
    W(write_assessment(w, inc, sev));
    W(write_method(w, inc));
    W(sw_iodef_contact(w, s, "xml:lang"));
    W(write_event_data(w, s, inc, sev));
    if (closed) {
        W(sw_iodef_history_closed(w, "xml:lang", report_ms));
    }
    W(xmlTextWriterEndElement(w)); /* Incident */
    return 0;
}

struct incident_job {
    const struct sw_reporter_settings *s;
    const struct sw_incident *inc;
    int64_t report_ms;
};

static int write_job(xmlTextWriterPtr w, const void *arg)
{
    const struct incident_job *j = arg;
    return write_incident(w, j->s, j->inc, j->report_ms);
}

int sw_iodef2_incident(const struct sw_reporter_settings *s, const struct sw_incident *inc,
                       int64_t report_ms, char **out, size_t *len)
{
    struct incident_job j = {.s = s, .inc = inc, .report_ms = report_ms};
    return sw_reporter_xml_text(write_job, &j, out, len);
}
