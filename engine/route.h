/* Routing a publish to the subscriptions that match it, on this shard and on the others.
 *
 * The one idea: routing knows subscriptions only as `struct route_sub`, a subject-index
 * entry with a deliver handler, so a client's subscription (a MSG frame into its output),
 * a server-side subscriber (a callback on its home shard, see service.h) and whatever comes
 * next are routed alike: same wildcards, queue groups, cross-shard interest and
 * no-responders. Queue groups get one delivery per group, rotated across members; with
 * several shards, the publishing shard picks one shard per group (rotating over the shards
 * that have members, falling back to another when its own pick has no member that can take
 * the message) and only that shard delivers to the group. Subscriptions that reach their
 * auto-unsubscribe count are removed after the walk, never during it. Shard-owned. */
#ifndef IONATS_ENGINE_ROUTE_H
#define IONATS_ENGINE_ROUTE_H

#include "engine/route_msg.h"
#include "proto/parser.h"
#include "proto/sublist.h"

#include <stdbool.h>
#include <stdint.h>

struct shard;
struct conn;

struct route_sub;

struct route_sub_ops {
    /* Hands `msg` to the subscriber; `status` marks a no-responders status for a requester
     * (not a message: not counted). False when the subscriber cannot take it now (closing,
     * or going away), so a queue group tries another member. */
    bool (*deliver)(struct shard *shard, struct route_sub *sub, const struct route_msg *msg,
                    bool status);
    /* The subscription reached its auto-unsubscribe limit: remove it. Called after the walk
     * that delivered its last message. */
    void (*expire)(struct shard *shard, struct route_sub *sub);
};

/* A subscription as routing sees it; its owner embeds it first in its own record. */
struct route_sub {
    struct sub sub;             /* first: a struct sub * from the index is a route_sub * */
    const struct route_sub_ops *ops; /* static */
    const void *owner;          /* borrowed: echo and no-responders identity */
    uint64_t delivered;
    uint64_t max_msgs;          /* 0: no auto-unsubscribe */
    bool removed;               /* removal pending after the current delivery walk */
    /* Interest across a leafnode link (leaf.h): a queue group gives it a message only when
     * no member on this server can take it, and the link's own interest is never told
     * back to a link. */
    bool link;
};

/* A subscriber that gathers what one walk delivered to it (a leafnode link sends one LMSG
 * per message however many of its subscriptions matched, naming the queue groups it was
 * picked for): its deliver handler calls route_collect, and `flush` runs once the walk's
 * deliveries are done, while the message is still valid. */
struct route_collector {
    void (*flush)(struct shard *shard, struct route_collector *collector,
                  const struct route_msg *msg);
    struct route_collector *next; /* the shard's list for the current walk */
    bool queued;
};

/* From a deliver handler: `collector` is flushed at the end of the current walk (once). */
void route_collect(struct shard *shard, struct route_collector *collector);

/* Who publishes: a client connection (`conn` is paused when its message waits for a full
 * cross-shard ring, or past the overflow budget: see xshard.h) or the server itself (owner
 * and conn NULL). */
struct route_publisher {
    const void *owner;    /* its subscriptions do not get its messages unless echo */
    struct conn *conn;    /* borrowed, may be NULL */
    bool echo;
    bool no_responders;   /* a request nobody receives gets a 503 status back */
    /* A message from a leafnode link: only the queue groups it names (blank-separated, the
     * LMSG's list, maybe empty) get it; NULL: every queue group. */
    const struct proto_slice *queue_filter;
};

/* Inserts a subscription into this shard's index and, when it is the first for its
 * (subject, queue) here, announces it to the other shards. 0 or -ENOMEM (nothing changed,
 * and no shard was told: the caller closes the client that asked). */
int route_sub_add(struct shard *shard, struct route_sub *sub);

/* Removes a subscription added with route_sub_add, announcing the last one's departure
 * (later, when memory is short: see interest.h). */
void route_sub_remove(struct shard *shard, struct route_sub *sub);

/* Delivers `msg` to this shard's subscribers and forwards it to every other shard with
 * interest in it. */
void route_publish(struct shard *shard, const struct route_publisher *publisher,
                   const struct route_msg *msg);

/* True when a message on the literal `subject` would reach a subscriber, on this shard or
 * (as far as this shard has heard) on another. */
bool route_has_interest(struct shard *shard, const char *subject, size_t length);

struct xshard_forwarded;

/* Delivers a publish another shard forwarded (see xshard.h) to this shard's plain
 * subscribers and to the queue groups it names. */
void route_forwarded(struct shard *shard, const struct xshard_forwarded *forwarded);

#endif
