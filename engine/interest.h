/* Which shards care about which subjects: the local transitions a shard announces, and its
 * replica of what every other shard announced.
 *
 * The one idea: a shard tells the others only when a (subject, queue) pair gains its first
 * local subscription or loses its last one, so announcements are rare however many
 * subscribers share a subject. Each shard keeps the others' announcements in a sublist of
 * its own (`remote`), so finding the shards interested in a publish is a local lookup: no
 * lock, no syscall, no read of another core's memory. Shard-owned.
 *
 * An announcement can fail for want of memory (xshard.h). A first subscription whose add
 * could not be announced is undone (interest_local_uncount + interest_local_forget: the
 * others never heard of it, so they are told nothing). A departure cannot be refused: when
 * its removal could not be announced, the entry stays in the table counting none, on a list
 * of removals still owed (interest_removal_defer), and is announced later; a subscription
 * to the same pair meanwhile takes the entry back without a new add, since the others
 * still hold the old one. Needs no memory to defer, so a removal is never lost. */
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
    bool weak;      /* only across a leafnode link there (route_sub.link): a queue group
                     * goes there only when no shard has a member of its own */
};

struct interest_entry;

/* Who is told of every change of this server's interest as this shard sees it (a leafnode
 * link tells its peer, leaf.h): a subscription added or removed here (routing tells it,
 * but not of interest across a link) and another shard's announcement. */
struct interest_watch {
    void (*changed)(void *ctx, bool add, const char *subject, uint32_t subject_length,
                    const char *queue, uint32_t queue_length);
    void *ctx;
};

struct interest {
    uint64_t seed;
    struct interest_entry **buckets; /* owned; local counts and remote entries share it */
    uint32_t bucket_count;
    uint32_t entry_count;
    struct sublist *remote; /* owned replica of the other shards' interest */
    /* Local entries whose removal is owed to the other shards, oldest first; the entries
     * belong to the table (buckets), the list only links them. */
    struct interest_entry *removal_head;
    struct interest_entry *removal_tail;
    uint32_t removal_count;
    struct interest_watch watch; /* changed NULL: nobody is told */
};

/* Tells the watcher, if any, of a change. */
static inline void interest_watch_tell(const struct interest *interest, bool add,
                                       const char *subject, uint32_t subject_length,
                                       const char *queue, uint32_t queue_length)
{
    if (interest->watch.changed != NULL) {
        interest->watch.changed(interest->watch.ctx, add, subject, subject_length, queue,
                                queue_length);
    }
}

/* The (subject, queue) pair of an entry, borrowed from it. */
struct interest_key {
    const char *subject;
    uint32_t subject_length;
    const char *queue; /* NULL when queue_length is 0 */
    uint32_t queue_length;
    bool weak; /* interest across a leafnode link (see remote_interest) */
};

int interest_init(struct interest *interest, uint64_t seed);
void interest_destroy(struct interest *interest);

/* Counts a local subscription. *first is true when it is the first for (subject, queue),
 * i.e. the other shards must be told. 0 or -ENOMEM. */
int interest_local_add(struct interest *interest, const char *subject, uint32_t subject_length,
                       const char *queue, uint32_t queue_length, bool weak, bool *first);

/* Uncounts a local subscription; *last is true when none is left for (subject, queue) and
 * no removal of it is owed already: the caller must announce it. The entry is gone. */
void interest_local_remove(struct interest *interest, const char *subject,
                           uint32_t subject_length, const char *queue, uint32_t queue_length,
                           bool weak, bool *last);

/* Uncounts a local subscription for a caller whose announcement may fail. NULL while
 * others remain for (subject, queue), or while a removal of it is owed already (it goes
 * out with that one); otherwise the pair's entry, now counting none, left in the table
 * until the caller settles it with interest_local_forget or interest_removal_defer. */
struct interest_entry *interest_local_uncount(struct interest *interest, const char *subject,
                                              uint32_t subject_length, const char *queue,
                                              uint32_t queue_length, bool weak);

/* The entry interest_local_uncount returned is done with: its removal was announced, or
 * none is owed (its add never went out). Frees it. */
void interest_local_forget(struct interest *interest, struct interest_entry *entry);

/* The removal of the entry interest_local_uncount returned could not be announced: it is
 * owed, kept at the end of the removal list. */
void interest_removal_defer(struct interest *interest, struct interest_entry *entry);

/* The oldest removal owed, or NULL: its key in *key. *counted is true when the pair was
 * subscribed again since: then nothing is to be announced (the others still hold its add,
 * which is right again), only interest_removal_done. */
const struct interest_entry *interest_removal_oldest(const struct interest *interest,
                                                     struct interest_key *key, bool *counted);

/* The oldest removal owed went out, or is no longer owed: off the list, and freed unless
 * the pair was subscribed again. */
void interest_removal_done(struct interest *interest);

/* Applies another shard's announcement to the replica. 0 or -ENOMEM. */
int interest_remote_apply(struct interest *interest, int origin, bool add, const char *subject,
                          uint32_t subject_length, const char *queue, uint32_t queue_length,
                          bool weak);

/* The other shards' interest matching a literal subject (struct remote_interest entries). */
const struct sublist_result *interest_remote_match(struct interest *interest,
                                                   const char *subject, size_t subject_length);

#endif
