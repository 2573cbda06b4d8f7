/* TLS under a connection, through OpenSSL, on the shard's own loop: the kind (the NATS
 * client protocol) reads and writes plaintext as ever, and this layer sits between it and
 * the socket. The handshake runs as the client's records arrive, never blocking the loop;
 * once it is done, what the kind queued in `out` is sealed into records in the layer's
 * `wire` queue, which is what the loop sends, and records received are opened into
 * plaintext for the kind. Both I/O backends drive it the same way (conn_send_iov,
 * conn_sent, conn_receive), so io_uring keeps its batching.
 *
 * OpenSSL reads from and writes to the connection through BIOs of ours: reading takes the
 * bytes of the receive buffer being handled, writing appends records to `wire`, so no
 * memory BIO sits between them.
 *
 * nats-server's two ways in: INFO in plain text first, then the client's handshake
 * (`tls {}`); or, with handshake_first, the handshake first and INFO inside it. A
 * handshake that does not finish within the TLS timeout, or fails, closes the connection
 * without a word, as nats-server does.
 *
 * struct tls_server is built once on the main thread from the configuration and only read
 * after (an SSL_CTX is safe to share once set up); a connection's layer belongs to its
 * home shard. Kernel TLS is not used: this layer is the whole TLS data path. */
#ifndef IONATS_ENGINE_CONN_TLS_H
#define IONATS_ENGINE_CONN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct conn;
struct tls_server;

/* nats-server's TLS timeout: how long a handshake may take (2 s). */
#define TLS_TIMEOUT_NS_DEFAULT (2LL * 1000000000LL)

/* What the configuration asks of TLS (tls {} or the --tls* flags). */
struct tls_settings {
    const char *cert_file;
    const char *key_file;
    const char *ca_file;     /* NULL: the system's CAs, when verify is on */
    bool verify;             /* client certificates are required and checked */
    bool handshake_first;    /* the handshake comes before INFO */
    int64_t timeout_ns;      /* how long a handshake may take */
    const char *min_version; /* "1.2" or "1.3"; NULL: 1.2 */
    bool insecure;           /* client side: the server's certificate is not checked */
    const char *ciphers;     /* server side: Go's names of the TLS 1.2 suites allowed,
                              * ':'-separated (tls_names.h); NULL: OpenSSL's defaults */
    const char *curves;      /* server side: Go's names of the groups; NULL: defaults */
};

/* Builds the server side of TLS: loads the certificate chain and key (and the CA for
 * client certificates). NULL when it cannot, with the reason in `error`. */
struct tls_server *tls_server_new(const struct tls_settings *settings, char *error,
                                  size_t error_size);
void tls_server_free(struct tls_server *tls);

/* Builds the client side of TLS (a leafnode link we dial): the server's certificate is
 * checked against ca_file (the system's CAs when NULL) unless `insecure`; cert_file and
 * key_file, when given, are our certificate. NULL when it cannot, with the reason in
 * `error`. Freed with tls_server_free. */
struct tls_server *tls_client_new(const struct tls_settings *settings, char *error,
                                  size_t error_size);

/* Puts the client side of TLS under a connection we dialled: the handshake starts now
 * (our ClientHello goes out with the next flush); `host` names the server we expect (its
 * certificate's name, and SNI). What the kind queues meanwhile is sealed once the
 * handshake is done. 0 or -ENOMEM. */
int conn_tls_start_client(struct conn *conn, const struct tls_server *tls, const char *host);

/* Builds TLS for clients as the configuration asks (the --tls* flags, tls {}); `*tls`
 * stays NULL when it asks for none. 0, or -EINVAL with the reason in `error`. */
int tls_server_from_config(const struct config *config, struct tls_server **tls, char *error,
                           size_t error_size);

/* tls_server_from_config, the reason logged: 0, or -EINVAL once it is. */
int tls_server_configure(struct tls_server **tls, const struct config *config);

bool tls_server_verify(const struct tls_server *tls);
bool tls_server_handshake_first(const struct tls_server *tls);

/* Puts TLS under a connection that has just opened; `handshake_first`: the handshake comes
 * before anything the kind says (HTTPS, or tls { handshake_first }). 0 or -ENOMEM. */
int conn_tls_start(struct conn *conn, const struct tls_server *tls, bool handshake_first);

/* The connection's TLS version ("1.2", "1.3") and cipher suite (its IANA name, as Go's
 * crypto/tls writes it), once the handshake is done: static strings, readable on any
 * thread. False when the connection speaks no TLS or its handshake is not done. */
bool conn_tls_describe(const struct conn *conn, const char **version, const char **cipher);

/* Frees the layer; the connection's slot is going back to the table. */
void conn_tls_free(struct conn *conn);

/* Bytes the kernel handed to the connection (records, or a handshake). */
void conn_tls_receive(struct conn *conn, const char *data, size_t length);

/* True when something may be sent now: records, or INFO before the handshake. */
bool conn_tls_has_output(const struct conn *conn);

/* Output not yet sent: plaintext queued and records not yet sent. */
size_t conn_tls_pending(const struct conn *conn);

/* Seals the plaintext the kind queued into records, once the handshake is done (at the
 * end of the loop turn, before the send). False when sealing failed and the connection
 * was closed. */
bool conn_tls_seal(struct conn *conn);

/* conn_send_iov and conn_sent under TLS (see conn.h). */
int conn_tls_send_iov(struct conn *conn, size_t bytes_max);
void conn_tls_sent(struct conn *conn, size_t bytes);

/* The certificate the peer of a connection presented in its finished handshake, borrowed
 * until the connection is released; NULL without TLS, before the handshake ended, or when
 * it presented none. An X509 of OpenSSL's. */
struct x509_st *conn_tls_peer_certificate(const struct conn *conn);

#endif
