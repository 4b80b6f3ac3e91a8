/*
 * test_xep0268.c - lenient inbound XEP-0268 parsing: the XEP's own (schema
 * invalid) examples, Prosody mod_incidents_handling shapes, the spec's invalid
 * example, and hostile input (DTD/entities, oversize, deep nesting, malformed,
 * every truncation, random mutations); plus iq wrapping with hostile attributes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <unistd.h>

#include "../../reporter/reporter_int.h"
#include "sw/reporter.h"

#define LIMIT (64 * 1024)

/* Prosody-style report: xml:lang, Contact first, ext-category/ext-type as
 * escape values, empty RelatedActivity, AdditionalData without dtype,
 * jid in the incident:2 namespace (leftover from the XEP). */
static const char prosody_report[] =
    "<iq type='set' id='pr1' from='b.test' to='a.test'>"
    "<report xmlns='urn:xmpp:incident:2'>"
    "<Incident xmlns='urn:ietf:params:xml:ns:iodef-1.0' purpose='reporting'>"
    "<Contact role='ext-type' ext-type='chatroom'><Email>x@b.test</Email>"
    "<AdditionalData><jid xmlns='urn:xmpp:incident:2'>ops@b.test</jid></AdditionalData></Contact>"
    "<RelatedActivity/>"
    "<IncidentID name='b.test'>9e8d7c6b-5a49-4382-b716-a5f4e3d2c1b0</IncidentID>"
    "<ReportTime>2025-03-02T10:22:00Z</ReportTime>"
    "<Description xml:lang='en'>flood\nfrom bot</Description>"
    "<Assessment><Impact xml:lang='en' severity='high' type='dos'/></Assessment>"
    "<EventData><Flow>"
    "<System category='source'><Node>"
    "<Address category='ext-category' ext-category='xmpp'>bot1@spam.example.net</Address>"
    "<Counter type='ext-type' ext-type='xmpp-presence'>10</Counter></Node>"
    "<Node><Address category='ext-category' ext-category='xmpp'>bot2@spam.example.net</Address>"
    "</Node></System>"
    "<System category='target'><Node><Address>lobby@rooms.b.test</Address>"
    "<NodeRole category='ext-category' ext-category='xmpp-muc'/></Node></System>"
    "</Flow><Expectation action='block-host'/></EventData>"
    "</Incident></report></iq>";

static void test_prosody_shape(void **state)
{
    (void)state;
    struct sw_xep0268_msg m;
    assert_int_equal(sw_xep0268_parse(prosody_report, strlen(prosody_report), LIMIT, 32, &m), 0);
    assert_int_equal(m.kind, SW_XEP0268_REPORT);
    assert_string_equal(m.iq_type, "set");
    assert_string_equal(m.iq_id, "pr1");
    assert_string_equal(m.from, "b.test");
    assert_int_equal(m.n_incidents, 1);
    assert_string_equal(m.incident_name, "b.test");
    assert_string_equal(m.incident_id, "9e8d7c6b-5a49-4382-b716-a5f4e3d2c1b0");
    assert_string_equal(m.description, "flood\nfrom bot");
    assert_string_equal(m.severity, "high");
    assert_string_equal(m.impact_type, "dos");
    assert_string_equal(m.expectation, "block-host");
    assert_int_equal(m.n_offenders, 2);
    assert_string_equal(m.offenders[0], "bot1@spam.example.net");
    assert_string_equal(m.offenders[1], "bot2@spam.example.net");
    assert_string_equal(m.contact_jid, "ops@b.test");
}

static void test_inquiry_id_only_and_libstrophe_text(void **state)
{
    (void)state;
    /* the XEP's own inquiry (IncidentID only), as libstrophe serializes it (lang=) */
    const char *q = "<iq xmlns=\"jabber:component:accept\" type=\"get\" id=\"q1\" "
                    "from=\"incidents.b.test\" to=\"watch.a.test\" lang=\"en\">"
                    "<inquiry xmlns=\"urn:xmpp:incident:2\"><Incident "
                    "xmlns=\"urn:ietf:params:xml:ns:iodef-1.0\" purpose=\"traceback\">"
                    "<IncidentID name=\"a.test\">  abc-1  </IncidentID></Incident></inquiry></iq>";
    struct sw_xep0268_msg m;
    assert_int_equal(sw_xep0268_parse(q, strlen(q), LIMIT, 32, &m), 0);
    assert_int_equal(m.kind, SW_XEP0268_INQUIRY);
    assert_string_equal(m.purpose, "traceback");
    assert_string_equal(m.incident_id, "abc-1");
    assert_string_equal(m.report_time, "");

    /* response with History (the branch Prosody's parser crashes on) */
    const char *r = "<response xmlns='urn:xmpp:incident:2'><Incident "
                    "xmlns='urn:ietf:params:xml:ns:iodef-1.0' purpose='mitigation'>"
                    "<IncidentID name='a.test'>x</IncidentID><History><HistoryItem "
                    "action='blockquote'><DateTime>2025</DateTime></HistoryItem></History>"
                    "</Incident></response>";
    assert_int_equal(sw_xep0268_parse(r, strlen(r), LIMIT, 32, &m), 0);
    assert_int_equal(m.kind, SW_XEP0268_RESPONSE);
    assert_string_equal(m.history_action, "blockquote");
    assert_string_equal(m.iq_type, "");
}

static void test_spec_invalid_example_is_read(void **state)
{
    (void)state;
    FILE *f = fopen(SW_SOURCE_DIR "/tests/data/spec/example-invalid.xml", "rb");
    assert_non_null(f);
    static char doc[8192], wrapped[9000];
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[n] = '\0';
    char *start = strstr(doc, "<Incident");
    assert_non_null(start);
    snprintf(wrapped, sizeof(wrapped), "<request xmlns='urn:xmpp:incident:2'>%s</request>", start);
    struct sw_xep0268_msg m;
    assert_int_equal(sw_xep0268_parse(wrapped, strlen(wrapped), LIMIT, 32, &m), 0);
    assert_int_equal(m.kind, SW_XEP0268_REQUEST);
    assert_string_equal(m.incident_id, "9e8d7c6b-5a49-4382-b716-a5f4e3d2c1b0");
    assert_int_equal(m.n_offenders, 1);
    assert_string_equal(m.offenders[0], "bot1@spam.example.net");
    assert_string_equal(m.contact_jid, "abuse-desk@conference.xmpp.example.org");
}

static void test_not_ours_and_counts(void **state)
{
    (void)state;
    struct sw_xep0268_msg m;
    const char *ping = "<iq type='get' id='p' from='x'><ping xmlns='urn:xmpp:ping'/></iq>";
    assert_int_equal(sw_xep0268_parse(ping, strlen(ping), LIMIT, 32, &m), 0);
    assert_int_equal(m.kind, -1);
    /* right element name, wrong namespace */
    const char *wrongns = "<iq type='set' id='p'><report xmlns='urn:xmpp:reporting:1'/></iq>";
    assert_int_equal(sw_xep0268_parse(wrongns, strlen(wrongns), LIMIT, 32, &m), 0);
    assert_int_equal(m.kind, -1);
    const char *two = "<report xmlns='urn:xmpp:incident:2'><Incident><IncidentID>a</IncidentID>"
                      "</Incident><Incident/></report>";
    assert_int_equal(sw_xep0268_parse(two, strlen(two), LIMIT, 32, &m), 0);
    assert_int_equal(m.n_incidents, 2);
    const char *none = "<report xmlns='urn:xmpp:incident:2'/>";
    assert_int_equal(sw_xep0268_parse(none, strlen(none), LIMIT, 32, &m), 0);
    assert_int_equal(m.kind, SW_XEP0268_REPORT);
    assert_int_equal(m.n_incidents, 0);
}

static void test_hostile(void **state)
{
    (void)state;
    struct sw_xep0268_msg m;
    const char *laughs =
        "<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>]>"
        "<report xmlns='urn:xmpp:incident:2'><Incident><IncidentID>&b;</IncidentID></Incident>"
        "</report>";
    assert_int_equal(sw_xep0268_parse(laughs, strlen(laughs), LIMIT, 32, &m), SW_EPARSE);
    const char *xxe = "<!DOCTYPE r [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><r>&x;</r>";
    assert_int_equal(sw_xep0268_parse(xxe, strlen(xxe), LIMIT, 32, &m), SW_EPARSE);
    /* undeclared entity reference: not well-formed (WFC: Entity Declared) */
    const char *undecl = "<report xmlns='urn:xmpp:incident:2'><Incident><IncidentID>&x;"
                         "</IncidentID></Incident></report>";
    assert_int_equal(sw_xep0268_parse(undecl, strlen(undecl), LIMIT, 32, &m), SW_EPARSE);
    /* the same attacks with the string prefilter off: the parser's own
     * defences (options, refusal of any internal subset) hold alone */
    assert_int_equal(sw_xep0268_parse_ex(laughs, strlen(laughs), LIMIT, 32, false, &m), SW_EPARSE);
    assert_int_equal(sw_xep0268_parse_ex(xxe, strlen(xxe), LIMIT, 32, false, &m), SW_EPARSE);
    assert_int_equal(sw_xep0268_parse_ex(undecl, strlen(undecl), LIMIT, 32, false, &m), SW_EPARSE);
    /* oversize */
    size_t big = LIMIT + 10;
    char *b = malloc(big + 1);
    assert_non_null(b);
    memset(b, 'a', big);
    memcpy(b, "<r>", 3);
    memcpy(b + big - 4, "</r>", 4);
    b[big] = '\0';
    assert_int_equal(sw_xep0268_parse(b, big, LIMIT, 32, &m), SW_ELIMIT);
    /* deep nesting inside the Incident */
    char *deep = malloc(20000);
    assert_non_null(deep);
    size_t o = (size_t)sprintf(deep, "<report xmlns='urn:xmpp:incident:2'><Incident>");
    for (int i = 0; i < 100; i++) {
        o += (size_t)sprintf(deep + o, "<d>");
    }
    for (int i = 0; i < 100; i++) {
        o += (size_t)sprintf(deep + o, "</d>");
    }
    o += (size_t)sprintf(deep + o, "</Incident></report>");
    assert_int_equal(sw_xep0268_parse(deep, o, LIMIT, 32, &m), SW_ELIMIT);
    assert_int_equal(sw_xep0268_parse(deep, o, LIMIT, 200, &m), 0);
    /* malformed */
    assert_int_equal(sw_xep0268_parse("<a><b></a>", 10, LIMIT, 32, &m), SW_EPARSE);
    assert_int_equal(sw_xep0268_parse("", 0, LIMIT, 32, &m), SW_EPARSE);
    assert_int_equal(sw_xep0268_parse("\xff\xfe<", 3, LIMIT, 32, &m), SW_EPARSE);
    free(b);
    free(deep);
}

/* The libxml2 options themselves (no prefilter, no subset check): a billion
 * laughs document is refused, an internal entity reference is kept as a
 * reference (not substituted), an external entity is never loaded (the
 * file's text never appears), and nothing is fetched. */
static void test_parser_options(void **state)
{
    (void)state;
    /* 10^9 'a' if expanded */
    char laughs[2048];
    size_t o = (size_t)snprintf(laughs, sizeof(laughs),
                                "<?xml version='1.0'?><!DOCTYPE r [<!ENTITY l0 'aaaaaaaaaa'>");
    for (int i = 1; i <= 8; i++) {
        o += (size_t)snprintf(laughs + o, sizeof(laughs) - o,
                              "<!ENTITY l%d '&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;&l%d;'>",
                              i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
                              i - 1);
    }
    o += (size_t)snprintf(laughs + o, sizeof(laughs) - o, "]><r>&l8;</r>");
    /* without XML_PARSE_HUGE, libxml2's amplification guard refuses it */
    assert_null(sw_xep0268_read_doc(laughs, o));
    /* a small internal entity: parsed, but the reference stays a reference
     * node (no XML_PARSE_NOENT): nothing is substituted */
    const char *small = "<!DOCTYPE r [<!ENTITY a 'expanded'>]><r>&a;</r>";
    xmlDocPtr d = sw_xep0268_read_doc(small, strlen(small));
    assert_non_null(d);
    xmlNodePtr r = xmlDocGetRootElement(d);
    assert_non_null(r);
    assert_non_null(r->children);
    assert_int_equal(r->children->type, XML_ENTITY_REF_NODE);
    assert_null(r->children->next);
    xmlFreeDoc(d);
    char path[] = "/tmp/sw-xxe-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "SECRET-XXE-CONTENT", 18), 18);
    close(fd);
    char xxe[512];
    o = (size_t)snprintf(xxe, sizeof(xxe),
                         "<!DOCTYPE r [<!ENTITY x SYSTEM 'file://%s'>"
                         "<!ENTITY y SYSTEM 'http://127.0.0.1:9/x'>]><r>&x;&y;</r>",
                         path);
    d = sw_xep0268_read_doc(xxe, o);
    assert_non_null(d);
    xmlChar *dump = NULL;
    int dl = 0;
    xmlDocDumpMemory(d, &dump, &dl);
    assert_non_null(dump);
    assert_null(strstr((const char *)dump, "SECRET-XXE-CONTENT")); /* the file was not read */
    xmlFree(dump);
    r = xmlDocGetRootElement(d);
    assert_int_equal(r->children->type, XML_ENTITY_REF_NODE);
    xmlFreeDoc(d);
    unlink(path);
}

/* Every prefix of a valid stanza, then random byte mutations: never a crash,
 * always 0 or a defined error, strings always terminated. */
static void test_truncations_and_mutations(void **state)
{
    (void)state;
    size_t n = strlen(prosody_report);
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    struct sw_xep0268_msg m;
    int ok = 0;
    for (size_t i = 0; i <= n; i++) {
        memcpy(buf, prosody_report, i);
        buf[i] = '\0';
        int rc = sw_xep0268_parse(buf, i, LIMIT, 32, &m);
        assert_true(rc == 0 || rc == SW_EPARSE);
        ok += rc == 0;
    }
    assert_int_equal(ok, 1); /* only the whole stanza is well-formed */
    unsigned seed = 12345;
    for (int it = 0; it < 2000; it++) {
        memcpy(buf, prosody_report, n + 1);
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % n;
            seed = seed * 1103515245u + 12345u;
            buf[pos] = (char)(seed >> 16);
        }
        int rc = sw_xep0268_parse(buf, n, LIMIT, 32, &m);
        assert_true(rc == 0 || rc == SW_EPARSE || rc == SW_ELIMIT);
        assert_true(strlen(m.incident_id) < sizeof(m.incident_id));
    }
    free(buf);
}

static void test_iq_wrap_escapes(void **state)
{
    (void)state;
    char *iq;
    size_t len;
    const char *payload = "<report xmlns='urn:xmpp:incident:2'><Incident "
                          "xmlns='urn:ietf:params:xml:ns:iodef-1.0'><IncidentID "
                          "name='a'>z</IncidentID></Incident></report>";
    assert_int_equal(sw_xep0268_iq("set", "id'<&\">", "me@a.test", "you'\"@b.test", payload,
                                   strlen(payload), &iq, &len),
                     0);
    struct sw_xep0268_msg m;
    assert_int_equal(sw_xep0268_parse(iq, len, LIMIT, 32, &m), 0);
    assert_string_equal(m.iq_id, "id'<&\">");
    assert_string_equal(m.to, "you'\"@b.test");
    assert_string_equal(m.from, "me@a.test");
    assert_int_equal(m.kind, SW_XEP0268_REPORT);
    free(iq);
    assert_int_equal(sw_xep0268_iq("result", "x", NULL, NULL, "", 0, &iq, &len), 0);
    assert_string_equal(iq, "<iq type='result' id='x'></iq>");
    free(iq);
}

int main(void)
{
    xmlInitParser();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prosody_shape),
        cmocka_unit_test(test_inquiry_id_only_and_libstrophe_text),
        cmocka_unit_test(test_spec_invalid_example_is_read),
        cmocka_unit_test(test_not_ours_and_counts),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_parser_options),
        cmocka_unit_test(test_truncations_and_mutations),
        cmocka_unit_test(test_iq_wrap_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
