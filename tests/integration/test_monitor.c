/* HTTP monitoring (-m) on a running broker, over raw sockets: the endpoints answer with
 * nats-server's status lines, headers and JSON fields; a client's connection, subscription
 * and messages show in /varz, /connz and /subsz whichever shard it lives on; /jsz without
 * JetStream is nats-server's disabled page (with it: test_jetstream_monitor.c); keep-alive,
 * pipelining and Connection: close behave as Go's net/http does; a head too long, a
 * malformed one, too many connections and a head that never ends are refused within their
 * bounds.
 *
 * The one idea: the broker is started with -m -1 (any free port, as nats-server's) and the
 * test reads the port from its log line "Starting http monitor on 127.0.0.1:<port>", so no
 * port can be taken between choosing and binding. Every response is read whole, by its
 * Content-Length, so two responses on one connection are told apart. ionats only: the
 * harness has no way to give the reference an HTTP port, so with IONATS_TEST_SERVER=
 * nats-server each test says so and passes. Runs with $IONATS_TEST_IO and
 * $IONATS_TEST_SHARDS like the rest (with several shards the clients land on other shards
 * than the monitoring one, shard 0). */
#include "tests/integration/itest.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { WAIT_MS = 5000, READ_SIZE = 1 << 20, CLIENTS = 4 };
/* What the broker allows (engine/monitor_internal.h, engine/http.h): more than these is
 * refused. */
enum { MONITOR_CONNS_MAX = 32, HEAD_MAX = 8192 };
/* A head that never ends is closed 5 s after its first byte (nats-server's
 * ReadHeaderTimeout); the test allows some more. */
enum { HEAD_TIMEOUT_WAIT_MS = 9000 };

static const char *const MONITOR_ARGS[] = {"-m", "-1", NULL};

/* Starts a broker with monitoring on any free port; returns that port (0: the reference,
 * which this test cannot give one). */
static int monitor_start(struct test_server *server)
{
    if (test_server_reference()) {
        fprintf(stderr, "test_monitor: the reference gets no HTTP port from the harness; "
                        "skipped\n");
        return 0;
    }
    struct test_server_options options = {.extra_args = MONITOR_ARGS};
    itest_server_start(server, &options);
    return itest_monitor_port(server, WAIT_MS);
}

/* ---- reading HTTP responses ---- */

struct reader {
    int fd;
    char data[READ_SIZE];
    size_t length;
    bool closed;
};

static void reader_open(struct reader *reader, int port)
{
    reader->fd = test_connect_raw(port);
    ck_assert_int_ge(reader->fd, 0);
    reader->length = 0;
    reader->data[0] = '\0';
    reader->closed = false;
}

/* Reads more into the reader; false on timeout or when the peer closed. */
static bool reader_fill(struct reader *reader, int timeout_ms)
{
    struct pollfd poll_fd = {.fd = reader->fd, .events = POLLIN};
    if (reader->closed || poll(&poll_fd, 1, timeout_ms) != 1) {
        return false;
    }
    ck_assert_uint_lt(reader->length, sizeof reader->data - 1);
    ssize_t n = recv(reader->fd, reader->data + reader->length,
                     sizeof reader->data - 1 - reader->length, 0);
    if (n <= 0) {
        reader->closed = true;
        return false;
    }
    reader->length += (size_t)n;
    reader->data[reader->length] = '\0';
    return true;
}

struct response {
    int status;
    char head[4096];
    char *body; /* owned, NUL-terminated */
    size_t body_length;
};

/* Reads one whole response: its head, then Content-Length bytes of body (or, without one,
 * everything until the peer closes). */
static void response_read(struct reader *reader, struct response *response)
{
    char *end;
    while ((end = strstr(reader->data, "\r\n\r\n")) == NULL || reader->length == 0) {
        ck_assert_msg(reader_fill(reader, WAIT_MS), "no response head (got \"%.*s\")",
                      (int)reader->length, reader->data);
    }
    size_t head_length = (size_t)(end - reader->data) + 4;
    ck_assert_uint_lt(head_length, sizeof response->head);
    memcpy(response->head, reader->data, head_length);
    response->head[head_length] = '\0';
    ck_assert_msg(sscanf(response->head, "HTTP/1.%*d %d", &response->status) == 1,
                  "not a response: %s", response->head);
    const char *length_header = strstr(response->head, "Content-Length: ");
    if (length_header != NULL) {
        response->body_length = strtoul(length_header + 16, NULL, 10);
        while (reader->length < head_length + response->body_length) {
            ck_assert_msg(reader_fill(reader, WAIT_MS), "short body");
        }
    } else {
        while (reader_fill(reader, WAIT_MS)) {
        }
        ck_assert_msg(reader->closed, "no Content-Length and no close");
        response->body_length = reader->length - head_length;
    }
    response->body = malloc(response->body_length + 1);
    ck_assert_ptr_nonnull(response->body);
    memcpy(response->body, reader->data + head_length, response->body_length);
    response->body[response->body_length] = '\0';
    size_t used = head_length + response->body_length;
    memmove(reader->data, reader->data + used, reader->length - used + 1);
    reader->length -= used;
}

static void request_send(struct reader *reader, const char *text)
{
    ck_assert_int_eq(test_send_all(reader->fd, text, strlen(text)), 0);
}

/* GET `path` on a fresh connection: the whole response. */
static void get(int port, const char *path, struct response *response)
{
    struct reader *reader = malloc(sizeof *reader);
    ck_assert_ptr_nonnull(reader);
    reader_open(reader, port);
    char request[1024];
    snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    request_send(reader, request);
    response_read(reader, response);
    close(reader->fd);
    free(reader);
}

/* The integer after "key": in an indented JSON body; fails when the key is not there. */
static long long json_int(const char *body, const char *key)
{
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *found = strstr(body, pattern);
    ck_assert_msg(found != NULL, "no %s in %s", key, body);
    return strtoll(found + strlen(pattern), NULL, 10);
}

static bool contains(const char *text, const char *needle)
{
    return strstr(text, needle) != NULL;
}

/* ---- NATS clients ---- */

/* A raw client named `name`, subscribed to "foo" (sid 1), that published one message to
 * "foo" and got it back: every count it makes is in place before this returns. */
static int client_open(int port, const char *name)
{
    int fd = test_connect_raw(port);
    ck_assert_int_ge(fd, 0);
    char text[4096];
    ck_assert_int_ge(test_read_until(fd, text, sizeof text, "\r\n", WAIT_MS), 0);
    snprintf(text, sizeof text,
             "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"%s\",\"lang\":\"c\","
             "\"version\":\"1.2.3\"}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n",
             name);
    ck_assert_int_eq(test_send_all(fd, text, strlen(text)), 0);
    ck_assert_int_ge(test_read_until(fd, text, sizeof text, "PONG\r\n", WAIT_MS), 0);
    return fd;
}

/* ---- the tests ---- */

START_TEST(test_monitor_endpoints)
{
    struct test_server server;
    int port = monitor_start(&server);
    if (port == 0) {
        return;
    }
    struct response response;
    get(port, "/varz", &response);
    ck_assert_int_eq(response.status, 200);
    ck_assert(contains(response.head, "Content-Type: application/json\r\n"));
    ck_assert(contains(response.head, "Access-Control-Allow-Origin: *\r\n"));
    ck_assert(contains(response.body, "\"server_id\": \"N"));
    ck_assert_int_eq(json_int(response.body, "port"), server.port);
    ck_assert_int_eq(json_int(response.body, "http_port"), port);
    ck_assert_int_eq(json_int(response.body, "max_payload"), 1048576);
    ck_assert_int_eq(json_int(response.body, "ping_interval"), 120000000000LL);
    ck_assert(contains(response.body, "\"http_req_stats\": {\n    \"/varz\": 1\n  }"));
    ck_assert(contains(response.body, "\"start\": \"20"));
    ck_assert(contains(response.body, "\"jetstream\": {},"));
    free(response.body);

    /* /jsz without JetStream: nats-server's page for it, and leader-only refused */
    get(port, "/jsz", &response);
    ck_assert_int_eq(response.status, 200);
    ck_assert(contains(response.body, "\"disabled\": true"));
    ck_assert(contains(response.body,
                       "\"config\": {\n    \"max_memory\": 0,\n    \"max_storage\": 0\n  }"));
    ck_assert_int_eq(json_int(response.body, "accounts"), 0);
    ck_assert_int_eq(json_int(response.body, "total"), 0);
    free(response.body);
    get(port, "/jsz?leader-only=true", &response);
    ck_assert_int_eq(response.status, 400);
    ck_assert_str_eq(response.body, "filtered response: not leader");
    free(response.body);

    get(port, "/healthz", &response);
    ck_assert_int_eq(response.status, 200);
    ck_assert_str_eq(response.body, "{\"status\":\"ok\"}");
    free(response.body);
    get(port, "/healthz?js-enabled-only=true", &response);
    ck_assert_int_eq(response.status, 200);
    free(response.body);
    get(port, "/healthz?js-server-only=maybe", &response);
    ck_assert_int_eq(response.status, 400);
    ck_assert_str_eq(response.body, "Error decoding boolean for 'js-server-only': "
                                    "strconv.ParseBool: parsing \"maybe\": invalid syntax");
    free(response.body);

    static const char *const empty_lists[][2] = {
        {"/routez", "\"routes\": []"},        {"/leafz", "\"leafs\": []"},
        {"/gatewayz", "\"outbound_gateways\": {}"}, {"/accountz", "\"$G\""},
        {"/subsz", "\"num_subscriptions\": "}, {"/connz", "\"connections\": []"},
    };
    for (size_t i = 0; i < sizeof empty_lists / sizeof empty_lists[0]; i++) {
        get(port, empty_lists[i][0], &response);
        ck_assert_msg(response.status == 200, "%s: %d", empty_lists[i][0], response.status);
        ck_assert_msg(contains(response.body, empty_lists[i][1]), "%s: %s", empty_lists[i][0],
                      response.body);
        free(response.body);
    }

    get(port, "/", &response);
    ck_assert_int_eq(response.status, 200);
    ck_assert(contains(response.head, "Content-Type: text/html; charset=utf-8\r\n"));
    ck_assert(contains(response.body, "href=./varz"));
    ck_assert(contains(response.body, "href=./jsz"));
    free(response.body);

    static const char *const missing[] = {"/nope", "/varz/", "/VARZ", "/connz/x"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        get(port, missing[i], &response);
        ck_assert_msg(response.status == 404, "%s: %d", missing[i], response.status);
        ck_assert_str_eq(response.body, "404 page not found\n");
        free(response.body);
    }
    itest_server_stop(&server);
}
END_TEST

/* Clients on every shard show in varz, connz and subsz, with their counts. */
START_TEST(test_monitor_clients_counted)
{
    struct test_server server;
    int port = monitor_start(&server);
    if (port == 0) {
        return;
    }
    int clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        char name[32];
        snprintf(name, sizeof name, "monitored-%d", i);
        clients[i] = client_open(server.port, name);
    }
    struct response response;
    get(port, "/varz", &response);
    ck_assert_int_eq(json_int(response.body, "connections"), CLIENTS);
    /* the harness's probe of the client port counts too, as it would with nats-server */
    ck_assert_int_ge(json_int(response.body, "total_connections"), CLIENTS);
    ck_assert_int_eq(json_int(response.body, "in_msgs"), CLIENTS);
    ck_assert_int_eq(json_int(response.body, "in_bytes"), CLIENTS * 5);
    /* each "foo" publish reaches every subscriber: CLIENTS × CLIENTS deliveries at most, at
     * least the publisher's own echo */
    ck_assert_int_ge(json_int(response.body, "out_msgs"), CLIENTS);
    ck_assert_int_ge(json_int(response.body, "subscriptions"), CLIENTS);
    free(response.body);

    get(port, "/connz?subs=1", &response);
    ck_assert_int_eq(response.status, 200);
    ck_assert_int_eq(json_int(response.body, "num_connections"), CLIENTS);
    ck_assert_int_eq(json_int(response.body, "total"), CLIENTS);
    for (int i = 0; i < CLIENTS; i++) {
        char name[48];
        snprintf(name, sizeof name, "\"name\": \"monitored-%d\"", i);
        ck_assert_msg(contains(response.body, name), "%s missing: %s", name, response.body);
    }
    ck_assert(contains(response.body, "\"subscriptions_list\": [\n        \"foo\"\n      ]"));
    ck_assert(contains(response.body, "\"lang\": \"c\""));
    ck_assert(contains(response.body, "\"kind\": \"Client\""));
    free(response.body);

    /* a page: sorted by cid, the second connection alone */
    get(port, "/connz?limit=1&offset=1", &response);
    ck_assert_int_eq(json_int(response.body, "num_connections"), 1);
    ck_assert_int_eq(json_int(response.body, "total"), CLIENTS);
    ck_assert_int_eq(json_int(response.body, "offset"), 1);
    ck_assert_int_eq(json_int(response.body, "limit"), 1);
    ck_assert(contains(response.body, "\"name\": \"monitored-1\""));
    free(response.body);
    get(port, "/connz?sort=bogus", &response);
    ck_assert_int_eq(response.status, 400);
    ck_assert_str_eq(response.body, "invalid sorting option: bogus");
    free(response.body);
    get(port, "/connz?subs=detail&sort=msgs_from", &response);
    ck_assert_int_eq(response.status, 200);
    ck_assert(contains(response.body, "\"subscriptions_list_detail\": ["));
    ck_assert(contains(response.body, "\"sid\": \"1\""));
    free(response.body);

    get(port, "/subsz?subs=1&test=foo", &response);
    ck_assert_int_eq(response.status, 200);
    ck_assert_int_ge(json_int(response.body, "num_subscriptions"), CLIENTS);
    ck_assert_int_eq(json_int(response.body, "total"), CLIENTS);
    ck_assert(contains(response.body, "\"subject\": \"foo\""));
    free(response.body);

    /* a client that leaves is no longer listed, and its messages stay counted */
    close(clients[0]);
    long deadline = test_now_ms() + WAIT_MS;
    long long connections = -1;
    while (connections != CLIENTS - 1 && test_now_ms() < deadline) {
        get(port, "/varz", &response);
        connections = json_int(response.body, "connections");
        if (connections == CLIENTS - 1) {
            ck_assert_int_eq(json_int(response.body, "in_msgs"), CLIENTS);
            ck_assert_int_ge(json_int(response.body, "total_connections"), CLIENTS);
        }
        free(response.body);
    }
    ck_assert_int_eq(connections, CLIENTS - 1);
    for (int i = 1; i < CLIENTS; i++) {
        close(clients[i]);
    }
    itest_server_stop(&server);
}
END_TEST

/* Two requests on one connection, one after the other and pipelined; Connection: close. */
START_TEST(test_monitor_keep_alive)
{
    struct test_server server;
    int port = monitor_start(&server);
    if (port == 0) {
        return;
    }
    static struct reader reader;
    reader_open(&reader, port);
    struct response response;
    request_send(&reader, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    response_read(&reader, &response);
    ck_assert_int_eq(response.status, 200);
    ck_assert(!contains(response.head, "Connection:"));
    free(response.body);
    request_send(&reader, "GET /varz HTTP/1.1\r\nHost: x\r\n\r\n");
    response_read(&reader, &response);
    ck_assert_int_eq(response.status, 200);
    ck_assert(contains(response.body, "\"server_id\""));
    free(response.body);
    /* pipelined, with a body to skip in between, then a close */
    request_send(&reader, "POST /connz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
                          "GET /subsz HTTP/1.1\r\nHost: x\r\n\r\n"
                          "HEAD /varz HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    response_read(&reader, &response);
    ck_assert(contains(response.body, "\"connections\": []"));
    free(response.body);
    response_read(&reader, &response);
    ck_assert(contains(response.body, "\"num_subscriptions\""));
    free(response.body);
    /* HEAD: the headers alone (Content-Length says what GET would send) */
    char *end = strstr(reader.data, "\r\n\r\n");
    while (end == NULL) {
        ck_assert(reader_fill(&reader, WAIT_MS));
        end = strstr(reader.data, "\r\n\r\n");
    }
    ck_assert(strncmp(reader.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
    memmove(reader.data, end + 4, strlen(end + 4) + 1);
    reader.length = strlen(reader.data);
    response_read(&reader, &response);
    ck_assert_int_eq(response.status, 200);
    ck_assert(contains(response.head, "Connection: close\r\n"));
    ck_assert_str_eq(response.body, "{\"status\":\"ok\"}");
    free(response.body);
    ck_assert(test_wait_closed(reader.fd, NULL, 0, WAIT_MS));
    close(reader.fd);
    /* HTTP/1.0 closes unless asked to keep alive */
    reader_open(&reader, port);
    request_send(&reader, "GET /healthz HTTP/1.0\r\n\r\n");
    response_read(&reader, &response);
    ck_assert(strncmp(response.head, "HTTP/1.0 200 OK\r\n", 17) == 0);
    free(response.body);
    ck_assert(test_wait_closed(reader.fd, NULL, 0, WAIT_MS));
    close(reader.fd);
    /* a client that half-closes after its request still gets the answer, gathered from
     * every shard, then the close */
    reader_open(&reader, port);
    request_send(&reader, "GET /connz HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_eq(shutdown(reader.fd, SHUT_WR), 0);
    response_read(&reader, &response);
    ck_assert_int_eq(response.status, 200);
    ck_assert(contains(response.body, "\"connections\": []"));
    free(response.body);
    ck_assert(test_wait_closed(reader.fd, NULL, 0, WAIT_MS));
    close(reader.fd);
    itest_server_stop(&server);
}
END_TEST

/* What the broker refuses, and how: Go's own answers, then the connection closes. */
START_TEST(test_monitor_refusals)
{
    struct test_server server;
    int port = monitor_start(&server);
    if (port == 0) {
        return;
    }
    static struct reader reader;
    struct response response;
    /* a head longer than the broker reads: 431, closed */
    reader_open(&reader, port);
    static char long_head[HEAD_MAX + 1024];
    int used = snprintf(long_head, sizeof long_head, "GET /varz HTTP/1.1\r\nHost: x\r\nX: ");
    memset(long_head + used, 'a', sizeof long_head - (size_t)used - 1);
    long_head[sizeof long_head - 1] = '\0';
    request_send(&reader, long_head);
    response_read(&reader, &response);
    ck_assert_int_eq(response.status, 431);
    ck_assert(contains(response.head, "Connection: close\r\n"));
    ck_assert_str_eq(response.body, "431 Request Header Fields Too Large");
    free(response.body);
    close(reader.fd);
    static const char *const malformed[][3] = {
        {"garbage\r\n\r\n", "400 Bad Request", NULL},
        {"GET /varz HTTP/1.1\r\n\r\n", "400 Bad Request: missing required Host header", NULL},
        {"GET /varz HTTP/2.0\r\nHost: x\r\n\r\n",
         "505 HTTP Version Not Supported: unsupported protocol version", NULL},
        {"GET /varz HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
         "400 Bad Request: invalid header name", NULL},
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        reader_open(&reader, port);
        request_send(&reader, malformed[i][0]);
        response_read(&reader, &response);
        ck_assert_msg(strcmp(response.body, malformed[i][1]) == 0, "%s: %s", malformed[i][0],
                      response.body);
        free(response.body);
        close(reader.fd);
    }
    /* more pipelined requests than the input buffer holds: each is answered in order, or,
     * where the buffer overflowed, a 431 ends the connection; none is skipped */
    enum { PIPELINED = 600 };
    static const char one[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    static char burst[PIPELINED * (sizeof one - 1) + 1];
    for (int i = 0; i < PIPELINED; i++) {
        memcpy(burst + (size_t)i * (sizeof one - 1), one, sizeof one - 1);
    }
    reader_open(&reader, port);
    request_send(&reader, burst);
    int answered = 0;
    bool refused = false;
    while (answered < PIPELINED && !refused) {
        response_read(&reader, &response);
        refused = response.status == 431;
        ck_assert_msg(refused || response.status == 200, "status %d", response.status);
        answered += !refused;
        free(response.body);
    }
    ck_assert(answered == PIPELINED || (refused && answered > 0));
    close(reader.fd);
    /* connections past the bound get a 503 while the others are served */
    static int held[MONITOR_CONNS_MAX];
    for (int i = 0; i < MONITOR_CONNS_MAX; i++) {
        reader_open(&reader, port);
        held[i] = reader.fd;
        request_send(&reader, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        response_read(&reader, &response);
        ck_assert_int_eq(response.status, 200);
        free(response.body);
    }
    reader_open(&reader, port);
    response_read(&reader, &response);
    ck_assert_int_eq(response.status, 503);
    free(response.body);
    close(reader.fd);
    close(held[0]);
    long deadline = test_now_ms() + WAIT_MS;
    int status = 503;
    while (status == 503 && test_now_ms() < deadline) { /* held[0]'s close takes a turn */
        reader_open(&reader, port);
        request_send(&reader, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        response_read(&reader, &response);
        status = response.status;
        free(response.body);
        close(reader.fd);
    }
    ck_assert_int_eq(status, 200);
    for (int i = 1; i < MONITOR_CONNS_MAX; i++) {
        close(held[i]);
    }
    /* a head that never ends is closed after the head timeout; while the closes above are
     * still being taken, a connection may be refused with a 503 instead, which tests
     * nothing: try again until one is not */
    bool head_timed_out = false;
    deadline = test_now_ms() + WAIT_MS;
    while (!head_timed_out && test_now_ms() < deadline) {
        reader_open(&reader, port);
        request_send(&reader, "GET /varz HTTP/1.1\r\nHost: x\r\n");
        char said[256] = "";
        ck_assert(test_wait_closed(reader.fd, said, sizeof said, HEAD_TIMEOUT_WAIT_MS));
        close(reader.fd);
        head_timed_out = strstr(said, " 503 ") == NULL;
        ck_assert_msg(!head_timed_out || said[0] == '\0', "closed after \"%s\"", said);
    }
    ck_assert_msg(head_timed_out, "every connection refused with a 503 for %d ms", WAIT_MS);
    /* the broker took none of this for a client */
    get(port, "/varz", &response);
    ck_assert_int_eq(json_int(response.body, "connections"), 0);
    ck_assert_int_eq(json_int(response.body, "slow_consumers"), 0);
    free(response.body);
    itest_server_stop(&server);
}
END_TEST

/* Closed connections (nats-server's ring of closed clients): state=closed lists them with
 * stop and reason, their subscriptions and counts as they were; state=all adds the open
 * ones; stop and reason sort only closed ones; --max_closed_clients bounds the ring (0:
 * none kept; 2 on one shard: the oldest goes). Observed alike on nats-server 2.9.10 and 2.15.1 (its default ring). */
START_TEST(test_monitor_closed_connections)
{
    struct test_server server;
    int port = monitor_start(&server);
    if (port == 0) {
        return;
    }
    int gone = client_open(server.port, "gone-one");
    int staying = client_open(server.port, "staying");
    close(gone);
    /* the harness's probe of the client port closed too, before: a closed one of no name */
    struct response response;
    int64_t deadline = itest_now_ms() + WAIT_MS;
    bool listed = false;
    while (!listed && itest_now_ms() < deadline) {
        get(port, "/connz?state=closed&subs=1&sort=stop&limit=1", &response);
        listed = contains(response.body, "\"name\": \"gone-one\"");
        if (!listed) {
            free(response.body);
        }
    }
    ck_assert_msg(listed, "the closed client is not listed");
    ck_assert_int_eq(response.status, 200);
    long long closed_total = json_int(response.body, "total");
    ck_assert_int_ge(closed_total, 1);
    ck_assert(!contains(response.body, "\"name\": \"staying\""));
    /* the raw client closes with a reset (the harness's sockets linger 0): nats-server's
     * "Read Error" for it, "Client Closed" for a clean end */
    ck_assert_msg(contains(response.body, "\"reason\": \"Read Error\"") ||
                      contains(response.body, "\"reason\": \"Client Closed\""),
                  "%s", response.body);
    ck_assert(contains(response.body, "\"stop\": \""));
    ck_assert_int_eq(json_int(response.body, "subscriptions"), 1);
    ck_assert_int_eq(json_int(response.body, "in_msgs"), 1);
    ck_assert(contains(response.body, "\"subscriptions_list\": [\n        \"foo\"\n      ]"));
    free(response.body);
    get(port, "/connz?state=all", &response);
    ck_assert_int_eq(json_int(response.body, "total"), closed_total + 1);
    ck_assert(contains(response.body, "\"name\": \"gone-one\""));
    ck_assert(contains(response.body, "\"name\": \"staying\""));
    free(response.body);
    get(port, "/connz?state=closed&sort=reason", &response);
    ck_assert_int_eq(response.status, 200);
    ck_assert_int_eq(json_int(response.body, "total"), closed_total);
    free(response.body);
    get(port, "/connz?state=all&sort=stop", &response);
    ck_assert_int_eq(response.status, 400);
    ck_assert_str_eq(response.body, "sort by stop only valid on closed connections");
    free(response.body);
    get(port, "/connz?sort=reason", &response);
    ck_assert_int_eq(response.status, 400);
    ck_assert_str_eq(response.body, "sort by reason only valid on closed connections");
    free(response.body);
    close(staying);
    itest_server_stop(&server);

    /* none kept with --max_closed_clients 0 (ionats's flag; nats-server reads the key from
     * its config file only) */
    static const char *const NONE_ARGS[] = {"-m", "-1", "--max_closed_clients", "0", NULL};
    struct test_server_options options = {.extra_args = NONE_ARGS};
    itest_server_start(&server, &options);
    port = itest_monitor_port(&server, WAIT_MS);
    close(client_open(server.port, "forgotten"));
    int probe = client_open(server.port, "probe"); /* its PONG: the close went before */
    get(port, "/connz?state=closed", &response);
    ck_assert_int_eq(json_int(response.body, "total"), 0);
    free(response.body);
    close(probe);
    itest_server_stop(&server);

    /* a ring of 2 on one shard: the oldest closed goes when a third closes */
    static const char *const RING_ARGS[] = {"-m", "-1", "--max_closed_clients", "2",
                                            "--shards", "1", NULL};
    options.extra_args = RING_ARGS;
    itest_server_start(&server, &options);
    port = itest_monitor_port(&server, WAIT_MS);
    static const char *const names[] = {"closed-1", "closed-2", "closed-3"};
    for (size_t i = 0; i < 3; i++) {
        close(client_open(server.port, names[i]));
        char wanted[48];
        snprintf(wanted, sizeof wanted, "\"name\": \"%s\"", names[i]);
        bool seen = false; /* closed in this order: each is in the ring before the next */
        deadline = itest_now_ms() + WAIT_MS;
        while (!seen && itest_now_ms() < deadline) {
            get(port, "/connz?state=closed", &response);
            seen = contains(response.body, wanted);
            free(response.body);
        }
        ck_assert_msg(seen, "%s never listed as closed", names[i]);
    }
    get(port, "/connz?state=closed", &response);
    ck_assert_int_eq(json_int(response.body, "total"), 2);
    ck_assert(!contains(response.body, "\"name\": \"closed-1\""));
    ck_assert(contains(response.body, "\"name\": \"closed-2\""));
    ck_assert(contains(response.body, "\"name\": \"closed-3\""));
    free(response.body);
}
END_TEST

static Suite *monitor_suite(void)
{
    Suite *suite = suite_create("monitor");
    TCase *tc = tcase_create("http");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_monitor_endpoints);
    tcase_add_test(tc, test_monitor_clients_counted);
    tcase_add_test(tc, test_monitor_keep_alive);
    tcase_add_test(tc, test_monitor_refusals);
    tcase_add_test(tc, test_monitor_closed_connections);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return itest_run(monitor_suite());
}
