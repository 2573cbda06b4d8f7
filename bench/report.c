/* Text and JSON reports of a run (see report.h).
 *
 * Rates: messages per second and payload megabytes (10^6 B) per second of each side over
 * that side's own interval. Latency: percentiles of the histogram of whichever side
 * measured it (subscribers for stamped runs, requesters for reqrep, JetStream publishers
 * for their acks), in microseconds. js-pub's rate counts acked publishes only; js-consume's
 * counts deliveries of its one consumer connection, reported as the receiving side. */
#include "bench/report.h"

#include "base/clock.h"

#include <errno.h>
#include <stdbool.h>

static const double REPORT_PERCENTILES[] = {50.0, 90.0, 99.0, 99.9, 99.99};
static const char *const REPORT_PERCENTILE_NAMES[] = {"p50", "p90", "p99", "p99_9", "p99_99"};
static const char *const REPORT_PERCENTILE_LABELS[] = {"p50", "p90", "p99", "p99.9", "p99.99"};
enum {
    REPORT_PERCENTILE_COUNT = sizeof REPORT_PERCENTILES / sizeof REPORT_PERCENTILES[0],
};

static const double REPORT_BYTES_PER_MB = 1e6;
static const double REPORT_NS_PER_US = 1e3;

struct report_rates {
    double seconds;
    double msgs_per_s;
    double mb_per_s;
};

static struct report_rates report_rates(const struct bench_opts *opts,
                                        const struct side_result *result)
{
    struct report_rates rates = {0};
    if (result->end_ns > result->start_ns) {
        rates.seconds = (double)(result->end_ns - result->start_ns) / NS_PER_SEC;
        rates.msgs_per_s = (double)result->msgs / rates.seconds;
        rates.mb_per_s = rates.msgs_per_s * opts->size / REPORT_BYTES_PER_MB;
    }
    return rates;
}

/* The side that measured latency, or NULL. */
static const struct side *report_latency_side(const struct bench_opts *opts,
                                              const struct side *send, const struct side *receive)
{
    if (!opts->latency) {
        return NULL;
    }
    bool sender = opts->mode == BENCH_MODE_REQREP || opts->mode == BENCH_MODE_JS_PUB;
    return sender ? send : receive;
}

static const char *report_latency_what(const struct bench_opts *opts)
{
    switch (opts->mode) {
    case BENCH_MODE_REQREP:
        return "round trips";
    case BENCH_MODE_JS_PUB:
        return "publish to ack";
    default:
        return "from intended send time";
    }
}

static const char *report_error(const struct side *send, const struct side *receive)
{
    /* The side that failed first has the real cause; the other one was merely stopped. */
    const struct side *sides[] = {send, receive};
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 2; i++) {
            const struct side *side = sides[i];
            if (side == NULL || side->result.error == 0) {
                continue;
            }
            bool stopped = side->result.error == -ECANCELED;
            if (pass == 1 || !stopped) {
                return side->result.error_text;
            }
        }
    }
    return NULL;
}

static void report_text_side(FILE *stream, const struct bench_opts *opts, const char *name,
                             const struct side *side)
{
    const struct side_result *result = &side->result;
    struct report_rates rates = report_rates(opts, result);
    fprintf(stream, "  %-4s %12llu msgs %8.3f s %12.0f msg/s %10.1f MB/s", name,
            (unsigned long long)result->msgs, rates.seconds, rates.msgs_per_s, rates.mb_per_s);
    if (side->conn_count > 1) {
        fprintf(stream, "  (per connection %llu..%llu)", (unsigned long long)result->conn_msgs_min,
                (unsigned long long)result->conn_msgs_max);
    }
    fputc('\n', stream);
}

static void report_text_latency(FILE *stream, const char *label, const char *what,
                                const struct hist *hist)
{
    fprintf(stream, "  %s us:", label);
    for (int i = 0; i < REPORT_PERCENTILE_COUNT; i++) {
        fprintf(stream, " %s %.1f", REPORT_PERCENTILE_LABELS[i],
                (double)hist_percentile(hist, REPORT_PERCENTILES[i]) / REPORT_NS_PER_US);
    }
    fprintf(stream, " max %.1f  (%llu samples, %s)\n", (double)hist->max_ns / REPORT_NS_PER_US,
            (unsigned long long)hist->total_count, what);
}

/* Paced publishers record how late each batch left: if that is a large share of the
 * latency, the generator measured itself. */
static const struct side *report_lag_side(const struct bench_opts *opts, const struct side *send)
{
    return send != NULL && opts->rate > 0 && opts->mode != BENCH_MODE_REQREP ? send : NULL;
}

/* js-consume's own lines: the filling, the consumer connection's counts, the consumer's
 * state after the run. */
static void report_text_consume(FILE *stream, const struct side_result *result)
{
    const struct side_consume *consume = &result->consume;
    double fill_s = (double)consume->fill_ns / NS_PER_SEC;
    fprintf(stream, "  filled %llu msgs in %.3f s (%.0f msg/s, not measured); consumer %s\n",
            (unsigned long long)consume->filled, fill_s,
            fill_s > 0 ? (double)consume->filled / fill_s : 0.0,
            consume->name[0] != '\0' ? consume->name : "?");
    fprintf(stream, "  %llu requests, %llu ended by 404/408, %llu heartbeats, %llu acks\n",
            (unsigned long long)consume->requests, (unsigned long long)consume->statuses,
            (unsigned long long)consume->heartbeats, (unsigned long long)consume->acks);
    if (consume->delivered >= 0) {
        fprintf(stream,
                "  after the run: delivered to stream sequence %lld, ack floor %lld, %lld acks "
                "pending, %lld not delivered; the stream held %lld\n",
                (long long)consume->delivered, (long long)consume->ack_floor,
                (long long)consume->ack_pending, (long long)consume->pending,
                (long long)result->stored);
    }
}

static void report_text(FILE *stream, const struct bench_opts *opts, const struct side *send,
                        const struct side *receive, int64_t server_cpu_ns)
{
    fprintf(stream, "%s: %u pub, %u sub, %u B payloads, %u conn/client, ",
            bench_mode_name(opts->mode), opts->pubs, opts->subs, (unsigned)opts->size,
            opts->conns_per_client);
    if (opts->rate > 0) {
        fprintf(stream, "%.0f msg/s paced, ", opts->rate);
    }
    if (opts->blocking_subs) {
        fputs("blocking subscriber threads, ", stream);
    }
    if (opts->mode == BENCH_MODE_JS_CONSUME) {
        fprintf(stream, "%s consumer, ack %s, ", bench_consumer_name(opts->consumer),
                bench_ack_name(opts->ack));
        if (opts->consumer == BENCH_CONSUMER_PULL) {
            fprintf(stream, "batch %u, ", (unsigned)opts->batch_count);
        }
    }
    if (opts->mode == BENCH_MODE_JS_PUB || opts->mode == BENCH_MODE_JS_CONSUME) {
        fprintf(stream, "stream %s (%s), window %u, ", opts->stream,
                bench_storage_name(opts->storage), (unsigned)opts->window);
        if (opts->subjects > 0) {
            fprintf(stream, "subjects %s.0..%u, ", opts->subject, (unsigned)opts->subjects - 1);
        }
    }
    fprintf(stream, "%s\n", opts->url);
    if (send != NULL) {
        report_text_side(stream, opts, opts->mode == BENCH_MODE_REQREP ? "req" : "pub", send);
    }
    if (receive != NULL) {
        report_text_side(stream, opts, opts->mode == BENCH_MODE_REQREP ? "rep" : "sub", receive);
    }
    if (opts->mode == BENCH_MODE_JS_PUB && send != NULL) {
        const struct side_result *result = &send->result;
        fprintf(stream, "  acks %llu of %llu publishes, %llu refused; the stream held ",
                (unsigned long long)result->msgs, (unsigned long long)result->published,
                (unsigned long long)result->refused);
        if (result->stored >= 0 && result->stored_subjects >= 0) {
            fprintf(stream, "%lld on %lld subjects before its delete\n", (long long)result->stored,
                    (long long)result->stored_subjects);
        } else if (result->stored >= 0) {
            fprintf(stream, "%lld before its delete\n", (long long)result->stored);
        } else {
            fputs("? (not counted)\n", stream);
        }
    }
    if (opts->mode == BENCH_MODE_JS_CONSUME && receive != NULL) {
        report_text_consume(stream, &receive->result);
    }
    const struct side *latency = report_latency_side(opts, send, receive);
    if (latency != NULL) {
        report_text_latency(stream, "latency", report_latency_what(opts), &latency->result.hist);
    }
    const struct side *lag = report_lag_side(opts, send);
    if (lag != NULL) {
        report_text_latency(stream, "send lag", "pacing batches", &lag->result.hist);
    }
    if (server_cpu_ns >= 0) {
        fprintf(stream, "  server (pid %ld) CPU %.3f s during the run\n", opts->server_pid,
                (double)server_cpu_ns / NS_PER_SEC);
    }
    const char *error = report_error(send, receive);
    if (error != NULL) {
        fprintf(stream, "  FAILED: %s\n", error);
    }
}

static void report_json_string(FILE *stream, const char *text)
{
    fputc('"', stream);
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\') {
            fprintf(stream, "\\%c", *c);
        } else if ((unsigned char)*c < ' ') {
            fprintf(stream, "\\u%04x", (unsigned)(unsigned char)*c);
        } else {
            fputc(*c, stream);
        }
    }
    fputc('"', stream);
}

static void report_json_side(FILE *stream, const struct bench_opts *opts, const char *name,
                             const struct side *side)
{
    const struct side_result *result = &side->result;
    struct report_rates rates = report_rates(opts, result);
    fprintf(stream,
            ",\"%s\":{\"msgs\":%llu,\"expected\":%llu,\"seconds\":%.6f,\"msgs_per_s\":%.1f,"
            "\"mb_per_s\":%.3f,\"conns\":%u,\"conn_msgs_min\":%llu,\"conn_msgs_max\":%llu,"
            "\"sends\":%llu,\"recvs\":%llu,\"recv_bytes\":%llu}",
            name, (unsigned long long)result->msgs, (unsigned long long)result->expected,
            rates.seconds, rates.msgs_per_s, rates.mb_per_s, side->conn_count,
            (unsigned long long)result->conn_msgs_min, (unsigned long long)result->conn_msgs_max,
            (unsigned long long)result->send_count, (unsigned long long)result->recv_count,
            (unsigned long long)result->recv_bytes);
}

static void report_json_latency(FILE *stream, const char *name, const struct hist *hist)
{
    fprintf(stream, ",\"%s\":{\"count\":%llu", name, (unsigned long long)hist->total_count);
    for (int i = 0; i < REPORT_PERCENTILE_COUNT; i++) {
        fprintf(stream, ",\"%s\":%.3f", REPORT_PERCENTILE_NAMES[i],
                (double)hist_percentile(hist, REPORT_PERCENTILES[i]) / REPORT_NS_PER_US);
    }
    fprintf(stream, ",\"max\":%.3f}", (double)hist->max_ns / REPORT_NS_PER_US);
}

/* js-pub's own numbers: "js":{"stream", "storage", "window", "subjects" (0: the one plain
 * subject), "published", "acked", "refused", "refused_error" (the first, or null), "stored"
 * and "stored_subjects" (each null when not counted)}. */
static void report_json_js(FILE *stream, const struct bench_opts *opts, const struct side *send)
{
    const struct side_result *result = &send->result;
    fprintf(stream, ",\"js\":{\"stream\":");
    report_json_string(stream, opts->stream);
    fprintf(stream,
            ",\"storage\":\"%s\",\"window\":%u,\"subjects\":%u,\"published\":%llu,"
            "\"acked\":%llu,\"refused\":%llu,\"refused_error\":",
            bench_storage_name(opts->storage), (unsigned)opts->window, (unsigned)opts->subjects,
            (unsigned long long)result->published, (unsigned long long)result->msgs,
            (unsigned long long)result->refused);
    if (result->refused_text[0] != '\0') {
        report_json_string(stream, result->refused_text);
    } else {
        fputs("null", stream);
    }
    if (result->stored >= 0) {
        fprintf(stream, ",\"stored\":%lld", (long long)result->stored);
    } else {
        fputs(",\"stored\":null", stream);
    }
    if (result->stored_subjects >= 0) {
        fprintf(stream, ",\"stored_subjects\":%lld}", (long long)result->stored_subjects);
    } else {
        fputs(",\"stored_subjects\":null}", stream);
    }
}

/* A count main may not have learned: the number, or null when negative. */
static void report_json_known(FILE *stream, const char *name, int64_t value)
{
    if (value >= 0) {
        fprintf(stream, ",\"%s\":%lld", name, (long long)value);
    } else {
        fprintf(stream, ",\"%s\":null", name);
    }
}

/* js-consume's own numbers: "js":{"stream", "storage", "window" (of the filling), "filled",
 * "fill_seconds", "stored" (after the run, or null), "consumer":{"type" (pull / push),
 * "name", "durable", "ack", "batch" (pull, else null), "config" (as the server echoed it, or
 * null), "requests", "request_statuses" (404 / 408), "heartbeats", "acks", and after the
 * run (each null when unknown) "delivered" (stream sequence), "ack_floor", "ack_pending",
 * "pending"}}. */
static void report_json_consume(FILE *stream, const struct bench_opts *opts,
                                const struct side *consumer)
{
    const struct side_result *result = &consumer->result;
    const struct side_consume *consume = &result->consume;
    bool pull = opts->consumer == BENCH_CONSUMER_PULL;
    fprintf(stream, ",\"js\":{\"stream\":");
    report_json_string(stream, opts->stream);
    fprintf(stream, ",\"storage\":\"%s\",\"window\":%u,\"filled\":%llu,\"fill_seconds\":%.6f",
            bench_storage_name(opts->storage), (unsigned)opts->window,
            (unsigned long long)consume->filled, (double)consume->fill_ns / NS_PER_SEC);
    report_json_known(stream, "stored", result->stored);
    fprintf(stream, ",\"consumer\":{\"type\":\"%s\",\"name\":",
            bench_consumer_name(opts->consumer));
    report_json_string(stream, consume->name);
    fprintf(stream, ",\"durable\":%s,\"ack\":\"%s\",\"batch\":", pull ? "true" : "false",
            bench_ack_name(opts->ack));
    if (pull) {
        fprintf(stream, "%u", (unsigned)opts->batch_count);
    } else {
        fputs("null", stream);
    }
    /* The server's own JSON, kept whole or not at all (jsapi_consumer_create). */
    fprintf(stream, ",\"config\":%s", consume->config[0] != '\0' ? consume->config : "null");
    fprintf(stream,
            ",\"requests\":%llu,\"request_statuses\":%llu,\"heartbeats\":%llu,\"acks\":%llu",
            (unsigned long long)consume->requests, (unsigned long long)consume->statuses,
            (unsigned long long)consume->heartbeats, (unsigned long long)consume->acks);
    report_json_known(stream, "delivered", consume->delivered);
    report_json_known(stream, "ack_floor", consume->ack_floor);
    report_json_known(stream, "ack_pending", consume->ack_pending);
    report_json_known(stream, "pending", consume->pending);
    fputs("}}", stream);
}

static void report_json(FILE *stream, const struct bench_opts *opts, const struct side *send,
                        const struct side *receive, int64_t server_cpu_ns)
{
    fprintf(stream, "{\"mode\":\"%s\",\"url\":", bench_mode_name(opts->mode));
    report_json_string(stream, opts->url);
    fprintf(stream, ",\"size\":%u,\"pubs\":%u,\"subs\":%u,\"conns_per_client\":%u,\"rate\":%.0f",
            (unsigned)opts->size, opts->pubs, opts->subs, opts->conns_per_client, opts->rate);
    fprintf(stream, ",\"blocking_subs\":%s", opts->blocking_subs ? "true" : "false");
    if (send != NULL) {
        report_json_side(stream, opts, "pub", send);
    }
    if (receive != NULL) {
        report_json_side(stream, opts, "sub", receive);
    }
    if (opts->mode == BENCH_MODE_JS_PUB && send != NULL) {
        report_json_js(stream, opts, send);
    }
    if (opts->mode == BENCH_MODE_JS_CONSUME && receive != NULL) {
        report_json_consume(stream, opts, receive);
    }
    const struct side *latency = report_latency_side(opts, send, receive);
    if (latency != NULL) {
        report_json_latency(stream, "latency_us", &latency->result.hist);
    }
    const struct side *lag = report_lag_side(opts, send);
    if (lag != NULL) {
        report_json_latency(stream, "send_lag_us", &lag->result.hist);
    }
    if (server_cpu_ns >= 0) {
        fprintf(stream, ",\"server_cpu_s\":%.3f", (double)server_cpu_ns / NS_PER_SEC);
    }
    const char *error = report_error(send, receive);
    fprintf(stream, ",\"ok\":%s,\"error\":", error == NULL ? "true" : "false");
    if (error != NULL) {
        report_json_string(stream, error);
    } else {
        fputs("null", stream);
    }
    fputs("}\n", stream);
}

void report_print(FILE *stream, const struct bench_opts *opts, const struct side *send,
                  const struct side *receive, int64_t server_cpu_ns)
{
    if (opts->json) {
        report_json(stream, opts, send, receive, server_cpu_ns);
    } else {
        report_text(stream, opts, send, receive, server_cpu_ns);
    }
}
