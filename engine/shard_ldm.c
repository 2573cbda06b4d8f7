/* Lame duck mode on one shard (SIGUSR2, as nats-server's): it stops taking clients, tells
 * each connected client with an INFO that carries "ldm":true (clients then reconnect
 * elsewhere), and after --lame_duck_grace_period closes its clients one at a time, spread
 * over the rest of --lame_duck_duration (at most a second apart), as nats-server spreads
 * them; monitoring stays up. Main shuts the shared listener down and, once the duration is
 * over or no client is left, stops the server.
 *
 * The one idea: each shard spreads its own clients over the whole duration, so the shards
 * together close at the pace nats-server would, without talking to each other. Shard
 * thread only. */
#include "engine/shard.h"

#include "base/clock.h"
#include "base/log.h"

#include <sys/socket.h>

static timer_fn ldm_timer_fired;

static bool is_client(const struct shard *shard, const struct conn *conn)
{
    return conn != NULL && conn->kind == shard->listener_kind &&
           !(conn->flags & CONN_F_CLOSING);
}

/* Closes the next live client; true while more may be left. */
static bool close_next(struct shard *shard)
{
    while (shard->ldm_cursor < shard->conns.capacity) {
        struct conn *conn = shard->conns.conns[shard->ldm_cursor++];
        if (is_client(shard, conn)) {
            conn_close_after_flush(conn, "Server Shutdown");
            return true;
        }
    }
    return false;
}

static void ldm_timer_fired(struct timer_entry *entry, void *ctx)
{
    struct shard *shard = ctx;
    if (shard->stopping || !close_next(shard)) {
        return;
    }
    timer_arm(&shard->timers, &shard->ldm_timer,
              clock_deadline_ns(clock_monotonic_ns(), shard->ldm_interval_ns));
}

void shard_lame_duck(struct shard *shard)
{
    const struct config *config = shard->server->config;
    shard->lame_duck = true;
    struct shard_listener *listener = &shard->listeners[LOOP_LISTENER_CLIENT];
    if (listener->armed) {
        loop_accept_stop(shard->loop, LOOP_LISTENER_CLIENT);
        listener->armed = false;
    }
    timer_cancel(&shard->timers, &listener->retry_timer);
    listener->retry_armed = false;
    if (listener->fd >= 0 && listener->fd != shard->server->listen_fd) {
        /* reuseport: this shard's own socket; new connections are refused from now on */
        (void)shutdown(listener->fd, SHUT_RDWR);
    }
    uint32_t clients = 0;
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        struct conn *conn = shard->conns.conns[i];
        if (is_client(shard, conn)) {
            clients++;
            if (conn->kind->lame_duck != NULL) {
                conn->kind->lame_duck(conn);
            }
        }
    }
    int64_t grace = config->lame_duck_grace_period_ns;
    int64_t spread = config->lame_duck_duration_ns - grace;
    if (spread <= 0) {
        spread = NS_PER_SEC; /* nats-server's floor */
    }
    shard->ldm_interval_ns = clients > 0 ? spread / clients : spread;
    if (shard->ldm_interval_ns > NS_PER_SEC) {
        shard->ldm_interval_ns = NS_PER_SEC;
    }
    if (shard->ldm_interval_ns < 1) {
        shard->ldm_interval_ns = 1;
    }
    shard->ldm_cursor = 0;
    LOG_DEBUG("shard %d: lame duck mode, %u client(s) to close", shard->index, clients);
    timer_entry_init(&shard->ldm_timer, ldm_timer_fired, shard);
    timer_arm(&shard->timers, &shard->ldm_timer,
              clock_deadline_ns(clock_monotonic_ns(), grace > 0 ? grace : 0));
}
