/* What a configuration reload (SIGHUP) changes besides users, given to ionats and (by the
 * test switch) to nats-server alike: a lowered max_connections closes the clients past it
 * with -ERR 'maximum connections exceeded' (nats-server picks them at random: any of them
 * may go, exactly that many must); a lowered max_payload applies to the clients already
 * connected and to the INFO of new ones; ping_interval and ping_max apply from the next
 * ping on; logtime; what a reload may not raise is refused and changes nothing. Behaviour
 * observed on nats-server 2.9.10 and 2.15.1.
 *
 * The one idea: raw connections read every byte, so a client that must stay untouched is
 * shown to have heard nothing (PING, then exactly PONG). */
#include "tests/integration/test_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { CLIENT_COUNT = 6, KEPT_COUNT = 4 };

static const char limits_before[] = "max_connections: 100\n"
                                    "max_payload: 2048\n"
                                    "ping_interval: \"60s\"\n"
                                    "ping_max: 2\n";

static const char limits_after[] = "max_connections: 4\n"
                                   "max_payload: 512\n"
                                   "ping_interval: \"1s\"\n"
                                   "ping_max: 1\n";

/* True when the client was closed for max_connections: its last words, then the end. */
static bool closed_for_max_connections(int fd)
{
    char buffer[AUTH_RAW_BUFFER_SIZE];
    auth_raw_send(fd, "PING\r\n");
    long got = test_read_until(fd, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS);
    if (got >= 0 && strcmp(buffer, "PONG\r\n") == 0) {
        return false;
    }
    ck_assert_msg(got >= 0 && strcmp(buffer, "-ERR 'maximum connections exceeded'\r\n") == 0,
                  "a client heard: %s", got >= 0 ? buffer : "(nothing)");
    ck_assert_int_lt(test_read_until(fd, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS), 0);
    return true;
}

/* A new client once the broker admits it (a client just closed may not be counted out
 * yet), with its INFO line in `info`. A refused one hears -ERR 'maximum connections
 * exceeded' and is closed at once, so its -ERR may come with INFO, or be overtaken by the
 * reset our CONNECT meets: each is a refusal, tried again. */
static int fresh_client(int port, char *info, size_t size)
{
    static const char ops[] = "CONNECT {\"verbose\":false}\r\nPING\r\n";
    char buffer[AUTH_RAW_BUFFER_SIZE];
    int64_t deadline = itest_now_ms() + ITEST_WAIT_MS;
    for (;;) {
        int fd = test_connect_raw(port);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_ge(test_read_until(fd, info, size, "\r\n", ITEST_WAIT_MS), 0);
        if (strstr(info, "maximum connections exceeded") == NULL) {
            long got = -1;
            if (send(fd, ops, sizeof ops - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof ops - 1)) {
                got = test_read_until(fd, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS);
            }
            if (got >= 0 && strcmp(buffer, "PONG\r\n") == 0) {
                return fd;
            }
            ck_assert_msg(got < 0 || strcmp(buffer, "-ERR 'maximum connections exceeded'\r\n") == 0,
                          "a new client heard: %s", buffer);
        }
        close(fd);
        ck_assert_int_lt(itest_now_ms(), deadline);
        usleep(20 * 1000);
    }
}

/* max_connections 100 → 4 with six clients: exactly two are closed; max_payload 2048 →
 * 512: a survivor publishing 600 bytes is cut off as nats-server cuts it, a new client's
 * INFO says 512, and 500 bytes still pass. */
START_TEST(test_reload_limits)
{
    struct test_server server;
    struct test_server_options options = {.config_text = limits_before};
    itest_server_start(&server, &options);
    int fds[CLIENT_COUNT];
    for (int i = 0; i < CLIENT_COUNT; i++) {
        fds[i] = auth_raw_login(server.port, NULL, NULL);
    }
    itest_config_rewrite(&server, limits_before, limits_after);
    ck_assert(itest_log_shows(&server, "Reloaded server configuration", ITEST_WAIT_MS));
    int kept[CLIENT_COUNT];
    int kept_count = 0;
    for (int i = 0; i < CLIENT_COUNT; i++) {
        if (closed_for_max_connections(fds[i])) {
            close(fds[i]);
        } else {
            kept[kept_count++] = fds[i];
        }
    }
    ck_assert_int_eq(kept_count, KEPT_COUNT);
    char payload[601];
    memset(payload, 'x', sizeof payload - 1);
    payload[sizeof payload - 1] = '\0';
    char op[700];
    snprintf(op, sizeof op, "PUB big 500\r\n%.500s\r\n", payload);
    auth_raw_expect_exactly(kept[1], op, "");
    snprintf(op, sizeof op, "PUB big 600\r\n%s\r\n", payload);
    auth_raw_send(kept[0], op);
    auth_raw_read_exactly(kept[0], "\r\n", "-ERR 'Maximum Payload Violation'\r\n");
    close(kept[0]);
    /* the closed one is gone: a new client fits under max_connections again */
    char info[AUTH_RAW_BUFFER_SIZE];
    int fresh = fresh_client(server.port, info, sizeof info);
    ck_assert_msg(strstr(info, "\"max_payload\":512") != NULL, "INFO: %s", info);
    close(fresh);
    for (int i = 1; i < kept_count; i++) {
        auth_raw_expect_exactly(kept[i], "", "");
        close(kept[i]);
    }
    itest_server_stop(&server);
}
END_TEST

/* ping_interval 60 s → 1 s and ping_max 2 → 1: the first ping still comes (at 2 s, the
 * first one's interval), and the next one, a second later, finds one unanswered: stale. */
START_TEST(test_reload_pings)
{
    struct test_server server;
    struct test_server_options options = {.config_text = limits_before};
    itest_server_start(&server, &options);
    int fd = auth_raw_login(server.port, NULL, NULL);
    itest_config_rewrite(&server, limits_before, limits_after);
    ck_assert(itest_log_shows(&server, "Reloaded server configuration", ITEST_WAIT_MS));
    char buffer[AUTH_RAW_BUFFER_SIZE];
    ck_assert_int_ge(test_read_until(fd, buffer, sizeof buffer, "'Stale Connection'\r\n",
                                     ITEST_WAIT_MS),
                     0);
    ck_assert_str_eq(buffer, "PING\r\n-ERR 'Stale Connection'\r\n");
    close(fd);
    itest_server_stop(&server);
}
END_TEST

/* Raising max_payload past what ionats started with is refused (its buffers are sized for
 * it; nats-server takes it), and the refusal changes nothing: not even what else the file
 * changed. */
START_TEST(test_reload_payload_raised)
{
    if (getenv("IONATS_TEST_SERVER") != NULL) {
        return; /* ionats's own limit */
    }
    struct test_server server;
    struct test_server_options options = {.config_text = limits_before};
    itest_server_start(&server, &options);
    int fd = auth_raw_login(server.port, NULL, NULL);
    itest_config_rewrite(&server, "max_payload: 2048\nping_interval: \"60s\"\n",
                         "max_payload: 4096\nping_interval: \"1s\"\n");
    ck_assert(itest_log_shows(&server,
                              "Failed to reload server configuration: config reload not "
                              "supported for max_payload: old=2048, new=4096 (above the 2048",
                              ITEST_WAIT_MS));
    char info[AUTH_RAW_BUFFER_SIZE];
    int fresh = fresh_client(server.port, info, sizeof info);
    ck_assert_msg(strstr(info, "\"max_payload\":2048") != NULL, "INFO: %s", info);
    close(fresh);
    auth_raw_expect_exactly(fd, "", "");
    close(fd);
    itest_server_stop(&server);
}
END_TEST

TCase *auth_reload_tcase(void)
{
    TCase *tc = tcase_create("reload");
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_reload_limits);
    tcase_add_test(tc, test_reload_pings);
    tcase_add_test(tc, test_reload_payload_raised);
    return tc;
}
