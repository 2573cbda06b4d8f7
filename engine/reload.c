/* Configuration reload: see reload.h. Main thread only; the shards only read what it
 * publishes. */
#include "engine/reload.h"

#include "base/log.h"
#include "engine/auth.h"
#include "engine/auth_check.h"
#include "engine/config.h"
#include "engine/conn_tls.h"
#include "engine/shard.h"
#include "proto/connect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct server_live *live_build(const struct server *server, const struct config *config)
{
    struct server_live *live = calloc(1, sizeof *live);
    if (live == NULL) {
        return NULL;
    }
    live->config = config;
    live->auth_required = auth_required(config);
    live->max_connections = config->max_connections;
    const struct config *start = server->config; /* TLS and listening are not reloaded */
    struct info_server info = {
        .server_id = server->server_id,
        .server_name = server->server_name,
        .version = SERVER_PROTOCOL_VERSION,
        .host = start->host,
        .port = server->port,
        .max_payload = (uint32_t)start->max_payload,
        .auth_required = live->auth_required,
        .tls_required = server->tls != NULL,
        .tls_verify = server->tls != NULL && start->tls_verify,
        .jetstream = start->jetstream,
    };
    live->info_prefix = info_prefix_build(&info);
    if (live->info_prefix == NULL) {
        free(live);
        return NULL;
    }
    return live;
}

int server_live_start(struct server *server, const struct config *config)
{
    struct server_live *live = live_build(server, config);
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
        free(live->info_prefix);
        if (live->owned_config != NULL) {
            config_release(live->owned_config);
            free(live->owned_config);
        }
        free(live);
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
    if (config_reload_refused(server->config, next, why, sizeof why) != 0) {
        LOG_ERROR("%s: %s", failed, why);
        config_release(next);
        free(next);
        return;
    }
    struct server_live *live = live_build(server, next);
    if (live == NULL) {
        LOG_ERROR("%s: out of memory", failed);
        config_release(next);
        free(next);
        return;
    }
    live->owned_config = next;
    live->older = atomic_load_explicit(&server->live, memory_order_relaxed);
    log_set_level(level_of(next));
    auth_config_warn(next);
    /* release: a shard that sees the new state sees it whole */
    atomic_store_explicit(&server->live, live, memory_order_release);
    for (int i = 0; i < server->shard_count; i++) {
        shard_request_reload(server->wake_fds[i]);
    }
    LOG_INFO("Reloaded server configuration");
}
