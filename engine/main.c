/* ionats entry point: flags, logging, the listening socket, the shard threads, signals.
 *
 * The main thread owns start-up and shut-down only: it fills `struct server` (immutable
 * afterwards), starts the shards, then sleeps in sigwaitinfo until SIGINT or SIGTERM, asks
 * every shard to stop (each drains its clients), joins them and exits 0. */
#include "base/assert.h"
#include "base/log.h"
#include "engine/config.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "proto/connect.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

/* Pending-connection queue of the listening socket; the kernel caps it at somaxconn. */
enum { LISTEN_BACKLOG = 4096 };

static int listen_open(const char *host, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *found = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &found);
    if (rc != 0) {
        LOG_ERROR("cannot resolve listen address %s: %s", host, gai_strerror(rc));
        return -EINVAL;
    }
    int fd = -1;
    int error = 0;
    for (struct addrinfo *a = found; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            error = -errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
            error = -errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0) {
        LOG_ERROR("cannot listen on %s:%d: %s", host, port, strerror(-error));
        return error;
    }
    return fd;
}

static int log_open(const struct config *config)
{
    int fd = 2;
    if (config->log_path != NULL) {
        fd = open(config->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "ionats: cannot open log file %s: %s\n", config->log_path,
                    strerror(errno));
            return -1;
        }
    }
    enum log_level level = LOG_LEVEL_INFO;
    if (config->trace) {
        level = LOG_LEVEL_TRACE;
    } else if (config->debug) {
        level = LOG_LEVEL_DEBUG;
    }
    log_configure(fd, level);
    return fd;
}

static int server_init(struct server *server, const struct config *config)
{
    memset(server, 0, sizeof *server);
    server->config = config;
    uint64_t random_words[5];
    if (getrandom(random_words, sizeof random_words, 0) != (ssize_t)sizeof random_words) {
        return -EIO;
    }
    info_server_id_make(server->server_id, sizeof server->server_id, random_words);
    server->hash_seed = random_words[4];
    server->server_name = config->server_name ? config->server_name : server->server_id;
    server->auth_required = config->user != NULL || config->token != NULL;
    server->listen_fd = listen_open(config->host, config->port);
    if (server->listen_fd < 0) {
        return server->listen_fd;
    }
    struct sockaddr_storage bound;
    socklen_t bound_length = sizeof bound;
    getsockname(server->listen_fd, (struct sockaddr *)&bound, &bound_length);
    int port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    struct info_server info = {
        .server_id = server->server_id,
        .server_name = server->server_name,
        .version = SERVER_PROTOCOL_VERSION,
        .host = config->host,
        .port = port,
        .max_payload = (uint32_t)config->max_payload,
        .auth_required = server->auth_required,
    };
    server->info_prefix = info_prefix_build(&info);
    if (server->info_prefix == NULL) {
        close(server->listen_fd);
        return -ENOMEM;
    }
    LOG_INFO("Listening for client connections on %s:%d", config->host, port);
    return 0;
}

/* A shard thread sets its ring up itself: a SINGLE_ISSUER ring belongs to the thread that
 * creates it. `started` tells main whether the set-up worked. */
struct shard_start {
    struct shard *shard;
    struct server *server;
    int index;
    sem_t started;
};

static void *shard_thread(void *arg)
{
    struct shard_start *start = arg;
    struct shard *shard = start->shard;
    log_set_thread_shard(start->index);
    shard->error = shard_init(shard, start->server, start->index);
    sem_post(&start->started);
    if (shard->error == 0) {
        shard_run(shard);
    }
    return NULL;
}

/* Blocks until SIGINT or SIGTERM arrives (they are blocked in every thread). */
static int signal_wait(const sigset_t *signals)
{
    for (;;) {
        siginfo_t info;
        int signal_number = sigwaitinfo(signals, &info);
        if (signal_number > 0) {
            return signal_number;
        }
    }
}

int main(int argc, char **argv)
{
    struct config config;
    enum config_result parsed = config_parse(&config, argc, argv, stdout, stderr);
    if (parsed != CONFIG_RUN) {
        return parsed == CONFIG_EXIT_OK ? 0 : 2;
    }
    int log_fd = log_open(&config);
    if (log_fd < 0) {
        return 1;
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct server server;
    int rc = server_init(&server, &config);
    if (rc != 0) {
        return 1;
    }
    struct shard shard;
    struct shard_start start = {.shard = &shard, .server = &server, .index = 0};
    sem_init(&start.started, 0, 0);
    pthread_t thread;
    rc = pthread_create(&thread, NULL, shard_thread, &start);
    if (rc != 0) {
        LOG_ERROR("cannot start shard thread: %s", strerror(rc));
        return 1;
    }
    while (sem_wait(&start.started) != 0) {
    }
    if (shard.error != 0) {
        LOG_ERROR("shard 0 failed to start: %s", strerror(-shard.error));
        pthread_join(thread, NULL);
        return 1;
    }
    LOG_INFO("ionats %s ready (server id %s, protocol version %s)", IONATS_VERSION,
             server.server_id, SERVER_PROTOCOL_VERSION);
    int signal_number = signal_wait(&signals);
    LOG_INFO("received signal %d, shutting down", signal_number);
    shard_request_stop(&shard);
    pthread_join(thread, NULL);
    shard_destroy(&shard);
    close(server.listen_fd);
    free(server.info_prefix);
    LOG_INFO("server stopped");
    return 0;
}
