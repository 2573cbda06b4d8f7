/* Check tests for the helper-thread store_io (engine/store_thread.c): writes at offsets land
 * in the file, datasyncs complete with 0, errors come back as -errno, -EBUSY beyond
 * in_flight_max, completions never run inside a submit (also when a done() submits
 * again), the thread starts only on the first submission, releases close on the helper,
 * the completion eventfd is readable while a completion waits (and stays so when a reap's
 * budget leaves some), the helper is woken after it went to sleep, destroy completes what
 * is in flight, and a two-thread sequence-number stress test (many ops, completions in
 * submission order, every byte back) that TSan checks for races.
 *
 * Every test works on an unlinked temporary file under /tmp. */
#include "engine/store_thread.h"
#include "tests/harness/ck_quiet.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    /* How long a test waits for one completion before it fails, in milliseconds. */
    WAIT_TIMEOUT_MS = 10000,
    /* The stress test: operations, one datasync every DATASYNC_EVERY, in_flight_max. */
    STRESS_OPS = 20000,
    STRESS_DATASYNC_EVERY = 1000,
    STRESS_IN_FLIGHT = 32,
    /* The wake test: pauses (microseconds each) to let the helper fall asleep. */
    SLEEP_PAUSE_US = 10000,
    SLEEP_TRIES = 100,
};

struct test_context {
    bool submitting;         /* set around every submit: a done() must never see it */
    uint32_t completed_count;
    uint32_t *order;         /* owned: index of each completion, in completion order */
    uint32_t order_size;
};

struct test_op {
    struct store_io_op op; /* first */
    struct test_context *context;
    uint32_t index;
    bool completed;
    int32_t result;
    /* A chain: the done() submits the next write of `chain_left` more. */
    struct store_thread *chain_st;
    int chain_fd;
    uint32_t chain_left;
    struct test_op *chain_next;
    uint64_t value; /* a stress write's bytes */
};

/* Quiet assertions (ck_quiet.h) here and in the stress test's loops: they run for each of
 * tens of thousands of ops. */
static void test_op_done(struct store_io_op *op, int32_t result)
{
    struct test_op *test_op = (struct test_op *)op;
    struct test_context *context = test_op->context;
    quiet_assert_msg(!context->submitting, "a completion ran inside a submit");
    quiet_assert(!test_op->completed);
    test_op->completed = true;
    test_op->result = result;
    if (context->order != NULL) {
        quiet_assert_uint_lt(context->completed_count, context->order_size);
        context->order[context->completed_count] = test_op->index;
    }
    context->completed_count++;
}

static void test_op_init(struct test_op *op, struct test_context *context, uint32_t index)
{
    *op = (struct test_op){.op = {.done = test_op_done}, .context = context, .index = index};
}

static int submit_write(struct store_thread *st, struct test_context *context, int fd,
                        const void *data, uint32_t size, uint64_t offset, struct test_op *op)
{
    context->submitting = true;
    int rc = st->io.ops->write(&st->io, fd, data, size, offset, &op->op);
    context->submitting = false;
    return rc;
}

static int submit_datasync(struct store_thread *st, struct test_context *context, int fd,
                           struct test_op *op)
{
    context->submitting = true;
    int rc = st->io.ops->datasync(&st->io, fd, &op->op);
    context->submitting = false;
    return rc;
}

/* Waits until the event fd is readable; fails the test after WAIT_TIMEOUT_MS. */
static void wait_readable(const struct store_thread *st)
{
    struct pollfd pollfd = {.fd = store_thread_event_fd(st), .events = POLLIN};
    int rc;
    do {
        rc = poll(&pollfd, 1, WAIT_TIMEOUT_MS);
    } while (rc < 0 && errno == EINTR);
    ck_assert_msg(rc == 1, "no completion within %d ms", WAIT_TIMEOUT_MS);
    ck_assert(pollfd.revents & POLLIN);
}

static bool readable_now(const struct store_thread *st)
{
    struct pollfd pollfd = {.fd = store_thread_event_fd(st), .events = POLLIN};
    return poll(&pollfd, 1, 0) == 1;
}

/* Reaps until nothing is in flight, waiting on the event fd as a loop would. */
static void drain(struct store_thread *st)
{
    while (st->in_flight > 0) {
        wait_readable(st);
        (void)store_thread_reap(st, UINT32_MAX);
    }
}

static int temp_file(void)
{
    char path[] = "/tmp/ionats-store-thread-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(unlink(path), 0);
    return fd;
}

static int thread_count(void)
{
    DIR *dir = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(dir);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        count += entry->d_name[0] != '.';
    }
    closedir(dir);
    return count;
}

static void expect_bytes(int fd, uint64_t offset, const char *bytes)
{
    size_t size = strlen(bytes);
    char back[64];
    ck_assert_uint_le(size, sizeof back);
    ck_assert_int_eq(pread(fd, back, size, (off_t)offset), (ssize_t)size);
    ck_assert_int_eq(memcmp(back, bytes, size), 0);
}

START_TEST(test_writes_land)
{
    struct test_context context = {0};
    struct store_thread st;
    ck_assert_int_eq(store_thread_init(&st, 8), 0);
    int fd = temp_file();
    static const char *const words[] = {"alpha", "bravo", "charlie"};
    static const uint64_t offsets[] = {0, 4096, 100000};
    struct test_op ops[3];
    for (uint32_t i = 0; i < 3; i++) {
        test_op_init(&ops[i], &context, i);
        ck_assert_int_eq(submit_write(&st, &context, fd, words[i], (uint32_t)strlen(words[i]),
                                      offsets[i], &ops[i]),
                         0);
    }
    ck_assert_uint_eq(st.in_flight, 3);
    ck_assert_uint_eq(st.write_count, 3);
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert(!ops[i].completed); /* only a reap runs completions */
    }
    drain(&st);
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert(ops[i].completed);
        ck_assert_int_eq(ops[i].result, (int32_t)strlen(words[i]));
        expect_bytes(fd, offsets[i], words[i]);
    }
    store_thread_destroy(&st);
    close(fd);
}
END_TEST

START_TEST(test_datasync)
{
    struct test_context context = {0};
    struct store_thread st;
    ck_assert_int_eq(store_thread_init(&st, 8), 0);
    int fd = temp_file();
    struct test_op write_op;
    struct test_op sync_op;
    test_op_init(&write_op, &context, 0);
    test_op_init(&sync_op, &context, 1);
    ck_assert_int_eq(submit_write(&st, &context, fd, "durable", 7, 0, &write_op), 0);
    ck_assert_int_eq(submit_datasync(&st, &context, fd, &sync_op), 0);
    drain(&st);
    ck_assert_int_eq(write_op.result, 7);
    ck_assert_int_eq(sync_op.result, 0);
    ck_assert_uint_eq(st.datasync_count, 1);
    expect_bytes(fd, 0, "durable");
    /* A pipe cannot be synchronised. */
    int pipe_fds[2];
    ck_assert_int_eq(pipe(pipe_fds), 0);
    test_op_init(&sync_op, &context, 2);
    ck_assert_int_eq(submit_datasync(&st, &context, pipe_fds[1], &sync_op), 0);
    drain(&st);
    ck_assert_int_eq(sync_op.result, -EINVAL);
    store_thread_destroy(&st);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    close(fd);
}
END_TEST

/* Errors come back as -errno through done(); allocate answers synchronously. */
START_TEST(test_errors)
{
    struct test_context context = {0};
    struct store_thread st;
    ck_assert_int_eq(store_thread_init(&st, 8), 0);
    char path[] = "/tmp/ionats-store-thread-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    int read_only = open(path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(read_only, 0);
    ck_assert_int_eq(unlink(path), 0);
    int closed = dup(fd);
    ck_assert_int_ge(closed, 0);
    ck_assert_int_eq(close(closed), 0);

    ck_assert_int_eq(st.io.ops->allocate(&st.io, fd, 0, 8192), 0);
    struct stat status;
    ck_assert_int_eq(fstat(fd, &status), 0);
    ck_assert_int_eq(status.st_size, 8192);
    ck_assert_int_eq(st.io.ops->allocate(&st.io, read_only, 0, 16384), -EBADF);
    ck_assert(!st.started); /* allocate is synchronous: no thread for it */

    struct test_op ops[3];
    test_op_init(&ops[0], &context, 0);
    test_op_init(&ops[1], &context, 1);
    test_op_init(&ops[2], &context, 2);
    ck_assert_int_eq(submit_write(&st, &context, read_only, "x", 1, 0, &ops[0]), 0);
    ck_assert_int_eq(submit_write(&st, &context, closed, "x", 1, 0, &ops[1]), 0);
    ck_assert_int_eq(submit_datasync(&st, &context, closed, &ops[2]), 0);
    drain(&st);
    ck_assert_int_eq(ops[0].result, -EBADF);
    ck_assert_int_eq(ops[1].result, -EBADF);
    ck_assert_int_eq(ops[2].result, -EBADF);
    store_thread_destroy(&st);
    close(read_only);
    close(fd);
}
END_TEST

/* Beyond in_flight_max, write and datasync refuse with -EBUSY and nothing follows; a
 * completion makes room. */
START_TEST(test_busy)
{
    struct test_context context = {0};
    struct store_thread st;
    ck_assert_int_eq(store_thread_init(&st, 2), 0);
    int fd = temp_file();
    struct test_op ops[4];
    for (uint32_t i = 0; i < 4; i++) {
        test_op_init(&ops[i], &context, i);
    }
    ck_assert_int_eq(submit_write(&st, &context, fd, "ab", 2, 0, &ops[0]), 0);
    ck_assert_int_eq(submit_write(&st, &context, fd, "cd", 2, 2, &ops[1]), 0);
    ck_assert_int_eq(submit_write(&st, &context, fd, "ef", 2, 4, &ops[2]), -EBUSY);
    ck_assert_int_eq(submit_datasync(&st, &context, fd, &ops[3]), -EBUSY);
    ck_assert_uint_eq(st.in_flight, 2);
    ck_assert_uint_eq(st.write_count, 2);
    ck_assert_uint_eq(st.datasync_count, 0);
    wait_readable(&st);
    ck_assert_uint_eq(store_thread_reap(&st, 1), 1);
    ck_assert(ops[0].completed);
    ck_assert_int_eq(submit_datasync(&st, &context, fd, &ops[3]), 0);
    ck_assert_int_eq(submit_write(&st, &context, fd, "ef", 2, 4, &ops[2]), -EBUSY);
    drain(&st);
    ck_assert(ops[1].completed);
    ck_assert(!ops[2].completed);
    ck_assert(ops[3].completed);
    ck_assert_int_eq(ops[3].result, 0);
    expect_bytes(fd, 0, "abcd");
    store_thread_destroy(&st);
    close(fd);
}
END_TEST

/* A done() that submits the next write of a chain: every completion runs in a reap (the
 * test_op_done check), never inside the submit made from the previous done(). */
static void chain_done(struct store_io_op *op, int32_t result)
{
    struct test_op *test_op = (struct test_op *)op;
    test_op_done(op, result);
    ck_assert_int_eq(result, 1);
    if (test_op->chain_left == 0) {
        return;
    }
    struct test_op *next = test_op->chain_next;
    *next = *test_op;
    next->op.done = chain_done;
    next->completed = false;
    next->index = test_op->index + 1;
    next->chain_left = test_op->chain_left - 1;
    next->chain_next = next + 1;
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz";
    ck_assert_int_eq(submit_write(next->chain_st, next->context, next->chain_fd,
                                  &letters[next->index % 26], 1, next->index, next),
                     0);
}

static void chain_start(struct store_thread *st, struct test_context *context, int fd,
                        struct test_op *ops, uint32_t length)
{
    test_op_init(&ops[0], context, 0);
    ops[0].op.done = chain_done;
    ops[0].chain_st = st;
    ops[0].chain_fd = fd;
    ops[0].chain_left = length - 1;
    ops[0].chain_next = &ops[1];
    ck_assert_int_eq(submit_write(st, context, fd, "a", 1, 0, &ops[0]), 0);
}

static void chain_check(int fd, const struct test_op *ops, uint32_t length)
{
    for (uint32_t i = 0; i < length; i++) {
        ck_assert(ops[i].completed);
        char c;
        ck_assert_int_eq(pread(fd, &c, 1, i), 1);
        ck_assert_int_eq(c, 'a' + (int)(i % 26));
    }
}

START_TEST(test_never_inside_submit)
{
    enum { CHAIN_LENGTH = 100 };
    struct test_context context = {0};
    struct store_thread st;
    ck_assert_int_eq(store_thread_init(&st, 1), 0);
    int fd = temp_file();
    struct test_op ops[CHAIN_LENGTH + 1];
    chain_start(&st, &context, fd, ops, CHAIN_LENGTH);
    drain(&st);
    ck_assert_uint_eq(context.completed_count, CHAIN_LENGTH);
    chain_check(fd, ops, CHAIN_LENGTH);
    ck_assert_uint_eq(st.write_count, CHAIN_LENGTH);
    store_thread_destroy(&st);
    close(fd);
}
END_TEST

/* Two threads, sequence numbers: the owner submits whenever the bound allows and reaps
 * with varying budgets; completions come back in submission order with their results,
 * and every written word is in the file. */
START_TEST(test_many_in_order)
{
    struct test_op *ops = calloc(STRESS_OPS, sizeof *ops);
    uint32_t *order = calloc(STRESS_OPS, sizeof *order);
    ck_assert_ptr_nonnull(ops);
    ck_assert_ptr_nonnull(order);
    struct test_context context = {.order = order, .order_size = STRESS_OPS};
    struct store_thread st;
    ck_assert_int_eq(store_thread_init(&st, STRESS_IN_FLIGHT), 0);
    int fd = temp_file();
    uint32_t next = 0;
    uint32_t budget = 1;
    while (context.completed_count < STRESS_OPS) {
        while (next < STRESS_OPS) {
            struct test_op *op = &ops[next];
            test_op_init(op, &context, next);
            int rc;
            if (next % STRESS_DATASYNC_EVERY == STRESS_DATASYNC_EVERY - 1) {
                rc = submit_datasync(&st, &context, fd, op);
            } else {
                op->value = UINT64_C(0x5eed000000000000) | next;
                rc = submit_write(&st, &context, fd, &op->value, sizeof op->value,
                                  (uint64_t)next * sizeof op->value, op);
            }
            if (rc == -EBUSY) {
                quiet_assert_uint_eq(st.in_flight, STRESS_IN_FLIGHT);
                break;
            }
            quiet_assert_int_eq(rc, 0);
            next++;
        }
        wait_readable(&st);
        (void)store_thread_reap(&st, budget);
        budget = budget % 7 + 1;
    }
    for (uint32_t i = 0; i < STRESS_OPS; i++) {
        quiet_assert_uint_eq(order[i], i);
        bool is_sync = i % STRESS_DATASYNC_EVERY == STRESS_DATASYNC_EVERY - 1;
        quiet_assert_int_eq(ops[i].result, is_sync ? 0 : (int32_t)sizeof(uint64_t));
        if (!is_sync) {
            uint64_t value;
            quiet_assert_int_eq(pread(fd, &value, sizeof value, (off_t)i * (off_t)sizeof value),
                                (ssize_t)sizeof value);
            quiet_assert_uint_eq(value, ops[i].value);
        }
    }
    ck_assert_uint_eq(st.write_count + st.datasync_count, STRESS_OPS);
    ck_assert_uint_eq(st.datasync_count, STRESS_OPS / STRESS_DATASYNC_EVERY);
    ck_assert_uint_le(st.wake_count, STRESS_OPS); /* at most one per submission */
    store_thread_destroy(&st);
    close(fd);
    free(order);
    free(ops);
}
END_TEST

/* destroy runs the completions of what is in flight (and of what their done() submits),
 * and returns after the helper performed the queued releases. */
START_TEST(test_destroy_in_flight)
{
    enum { WRITES = 10, CHAIN_LENGTH = 5 };
    struct test_context context = {0};
    struct store_thread st;
    ck_assert_int_eq(store_thread_init(&st, 16), 0);
    int fd = temp_file();
    int chain_fd = temp_file();
    int released = dup(fd);
    ck_assert_int_ge(released, 0);
    struct test_op ops[WRITES + 1];
    uint64_t values[WRITES];
    for (uint32_t i = 0; i < WRITES; i++) {
        test_op_init(&ops[i], &context, i);
        values[i] = i;
        ck_assert_int_eq(submit_write(&st, &context, fd, &values[i], sizeof values[i],
                                      i * sizeof values[i], &ops[i]),
                         0);
    }
    test_op_init(&ops[WRITES], &context, WRITES);
    ck_assert_int_eq(submit_datasync(&st, &context, fd, &ops[WRITES]), 0);
    struct test_op chain[CHAIN_LENGTH + 1];
    chain_start(&st, &context, chain_fd, chain, CHAIN_LENGTH);
    st.io.ops->release(&st.io, released);
    store_thread_destroy(&st);
    for (uint32_t i = 0; i <= WRITES; i++) {
        ck_assert(ops[i].completed);
        ck_assert_int_eq(ops[i].result, i < WRITES ? (int32_t)sizeof values[i] : 0);
    }
    chain_check(chain_fd, chain, CHAIN_LENGTH);
    ck_assert_uint_eq(context.completed_count, WRITES + 1 + CHAIN_LENGTH);
    ck_assert_int_eq(fcntl(released, F_GETFD), -1); /* the helper closed it */
    ck_assert_int_eq(errno, EBADF);
    close(chain_fd);
    close(fd);
}
END_TEST

/* The thread starts on the first submission only; a release closes on it. */
START_TEST(test_lazy_start_and_release)
{
    int threads_before = thread_count();
    struct store_thread idle;
    ck_assert_int_eq(store_thread_init(&idle, 4), 0);
    ck_assert(!idle.started);
    ck_assert_int_eq(thread_count(), threads_before);
    store_thread_destroy(&idle); /* never started: nothing to join */

    struct store_thread st;
    ck_assert_int_eq(store_thread_init(&st, 4), 0);
    int fd = temp_file();
    st.io.ops->release(&st.io, fd);
    ck_assert(st.started);
    ck_assert_int_gt(thread_count(), threads_before); /* TSan may start one of its own */
    ck_assert_uint_eq(st.release_count, 1);
    ck_assert_uint_eq(st.release_inline_count, 0);
    ck_assert_uint_eq(st.in_flight, 0); /* nothing follows a release */
    store_thread_destroy(&st);
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    ck_assert_int_eq(errno, EBADF);
}
END_TEST

/* The event fd is readable while a completion waits, and stays readable when a reap's
 * budget leaves completions behind. */
START_TEST(test_event_fd_readable)
{
    struct test_context context = {0};
    struct store_thread st;
    ck_assert_int_eq(store_thread_init(&st, 4), 0);
    ck_assert(!readable_now(&st));
    int fd = temp_file();
    struct test_op ops[4];
    test_op_init(&ops[0], &context, 0);
    ck_assert_int_eq(submit_write(&st, &context, fd, "e", 1, 0, &ops[0]), 0);
    wait_readable(&st);
    ck_assert_uint_eq(store_thread_reap(&st, 0), 0); /* no budget: it stays readable */
    ck_assert(readable_now(&st));
    ck_assert(!ops[0].completed);
    ck_assert_uint_eq(store_thread_reap(&st, 1), 1);
    ck_assert(ops[0].completed);
    for (uint32_t i = 1; i < 4; i++) {
        test_op_init(&ops[i], &context, i);
        ck_assert_int_eq(submit_write(&st, &context, fd, "e", 1, i, &ops[i]), 0);
    }
    for (uint32_t i = 1; i < 4; i++) {
        wait_readable(&st);
        ck_assert_uint_eq(store_thread_reap(&st, 1), 1);
        ck_assert(ops[i].completed);
    }
    ck_assert_uint_eq(st.in_flight, 0);
    store_thread_destroy(&st);
    close(fd);
}
END_TEST

/* After the helper has gone idle, a submission wakes it through its eventfd. */
START_TEST(test_wake_after_sleep)
{
    struct test_context context = {0};
    struct store_thread st;
    ck_assert_int_eq(store_thread_init(&st, 4), 0);
    int fd = temp_file();
    struct test_op op;
    for (int i = 0; i < SLEEP_TRIES && st.wake_count == 0; i++) {
        test_op_init(&op, &context, (uint32_t)i);
        ck_assert_int_eq(submit_write(&st, &context, fd, "w", 1, (uint64_t)i, &op), 0);
        drain(&st);
        ck_assert_int_eq(op.result, 1);
        usleep(SLEEP_PAUSE_US);
    }
    ck_assert_uint_gt(st.wake_count, 0);
    store_thread_destroy(&st);
    close(fd);
}
END_TEST

static Suite *store_thread_suite(void)
{
    Suite *suite = suite_create("store_thread");
    TCase *tc = tcase_create("store_thread");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_writes_land);
    tcase_add_test(tc, test_datasync);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_busy);
    tcase_add_test(tc, test_never_inside_submit);
    tcase_add_test(tc, test_many_in_order);
    tcase_add_test(tc, test_destroy_in_flight);
    tcase_add_test(tc, test_lazy_start_and_release);
    tcase_add_test(tc, test_event_fd_readable);
    tcase_add_test(tc, test_wake_after_sleep);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(store_thread_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
