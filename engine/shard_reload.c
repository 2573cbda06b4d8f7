/* A shard's part of a configuration reload (reload.h), on the wake-up that follows it: the
 * write deadline its connections are held to, its share of the clients past a lowered
 * max_connections, and each connection's own check (a client's authorization, permissions
 * and limits).
 *
 * The one idea: main counts the clients past the new max_connections once
 * (server->connections_to_close); each shard claims them one at a time with a decrement
 * that must find the count above 0 and closes one of its own clients per claim, newest slot
 * first, with nats-server's -ERR 'maximum connections exceeded', so that however the
 * clients are spread, exactly that many close (nats-server closes that many, chosen at
 * random). The shard's thread only. */
#include "engine/reload.h"

#include "base/log.h"
#include "engine/conn.h"
#include "engine/shard.h"

#include <stdatomic.h>

/* One claim on a client to close; false when none is wanted any more. */
static bool close_claim(struct server *server)
{
    int64_t wanted = atomic_load_explicit(&server->connections_to_close, memory_order_relaxed);
    while (wanted > 0) {
        if (atomic_compare_exchange_weak_explicit(&server->connections_to_close, &wanted,
                                                  wanted - 1, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            return true;
        }
    }
    return false;
}

static void clients_trim(struct shard *shard)
{
    static const char error[] = "-ERR 'maximum connections exceeded'\r\n";
    uint32_t closed = 0;
    for (uint32_t i = shard->conns.capacity; i-- > 0;) {
        struct conn *conn = shard->conns.conns[i];
        if (conn == NULL || conn->kind != shard->listener_kind || conn_ending(conn)) {
            continue;
        }
        if (!close_claim(shard->server)) {
            break;
        }
        conn_write_text(conn, error, sizeof error - 1);
        conn_close_after_flush(conn, "Maximum Connections Exceeded");
        closed++;
    }
    if (closed > 0) {
        LOG_INFO("Closed %u connections to fall within max_connections", closed);
    }
}

void shard_reload_apply(struct shard *shard)
{
    const struct server_live *live = server_live(shard->server);
    shard->conns.write_deadline_ns = live->config->write_deadline_ns;
    clients_trim(shard);
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        struct conn *conn = shard->conns.conns[i];
        if (conn != NULL && conn->kind->reload != NULL && !(conn->flags & CONN_F_CLOSING)) {
            conn->kind->reload(conn);
        }
    }
}
