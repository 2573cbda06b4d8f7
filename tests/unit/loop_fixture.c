/* The fixture of the loop interface tests (loop_fixture.h): the handlers that record
 * what the loop told them, the set-up and tear-down of a shard's worth of state, and the
 * helpers that drive the loop and play the peer. Test code only, one thread per fixture. */
#include "tests/unit/loop_fixture.h"

/* Backend of loop iteration `index` (tcase_add_loop_test). */
const enum loop_backend loop_fixture_backends[2] = {LOOP_URING, LOOP_EPOLL};

const struct conn_kind loop_fixture_kind = {
    .name = "test",
    .size = sizeof(struct conn),
};

static void handler_note(struct loop_fixture *fx)
{
    if (fx->starting) {
        fx->handler_inside_start_count++;
    }
}

static void on_accepted(void *ctx, int listener, int result, bool armed)
{
    struct loop_fixture *fx = ctx;
    handler_note(fx);
    fx->accepted_count++;
    fx->accepted_result = result;
    fx->accepted_armed = armed;
}

static void on_received(void *ctx, struct conn *conn, const char *data, size_t length)
{
    struct loop_fixture *fx = ctx;
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
    struct loop_fixture *fx = ctx;
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

void loop_fixture_send_start(struct loop_fixture *fx, struct conn *conn)
{
    bool starting = fx->starting;
    fx->starting = true;
    loop_send(fx->loop, conn);
    fx->starting = starting;
}

static void on_sent(void *ctx, struct conn *conn, int result)
{
    struct loop_fixture *fx = ctx;
    handler_note(fx);
    fx->sent_count++;
    fx->sent_result = result;
    if (result > fx->sent_result_max) {
        fx->sent_result_max = result;
    }
    fx->sent_flags = conn->flags;
    fx->sent_inflight = conn->inflight_count;
    if (result > 0) {
        conn_sent(conn, (size_t)result); /* as the shard does: the bytes leave the output */
        if (fx->send_resume && conn_pending_bytes(conn) > 0) {
            loop_fixture_send_start(fx, conn);
        }
    }
}

static void on_control(void *ctx, uint64_t value, int error)
{
    struct loop_fixture *fx = ctx;
    handler_note(fx);
    fx->control_count++;
    fx->control_value = value;
    fx->control_error = error;
}

static void on_handed(void *ctx, int fd)
{
    struct loop_fixture *fx = ctx;
    handler_note(fx);
    fx->handed_count++;
    fx->handed_fd = fd;
}

static void on_handoff_failed(void *ctx, int target, int fd, int error)
{
    struct loop_fixture *fx = ctx;
    handler_note(fx);
    fx->handoff_failed_count++;
    fx->handoff_failed_target = target;
    fx->handoff_failed_fd = fd;
    fx->handoff_failed_error = error;
}

void loop_fixture_config_default(struct config *config)
{
    char *argv[] = {"ionats", NULL};
    FILE *sink = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(sink);
    ck_assert_int_eq(config_parse(config, 1, argv, sink, sink), CONFIG_RUN);
    fclose(sink);
}

/* Creates the fixture's loop on the calling thread (an io_uring belongs to it). 0 or the
 * -errno of loop_create, with nothing left to free. */
int loop_fixture_try_init(struct loop_fixture *fx, enum loop_backend backend)
{
    memset(fx, 0, sizeof *fx);
    fx->backend = backend;
    loop_fixture_config_default(&fx->config);
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

void loop_fixture_init(struct loop_fixture *fx, enum loop_backend backend)
{
    ck_assert_int_eq(loop_fixture_try_init(fx, backend), 0);
}

/* The loop goes first: it may still hold buffers of the connections (loop.h). */
void loop_fixture_fini(struct loop_fixture *fx)
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

void loop_fixture_pump_once(struct loop_fixture *fx)
{
    ck_assert_int_eq(loop_wait(fx->loop, PUMP_WAIT_NS), 0);
    loop_dispatch(fx->loop);
}

void loop_fixture_turn(struct loop_fixture *fx)
{
    ck_assert_int_eq(loop_wait(fx->loop, 0), 0);
    loop_dispatch(fx->loop);
}


/* Drives the loop for `duration_ns`. */
void loop_fixture_pump_for(struct loop_fixture *fx, int64_t duration_ns)
{
    int64_t deadline_ns = clock_monotonic_ns() + duration_ns;
    while (clock_monotonic_ns() < deadline_ns) {
        loop_fixture_pump_once(fx);
    }
}

/* A connection on one end of a fresh socketpair (non-blocking, as accepted sockets are);
 * the other end, also non-blocking, in *peer_fd. */
struct conn *loop_fixture_conn_open(struct loop_fixture *fx, int *peer_fd)
{
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds),
                     0);
    struct conn *conn = conn_table_take(&fx->table, &loop_fixture_kind);
    ck_assert_ptr_nonnull(conn);
    conn->fd = fds[0];
    *peer_fd = fds[1];
    return conn;
}

void loop_fixture_recv_start(struct loop_fixture *fx, struct conn *conn)
{
    ck_assert(!fx->recv_running);
    fx->recv_running = true;
    fx->starting = true;
    loop_recv_start(fx->loop, conn);
    fx->starting = false;
}

void loop_fixture_recv_stop(struct loop_fixture *fx, struct conn *conn)
{
    fx->starting = true;
    loop_recv_stop(fx->loop, conn);
    fx->starting = false;
}

/* A receive that ended as receives end now and then (LOOP_RECV_AGAIN, -ENOBUFS) is started
 * again, as the shard does; any other end is left for the case to look at. */
void loop_fixture_recv_restart_if_wanted(struct loop_fixture *fx, struct conn *conn)
{
    if (!fx->recv_running &&
        (fx->recv_ended_result == LOOP_RECV_AGAIN || fx->recv_ended_result == -ENOBUFS)) {
        fx->recv_ended_result = INT32_MIN;
        loop_fixture_recv_start(fx, conn);
    }
}

static char pattern_byte(size_t offset)
{
    return (char)((offset * 31 + offset / 251 + 7) & 0xff);
}

void loop_fixture_pattern_fill(char *data, size_t offset, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        data[i] = pattern_byte(offset + i);
    }
}

bool loop_fixture_pattern_matches(const char *data, size_t offset, size_t length)
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
void loop_fixture_peer_write_all(struct loop_fixture *fx, struct conn *conn, int fd,
                                 const char *data, size_t length)
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
        loop_fixture_pump_once(fx);
        loop_fixture_recv_restart_if_wanted(fx, conn);
    }
}

/* Reads what the non-blocking `fd` has, up to `size`. */
size_t loop_fixture_peer_read_some(int fd, char *buffer, size_t size)
{
    ssize_t n = read(fd, buffer, size);
    if (n < 0) {
        ck_assert_msg(errno == EAGAIN, "peer read: %s", strerror(errno));
        return 0;
    }
    return (size_t)n;
}

void loop_fixture_output_add(struct conn *conn, size_t offset, size_t length)
{
    ck_assert_int_eq(outq_reserve(&conn->out, &conn->table->out_pool, length), 0);
    char piece[4096];
    while (length > 0) {
        size_t take = length < sizeof piece ? length : sizeof piece;
        loop_fixture_pattern_fill(piece, offset, take);
        conn_put(conn, piece, take);
        offset += take;
        length -= take;
    }
}

int64_t loop_fixture_elapsed_since(int64_t start_ns)
{
    return clock_monotonic_ns() - start_ns;
}

int loop_fixture_main(const char *name, Suite *(*make)(bool uring_works))
{
    struct config config;
    char *argv[] = {"ionats", NULL};
    FILE *sink = fopen("/dev/null", "w");
    if (sink == NULL || config_parse(&config, 1, argv, sink, sink) != CONFIG_RUN) {
        fprintf(stderr, "%s: the default configuration does not parse\n", name);
        return EXIT_FAILURE;
    }
    fclose(sink);
    char reason[160];
    bool uring_works = loop_uring_probe(&config, reason, sizeof reason) == 0;
    if (!uring_works) {
        printf("%s: io_uring refused here (%s): its cases are skipped, the epoll cases run\n",
               name, reason);
        fflush(stdout); /* before Check forks: once, not once per child */
    }
    SRunner *runner = srunner_create(make(uring_works));
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
