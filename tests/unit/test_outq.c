/* Unit tests for engine/outq.{h,c}, the chunked output queue and its pool: frames spanning
 * chunks come out byte for byte through the iovecs; the iovec count and byte bounds; a
 * partial consume inside a chunk and across chunks; the bytes a send holds never move while
 * more is appended behind them; an emptied queue holds no chunk; the pool reuses chunks and
 * keeps at most free_max of them; put_u64 at the digit-count boundaries; and a reservation
 * whose allocation fails (alloc_fail.h) leaves a queue that still works and gives back every
 * chunk it took. */
#include "engine/outq.h"
#include "tests/harness/ck_quiet.h"
#include "tests/unit/alloc_fail.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IOV_MAX_TEST = 64 };

static char pattern_byte(size_t at)
{
    return (char)('a' + (at * 7 + at / 251) % 26);
}

/* Appends `length` pattern bytes, the pattern's from `offset` on, in pieces of `piece`. */
static void pattern_put(struct outq *queue, struct outq_pool *pool, size_t offset,
                        size_t length, size_t piece)
{
    ck_assert_int_eq(outq_reserve(queue, pool, length), 0);
    char buffer[4096];
    ck_assert_uint_le(piece, sizeof buffer);
    while (length > 0) {
        size_t take = length < piece ? length : piece;
        for (size_t i = 0; i < take; i++) {
            buffer[i] = pattern_byte(offset + i);
        }
        outq_put(queue, buffer, take);
        offset += take;
        length -= take;
    }
}

/* Every unsent byte, through the iovecs, matches the pattern from `offset`. */
static void pattern_check(const struct outq *queue, size_t offset)
{
    struct iovec iov[IOV_MAX_TEST];
    size_t bytes;
    int count = outq_iov(queue, iov, IOV_MAX_TEST, SIZE_MAX, &bytes);
    ck_assert_uint_eq(bytes, queue->length);
    size_t at = offset;
    for (int i = 0; i < count; i++) {
        const char *data = iov[i].iov_base;
        for (size_t j = 0; j < iov[i].iov_len; j++) {
            quiet_assert_msg(data[j] == pattern_byte(at), "byte %zu", at); /* ck_quiet.h */
            at++;
        }
    }
    ck_assert_uint_eq(at - offset, queue->length);
}

START_TEST(test_put_spans_chunks)
{
    struct outq_pool pool;
    outq_pool_init(&pool, OUTQ_POOL_KEEP_DEFAULT);
    struct outq queue = {0};
    size_t total = 3 * (size_t)OUTQ_CHUNK_DATA + 123;
    pattern_put(&queue, &pool, 0, total, 1000);
    ck_assert_uint_eq(queue.length, total);
    ck_assert_uint_eq(pool.chunks_used, 4);
    pattern_check(&queue, 0);
    /* iovecs: one per chunk, bounded by count and by bytes */
    struct iovec iov[IOV_MAX_TEST];
    size_t bytes;
    ck_assert_int_eq(outq_iov(&queue, iov, IOV_MAX_TEST, SIZE_MAX, &bytes), 4);
    ck_assert_uint_eq(iov[0].iov_len, OUTQ_CHUNK_DATA);
    ck_assert_uint_eq(iov[3].iov_len, 123);
    ck_assert_int_eq(outq_iov(&queue, iov, 2, SIZE_MAX, &bytes), 2);
    ck_assert_uint_eq(bytes, 2 * (size_t)OUTQ_CHUNK_DATA);
    ck_assert_int_eq(outq_iov(&queue, iov, IOV_MAX_TEST, OUTQ_CHUNK_DATA + 5, &bytes), 2);
    ck_assert_uint_eq(bytes, OUTQ_CHUNK_DATA + 5);
    ck_assert_uint_eq(iov[1].iov_len, 5);
    outq_free(&queue, &pool);
    ck_assert_uint_eq(pool.chunks_used, 0);
    ck_assert_uint_eq(queue.length, 0);
    ck_assert_ptr_null(queue.head);
    outq_pool_destroy(&pool);
}
END_TEST

/* A send takes the front; the rest is appended meanwhile; the bytes the send holds stay at
 * the addresses it was given, and consuming frees exactly the chunks finished. */
START_TEST(test_consume_behind_send)
{
    struct outq_pool pool;
    outq_pool_init(&pool, OUTQ_POOL_KEEP_DEFAULT);
    struct outq queue = {0};
    size_t first = (size_t)OUTQ_CHUNK_DATA + 100;
    pattern_put(&queue, &pool, 0, first, 333);
    struct iovec iov[IOV_MAX_TEST];
    size_t bytes;
    int count = outq_iov(&queue, iov, IOV_MAX_TEST, SIZE_MAX, &bytes);
    ck_assert_int_eq(count, 2);
    char *held0 = iov[0].iov_base;
    char *held1 = iov[1].iov_base;
    /* appended while "in flight" */
    size_t more = 2 * (size_t)OUTQ_CHUNK_DATA;
    pattern_put(&queue, &pool, first, more, 4096);
    ck_assert_ptr_eq(iov[0].iov_base, held0);
    ck_assert(held0[0] == pattern_byte(0) && held1[99] == pattern_byte(first - 1));
    /* a short send: part of the first chunk */
    outq_consume(&queue, &pool, 10);
    ck_assert_uint_eq(queue.length, first + more - 10);
    ck_assert_uint_eq(pool.chunks_used, 4);
    pattern_check(&queue, 10);
    /* the rest of the first chunk and some of the second: the first goes back */
    outq_consume(&queue, &pool, OUTQ_CHUNK_DATA - 10 + 50);
    ck_assert_uint_eq(pool.chunks_used, 3);
    ck_assert_uint_eq(pool.free_count, 1);
    pattern_check(&queue, OUTQ_CHUNK_DATA + 50);
    /* everything: no chunk stays with the queue */
    outq_consume(&queue, &pool, queue.length);
    ck_assert_uint_eq(queue.length, 0);
    ck_assert_ptr_null(queue.head);
    ck_assert_uint_eq(pool.chunks_used, 0);
    ck_assert_uint_eq(pool.free_count, 4);
    /* reuse: no new allocation */
    uint64_t allocations = pool.allocations;
    pattern_put(&queue, &pool, 7, 500, 500);
    ck_assert_uint_eq(pool.allocations, allocations);
    pattern_check(&queue, 7);
    outq_free(&queue, &pool);
    outq_pool_destroy(&pool);
}
END_TEST

/* Reserved room not yet written is neither sent nor counted; emptied queues drop it too. */
START_TEST(test_reserved_room)
{
    struct outq_pool pool;
    outq_pool_init(&pool, OUTQ_POOL_KEEP_DEFAULT);
    struct outq queue = {0};
    ck_assert_int_eq(outq_reserve(&queue, &pool, 3 * (size_t)OUTQ_CHUNK_DATA), 0);
    ck_assert_uint_eq(queue.length, 0);
    ck_assert_uint_eq(pool.chunks_used, 3);
    struct iovec iov[IOV_MAX_TEST];
    size_t bytes;
    ck_assert_int_eq(outq_iov(&queue, iov, IOV_MAX_TEST, SIZE_MAX, &bytes), 0);
    ck_assert_uint_eq(bytes, 0);
    outq_put(&queue, "hello", 5);
    ck_assert_int_eq(outq_iov(&queue, iov, IOV_MAX_TEST, SIZE_MAX, &bytes), 1);
    ck_assert_uint_eq(bytes, 5);
    /* room is kept: a second reserve within it takes no chunk */
    ck_assert_int_eq(outq_reserve(&queue, &pool, 2 * (size_t)OUTQ_CHUNK_DATA), 0);
    ck_assert_uint_eq(pool.chunks_used, 3);
    outq_consume(&queue, &pool, 5);
    ck_assert_uint_eq(pool.chunks_used, 0);
    outq_pool_destroy(&pool);
}
END_TEST

START_TEST(test_pool_keeps_bounded)
{
    struct outq_pool pool;
    outq_pool_init(&pool, 2);
    struct outq queue = {0};
    ck_assert_int_eq(outq_reserve(&queue, &pool, 5 * (size_t)OUTQ_CHUNK_DATA), 0);
    ck_assert_uint_eq(pool.allocations, 5);
    outq_free(&queue, &pool);
    ck_assert_uint_eq(pool.free_count, 2);
    ck_assert_uint_eq(pool.chunks_used, 0);
    outq_pool_destroy(&pool);
    ck_assert_uint_eq(pool.free_count, 0);
}
END_TEST

START_TEST(test_put_u64)
{
    static const uint64_t values[] = {0, 9, 10, 99, 100, 4294967295ULL, 10000000000000000000ULL,
                                      UINT64_MAX};
    struct outq_pool pool;
    outq_pool_init(&pool, OUTQ_POOL_KEEP_DEFAULT);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct outq queue = {0};
        /* written flush against a chunk's end, so the digits span two chunks */
        size_t filler = OUTQ_CHUNK_DATA - 3;
        ck_assert_int_eq(outq_reserve(&queue, &pool, filler + 20), 0);
        char zeros[4096] = {0};
        for (size_t put = 0; put < filler; put += sizeof zeros) {
            outq_put(&queue, zeros, filler - put < sizeof zeros ? filler - put : sizeof zeros);
        }
        outq_put_u64(&queue, values[i]);
        char expect[32];
        int length = snprintf(expect, sizeof expect, "%llu", (unsigned long long)values[i]);
        ck_assert_uint_eq(queue.length, filler + (size_t)length);
        outq_consume(&queue, &pool, filler);
        struct iovec iov[IOV_MAX_TEST];
        size_t bytes;
        int count = outq_iov(&queue, iov, IOV_MAX_TEST, SIZE_MAX, &bytes);
        char text[32];
        size_t at = 0;
        for (int j = 0; j < count; j++) {
            memcpy(text + at, iov[j].iov_base, iov[j].iov_len);
            at += iov[j].iov_len;
        }
        text[at] = '\0';
        ck_assert_str_eq(text, expect);
        outq_free(&queue, &pool);
    }
    outq_pool_destroy(&pool);
}
END_TEST

/* Every allocation of a reservation fails in turn: -ENOMEM, the queue still holds what it
 * had, works after, and every chunk comes back. */
START_TEST(test_reserve_alloc_fails)
{
    for (uint64_t fail_at = 1; fail_at <= 4; fail_at++) {
        int64_t live_before = alloc_fail.live_count;
        struct outq_pool pool;
        outq_pool_init(&pool, 0);
        struct outq queue = {0};
        pattern_put(&queue, &pool, 0, 100, 100);
        alloc_fail_at(fail_at);
        alloc_fail.armed = true;
        int rc = outq_reserve(&queue, &pool, 4 * (size_t)OUTQ_CHUNK_DATA);
        alloc_fail.armed = false;
        ck_assert_int_eq(rc, -ENOMEM);
        ck_assert_uint_eq(alloc_fail.failed_count, 1);
        ck_assert_uint_eq(pool.chunks_used, fail_at); /* the ones linked before it stay */
        ck_assert_uint_eq(queue.length, 100);
        pattern_check(&queue, 0);
        pattern_put(&queue, &pool, 100, 50, 50);
        pattern_check(&queue, 0);
        outq_consume(&queue, &pool, 150);
        ck_assert_uint_eq(pool.chunks_used, 0);
        outq_pool_destroy(&pool);
        ck_assert_int_eq(alloc_fail.live_count, live_before);
    }
}
END_TEST

static Suite *outq_suite(void)
{
    Suite *suite = suite_create("outq");
    TCase *tc = tcase_create("outq");
    tcase_add_test(tc, test_put_spans_chunks);
    tcase_add_test(tc, test_consume_behind_send);
    tcase_add_test(tc, test_reserved_room);
    tcase_add_test(tc, test_pool_keeps_bounded);
    tcase_add_test(tc, test_put_u64);
    tcase_add_test(tc, test_reserve_alloc_fails);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(outq_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
