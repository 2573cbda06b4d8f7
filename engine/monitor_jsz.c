/* /jsz and varz's "jetstream" object: nats-server's JSInfo and JetStreamVarz, with its
 * field names, order and omitempty, filled with JetStream's figures (engine/js.h).
 *
 * The one idea: what the page totals (usage, API counts, streams, consumers, messages,
 * bytes) is read on shard 0, from the meta shard's registry and the server's counters, so
 * /jsz without stream details is answered at once. Stream details (streams=1, with the
 * account's entry written) are written by each stream's owner from the stream itself:
 * they are gathered from every shard (monitor_gather.c), each part's streams in name
 * order, and merged by name here (nats-server's order is its map's, which is random).
 *
 * What ionats has and nats-server standalone writes alike: one JetStream account, $G;
 * no reservations (0, and $G's unlimited -1 as uint64 in its entry, as nats-server
 * writes it), no HA assets, no meta cluster, every stream led by this server. Not as
 * nats-server 2.15.1: api.level is 0 (ionats claims no API level; its account info
 * leaves it out), "limits" is {} (2.15's default_max_consumers of 1000 is not applied),
 * "compress_ok" is absent (no compression). nats-server lists the streams of the account
 * in its map's order; here they are sorted by name. direct-consumers is not read: the
 * direct consumers of mirrors and sources of this server's streams are left out of
 * consumer_detail as nats-server leaves them out by default; stream-leader-only changes
 * nothing (every stream is this server's).
 *
 * monitor_jsz_collect runs on each part's shard; the rest on shard 0. */
#include "engine/monitor_internal.h"

#include "base/clock.h"
#include "engine/js.h"
#include "engine/server.h"
#include "engine/shard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The one account JetStream serves, as nats-server names its global account. */
#define JSZ_ACCOUNT "$G"
/* An unlimited reservation as nats-server writes an account's: uint64(-1). */
#define JSZ_RESERVED_UNLIMITED UINT64_MAX

/* ---- collecting, on the part's shard ---- */

void monitor_jsz_collect(struct shard *shard, struct monitor_part *part)
{
    const struct monitor_options *options = &part->gather->options;
    size_t count = js_monitor_stream_count(shard);
    if (count == 0) {
        return;
    }
    const struct js_monitor_detail_options detail = {
        .config = options->jsz_config,
        .consumers = options->jsz_consumers,
        .leader = shard->server->server_name,
    };
    /* each stream's name (with its NUL) then its object, one after the other */
    size_t *offsets = malloc(count * 2 * sizeof *offsets);
    if (offsets == NULL) {
        part->error = -ENOMEM;
        return;
    }
    struct go_json text;
    go_json_init(&text, MONITOR_COMPACT_MAX);
    for (size_t i = 0; i < count && !text.failed; i++) {
        const char *name = js_monitor_stream_name(shard, i);
        offsets[2 * i] = text.length;
        go_json_raw(&text, name, strlen(name) + 1);
        offsets[2 * i + 1] = text.length;
        js_monitor_stream_detail(shard, i, &detail, &text);
    }
    struct monitor_stream_row *rows = NULL;
    if (text.failed) {
        part->error = -E2BIG; /* past what a response holds (or out of memory growing it) */
    } else {
        rows = malloc(count * sizeof *rows + text.length);
        part->error = rows == NULL ? -ENOMEM : 0;
    }
    if (rows != NULL) {
        char *copy = (char *)(rows + count);
        memcpy(copy, text.data, text.length);
        for (size_t i = 0; i < count; i++) {
            size_t end = i + 1 < count ? offsets[2 * i + 2] : text.length;
            rows[i] = (struct monitor_stream_row){
                .name = copy + offsets[2 * i],
                .detail = copy + offsets[2 * i + 1],
                .detail_length = end - offsets[2 * i + 1],
            };
        }
        part->block = rows;
        part->streams = rows;
        part->stream_count = (uint32_t)count;
    }
    go_json_free(&text);
    free(offsets);
}

/* ---- writing, on shard 0 ---- */

bool monitor_jsz_gathers(struct shard *shard, const struct monitor_options *options)
{
    return shard->server->config->jetstream && options->jsz_details && options->jsz_streams;
}

/* JetStreamConfig: the limits and store the server runs with; zeros when JetStream is
 * off. ionats decodes API requests strictly (unknown fields refused), as "strict" says. */
static void config_write(const struct server *server, struct go_json *json)
{
    const struct config *config = server->config;
    go_json_literal(json, "{");
    if (!config->jetstream) {
        go_json_literal(json, "\"max_memory\":0,\"max_storage\":0}");
        return;
    }
    go_json_key_int(json, "max_memory", server->js_max_memory);
    go_json_key_int(json, "max_storage", server->js_max_file);
    go_json_key(json, "store_dir");
    go_json_raw(json, "\"", 1);
    go_json_string_inner(json, config->store_dir, strlen(config->store_dir));
    go_json_literal(json, "/jetstream\"");
    go_json_key_int(json, "sync_interval", config->sync_interval_ns);
    if (strcmp(config->sync, "always") == 0) {
        go_json_literal(json, ",\"sync_always\":true");
    }
    go_json_literal(json, ",\"strict\":true}");
}

/* JetStreamStats's members: the server's (`accounts` 1 with JetStream on), or an
 * account's (`account`: its unlimited reservations, no account or HA count). */
static void stats_members(const struct js_monitor_stats *stats, bool on, bool account,
                          struct go_json *json)
{
    go_json_key_uint(json, "memory", stats->memory);
    go_json_key_uint(json, "storage", stats->storage);
    go_json_key_uint(json, "reserved_memory", account ? JSZ_RESERVED_UNLIMITED : 0);
    go_json_key_uint(json, "reserved_storage", account ? JSZ_RESERVED_UNLIMITED : 0);
    go_json_key_int(json, "accounts", on && !account ? 1 : 0);
    go_json_key_int(json, "ha_assets", 0);
    go_json_key(json, "api");
    go_json_literal(json, "{");
    go_json_key_int(json, "level", JS_API_LEVEL);
    go_json_key_uint(json, "total", stats->api_total);
    go_json_key_uint(json, "errors", stats->api_errors);
    go_json_literal(json, "}");
}

void monitor_jsz_varz_write(struct shard *shard, struct go_json *json)
{
    struct js_monitor_stats stats;
    bool on = js_monitor_stats(shard, &stats);
    go_json_literal(json, "{\"config\":");
    config_write(shard->server, json);
    go_json_literal(json, ",\"stats\":{");
    stats_members(&stats, on, false, json);
    go_json_literal(json, "},\"limits\":{}}");
}

/* The streams' objects from every part, merged in name order (each part's is sorted). */
static void stream_details_write(const struct monitor_gather *gather, struct go_json *json)
{
    uint32_t *next = calloc((size_t)gather->part_count, sizeof *next);
    if (next == NULL) {
        json->failed = true; /* answered as a response that could not be written */
        return;
    }
    bool first = true;
    for (;;) {
        const struct monitor_stream_row *least = NULL;
        int least_part = -1;
        for (int i = 0; i < gather->part_count; i++) {
            const struct monitor_part *part = &gather->parts[i];
            if (next[i] < part->stream_count &&
                (least == NULL || strcmp(part->streams[next[i]].name, least->name) < 0)) {
                least = &part->streams[next[i]];
                least_part = i;
            }
        }
        if (least == NULL) {
            break;
        }
        next[least_part]++;
        if (first) {
            go_json_literal(json, ",\"stream_detail\":[");
            first = false;
        } else {
            go_json_literal(json, ",");
        }
        go_json_raw(json, least->detail, least->detail_length);
    }
    if (!first) {
        go_json_literal(json, "]");
    }
    free(next);
}

static void account_write(const struct js_monitor_stats *stats,
                          const struct monitor_gather *gather, struct go_json *json)
{
    go_json_literal(json, ",\"account_details\":[{");
    go_json_key_cstring(json, "name", JSZ_ACCOUNT);
    go_json_key_cstring(json, "id", JSZ_ACCOUNT);
    stats_members(stats, true, true, json);
    if (gather != NULL) {
        stream_details_write(gather, json);
    }
    go_json_literal(json, "}]");
}

void monitor_jsz_write(struct shard *shard, const struct monitor_options *options,
                       const struct monitor_gather *gather, struct go_json *json)
{
    const struct server *server = shard->server;
    struct js_monitor_stats stats;
    bool on = js_monitor_stats(shard, &stats);
    go_json_literal(json, "{");
    stats_members(&stats, on, false, json);
    go_json_key_cstring(json, "server_id", server->server_id);
    go_json_key(json, "now");
    monitor_json_time(json, clock_realtime_ns());
    if (!on) {
        go_json_literal(json, ",\"disabled\":true");
    }
    go_json_key(json, "config");
    config_write(server, json);
    if (on) {
        go_json_literal(json, ",\"limits\":{}");
    }
    go_json_key_uint(json, "streams", stats.streams);
    if (options->jsz_raft && stats.streams > 0) {
        go_json_key_uint(json, "streams_leader", stats.streams); /* standalone: all */
    }
    go_json_key_uint(json, "consumers", stats.consumers);
    if (options->jsz_raft && stats.consumers > 0) {
        go_json_key_uint(json, "consumers_leader", stats.consumers);
    }
    go_json_key_uint(json, "messages", stats.messages);
    go_json_key_uint(json, "bytes", stats.bytes);
    if (on && options->jsz_details) {
        account_write(&stats, gather, json);
    }
    go_json_key_int(json, "total", on ? 1 : 0);
    go_json_literal(json, "}");
}
