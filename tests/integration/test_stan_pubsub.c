/* NATS Streaming publish and subscribe over the raw STAN client: the PubAck and the
 * MsgProto fields of what was stored, the channel names a publish takes and refuses (with a
 * case conflict), the publish and subscribe errors in the server's order, every start
 * position, and the store limits (-mc, -msu, -mm). See test_stan.c for the whole suite.
 * Test thread only. */
#include "tests/integration/test_stan.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

/* ---- publish ---- */

START_TEST(test_stan_publish)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("pub");
    struct st_sub *sub = st_subscribe(client, "orders", (struct st_sub_options){0});
    int64_t before = st_realtime_ns();
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
    int64_t after = st_realtime_ns();

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

/* ---- limits ---- */

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

void st_pubsub_tcases_add(Suite *suite)
{
    st_tcase_add(suite, "publish", test_stan_publish);
    st_tcase_add(suite, "channel_names", test_stan_channel_names);
    st_tcase_add(suite, "publish_errors", test_stan_publish_errors);
    st_tcase_add(suite, "subscribe_errors", test_stan_subscribe_errors);
    st_tcase_add(suite, "start_positions", test_stan_start_positions);
    st_tcase_add(suite, "limits", test_stan_limits);
}
