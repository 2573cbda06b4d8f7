/* Authentication: see auth.h. The configuration's users are built here on the main thread;
 * auth_authenticate runs on the shard of the connecting client and only reads them.
 *
 * bcrypt is libxcrypt's (crypt_rn), ed25519 and base64 are libsodium's. A bcrypt check
 * is not run here but left to the caller (auth_users_decide's AUTH_BCRYPT): at cost 10 it
 * takes ~50 ms, which a shard's loop must not wait out (the crypt worker runs it). */
#include "engine/auth.h"

#include "base/assert.h"
#include "base/log.h"

#include <crypt.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum { AUTH_USERS_MIN = 8, SIGNATURE_SIZE = 64 };

struct auth_config *auth_config_new(void)
{
    return calloc(1, sizeof(struct auth_config));
}

static void subjects_free(struct auth_subjects *list)
{
    free(list->subjects);
    free(list->queues);
}

void auth_config_free(struct auth_config *auth)
{
    if (auth == NULL) {
        return;
    }
    for (uint32_t i = 0; i < auth->permissions_count; i++) {
        struct auth_permissions *p = auth->permissions[i];
        subjects_free(&p->pub_allow);
        subjects_free(&p->pub_deny);
        subjects_free(&p->sub_allow);
        subjects_free(&p->sub_deny);
        free(p);
    }
    free(auth->permissions);
    free(auth->users);
    free(auth);
}

struct auth_permissions *auth_permissions_new(struct auth_config *auth)
{
    struct auth_permissions *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    struct auth_permissions **grown =
        realloc(auth->permissions, (auth->permissions_count + 1) * sizeof *grown);
    if (grown == NULL) {
        free(p);
        return NULL;
    }
    auth->permissions = grown;
    auth->permissions[auth->permissions_count++] = p;
    p->responses_max = AUTH_RESPONSES_MAX_DEFAULT;
    p->responses_ttl_ns = AUTH_RESPONSES_EXPIRES_NS_DEFAULT;
    return p;
}

int auth_subjects_add(struct auth_subjects *list, const char *subject, const char *queue)
{
    if (list->count >= AUTH_SUBJECTS_MAX) {
        return -E2BIG;
    }
    const char **subjects = realloc(list->subjects, (list->count + 1) * sizeof *subjects);
    if (subjects == NULL) {
        return -ENOMEM;
    }
    list->subjects = subjects;
    const char **queues = realloc(list->queues, (list->count + 1) * sizeof *queues);
    if (queues == NULL) {
        return -ENOMEM;
    }
    list->queues = queues;
    list->subjects[list->count] = subject;
    list->queues[list->count] = queue;
    list->count++;
    list->present = true;
    return 0;
}

int auth_user_add(struct auth_config *auth, const struct auth_user *user)
{
    if (auth->user_count >= AUTH_USERS_MAX) {
        return -E2BIG;
    }
    if (auth->user_count == auth->user_capacity) {
        uint32_t capacity = auth->user_capacity ? auth->user_capacity * 2 : AUTH_USERS_MIN;
        struct auth_user *grown = realloc(auth->users, capacity * sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        auth->users = grown;
        auth->user_capacity = capacity;
    }
    auth->users[auth->user_count++] = *user;
    if (user->nkey != NULL) {
        auth->has_nkeys = true;
    }
    return 0;
}

void auth_config_finish(struct auth_config *auth)
{
    if (sodium_init() < 0) {
        LOG_WARN("libsodium did not start: nkey signatures will not verify");
    }
    for (uint32_t i = 0; i < auth->user_count; i++) {
        if (auth->users[i].permissions == NULL) {
            auth->users[i].permissions = auth->default_permissions;
        }
    }
    for (uint32_t i = 0; i < auth->permissions_count; i++) {
        struct auth_permissions *p = auth->permissions[i];
        if (p->responses) {
            /* answering replies replaces the blanket publish allow, as nats-server */
            p->pub_allow.present = true;
        }
    }
}

bool auth_is_bcrypt(const char *secret)
{
    /* nats-server's ^\$2[abxy]\$\d{2}\$ */
    return secret != NULL && secret[0] == '$' && secret[1] == '2' &&
           strchr("abxy", secret[2]) != NULL && secret[2] != '\0' && secret[3] == '$' &&
           secret[4] >= '0' && secret[4] <= '9' && secret[5] >= '0' && secret[5] <= '9' &&
           secret[6] == '$';
}

void auth_nonce_make(char *nonce, size_t size)
{
    uint8_t raw[AUTH_NONCE_BYTES];
    ASSERT(size > AUTH_NONCE_LENGTH);
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(nonce, size, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool auth_secret_equals(const char *given, const char *expected)
{
    if (given == NULL || expected == NULL) {
        return false;
    }
    size_t given_length = strlen(given);
    size_t expected_length = strlen(expected);
    unsigned char diff = given_length != expected_length;
    for (size_t i = 0; i < expected_length; i++) {
        diff |= (unsigned char)(expected[i] ^ given[i < given_length ? i : 0]);
    }
    return diff == 0;
}

bool auth_password_matches(const char *configured, const char *given)
{
    if (given == NULL) {
        given = ""; /* absent is empty, as to nats-server */
    }
    if (!auth_is_bcrypt(configured)) {
        return auth_secret_equals(given, configured);
    }
    struct crypt_data *data = calloc(1, sizeof *data);
    if (data == NULL) {
        return false;
    }
    const char *hash = crypt_rn(given, configured, data, sizeof *data);
    bool match = hash != NULL && auth_secret_equals(hash, configured);
    free(data);
    return match;
}

/* What a wrong name costs: the same work as a wrong password for a name that exists (a
 * bcrypt comparison when that password is a bcrypt hash, which is then denied). */
static enum auth_verdict unknown_user(const struct auth_config *auth, const char *given,
                                      struct auth_bcrypt *bcrypt)
{
    for (uint32_t i = 0; i < auth->user_count; i++) {
        const char *password = auth->users[i].password;
        if (auth->users[i].name != NULL && password != NULL) {
            if (auth_is_bcrypt(password)) {
                *bcrypt = (struct auth_bcrypt){password, given != NULL ? given : "", true};
                return AUTH_BCRYPT;
            }
            (void)auth_secret_equals(given != NULL ? given : "", password);
            break;
        }
    }
    return AUTH_DENIED;
}

/* A password check: plain ones at once, bcrypt ones left to the caller. */
static enum auth_verdict password_check(const char *configured, const char *given,
                                        struct auth_bcrypt *bcrypt)
{
    if (given == NULL) {
        given = ""; /* absent is empty, as to nats-server */
    }
    if (auth_is_bcrypt(configured)) {
        *bcrypt = (struct auth_bcrypt){configured, given, false};
        return AUTH_BCRYPT;
    }
    return auth_secret_equals(given, configured) ? AUTH_GRANTED : AUTH_DENIED;
}

bool auth_bcrypt_run(const struct auth_bcrypt *bcrypt)
{
    return auth_password_matches(bcrypt->hash, bcrypt->given) && !bcrypt->deny;
}

static bool signature_valid(const struct auth_user *user, const struct connect_options *options,
                            const char *nonce)
{
    if (options->sig == NULL || nonce == NULL) {
        return false;
    }
    uint8_t sig[SIGNATURE_SIZE];
    size_t sig_length = 0;
    size_t text_length = strlen(options->sig);
    if (sodium_base642bin(sig, sizeof sig, options->sig, text_length, NULL, &sig_length, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 &&
        sodium_base642bin(sig, sizeof sig, options->sig, text_length, NULL, &sig_length, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        return false;
    }
    if (sig_length != sizeof sig) {
        return false;
    }
    return crypto_sign_verify_detached(sig, (const unsigned char *)nonce, strlen(nonce),
                                       user->nkey_key) == 0;
}

static const struct auth_user *find_nkey(const struct auth_config *auth, const char *nkey)
{
    for (uint32_t i = 0; nkey != NULL && i < auth->user_count; i++) {
        if (auth->users[i].nkey != NULL && !auth->users[i].standard_denied &&
            strcmp(auth->users[i].nkey, nkey) == 0) {
            return &auth->users[i];
        }
    }
    return NULL;
}

static const struct auth_user *find_user(const struct auth_config *auth, const char *name)
{
    for (uint32_t i = 0; name != NULL && i < auth->user_count; i++) {
        if (auth->users[i].name != NULL && !auth->users[i].standard_denied &&
            strcmp(auth->users[i].name, name) == 0) {
            return &auth->users[i];
        }
    }
    return NULL;
}

static bool no_credentials(const struct connect_options *options)
{
    return options->user == NULL && options->pass == NULL && options->auth_token == NULL &&
           options->nkey == NULL;
}

/* nats-server's order: nkeys, then the users list (the single user or token is
 * auth_check.c's). */
enum auth_verdict auth_users_decide(const struct auth_config *auth,
                                    const struct connect_options *options, const char *nonce,
                                    const struct auth_permissions **permissions,
                                    struct auth_bcrypt *bcrypt)
{
    const char *no_auth = no_credentials(options) ? auth->no_auth_user : NULL;
    if (auth->has_nkeys) {
        const struct auth_user *nkey = find_nkey(auth, no_auth);
        bool skip_signature = nkey != NULL;
        if (nkey == NULL && options->nkey != NULL) {
            nkey = find_nkey(auth, options->nkey);
            if (nkey == NULL) {
                return AUTH_DENIED;
            }
        }
        if (nkey != NULL) {
            if (!skip_signature && !signature_valid(nkey, options, nonce)) {
                return AUTH_DENIED;
            }
            *permissions = nkey->permissions;
            return AUTH_GRANTED;
        }
    }
    const struct auth_user *user = find_user(auth, no_auth);
    if (user != NULL) {
        *permissions = user->permissions;
        return AUTH_GRANTED;
    }
    if (options->user == NULL) {
        return AUTH_DENIED;
    }
    user = find_user(auth, options->user);
    if (user == NULL) {
        return unknown_user(auth, options->pass, bcrypt);
    }
    *permissions = user->permissions;
    return password_check(user->password != NULL ? user->password : "", options->pass, bcrypt);
}
