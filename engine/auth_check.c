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

bool auth_authenticate(const struct config *config, const struct connect_options *options,
                       const char *nonce, const struct x509_st *certificate,
                       const struct auth_permissions **permissions)
{
    *permissions = NULL;
    if (!auth_required(config)) {
        return true;
    }
    const struct auth_config *auth = config->auth;
    if (config->tls_map && auth != NULL && auth->user_count > 0 && options->nkey == NULL) {
        /* nats-server: the certificate names the user; CONNECT's user and password count
         * for nothing */
        const struct auth_user *user = auth_tls_map_find(auth, certificate);
        if (user == NULL) {
            return false;
        }
        *permissions = user->permissions;
        return true;
    }
    if (auth != NULL && auth->user_count > 0) {
        return auth_users_authenticate(auth, options, nonce, permissions);
    }
    if (config->token != NULL) {
        return auth_password_matches(config->token, options->auth_token);
    }
    if (config->user != NULL) {
        /* both compared, whatever the first gives, so timing does not tell which failed */
        bool user_ok = auth_secret_equals(options->user, config->user);
        bool pass_ok = auth_password_matches(config->pass, options->pass);
        return user_ok && pass_ok;
    }
    return false;
}
