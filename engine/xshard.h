/* Cross-shard transport: the SPSC ring from every shard to every other, the records that
 * travel in them, and waking a shard that sleeps.
 *
 * The records themselves are in xshard_record.h. A publish too large to copy into a ring
 * (XSHARD_PUBLISH_REF) is written once per target shard into a heap block of its own,
 * since each target's body names the queue groups that target must serve; the target frees
 * it. (Sharing one block between targets, released on its home shard, is not done yet.)
 *
 * A record that finds its ring full waits, in order, in the producer's overflow queue for
 * that ring (so nothing is lost and order holds), and the connection that produced it (a
 * publish, or a SUB/UNSUB's announcement) stops being read until every overflow queue of
 * its shard is empty: backpressure lands on the fast publisher, not on other clients.
 * Rings are published once per loop turn. A consumer that goes to sleep says so in its
 * `sleeping` flag, and a producer that publishes to it then wakes it with one
 * IORING_OP_MSG_RING.
 *
 * The overflow budget (--xshard_overflow_max). The shard counts the bytes its overflow
 * queues hold (shard->overflow_bytes: each node's header and body, and for a large
 * publish the block it refers to, which only the node keeps alive). A record is never
 * refused for the budget: a core publish may be dropped only for a slow consumer, and an
 * announcement or acknowledgement never. The budget is a soft limit on who is read:
 *   - within it, only the connection whose record waits is paused (above);
 *   - the record that takes the queues past it pauses every connection of the shard at
 *     once (xshard_budget_check says XSHARD_BUDGET_PASSED), counted in xshard_budget_paused;
 *   - past it, any connection that produces a cross-shard record, even one its ring took,
 *     is paused too (a connection accepted meanwhile, say);
 *   - every paused connection is read again once all overflow queues are empty.
 * Pausing only the connections that overflow would not bound memory: each of N connections
 * could still add what it had already received, N receive buffers. Pausing all of them at
 * the budget bounds what can still arrive by what the loop had already received when the
 * pause landed: the rest of the buffer being parsed, and on io_uring the completions
 * already posted, each holding one of the shard's provided buffers, so at most
 * recv_buf_count × recv_buf_size bytes of input in all (2 MiB by default; on epoll a
 * paused connection is read no further). That input becomes at most E times its size in
 * overflow, E for the smallest publish ("PUB a 0\r\n\r\n", 12 bytes → a 16-byte node
 * header, a 24-byte struct xshard_publish and the subject) about 3.4 per target shard whose
 * ring is full. Hence overflow ≤ budget + 3.4 × targets × that input, plus what connections
 * accepted past the budget send before their first cross-shard record (none once accepting
 * calls xshard_budget_hold). The price: while past the budget a shard reads no connection
 * at all, those publishing locally included (their output still goes out). That is a
 * shard-wide overload — a peer has fallen the whole budget behind — and it ends as soon as
 * the peer catches up, since draining rings needs nothing this shard reads. Paused
 * connections do not have their PONGs read either, so a peer stuck for ping_interval ×
 * ping_max would see them closed as stale. Not covered: the blocks of large publishes
 * already in a ring; the ring bounds how many (a reference record is 16 bytes), not their
 * bytes, and only the consumer knows when it frees them.
 *
 * Out of memory. A publish whose overflow node or block cannot be allocated closes its
 * publisher (route.c). An announcement goes to every other shard or to none: its overflow
 * nodes are allocated before any record is written (xshard_announce). A SUB whose add
 * cannot be announced is undone and its client closed, with a LOG_ERROR: no shard heard of
 * it, so none is told of its removal either. A removal (UNSUB, or a client going away)
 * cannot be refused, so when it cannot be announced it is owed: interest.h keeps it, and
 * xshard_flush announces it once memory allows, in order behind what was queued before. An
 * acknowledgement that cannot be queued is sent on a later turn (acknowledgements are
 * cumulative, so nothing is lost). Owed removals and acknowledgements keep xshard_flush
 * reporting records waiting, so the loop polls for them and paused connections stay
 * paused. Each failed attempt is counted in announce_no_memory. */
#ifndef IONATS_ENGINE_XSHARD_H
#define IONATS_ENGINE_XSHARD_H

#include "base/spsc.h"
#include "engine/xshard_record.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* What other shards may touch of a shard: its wake-up state and load. One per shard, on
 * its own cache lines. */
struct shard_shared {
    /* 1 while the shard is about to sleep or sleeps in io_uring_enter. seq_cst on both
     * sides (Dekker): the shard stores 1 then checks its rings; a producer publishes a
     * ring then exchanges this to 0, and the one that saw 1 sends the wake-up. */
    _Alignas(128) _Atomic int sleeping;
    /* Connections on the shard, for placement. Relaxed: a hint, nothing is published
     * through it. */
    _Atomic int64_t load;
    /* Its loop's struct loop_peer: written by the shard before the shards pass their start
     * barrier, immutable after. */
    int ring_fd;    /* the wake-up handle (loop_peer.wake_fd) */
    int handoff_fd; /* where new connections are handed (loop_peer.handoff_fd) */
};

/* One producer → consumer link. The ring is shared; the overflow queue is the producer's. */
struct xshard_overflow {
    struct xshard_overflow *next;
    uint32_t type;
    uint32_t length;
    unsigned char body[];
};

struct xshard_link {
    struct spsc ring;
    _Alignas(128) struct xshard_overflow *overflow_head; /* producer only */
    struct xshard_overflow *overflow_tail;
    uint64_t overflow_count;
    bool dirty; /* producer: committed records not yet published */
};

struct shard;
struct conn;

/* ---- producer side, on the sending shard ---- */

/* Room for a record of `length` body bytes toward shard `target`: in its ring, or in a new
 * overflow node when the ring is full or already has records waiting (order is kept).
 * *overflowed tells which. NULL only when memory for an overflow node could not be had. */
void *xshard_reserve(struct shard *shard, int target, uint32_t type, uint32_t length,
                     bool *overflowed);

/* The record reserved last toward `target` is written. An overflow node is charged to the
 * budget here (with its block, for XSHARD_PUBLISH_REF); the one that takes the queues past
 * the budget pauses every connection of the shard. */
void xshard_commit(struct shard *shard, int target, bool overflowed);

/* What one more overflow node does to the budget. Pure, for the tests. */
enum xshard_budget {
    XSHARD_BUDGET_WITHIN = 0, /* queued + record ≤ max: only its producer waits */
    XSHARD_BUDGET_PASSED = 1, /* this record takes the queues past max: pause everyone */
    XSHARD_BUDGET_BEYOND = 2, /* past max already: everyone was paused */
};
enum xshard_budget xshard_budget_check(uint64_t queued_bytes, uint64_t record_bytes,
                                       uint64_t max_bytes);

/* True while the overflow queues hold more than the budget. */
bool xshard_budget_spent(const struct shard *shard);

/* A mark to compare after a SUB/UNSUB: changed when some record went to an overflow queue
 * since it was taken. */
uint64_t xshard_overflow_mark(const struct shard *shard);

/* `conn` (may be NULL) just produced cross-shard records: stops reading it when one of
 * them waits in an overflow queue (`overflowed`) or the budget is spent. */
void xshard_producer_hold(struct shard *shard, struct conn *conn, bool overflowed);

/* A connection about to be read for the first time: paused instead while the budget is
 * spent (true), so connections accepted past it add nothing until the queues drain. */
bool xshard_budget_hold(struct shard *shard, struct conn *conn);

/* End of turn: announces removals owed (interest.h) while memory allows, moves overflow
 * into rings where room appeared, publishes every ring written this turn once, and wakes
 * targets that sleep. Returns true while some overflow waits, or a removal or an
 * acknowledgement is owed: then paused connections stay paused and the loop polls. */
bool xshard_flush(struct shard *shard);

/* ---- consumer side ---- */

/* Handles what other shards sent, up to a budget per ring. True when records were left. */
bool xshard_drain(struct shard *shard);

/* True when another shard has published records this shard has not read. */
bool xshard_inbound_pending(struct shard *shard);

/* Tells every other shard that a (subject, queue) pair gained its first local subscriber
 * or lost its last: all of them, or none. 0 when every record went into its ring;
 * XSHARD_ANNOUNCE_WAITING when some wait in overflow queues; -ENOMEM when an overflow node
 * could not be allocated: then no shard was told and announce_no_memory counts it. */
enum { XSHARD_ANNOUNCE_WAITING = 1 };
int xshard_announce(struct shard *shard, bool add, const char *subject, uint32_t subject_length,
                    const char *queue, uint32_t queue_length);

/* True when every other shard has applied every announcement made so far. */
bool xshard_announcements_applied(const struct shard *shard, uint64_t sequence);

#endif
