/* The subject index of one shard: which subscriptions match a published subject.
 *
 * Literal subscriptions sit in a hash table keyed by the whole subject (seeded xxh3);
 * wildcard subscriptions sit in a token trie walked without recursion. Results are cached
 * per subject; any insert or remove bumps a generation counter that invalidates the cache.
 *
 * Ownership: the caller owns every `struct sub` and its subject/queue bytes and keeps them
 * alive and unchanged while inserted. A match result is owned by the sublist and is valid
 * until the next insert, remove or match on the same sublist; a caller that must remove
 * subscriptions while walking a result (auto-unsubscribe, closing a connection) collects
 * them and removes them after the walk. One shard only: no locks, no atomics. */
#ifndef IONATS_PROTO_SUBLIST_H
#define IONATS_PROTO_SUBLIST_H

#include <stddef.h>
#include <stdint.h>

/* A subscription as the index sees it. The engine embeds this in its own record. */
struct sub {
    const char *subject; /* borrowed from the owner, valid while inserted */
    const char *queue;   /* borrowed, NULL when not in a queue group */
    uint32_t subject_length;
    uint32_t queue_length;
};

/* One queue group in a match result: every matching member of the group. */
struct sublist_queue_group {
    const char *name;
    uint32_t name_length;
    uint32_t member_count;
    struct sub *const *members;
};

struct sublist_result {
    uint32_t plain_count;        /* subscriptions without a queue group */
    uint32_t group_count;
    struct sub *const *plain;    /* owned by the sublist */
    const struct sublist_queue_group *groups; /* owned by the sublist */
};

struct sublist;

/* Creates an empty index; `seed` seeds its hashes. NULL when out of memory. */
struct sublist *sublist_create(uint64_t seed);
void sublist_destroy(struct sublist *list);

/* Inserts `sub` (valid subscription subject, not already inserted). 0 or -ENOMEM. */
int sublist_insert(struct sublist *list, struct sub *sub);

/* Removes `sub`, which must be inserted. 0, or -ENOENT when it is not in the index. */
int sublist_remove(struct sublist *list, struct sub *sub);

/* Every subscription matching the literal `subject`. Never NULL (an empty result when
 * nothing matches, or when memory for the result could not be had: the caller then
 * delivers nothing and the error is counted in sublist_stats). */
const struct sublist_result *sublist_match(struct sublist *list, const char *subject,
                                           size_t subject_length);

struct sublist_stats {
    uint64_t sub_count;
    uint64_t match_count;
    uint64_t cache_hit_count;
    uint64_t cache_entry_count;
    uint64_t generation;
    uint64_t alloc_failure_count;
};

void sublist_stats_get(const struct sublist *list, struct sublist_stats *stats);

/* Trie nodes allocated for wildcard subscriptions, the root not counted. Nodes left without
 * subscriptions or children are freed at once, so this is 0 when no wildcard subscription
 * is inserted. For tests and memory accounting. */
uint64_t sublist_trie_node_count(const struct sublist *list);

#endif
