/* What a configuration reload (SIGHUP) changes while the broker runs: who may connect and
 * what each may do (users, passwords, tokens, nkeys, permissions), the INFO new clients
 * get, max_connections, and debug and trace logging. Everything else a reload
 * would change is refused with nats-server's words ("config reload not supported for X:
 * old=…, new=…") and the broker serves on as it was.
 *
 * The one idea: what may change lives in one immutable struct server_live, which main
 * replaces as a whole and publishes with one release store; a shard reads the current one
 * with an acquire load where it decides (a CONNECT, an accept), and on the wake-up that
 * follows a reload it checks its clients again: those no longer allowed are closed (no
 * -ERR, as from nats-server), the others take their new permissions and lose the
 * subscriptions these no longer allow. A replaced live struct
 * (and the configuration it borrows from) is kept until exit, as a shard may still hold
 * it: reloads are an operator's, few, and each keeps one parsed file. Main thread writes;
 * shards read. */
#ifndef IONATS_ENGINE_RELOAD_H
#define IONATS_ENGINE_RELOAD_H

#include "engine/server.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct config;

struct server_live {
    const struct config *config; /* borrowed (or owned_config): whose authorization applies */
    char *info_prefix;           /* owned: INFO up to client_id */
    bool auth_required;
    int64_t max_connections;
    struct config *owned_config; /* owned: a reloaded configuration; NULL for the first */
    struct server_live *older;   /* owned: the one this replaced, kept until exit */
};

/* Builds the first live state from the configuration the broker starts with (the server's
 * id, port and TLS already set). 0 or -ENOMEM. */
int server_live_start(struct server *server, const struct config *config);

/* Frees every live state, at exit, once the shards are gone. */
void server_live_free(struct server *server);

/* The current live state (acquire: what it points to is complete). */
static inline const struct server_live *server_live(const struct server *server)
{
    return atomic_load_explicit(&server->live, memory_order_acquire);
}

/* SIGHUP: reads the configuration again from the same command line and file, and applies
 * it or says why not. Main thread. */
void server_reload(struct server *server, int argc, char **argv);

#endif
