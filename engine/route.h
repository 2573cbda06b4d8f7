/* Routing a publish to the subscriptions of this shard that match it.
 *
 * Each delivery appends one MSG or HMSG frame to the subscriber's output buffer (a copy:
 * cheaper than reference counting for the small frames that dominate). Queue groups get
 * one delivery per group, rotated across members. Subscriptions that reach their
 * auto-unsubscribe count are removed after the walk, never during it. Shard-owned. */
#ifndef IONATS_ENGINE_ROUTE_H
#define IONATS_ENGINE_ROUTE_H

#include "engine/shard.h"

/* Delivers a PUB or HPUB op from `publisher` (NULL for messages the server makes). */
void route_publish(struct shard *shard, struct conn *publisher, const struct proto_op *op);

#endif
