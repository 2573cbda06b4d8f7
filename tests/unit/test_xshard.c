/* Unit tests for the cross-shard transport's producer side (engine/xshard.c): overflow
 * queues that keep order across a full ring, the byte budget on them and whom it pauses,
 * and announcements and acknowledgements when memory runs out. Large publishes in shared
 * blocks are in test_xshard_blocks.c; test_xshard_threads.c runs the transport across
 * threads.
 *
 * Shards are built by hand (shard_fixture.h: links with small rings, the interest tables, a
 * connection table; no loop, no thread): a test plays every shard in turn, producing with
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
#include "engine/shard_module.h"
#include "engine/xshard.h"
#include "tests/unit/alloc_fail.h"
#include "tests/unit/shard_fixture.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Small rings fill after a few records; overflow nodes do the rest. */
enum {
    SHARDS_MAX = SHARD_FIXTURE_SHARDS_MAX,
    RING_SIZE = 1024,
    /* a record type no shard handles: tests that use it read the ring themselves */
    TEST_RECORD = 0x7e57,
    /* bounds every producer and consumer loop below */
    RECORDS_MAX = 4096,
};

/* What a struct shard's embedded overflow node costs besides its body. */
static const uint64_t NODE_HEADER_BYTES = sizeof(struct xshard_overflow);

static struct shard_fixture fx; /* static storage: the links' 128-byte alignment holds */

static const struct conn_kind test_kind = {.name = "test", .size = sizeof(struct conn)};

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
    struct spsc *ring = &shard_fixture_link(&fx, from, to)->ring;
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

/* The uncommitted end of a ring: unchanged when nothing was written to it. */
static uint64_t ring_written(int from, int to)
{
    return shard_fixture_link(&fx, from, to)->ring.producer_tail;
}

/* How many shards' interest on `on` the replica of `shard` holds. */
static uint32_t remote_interest_count(int shard, const char *subject)
{
    const struct sublist_result *result =
        interest_remote_match(&fx.shards[shard]->interest, subject, strlen(subject));
    return result->plain_count;
}

/* Settles the three shards, then checks that shards 1 and 2 each hold interest of `count`
 * shards in `subject`. */
static void interest_settled_assert(const char *subject, uint32_t count)
{
    shard_fixture_settle(&fx);
    ck_assert_uint_eq(remote_interest_count(1, subject), count);
    ck_assert_uint_eq(remote_interest_count(2, subject), count);
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

/* ---- overflow order ---- */

/* Records reserved while the ring is full come out after the consumer drains, in the
 * order they were reserved, lengths mixed so that records also wrap the ring's end. */
START_TEST(test_overflow_keeps_order)
{
    shard_fixture_init(&fx, 2, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    struct shard *producer = fx.shards[0];
    struct xshard_link *link = shard_fixture_link(&fx, 0, 1);
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
    shard_fixture_free(&fx);
}
END_TEST

/* ---- budget accounting ---- */

/* Bytes go up by exactly each overflow node's size (its block too, for a large publish),
 * not at all for records the ring takes, and down by the size of each node moved into the
 * ring; the peak stays. */
START_TEST(test_budget_accounting)
{
    shard_fixture_init(&fx, 2, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    struct shard *producer = fx.shards[0];
    struct xshard_link *link = shard_fixture_link(&fx, 0, 1);
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
    shard_fixture_free(&fx);
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
    /* two nodes fit; the third passes */
    shard_fixture_init(&fx, 2, RING_SIZE, (int64_t)(2 * node));
    struct shard *producer = fx.shards[0];
    struct conn *conns[3];
    for (int i = 0; i < 3; i++) {
        conns[i] = shard_fixture_conn_open(producer, &test_kind);
    }
    struct conn *closing = shard_fixture_conn_open(producer, &test_kind);
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
    struct conn *late = shard_fixture_conn_open(producer, &test_kind);
    ck_assert(xshard_accept_hold(&producer->xshard, late));
    ck_assert(late->flags & CONN_F_PAUSED);
    struct conn *later = shard_fixture_conn_open(producer, &test_kind);
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
    struct conn *fresh = shard_fixture_conn_open(producer, &test_kind);
    ck_assert(!xshard_accept_hold(&producer->xshard, fresh));
    ck_assert(!(fresh->flags & CONN_F_PAUSED));
    ck_assert_uint_eq(producer->xshard.stats.overflow_peak_bytes, 4 * node);
    shard_fixture_free(&fx);
}
END_TEST

/* Through routing: a publish that passes the budget toward one shard pauses every
 * connection, and past it a publish whose ring has room is still delivered, and its
 * publisher paused. */
START_TEST(test_publish_past_budget)
{
    shard_fixture_init(&fx, 3, RING_SIZE, 512);
    struct shard *shard = fx.shards[0];
    ck_assert_int_eq(interest_remote_apply(&shard->interest, 1, true, "slow", 4, NULL, 0, false), 0);
    ck_assert_int_eq(interest_remote_apply(&shard->interest, 2, true, "fast", 4, NULL, 0, false), 0);
    struct conn *heavy = shard_fixture_conn_open(shard, &test_kind);
    struct conn *bystander = shard_fixture_conn_open(shard, &test_kind);
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
    struct conn *late = shard_fixture_conn_open(shard, &test_kind);
    struct route_publisher from_late = {.owner = late, .conn = late, .echo = true};
    msg.subject = (struct proto_slice){.data = "fast", .length = 4};
    route_publish(shard, &from_late, &msg);
    ck_assert_ptr_null(shard_fixture_link(&fx, 0, 2)->overflow_head); /* its ring took it */
    ck_assert(late->flags & CONN_F_PAUSED);
    ck_assert_uint_eq(shard->xshard.stats.budget_paused, 2);
    ck_assert_uint_eq(shard->xshard.stats.sent, (uint64_t)sent + 1);
    shard_fixture_settle(&fx);
    ck_assert_uint_eq(fx.shards[1]->xshard.stats.received, (uint64_t)sent);
    ck_assert_uint_eq(fx.shards[2]->xshard.stats.received, 1);
    ck_assert(!xshard_budget_spent(&shard->xshard));
    ck_assert_uint_eq(shard->xshard.overflow_bytes, 0);
    shard_fixture_free(&fx);
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
        shard_fixture_init(&fx, 3, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
        struct shard *shard = fx.shards[0];
        shard_fixture_ring_fill_acks(&fx, 0, 2);
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
            ck_assert_ptr_null(shard_fixture_link(&fx, 0, 2)->overflow_head);
            ck_assert_uint_eq(shard->xshard.announce_sequence, 0);
            ck_assert_uint_eq(shard->xshard.overflow_bytes, 0);
            ck_assert_uint_eq(
                sublist_match(shard->sublist, "orders.new", 10)->plain_count, 0);
            /* and the next SUB to the pair is a first again, announced */
            ck_assert_int_eq(route_sub_add(shard, &sub), 0);
        }
        ck_assert_uint_eq(shard->xshard.announce_sequence, 1);
        ck_assert_uint_gt(ring_written(0, 1), written);
        ck_assert_ptr_nonnull(shard_fixture_link(&fx, 0, 2)->overflow_head);
        interest_settled_assert("orders.new", 1);
        ck_assert(xshard_announcements_applied(&shard->xshard, 1));
        route_sub_remove(shard, &sub);
        interest_settled_assert("orders.new", 0);
        shard_fixture_free(&fx);
    }
}
END_TEST

/* A removal that cannot be announced is owed, not lost: the flush after memory returns
 * sends it, to every shard, after what was queued before; a SUB to the same pair
 * meanwhile takes the entry back without a second add, and the removal is dropped. */
START_TEST(test_removal_owed)
{
    shard_fixture_init(&fx, 3, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    struct shard *shard = fx.shards[0];
    struct route_sub first;
    sub_init(&first, "r.s");
    ck_assert_int_eq(route_sub_add(shard, &first), 0);
    interest_settled_assert("r.s", 1);

    /* the removal fails: owed */
    shard_fixture_ring_fill_acks(&fx, 0, 2);
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
    interest_settled_assert("r.s", 0);
    ck_assert(xshard_announcements_applied(&shard->xshard, shard->xshard.announce_sequence));

    /* owed again, then subscribed again before the retry: no add, no removal */
    struct route_sub second;
    sub_init(&second, "r.s");
    ck_assert_int_eq(route_sub_add(shard, &second), 0);
    shard_fixture_settle(&fx);
    shard_fixture_ring_fill_acks(&fx, 0, 2);
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
    interest_settled_assert("r.s", 1);
    /* and its own removal goes out as usual */
    route_sub_remove(shard, &third);
    interest_settled_assert("r.s", 0);
    shard_fixture_free(&fx);
}
END_TEST

/* An acknowledgement that cannot be queued is sent on a later drain: the announcing shard
 * ends up knowing its SUB was applied (so held PONGs go out). */
START_TEST(test_ack_deferred)
{
    shard_fixture_init(&fx, 2, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    struct shard *announcer = fx.shards[0];
    struct shard *applier = fx.shards[1];
    struct route_sub sub;
    sub_init(&sub, "q");
    ck_assert_int_eq(route_sub_add(announcer, &sub), 0);
    ck_assert(!xshard_flush(&announcer->xshard));
    /* the replica already holds it (announced twice is one entry), so applying it
     * allocates nothing, and the first allocation of the drain is the acknowledgement's */
    ck_assert_int_eq(interest_remote_apply(&applier->interest, 0, true, "q", 1, NULL, 0, false), 0);
    shard_fixture_ring_fill_acks(&fx, 1, 0);
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
    shard_fixture_settle(&fx);
    ck_assert_uint_eq(applier->xshard.applied_acked[0], 1);
    ck_assert(xshard_announcements_applied(&announcer->xshard, 1));
    ck_assert(!xshard_flush(&applier->xshard));
    route_sub_remove(announcer, &sub);
    shard_fixture_free(&fx);
}
END_TEST

/* ---- module messages ---- */

static uint64_t module_seen[8];
static int module_seen_count;
static int module_origin;

static void module_message(struct shard *shard, void *state, int origin, void *message)
{
    ck_assert_int_lt(module_seen_count, 8);
    memcpy(&module_seen[module_seen_count++], message, sizeof(uint64_t));
    module_origin = origin;
    free(message);
}

static const struct shard_module test_module = {.name = "test", .message = module_message};

/* Module messages reach the module on the target shard in order, from behind a full ring
 * too; one whose overflow node cannot be allocated is refused and stays the caller's. */
START_TEST(test_module_messages)
{
    shard_fixture_init(&fx, 2, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    fx.server.modules[0] = &test_module;
    fx.server.module_count = 1;
    fx.shards[1]->modules_started = 1;
    module_seen_count = 0;
    uint64_t *first = malloc(sizeof *first);
    ck_assert_ptr_nonnull(first);
    *first = 1;
    ck_assert_int_eq(shard_module_send(fx.shards[0], &test_module, 1, first), 0);
    shard_fixture_ring_fill_acks(&fx, 0, 1);
    for (uint64_t n = 2; n <= 3; n++) {
        uint64_t *message = malloc(sizeof *message);
        ck_assert_ptr_nonnull(message);
        *message = n;
        ck_assert_int_eq(shard_module_send(fx.shards[0], &test_module, 1, message), 0);
    }
    ck_assert(fx.shards[0]->xshard.overflowing);
    uint64_t *refused = malloc(sizeof *refused);
    ck_assert_ptr_nonnull(refused);
    alloc_fail_at(1);
    alloc_fail.armed = true;
    int rc = shard_module_send(fx.shards[0], &test_module, 1, refused);
    alloc_fail.armed = false;
    ck_assert_int_eq(rc, -ENOMEM);
    free(refused);
    shard_fixture_settle(&fx);
    ck_assert_int_eq(module_seen_count, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(module_seen[i], (uint64_t)i + 1);
    }
    ck_assert_int_eq(module_origin, 0);
    fx.shards[1]->modules_started = 0;
    shard_fixture_free(&fx);
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
    tcase_add_test(tc, test_module_messages);
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
