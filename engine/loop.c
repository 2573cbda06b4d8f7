/* What both I/O backends share (see loop.h): choosing one, creating it, reading its
 * counters, and the flags and in-flight count of a connection's receive and send, kept
 * here once rather than twice.
 * Shard thread, except loop_backend_choose (main, before the shards start). */
#include "engine/loop.h"

#include "base/assert.h"
#include "base/log.h"
#include "engine/config.h"

#include <errno.h>
#include <string.h>

int loop_backend_choose(const struct config *config, enum loop_backend *backend)
{
    if (strcmp(config->io, "epoll") == 0) {
        *backend = LOOP_EPOLL;
        return 0;
    }
    char reason[160];
    int rc = loop_uring_probe(config, reason, sizeof reason);
    if (rc == 0) {
        *backend = LOOP_URING;
        return 0;
    }
    if (strcmp(config->io, "uring") == 0) {
        LOG_ERROR("io_uring unavailable (%s) and --io uring was given; --io auto would use "
                  "epoll",
                  reason);
        return rc;
    }
    LOG_WARN("io_uring unavailable (%s); using the epoll backend", reason);
    *backend = LOOP_EPOLL;
    return 0;
}

int loop_create(enum loop_backend backend, const struct loop_setup *setup,
                const struct loop_handlers *handlers, struct conn_table *conns,
                struct loop **loop)
{
    int rc = backend == LOOP_URING ? loop_uring_create(setup, loop)
                                   : loop_epoll_create(setup, loop);
    if (rc != 0) {
        return rc;
    }
    (*loop)->handlers = *handlers;
    (*loop)->conns = conns;
    return 0;
}

void loop_destroy(struct loop *loop)
{
    if (loop != NULL) {
        loop->ops->destroy(loop);
    }
}

void loop_stats_get(const struct loop *loop, struct loop_stats *stats)
{
    *stats = loop->stats;
    loop->ops->store_stats(loop, stats);
}

struct conn *loop_tag_conn(const struct loop *loop, uint64_t tag)
{
    return conn_table_get(loop->conns, loop_tag_index(tag), (uint32_t)tag);
}

void loop_recv_start(struct loop *loop, struct conn *conn)
{
    ASSERT(!(conn->flags & CONN_F_RECV_ARMED));
    conn->flags |= CONN_F_RECV_ARMED;
    conn->flags &= ~CONN_F_RECV_REARM;
    conn->inflight_count++;
    loop->ops->recv_start(loop, conn);
}

void loop_recv_stop(struct loop *loop, struct conn *conn)
{
    if ((conn->flags & CONN_F_RECV_ARMED) && !(conn->flags & CONN_F_RECV_STOPPING)) {
        conn->flags |= CONN_F_RECV_STOPPING;
        loop->ops->recv_stop(loop, conn);
    }
}

void loop_send(struct loop *loop, struct conn *conn)
{
    ASSERT(!(conn->flags & CONN_F_SEND_INFLIGHT));
    int count = conn_send_iov(conn, LOOP_SEND_MAX);
    conn->send_msg.msg_iov = conn->send_iov;
    conn->send_msg.msg_iovlen = (size_t)count;
    conn->flags |= CONN_F_SEND_INFLIGHT;
    conn->inflight_count++;
    loop->ops->send(loop, conn);
}

void loop_recv_end(struct loop *loop, struct conn *conn, int result)
{
    ASSERT(conn->flags & CONN_F_RECV_ARMED);
    ASSERT(conn->inflight_count > 0);
    conn->flags &= ~(uint32_t)(CONN_F_RECV_ARMED | CONN_F_RECV_STOPPING);
    conn->inflight_count--;
    loop->handlers.recv_ended(loop->handlers.ctx, conn, result);
}

void loop_send_end(struct loop *loop, struct conn *conn, int result)
{
    ASSERT(conn->flags & CONN_F_SEND_INFLIGHT);
    ASSERT(conn->inflight_count > 0);
    conn->flags &= ~CONN_F_SEND_INFLIGHT;
    conn->inflight_count--;
    loop->handlers.sent(loop->handlers.ctx, conn, result);
}
