/* Check tests for skipped sequences (stream_store_skip), which stream mirroring asks of the
 * stream store (its timed appends are tested with time, in test_store_limits.c): on an
 * empty store (a purge that moves last_seq, any gap), with messages held (a SKIP record:
 * reads, next, deleted_count, the bound, refusals), across reopens and crash-like closes,
 * under max_msgs eviction, purges, per-subject limits and the three byte accountings, at a
 * segment roll, and a damaged SKIP record cutting the log (or, in an inner segment, losing
 * what it assigned).
 *
 * The one idea: a skipped sequence is a deleted one that never held a message, and what a
 * call returns is what a reopen finds. Every test runs in its own process (Check's fork
 * mode) and its own mkdtemp directory. */
#include "store/record.h"
#include "store/segment.h"
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
#include <unistd.h>

enum {
    /* Record offsets a damaged-skip case looks at in one small segment. */
    SKIP_OFFSETS_MAX = 256,
    /* Sequences stream_store_lost may list in the inner-segment case. */
    SKIP_LOST_MAX = 4096,
    /* Payload bytes of a 100-byte record on subject "a": 48 + 1 + 51. */
    SKIP_FILL_PAYLOAD = 51,
    SKIP_FILL_RECORD_SIZE = 100,
};

static const uint8_t skip_subject[] = "a";

/* Appends a message on "a" with `payload_length` zero bytes; returns its sequence. */
static uint64_t append_raw(struct fixture *fx, uint32_t payload_length)
{
    static const uint8_t payload[PAYLOAD_SIZE_MAX];
    ck_assert_uint_le(payload_length, PAYLOAD_SIZE_MAX);
    uint64_t seq = 0;
    int rc = stream_store_append(fx->store, skip_subject, 1, NULL, 0, payload, payload_length,
                                 &seq);
    ck_assert_msg(rc == 0, "append: %s", strerror(-rc));
    return seq;
}

static void skip_ok(struct fixture *fx, uint64_t through_seq)
{
    int rc = stream_store_skip(fx->store, through_seq);
    ck_assert_msg(rc == 0, "skip through %" PRIu64 ": %s", through_seq, strerror(-rc));
    ck_assert_uint_eq(info_of(fx->store).last_seq, through_seq);
}

/* The counters a refused call must leave as they were. */
static void expect_same_info(const struct stream_store_info *before,
                             const struct stream_store_info *after)
{
    ck_assert_uint_eq(after->msg_count, before->msg_count);
    ck_assert_uint_eq(after->byte_count, before->byte_count);
    ck_assert_uint_eq(after->first_seq, before->first_seq);
    ck_assert_uint_eq(after->last_seq, before->last_seq);
    ck_assert_uint_eq(after->deleted_count, before->deleted_count);
    ck_assert_uint_eq(after->segment_count, before->segment_count);
    ck_assert_uint_eq(after->lsn, before->lsn);
    ck_assert_uint_eq(after->pending_bytes, before->pending_bytes);
    ck_assert_uint_eq(after->index_bytes, before->index_bytes);
}

/* ---- skips with no message held ------------------------------------------------------- */

START_TEST(test_skip_empty)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    skip_ok(&fx, 10);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 11);
    ck_assert_uint_eq(info.msg_count, 0);
    ck_assert_uint_eq(info.deleted_count, 0);
    ck_assert_uint_eq(info.segment_count, 1);
    ck_assert_int_eq(stream_store_skip(fx.store, 10), -EINVAL);
    ck_assert_int_eq(stream_store_skip(fx.store, 3), -EINVAL);
    ck_assert_int_eq(stream_store_skip(fx.store, UINT64_MAX), -EINVAL);
    /* Durable when it returns: a crash-like close keeps it. */
    fx_close_discarding(&fx);
    fx_open_ok(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 11);
    ck_assert_uint_eq(info.last_seq, 10);
    fx_append_gen(&fx, 11);
    expect_gone(fx.store, 10);
    expect_gen(fx.store, 11);
    /* Emptied by a delete, then a huge gap: no memory per sequence. */
    ck_assert_int_eq(stream_store_delete(fx.store, 11), 0);
    uint64_t far = (uint64_t)1 << 40;
    skip_ok(&fx, far);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, far + 1);
    ck_assert_uint_eq(info.deleted_count, 0);
    ck_assert_uint_eq(info.segment_count, 1);
    ck_assert_uint_lt(info.index_bytes, (uint64_t)1 << 20);
    ck_assert_uint_eq(count_segment_files(fx.path), 1);
    fx_append_gen(&fx, far + 1);
    fx_append_gen(&fx, far + 2);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, far + 1);
    ck_assert_uint_eq(info.last_seq, far + 2);
    ck_assert_uint_eq(info.msg_count, 2);
    expect_gone(fx.store, 11);
    expect_gen(fx.store, far + 1);
    expect_gen(fx.store, far + 2);
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_next(fx.store, 1, &msg), 0);
    ck_assert_uint_eq(msg.seq, far + 1);
    fx_fini(&fx);
}
END_TEST

/* The last sequence a store assigns: a skip may go there, and then no append fits. */
START_TEST(test_skip_to_the_end)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    skip_ok(&fx, STREAM_STORE_SEQ_MAX);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, UINT64_MAX);
    uint64_t seq = 0;
    ck_assert_int_eq(stream_store_append(fx.store, skip_subject, 1, NULL, 0, NULL, 0, &seq),
                     -EOVERFLOW);
    ck_assert_int_eq(stream_store_skip(fx.store, UINT64_MAX), -EINVAL);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.last_seq, STREAM_STORE_SEQ_MAX);
    ck_assert_uint_eq(info.first_seq, UINT64_MAX);
    ck_assert_int_eq(stream_store_append(fx.store, skip_subject, 1, NULL, 0, NULL, 0, &seq),
                     -EOVERFLOW);
    fx_fini(&fx);
}
END_TEST

/* ---- skips with messages held --------------------------------------------------------- */

START_TEST(test_skip_held)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 10);
    struct stream_store_info before = info_of(fx.store);
    skip_ok(&fx, 100);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 10);
    ck_assert_uint_eq(info.first_seq, 1);
    ck_assert_uint_eq(info.deleted_count, 90);
    ck_assert_uint_eq(info.byte_count, before.byte_count);
    ck_assert_uint_eq(info.subject_count, before.subject_count);
    ck_assert_uint_eq(info.lsn, before.lsn + 1); /* one record */
    ck_assert_int_eq(info.last_timestamp_ns, before.last_timestamp_ns);
    for (uint64_t seq = 11; seq <= 101; seq++) {
        expect_gone(fx.store, seq);
    }
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_next(fx.store, 11, &msg), -ENOENT);
    ck_assert_int_eq(stream_store_delete(fx.store, 50), -ENOENT);
    ck_assert_int_eq(stream_store_skip(fx.store, 100), -EINVAL);
    ck_assert_int_eq(stream_store_skip(fx.store, 99), -EINVAL);
    ck_assert_int_eq(stream_store_skip(fx.store, UINT64_MAX), -EINVAL);
    fx.now_ns += 1000;
    fx_append_gen(&fx, 101);
    ck_assert_int_eq(stream_store_next(fx.store, 11, &msg), 0);
    ck_assert_uint_eq(msg.seq, 101);
    uint64_t seq = 0;
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, fx.now_ns, &seq), 0);
    ck_assert_uint_eq(seq, 101);
    ck_assert_int_eq(stream_store_subject_last(fx.store, (const uint8_t *)"gen.1", 5, &seq), 0);
    ck_assert_uint_eq(seq, 101);
    /* Durable with the next commit: `committed` reports up to the run's end. */
    skip_ok(&fx, 200);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_seq, 200);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.deleted_count, 189);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.last_seq, 200);
    ck_assert_uint_eq(info.first_seq, 1);
    ck_assert_uint_eq(info.msg_count, 11);
    ck_assert_uint_eq(info.deleted_count, 189);
    ck_assert_uint_eq(info.truncated_count, 0);
    ck_assert_uint_eq(info.lost_count, 0);
    for (uint64_t s = 1; s <= 10; s++) {
        expect_gen(fx.store, s);
    }
    for (uint64_t s = 11; s <= 100; s++) {
        expect_gone(fx.store, s);
    }
    expect_gen(fx.store, 101);
    fx_append_gen(&fx, 201);
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, fx.now_ns, &seq), 0);
    ck_assert_uint_eq(seq, 101);
    /* Deleting what is before the gap moves first_seq over it. */
    for (uint64_t s = 1; s <= 10; s++) {
        ck_assert_int_eq(stream_store_delete(fx.store, s), 0);
    }
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 101);
    ck_assert_uint_eq(info.deleted_count, 99);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 101);
    ck_assert_uint_eq(info.deleted_count, 99);
    fx_fini(&fx);
}
END_TEST

/* A crash-like close (batches never written are lost) takes the unflushed tail only. */
START_TEST(test_skip_crash)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 10);
    fx_drain(&fx);
    skip_ok(&fx, 50);
    fx_close_discarding(&fx);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.last_seq, 10);
    ck_assert_uint_eq(info.msg_count, 10);
    skip_ok(&fx, 50);
    fx_drain(&fx);
    fx_append_gen_range(&fx, 51, 55);
    fx_close_discarding(&fx);
    fx_open_ok(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.last_seq, 50);
    ck_assert_uint_eq(info.msg_count, 10);
    ck_assert_uint_eq(info.deleted_count, 40);
    fx_append_gen_range(&fx, 51, 52);
    fx_drain(&fx);
    fx_close_discarding(&fx);
    fx_open_ok(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.last_seq, 52);
    for (uint64_t s = 1; s <= 10; s++) {
        expect_gen(fx.store, s);
    }
    for (uint64_t s = 11; s <= 50; s++) {
        expect_gone(fx.store, s);
    }
    expect_gen(fx.store, 51);
    expect_gen(fx.store, 52);
    fx_fini(&fx);
}
END_TEST

/* The bound on a run while messages are held, with nothing changed past it; a run that
 * would take a segment past seg_seq_max rolls over to a new one. */
START_TEST(test_skip_bound)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 5);
    struct stream_store_info before = info_of(fx.store);
    ck_assert_int_eq(stream_store_skip(fx.store, 5 + (uint64_t)STREAM_STORE_SKIP_HELD_MAX + 1),
                     -E2BIG);
    ck_assert_int_eq(stream_store_skip(fx.store, (uint64_t)1 << 40), -E2BIG);
    struct stream_store_info after = info_of(fx.store);
    expect_same_info(&before, &after);
    uint64_t first_end = 5 + (uint64_t)STREAM_STORE_SKIP_HELD_MAX;
    skip_ok(&fx, first_end);
    ck_assert_uint_eq(info_of(fx.store).segment_count, 1);
    fx_append_gen(&fx, first_end + 1);
    /* A second full run does not fit the segment's sequences: a new segment takes it. */
    uint64_t second_end = first_end + 1 + STREAM_STORE_SKIP_HELD_MAX;
    skip_ok(&fx, second_end);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.segment_count, 2);
    ck_assert_uint_eq(info.msg_count, 6);
    ck_assert_uint_eq(info.deleted_count, second_end - 6);
    fx_append_gen(&fx, second_end + 1);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.segment_count, 2);
    ck_assert_uint_eq(info.last_seq, second_end + 1);
    ck_assert_uint_eq(info.msg_count, 7);
    ck_assert_uint_eq(info.lost_count, 0);
    fx_append_gen(&fx, second_end + 2);
    expect_gen(fx.store, first_end + 1);
    expect_gone(fx.store, first_end + 2);
    expect_gone(fx.store, second_end);
    expect_gen(fx.store, second_end + 1);
    /* Once the first segment's messages are gone, it goes with them. */
    for (uint64_t s = 1; s <= 5; s++) {
        ck_assert_int_eq(stream_store_delete(fx.store, s), 0);
    }
    ck_assert_int_eq(stream_store_delete(fx.store, first_end + 1), 0);
    fx_drain(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, second_end + 1);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.segment_count, 1);
    ck_assert_uint_eq(info.first_seq, second_end + 1);
    ck_assert_uint_eq(info.msg_count, 2);
    ck_assert_uint_eq(info.deleted_count, 0);
    fx_fini(&fx);
}
END_TEST

/* Refused skips change nothing: a full disk with nothing held (the purged segment cannot
 * be created) or held (the roll it needs), pending_bytes_max, a stopped store. */
START_TEST(test_skip_refusals)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx.config.batch_size = 1024;
    fx.config.pending_bytes_max = 1024;
    fx_open_ok(&fx);
    fx.io.allocate_error = -ENOSPC;
    struct stream_store_info before = info_of(fx.store);
    ck_assert_int_eq(stream_store_skip(fx.store, 10), -ENOSPC);
    struct stream_store_info after = info_of(fx.store);
    expect_same_info(&before, &after);
    ck_assert_uint_eq(count_segment_files(fx.path), 1);
    fx.io.allocate_error = 0;
    fx_append_gen(&fx, 1);
    fx_drain(&fx);
    /* Held, and the segment's sequences are full: the roll the skip needs fails. */
    skip_ok(&fx, 1 + STREAM_STORE_SKIP_HELD_MAX);
    fx.io.allocate_error = -ENOSPC;
    before = info_of(fx.store);
    ck_assert_int_eq(stream_store_skip(fx.store, before.last_seq + STREAM_STORE_SKIP_HELD_MAX),
                     -ENOSPC);
    after = info_of(fx.store);
    expect_same_info(&before, &after);
    fx.io.allocate_error = 0;
    /* pending_bytes_max: a batch's write held until reaped. */
    int rc = 0;
    uint64_t through = info_of(fx.store).last_seq;
    for (int i = 0; i < 1024 / RECORD_OVERHEAD_SIZE + 2 && rc == 0; i++) {
        before = info_of(fx.store);
        rc = stream_store_skip(fx.store, ++through);
    }
    ck_assert_int_eq(rc, -EAGAIN);
    after = info_of(fx.store);
    expect_same_info(&before, &after);
    fx_drain(&fx);
    skip_ok(&fx, through);
    /* A stopped store says why. */
    fx.io.write_fail = true;
    fx_drain(&fx);
    ck_assert_int_ne(fx.failed_error, 0);
    ck_assert_int_eq(stream_store_skip(fx.store, through + 1), fx.failed_error);
    ck_assert_int_eq(stream_store_skip(fx.store, through), fx.failed_error);
    fx_fini(&fx);
}
END_TEST

/* ---- skips and the limits -------------------------------------------------------------- */

START_TEST(test_skip_max_msgs)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx.config.max_msgs = 5;
    fx_open_ok(&fx);
    enum { MAX_MSGS_APPENDED = 60 }; /* over several small segments */
    uint64_t last = MAX_MSGS_APPENDED;
    fx_append_gen_range(&fx, 1, last);
    ck_assert_uint_ge(info_of(fx.store).segment_count, 2);
    skip_ok(&fx, last + 1000);
    fx_append_gen_range(&fx, last + 1001, last + 1003);
    /* Eviction walks from first_seq over the gap. */
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 5);
    ck_assert_uint_eq(info.first_seq, last - 1);
    ck_assert_uint_eq(info.deleted_count, 1000);
    fx_append_gen_range(&fx, last + 1004, last + 1005);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, last + 1001);
    ck_assert_uint_eq(info.deleted_count, 0);
    fx_drain(&fx);
    ck_assert_uint_le(info_of(fx.store).segment_count, 2);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 5);
    ck_assert_uint_eq(info.first_seq, last + 1001);
    ck_assert_uint_eq(info.last_seq, last + 1005);
    for (uint64_t s = last + 1001; s <= last + 1005; s++) {
        expect_gen(fx.store, s);
    }
    /* max_age across the gap too. */
    skip_ok(&fx, last + 2000);
    fx.now_ns += 1000000;
    fx_append_gen(&fx, last + 2001);
    fx.config.max_age_ns = 1000;
    ck_assert_int_eq(stream_store_limits_set(fx.store, &fx.config), 0);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 1);
    ck_assert_uint_eq(info.first_seq, last + 2001);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).first_seq, last + 2001);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_skip_purge)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 10);
    skip_ok(&fx, 50);
    fx_append_gen_range(&fx, 51, 55);
    uint64_t purged = 0;
    struct stream_store_purge_request below = {.up_to_seq = 53};
    ck_assert_int_eq(stream_store_purge(fx.store, &below, &purged), 0);
    ck_assert_uint_eq(purged, 12);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 53);
    ck_assert_uint_eq(info.deleted_count, 0);
    /* One subject across the gap: the only gen.1 message held is 71, after it. */
    skip_ok(&fx, 70);
    fx_append_gen(&fx, 71);
    struct stream_store_purge_request subject = {.subject = (const uint8_t *)"gen.1",
                                                 .subject_length = 5};
    ck_assert_int_eq(stream_store_purge(fx.store, &subject, &purged), 0);
    ck_assert_uint_eq(purged, 1);
    expect_gone(fx.store, 71);
    struct stream_store_purge_request keep = {.keep = 1};
    ck_assert_int_eq(stream_store_purge(fx.store, &keep, &purged), 0);
    ck_assert_uint_eq(purged, 2);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 55);
    ck_assert_uint_eq(info.msg_count, 1);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 55);
    ck_assert_uint_eq(info.last_seq, 71);
    ck_assert_uint_eq(info.msg_count, 1);
    expect_gen(fx.store, 55);
    /* Everything: then a skip is a purge again. */
    ck_assert_int_eq(stream_store_purge(fx.store, NULL, &purged), 0);
    ck_assert_uint_eq(purged, 1);
    skip_ok(&fx, 80);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 81);
    fx_append_gen(&fx, 81);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 81);
    ck_assert_uint_eq(info.last_seq, 81);
    ck_assert_uint_eq(info.msg_count, 1);
    fx_fini(&fx);
}
END_TEST

/* Under max_msgs_per_subject the chains step over a skip. */
START_TEST(test_skip_subject_limit)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_msgs_per_subject = 2;
    fx_open_ok(&fx);
    ck_assert_uint_eq(append_raw(&fx, 1), 1);
    ck_assert_uint_eq(append_raw(&fx, 1), 2);
    skip_ok(&fx, 100);
    ck_assert_uint_eq(append_raw(&fx, 1), 101);
    uint64_t seq = 0;
    ck_assert_int_eq(stream_store_subject_first(fx.store, skip_subject, 1, &seq), 0);
    ck_assert_uint_eq(seq, 2);
    skip_ok(&fx, 200);
    ck_assert_uint_eq(append_raw(&fx, 1), 201);
    ck_assert_int_eq(stream_store_subject_first(fx.store, skip_subject, 1, &seq), 0);
    ck_assert_uint_eq(seq, 101);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 101);
    fx_reopen(&fx);
    ck_assert_uint_eq(append_raw(&fx, 1), 202);
    ck_assert_int_eq(stream_store_subject_first(fx.store, skip_subject, 1, &seq), 0);
    ck_assert_uint_eq(seq, 201);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, skip_subject, 1), 2);
    fx_fini(&fx);
}
END_TEST

/* A skip counts no byte, in every accounting. */
START_TEST(test_skip_accounting)
{
    static const enum stream_store_accounting modes[] = {
        STREAM_STORE_ACCOUNTING_RECORD,
        STREAM_STORE_ACCOUNTING_FILE,
        STREAM_STORE_ACCOUNTING_MEMORY,
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        struct fixture fx;
        fx_init(&fx);
        fx.config.accounting = modes[i];
        fx_open_ok(&fx);
        fx_append_gen_range(&fx, 1, 10);
        uint64_t bytes = info_of(fx.store).byte_count;
        skip_ok(&fx, 30);
        ck_assert_uint_eq(info_of(fx.store).byte_count, bytes);
        fx_append_gen(&fx, 31);
        struct stream_store_msg msg;
        ck_assert_int_eq(stream_store_get(fx.store, 31, &msg), 0);
        bytes += msg.size;
        ck_assert_uint_eq(info_of(fx.store).byte_count, bytes);
        fx_reopen(&fx);
        ck_assert_uint_eq(info_of(fx.store).byte_count, bytes);
        fx_fini(&fx);
    }
}
END_TEST

/* ---- a skip at a segment's end --------------------------------------------------------- */

/* Fills the first small segment with 100-byte records and one of `last_size` bytes. */
static void fill_first_segment(struct fixture *fx, uint32_t last_size)
{
    enum { FILL_RECORDS = 38 };
    for (uint32_t i = 0; i < FILL_RECORDS; i++) {
        append_raw(fx, SKIP_FILL_PAYLOAD);
    }
    append_raw(fx, last_size - RECORD_OVERHEAD_SIZE - 1);
    ck_assert_uint_eq(info_of(fx->store).segment_count, 1);
}

START_TEST(test_skip_segment_roll)
{
    /* 38 records of 100 bytes and one of `last` leave 47 bytes: the skip rolls over;
     * one of 120 leaves exactly a SKIP record's 48: it fits. */
    uint32_t room = SMALL_SEGMENT_SIZE - SEGMENT_HEADER_SIZE - 38 * SKIP_FILL_RECORD_SIZE;
    for (int fits = 0; fits < 2; fits++) {
        struct fixture fx;
        fx_init(&fx);
        fx.config.segment_size = SMALL_SEGMENT_SIZE;
        fx_open_ok(&fx);
        uint32_t last_size = room - RECORD_OVERHEAD_SIZE + (fits ? 0 : 1);
        fill_first_segment(&fx, last_size);
        uint64_t last = info_of(fx.store).last_seq;
        skip_ok(&fx, last + 20);
        ck_assert_uint_eq(info_of(fx.store).segment_count, fits ? 1 : 2);
        fx_append_gen(&fx, last + 21);
        ck_assert_uint_eq(info_of(fx.store).segment_count, 2);
        fx_reopen(&fx);
        struct stream_store_info info = info_of(fx.store);
        ck_assert_uint_eq(info.segment_count, 2);
        ck_assert_uint_eq(info.last_seq, last + 21);
        ck_assert_uint_eq(info.msg_count, last + 1);
        ck_assert_uint_eq(info.deleted_count, 20);
        ck_assert_uint_eq(info.truncated_count, 0);
        ck_assert_uint_eq(info.lost_count, 0);
        expect_gone(fx.store, last + 1);
        expect_gone(fx.store, last + 20);
        expect_gen(fx.store, last + 21);
        /* Evicting the first segment's messages drops it; the gap stays gone. */
        struct stream_store_purge_request below = {.up_to_seq = last + 21};
        uint64_t purged = 0;
        ck_assert_int_eq(stream_store_purge(fx.store, &below, &purged), 0);
        ck_assert_uint_eq(purged, last);
        fx_reopen(&fx);
        info = info_of(fx.store);
        ck_assert_uint_eq(info.first_seq, last + 21);
        ck_assert_uint_eq(info.segment_count, 1);
        fx_fini(&fx);
    }
}
END_TEST

/* ---- damage ---------------------------------------------------------------------------- */

/* Records of segment 1: messages 1..5, a SKIP through 20, messages 21..25. A record cut
 * at index k ends the log after the sequences the records before it assigned. */
static uint64_t skip_layout_last_seq(uint32_t k)
{
    return k <= 5 ? k : 20 + (k - 6);
}

static uint64_t skip_layout_msg_count(uint32_t k)
{
    return k <= 5 ? k : 5 + (k - 6);
}

START_TEST(test_skip_damaged_record)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 5);
    skip_ok(&fx, 20);
    fx_append_gen_range(&fx, 21, 25);
    fx_close(&fx);
    char pristine[128];
    snprintf(pristine, sizeof pristine, "%s/pristine", fx.root);
    copy_tree(fx.path, pristine);
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    uint64_t offsets[SKIP_OFFSETS_MAX];
    uint64_t end = 0;
    uint32_t count = segment_record_offsets(file, offsets, SKIP_OFFSETS_MAX, &end);
    ck_assert_uint_eq(count, 11);
    for (uint32_t k = 0; k < count; k++) {
        for (int variant = 0; variant < 3; variant++) {
            copy_tree(pristine, fx.path);
            if (variant == 0) {
                file_flip_byte(file, offsets[k] + RECORD_HEADER_SIZE - 12); /* its floor */
            } else if (variant == 1) {
                ck_assert_int_eq(truncate(file, (off_t)offsets[k] + 5), 0);
            } else {
                file_zero(file, offsets[k], SMALL_SEGMENT_SIZE - offsets[k]);
            }
            fx_open_ok(&fx);
            uint64_t last = skip_layout_last_seq(k);
            struct stream_store_info info = info_of(fx.store);
            ck_assert_msg(info.last_seq == last, "record %u variant %d: last %" PRIu64, k,
                          variant, info.last_seq);
            ck_assert_uint_eq(info.msg_count, skip_layout_msg_count(k));
            ck_assert_uint_eq(info.truncated_count, variant == 2 ? 0 : 1);
            ck_assert_uint_eq(info.lost_count, 0);
            for (uint64_t s = 1; s <= last; s++) {
                if (s > 5 && s <= 20) {
                    expect_gone(fx.store, s);
                } else {
                    expect_gen(fx.store, s);
                }
            }
            fx_append_gen(&fx, last + 1);
            fx_reopen(&fx);
            ck_assert_uint_eq(info_of(fx.store).last_seq, last + 1);
            expect_gen(fx.store, last + 1);
            fx_close(&fx);
        }
    }
    fx_fini(&fx);
}
END_TEST

/* Damage to an inner segment before its SKIP record: the segment after it still starts
 * where the run ended, and what the run assigned is reported lost with the messages cut. */
START_TEST(test_skip_damaged_inner_segment)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 5);
    skip_ok(&fx, 1005); /* longer than the segment's bytes could hold messages */
    fx_append_gen(&fx, 1006);
    uint64_t last = fx_append_until_segments(&fx, 2);
    fx_close(&fx);
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    uint64_t offsets[SKIP_OFFSETS_MAX];
    uint64_t end = 0;
    uint32_t count = segment_record_offsets(file, offsets, SKIP_OFFSETS_MAX, &end);
    /* Messages 1..5, the SKIP, messages 1006..last - 1; `last` opened segment 2. */
    ck_assert_uint_eq(count, 6 + (last - 1006));
    file_flip_byte(file, offsets[5] + RECORD_HEADER_SIZE - 12);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.last_seq, last);
    ck_assert_uint_eq(info.truncated_count, 1);
    ck_assert_uint_eq(info.lost_count, last - 6);
    ck_assert_uint_eq(info.msg_count, 6);
    static uint64_t lost[SKIP_LOST_MAX];
    ck_assert_uint_lt(last - 6, SKIP_LOST_MAX);
    ck_assert_uint_eq(stream_store_lost(fx.store, lost, SKIP_LOST_MAX), last - 6);
    ck_assert_uint_eq(lost[0], 6);
    ck_assert_uint_eq(lost[last - 7], last - 1);
    for (uint64_t s = 1; s <= 5; s++) {
        expect_gen(fx.store, s);
    }
    for (uint64_t s = 6; s < last; s++) {
        expect_gone(fx.store, s);
    }
    expect_gen(fx.store, last);
    fx_append_gen(&fx, last + 1);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).lost_count, last - 6);
    expect_gen(fx.store, last + 1);
    fx_fini(&fx);
}
END_TEST

static Suite *store_skip_suite(void)
{
    Suite *suite = suite_create("store_skip");
    TCase *tc = tcase_create("store_skip");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_skip_empty);
    tcase_add_test(tc, test_skip_to_the_end);
    tcase_add_test(tc, test_skip_held);
    tcase_add_test(tc, test_skip_crash);
    tcase_add_test(tc, test_skip_bound);
    tcase_add_test(tc, test_skip_refusals);
    tcase_add_test(tc, test_skip_max_msgs);
    tcase_add_test(tc, test_skip_purge);
    tcase_add_test(tc, test_skip_subject_limit);
    tcase_add_test(tc, test_skip_accounting);
    tcase_add_test(tc, test_skip_segment_roll);
    tcase_add_test(tc, test_skip_damaged_record);
    tcase_add_test(tc, test_skip_damaged_inner_segment);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(store_skip_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
