/* Leafs connecting to this server (leafnodes { listen }, --leafnode_port): the hub side of
 * the leaf protocol, a kind of connection on shard 0 (which accepts on the leafnode port).
 *
 * As nats-server's hub: INFO first (auth_required, a non-zero client_id and an empty
 * leafnode_urls, without which a nats-server leaf takes the port for a wrong one; no
 * compression and no info_on_connect, so the leaf sends its interest right after its
 * CONNECT); the CONNECT within 2s, checked against leafnodes { authorization } (one user
 * and password) and refused with nats-server's -ERR when its cluster name is ours; then
 * the link is a link like a dialled one (leaf_link.c), its interest told to our other
 * links and everything but its own told to it. Shard 0's thread. */
#include "engine/leaf.h"
#include "engine/leaf_internal.h"

#include "base/clock.h"
#include "base/log.h"
#include "engine/conn_tls.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "proto/go_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define TEXT(literal) (literal), (sizeof(literal) - 1)

enum { INFO_MAX = 2048 };

#define LINK_FMT "%s:%d - lid:%llu - "
#define LINK_ARGS(link) (link)->conn.ip, (link)->conn.port, (unsigned long long)(link)->conn.id

static void info_send(struct leaf_link *link)
{
    const struct server *server = link->conn.shard->server;
    const struct config *config = server->config;
    char buffer[INFO_MAX];
    struct go_json json;
    go_json_init_lent(&json, buffer, sizeof buffer);
    go_json_literal(&json, "INFO {");
    go_json_key_cstring(&json, "server_id", server->server_id);
    go_json_key_cstring(&json, "server_name", server->server_name);
    go_json_key_cstring(&json, "version", SERVER_PROTOCOL_VERSION);
    go_json_key_int(&json, "proto", 1);
    go_json_key_bool(&json, "headers", true);
    go_json_key_bool(&json, "auth_required", true);
    if (server->leaf_tls != NULL) {
        go_json_key_bool(&json, "tls_required", true);
        go_json_key_bool(&json, "tls_verify", tls_server_verify(server->leaf_tls));
    }
    go_json_key_int(&json, "max_payload", config->max_payload);
    go_json_key_uint(&json, "client_id", link->conn.id);
    go_json_literal(&json, ",\"leafnode_urls\":[]} \r\n");
    if (!json.failed) {
        conn_write_text(&link->conn, buffer, json.length);
    }
}

static int accept_open(struct conn *conn, const struct sockaddr *peer)
{
    struct leaf_link *link = (struct leaf_link *)conn;
    struct shard *shard = conn->shard;
    link->accepted = true;
    /* relaxed: ids only need to be unique */
    conn->id = atomic_fetch_add_explicit(&shard->server->next_client_id, 1,
                                         memory_order_relaxed) + 1;
    int rc = leaf_link_init(link, peer);
    struct leaf_state *state = leaf_state_of(shard);
    if (rc != 0 || state == NULL) {
        return rc != 0 ? rc : -EINVAL;
    }
    link->state = state;
    link->accepted_next = state->accepted_head;
    if (state->accepted_head != NULL) {
        state->accepted_head->accepted_prev = link;
    }
    state->accepted_head = link;
    state->accepted_count++;
    timer_arm(conn->table->timers, &link->handshake_timer,
              clock_deadline_ns(conn->connected_ns, LEAF_CONNECT_WAIT_NS));
    /* with leafnodes { tls }: INFO in plain text, then the leaf's handshake; with
     * handshake_first, the handshake first and INFO inside it */
    const struct tls_server *tls = shard->server->leaf_tls;
    if (tls != NULL && tls_server_handshake_first(tls) && conn_tls_start(conn, tls, true) != 0) {
        return -ENOMEM;
    }
    info_send(link);
    return tls != NULL && !tls_server_handshake_first(tls) ? conn_tls_start(conn, tls, false)
                                                           : 0;
}

static void refuse(struct leaf_link *link, const char *error, size_t length, const char *reason)
{
    conn_write_text(&link->conn, error, length);
    conn_close_after_flush(&link->conn, reason);
}

/* True when the CONNECT's user and password are leafnodes { authorization }'s. */
static bool authorized(const struct config *config, json_t *root)
{
    const struct config_leaf *leaf = config->leaf;
    if (leaf == NULL || leaf->user == NULL) {
        return true;
    }
    const char *user = json_string_value(json_object_get(root, "user"));
    const char *pass = json_string_value(json_object_get(root, "pass"));
    return user != NULL && strcmp(user, leaf->user) == 0 &&
           strcmp(pass != NULL ? pass : "", leaf->pass != NULL ? leaf->pass : "") == 0;
}

void leaf_accept_connect(struct leaf_link *link, const struct proto_op *op)
{
    const struct server *server = link->conn.shard->server;
    json_error_t error;
    json_t *root = json_loadb(op->text.data, op->text.length, 0, &error);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        LOG_ERROR(LINK_FMT "leafnode CONNECT is not valid JSON", LINK_ARGS(link));
        refuse(link, TEXT("-ERR 'Protocol Violation'\r\n"), "Protocol Violation");
        return;
    }
    if (json_object_get(root, "lang") != NULL) {
        json_decref(root);
        LOG_ERROR(LINK_FMT "Client attempted to connect to leaf node port", LINK_ARGS(link));
        refuse(link, TEXT("-ERR 'Protocol Violation'\r\n"), "Protocol Violation");
        return;
    }
    if (!authorized(server->config, root)) {
        json_decref(root);
        LOG_ERROR(LINK_FMT "authentication error", LINK_ARGS(link));
        refuse(link, TEXT("-ERR 'Authorization Violation'\r\n"), "Authentication Failure");
        return;
    }
    const char *cluster = json_string_value(json_object_get(root, "cluster"));
    if (cluster != NULL && strcmp(cluster, server->server_name) == 0) {
        json_decref(root);
        LOG_ERROR(LINK_FMT "remote leafnode has same cluster name", LINK_ARGS(link));
        refuse(link, TEXT("-ERR 'remote leafnode has same cluster name'\r\n"),
               "Protocol Violation");
        return;
    }
    const char *name = json_string_value(json_object_get(root, "name"));
    const char *id = json_string_value(json_object_get(root, "server_id"));
    snprintf(link->hub_id, sizeof link->hub_id, "%s", id != NULL ? id : "");
    snprintf(link->hub_name, sizeof link->hub_name, "%s", name != NULL ? name : link->hub_id);
    link->hub_headers = json_is_true(json_object_get(root, "headers"));
    json_decref(root);
    leaf_link_activate(link);
}

const struct conn_kind leaf_accept_kind = {
    .name = "leafnode",
    .size = sizeof(struct leaf_link),
    .open = accept_open,
    .receive = leaf_link_receive,
    .release = leaf_link_release,
};
