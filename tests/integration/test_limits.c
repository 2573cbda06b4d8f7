/* Per-connection limits under load, through libnats: a subscriber that stops reading is
 * cut off as a slow consumer once its pending bytes pass max_pending, while a healthy
 * subscriber on the same subject receives every message in order and the publisher is never
 * disconnected.
 *
 * The one idea: the slow subscriber is a raw socket that subscribes and then never reads,
 * so nothing on the client side can hide or cause the cut, and the publisher never runs
 * more than a window (well under max_pending) ahead of the healthy subscriber, so that one is
 * healthy by construction and a broker that cuts it is wrong. The test asserts outcomes only
 * (who got what, who was closed), never timings. */
#include "tests/harness/ck_quiet.h"
#include "tests/integration/itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Small enough that the unread socket overflows it quickly; nats-server refuses a
 * max_payload above max_pending, so max_payload is lowered with it. */
enum { SLOW_MAX_PENDING = 256 * 1024, SLOW_MAX_PAYLOAD = 64 * 1024 };
/* 200k × 512 B ≈ 100 MB: far beyond what the kernel buffers of the unread socket
 * (a few MB on loopback) and max_pending can absorb, so the cut must happen. */
enum { SLOW_MESSAGES = 200000, SLOW_PAYLOAD_SIZE = 512 };
/* The publisher waits, every SLOW_WINDOW_STEP messages, until the healthy subscriber is at
 * most SLOW_WINDOW messages behind: at most (256 + 64) × 529 B ≈ 170 KB of MSG frames are
 * then in flight to it, two thirds of max_pending, even if the kernel buffered nothing. */
enum { SLOW_WINDOW = 256, SLOW_WINDOW_STEP = 64 };
/* Each frame as a broker counts it: control line, payload, CRLF. */
enum { SLOW_FRAME_SIZE = sizeof "MSG foo 1 512\r\n" - 1 + SLOW_PAYLOAD_SIZE + 2 };
_Static_assert((SLOW_WINDOW + SLOW_WINDOW_STEP) * SLOW_FRAME_SIZE < SLOW_MAX_PENDING * 3 / 4,
               "the healthy subscriber's backlog must stay well under max_pending");
/* Bounds for one window wait and for the final flush. nats-server stalls the publisher until
 * its write deadline (10 s) cuts the slow consumer, so one wait may take that long. */
enum { SLOW_FLUSH_MS = 30000, SLOW_DELIVERY_MS = 30000 };
/* Room for the INFO line and the PONG. */
enum { SLOW_RAW_BUFFER_SIZE = 4096 };

/* What the healthy subscriber saw, written by its libnats delivery thread. */
struct slow_healthy {
    uint64_t next_seq;       /* the sequence the next message must carry */
    int64_t first_bad_index; /* index of the first out-of-order or corrupt message, or -1 */
    uint64_t first_bad_seq;
    struct itest_counter received;
};

static struct slow_healthy slow_healthy; /* static: late callbacks never see a dead frame */

static void slow_healthy_on_msg(natsConnection *connection, natsSubscription *sub, natsMsg *msg,
                                void *closure)
{
    struct slow_healthy *state = closure;
    size_t size = (size_t)natsMsg_GetDataLength(msg);
    const char *data = natsMsg_GetData(msg);
    uint64_t seq = itest_payload_seq(data, size);
    if (state->first_bad_index < 0 && (size != SLOW_PAYLOAD_SIZE || seq != state->next_seq ||
                                       !itest_payload_check(data, size, seq))) {
        state->first_bad_index = (int64_t)state->next_seq;
        state->first_bad_seq = seq;
    }
    state->next_seq++;
    natsMsg_Destroy(msg);
    itest_counter_add(&state->received, 1);
}

START_TEST(test_limits_slow_consumer)
{
    struct test_server server;
    struct test_server_options options = {.max_pending = SLOW_MAX_PENDING,
                                          .max_payload = SLOW_MAX_PAYLOAD};
    itest_server_start(&server, &options);

    /* The slow subscriber: subscribed and confirmed (PONG), then never read again. */
    int raw = test_connect_raw(server.port);
    ck_assert_int_ge(raw, 0);
    static const char raw_setup[] = "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPING\r\n";
    ck_assert_int_eq(test_send_all(raw, raw_setup, sizeof raw_setup - 1), 0);
    char buffer[SLOW_RAW_BUFFER_SIZE];
    ck_assert_int_ge(test_read_until(raw, buffer, sizeof buffer, "PONG\r\n", ITEST_WAIT_MS), 0);

    struct slow_healthy *healthy = &slow_healthy;
    memset(healthy, 0, sizeof *healthy);
    healthy->first_bad_index = -1;
    itest_counter_init(&healthy->received);
    natsConnection *subscriber = itest_connect(server.url);
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_Subscribe(&sub, subscriber, "foo", slow_healthy_on_msg, healthy));
    /* The client must not drop messages on its side: only the broker is under test. */
    ITEST_OK(natsSubscription_SetPendingLimits(sub, -1, -1));
    itest_flush(subscriber);

    /* Send at once: the window counts messages on the wire, none may wait in libnats. */
    natsOptions *publisher_options = itest_options(server.url);
    ITEST_OK(natsOptions_SetSendAsap(publisher_options, true));
    natsConnection *publisher = itest_connect_options(publisher_options);
    natsOptions_Destroy(publisher_options);
    unsigned char data[SLOW_PAYLOAD_SIZE];
    for (int seq = 0; seq < SLOW_MESSAGES; seq++) {
        itest_payload_fill(data, sizeof data, (uint64_t)seq);
        natsStatus status = natsConnection_Publish(publisher, "foo", data, sizeof data);
        /* quiet (ck_quiet.h): one per message, 200000 of them */
        quiet_assert_msg(status == NATS_OK, "publish %d: %s (%s)", seq,
                         natsStatus_GetText(status), itest_last_error());
        long published = seq + 1;
        if (published % SLOW_WINDOW_STEP == 0 && published > SLOW_WINDOW) {
            long behind_max = published - SLOW_WINDOW;
            long received = itest_counter_wait(&healthy->received, behind_max, SLOW_DELIVERY_MS);
            ck_assert_msg(received >= behind_max,
                          "healthy subscriber stuck at %ld of %ld published (closed: %d)",
                          received, published, (int)natsConnection_IsClosed(subscriber));
        }
    }
    ITEST_OK(natsConnection_FlushTimeout(publisher, SLOW_FLUSH_MS));

    long received = itest_counter_wait(&healthy->received, SLOW_MESSAGES, SLOW_DELIVERY_MS);
    ck_assert_msg(received == SLOW_MESSAGES, "healthy subscriber got %ld of %d", received,
                  SLOW_MESSAGES);
    ck_assert_msg(healthy->first_bad_index < 0, "healthy subscriber: message %lld carried %llu",
                  (long long)healthy->first_bad_index, (unsigned long long)healthy->first_bad_seq);
    int64_t dropped = -1;
    ITEST_OK(natsSubscription_GetDropped(sub, &dropped));
    ck_assert_int_eq(dropped, 0);
    ck_assert(!natsConnection_IsClosed(subscriber));
    ck_assert(!natsConnection_IsClosed(publisher));
    /* Both healthy connections still answer a PING after the slow consumer was cut. */
    itest_flush(subscriber);
    itest_flush(publisher);

    /* The slow subscriber: reading what the kernel buffered must end in the broker's close. */
    ck_assert_msg(test_wait_closed(raw, NULL, 0, ITEST_WAIT_MS),
                  "the slow consumer was not disconnected");
    close(raw);

    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(publisher);
    natsConnection_Destroy(subscriber);
    itest_server_stop(&server);
}
END_TEST

static Suite *limits_suite(void)
{
    Suite *suite = suite_create("integration_limits");
    TCase *tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_limits_slow_consumer);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return itest_run(limits_suite());
}
