/* Check tests for the stream store's limits and retention: max_msgs and max_bytes with
 * discard old and new, max_msgs_per_subject, the purge variants (below a sequence, keep N,
 * one subject), segment rollover and dropping as messages go, limits lowered between
 * opens, and time: seq_for_time and max_age with an injected clock, and appends stamped
 * with a timestamp of their own (stream_store_append_timed: order, clamping, tombstones that
 * do not raise it).
 *
 * The one idea: a removal is durable without rewriting the log (a floor or a tombstone),
 * so each case checks the state again after a reopen. Every test runs in its own process
 * (Check's fork mode) and its own mkdtemp directory. */
#include "base/hash.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/store_io.h"
#include "store/stream_store.h"
#include "tests/store/store_fixture.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- limits --------------------------------------------------------------------------- */

START_TEST(test_store_max_msgs_discard_old)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_msgs = 2;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 3);
    expect_gone(fx.store, 1);
    expect_gen(fx.store, 2);
    ck_assert_int_eq(stream_store_delete(fx.store, 3), 0);
    /* Evicted 1 must not come back on reopen although only one message is left. */
    fx_reopen(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 1);
    ck_assert_uint_eq(info.first_seq, 2);
    expect_gone(fx.store, 1);
    expect_gen(fx.store, 2);
    fx_append_gen_range(&fx, 4, 20);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 2);
    ck_assert_uint_eq(info.first_seq, 19);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"gen.4", 5), 1);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"gen.0", 5), 1);
    ck_assert_uint_eq(info.subject_count, 2);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_max_bytes_discard_old)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_bytes = 2000;
    fx_open_ok(&fx);
    for (uint64_t seq = 1; seq <= 100; seq++) {
        fx_append_gen(&fx, seq);
        struct stream_store_info info = info_of(fx.store);
        ck_assert_uint_le(info.byte_count, 2000);
        ck_assert_uint_eq(info.last_seq, seq);
        /* The oldest ones went, and only as many as needed. */
        uint64_t before = info.first_seq - 1;
        if (before >= 1) {
            ck_assert_uint_gt(info.byte_count + gen_msg_record_size(before), 2000);
        }
    }
    fx_reopen(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_le(info.byte_count, 2000);
    ck_assert_uint_eq(info.last_seq, 100);
    for (uint64_t seq = info.first_seq; seq <= 100; seq++) {
        expect_gen(fx.store, seq);
    }
    uint64_t seq;
    uint8_t big[2100] = {0};
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, big,
                                         sizeof big, &seq),
                     -EMSGSIZE);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_discard_new)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.discard = STREAM_STORE_DISCARD_NEW;
    fx.config.max_msgs = 5;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 5);
    uint64_t seq;
    uint8_t payload[16] = {0};
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, payload,
                                         8, &seq),
                     -EDQUOT);
    ck_assert_uint_eq(info_of(fx.store).last_seq, 5);
    ck_assert_int_eq(stream_store_delete(fx.store, 1), 0);
    fx_append_gen(&fx, 6);
    uint64_t bytes = info_of(fx.store).byte_count;
    fx_close(&fx);
    /* max_bytes: a record that would pass the limit is refused, a smaller one fits. */
    fx.config.max_msgs = 0;
    fx.config.max_bytes = bytes + RECORD_OVERHEAD_SIZE + 10;
    fx_open_ok(&fx);
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, payload,
                                         10, &seq),
                     -EDQUOT);
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, payload,
                                         9, &seq),
                     0);
    ck_assert_uint_eq(seq, 7);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 6);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_max_msgs_per_subject)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_msgs_per_subject = 2;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 20); /* subjects gen.0 .. gen.4 in turn */
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 10);
    ck_assert_uint_eq(info.first_seq, 11);
    for (uint64_t seq = 11; seq <= 20; seq++) {
        expect_gen(fx.store, seq);
    }
    /* A key-value style subject keeps its newest values only. */
    uint64_t seq = 0;
    for (int i = 0; i < 5; i++) {
        uint8_t value = (uint8_t)i;
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"kv.k", 4, NULL, 0,
                                             &value, 1, &seq),
                         0);
    }
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"kv.k", 4), 2);
    uint64_t first = 0;
    ck_assert_int_eq(stream_store_subject_first(fx.store, (const uint8_t *)"kv.k", 4, &first), 0);
    ck_assert_uint_eq(first, seq - 1);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 12);
    ck_assert_uint_eq(info.first_seq, 11);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"kv.k", 4), 2);
    expect_gone(fx.store, seq - 2);
    for (uint64_t s = 0; s < SUBJECT_SPREAD; s++) {
        char subject[16];
        int length = snprintf(subject, sizeof subject, "gen.%" PRIu64, s);
        ck_assert_uint_eq(
            stream_store_subject_count(fx.store, (const uint8_t *)subject, (uint32_t)length), 2);
    }
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_purge_variants)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 30);
    uint64_t purged = 0;
    struct stream_store_purge_request request = {.up_to_seq = 11};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 10);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 11);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 11);
    request = (struct stream_store_purge_request){.keep = 5};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 15);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 26);
    ck_assert_uint_eq(info.msg_count, 5);
    request = (struct stream_store_purge_request){.keep = 50};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 0);
    fx_append_gen_range(&fx, 31, 50);
    /* One subject: gen.1 holds 26, 31, 36, 41, 46; keep the newest two. */
    request = (struct stream_store_purge_request){
        .subject = (const uint8_t *)"gen.1", .subject_length = 5, .keep = 2};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 3);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"gen.1", 5), 2);
    /* gen.2 holds 27, 32, 37, 42, 47; those below 40 go. */
    request = (struct stream_store_purge_request){
        .subject = (const uint8_t *)"gen.2", .subject_length = 5, .up_to_seq = 40};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 3);
    request = (struct stream_store_purge_request){.up_to_seq = 40, .keep = 1};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), -EINVAL);
    request = (struct stream_store_purge_request){
        .subject = (const uint8_t *)"nothing", .subject_length = 7};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 0);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 28);
    ck_assert_uint_eq(info.msg_count, 25 - 6);
    static const uint64_t gone[] = {26, 27, 31, 32, 36, 37};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        expect_gone(fx.store, gone[i]);
    }
    for (uint64_t seq = 28; seq <= 50; seq++) {
        bool is_gone = false;
        for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
            is_gone = is_gone || gone[i] == seq;
        }
        if (!is_gone) {
            expect_gen(fx.store, seq);
        }
    }
    /* A request with nothing set purges everything. */
    request = (struct stream_store_purge_request){0};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 19);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 0);
    fx_fini(&fx);
}
END_TEST

/* ---- segments: rollover and dropping -------------------------------------------------- */

START_TEST(test_store_rollover_and_drop)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 200);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_gt(info.segment_count, 5);
    uint32_t segments = info.segment_count;
    fx_drain(&fx);
    ck_assert_uint_eq(count_segment_files(fx.path), segments);
    for (uint64_t seq = 1; seq <= 200; seq++) {
        expect_gen(fx.store, seq);
    }
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).segment_count, segments);
    for (uint64_t seq = 1; seq <= 200; seq++) {
        expect_gen(fx.store, seq);
    }
    /* Deleting every message of the first segments drops them, files included; deleting
     * within a later segment keeps it. */
    for (uint64_t seq = 1; seq <= 100; seq++) {
        ck_assert_int_eq(stream_store_delete(fx.store, seq), 0);
    }
    info = info_of(fx.store);
    ck_assert_uint_lt(info.segment_count, segments);
    ck_assert_uint_eq(info.first_seq, 101);
    fx_drain(&fx);
    ck_assert_uint_eq(count_segment_files(fx.path), info.segment_count);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 101);
    for (uint64_t seq = 101; seq <= 200; seq++) {
        expect_gen(fx.store, seq);
    }
    /* A record larger than a segment can hold is refused. */
    static uint8_t big[SMALL_SEGMENT_SIZE];
    uint64_t seq;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, big,
                                         sizeof big, &seq),
                     -EMSGSIZE);
    /* The largest that fits takes a segment of its own. */
    uint32_t fits = SMALL_SEGMENT_SIZE - SEGMENT_HEADER_SIZE - RECORD_OVERHEAD_SIZE - 1;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, big, fits,
                                         &seq),
                     0);
    fx_reopen(&fx);
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_get(fx.store, seq, &msg), 0);
    ck_assert_uint_eq(msg.payload_length, fits);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_retention_drops_segments)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx.config.max_msgs = 30;
    fx_open_ok(&fx);
    for (uint64_t seq = 1; seq <= 1000; seq++) {
        fx_append_gen(&fx, seq);
        if (seq % 50 == 0) {
            fx_drain(&fx);
        }
    }
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 30);
    ck_assert_uint_eq(info.first_seq, 971);
    /* 30 messages of at most ~270 bytes need at most 3 segments of 4 KiB, plus the one
     * being cut. */
    ck_assert_uint_le(info.segment_count, 4);
    fx_drain(&fx);
    ck_assert_uint_eq(count_segment_files(fx.path), info.segment_count);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 30);
    ck_assert_uint_eq(info.first_seq, 971);
    for (uint64_t seq = 971; seq <= 1000; seq++) {
        expect_gen(fx.store, seq);
    }
    /* Lowering the limit between opens applies it at open, durably. */
    fx_close(&fx);
    fx.config.max_msgs = 10;
    fx_open_ok(&fx);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 991);
    fx.config.max_msgs = 0;
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 10);
    ck_assert_uint_eq(info.first_seq, 991);
    fx_fini(&fx);
}
END_TEST

/* ---- time ----------------------------------------------------------------------------- */

START_TEST(test_store_time)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_age_ns = 100;
    int64_t start_ns = fx.now_ns;
    fx_open_ok(&fx);
    for (uint64_t seq = 1; seq <= 20; seq++) {
        fx.now_ns = start_ns + (int64_t)seq * 10;
        fx_append_gen(&fx, seq);
    }
    uint64_t seq;
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, start_ns + 55, &seq), 0);
    ck_assert_uint_eq(seq, 6);
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, 0, &seq), 0);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, start_ns + 201, &seq), -ENOENT);
    ck_assert_int_eq(stream_store_delete(fx.store, 6), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, 7), 0);
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, start_ns + 55, &seq), 0);
    ck_assert_uint_eq(seq, 8);
    /* A clock that steps back does not make timestamps decrease. */
    fx.now_ns = start_ns;
    fx_append_gen(&fx, 21);
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_get(fx.store, 21, &msg), 0);
    ck_assert_int_eq(msg.timestamp_ns, start_ns + 200);
    /* max_age: everything older than now - 100 goes at the tick, durably. */
    ck_assert_int_eq(stream_store_tick(fx.store, start_ns + 150), 0);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 5);
    ck_assert_uint_eq(info.first_timestamp_ns, start_ns + 50);
    fx.config.max_age_ns = 0;
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 5);
    ck_assert_int_eq(stream_store_tick(fx.store, start_ns + 100000), 0);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 5);
    fx_close(&fx);
    fx.config.max_age_ns = 1;
    fx_open_ok(&fx);
    ck_assert_int_eq(stream_store_tick(fx.store, start_ns + 100000), 0);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 0);
    ck_assert_uint_eq(info.first_seq, 22);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 0);
    ck_assert_uint_eq(info_of(fx.store).last_seq, 21);
    fx_fini(&fx);
}
END_TEST

/* ---- timed appends: a mirror's, its origin's timestamps ------------------------------- */

/* Appends a message on `subject` stamped `timestamp_ns` (stream_store_append_timed). */
static uint64_t append_timed(struct fixture *fx, const char *subject, int64_t timestamp_ns)
{
    uint64_t seq = 0;
    int rc = stream_store_append_timed(fx->store, (const uint8_t *)subject,
                                       (uint32_t)strlen(subject), NULL, 0,
                                       (const uint8_t *)"p", 1, timestamp_ns, &seq);
    ck_assert_msg(rc == 0, "append_timed: %s", strerror(-rc));
    return seq;
}

static int64_t timestamp_of(struct fixture *fx, uint64_t seq)
{
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_get(fx->store, seq, &msg), 0);
    return msg.timestamp_ns;
}

/* Appends a message on "a" stamped with the clock; returns its sequence. */
static uint64_t append_now(struct fixture *fx)
{
    uint64_t seq = 0;
    int rc = stream_store_append(fx->store, (const uint8_t *)"a", 1, NULL, 0,
                                 (const uint8_t *)"p", 1, &seq);
    ck_assert_msg(rc == 0, "append: %s", strerror(-rc));
    return seq;
}

START_TEST(test_append_timed_order)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    /* The origin's timestamps, not the clock's; one that goes back is raised to the last. */
    ck_assert_uint_eq(append_timed(&fx, "o.1", 1000), 1);
    ck_assert_uint_eq(append_timed(&fx, "o.2", 3000), 2);
    ck_assert_uint_eq(append_timed(&fx, "o.3", 2000), 3);
    ck_assert_uint_eq(append_timed(&fx, "o.4", 5000), 4);
    ck_assert_int_eq(timestamp_of(&fx, 1), 1000);
    ck_assert_int_eq(timestamp_of(&fx, 2), 3000);
    ck_assert_int_eq(timestamp_of(&fx, 3), 3000);
    ck_assert_int_eq(timestamp_of(&fx, 4), 5000);
    uint64_t seq = 0;
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, 2500, &seq), 0);
    ck_assert_uint_eq(seq, 2);
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, 4000, &seq), 0);
    ck_assert_uint_eq(seq, 4);
    /* A tombstone (stamped with the clock, far later) does not raise the next one. */
    ck_assert_int_eq(stream_store_delete(fx.store, 1), 0);
    ck_assert_uint_eq(append_timed(&fx, "o.5", 6000), 5);
    ck_assert_int_eq(timestamp_of(&fx, 5), 6000);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_int_eq(info.first_timestamp_ns, 3000);
    ck_assert_int_eq(info.last_timestamp_ns, 6000);
    /* Across a reopen the clamp is the last message's timestamp. */
    fx_reopen(&fx);
    ck_assert_uint_eq(append_timed(&fx, "o.6", 5500), 6);
    ck_assert_int_eq(timestamp_of(&fx, 6), 6000);
    /* A plain append takes the clock's now; a timed one after it is raised to that. */
    ck_assert_uint_eq(append_now(&fx), 7);
    ck_assert_int_eq(timestamp_of(&fx, 7), fx.now_ns);
    ck_assert_uint_eq(append_timed(&fx, "o.8", 7000), 8);
    ck_assert_int_eq(timestamp_of(&fx, 8), fx.now_ns);
    ck_assert_uint_eq(append_timed(&fx, "o.9", fx.now_ns + 10), 9);
    ck_assert_int_eq(timestamp_of(&fx, 9), fx.now_ns + 10);
    /* Refusals are append's. */
    ck_assert_int_eq(
        stream_store_append_timed(fx.store, (const uint8_t *)"a", 0, NULL, 0, NULL, 0, 1, &seq),
        -EINVAL);
    fx_reopen(&fx);
    ck_assert_int_eq(timestamp_of(&fx, 2), 3000);
    ck_assert_int_eq(timestamp_of(&fx, 9), fx.now_ns + 10);
    fx_fini(&fx);
}
END_TEST

/* Under max_msgs_per_subject an append at the limit writes a tombstone (the clock's now)
 * before its message: the message keeps its own timestamp all the same. */
START_TEST(test_append_timed_subject_limit)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_msgs_per_subject = 1;
    fx_open_ok(&fx);
    for (uint64_t i = 1; i <= 10; i++) {
        ck_assert_uint_eq(append_timed(&fx, "kv.key", (int64_t)i * 100), i);
        ck_assert_int_eq(timestamp_of(&fx, i), (int64_t)i * 100);
    }
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 1);
    ck_assert_uint_eq(info.first_seq, 10);
    fx_reopen(&fx);
    ck_assert_int_eq(timestamp_of(&fx, 10), 1000);
    ck_assert_uint_eq(append_timed(&fx, "kv.key", 1100), 11);
    ck_assert_int_eq(timestamp_of(&fx, 11), 1100);
    fx_fini(&fx);
}
END_TEST

static Suite *store_limits_suite(void)
{
    Suite *suite = suite_create("store_limits");
    TCase *tc = tcase_create("store_limits");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_store_max_msgs_discard_old);
    tcase_add_test(tc, test_store_max_bytes_discard_old);
    tcase_add_test(tc, test_store_discard_new);
    tcase_add_test(tc, test_store_max_msgs_per_subject);
    tcase_add_test(tc, test_store_purge_variants);
    tcase_add_test(tc, test_store_rollover_and_drop);
    tcase_add_test(tc, test_store_retention_drops_segments);
    tcase_add_test(tc, test_store_time);
    tcase_add_test(tc, test_append_timed_order);
    tcase_add_test(tc, test_append_timed_subject_limit);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(store_limits_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
