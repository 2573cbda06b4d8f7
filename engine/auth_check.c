/* The authentication the configuration asks for: whether clients must authenticate, and
 * the check of a CONNECT against the flags' single user or token or the file's users
 * (auth.h). Apart from auth.c so that the configuration, which owns the users, does not
 * depend on what reads it. Any shard; reads only. */
#include "engine/auth_check.h"

#include "base/log.h"
#include "engine/auth.h"
#include "engine/auth_tls_map.h"
#include "engine/config.h"

#include <string.h>

void auth_config_warn(const struct config *config)
{
    bool plain = config->pass != NULL && !auth_is_bcrypt(config->pass);
    const struct auth_config *auth = config->auth;
    for (uint32_t i = 0; auth != NULL && i < auth->user_count && !plain; i++) {
        plain = auth->users[i].nkey == NULL && !auth_is_bcrypt(auth->users[i].password);
    }
    if (plain) {
        LOG_WARN("Plaintext passwords detected, use nkeys or bcrypt");
    }
}

bool auth_required(const struct config *config)
{
    return config->user != NULL || config->token != NULL ||
           (config->auth != NULL && config->auth->users_given);
}

bool auth_nonce_required(const struct config *config)
{
    return config->auth != NULL && config->auth->has_nkeys;
}

/* A secret from the flags (a token, or the single user's password): plain at once, bcrypt
 * left to the caller; `deny` makes a bcrypt comparison end in no whatever it finds. */
static enum auth_verdict secret_check(const char *configured, const char *given, bool deny,
                                      struct auth_bcrypt *bcrypt)
{
    if (given == NULL) {
        given = "";
    }
    if (auth_is_bcrypt(configured)) {
        *bcrypt = (struct auth_bcrypt){configured, given, deny};
        return AUTH_BCRYPT;
    }
    bool match = auth_secret_equals(given, configured);
    return match && !deny ? AUTH_GRANTED : AUTH_DENIED;
}

enum auth_verdict auth_decide(const struct config *config, const struct connect_options *options,
                              const char *nonce, const struct x509_st *certificate,
                              const struct auth_permissions **permissions,
                              struct auth_bcrypt *bcrypt)
{
    *permissions = NULL;
    if (!auth_required(config)) {
        return AUTH_GRANTED;
    }
    const struct auth_config *auth = config->auth;
    if (config->tls_map && auth != NULL && auth->user_count > 0 && options->nkey == NULL) {
        /* nats-server: the certificate names the user; CONNECT's user and password count
         * for nothing */
        const struct auth_user *user = auth_tls_map_find(auth, certificate);
        if (user == NULL) {
            return AUTH_DENIED;
        }
        *permissions = user->permissions;
        return AUTH_GRANTED;
    }
    if (auth != NULL && auth->user_count > 0) {
        return auth_users_decide(auth, options, nonce, permissions, bcrypt);
    }
    if (config->token != NULL) {
        return secret_check(config->token, options->auth_token, false, bcrypt);
    }
    if (config->user != NULL) {
        /* both compared, whatever the first gives, so timing does not tell which failed */
        bool user_ok = auth_secret_equals(options->user, config->user);
        return secret_check(config->pass, options->pass, !user_ok, bcrypt);
    }
    return AUTH_DENIED;
}

bool auth_authenticate(const struct config *config, const struct connect_options *options,
                       const char *nonce, const struct x509_st *certificate,
                       const struct auth_permissions **permissions)
{
    struct auth_bcrypt bcrypt;
    switch (auth_decide(config, options, nonce, certificate, permissions, &bcrypt)) {
    case AUTH_GRANTED:
        return true;
    case AUTH_BCRYPT:
        return auth_bcrypt_run(&bcrypt);
    case AUTH_DENIED:
        break;
    }
    return false;
}
