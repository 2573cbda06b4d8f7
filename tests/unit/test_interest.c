/* Unit tests for engine/interest.c: first/last transitions of local counts, the replica of
 * other shards' announcements (idempotent adds, removals of what is absent), local and
 * remote entries that share a subject without mixing, keys far longer than usual, and a
 * differential test against a naive model: an array of (subject, queue, count) for the
 * local side and a set of (origin, subject, queue) for the remote side, matched by a
 * linear scan with subject_matches. The differential test runs again with allocations
 * failing at random, and a fixed run with each allocation point failing in turn
 * (alloc_fail.h, under ASan too): a failed add says -ENOMEM and leaves the table as it was
 * and usable, and every block comes back. */
#include "base/hash.h"
#include "engine/interest.h"
#include "proto/subject.h"
#include "tests/unit/alloc_fail.h"

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TEST_SEED = 0x5eed };

/* Check's ck_assert_* records every passing assertion; the differential loop checks
 * hundreds of thousands of things, so it only calls into Check on a failure. */
#define QUIET_ASSERT(condition, ...)                                                       \
    do {                                                                                   \
        if (!(condition)) {                                                                \
            ck_abort_msg(__VA_ARGS__);                                                     \
        }                                                                                  \
    } while (0)

static size_t text_length(const char *text)
{
    return text != NULL ? strlen(text) : 0;
}

static bool local_add(struct interest *interest, const char *subject, const char *queue)
{
    bool first = false;
    int rc = interest_local_add(interest, subject, (uint32_t)strlen(subject), queue,
                                (uint32_t)text_length(queue), false, &first);
    ck_assert_int_eq(rc, 0);
    return first;
}

static bool local_remove(struct interest *interest, const char *subject, const char *queue)
{
    bool last = false;
    interest_local_remove(interest, subject, (uint32_t)strlen(subject), queue,
                          (uint32_t)text_length(queue), false, &last);
    return last;
}

static void remote_apply(struct interest *interest, int origin, bool add, const char *subject,
                         const char *queue)
{
    int rc = interest_remote_apply(interest, origin, add, subject, (uint32_t)strlen(subject),
                                   queue, (uint32_t)text_length(queue), false);
    ck_assert_int_eq(rc, 0);
}

/* Every remote_interest a match returned, plain ones and queue-group members alike. */
static uint32_t result_collect(const struct sublist_result *result,
                               const struct remote_interest **found, uint32_t found_max)
{
    uint32_t count = 0;
    for (uint32_t i = 0; i < result->plain_count; i++) {
        QUIET_ASSERT(count < found_max, "more than %u matches", found_max);
        const struct remote_interest *r = (const struct remote_interest *)result->plain[i];
        QUIET_ASSERT(r->sub.queue == NULL && r->sub.queue_length == 0, "plain with a queue");
        found[count++] = r;
    }
    for (uint32_t g = 0; g < result->group_count; g++) {
        const struct sublist_queue_group *group = &result->groups[g];
        for (uint32_t m = 0; m < group->member_count; m++) {
            QUIET_ASSERT(count < found_max, "more than %u matches", found_max);
            const struct remote_interest *r = (const struct remote_interest *)group->members[m];
            QUIET_ASSERT(r->sub.queue_length == group->name_length &&
                             memcmp(r->sub.queue, group->name, group->name_length) == 0,
                         "member of group %.*s has queue %.*s", (int)group->name_length,
                         group->name, (int)r->sub.queue_length, r->sub.queue);
            found[count++] = r;
        }
    }
    return count;
}

static uint32_t match_origins(struct interest *interest, const char *subject, uint32_t *origins)
{
    enum { FOUND_MAX = 64 };
    const struct remote_interest *found[FOUND_MAX];
    uint32_t count = result_collect(interest_remote_match(interest, subject, strlen(subject)),
                                    found, FOUND_MAX);
    uint32_t mask = 0;
    for (uint32_t i = 0; i < count; i++) {
        mask |= 1u << found[i]->origin;
    }
    *origins = mask;
    return count;
}

START_TEST(test_local_first_and_last)
{
    struct interest interest;
    ck_assert_int_eq(interest_init(&interest, TEST_SEED), 0);
    ck_assert(local_add(&interest, "a.b", NULL));
    ck_assert(!local_add(&interest, "a.b", NULL));
    ck_assert(local_add(&interest, "a.b", "q")); /* another queue: another pair */
    ck_assert(local_add(&interest, "a.b", "q2"));
    ck_assert(!local_add(&interest, "a.b", "q"));
    ck_assert(local_add(&interest, "a.*", NULL));
    ck_assert(local_add(&interest, "a.bq", NULL)); /* not "a.b" in queue "q" */
    ck_assert_uint_eq(interest.entry_count, 5);
    ck_assert(!local_remove(&interest, "a.b", NULL));
    ck_assert(local_remove(&interest, "a.b", NULL));
    ck_assert(local_add(&interest, "a.b", NULL)); /* first again after the last went */
    ck_assert(local_remove(&interest, "a.b", NULL));
    ck_assert(!local_remove(&interest, "a.b", "q"));
    ck_assert(local_remove(&interest, "a.b", "q"));
    ck_assert(local_remove(&interest, "a.b", "q2"));
    ck_assert(local_remove(&interest, "a.*", NULL));
    ck_assert(local_remove(&interest, "a.bq", NULL));
    ck_assert_uint_eq(interest.entry_count, 0);
    /* local counts are never in the replica */
    uint32_t origins;
    ck_assert(local_add(&interest, "a.b", NULL));
    ck_assert_uint_eq(match_origins(&interest, "a.b", &origins), 0);
    interest_destroy(&interest); /* with an entry left: destroy frees it */
}
END_TEST

START_TEST(test_remote_apply)
{
    struct interest interest;
    ck_assert_int_eq(interest_init(&interest, TEST_SEED), 0);
    uint32_t origins;
    remote_apply(&interest, 1, true, "a.b", NULL);
    remote_apply(&interest, 1, true, "a.b", NULL); /* twice: still one entry */
    remote_apply(&interest, 2, true, "a.*", NULL);
    remote_apply(&interest, 3, true, "a.b", "q");
    remote_apply(&interest, 0, true, ">", NULL);
    ck_assert_uint_eq(interest.entry_count, 4);
    ck_assert_uint_eq(match_origins(&interest, "a.b", &origins), 4);
    ck_assert_uint_eq(origins, 0xf);
    ck_assert_uint_eq(match_origins(&interest, "a.c", &origins), 2);
    ck_assert_uint_eq(origins, 0x5);
    ck_assert_uint_eq(match_origins(&interest, "b", &origins), 1);
    ck_assert_uint_eq(origins, 0x1);
    const struct sublist_result *result = interest_remote_match(&interest, "a.b", 3);
    ck_assert_uint_eq(result->group_count, 1);
    const struct remote_interest *member =
        (const struct remote_interest *)result->groups[0].members[0];
    ck_assert_int_eq(member->origin, 3);
    ck_assert_str_eq(member->sub.subject, "a.b"); /* NUL-terminated copies */
    ck_assert_str_eq(member->sub.queue, "q");
    /* a removal of what is absent changes nothing; a local count of the same pair is
     * another entry */
    remote_apply(&interest, 2, false, "a.b", NULL);
    remote_apply(&interest, 1, false, "a.b", "q");
    ck_assert(local_add(&interest, "a.b", NULL));
    ck_assert_uint_eq(interest.entry_count, 5);
    remote_apply(&interest, 1, false, "a.b", NULL);
    ck_assert_uint_eq(match_origins(&interest, "a.b", &origins), 3);
    ck_assert_uint_eq(origins, 0xd);
    ck_assert(local_remove(&interest, "a.b", NULL));
    remote_apply(&interest, 2, false, "a.*", NULL);
    remote_apply(&interest, 3, false, "a.b", "q");
    remote_apply(&interest, 0, false, ">", NULL);
    ck_assert_uint_eq(interest.entry_count, 0);
    ck_assert_uint_eq(match_origins(&interest, "a.b", &origins), 0);
    interest_destroy(&interest);
}
END_TEST

/* Keys of any length: nothing in the table is sized for a usual subject. */
START_TEST(test_long_keys)
{
    enum { LONG_TOKEN_COUNT = 2000 }; /* "t." repeated: a 4 KB subject */
    char *subject = malloc(2 * LONG_TOKEN_COUNT);
    char *queue = malloc(2 * LONG_TOKEN_COUNT);
    ck_assert_ptr_nonnull(subject);
    ck_assert_ptr_nonnull(queue);
    for (int i = 0; i < LONG_TOKEN_COUNT; i++) {
        memcpy(subject + 2 * i, "t.", 2);
    }
    subject[2 * LONG_TOKEN_COUNT - 1] = '\0';
    memset(queue, 'q', 2 * LONG_TOKEN_COUNT - 1);
    queue[2 * LONG_TOKEN_COUNT - 1] = '\0';
    struct interest interest;
    ck_assert_int_eq(interest_init(&interest, TEST_SEED), 0);
    ck_assert(local_add(&interest, subject, queue));
    ck_assert(!local_add(&interest, subject, queue));
    remote_apply(&interest, 1, true, subject, queue);
    remote_apply(&interest, 2, true, subject, NULL);
    uint32_t origins;
    ck_assert_uint_eq(match_origins(&interest, subject, &origins), 2);
    ck_assert_uint_eq(origins, 0x6);
    subject[2 * LONG_TOKEN_COUNT - 2] = 'u'; /* the last byte differs */
    ck_assert_uint_eq(match_origins(&interest, subject, &origins), 0);
    ck_assert(local_add(&interest, subject, queue));
    ck_assert(local_remove(&interest, subject, queue));
    subject[2 * LONG_TOKEN_COUNT - 2] = 't';
    ck_assert(!local_remove(&interest, subject, queue));
    ck_assert(local_remove(&interest, subject, queue));
    remote_apply(&interest, 1, false, subject, queue);
    remote_apply(&interest, 2, false, subject, NULL);
    ck_assert_uint_eq(interest.entry_count, 0);
    interest_destroy(&interest);
    free(subject);
    free(queue);
}
END_TEST

/* ---- Differential test --------------------------------------------------------------- */

enum {
    MODEL_SUBJECT_SIZE = 32,
    MODEL_ENTRY_MAX = 2048, /* more than the distinct keys the generators below can make */
    MODEL_ORIGIN_COUNT = 4,
    DIFF_OP_COUNT = 20000,
    DIFF_PROBES_PER_OP = 2,
    DIFF_FOUND_MAX = 512,
};

struct model_local {
    char subject[MODEL_SUBJECT_SIZE];
    char queue[MODEL_SUBJECT_SIZE]; /* "": no queue group */
    uint32_t count;
};

struct model_remote {
    int origin;
    char subject[MODEL_SUBJECT_SIZE];
    char queue[MODEL_SUBJECT_SIZE];
};

struct model {
    struct model_local local[MODEL_ENTRY_MAX];
    uint32_t local_count; /* entries, some with count 0 */
    struct model_remote remote[MODEL_ENTRY_MAX];
    uint32_t remote_count;
};

/* 1 to 3 tokens from a three-letter alphabet; a pattern may hold "*" tokens and a last
 * ">", so literal subjects are matched by many patterns at once. About 105 patterns, so
 * with 3 queue choices and 4 origins, 1,260 remote keys at most. */
static void random_subject(char *text, uint64_t *random_state, bool pattern)
{
    static const char *const tokens[] = {"a", "b", "c", "*"};
    uint32_t token_count = 1 + (uint32_t)(hash_sequence_next(random_state) % 3);
    size_t length = 0;
    for (uint32_t t = 0; t < token_count; t++) {
        const char *token = tokens[hash_sequence_next(random_state) % (pattern ? 4 : 3)];
        if (pattern && t == token_count - 1 && hash_sequence_next(random_state) % 5 == 0) {
            token = ">";
        }
        if (t > 0) {
            text[length++] = '.';
        }
        text[length++] = token[0];
    }
    text[length] = '\0';
}

static const char *random_queue(uint64_t *random_state)
{
    static const char *const queues[] = {"", "", "q1", "q2"};
    return queues[hash_sequence_next(random_state) % 4];
}

static const char *queue_or_null(const char *queue)
{
    return queue[0] != '\0' ? queue : NULL;
}

static struct model_local *model_local_find(struct model *model, const char *subject,
                                            const char *queue)
{
    for (uint32_t i = 0; i < model->local_count; i++) {
        struct model_local *l = &model->local[i];
        if (strcmp(l->subject, subject) == 0 && strcmp(l->queue, queue) == 0) {
            return l;
        }
    }
    QUIET_ASSERT(model->local_count < MODEL_ENTRY_MAX, "model full");
    struct model_local *l = &model->local[model->local_count++];
    strcpy(l->subject, subject);
    strcpy(l->queue, queue);
    l->count = 0;
    return l;
}

static int32_t model_remote_find(const struct model *model, int origin, const char *subject,
                                 const char *queue)
{
    for (uint32_t i = 0; i < model->remote_count; i++) {
        const struct model_remote *r = &model->remote[i];
        if (r->origin == origin && strcmp(r->subject, subject) == 0 &&
            strcmp(r->queue, queue) == 0) {
            return (int32_t)i;
        }
    }
    return -1;
}

static uint32_t model_entry_count(const struct model *model)
{
    uint32_t count = model->remote_count;
    for (uint32_t i = 0; i < model->local_count; i++) {
        count += model->local[i].count > 0;
    }
    return count;
}

/* A local add of (subject, queue) with allocations failing as armed when `fail`: it
 * succeeds and says first exactly when the model counts none, or (under `fail` only) says
 * -ENOMEM and the model stays as it was. */
static int step_local_add(struct interest *interest, struct model *model, const char *subject,
                          const char *queue, bool fail)
{
    struct model_local *l = model_local_find(model, subject, queue);
    bool first = false;
    alloc_fail.armed = fail;
    int rc = interest_local_add(interest, subject, (uint32_t)strlen(subject),
                                queue_or_null(queue), (uint32_t)strlen(queue), false, &first);
    alloc_fail.armed = false;
    QUIET_ASSERT(rc == 0 || (fail && rc == -ENOMEM), "local add %s '%s': %d", subject, queue,
                 rc);
    if (rc == 0) {
        QUIET_ASSERT(first == (l->count == 0), "local add %s '%s': first %d with %u before",
                     subject, queue, first, l->count);
        l->count++;
    }
    return rc;
}

/* A local removal (allocates nothing, so cannot fail, armed or not): last exactly when the
 * model counted one. */
static void step_local_remove(struct interest *interest, struct model_local *l, bool fail)
{
    QUIET_ASSERT(l->count > 0, "%s '%s' not counted", l->subject, l->queue);
    bool last = false;
    alloc_fail.armed = fail;
    interest_local_remove(interest, l->subject, (uint32_t)strlen(l->subject),
                          queue_or_null(l->queue), (uint32_t)strlen(l->queue), false, &last);
    alloc_fail.armed = false;
    QUIET_ASSERT(last == (l->count == 1), "local remove %s '%s': last %d with %u before",
                 l->subject, l->queue, last, l->count);
    l->count--;
}

/* A remote add (idempotent) or removal (of what is absent: a no-op), allocations failing
 * as armed when `fail`. Only an add of an absent key allocates, so only that may say
 * -ENOMEM, and then the model stays as it was. */
static int step_remote(struct interest *interest, struct model *model, int origin, bool add,
                       const char *subject, const char *queue, bool fail)
{
    alloc_fail.armed = fail;
    int rc = interest_remote_apply(interest, origin, add, subject, (uint32_t)strlen(subject),
                                   queue_or_null(queue), (uint32_t)strlen(queue), false);
    alloc_fail.armed = false;
    int32_t at = model_remote_find(model, origin, subject, queue);
    QUIET_ASSERT(rc == 0 || (fail && rc == -ENOMEM && add && at < 0), "remote %s %d %s: %d",
                 add ? "add" : "remove", origin, subject, rc);
    if (rc == 0 && add && at < 0) {
        QUIET_ASSERT(model->remote_count < MODEL_ENTRY_MAX, "model full");
        struct model_remote *r = &model->remote[model->remote_count++];
        r->origin = origin;
        strcpy(r->subject, subject);
        strcpy(r->queue, queue);
    } else if (rc == 0 && !add && at >= 0) {
        model->remote[at] = model->remote[--model->remote_count];
    }
    return rc;
}

static void diff_local_add(struct interest *interest, struct model *model, uint64_t *state,
                           bool fail)
{
    char subject[MODEL_SUBJECT_SIZE];
    random_subject(subject, state, true);
    step_local_add(interest, model, subject, random_queue(state), fail);
}

static void diff_local_remove(struct interest *interest, struct model *model, uint64_t *state,
                              bool fail)
{
    if (model->local_count == 0) {
        return;
    }
    struct model_local *l = &model->local[hash_sequence_next(state) % model->local_count];
    if (l->count == 0) {
        return; /* removing what was never added is a caller's bug the table asserts on */
    }
    step_local_remove(interest, l, fail);
}

/* An add of a random key (maybe present: idempotent), or a removal of a present key (3 in
 * 4) or a random one (maybe absent: a no-op). */
static void diff_remote(struct interest *interest, struct model *model, uint64_t *state,
                        bool add, bool fail)
{
    int origin = (int)(hash_sequence_next(state) % MODEL_ORIGIN_COUNT);
    char subject[MODEL_SUBJECT_SIZE];
    random_subject(subject, state, true);
    const char *queue = random_queue(state);
    if (!add && model->remote_count > 0 && hash_sequence_next(state) % 4 != 0) {
        const struct model_remote *r =
            &model->remote[hash_sequence_next(state) % model->remote_count];
        origin = r->origin;
        strcpy(subject, r->subject);
        queue = r->queue;
    }
    char queue_copy[MODEL_SUBJECT_SIZE];
    strcpy(queue_copy, queue); /* the model entry it came from may move */
    step_remote(interest, model, origin, add, subject, queue_copy, fail);
}

static bool remote_is(const struct remote_interest *found, const struct model_remote *r)
{
    size_t subject_length = strlen(r->subject);
    size_t queue_length = strlen(r->queue);
    return found->origin == r->origin && found->sub.subject_length == subject_length &&
           memcmp(found->sub.subject, r->subject, subject_length) == 0 &&
           found->sub.queue_length == queue_length &&
           (queue_length == 0 || memcmp(found->sub.queue, r->queue, queue_length) == 0);
}

/* The replica's match of a literal subject against the linear scan: every model entry
 * whose pattern matches is found exactly once, with the key it was announced with, and
 * nothing else is found. */
static void diff_probe(struct interest *interest, const struct model *model,
                       const char *subject)
{
    static const struct remote_interest *found[DIFF_FOUND_MAX];
    uint32_t found_count = result_collect(
        interest_remote_match(interest, subject, strlen(subject)), found, DIFF_FOUND_MAX);
    bool taken[DIFF_FOUND_MAX] = {false};
    uint32_t expected = 0;
    for (uint32_t i = 0; i < model->remote_count; i++) {
        const struct model_remote *r = &model->remote[i];
        if (!subject_matches(r->subject, strlen(r->subject), subject, strlen(subject))) {
            continue;
        }
        expected++;
        uint32_t f = 0;
        while (f < found_count && (taken[f] || !remote_is(found[f], r))) {
            f++;
        }
        QUIET_ASSERT(f < found_count, "%s: %d %s '%s' not matched", subject, r->origin,
                     r->subject, r->queue);
        taken[f] = true;
    }
    QUIET_ASSERT(found_count == expected, "%s: %u matched, %u expected", subject, found_count,
                 expected);
    for (uint32_t f = 0; f < found_count; f++) {
        const struct sub *sub = &found[f]->sub;
        QUIET_ASSERT(sub->subject[sub->subject_length] == '\0', "subject not terminated");
        QUIET_ASSERT(sub->queue_length == 0 || sub->queue[sub->queue_length] == '\0',
                     "queue not terminated");
    }
}

/* The table against the model: as many entries, and every literal subject of 1 to 3
 * tokens over a, b, c (all that random patterns can match) matched exactly. */
static void model_check(struct interest *interest, const struct model *model)
{
    QUIET_ASSERT(interest->entry_count == model_entry_count(model), "%u entries, %u in model",
                 interest->entry_count, model_entry_count(model));
    static const char tokens[] = {'a', 'b', 'c'};
    char subject[MODEL_SUBJECT_SIZE];
    for (uint32_t depth = 1, width = 3; depth <= 3; depth++, width *= 3) {
        for (uint32_t n = 0; n < width; n++) {
            uint32_t rest = n;
            for (uint32_t t = 0; t < depth; t++) {
                subject[2 * t] = tokens[rest % 3];
                subject[2 * t + 1] = t + 1 < depth ? '.' : '\0';
                rest /= 3;
            }
            diff_probe(interest, model, subject);
        }
    }
}

/* Every local and remote entry the model holds is removed, with allocations failing as
 * armed when `fail` (a removal needs none it cannot do without); the table is then empty. */
static void model_drain(struct interest *interest, struct model *model, bool fail)
{
    for (uint32_t i = 0; i < model->local_count; i++) {
        while (model->local[i].count > 0) {
            step_local_remove(interest, &model->local[i], fail);
        }
    }
    while (model->remote_count > 0) {
        struct model_remote r = model->remote[model->remote_count - 1];
        step_remote(interest, model, r.origin, false, r.subject, r.queue, fail);
        diff_probe(interest, model, "a.b");
    }
    QUIET_ASSERT(interest->entry_count == 0, "%u entries left", interest->entry_count);
}

/* DIFF_OP_COUNT random operations checked against the model; under `fail`, allocations
 * fail as alloc_fail is set, and every block the table took must come back. */
static void diff_run(uint64_t seed, bool fail)
{
    struct model *model = calloc(1, sizeof *model);
    ck_assert_ptr_nonnull(model);
    int64_t live_before = alloc_fail.live_count;
    uint64_t state = seed;
    struct interest interest;
    ck_assert_int_eq(interest_init(&interest, state), 0);
    uint32_t entry_count_max = 0;
    for (uint32_t op = 0; op < DIFF_OP_COUNT; op++) {
        uint64_t pick = hash_sequence_next(&state) % 100;
        if (pick < 35) {
            diff_local_add(&interest, model, &state, fail);
        } else if (pick < 60) {
            diff_local_remove(&interest, model, &state, fail);
        } else if (pick < 80) {
            diff_remote(&interest, model, &state, true, fail);
        } else {
            diff_remote(&interest, model, &state, false, fail);
        }
        QUIET_ASSERT(interest.entry_count == model_entry_count(model), "op %u: %u entries, %u",
                     op, interest.entry_count, model_entry_count(model));
        entry_count_max =
            interest.entry_count > entry_count_max ? interest.entry_count : entry_count_max;
        for (uint32_t p = 0; p < DIFF_PROBES_PER_OP; p++) {
            char subject[MODEL_SUBJECT_SIZE];
            random_subject(subject, &state, false);
            diff_probe(&interest, model, subject);
        }
    }
    ck_assert_uint_gt(entry_count_max, 64); /* the table grew past its first size */
    model_check(&interest, model);
    /* drain: every local pair reports its last removal exactly once */
    model_drain(&interest, model, fail);
    interest_destroy(&interest);
    ck_assert_int_eq(alloc_fail.live_count, live_before);
    free(model);
}

START_TEST(test_differential)
{
    diff_run(TEST_SEED + (uint64_t)_i, false);
}
END_TEST

/* The same with one allocation in 3, 8 or 50 failing at random: a failed add says -ENOMEM
 * and changes nothing, and nothing leaks. */
START_TEST(test_differential_alloc_failure)
{
    static const uint32_t one_in[] = {3, 8, 50};
    alloc_fail_random(one_in[_i], 11 + (uint64_t)_i);
    diff_run(TEST_SEED + 100 + (uint64_t)_i, true);
    ck_assert_uint_gt(alloc_fail.failed_count, 0);
}
END_TEST

/* ---- Each allocation point failing in turn --------------------------------------------- */

enum { EACH_POINT_OP_COUNT = 200 };

/* Sets up a table, runs the same EACH_POINT_OP_COUNT operations (adds mostly, so the table
 * grows past its first size), removes everything and destroys the table, with the armed
 * allocation numbered `fail_at` failing. The call it fails in says -ENOMEM and leaves the
 * table as the model has it (checked whole right then), and the same call retried succeeds;
 * every block comes back. Returns whether allocation `fail_at` was reached at all. */
static bool each_point_run(uint64_t fail_at, uint32_t *entry_count_max)
{
    struct model *model = calloc(1, sizeof *model);
    QUIET_ASSERT(model != NULL, "model");
    int64_t live_before = alloc_fail.live_count;
    alloc_fail_at(fail_at);
    struct interest interest;
    alloc_fail.armed = true;
    int rc = interest_init(&interest, TEST_SEED);
    alloc_fail.armed = false;
    if (rc != 0) {
        QUIET_ASSERT(rc == -ENOMEM, "init: %d", rc);
        QUIET_ASSERT(alloc_fail.live_count == live_before, "init leaked at %d", (int)fail_at);
        free(model);
        return true;
    }
    uint64_t state = TEST_SEED;
    for (uint32_t op = 0; op < EACH_POINT_OP_COUNT; op++) {
        uint64_t pick = hash_sequence_next(&state) % 100;
        int origin = (int)(hash_sequence_next(&state) % MODEL_ORIGIN_COUNT);
        char subject[MODEL_SUBJECT_SIZE];
        random_subject(subject, &state, true);
        const char *queue = random_queue(&state);
        if (pick < 45) {
            if (step_local_add(&interest, model, subject, queue, true) != 0) {
                model_check(&interest, model);
                step_local_add(&interest, model, subject, queue, false);
            }
        } else if (pick < 90) {
            if (step_remote(&interest, model, origin, true, subject, queue, true) != 0) {
                model_check(&interest, model);
                step_remote(&interest, model, origin, true, subject, queue, false);
            }
        } else if (pick < 95) {
            diff_local_remove(&interest, model, &state, true);
        } else {
            diff_remote(&interest, model, &state, false, true);
        }
        *entry_count_max =
            interest.entry_count > *entry_count_max ? interest.entry_count : *entry_count_max;
    }
    model_check(&interest, model);
    model_drain(&interest, model, true);
    alloc_fail.armed = true;
    interest_destroy(&interest);
    alloc_fail.armed = false;
    QUIET_ASSERT(alloc_fail.live_count == live_before, "leak with allocation %d failing",
                 (int)fail_at);
    free(model);
    return alloc_fail.failed_count > 0;
}

START_TEST(test_alloc_failure_each_point)
{
    uint32_t entry_count_max = 0;
    uint64_t fail_at = 1;
    while (each_point_run(fail_at, &entry_count_max)) {
        fail_at++;
    }
    ck_assert_uint_gt(entry_count_max, 64); /* the table grew: its growth failed once too */
    ck_assert_uint_gt(fail_at, 200);        /* every allocation point of the run was tried */
}
END_TEST

static Suite *interest_suite(void)
{
    Suite *suite = suite_create("interest");
    TCase *basics = tcase_create("basics");
    tcase_add_test(basics, test_local_first_and_last);
    tcase_add_test(basics, test_remote_apply);
    tcase_add_test(basics, test_long_keys);
    suite_add_tcase(suite, basics);
    TCase *differential = tcase_create("differential");
    tcase_add_loop_test(differential, test_differential, 0, 4);
    tcase_add_loop_test(differential, test_differential_alloc_failure, 0, 3);
    tcase_add_test(differential, test_alloc_failure_each_point);
    suite_add_tcase(suite, differential);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(interest_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
