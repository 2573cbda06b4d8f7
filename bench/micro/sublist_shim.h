/* C side of the subject index micro benchmark: prebuilt indexes and the subjects to match.
 *
 * The one idea: an index of a million subscriptions takes about a second to build, so each
 * (shape, size) is built once on first use and kept until sublist_shim_release_all; the
 * timed loop is then one sublist_match per call. The list of subjects to match has
 * SUBLIST_SHIM_SUBJECT_COUNT entries, four times the index's result cache, so cycling
 * through it always misses that cache while matching entry 0 over and over always hits.
 * One thread only; the C++ harness never sees proto/sublist.h. */
#ifndef IONATS_BENCH_MICRO_SUBLIST_SHIM_H
#define IONATS_BENCH_MICRO_SUBLIST_SHIM_H

#include <stdint.h>

/* Subjects the match loop cycles through: a power of two, 4 x the sublist's 4096 cache
 * entries. */
#define SUBLIST_SHIM_SUBJECT_COUNT 16384u

/* Subscriptions inserted and removed by one call of sublist_shim_churn. */
#define SUBLIST_SHIM_CHURN_COUNT 256u

enum sublist_shim_shape {
    /* Only literal subscriptions "_INBOX.<22 chars>.<n>" (1024 per inbox prefix, as many
     * request/reply clients would make): a match is one hash lookup, no cache involved. */
    SUBLIST_SHIM_LITERAL = 0,
    /* Literal "svc.<n>.req" (7/8 of them), wildcard "svc.<n>.*" (1/8), "svc.*.req" once
     * plain and four times in queue group "workers", and "svc.>": matching "svc.<n>.req"
     * merges three or four sets, and the merged result goes through the cache. */
    SUBLIST_SHIM_WILDCARD = 1,
};

struct sublist_shim;

/* The index of `shape` with `sub_count` subscriptions, built on the first call. */
struct sublist_shim *sublist_shim_get(enum sublist_shim_shape shape, uint32_t sub_count);

/* Frees every index sublist_shim_get built. */
void sublist_shim_release_all(void);

/* Matches subject number `subject_index` modulo SUBLIST_SHIM_SUBJECT_COUNT. Returns the
 * subscriptions in the result, queue members included. */
uint32_t sublist_shim_match(struct sublist_shim *shim, uint32_t subject_index);

/* Inserts SUBLIST_SHIM_CHURN_COUNT subscriptions not yet in the index (literal ones for
 * the literal shape, "svc.<n>.*" for the wildcard shape), then removes them all. */
void sublist_shim_churn(struct sublist_shim *shim);

/* Lifetime counters of the index: matches, and matches answered from its cache. */
void sublist_shim_counts(const struct sublist_shim *shim, uint64_t *match_count,
                         uint64_t *cache_hit_count);

#endif
