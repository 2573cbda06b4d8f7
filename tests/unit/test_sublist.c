/* Unit tests for proto/sublist.c: literal and wildcard subscriptions, queue groups merged
 * across both, removal and pruning, cache invalidation, many subscriptions on one subject,
 * 100k literal subscriptions, and a differential test against a linear scan of every
 * inserted subscription with subject_matches, also run with allocations failing at random
 * and at each allocation point in turn (alloc_fail.h: under ASan too). */
#include "base/hash.h"
#include "proto/subject.h"
#include "proto/sublist.h"
#include "tests/unit/alloc_fail.h"

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Test subscriptions and the naive model ------------------------------------------ */

enum { TEST_SUBJECT_SIZE = 64, TEST_QUEUE_SIZE = 16 };

struct test_sub {
    struct sub sub;
    bool inserted;
    uint32_t seen_stamp; /* the check that last saw it in a result */
    char subject[TEST_SUBJECT_SIZE];
    char queue[TEST_QUEUE_SIZE];
};

/* ck_assert reports every passing check to the runner (a write per check); the checks in
 * hot loops stay silent until one fails. */
#define QUIET_ASSERT(condition, ...)                                                       \
    do {                                                                                   \
        if (!(condition)) {                                                                \
            ck_abort_msg(__VA_ARGS__);                                                     \
        }                                                                                  \
    } while (0)

static struct test_sub *test_sub_of(const struct sub *sub)
{
    return (struct test_sub *)((char *)sub - offsetof(struct test_sub, sub));
}

static void test_sub_set(struct test_sub *t, const char *subject, const char *queue)
{
    QUIET_ASSERT(!t->inserted, "%s is inserted", t->subject);
    QUIET_ASSERT(strlen(subject) < sizeof t->subject, "%s too long", subject);
    strcpy(t->subject, subject);
    t->sub.subject = t->subject;
    t->sub.subject_length = (uint32_t)strlen(subject);
    if (queue == NULL) {
        t->sub.queue = NULL;
        t->sub.queue_length = 0;
    } else {
        QUIET_ASSERT(strlen(queue) < sizeof t->queue, "%s too long", queue);
        strcpy(t->queue, queue);
        t->sub.queue = t->queue;
        t->sub.queue_length = (uint32_t)strlen(queue);
    }
}

static void test_insert(struct sublist *list, struct test_sub *t)
{
    int rc = sublist_insert(list, &t->sub);
    QUIET_ASSERT(rc == 0, "insert %s: %d", t->subject, rc);
    t->inserted = true;
}

static void test_remove(struct sublist *list, struct test_sub *t)
{
    int rc = sublist_remove(list, &t->sub);
    QUIET_ASSERT(rc == 0, "remove %s: %d", t->subject, rc);
    t->inserted = false;
}

static uint32_t check_stamp;

/* Checks `result` for `subject` against a linear scan of `subs`: every sub in the result
 * is inserted, matches, sits in the right place (plain, or the group of its queue name),
 * appears once; group names are distinct and groups non-empty; and the result holds as
 * many subs as the scan finds. Together: the same sets. */
static void check_result(const struct sublist_result *result, struct test_sub *subs,
                         size_t sub_count, const char *subject)
{
    size_t length = strlen(subject);
    uint32_t stamp = ++check_stamp;
    size_t found = 0;
    QUIET_ASSERT(result != NULL, "%s: NULL result", subject);
    for (uint32_t i = 0; i < result->plain_count; i++) {
        struct test_sub *t = test_sub_of(result->plain[i]);
        QUIET_ASSERT(t->inserted, "%s: removed sub %s in result", subject, t->subject);
        QUIET_ASSERT(t->sub.queue == NULL, "%s: queue sub among plain", subject);
        QUIET_ASSERT(subject_matches(t->subject, t->sub.subject_length, subject, length),
                     "%s: %s does not match", subject, t->subject);
        QUIET_ASSERT(t->seen_stamp != stamp, "%s: duplicate %s", subject, t->subject);
        t->seen_stamp = stamp;
        found++;
    }
    for (uint32_t g = 0; g < result->group_count; g++) {
        const struct sublist_queue_group *group = &result->groups[g];
        QUIET_ASSERT(group->member_count > 0, "%s: empty group", subject);
        for (uint32_t h = 0; h < g; h++) {
            QUIET_ASSERT(group->name_length != result->groups[h].name_length ||
                             memcmp(group->name, result->groups[h].name, group->name_length),
                         "%s: group %.*s twice", subject, (int)group->name_length,
                         group->name);
        }
        for (uint32_t i = 0; i < group->member_count; i++) {
            struct test_sub *t = test_sub_of(group->members[i]);
            QUIET_ASSERT(t->inserted, "%s: removed sub %s in result", subject, t->subject);
            QUIET_ASSERT(t->sub.queue != NULL, "%s: plain sub in a group", subject);
            QUIET_ASSERT(t->sub.queue_length == group->name_length &&
                            memcmp(t->sub.queue, group->name, group->name_length) == 0,
                         "%s: member of %s in group %.*s", subject, t->queue,
                         (int)group->name_length, group->name);
            QUIET_ASSERT(subject_matches(t->subject, t->sub.subject_length, subject, length),
                         "%s: %s does not match", subject, t->subject);
            QUIET_ASSERT(t->seen_stamp != stamp, "%s: duplicate %s", subject, t->subject);
            t->seen_stamp = stamp;
            found++;
        }
    }
    size_t expected = 0;
    for (size_t i = 0; i < sub_count; i++) {
        struct test_sub *t = &subs[i];
        if (t->inserted &&
            subject_matches(t->subject, t->sub.subject_length, subject, length)) {
            expected++;
        }
    }
    QUIET_ASSERT(found == expected, "%s: %zu subs in result, %zu match", subject, found,
                 expected);
}

static const struct sublist_result *test_match(struct sublist *list, const char *subject)
{
    return sublist_match(list, subject, strlen(subject));
}

static uint32_t result_size(const struct sublist_result *result)
{
    uint32_t size = result->plain_count;
    for (uint32_t g = 0; g < result->group_count; g++) {
        size += result->groups[g].member_count;
    }
    return size;
}

static struct sublist_stats test_stats(const struct sublist *list)
{
    struct sublist_stats stats;
    sublist_stats_get(list, &stats);
    return stats;
}

enum { TEST_SEED = 0x5eed };

/* ---- Basics ---------------------------------------------------------------------------- */

START_TEST(test_literal)
{
    struct sublist *list = sublist_create(TEST_SEED);
    ck_assert_ptr_nonnull(list);
    struct test_sub subs[3] = {0};
    test_sub_set(&subs[0], "foo", NULL);
    test_sub_set(&subs[1], "foo.bar", NULL);
    test_sub_set(&subs[2], "foo", NULL);
    for (size_t i = 0; i < 3; i++) {
        test_insert(list, &subs[i]);
    }
    ck_assert_uint_eq(test_stats(list).sub_count, 3);

    const struct sublist_result *result = test_match(list, "foo");
    ck_assert_uint_eq(result->plain_count, 2);
    ck_assert_uint_eq(result->group_count, 0);
    check_result(result, subs, 3, "foo");
    check_result(test_match(list, "foo.bar"), subs, 3, "foo.bar");
    ck_assert_uint_eq(result_size(test_match(list, "bar")), 0);
    ck_assert_uint_eq(result_size(test_match(list, "fo")), 0);
    ck_assert_uint_eq(result_size(test_match(list, "foo.bar.baz")), 0);
    ck_assert_uint_eq(sublist_trie_node_count(list), 0);

    test_remove(list, &subs[0]);
    result = test_match(list, "foo");
    ck_assert_uint_eq(result->plain_count, 1);
    ck_assert_ptr_eq(result->plain[0], &subs[2].sub);
    ck_assert_int_eq(sublist_remove(list, &subs[0].sub), -ENOENT);
    test_remove(list, &subs[2]);
    test_remove(list, &subs[1]);
    ck_assert_uint_eq(result_size(test_match(list, "foo")), 0);
    ck_assert_uint_eq(result_size(test_match(list, "foo.bar")), 0);
    struct sublist_stats stats = test_stats(list);
    ck_assert_uint_eq(stats.sub_count, 0);
    ck_assert_uint_eq(stats.generation, 6);
    ck_assert_uint_eq(stats.alloc_failure_count, 0);
    sublist_destroy(list);
}
END_TEST

START_TEST(test_wildcard)
{
    struct sublist *list = sublist_create(TEST_SEED);
    ck_assert_ptr_nonnull(list);
    static const char *const patterns[] = {"*",     ">",     "a.*",   "a.>",  "a.*.c",
                                           "a.*.>", "*.b",   "*.*.*", "a.b",  "a.b.c",
                                           "foo*",  "a.b*",  "*.>",   "a.*.c"};
    enum { COUNT = sizeof patterns / sizeof patterns[0] };
    struct test_sub subs[COUNT] = {0};
    for (size_t i = 0; i < COUNT; i++) {
        test_sub_set(&subs[i], patterns[i], NULL);
        test_insert(list, &subs[i]);
    }
    static const char *const subjects[] = {"a",     "b",     "a.b",     "a.c",   "a.b.c",
                                           "a.b.d", "x.b",   "a.b.c.d", "foo*",  "foo",
                                           "a.b*",  "x.y.z", "*",       "a.*",   ">"};
    for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++) {
        check_result(test_match(list, subjects[i]), subs, COUNT, subjects[i]);
        check_result(test_match(list, subjects[i]), subs, COUNT, subjects[i]); /* cached */
    }
    ck_assert_uint_eq(result_size(test_match(list, "a")), 2);       /* "*", ">" */
    /* ">", "a.>", "a.*.c" twice, "a.*.>", "*.*.*", "a.b.c", "*.>" */
    ck_assert_uint_eq(result_size(test_match(list, "a.b.c")), 8);
    for (size_t i = 0; i < COUNT; i++) {
        test_remove(list, &subs[i]);
        for (size_t j = 0; j < sizeof subjects / sizeof subjects[0]; j++) {
            check_result(test_match(list, subjects[j]), subs, COUNT, subjects[j]);
        }
    }
    ck_assert_uint_eq(sublist_trie_node_count(list), 0);
    sublist_destroy(list);
}
END_TEST

START_TEST(test_published_wildcard_tokens)
{
    /* Without pedantic mode a client may publish to "a.*": its tokens are plain tokens, so
     * "a.*" and "a.>" subscriptions match it and nothing is delivered twice. */
    struct sublist *list = sublist_create(TEST_SEED);
    ck_assert_ptr_nonnull(list);
    struct test_sub subs[4] = {0};
    test_sub_set(&subs[0], "a.*", NULL);
    test_sub_set(&subs[1], "a.>", NULL);
    test_sub_set(&subs[2], "a.b", NULL);
    test_sub_set(&subs[3], "a.*.>", NULL);
    for (size_t i = 0; i < 4; i++) {
        test_insert(list, &subs[i]);
    }
    ck_assert_uint_eq(result_size(test_match(list, "a.*")), 2);
    check_result(test_match(list, "a.*"), subs, 4, "a.*");
    ck_assert_uint_eq(result_size(test_match(list, "a.>")), 2);
    check_result(test_match(list, "a.>"), subs, 4, "a.>");
    ck_assert_uint_eq(result_size(test_match(list, "a.*.>")), 2);
    check_result(test_match(list, "a.*.>"), subs, 4, "a.*.>");
    sublist_destroy(list);
}
END_TEST

START_TEST(test_queue_groups_merged)
{
    struct sublist *list = sublist_create(TEST_SEED);
    ck_assert_ptr_nonnull(list);
    struct test_sub subs[8] = {0};
    test_sub_set(&subs[0], "orders.new", "workers");
    test_sub_set(&subs[1], "orders.*", "workers");
    test_sub_set(&subs[2], "orders.>", "workers");
    test_sub_set(&subs[3], "orders.new", "audit");
    test_sub_set(&subs[4], "orders.new", NULL);
    test_sub_set(&subs[5], ">", NULL);
    test_sub_set(&subs[6], "orders.new", "workers");
    test_sub_set(&subs[7], "orders.old", "workers");
    for (size_t i = 0; i < 8; i++) {
        test_insert(list, &subs[i]);
    }
    const struct sublist_result *result = test_match(list, "orders.new");
    check_result(result, subs, 8, "orders.new");
    ck_assert_uint_eq(result->plain_count, 2);
    ck_assert_uint_eq(result->group_count, 2);
    for (uint32_t g = 0; g < result->group_count; g++) {
        const struct sublist_queue_group *group = &result->groups[g];
        if (group->name_length == strlen("workers")) {
            ck_assert_int_eq(memcmp(group->name, "workers", group->name_length), 0);
            ck_assert_uint_eq(group->member_count, 4); /* literal x2, "*", ">" */
        } else {
            ck_assert_int_eq(memcmp(group->name, "audit", group->name_length), 0);
            ck_assert_uint_eq(group->member_count, 1);
        }
    }
    /* Remove the member each group is named after: the name stays readable. */
    test_remove(list, &subs[0]);
    test_remove(list, &subs[3]);
    result = test_match(list, "orders.new");
    check_result(result, subs, 8, "orders.new");
    ck_assert_uint_eq(result->group_count, 1);
    ck_assert_uint_eq(result->groups[0].member_count, 3);
    test_remove(list, &subs[5]);
    test_remove(list, &subs[1]);
    test_remove(list, &subs[2]);
    result = test_match(list, "orders.new"); /* literal only now */
    check_result(result, subs, 8, "orders.new");
    ck_assert_uint_eq(result->plain_count, 1);
    ck_assert_uint_eq(result->group_count, 1);
    ck_assert_uint_eq(result->groups[0].member_count, 1);
    ck_assert_ptr_eq(result->groups[0].members[0], &subs[6].sub);
    ck_assert_uint_eq(sublist_trie_node_count(list), 0);
    sublist_destroy(list);
}
END_TEST

START_TEST(test_cache_invalidation)
{
    struct sublist *list = sublist_create(TEST_SEED);
    ck_assert_ptr_nonnull(list);
    struct test_sub subs[4] = {0};
    test_sub_set(&subs[0], "foo.*", NULL);
    test_sub_set(&subs[1], "foo.>", NULL);
    test_sub_set(&subs[2], "foo.bar", NULL);
    test_sub_set(&subs[3], "*.bar", "q");

    /* One set answers alone, from the index itself: nothing is cached. */
    test_insert(list, &subs[0]);
    ck_assert_uint_eq(result_size(test_match(list, "foo.bar")), 1);
    ck_assert_uint_eq(test_stats(list).cache_entry_count, 0);

    /* Two sets make a merged result, cached and then hit. */
    test_insert(list, &subs[1]);
    ck_assert_uint_eq(result_size(test_match(list, "foo.bar")), 2);
    ck_assert_uint_eq(test_stats(list).cache_entry_count, 1);
    uint64_t hits = test_stats(list).cache_hit_count;
    ck_assert_uint_eq(result_size(test_match(list, "foo.bar")), 2);
    ck_assert_uint_eq(test_stats(list).cache_hit_count, hits + 1);

    /* A new literal sub makes the cached result stale: rebuilt, then hit again. */
    test_insert(list, &subs[2]);
    check_result(test_match(list, "foo.bar"), subs, 4, "foo.bar");
    ck_assert_uint_eq(test_stats(list).cache_hit_count, hits + 1);
    ck_assert_uint_eq(result_size(test_match(list, "foo.bar")), 3);
    ck_assert_uint_eq(test_stats(list).cache_hit_count, hits + 2);
    ck_assert_uint_eq(test_stats(list).cache_entry_count, 1);

    test_insert(list, &subs[3]);
    ck_assert_uint_eq(result_size(test_match(list, "foo.bar")), 4);
    test_remove(list, &subs[0]);
    ck_assert_uint_eq(result_size(test_match(list, "foo.bar")), 3);
    check_result(test_match(list, "foo.bar"), subs, 4, "foo.bar");
    test_remove(list, &subs[1]);
    check_result(test_match(list, "foo.bar"), subs, 4, "foo.bar");
    test_remove(list, &subs[2]);
    const struct sublist_result *result = test_match(list, "foo.bar");
    ck_assert_uint_eq(result->plain_count, 0);
    ck_assert_uint_eq(result->group_count, 1);
    ck_assert_uint_eq(result->groups[0].member_count, 1);
    test_remove(list, &subs[3]);
    ck_assert_uint_eq(result_size(test_match(list, "foo.bar")), 0);

    /* A removed sub can come back, with another subject. */
    test_sub_set(&subs[0], "foo.bar", NULL);
    test_insert(list, &subs[0]);
    ck_assert_uint_eq(result_size(test_match(list, "foo.bar")), 1);
    test_remove(list, &subs[0]);
    ck_assert_uint_eq(test_stats(list).alloc_failure_count, 0);
    sublist_destroy(list);
}
END_TEST

START_TEST(test_cache_bounded)
{
    enum { SUBJECT_COUNT = 10000 };
    struct sublist *list = sublist_create(TEST_SEED);
    ck_assert_ptr_nonnull(list);
    struct test_sub subs[3] = {0};
    test_sub_set(&subs[0], "load.>", NULL);
    test_sub_set(&subs[1], "load.*", "q");
    test_sub_set(&subs[2], "load.7", "q");
    for (size_t i = 0; i < 3; i++) {
        test_insert(list, &subs[i]);
    }
    char subject[TEST_SUBJECT_SIZE];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < SUBJECT_COUNT; i++) {
            snprintf(subject, sizeof subject, "load.%d", i);
            const struct sublist_result *result = test_match(list, subject);
            QUIET_ASSERT(result_size(result) == (i == 7 ? 3u : 2u), "%s: wrong result", subject);
            QUIET_ASSERT(test_stats(list).cache_entry_count <= 4096, "cache over its bound");
        }
    }
    check_result(test_match(list, "load.7"), subs, 3, "load.7");
    struct sublist_stats stats = test_stats(list);
    ck_assert_uint_eq(stats.cache_entry_count, 4096);
    ck_assert_uint_eq(stats.match_count, 2 * SUBJECT_COUNT + 1);
    ck_assert_uint_eq(stats.alloc_failure_count, 0);
    sublist_destroy(list);
}
END_TEST

START_TEST(test_cache_byte_budget)
{
    /* 2000 subs make each merged result about 16 KiB: the 16 MiB budget, not the 4096
     * entries, bounds the cache. 40000 subs make a result too large to cache at all. */
    enum { MID_COUNT = 2000, BIG_COUNT = 40000, SUBJECT_COUNT = 3000 };
    struct test_sub *subs = calloc(MID_COUNT + BIG_COUNT, sizeof *subs);
    ck_assert_ptr_nonnull(subs);
    struct sublist *list = sublist_create(TEST_SEED);
    ck_assert_ptr_nonnull(list);
    for (size_t i = 0; i < MID_COUNT + BIG_COUNT; i++) {
        static const char *const patterns[] = {"mid.>", "mid.*", "big.>", "big.*"};
        test_sub_set(&subs[i], patterns[(i < MID_COUNT ? 0 : 2) + i % 2], NULL);
        test_insert(list, &subs[i]);
    }
    char subject[TEST_SUBJECT_SIZE];
    for (int i = 0; i < SUBJECT_COUNT; i++) {
        snprintf(subject, sizeof subject, "mid.%d", i);
        QUIET_ASSERT(result_size(test_match(list, subject)) == MID_COUNT, "%s", subject);
    }
    struct sublist_stats stats = test_stats(list);
    ck_assert_uint_gt(stats.cache_entry_count, 500);
    ck_assert_uint_lt(stats.cache_entry_count, 1100);

    check_result(test_match(list, "big.x"), subs, MID_COUNT + BIG_COUNT, "big.x");
    uint64_t entries = test_stats(list).cache_entry_count;
    uint64_t hits = test_stats(list).cache_hit_count;
    check_result(test_match(list, "big.x"), subs, MID_COUNT + BIG_COUNT, "big.x");
    ck_assert_uint_eq(test_stats(list).cache_hit_count, hits);
    ck_assert_uint_eq(test_stats(list).cache_entry_count, entries);
    ck_assert_uint_eq(test_stats(list).alloc_failure_count, 0);
    sublist_destroy(list);
    free(subs);
}
END_TEST

/* ---- Many subscriptions ---------------------------------------------------------------- */

static void shuffle(struct test_sub **items, size_t count, uint64_t *random_state)
{
    for (size_t i = count; i > 1; i--) {
        size_t j = hash_sequence_next(random_state) % i;
        struct test_sub *swap = items[i - 1];
        items[i - 1] = items[j];
        items[j] = swap;
    }
}

START_TEST(test_many_subs_one_subject)
{
    enum { PER_SUBJECT = 10000, TAIL_COUNT = 1000, CHECK_EVERY = 997 };
    static const char *const queues[] = {NULL, NULL, "workers", "audit"};
    size_t count = 2 * PER_SUBJECT + TAIL_COUNT;
    struct test_sub *subs = calloc(count, sizeof *subs);
    struct test_sub **order = calloc(count, sizeof *order);
    ck_assert_ptr_nonnull(subs);
    ck_assert_ptr_nonnull(order);
    struct sublist *list = sublist_create(TEST_SEED);
    ck_assert_ptr_nonnull(list);
    for (size_t i = 0; i < count; i++) {
        const char *subject = i < PER_SUBJECT ? "foo.bar" : i < 2 * PER_SUBJECT ? "foo.*" : ">";
        test_sub_set(&subs[i], subject, queues[i % 4]);
        test_insert(list, &subs[i]);
        order[i] = &subs[i];
    }
    const struct sublist_result *result = test_match(list, "foo.bar");
    check_result(result, subs, count, "foo.bar");
    ck_assert_uint_eq(result->group_count, 2);
    ck_assert_uint_eq(result_size(result), count);

    uint64_t random_state = 1;
    shuffle(order, count, &random_state);
    for (size_t i = 0; i < count; i++) {
        test_remove(list, order[i]);
        if (i % CHECK_EVERY == 0) {
            check_result(test_match(list, "foo.bar"), subs, count, "foo.bar");
            check_result(test_match(list, "foo.baz"), subs, count, "foo.baz");
        }
    }
    ck_assert_uint_eq(result_size(test_match(list, "foo.bar")), 0);
    ck_assert_uint_eq(test_stats(list).sub_count, 0);
    ck_assert_uint_eq(sublist_trie_node_count(list), 0);
    sublist_destroy(list);
    free(order);
    free(subs);
}
END_TEST

START_TEST(test_scale_literal)
{
    enum { INBOX_COUNT = 100000, PROBE_EVERY = 7919 };
    struct test_sub *subs = calloc(INBOX_COUNT, sizeof *subs);
    struct test_sub **order = calloc(INBOX_COUNT, sizeof *order);
    ck_assert_ptr_nonnull(subs);
    ck_assert_ptr_nonnull(order);
    struct sublist *list = sublist_create(TEST_SEED);
    ck_assert_ptr_nonnull(list);
    char subject[TEST_SUBJECT_SIZE];
    for (size_t i = 0; i < INBOX_COUNT; i++) {
        snprintf(subject, sizeof subject, "_INBOX.%08zx.%zu", i * 2654435761u, i);
        test_sub_set(&subs[i], subject, NULL);
        test_insert(list, &subs[i]);
        order[i] = &subs[i];
    }
    ck_assert_uint_eq(test_stats(list).sub_count, INBOX_COUNT);
    for (size_t i = 0; i < INBOX_COUNT; i++) {
        const struct sublist_result *result = test_match(list, subs[i].subject);
        QUIET_ASSERT(result->plain_count == 1 && result->group_count == 0 &&
                         result->plain[0] == &subs[i].sub,
                     "%s: wrong result", subs[i].subject);
    }
    ck_assert_uint_eq(result_size(test_match(list, "_INBOX.nope.1")), 0);

    uint64_t random_state = 2;
    shuffle(order, INBOX_COUNT, &random_state);
    for (size_t i = 0; i < INBOX_COUNT; i++) {
        test_remove(list, order[i]);
        if (i % PROBE_EVERY == 0) {
            ck_assert_uint_eq(result_size(test_match(list, order[i]->subject)), 0);
            const struct test_sub *kept = order[INBOX_COUNT - 1 - i / 2];
            ck_assert_uint_eq(result_size(test_match(list, kept->subject)), kept->inserted);
        }
    }
    struct sublist_stats stats = test_stats(list);
    ck_assert_uint_eq(stats.sub_count, 0);
    ck_assert_uint_eq(stats.generation, 2 * INBOX_COUNT);
    ck_assert_uint_eq(stats.alloc_failure_count, 0);
    sublist_destroy(list);
    free(order);
    free(subs);
}
END_TEST

/* ---- Differential test ----------------------------------------------------------------- */

enum {
    DIFF_POOL_COUNT = 300,      /* subscriptions that come and go */
    DIFF_OP_COUNT = 4000,       /* inserts and removes */
    DIFF_PROBES_PER_OP = 6,     /* random subjects matched after each op */
    DIFF_SWEEP_EVERY = 250,     /* ops between matches of every subject of depth 1..4 */
    DIFF_DEPTH_MAX = 4,
};

static const char diff_tokens[] = {'a', 'b', 'c'};

/* A random pattern of depth 1..4 over a, b, c, with "*" anywhere and ">" last. */
static void diff_pattern(char *text, uint64_t *random_state)
{
    uint32_t depth = 1 + hash_sequence_next(random_state) % DIFF_DEPTH_MAX;
    char *cursor = text;
    for (uint32_t i = 0; i < depth; i++) {
        uint32_t roll = hash_sequence_next(random_state) % 10;
        char token = roll < 7 ? diff_tokens[roll % 3] : roll < 9 ? '*' : '>';
        if (token == '>' && i + 1 < depth) {
            token = '*';
        }
        *cursor++ = token;
        *cursor++ = i + 1 < depth ? '.' : '\0';
    }
}

/* A random literal subject of depth 1..5: one deeper than patterns, for ">". */
static void diff_subject(char *text, uint64_t *random_state)
{
    uint32_t depth = 1 + hash_sequence_next(random_state) % (DIFF_DEPTH_MAX + 1);
    char *cursor = text;
    for (uint32_t i = 0; i < depth; i++) {
        *cursor++ = diff_tokens[hash_sequence_next(random_state) % 3];
        *cursor++ = i + 1 < depth ? '.' : '\0';
    }
}

/* Every literal subject of depth 1..4 over a, b, c: the subject numbered `n` (in base 3,
 * with a length prefix). Returns false past the last one. */
static bool diff_sweep_subject(uint32_t n, char *text)
{
    uint32_t depth = 1;
    uint32_t width = 3;
    while (n >= width) {
        n -= width;
        depth++;
        width *= 3;
        if (depth > DIFF_DEPTH_MAX) {
            return false;
        }
    }
    for (uint32_t i = 0; i < depth; i++) {
        text[2 * i] = diff_tokens[n % 3];
        text[2 * i + 1] = i + 1 < depth ? '.' : '\0';
        n /= 3;
    }
    return true;
}

/* Matches `subject`, allocations failing as armed. A result the sublist could not build
 * (counted as an allocation failure) may come back empty; any other must be exact. */
static void diff_probe(struct sublist *list, struct test_sub *pool, size_t pool_count,
                       const char *subject, bool fail)
{
    uint64_t failures = test_stats(list).alloc_failure_count;
    alloc_fail.armed = fail;
    const struct sublist_result *result = test_match(list, subject);
    alloc_fail.armed = false;
    if (test_stats(list).alloc_failure_count != failures && result_size(result) == 0) {
        return;
    }
    check_result(result, pool, pool_count, subject);
}

static void diff_sweep(struct sublist *list, struct test_sub *pool, size_t pool_count,
                       bool fail)
{
    char subject[TEST_SUBJECT_SIZE];
    for (uint32_t n = 0; diff_sweep_subject(n, subject); n++) {
        diff_probe(list, pool, pool_count, subject, fail);
    }
}

static uint32_t diff_inserted_count(const struct test_sub *pool)
{
    uint32_t count = 0;
    for (size_t i = 0; i < DIFF_POOL_COUNT; i++) {
        count += pool[i].inserted;
    }
    return count;
}

/* One op on a random pool member: remove it when inserted, else give it a fresh random
 * pattern and queue and insert it. Under `fail`, an insert may return -ENOMEM, and must
 * then leave the index as it was. */
static void diff_step(struct sublist *list, struct test_sub *pool, uint64_t *random_state,
                      bool fail)
{
    static const char *const queues[] = {NULL, NULL, NULL, "q1", "q2", "q3"};
    struct test_sub *t = &pool[hash_sequence_next(random_state) % DIFF_POOL_COUNT];
    if (t->inserted) {
        alloc_fail.armed = fail; /* removal allocates nothing it cannot do without */
        int rc = sublist_remove(list, &t->sub);
        alloc_fail.armed = false;
        QUIET_ASSERT(rc == 0, "remove %s: %d", t->subject, rc);
        t->inserted = false;
        return;
    }
    char pattern[TEST_SUBJECT_SIZE];
    diff_pattern(pattern, random_state);
    QUIET_ASSERT(subject_valid_for_sub(pattern, strlen(pattern)), "pattern %s", pattern);
    test_sub_set(t, pattern, queues[hash_sequence_next(random_state) % 6]);
    alloc_fail.armed = fail;
    int rc = sublist_insert(list, &t->sub);
    alloc_fail.armed = false;
    QUIET_ASSERT(rc == 0 || (fail && rc == -ENOMEM), "insert %s: %d", pattern, rc);
    t->inserted = rc == 0;
}

static void diff_run(uint64_t seed, bool fail)
{
    struct test_sub *pool = calloc(DIFF_POOL_COUNT, sizeof *pool);
    ck_assert_ptr_nonnull(pool);
    int64_t live_before = alloc_fail.live_count;
    struct sublist *list = sublist_create(seed);
    ck_assert_ptr_nonnull(list);
    uint64_t random_state = seed;
    char subject[TEST_SUBJECT_SIZE];
    for (uint32_t op = 0; op < DIFF_OP_COUNT; op++) {
        diff_step(list, pool, &random_state, fail);
        QUIET_ASSERT(test_stats(list).sub_count == diff_inserted_count(pool), "sub_count");
        for (uint32_t p = 0; p < DIFF_PROBES_PER_OP; p++) {
            diff_subject(subject, &random_state);
            diff_probe(list, pool, DIFF_POOL_COUNT, subject, fail);
            diff_probe(list, pool, DIFF_POOL_COUNT, subject, fail); /* again: cached */
        }
        if (op % DIFF_SWEEP_EVERY == 0) {
            diff_sweep(list, pool, DIFF_POOL_COUNT, false);
        }
    }
    diff_sweep(list, pool, DIFF_POOL_COUNT, false);
    struct sublist_stats stats = test_stats(list);
    ck_assert_uint_gt(stats.cache_hit_count, 0);
    if (!fail) {
        ck_assert_uint_eq(stats.alloc_failure_count, 0);
    }
    for (size_t i = 0; i < DIFF_POOL_COUNT; i++) {
        if (pool[i].inserted) {
            test_remove(list, &pool[i]);
        }
    }
    diff_sweep(list, pool, DIFF_POOL_COUNT, false);
    ck_assert_uint_eq(test_stats(list).sub_count, 0);
    ck_assert_uint_eq(sublist_trie_node_count(list), 0);
    sublist_destroy(list);
    ck_assert_int_eq(alloc_fail.live_count, live_before);
    free(pool);
}

START_TEST(test_differential)
{
    static const uint64_t seeds[] = {1, 42, 0xdeadbeef, 20240601};
    diff_run(seeds[_i], false);
}
END_TEST

START_TEST(test_differential_alloc_failure)
{
    static const uint32_t one_in[] = {3, 8, 50};
    alloc_fail_random(one_in[_i], 7 + (uint64_t)_i);
    diff_run(100 + (uint64_t)_i, true);
    ck_assert_uint_gt(alloc_fail.failed_count, 0);
}
END_TEST

enum { EACH_POINT_POOL_COUNT = 48 };

/* Creates a sublist, inserts every sub of `pool`, matches every subject of the sweep,
 * removes every sub and destroys the sublist, with the armed allocation numbered `fail_at`
 * failing. Each step must succeed or say -ENOMEM and leave the index as it was, and every
 * block must come back. Returns whether allocation `fail_at` was reached at all. */
static bool each_point_run(struct test_sub *pool, uint64_t fail_at)
{
    int64_t live_before = alloc_fail.live_count;
    alloc_fail_at(fail_at);
    alloc_fail.armed = true;
    struct sublist *list = sublist_create(TEST_SEED);
    alloc_fail.armed = false;
    if (list == NULL) {
        QUIET_ASSERT(alloc_fail.live_count == live_before, "create leaked at %d",
                     (int)fail_at);
        return true;
    }
    for (size_t i = 0; i < EACH_POINT_POOL_COUNT; i++) {
        alloc_fail.armed = true;
        int rc = sublist_insert(list, &pool[i].sub);
        alloc_fail.armed = false;
        QUIET_ASSERT(rc == 0 || rc == -ENOMEM, "insert %s: %d", pool[i].subject, rc);
        pool[i].inserted = rc == 0;
    }
    diff_sweep(list, pool, EACH_POINT_POOL_COUNT, true);
    diff_sweep(list, pool, EACH_POINT_POOL_COUNT, false);
    for (size_t i = 0; i < EACH_POINT_POOL_COUNT; i++) {
        if (pool[i].inserted) {
            alloc_fail.armed = true;
            int rc = sublist_remove(list, &pool[i].sub);
            alloc_fail.armed = false;
            QUIET_ASSERT(rc == 0, "remove %s: %d", pool[i].subject, rc);
            pool[i].inserted = false;
        }
    }
    diff_sweep(list, pool, EACH_POINT_POOL_COUNT, false);
    QUIET_ASSERT(sublist_trie_node_count(list) == 0, "trie not pruned at %d", (int)fail_at);
    sublist_destroy(list);
    QUIET_ASSERT(alloc_fail.live_count == live_before, "leak with allocation %d failing",
                 (int)fail_at);
    return alloc_fail.failed_count > 0;
}

START_TEST(test_alloc_failure_each_point)
{
    static const char *const queues[] = {NULL, "q1", NULL, "q2"};
    static const char *const deep[] = {"a.b.c.*.e.>", "a.b.c.*.e.f", "a.b.c.d.e.f"};
    struct test_sub pool[EACH_POINT_POOL_COUNT] = {0};
    uint64_t random_state = 9;
    char pattern[TEST_SUBJECT_SIZE];
    for (size_t i = 0; i < EACH_POINT_POOL_COUNT; i++) {
        if (i < sizeof deep / sizeof deep[0]) {
            strcpy(pattern, deep[i]);
        } else {
            diff_pattern(pattern, &random_state);
        }
        test_sub_set(&pool[i], pattern, queues[i % 4]);
    }
    uint64_t fail_at = 1;
    while (each_point_run(pool, fail_at)) {
        fail_at++;
    }
    ck_assert_uint_gt(fail_at, 50); /* every allocation point of the run was tried */
}
END_TEST

START_TEST(test_destroy_with_subs)
{
    /* Destroying an index that still holds subs frees the index, never the subs. */
    sublist_destroy(NULL);
    static const char *const patterns[] = {"a", "a", "a.b", "a.*", "a.*", "*.>", ">"};
    enum { COUNT = sizeof patterns / sizeof patterns[0] * 4 };
    struct test_sub subs[COUNT] = {0};
    int64_t live_before = alloc_fail.live_count;
    struct sublist *list = sublist_create(TEST_SEED);
    ck_assert_ptr_nonnull(list);
    for (size_t i = 0; i < COUNT; i++) {
        test_sub_set(&subs[i], patterns[i % 7], i % 3 == 0 ? "q" : NULL);
        test_insert(list, &subs[i]);
    }
    check_result(test_match(list, "a.b"), subs, COUNT, "a.b");
    sublist_destroy(list);
    ck_assert_int_eq(alloc_fail.live_count, live_before);
}
END_TEST

static Suite *sublist_suite(void)
{
    Suite *suite = suite_create("sublist");
    TCase *basics = tcase_create("basics");
    tcase_add_test(basics, test_literal);
    tcase_add_test(basics, test_wildcard);
    tcase_add_test(basics, test_published_wildcard_tokens);
    tcase_add_test(basics, test_queue_groups_merged);
    tcase_add_test(basics, test_cache_invalidation);
    tcase_add_test(basics, test_cache_bounded);
    tcase_add_test(basics, test_cache_byte_budget);
    tcase_add_test(basics, test_destroy_with_subs);
    suite_add_tcase(suite, basics);
    TCase *scale = tcase_create("scale");
    tcase_add_test(scale, test_many_subs_one_subject);
    tcase_add_test(scale, test_scale_literal);
    suite_add_tcase(suite, scale);
    TCase *differential = tcase_create("differential");
    tcase_add_loop_test(differential, test_differential, 0, 4);
    tcase_add_loop_test(differential, test_differential_alloc_failure, 0, 3);
    tcase_add_test(differential, test_alloc_failure_each_point);
    suite_add_tcase(suite, differential);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(sublist_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
