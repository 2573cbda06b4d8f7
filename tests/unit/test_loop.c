/* Unit tests for the loop interface (engine/loop.h): receiving, sending and accepting,
 * every case run on both backends:
 * io_uring (loop_uring.c) and epoll (loop_epoll.c). When this process may not set up an
 * io_uring (seccomp, kernel.io_uring_disabled), the io_uring half is skipped and main says
 * why; the epoll half always runs.
 * Other loops, control and time are in test_loop_control.c.
 *
 * Each case builds what a shard has: a timer wheel, a connection table with a dummy kind,
 * the default configuration and an eventfd for control, and a loop whose handlers only
 * record what they were told. Connections are socketpair(AF_UNIX) ends (the connection's
 * end non-blocking, as accepted sockets are); accepting uses a loopback TCP listener. The
 * loop is driven as a shard drives it, loop_wait then loop_dispatch, every wait bounded.
 *
 * What is checked is what loop.h promises: bytes arrive in order; every receive started
 * ends exactly once (an error too) and nothing is received after its end; a send ends once
 * with its byte count (at most LOOP_SEND_MAX); no handler runs inside the call
 * that started an operation; the flags and in-flight count of loop.c are right at every
 * end. */
#include "tests/unit/loop_fixture.h"

/* ---- receiving ---- */

/* Several writes of sizes around the receive buffer's, the largest above it: every byte
 * arrives through `received`, in order, and none after the receive's end. */
START_TEST(test_recv_in_order)
{
    struct loop_fixture fx;
    loop_fixture_init(&fx, loop_fixture_backends[_i]);
    int peer;
    struct conn *conn = loop_fixture_conn_open(&fx, &peer);
    loop_fixture_recv_start(&fx, conn);
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
    loop_fixture_pattern_fill(data, 0, total);
    size_t offset = 0;
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        loop_fixture_peer_write_all(&fx, conn, peer, data + offset, chunks[i]);
        offset += chunks[i];
        loop_fixture_pump_once(&fx);
        loop_fixture_recv_restart_if_wanted(&fx, conn);
    }
    int64_t deadline_ns = clock_monotonic_ns() + PUMP_TIMEOUT_NS;
    while (fx.received_length < total && clock_monotonic_ns() < deadline_ns) {
        loop_fixture_pump_once(&fx);
        loop_fixture_recv_restart_if_wanted(&fx, conn);
    }
    ck_assert_uint_eq(fx.received_length, total);
    ck_assert(loop_fixture_pattern_matches(fx.received_data, 0, total));
    ck_assert_int_eq(fx.received_after_end_count, 0);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    /* only the ends a receive has now and then, each started again */
    ck_assert(fx.recv_running);
    ck_assert_uint_eq(conn->flags & CONN_F_RECV_ARMED, CONN_F_RECV_ARMED);
    ck_assert_uint_eq(conn->inflight_count, 1);
    loop_fixture_recv_stop(&fx, conn);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, !fx.recv_running);
    free(data);
    close(peer);
    loop_fixture_fini(&fx);
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
    struct loop_fixture fx;
    loop_fixture_init(&fx, backend);
    int peer;
    struct conn *conn = loop_fixture_conn_open(&fx, &peer);
    enum { FIRST_BYTES = 1000, SECOND_BYTES = 150000, TOTAL = FIRST_BYTES + SECOND_BYTES };
    char *data = malloc(TOTAL);
    ck_assert_ptr_nonnull(data);
    loop_fixture_pattern_fill(data, 0, TOTAL);
    loop_fixture_recv_start(&fx, conn);
    loop_fixture_peer_write_all(&fx, conn, peer, data, FIRST_BYTES);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.received_length == FIRST_BYTES);
    /* more bytes in the socket while the stop is on its way */
    loop_fixture_peer_write_all(&fx, conn, peer, data + FIRST_BYTES, SECOND_BYTES);
    if (collected) {
        ck_assert_int_eq(loop_wait(fx.loop, PUMP_WAIT_NS), 0);
    }
    int received_before_stop = fx.received_count;
    loop_fixture_recv_stop(&fx, conn);
    ck_assert_uint_eq(conn->flags & CONN_F_RECV_STOPPING, CONN_F_RECV_STOPPING);
    loop_fixture_recv_stop(&fx, conn); /* a second stop of the same receive adds nothing */
    ck_assert_int_eq(fx.recv_ended_count, 0);
    if (collected) {
        loop_dispatch(fx.loop); /* what that wait took, before any other wait */
    }
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.recv_ended_count == 1);
    ck_assert_int_eq(fx.recv_ended_result, -ECANCELED);
    ck_assert_uint_eq(fx.recv_ended_flags & (CONN_F_RECV_ARMED | CONN_F_RECV_STOPPING), 0);
    ck_assert_uint_eq(fx.recv_ended_inflight, 0);
    if (fx.backend == LOOP_EPOLL) {
        /* readiness is only acted on while the receive runs */
        ck_assert_int_eq(fx.received_count, received_before_stop);
    }
    size_t received_at_end = fx.received_length;
    ck_assert(loop_fixture_pattern_matches(fx.received_data, 0, received_at_end));
    loop_fixture_pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.recv_ended_count, 1);
    ck_assert_uint_eq(fx.received_length, received_at_end);
    ck_assert_int_eq(fx.received_after_end_count, 0);
    ck_assert_uint_eq(conn->inflight_count, 0);
    /* a stop with no receive running does nothing */
    loop_fixture_recv_stop(&fx, conn);
    ck_assert_uint_eq(conn->flags & CONN_F_RECV_STOPPING, 0);
    loop_fixture_pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.recv_ended_count, 1);
    /* started again: the rest, exactly */
    loop_fixture_recv_start(&fx, conn);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.received_length >= TOTAL);
    loop_fixture_pump_for(&fx, QUIET_NS);
    ck_assert_uint_eq(fx.received_length, TOTAL);
    ck_assert(loop_fixture_pattern_matches(fx.received_data, 0, TOTAL));
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    loop_fixture_recv_stop(&fx, conn);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.recv_ended_count == 2);
    free(data);
    close(peer);
    loop_fixture_fini(&fx);
}

START_TEST(test_recv_stop)
{
    recv_stop_check(loop_fixture_backends[_i], false);
}
END_TEST

START_TEST(test_recv_stop_collected)
{
    recv_stop_check(loop_fixture_backends[_i], true);
}
END_TEST

/* After a receive's end was reported: the connection was disarmed and idle when it came,
 * no second end comes while the loop runs QUIET_NS more, and no handler ran inside a call
 * that started an operation. */
static void recv_ended_once_assert(struct loop_fixture *fx)
{
    ck_assert_uint_eq(fx->recv_ended_flags & CONN_F_RECV_ARMED, 0);
    ck_assert_uint_eq(fx->recv_ended_inflight, 0);
    loop_fixture_pump_for(fx, QUIET_NS);
    ck_assert_int_eq(fx->recv_ended_count, 1);
    ck_assert_int_eq(fx->handler_inside_start_count, 0);
}

/* The peer closes after writing: its bytes, then recv_ended(0), once. */
START_TEST(test_recv_peer_close)
{
    struct loop_fixture fx;
    loop_fixture_init(&fx, loop_fixture_backends[_i]);
    int peer;
    struct conn *conn = loop_fixture_conn_open(&fx, &peer);
    loop_fixture_recv_start(&fx, conn);
    ck_assert_int_eq(write(peer, "bye\r\n", 5), 5);
    close(peer);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.recv_ended_count == 1);
    ck_assert_int_eq(fx.recv_ended_result, 0);
    ck_assert_uint_eq(fx.received_length, 5);
    ck_assert_int_eq(memcmp(fx.received_data, "bye\r\n", 5), 0);
    recv_ended_once_assert(&fx);
    ck_assert_int_eq(fx.received_after_end_count, 0);
    loop_fixture_fini(&fx);
}
END_TEST

/* A receive on a descriptor that is no socket ends once with an error, never inside the
 * call that started it. */
START_TEST(test_recv_not_a_socket)
{
    struct loop_fixture fx;
    loop_fixture_init(&fx, loop_fixture_backends[_i]);
    struct conn *conn = conn_table_take(&fx.table, &loop_fixture_kind);
    ck_assert_ptr_nonnull(conn);
    conn->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(conn->fd, 0);
    loop_fixture_recv_start(&fx, conn);
    ck_assert_int_eq(fx.recv_ended_count, 0);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.recv_ended_count == 1);
    ck_assert_int_lt(fx.recv_ended_result, 0);
    ck_assert_int_ne(fx.recv_ended_result, -ECANCELED);
    ck_assert_int_ne(fx.recv_ended_result, -ENOBUFS);
    recv_ended_once_assert(&fx);
    ck_assert_int_eq(fx.received_count, 0);
    loop_fixture_fini(&fx);
}
END_TEST

/* ---- sending ---- */

/* A send the socket takes whole: `sent` with the byte count, never inside loop_send; the
 * flag and the count cleared before the handler; the peer reads exactly those bytes. */
START_TEST(test_send)
{
    struct loop_fixture fx;
    loop_fixture_init(&fx, loop_fixture_backends[_i]);
    int peer;
    struct conn *conn = loop_fixture_conn_open(&fx, &peer);
    enum { SEND_BYTES = 1000 };
    loop_fixture_output_add(conn, 0, SEND_BYTES);
    loop_fixture_send_start(&fx, conn);
    ck_assert_int_eq(fx.sent_count, 0);
    ck_assert_uint_eq(conn->flags & CONN_F_SEND_INFLIGHT, CONN_F_SEND_INFLIGHT);
    ck_assert_uint_eq(conn->inflight_count, 1);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.sent_count == 1);
    ck_assert_int_eq(fx.sent_result, SEND_BYTES);
    ck_assert_uint_eq(fx.sent_flags & CONN_F_SEND_INFLIGHT, 0);
    ck_assert_uint_eq(fx.sent_inflight, 0);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    char buffer[SEND_BYTES + 1];
    ck_assert_uint_eq(loop_fixture_peer_read_some(peer, buffer, sizeof buffer), SEND_BYTES);
    ck_assert(loop_fixture_pattern_matches(buffer, 0, SEND_BYTES));
    /* the sent bytes left the output: a send of output added since sends that only */
    ck_assert_uint_eq(conn_pending_bytes(conn), 0);
    loop_fixture_output_add(conn, SEND_BYTES - 10, 10);
    loop_fixture_send_start(&fx, conn);
    ck_assert_int_eq(fx.sent_count, 1);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.sent_count == 2);
    ck_assert_int_eq(fx.sent_result, 10);
    ck_assert_uint_eq(loop_fixture_peer_read_some(peer, buffer, sizeof buffer), 10);
    ck_assert(loop_fixture_pattern_matches(buffer, SEND_BYTES - 10, 10));
    loop_fixture_pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.sent_count, 2);
    close(peer);
    loop_fixture_fini(&fx);
}
END_TEST

/* A receive and a send in flight together: each end clears its own flag and one count. */
START_TEST(test_inflight_bookkeeping)
{
    struct loop_fixture fx;
    loop_fixture_init(&fx, loop_fixture_backends[_i]);
    int peer;
    struct conn *conn = loop_fixture_conn_open(&fx, &peer);
    loop_fixture_recv_start(&fx, conn);
    loop_fixture_output_add(conn, 0, 100);
    loop_fixture_send_start(&fx, conn);
    ck_assert_uint_eq(conn->flags & (CONN_F_RECV_ARMED | CONN_F_SEND_INFLIGHT),
                      CONN_F_RECV_ARMED | CONN_F_SEND_INFLIGHT);
    ck_assert_uint_eq(conn->inflight_count, 2);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.sent_count == 1);
    ck_assert_int_eq(fx.sent_result, 100);
    ck_assert_uint_eq(fx.sent_flags & (CONN_F_RECV_ARMED | CONN_F_SEND_INFLIGHT),
                      CONN_F_RECV_ARMED);
    ck_assert_uint_eq(fx.sent_inflight, 1);
    ck_assert_int_eq(fx.recv_ended_count, 0);
    loop_fixture_recv_stop(&fx, conn);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.recv_ended_count == 1);
    ck_assert_uint_eq(fx.recv_ended_flags & (CONN_F_RECV_ARMED | CONN_F_SEND_INFLIGHT), 0);
    ck_assert_uint_eq(fx.recv_ended_inflight, 0);
    char buffer[100];
    ck_assert_uint_eq(loop_fixture_peer_read_some(peer, buffer, sizeof buffer), 100);
    /* both again, the receive ending last this time (the peer closes) */
    loop_fixture_recv_start(&fx, conn);
    loop_fixture_output_add(conn, 0, 100);
    loop_fixture_send_start(&fx, conn);
    ck_assert_uint_eq(conn->inflight_count, 2);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.sent_count == 2);
    ck_assert_uint_eq(loop_fixture_peer_read_some(peer, buffer, sizeof buffer), 100);
    close(peer);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.recv_ended_count == 2);
    ck_assert_int_eq(fx.recv_ended_result, 0);
    ck_assert_uint_eq(conn->flags & (CONN_F_RECV_ARMED | CONN_F_SEND_INFLIGHT), 0);
    ck_assert_uint_eq(conn->inflight_count, 0);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    loop_fixture_fini(&fx);
}
END_TEST

/* A send to a peer that does not read: it moves what the socket takes (each operation at
 * most LOOP_SEND_MAX) and then waits, in flight; once the peer reads, the rest goes and the
 * peer has every byte in order. */
START_TEST(test_send_waits_for_reader)
{
    struct loop_fixture fx;
    loop_fixture_init(&fx, loop_fixture_backends[_i]);
    int peer;
    struct conn *conn = loop_fixture_conn_open(&fx, &peer);
    int sndbuf = LARGE_SNDBUF_BYTES;
    ck_assert_int_eq(setsockopt(conn->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    loop_fixture_output_add(conn, 0, LARGE_SEND_BYTES);
    fx.send_resume = true;
    loop_fixture_send_start(&fx, conn);
    ck_assert_int_eq(fx.sent_count, 0);
    loop_fixture_pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    ck_assert_uint_gt(conn_pending_bytes(conn), 0);
    ck_assert_uint_eq(conn->flags & CONN_F_SEND_INFLIGHT, CONN_F_SEND_INFLIGHT);
    ck_assert_uint_eq(conn->inflight_count, 1);
    int sent_while_waiting = fx.sent_count;
    size_t pending_while_waiting = conn_pending_bytes(conn);
    loop_fixture_pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.sent_count, sent_while_waiting); /* waiting, not spinning */
    ck_assert_uint_eq(conn_pending_bytes(conn), pending_while_waiting);
    /* the peer reads: everything goes */
    char *received = malloc(LARGE_SEND_BYTES);
    ck_assert_ptr_nonnull(received);
    size_t received_length = 0;
    int64_t deadline_ns = clock_monotonic_ns() + PUMP_TIMEOUT_NS;
    while (received_length < LARGE_SEND_BYTES && clock_monotonic_ns() < deadline_ns) {
        size_t room = LARGE_SEND_BYTES - received_length;
        received_length += loop_fixture_peer_read_some(
            peer, received + received_length, room < PEER_READ_CHUNK ? room : PEER_READ_CHUNK);
        loop_fixture_pump_once(&fx);
    }
    ck_assert_uint_eq(received_length, LARGE_SEND_BYTES);
    ck_assert(loop_fixture_pattern_matches(received, 0, LARGE_SEND_BYTES));
    LOOP_FIXTURE_PUMP_UNTIL(&fx, !(conn->flags & CONN_F_SEND_INFLIGHT));
    ck_assert_uint_eq(conn_pending_bytes(conn), 0);
    ck_assert_uint_eq(conn->inflight_count, 0);
    ck_assert_int_gt(fx.sent_count, 1);
    /* one send takes at most LOOP_SEND_MAX bytes (CONN_SEND_IOV_MAX chunks), on both */
    ck_assert_int_le(fx.sent_result_max, LOOP_SEND_MAX);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    free(received);
    close(peer);
    loop_fixture_fini(&fx);
}
END_TEST

/* A send to a peer that is gone ends once with an error, not a byte count. */
START_TEST(test_send_to_closed_peer)
{
    struct loop_fixture fx;
    loop_fixture_init(&fx, loop_fixture_backends[_i]);
    int peer;
    struct conn *conn = loop_fixture_conn_open(&fx, &peer);
    close(peer);
    loop_fixture_output_add(conn, 0, 100);
    loop_fixture_send_start(&fx, conn);
    ck_assert_int_eq(fx.sent_count, 0);
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.sent_count == 1);
    ck_assert_int_eq(fx.sent_result, -EPIPE);
    ck_assert_uint_eq(fx.sent_flags & CONN_F_SEND_INFLIGHT, 0);
    ck_assert_uint_eq(fx.sent_inflight, 0);
    loop_fixture_pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.sent_count, 1);
    loop_fixture_fini(&fx);
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
    struct loop_fixture fx;
    loop_fixture_init(&fx, loop_fixture_backends[_i]);
    struct sockaddr_in address;
    int listen_fd = listener_open(&address);
    fx.starting = true;
    loop_accept_start(fx.loop, LOOP_LISTENER_CLIENT, listen_fd);
    fx.starting = false;
    for (int i = 1; i <= 2; i++) {
        int client = client_connect(&address);
        LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.accepted_count == i);
        ck_assert_int_ge(fx.accepted_result, 0);
        ck_assert(fx.accepted_armed);
        assert_accepted_pairs(fx.accepted_result, client);
        close(fx.accepted_result);
        close(client);
    }
    fx.starting = true;
    loop_accept_stop(fx.loop, LOOP_LISTENER_CLIENT);
    fx.starting = false;
    int accepted_before_stop = fx.accepted_count;
    loop_fixture_pump_for(&fx, QUIET_NS);
    if (fx.accepted_count > accepted_before_stop) {
        /* io_uring reports the cancelled accept's end */
        ck_assert_int_eq(fx.accepted_count, accepted_before_stop + 1);
        ck_assert_int_lt(fx.accepted_result, 0);
        ck_assert(!fx.accepted_armed);
    }
    int accepted_after_stop = fx.accepted_count;
    int waiting = client_connect(&address);
    loop_fixture_pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.accepted_count, accepted_after_stop);
    fx.starting = true;
    loop_accept_start(fx.loop, LOOP_LISTENER_CLIENT, listen_fd);
    fx.starting = false;
    LOOP_FIXTURE_PUMP_UNTIL(&fx, fx.accepted_count == accepted_after_stop + 1);
    ck_assert_int_ge(fx.accepted_result, 0);
    ck_assert(fx.accepted_armed);
    assert_accepted_pairs(fx.accepted_result, waiting);
    close(fx.accepted_result);
    close(waiting);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    fx.starting = true;
    loop_accept_stop(fx.loop, LOOP_LISTENER_CLIENT);
    fx.starting = false;
    loop_fixture_pump_for(&fx, QUIET_NS);
    ck_assert_int_eq(fx.handler_inside_start_count, 0);
    loop_fixture_fini(&fx);
    close(listen_fd);
}
END_TEST


static Suite *loop_suite(bool uring_works)
{
    Suite *suite = suite_create("loop");
    /* loop iteration 0 is io_uring, 1 epoll (`loop_fixture_backends`) */
    int first = uring_works ? 0 : 1;
    int end = (int)(sizeof loop_fixture_backends / sizeof loop_fixture_backends[0]);
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
    return suite;
}

int main(void)
{
    return loop_fixture_main("test_loop", loop_suite);
}
