/* Cross-shard behaviour, over raw sockets: the guarantees clients rely on when publisher and
 * subscriber live on different shards.
 *
 * The one idea: placement hands connections to the least-loaded shard, so with one
 * publisher connected first, each new subscriber lands on another shard at least every
 * other time. A "sentinel" message published after the message under test travels the
 * same shard-to-shard ring behind it, so once the sentinel arrives, anything published
 * before it has arrived too: "was not delivered" is checked without sleeping. With
 * IONATS_TEST_SERVER=nats-server the same tests run against the reference (which has no
 * shards), and the counter check is skipped. */
#include "tests/integration/itest.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { SHARDS = 4, ROUNDS = 150, READ_SIZE = 1 << 16, WAIT_MS = 5000 };

static const char QUIET[] = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

static int raw_open(int port)
{
    int fd = test_connect_raw(port);
    ck_assert_int_ge(fd, 0);
    char buffer[READ_SIZE];
    ck_assert_int_ge(test_read_until(fd, buffer, sizeof buffer, "\r\n", WAIT_MS), 0);
    ck_assert_int_eq(test_send_all(fd, QUIET, sizeof QUIET - 1), 0);
    return fd;
}

static void raw_send(int fd, const char *text)
{
    ck_assert_int_eq(test_send_all(fd, text, strlen(text)), 0);
}

/* Sends `text` then PING, and reads until PONG; what came before the PONG is in `seen`. */
static void raw_round_trip(int fd, const char *text, char *seen, size_t size)
{
    char request[512];
    snprintf(request, sizeof request, "%sPING\r\n", text);
    raw_send(fd, request);
    ck_assert_msg(test_read_until(fd, seen, size, "PONG\r\n", WAIT_MS) >= 0, "no PONG");
}

/* Like raw_round_trip, for a connection that may have received any amount before the
 * PONG: reads and discards, keeping only enough to find "PONG\r\n" across reads. */
static void raw_round_trip_discarding(int fd, const char *text)
{
    char request[512];
    snprintf(request, sizeof request, "%sPING\r\n", text);
    raw_send(fd, request);
    enum { KEEP = 5 };
    char window[READ_SIZE + KEEP + 1];
    size_t kept = 0;
    int64_t deadline = itest_now_ms() + WAIT_MS;
    while (itest_now_ms() < deadline) {
        ssize_t n = recv(fd, window + kept, READ_SIZE, 0);
        ck_assert_msg(n > 0, "connection closed before PONG");
        window[kept + (size_t)n] = '\0';
        if (strstr(window, "PONG\r\n") != NULL) {
            return;
        }
        size_t total = kept + (size_t)n;
        kept = total < KEEP ? total : KEEP;
        memmove(window, window + total - kept, kept);
    }
    ck_abort_msg("no PONG within %d ms", WAIT_MS);
}

/* Publishes `count` messages on `subject` whose payloads are their sequence numbers (6
 * digits), in one send, then round-trips a PING so the broker has read them all. */
static void publish_numbered(int fd, const char *subject, int count, char *seen, size_t size)
{
    char *batch = malloc((size_t)count * (32 + strlen(subject)));
    ck_assert_ptr_nonnull(batch);
    size_t used = 0;
    for (int m = 0; m < count; m++) {
        used += (size_t)sprintf(batch + used, "PUB %s 6\r\n%06d\r\n", subject, m);
    }
    ck_assert_int_eq(test_send_all(fd, batch, used), 0);
    free(batch);
    raw_round_trip(fd, "", seen, size);
}

/* Reads on `fd` until the last of `count` numbered messages (see publish_numbered) and
 * fails unless every one arrived, in order, as "MSG <subject> <sid> 6". */
static void expect_numbered(int fd, const char *subject, const char *sid, int count,
                            const char *who)
{
    static char received[1 << 20];
    ck_assert_uint_lt((size_t)count * (40 + strlen(subject)), sizeof received);
    char last[64];
    snprintf(last, sizeof last, "%06d\r\n", count - 1);
    ck_assert_msg(test_read_until(fd, received, sizeof received, last, WAIT_MS) >= 0,
                  "%s did not get the last message", who);
    const char *cursor = received;
    for (int m = 0; m < count; m++) {
        char expected[128];
        snprintf(expected, sizeof expected, "MSG %s %s 6\r\n%06d\r\n", subject, sid, m);
        const char *at = strstr(cursor, expected);
        ck_assert_msg(at != NULL, "%s: message %d missing or out of order", who, m);
        cursor = at + strlen(expected);
    }
}

/* SUB + PING/PONG makes the interest live on every shard: a publish from another
 * connection right after the PONG must arrive. UNSUB + PING/PONG removes it: a publish
 * after that must not, which the sentinel behind it proves. */
START_TEST(test_flush_makes_interest_live_everywhere)
{
    struct test_server server;
    struct test_server_options options = {.shards = SHARDS};
    itest_server_start(&server, &options);
    int publisher = raw_open(server.port);
    char seen[READ_SIZE];
    raw_round_trip(publisher, "", seen, sizeof seen);
    for (int round = 0; round < ROUNDS; round++) {
        int subscriber = raw_open(server.port);
        char text[256];
        snprintf(text, sizeof text, "SUB live.%d 1\r\nSUB sentinel.%d 2\r\n", round, round);
        raw_round_trip(subscriber, text, seen, sizeof seen);
        snprintf(text, sizeof text, "PUB live.%d 2\r\nok\r\n", round);
        raw_send(publisher, text);
        snprintf(text, sizeof text, "MSG live.%d 1 2\r\nok\r\n", round);
        ck_assert_msg(test_read_until(subscriber, seen, sizeof seen, text, WAIT_MS) >= 0,
                      "round %d: the publish after SUB+PONG did not arrive", round);

        raw_round_trip(subscriber, "UNSUB 1\r\n", seen, sizeof seen);
        snprintf(text, sizeof text, "PUB live.%d 4\r\nlate\r\nPUB sentinel.%d 1\r\ns\r\n", round,
                 round);
        raw_send(publisher, text);
        snprintf(text, sizeof text, "MSG sentinel.%d 2 1\r\ns\r\n", round);
        ck_assert_msg(test_read_until(subscriber, seen, sizeof seen, text, WAIT_MS) >= 0,
                      "round %d: the sentinel did not arrive", round);
        ck_assert_msg(strstr(seen, "late") == NULL,
                      "round %d: a publish after UNSUB+PONG was delivered", round);
        close(subscriber);
    }
    close(publisher);
    itest_server_stop(&server);
}
END_TEST

/* Publisher and subscribers on different shards: every message arrives, in order, and the
 * per-shard counters (SIGUSR1) show that they crossed. */
START_TEST(test_fanout_crosses_shards_in_order)
{
    enum { SUBSCRIBERS = 6, MESSAGES = 2000 };
    struct test_server server;
    struct test_server_options options = {.shards = SHARDS};
    itest_server_start(&server, &options);
    int publisher = raw_open(server.port);
    int subscribers[SUBSCRIBERS];
    char seen[READ_SIZE];
    for (int i = 0; i < SUBSCRIBERS; i++) {
        subscribers[i] = raw_open(server.port);
        raw_round_trip(subscribers[i], "SUB fan.* 7\r\n", seen, sizeof seen);
    }
    publish_numbered(publisher, "fan.x", MESSAGES, seen, sizeof seen);
    for (int i = 0; i < SUBSCRIBERS; i++) {
        char who[32];
        snprintf(who, sizeof who, "subscriber %d", i);
        expect_numbered(subscribers[i], "fan.x", "7", MESSAGES, who);
        close(subscribers[i]);
    }
    close(publisher);
    if (!server.reference) {
        kill(server.pid, SIGUSR1);
        long deadline = itest_now_ms() + WAIT_MS;
        /* every shard answers SIGUSR1 with one "stats shard=" line */
        struct test_counter counter;
        while (test_log_counter(server.log_path, "xshard_sent", &counter) < SHARDS &&
               itest_now_ms() < deadline) {
            usleep(10000);
        }
        unsigned long long sent = counter.sum;
        ck_assert_int_ge(test_log_counter(server.log_path, "xshard_received", &counter), SHARDS);
        unsigned long long received_count = counter.sum;
        ck_assert_msg(sent > 0 && received_count > 0,
                      "no publish crossed shards (sent %llu, received %llu)", sent,
                      received_count);
        ck_assert_uint_eq(sent, received_count);
    }
    itest_server_stop(&server);
}
END_TEST

/* Subscribe/unsubscribe storms on many connections while a publisher keeps publishing: no
 * crash, every connection keeps answering, the broker still exits cleanly. */
START_TEST(test_subscribe_storm_while_publishing)
{
    enum { CONNECTIONS = 8, CYCLES = 200, BURST = 50 };
    struct test_server server;
    struct test_server_options options = {.shards = SHARDS};
    itest_server_start(&server, &options);
    int publisher = raw_open(server.port);
    int conns[CONNECTIONS];
    for (int i = 0; i < CONNECTIONS; i++) {
        conns[i] = raw_open(server.port);
    }
    char burst[BURST * 32];
    size_t used = 0;
    for (int b = 0; b < BURST; b++) {
        used += (size_t)sprintf(burst + used, "PUB storm.a 2\r\nhi\r\n");
    }
    static char seen[READ_SIZE * 4];
    for (int cycle = 0; cycle < CYCLES; cycle++) {
        ck_assert_int_eq(test_send_all(publisher, burst, used), 0);
        int c = cycle % CONNECTIONS;
        char text[128];
        snprintf(text, sizeof text, "SUB storm.* q%d %d\r\nSUB storm.> %d\r\nUNSUB %d\r\n",
                 cycle % 3, cycle, cycle + 100000, cycle);
        raw_send(conns[c], text);
        if (cycle % 16 == 15) {
            for (int i = 0; i < CONNECTIONS; i++) {
                raw_round_trip_discarding(conns[i], "");
            }
        }
    }
    raw_round_trip(publisher, "", seen, sizeof seen);
    for (int i = 0; i < CONNECTIONS; i++) {
        raw_round_trip_discarding(conns[i], "UNSUB 1\r\n");
        close(conns[i]);
    }
    close(publisher);
    itest_server_stop(&server); /* the harness fails the test unless ionats exits 0 */
}
END_TEST

/* A queue group with members on two shards, where the publisher's own shard has no member
 * that may take the message (the publisher itself, connected with echo:false): every
 * message reaches the member on the other shard, none is lost to a local pick that cannot
 * deliver. nats-server delivers them all to the other member too (2.9.10 and later). */
START_TEST(test_group_falls_back_to_other_shard)
{
    enum { MESSAGES = 200 };
    static const char no_echo[] =
        "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false}\r\n";
    struct test_server server;
    struct test_server_options options = {.shards = SHARDS};
    itest_server_start(&server, &options);
    int publisher = test_connect_raw(server.port);
    ck_assert_int_ge(publisher, 0);
    char seen[READ_SIZE];
    ck_assert_int_ge(test_read_until(publisher, seen, sizeof seen, "\r\n", WAIT_MS), 0);
    raw_send(publisher, no_echo);
    raw_round_trip(publisher, "SUB work g 1\r\n", seen, sizeof seen);
    int member = raw_open(server.port); /* least loaded: another shard than the publisher */
    raw_round_trip(member, "SUB work g 9\r\n", seen, sizeof seen);
    publish_numbered(publisher, "work", MESSAGES, seen, sizeof seen);
    ck_assert_msg(strstr(seen, "MSG") == NULL, "a publisher without echo got its own message");
    expect_numbered(member, "work", "9", MESSAGES, "the other shard's member");
    close(member);
    close(publisher);
    itest_server_stop(&server);
}
END_TEST

/* Past the overflow budget a shard reads none of its connections until its overflow
 * queues are empty, then reads them all again. With a budget of 0 and small rings, the
 * first publish that waits for the full ring pauses every connection of the publisher's
 * shard: every message still arrives, in order, and the others are answered afterwards. */
START_TEST(test_overflow_budget_pauses_and_resumes)
{
    enum { MESSAGES = 20000 };
    static const char *const args[] = {"--xshard_ring_size", "65536", "--xshard_overflow_max",
                                       "0", NULL};
    struct test_server server;
    struct test_server_options options = {.shards = 2, .extra_args = args};
    itest_server_start(&server, &options);
    static char seen[READ_SIZE];
    int publisher = raw_open(server.port);
    int subscriber = raw_open(server.port); /* on the other shard: placement */
    int bystander = raw_open(server.port);
    raw_round_trip(subscriber, "SUB budget.x 3\r\n", seen, sizeof seen);
    raw_round_trip(bystander, "SUB budget.other 1\r\n", seen, sizeof seen);
    publish_numbered(publisher, "budget.x", MESSAGES, seen, sizeof seen);
    expect_numbered(subscriber, "budget.x", "3", MESSAGES, "subscriber");
    raw_round_trip(bystander, "", seen, sizeof seen);
    raw_round_trip(publisher, "", seen, sizeof seen);
    close(bystander);
    close(subscriber);
    close(publisher);
    if (!server.reference) {
        /* the test is only worth its name if the ring did fill */
        kill(server.pid, SIGUSR1);
        struct test_counter counter;
        long deadline = itest_now_ms() + WAIT_MS;
        while (test_log_counter(server.log_path, "ring_full", &counter) < 2 &&
               itest_now_ms() < deadline) {
            usleep(10000);
        }
        ck_assert_msg(counter.sum > 0, "no record found its ring full");
    }
    itest_server_stop(&server);
}
END_TEST

/* ---- large messages ---- */

enum {
    LARGE_SUBSCRIBERS = 6,
    LARGE_MESSAGES = 24,
    LARGE_PAYLOAD = 512 * 1024,
    /* every LARGE_EVERY-th message is larger than a ring (1 MiB by default): its block is
     * above a link's cap and travels alone */
    HUGE_PAYLOAD = 1536 * 1024,
    LARGE_EVERY = 8,
    LARGE_MAX_PAYLOAD = 2 * 1024 * 1024,
    LARGE_WAIT_MS = 60000, /* sanitizer builds move 100 MB slowly */
};

static size_t large_length(int number)
{
    return number % LARGE_EVERY == LARGE_EVERY - 1 ? HUGE_PAYLOAD : LARGE_PAYLOAD;
}

struct large_publisher {
    int fd;
    int result; /* 0, or the -errno of the send that failed */
};

/* Sends every message, numbered payloads, one send each; the broker reads it as fast as
 * the subscribers take what it forwards. */
static void *large_publish(void *arg)
{
    struct large_publisher *publisher = arg;
    static unsigned char frame[HUGE_PAYLOAD + 64];
    for (int m = 0; m < LARGE_MESSAGES && publisher->result == 0; m++) {
        size_t length = large_length(m);
        int head = snprintf((char *)frame, 64, "PUB big.x %zu\r\n", length);
        itest_payload_fill(frame + head, length, (uint64_t)m);
        memcpy(frame + head + length, "\r\n", 2);
        publisher->result = test_send_all(publisher->fd, (const char *)frame, head + length + 2);
    }
    return NULL;
}

/* One subscriber's stream, parsed as it arrives: MSG frames, checked in order. */
struct large_reader {
    int fd;
    char *buffer; /* owned, LARGE_BUFFER bytes */
    size_t used;
    int next;     /* the number of the message expected next */
};

enum { LARGE_BUFFER = HUGE_PAYLOAD + 4096 };

/* Takes every whole frame at the start of the buffer; fails the test on anything else. */
static void large_frames_take(struct large_reader *reader, int index)
{
    for (;;) {
        char *end = memmem(reader->buffer, reader->used, "\r\n", 2);
        if (end == NULL) {
            ck_assert_uint_lt(reader->used, 256); /* a control line is short */
            return;
        }
        size_t line = (size_t)(end - reader->buffer) + 2;
        if (line == 6 && memcmp(reader->buffer, "PING\r\n", 6) == 0) {
            ck_assert_int_eq(test_send_all(reader->fd, "PONG\r\n", 6), 0);
        } else {
            size_t length = 0;
            char sid[16];
            ck_assert_msg(sscanf(reader->buffer, "MSG big.x %15s %zu\r\n", sid, &length) == 2,
                          "subscriber %d: unexpected line %.*s", index, (int)line,
                          reader->buffer);
            ck_assert_int_lt(reader->next, LARGE_MESSAGES);
            ck_assert_uint_eq(length, large_length(reader->next));
            if (reader->used < line + length + 2) {
                return; /* the rest of the payload is still on its way */
            }
            ck_assert_msg(itest_payload_check(reader->buffer + line, length,
                                              (uint64_t)reader->next),
                          "subscriber %d: message %d not whole, or out of order", index,
                          reader->next);
            ck_assert(memcmp(reader->buffer + line + length, "\r\n", 2) == 0);
            reader->next++;
            line += length + 2;
        }
        memmove(reader->buffer, reader->buffer + line, reader->used - line);
        reader->used -= line;
    }
}

/* Large publishes travel between shards by reference, one block shared by every target
 * shard (engine/xshard.h): 512 KiB payloads, with max_payload raised, and every eighth one
 * of 1.5 MiB (above a link's block cap, so it goes alone), reach subscribers spread over
 * the shards whole and in order. The subscribers are read while the publisher sends, from
 * another thread: the broker stops reading a publisher whose subscribers fall behind. */
START_TEST(test_large_messages_fan_out_whole)
{
    struct test_server server;
    struct test_server_options options = {.shards = SHARDS, .max_payload = LARGE_MAX_PAYLOAD};
    itest_server_start(&server, &options);
    char seen[READ_SIZE];
    struct large_publisher publisher = {.fd = raw_open(server.port)};
    raw_round_trip(publisher.fd, "", seen, sizeof seen);
    struct large_reader readers[LARGE_SUBSCRIBERS];
    struct pollfd polls[LARGE_SUBSCRIBERS];
    for (int i = 0; i < LARGE_SUBSCRIBERS; i++) {
        readers[i] = (struct large_reader){.fd = raw_open(server.port)};
        readers[i].buffer = malloc(LARGE_BUFFER);
        ck_assert_ptr_nonnull(readers[i].buffer);
        raw_round_trip(readers[i].fd, "SUB big.* 5\r\n", seen, sizeof seen);
        polls[i] = (struct pollfd){.fd = readers[i].fd, .events = POLLIN};
    }
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, large_publish, &publisher), 0);
    int done = 0;
    long deadline = itest_now_ms() + LARGE_WAIT_MS;
    while (done < LARGE_SUBSCRIBERS && itest_now_ms() < deadline) {
        if (poll(polls, LARGE_SUBSCRIBERS, 100) <= 0) {
            continue;
        }
        for (int i = 0; i < LARGE_SUBSCRIBERS; i++) {
            struct large_reader *reader = &readers[i];
            if (!(polls[i].revents & (POLLIN | POLLHUP | POLLERR)) ||
                reader->next == LARGE_MESSAGES) {
                continue;
            }
            ssize_t n = recv(reader->fd, reader->buffer + reader->used,
                             LARGE_BUFFER - reader->used, 0);
            ck_assert_msg(n > 0, "subscriber %d: closed after %d messages (%s)", i,
                          reader->next, n < 0 ? strerror(errno) : "EOF");
            reader->used += (size_t)n;
            large_frames_take(reader, i);
            if (reader->next == LARGE_MESSAGES) {
                polls[i].fd = -1; /* poll skips it */
                done++;
            }
        }
    }
    pthread_join(thread, NULL);
    ck_assert_int_eq(publisher.result, 0);
    for (int i = 0; i < LARGE_SUBSCRIBERS; i++) {
        ck_assert_msg(readers[i].next == LARGE_MESSAGES, "subscriber %d got %d of %d", i,
                      readers[i].next, LARGE_MESSAGES);
        ck_assert_uint_eq(readers[i].used, 0);
        close(readers[i].fd);
        free(readers[i].buffer);
    }
    raw_round_trip(publisher.fd, "", seen, sizeof seen);
    close(publisher.fd);
    if (!server.reference) {
        /* they did cross shards, in blocks */
        kill(server.pid, SIGUSR1);
        struct test_counter counter;
        long stats_deadline = itest_now_ms() + WAIT_MS;
        while (test_log_counter(server.log_path, "xshard_blocks", &counter) < SHARDS &&
               itest_now_ms() < stats_deadline) {
            usleep(10000);
        }
        ck_assert_uint_eq(counter.sum, LARGE_MESSAGES); /* one block per publish */
    }
    itest_server_stop(&server);
}
END_TEST

static Suite *xshard_suite(void)
{
    Suite *suite = suite_create("integration_xshard");
    TCase *tc = tcase_create("xshard");
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_flush_makes_interest_live_everywhere);
    tcase_add_test(tc, test_fanout_crosses_shards_in_order);
    tcase_add_test(tc, test_subscribe_storm_while_publishing);
    tcase_add_test(tc, test_group_falls_back_to_other_shard);
    tcase_add_test(tc, test_overflow_budget_pauses_and_resumes);
    tcase_add_test(tc, test_large_messages_fan_out_whole);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return itest_run(xshard_suite());
}
