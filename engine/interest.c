/* Interest bookkeeping: see interest.h.
 *
 * One chained hash table holds two kinds of entries: local counts, keyed (subject, queue),
 * and remote entries, keyed (origin, subject, queue). An entry stores its key's parts
 * (`origin` is ENTRY_ORIGIN_LOCAL for a local count) with the bytes `subject NUL queue NUL`
 * after it; a lookup hashes and compares the caller's parts directly, so a SUB, UNSUB or
 * announcement allocates only when it creates an entry. Hand-written because each entry
 * must embed the `struct sub` the replica sublist links to, which a general map would
 * keep in a second allocation. */
#include "engine/interest.h"

#include "base/assert.h"
#include "base/hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { BUCKETS_MIN = 64 };

/* The origin of a local count: shard indexes, the origins of remote entries, are >= 0.
 * Interest across a leafnode link (weak) is kept apart from the rest of the same (subject,
 * queue): a local weak count has its own origin, and a remote weak entry of shard s is
 * keyed ENTRY_ORIGIN_WEAK_BASE - s. */
enum { ENTRY_ORIGIN_LOCAL = -1, ENTRY_ORIGIN_LOCAL_WEAK = -2, ENTRY_ORIGIN_WEAK_BASE = -3 };

static int local_origin(bool weak)
{
    return weak ? ENTRY_ORIGIN_LOCAL_WEAK : ENTRY_ORIGIN_LOCAL;
}

static bool origin_local(int origin)
{
    return origin == ENTRY_ORIGIN_LOCAL || origin == ENTRY_ORIGIN_LOCAL_WEAK;
}

/* Spreads the origin over the hash's bits, so one subject announced by several shards
 * lands in several buckets (the 64-bit golden ratio, as in Fibonacci hashing). */
static const uint64_t ORIGIN_MIX = 0x9e3779b97f4a7c15ULL;

struct interest_entry {
    struct interest_entry *next;
    uint64_t hash;
    uint32_t count; /* local: subscriptions; remote: 1 while present */
    int origin;     /* ENTRY_ORIGIN_LOCAL, or the shard that announced it */
    uint32_t subject_length;
    uint32_t queue_length; /* 0: no queue group */
    union {
        struct remote_interest remote; /* remote entries */
        struct {
            struct interest_entry *removal_next; /* on the owed-removal list */
            bool removal_owed;
        } local; /* local counts */
    };
    char bytes[]; /* subject NUL queue NUL */
};

int interest_init(struct interest *interest, uint64_t seed)
{
    memset(interest, 0, sizeof *interest);
    interest->seed = seed;
    interest->bucket_count = BUCKETS_MIN;
    interest->buckets = calloc(BUCKETS_MIN, sizeof *interest->buckets);
    interest->remote = sublist_create(seed ^ 0x9e3779b97f4a7c15ULL);
    if (interest->buckets == NULL || interest->remote == NULL) {
        interest_destroy(interest);
        return -ENOMEM;
    }
    return 0;
}

void interest_destroy(struct interest *interest)
{
    for (uint32_t b = 0; b < interest->bucket_count && interest->buckets != NULL; b++) {
        struct interest_entry *entry = interest->buckets[b];
        while (entry != NULL) {
            struct interest_entry *next = entry->next;
            free(entry);
            entry = next;
        }
    }
    free(interest->buckets);
    sublist_destroy(interest->remote); /* holds only pointers into the entries just freed */
    memset(interest, 0, sizeof *interest);
}

/* The hash of a key given by its parts; an entry keeps it, so a rehash reads no bytes. */
static uint64_t key_hash(const struct interest *interest, int origin, const char *subject,
                         uint32_t subject_length, const char *queue, uint32_t queue_length)
{
    uint64_t seed = interest->seed ^ ((uint64_t)((uint32_t)origin + 1u) * ORIGIN_MIX);
    uint64_t hash = hash_bytes(subject, subject_length, seed);
    if (queue_length > 0) {
        hash = hash_bytes(queue, queue_length, hash);
    }
    return hash;
}

static bool entry_is(const struct interest_entry *entry, uint64_t hash, int origin,
                     const char *subject, uint32_t subject_length, const char *queue,
                     uint32_t queue_length)
{
    return entry->hash == hash && entry->origin == origin &&
           entry->subject_length == subject_length && entry->queue_length == queue_length &&
           memcmp(entry->bytes, subject, subject_length) == 0 &&
           (queue_length == 0 ||
            memcmp(entry->bytes + subject_length + 1, queue, queue_length) == 0);
}

/* The link that points at the entry with this key, or the chain's terminating NULL link. */
static struct interest_entry **entry_link(struct interest *interest, uint64_t hash, int origin,
                                          const char *subject, uint32_t subject_length,
                                          const char *queue, uint32_t queue_length)
{
    struct interest_entry **link = &interest->buckets[hash & (interest->bucket_count - 1)];
    while (*link != NULL &&
           !entry_is(*link, hash, origin, subject, subject_length, queue, queue_length)) {
        link = &(*link)->next;
    }
    return link;
}

static void table_grow(struct interest *interest)
{
    uint32_t count = interest->bucket_count * 2;
    struct interest_entry **buckets = calloc(count, sizeof *buckets);
    if (buckets == NULL) {
        return; /* longer chains, still correct */
    }
    for (uint32_t b = 0; b < interest->bucket_count; b++) {
        struct interest_entry *entry = interest->buckets[b];
        while (entry != NULL) {
            struct interest_entry *next = entry->next;
            entry->next = buckets[entry->hash & (count - 1)];
            buckets[entry->hash & (count - 1)] = entry;
            entry = next;
        }
    }
    free(interest->buckets);
    interest->buckets = buckets;
    interest->bucket_count = count;
}

/* Finds or creates the entry for the key (origin, subject, queue). NULL when out of
 * memory. */
static struct interest_entry *entry_get(struct interest *interest, int origin,
                                        const char *subject, uint32_t subject_length,
                                        const char *queue, uint32_t queue_length, bool *created)
{
    uint64_t hash = key_hash(interest, origin, subject, subject_length, queue, queue_length);
    struct interest_entry **link =
        entry_link(interest, hash, origin, subject, subject_length, queue, queue_length);
    *created = false;
    if (*link != NULL) {
        return *link;
    }
    size_t bytes_size = (size_t)subject_length + 1 + (size_t)queue_length + 1;
    struct interest_entry *entry = calloc(1, sizeof *entry + bytes_size);
    if (entry == NULL) {
        return NULL;
    }
    entry->hash = hash;
    entry->origin = origin;
    entry->subject_length = subject_length;
    entry->queue_length = queue_length;
    memcpy(entry->bytes, subject, subject_length);
    if (queue_length > 0) {
        memcpy(entry->bytes + subject_length + 1, queue, queue_length);
    }
    /* both NULs are calloc's */
    *link = entry;
    *created = true;
    if (++interest->entry_count > interest->bucket_count) {
        table_grow(interest);
    }
    return entry;
}

static void entry_drop(struct interest *interest, struct interest_entry *entry)
{
    struct interest_entry **link = &interest->buckets[entry->hash & (interest->bucket_count - 1)];
    while (*link != NULL && *link != entry) {
        link = &(*link)->next;
    }
    ASSERT(*link == entry);
    *link = entry->next;
    ASSERT(interest->entry_count > 0);
    interest->entry_count--;
    free(entry);
}

int interest_local_add(struct interest *interest, const char *subject, uint32_t subject_length,
                       const char *queue, uint32_t queue_length, bool weak, bool *first)
{
    bool created;
    struct interest_entry *entry = entry_get(interest, local_origin(weak), subject,
                                             subject_length, queue, queue_length, &created);
    if (entry == NULL) {
        return -ENOMEM;
    }
    entry->count++;
    /* an entry whose removal is owed is still announced: the others hold its add */
    *first = entry->count == 1 && !entry->local.removal_owed;
    return 0;
}

struct interest_entry *interest_local_uncount(struct interest *interest, const char *subject,
                                              uint32_t subject_length, const char *queue,
                                              uint32_t queue_length, bool weak)
{
    int origin = local_origin(weak);
    uint64_t hash = key_hash(interest, origin, subject, subject_length, queue, queue_length);
    struct interest_entry **link =
        entry_link(interest, hash, origin, subject, subject_length, queue, queue_length);
    ASSERT(*link != NULL); /* removing what was never added is the caller's bug */
    struct interest_entry *entry = *link;
    ASSERT(entry->count > 0);
    if (--entry->count > 0 || entry->local.removal_owed) {
        return NULL;
    }
    return entry;
}

void interest_local_forget(struct interest *interest, struct interest_entry *entry)
{
    ASSERT(origin_local(entry->origin));
    ASSERT(entry->count == 0);
    ASSERT(!entry->local.removal_owed); /* the list still links it */
    entry_drop(interest, entry);
}

void interest_removal_defer(struct interest *interest, struct interest_entry *entry)
{
    ASSERT(origin_local(entry->origin));
    ASSERT(entry->count == 0);
    ASSERT(!entry->local.removal_owed);
    entry->local.removal_owed = true;
    entry->local.removal_next = NULL;
    if (interest->removal_tail != NULL) {
        interest->removal_tail->local.removal_next = entry;
    } else {
        interest->removal_head = entry;
    }
    interest->removal_tail = entry;
    interest->removal_count++;
}

const struct interest_entry *interest_removal_oldest(const struct interest *interest,
                                                     struct interest_key *key, bool *counted)
{
    const struct interest_entry *entry = interest->removal_head;
    if (entry == NULL) {
        return NULL;
    }
    ASSERT(entry->local.removal_owed);
    *key = (struct interest_key){
        .subject = entry->bytes,
        .subject_length = entry->subject_length,
        .queue = entry->queue_length > 0 ? entry->bytes + entry->subject_length + 1 : NULL,
        .queue_length = entry->queue_length,
        .weak = entry->origin == ENTRY_ORIGIN_LOCAL_WEAK,
    };
    *counted = entry->count > 0;
    return entry;
}

void interest_removal_done(struct interest *interest)
{
    struct interest_entry *entry = interest->removal_head;
    ASSERT(entry != NULL);
    ASSERT(interest->removal_count > 0);
    interest->removal_head = entry->local.removal_next;
    if (interest->removal_head == NULL) {
        interest->removal_tail = NULL;
    }
    interest->removal_count--;
    entry->local.removal_owed = false;
    entry->local.removal_next = NULL;
    if (entry->count == 0) {
        entry_drop(interest, entry);
    }
}

void interest_local_remove(struct interest *interest, const char *subject,
                           uint32_t subject_length, const char *queue, uint32_t queue_length,
                           bool weak, bool *last)
{
    struct interest_entry *entry =
        interest_local_uncount(interest, subject, subject_length, queue, queue_length, weak);
    *last = entry != NULL;
    if (entry != NULL) {
        interest_local_forget(interest, entry);
    }
}

int interest_remote_apply(struct interest *interest, int origin, bool add, const char *subject,
                          uint32_t subject_length, const char *queue, uint32_t queue_length,
                          bool weak)
{
    ASSERT(origin >= 0);
    int key = weak ? ENTRY_ORIGIN_WEAK_BASE - origin : origin;
    if (!add) {
        uint64_t hash = key_hash(interest, key, subject, subject_length, queue, queue_length);
        struct interest_entry **link =
            entry_link(interest, hash, key, subject, subject_length, queue, queue_length);
        if (*link != NULL) {
            int removed = sublist_remove(interest->remote, &(*link)->remote.sub);
            ASSERT(removed == 0);
            entry_drop(interest, *link);
            if (!weak) {
                interest_watch_tell(interest, false, subject, subject_length, queue,
                                    queue_length);
            }
        }
        return 0;
    }
    bool created;
    struct interest_entry *entry =
        entry_get(interest, key, subject, subject_length, queue, queue_length, &created);
    if (entry == NULL) {
        return -ENOMEM;
    }
    if (!created) {
        return 0; /* announced twice: the replica holds one entry */
    }
    entry->remote.sub.subject = entry->bytes;
    entry->remote.sub.subject_length = subject_length;
    entry->remote.sub.queue = queue_length ? entry->bytes + subject_length + 1 : NULL;
    entry->remote.sub.queue_length = queue_length;
    entry->remote.origin = origin;
    entry->remote.weak = weak;
    entry->count = 1;
    int rc = sublist_insert(interest->remote, &entry->remote.sub);
    if (rc != 0) {
        entry_drop(interest, entry);
        return rc;
    }
    if (!weak) {
        interest_watch_tell(interest, true, subject, subject_length, queue, queue_length);
    }
    return 0;
}

const struct sublist_result *interest_remote_match(struct interest *interest,
                                                   const char *subject, size_t subject_length)
{
    return sublist_match(interest->remote, subject, subject_length);
}
