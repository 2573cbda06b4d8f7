/* Accepting and placing connections: what a shard does with a new socket.
 *
 * The one idea: a connection is accepted once and lives on one shard. With the acceptor
 * placement, shard 0 accepts every connection and hands each to the least-loaded shard
 * (the loads are relaxed hints in struct shard_shared); with reuseport, every shard accepts
 * its own. The home shard adopts it: socket options, a slot of the connection table, the
 * kind's greeting, then receiving. An accept that fails (out of descriptors) backs off,
 * doubling, on the shard's timer wheel, so a full descriptor table does not spin the shard.
 *
 * One thread: the shard's (handoffs arrive through the loop). */
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

void shard_accept_arm(struct shard *shard)
{
    if (shard->listen_fd >= 0 && !shard->accept_armed && !shard->accept_retry_armed &&
        !shard->stopping) {
        loop_accept_start(shard->loop, shard->listen_fd);
        shard->accept_armed = true;
    }
}

/* Takes a new connection's descriptor into this shard: the kind's greeting, then reading. */
static void conn_adopt(struct shard *shard, int fd)
{
    const struct server *server = shard->server;
    struct sockaddr_storage peer = {0};
    socklen_t peer_length = sizeof peer;
    getpeername(fd, (struct sockaddr *)&peer, &peer_length);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *conn = conn_table_take(&shard->conns, shard->listener_kind);
    if (conn == NULL) {
        LOG_WARN("out of memory for a new connection; refusing it");
        close(fd);
        load_add(shard, shard->index, -1);
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
    if (count > server->config->max_connections) {
        static const char error[] = "-ERR 'maximum connections exceeded'\r\n";
        LOG_WARN("maximum connections (%lld) exceeded, refusing %s:%d",
                 (long long)server->config->max_connections, conn->ip, conn->port);
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

void shard_accept_retry_fired(struct timer_entry *entry, void *ctx)
{
    (void)entry;
    struct shard *shard = ctx;
    shard->accept_retry_armed = false;
    shard_accept_arm(shard);
}

static void accept_retry_arm(struct shard *shard)
{
    shard->accept_backoff_ns = shard->accept_backoff_ns == 0
                                   ? ACCEPT_BACKOFF_NS_MIN
                                   : shard->accept_backoff_ns * 2;
    if (shard->accept_backoff_ns > ACCEPT_BACKOFF_NS_MAX) {
        shard->accept_backoff_ns = ACCEPT_BACKOFF_NS_MAX;
    }
    timer_arm(&shard->timers, &shard->accept_timer,
              clock_deadline_ns(clock_monotonic_ns(), shard->accept_backoff_ns));
    shard->accept_retry_armed = true;
}

void shard_accepted(void *ctx, int result, bool armed)
{
    struct shard *shard = ctx;
    shard->accept_armed = armed;
    if (result < 0) {
        if (result == -ECANCELED || shard->stopping) {
            return;
        }
        shard->stats.accept_errors++;
        if (shard->accept_backoff_ns < ACCEPT_BACKOFF_NS_MAX) {
            LOG_WARN("accept failed: %s; retrying in %lld ms", strerror(-result),
                     (long long)(shard->accept_backoff_ns ? shard->accept_backoff_ns * 2
                                                          : ACCEPT_BACKOFF_NS_MIN) / NS_PER_MS);
        }
        if (!shard->accept_armed && !shard->accept_retry_armed) {
            accept_retry_arm(shard);
        }
        return;
    }
    shard->accept_backoff_ns = 0;
    int fd = result;
    if (shard->stopping) {
        close(fd);
        return;
    }
    bool hand_over = shard->shard_count > 1 && shard->listen_fd == shard->server->listen_fd &&
                     strcmp(shard->server->config->placement, "acceptor") == 0;
    int target = hand_over ? placement_pick(shard) : shard->index;
    load_add(shard, target, 1);
    if (target == shard->index) {
        conn_adopt(shard, fd);
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
    conn_adopt(shard, fd);
}
