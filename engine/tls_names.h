/* tls {}'s cipher_suites and curve_preferences, named as nats-server names them (Go's
 * crypto/tls names), checked and turned into OpenSSL's choices. Main thread only. */
#ifndef IONATS_ENGINE_TLS_NAMES_H
#define IONATS_ENGINE_TLS_NAMES_H

#include <stdbool.h>
#include <stddef.h>

struct ssl_ctx_st;

/* Whether nats-server knows the suite `name` ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"). */
bool tls_names_cipher_known(const char *name);

/* Whether nats-server knows the curve `name` ("CurveP256", "X25519"). */
bool tls_names_curve_known(const char *name);

/* Restricts `ctx` to the TLS 1.2 suites of `ciphers` and the groups of `curves`, each a
 * ':'-separated list of names the functions above know (NULL: OpenSSL's defaults stay).
 * 0, or -1 with the reason in `error` (a name this OpenSSL lacks). */
int tls_names_apply(struct ssl_ctx_st *ctx, const char *ciphers, const char *curves,
                    char *error, size_t error_size);

#endif
