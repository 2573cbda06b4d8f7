/* JetStream: the shard module main wires in when --jetstream is on, the limits it
 * resolves from the flags, and what monitoring (/varz, /jsz) reads of it. See
 * js_internal.h for how it works; engine/js_monitor.c answers the monitoring calls. */
#ifndef IONATS_ENGINE_JS_H
#define IONATS_ENGINE_JS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The JetStream API level whose features this server all has (nats-server's JSApiLevel):
 * 1, 2.11's (TTLs and delete markers, pause, priority groups). Of level 2 (2.12), counters,
 * atomic batches and async persistence are done, message schedules are refused, so it is
 * not claimed. A request whose Nats-Required-Api-Level asks for more is refused
 * (10185), as nats-server refuses one above its own; $JS.API.INFO and /jsz say the level. */
enum { JS_API_LEVEL = 1 };

struct go_json;
struct shard;
struct shard_module;

extern const struct shard_module js_module;

/* nats-server's defaults: 75% of the host's memory; 75% of the store directory's free
 * disk (of its nearest existing parent), at most 1 TB. */
int64_t js_max_memory_default(void);
int64_t js_max_file_default(const char *store_dir);

/* ---- for monitoring ---- */

/* The server's JetStream figures (nats-server's JetStreamStats and /jsz's totals): usage
 * from the server's counters, the rest from the meta shard's registry of every stream and
 * each stream's shared counters (relaxed: a report may mix two turns, as nats-server's
 * unlocked reads can). */
struct js_monitor_stats {
    uint64_t memory;     /* bytes held by memory streams */
    uint64_t storage;    /* bytes held by file streams */
    uint64_t api_total;  /* API requests answered */
    uint64_t api_errors; /* of them, answered with an error */
    uint64_t streams;
    uint64_t consumers;
    uint64_t messages;
    uint64_t bytes;
};

/* Fills `out` on the meta shard (shard 0's thread). False, with `out` zeroed, when
 * JetStream does not run on this server. */
bool js_monitor_stats(struct shard *shard, struct js_monitor_stats *out);

/* What /jsz?streams=1 writes of each stream (nats-server's JSzOptions). */
struct js_monitor_detail_options {
    bool config;        /* config=1: the stream's config, and its consumers' */
    bool consumers;     /* consumers=1: consumer_detail */
    const char *leader; /* the server's name: each stream's cluster leader */
};

/* The streams this shard owns (any shard, on its own thread), in name order: how many,
 * the `index`-th's name (NUL-terminated, borrowed for the turn), and its stream_detail
 * object as nats-server's /jsz writes it (name, created, cluster, config, state,
 * consumer_detail), appended to `json`. 0 and NULL where JetStream does not run. */
size_t js_monitor_stream_count(struct shard *shard);
const char *js_monitor_stream_name(struct shard *shard, size_t index);
void js_monitor_stream_detail(struct shard *shard, size_t index,
                              const struct js_monitor_detail_options *options,
                              struct go_json *json);

#endif
