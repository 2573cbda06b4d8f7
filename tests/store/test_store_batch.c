/* Atomic batches in the stream store (stream_store_batch_open/_last/_abort): the flag each
 * record carries, recovery dropping an unfinished batch whole (cut at every record
 * boundary, across segments, with the floor and tombstones it carried), a finished batch
 * kept whole, a purge of everything undone with its batch, segments kept until the batch
 * is durable, an abort, and pending_bytes_max.
 *
 * The one idea: a batch is in the log once its last message's record (the one without
 * RECORD_F_BATCH_MORE) validates, so every way of cutting the log before that record ends
 * with none of the batch, and every cut after it with all of it. Test thread only. */
#include "store/record.h"
#include "store/segment.h"
#include "store/stream_store.h"
#include "tests/store/store_fixture.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    /* Messages before the batch, and in it. */
    PLAIN_COUNT = 3,
    BATCH_COUNT = 5,
    /* Records in one segment file at most (small segments). */
    OFFSETS_MAX = 256,
};

/* The flags byte of the record at `offset` of `file`. */
static uint8_t record_flags_at(const char *file, uint64_t offset)
{
    int fd = open(file, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    uint8_t flags = 0xff;
    ck_assert_int_eq(pread(fd, &flags, 1, (off_t)offset + 5), 1);
    close(fd);
    return flags;
}

/* Appends generated messages first..last as one batch; `finish`: the last one ends it. */
static void batch_append(struct fixture *fx, uint64_t first, uint64_t last, bool finish)
{
    stream_store_batch_open(fx->store);
    for (uint64_t seq = first; seq <= last; seq++) {
        if (seq == last && finish) {
            stream_store_batch_last(fx->store);
        }
        fx_append_gen(fx, seq);
    }
}

static void expect_held(struct fixture *fx, uint64_t last_seq)
{
    struct stream_store_info info = info_of(fx->store);
    ck_assert_uint_eq(info.last_seq, last_seq);
    ck_assert_uint_eq(info.msg_count, last_seq);
    for (uint64_t seq = 1; seq <= last_seq; seq++) {
        expect_gen(fx->store, seq);
    }
}

START_TEST(test_batch_flags)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, PLAIN_COUNT);
    batch_append(&fx, PLAIN_COUNT + 1, PLAIN_COUNT + BATCH_COUNT, true);
    fx_append_gen(&fx, PLAIN_COUNT + BATCH_COUNT + 1);
    fx_close(&fx);
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    uint64_t offsets[OFFSETS_MAX];
    uint64_t end = 0;
    uint32_t count = segment_record_offsets(file, offsets, OFFSETS_MAX, &end);
    ck_assert_uint_eq(count, PLAIN_COUNT + BATCH_COUNT + 1);
    for (uint32_t k = 0; k < count; k++) {
        bool inside = k >= PLAIN_COUNT && k + 1 < PLAIN_COUNT + BATCH_COUNT;
        ck_assert_uint_eq(record_flags_at(file, offsets[k]), inside ? RECORD_F_BATCH_MORE : 0);
    }
    fx_open_ok(&fx);
    expect_held(&fx, PLAIN_COUNT + BATCH_COUNT + 1);
    ck_assert_uint_eq(info_of(fx.store).batch_dropped_count, 0);
    fx_fini(&fx);
}
END_TEST

/* Every cut of the log inside the batch (zeros from a record boundary on, the file cut
 * inside a record, a flipped byte) leaves the messages before it and none of the batch;
 * the log as written keeps all of it. Appends go on at the dropped batch's first
 * sequence, and the next open finds nothing more to drop. */
START_TEST(test_batch_cut_every_boundary)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, PLAIN_COUNT);
    batch_append(&fx, PLAIN_COUNT + 1, PLAIN_COUNT + BATCH_COUNT, true);
    fx_close(&fx);
    char saved[160];
    snprintf(saved, sizeof saved, "%s/saved", fx.root);
    copy_tree(fx.path, saved);
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    uint64_t offsets[OFFSETS_MAX];
    uint64_t end = 0;
    uint32_t count = segment_record_offsets(file, offsets, OFFSETS_MAX, &end);
    ck_assert_uint_eq(count, PLAIN_COUNT + BATCH_COUNT);
    for (uint32_t k = PLAIN_COUNT; k < count; k++) {
        for (int how = 0; how < 3; how++) {
            copy_tree(saved, fx.path);
            if (how == 0) {
                file_zero(file, offsets[k], end - offsets[k]);
            } else if (how == 1) {
                ck_assert_int_eq(truncate(file, (off_t)offsets[k] + 7), 0);
            } else {
                file_flip_byte(file, offsets[k] + RECORD_HEADER_SIZE + 1);
            }
            fx_open_ok(&fx);
            expect_held(&fx, PLAIN_COUNT);
            ck_assert_uint_eq(info_of(fx.store).batch_dropped_count, k - PLAIN_COUNT);
            fx_append_gen(&fx, PLAIN_COUNT + 1);
            fx_reopen(&fx);
            expect_held(&fx, PLAIN_COUNT + 1);
            ck_assert_uint_eq(info_of(fx.store).batch_dropped_count, 0);
            fx_close(&fx);
        }
    }
    copy_tree(saved, fx.path);
    fx_open_ok(&fx);
    expect_held(&fx, PLAIN_COUNT + BATCH_COUNT);
    fx_fini(&fx);
}
END_TEST

/* A crash before the batch's last message, all its other records on disk: the batch is
 * dropped, and the segments holding only it are removed. Finished, it survives whole
 * across the same segments. */
START_TEST(test_batch_unfinished_across_segments)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, PLAIN_COUNT);
    uint32_t segments_before = count_segment_files(fx.path);
    stream_store_batch_open(fx.store);
    uint64_t seq = PLAIN_COUNT;
    while (info_of(fx.store).segment_count < segments_before + 3) {
        fx_append_gen(&fx, ++seq);
    }
    fx_drain(&fx);
    fx_close_discarding(&fx);
    fx_open_ok(&fx);
    expect_held(&fx, PLAIN_COUNT);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.batch_dropped_count, seq - PLAIN_COUNT);
    ck_assert_uint_eq(info.segment_count, segments_before);
    ck_assert_uint_eq(count_segment_files(fx.path), segments_before);
    batch_append(&fx, PLAIN_COUNT + 1, seq, true);
    fx_drain(&fx);
    fx_close_discarding(&fx);
    fx_open_ok(&fx);
    expect_held(&fx, seq);
    ck_assert_uint_eq(info_of(fx.store).batch_dropped_count, 0);
    fx_fini(&fx);
}
END_TEST

/* A purge of everything inside a batch is a floor record: undone with an unfinished batch,
 * kept with a finished one; the segments it emptied stay until the batch is durable. */
START_TEST(test_batch_purge_undone)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx_open_ok(&fx);
    uint64_t last = fx_append_until_segments(&fx, 3);
    fx_drain(&fx);
    uint32_t segments = count_segment_files(fx.path);
    stream_store_batch_open(fx.store);
    ck_assert_int_eq(stream_store_purge(fx.store, NULL, NULL), 0);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 0);
    fx_append_gen(&fx, last + 1);
    fx_drain(&fx);
    ck_assert_uint_eq(count_segment_files(fx.path), segments);
    fx_close_discarding(&fx);
    fx_open_ok(&fx);
    expect_held(&fx, last);
    ck_assert_uint_eq(info_of(fx.store).batch_dropped_count, 1);
    stream_store_batch_open(fx.store);
    ck_assert_int_eq(stream_store_purge(fx.store, NULL, NULL), 0);
    stream_store_batch_last(fx.store);
    fx_append_gen(&fx, last + 1);
    ck_assert_uint_eq(info_of(fx.store).segment_count, segments);
    fx_drain(&fx);
    ck_assert_uint_lt(info_of(fx.store).segment_count, segments);
    fx_close_discarding(&fx);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 1);
    ck_assert_uint_eq(info.first_seq, last + 1);
    expect_gen(fx.store, last + 1);
    fx_fini(&fx);
}
END_TEST

/* The tombstones of a subject purge inside an unfinished batch are undone with it. */
START_TEST(test_batch_tombstones_undone)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 4 * SUBJECT_SPREAD);
    struct gen_msg first;
    gen_msg_make(1, &first);
    struct stream_store_purge_request request = {.subject = (const uint8_t *)first.subject,
                                                 .subject_length = first.subject_length};
    stream_store_batch_open(fx.store);
    uint64_t purged = 0;
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 4);
    fx_append_gen(&fx, 4 * SUBJECT_SPREAD + 1);
    fx_drain(&fx);
    fx_close_discarding(&fx);
    fx_open_ok(&fx);
    expect_held(&fx, 4 * SUBJECT_SPREAD);
    fx_fini(&fx);
}
END_TEST

/* An abort with nothing appended closes the batch; with something appended it stops the
 * store, and the next open drops what went in. */
START_TEST(test_batch_abort)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, PLAIN_COUNT);
    stream_store_batch_open(fx.store);
    ck_assert_int_eq(stream_store_batch_abort(fx.store), 0);
    ck_assert_int_eq(stream_store_batch_abort(fx.store), 0);
    fx_append_gen(&fx, PLAIN_COUNT + 1);
    stream_store_batch_open(fx.store);
    fx_append_gen(&fx, PLAIN_COUNT + 2);
    fx_drain(&fx); /* its record reached the file */
    ck_assert_int_eq(stream_store_batch_abort(fx.store), -ECANCELED);
    ck_assert_int_eq(fx.failed_error, -ECANCELED);
    uint64_t seq = 0;
    struct gen_msg msg;
    gen_msg_make(PLAIN_COUNT + 3, &msg);
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)msg.subject,
                                         msg.subject_length, NULL, 0, msg.payload,
                                         msg.payload_length, &seq),
                     -ECANCELED);
    fx_close(&fx);
    fx.failed_error = 0;
    fx_open_ok(&fx);
    expect_held(&fx, PLAIN_COUNT + 1);
    ck_assert_uint_eq(info_of(fx.store).batch_dropped_count, 1);
    fx_fini(&fx);
}
END_TEST

/* A batch is not held to pending_bytes_max; single appends are again once it is done. */
START_TEST(test_batch_pending_bytes)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.batch_size = 1024;
    fx.config.pending_bytes_max = 1024;
    fx_open_ok(&fx);
    batch_append(&fx, 1, 40, true);
    ck_assert_uint_gt(info_of(fx.store).pending_bytes, 1024);
    struct gen_msg msg;
    gen_msg_make(41, &msg);
    uint64_t seq = 0;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)msg.subject,
                                         msg.subject_length, msg.header, msg.header_length,
                                         msg.payload, msg.payload_length, &seq),
                     -EAGAIN);
    fx_drain(&fx);
    fx_append_gen(&fx, 41);
    fx_reopen(&fx);
    expect_held(&fx, 41);
    fx_fini(&fx);
}
END_TEST

static Suite *batch_suite(void)
{
    Suite *suite = suite_create("store_batch");
    TCase *tc = tcase_create("batch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_batch_flags);
    tcase_add_test(tc, test_batch_cut_every_boundary);
    tcase_add_test(tc, test_batch_unfinished_across_segments);
    tcase_add_test(tc, test_batch_purge_undone);
    tcase_add_test(tc, test_batch_tombstones_undone);
    tcase_add_test(tc, test_batch_abort);
    tcase_add_test(tc, test_batch_pending_bytes);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(batch_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
