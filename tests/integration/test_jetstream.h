/* What the JetStream integration tests (tests/integration/test_jetstream*.c) share: one broker
 * with JetStream on a store directory of its own, a libnats connection and JetStream context
 * to it, stopping, killing and restarting that broker on the same directory, and checks of
 * the JetStream error codes. Names start with jst_ (JetStream test).
 *
 * The one idea: the state of the running test lives in one static struct jst, not on the
 * test's stack, so the checked teardown can close and stop whatever a failed assertion left
 * behind (in CK_NOFORK mode the test's frame is gone by then; with fork, the child exits
 * and the broker dies with it through PR_SET_PDEATHSIG). The store directories of a TCase
 * live under one base directory that its unchecked fixture, run in the parent process,
 * creates and removes, so a test that failed in a forked child leaves nothing in /tmp.
 * Test thread only. */
#ifndef IONATS_TESTS_INTEGRATION_TEST_JETSTREAM_H
#define IONATS_TESTS_INTEGRATION_TEST_JETSTREAM_H

#include "tests/integration/itest.h"

#include <nats/nats.h>
#include <stdbool.h>
#include <stdint.h>

/* How long one test may run: the longest (the persistence tests, ASan, a few thousand
 * fdatasync'd publishes) takes a few seconds. */
enum { JST_TCASE_TIMEOUT_S = 120 };

/* The JetStream API wait libnats uses (its default is 5 s; a loaded machine under ASan
 * may need more for a create that makes directories and fsyncs them). */
enum { JST_API_WAIT_MS = ITEST_WAIT_MS };

/* Error codes are libnats's jsErrCode names (JSStreamNotFoundErr = 10059, ...), the same
 * numbers as nats-server's server/errors.json. */

struct jst {
    char store_dir[128];                /* this test's store_dir, under the TCase's base */
    struct test_server_options options; /* what the broker was started with (restarts) */
    const char *extra_args[8];          /* options.extra_args points here */
    struct test_server server;          /* pid 0 while stopped */
    natsConnection *connection;         /* owned; NULL while disconnected */
    jsCtx *js;                          /* owned, of `connection` */
};

/* The running test's broker and client. */
extern struct jst jst;

/* Starts a broker with JetStream on a fresh store_dir (ionats: plus `extra_args`, a
 * NULL-terminated list or NULL; nats-server ignores them), connects and makes jst.js. */
void jst_start(const char *const *extra_args);

/* Closes the client, then stops the broker with SIGTERM (it must exit 0). */
void jst_stop(void);

/* SIGKILLs the broker, then closes the client. */
void jst_kill(void);

/* Starts the broker again on the same store_dir and reconnects. */
void jst_restart(void);

/* A JetStream context on `connection` with the tests' API wait. */
jsCtx *jst_context(natsConnection *connection);

/* A stream config with `name`, `subjects` (`count` of them; 0: the name alone) and file
 * storage; `subjects` is borrowed for as long as the config is used. */
void jst_config(jsStreamConfig *config, const char *name, const char **subjects, int count);

/* Creates the stream and fails the test unless that succeeds; frees the info. */
void jst_stream_add(jsStreamConfig *config);

/* The stream's info (the caller destroys it); fails the test when there is none. */
jsStreamInfo *jst_stream_info(const char *name);

/* Publishes with an ack and fails the test unless it is stored at `seq` (0: anywhere). */
uint64_t jst_publish(const char *subject, const void *data, int length, uint64_t seq);

/* Publishes `data` with `options` (may be NULL) and fails the test unless it is refused with
 * JetStream error `want` and no ack. */
void jst_publish_refused(const char *what, const char *subject, const void *data, int length,
                         jsPubOptions *options, jsErrCode want);

/* Fails the test unless `status` is an error carrying JetStream error code `code`. */
void jst_expect_error(const char *what, natsStatus status, jsErrCode got, jsErrCode code);

/* A request to `subject` with `body` whose JSON reply must contain `needle`; fails the test
 * with the reply otherwise. */
void jst_request_expect(const char *subject, const char *body, const char *needle);

/* True when the broker under test is nats-server older than major.minor (read from its
 * INFO), for a behaviour the current release has and an older reference lacks. */
bool jst_reference_before(int major, int minor);

/* A TCase with the JetStream fixtures and the per-test timeout. */
TCase *jst_tcase(const char *name);

/* The TCases of the other files. */
TCase *jst_publish_tcase(void);
TCase *jst_limits_tcase(void);
TCase *jst_msg_tcase(void);
TCase *jst_persist_tcase(void);
TCase *jst_consumer_tcase(void);
TCase *jst_monitor_tcase(void);
TCase *jst_source_tcase(void);

#endif
