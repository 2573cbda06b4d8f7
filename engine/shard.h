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

struct monitor_closed;
struct route_sub;
struct route_collector;

struct shard_stats {
    uint64_t accepted;
    uint64_t handed_off;
    uint64_t recv_enobufs;
    uint64_t in_msgs;
    uint64_t in_bytes;
    uint64_t out_msgs;
    uint64_t out_bytes;
    uint64_t accept_errors;
    /* the cross-shard counters are the transport's: struct xshard_stats */
};

/* Held PONGs past which the connection that adds one stops being read for a while (flow
 * control reads it again within a check period): far above what acknowledgements that take
 * milliseconds leave waiting, and 1 MiB of FIFO. */
enum { SHARD_HELD_PONGS_MAX = 64 * 1024 };

/* A PONG held back until every shard applied the interest changes made before its PING. */
struct held_pong {
    uint32_t conn_index;
    uint32_t conn_generation;
    uint64_t sequence; /* announcements that must be applied everywhere first */
};

/* One socket a shard accepts on (enum loop_listener): whether its accept runs, and the
 * back-off after a failed one. */
struct shard_listener {
    int fd;                  /* -1 if none; the shard closes it only when it opened it */
    bool armed;              /* its accept is running in the loop */
    bool retry_armed;        /* backing off after a failure: retry_timer brings it back */
    int64_t backoff_ns;
    struct timer_entry retry_timer;
    struct shard *shard;     /* borrowed: the owner, for the timer */
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
    struct route_collector *collectors; /* to flush at the end of the current walk */
    uint32_t queue_cursor;   /* spreads queue-group deliveries across members */
    uint32_t group_shard_cursor; /* spreads them across shards; separate, or the two
                                  * rotations would lock into step */
    int wake_fd;             /* eventfd main writes to: stop or print statistics */
    /* The sockets this shard accepts on: clients (shard 0's is server->listen_fd, others'
     * with reuseport their own), and HTTP monitoring on shard 0 (server->monitor_listen_fd). */
    struct shard_listener listeners[LOOP_LISTENER_COUNT];
    bool rearm_pending;      /* some receive ended this turn and may need starting again */
    struct conn *held_input; /* resumed connections whose held input waits to be handled */
    /* Cross-shard state: the transport (links, overflow, announcements), the interest
     * replica it keeps current, and the PONGs waiting for acknowledgements. */
    int shard_count;
    struct shard_shared *shared;     /* borrowed: this shard's entry in server->shared */
    struct xshard xshard;            /* owned */
    struct interest interest;
    struct held_pong *held_pongs;    /* owned FIFO */
    uint32_t held_head;
    uint32_t held_count;
    uint32_t held_capacity;
    bool paused_any;                 /* some connection is paused for the transport */
    bool deferred_pressed;           /* server-side handlers are behind (deferred.h) */
    /* Scratch for one publish: which shards get it, and the queue groups each serves. */
    uint8_t *target_plain;           /* owned [2 × shard_count]: the targets, then a
                                      * scratch row for groups_route */
    struct xshard_pick *picks;       /* owned */
    uint32_t pick_count;
    uint32_t pick_capacity;
    int placement_cursor;
    bool stopping;
    bool stop_quiet;         /* counted in server->stop_quiet */
    bool stop_drained;       /* counted in server->stop_drained */
    int stop_phase;          /* 0: draining modules; 1: one more turn; 2: closing */
    int64_t stop_deadline_ns;
    /* Lame duck mode (shard_ldm.c): no new clients; the others closed one by one. */
    bool lame_duck;
    int64_t ldm_interval_ns;  /* between two closes */
    uint32_t ldm_cursor;      /* the next slot of the connection table to look at */
    struct timer_entry ldm_timer;
    struct timer_wheel timers;       /* pings, deadlines, statistics */
    struct timer_entry stats_timer;
    struct timer_entry stop_timer;   /* wakes the loop when the drain time is over */
    struct shard_stats stats;
    struct monitor_closed *closed_conns; /* owned: its last closed clients (monitor.h) */
    void *module_state[SERVER_MODULES_MAX]; /* each of the server's modules' */
    int modules_started;     /* the first this many of the server's modules have started */
    int error;               /* set when the shard failed to start */
};

/* Sets up the ring, buffers and index of one shard. 0 or -errno. Call on the shard's own
 * thread: a SINGLE_ISSUER ring belongs to the thread that creates it. */
int shard_init(struct shard *shard, struct server *server, int index);

/* Before the loop's first turn: applies what the other shards sent so far and publishes
 * what that queued (acknowledgements), waking a peer that sleeps. shard_run calls it. */
void shard_start_drain(struct shard *shard);

/* Runs the loop until a stop is requested and every connection is closed. */
void shard_run(struct shard *shard);

void shard_destroy(struct shard *shard);

/* Asks the shard to stop, or to log its counters; any thread (writes its eventfd). */
void shard_request_stop(int wake_fd);
void shard_request_stats(int wake_fd);

/* Asks a shard to check its clients against a reloaded configuration (reload.h). Any
 * thread. */
void shard_request_reload(int wake_fd);

/* Asks a shard to enter lame duck mode (shard_ldm.c). Any thread. */
void shard_request_lame_duck(int wake_fd);

/* A shard's part of a reload (reload.h), on the wake-up that follows it (shard_reload.c):
 * the write deadline of its connections, its share of the clients past a lowered
 * max_connections (claimed from server->connections_to_close), then each connection's own
 * check. The shard's thread. */
void shard_reload_apply(struct shard *shard);

/* Wakes a shard for the call a thread that is no shard pushed into its mailbox (the crypt
 * worker's answers). Any thread. */
void shard_request_calls(int wake_fd);

/* Lame duck mode on this shard: stop taking clients, tell each (INFO with "ldm":true),
 * and once the grace period is over close them one by one over the rest of
 * --lame_duck_duration (shard_ldm.c). Shard thread. */
void shard_lame_duck(struct shard *shard);

/* A client's PING: answered now, or once every shard applied earlier interest changes. */
void shard_pong(struct shard *shard, struct conn *conn);

/* Wakes the shard whose loop's wake handle (struct loop_peer's wake_fd) is `wake_fd`. */
void shard_wake_send(struct shard *shard, int wake_fd);

/* The kind waits on work done elsewhere before it takes more input: the connection is not
 * read, and what arrives meanwhile is held (the kind keeps what it was already handed).
 * Once paused, a second call changes nothing. */
void shard_input_pause(struct shard *shard, struct conn *conn);

/* That work ended: the held input is handled (a receive buffer's worth per turn), then
 * reading goes on. */
void shard_input_resume(struct shard *shard, struct conn *conn);

/* ---- paused connections and held input (shard_input.c), for the shard's own loop ---- */

/* The loop's report of received bytes: handed to the connection's kind, or held while a
 * pause holds it or earlier input waits. */
void shard_input_received(void *ctx, struct conn *conn, const char *data, size_t length);

/* Handles one receive buffer's worth of every resumed connection's held input; true while
 * some is left. */
bool shard_held_step(struct shard *shard);

/* Every overflow queue is empty again: the connections paused on a full ring read again. */
void shard_paused_resume(struct shard *shard);

/* A congestion ended: every flow-paused publisher reads again. */
void shard_flow_resume(struct shard *shard);

/* The connection published into a full cross-shard ring: stop reading it for now. */
void shard_conn_pause(struct shard *shard, struct conn *conn);

/* The publishing connection fed a congested subscriber: stop reading it for now (see
 * conn.h's flow control). */
void shard_flow_pause(struct shard *shard, struct conn *conn);

/* Announcement acknowledgements arrived (xshard's `acked` handler): release the PONGs they
 * unblock. */
void shard_acked(struct shard *shard);

/* What the shard does for its cross-shard transport (shard.c): the handlers xshard_init
 * registers, with the shard as their context. Exported for tests that build shards by
 * hand; a forwarded publish goes to server->forwarded. */
extern const struct xshard_handlers shard_xshard_handlers;

/* ---- accepting and placing connections (shard_accept.c) ---- */

/* Sets the listeners up with no socket (main gives them theirs before the shard runs). */
void shard_listeners_init(struct shard *shard);

/* Starts accepting on each of the shard's listening sockets that it has and that is not
 * accepting already or backing off after a failure, unless the shard is stopping. */
void shard_accept_arm(struct shard *shard);

/* Stops accepting on every listener (the shard is stopping). */
void shard_accept_stop(struct shard *shard);

/* Loop handlers: a descriptor accepted here, handed over by another shard, or one whose
 * handoff failed. */
void shard_accepted(void *ctx, int listener, int result, bool armed);
void shard_handed(void *ctx, int fd);
void shard_handoff_failed(void *ctx, int target, int fd, int error);

#endif
