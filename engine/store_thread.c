/* The helper-thread store_io: see store_thread.h.
 *
 * Two SPSC rings (base/spsc.h) of fixed-size records: requests (owner → helper; type:
 * write, datasync or release) and completions (helper → owner). Both are sized so that
 * they cannot be full when the bounds allow an operation (store_thread_ring_size), so the
 * helper never waits for room, and the owner refuses with -EBUSY only at in_flight_max.
 *
 * Sleeping without lost wake-ups (Dekker's pattern, two seq_cst fences):
 *   helper, idle:   helper_sleeping = true;  fence; look at the request tail (and stop)
 *   owner, submit:  publish the request tail; fence; look at helper_sleeping
 * With both fences, at least one side sees the other's store: either the helper finds the
 * request and does not block, or the owner sees helper_sleeping and writes the wake
 * eventfd (a counter, so a write before the helper's read is not lost). The owner clears
 * helper_sleeping with an exchange, so one sleep costs it at most one write.
 *
 * Completions: the helper publishes each completion as soon as its operation ends (a
 * write's completion does not wait behind the next datasync) and writes the completion
 * eventfd; those writes cost the helper's thread, not the owner's, and coalesce in the
 * eventfd's counter into one wake of the owner's loop. A datasync's completion carries how
 * long its fdatasync took on the helper (record type STORE_THREAD_DATASYNC), which the owner
 * adds to its histogram for /metrics.
 *
 * Threads: the owner calls every exported function; store_thread_main and what it calls
 * run on the helper and touch only `struct store_thread_shared`. */
#include "engine/store_thread.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/spsc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum store_thread_request_type {
    STORE_THREAD_WRITE = 1,
    STORE_THREAD_DATASYNC = 2,
    STORE_THREAD_RELEASE = 3,
};

/* The body of a request record; a release uses only fd. */
struct store_thread_request {
    struct store_io_op *op; /* borrowed from the submitter until its done() runs */
    const void *data;       /* a write's bytes: borrowed likewise */
    uint64_t offset;
    uint32_t size;
    int32_t fd; /* borrowed until the completion (a release's: owned by the helper) */
};

/* The body of a completion record; its type is the request's for a datasync, 0 otherwise. */
struct store_thread_completion {
    struct store_io_op *op; /* borrowed from the submitter, handed back by its done() */
    int32_t result;
    uint32_t elapsed_us;    /* a datasync's: how long fdatasync took, saturated */
};

STATIC_ASSERT(sizeof(struct store_thread_request) % SPSC_ALIGN == 0,
              "a request fills its record body exactly");
STATIC_ASSERT(sizeof(struct store_thread_completion) % SPSC_ALIGN == 0,
              "a completion fills its record body exactly");

/* Shared by the owner and the helper, allocated 128-byte aligned so that the cache-line
 * separation of the rings' fields holds. */
struct store_thread_shared {
    struct spsc requests;    /* shared, via spsc: the owner produces, the helper consumes */
    struct spsc completions; /* shared, via spsc: the helper produces, the owner consumes */
    /* Shared: stored true by the helper before it may block (relaxed, then a seq_cst fence:
     * store_thread_idle), exchanged to false by the owner when it wakes it
     * (store_thread_wake); the helper also stores false when it goes back to work. */
    _Alignas(SPSC_CACHE_LINE_PAIR) _Atomic bool helper_sleeping;
    /* Shared: stored true once by the owner (release, in store_thread_destroy, after its
     * last request); loaded by the helper (acquire, in store_thread_idle). */
    _Atomic bool stop;
    /* Immutable while the helper runs: set before pthread_create, which orders them. */
    _Alignas(SPSC_CACHE_LINE_PAIR) int wake_fd; /* owned: the helper blocks reading it */
    int event_fd;                               /* borrowed from struct store_thread */
    int log_shard;                              /* the owner's, for the helper's log lines */
};

static struct store_thread *store_thread_from(struct store_io *io)
{
    return (struct store_thread *)((char *)io - offsetof(struct store_thread, io));
}

/* Bytes for a ring that must take `record_count` records of `body_size` without filling:
 * the records, plus one pad record where the occupied window wraps (a window of at most
 * the ring's size crosses its end at most once, and a pad is shorter than a record). */
static uint64_t store_thread_ring_size(uint32_t record_count, uint32_t body_size)
{
    uint64_t record_size = SPSC_HEADER_SIZE + spsc_body_size(body_size);
    uint64_t need = ((uint64_t)record_count + 1) * record_size;
    uint64_t size = SPSC_CACHE_LINE_PAIR; /* a multiple of aligned_alloc's alignment */
    while (size < need) {
        size <<= 1;
    }
    ASSERT(body_size <= SPSC_BODY_MAX(size));
    return size;
}

/* ---- The helper thread ---------------------------------------------------------------- */

static void store_thread_signal(int fd)
{
    int rc;
    do {
        rc = eventfd_write(fd, 1);
    } while (rc != 0 && errno == EINTR);
    /* Only a counter overflow could refuse, and the reader resets the counter. */
    ASSERT(rc == 0);
}

/* Publishes one completion (of `type`, with `elapsed_us` for a datasync) and signals the
 * owner's eventfd. */
static void store_thread_complete(struct store_thread_shared *shared, struct store_io_op *op,
                                  int32_t result, uint32_t type, uint32_t elapsed_us)
{
    struct store_thread_completion *completion =
        spsc_reserve(&shared->completions, type, sizeof *completion);
    /* The owner has at most in_flight_max operations outstanding, and the ring holds that
     * many completions (store_thread_init). */
    ASSERT(completion != NULL);
    *completion =
        (struct store_thread_completion){.op = op, .result = result, .elapsed_us = elapsed_us};
    spsc_commit(&shared->completions);
    (void)spsc_publish(&shared->completions);
    store_thread_signal(shared->event_fd);
}

/* A regular file takes the whole write unless an error stops it part way; whatever came
 * back is reported, and the submitter resubmits a short write's rest. */
static int32_t store_thread_pwrite(const struct store_thread_request *request)
{
    ssize_t n;
    do {
        n = pwrite(request->fd, request->data, request->size, (off_t)request->offset);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -errno;
    }
    ASSERT((size_t)n <= request->size);
    ASSERT(n <= INT32_MAX);
    return (int32_t)n;
}

static void store_thread_close(int fd)
{
    /* Not retried on EINTR: Linux has released the descriptor by then. */
    if (close(fd) != 0 && errno != EINTR) {
        LOG_WARN("store: closing a segment file failed: %s", strerror(errno));
    }
}

/* fdatasync(fd): 0 or -errno, and in *elapsed_us how long it took. */
static int32_t store_thread_fdatasync(int fd, uint32_t *elapsed_us)
{
    int64_t start_ns = clock_monotonic_ns();
    int32_t result = fdatasync(fd) == 0 ? 0 : -errno;
    int64_t us = (clock_monotonic_ns() - start_ns) / NS_PER_US;
    *elapsed_us = us <= 0 ? 0 : us >= UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    return result;
}

/* Performs the request `record` holds and publishes its completion. */
static void store_thread_perform(struct store_thread_shared *shared,
                                 const struct spsc_record *record)
{
    struct store_thread_request request;
    ASSERT(record->length == sizeof request);
    memcpy(&request, spsc_record_body(record), sizeof request);
    uint32_t type = record->type;
    /* Room handed back before the completion is published: an owner that sees the
     * completion (acquire on the completions' tail) sees the room too, so a resubmission
     * after in_flight drops always fits. */
    spsc_advance(&shared->requests, record);
    spsc_consume_done(&shared->requests);
    switch (type) {
    case STORE_THREAD_WRITE:
        ASSERT(request.op != NULL);
        store_thread_complete(shared, request.op, store_thread_pwrite(&request), 0, 0);
        break;
    case STORE_THREAD_DATASYNC: {
        ASSERT(request.op != NULL);
        uint32_t elapsed_us = 0;
        int32_t result = store_thread_fdatasync(request.fd, &elapsed_us);
        store_thread_complete(shared, request.op, result, STORE_THREAD_DATASYNC, elapsed_us);
        break;
    }
    case STORE_THREAD_RELEASE:
        ASSERT(request.op == NULL);
        store_thread_close(request.fd);
        break;
    default:
        UNREACHABLE();
    }
}

/* Called with no request seen: blocks until the owner may have published one. Returns
 * true when the helper is to exit (stop is set and every request is done). */
static bool store_thread_idle(struct store_thread_shared *shared)
{
    atomic_store_explicit(&shared->helper_sleeping, true, memory_order_relaxed);
    /* seq_cst: pairs with the owner's fence in store_thread_wake; orders the store above
     * before the loads below (Dekker, see the file's header). */
    atomic_thread_fence(memory_order_seq_cst);
    /* acquire: pairs with the owner's release store in store_thread_destroy; every request
     * published before stop is visible to the peek below. */
    bool stopping = atomic_load_explicit(&shared->stop, memory_order_acquire);
    if (spsc_peek(&shared->requests) == NULL) {
        if (stopping) {
            return true;
        }
        eventfd_t value;
        while (eventfd_read(shared->wake_fd, &value) != 0) {
            ASSERT(errno == EINTR);
        }
    }
    /* relaxed: only the helper stores true, so this cannot hide a later sleep; it spares
     * the owner a wake while the helper works. */
    atomic_store_explicit(&shared->helper_sleeping, false, memory_order_relaxed);
    return false;
}

static void *store_thread_main(void *arg)
{
    struct store_thread_shared *shared = arg;
    log_set_thread_shard(shared->log_shard);
    for (;;) {
        const struct spsc_record *record = spsc_peek(&shared->requests);
        if (record != NULL) {
            store_thread_perform(shared, record);
        } else if (store_thread_idle(shared)) {
            return NULL;
        }
    }
}

/* ---- The owner ------------------------------------------------------------------------ */

/* Wakes the helper if it may be asleep; called after publishing (a request, or stop). */
static void store_thread_wake(struct store_thread *st)
{
    struct store_thread_shared *shared = st->shared;
    /* seq_cst: pairs with the helper's fence in store_thread_idle; orders the publish
     * before the load of helper_sleeping (Dekker, see the file's header). */
    atomic_thread_fence(memory_order_seq_cst);
    /* relaxed, both: they decide only who writes the eventfd; the request's bytes travel
     * by the ring's release/acquire. The plain load first spares an exchange per submit
     * while the helper is busy. */
    if (!atomic_load_explicit(&shared->helper_sleeping, memory_order_relaxed)) {
        return;
    }
    if (!atomic_exchange_explicit(&shared->helper_sleeping, false, memory_order_relaxed)) {
        return;
    }
    store_thread_signal(shared->wake_fd);
    st->wake_count++;
}

/* Starts the helper on the first submission. 0, or -errno from pthread_create (-EAGAIN:
 * no thread now, the store tries again later). The helper inherits a full signal mask, so
 * signals meant for the process never land on it. */
static int store_thread_start(struct store_thread *st)
{
    if (st->started) {
        return 0;
    }
    st->shared->log_shard = log_thread_shard();
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    int mask_rc = pthread_sigmask(SIG_SETMASK, &all, &old);
    ASSERT(mask_rc == 0);
    int rc = pthread_create(&st->thread, NULL, store_thread_main, st->shared);
    mask_rc = pthread_sigmask(SIG_SETMASK, &old, NULL);
    ASSERT(mask_rc == 0);
    if (rc != 0) {
        return -rc;
    }
    (void)pthread_setname_np(st->thread, "ionats-store"); /* a name is only a help */
    st->started = true;
    return 0;
}

/* Queues one request: 0, -EBUSY at the bound (or with the request ring full of
 * releases), or -errno when the helper cannot start. */
static int store_thread_submit(struct store_thread *st, uint32_t type,
                               const struct store_thread_request *request)
{
    ASSERT(request->op != NULL);
    ASSERT(request->op->done != NULL);
    if (st->in_flight >= st->in_flight_max) {
        return -EBUSY;
    }
    int rc = store_thread_start(st);
    if (rc != 0) {
        return rc;
    }
    struct store_thread_request *slot =
        spsc_reserve(&st->shared->requests, type, sizeof *slot);
    if (slot == NULL) {
        return -EBUSY;
    }
    *slot = *request;
    spsc_commit(&st->shared->requests);
    (void)spsc_publish(&st->shared->requests);
    st->in_flight++;
    store_thread_wake(st);
    return 0;
}

static int store_thread_write(struct store_io *io, int fd, const void *data, uint32_t size,
                              uint64_t offset, struct store_io_op *op)
{
    struct store_thread *st = store_thread_from(io);
    ASSERT(size > 0);
    ASSERT(size <= INT32_MAX); /* the completion's result carries the count */
    struct store_thread_request request = {
        .op = op, .data = data, .offset = offset, .size = size, .fd = fd};
    int rc = store_thread_submit(st, STORE_THREAD_WRITE, &request);
    if (rc == 0) {
        st->write_count++;
    }
    return rc;
}

static int store_thread_datasync(struct store_io *io, int fd, struct store_io_op *op)
{
    struct store_thread *st = store_thread_from(io);
    struct store_thread_request request = {.op = op, .fd = fd};
    int rc = store_thread_submit(st, STORE_THREAD_DATASYNC, &request);
    if (rc == 0) {
        st->datasync_count++;
    }
    return rc;
}

static int store_thread_allocate(struct store_io *io, int fd, uint64_t offset, uint64_t size)
{
    (void)io;
    return store_io_fallocate(fd, offset, size);
}

/* A release has no completion and does not count against in_flight_max; when the helper
 * cannot start or its ring is full, the close happens here, on the owner's thread. */
static void store_thread_release(struct store_io *io, int fd)
{
    struct store_thread *st = store_thread_from(io);
    st->release_count++;
    struct store_thread_request *slot = NULL;
    if (store_thread_start(st) == 0) {
        slot = spsc_reserve(&st->shared->requests, STORE_THREAD_RELEASE, sizeof *slot);
    }
    if (slot == NULL) {
        st->release_inline_count++;
        store_thread_close(fd);
        return;
    }
    *slot = (struct store_thread_request){.fd = fd};
    spsc_commit(&st->shared->requests);
    (void)spsc_publish(&st->shared->requests);
    store_thread_wake(st);
}

const struct store_io_ops store_thread_ops = {
    .write = store_thread_write,
    .datasync = store_thread_datasync,
    .allocate = store_thread_allocate,
    .release = store_thread_release,
};

int store_thread_init(struct store_thread *st, uint32_t in_flight_max)
{
    ASSERT(in_flight_max > 0);
    ASSERT(in_flight_max <= STORE_THREAD_IN_FLIGHT_LIMIT);
    *st = (struct store_thread){
        .io = {.ops = &store_thread_ops},
        .event_fd = -1,
        .in_flight_max = in_flight_max,
    };
    int rc;
    uint64_t request_size = store_thread_ring_size(in_flight_max + STORE_THREAD_RELEASE_QUEUE,
                                                   sizeof(struct store_thread_request));
    uint64_t completion_size =
        store_thread_ring_size(in_flight_max, sizeof(struct store_thread_completion));
    struct store_thread_shared *shared =
        aligned_alloc(_Alignof(struct store_thread_shared), sizeof *shared);
    if (shared == NULL) {
        rc = -ENOMEM;
        goto fail_shared;
    }
    void *request_bytes = aligned_alloc(SPSC_CACHE_LINE_PAIR, request_size);
    if (request_bytes == NULL) {
        rc = -ENOMEM;
        goto fail_request_bytes;
    }
    void *completion_bytes = aligned_alloc(SPSC_CACHE_LINE_PAIR, completion_size);
    if (completion_bytes == NULL) {
        rc = -ENOMEM;
        goto fail_completion_bytes;
    }
    int event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd < 0) {
        rc = -errno;
        goto fail_event_fd;
    }
    /* Blocking: the helper sleeps in its read. */
    int wake_fd = eventfd(0, EFD_CLOEXEC);
    if (wake_fd < 0) {
        rc = -errno;
        goto fail_wake_fd;
    }
    spsc_init(&shared->requests, request_bytes, request_size);
    spsc_init(&shared->completions, completion_bytes, completion_size);
    atomic_init(&shared->helper_sleeping, false);
    atomic_init(&shared->stop, false);
    shared->wake_fd = wake_fd;
    shared->event_fd = event_fd;
    shared->log_shard = -1;
    st->shared = shared;
    st->event_fd = event_fd;
    return 0;

fail_wake_fd:
    close(event_fd);
fail_event_fd:
    free(completion_bytes);
fail_completion_bytes:
    free(request_bytes);
fail_request_bytes:
    free(shared);
fail_shared:
    return rc;
}

int store_thread_event_fd(const struct store_thread *st)
{
    ASSERT(st->event_fd >= 0);
    return st->event_fd;
}

uint32_t store_thread_reap(struct store_thread *st, uint32_t budget)
{
    struct store_thread_shared *shared = st->shared;
    /* Reset first: a completion published after this read signals again, and one
     * published before it is seen by the peeks below. */
    eventfd_t value;
    if (eventfd_read(st->event_fd, &value) != 0) {
        ASSERT(errno == EAGAIN); /* nothing signalled */
    }
    uint32_t ran = 0;
    const struct spsc_record *record;
    while (ran < budget && (record = spsc_peek(&shared->completions)) != NULL) {
        struct store_thread_completion completion;
        ASSERT(record->length == sizeof completion);
        memcpy(&completion, spsc_record_body(record), sizeof completion);
        if (record->type == STORE_THREAD_DATASYNC) {
            io_histogram_observe(&st->datasync_ns, (uint64_t)completion.elapsed_us * NS_PER_US,
                                 IO_HISTOGRAM_NS_SHIFT);
        } else {
            ASSERT(record->type == 0); /* what store_thread_complete writes */
        }
        /* Room handed back before done(): the operation it may submit can complete into
         * it while this reap still runs. */
        spsc_advance(&shared->completions, record);
        spsc_consume_done(&shared->completions);
        ASSERT(st->in_flight > 0);
        st->in_flight--;
        ran++;
        completion.op->done(completion.op, completion.result);
    }
    if (ran == budget && spsc_peek(&shared->completions) != NULL) {
        store_thread_signal(st->event_fd); /* the loop comes back for the rest */
    }
    return ran;
}

void store_thread_destroy(struct store_thread *st)
{
    struct store_thread_shared *shared = st->shared;
    ASSERT(shared != NULL);
    while (st->in_flight > 0) {
        struct pollfd pollfd = {.fd = st->event_fd, .events = POLLIN};
        if (poll(&pollfd, 1, -1) < 0) {
            ASSERT(errno == EINTR);
        }
        (void)store_thread_reap(st, UINT32_MAX);
    }
    if (st->started) {
        /* release: pairs with the helper's acquire load in store_thread_idle, after every
         * request (the releases still queued included) was published. */
        atomic_store_explicit(&shared->stop, true, memory_order_release);
        store_thread_wake(st);
        int rc = pthread_join(st->thread, NULL);
        ASSERT(rc == 0);
        st->started = false;
    }
    /* The helper performed every request and the owner ran every completion. */
    ASSERT(!spsc_pending(&shared->requests));
    ASSERT(!spsc_pending(&shared->completions));
    close(shared->wake_fd);
    close(st->event_fd);
    free(shared->requests.bytes);
    free(shared->completions.bytes);
    free(shared);
    st->shared = NULL;
    st->event_fd = -1;
}
