/* Check tests for limits changed on an open store (stream_store_limits_set) and at open:
 * lowered max_msgs, max_bytes and max_age applied at once behind one floor record (and
 * durably: a reopen without the limits finds the same), discard new removing nothing,
 * max_msgs_per_subject turned on (the chains built from the log, then used by appends and
 * removals), lowered, and turned off (the chains freed), max_age at open, refused limits,
 * a failed store, the memory-backed store, and an excess left by back-pressure (-EAGAIN)
 * that later appends and a second call catch up; then a differential test against a naive
 * model with limits changed at random between appends, deletes, drains and reopens.
 *
 * The one idea: after stream_store_limits_set returns 0, the store is what a store that
 * had those limits all along and applied them to the same messages would be. Every test
 * runs in its own process (Check's fork mode) and its own mkdtemp directory. */
#include "base/hash.h"
#include "store/record.h"
#include "store/stream_store.h"
#include "tests/harness/ck_quiet.h"
#include "tests/store/store_fixture.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    /* Subject names: "l." and a decimal index. */
    LIMITS_SUBJECT_NAME_SIZE = 16,
    /* Differential test: sequences, subjects, operations. */
    MODEL_SEQ_MAX = 8192,
    MODEL_SUBJECTS = 9,
    MODEL_OPS = 5000,
    /* The check of every sequence and subject runs every this many operations. */
    MODEL_CHECK_EVERY = 250,
};

static uint32_t limits_subject(uint32_t index, char *name)
{
    return (uint32_t)snprintf(name, LIMITS_SUBJECT_NAME_SIZE, "l.%u", index);
}

/* Appends a one-byte message on subject l.<index>; returns its sequence. */
static uint64_t fx_append_on(struct fixture *fx, uint32_t index)
{
    char name[LIMITS_SUBJECT_NAME_SIZE];
    uint32_t length = limits_subject(index, name);
    uint8_t payload = (uint8_t)index;
    uint64_t seq = 0;
    int rc = stream_store_append(fx->store, (const uint8_t *)name, length, NULL, 0, &payload, 1,
                                 &seq);
    ck_assert_msg(rc == 0, "append on %s: %s", name, strerror(-rc));
    return seq;
}

static void expect_on(struct stream_store *store, uint32_t index, uint64_t count, uint64_t first,
                      uint64_t last)
{
    char name[LIMITS_SUBJECT_NAME_SIZE];
    uint32_t length = limits_subject(index, name);
    const uint8_t *bytes = (const uint8_t *)name;
    ck_assert_uint_eq(stream_store_subject_count(store, bytes, length), count);
    uint64_t seq = 0;
    if (count == 0) {
        ck_assert_int_eq(stream_store_subject_first(store, bytes, length, &seq), -ENOENT);
        return;
    }
    ck_assert_int_eq(stream_store_subject_first(store, bytes, length, &seq), 0);
    ck_assert_uint_eq(seq, first);
    ck_assert_int_eq(stream_store_subject_last(store, bytes, length, &seq), 0);
    ck_assert_uint_eq(seq, last);
}

static int limits_set(struct fixture *fx)
{
    return stream_store_limits_set(fx->store, &fx->config);
}

START_TEST(test_limits_set_front)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 100);
    fx_drain(&fx); /* segments go only once the next one's header is written */
    uint32_t segments = info_of(fx.store).segment_count;
    uint64_t lsn = info_of(fx.store).lsn;
    fx.config.max_msgs = 40;
    ck_assert_int_eq(limits_set(&fx), 0);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 40);
    ck_assert_uint_eq(info.first_seq, 61);
    ck_assert_uint_eq(info.lsn, lsn + 1); /* one floor record */
    ck_assert_uint_lt(info.segment_count, segments); /* emptied segments went */
    /* max_bytes: the oldest go until the rest fits. */
    uint64_t bytes = 0;
    for (uint64_t seq = 100; seq >= 91; seq--) {
        bytes += gen_msg_record_size(seq);
    }
    fx.config.max_bytes = bytes;
    ck_assert_int_eq(limits_set(&fx), 0);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 91);
    ck_assert_uint_eq(info_of(fx.store).byte_count, bytes);
    /* Appends keep the new limits. */
    fx_append_gen(&fx, 101);
    ck_assert_uint_le(info_of(fx.store).byte_count, bytes);
    uint64_t first = info_of(fx.store).first_seq;
    /* Durable: a reopen with no limits at all finds the same. */
    fx_close(&fx);
    fx.config.max_msgs = 0;
    fx.config.max_bytes = 0;
    fx_open_ok(&fx);
    ck_assert_uint_eq(info_of(fx.store).first_seq, first);
    for (uint64_t seq = first; seq <= 101; seq++) {
        expect_gen(fx.store, seq);
    }
    /* Raising a limit removes nothing and writes nothing. */
    lsn = info_of(fx.store).lsn;
    fx.config.max_msgs = 1000;
    ck_assert_int_eq(limits_set(&fx), 0);
    ck_assert_uint_eq(info_of(fx.store).lsn, lsn);
    ck_assert_uint_eq(info_of(fx.store).first_seq, first);
    fx_fini(&fx);
}
END_TEST

/* Under discard new a lowered max_msgs removes nothing (as nats-server): appends are
 * refused until deletes bring the stream under it. max_age applies whatever discard says,
 * at once, by the clock hook's time. */
START_TEST(test_limits_set_discard_new_and_age)
{
    struct fixture fx;
    fx_init(&fx);
    int64_t start_ns = fx.now_ns;
    fx_open_ok(&fx);
    for (uint64_t seq = 1; seq <= 20; seq++) {
        fx.now_ns = start_ns + (int64_t)seq * 10;
        fx_append_gen(&fx, seq);
    }
    fx.config.discard = STREAM_STORE_DISCARD_NEW;
    fx.config.max_msgs = 10;
    ck_assert_int_eq(limits_set(&fx), 0);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 20);
    uint64_t seq = 0;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, NULL, 0,
                                         &seq),
                     -EDQUOT);
    /* max_age 100 at now = start + 250: everything stamped before start + 150 goes. */
    fx.now_ns = start_ns + 250;
    fx.config.max_age_ns = 100;
    ck_assert_int_eq(limits_set(&fx), 0);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 15);
    ck_assert_uint_eq(info.msg_count, 6);
    fx_append_gen(&fx, 21);
    /* At open too: the limits of the config hold when open returns. */
    fx_close(&fx);
    fx.now_ns = start_ns + 295;
    fx_open_ok(&fx);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 20);
    fx.config.max_age_ns = 0;
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 20);
    fx_fini(&fx);
}
END_TEST

/* max_msgs_per_subject from 0: the chains are built from the log (across segments, with
 * deleted messages in them), every subject over the limit loses its oldest, and later
 * appends and deletes move each subject's first along the chain. Back to 0: the links go
 * (the index shrinks) and the bounds stay right. */
START_TEST(test_limits_set_per_subject_on_off)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    uint64_t seqs[4][12];
    for (uint32_t round = 0; round < 12; round++) {
        for (uint32_t subject = 0; subject < 4; subject++) {
            seqs[subject][round] = fx_append_on(&fx, subject);
        }
    }
    ck_assert_int_eq(stream_store_delete(fx.store, seqs[0][10]), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, seqs[1][0]), 0);
    fx.config.max_msgs_per_subject = 3;
    ck_assert_int_eq(limits_set(&fx), 0);
    expect_on(fx.store, 0, 3, seqs[0][8], seqs[0][11]);
    for (uint32_t subject = 1; subject < 4; subject++) {
        expect_on(fx.store, subject, 3, seqs[subject][9], seqs[subject][11]);
    }
    /* Appends at the limit replace each subject's oldest, found along the chain. */
    uint64_t added = fx_append_on(&fx, 0);
    expect_on(fx.store, 0, 3, seqs[0][9], added);
    ck_assert_int_eq(stream_store_delete(fx.store, seqs[0][9]), 0);
    expect_on(fx.store, 0, 2, seqs[0][11], added);
    ck_assert_int_eq(stream_store_delete(fx.store, seqs[2][9]), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, seqs[2][10]), 0);
    expect_on(fx.store, 2, 1, seqs[2][11], seqs[2][11]);
    /* Lowered while on: the chains stay and the excess goes. */
    fx.config.max_msgs_per_subject = 1;
    ck_assert_int_eq(limits_set(&fx), 0);
    expect_on(fx.store, 0, 1, added, added);
    expect_on(fx.store, 1, 1, seqs[1][11], seqs[1][11]);
    fx_reopen(&fx);
    expect_on(fx.store, 0, 1, added, added);
    expect_on(fx.store, 3, 1, seqs[3][11], seqs[3][11]);
    /* Off: the links go; appends no longer evict, and removals still move the bounds. */
    fx.config.max_msgs_per_subject = 0;
    uint64_t chained_bytes = info_of(fx.store).index_bytes;
    ck_assert_int_eq(limits_set(&fx), 0);
    ck_assert_uint_lt(info_of(fx.store).index_bytes, chained_bytes);
    uint64_t more[3];
    for (int i = 0; i < 3; i++) {
        more[i] = fx_append_on(&fx, 3);
    }
    ck_assert_int_eq(stream_store_delete(fx.store, seqs[3][11]), 0);
    expect_on(fx.store, 3, 3, more[0], more[2]);
    ck_assert_int_eq(stream_store_delete(fx.store, more[2]), 0);
    expect_on(fx.store, 3, 2, more[0], more[1]);
    /* On again, with the links of a store that never had them. */
    fx.config.max_msgs_per_subject = 1;
    ck_assert_int_eq(limits_set(&fx), 0);
    expect_on(fx.store, 3, 1, more[1], more[1]);
    uint64_t last = fx_append_on(&fx, 3);
    expect_on(fx.store, 3, 1, last, last);
    fx_reopen(&fx);
    expect_on(fx.store, 3, 1, last, last);
    fx_fini(&fx);
}
END_TEST

/* More tombstones than pending_bytes_max lets in while nothing is written: -EAGAIN with the
 * new limit in force and part of the excess gone; appends on the subject catch up 16 at a
 * time; a second call after the writes finishes the rest. */
START_TEST(test_limits_set_back_pressure)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.batch_size = 1024;
    fx.config.pending_bytes_max = 4096;
    fx_open_ok(&fx);
    for (int i = 0; i < 300; i++) {
        fx_append_on(&fx, 0);
        fx_append_on(&fx, 1);
        fx_drain(&fx);
    }
    fx.io.write_refuse_count = UINT32_MAX;
    fx.config.max_msgs_per_subject = 1;
    ck_assert_int_eq(limits_set(&fx), -EAGAIN);
    uint64_t counts[2];
    for (uint32_t subject = 0; subject < 2; subject++) {
        char name[LIMITS_SUBJECT_NAME_SIZE];
        uint32_t length = limits_subject(subject, name);
        counts[subject] = stream_store_subject_count(fx.store, (const uint8_t *)name, length);
    }
    ck_assert_uint_lt(counts[0] + counts[1], 600);
    /* 4 KiB of tombstones is 85: both subjects cannot have been caught up. */
    uint32_t behind = counts[0] >= counts[1] ? 0 : 1;
    ck_assert_uint_gt(counts[behind], 16);
    fx.io.write_refuse_count = 0;
    fx_drain(&fx);
    /* An append on the subject removes 16 of its excess. */
    char name[LIMITS_SUBJECT_NAME_SIZE];
    uint32_t length = limits_subject(behind, name);
    uint64_t added = fx_append_on(&fx, behind);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)name, length),
                      counts[behind] + 1 - 16);
    int rc = -EAGAIN;
    for (int round = 0; round < 100 && rc == -EAGAIN; round++) {
        fx_drain(&fx);
        rc = limits_set(&fx);
    }
    ck_assert_int_eq(rc, 0);
    expect_on(fx.store, behind, 1, added, added);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"l.0", 3), 1);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"l.1", 3), 1);
    fx_reopen(&fx);
    expect_on(fx.store, behind, 1, added, added);
    fx_fini(&fx);
}
END_TEST

/* At open, tombstones past pending_bytes_max are left for later: the open succeeds. */
START_TEST(test_limits_open_back_pressure)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.batch_size = 1024;
    fx.config.pending_bytes_max = 4096;
    fx_open_ok(&fx);
    for (int i = 0; i < 300; i++) {
        fx_append_on(&fx, 0);
        fx_drain(&fx);
    }
    fx_close(&fx);
    fx.config.max_msgs_per_subject = 1;
    fx.io.write_refuse_count = UINT32_MAX;
    fx_open_ok(&fx);
    uint64_t count = stream_store_subject_count(fx.store, (const uint8_t *)"l.0", 3);
    ck_assert_uint_lt(count, 300);
    ck_assert_uint_gt(count, 1);
    fx.io.write_refuse_count = 0;
    int rc = -EAGAIN;
    for (int round = 0; round < 100 && rc == -EAGAIN; round++) {
        fx_drain(&fx);
        rc = limits_set(&fx);
    }
    ck_assert_int_eq(rc, 0);
    expect_on(fx.store, 0, 1, 300, 300);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_limits_set_refused)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_msgs = 5;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 5);
    struct stream_store_config config = fx.config;
    config.max_msgs = 1;
    config.max_age_ns = -1;
    ck_assert_int_eq(stream_store_limits_set(fx.store, &config), -EINVAL);
    config.max_age_ns = 0;
    config.discard = (enum stream_store_discard)2;
    ck_assert_int_eq(stream_store_limits_set(fx.store, &config), -EINVAL);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 5); /* nothing changed */
    fx_append_gen(&fx, 6);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 5); /* the old limit holds */
    /* The fields fixed at open are ignored. */
    config = fx.config;
    config.segment_size = 1;
    config.sync = STREAM_STORE_SYNC_ALWAYS;
    config.accounting = STREAM_STORE_ACCOUNTING_MEMORY;
    config.max_msgs = 2;
    ck_assert_int_eq(stream_store_limits_set(fx.store, &config), 0);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 2);
    expect_gen(fx.store, 6); /* still the record size */
    /* A failed store changes nothing and says why. */
    fx.io.write_fail = true;
    fx_append_gen(&fx, 7);
    fx_drain(&fx);
    ck_assert_int_eq(fx.failed_error, -EBADF);
    config.max_msgs = 1;
    ck_assert_int_eq(stream_store_limits_set(fx.store, &config), -EBADF);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 2);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_limits_set_memory)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    ck_assert_int_eq(stream_store_open(NULL, &fx.config, &fx.io.sync.io, &fx.hooks, &fx.store),
                     0);
    fx_append_gen_range(&fx, 1, 100);
    fx.config.max_msgs = 30;
    fx.config.max_msgs_per_subject = 4;
    ck_assert_int_eq(limits_set(&fx), 0);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 20); /* 5 subjects, 4 each, after the front went */
    ck_assert_uint_eq(info.first_seq, 81);
    fx_append_gen(&fx, 101);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 82);
    fx_fini(&fx);
}
END_TEST

/* ---- Differential test against a naive model ------------------------------------------ */

struct model {
    bool held[MODEL_SEQ_MAX];
    uint8_t subject[MODEL_SEQ_MAX];
    uint64_t last_seq;
    uint64_t max_msgs;
    uint64_t max_per_subject;
};

static uint64_t model_count(const struct model *model, int subject)
{
    uint64_t count = 0;
    for (uint64_t seq = 1; seq <= model->last_seq; seq++) {
        count += model->held[seq] && (subject < 0 || model->subject[seq] == subject);
    }
    return count;
}

static uint64_t model_first(const struct model *model, int subject)
{
    for (uint64_t seq = 1; seq <= model->last_seq; seq++) {
        if (model->held[seq] && (subject < 0 || model->subject[seq] == subject)) {
            return seq;
        }
    }
    return 0;
}

static uint64_t model_last(const struct model *model, int subject)
{
    for (uint64_t seq = model->last_seq; seq >= 1; seq--) {
        if (model->held[seq] && model->subject[seq] == subject) {
            return seq;
        }
    }
    return 0;
}

static void model_trim_subject(struct model *model, int subject)
{
    while (model->max_per_subject != 0 && model_count(model, subject) > model->max_per_subject) {
        model->held[model_first(model, subject)] = false;
    }
}

static void model_trim_front(struct model *model)
{
    while (model->max_msgs != 0 && model_count(model, -1) > model->max_msgs) {
        model->held[model_first(model, -1)] = false;
    }
}

/* An append: its subject first, then the stream (store_limits_make_room's order). */
static void model_append(struct model *model, uint8_t subject)
{
    uint64_t seq = ++model->last_seq;
    ck_assert_uint_lt(seq, MODEL_SEQ_MAX);
    model->held[seq] = true;
    model->subject[seq] = subject;
    model_trim_subject(model, subject);
    model_trim_front(model);
}

/* New limits: the stream first, then every subject (store_limits_apply's order). */
static void model_limits(struct model *model, uint64_t max_msgs, uint64_t max_per_subject)
{
    model->max_msgs = max_msgs;
    model->max_per_subject = max_per_subject;
    model_trim_front(model);
    for (int subject = 0; subject < MODEL_SUBJECTS; subject++) {
        model_trim_subject(model, subject);
    }
}

static void model_check(struct fixture *fx, const struct model *model)
{
    struct stream_store_info info = info_of(fx->store);
    ck_assert_uint_eq(info.last_seq, model->last_seq);
    ck_assert_uint_eq(info.msg_count, model_count(model, -1));
    for (uint64_t seq = 1; seq <= model->last_seq; seq++) {
        struct stream_store_msg msg;
        int rc = stream_store_get(fx->store, seq, &msg);
        /* quiet (ck_quiet.h): every sequence after every step, half a million checks */
        quiet_assert_msg(rc == (model->held[seq] ? 0 : -ENOENT), "seq %" PRIu64 ": %d", seq, rc);
    }
    for (int subject = 0; subject < MODEL_SUBJECTS; subject++) {
        expect_on(fx->store, (uint32_t)subject, model_count(model, subject),
                  model_first(model, subject), model_last(model, subject));
    }
}

START_TEST(test_limits_set_differential)
{
    static const uint64_t max_msgs_choices[] = {0, 40, 120, 400};
    static const uint64_t per_subject_choices[] = {0, 1, 3, 12};
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx.config.batch_size = 1024;
    fx_open_ok(&fx);
    static struct model model;
    memset(&model, 0, sizeof model);
    uint64_t random = 0x11417;
    for (int op = 0; op < MODEL_OPS; op++) {
        uint64_t dice = hash_sequence_next(&random) % 100;
        if (dice < 75) {
            uint8_t subject = (uint8_t)(hash_sequence_next(&random) % MODEL_SUBJECTS);
            ck_assert_uint_eq(fx_append_on(&fx, subject), model.last_seq + 1);
            model_append(&model, subject);
        } else if (dice < 87) {
            uint64_t seq = 1 + hash_sequence_next(&random) % (model.last_seq + 1);
            int rc = stream_store_delete(fx.store, seq);
            ck_assert_int_eq(rc, seq <= model.last_seq && model.held[seq] ? 0 : -ENOENT);
            model.held[seq] = false;
        } else if (dice < 93) {
            fx.config.max_msgs = max_msgs_choices[hash_sequence_next(&random) % 4];
            fx.config.max_msgs_per_subject =
                per_subject_choices[hash_sequence_next(&random) % 4];
            ck_assert_int_eq(limits_set(&fx), 0);
            model_limits(&model, fx.config.max_msgs, fx.config.max_msgs_per_subject);
            model_check(&fx, &model);
        } else if (dice < 98) {
            fx_drain(&fx);
        } else {
            fx_reopen(&fx);
        }
        if (op % MODEL_CHECK_EVERY == 0) {
            model_check(&fx, &model);
        }
    }
    model_check(&fx, &model);
    fx_reopen(&fx);
    model_check(&fx, &model);
    fx_fini(&fx);
}
END_TEST

static Suite *limits_set_suite(void)
{
    Suite *suite = suite_create("store_limits_set");
    TCase *tc = tcase_create("store_limits_set");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_limits_set_front);
    tcase_add_test(tc, test_limits_set_discard_new_and_age);
    tcase_add_test(tc, test_limits_set_per_subject_on_off);
    tcase_add_test(tc, test_limits_set_back_pressure);
    tcase_add_test(tc, test_limits_open_back_pressure);
    tcase_add_test(tc, test_limits_set_refused);
    tcase_add_test(tc, test_limits_set_memory);
    tcase_add_test(tc, test_limits_set_differential);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(limits_set_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
