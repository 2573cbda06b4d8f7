/* NATS Streaming's monitoring pages (/streaming/serverz, storez, clientsz, channelsz,
 * isFTActive and the /streaming index) on ionats's -m port: nats-streaming-server's JSON
 * field names and values for what two raw STAN clients did, its list paging, subs=1, the
 * single client and channel forms and their 404 texts; pages that wait for JetStream's
 * figures answered in order when pipelined, and dropped safely when their connection goes
 * first; no /streaming pages without streaming.
 *
 * The one idea: the STAN protocol is spoken raw, protobuf (proto/stan.pb-c.h) over libnats
 * requests, so the test controls exactly which clients, subscriptions and messages exist:
 * client "alpha" publishes two messages to "foo" and one to "bar" and subscribes to "foo"
 * from the first message with max in flight 1 (it gets message 1 and never acks it:
 * stalled); client "beta" joins queue group "workers" on "foo" and subscribes durable "dur"
 * on "bar", both for new messages only (none come), then closes the durable's
 * subscription, which leaves it offline. The broker is started with -cid test-cluster
 * -m -1 -st FILE -dir <dir> (flags both servers spell alike) and the monitoring port read
 * from its log. With IONATS_TEST_SERVER=nats-streaming-server the harness starts the
 * reference instead, and the same checks pass against it (the test without streaming is
 * then skipped); with IONATS_TEST_SERVER=nats-server both are skipped. */
#include "tests/integration/itest.h"

#include "proto/stan.pb-c.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { WAIT_MS = 5000, READ_SIZE = 1 << 16 };

#define CLUSTER "test-cluster"

static const char *const PLAIN_ARGS[] = {"-m", "-1", NULL};

/* IONATS_TEST_SERVER=nats-streaming-server: the reference streaming server. */
static bool stan_reference(void)
{
    const char *which = getenv("IONATS_TEST_SERVER");
    return which != NULL && strcmp(which, "nats-streaming-server") == 0;
}

/* Starts a broker with `args` and returns its monitoring port, read from its log (0:
 * nats-server, which has no streaming). */
static int broker_start(struct test_server *server, const char *const *args, bool jetstream,
                        const char *store_dir)
{
    if (test_server_reference()) {
        fprintf(stderr, "test_stan_monitor: nats-server has no streaming; skipped\n");
        return 0;
    }
    struct test_server_options options = {
        .extra_args = args, .jetstream = jetstream, .store_dir = store_dir};
    itest_server_start(server, &options);
    return itest_monitor_port(server, WAIT_MS);
}

/* ---- HTTP ---- */

struct response {
    int status;
    char head[2048];
    char body[READ_SIZE];
};

/* Reads one whole response (by its Content-Length; a 204 has none and no body) from
 * `data`, where `*length` bytes were read so far; what follows it stays in `data`. */
static void response_read(int fd, char *data, size_t *length, struct response *response)
{
    char *end;
    while ((end = strstr(data, "\r\n\r\n")) == NULL) {
        struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
        ck_assert_msg(poll(&poll_fd, 1, ITEST_WAIT_MS) == 1, "no response head");
        ssize_t n = recv(fd, data + *length, READ_SIZE - 1 - *length, 0);
        ck_assert_int_gt(n, 0);
        *length += (size_t)n;
        data[*length] = '\0';
    }
    size_t head_length = (size_t)(end - data) + 4;
    ck_assert_uint_lt(head_length, sizeof response->head);
    memcpy(response->head, data, head_length);
    response->head[head_length] = '\0';
    ck_assert_int_eq(sscanf(response->head, "HTTP/1.1 %d", &response->status), 1);
    const char *header = strstr(response->head, "Content-Length: ");
    size_t body_length = header != NULL ? strtoul(header + 16, NULL, 10) : 0;
    ck_assert_uint_lt(body_length, sizeof response->body);
    while (*length < head_length + body_length) {
        struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
        ck_assert_msg(poll(&poll_fd, 1, ITEST_WAIT_MS) == 1, "short body");
        ssize_t n = recv(fd, data + *length, READ_SIZE - 1 - *length, 0);
        ck_assert_int_gt(n, 0);
        *length += (size_t)n;
        data[*length] = '\0';
    }
    memcpy(response->body, data + head_length, body_length);
    response->body[body_length] = '\0';
    size_t used = head_length + body_length;
    memmove(data, data + used, *length - used + 1);
    *length -= used;
}

/* GETs each of `paths` on one connection, the requests sent at once (pipelined). */
static void get_many(int port, const char *const *paths, size_t count,
                     struct response *responses)
{
    int fd = test_connect_raw(port);
    ck_assert_int_ge(fd, 0);
    char request[4096] = "";
    for (size_t i = 0; i < count; i++) {
        size_t used = strlen(request);
        snprintf(request + used, sizeof request - used,
                 "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", paths[i]);
    }
    ck_assert_int_eq(test_send_all(fd, request, strlen(request)), 0);
    static char data[READ_SIZE];
    size_t length = 0;
    data[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        response_read(fd, data, &length, &responses[i]);
    }
    close(fd);
}

static struct response *get(int port, const char *path)
{
    static struct response response;
    get_many(port, &path, 1, &response);
    return &response;
}

/* `text` holds `needle`. */
static void has(const char *text, const char *needle)
{
    ck_assert_msg(strstr(text, needle) != NULL, "no %s in:\n%s", needle, text);
}

static void lacks(const char *text, const char *needle)
{
    ck_assert_msg(strstr(text, needle) == NULL, "%s in:\n%s", needle, text);
}

/* `first` comes before `second` in `text`, both there. */
static void ordered(const char *text, const char *first, const char *second)
{
    const char *a = strstr(text, first);
    const char *b = strstr(text, second);
    ck_assert_msg(a != NULL && b != NULL && a < b, "%s not before %s in:\n%s", first, second,
                  text);
}

/* ---- raw STAN over libnats ---- */

struct stan_client {
    natsConnection *nc;
    natsSubscription *hb;  /* answers the server's heartbeats */
    char id[32];
    Pb__ConnectResponse *cr;
};

static void on_heartbeat(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)sub;
    (void)closure;
    if (natsMsg_GetReply(msg) != NULL) {
        natsConnection_Publish(nc, natsMsg_GetReply(msg), NULL, 0);
    }
    natsMsg_Destroy(msg);
}

/* Sends a packed protobuf message as a request to `subject`; the reply (the caller's). */
static natsMsg *pb_request(natsConnection *nc, const char *subject, const void *message)
{
    const ProtobufCMessage *pb = message;
    size_t length = protobuf_c_message_get_packed_size(pb);
    uint8_t *buffer = malloc(length + 1);
    ck_assert_ptr_nonnull(buffer);
    protobuf_c_message_pack(pb, buffer);
    natsMsg *reply = NULL;
    ITEST_OK(natsConnection_Request(&reply, nc, subject, buffer, (int)length, ITEST_WAIT_MS));
    free(buffer);
    return reply;
}

static void stan_connect(struct stan_client *client, const char *url, const char *id)
{
    snprintf(client->id, sizeof client->id, "%s", id);
    client->nc = itest_connect(url);
    char hb_inbox[64];
    snprintf(hb_inbox, sizeof hb_inbox, "hb.%s", id);
    ITEST_OK(natsConnection_Subscribe(&client->hb, client->nc, hb_inbox, on_heartbeat, NULL));
    Pb__ConnectRequest request = PB__CONNECT_REQUEST__INIT;
    request.client_id = client->id;
    request.heartbeat_inbox = hb_inbox;
    request.protocol = 1;
    request.conn_id.data = (uint8_t *)client->id;
    request.conn_id.len = strlen(client->id);
    request.ping_interval = 5;
    request.ping_max_out = 3;
    natsMsg *reply = pb_request(client->nc, "_STAN.discover." CLUSTER, &request);
    client->cr = pb__connect_response__unpack(NULL, (size_t)natsMsg_GetDataLength(reply),
                                              (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_ptr_nonnull(client->cr);
    ck_assert_str_eq(client->cr->error, "");
}

static void stan_publish(struct stan_client *client, const char *channel, const char *data)
{
    char guid[32];
    static int next;
    snprintf(guid, sizeof guid, "guid-%d", ++next);
    Pb__PubMsg pub = PB__PUB_MSG__INIT;
    pub.client_id = client->id;
    pub.guid = guid;
    pub.subject = (char *)channel;
    pub.data.data = (uint8_t *)data;
    pub.data.len = strlen(data);
    pub.conn_id.data = (uint8_t *)client->id;
    pub.conn_id.len = strlen(client->id);
    char subject[256];
    snprintf(subject, sizeof subject, "%s.%s", client->cr->pub_prefix, channel);
    natsMsg *reply = pb_request(client->nc, subject, &pub);
    Pb__PubAck *ack = pb__pub_ack__unpack(NULL, (size_t)natsMsg_GetDataLength(reply),
                                          (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_ptr_nonnull(ack);
    ck_assert_str_eq(ack->error, "");
    ck_assert_str_eq(ack->guid, guid);
    pb__pub_ack__free_unpacked(ack, NULL);
}

/* Subscribes `inbox` to `channel`, from the first message or (`first` false) for new ones
 * only; the ack inbox into `ack_inbox`. */
static void stan_subscribe(struct stan_client *client, const char *channel, const char *queue,
                           const char *durable, const char *inbox, int max_inflight,
                           bool first, char *ack_inbox, size_t size)
{
    Pb__SubscriptionRequest request = PB__SUBSCRIPTION_REQUEST__INIT;
    request.client_id = client->id;
    request.subject = (char *)channel;
    request.q_group = (char *)(queue != NULL ? queue : "");
    request.durable_name = (char *)(durable != NULL ? durable : "");
    request.inbox = (char *)inbox;
    request.max_in_flight = max_inflight;
    request.ack_wait_in_secs = 30;
    request.start_position = first ? PB__START_POSITION__first : PB__START_POSITION__new_only;
    natsMsg *reply = pb_request(client->nc, client->cr->sub_requests, &request);
    Pb__SubscriptionResponse *response = pb__subscription_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_ptr_nonnull(response);
    ck_assert_str_eq(response->error, "");
    snprintf(ack_inbox, size, "%s", response->ack_inbox);
    pb__subscription_response__free_unpacked(response, NULL);
}

/* Closes a subscription (a durable stays, offline). */
static void stan_sub_close(struct stan_client *client, const char *channel,
                           const char *ack_inbox, const char *durable)
{
    Pb__UnsubscribeRequest request = PB__UNSUBSCRIBE_REQUEST__INIT;
    request.client_id = client->id;
    request.subject = (char *)channel;
    request.inbox = (char *)ack_inbox;
    request.durable_name = (char *)durable;
    natsMsg *reply = pb_request(client->nc, client->cr->sub_close_requests, &request);
    Pb__SubscriptionResponse *response = pb__subscription_response__unpack(
        NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_ptr_nonnull(response);
    ck_assert_str_eq(response->error, "");
    pb__subscription_response__free_unpacked(response, NULL);
}

static void stan_client_free(struct stan_client *client)
{
    pb__connect_response__free_unpacked(client->cr, NULL);
    natsSubscription_Destroy(client->hb);
    natsConnection_Destroy(client->nc);
}

/* ---- the tests ---- */

START_TEST(test_stan_monitor_pages)
{
    char store_dir[128];
    ck_assert_int_eq(test_store_dir_create(store_dir, sizeof store_dir), 0);
    char streaming_dir[160];
    snprintf(streaming_dir, sizeof streaming_dir, "%s/streaming", store_dir);
    const char *const args[] = {"-cid", CLUSTER, "-m", "-1", "-st", "FILE", "-dir",
                                streaming_dir, NULL};
    struct test_server server;
    int port = broker_start(&server, args, true, store_dir);
    if (port == 0) {
        test_store_dir_remove(store_dir);
        return;
    }
    /* nothing yet: empty lists, no names (the reference adds its pages to its HTTP server
     * after logging the port: asked again until they are there) */
    struct response *r = get(port, "/streaming/channelsz");
    for (long deadline = test_now_ms() + WAIT_MS; r->status == 404 && test_now_ms() < deadline;
         r = get(port, "/streaming/channelsz")) {
        usleep(10 * 1000);
    }
    ck_assert_int_eq(r->status, 200);
    has(r->body, "\"total\": 0");
    lacks(r->body, "\"names\"");
    r = get(port, "/streaming/clientsz");
    has(r->body, "\"clients\": []");

    struct stan_client alpha;
    struct stan_client beta;
    stan_connect(&alpha, server.url, "alpha");
    stan_connect(&beta, server.url, "beta");
    stan_publish(&alpha, "foo", "hello");
    stan_publish(&alpha, "foo", "world!");
    stan_publish(&alpha, "bar", "x");
    natsSubscription *inbox = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&inbox, alpha.nc, "in.alpha.foo"));
    char ack_inbox[128];
    stan_subscribe(&alpha, "foo", NULL, NULL, "in.alpha.foo", 1, true, ack_inbox, sizeof ack_inbox);
    natsMsg *delivered = NULL;
    ITEST_OK(natsSubscription_NextMsg(&delivered, inbox, ITEST_WAIT_MS)); /* never acked */
    natsMsg_Destroy(delivered);
    char beta_ack[2][128];
    stan_subscribe(&beta, "foo", "workers", NULL, "in.beta.foo", 10, false, beta_ack[0],
                   sizeof beta_ack[0]);
    stan_subscribe(&beta, "bar", NULL, "dur", "in.beta.bar", 10, false, beta_ack[1],
                   sizeof beta_ack[1]);
    stan_sub_close(&beta, "bar", beta_ack[1], "dur");

    r = get(port, "/streaming/serverz");
    ck_assert_int_eq(r->status, 200);
    has(r->head, "Content-Type: application/json\r\n");
    has(r->head, "Access-Control-Allow-Origin: *\r\n");
    ordered(r->body, "{\n  \"cluster_id\": \"test-cluster\",\n  \"server_id\": \"", "\"version\"");
    has(r->body, "\"state\": \"STANDALONE\"");
    ordered(r->body, "\"start_time\": \"20", "\"uptime\": \"");
    has(r->body, "\"clients\": 2,\n  \"subscriptions\": 3,\n  \"channels\": 2,\n"
                 "  \"total_msgs\": 3,\n  \"total_bytes\": ");
    has(r->body, "\"in_msgs\": 3,\n  \"in_bytes\": ");
    has(r->body, "\"out_msgs\": 1,\n  \"out_bytes\": ");

    r = get(port, "/streaming/storez");
    has(r->body, "\"type\": \"FILE\",\n  \"limits\": {\n    \"max_channels\": 100,\n"
                 "    \"max_msgs\": 1000000,\n    \"max_bytes\": 1024000000,\n    \"max_age\": 0,\n"
                 "    \"max_subscriptions\": 1000,\n    \"max_inactivity\": 0\n  },\n"
                 "  \"total_msgs\": 3,\n");

    /* clients: sorted by id, paged, subscriptions only with subs=1 */
    r = get(port, "/streaming/clientsz");
    has(r->body, "\"offset\": 0,\n  \"limit\": 1024,\n  \"count\": 2,\n  \"total\": 2,\n");
    ordered(r->body, "\"id\": \"alpha\",\n      \"hb_inbox\": \"hb.alpha\",\n"
                     "      \"subs_count\": 1\n",
            "\"id\": \"beta\",\n      \"hb_inbox\": \"hb.beta\",\n      \"subs_count\": 1\n");
    lacks(r->body, "\"subscriptions\"");
    r = get(port, "/streaming/clientsz?offset=1&limit=1&subs=1");
    has(r->body, "\"offset\": 1,\n  \"limit\": 1,\n  \"count\": 1,\n  \"total\": 2,\n");
    lacks(r->body, "alpha");
    has(r->body, "\"subscriptions\": {\n        \"foo\": [\n");
    has(r->body, "\"queue_name\": \"workers\",\n            \"is_durable\": false");
    r = get(port, "/streaming/clientsz?offset=9");
    has(r->body, "\"count\": 0,\n  \"total\": 2,\n  \"clients\": []\n}");
    r = get(port, "/streaming/clientsz?client=alpha&subs=1");
    ck_assert_int_eq(r->status, 200);
    ck_assert_msg(strncmp(r->body, "{\n  \"id\": \"alpha\",\n", 19) == 0, "%s", r->body);
    has(r->body, "\"foo\": [\n      {\n        \"client_id\": \"alpha\",\n"
                 "        \"inbox\": \"in.alpha.foo\",\n");
    has(r->body, ack_inbox);
    has(r->body, "\"is_durable\": false,\n        \"is_offline\": false,\n"
                 "        \"max_inflight\": 1,\n        \"ack_wait\": 30,\n"
                 "        \"last_sent\": 1,\n        \"pending_count\": 1,\n"
                 "        \"is_stalled\": true\n");
    r = get(port, "/streaming/clientsz?client=nope");
    ck_assert_int_eq(r->status, 404);
    ck_assert_str_eq(r->body, "Client nope not found\n");

    /* channels: names, or channels with their figures from JetStream */
    r = get(port, "/streaming/channelsz");
    has(r->body, "\"count\": 2,\n  \"total\": 2,\n  \"names\": [\n    \"bar\",\n    \"foo\"\n  ]\n}");
    lacks(r->body, "\"channels\"");
    r = get(port, "/streaming/channelsz?subs=1");
    lacks(r->body, "\"names\"");
    ordered(r->body, "\"name\": \"bar\",\n      \"msgs\": 1,\n",
            "\"name\": \"foo\",\n      \"msgs\": 2,\n");
    has(r->body, "\"first_seq\": 1,\n      \"last_seq\": 2,\n      \"subs_count\": 2,\n"
                 "      \"subscriptions\": [\n");
    r = get(port, "/streaming/channelsz?offset=1&limit=1");
    has(r->body, "\"count\": 1,\n  \"total\": 2,\n  \"names\": [\n    \"foo\"\n  ]");
    r = get(port, "/streaming/channelsz?offset=5&subs=1");
    has(r->body, "\"count\": 0,\n  \"total\": 2\n}");
    r = get(port, "/streaming/channelsz?channel=foo");
    ck_assert_msg(strncmp(r->body, "{\n  \"name\": \"foo\",\n  \"msgs\": 2,\n", 31) == 0, "%s",
                  r->body);
    has(r->body, "\"subs_count\": 2\n}");
    r = get(port, "/streaming/channelsz?channel=bar&subs=1");
    has(r->body, "\"subs_count\": 1,\n  \"subscriptions\": [\n    {\n"
                 "      \"client_id\": \"beta\",\n");
    has(r->body, "\"durable_name\": \"dur\",\n      \"is_durable\": true,\n"
                 "      \"is_offline\": true,\n");
    r = get(port, "/streaming/channelsz?channel=zzz");
    ck_assert_int_eq(r->status, 404);
    has(r->head, "Content-Type: text/plain; charset=utf-8\r\n");
    ck_assert_str_eq(r->body, "Channel zzz not found\n");

    /* the index, isFTActive, a path streaming does not have */
    r = get(port, "/streaming");
    ck_assert_int_eq(r->status, 200);
    has(r->head, "Content-Type: text/html; charset=utf-8\r\n");
    has(r->body, "href=./streaming/channelsz");
    r = get(port, "/streaming/isFTActive");
    ck_assert_int_eq(r->status, 204);
    lacks(r->head, "Content-Length");
    r = get(port, "/streaming/nope");
    ck_assert_int_eq(r->status, 404);
    ck_assert_str_eq(r->body, "404 page not found\n");

    /* pages that wait for JetStream, pipelined with one that does not: in order */
    static const char *const paths[] = {"/streaming/serverz", "/varz",
                                        "/streaming/channelsz?subs=1", "/streaming/storez"};
    static struct response responses[4];
    get_many(port, paths, 4, responses);
    has(responses[0].body, "\"total_msgs\": 3");
    has(responses[1].body, "\"http_req_stats\"");
    has(responses[2].body, "\"channels\": [");
    has(responses[3].body, "\"type\": \"FILE\"");

    /* connections that go while their page waits for JetStream: the broker goes on */
    for (int i = 0; i < 20; i++) {
        int fd = test_connect_raw(port);
        ck_assert_int_ge(fd, 0);
        static const char ask[] = "GET /streaming/serverz HTTP/1.1\r\nHost: localhost\r\n\r\n";
        ck_assert_int_eq(test_send_all(fd, ask, sizeof ask - 1), 0);
        close(fd);
    }
    r = get(port, "/streaming/storez");
    ck_assert_int_eq(r->status, 200);

    natsSubscription_Destroy(inbox);
    stan_client_free(&alpha);
    stan_client_free(&beta);
    itest_server_stop(&server);
    ck_assert_int_eq(test_store_dir_remove(store_dir), 0);
}
END_TEST

/* Without a cluster id streaming is off: its pages are unknown paths. */
START_TEST(test_stan_monitor_off)
{
    if (stan_reference()) {
        return; /* always streaming */
    }
    struct test_server server;
    int port = broker_start(&server, PLAIN_ARGS, false, NULL);
    if (port == 0) {
        return;
    }
    static const char *const paths[] = {"/streaming", "/streaming/serverz",
                                        "/streaming/channelsz?subs=1"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct response *r = get(port, paths[i]);
        ck_assert_msg(r->status == 404, "%s: %d", paths[i], r->status);
        ck_assert_str_eq(r->body, "404 page not found\n");
    }
    itest_server_stop(&server);
}
END_TEST

static Suite *stan_monitor_suite(void)
{
    Suite *suite = suite_create("stan_monitor");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_stan_monitor_pages);
    tcase_add_test(tc, test_stan_monitor_off);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return itest_run(stan_monitor_suite());
}
