/* /connz and /subsz: each shard's part lists its own client connections (or their
 * subscriptions), already sorted and cut to offset + limit, so a part never carries more
 * than the answer can show; shard 0 merges the parts, sorts again and cuts the page. The
 * JSON is nats-server's: its field names and order, times in RFC 3339, durations as its
 * uptime strings, optional fields left out when empty as its omitempty tags do.
 *
 * Closed connections (state=closed and all) come from each shard's ring of them
 * (monitor_closed.c), written as nats-server writes its: stop and reason, and uptime and
 * idle as they were when they closed. What is not there yet: rtt (not measured: "0s"), TLS, authorized_user/account (auth=1 is ignored),
 * and in subsz the server-side subscriptions (JetStream's API) — counted in
 * num_subscriptions, not listed — plus max_fanout and avg_fanout (the index keeps no
 * fan-out figures: 0).
 *
 * The collectors run on each part's shard and read only that shard's connections; the
 * writers run on shard 0 and read only the parts. */
#include "engine/monitor_internal.h"

#include "base/assert.h"
#include "base/clock.h"
#include "engine/client.h"
#include "engine/conn_tls.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "proto/subject.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- ordering ---- */

static int compare_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int compare_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

/* nats-server's orders: cid and start ascending; the counts descending; last activity most
 * recent first; idle most idle first (last activity ascending); uptime longest first (start
 * ascending). Ties go by cid, so the order is total and the same on every shard. */
static int fields_compare(const struct monitor_conn_fields *a, const struct monitor_conn_fields *b,
                          enum monitor_sort sort)
{
    int order = 0;
    switch (sort) {
    case MONITOR_SORT_CID:
    case MONITOR_SORT_RTT: /* not measured: every rtt is 0 */
        break;
    case MONITOR_SORT_START:
    case MONITOR_SORT_UPTIME:
        order = compare_i64(a->start_ns, b->start_ns);
        break;
    case MONITOR_SORT_SUBS:
        order = compare_u64(b->sub_count, a->sub_count);
        break;
    case MONITOR_SORT_PENDING:
        order = compare_u64(b->pending_bytes, a->pending_bytes);
        break;
    case MONITOR_SORT_MSGS_TO:
        order = compare_u64(b->stats.out_msgs, a->stats.out_msgs);
        break;
    case MONITOR_SORT_MSGS_FROM:
        order = compare_u64(b->stats.in_msgs, a->stats.in_msgs);
        break;
    case MONITOR_SORT_BYTES_TO:
        order = compare_u64(b->stats.out_bytes, a->stats.out_bytes);
        break;
    case MONITOR_SORT_BYTES_FROM:
        order = compare_u64(b->stats.in_bytes, a->stats.in_bytes);
        break;
    case MONITOR_SORT_LAST:
        order = compare_i64(b->last_ns, a->last_ns);
        break;
    case MONITOR_SORT_IDLE:
        order = compare_i64(a->last_ns, b->last_ns);
        break;
    case MONITOR_SORT_STOP: /* most recently closed first */
        order = compare_i64(b->closed_ns, a->closed_ns);
        break;
    case MONITOR_SORT_REASON:
        order = strcmp(a->reason != NULL ? a->reason : "", b->reason != NULL ? b->reason : "");
        break;
    }
    return order != 0 ? order : compare_u64(a->cid, b->cid);
}

/* A connection as a collector sorts it. */
struct candidate {
    struct monitor_conn_fields fields;
    const struct client *client;               /* an open one, or */
    const struct monitor_closed_entry *closed; /* a closed one */
};

static int candidate_compare(const void *a, const void *b, void *sort)
{
    return fields_compare(&((const struct candidate *)a)->fields,
                          &((const struct candidate *)b)->fields, *(enum monitor_sort *)sort);
}

static int row_compare(const void *a, const void *b, void *sort)
{
    return fields_compare(&(*(struct monitor_conn_row *const *)a)->fields,
                          &(*(struct monitor_conn_row *const *)b)->fields,
                          *(enum monitor_sort *)sort);
}

/* offset + limit, saturating: the rows a part keeps at most. */
static uint64_t page_end(const struct monitor_options *options)
{
    return options->offset > UINT64_MAX - options->limit ? UINT64_MAX
                                                         : options->offset + options->limit;
}

/* ---- collecting (on the part's shard) ---- */

static bool is_client(const struct shard *shard, const struct conn *conn)
{
    return conn != NULL && conn->kind == shard->listener_kind && !(conn->flags & CONN_F_CLOSING);
}

void monitor_fields_fill(const struct client *client, struct monitor_conn_fields *fields)
{
    const struct conn *conn = &client->conn;
    fields->cid = conn->id;
    fields->start_ns = conn->connected_ns;
    fields->last_ns = conn->received_ns > conn->connected_ns ? conn->received_ns
                                                              : conn->connected_ns;
    fields->pending_bytes = conn_pending_bytes(conn);
    fields->stats = conn->stats;
    fields->sub_count = client->sub_count;
    fields->closed_ns = 0;
    fields->reason = NULL;
}

/* Copies `length` bytes and a NUL to *text, moving it on; returns the copy. */
static const char *text_put(char **text, const char *data, size_t length)
{
    char *copy = *text;
    if (length > 0) {
        memcpy(copy, data, length);
    }
    copy[length] = '\0';
    *text += length + 1;
    return copy;
}

/* Bytes the text of one subscription's row takes in a part's block. */
static size_t sub_text_size(const struct client_sub *sub)
{
    return (size_t)sub->route.sub.subject_length + 1 + sub->route.sub.queue_length + 1 +
           sub->sid_length + 1;
}

static void sub_row_fill(const struct client_sub *sub, uint64_t cid, char **text,
                         struct monitor_sub_row *row)
{
    const struct sub *entry = &sub->route.sub;
    row->subject = text_put(text, entry->subject, entry->subject_length);
    row->subject_length = entry->subject_length;
    row->queue = entry->queue != NULL ? text_put(text, entry->queue, entry->queue_length) : NULL;
    row->queue_length = entry->queue_length;
    row->sid = text_put(text, sub->sid, sub->sid_length);
    row->sid_length = sub->sid_length;
    row->msgs = sub->route.delivered;
    row->cid = cid;
}

/* Runs the statement that follows once for each of the client's subscriptions, as `sub`
 * (its sid table's buckets, then each bucket's chain). */
#define CLIENT_SUBS_FOR_EACH(client, sub)                                                    \
    for (uint32_t bucket_ = 0; bucket_ < (client)->sid_bucket_count; bucket_++)             \
        for (const struct client_sub *sub = (client)->sid_buckets[bucket_]; sub != NULL;     \
             sub = sub->sid_next)

size_t monitor_client_row_size(const struct client *client, bool subs, size_t *sub_rows)
{
    const struct connect_options *connect = &client->options;
    size_t text_size = strlen(connect->name) + strlen(connect->lang) + strlen(connect->version) + 3;
    if (subs) {
        CLIENT_SUBS_FOR_EACH(client, sub) {
            (*sub_rows)++;
            text_size += sub_text_size(sub);
        }
    }
    return text_size;
}

void monitor_client_row_fill(const struct client *client, const struct monitor_conn_fields *fields,
                             bool subs, struct monitor_conn_row *row,
                             struct monitor_sub_row **sub_row, char **text)
{
    memset(row, 0, sizeof *row);
    row->fields = *fields;
    memcpy(row->ip, client->conn.ip, sizeof row->ip);
    row->port = client->conn.port;
    row->name = text_put(text, client->options.name, strlen(client->options.name));
    row->lang = text_put(text, client->options.lang, strlen(client->options.lang));
    row->version = text_put(text, client->options.version, strlen(client->options.version));
    if (!conn_tls_describe(&client->conn, &row->tls_version, &row->tls_cipher)) {
        row->tls_version = row->tls_cipher = NULL;
    }
    if (subs) {
        row->subs = *sub_row;
        CLIENT_SUBS_FOR_EACH(client, sub) {
            sub_row_fill(sub, client->conn.id, text, (*sub_row)++);
            row->subs_count++;
        }
    }
}

/* Bytes of the text of a kept row (its strings, and its subscriptions' with `subs`). */
static size_t row_text_size(const struct monitor_conn_row *row, bool subs, size_t *sub_rows)
{
    size_t size = strlen(row->name) + strlen(row->lang) + strlen(row->version) + 3;
    for (uint32_t i = 0; subs && i < row->subs_count; i++) {
        const struct monitor_sub_row *sub = &row->subs[i];
        size += sub->subject_length + 1 + sub->queue_length + 1 + sub->sid_length + 1;
        (*sub_rows)++;
    }
    return size;
}

/* Copies a kept (closed) row into a part's block, its subscriptions with `subs`. */
static void row_copy(const struct monitor_conn_row *source, bool subs,
                     struct monitor_conn_row *row, struct monitor_sub_row **sub_row, char **text)
{
    *row = *source;
    row->name = text_put(text, source->name, strlen(source->name));
    row->lang = text_put(text, source->lang, strlen(source->lang));
    row->version = text_put(text, source->version, strlen(source->version));
    row->subs = NULL;
    row->subs_count = 0;
    if (!subs) {
        return;
    }
    row->subs = *sub_row;
    for (uint32_t i = 0; i < source->subs_count; i++) {
        const struct monitor_sub_row *from = &source->subs[i];
        struct monitor_sub_row *to = (*sub_row)++;
        *to = *from;
        to->subject = text_put(text, from->subject, from->subject_length);
        to->queue = from->queue != NULL ? text_put(text, from->queue, from->queue_length) : NULL;
        to->sid = text_put(text, from->sid, from->sid_length);
        row->subs_count++;
    }
}

/* The connections the options ask for (open, closed or both, one cid or every one) as
 * candidates: a malloc'd array, its length in *count (NULL with 0: none or no memory,
 * *error set for the latter). */
static struct candidate *candidates_take(struct shard *shard, const struct monitor_options *options,
                                         uint32_t *count, int *error)
{
    const struct conn_table *table = &shard->conns;
    bool open = options->state != MONITOR_STATE_CLOSED;
    bool closed = options->state != MONITOR_STATE_OPEN;
    uint32_t total = 0;
    for (uint32_t i = 0; open && i < table->capacity; i++) {
        total += is_client(shard, table->conns[i]);
    }
    for (uint32_t i = 0; closed && monitor_closed_at(shard, i) != NULL; i++) {
        total++;
    }
    *count = 0;
    if (total == 0) {
        return NULL;
    }
    struct candidate *candidates = malloc((size_t)total * sizeof *candidates);
    if (candidates == NULL) {
        *error = -ENOMEM;
        return NULL;
    }
    for (uint32_t i = 0; open && i < table->capacity; i++) {
        const struct conn *conn = table->conns[i];
        if (is_client(shard, conn) && (options->cid == 0 || conn->id == options->cid)) {
            struct candidate *candidate = &candidates[(*count)++];
            candidate->client = (const struct client *)conn;
            candidate->closed = NULL;
            monitor_fields_fill(candidate->client, &candidate->fields);
        }
    }
    const struct monitor_closed_entry *entry = NULL;
    for (uint32_t i = 0; closed && (entry = monitor_closed_at(shard, i)) != NULL; i++) {
        if (options->cid == 0 || entry->row.fields.cid == options->cid) {
            struct candidate *candidate = &candidates[(*count)++];
            candidate->client = NULL;
            candidate->closed = entry;
            candidate->fields = entry->row.fields;
        }
    }
    return candidates;
}

void monitor_connz_collect(struct shard *shard, struct monitor_part *part)
{
    const struct monitor_options *options = &part->gather->options;
    uint32_t taken = 0;
    struct candidate *candidates = candidates_take(shard, options, &taken, &part->error);
    part->conn_total = taken;
    if (taken == 0) {
        free(candidates);
        return;
    }
    enum monitor_sort sort = options->sort;
    qsort_r(candidates, taken, sizeof *candidates, candidate_compare, &sort);
    uint32_t keep = page_end(options) < taken ? (uint32_t)page_end(options) : taken;
    /* one block: the rows, their subscriptions' rows, then all their text */
    bool subs = options->subs != MONITOR_SUBS_NONE;
    size_t sub_rows = 0;
    size_t text_size = 0;
    for (uint32_t i = 0; i < keep; i++) {
        text_size += candidates[i].client != NULL
                         ? monitor_client_row_size(candidates[i].client, subs, &sub_rows)
                         : row_text_size(&candidates[i].closed->row, subs, &sub_rows);
    }
    size_t rows_size = keep * sizeof(struct monitor_conn_row);
    size_t subs_size = sub_rows * sizeof(struct monitor_sub_row);
    part->block = malloc(rows_size + subs_size + text_size + 1);
    if (part->block == NULL) {
        free(candidates);
        part->error = -ENOMEM;
        return;
    }
    part->conns = part->block;
    struct monitor_sub_row *sub_row = (struct monitor_sub_row *)((char *)part->block + rows_size);
    char *text = (char *)part->block + rows_size + subs_size;
    for (uint32_t i = 0; i < keep; i++) {
        if (candidates[i].client != NULL) {
            monitor_client_row_fill(candidates[i].client, &candidates[i].fields, subs,
                                    &part->conns[i], &sub_row, &text);
        } else {
            row_copy(&candidates[i].closed->row, subs, &part->conns[i], &sub_row, &text);
        }
    }
    part->conn_count = keep;
    free(candidates);
}

void monitor_subsz_collect(struct shard *shard, struct monitor_part *part)
{
    const struct monitor_options *options = &part->gather->options;
    const struct conn_table *table = &shard->conns;
    uint64_t keep_max = page_end(options);
    uint64_t total = 0;
    size_t keep = 0;
    size_t text_size = 0;
    /* two passes over the same connections: count and size, then copy */
    for (int pass = 0; pass < 2; pass++) {
        struct monitor_sub_row *row = part->subs;
        char *text = part->block != NULL ? (char *)(part->subs + keep) : NULL;
        total = 0;
        for (uint32_t i = 0; i < table->capacity; i++) {
            if (!is_client(shard, table->conns[i])) {
                continue;
            }
            const struct client *client = (const struct client *)table->conns[i];
            CLIENT_SUBS_FOR_EACH(client, sub) {
                const struct sub *entry = &sub->route.sub;
                if (options->test != NULL &&
                    !subject_matches(entry->subject, entry->subject_length, options->test,
                                     options->test_length)) {
                    continue;
                }
                total++;
                if (total > keep_max) {
                    continue;
                }
                if (pass == 0) {
                    keep++;
                    text_size += sub_text_size(sub);
                } else {
                    sub_row_fill(sub, client->conn.id, &text, row++);
                }
            }
        }
        if (pass == 0) {
            part->block = keep > 0 ? malloc(keep * sizeof *part->subs + text_size) : NULL;
            if (keep > 0 && part->block == NULL) {
                part->error = -ENOMEM;
                return;
            }
            part->subs = part->block;
        }
    }
    part->sub_total = total;
    part->sub_count = (uint32_t)keep;
}

/* ---- writing (on shard 0) ---- */

static void key_text(struct go_json *json, const char *key, const char *text, size_t length)
{
    go_json_key(json, key);
    go_json_string(json, text, length);
}

static void head_write(const struct server *server, struct go_json *json)
{
    go_json_raw(json, "{", 1);
    key_text(json, "server_id", server->server_id, strlen(server->server_id));
    go_json_key(json, "now");
    monitor_json_time(json, clock_realtime_ns());
}

/* One subscription: connz's detail (no account) or subsz's (with it). */
static void sub_write(const struct monitor_sub_row *row, bool account, struct go_json *json)
{
    go_json_comma(json);
    go_json_raw(json, "{", 1);
    if (account) {
        go_json_literal(json, "\"account\":\"$G\",\"account_tag\":\"$G\"");
    }
    key_text(json, "subject", row->subject, row->subject_length);
    if (row->queue != NULL) {
        key_text(json, "qgroup", row->queue, row->queue_length);
    }
    key_text(json, "sid", row->sid, row->sid_length);
    go_json_key_uint(json, "msgs", row->msgs);
    go_json_key_uint(json, "cid", row->cid);
    go_json_raw(json, "}", 1);
}

static void conn_write(const struct server *server, const struct monitor_conn_row *row,
                       enum monitor_subs subs, int64_t now_ns, struct go_json *json)
{
    const struct monitor_conn_fields *fields = &row->fields;
    go_json_comma(json);
    go_json_raw(json, "{", 1);
    go_json_key_uint(json, "cid", fields->cid);
    go_json_literal(json, ",\"kind\":\"Client\",\"type\":\"nats\"");
    key_text(json, "ip", row->ip, strlen(row->ip));
    go_json_key_uint(json, "port", (uint64_t)row->port);
    go_json_key(json, "start");
    monitor_json_time(json, monitor_realtime_ns(server, fields->start_ns));
    go_json_key(json, "last_activity");
    monitor_json_time(json, monitor_realtime_ns(server, fields->last_ns));
    if (fields->closed_ns != 0) {
        /* a closed one: its times as they were when it closed, as nats-server keeps them */
        go_json_key(json, "stop");
        monitor_json_time(json, monitor_realtime_ns(server, fields->closed_ns));
        key_text(json, "reason", fields->reason, strlen(fields->reason));
        now_ns = fields->closed_ns;
    }
    go_json_literal(json, ",\"rtt\":\"0s\"");
    go_json_key(json, "uptime");
    monitor_json_uptime(json, now_ns - fields->start_ns);
    go_json_key(json, "idle");
    monitor_json_uptime(json, now_ns - fields->last_ns);
    go_json_key_uint(json, "pending_bytes", fields->pending_bytes);
    go_json_key_uint(json, "in_msgs", fields->stats.in_msgs);
    go_json_key_uint(json, "out_msgs", fields->stats.out_msgs);
    go_json_key_uint(json, "in_bytes", fields->stats.in_bytes);
    go_json_key_uint(json, "out_bytes", fields->stats.out_bytes);
    go_json_key_uint(json, "subscriptions", fields->sub_count);
    const char *labels[][2] = {{"name", row->name}, {"lang", row->lang},
                               {"version", row->version}};
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        if (labels[i][1][0] != '\0') {
            key_text(json, labels[i][0], labels[i][1], strlen(labels[i][1]));
        }
    }
    if (row->tls_version != NULL) { /* nats-server's order: after version */
        go_json_key_cstring(json, "tls_version", row->tls_version);
        go_json_key_cstring(json, "tls_cipher_suite", row->tls_cipher);
    }
    if (subs != MONITOR_SUBS_NONE && row->subs_count > 0) {
        go_json_key(json, subs == MONITOR_SUBS_LIST ? "subscriptions_list"
                                                    : "subscriptions_list_detail");
        go_json_raw(json, "[", 1);
        for (uint32_t i = 0; i < row->subs_count; i++) {
            if (subs == MONITOR_SUBS_LIST) {
                go_json_comma(json);
                go_json_string(json, row->subs[i].subject, row->subs[i].subject_length);
            } else {
                sub_write(&row->subs[i], false, json);
            }
        }
        go_json_raw(json, "]", 1);
    }
    go_json_raw(json, "}", 1);
}

void monitor_connz_write(struct shard *shard, const struct monitor_gather *gather,
                         struct go_json *json)
{
    const struct monitor_options *options = &gather->options;
    uint64_t total = 0;
    size_t row_count = 0;
    for (int i = 0; i < gather->part_count; i++) {
        total += gather->parts[i].conn_total;
        row_count += gather->parts[i].conn_count;
    }
    struct monitor_conn_row **rows = malloc((row_count > 0 ? row_count : 1) * sizeof *rows);
    if (rows == NULL) {
        json->failed = true; /* answered as a failure by the caller */
        return;
    }
    size_t taken = 0;
    for (int i = 0; i < gather->part_count; i++) {
        for (uint32_t j = 0; j < gather->parts[i].conn_count; j++) {
            rows[taken++] = &gather->parts[i].conns[j];
        }
    }
    enum monitor_sort sort = options->sort;
    qsort_r(rows, row_count, sizeof *rows, row_compare, &sort);
    size_t first = options->offset < row_count ? (size_t)options->offset : row_count;
    size_t last = page_end(options) < row_count ? (size_t)page_end(options) : row_count;
    int64_t now_ns = clock_monotonic_ns();
    head_write(shard->server, json);
    go_json_key_uint(json, "num_connections", last - first);
    go_json_key_uint(json, "total", total);
    go_json_key_uint(json, "offset", options->offset);
    go_json_key_uint(json, "limit", options->limit);
    go_json_key(json, "connections");
    go_json_raw(json, "[", 1);
    for (size_t i = first; i < last; i++) {
        conn_write(shard->server, rows[i], options->subs, now_ns, json);
    }
    go_json_raw(json, "]}", 2);
    free(rows);
}

void monitor_subsz_write(struct shard *shard, const struct monitor_gather *gather,
                         struct go_json *json)
{
    const struct monitor_options *options = &gather->options;
    struct sublist_stats sum = {0};
    uint64_t inserts = 0;
    uint64_t total = 0;
    for (int i = 0; i < gather->part_count; i++) {
        const struct sublist_stats *stats = &gather->parts[i].sublist;
        sum.sub_count += stats->sub_count;
        sum.cache_entry_count += stats->cache_entry_count;
        sum.match_count += stats->match_count;
        sum.cache_hit_count += stats->cache_hit_count;
        /* the index's generation counts every insert and every remove from 0, so the
         * inserts are (generation + live) / 2 */
        inserts += (stats->generation + stats->sub_count) / 2;
        total += gather->parts[i].sub_total;
    }
    head_write(shard->server, json);
    go_json_key_uint(json, "num_subscriptions", sum.sub_count);
    go_json_key_uint(json, "num_cache", sum.cache_entry_count);
    go_json_key_uint(json, "num_inserts", inserts);
    go_json_key_uint(json, "num_removes", inserts - sum.sub_count);
    go_json_key_uint(json, "num_matches", sum.match_count);
    go_json_key(json, "cache_hit_rate");
    monitor_json_float(json, sum.match_count > 0 ? (double)sum.cache_hit_count /
                                                       (double)sum.match_count
                                                 : 0.0);
    go_json_literal(json, ",\"max_fanout\":0,\"avg_fanout\":0");
    go_json_key_uint(json, "total", total);
    go_json_key_uint(json, "offset", options->offset);
    go_json_key_uint(json, "limit", options->limit);
    if (options->subs != MONITOR_SUBS_NONE && total > options->offset) {
        /* each part kept its first offset + limit; the page is cut from all of them in
         * shard order */
        uint64_t index = 0;
        uint64_t end = page_end(options);
        go_json_key(json, "subscriptions_list");
        go_json_raw(json, "[", 1);
        for (int i = 0; i < gather->part_count && index < end; i++) {
            const struct monitor_part *part = &gather->parts[i];
            for (uint32_t j = 0; j < part->sub_count && index < end; j++, index++) {
                if (index >= options->offset) {
                    sub_write(&part->subs[j], true, json);
                }
            }
        }
        go_json_raw(json, "]", 1);
    }
    go_json_raw(json, "}", 1);
}
