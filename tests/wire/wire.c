/* Raw-socket helpers for the wire suites (see wire.h). They fail the running Check test
 * themselves, so a test body reads as the conversation it checks. Single-threaded, used by
 * the forked test process. */
#include "tests/wire/wire.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Room for an escaped frame in a failure message; longer frames are cut. */
enum { ESCAPED_MAX = 2048 };

long wire_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

const char *wire_escape(const void *data, size_t length, char *out, size_t out_size)
{
    const unsigned char *bytes = data;
    size_t used = 0;
    for (size_t i = 0; i < length && used + 5 < out_size; i++) {
        unsigned char b = bytes[i];
        if (b == '\r') {
            used += (size_t)snprintf(out + used, out_size - used, "\\r");
        } else if (b == '\n') {
            used += (size_t)snprintf(out + used, out_size - used, "\\n");
        } else if (b == '\t') {
            used += (size_t)snprintf(out + used, out_size - used, "\\t");
        } else if (b < 0x20 || b >= 0x7f) {
            used += (size_t)snprintf(out + used, out_size - used, "\\x%02x", b);
        } else {
            out[used++] = (char)b;
        }
    }
    out[used < out_size ? used : out_size - 1] = '\0';
    return out;
}

void wire_server_start(struct test_server *server, const struct test_server_options *options)
{
    int rc = test_server_start(server, options);
    ck_assert_msg(rc == 0, "broker did not start: %s (log %s)", strerror(-rc), server->log_path);
}

int wire_connect(int port, char *info, size_t info_size)
{
    char line[WIRE_LINE_MAX];
    int fd = test_connect_raw(port);
    ck_assert_msg(fd >= 0, "connect to port %d: %s", port, strerror(-fd));
    long length = test_read_line(fd, line, sizeof line, WIRE_WAIT_MS);
    char escaped[ESCAPED_MAX];
    ck_assert_msg(length > 0, "no INFO line: %s, got \"%s\"", strerror((int)-length),
                  wire_escape(line, strlen(line), escaped, sizeof escaped));
    ck_assert_msg(strncmp(line, "INFO {", 6) == 0, "greeting is not INFO: \"%s\"",
                  wire_escape(line, (size_t)length, escaped, sizeof escaped));
    ck_assert_msg(length >= 10 && strcmp(line + length - 4, "} \r\n") == 0,
                  "INFO does not end in \"} \\r\\n\": \"%s\"",
                  wire_escape(line, (size_t)length, escaped, sizeof escaped));
    if (info != NULL) {
        ck_assert_uint_gt(info_size, (size_t)length);
        memcpy(info, line, (size_t)length + 1);
    }
    return fd;
}

json_t *wire_info_parse(const char *info_line)
{
    /* "INFO " + JSON + " \r\n", as wire_connect checked */
    static const size_t prefix = 5;
    static const size_t suffix = 3;
    size_t length = strlen(info_line);
    ck_assert_uint_gt(length, prefix + suffix);
    json_error_t error;
    json_t *root = json_loadb(info_line + prefix, length - prefix - suffix, 0, &error);
    ck_assert_msg(root != NULL, "INFO is not JSON (%s): %s", error.text, info_line);
    ck_assert_msg(json_is_object(root), "INFO is not a JSON object: %s", info_line);
    return root;
}

int wire_open(int port, const char *connect_json)
{
    int fd = wire_connect(port, NULL, 0);
    if (connect_json != NULL) {
        char line[WIRE_LINE_MAX];
        int n = snprintf(line, sizeof line, "CONNECT %s\r\n", connect_json);
        ck_assert(n > 0 && (size_t)n < sizeof line);
        wire_send(fd, line);
    }
    return fd;
}

int wire_open_quiet(int port)
{
    int fd = wire_open(port, "{\"verbose\":false}");
    wire_expect_open(fd);
    return fd;
}

/* The base name of a __FILE__ path, for short failure messages. */
static const char *base_name(const char *file)
{
    const char *slash = strrchr(file, '/');
    return slash != NULL ? slash + 1 : file;
}

void wire_send_at(const char *file, int line, int fd, const void *data, size_t length)
{
    int rc = test_send_all(fd, data, length);
    ck_assert_msg(rc == 0, "%s:%d: send of %zu bytes failed: %s", base_name(file), line, length,
                  strerror(-rc));
}

void wire_expect_at(const char *file, int line, int fd, const void *expected, size_t length,
                    int timeout_ms)
{
    char *got = malloc(length + 1);
    ck_assert_ptr_nonnull(got);
    long n = test_read_exact(fd, got, length, timeout_ms);
    if (n != (long)length || memcmp(got, expected, length) != 0) {
        char want_text[ESCAPED_MAX];
        char got_text[ESCAPED_MAX];
        wire_escape(expected, length, want_text, sizeof want_text);
        wire_escape(got, (size_t)n, got_text, sizeof got_text);
        free(got);
        ck_abort_msg("%s:%d: expected %zu bytes \"%s\", got %ld bytes \"%s\"%s", base_name(file),
                     line, length, want_text, n, got_text,
                     n < (long)length ? " (then timeout or close)" : "");
    }
    free(got);
}

void wire_expect_open_at(const char *file, int line, int fd)
{
    wire_send_at(file, line, fd, "PING\r\n", 6);
    wire_expect_at(file, line, fd, "PONG\r\n", 6, WIRE_WAIT_MS);
}

void wire_expect_closed_at(const char *file, int line, int fd)
{
    char rest[ESCAPED_MAX / 4] = "";
    bool closed = test_wait_closed(fd, rest, sizeof rest, WIRE_WAIT_MS);
    char escaped[ESCAPED_MAX];
    ck_assert_msg(closed, "%s:%d: connection still open after %d ms (read \"%s\")",
                  base_name(file), line, WIRE_WAIT_MS,
                  wire_escape(rest, strlen(rest), escaped, sizeof escaped));
    ck_assert_msg(rest[0] == '\0', "%s:%d: unexpected bytes before the close: \"%s\"",
                  base_name(file), line, wire_escape(rest, strlen(rest), escaped, sizeof escaped));
}

void wire_expect_error_at(const char *file, int line, int fd, const char *text, bool closes)
{
    char frame[WIRE_LINE_MAX];
    int n = snprintf(frame, sizeof frame, "-ERR '%s'\r\n", text);
    ck_assert(n > 0 && (size_t)n < sizeof frame);
    wire_expect_at(file, line, fd, frame, (size_t)n, WIRE_WAIT_MS);
    if (closes) {
        wire_expect_closed_at(file, line, fd);
    } else {
        wire_expect_open_at(file, line, fd);
    }
}

void wire_expect_silence_at(const char *file, int line, int fd, int quiet_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    long deadline = wire_now_ms() + quiet_ms;
    for (;;) {
        long left = deadline - wire_now_ms();
        if (left <= 0) {
            return;
        }
        int rc = poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc != 0) {
            char got[256] = "";
            ssize_t n = recv(fd, got, sizeof got - 1, MSG_PEEK | MSG_DONTWAIT);
            char escaped[ESCAPED_MAX];
            ck_abort_msg("%s:%d: expected silence for %d ms, got %s\"%s\"", base_name(file), line,
                         quiet_ms, n == 0 ? "a close " : "",
                         wire_escape(got, n > 0 ? (size_t)n : 0, escaped, sizeof escaped));
        }
    }
}

void wire_close(int fd)
{
    if (fd >= 0) {
        close(fd);
    }
}
