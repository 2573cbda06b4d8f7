/* TLS under a connection: see conn_tls.h.
 *
 * A connection's layer moves through GREETING (INFO goes out in plain text; the client's
 * first bytes start the handshake), HANDSHAKE (only handshake records go out; what the
 * kind queues waits), OPEN (the kind's output is sealed into records at the end of each
 * loop turn) and FAILED. The bytes of `out` already queued when the handshake starts (INFO)
 * still go out as they are: `raw_left` counts them. Shard-owned, as its connection. */
#include "engine/conn_tls.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/config.h"
#include "engine/conn.h"
#include "engine/tls_names.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Plaintext opened per SSL_read: one record's worth. */
enum { TLS_PLAIN_CHUNK = 16384 };

struct tls_server {
    SSL_CTX *ctx;
    BIO_METHOD *method; /* our BIO: reads the receive buffer, writes into `wire` */
    bool verify;
    bool handshake_first;
    int64_t timeout_ns;
};

enum tls_state { TLS_GREETING, TLS_HANDSHAKE, TLS_OPEN, TLS_FAILED };

struct conn_tls {
    struct conn *conn; /* borrowed: the connection it sits under */
    SSL *ssl;
    struct outq wire; /* records (and handshake messages) not yet sent */
    enum tls_state state;
    bool inflight_wire; /* the send in flight reads `wire`, not `out` */
    size_t raw_left;    /* bytes at the front of `out` that go out in plain text */
    const char *in;     /* the receive buffer being handled */
    size_t in_length;
    struct timer_entry timer; /* the handshake's deadline */
};

/* ---- our BIO ---------------------------------------------------------------------------- */

static int bio_write(BIO *bio, const char *data, int length)
{
    struct conn_tls *tls = BIO_get_data(bio);
    struct conn *conn = tls->conn;
    if (length <= 0) {
        return 0;
    }
    if (outq_reserve(&tls->wire, &conn->table->out_pool, (size_t)length) != 0) {
        return -1; /* out of memory: the handshake or the write fails, and the connection */
    }
    outq_put(&tls->wire, data, (size_t)length);
    return length;
}

static int bio_read(BIO *bio, char *data, int length)
{
    struct conn_tls *tls = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (tls->in_length == 0) {
        BIO_set_retry_read(bio);
        return -1;
    }
    size_t n = tls->in_length < (size_t)length ? tls->in_length : (size_t)length;
    memcpy(data, tls->in, n);
    tls->in += n;
    tls->in_length -= n;
    return (int)n;
}

static long bio_ctrl(BIO *bio, int command, long number, void *pointer)
{
    return command == BIO_CTRL_FLUSH ? 1 : 0;
}

/* ---- the server's side ------------------------------------------------------------------ */

static void error_text(char *error, size_t size, const char *what, const char *path)
{
    unsigned long code = ERR_get_error();
    char reason[256];
    ERR_error_string_n(code, reason, sizeof reason);
    snprintf(error, size, "%s %s: %s", what, path != NULL ? path : "", code ? reason : "failed");
    ERR_clear_error();
}

static int min_version_of(const char *text)
{
    if (text == NULL || strcmp(text, "1.2") == 0) {
        return TLS1_2_VERSION;
    }
    if (strcmp(text, "1.3") == 0) {
        return TLS1_3_VERSION;
    }
    return 0;
}

/* A context of `method` with our BIO and `min_version`; idle connections give their record
 * buffers back. NULL with the reason in `error`. */
static struct tls_server *context_new(const SSL_METHOD *method, int min_version,
                                      int64_t timeout_ns, char *error, size_t error_size)
{
    struct tls_server *tls = calloc(1, sizeof *tls);
    if (tls == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    tls->timeout_ns = timeout_ns > 0 ? timeout_ns : TLS_TIMEOUT_NS_DEFAULT;
    tls->ctx = SSL_CTX_new(method);
    tls->method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ionats connection");
    if (tls->ctx == NULL || tls->method == NULL ||
        !SSL_CTX_set_min_proto_version(tls->ctx, min_version)) {
        error_text(error, error_size, "TLS setup", NULL);
        tls_server_free(tls);
        return NULL;
    }
    BIO_meth_set_write(tls->method, bio_write);
    BIO_meth_set_read(tls->method, bio_read);
    BIO_meth_set_ctrl(tls->method, bio_ctrl);
    SSL_CTX_set_mode(tls->ctx, SSL_MODE_RELEASE_BUFFERS);
    return tls;
}

struct tls_server *tls_server_new(const struct tls_settings *settings, char *error,
                                  size_t error_size)
{
    int min_version = min_version_of(settings->min_version);
    if (min_version == 0) {
        snprintf(error, error_size, "unsupported TLS min_version %s (1.2 or 1.3)",
                 settings->min_version);
        return NULL;
    }
    struct tls_server *tls = context_new(TLS_server_method(), min_version, settings->timeout_ns,
                                         error, error_size);
    if (tls == NULL) {
        return NULL;
    }
    tls->verify = settings->verify;
    tls->handshake_first = settings->handshake_first;
    /* no session cache shared between the shards (tickets still resume sessions) */
    SSL_CTX_set_session_cache_mode(tls->ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate_chain_file(tls->ctx, settings->cert_file) != 1) {
        error_text(error, error_size, "error loading certificate", settings->cert_file);
    } else if (SSL_CTX_use_PrivateKey_file(tls->ctx, settings->key_file, SSL_FILETYPE_PEM) != 1) {
        error_text(error, error_size, "error loading key", settings->key_file);
    } else if (SSL_CTX_check_private_key(tls->ctx) != 1) {
        error_text(error, error_size, "key does not match certificate", settings->key_file);
    } else if (settings->ca_file != NULL &&
               SSL_CTX_load_verify_locations(tls->ctx, settings->ca_file, NULL) != 1) {
        error_text(error, error_size, "error loading CA", settings->ca_file);
    } else if (settings->ca_file == NULL && settings->verify &&
               SSL_CTX_set_default_verify_paths(tls->ctx) != 1) {
        error_text(error, error_size, "error loading the system's CAs", NULL);
    } else if (tls_names_apply(tls->ctx, settings->ciphers, settings->curves, error,
                               error_size) != 0) {
        /* the reason is in `error` */
    } else {
        if (settings->verify) {
            SSL_CTX_set_verify(tls->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
        return tls;
    }
    tls_server_free(tls);
    return NULL;
}

struct tls_server *tls_client_new(const struct tls_settings *settings, char *error,
                                  size_t error_size)
{
    struct tls_server *tls = context_new(TLS_client_method(), TLS1_2_VERSION,
                                         settings->timeout_ns, error, error_size);
    if (tls == NULL) {
        return NULL;
    }
    tls->verify = !settings->insecure;
    if (settings->cert_file != NULL &&
        SSL_CTX_use_certificate_chain_file(tls->ctx, settings->cert_file) != 1) {
        error_text(error, error_size, "error loading certificate", settings->cert_file);
    } else if (settings->key_file != NULL &&
               SSL_CTX_use_PrivateKey_file(tls->ctx, settings->key_file, SSL_FILETYPE_PEM) != 1) {
        error_text(error, error_size, "error loading key", settings->key_file);
    } else if (settings->ca_file != NULL &&
               SSL_CTX_load_verify_locations(tls->ctx, settings->ca_file, NULL) != 1) {
        error_text(error, error_size, "error loading CA", settings->ca_file);
    } else if (settings->ca_file == NULL && SSL_CTX_set_default_verify_paths(tls->ctx) != 1) {
        error_text(error, error_size, "error loading the system's CAs", NULL);
    } else {
        SSL_CTX_set_verify(tls->ctx, tls->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
        return tls;
    }
    tls_server_free(tls);
    return NULL;
}

void tls_server_free(struct tls_server *tls)
{
    if (tls == NULL) {
        return;
    }
    SSL_CTX_free(tls->ctx);
    BIO_meth_free(tls->method);
    free(tls);
}

int tls_server_from_config(const struct config *config, struct tls_server **tls, char *error,
                           size_t error_size)
{
    *tls = NULL;
    if (!config->tls && !config->tls_verify) {
        return 0;
    }
    const struct tls_settings settings = {
        .cert_file = config->tls_cert,
        .key_file = config->tls_key,
        .ca_file = config->tls_ca,
        .verify = config->tls_verify,
        .handshake_first = config->tls_handshake_first,
        .timeout_ns = config->tls_timeout_ns,
        .min_version = config->tls_min_version,
        .ciphers = config->tls_ciphers,
        .curves = config->tls_curves,
    };
    *tls = tls_server_new(&settings, error, error_size);
    return *tls != NULL ? 0 : -EINVAL;
}

int tls_server_configure(struct tls_server **tls, const struct config *config)
{
    char error[512];
    int rc = tls_server_from_config(config, tls, error, sizeof error);
    if (rc != 0) {
        LOG_ERROR("TLS: %s", error);
    }
    return rc;
}

bool tls_server_verify(const struct tls_server *tls)
{
    return tls->verify;
}

bool tls_server_handshake_first(const struct tls_server *tls)
{
    return tls->handshake_first;
}

/* ---- a connection's layer --------------------------------------------------------------- */

static void tls_fail(struct conn *conn, const char *what)
{
    struct conn_tls *tls = conn->tls;
    unsigned long code = ERR_peek_last_error();
    char reason[256];
    ERR_error_string_n(code, reason, sizeof reason);
    ERR_clear_error();
    if (tls->state != TLS_OPEN) {
        LOG_ERROR("%s:%d - cid:%llu - TLS handshake error: %s", conn->ip, conn->port,
                  (unsigned long long)conn->id, code ? reason : what);
    } else {
        LOG_DEBUG("%s:%d - cid:%llu - TLS error: %s", conn->ip, conn->port,
                  (unsigned long long)conn->id, code ? reason : what);
    }
    tls->state = TLS_FAILED;
    conn_close(conn, "TLS Handshake Failure");
}

static const struct conn_layer tls_layer;

static void handshake_timer_fired(struct timer_entry *entry, void *ctx)
{
    struct conn *conn = ctx;
    if (conn->tls->state == TLS_GREETING || conn->tls->state == TLS_HANDSHAKE) {
        tls_fail(conn, "timeout");
    }
}

int conn_tls_start(struct conn *conn, const struct tls_server *server, bool handshake_first)
{
    struct conn_tls *tls = calloc(1, sizeof *tls);
    if (tls == NULL) {
        return -ENOMEM;
    }
    tls->conn = conn;
    tls->ssl = SSL_new(server->ctx);
    BIO *bio = BIO_new(server->method);
    if (tls->ssl == NULL || bio == NULL) {
        BIO_free(bio);
        SSL_free(tls->ssl);
        free(tls);
        ERR_clear_error();
        return -ENOMEM;
    }
    BIO_set_data(bio, tls);
    BIO_set_init(bio, 1);
    SSL_set_bio(tls->ssl, bio, bio); /* the SSL owns it now */
    SSL_set_accept_state(tls->ssl);
    tls->state = handshake_first ? TLS_HANDSHAKE : TLS_GREETING;
    timer_entry_init(&tls->timer, handshake_timer_fired, conn);
    timer_arm(conn->table->timers, &tls->timer,
              clock_deadline_ns(clock_monotonic_ns(), server->timeout_ns));
    conn->tls = tls;
    conn->layer = &tls_layer;
    return 0;
}

static void tls_handshake(struct conn *conn);

int conn_tls_start_client(struct conn *conn, const struct tls_server *client, const char *host)
{
    int rc = conn_tls_start(conn, client, true);
    if (rc != 0) {
        return rc;
    }
    SSL *ssl = conn->tls->ssl;
    SSL_set_connect_state(ssl);
    /* a name gets SNI; an address is checked as one */
    unsigned char bytes[sizeof(struct in6_addr)];
    bool address = inet_pton(AF_INET, host, bytes) == 1 || inet_pton(AF_INET6, host, bytes) == 1;
    if (!address) {
        SSL_set_tlsext_host_name(ssl, host);
    }
    if (client->verify) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        if ((address ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                     : X509_VERIFY_PARAM_set1_host(param, host, 0)) != 1) {
            ERR_clear_error();
            conn_tls_free(conn);
            return -ENOMEM;
        }
    }
    tls_handshake(conn); /* the ClientHello, into `wire` */
    return 0;
}

bool conn_tls_describe(const struct conn *conn, const char **version, const char **cipher)
{
    const struct conn_tls *tls = conn->tls;
    if (tls == NULL || tls->state != TLS_OPEN) {
        return false;
    }
    switch (SSL_version(tls->ssl)) {
    case TLS1_3_VERSION:
        *version = "1.3";
        break;
    case TLS1_2_VERSION:
        *version = "1.2";
        break;
    default:
        *version = "unknown";
        break;
    }
    const SSL_CIPHER *suite = SSL_get_current_cipher(tls->ssl);
    *cipher = suite != NULL ? SSL_CIPHER_standard_name(suite) : NULL;
    if (*cipher == NULL) {
        *cipher = "unknown";
    }
    return true;
}

struct x509_st *conn_tls_peer_certificate(const struct conn *conn)
{
    const struct conn_tls *tls = conn->tls;
    if (tls == NULL || tls->state != TLS_OPEN) {
        return NULL;
    }
    return SSL_get0_peer_certificate(tls->ssl);
}

void conn_tls_free(struct conn *conn)
{
    struct conn_tls *tls = conn->tls;
    if (tls == NULL) {
        return;
    }
    timer_cancel(conn->table->timers, &tls->timer);
    SSL_free(tls->ssl);
    outq_free(&tls->wire, &conn->table->out_pool);
    free(tls);
    conn->tls = NULL;
    conn->layer = NULL;
}

/* Opens every whole record received so far and hands the plaintext to the kind. */
static void tls_open_records(struct conn *conn)
{
    struct conn_tls *tls = conn->tls;
    char plain[TLS_PLAIN_CHUNK];
    while (!conn_ending(conn)) {
        ERR_clear_error();
        int n = SSL_read(tls->ssl, plain, sizeof plain);
        if (n > 0) {
            conn->kind->receive(conn, plain, (size_t)n);
            continue;
        }
        int error = SSL_get_error(tls->ssl, n);
        if (error == SSL_ERROR_WANT_READ) {
            break;
        }
        if (error == SSL_ERROR_ZERO_RETURN) {
            conn_close_after_flush(conn, "Client Closed"); /* close_notify */
            break;
        }
        tls_fail(conn, "read");
        break;
    }
}

static void tls_handshake(struct conn *conn)
{
    struct conn_tls *tls = conn->tls;
    ERR_clear_error();
    int rc = SSL_do_handshake(tls->ssl);
    if (tls->wire.length > 0) {
        conn_flush_queue(conn);
    }
    if (rc == 1) {
        tls->state = TLS_OPEN;
        timer_cancel(conn->table->timers, &tls->timer);
        LOG_DEBUG("%s:%d - cid:%llu - TLS handshake complete (%s, %s)", conn->ip, conn->port,
                  (unsigned long long)conn->id, SSL_get_version(tls->ssl),
                  SSL_get_cipher_name(tls->ssl));
        conn_flush_queue(conn); /* what the kind queued meanwhile (INFO, handshake first) */
        return;
    }
    if (SSL_get_error(tls->ssl, rc) != SSL_ERROR_WANT_READ) {
        tls_fail(conn, "handshake");
    }
}

void conn_tls_receive(struct conn *conn, const char *data, size_t length)
{
    struct conn_tls *tls = conn->tls;
    if (tls->state == TLS_FAILED) {
        return;
    }
    if (tls->state == TLS_GREETING) {
        tls->state = TLS_HANDSHAKE;
        tls->raw_left = conn->out.length; /* INFO, if it has not gone yet */
    }
    tls->in = data;
    tls->in_length = length;
    if (tls->state == TLS_HANDSHAKE) {
        tls_handshake(conn);
    }
    if (tls->state == TLS_OPEN) {
        tls_open_records(conn);
    }
    tls->in = NULL;
    tls->in_length = 0; /* OpenSSL keeps a partial record itself */
    if (tls->wire.length > 0) {
        conn_flush_queue(conn);
    }
}

bool conn_tls_has_output(const struct conn *conn)
{
    const struct conn_tls *tls = conn->tls;
    if (tls->state == TLS_GREETING) {
        return conn->out.length > 0;
    }
    return tls->raw_left > 0 || tls->wire.length > 0 ||
           (tls->state == TLS_OPEN && conn->out.length > 0);
}

size_t conn_tls_pending(const struct conn *conn)
{
    return conn->out.length + conn->tls->wire.length;
}

bool conn_tls_seal(struct conn *conn)
{
    struct conn_tls *tls = conn->tls;
    if (tls->state != TLS_OPEN || tls->raw_left > 0) {
        return true; /* INFO goes first, as it is */
    }
    while (conn->out.length > 0) {
        struct iovec iov;
        size_t bytes = 0;
        (void)outq_iov(&conn->out, &iov, 1, TLS_PLAIN_CHUNK, &bytes);
        ERR_clear_error();
        int written = SSL_write(tls->ssl, iov.iov_base, (int)bytes);
        if (written <= 0) {
            tls_fail(conn, "write");
            return false;
        }
        outq_consume(&conn->out, &conn->table->out_pool, (size_t)written);
    }
    return true;
}

int conn_tls_send_iov(struct conn *conn, size_t bytes_max)
{
    struct conn_tls *tls = conn->tls;
    size_t raw = tls->state == TLS_GREETING ? conn->out.length : tls->raw_left;
    if (raw > 0) {
        tls->inflight_wire = false;
        return outq_iov(&conn->out, conn->send_iov, CONN_SEND_IOV_MAX,
                        raw < bytes_max ? raw : bytes_max, &conn->send_length);
    }
    tls->inflight_wire = true;
    return outq_iov(&tls->wire, conn->send_iov, CONN_SEND_IOV_MAX, bytes_max, &conn->send_length);
}

void conn_tls_sent(struct conn *conn, size_t bytes)
{
    struct conn_tls *tls = conn->tls;
    if (tls->inflight_wire) {
        outq_consume(&tls->wire, &conn->table->out_pool, bytes);
        return;
    }
    outq_consume(&conn->out, &conn->table->out_pool, bytes);
    if (tls->state != TLS_GREETING) {
        ASSERT(tls->raw_left >= bytes);
        tls->raw_left -= bytes;
    }
}

static const struct conn_layer tls_layer = {
    .receive = conn_tls_receive,
    .seal = conn_tls_seal,
    .has_output = conn_tls_has_output,
    .pending = conn_tls_pending,
    .send_iov = conn_tls_send_iov,
    .sent = conn_tls_sent,
    .release = conn_tls_free,
};
