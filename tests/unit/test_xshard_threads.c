/* A threaded stress test of the cross-shard transport (engine/xshard.c): one producer thread
 * forwards numbered publishes to two consumer threads, small ones copied into the rings and
 * large ones by reference to a block both consumers share, some larger than a link's block
 * cap; each consumer checks that every message arrives whole and in order. Run under TSan
 * (suite xshard), it checks the memory orders of the rings, of each block's reference count
 * (freed by whichever consumer drops it last) and of the links' block byte counts.
 *
 * No shard: each thread owns a bare struct xshard with handlers of the test's own, which is
 * all the transport needs of the shard that normally embeds it. */
#include "base/spsc.h"
#include "engine/interest.h"
#include "engine/xshard.h"

#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    SHARDS = 3, /* 0 produces, 1 and 2 consume */
    RING_SIZE = 64 * 1024,
    MESSAGES = 3000,
    /* payload sizes cycle through these: copied, by reference, above a link's block cap */
    SMALL = 100,
    LARGE = 20 * 1024,
    HUGE = RING_SIZE + 4096,
    /* bounds every wait on the other threads: a wait this many spins without progress
     * fails the test instead of hanging it */
    SPINS_MAX = 100 * 1000 * 1000,
};

static uint32_t payload_length(uint64_t number)
{
    switch (number % 5) {
    case 0:
    case 1:
        return SMALL;
    case 4:
        return number % 25 == 4 ? HUGE : LARGE;
    default:
        return LARGE;
    }
}

static char payload_byte(uint64_t number, uint32_t offset)
{
    return (char)(number * 131 + offset * 7);
}

struct consumer {
    uint64_t next;   /* the number expected next */
    uint64_t broken; /* not whole, or out of order */
};

static struct shard_shared shared[SHARDS]; /* nobody sleeps: no wake-up is sent */
static struct xshard_link links[SHARDS * SHARDS];
static struct interest interests[SHARDS];
static struct xshard xshards[SHARDS];
static struct consumer consumers[SHARDS];

static void forwarded(void *ctx, const struct xshard_forwarded *f)
{
    struct consumer *consumer = ctx;
    uint64_t number = UINT64_MAX;
    if (f->msg.payload.length >= sizeof number) {
        memcpy(&number, f->msg.payload.data, sizeof number);
    }
    bool whole = f->plain && f->group_count == 0 && number == consumer->next &&
                 f->msg.payload.length == payload_length(number);
    for (uint32_t i = sizeof number; whole && i < f->msg.payload.length; i++) {
        whole = f->msg.payload.data[i] == payload_byte(number, i);
    }
    consumer->broken += !whole;
    consumer->next++;
}

static void acked(void *ctx)
{
}

static void wake(void *ctx, int wake_fd)
{
    ck_abort_msg("no shard sleeps here");
}

static bool pause_one(void *ctx, struct conn *conn)
{
    return false;
}

static uint64_t pause_all(void *ctx)
{
    return 0;
}

static bool drain_held(void *ctx)
{
    return false;
}

static const struct xshard_handlers handlers = {
    .forwarded = forwarded,
    .acked = acked,
    .wake = wake,
    .pause = pause_one,
    .pause_all = pause_all,
    .drain_held = drain_held,
};

static void *produce(void *arg)
{
    struct xshard *x = &xshards[0];
    static char payload[HUGE];
    const uint8_t targets[SHARDS] = {0, 1, 1};
    for (uint64_t number = 0; number < MESSAGES; number++) {
        uint32_t length = payload_length(number);
        memcpy(payload, &number, sizeof number);
        for (uint32_t i = sizeof number; i < length; i++) {
            payload[i] = payload_byte(number, i);
        }
        const struct route_msg msg = {
            .subject = {.data = "stress", .length = 6},
            .payload = {.data = payload, .length = length},
        };
        enum xshard_forward result = xshard_forward(x, &msg, targets, NULL, 0);
        ck_assert_int_ne(result, XSHARD_FORWARD_NO_MEMORY);
        /* what pausing the publisher does in the broker: nothing more until it drains */
        long spins = 0;
        while (xshard_flush(x)) {
            ck_assert_int_lt(++spins, SPINS_MAX);
            sched_yield();
        }
    }
    return NULL;
}

static void *consume(void *arg)
{
    int index = (int)(intptr_t)arg;
    long spins = 0;
    while (consumers[index].next < MESSAGES) {
        if (!xshard_drain(&xshards[index]) && !xshard_inbound_pending(&xshards[index])) {
            ck_assert_int_lt(++spins, SPINS_MAX);
            sched_yield();
        }
    }
    return NULL;
}

START_TEST(test_blocks_across_threads)
{
    for (int i = 0; i < SHARDS * SHARDS; i++) {
        if (i / SHARDS != i % SHARDS) {
            void *bytes = aligned_alloc(SPSC_CACHE_LINE_PAIR, RING_SIZE);
            ck_assert_ptr_nonnull(bytes);
            spsc_init(&links[i].ring, bytes, RING_SIZE);
        }
    }
    for (int s = 0; s < SHARDS; s++) {
        ck_assert_int_eq(interest_init(&interests[s], 0x5eed + (uint64_t)s), 0);
        const struct xshard_setup setup = {
            .index = s,
            .shard_count = SHARDS,
            .shared = shared,
            .links = links,
            .interest = &interests[s],
            .overflow_max_bytes = 1 << 20,
            .handlers = &handlers,
            .ctx = &consumers[s],
        };
        ck_assert_int_eq(xshard_init(&xshards[s], &setup), 0);
    }
    pthread_t threads[SHARDS];
    ck_assert_int_eq(pthread_create(&threads[0], NULL, produce, NULL), 0);
    for (int s = 1; s < SHARDS; s++) {
        ck_assert_int_eq(pthread_create(&threads[s], NULL, consume, (void *)(intptr_t)s), 0);
    }
    for (int s = 0; s < SHARDS; s++) {
        ck_assert_int_eq(pthread_join(threads[s], NULL), 0);
    }
    for (int s = 1; s < SHARDS; s++) {
        ck_assert_uint_eq(consumers[s].next, MESSAGES);
        ck_assert_uint_eq(consumers[s].broken, 0);
        ck_assert_uint_eq(xshards[s].stats.received, MESSAGES);
        ck_assert_uint_eq(atomic_load(&links[0 * SHARDS + s].block_bytes), 0);
    }
    ck_assert_uint_eq(xshards[0].stats.sent, 2 * MESSAGES);
    ck_assert_uint_eq(xshards[0].stats.blocks, MESSAGES - 2 * (MESSAGES / 5));
    ck_assert_uint_gt(xshards[0].stats.block_capped, 0);
    for (int s = 0; s < SHARDS; s++) {
        xshard_destroy(&xshards[s]);
        interest_destroy(&interests[s]);
    }
    for (int i = 0; i < SHARDS * SHARDS; i++) {
        xshard_link_release(&links[i]);
        free(links[i].ring.bytes);
    }
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("xshard_threads");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_blocks_across_threads);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
