/* Check tests for the subjects iteration (stream_store_subjects_each), what stream info's
 * subjects_filter is built on: nothing for an empty store, each subject held exactly once
 * with its exact count against a naive model under random appends, deletes, subject purges,
 * per-subject and stream limits and reopens, and an early stop that returns the callback's
 * value.
 *
 * The one idea: the iteration reports what stream_store_subject_count would say for every
 * subject, and nothing else. Every test runs in its own process (Check's fork mode) and
 * its own mkdtemp directory. */
#include "base/hash.h"
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

enum {
    /* Subject names: "sub." and a decimal index. */
    SUBJECTS_NAME_SIZE = 24,
    /* Differential test: subjects, operations, sequences. */
    MODEL_SUBJECTS = 300,
    MODEL_OPS = 6000,
    MODEL_SEQ_MAX = 8192,
    MODEL_MAX_MSGS = 2000,
    MODEL_MAX_PER_SUBJECT = 6,
};

static uint32_t subjects_name(uint32_t index, char *name)
{
    return (uint32_t)snprintf(name, SUBJECTS_NAME_SIZE, "sub.%u", index);
}

/* What one iteration saw, by subject index. */
struct seen {
    uint64_t counts[MODEL_SUBJECTS];
    uint32_t calls;
    uint32_t stop_after; /* 0: never stop */
};

static int seen_each(void *context, const uint8_t *subject, uint32_t subject_length,
                     uint64_t msg_count)
{
    struct seen *seen = context;
    char name[SUBJECTS_NAME_SIZE];
    ck_assert_uint_lt(subject_length, sizeof name);
    memcpy(name, subject, subject_length);
    name[subject_length] = '\0';
    unsigned index = 0;
    ck_assert_int_eq(sscanf(name, "sub.%u", &index), 1);
    ck_assert_uint_lt(index, MODEL_SUBJECTS);
    ck_assert_uint_eq(seen->counts[index], 0); /* once each */
    ck_assert_uint_gt(msg_count, 0);
    seen->counts[index] = msg_count;
    seen->calls++;
    return seen->stop_after != 0 && seen->calls == seen->stop_after ? 7 : 0;
}

static uint64_t fx_append_sub(struct fixture *fx, uint32_t index)
{
    char name[SUBJECTS_NAME_SIZE];
    uint32_t length = subjects_name(index, name);
    uint64_t seq = 0;
    int rc = stream_store_append(fx->store, (const uint8_t *)name, length, NULL, 0,
                                 (const uint8_t *)name, length, &seq);
    ck_assert_msg(rc == 0, "append: %s", strerror(-rc));
    return seq;
}

START_TEST(test_subjects_empty_and_stop)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    struct seen seen = {0};
    ck_assert_int_eq(stream_store_subjects_each(fx.store, seen_each, &seen), 0);
    ck_assert_uint_eq(seen.calls, 0);
    for (uint32_t i = 0; i < 10; i++) {
        fx_append_sub(&fx, i);
        fx_append_sub(&fx, i);
    }
    seen = (struct seen){.stop_after = 3};
    ck_assert_int_eq(stream_store_subjects_each(fx.store, seen_each, &seen), 7);
    ck_assert_uint_eq(seen.calls, 3);
    seen = (struct seen){0};
    ck_assert_int_eq(stream_store_subjects_each(fx.store, seen_each, &seen), 0);
    ck_assert_uint_eq(seen.calls, 10);
    for (uint32_t i = 0; i < 10; i++) {
        ck_assert_uint_eq(seen.counts[i], 2);
    }
    /* A purge of everything leaves nothing to list. */
    ck_assert_int_eq(stream_store_purge(fx.store, NULL, NULL), 0);
    seen = (struct seen){0};
    ck_assert_int_eq(stream_store_subjects_each(fx.store, seen_each, &seen), 0);
    ck_assert_uint_eq(seen.calls, 0);
    fx_fini(&fx);
}
END_TEST

struct model {
    bool held[MODEL_SEQ_MAX];
    uint16_t subject[MODEL_SEQ_MAX];
    uint64_t last_seq;
};

static void model_counts(const struct model *model, uint64_t *counts)
{
    memset(counts, 0, MODEL_SUBJECTS * sizeof *counts);
    for (uint64_t seq = 1; seq <= model->last_seq; seq++) {
        counts[model->subject[seq]] += model->held[seq];
    }
}

/* Removes the oldest held messages on `subject` (any: -1) while more than `keep` are held. */
static void model_trim(struct model *model, int subject, uint64_t keep)
{
    uint64_t count = 0;
    for (uint64_t seq = 1; seq <= model->last_seq; seq++) {
        count += model->held[seq] && (subject < 0 || model->subject[seq] == subject);
    }
    for (uint64_t seq = 1; seq <= model->last_seq && count > keep; seq++) {
        if (model->held[seq] && (subject < 0 || model->subject[seq] == subject)) {
            model->held[seq] = false;
            count--;
        }
    }
}

static void model_check(struct fixture *fx, const struct model *model)
{
    static uint64_t counts[MODEL_SUBJECTS];
    model_counts(model, counts);
    static struct seen seen;
    memset(&seen, 0, sizeof seen);
    ck_assert_int_eq(stream_store_subjects_each(fx->store, seen_each, &seen), 0);
    uint32_t held = 0;
    for (uint32_t i = 0; i < MODEL_SUBJECTS; i++) {
        ck_assert_msg(seen.counts[i] == counts[i], "sub.%u: %" PRIu64 ", want %" PRIu64, i,
                      seen.counts[i], counts[i]);
        held += counts[i] > 0;
    }
    ck_assert_uint_eq(seen.calls, held);
    ck_assert_uint_eq(info_of(fx->store).subject_count, held);
}

START_TEST(test_subjects_differential)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = CRASH_SEGMENT_SIZE;
    fx.config.max_msgs = MODEL_MAX_MSGS;
    fx.config.max_msgs_per_subject = MODEL_MAX_PER_SUBJECT;
    fx_open_ok(&fx);
    static struct model model;
    memset(&model, 0, sizeof model);
    uint64_t random = 0x5b1ec75;
    for (int op = 0; op < MODEL_OPS; op++) {
        uint64_t dice = hash_sequence_next(&random) % 100;
        if (dice < 80) {
            /* Skewed: low indexes are written far more often. */
            uint32_t index = (uint32_t)(hash_sequence_next(&random) % MODEL_SUBJECTS);
            index = (uint32_t)(hash_sequence_next(&random) % (index + 1));
            ck_assert_uint_eq(fx_append_sub(&fx, index), model.last_seq + 1);
            uint64_t seq = ++model.last_seq;
            ck_assert_uint_lt(seq, MODEL_SEQ_MAX);
            model.held[seq] = true;
            model.subject[seq] = (uint16_t)index;
            model_trim(&model, (int)index, MODEL_MAX_PER_SUBJECT);
            model_trim(&model, -1, MODEL_MAX_MSGS);
        } else if (dice < 92) {
            uint64_t seq = 1 + hash_sequence_next(&random) % (model.last_seq + 1);
            int rc = stream_store_delete(fx.store, seq);
            ck_assert_int_eq(rc, seq <= model.last_seq && model.held[seq] ? 0 : -ENOENT);
            model.held[seq] = false;
        } else if (dice < 96) {
            uint32_t index = (uint32_t)(hash_sequence_next(&random) % MODEL_SUBJECTS);
            char name[SUBJECTS_NAME_SIZE];
            uint32_t length = subjects_name(index, name);
            struct stream_store_purge_request request = {.subject = (const uint8_t *)name,
                                                         .subject_length = length};
            ck_assert_int_eq(stream_store_purge(fx.store, &request, NULL), 0);
            model_trim(&model, (int)index, 0);
        } else if (dice < 99) {
            fx_drain(&fx);
        } else {
            fx_reopen(&fx);
        }
        if (op % 200 == 0) {
            model_check(&fx, &model);
        }
    }
    model_check(&fx, &model);
    fx_reopen(&fx);
    model_check(&fx, &model);
    fx_fini(&fx);
}
END_TEST

static Suite *subjects_suite(void)
{
    Suite *suite = suite_create("store_subjects");
    TCase *tc = tcase_create("store_subjects");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_subjects_empty_and_stop);
    tcase_add_test(tc, test_subjects_differential);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(subjects_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
