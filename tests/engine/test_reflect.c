/*
 * test_reflect.c - pl_is_reflection() (engine/reflect.c), the check that
 * lets the parser leave MUC reflections out of libxml2's input.
 *
 * A "yes" must only ever name a stanza engine/xml.c flags
 * SW_F_MUC_REFLECTION: the hand-made cases cover each shape and each reason
 * for "not sure"; the differential cases run every stanza of the bundled
 * captures and of a swgen capture (which has tens of thousands of
 * reflections, plain and mirrored) through both and compare.
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

#include "../../engine/pipeline_int.h"
#include "../support/capture.h"
#include "sw/event.h"
#include "sw/xml.h"

#define MAX_ATTR 4096

static bool refl(const char *s)
{
    return pl_is_reflection(s, strlen(s), MAX_ATTR);
}

static void test_shapes(void **state)
{
    (void)state;
    /* a room's copy to an occupant */
    assert_true(refl("<message from='room@muc.a.test/nick' to='u@a.test/phone' type='groupchat' "
                     "id='x1'><body>hi</body></message>"));
    assert_true(refl("<message\n type=\"groupchat\" from=\"room@muc.a.test/n i c k\"\tto="
                     "\"u@a.test/r\" xml:lang='en'/>"));
    assert_true(refl("<message xmlns='jabber:client' from='r@m.a.test/n' to='u@a.test/r' "
                     "type='groupchat'><body>x</body></message>"));
    /* a mirror copy of one, with and without the forwarder's stamp */
    assert_true(refl("<message from='muc.a.test' to='watch.a.test'><forwarded "
                     "xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' "
                     "stamp='2026-01-05T12:00:00Z'/><message xmlns='jabber:client' "
                     "from='r@muc.a.test/n' to='u@b.test/r' type='groupchat' id='1'><body>x</body>"
                     "</message></forwarded></message>"));
    assert_true(
        refl("<message from='a.test' to='watch.a.test'>\n <forwarded "
             "xmlns='urn:xmpp:forward:0'>\n  <message from='r@muc.a.test/n' to='u@b.test/r' "
             "type='groupchat'/></forwarded></message>"));
}

static void test_not_sure(void **state)
{
    (void)state;
    const char *no[] = {
        /* not a reflection */
        "<message from='u@a.test/r' to='room@muc.a.test' type='groupchat'><body>x</body></message>",
        "<message from='room@muc.a.test/n' to='u@a.test' type='groupchat'/>",
        "<message from='room@muc.a.test' to='u@a.test/r' type='groupchat'/>",
        "<message from='room@muc.a.test/n' to='u@a.test/r' type='chat'/>",
        "<message from='room@muc.a.test/n' to='u@a.test/r'/>",
        "<presence from='room@muc.a.test/n' to='u@a.test/r'/>",
        "<message from='room@muc.a.test/' to='u@a.test/r' type='groupchat'/>",
        "<message from='@muc.a.test/n' to='u@a.test/r' type='groupchat'/>",
        "<message from='room@/n' to='u@a.test/r' type='groupchat'/>",
        "<messages from='room@muc.a.test/n' to='u@a.test/r' type='groupchat'/>",
        /* the names could mean something else, or libxml2 would reject it */
        "<jc:message from='room@muc.a.test/n' to='u@a.test/r' type='groupchat'/>",
        "<message xmlns:jc='jabber:client' from='room@muc.a.test/n' to='u@a.test/r' "
        "type='groupchat'/>",
        "<message from='room@muc.a.test/n' to='u@a.test/r' type='groupchat' type='groupchat'/>",
        "<message from='room@muc.a.test/n' to='u@a.test/r' p:type='x' type='groupchat'/>",
        "<message from='room@muc.a.test/n&#47;' to='u@a.test/r' type='groupchat'/>",
        "<message from='room@muc.a.test/n' to='u@a.test/&amp;r' type='groupchat'/>",
        "<message from='room@muc.a.test/n' to='u@a.test/r' type='groupchat'",
        "<message from='room@muc.a.test/n' to='u@a.test/r' type='groupchat >",
        "<message from='room@muc.a.test/n'to='u@a.test/r' type='groupchat'/>",
        "<message from='room@muc.a.test/n' to='u@a.test/r' type='groupchat' xmlns='urn:x'/>",
        /* a carbon would make its inner message the described one */
        "<message from='room@muc.a.test/n' to='u@a.test/r' type='groupchat'><sent "
        "xmlns='urn:xmpp:carbons:2'/></message>",
        "<message from='room@muc.a.test/n' to='u@a.test/r' type='groupchat'><sent "
        "xmlns='urn:xmpp:&#99;arbons:2'/></message>",
        "<message from='room@muc.a.test/n' to='u@a.test/r' type='groupchat'><body>&#x1F600; "
        "and more text</body></message>",
        /* mirror copies that are not plainly one */
        "<message from='muc.a.test' to='w.a.test'><body/><forwarded xmlns='urn:xmpp:forward:0'>"
        "<message from='r@muc.a.test/n' to='u@b.test/r' type='groupchat'/></forwarded></message>",
        "<message from='muc.a.test' to='w.a.test'><forwarded xmlns='urn:other'>"
        "<message from='r@muc.a.test/n' to='u@b.test/r' type='groupchat'/></forwarded></message>",
        "<message from='muc.a.test' to='w.a.test'><forwarded xmlns='urn:xmpp:forward:0'>"
        "<delay xmlns='urn:other' stamp='x'/><message from='r@muc.a.test/n' to='u@b.test/r' "
        "type='groupchat'/></forwarded></message>",
        "<message from='muc.a.test' to='w.a.test'><forwarded xmlns='urn:xmpp:forward:0'>"
        "<x/><message from='r@muc.a.test/n' to='u@b.test/r' type='groupchat'/></forwarded>"
        "</message>",
        "<message from='muc.a.test' to='w.a.test'><forwarded xmlns='urn:xmpp:forward:0'>"
        "<message from='u@a.test/r' to='r@muc.a.test' type='groupchat'/></forwarded></message>",
        "<message to='w.a.test'><forwarded xmlns='urn:xmpp:forward:0'><message "
        "from='r@muc.a.test/n' to='u@b.test/r' type='groupchat'/></forwarded></message>",
        "<message from='muc.a.test' to='w.a.test' xmlns='jabber:client'><forwarded "
        "xmlns='urn:xmpp:forward:0'><message from='r@muc.a.test/n' to='u@b.test/r' "
        "type='groupchat'/></forwarded></message>",
        "<message from='muc.a.test' to='w.a.test'/>",
        "",
        "<",
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        if (refl(no[i])) {
            fail_msg("taken for a reflection: %s", no[i]);
        }
    }
    /* xml.c's bounds: an attribute over max_attr_bytes, a JID part over 1023 */
    char big[2200];
    int n = snprintf(big, sizeof(big),
                     "<message from='room@muc.a.test/%0*d' to='u@a.test/r' type='groupchat'/>",
                     1024, 7);
    assert_true(n > 0 && (size_t)n < sizeof(big));
    assert_false(refl(big));
    snprintf(big, sizeof(big),
             "<message from='room@muc.a.test/%0*d' to='u@a.test/r' type='groupchat'/>", 100, 7);
    assert_true(refl(big));
    assert_false(pl_is_reflection(big, strlen(big), 64));
}

/* ---- differential: every stanza through pl_is_reflection() and sw_xml ---- */

struct diff {
    const char *d;
    size_t hdr_end;
    struct sw_xml *x;
    uint32_t last_flags;
    uint64_t events, stanzas, yes, checked;
    char first_bad[256];
};

static void on_event(void *ud, const struct sw_event *ev)
{
    struct diff *f = ud;
    f->last_flags = ev->flags;
    f->events++;
}

static void d_header(void *ud, uint64_t start, uint64_t end)
{
    (void)start;
    ((struct diff *)ud)->hdr_end = (size_t)end;
}

static void d_stanza(void *ud, uint64_t start, uint64_t end, uint32_t line)
{
    struct diff *f = ud;
    (void)line;
    f->stanzas++;
    const char *s = f->d + start;
    size_t len = (size_t)(end - start);
    if (!pl_is_reflection(s, len, MAX_ATTR)) {
        return;
    }
    f->yes++;
    if (f->x == NULL) {
        struct sw_xml_opts o;
        memset(&o, 0, sizeof(o));
        o.limits = (struct sw_xml_limits){32, MAX_ATTR, 65536, 262144, 1024};
        assert_int_equal(sw_xml_new(&o, on_event, f, &f->x), 0);
        struct sw_errbuf eb;
        assert_int_equal(sw_xml_feed(f->x, f->d, f->hdr_end, 0, &eb), 0);
    }
    uint64_t before = f->events;
    f->last_flags = 0;
    struct sw_errbuf eb;
    eb.msg[0] = '\0';
    int rc = sw_xml_feed(f->x, s, len, 0, &eb);
    f->checked++;
    if (rc != 0 || f->events != before + 1 || !(f->last_flags & SW_F_MUC_REFLECTION)) {
        if (f->first_bad[0] == '\0') {
            snprintf(f->first_bad, sizeof(f->first_bad), "rc %d, events %llu, flags %#x: %.160s",
                     rc, (unsigned long long)(f->events - before), f->last_flags, s);
        }
        sw_xml_free(f->x); /* dead after an error: the next "yes" starts afresh */
        f->x = NULL;
    }
}

static void diff_bytes(const char *d, size_t len, const char *what, uint64_t min_yes)
{
    struct diff f;
    memset(&f, 0, sizeof(f));
    f.d = d;
    struct sw_split_cb cb = {d_header, d_stanza, NULL, &f, NULL, NULL};
    struct sw_xml_limits lim = {32, MAX_ATTR, 65536, 262144, 1024};
    struct sw_split *sp;
    assert_int_equal(sw_split_new(&lim, &cb, &sp), 0);
    struct sw_errbuf eb;
    (void)sw_split_feed(sp, d, len, &eb);
    (void)sw_split_finish(sp, &eb);
    sw_split_free(sp);
    sw_xml_free(f.x);
    print_message("%s: %llu stanzas, %llu taken for reflections\n", what,
                  (unsigned long long)f.stanzas, (unsigned long long)f.yes);
    if (f.first_bad[0] != '\0') {
        fail_msg("%s: a stanza taken for a reflection is none to engine/xml.c: %s", what,
                 f.first_bad);
    }
    assert_true(f.yes >= min_yes);
}

static void test_bundled_captures(void **state)
{
    (void)state;
    static const char *names[] = {"mirror.xml",
                                  "muc.xml",
                                  "attack_framing.xml",
                                  "attack_forged_history.xml",
                                  "attack_malformed.xml",
                                  "attack_over_limit.xml",
                                  "attack_room_whitelist.xml"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t len;
        char *d = sw_test_load_capture(names[i], &len);
        diff_bytes(d, len, names[i], 0);
        free(d);
    }
}

static void test_swgen_capture(void **state)
{
    (void)state;
    char path[] = "/tmp/sw_test_reflect_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' --seed 23 --stanzas 60000 -o '%s' 2>/dev/null", SW_SWGEN,
             path);
    assert_int_equal(system(cmd), 0);
    size_t len;
    char *d = sw_test_load_file(path, &len);
    unlink(path);
    diff_bytes(d, len, "swgen seed 23", 5000); /* a capture without them tests nothing */
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_not_sure),
        cmocka_unit_test(test_bundled_captures),
        cmocka_unit_test(test_swgen_capture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
