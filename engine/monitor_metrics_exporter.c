/* gnatsd_varz_* and jetstream_* as prometheus-nats-exporter (v0.20) makes them: its generic
 * collector over /varz and its JetStream collector over /jsz, applied to the JSON that
 * ionats's own writers produced for this scrape (see monitor_metrics.h), read with
 * monitor_metrics_json.c.
 *
 * The one idea: the varz walk flattens nested objects with an explicit stack of iterators
 * (no recursion), as the exporter's objectToMetrics does by recursion; the jsz walk first
 * collects one row per account, stream and consumer (spans into the text), then writes each
 * family over the rows, since the text format wants a family's samples together.
 *
 * What cannot be read is left out. Shard 0's thread. */
#include "engine/monitor_metrics.h"

#include "base/assert.h"
#include "base/clock.h"
#include "engine/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* varz's nesting followed (jetstream.stats.api.total is 4 deep), the longest flattened
 * name, and the values written at most (varz has about 90; one more is left out, with a
 * comment saying so, rather than risk writing a family twice). */
enum { VARZ_DEPTH_MAX = 8, VARZ_NAME_MAX = 200, VARZ_SERIES_MAX = 512 };

/* The member `name` of `object`, and a string member's inside. */
static struct monitor_metrics_json member_of(struct monitor_metrics_json object, const char *name)
{
    return monitor_metrics_json_member(object, name);
}

static struct monitor_metrics_json string_of(struct monitor_metrics_json object, const char *name)
{
    return monitor_metrics_json_string(monitor_metrics_json_member(object, name));
}

static struct monitor_metrics_label label_json(const char *name, struct monitor_metrics_json inside)
{
    return (struct monitor_metrics_label){
        .name = name,
        .value = inside.at != NULL ? inside.at : "",
        .length = inside.at != NULL ? (size_t)(inside.end - inside.at) : 0,
        .json = true};
}

/* ---- gnatsd_varz_*: the generic collector ---- */

/* Strings the exporter makes label gauges of (or, when they read as times, epoch ms). */
static bool varz_label_key(struct monitor_metrics_json key)
{
    static const char *const keys[] = {"server_id", "server_name", "version", "domain",
                                       "leader",    "name",        "start",   "config_load_time"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (monitor_metrics_json_key_is(key, keys[i])) {
            return true;
        }
    }
    return false;
}

/* Flattened names the exporter drops. */
static bool varz_skipped(const char *name)
{
    static const char *const names[] = {"leaf",
                                        "trusted_operators_claim",
                                        "cluster_tls_timeout",
                                        "cluster_cluster_port",
                                        "cluster_auth_timeout",
                                        "gateway_port",
                                        "gateway_auth_timeout",
                                        "gateway_tls_timeout",
                                        "gateway_connect_retries"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* The exporter's fqName: the path joined with '_', '/' as '_', "__" as '_', no '_' at
 * either end; false when it is no valid metric name's tail (not written). */
static bool varz_name(const char *path, size_t length, char *name, size_t size)
{
    size_t out = 0;
    for (size_t i = 0; i < length; i++) {
        char c = path[i] == '/' ? '_' : path[i];
        bool valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == ':';
        if (!valid) {
            return false;
        }
        if (c == '_' && (out == 0 || name[out - 1] == '_')) {
            continue;
        }
        if (out + 1 >= size) {
            return false;
        }
        name[out++] = c;
    }
    while (out > 0 && name[out - 1] == '_') {
        out--;
    }
    name[out] = '\0';
    return out > 0;
}

/* FNV-1a, to tell names already written apart. */
static uint64_t name_hash(const char *name)
{
    uint64_t hash = 14695981039346656037ULL;
    for (; *name != '\0'; name++) {
        hash = (hash ^ (unsigned char)*name) * 1099511628211ULL;
    }
    return hash;
}

struct varz_walk {
    const struct server *server;
    struct go_json *out;
    uint64_t written[VARZ_SERIES_MAX]; /* hashes of the names written */
    uint32_t written_count;
};

/* Writes one leaf: a number as a gauge, a label key's string as a label or time gauge. */
static void varz_leaf(struct varz_walk *walk, struct monitor_metrics_json key,
                      struct monitor_metrics_json value, const char *name)
{
    bool number = monitor_metrics_json_is_number(value);
    struct monitor_metrics_json inside = monitor_metrics_json_string(value);
    if (varz_skipped(name) || (!number && (inside.at == NULL || !varz_label_key(key)))) {
        return; /* booleans, arrays, null and other strings: the exporter takes none */
    }
    uint64_t hash = name_hash(name);
    for (uint32_t i = 0; i < walk->written_count; i++) {
        if (walk->written[i] == hash) {
            return; /* a name written already: the exporter keeps the first */
        }
    }
    if (walk->written_count == VARZ_SERIES_MAX) {
        char note[96];
        int note_length = snprintf(note, sizeof note,
                                   "# ionats: /varz has more than %d values; the rest are "
                                   "left out\n",
                                   VARZ_SERIES_MAX);
        ASSERT(note_length > 0 && (size_t)note_length < sizeof note);
        go_json_raw(walk->out, note, (size_t)note_length);
        walk->written_count++; /* said once */
        return;
    }
    if (walk->written_count > VARZ_SERIES_MAX) {
        return;
    }
    walk->written[walk->written_count++] = hash;
    char metric[VARZ_NAME_MAX + 16];
    int length = snprintf(metric, sizeof metric, "gnatsd_varz_%s", name);
    ASSERT(length > 0 && (size_t)length < sizeof metric);
    monitor_metrics_family(walk->out, metric, "gauge", name);
    struct monitor_metrics_label labels[2] = {
        monitor_metrics_label_cstring("server_id", walk->server->server_id)};
    int64_t ns = 0;
    if (number) {
        monitor_metrics_sample(walk->out, metric, "", labels, 1, value.at,
                               (size_t)(value.end - value.at));
    } else if (monitor_metrics_json_time_ns(inside, &ns)) {
        /* epoch milliseconds, as the exporter's parseDateString */
        int64_t ms = ns / NS_PER_MS - (ns % NS_PER_MS < 0);
        char text[32];
        int text_length = snprintf(text, sizeof text, "%lld", (long long)ms);
        monitor_metrics_sample(walk->out, metric, "", labels, 1, text, (size_t)text_length);
    } else {
        labels[1] = label_json("value", inside);
        monitor_metrics_sample(walk->out, metric, "", labels, 2, "1", 1);
    }
}

void monitor_metrics_varz_write(const struct server *server, const char *varz, size_t length,
                                struct go_json *out)
{
    struct varz_walk *walk = calloc(1, sizeof *walk);
    if (walk == NULL) {
        out->failed = true;
        return;
    }
    walk->server = server;
    walk->out = out;
    struct {
        struct monitor_metrics_json_iter iter;
        size_t path_length; /* of the path to this object, in `path` */
    } frames[VARZ_DEPTH_MAX];
    char path[VARZ_NAME_MAX];
    int depth = 0;
    if (monitor_metrics_json_open((struct monitor_metrics_json){varz, varz + length}, true,
                                  &frames[0].iter)) {
        frames[0].path_length = 0;
        depth = 1;
    }
    struct monitor_metrics_json key;
    struct monitor_metrics_json value;
    while (depth > 0) {
        if (!monitor_metrics_json_next(&frames[depth - 1].iter, &key, &value)) {
            depth--;
            continue;
        }
        size_t at = frames[depth - 1].path_length;
        size_t key_length = (size_t)(key.end - key.at);
        if (at + 1 + key_length >= sizeof path) {
            continue; /* longer than any name varz has */
        }
        if (at > 0) {
            path[at++] = '_';
        }
        memcpy(path + at, key.at, key_length);
        at += key_length;
        char name[VARZ_NAME_MAX];
        if (*value.at == '{') {
            if (depth < VARZ_DEPTH_MAX && varz_name(path, at, name, sizeof name) &&
                !varz_skipped(name) &&
                monitor_metrics_json_open(value, true, &frames[depth].iter)) {
                frames[depth].path_length = at;
                depth++;
            }
            continue;
        }
        if (varz_name(path, at, name, sizeof name)) {
            varz_leaf(walk, key, value, name);
        }
    }
    free(walk);
}

/* ---- jetstream_*: the JetStream collector ---- */

/* The server's labels, in the order the exporter's registry writes them (sorted). */
struct jsz_server {
    const struct server *server;
    struct monitor_metrics_json cluster;     /* meta_cluster.name */
    struct monitor_metrics_json domain;      /* config.domain */
    struct monitor_metrics_json meta_leader; /* meta_cluster.leader */
    const char *is_meta_leader;
};

struct jsz_account {
    struct monitor_metrics_json object;
    struct monitor_metrics_json name;
    struct monitor_metrics_json id;
};

struct jsz_stream {
    uint32_t account;
    struct monitor_metrics_json object;
    struct monitor_metrics_json name;
    struct monitor_metrics_json leader; /* cluster.leader */
    const char *is_leader;
    struct monitor_metrics_json raft_group;
};

struct jsz_consumer {
    uint32_t stream;
    struct monitor_metrics_json object;
    struct monitor_metrics_json name;
    struct monitor_metrics_json description;
    struct monitor_metrics_json leader;
    const char *is_leader;
};

struct jsz_rows {
    struct jsz_account *accounts;
    struct jsz_stream *streams;
    struct jsz_consumer *consumers;
    uint32_t account_count;
    uint32_t stream_count;
    uint32_t consumer_count;
};

/* A value at `path` (NULL-terminated keys) under `object`. */
static struct monitor_metrics_json path_get(struct monitor_metrics_json object,
                                            const char *const *path)
{
    for (; *path != NULL && object.at != NULL; path++) {
        object = member_of(object, *path);
    }
    return object;
}

/* "true" when `leader` (a string's inside) names this server, "false" when another. */
static const char *leader_is(const struct server *server, struct monitor_metrics_json leader)
{
    size_t length = strlen(server->server_name);
    return (size_t)(leader.end - leader.at) == length &&
                   memcmp(leader.at, server->server_name, length) == 0
               ? "true"
               : "false";
}

static struct jsz_stream stream_row(const struct server *server, uint32_t account,
                                    struct monitor_metrics_json stream)
{
    struct monitor_metrics_json cluster = member_of(stream, "cluster");
    struct monitor_metrics_json leader = string_of(cluster, "leader");
    return (struct jsz_stream){
        .account = account,
        .object = stream,
        .name = string_of(stream, "name"),
        .leader = leader,
        .is_leader = cluster.at != NULL ? leader_is(server, leader) : "true",
        .raft_group = string_of(stream, "stream_raft_group"),
    };
}

static struct jsz_consumer consumer_row(const struct server *server, uint32_t stream,
                                        struct monitor_metrics_json consumer)
{
    struct monitor_metrics_json cluster = member_of(consumer, "cluster");
    struct monitor_metrics_json leader = string_of(cluster, "leader");
    return (struct jsz_consumer){
        .stream = stream,
        .object = consumer,
        .name = string_of(consumer, "name"),
        .description = string_of(member_of(consumer, "config"), "description"),
        .leader = leader,
        .is_leader = cluster.at != NULL ? leader_is(server, leader) : "true",
    };
}

/* Walks the accounts, their streams and consumers: counting when `rows` has no arrays yet,
 * filling them otherwise (the same text, so the same counts). */
static void jsz_rows_walk(const struct server *server, struct monitor_metrics_json jsz,
                          struct jsz_rows *rows)
{
    bool fill = rows->accounts != NULL;
    uint32_t accounts = 0, streams = 0, consumers = 0;
    struct monitor_metrics_json_iter account_iter, stream_iter, consumer_iter;
    struct monitor_metrics_json key, account, stream, consumer;
    if (!monitor_metrics_json_open(member_of(jsz, "account_details"), false, &account_iter)) {
        return;
    }
    for (; monitor_metrics_json_next(&account_iter, &key, &account); accounts++) {
        if (fill) {
            ASSERT(accounts < rows->account_count);
            rows->accounts[accounts] = (struct jsz_account){.object = account,
                                                            .name = string_of(account, "name"),
                                                            .id = string_of(account, "id")};
        }
        if (!monitor_metrics_json_open(member_of(account, "stream_detail"), false, &stream_iter)) {
            continue;
        }
        for (; monitor_metrics_json_next(&stream_iter, &key, &stream); streams++) {
            if (fill) {
                ASSERT(streams < rows->stream_count);
                rows->streams[streams] = stream_row(server, accounts, stream);
            }
            if (!monitor_metrics_json_open(member_of(stream, "consumer_detail"), false,
                                           &consumer_iter)) {
                continue;
            }
            for (; monitor_metrics_json_next(&consumer_iter, &key, &consumer); consumers++) {
                if (fill) {
                    ASSERT(consumers < rows->consumer_count);
                    rows->consumers[consumers] = consumer_row(server, streams, consumer);
                }
            }
        }
    }
    rows->account_count = accounts;
    rows->stream_count = streams;
    rows->consumer_count = consumers;
}

/* Labels, each level's in sorted order as the exporter's registry writes them. */
enum { SERVER_LABELS = 6, ACCOUNT_LABELS = 9, STREAM_LABELS = 13, CONSUMER_LABELS = 17 };

static void server_labels(const struct jsz_server *js, struct monitor_metrics_label *labels)
{
    labels[0] = label_json("cluster", js->cluster);
    labels[1] = label_json("domain", js->domain);
    labels[2] = monitor_metrics_label_cstring("is_meta_leader", js->is_meta_leader);
    labels[3] = label_json("meta_leader", js->meta_leader);
    labels[4] = monitor_metrics_label_cstring("server_id", js->server->server_id);
    labels[5] = monitor_metrics_label_cstring("server_name", js->server->server_name);
}

static void account_labels(const struct jsz_server *js, const struct jsz_account *account,
                           struct monitor_metrics_label *labels)
{
    labels[0] = label_json("account", account->name);
    labels[1] = label_json("account_id", account->id);
    labels[2] = label_json("account_name", account->name);
    server_labels(js, labels + 3);
}

static void stream_labels(const struct jsz_server *js, const struct jsz_rows *rows,
                          const struct jsz_stream *stream, struct monitor_metrics_label *labels)
{
    struct monitor_metrics_label server[SERVER_LABELS];
    server_labels(js, server);
    const struct jsz_account *account = &rows->accounts[stream->account];
    labels[0] = label_json("account", account->name);
    labels[1] = label_json("account_id", account->id);
    labels[2] = label_json("account_name", account->name);
    labels[3] = server[0]; /* cluster */
    labels[4] = server[1]; /* domain */
    labels[5] = server[2]; /* is_meta_leader */
    labels[6] = monitor_metrics_label_cstring("is_stream_leader", stream->is_leader);
    labels[7] = server[3]; /* meta_leader */
    labels[8] = server[4]; /* server_id */
    labels[9] = server[5]; /* server_name */
    labels[10] = label_json("stream_leader", stream->leader);
    labels[11] = label_json("stream_name", stream->name);
    labels[12] = label_json("stream_raft_group", stream->raft_group);
}

static void consumer_labels(const struct jsz_server *js, const struct jsz_rows *rows,
                            const struct jsz_consumer *consumer,
                            struct monitor_metrics_label *labels)
{
    struct monitor_metrics_label stream[STREAM_LABELS];
    stream_labels(js, rows, &rows->streams[consumer->stream], stream);
    memcpy(labels, stream, 4 * sizeof *labels); /* account .. cluster */
    labels[4] = label_json("consumer_desc", consumer->description);
    labels[5] = label_json("consumer_leader", consumer->leader);
    labels[6] = label_json("consumer_name", consumer->name);
    labels[7] = stream[4]; /* domain */
    labels[8] = monitor_metrics_label_cstring("is_consumer_leader", consumer->is_leader);
    memcpy(labels + 9, stream + 5, 8 * sizeof *labels); /* is_meta_leader .. raft_group */
}

/* A family whose value is a number at `path` in each row's object: written for every row
 * (a missing number as 0, Go's zero value), or only where `needs` is there. */
struct jsz_series {
    const char *name;
    const char *help;
    const char *path[4];
    const char *needs; /* a member the row's object must have, or NULL */
};

static void number_sample(struct go_json *out, const char *name,
                          const struct monitor_metrics_label *labels, size_t count,
                          struct monitor_metrics_json value)
{
    if (monitor_metrics_json_is_number(value)) {
        monitor_metrics_sample(out, name, "", labels, count, value.at,
                               (size_t)(value.end - value.at));
    } else {
        monitor_metrics_sample(out, name, "", labels, count, "0", 1);
    }
}

static const struct jsz_series account_series[] = {
    {"jetstream_account_max_memory",
     "JetStream Account Max Memory in bytes",
     {"reserved_memory"},
     NULL},
    {"jetstream_account_max_storage",
     "JetStream Account Max Storage in bytes",
     {"reserved_storage"},
     NULL},
    {"jetstream_account_memory_used",
     "Total number of bytes used by JetStream memory",
     {"memory"},
     NULL},
    {"jetstream_account_storage_used",
     "Total number of bytes used by JetStream storage",
     {"storage"},
     NULL},
};

static const struct jsz_series stream_series[] = {
    {"jetstream_stream_total_messages",
     "Total number of messages from a stream",
     {"state", "messages"},
     NULL},
    {"jetstream_stream_total_bytes", "Total stored bytes from a stream", {"state", "bytes"}, NULL},
    {"jetstream_stream_first_seq", "First sequence from a stream", {"state", "first_seq"}, NULL},
    {"jetstream_stream_last_seq", "Last sequence from a stream", {"state", "last_seq"}, NULL},
    {"jetstream_stream_consumer_count",
     "Total number of consumers from a stream",
     {"state", "consumer_count"},
     NULL},
    {"jetstream_stream_subject_count",
     "Total number of subjects in a stream",
     {"state", "num_subjects"},
     NULL},
    {"jetstream_stream_limit_bytes",
     "The maximum configured storage limit (in bytes) for a JetStream stream. A value of -1 "
     "indicates no limit.",
     {"config", "max_bytes"},
     "config"},
    {"jetstream_stream_limit_messages",
     "The maximum number of messages allowed in a JetStream stream as per its "
     "configuration. A value of -1 indicates no limit.",
     {"config", "max_msgs"},
     "config"},
};

static const struct jsz_series consumer_series[] = {
    {"jetstream_consumer_delivered_consumer_seq",
     "Latest sequence number of a stream consumer",
     {"delivered", "consumer_seq"},
     NULL},
    {"jetstream_consumer_delivered_stream_seq",
     "Latest sequence number of a stream",
     {"delivered", "stream_seq"},
     NULL},
    {"jetstream_consumer_num_ack_pending",
     "Number of pending acks from a consumer",
     {"num_ack_pending"},
     NULL},
    {"jetstream_consumer_num_redelivered",
     "Number of redelivered messages from a consumer",
     {"num_redelivered"},
     NULL},
    {"jetstream_consumer_num_waiting",
     "Number of inflight fetch requests from a pull consumer",
     {"num_waiting"},
     NULL},
    {"jetstream_consumer_num_pending",
     "Number of pending messages from a consumer",
     {"num_pending"},
     NULL},
    {"jetstream_consumer_ack_floor_stream_seq",
     "Number of ack floor stream seq from a consumer",
     {"ack_floor", "stream_seq"},
     NULL},
    {"jetstream_consumer_ack_floor_consumer_seq",
     "Number of ack floor consumer seq from a consumer",
     {"ack_floor", "consumer_seq"},
     NULL},
};

/* jetstream_consumer_last_delivery_seconds / _last_ack_seconds: the consumer's "ts" less
 * its `what`.last_active, in seconds; written only for consumers that have one. */
static void consumer_age_write(const struct jsz_server *js, const struct jsz_rows *rows,
                               const char *name, const char *help, const char *what,
                               struct go_json *out)
{
    monitor_metrics_family(out, name, "gauge", help);
    for (uint32_t i = 0; i < rows->consumer_count; i++) {
        const struct jsz_consumer *consumer = &rows->consumers[i];
        const char *const last_path[] = {what, "last_active", NULL};
        int64_t now_ns, last_ns;
        if (!monitor_metrics_json_time_ns(string_of(consumer->object, "ts"), &now_ns) ||
            !monitor_metrics_json_time_ns(
                monitor_metrics_json_string(path_get(consumer->object, last_path)), &last_ns)) {
            continue;
        }
        struct monitor_metrics_label labels[CONSUMER_LABELS];
        consumer_labels(js, rows, consumer, labels);
        char text[MONITOR_METRICS_NUMBER_MAX];
        size_t length = monitor_metrics_seconds_text(now_ns - last_ns, text);
        monitor_metrics_sample(out, name, "", labels, CONSUMER_LABELS, text, length);
    }
}

static void rows_write(const struct jsz_server *js, const struct jsz_rows *rows,
                       struct go_json *out)
{
    struct monitor_metrics_label labels[CONSUMER_LABELS];
    for (size_t s = 0; s < sizeof account_series / sizeof account_series[0]; s++) {
        monitor_metrics_family(out, account_series[s].name, "gauge", account_series[s].help);
        for (uint32_t i = 0; i < rows->account_count; i++) {
            account_labels(js, &rows->accounts[i], labels);
            number_sample(out, account_series[s].name, labels, ACCOUNT_LABELS,
                          path_get(rows->accounts[i].object, account_series[s].path));
        }
    }
    for (size_t s = 0; s < sizeof stream_series / sizeof stream_series[0]; s++) {
        const struct jsz_series *series = &stream_series[s];
        monitor_metrics_family(out, series->name, "gauge", series->help);
        for (uint32_t i = 0; i < rows->stream_count; i++) {
            const struct jsz_stream *stream = &rows->streams[i];
            if (series->needs == NULL || member_of(stream->object, series->needs).at != NULL) {
                stream_labels(js, rows, stream, labels);
                number_sample(out, series->name, labels, STREAM_LABELS,
                              path_get(stream->object, series->path));
            }
        }
    }
    for (size_t s = 0; s < sizeof consumer_series / sizeof consumer_series[0]; s++) {
        monitor_metrics_family(out, consumer_series[s].name, "gauge", consumer_series[s].help);
        for (uint32_t i = 0; i < rows->consumer_count; i++) {
            consumer_labels(js, rows, &rows->consumers[i], labels);
            number_sample(out, consumer_series[s].name, labels, CONSUMER_LABELS,
                          path_get(rows->consumers[i].object, consumer_series[s].path));
        }
    }
    consumer_age_write(js, rows, "jetstream_consumer_last_delivery_seconds",
                       "Seconds since last message delivery to consumer", "delivered", out);
    consumer_age_write(js, rows, "jetstream_consumer_last_ack_seconds",
                       "Seconds since last ack from consumer", "ack_floor", out);
}

/* The seven series of the server, from the page's top level. */
static void server_write(const struct jsz_server *js, struct monitor_metrics_json jsz,
                         struct go_json *out)
{
    static const struct jsz_series series[] = {
        {"jetstream_server_jetstream_disabled", "JetStream disabled or not", {NULL}, NULL},
        {"jetstream_server_max_memory", "JetStream Max Memory", {"config", "max_memory"}, NULL},
        {"jetstream_server_max_storage", "JetStream Max Storage", {"config", "max_storage"}, NULL},
        {"jetstream_server_total_streams",
         "Total number of streams in JetStream",
         {"streams"},
         NULL},
        {"jetstream_server_total_consumers",
         "Total number of consumers in JetStream",
         {"consumers"},
         NULL},
        {"jetstream_server_total_messages",
         "Total number of stored messages in JetStream",
         {"messages"},
         NULL},
        {"jetstream_server_total_message_bytes",
         "Total number of bytes stored in JetStream",
         {"bytes"},
         NULL},
    };
    struct monitor_metrics_label labels[SERVER_LABELS];
    server_labels(js, labels);
    for (size_t s = 0; s < sizeof series / sizeof series[0]; s++) {
        monitor_metrics_family(out, series[s].name, "gauge", series[s].help);
        if (s == 0) {
            struct monitor_metrics_json disabled = member_of(jsz, "disabled");
            bool yes = disabled.at != NULL && disabled.end - disabled.at == 4 &&
                       memcmp(disabled.at, "true", 4) == 0;
            monitor_metrics_sample(out, series[s].name, "", labels, SERVER_LABELS, yes ? "1" : "0",
                                   1);
        } else {
            number_sample(out, series[s].name, labels, SERVER_LABELS,
                          path_get(jsz, series[s].path));
        }
    }
}

void monitor_metrics_jsz_write(const struct server *server, const char *text, size_t length,
                               struct go_json *out)
{
    struct monitor_metrics_json jsz = {text, text + length};
    struct monitor_metrics_json meta = member_of(jsz, "meta_cluster");
    struct monitor_metrics_json meta_leader = string_of(meta, "leader");
    struct jsz_server js = {
        .server = server,
        .cluster = string_of(meta, "name"),
        .domain = string_of(member_of(jsz, "config"), "domain"),
        .meta_leader = meta_leader,
        .is_meta_leader = meta.at != NULL ? leader_is(server, meta_leader) : "true",
    };
    server_write(&js, jsz, out);
    struct jsz_rows rows = {0};
    jsz_rows_walk(server, jsz, &rows); /* counts */
    if (rows.account_count == 0) {
        return;
    }
    rows.accounts = calloc(rows.account_count, sizeof *rows.accounts);
    rows.streams = calloc(rows.stream_count + 1, sizeof *rows.streams);
    rows.consumers = calloc(rows.consumer_count + 1, sizeof *rows.consumers);
    if (rows.accounts == NULL || rows.streams == NULL || rows.consumers == NULL) {
        out->failed = true;
    } else {
        jsz_rows_walk(server, jsz, &rows); /* fills: the same text, the same counts */
        rows_write(&js, &rows, out);
    }
    free(rows.consumers);
    free(rows.streams);
    free(rows.accounts);
}
