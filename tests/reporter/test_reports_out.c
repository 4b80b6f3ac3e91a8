/*
 * test_reports_out.c - the `--reports FILE` output fed by the real aggregator
 * (reporter/aggregate.c, built-in defaults): hits for an account flooding
 * rooms and a domain spamming subscriptions, with hostile evidence, go through
 * open -> update -> close; every line written must be one <iq type='set'>
 * whose <report/> validates against tests/data/spec/xep-0268.xsd, with one
 * IncidentID per incident across its revisions and EndTime only on closure.
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

#include "sw/incident.h"
#include "sw/reporter.h"

#include "../support/schema.h"

static void hit(struct sw_aggregate *a, uint64_t seq, int64_t t_ms, const char *symbol,
                const char *kind, enum sw_offender_kind ok, const char *offender, const char *room,
                const char *target)
{
    struct sw_hit h;
    memset(&h, 0, sizeof(h));
    h.detector = "test";
    h.symbol = symbol;
    h.kind = kind;
    h.ev_seq = seq;
    h.t_ms = t_ms;
    h.first_ms = t_ms - 5000;
    h.offender_kind = (uint8_t)ok;
    snprintf(h.offender, sizeof(h.offender), "%s", offender);
    h.weight_milli = 1000;
    h.n_values = 1;
    h.values[0].name = "msgs_10s";
    h.values[0].value = 40;
    snprintf(h.room, sizeof(h.room), "%s", room);
    snprintf(h.target, sizeof(h.target), "%s", target);
    snprintf(h.stanza_id, sizeof(h.stanza_id), "s%llu'\"<&>", (unsigned long long)seq);
    snprintf(h.body, sizeof(h.body), "buy \x01\x02 now \xff\xfe ]]> <b>&amp; %llu",
             (unsigned long long)seq);
    sw_aggregate_hit(a, &h);
}

static void test_aggregated_reports_validate(void **state)
{
    (void)state;
    struct sw_errbuf eb = {{0}};
    struct sw_conf *conf = NULL;
    assert_int_equal(sw_conf_load(NULL, &conf, &eb), 0);

    char *buf = NULL;
    size_t blen = 0;
    FILE *fp = open_memstream(&buf, &blen);
    assert_non_null(fp);
    struct sw_output_ops out;
    assert_int_equal(sw_output_reports_init(&out, conf, fp, &eb), 0);
    struct sw_aggregate *a = NULL;
    if (sw_aggregate_new(conf, &out, 1, &a, &eb) != 0) {
        fprintf(stderr, "aggregate: %s\n", eb.msg);
        fail();
    }
    int64_t t = 1764400000000;
    uint64_t seq = 1;
    for (int i = 0; i < 40; i++, seq++) { /* 40 s of flooding, two rooms */
        hit(a, seq, t + i * 1000, "muc_flood.rate_short", "muc-flood", SW_OFFENDER_ACCOUNT,
            "bot1@spam.example.net", i % 2 ? "lobby@rooms.a.test" : "help@rooms.a.test", "");
        hit(a, ++seq, t + i * 1000 + 500, "sub_burst.domain", "subscription-spam",
            SW_OFFENDER_DOMAIN, "spam.example.net", "", i % 3 ? "u1@a.test" : "u2@a.test");
    }
    sw_aggregate_tick(a, t + 45000);
    sw_aggregate_finish(a, t + 50000);
    struct sw_aggregate_stats st;
    sw_aggregate_get_stats(a, &st);
    sw_aggregate_free(a);
    assert_int_equal(out.close(out.ctx), 0);
    fclose(fp);
    assert_true(st.opened >= 2);
    assert_true(st.closed >= 2);

    xmlSchemaPtr xep = sw_test_schema_load("xep-0268.xsd");
    int lines = 0, ends = 0;
    char ids[2][128] = {"", ""};
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lines++;
        xmlNodePtr iq, rep;
        xmlDocPtr doc = sw_test_iq_report(line, &iq, &rep);
        if (sw_test_validate_element(xep, rep) != 0) {
            fprintf(stderr, "invalid report line %d:\n%s\n", lines, line);
            fail();
        }
        xmlFreeDoc(doc);

        struct sw_xep0268_msg m;
        assert_int_equal(sw_xep0268_parse(line, strlen(line), 1 << 20, 32, &m), 0);
        int k = strcmp(m.offenders[0], "spam.example.net") == 0;
        if (ids[k][0] == '\0') {
            snprintf(ids[k], sizeof(ids[k]), "%s", m.incident_id);
        }
        assert_string_equal(ids[k], m.incident_id); /* stable across revisions */
        ends += strstr(line, "<EndTime>") != NULL;
    }
    assert_true(lines >= 4); /* at least open + close of each */
    assert_true(ids[0][0] && ids[1][0] && strcmp(ids[0], ids[1]) != 0);
    assert_int_equal(ends, 2); /* only the two closures carry EndTime */
    xmlSchemaFree(xep);
    free(buf);
    sw_conf_free(conf);
}

int main(void)
{
    xmlInitParser();
    if (sw_aggregate_register_conf(NULL) != 0 || sw_reporter_register_conf() != 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregated_reports_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
