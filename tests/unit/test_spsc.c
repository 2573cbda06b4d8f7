/* Unit tests for the SPSC byte ring: single-thread record semantics (wrap, pad, full,
 * batching) and a two-thread sequence-number stress test that TSan checks for races.
 *
 * The stress test's producer writes records of varying length whose bodies carry their
 * sequence number in every word; the consumer checks the order and every byte. Either side
 * yields the CPU when it finds the ring empty (consumer) or full (producer), so that on a
 * busy machine it does not spin away the time slice the other side needs. The per-record and
 * per-byte checks are quiet (ck_quiet.h): there are millions of them. */
#include "base/spsc.h"
#include "tests/harness/ck_quiet.h"

#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

enum { RING_SIZE = 4096, STRESS_RECORDS = 1000000, BATCH_MAX = 37 };

static uint64_t ring_memory[RING_SIZE / sizeof(uint64_t)];

START_TEST(test_single_thread_order_and_wrap)
{
    struct spsc ring;
    spsc_init(&ring, ring_memory, RING_SIZE);
    ck_assert_ptr_null(spsc_peek(&ring));
    uint32_t next_written = 0;
    uint32_t next_read = 0;
    /* many rounds so the ring wraps and pads many times */
    for (int round = 0; round < 1000; round++) {
        uint32_t count = (uint32_t)(round % 7) + 1;
        for (uint32_t i = 0; i < count; i++) {
            uint32_t length = (next_written * 13) % 300;
            unsigned char *body = spsc_reserve(&ring, next_written, length);
            ck_assert_ptr_nonnull(body);
            memset(body, (int)(next_written & 0xff), length);
            spsc_commit(&ring);
            next_written++;
        }
        /* not visible before publish */
        ck_assert_ptr_null(spsc_peek(&ring));
        ck_assert(spsc_publish(&ring));
        ck_assert(!spsc_publish(&ring));
        const struct spsc_record *record;
        while ((record = spsc_peek(&ring)) != NULL) {
            quiet_assert_uint_eq(record->type, next_read);
            quiet_assert_uint_eq(record->length, (next_read * 13) % 300);
            const unsigned char *body = spsc_record_body(record);
            for (uint32_t b = 0; b < record->length; b++) {
                quiet_assert_uint_eq(body[b], next_read & 0xff);
            }
            spsc_advance(&ring, record);
            next_read++;
        }
        spsc_consume_done(&ring);
    }
    ck_assert_uint_eq(next_read, next_written);
}
END_TEST

START_TEST(test_full_until_consumed)
{
    struct spsc ring;
    spsc_init(&ring, ring_memory, RING_SIZE);
    uint32_t written = 0;
    while (spsc_reserve(&ring, written, 100) != NULL) {
        spsc_commit(&ring);
        written++;
    }
    ck_assert_uint_eq(written, RING_SIZE / (SPSC_HEADER_SIZE + 104));
    spsc_publish(&ring);
    /* reading without releasing does not make room */
    const struct spsc_record *record = spsc_peek(&ring);
    ck_assert_ptr_nonnull(record);
    spsc_advance(&ring, record);
    ck_assert_ptr_null(spsc_reserve(&ring, 99, 100));
    spsc_consume_done(&ring);
    ck_assert_ptr_nonnull(spsc_reserve(&ring, 99, 100));
    spsc_commit(&ring);
    /* the largest record fits in an empty ring */
    struct spsc empty;
    spsc_init(&empty, ring_memory, RING_SIZE);
    ck_assert_ptr_nonnull(spsc_reserve(&empty, 1, (uint32_t)spsc_body_max(&empty)));
}
END_TEST

struct stress {
    struct spsc ring;
    uint64_t full_count;
};

static void *stress_producer(void *arg)
{
    struct stress *stress = arg;
    uint64_t sequence = 0;
    while (sequence < STRESS_RECORDS) {
        uint32_t batch = (uint32_t)(sequence % BATCH_MAX) + 1;
        bool full = false;
        for (uint32_t i = 0; i < batch && sequence < STRESS_RECORDS; i++) {
            uint32_t words = (uint32_t)(sequence % 9);
            uint64_t *body = spsc_reserve(&stress->ring, (uint32_t)sequence, words * 8);
            if (body == NULL) {
                stress->full_count++;
                full = true;
                break;
            }
            for (uint32_t w = 0; w < words; w++) {
                body[w] = sequence;
            }
            spsc_commit(&stress->ring);
            sequence++;
        }
        spsc_publish(&stress->ring);
        if (full) {
            sched_yield();
        }
    }
    return NULL;
}

START_TEST(test_two_thread_stress)
{
    static uint64_t stress_memory[RING_SIZE / sizeof(uint64_t)];
    static struct stress stress;
    spsc_init(&stress.ring, stress_memory, RING_SIZE);
    stress.full_count = 0;
    pthread_t producer;
    ck_assert_int_eq(pthread_create(&producer, NULL, stress_producer, &stress), 0);
    uint64_t expected = 0;
    while (expected < STRESS_RECORDS) {
        const struct spsc_record *record;
        uint32_t batch = 0;
        while ((record = spsc_peek(&stress.ring)) != NULL && batch < BATCH_MAX) {
            quiet_assert_uint_eq(record->type, (uint32_t)expected);
            uint32_t words = (uint32_t)(expected % 9);
            quiet_assert_uint_eq(record->length, words * 8);
            const uint64_t *body = spsc_record_body(record);
            for (uint32_t w = 0; w < words; w++) {
                quiet_assert_uint_eq(body[w], expected);
            }
            spsc_advance(&stress.ring, record);
            expected++;
            batch++;
        }
        spsc_consume_done(&stress.ring);
        if (batch == 0) {
            sched_yield();
        }
    }
    pthread_join(producer, NULL);
    ck_assert_ptr_null(spsc_peek(&stress.ring));
    /* a 4 KiB ring under this load fills often: the full path was exercised */
    ck_assert_uint_gt(stress.full_count, 0);
}
END_TEST

static Suite *spsc_suite(void)
{
    Suite *suite = suite_create("spsc");
    TCase *tc = tcase_create("spsc");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_single_thread_order_and_wrap);
    tcase_add_test(tc, test_full_until_consumed);
    tcase_add_test(tc, test_two_thread_stress);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(spsc_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
