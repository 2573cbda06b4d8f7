/* Hand-built shards for unit tests: the server, the default configuration, every pair of
 * shards joined by a real cross-shard ring (xshard.c), and per shard its subscription
 * index, interest tables, timer wheel and connection table. No loop, no thread, no socket:
 * a test plays the shards' turns itself. Used by test_barrier, test_route_shards and
 * test_xshard*. One thread touches a fixture; keep it in static storage so the links'
 * 128-byte alignment holds. No shard ever sleeps (`sleeping` stays 0), so nothing is
 * ever woken. */
#ifndef IONATS_TESTS_UNIT_SHARD_FIXTURE_H
#define IONATS_TESTS_UNIT_SHARD_FIXTURE_H

#include "engine/config.h"
#include "engine/reload.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "engine/xshard.h"

#include <stdint.h>

enum {
    SHARD_FIXTURE_SHARDS_MAX = 4,
    SHARD_FIXTURE_CONNS_MAX = 64, /* connection slots per shard */
    SHARD_FIXTURE_RECORDS_MAX = 4096, /* bounds the ring fill and the settle rounds */
};

/* Owned by the test that declares it; shards[] and the rings are owned by the fixture
 * between shard_fixture_init and shard_fixture_free. */
struct shard_fixture {
    struct config config;
    struct server server;
    struct server_live live; /* what the server's live state points at: the defaults */
    struct shard_shared shared[SHARD_FIXTURE_SHARDS_MAX];
    /* i → j at i * shard_count + j */
    struct xshard_link links[SHARD_FIXTURE_SHARDS_MAX * SHARD_FIXTURE_SHARDS_MAX];
    struct shard *shards[SHARD_FIXTURE_SHARDS_MAX];
    int shard_count;
};

/* `count` shards, each pair joined by a ring of `ring_size` bytes; default settings but
 * the overflow budget, `overflow_max` bytes per shard. */
void shard_fixture_init(struct shard_fixture *fx, int count, uint64_t ring_size,
                        int64_t overflow_max);

/* Frees every shard, link and ring; connections must be gone from the tables already. */
void shard_fixture_free(struct shard_fixture *fx);

/* The link from shard `from` to shard `to`. */
struct xshard_link *shard_fixture_link(struct shard_fixture *fx, int from, int to);

/* A connection of `kind` on `shard`, taken from its table. */
struct conn *shard_fixture_conn_open(struct shard *shard, const struct conn_kind *kind);

/* Fills the ring from → to with XSHARD_ACK records of sequence 0 (harmless to the
 * consumer: shard_acked ignores an acknowledgement that acknowledges nothing new) until it
 * has no room, without overflow, and publishes it. */
void shard_fixture_ring_fill_acks(struct shard_fixture *fx, int from, int to);

/* Runs every shard's drain and flush until nothing moves or waits, what the loops do; at
 * most SHARD_FIXTURE_RECORDS_MAX rounds. */
void shard_fixture_settle(struct shard_fixture *fx);

#endif
