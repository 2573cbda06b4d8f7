/* What a leaf proves to its hub beyond a user and password: a user nkey's signature of the
 * hub's nonce (a remote's `nkey`/`seed`), or a credentials file's JWT and its seed's
 * signature (a remote's `credentials`), as nats-server's leaf writes them into CONNECT
 * ("nkey" or "jwt", then "sig": the ed25519 signature in unpadded base64url).
 *
 * The .creds file is read at each connect (it may be replaced between two), a few hundred
 * bytes on shard 0's thread. ed25519 through libsodium; the nkey text form is
 * proto/nkey.c's. Shard 0's thread. */
#include "engine/leaf_internal.h"

#include "proto/go_json.h"
#include "proto/nkey.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

enum { CREDS_MAX = 16384, SIG_TEXT_MAX = 128 };

/* The text between the line holding `begin` and the next line starting with "---",
 * trimmed, NUL-terminated in place. NULL when absent. */
static char *creds_section(char *text, const char *begin)
{
    char *at = strstr(text, begin);
    if (at == NULL) {
        return NULL;
    }
    at = strchr(at, '\n');
    if (at == NULL) {
        return NULL;
    }
    at += strspn(at, " \t\r\n");
    char *end = strstr(at, "\n---");
    if (end == NULL) {
        return NULL;
    }
    while (end > at && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    *end = '\0';
    return at;
}

/* Signs `nonce` with the user seed `seed_text` into `json` as "sig" (and "nkey", its public
 * key, unless `jwt`). 0 or -EINVAL with the reason in `error`. */
static int sign(const char *seed_text, const char *nonce, bool with_nkey, struct go_json *json,
                char *error, size_t size)
{
    uint8_t seed[NKEY_KEY_SIZE];
    if (!nkey_seed_decode(seed_text, strlen(seed_text), NKEY_TYPE_USER, seed)) {
        snprintf(error, size, "not a valid user nkey seed");
        return -EINVAL;
    }
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    unsigned char secret_key[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(public_key, secret_key, seed);
    sodium_memzero(seed, sizeof seed);
    unsigned char signature[crypto_sign_BYTES];
    crypto_sign_detached(signature, NULL, (const unsigned char *)nonce, strlen(nonce),
                         secret_key);
    sodium_memzero(secret_key, sizeof secret_key);
    if (with_nkey) {
        char text[NKEY_PUBLIC_LENGTH + 1];
        nkey_public_encode(NKEY_TYPE_USER, public_key, text);
        go_json_key_cstring(json, "nkey", text);
    }
    char text[SIG_TEXT_MAX];
    sodium_bin2base64(text, sizeof text, signature, sizeof signature,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    go_json_key_cstring(json, "sig", text);
    return 0;
}

int leaf_auth_connect(const struct config_leaf_remote *config, const char *nonce,
                      struct go_json *json, char *error, size_t size)
{
    if (config == NULL || (config->seed == NULL && config->credentials == NULL)) {
        return 0;
    }
    if (config->seed != NULL) {
        return sign(config->seed, nonce, true, json, error, size);
    }
    FILE *file = fopen(config->credentials, "r");
    if (file == NULL) {
        snprintf(error, size, "open %s: %s", config->credentials, strerror(errno));
        return -EINVAL;
    }
    static char text[CREDS_MAX]; /* shard 0's alone */
    size_t length = fread(text, 1, sizeof text - 1, file);
    bool whole = feof(file) != 0;
    fclose(file);
    text[length] = '\0';
    if (!whole) {
        sodium_memzero(text, sizeof text);
        snprintf(error, size, "%s: larger than %d bytes", config->credentials, CREDS_MAX - 1);
        return -EINVAL;
    }
    char *seed = creds_section(text, "BEGIN USER NKEY SEED");
    char *jwt = creds_section(text, "BEGIN NATS USER JWT");
    if (jwt == NULL || seed == NULL) {
        sodium_memzero(text, sizeof text);
        snprintf(error, size, "%s: no user JWT and seed", config->credentials);
        return -EINVAL;
    }
    go_json_key_cstring(json, "jwt", jwt);
    int rc = sign(seed, nonce, false, json, error, size);
    sodium_memzero(text, sizeof text);
    return rc;
}
