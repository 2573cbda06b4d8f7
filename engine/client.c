/* Client protocol handling for one connection: see client.h.
 *
 * The sid table maps a client's subscription ids to its subscriptions: chained buckets,
 * doubled when the load passes one, hashed with the shard's seed. Hand-written because it
 * must chain the connection's own `struct client_sub` records without a second allocation. */
#include "engine/client.h"
#include "engine/client_internal.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "engine/auth_check.h"
#include "engine/conn_tls.h"
#include "engine/monitor.h"
#include "engine/reload.h"
#include "engine/route.h"
#include "engine/shard.h"
#include "engine/xshard.h"
#include "proto/go_json.h"
#include "proto/subject.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

STATIC_ASSERT(offsetof(struct client_sub, route) == 0, "a route_sub * is a client_sub *");
STATIC_ASSERT(offsetof(struct client, conn) == 0, "a conn * of this kind is a client *");

enum { SID_BUCKETS_MIN = 8 };
/* INFO's per-client tail: client_id (20 digits), client_ip, the nonce, keys and closing
 * bytes. */
enum { INFO_TAIL_SIZE_MAX = 200 };

static const char ERR_UNKNOWN_OP[] = "-ERR 'Unknown Protocol Operation'\r\n";
static const char ERR_MAX_PAYLOAD[] = "-ERR 'Maximum Payload Violation'\r\n";
static const char ERR_CONTROL_LINE[] = "-ERR 'maximum control line exceeded'\r\n";
static const char ERR_AUTH_TIMEOUT[] = "-ERR 'Authentication Timeout'\r\n";
static const char ERR_STALE[] = "-ERR 'Stale Connection'\r\n";
static const char ERR_INVALID_SUBJECT[] = "-ERR 'Invalid Subject'\r\n";
static const char ERR_INVALID_PUB_SUBJECT[] = "-ERR 'Invalid Publish Subject'\r\n";
static const char ERR_MAX_SUBS[] = "-ERR 'maximum subscriptions exceeded'\r\n";

/* Sends the -ERR, then closes once it is out. A connection already on its way out sends
 * nothing more: one fatal error is all a client gets, as from nats-server. */
void client_fail(struct client *client, const char *error, size_t length, const char *reason)
{
    if (conn_ending(&client->conn)) {
        return;
    }
    LOG_DEBUG("client %llu %s:%d: %.*s", (unsigned long long)client->conn.id, client->conn.ip,
              client->conn.port, (int)(length - 2), error);
    conn_write_text(&client->conn, error, length);
    conn_close_after_flush(&client->conn, reason);
}

void client_ok(struct client *client)
{
    if (client->options.verbose) {
        conn_write_text(&client->conn, TEXT("+OK\r\n"));
    }
}

static timer_fn ping_timer_fired;
static timer_fn auth_timer_fired;

static int client_open(struct conn *conn, const struct sockaddr *peer)
{
    struct client *client = (struct client *)conn;
    const struct server *server = conn->shard->server;
    const struct server_live *live = server_live(server);
    const struct config *config = live->config;
    /* first: release cancels both, whatever happens below */
    timer_entry_init(&client->ping_timer, ping_timer_fired, client);
    timer_entry_init(&client->auth_timer, auth_timer_fired, client);
    /* Until CONNECT says otherwise, nats-server's CONNECT defaults apply. */
    client->options.verbose = true;
    client->options.pedantic = true;
    client->options.echo = true;
    parser_init(&client->parser, PARSER_ROLE_SERVER, (uint32_t)config->max_control_line,
                (uint32_t)config->max_payload);
    conn_peer_set(&client->conn, peer);
    int64_t now = clock_monotonic_ns();
    client->conn.connected_ns = now;
    int64_t first_ping = config->ping_interval_ns < CONFIG_FIRST_PING_NS ? config->ping_interval_ns
                                                                         : CONFIG_FIRST_PING_NS;
    timer_arm(conn->table->timers, &client->ping_timer, now + first_ping);
    if (live->auth_required) {
        timer_arm(conn->table->timers, &client->auth_timer,
                  clock_deadline_ns(now, config->auth_timeout_ns));
    }
    if (live->tls != NULL &&
        conn_tls_start(conn, live->tls, tls_server_handshake_first(live->tls)) != 0) {
        return -ENOMEM;
    }
    if (auth_nonce_required(live->config)) {
        auth_nonce_make(client->nonce, sizeof client->nonce);
    }
    char tail[INFO_TAIL_SIZE_MAX];
    size_t tail_length = info_tail_write(tail, sizeof tail, client->conn.id, client->conn.ip,
                                         client->nonce[0] != '\0' ? client->nonce : NULL, false);
    ASSERT(tail_length > 0);
    size_t prefix_length = strlen(live->info_prefix);
    if (outq_reserve(&conn->out, &conn->table->out_pool, prefix_length + tail_length) != 0) {
        return -ENOMEM;
    }
    conn_put(conn, live->info_prefix, prefix_length);
    conn_put(conn, tail, tail_length);
    conn_flush_queue(&client->conn);
    return 0;
}

/* ---- sid table ---- */

static uint32_t sid_bucket(const struct client *client, const char *sid, size_t length)
{
    return (uint32_t)hash_bytes(sid, length, client->conn.shard->server->hash_seed) &
           (client->sid_bucket_count - 1);
}

static struct client_sub *sid_find(const struct client *client, struct proto_slice sid)
{
    if (client->sid_bucket_count == 0) {
        return NULL;
    }
    struct client_sub *sub = client->sid_buckets[sid_bucket(client, sid.data, sid.length)];
    while (sub != NULL &&
           (sub->sid_length != sid.length || memcmp(sub->sid, sid.data, sid.length) != 0)) {
        sub = sub->sid_next;
    }
    return sub;
}

static int sid_table_grow(struct client *client)
{
    uint32_t count = client->sid_bucket_count ? client->sid_bucket_count * 2 : SID_BUCKETS_MIN;
    struct client_sub **buckets = calloc(count, sizeof *buckets);
    if (buckets == NULL) {
        return -ENOMEM;
    }
    struct client_sub **old = client->sid_buckets;
    uint32_t old_count = client->sid_bucket_count;
    client->sid_buckets = buckets;
    client->sid_bucket_count = count;
    for (uint32_t i = 0; i < old_count; i++) {
        struct client_sub *sub = old[i];
        while (sub != NULL) {
            struct client_sub *next = sub->sid_next;
            uint32_t b = sid_bucket(client, sub->sid, sub->sid_length);
            sub->sid_next = buckets[b];
            buckets[b] = sub;
            sub = next;
        }
    }
    free(old);
    return 0;
}

static void sid_unlink(struct client *client, struct client_sub *target)
{
    struct client_sub **link = &client->sid_buckets[sid_bucket(client, target->sid, target->sid_length)];
    while (*link != target) {
        ASSERT(*link != NULL);
        link = &(*link)->sid_next;
    }
    *link = target->sid_next;
}

/* ---- permissions ---- */

/* Bytes a quoted subject may take in a permissions -ERR (Go's %q writes a byte in at most
 * four), bounded by the control line the subject came in. */
enum { PERMISSION_ERR_FIXED = 128 };

/* nats-server's -ERR for a refused publish or subscription (the connection stays):
 *   'Permissions Violation for Publish to "x"'
 *   'Permissions Violation for Subscription to "x"[ using queue "q"]' */
static void permission_violation(struct client *client, const char *what,
                                 struct proto_slice subject, struct proto_slice queue,
                                 struct proto_slice sid)
{
    struct go_json line;
    go_json_init(&line, PERMISSION_ERR_FIXED + 4 * (subject.length + queue.length + sid.length));
    go_json_literal(&line, "-ERR 'Permissions Violation for ");
    go_json_literal(&line, what);
    go_json_literal(&line, " to ");
    go_json_quote(&line, subject.data, subject.length);
    if (queue.length > 0) {
        go_json_literal(&line, " using queue ");
        go_json_quote(&line, queue.data, queue.length);
    }
    if (sid.length > 0) {
        go_json_literal(&line, " (sid ");
        go_json_quote(&line, sid.data, sid.length);
        go_json_literal(&line, ")");
    }
    go_json_literal(&line, "'\r\n");
    if (!line.failed) {
        conn_write_text(&client->conn, line.data, line.length);
        LOG_ERROR("client %llu %s:%d: %s Violation - Subject %.*s%s%.*s",
                  (unsigned long long)client->conn.id, client->conn.ip, client->conn.port,
                  what[0] == 'P' ? "Publish" : "Subscription", (int)subject.length,
                  subject.data, queue.length > 0 ? ", Queue: " : "", (int)queue.length,
                  queue.data);
    }
    go_json_free(&line);
}

static bool publish_allowed(struct client *client, struct proto_slice subject)
{
    const struct auth_permissions *permissions = client->permissions;
    if (auth_publish_allowed(permissions, subject.data, subject.length)) {
        return true;
    }
    if (client->replies == NULL) {
        return false;
    }
    uint64_t hash = hash_bytes(subject.data, subject.length, client->conn.shard->server->hash_seed);
    return auth_replies_use(client->replies, permissions, subject.data, subject.length, hash,
                            clock_monotonic_ns());
}

/* ---- subscriptions ---- */

static void client_sub_free(struct shard *shard, struct client_sub *sub)
{
    struct client *client = sub->client;
    route_sub_remove(shard, &sub->route);
    sid_unlink(client, sub);
    ASSERT(client->sub_count > 0);
    client->sub_count--;
    free(sub);
}

/* ---- delivery ----
 *
 * Frames written (nats-server's exact forms):
 *   MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n
 *   HMSG <subject> <sid> [reply] <header size> <total size>\r\n<headers+payload>\r\n
 * A subscriber that did not negotiate headers gets MSG with the header block cut off. */

/* "HMSG " + 4 spaces + 2 sizes of 20 digits + CRLF, and the CRLF after the payload. */
enum { FRAME_OVERHEAD_MAX = 5 + 4 + 2 * 20 + 2 + 2 };

/* A wildcard subscription does not deliver what the subscribe deny list names; a reply
 * subject delivered to a user with allow_responses may be answered. */
static bool client_may_receive(struct client *client, const struct route_msg *msg)
{
    const struct auth_permissions *permissions = client->permissions;
    if (auth_delivery_denied(permissions, msg->subject.data, msg->subject.length)) {
        return false;
    }
    if (client->replies != NULL && msg->reply.length > 0 &&
        !auth_publish_allowed(permissions, msg->reply.data, msg->reply.length)) {
        uint64_t hash =
            hash_bytes(msg->reply.data, msg->reply.length, client->conn.shard->server->hash_seed);
        (void)auth_replies_note(client->replies, msg->reply.data, msg->reply.length, hash,
                                clock_monotonic_ns()); /* out of memory: it cannot answer */
    }
    return true;
}

static bool client_sub_deliver(struct shard *shard, struct route_sub *route,
                               const struct route_msg *msg, bool status)
{
    struct client_sub *sub = (struct client_sub *)route;
    struct client *client = sub->client;
    if (conn_ending(&client->conn)) {
        return false;
    }
    if (client->permissions != NULL && !client_may_receive(client, msg)) {
        return false;
    }
    bool with_headers = msg->header_length > 0 && client->options.headers;
    const char *body = msg->payload.data;
    size_t body_length = msg->payload.length;
    if (msg->header_length > 0 && !with_headers) {
        body += msg->header_length;
        body_length -= msg->header_length;
    }
    const struct proto_slice subject = msg->shown.length > 0 ? msg->shown : msg->subject;
    size_t frame = FRAME_OVERHEAD_MAX + subject.length + sub->sid_length +
                   msg->reply.length + body_length;
    if (conn_reserve_output(&client->conn, frame) != 0) {
        return false;
    }
    struct outq *out = &client->conn.out;
    if (with_headers) {
        outq_put(out, "HMSG ", 5);
    } else {
        outq_put(out, "MSG ", 4);
    }
    outq_put(out, subject.data, subject.length);
    outq_put(out, " ", 1);
    outq_put(out, sub->sid, sub->sid_length);
    outq_put(out, " ", 1);
    if (msg->reply.length > 0) {
        outq_put(out, msg->reply.data, msg->reply.length);
        outq_put(out, " ", 1);
    }
    if (with_headers) {
        outq_put_u64(out, msg->header_length);
        outq_put(out, " ", 1);
    }
    outq_put_u64(out, body_length);
    outq_put(out, "\r\n", 2);
    outq_put(out, body, body_length);
    outq_put(out, "\r\n", 2);
    conn_flush_queue(&client->conn);
    if (!status) {
        client->conn.stats.out_msgs++;
        client->conn.stats.out_bytes += msg->payload.length;
    }
    return true;
}

static void client_sub_expire(struct shard *shard, struct route_sub *route)
{
    client_sub_free(shard, (struct client_sub *)route);
}

static const struct route_sub_ops client_sub_ops = {
    .deliver = client_sub_deliver,
    .expire = client_sub_expire,
};

static struct client_sub *client_sub_make(struct client *client, const struct proto_op *op)
{
    size_t size = sizeof(struct client_sub) + op->sid.length + op->subject.length + op->queue.length;
    struct client_sub *sub = calloc(1, size);
    if (sub == NULL) {
        return NULL;
    }
    char *text = sub->text;
    memcpy(text, op->sid.data, op->sid.length);
    sub->sid = text;
    sub->sid_length = op->sid.length;
    text += op->sid.length;
    memcpy(text, op->subject.data, op->subject.length);
    sub->route.sub.subject = text;
    sub->route.sub.subject_length = op->subject.length;
    text += op->subject.length;
    if (op->queue.length > 0) {
        memcpy(text, op->queue.data, op->queue.length);
        sub->route.sub.queue = text;
        sub->route.sub.queue_length = op->queue.length;
    }
    sub->route.ops = &client_sub_ops;
    sub->route.owner = client;
    sub->client = client;
    return sub;
}

static void handle_sub(struct client *client, const struct proto_op *op)
{
    struct shard *shard = client->conn.shard;
    if (!subject_valid_for_sub(op->subject.data, op->subject.length) ||
        (op->queue.length > 0 && !subject_valid_literal(op->queue.data, op->queue.length))) {
        conn_write_text(&client->conn, TEXT(ERR_INVALID_SUBJECT));
        return;
    }
    if (client->permissions != NULL &&
        !auth_subscribe_allowed(client->permissions, op->subject.data, op->subject.length,
                                op->queue.data, op->queue.length)) {
        permission_violation(client, "Subscription", op->subject, op->queue,
                             (struct proto_slice){0});
        return;
    }
    if (sid_find(client, op->sid) != NULL) {
        client_ok(client); /* re-SUB of a live sid is ignored, as nats-server does */
        return;
    }
    int64_t max_subs = shard->server->config->max_subscriptions;
    if (max_subs > 0 && client->sub_count >= (uint64_t)max_subs) {
        conn_write_text(&client->conn, TEXT(ERR_MAX_SUBS));
        return;
    }
    if (client->sub_count >= client->sid_bucket_count && sid_table_grow(client) != 0) {
        conn_close(&client->conn, "Out Of Memory");
        return;
    }
    struct client_sub *sub = client_sub_make(client, op);
    uint64_t overflow_mark = xshard_overflow_mark(&shard->xshard);
    if (sub == NULL || route_sub_add(shard, &sub->route) != 0) {
        free(sub);
        conn_close(&client->conn, "Out Of Memory");
        return;
    }
    /* its announcement waits for a full ring: read no more of this client until it drains */
    xshard_producer_hold(&shard->xshard, &client->conn,
                         xshard_overflow_mark(&shard->xshard) != overflow_mark);
    uint32_t b = sid_bucket(client, sub->sid, sub->sid_length);
    sub->sid_next = client->sid_buckets[b];
    client->sid_buckets[b] = sub;
    client->sub_count++;
    client_ok(client);
}

static void handle_unsub(struct client *client, const struct proto_op *op)
{
    struct client_sub *sub = sid_find(client, op->sid);
    if (sub != NULL) {
        if (op->max_msgs > 0 && op->max_msgs > sub->route.delivered) {
            sub->route.max_msgs = op->max_msgs;
        } else {
            struct shard *shard = client->conn.shard;
            uint64_t overflow_mark = xshard_overflow_mark(&shard->xshard);
            client_sub_free(shard, sub);
            xshard_producer_hold(&shard->xshard, &client->conn,
                                 xshard_overflow_mark(&shard->xshard) != overflow_mark);
        }
    }
    client_ok(client);
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

static void reply_reserved_refuse(struct client *client, struct proto_slice reply)
{
    static const char head[] = "-ERR 'Permissions Violation for Publish with Reply of \"";
    static const char tail[] = "\"'\r\n";
    if (conn_reserve_output(&client->conn, sizeof head + reply.length + sizeof tail) != 0) {
        return;
    }
    conn_put(&client->conn, head, sizeof head - 1);
    conn_put(&client->conn, reply.data, reply.length);
    conn_put(&client->conn, tail, sizeof tail - 1);
    conn_flush_queue(&client->conn);
}

/* nats-server's order: -ERR for a bad subject (pedantic) as the line is read, +OK once the
 * payload is in, then delivery, so a client subscribed to its own subject sees +OK first.
 * An invalid subject in pedantic mode is still delivered where it matches. */
static void handle_pub(struct client *client, const struct proto_op *op)
{
    struct shard *shard = client->conn.shard;
    if (op->reply.length > 0 && reply_reserved(op->reply)) {
        reply_reserved_refuse(client, op->reply);
        return;
    }
    if (client->options.pedantic && !subject_valid_literal(op->subject.data, op->subject.length)) {
        conn_write_text(&client->conn, TEXT(ERR_INVALID_PUB_SUBJECT));
    }
    client->conn.stats.in_msgs++;
    client->conn.stats.in_bytes += op->payload.length;
    shard->stats.in_msgs++;
    if (client->permissions != NULL && !publish_allowed(client, op->subject)) {
        permission_violation(client, "Publish", op->subject, (struct proto_slice){0},
                             (struct proto_slice){0});
        return;
    }
    client_ok(client);
    if (subject_valid_for_sub(op->subject.data, op->subject.length)) {
        const struct route_publisher publisher = {
            .owner = client,
            .conn = &client->conn,
            .echo = client->options.echo,
            .no_responders = client->options.no_responders && client->options.headers,
        };
        const struct route_msg msg = {
            .subject = op->subject,
            .reply = op->reply,
            .payload = op->payload,
            .header_length = op->header_length,
        };
        route_publish(shard, &publisher, &msg);
    }
}

/* ---- CONNECT and auth ---- */

/* ---- dispatch ---- */

static bool auth_pending(const struct client *client)
{
    return server_live(client->conn.shard->server)->auth_required &&
           !(client->conn.kind_flags & CLIENT_F_CONNECTED);
}

static void handle_parse_error(struct client *client, int error)
{
    if (auth_pending(client)) {
        client_fail(client, TEXT(ERR_AUTHORIZATION), "Authentication Failure");
        return;
    }
    switch (error) {
    case PROTO_ERR_MAX_PAYLOAD:
        client_fail(client, TEXT(ERR_MAX_PAYLOAD), "Maximum Payload Exceeded");
        return;
    case PROTO_ERR_CONTROL_LINE_TOO_LONG:
        client_fail(client, TEXT(ERR_CONTROL_LINE), "Maximum Control Line Exceeded");
        return;
    case PROTO_ERR_ARGUMENTS:
    case PROTO_ERR_HEADER_SIZE:
        /* no -ERR, as nats-server; what was already answered still goes out */
        conn_close_after_flush(&client->conn, "Protocol Violation");
        return;
    case PROTO_ERR_NO_MEMORY:
        conn_close(&client->conn, "Out Of Memory");
        return;
    default:
        client_fail(client, TEXT(ERR_UNKNOWN_OP), "Parse Error");
        return;
    }
}

static void handle_op(struct client *client, const struct proto_op *op)
{
    if (auth_pending(client) && op->kind != PROTO_OP_CONNECT) {
        client_fail(client, TEXT(ERR_AUTHORIZATION), "Authentication Failure");
        return;
    }
    switch (op->kind) {
    case PROTO_OP_PUB:
        handle_pub(client, op);
        return;
    case PROTO_OP_HPUB:
        if (!client->options.headers) {
            conn_close_after_flush(&client->conn, "Protocol Violation"); /* no -ERR */
            return;
        }
        handle_pub(client, op);
        return;
    case PROTO_OP_SUB:
        handle_sub(client, op);
        return;
    case PROTO_OP_UNSUB:
        handle_unsub(client, op);
        return;
    case PROTO_OP_PING:
        shard_pong(client->conn.shard, &client->conn);
        return;
    case PROTO_OP_PONG:
        client->pings_outstanding = 0;
        client->conn.kind_flags |= CLIENT_F_PONG_SEEN;
        return;
    case PROTO_OP_ERR:
        conn_close_after_flush(&client->conn, "Client Error"); /* no -ERR */
        return;
    case PROTO_OP_OK:
    case PROTO_OP_INFO:
        return; /* nats-server ignores both from a client */
    case PROTO_OP_CONNECT:
        client_connect_handle(client, op);
        return;
    default:
        UNREACHABLE(); /* the server-role parser yields no other op */
    }
}

void client_receive(struct conn *conn, const char *data, size_t length)
{
    struct client *client = (struct client *)conn;
    const char *cursor = data;
    const char *end = data + length;
    if (conn_ending(conn)) {
        /* after a fatal error (or EOF, or shutdown) no more input is processed, even when
         * it arrived in a later receive buffer before the close */
        return;
    }
    client->conn.kind_flags |= CLIENT_F_READ_SINCE_PING;
    if (client->login != NULL) {
        /* more of what was received (TLS records opened after the CONNECT's) */
        client_login_input_keep(client, data, length);
        return;
    }
    if (auth_pending(client) && !parser_mid_op(&client->parser) && length > 0 && data[0] != 'C' &&
        data[0] != 'c') {
        /* nothing but CONNECT may come first: refused at its first byte, as nats-server */
        client_fail(client, TEXT(ERR_AUTHORIZATION), "Authentication Failure");
        return;
    }
    while (!conn_ending(conn)) {
        struct proto_op op;
        int rc = parser_next(&client->parser, &cursor, end, &op);
        if (rc == 0) {
            return;
        }
        if (rc < 0) {
            handle_parse_error(client, rc);
            return;
        }
        LOG_TRACE("client %llu <<- op %d %.*s", (unsigned long long)client->conn.id, op.kind,
                  (int)op.subject.length, op.subject.data);
        handle_op(client, &op);
        if (client->login != NULL) {
            /* a bcrypt comparison decides the CONNECT: what follows waits for it */
            shard_input_pause(conn->shard, conn);
            client_login_input_keep(client, cursor, (size_t)(end - cursor));
            return;
        }
    }
}

/* nats-server's ping: every ping_interval a PING, unless the client has answered one before
 * and sent something since (proof enough that it lives); past ping_max unanswered PINGs the
 * connection is stale. */
static void ping_timer_fired(struct timer_entry *entry, void *ctx)
{
    struct client *client = ctx;
    const struct config *config = server_live(client->conn.shard->server)->config;
    if (conn_ending(&client->conn)) {
        return;
    }
    timer_arm(client->conn.table->timers, &client->ping_timer,
              clock_deadline_ns(clock_monotonic_ns(), config->ping_interval_ns));
    bool active = (client->conn.kind_flags & CLIENT_F_READ_SINCE_PING) != 0;
    client->conn.kind_flags &= ~CLIENT_F_READ_SINCE_PING;
    if (active && (client->conn.kind_flags & CLIENT_F_PONG_SEEN)) {
        return;
    }
    if (client->pings_outstanding + 1 > (uint64_t)config->ping_max) {
        client_fail(client, TEXT(ERR_STALE), "Stale Connection");
        return;
    }
    client->pings_outstanding++;
    conn_write_text(&client->conn, TEXT("PING\r\n"));
}

static void auth_timer_fired(struct timer_entry *entry, void *ctx)
{
    struct client *client = ctx;
    client_fail(client, TEXT(ERR_AUTH_TIMEOUT), "Authentication Timeout");
}

/* After a reload, the subscriptions the client's permissions no longer allow are removed,
 * each with nats-server's -ERR naming its sid. */
static void subs_recheck(struct client *client)
{
    struct shard *shard = client->conn.shard;
    uint64_t overflow_mark = xshard_overflow_mark(&shard->xshard);
    for (uint32_t b = 0; b < client->sid_bucket_count; b++) {
        struct client_sub *sub = client->sid_buckets[b];
        while (sub != NULL) {
            struct client_sub *next = sub->sid_next;
            const struct sub *s = &sub->route.sub;
            if (!auth_subscribe_allowed(client->permissions, s->subject, s->subject_length,
                                        s->queue, s->queue_length)) {
                struct proto_slice subject = {s->subject, s->subject_length};
                struct proto_slice queue = {s->queue, s->queue_length};
                struct proto_slice sid = {sub->sid, sub->sid_length};
                permission_violation(client, "Subscription", subject, queue, sid);
                client_sub_free(shard, sub);
            }
            sub = next;
        }
    }
    xshard_producer_hold(&shard->xshard, &client->conn,
                         xshard_overflow_mark(&shard->xshard) != overflow_mark);
}

/* A reload (reload.h): a client the new authorization no longer admits is closed, as
 * nats-server closes it; the others take their new permissions. */
static void client_reload(struct conn *conn)
{
    struct client *client = (struct client *)conn;
    if (conn_ending(conn) || !(conn->kind_flags & CLIENT_F_CONNECTED)) {
        return;
    }
    const struct server_live *live = server_live(conn->shard->server);
    parser_limits_set(&client->parser, (uint32_t)live->config->max_control_line,
                      (uint32_t)live->config->max_payload);
    const struct auth_permissions *permissions = NULL;
    if (live->auth_required && !client_connect_recheck(client, &permissions)) {
        /* closed without a word: nats-server 2.9.10 and 2.15.1 send nothing here */
        conn_close_after_flush(&client->conn, "Authentication Failure");
        return;
    }
    if (client_permissions_set(client, permissions)) {
        subs_recheck(client);
    }
}

/* Lame duck mode: a client that takes INFO updates (protocol 1) hears "ldm":true, and
 * reconnects elsewhere before it is closed (shard_ldm.c). */
static void client_lame_duck(struct conn *conn)
{
    struct client *client = (struct client *)conn;
    if (conn_ending(conn) || !(conn->kind_flags & CLIENT_F_CONNECTED) ||
        client->options.protocol < 1) {
        return;
    }
    const struct server_live *live = server_live(conn->shard->server);
    char tail[INFO_TAIL_SIZE_MAX];
    size_t tail_length = info_tail_write(tail, sizeof tail, conn->id, conn->ip, NULL, true);
    ASSERT(tail_length > 0);
    size_t prefix_length = strlen(live->info_prefix);
    if (conn_reserve_output(conn, prefix_length + tail_length) != 0) {
        return;
    }
    conn_put(conn, live->info_prefix, prefix_length);
    conn_put(conn, tail, tail_length);
    conn_flush_queue(conn);
}

static void client_release(struct conn *conn)
{
    struct client *client = (struct client *)conn;
    if (!conn->shard->stopping) {
        monitor_closed_record(conn->shard, client); /* connz?state=closed */
    }
    timer_cancel(conn->table->timers, &client->ping_timer);
    timer_cancel(conn->table->timers, &client->auth_timer);
    for (uint32_t b = 0; b < client->sid_bucket_count; b++) {
        /* client_sub_free unlinks the head before freeing it, so the loop reads a new head */
        while (client->sid_buckets[b] != NULL) {
            // NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
            client_sub_free(client->conn.shard, client->sid_buckets[b]);
        }
    }
    ASSERT(client->sub_count == 0);
    free(client->sid_buckets);
    client->sid_buckets = NULL;
    client->sid_bucket_count = 0;
    parser_destroy(&client->parser);
    client_login_free(client);
    connect_options_free(&client->options);
    auth_replies_free(client->replies);
    client->replies = NULL;
}

const struct conn_kind client_kind = {
    .name = "client",
    .size = sizeof(struct client),
    .open = client_open,
    .receive = client_receive,
    .release = client_release,
    .reload = client_reload,
    .lame_duck = client_lame_duck,
};
