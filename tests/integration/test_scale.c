/* Scale through libnats: many concurrent connections each with their own and shared
 * subjects, and a long ordered stream from one publisher to one subscriber.
 *
 * The one idea: every message names its origin (a connection index or a sequence number),
 * so the test checks that each one arrived exactly where and when it should, not just that
 * the totals add up. */
#include "tests/harness/ck_quiet.h"
#include "tests/integration/itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Connections in the fan-out test, opened by CONNECT_THREADS threads at once so the broker
 * sees concurrent accepts and handshakes. */
enum { SCALE_CONNECTIONS = 200, CONNECT_THREADS = 8 };

struct connect_job {
    const char *url;
    int first;                    /* first connection index this thread opens */
    int step;                     /* then every step-th */
    natsConnection **connections; /* borrowed: the test's array, one slot per index */
    natsStatus *statuses;         /* borrowed: one per index */
};

static void *connect_worker(void *arg)
{
    const struct connect_job *job = arg;
    natsOptions *options = NULL;
    natsStatus status = natsOptions_Create(&options);
    if (status == NATS_OK) {
        status = natsOptions_SetURL(options, job->url);
    }
    if (status == NATS_OK) {
        status = natsOptions_SetAllowReconnect(options, false);
    }
    if (status == NATS_OK) {
        status = natsOptions_SetTimeout(options, ITEST_CONNECT_TIMEOUT_MS);
    }
    for (int i = job->first; i < SCALE_CONNECTIONS; i += job->step) {
        job->statuses[i] =
            status == NATS_OK ? natsConnection_Connect(&job->connections[i], options) : status;
    }
    natsOptions_Destroy(options);
    return NULL;
}

static void scale_read_one(natsSubscription *sub, const char *subject, const char *data)
{
    natsMsg *msg = NULL;
    natsStatus status = natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS);
    ck_assert_msg(status == NATS_OK, "'%s' expected on '%s': %s", data, subject,
                  natsStatus_GetText(status));
    ck_assert_str_eq(natsMsg_GetSubject(msg), subject);
    ck_assert_str_eq(natsMsg_GetData(msg), data);
    natsMsg_Destroy(msg);
}

START_TEST(test_scale_connections)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    static natsConnection *connections[SCALE_CONNECTIONS];
    static natsStatus statuses[SCALE_CONNECTIONS];
    static natsSubscription *own_subs[SCALE_CONNECTIONS];
    static natsSubscription *shared_subs[SCALE_CONNECTIONS];
    memset(connections, 0, sizeof connections);

    pthread_t threads[CONNECT_THREADS];
    struct connect_job jobs[CONNECT_THREADS];
    for (int t = 0; t < CONNECT_THREADS; t++) {
        jobs[t] = (struct connect_job){server.url, t, CONNECT_THREADS, connections, statuses};
        ck_assert_int_eq(pthread_create(&threads[t], NULL, connect_worker, &jobs[t]), 0);
    }
    for (int t = 0; t < CONNECT_THREADS; t++) {
        pthread_join(threads[t], NULL);
    }
    for (int i = 0; i < SCALE_CONNECTIONS; i++) {
        ck_assert_msg(statuses[i] == NATS_OK, "connection %d: %s", i,
                      natsStatus_GetText(statuses[i]));
    }

    for (int i = 0; i < SCALE_CONNECTIONS; i++) {
        char subject[32];
        snprintf(subject, sizeof subject, "conn.%d", i);
        ITEST_OK(natsConnection_SubscribeSync(&own_subs[i], connections[i], subject));
        ITEST_OK(natsConnection_SubscribeSync(&shared_subs[i], connections[i], "shared"));
    }
    for (int i = 0; i < SCALE_CONNECTIONS; i++) {
        itest_flush(connections[i]);
    }

    /* One publisher addresses every connection, then all of them at once. */
    natsConnection *publisher = itest_connect(server.url);
    natsSubscription *fanin = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&fanin, publisher, "fanin"));
    ITEST_OK(natsSubscription_SetPendingLimits(fanin, -1, -1));
    itest_flush(publisher);
    for (int i = 0; i < SCALE_CONNECTIONS; i++) {
        char subject[32];
        char data[32];
        snprintf(subject, sizeof subject, "conn.%d", i);
        snprintf(data, sizeof data, "to-%d", i);
        ITEST_OK(natsConnection_PublishString(publisher, subject, data));
    }
    ITEST_OK(natsConnection_PublishString(publisher, "shared", "to-all"));
    itest_flush(publisher);

    /* Every connection answers on the shared fan-in subject. */
    for (int i = 0; i < SCALE_CONNECTIONS; i++) {
        char subject[32];
        char data[32];
        snprintf(subject, sizeof subject, "conn.%d", i);
        snprintf(data, sizeof data, "to-%d", i);
        scale_read_one(own_subs[i], subject, data);
        scale_read_one(shared_subs[i], "shared", "to-all");
        snprintf(data, sizeof data, "from-%d", i);
        ITEST_OK(natsConnection_PublishString(connections[i], "fanin", data));
        ITEST_OK(natsConnection_Flush(connections[i]));
    }
    static int from_seen[SCALE_CONNECTIONS];
    memset(from_seen, 0, sizeof from_seen);
    for (int k = 0; k < SCALE_CONNECTIONS; k++) {
        natsMsg *msg = NULL;
        natsStatus status = natsSubscription_NextMsg(&msg, fanin, ITEST_WAIT_MS);
        ck_assert_msg(status == NATS_OK, "fan-in message %d of %d: %s", k, SCALE_CONNECTIONS,
                      natsStatus_GetText(status));
        int from = -1;
        ck_assert_int_eq(sscanf(natsMsg_GetData(msg), "from-%d", &from), 1);
        ck_assert_int_ge(from, 0);
        ck_assert_int_lt(from, SCALE_CONNECTIONS);
        from_seen[from]++;
        natsMsg_Destroy(msg);
    }
    for (int i = 0; i < SCALE_CONNECTIONS; i++) {
        ck_assert_msg(from_seen[i] == 1, "fan-in from connection %d seen %d times", i,
                      from_seen[i]);
    }
    /* Nothing else was queued anywhere: each own subject reached its connection only. */
    for (int i = 0; i < SCALE_CONNECTIONS; i++) {
        int own_pending = -1;
        int shared_pending = -1;
        ITEST_OK(natsSubscription_GetPending(own_subs[i], &own_pending, NULL));
        ITEST_OK(natsSubscription_GetPending(shared_subs[i], &shared_pending, NULL));
        ck_assert_int_eq(own_pending, 0);
        ck_assert_int_eq(shared_pending, 0);
    }

    natsSubscription_Destroy(fanin);
    natsConnection_Destroy(publisher);
    for (int i = 0; i < SCALE_CONNECTIONS; i++) {
        natsSubscription_Destroy(own_subs[i]);
        natsSubscription_Destroy(shared_subs[i]);
        natsConnection_Destroy(connections[i]);
    }
    itest_server_stop(&server);
}
END_TEST

/* Long enough to cross every buffer and batch boundary many times. Payload sizes cycle
 * 8..ORDER_SIZE_MAX so frames split at different offsets in every read. */
enum { ORDER_MESSAGES = 100000, ORDER_SIZE_MIN = 8, ORDER_SIZE_MAX = 200 };
enum { ORDER_DELIVERY_MS = 30000 };

struct order_state {
    uint64_t next_seq;
    int64_t first_bad_index; /* -1 while every message was the expected one */
    uint64_t first_bad_seq;
    struct itest_counter received;
};

static struct order_state order_state; /* static: late callbacks never see a dead frame */

static size_t order_size(uint64_t seq)
{
    return ORDER_SIZE_MIN + (size_t)(seq % (ORDER_SIZE_MAX - ORDER_SIZE_MIN + 1));
}

static void order_on_msg(natsConnection *connection, natsSubscription *sub, natsMsg *msg,
                         void *closure)
{
    struct order_state *state = closure;
    size_t size = (size_t)natsMsg_GetDataLength(msg);
    const char *data = natsMsg_GetData(msg);
    uint64_t seq = itest_payload_seq(data, size);
    if (state->first_bad_index < 0 && (seq != state->next_seq || size != order_size(seq) ||
                                       !itest_payload_check(data, size, seq))) {
        state->first_bad_index = (int64_t)state->next_seq;
        state->first_bad_seq = seq;
    }
    state->next_seq++;
    natsMsg_Destroy(msg);
    itest_counter_add(&state->received, 1);
}

START_TEST(test_scale_ordered_stream)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    struct order_state *state = &order_state;
    memset(state, 0, sizeof *state);
    state->first_bad_index = -1;
    itest_counter_init(&state->received);

    natsConnection *subscriber = itest_connect(server.url);
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_Subscribe(&sub, subscriber, "order", order_on_msg, state));
    ITEST_OK(natsSubscription_SetPendingLimits(sub, -1, -1));
    itest_flush(subscriber);

    natsConnection *publisher = itest_connect(server.url);
    unsigned char data[ORDER_SIZE_MAX];
    for (uint64_t seq = 0; seq < ORDER_MESSAGES; seq++) {
        size_t size = order_size(seq);
        itest_payload_fill(data, size, seq);
        natsStatus status = natsConnection_Publish(publisher, "order", data, (int)size);
        /* quiet (ck_quiet.h): one per message, 100000 of them */
        quiet_assert_msg(status == NATS_OK, "publish %llu: %s", (unsigned long long)seq,
                         natsStatus_GetText(status));
    }
    itest_flush(publisher);

    long received = itest_counter_wait(&state->received, ORDER_MESSAGES, ORDER_DELIVERY_MS);
    ck_assert_msg(received == ORDER_MESSAGES, "received %ld of %d", received, ORDER_MESSAGES);
    ck_assert_msg(state->first_bad_index < 0, "message %lld carried sequence %llu",
                  (long long)state->first_bad_index, (unsigned long long)state->first_bad_seq);
    int64_t dropped = -1;
    ITEST_OK(natsSubscription_GetDropped(sub, &dropped));
    ck_assert_int_eq(dropped, 0);

    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(publisher);
    natsConnection_Destroy(subscriber);
    itest_server_stop(&server);
}
END_TEST

static Suite *scale_suite(void)
{
    Suite *suite = suite_create("integration_scale");
    TCase *tc = tcase_create("scale");
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_scale_connections);
    tcase_add_test(tc, test_scale_ordered_stream);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return itest_run(scale_suite());
}
