/* A shard's mailbox: work another shard asks this one to run on its own thread, off the
 * message path (a monitoring snapshot of the shard's connections and counters today).
 *
 * The one idea: a call is a record the sender embeds in its own object (`struct
 * shard_call`: a link and a handler), pushed onto the target's lock-free list and run by
 * the target in its loop turn; running it may push it on again, back to the sender, which
 * is how an answer travels. Nothing is copied and nothing is allocated here, and a call
 * lives in exactly one place at a time (a mailbox, or the hands of whoever took it), so its
 * owner knows where it is. Calls are for rare work: a turn takes every call waiting.
 *
 * Memory orders: a push is a compare-and-swap with release on success (what the sender
 * wrote in the call, and what it points to, is published with it); the target takes the
 * whole list with one exchange with acquire (pairs with that release). The target glances
 * at the head with a relaxed load each turn first, so an empty mailbox costs one load of a
 * line that nobody writes. A call pushed while the target sleeps does not wake it: the
 * sender wakes it (shard_wake_send), unconditionally, since calls are rare.
 *
 * Threads: push from any shard; take and run on the mailbox's shard; after every shard
 * stopped, main discards what is left (shard_mailbox_discard). */
#ifndef IONATS_ENGINE_SHARD_CALL_H
#define IONATS_ENGINE_SHARD_CALL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct shard;
struct shard_call;

struct shard_call {
    struct shard_call *next; /* the mailbox's link, while in one */
    /* Runs on the target shard's thread; the call is the handler's again (to free, keep or
     * push elsewhere). */
    void (*run)(struct shard *shard, struct shard_call *call);
    /* The target stopped before running it: main's thread, after every shard stopped. */
    void (*discard)(struct shard_call *call);
};

/* One per shard, on cache lines of its own: other shards write the head. */
struct shard_mailbox {
    _Alignas(128) _Atomic(struct shard_call *) head;
};

/* Puts `call` (in nobody's mailbox) into `mailbox`. Any thread. */
void shard_mailbox_push(struct shard_mailbox *mailbox, struct shard_call *call);

/* Runs every call in `mailbox`, oldest first; on the mailbox's shard. True when some ran
 * (they may have queued output or pushed calls: the turn goes on without sleeping). */
bool shard_mailbox_run(struct shard_mailbox *mailbox, struct shard *shard);

/* Hands every call left in `mailbox` to its discard handler. Main's thread, once no shard
 * runs any more. */
void shard_mailbox_discard(struct shard_mailbox *mailbox);

#endif
