/* Unit tests for the loop interface (engine/loop.h), every case run on both backends:
 * io_uring (loop_uring.c) and epoll (loop_epoll.c). When this process may not set up an
 * io_uring (seccomp, kernel.io_uring_disabled), the io_uring half is skipped and main says
 * why; the epoll half always runs.
 *
 * Each case builds what a shard has: a timer wheel, a connection table with a dummy kind,
 * the default configuration and an eventfd for control, and a loop whose handlers only
 * record what they were told. Connections are socketpair(AF_UNIX) ends (the connection's
 * end non-blocking, as accepted sockets are); accepting uses a loopback TCP listener. The
 * loop is driven as a shard drives it, loop_wait then loop_dispatch, every wait bounded.
 *
 * What is checked is what loop.h promises: bytes arrive in order; every receive started
 * ends exactly once (an error too) and nothing is received after its end; a send ends once
 * with its byte count (at most LOOP_SEND_MAX on io_uring); no handler runs inside the call
 * that started an operation; the flags and in-flight count of loop.c are right at every
 * end. */
#include "engine/loop.h"

#include "base/clock.h"
#include "base/timer.h"
#include "engine/config.h"
#include "engine/conn.h"
#include "engine/outbuf.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One loop_wait of the pump: short, so a condition is looked at often. */
#define PUMP_WAIT_NS (10LL * 1000000LL)
/* How long a pump waits for something that should happen at once: generous for a loaded
 * CI host, and still well inside Check's timeout. */
#define PUMP_TIMEOUT_NS (10LL * 1000000000LL)
/* How long "nothing more happens" is watched for. */
#define QUIET_NS (200LL * 1000000LL)
/* The timeout of the wait-with-nothing-ready case, and the bounds its return must fall in:
 * not before half of it (a backend that ignored the timeout returns at once), and well
 * before a bound no scheduler hiccup reaches. */
#define WAIT_TIMEOUT_NS (200LL * 1000000LL)
#define WAIT_EARLY_NS (100LL * 1000000LL)
#define WAIT_LATE_NS (5LL * 1000000000LL)
/* The cross-thread wake: the target waits this long unless woken; woken, it must return
 * well before. */
#define WAKE_WAIT_NS (20LL * 1000000000LL)
#define WAKE_LATE_NS (5LL * 1000000000LL)

enum {
    TABLE_SLOTS_MAX = 1 << 16,
    MAX_PENDING_BYTES = 64 * 1024 * 1024,
    /* A send larger than both the socket's buffer and LOOP_SEND_MAX. */
    LARGE_SEND_BYTES = 4 * 1024 * 1024,
    /* The connection's send buffer in the large-send case: larger than LOOP_SEND_MAX, so a
     * backend that did not bound one operation would show it. */
    LARGE_SNDBUF_BYTES = 1024 * 1024,
    PEER_READ_CHUNK = 64 * 1024,
    CONTROL_VALUE_FIRST = 5,
    CONTROL_VALUE_SECOND = 1u << 20,
    HANDOFF_TARGET = 3,
};

/* Backend of loop iteration `index` (tcase_add_loop_test). */
static const enum loop_backend backends[] = {LOOP_URING, LOOP_EPOLL};

static const struct conn_kind test_kind = {
    .name = "test",
    .size = sizeof(struct conn),
};

/* What a shard would own, and everything the handlers were told. */
struct fixture {
    enum loop_backend backend;
    struct config config;
    struct timer_wheel wheel;
    struct conn_table table;
    struct loop *loop;
    int control_fd;
    /* Set around every call that starts an operation: a handler that runs then broke the
     * rule that completions come only from loop_dispatch. */
    bool starting;
    int handler_inside_start_count;
    bool recv_running; /* a receive was started and its end not yet reported */
    int received_count;
    int received_after_end_count;
    char *received_data; /* owned */
    size_t received_length;
    size_t received_capacity;
    int recv_ended_count;
    int recv_ended_result;
    uint32_t recv_ended_flags;
    uint32_t recv_ended_inflight;
    int sent_count;
    int sent_result;
    int sent_result_max;
    uint32_t sent_flags;
    uint32_t sent_inflight;
    bool send_resume; /* `sent` starts the rest of a short send, as shard.c does */
    int accepted_count;
    int accepted_result;
    bool accepted_armed;
    int control_count;
    uint64_t control_value;
    int control_error;
    int handed_count;
    int handed_fd;
    int handoff_failed_count;
    int handoff_failed_target;
    int handoff_failed_fd;
    int handoff_failed_error;
};

static void handler_note(struct fixture *fx)
{
    if (fx->starting) {
        fx->handler_inside_start_count++;
    }
}

static void on_accepted(void *ctx, int result, bool armed)
{
    struct fixture *fx = ctx;
    handler_note(fx);
    fx->accepted_count++;
    fx->accepted_result = result;
    fx->accepted_armed = armed;
}

static void on_received(void *ctx, struct conn *conn, const char *data, size_t length)
{
    struct fixture *fx = ctx;
    handler_note(fx);
    (void)conn;
    fx->received_count++;
    if (!fx->recv_running) {
        fx->received_after_end_count++;
    }
    if (fx->received_length + length > fx->received_capacity) {
        size_t capacity = fx->received_capacity ? fx->received_capacity : 4096;
        while (capacity < fx->received_length + length) {
            capacity *= 2;
        }
        fx->received_data = realloc(fx->received_data, capacity);
        ck_assert_ptr_nonnull(fx->received_data);
        fx->received_capacity = capacity;
    }
    memcpy(fx->received_data + fx->received_length, data, length);
    fx->received_length += length;
}

static void on_recv_ended(void *ctx, struct conn *conn, int result)
{
    struct fixture *fx = ctx;
    handler_note(fx);
    if (!fx->recv_running) {
        fx->received_after_end_count++; /* a second end of one receive */
    }
    fx->recv_running = false;
    fx->recv_ended_count++;
    fx->recv_ended_result = result;
    fx->recv_ended_flags = conn->flags;
    fx->recv_ended_inflight = conn->inflight_count;
}

static void send_start(struct fixture *fx, struct conn *conn)
{
    bool starting = fx->starting;
    fx->starting = true;
    loop_send(fx->loop, conn);
    fx->starting = starting;
}

static void on_sent(void *ctx, struct conn *conn, int result)
{
    struct fixture *fx = ctx;
    handler_note(fx);
    fx->sent_count++;
    fx->sent_result = result;
    if (result > fx->sent_result_max) {
        fx->sent_result_max = result;
    }
    fx->sent_flags = conn->flags;
    fx->sent_inflight = conn->inflight_count;
    if (fx->send_resume && result > 0) {
        conn->sending_offset += (size_t)result;
        ck_assert_uint_le(conn->sending_offset, conn->sending.length);
        if (conn->sending_offset < conn->sending.length) {
            send_start(fx, conn);
        }
    }
}

static void on_control(void *ctx, uint64_t value, int error)
{
    struct fixture *fx = ctx;
    handler_note(fx);
    fx->control_count++;
    fx->control_value = value;
    fx->control_error = error;
}

static void on_handed(void *ctx, int fd)
{
    struct fixture *fx = ctx;
    handler_note(fx);
    fx->handed_count++;
    fx->handed_fd = fd;
}

static void on_handoff_failed(void *ctx, int target, int fd, int error)
{
    struct fixture *fx = ctx;
    handler_note(fx);
    fx->handoff_failed_count++;
    fx->handoff_failed_target = target;
    fx->handoff_failed_fd = fd;
    fx->handoff_failed_error = error;
}

static void config_default(struct config *config)
{
    char *argv[] = {"ionats", NULL};
    FILE *sink = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(sink);
    ck_assert_int_eq(config_parse(config, 1, argv, sink, sink), CONFIG_RUN);
    fclose(sink);
}

/* Creates the fixture's loop on the calling thread (an io_uring belongs to it). 0 or the
 * -errno of loop_create, with nothing left to free. */
static int fixture_try_init(struct fixture *fx, enum loop_backend backend)
{
    memset(fx, 0, sizeof *fx);
    fx->backend = backend;
    config_default(&fx->config);
    timer_wheel_init(&fx->wheel, clock_monotonic_ns(), 1000000);
    conn_table_init(&fx->table, TABLE_SLOTS_MAX, MAX_PENDING_BYTES,
                    fx->config.write_deadline_ns, &fx->wheel);
    fx->control_fd = eventfd(0, EFD_CLOEXEC);
    ck_assert_int_ge(fx->control_fd, 0);
    const struct loop_setup setup = {
        .config = &fx->config, .shard_index = 0, .control_fd = fx->control_fd};
    const struct loop_handlers handlers = {
        .ctx = fx,
        .accepted = on_accepted,
        .received = on_received,
        .recv_ended = on_recv_ended,
        .sent = on_sent,
        .control = on_control,
        .handed = on_handed,
        .handoff_failed = on_handoff_failed,
    };
    int rc = loop_create(backend, &setup, &handlers, &fx->table, &fx->loop);
    if (rc != 0) {
        close(fx->control_fd);
        conn_table_destroy(&fx->table);
        timer_wheel_destroy(&fx->wheel);
    }
    return rc;
}

static void fixture_init(struct fixture *fx, enum loop_backend backend)
{
    ck_assert_int_eq(fixture_try_init(fx, backend), 0);
}

/* The loop goes first: it may still hold buffers of the connections (loop.h). */
static void fixture_fini(struct fixture *fx)
{
    loop_destroy(fx->loop);
    for (uint32_t i = 0; i < fx->table.capacity; i++) {
        struct conn *conn = fx->table.conns[i];
        if (conn != NULL && conn->fd >= 0) {
            close(conn->fd);
        }
    }
    conn_table_destroy(&fx->table);
    timer_wheel_destroy(&fx->wheel);
    close(fx->control_fd);
    free(fx->received_data);
}

static void pump_once(struct fixture *fx)
{
    ck_assert_int_eq(loop_wait(fx->loop, PUMP_WAIT_NS), 0);
    loop_dispatch(fx->loop);
}

/* Drives the loop until `condition` holds or PUMP_TIMEOUT_NS passed, then asserts it. */
#define PUMP_UNTIL(fx, condition)                                                             \
    do {                                                                                      \
        int64_t pump_deadline_ns = clock_monotonic_ns() + PUMP_TIMEOUT_NS;                    \
        while (!(condition) && clock_monotonic_ns() < pump_deadline_ns) {                     \
            pump_once(fx);                                                                    \
        }                                                                                     \
        ck_assert_msg((condition), "still not true after the pump's timeout: %s", #condition); \
    } while (0)

/* Drives the loop for `duration_ns`. */
static void pump_for(struct fixture *fx, int64_t duration_ns)
{
    int64_t deadline_ns = clock_monotonic_ns() + duration_ns;
    while (clock_monotonic_ns() < deadline_ns) {
        pump_once(fx);
    }
}

/* A connection on one end of a fresh socketpair (non-blocking, as accepted sockets are);
 * the other end, also non-blocking, in *peer_fd. */
static struct conn *conn_open(struct fixture *fx, int *peer_fd)
{
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds),
                     0);
    struct conn *conn = conn_table_take(&fx->table, &test_kind);
    ck_assert_ptr_nonnull(conn);
    conn->fd = fds[0];
    *peer_fd = fds[1];
    return conn;
}

static void recv_start(struct fixture *fx, struct conn *conn)
{
    ck_assert(!fx->recv_running);
    fx->recv_running = true;
    fx->starting = true;
    loop_recv_start(fx->loop, conn);
    fx->starting = false;
}

static void recv_stop(struct fixture *fx, struct conn *conn)
{
    fx->starting = true;
    loop_recv_stop(fx->loop, conn);
    fx->starting = false;
}

/* A receive that ended as receives end now and then (LOOP_RECV_AGAIN, -ENOBUFS) is started
 * again, as the shard does; any other end is left for the case to look at. */
static void recv_restart_if_wanted(struct fixture *fx, struct conn *conn)
{
    if (!fx->recv_running &&
        (fx->recv_ended_result == LOOP_RECV_AGAIN || fx->recv_ended_result == -ENOBUFS)) {
        fx->recv_ended_result = INT32_MIN;
        recv_start(fx, conn);
    }
}

static char pattern_byte(size_t offset)
{
    return (char)((offset * 31 + offset / 251 + 7) & 0xff);
}

static void pattern_fill(char *data, size_t offset, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        data[i] = pattern_byte(offset + i);
    }
}

static bool pattern_matches(const char *data, size_t offset, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if (data[i] != pattern_byte(offset + i)) {
            return false;
        }
    }
    return true;
}

/* Writes all of `data` to the non-blocking `fd` as one write call per chunk as far as the
 * socket takes it, driving the loop while it is full. */
static void peer_write_all(struct fixture *fx, struct conn *conn, int fd, const char *data,
                           size_t length)
{
    size_t offset = 0;
    int64_t deadline_ns = clock_monotonic_ns() + PUMP_TIMEOUT_NS;
    while (offset < length) {
        ssize_t n = write(fd, data + offset, length - offset);
        if (n > 0) {
            offset += (size_t)n;
            continue;
        }
        ck_assert_msg(n < 0 && errno == EAGAIN, "peer write: %s", strerror(errno));
        ck_assert_int_lt(clock_monotonic_ns(), deadline_ns);
        pump_once(fx);
        recv_restart_if_wanted(fx, conn);
    }
}

/* Reads what the non-blocking `fd` has, up to `size`. */
static size_t peer_read_some(int fd, char *buffer, size_t size)
{
    ssize_t n = read(fd, buffer, size);
    if (n < 0) {
        ck_assert_msg(errno == EAGAIN, "peer read: %s", strerror(errno));
        return 0;
    }
    return (size_t)n;
}

static void sending_fill(struct conn *conn, size_t length)
{
    ck_assert_int_eq(outbuf_reserve(&conn->sending, length), 0);
    pattern_fill(conn->sending.data, 0, length);
    conn->sending.length = length;
    conn->sending_offset = 0;
}

static int64_t elapsed_since(int64_t start_ns)
{
    return clock_monotonic_ns() - start_ns;
}

/* ---- receiving ---- */

/* Several writes of sizes around the receive buffer's, the largest above it: every byte
 * arrives through `received`, in order, and none after the receive's end. */
START_TEST(test_recv_in_order)
{
    struct fixture fx;
    fixture_init(&fx, backends[_i]);
    int peer;
    struct conn *conn = conn_open(&fx, &peer);
    recv_start(&fx, conn);
    ck_assert_uint_eq(conn->flags & CONN_F_RECV_ARMED, CONN_F_RECV_ARMED);
    ck_assert_uint_eq(conn->inflight_count, 1);
    size_t buffer_size = (size_t)fx.config.recv_buf_size;
    const size_t chunks[] = {1, 2, 100, 4096, buffer_size - 1, buffer_size, buffer_size + 1,
                             3, 3 * buffer_size + 17, 5};
    size_t total = 0;
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        total += chunks[i];
    }
    ck_assert_uint_gt(total, 4 * buffer_size);
    char *data = malloc(total);
    ck_assert_ptr_nonnull(data);
    pattern_fill(data, 0, total);
    size_t offset = 0;
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        peer_write_all(&fx, conn, peer, data + offset, chunks[i]);
        offset += chunks[i];
        pump_once(&fx);
        recv_restart_if_wanted(&fx, conn);
    }
    int64_t deadline_ns = clock_monotonic_ns() + PUMP_TIMEOUT_NS;
    while (fx.received_length < total && clock_monotonic_ns() < deadline_ns) {
        pump_once(&fx);
        recv_restart_if_wanted(&fx, conn);
    }
    ck_assert_uint_eq(fx.received_length, total);
    ck_assert(pattern_matches(fx.received_data, 0, total));
    ck_assert_int_eq(fx.received_after_end_count, 0);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    /* only the ends a receive has now and then, each started again */
    ck_assert(fx.recv_running);
    ck_assert_uint_eq(conn->flags & CONN_F_RECV_ARMED, CONN_F_RECV_ARMED);
    ck_assert_uint_eq(conn->inflight_count, 1);
    recv_stop(&fx, conn);
    PUMP_UNTIL(&fx, !fx.recv_running);
    free(data);
    close(peer);
    fixture_fini(&fx);
}
END_TEST

/* loop_recv_stop: exactly one recv_ended(-ECANCELED), not inside the call; flags and count
 * cleared before the handler runs; nothing received after the end. No byte is lost or
 * doubled: a receive started again takes exactly the rest.
 *
 * `collected`: the stop comes after a loop_wait took the new bytes' readiness or
 * completions but before they were dispatched: io_uring may then still deliver the bytes
 * its receive took (before the end), epoll must not read any more. */
static void recv_stop_check(enum loop_backend backend, bool collected)
{
    struct fixture fx;
    fixture_init(&fx, backend);
    int peer;
    struct conn *conn = conn_open(&fx, &peer);
    enum { FIRST_BYTES = 1000, SECOND_BYTES = 150000, TOTAL = FIRST_BYTES + SECOND_BYTES };
    char *data = malloc(TOTAL);
    ck_assert_ptr_nonnull(data);
    pattern_fill(data, 0, TOTAL);
    recv_start(&fx, conn);
    peer_write_all(&fx, conn, peer, data, FIRST_BYTES);
    PUMP_UNTIL(&fx, fx.received_length == FIRST_BYTES);
    /* more bytes in the socket while the stop is on its way */
    peer_write_all(&fx, conn, peer, data + FIRST_BYTES, SECOND_BYTES);
    if (collected) {
        ck_assert_int_eq(loop_wait(fx.loop, PUMP_WAIT_NS), 0);
    }
    int received_before_stop = fx.received_count;
    recv_stop(&fx, conn);
    ck_assert_uint_eq(conn->flags & CONN_F_RECV_STOPPING, CONN_F_RECV_STOPPING);
    recv_stop(&fx, conn); /* a second stop of the same receive adds nothing */
    ck_assert_int_eq(fx.recv_ended_count, 0);
    if (collected) {
        loop_dispatch(fx.loop); /* what that wait took, before any other wait */
    }
    PUMP_UNTIL(&fx, fx.recv_ended_count == 1);
    ck_assert_int_eq(fx.recv_ended_result, -ECANCELED);
    ck_assert_uint_eq(fx.recv_ended_flags & (CONN_F_RECV_ARMED | CONN_F_RECV_STOPPING), 0);
    ck_assert_uint_eq(fx.recv_ended_inflight, 0);
    if (fx.backend == LOOP_EPOLL) {
        /* readiness is only acted on while the receive runs */
        ck_assert_int_eq(fx.received_count, received_before_stop);
    }
    size_t received_at_end = fx.received_length;
    ck_assert(pattern_matches(fx.received_data, 0, received_at_end));
    pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.recv_ended_count, 1);
    ck_assert_uint_eq(fx.received_length, received_at_end);
    ck_assert_int_eq(fx.received_after_end_count, 0);
    ck_assert_uint_eq(conn->inflight_count, 0);
    /* a stop with no receive running does nothing */
    recv_stop(&fx, conn);
    ck_assert_uint_eq(conn->flags & CONN_F_RECV_STOPPING, 0);
    pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.recv_ended_count, 1);
    /* started again: the rest, exactly */
    recv_start(&fx, conn);
    PUMP_UNTIL(&fx, fx.received_length >= TOTAL);
    pump_for(&fx, QUIET_NS);
    ck_assert_uint_eq(fx.received_length, TOTAL);
    ck_assert(pattern_matches(fx.received_data, 0, TOTAL));
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    recv_stop(&fx, conn);
    PUMP_UNTIL(&fx, fx.recv_ended_count == 2);
    free(data);
    close(peer);
    fixture_fini(&fx);
}

START_TEST(test_recv_stop)
{
    recv_stop_check(backends[_i], false);
}
END_TEST

START_TEST(test_recv_stop_collected)
{
    recv_stop_check(backends[_i], true);
}
END_TEST

/* The peer closes after writing: its bytes, then recv_ended(0), once. */
START_TEST(test_recv_peer_close)
{
    struct fixture fx;
    fixture_init(&fx, backends[_i]);
    int peer;
    struct conn *conn = conn_open(&fx, &peer);
    recv_start(&fx, conn);
    ck_assert_int_eq(write(peer, "bye\r\n", 5), 5);
    close(peer);
    PUMP_UNTIL(&fx, fx.recv_ended_count == 1);
    ck_assert_int_eq(fx.recv_ended_result, 0);
    ck_assert_uint_eq(fx.received_length, 5);
    ck_assert_int_eq(memcmp(fx.received_data, "bye\r\n", 5), 0);
    ck_assert_uint_eq(fx.recv_ended_flags & CONN_F_RECV_ARMED, 0);
    ck_assert_uint_eq(fx.recv_ended_inflight, 0);
    pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.recv_ended_count, 1);
    ck_assert_int_eq(fx.received_after_end_count, 0);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    fixture_fini(&fx);
}
END_TEST

/* A receive on a descriptor that is no socket ends once with an error, never inside the
 * call that started it. */
START_TEST(test_recv_not_a_socket)
{
    struct fixture fx;
    fixture_init(&fx, backends[_i]);
    struct conn *conn = conn_table_take(&fx.table, &test_kind);
    ck_assert_ptr_nonnull(conn);
    conn->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(conn->fd, 0);
    recv_start(&fx, conn);
    ck_assert_int_eq(fx.recv_ended_count, 0);
    PUMP_UNTIL(&fx, fx.recv_ended_count == 1);
    ck_assert_int_lt(fx.recv_ended_result, 0);
    ck_assert_int_ne(fx.recv_ended_result, -ECANCELED);
    ck_assert_int_ne(fx.recv_ended_result, -ENOBUFS);
    ck_assert_uint_eq(fx.recv_ended_flags & CONN_F_RECV_ARMED, 0);
    ck_assert_uint_eq(fx.recv_ended_inflight, 0);
    pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.recv_ended_count, 1);
    ck_assert_int_eq(fx.received_count, 0);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    fixture_fini(&fx);
}
END_TEST

/* ---- sending ---- */

/* A send the socket takes whole: `sent` with the byte count, never inside loop_send; the
 * flag and the count cleared before the handler; the peer reads exactly those bytes. */
START_TEST(test_send)
{
    struct fixture fx;
    fixture_init(&fx, backends[_i]);
    int peer;
    struct conn *conn = conn_open(&fx, &peer);
    enum { SEND_BYTES = 1000 };
    sending_fill(conn, SEND_BYTES);
    send_start(&fx, conn);
    ck_assert_int_eq(fx.sent_count, 0);
    ck_assert_uint_eq(conn->flags & CONN_F_SEND_INFLIGHT, CONN_F_SEND_INFLIGHT);
    ck_assert_uint_eq(conn->inflight_count, 1);
    PUMP_UNTIL(&fx, fx.sent_count == 1);
    ck_assert_int_eq(fx.sent_result, SEND_BYTES);
    ck_assert_uint_eq(fx.sent_flags & CONN_F_SEND_INFLIGHT, 0);
    ck_assert_uint_eq(fx.sent_inflight, 0);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    char buffer[SEND_BYTES + 1];
    ck_assert_uint_eq(peer_read_some(peer, buffer, sizeof buffer), SEND_BYTES);
    ck_assert(pattern_matches(buffer, 0, SEND_BYTES));
    /* a send from an offset sends the rest only */
    conn->sending_offset = SEND_BYTES - 10;
    send_start(&fx, conn);
    ck_assert_int_eq(fx.sent_count, 1);
    PUMP_UNTIL(&fx, fx.sent_count == 2);
    ck_assert_int_eq(fx.sent_result, 10);
    ck_assert_uint_eq(peer_read_some(peer, buffer, sizeof buffer), 10);
    ck_assert(pattern_matches(buffer, SEND_BYTES - 10, 10));
    pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.sent_count, 2);
    close(peer);
    fixture_fini(&fx);
}
END_TEST

/* A receive and a send in flight together: each end clears its own flag and one count. */
START_TEST(test_inflight_bookkeeping)
{
    struct fixture fx;
    fixture_init(&fx, backends[_i]);
    int peer;
    struct conn *conn = conn_open(&fx, &peer);
    recv_start(&fx, conn);
    sending_fill(conn, 100);
    send_start(&fx, conn);
    ck_assert_uint_eq(conn->flags & (CONN_F_RECV_ARMED | CONN_F_SEND_INFLIGHT),
                      CONN_F_RECV_ARMED | CONN_F_SEND_INFLIGHT);
    ck_assert_uint_eq(conn->inflight_count, 2);
    PUMP_UNTIL(&fx, fx.sent_count == 1);
    ck_assert_int_eq(fx.sent_result, 100);
    ck_assert_uint_eq(fx.sent_flags & (CONN_F_RECV_ARMED | CONN_F_SEND_INFLIGHT),
                      CONN_F_RECV_ARMED);
    ck_assert_uint_eq(fx.sent_inflight, 1);
    ck_assert_int_eq(fx.recv_ended_count, 0);
    recv_stop(&fx, conn);
    PUMP_UNTIL(&fx, fx.recv_ended_count == 1);
    ck_assert_uint_eq(fx.recv_ended_flags & (CONN_F_RECV_ARMED | CONN_F_SEND_INFLIGHT), 0);
    ck_assert_uint_eq(fx.recv_ended_inflight, 0);
    char buffer[100];
    ck_assert_uint_eq(peer_read_some(peer, buffer, sizeof buffer), 100);
    /* both again, the receive ending last this time (the peer closes) */
    recv_start(&fx, conn);
    conn->sending_offset = 0;
    send_start(&fx, conn);
    ck_assert_uint_eq(conn->inflight_count, 2);
    PUMP_UNTIL(&fx, fx.sent_count == 2);
    ck_assert_uint_eq(peer_read_some(peer, buffer, sizeof buffer), 100);
    close(peer);
    PUMP_UNTIL(&fx, fx.recv_ended_count == 2);
    ck_assert_int_eq(fx.recv_ended_result, 0);
    ck_assert_uint_eq(conn->flags & (CONN_F_RECV_ARMED | CONN_F_SEND_INFLIGHT), 0);
    ck_assert_uint_eq(conn->inflight_count, 0);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    fixture_fini(&fx);
}
END_TEST

/* A send to a peer that does not read: it moves what the socket takes (each operation at
 * most LOOP_SEND_MAX) and then waits, in flight; once the peer reads, the rest goes and the
 * peer has every byte in order. */
START_TEST(test_send_waits_for_reader)
{
    struct fixture fx;
    fixture_init(&fx, backends[_i]);
    int peer;
    struct conn *conn = conn_open(&fx, &peer);
    int sndbuf = LARGE_SNDBUF_BYTES;
    ck_assert_int_eq(setsockopt(conn->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    sending_fill(conn, LARGE_SEND_BYTES);
    fx.send_resume = true;
    send_start(&fx, conn);
    ck_assert_int_eq(fx.sent_count, 0);
    pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    ck_assert_uint_lt(conn->sending_offset, LARGE_SEND_BYTES);
    ck_assert_uint_eq(conn->flags & CONN_F_SEND_INFLIGHT, CONN_F_SEND_INFLIGHT);
    ck_assert_uint_eq(conn->inflight_count, 1);
    int sent_while_waiting = fx.sent_count;
    size_t offset_while_waiting = conn->sending_offset;
    pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.sent_count, sent_while_waiting); /* waiting, not spinning */
    ck_assert_uint_eq(conn->sending_offset, offset_while_waiting);
    /* the peer reads: everything goes */
    char *received = malloc(LARGE_SEND_BYTES);
    ck_assert_ptr_nonnull(received);
    size_t received_length = 0;
    int64_t deadline_ns = clock_monotonic_ns() + PUMP_TIMEOUT_NS;
    while (received_length < LARGE_SEND_BYTES && clock_monotonic_ns() < deadline_ns) {
        size_t room = LARGE_SEND_BYTES - received_length;
        received_length += peer_read_some(peer, received + received_length,
                                          room < PEER_READ_CHUNK ? room : PEER_READ_CHUNK);
        pump_once(&fx);
    }
    ck_assert_uint_eq(received_length, LARGE_SEND_BYTES);
    ck_assert(pattern_matches(received, 0, LARGE_SEND_BYTES));
    PUMP_UNTIL(&fx, !(conn->flags & CONN_F_SEND_INFLIGHT));
    ck_assert_uint_eq(conn->sending_offset, LARGE_SEND_BYTES);
    ck_assert_uint_eq(conn->inflight_count, 0);
    ck_assert_int_gt(fx.sent_count, 1);
    /* epoll sends all that is left in one non-blocking send(2), which ends at once however
     * much it moved (here more than LOOP_SEND_MAX): the bound loop.h states holds on io_uring
     * only */
    if (fx.backend == LOOP_URING) {
        ck_assert_int_le(fx.sent_result_max, LOOP_SEND_MAX);
    }
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    free(received);
    close(peer);
    fixture_fini(&fx);
}
END_TEST

/* A send to a peer that is gone ends once with an error, not a byte count. */
START_TEST(test_send_to_closed_peer)
{
    struct fixture fx;
    fixture_init(&fx, backends[_i]);
    int peer;
    struct conn *conn = conn_open(&fx, &peer);
    close(peer);
    sending_fill(conn, 100);
    send_start(&fx, conn);
    ck_assert_int_eq(fx.sent_count, 0);
    PUMP_UNTIL(&fx, fx.sent_count == 1);
    ck_assert_int_eq(fx.sent_result, -EPIPE);
    ck_assert_uint_eq(fx.sent_flags & CONN_F_SEND_INFLIGHT, 0);
    ck_assert_uint_eq(fx.sent_inflight, 0);
    pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.sent_count, 1);
    fixture_fini(&fx);
}
END_TEST

/* ---- accepting ---- */

static int listener_open(struct sockaddr_in *address)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    *address = (struct sockaddr_in){.sin_family = AF_INET,
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (const struct sockaddr *)address, sizeof *address), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    socklen_t length = sizeof *address;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)address, &length), 0);
    return fd;
}

static int client_connect(const struct sockaddr_in *address)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (const struct sockaddr *)address, sizeof *address), 0);
    return fd;
}

/* The accepted descriptor is the server end of `client`. */
static void assert_accepted_pairs(int accepted_fd, int client)
{
    struct sockaddr_in server_peer = {0};
    struct sockaddr_in client_local = {0};
    socklen_t length = sizeof server_peer;
    ck_assert_int_eq(getpeername(accepted_fd, (struct sockaddr *)&server_peer, &length), 0);
    length = sizeof client_local;
    ck_assert_int_eq(getsockname(client, (struct sockaddr *)&client_local, &length), 0);
    ck_assert_uint_eq(server_peer.sin_port, client_local.sin_port);
}

/* accepted(fd ≥ 0, armed) for each connection; after loop_accept_stop none is taken (an
 * end reported then says armed false); accepting started again takes the one that waited. */
START_TEST(test_accept)
{
    struct fixture fx;
    fixture_init(&fx, backends[_i]);
    struct sockaddr_in address;
    int listen_fd = listener_open(&address);
    fx.starting = true;
    loop_accept_start(fx.loop, listen_fd);
    fx.starting = false;
    for (int i = 1; i <= 2; i++) {
        int client = client_connect(&address);
        PUMP_UNTIL(&fx, fx.accepted_count == i);
        ck_assert_int_ge(fx.accepted_result, 0);
        ck_assert(fx.accepted_armed);
        assert_accepted_pairs(fx.accepted_result, client);
        close(fx.accepted_result);
        close(client);
    }
    fx.starting = true;
    loop_accept_stop(fx.loop);
    fx.starting = false;
    int accepted_before_stop = fx.accepted_count;
    pump_for(&fx, QUIET_NS);
    if (fx.accepted_count > accepted_before_stop) {
        /* io_uring reports the cancelled accept's end */
        ck_assert_int_eq(fx.accepted_count, accepted_before_stop + 1);
        ck_assert_int_lt(fx.accepted_result, 0);
        ck_assert(!fx.accepted_armed);
    }
    int accepted_after_stop = fx.accepted_count;
    int waiting = client_connect(&address);
    pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.accepted_count, accepted_after_stop);
    fx.starting = true;
    loop_accept_start(fx.loop, listen_fd);
    fx.starting = false;
    PUMP_UNTIL(&fx, fx.accepted_count == accepted_after_stop + 1);
    ck_assert_int_ge(fx.accepted_result, 0);
    ck_assert(fx.accepted_armed);
    assert_accepted_pairs(fx.accepted_result, waiting);
    close(fx.accepted_result);
    close(waiting);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    fx.starting = true;
    loop_accept_stop(fx.loop);
    fx.starting = false;
    pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    fixture_fini(&fx);
    close(listen_fd);
}
END_TEST

/* ---- other loops, control, time ---- */

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
    struct fixture fx;
    waiter->create_rc = fixture_try_init(&fx, waiter->backend);
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
    waiter->waited_ns = elapsed_since(start_ns);
    loop_dispatch(fx.loop);
    fixture_fini(&fx);
    return NULL;
}

/* loop_wake from this thread's loop ends another thread's loop_wait long before its
 * timeout. */
START_TEST(test_wake_other_thread)
{
    struct fixture fx;
    fixture_init(&fx, backends[_i]);
    struct waiter waiter = {.backend = backends[_i]};
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
    ck_assert_int_eq(loop_wait(fx.loop, 0), 0); /* submits what is queued (io_uring) */
    loop_dispatch(fx.loop);
    ck_assert_int_eq(pthread_join(thread, NULL), 0);
    ck_assert_int_eq(waiter.wait_rc, 0);
    ck_assert_msg(waiter.waited_ns < WAKE_LATE_NS, "the woken loop waited %lld ms",
                  (long long)(waiter.waited_ns / 1000000));
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    pthread_cond_destroy(&waiter.ready_changed);
    pthread_mutex_destroy(&waiter.lock);
    fixture_fini(&fx);
}
END_TEST

/* Two loops on one thread: a wake that the target collects later still ends its wait at
 * once, and reports nothing to its handlers. */
START_TEST(test_wake_same_thread)
{
    struct fixture source;
    struct fixture target;
    fixture_init(&source, backends[_i]);
    fixture_init(&target, backends[_i]);
    ck_assert_int_eq(loop_wait(target.loop, 0), 0);
    loop_dispatch(target.loop);
    loop_wake(source.loop, &target.loop->peer);
    ck_assert_int_eq(loop_wait(source.loop, 0), 0);
    loop_dispatch(source.loop);
    int64_t start_ns = clock_monotonic_ns();
    ck_assert_int_eq(loop_wait(target.loop, WAKE_WAIT_NS), 0);
    ck_assert_int_lt(elapsed_since(start_ns), WAKE_LATE_NS);
    loop_dispatch(target.loop);
    ck_assert_int_eq(target.accepted_count + target.received_count + target.recv_ended_count +
                         target.sent_count + target.control_count + target.handed_count +
                         target.handoff_failed_count,
                     0);
    fixture_fini(&target);
    fixture_fini(&source);
}
END_TEST

/* A descriptor handed to another loop comes out of its `handed`, the same descriptor, and
 * nothing fails on the sending side. */
START_TEST(test_handoff)
{
    struct fixture source;
    struct fixture target;
    fixture_init(&source, backends[_i]);
    fixture_init(&target, backends[_i]);
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    source.starting = true;
    ck_assert_int_eq(loop_handoff(source.loop, &target.loop->peer, 1, fds[0]), 0);
    source.starting = false;
    ck_assert_int_eq(loop_wait(source.loop, 0), 0);
    loop_dispatch(source.loop);
    PUMP_UNTIL(&target, target.handed_count == 1);
    ck_assert_int_eq(target.handed_fd, fds[0]);
    ck_assert_int_eq(write(fds[1], "x", 1), 1);
    char byte;
    ck_assert_int_eq(read(target.handed_fd, &byte, 1), 1);
    pump_for(&source, QUIET_NS);
    ck_assert_int_eq(source.handoff_failed_count, 0);
    ck_assert_int_eq(source.handed_count, 0);
    ck_assert_int_eq(source.handler_inside_start_count, 0);
    close(fds[0]);
    close(fds[1]);
    fixture_fini(&target);
    fixture_fini(&source);
}
END_TEST

/* A handoff to something that is not a loop fails: at once (-errno) or through
 * handoff_failed with the same target and descriptor; either way it was not handed. */
START_TEST(test_handoff_failed)
{
    struct fixture fx;
    fixture_init(&fx, backends[_i]);
    int not_a_loop = eventfd(0, EFD_CLOEXEC);
    ck_assert_int_ge(not_a_loop, 0);
    const struct loop_peer bad = {.wake_fd = not_a_loop, .handoff_fd = not_a_loop};
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    fx.starting = true;
    int rc = loop_handoff(fx.loop, &bad, HANDOFF_TARGET, fds[0]);
    fx.starting = false;
    if (rc == 0) {
        PUMP_UNTIL(&fx, fx.handoff_failed_count == 1);
        ck_assert_int_eq(fx.handoff_failed_target, HANDOFF_TARGET);
        ck_assert_int_eq(fx.handoff_failed_fd, fds[0]);
        ck_assert_int_lt(fx.handoff_failed_error, 0);
    } else {
        ck_assert_int_lt(rc, 0);
        pump_for(&fx, QUIET_NS);
        ck_assert_int_eq(fx.handoff_failed_count, 0);
    }
    ck_assert_int_eq(fx.handed_count, 0);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    close(fds[0]);
    close(fds[1]);
    close(not_a_loop);
    fixture_fini(&fx);
}
END_TEST

/* What main writes to the control eventfd comes out of `control`, each time (the read is
 * armed again); a wait with no limit returns for it. */
START_TEST(test_control)
{
    struct fixture fx;
    fixture_init(&fx, backends[_i]);
    uint64_t value = CONTROL_VALUE_FIRST;
    ck_assert_int_eq(write(fx.control_fd, &value, sizeof value), (ssize_t)sizeof value);
    ck_assert_int_eq(loop_wait(fx.loop, INT64_MAX), 0);
    PUMP_UNTIL(&fx, fx.control_count == 1);
    ck_assert_uint_eq(fx.control_value, CONTROL_VALUE_FIRST);
    ck_assert_int_eq(fx.control_error, 0);
    pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.control_count, 1);
    value = CONTROL_VALUE_SECOND;
    ck_assert_int_eq(write(fx.control_fd, &value, sizeof value), (ssize_t)sizeof value);
    PUMP_UNTIL(&fx, fx.control_count == 2);
    ck_assert_uint_eq(fx.control_value, CONTROL_VALUE_SECOND);
    ck_assert_int_eq(fx.control_error, 0);
    fixture_fini(&fx);
}
END_TEST

/* Nothing ready: a wait returns after about its timeout (bounded loosely both ways), and a
 * wait of 0 only collects. Nothing is reported. */
START_TEST(test_wait_timeout)
{
    struct fixture fx;
    fixture_init(&fx, backends[_i]);
    ck_assert_int_eq(loop_wait(fx.loop, 0), 0);
    loop_dispatch(fx.loop);
    int64_t start_ns = clock_monotonic_ns();
    ck_assert_int_eq(loop_wait(fx.loop, WAIT_TIMEOUT_NS), 0);
    int64_t waited_ns = elapsed_since(start_ns);
    ck_assert_msg(waited_ns >= WAIT_EARLY_NS && waited_ns < WAIT_LATE_NS,
                  "a wait of %lld ms took %lld ms", (long long)(WAIT_TIMEOUT_NS / 1000000),
                  (long long)(waited_ns / 1000000));
    loop_dispatch(fx.loop);
    start_ns = clock_monotonic_ns();
    ck_assert_int_eq(loop_wait(fx.loop, 0), 0);
    ck_assert_int_lt(elapsed_since(start_ns), WAIT_EARLY_NS);
    loop_dispatch(fx.loop);
    ck_assert_int_eq(fx.accepted_count + fx.received_count + fx.recv_ended_count +
                         fx.sent_count + fx.control_count + fx.handed_count +
                         fx.handoff_failed_count,
                     0);
    fixture_fini(&fx);
}
END_TEST

/* ---- choosing a backend ---- */

START_TEST(test_backend_choose)
{
    struct config config;
    config_default(&config);
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

static Suite *loop_suite(bool uring_works)
{
    Suite *suite = suite_create("loop");
    /* loop iteration 0 is io_uring, 1 epoll (`backends`) */
    int first = uring_works ? 0 : 1;
    int end = (int)(sizeof backends / sizeof backends[0]);
    TCase *io = tcase_create("io");
    tcase_add_loop_test(io, test_recv_in_order, first, end);
    tcase_add_loop_test(io, test_recv_stop, first, end);
    tcase_add_loop_test(io, test_recv_stop_collected, first, end);
    tcase_add_loop_test(io, test_recv_peer_close, first, end);
    tcase_add_loop_test(io, test_recv_not_a_socket, first, end);
    tcase_add_loop_test(io, test_send, first, end);
    tcase_add_loop_test(io, test_inflight_bookkeeping, first, end);
    tcase_add_loop_test(io, test_send_waits_for_reader, first, end);
    tcase_add_loop_test(io, test_send_to_closed_peer, first, end);
    tcase_add_loop_test(io, test_accept, first, end);
    suite_add_tcase(suite, io);
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
    struct config config;
    char *argv[] = {"ionats", NULL};
    FILE *sink = fopen("/dev/null", "w");
    if (sink == NULL || config_parse(&config, 1, argv, sink, sink) != CONFIG_RUN) {
        fprintf(stderr, "test_loop: the default configuration does not parse\n");
        return EXIT_FAILURE;
    }
    fclose(sink);
    char reason[160];
    bool uring_works = loop_uring_probe(&config, reason, sizeof reason) == 0;
    if (!uring_works) {
        printf("test_loop: io_uring refused here (%s): its cases are skipped, the epoll cases "
               "run\n",
               reason);
        fflush(stdout); /* before Check forks: once, not once per child */
    }
    SRunner *runner = srunner_create(loop_suite(uring_works));
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
