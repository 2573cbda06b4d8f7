/* /varz and the endpoints without shard data (/routez, /leafz, /gatewayz, /accountz): the
 * JSON nats-server writes, with nats-server's field names, order and value types (Go
 * durations as integer nanoseconds, timeouts as float seconds, times in RFC 3339), filled
 * with what ionats knows. Also the per-shard counters a varz or subsz part collects.
 *
 * What varz leaves out of nats-server 2.15.1's: git_commit, go (not a Go program),
 * system_account (no system account yet), config_digest, feature_flags, stale_connections
 * and stalled_clients (not counted yet), disk_io_wait_stats. Routes, remotes, leafnodes and
 * the cluster/gateway/leaf/mqtt/websocket blocks are there, zero and empty, as nats-server
 * writes them without those features. The jetstream object is monitor_jsz.c's.
 *
 * monitor_counts_collect runs on each part's shard; the writers on shard 0. */
#include "engine/reload.h"
#include "engine/monitor_internal.h"

#include "engine/leaf.h"

#include "base/assert.h"
#include "base/clock.h"
#include "engine/server.h"
#include "engine/shard.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* nats-server's tls_timeout default, reported as it does (ionats has no TLS to time). */
#define VARZ_TLS_TIMEOUT_SECONDS 2.0
/* The cpu figure covers at least this much time, as nats-server's sampling does (it samples
 * once a second): a scrape right after another reports the previous figure. */
#define MONITOR_CPU_WINDOW_NS (1000LL * 1000000LL)

void monitor_counts_collect(struct shard *shard, struct monitor_part *part)
{
    const struct conn_table *table = &shard->conns;
    for (uint32_t i = 0; i < table->capacity; i++) {
        const struct conn *conn = table->conns[i];
        if (conn == NULL || conn->kind != shard->listener_kind) {
            continue; /* a free slot, or not a client (HTTP monitoring) */
        }
        if (!(conn->flags & CONN_F_CLOSING)) {
            part->connections++;
        }
        part->totals.in_msgs += conn->stats.in_msgs;
        part->totals.in_bytes += conn->stats.in_bytes;
        part->totals.out_msgs += conn->stats.out_msgs;
        part->totals.out_bytes += conn->stats.out_bytes;
    }
    part->totals.in_msgs += table->stats.closed_totals.in_msgs;
    part->totals.in_bytes += table->stats.closed_totals.in_bytes;
    part->totals.out_msgs += table->stats.closed_totals.out_msgs;
    part->totals.out_bytes += table->stats.closed_totals.out_bytes;
    part->total_connections = shard->stats.accepted;
    part->slow_consumers = table->stats.slow_consumers;
    sublist_stats_get(shard->sublist, &part->sublist);
}

/* The process's resident memory in bytes (procfs, in memory: no disk is touched), or 0. */
static int64_t resident_bytes(void)
{
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    char text[128];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    text[n] = '\0';
    long long size_pages = 0;
    long long resident_pages = 0;
    if (sscanf(text, "%lld %lld", &size_pages, &resident_pages) != 2) {
        return 0;
    }
    return resident_pages * sysconf(_SC_PAGESIZE);
}

/* The process's CPU use in percent of one CPU since the last sample (at least
 * MONITOR_CPU_WINDOW_NS ago; the first covers the time since start). */
static double cpu_percent(struct monitor *monitor, const struct server *server)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    int64_t cpu_ns = (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
    int64_t wall_ns = clock_monotonic_ns();
    if (monitor->cpu_sample_wall_ns == 0) {
        monitor->cpu_sample_wall_ns = server->start_monotonic_ns;
    }
    int64_t elapsed = wall_ns - monitor->cpu_sample_wall_ns;
    if (elapsed >= MONITOR_CPU_WINDOW_NS) {
        double percent = 100.0 * (double)(cpu_ns - monitor->cpu_sample_ns) / (double)elapsed;
        /* rounded to a tenth, as nats-server's figure is */
        monitor->cpu_percent = (double)(int64_t)(percent * 10.0 + 0.5) / 10.0;
        monitor->cpu_sample_ns = cpu_ns;
        monitor->cpu_sample_wall_ns = wall_ns;
    }
    return monitor->cpu_percent;
}

static void key_raw(struct go_json *json, const char *key, const char *raw)
{
    go_json_key(json, key);
    go_json_literal(json, raw);
}

static void jetstream_write(struct shard *shard, struct go_json *json)
{
    go_json_key(json, "jetstream");
    if (!shard->server->config->jetstream) {
        go_json_literal(json, "{}");
        return;
    }
    monitor_jsz_varz_write(shard, json);
}

static void http_req_stats_write(const struct monitor *monitor, struct go_json *json)
{
    go_json_key(json, "http_req_stats");
    go_json_raw(json, "{", 1);
    for (int i = 0; i < MONITOR_ENDPOINT_COUNT; i++) {
        if (monitor->requests[i] > 0) {
            go_json_key_uint(json, monitor_endpoint_paths[i], monitor->requests[i]);
        }
    }
    go_json_raw(json, "}", 1);
}

void monitor_varz_write(struct shard *shard, const struct monitor_gather *gather,
                        struct go_json *json)
{
    const struct server *server = shard->server;
    const struct config *config = server_live(server)->config; /* what a reload changed too */
    struct monitor_part sum = {0};
    for (int i = 0; i < gather->part_count; i++) {
        const struct monitor_part *part = &gather->parts[i];
        sum.connections += part->connections;
        sum.total_connections += part->total_connections;
        sum.slow_consumers += part->slow_consumers;
        sum.totals.in_msgs += part->totals.in_msgs;
        sum.totals.in_bytes += part->totals.in_bytes;
        sum.totals.out_msgs += part->totals.out_msgs;
        sum.totals.out_bytes += part->totals.out_bytes;
        sum.sublist.sub_count += part->sublist.sub_count;
    }
    int64_t now_ns = clock_realtime_ns();
    go_json_raw(json, "{", 1);
    go_json_key_cstring(json, "server_id", server->server_id);
    go_json_key_cstring(json, "server_name", server->server_name);
    go_json_key_cstring(json, "version", SERVER_PROTOCOL_VERSION);
    go_json_key_int(json, "proto", 1);
    go_json_key_cstring(json, "host", config->host);
    go_json_key_int(json, "port", server->port);
    if (server_live(server)->auth_required) {
        key_raw(json, "auth_required", "true");
    }
    go_json_key_int(json, "max_connections", config->max_connections);
    go_json_key_int(json, "ping_interval", config->ping_interval_ns);
    go_json_key_int(json, "ping_max", config->ping_max);
    go_json_key_cstring(json, "http_host", config->http_host != NULL ? config->http_host : config->host);
    go_json_key_int(json, "http_port", server->monitor_tls ? 0 : server->monitor_port);
    go_json_key_cstring(json, "http_base_path", "");
    go_json_key_int(json, "https_port", server->monitor_tls ? server->monitor_port : 0);
    go_json_key(json, "auth_timeout");
    monitor_json_float(json, (double)config->auth_timeout_ns / NS_PER_SEC);
    go_json_key_int(json, "max_control_line", config->max_control_line);
    go_json_key_int(json, "max_payload", config->max_payload);
    go_json_key_int(json, "max_pending", config->max_pending);
    go_json_literal(json, ",\"cluster\":{},\"gateway\":{}");
    go_json_key(json, "leaf");
    if (leaf_state_of(shard) != NULL) {
        leaf_varz_json(leaf_state_of(shard), json);
    } else {
        go_json_literal(json, "{}");
    }
    go_json_literal(json, ",\"mqtt\":{},\"websocket\":{}");
    jetstream_write(shard, json);
    go_json_key(json, "tls_timeout");
    monitor_json_float(json, VARZ_TLS_TIMEOUT_SECONDS);
    go_json_key_int(json, "write_deadline", config->write_deadline_ns);
    go_json_key(json, "start");
    monitor_json_time(json, server->start_realtime_ns);
    go_json_key(json, "now");
    monitor_json_time(json, now_ns);
    go_json_key(json, "uptime");
    monitor_json_uptime(json, clock_monotonic_ns() - server->start_monotonic_ns);
    go_json_key_int(json, "mem", resident_bytes());
    go_json_key_int(json, "cores", sysconf(_SC_NPROCESSORS_ONLN));
    go_json_key_int(json, "gomaxprocs", server->shard_count); /* the threads that run the broker */
    go_json_key(json, "cpu");
    monitor_json_float(json, cpu_percent(server->monitor, server));
    go_json_key_uint(json, "connections", sum.connections);
    go_json_key_uint(json, "total_connections", sum.total_connections);
    const struct leaf_state *leaf = leaf_state_of(shard);
    go_json_literal(json, ",\"routes\":0,\"remotes\":0");
    go_json_key_int(json, "leafnodes", leaf != NULL ? leaf_link_count(leaf) : 0);
    go_json_key_uint(json, "in_msgs", sum.totals.in_msgs);
    go_json_key_uint(json, "in_bytes", sum.totals.in_bytes);
    go_json_key_uint(json, "in_client_msgs", sum.totals.in_msgs);
    go_json_key_uint(json, "in_client_bytes", sum.totals.in_bytes);
    go_json_key_uint(json, "out_msgs", sum.totals.out_msgs);
    go_json_key_uint(json, "out_bytes", sum.totals.out_bytes);
    go_json_key_uint(json, "out_client_msgs", sum.totals.out_msgs);
    go_json_key_uint(json, "out_client_bytes", sum.totals.out_bytes);
    go_json_key_uint(json, "slow_consumers", sum.slow_consumers);
    go_json_key_uint(json, "subscriptions", sum.sublist.sub_count);
    http_req_stats_write(server->monitor, json);
    go_json_key(json, "config_load_time");
    monitor_json_time(json, server->start_realtime_ns);
    go_json_key(json, "slow_consumer_stats");
    go_json_literal(json, "{");
    go_json_key_uint(json, "clients", sum.slow_consumers);
    go_json_literal(json, ",\"routes\":0,\"gateways\":0,\"leafs\":0}");
    go_json_raw(json, "}", 1);
}

/* "server_id" and "now", which every endpoint but varz starts with. */
static void head_write(const struct server *server, struct go_json *json)
{
    go_json_raw(json, "{", 1);
    go_json_key_cstring(json, "server_id", server->server_id);
}

void monitor_static_write(struct shard *shard, enum monitor_endpoint endpoint,
                          const struct monitor_options *options, struct go_json *json)
{
    const struct server *server = shard->server;
    head_write(server, json);
    if (endpoint == MONITOR_ROUTEZ) {
        go_json_key_cstring(json, "server_name", server->server_name);
    }
    go_json_key(json, "now");
    monitor_json_time(json, clock_realtime_ns());
    switch (endpoint) {
    case MONITOR_ROUTEZ:
        go_json_literal(json, ",\"num_routes\":0,\"routes\":[]}");
        return;
    case MONITOR_LEAFZ: {
        struct leaf_state *leaf = leaf_state_of(shard);
        if (leaf == NULL) {
            go_json_literal(json, ",\"leafnodes\":0,\"leafs\":[]}");
            return;
        }
        leaf_leafz_json(leaf, json, options->subs != MONITOR_SUBS_NONE);
        go_json_raw(json, "}", 1);
        return;
    }
    case MONITOR_GATEWAYZ:
        go_json_literal(json, ",\"outbound_gateways\":{},\"inbound_gateways\":{}}");
        return;
    case MONITOR_ACCOUNTZ:
        /* one account, nats-server's global one; no system account yet */
        go_json_literal(json, ",\"accounts\":[\"$G\"]}");
        return;
    default:
        UNREACHABLE(); /* the others have writers of their own */
    }
}
