/* Wire tests of the error paths: every protocol violation and limit, with the exact
 * "-ERR '…'\r\n" text nats-server 2.9.10 sends (or its silence), and whether the
 * connection then closes or carries on — checked over raw TCP against a real broker
 * process (ionats, or nats-server with IONATS_TEST_SERVER=nats-server).
 *
 * The one idea: each error is followed by the proof of what comes next — EOF with no further
 * byte for a fatal one, PING → exactly PONG for one the client survives. Each test case
 * runs its own broker with the limit under test set small (max_payload 16, control line
 * 256, two connections, 200 ms pings, 500 ms auth timeout), started in the parent process
 * by an unchecked fixture so a failing test cannot leak it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/wire/wire.h"

/* Check's per-test limit; the slowest test here takes about two seconds. */
enum { TCASE_TIMEOUT_S = 30 };

static struct test_server server;

static void server_stop(void)
{
    test_server_stop(&server);
}

#define QUIET "{\"verbose\":false}"
#define QUIET_HEADERS "{\"verbose\":false,\"headers\":true}"

/* Opens a client (CONNECT with `connect_json` unless NULL), sends `input`, and expects
 * "-ERR '<text>'" then the close — or, with `text` NULL, the close without one byte of
 * reply: how nats-server ends a connection on a malformed argument list. */
static void expect_fatal_at(const char *file, int line, const char *connect_json,
                            const char *input, const char *text)
{
    int fd = wire_open(server.port, connect_json);
    wire_send_at(file, line, fd, input, strlen(input));
    if (text != NULL) {
        wire_expect_error_at(file, line, fd, text, true);
    } else {
        wire_expect_closed_at(file, line, fd);
    }
    wire_close(fd);
}

#define expect_fatal(connect_json, input, text)                                               \
    expect_fatal_at(__FILE__, __LINE__, (connect_json), (input), (text))
#define expect_silent_close(connect_json, input)                                              \
    expect_fatal_at(__FILE__, __LINE__, (connect_json), (input), NULL)

/* Input that keeps arriving, in separate segments, after a fatal error and before the
 * close is not processed: exactly one -ERR, then the close. */
static void expect_one_fatal_at(const char *file, int line, const char *connect_json,
                                const char *input, const char *text)
{
    enum { TRAILING_SENDS = 64 };
    int fd = wire_open(server.port, connect_json);
    if (input[0] != '\0') {
        wire_send_at(file, line, fd, input, strlen(input));
    }
    for (int i = 0; i < TRAILING_SENDS; i++) {
        /* the broker may close at any point: a failed send ends the burst */
        if (send(fd, "PING\r\n", 6, MSG_NOSIGNAL) != 6) {
            break;
        }
    }
    wire_expect_error_at(file, line, fd, text, true);
    wire_close(fd);
}

/* ---- default broker: parse errors ---------------------------------------------------- */

static void server_default_start(void)
{
    wire_server_start(&server, NULL);
}

START_TEST(test_parse_error_ends_input)
{
    expect_one_fatal_at(__FILE__, __LINE__, QUIET, "FOO\r\n", "Unknown Protocol Operation");
}
END_TEST

START_TEST(test_unknown_op)
{
    expect_fatal(QUIET, "FOO\r\n", "Unknown Protocol Operation");
    /* without CONNECT first, the same */
    int fd = wire_connect(server.port, NULL, 0);
    wire_send(fd, "FOO\r\n");
    wire_expect_error_closed(fd, "Unknown Protocol Operation");
    wire_close(fd);
    /* server-to-client ops sent by a client are unknown too */
    expect_fatal(QUIET, "MSG foo 1 2\r\nhi\r\n", "Unknown Protocol Operation");
    /* an empty line, a line starting with a blank */
    expect_fatal(QUIET, "\r\n", "Unknown Protocol Operation");
    expect_fatal(QUIET, " PING\r\n", "Unknown Protocol Operation");
    /* a known op with no blank and no arguments */
    expect_fatal(QUIET, "PUB\r\n", "Unknown Protocol Operation");
    expect_fatal(QUIET, "SUB\r\n", "Unknown Protocol Operation");
    expect_fatal(QUIET, "UNSUB\r\n", "Unknown Protocol Operation");
    expect_fatal(QUIET_HEADERS, "HPUB\r\n", "Unknown Protocol Operation");
}
END_TEST

START_TEST(test_payload_without_crlf)
{
    /* too long for its size */
    expect_fatal(QUIET, "SUB foo 1\r\nPUB foo 2\r\nhiXX\r\nPING\r\n", "Unknown Protocol Operation");
    /* LF alone after a payload */
    expect_fatal(QUIET, "SUB foo 1\r\nPUB foo 2\r\nhi\nPING\r\n", "Unknown Protocol Operation");
    /* CR then something else */
    expect_fatal(QUIET, "SUB foo 1\r\nPUB foo 2\r\nhi\r\rPING\r\n", "Unknown Protocol Operation");
    /* one extra CRLF: the payload ends at its size, the empty line after it is an op */
    expect_fatal(QUIET, "SUB foo 1\r\nPUB foo 3\r\nhi\r\n\r\nPING\r\n",
                 "Unknown Protocol Operation");
    /* the same for HPUB */
    expect_fatal(QUIET_HEADERS, "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhiXX\r\n",
                 "Unknown Protocol Operation");
}
END_TEST

/* Wrong argument counts and sizes that are not numbers: closed, no -ERR. */
START_TEST(test_bad_arguments_close_silently)
{
    expect_silent_close(QUIET, "PUB foo\r\nPING\r\n");
    expect_silent_close(QUIET, "PUB \r\nPING\r\n");
    expect_silent_close(QUIET, "PUB foo bar baz 3\r\nPING\r\n");
    expect_silent_close(QUIET, "PUB foo x\r\nPING\r\n");
    expect_silent_close(QUIET, "PUB foo bar\r\nPING\r\n");
    expect_silent_close(QUIET, "PUB foo 2x\r\nhi\r\nPING\r\n");
    expect_silent_close(QUIET, "PUB foo -1\r\nPING\r\n");
    expect_silent_close(QUIET, "SUB foo\r\nPING\r\n");
    expect_silent_close(QUIET, "SUB \r\nPING\r\n");
    expect_silent_close(QUIET, "SUB foo q 1 2\r\nPING\r\n");
    expect_silent_close(QUIET, "UNSUB \r\nPING\r\n");
    expect_silent_close(QUIET, "UNSUB 1 2 3\r\nPING\r\n");
    expect_silent_close(QUIET_HEADERS, "HPUB foo 2\r\nPING\r\n");
    expect_silent_close(QUIET_HEADERS, "HPUB foo 12 14 3\r\nPING\r\n");
    expect_silent_close(QUIET_HEADERS, "HPUB foo x 14\r\nPING\r\n");
    /* header size larger than the total */
    expect_silent_close(QUIET_HEADERS, "HPUB foo 12 10\r\nPING\r\n");
}
END_TEST

/* A client that did not send headers:true may not HPUB: closed, no -ERR. */
START_TEST(test_hpub_without_headers)
{
    expect_silent_close(QUIET, "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n");
    expect_silent_close("{\"verbose\":false,\"headers\":false}",
                        "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n");
    /* verbose: the CONNECT's +OK, then the close */
    int fd = wire_open(server.port, "{}");
    wire_send(fd, "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n");
    wire_expect(fd, "+OK\r\n");
    wire_expect_closed(fd);
    wire_close(fd);
}
END_TEST

START_TEST(test_invalid_subject_keeps_connection)
{
    static const char *const subjects[] = {"foo..bar", ".foo", "foo.", "foo.>.bar", ">.foo"};
    int fd = wire_open_quiet(server.port);
    for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "SUB %s 1\r\n", subjects[i]);
        wire_send(fd, line);
        wire_expect_error_open(fd, "Invalid Subject");
    }
    /* the failed SUB did not take the sid */
    wire_send(fd, "SUB foo 1\r\nPUB foo 1\r\nx\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 1\r\nx\r\nPONG\r\n");
    wire_close(fd);
    /* verbose: the -ERR replaces the +OK */
    fd = wire_open(server.port, "{\"verbose\":true}");
    wire_send(fd, "SUB foo..bar 1\r\nPING\r\n");
    wire_expect(fd, "+OK\r\n-ERR 'Invalid Subject'\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

/* pedantic (the default when CONNECT leaves it out) checks publish subjects; the -ERR does
 * not stop a wildcard-looking subject from being delivered to a matching subscription. */
START_TEST(test_pedantic_publish_subject)
{
    int fd = wire_open(server.port, "{\"verbose\":false,\"pedantic\":true}");
    wire_send(fd, "SUB foo.* 1\r\nPUB foo.* 2\r\nhi\r\n");
    wire_expect(fd, "-ERR 'Invalid Publish Subject'\r\nMSG foo.* 1 2\r\nhi\r\n");
    wire_expect_open(fd);
    wire_send(fd, "PUB foo.> 2\r\nhi\r\n");
    wire_expect(fd, "-ERR 'Invalid Publish Subject'\r\nMSG foo.> 1 2\r\nhi\r\n");
    /* an empty token: -ERR and no delivery (it matches nothing) */
    wire_send(fd, "SUB > 2\r\nPUB foo..bar 2\r\nhi\r\n");
    wire_expect_error_open(fd, "Invalid Publish Subject");
    /* '*' inside a token is a literal */
    wire_send(fd, "UNSUB 1\r\nPUB foo.b*r 2\r\nhi\r\nPING\r\n");
    wire_expect(fd, "MSG foo.b*r 2 2\r\nhi\r\nPONG\r\n");
    wire_close(fd);

    /* verbose: -ERR on the PUB line, +OK after the payload */
    fd = wire_open(server.port, "{}");
    wire_send(fd, "PUB foo.* 2\r\nhi\r\nPING\r\n");
    wire_expect(fd, "+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

START_TEST(test_not_pedantic_publish_subject)
{
    int fd = wire_open(server.port, "{\"verbose\":false,\"pedantic\":false}");
    wire_send(fd, "SUB foo.* 1\r\nPUB foo.* 2\r\nhi\r\nPING\r\n");
    wire_expect(fd, "MSG foo.* 1 2\r\nhi\r\nPONG\r\n");
    /* an invalid subject is not reported, and matches nothing */
    wire_send(fd, "SUB > 2\r\nPUB foo..bar 2\r\nhi\r\nPING\r\n");
    wire_expect(fd, "PONG\r\n");
    wire_close(fd);
}
END_TEST

/* Reply subjects reserved for the server's own use are refused; the connection stays. */
START_TEST(test_reserved_reply)
{
    static const char *const replies[] = {"_R_.x", "$JS.ACK.a", "_GR_.y"};
    int fd = wire_open_quiet(server.port);
    wire_send(fd, "SUB foo 1\r\n");
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "PUB foo %s 2\r\nhi\r\n", replies[i]);
        wire_send(fd, line);
        snprintf(line, sizeof line, "Permissions Violation for Publish with Reply of \"%s\"",
                 replies[i]);
        wire_expect_error_open(fd, line); /* and not delivered */
    }
    wire_send(fd, "PUB foo _RR.x 2\r\nhi\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 _RR.x 2\r\nhi\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

START_TEST(test_connect_invalid_protocol)
{
    expect_fatal("{\"verbose\":false,\"protocol\":2}", "PING\r\n", "invalid client protocol");
    expect_fatal("{\"verbose\":false,\"protocol\":-1}", "PING\r\n", "invalid client protocol");
}
END_TEST

START_TEST(test_connect_no_responders_without_headers)
{
    expect_fatal("{\"verbose\":false,\"no_responders\":true}", "PING\r\n",
                 "no responders requires headers support");
    expect_fatal("{\"verbose\":false,\"no_responders\":true,\"headers\":false}", "PING\r\n",
                 "no responders requires headers support");
}
END_TEST

/* CONNECT whose argument is not a JSON object of the right types: closed, no -ERR. */
START_TEST(test_connect_bad_json)
{
    expect_silent_close("{bad json", "PING\r\n");
    expect_silent_close("{}x", "PING\r\n");
    expect_silent_close("[]", "PING\r\n");
    expect_silent_close("{\"verbose\":\"yes\"}", "PING\r\n");
    int fd = wire_connect(server.port, NULL, 0);
    wire_send(fd, "CONNECT\r\nPING\r\n");
    wire_expect_closed(fd);
    wire_close(fd);
}
END_TEST

/* A client sending -ERR is closed, silently. */
START_TEST(test_client_err_closes)
{
    expect_silent_close(QUIET, "-ERR 'x'\r\nPING\r\n");
}
END_TEST

/* ---- default broker: the default payload limit --------------------------------------- */

START_TEST(test_default_max_payload)
{
    int fd = wire_open_quiet(server.port);
    wire_send(fd, "PUB foo 1048577\r\n");
    wire_expect_error_closed(fd, "Maximum Payload Violation");
    wire_close(fd);
}
END_TEST

/* ---- max_payload 16 ------------------------------------------------------------------ */

enum { SMALL_MAX_PAYLOAD = 16 };

static void server_small_payload_start(void)
{
    struct test_server_options options = {.max_payload = SMALL_MAX_PAYLOAD};
    wire_server_start(&server, &options);
}

START_TEST(test_max_payload_in_info)
{
    char info[WIRE_LINE_MAX];
    int fd = wire_connect(server.port, info, sizeof info);
    json_t *root = wire_info_parse(info);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "max_payload")), SMALL_MAX_PAYLOAD);
    json_decref(root);
    wire_close(fd);
}
END_TEST

START_TEST(test_max_payload_exact_accepted)
{
    int fd = wire_open(server.port, QUIET_HEADERS);
    wire_send(fd, "SUB foo 1\r\nPUB foo 16\r\n0123456789abcdef\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 16\r\n0123456789abcdef\r\nPONG\r\n");
    /* for HPUB the total (header + payload) counts */
    wire_send(fd, "HPUB foo 12 16\r\nNATS/1.0\r\n\r\nabcd\r\nPING\r\n");
    wire_expect(fd, "HMSG foo 1 12 16\r\nNATS/1.0\r\n\r\nabcd\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

/* Checked on the control line: the -ERR comes before any payload is sent. */
START_TEST(test_max_payload_exceeded)
{
    expect_fatal(QUIET, "SUB foo 1\r\nPUB foo 17\r\n", "Maximum Payload Violation");
    expect_fatal(QUIET, "PUB foo 17\r\n0123456789abcdefg\r\nPING\r\n",
                 "Maximum Payload Violation");
    expect_fatal(QUIET, "PUB foo reply 17\r\n", "Maximum Payload Violation");
    expect_fatal(QUIET_HEADERS, "HPUB foo 12 17\r\n", "Maximum Payload Violation");
    /* verbose: CONNECT and SUB got their +OK first */
    int fd = wire_open(server.port, "{\"verbose\":true}");
    wire_send(fd, "SUB foo 1\r\nPUB foo 17\r\n");
    wire_expect(fd, "+OK\r\n+OK\r\n");
    wire_expect_error_closed(fd, "Maximum Payload Violation");
    wire_close(fd);
}
END_TEST

/* ---- max_control_line 256 ------------------------------------------------------------ */

/* nats-server measures the arguments: the bytes after the op and its blanks, up to the
 * CR or LF. Up to max_control_line passes, one more fails. */
enum { SMALL_CONTROL_LINE = 256 };

static void server_small_control_line_start(void)
{
    struct test_server_options options = {.max_control_line = SMALL_CONTROL_LINE};
    wire_server_start(&server, &options);
}

/* Writes "<op> " + arguments of exactly `args_length` bytes ending in `tail` + `eol`. */
static void control_line(char *out, size_t size, const char *op, size_t args_length,
                         const char *tail, const char *eol)
{
    size_t used = (size_t)snprintf(out, size, "%s ", op);
    size_t pad = args_length - strlen(tail);
    ck_assert_uint_lt(used + pad + strlen(tail) + strlen(eol), size);
    memset(out + used, 'a', pad);
    used += pad;
    snprintf(out + used, size - used, "%s%s", tail, eol);
}

START_TEST(test_control_line_limit_boundary)
{
    char line[2 * SMALL_CONTROL_LINE];
    static const char *const eols[] = {"\r\n", "\n"};
    for (size_t e = 0; e < 2; e++) {
        /* SUB <subject> 1 */
        int fd = wire_open_quiet(server.port);
        control_line(line, sizeof line, "SUB", SMALL_CONTROL_LINE, " 1", eols[e]);
        wire_send(fd, line);
        wire_expect_open(fd);
        control_line(line, sizeof line, "SUB", SMALL_CONTROL_LINE + 1, " 2", eols[e]);
        wire_send(fd, line);
        wire_expect_error_closed(fd, "maximum control line exceeded");
        wire_close(fd);
    }
    /* PUB <subject> 0 */
    int fd = wire_open_quiet(server.port);
    control_line(line, sizeof line, "PUB", SMALL_CONTROL_LINE, " 0", "\r\n\r\n");
    wire_send(fd, line);
    wire_expect_open(fd);
    control_line(line, sizeof line, "PUB", SMALL_CONTROL_LINE + 1, " 0", "\r\n\r\n");
    wire_send(fd, line);
    wire_expect_error_closed(fd, "maximum control line exceeded");
    wire_close(fd);
    /* UNSUB <sid> (digits: an unknown sid is no error) */
    fd = wire_open_quiet(server.port);
    control_line(line, sizeof line, "UNSUB", SMALL_CONTROL_LINE, "1", "\r\n");
    memset(line + 6, '1', SMALL_CONTROL_LINE);
    wire_send(fd, line);
    wire_expect_open(fd);
    control_line(line, sizeof line, "UNSUB", SMALL_CONTROL_LINE + 1, "1", "\r\n");
    memset(line + 6, '1', SMALL_CONTROL_LINE + 1);
    wire_send(fd, line);
    wire_expect_error_closed(fd, "maximum control line exceeded");
    wire_close(fd);
}
END_TEST

/* A line still without its end is cut as soon as it is too long: no waiting for the LF. */
START_TEST(test_control_line_unterminated)
{
    char line[4 * SMALL_CONTROL_LINE];
    control_line(line, sizeof line, "SUB", 2 * SMALL_CONTROL_LINE, "a", "");
    expect_fatal(QUIET, line, "maximum control line exceeded");
    control_line(line, sizeof line, "PUB", 2 * SMALL_CONTROL_LINE, "a", "");
    expect_fatal(QUIET, line, "maximum control line exceeded");
}
END_TEST

/* CONNECT's JSON is held to the same limit. */
START_TEST(test_control_line_connect)
{
    char json[2 * SMALL_CONTROL_LINE];
    static const char prefix[] = "{\"verbose\":false,\"name\":\"";
    for (size_t length = SMALL_CONTROL_LINE; length <= SMALL_CONTROL_LINE + 1; length++) {
        size_t pad = length - strlen(prefix) - 2;
        memcpy(json, prefix, strlen(prefix));
        memset(json + strlen(prefix), 'n', pad);
        snprintf(json + strlen(prefix) + pad, sizeof json - strlen(prefix) - pad, "\"}");
        ck_assert_uint_eq(strlen(json), length);
        int fd = wire_open(server.port, json);
        if (length <= SMALL_CONTROL_LINE) {
            wire_expect_open(fd);
        } else {
            wire_expect_error_closed(fd, "maximum control line exceeded");
        }
        wire_close(fd);
    }
}
END_TEST

/* ---- user/password auth -------------------------------------------------------------- */

static void server_user_start(void)
{
    struct test_server_options options = {.user = "u", .pass = "p"};
    wire_server_start(&server, &options);
}

START_TEST(test_auth_info)
{
    char info[WIRE_LINE_MAX];
    int fd = wire_connect(server.port, info, sizeof info);
    json_t *root = wire_info_parse(info);
    ck_assert(json_is_true(json_object_get(root, "auth_required")));
    json_decref(root);
    wire_close(fd);
}
END_TEST

START_TEST(test_auth_good_credentials)
{
    int fd = wire_open(server.port, "{\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}");
    wire_send(fd, "SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 2\r\nhi\r\nPONG\r\n");
    wire_close(fd);
    /* verbose gets its +OK after a successful CONNECT */
    fd = wire_open(server.port, "{\"user\":\"u\",\"pass\":\"p\"}");
    wire_expect(fd, "+OK\r\n");
    wire_expect_open(fd);
    wire_close(fd);
}
END_TEST

START_TEST(test_auth_bad_credentials)
{
    expect_fatal("{\"verbose\":false,\"user\":\"u\",\"pass\":\"x\"}", "PING\r\n",
                 "Authorization Violation");
    expect_fatal("{\"verbose\":false,\"user\":\"x\",\"pass\":\"p\"}", "PING\r\n",
                 "Authorization Violation");
    expect_fatal(QUIET, "PING\r\n", "Authorization Violation");
    /* verbose: no +OK before the violation */
    expect_fatal("{\"user\":\"u\",\"pass\":\"x\"}", "PING\r\n", "Authorization Violation");
}
END_TEST

START_TEST(test_fatal_error_ends_input)
{
    expect_one_fatal_at(__FILE__, __LINE__, "{\"verbose\":false,\"user\":\"u\",\"pass\":\"x\"}",
                        "", "Authorization Violation");
    expect_one_fatal_at(__FILE__, __LINE__, NULL, "PING\r\n", "Authorization Violation");
}
END_TEST

/* Any op before CONNECT is a violation, even one the parser does not know. */
START_TEST(test_auth_ops_before_connect)
{
    static const char *const inputs[] = {"PING\r\n", "SUB foo 1\r\n", "PUB foo 2\r\nhi\r\n",
                                         "UNSUB 1\r\n", "FOO\r\n"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        expect_fatal(NULL, inputs[i], "Authorization Violation");
    }
}
END_TEST

/* ---- token auth ---------------------------------------------------------------------- */

static void server_token_start(void)
{
    struct test_server_options options = {.token = "s3cret"};
    wire_server_start(&server, &options);
}

START_TEST(test_token_auth)
{
    int fd = wire_open(server.port, "{\"verbose\":false,\"auth_token\":\"s3cret\"}");
    wire_expect_open(fd);
    wire_close(fd);
    expect_fatal("{\"verbose\":false,\"auth_token\":\"x\"}", "PING\r\n",
                 "Authorization Violation");
    expect_fatal(QUIET, "PING\r\n", "Authorization Violation");
}
END_TEST

/* ---- auth timeout 500 ms ------------------------------------------------------------- */

enum { AUTH_TIMEOUT_MS = 500, AUTH_TIMEOUT_EARLY_MS = 300 };

static void server_auth_timeout_start(void)
{
    struct test_server_options options = {.user = "u", .pass = "p", .auth_timeout = "500ms"};
    wire_server_start(&server, &options);
}

START_TEST(test_auth_timeout)
{
    long start_ms = wire_now_ms();
    int fd = wire_connect(server.port, NULL, 0);
    wire_expect_error_closed(fd, "Authentication Timeout");
    long elapsed_ms = wire_now_ms() - start_ms;
    ck_assert_msg(elapsed_ms >= AUTH_TIMEOUT_EARLY_MS, "timed out after only %ld ms",
                  elapsed_ms);
    wire_close(fd);
}
END_TEST

/* A client that authenticated in time outlives the timeout. */
START_TEST(test_auth_timeout_not_after_connect)
{
    int fd = wire_open(server.port, "{\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}");
    wire_expect_open(fd);
    wire_expect_silence(fd, AUTH_TIMEOUT_MS + 300);
    wire_expect_open(fd);
    wire_close(fd);
}
END_TEST

/* ---- max_connections 2 --------------------------------------------------------------- */

enum { CONNECTIONS_MAX = 2, CONNECT_RETRY_COUNT = 40, CONNECT_RETRY_MS = 50 };

static void server_two_connections_start(void)
{
    struct test_server_options options = {.max_connections = CONNECTIONS_MAX};
    wire_server_start(&server, &options);
}

/* A registered client. The harness's readiness probe may still hold a slot for a moment
 * after the start, so a refusal here is retried (bounded). */
static int open_counted(void)
{
    for (int attempt = 0; attempt < CONNECT_RETRY_COUNT; attempt++) {
        int fd = wire_connect(server.port, NULL, 0);
        /* a refused connection may be closed before this send: no assertion on it */
        static const char hello[] = "CONNECT " QUIET "\r\nPING\r\n";
        char reply[64];
        if (test_send_all(fd, hello, strlen(hello)) == 0 &&
            test_read_exact(fd, reply, 6, WIRE_WAIT_MS) == 6 &&
            strcmp(reply, "PONG\r\n") == 0) {
            return fd;
        }
        wire_close(fd);
        usleep(CONNECT_RETRY_MS * 1000);
    }
    ck_abort_msg("no connection accepted in %d attempts", CONNECT_RETRY_COUNT);
    return -1;
}

START_TEST(test_max_connections)
{
    int a = open_counted();
    int b = open_counted();
    /* the third gets INFO, then the -ERR, then the close */
    int c = wire_connect(server.port, NULL, 0);
    wire_expect_error_closed(c, "maximum connections exceeded");
    wire_close(c);
    /* the others are unharmed; closing one frees a slot */
    wire_expect_open(a);
    wire_expect_open(b);
    wire_close(a);
    int d = open_counted();
    wire_expect_open(d);
    wire_close(b);
    wire_close(d);
}
END_TEST

/* ---- pings every 200 ms, 2 outstanding at most --------------------------------------- */

enum {
    PING_INTERVAL_MS = 200,
    PING_MAX = 2,
    KEEPALIVE_MS = 1500,
    /* at least this many server PINGs in KEEPALIVE_MS (7 at 200 ms; room for a slow box) */
    KEEPALIVE_PINGS_MIN = 2,
};

static void server_fast_ping_start(void)
{
    struct test_server_options options = {.ping_interval = "200ms", .ping_max = PING_MAX};
    wire_server_start(&server, &options);
}

/* A client that never answers: ping_max PINGs, then the -ERR at the next tick. */
static void expect_stale(int fd)
{
    for (int i = 0; i < PING_MAX; i++) {
        wire_expect(fd, "PING\r\n");
    }
    wire_expect_error_closed(fd, "Stale Connection");
}

START_TEST(test_stale_connection)
{
    long start_ms = wire_now_ms();
    int fd = wire_open(server.port, QUIET);
    expect_stale(fd);
    long elapsed_ms = wire_now_ms() - start_ms;
    ck_assert_msg(elapsed_ms >= PING_MAX * PING_INTERVAL_MS / 2, "stale after only %ld ms",
                  elapsed_ms);
    wire_close(fd);
}
END_TEST

/* The same for a client that never even sent CONNECT. */
START_TEST(test_stale_connection_before_connect)
{
    int fd = wire_connect(server.port, NULL, 0);
    expect_stale(fd);
    wire_close(fd);
}
END_TEST

START_TEST(test_pong_keeps_connection)
{
    int fd = wire_open(server.port, QUIET);
    long deadline = wire_now_ms() + KEEPALIVE_MS;
    int pings = 0;
    char frame[8];
    for (long left = KEEPALIVE_MS; left > 0; left = deadline - wire_now_ms()) {
        long n = test_read_exact(fd, frame, 6, (int)left);
        if (n == 0) {
            break; /* quiet until the deadline */
        }
        ck_assert_msg(n == 6 && strcmp(frame, "PING\r\n") == 0, "unexpected \"%s\"", frame);
        pings++;
        wire_send(fd, "PONG\r\n");
    }
    ck_assert_int_ge(pings, KEEPALIVE_PINGS_MIN);
    /* still open: our PING is answered (a server PING may come first) */
    wire_send(fd, "PING\r\n");
    for (int i = 0; i < 2 * PING_MAX + 1; i++) {
        long n = test_read_exact(fd, frame, 6, WIRE_WAIT_MS);
        ck_assert_int_eq(n, 6);
        if (strcmp(frame, "PONG\r\n") == 0) {
            break;
        }
        ck_assert_str_eq(frame, "PING\r\n");
        wire_send(fd, "PONG\r\n");
    }
    ck_assert_str_eq(frame, "PONG\r\n");
    wire_close(fd);
}
END_TEST

/* ---- suite --------------------------------------------------------------------------- */

static TCase *tcase_new(const char *name, void (*start)(void))
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, TCASE_TIMEOUT_S);
    tcase_add_unchecked_fixture(tc, start, server_stop);
    return tc;
}

static Suite *wire_errors_suite(void)
{
    Suite *s = suite_create("wire_errors");

    TCase *tc = tcase_new("parse", server_default_start);
    tcase_add_test(tc, test_unknown_op);
    tcase_add_test(tc, test_parse_error_ends_input);
    tcase_add_test(tc, test_payload_without_crlf);
    tcase_add_test(tc, test_bad_arguments_close_silently);
    tcase_add_test(tc, test_hpub_without_headers);
    tcase_add_test(tc, test_invalid_subject_keeps_connection);
    tcase_add_test(tc, test_pedantic_publish_subject);
    tcase_add_test(tc, test_not_pedantic_publish_subject);
    tcase_add_test(tc, test_reserved_reply);
    tcase_add_test(tc, test_connect_invalid_protocol);
    tcase_add_test(tc, test_connect_no_responders_without_headers);
    tcase_add_test(tc, test_connect_bad_json);
    tcase_add_test(tc, test_client_err_closes);
    tcase_add_test(tc, test_default_max_payload);
    suite_add_tcase(s, tc);

    tc = tcase_new("max_payload", server_small_payload_start);
    tcase_add_test(tc, test_max_payload_in_info);
    tcase_add_test(tc, test_max_payload_exact_accepted);
    tcase_add_test(tc, test_max_payload_exceeded);
    suite_add_tcase(s, tc);

    tc = tcase_new("max_control_line", server_small_control_line_start);
    tcase_add_test(tc, test_control_line_limit_boundary);
    tcase_add_test(tc, test_control_line_unterminated);
    tcase_add_test(tc, test_control_line_connect);
    suite_add_tcase(s, tc);

    tc = tcase_new("auth_user", server_user_start);
    tcase_add_test(tc, test_auth_info);
    tcase_add_test(tc, test_auth_good_credentials);
    tcase_add_test(tc, test_auth_bad_credentials);
    tcase_add_test(tc, test_auth_ops_before_connect);
    tcase_add_test(tc, test_fatal_error_ends_input);
    suite_add_tcase(s, tc);

    tc = tcase_new("auth_token", server_token_start);
    tcase_add_test(tc, test_token_auth);
    suite_add_tcase(s, tc);

    tc = tcase_new("auth_timeout", server_auth_timeout_start);
    tcase_add_test(tc, test_auth_timeout);
    tcase_add_test(tc, test_auth_timeout_not_after_connect);
    suite_add_tcase(s, tc);

    tc = tcase_new("max_connections", server_two_connections_start);
    tcase_add_test(tc, test_max_connections);
    suite_add_tcase(s, tc);

    tc = tcase_new("pings", server_fast_ping_start);
    tcase_add_test(tc, test_stale_connection);
    tcase_add_test(tc, test_stale_connection_before_connect);
    tcase_add_test(tc, test_pong_keeps_connection);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(wire_errors_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
