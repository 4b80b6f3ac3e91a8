/*
 * test_iodef.c - every IODEF document and XEP-0268 <report/> the reporter
 * writes validates against tests/data/spec/iodef-1.0.xsd / xep-0268.xsd
 * (libxml2's schema API on the real output), for opened, updated and closed
 * incidents, account and domain offenders, MUC and subscription targets, and
 * evidence full of hostile bytes; the spec's invalid example must fail.
 * Also checks the `--reports FILE` output line by line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "sw/reporter.h"

#include "../../reporter/reporter_int.h"
#include "../support/incident.h"
#include "../support/schema.h"

static xmlSchemaPtr iodef_schema, xep_schema;

static int setup(void **state)
{
    (void)state;
    xmlInitParser();
    iodef_schema = sw_test_schema_load("iodef-1.0.xsd");
    xep_schema = sw_test_schema_load("xep-0268.xsd");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    xmlSchemaFree(iodef_schema);
    xmlSchemaFree(xep_schema);
    return 0;
}

static struct sw_reporter_peer peers[2];
static char *all_kinds[] = {"*"};
static char *sub_only[] = {"subscription-spam"};
static char *accept_all[] = {"report", "inquiry", "request", "response"};

static void settings(struct sw_reporter_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->domain = "a.test";
    s->admin_jid = "admin@a.test";
    s->mode = SW_REPORTER_COMPONENT;
    s->component.jid = "watch.a.test";
    s->severity_medium = 10.0;
    s->severity_high = 30.0;
    peers[0] = (struct sw_reporter_peer){.jid = "incidents.b.test",
                                         .send = {all_kinds, 1},
                                         .min_severity = SW_SEV_LOW,
                                         .accept = {accept_all, 4},
                                         .rate_limit = 60};
    peers[1] = (struct sw_reporter_peer){.jid = "c.test",
                                         .send = {sub_only, 1},
                                         .min_severity = SW_SEV_HIGH,
                                         .accept = {accept_all, 4},
                                         .rate_limit = 60};
    s->peers.items = peers;
    s->peers.n = 2;
}

static void muc_incident(struct sw_incident *inc, unsigned status)
{
    memset(inc, 0, sizeof(*inc));
    snprintf(inc->id, sizeof(inc->id), "6f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e");
    inc->kind = "muc-flood";
    snprintf(inc->offender, sizeof(inc->offender), "bot1@spam.example.net");
    inc->offender_kind = SW_OFFENDER_ACCOUNT;
    inc->status = (uint8_t)status;
    inc->revision = status == SW_INC_OPEN ? 0 : status == SW_INC_UPDATED ? 1 : 2;
    inc->first_seen = 1740910491000;
    inc->detected_at = 1740910504000;
    inc->last_seen = 1740910890000;
    inc->score_milli = 42500;
    inc->hits = 1201;
    inc->n_contrib = 2;
    inc->contrib[0] = (struct sw_incident_contrib){.symbol = "MUC_FLOOD_OCCUPANT",
                                                   .detector = "muc_flood",
                                                   .score_milli = 40000,
                                                   .hits = 1000,
                                                   .n_values = 2,
                                                   .values = {{"msgs_10s", 37}, {"rooms", 2}}};
    inc->contrib[1] = (struct sw_incident_contrib){
        .symbol = "PATTERN_SPAM", .detector = "pattern", .score_milli = 2500, .hits = 201};
    sw_test_muc_evidence(inc, 3);
}

static void sub_incident(struct sw_incident *inc)
{
    memset(inc, 0, sizeof(*inc));
    snprintf(inc->id, sizeof(inc->id), "c3d4e5f6-0718-4293-a4b5-c6d7e8f90a1b");
    inc->kind = "subscription-spam";
    snprintf(inc->offender, sizeof(inc->offender), "spam.example.net");
    inc->offender_kind = SW_OFFENDER_DOMAIN;
    inc->status = SW_INC_OPEN;
    inc->first_seen = inc->detected_at = inc->last_seen = 1740913202000;
    inc->score_milli = 5000; /* low */
    inc->hits = 355;
    inc->n_targets = 312;
    for (unsigned i = 0; i < SW_INC_MAX_TARGETS; i++) {
        snprintf(inc->targets[i], SW_JID_TEXT, "user%u@a.test", i);
    }
    inc->n_evidence = 1;
    snprintf(inc->evidence[0].target, SW_JID_TEXT, "user0@a.test");
    snprintf(inc->evidence[0].body, SW_HIT_TEXT, "%s", "\x1b[31m ansi \x00");
}

static void check_valid(const struct sw_reporter_settings *s, const struct sw_incident *inc,
                        int64_t report_ms)
{
    char *t = NULL;
    size_t n = 0;
    assert_int_equal(sw_iodef_incident(s, inc, report_ms, &t, &n), 0);
    assert_int_equal(strlen(t), n);
    if (sw_test_validate_text(iodef_schema, t, n) != 0) {
        fprintf(stderr, "invalid IODEF:\n%s\n", t);
        fail();
    }
    assert_non_null(strstr(t, inc->id));
    assert_non_null(strstr(t, "<IncidentID name=\"a.test\">"));
    assert_non_null(strstr(t, "<jid xmlns=\"urn:xmpp:jid:0\">admin@a.test</jid>"));
    assert_null(strchr(t, '\x01'));
    free(t);

    assert_int_equal(sw_xep0268_report(s, inc, report_ms, &t, &n), 0);
    if (sw_test_validate_text(xep_schema, t, n) != 0) {
        fprintf(stderr, "invalid report:\n%s\n", t);
        fail();
    }
    /* our own lenient parser reads it back */
    struct sw_xep0268_msg m;
    assert_int_equal(sw_xep0268_parse(t, n, 1 << 20, 32, &m), 0);
    assert_int_equal(m.kind, SW_XEP0268_REPORT);
    assert_int_equal(m.n_incidents, 1);
    assert_string_equal(m.incident_id, inc->id);
    assert_string_equal(m.incident_name, "a.test");
    assert_int_equal(m.n_offenders, 1);
    assert_string_equal(m.offenders[0], inc->offender);
    assert_string_equal(m.contact_jid, "admin@a.test");
    free(t);
}

static void test_examples(void **state)
{
    (void)state;
    assert_int_equal(sw_test_validate_file(iodef_schema, SW_TEST_SPEC "example-incident.xml"), 0);
    assert_int_equal(sw_test_validate_file(xep_schema, SW_TEST_SPEC "example-report.xml"), 0);
    assert_int_not_equal(sw_test_validate_file(iodef_schema, SW_TEST_SPEC "example-invalid.xml"),
                         0);
}

static void test_open_update_close(void **state)
{
    (void)state;
    struct sw_reporter_settings s;
    settings(&s);
    struct sw_incident *inc = malloc(sizeof(*inc));
    assert_non_null(inc);
    unsigned st[] = {SW_INC_OPEN, SW_INC_UPDATED, SW_INC_CLOSED};
    for (unsigned i = 0; i < 3; i++) {
        muc_incident(inc, st[i]);
        check_valid(&s, inc, 1740910920000 + i * 1000);
    }
    /* closure: EndTime + History; open: neither */
    char *t;
    size_t n;
    assert_int_equal(sw_iodef_incident(&s, inc, 1740911000000, &t, &n), 0);
    assert_non_null(strstr(t, "<EndTime>"));
    assert_non_null(strstr(t, "<HistoryItem action=\"status-new-info\">"));
    assert_non_null(strstr(t, "severity=\"high\""));
    assert_non_null(strstr(t, "action=\"block-host\""));
    assert_non_null(strstr(t, "ext-category=\"xmpp-muc\""));
    assert_non_null(strstr(t, "type=\"dos\""));
    free(t);
    muc_incident(inc, SW_INC_OPEN);
    assert_int_equal(sw_iodef_incident(&s, inc, 1740911000000, &t, &n), 0);
    assert_null(strstr(t, "<EndTime>"));
    assert_null(strstr(t, "<History>"));
    free(t);
    free(inc);
}

static void test_domain_offender_and_hostile(void **state)
{
    (void)state;
    struct sw_reporter_settings s;
    settings(&s);
    struct sw_incident *inc = malloc(sizeof(*inc));
    assert_non_null(inc);
    sub_incident(inc);
    check_valid(&s, inc, 1740913300000);
    char *t;
    size_t n;
    assert_int_equal(sw_iodef_incident(&s, inc, 1740913300000, &t, &n), 0);
    assert_non_null(strstr(t, "action=\"rate-limit-host\""));
    assert_non_null(strstr(t, "type=\"policy\""));
    assert_non_null(strstr(t, "<Counter type=\"alert\">355</Counter>"));
    free(t);

    /* hostile offender / target / kind text, no rooms, no targets */
    memset(inc, 0, sizeof(*inc));
    snprintf(inc->id, sizeof(inc->id), "0000<&>\x01");
    inc->kind = "k\x02<i>&nd";
    snprintf(inc->offender, sizeof(inc->offender), "%s", sw_test_hostile);
    inc->score_milli = -5;
    for (unsigned i = 0; i < SW_INC_MAX_EVIDENCE; i++) {
        memset(inc->evidence[i].body, 0xff, SW_HIT_TEXT - 1);
        memset(inc->evidence[i].room, 0x80, SW_JID_TEXT - 1);
    }
    inc->n_evidence = SW_INC_MAX_EVIDENCE;
    assert_int_equal(sw_iodef_incident(&s, inc, 0, &t, &n), 0);
    assert_int_equal(sw_test_validate_text(iodef_schema, t, n), 0);
    free(t);
    assert_int_equal(sw_xep0268_report(&s, inc, 0, &t, &n), 0);
    assert_int_equal(sw_test_validate_text(xep_schema, t, n), 0);
    free(t);
    free(inc);
}

static void test_clean(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(sw_iodef_clean(out, sizeof(out), "plain \xc3\xa9t\xc3\xa9"),
                        "plain \xc3\xa9t\xc3\xa9");
    assert_string_equal(sw_iodef_clean(out, sizeof(out),
                                       "a\x01"
                                       "b"),
                        "a\xef\xbf\xbd"
                        "b");
    assert_string_equal(sw_iodef_clean(out, sizeof(out), "\xff"), "\xef\xbf\xbd");
    assert_string_equal(sw_iodef_clean(out, sizeof(out), "\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(sw_iodef_clean(out, sizeof(out), "\xed\xa0\x80"),
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(sw_iodef_clean(out, sizeof(out), "tab\tok\n"), "tab\tok\n");
    /* truncation never splits a character */
    assert_string_equal(sw_iodef_clean(out, 4, "ab\xc3\xa9"), "ab");
}

static void test_response(void **state)
{
    (void)state;
    struct sw_reporter_settings s;
    settings(&s);
    struct sw_xep0268_response rsp = {.incident_name = "b.test",
                                      .incident_id = "9e8d7c6b-5a49-4382-b716-a5f4e3d2c1b0",
                                      .action = "block-host",
                                      .text = sw_test_hostile};
    char *t;
    size_t n;
    assert_int_equal(sw_xep0268_response(&s, &rsp, 1740911000000, &t, &n), 0);
    if (sw_test_validate_text(xep_schema, t, n) != 0) {
        fprintf(stderr, "invalid response:\n%s\n", t);
        fail();
    }
    struct sw_xep0268_msg m;
    assert_int_equal(sw_xep0268_parse(t, n, 1 << 20, 32, &m), 0);
    assert_int_equal(m.kind, SW_XEP0268_RESPONSE);
    assert_string_equal(m.incident_name, "b.test");
    assert_string_equal(m.history_action, "block-host");
    assert_string_equal(m.purpose, "mitigation");
    free(t);
    rsp.text = NULL;
    rsp.action = "investigate";
    assert_int_equal(sw_xep0268_response(&s, &rsp, 0, &t, &n), 0);
    assert_int_equal(sw_test_validate_text(xep_schema, t, n), 0);
    free(t);
    rsp.action = "blockquote"; /* the XEP example's non-value */
    assert_int_equal(sw_xep0268_response(&s, &rsp, 0, &t, &n), SW_EINVAL);
    rsp.action = "block-host";
    rsp.incident_id = "";
    assert_int_equal(sw_xep0268_response(&s, &rsp, 0, &t, &n), SW_EINVAL);
}

/* --reports FILE: one iq per (incident, interested peer), each <report/> valid */
static void test_reports_output(void **state)
{
    (void)state;
    struct sw_reporter_settings s;
    settings(&s);
    char *buf = NULL;
    size_t blen = 0;
    FILE *fp = open_memstream(&buf, &blen);
    assert_non_null(fp);
    struct sw_output_ops o;
    struct sw_errbuf eb;
    assert_int_equal(sw_output_reports_init_settings(&o, &s, fp, &eb), 0);
    struct sw_incident *inc = malloc(sizeof(*inc));
    assert_non_null(inc);
    muc_incident(inc, SW_INC_OPEN);
    assert_int_equal(o.incident(o.ctx, inc), 0); /* peer 0 only (peer 1: subscription-spam, high) */
    muc_incident(inc, SW_INC_CLOSED);
    assert_int_equal(o.incident(o.ctx, inc), 0); /* peer 0 */
    sub_incident(inc);
    assert_int_equal(o.incident(o.ctx, inc), 0); /* peer 0; peer 1 wants high only */
    inc->score_milli = 31000;
    assert_int_equal(o.incident(o.ctx, inc), 0); /* both */
    assert_int_equal(o.close(o.ctx), 0);
    fclose(fp);

    int lines = 0, to_c = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lines++;
        xmlNodePtr iq, rep;
        xmlDocPtr doc = sw_test_iq_report(line, &iq, &rep);
        xmlChar *type = xmlGetProp(iq, (const xmlChar *)"type");
        xmlChar *from = xmlGetProp(iq, (const xmlChar *)"from");
        xmlChar *to = xmlGetProp(iq, (const xmlChar *)"to");
        assert_string_equal((char *)type, "set");
        assert_string_equal((char *)from, "watch.a.test");
        if (strcmp((char *)to, "c.test") == 0) {
            to_c++;
        }
        xmlFree(type);
        xmlFree(from);
        xmlFree(to);
        assert_int_equal(sw_test_validate_element(xep_schema, rep), 0);
        xmlFreeDoc(doc);
    }
    assert_int_equal(lines, 5);
    assert_int_equal(to_c, 1);
    free(buf);
    free(inc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_open_update_close),
        cmocka_unit_test(test_domain_offender_and_hostile),
        cmocka_unit_test(test_clean),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_reports_output),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
