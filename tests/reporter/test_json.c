/*
 * test_json.c - the JSON Lines incident writer: exact bytes of a full
 * incident (key order, RFC 3339 times, 3-decimal scores), string escaping of
 * quotes, backslashes, controls, U+2028, invalid UTF-8 (overlong, surrogate,
 * truncated, stray continuation bytes -> \ufffd) and valid multi-byte text
 * passed through unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sw/incident.h"

static char *render(const struct sw_incident *inc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    assert_non_null(fp);
    struct sw_output_ops o;
    assert_int_equal(sw_output_json_init(&o, fp), 0);
    assert_int_equal(o.incident(o.ctx, inc), 0);
    assert_int_equal(o.close(o.ctx), 0);
    fclose(fp);
    return buf;
}

static void base(struct sw_incident *inc)
{
    memset(inc, 0, sizeof(*inc));
    snprintf(inc->id, sizeof(inc->id), "0badc0de-0000-5000-8000-000000000001");
    inc->kind = "muc-flood";
    snprintf(inc->offender, sizeof(inc->offender), "flooder@a.test");
    inc->offender_kind = SW_OFFENDER_ACCOUNT;
    inc->status = SW_INC_UPDATED;
    inc->revision = 2;
    inc->detected_at = 1780000000123LL;
    inc->first_seen = 1780000000000LL;
    inc->last_seen = 1780000061005LL;
    inc->score_milli = 1250;
    inc->hits = 7;
}

static void test_full_object(void **state)
{
    (void)state;
    struct sw_incident inc;
    base(&inc);
    inc.n_contrib = 2;
    inc.contrib[0] = (struct sw_incident_contrib){.symbol = "muc_flood.rate",
                                                  .detector = "muc_flood",
                                                  .score_milli = 1000,
                                                  .hits = 5,
                                                  .n_values = 2,
                                                  .values = {{"msgs_10s", 37}, {"limit", -1}}};
    inc.contrib[1] = (struct sw_incident_contrib){
        .symbol = "room_spam.dup", .detector = "room_spam", .score_milli = 250, .hits = 2};
    inc.n_evidence = 1;
    inc.evidence[0].t_ms = 1780000000123LL;
    snprintf(inc.evidence[0].stanza_id, 96, "s1");
    snprintf(inc.evidence[0].room, SW_JID_TEXT, "lobby@rooms.a.test");
    snprintf(inc.evidence[0].body, SW_HIT_TEXT, "buy now");
    inc.n_rooms = 11; /* more than the 8 samples kept */
    for (int i = 0; i < SW_INC_MAX_TARGETS; i++) {
        snprintf(inc.rooms[i], SW_JID_TEXT, "r%d@rooms.a.test", i);
    }
    inc.n_targets = 0;
    char *s = render(&inc);
    const char *want =
        "{\"id\":\"0badc0de-0000-5000-8000-000000000001\",\"status\":\"updated\",\"revision\":2,"
        "\"kind\":\"muc-flood\",\"offender\":\"flooder@a.test\",\"offender_kind\":\"account\","
        "\"detected_at\":\"2026-05-28T20:26:40.123Z\",\"first_seen\":\"2026-05-28T20:26:40.000Z\","
        "\"last_seen\":\"2026-05-28T20:27:41.005Z\",\"score\":1.250,\"hits\":7,"
        "\"detectors\":[{\"symbol\":\"muc_flood.rate\",\"detector\":\"muc_flood\",\"score\":1.000,"
        "\"hits\":5,\"values\":{\"msgs_10s\":37,\"limit\":-1}},{\"symbol\":\"room_spam.dup\","
        "\"detector\":\"room_spam\",\"score\":0.250,\"hits\":2,\"values\":{}}],"
        "\"evidence\":{\"samples\":[{\"stanza_id\":\"s1\",\"time\":\"2026-05-28T20:26:40.123Z\","
        "\"room\":\"lobby@rooms.a.test\",\"target\":\"\",\"body\":\"buy now\"}],"
        "\"rooms\":[\"r0@rooms.a.test\",\"r1@rooms.a.test\",\"r2@rooms.a.test\","
        "\"r3@rooms.a.test\",\"r4@rooms.a.test\",\"r5@rooms.a.test\",\"r6@rooms.a.test\","
        "\"r7@rooms.a.test\"],\"rooms_total\":11,\"targets\":[],\"targets_total\":0}}\n";
    assert_string_equal(s, want);
    free(s);
}

static void test_domain_and_negative_score(void **state)
{
    (void)state;
    struct sw_incident inc;
    base(&inc);
    inc.offender_kind = SW_OFFENDER_DOMAIN;
    inc.status = SW_INC_CLOSED;
    inc.score_milli = -5;
    char *s = render(&inc);
    assert_non_null(strstr(s, "\"offender_kind\":\"domain\""));
    assert_non_null(strstr(s, "\"status\":\"closed\""));
    assert_non_null(strstr(s, "\"score\":-0.005,"));
    free(s);
    assert_string_equal(sw_incident_status_name(SW_INC_OPEN), "open");
    assert_string_equal(sw_incident_status_name(99), "unknown");
}

static void check_body(const char *body, const char *want_escaped)
{
    struct sw_incident inc;
    base(&inc);
    inc.n_evidence = 1;
    snprintf(inc.evidence[0].body, SW_HIT_TEXT, "%s", body);
    char *s = render(&inc);
    char want[512];
    snprintf(want, sizeof(want), "\"body\":\"%s\"}", want_escaped);
    if (strstr(s, want) == NULL) {
        print_error("got %s\nwant %s\n", s, want);
        fail();
    }
    /* one line: the only raw newline is the terminator */
    assert_int_equal(strchr(s, '\n') - s, (long)strlen(s) - 1);
    free(s);
}

static void test_escaping(void **state)
{
    (void)state;
    check_body("say \"hi\" \\o/", "say \\\"hi\\\" \\\\o/");
    check_body("a\nb\r\tc\b\f", "a\\nb\\r\\tc\\b\\f");
    check_body("\x01\x1f\x7f", "\\u0001\\u001f\x7f");
    check_body("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
               "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    check_body("\xe2\x80\xa8x\xe2\x80\xa9", "\\u2028x\\u2029");
    /* invalid: stray continuation, overlong '/', surrogate, > U+10FFFF, lone lead, truncated */
    check_body("\x80", "\\ufffd");
    check_body("\xc0\xaf", "\\ufffd\\ufffd");
    check_body("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");
    check_body("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd");
    check_body("\xff"
               "a",
               "\\ufffda");
    check_body("ok\xe2\x82", "ok\\ufffd\\ufffd");
}

static void test_bad_args(void **state)
{
    (void)state;
    struct sw_output_ops o;
    assert_int_equal(sw_output_json_init(&o, NULL), SW_EINVAL);
    assert_int_equal(sw_incident_write_json(stdout, NULL), SW_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_object),
        cmocka_unit_test(test_domain_and_negative_score),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
