/*
 * rtbl.c - what stock XMPP servers read from a block list: the item id (the
 * SHA-256 hex of a bare JID or domain, as mod_muc_rtbl computes it) and the
 * item payloads (XEP-0377 <report/>, a compact feed summary), plus the
 * pubsub <publish/> / <retract/> wrappers that go through the spool.
 *
 * SHA-256 comes from OpenSSL's libcrypto: libstrophe already links it, so it
 * adds no library to the process, and it is the most scrutinised SHA-256 in
 * Debian (libxxhash is not a cryptographic hash and cannot match the
 * servers' lookups).
 *
 * Payloads are written with libxml2's xmlTextWriter (escaping is its job);
 * free text goes through sw_iodef_clean() first. Threading: reentrant.
 */
#include "sw/share.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "reporter_int.h"
#include "share_int.h"

#define W(call) SW_XML_TRY(call)
#define X(s) SW_XC(s)

int sw_share_rtbl_hash(const char *entity, char out[65])
{
    char bare[SW_OFFENDER_TEXT];
    size_t n = 0;
    if (entity == NULL) {
        return SW_EINVAL;
    }
    for (const char *p = entity; *p != '\0' && *p != '/'; p++) {
        if (n + 1 >= sizeof(bare) || (unsigned char)*p <= 0x20) {
            return SW_EINVAL;
        }
        bare[n++] = (char)tolower((unsigned char)*p);
    }
    if (n == 0) {
        return SW_EINVAL;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(bare, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        return SW_EINVAL;
    }
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

static const char *reason_of(const struct sw_incident *inc)
{
    return inc->kind != NULL && strstr(inc->kind, "spam") != NULL ? "urn:xmpp:reporting:spam"
                                                                  : "urn:xmpp:reporting:abuse";
}

/* What one document of this file is written from (each writer uses its part). */
struct doc_arg {
    const struct sw_incident *inc;
    const char *domain;
    const char *node, *item_id, *raw; /* raw: our own writer's output */
};

static int write_xep0377(xmlTextWriterPtr w, const void *arg)
{
    const struct doc_arg *d = arg;
    const struct sw_incident *inc = d->inc;
    char text[SW_OFFENDER_TEXT + 256], t[40], off[SW_OFFENDER_TEXT];
    sw_iodef_clean(off, sizeof(off), inc->offender);
    snprintf(text, sizeof(text), "%s by %s (incident %s@%s, score %.1f, detected %s)",
             inc->kind ? inc->kind : "abuse", off, inc->id, d->domain ? d->domain : "",
             (double)inc->score_milli / 1000.0, sw_fmt_time(inc->detected_at, t, sizeof(t)));
    W(xmlTextWriterStartElementNS(w, NULL, X("report"), X(SW_XEP0377_NS)));
    W(xmlTextWriterWriteAttribute(w, X("reason"), X(reason_of(inc))));
    W(xmlTextWriterStartElement(w, X("text")));
    W(xmlTextWriterWriteAttribute(w, X("xml:lang"), X("en")));
    W(xmlTextWriterWriteString(w, X(text)));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    return 0;
}

int sw_share_xep0377(const struct sw_incident *inc, const char *domain, char **out, size_t *len)
{
    struct doc_arg d = {.inc = inc, .domain = domain};
    return sw_reporter_xml_text(write_xep0377, &d, out, len);
}

static int write_block(xmlTextWriterPtr w, const void *arg)
{
    const struct doc_arg *d = arg;
    char bare[SW_OFFENDER_TEXT], clean[SW_OFFENDER_TEXT];
    snprintf(bare, sizeof(bare), "%.*s", (int)strcspn(d->inc->offender, "/"), d->inc->offender);
    W(xmlTextWriterStartElementNS(w, NULL, X("block"), X("urn:xmpp:blocking")));
    W(xmlTextWriterStartElement(w, X("item")));
    W(xmlTextWriterWriteAttribute(w, X("jid"), X(sw_iodef_clean(clean, sizeof(clean), bare))));
    W(xmlTextWriterWriteRaw(w, X(d->raw)));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    return 0;
}

int sw_share_xep0377_block(const struct sw_incident *inc, const char *domain, char **out,
                           size_t *len)
{
    char *report = NULL;
    size_t rlen;
    int rc = sw_share_xep0377(inc, domain, &report, &rlen);
    if (rc != 0) {
        return rc;
    }
    struct doc_arg d = {.inc = inc, .raw = report};
    rc = sw_reporter_xml_text(write_block, &d, out, len);
    free(report);
    return rc;
}

static int write_report_raw(xmlTextWriterPtr w, const void *arg)
{
    const struct doc_arg *d = arg;
    W(xmlTextWriterStartElementNS(w, NULL, X("report"), X(SW_XEP0268_NS)));
    W(xmlTextWriterWriteRaw(w, X(d->raw)));
    W(xmlTextWriterEndElement(w));
    return 0;
}

int sw_share_peer_payload(const struct sw_reporter_settings *s, int format,
                          const struct sw_incident *inc, int64_t report_ms, char **out, size_t *len)
{
    if (format == SW_PEER_XEP0377) {
        return sw_share_xep0377_block(inc, s->domain, out, len);
    }
    if (format != SW_PEER_XEP0268_IODEF2) {
        return sw_xep0268_report(s, inc, report_ms, out, len);
    }
    char *incident = NULL;
    size_t ilen;
    int rc = sw_iodef2_incident(s, inc, report_ms, &incident, &ilen);
    if (rc != 0) {
        return rc;
    }
    struct doc_arg d = {.raw = incident};
    rc = sw_reporter_xml_text(write_report_raw, &d, out, len);
    free(incident);
    return rc;
}

static int write_summary(xmlTextWriterPtr w, const void *arg)
{
    const struct doc_arg *d = arg;
    const struct sw_incident *inc = d->inc;
    char t[40], off[SW_OFFENDER_TEXT], num[32];
    sw_iodef_clean(off, sizeof(off), inc->offender);
    W(xmlTextWriterStartElementNS(w, NULL, X("incident"), X(SW_FEED_NS)));
    W(xmlTextWriterWriteAttribute(w, X("id"), X(inc->id)));
    W(xmlTextWriterWriteAttribute(w, X("name"), X(d->domain ? d->domain : "")));
    W(xmlTextWriterWriteAttribute(w, X("kind"), X(inc->kind ? inc->kind : "abuse")));
    W(xmlTextWriterWriteAttribute(w, X("status"), X(sw_incident_status_name(inc->status))));
    snprintf(num, sizeof(num), "%.3f", (double)inc->score_milli / 1000.0);
    W(xmlTextWriterWriteAttribute(w, X("score"), X(num)));
    W(xmlTextWriterWriteAttribute(w, X("detected"),
                                  X(sw_fmt_time(inc->detected_at, t, sizeof(t)))));
    W(xmlTextWriterWriteAttribute(w, X("last-seen"), X(sw_fmt_time(inc->last_seen, t, sizeof(t)))));
    W(xmlTextWriterStartElement(w, X("offender")));
    W(xmlTextWriterWriteAttribute(
        w, X("kind"), X(inc->offender_kind == SW_OFFENDER_DOMAIN ? "domain" : "account")));
    W(xmlTextWriterWriteString(w, X(off)));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    return 0;
}

int sw_share_summary(const struct sw_incident *inc, const char *domain, char **out, size_t *len)
{
    struct doc_arg d = {.inc = inc, .domain = domain};
    return sw_reporter_xml_text(write_summary, &d, out, len);
}

/* <pubsub><publish node=N><item id=I>raw</item></publish></pubsub>, or with
 * raw NULL <pubsub><retract node=N notify=true><item id=I/></retract></pubsub>. */
static int write_item_iq(xmlTextWriterPtr w, const void *arg)
{
    const struct doc_arg *d = arg;
    W(xmlTextWriterStartElementNS(w, NULL, X("pubsub"), X(SW_PUBSUB_NS)));
    W(xmlTextWriterStartElement(w, X(d->raw != NULL ? "publish" : "retract")));
    W(xmlTextWriterWriteAttribute(w, X("node"), X(d->node)));
    if (d->raw == NULL) {
        W(xmlTextWriterWriteAttribute(w, X("notify"), X("true")));
    }
    W(xmlTextWriterStartElement(w, X("item")));
    W(xmlTextWriterWriteAttribute(w, X("id"), X(d->item_id)));
    if (d->raw != NULL) {
        W(xmlTextWriterWriteRaw(w, X(d->raw)));
    }
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    return 0;
}

int sw_share_publish_iq(const char *node, const char *item_id, const char *payload, char **out,
                        size_t *len)
{
    struct doc_arg d = {.node = node, .item_id = item_id, .raw = payload};
    return sw_reporter_xml_text(write_item_iq, &d, out, len);
}

int sw_share_retract_iq(const char *node, const char *item_id, char **out, size_t *len)
{
    struct doc_arg d = {.node = node, .item_id = item_id};
    return sw_reporter_xml_text(write_item_iq, &d, out, len);
}
