/* libFuzzer target for a whole client connection: parse, authenticate, dispatch and route,
 * driven against a shard built by hand (connection table, subject index, timer wheel,
 * deferred queue), with no socket and no ring.
 *
 * The first byte picks the broker's settings (authentication or not, verbose defaults) and
 * how the rest is cut into receives; the receives go alternately to two connections, so a
 * SUB on one and a PUB on the other deliver across them. Between receives the harness does
 * what the loop does: runs due timers and deferred handlers, "sends" what was queued, and
 * frees connections that closed. The point: no input reaches an assertion, leaks or touches
 * freed memory (ASan+UBSan), and every frame written is a whole line of the protocol. */
#include "base/clock.h"
#include "engine/client.h"
#include "engine/reload.h"
#include "engine/config.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "proto/connect.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { CONNECTIONS = 2, CONTROL_LINE_MAX = 512, PAYLOAD_MAX = 4096, PENDING_MAX = 64 * 1024 };

struct fixture {
    struct config config;
    struct server server;
    char server_id[SERVER_ID_SIZE];
};

/* Settings the broker would have from flags; `auth` adds a user and password. */
static void fixture_init(struct fixture *fixture, bool auth)
{
    memset(fixture, 0, sizeof *fixture);
    char *argv[] = {"ionats", NULL};
    FILE *sink = fopen("/dev/null", "w");
    if (sink == NULL || config_parse(&fixture->config, 1, argv, sink, sink) != CONFIG_RUN) {
        abort();
    }
    fclose(sink);
    fixture->config.max_control_line = CONTROL_LINE_MAX;
    fixture->config.max_payload = PAYLOAD_MAX;
    fixture->config.max_pending = PENDING_MAX;
    if (auth) {
        fixture->config.user = "u";
        fixture->config.pass = "p";
    }
    uint64_t words[4] = {1, 2, 3, 4};
    info_server_id_make(fixture->server_id, sizeof fixture->server_id, words);
    struct server *server = &fixture->server;
    server->config = &fixture->config;
    server->listener_kind = &client_kind;
    memcpy(server->server_id, fixture->server_id, sizeof server->server_id);
    server->server_name = "fuzz";
    server->port = 4222;
    server->shard_count = 1;
    if (server_live_start(server, &fixture->config) != 0) {
        abort();
    }
}

static struct shard *shard_make(struct server *server)
{
    struct shard *shard = calloc(1, sizeof *shard);
    if (shard == NULL) {
        abort();
    }
    shard->server = server;
    shard->shard_count = 1;
    shard->sublist = sublist_create(7);
    if (shard->sublist == NULL) {
        abort();
    }
    timer_wheel_init(&shard->timers, clock_monotonic_ns(), NS_PER_MS);
    conn_table_init(&shard->conns, 1u << 20, server->config->max_pending,
                    server->config->write_deadline_ns, &shard->timers);
    deferred_init(&shard->deferred, 1 << 20);
    return shard;
}

static struct conn *connection_open(struct shard *shard, uint64_t id)
{
    struct conn *conn = conn_table_take(&shard->conns, &client_kind);
    if (conn == NULL) {
        abort();
    }
    conn->shard = shard;
    conn->id = id;
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000)};
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (conn->kind->open(conn, (const struct sockaddr *)&peer) != 0) {
        abort();
    }
    return conn;
}

/* Every frame queued must end a line: the output is whole protocol frames. */
static void output_take(struct conn *conn)
{
    size_t length = conn_pending_bytes(conn);
    if (length == 0) {
        return;
    }
    char tail[2] = {0, 0}; /* the last two bytes, across chunks */
    uint32_t offset = conn->out.head_offset;
    for (const struct outq_chunk *chunk = conn->out.head; chunk != NULL; chunk = chunk->next) {
        for (uint32_t i = offset; i < chunk->length; i++) {
            tail[0] = tail[1];
            tail[1] = chunk->data[i];
        }
        offset = 0;
    }
    if (length < 2 || memcmp(tail, "\r\n", 2) != 0) {
        abort();
    }
    conn->send_length = length;
    conn_sent(conn, length);
}

/* What the loop does after a turn: flush (here: drop), then free what closed. */
static void turn_end(struct shard *shard)
{
    deferred_run(&shard->deferred, 64);
    struct conn *conn = shard->conns.flush_head;
    shard->conns.flush_head = NULL;
    while (conn != NULL) {
        struct conn *next = conn->flush_next;
        conn->flags &= ~CONN_F_FLUSH_QUEUED;
        output_take(conn);
        if (conn->flags & CONN_F_CLOSE_AFTER_FLUSH) {
            conn_close(conn, conn->close_reason);
        }
        conn = next;
    }
    while (shard->conns.close_head != NULL) {
        conn = shard->conns.close_head;
        shard->conns.close_head = conn->close_next;
        conn->kind->release(conn);
        conn->flags |= CONN_F_RELEASED;
        conn_table_free(&shard->conns, conn);
    }
}

static void shard_free(struct shard *shard)
{
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        struct conn *conn = shard->conns.conns[i];
        if (conn != NULL && !(conn->flags & CONN_F_RELEASED)) {
            conn->kind->release(conn);
        }
    }
    conn_table_destroy(&shard->conns);
    timer_wheel_destroy(&shard->timers);
    deferred_destroy(&shard->deferred);
    sublist_destroy(shard->sublist);
    free(shard->removals);
    free(shard->picks);
    free(shard);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    static struct fixture fixtures[2];
    static bool ready;
    if (!ready) {
        fixture_init(&fixtures[0], false);
        fixture_init(&fixtures[1], true);
        ready = true;
    }
    struct fixture *fixture = &fixtures[data[0] & 1];
    size_t chunk_max = (size_t)(data[0] >> 1) + 1;
    struct shard *shard = shard_make(&fixture->server);
    uint32_t indexes[CONNECTIONS];
    uint32_t generations[CONNECTIONS];
    for (int i = 0; i < CONNECTIONS; i++) {
        struct conn *conn = connection_open(shard, (uint64_t)i + 1);
        indexes[i] = conn->index;
        generations[i] = conn->generation;
    }
    turn_end(shard);
    const char *input = (const char *)data + 1;
    size_t left = size - 1;
    for (int turn = 0; left > 0; turn++) {
        size_t chunk = left < chunk_max ? left : chunk_max;
        int target = turn % CONNECTIONS;
        /* NULL once it closed and was freed (its slot may hold another by then) */
        struct conn *conn = conn_table_get(&shard->conns, indexes[target], generations[target]);
        if (conn != NULL && !(conn->flags & CONN_F_CLOSING)) {
            conn->kind->receive(conn, input, chunk);
        }
        input += chunk;
        left -= chunk;
        turn_end(shard);
    }
    /* a late turn: every timer due (pings, authentication timeouts) fires */
    timer_advance(&shard->timers, INT64_MAX / 2, UINT32_MAX);
    turn_end(shard);
    shard_free(shard);
    return 0;
}
