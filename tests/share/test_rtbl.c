/*
 * test_rtbl.c - reporter/rtbl.c and share.c without a network: RTBL item ids
 * are what mod_muc_rtbl computes (SHA-256 hex of the lower-cased bare JID,
 * checked against sha256sum values), payloads are well-formed XML in the
 * right namespaces, and a consumed list persisted in state_dir is loaded by a
 * new sw_share and weighs an account and the accounts of a listed domain;
 * publishing through a real spool: filters, feed update/close, expiry after
 * ttl, repeat offences listed ttl * 2^(n-1) capped by ttl_max (also across a
 * restart), the allow list retracting at start, retract of an unknown entity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Remove @dir and everything in it. */
static void rm_tree(const char *dir)
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
    assert_int_equal(system(cmd), 0);
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
    /* duplicates and non-hash ids in a resync are dropped */
    char h2[65];
    assert_int_equal(sw_share_rtbl_hash("other@b.test", h2), 0);
    const char *ids2[] = {h2, "not-a-hash", h, h2, NULL, h};
    sw_share_source_replace(sh, 0, ids2, 6);
    assert_int_equal(sw_share_source_stats(sh, 0, &name, &items, &synced), 0);
    assert_int_equal(items, 2);
    assert_int_equal(sw_share_listed_weight(sh, "other@b.test"), 1000);
    sw_share_source_replace(sh, 0, ids, 1);
    assert_true(synced > 1764000000000);
    sw_share_free(sh);
    /* the resync was persisted: a new instance sees exactly it */
    assert_int_equal(sw_share_new(&s, &rs, NULL, &sh, &eb), 0);
    assert_int_equal(sw_share_listed_weight(sh, "victim@a.test"), 1000);
    assert_int_equal(sw_share_listed_weight(sh, "flooder@a.test"), 0);
    sw_share_free(sh);
    rm_tree(dir);
}

/* Take every due spool entry: count those whose payload holds @needle (acking all). */
static int drain(struct sw_spool *sp, int64_t now, const char *needle, int *total)
{
    struct sw_spool_item it;
    int n = 0;
    *total = 0;
    assert_int_equal(sw_spool_flush(sp, 10000), 0); /* stored (group commit) before sendable */
    while (sw_spool_next(sp, now, 1000, &it) == 1) {
        (*total)++;
        n += strstr(it.payload, needle) != NULL;
        assert_string_equal(it.peer, "pubsub.a.test");
        free(it.payload);
        assert_int_equal(sw_spool_ack(sp, it.name, it.peer), 0);
    }
    return n;
}

/* A fresh temporary directory with an open spool in DIR/spool; state is DIR/state. */
struct spool_fix {
    char dir[32];
    char state[300];
    struct sw_spool *sp;
};

static void fix_open(struct spool_fix *f)
{
    char path[300];
    struct sw_errbuf eb = {{0}};
    snprintf(f->dir, sizeof(f->dir), "/tmp/sw-test-rtbl.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/spool", f->dir);
    f->sp = NULL;
    assert_int_equal(sw_spool_open(path, 100, 1000, &f->sp, &eb), 0);
    snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
}

/* Free the spool, remove the directory and everything in it. */
static void fix_close(struct spool_fix *f)
{
    sw_spool_free(f->sp);
    rm_tree(f->dir);
}

/* Incident @id of @inc at @t: its RTBL item is published, stays listed until
 * just before @t + @listed_ms and is retracted just after. */
static void offence(struct sw_share *sh, struct sw_spool *sp, struct sw_incident *inc,
                    const char *id, int64_t t, int64_t listed_ms, const char *pub,
                    const char *retract)
{
    int total;
    snprintf(inc->id, sizeof(inc->id), "%s", id);
    assert_int_equal(sw_share_incident_at(sh, inc, t), 0);
    assert_int_equal(drain(sp, t, pub, &total), 1);
    sw_share_tick(sh, t + listed_ms - 1000);
    assert_int_equal(drain(sp, t + listed_ms - 1000, retract, &total), 0);
    sw_share_tick(sh, t + listed_ms + 1000);
    assert_int_equal(drain(sp, t + listed_ms + 1000, retract, &total), 1);
}

static void test_publish_expire_repeat(void **state)
{
    (void)state;
    struct spool_fix f;
    fix_open(&f);
    struct sw_spool *sp = f.sp;
    struct sw_errbuf eb = {{0}};
    struct sw_share_node feed = {.node = "f",
                                 .min_score = 1.0,
                                 .payload = SW_SHARE_SUMMARY,
                                 .ttl_ms = 1000000,
                                 .ttl_max_ms = 1000000,
                                 .retract_on_close = true};
    struct sw_share_settings s = {0};
    s.service = "pubsub.a.test";
    s.state_dir = f.state;
    s.rtbl = (struct sw_share_node){.enabled = true,
                                    .node = "rtbl",
                                    .min_score = 5.0,
                                    .payload = SW_SHARE_XEP0377,
                                    .ttl_ms = 60000,
                                    .ttl_max_ms = 200000};
    s.feeds.items = &feed;
    s.feeds.n = 1;
    struct sw_reporter_settings rs;
    memset(&rs, 0, sizeof(rs));
    rs.domain = "a.test";
    rs.admin_jid = "admin@a.test";
    struct sw_share *sh = NULL;
    assert_int_equal(sw_share_new(&s, &rs, sp, &sh, &eb), 0);
    const int64_t t0 = 1764000000000;
    int total;
    char pub[200];
    snprintf(pub, sizeof(pub), "<publish node=\"rtbl\"><item id=\"%s\">",
             "94db8e78ed22687916ec7adafc2d00c4773e66bfcc7c2c6804bedfa0eba1e992");
    const char *retract =
        "<retract node=\"rtbl\" notify=\"true\"><item "
        "id=\"94db8e78ed22687916ec7adafc2d00c4773e66bfcc7c2c6804bedfa0eba1e992\"/>";

    /* offence 1: RTBL item (XEP-0377 payload) and feed item */
    struct sw_incident *inc = incident("muc-flood", "flooder@a.test/res");
    assert_int_equal(sw_share_incident_at(sh, inc, t0), 0);
    assert_int_equal(drain(sp, t0, pub, &total), 1);
    assert_int_equal(total, 2);
    /* an update of the same incident re-publishes the feed item only */
    inc->status = SW_INC_UPDATED;
    assert_int_equal(sw_share_incident_at(sh, inc, t0 + 1000), 0);
    assert_int_equal(drain(sp, t0 + 1000, "<publish node=\"f\">", &total), 1);
    assert_int_equal(total, 1);
    /* below the RTBL's min_score: feed only */
    struct sw_incident *weak = incident("muc-flood", "weak@a.test");
    weak->score_milli = 2000;
    assert_int_equal(sw_share_incident_at(sh, weak, t0), 0);
    assert_int_equal(drain(sp, t0, "<publish node=\"f\">", &total), 1);
    assert_int_equal(total, 1);
    /* closing retracts the feed item, not the RTBL entry */
    weak->status = SW_INC_CLOSED;
    assert_int_equal(sw_share_incident_at(sh, weak, t0 + 2000), 0);
    assert_int_equal(drain(sp, t0 + 2000, "<retract node=\"f\"", &total), 1);
    assert_int_equal(total, 1);
    /* expiry after ttl (60 s) from the last offence activity */
    sw_share_tick(sh, t0 + 59000);
    assert_int_equal(drain(sp, t0 + 59000, retract, &total), 0);
    assert_int_equal(total, 0);
    sw_share_tick(sh, t0 + 61001);
    assert_int_equal(drain(sp, t0 + 61001, retract, &total), 1);
    assert_int_equal(total, 1);
    struct sw_share_stats st;
    sw_share_get_stats(sh, &st);
    assert_int_equal(st.expired, 1);

    /* offence 2 (a new incident), after a restart: listed for 2 * ttl */
    sw_share_free(sh);
    assert_int_equal(sw_share_new(&s, &rs, sp, &sh, &eb), 0);
    inc->status = SW_INC_OPEN;
    offence(sh, sp, inc, "22222222-2222-5333-8444-555555555555", t0 + 100000, 120000, pub, retract);
    /* offence 3: 4 * ttl = 240 s, capped at ttl_max 200 s */
    offence(sh, sp, inc, "33333333-2222-5333-8444-555555555555", t0 + 300000, 200000, pub, retract);

    /* listed again, then the allow list (by domain) retracts it at start */
    snprintf(inc->id, sizeof(inc->id), "44444444-2222-5333-8444-555555555555");
    assert_int_equal(sw_share_incident_at(sh, inc, t0 + 600000), 0);
    assert_int_equal(drain(sp, t0 + 600000, pub, &total), 1);
    sw_share_free(sh);
    char *allow[] = {"A.TEST"};
    s.allow.v = allow;
    s.allow.n = 1;
    assert_int_equal(sw_share_new(&s, &rs, sp, &sh, &eb), 0);
    assert_int_equal(drain(sp, t0 + 600000, retract, &total), 1);
    /* and it is never listed again while allowed */
    snprintf(inc->id, sizeof(inc->id), "55555555-2222-5333-8444-555555555555");
    assert_int_equal(sw_share_incident_at(sh, inc, t0 + 700000), 0);
    assert_int_equal(drain(sp, t0 + 700000, "<publish", &total), 0);
    assert_int_equal(total, 0);
    sw_share_free(sh);
    free(inc);
    free(weak);
    fix_close(&f);
}

static void test_retract_command_path(void **state)
{
    (void)state;
    struct spool_fix f;
    fix_open(&f);
    struct sw_spool *sp = f.sp;
    struct sw_errbuf eb = {{0}};
    struct sw_share_settings s = {0};
    s.service = "pubsub.a.test";
    s.state_dir = f.state;
    s.rtbl = (struct sw_share_node){
        .enabled = true, .node = "rtbl", .min_score = 1.0, .ttl_ms = 60000, .ttl_max_ms = 60000};
    struct sw_reporter_settings rs;
    memset(&rs, 0, sizeof(rs));
    rs.domain = "a.test";
    struct sw_share *sh = NULL;
    assert_int_equal(sw_share_new(&s, &rs, sp, &sh, &eb), 0);
    int total;
    /* not in our state (listed by hand, or state lost): a retract goes out anyway */
    assert_int_equal(sw_share_retract(sh, "Someone@B.test/phone"), 1);
    char h[65], want[200];
    assert_int_equal(sw_share_rtbl_hash("someone@b.test", h), 0);
    snprintf(want, sizeof(want), "<item id=\"%s\"/>", h);
    assert_int_equal(drain(sp, 1, want, &total), 1);
    assert_int_equal(sw_share_retract(sh, ""), SW_EINVAL);
    sw_share_free(sh);
    fix_close(&f);
}

/* reports from a.test count 0.5 each, at most 2 reporters, for 60 s; listed_score 2 */
static void reports_settings(struct sw_share_settings *s, struct sw_reporter_settings *rs,
                             char *dir)
{
    static char *from[] = {"a.test"};
    memset(s, 0, sizeof(*s));
    memset(rs, 0, sizeof(*rs));
    s->service = "pubsub.a.test";
    s->state_dir = dir;
    s->reports_from.v = from;
    s->reports_from.n = 1;
    s->report_weight = 0.5;
    s->report_max = 2;
    s->report_ttl_ms = 60000;
    s->listed_score = 2.0;
}

static void test_reports(void **state)
{
    (void)state;
    char dir[] = "/tmp/sw-test-rtbl.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct sw_share_settings s;
    struct sw_reporter_settings rs;
    reports_settings(&s, &rs, dir);
    struct sw_share *sh = NULL;
    struct sw_errbuf eb = {{0}};
    assert_true(sw_share_wanted(&s));
    assert_int_equal(sw_share_new(&s, &rs, NULL, &sh, &eb), 0);
    const int64_t t = 1764000000000;
    /* only the configured forwarder is believed */
    assert_false(sw_share_report(sh, "rogue.b.test", "x@a.test", "u1@a.test", NULL, t));
    assert_false(sw_share_report(sh, "evil@a.test", "x@a.test", "u1@a.test", NULL, t));
    assert_int_equal(sw_share_report_weight(sh, "x@a.test", t), 0);
    /* one reporter twice counts once; resources do not make new reporters */
    assert_true(sw_share_report(sh, "A.test", "X@a.test/r", "u1@a.test/phone", NULL, t));
    assert_true(sw_share_report(sh, "a.test/x", "x@a.test", "u1@a.test/laptop", NULL, t + 1));
    assert_int_equal(sw_share_report_weight(sh, "x@a.test", t + 2), 1000); /* 1 * 0.5 * 2.0 */
    assert_true(sw_share_report(sh, "a.test", "x@a.test", "u2@a.test", NULL, t + 30000));
    assert_true(sw_share_report(sh, "a.test", "x@a.test", "u3@a.test", NULL, t + 30000));
    assert_int_equal(sw_share_report_weight(sh, "x@a.test", t + 30000), 2000); /* capped at 2 */
    assert_int_equal(sw_share_listed_weight(sh, "x@a.test"), 0); /* wall clock: long expired */
    /* u1's reports expire after the ttl, u2's and u3's still count */
    assert_int_equal(sw_share_report_weight(sh, "x@a.test", t + 61000), 2000);
    assert_int_equal(sw_share_report_weight(sh, "x@a.test", t + 91000), 0);
    /* a trusted report on a domain is accepted but not counted (accounts only) */
    assert_true(sw_share_report(sh, "a.test", "a.test", "u1@a.test", NULL, t));
    assert_int_equal(sw_share_report_weight(sh, "a.test", t), 0);
    struct sw_share_stats st;
    sw_share_get_stats(sh, &st);
    assert_int_equal(st.reports_in, 4);
    assert_int_equal(st.reports_refused, 2);
    sw_share_free(sh);
    rm_tree(dir);
}

/* XEP-0377 reports survive a restart (state_dir/reports.state): written by the
 * tick and at exit, loaded at start; expired ones are not kept; no JID on disk. */
static void test_reports_persisted(void **state)
{
    (void)state;
    char dir[] = "/tmp/sw-test-rtbl.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct sw_share_settings s;
    struct sw_reporter_settings rs;
    reports_settings(&s, &rs, dir);
    struct sw_share *sh = NULL;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_share_new(&s, &rs, NULL, &sh, &eb), 0);
    const int64_t t = sw_wall_ms();
    assert_true(sw_share_report(sh, "a.test", "x@a.test", "u1@a.test", NULL, t - 1000));
    assert_true(sw_share_report(sh, "a.test", "x@a.test", "u2@a.test", NULL, t - 500));
    assert_true(sw_share_report(sh, "a.test", "y@a.test", "u1@a.test", NULL, t - 70000));
    sw_share_tick(sh, t); /* written by the reporter thread's tick */
    char path[256];
    snprintf(path, sizeof(path), "%s/reports.state", dir);
    struct stat stt;
    assert_int_equal(stat(path, &stt), 0);
    assert_true(sw_share_report(sh, "a.test", "z@a.test", "u3@a.test", NULL, t));
    sw_share_free(sh); /* ... and at exit */
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_memory_equal(buf, "SWREPORTS1\n", 11);
    assert_null(strstr(buf, "@")); /* hashes only */
    sh = NULL;
    assert_int_equal(sw_share_new(&s, &rs, NULL, &sh, &eb), 0);
    assert_int_equal(sw_share_report_weight(sh, "x@a.test", t), 2000); /* two reporters */
    assert_int_equal(sw_share_report_weight(sh, "z@a.test", t), 1000);
    assert_int_equal(sw_share_report_weight(sh, "y@a.test", t), 0); /* expired, not kept */
    assert_int_equal(sw_share_report_weight(sh, "x@a.test", t + 60000), 0);
    sw_share_free(sh);
    /* a damaged file is ignored, not fatal */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("garbage\n", f);
    fclose(f);
    sh = NULL;
    assert_int_equal(sw_share_new(&s, &rs, NULL, &sh, &eb), 0);
    assert_int_equal(sw_share_report_weight(sh, "x@a.test", t), 0);
    sw_share_free(sh);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_payloads),
        cmocka_unit_test(test_listed_persisted),
        cmocka_unit_test(test_publish_expire_repeat),
        cmocka_unit_test(test_retract_command_path),
        cmocka_unit_test(test_reports),
        cmocka_unit_test(test_reports_persisted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
