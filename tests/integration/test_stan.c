/* NATS Streaming (STAN) over raw NATS: libnats carries the protocol's protobuf messages
 * (protoc-c's code from proto/stan.proto), so every request, reply and field the server sends
 * is checked on the wire, with the exact texts and values of nats-streaming-server 0.25.6.
 *
 * What is covered, file by file (the raw client and the fixture: test_stan.h, test_stan_lib.c):
 * - here: connect (the subjects of the ConnectResponse, protocol 1, the client's ping
 *   fields echoed; malformed, an empty heartbeat inbox, an invalid client id; a client id in
 *   use whose owner answers the probe, and one whose owner does not: replaced after the
 *   500 ms probe), client pings, connection close, server heartbeats (-hbi/-hbt/-hbf); and
 *   the suite.
 * - test_stan_pubsub.c: publish (the PubAck, the MsgProto fields, invalid requests, channel
 *   names, a case conflict), subscribe (the errors in the server's order, every start
 *   position), the store limits (-mc, -msu, -mm).
 * - test_stan_ack.c: max in flight, manual acks, redelivery after the ack wait with its
 *   count, queue groups (one member per message, the least loaded member first, a leaving
 *   member's messages handed to the others, a durable group kept while it has no member),
 *   durables (closed and resumed, with a new max in flight, unsubscribed and made again),
 *   unsubscribe and subscription close and their errors.
 * - test_stan_restart.c: a broker killed with SIGKILL and restarted on its store: with the
 *   FILE store the client and its durables (online or closed, plain or queue) survive and
 *   every PubAcked publish is there, also when the kill comes with publishes in flight; with
 *   the MEMORY store nothing survives. Also -mi (max inactivity) and, ionats only, a
 *   channel seen as a JetStream stream.
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
#include "tests/integration/test_stan.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* ---- close ---- */

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

void st_connect_tcases_add(Suite *suite)
{
    st_tcase_add(suite, "connect_ok", test_stan_connect_ok);
    st_tcase_add(suite, "connect_errors", test_stan_connect_errors);
    st_tcase_add(suite, "connect_duplicate_alive", test_stan_connect_duplicate_alive);
    st_tcase_add(suite, "connect_duplicate_gone", test_stan_connect_duplicate_gone);
    st_tcase_add(suite, "ping", test_stan_ping);
    st_tcase_add(suite, "close", test_stan_close);
    st_tcase_add(suite, "heartbeats", test_stan_heartbeats);
}

static Suite *stan_suite(void)
{
    Suite *suite = suite_create("integration_stan");
    st_connect_tcases_add(suite);
    st_pubsub_tcases_add(suite);
    st_ack_tcases_add(suite);
    st_restart_tcases_add(suite);
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
