/* tls { verify_and_map: true }: the user a client certificate names (auth_tls_map.c). */
#ifndef IONATS_ENGINE_AUTH_TLS_MAP_H
#define IONATS_ENGINE_AUTH_TLS_MAP_H

#include "engine/auth.h"

struct x509_st;

/* The user of `auth` the certificate names, in nats-server's order (e-mail addresses, DNS
 * names and URIs of its alternative names, then its subject as a distinguished name); NULL
 * when none (or no certificate). */
const struct auth_user *auth_tls_map_find(const struct auth_config *auth,
                                          const struct x509_st *certificate);

#endif
