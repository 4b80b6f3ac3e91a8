/*
 * test_spool.c - the durable outbound spool: put/flush/next/ack, restart
 * resume, stale temp files and corrupt batches, superseding revisions,
 * exponential backoff, timeouts, acks only from the peer an entry was sent to
 * while it is in flight, held entries of removed peers, expiry, disk faults
 * through the sw_file fault seam (ENOSPC, EIO: nothing dropped silently, a
 * bounded queue), kill -9 with un-fsynced data lost (the "volatile" seam), a
 * real 64 KB tmpfs (ctest reporter.spool_full_disk, SKIP without mount
 * rights) and start-up / latency with 100k pending entries.
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
#include <time.h>
#include <unistd.h>

#include "sw/file.h"
#include "sw/reporter.h"

static char dir[256];

static int mkscratch(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sw-spool-test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    sw_file_fault_set(NULL);
    return 0;
}

static int rmscratch(void **state)
{
    (void)state;
    char cmd[300];
    sw_file_fault_set(NULL);
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

static void put_ok(struct sw_spool *sp, const char *peer, const char *id, uint32_t rev,
                   const char *payload)
{
    assert_int_equal(sw_spool_put(sp, peer, id, rev, payload, strlen(payload)), 0);
    assert_int_equal(sw_spool_flush(sp, 10000), 0);
}

static void test_put_next_ack_resume(void **state)
{
    (void)state;
    struct sw_spool *sp;
    struct sw_errbuf eb;
    assert_int_equal(sw_spool_open(dir, 1000, 8000, &sp, &eb), 0);
    /* one batch each (flushed one by one): a batch file goes when all of it is
     * acked; an acked record of a batch that still has pending ones is sent
     * again after a restart (harmless: peers key incidents by IncidentID) */
    put_ok(sp, "b.test", "inc-1", 0, "<report>1</report>");
    put_ok(sp, "b.test", "inc-2", 0, "<report>2</report>");
    put_ok(sp, "c.test", "inc-1", 0, "<report>1c</report>");
    assert_true(count_files(dir, ".spl", NULL) >= 1);
    assert_int_equal(count_files(dir, "", ".tmp-"), 0);
    assert_int_equal(sw_spool_put(sp, "bad\npeer", "x", 0, "", 0), SW_EINVAL);

    struct sw_spool_item it;
    assert_int_equal(sw_spool_next(sp, 0, 5000, &it), 1);
    assert_string_equal(it.peer, "b.test");
    assert_string_equal(it.payload, "<report>1</report>");
    assert_int_equal(strlen(it.name), 32); /* random iq id */
    char first[128];
    snprintf(first, sizeof(first), "%s", it.name);
    free(it.payload);
    /* strangers cannot acknowledge: an account at the peer's domain, a longer
     * domain, a missing from */
    assert_int_equal(sw_spool_ack(sp, first, "evil@b.test/x"), SW_EFORBIDDEN);
    assert_int_equal(sw_spool_ack(sp, first, "b.test.evil.example"), SW_EFORBIDDEN);
    assert_int_equal(sw_spool_ack(sp, first, NULL), SW_EFORBIDDEN);
    assert_int_equal(sw_spool_ack(sp, "0000000000000001-x", "b.test"), SW_ENOENT);
    assert_int_equal(sw_spool_ack(sp, first, "B.test/res"), 0);
    assert_int_equal(sw_spool_ack(sp, first, "b.test"), SW_ENOENT);
    struct sw_spool_stats st;
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.spoofed, 3);
    assert_int_equal(st.pending, 2);
    /* second one goes in flight, then the process "dies" */
    assert_int_equal(sw_spool_next(sp, 0, 5000, &it), 1);
    assert_string_equal(it.payload, "<report>2</report>");
    free(it.payload);
    sw_spool_free(sp);

    /* restart: a stale temp file and a corrupt batch are dealt with */
    char p[512];
    snprintf(p, sizeof(p), "%s/.tmp-0000000000000099.spl.0123456789abcdef", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("half", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/00000000000000aa.spl", dir);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("SWSPOOL2\nR 0000000000000010 0000000000000001 00000000 0 6 1 1\nb.testxy\n", f);
    fputs("E 1 0000000000000001\n", f); /* wrong hash: torn */
    fclose(f);
    assert_int_equal(sw_spool_open(dir, 1000, 8000, &sp, &eb), 0);
    assert_int_equal(count_files(dir, "", ".tmp-"), 0);
    assert_int_equal(count_files(dir, ".bad", NULL), 1);
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.pending, 2);
    assert_int_equal(sw_spool_next(sp, 0, 5000, &it), 1);
    assert_string_equal(it.payload, "<report>2</report>"); /* order kept */
    assert_int_equal(sw_spool_ack(sp, it.name, it.peer), 0);
    free(it.payload);
    assert_int_equal(sw_spool_next(sp, 0, 5000, &it), 1);
    assert_string_equal(it.peer, "c.test");
    assert_int_equal(sw_spool_ack(sp, it.name, "c.test"), 0);
    free(it.payload);
    assert_int_equal(sw_spool_next(sp, 0, 5000, &it), 0);
    /* everything acked: no batch file left (each unlink fsync'd) */
    assert_int_equal(count_files(dir, ".spl", NULL), 0);
    put_ok(sp, "b.test", "inc-3", 0, "3");
    assert_int_equal(sw_spool_next(sp, 0, 5000, &it), 1);
    assert_string_equal(it.payload, "3");
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
    put_ok(sp, "b.test", "i", 0, "r0");
    int64_t now = 100000;
    assert_int_equal(sw_spool_next(sp, now, 3000, &it), 1);
    char name[128];
    snprintf(name, sizeof(name), "%s", it.name);
    free(it.payload);
    assert_int_equal(sw_spool_due_in(sp, name, now), -1); /* in flight */
    assert_int_equal(sw_spool_fail(sp, name, "intruder@b.test", now), SW_EFORBIDDEN);
    assert_int_equal(sw_spool_fail(sp, name, "b.test", now), 0);
    assert_int_equal(sw_spool_due_in(sp, name, now), 1000);
    /* not in flight any more: a late or forged result changes nothing */
    assert_int_equal(sw_spool_ack(sp, name, "b.test"), SW_ENOENT);
    assert_int_equal(sw_spool_next(sp, now + 999, 3000, &it), 0);
    int64_t expect[] = {2000, 4000, 5000, 5000};
    for (int i = 0; i < 4; i++) {
        now += 10000;
        assert_int_equal(sw_spool_next(sp, now, 3000, &it), 1);
        assert_string_not_equal(it.name, name); /* a fresh id per send */
        snprintf(name, sizeof(name), "%s", it.name);
        free(it.payload);
        assert_int_equal(sw_spool_fail(sp, name, "b.test", now), 0);
        assert_int_equal(sw_spool_due_in(sp, name, now), expect[i]);
    }
    /* timeout: no answer within 3 s counts as a failure */
    now += 10000;
    assert_int_equal(sw_spool_next(sp, now, 3000, &it), 1);
    snprintf(name, sizeof(name), "%s", it.name);
    free(it.payload);
    assert_int_equal(sw_spool_expire(sp, now + 2999), 0);
    assert_int_equal(sw_spool_expire(sp, now + 3000), 1);
    assert_int_equal(sw_spool_due_in(sp, name, now + 3000), 5000);
    /* lost connection: back at once */
    now += 20000;
    assert_int_equal(sw_spool_next(sp, now, 3000, &it), 1);
    snprintf(name, sizeof(name), "%s", it.name);
    free(it.payload);
    sw_spool_requeue_all(sp, now);
    assert_int_equal(sw_spool_due_in(sp, name, now), 0);

    /* a newer revision supersedes a pending older one ... */
    put_ok(sp, "b.test", "i", 1, "r1");
    struct sw_spool_stats st;
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.superseded, 1);
    assert_int_equal(count_files(dir, ".spl", NULL), 1);
    /* ... but not one in flight, and not another peer's */
    assert_int_equal(sw_spool_next(sp, now, 3000, &it), 1);
    assert_string_equal(it.payload, "r1");
    free(it.payload);
    put_ok(sp, "b.test", "i", 2, "r2");
    put_ok(sp, "c.test", "i", 2, "r2c");
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.pending, 3);
    assert_int_equal(st.in_flight, 1);
    sw_spool_free(sp);
}

/* Entries for a peer removed from the config are kept, not sent; expiry. */
static void test_held_and_expiry(void **state)
{
    (void)state;
    struct sw_spool *sp;
    struct sw_errbuf eb;
    struct sw_spool_item it;
    assert_int_equal(sw_spool_open(dir, 1000, 5000, &sp, &eb), 0);
    put_ok(sp, "gone.test", "g", 0, "for a removed peer");
    put_ok(sp, "b.test", "i", 0, "r0");
    const char *peers[] = {"b.test"};
    assert_int_equal(sw_spool_set_peers(sp, peers, 1), 0);
    assert_int_equal(sw_spool_next(sp, 0, 1000, &it), 1);
    assert_string_equal(it.peer, "b.test");
    assert_int_equal(sw_spool_ack(sp, it.name, "b.test"), 0);
    free(it.payload);
    assert_int_equal(sw_spool_next(sp, 0, 1000, &it), 0);
    struct sw_spool_stats st;
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.held, 1);
    assert_int_equal(st.pending, 0);
    assert_int_equal(count_files(dir, ".spl", NULL), 1); /* kept on disk */
    sw_spool_free(sp);
    /* still held after a restart; sent once the peer is configured again */
    assert_int_equal(sw_spool_open(dir, 1000, 5000, &sp, &eb), 0);
    assert_int_equal(sw_spool_set_peers(sp, peers, 1), 0);
    assert_int_equal(sw_spool_next(sp, 0, 1000, &it), 0);
    const char *peers2[] = {"b.test", "gone.test"};
    assert_int_equal(sw_spool_set_peers(sp, peers2, 2), 0);
    assert_int_equal(sw_spool_next(sp, 0, 1000, &it), 1);
    assert_string_equal(it.payload, "for a removed peer");
    free(it.payload);
    sw_spool_requeue_all(sp, 0);

    /* expiry: deleted, counted, when it comes up for sending */
    sw_spool_set_expiry(sp, 60000);
    int64_t later = sw_wall_ms() + 61000;
    assert_int_equal(sw_spool_next(sp, later, 1000, &it), 0);
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.pending, 0);
    assert_int_equal(count_files(dir, ".spl", NULL), 0);
    sw_spool_free(sp);
}

/* sw_spool_flush() until it returns want, for at most ~15 s: after a failed
 * commit the writer retries with backoff (100 ms doubling), so the next
 * attempt, and the error a changed fault gives, may come after one short
 * flush has timed out with the previous error (seen under load). */
static int flush_until(struct sw_spool *sp, int want)
{
    int rc = 0;
    for (int i = 0; i < 50; i++) {
        rc = sw_spool_flush(sp, 300);
        if (rc == want) {
            break;
        }
    }
    return rc;
}

/* ENOSPC / EIO through the fault seam: the report stays queued, is retried,
 * counted, and is stored once the disk recovers; nothing half-written. */
static void test_disk_faults_seam(void **state)
{
    (void)state;
    struct sw_spool *sp;
    struct sw_errbuf eb;
    struct sw_spool_stats st;
    assert_int_equal(sw_spool_open(dir, 1000, 5000, &sp, &eb), 0);
    assert_int_equal(sw_file_fault_set("enospc:10"), 0); /* a short write, then ENOSPC */
    assert_int_equal(sw_spool_put(sp, "b.test", "i", 0, "r0", 2), 0);
    assert_int_equal(flush_until(sp, SW_ENOSPC), SW_ENOSPC);
    sw_spool_get_stats(sp, &st);
    assert_true(st.enospc >= 1);
    assert_true(st.write_errors >= 1);
    assert_int_equal(st.pending, 1); /* kept in memory, not dropped */
    assert_int_equal(st.queued, 1);
    assert_int_equal(count_files(dir, "", ".tmp-"), 0);
    assert_int_equal(count_files(dir, ".spl", NULL), 0);
    struct sw_spool_item it;
    assert_int_equal(sw_spool_next(sp, 0, 1000, &it), 0); /* not durable: not sendable */
    assert_int_equal(sw_file_fault_set("eio"), 0);        /* fsync fails */
    assert_int_equal(flush_until(sp, SW_EIO), SW_EIO);
    assert_int_equal(count_files(dir, "", ".tmp-"), 0);
    assert_int_equal(sw_file_fault_set(NULL), 0);
    assert_int_equal(sw_spool_flush(sp, 10000), 0); /* retried with backoff */
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.pending, 1);
    assert_int_equal(sw_spool_next(sp, 0, 1000, &it), 1);
    assert_string_equal(it.payload, "r0");
    free(it.payload);

    /* the queue is bounded: past 64 MB waiting for a full disk, a put is
     * refused loudly (return code, counter, log line), never silently */
    assert_int_equal(sw_file_fault_set("enospc:0"), 0);
    size_t big = (size_t)4 << 20;
    char *payload = malloc(big);
    assert_non_null(payload);
    memset(payload, 'x', big);
    int rc = 0, n = 0;
    for (; n < 40 && rc == 0; n++) {
        char id[16];
        snprintf(id, sizeof(id), "big%d", n);
        rc = sw_spool_put(sp, "b.test", id, 0, payload, big);
    }
    assert_int_equal(rc, SW_ENOSPC);
    assert_true(n > 10);
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.dropped, 1);
    free(payload);
    assert_int_equal(sw_file_fault_set(NULL), 0);
    assert_int_equal(sw_spool_flush(sp, 30000), 0);
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.pending, (uint64_t)(n - 1) + 1);
    sw_spool_free(sp);
}

/* A real full disk: a 64 KB tmpfs. Run as `test_spool full-disk` (its own
 * ctest entry): exit 77 (ctest SKIP) when this process may not mount. */
static int real_full_disk(void)
{
    char mnt[300];
    snprintf(mnt, sizeof(mnt), "/tmp/sw-spool-full.XXXXXX");
    if (mkdtemp(mnt) == NULL) {
        return 1;
    }
    if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=64") != 0) {
        fprintf(stderr,
                "SKIP: cannot mount a tmpfs here (%s): the fault seam test covers "
                "ENOSPC\n",
                strerror(errno));
        rmdir(mnt);
        return 77;
    }
    int bad = 0;
    struct sw_spool *sp;
    struct sw_errbuf eb;
    char sd[320];
    snprintf(sd, sizeof(sd), "%s/spool", mnt);
    if (sw_spool_open(sd, 1000, 5000, &sp, &eb) != 0) {
        bad = 1;
        goto out;
    }
    static char payload[8000];
    memset(payload, 'x', sizeof(payload));
    int stored = 0;
    for (int i = 0; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof(id), "inc-%d", i);
        if (sw_spool_put(sp, "b.test", id, 0, payload, sizeof(payload)) != 0 ||
            sw_spool_flush(sp, 500) != 0) {
            break;
        }
        stored++;
    }
    struct sw_spool_stats st;
    sw_spool_get_stats(sp, &st);
    bad |= !(stored >= 3 && stored < 100) || st.enospc < 1 || st.queued != 1 ||
           count_files(sd, "", ".tmp-") != 0;
    /* freeing room lets the queued report through */
    struct sw_spool_item it;
    if (sw_spool_next(sp, 0, 1000, &it) == 1) {
        bad |= sw_spool_ack(sp, it.name, "b.test") != 0;
        free(it.payload);
    } else {
        bad = 1;
    }
    bad |= sw_spool_flush(sp, 10000) != 0;
    sw_spool_free(sp);
    fprintf(stderr, "full disk: %d stored, then ENOSPC; %s\n", stored, bad ? "FAIL" : "ok");
out:
    umount(mnt);
    rmdir(mnt);
    return bad;
}

/* kill -9 of a writer at some moment with the "volatile" seam: bytes not
 * fsync'd and renames not followed by a directory fsync are lost, as on a
 * power cut. Every report flush() confirmed is on disk and complete after
 * restart; nothing half-written is ever loaded. Removing any fsync from
 * sw_file_write_atomic_at makes this fail. */
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
            if (sw_file_fault_set("volatile") != 0 ||
                sw_spool_open(sd, 1000, 5000, &sp, &eb) != 0) {
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
                if (i % 3 == 2) {
                    if (sw_spool_flush(sp, 10000) != 0 || write(pfd[1], "+++", 3) != 3) {
                        _exit(4);
                    }
                }
            }
            _exit(0);
        }
        close(pfd[1]);
        int acked = 0;
        char c;
        while (acked < 30 + round * 15 && read(pfd[0], &c, 1) == 1) {
            acked++;
        }
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
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
        assert_true(st.pending <= (uint64_t)acked + 3); /* committed, not yet confirmed */
        assert_int_equal(count_files(sd, ".bad", NULL), 0);
        struct sw_spool_item it;
        int n = 0;
        while (sw_spool_next(sp, 0, 1000, &it) == 1) {
            assert_int_equal(it.len, 4096);
            assert_int_equal(sw_spool_ack(sp, it.name, "b.test"), 0);
            free(it.payload);
            n++;
        }
        assert_int_equal((uint64_t)n, st.pending);
        sw_spool_free(sp);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 100k pending entries: start-up is fast, and put/next/ack cost does not grow
 * with the spool (no linear scans). */
static void test_100k_pending(void **state)
{
    (void)state;
    struct sw_spool *sp;
    struct sw_errbuf eb;
    struct sw_spool_item it;
    const int N = 100000;
    char payload[300];
    memset(payload, 'r', sizeof(payload));
    assert_int_equal(sw_spool_open(dir, 1000, 5000, &sp, &eb), 0);
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "inc-%d", i);
        assert_int_equal(
            sw_spool_put(sp, i % 2 ? "b.test" : "c.test", id, 0, payload, sizeof(payload)), 0);
    }
    double t_put = now_s() - t0;
    assert_int_equal(sw_spool_flush(sp, 60000), 0);
    sw_spool_free(sp);

    t0 = now_s();
    assert_int_equal(sw_spool_open(dir, 1000, 5000, &sp, &eb), 0);
    double t_open = now_s() - t0;
    struct sw_spool_stats st;
    sw_spool_get_stats(sp, &st);
    assert_int_equal(st.pending, (uint64_t)N);
    /* 1000 send+ack rounds with 100k pending */
    t0 = now_s();
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(sw_spool_next(sp, 0, 1000, &it), 1);
        assert_int_equal(sw_spool_ack(sp, it.name, it.peer), 0);
        free(it.payload);
    }
    double t_ack = now_s() - t0;
    /* 1000 puts with 99k pending */
    t0 = now_s();
    for (int i = 0; i < 1000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "more-%d", i);
        assert_int_equal(sw_spool_put(sp, "b.test", id, 0, payload, sizeof(payload)), 0);
    }
    double t_put2 = now_s() - t0;
    assert_int_equal(sw_spool_flush(sp, 60000), 0);
    sw_spool_free(sp);
    fprintf(stderr,
            "100k pending: put %.1f us/report (aggregator side), open %.0f ms, next+ack %.1f "
            "us, put at 99k pending %.1f us\n",
            t_put * 1e6 / N, t_open * 1e3, t_ack * 1e3, t_put2 * 1e3);
    assert_true(t_open < 3.0);        /* typically ~0.1 s */
    assert_true(t_ack / 1000 < 2e-3); /* per round, incl. a pread; O(log n) index */
    assert_true(t_put2 / 1000 < 1e-3);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "full-disk") == 0) {
        return real_full_disk();
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_next_ack_resume, mkscratch, rmscratch),
        cmocka_unit_test_setup_teardown(test_backoff_timeout_supersede, mkscratch, rmscratch),
        cmocka_unit_test_setup_teardown(test_held_and_expiry, mkscratch, rmscratch),
        cmocka_unit_test_setup_teardown(test_disk_faults_seam, mkscratch, rmscratch),
        cmocka_unit_test_setup_teardown(test_kill9_writer, mkscratch, rmscratch),
        cmocka_unit_test_setup_teardown(test_100k_pending, mkscratch, rmscratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
