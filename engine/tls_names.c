/* tls {}'s cipher_suites and curve_preferences: see tls_names.h.
 *
 * The one idea: a configuration names suites and curves as nats-server does, by Go's
 * crypto/tls names (the IANA names of the suites Go knows, "CurveP256" and friends for
 * groups), so the same file is accepted and refused alike; each name is turned into
 * OpenSSL's by the standard name OpenSSL records for every suite it has
 * (SSL_CIPHER_standard_name), never by a second hand-kept table. Go's list is kept here
 * because it decides what nats-server accepts (with 2.9's older names of two suites). As Go's, the suites apply to TLS 1.2; TLS 1.3
 * suites are accepted and leave OpenSSL's TLS 1.3 choice as it is. Main thread only. */
#include "engine/tls_names.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* crypto/tls's CipherSuites() and InsecureCipherSuites() (Go 1.21 to 1.25). */
static const char *const go_cipher_names[] = {
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
};

/* The names nats-server 2.9 (its own table, before Go's) gave the ChaCha20 suites. */
static const struct {
    const char *old;
    const char *current;
} cipher_aliases[] = {
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
};

static const char *cipher_current_name(const char *name)
{
    for (size_t i = 0; i < sizeof cipher_aliases / sizeof cipher_aliases[0]; i++) {
        if (strcmp(name, cipher_aliases[i].old) == 0) {
            return cipher_aliases[i].current;
        }
    }
    return name;
}

/* nats-server's curvePreferenceMap, with OpenSSL's group names. */
static const struct {
    const char *go;
    const char *openssl;
} curves[] = {
    {"X25519MLKEM768", "X25519MLKEM768"}, /* OpenSSL 3.5 and later */
    {"X25519", "X25519"},
    {"CurveP256", "P-256"},
    {"CurveP384", "P-384"},
    {"CurveP521", "P-521"},
};

bool tls_names_cipher_known(const char *name)
{
    name = cipher_current_name(name);
    for (size_t i = 0; i < sizeof go_cipher_names / sizeof go_cipher_names[0]; i++) {
        if (strcmp(name, go_cipher_names[i]) == 0) {
            return true;
        }
    }
    return false;
}

static const char *curve_openssl(const char *name)
{
    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++) {
        if (strcmp(name, curves[i].go) == 0) {
            return curves[i].openssl;
        }
    }
    return NULL;
}

bool tls_names_curve_known(const char *name)
{
    return curve_openssl(name) != NULL;
}

/* OpenSSL's name of the suite whose standard (IANA) name is `name`, among every suite this
 * OpenSSL has; NULL when it has none by that name. */
static const char *cipher_openssl(const STACK_OF(SSL_CIPHER) *all, const char *name)
{
    for (int i = 0; i < sk_SSL_CIPHER_num(all); i++) {
        const SSL_CIPHER *suite = sk_SSL_CIPHER_value(all, i);
        const char *standard = SSL_CIPHER_standard_name(suite);
        if (standard != NULL && strcmp(standard, name) == 0) {
            return SSL_CIPHER_get_name(suite);
        }
    }
    return NULL;
}

/* Appends `word` to the ':'-separated list in `list`; false when it does not fit. */
static bool list_add(char *list, size_t size, const char *word)
{
    size_t used = strlen(list);
    int n = snprintf(list + used, size - used, "%s%s", used > 0 ? ":" : "", word);
    return n >= 0 && (size_t)n < size - used;
}

/* The TLS 1.2 suites of `names` (':'-separated Go names) as OpenSSL's cipher list. */
static int ciphers_apply(SSL_CTX *ctx, const char *names, char *error, size_t error_size)
{
    SSL_CTX *every = SSL_CTX_new(TLS_method());
    if (every == NULL || SSL_CTX_set_cipher_list(every, "ALL:COMPLEMENTOFALL:@SECLEVEL=0") != 1) {
        SSL_CTX_free(every);
        snprintf(error, error_size, "TLS setup: listing OpenSSL's cipher suites failed");
        return -1;
    }
    const STACK_OF(SSL_CIPHER) *all = SSL_CTX_get_ciphers(every);
    char list[2048] = "";
    int rc = 0;
    char copy[2048];
    snprintf(copy, sizeof copy, "%s", names);
    char *save = NULL;
    for (char *name = strtok_r(copy, ":", &save); name != NULL && rc == 0;
         name = strtok_r(NULL, ":", &save)) {
        if (strncmp(name, "TLS_AES_", 8) == 0 || strncmp(name, "TLS_CHACHA20_", 13) == 0) {
            continue; /* TLS 1.3: not configurable in Go either */
        }
        const char *openssl = cipher_openssl(all, cipher_current_name(name));
        if (openssl == NULL) {
            snprintf(error, error_size, "cipher %s is not available in this OpenSSL", name);
            rc = -1;
        } else if (!list_add(list, sizeof list, openssl)) {
            snprintf(error, error_size, "too many cipher suites");
            rc = -1;
        }
    }
    SSL_CTX_free(every);
    if (rc == 0 && list[0] != '\0' && SSL_CTX_set_cipher_list(ctx, list) != 1) {
        snprintf(error, error_size, "OpenSSL refused the cipher suites %s", list);
        rc = -1;
    }
    return rc;
}

static int curves_apply(SSL_CTX *ctx, const char *names, char *error, size_t error_size)
{
    char list[256] = "";
    char copy[256];
    snprintf(copy, sizeof copy, "%s", names);
    char *save = NULL;
    for (char *name = strtok_r(copy, ":", &save); name != NULL;
         name = strtok_r(NULL, ":", &save)) {
        const char *openssl = curve_openssl(name);
        if (openssl == NULL || !list_add(list, sizeof list, openssl)) {
            snprintf(error, error_size, "unrecognized curve preference %s", name);
            return -1;
        }
    }
    if (SSL_CTX_set1_groups_list(ctx, list) != 1) {
        snprintf(error, error_size, "curve preferences %s are not available in this OpenSSL",
                 names);
        return -1;
    }
    return 0;
}

int tls_names_apply(struct ssl_ctx_st *ctx, const char *ciphers, const char *curve_names,
                    char *error, size_t error_size)
{
    if (ciphers != NULL && ciphers_apply(ctx, ciphers, error, error_size) != 0) {
        return -1;
    }
    if (curve_names != NULL && curves_apply(ctx, curve_names, error, error_size) != 0) {
        return -1;
    }
    return 0;
}
