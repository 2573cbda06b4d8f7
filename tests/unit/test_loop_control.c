/* Unit tests for the loop interface (engine/loop.h) beyond one connection's I/O, every
 * case run on both backends (io_uring and epoll; the io_uring half skipped where this
 * process may not set one up): waking a loop from another thread and from its own,
 * handing a socket to another loop and its failure, control values, a wait that times out
 * with nothing ready, and choosing a backend. The fixture (loop_fixture.h) is the one
 * test_loop.c uses; handlers only record what they were told. */
#include "tests/unit/loop_fixture.h"

/* ---- other loops, control, time ---- */

/* Two fixtures on this thread, one loop waking or handing to the other. */
static void pair_init(struct loop_fixture *source, struct loop_fixture *target,
                      enum loop_backend backend)
{
    loop_fixture_init(source, backend);
    loop_fixture_init(target, backend);
}

/* In the reverse order of pair_init. */
static void pair_fini(struct loop_fixture *source, struct loop_fixture *target)
{
    loop_fixture_fini(target);
    loop_fixture_fini(source);
}

/* How many times any handler of the fixture was called. */
static int reported_count(const struct loop_fixture *fx)
{
    return fx->accepted_count + fx->received_count + fx->recv_ended_count + fx->sent_count +
           fx->control_count + fx->handed_count + fx->handoff_failed_count;
}

/* A loop waiting on another thread, woken through its peer. */
struct waiter {
    enum loop_backend backend;
    pthread_mutex_t lock;
    pthread_cond_t ready_changed;
    bool ready; /* under lock: peer is set and the wait is about to begin */
    struct loop_peer peer;
    int create_rc;
    int wait_rc;
    int64_t waited_ns;
};

static void *waiter_run(void *arg)
{
    struct waiter *waiter = arg;
    struct loop_fixture fx;
    waiter->create_rc = loop_fixture_try_init(&fx, waiter->backend);
    if (waiter->create_rc == 0) {
        /* what setting up queued (io_uring's control read) goes in first */
        (void)loop_wait(fx.loop, 0);
        loop_dispatch(fx.loop);
        waiter->peer = fx.loop->peer;
    }
    pthread_mutex_lock(&waiter->lock);
    waiter->ready = true;
    pthread_cond_signal(&waiter->ready_changed);
    pthread_mutex_unlock(&waiter->lock);
    if (waiter->create_rc != 0) {
        return NULL;
    }
    int64_t start_ns = clock_monotonic_ns();
    waiter->wait_rc = loop_wait(fx.loop, WAKE_WAIT_NS);
    waiter->waited_ns = loop_fixture_elapsed_since(start_ns);
    loop_dispatch(fx.loop);
    loop_fixture_fini(&fx);
    return NULL;
}

/* loop_wake from this thread's loop ends another thread's loop_wait long before its
 * timeout. */
START_TEST(test_wake_other_thread)
{
    struct loop_fixture fx;
    loop_fixture_init(&fx, loop_fixture_backends[_i]);
    struct waiter waiter = {.backend = loop_fixture_backends[_i]};
    pthread_mutex_init(&waiter.lock, NULL);
    pthread_cond_init(&waiter.ready_changed, NULL);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, waiter_run, &waiter), 0);
    pthread_mutex_lock(&waiter.lock);
    while (!waiter.ready) {
        pthread_cond_wait(&waiter.ready_changed, &waiter.lock);
    }
    pthread_mutex_unlock(&waiter.lock);
    ck_assert_int_eq(waiter.create_rc, 0);
    /* give it time to be asleep in the kernel; a wake that comes earlier must work too */
    const struct timespec nap = {.tv_nsec = 50 * 1000000L};
    nanosleep(&nap, NULL);
    fx.starting = true;
    loop_wake(fx.loop, &waiter.peer);
    fx.starting = false;
    loop_fixture_turn(&fx);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_int_eq(waiter.wait_rc, 0);
    ck_assert_msg(waiter.waited_ns < WAKE_LATE_NS, "the woken loop waited %lld ms",
                  (long long)(waiter.waited_ns / 1000000));
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    pthread_cond_destroy(&waiter.ready_changed);
    pthread_mutex_destroy(&waiter.lock);
    loop_fixture_fini(&fx);
}
END_TEST

/* Two loops on one thread: a wake that the target collects later still ends its wait at
 * once, and reports nothing to its handlers. */
START_TEST(test_wake_same_thread)
{
    struct loop_fixture source;
    struct loop_fixture target;
    pair_init(&source, &target, loop_fixture_backends[_i]);
    loop_fixture_turn(&target);
    loop_wake(source.loop, &target.loop->peer);
    loop_fixture_turn(&source);
    int64_t start_ns = clock_monotonic_ns();
    ck_assert_int_eq(loop_wait(target.loop, WAKE_WAIT_NS), 0);
    ck_assert_int_lt(loop_fixture_elapsed_since(start_ns), WAKE_LATE_NS);
    loop_dispatch(target.loop);
    ck_assert_int_eq(reported_count(&target), 0);
    pair_fini(&source, &target);
}
END_TEST

/* A descriptor handed to another loop comes out of its `handed`, the same descriptor, and
 * nothing fails on the sending side. */
START_TEST(test_handoff)
{
    struct loop_fixture source;
    struct loop_fixture target;
    pair_init(&source, &target, loop_fixture_backends[_i]);
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    source.starting = true;
    ck_assert_int_eq(loop_handoff(source.loop, &target.loop->peer, 1, fds[0]), 0);
    source.starting = false;
    loop_fixture_turn(&source);
    LOOP_FIXTURE_PUMP_UNTIL(&target, target.handed_count == 1);
    ck_assert_int_eq(target.handed_fd, fds[0]);
    ck_assert_int_eq(write(fds[1], "x", 1), 1);
    char byte;
    ck_assert_int_eq(read(target.handed_fd, &byte, 1), 1);
    loop_fixture_pump_for(&source, QUIET_NS);
    ck_assert_int_eq(source.handoff_failed_count, 0);
    ck_assert_int_eq(source.handed_count, 0);
    ck_assert_int_eq(source.handler_inside_start_count, 0);
    close(fds[0]);
    close(fds[1]);
    pair_fini(&source, &target);
}
END_TEST

/* A handoff to something that is not a loop fails: at once (-errno) or through
 * handoff_failed with the same target and descriptor; either way it was not handed. */
START_TEST(test_handoff_failed)
{
    struct loop_fixture fx;
    loop_fixture_init(&fx, loop_fixture_backends[_i]);
    int not_a_loop = eventfd(0, EFD_CLOEXEC);
    ck_assert_int_ge(not_a_loop, 0);
    const struct loop_peer bad = {.wake_fd = not_a_loop, .handoff_fd = not_a_loop};
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    fx.starting = true;
    int rc = loop_handoff(fx.loop, &bad, HANDOFF_TARGET, fds[0]);
    fx.starting = false;
    if (rc == 0) {
        LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.handoff_failed_count == 1);
        ck_assert_int_eq(fx.handoff_failed_target, HANDOFF_TARGET);
        ck_assert_int_eq(fx.handoff_failed_fd, fds[0]);
        ck_assert_int_lt(fx.handoff_failed_error, 0);
    } else {
        ck_assert_int_lt(rc, 0);
        loop_fixture_pump_for(&fx, QUIET_NS);
        ck_assert_int_eq(fx.handoff_failed_count, 0);
    }
    ck_assert_int_eq(fx.handed_count, 0);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    close(fds[0]);
    close(fds[1]);
    close(not_a_loop);
    loop_fixture_fini(&fx);
}
END_TEST

/* What main writes to the control eventfd comes out of `control`, each time (the read is
 * armed again); a wait with no limit returns for it. */
START_TEST(test_control)
{
    struct loop_fixture fx;
    loop_fixture_init(&fx, loop_fixture_backends[_i]);
    uint64_t value = CONTROL_VALUE_FIRST;
    ck_assert_int_eq(write(fx.control_fd, &value, sizeof value), (ssize_t)sizeof value);
    ck_assert_int_eq(loop_wait(fx.loop, INT64_MAX), 0);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.control_count == 1);
    ck_assert_uint_eq(fx.control_value, CONTROL_VALUE_FIRST);
    ck_assert_int_eq(fx.control_error, 0);
    loop_fixture_pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.control_count, 1);
    value = CONTROL_VALUE_SECOND;
    ck_assert_int_eq(write(fx.control_fd, &value, sizeof value), (ssize_t)sizeof value);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.control_count == 2);
    ck_assert_uint_eq(fx.control_value, CONTROL_VALUE_SECOND);
    ck_assert_int_eq(fx.control_error, 0);
    loop_fixture_fini(&fx);
}
END_TEST

/* Nothing ready: a wait returns after about its timeout (bounded loosely both ways), and a
 * wait of 0 only collects. Nothing is reported. */
START_TEST(test_wait_timeout)
{
    struct loop_fixture fx;
    loop_fixture_init(&fx, loop_fixture_backends[_i]);
    loop_fixture_turn(&fx);
    int64_t start_ns = clock_monotonic_ns();
    ck_assert_int_eq(loop_wait(fx.loop, WAIT_TIMEOUT_NS), 0);
    int64_t waited_ns = loop_fixture_elapsed_since(start_ns);
    ck_assert_msg(waited_ns >= WAIT_EARLY_NS && waited_ns < WAIT_LATE_NS,
                  "a wait of %lld ms took %lld ms", (long long)(WAIT_TIMEOUT_NS / 1000000),
                  (long long)(waited_ns / 1000000));
    loop_dispatch(fx.loop);
    start_ns = clock_monotonic_ns();
    ck_assert_int_eq(loop_wait(fx.loop, 0), 0);
    ck_assert_int_lt(loop_fixture_elapsed_since(start_ns), WAIT_EARLY_NS);
    loop_dispatch(fx.loop);
    ck_assert_int_eq(reported_count(&fx), 0);
    loop_fixture_fini(&fx);
}
END_TEST

/* ---- choosing a backend ---- */

START_TEST(test_backend_choose)
{
    struct config config;
    loop_fixture_config_default(&config);
    char reason[160];
    bool uring_works = loop_uring_probe(&config, reason, sizeof reason) == 0;
    enum loop_backend backend = LOOP_URING;
    config.io = "epoll";
    ck_assert_int_eq(loop_backend_choose(&config, &backend), 0);
    ck_assert_int_eq(backend, LOOP_EPOLL);
    config.io = "auto";
    backend = LOOP_URING;
    ck_assert_int_eq(loop_backend_choose(&config, &backend), 0);
    ck_assert_int_eq(backend, uring_works ? LOOP_URING : LOOP_EPOLL);
    config.io = "uring";
    backend = LOOP_EPOLL;
    int rc = loop_backend_choose(&config, &backend);
    if (uring_works) {
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(backend, LOOP_URING);
    } else {
        ck_assert_int_lt(rc, 0);
    }
}
END_TEST


static Suite *loop_control_suite(bool uring_works)
{
    Suite *suite = suite_create("loop_control");
    /* loop iteration 0 is io_uring, 1 epoll (`loop_fixture_backends`) */
    int first = uring_works ? 0 : 1;
    int end = (int)(sizeof loop_fixture_backends / sizeof loop_fixture_backends[0]);
    TCase *loops = tcase_create("loops");
    tcase_add_loop_test(loops, test_wake_other_thread, first, end);
    tcase_add_loop_test(loops, test_wake_same_thread, first, end);
    tcase_add_loop_test(loops, test_handoff, first, end);
    tcase_add_loop_test(loops, test_handoff_failed, first, end);
    tcase_add_loop_test(loops, test_control, first, end);
    tcase_add_loop_test(loops, test_wait_timeout, first, end);
    tcase_add_test(loops, test_backend_choose);
    suite_add_tcase(suite, loops);
    return suite;
}

int main(void)
{
    return loop_fixture_main("test_loop_control", loop_control_suite);
}
