/* NATS Streaming clients: connect (with the probe of an old client whose id is reused),
 * the clients' pings, close requests, and the server's heartbeats that drop a client that
 * stops answering. Shard 0's thread.
 *
 * The one idea: a client is its id, its heartbeat inbox and its connection id; the server
 * asks the heartbeat inbox every --hb_interval and drops the client after --hb_fail_count
 * unanswered heartbeats in a row, as nats-streaming-server does; everything else the client
 * owns (its subscriptions) hangs off it and goes, or goes offline, with it. */
#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/config.h"
#include "engine/shard.h"
#include "engine/stan_internal.h"
#include "proto/stan.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ERR_INVALID_CONN_REQ "stan: invalid connection request"
#define ERR_INVALID_CLIENT_ID                                                              \
    "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed"
#define ERR_CLIENT_REGISTERED "stan: clientID already registered"
#define ERR_UNKNOWN_CLIENT "stan: unknown clientID"
#define ERR_INVALID_CLOSE_REQ "stan: invalid close request"
#define ERR_REPLACED "client has been replaced or is no longer registered"

/* The protocol version this server speaks (pings from clients). */
enum { STAN_PROTOCOL = 1 };

/* ---- the table ---- */

struct stan_client *stan_client_find(struct stan *stan, const char *id)
{
    return stan_map_get(&stan->clients_by_id, id, strlen(id));
}

struct stan_client *stan_client_find_conn(struct stan *stan, const uint8_t *conn_id,
                                          size_t length)
{
    return stan_map_get(&stan->clients_by_conn, conn_id, length);
}

static void hb_arm(struct stan *stan, struct stan_client *client, int64_t after_ns)
{
    if (timer_armed(&client->hb_timer)) {
        timer_cancel(&stan->shard->timers, &client->hb_timer);
    }
    timer_arm(&stan->shard->timers, &client->hb_timer, clock_monotonic_ns() + after_ns);
}

static void client_free(struct stan *stan, struct stan_client *client)
{
    if (timer_armed(&client->hb_timer)) {
        timer_cancel(&stan->shard->timers, &client->hb_timer);
    }
    if (client->hb_request != 0) {
        stan_request_cancel(stan, client->hb_request);
    }
    free(client->id);
    free(client->hb_inbox);
    free(client->conn_id);
    free(client->members);
    free(client);
}

static void hb_answered(struct stan *stan, void *context, const struct route_msg *reply);

static void hb_fired(struct timer_entry *entry, void *ctx)
{
    struct stan_client *client = ctx;
    struct stan *stan = client->stan;
    (void)entry;
    if (client->hb_request != 0) {
        return; /* one at a time */
    }
    if (stan_request(stan, client->hb_inbox, NULL, 0, stan->hb_timeout_ns, hb_answered, client,
                     &client->hb_request) != 0) {
        hb_arm(stan, client, stan->hb_interval_ns);
    }
}

static void hb_answered(struct stan *stan, void *context, const struct route_msg *reply)
{
    struct stan_client *client = context;
    client->hb_request = 0;
    if (reply != NULL) {
        bool was_failing = client->fhb > 0;
        client->fhb = 0;
        for (size_t i = 0; was_failing && i < client->member_count; i++) {
            /* it was passed over while it did not answer: what waited for it goes now */
            stan_group_backlog_drain(stan, client->members[i]->group);
        }
    } else if (++client->fhb > stan->hb_fail_count) {
        stan_log_debug(stan, "[Client:%s] Timed out on heartbeats", client->id);
        stan_client_close(stan, client, "heartbeats");
        return;
    }
    hb_arm(stan, client, stan->hb_interval_ns);
}

struct stan_client *stan_client_add(struct stan *stan, const char *id, const char *hb_inbox,
                                    const uint8_t *conn_id, size_t conn_id_length,
                                    int32_t protocol, int32_t ping_interval,
                                    int32_t ping_max_out)
{
    if (stan_array_reserve(&stan->clients, &stan->client_capacity, stan->client_count,
                           sizeof *stan->clients, 16) != 0) {
        return NULL;
    }
    struct stan_client *client = calloc(1, sizeof *client);
    if (client == NULL) {
        return NULL;
    }
    client->stan = stan;
    client->id = strdup(id);
    client->hb_inbox = strdup(hb_inbox);
    client->conn_id = conn_id_length > 0 ? malloc(conn_id_length) : NULL;
    timer_entry_init(&client->hb_timer, hb_fired, client);
    if (client->id == NULL || client->hb_inbox == NULL ||
        (conn_id_length > 0 && client->conn_id == NULL)) {
        client_free(stan, client);
        return NULL;
    }
    if (conn_id_length > 0) {
        memcpy(client->conn_id, conn_id, conn_id_length);
    }
    client->conn_id_length = conn_id_length;
    client->protocol = protocol;
    client->ping_interval = ping_interval;
    client->ping_max_out = ping_max_out;
    if (stan_map_put(&stan->clients_by_id, id, strlen(id), client) != 0) {
        client_free(stan, client);
        return NULL;
    }
    if (conn_id_length > 0 &&
        stan_map_put(&stan->clients_by_conn, conn_id, conn_id_length, client) != 0) {
        stan_map_remove(&stan->clients_by_id, id, strlen(id));
        client_free(stan, client);
        return NULL;
    }
    client->index = stan->client_count;
    stan->clients[stan->client_count++] = client;
    hb_arm(stan, client, stan->hb_interval_ns);
    return client;
}

static void client_unlink(struct stan *stan, struct stan_client *client)
{
    stan_map_remove(&stan->clients_by_id, client->id, strlen(client->id));
    if (client->conn_id_length > 0) {
        stan_map_remove(&stan->clients_by_conn, client->conn_id, client->conn_id_length);
    }
    ASSERT(client->index < stan->client_count && stan->clients[client->index] == client);
    struct stan_client *last = stan->clients[--stan->client_count];
    stan->clients[client->index] = last;
    last->index = client->index;
}

void stan_client_close(struct stan *stan, struct stan_client *client, const char *why)
{
    stan_log_debug(stan, "[Client:%s] Closed (%s)", client->id, why);
    client_unlink(stan, client);
    while (client->member_count > 0) {
        /* leaving takes it off the client's list */
        stan_member_leave(stan, client->members[client->member_count - 1], false);
    }
    stan_persist_client_remove(stan, client->id);
    client_free(stan, client);
}

int stan_client_member_add(struct stan_client *client, struct stan_member *member)
{
    if (stan_array_reserve(&client->members, &client->member_capacity, client->member_count,
                           sizeof *client->members, 4) != 0) {
        return -ENOMEM;
    }
    client->members[client->member_count++] = member;
    return 0;
}

void stan_client_member_remove(struct stan_client *client, struct stan_member *member)
{
    for (size_t i = 0; i < client->member_count; i++) {
        if (client->members[i] == member) {
            client->members[i] = client->members[--client->member_count];
            return;
        }
    }
}

void stan_clients_free(struct stan *stan)
{
    for (size_t i = 0; i < stan->client_count; i++) {
        client_free(stan, stan->clients[i]);
    }
    free(stan->clients);
    stan->clients = NULL;
    stan->client_count = 0;
    stan->client_capacity = 0;
    stan_map_free(&stan->clients_by_id);
    stan_map_free(&stan->clients_by_conn);
}

/* ---- connect ---- */

static void connect_error(struct stan *stan, const char *reply, const char *error)
{
    Pb__ConnectResponse response = PB__CONNECT_RESPONSE__INIT;
    response.error = (char *)error;
    stan_send_pb(stan, reply, &response);
}

static void connect_finish(struct stan *stan, const char *reply, const Pb__ConnectRequest *req)
{
    struct stan_client *client = stan_client_add(
        stan, req->client_id, req->heartbeat_inbox, req->conn_id.data, req->conn_id.len,
        req->protocol, req->ping_interval, req->ping_max_out);
    if (client == NULL) {
        connect_error(stan, reply, "stan: out of memory");
        return;
    }
    int rc = stan_persist_client(stan, client);
    if (rc != 0) {
        LOG_ERROR("STREAM: could not store client %s: %s", client->id, strerror(-rc));
        client_unlink(stan, client);
        client_free(stan, client);
        connect_error(stan, reply, strerror(-rc));
        return;
    }
    Pb__ConnectResponse response = PB__CONNECT_RESPONSE__INIT;
    response.pub_prefix = stan->pub_prefix;
    response.sub_requests = stan->sub_subject;
    response.unsub_requests = stan->unsub_subject;
    response.close_requests = stan->close_subject;
    response.sub_close_requests = stan->subclose_subject;
    response.protocol = STAN_PROTOCOL;
    if (req->protocol >= STAN_PROTOCOL) {
        response.ping_requests = stan->pings;
        response.ping_interval = req->ping_interval;
        response.ping_max_out = req->ping_max_out;
    }
    stan_log_debug(stan, "[Client:%s] Connected (Inbox=%s)", client->id, client->hb_inbox);
    stan_send_pb(stan, reply, &response);
}

/* A connect whose client id is in use waits for the old client's heartbeat answer. */
struct connect_probe {
    char *reply;
    Pb__ConnectRequest *req;
};

static void probe_answered(struct stan *stan, void *context, const struct route_msg *answer)
{
    struct connect_probe *probe = context;
    struct stan_client *old = stan_client_find(stan, probe->req->client_id);
    if (old != NULL) {
        old->probing = false;
    }
    if (answer != NULL && old != NULL) {
        connect_error(stan, probe->reply, ERR_CLIENT_REGISTERED);
    } else {
        if (old != NULL) {
            stan_client_close(stan, old, "replaced");
        }
        connect_finish(stan, probe->reply, probe->req);
    }
    pb__connect_request__free_unpacked(probe->req, NULL);
    free(probe->reply);
    free(probe);
}

static void probe_start(struct stan *stan, struct stan_client *old, const char *reply,
                        Pb__ConnectRequest *req)
{
    struct connect_probe *probe = calloc(1, sizeof *probe);
    if (probe != NULL) {
        probe->reply = strdup(reply);
        probe->req = req;
    }
    if (probe == NULL || probe->reply == NULL ||
        stan_request(stan, old->hb_inbox, NULL, 0, STAN_DUP_PROBE_NS, probe_answered, probe,
                     NULL) != 0) {
        connect_error(stan, reply, "stan: out of memory");
        if (probe != NULL) {
            free(probe->reply);
            free(probe);
        }
        pb__connect_request__free_unpacked(req, NULL);
        return;
    }
    old->probing = true;
}

static char *slice_dup(struct proto_slice slice)
{
    char *out = malloc((size_t)slice.length + 1);
    if (out != NULL) {
        memcpy(out, slice.data, slice.length);
        out[slice.length] = '\0';
    }
    return out;
}

void stan_on_connect(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct stan *stan = context;
    (void)shard;
    if (msg->reply.length == 0) {
        return;
    }
    char *reply = slice_dup(msg->reply);
    if (reply == NULL) {
        return;
    }
    const uint8_t *body = (const uint8_t *)msg->payload.data + msg->header_length;
    Pb__ConnectRequest *req =
        pb__connect_request__unpack(NULL, msg->payload.length - msg->header_length, body);
    if (req == NULL || req->heartbeat_inbox[0] == '\0') {
        connect_error(stan, reply, ERR_INVALID_CONN_REQ);
    } else if (!config_streaming_id_valid(req->client_id) ||
               strlen(req->client_id) > STAN_NAME_MAX) {
        connect_error(stan, reply, ERR_INVALID_CLIENT_ID);
    } else {
        struct stan_client *old = stan_client_find(stan, req->client_id);
        if (old == NULL) {
            connect_finish(stan, reply, req);
        } else if (old->probing) {
            connect_error(stan, reply, ERR_CLIENT_REGISTERED);
        } else {
            probe_start(stan, old, reply, req); /* takes req */
            req = NULL;
        }
    }
    if (req != NULL) {
        pb__connect_request__free_unpacked(req, NULL);
    }
    free(reply);
}

/* ---- pings and close ---- */

void stan_on_ping(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct stan *stan = context;
    (void)shard;
    size_t length = msg->payload.length - msg->header_length;
    if (msg->reply.length == 0 || length == 0) {
        return;
    }
    Pb__Ping *ping =
        pb__ping__unpack(NULL, length, (const uint8_t *)msg->payload.data + msg->header_length);
    if (ping == NULL) {
        return;
    }
    struct stan_client *client = stan_client_find_conn(stan, ping->conn_id.data, ping->conn_id.len);
    pb__ping__free_unpacked(ping, NULL);
    char *reply = slice_dup(msg->reply);
    if (reply == NULL) {
        return;
    }
    Pb__PingResponse response = PB__PING_RESPONSE__INIT;
    if (client == NULL) {
        response.error = (char *)ERR_REPLACED;
    } else if (client->fhb > 0 && client->hb_request == 0) {
        hb_arm(stan, client, 1000000); /* it is back: ask again at once */
    }
    stan_send_pb(stan, reply, &response);
    free(reply);
}

void stan_on_close(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct stan *stan = context;
    (void)shard;
    Pb__CloseRequest *req = pb__close_request__unpack(
        NULL, msg->payload.length - msg->header_length,
        (const uint8_t *)msg->payload.data + msg->header_length);
    Pb__CloseResponse response = PB__CLOSE_RESPONSE__INIT;
    if (req == NULL) {
        response.error = (char *)ERR_INVALID_CLOSE_REQ;
    } else {
        struct stan_client *client = stan_client_find(stan, req->client_id);
        if (client == NULL) {
            response.error = (char *)ERR_UNKNOWN_CLIENT;
        } else {
            stan_client_close(stan, client, "close request");
        }
        pb__close_request__free_unpacked(req, NULL);
    }
    if (msg->reply.length > 0) {
        char *reply = slice_dup(msg->reply);
        if (reply != NULL) {
            stan_send_pb(stan, reply, &response);
            free(reply);
        }
    }
}
