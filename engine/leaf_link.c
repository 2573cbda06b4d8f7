/* A leafnode link to a hub: a kind of connection (conn.h) that speaks nats-server's leaf
 * protocol from the soliciting side (leaf_internal.h).
 *
 * Handshake, as nats-server's leaf: the hub's INFO comes first (within 1s); the link
 * answers with CONNECT (its server name and id, the name as its cluster, headers, no
 * compression, user and password from the URL); when the INFO asked for it
 * (info_on_connect), the hub's connect INFO comes next (within 2s); then the link sends
 * this server's interest and its loop-detection subject and both sides exchange LS+/LS-
 * and messages. What the hub is interested in becomes the link's subscriptions (struct
 * leaf_sub); a message that reaches some of them is sent once, as LMSG (HMSG with
 * headers) naming the queue groups it was picked for. A hub message is published here
 * with the link as publisher: never back to the link, to plain subscribers, and to the
 * queue groups it names only. PING/PONG as a client's. TLS and compression on the link
 * are not spoken: a hub that requires TLS is refused with a log line. Shard 0's thread. */
#include "engine/leaf.h"
#include "engine/leaf_internal.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "engine/conn_tls.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "proto/go_json.h"
#include "proto/subject.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define TEXT(literal) (literal), (sizeof(literal) - 1)

/* A CONNECT holds a JWT with its permissions at most this long. The parser of a link takes
 * any control line and payload nats-server may send (it limits neither on a link), up to
 * the largest --max_control_line and --max_payload. */
enum {
    SUB_BUCKETS_MIN = 64,
    FRAME_OVERHEAD = 64,
    CONNECT_MAX = 64 * 1024,
    LINK_CONTROL_LINE_MAX = CONFIG_MAX_CONTROL_LINE_MAX,
    LINK_PAYLOAD_MAX = 64 * 1024 * 1024,
};

static timer_fn handshake_timer_fired;
static timer_fn ping_timer_fired;
static void collect_flush(struct shard *shard, struct route_collector *collector,
                          const struct route_msg *msg);

/* "ip:port - lid:N - ", nats-server's prefix for a link's log lines. */
#define LINK_FMT "%s:%d - lid:%llu - "
#define LINK_ARGS(link) (link)->conn.ip, (link)->conn.port, (unsigned long long)(link)->conn.id

int leaf_link_init(struct leaf_link *link, const struct sockaddr *peer)
{
    struct conn *conn = &link->conn;
    timer_entry_init(&link->handshake_timer, handshake_timer_fired, link);
    timer_entry_init(&link->ping_timer, ping_timer_fired, link);
    link->collector.flush = collect_flush;
    parser_init(&link->parser, PARSER_ROLE_LEAF, LINK_CONTROL_LINE_MAX, LINK_PAYLOAD_MAX);
    link->seed = hash_bytes(&conn->id, sizeof conn->id, conn->shard->server->hash_seed);
    conn_peer_set(conn, peer);
    conn->connected_ns = clock_monotonic_ns();
    link->bucket_count = SUB_BUCKETS_MIN;
    link->buckets = calloc(link->bucket_count, sizeof *link->buckets);
    return link->buckets == NULL ? -ENOMEM : 0;
}

/* A link we dialled: the hub's INFO must come soon. */
static int link_open(struct conn *conn, const struct sockaddr *peer)
{
    struct leaf_link *link = (struct leaf_link *)conn;
    link->state = link->remote->state;
    int rc = leaf_link_init(link, peer);
    timer_arm(conn->table->timers, &link->handshake_timer,
              clock_deadline_ns(conn->connected_ns, LEAF_FIRST_INFO_NS));
    return rc;
}

/* Closes the link with a log line naming why. */
static void link_fail(struct leaf_link *link, const char *reason)
{
    if (!conn_ending(&link->conn)) {
        conn_close_after_flush(&link->conn, reason);
    }
}

/* ---- interest ---------------------------------------------------------------------------- */

void leaf_link_interest(struct leaf_link *link, bool add, const char *subject,
                        uint32_t subject_length, const char *queue, uint32_t queue_length,
                        uint64_t weight)
{
    if (conn_ending(&link->conn) || link->state == NULL ||
        !leaf_import_allowed(link->remote, subject, subject_length)) {
        return; /* what may not come in is not asked for */
    }
    if (conn_reserve_output(&link->conn, FRAME_OVERHEAD + subject_length + queue_length) != 0) {
        return;
    }
    struct outq *out = &link->conn.out;
    outq_put(out, add ? "LS+ " : "LS- ", 4);
    outq_put(out, subject, subject_length);
    if (queue_length > 0) {
        outq_put(out, " ", 1);
        outq_put(out, queue, queue_length);
        if (add) {
            outq_put(out, " ", 1);
            outq_put_u64(out, weight);
        }
    }
    outq_put(out, "\r\n", 2);
    conn_flush_queue(&link->conn);
}

static uint64_t sub_hash(const struct leaf_link *link, struct proto_slice subject,
                         struct proto_slice queue)
{
    uint64_t h = hash_bytes(subject.data, subject.length, link->seed);
    return queue.length ? hash_bytes(queue.data, queue.length, h) : h;
}

static struct leaf_sub **sub_link(struct leaf_link *link, uint64_t hash,
                                  struct proto_slice subject, struct proto_slice queue)
{
    struct leaf_sub **at = &link->buckets[hash & (link->bucket_count - 1)];
    for (; *at != NULL; at = &(*at)->next) {
        const struct sub *s = &(*at)->route.sub;
        if ((*at)->hash == hash && s->subject_length == subject.length &&
            s->queue_length == queue.length &&
            memcmp(s->subject, subject.data, subject.length) == 0 &&
            (queue.length == 0 || memcmp(s->queue, queue.data, queue.length) == 0)) {
            break;
        }
    }
    return at;
}

static void sub_free(struct shard *shard, struct leaf_sub *sub)
{
    route_sub_remove(shard, &sub->route);
    free(sub);
}

static bool sub_deliver(struct shard *shard, struct route_sub *route, const struct route_msg *msg,
                        bool status)
{
    struct leaf_sub *sub = (struct leaf_sub *)route;
    struct leaf_link *link = sub->link;
    if (status || link->phase != LEAF_ACTIVE || conn_ending(&link->conn) ||
        link->state == NULL ||
        !leaf_export_allowed(link->remote, msg->subject.data, msg->subject.length)) {
        return false; /* a subject denied under a wildcard the hub asked for stays here */
    }
    if (route->sub.queue == NULL) {
        link->collect_plain = true;
    } else {
        if (link->pick_count == link->pick_capacity) {
            uint32_t capacity = link->pick_capacity ? link->pick_capacity * 2 : 8;
            struct leaf_pick *grown = realloc(link->picks, capacity * sizeof *grown);
            if (grown == NULL) {
                return false; /* another member of the group gets it */
            }
            link->picks = grown;
            link->pick_capacity = capacity;
        }
        link->picks[link->pick_count++] =
            (struct leaf_pick){.name = route->sub.queue, .length = route->sub.queue_length};
    }
    route_collect(shard, &link->collector);
    return true;
}

static void sub_expire(struct shard *shard, struct route_sub *route)
{
    /* a link's subscriptions have no auto-unsubscribe limit */
}

static const struct route_sub_ops leaf_sub_ops = {
    .deliver = sub_deliver,
    .expire = sub_expire,
};

/* Twice the buckets, so a chain stays short however much the peer is interested in. */
static void subs_grow(struct leaf_link *link)
{
    uint32_t count = link->bucket_count * 2;
    struct leaf_sub **buckets = calloc(count, sizeof *buckets);
    if (buckets == NULL) {
        return; /* longer chains, still correct */
    }
    for (uint32_t b = 0; b < link->bucket_count; b++) {
        while (link->buckets[b] != NULL) {
            struct leaf_sub *sub = link->buckets[b];
            link->buckets[b] = sub->next;
            sub->next = buckets[sub->hash & (count - 1)];
            buckets[sub->hash & (count - 1)] = sub;
        }
    }
    free(link->buckets);
    link->buckets = buckets;
    link->bucket_count = count;
}

static void link_sub_add(struct leaf_link *link, const struct proto_op *op)
{
    struct leaf_state *state = link->state;
    struct shard *shard = link->conn.shard;
    if (state == NULL) {
        return;
    }
    if (op->queue.length == 0 && op->subject.length == strlen(state->lds) &&
        memcmp(op->subject.data, state->lds, op->subject.length) == 0) {
        LOG_ERROR(LINK_FMT "Loop detected for leafnode account=\"$G\". Delaying attempt to "
                           "reconnect for 30s",
                  LINK_ARGS(link));
        conn_write_text(&link->conn, TEXT("-ERR 'Loop detected for leafnode account=\"$G\". "
                                          "Delaying attempt to reconnect for 30s'\r\n"));
        if (link->remote != NULL) {
            link->remote->delay_ns = LEAF_RECONNECT_LONG_NS;
        }
        link_fail(link, "Protocol Violation");
        return;
    }
    /* another server's $LDS is interest like any other: it travels on to our other links */
    if (!leaf_export_allowed(link->remote, op->subject.data, op->subject.length)) {
        return; /* a subject not sent to this peer */
    }
    if (!subject_valid_for_sub(op->subject.data, op->subject.length)) {
        LOG_WARN(LINK_FMT "leafnode interest in an invalid subject %.*s ignored",
                 LINK_ARGS(link), (int)op->subject.length, op->subject.data);
        return;
    }
    uint64_t hash = sub_hash(link, op->subject, op->queue);
    struct leaf_sub **at = sub_link(link, hash, op->subject, op->queue);
    if (*at != NULL) {
        (*at)->weight = op->max_msgs; /* a queue group's new weight */
        return;
    }
    /* a peer's interest is bounded like a client's: --max_subscriptions per connection */
    int64_t max_subs = shard->server->config->max_subscriptions;
    if (max_subs > 0 && link->sub_count >= (uint64_t)max_subs) {
        LOG_WARN(LINK_FMT "Maximum Subscriptions Exceeded: leafnode interest in %.*s ignored",
                 LINK_ARGS(link), (int)op->subject.length, op->subject.data);
        return;
    }
    struct leaf_sub *sub = calloc(1, sizeof *sub + op->subject.length + op->queue.length + 2);
    if (sub == NULL) {
        LOG_ERROR(LINK_FMT "out of memory for leafnode interest in %.*s", LINK_ARGS(link),
                  (int)op->subject.length, op->subject.data);
        return;
    }
    memcpy(sub->text, op->subject.data, op->subject.length);
    sub->route.sub.subject = sub->text;
    sub->route.sub.subject_length = op->subject.length;
    if (op->queue.length > 0) {
        char *queue = sub->text + op->subject.length + 1;
        memcpy(queue, op->queue.data, op->queue.length);
        sub->route.sub.queue = queue;
        sub->route.sub.queue_length = op->queue.length;
    }
    sub->route.ops = &leaf_sub_ops;
    sub->route.owner = link;
    sub->route.link = true;
    sub->link = link;
    sub->hash = hash;
    sub->weight = op->max_msgs;
    if (route_sub_add(shard, &sub->route) != 0) {
        free(sub);
        LOG_ERROR(LINK_FMT "out of memory for leafnode interest", LINK_ARGS(link));
        return;
    }
    sub->next = *at;
    *at = sub;
    link->sub_count++;
    if (link->sub_count > link->bucket_count) {
        subs_grow(link);
    }
    leaf_interest_link_changed(state, link, true, op->subject.data, op->subject.length,
                               op->queue.data, op->queue.length);
}

bool leaf_link_has(struct leaf_link *link, const char *subject, uint32_t subject_length,
                   const char *queue, uint32_t queue_length)
{
    const struct proto_slice s = {.data = subject, .length = subject_length};
    const struct proto_slice q = {.data = queue, .length = queue_length};
    return link->buckets != NULL && *sub_link(link, sub_hash(link, s, q), s, q) != NULL;
}

/* Forgets one of the peer's interests: routing's subscription, and the other links. */
static void link_sub_drop(struct leaf_link *link, struct leaf_sub *sub)
{
    link->sub_count--;
    if (link->state != NULL) {
        const struct sub *s = &sub->route.sub;
        leaf_interest_link_changed(link->state, link, false, s->subject, s->subject_length,
                                   s->queue, s->queue_length);
    }
    sub_free(link->conn.shard, sub);
}

static void link_sub_remove(struct leaf_link *link, const struct proto_op *op)
{
    uint64_t hash = sub_hash(link, op->subject, op->queue);
    struct leaf_sub **at = sub_link(link, hash, op->subject, op->queue);
    struct leaf_sub *sub = *at;
    if (sub != NULL) {
        *at = sub->next;
        link_sub_drop(link, sub);
    }
}

/* ---- messages ---------------------------------------------------------------------------- */

/* Where the '@' of a JetStream delivery's reply "$JS.ACK.<8 dots' worth>@<subject>" is
 * (nats-server's jsAckDeliverIdx): the first '@' after the eighth dot, 0 when there is
 * none. Over a link, a delivery travels on the subject it is routed on (the consumer's
 * deliver subject) and its own subject, which its subscribers see, rides in the reply
 * after '@', as nats-server sends and reads them. */
static size_t js_ack_deliver_index(struct proto_slice reply)
{
    static const char PREFIX[] = "$JS.ACK.";
    if (reply.length <= sizeof PREFIX - 1 || memcmp(reply.data, PREFIX, sizeof PREFIX - 1) != 0) {
        return 0;
    }
    uint32_t dots = 0;
    for (uint32_t i = 0; i < reply.length; i++) {
        if (reply.data[i] == '.') {
            dots++;
        } else if (reply.data[i] == '@' && dots >= 8) {
            return i;
        }
    }
    return 0;
}

/* The end of a walk that delivered to some of the link's subscriptions: one LMSG. */
static void collect_flush(struct shard *shard, struct route_collector *collector,
                          const struct route_msg *msg)
{
    struct leaf_link *link =
        (struct leaf_link *)((char *)collector - offsetof(struct leaf_link, collector));
    uint32_t picks = link->pick_count;
    link->pick_count = 0;
    link->collect_plain = false;
    bool headers = msg->header_length > 0 && link->hub_headers;
    const char *body = msg->payload.data;
    size_t body_length = msg->payload.length;
    if (msg->header_length > 0 && !headers) {
        body += msg->header_length;
        body_length -= msg->header_length;
    }
    /* a JetStream delivery names the subject its subscribers see after its reply's '@' */
    bool shown = msg->shown.length > 0 && msg->reply.length > 0 &&
                 js_ack_deliver_index(msg->reply) == 0 &&
                 (msg->shown.length != msg->subject.length ||
                  memcmp(msg->shown.data, msg->subject.data, msg->subject.length) != 0);
    size_t frame = FRAME_OVERHEAD + msg->subject.length + msg->reply.length + body_length +
                   (shown ? 1 + msg->shown.length : 0);
    for (uint32_t p = 0; p < picks; p++) {
        frame += link->picks[p].length + 1;
    }
    if (conn_ending(&link->conn) || conn_reserve_output(&link->conn, frame) != 0) {
        return;
    }
    struct outq *out = &link->conn.out;
    outq_put(out, headers ? "HMSG " : "LMSG ", 5);
    outq_put(out, msg->subject.data, msg->subject.length);
    outq_put(out, " ", 1);
    if (picks > 0) {
        outq_put(out, msg->reply.length > 0 ? "+ " : "| ", 2);
    }
    if (msg->reply.length > 0) {
        outq_put(out, msg->reply.data, msg->reply.length);
        if (shown) {
            outq_put(out, "@", 1);
            outq_put(out, msg->shown.data, msg->shown.length);
        }
        outq_put(out, " ", 1);
    }
    for (uint32_t p = 0; p < picks; p++) {
        bool seen = false; /* a group picked twice in one walk is named once */
        for (uint32_t q = 0; q < p && !seen; q++) {
            seen = link->picks[q].length == link->picks[p].length &&
                   memcmp(link->picks[q].name, link->picks[p].name, link->picks[p].length) == 0;
        }
        if (!seen) {
            outq_put(out, link->picks[p].name, link->picks[p].length);
            outq_put(out, " ", 1);
        }
    }
    if (headers) {
        outq_put_u64(out, msg->header_length);
        outq_put(out, " ", 1);
    }
    outq_put_u64(out, body_length);
    outq_put(out, "\r\n", 2);
    outq_put(out, body, body_length);
    outq_put(out, "\r\n", 2);
    conn_flush_queue(&link->conn);
    link->conn.stats.out_msgs++;
    link->conn.stats.out_bytes += body_length;
}

/* A hub message: published here, to plain subscribers and the queue groups it names. */
static void link_message(struct leaf_link *link, const struct proto_op *op)
{
    struct shard *shard = link->conn.shard;
    link->conn.stats.in_msgs++;
    link->conn.stats.in_bytes += op->payload.length;
    shard->stats.in_msgs++;
    if (link->state == NULL ||
        !leaf_import_allowed(link->remote, op->subject.data, op->subject.length)) {
        return;
    }
    if (!subject_valid_literal(op->subject.data, op->subject.length)) {
        LOG_DEBUG(LINK_FMT "leafnode message on an invalid subject %.*s dropped",
                  LINK_ARGS(link), (int)op->subject.length, op->subject.data);
        return;
    }
    struct route_msg msg = {
        .subject = op->subject,
        .reply = op->reply,
        .payload = op->payload,
        .header_length = op->header_length,
    };
    size_t at = js_ack_deliver_index(op->reply);
    if (at > 0 && at + 1 < op->reply.length &&
        subject_valid_literal(op->reply.data + at + 1, op->reply.length - at - 1)) {
        msg.reply.length = (uint32_t)at;
        msg.shown = (struct proto_slice){.data = op->reply.data + at + 1,
                                         .length = op->reply.length - (uint32_t)at - 1};
    }
    const struct route_publisher publisher = {
        .owner = link,
        .conn = &link->conn,
        .queue_filter = &op->queue,
    };
    route_publish(shard, &publisher, &msg);
}

/* ---- handshake ---------------------------------------------------------------------------- */

static void connect_send(struct leaf_link *link)
{
    const struct server *server = link->conn.shard->server;
    struct go_json json;
    go_json_init(&json, CONNECT_MAX);
    go_json_literal(&json, "CONNECT {");
    go_json_key_cstring(&json, "version", SERVER_PROTOCOL_VERSION);
    if (link->url.user[0] != '\0') {
        go_json_key_cstring(&json, "user", link->url.user);
        go_json_key_cstring(&json, "pass", link->url.pass);
    }
    go_json_key_cstring(&json, "server_id", server->server_id);
    go_json_key_cstring(&json, "name", server->server_name);
    go_json_key_cstring(&json, "cluster", server->server_name);
    go_json_key_bool(&json, "headers", true);
    go_json_key_cstring(&json, "compress_mode", "off");
    go_json_key_cstring(&json, "remote_account", "$G");
    char why[256];
    const struct config_leaf_remote *config = link->remote ? link->remote->config : NULL;
    if (leaf_auth_connect(config, link->nonce, &json, why, sizeof why) != 0) {
        go_json_free(&json);
        LOG_ERROR(LINK_FMT "leafnode credentials: %s", LINK_ARGS(link), why);
        link_fail(link, "Authentication Failure");
        return;
    }
    go_json_literal(&json, "}\r\n");
    if (json.failed) {
        go_json_free(&json);
        LOG_ERROR(LINK_FMT "leafnode CONNECT larger than %d bytes (credentials?)",
                  LINK_ARGS(link), CONNECT_MAX);
        link_fail(link, "Authentication Failure");
        return;
    }
    conn_write_text(&link->conn, json.data, json.length);
    go_json_free(&json);
    LOG_DEBUG(LINK_FMT "Remote leafnode connect msg sent", LINK_ARGS(link));
}

void leaf_link_activate(struct leaf_link *link)
{
    const struct config *config = link->conn.shard->server->config;
    link->phase = LEAF_ACTIVE;
    timer_cancel(link->conn.table->timers, &link->handshake_timer);
    LOG_INFO(LINK_FMT "Leafnode connection created %s", LINK_ARGS(link),
             link->accepted ? "" : "for account: $G");
    if (link->remote != NULL) {
        link->remote->attempts = 0;
    }
    if (link->state != NULL) {
        leaf_interest_send_all(link->state, link);
    }
    int64_t first = config->ping_interval_ns < CONFIG_FIRST_PING_NS ? config->ping_interval_ns
                                                                    : CONFIG_FIRST_PING_NS;
    timer_arm(link->conn.table->timers, &link->ping_timer,
              clock_deadline_ns(clock_monotonic_ns(), first));
}

static void copy_string(json_t *root, const char *key, char *target, size_t size)
{
    const char *value = json_string_value(json_object_get(root, key));
    if (value != NULL) {
        snprintf(target, size, "%s", value);
    }
}

/* The hub's leafnode_urls: other servers of its cluster to try when it goes. */
static void urls_learn(struct leaf_link *link, json_t *root)
{
    enum { URLS_MAX = CONFIG_LEAF_URLS_MAX };
    json_t *array = json_object_get(root, "leafnode_urls");
    if (link->remote == NULL || !json_is_array(array)) {
        return;
    }
    const char *urls[URLS_MAX];
    size_t count = 0;
    for (size_t i = 0; i < json_array_size(array) && count < URLS_MAX; i++) {
        const char *text = json_string_value(json_array_get(array, i));
        if (text != NULL) {
            urls[count++] = text;
        }
    }
    leaf_remote_learn(link->remote, &link->url, urls, count);
}

static void link_info(struct leaf_link *link, const struct proto_op *op)
{
    json_error_t error;
    json_t *root = json_loadb(op->text.data, op->text.length, 0, &error);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        LOG_ERROR(LINK_FMT "Leafnode Error: INFO is not valid JSON", LINK_ARGS(link));
        link_fail(link, "Protocol Violation");
        return;
    }
    urls_learn(link, root);
    if (link->phase == LEAF_WAIT_INFO) {
        copy_string(root, "server_id", link->hub_id, sizeof link->hub_id);
        copy_string(root, "server_name", link->hub_name, sizeof link->hub_name);
        copy_string(root, "nonce", link->nonce, sizeof link->nonce);
        if (link->hub_name[0] == '\0') {
            snprintf(link->hub_name, sizeof link->hub_name, "%s", link->hub_id);
        }
        link->hub_headers = json_is_true(json_object_get(root, "headers"));
        bool tls = json_is_true(json_object_get(root, "tls_required"));
        bool info_on_connect = json_is_true(json_object_get(root, "info_on_connect"));
        bool leaf_port = json_integer_value(json_object_get(root, "client_id")) != 0 &&
                         json_object_get(root, "leafnode_urls") != NULL;
        json_decref(root);
        if (!leaf_port) {
            LOG_ERROR(LINK_FMT "attempted to connect to wrong port", LINK_ARGS(link));
            link_fail(link, "Incorrect Port");
            return;
        }
        const struct config_leaf_remote *config = link->remote ? link->remote->config : NULL;
        if ((tls || (config != NULL && config->tls.on)) && link->conn.tls == NULL) {
            /* the client side of the handshake now; CONNECT waits for it in `out` */
            if (link->remote == NULL ||
                conn_tls_start_client(&link->conn, link->remote->tls, link->url.host) != 0) {
                link_fail(link, "TLS Handshake Error");
                return;
            }
        }
        connect_send(link);
        if (info_on_connect) {
            link->phase = LEAF_WAIT_CONNECT_INFO;
            timer_arm(link->conn.table->timers, &link->handshake_timer,
                      clock_deadline_ns(clock_monotonic_ns(), LEAF_CONNECT_WAIT_NS));
        } else {
            leaf_link_activate(link);
        }
        return;
    }
    bool connect_info = json_is_true(json_object_get(root, "connect_info"));
    json_decref(root);
    if (link->phase == LEAF_WAIT_CONNECT_INFO && connect_info) {
        leaf_link_activate(link);
    }
    /* later INFOs only update the URLs learned (above) */
}

static void link_error(struct leaf_link *link, const struct proto_op *op)
{
    LOG_ERROR(LINK_FMT "Leafnode Error %.*s", LINK_ARGS(link), (int)op->text.length,
              op->text.data);
    static const char *const long_waits[] = {"Loop detected", "same cluster name",
                                              "Permissions Violation"};
    for (size_t i = 0; i < sizeof long_waits / sizeof long_waits[0] && link->remote; i++) {
        if (memmem(op->text.data, op->text.length, long_waits[i], strlen(long_waits[i]))) {
            link->remote->delay_ns = LEAF_RECONNECT_LONG_NS;
        }
    }
    link_fail(link, "Leafnode Error");
}

static void handshake_timer_fired(struct timer_entry *entry, void *ctx)
{
    struct leaf_link *link = ctx;
    if (link->accepted) { /* its CONNECT did not come */
        LOG_ERROR(LINK_FMT "authentication timeout", LINK_ARGS(link));
        conn_write_text(&link->conn, TEXT("-ERR 'Authentication Timeout'\r\n"));
        conn_close_after_flush(&link->conn, "Authentication Timeout");
        return;
    }
    LOG_ERROR(LINK_FMT "%s", LINK_ARGS(link),
              link->phase == LEAF_WAIT_INFO ? "Leafnode first INFO not received in time"
                                            : "Stale Leaf Node Connection - Closing");
    conn_close(&link->conn, "Stale Connection");
}

static void ping_timer_fired(struct timer_entry *entry, void *ctx)
{
    struct leaf_link *link = ctx;
    const struct config *config = link->conn.shard->server->config;
    if (conn_ending(&link->conn)) {
        return;
    }
    timer_arm(link->conn.table->timers, &link->ping_timer,
              clock_deadline_ns(clock_monotonic_ns(), config->ping_interval_ns));
    if (link->pings_outstanding + 1 > (uint64_t)config->ping_max) {
        conn_write_text(&link->conn, TEXT("-ERR 'Stale Connection'\r\n"));
        link_fail(link, "Stale Connection");
        return;
    }
    link->pings_outstanding++;
    link->ping_sent_ns = clock_monotonic_ns();
    conn_write_text(&link->conn, TEXT("PING\r\n"));
}

/* ---- the kind ------------------------------------------------------------------------- */

static void handle_op(struct leaf_link *link, const struct proto_op *op)
{
    bool connected = link->phase != LEAF_WAIT_INFO;
    switch (op->kind) {
    case PROTO_OP_INFO:
        if (!link->accepted) {
            link_info(link, op);
        } /* a leaf's INFO only offers compression, which we never advertise */
        return;
    case PROTO_OP_CONNECT:
        if (!link->accepted || connected) {
            break;
        }
        leaf_accept_connect(link, op);
        return;
    case PROTO_OP_PING:
        conn_write_text(&link->conn, TEXT("PONG\r\n"));
        return;
    case PROTO_OP_PONG:
        link->pings_outstanding = 0;
        if (link->ping_sent_ns > 0) {
            link->rtt_ns = clock_monotonic_ns() - link->ping_sent_ns;
        }
        return;
    case PROTO_OP_ERR:
        link_error(link, op);
        return;
    case PROTO_OP_OK:
        return;
    case PROTO_OP_LSUB:
    case PROTO_OP_LUNSUB:
    case PROTO_OP_LMSG:
    case PROTO_OP_HLMSG:
        if (!connected) {
            break;
        }
        if (op->kind == PROTO_OP_LSUB) {
            link_sub_add(link, op);
        } else if (op->kind == PROTO_OP_LUNSUB) {
            link_sub_remove(link, op);
        } else {
            link_message(link, op);
        }
        return;
    default:
        break;
    }
    LOG_ERROR(LINK_FMT "Leafnode Error: unexpected protocol operation", LINK_ARGS(link));
    link_fail(link, "Protocol Violation");
}

void leaf_link_receive(struct conn *conn, const char *data, size_t length)
{
    struct leaf_link *link = (struct leaf_link *)conn;
    const char *cursor = data;
    const char *end = data + length;
    link->read_since_ping = true;
    while (!conn_ending(conn)) {
        struct proto_op op;
        int rc = parser_next(&link->parser, &cursor, end, &op);
        if (rc == 0) {
            return;
        }
        if (rc < 0) {
            LOG_ERROR(LINK_FMT "Leafnode Error: protocol error %d", LINK_ARGS(link), rc);
            conn_write_text(conn, TEXT("-ERR 'Unknown Protocol Operation'\r\n"));
            link_fail(link, "Protocol Violation");
            return;
        }
        handle_op(link, &op);
    }
}

void leaf_link_release(struct conn *conn)
{
    struct leaf_link *link = (struct leaf_link *)conn;
    timer_cancel(conn->table->timers, &link->handshake_timer);
    timer_cancel(conn->table->timers, &link->ping_timer);
    for (uint32_t b = 0; b < link->bucket_count && link->buckets != NULL; b++) {
        while (link->buckets[b] != NULL) {
            struct leaf_sub *sub = link->buckets[b];
            link->buckets[b] = sub->next;
            link_sub_drop(link, sub);
        }
    }
    free(link->buckets);
    link->buckets = NULL;
    free(link->picks);
    link->picks = NULL;
    parser_destroy(&link->parser);
    if (link->phase == LEAF_ACTIVE) {
        LOG_INFO(LINK_FMT "Leafnode connection closed: %s - Remote: %s", LINK_ARGS(link),
                 conn->close_reason ? conn->close_reason : "Client Closed", link->hub_name);
    } else if (link->remote != NULL && conn->recv_error != 0) {
        leaf_dial_error(link->remote, &link->url, strerror(-conn->recv_error));
    }
    if (link->remote != NULL) {
        leaf_remote_lost(link->remote);
        link->remote = NULL;
    }
    leaf_link_forget(link);
}

void leaf_link_forget(struct leaf_link *link)
{
    struct leaf_state *state = link->state;
    if (state != NULL && link->accepted) {
        if (link->accepted_prev != NULL) {
            link->accepted_prev->accepted_next = link->accepted_next;
        } else {
            state->accepted_head = link->accepted_next;
        }
        if (link->accepted_next != NULL) {
            link->accepted_next->accepted_prev = link->accepted_prev;
        }
        state->accepted_count--;
    }
    link->accepted_prev = link->accepted_next = NULL;
    link->state = NULL;
}

void leaf_link_stop(struct leaf_link *link)
{
    if (link->remote != NULL) {
        link->remote->link = NULL;
        link->remote = NULL;
    }
    if (!conn_ending(&link->conn)) {
        conn_close_after_flush(&link->conn, "Server Shutdown");
    }
}

const struct conn_kind leaf_link_kind = {
    .name = "leafnode",
    .size = sizeof(struct leaf_link),
    .open = link_open,
    .receive = leaf_link_receive,
    .release = leaf_link_release,
};
