/* NATS Streaming (the legacy STAN protocol): the shard module main wires in when a cluster
 * id is given (-cid). See stan_internal.h for how it works. */
#ifndef IONATS_ENGINE_STAN_H
#define IONATS_ENGINE_STAN_H

struct shard_module;

extern const struct shard_module stan_module;

#endif
