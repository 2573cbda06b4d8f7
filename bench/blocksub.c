/* Blocking subscriber threads and their coordinator (see blocksub.h).
 *
 * Shared state and its protocol, the only atomics here:
 *   reader->received_shared  stored by the reader after each read that counted deliveries,
 *                            loaded by the coordinator each tick (relaxed: a count that only
 *                            ever grows, read for progress; everything else a reader counted
 *                            is read after pthread_join, which orders it).
 *   reader->failed           stored (release) by the reader after its error and text, loaded
 *                            (acquire) by the coordinator before it reads them.
 *   blocksub->stop           stored (release) by the coordinator before it shuts the readers'
 *                            sockets down, loaded (acquire) by a reader whose read() returned,
 *                            so that the end of stream the shutdown causes is not mistaken
 *                            for the server going away.
 * Policies: EINTR repeats the read; end of stream or an error before `stop` fails the run
 * (a lost server leaves nothing to measure), as do -ERR and unparsable data; a PING is
 * answered at once with a blocking write of PONG. */
#include "bench/blocksub.h"

#include "base/assert.h"
#include "base/clock.h"
#include "bench/client.h"
#include "bench/scan.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

STATIC_ASSERT((int)BLOCKSUB_RX_SIZE > (int)SCAN_CONTROL_LINE_MAX, "a control line fits");
STATIC_ASSERT((int)BLOCKSUB_RX_SIZE >= (int)CLIENT_HANDSHAKE_BUFFER_SIZE, "leftovers fit");

static const char BLOCKSUB_PONG[] = "PONG\r\n";

/* One subscriber connection and its thread. */
struct blocksub_reader {
    /* The reader thread's own while it runs; the coordinator reads them after the join. */
    struct blocksub *owner; /* borrowed: the blocksub whose readers array holds this one */
    int fd;                 /* owned; closed by blocksub_destroy */
    unsigned index;
    struct scan scan;
    struct scan_sink sink;
    int64_t now_ns;    /* clock after the read being scanned */
    uint64_t received; /* deliveries counted by the scan */
    int64_t first_ns;  /* the read that brought the first delivery; 0 before it */
    int64_t last_ns;   /* the read that brought the latest delivery */
    uint64_t recv_count;
    uint64_t recv_bytes;
    int error; /* 0, or -errno of the failure that ended this reader */
    char error_text[SIDE_ERROR_SIZE];
    struct hist hist; /* stamped runs: latency of each delivery */
    size_t rx_used;
    char rx[BLOCKSUB_RX_SIZE];

    /* The coordinator's: whether the thread was created and must be joined. */
    pthread_t thread;
    bool started;

    /* Written by the reader, read by the coordinator while both run (see the top). */
    alignas(BLOCKSUB_LINE_SIZE) _Atomic uint64_t received_shared;
    _Atomic bool failed;
};

STATIC_ASSERT(sizeof(struct blocksub_reader) % BLOCKSUB_LINE_SIZE == 0, "readers on own lines");

int blocksub_init(struct blocksub *blocksub, struct side *side)
{
    ASSERT(side->kind == SIDE_KIND_RECEIVE);
    ASSERT(side->conn_count > 0);
    memset(blocksub, 0, sizeof *blocksub);
    blocksub->side = side;
    size_t size = side->conn_count * sizeof *blocksub->readers;
    blocksub->readers = aligned_alloc(BLOCKSUB_LINE_SIZE, size);
    if (blocksub->readers == NULL) {
        return -ENOMEM;
    }
    memset(blocksub->readers, 0, size);
    blocksub->reader_count = side->conn_count;
    for (unsigned i = 0; i < blocksub->reader_count; i++) {
        blocksub->readers[i].fd = -1;
    }
    return 0;
}

static void blocksub_reader_fail(struct blocksub_reader *reader, int error, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void blocksub_reader_fail(struct blocksub_reader *reader, int error, const char *format, ...)
{
    if (reader->error != 0) {
        return; /* the first failure is the cause */
    }
    reader->error = error < 0 ? error : -EIO;
    va_list args;
    va_start(args, format);
    vsnprintf(reader->error_text, sizeof reader->error_text, format, args);
    va_end(args);
    /* Release: the error and its text before the flag (acquire in blocksub_watch). */
    atomic_store_explicit(&reader->failed, true, memory_order_release);
}

static void blocksub_on_msg(void *context, const char *reply, size_t reply_size, int64_t stamp_ns)
{
    (void)reply;
    (void)reply_size;
    struct blocksub_reader *reader = context;
    reader->received++;
    if (stamp_ns != 0) {
        hist_record(&reader->hist, reader->now_ns - stamp_ns);
    }
}

static void blocksub_on_ping(void *context)
{
    struct blocksub_reader *reader = context;
    int rc = client_write_all(reader->fd, BLOCKSUB_PONG, sizeof BLOCKSUB_PONG - 1);
    if (rc < 0) {
        blocksub_reader_fail(reader, rc, "PONG: %s", strerror(-rc));
    }
}

static void blocksub_on_pong(void *context)
{
    (void)context; /* only PINGs of our own handshake, answered before the run */
}

static void blocksub_on_err(void *context, const char *line, size_t line_size)
{
    struct blocksub_reader *reader = context;
    blocksub_reader_fail(reader, -ECONNABORTED, "server sent %.*s", (int)line_size, line);
}

void blocksub_open(struct blocksub *blocksub, unsigned index, int fd, const char *leftover,
                   size_t leftover_size)
{
    ASSERT(index < blocksub->reader_count);
    ASSERT(fd >= 0);
    ASSERT(leftover_size <= BLOCKSUB_RX_SIZE);
    struct blocksub_reader *reader = &blocksub->readers[index];
    ASSERT(reader->fd < 0);
    reader->owner = blocksub;
    reader->fd = fd;
    reader->index = index;
    memcpy(reader->rx, leftover, leftover_size);
    reader->rx_used = leftover_size;
    hist_init(&reader->hist);
    reader->sink = (struct scan_sink){
        .context = reader,
        .on_msg = blocksub_on_msg,
        .on_ping = blocksub_on_ping,
        .on_pong = blocksub_on_pong,
        .on_err = blocksub_on_err,
    };
    scan_init(&reader->scan, &reader->sink, blocksub->side->opts->latency ? SCAN_F_STAMP : 0);
}

/* Scans what is in rx, keeps an incomplete control line for the next read and publishes the
 * count when it grew. */
static void blocksub_reader_scan(struct blocksub_reader *reader)
{
    uint64_t received_before = reader->received;
    long consumed = scan_feed(&reader->scan, reader->rx, reader->rx_used);
    if (consumed < 0) {
        blocksub_reader_fail(reader, (int)consumed, "unparsable data from server (%s)",
                             strerror((int)-consumed));
        return;
    }
    size_t rest = reader->rx_used - (size_t)consumed;
    ASSERT(rest <= SCAN_CONTROL_LINE_MAX); /* scan_feed refuses longer lines */
    if (rest > 0 && consumed > 0) {
        memmove(reader->rx, reader->rx + consumed, rest);
    }
    reader->rx_used = rest;
    if (reader->received != received_before) {
        if (reader->first_ns == 0) {
            reader->first_ns = reader->now_ns;
        }
        reader->last_ns = reader->now_ns;
        /* Relaxed: a growing count for progress (see the top of this file). */
        atomic_store_explicit(&reader->received_shared, reader->received, memory_order_relaxed);
    }
}

/* The reader thread: read, scan, repeat, until the coordinator stops it or it fails. Each
 * read moves at most BLOCKSUB_RX_SIZE bytes, and each is followed by a look at `stop`. */
static void *blocksub_reader_main(void *arg)
{
    struct blocksub_reader *reader = arg;
    struct blocksub *blocksub = reader->owner;
    if (reader->rx_used > 0) {
        reader->now_ns = clock_monotonic_ns();
        blocksub_reader_scan(reader);
    }
    while (reader->error == 0) {
        ssize_t got =
            read(reader->fd, reader->rx + reader->rx_used, BLOCKSUB_RX_SIZE - reader->rx_used);
        int error = got < 0 ? errno : 0;
        /* Acquire: pairs with the release store in blocksub_readers_stop. */
        if (atomic_load_explicit(&blocksub->stop, memory_order_acquire)) {
            break;
        }
        if (got < 0 && error == EINTR) {
            continue;
        }
        if (got == 0) {
            blocksub_reader_fail(reader, -ECONNRESET,
                                 "server closed the connection (as it does to slow consumers)");
            break;
        }
        if (got < 0) {
            blocksub_reader_fail(reader, -error, "read: %s", strerror(error));
            break;
        }
        reader->now_ns = clock_monotonic_ns();
        reader->recv_count++;
        reader->recv_bytes += (uint64_t)got;
        reader->rx_used += (size_t)got;
        blocksub_reader_scan(reader);
    }
    return NULL;
}

/* One tick of the coordinator: the first reader failure fails the side; otherwise the
 * readers' counts go through the receive side's own checks. */
static void blocksub_watch(struct blocksub *blocksub)
{
    struct side *side = blocksub->side;
    side->now_ns = clock_monotonic_ns();
    uint64_t total = 0;
    for (unsigned i = 0; i < blocksub->reader_count; i++) {
        struct blocksub_reader *reader = &blocksub->readers[i];
        /* Acquire: pairs with the release store in blocksub_reader_fail. */
        if (atomic_load_explicit(&reader->failed, memory_order_acquire)) {
            side_fail(side, reader->error, "subscriber %u: %s", reader->index, reader->error_text);
            return;
        }
        /* Relaxed: see the top of this file. */
        total += atomic_load_explicit(&reader->received_shared, memory_order_relaxed);
    }
    ASSERT(total >= side->received); /* counts only grow */
    side_received(side, total - side->received);
    if (!side->done) {
        side_watch(side);
    }
}

static void blocksub_readers_start(struct blocksub *blocksub)
{
    for (unsigned i = 0; i < blocksub->reader_count; i++) {
        struct blocksub_reader *reader = &blocksub->readers[i];
        ASSERT(reader->fd >= 0); /* every reader was opened */
        int rc = pthread_create(&reader->thread, NULL, blocksub_reader_main, reader);
        if (rc != 0) {
            side_fail(blocksub->side, -rc, "starting subscriber thread %u: %s", i, strerror(rc));
            return;
        }
        reader->started = true;
    }
}

/* Wakes every reader out of its read() and waits for it. */
static void blocksub_readers_stop(struct blocksub *blocksub)
{
    /* Release: pairs with the acquire load in blocksub_reader_main, which happens after the
     * read that the shutdown below ends has returned. */
    atomic_store_explicit(&blocksub->stop, true, memory_order_release);
    for (unsigned i = 0; i < blocksub->reader_count; i++) {
        if (blocksub->readers[i].started) {
            /* Errors ignored: a socket the server already closed has nothing to wake. */
            (void)shutdown(blocksub->readers[i].fd, SHUT_RDWR);
        }
    }
    for (unsigned i = 0; i < blocksub->reader_count; i++) {
        if (blocksub->readers[i].started) {
            pthread_join(blocksub->readers[i].thread, NULL);
            blocksub->readers[i].started = false;
        }
    }
}

/* After the join: the side's result from what each reader counted, with the readers' own
 * times of their first and last deliveries rather than the coordinator's ticks. */
static void blocksub_collect(struct blocksub *blocksub)
{
    struct side *side = blocksub->side;
    struct side_result *result = &side->result;
    result->msgs = 0;
    result->start_ns = 0;
    result->end_ns = 0;
    result->conn_msgs_min = UINT64_MAX;
    result->conn_msgs_max = 0;
    for (unsigned i = 0; i < blocksub->reader_count; i++) {
        const struct blocksub_reader *reader = &blocksub->readers[i];
        uint64_t msgs = reader->received;
        result->msgs += msgs;
        result->conn_msgs_min = msgs < result->conn_msgs_min ? msgs : result->conn_msgs_min;
        result->conn_msgs_max = msgs > result->conn_msgs_max ? msgs : result->conn_msgs_max;
        if (reader->first_ns != 0 &&
            (result->start_ns == 0 || reader->first_ns < result->start_ns)) {
            result->start_ns = reader->first_ns;
        }
        result->end_ns = reader->last_ns > result->end_ns ? reader->last_ns : result->end_ns;
        result->recv_count += reader->recv_count;
        result->recv_bytes += reader->recv_bytes;
        hist_merge(&result->hist, &reader->hist);
    }
}

static void blocksub_sleep_tick(void)
{
    struct timespec tick = {.tv_sec = 0, .tv_nsec = SIDE_TICK_NS};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &tick, &tick) == EINTR) {
    }
}

/* The coordinator thread: starts the readers, watches them each tick until the side is
 * done (or failed), then stops them and collects. */
static void *blocksub_main(void *arg)
{
    struct blocksub *blocksub = arg;
    struct side *side = blocksub->side;
    side->start_ns = clock_monotonic_ns();
    side->now_ns = side->start_ns;
    side->progress_ns = side->start_ns;
    side->deadline_ns = clock_deadline_ns(side->start_ns, side->opts->timeout_ns);
    blocksub_readers_start(blocksub);
    while (!side->done) {
        blocksub_sleep_tick();
        blocksub_watch(blocksub);
    }
    blocksub_readers_stop(blocksub);
    blocksub_collect(blocksub);
    return NULL;
}

int blocksub_start(struct blocksub *blocksub)
{
    return -pthread_create(&blocksub->side->thread, NULL, blocksub_main, blocksub);
}

void blocksub_destroy(struct blocksub *blocksub)
{
    if (blocksub->readers == NULL) {
        return;
    }
    for (unsigned i = 0; i < blocksub->reader_count; i++) {
        ASSERT(!blocksub->readers[i].started); /* joined by the coordinator */
        if (blocksub->readers[i].fd >= 0) {
            close(blocksub->readers[i].fd);
        }
    }
    free(blocksub->readers);
    blocksub->readers = NULL;
    blocksub->reader_count = 0;
}
