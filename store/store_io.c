/* The synchronous store_io: pwrite, fdatasync, fallocate and close, with completions
 * queued for store_io_sync_reap so that they never run inside the submitting call
 * (store_io.h).
 * For tests and offline tools; the broker uses the engine's io_uring implementation.
 * One thread. */
#include "store/store_io.h"

#include "base/assert.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

STATIC_ASSERT((STORE_IO_SYNC_QUEUE_SIZE & (STORE_IO_SYNC_QUEUE_SIZE - 1)) == 0,
              "the completion queue index wraps with a mask");

static struct store_io_sync *store_io_sync_from(struct store_io *io)
{
    return (struct store_io_sync *)((char *)io - offsetof(struct store_io_sync, io));
}

static int store_io_sync_push(struct store_io_sync *sync, struct store_io_op *op,
                              int32_t result)
{
    if (sync->count == STORE_IO_SYNC_QUEUE_SIZE) {
        return -EAGAIN;
    }
    uint32_t index = (sync->head + sync->count) & (STORE_IO_SYNC_QUEUE_SIZE - 1);
    sync->queue[index] = (struct store_io_sync_done){.op = op, .result = result};
    sync->count++;
    return 0;
}

/* Writes all of it, as the kernel does for a regular file unless an error stops it part
 * way: then the bytes written so far are reported, and the submitter's resubmission of
 * the rest meets the error. */
static int store_io_sync_write(struct store_io *io, int fd, const void *data, uint32_t size,
                               uint64_t offset, struct store_io_op *op)
{
    struct store_io_sync *sync = store_io_sync_from(io);
    ASSERT(op->done != NULL);
    ASSERT(size > 0);
    if (sync->count == STORE_IO_SYNC_QUEUE_SIZE) {
        return -EAGAIN;
    }
    uint32_t written = 0;
    int32_t result = 0;
    while (written < size) {
        ssize_t n = pwrite(fd, (const char *)data + written, size - written,
                           (off_t)(offset + written));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            result = n < 0 ? -errno : -EIO;
            break;
        }
        written += (uint32_t)n;
    }
    sync->write_count++;
    return store_io_sync_push(sync, op, written > 0 ? (int32_t)written : result);
}

static int store_io_sync_datasync(struct store_io *io, int fd, struct store_io_op *op)
{
    struct store_io_sync *sync = store_io_sync_from(io);
    ASSERT(op->done != NULL);
    if (sync->count == STORE_IO_SYNC_QUEUE_SIZE) {
        return -EAGAIN;
    }
    int rc = fdatasync(fd);
    sync->datasync_count++;
    return store_io_sync_push(sync, op, rc == 0 ? 0 : -errno);
}

int store_io_fallocate(int fd, uint64_t offset, uint64_t size)
{
    int rc;
    do {
        rc = fallocate(fd, 0, (off_t)offset, (off_t)size);
    } while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : -errno;
}

static int store_io_sync_allocate(struct store_io *io, int fd, uint64_t offset, uint64_t size)
{
    (void)io;
    return store_io_fallocate(fd, offset, size);
}

static void store_io_sync_release(struct store_io *io, int fd)
{
    struct store_io_sync *sync = store_io_sync_from(io);
    sync->release_count++;
    close(fd);
}

const struct store_io_ops store_io_sync_ops = {
    .write = store_io_sync_write,
    .datasync = store_io_sync_datasync,
    .allocate = store_io_sync_allocate,
    .release = store_io_sync_release,
};

void store_io_sync_init(struct store_io_sync *sync)
{
    *sync = (struct store_io_sync){.io = {.ops = &store_io_sync_ops}};
}

uint32_t store_io_sync_reap(struct store_io_sync *sync, uint32_t budget)
{
    uint32_t ran = 0;
    while (sync->count > 0 && ran < budget) {
        struct store_io_sync_done done = sync->queue[sync->head];
        sync->head = (sync->head + 1) & (STORE_IO_SYNC_QUEUE_SIZE - 1);
        sync->count--;
        ran++;
        done.op->done(done.op, done.result);
    }
    return ran;
}
