/* The helper-thread implementation of store/'s I/O interface (store/store_io.h), for
 * shards whose loop runs on epoll because io_uring is refused.
 *
 * The one idea: a store's writes, datasyncs and closes run on one helper thread per
 * instance, never on the owner's (a shard's) thread; requests go owner → helper and
 * completions helper → owner through two SPSC rings (base/spsc.h), so the owner's hot path
 * takes no lock. The helper sleeps in a read of a private eventfd when it has nothing to
 * do and the owner writes to that eventfd only when the helper said it may be asleep. The
 * helper writes a second eventfd (store_thread_event_fd) after each completion; the
 * owner's loop watches it and runs the completions with store_thread_reap, so a done()
 * never runs inside the submitting call. `allocate` stays a synchronous fallocate on the
 * owner's thread (it reserves extents without waiting for the disk).
 *
 * The helper thread starts on the first submission, so a shard that never stores pays
 * only for two idle eventfds. Its signals are blocked; it logs under its owner's shard.
 *
 * One thread, the owner, calls everything below; the helper thread touches only the
 * state behind `shared`, whose fields say how. This header has no _Atomic, so C++ shims
 * may include it. */
#ifndef IONATS_ENGINE_STORE_THREAD_H
#define IONATS_ENGINE_STORE_THREAD_H

#include "engine/io_histogram.h"
#include "store/store_io.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    /* Releases that may wait in the request ring beside in_flight_max writes and
     * datasyncs: a closing store releases all its segments at once. Past it (the helper
     * is stuck behind a slow close), a release closes on the owner's thread. */
    STORE_THREAD_RELEASE_QUEUE = 64,
    /* Upper bound on in_flight_max: keeps the rings' sizes far from overflow. A stream
     * store has two operations in flight, so a shard needs a few per stream. */
    STORE_THREAD_IN_FLIGHT_LIMIT = 1 << 16,
};

struct store_thread_shared;

/* Owned by one thread (the owner, a shard); see the header paragraph. */
struct store_thread {
    struct store_io io;                 /* first: store_thread_from */
    struct store_thread_shared *shared; /* owned: rings, flags, fds the helper uses */
    pthread_t thread;                   /* valid while `started` */
    bool started;
    int event_fd;           /* owned (a copy in `shared`): readable while completions wait */
    uint32_t in_flight;     /* writes and datasyncs submitted whose done() has not run */
    uint32_t in_flight_max; /* beyond: -EBUSY, the store tries again later */
    uint64_t write_count;
    uint64_t datasync_count;
    uint64_t release_count;        /* every release, wherever it closed */
    uint64_t release_inline_count; /* releases closed on the owner's thread (ring full) */
    uint64_t wake_count;           /* writes to the helper's eventfd: it may have slept */
    struct io_histogram datasync_ns; /* fdatasync on the helper, IO_HISTOGRAM_NS_SHIFT */
};

extern const struct store_io_ops store_thread_ops;

/* 0 or -errno. Creates the completion eventfd (EFD_NONBLOCK|EFD_CLOEXEC), the helper's
 * wake eventfd and the rings; the thread starts lazily on the first submission.
 * 0 < in_flight_max <= STORE_THREAD_IN_FLIGHT_LIMIT: beyond it write/datasync return
 * -EBUSY. On failure nothing is left to destroy. */
int store_thread_init(struct store_thread *st, uint32_t in_flight_max);

/* Readable while completions wait: the owner's loop (epoll, level-triggered) watches it. */
int store_thread_event_fd(const struct store_thread *st);

/* Runs up to `budget` completed ops' done() on the calling (owner) thread, draining the
 * eventfd; the eventfd stays readable when the budget left completions waiting (it may
 * also be readable with none: a reap then returns 0). Returns how many ran. A done() may
 * submit again; that completion may run later in the same reap, never inside the submit. */
uint32_t store_thread_reap(struct store_thread *st, uint32_t budget);

/* Waits until nothing is in flight (running completions, including those of operations
 * their done() submits), stops and joins the thread after it has performed every queued
 * release, and closes the eventfds. */
void store_thread_destroy(struct store_thread *st);

#endif
