/* The epoll backend of the loop interface (loop.h), for hosts and containers where
 * io_uring is refused (Docker's and containerd's default seccomp profiles,
 * kernel.io_uring_disabled).
 *
 * The one idea: readiness is turned into the same completions io_uring gives. A socket is
 * registered level-triggered for what its connection waits for — EPOLLIN while a receive
 * runs, EPOLLOUT while a send waits for room — and not at all otherwise, so a paused
 * connection costs nothing and cannot spin the loop. A receive reads one buffer per ready
 * connection per dispatch (fair across connections; level triggering brings it back). A
 * send is tried at once, as io_uring would; when it moves bytes or fails its end waits on
 * the `done` list (with a cancelled receive's end) until the next dispatch, so no handler
 * runs inside the call that started the operation.
 *
 * Other shards wake this one through an eventfd and hand it connections through a pipe
 * (a descriptor number is 4 bytes, written atomically by any number of producers). The
 * shard's stream stores write and sync on a helper thread (store_thread.h), whose
 * completions come back through an eventfd watched here.
 *
 * One thread: the shard's. */
#include "engine/loop.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/config.h"
#include "engine/store_thread.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

enum event_tag {
    EV_CONN = 1,
    EV_LISTEN,
    EV_CONTROL,
    EV_XWAKE,
    EV_HANDOFF,
    EV_STORE, /* the store helper thread has completions */
};

enum {
    /* Readiness events taken per wait. */
    EVENT_CAPACITY = 256,
    /* Connections accepted per readiness of the listening socket. */
    ACCEPT_BATCH = 64,
    /* Descriptors read from the handoff pipe per readiness. */
    HANDOFF_BATCH = 64,
    /* Stream-store operations in flight at most, as on io_uring. */
    STORE_IN_FLIGHT_MAX = 1024,
    /* Store completions run per dispatch. */
    STORE_REAP_BUDGET = 1024,
};

/* conn->io_events: the events registered (EPOLLIN, EPOLLOUT; 0 when not registered) and
 * what this backend keeps of the connection's operations. */
enum {
    IO_REGISTERED_MASK = EPOLLIN | EPOLLOUT,
    IO_RECV = 1u << 24,           /* a receive runs: EPOLLIN wanted */
    IO_SEND_WAIT = 1u << 25,      /* a send waits for room: EPOLLOUT wanted */
    IO_DONE_QUEUED = 1u << 26,    /* on the done list */
    IO_SEND_DONE = 1u << 27,      /* the send ended with io_result */
    IO_RECV_CANCELLED = 1u << 28, /* loop_recv_stop ended the receive */
    IO_RECV_FAILED = 1u << 29,    /* the receive could not be registered */
};

struct loop_epoll {
    struct loop loop; /* first: epoll_from */
    int epoll_fd;
    int shard_index;
    int control_fd;     /* borrowed */
    int xwake_fd;       /* owned eventfd other shards write to */
    int handoff_read;   /* owned pipe: other shards write descriptors */
    int handoff_write;
    /* Per listener slot: the socket (borrowed, -1 when not accepting), and an accept_start
     * that failed, reported at the next dispatch. */
    int listen_fd[LOOP_LISTENER_COUNT];
    int accept_error[LOOP_LISTENER_COUNT];
    bool pwait2;        /* epoll_pwait2 works (nanosecond timeouts) */
    char *buffer;       /* owned: one receive's bytes */
    size_t buffer_size;
    int event_count;
    struct epoll_event events[EVENT_CAPACITY];
    struct conn *done_head; /* connections with an operation's end to report */
    struct conn *done_tail;
    struct store_thread store; /* the shard's stream stores write on its helper thread */
    bool store_ready;
};

static struct loop_epoll *epoll_from(struct loop *loop)
{
    return (struct loop_epoll *)loop;
}

static int ctl(struct loop_epoll *ep, int op, int fd, uint32_t events, uint64_t data)
{
    struct epoll_event event = {.events = events, .data.u64 = data};
    return epoll_ctl(ep->epoll_fd, op, fd, &event) == 0 ? 0 : -errno;
}

/* Registers what the connection now waits for. 0 or -errno (ENOMEM, ENOSPC: the user's
 * max_user_watches). */
static int interest_update(struct loop_epoll *ep, struct conn *conn)
{
    uint32_t want = ((conn->io_events & IO_RECV) ? (uint32_t)(EPOLLIN | EPOLLRDHUP) : 0) |
                    ((conn->io_events & IO_SEND_WAIT) ? (uint32_t)EPOLLOUT : 0);
    uint32_t have = conn->io_events & (IO_REGISTERED_MASK | EPOLLRDHUP);
    if (want == have) {
        return 0;
    }
    int rc;
    if (want == 0) {
        rc = ctl(ep, EPOLL_CTL_DEL, conn->fd, 0, 0);
    } else {
        rc = ctl(ep, have == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, conn->fd, want,
                 loop_tag(EV_CONN, conn));
    }
    if (rc == 0 || (want == 0 && rc == -EBADF)) {
        conn->io_events = (conn->io_events & ~(uint32_t)(IO_REGISTERED_MASK | EPOLLRDHUP)) |
                          want;
        return 0;
    }
    return rc;
}

static void done_queue(struct loop_epoll *ep, struct conn *conn, uint32_t what)
{
    conn->io_events |= what;
    if (conn->io_events & IO_DONE_QUEUED) {
        return;
    }
    conn->io_events |= IO_DONE_QUEUED;
    conn->io_next = NULL;
    if (ep->done_tail != NULL) {
        ep->done_tail->io_next = conn;
    } else {
        ep->done_head = conn;
    }
    ep->done_tail = conn;
}

/* ---- set-up ---- */

static int owned_fds_init(struct loop_epoll *ep)
{
    ep->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (ep->epoll_fd < 0) {
        return -errno;
    }
    ep->xwake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ep->xwake_fd < 0) {
        return -errno;
    }
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        return -errno;
    }
    ep->handoff_read = pipe_fds[0];
    ep->handoff_write = pipe_fds[1];
    int rc = ctl(ep, EPOLL_CTL_ADD, ep->xwake_fd, EPOLLIN, loop_tag(EV_XWAKE, NULL));
    if (rc == 0) {
        rc = ctl(ep, EPOLL_CTL_ADD, ep->handoff_read, EPOLLIN, loop_tag(EV_HANDOFF, NULL));
    }
    if (rc == 0 && ep->control_fd >= 0) {
        rc = ctl(ep, EPOLL_CTL_ADD, ep->control_fd, EPOLLIN, loop_tag(EV_CONTROL, NULL));
    }
    if (rc == 0) {
        rc = store_thread_init(&ep->store, STORE_IN_FLIGHT_MAX);
        ep->store_ready = rc == 0;
    }
    if (rc == 0) {
        rc = ctl(ep, EPOLL_CTL_ADD, store_thread_event_fd(&ep->store), EPOLLIN,
                 loop_tag(EV_STORE, NULL));
    }
    return rc;
}

static void owned_fds_close(struct loop_epoll *ep)
{
    if (ep->store_ready) {
        store_thread_destroy(&ep->store);
        ep->store_ready = false;
    }
    const int fds[] = {ep->epoll_fd, ep->xwake_fd, ep->handoff_read, ep->handoff_write};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
}

static const struct loop_ops epoll_ops;

int loop_epoll_create(const struct loop_setup *setup, struct loop **loop)
{
    struct loop_epoll *ep = calloc(1, sizeof *ep);
    if (ep == NULL) {
        return -ENOMEM;
    }
    ep->loop.ops = &epoll_ops;
    ep->shard_index = setup->shard_index;
    ep->control_fd = setup->control_fd;
    ep->epoll_fd = ep->xwake_fd = ep->handoff_read = ep->handoff_write = -1;
    for (int i = 0; i < LOOP_LISTENER_COUNT; i++) {
        ep->listen_fd[i] = -1;
    }
    ep->pwait2 = true;
    ep->buffer_size = (size_t)setup->config->recv_buf_size;
    ep->buffer = malloc(ep->buffer_size);
    int rc = ep->buffer == NULL ? -ENOMEM : owned_fds_init(ep);
    if (rc != 0) {
        LOG_ERROR("shard %d: setting up epoll failed: %s", setup->shard_index, strerror(-rc));
        owned_fds_close(ep);
        free(ep->buffer);
        free(ep);
        return rc;
    }
    ep->loop.peer = (struct loop_peer){.wake_fd = ep->xwake_fd,
                                       .handoff_fd = ep->handoff_write};
    ep->loop.store_io = &ep->store.io;
    *loop = &ep->loop;
    return 0;
}

static void epoll_destroy(struct loop *loop)
{
    struct loop_epoll *ep = epoll_from(loop);
    owned_fds_close(ep);
    free(ep->buffer);
    free(ep);
}

/* ---- operations ---- */

static void epoll_recv_start(struct loop *loop, struct conn *conn)
{
    struct loop_epoll *ep = epoll_from(loop);
    conn->io_events |= IO_RECV;
    int rc = interest_update(ep, conn);
    if (rc != 0) {
        LOG_WARN("shard %d: watching connection %llu failed: %s", ep->shard_index,
                 (unsigned long long)conn->id, strerror(-rc));
        conn->io_events &= ~(uint32_t)IO_RECV;
        done_queue(ep, conn, IO_RECV_FAILED);
    }
}

static void epoll_recv_stop(struct loop *loop, struct conn *conn)
{
    struct loop_epoll *ep = epoll_from(loop);
    if (!(conn->io_events & IO_RECV)) {
        return; /* its end is already queued */
    }
    conn->io_events &= ~(uint32_t)IO_RECV;
    (void)interest_update(ep, conn); /* a failed MOD/DEL only leaves extra events, ignored */
    done_queue(ep, conn, IO_RECV_CANCELLED);
}

/* One send(2) of what is left. The bytes sent, -EAGAIN, or another -errno. */
static int send_some(struct loop_epoll *ep, struct conn *conn)
{
    ep->loop.stats.submitted++;
    ssize_t n;
    do {
        n = sendmsg(conn->fd, &conn->send_msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
    return n > INT_MAX ? INT_MAX : (int)n;
}

static void epoll_send(struct loop *loop, struct conn *conn)
{
    struct loop_epoll *ep = epoll_from(loop);
    int result = send_some(ep, conn);
    if (result == -EAGAIN) {
        conn->io_events |= IO_SEND_WAIT;
        result = interest_update(ep, conn);
        if (result == 0) {
            return;
        }
        conn->io_events &= ~(uint32_t)IO_SEND_WAIT;
    }
    conn->io_result = result;
    done_queue(ep, conn, IO_SEND_DONE);
}

/* A listening socket's epoll data: its type, and its slot in the index bits. */
static uint64_t listen_tag(int listener)
{
    return loop_tag(EV_LISTEN, NULL) | (uint64_t)(uint32_t)listener << LOOP_TAG_INDEX_SHIFT;
}

static void epoll_accept_start(struct loop *loop, int listener, int listen_fd)
{
    struct loop_epoll *ep = epoll_from(loop);
    ASSERT(listener >= 0 && listener < LOOP_LISTENER_COUNT);
    ASSERT(ep->listen_fd[listener] < 0);
    /* accept4 must not block the shard when another shard took the connection first */
    int flags = fcntl(listen_fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK)) {
        (void)fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK);
    }
    int rc = ctl(ep, EPOLL_CTL_ADD, listen_fd, EPOLLIN, listen_tag(listener));
    if (rc != 0) {
        ep->accept_error[listener] = rc;
        return;
    }
    ep->listen_fd[listener] = listen_fd;
}

static void epoll_accept_stop(struct loop *loop, int listener)
{
    struct loop_epoll *ep = epoll_from(loop);
    ASSERT(listener >= 0 && listener < LOOP_LISTENER_COUNT);
    if (ep->listen_fd[listener] >= 0) {
        (void)ctl(ep, EPOLL_CTL_DEL, ep->listen_fd[listener], 0, 0);
        ep->listen_fd[listener] = -1;
    }
}

/* True when some listener's failed start waits to be reported. */
static bool accept_error_waiting(const struct loop_epoll *ep)
{
    for (int i = 0; i < LOOP_LISTENER_COUNT; i++) {
        if (ep->accept_error[i] != 0) {
            return true;
        }
    }
    return false;
}

static void epoll_wake(struct loop *loop, const struct loop_peer *peer)
{
    (void)loop;
    uint64_t one = 1;
    /* fails only when the counter would overflow, and then the peer is awake anyway */
    (void)!write(peer->wake_fd, &one, sizeof one);
}

static int epoll_handoff(struct loop *loop, const struct loop_peer *peer, int target, int fd)
{
    (void)loop;
    (void)target;
    ssize_t n;
    do {
        n = write(peer->handoff_fd, &fd, sizeof fd);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof fd) {
        return 0;
    }
    return n < 0 ? -errno : -EIO; /* a pipe writes 4 bytes whole or not at all */
}

static int epoll_wait_ns(struct loop *loop, int64_t timeout_ns)
{
    struct loop_epoll *ep = epoll_from(loop);
    if (ep->done_head != NULL || accept_error_waiting(ep)) {
        timeout_ns = 0; /* ends are waiting to be reported */
    }
    int n = -1;
    if (ep->pwait2 && timeout_ns > 0 && timeout_ns != INT64_MAX) {
        struct timespec timeout = {.tv_sec = timeout_ns / NS_PER_SEC,
                                   .tv_nsec = timeout_ns % NS_PER_SEC};
        n = epoll_pwait2(ep->epoll_fd, ep->events, EVENT_CAPACITY, &timeout, NULL);
        if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
            ep->pwait2 = false; /* an older kernel, or a seccomp profile without it */
        } else {
            goto done;
        }
    }
    int timeout_ms = -1;
    if (timeout_ns != INT64_MAX) {
        int64_t ms = (timeout_ns + NS_PER_MS - 1) / NS_PER_MS; /* never wake early */
        timeout_ms = ms > INT_MAX ? INT_MAX : (int)ms;
    }
    n = epoll_wait(ep->epoll_fd, ep->events, EVENT_CAPACITY, timeout_ms);
done:
    if (n < 0) {
        ep->event_count = 0;
        return errno == EINTR ? 0 : -errno;
    }
    ep->event_count = n;
    return 0;
}

/* ---- dispatch ---- */

static void on_conn_readable(struct loop_epoll *ep, struct conn *conn)
{
    ep->loop.stats.submitted++;
    ssize_t n;
    do {
        n = recv(conn->fd, ep->buffer, ep->buffer_size, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        ep->loop.handlers.received(ep->loop.handlers.ctx, conn, ep->buffer, (size_t)n);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    int result = n == 0 ? 0 : -errno;
    conn->io_events &= ~(uint32_t)IO_RECV;
    (void)interest_update(ep, conn);
    loop_recv_end(&ep->loop, conn, result);
}

static void on_conn_writable(struct loop_epoll *ep, struct conn *conn)
{
    int result = send_some(ep, conn);
    if (result == -EAGAIN) {
        return;
    }
    conn->io_events &= ~(uint32_t)IO_SEND_WAIT;
    (void)interest_update(ep, conn);
    loop_send_end(&ep->loop, conn, result);
}

static void on_conn(struct loop_epoll *ep, uint64_t data, uint32_t events)
{
    struct conn *conn = loop_tag_conn(&ep->loop, data);
    if (conn == NULL) {
        return; /* closed and freed after this batch of events was taken */
    }
    if ((conn->io_events & IO_SEND_WAIT) && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        on_conn_writable(ep, conn);
    }
    if ((conn->io_events & IO_RECV) &&
        (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) {
        on_conn_readable(ep, conn);
    }
}

static void on_listen(struct loop_epoll *ep, int listener)
{
    const struct loop_handlers *handlers = &ep->loop.handlers;
    for (int i = 0; i < ACCEPT_BATCH && ep->listen_fd[listener] >= 0; i++) {
        ep->loop.stats.submitted++;
        int fd = accept4(ep->listen_fd[listener], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            handlers->accepted(handlers->ctx, listener, fd, true);
            continue;
        }
        int error = errno;
        if (error == EAGAIN || error == EWOULDBLOCK) {
            return;
        }
        if (error == EINTR || error == ECONNABORTED || error == EPROTO) {
            continue; /* that connection is gone; the next may be fine */
        }
        /* out of descriptors or memory: level triggering would spin, so stop accepting
         * until the shard's back-off is over */
        epoll_accept_stop(&ep->loop, listener);
        handlers->accepted(handlers->ctx, listener, -error, false);
        return;
    }
}

static void on_control(struct loop_epoll *ep)
{
    uint64_t value;
    ssize_t n = read(ep->control_fd, &value, sizeof value);
    if (n == (ssize_t)sizeof value) {
        ep->loop.handlers.control(ep->loop.handlers.ctx, value, 0);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        int error = errno;
        (void)ctl(ep, EPOLL_CTL_DEL, ep->control_fd, 0, 0);
        ep->loop.handlers.control(ep->loop.handlers.ctx, 0, -error);
    }
}

static void on_handoff(struct loop_epoll *ep)
{
    int fds[HANDOFF_BATCH];
    ssize_t n = read(ep->handoff_read, fds, sizeof fds);
    /* whole descriptors only: every write is 4 bytes and atomic */
    for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof fds[0]; i++) {
        ep->loop.handlers.handed(ep->loop.handlers.ctx, fds[i]);
    }
}

static void on_event(struct loop_epoll *ep, const struct epoll_event *event)
{
    uint64_t data = event->data.u64;
    switch ((enum event_tag)loop_tag_type(data)) {
    case EV_CONN:
        on_conn(ep, data, event->events);
        return;
    case EV_LISTEN: {
        uint32_t listener = loop_tag_index(data);
        ASSERT(listener < LOOP_LISTENER_COUNT); /* only listen_tag makes these */
        on_listen(ep, (int)listener);
        return;
    }
    case EV_CONTROL:
        on_control(ep);
        return;
    case EV_XWAKE: {
        uint64_t value;
        (void)!read(ep->xwake_fd, &value, sizeof value);
        ep->loop.stats.wakeups++;
        return;
    }
    case EV_HANDOFF:
        on_handoff(ep);
        return;
    case EV_STORE:
        (void)store_thread_reap(&ep->store, STORE_REAP_BUDGET);
        return;
    }
    UNREACHABLE();
}

/* Reports the ends queued before this dispatch began; ends queued by their handlers wait
 * for the next one. Returns how many connections had ends to report. */
static uint64_t done_run(struct loop_epoll *ep)
{
    uint64_t ran = 0;
    struct conn *conn = ep->done_head;
    ep->done_head = ep->done_tail = NULL;
    while (conn != NULL) {
        struct conn *next = conn->io_next;
        uint32_t what = conn->io_events;
        conn->io_events &=
            ~(uint32_t)(IO_DONE_QUEUED | IO_SEND_DONE | IO_RECV_CANCELLED | IO_RECV_FAILED);
        if (what & IO_RECV_CANCELLED) {
            loop_recv_end(&ep->loop, conn, -ECANCELED);
        } else if (what & IO_RECV_FAILED) {
            loop_recv_end(&ep->loop, conn, -ENOMEM);
        }
        if (what & IO_SEND_DONE) {
            loop_send_end(&ep->loop, conn, conn->io_result);
        }
        conn = next;
        ran++;
    }
    return ran;
}

static void epoll_dispatch(struct loop *loop)
{
    struct loop_epoll *ep = epoll_from(loop);
    for (int i = 0; i < LOOP_LISTENER_COUNT; i++) {
        if (ep->accept_error[i] != 0) {
            int error = ep->accept_error[i];
            ep->accept_error[i] = 0;
            ep->loop.handlers.accepted(ep->loop.handlers.ctx, i, error, false);
        }
    }
    int count = ep->event_count;
    ep->event_count = 0;
    for (int i = 0; i < count; i++) {
        on_event(ep, &ep->events[i]);
    }
    uint64_t ends = done_run(ep);
    io_histogram_observe(&ep->loop.stats.completions, (uint64_t)count + ends, 0);
}

static void epoll_store_stats(const struct loop *loop, struct loop_stats *stats)
{
    const struct store_thread *store = &((const struct loop_epoll *)loop)->store;
    stats->store_writes = store->write_count;
    stats->store_datasyncs = store->datasync_count;
    stats->datasync_ns = store->datasync_ns;
}

static const struct loop_ops epoll_ops = {
    .name = "epoll",
    .recv_start = epoll_recv_start,
    .recv_stop = epoll_recv_stop,
    .send = epoll_send,
    .accept_start = epoll_accept_start,
    .accept_stop = epoll_accept_stop,
    .wake = epoll_wake,
    .handoff = epoll_handoff,
    .wait = epoll_wait_ns,
    .dispatch = epoll_dispatch,
    .destroy = epoll_destroy,
    .store_stats = epoll_store_stats,
};
