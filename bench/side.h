/* One side of a benchmark run: a thread, its io_uring, and all connections of one kind
 * (send side: publishers or requesters; receive side: subscribers or repliers).
 *
 * The one idea: a side is a single event loop, so a connection's state is touched by one
 * thread only and never locked; on 2 vCPUs that share the server, one thread per side is
 * also the most a load generator can afford. A turn reads: submit and wait → dispatch every
 * completion to its connection → repeat, with a 10 ms tick for timeouts and for learning
 * that the other side has finished. The main thread builds a side, starts it, joins it,
 * then reads `result`; between start and join only the side's thread touches it. */
#ifndef IONATS_BENCH_SIDE_H
#define IONATS_BENCH_SIDE_H

#include "base/clock.h"
#include "bench/bench.h"
#include "bench/hist.h"

#include <liburing.h>
#include <pthread.h>

struct conn;

/* Operation tags in the low bits of an SQE's user_data (pointers are 8-byte aligned). */
enum side_op {
    SIDE_OP_SEND = 0,
    SIDE_OP_RECV = 1,
    SIDE_OP_TIMER = 2,
    SIDE_OP_TICK = 3,
    SIDE_OP_MASK = 3,
};

enum side_kind {
    SIDE_KIND_SEND,
    SIDE_KIND_RECEIVE,
};

enum {
    SIDE_ERROR_SIZE = 256,
    /* js-consume: a consumer's name (nats-server's ephemeral names are 8 to 22 characters),
     * and the server's echo of its config (about 400 bytes; a longer one is not kept). */
    SIDE_CONSUMER_NAME_SIZE = 64,
    SIDE_CONSUMER_CONFIG_SIZE = 2048,
    /* The tick checks deadlines and the other side's progress this often. */
    SIDE_TICK_NS = 10 * NS_PER_MS,
    /* After the send side has finished, deliveries that stop for this long are lost. */
    SIDE_IDLE_NS = 2 * NS_PER_SEC,
};

/* js-consume: what the consumer connection counted (jsconsume_collect), and what main
 * learned around the run through the API (-1 where it is unknown). */
struct side_consume {
    uint64_t requests;   /* MSG.NEXT requests sent */
    uint64_t statuses;   /* 404 / 408 statuses that ended a request before its batch */
    uint64_t heartbeats; /* 100 statuses (idle heartbeats, flow control) */
    uint64_t acks;       /* +ACK publishes */
    uint64_t filled;     /* acked publishes of the untimed filling */
    int64_t fill_ns;     /* how long the filling took */
    char name[SIDE_CONSUMER_NAME_SIZE];
    char config[SIDE_CONSUMER_CONFIG_SIZE]; /* compact JSON as the server echoed it, or "" */
    int64_t delivered;   /* after the run: delivered.stream_seq */
    int64_t ack_floor;   /* ack_floor.stream_seq */
    int64_t ack_pending; /* num_ack_pending */
    int64_t pending;     /* num_pending: messages not yet delivered */
};

struct side_result {
    uint64_t msgs;          /* published / delivered / round trips completed / acked */
    uint64_t expected;      /* receive side: deliveries expected; 0 when unknown */
    int64_t start_ns;       /* first send, or first delivery */
    int64_t end_ns;         /* last PONG / delivery / reply */
    uint64_t conn_msgs_min; /* spread over connections: fairness of fan-out and queues */
    uint64_t conn_msgs_max;
    uint64_t send_count; /* completed send operations: how well batching works */
    uint64_t recv_count; /* completed recv operations */
    uint64_t recv_bytes;
    struct hist hist; /* latency, where measured on this side */
    int error;        /* 0, or -errno of the first failure */
    char error_text[SIDE_ERROR_SIZE];
    /* js-pub: publishes sent, acks with an error (the first one's description), and the
     * messages the stream held after the run and their distinct subjects (filled in by
     * main; -1 when unknown). */
    uint64_t published;
    uint64_t refused;
    char refused_text[SIDE_ERROR_SIZE];
    int64_t stored;
    int64_t stored_subjects;
    struct side_consume consume;
};

struct side {
    struct io_uring ring; /* created, used and closed by the side's thread */
    enum side_kind kind;
    const struct bench_opts *opts; /* borrowed, read-only during the run */
    struct bench_shared *shared;   /* shared with the other side through its atomics */
    struct conn *conns;            /* owned array of conn_count */
    unsigned conn_count;
    unsigned conns_finished;

    /* Frames every publishing connection sends (owned; read-only once the thread runs, so
     * many sends may read it at once): batch_frames copies of one PUB frame. */
    char *batch;
    size_t frame_size;
    uint64_t batch_frames;
    size_t stamp_offset; /* where a frame's payload starts */
    char *filler;        /* owned: `size` payload bytes for replies */

    int64_t now_ns;      /* clock at the completion being handled */
    int64_t start_ns;    /* when the thread began its first turn */
    int64_t stop_ns;     /* duration runs: when publishing stops; INT64_MAX otherwise */
    int64_t deadline_ns; /* start + timeout: the run fails past it */
    int64_t progress_ns; /* receive side: last time a message arrived */
    uint64_t received;   /* receive side: deliveries so far, all connections */
    bool done;
    struct __kernel_timespec tick_interval;
    struct side_result result;
    pthread_t thread;
};

/* Prepares an empty side with room for `conn_count` connections. Returns 0 or -ENOMEM. */
int side_init(struct side *side, enum side_kind kind, const struct bench_opts *opts,
              struct bench_shared *shared, unsigned conn_count);

/* Frees what side_init and pub_build_frames allocated and closes every connection. */
void side_destroy(struct side *side);

int side_start(struct side *side);
void side_join(struct side *side);

/* For connections: the next free SQE (the ring is sized so there always is one). */
struct io_uring_sqe *side_sqe(struct side *side);

/* Records the first failure, stops this side and asks the other one to stop. */
void side_fail(struct side *side, int error, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* A send-side connection has sent and confirmed everything it will send. */
void side_conn_finished(struct side *side);

/* The receive side counted `delta` more deliveries at side->now_ns. */
void side_received(struct side *side, uint64_t delta);

/* The tick's checks at side->now_ns, for whichever thread drives the side: fails it when the
 * other side failed or the deadline passed, watches send-side connections for stalls, and
 * ends the receive side once every expected delivery is in (or fails it when deliveries
 * stopped short for SIDE_IDLE_NS after the send side finished). */
void side_watch(struct side *side);

#endif
