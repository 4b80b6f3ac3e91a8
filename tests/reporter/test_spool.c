/*
 * test_spool.c - the durable outbound spool: put/next/ack, restart resume,
 * stale temp files and corrupt entries, superseding revisions, exponential
 * backoff, timeouts, kill -9 of a writer at a random moment, and a full disk
 * (a real 64 KB tmpfs when we may mount one, and the write-injection seam).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sw/reporter.h"

static char dir[256];

static int mkscratch(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sw-spool-test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int rmscratch(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int count_files(const char *d, const char *suffix, const char *prefix)
{
    DIR *dh = opendir(d);
    int n = 0;
    struct dirent *de;
    assert_non_null(dh);
    while ((de = readdir(dh)) != NULL) {
        size_t l = strlen(de->d_name), sl = strlen(suffix);
        if (prefix && strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
            n++;
        } else if (!prefix && l > sl && strcmp(de->d_name + l - sl, suffix) == 0) {
            n++;
        }
    }
    closedir(dh);
    return n;
}

static void test_put_next_ack_resume(void **state)
{
    (void)state;
    struct sw_spool *sp;
    struct sw_errbuf eb;
    assert_int_equal(sw_spool_open(dir, 1000, 8000, &sp, &eb), 0);
    assert_int_equal(sw_spool_put(sp, "b.test", "inc-1", 0, "<report>1</report>", 18), 0);
    assert_int_equal(sw_spool_put(sp, "b.test", "inc-2", 0, "<report>2</report>", 18), 0);
    assert_int_equal(sw_spool_put(sp, "c.test", "inc-1", 0, "<report>1c</report>", 19), 0);
    assert_int_equal(count_files(dir, ".rep", NULL), 3);
    assert_int_equal(count_files(dir, "", ".tmp-"), 0);
    assert_int_equal(sw_spool_put(sp, "bad\npeer", "x", 0, "", 0), SW_EINVAL);

    struct sw_spool_item it;
    assert_int_equal(sw_spool_next(sp, 0, 5000, &it), 1);
    assert_string_equal(it.peer, "b.test");
    assert_string_equal(it.payload, "<report>1</report>");
    char first[128];
    snprintf(first, sizeof(first), "%s", it.name);
    free(it.payload);
    assert_int_equal(sw_spool_ack(sp, first), 0);
    assert_int_equal(sw_spool_ack(sp, first), SW_ENOENT);
    assert_int_equal(count_files(dir, ".rep", NULL), 2);
    /* second one goes in flight, then the process "dies" */
    assert_int_equal(sw_spool_next(sp, 0, 5000, &it), 1);
    assert_string_equal(it.payload, "<report>2</report>");
    free(it.payload);
    sw_spool_free(sp);

    /* restart: a stale temp file and a corrupt entry are dealt with */
    char p[512];
    snprintf(p, sizeof(p), "%s/.tmp-0000000000000099-0000000000000001-00000000.rep", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("half", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/00000000000000aa-0000000000000001-00000000.rep", dir);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("garbage", f);
    fclose(f);
    assert_int_equal(sw_spool_open(dir, 1000, 8000, &sp, &eb), 0);
    assert_int_equal(count_files(dir, "", ".tmp-"), 0);
    assert_int_equal(count_files(dir, ".bad", NULL), 1);
    struct sw_spool_stats st;
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.pending, 2);
    assert_int_equal(sw_spool_next(sp, 0, 5000, &it), 1);
    assert_string_equal(it.payload, "<report>2</report>"); /* order kept */
    assert_int_equal(sw_spool_ack(sp, it.name), 0);
    free(it.payload);
    assert_int_equal(sw_spool_next(sp, 0, 5000, &it), 1);
    assert_string_equal(it.peer, "c.test");
    assert_int_equal(sw_spool_ack(sp, it.name), 0);
    free(it.payload);
    assert_int_equal(sw_spool_next(sp, 0, 5000, &it), 0);
    /* new entries continue the sequence after a restart */
    assert_int_equal(sw_spool_put(sp, "b.test", "inc-3", 0, "3", 1), 0);
    assert_int_equal(sw_spool_next(sp, 0, 5000, &it), 1);
    assert_true(strncmp(it.name, "0000000000000004-", 17) == 0);
    free(it.payload);
    sw_spool_free(sp);
}

static void test_backoff_timeout_supersede(void **state)
{
    (void)state;
    struct sw_spool *sp;
    struct sw_errbuf eb;
    struct sw_spool_item it;
    assert_int_equal(sw_spool_open(dir, 1000, 5000, &sp, &eb), 0);
    assert_int_equal(sw_spool_put(sp, "b.test", "i", 0, "r0", 2), 0);
    int64_t now = 100000;
    assert_int_equal(sw_spool_next(sp, now, 3000, &it), 1);
    char name[128];
    snprintf(name, sizeof(name), "%s", it.name);
    free(it.payload);
    assert_int_equal(sw_spool_due_in(sp, name, now), -1); /* in flight */
    assert_int_equal(sw_spool_fail(sp, name, now), 0);
    assert_int_equal(sw_spool_due_in(sp, name, now), 1000);
    assert_int_equal(sw_spool_next(sp, now + 999, 3000, &it), 0);
    int64_t expect[] = {2000, 4000, 5000, 5000};
    for (int i = 0; i < 4; i++) {
        now += 10000;
        assert_int_equal(sw_spool_next(sp, now, 3000, &it), 1);
        free(it.payload);
        assert_int_equal(sw_spool_fail(sp, name, now), 0);
        assert_int_equal(sw_spool_due_in(sp, name, now), expect[i]);
    }
    /* timeout: no answer within 3 s counts as a failure */
    now += 10000;
    assert_int_equal(sw_spool_next(sp, now, 3000, &it), 1);
    free(it.payload);
    assert_int_equal(sw_spool_expire(sp, now + 2999), 0);
    assert_int_equal(sw_spool_expire(sp, now + 3000), 1);
    assert_int_equal(sw_spool_due_in(sp, name, now + 3000), 5000);
    /* lost connection: back at once */
    now += 20000;
    assert_int_equal(sw_spool_next(sp, now, 3000, &it), 1);
    free(it.payload);
    sw_spool_requeue_all(sp, now);
    assert_int_equal(sw_spool_due_in(sp, name, now), 0);

    /* a newer revision supersedes a pending older one ... */
    assert_int_equal(sw_spool_put(sp, "b.test", "i", 1, "r1", 2), 0);
    struct sw_spool_stats st;
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.superseded, 1);
    assert_int_equal(count_files(dir, ".rep", NULL), 1);
    /* ... but not one in flight, and not another peer's */
    assert_int_equal(sw_spool_next(sp, now, 3000, &it), 1);
    assert_string_equal(it.payload, "r1");
    free(it.payload);
    assert_int_equal(sw_spool_put(sp, "b.test", "i", 2, "r2", 2), 0);
    assert_int_equal(sw_spool_put(sp, "c.test", "i", 2, "r2c", 3), 0);
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.pending, 3);
    assert_int_equal(st.in_flight, 1);
    sw_spool_free(sp);
}

static int inject_errno;
static long failing_write(int fd, const void *buf, size_t len)
{
    (void)fd, (void)buf, (void)len;
    errno = inject_errno;
    return -1;
}

static void test_enospc_seam(void **state)
{
    (void)state;
    struct sw_spool *sp;
    struct sw_errbuf eb;
    assert_int_equal(sw_spool_open(dir, 1000, 5000, &sp, &eb), 0);
    sw_spool_set_write_fn(sp, failing_write);
    inject_errno = ENOSPC;
    assert_int_equal(sw_spool_put(sp, "b.test", "i", 0, "r0", 2), SW_ENOSPC);
    inject_errno = EIO;
    assert_int_equal(sw_spool_put(sp, "b.test", "i", 0, "r0", 2), SW_EIO);
    struct sw_spool_stats st;
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.enospc, 1);
    assert_int_equal(st.write_errors, 2);
    assert_int_equal(st.pending, 0);
    assert_int_equal(count_files(dir, "", ".tmp-"), 0);
    sw_spool_set_write_fn(sp, NULL);
    assert_int_equal(sw_spool_put(sp, "b.test", "i", 0, "r0", 2), 0);
    sw_spool_free(sp);
}

/* A real full disk: a 64 KB tmpfs, if this process may mount one. */
static void test_real_full_disk(void **state)
{
    (void)state;
    char mnt[300];
    snprintf(mnt, sizeof(mnt), "%s/small", dir);
    assert_int_equal(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=64") != 0) {
        rmdir(mnt);
        skip();
    }
    struct sw_spool *sp;
    struct sw_errbuf eb;
    char sd[320];
    snprintf(sd, sizeof(sd), "%s/spool", mnt);
    assert_int_equal(sw_spool_open(sd, 1000, 5000, &sp, &eb), 0);
    static char payload[8000];
    memset(payload, 'x', sizeof(payload));
    int stored = 0, rc = 0;
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof(id), "inc-%d", i);
        rc = sw_spool_put(sp, "b.test", id, 0, payload, sizeof(payload));
        if (rc != 0) {
            break;
        }
        stored++;
    }
    assert_int_equal(rc, SW_ENOSPC);
    assert_true(stored >= 3 && stored < 100);
    assert_int_equal(count_files(sd, "", ".tmp-"), 0);
    struct sw_spool_stats st;
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.enospc, 1);
    assert_int_equal(st.pending, (uint64_t)stored);
    /* what was stored is intact and resumes */
    sw_spool_free(sp);
    assert_int_equal(sw_spool_open(sd, 1000, 5000, &sp, &eb), 0);
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.pending, (uint64_t)stored);
    struct sw_spool_item it;
    assert_int_equal(sw_spool_next(sp, 0, 1000, &it), 1);
    assert_int_equal(it.len, sizeof(payload));
    assert_int_equal(sw_spool_ack(sp, it.name), 0); /* frees room */
    free(it.payload);
    assert_int_equal(sw_spool_put(sp, "b.test", "after", 0, "small", 5), 0);
    sw_spool_free(sp);
    assert_int_equal(umount(mnt), 0);
    rmdir(mnt);
}

/* kill -9 of a writer at some moment: every put that returned 0 is on disk
 * and complete after restart; nothing half-written is ever loaded. */
static void test_kill9_writer(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        char sd[320];
        snprintf(sd, sizeof(sd), "%s/k%d", dir, round);
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            struct sw_spool *sp;
            struct sw_errbuf eb;
            if (sw_spool_open(sd, 1000, 5000, &sp, &eb) != 0) {
                _exit(2);
            }
            static char payload[4096];
            memset(payload, 'p', sizeof(payload));
            for (int i = 0; i < 100000; i++) {
                char id[32];
                snprintf(id, sizeof(id), "inc-%d", i);
                if (sw_spool_put(sp, "b.test", id, 0, payload, sizeof(payload)) != 0) {
                    _exit(3);
                }
                if (write(pfd[1], "+", 1) != 1) {
                    _exit(4);
                }
            }
            _exit(0);
        }
        close(pfd[1]);
        int acked = 0;
        char c;
        while (acked < 20 + round * 15 && read(pfd[0], &c, 1) == 1) {
            acked++;
        }
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        /* drain what the child confirmed but we had not read yet */
        while (read(pfd[0], &c, 1) == 1) {
            acked++;
        }
        close(pfd[0]);
        assert_true(WIFSIGNALED(status));

        struct sw_spool *sp;
        struct sw_errbuf eb;
        assert_int_equal(sw_spool_open(sd, 1000, 5000, &sp, &eb), 0);
        struct sw_spool_stats st;
        sw_spool_get_stats(sp, &st);
        assert_true(st.pending >= (uint64_t)acked);
        assert_true(st.pending <= (uint64_t)acked + 1); /* renamed, not yet confirmed */
        assert_int_equal(count_files(sd, ".bad", NULL), 0);
        struct sw_spool_item it;
        int n = 0;
        while (sw_spool_next(sp, 0, 1000, &it) == 1) {
            assert_int_equal(it.len, 4096);
            assert_int_equal(sw_spool_ack(sp, it.name), 0);
            free(it.payload);
            n++;
        }
        assert_int_equal((uint64_t)n, st.pending);
        sw_spool_free(sp);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_next_ack_resume, mkscratch, rmscratch),
        cmocka_unit_test_setup_teardown(test_backoff_timeout_supersede, mkscratch, rmscratch),
        cmocka_unit_test_setup_teardown(test_enospc_seam, mkscratch, rmscratch),
        cmocka_unit_test_setup_teardown(test_real_full_disk, mkscratch, rmscratch),
        cmocka_unit_test_setup_teardown(test_kill9_writer, mkscratch, rmscratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
