/* Cross-shard transport: the SPSC ring from every shard to every other, the records that
 * travel in them, and waking a shard that sleeps.
 *
 * The records themselves are in xshard_record.h. A publish too large to copy into a ring
 * (XSHARD_PUBLISH_REF) is written once per target shard into a heap block of its own,
 * since each target's body names the queue groups that target must serve; the target frees
 * it. (Sharing one block between targets, released on its home shard, is not done yet.)
 *
 * A record that finds its ring full waits, in order, in the producer's overflow queue for
 * that ring (so nothing is lost and order holds), and the connection that published it
 * stops being read until every overflow queue of its shard is empty: backpressure lands on
 * the fast publisher, never on the shard or on other clients. Rings are published once per
 * loop turn. A consumer that goes to sleep says so in its `sleeping` flag, and a producer
 * that publishes to it then wakes it with one IORING_OP_MSG_RING. */
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
    int ring_fd; /* written before the shards start, immutable after */
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

/* ---- producer side, on the sending shard ---- */

/* Room for a record of `length` body bytes toward shard `target`: in its ring, or in a new
 * overflow node when the ring is full or already has records waiting (order is kept).
 * *overflowed tells which. NULL only when memory for an overflow node could not be had. */
void *xshard_reserve(struct shard *shard, int target, uint32_t type, uint32_t length,
                     bool *overflowed);

/* The record reserved last toward `target` is written. */
void xshard_commit(struct shard *shard, int target, bool overflowed);

/* End of turn: moves overflow into rings where room appeared, publishes every ring written
 * this turn once, and wakes targets that sleep. Returns true while some overflow waits. */
bool xshard_flush(struct shard *shard);

/* ---- consumer side ---- */

/* Handles what other shards sent, up to a budget per ring. True when records were left. */
bool xshard_drain(struct shard *shard);

/* True when another shard has published records this shard has not read. */
bool xshard_inbound_pending(struct shard *shard);

/* Tells every other shard that a (subject, queue) pair gained its first local subscriber
 * or lost its last. */
void xshard_announce(struct shard *shard, bool add, const char *subject,
                     uint32_t subject_length, const char *queue, uint32_t queue_length);

/* True when every other shard has applied every announcement made so far. */
bool xshard_announcements_applied(const struct shard *shard, uint64_t sequence);

#endif
