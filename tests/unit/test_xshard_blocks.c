/* Unit tests for large cross-shard publishes (engine/xshard.c): one block shared by every
 * target shard, freed once (also when memory runs out), bounded per link by the block cap,
 * and queue groups continued over several records. test_xshard.c covers overflow order,
 * the overflow budget and announcements; test_xshard_threads.c runs the transport across
 * threads.
 *
 * Shards are built by hand (shard_fixture.h): a test plays every shard in turn, publishing
 * with route_publish or xshard_forward and settling with shard_fixture_settle, or reading
 * the ring itself when it checks the records. Allocations fail on demand through
 * alloc_fail.h. */
#include "base/spsc.h"
#include "engine/config.h"
#include "engine/route.h"
#include "engine/shard.h"
#include "engine/xshard.h"
#include "tests/unit/alloc_fail.h"
#include "tests/unit/shard_fixture.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    SHARDS_MAX = SHARD_FIXTURE_SHARDS_MAX,
    RING_SIZE = 1024, /* small: a few records fill it */
};

/* What a struct shard's embedded overflow node costs besides its body. */
static const uint64_t NODE_HEADER_BYTES = sizeof(struct xshard_overflow);

static struct shard_fixture fx; /* static storage: the links' 128-byte alignment holds */

static const struct conn_kind test_kind = {.name = "test", .size = sizeof(struct conn)};

static void sub_expire(struct shard *shard, struct route_sub *sub)
{
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
    sub->route.sub.subject = subject;
    sub->route.sub.subject_length = (uint32_t)strlen(subject);
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
    struct spsc *ring = &shard_fixture_link(&fx, from, to)->ring;
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

/* Four shards, a checking subscriber of "big" on each of shards 1 to 3, and one large
 * publish from shard 0 delivered already: once, so that every index caches its match and
 * the next rounds allocate nothing. */
static void big_fixture_init(struct checking_sub subs[SHARDS_MAX])
{
    shard_fixture_init(&fx, 4, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    for (int s = 1; s < 4; s++) {
        checking_sub_add(s, &subs[s], "big", NULL);
    }
    shard_fixture_settle(&fx);
    struct route_msg msg = large_msg("big", 0, LARGE);
    route_publish(fx.shards[0], &server_publisher, &msg);
    shard_fixture_settle(&fx);
}

/* ---- large publishes: one shared block ---- */

/* A large publish to three shards is written once, into one block that the three records
 * name; each target's drop takes one reference, the last one frees it (the allocation
 * count shows exactly one block, gone after the third drain, and ASan would see a second
 * free), and every subscriber gets the payload whole. */
START_TEST(test_block_shared_freed_once)
{
    struct checking_sub subs[SHARDS_MAX];
    big_fixture_init(subs);
    struct shard *producer = fx.shards[0];
    const uint64_t total = block_total("big", LARGE);
    struct route_msg msg = large_msg("big", 1, LARGE);
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
        ck_assert_uint_eq(atomic_load(&shard_fixture_link(&fx, 0, s)->block_bytes), total);
        ck_assert_uint_eq(atomic_load(&block->references), (uint32_t)(4 - s));
        xshard_drain(&fx.shards[s]->xshard);
        ck_assert_uint_eq(atomic_load(&shard_fixture_link(&fx, 0, s)->block_bytes), 0);
        ck_assert_uint_eq(subs[s].received, 2);
        ck_assert_uint_eq(subs[s].broken, 0);
        ck_assert_int_eq(alloc_fail.live_count, s < 3 ? live + 1 : live); /* freed last */
    }
    for (int s = 1; s < 4; s++) {
        ck_assert_uint_eq(fx.shards[s]->xshard.stats.received, 2);
        route_sub_remove(fx.shards[s], &subs[s].route);
    }
    ck_assert_uint_eq(producer->xshard.stats.sent, 6);
    shard_fixture_settle(&fx);
    shard_fixture_free(&fx);
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
        struct checking_sub subs[SHARDS_MAX];
        big_fixture_init(subs);
        struct shard *producer = fx.shards[0];
        shard_fixture_ring_fill_acks(&fx, 0, 3); /* target 3's record will need an overflow node */
        struct route_msg msg = large_msg("big", 1, LARGE);
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
        shard_fixture_settle(&fx);
        for (int s = 1; s < 4; s++) {
            ck_assert_uint_eq(subs[s].received, 1 + (s <= (int)reached));
            ck_assert_uint_eq(subs[s].broken, 0);
            ck_assert_uint_eq(atomic_load(&shard_fixture_link(&fx, 0, s)->block_bytes), 0);
        }
        ck_assert_uint_eq(producer->xshard.overflow_bytes, 0);
        ck_assert_int_eq(alloc_fail.live_count, live); /* block and node gone, once each */
        for (int s = 1; s < 4; s++) {
            route_sub_remove(fx.shards[s], &subs[s].route);
        }
        shard_fixture_settle(&fx);
        shard_fixture_free(&fx);
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
    shard_fixture_init(&fx, 2, RING, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    struct shard *producer = fx.shards[0];
    struct xshard_link *link = shard_fixture_link(&fx, 0, 1);
    struct checking_sub sub;
    checking_sub_add(1, &sub, "big", NULL);
    shard_fixture_settle(&fx);
    const uint64_t total = block_total("big", PAYLOAD);
    const uint64_t fitting = RING / total;
    ck_assert_uint_eq(fitting, 3);
    struct conn *publisher = shard_fixture_conn_open(producer, &test_kind);
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
    shard_fixture_settle(&fx);
    shard_fixture_free(&fx);

    /* a block larger than the cap goes when no other is outstanding, and only then */
    shard_fixture_init(&fx, 2, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    checking_sub_add(1, &sub, "big", NULL);
    shard_fixture_settle(&fx);
    const uint8_t targets[SHARDS_MAX] = {0, 1};
    struct route_msg msg = large_msg("big", 0, LARGE);
    ck_assert_int_eq(xshard_forward(&fx.shards[0]->xshard, &msg, targets, NULL, 0),
                     XSHARD_FORWARD_FLOWING);
    msg = large_msg("big", 1, LARGE);
    ck_assert_int_eq(xshard_forward(&fx.shards[0]->xshard, &msg, targets, NULL, 0),
                     XSHARD_FORWARD_WAITING);
    ck_assert_uint_eq(fx.shards[0]->xshard.stats.block_capped, 1);
    shard_fixture_settle(&fx);
    ck_assert_uint_eq(sub.received, 2);
    ck_assert_uint_eq(sub.broken, 0);
    route_sub_remove(fx.shards[1], &sub.route);
    shard_fixture_settle(&fx);
    shard_fixture_free(&fx);
}
END_TEST

/* Queue groups too many for one reference record: a small message whose groups for one
 * target take more than XSHARD_INLINE_BYTES_MAX goes in a block, and its groups over two
 * records; the plain subscriber gets it once, each group once. */
START_TEST(test_block_groups_continue)
{
    enum { RING = 64 * 1024, NAME = 7000, GROUPS = 3 };
    shard_fixture_init(&fx, 2, RING, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    static char names[GROUPS][NAME + 1];
    struct checking_sub members[GROUPS];
    struct checking_sub plain;
    for (int g = 0; g < GROUPS; g++) {
        memset(names[g], 'a' + g, NAME);
        checking_sub_add(1, &members[g], "work", names[g]);
    }
    checking_sub_add(1, &plain, "work", NULL);
    shard_fixture_settle(&fx);
    char payload[16];
    payload_fill(payload, sizeof payload, 0);
    struct route_msg msg = {
        .subject = {.data = "work", .length = 4},
        .payload = {.data = payload, .length = sizeof payload},
    };
    route_publish(fx.shards[0], &server_publisher, &msg);
    ck_assert_uint_eq(fx.shards[0]->xshard.stats.blocks, 1);
    ck_assert(!xshard_flush(&fx.shards[0]->xshard));
    struct spsc *ring = &shard_fixture_link(&fx, 0, 1)->ring;
    const struct spsc_record *record = spsc_peek(ring);
    struct xshard_publish_ref first;
    ck_assert_uint_eq(record->type, XSHARD_PUBLISH_REF);
    memcpy(&first, spsc_record_body(record), sizeof first);
    ck_assert_uint_eq(first.group_count, 2); /* 16 + 2 × 7004 fit 16 KiB; a third does not */
    ck_assert_uint_eq(first.flags, 0);
    ck_assert_uint_eq(atomic_load(&first.block->references), 2);
    shard_fixture_settle(&fx);
    ck_assert_uint_eq(plain.received, 1);
    for (int g = 0; g < GROUPS; g++) {
        ck_assert_uint_eq(members[g].received, 1);
        ck_assert_uint_eq(members[g].broken, 0);
        route_sub_remove(fx.shards[1], &members[g].route);
    }
    ck_assert_uint_eq(plain.broken, 0);
    ck_assert_uint_eq(fx.shards[1]->xshard.stats.received, 1);
    route_sub_remove(fx.shards[1], &plain.route);
    shard_fixture_settle(&fx);
    shard_fixture_free(&fx);
}
END_TEST

static Suite *xshard_blocks_suite(void)
{
    Suite *suite = suite_create("xshard_blocks");
    TCase *tc = tcase_create("blocks");
    tcase_add_test(tc, test_block_shared_freed_once);
    tcase_add_test(tc, test_block_no_memory);
    tcase_add_test(tc, test_block_cap_overflows);
    tcase_add_test(tc, test_block_groups_continue);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(xshard_blocks_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
