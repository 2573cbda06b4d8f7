/* What client.c (the ops) and client_connect.c (CONNECT and the login) share. The client's
 * home shard only. */
#ifndef IONATS_ENGINE_CLIENT_INTERNAL_H
#define IONATS_ENGINE_CLIENT_INTERNAL_H

#include "proto/parser.h"

#include <stdbool.h>
#include <stddef.h>

struct auth_permissions;
struct client;
struct conn;

#define TEXT(s) s, sizeof(s) - 1

static const char ERR_AUTHORIZATION[] = "-ERR 'Authorization Violation'\r\n";

/* Sends the -ERR, then closes once it is out. A connection already on its way out sends
 * nothing more: one fatal error is all a client gets, as from nats-server. */
void client_fail(struct client *client, const char *error, size_t length, const char *reason);

/* +OK when the client asked for it (verbose). */
void client_ok(struct client *client);

/* Gives the client its permission set, and the table of replies it may answer when the
 * set has allow_responses. False when out of memory (the client is then closed). */
bool client_permissions_set(struct client *client, const struct auth_permissions *permissions);

/* CONNECT: its options, then the login. A bcrypt comparison is handed to the crypt worker:
 * the client then has a `login` waiting, and its caller holds the rest of its input until
 * the answer (client_connect.c). */
void client_connect_handle(struct client *client, const struct proto_op *op);

/* A configuration reload: whether the client is still let in, and with which permissions;
 * a bcrypt comparison already made for the same hash and password is not made again. */
bool client_connect_recheck(struct client *client, const struct auth_permissions **permissions);

/* Frees a login still waiting and what it kept (the client is released); the crypt
 * worker skips its comparison if it has not run it yet. */
void client_login_free(struct client *client);

/* Keeps input handed to the client while its login waits. */
void client_login_input_keep(struct client *client, const char *data, size_t length);

/* The client kind's receive (client.c): handles the ops in `data`. */
void client_receive(struct conn *conn, const char *data, size_t length);

#endif
