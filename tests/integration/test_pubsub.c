/* Core publish/subscribe through the official NATS C client (libnats): plain delivery with
 * binary payloads, wildcard matching, echo control, auto-unsubscribe, headers and what the
 * server's INFO tells the client.
 *
 * The one idea: a NATS broker keeps the order of one publisher's messages to one subscribing
 * connection, so a test publishes a sentinel last and, once the sentinel has arrived, knows
 * that everything that was going to arrive has, without sleeping. */
#include "tests/integration/itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Messages in the basic test; every 100th is large so payloads cross read buffers. */
enum { BASIC_COUNT = 500, BASIC_LARGE_EVERY = 100, BASIC_LARGE_SIZE = 200 * 1024 };
/* Small sizes cycle up to this bound (spans libnats's and a broker's small buffers). */
enum { BASIC_SIZE_CYCLE = 9001 };

static size_t basic_size(int seq)
{
    if (seq % BASIC_LARGE_EVERY == BASIC_LARGE_EVERY - 1) {
        return BASIC_LARGE_SIZE;
    }
    return ((size_t)seq * 997u) % BASIC_SIZE_CYCLE; /* seq 0 gives an empty payload */
}

START_TEST(test_pubsub_basic)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    natsConnection *subscriber = itest_connect(server.url);
    natsConnection *publisher = itest_connect(server.url);
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, subscriber, "ps.basic"));
    ITEST_OK(natsSubscription_SetPendingLimits(sub, -1, -1));
    itest_flush(subscriber);

    unsigned char *data = malloc(BASIC_LARGE_SIZE);
    ck_assert_ptr_nonnull(data);
    for (int seq = 0; seq < BASIC_COUNT; seq++) {
        size_t size = basic_size(seq);
        itest_payload_fill(data, size, (uint64_t)seq);
        ITEST_OK(natsConnection_Publish(publisher, "ps.basic", data, (int)size));
    }
    itest_flush(publisher);
    free(data);

    for (int seq = 0; seq < BASIC_COUNT; seq++) {
        natsMsg *msg = NULL;
        natsStatus status = natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS);
        ck_assert_msg(status == NATS_OK, "message %d of %d: %s", seq, BASIC_COUNT,
                      natsStatus_GetText(status));
        ck_assert_str_eq(natsMsg_GetSubject(msg), "ps.basic");
        ck_assert_ptr_null(natsMsg_GetReply(msg));
        ck_assert_int_eq(natsMsg_GetDataLength(msg), (int)basic_size(seq));
        ck_assert_msg(itest_payload_check(natsMsg_GetData(msg), basic_size(seq), (uint64_t)seq),
                      "payload of message %d differs", seq);
        natsMsg_Destroy(msg);
    }
    int pending_msgs = -1;
    ITEST_OK(natsSubscription_GetPending(sub, &pending_msgs, NULL));
    ck_assert_int_eq(pending_msgs, 0);

    natsSubscription_Destroy(sub);
    natsConnection_Destroy(publisher);
    natsConnection_Destroy(subscriber);
    itest_server_stop(&server);
}
END_TEST

/* Published in this order; the sentinel has five tokens so only '>' of the filters below
 * matches it besides its own subscription. */
static const char *const wildcard_published[] = {
    "a", "a.b", "a.c", "a.b.c", "b", "b.b", "c.d.e.f", "ab.b", "a.b.c.d", "z.z.z.z.end",
};
static const char *const wildcard_sentinel = "z.z.z.z.end";

struct wildcard_case {
    const char *filter;
    const char *expected[12]; /* in publish order, NULL-terminated */
};

/* Expected sets written out by hand: an oracle independent of any matcher. */
static const struct wildcard_case wildcard_cases[] = {
    {"a.*", {"a.b", "a.c", NULL}},
    {"a.>", {"a.b", "a.c", "a.b.c", "a.b.c.d", NULL}},
    {"*.b", {"a.b", "b.b", "ab.b", NULL}},
    {"a.*.c", {"a.b.c", NULL}},
    {"*", {"a", "b", NULL}},
    {">",
     {"a", "a.b", "a.c", "a.b.c", "b", "b.b", "c.d.e.f", "ab.b", "a.b.c.d", "z.z.z.z.end", NULL}},
    {"a", {"a", NULL}},
    {"a.b", {"a.b", NULL}},
    {"a.b.>", {"a.b.c", "a.b.c.d", NULL}},
    {"*.*.*.*", {"c.d.e.f", "a.b.c.d", NULL}},
    {"b.>", {"b.b", NULL}},
    {"x.>", {NULL}},
};

enum { WILDCARD_CASES = sizeof wildcard_cases / sizeof wildcard_cases[0] };
enum { WILDCARD_PUBLISHED = sizeof wildcard_published / sizeof wildcard_published[0] };

START_TEST(test_pubsub_wildcards)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    natsConnection *subscriber = itest_connect(server.url);
    natsConnection *publisher = itest_connect(server.url);
    natsSubscription *subs[WILDCARD_CASES] = {0};
    for (int i = 0; i < WILDCARD_CASES; i++) {
        ITEST_OK(natsConnection_SubscribeSync(&subs[i], subscriber, wildcard_cases[i].filter));
    }
    natsSubscription *sentinel_sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sentinel_sub, subscriber, wildcard_sentinel));
    itest_flush(subscriber);

    for (int i = 0; i < WILDCARD_PUBLISHED; i++) {
        ITEST_OK(
            natsConnection_PublishString(publisher, wildcard_published[i], wildcard_published[i]));
    }
    itest_flush(publisher);

    natsMsg *msg = NULL;
    ITEST_OK(natsSubscription_NextMsg(&msg, sentinel_sub, ITEST_WAIT_MS));
    ck_assert_str_eq(natsMsg_GetSubject(msg), wildcard_sentinel);
    natsMsg_Destroy(msg);

    for (int i = 0; i < WILDCARD_CASES; i++) {
        const struct wildcard_case *c = &wildcard_cases[i];
        for (int k = 0; c->expected[k] != NULL; k++) {
            natsStatus status = natsSubscription_NextMsg(&msg, subs[i], ITEST_WAIT_MS);
            ck_assert_msg(status == NATS_OK, "filter '%s' did not receive '%s': %s", c->filter,
                          c->expected[k], natsStatus_GetText(status));
            ck_assert_msg(strcmp(natsMsg_GetSubject(msg), c->expected[k]) == 0,
                          "filter '%s' received '%s', expected '%s'", c->filter,
                          natsMsg_GetSubject(msg), c->expected[k]);
            ck_assert_str_eq(natsMsg_GetData(msg), c->expected[k]);
            natsMsg_Destroy(msg);
        }
        /* Everything for this connection came before the sentinel, so anything extra is
         * already queued. */
        int pending_msgs = -1;
        ITEST_OK(natsSubscription_GetPending(subs[i], &pending_msgs, NULL));
        if (pending_msgs != 0) {
            ITEST_OK(natsSubscription_NextMsg(&msg, subs[i], ITEST_WAIT_MS));
            ck_abort_msg("filter '%s' also received '%s'", c->filter, natsMsg_GetSubject(msg));
        }
    }

    for (int i = 0; i < WILDCARD_CASES; i++) {
        natsSubscription_Destroy(subs[i]);
    }
    natsSubscription_Destroy(sentinel_sub);
    natsConnection_Destroy(publisher);
    natsConnection_Destroy(subscriber);
    itest_server_stop(&server);
}
END_TEST

/* Messages each echo-test connection publishes; the payload names the publisher. */
enum { ECHO_COUNT = 5 };
/* How long the no-echo connection listens for its own messages after its flush returned:
 * echoed messages would precede the PONG, so this is only a margin. */
enum { ECHO_QUIET_MS = 300 };

static void echo_publish(natsConnection *connection, const char *tag)
{
    for (int i = 0; i < ECHO_COUNT; i++) {
        ITEST_OK(natsConnection_PublishString(connection, "echo.x", tag));
    }
    itest_flush(connection);
}

/* Reads `count` messages from `sub` and returns how many carried `tag`. */
static int echo_read(natsSubscription *sub, int count, const char *tag)
{
    int tagged = 0;
    for (int i = 0; i < count; i++) {
        natsMsg *msg = NULL;
        natsStatus status = natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS);
        ck_assert_msg(status == NATS_OK, "message %d of %d: %s", i, count,
                      natsStatus_GetText(status));
        tagged += strcmp(natsMsg_GetData(msg), tag) == 0;
        natsMsg_Destroy(msg);
    }
    return tagged;
}

START_TEST(test_pubsub_no_echo)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    natsOptions *options = itest_options(server.url);
    ITEST_OK(natsOptions_SetNoEcho(options, true));
    natsConnection *quiet = itest_connect_options(options);
    natsOptions_Destroy(options);
    natsConnection *echoing = itest_connect(server.url);
    natsConnection *observer = itest_connect(server.url);

    natsSubscription *quiet_sub = NULL;
    natsSubscription *echoing_sub = NULL;
    natsSubscription *observer_sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&quiet_sub, quiet, "echo.x"));
    ITEST_OK(natsConnection_SubscribeSync(&echoing_sub, echoing, "echo.x"));
    ITEST_OK(natsConnection_SubscribeSync(&observer_sub, observer, "echo.x"));
    itest_flush(quiet);
    itest_flush(echoing);
    itest_flush(observer);

    echo_publish(quiet, "quiet");
    echo_publish(echoing, "echoing");

    /* The observer sees both publishers; the echoing connection sees its own messages too
     * (the control: echo is on by default); the quiet one sees only the other's. */
    ck_assert_int_eq(echo_read(observer_sub, 2 * ECHO_COUNT, "quiet"), ECHO_COUNT);
    ck_assert_int_eq(echo_read(echoing_sub, 2 * ECHO_COUNT, "echoing"), ECHO_COUNT);
    ck_assert_int_eq(echo_read(quiet_sub, ECHO_COUNT, "echoing"), ECHO_COUNT);
    natsMsg *msg = NULL;
    natsStatus status = natsSubscription_NextMsg(&msg, quiet_sub, ECHO_QUIET_MS);
    ck_assert_msg(status == NATS_TIMEOUT, "no-echo connection received '%s'",
                  status == NATS_OK ? natsMsg_GetData(msg) : natsStatus_GetText(status));

    natsSubscription_Destroy(quiet_sub);
    natsSubscription_Destroy(echoing_sub);
    natsSubscription_Destroy(observer_sub);
    natsConnection_Destroy(observer);
    natsConnection_Destroy(echoing);
    natsConnection_Destroy(quiet);
    itest_server_stop(&server);
}
END_TEST

enum { AUTO_MAX = 5, AUTO_PUBLISHED = 10 };
/* Room for the INFO line and every frame the raw subscriber may receive. */
enum { RAW_BUFFER_SIZE = 64 * 1024 };

static int count_occurrences(const char *text, const char *needle)
{
    int count = 0;
    for (const char *at = strstr(text, needle); at != NULL; at = strstr(at + 1, needle)) {
        count++;
    }
    return count;
}

/* libnats also stops delivering at the maximum on its side, so a raw-socket subscriber
 * with `UNSUB 1 5` checks that the broker itself stops. */
START_TEST(test_pubsub_auto_unsubscribe)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    natsConnection *subscriber = itest_connect(server.url);
    natsConnection *publisher = itest_connect(server.url);
    natsSubscription *sub = NULL;
    natsSubscription *sentinel_sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, subscriber, "au"));
    ITEST_OK(natsSubscription_AutoUnsubscribe(sub, AUTO_MAX));
    ITEST_OK(natsConnection_SubscribeSync(&sentinel_sub, subscriber, "au.end"));
    itest_flush(subscriber);

    int raw = test_connect_raw(server.port);
    ck_assert_int_ge(raw, 0);
    static const char raw_setup[] = "CONNECT {\"verbose\":false}\r\nSUB au 1\r\nUNSUB 1 5\r\n"
                                    "SUB au.end 2\r\nPING\r\n";
    ck_assert_int_eq(test_send_all(raw, raw_setup, sizeof raw_setup - 1), 0);
    char *buffer = malloc(RAW_BUFFER_SIZE);
    ck_assert_ptr_nonnull(buffer);
    ck_assert_int_ge(test_read_until(raw, buffer, RAW_BUFFER_SIZE, "PONG\r\n", ITEST_WAIT_MS), 0);

    for (int i = 0; i < AUTO_PUBLISHED; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        ITEST_OK(natsConnection_PublishString(publisher, "au", text));
    }
    ITEST_OK(natsConnection_PublishString(publisher, "au.end", "end"));
    itest_flush(publisher);

    long got =
        test_read_until(raw, buffer, RAW_BUFFER_SIZE, "MSG au.end 2 3\r\nend\r\n", ITEST_WAIT_MS);
    ck_assert_msg(got >= 0, "raw subscriber: no sentinel (%ld): %s", got, buffer);
    ck_assert_int_eq(count_occurrences(buffer, "MSG au 1 "), AUTO_MAX);
    ck_assert_ptr_nonnull(strstr(buffer, "MSG au 1 2\r\nm4\r\n"));
    ck_assert_ptr_null(strstr(buffer, "m5\r\n"));
    close(raw);
    free(buffer);

    natsMsg *msg = NULL;
    ITEST_OK(natsSubscription_NextMsg(&msg, sentinel_sub, ITEST_WAIT_MS));
    natsMsg_Destroy(msg);
    for (int i = 0; i < AUTO_MAX; i++) {
        ITEST_OK(natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS));
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        ck_assert_str_eq(natsMsg_GetData(msg), text);
        natsMsg_Destroy(msg);
    }
    natsStatus status = natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS);
    ck_assert_msg(status != NATS_OK, "message %d delivered after auto-unsubscribe at %d",
                  AUTO_MAX + 1, AUTO_MAX);
    ck_assert(!natsSubscription_IsValid(sub));

    natsSubscription_Destroy(sub);
    natsSubscription_Destroy(sentinel_sub);
    natsConnection_Destroy(publisher);
    natsConnection_Destroy(subscriber);
    itest_server_stop(&server);
}
END_TEST

/* Asserts that `key` has exactly the values `expected` (NULL-terminated), in order. */
static void headers_expect(natsMsg *msg, const char *key, const char *const *expected)
{
    const char **values = NULL;
    int count = 0;
    ITEST_OK(natsMsgHeader_Values(msg, key, &values, &count));
    int expected_count = 0;
    while (expected[expected_count] != NULL) {
        expected_count++;
    }
    ck_assert_msg(count == expected_count, "header '%s': %d values, expected %d", key, count,
                  expected_count);
    for (int i = 0; i < count; i++) {
        ck_assert_str_eq(values[i], expected[i]);
    }
    free((void *)values);
}

START_TEST(test_pubsub_headers)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    natsConnection *subscriber = itest_connect(server.url);
    natsConnection *publisher = itest_connect(server.url);
    ITEST_OK(natsConnection_HasHeaderSupport(publisher));
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, subscriber, "hdr.>"));
    itest_flush(subscriber);

    /* 1: headers, a reply subject and a binary payload. */
    enum { DATA_SIZE = 3000 };
    unsigned char data[DATA_SIZE];
    itest_payload_fill(data, sizeof data, 42);
    natsMsg *msg = NULL;
    ITEST_OK(natsMsg_Create(&msg, "hdr.one", "hdr.reply", (const char *)data, DATA_SIZE));
    ITEST_OK(natsMsgHeader_Set(msg, "Single", "one"));
    ITEST_OK(natsMsgHeader_Add(msg, "Multi", "v1"));
    ITEST_OK(natsMsgHeader_Add(msg, "Multi", "v2"));
    ITEST_OK(natsMsgHeader_Add(msg, "Multi", "v3"));
    ITEST_OK(natsMsgHeader_Set(msg, "Spaced", "a b: c"));
    ITEST_OK(natsConnection_PublishMsg(publisher, msg));
    natsMsg_Destroy(msg);
    /* 2: headers and an empty payload. */
    ITEST_OK(natsMsg_Create(&msg, "hdr.two", NULL, NULL, 0));
    ITEST_OK(natsMsgHeader_Set(msg, "Only", "header"));
    ITEST_OK(natsConnection_PublishMsg(publisher, msg));
    natsMsg_Destroy(msg);
    /* 3: no headers at all, right after header messages. */
    ITEST_OK(natsConnection_PublishString(publisher, "hdr.three", "plain"));
    itest_flush(publisher);

    ITEST_OK(natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS));
    ck_assert_str_eq(natsMsg_GetSubject(msg), "hdr.one");
    ck_assert_str_eq(natsMsg_GetReply(msg), "hdr.reply");
    ck_assert_int_eq(natsMsg_GetDataLength(msg), DATA_SIZE);
    ck_assert(itest_payload_check(natsMsg_GetData(msg), DATA_SIZE, 42));
    const char *value = NULL;
    ITEST_OK(natsMsgHeader_Get(msg, "Single", &value));
    ck_assert_str_eq(value, "one");
    headers_expect(msg, "Multi", (const char *const[]){"v1", "v2", "v3", NULL});
    headers_expect(msg, "Spaced", (const char *const[]){"a b: c", NULL});
    const char **keys = NULL;
    int key_count = 0;
    ITEST_OK(natsMsgHeader_Keys(msg, &keys, &key_count));
    ck_assert_int_eq(key_count, 3);
    free((void *)keys);
    ck_assert_int_eq(natsMsgHeader_Get(msg, "Absent", &value), NATS_NOT_FOUND);
    natsMsg_Destroy(msg);

    ITEST_OK(natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS));
    ck_assert_str_eq(natsMsg_GetSubject(msg), "hdr.two");
    ck_assert_ptr_null(natsMsg_GetReply(msg));
    ck_assert_int_eq(natsMsg_GetDataLength(msg), 0);
    headers_expect(msg, "Only", (const char *const[]){"header", NULL});
    natsMsg_Destroy(msg);

    ITEST_OK(natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS));
    ck_assert_str_eq(natsMsg_GetSubject(msg), "hdr.three");
    ck_assert_str_eq(natsMsg_GetData(msg), "plain");
    ck_assert_int_eq(natsMsgHeader_Keys(msg, &keys, &key_count), NATS_NOT_FOUND);
    natsMsg_Destroy(msg);

    natsSubscription_Destroy(sub);
    natsConnection_Destroy(publisher);
    natsConnection_Destroy(subscriber);
    itest_server_stop(&server);
}
END_TEST

/* Not the default (1 MiB), so a broker that ignores the option is caught. */
enum { INFO_MAX_PAYLOAD = 512 * 1024 };

START_TEST(test_pubsub_server_info)
{
    struct test_server server;
    struct test_server_options options = {.max_payload = INFO_MAX_PAYLOAD};
    itest_server_start(&server, &options);
    natsConnection *connection = itest_connect(server.url);

    char server_id[128] = {0};
    ITEST_OK(natsConnection_GetConnectedServerId(connection, server_id, sizeof server_id));
    ck_assert_int_gt((long)strlen(server_id), 0);
    ck_assert_int_eq(natsConnection_GetMaxPayload(connection), INFO_MAX_PAYLOAD);
    ITEST_OK(natsConnection_HasHeaderSupport(connection));
    uint64_t client_id = 0;
    ITEST_OK(natsConnection_GetClientID(connection, &client_id));
    ck_assert_uint_gt(client_id, 0);

    /* Exactly max_payload is accepted and delivered whole. */
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, connection, "info.max"));
    itest_flush(connection);
    unsigned char *data = malloc(INFO_MAX_PAYLOAD);
    ck_assert_ptr_nonnull(data);
    itest_payload_fill(data, INFO_MAX_PAYLOAD, 7);
    ITEST_OK(natsConnection_Publish(connection, "info.max", data, INFO_MAX_PAYLOAD));
    free(data);
    natsMsg *msg = NULL;
    ITEST_OK(natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS));
    ck_assert_int_eq(natsMsg_GetDataLength(msg), INFO_MAX_PAYLOAD);
    ck_assert(itest_payload_check(natsMsg_GetData(msg), INFO_MAX_PAYLOAD, 7));
    natsMsg_Destroy(msg);
    ck_assert(!natsConnection_IsClosed(connection));

    natsSubscription_Destroy(sub);
    natsConnection_Destroy(connection);
    itest_server_stop(&server);
}
END_TEST

static Suite *pubsub_suite(void)
{
    Suite *suite = suite_create("integration_pubsub");
    TCase *tc = tcase_create("pubsub");
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_pubsub_basic);
    tcase_add_test(tc, test_pubsub_wildcards);
    tcase_add_test(tc, test_pubsub_no_echo);
    tcase_add_test(tc, test_pubsub_auto_unsubscribe);
    tcase_add_test(tc, test_pubsub_headers);
    tcase_add_test(tc, test_pubsub_server_info);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return itest_run(pubsub_suite());
}
