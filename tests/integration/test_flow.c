/* Flow control for fan-out, over raw sockets (README "Running", engine/conn.h "flow
 * control"): a publisher faster than a subscriber that keeps reading is slowed to that
 * subscriber's pace instead of getting it cut off as a slow consumer, and a subscriber that
 * stops reading altogether is cut without holding anyone else back.
 *
 * The one idea: the subscribers are raw sockets with a small receive buffer, read at a pace
 * the test sets (a fixed number of bytes per step, or not at all), so the kernel hides
 * little and the broker alone decides who falls behind; the publishers send flat out, ten
 * times max_pending and more, so a broker that merely queued would have to cut the slow
 * reader. Every payload carries (publisher, index), and each reader checks, per publisher,
 * that the indexes arrive complete and in order. Readers and publishers run on threads of
 * their own, each bounded by a deadline, and only report; the test thread alone asserts.
 * Outcomes are asserted (who got what, who was cut), and one time only: how long a stuck
 * subscriber may hold the others back, against a bound half the write deadline, on ionats
 * (see (b)). The timings are printed.
 *
 * ionats runs with --stats, so that a failure shows the per-shard flow counters
 * (flow_pauses, flow_exempted, congested) from its log. */
#include "tests/integration/itest.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char FLOW_SUBJECT[] = "flow";
enum { FLOW_PAYLOAD_SIZE = 1024 };
/* A PUB frame as the publisher sends it: control line, payload, CRLF. */
enum { FLOW_PUB_FRAME_SIZE = sizeof "PUB flow 1024\r\n" - 1 + FLOW_PAYLOAD_SIZE + 2 };
/* Messages per send(): about 66 KB, enough to keep the publisher's socket full. */
enum { FLOW_BATCH_MESSAGES = 64 };

/* The subscribers' receive buffer, set before connect so the window is small from the
 * start: the kernel on the reader's side holds little, the broker's queue the rest. */
enum { FLOW_RCVBUF_BYTES = 64 * 1024 };
/* A slow reader takes at most FLOW_PACE_BYTES, then sleeps FLOW_PACE_SLEEP_US: at most
 * ~12 MB/s, far below what a publisher sends flat out over loopback, yet never still long
 * enough (the broker's stuck test looks for 100 ms without progress) to count as stuck. */
enum { FLOW_PACE_BYTES = 64 * 1024, FLOW_PACE_SLEEP_US = 5000 };

/* (a) and (c): 40 MiB to each slow subscriber, ten times max_pending. */
enum { FLOW_SLOW_MAX_PENDING = 4 << 20, FLOW_SLOW_MESSAGES = 40960 };
_Static_assert((long)FLOW_SLOW_MESSAGES * FLOW_PAYLOAD_SIZE >= 10L * FLOW_SLOW_MAX_PENDING,
               "the slow subscriber must be sent far more than max_pending");
/* (b): 16 MiB, eight times max_pending: more than max_pending plus anything the kernel
 * can buffer for the stuck subscriber (tcp_wmem's 4 MiB on the broker's side and its own
 * 64 KiB receive buffer), so it must pass max_pending and be cut. */
enum { FLOW_STUCK_MAX_PENDING = 2 << 20, FLOW_STUCK_MESSAGES = 16384 };
_Static_assert((long)FLOW_STUCK_MESSAGES * FLOW_PAYLOAD_SIZE >= 8L * FLOW_STUCK_MAX_PENDING,
               "the stuck subscriber must be sent far more than max_pending");

/* Payloads carry publisher << 32 | index as their sequence number. */
enum { FLOW_PUBLISHERS_MAX = 2, FLOW_READERS_MAX = 2, FLOW_PUBLISHER_SHIFT = 32 };

/* Bound for one run (publishing, delivery, the publishers' PONG). A slow reader needs ~4 s
 * for 40 MiB; the bound is ten times that for a loaded machine. */
enum { FLOW_RUN_MS = 45000 };
/* (b) runs ionats with the write deadline nats-server has by default (the harness has no
 * option for nats-server's), named so that a change of ionats's default cannot blur the line
 * between "held back until the write deadline" and "held back briefly". */
static const char FLOW_WRITE_DEADLINE[] = "10s";
enum { FLOW_WRITE_DEADLINE_MS = 10000 };
/* ionats promises that a stuck subscriber holds the others back for ~100-200 ms (then it
 * no longer counts); half the write deadline tells that apart from a hold that lasts until
 * the deadline cuts it, with ample room for a loaded machine (16 MiB over loopback takes
 * ~100 ms unhindered). */
enum { FLOW_STUCK_HOLD_MS = FLOW_WRITE_DEADLINE_MS / 2 };
/* Bound for a stuck subscriber's close once the others are done: the write deadline plus
 * margin (a broker may cut it at max_pending, long before). */
enum { FLOW_CUT_WAIT_MS = FLOW_WRITE_DEADLINE_MS + 5000 };
/* One test: a run, the close wait and start/stop, with room to spare. */
enum { FLOW_TEST_TIMEOUT_S = 90 };

/* A reader's buffer: many frames; a slow reader takes FLOW_PACE_BYTES at a time. */
enum { FLOW_READ_BUFFER_SIZE = 256 * 1024, FLOW_LINE_MAX = 256, FLOW_POLL_MS = 100 };
_Static_assert(FLOW_READ_BUFFER_SIZE > FLOW_PACE_BYTES + FLOW_LINE_MAX + FLOW_PAYLOAD_SIZE + 2,
               "a paced read plus a partial frame fits the buffer");
/* The most of the broker's log a failure prints (the end of it, where the last stats are). */
enum { FLOW_LOG_SHOW_BYTES = 48 * 1024 };
/* Time for ionats to log its counters after SIGUSR1 (a loop turn, normally well under 1 ms). */
enum { FLOW_STATS_WAIT_US = 200 * 1000 };

static const char FLOW_CONNECT[] = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

/* One subscriber's reading thread. Set before the thread starts, read after it is joined. */
struct flow_reader {
    int fd;
    bool paced;
    long expected; /* messages to read before stopping */
    int publisher_count;
    int64_t deadline_ms;
    /* results */
    long received;
    long long bytes;
    uint64_t next_index[FLOW_PUBLISHERS_MAX];
    long bad_count;
    char first_bad[160];
    char first_other[FLOW_LINE_MAX]; /* the first line that was not a MSG (or PING) */
    bool closed;                     /* EOF or reset before `expected` messages */
    int error;                       /* 0, -ETIMEDOUT, -EPROTO, -ENOMEM */
    int64_t done_ms;
};

/* One publisher's thread: `messages` PUBs flat out, then PING and wait for the PONG. */
struct flow_publisher {
    int fd;
    unsigned id;
    long messages;
    int64_t deadline_ms;
    /* results */
    long sent; /* messages whose bytes the kernel took */
    int error; /* 0, or -errno of the send or the PONG wait that failed */
    int64_t published_ms;
    int64_t pong_ms;
};

/* A blocking TCP connection to 127.0.0.1:port; a receive buffer of `rcvbuf_bytes` when
 * not 0. Returns the fd or -errno. */
static int flow_connect(int port, int rcvbuf_bytes)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -errno;
    }
    if (rcvbuf_bytes > 0 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof rcvbuf_bytes) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

/* Connects, sends CONNECT, `commands` and PING, and waits for the PONG (INFO comes before
 * it; nothing is published yet, so nothing else can). */
static int flow_open(const struct test_server *server, int rcvbuf_bytes, const char *commands)
{
    int fd = flow_connect(server->port, rcvbuf_bytes);
    ck_assert_msg(fd >= 0, "connect: %s", strerror(-fd));
    char text[256];
    int length = snprintf(text, sizeof text, "%s%sPING\r\n", FLOW_CONNECT, commands);
    ck_assert(length > 0 && (size_t)length < sizeof text);
    ck_assert_int_eq(test_send_all(fd, text, (size_t)length), 0);
    char buffer[4096];
    ck_assert_msg(test_read_until(fd, buffer, sizeof buffer, "PONG\r\n", ITEST_WAIT_MS) >= 0,
                  "no PONG after %s", commands);
    return fd;
}

static int flow_subscribe(const struct test_server *server, int rcvbuf_bytes)
{
    char sub[64];
    snprintf(sub, sizeof sub, "SUB %s 1\r\n", FLOW_SUBJECT);
    return flow_open(server, rcvbuf_bytes, sub);
}

/* Checks one payload against what its publisher sent next. */
static void flow_reader_check(struct flow_reader *reader, const char *payload, long size)
{
    uint64_t seq = size >= 8 ? itest_payload_seq(payload, (size_t)size) : UINT64_MAX;
    uint64_t publisher = seq >> FLOW_PUBLISHER_SHIFT;
    uint64_t index = seq & ((UINT64_C(1) << FLOW_PUBLISHER_SHIFT) - 1);
    bool known = size == FLOW_PAYLOAD_SIZE && publisher < (uint64_t)reader->publisher_count;
    bool good = known && index == reader->next_index[publisher] &&
                itest_payload_check(payload, (size_t)size, seq);
    if (!good) {
        if (reader->bad_count == 0) {
            snprintf(reader->first_bad, sizeof reader->first_bad,
                     "message %ld: size %ld, publisher %llu, index %llu, expected index %llu",
                     reader->received, size, (unsigned long long)publisher,
                     (unsigned long long)index,
                     known ? (unsigned long long)reader->next_index[publisher] : 0ULL);
        }
        reader->bad_count++;
    }
    if (known) {
        reader->next_index[publisher] = index + 1; /* a gap is reported once, not forever */
    }
    reader->received++;
}

/* Consumes the complete frames at the start of `buffer` and returns how many bytes are
 * left (a partial frame, moved to the front). Lines other than MSG are noted; a PING is
 * answered. */
static size_t flow_reader_parse(struct flow_reader *reader, char *buffer, size_t used)
{
    size_t pos = 0;
    while (pos < used) {
        char *line = buffer + pos;
        char *end = memmem(line, used - pos, "\r\n", 2);
        if (end == NULL) {
            if (used - pos > FLOW_LINE_MAX) {
                reader->error = -EPROTO;
                snprintf(reader->first_other, sizeof reader->first_other, "no CRLF in %zu bytes",
                         used - pos);
            }
            break;
        }
        size_t line_size = (size_t)(end - line) + 2;
        if (line_size > 4 && memcmp(line, "MSG ", 4) == 0) {
            char *space = memrchr(line, ' ', (size_t)(end - line));
            long size = strtol(space + 1, NULL, 10);
            if (size < 0 || size > FLOW_PAYLOAD_SIZE) {
                reader->error = -EPROTO;
                snprintf(reader->first_other, sizeof reader->first_other, "MSG size %ld", size);
                break;
            }
            size_t frame = line_size + (size_t)size + 2;
            if (used - pos < frame) {
                break;
            }
            flow_reader_check(reader, line + line_size, size);
            pos += frame;
            continue;
        }
        if (line_size == 6 && memcmp(line, "PING\r\n", 6) == 0) {
            (void)test_send_all(reader->fd, "PONG\r\n", 6);
        } else if (reader->first_other[0] == '\0') {
            size_t copy = line_size - 2 < sizeof reader->first_other - 1
                              ? line_size - 2
                              : sizeof reader->first_other - 1;
            memcpy(reader->first_other, line, copy);
            reader->first_other[copy] = '\0';
        }
        pos += line_size;
    }
    memmove(buffer, buffer + pos, used - pos);
    return used - pos;
}

static void *flow_reader_main(void *arg)
{
    struct flow_reader *reader = arg;
    char *buffer = malloc(FLOW_READ_BUFFER_SIZE);
    if (buffer == NULL) {
        reader->error = -ENOMEM;
        return NULL;
    }
    size_t used = 0;
    while (reader->received < reader->expected && reader->error == 0) {
        int64_t left = reader->deadline_ms - itest_now_ms();
        if (left <= 0) {
            reader->error = -ETIMEDOUT;
            break;
        }
        struct pollfd p = {.fd = reader->fd, .events = POLLIN};
        if (poll(&p, 1, (int)(left < FLOW_POLL_MS ? left : FLOW_POLL_MS)) <= 0) {
            continue; /* nothing yet, or EINTR */
        }
        size_t room = FLOW_READ_BUFFER_SIZE - used;
        if (reader->paced && room > FLOW_PACE_BYTES) {
            room = FLOW_PACE_BYTES;
        }
        ssize_t n = recv(reader->fd, buffer + used, room, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (n <= 0) {
            reader->closed = true;
            break;
        }
        used += (size_t)n;
        reader->bytes += n;
        used = flow_reader_parse(reader, buffer, used);
        if (reader->paced) {
            usleep(FLOW_PACE_SLEEP_US);
        }
    }
    reader->done_ms = itest_now_ms();
    free(buffer);
    return NULL;
}

/* Sends all of `data`, waiting (bounded by `deadline_ms`) while the broker does not read:
 * flow control makes that wait legitimate. 0, -ETIMEDOUT or -errno. */
static int flow_send(int fd, const char *data, size_t length, int64_t deadline_ms)
{
    size_t sent = 0;
    while (sent < length) {
        int64_t left = deadline_ms - itest_now_ms();
        if (left <= 0) {
            return -ETIMEDOUT;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, (int)(left < FLOW_POLL_MS ? left : FLOW_POLL_MS)) <= 0) {
            continue;
        }
        ssize_t n = send(fd, data + sent, length - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            return -errno;
        }
        sent += (size_t)n;
    }
    return 0;
}

static void *flow_publisher_main(void *arg)
{
    struct flow_publisher *publisher = arg;
    char *batch = malloc((size_t)FLOW_BATCH_MESSAGES * FLOW_PUB_FRAME_SIZE);
    if (batch == NULL) {
        publisher->error = -ENOMEM;
        return NULL;
    }
    int64_t start_ms = itest_now_ms();
    while (publisher->sent < publisher->messages && publisher->error == 0) {
        size_t used = 0;
        long count = 0;
        for (; count < FLOW_BATCH_MESSAGES && publisher->sent + count < publisher->messages;
             count++) {
            used += (size_t)sprintf(batch + used, "PUB %s %d\r\n", FLOW_SUBJECT, FLOW_PAYLOAD_SIZE);
            uint64_t seq = (uint64_t)publisher->id << FLOW_PUBLISHER_SHIFT |
                           (uint64_t)(publisher->sent + count);
            itest_payload_fill((unsigned char *)batch + used, FLOW_PAYLOAD_SIZE, seq);
            used += FLOW_PAYLOAD_SIZE;
            batch[used++] = '\r';
            batch[used++] = '\n';
        }
        publisher->error = flow_send(publisher->fd, batch, used, publisher->deadline_ms);
        if (publisher->error == 0) {
            publisher->sent += count;
        }
    }
    publisher->published_ms = itest_now_ms() - start_ms;
    free(batch);
    if (publisher->error == 0) {
        publisher->error = flow_send(publisher->fd, "PING\r\n", 6, publisher->deadline_ms);
    }
    if (publisher->error == 0) {
        char buffer[4096];
        int64_t left = publisher->deadline_ms - itest_now_ms();
        long rc = test_read_until(publisher->fd, buffer, sizeof buffer, "PONG\r\n",
                                  left > 0 ? (int)left : 1);
        publisher->error = rc < 0 ? (int)rc : 0;
    }
    publisher->pong_ms = itest_now_ms() - start_ms;
    return NULL;
}

/* Starts a broker with `max_pending` and, for ionats, --stats and `extra_args` (up to
 * six words, NULL-terminated). */
static void flow_server_start(struct test_server *server, long max_pending,
                              const char *const *extra_args)
{
    enum { EXTRA_MAX = 8 };
    const char *extra[EXTRA_MAX + 1] = {"--stats", "200ms"};
    size_t count = 2;
    for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL; i++) {
        ck_assert(count < EXTRA_MAX);
        extra[count++] = extra_args[i];
    }
    extra[count] = NULL;
    struct test_server_options options = {.max_pending = max_pending, .extra_args = extra};
    itest_server_start(server, &options);
}

/* Has ionats log its per-shard counters now (SIGUSR1) and prints the end of its log to
 * stderr, for a failure report. */
static void flow_log_show(const struct test_server *server)
{
    if (server->reference || server->pid <= 0) {
        return;
    }
    kill(server->pid, SIGUSR1);
    usleep(FLOW_STATS_WAIT_US);
    FILE *log = fopen(server->log_path, "r");
    if (log == NULL) {
        return;
    }
    if (fseek(log, 0, SEEK_END) == 0) {
        long size = ftell(log);
        fseek(log, size > FLOW_LOG_SHOW_BYTES ? size - FLOW_LOG_SHOW_BYTES : 0, SEEK_SET);
    }
    fprintf(stderr, "---- end of %s ----\n", server->log_path);
    char line[1024];
    while (fgets(line, sizeof line, log) != NULL) {
        fputs(line, stderr);
    }
    fprintf(stderr, "---- (log) ----\n");
    fclose(log);
}

/* Fails the test, after showing the broker's log, when `condition` does not hold. */
#define FLOW_EXPECT(server, condition, ...)                                                        \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            flow_log_show(server);                                                                 \
            ck_abort_msg(__VA_ARGS__);                                                             \
        }                                                                                          \
    } while (0)

/* Runs readers and publishers on threads of their own until each is done or its deadline
 * passed, and prints what each saw and when. */
static void flow_run(const char *name, struct flow_reader *readers, int reader_count,
                     struct flow_publisher *publishers, int publisher_count)
{
    pthread_t reader_threads[FLOW_READERS_MAX];
    pthread_t publisher_threads[FLOW_PUBLISHERS_MAX];
    ck_assert_int_le(reader_count, FLOW_READERS_MAX);
    ck_assert_int_le(publisher_count, FLOW_PUBLISHERS_MAX);
    int64_t start_ms = itest_now_ms();
    for (int i = 0; i < reader_count; i++) {
        readers[i].deadline_ms = start_ms + FLOW_RUN_MS;
        ck_assert_int_eq(pthread_create(&reader_threads[i], NULL, flow_reader_main, &readers[i]),
                         0);
    }
    for (int i = 0; i < publisher_count; i++) {
        publishers[i].deadline_ms = start_ms + FLOW_RUN_MS;
        ck_assert_int_eq(
            pthread_create(&publisher_threads[i], NULL, flow_publisher_main, &publishers[i]), 0);
    }
    for (int i = 0; i < publisher_count; i++) {
        pthread_join(publisher_threads[i], NULL);
    }
    for (int i = 0; i < reader_count; i++) {
        pthread_join(reader_threads[i], NULL);
    }
    for (int i = 0; i < publisher_count; i++) {
        printf("%s: publisher %d: %ld messages sent in %lld ms, PONG at %lld ms (%s)\n", name, i,
               publishers[i].sent, (long long)publishers[i].published_ms,
               (long long)publishers[i].pong_ms, strerror(-publishers[i].error));
    }
    for (int i = 0; i < reader_count; i++) {
        printf("%s: reader %d: %ld of %ld messages (%lld bytes) in %lld ms%s%s\n", name, i,
               readers[i].received, readers[i].expected, readers[i].bytes,
               (long long)(readers[i].done_ms - start_ms), readers[i].closed ? ", closed" : "",
               readers[i].error != 0 ? ", timed out" : "");
    }
    fflush(stdout);
}

/* The reader got all it expected, intact and in order, and was not cut. */
static void flow_expect_complete(const struct test_server *server, const struct flow_reader *r,
                                 int which)
{
    FLOW_EXPECT(server, r->received == r->expected && !r->closed && r->error == 0,
                "subscriber %d got %ld of %ld messages (%lld bytes)%s%s; first other line: '%s'",
                which, r->received, r->expected, r->bytes,
                r->closed ? ", then the broker closed it" : "",
                r->error == -ETIMEDOUT ? ", then the run timed out" : "", r->first_other);
    FLOW_EXPECT(server, r->bad_count == 0, "subscriber %d: %ld bad messages, the first %s", which,
                r->bad_count, r->first_bad);
    for (int p = 0; p < r->publisher_count; p++) {
        FLOW_EXPECT(server, r->next_index[p] == (uint64_t)(r->expected / r->publisher_count),
                    "subscriber %d: publisher %d's last index %llu", which, p,
                    (unsigned long long)r->next_index[p]);
    }
}

/* The connection still answers: not cut, and nothing left unread before the PONG. */
static void flow_expect_alive(const struct test_server *server, int fd, const char *who)
{
    ck_assert_int_eq(test_send_all(fd, "PING\r\n", 6), 0);
    char buffer[4096];
    long rc = test_read_until(fd, buffer, sizeof buffer, "PONG\r\n", ITEST_WAIT_MS);
    FLOW_EXPECT(server, rc >= 0, "%s: no PONG after the run (%s), read '%.200s'", who,
                strerror((int)-rc), buffer);
    FLOW_EXPECT(server, strncmp(buffer, "PONG\r\n", 6) == 0, "%s: '%.200s' before the PONG", who,
                buffer);
}

static void flow_expect_published(const struct test_server *server, const struct flow_publisher *p,
                                  int which)
{
    FLOW_EXPECT(server, p->error == 0 && p->sent == p->messages,
                "publisher %d: sent %ld of %ld messages, then %s", which, p->sent, p->messages,
                strerror(-p->error));
}

/* (a) A subscriber that reads, only slowly, is a pace to keep, not a slow consumer: the
 * publisher is held back to ~12 MB/s and the subscriber gets all 40 MiB, in order, though
 * the publisher offers it ten times max_pending. A broker without flow control cuts it
 * once 4 MiB are pending. nats-server 2.9.10 passes too: it stalls a producer whose
 * subscriber is behind, so the publisher is held to the reader's pace (observed). */
START_TEST(test_flow_slow_reader_kept)
{
    struct test_server server;
    flow_server_start(&server, FLOW_SLOW_MAX_PENDING, NULL);
    struct flow_reader reader = {.fd = flow_subscribe(&server, FLOW_RCVBUF_BYTES),
                                 .paced = true,
                                 .expected = FLOW_SLOW_MESSAGES,
                                 .publisher_count = 1};
    struct flow_publisher publisher = {.fd = flow_open(&server, 0, ""),
                                       .id = 0,
                                       .messages = FLOW_SLOW_MESSAGES};
    flow_run("slow_reader_kept", &reader, 1, &publisher, 1);

    flow_expect_published(&server, &publisher, 0);
    flow_expect_complete(&server, &reader, 0);
    flow_expect_alive(&server, reader.fd, "the slow subscriber");
    close(publisher.fd);
    close(reader.fd);
    itest_server_stop(&server);
}
END_TEST

/* (b) A subscriber that stops reading holds nobody back for long: it is cut as a slow
 * consumer (at max_pending, or at the write deadline), while a subscriber that reads gets
 * all 16 MiB in order and the publisher finishes.
 * How long the others may be held back is checked on ionats only, since that bound is
 * ionats's own promise: nats-server 2.9.10 holds the publisher (and with it the reading
 * subscriber) until its write deadline cuts the stuck one (observed: the publisher's 16 MiB
 * took 10030 ms with the default 10 s write deadline). */
START_TEST(test_flow_stuck_reader_cut)
{
    const char *const extra[] = {"--write_deadline", FLOW_WRITE_DEADLINE, NULL};
    struct test_server server;
    flow_server_start(&server, FLOW_STUCK_MAX_PENDING, extra);
    int stuck = flow_subscribe(&server, FLOW_RCVBUF_BYTES);
    struct flow_reader reader = {.fd = flow_subscribe(&server, 0),
                                 .paced = false,
                                 .expected = FLOW_STUCK_MESSAGES,
                                 .publisher_count = 1};
    struct flow_publisher publisher = {.fd = flow_open(&server, 0, ""),
                                       .id = 0,
                                       .messages = FLOW_STUCK_MESSAGES};
    flow_run("stuck_reader_cut", &reader, 1, &publisher, 1);

    flow_expect_published(&server, &publisher, 0);
    flow_expect_complete(&server, &reader, 1);
    int64_t wait_start_ms = itest_now_ms();
    bool cut = test_wait_closed(stuck, NULL, 0, FLOW_CUT_WAIT_MS);
    printf("stuck_reader_cut: the stuck subscriber %s %lld ms after the others were done\n",
           cut ? "was closed" : "was still open", (long long)(itest_now_ms() - wait_start_ms));
    fflush(stdout);
    FLOW_EXPECT(&server, cut, "the stuck subscriber was not cut within %d ms", FLOW_CUT_WAIT_MS);
    if (!server.reference) {
        FLOW_EXPECT(&server, publisher.pong_ms < FLOW_STUCK_HOLD_MS,
                    "the stuck subscriber held the publisher back: its %d messages and PONG "
                    "took %lld ms (bound %d ms, write deadline %d ms)",
                    FLOW_STUCK_MESSAGES, (long long)publisher.pong_ms, FLOW_STUCK_HOLD_MS,
                    FLOW_WRITE_DEADLINE_MS);
    }
    flow_expect_alive(&server, reader.fd, "the reading subscriber");
    flow_expect_alive(&server, publisher.fd, "the publisher");
    close(stuck);
    close(publisher.fd);
    close(reader.fd);
    itest_server_stop(&server);
}
END_TEST

/* (c) As (a), with two publishers on their own connections and two slow subscribers: each
 * subscriber gets both publishers' 20 MiB, each publisher's in order. */
START_TEST(test_flow_two_slow_readers_two_publishers)
{
    enum { PER_PUBLISHER = FLOW_SLOW_MESSAGES / 2 };
    struct test_server server;
    flow_server_start(&server, FLOW_SLOW_MAX_PENDING, NULL);
    struct flow_reader readers[2];
    for (int i = 0; i < 2; i++) {
        readers[i] = (struct flow_reader){.fd = flow_subscribe(&server, FLOW_RCVBUF_BYTES),
                                          .paced = true,
                                          .expected = 2L * PER_PUBLISHER,
                                          .publisher_count = 2};
    }
    struct flow_publisher publishers[2];
    for (int i = 0; i < 2; i++) {
        publishers[i] = (struct flow_publisher){.fd = flow_open(&server, 0, ""),
                                                .id = (unsigned)i,
                                                .messages = PER_PUBLISHER};
    }
    flow_run("two_slow_readers", readers, 2, publishers, 2);

    for (int i = 0; i < 2; i++) {
        flow_expect_published(&server, &publishers[i], i);
    }
    for (int i = 0; i < 2; i++) {
        flow_expect_complete(&server, &readers[i], i);
        flow_expect_alive(&server, readers[i].fd, "a slow subscriber");
    }
    for (int i = 0; i < 2; i++) {
        close(publishers[i].fd);
        close(readers[i].fd);
    }
    itest_server_stop(&server);
}
END_TEST

static Suite *flow_suite(void)
{
    Suite *suite = suite_create("integration_flow");
    TCase *tc = tcase_create("flow");
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_set_timeout(tc, FLOW_TEST_TIMEOUT_S);
    tcase_add_test(tc, test_flow_slow_reader_kept);
    tcase_add_test(tc, test_flow_stuck_reader_cut);
    tcase_add_test(tc, test_flow_two_slow_readers_two_publishers);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return itest_run(flow_suite());
}
