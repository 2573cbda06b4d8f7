/* Deciding who may connect from the configuration (auth_check.c): whether clients must
 * authenticate, whether INFO carries a nonce, and the check of CONNECT's credentials. */
#ifndef IONATS_ENGINE_AUTH_CHECK_H
#define IONATS_ENGINE_AUTH_CHECK_H

#include "engine/auth.h"
#include "proto/connect.h"

#include <stdbool.h>

struct auth_permissions;
struct config;
struct x509_st;

/* Logs nats-server's warning when a password is written in plain text. */
void auth_config_warn(const struct config *config);

/* True when a client must authenticate. */
bool auth_required(const struct config *config);

/* True when INFO must carry a nonce (nkey users exist). */
bool auth_nonce_required(const struct config *config);

/* Checks CONNECT's credentials, all but a bcrypt comparison, which an AUTH_BCRYPT verdict
 * leaves in `*bcrypt` (auth.h) for the caller to run where it may take its time;
 * `*permissions` is set for AUTH_GRANTED and AUTH_BCRYPT. The arguments as below. */
enum auth_verdict auth_decide(const struct config *config, const struct connect_options *options,
                              const char *nonce, const struct x509_st *certificate,
                              const struct auth_permissions **permissions,
                              struct auth_bcrypt *bcrypt);

/* Checks CONNECT's credentials, a bcrypt comparison included (on the calling thread). True
 * when the client is in; `*permissions` is then its
 * permission set (NULL: everything allowed). `nonce` is the one its INFO carried (NULL
 * when none); `certificate` the one the client presented over TLS (NULL when none), which
 * names the user under verify_and_map. A user name that does not exist costs what a wrong
 * password costs. */
bool auth_authenticate(const struct config *config, const struct connect_options *options,
                       const char *nonce, const struct x509_st *certificate,
                       const struct auth_permissions **permissions);

#endif
