/* Check crash test of the stream store: a child appends with `always` (through the
 * synchronous store_io, io_uring and the helper thread, in turn) and reports each durable
 * sequence; the parent SIGKILLs it at random points and checks that every reported
 * sequence is back with its exact bytes, and that whatever else came back is exact too.
 *
 * The one idea: `committed` is a promise that survives kill -9. The test runs in its own
 * process (Check's fork mode) and its own mkdtemp directory. */
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
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    /* Rounds of kill and recover. */
    CRASH_ROUNDS = 20,
    /* How long the parent waits for a killed child's ring to release the store. */
    CRASH_UNLOCK_WAIT_ROUNDS = 400,
    CRASH_UNLOCK_WAIT_US = 5000,
    /* When the kill comes after the child starts. */
    CRASH_DELAY_MIN_US = 2000,
    CRASH_DELAY_SPREAD_US = 30000,
    /* Submission queue entries of the child's ring. */
    URING_TEST_ENTRIES = 64,
};

/* ---- crash test ------------------------------------------------------------------------ */

static void crash_committed(void *context, uint64_t seq, uint64_t lsn)
{
    (void)lsn;
    int fd = *(int *)context;
    if (write(fd, &seq, sizeof seq) != (ssize_t)sizeof seq) {
        _exit(3);
    }
}

static void crash_config(struct stream_store_config *config)
{
    stream_store_config_default(config);
    config->segment_size = CRASH_SEGMENT_SIZE;
    config->sync = STREAM_STORE_SYNC_ALWAYS;
}

/* The store_io a crash child writes through: the synchronous one, io_uring or the helper
 * thread (the last two with a write and a datasync truly in flight when the kill comes). */
enum crash_io_kind {
    CRASH_IO_SYNC,
    CRASH_IO_URING,
    CRASH_IO_THREAD,
    CRASH_IO_KIND_COUNT,
};

struct crash_io {
    enum crash_io_kind kind;
    struct store_io_sync sync;
    struct io_uring ring;
    struct store_uring uring;
    struct store_thread thread;
};

static struct store_io *crash_io_open(struct crash_io *io)
{
    if (io->kind == CRASH_IO_SYNC) {
        store_io_sync_init(&io->sync);
        return &io->sync.io;
    }
    if (io->kind == CRASH_IO_URING) {
        if (io_uring_queue_init(URING_TEST_ENTRIES, &io->ring, 0) != 0) {
            _exit(5);
        }
        store_uring_init(&io->uring, &io->ring, 0, URING_TEST_ENTRIES);
        return &io->uring.io;
    }
    if (store_thread_init(&io->thread, URING_TEST_ENTRIES) != 0) {
        _exit(5);
    }
    return &io->thread.io;
}

static void crash_io_reap(struct crash_io *io)
{
    if (io->kind == CRASH_IO_SYNC) {
        store_io_sync_reap(&io->sync, UINT32_MAX);
    } else if (io->kind == CRASH_IO_URING) {
        if (store_uring_reap(&io->uring, false) < 0) {
            _exit(6);
        }
    } else {
        (void)store_thread_reap(&io->thread, UINT32_MAX);
    }
}

/* Appends generated messages in batches of random size with `always` until killed,
 * reporting each durable sequence on `report_fd`. */
static _Noreturn void crash_child(const char *path, int report_fd, uint64_t seed,
                                  enum crash_io_kind kind)
{
    struct crash_io io = {.kind = kind};
    struct store_io *store_io = crash_io_open(&io);
    struct stream_store_config config;
    crash_config(&config);
    struct stream_store_hooks hooks = {.committed = crash_committed, .context = &report_fd};
    struct stream_store *store = NULL;
    if (stream_store_open(path, &config, store_io, &hooks, &store) != 0) {
        _exit(2);
    }
    struct stream_store_info info;
    stream_store_info_get(store, &info);
    uint64_t next = info.last_seq + 1;
    for (;;) {
        uint64_t batch = 1 + hash_sequence_next(&seed) % 20;
        for (uint64_t i = 0; i < batch; i++, next++) {
            struct gen_msg msg;
            gen_msg_make(next, &msg);
            uint64_t seq = 0;
            int rc;
            while ((rc = stream_store_append(store, (const uint8_t *)msg.subject,
                                             msg.subject_length, msg.header, msg.header_length,
                                             msg.payload, msg.payload_length, &seq)) ==
                   -EAGAIN) {
                crash_io_reap(&io); /* back-pressure: wait for batches to complete */
            }
            if (rc != 0 || seq != next) {
                _exit(4);
            }
        }
        stream_store_flush(store);
        crash_io_reap(&io);
    }
}

START_TEST(test_crash_sigkill)
{
    struct fixture fx;
    fx_init(&fx);
    crash_config(&fx.config);
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    uint64_t durable_max = 0;
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(fx.path, fds[1], hash_sequence_next(&seed),
                        (enum crash_io_kind)(round % CRASH_IO_KIND_COUNT));
        }
        close(fds[1]);
        usleep(CRASH_DELAY_MIN_US +
               (useconds_t)(hash_sequence_next(&seed) % CRASH_DELAY_SPREAD_US));
        kill(pid, SIGKILL);
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status), "the child exited on its own: %d",
                      WEXITSTATUS(status));
        uint64_t seq;
        ssize_t n;
        while ((n = read(fds[0], &seq, sizeof seq)) == (ssize_t)sizeof seq) {
            ck_assert_uint_ge(seq, durable_max);
            durable_max = seq;
        }
        close(fds[0]);
        /* Every sequence reported durable is back with its exact bytes; whatever else came
         * back is exact too (a torn record and all after it are gone). A killed child's
         * ring lets go of the directory (and its lock) only once the kernel has cancelled
         * what it had in flight, a moment after the child is reaped. */
        int rc;
        for (int wait = 0; (rc = fx_open(&fx)) == -EBUSY && wait < CRASH_UNLOCK_WAIT_ROUNDS;
             wait++) {
            usleep(CRASH_UNLOCK_WAIT_US);
        }
        ck_assert_msg(rc == 0, "round %d: open: %s", round, strerror(-rc));
        struct stream_store_info info = info_of(fx.store);
        ck_assert_msg(info.last_seq >= durable_max,
                      "round %d: durable up to %" PRIu64 ", recovered up to %" PRIu64, round,
                      durable_max, info.last_seq);
        ck_assert_uint_eq(info.msg_count, info.last_seq);
        ck_assert_uint_eq(info.lost_count, 0);
        for (uint64_t s = 1; s <= info.last_seq; s++) {
            expect_gen(fx.store, s);
        }
        durable_max = info.last_seq;
        fx_close(&fx);
    }
    ck_assert_uint_gt(durable_max, 0);
    fx_fini(&fx);
}
END_TEST

static Suite *store_crash_suite(void)
{
    Suite *suite = suite_create("store_crash");
    TCase *tc = tcase_create("store_crash");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_crash_sigkill);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(store_crash_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
