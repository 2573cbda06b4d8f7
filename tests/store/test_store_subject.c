/* Check tests for the stream store's per-subject index (store/stream_store_subject.c): the
 * first, last and count of each subject after evictions by max_msgs_per_subject (1 and
 * more, and a limit set between opens), by max_msgs, after deletes of a subject's
 * first, middle and last messages, after purges (of one subject, keep N, below a sequence,
 * of the front) and after reopening; then a differential test against a naive model over
 * many subjects under random operations (skipped sequences among them, which stretch the
 * links past STORE_SUBJECT_NEXT_MAX) and reopens, with queries mixed in at random so
 * that the stale bounds are sometimes settled and sometimes not. Cases without a limit of
 * their own run twice: without max_msgs_per_subject (no chains kept) and with one that is
 * never reached (chains kept).
 *
 * The suite is built twice (tests/store/meson.build): against the store as it is, and
 * against one built with STORE_SUBJECT_NEXT_MAX 3, whose subject links reach only 3
 * sequences, so that the walk of the log that stands in for a missing link runs often.
 *
 * Every test works in its own mkdtemp directory under /tmp and removes it. */
#include "base/hash.h"
#include "store/store_io.h"
#include "store/stream_store.h"
#include "tests/harness/ck_quiet.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
    /* Small segments, so that chains cross segments and segments are dropped under them. */
    SUBJECT_TEST_SEGMENT_SIZE = 4096,
    /* Bound on flush/reap rounds while draining: each round completes an operation. */
    SUBJECT_TEST_DRAIN_ROUNDS_MAX = 100000,
    /* Subject names: "s." and a decimal index. */
    SUBJECT_NAME_SIZE = 16,
    /* A max_msgs_per_subject that no test reaches: the store keeps its chains, but no
     * append evicts by it. */
    SUBJECT_LIMIT_UNREACHED = 100000,
    /* Differential test: sequences, subjects and operations. */
    MODEL_SEQ_MAX = 12000,
    MODEL_SUBJECTS = 40,
    MODEL_OPS = 6000,
    /* The longest skip of the differential test, in sequences. */
    MODEL_SKIP_MAX = 8,
};

/* ---- Fixture: a temporary directory, a store over the synchronous store_io ------------ */

struct fixture {
    char root[64]; /* mkdtemp'd */
    char path[96]; /* root/stream */
    struct store_io_sync io;
    struct stream_store_config config;
    struct stream_store *store; /* owned while open */
};

static void fx_init(struct fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    strcpy(fx->root, "/tmp/ionats-subject-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx->root));
    snprintf(fx->path, sizeof fx->path, "%s/stream", fx->root);
    store_io_sync_init(&fx->io);
    stream_store_config_default(&fx->config);
    fx->config.segment_size = SUBJECT_TEST_SEGMENT_SIZE;
    fx->config.batch_size = 1024;
}

static void fx_open(struct fixture *fx)
{
    ck_assert_ptr_null(fx->store);
    int rc = stream_store_open(fx->path, &fx->config, &fx->io.io, NULL, &fx->store);
    ck_assert_msg(rc == 0, "open: %s", strerror(-rc));
}

static void fx_drain(struct fixture *fx)
{
    for (int round = 0; round < SUBJECT_TEST_DRAIN_ROUNDS_MAX; round++) {
        ck_assert_int_eq(stream_store_flush(fx->store), 0);
        store_io_sync_reap(&fx->io, UINT32_MAX);
        if (!stream_store_busy(fx->store)) {
            return;
        }
    }
    ck_abort_msg("the store stays busy");
}

static void fx_close(struct fixture *fx)
{
    if (fx->store != NULL) {
        fx_drain(fx);
        stream_store_close(fx->store);
        fx->store = NULL;
    }
}

static void fx_reopen(struct fixture *fx)
{
    fx_close(fx);
    fx_open(fx);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fx_fini(struct fixture *fx)
{
    fx_close(fx);
    nftw(fx->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint32_t subject_name(uint32_t index, char *name)
{
    return (uint32_t)snprintf(name, SUBJECT_NAME_SIZE, "s.%u", index);
}

/* Appends a message on subject s.<index>; returns its sequence. */
static uint64_t fx_append(struct fixture *fx, uint32_t index)
{
    char name[SUBJECT_NAME_SIZE];
    uint32_t length = subject_name(index, name);
    uint8_t payload[8] = {0};
    memcpy(payload, &index, sizeof index);
    uint64_t seq = 0;
    int rc = stream_store_append(fx->store, (const uint8_t *)name, length, NULL, 0, payload,
                                 sizeof payload, &seq);
    ck_assert_msg(rc == 0, "append on %s: %s", name, strerror(-rc));
    return seq;
}

/* Subject s.<index> holds `count` messages, from `first` to `last` (count 0: none).
 * Quiet assertions (ck_quiet.h): the differential tests check every subject after every
 * step, a million checks in all. */
static void expect_subject(struct stream_store *store, uint32_t index, uint64_t count,
                           uint64_t first, uint64_t last)
{
    char name[SUBJECT_NAME_SIZE];
    uint32_t length = subject_name(index, name);
    const uint8_t *bytes = (const uint8_t *)name;
    quiet_assert_msg(stream_store_subject_count(store, bytes, length) == count,
                     "%s: count %" PRIu64 ", want %" PRIu64, name,
                     stream_store_subject_count(store, bytes, length), count);
    uint64_t seq = 0;
    if (count == 0) {
        quiet_assert_int_eq(stream_store_subject_first(store, bytes, length, &seq), -ENOENT);
        quiet_assert_int_eq(stream_store_subject_last(store, bytes, length, &seq), -ENOENT);
        return;
    }
    quiet_assert_int_eq(stream_store_subject_first(store, bytes, length, &seq), 0);
    quiet_assert_msg(seq == first, "%s: first %" PRIu64 ", want %" PRIu64, name, seq, first);
    quiet_assert_int_eq(stream_store_subject_last(store, bytes, length, &seq), 0);
    quiet_assert_msg(seq == last, "%s: last %" PRIu64 ", want %" PRIu64, name, seq, last);
}

static void fx_purge_subject(struct fixture *fx, uint32_t index, uint64_t keep,
                             uint64_t up_to_seq, uint64_t purged_expected)
{
    char name[SUBJECT_NAME_SIZE];
    uint32_t length = subject_name(index, name);
    struct stream_store_purge_request request = {
        .subject = (const uint8_t *)name,
        .subject_length = length,
        .keep = keep,
        .up_to_seq = up_to_seq,
    };
    uint64_t purged = 0;
    ck_assert_int_eq(stream_store_purge(fx->store, &request, &purged), 0);
    ck_assert_uint_eq(purged, purged_expected);
}

/* ---- Directed cases ------------------------------------------------------------------- */

/* The max_msgs_per_subject of the loop tests without a limit of their own: none (the store
 * keeps no chains and settles a subject's first on demand) or one never reached (it keeps
 * them). */
static const uint64_t unlimited_variants[] = {0, SUBJECT_LIMIT_UNREACHED};

/* max_msgs_per_subject 1 over many keys written in an order that keeps the message a key
 * replaces away from the front of the stream: each key holds its newest message only. */
START_TEST(test_subject_limit_one)
{
    enum { KEYS = 300, ROUNDS = 6 };
    static uint64_t newest[KEYS];
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_msgs_per_subject = 1;
    fx_open(&fx);
    uint64_t random = 0x1ee7;
    for (uint32_t i = 0; i < KEYS; i++) {
        newest[i] = fx_append(&fx, i);
    }
    for (uint32_t i = 0; i < KEYS * ROUNDS; i++) {
        uint32_t key = (uint32_t)(hash_sequence_next(&random) % KEYS);
        newest[key] = fx_append(&fx, key);
        expect_subject(fx.store, key, 1, newest[key], newest[key]);
        if (i % 500 == 0) {
            fx_drain(&fx);
        }
    }
    struct stream_store_info info;
    stream_store_info_get(fx.store, &info);
    ck_assert_uint_eq(info.msg_count, KEYS);
    ck_assert_uint_eq(info.subject_count, KEYS);
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t key = 0; key < KEYS; key++) {
            expect_subject(fx.store, key, 1, newest[key], newest[key]);
        }
        fx_reopen(&fx);
    }
    /* After reopening, the chains are rebuilt: replacing goes on the same way. */
    for (uint32_t key = 0; key < KEYS; key += 7) {
        newest[key] = fx_append(&fx, key);
        expect_subject(fx.store, key, 1, newest[key], newest[key]);
    }
    stream_store_info_get(fx.store, &info);
    ck_assert_uint_eq(info.msg_count, KEYS);
    fx_fini(&fx);
}
END_TEST

/* max_msgs_per_subject 3 with two subjects interleaved with others: deleting a subject's
 * first, middle and last messages, then appending on it. */
START_TEST(test_subject_limit_deletes)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_msgs_per_subject = 3;
    fx_open(&fx);
    uint64_t a[8] = {0};
    for (uint32_t i = 0; i < 3; i++) {
        a[i] = fx_append(&fx, 0);
        fx_append(&fx, 1);
        fx_append(&fx, 2 + i);
    }
    expect_subject(fx.store, 0, 3, a[0], a[2]);
    /* The middle one goes: first and last stay. */
    ck_assert_int_eq(stream_store_delete(fx.store, a[1]), 0);
    expect_subject(fx.store, 0, 2, a[0], a[2]);
    /* At 2 of 3 the next append evicts nothing. */
    a[3] = fx_append(&fx, 0);
    expect_subject(fx.store, 0, 3, a[0], a[3]);
    /* At the limit it evicts the first; the new first steps over the deleted a[1]. */
    a[4] = fx_append(&fx, 0);
    expect_subject(fx.store, 0, 3, a[2], a[4]);
    /* The last goes; not asked for, it stays stale while the next append links from it. */
    ck_assert_int_eq(stream_store_delete(fx.store, a[4]), 0);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"s.0", 3), 2);
    a[5] = fx_append(&fx, 0);
    expect_subject(fx.store, 0, 3, a[2], a[5]);
    /* The last goes and is asked for (settled by walking the log), then an append. */
    ck_assert_int_eq(stream_store_delete(fx.store, a[5]), 0);
    expect_subject(fx.store, 0, 2, a[2], a[3]);
    a[6] = fx_append(&fx, 0);
    expect_subject(fx.store, 0, 3, a[2], a[6]);
    a[7] = fx_append(&fx, 0);
    expect_subject(fx.store, 0, 3, a[3], a[7]);
    /* The first goes. */
    ck_assert_int_eq(stream_store_delete(fx.store, a[3]), 0);
    expect_subject(fx.store, 0, 2, a[6], a[7]);
    fx_reopen(&fx);
    expect_subject(fx.store, 0, 2, a[6], a[7]);
    ck_assert_int_eq(stream_store_delete(fx.store, a[6]), 0);
    expect_subject(fx.store, 0, 1, a[7], a[7]);
    ck_assert_int_eq(stream_store_delete(fx.store, a[7]), 0);
    expect_subject(fx.store, 0, 0, 0, 0);
    /* Subject s.1 was never limited below 3: its newest 3 of 3. */
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"s.1", 3), 3);
    fx_fini(&fx);
}
END_TEST

/* A subject's first message goes after all but its last two were deleted: the new first
 * is found past the deleted ones, across segments. Then the same after reopening, and with
 * the first removed from the front of the stream by max_msgs. */
START_TEST(test_subject_first_skips_deleted)
{
    enum { MSGS = 200, MAX_MSGS = 50, OTHERS = 10 };
    static uint64_t seqs[MSGS];
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_msgs_per_subject = unlimited_variants[_i];
    fx_open(&fx);
    for (uint32_t i = 0; i < MSGS; i++) {
        seqs[i] = fx_append(&fx, 0);
        fx_append(&fx, 1 + i % 3);
    }
    for (uint32_t i = 1; i + 2 < MSGS; i++) {
        ck_assert_int_eq(stream_store_delete(fx.store, seqs[i]), 0);
    }
    expect_subject(fx.store, 0, 3, seqs[0], seqs[MSGS - 1]);
    ck_assert_int_eq(stream_store_delete(fx.store, seqs[0]), 0);
    expect_subject(fx.store, 0, 2, seqs[MSGS - 2], seqs[MSGS - 1]);
    uint64_t next = fx_append(&fx, 0);
    expect_subject(fx.store, 0, 3, seqs[MSGS - 2], next);
    fx_reopen(&fx);
    expect_subject(fx.store, 0, 3, seqs[MSGS - 2], next);
    /* Reopened with max_msgs, the store holds MAX_MSGS older messages; then subject s.9
     * gets three messages between others, and appends on s.20 push out the older ones
     * and s.9's first, not its second. */
    fx_close(&fx);
    fx.config.max_msgs = MAX_MSGS;
    fx_open(&fx);
    uint64_t nine[3];
    for (uint32_t i = 0; i < 3; i++) {
        nine[i] = fx_append(&fx, 9);
        for (uint32_t j = 0; i < 2 && j < OTHERS; j++) {
            fx_append(&fx, 10 + j % 4);
        }
    }
    expect_subject(fx.store, 9, 3, nine[0], nine[2]);
    uint32_t older = MAX_MSGS - (3 + 2 * OTHERS);
    for (uint32_t i = 0; i < older + 1; i++) {
        fx_append(&fx, 20);
    }
    expect_subject(fx.store, 9, 2, nine[1], nine[2]);
    fx_fini(&fx);
}
END_TEST

/* Purges: of one subject (keep N, below a sequence), of the front of the stream, of
 * everything; each leaves the subjects' first, last and count right, also after reopening. */
START_TEST(test_subject_purges)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_msgs_per_subject = unlimited_variants[_i];
    fx_open(&fx);
    uint64_t s0[10];
    uint64_t s1[10];
    for (uint32_t i = 0; i < 10; i++) {
        s0[i] = fx_append(&fx, 0);
        s1[i] = fx_append(&fx, 1);
        fx_append(&fx, 2);
    }
    fx_purge_subject(&fx, 0, 4, 0, 6);
    expect_subject(fx.store, 0, 4, s0[6], s0[9]);
    fx_purge_subject(&fx, 1, 0, s1[3], 3);
    expect_subject(fx.store, 1, 7, s1[3], s1[9]);
    ck_assert_int_eq(stream_store_delete(fx.store, s1[4]), 0);
    /* The front: every message below s1[6]. */
    struct stream_store_purge_request request = {.up_to_seq = s1[6]};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, NULL), 0);
    expect_subject(fx.store, 0, 3, s0[7], s0[9]);
    expect_subject(fx.store, 1, 4, s1[6], s1[9]);
    fx_reopen(&fx);
    expect_subject(fx.store, 0, 3, s0[7], s0[9]);
    expect_subject(fx.store, 1, 4, s1[6], s1[9]);
    uint64_t added = fx_append(&fx, 1);
    expect_subject(fx.store, 1, 5, s1[6], added);
    request = (struct stream_store_purge_request){0};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, NULL), 0);
    expect_subject(fx.store, 0, 0, 0, 0);
    expect_subject(fx.store, 1, 0, 0, 0);
    added = fx_append(&fx, 1);
    expect_subject(fx.store, 1, 1, added, added);
    fx_reopen(&fx);
    expect_subject(fx.store, 1, 1, added, added);
    fx_fini(&fx);
}
END_TEST

/* A limit set between opens applies at open: the excess on each subject goes at once (a
 * tombstone each) along the chain that recovery built; then the limit removed again. */
START_TEST(test_subject_limit_lowered)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open(&fx);
    uint64_t seqs[6];
    for (uint32_t i = 0; i < 6; i++) {
        seqs[i] = fx_append(&fx, 0);
        fx_append(&fx, 1);
    }
    ck_assert_int_eq(stream_store_delete(fx.store, seqs[2]), 0);
    fx_close(&fx);
    fx.config.max_msgs_per_subject = 2;
    fx_open(&fx);
    expect_subject(fx.store, 0, 2, seqs[4], seqs[5]);
    expect_subject(fx.store, 1, 2, seqs[4] + 1, seqs[5] + 1);
    uint64_t added = fx_append(&fx, 0);
    expect_subject(fx.store, 0, 2, seqs[5], added);
    expect_subject(fx.store, 1, 2, seqs[4] + 1, seqs[5] + 1);
    fx_reopen(&fx);
    expect_subject(fx.store, 0, 2, seqs[5], added);
    fx_close(&fx);
    fx.config.max_msgs_per_subject = 0;
    fx_open(&fx);
    ck_assert_int_eq(stream_store_delete(fx.store, seqs[5]), 0);
    expect_subject(fx.store, 0, 1, added, added);
    expect_subject(fx.store, 1, 2, seqs[4] + 1, seqs[5] + 1);
    fx_fini(&fx);
}
END_TEST

/* ---- Differential test against a naive model ------------------------------------------ */

/* The store as a list: for each sequence, held or not and its subject. */
struct model {
    bool held[MODEL_SEQ_MAX];
    uint8_t subject[MODEL_SEQ_MAX];
    uint64_t last_seq;
    uint64_t max_msgs;
    uint64_t max_per_subject;
};

/* What the model says of each subject, by one pass over the sequences. */
struct model_subject {
    uint64_t count;
    uint64_t first;
    uint64_t last;
};

static void model_subjects(const struct model *model, struct model_subject *out)
{
    memset(out, 0, MODEL_SUBJECTS * sizeof *out);
    for (uint64_t seq = 1; seq <= model->last_seq; seq++) {
        if (!model->held[seq]) {
            continue;
        }
        struct model_subject *subject = &out[model->subject[seq]];
        if (subject->count == 0) {
            subject->first = seq;
        }
        subject->last = seq;
        subject->count++;
    }
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

static uint64_t model_count(const struct model *model, int subject)
{
    uint64_t count = 0;
    for (uint64_t seq = 1; seq <= model->last_seq; seq++) {
        count += model->held[seq] && (subject < 0 || model->subject[seq] == subject);
    }
    return count;
}

static void model_append(struct model *model, uint8_t subject)
{
    uint64_t seq = ++model->last_seq;
    ck_assert_uint_lt(seq, MODEL_SEQ_MAX);
    model->held[seq] = true;
    model->subject[seq] = subject;
    while (model->max_per_subject != 0 && model_count(model, subject) > model->max_per_subject) {
        model->held[model_first(model, subject)] = false;
    }
    while (model->max_msgs != 0 && model_count(model, -1) > model->max_msgs) {
        model->held[model_first(model, -1)] = false;
    }
}

/* Counts always; first and last (which settle stale bounds) only with `bounds`, so that
 * the store also meets appends and removals with its bounds unsettled. */
static void model_check(struct fixture *fx, const struct model *model, bool bounds)
{
    static struct model_subject want[MODEL_SUBJECTS];
    model_subjects(model, want);
    for (uint32_t index = 0; index < MODEL_SUBJECTS; index++) {
        const struct model_subject *subject = &want[index];
        if (bounds) {
            expect_subject(fx->store, index, subject->count, subject->first, subject->last);
            continue;
        }
        char name[SUBJECT_NAME_SIZE];
        uint32_t length = subject_name(index, name);
        quiet_assert_uint_eq(stream_store_subject_count(fx->store, (const uint8_t *)name, length),
                             subject->count);
    }
    struct stream_store_info info;
    stream_store_info_get(fx->store, &info);
    ck_assert_uint_eq(info.last_seq, model->last_seq);
    ck_assert_uint_eq(info.msg_count, model_count(model, -1));
}

/* A held sequence, or 0: the first or last of a random subject, or any sequence. */
static uint64_t model_pick(const struct model *model, uint64_t *random)
{
    static struct model_subject subjects[MODEL_SUBJECTS];
    if (model->last_seq == 0) {
        return 0;
    }
    uint64_t dice = hash_sequence_next(random) % 3;
    if (dice == 2) {
        return 1 + hash_sequence_next(random) % model->last_seq;
    }
    model_subjects(model, subjects);
    const struct model_subject *subject = &subjects[hash_sequence_next(random) % MODEL_SUBJECTS];
    return dice == 0 ? subject->first : subject->last;
}

/* Limits of each run: max_msgs_per_subject and max_msgs. */
static const uint64_t model_limits[][2] = {
    {1, 0}, {3, 0}, {3, 200}, {0, 250}, {SUBJECT_LIMIT_UNREACHED, 250},
};

START_TEST(test_subject_differential)
{
    struct fixture fx;
    fx_init(&fx);
    static struct model model;
    memset(&model, 0, sizeof model);
    model.max_per_subject = model_limits[_i][0];
    model.max_msgs = model_limits[_i][1];
    fx.config.max_msgs_per_subject = model.max_per_subject;
    fx.config.max_msgs = model.max_msgs;
    fx_open(&fx);
    uint64_t random = 0x5eed + (uint64_t)_i;
    for (int op = 0; op < MODEL_OPS && model.last_seq + 1 < MODEL_SEQ_MAX; op++) {
        uint64_t dice = hash_sequence_next(&random) % 100;
        if (dice < 65) {
            /* A few busy subjects and many quiet ones: long chains and long links. */
            uint64_t draw = hash_sequence_next(&random);
            uint32_t subject = (uint32_t)(draw % 2 == 0 ? (draw >> 8) % 4
                                                        : (draw >> 8) % MODEL_SUBJECTS);
            uint64_t seq = fx_append(&fx, subject);
            model_append(&model, (uint8_t)subject);
            ck_assert_uint_eq(seq, model.last_seq);
        } else if (dice < 85) {
            uint64_t seq = model_pick(&model, &random);
            int rc = stream_store_delete(fx.store, seq);
            bool held = seq != 0 && model.held[seq];
            ck_assert_int_eq(rc, held ? 0 : -ENOENT);
            model.held[seq] = false;
        } else if (dice < 89) {
            uint32_t subject = (uint32_t)(hash_sequence_next(&random) % MODEL_SUBJECTS);
            uint64_t keep = hash_sequence_next(&random) % 4;
            uint64_t removed = 0;
            while (model_count(&model, (int)subject) > keep) {
                model.held[model_first(&model, (int)subject)] = false;
                removed++;
            }
            fx_purge_subject(&fx, subject, keep, 0, removed);
        } else if (dice < 91) {
            uint64_t up_to = model.last_seq > 60 ? model.last_seq - 60 : 1;
            struct stream_store_purge_request request = {.up_to_seq = up_to};
            ck_assert_int_eq(stream_store_purge(fx.store, &request, NULL), 0);
            for (uint64_t seq = 1; seq < up_to; seq++) {
                model.held[seq] = false;
            }
        } else if (dice < 93) {
            fx_reopen(&fx);
        } else if (dice < 95) {
            uint64_t through = model.last_seq + 1 + hash_sequence_next(&random) % MODEL_SKIP_MAX;
            if (through + 1 < MODEL_SEQ_MAX) {
                ck_assert_int_eq(stream_store_skip(fx.store, through), 0);
                model.last_seq = through;
            }
        } else {
            fx_drain(&fx);
        }
        model_check(&fx, &model, hash_sequence_next(&random) % 8 == 0);
    }
    model_check(&fx, &model, true);
    fx_reopen(&fx);
    model_check(&fx, &model, true);
    fx_fini(&fx);
}
END_TEST

static Suite *subject_suite(void)
{
    Suite *suite = suite_create("store_subject");
    TCase *tc = tcase_create("store_subject");
    tcase_add_test(tc, test_subject_limit_one);
    tcase_add_test(tc, test_subject_limit_deletes);
    int unlimited_count = (int)(sizeof unlimited_variants / sizeof unlimited_variants[0]);
    tcase_add_loop_test(tc, test_subject_first_skips_deleted, 0, unlimited_count);
    tcase_add_loop_test(tc, test_subject_purges, 0, unlimited_count);
    tcase_add_test(tc, test_subject_limit_lowered);
    tcase_add_loop_test(tc, test_subject_differential, 0,
                        (int)(sizeof model_limits / sizeof model_limits[0]));
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(subject_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
