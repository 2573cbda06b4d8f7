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
#include "engine/auth.h"
#include "engine/auth_check.h"
#include "engine/client.h"
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
    const struct server_live *live; /* borrowed (kept until exit): what decided it */
    struct crypt_job *job; /* borrowed: out with the worker until its answer frees it */
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
        atomic_store_explicit(&client->login->job->cancelled, true, memory_order_relaxed);
        connect_options_free(&client->login->options);
        free(client->login);
        client->login = NULL;
    }
    outbuf_free(&client->login_input);
}

void client_login_input_keep(struct client *client, const char *data, size_t length)
{
    if (length == 0 || conn_ending(&client->conn)) {
        return;
    }
    if (outbuf_reserve(&client->login_input, length) != 0) {
        conn_close(&client->conn, "Out Of Memory"); /* input cannot be dropped */
        return;
    }
    outbuf_put(&client->login_input, data, length);
}

/* The login decided: what the client sent after its CONNECT is handled now, in order
 * (a second CONNECT in it may wait for the worker again, keeping the rest anew). */
static void login_input_replay(struct client *client)
{
    struct outbuf kept = client->login_input;
    client->login_input = (struct outbuf){0};
    if (kept.length > 0 && !conn_ending(&client->conn)) {
        client_receive(&client->conn, kept.data, kept.length);
    }
    outbuf_free(&kept);
}

/* A reload came while the comparison ran: the login is decided again by what applies now
 * (the user may be gone, or have other permissions); the comparison made still counts for
 * the same hash. */
static bool login_recheck(struct client *client, struct client_login *login, bool matched,
                          const struct auth_permissions **permissions, const char **hash)
{
    const struct server_live *live = server_live(client->conn.shard->server);
    struct auth_bcrypt bcrypt;
    *hash = NULL;
    switch (auth_decide(live->config, &login->options,
                        client->nonce[0] != '\0' ? client->nonce : NULL,
                        conn_tls_peer_certificate(&client->conn), permissions, &bcrypt)) {
    case AUTH_GRANTED:
        return true;
    case AUTH_DENIED:
        return false;
    case AUTH_BCRYPT:
        break;
    }
    *hash = bcrypt.hash;
    if (!bcrypt.deny && strcmp(bcrypt.hash, login->hash) == 0) {
        return matched;
    }
    return auth_bcrypt_run(&bcrypt); /* the hash changed too: rare, compared here */
}

/* The crypt worker's answer, back on the client's shard. */
static void login_answered(struct shard *shard, struct shard_call *call)
{
    struct crypt_job *job = (struct crypt_job *)call; /* the call is the job's first member */
    struct conn *conn =
        job->conn_index < shard->conns.capacity ? shard->conns.conns[job->conn_index] : NULL;
    struct client *client = conn != NULL && conn->id == job->conn_id && conn->kind == &client_kind
                                ? (struct client *)conn
                                : NULL;
    if (client == NULL || client->login == NULL || client->login->job != job) {
        crypt_job_free(job); /* the client left: nobody waits for it */
        return;
    }
    struct client_login *login = client->login;
    client->login = NULL;
    const struct auth_permissions *permissions = login->permissions;
    const char *hash = login->hash;
    bool in = job->match;
    if (login->live != server_live(shard->server)) {
        in = login_recheck(client, login, job->match, &permissions, &hash);
    }
    if (conn_ending(conn)) {
        connect_options_free(&login->options);
    } else if (in) {
        connect_accept(client, &login->options, permissions, hash);
    } else {
        connect_refuse(client, &login->options);
    }
    free(login);
    crypt_job_free(job);
    login_input_replay(client);
    if (client->login == NULL) {
        shard_input_resume(shard, conn);
    }
}

/* Hands the comparison to the crypt worker; the CONNECT waits in the client. False when
 * that cannot be done (no worker: a test's shard; no memory): the caller compares here.
 * A full queue refuses the login (`*refused`). */
static bool login_defer(struct client *client, struct connect_options *options,
                        const struct auth_permissions *permissions,
                        const struct auth_bcrypt *bcrypt, bool *refused)
{
    struct shard *shard = client->conn.shard;
    struct server *server = shard->server;
    *refused = false;
    if (server->crypt == NULL || server->mailboxes == NULL) {
        return false;
    }
    struct client_login *login = calloc(1, sizeof *login);
    struct crypt_job *job = login != NULL ? crypt_job_new(bcrypt, login_answered) : NULL;
    if (job == NULL) {
        free(login);
        return false;
    }
    job->mailbox = &server->mailboxes[shard->index];
    job->wake_fd = server->wake_fds[shard->index];
    job->conn_id = client->conn.id;
    job->conn_index = client->conn.index;
    if (!crypt_worker_submit(server->crypt, job)) {
        LOG_WARN("client %llu: %d logins already wait for their bcrypt comparison; refused",
                 (unsigned long long)client->conn.id, CRYPT_JOBS_MAX);
        crypt_job_free(job);
        free(login);
        *refused = true;
        return false;
    }
    ASSERT(client->login == NULL);
    login->options = *options;
    login->permissions = permissions;
    login->hash = bcrypt->hash;
    login->live = server_live(server);
    login->job = job;
    client->login = login;
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
    case AUTH_BCRYPT: {
        bool refused = false;
        if (login_defer(client, &options, permissions, &bcrypt, &refused)) {
            return;
        }
        if (!refused && auth_bcrypt_run(&bcrypt)) {
            connect_accept(client, &options, permissions, bcrypt.hash);
        } else {
            connect_refuse(client, &options);
        }
        return;
    }
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
