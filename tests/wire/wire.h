/* Raw-socket helpers for the wire suites: each one reads or writes the exact bytes of the
 * NATS client protocol and fails the running Check test, with both sides printed escaped,
 * the moment the broker's bytes differ from what the reference nats-server sends.
 *
 * The one idea: reads never go past the frame under test (test_read_exact, test_read_line),
 * so a test states the whole conversation in order and an extra or missing byte anywhere
 * fails it. "The connection stays open" is proved by PING → exactly PONG; "it closes" by
 * EOF with no further byte. Every wait is bounded by WIRE_WAIT_MS. */
#ifndef IONATS_TESTS_WIRE_WIRE_H
#define IONATS_TESTS_WIRE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <jansson.h>

#include "tests/harness/server.h"

/* How long any single expectation waits: generous for a loaded machine, short enough that a
 * suite full of failures still ends in minutes. */
enum { WIRE_WAIT_MS = 2000 };

/* The INFO line can carry a nonce and long ids; 4 KiB is the reference's control line. */
enum { WIRE_LINE_MAX = 4096 };

/* Starts a broker with `options` (NULL: defaults) or fails the test. */
void wire_server_start(struct test_server *server, const struct test_server_options *options);

/* Connects and reads the greeting INFO line into `info` (may be NULL) without sending
 * anything. Fails unless the line starts "INFO {" and ends "} \r\n". */
int wire_connect(int port, char *info, size_t info_size);

/* Parses the JSON of an INFO line read by wire_connect; fails the test unless it is an
 * object. The caller json_decref()s it. */
json_t *wire_info_parse(const char *info_line);

/* wire_connect, then "CONNECT <connect_json>\r\n" (nothing when connect_json is NULL). */
int wire_open(int port, const char *connect_json);

/* wire_open with {"verbose":false}, then PING and the PONG: a quiet, registered client. */
int wire_open_quiet(int port);

/* The expectations below are macros that pass the caller's file and line, so a failure
 * names the line of the test, not of this file: "test_wire_errors.c:120: expected …". */

/* Sends bytes (fails the test when the send fails). */
#define wire_send(fd, text) wire_send_at(__FILE__, __LINE__, (fd), (text), strlen(text))
#define wire_send_bytes(fd, data, length) wire_send_at(__FILE__, __LINE__, (fd), (data), (length))

/* Reads exactly strlen(expected) bytes and fails unless they equal `expected`. */
#define wire_expect(fd, expected)                                                             \
    wire_expect_at(__FILE__, __LINE__, (fd), (expected), strlen(expected), WIRE_WAIT_MS)
#define wire_expect_bytes(fd, expected, length, timeout_ms)                                   \
    wire_expect_at(__FILE__, __LINE__, (fd), (expected), (length), (timeout_ms))

/* PING, then exactly "PONG\r\n": the connection is open and nothing else was pending. */
#define wire_expect_open(fd) wire_expect_open_at(__FILE__, __LINE__, (fd))

/* The peer closes within WIRE_WAIT_MS and sends nothing more before it does. */
#define wire_expect_closed(fd) wire_expect_closed_at(__FILE__, __LINE__, (fd))

/* "-ERR '<text>'\r\n" then close / then still open (PING → PONG). */
#define wire_expect_error_closed(fd, text)                                                    \
    wire_expect_error_at(__FILE__, __LINE__, (fd), (text), true)
#define wire_expect_error_open(fd, text)                                                      \
    wire_expect_error_at(__FILE__, __LINE__, (fd), (text), false)

/* Nothing arrives for `quiet_ms` (the connection may not close either). */
#define wire_expect_silence(fd, quiet_ms)                                                     \
    wire_expect_silence_at(__FILE__, __LINE__, (fd), (quiet_ms))

void wire_send_at(const char *file, int line, int fd, const void *data, size_t length);
void wire_expect_at(const char *file, int line, int fd, const void *expected, size_t length,
                    int timeout_ms);
void wire_expect_open_at(const char *file, int line, int fd);
void wire_expect_closed_at(const char *file, int line, int fd);
void wire_expect_error_at(const char *file, int line, int fd, const char *text, bool closes);
void wire_expect_silence_at(const char *file, int line, int fd, int quiet_ms);

/* Closes `fd`. */
void wire_close(int fd);

/* Milliseconds on the monotonic clock. */
long wire_now_ms(void);

/* Writes `data` into `out` with \r, \n, \t and non-printable bytes escaped, truncated to fit.
 * Returns `out`. */
const char *wire_escape(const void *data, size_t length, char *out, size_t out_size);

#endif
