/* What the standalone JetStream integration programs (test_jetstream_transform.c,
 * test_jetstream_ttl.c) share, and the raw $JS.API pieces test_jetstream_source.c shares with
 * them: a broker with JetStream on a store directory of its own per test, with a libnats
 * connection and JetStream context (struct jsc_broker); requests whose JSON reply is read with
 * jansson, for what libnats 3.4 cannot send or show; INFO polled until a state is reached;
 * messages published, got and checked; and the version probe that skips a whole program
 * against a reference too old for its feature. Names start with jsc_ (JetStream test,
 * common), apart from test_jetstream.h's jst_ fixture, which test_jetstream_source.c uses.
 *
 * The one idea: the running test's broker lives in one static struct jsc_broker, not on the
 * test's stack, so the checked teardown stops whatever a failed assertion left behind; the
 * TCase's store directory is made and removed by its unchecked fixture in the parent
 * process, so a test that failed in a forked child leaves nothing in /tmp. Anything that
 * happens on the broker's own time is polled with a deadline. The helpers that take a
 * connection or context explicitly serve either fixture. Test thread only. */
#ifndef IONATS_TESTS_INTEGRATION_JST_COMMON_H
#define IONATS_TESTS_INTEGRATION_JST_COMMON_H

#include "tests/integration/itest.h"

#include <check.h>
#include <jansson.h>
#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long one case may run: each takes under 10 s on either server. */
enum { JSC_TCASE_TIMEOUT_S = 120 };

/* How often INFO is polled while waiting. */
enum { JSC_POLL_MS = 20 };

/* ---- the fixture: a broker with JetStream and a client, per test ---- */

struct jsc_broker {
    char store_dir[128];                /* this test's, under the TCase's base directory */
    struct test_server_options options; /* what the broker was started with (restarts) */
    struct test_server server;          /* pid 0 while stopped */
    natsConnection *connection;         /* owned; NULL while stopped */
    jsCtx *js;                          /* owned, of `connection` */
};

/* The running test's broker. */
extern struct jsc_broker jsc;

/* Starts a broker with JetStream on a fresh store directory, connects and makes jsc.js. */
void jsc_start(void);

/* Stops the broker with SIGTERM (ionats must exit 0) and starts it again on the same store
 * directory, then reconnects. */
void jsc_restart(void);

/* A TCase with the fixtures above and the per-case timeout. */
TCase *jsc_tcase(const char *name);

/* Runs the suite `suite_make` makes, unless the broker under test is a nats-server older
 * than `major`.`minor`, the release that brought `feature`: then it says so and returns 77
 * (meson: SKIP). EXIT_FAILURE when the reference's version cannot be read. For main(). */
int jsc_run(Suite *(*suite_make)(void), int major, int minor, const char *feature);

void jsc_pause_ms(long ms);

/* ---- raw API requests ---- */

/* `data` (`length` bytes) parsed as JSON, or the test fails naming `what`; the caller
 * decrefs it. */
json_t *jsc_json_parse(const char *what, const char *data, int length);

/* The JSON reply on `connection` to `subject` with `body` and, when `level` is not NULL, a
 * Nats-Required-Api-Level header; the caller decrefs it. */
json_t *jsc_request(natsConnection *connection, const char *subject, const char *body,
                    const char *level);

/* Fails unless `error` (an API reply's or an ack's "error") is exactly
 * {"code":code,"err_code":err_code,"description":description}. */
void jsc_error_expect(const char *what, const json_t *error, int code, int err_code,
                      const char *description);

/* Creates stream `name` from its raw config `body` on jsc's broker and fails unless that
 * succeeds; returns the reply (the config as the broker echoes it), which the caller
 * decrefs. */
json_t *jsc_stream_create_reply(const char *name, const char *body);

/* The same, for the creation alone. */
void jsc_stream_create(const char *name, const char *body);

/* Fails unless creating `name` from `body` is refused with exactly this error. */
void jsc_stream_create_refused(const char *name, const char *body, int code, int err_code,
                               const char *description);

/* Stream `name`'s raw INFO from jsc's broker (it must have no error); the caller decrefs
 * it. */
json_t *jsc_info_json(const char *name);

/* Polls INFO until state.`field` of `name` is `want`; fails with the INFO after `wait_ms`. */
void jsc_state_wait(const char *name, const char *field, json_int_t want, long wait_ms);

/* The same until state.`field` is `want` or more. */
void jsc_state_wait_min(const char *name, const char *field, json_int_t want, long wait_ms);

/* ---- messages ---- */

/* A message on `subject` with body `data` and the header `key`: `value` (none when `key` is
 * NULL), and a second header `key2`: `value2` when that is not NULL; the caller destroys
 * it. */
natsMsg *jsc_msg_make(const char *subject, const char *data, const char *key,
                      const char *value, const char *key2, const char *value2);

/* Publishes `data` on `subject` with the header `key`: `value` (when `key` is not NULL) to
 * jsc's broker and fails unless it is stored at `seq`. */
void jsc_publish(const char *subject, const char *data, const char *key, const char *value,
                 uint64_t seq);

/* Message `seq` of `stream`, through `js`; the caller destroys it. */
natsMsg *jsc_msg_get(jsCtx *js, const char *stream, uint64_t seq);

/* Fails unless `stream` has no message `seq` (10037), through `js`. */
void jsc_msg_missing_expect(jsCtx *js, const char *stream, uint64_t seq);

/* The last message of `stream` on `subject` on jsc's broker; the caller destroys it. */
natsMsg *jsc_last_get(const char *stream, const char *subject);

/* Message `seq` of `stream` on jsc's broker, which must be stored under `subject` with
 * payload `data`; the caller destroys it. */
natsMsg *jsc_stored_get(const char *stream, uint64_t seq, const char *subject,
                        const char *data);

/* The same, for the check alone. */
void jsc_stored_expect(const char *stream, uint64_t seq, const char *subject, const char *data);

/* Fails unless header `key` of `msg` is `want`. */
void jsc_header_expect(natsMsg *msg, const char *key, const char *want);

/* Fails unless `msg`'s header keys are exactly the `count` of `keys`, in any order, each
 * once. */
void jsc_header_keys_expect(natsMsg *msg, const char *const *keys, int count);

#endif
