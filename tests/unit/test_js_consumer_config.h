/* What the js_consumer_config test sources share (test_js_consumer_config.c and its _echo,
 * _parse, _check and _update parts, one test binary): a stream and its consumers as the create
 * handler sees them, a request run through nats-server's steps in its order (as the
 * engine runs them), the reply member compared byte for byte, and the suite's test cases.
 * One test thread. */
#ifndef IONATS_TESTS_UNIT_TEST_JS_CONSUMER_CONFIG_H
#define IONATS_TESTS_UNIT_TEST_JS_CONSUMER_CONFIG_H

#include "proto/js_consumer_config.h"

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

/* Consumers one fixture holds: the longest recorded sequence creates fewer. */
enum { FIXTURE_CONSUMERS_MAX = 128 };

/* A stream and its consumers. */
struct fixture {
    struct js_stream_config stream; /* checked */
    struct fixture_consumer {
        char *name; /* owned */
        struct js_consumer_config config;
    } consumers[FIXTURE_CONSUMERS_MAX];
    size_t consumer_count;
    unsigned ephemeral_count; /* names made for ephemerals without one */
};

/* A stream from its STREAM.CREATE body (which must be valid), without consumers. */
void fixture_init(struct fixture *fixture, const char *stream_body);
void fixture_free(struct fixture *fixture);

/* The consumer of that name, or NULL. */
struct js_consumer_config *fixture_consumer(struct fixture *fixture, const char *name);

/* A CONSUMER.CREATE or DURABLE.CREATE of `body` on `subject`, parsed from a heap copy of
 * exactly its length, run through the handler's steps against the fixture; on success the
 * fixture holds the new or updated consumer. Returns the reply member, `"error":{...}` or
 * `"config":{...}` (with _nats.ver 2.15.1 and _nats.level 5); the caller frees it. */
char *create_reply(struct fixture *fixture, const char *subject, const char *body);

/* Parses `body` from a buffer of exactly its length. */
int parse(const char *body, struct js_consumer_request *request, struct js_error *error);

/* One step of a recorded sequence: the request, and the reply nats-server 2.15.1 gave: an
 * error (code, err_code, description as written in JSON), or with code OK the config. */
struct step {
    const char *subject;
    const char *body;
    int code;
    int err_code;
    const char *expected;
};
#define OK 0, 0

/* Runs `steps` in order against a fresh stream made from `stream_body`. */
void run_steps(const char *stream_body, const struct step *steps, size_t count);
#define RUN_STEPS(stream_body, steps) run_steps(stream_body, steps, sizeof steps / sizeof steps[0])

/* Checks `reply` (freed here) against the error or config expected, naming `request`. */
void expect_error(char *reply, int code, int err_code, const char *description,
                  const char *request);
void expect_config(char *reply, const char *config, const char *request);

/* The echo of what clients send and of every field (test_js_consumer_config_echo.c); the
 * parse (test_js_consumer_config_parse.c);
 * every refusal of the checks and the bounds (test_js_consumer_config_check.c); the subject
 * checks, updates, actions, equality, workqueues and matching
 * (test_js_consumer_config_update.c). */
TCase *js_consumer_config_echo_tcase(void);
TCase *js_consumer_config_parse_tcase(void);
TCase *js_consumer_config_check_tcase(void);
TCase *js_consumer_config_update_tcase(void);

#endif
