/* HTTP monitoring (nats-server's -m port): the kind of connection shard 0's monitoring
 * listener speaks, and the state it keeps there.
 *
 * The one idea: a monitoring request is a connection of its own kind on shard 0's loop, like
 * a client; what it needs from other shards (their connections and counters) it asks for
 * with a call in each shard's mailbox (shard_call.h) and answers once every shard has
 * answered, so nothing on the message path locks or counts in atomics for it. main opens the
 * listener, makes the state with monitor_create and wires both into struct server before
 * the shards start; see monitor_internal.h for how it works. */
#ifndef IONATS_ENGINE_MONITOR_H
#define IONATS_ENGINE_MONITOR_H

struct client;
struct conn_kind;
struct monitor;
struct monitor_closed;
struct shard;

/* The kind of the monitoring listener's connections (server->monitor_kind). */
extern const struct conn_kind monitor_kind;

/* Shard 0's monitoring state (server->monitor); NULL when out of memory. Main's thread. */
struct monitor *monitor_create(void);

/* Main's thread, after every shard stopped. */
void monitor_destroy(struct monitor *monitor);

/* A client connection of `shard` is closing (its kind's release, before its subscriptions
 * go): kept for connz?state=closed in the shard's ring of the last --max_closed_clients
 * (spread over the shards), with its figures, subscriptions and close reason as they are
 * now. Nothing is kept when the ring is off (0) or memory runs out. The shard's thread. */
void monitor_closed_record(struct shard *shard, const struct client *client);

/* Frees a shard's ring (shard_destroy). */
void monitor_closed_free(struct monitor_closed *closed);

#endif
