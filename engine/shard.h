/* A shard: one thread, one io_uring, its connections, its subject index and its timers.
 *
 * The loop turn reads as a story: reap completions (accept, receive → the connection's kind
 * parses and routes into output buffers, send done) → drain what other shards sent →
 * expire due timers (pings, deadlines) → run server-side handlers for what was delivered to them
 * → flush (one send per connection with output) → close what must close → publish the
 * rings → submit and wait until a completion or the next timer. Nothing on it locks;
 * everything it touches is owned by the shard except `struct server`, which is immutable or
 * atomic. */
#ifndef IONATS_ENGINE_SHARD_H
#define IONATS_ENGINE_SHARD_H

#include "base/timer.h"
#include "engine/conn.h"
#include "engine/deferred.h"
#include "engine/interest.h"
#include "engine/loop.h"
#include "engine/server.h"
#include "engine/xshard.h"
#include "proto/sublist.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct route_sub;

struct shard_stats {
    uint64_t accepted;
    uint64_t handed_off;
    uint64_t recv_enobufs;
    uint64_t in_msgs;
    uint64_t in_bytes;
    uint64_t out_msgs;
    uint64_t out_bytes;
    uint64_t xshard_sent;      /* publishes forwarded to other shards */
    uint64_t xshard_received;  /* publishes other shards forwarded here */
    uint64_t ring_full;        /* records that found a cross-shard ring full */
    uint64_t xshard_no_memory; /* publishes that could not be forwarded for want of memory */
    uint64_t xshard_overflowed; /* records that waited in an overflow queue */
    uint64_t xshard_overflow_peak_bytes; /* most bytes the overflow queues held at once */
    uint64_t xshard_budget_paused; /* connections paused because the budget was passed */
    uint64_t announce_no_memory; /* announcements and acknowledgements that found no
                                  * memory (a SUB refused; a removal or ack retried later) */
    uint64_t wakeups_sent;
    uint64_t accept_errors;
};

/* A PONG held back until every shard applied the interest changes made before its PING. */
struct held_pong {
    uint32_t conn_index;
    uint32_t conn_generation;
    uint64_t sequence; /* announcements that must be applied everywhere first */
};

struct shard {
    int index;
    struct server *server;   /* shared, immutable except its atomics */
    struct loop *loop;       /* owned: the I/O backend (io_uring or epoll) */
    struct sublist *sublist; /* owned */
    struct conn_table conns; /* owned */
    const struct conn_kind *listener_kind; /* static: the kind of accepted connections */
    struct deferred deferred; /* owned: deliveries to server-side subscribers */
    struct route_sub **removals; /* owned array of borrowed subs that reached their max
                                  * during a delivery walk */
    uint32_t removal_count;
    uint32_t removal_capacity;
    uint32_t queue_cursor;   /* spreads queue-group deliveries across members */
    uint32_t group_shard_cursor; /* spreads them across shards; separate, or the two
                                  * rotations would lock into step */
    int wake_fd;             /* eventfd main writes to: stop or print statistics */
    int listen_fd;           /* the socket this shard accepts on, -1 if none */
    bool accept_armed;
    bool accept_retry_armed;
    bool rearm_pending;      /* some receive ended this turn and may need starting again */
    struct conn *held_input; /* resumed connections whose held input waits to be handled */
    int64_t accept_backoff_ns;
    struct timer_entry accept_timer; /* the back-off after a failed accept */
    /* Cross-shard state: links borrowed from the server, announcements and barriers. */
    int shard_count;
    struct shard_shared *shared;     /* borrowed: this shard's entry in server->shared */
    struct xshard_link **out_links;  /* owned array of borrowed links, [shard_count] */
    struct xshard_link **in_links;
    struct interest interest;
    uint64_t announce_sequence;      /* announcements sent so far (each to every shard) */
    uint64_t *acked_by;              /* owned [shard_count]: mine applied by each shard */
    uint64_t *applied_from;          /* owned [shard_count]: each shard's applied here */
    uint64_t *applied_acked;         /* owned [shard_count]: last applied_from sent back */
    struct held_pong *held_pongs;    /* owned FIFO */
    uint32_t held_head;
    uint32_t held_count;
    uint32_t held_capacity;
    bool overflowing;                /* some record waits in an overflow queue */
    bool paused_any;                 /* some connection is paused for it */
    uint64_t overflow_bytes;         /* held by all overflow queues (xshard.h's budget) */
    bool overflow_paused_all;        /* past the budget every connection was paused; until
                                      * the queues are empty again */
    int64_t overflow_warned_ns;      /* when the last such pause was logged */
    /* Scratch for one publish: which shards get it, and the queue groups each serves. */
    uint8_t *target_plain;           /* owned [shard_count] */
    uint32_t *target_group_count;    /* owned [shard_count] */
    struct route_group_pick *picks;  /* owned */
    uint32_t pick_count;
    uint32_t pick_capacity;
    int placement_cursor;
    bool stopping;
    int64_t stop_deadline_ns;
    struct timer_wheel timers;       /* pings, deadlines, statistics */
    struct timer_entry stats_timer;
    struct timer_entry stop_timer;   /* wakes the loop when the drain time is over */
    struct shard_stats stats;
    int error;               /* set when the shard failed to start */
};

/* A queue group a target shard is asked to serve for one publish. */
struct route_group_pick {
    int target;
    const char *name; /* borrowed from the match result, valid during the publish */
    uint32_t name_length;
};

/* Sets up the ring, buffers and index of one shard. 0 or -errno. Call on the shard's own
 * thread: a SINGLE_ISSUER ring belongs to the thread that creates it. */
int shard_init(struct shard *shard, struct server *server, int index);

/* Runs the loop until a stop is requested and every connection is closed. */
void shard_run(struct shard *shard);

void shard_destroy(struct shard *shard);

/* Asks the shard to stop, or to log its counters; any thread (writes its eventfd). */
void shard_request_stop(int wake_fd);
void shard_request_stats(int wake_fd);

/* A client's PING: answered now, or once every shard applied earlier interest changes. */
void shard_pong(struct shard *shard, struct conn *conn);

/* Wakes the shard whose loop's wake handle (struct loop_peer's wake_fd) is `wake_fd`. */
void shard_wake_send(struct shard *shard, int wake_fd);

/* The connection published into a full cross-shard ring: stop reading it for now. */
void shard_conn_pause(struct shard *shard, struct conn *conn);

/* The publishing connection fed a congested subscriber: stop reading it for now (see
 * conn.h's flow control). */
void shard_flow_pause(struct shard *shard, struct conn *conn);

/* An announcement acknowledgement arrived from `from`: release PONGs it unblocks. */
void shard_acked(struct shard *shard, int from, uint64_t sequence);

/* ---- accepting and placing connections (shard_accept.c) ---- */

/* Starts accepting on the shard's listening socket when it has one and is not stopping,
 * not accepting already and not backing off after a failure. */
void shard_accept_arm(struct shard *shard);

/* Loop handlers: a descriptor accepted here, handed over by another shard, or one whose
 * handoff failed. */
void shard_accepted(void *ctx, int result, bool armed);
void shard_handed(void *ctx, int fd);
void shard_handoff_failed(void *ctx, int target, int fd, int error);

timer_fn shard_accept_retry_fired;

#endif
