/* The NATS client protocol: a kind of connection (see conn.h) and what each parsed op does.
 *
 * Input arrives as whole receive buffers; every op in one is handled before anything is
 * written (output only collects in the connection's buffer and is sent once at the end of
 * the loop turn). Errors get nats-server's exact -ERR text and its close-or-continue
 * policy; after a fatal one no more input is handled. Shard-owned: only the connection's
 * home shard calls these. */
#ifndef IONATS_ENGINE_CLIENT_H
#define IONATS_ENGINE_CLIENT_H

#include "engine/auth.h"
#include "engine/conn.h"
#include "engine/outbuf.h"
#include "engine/route.h"
#include "proto/connect.h"
#include "proto/parser.h"

#include <stddef.h>
#include <stdint.h>

/* The client kind's own flags (conn->kind_flags). */
enum {
    CLIENT_F_CONNECTED = 1u << 0,       /* CONNECT accepted (and authenticated) */
    CLIENT_F_READ_SINCE_PING = 1u << 1, /* input since the last PING timer */
    CLIENT_F_PONG_SEEN = 1u << 2,       /* the client has answered a server PING */
};

struct client;
struct client_login;

/* A subscription of one client: routing's view plus the client's bookkeeping. Owned by
 * its client; in the shard's index while alive. */
struct client_sub {
    struct route_sub route;    /* first: a route_sub * from routing is a client_sub * */
    struct client *client;     /* borrowed: the owner */
    struct client_sub *sid_next; /* chain in the client's sid table */
    const char *sid;           /* points into `text` */
    uint32_t sid_length;
    char text[];               /* sid, subject, queue; not NUL-terminated */
};

struct client {
    struct conn conn;          /* first: the kind's record starts with the connection */
    struct connect_options options;
    struct parser parser;
    struct client_sub **sid_buckets; /* owned: sid table */
    uint32_t sid_bucket_count;
    uint32_t sub_count;
    uint32_t pings_outstanding;
    struct timer_entry ping_timer; /* the next server PING */
    struct timer_entry auth_timer; /* armed until an authenticated CONNECT */
    /* borrowed from the configuration: what the authenticated user may do; NULL: all */
    const struct auth_permissions *permissions;
    struct auth_replies *replies; /* owned: replies it may answer (allow_responses) */
    char nonce[AUTH_NONCE_LENGTH + 1]; /* INFO's nonce; empty when none was sent */
    /* owned: a CONNECT whose bcrypt comparison the crypt worker runs; NULL: none waits */
    struct client_login *login;
    /* owned: input handed to the client while its login waits, handled once it is decided
     * (the connection is not read meanwhile, so this is at most what one receive brought,
     * decrypted) */
    struct outbuf login_input;
    /* borrowed from a configuration (all are kept until exit): the bcrypt hash that let the
     * client in; NULL: none did */
    const char *verified_hash;
};

/* The NATS client kind, for the shard's listener. */
extern const struct conn_kind client_kind;

#endif
