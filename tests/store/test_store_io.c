/* Check tests for the stream store's write path: group commit under `always` (one
 * datasync for all the batches written while the last one ran), the `none` and `interval`
 * policies, failed writes and datasyncs that stop the store, short writes and refusals,
 * back-pressure, ENOSPC (injected, and on a real 1 MiB tmpfs where a mount namespace can be
 * had), the memory-backed variant, and segments created on the message path without
 * waiting for the disk (their header goes out with their first batch).
 *
 * The one idea: the injecting store_io (store_fixture.h) makes a slow or failing disk
 * deterministic. Every test runs in its own process (Check's fork mode) and its own mkdtemp
 * directory. */
#include "base/hash.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/store_io.h"
#include "store/stream_store.h"
#include "tests/store/store_fixture.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- sync policies and I/O behaviour -------------------------------------------------- */

START_TEST(test_store_sync_always_group_commit)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx.io.datasync_hold = true;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 100);
    ck_assert_uint_eq(fx.committed_calls, 0);
    stream_store_flush(fx.store);
    /* The write is issued; nothing is committed until its datasync completes. */
    ck_assert_uint_eq(fx.io.sync.write_count, 1);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 0);
    store_io_sync_reap(&fx.io.sync, 1); /* write done -> datasync issued */
    ck_assert_uint_eq(fx.io.sync.datasync_count, 1);
    ck_assert_uint_eq(fx.committed_calls, 0);
    /* While the datasync runs, two more batches collect and are written. */
    fx_append_gen_range(&fx, 101, 150);
    stream_store_flush(fx.store);
    ck_assert_uint_eq(fx.io.sync.write_count, 2);
    fx_append_gen_range(&fx, 151, 200);
    stream_store_flush(fx.store); /* the second write is still in flight */
    ck_assert_uint_eq(fx.io.sync.write_count, 2);
    store_io_sync_reap(&fx.io.sync, 1); /* second write done -> third written */
    ck_assert_uint_eq(fx.io.sync.write_count, 3);
    store_io_sync_reap(&fx.io.sync, 1);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 1);
    ck_assert_uint_eq(fx.committed_calls, 0);
    /* The first datasync completes: the first batch is committed, and one datasync covers
     * both batches written meanwhile. */
    ck_assert(inject_release_datasync(&fx.io));
    ck_assert_uint_eq(fx.committed_calls, 1);
    ck_assert_uint_eq(fx.committed_seq, 100);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 2);
    ck_assert(inject_release_datasync(&fx.io));
    ck_assert_uint_eq(fx.committed_calls, 2);
    ck_assert_uint_eq(fx.committed_seq, 200);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 2); /* three batches, two datasyncs */
    ck_assert(!stream_store_busy(fx.store));
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.durable_seq, 200);
    ck_assert_uint_eq(info.durable_lsn, info.lsn);
    /* A tombstone is committed like any record: by lsn. */
    ck_assert_int_eq(stream_store_delete(fx.store, 3), 0);
    uint64_t lsn = info_of(fx.store).lsn;
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_lsn, lsn);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 199);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_sync_none_and_interval)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 10);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_seq, 10);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 0);
    fx_close(&fx);
    fx.config.sync = STREAM_STORE_SYNC_INTERVAL;
    fx.config.sync_interval_ns = 1000;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 11, 20);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_seq, 20); /* committed at the write */
    ck_assert_uint_eq(fx.io.sync.datasync_count, 0);
    ck_assert_int_eq(stream_store_tick(fx.store, 5000), 0);
    store_io_sync_reap(&fx.io.sync, UINT32_MAX);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 1);
    ck_assert_int_eq(stream_store_tick(fx.store, 5500), 0); /* nothing new, not due */
    fx_append_gen(&fx, 21);
    fx_drain(&fx);
    ck_assert_int_eq(stream_store_tick(fx.store, 5600), 0); /* not due yet */
    store_io_sync_reap(&fx.io.sync, UINT32_MAX);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 1);
    ck_assert_int_eq(stream_store_tick(fx.store, 6000), 0);
    store_io_sync_reap(&fx.io.sync, UINT32_MAX);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 2);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_write_failure_stops)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 5);
    fx_drain(&fx);
    fx.io.write_fail = true;
    fx_append_gen(&fx, 6);
    fx_drain(&fx);
    ck_assert_int_eq(fx.failed_error, -EBADF);
    uint64_t seq;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, NULL, 0, &seq),
                     -EBADF);
    ck_assert_int_eq(stream_store_delete(fx.store, 1), -EBADF);
    ck_assert_int_eq(info_of(fx.store).failure, -EBADF);
    expect_gen(fx.store, 6); /* reads go on, from the batch */
    ck_assert_uint_eq(fx.committed_seq, 5);
    fx_close(&fx);
    /* Reopened, the store has what reached the file. */
    fx.io.write_fail = false;
    fx.failed_error = 0;
    fx_open_ok(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, 5);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_datasync_failure_stops)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx_open_ok(&fx);
    fx.io.datasync_fail = true;
    fx_append_gen_range(&fx, 1, 5);
    fx_drain(&fx);
    ck_assert_int_eq(fx.failed_error, -EBADF);
    ck_assert_uint_eq(fx.committed_calls, 0); /* never acked */
    ck_assert_int_eq(stream_store_flush(fx.store), -EBADF);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_short_writes_and_refusals)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.batch_size = 1024;
    fx.config.pending_bytes_max = 4096;
    fx_open_ok(&fx);
    fx.io.write_size_max = 7;
    fx.io.write_refuse_count = 3;
    fx_append_gen_range(&fx, 1, 10);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.io.write_refuse_count, 0);
    ck_assert_uint_eq(fx.committed_seq, 10);
    ck_assert_uint_gt(fx.io.sync.write_count, 100);
    fx.io.write_size_max = 0;
    /* Back-pressure: with nothing completing, appends stop at pending_bytes_max. */
    fx.io.write_refuse_count = UINT32_MAX;
    uint64_t seq = 11;
    int rc = 0;
    for (; seq < 1000; seq++) {
        struct gen_msg msg;
        gen_msg_make(seq, &msg);
        uint64_t got;
        rc = stream_store_append(fx.store, (const uint8_t *)msg.subject, msg.subject_length,
                                 msg.header, msg.header_length, msg.payload,
                                 msg.payload_length, &got);
        if (rc != 0) {
            break;
        }
    }
    ck_assert_int_eq(rc, -EAGAIN);
    ck_assert_uint_le(info_of(fx.store).pending_bytes, 4096);
    fx.io.write_refuse_count = 0;
    fx_drain(&fx);
    fx_append_gen(&fx, seq);
    fx_reopen(&fx);
    for (uint64_t s = 1; s <= seq; s++) {
        expect_gen(fx.store, s);
    }
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_enospc_injected)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx_open_ok(&fx);
    fx.io.allocate_error = -ENOSPC;
    uint64_t seq = 1;
    int rc = 0;
    for (; seq < 1000; seq++) {
        struct gen_msg msg;
        gen_msg_make(seq, &msg);
        uint64_t got;
        rc = stream_store_append(fx.store, (const uint8_t *)msg.subject, msg.subject_length,
                                 msg.header, msg.header_length, msg.payload,
                                 msg.payload_length, &got);
        if (rc != 0) {
            break;
        }
    }
    ck_assert_int_eq(rc, -ENOSPC);
    ck_assert_uint_eq(info_of(fx.store).last_seq, seq - 1);
    ck_assert_int_eq(info_of(fx.store).failure, 0); /* not fatal: space may come back */
    rc = stream_store_delete(fx.store, 1);
    ck_assert(rc == 0 || rc == -ENOSPC);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_seq, seq - 1);
    fx.io.allocate_error = 0;
    fx_append_gen(&fx, seq);
    fx_reopen(&fx);
    for (uint64_t s = rc == 0 ? 2 : 1; s <= seq; s++) {
        expect_gen(fx.store, s);
    }
    fx_fini(&fx);
}
END_TEST

/* In a child with its own mount namespace: a 1 MiB tmpfs, filled through the store. Exits
 * 0 when the disk filled up as -ENOSPC from append, CHILD_EXIT_SKIP when no namespace or
 * mount can be had here, 1 otherwise. */
static int enospc_child(const char *mount_point)
{
    if (unshare(CLONE_NEWNS) != 0) {
        uid_t uid = getuid();
        gid_t gid = getgid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
            return CHILD_EXIT_SKIP;
        }
        char map[64];
        int fd = open("/proc/self/setgroups", O_WRONLY);
        if (fd >= 0) {
            (void)!write(fd, "deny", 4);
            close(fd);
        }
        snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
        fd = open("/proc/self/uid_map", O_WRONLY);
        if (fd < 0 || write(fd, map, strlen(map)) < 0) {
            return CHILD_EXIT_SKIP;
        }
        close(fd);
        snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
        fd = open("/proc/self/gid_map", O_WRONLY);
        if (fd < 0 || write(fd, map, strlen(map)) < 0) {
            return CHILD_EXIT_SKIP;
        }
        close(fd);
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mount_point, "tmpfs", 0, "size=1m") != 0) {
        return CHILD_EXIT_SKIP;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/stream", mount_point);
    struct store_io_sync io;
    store_io_sync_init(&io);
    struct stream_store_config config;
    stream_store_config_default(&config);
    config.segment_size = 256 * 1024;
    config.sync = STREAM_STORE_SYNC_ALWAYS;
    struct stream_store *store = NULL;
    if (stream_store_open(path, &config, &io.io, NULL, &store) != 0) {
        return 1;
    }
    static uint8_t payload[1000];
    int rc = 0;
    uint64_t seq = 0;
    for (int i = 0; i < 10000 && rc == 0; i++) {
        rc = stream_store_append(store, (const uint8_t *)"fill", 4, NULL, 0, payload,
                                 sizeof payload, &seq);
        stream_store_flush(store);
        store_io_sync_reap(&io, UINT32_MAX);
    }
    struct stream_store_info info;
    stream_store_info_get(store, &info);
    bool ok = rc == -ENOSPC && info.failure == 0 && info.last_seq > 100 &&
              info.durable_seq == info.last_seq;
    struct stream_store_msg msg;
    ok = ok && stream_store_get(store, info.last_seq, &msg) == 0;
    stream_store_close(store);
    /* Everything acked is there after a reopen on the full disk. */
    struct stream_store *reopened = NULL;
    ok = ok && stream_store_open(path, &config, &io.io, NULL, &reopened) == 0;
    if (reopened != NULL) {
        struct stream_store_info again;
        stream_store_info_get(reopened, &again);
        ok = ok && again.last_seq == info.last_seq && again.msg_count == info.msg_count;
        stream_store_close(reopened);
    }
    umount(mount_point);
    return ok ? 0 : 1;
}

START_TEST(test_store_enospc_tmpfs)
{
    struct fixture fx;
    fx_init(&fx);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(enospc_child(fx.root));
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    if (WEXITSTATUS(status) == CHILD_EXIT_SKIP) {
        fprintf(stderr, "test_store_enospc_tmpfs: no mount namespace here, skipped "
                        "(the injected ENOSPC test still ran)\n");
    } else {
        ck_assert_int_eq(WEXITSTATUS(status), 0);
    }
    fx_fini(&fx);
}
END_TEST

/* ---- the memory-backed variant ------------------------------------------------------ */

START_TEST(test_store_memory)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx.config.max_msgs = 100;
    ck_assert_int_eq(stream_store_open(NULL, &fx.config, &fx.io.sync.io, &fx.hooks, &fx.store),
                     0);
    for (uint64_t seq = 1; seq <= 300; seq++) {
        fx_append_gen(&fx, seq);
        if (seq % 40 == 0) {
            fx_drain(&fx);
        }
    }
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_seq, 300);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 100);
    ck_assert_uint_eq(info.first_seq, 201);
    ck_assert_uint_le(info.segment_count, 9);
    for (uint64_t seq = 201; seq <= 300; seq++) {
        expect_gen(fx.store, seq);
    }
    expect_gone(fx.store, 200);
    uint64_t seq;
    ck_assert_int_eq(stream_store_delete(fx.store, 250), 0);
    expect_gone(fx.store, 250);
    ck_assert_int_eq(stream_store_subject_last(fx.store, (const uint8_t *)"gen.0", 5, &seq), 0);
    ck_assert_uint_eq(seq, 300);
    ck_assert_int_eq(stream_store_subject_first(fx.store, (const uint8_t *)"gen.0", 5, &seq), 0);
    ck_assert_uint_eq(seq, 205);
    ck_assert_int_eq(stream_store_purge(fx.store, NULL, NULL), 0);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 0);
    fx_append_gen(&fx, 301);
    expect_gen(fx.store, 301);
    fx_close(&fx);
    /* Nothing reached the file system. */
    char command[256];
    snprintf(command, sizeof command, "test $(ls -A %s | wc -l) -eq 0", fx.root);
    ck_assert_int_eq(system(command), 0);
    fx_fini(&fx);
}
END_TEST

/* A segment created on the message path waits for no disk: its header goes out with its
 * first batch. Cut before that batch is written, the file reads as never written and
 * recovery removes it (ids are not reused); in the middle of the log it is damage. */
START_TEST(test_store_deferred_segment_header)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = CRASH_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_until_segments(&fx, 2);
    fx_drain(&fx);
    uint64_t written_last = info_of(fx.store).last_seq;
    uint64_t unwritten_last = fx_append_until_segments(&fx, 3);
    ck_assert_uint_gt(unwritten_last, written_last);
    ck_assert_uint_eq(count_segment_files(fx.path), 3);
    fx_close_discarding(&fx);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.last_seq, written_last);
    ck_assert_uint_eq(info.msg_count, written_last);
    ck_assert_uint_eq(info.lost_count, 0);
    for (uint64_t seq = 1; seq <= written_last; seq++) {
        expect_gen(fx.store, seq);
    }
    /* Appends go on, into a segment with a new id, and survive. */
    uint64_t last = fx_append_until_segments(&fx, info_of(fx.store).segment_count + 1);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, last);
    expect_gen(fx.store, last);
    fx_close(&fx);
    ck_assert_uint_eq(count_segment_files(fx.path), 3);
    char name[SEGMENT_NAME_SIZE];
    segment_name_format(3, name);
    char file[256];
    snprintf(file, sizeof file, "%s/%s", fx.path, name);
    ck_assert_int_ne(access(file, F_OK), 0); /* removed, and not reused */
    /* A never-written header with valid segments behind it is damage, not a crash. */
    int fd = open(file, O_RDWR | O_CREAT | O_EXCL, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, CRASH_SEGMENT_SIZE), 0);
    close(fd);
    ck_assert_int_eq(fx_open(&fx), -EBADMSG);
    ck_assert_int_eq(unlink(file), 0);
    fx_open_ok(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, last);
    fx_fini(&fx);
}
END_TEST

/* While the newest segment's header is not yet in the file, the segment before it stays
 * even when retention has emptied it: its header is the floor a recovery starts from, so
 * sequences never go back after a crash. */
START_TEST(test_store_deferred_segment_keeps_floor)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = CRASH_SEGMENT_SIZE;
    fx.config.max_msgs = 5;
    fx_open_ok(&fx);
    /* Normally an emptied segment goes as soon as the next one's header is written. */
    uint64_t seq = fx_append_until_segments(&fx, 2);
    fx_append_gen_range(&fx, seq + 1, seq + 10);
    fx_drain(&fx);
    ck_assert_uint_eq(info_of(fx.store).segment_count, 1);
    uint64_t written_last = info_of(fx.store).last_seq;
    /* Writes stall: the next segment's header stays in memory while retention empties the
     * segment before it, which stays. */
    fx.io.write_refuse_count = UINT32_MAX;
    seq = fx_append_until_segments(&fx, 2);
    fx_append_gen_range(&fx, seq + 1, seq + 10);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 5);
    ck_assert_uint_eq(info_of(fx.store).first_seq, seq + 6);
    ck_assert_uint_eq(info_of(fx.store).segment_count, 2);
    fx_close_discarding(&fx);
    fx.io.write_refuse_count = 0;
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.last_seq, written_last);
    ck_assert_uint_eq(info.msg_count, 5);
    ck_assert_uint_eq(info.first_seq, written_last - 4);
    fx_append_gen(&fx, written_last + 1);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, written_last + 1);
    fx_fini(&fx);
}
END_TEST

/* Under `always`, a segment created on the message path is made durable by the first
 * group commit that covers it: the file's datasync, then the directory's, before anything
 * in it is committed. */
START_TEST(test_store_deferred_segment_always)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = CRASH_SEGMENT_SIZE;
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 10);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.io.dir_datasync_count, 0);
    fx.io.datasync_hold = true;
    uint64_t last = fx_append_until_segments(&fx, 2);
    stream_store_flush(fx.store);
    store_io_sync_reap(&fx.io.sync, UINT32_MAX); /* both batches written */
    ck_assert(inject_release_datasync(&fx.io));  /* the first segment's batch */
    ck_assert_uint_eq(fx.committed_seq, last - 1);
    store_io_sync_reap(&fx.io.sync, UINT32_MAX);
    ck_assert(inject_release_datasync(&fx.io)); /* the new segment's file */
    ck_assert_uint_eq(fx.committed_seq, last - 1);
    ck_assert_uint_eq(fx.io.dir_datasync_count, 1);
    ck_assert(inject_release_datasync(&fx.io)); /* its directory entry */
    ck_assert_uint_eq(fx.committed_seq, last);
    /* Later commits of that segment sync the file only. */
    fx_append_gen(&fx, last + 1);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_seq, last + 1);
    ck_assert_uint_eq(fx.io.dir_datasync_count, 1);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, last + 1);
    fx_fini(&fx);
}
END_TEST

static Suite *store_io_suite(void)
{
    Suite *suite = suite_create("store_io");
    TCase *tc = tcase_create("store_io");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_store_sync_always_group_commit);
    tcase_add_test(tc, test_store_sync_none_and_interval);
    tcase_add_test(tc, test_store_write_failure_stops);
    tcase_add_test(tc, test_store_datasync_failure_stops);
    tcase_add_test(tc, test_store_short_writes_and_refusals);
    tcase_add_test(tc, test_store_enospc_injected);
    tcase_add_test(tc, test_store_enospc_tmpfs);
    tcase_add_test(tc, test_store_memory);
    tcase_add_test(tc, test_store_deferred_segment_header);
    tcase_add_test(tc, test_store_deferred_segment_keeps_floor);
    tcase_add_test(tc, test_store_deferred_segment_always);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(store_io_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
