/* Request/reply, no-responders and queue groups through libnats: the patterns where the
 * broker chooses who receives a message (one member of a group) or answers on the
 * requester's behalf (the 503 status when nobody listens).
 *
 * The one idea: every message carries a sequence number, and the test records who got each
 * one, so "delivered exactly once" and "everyone got a share" are checked per message, not
 * inferred from totals. */
#include "tests/integration/itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { REQUEST_COUNT = 200 };
/* A request's timeout; a passing run never comes near it. */
enum { REQUEST_TIMEOUT_MS = 5000 };

/* The replier: answers "re:<request data>" to the request's reply subject. */
static void replier_on_msg(natsConnection *connection, natsSubscription *sub, natsMsg *msg,
                           void *closure)
{
    struct itest_counter *served = closure;
    char text[128];
    snprintf(text, sizeof text, "re:%.*s", natsMsg_GetDataLength(msg), natsMsg_GetData(msg));
    if (natsMsg_GetReply(msg) != NULL) {
        natsConnection_PublishString(connection, natsMsg_GetReply(msg), text);
    }
    itest_counter_add(served, 1);
    natsMsg_Destroy(msg);
}

START_TEST(test_reqrep_requests)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    natsConnection *replier = itest_connect(server.url);
    natsConnection *requester = itest_connect(server.url);
    static struct itest_counter served; /* static: a late callback never sees a dead frame */
    itest_counter_init(&served);
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_Subscribe(&sub, replier, "svc.echo", replier_on_msg, &served));
    itest_flush(replier);

    for (int i = 0; i < REQUEST_COUNT; i++) {
        char text[32];
        char expected[64];
        snprintf(text, sizeof text, "request-%d", i);
        snprintf(expected, sizeof expected, "re:%s", text);
        natsMsg *reply = NULL;
        natsStatus status =
            natsConnection_RequestString(&reply, requester, "svc.echo", text, REQUEST_TIMEOUT_MS);
        ck_assert_msg(status == NATS_OK, "request %d: %s (%s)", i, natsStatus_GetText(status),
                      itest_last_error());
        ck_assert_str_eq(natsMsg_GetData(reply), expected);
        natsMsg_Destroy(reply);
    }
    ck_assert_int_eq(itest_counter_get(&served), REQUEST_COUNT);

    /* The same through the replier's own connection: requester and replier may share one. */
    natsMsg *reply = NULL;
    ITEST_OK(natsConnection_RequestString(&reply, replier, "svc.echo", "self", REQUEST_TIMEOUT_MS));
    ck_assert_str_eq(natsMsg_GetData(reply), "re:self");
    natsMsg_Destroy(reply);

    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(requester);
    natsConnection_Destroy(replier);
    itest_server_stop(&server);
}
END_TEST

/* Long, so that "the request timed out" and "the broker said 503" cannot be confused. */
enum { NO_RESPONDERS_TIMEOUT_MS = 5000 };
/* The 503 comes back in one round trip; a second is an order of magnitude of margin. */
enum { NO_RESPONDERS_FAST_MS = 1000 };

START_TEST(test_reqrep_no_responders)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    natsConnection *requester = itest_connect(server.url);
    /* A subscriber on a neighbouring subject must not count as a responder. */
    natsConnection *bystander = itest_connect(server.url);
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, bystander, "svc.other"));
    itest_flush(bystander);

    for (int i = 0; i < 3; i++) {
        natsMsg *reply = NULL;
        int64_t start_ms = itest_now_ms();
        natsStatus status = natsConnection_RequestString(&reply, requester, "svc.nobody", "hello",
                                                         NO_RESPONDERS_TIMEOUT_MS);
        int64_t elapsed_ms = itest_now_ms() - start_ms;
        ck_assert_msg(status == NATS_NO_RESPONDERS, "request %d: %s, expected %s", i,
                      natsStatus_GetText(status), natsStatus_GetText(NATS_NO_RESPONDERS));
        ck_assert_ptr_null(reply);
        ck_assert_msg(elapsed_ms < NO_RESPONDERS_FAST_MS, "no-responders took %lld ms",
                      (long long)elapsed_ms);
    }
    /* The connection is still good after the 503s. */
    itest_flush(requester);
    ck_assert(!natsConnection_IsClosed(requester));

    natsSubscription_Destroy(sub);
    natsConnection_Destroy(bystander);
    natsConnection_Destroy(requester);
    itest_server_stop(&server);
}
END_TEST

enum { QUEUE_MEMBERS = 4, QUEUE_MESSAGES = 1000 };
/* Each member must get at least this share, in percent. nats-server picks a member at
 * random: a member expects 250 of 1000 with a standard deviation of about 14, so 100 is
 * ten deviations away and the check does not flake; a broker that favours a member fails. */
enum { QUEUE_SHARE_MIN_PERCENT = 10 };
/* After the totals are reached, listen this long for duplicates that should not come. */
enum { QUEUE_QUIET_MS = 200 };

/* Who got what: one slot per message sequence, one counter per receiver. */
struct queue_state {
    pthread_mutex_t lock;
    int member_of_seq[QUEUE_MESSAGES]; /* member index + 1; 0 = none yet */
    int deliveries_of_seq[QUEUE_MESSAGES];
    int member_counts[QUEUE_MEMBERS];
    int plain_seen[QUEUE_MESSAGES];
    int bad_payloads;
    struct itest_counter members_total;
    struct itest_counter plain_total;
};

static struct queue_state queue_state; /* static: late callbacks never see a dead frame */

struct queue_receiver {
    int member; /* index, or -1 for the plain subscriber */
};

static void queue_on_msg(natsConnection *connection, natsSubscription *sub, natsMsg *msg,
                         void *closure)
{
    const struct queue_receiver *receiver = closure;
    struct queue_state *state = &queue_state;
    int size = natsMsg_GetDataLength(msg);
    uint64_t seq = itest_payload_seq(natsMsg_GetData(msg), (size_t)size);
    pthread_mutex_lock(&state->lock);
    if (size != 8 || seq >= QUEUE_MESSAGES) {
        state->bad_payloads++;
    } else if (receiver->member < 0) {
        state->plain_seen[seq]++;
    } else {
        state->deliveries_of_seq[seq]++;
        state->member_of_seq[seq] = receiver->member + 1;
        state->member_counts[receiver->member]++;
    }
    pthread_mutex_unlock(&state->lock);
    itest_counter_add(receiver->member < 0 ? &state->plain_total : &state->members_total, 1);
    natsMsg_Destroy(msg);
}

START_TEST(test_reqrep_queue_groups)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    struct queue_state *state = &queue_state;
    memset(state, 0, sizeof *state);
    pthread_mutex_init(&state->lock, NULL);
    itest_counter_init(&state->members_total);
    itest_counter_init(&state->plain_total);

    static struct queue_receiver receivers[QUEUE_MEMBERS + 1];
    natsConnection *connections[QUEUE_MEMBERS + 1] = {0};
    natsSubscription *subs[QUEUE_MEMBERS + 1] = {0};
    for (int i = 0; i <= QUEUE_MEMBERS; i++) {
        receivers[i].member = i < QUEUE_MEMBERS ? i : -1;
        connections[i] = itest_connect(server.url);
        if (i < QUEUE_MEMBERS) {
            ITEST_OK(natsConnection_QueueSubscribe(&subs[i], connections[i], "work", "q",
                                                   queue_on_msg, &receivers[i]));
        } else {
            ITEST_OK(natsConnection_Subscribe(&subs[i], connections[i], "work", queue_on_msg,
                                              &receivers[i]));
        }
        itest_flush(connections[i]);
    }

    natsConnection *publisher = itest_connect(server.url);
    for (int seq = 0; seq < QUEUE_MESSAGES; seq++) {
        unsigned char data[8];
        itest_payload_fill(data, sizeof data, (uint64_t)seq);
        ITEST_OK(natsConnection_Publish(publisher, "work", data, sizeof data));
    }
    itest_flush(publisher);

    long plain = itest_counter_wait(&state->plain_total, QUEUE_MESSAGES, ITEST_WAIT_MS);
    long members = itest_counter_wait(&state->members_total, QUEUE_MESSAGES, ITEST_WAIT_MS);
    ck_assert_int_eq(plain, QUEUE_MESSAGES);
    ck_assert_int_eq(members, QUEUE_MESSAGES);
    /* A duplicate delivery would push the total past the count: give it a moment. */
    members = itest_counter_wait(&state->members_total, QUEUE_MESSAGES + 1, QUEUE_QUIET_MS);
    ck_assert_int_eq(members, QUEUE_MESSAGES);

    pthread_mutex_lock(&state->lock);
    int bad_payloads = state->bad_payloads;
    int first_missing = -1;
    int first_duplicate = -1;
    int first_plain_wrong = -1;
    for (int seq = 0; seq < QUEUE_MESSAGES; seq++) {
        if (state->deliveries_of_seq[seq] == 0 && first_missing < 0) {
            first_missing = seq;
        }
        if (state->deliveries_of_seq[seq] > 1 && first_duplicate < 0) {
            first_duplicate = seq;
        }
        if (state->plain_seen[seq] != 1 && first_plain_wrong < 0) {
            first_plain_wrong = seq;
        }
    }
    int counts[QUEUE_MEMBERS];
    memcpy(counts, state->member_counts, sizeof counts);
    pthread_mutex_unlock(&state->lock);

    ck_assert_int_eq(bad_payloads, 0);
    ck_assert_msg(first_missing < 0, "message %d reached no group member", first_missing);
    ck_assert_msg(first_duplicate < 0, "message %d reached several group members", first_duplicate);
    ck_assert_msg(first_plain_wrong < 0, "plain subscriber: message %d not received once",
                  first_plain_wrong);
    int sum = 0;
    for (int m = 0; m < QUEUE_MEMBERS; m++) {
        ck_assert_msg(counts[m] * 100 >= QUEUE_SHARE_MIN_PERCENT * QUEUE_MESSAGES,
                      "member %d got %d of %d (%d/%d/%d/%d)", m, counts[m], QUEUE_MESSAGES,
                      counts[0], counts[1], counts[2], counts[3]);
        sum += counts[m];
    }
    ck_assert_int_eq(sum, QUEUE_MESSAGES);

    natsConnection_Destroy(publisher);
    for (int i = 0; i <= QUEUE_MEMBERS; i++) {
        natsSubscription_Unsubscribe(subs[i]);
        natsSubscription_Destroy(subs[i]);
        natsConnection_Destroy(connections[i]);
    }
    itest_server_stop(&server);
}
END_TEST

/* A request answered by a queue group gets exactly one reply: the group's members share
 * the requests and only one of them sees each. */
START_TEST(test_reqrep_queue_request)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    static struct itest_counter served;
    itest_counter_init(&served);
    enum { RESPONDERS = 3, QUEUE_REQUESTS = 50 };
    natsConnection *responders[RESPONDERS] = {0};
    natsSubscription *subs[RESPONDERS] = {0};
    for (int i = 0; i < RESPONDERS; i++) {
        responders[i] = itest_connect(server.url);
        ITEST_OK(natsConnection_QueueSubscribe(&subs[i], responders[i], "svc.q", "workers",
                                               replier_on_msg, &served));
        itest_flush(responders[i]);
    }
    natsConnection *requester = itest_connect(server.url);
    for (int i = 0; i < QUEUE_REQUESTS; i++) {
        char text[32];
        char expected[64];
        snprintf(text, sizeof text, "q-%d", i);
        snprintf(expected, sizeof expected, "re:%s", text);
        natsMsg *reply = NULL;
        ITEST_OK(
            natsConnection_RequestString(&reply, requester, "svc.q", text, REQUEST_TIMEOUT_MS));
        ck_assert_str_eq(natsMsg_GetData(reply), expected);
        natsMsg_Destroy(reply);
    }
    /* One responder per request: a second answer would mean a second delivery. */
    ck_assert_int_eq(itest_counter_wait(&served, QUEUE_REQUESTS + 1, QUEUE_QUIET_MS),
                     QUEUE_REQUESTS);

    natsConnection_Destroy(requester);
    for (int i = 0; i < RESPONDERS; i++) {
        natsSubscription_Unsubscribe(subs[i]);
        natsSubscription_Destroy(subs[i]);
        natsConnection_Destroy(responders[i]);
    }
    itest_server_stop(&server);
}
END_TEST

static Suite *reqrep_suite(void)
{
    Suite *suite = suite_create("integration_reqrep");
    TCase *tc = tcase_create("reqrep");
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_reqrep_requests);
    tcase_add_test(tc, test_reqrep_no_responders);
    tcase_add_test(tc, test_reqrep_queue_groups);
    tcase_add_test(tc, test_reqrep_queue_request);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return itest_run(reqrep_suite());
}
