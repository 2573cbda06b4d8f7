/* Check tests for the stream store over the engine's store_io implementations: io_uring
 * (group commit as a shard drives it, the bound on operations in flight, releases, errors,
 * completion tags) and the helper thread (as an epoll shard drives it, waiting on its
 * completion eventfd under back-pressure).
 *
 * The one idea: the store behaves the same over any store_io; every message comes back
 * after a reopen. Every test runs in its own process (Check's fork mode) and its own
 * mkdtemp directory. */
#include "base/hash.h"
#include "engine/store_thread.h"
#include "engine/store_uring.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/store_io.h"
#include "store/stream_store.h"
#include "tests/store/store_fixture.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    /* Submission queue entries of the rings the io_uring tests use. */
    URING_TEST_ENTRIES = 64,
    /* Messages the io_uring store test appends, in flushes of URING_TEST_FLUSH_EVERY. */
    URING_TEST_MSGS = 20000,
    URING_TEST_FLUSH_EVERY = 100,
    /* How long the helper-thread test waits for one completion before it fails. */
    THREAD_TEST_WAIT_MS = 10000,
};

/* An operation of the io_uring tests, with what its completion said. */
struct uring_test_op {
    struct store_io_op op; /* first: uring_test_done casts back */
    int32_t result;
    bool completed;
};

/* ---- the io_uring store_io -------------------------------------------------------------- */

/* A store written through io_uring with group commit, as a shard drives it: appends with
 * flushes and non-blocking reaps in between, across several segments, then every message
 * back after a reopen. */
START_TEST(test_store_uring_always)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx.config.segment_size = CRASH_SEGMENT_SIZE * 4;
    fx.config.batch_size = 4096;
    struct io_uring ring;
    ck_assert_int_eq(io_uring_queue_init(URING_TEST_ENTRIES, &ring, 0), 0);
    struct store_uring uring;
    store_uring_init(&uring, &ring, 7, URING_TEST_ENTRIES);
    ck_assert_int_eq(stream_store_open(fx.path, &fx.config, &uring.io, &fx.hooks, &fx.store), 0);
    for (uint64_t seq = 1; seq <= URING_TEST_MSGS; seq++) {
        fx_append_gen(&fx, seq);
        if (seq % URING_TEST_FLUSH_EVERY == 0) {
            ck_assert_int_eq(stream_store_flush(fx.store), 0);
            ck_assert_int_ge(store_uring_reap(&uring, false), 0);
        }
    }
    ck_assert_int_eq(stream_store_flush(fx.store), 0);
    while (stream_store_busy(fx.store)) {
        ck_assert_int_ge(store_uring_reap(&uring, true), 0);
        ck_assert_int_eq(stream_store_flush(fx.store), 0);
    }
    ck_assert_int_eq(fx.failed_error, 0);
    ck_assert_uint_eq(fx.committed_seq, URING_TEST_MSGS);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_gt(info.segment_count, 1);
    ck_assert_uint_eq(info.durable_lsn, info.lsn);
    ck_assert_uint_eq(uring.in_flight, 0);
    /* Group commit: never more datasyncs than writes, and at least one per segment. */
    ck_assert_uint_le(uring.datasync_count, uring.write_count);
    ck_assert_uint_ge(uring.datasync_count, info.segment_count);
    stream_store_close(fx.store);
    fx.store = NULL;
    ck_assert_int_eq(store_uring_drain(&uring), 0);
    /* Closing the store closed every segment file through the ring. */
    ck_assert_uint_eq(uring.release_count, info.segment_count);
    io_uring_queue_exit(&ring);
    fx_open_ok(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, URING_TEST_MSGS);
    for (uint64_t seq = 1; seq <= URING_TEST_MSGS; seq++) {
        expect_gen(fx.store, seq);
    }
    fx_fini(&fx);
}
END_TEST

static void uring_test_done(struct store_io_op *op, int32_t result)
{
    struct uring_test_op *test_op = (struct uring_test_op *)op;
    test_op->result = result;
    test_op->completed = true;
}

/* The bound on operations in flight refuses with -EBUSY and frees up on completion; a
 * release closes the descriptor; a failed write completes with its -errno; completions
 * carry their tag. */
START_TEST(test_store_uring_bounds_and_errors)
{
    struct io_uring ring;
    ck_assert_int_eq(io_uring_queue_init(URING_TEST_ENTRIES, &ring, 0), 0);
    struct store_uring uring;
    store_uring_init(&uring, &ring, 0xab, 1);
    char path[] = "/tmp/ionats-uring-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(uring.io.ops->allocate(&uring.io, fd, 0, 4096), 0);
    static const char bytes[] = "0123456789";
    struct uring_test_op first = {.op = {.done = uring_test_done}};
    struct uring_test_op second = {.op = {.done = uring_test_done}};
    ck_assert_int_eq(uring.io.ops->write(&uring.io, fd, bytes, 10, 100, &first.op), 0);
    ck_assert_int_eq(uring.io.ops->datasync(&uring.io, fd, &second.op), -EBUSY);
    ck_assert_int_eq(io_uring_submit(&ring), 1);
    struct io_uring_cqe *cqe;
    ck_assert_int_eq(io_uring_wait_cqe(&ring, &cqe), 0);
    ck_assert(store_uring_owns(&uring, cqe));
    ck_assert_uint_eq(io_uring_cqe_get_data64(cqe) >> STORE_URING_TAG_SHIFT, 0xab);
    store_uring_complete(&uring, cqe);
    io_uring_cqe_seen(&ring, cqe);
    ck_assert(first.completed);
    ck_assert_int_eq(first.result, 10);
    char back[10];
    ck_assert_int_eq(pread(fd, back, sizeof back, 100), 10);
    ck_assert_int_eq(memcmp(back, bytes, 10), 0);
    ck_assert_int_eq(uring.io.ops->datasync(&uring.io, fd, &second.op), 0);
    ck_assert_int_eq(store_uring_reap(&uring, true), 1);
    ck_assert(second.completed);
    ck_assert_int_eq(second.result, 0);
    /* A release closes the descriptor in the kernel's workers. */
    uring.io.ops->release(&uring.io, fd);
    ck_assert_uint_eq(uring.in_flight, 1);
    ck_assert_int_eq(store_uring_drain(&uring), 0);
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    ck_assert_int_eq(errno, EBADF);
    /* A write to a descriptor that is not open completes with -EBADF. */
    first.completed = false;
    ck_assert_int_eq(uring.io.ops->write(&uring.io, fd, bytes, 10, 0, &first.op), 0);
    ck_assert_int_eq(store_uring_reap(&uring, true), 1);
    ck_assert(first.completed);
    ck_assert_int_eq(first.result, -EBADF);
    ck_assert_uint_eq(uring.in_flight, 0);
    io_uring_queue_exit(&ring);
}
END_TEST

/* ---- the helper-thread store_io --------------------------------------------------------- */

/* One turn of an epoll shard's loop for the store: wait for the completion eventfd when
 * the store is busy, run what completed, flush. */
static void thread_test_turn(struct fixture *fx, struct store_thread *st, bool wait)
{
    if (wait && st->in_flight > 0) {
        struct pollfd pollfd = {.fd = store_thread_event_fd(st), .events = POLLIN};
        ck_assert_int_eq(poll(&pollfd, 1, THREAD_TEST_WAIT_MS), 1);
    }
    (void)store_thread_reap(st, UINT32_MAX);
    ck_assert_int_eq(stream_store_flush(fx->store), 0);
}

/* The io_uring test's store, written through the helper thread as an epoll shard drives
 * it: flushes with reaps in between, waiting on the completion eventfd only when an append
 * meets back-pressure or at the end; every message back after a reopen. */
START_TEST(test_store_thread_always)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx.config.segment_size = (uint64_t)CRASH_SEGMENT_SIZE * 4;
    fx.config.batch_size = 4096;
    struct store_thread st;
    ck_assert_int_eq(store_thread_init(&st, URING_TEST_ENTRIES), 0);
    ck_assert_int_eq(stream_store_open(fx.path, &fx.config, &st.io, &fx.hooks, &fx.store), 0);
    for (uint64_t seq = 1; seq <= URING_TEST_MSGS; seq++) {
        struct gen_msg msg;
        gen_msg_make(seq, &msg);
        uint64_t appended = 0;
        int rc;
        while ((rc = stream_store_append(fx.store, (const uint8_t *)msg.subject,
                                         msg.subject_length, msg.header, msg.header_length,
                                         msg.payload, msg.payload_length, &appended)) ==
               -EAGAIN) {
            thread_test_turn(&fx, &st, true); /* back-pressure: wait for batches */
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_eq(appended, seq);
        if (seq % URING_TEST_FLUSH_EVERY == 0) {
            thread_test_turn(&fx, &st, false);
        }
    }
    ck_assert_int_eq(stream_store_flush(fx.store), 0);
    while (stream_store_busy(fx.store)) {
        thread_test_turn(&fx, &st, true);
    }
    ck_assert_int_eq(fx.failed_error, 0);
    ck_assert_uint_eq(fx.committed_seq, URING_TEST_MSGS);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_gt(info.segment_count, 1);
    ck_assert_uint_eq(info.durable_lsn, info.lsn);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_le(st.datasync_count, st.write_count);
    ck_assert_uint_ge(st.datasync_count, info.segment_count);
    stream_store_close(fx.store);
    fx.store = NULL;
    /* Closing the store released every segment file; destroy joins the helper after it
     * closed them. */
    ck_assert_uint_eq(st.release_count, info.segment_count);
    store_thread_destroy(&st);
    fx_open_ok(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, URING_TEST_MSGS);
    for (uint64_t seq = 1; seq <= URING_TEST_MSGS; seq++) {
        expect_gen(fx.store, seq);
    }
    fx_fini(&fx);
}
END_TEST

static Suite *store_backends_suite(void)
{
    Suite *suite = suite_create("store_backends");
    TCase *tc = tcase_create("store_backends");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_store_uring_always);
    tcase_add_test(tc, test_store_uring_bounds_and_errors);
    tcase_add_test(tc, test_store_thread_always);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(store_backends_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
