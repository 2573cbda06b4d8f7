/* ionats entry point: flags, logging, listening sockets, the shard threads, signals.
 *
 * The main thread owns start-up and shut-down only. It fills `struct server` (immutable
 * afterwards, but for its atomics), opens the client and (with -m) the HTTP monitoring
 * listener, allocates every cross-shard ring and mailbox, and starts the shard
 * threads; each sets its own loop up (io_uring, or epoll where io_uring is refused: chosen
 * once, here, for all; a SINGLE_ISSUER ring belongs to the thread that creates it) and
 * waits at a barrier until all are ready, so no shard sends to a shard that does not exist
 * yet. Main then sleeps in sigwaitinfo and answers signals as nats-server does: SIGUSR1
 * reopens the log file (and, for now, asks every shard to log its counters), SIGHUP and
 * SIGUSR2 reach the hooks where configuration reload and lame-duck mode will go, and
 * SIGINT/SIGTERM drain and stop; then it joins the shards and exits. Around that it has
 * ops.c write nats-server's pid file (-P) and ports file (--ports_file_dir); with --signal
 * it starts nothing and has ops.c send the signal to a running broker. */
#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/auth.h"
#include "engine/auth_check.h"
#include "engine/client.h"
#include "engine/config.h"
#include "engine/conn_tls.h"
#include "engine/crypt_worker.h"
#include "engine/js.h"
#include "engine/monitor.h"
#include "engine/ops.h"
#include "engine/reload.h"
#include "engine/route.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "engine/shard_module.h"
#include "engine/leaf.h"
#include "engine/stan.h"
#include "proto/connect.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

/* Pending-connection queue of a listening socket; the kernel caps it at somaxconn. */
enum { LISTEN_BACKLOG = 4096 };

/* Opens a listening socket on the first address of `host` that takes it. Returns the fd
 * (≥ 0) or -errno; callers that also need "no socket" keep it apart (listen_for_shard). */
static int listen_open(const char *host, int port, bool reuseport)
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
        if (reuseport) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        }
        if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
            error = -errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(found);
    if (fd < 0) {
        ASSERT(error < 0); /* getaddrinfo succeeded, so at least one address was tried */
        LOG_ERROR("cannot listen on %s:%d: %s", host, port, strerror(-error));
        return error;
    }
    return fd;
}

/* -l (with --log_size_limit), -D/-V and -T: where lines go and what they carry. 0 or -1. */
static int log_open(const struct config *config)
{
    enum log_level level = LOG_LEVEL_INFO;
    if (config->trace) {
        level = LOG_LEVEL_TRACE;
    } else if (config->debug) {
        level = LOG_LEVEL_DEBUG;
    }
    log_configure_time(config->logtime, config->logtime_utc);
    if (config->log_path == NULL) {
        log_configure(2, level); /* nats-server ignores --log_size_limit without a file too */
        return 0;
    }
    int rc = log_configure_file(config->log_path, config->log_size_limit, level);
    if (rc < 0) {
        fprintf(stderr, "ionats: cannot open log file %s: %s\n", config->log_path,
                strerror(-rc));
        return -1;
    }
    return 0;
}

static int bound_port(int fd)
{
    struct sockaddr_in6 in6;
    struct sockaddr_in in4;
    union {
        struct sockaddr_storage storage;
        struct sockaddr address;
    } bound;
    memset(&bound, 0, sizeof bound);
    socklen_t bound_length = sizeof bound;
    if (getsockname(fd, &bound.address, &bound_length) != 0) {
        return -1;
    }
    if (bound.storage.ss_family == AF_INET6) {
        memcpy(&in6, &bound.storage, sizeof in6);
        return ntohs(in6.sin6_port);
    }
    memcpy(&in4, &bound.storage, sizeof in4);
    return ntohs(in4.sin_port);
}

/* Allocates the cross-shard rings, the shared per-shard state and the wake-up eventfds. */
static int server_shards_alloc(struct server *server, int shard_count)
{
    const struct config *config = server->config;
    server->shard_count = shard_count;
    server->shared = aligned_alloc(_Alignof(struct shard_shared),
                                   sizeof(struct shard_shared) * (size_t)shard_count);
    server->wake_fds = calloc((size_t)shard_count, sizeof *server->wake_fds);
    size_t link_count = (size_t)shard_count * (size_t)shard_count;
    server->links = aligned_alloc(_Alignof(struct xshard_link),
                                  sizeof(struct xshard_link) * link_count);
    server->mailboxes = aligned_alloc(_Alignof(struct shard_mailbox),
                                      sizeof(struct shard_mailbox) * (size_t)shard_count);
    if (server->shared == NULL || server->wake_fds == NULL || server->links == NULL ||
        server->mailboxes == NULL) {
        return -ENOMEM;
    }
    for (int i = 0; i < shard_count; i++) {
        atomic_init(&server->mailboxes[i].head, NULL);
    }
    memset(server->shared, 0, sizeof(struct shard_shared) * (size_t)shard_count);
    memset(server->links, 0, sizeof(struct xshard_link) * link_count);
    for (int i = 0; i < shard_count; i++) {
        server->wake_fds[i] = eventfd(0, EFD_CLOEXEC);
        if (server->wake_fds[i] < 0) {
            return -errno;
        }
        for (int j = 0; j < shard_count && shard_count > 1; j++) {
            if (i == j) {
                continue;
            }
            size_t size = (size_t)config->xshard_ring_size;
            void *bytes = aligned_alloc(SPSC_CACHE_LINE_PAIR, size);
            if (bytes == NULL) {
                return -ENOMEM;
            }
            spsc_init(&server->links[i * shard_count + j].ring, bytes, size);
        }
    }
    return 0;
}

/* Frees the rings after every shard stopped, dropping the references their records hold to
 * large-message blocks (each shard dropped those of its overflow queues), and the calls
 * left in the mailboxes of shards that stopped before running them. */
static void server_shards_free(struct server *server)
{
    int n = server->shard_count;
    for (int i = 0; i < n && server->mailboxes != NULL; i++) {
        shard_mailbox_discard(&server->mailboxes[i]);
    }
    free(server->mailboxes);
    for (int i = 0; i < n * n && server->links != NULL; i++) {
        xshard_link_release(&server->links[i]);
        free(server->links[i].ring.bytes);
    }
    for (int i = 0; i < n && server->wake_fds != NULL; i++) {
        if (server->wake_fds[i] > 0) {
            close(server->wake_fds[i]);
        }
    }
    free(server->links);
    free(server->shared);
    free(server->wake_fds);
}

/* With -m: the HTTP monitoring listener (shard 0 accepts on it), its kind and its state.
 * -1 asks for any free port, as nats-server's -m -1. 0 or -errno (logged). */
static int monitor_listen(struct server *server)
{
    const struct config *config = server->config;
    if (config->http_port == 0 && config->https_port == 0) {
        return 0;
    }
    if (config->http_port != 0 && config->https_port != 0) {
        LOG_FATAL("Can't start monitoring: can't specify both HTTP (%lld) and HTTPs (%lld) ports",
                  (long long)config->http_port, (long long)config->https_port);
        return -EINVAL;
    }
    server->monitor_tls = config->https_port != 0;
    if (server->monitor_tls && server->tls == NULL) {
        LOG_FATAL("Can't start monitoring: TLS cert and key required for HTTPS");
        return -EINVAL;
    }
    int64_t wanted = server->monitor_tls ? config->https_port : config->http_port;
    const char *host = config->http_host != NULL ? config->http_host : config->host;
    int fd = listen_open(host, wanted < 0 ? 0 : (int)wanted, false);
    if (fd < 0) {
        return fd;
    }
    server->monitor_listen_fd = fd;
    server->monitor_port = bound_port(fd);
    server->monitor_kind = &monitor_kind;
    server->monitor = monitor_create();
    if (server->monitor == NULL) {
        LOG_ERROR("out of memory setting up monitoring");
        return -ENOMEM;
    }
    LOG_INFO("Starting %s monitor on %s:%d", server->monitor_tls ? "https" : "http", host,
             server->monitor_port);
    return 0;
}

static int server_init(struct server *server, const struct config *config, int shard_count)
{
    memset(server, 0, sizeof *server);
    server->start_realtime_ns = clock_realtime_ns();
    server->start_monotonic_ns = clock_monotonic_ns();
    server->monitor_listen_fd = -1;
    server->leaf_listen_fd = -1;
    server->config = config;
    server->listener_kind = &client_kind;
    server->forwarded = route_forwarded;
    uint64_t random_words[5];
    if (getrandom(random_words, sizeof random_words, 0) != (ssize_t)sizeof random_words) {
        return -EIO;
    }
    info_server_id_make(server->server_id, sizeof server->server_id, random_words);
    server->hash_seed = random_words[4];
    server->server_name = config->server_name ? config->server_name : server->server_id;
    LOG_INFO("Starting ionats");
    LOG_INFO("  Version:  %s", IONATS_VERSION);
    LOG_INFO("  Name:     %s", server->server_name);
    LOG_INFO("  ID:       %s", server->server_id);
    if (config->pid_path != NULL && config->pid_path[0] != '\0') { /* "": none, as there */
        int rc = ops_pid_file_write(config->pid_path); /* where nats-server writes it */
        if (rc != 0) {
            return rc;
        }
    }
    auth_config_warn(config);
    int tls_rc = tls_server_configure(&server->tls, config);
    if (tls_rc != 0) {
        return tls_rc;
    }
    /* first: its watch of the interest must see the other modules' subscriptions */
    if (config->leaf_url != NULL || config->leaf_port != 0 ||
        (config->leaf != NULL && config->leaf->remote_count > 0)) {
        server->modules[server->module_count++] = &leaf_module;
    }
    if (config->jetstream) {
        server->modules[server->module_count++] = &js_module;
        if (config->streaming_cluster_id != NULL) {
            server->modules[server->module_count++] = &stan_module;
        }
        server->js_max_memory =
            config->max_memory_store > 0 ? config->max_memory_store : js_max_memory_default();
        server->js_max_file = config->max_file_store > 0
                                  ? config->max_file_store
                                  : js_max_file_default(config->store_dir);
    }
    bool reuseport = strcmp(config->placement, "reuseport") == 0;
    server->listen_fd = listen_open(config->host, config->port, reuseport);
    if (server->listen_fd < 0) {
        return server->listen_fd;
    }
    int port = bound_port(server->listen_fd);
    server->port = port;
    int rc = monitor_listen(server);
    if (rc != 0) {
        return rc;
    }
    if (config->leaf_port != 0) {
        const char *host = config->leaf_host != NULL ? config->leaf_host : config->host;
        server->leaf_listen_fd =
            listen_open(host, config->leaf_port < 0 ? 0 : (int)config->leaf_port, false);
        if (server->leaf_listen_fd < 0) {
            return server->leaf_listen_fd;
        }
        server->leaf_kind = &leaf_accept_kind;
        const struct config_leaf_tls *tls = config->leaf != NULL ? &config->leaf->tls : NULL;
        if (tls != NULL && tls->on) {
            const struct tls_settings settings = {.cert_file = tls->cert_file,
                                                  .key_file = tls->key_file,
                                                  .ca_file = tls->ca_file,
                                                  .verify = tls->verify,
                                                  .handshake_first = tls->handshake_first};
            char error[512];
            server->leaf_tls = tls_server_new(&settings, error, sizeof error);
            if (server->leaf_tls == NULL) {
                LOG_ERROR("leafnode TLS: %s", error);
                return -EINVAL;
            }
        }
        server->leaf_port = bound_port(server->leaf_listen_fd);
        LOG_INFO("Listening for leafnode connections on %s:%d", host, server->leaf_port);
    }
    if (server_live_start(server, config) != 0 || server_shards_alloc(server, shard_count) != 0) {
        LOG_ERROR("out of memory setting up %d shards", shard_count);
        return -ENOMEM;
    }
    /* one thread per shard for logins' bcrypt comparisons: idle unless users have them */
    int crypt_rc = crypt_worker_start(&server->crypt, shard_count);
    if (crypt_rc != 0) {
        LOG_ERROR("starting the crypt worker: %s", strerror(-crypt_rc));
        return crypt_rc;
    }
    LOG_INFO("Listening for client connections on %s:%d", config->host, port);
    return 0;
}

/* What a shard thread needs to start. `abort_start` is written by main before the barrier
 * and read by the shards after it, which orders it. */
struct shard_start {
    struct shard *shard;
    struct server *server;
    int index;
    int cpu; /* -1: not pinned */
    sem_t *ready;
    pthread_barrier_t *go;
    bool *abort_start;
};

static void shard_pin(int index, int cpu)
{
    if (cpu < 0) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0) {
        LOG_WARN("shard %d: cannot pin to CPU %d: %s", index, cpu, strerror(rc));
    }
}

static void *shard_thread(void *arg)
{
    struct shard_start *start = arg;
    struct shard *shard = start->shard;
    log_set_thread_shard(start->index);
    shard_pin(start->index, start->cpu);
    shard->error = shard_init(shard, start->server, start->index);
    sem_post(start->ready);
    pthread_barrier_wait(start->go);
    if (shard->error == 0) {
        if (!*start->abort_start) {
            shard_run(shard);
        }
        shard_destroy(shard);
    }
    return NULL;
}

/* The socket shard `index` accepts on, in *fd: shard 0 takes the one server_init opened; in
 * reuseport placement every other shard opens its own; in acceptor placement the others
 * have none (*fd = -1: shard 0 hands them connections). Returns 0, or the -errno of a
 * listener that could not be opened. "None" and "failed" are told apart by the return
 * code, never by the fd's value: -EPERM is -1, the same as "no listener". */
static int listen_for_shard(const struct server *server, int index, int *fd)
{
    const struct config *config = server->config;
    *fd = -1;
    if (index == 0) {
        *fd = server->listen_fd;
        return 0;
    }
    if (strcmp(config->placement, "reuseport") != 0) {
        return 0;
    }
    int rc = listen_open(config->host, server->port, true);
    if (rc < 0) {
        return rc;
    }
    *fd = rc;
    return 0;
}

/* The CPU of shard i: the i-th of --cpus (cycling), else i modulo the online CPUs. */
static int shard_cpu(const struct config *config, int index)
{
    int cpus[CONFIG_SHARDS_MAX];
    if (config->cpus != NULL) {
        int count = config_cpus_parse(config->cpus, cpus, CONFIG_SHARDS_MAX);
        ASSERT(count > 0); /* checked by config_parse */
        return cpus[index % count];
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? index % (int)online : -1;
}

/* How Go names a signal in nats-server's "Trapped" line. */
static const char *signal_name(int signal_number)
{
    switch (signal_number) {
    case SIGINT:
        return "interrupt";
    case SIGTERM:
        return "terminated";
    case SIGHUP:
        return "hangup";
    case SIGUSR1:
        return "user defined signal 1";
    case SIGUSR2:
        return "user defined signal 2";
    default:
        return "unexpected";
    }
}

/* SIGUSR2: lame duck mode (shard_ldm.c): no new clients (the listener is shut down, so
 * they are refused), INFO with "ldm":true to the others, which the shards close one by one
 * after the grace period. Returns when the server stops: at the end of
 * --lame_duck_duration, or once no client is left. */
static int64_t lame_duck_begin(struct server *server)
{
    LOG_INFO("Entering lame duck mode, stop accepting new clients");
    atomic_store_explicit(&server->lame_duck, true, memory_order_relaxed);
    (void)shutdown(server->listen_fd, SHUT_RDWR);
    for (int i = 0; i < server->shard_count; i++) {
        shard_request_lame_duck(server->wake_fds[i]);
    }
    return clock_monotonic_ns();
}

/* While in lame duck mode: true when it is time to stop. */
static bool lame_duck_over(const struct server *server, int64_t began_ns, bool *closing_said)
{
    const struct config *config = server->config;
    int64_t now = clock_monotonic_ns();
    if (!*closing_said && now - began_ns >= config->lame_duck_grace_period_ns) {
        LOG_INFO("Closing existing clients");
        *closing_said = true;
    }
    return now - began_ns >= config->lame_duck_duration_ns ||
           atomic_load_explicit(&server->connection_count, memory_order_relaxed) == 0;
}

/* Blocks until SIGINT or SIGTERM (or the end of lame duck mode), answering the others on
 * the way, each after nats-server's "Trapped" line. SIGUSR1 also asks the shards for their
 * counters, which tests read until /metrics serves them. Returns the stopping signal. */
static int signal_loop(const sigset_t *signals, struct server *server, int argc, char **argv)
{
    static const struct timespec LAME_DUCK_POLL = {.tv_nsec = 50 * 1000 * 1000};
    int64_t lame_duck_ns = -1;
    bool closing_said = false;
    for (;;) {
        siginfo_t info;
        int signal_number = lame_duck_ns < 0 ? sigwaitinfo(signals, &info)
                                             : sigtimedwait(signals, &info, &LAME_DUCK_POLL);
        if (lame_duck_ns >= 0 && lame_duck_over(server, lame_duck_ns, &closing_said)) {
            return SIGTERM;
        }
        if (signal_number <= 0) {
            continue; /* EINTR, or the lame duck poll */
        }
        LOG_INFO("Trapped \"%s\" signal", signal_name(signal_number));
        switch (signal_number) {
        case SIGUSR1:
            log_reopen();
            for (int i = 0; i < server->shard_count; i++) {
                shard_request_stats(server->wake_fds[i]);
            }
            break;
        case SIGHUP:
            server_reload(server, argc, argv);
            break;
        case SIGUSR2:
            if (lame_duck_ns < 0) {
                lame_duck_ns = lame_duck_begin(server);
            }
            break;
        default:
            return signal_number;
        }
    }
}

static int shard_count_choose(const struct config *config)
{
    if (config->shards > 0) {
        return (int)config->shards;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (online > CONFIG_SHARDS_MAX ? CONFIG_SHARDS_MAX : (int)online) : 1;
}

int main(int argc, char **argv)
{
    static struct config config; /* static: the server refers to it until exit */
    enum config_result parsed = config_parse(&config, argc, argv, stdout, stderr);
    if (parsed == CONFIG_SIGNAL) {
        return ops_signal_send(config.signal);
    }
    if (parsed != CONFIG_RUN) {
        /* nats-server exits 1 for a bad configuration file, 2 for a bad flag */
        return parsed == CONFIG_EXIT_OK ? 0 : parsed == CONFIG_EXIT_ERROR ? 1 : 2;
    }
    if (log_open(&config) < 0) {
        return 1;
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGUSR1);
    sigaddset(&signals, SIGUSR2);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    enum loop_backend backend;
    if (loop_backend_choose(&config, &backend) != 0) {
        return 1;
    }
    int shard_count = shard_count_choose(&config);
    static struct server server;
    if (server_init(&server, &config, shard_count) != 0) {
        return 1;
    }
    server.io_backend = backend;
    for (int m = 0; m < server.module_count; m++) {
        if (server.modules[m]->prepare(&server, &server.module_shared[m]) != 0) {
            while (m-- > 0) {
                server.modules[m]->release(server.module_shared[m]);
            }
            return 1;
        }
    }
    struct shard *shards = calloc((size_t)shard_count, sizeof *shards);
    struct shard_start *starts = calloc((size_t)shard_count, sizeof *starts);
    pthread_t *threads = calloc((size_t)shard_count, sizeof *threads);
    ASSERT(shards != NULL && starts != NULL && threads != NULL);
    sem_t ready;
    sem_init(&ready, 0, 0);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)shard_count + 1);
    bool abort_start = false;
    for (int i = 0; i < shard_count; i++) {
        starts[i] = (struct shard_start){.shard = &shards[i], .server = &server, .index = i,
                                         .cpu = shard_cpu(&config, i), .ready = &ready,
                                         .go = &go, .abort_start = &abort_start};
        int rc = pthread_create(&threads[i], NULL, shard_thread, &starts[i]);
        ASSERT(rc == 0); /* without its shards the broker cannot run at all */
    }
    for (int i = 0; i < shard_count; i++) {
        while (sem_wait(&ready) != 0) {
        }
    }
    for (int i = 0; i < shard_count; i++) {
        if (shards[i].error != 0) {
            LOG_ERROR("shard %d failed to start: %s", i, strerror(-shards[i].error));
            abort_start = true;
        } else {
            int rc = listen_for_shard(&server, i, &shards[i].listeners[LOOP_LISTENER_CLIENT].fd);
            if (rc != 0) {
                LOG_ERROR("shard %d has no listener: %s", i, strerror(-rc));
                abort_start = true;
            }
            if (i == 0) {
                shards[i].listeners[LOOP_LISTENER_MONITOR].fd = server.monitor_listen_fd;
                shards[i].listeners[LOOP_LISTENER_LEAF].fd = server.leaf_listen_fd;
            }
        }
    }
    if (!abort_start) {
        LOG_INFO("ionats %s ready: %d shard(s), %s placement, %s I/O, server id %s, "
                 "protocol version %s",
                 IONATS_VERSION, shard_count, config.placement,
                 backend == LOOP_URING ? "io_uring" : "epoll", server.server_id,
                 SERVER_PROTOCOL_VERSION);
        LOG_INFO("Server is ready");
    }
    pthread_barrier_wait(&go);
    int exit_code = 1;
    ops_ports_file_path(server.ports_path, sizeof server.ports_path, config.ports_file_dir,
                        argv[0]);
    if (!abort_start) {
        if (server.ports_path[0] != '\0') {
            ops_ports_file_write(server.listen_fd, server.monitor_listen_fd, server.ports_path);
        }
        signal_loop(&signals, &server, argc, argv);
        LOG_INFO("Initiating Shutdown...");
        for (int i = 0; i < shard_count; i++) {
            shard_request_stop(server.wake_fds[i]);
        }
        exit_code = 0;
    }
    for (int i = 0; i < shard_count; i++) {
        pthread_join(threads[i], NULL);
    }
    if (atomic_load_explicit(&server.shard_failed, memory_order_relaxed)) {
        exit_code = 1;
    }
    for (int m = server.module_count - 1; m >= 0; m--) {
        server.modules[m]->release(server.module_shared[m]);
    }
    crypt_worker_stop(server.crypt); /* before the mailboxes its answers may be in go */
    server.crypt = NULL;
    server_shards_free(&server);
    monitor_destroy(server.monitor);
    if (server.monitor_listen_fd >= 0) {
        close(server.monitor_listen_fd);
    }
    if (server.leaf_listen_fd >= 0) {
        close(server.leaf_listen_fd);
    }
    close(server.listen_fd);
    server_live_free(&server);
    tls_server_free(server.tls);
    tls_server_free(server.leaf_tls);
    free(shards);
    free(starts);
    free(threads);
    pthread_barrier_destroy(&go);
    sem_destroy(&ready);
    if (server.ports_path[0] != '\0' && !abort_start) {
        ops_ports_file_remove(server.ports_path);
    }
    LOG_INFO("Server Exiting..");
    return exit_code;
}
