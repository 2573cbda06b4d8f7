/* A shard's connections that are not read for a while, and their input: a connection
 * paused because its publishes wait in a full cross-shard ring (shard_conn_pause), because
 * it fed a congested subscriber (flow control, conn.h), or because its kind waits on work
 * done elsewhere (shard_input_pause: a login's bcrypt comparison); what arrives meanwhile
 * is held in the connection's `held` buffer and handled a receive buffer's worth per turn
 * once no pause holds it (shard_held_step), before reading starts again.
 *
 * The one idea: input is never dropped and never overtakes what came before it: while a
 * connection is paused or has held input, everything it receives joins the held input.
 * The shard's thread only. */
#include "engine/shard.h"

#include "base/log.h"
#include "engine/conn.h"

void shard_conn_pause(struct shard *shard, struct conn *conn)
{
    if (conn->flags & (CONN_F_PAUSED | CONN_F_CLOSING)) {
        return;
    }
    conn->flags |= CONN_F_PAUSED;
    shard->paused_any = true;
    loop_recv_stop(shard->loop, conn);
}

static bool conn_paused(const struct conn *conn)
{
    return (conn->flags & (CONN_F_PAUSED | CONN_F_FLOW_PAUSED | CONN_F_INPUT_HELD)) != 0;
}

/* Keeps input that arrived while paused; false when memory ran out (the connection is
 * closed: its input cannot be dropped without breaking the protocol). */
static bool held_keep(struct conn *conn, const char *data, size_t length)
{
    if (outbuf_reserve(&conn->held, length) != 0) {
        LOG_ERROR("%s %llu: out of memory holding %zu input bytes while paused; closing",
                  conn->kind->name, (unsigned long long)conn->id, length);
        conn_close(conn, "Out Of Memory");
        return false;
    }
    outbuf_put(&conn->held, data, length);
    return true;
}

/* A connection that no pause holds any longer: its held input first (held_step), then
 * reading. */
static void read_again(struct shard *shard, struct conn *conn)
{
    if (conn_paused(conn) || (conn->flags & CONN_F_CLOSING)) {
        return;
    }
    if (conn->held.length > conn->held_offset) {
        if (!(conn->flags & CONN_F_HELD_QUEUED)) {
            conn->flags |= CONN_F_HELD_QUEUED;
            conn->held_next = shard->held_input;
            shard->held_input = conn;
        }
        return;
    }
    if (!(conn->flags & (CONN_F_RECV_ARMED | CONN_F_EOF))) {
        loop_recv_start(shard->loop, conn);
    }
}

/* Handles one receive buffer's worth of every resumed connection's held input per turn, so
 * that input held during a pause is taken at the pace of fresh input, between flushes.
 * True while some is left. */
bool shard_held_step(struct shard *shard)
{
    struct conn *conn = shard->held_input;
    shard->held_input = NULL;
    size_t chunk_max = (size_t)shard->server->config->recv_buf_size;
    while (conn != NULL) {
        struct conn *next = conn->held_next;
        conn->flags &= ~(uint32_t)CONN_F_HELD_QUEUED;
        if (!conn_paused(conn) && !(conn->flags & CONN_F_CLOSING)) {
            size_t left = conn->held.length - conn->held_offset;
            size_t chunk = left < chunk_max ? left : chunk_max;
            const char *data = conn->held.data + conn->held_offset;
            conn->held_offset += chunk;
            conn_receive(conn, data, chunk);
            if (conn->held_offset == conn->held.length) {
                conn->held.length = 0;
                conn->held_offset = 0;
                outbuf_free(&conn->held);
                if ((conn->flags & CONN_F_EOF) && !(conn->flags & CONN_F_CLOSING)) {
                    conn_close_after_flush(conn, "Client Closed"); /* its EOF waited */
                }
            }
            read_again(shard, conn); /* more held input, or reading again */
        }
        conn = next;
    }
    return shard->held_input != NULL;
}

void shard_input_pause(struct shard *shard, struct conn *conn)
{
    if (conn->flags & (CONN_F_INPUT_HELD | CONN_F_CLOSING)) {
        return;
    }
    conn->flags |= CONN_F_INPUT_HELD;
    loop_recv_stop(shard->loop, conn);
}

void shard_input_resume(struct shard *shard, struct conn *conn)
{
    if (!(conn->flags & CONN_F_INPUT_HELD)) {
        return;
    }
    conn->flags &= ~(uint32_t)CONN_F_INPUT_HELD;
    read_again(shard, conn);
}

/* Every overflow queue is empty again: read the paused publishers once more. */
void shard_paused_resume(struct shard *shard)
{
    shard->paused_any = false;
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        struct conn *conn = shard->conns.conns[i];
        if (conn == NULL || !(conn->flags & CONN_F_PAUSED)) {
            continue;
        }
        conn->flags &= ~CONN_F_PAUSED;
        read_again(shard, conn);
    }
}

/* ---- flow control (see conn.h) ---- */

void shard_flow_pause(struct shard *shard, struct conn *conn)
{
    if (conn->flags & (CONN_F_FLOW_PAUSED | CONN_F_CLOSING)) {
        return;
    }
    conn_flow_paused_add(conn);
    loop_recv_stop(shard->loop, conn);
}

/* A congestion ended (or a stuck subscriber stopped counting): read every flow-paused
 * publisher again; one that still feeds a congested subscriber is paused at its next
 * delivery to it. */
void shard_flow_resume(struct shard *shard)
{
    shard->conns.flow_resume_wanted = false;
    /* taken off the list first: handling their held input may pause some of them again */
    struct conn *resumed = NULL;
    while (shard->conns.flow_paused_head != NULL) {
        struct conn *conn = shard->conns.flow_paused_head;
        conn_flow_paused_remove(conn);
        conn->paused.next = resumed;
        resumed = conn;
    }
    while (resumed != NULL) {
        struct conn *conn = resumed;
        resumed = conn->paused.next;
        conn->paused.next = NULL;
        read_again(shard, conn);
    }
}

void shard_input_received(void *ctx, struct conn *conn, const char *data, size_t length)
{
    struct shard *shard = ctx;
    if ((conn->flags & CONN_F_CLOSING) || shard->stopping) {
        return; /* stopping: nothing new is taken in */
    }
    shard->stats.in_bytes += length;
    conn_input_noted(conn, &shard->timers);
    if (conn_paused(conn) || conn->held.length > 0) {
        /* in order, after what is already held; and no more until that is handled, or the
         * receive would bring input in faster than held_step takes it */
        if (held_keep(conn, data, length)) {
            loop_recv_stop(shard->loop, conn);
        }
        return;
    }
    conn_receive(conn, data, length);
}

