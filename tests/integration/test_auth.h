/* What the authentication tests share: libnats connects expected to be accepted (proven by
 * a round trip) or refused (an authorization error, before the connect timeout), and the
 * test cases of the users list (test_auth_users.c) and of reloads (test_auth_reload.c), and
 * raw connections. */
#ifndef IONATS_TESTS_INTEGRATION_TEST_AUTH_H
#define IONATS_TESTS_INTEGRATION_TEST_AUTH_H

#include "tests/integration/itest.h"

/* NULL credentials are not set. */
void auth_expect_accepted(const char *url, const char *label, const char *user, const char *pass,
                          const char *token);
void auth_expect_refused(const char *url, const char *label, const char *user, const char *pass,
                         const char *token);

/* Raw connections (test_auth.c), which read every byte the broker says. */
enum { AUTH_RAW_BUFFER_SIZE = 8192 };
void auth_raw_send(int fd, const char *text);
/* Sends `ops` and a PING; what comes back up to PONG must be `expected` and PONG. */
void auth_raw_expect_exactly(int fd, const char *ops, const char *expected);
/* Reads until `needle` and checks everything read is exactly `expected`. */
void auth_raw_read_exactly(int fd, const char *needle, const char *expected);
/* A raw client logged in as `user` (NULL: no credentials), past INFO and its first PONG. */
int auth_raw_login(int port, const char *user, const char *pass);

/* What a configuration reload changes besides users: max_connections, max_payload,
 * ping_interval and ping_max, logtime (test_auth_reload.c). */
TCase *auth_reload_tcase(void);

/* Users, bcrypt, nkeys, permissions, allow_responses and no_auth_user, from a
 * configuration file given to both brokers. */
TCase *auth_users_tcase(void);

#endif
