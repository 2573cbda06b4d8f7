/* Each shard's ring of its last closed client connections, for connz?state=closed and
 * state=all: nats-server's closed-client ring (max_closed_clients, 10000 by default),
 * spread over the shards.
 *
 * The one idea: a connection closing is copied as the row connz would write for it (its
 * figures, strings and subscriptions in one allocation, its close time and reason added)
 * on its own shard, at its kind's release, so connz reads closed connections the way it
 * reads open ones, from the shard that holds them, and nothing is shared. The ring's size
 * bounds the memory: the oldest entry goes when a new one comes.
 *
 * The shard's thread only. */
#include "engine/client.h"
#include "engine/config.h"
#include "engine/monitor.h"
#include "engine/monitor_internal.h"
#include "engine/server.h"
#include "engine/shard.h"

#include "base/clock.h"

#include <stdlib.h>
#include <string.h>

uint32_t monitor_closed_capacity(const struct server *server, int shard_count)
{
    int64_t total = server->config->max_closed_clients;
    if (total <= 0 || shard_count <= 0) {
        return 0;
    }
    return (uint32_t)((total + shard_count - 1) / shard_count);
}

static struct monitor_closed *ring_of(struct shard *shard)
{
    if (shard->closed_conns == NULL) {
        uint32_t capacity = monitor_closed_capacity(shard->server, shard->shard_count);
        if (capacity == 0) {
            return NULL;
        }
        struct monitor_closed *closed = calloc(1, sizeof *closed);
        if (closed == NULL) {
            return NULL;
        }
        closed->entries = calloc(capacity, sizeof *closed->entries);
        if (closed->entries == NULL) {
            free(closed);
            return NULL;
        }
        closed->capacity = capacity;
        shard->closed_conns = closed;
    }
    return shard->closed_conns;
}

void monitor_closed_record(struct shard *shard, const struct client *client)
{
    struct monitor_closed *closed = ring_of(shard);
    if (closed == NULL) {
        return;
    }
    struct monitor_conn_fields fields;
    monitor_fields_fill(client, &fields);
    fields.closed_ns = clock_monotonic_ns();
    fields.reason = client->conn.close_reason != NULL ? client->conn.close_reason : "Client Closed";
    fields.pending_bytes = 0;
    size_t sub_rows = 0;
    size_t text_size = monitor_client_row_size(client, true, &sub_rows);
    size_t size = sizeof(struct monitor_closed_entry) + sub_rows * sizeof(struct monitor_sub_row) +
                  text_size;
    struct monitor_closed_entry *entry = malloc(size);
    if (entry == NULL) {
        return;
    }
    struct monitor_sub_row *sub_row = (struct monitor_sub_row *)(entry + 1);
    char *text = (char *)(sub_row + sub_rows);
    monitor_client_row_fill(client, &fields, true, &entry->row, &sub_row, &text);
    entry->text_size = text_size;
    entry->size = size;
    uint32_t slot = (closed->head + closed->count) % closed->capacity;
    if (closed->count == closed->capacity) {
        free(closed->entries[closed->head]); /* the oldest goes */
        closed->head = (closed->head + 1) % closed->capacity;
        slot = (closed->head + closed->count - 1) % closed->capacity;
    } else {
        closed->count++;
    }
    closed->entries[slot] = entry;
}

const struct monitor_closed_entry *monitor_closed_at(const struct shard *shard, uint32_t i)
{
    const struct monitor_closed *closed = shard->closed_conns;
    if (closed == NULL || i >= closed->count) {
        return NULL;
    }
    return closed->entries[(closed->head + i) % closed->capacity];
}

void monitor_closed_free(struct monitor_closed *closed)
{
    if (closed == NULL) {
        return;
    }
    for (uint32_t i = 0; i < closed->count; i++) {
        free(closed->entries[(closed->head + i) % closed->capacity]);
    }
    free(closed->entries);
    free(closed);
}
