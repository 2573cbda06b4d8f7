/* Check tests for the stream store's recovery: truncation, a flipped byte or a
 * zero-filled tail at every record boundary of the last segment and of an inner one (a
 * lost record with valid ones behind it, damage contained to its segment), an empty last
 * segment after a gap, damaged and never-written headers, and files a crash left half
 * created.
 *
 * The one idea: recovery stops exactly at the first record that does not validate, and
 * nothing stale behind it ever comes back. Every test runs in its own process (Check's fork
 * mode) and its own mkdtemp directory. */
#include "base/hash.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/store_io.h"
#include "store/stream_store.h"
#include "tests/store/store_fixture.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- recovery ------------------------------------------------------------------------- */

enum {
    RECOVERY_MSG_COUNT = 60,
    RECOVERY_OFFSETS_MAX = 256,
};

/* A pristine store of RECOVERY_MSG_COUNT messages over several 4 KiB segments, closed,
 * under root/pristine; fx->path is where each case works on a copy. */
struct recovery_layout {
    char pristine[128];
    uint32_t segment_count;
    uint64_t first_seq[16];  /* per segment id - 1 */
    uint32_t record_count[16];
    uint64_t offsets[16][RECOVERY_OFFSETS_MAX];
    uint64_t end[16];
};

static void recovery_setup(struct fixture *fx, struct recovery_layout *layout)
{
    fx->config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(fx);
    fx_append_gen_range(fx, 1, RECOVERY_MSG_COUNT);
    fx_close(fx);
    snprintf(layout->pristine, sizeof layout->pristine, "%s/pristine", fx->root);
    copy_tree(fx->path, layout->pristine);
    layout->segment_count = count_segment_files(fx->path);
    ck_assert_uint_ge(layout->segment_count, 3);
    ck_assert_uint_le(layout->segment_count, 16);
    uint64_t first = 1;
    for (uint32_t i = 0; i < layout->segment_count; i++) {
        char file[256];
        segment_path(fx, i + 1, file, sizeof file);
        layout->first_seq[i] = first;
        layout->record_count[i] =
            segment_record_offsets(file, layout->offsets[i], RECOVERY_OFFSETS_MAX, &layout->end[i]);
        first += layout->record_count[i];
    }
    ck_assert_uint_eq(first, RECOVERY_MSG_COUNT + 1);
}

static void recovery_restore(struct fixture *fx, const struct recovery_layout *layout)
{
    copy_tree(layout->pristine, fx->path);
}

/* Reopens after damage to the last segment at sequence `seq_cut` and checks the log ends
 * just before it, byte-exact, then that an append there is not followed by stale records,
 * and that the damage is reported by the first open only. */
static void recovery_check_cut(struct fixture *fx, uint64_t seq_cut, uint64_t truncated_count)
{
    fx_open_ok(fx);
    struct stream_store_info info = info_of(fx->store);
    ck_assert_uint_eq(info.last_seq, seq_cut - 1);
    ck_assert_uint_eq(info.msg_count, seq_cut - 1);
    ck_assert_uint_eq(info.truncated_count, truncated_count);
    ck_assert_uint_eq(info.lost_count, 0);
    for (uint64_t seq = 1; seq < seq_cut; seq++) {
        expect_gen(fx->store, seq);
    }
    /* A different record takes the cut one's place (in place: a torn tail was zeroed):
     * nothing stale behind it comes back. */
    fx->now_ns += 1000;
    uint64_t seq = 0;
    ck_assert_int_eq(stream_store_append(fx->store, (const uint8_t *)"other", 5, NULL, 0,
                                         (const uint8_t *)"x", 1, &seq),
                     0);
    ck_assert_uint_eq(seq, seq_cut);
    fx_reopen(fx);
    info = info_of(fx->store);
    ck_assert_uint_eq(info.last_seq, seq_cut);
    ck_assert_uint_eq(info.truncated_count, 0); /* reported once: the torn tail was zeroed */
    ck_assert_uint_eq(info.lost_count, 0);
    for (uint64_t s = 1; s < seq_cut; s++) {
        expect_gen(fx->store, s);
    }
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_get(fx->store, seq_cut, &msg), 0);
    ck_assert_uint_eq(msg.subject_length, 5);
    fx_close(fx);
}

START_TEST(test_recovery_last_segment_every_boundary)
{
    struct fixture fx;
    fx_init(&fx);
    static struct recovery_layout layout;
    recovery_setup(&fx, &layout);
    uint32_t last = layout.segment_count - 1;
    char file[256];
    segment_path(&fx, last + 1, file, sizeof file);
    ck_assert_uint_gt(layout.record_count[last], 0);
    for (uint32_t k = 0; k < layout.record_count[last]; k++) {
        uint64_t seq = layout.first_seq[last] + k;
        uint64_t offset = layout.offsets[last][k];
        /* Truncated at the boundary: a clean end. */
        recovery_restore(&fx, &layout);
        ck_assert_int_eq(truncate(file, (off_t)offset), 0);
        recovery_check_cut(&fx, seq, 0);
        /* Truncated inside the record: a torn tail. */
        recovery_restore(&fx, &layout);
        ck_assert_int_eq(truncate(file, (off_t)offset + 5), 0);
        recovery_check_cut(&fx, seq, 1);
        /* Zeros from the boundary on: a clean end. */
        recovery_restore(&fx, &layout);
        file_zero(file, offset, SMALL_SEGMENT_SIZE - offset);
        recovery_check_cut(&fx, seq, 0);
        /* A flipped byte in the frame, and one in the body. */
        recovery_restore(&fx, &layout);
        file_flip_byte(file, offset);
        recovery_check_cut(&fx, seq, 1);
        recovery_restore(&fx, &layout);
        file_flip_byte(file, offset + RECORD_HEADER_SIZE + 2);
        recovery_check_cut(&fx, seq, 1);
    }
    /* A record that never reached the disk while the ones after it did (pages written out
     * of order): the log ends cleanly before it. A new record of exactly its size then
     * sits where it was, so the old next record lines up behind it, and must not validate:
     * its checksum chains from the old record, not the new one. */
    for (uint32_t k = 0; k + 1 < layout.record_count[last]; k++) {
        uint64_t seq = layout.first_seq[last] + k;
        uint64_t offset = layout.offsets[last][k];
        uint64_t size = layout.offsets[last][k + 1] - offset;
        recovery_restore(&fx, &layout);
        file_zero(file, offset, size);
        fx_open_ok(&fx);
        struct stream_store_info info = info_of(fx.store);
        ck_assert_uint_eq(info.last_seq, seq - 1);
        ck_assert_uint_eq(info.truncated_count, 0);
        static const uint8_t filler[PAYLOAD_SIZE_MAX];
        uint64_t got = 0;
        uint32_t payload_length = (uint32_t)(size - RECORD_OVERHEAD_SIZE - 5);
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"other", 5, NULL, 0,
                                             filler, payload_length, &got),
                         0);
        ck_assert_uint_eq(got, seq);
        fx_reopen(&fx);
        info = info_of(fx.store);
        ck_assert_uint_eq(info.last_seq, seq);
        ck_assert_uint_eq(info.truncated_count, 1); /* the stale record behind is refused */
        fx_close(&fx);
    }
    /* Untouched, everything is there. */
    recovery_restore(&fx, &layout);
    fx_open_ok(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, RECOVERY_MSG_COUNT);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_recovery_inner_segment_every_boundary)
{
    struct fixture fx;
    fx_init(&fx);
    static struct recovery_layout layout;
    recovery_setup(&fx, &layout);
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    uint32_t count = layout.record_count[0];
    for (uint32_t k = 0; k < count; k++) {
        uint64_t seq = layout.first_seq[0] + k;
        uint64_t offset = layout.offsets[0][k];
        for (int variant = 0; variant < 3; variant++) {
            recovery_restore(&fx, &layout);
            if (variant == 0) {
                file_flip_byte(file, offset + RECORD_HEADER_SIZE + 1);
            } else if (variant == 1) {
                ck_assert_int_eq(truncate(file, (off_t)offset), 0);
            } else {
                file_zero(file, offset, SMALL_SEGMENT_SIZE - offset);
            }
            fx_open_ok(&fx);
            struct stream_store_info info = info_of(fx.store);
            /* The rest of the first segment is lost, and only that: contained. */
            uint64_t lost = count - k;
            ck_assert_uint_eq(info.lost_count, lost);
            ck_assert_uint_eq(info.truncated_count, variant == 0 ? 1 : 0);
            ck_assert_uint_eq(info.last_seq, RECOVERY_MSG_COUNT);
            ck_assert_uint_eq(info.msg_count, RECOVERY_MSG_COUNT - lost);
            for (uint64_t s = 1; s <= RECOVERY_MSG_COUNT; s++) {
                if (s >= seq && s < seq + lost) {
                    expect_gone(fx.store, s);
                } else {
                    expect_gen(fx.store, s);
                }
            }
            fx_append_gen(&fx, RECOVERY_MSG_COUNT + 1);
            fx_close(&fx);
        }
    }
    fx_fini(&fx);
}
END_TEST

START_TEST(test_recovery_empty_last_segment_after_gap)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    uint64_t seq = 0;
    while (info_of(fx.store).segment_count < 2) {
        fx_append_gen(&fx, ++seq);
    }
    fx_close(&fx);
    /* The crash came after segment 2 was created and before the batch holding the last
     * record of segment 1, and segment 2's first record, reached the disk. */
    char file[256];
    uint64_t offsets[RECOVERY_OFFSETS_MAX];
    uint64_t end;
    segment_path(&fx, 1, file, sizeof file);
    uint32_t count = segment_record_offsets(file, offsets, RECOVERY_OFFSETS_MAX, &end);
    ck_assert_uint_eq(count, seq - 1);
    file_zero(file, offsets[count - 1], SMALL_SEGMENT_SIZE - offsets[count - 1]);
    segment_path(&fx, 2, file, sizeof file);
    file_zero(file, SEGMENT_HEADER_SIZE, SMALL_SEGMENT_SIZE - SEGMENT_HEADER_SIZE);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.last_seq, seq - 2);
    ck_assert_uint_eq(info.lost_count, 0);
    ck_assert_uint_eq(info.segment_count, 1);
    fx_append_gen(&fx, seq - 1);
    fx_append_gen(&fx, seq);
    fx_reopen(&fx);
    for (uint64_t s = 1; s <= seq; s++) {
        expect_gen(fx.store, s);
    }
    fx_fini(&fx);
}
END_TEST

START_TEST(test_recovery_damaged_header_and_leftovers)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 40);
    fx_close(&fx);
    /* A file half created by a crash is removed. */
    char leftover[256];
    snprintf(leftover, sizeof leftover, "%s/.00000000000000000099.seg.tmp", fx.path);
    int fd = open(leftover, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    fx_open_ok(&fx);
    ck_assert_int_eq(access(leftover, F_OK), -1);
    ck_assert_uint_eq(info_of(fx.store).last_seq, 40);
    fx_close(&fx);
    /* A damaged segment header: the salt is gone, so nothing in it can be validated. */
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    file_flip_byte(file, 30);
    ck_assert_int_eq(fx_open(&fx), -EBADMSG);
    ck_assert_ptr_null(fx.store);
    file_flip_byte(file, 30);
    /* A header shorter than a header. */
    ck_assert_int_eq(truncate(file, 10), 0);
    ck_assert_int_eq(fx_open(&fx), -EBADMSG);
    fx_fini(&fx);
}
END_TEST

static Suite *store_recovery_suite(void)
{
    Suite *suite = suite_create("store_recovery");
    TCase *tc = tcase_create("store_recovery");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_recovery_last_segment_every_boundary);
    tcase_add_test(tc, test_recovery_inner_segment_every_boundary);
    tcase_add_test(tc, test_recovery_empty_last_segment_after_gap);
    tcase_add_test(tc, test_recovery_damaged_header_and_leftovers);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(store_recovery_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
