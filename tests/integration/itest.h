/* Integration-test helpers shared by tests/integration/test_*.c: start a broker for one test,
 * connect libnats to it, wait (always bounded) for messages counted on libnats threads, and
 * fill/check payloads with a pattern that cannot be mistaken for another message.
 *
 * The one idea: every test starts its own broker through itest_server_start() and the
 * checked teardown itest_teardown() stops whatever a test left running, so a failed assertion
 * never leaks a broker into the next test. Used from the test thread only, except the
 * itest_counter functions, which libnats callback threads call. */
#ifndef IONATS_TESTS_INTEGRATION_ITEST_H
#define IONATS_TESTS_INTEGRATION_ITEST_H

#include <check.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/harness/server.h"

/* How long a test waits for something the broker should do at once (a message, a reply, a
 * close). Generous because the machine may be loaded; a passing run never waits this long. */
enum { ITEST_WAIT_MS = 10000 };

/* Time libnats may take to connect (TCP + INFO/CONNECT/PING/PONG). */
enum { ITEST_CONNECT_TIMEOUT_MS = 5000 };

/* Fails the test with libnats's text for the status when `call` does not return NATS_OK. */
#define ITEST_OK(call)                                                                             \
    do {                                                                                           \
        natsStatus itest_status_ = (call);                                                         \
        ck_assert_msg(itest_status_ == NATS_OK, "%s -> %s (%s)", #call,                            \
                      natsStatus_GetText(itest_status_), itest_last_error());                      \
    } while (0)

/* Monotonic milliseconds. */
int64_t itest_now_ms(void);

/* The broker's monitoring port (-m -1), read from its log until the broker has logged it
 * (the client port accepts as soon as it listens, which can be before that), for `wait_ms`
 * at most; fails the test without it. */
int itest_monitor_port(const struct test_server *server, long wait_ms);

/* The port of the first log line holding `needle` followed by host:port (for instance
 * "Starting https monitor on "), waiting as itest_monitor_port does. */
int itest_log_port(const struct test_server *server, const char *needle, long wait_ms);

/* libnats's last error text for this thread, or "" (never NULL). */
const char *itest_last_error(void);

/* Starts a broker (NULL options: its defaults) and fails the test if it does not start. */
void itest_server_start(struct test_server *server, const struct test_server_options *options);

/* The same with the reference nats-server, whatever the test switch says (a peer of the
 * broker under test: a leafnode hub). */
void itest_reference_start(struct test_server *server, const struct test_server_options *options);

/* Stops a broker started by itest_server_start and forgets it. */
void itest_server_stop(struct test_server *server);

/* Checked fixture teardown: stops every broker the test started and did not stop. */
void itest_teardown(void);

/* Options for `url` with reconnects off and a bounded connect timeout; the caller owns them. */
natsOptions *itest_options(const char *url);

/* Connects with `options` (borrowed) and fails the test if that fails. */
natsConnection *itest_connect_options(natsOptions *options);

/* Connects to `url` with itest_options(). */
natsConnection *itest_connect(const char *url);

/* Flushes with a ITEST_WAIT_MS bound and fails the test if the PONG does not come. */
void itest_flush(natsConnection *connection);

/* A count shared with libnats callback threads, waited on with a deadline by one thread at a
 * time. */
struct itest_counter {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* signalled when count reaches wake_at */
    long count;
    long wake_at; /* the target a waiter waits for; adders below it do not wake anyone */
};

void itest_counter_init(struct itest_counter *counter);
void itest_counter_destroy(struct itest_counter *counter);
void itest_counter_add(struct itest_counter *counter, long amount);
long itest_counter_get(struct itest_counter *counter);

/* Waits until the count reaches `target` or `timeout_ms` passes; returns the count then. */
long itest_counter_wait(struct itest_counter *counter, long target, int timeout_ms);

/* Fills `data` with a pattern derived from `seq`: the first 8 bytes are `seq` little-endian
 * (when size allows), the rest bytes that include NUL, CR and LF so a broker that treats a
 * payload as text shows up. */
void itest_payload_fill(unsigned char *data, size_t size, uint64_t seq);

/* True when `data` is exactly what itest_payload_fill(size, seq) wrote. */
bool itest_payload_check(const void *data, size_t size, uint64_t seq);

/* The sequence number in the first 8 bytes of a payload filled by itest_payload_fill. */
uint64_t itest_payload_seq(const void *data, size_t size);

/* Runs `suite` with CK_NORMAL output; EXIT_SUCCESS when nothing failed. */
int itest_run(Suite *suite);

/* Replaces `before` with `after` in the broker's configuration file (the harness's -c
 * file, or the reference's own), then sends it SIGHUP. */
void itest_config_rewrite(struct test_server *server, const char *before, const char *after);

/* Writes the end of every running broker's log to stderr (before failing a test whose
 * cause is in them). */
void itest_logs_show(void);

/* True once the broker's log holds `text` (looked for until `wait_ms` passed). */
bool itest_log_shows(const struct test_server *server, const char *text, long wait_ms);

/* Makes a CA (ca.pem, ca.key), a server certificate for 127.0.0.1 and localhost
 * (server.pem, server.key) and a client certificate (client.pem, client.key) with the
 * openssl CLI in a fresh directory under /tmp, its path in `cert_dir` (at least 64 bytes).
 * Outside Check's tests (no ck_assert): false when it cannot. */
bool itest_certs_make(char *cert_dir, size_t size);

/* Removes what itest_certs_make made. */
void itest_certs_remove(const char *cert_dir);

/* Waits until a message published on `from` reaches a subscription on `to` for `subject`
 * (a link is up and the interest crossed it), probing every ITEST_PROBE_STEP_MS. False
 * after ITEST_WAIT_MS. */
enum { ITEST_PROBE_STEP_MS = 50 };
bool itest_interest_crossed(natsConnection *from, natsConnection *to, const char *subject);

/* itest_interest_crossed, or the test fails with the brokers' logs on stderr. */
void itest_expect_crossed(natsConnection *from, natsConnection *to, const char *subject);

#endif
