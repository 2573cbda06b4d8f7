/* Hand-built shards for unit tests (shard_fixture.h): the set-up a shard's start does,
 * without its loop, thread or sockets, and its undoing. Test code only, one thread. */
#include "tests/unit/shard_fixture.h"

#include "base/clock.h"
#include "base/spsc.h"
#include "engine/interest.h"
#include "engine/monitor.h"
#include "engine/route.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char info_prefix[] = "INFO {\"server_id\":\"shard-fixture\"";

static struct shard *shard_make(struct shard_fixture *fx, int index)
{
    struct shard *shard = calloc(1, sizeof *shard);
    ck_assert_ptr_nonnull(shard);
    int n = fx->shard_count;
    shard->index = index;
    shard->server = &fx->server;
    shard->shard_count = n;
    shard->shared = &fx->shared[index];
    shard->target_plain = calloc((size_t)n * 2, 1); /* the targets, then a scratch row */
    shard->sublist = sublist_create(0x5eed + (uint64_t)index);
    ck_assert_ptr_nonnull(shard->target_plain);
    ck_assert_ptr_nonnull(shard->sublist);
    ck_assert_int_eq(interest_init(&shard->interest, 0x1eed + (uint64_t)index), 0);
    const struct xshard_setup setup = {
        .index = index,
        .shard_count = n,
        .shared = fx->shared,
        .links = fx->links,
        .interest = &shard->interest,
        .overflow_max_bytes = fx->config.xshard_overflow_max,
        .handlers = &shard_xshard_handlers,
        .ctx = shard,
    };
    ck_assert_int_eq(xshard_init(&shard->xshard, &setup), 0);
    timer_wheel_init(&shard->timers, clock_monotonic_ns(), NS_PER_MS);
    conn_table_init(&shard->conns, SHARD_FIXTURE_CONNS_MAX, fx->config.max_pending,
                    fx->config.write_deadline_ns, &shard->timers);
    return shard;
}

static void shard_free(struct shard *shard)
{
    xshard_destroy(&shard->xshard);
    conn_table_destroy(&shard->conns);
    monitor_closed_free(shard->closed_conns); /* the clients released closed into it */
    timer_wheel_destroy(&shard->timers);
    interest_destroy(&shard->interest);
    sublist_destroy(shard->sublist);
    free(shard->target_plain);
    free(shard->picks);
    free(shard->removals);
    free(shard->held_pongs);
    free(shard);
}

void shard_fixture_init(struct shard_fixture *fx, int count, uint64_t ring_size,
                        int64_t overflow_max)
{
    ck_assert_int_le(count, SHARD_FIXTURE_SHARDS_MAX);
    memset(fx, 0, sizeof *fx);
    char *argv[] = {"ionats", NULL};
    FILE *sink = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(sink);
    ck_assert_int_eq(config_parse(&fx->config, 1, argv, sink, sink), CONFIG_RUN);
    fclose(sink);
    fx->config.xshard_overflow_max = overflow_max;
    fx->config.shards = count;
    fx->server.config = &fx->config;
    fx->server.shard_count = count;
    fx->server.shared = fx->shared;
    fx->server.links = fx->links;
    fx->server.forwarded = route_forwarded;
    fx->live.config = &fx->config;
    fx->live.info_prefix = info_prefix; /* borrowed: static */
    fx->live.max_connections = fx->config.max_connections;
    atomic_store_explicit(&fx->server.live, &fx->live, memory_order_release);
    fx->shard_count = count;
    for (int i = 0; i < count; i++) {
        for (int j = 0; j < count; j++) {
            if (i != j) {
                void *bytes = aligned_alloc(SPSC_CACHE_LINE_PAIR, ring_size);
                ck_assert_ptr_nonnull(bytes);
                spsc_init(&fx->links[i * count + j].ring, bytes, ring_size);
            }
        }
    }
    for (int i = 0; i < count; i++) {
        fx->shards[i] = shard_make(fx, i);
    }
}

void shard_fixture_free(struct shard_fixture *fx)
{
    for (int i = 0; i < fx->shard_count; i++) {
        shard_free(fx->shards[i]);
    }
    for (int i = 0; i < fx->shard_count * fx->shard_count; i++) {
        xshard_link_release(&fx->links[i]);
        free(fx->links[i].ring.bytes);
    }
    memset(fx, 0, sizeof *fx);
}

struct xshard_link *shard_fixture_link(struct shard_fixture *fx, int from, int to)
{
    ck_assert_int_lt(from, fx->shard_count);
    ck_assert_int_lt(to, fx->shard_count);
    return &fx->links[from * fx->shard_count + to];
}

struct conn *shard_fixture_conn_open(struct shard *shard, const struct conn_kind *kind)
{
    struct conn *conn = conn_table_take(&shard->conns, kind);
    ck_assert_ptr_nonnull(conn);
    conn->shard = shard;
    return conn;
}

void shard_fixture_ring_fill_acks(struct shard_fixture *fx, int from, int to)
{
    struct spsc *ring = &shard_fixture_link(fx, from, to)->ring;
    uint64_t zero = 0;
    void *body;
    for (int n = 0; n < SHARD_FIXTURE_RECORDS_MAX &&
                    (body = spsc_reserve(ring, XSHARD_ACK, sizeof zero)) != NULL;
         n++) {
        memcpy(body, &zero, sizeof zero);
        spsc_commit(ring);
    }
    ck_assert_ptr_null(spsc_reserve(ring, XSHARD_ACK, sizeof zero));
    spsc_publish(ring);
}

void shard_fixture_settle(struct shard_fixture *fx)
{
    for (int round = 0; round < SHARD_FIXTURE_RECORDS_MAX; round++) {
        bool busy = false;
        for (int i = 0; i < fx->shard_count; i++) {
            busy |= xshard_drain(&fx->shards[i]->xshard);
            busy |= xshard_flush(&fx->shards[i]->xshard);
        }
        for (int i = 0; i < fx->shard_count; i++) {
            /* published by a later shard */
            busy |= xshard_inbound_pending(&fx->shards[i]->xshard);
        }
        if (!busy) {
            return;
        }
    }
    ck_abort_msg("the shards never settled");
}
