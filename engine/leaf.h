/* Leafnodes: this server as a leaf of NATS servers (the shard module main wires in when
 * leafnodes { remotes } or --leafnodes names some), and what monitoring shows of its links.
 * See leaf_internal.h for how it works. */
#ifndef IONATS_ENGINE_LEAF_H
#define IONATS_ENGINE_LEAF_H

#include <stdbool.h>

struct go_json;
struct leaf_state;
struct leaf_url;
struct shard;
struct shard_module;

extern const struct shard_module leaf_module;

/* leaf_accept.c: the kind of the connections accepted on the leafnode port (main gives it
 * to shard 0 with the socket). */
struct conn_kind;
extern const struct conn_kind leaf_accept_kind;

/* Parses a remote's URL: nats-leaf://[user[:pass]@]host[:port] (nats:// and tls:// too;
 * port 7422 when none). 0 or -EINVAL. Any thread. */
int leaf_url_parse(const char *text, struct leaf_url *url);

/* The module's state on `shard` (shard 0), NULL when no remote is configured. */
struct leaf_state *leaf_state_of(struct shard *shard);

/* leaf_monitor.c: /leafz's count and "leafs" array (with each link's subscriptions when
 * `subs`), and the number of links for /varz. Shard 0's thread. */
void leaf_leafz_json(struct leaf_state *state, struct go_json *json, bool subs);

/* /varz's "leaf" object: the leafnode port's host, port and timeouts when leafs may
 * connect, and the remotes (their account and configured URLs). Shard 0's thread. */
void leaf_varz_json(const struct leaf_state *state, struct go_json *json);
int leaf_link_count(const struct leaf_state *state);

#endif
