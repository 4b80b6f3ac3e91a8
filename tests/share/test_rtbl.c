/*
 * test_rtbl.c - reporter/rtbl.c and share.c without a network: RTBL item ids
 * are what mod_muc_rtbl computes (SHA-256 hex of the lower-cased bare JID,
 * checked against sha256sum values), payloads are well-formed XML in the
 * right namespaces, and a consumed list persisted in state_dir is loaded by a
 * new sw_share and weighs an account and the accounts of a listed domain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libxml/parser.h>

#include "../../reporter/share_int.h"

static void test_hash(void **state)
{
    (void)state;
    char h[65];
    /* printf '%s' flooder@a.test | sha256sum */
    assert_int_equal(sw_share_rtbl_hash("flooder@a.test", h), 0);
    assert_string_equal(h, "94db8e78ed22687916ec7adafc2d00c4773e66bfcc7c2c6804bedfa0eba1e992");
    /* resource cut, ASCII case folded (Prosody's nodeprep/nameprep of ASCII) */
    assert_int_equal(sw_share_rtbl_hash("Flooder@A.Test/phone", h), 0);
    assert_string_equal(h, "94db8e78ed22687916ec7adafc2d00c4773e66bfcc7c2c6804bedfa0eba1e992");
    /* printf '%s' domain.test | sha256sum */
    assert_int_equal(sw_share_rtbl_hash("domain.test", h), 0);
    assert_string_equal(h, "c9f8b57691154024bb608f789be583e87f0deca6e3fea80596395669d342674b");
    assert_int_equal(sw_share_rtbl_hash("", h), SW_EINVAL);
    assert_int_equal(sw_share_rtbl_hash("/res", h), SW_EINVAL);
    assert_int_equal(sw_share_rtbl_hash("a b@c", h), SW_EINVAL);
}

static struct sw_incident *incident(const char *kind, const char *offender)
{
    struct sw_incident *inc = calloc(1, sizeof(*inc));
    snprintf(inc->id, sizeof(inc->id), "11111111-2222-5333-8444-555555555555");
    inc->kind = kind;
    snprintf(inc->offender, sizeof(inc->offender), "%s", offender);
    inc->score_milli = 7250;
    inc->detected_at = 1764000000000;
    inc->last_seen = 1764000005000;
    return inc;
}

static xmlDocPtr parse(const char *s, size_t len)
{
    return xmlReadMemory(s, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
}

static void test_payloads(void **state)
{
    (void)state;
    struct sw_incident *inc = incident("message-spam", "bad<guy>@evil.test");
    char *p;
    size_t len;
    assert_int_equal(sw_share_xep0377(inc, "a.test", &p, &len), 0);
    xmlDocPtr d = parse(p, len);
    assert_non_null(d);
    xmlNodePtr root = xmlDocGetRootElement(d);
    assert_string_equal((const char *)root->name, "report");
    assert_string_equal((const char *)root->ns->href, "urn:xmpp:reporting:1");
    xmlChar *reason = xmlGetProp(root, (const xmlChar *)"reason");
    assert_string_equal((const char *)reason, "urn:xmpp:reporting:spam");
    xmlFree(reason);
    assert_non_null(strstr(p, "bad&lt;guy&gt;@evil.test"));
    xmlFreeDoc(d);

    char *iq;
    assert_int_equal(sw_share_publish_iq("n'ode", "abc", p, &iq, &len), 0);
    d = parse(iq, len);
    assert_non_null(d);
    root = xmlDocGetRootElement(d);
    assert_string_equal((const char *)root->ns->href, SW_PUBSUB_NS);
    xmlNodePtr pub = xmlFirstElementChild(root);
    xmlChar *node = xmlGetProp(pub, (const xmlChar *)"node");
    assert_string_equal((const char *)node, "n'ode");
    xmlFree(node);
    xmlNodePtr item = xmlFirstElementChild(pub);
    assert_string_equal((const char *)xmlFirstElementChild(item)->name, "report");
    xmlFreeDoc(d);
    free(iq);
    free(p);

    inc->kind = "muc-flood";
    assert_int_equal(sw_share_xep0377(inc, "a.test", &p, &len), 0);
    assert_non_null(strstr(p, "urn:xmpp:reporting:abuse"));
    free(p);
    assert_int_equal(sw_share_summary(inc, "a.test", &p, &len), 0);
    d = parse(p, len);
    assert_non_null(d);
    assert_string_equal((const char *)xmlDocGetRootElement(d)->ns->href, SW_FEED_NS);
    xmlFreeDoc(d);
    free(p);
    assert_int_equal(sw_share_retract_iq("rtbl", "abc", &p, &len), 0);
    assert_non_null(strstr(p, "<retract node=\"rtbl\" notify=\"true\"><item id=\"abc\"/>"));
    free(p);
    free(inc);
}

static void test_listed_persisted(void **state)
{
    (void)state;
    char dir[] = "/tmp/sw-test-rtbl.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/source-peer.list", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* flooder@a.test and the domain domain.test, as a previous run left them */
    fprintf(f, "SWLIST1 1764000000000\n"
               "94db8e78ed22687916ec7adafc2d00c4773e66bfcc7c2c6804bedfa0eba1e992\n"
               "c9f8b57691154024bb608f789be583e87f0deca6e3fea80596395669d342674b\n"
               "not-a-hash\n");
    fclose(f);
    struct sw_share_source src = {
        .name = "peer", .service = "pubsub.b.test", .node = "rtbl", .weight = 0.5};
    struct sw_share_settings s = {0};
    s.service = "pubsub.a.test";
    s.state_dir = dir;
    s.sources.items = &src;
    s.sources.n = 1;
    s.listed_score = 2.0;
    struct sw_reporter_settings rs;
    memset(&rs, 0, sizeof(rs));
    struct sw_share *sh = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_share_new(&s, &rs, NULL, &sh, &eb), 0);
    assert_int_equal(sw_share_listed_weight(sh, "flooder@a.test"), 1000); /* 2.0 * 0.5 */
    assert_int_equal(sw_share_listed_weight(sh, "FLOODER@a.test"), 1000);
    assert_int_equal(sw_share_listed_weight(sh, "anyone@domain.test"), 1000);
    assert_int_equal(sw_share_listed_weight(sh, "domain.test"), 1000);
    assert_int_equal(sw_share_listed_weight(sh, "victim@a.test"), 0);
    /* events: retract one, add one, then a full resync replaces everything */
    sw_share_source_item(sh, 0, "94db8e78ed22687916ec7adafc2d00c4773e66bfcc7c2c6804bedfa0eba1e992",
                         false);
    assert_int_equal(sw_share_listed_weight(sh, "flooder@a.test"), 0);
    char h[65];
    assert_int_equal(sw_share_rtbl_hash("victim@a.test", h), 0);
    sw_share_source_item(sh, 0, h, true);
    assert_int_equal(sw_share_listed_weight(sh, "victim@a.test"), 1000);
    const char *ids[] = {h};
    sw_share_source_replace(sh, 0, ids, 1);
    assert_int_equal(sw_share_listed_weight(sh, "anyone@domain.test"), 0);
    const char *name;
    uint64_t items;
    int64_t synced;
    assert_int_equal(sw_share_source_stats(sh, 0, &name, &items, &synced), 0);
    assert_int_equal(items, 1);
    assert_true(synced > 1764000000000);
    sw_share_free(sh);
    /* the resync was persisted: a new instance sees exactly it */
    assert_int_equal(sw_share_new(&s, &rs, NULL, &sh, &eb), 0);
    assert_int_equal(sw_share_listed_weight(sh, "victim@a.test"), 1000);
    assert_int_equal(sw_share_listed_weight(sh, "flooder@a.test"), 0);
    sw_share_free(sh);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_payloads),
        cmocka_unit_test(test_listed_persisted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
