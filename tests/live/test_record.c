/*
 * test_record.c - live/record.c: record 1 unwrapping (n, t, whitespace,
 * <w/>), record 2 expansion into record 1's exact stanza text (definition,
 * use, redefinition, no id, no text, empty text, presence), and what a
 * hostile peer may send instead: unknown or undefined keys, keys out of
 * range, double-quoted or unterminated values, unknown attributes, a
 * definition without from, a use with values, a wrong end tag, and more
 * definitions than LT_REC_DICT_BYTES allows. Single-threaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../live/record.h"
#include "sw/sw.h"

static int parse(struct lt_rec_conn *c, const char *s, struct lt_rec *r, const char **why)
{
    return lt_rec_parse(c, s, strlen(s), r, why);
}

/* the record parses and stands for exactly @want */
static void expect(struct lt_rec_conn *c, const char *s, const char *want)
{
    struct lt_rec r;
    const char *why = NULL;
    int rc = parse(c, s, &r, &why);
    if (rc != 0) {
        fail_msg("%s: %d %s", s, rc, why != NULL ? why : "");
    }
    assert_non_null(r.stanza);
    if (r.len != strlen(want) || memcmp(r.stanza, want, r.len) != 0) {
        fail_msg("%s: got %.*s, want %s", s, (int)r.len, r.stanza, want);
    }
}

static void expect_bad(struct lt_rec_conn *c, const char *s)
{
    struct lt_rec r;
    const char *why = NULL;
    assert_int_equal(parse(c, s, &r, &why), SW_EPARSE);
    assert_non_null(why);
}

static void test_record1(void **state)
{
    (void)state;
    struct lt_rec_conn c;
    lt_rec_conn_init(&c);
    struct lt_rec r;
    const char *why;
    assert_int_equal(parse(&c, "<w n='12' t='1700000000123'>\n <message id='a'/> </w>", &r, &why),
                     0);
    assert_true(r.numbered && r.has_n && r.has_t);
    assert_int_equal(r.n, 12);
    assert_int_equal(r.t, 1700000000123ull);
    assert_int_equal(r.len, strlen("<message id='a'/>"));
    assert_memory_equal(r.stanza, "<message id='a'/>", r.len);
    assert_int_equal(parse(&c, "<w><presence/></w>", &r, &why), 0);
    assert_true(r.numbered && !r.has_n && !r.has_t);
    assert_int_equal(parse(&c, "<w/>", &r, &why), 0);
    assert_false(r.numbered);
    assert_null(r.stanza);
    /* a plain stanza is itself */
    assert_int_equal(parse(&c, "<message to='x'/>", &r, &why), 0);
    assert_false(r.numbered);
    assert_int_equal(r.len, strlen("<message to='x'/>"));
    lt_rec_conn_free(&c);
}

static void test_record2(void **state)
{
    (void)state;
    struct lt_rec_conn c;
    lt_rec_conn_init(&c);
    expect(&c,
           "<m n='5' t='99' d='1' f='a@b.test/r' o='room@rooms.b.test' y='groupchat' i='x1'>hi "
           "&amp; bye</m>",
           "<message from='a@b.test/r' to='room@rooms.b.test' type='groupchat' id='x1'><body>hi "
           "&amp; bye</body></message>");
    expect(&c, "<m k='1' i='x2'>again</m>",
           "<message from='a@b.test/r' to='room@rooms.b.test' type='groupchat' "
           "id='x2'><body>again</body></message>");
    /* no id, no text; an empty text is an empty body */
    expect(&c, "<m k='1'/>",
           "<message from='a@b.test/r' to='room@rooms.b.test' type='groupchat'></message>");
    expect(&c, "<m k='1'></m>",
           "<message from='a@b.test/r' to='room@rooms.b.test' "
           "type='groupchat'><body></body></message>");
    /* presence: status; from='' and no to/type */
    expect(&c, "<p d='2' f='' i='p'>away</p>",
           "<presence from='' id='p'><status>away</status></presence>");
    /* a redefinition replaces the key */
    expect(&c, "<p d='1' f='u@a.test/x' y='unavailable'/>",
           "<presence from='u@a.test/x' type='unavailable'></presence>");
    expect(&c, "<m k='1' i='z'>m</m>",
           "<message from='u@a.test/x' type='unavailable' id='z'><body>m</body></message>");
    struct lt_rec r;
    const char *why;
    assert_int_equal(parse(&c, "<m k='2' t='1234'/>", &r, &why), 0);
    assert_true(r.numbered && r.has_t && !r.has_n);
    assert_int_equal(r.t, 1234);
    lt_rec_conn_free(&c);
}

static void test_hostile(void **state)
{
    (void)state;
    struct lt_rec_conn c;
    lt_rec_conn_init(&c);
    expect_bad(&c, "<m k='1'>x</m>"); /* undefined */
    expect_bad(&c, "<m k='0'/>");     /* out of range */
    expect_bad(&c, "<m k='4097'/>");
    expect_bad(&c, "<m k='99999999999999999999'/>");
    expect_bad(&c, "<m/>");               /* no key */
    expect_bad(&c, "<m d='1' o='x'/>");   /* a definition without from */
    expect_bad(&c, "<m d=\"1\" f='a'/>"); /* double quotes */
    expect_bad(&c, "<m d='1' f=\"a'b\"/>");
    expect_bad(&c, "<m d='1' f='a' z='1'/>");    /* unknown attribute */
    expect_bad(&c, "<m d='1' f='a' data='1'/>"); /* a long name */
    expect_bad(&c, "<m d='1' k='1' f='a'/>");    /* two keys */
    expect_bad(&c, "<m d='1' f='a>'/>");         /* '>' in a value */
    expect_bad(&c, "<m d='1' f='a'>x</p>");      /* wrong end tag */
    expect_bad(&c, "<m d='1' f='a'x>y</m>");     /* no space between attributes */
    expect(&c, "<m d='1' f='a'/>", "<message from='a'></message>");
    expect_bad(&c, "<m k='1' f='b'/>"); /* a use with values */
    /* definitions beyond LT_REC_DICT_BYTES are refused, redefinitions are not */
    size_t vl = 3000;
    char *big = malloc(vl + 64);
    assert_non_null(big);
    int ok = 0, refused = 0;
    for (unsigned k = 1; k <= LT_REC_KEYS; k++) {
        int n = snprintf(big, 64, "<m d='%u' f='", k);
        memset(big + n, 'x', vl);
        memcpy(big + n + vl, "'/>", 4);
        struct lt_rec r;
        const char *why;
        int rc = parse(&c, big, &r, &why);
        if (rc == 0) {
            ok++;
        } else {
            assert_int_equal(rc, SW_EPARSE);
            refused++;
        }
    }
    assert_true(ok > 0 && (size_t)ok * (vl + 8) <= LT_REC_DICT_BYTES);
    assert_true(refused > 0);
    assert_true(c.dict_bytes <= LT_REC_DICT_BYTES);
    expect(&c, "<m d='1' f='small'/>", "<message from='small'></message>");
    free(big);
    lt_rec_conn_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record1),
        cmocka_unit_test(test_record2),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
