/* Accepting and placing connections: what a shard does with a new socket.
 *
 * The one idea: a connection is accepted once and lives on one shard. With the acceptor
 * placement, shard 0 accepts every client connection and hands each to the least-loaded
 * shard (the loads are relaxed hints in struct shard_shared); with reuseport, every shard
 * accepts its own. The home shard adopts it: socket options, a slot of the connection table,
 * the kind's greeting, then receiving. HTTP monitoring connections (the second listener,
 * shard 0's) stay where they were accepted, are no clients (not counted against
 * --max_connections) and speak the kind main registered in server->monitor_kind. An accept
 * that fails (out of descriptors) backs off, doubling, on the shard's timer wheel, per
 * listener, so a full descriptor table does not spin the shard.
 *
 * One thread: the shard's (handoffs arrive through the loop). */
#include "engine/reload.h"
#include "engine/shard.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Back-off after an accept fails (out of descriptors): doubled per failure, as nats-server
 * does. */
#define ACCEPT_BACKOFF_NS_MIN (10LL * 1000000LL)
#define ACCEPT_BACKOFF_NS_MAX (1000LL * 1000000LL)

/* relaxed: a placement hint (see struct shard_shared) */
static void load_add(struct shard *shard, int target, int64_t delta)
{
    atomic_fetch_add_explicit(&shard->server->shared[target].load, delta, memory_order_relaxed);
}

static timer_fn accept_retry_fired;

void shard_listeners_init(struct shard *shard)
{
    for (int i = 0; i < LOOP_LISTENER_COUNT; i++) {
        struct shard_listener *listener = &shard->listeners[i];
        *listener = (struct shard_listener){.fd = -1, .shard = shard};
        timer_entry_init(&listener->retry_timer, accept_retry_fired, listener);
    }
}

void shard_accept_arm(struct shard *shard)
{
    for (int i = 0; i < LOOP_LISTENER_COUNT && !shard->stopping; i++) {
        struct shard_listener *listener = &shard->listeners[i];
        if (i == LOOP_LISTENER_CLIENT && shard->lame_duck) {
            continue; /* no new clients in lame duck mode */
        }
        if (listener->fd >= 0 && !listener->armed && !listener->retry_armed) {
            loop_accept_start(shard->loop, i, listener->fd);
            listener->armed = true;
        }
    }
}

void shard_accept_stop(struct shard *shard)
{
    for (int i = 0; i < LOOP_LISTENER_COUNT; i++) {
        struct shard_listener *listener = &shard->listeners[i];
        if (listener->armed) {
            loop_accept_stop(shard->loop, i);
            listener->armed = false;
        }
        timer_cancel(&shard->timers, &listener->retry_timer);
        listener->retry_armed = false;
    }
}

/* Takes a new connection's descriptor into this shard: the kind's greeting, then reading.
 * `kind` is the client listener's (counted against max_connections) or the monitor's. */
static void conn_adopt(struct shard *shard, int fd, const struct conn_kind *kind)
{
    const struct server *server = shard->server;
    struct sockaddr_storage peer = {0};
    socklen_t peer_length = sizeof peer;
    getpeername(fd, (struct sockaddr *)&peer, &peer_length);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *conn = conn_table_take(&shard->conns, kind);
    if (conn == NULL) {
        LOG_WARN("out of memory for a new connection; refusing it");
        close(fd);
        load_add(shard, shard->index, -1);
        return;
    }
    if (kind != shard->listener_kind) {
        /* not a client: no client id, no count; the kind limits its own connections */
        conn->shard = shard;
        conn->fd = fd;
        if (kind->open(conn, (struct sockaddr *)&peer) != 0) {
            conn_close(conn, "Out Of Memory");
            return;
        }
        loop_recv_start(shard->loop, conn);
        return;
    }
    shard->stats.accepted++;
    int64_t count = atomic_fetch_add_explicit(&shard->server->connection_count, 1,
                                              memory_order_relaxed) + 1;
    conn->shard = shard;
    conn->fd = fd;
    /* relaxed: ids only need to be unique */
    conn->id = atomic_fetch_add_explicit(&shard->server->next_client_id, 1,
                                         memory_order_relaxed) + 1;
    if (conn->kind->open(conn, (struct sockaddr *)&peer) != 0) {
        conn_close(conn, "Out Of Memory");
        return;
    }
    int64_t max_connections = server_live(server)->max_connections;
    if (count > max_connections) {
        static const char error[] = "-ERR 'maximum connections exceeded'\r\n";
        LOG_WARN("maximum connections (%lld) exceeded, refusing %s:%d",
                 (long long)max_connections, conn->ip, conn->port);
        conn_write_text(conn, error, sizeof error - 1);
        conn_close_after_flush(conn, "Maximum Connections Exceeded");
        return;
    }
    LOG_DEBUG("client %llu connected from %s:%d", (unsigned long long)conn->id, conn->ip,
              conn->port);
    /* while the cross-shard budget is spent a new connection starts paused, like the rest */
    if (!xshard_accept_hold(&shard->xshard, conn)) {
        loop_recv_start(shard->loop, conn);
    }
}

/* The least-loaded shard, ties going to the lowest index after the last pick. */
static int placement_pick(struct shard *shard)
{
    int best = -1;
    int64_t best_load = INT64_MAX;
    for (int k = 0; k < shard->shard_count; k++) {
        int candidate = (shard->placement_cursor + 1 + k) % shard->shard_count;
        int64_t load =
            atomic_load_explicit(&shard->server->shared[candidate].load, memory_order_relaxed);
        if (load < best_load) {
            best = candidate;
            best_load = load;
        }
    }
    shard->placement_cursor = best;
    return best;
}

void shard_handoff_failed(void *ctx, int target, int fd, int error)
{
    struct shard *shard = ctx;
    ASSERT(target >= 0 && target < shard->shard_count);
    LOG_ERROR("handing connection descriptor %d to shard %d failed: %s", fd, target,
              strerror(-error));
    close(fd);
    load_add(shard, target, -1);
}

static void handoff(struct shard *shard, int target, int fd)
{
    const struct shard_shared *peer = &shard->server->shared[target];
    const struct loop_peer loop_peer = {.wake_fd = peer->ring_fd, .handoff_fd = peer->handoff_fd};
    int rc = loop_handoff(shard->loop, &loop_peer, target, fd);
    if (rc != 0) {
        shard_handoff_failed(shard, target, fd, rc);
        return;
    }
    shard->stats.handed_off++;
}

static void accept_retry_fired(struct timer_entry *entry, void *ctx)
{
    (void)entry;
    struct shard_listener *listener = ctx;
    listener->retry_armed = false;
    shard_accept_arm(listener->shard);
}

static void accept_retry_arm(struct shard *shard, struct shard_listener *listener)
{
    listener->backoff_ns =
        listener->backoff_ns == 0 ? ACCEPT_BACKOFF_NS_MIN : listener->backoff_ns * 2;
    if (listener->backoff_ns > ACCEPT_BACKOFF_NS_MAX) {
        listener->backoff_ns = ACCEPT_BACKOFF_NS_MAX;
    }
    timer_arm(&shard->timers, &listener->retry_timer,
              clock_deadline_ns(clock_monotonic_ns(), listener->backoff_ns));
    listener->retry_armed = true;
}

void shard_accepted(void *ctx, int slot, int result, bool armed)
{
    struct shard *shard = ctx;
    ASSERT(slot >= 0 && slot < LOOP_LISTENER_COUNT);
    struct shard_listener *listener = &shard->listeners[slot];
    listener->armed = armed;
    if (result < 0) {
        if (result == -ECANCELED || shard->stopping ||
            (slot == LOOP_LISTENER_CLIENT &&
             atomic_load_explicit(&shard->server->lame_duck, memory_order_relaxed))) {
            return; /* stopped on purpose (lame duck: main shut the listener down) */
        }
        shard->stats.accept_errors++;
        if (listener->backoff_ns < ACCEPT_BACKOFF_NS_MAX) {
            LOG_WARN("accept failed: %s; retrying in %lld ms", strerror(-result),
                     (long long)(listener->backoff_ns ? listener->backoff_ns * 2
                                                      : ACCEPT_BACKOFF_NS_MIN) / NS_PER_MS);
        }
        if (!listener->armed && !listener->retry_armed) {
            accept_retry_arm(shard, listener);
        }
        return;
    }
    listener->backoff_ns = 0;
    int fd = result;
    if (shard->stopping) {
        close(fd);
        return;
    }
    if (slot == LOOP_LISTENER_MONITOR || slot == LOOP_LISTENER_LEAF) {
        const struct conn_kind *kind = slot == LOOP_LISTENER_MONITOR ? shard->server->monitor_kind
                                                                     : shard->server->leaf_kind;
        ASSERT(kind != NULL); /* main gives the socket with the kind */
        load_add(shard, shard->index, 1);
        conn_adopt(shard, fd, kind);
        return;
    }
    bool hand_over = shard->shard_count > 1 && listener->fd == shard->server->listen_fd &&
                     strcmp(shard->server->config->placement, "acceptor") == 0;
    int target = hand_over ? placement_pick(shard) : shard->index;
    load_add(shard, target, 1);
    if (target == shard->index) {
        conn_adopt(shard, fd, shard->listener_kind);
    } else {
        handoff(shard, target, fd);
    }
}

void shard_handed(void *ctx, int fd)
{
    struct shard *shard = ctx;
    if (fd < 0) {
        return; /* a handoff with no descriptor: nothing to adopt or count */
    }
    if (shard->stopping) {
        close(fd);
        load_add(shard, shard->index, -1);
        return;
    }
    conn_adopt(shard, fd, shard->listener_kind);
}
