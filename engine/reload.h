/* What a configuration reload (SIGHUP) changes while the broker runs: who may connect and
 * what each may do (users, passwords, tokens, nkeys, permissions), the INFO new clients
 * get, TLS for new clients, max_connections (clients past a lowered one are closed, as by
 * nats-server), max_payload and max_control_line (every client's parser), ping_interval,
 * ping_max, write_deadline, logging (-D, -V, -T, logtime_utc, the log file's path), the
 * pid file and the ports file. What config_reload.c refuses is refused whole with
 * nats-server's words ("config reload not supported for X: old=…, new=…") and the broker
 * serves on as it was. HTTPS monitoring keeps the certificate it started with.
 *
 * The one idea: what may change lives in one immutable struct server_live, which main
 * replaces as a whole and publishes with one release store; a shard reads the current one
 * with an acquire load where it decides (a CONNECT, an accept, a ping), and on the wake-up
 * that follows a reload (shard_reload.c) it applies it: its write deadline, its share of
 * the connections past max_connections, and each client checks itself again: those no
 * longer allowed are closed (no -ERR, as from nats-server), the others take their new
 * permissions and limits and lose the subscriptions these no longer allow. A replaced live
 * struct (and the configuration and TLS context it owns) is kept until exit, as a shard may
 * still hold it: reloads are an operator's, few, and each keeps one parsed file. Main
 * thread writes; shards read. */
#ifndef IONATS_ENGINE_RELOAD_H
#define IONATS_ENGINE_RELOAD_H

#include "engine/server.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct config;
struct tls_server;

struct server_live {
    const struct config *config; /* borrowed (or owned_config): what applies now */
    char *info_prefix;           /* owned: INFO up to client_id */
    bool auth_required;
    int64_t max_connections;
    /* TLS for the clients that connect from now on: the server's (borrowed) at start, one
     * built from the files again (owned: tls_owned) at each reload that keeps TLS on, so a
     * certificate renewed in place is served; NULL: plain text. */
    struct tls_server *tls;
    bool tls_owned;
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
