/* NATS Streaming (STAN) over raw NATS: libnats carries the protocol's protobuf messages
 * (protoc-c's code from proto/stan.proto), so every request, reply and field the server sends
 * is checked on the wire, with the exact texts and values of nats-streaming-server 0.25.6.
 *
 * Covered: connect (the subjects of the ConnectResponse, protocol 1, the client's ping
 * fields echoed; malformed, an empty heartbeat inbox, an invalid client id; a client id in
 * use whose owner answers the probe, and one whose owner does not: replaced after the
 * 500 ms probe), client pings, publish (the PubAck, the MsgProto fields, invalid requests,
 * channel names, a case conflict), subscribe (the errors in the server's order, every start
 * position, max in flight, manual acks, redelivery after the ack wait with its count), queue
 * groups (one member per message, the least loaded member first, a leaving member's
 * messages handed to the others, a durable group kept while it has no member), durables
 * (closed and resumed, with a new max in flight, unsubscribed and made again), unsubscribe
 * and subscription close and their errors, connection close, server heartbeats
 * (-hbi/-hbt/-hbf), the store limits (-mc, -msu, -mm), and a broker killed with SIGKILL and
 * restarted on its store: with the FILE store the client and its durables (online or
 * closed, plain or queue) survive and every PubAcked publish is there, also when the kill
 * comes with publishes in flight; with the MEMORY store nothing survives.
 *
 * One TCase per test: CK_RUN_CASE=<test name without test_stan_> runs one. Where ionats
 * differs from the reference on purpose, the test says so and expects each its own way (a
 * channel name with whitespace); everything else expects the reference's behaviour of both.
 *
 * The broker is $IONATS_BIN (ionats: -cid <cluster> -sd <dir>), or with
 * IONATS_TEST_SERVER=nats-streaming-server the reference server ($IONATS_STAN_SERVER_BIN;
 * -cid <cluster> --dir <dir>). Both are given -st explicitly: ionats's default store is FILE
 * where nats-streaming-server's is MEMORY, an intended difference. With
 * IONATS_TEST_SERVER=nats-server (no streaming) the suite is skipped.
 *
 * Every wait is bounded (ST_WAIT_MS for what must come, ST_QUIET_MS where nothing may);
 * everything listens on loopback; the fixture stops what a test started. Test thread only,
 * except the libnats callbacks (heartbeat answers, deliveries), which only record. */
#include "tests/integration/itest.h"

#include "proto/stan.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The cluster id every test serves. */
#define CID "stan-test"
#define SUBJ_DISCOVER "_STAN.discover." CID
#define SUBJ_PUB "_STAN.pub." CID
#define SUBJ_SUB "_STAN.sub." CID
#define SUBJ_UNSUB "_STAN.unsub." CID
#define SUBJ_SUBCLOSE "_STAN.subclose." CID
#define SUBJ_CLOSE "_STAN.close." CID
#define SUBJ_PINGS "_STAN.discover." CID ".pings"

/* The reference's texts (see the file comment). */
#define ERR_CONNECT "stan: invalid connection request"
#define ERR_CLIENT_ID "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed"
#define ERR_REGISTERED "stan: clientID already registered"
#define ERR_REPLACED "client has been replaced or is no longer registered"
#define ERR_PUB "stan: invalid publish request"
#define ERR_SUB_REQUEST "stan: invalid subscription request"
#define ERR_MISSING_CLIENT "stan: clientID missing"
#define ERR_ACK_WAIT "stan: invalid ack wait time, should be >= 1s"
#define ERR_MAX_INFLIGHT "stan: invalid MaxInflight, should be >= 1"
#define ERR_START "stan: invalid start position"
#define ERR_SUBJECT "stan: invalid subject"
#define ERR_UNKNOWN_CLIENT "stan: unknown clientID"
#define ERR_DURABLE_QUEUE                                                                          \
    "stan: durable name of a durable queue subscriber can't contain the character ':'"
#define ERR_DUP_DURABLE "stan: duplicate durable registration"
#define ERR_UNSUB_REQUEST "stan: invalid unsubscribe request"
#define ERR_UNKNOWN_CHANNEL "stan: unknown channel"
#define ERR_INVALID_SUB "stan: invalid subscription"
#define ERR_CLOSE_REQUEST "stan: invalid close request"
#define ERR_TOO_MANY_CHANNELS "too many channels"
#define ERR_TOO_MANY_SUBS "too many subscriptions per channel"

/* What must come: a reply, a delivery (the broker does it at once; generous for a loaded
 * machine). */
enum { ST_WAIT_MS = 5000 };
/* Where nothing may come: how long the test watches. */
enum { ST_QUIET_MS = 300 };
/* One test's run at most. */
enum { ST_TCASE_TIMEOUT_S = 60 };
/* Deliveries one subscription records. */
enum { ST_MSGS_MAX = 4096 };
/* The longest payload a delivery record keeps. */
enum { ST_DATA_MAX = 128 };
/* Clients and subscriptions one test makes at most. */
enum { ST_CLIENTS_MAX = 16, ST_SUBS_MAX = 48 };
/* An error text or subject kept from a reply. */
enum { ST_TEXT_MAX = 256 };

/* ---- the broker ---- */

/* The TCase's base store directory (each test's is under it), made and removed by the
 * unchecked fixture in the parent process, so a forked test that fails leaves nothing. */
static char st_base_dir[64];

struct st_client;
struct st_sub;

static struct {
    char store_dir[128];
    const char *args[40];
    struct test_server_options options;
    struct test_server server; /* pid 0 while stopped */
    struct st_client *clients[ST_CLIENTS_MAX];
    struct st_sub *subs[ST_SUBS_MAX];
} st;

static void st_wait_ready(void);

static bool st_reference(void)
{
    return test_server_stan_reference();
}

static void st_base_setup(void)
{
    int rc = test_store_dir_create(st_base_dir, sizeof st_base_dir);
    ck_assert_msg(rc == 0, "store dir: %s", strerror(-rc));
}

static void st_base_teardown(void)
{
    if (st_base_dir[0] != '\0') {
        test_store_dir_remove(st_base_dir);
        st_base_dir[0] = '\0';
    }
}

/* Starts the broker with streaming on `store` ("FILE" or "MEMORY") in a fresh directory,
 * with `extra` (NULL-terminated, the flags both servers spell the same way) after it. */
static void st_start(const char *store, const char *const *extra)
{
    memset(&st, 0, sizeof st);
    ck_assert_msg(st_base_dir[0] != '\0', "no base store dir (fixture missing)");
    snprintf(st.store_dir, sizeof st.store_dir, "%s/t-XXXXXX", st_base_dir);
    ck_assert_msg(mkdtemp(st.store_dir) != NULL, "mkdtemp: %s", strerror(errno));
    size_t n = 0;
    st.args[n++] = "-cid";
    st.args[n++] = CID;
    /* Both get -st: the defaults differ on purpose (ionats FILE, the reference MEMORY). */
    st.args[n++] = "-st";
    st.args[n++] = store;
    if (st_reference()) {
        /* its FILE store's root; -SD logs its connects and subscriptions */
        st.args[n++] = "--dir";
        st.args[n++] = st.store_dir;
        st.args[n++] = "-SD";
    } else {
        /* channels are JetStream streams under -sd, clients and subscriptions under
         * <sd>/streaming */
        st.args[n++] = "-sd";
        st.args[n++] = st.store_dir;
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        ck_assert_uint_lt(n, sizeof st.args / sizeof st.args[0] - 1);
        st.args[n++] = extra[i];
    }
    st.args[n] = NULL;
    st.options.extra_args = st.args;
    int rc = test_server_start(&st.server, &st.options);
    ck_assert_msg(rc == 0, "broker did not start: %s", strerror(-rc));
    st_wait_ready();
}

/* ---- protobuf on NATS ---- */

static natsConnection *st_nats_connect(void)
{
    natsOptions *options = itest_options(st.server.url);
    natsConnection *connection = NULL;
    natsStatus status = natsConnection_Connect(&connection, options);
    natsOptions_Destroy(options);
    if (status != NATS_OK) {
        const char *error = itest_last_error();
        bool running = test_server_running(&st.server);
        ck_abort_msg("connect to %s: %s (%s); the broker is %s", st.server.url,
                     natsStatus_GetText(status), error, running ? "running" : "gone");
    }
    return connection;
}

/* A request whose reply must come within ST_WAIT_MS; the caller destroys the reply. */
static natsMsg *st_request_bytes(natsConnection *nc, const char *subject, const void *data,
                                 size_t length)
{
    natsMsg *reply = NULL;
    natsStatus status =
        natsConnection_Request(&reply, nc, subject, data, (int)length, ST_WAIT_MS);
    if (status != NATS_OK) {
        bool running = test_server_running(&st.server);
        ck_abort_msg("request to %s: %s (%s); the broker is %s", subject,
                     natsStatus_GetText(status), itest_last_error(),
                     running ? "running" : "gone");
    }
    return reply;
}

static natsMsg *st_request_pb(natsConnection *nc, const char *subject,
                              const ProtobufCMessage *message)
{
    size_t length = protobuf_c_message_get_packed_size(message);
    uint8_t *buffer = malloc(length + 1);
    ck_assert_ptr_nonnull(buffer);
    protobuf_c_message_pack(message, buffer);
    natsMsg *reply = st_request_bytes(nc, subject, buffer, length);
    free(buffer);
    return reply;
}

static void st_publish_pb(natsConnection *nc, const char *subject,
                          const ProtobufCMessage *message)
{
    size_t length = protobuf_c_message_get_packed_size(message);
    uint8_t *buffer = malloc(length + 1);
    ck_assert_ptr_nonnull(buffer);
    protobuf_c_message_pack(message, buffer);
    ITEST_OK(natsConnection_Publish(nc, subject, buffer, (int)length));
    free(buffer);
}

static void copy_text(char *to, size_t size, const char *from)
{
    snprintf(to, size, "%s", from != NULL ? from : "");
}

/* A protobuf payload that no decoder accepts: field 1 (length-delimited) claims 16 bytes
 * and 3 follow. */
static const char st_malformed[] = "\x0a\x10" "abc";
#define ST_MALFORMED_LENGTH (sizeof st_malformed - 1)

/* Waits (ST_WAIT_MS) until streaming answers on the discover subject: the reference
 * server accepts NATS connections before its streaming part has subscribed. */
static void st_wait_ready(void)
{
    natsConnection *nc = st_nats_connect();
    int64_t deadline = itest_now_ms() + ST_WAIT_MS;
    natsStatus status = NATS_TIMEOUT;
    while (status != NATS_OK && itest_now_ms() < deadline) {
        natsMsg *reply = NULL;
        status = natsConnection_Request(&reply, nc, SUBJ_DISCOVER, st_malformed,
                                        (int)ST_MALFORMED_LENGTH, 200);
        natsMsg_Destroy(reply);
        if (status == NATS_NO_RESPONDERS) {
            usleep(20 * 1000);
        }
    }
    natsConnection_Destroy(nc);
    ck_assert_msg(status == NATS_OK, "streaming did not answer on %s in %d ms: %s",
                  SUBJ_DISCOVER, ST_WAIT_MS, natsStatus_GetText(status));
}

/* Kills the broker (SIGKILL), closes `client`'s connection (a client that died with it or
 * lost it), and starts the broker again on the same store. */
static void st_client_drop(struct st_client *client);

static void st_kill_restart(struct st_client *client)
{
    test_server_kill(&st.server);
    st_client_drop(client);
    int rc = test_server_restart(&st.server, &st.options);
    ck_assert_msg(rc == 0, "restart: %s", strerror(-rc));
    st_wait_ready();
}

/* ---- a STAN client ---- */

struct st_client {
    natsConnection *nc; /* its own NATS connection */
    char id[64];
    char conn_id[64];
    char hb_inbox[96];
    natsSubscription *hb_sub;
    atomic_bool answer;            /* answer heartbeats and probes */
    atomic_bool hb_odd;            /* a heartbeat came with a payload or no reply subject */
    struct itest_counter heartbeats; /* heartbeats (and probes) received */
};

static void st_heartbeat_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                            void *closure)
{
    (void)sub;
    struct st_client *client = closure;
    const char *reply = natsMsg_GetReply(msg);
    if (reply == NULL || reply[0] == '\0' || natsMsg_GetDataLength(msg) != 0) {
        atomic_store(&client->hb_odd, true);
    }
    if (reply != NULL && atomic_load(&client->answer)) {
        /* what the node client does: an empty publish to the reply */
        natsConnection_Publish(nc, reply, NULL, 0);
    }
    natsMsg_Destroy(msg);
    itest_counter_add(&client->heartbeats, 1);
}

/* A client with its own connection and heartbeat inbox, not connected to streaming yet. */
static struct st_client *st_client_new(const char *id, bool answer)
{
    struct st_client *client = calloc(1, sizeof *client);
    ck_assert_ptr_nonnull(client);
    size_t slot = 0;
    while (slot < ST_CLIENTS_MAX && st.clients[slot] != NULL) {
        slot++;
    }
    ck_assert_uint_lt(slot, ST_CLIENTS_MAX);
    st.clients[slot] = client;
    static unsigned serial;
    copy_text(client->id, sizeof client->id, id);
    snprintf(client->conn_id, sizeof client->conn_id, "conn-%d-%u-%s", (int)getpid(),
             ++serial, id);
    atomic_init(&client->answer, answer);
    atomic_init(&client->hb_odd, false);
    itest_counter_init(&client->heartbeats);
    client->nc = st_nats_connect();
    natsInbox *inbox = NULL;
    ITEST_OK(natsInbox_Create(&inbox));
    copy_text(client->hb_inbox, sizeof client->hb_inbox, inbox);
    natsInbox_Destroy(inbox);
    ITEST_OK(natsConnection_Subscribe(&client->hb_sub, client->nc, client->hb_inbox,
                                      st_heartbeat_cb, client));
    itest_flush(client->nc);
    return client;
}

/* Its NATS connection closed: it answers nothing any more (a client that died). */
static void st_client_drop(struct st_client *client)
{
    if (client->hb_sub != NULL) {
        natsSubscription_Destroy(client->hb_sub);
        client->hb_sub = NULL;
    }
    if (client->nc != NULL) {
        natsConnection_Destroy(client->nc);
        client->nc = NULL;
    }
}

/* The ConnectRequest a node client sends: protocol 1, pings every 5 s, 3 out at most. */
static Pb__ConnectRequest st_connect_request(const struct st_client *client)
{
    Pb__ConnectRequest request = PB__CONNECT_REQUEST__INIT;
    request.client_id = (char *)client->id;
    request.heartbeat_inbox = (char *)client->hb_inbox;
    request.protocol = 1;
    request.conn_id.data = (uint8_t *)client->conn_id;
    request.conn_id.len = strlen(client->conn_id);
    request.ping_interval = 5;
    request.ping_max_out = 3;
    return request;
}

/* Sends `request` on the client's connection; the caller frees the response. */
static Pb__ConnectResponse *st_connect_raw(natsConnection *nc, const void *data, size_t length)
{
    natsMsg *reply = st_request_bytes(nc, SUBJ_DISCOVER, data, length);
    Pb__ConnectResponse *response = pb__connect_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_msg(response != NULL, "a ConnectResponse that does not decode");
    return response;
}

static Pb__ConnectResponse *st_connect_request_send(struct st_client *client,
                                                    const Pb__ConnectRequest *request)
{
    natsMsg *reply = st_request_pb(client->nc, SUBJ_DISCOVER, &request->base);
    Pb__ConnectResponse *response = pb__connect_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_msg(response != NULL, "a ConnectResponse that does not decode");
    return response;
}

/* Connects `client` to streaming; the response's error text into `error` ("" when it
 * connected, then the subjects are checked). */
static void st_connect_try(struct st_client *client, char *error, size_t size)
{
    Pb__ConnectRequest request = st_connect_request(client);
    Pb__ConnectResponse *response = st_connect_request_send(client, &request);
    copy_text(error, size, response->error);
    if (response->error[0] == '\0') {
        ck_assert_str_eq(response->pub_prefix, SUBJ_PUB);
        ck_assert_str_eq(response->sub_requests, SUBJ_SUB);
        ck_assert_str_eq(response->close_requests, SUBJ_CLOSE);
    }
    pb__connect_response__free_unpacked(response, NULL);
}

/* A connected client (the connect must succeed). */
static struct st_client *st_client_open(const char *id)
{
    struct st_client *client = st_client_new(id, true);
    char error[ST_TEXT_MAX];
    st_connect_try(client, error, sizeof error);
    ck_assert_msg(error[0] == '\0', "connect %s: \"%s\"", id, error);
    return client;
}

/* A Ping with `conn_id` (NULL: the client's own); the PingResponse's error into `error`. */
static void st_ping(struct st_client *client, const char *conn_id, char *error, size_t size)
{
    Pb__Ping ping = PB__PING__INIT;
    const char *id = conn_id != NULL ? conn_id : client->conn_id;
    ping.conn_id.data = (uint8_t *)id;
    ping.conn_id.len = strlen(id);
    natsMsg *reply = st_request_pb(client->nc, SUBJ_PINGS, &ping.base);
    Pb__PingResponse *response = pb__ping_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    ck_assert_msg(response != NULL, "a PingResponse that does not decode");
    copy_text(error, size, response->error);
    if (response->error[0] == '\0') {
        /* PingResponse{} is an empty payload */
        ck_assert_int_eq(natsMsg_GetDataLength(reply), 0);
    }
    pb__ping_response__free_unpacked(response, NULL);
    natsMsg_Destroy(reply);
}

static void st_ping_expect(struct st_client *client, const char *conn_id, const char *want)
{
    char error[ST_TEXT_MAX];
    st_ping(client, conn_id, error, sizeof error);
    ck_assert_msg(strcmp(error, want) == 0, "ping %s: \"%s\", want \"%s\"",
                  conn_id != NULL ? conn_id : client->conn_id, error, want);
}

/* A CloseRequest for `id` (NULL: the client's); its error text into `error`. */
static void st_close_try(struct st_client *client, const char *id, char *error, size_t size)
{
    Pb__CloseRequest request = PB__CLOSE_REQUEST__INIT;
    request.client_id = (char *)(id != NULL ? id : client->id);
    natsMsg *reply = st_request_pb(client->nc, SUBJ_CLOSE, &request.base);
    Pb__CloseResponse *response = pb__close_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_msg(response != NULL, "a CloseResponse that does not decode");
    copy_text(error, size, response->error);
    pb__close_response__free_unpacked(response, NULL);
}

static void st_close_expect(struct st_client *client, const char *id, const char *want)
{
    char error[ST_TEXT_MAX];
    st_close_try(client, id, error, sizeof error);
    ck_assert_msg(strcmp(error, want) == 0, "close %s: \"%s\", want \"%s\"",
                  id != NULL ? id : client->id, error, want);
}

/* ---- publish ---- */

/* Publishes `msg` on `nats_subject` and returns its PubAck (the caller frees it). */
static Pb__PubAck *st_publish_raw(natsConnection *nc, const char *nats_subject,
                                  const Pb__PubMsg *msg)
{
    natsMsg *reply = st_request_pb(nc, nats_subject, &msg->base);
    Pb__PubAck *ack = pb__pub_ack__unpack(NULL, (size_t)natsMsg_GetDataLength(reply),
                                          (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_msg(ack != NULL, "a PubAck that does not decode");
    return ack;
}

/* Publishes `data` to `channel` as a node client does (client id, conn id, a fresh guid);
 * the PubAck's error into `error` ("" when stored). The guid must come back. */
static void st_publish_try(struct st_client *client, const char *channel, const void *data,
                           size_t length, char *error, size_t size)
{
    static unsigned serial;
    char guid[64];
    snprintf(guid, sizeof guid, "guid-%d-%u", (int)getpid(), ++serial);
    char subject[ST_TEXT_MAX];
    snprintf(subject, sizeof subject, "%s.%s", SUBJ_PUB, channel);
    Pb__PubMsg msg = PB__PUB_MSG__INIT;
    msg.client_id = client->id;
    msg.conn_id.data = (uint8_t *)client->conn_id;
    msg.conn_id.len = strlen(client->conn_id);
    msg.guid = guid;
    msg.subject = (char *)channel;
    msg.data.data = (uint8_t *)data;
    msg.data.len = length;
    Pb__PubAck *ack = st_publish_raw(client->nc, subject, &msg);
    ck_assert_str_eq(ack->guid, guid);
    copy_text(error, size, ack->error);
    pb__pub_ack__free_unpacked(ack, NULL);
}

/* A publish that must be stored. */
static void st_publish(struct st_client *client, const char *channel, const char *text)
{
    char error[ST_TEXT_MAX];
    st_publish_try(client, channel, text, strlen(text), error, sizeof error);
    ck_assert_msg(error[0] == '\0', "publish to %s: \"%s\"", channel, error);
}

/* Publishes "<prefix><i>" for i in [first, first + count). */
static void st_publish_n(struct st_client *client, const char *channel, int first, int count)
{
    for (int i = first; i < first + count; i++) {
        char text[32];
        snprintf(text, sizeof text, "m%d", i);
        st_publish(client, channel, text);
    }
}

/* ---- subscriptions ---- */

struct st_delivery {
    uint64_t seq;
    char subject[64];
    char reply[64];
    uint8_t data[ST_DATA_MAX];
    size_t length;
    int64_t timestamp;
    bool redelivered;
    uint32_t redelivery_count;
    int64_t at_ms; /* when it arrived (monotonic) */
};

struct st_sub {
    struct st_client *client;
    char channel[ST_TEXT_MAX];
    char inbox[96];
    char ack_inbox[ST_TEXT_MAX];
    natsSubscription *sub;
    bool manual; /* auto-ack off */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct st_delivery msgs[ST_MSGS_MAX];
    size_t count;
    bool undecodable; /* a delivery that was not a MsgProto */
};

/* Start options; zero is the node client's default where it has one. */
struct st_sub_options {
    const char *queue;
    const char *durable;
    int start;         /* PB__START_POSITION__*; 0 new only */
    uint64_t start_seq;
    int64_t delta_ns;
    int32_t max_inflight; /* 0: 1024 */
    int32_t ack_wait;     /* 0: 30 s */
    bool manual;
};

static void st_ack(struct st_sub *sub, uint64_t seq);

static void st_delivery_cb(natsConnection *nc, natsSubscription *nsub, natsMsg *msg,
                           void *closure)
{
    (void)nc;
    (void)nsub;
    struct st_sub *sub = closure;
    Pb__MsgProto *proto = pb__msg_proto__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                                (const uint8_t *)natsMsg_GetData(msg));
    natsMsg_Destroy(msg);
    pthread_mutex_lock(&sub->lock);
    if (proto == NULL) {
        sub->undecodable = true;
    } else if (sub->count < ST_MSGS_MAX) {
        struct st_delivery *d = &sub->msgs[sub->count];
        d->seq = proto->sequence;
        copy_text(d->subject, sizeof d->subject, proto->subject);
        copy_text(d->reply, sizeof d->reply, proto->reply);
        d->length = proto->data.len;
        if (proto->data.len > 0) { /* an empty message has no data pointer */
            memcpy(d->data, proto->data.data,
                   proto->data.len < ST_DATA_MAX ? proto->data.len : ST_DATA_MAX);
        }
        d->timestamp = proto->timestamp;
        d->redelivered = proto->redelivered;
        d->redelivery_count = proto->redelivery_count;
        d->at_ms = itest_now_ms();
        sub->count++;
    }
    pthread_cond_broadcast(&sub->changed);
    bool ack = proto != NULL && !sub->manual && sub->ack_inbox[0] != '\0';
    uint64_t seq = proto != NULL ? proto->sequence : 0;
    pthread_mutex_unlock(&sub->lock);
    if (ack) {
        st_ack(sub, seq);
    }
    if (proto != NULL) {
        pb__msg_proto__free_unpacked(proto, NULL);
    }
}

/* A subscription's inbox, listened to on the client's connection; not requested yet. */
static struct st_sub *st_sub_new(struct st_client *client, const char *channel, bool manual)
{
    struct st_sub *sub = calloc(1, sizeof *sub);
    ck_assert_ptr_nonnull(sub);
    size_t slot = 0;
    while (slot < ST_SUBS_MAX && st.subs[slot] != NULL) {
        slot++;
    }
    ck_assert_uint_lt(slot, ST_SUBS_MAX);
    st.subs[slot] = sub;
    sub->client = client;
    sub->manual = manual;
    copy_text(sub->channel, sizeof sub->channel, channel);
    pthread_mutex_init(&sub->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&sub->changed, &attr);
    pthread_condattr_destroy(&attr);
    natsInbox *inbox = NULL;
    ITEST_OK(natsInbox_Create(&inbox));
    copy_text(sub->inbox, sizeof sub->inbox, inbox);
    natsInbox_Destroy(inbox);
    ITEST_OK(natsConnection_Subscribe(&sub->sub, client->nc, sub->inbox, st_delivery_cb, sub));
    itest_flush(client->nc);
    return sub;
}

static Pb__SubscriptionRequest st_sub_request(const struct st_sub *sub,
                                              const struct st_sub_options *o)
{
    Pb__SubscriptionRequest request = PB__SUBSCRIPTION_REQUEST__INIT;
    request.client_id = (char *)sub->client->id;
    request.subject = (char *)sub->channel;
    request.q_group = (char *)(o->queue != NULL ? o->queue : "");
    request.inbox = (char *)sub->inbox;
    request.max_in_flight = o->max_inflight != 0 ? o->max_inflight : 1024;
    request.ack_wait_in_secs = o->ack_wait != 0 ? o->ack_wait : 30;
    request.durable_name = (char *)(o->durable != NULL ? o->durable : "");
    request.start_position = (Pb__StartPosition)o->start;
    request.start_sequence = o->start_seq;
    request.start_time_delta = o->delta_ns;
    return request;
}

/* Sends a SubscriptionRequest on `nc`; the error into `error`, the ack inbox into
 * `ack_inbox` (may be NULL). */
static void st_sub_request_send(natsConnection *nc, const Pb__SubscriptionRequest *request,
                                char *error, size_t size, char *ack_inbox, size_t ack_size)
{
    natsMsg *reply = st_request_pb(nc, SUBJ_SUB, &request->base);
    Pb__SubscriptionResponse *response = pb__subscription_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_msg(response != NULL, "a SubscriptionResponse that does not decode");
    copy_text(error, size, response->error);
    if (ack_inbox != NULL) {
        copy_text(ack_inbox, ack_size, response->ack_inbox);
    }
    pb__subscription_response__free_unpacked(response, NULL);
}

/* Subscribes `sub` with `o`; the error text into `error`. */
static void st_subscribe_try(struct st_sub *sub, const struct st_sub_options *o, char *error,
                             size_t size)
{
    Pb__SubscriptionRequest request = st_sub_request(sub, o);
    char ack_inbox[ST_TEXT_MAX];
    st_sub_request_send(sub->client->nc, &request, error, size, ack_inbox, sizeof ack_inbox);
    if (error[0] == '\0') {
        ck_assert_msg(ack_inbox[0] != '\0', "a SubscriptionResponse without an ack inbox");
        pthread_mutex_lock(&sub->lock);
        copy_text(sub->ack_inbox, sizeof sub->ack_inbox, ack_inbox);
        pthread_mutex_unlock(&sub->lock);
    }
}

/* A subscription that must succeed. */
static struct st_sub *st_subscribe(struct st_client *client, const char *channel,
                                   struct st_sub_options o)
{
    struct st_sub *sub = st_sub_new(client, channel, o.manual);
    char error[ST_TEXT_MAX];
    st_subscribe_try(sub, &o, error, sizeof error);
    ck_assert_msg(error[0] == '\0', "subscribe to %s: \"%s\"", channel, error);
    return sub;
}

/* A subscription that must fail with `want`. */
static void st_subscribe_fails(struct st_client *client, const char *channel,
                               struct st_sub_options o, const char *want)
{
    struct st_sub *sub = st_sub_new(client, channel, o.manual);
    char error[ST_TEXT_MAX];
    st_subscribe_try(sub, &o, error, sizeof error);
    ck_assert_msg(strcmp(error, want) == 0, "subscribe to %s: \"%s\", want \"%s\"", channel,
                  error, want);
}

/* Waits until `sub` has recorded `count` deliveries or ST_WAIT_MS passes; returns how
 * many it has. */
static size_t st_wait_count(struct st_sub *sub, size_t count, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&sub->lock);
    while (sub->count < count) {
        if (pthread_cond_timedwait(&sub->changed, &sub->lock, &deadline) != 0) {
            break;
        }
    }
    size_t got = sub->count;
    pthread_mutex_unlock(&sub->lock);
    return got;
}

static size_t st_count(struct st_sub *sub)
{
    pthread_mutex_lock(&sub->lock);
    size_t count = sub->count;
    pthread_mutex_unlock(&sub->lock);
    return count;
}

/* A copy of delivery `index`. */
static struct st_delivery st_msg(struct st_sub *sub, size_t index)
{
    pthread_mutex_lock(&sub->lock);
    ck_assert_msg(index < sub->count, "delivery %zu of %zu", index, sub->count);
    struct st_delivery d = sub->msgs[index];
    pthread_mutex_unlock(&sub->lock);
    return d;
}

/* "1@0,2@1,1r@1003" of the deliveries from `from` on, for failure messages: each
 * sequence, "r" when marked redelivered, and when it came (ms after the first listed). */
static const char *st_seqs_text(struct st_sub *sub, size_t from)
{
    static char text[4096];
    size_t used = 0;
    text[0] = '\0';
    pthread_mutex_lock(&sub->lock);
    for (size_t i = from; i < sub->count && used + 48 < sizeof text; i++) {
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%" PRIu64 "%s@%" PRId64,
                                 i > from ? "," : "", sub->msgs[i].seq,
                                 sub->msgs[i].redelivered ? "r" : "",
                                 sub->msgs[i].at_ms - sub->msgs[from].at_ms);
    }
    pthread_mutex_unlock(&sub->lock);
    return used > 0 ? text : "(none)";
}

/* Expects the sequences `seqs` (n of them) as the next deliveries from index `from`,
 * each redelivered as `redelivered` says; then, when `quiet`, nothing for ST_QUIET_MS. */
static void st_expect_seqs_then(struct st_sub *sub, size_t from, const uint64_t *seqs,
                                size_t n, bool redelivered, bool quiet)
{
    size_t got = st_wait_count(sub, from + n, ST_WAIT_MS);
    ck_assert_msg(got >= from + n, "%s: %zu deliveries from #%zu, want %zu (got %s)",
                  sub->channel, got - from, from, n, st_seqs_text(sub, from));
    for (size_t i = 0; i < n; i++) {
        struct st_delivery d = st_msg(sub, from + i);
        ck_assert_msg(d.seq == seqs[i], "%s: delivery #%zu is seq %" PRIu64 ", want %" PRIu64
                      " (got %s)", sub->channel, from + i, d.seq, seqs[i],
                      st_seqs_text(sub, from));
        ck_assert_msg(d.redelivered == redelivered,
                      "%s: seq %" PRIu64 " redelivered=%d, want %d", sub->channel, d.seq,
                      d.redelivered, redelivered);
    }
    if (!quiet) {
        return;
    }
    usleep(ST_QUIET_MS * 1000);
    ck_assert_msg(st_count(sub) == from + n, "%s: more deliveries than %zu from #%zu; all: %s",
                  sub->channel, n, from, st_seqs_text(sub, 0));
}

/* Exactly `seqs` from `from` on, and then nothing. */
static void st_expect_seqs(struct st_sub *sub, size_t from, const uint64_t *seqs, size_t n,
                           bool redelivered)
{
    st_expect_seqs_then(sub, from, seqs, n, redelivered, true);
}

/* Sequences first..last (inclusive) expected from index `from`. */
static void st_expect_range(struct st_sub *sub, size_t from, uint64_t first, uint64_t last,
                            bool redelivered)
{
    uint64_t seqs[ST_MSGS_MAX];
    size_t n = 0;
    for (uint64_t s = first; s <= last && n < ST_MSGS_MAX; s++) {
        seqs[n++] = s;
    }
    st_expect_seqs(sub, from, seqs, n, redelivered);
}

/* Nothing delivered after index `from` for ST_QUIET_MS. */
static void st_expect_quiet(struct st_sub *sub, size_t from)
{
    usleep(ST_QUIET_MS * 1000);
    ck_assert_msg(st_count(sub) == from, "%s: unexpected deliveries: %s", sub->channel,
                  st_seqs_text(sub, from));
}

static void st_ack(struct st_sub *sub, uint64_t seq)
{
    pthread_mutex_lock(&sub->lock);
    char ack_inbox[ST_TEXT_MAX];
    copy_text(ack_inbox, sizeof ack_inbox, sub->ack_inbox);
    pthread_mutex_unlock(&sub->lock);
    Pb__Ack ack = PB__ACK__INIT;
    ack.subject = sub->channel;
    ack.sequence = seq;
    st_publish_pb(sub->client->nc, ack_inbox, &ack.base);
}

/* An UnsubscribeRequest (close: to the subclose subject) with the given fields; its error
 * text into `error`, and the response must otherwise be empty. */
static void st_unsub_raw(natsConnection *nc, bool close, const char *client_id,
                         const char *channel, const char *inbox, char *error, size_t size)
{
    Pb__UnsubscribeRequest request = PB__UNSUBSCRIBE_REQUEST__INIT;
    request.client_id = (char *)client_id;
    request.subject = (char *)channel;
    request.inbox = (char *)inbox;
    char ack_inbox[ST_TEXT_MAX];
    natsMsg *reply = st_request_pb(nc, close ? SUBJ_SUBCLOSE : SUBJ_UNSUB, &request.base);
    Pb__SubscriptionResponse *response = pb__subscription_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_msg(response != NULL, "a SubscriptionResponse that does not decode");
    copy_text(error, size, response->error);
    copy_text(ack_inbox, sizeof ack_inbox, response->ack_inbox);
    pb__subscription_response__free_unpacked(response, NULL);
    ck_assert_msg(ack_inbox[0] == '\0', "an unsubscribe response with ack inbox %s", ack_inbox);
}

/* Unsubscribes (or closes) `sub` as the node client does (inbox = its ack inbox); must
 * succeed. */
static void st_unsubscribe(struct st_sub *sub, bool close)
{
    char error[ST_TEXT_MAX];
    st_unsub_raw(sub->client->nc, close, sub->client->id, sub->channel, sub->ack_inbox, error,
                 sizeof error);
    ck_assert_msg(error[0] == '\0', "%s %s: \"%s\"", close ? "close" : "unsubscribe",
                  sub->channel, error);
}

/* The deliveries' sequences as a set: true when `seq` was delivered to `sub`. */
static bool st_delivered(struct st_sub *sub, uint64_t seq, struct st_delivery *out)
{
    bool found = false;
    pthread_mutex_lock(&sub->lock);
    for (size_t i = 0; i < sub->count && !found; i++) {
        if (sub->msgs[i].seq == seq) {
            found = true;
            if (out != NULL) {
                *out = sub->msgs[i];
            }
        }
    }
    pthread_mutex_unlock(&sub->lock);
    return found;
}

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void st_teardown(void)
{
    for (size_t i = 0; i < ST_SUBS_MAX; i++) {
        if (st.subs[i] != NULL && st.subs[i]->sub != NULL) {
            natsSubscription_Destroy(st.subs[i]->sub);
            st.subs[i]->sub = NULL;
        }
    }
    for (size_t i = 0; i < ST_CLIENTS_MAX; i++) {
        if (st.clients[i] != NULL) {
            st_client_drop(st.clients[i]);
        }
    }
    if (st.server.pid > 0) {
        test_server_stop(&st.server);
    }
    for (size_t i = 0; i < ST_SUBS_MAX; i++) {
        if (st.subs[i] != NULL) {
            pthread_cond_destroy(&st.subs[i]->changed);
            pthread_mutex_destroy(&st.subs[i]->lock);
            free(st.subs[i]);
        }
    }
    for (size_t i = 0; i < ST_CLIENTS_MAX; i++) {
        if (st.clients[i] != NULL) {
            itest_counter_destroy(&st.clients[i]->heartbeats);
            free(st.clients[i]);
        }
    }
    memset(&st, 0, sizeof st);
}

/* ---- connect ---- */

START_TEST(test_stan_connect_ok)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_new("client-1", true);
    Pb__ConnectRequest request = st_connect_request(client);
    request.ping_interval = 7;
    request.ping_max_out = 4;
    Pb__ConnectResponse *response = st_connect_request_send(client, &request);
    ck_assert_str_eq(response->error, "");
    ck_assert_str_eq(response->pub_prefix, "_STAN.pub." CID);
    ck_assert_str_eq(response->sub_requests, "_STAN.sub." CID);
    ck_assert_str_eq(response->unsub_requests, "_STAN.unsub." CID);
    ck_assert_str_eq(response->close_requests, "_STAN.close." CID);
    ck_assert_str_eq(response->sub_close_requests, "_STAN.subclose." CID);
    ck_assert_str_eq(response->ping_requests, "_STAN.discover." CID ".pings");
    /* the client's own ping settings come back, not the server's */
    ck_assert_int_eq(response->ping_interval, 7);
    ck_assert_int_eq(response->ping_max_out, 4);
    ck_assert_int_eq(response->protocol, 1);
    ck_assert_str_eq(response->public_key, "");
    pb__connect_response__free_unpacked(response, NULL);
    st_ping_expect(client, NULL, "");

    /* protocol 0: no ping subject, no ping fields; the server's protocol is still 1 */
    struct st_client *old = st_client_new("client_0", true);
    request = st_connect_request(old);
    request.protocol = 0;
    response = st_connect_request_send(old, &request);
    ck_assert_str_eq(response->error, "");
    ck_assert_str_eq(response->pub_prefix, "_STAN.pub." CID);
    ck_assert_str_eq(response->sub_close_requests, "_STAN.subclose." CID);
    ck_assert_str_eq(response->ping_requests, "");
    ck_assert_int_eq(response->ping_interval, 0);
    ck_assert_int_eq(response->ping_max_out, 0);
    ck_assert_int_eq(response->protocol, 1);
    pb__connect_response__free_unpacked(response, NULL);

    /* the heartbeat timer starts at connect: no heartbeat with the default 30 s interval */
    ck_assert_int_eq(itest_counter_get(&client->heartbeats), 0);
}
END_TEST

START_TEST(test_stan_connect_errors)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_new("good", true);
    Pb__ConnectResponse *response =
        st_connect_raw(client->nc, st_malformed, ST_MALFORMED_LENGTH);
    ck_assert_str_eq(response->error, ERR_CONNECT);
    /* an error response carries nothing else */
    ck_assert_str_eq(response->pub_prefix, "");
    ck_assert_str_eq(response->sub_requests, "");
    ck_assert_int_eq(response->protocol, 0);
    pb__connect_response__free_unpacked(response, NULL);

    /* an empty heartbeat inbox (checked before the client id: an empty id too) */
    Pb__ConnectRequest request = st_connect_request(client);
    request.heartbeat_inbox = "";
    response = st_connect_request_send(client, &request);
    ck_assert_str_eq(response->error, ERR_CONNECT);
    pb__connect_response__free_unpacked(response, NULL);
    request.client_id = "";
    response = st_connect_request_send(client, &request);
    ck_assert_str_eq(response->error, ERR_CONNECT);
    pb__connect_response__free_unpacked(response, NULL);
    /* an empty payload: every field empty */
    response = st_connect_raw(client->nc, "", 0);
    ck_assert_str_eq(response->error, ERR_CONNECT);
    pb__connect_response__free_unpacked(response, NULL);

    /* client ids: only [a-zA-Z0-9_-]+ (empty included) */
    static const char *const bad_ids[] = {"", "bad id", "bad.id", "bad!", "caf\xc3\xa9", "a*"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        request = st_connect_request(client);
        request.client_id = (char *)bad_ids[i];
        response = st_connect_request_send(client, &request);
        ck_assert_msg(strcmp(response->error, ERR_CLIENT_ID) == 0, "client id \"%s\": \"%s\"",
                      bad_ids[i], response->error);
        pb__connect_response__free_unpacked(response, NULL);
    }
    /* the good id still connects */
    char error[ST_TEXT_MAX];
    st_connect_try(client, error, sizeof error);
    ck_assert_str_eq(error, "");
}
END_TEST

/* The old client answers the probe: the new connect is refused, the old one stays. */
START_TEST(test_stan_connect_duplicate_alive)
{
    st_start("FILE", NULL);
    struct st_client *old = st_client_open("dup");
    struct st_client *again = st_client_new("dup", true);
    int64_t before = itest_counter_get(&old->heartbeats);
    char error[ST_TEXT_MAX];
    st_connect_try(again, error, sizeof error);
    ck_assert_str_eq(error, ERR_REGISTERED);
    /* the server asked the old client (a request with an empty payload) */
    ck_assert_int_eq(itest_counter_get(&old->heartbeats), before + 1);
    ck_assert(!atomic_load(&old->hb_odd));
    st_ping_expect(old, NULL, "");
    st_ping_expect(again, NULL, ERR_REPLACED);
    /* the old client still publishes and subscribes */
    st_publish(old, "dup.ch", "x");
    struct st_sub *sub = st_subscribe(old, "dup.ch", (struct st_sub_options){.start = 4});
    st_expect_range(sub, 0, 1, 1, false);
}
END_TEST

/* The old client does not answer: after the 500 ms probe it is replaced. */
START_TEST(test_stan_connect_duplicate_gone)
{
    st_start("FILE", NULL);
    struct st_client *old = st_client_open("dup");
    struct st_sub *old_sub = st_subscribe(old, "dup.gone", (struct st_sub_options){0});
    atomic_store(&old->answer, false);
    struct st_client *fresh = st_client_new("dup", true);
    int64_t start = itest_now_ms();
    char error[ST_TEXT_MAX];
    st_connect_try(fresh, error, sizeof error);
    int64_t took = itest_now_ms() - start;
    ck_assert_str_eq(error, "");
    ck_assert_msg(took >= 400 && took < 3000, "the replacing connect took %" PRId64
                  " ms, want about 500 (the probe's wait)", took);
    ck_assert_int_ge(itest_counter_get(&old->heartbeats), 1);
    st_ping_expect(fresh, NULL, "");
    st_ping_expect(fresh, old->conn_id, ERR_REPLACED);
    /* the old client's subscription went with it */
    st_publish(fresh, "dup.gone", "after");
    st_expect_quiet(old_sub, 0);
    /* a connect for an id whose probe is under way is refused at once */
    atomic_store(&fresh->answer, false);
    struct st_client *first = st_client_new("dup", true);
    struct st_client *second = st_client_new("dup", true);
    natsSubscription *pending = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&pending, first->nc, "dup.pending.reply"));
    long probes = itest_counter_get(&fresh->heartbeats);
    Pb__ConnectRequest request = st_connect_request(first);
    uint8_t buffer[512];
    size_t length = pb__connect_request__pack(&request, buffer);
    ITEST_OK(natsConnection_PublishRequest(first->nc, SUBJ_DISCOVER, "dup.pending.reply",
                                           buffer, (int)length));
    itest_flush(first->nc);
    /* the first connect's probe is out once the silent client has seen it */
    ck_assert_int_ge(itest_counter_wait(&fresh->heartbeats, probes + 1, ST_WAIT_MS),
                     probes + 1);
    start = itest_now_ms();
    st_connect_try(second, error, sizeof error);
    took = itest_now_ms() - start;
    ck_assert_str_eq(error, ERR_REGISTERED);
    /* at once: not after a probe of its own (500 ms) */
    ck_assert_msg(took < 400, "refused after %" PRId64 " ms, want at once", took);
    natsMsg *reply = NULL;
    ITEST_OK(natsSubscription_NextMsg(&reply, pending, ST_WAIT_MS));
    Pb__ConnectResponse *response = pb__connect_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    natsSubscription_Destroy(pending);
    ck_assert_ptr_nonnull(response);
    ck_assert_str_eq(response->error, "");
    pb__connect_response__free_unpacked(response, NULL);
    st_ping_expect(first, NULL, "");
    st_ping_expect(first, fresh->conn_id, ERR_REPLACED);
    fresh = first;

    /* a client whose connection is gone altogether is replaced too */
    st_client_drop(fresh);
    struct st_client *third = st_client_new("dup", true);
    start = itest_now_ms();
    st_connect_try(third, error, sizeof error);
    took = itest_now_ms() - start;
    ck_assert_str_eq(error, "");
    ck_assert_msg(took < 3000, "the replacing connect took %" PRId64 " ms", took);
}
END_TEST

START_TEST(test_stan_ping)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("pinger");
    st_ping_expect(client, NULL, "");
    st_ping_expect(client, "no-such-connection", ERR_REPLACED);
    /* by conn id only: the client id is not a conn id */
    st_ping_expect(client, client->id, ERR_REPLACED);
    /* an empty or malformed Ping gets no reply at all */
    natsMsg *reply = NULL;
    natsStatus status = natsConnection_Request(&reply, client->nc, SUBJ_PINGS, st_malformed,
                                               (int)ST_MALFORMED_LENGTH, ST_QUIET_MS);
    ck_assert_msg(status == NATS_TIMEOUT, "a malformed ping: %s", natsStatus_GetText(status));
    natsMsg_Destroy(reply);
    reply = NULL;
    status = natsConnection_Request(&reply, client->nc, SUBJ_PINGS, NULL, 0, ST_QUIET_MS);
    ck_assert_msg(status == NATS_TIMEOUT, "an empty ping: %s", natsStatus_GetText(status));
    natsMsg_Destroy(reply);
    /* a closed client's conn id is unknown */
    st_close_expect(client, NULL, "");
    st_ping_expect(client, NULL, ERR_REPLACED);
}
END_TEST

/* ---- publish ---- */

START_TEST(test_stan_publish)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("pub");
    struct st_sub *sub = st_subscribe(client, "orders", (struct st_sub_options){0});
    int64_t before = realtime_ns();
    st_publish(client, "orders", "hello");
    /* a payload with NUL, CR and LF, and PubMsg.reply passed on in MsgProto.reply */
    unsigned char bytes[100];
    itest_payload_fill(bytes, sizeof bytes, 2);
    Pb__PubMsg msg = PB__PUB_MSG__INIT;
    msg.client_id = client->id;
    msg.conn_id.data = (uint8_t *)client->conn_id;
    msg.conn_id.len = strlen(client->conn_id);
    msg.guid = "guid-two";
    msg.subject = "orders";
    msg.reply = "some.reply";
    msg.data.data = bytes;
    msg.data.len = sizeof bytes;
    /* the NATS subject is not looked at: the channel is PubMsg.subject */
    Pb__PubAck *ack = st_publish_raw(client->nc, SUBJ_PUB ".elsewhere", &msg);
    ck_assert_str_eq(ack->guid, "guid-two");
    ck_assert_str_eq(ack->error, "");
    pb__pub_ack__free_unpacked(ack, NULL);
    /* an empty payload, without the conn id (looked up by client id) */
    msg.conn_id.len = 0;
    msg.conn_id.data = NULL;
    msg.guid = "guid-three";
    msg.reply = "";
    msg.data.len = 0;
    msg.data.data = NULL;
    ack = st_publish_raw(client->nc, SUBJ_PUB ".orders", &msg);
    ck_assert_str_eq(ack->guid, "guid-three");
    ck_assert_str_eq(ack->error, "");
    pb__pub_ack__free_unpacked(ack, NULL);
    int64_t after = realtime_ns();

    st_expect_range(sub, 0, 1, 3, false);
    int64_t last_timestamp = 0;
    for (size_t i = 0; i < 3; i++) {
        struct st_delivery d = st_msg(sub, i);
        ck_assert_str_eq(d.subject, "orders");
        ck_assert_uint_eq(d.redelivery_count, 0);
        ck_assert_msg(d.timestamp >= before - 2000000000LL && d.timestamp <= after + 2000000000LL,
                      "seq %" PRIu64 " timestamp %" PRId64 " not near now (%" PRId64 ")", d.seq,
                      d.timestamp, after);
        ck_assert_msg(d.timestamp >= last_timestamp, "timestamps go back");
        last_timestamp = d.timestamp;
    }
    struct st_delivery d = st_msg(sub, 0);
    ck_assert_uint_eq(d.length, 5);
    ck_assert(memcmp(d.data, "hello", 5) == 0);
    ck_assert_str_eq(d.reply, "");
    d = st_msg(sub, 1);
    ck_assert_uint_eq(d.length, sizeof bytes);
    ck_assert(itest_payload_check(d.data, sizeof bytes, 2));
    ck_assert_str_eq(d.reply, "some.reply");
    d = st_msg(sub, 2);
    ck_assert_uint_eq(d.length, 0);
}
END_TEST

/* Which channel names a publish takes. */
START_TEST(test_stan_channel_names)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("namer");
    Pb__PubMsg msg;
    Pb__PubAck *ack;
    /* channel names: anything but wildcards, '/', and empty tokens is fine, and the NATS
     * subject does not matter */
    static const char *const good[] = {"a:b-c-\xc3\xbc", "with_under", "a:b", "x.y.z",
                                       "a%b$c#d", "$x"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        msg = (Pb__PubMsg)PB__PUB_MSG__INIT;
        msg.client_id = client->id;
        msg.guid = "g-good";
        msg.subject = (char *)good[i];
        msg.data.data = (uint8_t *)"v";
        msg.data.len = 1;
        ack = st_publish_raw(client->nc, SUBJ_PUB ".any", &msg);
        ck_assert_msg(strcmp(ack->error, "") == 0, "channel \"%s\": \"%s\"", good[i],
                      ack->error);
        pb__pub_ack__free_unpacked(ack, NULL);
    }
    struct st_sub *odd = st_subscribe(client, good[0], (struct st_sub_options){.start = 4});
    st_expect_range(odd, 0, 1, 1, false);
    ck_assert_str_eq(st_msg(odd, 0).subject, good[0]);

    /* Whitespace in a channel name: taken (the server reads PubMsg.subject only; ionats
     * escapes it in the channel's stream name and subject). */
    msg = (Pb__PubMsg)PB__PUB_MSG__INIT;
    msg.client_id = client->id;
    msg.guid = "g-space";
    msg.subject = "with space";
    ack = st_publish_raw(client->nc, SUBJ_PUB ".any", &msg);
    ck_assert_str_eq(ack->error, "");
    pb__pub_ack__free_unpacked(ack, NULL);
    st_subscribe(client, "with space", (struct st_sub_options){0});

    /* channel names differing only in case (from a publish and from a subscribe) */
    st_publish(client, "casex", "a");
    char error[ST_TEXT_MAX];
    st_publish_try(client, "CaseX", "b", 1, error, sizeof error);
    ck_assert_str_eq(error, "rejecting channel \"CaseX\" because channel \"casex\" alreay "
                            "exists (different cases not allowed)");
    st_subscribe_fails(client, "CASEX", (struct st_sub_options){0},
                       "rejecting channel \"CASEX\" because channel \"casex\" alreay "
                       "exists (different cases not allowed)");
}
END_TEST

START_TEST(test_stan_publish_errors)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("pub");
    Pb__PubMsg msg = PB__PUB_MSG__INIT;
    msg.client_id = client->id;
    msg.conn_id.data = (uint8_t *)client->conn_id;
    msg.conn_id.len = strlen(client->conn_id);
    msg.subject = "ok";
    msg.data.data = (uint8_t *)"x";
    msg.data.len = 1;

    /* malformed */
    natsMsg *reply = st_request_bytes(client->nc, SUBJ_PUB ".ok", st_malformed,
                                      ST_MALFORMED_LENGTH);
    Pb__PubAck *ack = pb__pub_ack__unpack(NULL, (size_t)natsMsg_GetDataLength(reply),
                                          (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_ptr_nonnull(ack);
    ck_assert_str_eq(ack->error, ERR_PUB);
    pb__pub_ack__free_unpacked(ack, NULL);

    /* no guid */
    msg.guid = "";
    ack = st_publish_raw(client->nc, SUBJ_PUB ".ok", &msg);
    ck_assert_str_eq(ack->guid, "");
    ck_assert_str_eq(ack->error, ERR_PUB);
    pb__pub_ack__free_unpacked(ack, NULL);

    /* invalid channels; the guid comes back */
    static const char *const bad[] = {"foo.*", "foo.>", ">", "*", "foo..bar", "..", ".foo",
                                      "foo.", "a/b", "", "fo*o"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg.guid = "g-bad";
        msg.subject = (char *)bad[i];
        ack = st_publish_raw(client->nc, SUBJ_PUB ".ok", &msg);
        ck_assert_msg(strcmp(ack->error, ERR_PUB) == 0, "channel \"%s\": \"%s\"", bad[i],
                      ack->error);
        ck_assert_str_eq(ack->guid, "g-bad");
        pb__pub_ack__free_unpacked(ack, NULL);
    }

    /* unknown client: by client id without a conn id, by conn id when it has one (then the
     * client id does not help) */
    msg.subject = "ok";
    msg.guid = "g-unknown";
    msg.client_id = "nobody";
    msg.conn_id.len = 0;
    msg.conn_id.data = NULL;
    ack = st_publish_raw(client->nc, SUBJ_PUB ".ok", &msg);
    ck_assert_str_eq(ack->error, ERR_PUB);
    ck_assert_str_eq(ack->guid, "g-unknown");
    pb__pub_ack__free_unpacked(ack, NULL);
    msg.client_id = client->id;
    msg.conn_id.data = (uint8_t *)"not-a-connection";
    msg.conn_id.len = strlen("not-a-connection");
    ack = st_publish_raw(client->nc, SUBJ_PUB ".ok", &msg);
    ck_assert_str_eq(ack->error, ERR_PUB);
    pb__pub_ack__free_unpacked(ack, NULL);
    /* a known conn id with an unknown client id: the conn id decides */
    msg.client_id = "nobody";
    msg.conn_id.data = (uint8_t *)client->conn_id;
    msg.conn_id.len = strlen(client->conn_id);
    ack = st_publish_raw(client->nc, SUBJ_PUB ".ok", &msg);
    ck_assert_str_eq(ack->error, "");
    pb__pub_ack__free_unpacked(ack, NULL);

    /* none of the failures stored anything: "ok" holds the one message */
    struct st_sub *sub = st_subscribe(client, "ok", (struct st_sub_options){.start = 4});
    st_expect_range(sub, 0, 1, 1, false);
    /* a publish without a reply subject is stored but gets no PubAck */
    msg.guid = "g-noreply";
    msg.client_id = client->id;
    st_publish_pb(client->nc, SUBJ_PUB ".ok", &msg.base);
    st_expect_seqs(sub, 1, (const uint64_t[]){2}, 1, false);
    /* a closed client cannot publish */
    st_close_expect(client, NULL, "");
    msg.guid = "g-closed";
    ack = st_publish_raw(client->nc, SUBJ_PUB ".ok", &msg);
    ck_assert_str_eq(ack->error, ERR_PUB);
    pb__pub_ack__free_unpacked(ack, NULL);
}
END_TEST

/* ---- subscribe ---- */

START_TEST(test_stan_subscribe_errors)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("subber");
    struct st_sub *sub = st_sub_new(client, "foo.*", false);
    char error[ST_TEXT_MAX];

    natsMsg *reply = st_request_bytes(client->nc, SUBJ_SUB, st_malformed, ST_MALFORMED_LENGTH);
    Pb__SubscriptionResponse *response = pb__subscription_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_ptr_nonnull(response);
    ck_assert_str_eq(response->error, ERR_SUB_REQUEST);
    ck_assert_str_eq(response->ack_inbox, "");
    pb__subscription_response__free_unpacked(response, NULL);

    /* each request breaks its rule and every later one: the first broken rule is told */
    Pb__SubscriptionRequest request = PB__SUBSCRIPTION_REQUEST__INIT;
    request.client_id = "";
    request.subject = "foo.*";
    request.inbox = sub->inbox;
    request.ack_wait_in_secs = 0;
    request.max_in_flight = 0;
    request.start_position = (Pb__StartPosition)7;
    st_sub_request_send(client->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, ERR_MISSING_CLIENT);
    request.client_id = "nobody";
    st_sub_request_send(client->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, ERR_ACK_WAIT);
    request.ack_wait_in_secs = -1;
    st_sub_request_send(client->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, ERR_ACK_WAIT);
    request.ack_wait_in_secs = 1;
    st_sub_request_send(client->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, ERR_MAX_INFLIGHT);
    request.max_in_flight = -5;
    st_sub_request_send(client->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, ERR_MAX_INFLIGHT);
    request.max_in_flight = 1;
    st_sub_request_send(client->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, ERR_START);
    request.start_position = (Pb__StartPosition)-1;
    st_sub_request_send(client->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, ERR_START);
    request.start_position = PB__START_POSITION__first;
    st_sub_request_send(client->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, ERR_SUBJECT);
    static const char *const bad[] = {"foo.>", "", "a..b", ".a", "a.", "a/b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        request.subject = (char *)bad[i];
        st_sub_request_send(client->nc, &request, error, sizeof error, NULL, 0);
        ck_assert_msg(strcmp(error, ERR_SUBJECT) == 0, "subject \"%s\": \"%s\"", bad[i], error);
    }
    request.subject = "foo";
    st_sub_request_send(client->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, ERR_UNKNOWN_CLIENT);
    /* a known client: a durable queue name with ':' */
    request.client_id = client->id;
    request.q_group = "grp";
    request.durable_name = "dur:able";
    st_sub_request_send(client->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, ERR_DURABLE_QUEUE);
    /* but a plain durable may have one, and the inbox is not checked (empty works) */
    request.q_group = "";
    request.inbox = "";
    char ack_inbox[ST_TEXT_MAX];
    st_sub_request_send(client->nc, &request, error, sizeof error, ack_inbox, sizeof ack_inbox);
    ck_assert_str_eq(error, "");
    ck_assert_str_ne(ack_inbox, "");
    /* the same durable again while it is online */
    request.inbox = sub->inbox;
    st_sub_request_send(client->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, ERR_DUP_DURABLE);
    /* another client id with the same durable name is another durable */
    struct st_client *other = st_client_open("other");
    request.client_id = other->id;
    st_sub_request_send(other->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, "");
    /* a closed client is unknown */
    st_close_expect(other, NULL, "");
    request.durable_name = "";
    st_sub_request_send(other->nc, &request, error, sizeof error, NULL, 0);
    ck_assert_str_eq(error, ERR_UNKNOWN_CLIENT);
    ck_assert_uint_eq(st_count(sub), 0);
}
END_TEST

START_TEST(test_stan_start_positions)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("starter");
    /* an empty channel: every start position gets the first message, seq 1 */
    struct st_sub *empty_new = st_subscribe(client, "empty", (struct st_sub_options){0});
    struct st_sub *empty_last =
        st_subscribe(client, "empty", (struct st_sub_options){.start = 1});
    struct st_sub *empty_seq =
        st_subscribe(client, "empty", (struct st_sub_options){.start = 3, .start_seq = 5});
    struct st_sub *empty_first =
        st_subscribe(client, "empty", (struct st_sub_options){.start = 4});
    st_publish(client, "empty", "e1");
    st_expect_range(empty_new, 0, 1, 1, false);
    st_expect_range(empty_last, 0, 1, 1, false);
    st_expect_range(empty_seq, 0, 1, 1, false);
    st_expect_range(empty_first, 0, 1, 1, false);

    st_publish_n(client, "sp", 1, 3);
    /* the time delta needs older and newer messages */
    usleep(700 * 1000);
    st_publish_n(client, "sp", 4, 2);
    /* new only: nothing of 1..5, then 6 */
    struct st_sub *new_only = st_subscribe(client, "sp", (struct st_sub_options){0});
    struct st_sub *last = st_subscribe(client, "sp", (struct st_sub_options){.start = 1});
    struct st_sub *delta =
        st_subscribe(client, "sp", (struct st_sub_options){.start = 2, .delta_ns = 400000000LL});
    struct st_sub *delta_all = st_subscribe(
        client, "sp", (struct st_sub_options){.start = 2, .delta_ns = 3600LL * 1000000000LL});
    struct st_sub *seq0 =
        st_subscribe(client, "sp", (struct st_sub_options){.start = 3, .start_seq = 0});
    struct st_sub *seq3 =
        st_subscribe(client, "sp", (struct st_sub_options){.start = 3, .start_seq = 3});
    struct st_sub *seq5 =
        st_subscribe(client, "sp", (struct st_sub_options){.start = 3, .start_seq = 5});
    struct st_sub *seq6 =
        st_subscribe(client, "sp", (struct st_sub_options){.start = 3, .start_seq = 6});
    struct st_sub *seq100 =
        st_subscribe(client, "sp", (struct st_sub_options){.start = 3, .start_seq = 100});
    struct st_sub *first = st_subscribe(client, "sp", (struct st_sub_options){.start = 4});
    st_expect_quiet(new_only, 0);
    st_expect_range(last, 0, 5, 5, false);
    st_expect_range(delta, 0, 4, 5, false);
    st_expect_range(delta_all, 0, 1, 5, false);
    st_expect_range(seq0, 0, 1, 5, false);
    st_expect_range(seq3, 0, 3, 5, false);
    st_expect_range(seq5, 0, 5, 5, false);
    st_expect_quiet(seq6, 0);
    st_expect_quiet(seq100, 0);
    st_expect_range(first, 0, 1, 5, false);
    /* a delta shorter than the age of every message: new only */
    struct st_sub *delta_none =
        st_subscribe(client, "sp", (struct st_sub_options){.start = 2, .delta_ns = 1});
    st_expect_quiet(delta_none, 0);

    st_publish(client, "sp", "m6");
    st_expect_range(new_only, 0, 6, 6, false);
    st_expect_range(last, 1, 6, 6, false);
    st_expect_range(seq6, 0, 6, 6, false);
    st_expect_range(seq100, 0, 6, 6, false);
    st_expect_range(delta_none, 0, 6, 6, false);
    st_expect_range(first, 5, 6, 6, false);
    struct st_delivery d = st_msg(first, 0);
    ck_assert_uint_eq(d.length, 2);
    ck_assert(memcmp(d.data, "m1", 2) == 0);
}
END_TEST

/* Redelivery after the ack wait (1 s) with the flag and the count; an ack stops it. */
START_TEST(test_stan_redelivery)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("redeliver");
    struct st_sub *sub =
        st_subscribe(client, "rd", (struct st_sub_options){.ack_wait = 1, .manual = true});
    st_publish(client, "rd", "once");
    ck_assert_uint_eq(st_wait_count(sub, 1, ST_WAIT_MS), 1);
    struct st_delivery first = st_msg(sub, 0);
    ck_assert_uint_eq(first.seq, 1);
    ck_assert(!first.redelivered);
    ck_assert_uint_eq(first.redelivery_count, 0);
    ck_assert_uint_eq(st_wait_count(sub, 2, ST_WAIT_MS), 2);
    struct st_delivery second = st_msg(sub, 1);
    int64_t gap = second.at_ms - first.at_ms;
    ck_assert_uint_eq(second.seq, 1);
    ck_assert(second.redelivered);
    ck_assert_uint_eq(second.redelivery_count, 1);
    ck_assert_str_eq(second.subject, "rd");
    ck_assert_uint_eq(second.length, 4);
    ck_assert(memcmp(second.data, "once", 4) == 0);
    ck_assert_int_eq(second.timestamp, first.timestamp);
    ck_assert_msg(gap >= 800 && gap <= 3000, "redelivered after %" PRId64 " ms, ack wait 1 s",
                  gap);
    ck_assert_uint_eq(st_wait_count(sub, 3, ST_WAIT_MS), 3);
    struct st_delivery third = st_msg(sub, 2);
    ck_assert(third.redelivered);
    ck_assert_uint_eq(third.redelivery_count, 2);
    st_ack(sub, 1);
    itest_flush(client->nc);
    /* the ack raced a redelivery at most: none after that one */
    usleep(200 * 1000);
    size_t settled = st_count(sub);
    usleep(1500 * 1000);
    ck_assert_msg(st_count(sub) == settled, "redelivered after the ack: %s",
                  st_seqs_text(sub, 0));
    /* acks of unknown or acked sequences change nothing */
    st_ack(sub, 1);
    st_ack(sub, 99);
    st_publish(client, "rd", "two");
    st_expect_seqs(sub, settled, (const uint64_t[]){2}, 1, false);
}
END_TEST

START_TEST(test_stan_max_inflight)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("inflight");
    st_publish_n(client, "mif", 1, 5);
    struct st_sub *sub = st_subscribe(
        client, "mif", (struct st_sub_options){.start = 4, .max_inflight = 2, .manual = true});
    st_expect_range(sub, 0, 1, 2, false);
    st_ack(sub, 1);
    st_expect_range(sub, 2, 3, 3, false);
    st_ack(sub, 2);
    st_ack(sub, 3);
    st_expect_range(sub, 3, 4, 5, false);
    /* a new message waits for room too */
    st_publish(client, "mif", "m6");
    st_expect_quiet(sub, 5);
    st_ack(sub, 5);
    st_expect_range(sub, 5, 6, 6, false);
}
END_TEST

/* ---- queue groups ---- */

START_TEST(test_stan_queue_each_once)
{
    st_start("FILE", NULL);
    struct st_client *a = st_client_open("qa");
    struct st_client *b = st_client_open("qb");
    struct st_sub *qa = st_subscribe(a, "q", (struct st_sub_options){.queue = "grp"});
    struct st_sub *qb = st_subscribe(b, "q", (struct st_sub_options){.queue = "grp"});
    struct st_sub *plain = st_subscribe(a, "q", (struct st_sub_options){0});
    enum { COUNT = 20 };
    st_publish_n(a, "q", 1, COUNT);
    st_expect_range(plain, 0, 1, COUNT, false);
    long deadline = itest_now_ms() + ST_WAIT_MS;
    while (st_count(qa) + st_count(qb) < COUNT && itest_now_ms() < deadline) {
        usleep(10 * 1000);
    }
    usleep(ST_QUIET_MS * 1000);
    ck_assert_msg(st_count(qa) + st_count(qb) == COUNT, "the group got %zu + %zu, want %d",
                  st_count(qa), st_count(qb), COUNT);
    for (uint64_t seq = 1; seq <= COUNT; seq++) {
        bool in_a = st_delivered(qa, seq, NULL);
        bool in_b = st_delivered(qb, seq, NULL);
        ck_assert_msg(in_a != in_b, "seq %" PRIu64 ": to a %d, to b %d", seq, in_a, in_b);
    }
    ck_assert_msg(st_count(qa) > 0 && st_count(qb) > 0, "one member got all: a %s, b %s",
                  st_seqs_text(qa, 0), st_seqs_text(qb, 0));
}
END_TEST

/* The next message goes to the member with the fewest unacked; full members get none. */
START_TEST(test_stan_queue_least_loaded)
{
    st_start("FILE", NULL);
    struct st_client *a = st_client_open("qa");
    struct st_client *b = st_client_open("qb");
    struct st_sub *qa = st_subscribe(
        a, "ql", (struct st_sub_options){.queue = "g", .manual = true, .max_inflight = 10});
    struct st_sub *qb = st_subscribe(
        b, "ql", (struct st_sub_options){.queue = "g", .manual = true, .max_inflight = 10});
    st_publish(a, "ql", "m1");
    long deadline = itest_now_ms() + ST_WAIT_MS;
    while (st_count(qa) + st_count(qb) < 1 && itest_now_ms() < deadline) {
        usleep(5 * 1000);
    }
    ck_assert_uint_eq(st_count(qa) + st_count(qb), 1);
    struct st_sub *x = st_count(qa) == 1 ? qa : qb;
    struct st_sub *y = x == qa ? qb : qa;
    st_publish(a, "ql", "m2");
    st_expect_range(y, 0, 2, 2, false);
    ck_assert_uint_eq(st_count(x), 1);
    /* x acks: it has 0 unacked, y 1: m3 goes to x */
    st_ack(x, 1);
    itest_flush(x->client->nc);
    usleep(100 * 1000);
    st_publish(a, "ql", "m3");
    st_expect_range(x, 1, 3, 3, false);
    ck_assert_uint_eq(st_count(y), 1);

    /* max in flight 1: a member holding one gets nothing more */
    struct st_sub *s1 = st_subscribe(
        a, "qs", (struct st_sub_options){.queue = "g", .manual = true, .max_inflight = 1});
    struct st_sub *s2 = st_subscribe(
        b, "qs", (struct st_sub_options){.queue = "g", .manual = true, .max_inflight = 1});
    st_publish_n(a, "qs", 1, 3);
    deadline = itest_now_ms() + ST_WAIT_MS;
    while (st_count(s1) + st_count(s2) < 2 && itest_now_ms() < deadline) {
        usleep(5 * 1000);
    }
    usleep(ST_QUIET_MS * 1000);
    ck_assert_msg(st_count(s1) == 1 && st_count(s2) == 1, "full members: %s / %s",
                  st_seqs_text(s1, 0), st_seqs_text(s2, 0));
    struct st_sub *freed = st_msg(s1, 0).seq == 1 ? s1 : s2;
    ck_assert_uint_eq(st_msg(freed, 0).seq, 1);
    st_ack(freed, 1);
    st_expect_range(freed, 1, 3, 3, false);
    ck_assert_uint_eq(st_count(freed == s1 ? s2 : s1), 1);
}
END_TEST

/* A member that leaves hands its unacked messages to the others, marked redelivered. */
START_TEST(test_stan_queue_member_leaves)
{
    st_start("FILE", NULL);
    struct st_client *a = st_client_open("qa");
    struct st_client *b = st_client_open("qb");
    for (int round = 0; round < 2; round++) {
        const char *channel = round == 0 ? "qlu" : "qlc";
        struct st_sub *qa =
            st_subscribe(a, channel, (struct st_sub_options){.queue = "g", .manual = true});
        struct st_sub *qb =
            st_subscribe(b, channel, (struct st_sub_options){.queue = "g", .manual = true});
        st_publish(a, channel, "m1");
        long deadline = itest_now_ms() + ST_WAIT_MS;
        while (st_count(qa) + st_count(qb) < 1 && itest_now_ms() < deadline) {
            usleep(5 * 1000);
        }
        struct st_sub *x = st_count(qa) == 1 ? qa : qb;
        struct st_sub *y = x == qa ? qb : qa;
        st_publish(a, channel, "m2");
        st_expect_range(y, 0, 2, 2, false);
        ck_assert_uint_eq(st_count(x), 1);
        /* unsubscribe (round 0) or close (round 1): the same for a plain queue member.
         * The ack wait is 30 s: m1 must come to y well before. */
        int64_t start = itest_now_ms();
        st_unsubscribe(x, round == 1);
        ck_assert_uint_eq(st_wait_count(y, 2, ST_WAIT_MS), 2);
        struct st_delivery d = st_msg(y, 1);
        ck_assert_msg(d.seq == 1 && d.redelivered, "%s: y got %s after x left", channel,
                      st_seqs_text(y, 0));
        ck_assert_uint_eq(d.redelivery_count, 1);
        ck_assert_msg(d.at_ms - start < 3000, "handed over after %" PRId64 " ms",
                      d.at_ms - start);
        st_expect_quiet(y, 2);
        ck_assert_uint_eq(st_count(x), 1);
        /* y is the group now */
        st_publish(a, channel, "m3");
        st_expect_range(y, 2, 3, 3, false);
    }
    /* a member whose connection closes leaves the same way */
    struct st_client *c = st_client_open("qc");
    struct st_sub *qb =
        st_subscribe(b, "qcc", (struct st_sub_options){.queue = "g", .manual = true});
    struct st_sub *qc =
        st_subscribe(c, "qcc", (struct st_sub_options){.queue = "g", .manual = true});
    st_publish(a, "qcc", "m1");
    long deadline = itest_now_ms() + ST_WAIT_MS;
    while (st_count(qb) + st_count(qc) < 1 && itest_now_ms() < deadline) {
        usleep(5 * 1000);
    }
    st_publish(a, "qcc", "m2");
    deadline = itest_now_ms() + ST_WAIT_MS;
    while (st_count(qb) + st_count(qc) < 2 && itest_now_ms() < deadline) {
        usleep(5 * 1000);
    }
    ck_assert_uint_eq(st_count(qb), 1);
    ck_assert_uint_eq(st_count(qc), 1);
    uint64_t c_seq = st_msg(qc, 0).seq;
    st_close_expect(c, NULL, "");
    ck_assert_uint_eq(st_wait_count(qb, 2, ST_WAIT_MS), 2);
    struct st_delivery d = st_msg(qb, 1);
    ck_assert_uint_eq(d.seq, c_seq);
    ck_assert(d.redelivered);
}
END_TEST

/* A durable queue group outlives its last member's close; the next member takes it over. */
START_TEST(test_stan_queue_durable)
{
    st_start("FILE", NULL);
    struct st_client *a = st_client_open("qa");
    struct st_client *b = st_client_open("qb");
    struct st_sub *qa = st_subscribe(
        a, "qd",
        (struct st_sub_options){.queue = "g", .durable = "dq", .start = 4, .manual = true});
    st_publish_n(a, "qd", 1, 3);
    st_expect_range(qa, 0, 1, 3, false);
    st_ack(qa, 2);
    itest_flush(a->nc);
    st_unsubscribe(qa, true);
    st_publish(a, "qd", "m4");
    /* another client joins: pending 1 and 3 redelivered, then 4 (start position ignored) */
    struct st_sub *qb = st_subscribe(
        b, "qd", (struct st_sub_options){.queue = "g", .durable = "dq", .manual = true});
    st_expect_seqs_then(qb, 0, (const uint64_t[]){1, 3}, 2, true, false);
    st_expect_range(qb, 2, 4, 4, false);
    /* the last member unsubscribing ends the group: a new one starts per its position */
    st_unsubscribe(qb, false);
    struct st_sub *fresh = st_subscribe(
        b, "qd", (struct st_sub_options){.queue = "g", .durable = "dq", .start = 1});
    st_expect_range(fresh, 0, 4, 4, false);
}
END_TEST

/* ---- durables ---- */

START_TEST(test_stan_durable_resume)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("durable");
    struct st_sub *sub = st_subscribe(
        client, "dc", (struct st_sub_options){.durable = "d", .start = 4, .manual = true});
    st_publish_n(client, "dc", 1, 5);
    st_expect_range(sub, 0, 1, 5, false);
    st_ack(sub, 1);
    st_ack(sub, 2);
    st_ack(sub, 4);
    itest_flush(client->nc);
    st_unsubscribe(sub, true);
    st_publish(client, "dc", "m6");
    st_expect_quiet(sub, 5);
    /* the start position (first) is ignored; the unacked come first, redelivered, then 6 */
    struct st_sub *again = st_subscribe(
        client, "dc", (struct st_sub_options){.durable = "d", .start = 4, .manual = true});
    ck_assert_str_ne(again->ack_inbox, "");
    st_expect_seqs_then(again, 0, (const uint64_t[]){3, 5}, 2, true, false);
    st_expect_range(again, 2, 6, 6, false);
    st_ack(again, 3);
    st_ack(again, 5);
    st_ack(again, 6);
    itest_flush(client->nc);

    /* the connection closed: the durable goes offline; the same client id resumes it */
    st_publish(client, "dc", "m7");
    st_expect_range(again, 3, 7, 7, false);
    st_close_expect(client, NULL, "");
    struct st_client *back = st_client_open("durable");
    st_publish(back, "dc", "m8");
    struct st_sub *resumed =
        st_subscribe(back, "dc", (struct st_sub_options){.durable = "d", .manual = true});
    st_expect_seqs_then(resumed, 0, (const uint64_t[]){7}, 1, true, false);
    st_expect_range(resumed, 1, 8, 8, false);
    /* another client id does not see it */
    struct st_client *other = st_client_open("other");
    struct st_sub *others = st_subscribe(other, "dc", (struct st_sub_options){.durable = "d"});
    st_expect_quiet(others, 0);
}
END_TEST

/* A resumed durable takes its max in flight from the new request: its pending messages
 * are all resent (forced), and new ones wait until acks bring it under the new limit. */
START_TEST(test_stan_durable_resume_inflight)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("durable");
    struct st_sub *sub = st_subscribe(
        client, "dm",
        (struct st_sub_options){.durable = "d", .start = 4, .max_inflight = 10, .manual = true});
    st_publish_n(client, "dm", 1, 3);
    st_expect_range(sub, 0, 1, 3, false);
    st_unsubscribe(sub, true);
    st_publish_n(client, "dm", 4, 2);
    struct st_sub *again = st_subscribe(
        client, "dm",
        (struct st_sub_options){.durable = "d", .max_inflight = 2, .manual = true});
    st_expect_range(again, 0, 1, 3, true);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(st_msg(again, i).redelivery_count, 1);
    }
    st_ack(again, 1);
    st_expect_quiet(again, 3);
    st_ack(again, 2);
    st_expect_range(again, 3, 4, 4, false);
    st_ack(again, 3);
    st_expect_range(again, 4, 5, 5, false);
}
END_TEST

START_TEST(test_stan_durable_unsubscribe)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("durable");
    st_publish_n(client, "du", 1, 3);
    struct st_sub *sub =
        st_subscribe(client, "du", (struct st_sub_options){.durable = "d", .start = 4});
    st_expect_range(sub, 0, 1, 3, false);
    itest_flush(client->nc);
    st_unsubscribe(sub, false);
    /* made again: its own start position */
    struct st_sub *again =
        st_subscribe(client, "du", (struct st_sub_options){.durable = "d", .start = 4});
    st_expect_range(again, 0, 1, 3, false);
    st_unsubscribe(again, false);
    struct st_sub *newer = st_subscribe(client, "du", (struct st_sub_options){.durable = "d"});
    st_expect_quiet(newer, 0);
    st_publish(client, "du", "m4");
    st_expect_range(newer, 0, 4, 4, false);
    /* an unsubscribed plain subscription gets nothing more */
    st_unsubscribe(newer, false);
    st_publish(client, "du", "m5");
    st_expect_quiet(newer, 1);
}
END_TEST

START_TEST(test_stan_unsubscribe_errors)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("unsubber");
    struct st_client *other = st_client_open("other");
    struct st_sub *sub = st_subscribe(client, "uc", (struct st_sub_options){0});
    char error[ST_TEXT_MAX];
    for (int close = 0; close <= 1; close++) {
        natsMsg *reply = st_request_bytes(client->nc, close ? SUBJ_SUBCLOSE : SUBJ_UNSUB,
                                          st_malformed, ST_MALFORMED_LENGTH);
        Pb__SubscriptionResponse *response = pb__subscription_response__unpack(
            NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
        natsMsg_Destroy(reply);
        ck_assert_ptr_nonnull(response);
        ck_assert_str_eq(response->error, ERR_UNSUB_REQUEST);
        pb__subscription_response__free_unpacked(response, NULL);
        st_unsub_raw(client->nc, close, client->id, "no-such-channel", sub->ack_inbox, error,
                     sizeof error);
        ck_assert_str_eq(error, ERR_UNKNOWN_CHANNEL);
        st_unsub_raw(client->nc, close, client->id, "uc", "_INBOX.bogus", error, sizeof error);
        ck_assert_str_eq(error, ERR_INVALID_SUB);
        st_unsub_raw(client->nc, close, other->id, "uc", sub->ack_inbox, error, sizeof error);
        ck_assert_str_eq(error, ERR_UNKNOWN_CLIENT);
        st_unsub_raw(client->nc, close, "nobody", "uc", sub->ack_inbox, error, sizeof error);
        ck_assert_str_eq(error, ERR_UNKNOWN_CLIENT);
    }
    /* the subscription is still there */
    st_publish(client, "uc", "m1");
    st_expect_range(sub, 0, 1, 1, false);
    /* found by its delivery inbox too */
    st_unsub_raw(client->nc, false, client->id, "uc", sub->inbox, error, sizeof error);
    ck_assert_str_eq(error, "");
    st_publish(client, "uc", "m2");
    st_expect_quiet(sub, 1);
    /* gone now */
    st_unsub_raw(client->nc, false, client->id, "uc", sub->ack_inbox, error, sizeof error);
    ck_assert_str_eq(error, ERR_INVALID_SUB);
}
END_TEST

START_TEST(test_stan_close)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("closer");
    struct st_sub *sub = st_subscribe(client, "cc", (struct st_sub_options){0});
    natsMsg *reply = st_request_bytes(client->nc, SUBJ_CLOSE, st_malformed, ST_MALFORMED_LENGTH);
    Pb__CloseResponse *response = pb__close_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_ptr_nonnull(response);
    ck_assert_str_eq(response->error, ERR_CLOSE_REQUEST);
    pb__close_response__free_unpacked(response, NULL);
    st_close_expect(client, "nobody", ERR_UNKNOWN_CLIENT);
    st_close_expect(client, "", ERR_UNKNOWN_CLIENT);
    st_close_expect(client, NULL, "");
    st_close_expect(client, NULL, ERR_UNKNOWN_CLIENT);
    /* its subscription went with it; its id is free again (a probe of its heartbeat
     * inbox, which answers, would refuse it) */
    struct st_client *other = st_client_open("other");
    st_publish(other, "cc", "m1");
    st_expect_quiet(sub, 0);
    st_subscribe_fails(client, "cc", (struct st_sub_options){0}, ERR_UNKNOWN_CLIENT);
    long probes = itest_counter_get(&client->heartbeats);
    char error[ST_TEXT_MAX];
    st_connect_try(client, error, sizeof error);
    ck_assert_str_eq(error, "");
    ck_assert_int_eq(itest_counter_get(&client->heartbeats), probes);
}
END_TEST

/* ---- heartbeats ---- */

START_TEST(test_stan_heartbeats)
{
    static const char *const args[] = {"-hbi", "200ms", "-hbt", "200ms", "-hbf", "1", NULL};
    st_start("FILE", args);
    struct st_client *silent = st_client_new("silent", false);
    char error[ST_TEXT_MAX];
    int64_t connected = itest_now_ms();
    st_connect_try(silent, error, sizeof error);
    ck_assert_str_eq(error, "");
    struct st_client *live = st_client_open("live");
    /* the silent client is dropped after more than hbf (1) heartbeats missed in a row:
     * heartbeat, 200 ms wait, 200 ms, heartbeat, 200 ms wait: about 800 ms */
    int64_t dropped = 0;
    int probes = 0;
    struct st_sub *probe = st_sub_new(silent, "hb", false);
    while (dropped == 0 && itest_now_ms() - connected < ST_WAIT_MS) {
        struct st_sub_options o = {0};
        st_subscribe_try(probe, &o, error, sizeof error);
        probes++;
        if (strcmp(error, ERR_UNKNOWN_CLIENT) == 0) {
            dropped = itest_now_ms();
        } else {
            ck_assert_msg(error[0] == '\0', "subscribe while alive: \"%s\"", error);
            usleep(50 * 1000);
        }
    }
    ck_assert_msg(dropped != 0, "the silent client was not dropped in %d ms", ST_WAIT_MS);
    ck_assert_msg(dropped - connected >= 550, "dropped after %" PRId64
                  " ms: before its second missed heartbeat", dropped - connected);
    ck_assert_int_ge(itest_counter_get(&silent->heartbeats), 2);
    ck_assert(!atomic_load(&silent->hb_odd));
    st_ping_expect(silent, NULL, ERR_REPLACED);
    /* the answering client stays through several more rounds */
    long seen = itest_counter_get(&live->heartbeats);
    ck_assert_int_ge(seen, 2);
    ck_assert_int_ge(itest_counter_wait(&live->heartbeats, seen + 4, ST_WAIT_MS), seen + 4);
    ck_assert(!atomic_load(&live->hb_odd));
    struct st_sub *sub = st_subscribe(live, "hb", (struct st_sub_options){0});
    st_publish(live, "hb", "alive");
    st_expect_range(sub, 0, 1, 1, false);
    st_ping_expect(live, NULL, "");
    /* the dropped id connects again (it answers now: a probe would refuse it) */
    atomic_store(&silent->answer, true);
    st_connect_try(silent, error, sizeof error);
    ck_assert_str_eq(error, "");
}
END_TEST

/* ---- limits ---- */

/* Beyond nats-streaming-server: a channel is a JetStream stream (STAN_<channel>) that
 * JetStream clients can read, and whose messages they cannot delete or purge. ionats only. */
START_TEST(test_stan_jetstream_view)
{
    if (st_reference()) {
        return; /* nats-streaming-server has no JetStream */
    }
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("viewer");
    st_publish_n(client, "view.me", 1, 3);
    natsMsg *reply = NULL;
    ck_assert_int_eq(natsConnection_RequestString(&reply, client->nc,
                                                  "$JS.API.STREAM.INFO.STAN_view_2Eme", "",
                                                  ITEST_WAIT_MS),
                     NATS_OK);
    const char *info = natsMsg_GetData(reply);
    ck_assert_msg(strstr(info, "\"messages\":3") != NULL, "%s", info);
    ck_assert_msg(strstr(info, "\"_STAN.ch.view_2Eme\"") != NULL, "%s", info);
    natsMsg_Destroy(reply);
    ck_assert_int_eq(natsConnection_RequestString(&reply, client->nc,
                                                  "$JS.API.STREAM.MSG.GET.STAN_view_2Eme",
                                                  "{\"seq\":2}", ITEST_WAIT_MS),
                     NATS_OK);
    ck_assert_msg(strstr(natsMsg_GetData(reply), "\"data\":\"bTI=\"") != NULL, "%s",
                  natsMsg_GetData(reply)); /* "m2" */
    natsMsg_Destroy(reply);
    ck_assert_int_eq(natsConnection_RequestString(&reply, client->nc,
                                                  "$JS.API.STREAM.MSG.DELETE.STAN_view_2Eme",
                                                  "{\"seq\":2}", ITEST_WAIT_MS),
                     NATS_OK);
    ck_assert_msg(strstr(natsMsg_GetData(reply), "\"err_code\":10")  != NULL, "%s",
                  natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_int_eq(natsConnection_RequestString(&reply, client->nc,
                                                  "$JS.API.STREAM.PURGE.STAN_view_2Eme", "",
                                                  ITEST_WAIT_MS),
                     NATS_OK);
    ck_assert_msg(strstr(natsMsg_GetData(reply), "\"err_code\":10") != NULL, "%s",
                  natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
}
END_TEST

/* -mi: a channel with no subscription and no publish for that long goes, with its
 * messages; one with a subscription stays. The next publish makes it again from seq 1. */
START_TEST(test_stan_max_inactivity)
{
    static const char *const args[] = {"-mi", "300ms", NULL};
    st_start("FILE", args);
    struct st_client *client = st_client_open("inactive");
    st_publish_n(client, "idle", 1, 2);
    st_publish_n(client, "kept", 1, 2);
    struct st_sub *keeper = st_subscribe(client, "kept", (struct st_sub_options){.start = 4});
    st_expect_range(keeper, 0, 1, 2, false);
    usleep(1500 * 1000);
    st_publish(client, "idle", "again");
    struct st_sub *sub = st_subscribe(client, "idle", (struct st_sub_options){.start = 4});
    st_expect_range(sub, 0, 1, 1, false);
    struct st_delivery d = st_msg(sub, 0);
    ck_assert_uint_eq(d.length, 5);
    ck_assert(memcmp(d.data, "again", 5) == 0);
    st_publish(client, "kept", "m3");
    st_expect_range(keeper, 2, 3, 3, false);
}
END_TEST

START_TEST(test_stan_limits)
{
    static const char *const args[] = {"-mc", "1", "-msu", "1", "-mm", "3", NULL};
    st_start("FILE", args);
    struct st_client *client = st_client_open("limited");
    /* -mm 3: publishes are never refused, the oldest go */
    st_publish_n(client, "lim", 1, 5);
    struct st_sub *sub = st_subscribe(client, "lim", (struct st_sub_options){.start = 4});
    st_expect_range(sub, 0, 3, 5, false);
    struct st_delivery d = st_msg(sub, 0);
    ck_assert_uint_eq(d.length, 2);
    ck_assert(memcmp(d.data, "m3", 2) == 0);
    /* -msu 1 */
    st_subscribe_fails(client, "lim", (struct st_sub_options){.start = 4}, ERR_TOO_MANY_SUBS);
    st_subscribe_fails(client, "lim", (struct st_sub_options){.queue = "q"}, ERR_TOO_MANY_SUBS);
    /* -mc 1 */
    char error[ST_TEXT_MAX];
    st_publish_try(client, "other", "x", 1, error, sizeof error);
    ck_assert_str_eq(error, ERR_TOO_MANY_CHANNELS);
    st_subscribe_fails(client, "other", (struct st_sub_options){0}, ERR_TOO_MANY_CHANNELS);
    /* a freed slot: a start below the first sequence starts at the first */
    st_unsubscribe(sub, false);
    struct st_sub *low =
        st_subscribe(client, "lim", (struct st_sub_options){.start = 3, .start_seq = 1});
    st_expect_range(low, 0, 3, 5, false);
    st_publish(client, "lim", "m6");
    st_expect_range(low, 3, 6, 6, false);
    st_unsubscribe(low, false);
    struct st_sub *last = st_subscribe(client, "lim", (struct st_sub_options){.start = 4});
    st_expect_range(last, 0, 4, 6, false);
}
END_TEST

/* ---- a broker killed and restarted on its store ---- */

START_TEST(test_stan_restart_file)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("keeper");
    enum { COUNT = 20, INFLIGHT = 5 };
    for (int i = 1; i <= COUNT; i++) {
        unsigned char payload[40];
        itest_payload_fill(payload, sizeof payload, (uint64_t)i);
        char error[ST_TEXT_MAX];
        st_publish_try(client, "persist", payload, sizeof payload, error, sizeof error);
        ck_assert_msg(error[0] == '\0', "publish %d: \"%s\"", i, error);
    }
    struct st_sub *sub = st_subscribe(
        client, "persist",
        (struct st_sub_options){.durable = "dur", .start = 4, .max_inflight = INFLIGHT,
                                .manual = true});
    st_expect_range(sub, 0, 1, INFLIGHT, false);
    /* ack 1, 2, 3 and 5; the deliveries of 6..9 that the acks make room for show the
     * server has taken them */
    static const uint64_t acked[] = {1, 2, 3, 5};
    for (size_t i = 0; i < sizeof acked / sizeof acked[0]; i++) {
        st_ack(sub, acked[i]);
    }
    st_expect_range(sub, INFLIGHT, 6, 9, false);
    /* a non-durable subscription and a plain client that are not expected to matter */
    st_subscribe(client, "persist", (struct st_sub_options){0});
    char old_conn_id[64];
    copy_text(old_conn_id, sizeof old_conn_id, client->conn_id);

    st_kill_restart(client);

    /* the client record survived, with its conn id */
    struct st_client *back = st_client_new("keeper", true);
    st_ping_expect(back, old_conn_id, "");
    char error[ST_TEXT_MAX];
    st_connect_try(back, error, sizeof error);
    ck_assert_msg(error[0] == '\0', "reconnect: \"%s\"", error);
    st_ping_expect(back, old_conn_id, ERR_REPLACED);
    struct st_sub *resumed = st_subscribe(
        back, "persist", (struct st_sub_options){.durable = "dur", .manual = true});
    /* pending 4, 6, 7, 8, 9 redelivered; 10..20 for the first time */
    size_t want = 5 + (COUNT - 9);
    st_wait_count(resumed, want, ST_WAIT_MS);
    usleep(ST_QUIET_MS * 1000);
    size_t got = st_count(resumed);
    bool seen[COUNT + 1] = {false};
    for (size_t i = 0; i < got; i++) {
        struct st_delivery d = st_msg(resumed, i);
        ck_assert_msg(d.seq >= 1 && d.seq <= COUNT, "seq %" PRIu64 " after restart", d.seq);
        ck_assert_msg(d.length == 40 && itest_payload_check(d.data, 40, d.seq),
                      "seq %" PRIu64 ": payload differs", d.seq);
        bool was_acked = false;
        for (size_t a = 0; a < sizeof acked / sizeof acked[0]; a++) {
            was_acked = was_acked || acked[a] == d.seq;
        }
        if (was_acked) {
            /* an ack the store lost: allowed, as a redelivery only */
            fprintf(stderr, "note: acked seq %" PRIu64 " delivered again after the restart\n",
                    d.seq);
            ck_assert_msg(d.redelivered, "acked seq %" PRIu64 " delivered as new", d.seq);
        } else if (d.seq <= 9) {
            ck_assert_msg(d.redelivered, "pending seq %" PRIu64 " not marked redelivered",
                          d.seq);
        } else if (!seen[d.seq]) {
            ck_assert_msg(!d.redelivered, "seq %" PRIu64 " marked redelivered", d.seq);
        }
        seen[d.seq] = true;
    }
    for (uint64_t seq = 1; seq <= COUNT; seq++) {
        bool was_acked = seq <= 3 || seq == 5;
        ck_assert_msg(was_acked || seen[seq], "PubAcked seq %" PRIu64 " not delivered after "
                      "the restart (got %s)", seq, st_seqs_text(resumed, 0));
    }
    ck_assert_msg(got == want, "%zu deliveries after the restart, want %zu: %s", got, want,
                  st_seqs_text(resumed, 0));
    /* redeliveries first, in order, then the rest */
    st_expect_seqs_then(resumed, 0, (const uint64_t[]){4, 6, 7, 8, 9}, 5, true, false);
    /* the channel goes on at the next sequence */
    st_publish(back, "persist", "next");
    st_expect_range(resumed, want, COUNT + 1, COUNT + 1, false);
}
END_TEST

/* Durables that were offline (closed) when the broker was killed, a plain one and a durable
 * queue group without members: both resume after the restart with their unacked messages
 * redelivered and their acked ones not. */
START_TEST(test_stan_restart_offline_durable)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("keeper");
    st_publish_n(client, "off", 1, 3);
    struct st_sub *plain = st_subscribe(
        client, "off", (struct st_sub_options){.durable = "d", .start = 4, .manual = true});
    struct st_sub *queue = st_subscribe(
        client, "off",
        (struct st_sub_options){.queue = "g", .durable = "dq", .start = 4, .manual = true});
    st_expect_range(plain, 0, 1, 3, false);
    st_expect_range(queue, 0, 1, 3, false);
    st_ack(plain, 2);
    st_ack(queue, 1);
    st_ack(queue, 3);
    itest_flush(client->nc);
    st_unsubscribe(plain, true);
    st_unsubscribe(queue, true);
    st_publish(client, "off", "m4");
    st_kill_restart(client);

    struct st_client *back = st_client_new("keeper", true);
    char error[ST_TEXT_MAX];
    st_connect_try(back, error, sizeof error);
    ck_assert_msg(error[0] == '\0', "reconnect: \"%s\"", error);
    struct st_sub *plain_again =
        st_subscribe(back, "off", (struct st_sub_options){.durable = "d", .manual = true});
    struct st_sub *queue_again = st_subscribe(
        back, "off", (struct st_sub_options){.queue = "g", .durable = "dq", .manual = true});
    st_expect_seqs_then(plain_again, 0, (const uint64_t[]){1, 3}, 2, true, false);
    st_expect_range(plain_again, 2, 4, 4, false);
    st_expect_seqs_then(queue_again, 0, (const uint64_t[]){2}, 1, true, false);
    st_expect_range(queue_again, 1, 4, 4, false);
}
END_TEST

START_TEST(test_stan_restart_memory)
{
    st_start("MEMORY", NULL);
    struct st_client *client = st_client_open("forgetful");
    st_publish_n(client, "mem", 1, 5);
    struct st_sub *sub = st_subscribe(
        client, "mem", (struct st_sub_options){.durable = "dur", .start = 4, .manual = true});
    st_expect_range(sub, 0, 1, 5, false);
    st_ack(sub, 1);
    itest_flush(client->nc);
    char old_conn_id[64];
    copy_text(old_conn_id, sizeof old_conn_id, client->conn_id);
    st_kill_restart(client);
    struct st_client *back = st_client_new("forgetful", true);
    /* no client, no channel, no durable */
    st_ping_expect(back, old_conn_id, ERR_REPLACED);
    st_subscribe_fails(back, "mem", (struct st_sub_options){.start = 4}, ERR_UNKNOWN_CLIENT);
    char error[ST_TEXT_MAX];
    st_connect_try(back, error, sizeof error);
    ck_assert_str_eq(error, "");
    struct st_sub *first = st_subscribe(back, "mem", (struct st_sub_options){.start = 4});
    struct st_sub *durable =
        st_subscribe(back, "mem", (struct st_sub_options){.durable = "dur", .start = 4});
    st_expect_quiet(first, 0);
    st_expect_quiet(durable, 0);
    st_publish(back, "mem", "again");
    st_expect_range(first, 0, 1, 1, false);
    st_expect_range(durable, 0, 1, 1, false);
}
END_TEST

/* PubAcks of asynchronous publishes, collected by guid ("g<id>"). */
enum { LOAD_COUNT = 2000 };

struct st_load_acks {
    pthread_mutex_t lock;
    bool acked[LOAD_COUNT + 1];
    long ok;
    long failed;
    char error[ST_TEXT_MAX];
};

static void st_load_ack_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                           void *closure)
{
    (void)nc;
    (void)sub;
    struct st_load_acks *acks = closure;
    Pb__PubAck *ack = pb__pub_ack__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                          (const uint8_t *)natsMsg_GetData(msg));
    natsMsg_Destroy(msg);
    pthread_mutex_lock(&acks->lock);
    unsigned long id = 0;
    if (ack == NULL || ack->error[0] != '\0' || sscanf(ack->guid, "g%lu", &id) != 1 ||
        id == 0 || id > LOAD_COUNT) {
        acks->failed++;
        copy_text(acks->error, sizeof acks->error, ack != NULL ? ack->error : "undecodable");
    } else if (!acks->acked[id]) {
        acks->acked[id] = true;
        acks->ok++;
    }
    pthread_mutex_unlock(&acks->lock);
    if (ack != NULL) {
        pb__pub_ack__free_unpacked(ack, NULL);
    }
}

/* Publishes without waiting for each PubAck (as a node client does) and kills the broker
 * with SIGKILL once a quarter are acked, the rest still in flight; after the restart every
 * PubAcked message is in the channel, once, in publish order, with sequences 1..n. */
START_TEST(test_stan_restart_under_load)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("loader");
    static struct st_load_acks acks;
    memset(&acks, 0, sizeof acks);
    pthread_mutex_init(&acks.lock, NULL);
    natsSubscription *ack_sub = NULL;
    ITEST_OK(natsConnection_Subscribe(&ack_sub, client->nc, "_STAN.acks.loader",
                                      st_load_ack_cb, &acks));
    itest_flush(client->nc);
    long sent = 0;
    bool killed = false;
    for (unsigned long id = 1; id <= LOAD_COUNT && !killed; id++) {
        unsigned char payload[64];
        itest_payload_fill(payload, sizeof payload, id);
        char guid[32];
        snprintf(guid, sizeof guid, "g%lu", id);
        Pb__PubMsg msg = PB__PUB_MSG__INIT;
        msg.client_id = client->id;
        msg.conn_id.data = (uint8_t *)client->conn_id;
        msg.conn_id.len = strlen(client->conn_id);
        msg.guid = guid;
        msg.subject = "load";
        msg.data.data = payload;
        msg.data.len = sizeof payload;
        uint8_t buffer[256];
        size_t length = pb__pub_msg__pack(&msg, buffer);
        ITEST_OK(natsConnection_PublishRequest(client->nc, SUBJ_PUB ".load", "_STAN.acks.loader",
                                               buffer, (int)length));
        sent++;
        if (id % 50 == 0) {
            /* paced, so that acks come back while later publishes are still going out */
            natsConnection_Flush(client->nc);
            usleep(300);
        }
        pthread_mutex_lock(&acks.lock);
        killed = acks.ok >= LOAD_COUNT / 4;
        pthread_mutex_unlock(&acks.lock);
    }
    /* everything sent before a quarter was acked: wait (bounded) for that quarter */
    int64_t wait_until = itest_now_ms() + ST_WAIT_MS;
    while (!killed && itest_now_ms() < wait_until) {
        usleep(1000);
        pthread_mutex_lock(&acks.lock);
        killed = acks.ok >= LOAD_COUNT / 4;
        pthread_mutex_unlock(&acks.lock);
    }
    ck_assert_msg(killed, "%ld PubAcks of %ld in %d ms", acks.ok, sent, ST_WAIT_MS);
    test_server_kill(&st.server);
    natsSubscription_Destroy(ack_sub);
    st_client_drop(client);
    pthread_mutex_lock(&acks.lock);
    long acked = acks.ok;
    ck_assert_msg(acks.failed == 0, "%ld failed PubAcks: \"%s\"", acks.failed, acks.error);
    pthread_mutex_unlock(&acks.lock);
    int rc = test_server_restart(&st.server, &st.options);
    ck_assert_msg(rc == 0, "restart: %s", strerror(-rc));
    st_wait_ready();

    struct st_client *back = st_client_new("reader", true);
    char error[ST_TEXT_MAX];
    st_connect_try(back, error, sizeof error);
    ck_assert_str_eq(error, "");
    struct st_sub *sub = st_subscribe(back, "load", (struct st_sub_options){.start = 4});
    /* the stored count is between the acked and the sent: wait for the highest acked id */
    unsigned long highest = 0;
    for (unsigned long id = 1; id <= LOAD_COUNT; id++) {
        highest = acks.acked[id] ? id : highest;
    }
    int64_t deadline = itest_now_ms() + ST_WAIT_MS;
    bool found = false;
    size_t scanned = 0;
    while (!found && itest_now_ms() < deadline) {
        size_t count = st_count(sub);
        for (; scanned < count && !found; scanned++) {
            struct st_delivery d = st_msg(sub, scanned);
            found = itest_payload_seq(d.data, 8) == highest;
        }
        if (!found) {
            usleep(5 * 1000);
        }
    }
    usleep(ST_QUIET_MS * 1000);
    size_t count = st_count(sub);
    ck_assert_msg(found, "the highest acked message (id %lu) is not there: %zu delivered, %ld "
                  "acked, %ld sent", highest, count, acked, sent);
    ck_assert_msg((long)count >= acked && (long)count <= sent,
                  "%zu stored, %ld acked, %ld sent", count, acked, sent);
    fprintf(stderr, "restart_under_load: killed with %ld of %ld publishes acked; %zu stored\n",
            acked, sent, count);
    uint64_t last_id = 0;
    static bool stored[LOAD_COUNT + 1];
    memset(stored, 0, sizeof stored);
    for (size_t i = 0; i < count; i++) {
        struct st_delivery d = st_msg(sub, i);
        ck_assert_msg(d.seq == i + 1, "delivery #%zu has seq %" PRIu64, i, d.seq);
        ck_assert(!d.redelivered);
        uint64_t id = itest_payload_seq(d.data, d.length);
        ck_assert_msg(d.length == 64 && itest_payload_check(d.data, 64, id),
                      "seq %" PRIu64 ": payload differs", d.seq);
        ck_assert_msg(id > last_id && id <= LOAD_COUNT, "seq %" PRIu64 " holds id %" PRIu64
                      " after id %" PRIu64, d.seq, id, last_id);
        last_id = id;
        stored[id] = true;
    }
    for (unsigned long id = 1; id <= LOAD_COUNT; id++) {
        ck_assert_msg(!acks.acked[id] || stored[id], "PubAcked id %lu lost", id);
    }
    st_publish(back, "load", "after");
    st_expect_range(sub, count, count + 1, count + 1, false);
}
END_TEST

/* One TCase per test, named after it without "test_stan_", so CK_RUN_CASE=<name> runs
 * one (e.g. CK_RUN_CASE=restart_file). */
static void stan_tcase(Suite *suite, const char *name, const TTest *test)
{
    TCase *tcase = tcase_create(name);
    tcase_add_unchecked_fixture(tcase, st_base_setup, st_base_teardown);
    tcase_add_checked_fixture(tcase, NULL, st_teardown);
    tcase_set_timeout(tcase, ST_TCASE_TIMEOUT_S);
    tcase_add_test(tcase, test);
    suite_add_tcase(suite, tcase);
}

static Suite *stan_suite(void)
{
    Suite *suite = suite_create("integration_stan");
    stan_tcase(suite, "connect_ok", test_stan_connect_ok);
    stan_tcase(suite, "connect_errors", test_stan_connect_errors);
    stan_tcase(suite, "connect_duplicate_alive", test_stan_connect_duplicate_alive);
    stan_tcase(suite, "connect_duplicate_gone", test_stan_connect_duplicate_gone);
    stan_tcase(suite, "ping", test_stan_ping);
    stan_tcase(suite, "publish", test_stan_publish);
    stan_tcase(suite, "channel_names", test_stan_channel_names);
    stan_tcase(suite, "publish_errors", test_stan_publish_errors);
    stan_tcase(suite, "subscribe_errors", test_stan_subscribe_errors);
    stan_tcase(suite, "start_positions", test_stan_start_positions);
    stan_tcase(suite, "redelivery", test_stan_redelivery);
    stan_tcase(suite, "max_inflight", test_stan_max_inflight);
    stan_tcase(suite, "queue_each_once", test_stan_queue_each_once);
    stan_tcase(suite, "queue_least_loaded", test_stan_queue_least_loaded);
    stan_tcase(suite, "queue_member_leaves", test_stan_queue_member_leaves);
    stan_tcase(suite, "queue_durable", test_stan_queue_durable);
    stan_tcase(suite, "durable_resume", test_stan_durable_resume);
    stan_tcase(suite, "durable_resume_inflight", test_stan_durable_resume_inflight);
    stan_tcase(suite, "max_inactivity", test_stan_max_inactivity);
    stan_tcase(suite, "jetstream_view", test_stan_jetstream_view);
    stan_tcase(suite, "durable_unsubscribe", test_stan_durable_unsubscribe);
    stan_tcase(suite, "unsubscribe_errors", test_stan_unsubscribe_errors);
    stan_tcase(suite, "close", test_stan_close);
    stan_tcase(suite, "heartbeats", test_stan_heartbeats);
    stan_tcase(suite, "limits", test_stan_limits);
    stan_tcase(suite, "restart_file", test_stan_restart_file);
    stan_tcase(suite, "restart_offline_durable", test_stan_restart_offline_durable);
    stan_tcase(suite, "restart_under_load", test_stan_restart_under_load);
    stan_tcase(suite, "restart_memory", test_stan_restart_memory);
    return suite;
}

int main(void)
{
    if (test_server_reference() && !test_server_stan_reference()) {
        printf("SKIP: nats-server has no NATS Streaming\n");
        return 77;
    }
    return itest_run(stan_suite());
}
