/* Client protocol handling for one connection: see conn.h.
 *
 * The sid table maps a client's subscription ids to its subscriptions: chained buckets,
 * doubled when the load passes one, hashed with the shard's seed. Hand-written because it
 * must chain the connection's own `struct conn_sub` records without a second allocation. */
#include "engine/conn.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "engine/route.h"
#include "proto/subject.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

STATIC_ASSERT(offsetof(struct conn_sub, sub) == 0, "a struct sub * is a struct conn_sub *");

enum { SID_BUCKETS_MIN = 8 };
/* INFO's per-client tail: client_id (20 digits), client_ip, keys and closing bytes. */
enum { INFO_TAIL_SIZE_MAX = 160 };

#define TEXT(s) s, sizeof(s) - 1

static const char ERR_UNKNOWN_OP[] = "-ERR 'Unknown Protocol Operation'\r\n";
static const char ERR_MAX_PAYLOAD[] = "-ERR 'Maximum Payload Violation'\r\n";
static const char ERR_CONTROL_LINE[] = "-ERR 'maximum control line exceeded'\r\n";
static const char ERR_AUTHORIZATION[] = "-ERR 'Authorization Violation'\r\n";
static const char ERR_AUTH_TIMEOUT[] = "-ERR 'Authentication Timeout'\r\n";
static const char ERR_STALE[] = "-ERR 'Stale Connection'\r\n";
static const char ERR_INVALID_SUBJECT[] = "-ERR 'Invalid Subject'\r\n";
static const char ERR_INVALID_PUB_SUBJECT[] = "-ERR 'Invalid Publish Subject'\r\n";
static const char ERR_PROTOCOL[] = "-ERR 'invalid client protocol'\r\n";
static const char ERR_NO_RESPONDERS[] = "-ERR 'no responders requires headers support'\r\n";
static const char ERR_MAX_SUBS[] = "-ERR 'maximum subscriptions exceeded'\r\n";

size_t conn_pending_bytes(const struct conn *conn)
{
    size_t in_flight = conn->sending.length - conn->sending_offset;
    return conn->out.length + ((conn->flags & CONN_F_SEND_INFLIGHT) ? in_flight : 0);
}

int conn_reserve_output(struct conn *conn, size_t bytes)
{
    const struct config *config = conn->shard->server->config;
    if (conn_pending_bytes(conn) + bytes > (size_t)config->max_pending) {
        conn->shard->stats.slow_consumers++;
        LOG_WARN("client %llu %s:%d slow consumer detected: %zu bytes pending, max_pending %lld",
                  (unsigned long long)conn->client_id, conn->ip, conn->port,
                  conn_pending_bytes(conn), (long long)config->max_pending);
        shard_conn_close(conn->shard, conn, "Slow Consumer (Pending Bytes)");
        return -ENOBUFS;
    }
    if (outbuf_reserve(&conn->out, bytes) != 0) {
        LOG_WARN("client %llu: out of memory for %zu output bytes, closing",
                 (unsigned long long)conn->client_id, bytes);
        shard_conn_close(conn->shard, conn, "Out Of Memory");
        return -ENOMEM;
    }
    return 0;
}

void conn_write_text(struct conn *conn, const char *text, size_t length)
{
    if (conn->flags & CONN_F_CLOSING) {
        return;
    }
    if (conn_reserve_output(conn, length) == 0) {
        outbuf_put(&conn->out, text, length);
        shard_flush_queue(conn->shard, conn);
    }
}

/* Sends the -ERR, then closes once it is out. A connection already on its way out sends
 * nothing more: one fatal error is all a client gets, as from nats-server. */
static void conn_fail(struct conn *conn, const char *error, size_t length, const char *reason)
{
    if (conn->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER_FLUSH)) {
        return;
    }
    LOG_DEBUG("client %llu %s:%d: %.*s", (unsigned long long)conn->client_id, conn->ip,
              conn->port, (int)(length - 2), error);
    conn_write_text(conn, error, length);
    shard_conn_close_after_flush(conn->shard, conn, reason);
}

static void conn_ok(struct conn *conn)
{
    if (conn->options.verbose) {
        conn_write_text(conn, TEXT("+OK\r\n"));
    }
}

int conn_open(struct conn *conn, struct shard *shard, int fd, const struct sockaddr *peer)
{
    const struct server *server = shard->server;
    const struct config *config = server->config;
    conn->shard = shard;
    conn->fd = fd;
    conn->client_id = atomic_fetch_add_explicit(&shard->server->next_client_id, 1,
                                                memory_order_relaxed) + 1;
    /* Until CONNECT says otherwise, nats-server's CONNECT defaults apply. */
    conn->options.verbose = true;
    conn->options.pedantic = true;
    conn->options.echo = true;
    parser_init(&conn->parser, PARSER_ROLE_SERVER, (uint32_t)config->max_control_line,
                (uint32_t)config->max_payload);
    if (peer->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
        inet_ntop(AF_INET6, &in6->sin6_addr, conn->ip, sizeof conn->ip);
        conn->port = ntohs(in6->sin6_port);
    } else {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)peer;
        inet_ntop(AF_INET, &in4->sin_addr, conn->ip, sizeof conn->ip);
        conn->port = ntohs(in4->sin_port);
    }
    int64_t now = clock_monotonic_ns();
    conn->connected_ns = now;
    int64_t first_ping = config->ping_interval_ns < CONFIG_FIRST_PING_NS ? config->ping_interval_ns
                                                                         : CONFIG_FIRST_PING_NS;
    conn->next_ping_ns = now + first_ping;
    if (server->auth_required) {
        conn->auth_deadline_ns = now + config->auth_timeout_ns;
    }
    size_t size = strlen(server->info_prefix) + INFO_TAIL_SIZE_MAX;
    if (outbuf_reserve(&conn->out, size) != 0) {
        return -ENOMEM;
    }
    size_t length = info_line_write(conn->out.data + conn->out.length, size,
                                    server->info_prefix, conn->client_id, conn->ip);
    ASSERT(length > 0);
    conn->out.length += length;
    shard_flush_queue(shard, conn);
    return 0;
}

/* ---- sid table ---- */

static uint32_t sid_bucket(const struct conn *conn, const char *sid, size_t length)
{
    return (uint32_t)hash_bytes(sid, length, conn->shard->server->hash_seed) &
           (conn->sid_bucket_count - 1);
}

static struct conn_sub *sid_find(const struct conn *conn, struct proto_slice sid)
{
    if (conn->sid_bucket_count == 0) {
        return NULL;
    }
    struct conn_sub *sub = conn->sid_buckets[sid_bucket(conn, sid.data, sid.length)];
    while (sub != NULL &&
           (sub->sid_length != sid.length || memcmp(sub->sid, sid.data, sid.length) != 0)) {
        sub = sub->sid_next;
    }
    return sub;
}

static int sid_table_grow(struct conn *conn)
{
    uint32_t count = conn->sid_bucket_count ? conn->sid_bucket_count * 2 : SID_BUCKETS_MIN;
    struct conn_sub **buckets = calloc(count, sizeof *buckets);
    if (buckets == NULL) {
        return -ENOMEM;
    }
    struct conn_sub **old = conn->sid_buckets;
    uint32_t old_count = conn->sid_bucket_count;
    conn->sid_buckets = buckets;
    conn->sid_bucket_count = count;
    for (uint32_t i = 0; i < old_count; i++) {
        struct conn_sub *sub = old[i];
        while (sub != NULL) {
            struct conn_sub *next = sub->sid_next;
            uint32_t b = sid_bucket(conn, sub->sid, sub->sid_length);
            sub->sid_next = buckets[b];
            buckets[b] = sub;
            sub = next;
        }
    }
    free(old);
    return 0;
}

static void sid_unlink(struct conn *conn, struct conn_sub *target)
{
    struct conn_sub **link = &conn->sid_buckets[sid_bucket(conn, target->sid, target->sid_length)];
    while (*link != target) {
        ASSERT(*link != NULL);
        link = &(*link)->sid_next;
    }
    *link = target->sid_next;
}

/* ---- subscriptions ---- */

void conn_sub_free(struct shard *shard, struct conn_sub *sub)
{
    struct conn *conn = sub->conn;
    int rc = sublist_remove(shard->sublist, &sub->sub);
    ASSERT(rc == 0);
    if (shard->shard_count > 1) {
        bool last;
        interest_local_remove(&shard->interest, sub->sub.subject, sub->sub.subject_length,
                              sub->sub.queue, sub->sub.queue_length, &last);
        if (last) {
            shard_interest_changed(shard, &sub->sub, false);
        }
    }
    sid_unlink(conn, sub);
    ASSERT(conn->sub_count > 0);
    conn->sub_count--;
    free(sub);
}

static struct conn_sub *conn_sub_make(struct conn *conn, const struct proto_op *op)
{
    size_t size = sizeof(struct conn_sub) + op->sid.length + op->subject.length + op->queue.length;
    struct conn_sub *sub = calloc(1, size);
    if (sub == NULL) {
        return NULL;
    }
    char *text = sub->text;
    memcpy(text, op->sid.data, op->sid.length);
    sub->sid = text;
    sub->sid_length = op->sid.length;
    text += op->sid.length;
    memcpy(text, op->subject.data, op->subject.length);
    sub->sub.subject = text;
    sub->sub.subject_length = op->subject.length;
    text += op->subject.length;
    if (op->queue.length > 0) {
        memcpy(text, op->queue.data, op->queue.length);
        sub->sub.queue = text;
        sub->sub.queue_length = op->queue.length;
    }
    sub->conn = conn;
    return sub;
}

static void handle_sub(struct conn *conn, const struct proto_op *op)
{
    struct shard *shard = conn->shard;
    if (!subject_valid_for_sub(op->subject.data, op->subject.length) ||
        (op->queue.length > 0 && !subject_valid_literal(op->queue.data, op->queue.length))) {
        conn_write_text(conn, TEXT(ERR_INVALID_SUBJECT));
        return;
    }
    if (sid_find(conn, op->sid) != NULL) {
        conn_ok(conn); /* re-SUB of a live sid is ignored, as nats-server does */
        return;
    }
    int64_t max_subs = shard->server->config->max_subscriptions;
    if (max_subs > 0 && conn->sub_count >= (uint64_t)max_subs) {
        conn_write_text(conn, TEXT(ERR_MAX_SUBS));
        return;
    }
    if (conn->sub_count >= conn->sid_bucket_count && sid_table_grow(conn) != 0) {
        shard_conn_close(shard, conn, "Out Of Memory");
        return;
    }
    struct conn_sub *sub = conn_sub_make(conn, op);
    if (sub == NULL || sublist_insert(shard->sublist, &sub->sub) != 0) {
        free(sub);
        shard_conn_close(shard, conn, "Out Of Memory");
        return;
    }
    if (shard->shard_count > 1) {
        bool first;
        if (interest_local_add(&shard->interest, sub->sub.subject, sub->sub.subject_length,
                               sub->sub.queue, sub->sub.queue_length, &first) != 0) {
            sublist_remove(shard->sublist, &sub->sub);
            free(sub);
            shard_conn_close(shard, conn, "Out Of Memory");
            return;
        }
        if (first) {
            shard_interest_changed(shard, &sub->sub, true);
        }
    }
    uint32_t b = sid_bucket(conn, sub->sid, sub->sid_length);
    sub->sid_next = conn->sid_buckets[b];
    conn->sid_buckets[b] = sub;
    conn->sub_count++;
    conn_ok(conn);
}

static void handle_unsub(struct conn *conn, const struct proto_op *op)
{
    struct conn_sub *sub = sid_find(conn, op->sid);
    if (sub != NULL) {
        if (op->max_msgs > 0 && op->max_msgs > sub->delivered) {
            sub->max_msgs = op->max_msgs;
        } else {
            conn_sub_free(conn->shard, sub);
        }
    }
    conn_ok(conn);
}

/* ---- publish ---- */

/* Reply prefixes that belong to the server's own protocols; a client may not forge them. */
static const char *const reserved_reply_prefixes[] = {"$JS.ACK.", "_R_.", "_GR_."};

static bool reply_reserved(struct proto_slice reply)
{
    for (size_t i = 0; i < sizeof reserved_reply_prefixes / sizeof reserved_reply_prefixes[0];
         i++) {
        size_t length = strlen(reserved_reply_prefixes[i]);
        if (reply.length >= length && memcmp(reply.data, reserved_reply_prefixes[i], length) == 0) {
            return true;
        }
    }
    return false;
}

static void reply_reserved_refuse(struct conn *conn, struct proto_slice reply)
{
    static const char head[] = "-ERR 'Permissions Violation for Publish with Reply of \"";
    static const char tail[] = "\"'\r\n";
    if (conn_reserve_output(conn, sizeof head + reply.length + sizeof tail) != 0) {
        return;
    }
    outbuf_put(&conn->out, head, sizeof head - 1);
    outbuf_put(&conn->out, reply.data, reply.length);
    outbuf_put(&conn->out, tail, sizeof tail - 1);
    shard_flush_queue(conn->shard, conn);
}

/* nats-server's order: -ERR for a bad subject (pedantic) as the line is read, +OK once the
 * payload is in, then delivery, so a client subscribed to its own subject sees +OK first.
 * An invalid subject in pedantic mode is still delivered where it matches. */
static void handle_pub(struct conn *conn, const struct proto_op *op)
{
    struct shard *shard = conn->shard;
    if (op->reply.length > 0 && reply_reserved(op->reply)) {
        reply_reserved_refuse(conn, op->reply);
        return;
    }
    if (conn->options.pedantic && !subject_valid_literal(op->subject.data, op->subject.length)) {
        conn_write_text(conn, TEXT(ERR_INVALID_PUB_SUBJECT));
    }
    conn->stats.in_msgs++;
    conn->stats.in_bytes += op->payload.length;
    shard->stats.in_msgs++;
    conn_ok(conn);
    if (subject_valid_for_sub(op->subject.data, op->subject.length)) {
        route_publish(shard, conn, op);
    }
}

/* ---- CONNECT and auth ---- */

/* Compares secrets in time independent of where they differ. */
static bool secret_equals(const char *given, const char *expected)
{
    if (given == NULL || expected == NULL) {
        return false;
    }
    size_t given_length = strlen(given);
    size_t expected_length = strlen(expected);
    unsigned char diff = given_length != expected_length;
    for (size_t i = 0; i < expected_length; i++) {
        diff |= (unsigned char)(expected[i] ^ given[i < given_length ? i : 0]);
    }
    return diff == 0;
}

static bool credentials_valid(const struct config *config, const struct connect_options *opts)
{
    if (config->token != NULL) {
        return secret_equals(opts->auth_token, config->token);
    }
    if (config->user != NULL) {
        /* both compared, whatever the first gives, so timing does not tell which failed */
        bool user_ok = secret_equals(opts->user, config->user);
        bool pass_ok = secret_equals(opts->pass, config->pass);
        return user_ok && pass_ok;
    }
    return true;
}

static void handle_connect(struct conn *conn, const struct proto_op *op)
{
    const struct server *server = conn->shard->server;
    struct connect_options options;
    int rc = connect_options_parse(op->text.data, op->text.length, &options);
    if (rc == CONNECT_ERR_PROTOCOL) {
        conn_fail(conn, TEXT(ERR_PROTOCOL), "Protocol Violation");
        return;
    }
    if (rc != 0) {
        shard_conn_close_after_flush(conn->shard, conn, "Protocol Violation"); /* no -ERR */
        return;
    }
    if (server->auth_required && !credentials_valid(server->config, &options)) {
        connect_options_free(&options);
        conn_fail(conn, TEXT(ERR_AUTHORIZATION), "Authentication Failure");
        return;
    }
    if (options.no_responders && !options.headers) {
        connect_options_free(&options);
        conn_fail(conn, TEXT(ERR_NO_RESPONDERS), "Protocol Violation");
        return;
    }
    connect_options_free(&conn->options);
    conn->options = options;
    conn->flags |= CONN_F_CONNECTED;
    conn->auth_deadline_ns = 0;
    conn_ok(conn);
}

/* ---- dispatch ---- */

static bool auth_pending(const struct conn *conn)
{
    return conn->shard->server->auth_required && !(conn->flags & CONN_F_CONNECTED);
}

static void handle_parse_error(struct conn *conn, int error)
{
    if (auth_pending(conn)) {
        conn_fail(conn, TEXT(ERR_AUTHORIZATION), "Authentication Failure");
        return;
    }
    switch (error) {
    case PROTO_ERR_MAX_PAYLOAD:
        conn_fail(conn, TEXT(ERR_MAX_PAYLOAD), "Maximum Payload Exceeded");
        return;
    case PROTO_ERR_CONTROL_LINE_TOO_LONG:
        conn_fail(conn, TEXT(ERR_CONTROL_LINE), "Maximum Control Line Exceeded");
        return;
    case PROTO_ERR_ARGUMENTS:
    case PROTO_ERR_HEADER_SIZE:
        /* no -ERR, as nats-server; what was already answered still goes out */
        shard_conn_close_after_flush(conn->shard, conn, "Protocol Violation");
        return;
    case PROTO_ERR_NO_MEMORY:
        shard_conn_close(conn->shard, conn, "Out Of Memory");
        return;
    default:
        conn_fail(conn, TEXT(ERR_UNKNOWN_OP), "Parse Error");
        return;
    }
}

static void handle_op(struct conn *conn, const struct proto_op *op)
{
    if (auth_pending(conn) && op->kind != PROTO_OP_CONNECT) {
        conn_fail(conn, TEXT(ERR_AUTHORIZATION), "Authentication Failure");
        return;
    }
    switch (op->kind) {
    case PROTO_OP_PUB:
        handle_pub(conn, op);
        return;
    case PROTO_OP_HPUB:
        if (!conn->options.headers) {
            shard_conn_close_after_flush(conn->shard, conn, "Protocol Violation"); /* no -ERR */
            return;
        }
        handle_pub(conn, op);
        return;
    case PROTO_OP_SUB:
        handle_sub(conn, op);
        return;
    case PROTO_OP_UNSUB:
        handle_unsub(conn, op);
        return;
    case PROTO_OP_PING:
        shard_pong(conn->shard, conn);
        return;
    case PROTO_OP_PONG:
        conn->pings_outstanding = 0;
        conn->flags |= CONN_F_PONG_SEEN;
        return;
    case PROTO_OP_ERR:
        shard_conn_close_after_flush(conn->shard, conn, "Client Error"); /* no -ERR */
        return;
    case PROTO_OP_OK:
    case PROTO_OP_INFO:
        return; /* nats-server ignores both from a client */
    case PROTO_OP_CONNECT:
        handle_connect(conn, op);
        return;
    default:
        UNREACHABLE(); /* the server-role parser yields no other op */
    }
}

void conn_receive(struct conn *conn, const char *data, size_t length)
{
    const char *cursor = data;
    const char *end = data + length;
    if (conn->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER_FLUSH)) {
        /* after a fatal error (or EOF, or shutdown) no more input is processed, even when
         * it arrived in a later receive buffer before the close */
        return;
    }
    conn->flags |= CONN_F_READ_SINCE_PING;
    if (auth_pending(conn) && !parser_mid_op(&conn->parser) && length > 0 && data[0] != 'C' &&
        data[0] != 'c') {
        /* nothing but CONNECT may come first: refused at its first byte, as nats-server */
        conn_fail(conn, TEXT(ERR_AUTHORIZATION), "Authentication Failure");
        return;
    }
    while (!(conn->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER_FLUSH))) {
        struct proto_op op;
        int rc = parser_next(&conn->parser, &cursor, end, &op);
        if (rc == 0) {
            return;
        }
        if (rc < 0) {
            handle_parse_error(conn, rc);
            return;
        }
        LOG_TRACE("client %llu <<- op %d %.*s", (unsigned long long)conn->client_id, op.kind,
                  (int)op.subject.length, op.subject.data);
        handle_op(conn, &op);
    }
}

void conn_tick(struct conn *conn, int64_t now_ns)
{
    const struct config *config = conn->shard->server->config;
    if (conn->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER_FLUSH)) {
        return;
    }
    if (conn->auth_deadline_ns != 0 && now_ns >= conn->auth_deadline_ns) {
        conn_fail(conn, TEXT(ERR_AUTH_TIMEOUT), "Authentication Timeout");
        return;
    }
    if (now_ns < conn->next_ping_ns) {
        return;
    }
    conn->next_ping_ns = now_ns + config->ping_interval_ns;
    /* Once the client has answered a PING, recent input is proof enough that it lives and
     * the PING is skipped; until then every tick PINGs, as nats-server does. */
    bool active = (conn->flags & CONN_F_READ_SINCE_PING) != 0;
    conn->flags &= ~CONN_F_READ_SINCE_PING;
    if (active && (conn->flags & CONN_F_PONG_SEEN)) {
        return;
    }
    if (conn->pings_outstanding + 1 > (uint64_t)config->ping_max) {
        conn_fail(conn, TEXT(ERR_STALE), "Stale Connection");
        return;
    }
    conn->pings_outstanding++;
    conn_write_text(conn, TEXT("PING\r\n"));
}

void conn_release_protocol_state(struct conn *conn)
{
    for (uint32_t b = 0; b < conn->sid_bucket_count; b++) {
        /* conn_sub_free unlinks the head before freeing it, so the loop reads a new head */
        while (conn->sid_buckets[b] != NULL) {
            conn_sub_free(conn->shard, conn->sid_buckets[b]); // NOLINT(clang-analyzer-unix.Malloc)
        }
    }
    ASSERT(conn->sub_count == 0);
    free(conn->sid_buckets);
    conn->sid_buckets = NULL;
    conn->sid_bucket_count = 0;
    parser_destroy(&conn->parser);
    connect_options_free(&conn->options);
}
