/* Wire tests of the happy path: INFO, CONNECT options, PUB/SUB/UNSUB/HPUB and the exact
 * MSG/HMSG frames they produce, verbose +OK, pipelining, input split at every byte, and
 * the no-responders status message — checked byte for byte over raw TCP against a real
 * broker process (ionats, or nats-server with IONATS_TEST_SERVER=nats-server).
 *
 * The one idea: a conversation is written out in full and compared exactly; a PING sent
 * last makes the broker's PONG the end of what it owes us on that connection, so "nothing
 * else was sent" is part of every assertion. One broker runs per test case (unchecked
 * fixture, in the parent process), so a failing test cannot leak it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/wire/wire.h"

/* Check's per-test limit; the slowest test here takes well under a second. */
enum { TCASE_TIMEOUT_S = 30 };

/* The reference's default max_payload (1 MiB), advertised in INFO. */
enum { DEFAULT_MAX_PAYLOAD = 1048576 };

static struct test_server server;

static void server_default_start(void)
{
    wire_server_start(&server, NULL);
}

static void server_stop(void)
{
    test_server_stop(&server);
}

/* ---- INFO ---------------------------------------------------------------------------- */

START_TEST(test_info_fields)
{
    char info[WIRE_LINE_MAX];
    int fd = wire_connect(server.port, info, sizeof info);
    json_t *root = wire_info_parse(info);

    json_t *server_id = json_object_get(root, "server_id");
    ck_assert(json_is_string(server_id));
    ck_assert_uint_gt(strlen(json_string_value(server_id)), 0);
    ck_assert(json_is_string(json_object_get(root, "version")));
    ck_assert(json_is_integer(json_object_get(root, "proto")));
    ck_assert_int_eq(json_integer_value(json_object_get(root, "proto")), 1);
    ck_assert(json_is_true(json_object_get(root, "headers")));
    ck_assert(json_is_integer(json_object_get(root, "max_payload")));
    ck_assert_int_eq(json_integer_value(json_object_get(root, "max_payload")),
                     DEFAULT_MAX_PAYLOAD);
    ck_assert(json_is_integer(json_object_get(root, "client_id")));
    ck_assert(json_is_string(json_object_get(root, "host")));
    ck_assert(json_is_integer(json_object_get(root, "port")));
    ck_assert_int_eq(json_integer_value(json_object_get(root, "port")), server.port);
    /* no auth configured: absent or false, never true */
    json_t *auth = json_object_get(root, "auth_required");
    ck_assert(auth == NULL || json_is_false(auth));
    json_decref(root);

    /* a second client gets a different client_id */
    char info2[WIRE_LINE_MAX];
    int fd2 = wire_connect(server.port, info2, sizeof info2);
    json_t *a = wire_info_parse(info);
    json_t *b = wire_info_parse(info2);
    ck_assert_int_ne(json_integer_value(json_object_get(a, "client_id")),
                     json_integer_value(json_object_get(b, "client_id")));
    ck_assert_str_eq(json_string_value(json_object_get(a, "server_id")),
                     json_string_value(json_object_get(b, "server_id")));
    json_decref(a);
    json_decref(b);
    wire_close(fd);
    wire_close(fd2);
}
END_TEST

/* ---- CONNECT ------------------------------------------------------------------------- */

START_TEST(test_connect_bare_is_verbose)
{
    int fd = wire_open(server.port, "{}");
    wire_expect(fd, "+OK\r\n");
    wire_expect_open(fd); /* PING gets PONG and no +OK */
    wire_close(fd);
}
END_TEST

START_TEST(test_connect_quiet)
{
    int fd = wire_open(server.port, "{\"verbose\":false}");
    wire_send(fd, "PING\r\n");
    wire_expect(fd, "PONG\r\n");
    wire_expect_silence(fd, 50);
    wire_close(fd);
}
END_TEST

/* Without auth a client may skip CONNECT: the defaults (verbose) apply. */
START_TEST(test_ops_before_connect_use_defaults)
{
    int fd = wire_connect(server.port, NULL, 0);
    wire_send(fd, "PING\r\n");
    wire_expect(fd, "PONG\r\n");
    wire_send(fd, "SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n");
    wire_expect(fd, "+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

/* A later CONNECT replaces the options of the first. */
START_TEST(test_connect_twice)
{
    int fd = wire_open(server.port, "{\"verbose\":false}");
    wire_send(fd, "CONNECT {\"verbose\":true}\r\nPING\r\n");
    wire_expect(fd, "+OK\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

START_TEST(test_connect_protocol_0_and_1)
{
    int fd0 = wire_open(server.port, "{\"verbose\":false,\"protocol\":0}");
    wire_expect_open(fd0);
    int fd1 = wire_open(server.port, "{\"verbose\":false,\"protocol\":1}");
    wire_expect_open(fd1);
    wire_close(fd0);
    wire_close(fd1);
}
END_TEST

START_TEST(test_ops_case_insensitive)
{
    int fd = wire_open(server.port, "{\"verbose\":false}");
    wire_send(fd, "sub foo 1\r\nPuB foo 2\r\nhi\r\nping\r\n");
    wire_expect(fd, "MSG foo 1 2\r\nhi\r\nPONG\r\n");
    wire_close(fd);
    fd = wire_open(server.port, "{\"verbose\":false,\"headers\":true}");
    wire_send(fd, "sUb foo 1\r\nhPuB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nuNsUb 1\r\n"
                  "pub foo 0\r\n\r\nPiNg\r\n");
    wire_expect(fd, "HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n");
    wire_send(fd, "pong\r\nPONG\r\n");
    wire_expect_open(fd);
    wire_close(fd);
}
END_TEST

START_TEST(test_control_lines_end_in_lf)
{
    int fd = wire_connect(server.port, NULL, 0);
    wire_send(fd, "CONNECT {\"verbose\":false}\nsub foo 1\nPUB foo 2\nhi\r\nping\n");
    wire_expect(fd, "MSG foo 1 2\r\nhi\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

/* Fields split on runs of spaces and tabs; trailing blanks are ignored. */
START_TEST(test_fields_split_on_blanks)
{
    int fd = wire_open(server.port, "{\"verbose\":false}");
    wire_send(fd, "SUB\tfoo \t 1\r\nPUB   foo\t\tbar  2  \r\nhi\r\nPING \r\n");
    wire_expect(fd, "MSG foo 1 bar 2\r\nhi\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

/* ---- PUB / SUB / MSG ----------------------------------------------------------------- */

START_TEST(test_msg_frame)
{
    int fd = wire_open_quiet(server.port);
    wire_send(fd, "SUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 5\r\nhello\r\nPONG\r\n");
    wire_send(fd, "PUB foo bar 5\r\nhello\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 bar 5\r\nhello\r\nPONG\r\n");
    /* empty payload, and a payload holding CRLF: the size decides, not the bytes */
    wire_send(fd, "PUB foo 0\r\n\r\nPUB foo 4\r\na\r\nb\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 0\r\n\r\nMSG foo 1 4\r\na\r\nb\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

START_TEST(test_msg_to_other_connection)
{
    int sub = wire_open_quiet(server.port);
    wire_send(sub, "SUB foo.* 9\r\nSUB foo.> 10\r\nSUB > 11\r\nSUB foo.bar.baz 12\r\nPING\r\n");
    wire_expect(sub, "PONG\r\n");
    int pub = wire_open_quiet(server.port);
    wire_send(pub, "PUB foo.bar.baz rep.ly 3\r\nabc\r\nPING\r\n");
    wire_expect(pub, "PONG\r\n");
    /* each matching subscription gets its own frame; order between sids is the broker's */
    char got[1024];
    const char *frames[] = {
        "MSG foo.bar.baz 10 rep.ly 3\r\nabc\r\n",
        "MSG foo.bar.baz 11 rep.ly 3\r\nabc\r\n",
        "MSG foo.bar.baz 12 rep.ly 3\r\nabc\r\n",
    };
    size_t total = 0;
    for (size_t i = 0; i < 3; i++) {
        total += strlen(frames[i]);
    }
    long n = test_read_exact(sub, got, total, WIRE_WAIT_MS);
    ck_assert_int_eq(n, (long)total);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_msg(strstr(got, frames[i]) != NULL, "missing %zu in %s", i, got);
    }
    wire_expect_open(sub);
    wire_close(pub);
    wire_close(sub);
}
END_TEST

/* Counts occurrences of `needle` in `text`. */
static int count_of(const char *text, const char *needle)
{
    int count = 0;
    for (const char *at = strstr(text, needle); at != NULL; at = strstr(at + 1, needle)) {
        count++;
    }
    return count;
}

START_TEST(test_queue_sub)
{
    enum { PUB_COUNT = 20 };
    int fd = wire_open_quiet(server.port);
    wire_send(fd, "SUB foo q 1\r\nSUB foo q 2\r\nSUB foo 3\r\n");
    char out[4096] = "";
    for (int i = 0; i < PUB_COUNT; i++) {
        strcat(out, "PUB foo 1\r\nx\r\n");
    }
    strcat(out, "PING\r\n");
    wire_send(fd, out);
    /* 2 * PUB_COUNT frames of 15 bytes, then PONG */
    size_t frame = strlen("MSG foo 1 1\r\nx\r\n");
    size_t total = 2 * PUB_COUNT * frame + strlen("PONG\r\n");
    long n = test_read_exact(fd, out, total, WIRE_WAIT_MS);
    ck_assert_int_eq(n, (long)total);
    ck_assert_str_eq(out + total - 6, "PONG\r\n");
    int q1 = count_of(out, "MSG foo 1 1\r\nx\r\n");
    int q2 = count_of(out, "MSG foo 2 1\r\nx\r\n");
    int plain = count_of(out, "MSG foo 3 1\r\nx\r\n");
    ck_assert_int_eq(plain, PUB_COUNT);
    ck_assert_int_eq(q1 + q2, PUB_COUNT);
    wire_expect_open(fd);
    wire_close(fd);
}
END_TEST

START_TEST(test_unsub)
{
    int fd = wire_open_quiet(server.port);
    wire_send(fd, "SUB foo 1\r\nSUB foo 2\r\nUNSUB 1\r\nPUB foo 1\r\nx\r\nPING\r\n");
    wire_expect(fd, "MSG foo 2 1\r\nx\r\nPONG\r\n");
    /* unknown sid: no error */
    wire_send(fd, "UNSUB 99\r\nUNSUB 1\r\nPING\r\n");
    wire_expect(fd, "PONG\r\n");
    wire_close(fd);
}
END_TEST

START_TEST(test_unsub_max)
{
    int fd = wire_open_quiet(server.port);
    wire_send(fd, "SUB foo 1\r\nUNSUB 1 3\r\n");
    wire_send(fd, "PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nPUB foo 1\r\nd\r\n"
                  "PUB foo 1\r\ne\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nMSG foo 1 1\r\nc\r\nPONG\r\n");
    /* the sid is gone for good: a new SUB may reuse it */
    wire_send(fd, "PUB foo 1\r\nf\r\nSUB foo 1\r\nPUB foo 1\r\ng\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 1\r\ng\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

/* max at or below what was already delivered removes the subscription at once. */
START_TEST(test_unsub_max_already_reached)
{
    int fd = wire_open_quiet(server.port);
    wire_send(fd, "SUB foo 1\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nUNSUB 1 2\r\n"
                  "PUB foo 1\r\nc\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nPONG\r\n");
    wire_send(fd, "SUB bar 2\r\nUNSUB 2 0\r\nPUB bar 1\r\nx\r\nPING\r\n");
    wire_expect(fd, "PONG\r\n");
    wire_close(fd);
}
END_TEST

/* A second UNSUB with max replaces the first limit. */
START_TEST(test_unsub_max_replaced)
{
    int fd = wire_open_quiet(server.port);
    wire_send(fd, "SUB foo 1\r\nUNSUB 1 2\r\nUNSUB 1 4\r\n");
    wire_send(fd, "PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nPUB foo 1\r\nd\r\n"
                  "PUB foo 1\r\ne\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nMSG foo 1 1\r\nc\r\n"
                    "MSG foo 1 1\r\nd\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

/* nats-server reads a max that is not a number as "no max": the UNSUB removes at once. */
START_TEST(test_unsub_max_not_a_number)
{
    int fd = wire_open_quiet(server.port);
    wire_send(fd, "SUB foo 1\r\nUNSUB 1 x\r\nPUB foo 1\r\na\r\nPING\r\n");
    wire_expect(fd, "PONG\r\n");
    wire_close(fd);
}
END_TEST

START_TEST(test_resub_same_sid_ignored)
{
    int fd = wire_open_quiet(server.port);
    wire_send(fd, "SUB foo 1\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 1\r\nx\r\nPONG\r\n");
    /* even with another subject: the first stays, the second is dropped */
    wire_send(fd, "SUB bar 1\r\nPUB bar 1\r\ny\r\nPUB foo 1\r\nz\r\nPING\r\n");
    wire_expect(fd, "MSG foo 1 1\r\nz\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

START_TEST(test_echo_false)
{
    int fd = wire_open(server.port, "{\"verbose\":false,\"echo\":false}");
    int other = wire_open_quiet(server.port);
    wire_send(other, "SUB foo 2\r\nPING\r\n");
    wire_expect(other, "PONG\r\n");
    wire_send(fd, "SUB foo 1\r\nPUB foo 1\r\nx\r\nPING\r\n");
    wire_expect(fd, "PONG\r\n");
    wire_expect(other, "MSG foo 2 1\r\nx\r\n");
    wire_close(fd);
    wire_close(other);
}
END_TEST

/* ---- headers ------------------------------------------------------------------------- */

/* "NATS/1.0\r\nA: b\r\nC: d\r\n\r\n" is 24 bytes; with "hi" 26. */
#define HEADER_BLOCK "NATS/1.0\r\nA: b\r\nC: d\r\n\r\n"

START_TEST(test_hpub_hmsg)
{
    int fd = wire_open(server.port, "{\"verbose\":false,\"headers\":true}");
    wire_send(fd, "SUB foo 7\r\nHPUB foo 24 26\r\n" HEADER_BLOCK "hi\r\nPING\r\n");
    wire_expect(fd, "HMSG foo 7 24 26\r\n" HEADER_BLOCK "hi\r\nPONG\r\n");
    wire_send(fd, "HPUB foo rep 24 24\r\n" HEADER_BLOCK "\r\nPING\r\n");
    wire_expect(fd, "HMSG foo 7 rep 24 24\r\n" HEADER_BLOCK "\r\nPONG\r\n");
    /* the minimal block */
    wire_send(fd, "HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n");
    wire_expect(fd, "HMSG foo 7 12 12\r\nNATS/1.0\r\n\r\n\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

/* A subscriber that did not negotiate headers gets MSG with the header block cut off. */
START_TEST(test_hmsg_stripped_for_old_clients)
{
    int plain_false = wire_open(server.port, "{\"verbose\":false,\"headers\":false}");
    int plain_absent = wire_open(server.port, "{\"verbose\":false}");
    int modern = wire_open(server.port, "{\"verbose\":false,\"headers\":true}");
    wire_send(plain_false, "SUB foo 1\r\nPING\r\n");
    wire_send(plain_absent, "SUB foo 2\r\nPING\r\n");
    wire_send(modern, "SUB foo 3\r\nPING\r\n");
    wire_expect(plain_false, "PONG\r\n");
    wire_expect(plain_absent, "PONG\r\n");
    wire_expect(modern, "PONG\r\n");
    wire_send(modern, "HPUB foo rep 24 26\r\n" HEADER_BLOCK "hi\r\n"
                      "HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n");
    wire_expect(modern, "HMSG foo 3 rep 24 26\r\n" HEADER_BLOCK "hi\r\n"
                        "HMSG foo 3 12 12\r\nNATS/1.0\r\n\r\n\r\nPONG\r\n");
    wire_expect(plain_false, "MSG foo 1 rep 2\r\nhi\r\nMSG foo 1 0\r\n\r\n");
    wire_expect(plain_absent, "MSG foo 2 rep 2\r\nhi\r\nMSG foo 2 0\r\n\r\n");
    wire_expect_open(plain_false);
    wire_expect_open(plain_absent);
    /* and a PUB reaches a headers client as a plain MSG */
    wire_send(plain_absent, "PUB foo 2\r\nok\r\nPING\r\n");
    wire_expect(plain_absent, "MSG foo 2 2\r\nok\r\nPONG\r\n");
    wire_expect(modern, "MSG foo 3 2\r\nok\r\n");
    wire_close(plain_false);
    wire_close(plain_absent);
    wire_close(modern);
}
END_TEST

/* ---- verbose ------------------------------------------------------------------------- */

START_TEST(test_verbose_ok)
{
    int fd = wire_open(server.port, "{\"verbose\":true,\"headers\":true}");
    wire_expect(fd, "+OK\r\n");
    wire_send(fd, "SUB foo 1\r\n");
    wire_expect(fd, "+OK\r\n");
    /* the +OK for a PUB comes before the message it delivers to the same client */
    wire_send(fd, "PUB foo 2\r\nhi\r\n");
    wire_expect(fd, "+OK\r\nMSG foo 1 2\r\nhi\r\n");
    wire_send(fd, "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    wire_expect(fd, "+OK\r\nHMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    wire_send(fd, "UNSUB 1\r\n");
    wire_expect(fd, "+OK\r\n");
    wire_send(fd, "UNSUB 42\r\n"); /* unknown sid: still +OK */
    wire_expect(fd, "+OK\r\n");
    wire_send(fd, "PUB foo 0\r\n\r\n");
    wire_expect(fd, "+OK\r\n");
    /* PING gets PONG only, PONG gets nothing */
    wire_send(fd, "PING\r\nPONG\r\nPING\r\n");
    wire_expect(fd, "PONG\r\nPONG\r\n");
    wire_expect_silence(fd, 50);
    wire_close(fd);
}
END_TEST

START_TEST(test_verbose_pipelined)
{
    int fd = wire_open(server.port, "{}");
    wire_send(fd, "SUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\nPING\r\n");
    wire_expect(fd, "+OK\r\n+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\n+OK\r\nPONG\r\n");
    wire_close(fd);
}
END_TEST

/* ---- pipelining ---------------------------------------------------------------------- */

enum { PIPELINE_COUNT = 1000 };

START_TEST(test_pipeline_1000_pubs)
{
    /* "PUB foo 4\r\nNNNN\r\n" is 17 bytes, "MSG foo 1 4\r\nNNNN\r\n" 19 */
    size_t in_size = PIPELINE_COUNT * 17 + 64;
    size_t out_size = PIPELINE_COUNT * 19 + 64;
    char *in = malloc(in_size);
    char *want = malloc(out_size);
    char *other_want = malloc(out_size);
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(want);
    ck_assert_ptr_nonnull(other_want);
    size_t in_used = (size_t)snprintf(in, in_size, "SUB foo 1\r\n");
    size_t want_used = 0;
    size_t other_used = 0;
    for (int i = 0; i < PIPELINE_COUNT; i++) {
        in_used += (size_t)snprintf(in + in_used, in_size - in_used, "PUB foo 4\r\n%04d\r\n", i);
        want_used += (size_t)snprintf(want + want_used, out_size - want_used,
                                      "MSG foo 1 4\r\n%04d\r\n", i);
        other_used += (size_t)snprintf(other_want + other_used, out_size - other_used,
                                       "MSG foo 5 4\r\n%04d\r\n", i);
    }
    in_used += (size_t)snprintf(in + in_used, in_size - in_used, "PING\r\n");
    want_used += (size_t)snprintf(want + want_used, out_size - want_used, "PONG\r\n");

    int other = wire_open_quiet(server.port);
    wire_send(other, "SUB foo 5\r\nPING\r\n");
    wire_expect(other, "PONG\r\n");
    int fd = wire_open_quiet(server.port);
    wire_send_bytes(fd, in, in_used); /* one write */
    wire_expect_bytes(fd, want, want_used, WIRE_WAIT_MS);
    wire_expect_bytes(other, other_want, other_used, WIRE_WAIT_MS);
    wire_expect_open(other);
    free(in);
    free(want);
    free(other_want);
    wire_close(fd);
    wire_close(other);
}
END_TEST

/* ---- split input --------------------------------------------------------------------- */

/* Every op kind, both line endings, a header block and a payload holding CRLF. */
static const char SPLIT_INPUT[] =
    "CONNECT {\"verbose\":false,\"headers\":true}\r\n"
    "SUB foo 1\r\n"
    "sub bar 2\n"
    "PUB foo bar 5\r\nhello\r\n"
    "HPUB foo 24 26\r\n" HEADER_BLOCK "hi\r\n"
    "pub bar 4\na\r\nb\r\n"
    "UNSUB 1\r\n"
    "PUB foo 2\r\nno\r\n"
    "PING\r\n";

static const char SPLIT_OUTPUT[] = "MSG foo 1 bar 5\r\nhello\r\n"
                                   "HMSG foo 1 24 26\r\n" HEADER_BLOCK "hi\r\n"
                                   "MSG bar 2 4\r\na\r\nb\r\n"
                                   "PONG\r\n";

/* Pause between sends so each lands in its own read at the broker (TCP_NODELAY is on). */
enum { SPLIT_PAUSE_US = 200 };

START_TEST(test_split_byte_by_byte)
{
    int fd = wire_connect(server.port, NULL, 0);
    size_t length = strlen(SPLIT_INPUT);
    for (size_t i = 0; i < length; i++) {
        wire_send_bytes(fd, SPLIT_INPUT + i, 1);
        usleep(SPLIT_PAUSE_US);
    }
    wire_expect(fd, SPLIT_OUTPUT);
    wire_expect_open(fd);
    wire_close(fd);
}
END_TEST

START_TEST(test_split_every_position)
{
    size_t length = strlen(SPLIT_INPUT);
    for (size_t split = 1; split < length; split++) {
        int fd = wire_connect(server.port, NULL, 0);
        wire_send_bytes(fd, SPLIT_INPUT, split);
        usleep(SPLIT_PAUSE_US * 5);
        wire_send_bytes(fd, SPLIT_INPUT + split, length - split);
        char got[sizeof SPLIT_OUTPUT];
        long n = test_read_exact(fd, got, strlen(SPLIT_OUTPUT), WIRE_WAIT_MS);
        char escaped[1024];
        ck_assert_msg(n == (long)strlen(SPLIT_OUTPUT) && strcmp(got, SPLIT_OUTPUT) == 0,
                      "split at %zu: got \"%s\"", split,
                      wire_escape(got, n > 0 ? (size_t)n : 0, escaped, sizeof escaped));
        wire_close(fd);
    }
}
END_TEST

/* ---- no responders ------------------------------------------------------------------- */

#define NO_RESPONDERS_CONNECT "{\"verbose\":false,\"headers\":true,\"no_responders\":true}"

START_TEST(test_no_responders_frame)
{
    int fd = wire_open(server.port, NO_RESPONDERS_CONNECT);
    wire_send(fd, "SUB _INBOX.x 1\r\nPUB nobody _INBOX.x 0\r\n\r\nPING\r\n");
    wire_expect(fd, "HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n");
    /* the request's payload and headers do not show in the status message */
    wire_send(fd, "PUB nobody _INBOX.x 2\r\nhi\r\nHPUB nobody _INBOX.x 12 14\r\nNATS/1.0\r\n"
                  "\r\nhi\r\nPING\r\n");
    wire_expect(fd, "HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
                    "HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n");
    /* a wildcard subscription on the reply gets it with the reply as its subject */
    wire_send(fd, "SUB _INBOX.y.> 2\r\nPUB nobody _INBOX.y.z 0\r\n\r\nPING\r\n");
    wire_expect(fd, "HMSG _INBOX.y.z 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\nPONG\r\n");
    /* no subscription on the reply: nothing */
    wire_send(fd, "PUB nobody _INBOX.none 0\r\n\r\nPING\r\n");
    wire_expect(fd, "PONG\r\n");
    /* no reply subject: nothing */
    wire_send(fd, "PUB nobody 0\r\n\r\nPING\r\n");
    wire_expect(fd, "PONG\r\n");
    wire_close(fd);
}
END_TEST

START_TEST(test_no_responders_needs_flag)
{
    int fd = wire_open(server.port, "{\"verbose\":false,\"headers\":true}");
    wire_send(fd, "SUB _INBOX.x 1\r\nPUB nobody _INBOX.x 0\r\n\r\nPING\r\n");
    wire_expect(fd, "PONG\r\n");
    wire_close(fd);
}
END_TEST

START_TEST(test_no_responders_not_when_answered)
{
    int responder = wire_open_quiet(server.port);
    wire_send(responder, "SUB service 1\r\nPING\r\n");
    wire_expect(responder, "PONG\r\n");
    int fd = wire_open(server.port, NO_RESPONDERS_CONNECT);
    wire_send(fd, "SUB _INBOX.x 1\r\nPUB service _INBOX.x 2\r\nhi\r\nPING\r\n");
    wire_expect(fd, "PONG\r\n");
    wire_expect(responder, "MSG service 1 _INBOX.x 2\r\nhi\r\n");
    wire_send(responder, "PUB _INBOX.x 3\r\nack\r\n");
    wire_expect(fd, "MSG _INBOX.x 1 3\r\nack\r\n");
    wire_expect_open(fd);
    wire_close(fd);
    wire_close(responder);
}
END_TEST

/* ---- suite --------------------------------------------------------------------------- */

static TCase *tcase_new(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, TCASE_TIMEOUT_S);
    tcase_add_unchecked_fixture(tc, server_default_start, server_stop);
    return tc;
}

static Suite *wire_proto_suite(void)
{
    Suite *s = suite_create("wire_proto");

    TCase *tc = tcase_new("info");
    tcase_add_test(tc, test_info_fields);
    suite_add_tcase(s, tc);

    tc = tcase_new("connect");
    tcase_add_test(tc, test_connect_bare_is_verbose);
    tcase_add_test(tc, test_connect_quiet);
    tcase_add_test(tc, test_ops_before_connect_use_defaults);
    tcase_add_test(tc, test_connect_twice);
    tcase_add_test(tc, test_connect_protocol_0_and_1);
    tcase_add_test(tc, test_ops_case_insensitive);
    tcase_add_test(tc, test_control_lines_end_in_lf);
    tcase_add_test(tc, test_fields_split_on_blanks);
    suite_add_tcase(s, tc);

    tc = tcase_new("pubsub");
    tcase_add_test(tc, test_msg_frame);
    tcase_add_test(tc, test_msg_to_other_connection);
    tcase_add_test(tc, test_queue_sub);
    tcase_add_test(tc, test_unsub);
    tcase_add_test(tc, test_unsub_max);
    tcase_add_test(tc, test_unsub_max_already_reached);
    tcase_add_test(tc, test_unsub_max_replaced);
    tcase_add_test(tc, test_unsub_max_not_a_number);
    tcase_add_test(tc, test_resub_same_sid_ignored);
    tcase_add_test(tc, test_echo_false);
    suite_add_tcase(s, tc);

    tc = tcase_new("headers");
    tcase_add_test(tc, test_hpub_hmsg);
    tcase_add_test(tc, test_hmsg_stripped_for_old_clients);
    suite_add_tcase(s, tc);

    tc = tcase_new("verbose");
    tcase_add_test(tc, test_verbose_ok);
    tcase_add_test(tc, test_verbose_pipelined);
    suite_add_tcase(s, tc);

    tc = tcase_new("pipeline");
    tcase_add_test(tc, test_pipeline_1000_pubs);
    suite_add_tcase(s, tc);

    tc = tcase_new("split");
    tcase_add_test(tc, test_split_byte_by_byte);
    tcase_add_test(tc, test_split_every_position);
    suite_add_tcase(s, tc);

    tc = tcase_new("no_responders");
    tcase_add_test(tc, test_no_responders_frame);
    tcase_add_test(tc, test_no_responders_needs_flag);
    tcase_add_test(tc, test_no_responders_not_when_answered);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(wire_proto_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
