/* The io_uring implementation of store/'s I/O interface (store/store_io.h).
 *
 * The one idea: a store's writes and datasyncs become SQEs on a ring the caller owns, and
 * their completions come back through that ring's loop, so a stream store never blocks
 * the thread that owns it. A shard passes its own ring and a user_data tag in the top
 * byte that its dispatch recognises, then hands each such completion to
 * store_uring_complete; the op's address is the rest of the user_data. Tools, tests and
 * benchmarks that own a ring only for storage use store_uring_reap as their loop.
 *
 * A datasync is IORING_OP_FSYNC with IORING_FSYNC_DATASYNC: the kernel runs it in its
 * worker pool, so one can be in flight while the owner goes on appending. Preallocation
 * (`allocate`) stays a synchronous fallocate, which reserves extents without waiting for
 * the disk; `release` closes in the kernel's worker threads, so that freeing a dropped
 * segment's blocks does not stall the ring's thread.
 *
 * Each datasync is timed from its submission to its completion for /metrics' fdatasync
 * histogram: its user_data's low bit (free, an op is pointer-aligned) marks it, and its
 * start waits in a small table until the completion comes back.
 *
 * One thread: the ring's. */
#ifndef IONATS_ENGINE_STORE_URING_H
#define IONATS_ENGINE_STORE_URING_H

#include "engine/io_histogram.h"
#include "store/store_io.h"

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

/* Top byte of user_data, where the tag goes; the low 56 bits hold the op's address. */
#define STORE_URING_TAG_SHIFT 56

/* Datasyncs timed at once: a stream store has one in flight (a file's or its directory's),
 * so this covers a shard's stores; one past it is counted but not timed. */
enum { STORE_URING_TIMED_MAX = 64 };

/* A timed datasync in flight. */
struct store_uring_timed {
    const struct store_io_op *op; /* borrowed: the submitter's, until its done runs */
    int64_t submitted_ns;         /* monotonic */
};

struct store_uring {
    struct store_io io;      /* first: store_uring_from */
    struct io_uring *ring;   /* borrowed */
    uint64_t tag;            /* already shifted into the top byte */
    uint32_t in_flight;      /* SQEs queued or submitted whose completion has not run */
    uint32_t in_flight_max;  /* beyond: -EBUSY, the store tries again later */
    uint64_t write_count;
    uint64_t datasync_count;
    uint64_t release_count;
    /* Shared by every release: closes need no per-call state, only a completion. */
    struct store_io_op release_op;
    struct store_uring_timed timed[STORE_URING_TIMED_MAX];
    uint32_t timed_count;
    struct io_histogram datasync_ns; /* IO_HISTOGRAM_NS_SHIFT */
};

extern const struct store_io_ops store_uring_ops;

/* Binds to `ring` (borrowed; completions tagged `tag`, 0..255) with at most
 * `in_flight_max` (> 0) operations outstanding. */
void store_uring_init(struct store_uring *uring, struct io_uring *ring, uint8_t tag,
                      uint32_t in_flight_max);

/* Whether a completion of `ring` carries this store_uring's tag. */
bool store_uring_owns(const struct store_uring *uring, const struct io_uring_cqe *cqe);

/* Runs the completion of one of our operations (store_uring_owns is true). */
void store_uring_complete(struct store_uring *uring, const struct io_uring_cqe *cqe);

/* For a ring that only this store_uring uses: submits what is queued, waits for at least
 * one completion when `wait` and something is in flight, then runs every completion
 * ready. Returns how many ran, or -errno when waiting failed. */
int store_uring_reap(struct store_uring *uring, bool wait);

/* For such a ring: reaps until nothing is in flight (the releases a closed store queued
 * included); call before io_uring_queue_exit. 0, or -errno when waiting failed. */
int store_uring_drain(struct store_uring *uring);

#endif
