/* The io_uring backend of the loop interface (loop.h): one ring per shard, set up with
 * SINGLE_ISSUER and DEFER_TASKRUN, multishot receives into a ring of provided buffers,
 * multishot accepts, sends straight from the connection's output chunks (a plain send for
 * one chunk, a sendmsg over an iovec for several), and
 * IORING_OP_MSG_RING to wake another shard or hand it a connection's descriptor.
 *
 * user_data of every SQE encodes what completed: the operation type in the top 8 bits,
 * the connection slot in the next 24 and the slot's generation in the low 32, so a
 * completion for a connection that was closed and whose slot was reused is recognised
 * and dropped (an accept's index bits name its listener slot instead). The stream stores of the shard write through the same ring (store_uring).
 *
 * One thread: the shard's. */
#include "engine/loop.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/config.h"
#include "engine/store_uring.h"
#include "engine/uring_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum user_data_type {
    UD_ACCEPT = 1,
    UD_RECV,
    UD_SEND,
    UD_CONTROL,      /* the eventfd main writes to: stop, or log counters */
    UD_IGNORE,       /* cancellations and MSG_RING sends: their own result is of no interest */
    UD_HANDOFF,      /* MSG_RING from the acceptor: res is a new connection's descriptor */
    UD_HANDOFF_SENT, /* our MSG_RING handing a descriptor over; low bits: the descriptor */
    UD_XWAKE,        /* MSG_RING from a shard that published to us while we slept */
    UD_STORE,        /* a stream store's write or datasync; low 56 bits: its op */
};

STATIC_ASSERT(UD_STORE < 256, "a user_data type fits the top byte");

enum {
    BUF_GROUP_ID = 0,
    /* A completion queue larger than the submission queue: multishot receives and accepts
     * can complete many times per submission. */
    CQ_ENTRIES_PER_SQ_ENTRY = 8,
    /* Stream-store operations a shard keeps in flight at most: two per store (a write and
     * a datasync) for many stores, well below the completion queue's room. */
    STORE_IO_IN_FLIGHT_MAX = 1024,
    /* Completions copied off the completion queue at a time, before any is dispatched. */
    REAP_BATCH = 256,
};
STATIC_ASSERT((long)CONFIG_SHARDS_MAX <= (long)LOOP_TAG_INDEX_MASK,
              "a handoff's target shard fits the index bits");
STATIC_ASSERT(LOOP_TAG_TYPE_SHIFT == STORE_URING_TAG_SHIFT, "store completions carry the type too");
STATIC_ASSERT(CONFIG_RECV_BUF_COUNT_DEFAULT > 0 &&
                  (CONFIG_RECV_BUF_COUNT_DEFAULT & (CONFIG_RECV_BUF_COUNT_DEFAULT - 1)) == 0,
              "a provided buffer ring has a power-of-two size");
/* How long a submit may keep failing with a transient error before the shard gives up. */
#define SUBMIT_RETRY_NS (1000LL * 1000000LL)

struct loop_uring {
    struct loop loop; /* first: uring_from */
    struct io_uring ring;
    struct store_uring store;
    struct io_uring_buf_ring *buf_ring; /* registered provided buffers */
    char *buf_memory;                   /* owned: buf_count × buf_size */
    uint32_t buf_count;
    uint32_t buf_size;
    unsigned reap_passes; /* bounds one dispatch to what the queue held when it began */
    int shard_index;
    int control_fd;
    uint64_t control_value; /* read target of the armed control read */
    bool accept_armed[LOOP_LISTENER_COUNT]; /* a multishot accept is in the kernel */
};

static struct loop_uring *uring_from(struct loop *loop)
{
    return (struct loop_uring *)loop;
}

/* An SQE, submitting what is queued when the submission queue is full. Completions are
 * taken off the completion queue before they are dispatched, so a submit from inside a
 * handler always finds room for what it adds; a kernel that still refuses work
 * (-EAGAIN/-EBUSY: short of memory, or completions waiting in its overflow list) gets its
 * pending task work and overflow flushed and is asked again, for up to SUBMIT_RETRY_NS. */
static struct io_uring_sqe *sqe_get(struct loop_uring *uring)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&uring->ring);
    int64_t give_up_ns = 0;
    while (sqe == NULL) {
        int rc = io_uring_submit(&uring->ring);
        if (rc < 0 && rc != -EINTR) {
            ASSERT(rc == -EAGAIN || rc == -EBUSY); /* anything else is a bad submission */
            int64_t now = clock_monotonic_ns();
            if (give_up_ns == 0) {
                give_up_ns = now + SUBMIT_RETRY_NS;
                LOG_WARN("shard %d: the kernel refuses submissions for now (%s); retrying",
                         uring->shard_index, strerror(-rc));
            }
            /* the kernel has taken no work for SUBMIT_RETRY_NS: the shard cannot keep its
             * promises to any connection any longer */
            ASSERT(now < give_up_ns);
            (void)io_uring_get_events(&uring->ring);
        }
        sqe = io_uring_get_sqe(&uring->ring);
    }
    uring->loop.stats.submitted++; /* the stores' SQEs are counted by store_uring */
    return sqe;
}

static void sqe_ignored(struct io_uring_sqe *sqe)
{
    io_uring_sqe_set_data64(sqe, loop_tag(UD_IGNORE, NULL));
}

/* ---- set-up ---- */

static struct io_uring_params ring_params(const struct config *config)
{
    return (struct io_uring_params){
        .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                 IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE,
        .cq_entries = (unsigned)config->ring_entries * CQ_ENTRIES_PER_SQ_ENTRY,
    };
}

int loop_uring_probe(const struct config *config, char *reason, size_t size)
{
    struct io_uring ring;
    struct io_uring_params params = ring_params(config);
    int rc = io_uring_queue_init_params((unsigned)config->ring_entries, &ring, &params);
    if (rc == 0) {
        io_uring_queue_exit(&ring);
        reason[0] = '\0';
        return 0;
    }
    int written = snprintf(reason, size, "io_uring_setup: %s", strerror(-rc));
    /* kernel.io_uring_disabled (Linux 6.6): 1 allows only io_uring_group, 2 nobody */
    FILE *sysctl = fopen("/proc/sys/kernel/io_uring_disabled", "re");
    int disabled = 0;
    if (sysctl != NULL) {
        if (fscanf(sysctl, "%d", &disabled) != 1) {
            disabled = 0;
        }
        fclose(sysctl);
    }
    if (disabled != 0 && written > 0 && (size_t)written < size) {
        snprintf(reason + written, size - (size_t)written, ", kernel.io_uring_disabled=%d",
                 disabled);
    }
    return rc;
}

static int buffers_init(struct loop_uring *uring, const struct config *config)
{
    uring->buf_count = (uint32_t)config->recv_buf_count;
    uring->buf_size = (uint32_t)config->recv_buf_size;
    size_t total = (size_t)uring->buf_count * uring->buf_size;
    uring->buf_memory = aligned_alloc(4096, (total + 4095) / 4096 * 4096);
    if (uring->buf_memory == NULL) {
        return -ENOMEM;
    }
    int error = 0;
    uring->buf_ring = compat_buf_ring_setup(&uring->ring, uring->buf_count, BUF_GROUP_ID, &error);
    if (uring->buf_ring == NULL) {
        free(uring->buf_memory);
        uring->buf_memory = NULL;
        return error;
    }
    int mask = io_uring_buf_ring_mask(uring->buf_count);
    for (uint32_t i = 0; i < uring->buf_count; i++) {
        io_uring_buf_ring_add(uring->buf_ring, uring->buf_memory + (size_t)i * uring->buf_size,
                              uring->buf_size, (unsigned short)i, mask, (int)i);
    }
    io_uring_buf_ring_advance(uring->buf_ring, (int)uring->buf_count);
    return 0;
}

static void control_arm(struct loop_uring *uring)
{
    struct io_uring_sqe *sqe = sqe_get(uring);
    io_uring_prep_read(sqe, uring->control_fd, &uring->control_value,
                       sizeof uring->control_value, 0);
    io_uring_sqe_set_data64(sqe, loop_tag(UD_CONTROL, NULL));
}

static const struct loop_ops uring_ops;

int loop_uring_create(const struct loop_setup *setup, struct loop **loop)
{
    const struct config *config = setup->config;
    struct loop_uring *uring = calloc(1, sizeof *uring);
    if (uring == NULL) {
        return -ENOMEM;
    }
    uring->loop.ops = &uring_ops;
    uring->shard_index = setup->shard_index;
    uring->control_fd = setup->control_fd;
    uring->reap_passes =
        (unsigned)config->ring_entries * CQ_ENTRIES_PER_SQ_ENTRY / REAP_BATCH + 1;
    struct io_uring_params params = ring_params(config);
    int rc = io_uring_queue_init_params((unsigned)config->ring_entries, &uring->ring, &params);
    if (rc != 0) {
        LOG_ERROR("shard %d: io_uring_setup with %lld entries failed: %s", setup->shard_index,
                  (long long)config->ring_entries, strerror(-rc));
        free(uring);
        return rc;
    }
    rc = io_uring_register_ring_fd(&uring->ring);
    if (rc < 0) {
        LOG_DEBUG("shard %d: ring fd not registered (%s); continuing", setup->shard_index,
                  strerror(-rc));
    }
    rc = buffers_init(uring, config);
    if (rc != 0) {
        LOG_ERROR("shard %d: provided buffer ring (%u × %u bytes) failed: %s",
                  setup->shard_index, uring->buf_count, uring->buf_size, strerror(-rc));
        io_uring_queue_exit(&uring->ring);
        free(uring);
        return rc;
    }
    store_uring_init(&uring->store, &uring->ring, UD_STORE, STORE_IO_IN_FLIGHT_MAX);
    uring->loop.store_io = &uring->store.io;
    uring->loop.peer = (struct loop_peer){.wake_fd = uring->ring.ring_fd,
                                          .handoff_fd = uring->ring.ring_fd};
    control_arm(uring);
    *loop = &uring->loop;
    return 0;
}

static void uring_destroy(struct loop *loop)
{
    struct loop_uring *uring = uring_from(loop);
    /* The ring goes first: io_uring_queue_exit cancels what is still in flight, and only
     * then may the memory those operations point at (send buffers, provided buffers) go. */
    io_uring_queue_exit(&uring->ring);
    munmap(uring->buf_ring, uring->buf_count * sizeof(struct io_uring_buf));
    free(uring->buf_memory);
    free(uring);
}

/* ---- operations ---- */

static void uring_recv_start(struct loop *loop, struct conn *conn)
{
    struct loop_uring *uring = uring_from(loop);
    struct io_uring_sqe *sqe = sqe_get(uring);
    io_uring_prep_recv_multishot(sqe, conn->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP_ID;
    io_uring_sqe_set_data64(sqe, loop_tag(UD_RECV, conn));
}

static void uring_recv_stop(struct loop *loop, struct conn *conn)
{
    struct io_uring_sqe *sqe = sqe_get(uring_from(loop));
    io_uring_prep_cancel64(sqe, loop_tag(UD_RECV, conn), 0);
    sqe_ignored(sqe);
}

static void uring_send(struct loop *loop, struct conn *conn)
{
    struct io_uring_sqe *sqe = sqe_get(uring_from(loop));
    if (conn->send_msg.msg_iovlen == 1) {
        io_uring_prep_send(sqe, conn->fd, conn->send_iov[0].iov_base, conn->send_iov[0].iov_len,
                           MSG_NOSIGNAL);
    } else {
        io_uring_prep_sendmsg(sqe, conn->fd, &conn->send_msg, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, loop_tag(UD_SEND, conn));
}

/* An accept's user_data: its type, and its listener slot in the index bits. */
static uint64_t accept_tag(int listener)
{
    return loop_tag(UD_ACCEPT, NULL) | (uint64_t)(uint32_t)listener << LOOP_TAG_INDEX_SHIFT;
}

static void uring_accept_start(struct loop *loop, int listener, int listen_fd)
{
    struct loop_uring *uring = uring_from(loop);
    ASSERT(listener >= 0 && listener < LOOP_LISTENER_COUNT);
    ASSERT(!uring->accept_armed[listener]);
    struct io_uring_sqe *sqe = sqe_get(uring);
    io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, accept_tag(listener));
    uring->accept_armed[listener] = true;
}

static void uring_accept_stop(struct loop *loop, int listener)
{
    struct loop_uring *uring = uring_from(loop);
    ASSERT(listener >= 0 && listener < LOOP_LISTENER_COUNT);
    if (uring->accept_armed[listener]) {
        struct io_uring_sqe *sqe = sqe_get(uring);
        io_uring_prep_cancel64(sqe, accept_tag(listener), 0);
        sqe_ignored(sqe);
    }
}

static void uring_wake(struct loop *loop, const struct loop_peer *peer)
{
    struct io_uring_sqe *sqe = sqe_get(uring_from(loop));
    io_uring_prep_msg_ring(sqe, peer->wake_fd, 0, loop_tag(UD_XWAKE, NULL), 0);
    sqe_ignored(sqe);
}

static int uring_handoff(struct loop *loop, const struct loop_peer *peer, int target, int fd)
{
    struct io_uring_sqe *sqe = sqe_get(uring_from(loop));
    io_uring_prep_msg_ring(sqe, peer->handoff_fd, (unsigned)fd,
                           loop_tag(UD_HANDOFF, NULL), 0);
    /* the index bits name the target shard and the generation bits the descriptor */
    io_uring_sqe_set_data64(sqe, loop_tag(UD_HANDOFF_SENT, NULL) |
                                     (uint64_t)(uint32_t)target << LOOP_TAG_INDEX_SHIFT |
                                     (uint32_t)fd);
    return 0;
}

static int uring_wait(struct loop *loop, int64_t timeout_ns)
{
    struct loop_uring *uring = uring_from(loop);
    int rc;
    if (timeout_ns <= 0) {
        /* must enter the kernel even with nothing to submit: with DEFER_TASKRUN, completions
         * are posted only when we ask for events */
        rc = io_uring_submit_and_get_events(&uring->ring);
    } else if (timeout_ns == INT64_MAX) {
        rc = io_uring_submit_and_wait(&uring->ring, 1);
    } else {
        struct __kernel_timespec timeout = {.tv_sec = timeout_ns / NS_PER_SEC,
                                            .tv_nsec = timeout_ns % NS_PER_SEC};
        struct io_uring_cqe *cqe;
        rc = io_uring_submit_and_wait_timeout(&uring->ring, &cqe, 1, &timeout, NULL);
    }
    if (rc == -EINTR || rc == -ETIME || rc == -EBUSY || rc == -EAGAIN) {
        return 0;
    }
    return rc < 0 ? rc : 0;
}

/* ---- completions ---- */

static void buffer_return(struct loop_uring *uring, uint32_t id)
{
    io_uring_buf_ring_add(uring->buf_ring, uring->buf_memory + (size_t)id * uring->buf_size,
                          uring->buf_size, (unsigned short)id,
                          io_uring_buf_ring_mask(uring->buf_count), 0);
    io_uring_buf_ring_advance(uring->buf_ring, 1);
}

static void on_recv(struct loop_uring *uring, const struct io_uring_cqe *cqe, uint64_t data)
{
    struct conn *conn = loop_tag_conn(&uring->loop, data);
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        uint32_t id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        /* the kernel hands back only ids we gave it: anything else is a broken ring */
        ASSERT(id < uring->buf_count);
        ASSERT(cqe->res <= (int)uring->buf_size);
        if (cqe->res > 0 && conn != NULL) {
            uring->loop.handlers.received(uring->loop.handlers.ctx, conn,
                                          uring->buf_memory + (size_t)id * uring->buf_size,
                                          (size_t)cqe->res);
        }
        buffer_return(uring, id);
    }
    if (conn != NULL && !(cqe->flags & IORING_CQE_F_MORE)) {
        loop_recv_end(&uring->loop, conn, cqe->res > 0 ? LOOP_RECV_AGAIN : cqe->res);
    }
}

static void on_control(struct loop_uring *uring, const struct io_uring_cqe *cqe)
{
    const struct loop_handlers *handlers = &uring->loop.handlers;
    if (cqe->res != (int)sizeof uring->control_value) {
        handlers->control(handlers->ctx, 0, cqe->res < 0 ? cqe->res : -EIO);
        return;
    }
    uint64_t value = uring->control_value;
    control_arm(uring);
    handlers->control(handlers->ctx, value, 0);
}

static void dispatch_one(struct loop_uring *uring, const struct io_uring_cqe *cqe)
{
    const struct loop_handlers *handlers = &uring->loop.handlers;
    uint64_t data = io_uring_cqe_get_data64(cqe);
    if (data == LIBURING_UDATA_TIMEOUT) {
        return; /* the wait's own timeout, on kernels without IORING_FEAT_EXT_ARG */
    }
    struct conn *conn;
    switch ((enum user_data_type)loop_tag_type(data)) {
    case UD_ACCEPT: {
        uint32_t listener = loop_tag_index(data);
        ASSERT(listener < LOOP_LISTENER_COUNT); /* only accept_tag makes these */
        bool armed = (cqe->flags & IORING_CQE_F_MORE) != 0;
        uring->accept_armed[listener] = armed;
        handlers->accepted(handlers->ctx, (int)listener, cqe->res, armed);
        return;
    }
    case UD_RECV:
        on_recv(uring, cqe, data);
        return;
    case UD_SEND:
        conn = loop_tag_conn(&uring->loop, data);
        if (conn != NULL) {
            loop_send_end(&uring->loop, conn, cqe->res);
        }
        return;
    case UD_CONTROL:
        on_control(uring, cqe);
        return;
    case UD_HANDOFF:
        handlers->handed(handlers->ctx, cqe->res);
        return;
    case UD_HANDOFF_SENT:
        if (cqe->res < 0) {
            handlers->handoff_failed(handlers->ctx,
                                     (int)loop_tag_index(data),
                                     (int)(uint32_t)data, cqe->res);
        }
        return;
    case UD_STORE:
        store_uring_complete(&uring->store, cqe);
        return;
    case UD_XWAKE:
        uring->loop.stats.wakeups++;
        return;
    case UD_IGNORE:
        return;
    }
    LOG_ERROR("unexpected completion user_data %llx res %d", (unsigned long long)data,
              cqe->res);
    UNREACHABLE();
}

/* Copies completions off the queue in batches and releases their slots before dispatching
 * them, so handlers that submit (and the kernel posting new completions meanwhile) always
 * find room. Bounded: at most what the queue held when it began, new ones wait. */
static void uring_dispatch(struct loop *loop)
{
    struct loop_uring *uring = uring_from(loop);
    struct io_uring_cqe *cqes[REAP_BATCH];
    struct io_uring_cqe batch[REAP_BATCH];
    unsigned count;
    unsigned passes = uring->reap_passes;
    uint64_t ran = 0;
    while (passes-- > 0 &&
           (count = io_uring_peek_batch_cqe(&uring->ring, cqes, REAP_BATCH)) > 0) {
        for (unsigned i = 0; i < count; i++) {
            batch[i] = *cqes[i];
        }
        io_uring_cq_advance(&uring->ring, count);
        for (unsigned i = 0; i < count; i++) {
            dispatch_one(uring, &batch[i]);
        }
        ran += count;
    }
    io_histogram_observe(&uring->loop.stats.completions, ran, 0);
}

static void uring_store_stats(const struct loop *loop, struct loop_stats *stats)
{
    const struct store_uring *store = &((const struct loop_uring *)loop)->store;
    stats->store_writes = store->write_count;
    stats->store_datasyncs = store->datasync_count;
    stats->datasync_ns = store->datasync_ns;
    stats->submitted += store->write_count + store->datasync_count + store->release_count;
}

static const struct loop_ops uring_ops = {
    .name = "io_uring",
    .recv_start = uring_recv_start,
    .recv_stop = uring_recv_stop,
    .send = uring_send,
    .accept_start = uring_accept_start,
    .accept_stop = uring_accept_stop,
    .wake = uring_wake,
    .handoff = uring_handoff,
    .wait = uring_wait,
    .dispatch = uring_dispatch,
    .destroy = uring_destroy,
    .store_stats = uring_store_stats,
};
