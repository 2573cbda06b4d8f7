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
#include <signal.h>
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
    UD_WAKE,         /* the eventfd main writes to: stop, or log counters */
    UD_IGNORE,       /* cancellations and MSG_RING sends: their own result is of no interest */
    UD_HANDOFF,      /* MSG_RING from the acceptor: res is a new connection's descriptor */
    UD_HANDOFF_SENT, /* our MSG_RING handing a descriptor over; low bits: the descriptor */
    UD_XWAKE,        /* MSG_RING from a shard that published to us while we slept */
    UD_ACCEPT_RETRY, /* the back-off after a failed accept is over */
    UD_STORE,        /* a stream store's write or datasync; low 56 bits: its op */
};

STATIC_ASSERT(UD_STORE < 256, "a user_data type fits the top byte");

enum {
    UD_TYPE_SHIFT = 56,
    UD_INDEX_SHIFT = 32,
    UD_INDEX_MASK = 0xffffff,
    BUF_GROUP_ID = 0,
    /* A completion queue larger than the submission queue: multishot receives and accepts
     * can complete many times per submission. */
    CQ_ENTRIES_PER_SQ_ENTRY = 8,
    /* Output capacity a connection keeps between bursts. */
    OUT_KEEP_BYTES = 64 * 1024,
};
STATIC_ASSERT((long)CONFIG_SHARDS_MAX <= (long)UD_INDEX_MASK,
              "a handoff's target shard fits the index bits");
STATIC_ASSERT(UD_TYPE_SHIFT == STORE_URING_TAG_SHIFT, "store completions carry the type too");
/* Back-off after an accept fails (out of descriptors): doubled per failure, as nats-server
 * does, so a full descriptor table does not spin the shard. */
#define ACCEPT_BACKOFF_NS_MIN (10LL * 1000000LL)
#define ACCEPT_BACKOFF_NS_MAX (1000LL * 1000000LL)
/* The eventfd value main adds to stop a shard; smaller values ask for counters. */
#define WAKE_STOP_VALUE (1ULL << 32)
/* How soon a shard whose records wait for room in a full ring looks again. */
enum { OVERFLOW_POLL_NS = 100 * 1000 };
/* Stream-store operations a shard keeps in flight at most: two per store (a write and a
 * datasync) for many stores, well below the completion queue's room. */
enum { STORE_IO_IN_FLIGHT_MAX = 1024 };
/* How long a submit may keep failing with a transient error before the shard gives up. */
#define SUBMIT_RETRY_NS (1000LL * 1000000LL)
/* Server-side deliveries waiting for their handlers, in bytes: far above what one turn's
 * receive buffers (recv_buf_count × recv_buf_size) can bring in, so only a handler that
 * keeps publishing to itself reaches it. */
#define DEFERRED_BYTES_MAX (64LL * 1024 * 1024)
/* Server-side handlers run per loop turn; what is left waits for the next turn, which
 * still collects completions first, so they cannot starve the shard's sockets. */
enum { DEFERRED_BUDGET = 4096 };
/* Completions copied off the completion queue at a time, before any is dispatched. */
enum { REAP_BATCH = 256 };
/* The timer wheel's granularity: deadlines (pings, authentication, write deadlines, drain)
 * are met within a millisecond, and an idle shard wakes only for the next timer due. */
#define TIMER_TICK_NS (1000000LL)
/* Timer callbacks per loop turn, so a burst of expiries cannot starve the sockets. */
enum { TIMER_BUDGET = 4096 };

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
    return conn_table_get(&shard->conns, (uint32_t)(value >> UD_INDEX_SHIFT) & UD_INDEX_MASK,
                          (uint32_t)value);
}

/* An SQE, submitting what is queued when the submission queue is full. Completions are
 * taken off the completion queue before they are dispatched (turn_reap), so a submit from
 * inside a handler always finds room for what it adds; a kernel that still refuses work
 * (-EAGAIN/-EBUSY: short of memory, or completions waiting in its overflow list) gets its
 * pending task work and overflow flushed and is asked again, for up to SUBMIT_RETRY_NS. */
static struct io_uring_sqe *sqe_get(struct shard *shard)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&shard->ring);
    int64_t give_up_ns = 0;
    while (sqe == NULL) {
        int rc = io_uring_submit(&shard->ring);
        if (rc < 0 && rc != -EINTR) {
            ASSERT(rc == -EAGAIN || rc == -EBUSY); /* anything else is a bad submission */
            int64_t now = clock_monotonic_ns();
            if (give_up_ns == 0) {
                give_up_ns = now + SUBMIT_RETRY_NS;
                LOG_WARN("shard %d: the kernel refuses submissions for now (%s); retrying",
                         shard->index, strerror(-rc));
            }
            /* the kernel has taken no work for SUBMIT_RETRY_NS: the shard cannot keep its
             * promises to any connection any longer */
            ASSERT(now < give_up_ns);
            (void)io_uring_get_events(&shard->ring);
        }
        sqe = io_uring_get_sqe(&shard->ring);
    }
    return sqe;
}

static timer_fn stats_timer_fired;
static timer_fn stop_timer_fired;

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
    store_uring_init(&shard->store_io, &shard->ring, UD_STORE, STORE_IO_IN_FLIGHT_MAX);
    return 0;
}

static int shard_xshard_init(struct shard *shard)
{
    struct server *server = shard->server;
    int n = server->shard_count;
    shard->shard_count = n;
    shard->shared = &server->shared[shard->index];
    shard->out_links = calloc((size_t)n, sizeof *shard->out_links);
    shard->in_links = calloc((size_t)n, sizeof *shard->in_links);
    shard->acked_by = calloc((size_t)n, sizeof *shard->acked_by);
    shard->applied_from = calloc((size_t)n, sizeof *shard->applied_from);
    shard->applied_acked = calloc((size_t)n, sizeof *shard->applied_acked);
    shard->target_plain = calloc((size_t)n * 2, 1);
    if (!shard->out_links || !shard->in_links || !shard->acked_by || !shard->applied_from ||
        !shard->applied_acked || !shard->target_plain) {
        return -ENOMEM;
    }
    for (int peer = 0; peer < n; peer++) {
        if (peer != shard->index) {
            shard->out_links[peer] = &server->links[shard->index * n + peer];
            shard->in_links[peer] = &server->links[peer * n + shard->index];
        }
    }
    return interest_init(&shard->interest, server->hash_seed ^ ((uint64_t)shard->index << 32));
}

static void shard_xshard_free(struct shard *shard)
{
    for (int peer = 0; peer < shard->shard_count && shard->out_links != NULL; peer++) {
        struct xshard_link *link = shard->out_links[peer];
        while (link != NULL && link->overflow_head != NULL) {
            struct xshard_overflow *node = link->overflow_head;
            link->overflow_head = node->next;
            if (node->type == XSHARD_PUBLISH_REF) {
                struct xshard_block *block;
                memcpy(&block, node->body, sizeof block);
                free(block);
            }
            free(node);
        }
    }
    if (shard->interest.buckets != NULL) {
        interest_destroy(&shard->interest);
    }
    free(shard->out_links);
    free(shard->in_links);
    free(shard->acked_by);
    free(shard->applied_from);
    free(shard->applied_acked);
    free(shard->target_plain);
    free(shard->picks);
    free(shard->held_pongs);
}

int shard_init(struct shard *shard, struct server *server, int index)
{
    memset(shard, 0, sizeof *shard);
    shard->index = index;
    shard->server = server;
    shard->wake_fd = server->wake_fds[index];
    shard->listen_fd = -1;
    shard->listener_kind = server->listener_kind;
    conn_table_init(&shard->conns, UD_INDEX_MASK, server->config->max_pending,
                    server->config->write_deadline_ns, &shard->timers);
    deferred_init(&shard->deferred, DEFERRED_BYTES_MAX);
    timer_wheel_init(&shard->timers, clock_monotonic_ns(), TIMER_TICK_NS);
    timer_entry_init(&shard->stats_timer, stats_timer_fired, shard);
    timer_entry_init(&shard->stop_timer, stop_timer_fired, shard);
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
    if (shard->sublist == NULL || shard_xshard_init(shard) != 0) {
        rc = -ENOMEM;
        goto fail_index;
    }
    shard->shared->ring_fd = shard->ring.ring_fd;
    return 0;
fail_index:
    shard_xshard_free(shard);
    sublist_destroy(shard->sublist);
    shard->sublist = NULL;
    compat_buf_ring_free(&shard->ring, shard->buf_ring, shard->buf_count, BUF_GROUP_ID);
    free(shard->buf_memory);
fail_buffers:
    io_uring_queue_exit(&shard->ring);
    return rc;
}

/* ---- connection slots ---- */

static void conn_slot_free(struct shard *shard, struct conn *conn)
{
    conn_table_free(&shard->conns, conn);
    /* relaxed: a placement hint (see struct shard_shared) */
    atomic_fetch_sub_explicit(&shard->shared->load, 1, memory_order_relaxed);
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
    io_uring_prep_multishot_accept(sqe, shard->listen_fd, NULL, NULL,
                                   SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, user_data_make(UD_ACCEPT, NULL));
    shard->accept_armed = true;
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
    conn_send_started(conn, clock_monotonic_ns());
}

void shard_wake_send(struct shard *shard, int ring_fd)
{
    struct io_uring_sqe *sqe = sqe_get(shard);
    io_uring_prep_msg_ring(sqe, ring_fd, 0, (uint64_t)UD_XWAKE << UD_TYPE_SHIFT, 0);
    io_uring_sqe_set_data64(sqe, user_data_make(UD_IGNORE, NULL));
}

void shard_conn_pause(struct shard *shard, struct conn *conn)
{
    if (conn->flags & (CONN_F_PAUSED | CONN_F_CLOSING)) {
        return;
    }
    conn->flags |= CONN_F_PAUSED;
    shard->paused_any = true;
    if (conn->flags & CONN_F_RECV_ARMED) {
        struct io_uring_sqe *sqe = sqe_get(shard);
        io_uring_prep_cancel64(sqe, user_data_make(UD_RECV, conn), 0);
        io_uring_sqe_set_data64(sqe, user_data_make(UD_IGNORE, NULL));
    }
}

static void recv_arm(struct shard *shard, struct conn *conn);

/* Every overflow queue is empty again: read the paused publishers once more. */
static void paused_resume(struct shard *shard)
{
    shard->paused_any = false;
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        struct conn *conn = shard->conns.conns[i];
        if (conn == NULL || !(conn->flags & CONN_F_PAUSED)) {
            continue;
        }
        conn->flags &= ~CONN_F_PAUSED;
        if (!(conn->flags & (CONN_F_RECV_ARMED | CONN_F_CLOSING | CONN_F_EOF))) {
            recv_arm(shard, conn);
        }
    }
}

/* ---- PONG barrier ---- */

void shard_pong(struct shard *shard, struct conn *conn)
{
    static const char pong[] = "PONG\r\n";
    if (shard->held_count == 0 &&
        xshard_announcements_applied(shard, shard->announce_sequence)) {
        conn_write_text(conn, pong, sizeof pong - 1);
        return;
    }
    if (shard->held_count == shard->held_capacity) {
        uint32_t capacity = shard->held_capacity ? shard->held_capacity * 2 : 16;
        struct held_pong *grown = malloc(capacity * sizeof *grown);
        ASSERT(grown != NULL); /* a PONG that can be neither sent nor held breaks flush() */
        for (uint32_t i = 0; i < shard->held_count; i++) {
            grown[i] = shard->held_pongs[(shard->held_head + i) % shard->held_capacity];
        }
        free(shard->held_pongs);
        shard->held_pongs = grown;
        shard->held_head = 0;
        shard->held_capacity = capacity;
    }
    uint32_t slot = (shard->held_head + shard->held_count++) % shard->held_capacity;
    shard->held_pongs[slot] = (struct held_pong){
        .conn_index = conn->index,
        .conn_generation = conn->generation,
        .sequence = shard->announce_sequence,
    };
}

void shard_acked(struct shard *shard, int from, uint64_t sequence)
{
    static const char pong[] = "PONG\r\n";
    if (sequence > shard->acked_by[from]) {
        shard->acked_by[from] = sequence;
    }
    while (shard->held_count > 0) {
        struct held_pong *held = &shard->held_pongs[shard->held_head];
        if (!xshard_announcements_applied(shard, held->sequence)) {
            return;
        }
        struct conn *conn = shard->conns.conns[held->conn_index];
        if (conn != NULL && conn->generation == held->conn_generation) {
            conn_write_text(conn, pong, sizeof pong - 1);
        }
        shard->held_head = (shard->held_head + 1) % shard->held_capacity;
        shard->held_count--;
    }
}

void shard_interest_changed(struct shard *shard, const struct sub *sub, bool add)
{
    xshard_announce(shard, add, sub->subject, sub->subject_length, sub->queue,
                    sub->queue_length);
}

/* ---- completions ---- */

/* Takes a new connection's descriptor into this shard: INFO, then reading. */
static void conn_adopt(struct shard *shard, int fd)
{
    const struct server *server = shard->server;
    struct sockaddr_storage peer = {0};
    socklen_t peer_length = sizeof peer;
    getpeername(fd, (struct sockaddr *)&peer, &peer_length);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *conn = conn_table_take(&shard->conns, shard->listener_kind);
    if (conn == NULL) {
        LOG_WARN("out of memory for a new connection; refusing it");
        close(fd);
        atomic_fetch_sub_explicit(&shard->shared->load, 1, memory_order_relaxed);
        return;
    }
    shard->stats.accepted++;
    int64_t count = atomic_fetch_add_explicit(&shard->server->connection_count, 1,
                                              memory_order_relaxed) + 1;
    conn->shard = shard;
    conn->fd = fd;
    /* relaxed: ids only need to be unique */
    conn->id = atomic_fetch_add_explicit(&shard->server->next_client_id, 1,
                                         memory_order_relaxed) + 1;
    if (conn->kind->open(conn, (struct sockaddr *)&peer) != 0) {
        conn_close(conn, "Out Of Memory");
        return;
    }
    if (count > server->config->max_connections) {
        static const char error[] = "-ERR 'maximum connections exceeded'\r\n";
        LOG_WARN("maximum connections (%lld) exceeded, refusing %s:%d",
                 (long long)server->config->max_connections, conn->ip, conn->port);
        conn_write_text(conn, error, sizeof error - 1);
        conn_close_after_flush(conn, "Maximum Connections Exceeded");
        return;
    }
    LOG_DEBUG("client %llu connected from %s:%d", (unsigned long long)conn->id, conn->ip,
              conn->port);
    recv_arm(shard, conn);
}

/* The least-loaded shard, ties going to the lowest index after the last pick. */
static int placement_pick(struct shard *shard)
{
    int best = -1;
    int64_t best_load = INT64_MAX;
    for (int k = 0; k < shard->shard_count; k++) {
        int candidate = (shard->placement_cursor + 1 + k) % shard->shard_count;
        int64_t load =
            atomic_load_explicit(&shard->server->shared[candidate].load, memory_order_relaxed);
        if (load < best_load) {
            best = candidate;
            best_load = load;
        }
    }
    shard->placement_cursor = best;
    return best;
}

static void handoff(struct shard *shard, int target, int fd)
{
    struct io_uring_sqe *sqe = sqe_get(shard);
    io_uring_prep_msg_ring(sqe, shard->server->shared[target].ring_fd, (unsigned)fd,
                           (uint64_t)UD_HANDOFF << UD_TYPE_SHIFT, 0);
    io_uring_sqe_set_data64(sqe, (uint64_t)UD_HANDOFF_SENT << UD_TYPE_SHIFT |
                                     (uint64_t)(uint32_t)target << UD_INDEX_SHIFT | (uint32_t)fd);
    shard->stats.handed_off++;
}

static void accept_retry_arm(struct shard *shard)
{
    shard->accept_backoff_ns = shard->accept_backoff_ns == 0
                                   ? ACCEPT_BACKOFF_NS_MIN
                                   : shard->accept_backoff_ns * 2;
    if (shard->accept_backoff_ns > ACCEPT_BACKOFF_NS_MAX) {
        shard->accept_backoff_ns = ACCEPT_BACKOFF_NS_MAX;
    }
    shard->accept_retry.tv_sec = shard->accept_backoff_ns / NS_PER_SEC;
    shard->accept_retry.tv_nsec = shard->accept_backoff_ns % NS_PER_SEC;
    struct io_uring_sqe *sqe = sqe_get(shard);
    io_uring_prep_timeout(sqe, &shard->accept_retry, 0, 0);
    io_uring_sqe_set_data64(sqe, user_data_make(UD_ACCEPT_RETRY, NULL));
    shard->accept_retry_armed = true;
}

static void on_accept(struct shard *shard, const struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        shard->accept_armed = false;
    }
    if (cqe->res < 0) {
        if (cqe->res == -ECANCELED || shard->stopping) {
            return;
        }
        shard->stats.accept_errors++;
        if (shard->accept_backoff_ns < ACCEPT_BACKOFF_NS_MAX) {
            LOG_WARN("accept failed: %s; retrying in %lld ms", strerror(-cqe->res),
                     (long long)(shard->accept_backoff_ns ? shard->accept_backoff_ns * 2
                                                          : ACCEPT_BACKOFF_NS_MIN) / NS_PER_MS);
        }
        if (!shard->accept_armed && !shard->accept_retry_armed) {
            accept_retry_arm(shard);
        }
        return;
    }
    shard->accept_backoff_ns = 0;
    int fd = cqe->res;
    if (shard->stopping) {
        close(fd);
        return;
    }
    bool hand_over = shard->shard_count > 1 && shard->listen_fd == shard->server->listen_fd &&
                     strcmp(shard->server->config->placement, "acceptor") == 0;
    int target = hand_over ? placement_pick(shard) : shard->index;
    /* relaxed: a placement hint (see struct shard_shared) */
    atomic_fetch_add_explicit(&shard->server->shared[target].load, 1, memory_order_relaxed);
    if (target == shard->index) {
        conn_adopt(shard, fd);
    } else {
        handoff(shard, target, fd);
    }
}

static void buffer_return(struct shard *shard, uint32_t id)
{
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
        /* the kernel hands back only ids we gave it: anything else is a broken ring */
        ASSERT(id < shard->buf_count);
        ASSERT(cqe->res <= (int)shard->buf_size);
        if (cqe->res > 0 && conn != NULL && !(conn->flags & CONN_F_CLOSING)) {
            shard->stats.in_bytes += (uint64_t)cqe->res;
            conn->kind->receive(conn, shard->buf_memory + (size_t)id * shard->buf_size,
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
    } else if (cqe->res > 0 || cqe->res == -ECANCELED) {
        conn->flags |= CONN_F_RECV_REARM; /* re-armed unless paused, see rearm_wanted */
    } else if (cqe->res == 0) {
        /* The client closed its side: what it was promised (replies, -ERR) still goes out,
         * then the connection closes. */
        conn->flags |= CONN_F_EOF;
        conn_close_after_flush(conn, "Client Closed");
    } else {
        conn_close(conn, "Read Error");
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
        conn_close(conn, "Write Error");
        return;
    }
    shard->stats.out_bytes += (uint64_t)cqe->res;
    conn->sending_offset += (size_t)cqe->res;
    ASSERT(conn->sending_offset <= conn->sending.length);
    if (conn->sending_offset < conn->sending.length) {
        send_submit(shard, conn); /* short send: resume where it stopped */
        return;
    }
    conn->sending.length = 0;
    conn->sending_offset = 0;
    outbuf_trim(&conn->sending, OUT_KEEP_BYTES);
    conn_flush_queue(conn);
}

static void stats_log(const struct shard *shard)
{
    const struct shard_stats *st = &shard->stats;
    LOG_INFO("stats shard=%d connections=%u accepted=%llu handed_off=%llu closed=%llu "
             "in_msgs=%llu in_bytes=%llu out_msgs=%llu out_bytes=%llu xshard_sent=%llu "
             "xshard_received=%llu ring_full=%llu wakeups_sent=%llu slow_consumers=%llu "
             "recv_enobufs=%llu accept_errors=%llu service_handled=%llu service_dropped=%llu "
             "timers=%llu xshard_no_memory=%llu",
             shard->index, shard->conns.live_count, (unsigned long long)st->accepted,
             (unsigned long long)st->handed_off, (unsigned long long)shard->conns.stats.closed,
             (unsigned long long)st->in_msgs, (unsigned long long)st->in_bytes,
             (unsigned long long)st->out_msgs, (unsigned long long)st->out_bytes,
             (unsigned long long)st->xshard_sent, (unsigned long long)st->xshard_received,
             (unsigned long long)st->ring_full, (unsigned long long)st->wakeups_sent,
             (unsigned long long)shard->conns.stats.slow_consumers,
             (unsigned long long)st->recv_enobufs,
             (unsigned long long)st->accept_errors, (unsigned long long)shard->deferred.ran,
             (unsigned long long)shard->deferred.refused,
             (unsigned long long)timer_count(&shard->timers),
             (unsigned long long)st->xshard_no_memory);
}

static void stats_timer_fired(struct timer_entry *entry, void *ctx)
{
    struct shard *shard = ctx;
    stats_log(shard);
    timer_arm(&shard->timers, &shard->stats_timer,
              clock_deadline_ns(clock_monotonic_ns(), shard->server->config->stats_interval_ns));
}

/* Only wakes the loop: stop_progress looks at the clock. */
static void stop_timer_fired(struct timer_entry *entry, void *ctx)
{
}

static void stop_begin(struct shard *shard)
{
    shard->stopping = true;
    shard->stop_deadline_ns = clock_monotonic_ns() + CONFIG_DRAIN_NS;
    timer_arm(&shard->timers, &shard->stop_timer, shard->stop_deadline_ns);
    if (shard->accept_armed) {
        struct io_uring_sqe *sqe = sqe_get(shard);
        io_uring_prep_cancel64(sqe, user_data_make(UD_ACCEPT, NULL), 0);
        io_uring_sqe_set_data64(sqe, user_data_make(UD_IGNORE, NULL));
    }
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        struct conn *conn = shard->conns.conns[i];
        if (conn != NULL) {
            conn_close_after_flush(conn, "Server Shutdown");
        }
    }
}

static void on_wake(struct shard *shard, const struct io_uring_cqe *cqe)
{
    if (cqe->res != (int)sizeof shard->wake_value) {
        LOG_ERROR("shard %d: reading its wake-up eventfd failed: %s", shard->index,
                  strerror(cqe->res < 0 ? -cqe->res : EIO));
        stop_begin(shard);
        return;
    }
    if ((shard->wake_value & (WAKE_STOP_VALUE - 1)) != 0) {
        stats_log(shard);
    }
    if (shard->wake_value >= WAKE_STOP_VALUE) {
        stop_begin(shard);
        return;
    }
    wake_arm(shard);
}

/* A handoff the target never got: the descriptor is closed here and the load counted for
 * the target when it was picked is given back. */
static void on_handoff_sent(struct shard *shard, const struct io_uring_cqe *cqe, uint64_t data)
{
    if (cqe->res >= 0) {
        return;
    }
    int fd = (int)(uint32_t)data;
    int target = (int)((data >> UD_INDEX_SHIFT) & UD_INDEX_MASK);
    ASSERT(target < shard->shard_count);
    LOG_ERROR("handing connection descriptor %d to shard %d failed: %s", fd, target,
              strerror(-cqe->res));
    close(fd);
    /* relaxed: a placement hint (see struct shard_shared) */
    atomic_fetch_sub_explicit(&shard->server->shared[target].load, 1, memory_order_relaxed);
}

static void dispatch(struct shard *shard, const struct io_uring_cqe *cqe)
{
    uint64_t data = io_uring_cqe_get_data64(cqe);
    if (data == LIBURING_UDATA_TIMEOUT) {
        return; /* the wait's own timeout, on kernels without IORING_FEAT_EXT_ARG */
    }
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
    case UD_WAKE:
        on_wake(shard, cqe);
        return;
    case UD_HANDOFF:
        if (shard->stopping) {
            close(cqe->res);
            atomic_fetch_sub_explicit(&shard->shared->load, 1, memory_order_relaxed);
        } else {
            conn_adopt(shard, cqe->res);
        }
        return;
    case UD_HANDOFF_SENT:
        on_handoff_sent(shard, cqe, data);
        return;
    case UD_ACCEPT_RETRY:
        shard->accept_retry_armed = false;
        return;
    case UD_STORE:
        store_uring_complete(&shard->store_io, cqe);
        return;
    case UD_XWAKE:
    case UD_IGNORE:
        return;
    }
    LOG_ERROR("unexpected completion user_data %llx res %d", (unsigned long long)data,
              cqe->res);
    UNREACHABLE();
}

/* ---- end of turn ---- */

static bool rearm_wanted(const struct conn *conn)
{
    return (conn->flags & CONN_F_RECV_REARM) &&
           !(conn->flags & (CONN_F_CLOSING | CONN_F_PAUSED | CONN_F_EOF | CONN_F_RECV_ARMED));
}

static void flush_all(struct shard *shard)
{
    struct conn *conn = shard->conns.flush_head;
    shard->conns.flush_head = NULL;
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
                conn_close(conn, conn->close_reason);
            }
        }
        if (rearm_wanted(conn)) {
            recv_arm(shard, conn);
        }
        conn = next;
    }
}

/* Receives that ended this turn and were not re-armed by a flush. */
static void rearm_receives(struct shard *shard)
{
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        struct conn *conn = shard->conns.conns[i];
        if (conn != NULL && rearm_wanted(conn)) {
            recv_arm(shard, conn);
        }
    }
}

static void reap_closed(struct shard *shard)
{
    struct conn **link = &shard->conns.close_head;
    while (*link != NULL) {
        struct conn *conn = *link;
        if (!(conn->flags & CONN_F_RELEASED)) {
            conn->flags |= CONN_F_RELEASED;
            conn->kind->release(conn);
            atomic_fetch_sub_explicit(&shard->server->connection_count, 1, memory_order_relaxed);
        }
        if (conn->inflight_count > 0) {
            link = &conn->close_next;
            continue;
        }
        *link = conn->close_next;
        shard->conns.stats.closed++;
        close(conn->fd);
        conn_slot_free(shard, conn);
    }
}

/* Copies completions off the queue in batches and releases their slots before dispatching
 * them, so handlers that submit (and the kernel posting new completions meanwhile) always
 * find room. Returns true when a multishot receive ended and must be re-armed. */
static bool turn_reap(struct shard *shard)
{
    struct io_uring_cqe *cqes[REAP_BATCH];
    struct io_uring_cqe batch[REAP_BATCH];
    bool rearm_needed = false;
    unsigned count;
    /* bounded: the completion queue holds at most ring_entries × 8 entries when we start,
     * and each pass takes up to REAP_BATCH of them; new ones wait for the next turn */
    unsigned passes = (unsigned)shard->server->config->ring_entries * CQ_ENTRIES_PER_SQ_ENTRY /
                          REAP_BATCH + 1;
    while (passes-- > 0 &&
           (count = io_uring_peek_batch_cqe(&shard->ring, cqes, REAP_BATCH)) > 0) {
        for (unsigned i = 0; i < count; i++) {
            batch[i] = *cqes[i];
        }
        io_uring_cq_advance(&shard->ring, count);
        for (unsigned i = 0; i < count; i++) {
            dispatch(shard, &batch[i]);
            rearm_needed |= (io_uring_cqe_get_data64(&batch[i]) >> UD_TYPE_SHIFT) == UD_RECV &&
                            !(batch[i].flags & IORING_CQE_F_MORE);
        }
    }
    return rearm_needed;
}

/* Waits for completions, announcing the sleep to producers first (see shard_shared). With
 * work already waiting (inbound records, a budget left over) it only submits. */
static int turn_wait(struct shard *shard, bool work_left)
{
    if (work_left) {
        /* must enter the kernel even with nothing to submit: with DEFER_TASKRUN, completions
         * (receives, sends, wakes, the stop eventfd) are posted only when we ask for events */
        return io_uring_submit_and_get_events(&shard->ring);
    }
    /* Sleeps until a completion, the next timer, or (with records waiting for room in a
     * full ring, where nobody wakes us when it drains) the next overflow poll. */
    int64_t wait_ns = INT64_MAX;
    int64_t next_ns = timer_next_deadline(&shard->timers);
    if (next_ns != INT64_MAX) {
        int64_t now = clock_monotonic_ns();
        wait_ns = next_ns > now ? next_ns - now : 0;
    }
    if (shard->overflowing && wait_ns > OVERFLOW_POLL_NS) {
        wait_ns = OVERFLOW_POLL_NS;
    }
    /* only a shard that will block says so: producers then pay for a wake-up */
    bool announce = shard->shard_count > 1 && wait_ns > 0;
    if (announce) {
        atomic_store_explicit(&shard->shared->sleeping, 1, memory_order_seq_cst);
        /* seq_cst: the store above is ordered before the ring check below; pairs with the
         * fence in xshard.c's wake() between a producer's publish and its read of the flag */
        atomic_thread_fence(memory_order_seq_cst);
        if (xshard_inbound_pending(shard)) {
            wait_ns = 0;
        }
    }
    int rc;
    if (wait_ns == 0) {
        rc = io_uring_submit_and_get_events(&shard->ring);
    } else if (wait_ns == INT64_MAX) {
        rc = io_uring_submit_and_wait(&shard->ring, 1);
    } else {
        struct __kernel_timespec timeout = {.tv_sec = wait_ns / NS_PER_SEC,
                                            .tv_nsec = wait_ns % NS_PER_SEC};
        struct io_uring_cqe *cqe;
        rc = io_uring_submit_and_wait_timeout(&shard->ring, &cqe, 1, &timeout, NULL);
        rc = rc == -ETIME ? 0 : rc;
    }
    if (announce) {
        atomic_store_explicit(&shard->shared->sleeping, 0, memory_order_relaxed);
    }
    return rc;
}

static void stop_progress(struct shard *shard, bool *done)
{
    if (shard->conns.live_count == 0 && !deferred_pending(&shard->deferred)) {
        *done = true;
        return;
    }
    if (clock_monotonic_ns() >= shard->stop_deadline_ns) {
        for (uint32_t i = 0; i < shard->conns.capacity; i++) {
            if (shard->conns.conns[i] != NULL) {
                conn_close(shard->conns.conns[i], "Server Shutdown");
            }
        }
        reap_closed(shard);
        *done = shard->conns.live_count == 0;
    }
}

static void shard_fail(struct shard *shard, int rc)
{
    LOG_ERROR("shard %d: io_uring_submit_and_wait failed: %s; stopping the server",
              shard->index, strerror(-rc));
    atomic_store_explicit(&shard->server->shard_failed, 1, memory_order_relaxed);
    kill(getpid(), SIGTERM);
}

void shard_run(struct shard *shard)
{
    if (shard->listen_fd >= 0) {
        accept_arm(shard);
    }
    if (shard->server->config->stats_interval_ns > 0) {
        timer_arm(&shard->timers, &shard->stats_timer,
                  clock_deadline_ns(clock_monotonic_ns(),
                                    shard->server->config->stats_interval_ns));
    }
    wake_arm(shard);
    bool work_left = false;
    bool done = false;
    while (!done) {
        int rc = turn_wait(shard, work_left);
        if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY && rc != -EAGAIN) {
            shard_fail(shard, rc);
            break;
        }
        bool rearm_needed = turn_reap(shard);
        work_left = shard->shard_count > 1 && xshard_drain(shard);
        work_left |= timer_advance(&shard->timers, clock_monotonic_ns(), TIMER_BUDGET).more;
        if (deferred_pending(&shard->deferred)) {
            work_left |= deferred_run(&shard->deferred, DEFERRED_BUDGET);
        }
        flush_all(shard);
        if (rearm_needed) {
            rearm_receives(shard);
        }
        reap_closed(shard);
        if (shard->shard_count > 1 && !xshard_flush(shard) && shard->paused_any) {
            paused_resume(shard);
        }
        if (shard->listen_fd >= 0 && !shard->accept_armed && !shard->accept_retry_armed &&
            !shard->stopping) {
            accept_arm(shard);
        }
        if (shard->stopping) {
            stop_progress(shard, &done);
        }
    }
}

static void wake_fd_add(int wake_fd, uint64_t value)
{
    ssize_t n = write(wake_fd, &value, sizeof value);
    ASSERT(n == (ssize_t)sizeof value);
}

void shard_request_stop(int wake_fd)
{
    wake_fd_add(wake_fd, WAKE_STOP_VALUE);
}

void shard_request_stats(int wake_fd)
{
    wake_fd_add(wake_fd, 1);
}

void shard_destroy(struct shard *shard)
{
    /* The ring goes first: io_uring_queue_exit cancels what is still in flight, and only
     * then may the memory those operations point at (send buffers, provided buffers) go. */
    io_uring_queue_exit(&shard->ring);
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        struct conn *conn = shard->conns.conns[i];
        if (conn != NULL) {
            if (!(conn->flags & CONN_F_RELEASED)) {
                conn->kind->release(conn);
            }
            close(conn->fd);
        }
    }
    conn_table_destroy(&shard->conns);
    timer_wheel_destroy(&shard->timers);
    deferred_destroy(&shard->deferred);
    munmap(shard->buf_ring, shard->buf_count * sizeof(struct io_uring_buf));
    free(shard->buf_memory);
    sublist_destroy(shard->sublist);
    shard_xshard_free(shard);
    free(shard->removals);
    if (shard->listen_fd >= 0 && shard->listen_fd != shard->server->listen_fd) {
        close(shard->listen_fd);
    }
}
