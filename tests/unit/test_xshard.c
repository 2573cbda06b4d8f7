/* Unit tests for the cross-shard transport's producer side (engine/xshard.c): overflow
 * queues that keep order across a full ring, the byte budget on them and whom it pauses,
 * large publishes in one block shared by every target (freed once, also when memory runs
 * out; bounded per link by the block cap; queue groups continued over several records),
 * and announcements and acknowledgements when memory runs out. test_xshard_threads.c runs
 * the transport across threads.
 *
 * Shards are built by hand (links with small rings, the interest tables, a connection
 * table; no loop, no thread): a test plays every shard in turn, producing with
 * xshard_reserve/commit, route_publish or route_sub_add, publishing with xshard_flush, and
 * consuming either with xshard_drain, as the target shard's loop does, or straight from the
 * ring when it checks the records themselves. No peer ever sleeps (`sleeping` stays 0), so
 * xshard_flush never wakes one. Allocations fail on demand through alloc_fail.h. */
#include "base/clock.h"
#include "base/spsc.h"
#include "engine/config.h"
#include "engine/interest.h"
#include "engine/route.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "engine/xshard.h"
#include "tests/unit/alloc_fail.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Small rings fill after a few records; overflow nodes do the rest. */
enum {
    SHARDS_MAX = 4,
    RING_SIZE = 1024,
    CONNS_MAX = 64,
    /* a record type no shard handles: tests that use it read the ring themselves */
    TEST_RECORD = 0x7e57,
    /* bounds every producer and consumer loop below */
    RECORDS_MAX = 4096,
};

/* What a struct shard's embedded overflow node costs besides its body. */
static const uint64_t NODE_HEADER_BYTES = sizeof(struct xshard_overflow);

struct fixture {
    struct config config;
    struct server server;
    struct shard_shared shared[SHARDS_MAX];
    struct xshard_link links[SHARDS_MAX * SHARDS_MAX];
    struct shard *shards[SHARDS_MAX];
    int shard_count;
};

static struct fixture fx; /* static storage: the links' 128-byte alignment holds */

static const struct conn_kind test_kind = {.name = "test", .size = sizeof(struct conn)};

static struct shard *shard_make(int index)
{
    struct shard *shard = calloc(1, sizeof *shard);
    ck_assert_ptr_nonnull(shard);
    int n = fx.shard_count;
    shard->index = index;
    shard->server = &fx.server;
    shard->shard_count = n;
    shard->shared = &fx.shared[index];
    shard->target_plain = calloc((size_t)n * 2, 1);
    shard->sublist = sublist_create(0x5eed + (uint64_t)index);
    ck_assert(shard->target_plain && shard->sublist);
    ck_assert_int_eq(interest_init(&shard->interest, 0x1234 + (uint64_t)index), 0);
    const struct xshard_setup setup = {
        .index = index,
        .shard_count = n,
        .shared = fx.shared,
        .links = fx.links,
        .interest = &shard->interest,
        .overflow_max_bytes = fx.config.xshard_overflow_max,
        .handlers = &shard_xshard_handlers,
        .ctx = shard,
    };
    ck_assert_int_eq(xshard_init(&shard->xshard, &setup), 0);
    timer_wheel_init(&shard->timers, clock_monotonic_ns(), NS_PER_MS);
    conn_table_init(&shard->conns, CONNS_MAX, fx.config.max_pending,
                    fx.config.write_deadline_ns, &shard->timers);
    return shard;
}

static void shard_free(struct shard *shard)
{
    xshard_destroy(&shard->xshard);
    conn_table_destroy(&shard->conns);
    timer_wheel_destroy(&shard->timers);
    interest_destroy(&shard->interest);
    sublist_destroy(shard->sublist);
    free(shard->target_plain);
    free(shard->picks);
    free(shard->removals);
    free(shard->held_pongs);
    free(shard);
}

/* `count` shards, each pair linked by a ring of `ring_size` bytes; default settings but
 * the overflow budget. */
static void fixture_init(int count, uint64_t ring_size, int64_t overflow_max)
{
    ck_assert_int_le(count, SHARDS_MAX);
    memset(&fx, 0, sizeof fx);
    char *argv[] = {"ionats", NULL};
    FILE *sink = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(sink);
    ck_assert_int_eq(config_parse(&fx.config, 1, argv, sink, sink), CONFIG_RUN);
    fclose(sink);
    fx.config.xshard_overflow_max = overflow_max;
    fx.config.shards = count;
    fx.server.config = &fx.config;
    fx.server.shard_count = count;
    fx.server.shared = fx.shared;
    fx.server.links = fx.links;
    fx.server.forwarded = route_forwarded;
    fx.shard_count = count;
    for (int i = 0; i < count; i++) {
        for (int j = 0; j < count; j++) {
            if (i != j) {
                void *bytes = aligned_alloc(SPSC_CACHE_LINE_PAIR, ring_size);
                ck_assert_ptr_nonnull(bytes);
                spsc_init(&fx.links[i * count + j].ring, bytes, ring_size);
            }
        }
    }
    for (int i = 0; i < count; i++) {
        fx.shards[i] = shard_make(i);
    }
}

static void fixture_free(void)
{
    for (int i = 0; i < fx.shard_count; i++) {
        shard_free(fx.shards[i]);
    }
    for (int i = 0; i < fx.shard_count * fx.shard_count; i++) {
        xshard_link_release(&fx.links[i]);
        free(fx.links[i].ring.bytes);
    }
    memset(&fx, 0, sizeof fx);
}

static struct xshard_link *link_of(int from, int to)
{
    return &fx.links[from * fx.shard_count + to];
}

static struct conn *conn_open(struct shard *shard)
{
    struct conn *conn = conn_table_take(&shard->conns, &test_kind);
    ck_assert_ptr_nonnull(conn);
    conn->shard = shard;
    return conn;
}

/* A TEST_RECORD of `length` bytes (≥ 8) from `from` to `to`, numbered `sequence`. True
 * when it went to the overflow queue. */
static bool record_put(int from, int to, uint64_t sequence, uint32_t length)
{
    bool overflowed;
    unsigned char *body =
        xshard_reserve(&fx.shards[from]->xshard, to, TEST_RECORD, length, &overflowed);
    ck_assert_ptr_nonnull(body);
    memset(body, 0xab, length);
    memcpy(body, &sequence, sizeof sequence);
    xshard_commit(&fx.shards[from]->xshard, to, overflowed);
    return overflowed;
}

/* Plays the consumer of ring from → to: takes every published TEST_RECORD, checking that
 * they are numbered *next, *next + 1, … Returns how many it took. */
static uint32_t ring_take(int from, int to, uint64_t *next)
{
    struct spsc *ring = &link_of(from, to)->ring;
    const struct spsc_record *record;
    uint32_t count = 0;
    while ((record = spsc_peek(ring)) != NULL) {
        ck_assert_uint_eq(record->type, TEST_RECORD);
        ck_assert_uint_ge(record->length, sizeof(uint64_t));
        uint64_t sequence;
        memcpy(&sequence, spsc_record_body(record), sizeof sequence);
        ck_assert_uint_eq(sequence, *next);
        (*next)++;
        spsc_advance(ring, record);
        count++;
        ck_assert_uint_le(count, RECORDS_MAX);
    }
    spsc_consume_done(ring);
    return count;
}

/* Fills the ring from → to with XSHARD_ACK records of sequence 0 (harmless to the
 * consumer: shard_acked ignores an acknowledgement that acknowledges nothing new) until it
 * has no room, without overflow. */
static void ring_fill_acks(int from, int to)
{
    struct spsc *ring = &link_of(from, to)->ring;
    uint64_t zero = 0;
    void *body;
    for (int n = 0;
         n < RECORDS_MAX && (body = spsc_reserve(ring, XSHARD_ACK, sizeof zero)) != NULL; n++) {
        memcpy(body, &zero, sizeof zero);
        spsc_commit(ring);
    }
    ck_assert_ptr_null(spsc_reserve(ring, XSHARD_ACK, sizeof zero));
    spsc_publish(ring);
}

/* The uncommitted end of a ring: unchanged when nothing was written to it. */
static uint64_t ring_written(int from, int to)
{
    return link_of(from, to)->ring.producer_tail;
}

/* Runs every shard's drain and flush until nothing moves or waits: what the loops do. */
static void shards_settle(void)
{
    for (int round = 0; round < RECORDS_MAX; round++) {
        bool busy = false;
        for (int i = 0; i < fx.shard_count; i++) {
            busy |= xshard_drain(&fx.shards[i]->xshard);
            busy |= xshard_flush(&fx.shards[i]->xshard);
        }
        for (int i = 0; i < fx.shard_count; i++) {
            busy |= xshard_inbound_pending(&fx.shards[i]->xshard); /* published by a later shard */
        }
        if (!busy) {
            return;
        }
    }
    ck_abort_msg("the shards never settled");
}

/* How many shards' interest on `on` the replica of `shard` holds. */
static uint32_t remote_interest_count(int shard, const char *subject)
{
    const struct sublist_result *result =
        interest_remote_match(&fx.shards[shard]->interest, subject, strlen(subject));
    return result->plain_count;
}

/* ---- subscriptions as routing sees them ---- */

static bool sub_deliver(struct shard *shard, struct route_sub *sub, const struct route_msg *msg,
                        bool status)
{
    return true;
}

static void sub_expire(struct shard *shard, struct route_sub *sub)
{
}

static const struct route_sub_ops sub_ops = {.deliver = sub_deliver, .expire = sub_expire};

static void sub_init(struct route_sub *sub, const char *subject)
{
    memset(sub, 0, sizeof *sub);
    sub->sub.subject = subject;
    sub->sub.subject_length = (uint32_t)strlen(subject);
    sub->ops = &sub_ops;
}

/* A subscriber that checks what it receives: numbered payloads (payload_fill), each whole,
 * in order. */
struct checking_sub {
    struct route_sub route; /* first */
    uint32_t received;
    uint32_t broken;        /* payloads not as written, or out of order */
    uint64_t next;          /* the number expected next */
};

/* Payload `length` (≥ 8) bytes: its number, then bytes that depend on number and offset. */
static void payload_fill(char *payload, uint32_t length, uint64_t number)
{
    memcpy(payload, &number, sizeof number);
    for (uint32_t i = sizeof number; i < length; i++) {
        payload[i] = (char)(number * 131 + i * 7);
    }
}

static bool checking_deliver(struct shard *shard, struct route_sub *route,
                             const struct route_msg *msg, bool status)
{
    struct checking_sub *sub = (struct checking_sub *)route;
    sub->received++;
    uint64_t number = UINT64_MAX;
    if (msg->payload.length >= sizeof number) {
        memcpy(&number, msg->payload.data, sizeof number);
    }
    bool whole = number == sub->next;
    for (uint32_t i = sizeof number; whole && i < msg->payload.length; i++) {
        whole = msg->payload.data[i] == (char)(number * 131 + i * 7);
    }
    sub->broken += !whole;
    sub->next = number + 1;
    return true;
}

static const struct route_sub_ops checking_ops = {.deliver = checking_deliver,
                                                  .expire = sub_expire};

/* Subscribes `sub` to `subject` (in `queue` when not NULL) on shard `s`. */
static void checking_sub_add(int s, struct checking_sub *sub, const char *subject,
                             const char *queue)
{
    memset(sub, 0, sizeof *sub);
    sub_init(&sub->route, subject);
    sub->route.ops = &checking_ops;
    if (queue != NULL) {
        sub->route.sub.queue = queue;
        sub->route.sub.queue_length = (uint32_t)strlen(queue);
    }
    ck_assert_int_eq(route_sub_add(fx.shards[s], &sub->route), 0);
}

/* Large payloads: one travels in a block. */
enum { LARGE = XSHARD_INLINE_BYTES_MAX + 8000 };
static char large_payload[LARGE];

static struct route_msg large_msg(const char *subject, uint64_t number, uint32_t length)
{
    ck_assert_uint_le(length, LARGE);
    payload_fill(large_payload, length, number);
    return (struct route_msg){
        .subject = {.data = subject, .length = (uint32_t)strlen(subject)},
        .payload = {.data = large_payload, .length = length},
    };
}

/* What a block of a `length`-byte payload on `subject` weighs. */
static uint64_t block_total(const char *subject, uint32_t length)
{
    return sizeof(struct xshard_block) + sizeof(struct xshard_publish) + strlen(subject) + length;
}

/* The block the next record in ring from → to names (published or not). */
static struct xshard_block *ring_block(int from, int to)
{
    struct spsc *ring = &link_of(from, to)->ring;
    (void)spsc_publish(ring);
    const struct spsc_record *record = spsc_peek(ring);
    ck_assert_ptr_nonnull(record);
    ck_assert_uint_eq(record->type, XSHARD_PUBLISH_REF);
    struct xshard_publish_ref head;
    ck_assert_uint_ge(record->length, sizeof head);
    memcpy(&head, spsc_record_body(record), sizeof head);
    return head.block;
}

static const struct route_publisher server_publisher = {.echo = true};

/* ---- large publishes: one shared block ---- */

/* A large publish to three shards is written once, into one block that the three records
 * name; each target's drop takes one reference, the last one frees it (the allocation
 * count shows exactly one block, gone after the third drain, and ASan would see a second
 * free), and every subscriber gets the payload whole. */
START_TEST(test_block_shared_freed_once)
{
    fixture_init(4, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    struct shard *producer = fx.shards[0];
    struct checking_sub subs[SHARDS_MAX];
    for (int s = 1; s < 4; s++) {
        checking_sub_add(s, &subs[s], "big", NULL);
    }
    shards_settle();
    /* once, so that every index caches its match and the next rounds allocate nothing */
    struct route_msg msg = large_msg("big", 0, LARGE);
    route_publish(producer, &server_publisher, &msg);
    shards_settle();
    const uint64_t total = block_total("big", LARGE);
    msg = large_msg("big", 1, LARGE);
    int64_t live = alloc_fail.live_count;
    route_publish(producer, &server_publisher, &msg);
    ck_assert_int_eq(alloc_fail.live_count, live + 1); /* one block for three targets */
    ck_assert_uint_eq(producer->xshard.stats.blocks, 2);
    struct xshard_block *block = ring_block(0, 1);
    ck_assert_ptr_eq(ring_block(0, 2), block);
    ck_assert_ptr_eq(ring_block(0, 3), block);
    ck_assert_uint_eq(atomic_load(&block->references), 3); /* the producer's own is gone */
    ck_assert(!xshard_flush(&producer->xshard));
    for (int s = 1; s < 4; s++) {
        ck_assert_uint_eq(atomic_load(&link_of(0, s)->block_bytes), total);
        ck_assert_uint_eq(atomic_load(&block->references), (uint32_t)(4 - s));
        xshard_drain(&fx.shards[s]->xshard);
        ck_assert_uint_eq(atomic_load(&link_of(0, s)->block_bytes), 0);
        ck_assert_uint_eq(subs[s].received, 2);
        ck_assert_uint_eq(subs[s].broken, 0);
        ck_assert_int_eq(alloc_fail.live_count, s < 3 ? live + 1 : live); /* freed last */
    }
    for (int s = 1; s < 4; s++) {
        ck_assert_uint_eq(fx.shards[s]->xshard.stats.received, 2);
        route_sub_remove(fx.shards[s], &subs[s].route);
    }
    ck_assert_uint_eq(producer->xshard.stats.sent, 6);
    shards_settle();
    fixture_free();
}
END_TEST

/* Out of memory while forwarding a large publish, at each allocation in turn: the block
 * (no target gets it) or the overflow node of the target whose ring is full (the others
 * get it). Every reference is dropped in the end and the block freed exactly once: the
 * allocation count returns to where it was. */
START_TEST(test_block_no_memory)
{
    bool succeeded = false;
    for (uint64_t fail_at = 1; !succeeded; fail_at++) {
        ck_assert_uint_lt(fail_at, 16);
        fixture_init(4, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
        struct shard *producer = fx.shards[0];
        struct checking_sub subs[SHARDS_MAX];
        for (int s = 1; s < 4; s++) {
            checking_sub_add(s, &subs[s], "big", NULL);
        }
        shards_settle();
        struct route_msg msg = large_msg("big", 0, LARGE);
        route_publish(producer, &server_publisher, &msg);
        shards_settle();
        ring_fill_acks(0, 3); /* target 3's record will need an overflow node */
        msg = large_msg("big", 1, LARGE);
        const uint8_t targets[SHARDS_MAX] = {0, 1, 1, 1};
        alloc_fail_at(fail_at);
        int64_t live = alloc_fail.live_count;
        alloc_fail.armed = true;
        enum xshard_forward result = xshard_forward(&producer->xshard, &msg, targets, NULL, 0);
        alloc_fail.armed = false;
        succeeded = alloc_fail.failed_count == 0;
        /* the allocations in order: the block (for target 1), target 3's overflow node */
        ck_assert_int_eq(result, succeeded ? XSHARD_FORWARD_WAITING : XSHARD_FORWARD_NO_MEMORY);
        uint32_t reached = fail_at == 1 ? 0 : fail_at == 2 ? 2 : 3;
        ck_assert_uint_eq(producer->xshard.stats.sent, 3 + reached);
        shards_settle();
        for (int s = 1; s < 4; s++) {
            ck_assert_uint_eq(subs[s].received, 1 + (s <= (int)reached));
            ck_assert_uint_eq(subs[s].broken, 0);
            ck_assert_uint_eq(atomic_load(&link_of(0, s)->block_bytes), 0);
        }
        ck_assert_uint_eq(producer->xshard.overflow_bytes, 0);
        ck_assert_int_eq(alloc_fail.live_count, live); /* block and node gone, once each */
        for (int s = 1; s < 4; s++) {
            route_sub_remove(fx.shards[s], &subs[s].route);
        }
        shards_settle();
        fixture_free();
    }
}
END_TEST

/* The block cap: with a ring of 64 KiB, three blocks of 20 KiB fit a link's cap and the
 * fourth finds it reached although the ring has room: it waits in the overflow queue (its
 * publisher paused), counted against the overflow budget with its block, and so does all
 * that follows. Once the consumer drops them, the flush moves the next ones in; all arrive
 * whole and in order. */
START_TEST(test_block_cap_overflows)
{
    enum { RING = 64 * 1024, PAYLOAD = 20 * 1024, COUNT = 7 };
    fixture_init(2, RING, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    struct shard *producer = fx.shards[0];
    struct xshard_link *link = link_of(0, 1);
    struct checking_sub sub;
    checking_sub_add(1, &sub, "big", NULL);
    shards_settle();
    const uint64_t total = block_total("big", PAYLOAD);
    const uint64_t fitting = RING / total;
    ck_assert_uint_eq(fitting, 3);
    struct conn *publisher = conn_open(producer);
    struct route_publisher from = {.owner = publisher, .conn = publisher, .echo = true};
    for (uint64_t n = 0; n < COUNT; n++) {
        struct route_msg msg = large_msg("big", n, PAYLOAD);
        route_publish(producer, &from, &msg);
        ck_assert(n < fitting ? !(publisher->flags & CONN_F_PAUSED)
                              : (publisher->flags & CONN_F_PAUSED) != 0);
    }
    ck_assert_uint_eq(atomic_load(&link->block_bytes), fitting * total);
    ck_assert_uint_eq(link->overflow_count, COUNT - fitting);
    ck_assert_uint_eq(producer->xshard.stats.block_capped, 1); /* the rest queued behind */
    ck_assert_uint_eq(producer->xshard.stats.ring_full, 0);
    ck_assert_uint_eq(producer->xshard.overflow_bytes,
                      (COUNT - fitting) *
                          (NODE_HEADER_BYTES + sizeof(struct xshard_publish_ref) + total));
    ck_assert(xshard_flush(&producer->xshard)); /* publishes; the cap holds the rest back */
    ck_assert_uint_eq(link->overflow_count, COUNT - fitting);
    for (int round = 0; sub.received < COUNT; round++) {
        ck_assert_int_lt(round, COUNT);
        xshard_drain(&fx.shards[1]->xshard);
        ck_assert_uint_eq(atomic_load(&link->block_bytes), 0);
        bool waiting = xshard_flush(&producer->xshard); /* the next ones move in, up to the cap */
        ck_assert_uint_le(atomic_load(&link->block_bytes), fitting * total);
        ck_assert(waiting == (link->overflow_count > 0));
    }
    ck_assert_uint_eq(sub.received, COUNT);
    ck_assert_uint_eq(sub.broken, 0);
    ck_assert_uint_eq(producer->xshard.overflow_bytes, 0);
    route_sub_remove(fx.shards[1], &sub.route);
    shards_settle();
    fixture_free();

    /* a block larger than the cap goes when no other is outstanding, and only then */
    fixture_init(2, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    checking_sub_add(1, &sub, "big", NULL);
    shards_settle();
    const uint8_t targets[SHARDS_MAX] = {0, 1};
    struct route_msg msg = large_msg("big", 0, LARGE);
    ck_assert_int_eq(xshard_forward(&fx.shards[0]->xshard, &msg, targets, NULL, 0),
                     XSHARD_FORWARD_FLOWING);
    msg = large_msg("big", 1, LARGE);
    ck_assert_int_eq(xshard_forward(&fx.shards[0]->xshard, &msg, targets, NULL, 0),
                     XSHARD_FORWARD_WAITING);
    ck_assert_uint_eq(fx.shards[0]->xshard.stats.block_capped, 1);
    shards_settle();
    ck_assert_uint_eq(sub.received, 2);
    ck_assert_uint_eq(sub.broken, 0);
    route_sub_remove(fx.shards[1], &sub.route);
    shards_settle();
    fixture_free();
}
END_TEST

/* Queue groups too many for one reference record: a small message whose groups for one
 * target take more than XSHARD_INLINE_BYTES_MAX goes in a block, and its groups over two
 * records; the plain subscriber gets it once, each group once. */
START_TEST(test_block_groups_continue)
{
    enum { RING = 64 * 1024, NAME = 7000, GROUPS = 3 };
    fixture_init(2, RING, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    static char names[GROUPS][NAME + 1];
    struct checking_sub members[GROUPS];
    struct checking_sub plain;
    for (int g = 0; g < GROUPS; g++) {
        memset(names[g], 'a' + g, NAME);
        checking_sub_add(1, &members[g], "work", names[g]);
    }
    checking_sub_add(1, &plain, "work", NULL);
    shards_settle();
    char payload[16];
    payload_fill(payload, sizeof payload, 0);
    struct route_msg msg = {
        .subject = {.data = "work", .length = 4},
        .payload = {.data = payload, .length = sizeof payload},
    };
    route_publish(fx.shards[0], &server_publisher, &msg);
    ck_assert_uint_eq(fx.shards[0]->xshard.stats.blocks, 1);
    ck_assert(!xshard_flush(&fx.shards[0]->xshard));
    struct spsc *ring = &link_of(0, 1)->ring;
    const struct spsc_record *record = spsc_peek(ring);
    struct xshard_publish_ref first;
    ck_assert_uint_eq(record->type, XSHARD_PUBLISH_REF);
    memcpy(&first, spsc_record_body(record), sizeof first);
    ck_assert_uint_eq(first.group_count, 2); /* 16 + 2 × 7004 fit 16 KiB; a third does not */
    ck_assert_uint_eq(first.flags, 0);
    ck_assert_uint_eq(atomic_load(&first.block->references), 2);
    shards_settle();
    ck_assert_uint_eq(plain.received, 1);
    for (int g = 0; g < GROUPS; g++) {
        ck_assert_uint_eq(members[g].received, 1);
        ck_assert_uint_eq(members[g].broken, 0);
        route_sub_remove(fx.shards[1], &members[g].route);
    }
    ck_assert_uint_eq(plain.broken, 0);
    ck_assert_uint_eq(fx.shards[1]->xshard.stats.received, 1);
    route_sub_remove(fx.shards[1], &plain.route);
    shards_settle();
    fixture_free();
}
END_TEST

/* ---- overflow order ---- */

/* Records reserved while the ring is full come out after the consumer drains, in the
 * order they were reserved, lengths mixed so that records also wrap the ring's end. */
START_TEST(test_overflow_keeps_order)
{
    fixture_init(2, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    struct shard *producer = fx.shards[0];
    struct xshard_link *link = link_of(0, 1);
    enum { COUNT = 600 };
    uint64_t next = 0;
    uint64_t put = 0;
    uint32_t overflowed_count = 0;
    bool overflowed_seen = false;
    /* first half; then the consumer makes room without the producer flushing: what comes
     * after must still queue behind the waiting records, not jump into the ring */
    for (; put < COUNT / 2; put++) {
        bool overflowed = record_put(0, 1, put, 8 + (uint32_t)(put % 7) * 12);
        ck_assert(!overflowed_seen || overflowed); /* once one waits, all wait */
        overflowed_seen |= overflowed;
        overflowed_count += overflowed;
    }
    ck_assert(overflowed_seen);
    ck_assert(producer->xshard.overflowing);
    ck_assert_uint_eq(producer->xshard.stats.ring_full, 1);
    ck_assert(xshard_flush(&producer->xshard)); /* publishes what the ring holds; the rest waits */
    ck_assert_uint_gt(ring_take(0, 1, &next), 0);
    for (; put < COUNT; put++) {
        ck_assert(record_put(0, 1, put, 8 + (uint32_t)(put % 5) * 20));
        overflowed_count++;
    }
    ck_assert_uint_eq(link->overflow_count, overflowed_count);
    ck_assert_uint_eq(producer->xshard.stats.overflowed, overflowed_count);
    for (int round = 0; next < COUNT; round++) {
        ck_assert_int_lt(round, RECORDS_MAX);
        bool waiting = xshard_flush(&producer->xshard);
        ring_take(0, 1, &next);
        ck_assert(waiting || next == COUNT);
    }
    ck_assert(!xshard_flush(&producer->xshard));
    ck_assert(!producer->xshard.overflowing);
    ck_assert_ptr_null(link->overflow_head);
    ck_assert_uint_eq(link->overflow_count, 0);
    ck_assert_uint_eq(producer->xshard.overflow_bytes, 0);
    /* with the queue empty, records go straight into the ring again */
    ck_assert(!record_put(0, 1, next, 8));
    fixture_free();
}
END_TEST

/* ---- budget accounting ---- */

/* Bytes go up by exactly each overflow node's size (its block too, for a large publish),
 * not at all for records the ring takes, and down by the size of each node moved into the
 * ring; the peak stays. */
START_TEST(test_budget_accounting)
{
    fixture_init(2, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    struct shard *producer = fx.shards[0];
    struct xshard_link *link = link_of(0, 1);
    uint64_t sizes[RECORDS_MAX]; /* model: the bytes of each record, in order */
    uint64_t put = 0;
    uint64_t expected = 0;
    while (put < 100) {
        uint32_t length = 8 + (uint32_t)(put % 9) * 8;
        bool overflowed = record_put(0, 1, put, length);
        sizes[put++] = overflowed ? NODE_HEADER_BYTES + length : 0;
        expected += sizes[put - 1];
        ck_assert_uint_eq(producer->xshard.overflow_bytes, expected);
    }
    ck_assert_uint_gt(expected, 0);
    /* a large publish: its block counts with its node */
    enum { LARGE_PAYLOAD = XSHARD_INLINE_BYTES_MAX + 1000 };
    static char large[LARGE_PAYLOAD];
    const struct route_msg msg = {
        .subject = {.data = "big", .length = 3},
        .payload = {.data = large, .length = LARGE_PAYLOAD},
    };
    const uint8_t targets[SHARDS_MAX] = {0, 1};
    ck_assert_int_eq(xshard_forward(&producer->xshard, &msg, targets, NULL, 0),
                     XSHARD_FORWARD_WAITING);
    ck_assert_uint_eq(producer->xshard.stats.blocks, 1);
    const uint64_t block_total =
        sizeof(struct xshard_block) + sizeof(struct xshard_publish) + 3 + LARGE_PAYLOAD;
    sizes[put++] = NODE_HEADER_BYTES + sizeof(struct xshard_publish_ref) + block_total;
    expected += sizes[put - 1];
    ck_assert_uint_eq(producer->xshard.overflow_bytes, expected);
    uint64_t peak = expected;
    ck_assert_uint_eq(producer->xshard.stats.overflow_peak_bytes, peak);
    /* the consumer drains; each flush moves some nodes, and the bytes follow exactly */
    uint64_t moved = 0; /* records of the model that left the producer, ring or node */
    while (sizes[moved] == 0) {
        moved++; /* those the ring took first */
    }
    uint64_t consumed = 0;
    for (int round = 0; consumed < put; round++) {
        ck_assert_int_lt(round, RECORDS_MAX);
        uint64_t waiting_before = link->overflow_count;
        xshard_flush(&producer->xshard);
        uint64_t moved_now = waiting_before - link->overflow_count;
        for (uint64_t i = 0; i < moved_now; i++) {
            expected -= sizes[moved++];
        }
        ck_assert_uint_eq(producer->xshard.overflow_bytes, expected);
        ck_assert_uint_eq(producer->xshard.stats.overflow_peak_bytes, peak);
        struct spsc *ring = &link->ring;
        const struct spsc_record *record;
        while ((record = spsc_peek(ring)) != NULL) {
            consumed++;
            if (record->type == XSHARD_PUBLISH_REF) {
                /* the last record: left in the ring for fixture_free to release, with the
                 * link's count of block bytes */
                ck_assert_uint_eq(consumed, put);
                ck_assert_uint_eq(atomic_load(&link->block_bytes), block_total);
                break;
            }
            spsc_advance(ring, record);
        }
        spsc_consume_done(ring);
    }
    ck_assert_uint_eq(moved, put);
    ck_assert_uint_eq(consumed, put);
    ck_assert_ptr_null(link->overflow_head);
    ck_assert_uint_eq(producer->xshard.overflow_bytes, 0);
    fixture_free();
}
END_TEST

/* ---- the budget decision ---- */

START_TEST(test_budget_check)
{
    ck_assert_int_eq(xshard_budget_check(0, 10, 100), XSHARD_BUDGET_WITHIN);
    ck_assert_int_eq(xshard_budget_check(90, 10, 100), XSHARD_BUDGET_WITHIN); /* at max */
    ck_assert_int_eq(xshard_budget_check(91, 10, 100), XSHARD_BUDGET_PASSED);
    ck_assert_int_eq(xshard_budget_check(100, 0, 100), XSHARD_BUDGET_WITHIN);
    ck_assert_int_eq(xshard_budget_check(100, 1, 100), XSHARD_BUDGET_PASSED);
    ck_assert_int_eq(xshard_budget_check(101, 0, 100), XSHARD_BUDGET_BEYOND);
    ck_assert_int_eq(xshard_budget_check(101, 50, 100), XSHARD_BUDGET_BEYOND);
    /* a budget of 0: the first byte passes it */
    ck_assert_int_eq(xshard_budget_check(0, 0, 0), XSHARD_BUDGET_WITHIN);
    ck_assert_int_eq(xshard_budget_check(0, 1, 0), XSHARD_BUDGET_PASSED);
    ck_assert_int_eq(xshard_budget_check(1, 1, 0), XSHARD_BUDGET_BEYOND);
    /* no wrap-around near the top */
    ck_assert_int_eq(xshard_budget_check(UINT64_MAX - 1, 5, UINT64_MAX), XSHARD_BUDGET_PASSED);
    ck_assert_int_eq(xshard_budget_check(5, UINT64_MAX, 10), XSHARD_BUDGET_PASSED);
    ck_assert_int_eq(xshard_budget_check(5, UINT64_MAX - 4, UINT64_MAX), XSHARD_BUDGET_PASSED);
    ck_assert_int_eq(xshard_budget_check(5, UINT64_MAX - 5, UINT64_MAX), XSHARD_BUDGET_WITHIN);
}
END_TEST

/* ---- whom the budget pauses ---- */

/* Within the budget only the producer whose record waits is paused; the record that
 * passes it pauses every connection of the shard at once (closing ones aside), counted
 * once each; past it, any producer is paused; once the queues are empty the latch clears. */
START_TEST(test_budget_pauses_everyone)
{
    enum { RECORD = 64 };
    const uint64_t node = NODE_HEADER_BYTES + RECORD;
    fixture_init(2, RING_SIZE, (int64_t)(2 * node)); /* two nodes fit; the third passes */
    struct shard *producer = fx.shards[0];
    struct conn *conns[3];
    for (int i = 0; i < 3; i++) {
        conns[i] = conn_open(producer);
    }
    struct conn *closing = conn_open(producer);
    closing->flags |= CONN_F_CLOSING;
    uint64_t put = 0;
    while (!record_put(0, 1, put++, RECORD)) {
        ck_assert_uint_lt(put, RECORDS_MAX);
    }
    /* within: the producer's own record waits, so only it stops */
    xshard_producer_hold(&producer->xshard, conns[0], true);
    ck_assert(conns[0]->flags & CONN_F_PAUSED);
    ck_assert(!(conns[1]->flags & CONN_F_PAUSED));
    xshard_producer_hold(&producer->xshard, conns[1], false); /* its record went into a ring */
    ck_assert(!(conns[1]->flags & CONN_F_PAUSED));
    ck_assert(!xshard_budget_spent(&producer->xshard));
    ck_assert_uint_eq(producer->xshard.stats.budget_paused, 0);
    ck_assert(record_put(0, 1, put++, RECORD));
    ck_assert_uint_eq(producer->xshard.overflow_bytes, 2 * node);
    ck_assert(!xshard_budget_spent(&producer->xshard)); /* at the budget is within it */
    ck_assert(!(conns[2]->flags & CONN_F_PAUSED));
    ck_assert(record_put(0, 1, put++, RECORD)); /* passes it */
    ck_assert(xshard_budget_spent(&producer->xshard));
    ck_assert(producer->xshard.overflow_paused_all);
    for (int i = 0; i < 3; i++) {
        ck_assert(conns[i]->flags & CONN_F_PAUSED);
    }
    ck_assert_uint_eq(producer->xshard.stats.budget_paused, 2); /* conns[0] was paused */
    ck_assert(!(closing->flags & CONN_F_PAUSED));
    ck_assert(producer->paused_any);
    /* more records pause nobody twice */
    ck_assert(record_put(0, 1, put++, RECORD));
    ck_assert_uint_eq(producer->xshard.stats.budget_paused, 2);
    /* a connection accepted past the budget: held before its first read, or paused as
     * soon as it produces even when its record went into a ring */
    struct conn *late = conn_open(producer);
    ck_assert(xshard_accept_hold(&producer->xshard, late));
    ck_assert(late->flags & CONN_F_PAUSED);
    struct conn *later = conn_open(producer);
    xshard_producer_hold(&producer->xshard, later, false);
    ck_assert(later->flags & CONN_F_PAUSED);
    ck_assert_uint_eq(producer->xshard.stats.budget_paused, 4);
    /* drained: within again, and the latch is cleared with the queues */
    uint64_t next = 0;
    for (int round = 0; xshard_flush(&producer->xshard); round++) {
        ck_assert_int_lt(round, RECORDS_MAX);
        ring_take(0, 1, &next);
    }
    ring_take(0, 1, &next);
    ck_assert_uint_eq(next, put);
    ck_assert(!xshard_budget_spent(&producer->xshard));
    ck_assert(!producer->xshard.overflow_paused_all);
    struct conn *fresh = conn_open(producer);
    ck_assert(!xshard_accept_hold(&producer->xshard, fresh));
    ck_assert(!(fresh->flags & CONN_F_PAUSED));
    ck_assert_uint_eq(producer->xshard.stats.overflow_peak_bytes, 4 * node);
    fixture_free();
}
END_TEST

/* Through routing: a publish that passes the budget toward one shard pauses every
 * connection, and past it a publish whose ring has room is still delivered, and its
 * publisher paused. */
START_TEST(test_publish_past_budget)
{
    fixture_init(3, RING_SIZE, 512);
    struct shard *shard = fx.shards[0];
    ck_assert_int_eq(interest_remote_apply(&shard->interest, 1, true, "slow", 4, NULL, 0), 0);
    ck_assert_int_eq(interest_remote_apply(&shard->interest, 2, true, "fast", 4, NULL, 0), 0);
    struct conn *heavy = conn_open(shard);
    struct conn *bystander = conn_open(shard);
    struct route_publisher from_heavy = {.owner = heavy, .conn = heavy, .echo = true};
    static const char payload[64] = "x";
    struct route_msg msg = {
        .subject = {.data = "slow", .length = 4},
        .payload = {.data = payload, .length = sizeof payload},
    };
    int sent = 0;
    while (!(heavy->flags & CONN_F_PAUSED)) {
        route_publish(shard, &from_heavy, &msg); /* until its message waits */
        ck_assert_int_lt(++sent, RECORDS_MAX);
    }
    ck_assert(!(bystander->flags & CONN_F_PAUSED));
    while (!xshard_budget_spent(&shard->xshard)) {
        route_publish(shard, &from_heavy, &msg); /* the loop would have paused it: a
                                                   * receive buffer's rest goes on */
        ck_assert_int_lt(++sent, RECORDS_MAX);
    }
    ck_assert(bystander->flags & CONN_F_PAUSED);
    ck_assert_uint_eq(shard->xshard.stats.budget_paused, 1);
    struct conn *late = conn_open(shard);
    struct route_publisher from_late = {.owner = late, .conn = late, .echo = true};
    msg.subject = (struct proto_slice){.data = "fast", .length = 4};
    route_publish(shard, &from_late, &msg);
    ck_assert_ptr_null(link_of(0, 2)->overflow_head); /* its ring took it */
    ck_assert(late->flags & CONN_F_PAUSED);
    ck_assert_uint_eq(shard->xshard.stats.budget_paused, 2);
    ck_assert_uint_eq(shard->xshard.stats.sent, (uint64_t)sent + 1);
    shards_settle();
    ck_assert_uint_eq(fx.shards[1]->xshard.stats.received, (uint64_t)sent);
    ck_assert_uint_eq(fx.shards[2]->xshard.stats.received, 1);
    ck_assert(!xshard_budget_spent(&shard->xshard));
    ck_assert_uint_eq(shard->xshard.overflow_bytes, 0);
    fixture_free();
}
END_TEST

/* ---- announcements and acknowledgements without memory ---- */

/* A SUB whose announcement needs overflow nodes, with each allocation failing in turn:
 * either every other shard hears of it, or none does and the subscription is undone. The
 * ring 0 → 2 is full, so shard 2's record needs a node; shard 1's goes into its ring. */
START_TEST(test_announce_all_or_nothing)
{
    bool succeeded = false;
    for (uint64_t fail_at = 1; !succeeded; fail_at++) {
        ck_assert_uint_lt(fail_at, 64);
        fixture_init(3, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
        struct shard *shard = fx.shards[0];
        ring_fill_acks(0, 2);
        uint64_t written = ring_written(0, 1);
        struct route_sub sub;
        sub_init(&sub, "orders.new");
        alloc_fail_at(fail_at);
        alloc_fail.armed = true;
        int rc = route_sub_add(shard, &sub);
        alloc_fail.armed = false;
        succeeded = alloc_fail.failed_count == 0;
        if (rc != 0) {
            ck_assert_int_eq(rc, -ENOMEM);
            /* nothing anywhere: not in a ring, not waiting, not counted, not subscribed */
            ck_assert_uint_eq(ring_written(0, 1), written);
            ck_assert_ptr_null(link_of(0, 2)->overflow_head);
            ck_assert_uint_eq(shard->xshard.announce_sequence, 0);
            ck_assert_uint_eq(shard->xshard.overflow_bytes, 0);
            ck_assert_uint_eq(
                sublist_match(shard->sublist, "orders.new", 10)->plain_count, 0);
            /* and the next SUB to the pair is a first again, announced */
            ck_assert_int_eq(route_sub_add(shard, &sub), 0);
        }
        ck_assert_uint_eq(shard->xshard.announce_sequence, 1);
        ck_assert_uint_gt(ring_written(0, 1), written);
        ck_assert_ptr_nonnull(link_of(0, 2)->overflow_head);
        shards_settle();
        ck_assert_uint_eq(remote_interest_count(1, "orders.new"), 1);
        ck_assert_uint_eq(remote_interest_count(2, "orders.new"), 1);
        ck_assert(xshard_announcements_applied(&shard->xshard, 1));
        route_sub_remove(shard, &sub);
        shards_settle();
        ck_assert_uint_eq(remote_interest_count(1, "orders.new"), 0);
        ck_assert_uint_eq(remote_interest_count(2, "orders.new"), 0);
        fixture_free();
    }
}
END_TEST

/* A removal that cannot be announced is owed, not lost: the flush after memory returns
 * sends it, to every shard, after what was queued before; a SUB to the same pair
 * meanwhile takes the entry back without a second add, and the removal is dropped. */
START_TEST(test_removal_owed)
{
    fixture_init(3, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    struct shard *shard = fx.shards[0];
    struct route_sub first;
    sub_init(&first, "r.s");
    ck_assert_int_eq(route_sub_add(shard, &first), 0);
    shards_settle();
    ck_assert_uint_eq(remote_interest_count(1, "r.s"), 1);
    ck_assert_uint_eq(remote_interest_count(2, "r.s"), 1);

    /* the removal fails: owed */
    ring_fill_acks(0, 2);
    uint64_t written = ring_written(0, 1);
    uint64_t sequence = shard->xshard.announce_sequence;
    alloc_fail_random(1, 1); /* every allocation fails */
    alloc_fail.armed = true;
    route_sub_remove(shard, &first);
    bool waiting = xshard_flush(&shard->xshard); /* the retry fails too */
    alloc_fail.armed = false;
    ck_assert(waiting); /* still owed, so still waiting */
    ck_assert_uint_eq(alloc_fail.failed_count, 2);
    ck_assert_uint_eq(shard->interest.removal_count, 1);
    ck_assert_uint_eq(shard->xshard.stats.announce_no_memory, 2);
    ck_assert_uint_eq(ring_written(0, 1), written);
    ck_assert_uint_eq(shard->xshard.announce_sequence, sequence);
    ck_assert_uint_eq(sublist_match(shard->sublist, "r.s", 3)->plain_count, 0);
    /* memory is back: the flush announces it, and the others drop the interest */
    ck_assert(xshard_flush(&shard->xshard)); /* shard 2's record waits behind the full ring */
    ck_assert_uint_eq(shard->interest.removal_count, 0);
    ck_assert_uint_gt(ring_written(0, 1), written);
    shards_settle();
    ck_assert_uint_eq(remote_interest_count(1, "r.s"), 0);
    ck_assert_uint_eq(remote_interest_count(2, "r.s"), 0);
    ck_assert(xshard_announcements_applied(&shard->xshard, shard->xshard.announce_sequence));

    /* owed again, then subscribed again before the retry: no add, no removal */
    struct route_sub second;
    sub_init(&second, "r.s");
    ck_assert_int_eq(route_sub_add(shard, &second), 0);
    shards_settle();
    ring_fill_acks(0, 2);
    alloc_fail_at(1);
    alloc_fail.armed = true;
    route_sub_remove(shard, &second);
    alloc_fail.armed = false;
    ck_assert_uint_eq(shard->interest.removal_count, 1);
    written = ring_written(0, 1);
    sequence = shard->xshard.announce_sequence;
    struct route_sub third;
    sub_init(&third, "r.s");
    ck_assert_int_eq(route_sub_add(shard, &third), 0);
    ck_assert_uint_eq(shard->xshard.announce_sequence, sequence);
    xshard_flush(&shard->xshard);
    ck_assert_uint_eq(shard->interest.removal_count, 0);
    ck_assert_uint_eq(ring_written(0, 1), written);
    ck_assert_uint_eq(shard->xshard.announce_sequence, sequence);
    shards_settle();
    ck_assert_uint_eq(remote_interest_count(1, "r.s"), 1);
    ck_assert_uint_eq(remote_interest_count(2, "r.s"), 1);
    /* and its own removal goes out as usual */
    route_sub_remove(shard, &third);
    shards_settle();
    ck_assert_uint_eq(remote_interest_count(1, "r.s"), 0);
    ck_assert_uint_eq(remote_interest_count(2, "r.s"), 0);
    fixture_free();
}
END_TEST

/* An acknowledgement that cannot be queued is sent on a later drain: the announcing shard
 * ends up knowing its SUB was applied (so held PONGs go out). */
START_TEST(test_ack_deferred)
{
    fixture_init(2, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    struct shard *announcer = fx.shards[0];
    struct shard *applier = fx.shards[1];
    struct route_sub sub;
    sub_init(&sub, "q");
    ck_assert_int_eq(route_sub_add(announcer, &sub), 0);
    ck_assert(!xshard_flush(&announcer->xshard));
    /* the replica already holds it (announced twice is one entry), so applying it
     * allocates nothing, and the first allocation of the drain is the acknowledgement's */
    ck_assert_int_eq(interest_remote_apply(&applier->interest, 0, true, "q", 1, NULL, 0), 0);
    ring_fill_acks(1, 0);
    alloc_fail_at(1);
    alloc_fail.armed = true;
    xshard_drain(&applier->xshard); /* applies the SUB; its acknowledgement finds no memory */
    alloc_fail.armed = false;
    ck_assert_uint_eq(alloc_fail.failed_count, 1);
    ck_assert_uint_eq(applier->xshard.applied_from[0], 1);
    ck_assert_uint_eq(applier->xshard.applied_acked[0], 0);
    ck_assert_uint_eq(applier->xshard.stats.announce_no_memory, 1);
    ck_assert(xshard_flush(&applier->xshard)); /* owed: the loop keeps polling */
    ck_assert(!xshard_announcements_applied(&announcer->xshard, 1));
    shards_settle();
    ck_assert_uint_eq(applier->xshard.applied_acked[0], 1);
    ck_assert(xshard_announcements_applied(&announcer->xshard, 1));
    ck_assert(!xshard_flush(&applier->xshard));
    route_sub_remove(announcer, &sub);
    fixture_free();
}
END_TEST

static Suite *xshard_suite(void)
{
    Suite *suite = suite_create("xshard");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_overflow_keeps_order);
    tcase_add_test(tc, test_budget_accounting);
    tcase_add_test(tc, test_budget_check);
    tcase_add_test(tc, test_budget_pauses_everyone);
    tcase_add_test(tc, test_publish_past_budget);
    tcase_add_test(tc, test_announce_all_or_nothing);
    tcase_add_test(tc, test_removal_owed);
    tcase_add_test(tc, test_ack_deferred);
    tcase_add_test(tc, test_block_shared_freed_once);
    tcase_add_test(tc, test_block_no_memory);
    tcase_add_test(tc, test_block_cap_overflows);
    tcase_add_test(tc, test_block_groups_continue);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(xshard_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
