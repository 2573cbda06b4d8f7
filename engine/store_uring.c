/* The io_uring store_io: see store_uring.h. */
#include "engine/store_uring.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#define STORE_URING_ADDRESS_MASK ((UINT64_C(1) << STORE_URING_TAG_SHIFT) - 1)
/* In the address bits: the op is a timed datasync (an op's address is even). */
#define STORE_URING_F_TIMED UINT64_C(1)

STATIC_ASSERT(_Alignof(struct store_io_op) >= 2, "an op's address leaves its low bit free");

static struct store_uring *store_uring_from(struct store_io *io)
{
    return (struct store_uring *)((char *)io - offsetof(struct store_uring, io));
}

/* An SQE for a new operation, or NULL when the in-flight bound is reached or the
 * submission queue stays full after submitting what it holds. */
static struct io_uring_sqe *store_uring_sqe(struct store_uring *uring)
{
    if (uring->in_flight >= uring->in_flight_max) {
        return NULL;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(uring->ring);
    if (sqe == NULL) {
        (void)io_uring_submit(uring->ring);
        sqe = io_uring_get_sqe(uring->ring);
    }
    return sqe;
}

static void store_uring_queued(struct store_uring *uring, struct io_uring_sqe *sqe,
                               struct store_io_op *op, bool timed)
{
    uint64_t address = (uint64_t)(uintptr_t)op;
    ASSERT((address & ~STORE_URING_ADDRESS_MASK) == 0);
    ASSERT((address & STORE_URING_F_TIMED) == 0);
    io_uring_sqe_set_data64(sqe, uring->tag | address | (timed ? STORE_URING_F_TIMED : 0));
    uring->in_flight++;
}

/* Keeps the start of a datasync when there is room: whether it is timed. */
static bool store_uring_timed_start(struct store_uring *uring, const struct store_io_op *op)
{
    if (uring->timed_count >= STORE_URING_TIMED_MAX) {
        return false;
    }
    uring->timed[uring->timed_count++] =
        (struct store_uring_timed){.op = op, .submitted_ns = clock_monotonic_ns()};
    return true;
}

/* A timed datasync completed: its time goes into the histogram. An op is timed once at a
 * time (a store waits for its datasync before the next), so the first match is it. */
static void store_uring_timed_end(struct store_uring *uring, const struct store_io_op *op)
{
    for (uint32_t i = 0; i < uring->timed_count; i++) {
        if (uring->timed[i].op == op) {
            int64_t elapsed = clock_monotonic_ns() - uring->timed[i].submitted_ns;
            io_histogram_observe(&uring->datasync_ns, elapsed > 0 ? (uint64_t)elapsed : 0,
                                 IO_HISTOGRAM_NS_SHIFT);
            uring->timed[i] = uring->timed[--uring->timed_count];
            return;
        }
    }
    UNREACHABLE(); /* only store_uring_timed_start marks an op timed */
}

static int store_uring_write(struct store_io *io, int fd, const void *data, uint32_t size,
                             uint64_t offset, struct store_io_op *op)
{
    struct store_uring *uring = store_uring_from(io);
    ASSERT(op->done != NULL);
    ASSERT(size > 0);
    struct io_uring_sqe *sqe = store_uring_sqe(uring);
    if (sqe == NULL) {
        return -EBUSY;
    }
    io_uring_prep_write(sqe, fd, data, size, offset);
    store_uring_queued(uring, sqe, op, false);
    uring->write_count++;
    return 0;
}

static int store_uring_datasync(struct store_io *io, int fd, struct store_io_op *op)
{
    struct store_uring *uring = store_uring_from(io);
    ASSERT(op->done != NULL);
    struct io_uring_sqe *sqe = store_uring_sqe(uring);
    if (sqe == NULL) {
        return -EBUSY;
    }
    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
    store_uring_queued(uring, sqe, op, store_uring_timed_start(uring, op));
    uring->datasync_count++;
    return 0;
}

static int store_uring_allocate(struct store_io *io, int fd, uint64_t offset, uint64_t size)
{
    (void)io;
    return store_io_fallocate(fd, offset, size);
}

static void store_uring_release_done(struct store_io_op *op, int32_t result)
{
    (void)op;
    if (result < 0) {
        LOG_WARN("store: closing a segment file failed: %s", strerror(-result));
    }
}

/* IOSQE_ASYNC sends the close to the kernel's worker threads, where the final put of an
 * unlinked file (freeing its page cache and blocks) runs instead of on the ring's thread. */
static void store_uring_release(struct store_io *io, int fd)
{
    struct store_uring *uring = store_uring_from(io);
    struct io_uring_sqe *sqe = store_uring_sqe(uring);
    if (sqe == NULL) {
        close(fd);
        return;
    }
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
    store_uring_queued(uring, sqe, &uring->release_op, false);
    uring->release_count++;
}

const struct store_io_ops store_uring_ops = {
    .write = store_uring_write,
    .datasync = store_uring_datasync,
    .allocate = store_uring_allocate,
    .release = store_uring_release,
};

void store_uring_init(struct store_uring *uring, struct io_uring *ring, uint8_t tag,
                      uint32_t in_flight_max)
{
    ASSERT(in_flight_max > 0);
    *uring = (struct store_uring){
        .io = {.ops = &store_uring_ops},
        .ring = ring,
        .tag = (uint64_t)tag << STORE_URING_TAG_SHIFT,
        .in_flight_max = in_flight_max,
        .release_op = {.done = store_uring_release_done},
    };
}

bool store_uring_owns(const struct store_uring *uring, const struct io_uring_cqe *cqe)
{
    return (io_uring_cqe_get_data64(cqe) & ~STORE_URING_ADDRESS_MASK) == uring->tag;
}

void store_uring_complete(struct store_uring *uring, const struct io_uring_cqe *cqe)
{
    ASSERT(store_uring_owns(uring, cqe));
    ASSERT(uring->in_flight > 0);
    uring->in_flight--;
    uint64_t address = io_uring_cqe_get_data64(cqe) & STORE_URING_ADDRESS_MASK;
    struct store_io_op *op = (struct store_io_op *)(uintptr_t)(address & ~STORE_URING_F_TIMED);
    if (address & STORE_URING_F_TIMED) {
        store_uring_timed_end(uring, op);
    }
    op->done(op, cqe->res);
}

int store_uring_reap(struct store_uring *uring, bool wait)
{
    int rc;
    if (wait && uring->in_flight > 0) {
        do {
            rc = io_uring_submit_and_wait(uring->ring, 1);
        } while (rc == -EINTR);
    } else {
        rc = io_uring_submit(uring->ring);
    }
    if (rc < 0 && rc != -EBUSY && rc != -EAGAIN) {
        return rc;
    }
    int ran = 0;
    struct io_uring_cqe *cqe;
    while (io_uring_peek_cqe(uring->ring, &cqe) == 0) {
        /* Copied out first: the op's done may queue new work on the ring. */
        struct io_uring_cqe copy = *cqe;
        io_uring_cqe_seen(uring->ring, cqe);
        store_uring_complete(uring, &copy);
        ran++;
    }
    return ran;
}

int store_uring_drain(struct store_uring *uring)
{
    while (uring->in_flight > 0) {
        int rc = store_uring_reap(uring, true);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}
