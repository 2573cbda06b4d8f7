/* The PONG barrier: a client's PING is answered only once every shard has applied the
 * interest changes (SUB, UNSUB) this shard announced before it, so a client that
 * subscribes, PINGs and then has another client publish (on any shard) gets the message —
 * the guarantee clients rely on when they flush after subscribing.
 *
 * The one idea: each announcement has a sequence number; a PONG that cannot go out yet is
 * held in a FIFO with the sequence it waits for, and acknowledgements from the other
 * shards (counted by the transport, which then calls shard_acked through its `acked`
 * handler) release held PONGs in order. The FIFO is bounded: a connection that adds to
 * a full one is paused like a publisher feeding a congested subscriber.
 *
 * One thread: the shard's. */
#include "engine/shard.h"

#include "base/log.h"

#include <stdlib.h>

void shard_pong(struct shard *shard, struct conn *conn)
{
    static const char pong[] = "PONG\r\n";
    if (shard->held_count == 0 &&
        xshard_announcements_applied(&shard->xshard, shard->xshard.announce_sequence)) {
        conn_write_text(conn, pong, sizeof pong - 1);
        return;
    }
    if (shard->held_count == shard->held_capacity) {
        uint32_t capacity = shard->held_capacity ? shard->held_capacity * 2 : 16;
        struct held_pong *grown = malloc(capacity * sizeof *grown);
        if (grown == NULL) {
            /* a PONG that can be neither sent nor held: the client would wait forever */
            LOG_ERROR("out of memory holding a PONG for client %llu; closing it",
                      (unsigned long long)conn->id);
            conn_close(conn, "Out Of Memory");
            return;
        }
        for (uint32_t i = 0; i < shard->held_count; i++) {
            grown[i] = shard->held_pongs[(shard->held_head + i) % shard->held_capacity];
        }
        free(shard->held_pongs);
        shard->held_pongs = grown;
        shard->held_head = 0;
        shard->held_capacity = capacity;
    }
    uint32_t slot = (shard->held_head + shard->held_count++) % shard->held_capacity;
    shard->held_pongs[slot] = (struct held_pong){
        .conn_index = conn->index,
        .conn_generation = conn->generation,
        .sequence = shard->xshard.announce_sequence,
    };
    if (shard->held_count >= SHARD_HELD_PONGS_MAX) {
        /* a client PINGing faster than the shards acknowledge is read no further for now
         * (flow control reads it again within a check period), so the FIFO stays bounded */
        shard_flow_pause(shard, conn);
    }
}

void shard_acked(struct shard *shard)
{
    static const char pong[] = "PONG\r\n";
    while (shard->held_count > 0) {
        struct held_pong *held = &shard->held_pongs[shard->held_head];
        if (!xshard_announcements_applied(&shard->xshard, held->sequence)) {
            return;
        }
        struct conn *conn = shard->conns.conns[held->conn_index];
        if (conn != NULL && conn->generation == held->conn_generation) {
            conn_write_text(conn, pong, sizeof pong - 1);
        }
        shard->held_head = (shard->held_head + 1) % shard->held_capacity;
        shard->held_count--;
    }
}
