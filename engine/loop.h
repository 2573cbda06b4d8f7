/* The I/O a shard's loop needs, behind one narrow interface with two implementations:
 * io_uring (loop_uring.c, the default) and epoll + eventfd (loop_epoll.c, for hosts and
 * containers where io_uring is refused).
 *
 * The one idea: every operation a shard starts completes later, through a handler the
 * shard registered, and only while the shard calls loop_dispatch — never inside the call
 * that started it. So the shard's code reads the same on both backends: start a receive,
 * a send, accepting; get `received`, `recv_ended`, `sent`, `accepted` back. A receive runs
 * until it ends once (peer closed, error, loop_recv_stop, or the backend wants it started
 * again); a send moves some bytes from the front of conn->out and ends once.
 * This file also keeps the connection's flags and in-flight count that say which
 * operations still refer to it, so a connection is freed only once both have ended.
 *
 * Other shards reach a loop only through its `struct loop_peer` (immutable once the shards
 * start): a wake-up, or a new connection's descriptor handed over.
 *
 * One thread: the shard's. */
#ifndef IONATS_ENGINE_LOOP_H
#define IONATS_ENGINE_LOOP_H

#include "engine/conn.h"
#include "engine/io_histogram.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct loop;
struct loop_stats;
struct store_io;

enum loop_backend {
    LOOP_URING,
    LOOP_EPOLL,
};

/* Bytes one send takes at most (on both backends, as CONN_SEND_IOV_MAX chunks also do): a
 * send in flight on io_uring completes (and shows the connection's progress: the write
 * deadline, flow control) at least every this many bytes. */
enum { LOOP_SEND_MAX = 256 * 1024 };

/* A receive that ended with nothing wrong and should simply be started again (io_uring's
 * multishot receive ends now and then, e.g. when buffers ran short). */
enum { LOOP_RECV_AGAIN = 1 };

/* The sockets a loop accepts on, each reported with its slot: the client port (every shard
 * that has a listener), the HTTP monitoring port (shard 0, with -m). */
enum loop_listener {
    LOOP_LISTENER_CLIENT = 0,
    LOOP_LISTENER_MONITOR = 1,
    LOOP_LISTENER_LEAF = 2, /* leafnodes connecting (shard 0, with --leafnode_port) */
    LOOP_LISTENER_COUNT = 3,
};

/* What the loop reports, all on the shard's thread from inside loop_dispatch. */
struct loop_handlers {
    void *ctx;
    /* A new connection's descriptor (result ≥ 0) on `listener`'s socket, or accepting there
     * failed (-errno). `armed` false: accepting on it has stopped, loop_accept_start goes
     * on. */
    void (*accepted)(void *ctx, int listener, int result, bool armed);
    /* Bytes received on `conn`, in order. */
    void (*received)(void *ctx, struct conn *conn, const char *data, size_t length);
    /* The receive is over: 0 the peer closed its side, LOOP_RECV_AGAIN, -ENOBUFS (no
     * buffer was free), -ECANCELED (loop_recv_stop), or another -errno. */
    void (*recv_ended)(void *ctx, struct conn *conn, int result);
    /* The send is over: bytes sent (maybe fewer than asked), or -errno. */
    void (*sent)(void *ctx, struct conn *conn, int result);
    /* The control eventfd (main: stop, print counters) was read: its value, or -errno. */
    void (*control)(void *ctx, uint64_t value, int error);
    /* Another shard handed this one a new connection's descriptor. */
    void (*handed)(void *ctx, int fd);
    /* A descriptor handed to shard `target` never got there; it is still ours to close. */
    void (*handoff_failed)(void *ctx, int target, int fd, int error);
};

/* How other shards reach this loop. */
struct loop_peer {
    int wake_fd;    /* io_uring: the ring's descriptor; epoll: an eventfd */
    int handoff_fd; /* io_uring: the ring's descriptor; epoll: a pipe's write end */
};

struct loop_ops {
    const char *name;
    void (*recv_start)(struct loop *loop, struct conn *conn);
    void (*recv_stop)(struct loop *loop, struct conn *conn);
    void (*send)(struct loop *loop, struct conn *conn);
    void (*accept_start)(struct loop *loop, int listener, int listen_fd);
    /* io_uring reports the end later as accepted(-ECANCELED, false); epoll reports nothing.
     * Accepting may start again only after that end (the shard stops only to shut down). */
    void (*accept_stop)(struct loop *loop, int listener);
    void (*wake)(struct loop *loop, const struct loop_peer *peer);
    /* 0, or -errno when the descriptor cannot be sent (it is still the caller's). */
    int (*handoff)(struct loop *loop, const struct loop_peer *peer, int target, int fd);
    /* Submits what is queued and waits until something is ready or `timeout_ns` passed
     * (0: only collects, INT64_MAX: no limit). 0 or -errno (-EINTR is not an error). */
    int (*wait)(struct loop *loop, int64_t timeout_ns);
    /* Runs the handlers of what is ready, up to a bound per call. */
    void (*dispatch)(struct loop *loop);
    void (*destroy)(struct loop *loop);
    /* Fills the store_* members of *stats from the backend's store. */
    void (*store_stats)(const struct loop *loop, struct loop_stats *stats);
};

/* What a loop counts, for /metrics (monitor_metrics.c reads it through loop_stats_get, on
 * the shard's own thread): plain counters, no atomics. */
struct loop_stats {
    /* Operations handed to the kernel: io_uring SQEs submitted (the stores' included);
     * epoll: recv, send and accept4 calls. */
    uint64_t submitted;
    uint64_t wakeups;                /* wake-ups from other shards that reached this loop */
    struct io_histogram completions; /* one per dispatch (a turn): the completions it ran
                                      * (epoll: readiness events and reported ends) */
    /* The stream stores' I/O on this loop (store_uring, store_thread): filled in by
     * loop_stats_get from the backend's store. */
    uint64_t store_writes;
    uint64_t store_datasyncs;        /* each one a group commit of what was written before */
    struct io_histogram datasync_ns; /* submission to completion, IO_HISTOGRAM_NS_SHIFT */
};

/* Embedded first in a backend's own state. */
struct loop {
    const struct loop_ops *ops; /* static */
    struct loop_handlers handlers;
    struct conn_table *conns;   /* borrowed: resolves completions to connections */
    struct store_io *store_io;  /* the backend's store I/O (owned by the backend) */
    struct loop_peer peer;
    struct loop_stats stats;    /* the backend's counters; the store's are its store's */
};

/* Copies the loop's counters, its store's included, into *stats. Shard thread. */
void loop_stats_get(const struct loop *loop, struct loop_stats *stats);

/* ---- setting up ---- */

/* Which backend `--io` names: "uring" and "epoll" as said; "auto" io_uring when the kernel
 * lets this process set up a ring like the shards', epoll otherwise, with one warning
 * naming the reason. -errno when "uring" is asked for and refused (logged). */
int loop_backend_choose(const struct config *config, enum loop_backend *backend);

/* What a backend is created with. */
struct loop_setup {
    const struct config *config; /* borrowed, immutable */
    int shard_index;
    int control_fd; /* the eventfd main writes to (borrowed): read into `control` */
};

/* A loop of `backend` for one shard, on the calling thread (an io_uring belongs to the
 * thread that sets it up). 0 or -errno (logged). */
int loop_create(enum loop_backend backend, const struct loop_setup *setup,
                const struct loop_handlers *handlers, struct conn_table *conns,
                struct loop **loop);

int loop_uring_create(const struct loop_setup *setup, struct loop **loop);
int loop_epoll_create(const struct loop_setup *setup, struct loop **loop);

/* Reports why io_uring cannot be set up here, for messages: 0 when it can. */
int loop_uring_probe(const struct config *config, char *reason, size_t size);

/* ---- operations (shard thread) ---- */

/* Starts receiving on `conn`, which has no receive running. */
void loop_recv_start(struct loop *loop, struct conn *conn);

/* Ends the running receive: recv_ended(-ECANCELED) follows (or the end it already had). */
void loop_recv_stop(struct loop *loop, struct conn *conn);

/* Sends the front of conn->out (at most LOOP_SEND_MAX bytes, through conn->send_iov);
 * `sent` follows with the bytes moved. The output must not be empty, and no send may be
 * running. Output appended while the send runs is not part of it. */
void loop_send(struct loop *loop, struct conn *conn);

/* Starts accepting on `listen_fd` in slot `listener` (enum loop_listener), which is not
 * accepting. */
static inline void loop_accept_start(struct loop *loop, int listener, int listen_fd)
{
    loop->ops->accept_start(loop, listener, listen_fd);
}

static inline void loop_accept_stop(struct loop *loop, int listener)
{
    loop->ops->accept_stop(loop, listener);
}

static inline void loop_wake(struct loop *loop, const struct loop_peer *peer)
{
    loop->ops->wake(loop, peer);
}

static inline int loop_handoff(struct loop *loop, const struct loop_peer *peer, int target,
                               int fd)
{
    return loop->ops->handoff(loop, peer, target, fd);
}

static inline int loop_wait(struct loop *loop, int64_t timeout_ns)
{
    return loop->ops->wait(loop, timeout_ns);
}

static inline void loop_dispatch(struct loop *loop)
{
    loop->ops->dispatch(loop);
}

/* Cancels what is in flight and frees the backend; connection memory may go after. */
void loop_destroy(struct loop *loop);

/* ---- for backends: report the end of an operation (clears its flags, then the handler) */

void loop_recv_end(struct loop *loop, struct conn *conn, int result);
void loop_send_end(struct loop *loop, struct conn *conn, int result);

/* A backend's 64-bit tag of one operation or event (io_uring's user_data, epoll's data):
 * its type in the top 8 bits, the connection's slot in the next 24 and the slot's
 * generation in the low 32, so an end for a connection that closed and whose slot was
 * reused is recognised and dropped. */
enum { LOOP_TAG_TYPE_SHIFT = 56, LOOP_TAG_INDEX_SHIFT = 32, LOOP_TAG_INDEX_MASK = 0xffffff };

static inline uint64_t loop_tag(unsigned type, const struct conn *conn)
{
    uint64_t value = (uint64_t)type << LOOP_TAG_TYPE_SHIFT;
    if (conn != NULL) {
        value |= (uint64_t)conn->index << LOOP_TAG_INDEX_SHIFT | conn->generation;
    }
    return value;
}

static inline unsigned loop_tag_type(uint64_t tag)
{
    return (unsigned)(tag >> LOOP_TAG_TYPE_SHIFT);
}

/* The index bits of a tag (a connection's slot, or what else a backend put there). */
static inline uint32_t loop_tag_index(uint64_t tag)
{
    return (uint32_t)(tag >> LOOP_TAG_INDEX_SHIFT) & LOOP_TAG_INDEX_MASK;
}

/* The live connection a tag names, or NULL when it closed and its slot moved on. */
struct conn *loop_tag_conn(const struct loop *loop, uint64_t tag);

#endif
