/* TLS for clients, through libnats and, where libnats 3.4 cannot (a handshake before
 * INFO), through OpenSSL directly; certificates (a CA, the server's for 127.0.0.1, a
 * client's) are made by the openssl command once per run. Each case runs against ionats
 * and, by the test switch, nats-server: the same tls {} block goes to both.
 *
 * What must show: INFO (in plain text) says tls_required (and tls_verify); a client that
 * verifies the server, and one that skips verification, both get a round trip; client
 * certificates are required when verify is on; a handshake before INFO
 * (handshake_first, nats-server 2.10 and later); plain text to the TLS port and a client
 * that never starts its handshake are cut off without a word; TLS to a plain port gets
 * nats-server's parse error; verify_and_map names the user by the client's certificate;
 * cipher_suites and curve_preferences by Go's names; a reload renews the certificate or turns TLS off for new
 * clients and keeps the connected ones. */
#include "tests/integration/itest.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BUFFER_SIZE = 4096, CONFIG_SIZE = 1024 };

static char cert_dir[64];

static bool certs_make(void)
{
    return itest_certs_make(cert_dir, sizeof cert_dir);
}

static void certs_remove(void)
{
    itest_certs_remove(cert_dir);
}

static const char *cert_path(const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", cert_dir, name);
    return out;
}

/* Starts a broker with `tls { ... extra }`. */
static void tls_server_start(struct test_server *server, char *config, const char *extra)
{
    snprintf(config, CONFIG_SIZE,
             "tls {\n  cert_file: \"%s/server.pem\"\n  key_file: \"%s/server.key\"\n"
             "  ca_file: \"%s/ca.pem\"\n%s}\n",
             cert_dir, cert_dir, cert_dir, extra);
    struct test_server_options options = {.config_text = config};
    itest_server_start(server, &options);
}

static natsOptions *tls_options(const char *url, bool verify_server, bool client_cert)
{
    char ca[128];
    char cert[128];
    char key[128];
    natsOptions *options = itest_options(url);
    ITEST_OK(natsOptions_SetSecure(options, true));
    if (verify_server) {
        ITEST_OK(
            natsOptions_LoadCATrustedCertificates(options, cert_path("ca.pem", ca, sizeof ca)));
    } else {
        ITEST_OK(natsOptions_SkipServerVerification(options, true));
    }
    if (client_cert) {
        ITEST_OK(natsOptions_LoadCertificatesChain(options,
                                                   cert_path("client.pem", cert, sizeof cert),
                                                   cert_path("client.key", key, sizeof key)));
    }
    return options;
}

/* A round trip over the connection: subscribe, publish, receive. */
static void round_trip(natsConnection *connection, const char *subject)
{
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, connection, subject));
    ITEST_OK(natsConnection_PublishString(connection, subject, "sealed"));
    natsMsg *msg = NULL;
    ITEST_OK(natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS));
    ck_assert_str_eq(natsMsg_GetData(msg), "sealed");
    natsMsg_Destroy(msg);
    natsSubscription_Destroy(sub);
}

static natsStatus tls_connect(natsOptions *options, natsConnection **connection)
{
    *connection = NULL;
    natsStatus status = natsConnection_Connect(connection, options);
    natsOptions_Destroy(options);
    return status;
}

static void read_info(int fd, char *buffer, size_t size)
{
    ck_assert_int_ge(test_read_until(fd, buffer, size, "\r\n", ITEST_WAIT_MS), 0);
    ck_assert_msg(strncmp(buffer, "INFO {", 6) == 0, "first line: %s", buffer);
}

/* The server closes without a word: EOF (or a reset), not a timeout. */
static void expect_silent_close(int fd, const char *label)
{
    char buffer[BUFFER_SIZE];
    long n = test_read_until(fd, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS);
    ck_assert_msg(n == -ECONNRESET, "%s: expected a close, got %ld (%s)", label, n,
                  n >= 0 ? buffer : "");
}

START_TEST(test_tls_connect)
{
    struct test_server server;
    char config[CONFIG_SIZE];
    tls_server_start(&server, config, "");
    int fd = test_connect_raw(server.port);
    ck_assert_int_ge(fd, 0);
    char buffer[BUFFER_SIZE];
    read_info(fd, buffer, sizeof buffer);
    ck_assert_msg(strstr(buffer, "\"tls_required\":true") != NULL, "INFO: %s", buffer);
    ck_assert_msg(strstr(buffer, "\"tls_verify\"") == NULL, "INFO: %s", buffer);
    /* plain text where a handshake belongs */
    const char connect[] = "CONNECT {\"verbose\":false}\r\nPING\r\n";
    ck_assert_int_eq(write(fd, connect, sizeof connect - 1), (ssize_t)(sizeof connect - 1));
    expect_silent_close(fd, "plain text to the TLS port");
    close(fd);

    natsConnection *connection = NULL;
    ITEST_OK(tls_connect(tls_options(server.url, true, false), &connection));
    round_trip(connection, "tls.verified");
    natsConnection_Destroy(connection);
    ITEST_OK(tls_connect(tls_options(server.url, false, false), &connection));
    round_trip(connection, "tls.unverified");
    /* a bigger payload crosses several records */
    enum { BIG = 200 * 1024 };
    char *payload = malloc(BIG);
    ck_assert_ptr_nonnull(payload);
    itest_payload_fill((unsigned char *)payload, BIG, 7);
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, connection, "tls.big"));
    ITEST_OK(natsConnection_Publish(connection, "tls.big", payload, BIG));
    natsMsg *msg = NULL;
    ITEST_OK(natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS));
    ck_assert_int_eq(natsMsg_GetDataLength(msg), BIG);
    ck_assert(itest_payload_check(natsMsg_GetData(msg), BIG, 7));
    natsMsg_Destroy(msg);
    natsSubscription_Destroy(sub);
    free(payload);
    natsConnection_Destroy(connection);

    /* a client not set up for TLS reads tls_required in INFO and tries its handshake,
     * which fails without the CA that signed the server's certificate */
    natsOptions *plain = itest_options(server.url);
    natsStatus status = tls_connect(plain, &connection);
    ck_assert_msg(status == NATS_SSL_ERROR, "plain client: %s", natsStatus_GetText(status));
    itest_server_stop(&server);
}
END_TEST

START_TEST(test_tls_client_certificates)
{
    struct test_server server;
    char config[CONFIG_SIZE];
    tls_server_start(&server, config, "  verify: true\n");
    int fd = test_connect_raw(server.port);
    ck_assert_int_ge(fd, 0);
    char buffer[BUFFER_SIZE];
    read_info(fd, buffer, sizeof buffer);
    ck_assert_msg(strstr(buffer, "\"tls_verify\":true") != NULL, "INFO: %s", buffer);
    close(fd);
    natsConnection *connection = NULL;
    ITEST_OK(tls_connect(tls_options(server.url, true, true), &connection));
    round_trip(connection, "tls.client");
    natsConnection_Destroy(connection);
    natsStatus status = tls_connect(tls_options(server.url, true, false), &connection);
    ck_assert_msg(status != NATS_OK, "a client without a certificate was let in");
    ck_assert_ptr_null(connection);
    /* refusals leave the broker serving */
    ITEST_OK(tls_connect(tls_options(server.url, true, true), &connection));
    natsConnection_Destroy(connection);
    itest_server_stop(&server);
}
END_TEST

/* A client that never starts its handshake is cut off after the TLS timeout. */
START_TEST(test_tls_handshake_timeout)
{
    struct test_server server;
    char config[CONFIG_SIZE];
    tls_server_start(&server, config, "  timeout: 0.5\n");
    int fd = test_connect_raw(server.port);
    ck_assert_int_ge(fd, 0);
    char buffer[BUFFER_SIZE];
    read_info(fd, buffer, sizeof buffer);
    long start = test_now_ms();
    expect_silent_close(fd, "no handshake");
    ck_assert_int_lt(test_now_ms() - start, ITEST_WAIT_MS);
    close(fd);
    itest_server_stop(&server);
}
END_TEST

/* A TLS client on `port` past INFO: its handshake (at most TLS 1.2 when `tls12`, no
 * certificate checks) made; NULL (and *ctx freed) when it failed. */
static SSL *tls_raw_connect(int port, bool tls12, SSL_CTX **ctx, int *fd)
{
    *fd = test_connect_raw(port);
    ck_assert_int_ge(*fd, 0);
    char info[BUFFER_SIZE];
    read_info(*fd, info, sizeof info);
    *ctx = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(*ctx);
    if (tls12) {
        ck_assert_int_eq(SSL_CTX_set_max_proto_version(*ctx, TLS1_2_VERSION), 1);
    }
    SSL_CTX_set_verify(*ctx, SSL_VERIFY_NONE, NULL);
    SSL *ssl = SSL_new(*ctx);
    ck_assert_ptr_nonnull(ssl);
    SSL_set_fd(ssl, *fd);
    if (SSL_connect(ssl) != 1) {
        SSL_free(ssl);
        SSL_CTX_free(*ctx);
        *ctx = NULL;
        ERR_clear_error();
        return NULL;
    }
    return ssl;
}

static void tls_raw_close(SSL *ssl, SSL_CTX *ctx, int fd)
{
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    close(fd);
}

/* A TLS 1.2 handshake after INFO, its result: true when it completed. */
static bool handshake_tls12(int port)
{
    SSL_CTX *ctx = NULL;
    int fd = -1;
    SSL *ssl = tls_raw_connect(port, true, &ctx, &fd);
    tls_raw_close(ssl, ctx, fd);
    return ssl != NULL;
}

static bool handshake_first_known(void);

/* tls { min_version: "1.3" } (--tls_min_version): a client held to TLS 1.2 is refused,
 * one that speaks 1.3 gets on (nats-server 2.10 and later read min_version). */
START_TEST(test_tls_min_version)
{
    if (!handshake_first_known()) {
        return; /* nats-server 2.9 has no min_version either */
    }
    struct test_server server;
    char config[CONFIG_SIZE];
    tls_server_start(&server, config, "  min_version: \"1.2\"\n");
    ck_assert(handshake_tls12(server.port));
    itest_server_stop(&server);
    tls_server_start(&server, config, "  min_version: \"1.3\"\n");
    ck_assert(!handshake_tls12(server.port));
    natsConnection *connection = NULL;
    natsOptions *options = tls_options(server.url, true, false);
    ITEST_OK(tls_connect(options, &connection));
    round_trip(connection, "min.version");
    natsConnection_Destroy(connection);
    itest_server_stop(&server);
}
END_TEST

/* True when the broker under test knows handshake_first (nats-server 2.10 and later). */
static bool handshake_first_known(void)
{
    if (!test_server_reference()) {
        return true;
    }
    FILE *version = popen("nats-server --version", "r");
    ck_assert_ptr_nonnull(version);
    int major = 0;
    int minor = 0;
    int matched = fscanf(version, "nats-server: v%d.%d", &major, &minor);
    pclose(version);
    return matched == 2 && (major > 2 || (major == 2 && minor >= 10));
}

START_TEST(test_tls_handshake_first)
{
    if (!handshake_first_known()) {
        return; /* nats-server 2.9 has no handshake_first */
    }
    struct test_server server;
    char config[CONFIG_SIZE];
    tls_server_start(&server, config, "  handshake_first: true\n");
    int fd = test_connect_raw(server.port);
    ck_assert_int_ge(fd, 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(ctx);
    char ca[128];
    ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, cert_path("ca.pem", ca, sizeof ca), NULL),
                     1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL *ssl = SSL_new(ctx);
    ck_assert_ptr_nonnull(ssl);
    SSL_set_fd(ssl, fd);
    ck_assert_msg(SSL_connect(ssl) == 1, "handshake before INFO failed");
    char buffer[BUFFER_SIZE];
    size_t have = 0;
    while (have < sizeof buffer - 1 && memchr(buffer, '\n', have) == NULL) {
        int n = SSL_read(ssl, buffer + have, (int)(sizeof buffer - 1 - have));
        ck_assert_int_gt(n, 0);
        have += (size_t)n;
    }
    buffer[have] = '\0';
    ck_assert_msg(strncmp(buffer, "INFO {", 6) == 0, "first line inside TLS: %s", buffer);
    ck_assert_msg(strstr(buffer, "\"tls_required\":true") != NULL, "INFO: %s", buffer);
    const char ops[] = "CONNECT {\"verbose\":false}\r\nPING\r\n";
    ck_assert_int_eq(SSL_write(ssl, ops, sizeof ops - 1), (int)(sizeof ops - 1));
    int n = SSL_read(ssl, buffer, sizeof buffer - 1);
    ck_assert_int_gt(n, 0);
    buffer[n] = '\0';
    ck_assert_str_eq(buffer, "PONG\r\n");
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    itest_server_stop(&server);
}
END_TEST

/* Reads one HTTP response over TLS from `port` for `path` into `buffer`. */
static void https_get(int port, const char *path, char *buffer, size_t size)
{
    int fd = test_connect_raw(port);
    ck_assert_int_ge(fd, 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(ctx);
    char ca[128];
    ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, cert_path("ca.pem", ca, sizeof ca), NULL),
                     1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL *ssl = SSL_new(ctx);
    ck_assert_ptr_nonnull(ssl);
    SSL_set_fd(ssl, fd);
    ck_assert_msg(SSL_connect(ssl) == 1, "HTTPS handshake failed");
    char request[256];
    snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
             path);
    ck_assert_int_eq(SSL_write(ssl, request, (int)strlen(request)), (int)strlen(request));
    size_t have = 0;
    for (;;) {
        int n = SSL_read(ssl, buffer + have, (int)(size - 1 - have));
        if (n <= 0) {
            break;
        }
        have += (size_t)n;
    }
    buffer[have] = '\0';
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
}

/* -ms / https: the monitoring port speaks HTTPS with the server's certificate. */
START_TEST(test_tls_https_monitoring)
{
    struct test_server server;
    char config[CONFIG_SIZE];
    char text[CONFIG_SIZE];
    snprintf(text, sizeof text,
             "https_port: -1\ntls {\n  cert_file: \"%s/server.pem\"\n  key_file: \"%s/server.key\"\n}\n",
             cert_dir, cert_dir);
    snprintf(config, sizeof config, "%s", text);
    struct test_server_options options = {.config_text = config};
    itest_server_start(&server, &options);
    int port = itest_log_port(&server, "Starting https monitor on ", ITEST_WAIT_MS);
    static char response[1 << 16];
    https_get(port, "/varz", response, sizeof response);
    ck_assert_msg(strncmp(response, "HTTP/1.1 200 OK\r\n", 17) == 0, "response: %.200s", response);
    /* the port as set (nats-server: -1) or as bound (ionats), but set */
    ck_assert_msg(strstr(response, "\"https_port\": ") != NULL &&
                      strstr(response, "\"https_port\": 0,") == NULL,
                  "varz: %.2000s", response);
    /* connz names a TLS client's version and cipher suite (IANA names, as Go's) */
    natsConnection *connection = NULL;
    ITEST_OK(tls_connect(tls_options(server.url, true, false), &connection));
    https_get(port, "/connz", response, sizeof response);
    ck_assert_msg(strstr(response, "\"tls_version\": \"1.3\"") != NULL, "connz: %.3000s",
                  response);
    ck_assert_msg(strstr(response, "\"tls_cipher_suite\": \"TLS_") != NULL, "connz: %.3000s",
                  response);
    natsConnection_Destroy(connection);
    itest_server_stop(&server);
}
END_TEST

/* A TLS ClientHello to a plain port is a protocol error there. */
START_TEST(test_tls_to_plain_port)
{
    struct test_server server;
    itest_server_start(&server, NULL);
    int fd = test_connect_raw(server.port);
    ck_assert_int_ge(fd, 0);
    char buffer[BUFFER_SIZE];
    read_info(fd, buffer, sizeof buffer);
    static const unsigned char hello[] = {0x16, 0x03, 0x01, 0x00, 0x05,
                                          0x01, 0x00, 0x00, 0x01, 0x00};
    ck_assert_int_eq(write(fd, hello, sizeof hello), (ssize_t)sizeof hello);
    ck_assert_int_ge(test_read_until(fd, buffer, sizeof buffer, "\r\n", ITEST_WAIT_MS), 0);
    ck_assert_str_eq(buffer, "-ERR 'Unknown Protocol Operation'\r\n");
    close(fd);
    natsConnection *connection = NULL;
    natsStatus status = tls_connect(tls_options(server.url, false, false), &connection);
    ck_assert_msg(status == NATS_SECURE_CONNECTION_WANTED, "TLS client: %s",
                  natsStatus_GetText(status));
    itest_server_stop(&server);
}
END_TEST

/* A client certificate `name`.pem/.key in cert_dir, signed by its CA, for `subject`
 * ("/CN=x/O=y") with the extension lines `extensions` besides clientAuth. */
static void client_cert_make(const char *name, const char *subject, const char *extensions)
{
    char command[1024];
    snprintf(command, sizeof command,
             "(cd %s && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
             "%s.key -out %s.csr -subj '%s' && printf 'extendedKeyUsage=clientAuth\\n%s' > "
             "%s.ext && openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out %s.pem -days 2 -extfile %s.ext) >/dev/null 2>&1",
             cert_dir, name, name, subject, extensions, name, name, name, name);
    ck_assert_int_eq(system(command), 0);
}

static natsStatus connect_with_cert(const char *url, const char *name,
                                    natsConnection **connection)
{
    char ca[128];
    char cert[128];
    char key[128];
    snprintf(cert, sizeof cert, "%s/%s.pem", cert_dir, name);
    snprintf(key, sizeof key, "%s/%s.key", cert_dir, name);
    natsOptions *options = itest_options(url);
    ITEST_OK(natsOptions_SetSecure(options, true));
    ITEST_OK(natsOptions_LoadCATrustedCertificates(options, cert_path("ca.pem", ca, sizeof ca)));
    ITEST_OK(natsOptions_LoadCertificatesChain(options, cert, key));
    return tls_connect(options, connection);
}

/* tls { verify_and_map: true }: the user is the one the client certificate names, by an
 * e-mail address among its alternative names, or by its subject read as a distinguished
 * name (its RDNs written in another order and spacing); CONNECT's credentials count for
 * nothing; a certificate naming no user is refused; the user's permissions apply. */
START_TEST(test_tls_verify_and_map)
{
    client_cert_make("mail", "/CN=someone", "subjectAltName=email:alice@example.com\\n");
    client_cert_make("dn", "/O=Acme/CN=bob", "");
    struct test_server server;
    char config[CONFIG_SIZE];
    snprintf(config, sizeof config,
             "tls {\n  cert_file: \"%s/server.pem\"\n  key_file: \"%s/server.key\"\n"
             "  ca_file: \"%s/ca.pem\"\n  verify_and_map: true\n}\n"
             "authorization {\n  users = [\n"
             "    {user: \"alice@example.com\", permissions: {publish: \"mail.>\"}}\n"
             "    {user: \"CN=bob, O=Acme\"}\n  ]\n}\n",
             cert_dir, cert_dir, cert_dir);
    struct test_server_options options = {.config_text = config};
    itest_server_start(&server, &options);
    natsConnection *mail = NULL;
    ITEST_OK(connect_with_cert(server.url, "mail", &mail));
    round_trip(mail, "mail.x");
    natsConnection *dn = NULL;
    ITEST_OK(connect_with_cert(server.url, "dn", &dn));
    round_trip(dn, "dn.x");
    /* the e-mail user may publish only mail.>: dn's subscriber hears nothing of it */
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, dn, "denied"));
    itest_flush(dn);
    ITEST_OK(natsConnection_PublishString(mail, "denied", "x"));
    natsMsg *msg = NULL;
    ck_assert_int_eq(natsSubscription_NextMsg(&msg, sub, 300), NATS_TIMEOUT);
    natsSubscription_Destroy(sub);
    natsConnection *nobody = NULL;
    natsStatus status = connect_with_cert(server.url, "client", &nobody);
    ck_assert_msg(status == NATS_CONNECTION_AUTH_FAILED || status == NATS_NOT_PERMITTED,
                  "a certificate naming no user: %s (%s)", natsStatus_GetText(status),
                  itest_last_error());
    natsConnection_Destroy(mail);
    natsConnection_Destroy(dn);
    itest_server_stop(&server);
}
END_TEST

/* A TLS 1.2 handshake after INFO, held to what it completed with: the suite's standard name
 * and the key exchange group's. */
static void handshake_tls12_expect(int port, const char *suite, const char *group)
{
    SSL_CTX *ctx = NULL;
    int fd = -1;
    SSL *ssl = tls_raw_connect(port, true, &ctx, &fd);
    ck_assert_ptr_nonnull(ssl);
    ck_assert_str_eq(SSL_CIPHER_standard_name(SSL_get_current_cipher(ssl)), suite);
    ck_assert_str_eq(OBJ_nid2sn(SSL_get_negotiated_group(ssl)), group);
    tls_raw_close(ssl, ctx, fd);
}

/* Writes each of `records` as a TLS record of its own (until the server closed), then
 * reads what comes back until `needle` or the end, into `out`. */
static void tls_raw_exchange(SSL *ssl, const char *const *records, const char *needle,
                             char *out, size_t size)
{
    for (size_t i = 0; records[i] != NULL; i++) {
        int length = (int)strlen(records[i]);
        if (SSL_write(ssl, records[i], length) != length) {
            break; /* closed already (a refused login): what it said is read below */
        }
    }
    size_t used = 0;
    out[0] = '\0';
    while (strstr(out, needle) == NULL && used + 1 < size) {
        int n = SSL_read(ssl, out + used, (int)(size - 1 - used));
        if (n <= 0) {
            break;
        }
        used += (size_t)n;
        out[used] = '\0';
    }
}

/* A bcrypt login over TLS with what follows in TLS records of their own (ionats compares
 * bcrypt hashes off the shard's loop and keeps the client's input meanwhile): a PING, and
 * a second CONNECT with a PING, are answered after the login, as by nats-server; a wrong
 * password gets the -ERR alone. */
START_TEST(test_tls_bcrypt_records)
{
    struct test_server server;
    char config[CONFIG_SIZE];
    snprintf(config, sizeof config,
             "tls {\n  cert_file: \"%s/server.pem\"\n  key_file: \"%s/server.key\"\n}\n"
             "authorization {\n  users = [\n"
             "    {user: alice, password: \"$2b$04$Qo5BlGgv9cXmatdVKJktHejNIoHLtfhd84N1mi3SbJdUdI"
             "RKRT1By\"}\n  ]\n}\n",
             cert_dir, cert_dir);
    struct test_server_options options = {.config_text = config};
    itest_server_start(&server, &options);
    static const char login[] = "CONNECT {\"verbose\":false,\"user\":\"alice\","
                                "\"pass\":\"tlspass\"}\r\n";
    static const char wrong[] = "CONNECT {\"verbose\":false,\"user\":\"alice\","
                                "\"pass\":\"nope\"}\r\n";
    char second[256];
    snprintf(second, sizeof second, "%sPING\r\n", login);
    const char *const cases[][3] = {{login, "PING\r\n", NULL}, {login, second, NULL}};
    char buffer[BUFFER_SIZE];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        SSL_CTX *ctx = NULL;
        int fd = -1;
        SSL *ssl = tls_raw_connect(server.port, false, &ctx, &fd);
        ck_assert_ptr_nonnull(ssl);
        tls_raw_exchange(ssl, cases[i], "\r\n", buffer, sizeof buffer);
        ck_assert_str_eq(buffer, "PONG\r\n");
        tls_raw_close(ssl, ctx, fd);
    }
    SSL_CTX *ctx = NULL;
    int fd = -1;
    SSL *ssl = tls_raw_connect(server.port, false, &ctx, &fd);
    ck_assert_ptr_nonnull(ssl);
    const char *const refused[] = {wrong, "SUB x 1\r\n", "PING\r\n", NULL};
    tls_raw_exchange(ssl, refused, "PONG", buffer, sizeof buffer);
    ck_assert_str_eq(buffer, "-ERR 'Authorization Violation'\r\n");
    tls_raw_close(ssl, ctx, fd);
    itest_server_stop(&server);
}
END_TEST

/* tls { cipher_suites, curve_preferences } by Go's names, as nats-server reads them: a
 * TLS 1.2 client that offers more gets the suite and the group the server allows. */
START_TEST(test_tls_ciphers_and_curves)
{
    struct test_server server;
    char config[CONFIG_SIZE];
    tls_server_start(&server, config,
                     "  cipher_suites: [\"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\"]\n"
                     "  curve_preferences: [\"CurveP384\"]\n");
    handshake_tls12_expect(server.port, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "secp384r1");
    itest_server_stop(&server);
    /* one curve each: with several, which wins is the client's order under OpenSSL and
     * Go 1.24, the server's under older Go */
    tls_server_start(&server, config,
                     "  cipher_suites: [\"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\"]\n"
                     "  curve_preferences: [\"CurveP521\"]\n");
    handshake_tls12_expect(server.port, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "secp521r1");
    itest_server_stop(&server);
}
END_TEST

/* The CA of another set of certificates (cert_dir_other): a client that trusts it only
 * accepts the server's certificate of that set. */
static char cert_dir_other[64];

static natsOptions *tls_options_trusting(const char *url, const char *dir)
{
    char ca[128];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    natsOptions *options = itest_options(url);
    ITEST_OK(natsOptions_SetSecure(options, true));
    ITEST_OK(natsOptions_LoadCATrustedCertificates(options, ca));
    return options;
}

/* SIGHUP with another certificate and key (a renewal): a client connected before keeps
 * its connection, new clients get the new certificate; then a reload without tls {}: new
 * clients speak plain text. nats-server does both. */
START_TEST(test_tls_reload)
{
    ck_assert(itest_certs_make(cert_dir_other, sizeof cert_dir_other));
    struct test_server server;
    char config[CONFIG_SIZE];
    tls_server_start(&server, config, "");
    natsConnection *before = NULL;
    ITEST_OK(tls_connect(tls_options_trusting(server.url, cert_dir), &before));
    char renewed[CONFIG_SIZE];
    snprintf(renewed, sizeof renewed,
             "tls {\n  cert_file: \"%s/server.pem\"\n  key_file: \"%s/server.key\"\n"
             "  ca_file: \"%s/ca.pem\"\n}\n",
             cert_dir_other, cert_dir_other, cert_dir_other);
    itest_config_rewrite(&server, config, renewed);
    ck_assert(itest_log_shows(&server, "Reloaded server configuration", ITEST_WAIT_MS));
    natsConnection *after = NULL;
    ITEST_OK(tls_connect(tls_options_trusting(server.url, cert_dir_other), &after));
    round_trip(after, "tls.renewed");
    round_trip(before, "tls.before");
    natsConnection_Destroy(after);
    natsStatus status = tls_connect(tls_options_trusting(server.url, cert_dir), &after);
    ck_assert_msg(status == NATS_SSL_ERROR, "the old CA: %s", natsStatus_GetText(status));
    itest_config_rewrite(&server, renewed, "# no tls\n");
    int64_t deadline = itest_now_ms() + ITEST_WAIT_MS;
    natsConnection *plain = NULL;
    while ((status = tls_connect(itest_options(server.url), &plain)) != NATS_OK) {
        ck_assert_int_lt(itest_now_ms(), deadline); /* until the second reload is done */
        usleep(20 * 1000);
    }
    round_trip(plain, "tls.off");
    round_trip(before, "tls.still");
    natsConnection_Destroy(plain);
    natsConnection_Destroy(before);
    itest_server_stop(&server);
    itest_certs_remove(cert_dir_other);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("integration_tls");
    TCase *tc = tcase_create("tls");
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_tls_connect);
    tcase_add_test(tc, test_tls_client_certificates);
    tcase_add_test(tc, test_tls_handshake_timeout);
    tcase_add_test(tc, test_tls_handshake_first);
    tcase_add_test(tc, test_tls_min_version);
    tcase_add_test(tc, test_tls_to_plain_port);
    tcase_add_test(tc, test_tls_https_monitoring);
    tcase_add_test(tc, test_tls_reload);
    tcase_add_test(tc, test_tls_verify_and_map);
    tcase_add_test(tc, test_tls_ciphers_and_curves);
    tcase_add_test(tc, test_tls_bcrypt_records);
    suite_add_tcase(suite, tc);
    if (!certs_make()) { /* once for every case: they only read them */
        fprintf(stderr, "openssl could not make the test certificates in %s\n", cert_dir);
        return 1;
    }
    int rc = itest_run(suite);
    certs_remove();
    return rc;
}
