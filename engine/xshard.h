/* Cross-shard transport: the SPSC ring from every shard to every other, the records that
 * travel in them, and waking a shard that sleeps.
 *
 * The records themselves are in xshard_record.h. A publish small enough is copied into each
 * target's ring (XSHARD_PUBLISH). A larger one is written once into a heap block (struct
 * xshard_block: subject, reply, headers and payload) shared by every target; each target's
 * ring gets a small XSHARD_PUBLISH_REF record naming the block and, inline, the queue groups
 * that target must serve.
 *
 * Who frees a block: the last holder, on whichever shard that is. The block's reference
 * count is 1 for the producer while it writes the records, plus one per record naming it
 * (ring or overflow queue); each consumer drops its record's reference when it has handled
 * it, and the producer drops its own once every target's record is written; the one that
 * takes the count to 0 frees the block. Passing the block back to its home shard instead
 * (DESIGN principle 4's wording) would need a release record per target on the reverse
 * ring: room there that may not be free when the consumer is done (a reverse ring full of
 * the home shard's own traffic, each side waiting on the other), records that cost more
 * than the free they replace, and the block held a turn longer. A free from another thread
 * is an ordinary, thread-safe operation for jemalloc and glibc alike: jemalloc keeps the
 * block in the freeing thread's cache (up to its tcache_max size class, a bounded number)
 * or returns it to the arena that owns its extent, found from the address, under that
 * arena's lock; glibc returns the chunk to the arena its header names, under that arena's
 * lock, or unmaps an mmapped one. Blocks are XSHARD_INLINE_BYTES_MAX bytes or more, sizes
 * whose allocation takes such a lock on the home shard anyway. Nothing else of the message
 * path frees another shard's memory.
 *
 * Memory orders of the count. The producer initialises it before any record names the
 * block, and the records become visible only through the ring's release/acquire
 * (spsc_publish ↔ spsc_peek), which carries the count and the block's bytes with them. Each
 * record's reference is added with a relaxed increment by the producer, which holds a
 * reference of its own meanwhile, so the count cannot reach 0 under it. Every drop is an
 * acq_rel decrement: release orders the holder's reads of the block before its drop, and
 * the acquire of the drop that reaches 0 orders every other holder's reads before the free.
 *
 * The block cap. Each link counts the bytes of the blocks its ring's records name
 * (`block_bytes`: sizeof(struct xshard_block) + body, once per record): the producer adds
 * when a reference record enters the ring, the consumer subtracts when it has handled it.
 * Both relaxed: nothing is published through the count, and only the producer adds, so the
 * value it reads is never below the truth. A reference record finds the ring full (and
 * waits in the overflow queue, pausing its publisher as below) while taking it would put
 * the link above its cap, the ring's own size (--xshard_ring_size), unless no block bytes
 * are outstanding at all, so that a block larger than the cap still goes, alone. A link thus
 * pins at most its ring size in records plus max(ring size, one block) in blocks, instead
 * of one block of up to max_payload per reference record (24 ring bytes). A block shared by
 * several targets is counted by each link that names it, and pinned until the slowest
 * drops it.
 *
 * A record that finds its ring full waits, in order, in the producer's overflow queue for
 * that ring (so nothing is lost and order holds), and the connection that produced it (a
 * publish, or a SUB/UNSUB's announcement) stops being read until every overflow queue of
 * its shard is empty: backpressure lands on the fast publisher, not on other clients.
 * Rings are published once per loop turn. A consumer that goes to sleep says so in its
 * `sleeping` flag, and a producer that publishes to it then wakes it with one
 * IORING_OP_MSG_RING.
 *
 * The transport is a part of its shard (struct xshard, embedded in struct shard) that knows
 * nothing of the shard: what it must have done there — deliver a forwarded publish, release
 * what waited for acknowledgements, wake a peer, pause connections, learn whether the drain
 * must stop — it asks through the handlers the shard registered (struct xshard_handlers),
 * so this module includes neither the shard nor routing. It keeps the shard's interest
 * replica current itself (interest.h, borrowed), as announcements are its protocol. One
 * thread touches a struct xshard: its shard's; what two shards share (the links, `shared`,
 * the blocks) is said where it is declared.
 *
 * The overflow budget (--xshard_overflow_max). The shard counts the bytes its overflow
 * queues hold (xshard->overflow_bytes: each node's header and body, and for a reference
 * record the whole block it names, counted by every node that names it: an overcount when
 * several targets of one publish wait, never an undercount). A record is never
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
 * calls xshard_accept_hold). The price: while past the budget a shard reads no connection
 * at all, those publishing locally included (their output still goes out). That is a
 * shard-wide overload — a peer has fallen the whole budget behind — and it ends as soon as
 * the peer catches up, since draining rings needs nothing this shard reads. Paused
 * connections do not have their PONGs read either, so a peer stuck for ping_interval ×
 * ping_max would see them closed as stale. The blocks named by records already in a ring
 * are bounded by each link's block cap (above), not by this budget.
 *
 * Out of memory. A publish whose overflow node or block cannot be allocated closes its
 * publisher (route.c); the targets whose records were written still get it, and the block
 * is freed when they are done with it. An announcement goes to every other shard or to
 * none: its overflow nodes are allocated before any record is written (xshard_announce). A
 * SUB whose add cannot be announced is undone and its client closed, with a LOG_ERROR: no
 * shard heard of it, so none is told of its removal either. A removal (UNSUB, or a client
 * going away) cannot be refused, so when it cannot be announced it is owed: interest.h keeps
 * it, and xshard_flush announces it once memory allows, in order behind what was queued
 * before. An acknowledgement that cannot be queued is sent on a later turn
 * (acknowledgements are cumulative, so nothing is lost). Owed removals and acknowledgements
 * keep xshard_flush reporting records waiting, so the loop polls for them and paused
 * connections stay paused. Each failed attempt is counted in announce_no_memory. */
#ifndef IONATS_ENGINE_XSHARD_H
#define IONATS_ENGINE_XSHARD_H

#include "base/spsc.h"
#include "engine/route_msg.h"
#include "engine/xshard_record.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
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
    /* Bytes of the blocks named by the reference records in the ring, published or not:
     * the producer adds, the consumer subtracts (see "The block cap" above for the
     * relaxed orders). Shared, on a line of its own. */
    _Alignas(128) _Atomic uint64_t block_bytes;
    _Alignas(128) struct xshard_overflow *overflow_head; /* producer only */
    struct xshard_overflow *overflow_tail;
    uint64_t overflow_count;
    bool dirty; /* producer: committed records not yet published */
};

struct conn;
struct interest;

/* A publish another shard forwarded, as the consumer hands it to routing. Borrowed for the
 * call: it points into a ring or a block. */
struct xshard_forwarded {
    struct route_msg msg;
    bool plain;                  /* deliver to plain subscribers too; false for a record that
                                  * only continues the queue groups of the one before */
    uint32_t group_count;        /* queue groups this shard must serve */
    const unsigned char *groups; /* group_count × (u32 length, name) */
    uint32_t groups_length;      /* bytes at `groups` */
};

/* What the transport asks of its shard. Static tables; every handler gets the `ctx` given
 * to xshard_init (the shard) and runs on the shard's thread, inside xshard_drain,
 * xshard_flush or a producer call. */
struct xshard_handlers {
    /* A publish another shard forwarded: deliver it here. */
    void (*forwarded)(void *ctx, const struct xshard_forwarded *forwarded);
    /* Acknowledgements arrived: some shard applied more of this shard's announcements
     * (xshard_announcements_applied may now say yes to more). */
    void (*acked)(void *ctx);
    /* Wake the shard whose wake-up handle (struct shard_shared's ring_fd) is `wake_fd`. */
    void (*wake)(void *ctx, int wake_fd);
    /* Stop reading `conn` until xshard_flush reports nothing waiting. True when this paused
     * it; false when it was paused already or is closing. */
    bool (*pause)(void *ctx, struct conn *conn);
    /* Stop reading every connection of the shard, likewise; how many this paused. */
    uint64_t (*pause_all)(void *ctx);
    /* True while the drain must stop before the next record (a subscriber here is behind:
     * flow control, conn.h). */
    bool (*drain_held)(void *ctx);
    /* A message for module `module` from shard `origin` (xshard_module_send): the handler
     * owns it. */
    void (*module)(void *ctx, int origin, int module, void *message);
};

/* Counters for --stats, printed by xshard_stats_format. Shard-owned, like the rest. */
struct xshard_stats {
    uint64_t sent;            /* publishes forwarded to other shards, one per target */
    uint64_t received;        /* publishes other shards forwarded here */
    uint64_t ring_full;       /* records that found a ring full */
    uint64_t block_capped;    /* reference records that found their link's block cap reached */
    uint64_t blocks;          /* large publishes written into a shared block */
    uint64_t no_memory;       /* publishes that could not be forwarded for want of memory */
    uint64_t overflowed;      /* records that waited in an overflow queue */
    uint64_t overflow_peak_bytes; /* most bytes the overflow queues held at once */
    uint64_t budget_paused;   /* connections paused because the budget was passed */
    uint64_t announce_no_memory; /* announcements and acknowledgements that found no memory
                                  * (a SUB refused; a removal or ack retried later) */
    uint64_t wakeups_sent;
};

/* One shard's end of the transport: its links, the state of its overflow queues and its
 * announcements. Shard-owned (embedded in struct shard); only the links and `shared` are
 * shared, as documented there. */
struct xshard {
    int index;                        /* this shard's */
    int shard_count;
    struct shard_shared *shared;      /* borrowed [shard_count]: every shard's (struct server) */
    struct xshard_link **out_links;   /* owned array of borrowed links, [shard_count]; NULL
                                       * at this shard's own index */
    struct xshard_link **in_links;    /* likewise, the links toward this shard */
    struct interest *interest;        /* borrowed: the shard's replica and removals owed */
    const struct xshard_handlers *handlers; /* static */
    void *ctx;                        /* borrowed: handed to every handler */
    uint64_t overflow_max_bytes;      /* --xshard_overflow_max */
    bool overflowing;                 /* some record waits in an overflow queue */
    bool overflow_paused_all;         /* past the budget every connection was paused; until
                                       * the queues are empty again */
    uint64_t overflow_bytes;          /* held by all overflow queues (the budget above) */
    int64_t overflow_warned_ns;       /* when the last such pause was logged */
    uint64_t announce_sequence;       /* announcements sent so far (each to every shard) */
    uint64_t *acked_by;               /* owned [shard_count]: mine applied by each shard */
    uint64_t *applied_from;           /* owned [shard_count]: each shard's applied here */
    uint64_t *applied_acked;          /* owned [shard_count]: last applied_from sent back */
    struct xshard_stats stats;
};

/* What xshard_init needs; borrowed for the call. */
struct xshard_setup {
    int index;
    int shard_count;
    struct shard_shared *shared;  /* [shard_count], outliving the xshard */
    struct xshard_link *links;    /* [shard_count²], link i→j at i * shard_count + j,
                                   * outliving the xshard; NULL with one shard */
    struct interest *interest;    /* the shard's, initialised, outliving the xshard */
    int64_t overflow_max_bytes;   /* --xshard_overflow_max, ≥ 0 */
    const struct xshard_handlers *handlers; /* static, every handler set */
    void *ctx;
};

/* Sets `x` up for shard `setup->index`. 0, or -ENOMEM (then nothing is left to destroy). */
int xshard_init(struct xshard *x, const struct xshard_setup *setup);

/* Frees what `x` owns: its overflow queues (dropping the block references they hold) and
 * its arrays. Safe on a zeroed struct and on one xshard_init failed to set up. */
void xshard_destroy(struct xshard *x);

/* Writes the counters as "name=value ..." for the shard's statistics line; as snprintf.
 * XSHARD_STATS_TEXT_SIZE bytes always hold it: 13 names (about 240 bytes in all) and 13
 * values of at most 20 digits, with room to spare. */
enum { XSHARD_STATS_TEXT_SIZE = 640 };
int xshard_stats_format(const struct xshard *x, char *text, size_t size);

/* ---- producer side, on the sending shard ---- */

/* Room for a record of `length` body bytes toward shard `target`: in its ring, or in a new
 * overflow node when the ring is full or already has records waiting (order is kept).
 * *overflowed tells which. NULL only when memory for an overflow node could not be had.
 * Not for XSHARD_PUBLISH_REF, which only xshard_forward writes. */
void *xshard_reserve(struct xshard *x, int target, uint32_t type, uint32_t length,
                     bool *overflowed);

/* The record reserved last toward `target` is written. An overflow node is charged to the
 * budget here; the one that takes the queues past the budget pauses every connection of
 * the shard. */
void xshard_commit(struct xshard *x, int target, bool overflowed);

/* Sends `message` (heap memory the receiver's module frees) to the instance of module
 * `module` (an index in the server's list) on shard `target`, in order with everything else this shard sends there; never refused for a full
 * ring (it waits in the overflow queue). 0, or -ENOMEM (then the caller still owns it). */
int xshard_module_send(struct xshard *x, int target, int module, void *message);

/* A queue group a target shard is asked to serve for one publish: routing's pick. */
struct xshard_pick {
    int target;
    const char *name; /* borrowed from the match result, valid during the publish */
    uint32_t name_length;
};

/* What forwarding a publish came to; ordered, the worst of several targets wins. */
enum xshard_forward {
    XSHARD_FORWARD_FLOWING = 0,   /* in the rings */
    XSHARD_FORWARD_WAITING = 1,   /* some of it waits in an overflow queue: pause the publisher */
    XSHARD_FORWARD_NO_MEMORY = 2, /* some target did not get it: an overflow node or block failed */
};

/* Sends `msg` to every shard whose `targets` entry ([shard_count], not this shard) is
 * non-zero, each with the queue groups `picks` name for it: copied into the ring when the
 * whole record is at most XSHARD_INLINE_BYTES_MAX bytes, else by reference to one block
 * shared by every target that needs it. Counts `sent` per target reached. */
enum xshard_forward xshard_forward(struct xshard *x, const struct route_msg *msg,
                                   const uint8_t *targets, const struct xshard_pick *picks,
                                   uint32_t pick_count);

/* Reads the group at `cursor` (within forwarded->groups) into *name; returns the next. */
const unsigned char *xshard_group_next(const unsigned char *cursor, struct proto_slice *name);

/* What one more overflow node does to the budget. Pure, for the tests. */
enum xshard_budget {
    XSHARD_BUDGET_WITHIN = 0, /* queued + record ≤ max: only its producer waits */
    XSHARD_BUDGET_PASSED = 1, /* this record takes the queues past max: pause everyone */
    XSHARD_BUDGET_BEYOND = 2, /* past max already: everyone was paused */
};
enum xshard_budget xshard_budget_check(uint64_t queued_bytes, uint64_t record_bytes,
                                       uint64_t max_bytes);

/* True while the overflow queues hold more than the budget. */
bool xshard_budget_spent(const struct xshard *x);

/* A mark to compare after a SUB/UNSUB: changed when some record went to an overflow queue
 * since it was taken. */
uint64_t xshard_overflow_mark(const struct xshard *x);

/* `conn` (may be NULL) just produced cross-shard records: stops reading it when one of
 * them waits in an overflow queue (`overflowed`) or the budget is spent. */
void xshard_producer_hold(struct xshard *x, struct conn *conn, bool overflowed);

/* A connection about to be read for the first time: paused instead while the budget is
 * spent (true), so connections accepted past it add nothing until the queues drain. */
bool xshard_accept_hold(struct xshard *x, struct conn *conn);

/* End of turn: announces removals owed (interest.h) while memory allows, moves overflow
 * into rings where room appeared, publishes every ring written this turn once, and wakes
 * targets that sleep. Returns true while some overflow waits, or a removal or an
 * acknowledgement is owed: then paused connections stay paused and the loop polls. */
bool xshard_flush(struct xshard *x);

/* Tells every other shard that a (subject, queue) pair gained its first local subscriber
 * or lost its last: all of them, or none. 0 when every record went into its ring;
 * XSHARD_ANNOUNCE_WAITING when some wait in overflow queues; -ENOMEM when an overflow node
 * could not be allocated: then no shard was told and announce_no_memory counts it. */
enum { XSHARD_ANNOUNCE_WAITING = 1 };
int xshard_announce(struct xshard *x, bool add, const char *subject, uint32_t subject_length,
                    const char *queue, uint32_t queue_length, bool weak);

/* True when every other shard has applied every announcement made up to `sequence`. */
bool xshard_announcements_applied(const struct xshard *x, uint64_t sequence);

/* ---- consumer side ---- */

/* Handles what other shards sent, up to a budget per ring. True when records were left. */
bool xshard_drain(struct xshard *x);

/* True when another shard has published records this shard has not read. */
bool xshard_inbound_pending(struct xshard *x);

/* ---- teardown ---- */

/* Frees what waits in the link's overflow queue, releasing the block references it holds:
 * its producer's teardown (xshard_destroy). */
void xshard_overflow_free(struct xshard_link *link);

/* Once neither shard of the link runs any more: releases the block reference of every record
 * still in its ring (published or only committed), each exactly once. The ring's bytes stay
 * with whoever called spsc_init. */
void xshard_link_release(struct xshard_link *link);

#endif
