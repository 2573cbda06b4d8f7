/* Check tests for the stream store's everyday operations: append and read back (from the
 * batch before any write, through the map after), subjects, delete, purge of everything
 * (and old segment files that come back after it), and refused configs.
 *
 * The one idea: what a call returns is what a reopen finds. Every test runs in its own
 * process (Check's fork mode) and its own mkdtemp directory. */
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

/* ---- stream store: basics ------------------------------------------------------------- */

START_TEST(test_store_empty)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 0);
    ck_assert_uint_eq(info.first_seq, 1);
    ck_assert_uint_eq(info.last_seq, 0);
    ck_assert_uint_eq(info.segment_count, 1);
    expect_gone(fx.store, 0);
    expect_gone(fx.store, 1);
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_next(fx.store, 1, &msg), -ENOENT);
    uint64_t seq;
    ck_assert_int_eq(stream_store_subject_last(fx.store, (const uint8_t *)"a", 1, &seq), -ENOENT);
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, 0, &seq), -ENOENT);
    /* A second opener is kept out while the first holds the directory. */
    struct stream_store *second = NULL;
    ck_assert_int_eq(stream_store_open(fx.path, &fx.config, &fx.io.sync.io, NULL, &second),
                     -EBUSY);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, 0);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_append_get)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 50);
    /* Readable at once, from the batch, before any write. */
    for (uint64_t seq = 1; seq <= 50; seq++) {
        expect_gen(fx.store, seq);
    }
    ck_assert_uint_eq(fx.io.sync.write_count, 0);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.io.sync.write_count, 1);
    ck_assert_uint_eq(fx.committed_seq, 50);
    for (uint64_t seq = 1; seq <= 50; seq++) {
        expect_gen(fx.store, seq);
    }
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 50);
    ck_assert_uint_eq(info.first_seq, 1);
    ck_assert_uint_eq(info.last_seq, 50);
    uint64_t bytes = 0;
    for (uint64_t seq = 1; seq <= 50; seq++) {
        bytes += gen_msg_record_size(seq);
    }
    ck_assert_uint_eq(info.byte_count, bytes);
    ck_assert_uint_eq(info.subject_count, SUBJECT_SPREAD);
    ck_assert_uint_eq(info.first_timestamp_ns, fx.now_ns);
    expect_gone(fx.store, 51);
    expect_gone(fx.store, 0);
    /* Bad subjects. */
    uint64_t seq;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"x", 0, NULL, 0, NULL, 0, &seq),
                     -EINVAL);
    /* Everything is back, byte for byte, after a reopen. */
    fx_reopen(&fx);
    for (uint64_t s = 1; s <= 50; s++) {
        expect_gen(fx.store, s);
    }
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 50);
    ck_assert_uint_eq(info.byte_count, bytes);
    ck_assert_uint_eq(info.truncated_count, 0);
    ck_assert_uint_eq(info.lost_count, 0);
    fx_append_gen(&fx, 51);
    expect_gen(fx.store, 51);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_subjects)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 30); /* subject gen.(seq % 5) */
    uint64_t seq;
    const uint8_t *s2 = (const uint8_t *)"gen.2";
    ck_assert_int_eq(stream_store_subject_first(fx.store, s2, 5, &seq), 0);
    ck_assert_uint_eq(seq, 2);
    ck_assert_int_eq(stream_store_subject_last(fx.store, s2, 5, &seq), 0);
    ck_assert_uint_eq(seq, 27);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, s2, 5), 6);
    ck_assert_int_eq(stream_store_subject_last(fx.store, (const uint8_t *)"gen", 3, &seq), -ENOENT);
    /* Deleting a subject's first and last moves them to the next ones on the subject. */
    ck_assert_int_eq(stream_store_delete(fx.store, 2), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, 27), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, 7), 0);
    ck_assert_int_eq(stream_store_subject_first(fx.store, s2, 5, &seq), 0);
    ck_assert_uint_eq(seq, 12);
    ck_assert_int_eq(stream_store_subject_last(fx.store, s2, 5, &seq), 0);
    ck_assert_uint_eq(seq, 22);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, s2, 5), 3);
    ck_assert_int_eq(stream_store_delete(fx.store, 12), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, 17), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, 22), 0);
    ck_assert_int_eq(stream_store_subject_first(fx.store, s2, 5, &seq), -ENOENT);
    ck_assert_uint_eq(info_of(fx.store).subject_count, SUBJECT_SPREAD - 1);
    fx_reopen(&fx);
    ck_assert_int_eq(stream_store_subject_first(fx.store, s2, 5, &seq), -ENOENT);
    ck_assert_int_eq(stream_store_subject_last(fx.store, (const uint8_t *)"gen.3", 5, &seq), 0);
    ck_assert_uint_eq(seq, 28);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_delete)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 10);
    ck_assert_int_eq(stream_store_delete(fx.store, 5), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, 5), -ENOENT);
    ck_assert_int_eq(stream_store_delete(fx.store, 11), -ENOENT);
    ck_assert_int_eq(stream_store_delete(fx.store, 0), -ENOENT);
    expect_gone(fx.store, 5);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 9);
    ck_assert_uint_eq(info.deleted_count, 1);
    ck_assert_uint_eq(info.last_seq, 10);
    /* Deleting the first moves first_seq past every gone sequence. */
    ck_assert_int_eq(stream_store_delete(fx.store, 4), 0);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        ck_assert_int_eq(stream_store_delete(fx.store, seq), 0);
    }
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 6);
    ck_assert_uint_eq(info.deleted_count, 0);
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_next(fx.store, 1, &msg), 0);
    ck_assert_uint_eq(msg.seq, 6);
    /* Deleting the last keeps last_seq: sequences are never reused. */
    ck_assert_int_eq(stream_store_delete(fx.store, 10), 0);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 6);
    ck_assert_uint_eq(info.last_seq, 10);
    ck_assert_uint_eq(info.msg_count, 4);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        expect_gone(fx.store, seq);
    }
    expect_gone(fx.store, 10);
    for (uint64_t seq = 6; seq <= 9; seq++) {
        expect_gen(fx.store, seq);
    }
    fx_append_gen(&fx, 11);
    /* Delete everything: the store is empty and sequences go on. */
    for (uint64_t seq = 6; seq <= 11; seq++) {
        if (seq != 10) {
            ck_assert_int_eq(stream_store_delete(fx.store, seq), 0);
        }
    }
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 0);
    ck_assert_uint_eq(info.first_seq, 12);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 0);
    ck_assert_uint_eq(info.first_seq, 12);
    ck_assert_uint_eq(info.last_seq, 11);
    fx_append_gen(&fx, 12);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_purge)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 100);
    ck_assert_uint_gt(info_of(fx.store).segment_count, 2);
    uint64_t purged = 0;
    ck_assert_int_eq(stream_store_purge(fx.store, NULL, &purged), 0);
    ck_assert_uint_eq(purged, 100);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 0);
    ck_assert_uint_eq(info.byte_count, 0);
    ck_assert_uint_eq(info.first_seq, 101);
    ck_assert_uint_eq(info.last_seq, 100);
    ck_assert_uint_eq(info.segment_count, 1);
    ck_assert_uint_eq(info.subject_count, 0);
    expect_gone(fx.store, 50);
    fx_drain(&fx); /* the batches of the purged segments still complete */
    ck_assert_uint_eq(fx.committed_seq, 100);
    ck_assert_uint_eq(count_segment_files(fx.path), 1);
    fx_append_gen_range(&fx, 101, 110);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 10);
    ck_assert_uint_eq(info.first_seq, 101);
    expect_gone(fx.store, 100);
    expect_gen(fx.store, 101);
    /* A purge is committed by its segment alone: older segment files that come back
     * (the unlinks not yet durable) are removed again on open. */
    fx_close(&fx);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_purge_survives_stale_files)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 60);
    fx_close(&fx);
    char saved[128];
    snprintf(saved, sizeof saved, "%s/saved", fx.root);
    copy_tree(fx.path, saved);
    fx_open_ok(&fx);
    ck_assert_int_eq(stream_store_purge(fx.store, NULL, NULL), 0);
    fx_append_gen_range(&fx, 61, 62);
    fx_close(&fx);
    /* Put the old segment files back, as if the unlinks never reached the disk. */
    char command[512];
    snprintf(command, sizeof command, "cp -n %s/*.seg %s/", saved, fx.path);
    ck_assert_int_eq(system(command), 0);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 2);
    ck_assert_uint_eq(info.first_seq, 61);
    ck_assert_uint_eq(info.segment_count, 1);
    expect_gen(fx.store, 61);
    expect_gone(fx.store, 1);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_bad_config)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = 100;
    ck_assert_int_eq(fx_open(&fx), -EINVAL);
    stream_store_config_default(&fx.config);
    fx.config.sync = STREAM_STORE_SYNC_INTERVAL;
    fx.config.sync_interval_ns = 0;
    ck_assert_int_eq(fx_open(&fx), -EINVAL);
    stream_store_config_default(&fx.config);
    fx.config.pending_bytes_max = fx.config.batch_size - 1;
    ck_assert_int_eq(fx_open(&fx), -EINVAL);
    fx_fini(&fx);
}
END_TEST

static Suite *store_basics_suite(void)
{
    Suite *suite = suite_create("store_basics");
    TCase *tc = tcase_create("store_basics");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_store_empty);
    tcase_add_test(tc, test_store_append_get);
    tcase_add_test(tc, test_store_subjects);
    tcase_add_test(tc, test_store_delete);
    tcase_add_test(tc, test_store_purge);
    tcase_add_test(tc, test_store_purge_survives_stale_files);
    tcase_add_test(tc, test_store_bad_config);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(store_basics_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
