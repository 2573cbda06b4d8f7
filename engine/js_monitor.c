/* What monitoring reads of JetStream (engine/js.h): the server's figures for /varz's
 * jetstream.stats and /jsz's totals, and each stream's /jsz stream_detail object.
 *
 * The one idea: JetStream writes its own objects and monitoring composes the page. The
 * totals come from where the API's account info reads them, on the meta shard: the
 * server's usage counters and the registry's shared counters, no hop to the owners. A
 * stream's detail (its state, its consumers) is written by the shard that owns it, from
 * the stream itself, when monitoring's gather runs there (monitor_jsz.c); nats-server's
 * StreamDetail and ConsumerInfo field names and order, as STREAM.INFO and CONSUMER.INFO
 * write them here. Each function runs on its shard's thread. */
#include "engine/js.h"

#include "engine/js_consumer.h"
#include "engine/js_internal.h"
#include "proto/go_json.h"

#include <stdatomic.h>

/* A usage counter as nats-server reports it: never negative. */
static uint64_t usage(const _Atomic int64_t *counter)
{
    int64_t value = atomic_load_explicit(counter, memory_order_relaxed);
    return value > 0 ? (uint64_t)value : 0;
}

bool js_monitor_stats(struct shard *shard, struct js_monitor_stats *out)
{
    *out = (struct js_monitor_stats){0};
    struct js *js = js_of_shard(shard);
    if (js == NULL) {
        return false;
    }
    out->memory = usage(&js->server->memory_used);
    out->storage = usage(&js->server->storage_used);
    out->api_total = js->api_total; /* the meta shard's: every request passes there */
    out->api_errors = atomic_load_explicit(&js->server->api_errors, memory_order_relaxed);
    out->streams = js->entry_count;
    for (size_t i = 0; i < js->entry_count; i++) {
        const struct js_shared_state *shared = js->entries[i].shared;
        out->consumers += atomic_load_explicit(&shared->consumers, memory_order_relaxed);
        out->messages += atomic_load_explicit(&shared->msgs, memory_order_relaxed);
        out->bytes += atomic_load_explicit(&shared->bytes, memory_order_relaxed);
    }
    return true;
}

size_t js_monitor_stream_count(struct shard *shard)
{
    const struct js *js = js_of_shard(shard);
    return js != NULL ? js->stream_count : 0;
}

const char *js_monitor_stream_name(struct shard *shard, size_t index)
{
    const struct js *js = js_of_shard(shard);
    return js != NULL && index < js->stream_count ? js->streams[index]->config.name : NULL;
}

void js_monitor_stream_detail(struct shard *shard, size_t index,
                              const struct js_monitor_detail_options *options,
                              struct go_json *json)
{
    struct js *js = js_of_shard(shard);
    if (js == NULL || index >= js->stream_count) {
        return;
    }
    struct js_stream *stream = js->streams[index];
    go_json_literal(json, "{");
    go_json_key_cstring(json, "name", stream->config.name);
    go_json_key(json, "created");
    js_json_time(json, stream->created_ns);
    /* standalone, nats-server's cluster info names this server the leader */
    go_json_key(json, "cluster");
    go_json_literal(json, "{");
    go_json_key_cstring(json, "leader", options->leader);
    go_json_literal(json, "}");
    if (options->config) {
        go_json_key(json, "config");
        js_stream_config_encode(&stream->config, NULL, json);
    }
    go_json_key(json, "state");
    js_stream_state_json(stream, json, false, NULL, 0);
    if (options->consumers && stream->consumer_count > stream->direct_consumer_count) {
        go_json_key(json, "consumer_detail");
        go_json_literal(json, "[");
        for (size_t i = 0; i < stream->consumer_count; i++) {
            if (stream->consumers[i]->config.direct) {
                continue; /* a mirror's or source's, as nats-server leaves them out */
            }
            go_json_comma(json);
            go_json_literal(json, "{");
            js_consumer_info_json(stream->consumers[i], json, options->config);
            go_json_literal(json, "}");
        }
        go_json_literal(json, "]");
    }
    go_json_literal(json, "}");
}
