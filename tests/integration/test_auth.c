/* Authentication through libnats: a broker configured with a user and password, or with a
 * token, admits a client that presents them and refuses every other client at CONNECT.
 *
 * The one idea: each refusal is checked against a control that succeeds on the same broker
 * in the same test, so a refusal cannot come from a broker that refuses everything (or is
 * not there), and each success is proven by a message round trip, not by the connect call
 * alone. */
#include "tests/integration/test_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char auth_user[] = "alice";
static const char auth_pass[] = "s3cret-pass";
static const char auth_token[] = "t0ken-xyz";

/* Room for the INFO line. */
enum { INFO_BUFFER_SIZE = 4096 };

/* Proves a connection works: subscribe, publish to itself, receive. */
static void auth_round_trip(natsConnection *connection)
{
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, connection, "auth.check"));
    ITEST_OK(natsConnection_PublishString(connection, "auth.check", "hello"));
    natsMsg *msg = NULL;
    ITEST_OK(natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS));
    ck_assert_str_eq(natsMsg_GetData(msg), "hello");
    natsMsg_Destroy(msg);
    natsSubscription_Destroy(sub);
}

/* Connects with the given credentials; NULL ones are not set. */
static natsStatus auth_connect(const char *url, const char *user, const char *pass,
                               const char *token, natsConnection **connection)
{
    natsOptions *options = itest_options(url);
    if (user != NULL) {
        ITEST_OK(natsOptions_SetUserInfo(options, user, pass));
    }
    if (token != NULL) {
        ITEST_OK(natsOptions_SetToken(options, token));
    }
    *connection = NULL;
    natsStatus status = natsConnection_Connect(connection, options);
    natsOptions_Destroy(options);
    return status;
}

void auth_expect_accepted(const char *url, const char *label, const char *user,
                          const char *pass, const char *token)
{
    natsConnection *connection = NULL;
    natsStatus status = auth_connect(url, user, pass, token, &connection);
    ck_assert_msg(status == NATS_OK, "%s: refused: %s (%s)", label, natsStatus_GetText(status),
                  itest_last_error());
    auth_round_trip(connection);
    natsConnection_Destroy(connection);
}

/* A refusal is an authentication error, reported before the connect timeout: a broker that
 * never answers would give NATS_TIMEOUT or NATS_NO_SERVER instead. */
void auth_expect_refused(const char *url, const char *label, const char *user,
                         const char *pass, const char *token)
{
    natsConnection *connection = NULL;
    int64_t start_ms = itest_now_ms();
    natsStatus status = auth_connect(url, user, pass, token, &connection);
    int64_t elapsed_ms = itest_now_ms() - start_ms;
    ck_assert_msg(status == NATS_CONNECTION_AUTH_FAILED || status == NATS_NOT_PERMITTED,
                  "%s: expected an authorization failure, got %s (%s)", label,
                  natsStatus_GetText(status), itest_last_error());
    ck_assert_ptr_null(connection);
    ck_assert_msg(elapsed_ms < ITEST_CONNECT_TIMEOUT_MS, "%s: refusal took %lld ms", label,
                  (long long)elapsed_ms);
}

/* The INFO a client reads first says that authentication is required. */
static void auth_expect_info_requires_auth(int port)
{
    int fd = test_connect_raw(port);
    ck_assert_int_ge(fd, 0);
    char buffer[INFO_BUFFER_SIZE];
    ck_assert_int_ge(test_read_until(fd, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS), 0);
    ck_assert_msg(strncmp(buffer, "INFO {", 6) == 0, "first line: %s", buffer);
    ck_assert_msg(strstr(buffer, "\"auth_required\":true") != NULL, "INFO: %s", buffer);
    close(fd);
}

START_TEST(test_auth_user_password)
{
    struct test_server server;
    struct test_server_options options = {.user = auth_user, .pass = auth_pass};
    itest_server_start(&server, &options);
    auth_expect_info_requires_auth(server.port);

    auth_expect_accepted(server.url, "right user and password", auth_user, auth_pass, NULL);
    auth_expect_refused(server.url, "wrong password", auth_user, "wrong-pass", NULL);
    auth_expect_refused(server.url, "wrong user", "mallory", auth_pass, NULL);
    auth_expect_refused(server.url, "no credentials", NULL, NULL, NULL);
    auth_expect_refused(server.url, "password as token", NULL, NULL, auth_pass);

    /* Credentials in the URL are what many applications use. */
    char url[128];
    snprintf(url, sizeof url, "nats://%s:%s@127.0.0.1:%d", auth_user, auth_pass, server.port);
    auth_expect_accepted(url, "credentials in the URL", NULL, NULL, NULL);
    snprintf(url, sizeof url, "nats://%s:nope@127.0.0.1:%d", auth_user, server.port);
    auth_expect_refused(url, "wrong password in the URL", NULL, NULL, NULL);

    /* Refusals leave the broker serving: the right credentials still work afterwards. */
    auth_expect_accepted(server.url, "right credentials again", auth_user, auth_pass, NULL);
    itest_server_stop(&server);
}
END_TEST

START_TEST(test_auth_token)
{
    struct test_server server;
    struct test_server_options options = {.token = auth_token};
    itest_server_start(&server, &options);
    auth_expect_info_requires_auth(server.port);

    auth_expect_accepted(server.url, "right token", NULL, NULL, auth_token);
    auth_expect_refused(server.url, "wrong token", NULL, NULL, "t0ken-xyZ");
    auth_expect_refused(server.url, "no token", NULL, NULL, NULL);
    auth_expect_refused(server.url, "token as user", auth_token, auth_token, NULL);

    char url[128];
    snprintf(url, sizeof url, "nats://%s@127.0.0.1:%d", auth_token, server.port);
    auth_expect_accepted(url, "token in the URL", NULL, NULL, NULL);
    itest_server_stop(&server);
}
END_TEST

/* Without auth configured, INFO does not ask for it and any credentials are ignored. */
START_TEST(test_auth_none)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    int fd = test_connect_raw(server.port);
    ck_assert_int_ge(fd, 0);
    char buffer[INFO_BUFFER_SIZE];
    ck_assert_int_ge(test_read_until(fd, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS), 0);
    ck_assert_msg(strncmp(buffer, "INFO {", 6) == 0, "first line: %s", buffer);
    ck_assert_msg(strstr(buffer, "\"auth_required\":true") == NULL, "INFO: %s", buffer);
    close(fd);
    auth_expect_accepted(server.url, "no credentials", NULL, NULL, NULL);
    auth_expect_accepted(server.url, "unneeded credentials", auth_user, auth_pass, NULL);
    itest_server_stop(&server);
}
END_TEST

/* ---- raw connections ---- */

void auth_raw_send(int fd, const char *text)
{
    size_t length = strlen(text);
    ck_assert_int_eq(write(fd, text, length), (ssize_t)length);
}

/* Sends `ops` and a PING; what comes back up to PONG must be `expected` and PONG. */
void auth_raw_expect_exactly(int fd, const char *ops, const char *expected)
{
    char buffer[AUTH_RAW_BUFFER_SIZE];
    auth_raw_send(fd, ops);
    auth_raw_send(fd, "PING\r\n");
    ck_assert_int_ge(test_read_until(fd, buffer, sizeof buffer, "PONG\r\n", ITEST_WAIT_MS), 0);
    char want[AUTH_RAW_BUFFER_SIZE];
    snprintf(want, sizeof want, "%sPONG\r\n", expected);
    ck_assert_str_eq(buffer, want);
}

/* Reads until `needle` and checks everything read is exactly `expected`. */
void auth_raw_read_exactly(int fd, const char *needle, const char *expected)
{
    char buffer[AUTH_RAW_BUFFER_SIZE];
    ck_assert_int_ge(test_read_until(fd, buffer, sizeof buffer, needle, ITEST_WAIT_MS), 0);
    ck_assert_str_eq(buffer, expected);
}

/* A raw client logged in as `user` (NULL: no credentials), past INFO and its first PONG. */
int auth_raw_login(int port, const char *user, const char *pass)
{
    int fd = test_connect_raw(port);
    ck_assert_int_ge(fd, 0);
    char buffer[AUTH_RAW_BUFFER_SIZE];
    ck_assert_int_ge(test_read_until(fd, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS), 0);
    char connect[512];
    if (user != NULL) {
        snprintf(
            connect, sizeof connect,
            "CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"%s\",\"pass\":\"%s\"}\r\n",
            user, pass);
    } else {
        snprintf(connect, sizeof connect, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
    }
    auth_raw_expect_exactly(fd, connect, "");
    return fd;
}

static Suite *auth_suite(void)
{
    Suite *suite = suite_create("integration_auth");
    TCase *tc = tcase_create("auth");
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_auth_user_password);
    tcase_add_test(tc, test_auth_token);
    tcase_add_test(tc, test_auth_none);
    suite_add_tcase(suite, tc);
    suite_add_tcase(suite, auth_users_tcase());
    suite_add_tcase(suite, auth_reload_tcase());
    return suite;
}

int main(void)
{
    return itest_run(auth_suite());
}
