/* A client's CONNECT and login: its options, the check of its credentials, and what the
 * client may do once in (its permissions, +OK).
 *
 * The one idea: a login that needs a bcrypt comparison (tens of milliseconds) is not
 * decided on the shard's loop, which every other connection of the shard would wait on.
 * The comparison goes to the crypt worker (crypt_worker.h) with the connection's id; the
 * CONNECT waits in the client (`login`), and client_receive holds the client's input after
 * it (shard_input_hold), so what the client sent next is handled in order once the answer
 * comes back into the shard's mailbox, as nats-server answers it after the CONNECT. A
 * client gone meanwhile (its id no longer in its slot) leaves the answer unused. The
 * client's home shard only. */
#include "engine/client_internal.h"

#include "base/assert.h"
#include "base/log.h"
#include "engine/auth_check.h"
#include "engine/conn_tls.h"
#include "engine/crypt_worker.h"
#include "engine/reload.h"
#include "engine/shard.h"

#include <stdlib.h>
#include <string.h>

static const char ERR_PROTOCOL[] = "-ERR 'invalid client protocol'\r\n";
static const char ERR_NO_RESPONDERS[] = "-ERR 'no responders requires headers support'\r\n";

/* A CONNECT waiting for its bcrypt comparison. */
struct client_login {
    struct connect_options options;             /* owned: the CONNECT's */
    const struct auth_permissions *permissions; /* borrowed: the user's, if it matches */
    const char *hash; /* borrowed from the configuration: what the password must give */
};

bool client_permissions_set(struct client *client, const struct auth_permissions *permissions)
{
    if (permissions != NULL && permissions->responses && client->replies == NULL) {
        client->replies = auth_replies_new();
        if (client->replies == NULL) {
            conn_close(&client->conn, "Out Of Memory");
            return false;
        }
    }
    if ((permissions == NULL || !permissions->responses) && client->replies != NULL) {
        auth_replies_free(client->replies);
        client->replies = NULL;
    }
    client->permissions = permissions;
    return true;
}

/* The client is in: its permissions, its options (taken over), +OK. */
static void connect_accept(struct client *client, struct connect_options *options,
                           const struct auth_permissions *permissions, const char *hash)
{
    if (!client_permissions_set(client, permissions)) {
        connect_options_free(options);
        return;
    }
    if (options->no_responders && !options->headers) {
        connect_options_free(options);
        client_fail(client, TEXT(ERR_NO_RESPONDERS), "Protocol Violation");
        return;
    }
    connect_options_free(&client->options);
    client->options = *options;
    client->verified_hash = hash;
    client->conn.kind_flags |= CLIENT_F_CONNECTED;
    timer_cancel(client->conn.table->timers, &client->auth_timer);
    client_ok(client);
}

static void connect_refuse(struct client *client, struct connect_options *options)
{
    connect_options_free(options);
    client_fail(client, TEXT(ERR_AUTHORIZATION), "Authentication Failure");
}

void client_login_free(struct client *client)
{
    if (client->login != NULL) {
        connect_options_free(&client->login->options);
        free(client->login);
        client->login = NULL;
    }
}

/* The crypt worker's answer, back on the client's shard. */
static void login_answered(struct shard *shard, struct shard_call *call)
{
    struct crypt_job *job = (struct crypt_job *)call; /* the call is the job's first member */
    struct conn *conn =
        job->conn_index < shard->conns.capacity ? shard->conns.conns[job->conn_index] : NULL;
    if (conn != NULL && conn->id == job->conn_id && conn->kind == &client_kind &&
        ((struct client *)conn)->login != NULL) {
        struct client *client = (struct client *)conn;
        struct client_login *login = client->login;
        client->login = NULL;
        if (conn_ending(conn)) {
            connect_options_free(&login->options);
        } else if (job->match) {
            connect_accept(client, &login->options, login->permissions, login->hash);
        } else {
            connect_refuse(client, &login->options);
        }
        free(login);
        shard_input_resume(shard, conn);
    }
    crypt_job_free(job);
}

/* Hands the comparison to the crypt worker; the CONNECT waits in the client. False when
 * that cannot be done (no worker: a test's shard; no memory): the caller compares here. */
static bool login_defer(struct client *client, struct connect_options *options,
                        const struct auth_permissions *permissions,
                        const struct auth_bcrypt *bcrypt)
{
    struct shard *shard = client->conn.shard;
    struct server *server = shard->server;
    if (server->crypt == NULL || server->mailboxes == NULL) {
        return false;
    }
    struct client_login *login = calloc(1, sizeof *login);
    struct crypt_job *job = login != NULL ? crypt_job_new(bcrypt, login_answered) : NULL;
    if (job == NULL) {
        free(login);
        return false;
    }
    ASSERT(client->login == NULL);
    login->options = *options;
    login->permissions = permissions;
    login->hash = bcrypt->hash;
    client->login = login;
    job->mailbox = &server->mailboxes[shard->index];
    job->wake_fd = server->wake_fds[shard->index];
    job->conn_id = client->conn.id;
    job->conn_index = client->conn.index;
    crypt_worker_submit(server->crypt, job);
    return true;
}

void client_connect_handle(struct client *client, const struct proto_op *op)
{
    const struct server *server = client->conn.shard->server;
    struct connect_options options;
    int rc = connect_options_parse(op->text.data, op->text.length, &options);
    if (rc == CONNECT_ERR_PROTOCOL) {
        client_fail(client, TEXT(ERR_PROTOCOL), "Protocol Violation");
        return;
    }
    if (rc != 0) {
        conn_close_after_flush(&client->conn, "Protocol Violation"); /* no -ERR */
        return;
    }
    const struct auth_permissions *permissions = NULL;
    const struct server_live *live = server_live(server);
    if (!live->auth_required) {
        connect_accept(client, &options, NULL, NULL);
        return;
    }
    struct auth_bcrypt bcrypt;
    switch (auth_decide(live->config, &options, client->nonce[0] != '\0' ? client->nonce : NULL,
                        conn_tls_peer_certificate(&client->conn), &permissions, &bcrypt)) {
    case AUTH_GRANTED:
        connect_accept(client, &options, permissions, NULL);
        return;
    case AUTH_DENIED:
        connect_refuse(client, &options);
        return;
    case AUTH_BCRYPT:
        if (login_defer(client, &options, permissions, &bcrypt)) {
            return;
        }
        if (auth_bcrypt_run(&bcrypt)) {
            connect_accept(client, &options, permissions, bcrypt.hash);
        } else {
            connect_refuse(client, &options);
        }
        return;
    }
}

bool client_connect_recheck(struct client *client, const struct auth_permissions **permissions)
{
    const struct server_live *live = server_live(client->conn.shard->server);
    struct auth_bcrypt bcrypt;
    switch (auth_decide(live->config, &client->options,
                        client->nonce[0] != '\0' ? client->nonce : NULL,
                        conn_tls_peer_certificate(&client->conn), permissions, &bcrypt)) {
    case AUTH_GRANTED:
        client->verified_hash = NULL;
        return true;
    case AUTH_DENIED:
        return false;
    case AUTH_BCRYPT:
        break;
    }
    /* the same password (the CONNECT's) against the same hash gives the same answer: a
     * reload that kept the user's hash costs no comparison */
    if (!bcrypt.deny && client->verified_hash != NULL &&
        strcmp(client->verified_hash, bcrypt.hash) == 0) {
        client->verified_hash = bcrypt.hash;
        return true;
    }
    if (!auth_bcrypt_run(&bcrypt)) { /* a changed hash: rare, compared here */
        return false;
    }
    client->verified_hash = bcrypt.hash;
    return true;
}
