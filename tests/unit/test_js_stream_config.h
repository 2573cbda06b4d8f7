/* What the js_stream_config test sources share (test_js_stream_config.c and its _create,
 * _echo and _update parts, one test binary): parsing from a heap copy of exactly the
 * request's length (so ASan catches a read past it), a create or an update run as
 * nats-server's handler runs its steps, the reply member compared byte for byte, and the
 * suite's test cases. One test thread. */
#ifndef IONATS_TESTS_UNIT_TEST_JS_STREAM_CONFIG_H
#define IONATS_TESTS_UNIT_TEST_JS_STREAM_CONFIG_H

#include "proto/js_stream_config.h"

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

/* A heap copy of text[0, length), exactly that long; the caller frees it. */
char *exact_copy(const char *text, size_t length);

/* Parses `body` from a buffer of exactly its length. */
int parse(const char *body, struct js_stream_config *config, bool *pedantic,
          struct js_error *error);

/* Parses `body`, which must decode; returns its pedantic flag. */
bool parse_valid(const char *body, struct js_stream_config *config);

/* A create of `body` on $JS.API.STREAM.CREATE.<name>, as nats-server's single-server
 * handler runs its steps; the account may hold `other` (NULL: no stream) for the overlap
 * check. On success `*created` (when not NULL) takes the config. Returns the reply member,
 * `"error":{...}` or `"config":{...}`; the caller frees it. */
char *create_reply(const char *name, const char *body, const struct js_stream_config *other,
                   struct js_stream_config *created);

/* An update of the stream `old` with `body` on $JS.API.STREAM.UPDATE.<name>. On success
 * `old` takes the new config. Returns the reply member; the caller frees it. */
char *update_reply(const char *name, const char *body, struct js_stream_config *old,
                   const struct js_stream_config *other);

/* Checks `reply` (freed here) against `expected`, naming `request` when they differ. */
void expect_reply(char *reply, const char *expected, const char *request);

/* `"error":{"code":C,"err_code":E,"description":"D"}` with D as sent (already escaped). */
void expect_error(char *reply, int code, int err_code, const char *description,
                  const char *request);

/* `"config":{...}` with the config as sent. */
void expect_config(char *reply, const char *config, const char *request);

/* Checks that `reply` (freed here) is a config, whatever it holds. */
void expect_created(char *reply, const char *request);

/* Every create error and the bounds (test_js_stream_config_create.c), the echo and the
 * parse (test_js_stream_config_echo.c), updates, equality and subjects
 * (test_js_stream_config_update.c). */
TCase *js_stream_config_create_tcase(void);
TCase *js_stream_config_echo_tcase(void);
TCase *js_stream_config_update_tcase(void);

#endif
