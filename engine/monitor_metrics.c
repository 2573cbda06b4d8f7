/* /metrics: the page Prometheus scrapes, in the text exposition format 0.0.4, with the
 * series prometheus-nats-exporter makes from nats-server's pages (gnatsd_varz_*,
 * gnatsd_connz_*, jetstream_*), so dashboards built on the exporter read ionats without
 * it, and the per-shard series no NATS server has (ionats_shard_*).
 *
 * The one idea: /metrics is one gather (monitor_gather.c) whose parts carry what varz and
 * jsz's stream details need plus each shard's own figures, copied on that shard from
 * counters it keeps without atomics (its loop's, its transport's, its connections'); shard
 * 0 then writes the page from the parts. See monitor_metrics.h for how the exporter's
 * series are made; this file writes the text format itself, connz's sums and the
 * ionats_shard_* series.
 *
 * What is not served: the exporter's connz sums cover the first 1024 connections of
 * /connz's default page; here they cover every open client connection (num_connections
 * and limit still say 1024 at most). The exporter's connz_detailed (per-connection) series
 * are not written. Its routez, gatewayz, leafz, accountz, accstatz, subsz and healthz
 * collectors are left out (ionats has no routes, gateways, leaf nodes or accounts beyond
 * $G), and so are its stream source and mirror series: ionats's /jsz has no source or
 * mirror state to make them from.
 *
 * monitor_metrics_collect runs on each part's shard; the rest on shard 0. */
#include "engine/monitor_metrics.h"
#include "engine/monitor_internal.h"

#include "base/assert.h"
#include "base/clock.h"
#include "engine/client.h"
#include "engine/server.h"
#include "engine/shard.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* connz's default page, which the exporter's connz collector reads (no limit given). */
enum { CONNZ_LIMIT_DEFAULT = 1024 };
/* Histogram buckets written with a bound: the completions of a turn up to 2^11 - 1 (more
 * in one turn only says "very many", which +Inf says too), fdatasync up to 2^32 ns (4.3 s). */
enum { COMPLETIONS_BUCKETS = 12, DATASYNC_BUCKETS = IO_HISTOGRAM_BUCKETS - 1 };
STATIC_ASSERT((int)COMPLETIONS_BUCKETS < (int)IO_HISTOGRAM_BUCKETS,
              "the last bucket is +Inf's alone");

/* ---- collecting, on the part's shard ---- */

/* The shard's own figures: its loop's and transport's counters, its open client
 * connections' sums. */
static void figures_collect(struct shard *shard, struct monitor_shard_figures *figures)
{
    loop_stats_get(shard->loop, &figures->loop);
    const struct conn_table *table = &shard->conns;
    for (uint32_t i = 0; i < table->capacity; i++) {
        const struct conn *conn = table->conns[i];
        if (conn == NULL || conn->kind != shard->listener_kind || (conn->flags & CONN_F_CLOSING)) {
            continue; /* as connz: open client connections only */
        }
        const struct client *client = (const struct client *)conn;
        figures->connections++;
        figures->pending_bytes += conn_pending_bytes(conn);
        figures->subscriptions += client->sub_count;
        figures->conn_totals.in_msgs += conn->stats.in_msgs;
        figures->conn_totals.in_bytes += conn->stats.in_bytes;
        figures->conn_totals.out_msgs += conn->stats.out_msgs;
        figures->conn_totals.out_bytes += conn->stats.out_bytes;
    }
    figures->accepted = shard->stats.accepted;
    figures->in_bytes = shard->stats.in_bytes;
    figures->out_bytes = shard->stats.out_bytes;
    figures->recv_enobufs = shard->stats.recv_enobufs;
    figures->slow_consumers = table->stats.slow_consumers;
    const struct xshard_stats *xshard = &shard->xshard.stats;
    figures->xshard_sent = xshard->sent;
    figures->xshard_received = xshard->received;
    figures->ring_full = xshard->ring_full;
    figures->overflowed = xshard->overflowed;
    figures->overflow_bytes = shard->xshard.overflow_bytes;
    figures->overflow_peak_bytes = xshard->overflow_peak_bytes;
    figures->wakeups_sent = xshard->wakeups_sent;
}

void monitor_metrics_collect(struct shard *shard, struct monitor_part *part)
{
    ASSERT(part->gather->options.endpoint == MONITOR_METRICS);
    monitor_counts_collect(shard, part);
    monitor_jsz_collect(shard, part); /* nothing without JetStream */
    figures_collect(shard, &part->figures);
}

/* ---- the text format ---- */

void monitor_metrics_family(struct go_json *out, const char *name, const char *type,
                            const char *help)
{
    ASSERT(strchr(help, '\\') == NULL && strchr(help, '\n') == NULL); /* no escapes needed */
    go_json_literal(out, "# HELP ");
    go_json_literal(out, name);
    go_json_literal(out, " ");
    go_json_literal(out, help);
    go_json_literal(out, "\n# TYPE ");
    go_json_literal(out, name);
    go_json_literal(out, " ");
    go_json_literal(out, type);
    go_json_literal(out, "\n");
}

/* Whether the text format escapes `byte` in a label value. */
static bool label_escaped(unsigned char byte)
{
    return byte == '\\' || byte == '"' || byte == '\n';
}

/* One byte of a label value, escaped as the text format escapes them. */
static void label_byte(struct go_json *out, unsigned char byte)
{
    switch (byte) {
    case '\\':
        go_json_raw(out, "\\\\", 2);
        return;
    case '"':
        go_json_raw(out, "\\\"", 2);
        return;
    case '\n':
        go_json_raw(out, "\\n", 2);
        return;
    default:
        go_json_raw(out, (const char *)&byte, 1);
    }
}

/* A rune as UTF-8, each byte escaped. */
static void label_rune(struct go_json *out, uint32_t rune)
{
    unsigned char bytes[4];
    size_t count;
    if (rune < 0x80) {
        bytes[0] = (unsigned char)rune;
        count = 1;
    } else if (rune < 0x800) {
        bytes[0] = (unsigned char)(0xC0 | rune >> 6);
        bytes[1] = (unsigned char)(0x80 | (rune & 0x3F));
        count = 2;
    } else if (rune < 0x10000) {
        bytes[0] = (unsigned char)(0xE0 | rune >> 12);
        bytes[1] = (unsigned char)(0x80 | (rune >> 6 & 0x3F));
        bytes[2] = (unsigned char)(0x80 | (rune & 0x3F));
        count = 3;
    } else {
        bytes[0] = (unsigned char)(0xF0 | rune >> 18);
        bytes[1] = (unsigned char)(0x80 | (rune >> 12 & 0x3F));
        bytes[2] = (unsigned char)(0x80 | (rune >> 6 & 0x3F));
        bytes[3] = (unsigned char)(0x80 | (rune & 0x3F));
        count = 4;
    }
    for (size_t i = 0; i < count; i++) {
        label_byte(out, bytes[i]);
    }
}

/* Four hex digits at text[0..4), or -1. */
static int32_t hex4(const char *text, size_t length)
{
    if (length < 4) {
        return -1;
    }
    int32_t value = 0;
    for (int i = 0; i < 4; i++) {
        char c = text[i];
        int digit = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
        if (digit < 0) {
            return -1;
        }
        value = value * 16 + digit;
    }
    return value;
}

/* The inside of a JSON string, decoded and escaped for a label value. Accepts what Go's
 * encoding/json writes; a malformed escape is written as the bytes it has, a lone
 * surrogate as U+FFFD. Each step consumes input: bounded by `length`. */
static void label_json(struct go_json *out, const char *text, size_t length)
{
    size_t i = 0;
    while (i < length) {
        size_t run = 0; /* bytes that go out as they are, in one append */
        while (i + run < length && !label_escaped((unsigned char)text[i + run])) {
            run++;
        }
        go_json_raw(out, text + i, run);
        i += run;
        if (i == length) {
            break;
        }
        if (text[i] != '\\' || i + 1 == length) {
            label_byte(out, (unsigned char)text[i++]);
            continue;
        }
        char escape = text[i + 1];
        const char *simple = strchr("\"\\/bfnrt", escape);
        if (escape != '\0' && simple != NULL) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            label_byte(out, (unsigned char)decoded[simple - "\"\\/bfnrt"]);
            i += 2;
            continue;
        }
        int32_t unit = escape == 'u' ? hex4(text + i + 2, length - i - 2) : -1;
        if (unit < 0) {
            label_byte(out, (unsigned char)text[i++]); /* not an escape: the backslash */
            continue;
        }
        i += 6;
        uint32_t rune = (uint32_t)unit;
        if (unit >= 0xD800 && unit < 0xDC00) {
            int32_t low = i + 1 < length && text[i] == '\\' && text[i + 1] == 'u'
                              ? hex4(text + i + 2, length - i - 2)
                              : -1;
            if (low >= 0xDC00 && low < 0xE000) {
                rune = 0x10000 + (((uint32_t)unit - 0xD800) << 10) + ((uint32_t)low - 0xDC00);
                i += 6;
            } else {
                rune = GO_JSON_RUNE_ERROR;
            }
        } else if (unit >= 0xDC00 && unit < 0xE000) {
            rune = GO_JSON_RUNE_ERROR;
        }
        label_rune(out, rune);
    }
}

struct monitor_metrics_label monitor_metrics_label_cstring(const char *name, const char *value)
{
    return (struct monitor_metrics_label){.name = name, .value = value, .length = strlen(value)};
}

void monitor_metrics_sample(struct go_json *out, const char *name, const char *suffix,
                            const struct monitor_metrics_label *labels, size_t label_count,
                            const char *value, size_t value_length)
{
    go_json_literal(out, name);
    go_json_literal(out, suffix);
    for (size_t i = 0; i < label_count; i++) {
        go_json_literal(out, i == 0 ? "{" : ",");
        go_json_literal(out, labels[i].name);
        go_json_literal(out, "=\"");
        if (labels[i].json) {
            label_json(out, labels[i].value, labels[i].length);
        } else {
            const char *text = labels[i].value;
            size_t start = 0; /* of the bytes not yet written */
            for (size_t j = 0; j < labels[i].length; j++) {
                if (label_escaped((unsigned char)text[j])) {
                    go_json_raw(out, text + start, j - start);
                    label_byte(out, (unsigned char)text[j]);
                    start = j + 1;
                }
            }
            go_json_raw(out, text + start, labels[i].length - start);
        }
        go_json_literal(out, "\"");
    }
    go_json_literal(out, label_count > 0 ? "} " : " ");
    go_json_raw(out, value, value_length);
    go_json_literal(out, "\n");
}

/* Numbers are written by hand, not with printf: a page has hundreds, and libc's float
 * formatting was most of a scrape's time. */
size_t monitor_metrics_uint_text(uint64_t value, char *text)
{
    char digits[MONITOR_METRICS_NUMBER_MAX];
    size_t count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    for (size_t i = 0; i < count; i++) {
        text[i] = digits[count - 1 - i];
    }
    text[count] = '\0';
    return count;
}

size_t monitor_metrics_seconds_text(int64_t ns, char *text)
{
    size_t length = 0;
    uint64_t magnitude = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    if (ns < 0) {
        text[length++] = '-';
    }
    length += monitor_metrics_uint_text(magnitude / NS_PER_SEC, text + length);
    uint64_t fraction = magnitude % NS_PER_SEC;
    if (fraction > 0) {
        text[length++] = '.';
        for (uint64_t unit = NS_PER_SEC / 10; fraction > 0; unit /= 10) {
            text[length++] = (char)('0' + fraction / unit);
            fraction %= unit;
        }
    }
    text[length] = '\0';
    return length;
}

void monitor_metrics_sample_uint(struct go_json *out, const char *name,
                                 const struct monitor_metrics_label *labels, size_t label_count,
                                 uint64_t value)
{
    char text[MONITOR_METRICS_NUMBER_MAX];
    size_t length = monitor_metrics_uint_text(value, text);
    monitor_metrics_sample(out, name, "", labels, label_count, text, length);
}

/* ---- gnatsd_connz_*: the exporter's connz collector, summed over the parts ---- */

static void connz_write(const struct server *server, const struct monitor_gather *gather,
                        struct go_json *out)
{
    struct monitor_shard_figures sum = {0};
    for (int i = 0; i < gather->part_count; i++) {
        const struct monitor_shard_figures *figures = &gather->parts[i].figures;
        sum.connections += figures->connections;
        sum.pending_bytes += figures->pending_bytes;
        sum.subscriptions += figures->subscriptions;
        sum.conn_totals.in_msgs += figures->conn_totals.in_msgs;
        sum.conn_totals.in_bytes += figures->conn_totals.in_bytes;
        sum.conn_totals.out_msgs += figures->conn_totals.out_msgs;
        sum.conn_totals.out_bytes += figures->conn_totals.out_bytes;
    }
    const struct {
        const char *name; /* after gnatsd_connz_, and its help */
        const char *type;
        uint64_t value;
    } series[] = {
        {"in_bytes", "counter", sum.conn_totals.in_bytes},
        {"in_msgs", "counter", sum.conn_totals.in_msgs},
        {"limit", "gauge", CONNZ_LIMIT_DEFAULT},
        {"num_connections", "gauge",
         sum.connections < CONNZ_LIMIT_DEFAULT ? sum.connections : CONNZ_LIMIT_DEFAULT},
        {"offset", "gauge", 0},
        {"out_bytes", "counter", sum.conn_totals.out_bytes},
        {"out_msgs", "counter", sum.conn_totals.out_msgs},
        {"pending_bytes", "gauge", sum.pending_bytes},
        {"subscriptions", "gauge", sum.subscriptions},
        {"total", "gauge", sum.connections},
    };
    struct monitor_metrics_label label =
        monitor_metrics_label_cstring("server_id", server->server_id);
    for (size_t i = 0; i < sizeof series / sizeof series[0]; i++) {
        char name[64];
        int length = snprintf(name, sizeof name, "gnatsd_connz_%s", series[i].name);
        ASSERT(length > 0 && (size_t)length < sizeof name);
        monitor_metrics_family(out, name, series[i].type, series[i].name);
        monitor_metrics_sample_uint(out, name, &label, 1, series[i].value);
    }
}

/* ---- ionats_shard_*: each shard's own figures ---- */

#define FIGURE(member) offsetof(struct monitor_shard_figures, member)

static const struct {
    const char *name;
    const char *type;
    const char *help;
    size_t offset; /* of a uint64_t in struct monitor_shard_figures */
} shard_series[] = {
    {"ionats_shard_loop_turns_total", "counter",
     "Turns of the shard's loop: one wait for I/O, then one dispatch of what completed",
     FIGURE(loop.completions.count)},
    {"ionats_shard_submitted_total", "counter",
     "Operations the shard handed to the kernel: io_uring SQEs, its stream stores' "
     "included; recv, send and accept4 calls on the epoll backend",
     FIGURE(loop.submitted)},
    {"ionats_shard_wakeups_received_total", "counter",
     "Wake-ups from other shards that reached this shard's loop", FIGURE(loop.wakeups)},
    {"ionats_shard_wakeups_sent_total", "counter",
     "Wake-ups this shard sent to sleeping shards it forwarded messages to", FIGURE(wakeups_sent)},
    {"ionats_shard_xshard_forwarded_total", "counter",
     "Publishes this shard forwarded to other shards, one per target shard", FIGURE(xshard_sent)},
    {"ionats_shard_xshard_received_total", "counter",
     "Publishes other shards forwarded to this shard", FIGURE(xshard_received)},
    {"ionats_shard_xshard_ring_full_total", "counter",
     "Records toward another shard that found its ring full", FIGURE(ring_full)},
    {"ionats_shard_xshard_overflowed_total", "counter",
     "Records that waited in an overflow queue for room in a ring", FIGURE(overflowed)},
    {"ionats_shard_xshard_overflow_bytes", "gauge", "Bytes this shard's overflow queues hold now",
     FIGURE(overflow_bytes)},
    {"ionats_shard_xshard_overflow_peak_bytes", "gauge",
     "Most bytes this shard's overflow queues held at once", FIGURE(overflow_peak_bytes)},
    {"ionats_shard_recv_buffers_exhausted_total", "counter",
     "Receives that ended because no receive buffer was free (io_uring ENOBUFS)",
     FIGURE(recv_enobufs)},
    {"ionats_shard_connections", "gauge", "Client connections open on this shard",
     FIGURE(connections)},
    {"ionats_shard_accepted_total", "counter", "Client connections this shard accepted",
     FIGURE(accepted)},
    {"ionats_shard_in_bytes_total", "counter",
     "Bytes received on this shard's sockets (clients and monitoring), protocol included", FIGURE(in_bytes)},
    {"ionats_shard_out_bytes_total", "counter",
     "Bytes sent on this shard's sockets (clients and monitoring), protocol included", FIGURE(out_bytes)},
    {"ionats_shard_slow_consumers_total", "counter",
     "Client connections this shard closed as slow consumers", FIGURE(slow_consumers)},
    {"ionats_shard_store_writes_total", "counter", "Writes this shard's stream stores submitted",
     FIGURE(loop.store_writes)},
    {"ionats_shard_group_commits_total", "counter",
     "fdatasyncs this shard's stream stores submitted, each making every batch written "
     "before it durable (directory syncs included)",
     FIGURE(loop.store_datasyncs)},
};

/* The shard's two labels: server_id, shard (its index, written into `text`). */
static void shard_labels(const struct server *server, int index,
                         char text[MONITOR_METRICS_NUMBER_MAX],
                         struct monitor_metrics_label labels[2])
{
    ASSERT(index >= 0);
    size_t length = monitor_metrics_uint_text((uint64_t)index, text);
    labels[0] = monitor_metrics_label_cstring("server_id", server->server_id);
    labels[1] = (struct monitor_metrics_label){.name = "shard", .value = text, .length = length};
}

/* The text of a histogram's value: a count, or nanoseconds as seconds. */
static size_t histogram_text(uint64_t value, bool seconds, char *text)
{
    return seconds ? monitor_metrics_seconds_text((int64_t)value, text)
                   : monitor_metrics_uint_text(value, text);
}

/* A histogram per shard: `bounded` buckets with an `le`, then +Inf; with `seconds` its
 * values are nanoseconds, written as seconds. */
static void histogram_write(const struct server *server, const struct monitor_gather *gather,
                            const char *name, const char *help, size_t offset, unsigned shift,
                            unsigned bounded, bool seconds, struct go_json *out)
{
    monitor_metrics_family(out, name, "histogram", help);
    for (int i = 0; i < gather->part_count; i++) {
        const struct io_histogram *histogram =
            (const struct io_histogram *)((const char *)&gather->parts[i].figures + offset);
        char index[MONITOR_METRICS_NUMBER_MAX];
        struct monitor_metrics_label labels[3];
        shard_labels(server, i, index, labels);
        char le[MONITOR_METRICS_NUMBER_MAX];
        char count[MONITOR_METRICS_NUMBER_MAX];
        uint64_t cumulative = 0;
        for (unsigned b = 0; b < bounded; b++) {
            cumulative += histogram->buckets[b];
            size_t le_length = histogram_text(io_histogram_bound(b, shift), seconds, le);
            labels[2] =
                (struct monitor_metrics_label){.name = "le", .value = le, .length = le_length};
            size_t length = monitor_metrics_uint_text(cumulative, count);
            monitor_metrics_sample(out, name, "_bucket", labels, 3, count, length);
        }
        labels[2] = monitor_metrics_label_cstring("le", "+Inf");
        size_t length = monitor_metrics_uint_text(histogram->count, count);
        monitor_metrics_sample(out, name, "_bucket", labels, 3, count, length);
        char sum[MONITOR_METRICS_NUMBER_MAX];
        size_t sum_length = histogram_text(histogram->sum, seconds, sum);
        monitor_metrics_sample(out, name, "_sum", labels, 2, sum, sum_length);
        monitor_metrics_sample(out, name, "_count", labels, 2, count, length);
    }
}

static void shards_write(const struct server *server, const struct monitor_gather *gather,
                         struct go_json *out)
{
    for (size_t s = 0; s < sizeof shard_series / sizeof shard_series[0]; s++) {
        monitor_metrics_family(out, shard_series[s].name, shard_series[s].type,
                               shard_series[s].help);
        for (int i = 0; i < gather->part_count; i++) {
            const char *figures = (const char *)&gather->parts[i].figures;
            uint64_t value;
            memcpy(&value, figures + shard_series[s].offset, sizeof value);
            char index[MONITOR_METRICS_NUMBER_MAX];
            struct monitor_metrics_label labels[2];
            shard_labels(server, i, index, labels);
            monitor_metrics_sample_uint(out, shard_series[s].name, labels, 2, value);
        }
    }
    histogram_write(server, gather, "ionats_shard_loop_completions_per_turn",
                    "Completions one turn of the shard's loop dispatched (epoll: readiness "
                    "events and reported ends)",
                    FIGURE(loop.completions), 0, COMPLETIONS_BUCKETS, false, out);
    histogram_write(server, gather, "ionats_shard_fdatasync_seconds",
                    "Time from submitting a stream store's fdatasync to its completion",
                    FIGURE(loop.datasync_ns), IO_HISTOGRAM_NS_SHIFT, DATASYNC_BUCKETS, true, out);
}

/* ---- the page ---- */

void monitor_metrics_reply(struct shard *shard, struct monitor_http *http,
                           const struct monitor_gather *gather)
{
    const struct server *server = shard->server;
    struct go_json varz;
    go_json_init(&varz, MONITOR_COMPACT_MAX);
    monitor_varz_write(shard, gather, &varz);
    struct go_json jsz;
    go_json_init(&jsz, MONITOR_COMPACT_MAX);
    monitor_jsz_write(shard, &gather->options, gather, &jsz);
    struct go_json text;
    go_json_init(&text, MONITOR_RESPONSE_MAX);
    if (!varz.failed && !jsz.failed) {
        connz_write(server, gather, &text);
        monitor_metrics_varz_write(server, varz.data, varz.length, &text);
        monitor_metrics_jsz_write(server, jsz.data, jsz.length, &text);
        shards_write(server, gather, &text);
    }
    if (varz.failed || jsz.failed || text.failed) {
        static const char too_large[] = "metrics: the page did not fit in memory or in "
                                        "the response's bound";
        monitor_http_reply(http, 500, "text/plain; charset=utf-8", too_large, sizeof too_large - 1);
    } else {
        monitor_http_reply(http, 200, MONITOR_METRICS_CONTENT_TYPE, text.data, text.length);
    }
    go_json_free(&text);
    go_json_free(&jsz);
    go_json_free(&varz);
}
