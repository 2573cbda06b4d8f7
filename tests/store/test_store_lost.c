/* Check tests for what recovery reports, and how often: the sequences lost to damage in an
 * older segment (stream_store_lost, info.lost_count and lost_bytes) at every record
 * boundary, less those a floor or a tombstone had removed anyway, and capped in ranges;
 * a segment whose last record leaves fewer bytes than the smallest record (zeros or
 * not) is a clean end; a torn tail, of the last segment or of an older one that lost no
 * message, is reported by one open only (its bytes zeroed); and the log line of a segment
 * that cannot be created on a full disk is written at most once a second, with a count of
 * those held back.
 *
 * The one idea: damage is reported exactly, and once unless it lost messages. Every test
 * runs in its own process (Check's fork mode, so the log destination each one sets stays
 * its own) and its own mkdtemp directory. */
#include "base/log.h"
#include "store/record.h"
#include "store/segment.h"
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
#include <sys/stat.h>
#include <unistd.h>

enum {
    LOST_MSG_COUNT = 60,
    LOST_OFFSETS_MAX = 2048,
    /* Tiny records (subject "t", no payload): 49 bytes, 1334 to a 64 KiB segment. */
    TINY_RECORD_SIZE = RECORD_OVERHEAD_SIZE + 1,
    /* Room for the log lines a test reads back. */
    LOG_TEXT_SIZE = 1 << 16,
};

/* One past the last byte of `file` that is not zero. */
static uint64_t file_written_end(const char *file)
{
    int fd = open(file, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    uint8_t *bytes = malloc((size_t)st.st_size);
    ck_assert_int_eq(pread(fd, bytes, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    uint64_t end = (uint64_t)st.st_size;
    while (end > 0 && bytes[end - 1] == 0) {
        end--;
    }
    free(bytes);
    return end;
}

static bool file_is_zero(const char *file, uint64_t offset, uint64_t size)
{
    int fd = open(file, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    uint8_t *bytes = malloc((size_t)size);
    ck_assert_int_eq(pread(fd, bytes, (size_t)size, (off_t)offset), (ssize_t)size);
    close(fd);
    bool zero = true;
    for (uint64_t i = 0; i < size; i++) {
        zero = zero && bytes[i] == 0;
    }
    free(bytes);
    return zero;
}

static void file_write(const char *file, uint64_t offset, uint8_t byte, uint64_t size)
{
    int fd = open(file, O_RDWR);
    ck_assert_int_ge(fd, 0);
    for (uint64_t i = 0; i < size; i++) {
        ck_assert_int_eq(pwrite(fd, &byte, 1, (off_t)(offset + i)), 1);
    }
    close(fd);
}

/* Sends the log to a fresh file; returns its descriptor. */
static int log_capture(const struct fixture *fx)
{
    char file[160];
    snprintf(file, sizeof file, "%s/log", fx->root);
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    log_configure(fd, LOG_LEVEL_INFO);
    return fd;
}

/* How many lines logged to `fd` so far contain `text`. */
static uint32_t log_count(int fd, const char *text)
{
    static char log[LOG_TEXT_SIZE];
    ssize_t size = pread(fd, log, sizeof log - 1, 0);
    ck_assert_int_ge(size, 0);
    log[size] = '\0';
    uint32_t count = 0;
    for (const char *at = strstr(log, text); at != NULL; at = strstr(at + 1, text)) {
        count++;
    }
    return count;
}

static void expect_lost(struct stream_store *store, uint64_t first, uint64_t last)
{
    static uint64_t seqs[LOST_OFFSETS_MAX];
    ck_assert_uint_eq(info_of(store).lost_count, last + 1 - first);
    size_t count = stream_store_lost(store, seqs, LOST_OFFSETS_MAX);
    ck_assert_uint_eq(count, last + 1 - first);
    for (size_t i = 0; i < count; i++) {
        ck_assert_uint_eq(seqs[i], first + i);
    }
}

/* Damage in the first of several segments at each record: the rest of that segment is
 * lost, listed, and its bytes (to the end of what was written) counted, at every open
 * while the segment holds a message. */
START_TEST(test_lost_every_boundary)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, LOST_MSG_COUNT);
    fx_close(&fx);
    char pristine[128];
    snprintf(pristine, sizeof pristine, "%s/pristine", fx.root);
    copy_tree(fx.path, pristine);
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    static uint64_t offsets[LOST_OFFSETS_MAX];
    uint64_t end = 0;
    uint32_t count = segment_record_offsets(file, offsets, LOST_OFFSETS_MAX, &end);
    ck_assert_uint_gt(count, 2);
    for (uint32_t k = 0; k < count; k++) {
        for (int variant = 0; variant < 2; variant++) {
            copy_tree(pristine, fx.path);
            uint64_t written_end = file_written_end(file);
            if (variant == 0) {
                file_flip_byte(file, offsets[k] + RECORD_HEADER_SIZE + 1);
            } else {
                ck_assert_int_eq(truncate(file, (off_t)offsets[k]), 0);
                written_end = offsets[k];
            }
            /* With nothing left in it (k 0), the segment goes at the first open. */
            for (int open = 0; open < (k == 0 ? 1 : 2); open++) {
                fx_open_ok(&fx);
                expect_lost(fx.store, k + 1, count);
                ck_assert_uint_eq(info_of(fx.store).lost_bytes, written_end - offsets[k]);
                uint64_t seq = 0;
                ck_assert_uint_eq(stream_store_lost(fx.store, &seq, 1), 1);
                ck_assert_uint_eq(seq, k + 1);
                ck_assert_uint_eq(stream_store_lost(fx.store, &seq, 0), 0);
                fx_close(&fx);
            }
        }
    }
    /* Undamaged: nothing lost. */
    copy_tree(pristine, fx.path);
    fx_open_ok(&fx);
    ck_assert_uint_eq(info_of(fx.store).lost_count, 0);
    ck_assert_uint_eq(info_of(fx.store).lost_bytes, 0);
    uint64_t seq = 0;
    ck_assert_uint_eq(stream_store_lost(fx.store, &seq, 1), 0);
    fx_fini(&fx);
}
END_TEST

/* Sequences a floor or a tombstone had removed before the damage were not lost by it. */
START_TEST(test_lost_less_removed)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, LOST_MSG_COUNT);
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    fx_drain(&fx);
    static uint64_t offsets[LOST_OFFSETS_MAX];
    uint64_t end = 0;
    uint32_t count = segment_record_offsets(file, offsets, LOST_OFFSETS_MAX, &end);
    ck_assert_uint_gt(count, 6);
    ck_assert_int_eq(stream_store_delete(fx.store, count - 2), 0);
    struct stream_store_purge_request request = {.up_to_seq = 3};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, NULL), 0);
    fx_close(&fx);
    file_flip_byte(file, offsets[1] + RECORD_HEADER_SIZE + 1); /* from sequence 2 on */
    fx_open_ok(&fx);
    static uint64_t seqs[LOST_OFFSETS_MAX];
    size_t listed = stream_store_lost(fx.store, seqs, LOST_OFFSETS_MAX);
    ck_assert_uint_eq(info_of(fx.store).lost_count, count - 3);
    ck_assert_uint_eq(listed, count - 3);
    size_t i = 0;
    for (uint64_t seq = 3; seq <= count; seq++) {
        if (seq != count - 2) {
            ck_assert_uint_eq(seqs[i++], seq);
        }
    }
    fx_fini(&fx);
}
END_TEST

/* More ranges than STREAM_STORE_LOST_RANGES_MAX: counted, not listed. */
START_TEST(test_lost_ranges_capped)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = CRASH_SEGMENT_SIZE;
    fx_open_ok(&fx);
    uint64_t seq = 0;
    while (info_of(fx.store).segment_count < 2) {
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"t", 1, NULL, 0, NULL,
                                             0, &seq),
                         0);
    }
    uint64_t first_segment_count = (CRASH_SEGMENT_SIZE - SEGMENT_HEADER_SIZE) / TINY_RECORD_SIZE;
    ck_assert_uint_eq(seq, first_segment_count + 1);
    for (uint64_t deleted = 3; deleted <= first_segment_count; deleted += 2) {
        ck_assert_int_eq(stream_store_delete(fx.store, deleted), 0);
    }
    fx_close(&fx);
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    file_flip_byte(file, SEGMENT_HEADER_SIZE + TINY_RECORD_SIZE + RECORD_HEADER_SIZE);
    fx_open_ok(&fx);
    /* Lost: the even sequences from 2 on, and the last one of the segment if odd. */
    uint64_t lost = first_segment_count / 2 + (first_segment_count % 2);
    ck_assert_uint_eq(info_of(fx.store).lost_count, lost);
    ck_assert_uint_gt(lost, STREAM_STORE_LOST_RANGES_MAX);
    static uint64_t seqs[LOST_OFFSETS_MAX];
    size_t listed = stream_store_lost(fx.store, seqs, LOST_OFFSETS_MAX);
    ck_assert_uint_eq(listed, STREAM_STORE_LOST_RANGES_MAX);
    for (size_t i = 0; i < listed; i++) {
        ck_assert_uint_eq(seqs[i], 2 + 2 * i);
    }
    fx_fini(&fx);
}
END_TEST

/* Two messages that leave `tail` bytes at the end of the first 4 KiB segment, and a third
 * in the next: recovery finds a clean end there, whatever the tail holds. */
START_TEST(test_short_tail_is_clean_end)
{
    static const uint32_t tails[] = {1, 2, 3, 4, 5, RECORD_OVERHEAD_SIZE - 1};
    static uint8_t payload[SMALL_SEGMENT_SIZE];
    uint32_t room = SMALL_SEGMENT_SIZE - SEGMENT_HEADER_SIZE;
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        for (int garbage = 0; garbage < 2; garbage++) {
            struct fixture fx;
            fx_init(&fx);
            fx.config.segment_size = SMALL_SEGMENT_SIZE;
            fx_open_ok(&fx);
            uint32_t first = room / 2;
            uint32_t second = room - tails[i] - first;
            uint64_t seq = 0;
            ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0,
                                                 payload, first - TINY_RECORD_SIZE, &seq),
                             0);
            ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0,
                                                 payload, second - TINY_RECORD_SIZE, &seq),
                             0);
            ck_assert_uint_eq(info_of(fx.store).segment_count, 1);
            ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0,
                                                 payload, 1, &seq),
                             0);
            ck_assert_uint_eq(info_of(fx.store).segment_count, 2);
            fx_close(&fx);
            char file[256];
            segment_path(&fx, 1, file, sizeof file);
            if (garbage) {
                file_write(file, SMALL_SEGMENT_SIZE - tails[i], 0xa5, tails[i]);
            }
            int log_fd = log_capture(&fx);
            fx_open_ok(&fx);
            struct stream_store_info info = info_of(fx.store);
            ck_assert_uint_eq(info.truncated_count, 0);
            ck_assert_uint_eq(info.lost_count, 0);
            ck_assert_uint_eq(info.msg_count, 3);
            ck_assert_uint_eq(log_count(log_fd, "does not validate"), 0);
            close(log_fd);
            fx_fini(&fx);
        }
    }
}
END_TEST

/* A torn tail of the last segment: reported by the first open, which zeroes it and goes
 * on in place; the next opens find a clean end. */
START_TEST(test_torn_tail_reported_once)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = CRASH_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 30);
    fx_close(&fx);
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    static uint64_t offsets[LOST_OFFSETS_MAX];
    uint64_t end = 0;
    ck_assert_uint_eq(segment_record_offsets(file, offsets, LOST_OFFSETS_MAX, &end), 30);
    file_flip_byte(file, offsets[24] + RECORD_HEADER_SIZE + 3);
    int log_fd = log_capture(&fx);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.truncated_count, 1);
    ck_assert_uint_eq(info.last_seq, 24);
    ck_assert_uint_eq(info.segment_count, 1); /* in place, no new segment */
    ck_assert_uint_eq(info.lost_count, 0);
    ck_assert(file_is_zero(file, offsets[24], end - offsets[24]));
    ck_assert_uint_eq(log_count(log_fd, "does not validate"), 1);
    ck_assert_uint_eq(log_count(log_fd, "zeroed"), 1);
    fx.now_ns += 1000;
    uint64_t seq = 0;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"other", 5, NULL, 0,
                                         (const uint8_t *)"x", 1, &seq),
                     0);
    ck_assert_uint_eq(seq, 25);
    for (int open = 0; open < 2; open++) {
        fx_reopen(&fx);
        info = info_of(fx.store);
        ck_assert_uint_eq(info.truncated_count, 0);
        ck_assert_uint_eq(info.last_seq, 25);
        ck_assert_uint_eq(info.segment_count, 1);
    }
    ck_assert_uint_eq(log_count(log_fd, "does not validate"), 1);
    for (uint64_t s = 1; s <= 24; s++) {
        expect_gen(fx.store, s);
    }
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_get(fx.store, 25, &msg), 0);
    ck_assert_uint_eq(msg.subject_length, 5);
    close(log_fd);
    fx_fini(&fx);
}
END_TEST

/* A torn tail of an older segment whose next segment starts right after its last message
 * (what an open that could not zero it left): reported once, zeroed. */
START_TEST(test_torn_inner_tail_without_loss)
{
    static uint8_t payload[2000];
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    uint32_t record_size = 1900;
    uint64_t seq = 0;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0,
                                             payload, record_size - TINY_RECORD_SIZE, &seq),
                         0);
    }
    ck_assert_uint_eq(info_of(fx.store).segment_count, 2);
    fx_close(&fx);
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    uint64_t tail = SEGMENT_HEADER_SIZE + 2 * (uint64_t)record_size;
    ck_assert_uint_ge(SMALL_SEGMENT_SIZE - tail, RECORD_OVERHEAD_SIZE);
    file_write(file, tail, 0xff, 8);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.truncated_count, 1);
    ck_assert_uint_eq(info.lost_count, 0);
    ck_assert_uint_eq(info.msg_count, 3);
    ck_assert(file_is_zero(file, tail, 8));
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.truncated_count, 0);
    ck_assert_uint_eq(info.msg_count, 3);
    fx_fini(&fx);
}
END_TEST

/* A full disk refuses every append that needs a new segment: one log line a second, the
 * next one saying how many were held back. The store goes on (space may come back). */
START_TEST(test_enospc_log_rate_limited)
{
    /* Larger than what is left of any segment once one append was refused. */
    static const uint8_t big[SMALL_SEGMENT_SIZE / 2];
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    int log_fd = log_capture(&fx);
    fx.io.allocate_error = -ENOSPC;
    uint64_t seq = 0;
    int rc = 0;
    for (uint64_t next = 1; rc == 0; next++) {
        struct gen_msg msg;
        gen_msg_make(next, &msg);
        rc = stream_store_append(fx.store, (const uint8_t *)msg.subject, msg.subject_length,
                                 msg.header, msg.header_length, msg.payload, msg.payload_length,
                                 &seq);
    }
    ck_assert_int_eq(rc, -ENOSPC);
    for (int i = 0; i < 50; i++) {
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, big,
                                             sizeof big, &seq),
                         -ENOSPC);
    }
    fx.now_ns += 999999999;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, big,
                                         sizeof big, &seq),
                     -ENOSPC);
    ck_assert_uint_eq(log_count(log_fd, "cannot create segment"), 1);
    ck_assert_uint_eq(log_count(log_fd, "cannot preallocate"), 0);
    ck_assert_uint_eq(log_count(log_fd, "times since the last line"), 0);
    fx.now_ns += 1;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, big,
                                         sizeof big, &seq),
                     -ENOSPC);
    ck_assert_uint_eq(log_count(log_fd, "cannot create segment"), 2);
    ck_assert_uint_eq(log_count(log_fd, "(and 51 times since the last line)"), 1);
    ck_assert_int_eq(info_of(fx.store).failure, 0);
    fx.io.allocate_error = 0;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0,
                                         (const uint8_t *)"x", 1, &seq),
                     0);
    log_configure(STDERR_FILENO, LOG_LEVEL_INFO);
    close(log_fd);
    fx_fini(&fx);
}
END_TEST

static Suite *lost_suite(void)
{
    Suite *suite = suite_create("store_lost");
    TCase *tc = tcase_create("store_lost");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_lost_every_boundary);
    tcase_add_test(tc, test_lost_less_removed);
    tcase_add_test(tc, test_lost_ranges_capped);
    tcase_add_test(tc, test_short_tail_is_clean_end);
    tcase_add_test(tc, test_torn_tail_reported_once);
    tcase_add_test(tc, test_torn_inner_tail_without_loss);
    tcase_add_test(tc, test_enospc_log_rate_limited);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(lost_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
