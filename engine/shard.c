/* The shard loop: see shard.h.
 *
 * user_data of every SQE encodes what completed: the operation type in the top 8 bits,
 * the connection slot in the next 24 and the slot's generation in the low 32, so a
 * completion for a connection that was closed and whose slot was reused is recognised
 * and dropped. A connection is freed only when no kernel operation refers to it any more
 * (its recv ended and its send completed); until then it sits on the closing list. */
#include "engine/shard.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/conn.h"
#include "engine/uring_compat.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

enum user_data_type {
    UD_ACCEPT = 1,
    UD_RECV,
    UD_SEND,
    UD_TICK,
    UD_WAKE,
    UD_IGNORE, /* cancellations: their own result is of no interest */
};

enum {
    UD_TYPE_SHIFT = 56,
    UD_INDEX_SHIFT = 32,
    UD_INDEX_MASK = 0xffffff,
    BUF_GROUP_ID = 0,
    CONN_SLOTS_MIN = 64,
    /* A completion queue larger than the submission queue: multishot receives and accepts
     * can complete many times per submission. */
    CQ_ENTRIES_PER_SQ_ENTRY = 8,
    /* Output capacity a connection keeps between bursts. */
    OUT_KEEP_BYTES = 64 * 1024,
};
/* Timer tick bounds: fine enough for sub-second ping intervals in tests, coarse enough
 * that an idle broker wakes only a few times a second. */
#define TICK_NS_MIN (10LL * 1000000LL)
#define TICK_NS_MAX (250LL * 1000000LL)

STATIC_ASSERT(CONFIG_RECV_BUF_COUNT_DEFAULT > 0 &&
                  (CONFIG_RECV_BUF_COUNT_DEFAULT & (CONFIG_RECV_BUF_COUNT_DEFAULT - 1)) == 0,
              "a provided buffer ring has a power-of-two size");

static uint64_t user_data_make(enum user_data_type type, const struct conn *conn)
{
    uint64_t value = (uint64_t)type << UD_TYPE_SHIFT;
    if (conn != NULL) {
        value |= (uint64_t)conn->index << UD_INDEX_SHIFT | conn->generation;
    }
    return value;
}

static struct conn *user_data_conn(struct shard *shard, uint64_t value)
{
    uint32_t index = (uint32_t)(value >> UD_INDEX_SHIFT) & UD_INDEX_MASK;
    uint32_t generation = (uint32_t)value;
    if (index >= shard->conn_capacity) {
        return NULL;
    }
    struct conn *conn = shard->conns[index];
    return (conn != NULL && conn->generation == generation) ? conn : NULL;
}

/* An SQE, submitting what is queued when the submission queue is full. */
static struct io_uring_sqe *sqe_get(struct shard *shard)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&shard->ring);
    while (sqe == NULL) {
        int rc = io_uring_submit(&shard->ring);
        ASSERT(rc >= 0 || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY);
        sqe = io_uring_get_sqe(&shard->ring);
    }
    return sqe;
}

/* ---- set-up ---- */

static int shard_buffers_init(struct shard *shard)
{
    const struct config *config = shard->server->config;
    shard->buf_count = (uint32_t)config->recv_buf_count;
    shard->buf_size = (uint32_t)config->recv_buf_size;
    size_t total = (size_t)shard->buf_count * shard->buf_size;
    shard->buf_memory = aligned_alloc(4096, (total + 4095) / 4096 * 4096);
    if (shard->buf_memory == NULL) {
        return -ENOMEM;
    }
    int error = 0;
    shard->buf_ring = compat_buf_ring_setup(&shard->ring, shard->buf_count, BUF_GROUP_ID, &error);
    if (shard->buf_ring == NULL) {
        free(shard->buf_memory);
        shard->buf_memory = NULL;
        return error;
    }
    int mask = io_uring_buf_ring_mask(shard->buf_count);
    for (uint32_t i = 0; i < shard->buf_count; i++) {
        io_uring_buf_ring_add(shard->buf_ring, shard->buf_memory + (size_t)i * shard->buf_size,
                              shard->buf_size, (unsigned short)i, mask, (int)i);
    }
    io_uring_buf_ring_advance(shard->buf_ring, (int)shard->buf_count);
    return 0;
}

static int shard_ring_init(struct shard *shard)
{
    const struct config *config = shard->server->config;
    struct io_uring_params params = {
        .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                 IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE,
        .cq_entries = (unsigned)config->ring_entries * CQ_ENTRIES_PER_SQ_ENTRY,
    };
    int rc = io_uring_queue_init_params((unsigned)config->ring_entries, &shard->ring, &params);
    if (rc != 0) {
        LOG_ERROR("shard %d: io_uring_setup with %lld entries failed: %s", shard->index,
                  (long long)config->ring_entries, strerror(-rc));
        return rc;
    }
    rc = io_uring_register_ring_fd(&shard->ring);
    if (rc < 0) {
        LOG_DEBUG("shard %d: ring fd not registered (%s); continuing", shard->index,
                  strerror(-rc));
    }
    return 0;
}

static int64_t tick_ns_choose(const struct config *config)
{
    int64_t shortest = config->ping_interval_ns < config->auth_timeout_ns
                           ? config->ping_interval_ns
                           : config->auth_timeout_ns;
    int64_t tick = shortest / 4;
    return tick < TICK_NS_MIN ? TICK_NS_MIN : (tick > TICK_NS_MAX ? TICK_NS_MAX : tick);
}

int shard_init(struct shard *shard, struct server *server, int index)
{
    memset(shard, 0, sizeof *shard);
    shard->index = index;
    shard->server = server;
    shard->wake_fd = -1;
    shard->tick_ns = tick_ns_choose(server->config);
    shard->tick.tv_sec = shard->tick_ns / NS_PER_SEC;
    shard->tick.tv_nsec = shard->tick_ns % NS_PER_SEC;
    int rc = shard_ring_init(shard);
    if (rc != 0) {
        return rc;
    }
    rc = shard_buffers_init(shard);
    if (rc != 0) {
        LOG_ERROR("shard %d: provided buffer ring (%u × %u bytes) failed: %s", index,
                  shard->buf_count, shard->buf_size, strerror(-rc));
        goto fail_buffers;
    }
    shard->sublist = sublist_create(server->hash_seed ^ (uint64_t)index);
    shard->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (shard->sublist == NULL || shard->wake_fd < 0) {
        rc = -ENOMEM;
        goto fail_index;
    }
    return 0;
fail_index:
    sublist_destroy(shard->sublist);
    shard->sublist = NULL;
    compat_buf_ring_free(&shard->ring, shard->buf_ring, shard->buf_count, BUF_GROUP_ID);
    free(shard->buf_memory);
fail_buffers:
    io_uring_queue_exit(&shard->ring);
    return rc;
}

/* ---- connection slots ---- */

static struct conn *conn_slot_take(struct shard *shard)
{
    if (shard->free_count == 0) {
        uint32_t capacity = shard->conn_capacity ? shard->conn_capacity * 2 : CONN_SLOTS_MIN;
        if (capacity > UD_INDEX_MASK) {
            return NULL;
        }
        struct conn **conns = realloc(shard->conns, capacity * sizeof *conns);
        uint32_t *free_slots = conns ? realloc(shard->free_slots, capacity * sizeof *free_slots)
                                     : NULL;
        if (conns == NULL || free_slots == NULL) {
            if (conns != NULL) {
                shard->conns = conns;
            }
            return NULL;
        }
        for (uint32_t i = shard->conn_capacity; i < capacity; i++) {
            conns[i] = NULL;
            free_slots[shard->free_count++] = capacity - 1 - (i - shard->conn_capacity);
        }
        shard->conns = conns;
        shard->free_slots = free_slots;
        shard->conn_capacity = capacity;
    }
    struct conn *conn = calloc(1, sizeof *conn);
    if (conn == NULL) {
        return NULL;
    }
    uint32_t index = shard->free_slots[--shard->free_count];
    ASSERT(shard->conns[index] == NULL);
    static _Thread_local uint32_t generation_next;
    conn->index = index;
    conn->generation = ++generation_next;
    shard->conns[index] = conn;
    shard->live_count++;
    return conn;
}

static void conn_slot_free(struct shard *shard, struct conn *conn)
{
    ASSERT(shard->conns[conn->index] == conn);
    ASSERT(conn->inflight_count == 0);
    shard->conns[conn->index] = NULL;
    shard->free_slots[shard->free_count++] = conn->index;
    ASSERT(shard->live_count > 0);
    shard->live_count--;
    outbuf_free(&conn->out);
    outbuf_free(&conn->sending);
    free(conn);
}

/* ---- operations ---- */

static void recv_arm(struct shard *shard, struct conn *conn)
{
    ASSERT(!(conn->flags & CONN_F_RECV_ARMED));
    struct io_uring_sqe *sqe = sqe_get(shard);
    io_uring_prep_recv_multishot(sqe, conn->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP_ID;
    io_uring_sqe_set_data64(sqe, user_data_make(UD_RECV, conn));
    conn->flags |= CONN_F_RECV_ARMED;
    conn->flags &= ~CONN_F_RECV_REARM;
    conn->inflight_count++;
}

static void accept_arm(struct shard *shard)
{
    struct io_uring_sqe *sqe = sqe_get(shard);
    io_uring_prep_multishot_accept(sqe, shard->server->listen_fd, NULL, NULL,
                                   SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, user_data_make(UD_ACCEPT, NULL));
    shard->accept_armed = true;
}

static void tick_arm(struct shard *shard)
{
    struct io_uring_sqe *sqe = sqe_get(shard);
    io_uring_prep_timeout(sqe, &shard->tick, 0, 0);
    io_uring_sqe_set_data64(sqe, user_data_make(UD_TICK, NULL));
}

static void wake_arm(struct shard *shard)
{
    struct io_uring_sqe *sqe = sqe_get(shard);
    io_uring_prep_read(sqe, shard->wake_fd, &shard->wake_value, sizeof shard->wake_value, 0);
    io_uring_sqe_set_data64(sqe, user_data_make(UD_WAKE, NULL));
}

static void send_submit(struct shard *shard, struct conn *conn)
{
    ASSERT(!(conn->flags & CONN_F_SEND_INFLIGHT));
    ASSERT(conn->sending_offset < conn->sending.length);
    struct io_uring_sqe *sqe = sqe_get(shard);
    io_uring_prep_send(sqe, conn->fd, conn->sending.data + conn->sending_offset,
                       conn->sending.length - conn->sending_offset, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, user_data_make(UD_SEND, conn));
    conn->flags |= CONN_F_SEND_INFLIGHT;
    conn->inflight_count++;
}

void shard_flush_queue(struct shard *shard, struct conn *conn)
{
    if (conn->flags & CONN_F_FLUSH_QUEUED) {
        return;
    }
    conn->flags |= CONN_F_FLUSH_QUEUED;
    conn->flush_next = shard->flush_head;
    shard->flush_head = conn;
}

void shard_conn_close(struct shard *shard, struct conn *conn, const char *reason)
{
    if (conn->flags & CONN_F_CLOSING) {
        return;
    }
    conn->flags |= CONN_F_CLOSING;
    if (conn->close_reason == NULL) {
        conn->close_reason = reason;
    }
    LOG_DEBUG("client %llu %s:%d closing: %s", (unsigned long long)conn->client_id, conn->ip,
              conn->port, conn->close_reason);
    /* Ends the multishot recv (it completes with 0) and any send still in flight. */
    shutdown(conn->fd, SHUT_RDWR);
    conn->close_next = shard->close_head;
    shard->close_head = conn;
}

void shard_conn_close_after_flush(struct shard *shard, struct conn *conn, const char *reason)
{
    if (conn->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER_FLUSH)) {
        return;
    }
    conn->flags |= CONN_F_CLOSE_AFTER_FLUSH;
    conn->close_reason = reason;
    conn->close_deadline_ns = clock_monotonic_ns() + CONFIG_DRAIN_NS;
    shard_flush_queue(shard, conn);
}

/* ---- completions ---- */

static void on_accept(struct shard *shard, const struct io_uring_cqe *cqe)
{
    const struct server *server = shard->server;
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        shard->accept_armed = false;
    }
    if (cqe->res < 0) {
        if (cqe->res != -ECANCELED) {
            LOG_WARN("accept failed: %s", strerror(-cqe->res));
        }
        return;
    }
    int fd = cqe->res;
    if (shard->stopping) {
        close(fd);
        return;
    }
    struct sockaddr_storage peer = {0};
    socklen_t peer_length = sizeof peer;
    getpeername(fd, (struct sockaddr *)&peer, &peer_length);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *conn = conn_slot_take(shard);
    if (conn == NULL) {
        LOG_WARN("out of memory for a new connection; refusing it");
        close(fd);
        return;
    }
    shard->stats.accepted++;
    int64_t count = atomic_fetch_add_explicit(&shard->server->connection_count, 1,
                                              memory_order_relaxed) + 1;
    if (conn_open(conn, shard, fd, (struct sockaddr *)&peer) != 0) {
        shard_conn_close(shard, conn, "Out Of Memory");
        return;
    }
    if (count > server->config->max_connections) {
        LOG_WARN("maximum connections (%lld) exceeded, refusing %s:%d",
                 (long long)server->config->max_connections, conn->ip, conn->port);
        conn_write_text(conn, "-ERR 'maximum connections exceeded'\r\n",
                        sizeof "-ERR 'maximum connections exceeded'\r\n" - 1);
        shard_conn_close_after_flush(shard, conn, "Maximum Connections Exceeded");
        return;
    }
    LOG_DEBUG("client %llu connected from %s:%d", (unsigned long long)conn->client_id, conn->ip,
              conn->port);
    recv_arm(shard, conn);
}

static void buffer_return(struct shard *shard, uint32_t id)
{
    ASSERT(id < shard->buf_count);
    io_uring_buf_ring_add(shard->buf_ring, shard->buf_memory + (size_t)id * shard->buf_size,
                          shard->buf_size, (unsigned short)id,
                          io_uring_buf_ring_mask(shard->buf_count), 0);
    io_uring_buf_ring_advance(shard->buf_ring, 1);
}

static void on_recv(struct shard *shard, struct conn *conn, const struct io_uring_cqe *cqe)
{
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        uint32_t id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        if (cqe->res > 0 && conn != NULL && !(conn->flags & CONN_F_CLOSING)) {
            conn_receive(conn, shard->buf_memory + (size_t)id * shard->buf_size,
                         (size_t)cqe->res);
        }
        buffer_return(shard, id);
    }
    if (conn == NULL || more) {
        return;
    }
    conn->flags &= ~CONN_F_RECV_ARMED;
    ASSERT(conn->inflight_count > 0);
    conn->inflight_count--;
    if (conn->flags & CONN_F_CLOSING) {
        return;
    }
    if (cqe->res == -ENOBUFS) {
        shard->stats.recv_enobufs++;
        conn->flags |= CONN_F_RECV_REARM;
    } else if (cqe->res > 0) {
        conn->flags |= CONN_F_RECV_REARM;
    } else {
        shard_conn_close(shard, conn, cqe->res == 0 ? "Client Closed" : "Read Error");
    }
}

static void on_send(struct shard *shard, struct conn *conn, const struct io_uring_cqe *cqe)
{
    if (conn == NULL) {
        return;
    }
    ASSERT(conn->flags & CONN_F_SEND_INFLIGHT);
    ASSERT(conn->inflight_count > 0);
    conn->flags &= ~CONN_F_SEND_INFLIGHT;
    conn->inflight_count--;
    if (conn->flags & CONN_F_CLOSING) {
        return;
    }
    if (cqe->res < 0) {
        shard_conn_close(shard, conn, "Write Error");
        return;
    }
    conn->sending_offset += (size_t)cqe->res;
    ASSERT(conn->sending_offset <= conn->sending.length);
    if (conn->sending_offset < conn->sending.length) {
        send_submit(shard, conn); /* short send: resume where it stopped */
        return;
    }
    conn->sending.length = 0;
    conn->sending_offset = 0;
    outbuf_trim(&conn->sending, OUT_KEEP_BYTES);
    shard_flush_queue(shard, conn);
}

static void on_tick(struct shard *shard)
{
    int64_t now = clock_monotonic_ns();
    for (uint32_t i = 0; i < shard->conn_capacity; i++) {
        struct conn *conn = shard->conns[i];
        if (conn == NULL) {
            continue;
        }
        if ((conn->flags & CONN_F_CLOSE_AFTER_FLUSH) && now >= conn->close_deadline_ns) {
            shard_conn_close(shard, conn, conn->close_reason);
            continue;
        }
        conn_tick(conn, now);
    }
    tick_arm(shard);
}

static void stop_begin(struct shard *shard)
{
    shard->stopping = true;
    shard->stop_deadline_ns = clock_monotonic_ns() + CONFIG_DRAIN_NS;
    if (shard->accept_armed) {
        struct io_uring_sqe *sqe = sqe_get(shard);
        io_uring_prep_cancel64(sqe, user_data_make(UD_ACCEPT, NULL), 0);
        io_uring_sqe_set_data64(sqe, user_data_make(UD_IGNORE, NULL));
    }
    for (uint32_t i = 0; i < shard->conn_capacity; i++) {
        struct conn *conn = shard->conns[i];
        if (conn != NULL) {
            shard_conn_close_after_flush(shard, conn, "Server Shutdown");
        }
    }
}

static void dispatch(struct shard *shard, const struct io_uring_cqe *cqe)
{
    uint64_t data = io_uring_cqe_get_data64(cqe);
    switch ((enum user_data_type)(data >> UD_TYPE_SHIFT)) {
    case UD_ACCEPT:
        on_accept(shard, cqe);
        return;
    case UD_RECV:
        on_recv(shard, user_data_conn(shard, data), cqe);
        return;
    case UD_SEND:
        on_send(shard, user_data_conn(shard, data), cqe);
        return;
    case UD_TICK:
        on_tick(shard);
        return;
    case UD_WAKE:
        stop_begin(shard);
        return;
    case UD_IGNORE:
        return;
    }
    LOG_ERROR("unexpected completion user_data %llx res %d", (unsigned long long)data,
              cqe->res);
    UNREACHABLE();
}

/* ---- end of turn ---- */

static void flush_all(struct shard *shard)
{
    struct conn *conn = shard->flush_head;
    shard->flush_head = NULL;
    while (conn != NULL) {
        struct conn *next = conn->flush_next;
        conn->flags &= ~CONN_F_FLUSH_QUEUED;
        if (!(conn->flags & (CONN_F_CLOSING | CONN_F_SEND_INFLIGHT))) {
            if (conn->out.length > 0) {
                struct outbuf swap = conn->sending;
                conn->sending = conn->out;
                conn->out = swap;
                conn->sending_offset = 0;
                send_submit(shard, conn);
            } else if (conn->flags & CONN_F_CLOSE_AFTER_FLUSH) {
                shard_conn_close(shard, conn, conn->close_reason);
            }
        }
        if (conn->flags & CONN_F_RECV_REARM && !(conn->flags & CONN_F_CLOSING)) {
            recv_arm(shard, conn);
        }
        conn = next;
    }
}

/* Receives that ended this turn and were not re-armed by a flush. */
static void rearm_receives(struct shard *shard)
{
    for (uint32_t i = 0; i < shard->conn_capacity; i++) {
        struct conn *conn = shard->conns[i];
        if (conn != NULL && (conn->flags & CONN_F_RECV_REARM) && !(conn->flags & CONN_F_CLOSING)) {
            recv_arm(shard, conn);
        }
    }
}

static void reap_closed(struct shard *shard)
{
    struct conn **link = &shard->close_head;
    while (*link != NULL) {
        struct conn *conn = *link;
        if (!(conn->flags & CONN_F_RELEASED)) {
            conn->flags |= CONN_F_RELEASED;
            conn_release_protocol_state(conn);
            atomic_fetch_sub_explicit(&shard->server->connection_count, 1, memory_order_relaxed);
        }
        if (conn->inflight_count > 0) {
            link = &conn->close_next;
            continue;
        }
        *link = conn->close_next;
        shard->stats.closed++;
        close(conn->fd);
        conn_slot_free(shard, conn);
    }
}

static bool turn_reap(struct shard *shard)
{
    struct io_uring_cqe *cqe;
    unsigned head;
    unsigned count = 0;
    bool rearm_needed = false;
    io_uring_for_each_cqe(&shard->ring, head, cqe)
    {
        dispatch(shard, cqe);
        count++;
        rearm_needed |= (io_uring_cqe_get_data64(cqe) >> UD_TYPE_SHIFT) == UD_RECV &&
                        !(cqe->flags & IORING_CQE_F_MORE);
    }
    io_uring_cq_advance(&shard->ring, count);
    return rearm_needed;
}

void shard_run(struct shard *shard)
{
    log_set_thread_shard(shard->index);
    if (shard->index == 0) {
        accept_arm(shard);
    }
    tick_arm(shard);
    wake_arm(shard);
    for (;;) {
        int rc = io_uring_submit_and_wait(&shard->ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY) {
            LOG_ERROR("shard %d: io_uring_submit_and_wait failed: %s", shard->index,
                      strerror(-rc));
            break;
        }
        bool rearm_needed = turn_reap(shard);
        flush_all(shard);
        if (rearm_needed) {
            rearm_receives(shard);
        }
        reap_closed(shard);
        if (shard->accept_armed == false && !shard->stopping && shard->index == 0) {
            accept_arm(shard);
        }
        if (shard->stopping) {
            if (shard->live_count == 0) {
                break;
            }
            if (clock_monotonic_ns() >= shard->stop_deadline_ns) {
                for (uint32_t i = 0; i < shard->conn_capacity; i++) {
                    if (shard->conns[i] != NULL) {
                        shard_conn_close(shard, shard->conns[i], "Server Shutdown");
                    }
                }
                reap_closed(shard);
                if (shard->live_count == 0) {
                    break;
                }
            }
        }
    }
}

void shard_request_stop(struct shard *shard)
{
    uint64_t one = 1;
    ssize_t n = write(shard->wake_fd, &one, sizeof one);
    ASSERT(n == (ssize_t)sizeof one);
}

void shard_destroy(struct shard *shard)
{
    for (uint32_t i = 0; i < shard->conn_capacity; i++) {
        struct conn *conn = shard->conns[i];
        if (conn != NULL) {
            if (!(conn->flags & CONN_F_RELEASED)) {
                conn_release_protocol_state(conn);
            }
            close(conn->fd);
            conn->inflight_count = 0;
            conn_slot_free(shard, conn);
        }
    }
    io_uring_queue_exit(&shard->ring); /* the kernel lets go of every buffer here */
    munmap(shard->buf_ring, shard->buf_count * sizeof(struct io_uring_buf));
    free(shard->buf_memory);
    sublist_destroy(shard->sublist);
    free(shard->conns);
    free(shard->free_slots);
    free(shard->removals);
    if (shard->wake_fd >= 0) {
        close(shard->wake_fd);
    }
}
