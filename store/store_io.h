/* The I/O interface store/ writes through, and a synchronous implementation of it.
 *
 * store/ never submits I/O itself on the message path: it hands writes at explicit
 * offsets and datasyncs to a `struct store_io`, which the engine implements with its
 * shard's io_uring (so store/ never includes liburing) and tests and tools implement with
 * store_io_sync below (pwrite and fdatasync). Completions come back through the
 * `done` function of a `struct store_io_op` the submitter embeds in its own state; they
 * are delivered by the implementation's own loop (the shard loop, or store_io_sync_reap),
 * never from inside the submitting call, so a submitter never re-enters itself.
 *
 * Preallocating a new segment file is synchronous (`allocate`: the kernel reserves
 * extents without waiting for the disk); closing a dropped one need not be (`release`).
 *
 * A store_io belongs to one thread (a shard); its ops are called from that thread only. */
#ifndef IONATS_STORE_STORE_IO_H
#define IONATS_STORE_STORE_IO_H

#include <stddef.h>
#include <stdint.h>

struct store_io;
struct store_io_op;

/* Completes `op`: `result` is the bytes written (a write may complete short; the
 * submitter resubmits the rest), 0 for a datasync, or -errno. */
typedef void store_io_done_fn(struct store_io_op *op, int32_t result);

/* One operation in flight. Owned by the submitter, which embeds it and keeps it (and the
 * bytes of a write) alive and unchanged until `done` runs. */
struct store_io_op {
    store_io_done_fn *done; /* set by the submitter before submitting */
};

struct store_io_ops {
    /* Queues a write of `size` bytes from `data` at `offset` of `fd`. 0 when queued
     * (`op->done` follows later), -EAGAIN or -EBUSY when the implementation has no room
     * now (nothing follows; try again later), another -errno when the write cannot be
     * issued at all (nothing follows). */
    int (*write)(struct store_io *io, int fd, const void *data, uint32_t size, uint64_t offset,
                 struct store_io_op *op);
    /* Queues fdatasync(fd); same return and completion rules as write. */
    int (*datasync)(struct store_io *io, int fd, struct store_io_op *op);
    /* Synchronously preallocates [offset, offset + size) of `fd` (fallocate mode 0, which
     * also extends the file): 0, or -errno (-ENOSPC when the disk is full). */
    int (*allocate)(struct store_io *io, int fd, uint64_t offset, uint64_t size);
    /* Closes `fd`, whose file may be unlinked. The last close of an unlinked segment
     * frees its page cache and blocks, which takes milliseconds for a large one; an
     * implementation may do it off the owner's thread. Nothing follows; it cannot fail
     * in a way the store could act on (an implementation logs errors). */
    void (*release)(struct store_io *io, int fd);
};

/* Embedded first in an implementation's own state. */
struct store_io {
    const struct store_io_ops *ops; /* borrowed: static tables */
};

/* ---- The synchronous implementation ---------------------------------------------------
 * Each write or datasync is performed with pwrite or fdatasync when it is submitted, and
 * its completion is queued until store_io_sync_reap runs it; a release is close(). */

enum {
    /* Completions waiting to be reaped. A stream store has two operations in flight at a
     * time, so a few suffice even for many stores sharing one store_io_sync. */
    STORE_IO_SYNC_QUEUE_SIZE = 64,
};

struct store_io_sync_done {
    struct store_io_op *op; /* borrowed from the submitter until its done runs */
    int32_t result;
};

struct store_io_sync {
    struct store_io io; /* first: store_io_sync_from */
    struct store_io_sync_done queue[STORE_IO_SYNC_QUEUE_SIZE];
    uint32_t head;  /* next completion to run */
    uint32_t count; /* completions queued */
    uint64_t write_count;
    uint64_t datasync_count;
    uint64_t release_count;
};

extern const struct store_io_ops store_io_sync_ops;

/* fallocate mode 0 of [offset, offset + size), retried on EINTR: 0 or -errno. Every
 * implementation's `allocate`. */
int store_io_fallocate(int fd, uint64_t offset, uint64_t size);

void store_io_sync_init(struct store_io_sync *sync);

/* Runs queued completions, including those queued by the completions it runs, until none
 * remain or `budget` have run. Returns how many ran. */
uint32_t store_io_sync_reap(struct store_io_sync *sync, uint32_t budget);

#endif
