/* Routing a publish to the subscriptions of this shard that match it.
 *
 * Each delivery appends one MSG or HMSG frame to the subscriber's output buffer (a copy:
 * cheaper than reference counting for the small frames that dominate). Queue groups get
 * one delivery per group, rotated across members. With several shards, a group's members
 * may live on several of them: the publishing shard picks one shard per group (rotating
 * over the shards that have members) and only that shard delivers to the group. Subscriptions that reach their
 * auto-unsubscribe count are removed after the walk, never during it. Shard-owned. */
#ifndef IONATS_ENGINE_ROUTE_H
#define IONATS_ENGINE_ROUTE_H

#include "engine/shard.h"

/* Delivers a PUB or HPUB op from `publisher` (NULL for messages the server makes) to this
 * shard's subscribers and forwards it to every other shard with interest in it. */
void route_publish(struct shard *shard, struct conn *publisher, const struct proto_op *op);

/* Delivers a publish another shard forwarded (an XSHARD_PUBLISH body, see xshard.h) to
 * this shard's plain subscribers and to the queue groups it names. */
void route_forwarded(struct shard *shard, const unsigned char *body, uint32_t length);

#endif
