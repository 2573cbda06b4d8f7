/* Unit tests for the JetStream API error table (proto/js_errors.c): a sample of rows
 * against nats-server 2.15's server/errors.json and the replies recorded from nats-server
 * 2.15.1 (see test_js_stream_config.c and test_js_consumer_config.c), every row's shape, filling
 * placeholders, and the "error" member as nats-server writes it. One test thread. */
#include "proto/js_errors.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Checks the "error" member written for `error` against `expected`. */
static void expect_member(const struct js_error *error, const char *expected)
{
    struct go_json json;
    go_json_init(&json, 1 << 16);
    js_errors_json_error(&json, error);
    ck_assert(!json.failed);
    ck_assert_str_eq(json.data, expected);
    go_json_free(&json);
}

START_TEST(test_error_table)
{
    static const struct {
        enum js_error_id id;
        uint16_t code;
        uint16_t err_code;
        const char *description;
    } rows[] = {
        {JS_ERR_STREAM_NOT_FOUND, 404, 10059, "stream not found"},
        {JS_ERR_STREAM_NAME_EXIST, 400, 10058,
         "stream name already in use with a different configuration"},
        {JS_ERR_STREAM_MISMATCH, 400, 10056, "stream name in subject does not match request"},
        {JS_ERR_STREAM_INVALID_CONFIG, 500, 10052, "{err}"},
        {JS_ERR_STREAM_CREATE, 500, 10049, "{err}"},
        {JS_ERR_STREAM_SUBJECT_OVERLAP, 400, 10065, "subjects overlap with an existing stream"},
        {JS_ERR_STREAM_REPLICAS_NOT_SUPPORTED, 500, 10074,
         "replicas > 1 not supported in non-clustered mode"},
        {JS_ERR_BAD_REQUEST, 400, 10003, "bad request"},
        {JS_ERR_INVALID_JSON, 400, 10025, "invalid JSON: {err}"},
        {JS_ERR_NO_MESSAGE_FOUND, 404, 10037, "no message found"},
        {JS_ERR_NOT_ENABLED, 503, 10076, "JetStream not enabled"},
        {JS_ERR_NOT_ENABLED_FOR_ACCOUNT, 503, 10039, "JetStream not enabled for account"},
        {JS_ERR_STORAGE_RESOURCES_EXCEEDED, 500, 10047, "insufficient storage resources available"},
        {JS_ERR_MAXIMUM_STREAMS_LIMIT, 400, 10027, "maximum number of streams reached"},
        {JS_ERR_STREAM_STORE_FAILED, 503, 10077, "{err}"},
        {JS_ERR_STREAM_SEALED, 400, 10109, "invalid operation on sealed stream"},
        {JS_ERR_STREAM_MSG_DELETE_FAILED, 500, 10057, "{err}"},
        {JS_ERR_STREAM_WRONG_LAST_SEQUENCE, 400, 10071, "wrong last sequence: {seq}"},
        {JS_ERR_STREAM_EXTERNAL_DEL_PREFIX_OVERLAPS, 400, 10022,
         "stream external delivery prefix {prefix} overlaps with stream subject {subject}"},
        {JS_ERR_REQUIRED_API_LEVEL, 412, 10185, "JetStream minimum api level required"},
        {JS_ERR_CONSUMER_NOT_FOUND, 404, 10014, "consumer not found"},
        {JS_ERR_CONSUMER_CREATE, 500, 10012, "{err}"},
        {JS_ERR_CONSUMER_NAME_EXIST, 400, 10013, "consumer name already in use"},
        {JS_ERR_CONSUMER_ALREADY_EXISTS, 400, 10148, "consumer already exists"},
        {JS_ERR_CONSUMER_DOES_NOT_EXIST, 400, 10149, "consumer does not exist"},
        {JS_ERR_CONSUMER_INVALID_POLICY, 400, 10094, "{err}"},
        {JS_ERR_CONSUMER_INVALID_SAMPLING, 400, 10095,
         "failed to parse consumer sampling configuration: {err}"},
        {JS_ERR_CONSUMER_PULL_REQUIRES_ACK, 400, 10084,
         "consumer in pull mode requires explicit ack policy on workqueue stream"},
        {JS_ERR_CONSUMER_WQ_CONSUMER_NOT_UNIQUE, 400, 10100,
         "filtered consumer not unique on workqueue stream"},
        {JS_ERR_CONSUMER_MAX_PENDING_ACK_EXCESS, 400, 10121,
         "consumer max ack pending exceeds system limit of {limit}"},
        {JS_ERR_CONSUMER_INACTIVE_THRESHOLD_EXCESS, 400, 10153,
         "consumer inactive threshold exceeds system limit of {limit}"},
        {JS_ERR_CONSUMER_INVALID_GROUP_NAME, 400, 10162,
         "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 "
         "characters"},
        {JS_ERR_CONSUMER_ACK_FC_REQUIRES_PUSH, 400, 10218,
         "flow control ack policy requires a push based consumer"},
        {JS_ERR_CONSUMER_OFFLINE_REASON, 500, 10195, "consumer is offline: {err}"},
        {JS_ERR_CONSUMER_STREAM_IDENTITY_MISMATCH, 400, 10225,
         "consumer's stream identity does not match: {msg}"},
        {JS_ERR_MAXIMUM_CONSUMERS_LIMIT, 400, 10026, "maximum consumers limit reached"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct js_error_entry *entry = js_errors_entry(rows[i].id);
        ck_assert_uint_eq(entry->code, rows[i].code);
        ck_assert_uint_eq(entry->err_code, rows[i].err_code);
        ck_assert_str_eq(entry->description, rows[i].description);
        ck_assert_int_eq(js_errors_find(rows[i].err_code), rows[i].id);
    }
    ck_assert_int_eq(js_errors_find(1), JS_ERR_NONE);
    /* every row: an HTTP-like code, a unique err_code, a description */
    for (int id = JS_ERR_NONE + 1; id < JS_ERR_COUNT; id++) {
        const struct js_error_entry *entry = js_errors_entry(id);
        ck_assert_msg(entry->code == 400 || entry->code == 404 || entry->code == 409 ||
                          entry->code == 412 || entry->code == 429 || entry->code == 500 ||
                          entry->code == 503,
                      "row %d", id);
        ck_assert_int_eq(js_errors_find(entry->err_code), id);
        ck_assert(entry->description[0] != '\0');
    }
    ck_assert_uint_eq(js_errors_placeholder_count(JS_ERR_STREAM_EXTERNAL_DEL_PREFIX_OVERLAPS), 2);
    ck_assert_uint_eq(js_errors_placeholder_count(JS_ERR_STREAM_NOT_FOUND), 0);
}
END_TEST

START_TEST(test_error_write)
{
    struct js_error error;
    js_errors_setf(&error, JS_ERR_STREAM_INVALID_CONFIG, "subject %s overlaps with %s", "\"x.>\"",
                   "\"x.y\"");
    expect_member(&error, "\"error\":{\"code\":500,\"err_code\":10052,\"description\":"
                          "\"subject \\\"x.\\u003e\\\" overlaps with \\\"x.y\\\"\"}");
    const char *args[] = {"d.>", "s.&"};
    js_errors_set_args(&error, JS_ERR_STREAM_EXTERNAL_DEL_PREFIX_OVERLAPS, args, 2);
    expect_member(&error, "\"error\":{\"code\":400,\"err_code\":10022,\"description\":"
                          "\"stream external delivery prefix d.\\u003e overlaps with stream "
                          "subject s.\\u0026\"}");
    js_errors_set(&error, JS_ERR_STREAM_NOT_FOUND);
    expect_member(&error, "\"error\":{\"code\":404,\"err_code\":10059,\"description\":"
                          "\"stream not found\"}");
    /* a following member gets its comma */
    struct go_json json;
    go_json_init(&json, 256);
    go_json_literal(&json, "{\"type\":\"t\"");
    js_errors_json_error(&json, &error);
    go_json_literal(&json, "}");
    ck_assert_str_eq(json.data, "{\"type\":\"t\",\"error\":{\"code\":404,\"err_code\":10059,"
                                "\"description\":\"stream not found\"}}");
    go_json_free(&json);
    /* a description longer than its room is cut at a UTF-8 boundary */
    char long_text[JS_ERROR_DESCRIPTION_SIZE + 16];
    memset(long_text, 'a', sizeof long_text);
    memcpy(&long_text[JS_ERROR_DESCRIPTION_SIZE - 3], "\xC3\xA9\xC3\xA9", 4);
    long_text[sizeof long_text - 1] = '\0';
    js_errors_setf(&error, JS_ERR_STREAM_INVALID_CONFIG, "%s", long_text);
    ck_assert_uint_eq(strlen(error.description), JS_ERROR_DESCRIPTION_SIZE - 1);
    js_errors_setf(&error, JS_ERR_STREAM_INVALID_CONFIG, "x%s", long_text);
    ck_assert_uint_eq(strlen(error.description), JS_ERROR_DESCRIPTION_SIZE - 2);
    /* an argument is copied as it is: braces in it are no placeholders */
    js_errors_setf(&error, JS_ERR_STREAM_INVALID_CONFIG, "{x} {}");
    ck_assert_str_eq(error.description, "{x} {}");
    js_errors_clear(&error);
    ck_assert_int_eq(error.id, JS_ERR_NONE);
    ck_assert_str_eq(error.description, "");
}
END_TEST

static Suite *js_errors_suite(void)
{
    Suite *suite = suite_create("js_errors");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, test_error_table);
    tcase_add_test(tc, test_error_write);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(js_errors_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
