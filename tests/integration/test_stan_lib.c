/* The raw STAN client and the broker fixture the NATS Streaming tests share (declared, with
 * what each does, in test_stan.h): starting the broker with streaming on a fresh store
 * directory and restarting it on the same one; protobuf requests over libnats; clients with
 * heartbeat inboxes that answer (or not) the server's heartbeats and probes; subscriptions
 * whose deliveries are decoded and recorded, auto-acked unless manual, and waited for with a
 * bound; the teardown that frees all of it.
 *
 * The one idea: a libnats callback only records (under the subscription's lock, signalling
 * its condition variable on CLOCK_MONOTONIC) and the test thread waits on that record, so
 * every wait is bounded and every failure message can list what did come. Test thread only,
 * except st_heartbeat_cb and st_delivery_cb (libnats's threads). */
#include "tests/integration/test_stan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the broker ---- */

/* The TCase's base store directory (each test's is under it), made and removed by the
 * unchecked fixture in the parent process, so a forked test that fails leaves nothing. */
static char st_base_dir[64];

struct st st;

bool st_reference(void)
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

void st_start(const char *store, const char *const *extra)
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

natsMsg *st_request_bytes(natsConnection *nc, const char *subject, const void *data,
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

void st_publish_pb(natsConnection *nc, const char *subject, const ProtobufCMessage *message)
{
    size_t length = protobuf_c_message_get_packed_size(message);
    uint8_t *buffer = malloc(length + 1);
    ck_assert_ptr_nonnull(buffer);
    protobuf_c_message_pack(message, buffer);
    ITEST_OK(natsConnection_Publish(nc, subject, buffer, (int)length));
    free(buffer);
}

void st_text_copy(char *to, size_t size, const char *from)
{
    snprintf(to, size, "%s", from != NULL ? from : "");
}

const char st_malformed[6] = "\x0a\x10" "abc";

void st_wait_ready(void)
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

void st_kill_restart(struct st_client *client)
{
    test_server_kill(&st.server);
    st_client_drop(client);
    int rc = test_server_restart(&st.server, &st.options);
    ck_assert_msg(rc == 0, "restart: %s", strerror(-rc));
    st_wait_ready();
}

/* ---- a STAN client ---- */

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

struct st_client *st_client_new(const char *id, bool answer)
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
    st_text_copy(client->id, sizeof client->id, id);
    snprintf(client->conn_id, sizeof client->conn_id, "conn-%d-%u-%s", (int)getpid(),
             ++serial, id);
    atomic_init(&client->answer, answer);
    atomic_init(&client->hb_odd, false);
    itest_counter_init(&client->heartbeats);
    client->nc = st_nats_connect();
    natsInbox *inbox = NULL;
    ITEST_OK(natsInbox_Create(&inbox));
    st_text_copy(client->hb_inbox, sizeof client->hb_inbox, inbox);
    natsInbox_Destroy(inbox);
    ITEST_OK(natsConnection_Subscribe(&client->hb_sub, client->nc, client->hb_inbox,
                                      st_heartbeat_cb, client));
    itest_flush(client->nc);
    return client;
}

void st_client_drop(struct st_client *client)
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

Pb__ConnectRequest st_connect_request(const struct st_client *client)
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

Pb__ConnectResponse *st_connect_raw(natsConnection *nc, const void *data, size_t length)
{
    natsMsg *reply = st_request_bytes(nc, SUBJ_DISCOVER, data, length);
    Pb__ConnectResponse *response = pb__connect_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_msg(response != NULL, "a ConnectResponse that does not decode");
    return response;
}

Pb__ConnectResponse *st_connect_request_send(struct st_client *client,
                                             const Pb__ConnectRequest *request)
{
    natsMsg *reply = st_request_pb(client->nc, SUBJ_DISCOVER, &request->base);
    Pb__ConnectResponse *response = pb__connect_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_msg(response != NULL, "a ConnectResponse that does not decode");
    return response;
}

void st_connect_try(struct st_client *client, char *error, size_t size)
{
    Pb__ConnectRequest request = st_connect_request(client);
    Pb__ConnectResponse *response = st_connect_request_send(client, &request);
    st_text_copy(error, size, response->error);
    if (response->error[0] == '\0') {
        ck_assert_str_eq(response->pub_prefix, SUBJ_PUB);
        ck_assert_str_eq(response->sub_requests, SUBJ_SUB);
        ck_assert_str_eq(response->close_requests, SUBJ_CLOSE);
    }
    pb__connect_response__free_unpacked(response, NULL);
}

struct st_client *st_client_open(const char *id)
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
    st_text_copy(error, size, response->error);
    if (response->error[0] == '\0') {
        /* PingResponse{} is an empty payload */
        ck_assert_int_eq(natsMsg_GetDataLength(reply), 0);
    }
    pb__ping_response__free_unpacked(response, NULL);
    natsMsg_Destroy(reply);
}

void st_ping_expect(struct st_client *client, const char *conn_id, const char *want)
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
    st_text_copy(error, size, response->error);
    pb__close_response__free_unpacked(response, NULL);
}

void st_close_expect(struct st_client *client, const char *id, const char *want)
{
    char error[ST_TEXT_MAX];
    st_close_try(client, id, error, sizeof error);
    ck_assert_msg(strcmp(error, want) == 0, "close %s: \"%s\", want \"%s\"",
                  id != NULL ? id : client->id, error, want);
}

/* ---- publish ---- */

Pb__PubAck *st_publish_raw(natsConnection *nc, const char *nats_subject, const Pb__PubMsg *msg)
{
    natsMsg *reply = st_request_pb(nc, nats_subject, &msg->base);
    Pb__PubAck *ack = pb__pub_ack__unpack(NULL, (size_t)natsMsg_GetDataLength(reply),
                                          (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_msg(ack != NULL, "a PubAck that does not decode");
    return ack;
}

void st_publish_try(struct st_client *client, const char *channel, const void *data,
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
    st_text_copy(error, size, ack->error);
    pb__pub_ack__free_unpacked(ack, NULL);
}

void st_publish(struct st_client *client, const char *channel, const char *text)
{
    char error[ST_TEXT_MAX];
    st_publish_try(client, channel, text, strlen(text), error, sizeof error);
    ck_assert_msg(error[0] == '\0', "publish to %s: \"%s\"", channel, error);
}

void st_publish_n(struct st_client *client, const char *channel, int first, int count)
{
    for (int i = first; i < first + count; i++) {
        char text[32];
        snprintf(text, sizeof text, "m%d", i);
        st_publish(client, channel, text);
    }
}

/* ---- subscriptions ---- */

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
        st_text_copy(d->subject, sizeof d->subject, proto->subject);
        st_text_copy(d->reply, sizeof d->reply, proto->reply);
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

struct st_sub *st_sub_new(struct st_client *client, const char *channel, bool manual)
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
    st_text_copy(sub->channel, sizeof sub->channel, channel);
    pthread_mutex_init(&sub->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&sub->changed, &attr);
    pthread_condattr_destroy(&attr);
    natsInbox *inbox = NULL;
    ITEST_OK(natsInbox_Create(&inbox));
    st_text_copy(sub->inbox, sizeof sub->inbox, inbox);
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

void st_sub_request_send(natsConnection *nc, const Pb__SubscriptionRequest *request,
                         char *error, size_t size, char *ack_inbox, size_t ack_size)
{
    natsMsg *reply = st_request_pb(nc, SUBJ_SUB, &request->base);
    Pb__SubscriptionResponse *response = pb__subscription_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_msg(response != NULL, "a SubscriptionResponse that does not decode");
    st_text_copy(error, size, response->error);
    if (ack_inbox != NULL) {
        st_text_copy(ack_inbox, ack_size, response->ack_inbox);
    }
    pb__subscription_response__free_unpacked(response, NULL);
}

void st_subscribe_try(struct st_sub *sub, const struct st_sub_options *o, char *error,
                      size_t size)
{
    Pb__SubscriptionRequest request = st_sub_request(sub, o);
    char ack_inbox[ST_TEXT_MAX];
    st_sub_request_send(sub->client->nc, &request, error, size, ack_inbox, sizeof ack_inbox);
    if (error[0] == '\0') {
        ck_assert_msg(ack_inbox[0] != '\0', "a SubscriptionResponse without an ack inbox");
        pthread_mutex_lock(&sub->lock);
        st_text_copy(sub->ack_inbox, sizeof sub->ack_inbox, ack_inbox);
        pthread_mutex_unlock(&sub->lock);
    }
}

struct st_sub *st_subscribe(struct st_client *client, const char *channel,
                            struct st_sub_options o)
{
    struct st_sub *sub = st_sub_new(client, channel, o.manual);
    char error[ST_TEXT_MAX];
    st_subscribe_try(sub, &o, error, sizeof error);
    ck_assert_msg(error[0] == '\0', "subscribe to %s: \"%s\"", channel, error);
    return sub;
}

void st_subscribe_fails(struct st_client *client, const char *channel, struct st_sub_options o,
                        const char *want)
{
    struct st_sub *sub = st_sub_new(client, channel, o.manual);
    char error[ST_TEXT_MAX];
    st_subscribe_try(sub, &o, error, sizeof error);
    ck_assert_msg(strcmp(error, want) == 0, "subscribe to %s: \"%s\", want \"%s\"", channel,
                  error, want);
}

size_t st_wait_count(struct st_sub *sub, size_t count, int timeout_ms)
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

size_t st_count(struct st_sub *sub)
{
    pthread_mutex_lock(&sub->lock);
    size_t count = sub->count;
    pthread_mutex_unlock(&sub->lock);
    return count;
}

struct st_delivery st_msg(struct st_sub *sub, size_t index)
{
    pthread_mutex_lock(&sub->lock);
    ck_assert_msg(index < sub->count, "delivery %zu of %zu", index, sub->count);
    struct st_delivery d = sub->msgs[index];
    pthread_mutex_unlock(&sub->lock);
    return d;
}

const char *st_seqs_text(struct st_sub *sub, size_t from)
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

void st_expect_seqs_then(struct st_sub *sub, size_t from, const uint64_t *seqs, size_t n,
                         bool redelivered, bool quiet)
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

void st_expect_seqs(struct st_sub *sub, size_t from, const uint64_t *seqs, size_t n,
                    bool redelivered)
{
    st_expect_seqs_then(sub, from, seqs, n, redelivered, true);
}

void st_expect_range(struct st_sub *sub, size_t from, uint64_t first, uint64_t last,
                     bool redelivered)
{
    uint64_t seqs[ST_MSGS_MAX];
    size_t n = 0;
    for (uint64_t s = first; s <= last && n < ST_MSGS_MAX; s++) {
        seqs[n++] = s;
    }
    st_expect_seqs(sub, from, seqs, n, redelivered);
}

void st_expect_quiet(struct st_sub *sub, size_t from)
{
    usleep(ST_QUIET_MS * 1000);
    ck_assert_msg(st_count(sub) == from, "%s: unexpected deliveries: %s", sub->channel,
                  st_seqs_text(sub, from));
}

void st_ack(struct st_sub *sub, uint64_t seq)
{
    pthread_mutex_lock(&sub->lock);
    char ack_inbox[ST_TEXT_MAX];
    st_text_copy(ack_inbox, sizeof ack_inbox, sub->ack_inbox);
    pthread_mutex_unlock(&sub->lock);
    Pb__Ack ack = PB__ACK__INIT;
    ack.subject = sub->channel;
    ack.sequence = seq;
    st_publish_pb(sub->client->nc, ack_inbox, &ack.base);
}

void st_unsub_raw(natsConnection *nc, bool close, const char *client_id, const char *channel,
                  const char *inbox, char *error, size_t size)
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
    st_text_copy(error, size, response->error);
    st_text_copy(ack_inbox, sizeof ack_inbox, response->ack_inbox);
    pb__subscription_response__free_unpacked(response, NULL);
    ck_assert_msg(ack_inbox[0] == '\0', "an unsubscribe response with ack inbox %s", ack_inbox);
}

void st_unsubscribe(struct st_sub *sub, bool close)
{
    char error[ST_TEXT_MAX];
    st_unsub_raw(sub->client->nc, close, sub->client->id, sub->channel, sub->ack_inbox, error,
                 sizeof error);
    ck_assert_msg(error[0] == '\0', "%s %s: \"%s\"", close ? "close" : "unsubscribe",
                  sub->channel, error);
}

bool st_delivered(struct st_sub *sub, uint64_t seq, struct st_delivery *out)
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

int64_t st_realtime_ns(void)
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

/* One TCase per test, named after it without "test_stan_", so CK_RUN_CASE=<name> runs
 * one (e.g. CK_RUN_CASE=restart_file). */
void st_tcase_add(Suite *suite, const char *name, const TTest *test)
{
    TCase *tcase = tcase_create(name);
    tcase_add_unchecked_fixture(tcase, st_base_setup, st_base_teardown);
    tcase_add_checked_fixture(tcase, NULL, st_teardown);
    tcase_set_timeout(tcase, ST_TCASE_TIMEOUT_S);
    tcase_add_test(tcase, test);
    suite_add_tcase(suite, tcase);
}
