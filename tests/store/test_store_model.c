/* Check test of the stream store against a naive model: random appends over a few
 * subjects under max_msgs and max_msgs_per_subject, deletes, subject purges, purges below a
 * sequence, skipped sequences (with messages held or none), drains and reopens, with every
 * sequence and every subject's first, last and count compared to the model's linear scans.
 *
 * The one idea: the model is too simple to be wrong. The test runs in its own process
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

/* ---- differential test against a naive model ----------------------------------------- */

enum {
    MODEL_SEQ_MAX = 8192,
    MODEL_SUBJECTS = 7,
    MODEL_OPS = 6000,
    MODEL_MAX_MSGS = 150,
    MODEL_MAX_PER_SUBJECT = 25,
    /* The longest skip: about 3% of the operations skip 8 sequences on average. */
    MODEL_SKIP_MAX = 16,
};

/* The store as a list: for each sequence, held or not and its subject. */
struct model {
    bool held[MODEL_SEQ_MAX];
    uint8_t subject[MODEL_SEQ_MAX];
    uint64_t last_seq;
};

static int model_subject_name(uint32_t index, char *name)
{
    return snprintf(name, 16, "r.%u", index);
}

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
        if (model->held[seq] && (subject < 0 || model->subject[seq] == subject)) {
            return seq;
        }
    }
    return 0;
}

static void model_append(struct model *model, uint8_t subject)
{
    uint64_t seq = ++model->last_seq;
    ck_assert_uint_lt(seq, MODEL_SEQ_MAX);
    model->held[seq] = true;
    model->subject[seq] = subject;
    while (model_count(model, subject) > MODEL_MAX_PER_SUBJECT) {
        model->held[model_first(model, subject)] = false;
    }
    while (model_count(model, -1) > MODEL_MAX_MSGS) {
        model->held[model_first(model, -1)] = false;
    }
}

static void model_check(struct fixture *fx, const struct model *model)
{
    struct stream_store_info info = info_of(fx->store);
    ck_assert_uint_eq(info.last_seq, model->last_seq);
    ck_assert_uint_eq(info.msg_count, model_count(model, -1));
    uint64_t first = model_first(model, -1);
    ck_assert_uint_eq(info.first_seq, first != 0 ? first : model->last_seq + 1);
    ck_assert_uint_eq(info.deleted_count,
                      model->last_seq + 1 - info.first_seq - model_count(model, -1));
    for (uint64_t seq = 1; seq <= model->last_seq + 1; seq++) {
        struct stream_store_msg msg;
        int rc = stream_store_get(fx->store, seq, &msg);
        if (!model->held[seq]) {
            ck_assert_int_eq(rc, -ENOENT);
            continue;
        }
        ck_assert_int_eq(rc, 0);
        char name[16];
        int length = model_subject_name(model->subject[seq], name);
        ck_assert_uint_eq(msg.subject_length, (uint32_t)length);
        ck_assert(memcmp(msg.subject, name, (size_t)length) == 0);
        struct gen_msg want;
        gen_msg_make(seq, &want);
        ck_assert_uint_eq(msg.payload_length, want.payload_length);
        ck_assert(memcmp(msg.payload, want.payload, want.payload_length) == 0);
    }
    for (uint32_t subject = 0; subject < MODEL_SUBJECTS; subject++) {
        char name[16];
        uint32_t length = (uint32_t)model_subject_name(subject, name);
        const uint8_t *bytes = (const uint8_t *)name;
        uint64_t want_first = model_first(model, (int)subject);
        uint64_t got = 0;
        ck_assert_uint_eq(stream_store_subject_count(fx->store, bytes, length),
                          model_count(model, (int)subject));
        if (want_first == 0) {
            ck_assert_int_eq(stream_store_subject_first(fx->store, bytes, length, &got), -ENOENT);
            continue;
        }
        ck_assert_int_eq(stream_store_subject_first(fx->store, bytes, length, &got), 0);
        ck_assert_uint_eq(got, want_first);
        ck_assert_int_eq(stream_store_subject_last(fx->store, bytes, length, &got), 0);
        ck_assert_uint_eq(got, model_last(model, (int)subject));
    }
}

START_TEST(test_store_differential)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx.config.max_msgs = MODEL_MAX_MSGS;
    fx.config.max_msgs_per_subject = MODEL_MAX_PER_SUBJECT;
    fx.config.batch_size = 1024;
    fx_open_ok(&fx);
    static struct model model;
    memset(&model, 0, sizeof model);
    uint64_t random = 0x5eed;
    for (int op = 0; op < MODEL_OPS; op++) {
        uint64_t dice = hash_sequence_next(&random) % 100;
        if (dice < 70) {
            uint8_t subject = (uint8_t)(hash_sequence_next(&random) % MODEL_SUBJECTS);
            char name[16];
            int length = model_subject_name(subject, name);
            struct gen_msg msg;
            gen_msg_make(model.last_seq + 1, &msg);
            uint64_t seq = 0;
            ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)name,
                                                 (uint32_t)length, NULL, 0, msg.payload,
                                                 msg.payload_length, &seq),
                             0);
            model_append(&model, subject);
            ck_assert_uint_eq(seq, model.last_seq);
        } else if (dice < 85) {
            uint64_t seq = 1 + hash_sequence_next(&random) % (model.last_seq + 1);
            int rc = stream_store_delete(fx.store, seq);
            ck_assert_int_eq(rc, seq <= model.last_seq && model.held[seq] ? 0 : -ENOENT);
            model.held[seq] = false;
        } else if (dice < 88) {
            uint8_t subject = (uint8_t)(hash_sequence_next(&random) % MODEL_SUBJECTS);
            char name[16];
            int length = model_subject_name(subject, name);
            uint64_t keep = hash_sequence_next(&random) % 10;
            struct stream_store_purge_request request = {
                .subject = (const uint8_t *)name, .subject_length = (uint32_t)length,
                .keep = keep};
            uint64_t purged = 0;
            ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
            uint64_t removed = 0;
            while (model_count(&model, subject) > keep) {
                model.held[model_first(&model, subject)] = false;
                removed++;
            }
            ck_assert_uint_eq(purged, removed);
        } else if (dice < 90) {
            uint64_t up_to = model.last_seq > 20 ? model.last_seq - 20 : 1;
            struct stream_store_purge_request request = {.up_to_seq = up_to};
            ck_assert_int_eq(stream_store_purge(fx.store, &request, NULL), 0);
            for (uint64_t seq = 1; seq < up_to; seq++) {
                model.held[seq] = false;
            }
        } else if (dice < 93) {
            uint64_t through = model.last_seq + 1 + hash_sequence_next(&random) % MODEL_SKIP_MAX;
            ck_assert_uint_lt(through, MODEL_SEQ_MAX);
            ck_assert_int_eq(stream_store_skip(fx.store, through), 0);
            model.last_seq = through;
        } else if (dice < 98) {
            fx_drain(&fx);
        } else {
            fx_reopen(&fx);
        }
        if (op % 500 == 0) {
            model_check(&fx, &model);
        }
    }
    model_check(&fx, &model);
    fx_reopen(&fx);
    model_check(&fx, &model);
    fx_fini(&fx);
}
END_TEST

static Suite *store_model_suite(void)
{
    Suite *suite = suite_create("store_model");
    TCase *tc = tcase_create("store_model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_store_differential);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(store_model_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
