/* Unit tests for the protocol parser: every op, every error, and every split of a sample
 * stream, byte by byte included, yielding exactly the ops of the unsplit stream.
 *
 * Ops are rendered to text ("PUB|subject|reply|payload") so a whole stream's result is one
 * string to compare. Each received chunk is a fresh heap copy, so a slice that points past
 * its chunk is caught by ASan. */
#include "proto/parser.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CONTROL_LINE_MAX = 256, PAYLOAD_MAX = 1024, RENDER_SIZE = 1 << 16 };

static const char *kind_name(enum proto_op_kind kind)
{
    static const char *const names[] = {"NONE", "CONNECT", "PUB", "HPUB", "SUB", "UNSUB", "PING",
                                        "PONG", "INFO", "MSG", "HMSG", "OK", "ERR",
                                        "LS+", "LS-", "LMSG", "HLMSG"};
    return names[kind];
}

static void render_op(char *out, size_t size, const struct proto_op *op)
{
    size_t used = strlen(out);
    snprintf(out + used, size - used, "%s|%.*s|%.*s|%.*s|%.*s|%.*s|%u|%llu|%.*s\n",
             kind_name(op->kind), (int)op->subject.length, op->subject.data,
             (int)op->reply.length, op->reply.data, (int)op->queue.length, op->queue.data,
             (int)op->sid.length, op->sid.data, (int)op->text.length, op->text.data,
             op->header_length, (unsigned long long)op->max_msgs, (int)op->payload.length,
             op->payload.data);
}

/* Feeds `stream` cut at `cuts` (ascending offsets) and renders every op into `out`.
 * Returns the parser's last negative result, or 0 when all input was consumed. */
static int parse_cut(enum parser_role role, const char *stream, size_t length, const size_t *cuts,
                     size_t cut_count, char *out)
{
    struct parser parser;
    parser_init(&parser, role, CONTROL_LINE_MAX, PAYLOAD_MAX);
    out[0] = '\0';
    size_t start = 0;
    int result = 0;
    for (size_t piece = 0; piece <= cut_count && result == 0; piece++) {
        size_t stop = piece < cut_count ? cuts[piece] : length;
        size_t chunk = stop - start;
        char *copy = malloc(chunk ? chunk : 1);
        memcpy(copy, stream + start, chunk);
        const char *cursor = copy;
        struct proto_op op;
        int rc;
        while ((rc = parser_next(&parser, &cursor, copy + chunk, &op)) == 1) {
            render_op(out, RENDER_SIZE, &op);
        }
        if (rc < 0) {
            result = rc;
        } else {
            ck_assert_ptr_eq(cursor, copy + chunk);
        }
        free(copy);
        start = stop;
    }
    parser_destroy(&parser);
    return result;
}

static int parse_whole(enum parser_role role, const char *stream, char *out)
{
    return parse_cut(role, stream, strlen(stream), NULL, 0, out);
}

static char rendered[RENDER_SIZE];
static char rendered_split[RENDER_SIZE];

START_TEST(test_pub_forms)
{
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER,
                                 "PUB foo 5\r\nhello\r\n"
                                 "PUB foo.bar _INBOX.1 0\r\n\r\n"
                                 "pub\tx  \t 2\nhi\r\n",
                                 rendered),
                     0);
    ck_assert_str_eq(rendered, "PUB|foo|||||0|0|hello\n"
                               "PUB|foo.bar|_INBOX.1||||0|0|\n"
                               "PUB|x|||||0|0|hi\n");
}
END_TEST

START_TEST(test_hpub_sub_unsub_ping_pong_connect)
{
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER,
                                 "HPUB a r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
                                 "HPUB a 12 12\r\nNATS/1.0\r\n\r\n\r\n"
                                 "SUB foo.* 1\r\nSUB foo q 22\r\nsUb  a.>   3  \r\n"
                                 "UNSUB 1\r\nunsub 22 10\r\n"
                                 "PING\r\npong\r\nPiNg\n"
                                 "CONNECT {\"verbose\":false, \"name\":\"a b\"}\r\n",
                                 rendered),
                     0);
    ck_assert_str_eq(rendered, "HPUB|a|r||||12|0|NATS/1.0\r\n\r\nhi\n"
                               "HPUB|a|||||12|0|NATS/1.0\r\n\r\n\n"
                               "SUB|foo.*|||1||0|0|\n"
                               "SUB|foo||q|22||0|0|\n"
                               "SUB|a.>|||3||0|0|\n"
                               "UNSUB||||1||0|0|\n"
                               "UNSUB||||22||0|10|\n"
                               "PING||||||0|0|\n"
                               "PONG||||||0|0|\n"
                               "PING||||||0|0|\n"
                               "CONNECT|||||{\"verbose\":false, \"name\":\"a b\"}|0|0|\n");
}
END_TEST

START_TEST(test_client_role_ops)
{
    ck_assert_int_eq(parse_whole(PARSER_ROLE_CLIENT,
                                 "INFO {\"server_id\":\"x\"} \r\n"
                                 "MSG foo 1 5\r\nhello\r\n"
                                 "MSG foo 1 bar 2\r\nhi\r\n"
                                 "HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
                                 "+OK\r\n-ERR 'Unknown Protocol Operation'\r\nPING\r\n",
                                 rendered),
                     0);
    ck_assert_str_eq(rendered, "INFO|||||{\"server_id\":\"x\"}|0|0|\n"
                               "MSG|foo|||1||0|0|hello\n"
                               "MSG|foo|bar||1||0|0|hi\n"
                               "HMSG|_INBOX.x|||1||16|0|NATS/1.0 503\r\n\r\n\n"
                               "OK||||||0|0|\n"
                               "ERR|||||'Unknown Protocol Operation'|0|0|\n"
                               "PING||||||0|0|\n");
}
END_TEST

/* The leafnode protocol, as nats-server's leaf links send it (server/leafnode.go's
 * processLeafSub, processLeafUnsub, processLeafMsgArgs, processLeafHeaderMsgArgs). */
START_TEST(test_leaf_role_ops)
{
    ck_assert_int_eq(parse_whole(PARSER_ROLE_LEAF,
                                 "INFO {\"server_id\":\"x\"}\r\n"
                                 "CONNECT {\"name\":\"l\"}\r\n"
                                 "LS+ foo.*\r\n"
                                 "LS+ foo q 3\r\n"
                                 "LS- foo.*\r\n"
                                 "LS- foo q\r\n"
                                 "LMSG foo 2\r\nhi\r\n"
                                 "LMSG foo _INBOX.a 2\r\nhi\r\n"
                                 "LMSG foo + _INBOX.a q1 q2 2\r\nhi\r\n"
                                 "LMSG foo | q1 2\r\nhi\r\n"
                                 "HMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
                                 "HMSG foo | q1  q2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
                                 "PING\r\nPONG\r\n-ERR 'Loop Detected'\r\n",
                                 rendered),
                     0);
    ck_assert_str_eq(rendered, "INFO|||||{\"server_id\":\"x\"}|0|0|\n"
                               "CONNECT|||||{\"name\":\"l\"}|0|0|\n"
                               "LS+|foo.*|||||0|1|\n"
                               "LS+|foo||q|||0|3|\n"
                               "LS-|foo.*|||||0|1|\n"
                               "LS-|foo||q|||0|1|\n"
                               "LMSG|foo|||||0|0|hi\n"
                               "LMSG|foo|_INBOX.a||||0|0|hi\n"
                               "LMSG|foo|_INBOX.a|q1 q2|||0|0|hi\n"
                               "LMSG|foo||q1|||0|0|hi\n"
                               "HLMSG|foo|||||12|0|NATS/1.0\r\n\r\nhi\n"
                               "HLMSG|foo||q1  q2|||12|0|NATS/1.0\r\n\r\nhi\n"
                               "PING||||||0|0|\n"
                               "PONG||||||0|0|\n"
                               "ERR|||||'Loop Detected'|0|0|\n");
    /* bad forms */
    ck_assert_int_eq(parse_whole(PARSER_ROLE_LEAF, "LMSG foo\r\n", rendered),
                     PROTO_ERR_ARGUMENTS);
    ck_assert_int_eq(parse_whole(PARSER_ROLE_LEAF, "LMSG foo x q 2\r\nhi\r\n", rendered),
                     PROTO_ERR_ARGUMENTS);
    ck_assert_int_eq(parse_whole(PARSER_ROLE_LEAF, "LMSG foo + r 2\r\nhi\r\n", rendered), 0);
    ck_assert_str_eq(rendered, "LMSG|foo|r||||0|0|hi\n"); /* no queue: none, as nats-server */
    ck_assert_int_eq(parse_whole(PARSER_ROLE_LEAF, "LMSG foo 2000\r\n", rendered),
                     PROTO_ERR_MAX_PAYLOAD);
    ck_assert_int_eq(parse_whole(PARSER_ROLE_LEAF, "HMSG foo 5 2\r\nhi\r\n", rendered),
                     PROTO_ERR_HEADER_SIZE);
    ck_assert_int_eq(parse_whole(PARSER_ROLE_LEAF, "LS+ foo q\r\n", rendered),
                     PROTO_ERR_ARGUMENTS);
    ck_assert_int_eq(parse_whole(PARSER_ROLE_LEAF, "LS+ foo q 0\r\nLS+ foo q x\r\n", rendered),
                     0);
    ck_assert_str_eq(rendered, "LS+|foo||q|||0|1|\nLS+|foo||q|||0|1|\n"); /* weight 1 */
    ck_assert_int_eq(parse_whole(PARSER_ROLE_LEAF, "PUB foo 0\r\n\r\n", rendered),
                     PROTO_ERR_UNKNOWN_OP);
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER, "LS+ foo\r\n", rendered),
                     PROTO_ERR_UNKNOWN_OP);
    /* the queue list is walked name by name */
    const char list[] = "q1  q2\tq3";
    const char *cursor = list;
    struct proto_slice name;
    int names = 0;
    while (proto_queue_next(&cursor, list + sizeof list - 1, &name)) {
        ck_assert_int_eq(name.length, 2);
        ck_assert_int_eq(name.data[0], 'q');
        names++;
    }
    ck_assert_int_eq(names, 3);
}
END_TEST

START_TEST(test_role_separation)
{
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER, "MSG foo 1 0\r\n\r\n", rendered),
                     PROTO_ERR_UNKNOWN_OP);
    /* a client's INFO, +OK, -ERR and "PING x" are read (the broker ignores or closes) */
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER, "INFO {}\r\n+OK\r\nPING x\r\n", rendered),
                     0);
    ck_assert_str_eq(rendered, "INFO|||||{}|0|0|\nOK||||||0|0|\nPING||||||0|0|\n");
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER, "HMSG a 1 0 0\r\n\r\n", rendered),
                     PROTO_ERR_UNKNOWN_OP);
    ck_assert_int_eq(parse_whole(PARSER_ROLE_CLIENT, "PUB foo 0\r\n\r\n", rendered),
                     PROTO_ERR_UNKNOWN_OP);
}
END_TEST

static const struct {
    const char *input;
    int error;
} error_cases[] = {
    {"FOO\r\n", PROTO_ERR_UNKNOWN_OP},
    {"FOO", PROTO_ERR_UNKNOWN_OP}, /* refused before its line ends */
    {"PUBX foo 1\r\n", PROTO_ERR_UNKNOWN_OP},
    {"\r\n", PROTO_ERR_UNKNOWN_OP},
    {"PUB foo 2\r\nhix\r\n", PROTO_ERR_PAYLOAD_TERMINATOR},
    {"PUB foo 2\r\nhi\n\n", PROTO_ERR_PAYLOAD_TERMINATOR},
    {"PUB foo 1025\r\n", PROTO_ERR_MAX_PAYLOAD},
    {"HPUB foo 12 1025\r\n", PROTO_ERR_MAX_PAYLOAD},
    {"PUB foo\r\n", PROTO_ERR_ARGUMENTS},
    {"PUB\r\n", PROTO_ERR_UNKNOWN_OP}, /* an op name alone is no op, as nats-server sees it */
    {"PUB \r\n", PROTO_ERR_ARGUMENTS},
    {"SUB\r\n", PROTO_ERR_UNKNOWN_OP},
    {"PUB a b c 1\r\n", PROTO_ERR_ARGUMENTS},
    {"PUB foo x\r\n", PROTO_ERR_ARGUMENTS},
    {"PUB foo -1\r\n", PROTO_ERR_ARGUMENTS},
    {"PUB foo 99999999999\r\n", PROTO_ERR_ARGUMENTS},
    {"HPUB foo 13 12\r\n", PROTO_ERR_HEADER_SIZE},
    {"HPUB foo 12\r\n", PROTO_ERR_ARGUMENTS},
    {"SUB foo\r\n", PROTO_ERR_ARGUMENTS},
    {"SUB a b c d\r\n", PROTO_ERR_ARGUMENTS},
    {"UNSUB\r\n", PROTO_ERR_UNKNOWN_OP},
    {"UNSUB \r\n", PROTO_ERR_ARGUMENTS},
    {"UNSUB 1 2 3\r\n", PROTO_ERR_ARGUMENTS},
};

START_TEST(test_errors)
{
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        int rc = parse_whole(PARSER_ROLE_SERVER, error_cases[i].input, rendered);
        ck_assert_msg(rc == error_cases[i].error, "input %s: got %d, want %d",
                      error_cases[i].input, rc, error_cases[i].error);
    }
}
END_TEST

START_TEST(test_payload_limit_boundary)
{
    static char stream[PAYLOAD_MAX + 64];
    int n = snprintf(stream, sizeof stream, "PUB foo %d\r\n", PAYLOAD_MAX);
    memset(stream + n, 'x', PAYLOAD_MAX);
    memcpy(stream + n + PAYLOAD_MAX, "\r\n", 3);
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER, stream, rendered), 0);
    ck_assert_int_eq((int)strlen(rendered), (int)strlen("PUB|foo|||||0|0|\n") + PAYLOAD_MAX);
}
END_TEST

/* "SUB " followed by `arguments` bytes of arguments, ending in " 1", then CRLF. */
static void control_line_make(char *line, size_t arguments)
{
    memcpy(line, "SUB  \t", 6); /* the op name and its blanks do not count */
    memset(line + 6, 'a', arguments - 2);
    memcpy(line + 6 + arguments - 2, " 1\r\n", 5);
}

START_TEST(test_control_line_limit)
{
    char line[CONTROL_LINE_MAX + 32];
    /* exactly CONTROL_LINE_MAX argument bytes are accepted */
    control_line_make(line, CONTROL_LINE_MAX);
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER, line, rendered), 0);
    size_t cut = 10;
    ck_assert_int_eq(parse_cut(PARSER_ROLE_SERVER, line, strlen(line), &cut, 1, rendered), 0);
    /* one more is refused, whole or split */
    control_line_make(line, CONTROL_LINE_MAX + 1);
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER, line, rendered),
                     PROTO_ERR_CONTROL_LINE_TOO_LONG);
    ck_assert_int_eq(parse_cut(PARSER_ROLE_SERVER, line, strlen(line), &cut, 1, rendered),
                     PROTO_ERR_CONTROL_LINE_TOO_LONG);
    /* a line that never ends is refused once it passes the limit, without its newline */
    memset(line, 'a', sizeof line);
    memcpy(line, "SUB ", 4);
    line[sizeof line - 1] = '\0';
    ck_assert_int_eq(parse_cut(PARSER_ROLE_SERVER, line, strlen(line), &cut, 1, rendered),
                     PROTO_ERR_CONTROL_LINE_TOO_LONG);
}
END_TEST

START_TEST(test_unsub_max_not_a_number)
{
    /* nats-server removes at once when max is not a number: no max, no error */
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER, "UNSUB 1 x\r\n", rendered), 0);
    ck_assert_str_eq(rendered, "UNSUB||||1||0|0|\n");
}
END_TEST

static const char sample_stream[] =
    "CONNECT {\"verbose\":false,\"headers\":true}\r\n"
    "SUB foo 1\r\nsub bar q 2\r\n"
    "PUB foo 5\r\nhello\r\n"
    "PUB foo reply.x 12\r\nhello\r\nthere\r\n"
    "HPUB bar 24 28\r\nNATS/1.0\r\nA: b\r\nC: d\r\n\r\nbody\r\n"
    "PUB empty 0\r\n\r\n"
    "UNSUB 1 5\r\nPING\nPONG\r\n";

START_TEST(test_every_single_split)
{
    size_t length = strlen(sample_stream);
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER, sample_stream, rendered), 0);
    ck_assert_ptr_nonnull(strstr(rendered, "HPUB|bar|||||24|0|NATS/1.0\r\nA: b\r\nC: d\r\n\r\nbody\n"));
    for (size_t cut = 1; cut < length; cut++) {
        ck_assert_int_eq(parse_cut(PARSER_ROLE_SERVER, sample_stream, length, &cut, 1,
                                   rendered_split),
                         0);
        ck_assert_msg(strcmp(rendered, rendered_split) == 0, "differs when cut at %zu", cut);
    }
}
END_TEST

START_TEST(test_every_double_split)
{
    size_t length = strlen(sample_stream);
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER, sample_stream, rendered), 0);
    for (size_t a = 1; a < length; a += 3) {
        for (size_t b = a + 1; b < length; b += 5) {
            size_t cuts[2] = {a, b};
            ck_assert_int_eq(
                parse_cut(PARSER_ROLE_SERVER, sample_stream, length, cuts, 2, rendered_split), 0);
            ck_assert_msg(strcmp(rendered, rendered_split) == 0, "differs cut at %zu,%zu", a, b);
        }
    }
}
END_TEST

START_TEST(test_byte_by_byte)
{
    size_t length = strlen(sample_stream);
    size_t *cuts = malloc(length * sizeof *cuts);
    for (size_t i = 0; i + 1 < length; i++) {
        cuts[i] = i + 1;
    }
    ck_assert_int_eq(parse_whole(PARSER_ROLE_SERVER, sample_stream, rendered), 0);
    ck_assert_int_eq(parse_cut(PARSER_ROLE_SERVER, sample_stream, length, cuts, length - 1,
                               rendered_split),
                     0);
    ck_assert_str_eq(rendered, rendered_split);
    free(cuts);
}
END_TEST

START_TEST(test_errors_split)
{
    /* errors are found the same way when the input arrives in pieces */
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        const char *input = error_cases[i].input;
        size_t length = strlen(input);
        for (size_t cut = 1; cut < length; cut++) {
            int rc = parse_cut(PARSER_ROLE_SERVER, input, length, &cut, 1, rendered);
            ck_assert_msg(rc == error_cases[i].error, "input %s cut at %zu: got %d, want %d",
                          input, cut, rc, error_cases[i].error);
        }
    }
}
END_TEST

START_TEST(test_carry_released_between_ops)
{
    /* an op stitched in the carry is followed by ops read straight from the buffer */
    struct parser parser;
    parser_init(&parser, PARSER_ROLE_SERVER, CONTROL_LINE_MAX, PAYLOAD_MAX);
    const char first[] = "PUB foo 5\r\nhel";
    const char second[] = "lo\r\nPING\r\n";
    const char *cursor = first;
    struct proto_op op;
    ck_assert_int_eq(parser_next(&parser, &cursor, first + strlen(first), &op), 0);
    ck_assert(parser_mid_op(&parser));
    cursor = second;
    ck_assert_int_eq(parser_next(&parser, &cursor, second + strlen(second), &op), 1);
    ck_assert_int_eq(op.kind, PROTO_OP_PUB);
    ck_assert_int_eq((int)op.payload.length, 5);
    ck_assert(memcmp(op.payload.data, "hello", 5) == 0);
    ck_assert_int_eq(parser_next(&parser, &cursor, second + strlen(second), &op), 1);
    ck_assert_int_eq(op.kind, PROTO_OP_PING);
    ck_assert(!parser_mid_op(&parser));
    ck_assert_uint_eq(parser.carry_count, 1);
    parser_destroy(&parser);
}
END_TEST

static Suite *parser_suite(void)
{
    Suite *suite = suite_create("parser");
    TCase *ops = tcase_create("ops");
    tcase_add_test(ops, test_pub_forms);
    tcase_add_test(ops, test_hpub_sub_unsub_ping_pong_connect);
    tcase_add_test(ops, test_client_role_ops);
    tcase_add_test(ops, test_leaf_role_ops);
    tcase_add_test(ops, test_role_separation);
    suite_add_tcase(suite, ops);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_errors);
    tcase_add_test(errors, test_payload_limit_boundary);
    tcase_add_test(errors, test_control_line_limit);
    tcase_add_test(errors, test_unsub_max_not_a_number);
    suite_add_tcase(suite, errors);
    TCase *splits = tcase_create("splits");
    tcase_set_timeout(splits, 60);
    tcase_add_test(splits, test_every_single_split);
    tcase_add_test(splits, test_every_double_split);
    tcase_add_test(splits, test_byte_by_byte);
    tcase_add_test(splits, test_errors_split);
    tcase_add_test(splits, test_carry_released_between_ops);
    suite_add_tcase(suite, splits);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(parser_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
