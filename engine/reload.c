/* Configuration reload: see reload.h. Main thread only; the shards only read what it
 * publishes. */
#include "engine/reload.h"

#include "base/log.h"
#include "engine/auth.h"
#include "engine/auth_check.h"
#include "engine/config.h"
#include "engine/conn_tls.h"
#include "engine/ops.h"
#include "engine/shard.h"
#include "proto/connect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void live_free(struct server_live *live)
{
    free(live->info_prefix);
    if (live->tls_owned) {
        tls_server_free(live->tls);
    }
    if (live->owned_config != NULL) {
        config_release(live->owned_config);
        free(live->owned_config);
    }
    free(live);
}

/* The live state of `config` with client TLS `tls` (taken over when `tls_owned`, even when
 * this fails). NULL: out of memory. */
static struct server_live *live_build(const struct server *server, const struct config *config,
                                      struct tls_server *tls, bool tls_owned)
{
    struct server_live *live = calloc(1, sizeof *live);
    if (live == NULL) {
        if (tls_owned) {
            tls_server_free(tls);
        }
        return NULL;
    }
    live->config = config;
    live->auth_required = auth_required(config);
    live->max_connections = config->max_connections;
    live->tls = tls;
    live->tls_owned = tls_owned;
    const struct config *start = server->config; /* listening is not reloaded */
    struct info_server info = {
        .server_id = server->server_id,
        .server_name = server->server_name,
        .version = SERVER_PROTOCOL_VERSION,
        .host = start->host,
        .port = server->port,
        .max_payload = (uint32_t)config->max_payload,
        .auth_required = live->auth_required,
        .tls_required = tls != NULL,
        .tls_verify = tls != NULL && tls_server_verify(tls),
        .jetstream = start->jetstream,
    };
    live->info_prefix = info_prefix_build(&info);
    if (live->info_prefix == NULL) {
        live_free(live);
        return NULL;
    }
    return live;
}

int server_live_start(struct server *server, const struct config *config)
{
    struct server_live *live = live_build(server, config, server->tls, false);
    if (live == NULL) {
        return -ENOMEM;
    }
    atomic_store_explicit(&server->live, live, memory_order_release);
    return 0;
}

void server_live_free(struct server *server)
{
    struct server_live *live = atomic_load_explicit(&server->live, memory_order_acquire);
    atomic_store_explicit(&server->live, NULL, memory_order_relaxed);
    while (live != NULL) {
        struct server_live *older = live->older;
        live_free(live);
        live = older;
    }
}

static enum log_level level_of(const struct config *config)
{
    return config->trace ? LOG_LEVEL_TRACE : config->debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO;
}

/* Reads the command line and file again into `next`. 0, or -EINVAL with the first line of
 * what the parse said in `why`. */
static int config_read_again(struct config *next, int argc, char **argv, char *why, size_t size)
{
    char *said = NULL;
    size_t said_size = 0;
    FILE *err = open_memstream(&said, &said_size);
    if (err == NULL) {
        snprintf(why, size, "out of memory");
        return -ENOMEM;
    }
    enum config_result parsed = config_parse(next, argc, argv, err, err);
    fclose(err);
    int rc = 0;
    if (parsed != CONFIG_RUN) {
        const char *text = said != NULL ? said : "";
        if (strncmp(text, "ionats: ", 8) == 0) {
            text += 8;
        }
        size_t line = strcspn(text, "\n");
        snprintf(why, size, "%.*s", (int)line, text);
        rc = -EINVAL;
    }
    free(said);
    return rc;
}

/* TLS for clients as `next` asks, built again from its files. 0 (with *tls NULL when it
 * asks for none) or -EINVAL with the reason in `why`. */
static int tls_build(const struct config *next, struct tls_server **tls, char *why, size_t size)
{
    char error[512];
    int rc = tls_server_from_config(next, tls, error, sizeof error);
    if (rc != 0) {
        snprintf(why, size, "TLS: %s", error);
    }
    return rc;
}

static bool text_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/* The log's time stamps and file, the pid file and the ports file, as `next` asks. */
static void ops_apply(struct server *server, const struct config *current,
                      const struct config *next, const char *argv0)
{
    log_configure_time(next->logtime, next->logtime_utc);
    if (next->log_path != NULL && text_differs(current->log_path, next->log_path)) {
        int rc = log_file_move(next->log_path); /* config_reload.c: file to file only */
        if (rc != 0) {
            LOG_ERROR("Unable to move the log to \"%s\": %s", next->log_path, strerror(-rc));
        }
    }
    if (text_differs(current->pid_path, next->pid_path) && next->pid_path != NULL &&
        next->pid_path[0] != '\0') {
        int rc = ops_pid_file_write(next->pid_path);
        if (rc != 0) {
            LOG_ERROR("Failed to write pidfile: %s", strerror(-rc));
        }
    }
    if (text_differs(current->ports_file_dir, next->ports_file_dir)) {
        if (server->ports_path[0] != '\0') {
            ops_ports_file_remove(server->ports_path);
        }
        ops_ports_file_path(server->ports_path, sizeof server->ports_path, next->ports_file_dir,
                            argv0);
        if (server->ports_path[0] != '\0') {
            ops_ports_file_write(server->listen_fd, server->monitor_listen_fd,
                                 server->ports_path);
        }
    }
}

/* A lowered max_connections: the clients past it, for the shards to close. */
static void connections_trim(struct server *server, int64_t max_connections)
{
    int64_t open = atomic_load_explicit(&server->connection_count, memory_order_relaxed);
    int64_t excess = open > max_connections ? open - max_connections : 0;
    atomic_store_explicit(&server->connections_to_close, excess, memory_order_relaxed);
}

void server_reload(struct server *server, int argc, char **argv)
{
    static const char failed[] = "Failed to reload server configuration";
    if (server->config->config_path == NULL) {
        LOG_ERROR("%s: can only reload config when a file is provided using -c or --config",
                  failed);
        return;
    }
    struct config *next = calloc(1, sizeof *next);
    if (next == NULL) {
        LOG_ERROR("%s: out of memory", failed);
        return;
    }
    char why[1024];
    if (config_read_again(next, argc, argv, why, sizeof why) != 0) {
        LOG_ERROR("%s: %s", failed, why);
        free(next);
        return;
    }
    struct tls_server *tls = NULL;
    if (config_reload_refused(server->config, next, why, sizeof why) != 0 ||
        tls_build(next, &tls, why, sizeof why) != 0) {
        LOG_ERROR("%s: %s", failed, why);
        config_release(next);
        free(next);
        return;
    }
    struct server_live *live = live_build(server, next, tls, tls != NULL);
    if (live == NULL) {
        LOG_ERROR("%s: out of memory", failed);
        config_release(next);
        free(next);
        return;
    }
    live->owned_config = next;
    live->older = atomic_load_explicit(&server->live, memory_order_relaxed);
    const struct config *current = live->older->config;
    config_reload_describe(current, next);
    log_set_level(level_of(next));
    ops_apply(server, current, next, argv[0]);
    auth_config_warn(next);
    connections_trim(server, next->max_connections);
    /* release: a shard that sees the new state sees it whole */
    atomic_store_explicit(&server->live, live, memory_order_release);
    for (int i = 0; i < server->shard_count; i++) {
        shard_request_reload(server->wake_fds[i]);
    }
    LOG_INFO("Reloaded server configuration");
}
