/*
 * test_iodef2.c - reporter/iodef2.c against the RFC 7970 schema
 * (tests/data/spec/iodef-2.0.xsd with its offline import stubs): open,
 * updated and closed account incidents with rooms, evidence and hostile text,
 * a domain incident with recipients, and an incident with nothing optional
 * all validate; the validator is shown to refuse a document missing
 * GenerationTime and one in the 1.0 namespace, so a pass means something.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "../../reporter/reporter_int.h"
#include "../../reporter/share_int.h"
#include "../support/incident.h"
#include "../support/schema.h"

static xmlSchemaPtr schema;

static int validate_text(const char *text, size_t len)
{
    return sw_test_validate_text(schema, text, len);
}

static int setup(void **state)
{
    (void)state;
    xmlInitParser();
    schema = sw_test_schema_load("iodef-2.0.xsd");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    xmlSchemaFree(schema);
    return 0;
}

static void settings(struct sw_reporter_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->domain = "a.test";
    s->admin_jid = "admin@a.test";
    s->severity_medium = 10.0;
    s->severity_high = 30.0;
}

static void muc_incident(struct sw_incident *inc, unsigned status)
{
    memset(inc, 0, sizeof(*inc));
    snprintf(inc->id, sizeof(inc->id), "6f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e");
    inc->kind = "muc-flood";
    snprintf(inc->offender, sizeof(inc->offender), "bot1@spam.example.net");
    inc->status = (uint8_t)status;
    inc->revision = status == SW_INC_OPEN ? 0 : 2;
    inc->first_seen = 1740910491000;
    inc->detected_at = 1740910504000;
    inc->last_seen = 1740910890000;
    inc->score_milli = 42500;
    inc->hits = 1201;
    inc->n_contrib = 1;
    inc->contrib[0] = (struct sw_incident_contrib){
        .symbol = "muc_flood.rate", .detector = "muc_flood", .score_milli = 40000, .hits = 1000};
    sw_test_muc_evidence(inc, 2);
}

static void check_valid(const struct sw_incident *inc, const char *status)
{
    struct sw_reporter_settings s;
    settings(&s);
    char *t = NULL, want[64];
    size_t len = 0;
    assert_int_equal(sw_iodef2_incident(&s, inc, 1740911000000, &t, &len), 0);
    assert_int_equal(strlen(t), len);
    if (validate_text(t, len) != 0) {
        fprintf(stderr, "invalid IODEF 2.0:\n%s\n", t);
        fail();
    }
    assert_non_null(strstr(t, "xmlns=\"urn:ietf:params:xml:ns:iodef-2.0\""));
    snprintf(want, sizeof(want), "status=\"%s\"", status);
    assert_non_null(strstr(t, want));
    assert_non_null(strstr(t, "<GenerationTime>2025-03-02T10:23:20"));
    free(t);
}

static void test_account_incidents(void **state)
{
    (void)state;
    struct sw_incident inc;
    muc_incident(&inc, SW_INC_OPEN);
    check_valid(&inc, "new");
    muc_incident(&inc, SW_INC_UPDATED);
    check_valid(&inc, "in-progress");
    muc_incident(&inc, SW_INC_CLOSED);
    check_valid(&inc, "resolved");
}

static void test_domain_and_bare(void **state)
{
    (void)state;
    struct sw_incident inc;
    memset(&inc, 0, sizeof(inc));
    snprintf(inc.id, sizeof(inc.id), "c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b");
    inc.kind = "subscription-spam";
    snprintf(inc.offender, sizeof(inc.offender), "spam.example.net");
    inc.offender_kind = SW_OFFENDER_DOMAIN;
    inc.score_milli = 5000;
    inc.n_targets = 312;
    for (unsigned i = 0; i < SW_INC_MAX_TARGETS; i++) {
        snprintf(inc.targets[i], SW_JID_TEXT, "user%u@a.test", i);
    }
    check_valid(&inc, "new");
    memset(&inc, 0, sizeof(inc)); /* nothing optional: no kind, rooms, targets, contribs */
    snprintf(inc.offender, sizeof(inc.offender), "%s", sw_test_hostile);
    check_valid(&inc, "new");
}

static void test_validator_refuses(void **state)
{
    (void)state;
    static const char no_gen[] =
        "<Incident xmlns='urn:ietf:params:xml:ns:iodef-2.0' purpose='reporting'>"
        "<IncidentID name='a.test'>x</IncidentID>"
        "<Contact role='creator' type='organization'/></Incident>";
    assert_int_not_equal(validate_text(no_gen, sizeof(no_gen) - 1), 0);
    struct sw_reporter_settings s;
    settings(&s);
    struct sw_incident inc;
    muc_incident(&inc, SW_INC_OPEN);
    char *t = NULL;
    size_t len;
    assert_int_equal(sw_iodef_incident(&s, &inc, 1740911000000, &t, &len), 0);
    assert_int_not_equal(validate_text(t, len), 0); /* 1.0 is not 2.0 */
    free(t);
}

/* The per-peer formats: XEP-0268 with IODEF 1.0 (unchanged), XEP-0268 with a
 * schema-valid IODEF 2.0 Incident, and a XEP-0191 block item with XEP-0377. */
static void test_peer_formats(void **state)
{
    (void)state;
    struct sw_reporter_settings s;
    settings(&s);
    struct sw_incident inc;
    muc_incident(&inc, SW_INC_OPEN);
    char *a = NULL, *b = NULL;
    size_t alen, blen;
    assert_int_equal(sw_share_peer_payload(&s, SW_PEER_XEP0268, &inc, 1740911000000, &a, &alen), 0);
    assert_int_equal(sw_xep0268_report(&s, &inc, 1740911000000, &b, &blen), 0);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    free(a);
    free(b);

    assert_int_equal(
        sw_share_peer_payload(&s, SW_PEER_XEP0268_IODEF2, &inc, 1740911000000, &a, &alen), 0);
    xmlDocPtr d = xmlReadMemory(a, (int)alen, NULL, NULL, XML_PARSE_NONET);
    assert_non_null(d);
    xmlNodePtr root = xmlDocGetRootElement(d);
    assert_string_equal((const char *)root->name, "report");
    assert_string_equal((const char *)root->ns->href, "urn:xmpp:incident:2");
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
    assert_int_equal(xmlSchemaValidateOneElement(vc, xmlFirstElementChild(root)), 0);
    xmlSchemaFreeValidCtxt(vc);
    xmlFreeDoc(d);
    free(a);

    snprintf(inc.offender, sizeof(inc.offender), "bot1@spam.example.net/res");
    assert_int_equal(sw_share_peer_payload(&s, SW_PEER_XEP0377, &inc, 1740911000000, &a, &alen), 0);
    d = xmlReadMemory(a, (int)alen, NULL, NULL, XML_PARSE_NONET);
    assert_non_null(d);
    root = xmlDocGetRootElement(d);
    assert_string_equal((const char *)root->name, "block");
    assert_string_equal((const char *)root->ns->href, "urn:xmpp:blocking");
    xmlNodePtr item = xmlFirstElementChild(root);
    xmlChar *jid = xmlGetProp(item, (const xmlChar *)"jid");
    assert_string_equal((const char *)jid, "bot1@spam.example.net");
    xmlFree(jid);
    xmlNodePtr rep = xmlFirstElementChild(item);
    assert_string_equal((const char *)rep->ns->href, "urn:xmpp:reporting:1");
    xmlChar *reason = xmlGetProp(rep, (const xmlChar *)"reason");
    assert_string_equal((const char *)reason, "urn:xmpp:reporting:abuse");
    xmlFree(reason);
    xmlFreeDoc(d);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_incidents),
        cmocka_unit_test(test_domain_and_bare),
        cmocka_unit_test(test_validator_refuses),
        cmocka_unit_test(test_peer_formats),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
