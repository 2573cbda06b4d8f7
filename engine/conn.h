/* A connection of any kind, and the table of one shard's connections.
 *
 * The one idea: the shard loop moves bytes and manages life cycles the same way for every
 * connection, and a *kind* (the NATS client protocol today; HTTP, leafnode and server-internal
 * next) says what the bytes mean through three handlers: open (queue the greeting and arm
 * its timers on the shard's wheel), receive (handle one receive buffer) and release (drop
 * what the kind holds once the connection closes). A kind allocates its own record with
 * `struct conn` as its first member, so adding a kind touches neither the loop nor routing.
 *
 * Output is a queue of pooled chunks (outq.h): frames are appended behind the one send in
 * flight, which the kernel reads from the same chunks. A connection is freed only when no
 * kernel operation refers to it any more; until then it sits on the table's closing list.
 * Shard-owned: only the connection's home shard touches it. */
#ifndef IONATS_ENGINE_CONN_H
#define IONATS_ENGINE_CONN_H

#include "base/timer.h"
#include "engine/outbuf.h"
#include "engine/outq.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Life-cycle flags, owned by the loop and this module. Kinds keep their own in kind_flags. */
enum {
    CONN_F_RECV_ARMED = 1u << 0,    /* a multishot recv is in the kernel */
    CONN_F_SEND_INFLIGHT = 1u << 1, /* the front send_length bytes of `out` are in a send */
    CONN_F_FLUSH_QUEUED = 1u << 2,  /* on the table's flush list */
    CONN_F_CLOSING = 1u << 3,       /* no more input; waiting for in-flight ops */
    CONN_F_CLOSE_AFTER_FLUSH = 1u << 4, /* a last reply (-ERR …) is going out, then close */
    CONN_F_RECV_REARM = 1u << 5,    /* multishot recv ended; arm again this turn */
    CONN_F_RELEASED = 1u << 6,      /* the kind's state is already released */
    CONN_F_PAUSED = 1u << 7,        /* not read: its publishes wait in a full cross-shard ring */
    CONN_F_EOF = 1u << 8,           /* the peer closed its sending side */
    CONN_F_CONGESTED = 1u << 9,     /* its unsent output passed the high watermark */
    CONN_F_FLOW_EXEMPT = 1u << 10,  /* congested but stuck: pushes back on nobody */
    CONN_F_FLOW_PAUSED = 1u << 11,  /* not read: it fed a congested subscriber */
    CONN_F_HELD_QUEUED = 1u << 12,  /* on the shard's list of held input to handle */
    CONN_F_RECV_STOPPING = 1u << 13, /* its receive was asked to end (loop_recv_stop) */
    /* The kind is preparing an answer elsewhere (monitoring gathers other shards' data): a
     * close after flush waits for it, within its grace (CONFIG_DRAIN_NS) all the same. */
    CONN_F_REPLY_PENDING = 1u << 14,
    /* Not read: the kind waits on work done elsewhere (a bcrypt comparison) before it takes
     * more input; what arrives is held (shard_input_pause). */
    CONN_F_INPUT_HELD = 1u << 15,
};

struct conn;
struct shard;

/* Unsent output above which a subscriber holds back the publishers that feed it (at most
 * half of max_pending); it lets them go again below a quarter of it. Enough for a
 * subscriber that keeps up to never stop a publisher, small enough that a fan-out to
 * thousands of them stays within a few hundred megabytes. */
enum { CONN_FLOW_HIGH_BYTES = 256 * 1024 };

/* The iovecs one send takes at most: with OUTQ_CHUNK_DATA each, a little under 256 KiB. */
enum { CONN_SEND_IOV_MAX = 16 };

struct conn_kind {
    const char *name;
    size_t size; /* bytes of the kind's record; struct conn is its first member */
    /* A new connection on its home shard: queue the greeting. 0 or -errno (then closed). */
    int (*open)(struct conn *conn, const struct sockaddr *peer);
    /* Every byte of one receive buffer, in order. Not called once the connection is
     * CLOSING; still called while it closes after a flush (the kind ignores that input). */
    void (*receive)(struct conn *conn, const char *data, size_t length);
    /* The connection is closing: drop subscriptions and what else the kind holds. Output
     * buffers stay: the kernel may hold one. Called once. */
    void (*release)(struct conn *conn);
    /* The configuration was reloaded (reload.h): check the connection against it. NULL:
     * nothing to check. */
    void (*reload)(struct conn *conn);
    /* Lame duck mode began: tell the peer (a client's INFO with "ldm":true). NULL: nothing
     * to tell. */
    void (*lame_duck)(struct conn *conn);
};

struct conn_stats {
    uint64_t in_msgs;
    uint64_t in_bytes;
    uint64_t out_msgs;
    uint64_t out_bytes;
};

struct conn_table;

/* The links of a connection on one of its table's doubly linked lists. */
struct conn_links {
    struct conn *prev;
    struct conn *next;
};

struct conn {
    const struct conn_kind *kind; /* static */
    struct shard *shard;    /* borrowed: the home shard */
    struct conn_table *table; /* borrowed: the home shard's table */
    int fd;
    uint32_t index;         /* slot in the table */
    uint32_t generation;    /* bumped on reuse; stale completions are ignored */
    uint32_t flags;         /* CONN_F_* */
    uint32_t kind_flags;    /* the kind's own */
    uint32_t inflight_count; /* kernel operations still referring to this connection */
    uint64_t id;            /* unique on this server (a client's client_id) */
    struct outq out;        /* output not yet sent, in the table's pooled chunks */
    /* The send in flight (CONN_F_SEND_INFLIGHT): its bytes, the front of `out`, and the
     * iovecs (and, for io_uring's sendmsg, the header) the kernel reads them through. */
    size_t send_length;
    struct iovec send_iov[CONN_SEND_IOV_MAX];
    struct msghdr send_msg;
    /* Input received while the connection was paused (io_uring may still deliver what its
     * receive had taken before the pause ended it), handled once it is read again. */
    struct outbuf held;
    size_t held_offset;     /* bytes of `held` already handled */
    struct conn *held_next; /* the shard's list of connections with held input to handle */
    int64_t connected_ns;
    int64_t received_ns;    /* the shard's clock (its timer wheel) when input last came */
    int64_t send_progress_ns; /* last time the send in flight moved bytes */
    struct timer_entry write_timer; /* the write deadline; armed by the loop with a send */
    struct timer_entry close_timer; /* the end of a close-after-flush's grace */
    struct conn *flush_next; /* flush list link */
    struct conn *close_next; /* closing list link */
    /* Flow control: the table's congested and flow-paused lists, and the send progress
     * seen when the congestion was last looked at. */
    struct conn_links congested;
    struct conn_links paused;
    int64_t flow_mark_ns;
    int64_t flow_mark_acked; /* bytes the peer had acknowledged then (TCP_INFO), -1 unknown */
    uint32_t flow_idle_checks; /* flow checks in a row that saw nothing move */
    /* The I/O backend's own (loop_epoll.c): registered events, a finished operation's
     * result waiting for dispatch, and the link of that list. */
    uint32_t io_events;
    int32_t io_result;
    struct conn *io_next;
    const char *close_reason; /* static text */
    int32_t recv_error;       /* the -errno that ended its receive ("Read Error"), or 0 */
    /* A layer between the kind and the socket (TLS, conn_tls.c), and its state; NULL: none,
     * bytes go as they are. */
    const struct conn_layer *layer;
    struct conn_tls *tls;
    struct conn_stats stats;
    char ip[INET6_ADDRSTRLEN];
    int port;
};

/* What a layer under the kind does (TLS: conn_tls.c registers it on the connections it
 * takes): it is handed the bytes received, and turns the kind's output into what is sent.
 * The platform calls it; it never names the layer. */
struct conn_layer {
    void (*receive)(struct conn *conn, const char *data, size_t length);
    bool (*seal)(struct conn *conn); /* before a send; false when it closed the connection */
    bool (*has_output)(const struct conn *conn);
    size_t (*pending)(const struct conn *conn);
    int (*send_iov)(struct conn *conn, size_t bytes_max);
    void (*sent)(struct conn *conn, size_t bytes);
    void (*release)(struct conn *conn); /* the slot goes back to the table */
};

struct conn_table_stats {
    uint64_t closed;
    struct conn_stats closed_totals; /* the counters of the connections freed so far */
    uint64_t slow_consumers;
    uint64_t flow_pauses;     /* publishers paused because a subscriber they fed was behind */
    uint64_t flow_exempted;   /* congested subscribers that stopped pushing back (stuck) */
};

/* One shard's connections: slots indexed by conn->index, the list of connections with
 * output to send this turn, and the list of those closing. */
struct conn_table {
    struct conn **conns;     /* owned slots */
    uint32_t capacity;
    uint32_t capacity_max;   /* slots may not grow past this (the index bits of user_data) */
    uint32_t *free_slots;    /* owned stack of free indexes */
    uint32_t free_count;
    uint32_t live_count;
    uint32_t generation_next;
    int64_t max_pending;     /* unsent bytes before a connection is cut off */
    int64_t write_deadline_ns; /* a send that moves nothing this long cuts it off */
    struct timer_wheel *timers; /* borrowed: the shard's wheel */
    struct conn *flush_head; /* connections with output to send this turn */
    struct conn *close_head; /* connections closing, freed once nothing is in flight */
    /* Flow control (see conn_flow_*): subscribers whose unsent output passed flow_high,
     * how many of them still push back, and the publishers not read because they fed one. */
    struct conn *congested_head;
    uint32_t congested_active;
    struct conn *flow_paused_head;
    size_t flow_high;
    size_t flow_low;
    bool flow_hit;           /* output was queued for an active congested subscriber */
    struct timer_entry flow_timer; /* looks for stuck congested subscribers */
    bool flow_resume_wanted; /* a congestion ended: read the flow-paused publishers again */
    struct outq_pool out_pool; /* the chunks of every connection's output */
    struct conn_table_stats stats;
};

void conn_table_init(struct conn_table *table, uint32_t capacity_max, int64_t max_pending,
                     int64_t write_deadline_ns, struct timer_wheel *timers);

/* Frees every slot's connection (the caller made sure the kernel holds none) and the table. */
void conn_table_destroy(struct conn_table *table);

/* A zeroed connection of `kind` in a free slot, or NULL when memory or slots ran out. */
struct conn *conn_table_take(struct conn_table *table, const struct conn_kind *kind);

/* Returns the connection's slot and memory. No kernel operation may refer to it. */
void conn_table_free(struct conn_table *table, struct conn *conn);

/* The live connection in slot `index` with `generation`, or NULL. */
struct conn *conn_table_get(const struct conn_table *table, uint32_t index,
                            uint32_t generation);

/* A send went to the kernel at `now_ns`: the write deadline runs from here (armed once per
 * stretch of sending; a send that moved since is given the deadline again from then). */
void conn_send_started(struct conn *conn, int64_t now_ns);

/* Notes the peer's address and port (conn->ip, conn->port) from `peer`. */
void conn_peer_set(struct conn *conn, const struct sockaddr *peer);

/* Appends raw protocol text and queues a flush; nothing once the connection closes. */
void conn_write_text(struct conn *conn, const char *text, size_t length);

/* Makes room for `bytes` more output or cuts the connection off as a slow consumer (its
 * pending output would exceed max_pending). Returns 0, -ENOBUFS when it was cut off, or
 * -ENOMEM when it was closed for want of memory. */
int conn_reserve_output(struct conn *conn, size_t bytes);

/* Output bytes not yet sent: collected plus in flight (and TLS records not yet sent). */
static inline size_t conn_pending_bytes(const struct conn *conn)
{
    return conn->layer == NULL ? conn->out.length : conn->layer->pending(conn);
}

/* Hands received bytes to the connection: to its kind, or through TLS. */
static inline void conn_receive(struct conn *conn, const char *data, size_t length)
{
    if (conn->layer == NULL) {
        conn->kind->receive(conn, data, length);
    } else {
        conn->layer->receive(conn, data, length);
    }
}

/* True when a send can start: output is queued (under TLS, sealed into records first). */
static inline bool conn_output_ready(struct conn *conn)
{
    if (conn->layer == NULL) {
        return conn->out.length > 0;
    }
    return conn->layer->seal(conn) && conn->layer->has_output(conn);
}

/* Appends bytes reserved with conn_reserve_output. */
static inline void conn_put(struct conn *conn, const void *data, size_t length)
{
    outq_put(&conn->out, data, length);
}

/* Hands the kernel's send its iovecs: the front of the unsent output, at most `bytes_max`.
 * Sets send_length; returns the iovec count (≥ 1: a send is started only with output). */
int conn_send_iov(struct conn *conn, size_t bytes_max);

/* A send ended having moved `bytes`: they leave the output, and their chunks the queue. */
void conn_sent(struct conn *conn, size_t bytes);

/* Puts the connection on the flush list: its output goes out at the end of the turn. */
void conn_flush_queue(struct conn *conn);

/* Closes now: no more input, output not yet sent is dropped. */
void conn_close(struct conn *conn, const char *reason);

/* Closes once what is queued has been sent (or after CONFIG_DRAIN_NS at most). */
void conn_close_after_flush(struct conn *conn, const char *reason);

/* ---- flow control ----
 * A subscriber whose unsent output passes the table's high watermark is *congested*: the
 * publishers that feed it are not read (the kernel's TCP window then pushes back on them)
 * until it drains below the low watermark. A congested subscriber that moves no bytes for
 * a while (the shard's flow timer) is *exempt*: it pushes back on nobody any more and is cut
 * as a slow consumer when it passes max_pending or the write deadline, so a stuck
 * subscriber cannot slow anyone else for long. conn_reserve_output notes congestion;
 * the shard (shard.c) pauses and resumes publishers. */

/* Clears the flag that output reserved since now went to an active congested subscriber. */
static inline void conn_flow_hit_clear(struct conn_table *table)
{
    table->flow_hit = false;
}

/* After a send completed: true when the connection was congested and has drained below
 * the low watermark (it no longer is, and the flow-paused publishers may be read). */
bool conn_flow_drained(struct conn *conn);

/* How often congested subscribers are looked at, and how many looks in a row must see
 * nothing move (no send of ours started, and its TCP acknowledged nothing new) before one
 * is taken for stuck and stops holding back its publishers: a publisher waits on a stuck
 * subscriber for about half a second, once. Shorter would take live subscribers for stuck:
 * a client's pause (a collector, a busy host) or TCP's zero-window probing on a small
 * receive buffer easily stops a reader for a couple of hundred milliseconds. */
enum { CONN_FLOW_STUCK_CHECKS = 5 };
#define CONN_FLOW_CHECK_NS (100LL * 1000000LL)

/* Marks congested subscribers that moved no bytes since the last look as exempt. Returns
 * how many became exempt. (The table's flow timer calls it every CONN_FLOW_CHECK_NS while
 * some subscriber is congested.) */
uint32_t conn_flow_exempt_stuck(struct conn_table *table);

/* Puts a publisher on, or takes it off, the flow-paused list (its flag follows). */
void conn_flow_paused_add(struct conn *conn);
void conn_flow_paused_remove(struct conn *conn);

/* Input came: noted at the wheel's time (its latest tick), the turn's clock, so a receive
 * costs no clock read. */
static inline void conn_input_noted(struct conn *conn, const struct timer_wheel *wheel)
{
    conn->received_ns = wheel->origin_ns + (int64_t)wheel->reached_tick * wheel->tick_ns;
}

/* True once the connection is on its way out: no more input is handled. */
static inline bool conn_ending(const struct conn *conn)
{
    return (conn->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER_FLUSH)) != 0;
}

#endif
