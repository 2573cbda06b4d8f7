/* Users from a configuration file, given to ionats and (by the test switch) to nats-server
 * alike: plain and bcrypt passwords, nkeys signing INFO's nonce, per-user publish and
 * subscribe permissions with nats-server's exact -ERR texts, the delivery filter of a
 * subscribe deny list, allow_responses and no_auth_user. Behaviour observed on nats-server
 * 2.9.10 and 2.15.1.
 *
 * The one idea: permission errors are read over a raw socket, each followed by PING, and
 * what came back must be exactly the -ERR line and PONG: nothing else was said, and the
 * connection stays open, as nats-server keeps it. bcrypt hashes (cost 4, quick) and nkeys
 * are made at test time with libxcrypt and libsodium. */
#include "tests/integration/test_auth.h"

#include "proto/nkey.h"

#include <crypt.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { CONFIG_SIZE = 4096, RAW_BUFFER_SIZE = 8192, BCRYPT_COST = 4 };

static const char *bcrypt_hash(const char *password, const char *prefix, char *out, size_t size)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    ck_assert_ptr_nonnull(crypt_gensalt_rn(prefix, BCRYPT_COST, NULL, 0, setting, sizeof setting));
    struct crypt_data *data = calloc(1, sizeof *data);
    ck_assert_ptr_nonnull(data);
    const char *hash = crypt_rn(password, setting, data, sizeof *data);
    ck_assert_ptr_nonnull(hash);
    snprintf(out, size, "%s", hash);
    free(data);
    return out;
}

static const char permissions_config[] =
    "authorization {\n"
    "  users = [\n"
    "    {user: admin, password: \"adminpass\"}\n"
    "    {user: bob, password: \"%s\", permissions: {\n"
    "      publish: {allow: [\"orders.>\", \"auth.check\"], deny: \"orders.secret\"}\n"
    "      subscribe: {allow: [\"orders.*\", \"auth.check\", \"work.* workers\"],\n"
    "                  deny: \"orders.secret\"}\n"
    "    }}\n"
    "    {user: carol, password: \"%s\"}\n"
    "    {user: svc, password: \"svcpass\", permissions: {subscribe: \"svc.>\",\n"
    "                                                    allow_responses: true}}\n"
    "  ]\n"
    "}\n";

static void permissions_server_start(struct test_server *server, char *config, size_t size)
{
    char bob_hash[128];
    char carol_hash[128];
    snprintf(config, size, permissions_config,
             bcrypt_hash("bobpass", "$2b$", bob_hash, sizeof bob_hash),
             bcrypt_hash("carolpass", "$2a$", carol_hash, sizeof carol_hash));
    struct test_server_options options = {.config_text = config};
    itest_server_start(server, &options);
}

START_TEST(test_auth_users_passwords)
{
    struct test_server server;
    char config[CONFIG_SIZE];
    permissions_server_start(&server, config, sizeof config);
    auth_expect_accepted(server.url, "plain password", "admin", "adminpass", NULL);
    auth_expect_accepted(server.url, "$2b$ bcrypt password", "bob", "bobpass", NULL);
    auth_expect_accepted(server.url, "$2a$ bcrypt password", "carol", "carolpass", NULL);
    auth_expect_refused(server.url, "wrong bcrypt password", "bob", "bobpasS", NULL);
    auth_expect_refused(server.url, "the hash as password", "bob", NULL, NULL);
    auth_expect_refused(server.url, "another user's password", "admin", "bobpass", NULL);
    auth_expect_refused(server.url, "unknown user", "mallory", "adminpass", NULL);
    auth_expect_refused(server.url, "no credentials", NULL, NULL, NULL);
    auth_expect_refused(server.url, "a token", NULL, NULL, "adminpass");
    auth_expect_accepted(server.url, "plain password again", "admin", "adminpass", NULL);
    itest_server_stop(&server);
}
END_TEST

/* What a client sends behind its CONNECT, in the same write, is handled after the login
 * and in order, whether a bcrypt comparison decides it (ionats runs those off the shard's
 * loop) or not; after a refused login, none of it is. */
START_TEST(test_auth_users_bcrypt_pipelined)
{
    struct test_server server;
    char config[CONFIG_SIZE];
    permissions_server_start(&server, config, sizeof config);
    static const char *const users[][2] = {{"carol", "carolpass"}, {"admin", "adminpass"}};
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
        int fd = test_connect_raw(server.port);
        ck_assert_int_ge(fd, 0);
        char buffer[AUTH_RAW_BUFFER_SIZE];
        ck_assert_int_ge(test_read_until(fd, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS), 0);
        char ops[512];
        snprintf(ops, sizeof ops,
                 "CONNECT {\"verbose\":true,\"pedantic\":false,\"user\":\"%s\",\"pass\":\"%s\"}"
                 "\r\nSUB piped 1\r\nPUB piped 2\r\nhi\r\n",
                 users[i][0], users[i][1]);
        auth_raw_expect_exactly(fd, ops, "+OK\r\n+OK\r\n+OK\r\nMSG piped 1 2\r\nhi\r\n");
        close(fd);
    }
    int fd = test_connect_raw(server.port);
    ck_assert_int_ge(fd, 0);
    char buffer[AUTH_RAW_BUFFER_SIZE];
    ck_assert_int_ge(test_read_until(fd, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS), 0);
    auth_raw_send(fd, "CONNECT {\"verbose\":true,\"user\":\"carol\",\"pass\":\"wrong\"}\r\n"
                      "SUB piped 1\r\nPING\r\n");
    ck_assert_int_eq(test_read_until(fd, buffer, sizeof buffer, "PONG", ITEST_WAIT_MS),
                     -ECONNRESET);
    ck_assert_str_eq(buffer, "-ERR 'Authorization Violation'\r\n");
    close(fd);
    itest_server_stop(&server);
}
END_TEST

START_TEST(test_auth_users_permission_errors)
{
    struct test_server server;
    char config[CONFIG_SIZE];
    permissions_server_start(&server, config, sizeof config);
    int bob = auth_raw_login(server.port, "bob", "bobpass");
    auth_raw_expect_exactly(bob, "PUB orders.new 2\r\nok\r\n", "");
    auth_raw_expect_exactly(bob, "PUB orders.secret 2\r\nno\r\n",
                       "-ERR 'Permissions Violation for Publish to \"orders.secret\"'\r\n");
    auth_raw_expect_exactly(bob, "PUB billing.x 2\r\nno\r\n",
                       "-ERR 'Permissions Violation for Publish to \"billing.x\"'\r\n");
    auth_raw_expect_exactly(bob, "SUB billing.x 1\r\n",
                       "-ERR 'Permissions Violation for Subscription to \"billing.x\"'\r\n");
    auth_raw_expect_exactly(bob, "SUB orders.secret 2\r\n",
                       "-ERR 'Permissions Violation for Subscription to \"orders.secret\"'\r\n");
    /* "work.* workers" admits that queue only */
    auth_raw_expect_exactly(bob, "SUB work.x 3\r\n",
                       "-ERR 'Permissions Violation for Subscription to \"work.x\"'\r\n");
    auth_raw_expect_exactly(bob, "SUB work.x others 4\r\n",
                       "-ERR 'Permissions Violation for Subscription to \"work.x\" using "
                       "queue \"others\"'\r\n");
    auth_raw_expect_exactly(bob, "SUB work.x workers 5\r\nSUB orders.* 6\r\n", "");

    /* the wildcard subscription does not deliver what the deny list names */
    int admin = auth_raw_login(server.port, "admin", "adminpass");
    auth_raw_expect_exactly(admin, "PUB orders.secret 1\r\nS\r\nPUB orders.ok 1\r\nK\r\n", "");
    auth_raw_read_exactly(bob, "K\r\n", "MSG orders.ok 6 1\r\nK\r\n");
    auth_raw_expect_exactly(admin, "PUB work.x 1\r\nW\r\n", "");
    auth_raw_read_exactly(bob, "W\r\n", "MSG work.x 5 1\r\nW\r\n");
    close(admin);
    close(bob);
    itest_server_stop(&server);
}
END_TEST

START_TEST(test_auth_users_allow_responses)
{
    struct test_server server;
    char config[CONFIG_SIZE];
    permissions_server_start(&server, config, sizeof config);
    int svc = auth_raw_login(server.port, "svc", "svcpass");
    int admin = auth_raw_login(server.port, "admin", "adminpass");
    auth_raw_expect_exactly(svc, "SUB svc.echo 1\r\n", "");
    auth_raw_expect_exactly(admin, "SUB reply.1 9\r\n", "");
    auth_raw_expect_exactly(admin, "PUB svc.echo reply.1 2\r\nhi\r\n", "");
    auth_raw_read_exactly(svc, "hi\r\n", "MSG svc.echo 1 reply.1 2\r\nhi\r\n");
    /* one response to a reply it received (the default max) */
    auth_raw_expect_exactly(svc, "PUB reply.1 2\r\nok\r\n", "");
    auth_raw_read_exactly(admin, "ok\r\n", "MSG reply.1 9 2\r\nok\r\n");
    auth_raw_expect_exactly(svc, "PUB reply.1 2\r\nno\r\n",
                       "-ERR 'Permissions Violation for Publish to \"reply.1\"'\r\n");
    auth_raw_expect_exactly(svc, "PUB reply.2 2\r\nno\r\n",
                       "-ERR 'Permissions Violation for Publish to \"reply.2\"'\r\n");
    /* allow_responses alone leaves no other publish allowed */
    auth_raw_expect_exactly(svc, "PUB svc.echo 2\r\nno\r\n",
                       "-ERR 'Permissions Violation for Publish to \"svc.echo\"'\r\n");
    close(admin);
    close(svc);
    itest_server_stop(&server);
}
END_TEST

/* no_auth_user: a client without credentials is that user, with its permissions. */
START_TEST(test_auth_users_no_auth_user)
{
    static const char config[] =
        "no_auth_user: guest\n"
        "authorization {\n"
        "  users = [\n"
        "    {user: admin, password: adminpass}\n"
        "    {user: guest, password: guestpass, permissions: {publish: \"guest.>\",\n"
        "                                                     subscribe: \"guest.>\"}}\n"
        "  ]\n"
        "}\n";
    struct test_server server;
    struct test_server_options options = {.config_text = config};
    itest_server_start(&server, &options);
    int guest = auth_raw_login(server.port, NULL, NULL);
    auth_raw_expect_exactly(guest, "SUB guest.in 1\r\nPUB guest.in 1\r\nG\r\n",
                       "MSG guest.in 1 1\r\nG\r\n");
    auth_raw_expect_exactly(guest, "PUB admin.x 1\r\nA\r\n",
                       "-ERR 'Permissions Violation for Publish to \"admin.x\"'\r\n");
    close(guest);
    auth_expect_refused(server.url, "wrong password for a named user", "admin", "guestpass", NULL);
    auth_expect_accepted(server.url, "named user", "admin", "adminpass", NULL);
    itest_server_stop(&server);
}
END_TEST

/* ---- reload ---- */

static const char reload_before[] =
    "max_connections: 100\n"
    "authorization {\n"
    "  users = [\n"
    "    {user: alice, password: apass, permissions: {publish: \">\", subscribe: \">\"}}\n"
    "    {user: bob, password: bpass}\n"
    "    {user: carol, password: cpass}\n"
    "  ]\n"
    "}\n";

static const char reload_after[] =
    "max_connections: 3\n"
    "authorization {\n"
    "  users = [\n"
    "    {user: alice, password: apass, permissions: {publish: \">\", subscribe: \"a.>\"}}\n"
    "    {user: carol, password: cpass}\n"
    "  ]\n"
    "}\n";

/* SIGHUP: a user taken out is cut off (without a word, as by nats-server); a user whose
 * permissions shrank stays, and loses the subscription they no longer allow (nats-server's
 * -ERR names its sid); a lowered max_connections applies to the next connection (it is
 * not below the clients left: nats-server would close some); the others do not notice. */
START_TEST(test_auth_users_reload)
{
    struct test_server server;
    struct test_server_options options = {.config_text = reload_before};
    itest_server_start(&server, &options);
    int alice = auth_raw_login(server.port, "alice", "apass");
    int bob = auth_raw_login(server.port, "bob", "bpass");
    int carol = auth_raw_login(server.port, "carol", "cpass");
    auth_raw_expect_exactly(alice, "SUB a.x 1\r\nSUB b.x 2\r\n", "");
    /* what a reload cannot change refuses the whole file, and nothing changes */
    static const char renamed[] = "server_name: renamed\nmax_connections: 100\n";
    itest_config_rewrite(&server, "max_connections: 100\n", renamed);
    ck_assert(itest_log_shows(&server,
                              "Failed to reload server configuration: config reload not "
                              "supported for ",
                              ITEST_WAIT_MS));
    auth_raw_expect_exactly(bob, "", "");
    itest_config_rewrite(&server, renamed, "max_connections: 100\n");
    itest_config_rewrite(&server, reload_before, reload_after);
    char buffer[RAW_BUFFER_SIZE];
    ck_assert_int_eq(test_read_until(bob, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS),
                     -ECONNRESET); /* closed without a word */
    close(bob);
    auth_raw_read_exactly(alice, "\r\n",
                     "-ERR 'Permissions Violation for Subscription to \"b.x\" (sid \"2\")'\r\n");
    auth_raw_expect_exactly(carol, "PUB b.x 1\r\nB\r\nPUB a.x 1\r\nA\r\n", "");
    auth_raw_read_exactly(alice, "A\r\n", "MSG a.x 1 1\r\nA\r\n");
    auth_raw_expect_exactly(alice, "", "");
    /* alice, carol and dave are three: a fourth is one too many now */
    int dave = auth_raw_login(server.port, "carol", "cpass");
    int eve = test_connect_raw(server.port);
    ck_assert_int_ge(eve, 0);
    ck_assert_int_ge(test_read_until(eve, buffer, sizeof buffer, "maximum connections exceeded",
                                     ITEST_WAIT_MS),
                     0);
    close(eve);
    close(dave);
    auth_raw_expect_exactly(carol, "", "");
    close(alice);
    close(carol);
    itest_server_stop(&server);
}
END_TEST

/* ---- nkeys ---- */

struct nkey_pair {
    char public_key[NKEY_PUBLIC_LENGTH + 1];
    char seed_path[64];
};

static void nkey_pair_make(struct nkey_pair *pair, int index)
{
    uint8_t seed[NKEY_KEY_SIZE];
    uint8_t public_key[crypto_sign_PUBLICKEYBYTES];
    uint8_t secret_key[crypto_sign_SECRETKEYBYTES];
    ck_assert_int_ge(sodium_init(), 0);
    randombytes_buf(seed, sizeof seed);
    ck_assert_int_eq(crypto_sign_seed_keypair(public_key, secret_key, seed), 0);
    nkey_public_encode(NKEY_TYPE_USER, public_key, pair->public_key);
    char seed_text[NKEY_SEED_LENGTH + 1];
    nkey_seed_encode(NKEY_TYPE_USER, seed, seed_text);
    /* a name no other process can hold (mkstemp): a seed file overwritten by another test
     * would make the signature fail */
    snprintf(pair->seed_path, sizeof pair->seed_path, "/tmp/ionats-test-%d-%d-XXXXXX",
             (int)getpid(), index);
    int fd = mkstemp(pair->seed_path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s\n", seed_text);
    fclose(f);
}

static natsStatus nkey_connect(const char *url, const struct nkey_pair *pair,
                               natsConnection **connection)
{
    natsOptions *options = itest_options(url);
    ITEST_OK(natsOptions_SetNKeyFromSeed(options, pair->public_key, pair->seed_path));
    *connection = NULL;
    natsStatus status = natsConnection_Connect(connection, options);
    natsOptions_Destroy(options);
    return status;
}

START_TEST(test_auth_users_nkey)
{
    struct nkey_pair known;
    struct nkey_pair stranger;
    nkey_pair_make(&known, 1);
    nkey_pair_make(&stranger, 2);
    char config[CONFIG_SIZE];
    snprintf(config, sizeof config,
             "authorization { users = [ {nkey: %s, permissions: {publish: \"nk.>\", "
             "subscribe: \"nk.>\"}} ] }\n",
             known.public_key);
    struct test_server server;
    struct test_server_options options = {.config_text = config};
    itest_server_start(&server, &options);

    /* INFO carries a nonce for the client to sign */
    int fd = test_connect_raw(server.port);
    ck_assert_int_ge(fd, 0);
    char buffer[RAW_BUFFER_SIZE];
    ck_assert_int_ge(test_read_until(fd, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS), 0);
    ck_assert_msg(strstr(buffer, "\"nonce\":\"") != NULL, "INFO: %s", buffer);
    /* the right key with a signature of something else */
    char connect[512];
    snprintf(connect, sizeof connect,
             "CONNECT {\"verbose\":false,\"nkey\":\"%s\",\"sig\":\"AAAA\"}\r\nPING\r\n",
             known.public_key);
    auth_raw_send(fd, connect);
    ck_assert_int_ge(test_read_until(fd, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS), 0);
    ck_assert_str_eq(buffer, "-ERR 'Authorization Violation'\r\n");
    close(fd);

    natsConnection *connection = NULL;
    ITEST_OK(nkey_connect(server.url, &known, &connection));
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, connection, "nk.in"));
    ITEST_OK(natsConnection_PublishString(connection, "nk.in", "signed"));
    natsMsg *msg = NULL;
    ITEST_OK(natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS));
    ck_assert_str_eq(natsMsg_GetData(msg), "signed");
    natsMsg_Destroy(msg);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(connection);

    natsStatus status = nkey_connect(server.url, &stranger, &connection);
    ck_assert_msg(status == NATS_CONNECTION_AUTH_FAILED || status == NATS_NOT_PERMITTED,
                  "an unknown nkey: %s", natsStatus_GetText(status));
    auth_expect_refused(server.url, "no credentials", NULL, NULL, NULL);
    unlink(known.seed_path);
    unlink(stranger.seed_path);
    itest_server_stop(&server);
}
END_TEST

TCase *auth_users_tcase(void)
{
    TCase *tc = tcase_create("users");
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_auth_users_passwords);
    tcase_add_test(tc, test_auth_users_bcrypt_pipelined);
    tcase_add_test(tc, test_auth_users_permission_errors);
    tcase_add_test(tc, test_auth_users_allow_responses);
    tcase_add_test(tc, test_auth_users_no_auth_user);
    tcase_add_test(tc, test_auth_users_nkey);
    tcase_add_test(tc, test_auth_users_reload);
    return tc;
}
