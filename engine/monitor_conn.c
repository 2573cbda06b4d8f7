/* The HTTP kind of connection (conn.h) that shard 0's monitoring listener speaks: HTTP/1.1
 * with keep-alive, one request at a time, each answered with a whole response (headers,
 * Content-Length, body) as nats-server's Go net/http answers it.
 *
 * The one idea: input collects in a fixed buffer of HTTP_HEAD_MAX bytes until a whole
 * request head is there; the head is answered at once (static pages, errors) or after a
 * gather of the shards' data (monitor_gather.c) or once NATS Streaming's pages have what
 * they asked JetStream for (stan_monitor.c), during which further input waits in the
 * buffer. What a client can grow is bounded: the buffer (a head that does not fit gets a
 * 431 and the connection closes; pipelined input that does not fit is dropped, and once
 * the heads that did fit are answered, a 431 closes the connection), the output (a response
 * is at most MONITOR_RESPONSE_MAX bytes, and a client that leaves more than that unread
 * while asking for more is closed), the connections (MONITOR_CONNS_MAX), and time (a head
 * must arrive within MONITOR_HEAD_NS of its first byte, the next request within
 * MONITOR_IDLE_NS of the last answer). A body (Content-Length) is read and dropped; a
 * chunked one is not read: the answer closes the connection.
 *
 * Output goes into the connection's queue without conn_reserve_output: a monitoring reader
 * is no subscriber, so it takes no part in flow control and is not counted as a slow
 * consumer for being slow. One thread: shard 0's. */
#include "engine/conn_tls.h"
#include "engine/monitor.h"
#include "engine/monitor_internal.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "engine/stan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* nats-server's ReadHeaderTimeout: a head must be whole this long after its first byte. */
#define MONITOR_HEAD_NS (5LL * 1000000000LL)
/* A connection with no request this long after its last answer is closed: longer than any
 * scrape interval (Prometheus defaults to 15 s), short enough that idle ones go. */
#define MONITOR_IDLE_NS (120LL * 1000000000LL)
/* Bytes of a response's status line and headers, at most. */
enum { RESPONSE_HEAD_MAX = 512 };
/* Unsent output a connection may have when it asks for more: one full response and some. */
enum { MONITOR_PENDING_MAX = MONITOR_RESPONSE_MAX + 64 * 1024 };

struct monitor_http {
    struct conn conn;               /* first: the kind's record starts with the connection */
    struct monitor *monitor;        /* borrowed: shard 0's (server->monitor) */
    char input[HTTP_HEAD_MAX];      /* received, not handled yet */
    size_t input_length;
    bool input_lost;                /* input came with the buffer full, and was dropped */
    uint64_t body_skip;             /* body bytes of the last request still to drop */
    struct monitor_gather *gather;  /* owned share: the request waiting for the shards */
    /* The request waiting for an answer written elsewhere (monitor_http_wait): what to call
     * if the connection goes first. */
    bool waiting;
    monitor_cancel_fn *wait_cancel;
    void *wait_context;
    /* How the request in hand is answered. */
    bool head_only;                 /* HEAD: the headers alone */
    int version_minor;
    bool keep_alive;
    bool serving;                   /* inside serve(): its loop goes on by itself */
    bool counted;                   /* in monitor->conn_count */
    struct timer_entry timer;       /* the head's deadline, or the idle one */
    bool head_deadline;             /* the timer runs for a head that has begun */
};

STATIC_ASSERT(offsetof(struct monitor_http, conn) == 0, "a conn * of this kind is a monitor_http *");

static void serve(struct monitor_http *http);

/* A request is in hand: its answer waits for the shards or for another module. */
static bool busy(const struct monitor_http *http)
{
    return http->gather != NULL || http->waiting;
}

/* ---- writing responses ---- */

/* Queues `head` and `body` as one response; closes the connection after it when the
 * request asked for that. False when the connection was closed instead (its unread output
 * passed MONITOR_PENDING_MAX, or memory ran out). */
static bool output_put(struct monitor_http *http, const char *head, size_t head_length,
                       const char *body, size_t body_length)
{
    struct conn *conn = &http->conn;
    size_t length = head_length + body_length;
    if (conn_pending_bytes(conn) + length > MONITOR_PENDING_MAX) {
        LOG_DEBUG("http %llu %s:%d: %zu bytes unread while asking for more; closing",
                  (unsigned long long)conn->id, conn->ip, conn->port, conn_pending_bytes(conn));
        conn_close(conn, "Monitoring Output Not Read");
        return false;
    }
    if (outq_reserve(&conn->out, &conn->table->out_pool, length) != 0) {
        conn_close(conn, "Out Of Memory");
        return false;
    }
    conn_put(conn, head, head_length);
    conn_put(conn, body, body_length);
    conn_flush_queue(conn);
    if (!http->keep_alive) {
        conn_close_after_flush(conn, "Client Closed");
    }
    return true;
}

/* A response of the handlers: status, headers as nats-server's writes them, the body. */
static void respond(struct monitor_http *http, int status, const char *content_type,
                    const char *body, size_t length)
{
    char date[HTTP_DATE_SIZE];
    http_date_format(clock_realtime_ns(), date, sizeof date);
    bool json = content_type != NULL && strcmp(content_type, "application/json") == 0;
    const char *connection = "";
    if (http->version_minor == 1 && !http->keep_alive) {
        connection = "Connection: close\r\n";
    } else if (http->version_minor == 0 && http->keep_alive) {
        connection = "Connection: keep-alive\r\n";
    }
    char type[RESPONSE_HEAD_MAX / 4] = "";
    if (content_type != NULL) {
        snprintf(type, sizeof type, "Content-Type: %s\r\n", content_type);
    }
    char content_length[48] = ""; /* a 204 has none, as Go's server writes it */
    if (status != 204) {
        snprintf(content_length, sizeof content_length, "Content-Length: %zu\r\n", length);
    }
    char head[RESPONSE_HEAD_MAX];
    int head_length =
        snprintf(head, sizeof head, "HTTP/1.%d %d %s\r\n%s%s%sDate: %s\r\n%s%s\r\n",
                 http->version_minor, status, http_status_text(status),
                 json ? "Access-Control-Allow-Origin: *\r\n" : "", type,
                 status == 404 ? "X-Content-Type-Options: nosniff\r\n" : "", date,
                 content_length, connection);
    ASSERT(head_length > 0 && (size_t)head_length < sizeof head);
    (void)output_put(http, head, (size_t)head_length, body, http->head_only ? 0 : length);
}

static void respond_text(struct monitor_http *http, int status, const char *text, size_t length)
{
    respond(http, status, "text/plain; charset=utf-8", text, length);
}

/* What Go's server itself answers to a head it cannot take, before any handler: no
 * Content-Length, and the connection closes. The body repeats the status line ("400 Bad
 * Request: missing required Host header"), but for a 501's. */
static void respond_refused(struct monitor_http *http, int status, const char *error)
{
    const char *separator = error[0] != '\0' ? ": " : "";
    char body[RESPONSE_HEAD_MAX / 2];
    if (status == 501) {
        snprintf(body, sizeof body, "Unsupported transfer encoding");
    } else {
        snprintf(body, sizeof body, "%d %s%s%s", status, http_status_text(status), separator,
                 error);
    }
    char text[RESPONSE_HEAD_MAX];
    int length = snprintf(text, sizeof text,
                          "HTTP/1.1 %d %s%s%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          "Connection: close\r\n\r\n%s",
                          status, http_status_text(status), separator, error, body);
    ASSERT(length > 0 && (size_t)length < sizeof text);
    http->keep_alive = false;
    (void)output_put(http, text, (size_t)length, "", 0);
}

/* Answers with `compact` JSON, laid out as nats-server lays it out (or not, for healthz). */
static void respond_json(struct monitor_http *http, const struct go_json *compact, bool indent)
{
    static const char too_large[] = "monitoring response too large: ask for fewer with limit "
                                    "and offset";
    if (compact->failed) {
        respond_text(http, 500, too_large, sizeof too_large - 1);
        return;
    }
    if (!indent) {
        respond(http, 200, "application/json", compact->data, compact->length);
        return;
    }
    struct go_json laid_out;
    go_json_init(&laid_out, MONITOR_RESPONSE_MAX);
    monitor_json_indent(compact->data, compact->length, &laid_out);
    if (laid_out.failed) {
        respond_text(http, 500, too_large, sizeof too_large - 1);
    } else {
        respond(http, 200, "application/json", laid_out.data, laid_out.length);
    }
    go_json_free(&laid_out);
}

/* ---- answering a request ---- */

void monitor_http_gathered(struct monitor_http *http, struct monitor_gather *gather)
{
    ASSERT(http->gather == gather);
    http->gather = NULL;
    http->conn.flags &= ~(uint32_t)CONN_F_REPLY_PENDING;
    struct shard *shard = http->conn.shard;
    bool failed = false;
    bool too_large = false;
    for (int i = 0; i < gather->part_count; i++) {
        failed |= gather->parts[i].error == -ENOMEM;
        too_large |= gather->parts[i].error == -E2BIG;
    }
    struct go_json json;
    go_json_init(&json, MONITOR_COMPACT_MAX);
    if (too_large && !failed) {
        json.failed = true; /* answered as any response too large is */
        respond_json(http, &json, true);
    } else if (failed) {
        static const char text[] = "out of memory taking the snapshot";
        respond_text(http, 500, text, sizeof text - 1);
    } else if (gather->options.endpoint == MONITOR_METRICS) {
        monitor_metrics_reply(shard, http, gather); /* Prometheus's text, not JSON */
    } else {
        switch (gather->options.endpoint) {
        case MONITOR_VARZ:
            monitor_varz_write(shard, gather, &json);
            break;
        case MONITOR_CONNZ:
            monitor_connz_write(shard, gather, &json);
            break;
        case MONITOR_SUBSZ:
            monitor_subsz_write(shard, gather, &json);
            break;
        case MONITOR_JSZ:
            monitor_jsz_write(shard, &gather->options, gather, &json);
            break;
        default:
            UNREACHABLE(); /* only these gather */
        }
        respond_json(http, &json, true);
    }
    go_json_free(&json);
    monitor_gather_free(gather);
    serve(http); /* what was pipelined behind it */
}

/* ---- answers written elsewhere (monitor_internal.h) ---- */

void monitor_http_wait(struct monitor_http *http, monitor_cancel_fn *cancel, void *context)
{
    ASSERT(!busy(http));
    http->waiting = true;
    http->wait_cancel = cancel;
    http->wait_context = context;
    timer_cancel(http->conn.table->timers, &http->timer); /* the waiter always answers */
    http->head_deadline = false;
    http->conn.flags |= CONN_F_REPLY_PENDING; /* a client that half-closed gets it too */
}

/* Before an answer: ends a wait. True when there was one (then serve() goes on after). */
static bool wait_end(struct monitor_http *http)
{
    if (!http->waiting) {
        return false;
    }
    http->waiting = false;
    http->conn.flags &= ~(uint32_t)CONN_F_REPLY_PENDING;
    return true;
}

void monitor_http_reply(struct monitor_http *http, int status, const char *content_type,
                        const char *body, size_t length)
{
    bool waited = wait_end(http);
    respond(http, status, content_type, body, length);
    if (waited) {
        serve(http); /* what was pipelined behind it */
    }
}

void monitor_http_reply_json(struct monitor_http *http, const struct go_json *compact)
{
    bool waited = wait_end(http);
    respond_json(http, compact, true);
    if (waited) {
        serve(http);
    }
}

/* Answers one request whose head was read. */
static void request_handle(struct monitor_http *http, const struct http_request *request)
{
    struct shard *shard = http->conn.shard;
    if (stan_monitor_serve(shard, http, request)) {
        return; /* a /streaming page, answered or to be */
    }
    enum monitor_endpoint endpoint = monitor_endpoint_find(request);
    if (endpoint == MONITOR_ENDPOINT_COUNT) {
        static const char text[] = "404 page not found\n";
        respond_text(http, 404, text, sizeof text - 1);
        return;
    }
    http->monitor->requests[endpoint]++;
    struct monitor_options options;
    struct go_json text;
    go_json_init(&text, HTTP_HEAD_MAX);
    int rc = monitor_options_parse(endpoint, request->query, &options, &text);
    if (rc != 0) {
        respond_text(http, rc == -ENOMEM ? 500 : 400, text.data != NULL ? text.data : "",
                     text.failed ? 0 : text.length);
        go_json_free(&text);
        return;
    }
    go_json_free(&text);
    struct go_json json;
    switch (endpoint) {
    case MONITOR_ROOT:
        respond(http, 200, "text/html; charset=utf-8", monitor_index_html,
                monitor_index_html_length);
        return;
    case MONITOR_HEALTHZ: {
        static const char ok[] = "{\"status\":\"ok\"}";
        respond(http, 200, "application/json", ok, sizeof ok - 1);
        return;
    }
    case MONITOR_ROUTEZ:
    case MONITOR_LEAFZ:
    case MONITOR_GATEWAYZ:
    case MONITOR_ACCOUNTZ:
        go_json_init(&json, MONITOR_COMPACT_MAX);
        monitor_static_write(shard, endpoint, &options, &json);
        respond_json(http, &json, true);
        go_json_free(&json);
        return;
    case MONITOR_JSZ:
        if (options.jsz_leader_only && !shard->server->config->jetstream) {
            /* nats-server: not a JetStream leader where JetStream is off */
            static const char not_leader[] = "filtered response: not leader";
            respond_text(http, 400, not_leader, sizeof not_leader - 1);
            return;
        }
        if (monitor_jsz_gathers(shard, &options)) {
            break; /* the streams' details are their owners' */
        }
        go_json_init(&json, MONITOR_COMPACT_MAX);
        monitor_jsz_write(shard, &options, NULL, &json);
        respond_json(http, &json, true);
        go_json_free(&json);
        return;
    default:
        break;
    }
    http->gather = monitor_gather_create(shard, http, &options);
    free(options.test); /* NULL when the gather took it */
    if (http->gather == NULL) {
        static const char no_memory[] = "out of memory";
        respond_text(http, 500, no_memory, sizeof no_memory - 1);
        return;
    }
    timer_cancel(http->conn.table->timers, &http->timer); /* a gather always completes */
    http->head_deadline = false;
    http->conn.flags |= CONN_F_REPLY_PENDING; /* a client that half-closed gets it too */
    monitor_gather_launch(shard, http->gather);
}

/* Drops input from the front of the buffer. */
static void input_consume(struct monitor_http *http, size_t length)
{
    ASSERT(length <= http->input_length);
    memmove(http->input, http->input + length, http->input_length - length);
    http->input_length -= length;
}

/* Arms the timer for what the connection waits for: the rest of a head, or a request. */
static void timer_wait(struct monitor_http *http, bool head_started)
{
    if (head_started && http->head_deadline && timer_armed(&http->timer)) {
        return; /* the head's deadline runs from when its bytes began to come */
    }
    http->head_deadline = head_started;
    timer_arm(http->conn.table->timers, &http->timer,
              clock_deadline_ns(clock_monotonic_ns(),
                                head_started ? MONITOR_HEAD_NS : MONITOR_IDLE_NS));
}

/* Answers the requests whose heads are in the buffer, in order, until one must wait for
 * the shards. Bounded by the buffer: each turn of the loop takes at least one head out. */
static void serve(struct monitor_http *http)
{
    if (http->serving) {
        return;
    }
    http->serving = true;
    /* once input was dropped, what is left can only end in the 431: never skip a request */
    while (!busy(http) && !conn_ending(&http->conn) &&
           (http->input_length > 0 || http->input_lost)) {
        struct http_request request;
        enum http_head_result result = http_head_parse(http->input, http->input_length, &request);
        if (result == HTTP_HEAD_INCOMPLETE && !http->input_lost) {
            break;
        }
        http->version_minor = 1;
        if (result != HTTP_HEAD_COMPLETE) {
            /* a head that cannot be read, or one whose bytes were dropped */
            respond_refused(http, result == HTTP_HEAD_INVALID ? request.status : 431,
                            result == HTTP_HEAD_INVALID ? request.error : "");
            break;
        }
        http->head_only = request.method.length == 4 && memcmp(request.method.data, "HEAD", 4) == 0;
        http->version_minor = request.version_minor;
        /* a chunked body's end is not looked for: answer, then close */
        http->keep_alive = request.keep_alive && !request.chunked;
        request_handle(http, &request); /* its slices point into the input: handled first */
        input_consume(http, request.head_length);
        uint64_t skip = request.content_length;
        size_t buffered = skip < http->input_length ? (size_t)skip : http->input_length;
        input_consume(http, buffered);
        http->body_skip = skip - buffered;
    }
    http->serving = false;
    if (!busy(http) && !conn_ending(&http->conn)) {
        timer_wait(http, http->input_length > 0);
    }
}

/* ---- the kind ---- */

static void timer_fired(struct timer_entry *entry, void *ctx)
{
    struct monitor_http *http = ctx;
    if (busy(http) || conn_ending(&http->conn)) {
        return;
    }
    conn_close(&http->conn, http->input_length > 0 ? "Read Header Timeout" : "Idle Timeout");
}

static int http_open(struct conn *conn, const struct sockaddr *peer)
{
    struct monitor_http *http = (struct monitor_http *)conn;
    http->monitor = conn->shard->server->monitor;
    ASSERT(http->monitor != NULL); /* main makes it with the listener */
    timer_entry_init(&http->timer, timer_fired, http);
    conn_peer_set(conn, peer);
    conn->connected_ns = clock_monotonic_ns();
    const struct server *server = conn->shard->server;
    if (server->monitor_tls && conn_tls_start(conn, server->tls, true) != 0) {
        return -ENOMEM;
    }
    conn->id = ++http->monitor->conn_id_next;
    http->keep_alive = true;
    http->version_minor = 1;
    if (http->monitor->conn_count >= MONITOR_CONNS_MAX) {
        LOG_WARN("monitoring: %d connections open already; refusing %s:%d",
                 MONITOR_CONNS_MAX, conn->ip, conn->port);
        respond_refused(http, 503, "too many monitoring connections");
        return 0;
    }
    http->monitor->conn_count++;
    http->counted = true;
    timer_wait(http, false);
    return 0;
}

static void http_receive(struct conn *conn, const char *data, size_t length)
{
    struct monitor_http *http = (struct monitor_http *)conn;
    if (conn_ending(conn)) {
        return; /* closing after its last answer: what follows is not read */
    }
    if (http->body_skip > 0) {
        ASSERT(http->input_length == 0); /* the body's buffered part went first */
        size_t skip = http->body_skip < length ? (size_t)http->body_skip : length;
        http->body_skip -= skip;
        data += skip;
        length -= skip;
    }
    size_t room = sizeof http->input - http->input_length;
    size_t take = length < room ? length : room;
    memcpy(http->input + http->input_length, data, take);
    http->input_length += take;
    http->input_lost |= take < length;
    serve(http);
}

static void http_release(struct conn *conn)
{
    struct monitor_http *http = (struct monitor_http *)conn;
    timer_cancel(conn->table->timers, &http->timer);
    if (http->gather != NULL) {
        monitor_gather_orphan(http->gather);
        http->gather = NULL;
    }
    if (http->waiting) {
        http->waiting = false;
        http->wait_cancel(http->wait_context);
    }
    if (http->counted) {
        ASSERT(http->monitor->conn_count > 0);
        http->monitor->conn_count--;
    }
}

const struct conn_kind monitor_kind = {
    .name = "http",
    .size = sizeof(struct monitor_http),
    .open = http_open,
    .receive = http_receive,
    .release = http_release,
};

struct monitor *monitor_create(void)
{
    return calloc(1, sizeof(struct monitor));
}

void monitor_destroy(struct monitor *monitor)
{
    free(monitor);
}
