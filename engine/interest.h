/* Which shards care about which subjects: the local transitions a shard announces, and its
 * replica of what every other shard announced.
 *
 * The one idea: a shard tells the others only when a (subject, queue) pair gains its first
 * local subscription or loses its last one, so announcements are rare however many
 * subscribers share a subject. Each shard keeps the others' announcements in a sublist of
 * its own (`remote`), so finding the shards interested in a publish is a local lookup: no
 * lock, no syscall, no read of another core's memory. Shard-owned. */
#ifndef IONATS_ENGINE_INTEREST_H
#define IONATS_ENGINE_INTEREST_H

#include "proto/sublist.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A subscription pattern announced by another shard, as the replica index holds it. */
struct remote_interest {
    struct sub sub; /* subject/queue: NUL-terminated copies in the table entry holding
                     * this; first member, so a match result's struct sub * is one */
    int origin;     /* the shard that has local subscribers */
};

struct interest_entry;

struct interest {
    uint64_t seed;
    struct interest_entry **buckets; /* owned; local counts and remote entries share it */
    uint32_t bucket_count;
    uint32_t entry_count;
    struct sublist *remote; /* owned replica of the other shards' interest */
};

int interest_init(struct interest *interest, uint64_t seed);
void interest_destroy(struct interest *interest);

/* Counts a local subscription. *first is true when it is the first for (subject, queue),
 * i.e. the other shards must be told. 0 or -ENOMEM. */
int interest_local_add(struct interest *interest, const char *subject, uint32_t subject_length,
                       const char *queue, uint32_t queue_length, bool *first);

/* Uncounts a local subscription; *last is true when none is left for (subject, queue). */
void interest_local_remove(struct interest *interest, const char *subject,
                           uint32_t subject_length, const char *queue, uint32_t queue_length,
                           bool *last);

/* Applies another shard's announcement to the replica. 0 or -ENOMEM. */
int interest_remote_apply(struct interest *interest, int origin, bool add, const char *subject,
                          uint32_t subject_length, const char *queue, uint32_t queue_length);

/* The other shards' interest matching a literal subject (struct remote_interest entries). */
const struct sublist_result *interest_remote_match(struct interest *interest,
                                                   const char *subject, size_t subject_length);

#endif
