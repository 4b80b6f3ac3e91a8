/*
 * test_hs.c - the Hyperscan wrapper: literal escaping, flags, whole word,
 * compile errors with the failing index, scratch clone/grow, and the on-disk
 * cache (miss, hit, corrupt file ignored and rewritten, changed rules miss).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "../../detectors/hs.h"

struct matches {
    unsigned ids[16];
    size_t n;
};

static int on_match(unsigned id, unsigned long long to, void *ctx)
{
    (void)to;
    struct matches *m = ctx;
    if (m->n < 16) {
        m->ids[m->n++] = id;
    }
    return 0;
}

static int has(const struct matches *m, unsigned id)
{
    for (size_t i = 0; i < m->n; i++) {
        if (m->ids[i] == id) {
            return 1;
        }
    }
    return 0;
}

static struct matches scan(const struct sw_hs_db *db, struct sw_hs_scratch *s, const char *text)
{
    struct matches m = {.n = 0};
    assert_int_equal(sw_hs_scan(db, text, strlen(text), s, on_match, &m), 0);
    return m;
}

static void test_literals_regex_flags(void **state)
{
    (void)state;
    const struct sw_hs_pattern p[] = {
        {.expr = "t.me/joinchat", .id = 1, .flags = SW_HS_LITERAL | SW_HS_CASELESS},
        {.expr = "a+b?(c", .id = 2, .flags = SW_HS_LITERAL}, /* regex metachars, literal */
        {.expr = "fr[e3]{2}\\s+money", .id = 3, .flags = SW_HS_CASELESS},
        {.expr = "cat", .id = 4, .flags = SW_HS_LITERAL | SW_HS_WHOLE_WORD},
        {.expr = "Привет", .id = 5, .flags = SW_HS_LITERAL | SW_HS_UTF8 | SW_HS_CASELESS},
        {.expr = "CaseSensitive", .id = 6, .flags = SW_HS_LITERAL},
    };
    struct sw_hs_db *db = NULL;
    struct sw_hs_scratch *s = NULL;
    struct sw_errbuf eb;
    assert_int_equal(sw_hs_db_build(p, 6, NULL, &db, NULL, &eb), 0);
    assert_int_equal(sw_hs_scratch_grow(&s, db), 0);

    struct matches m = scan(db, s, "join T.ME/JoinChat/abc now");
    assert_int_equal(m.n, 1);
    assert_true(has(&m, 1));
    m = scan(db, s, "tXme/joinchat"); /* '.' is literal, not any char */
    assert_int_equal(m.n, 0);
    m = scan(db, s, "x a+b?(c y");
    assert_true(has(&m, 2));
    m = scan(db, s, "FR33   Money");
    assert_true(has(&m, 3));
    m = scan(db, s, "my cat sleeps");
    assert_true(has(&m, 4));
    m = scan(db, s, "concatenate category");
    assert_false(has(&m, 4));
    m = scan(db, s, "ну ПРИВЕТ всем");
    assert_true(has(&m, 5));
    m = scan(db, s, "casesensitive");
    assert_false(has(&m, 6));
    m = scan(db, s, "CaseSensitive CaseSensitive"); /* single match per scan */
    assert_int_equal(m.n, 1);
    sw_hs_scratch_free(s);
    sw_hs_db_free(db);
}

static void test_bad_regex_names_index(void **state)
{
    (void)state;
    const struct sw_hs_pattern p[] = {
        {.expr = "fine", .id = 10, .flags = 0},
        {.expr = "bro(ken", .id = 11, .flags = 0},
    };
    struct sw_hs_db *db = NULL;
    struct sw_hs_build_info info;
    struct sw_errbuf eb = {{0}};
    assert_int_equal(sw_hs_db_build(p, 2, NULL, &db, &info, &eb), SW_EPATTERN);
    assert_null(db);
    assert_int_equal(info.bad_index, 1);
    assert_non_null(strstr(eb.msg, "parenthes"));

    const struct sw_hs_pattern e[] = {{.expr = "a*", .id = 1, .flags = 0}}; /* matches empty */
    assert_int_equal(sw_hs_db_build(e, 1, NULL, &db, &info, &eb), SW_EPATTERN);
    assert_int_equal(sw_hs_db_build(e, 0, NULL, &db, &info, &eb), SW_EINVAL);
}

static void test_scratch_clone_and_grow(void **state)
{
    (void)state;
    const struct sw_hs_pattern small[] = {{.expr = "spam", .id = 1, .flags = SW_HS_LITERAL}};
    const struct sw_hs_pattern big[] = {
        {.expr = "(a|b)[^x]{20,40}(c|d)", .id = 1, .flags = 0},
        {.expr = "free.{0,30}bitcoin", .id = 2, .flags = SW_HS_CASELESS | SW_HS_DOTALL},
    };
    struct sw_hs_db *a = NULL, *b = NULL;
    struct sw_hs_scratch *proto = NULL, *w = NULL;
    assert_int_equal(sw_hs_db_build(small, 1, NULL, &a, NULL, NULL), 0);
    assert_int_equal(sw_hs_db_build(big, 2, NULL, &b, NULL, NULL), 0);
    assert_int_equal(sw_hs_scratch_grow(&proto, a), 0);
    assert_int_equal(sw_hs_scratch_clone(proto, &w), 0);
    struct matches m = scan(a, w, "no spam here");
    assert_true(has(&m, 1));
    /* grow the worker's scratch for the new generation's database */
    assert_int_equal(sw_hs_scratch_grow(&w, b), 0);
    assert_true(sw_hs_scratch_size(w) > 0);
    m = scan(b, w, "FREE\nbitcoin");
    assert_true(has(&m, 2));
    m = scan(a, w, "spam"); /* still valid for the old one */
    assert_true(has(&m, 1));
    sw_hs_scratch_free(w);
    sw_hs_scratch_free(proto);
    sw_hs_db_free(a);
    sw_hs_db_free(b);
}

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sw-test-hs-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
}

static void rm_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
}

static void test_cache_miss_hit_corrupt(void **state)
{
    (void)state;
    make_tmpdir();
    const struct sw_hs_pattern p[] = {
        {.expr = "bit.?coin", .id = 1, .flags = SW_HS_CASELESS},
        {.expr = "discord.gg/", .id = 2, .flags = SW_HS_LITERAL},
    };
    struct sw_hs_db *db = NULL;
    struct sw_hs_scratch *s = NULL;
    struct sw_hs_build_info info;
    struct sw_errbuf eb;

    assert_int_equal(sw_hs_db_build(p, 2, tmpdir, &db, &info, &eb), 0);
    assert_false(info.cache_hit);
    assert_false(info.cache_corrupt);
    assert_true(info.cache_written);
    assert_true(strncmp(info.cache_path, tmpdir, strlen(tmpdir)) == 0);
    sw_hs_db_free(db);

    assert_int_equal(sw_hs_db_build(p, 2, tmpdir, &db, &info, &eb), 0);
    assert_true(info.cache_hit);
    assert_int_equal(sw_hs_scratch_grow(&s, db), 0);
    struct matches m = scan(db, s, "BIT-COIN at discord.gg/x");
    assert_int_equal(m.n, 2);
    sw_hs_db_free(db);

    /* flip one payload byte: checksum fails, cache ignored and rewritten */
    FILE *fp = fopen(info.cache_path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 100, SEEK_SET), 0);
    int c = fgetc(fp);
    assert_int_equal(fseek(fp, 100, SEEK_SET), 0);
    fputc(c ^ 0x55, fp);
    fclose(fp);
    assert_int_equal(sw_hs_db_build(p, 2, tmpdir, &db, &info, &eb), 0);
    assert_false(info.cache_hit);
    assert_true(info.cache_corrupt);
    assert_true(info.cache_written);
    m = scan(db, s, "bitcoin");
    assert_int_equal(m.n, 1);
    sw_hs_db_free(db);

    /* truncated file */
    assert_int_equal(truncate(info.cache_path, 20), 0);
    assert_int_equal(sw_hs_db_build(p, 2, tmpdir, &db, &info, &eb), 0);
    assert_true(info.cache_corrupt);
    sw_hs_db_free(db);
    assert_int_equal(sw_hs_db_build(p, 2, tmpdir, &db, &info, &eb), 0);
    assert_true(info.cache_hit);
    sw_hs_db_free(db);

    /* a changed flag is a different key: miss */
    struct sw_hs_pattern q[2];
    memcpy(q, p, sizeof(q));
    q[0].flags = 0;
    assert_int_equal(sw_hs_db_build(q, 2, tmpdir, &db, &info, &eb), 0);
    assert_false(info.cache_hit);
    assert_false(info.cache_corrupt);
    sw_hs_db_free(db);

    /* a stale database (mtime 40 days ago) is pruned on the next write; a used one stays */
    char stale[600];
    snprintf(stale, sizeof(stale), "%s/0123456789abcdef0123456789abcdef.hsdb", tmpdir);
    FILE *sf = fopen(stale, "w");
    assert_non_null(sf);
    fclose(sf);
    struct utimbuf old = {.actime = time(NULL) - 40 * 86400, .modtime = time(NULL) - 40 * 86400};
    assert_int_equal(utime(stale, &old), 0);
    q[1].flags = SW_HS_CASELESS | SW_HS_LITERAL; /* new key: compile + write */
    assert_int_equal(sw_hs_db_build(q, 2, tmpdir, &db, &info, &eb), 0);
    assert_true(info.cache_written);
    assert_int_not_equal(access(stale, F_OK), 0);
    assert_int_equal(access(info.cache_path, F_OK), 0);
    sw_hs_db_free(db);
    sw_hs_scratch_free(s);
    rm_tmpdir();
}

static void test_cache_dir_fallback(void **state)
{
    (void)state;
    char buf[512];
    make_tmpdir();
    assert_int_equal(sw_hs_cache_dir(tmpdir, buf, sizeof(buf)), 0);
    assert_string_equal(buf, tmpdir);
    /* not creatable: falls back to $XDG_CACHE_HOME/stanzawatch */
    setenv("XDG_CACHE_HOME", tmpdir, 1);
    assert_int_equal(sw_hs_cache_dir("/proc/no/such/dir", buf, sizeof(buf)), 0);
    char want[300];
    snprintf(want, sizeof(want), "%s/stanzawatch", tmpdir);
    assert_string_equal(buf, want);
    unsetenv("XDG_CACHE_HOME");
    assert_int_equal(sw_hs_cache_dir("/proc/no/such/dir", buf, sizeof(buf)), 0);
    assert_true(strncmp(buf, "/tmp/stanzawatch-cache-", 23) == 0);
    rm_tmpdir();
}

/* The shared-/tmp fallback and the cache files are ours alone: a directory
 * another user could have planted (mode 0777, a symlink, a foreign owner) is
 * not used, and a cache file that is a symlink or not ours is not loaded (a
 * valid database behind the link would otherwise be a hit) and is replaced by
 * a file of ours without touching the link's target. */
static void test_cache_tmp_hostile(void **state)
{
    (void)state;
    char buf[512], cand[400], other[400];
    make_tmpdir();
    unsetenv("XDG_CACHE_HOME");
    setenv("TMPDIR", tmpdir, 1);
    snprintf(cand, sizeof(cand), "%s/stanzawatch-cache-%lu", tmpdir, (unsigned long)geteuid());
    snprintf(other, sizeof(other), "%s/elsewhere", tmpdir);
    assert_int_equal(mkdir(other, 0700), 0);
    /* world-writable */
    assert_int_equal(mkdir(cand, 0700), 0);
    assert_int_equal(chmod(cand, 0777), 0);
    assert_int_equal(sw_hs_cache_dir("/proc/no/such/dir", buf, sizeof(buf)), SW_ENOENT);
    assert_int_equal(rmdir(cand), 0);
    /* a symlink to a directory of ours */
    assert_int_equal(symlink(other, cand), 0);
    assert_int_equal(sw_hs_cache_dir("/proc/no/such/dir", buf, sizeof(buf)), SW_ENOENT);
    assert_int_equal(unlink(cand), 0);
    /* someone else's (needs root to set up) */
    if (geteuid() == 0) {
        assert_int_equal(mkdir(cand, 0700), 0);
        assert_int_equal(chown(cand, 65534, 65534), 0);
        assert_int_equal(sw_hs_cache_dir("/proc/no/such/dir", buf, sizeof(buf)), SW_ENOENT);
        assert_int_equal(rmdir(cand), 0);
    }
    /* absent: created 0700 and used */
    assert_int_equal(sw_hs_cache_dir("/proc/no/such/dir", buf, sizeof(buf)), 0);
    assert_string_equal(buf, cand);
    struct stat st;
    assert_int_equal(lstat(cand, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    /* a cache file that is a symlink to a valid database is not loaded */
    const struct sw_hs_pattern p[] = {{.expr = "spam+", .id = 1}};
    struct sw_hs_db *db = NULL;
    struct sw_hs_build_info info;
    struct sw_errbuf eb;
    assert_int_equal(sw_hs_db_build(p, 1, cand, &db, &info, &eb), 0);
    assert_true(info.cache_written);
    sw_hs_db_free(db);
    char target[500];
    snprintf(target, sizeof(target), "%s/planted.hsdb", other);
    assert_int_equal(rename(info.cache_path, target), 0);
    assert_int_equal(symlink(target, info.cache_path), 0);
    struct stat before;
    assert_int_equal(stat(target, &before), 0);
    assert_int_equal(sw_hs_db_build(p, 1, cand, &db, &info, &eb), 0);
    assert_false(info.cache_hit);
    assert_true(info.cache_corrupt);
    assert_true(info.cache_written);
    sw_hs_db_free(db);
    assert_int_equal(lstat(info.cache_path, &st), 0);
    assert_true(S_ISREG(st.st_mode)); /* the link itself was replaced */
    struct stat after;
    assert_int_equal(stat(target, &after), 0);
    assert_int_equal(after.st_mtime, before.st_mtime); /* its target untouched */
    assert_int_equal(after.st_ino, before.st_ino);
    /* a cache file not owned by us, or writable by others, is not loaded */
    assert_int_equal(chmod(info.cache_path, 0666), 0);
    assert_int_equal(sw_hs_db_build(p, 1, cand, &db, &info, &eb), 0);
    assert_false(info.cache_hit);
    sw_hs_db_free(db);
    if (geteuid() == 0) {
        assert_int_equal(chown(info.cache_path, 65534, 65534), 0);
        assert_int_equal(sw_hs_db_build(p, 1, cand, &db, &info, &eb), 0);
        assert_false(info.cache_hit);
        sw_hs_db_free(db);
    }
    assert_int_equal(sw_hs_db_build(p, 1, cand, &db, &info, &eb), 0);
    assert_true(info.cache_hit); /* rewritten as ours: a hit again */
    sw_hs_db_free(db);
    unsetenv("TMPDIR");
    rm_tmpdir();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_regex_flags),
        cmocka_unit_test(test_bad_regex_names_index),
        cmocka_unit_test(test_scratch_clone_and_grow),
        cmocka_unit_test(test_cache_miss_hit_corrupt),
        cmocka_unit_test(test_cache_dir_fallback),
        cmocka_unit_test(test_cache_tmp_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
