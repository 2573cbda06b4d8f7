/* What the authentication tests share: libnats connects expected to be accepted (proven by
 * a round trip) or refused (an authorization error, before the connect timeout), and the
 * test case of the users list (test_auth_users.c). */
#ifndef IONATS_TESTS_INTEGRATION_TEST_AUTH_H
#define IONATS_TESTS_INTEGRATION_TEST_AUTH_H

#include "tests/integration/itest.h"

/* NULL credentials are not set. */
void auth_expect_accepted(const char *url, const char *label, const char *user, const char *pass,
                          const char *token);
void auth_expect_refused(const char *url, const char *label, const char *user, const char *pass,
                         const char *token);

/* Users, bcrypt, nkeys, permissions, allow_responses and no_auth_user, from a
 * configuration file given to both brokers. */
TCase *auth_users_tcase(void);

#endif
