/* NATS Streaming (the legacy STAN protocol): the shard module main wires in when a cluster
 * id is given (-cid). See stan_internal.h for how it works. */
#ifndef IONATS_ENGINE_STAN_H
#define IONATS_ENGINE_STAN_H

#include <stdbool.h>

struct http_request;
struct monitor_http;
struct shard;
struct shard_module;

extern const struct shard_module stan_module;

/* stan_monitor.c: answers a monitoring request for one of nats-streaming-server's pages
 * (/streaming, /streaming/serverz, storez, clientsz, channelsz, isFTActive), at once or
 * later (see monitor_internal.h). False when the path is not one of them or streaming is
 * not running: the monitor answers it (a 404). Shard 0's thread. */
bool stan_monitor_serve(struct shard *shard, struct monitor_http *http,
                        const struct http_request *request);

#endif
