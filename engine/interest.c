/* Interest bookkeeping: see interest.h.
 *
 * One chained hash table holds two kinds of entries, told apart by the key's first byte:
 * local counts keyed 'L' subject NUL queue, and remote entries keyed 'R' origin subject NUL
 * queue. Hand-written because each entry must embed the `struct sub` the replica sublist
 * links to, which a general map would keep in a second allocation. */
#include "engine/interest.h"

#include "base/assert.h"
#include "base/hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { BUCKETS_MIN = 64, KEY_LOCAL = 'L', KEY_REMOTE = 'R', ORIGIN_BYTES = 4 };

struct interest_entry {
    struct interest_entry *next;
    uint64_t hash;
    uint32_t count;      /* local: subscriptions; remote: 1 while present */
    uint32_t key_length;
    struct remote_interest remote; /* remote entries only */
    char key[];
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

/* Builds a key into `key` (capacity checked by the caller). Returns its length. */
static uint32_t key_make(char *key, char kind, int origin, const char *subject,
                         uint32_t subject_length, const char *queue, uint32_t queue_length)
{
    uint32_t length = 0;
    key[length++] = kind;
    if (kind == KEY_REMOTE) {
        uint32_t o = (uint32_t)origin;
        memcpy(key + length, &o, ORIGIN_BYTES);
        length += ORIGIN_BYTES;
    }
    memcpy(key + length, subject, subject_length);
    length += subject_length;
    key[length++] = '\0';
    if (queue_length > 0) {
        memcpy(key + length, queue, queue_length);
        length += queue_length;
    }
    return length;
}

static size_t key_size_max(uint32_t subject_length, uint32_t queue_length)
{
    return 1 + ORIGIN_BYTES + subject_length + 1 + queue_length;
}

static struct interest_entry **entry_link(struct interest *interest, const char *key,
                                          uint32_t key_length, uint64_t hash)
{
    struct interest_entry **link = &interest->buckets[hash & (interest->bucket_count - 1)];
    while (*link != NULL && ((*link)->hash != hash || (*link)->key_length != key_length ||
                             memcmp((*link)->key, key, key_length) != 0)) {
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

/* Finds or creates the entry for `key`. NULL when out of memory. */
static struct interest_entry *entry_get(struct interest *interest, const char *key,
                                        uint32_t key_length, bool *created)
{
    uint64_t hash = hash_bytes(key, key_length, interest->seed);
    struct interest_entry **link = entry_link(interest, key, key_length, hash);
    *created = false;
    if (*link != NULL) {
        return *link;
    }
    struct interest_entry *entry = calloc(1, sizeof *entry + key_length);
    if (entry == NULL) {
        return NULL;
    }
    entry->hash = hash;
    entry->key_length = key_length;
    memcpy(entry->key, key, key_length);
    *link = entry;
    *created = true;
    if (++interest->entry_count > interest->bucket_count) {
        table_grow(interest);
    }
    return entry;
}

static void entry_drop(struct interest *interest, struct interest_entry *entry)
{
    struct interest_entry **link = entry_link(interest, entry->key, entry->key_length, entry->hash);
    ASSERT(*link == entry);
    *link = entry->next;
    ASSERT(interest->entry_count > 0);
    interest->entry_count--;
    free(entry);
}

int interest_local_add(struct interest *interest, const char *subject, uint32_t subject_length,
                       const char *queue, uint32_t queue_length, bool *first)
{
    char *key = malloc(key_size_max(subject_length, queue_length));
    if (key == NULL) {
        return -ENOMEM;
    }
    uint32_t length = key_make(key, KEY_LOCAL, 0, subject, subject_length, queue, queue_length);
    bool created;
    struct interest_entry *entry = entry_get(interest, key, length, &created);
    free(key);
    if (entry == NULL) {
        return -ENOMEM;
    }
    entry->count++;
    *first = entry->count == 1;
    return 0;
}

void interest_local_remove(struct interest *interest, const char *subject,
                           uint32_t subject_length, const char *queue, uint32_t queue_length,
                           bool *last)
{
    char *key = malloc(key_size_max(subject_length, queue_length));
    *last = false;
    ASSERT(key != NULL); /* a removal that cannot be counted would leak interest forever */
    uint32_t length = key_make(key, KEY_LOCAL, 0, subject, subject_length, queue, queue_length);
    struct interest_entry **link =
        entry_link(interest, key, length, hash_bytes(key, length, interest->seed));
    free(key);
    ASSERT(*link != NULL);
    struct interest_entry *entry = *link;
    ASSERT(entry->count > 0);
    if (--entry->count == 0) {
        *last = true;
        entry_drop(interest, entry);
    }
}

int interest_remote_apply(struct interest *interest, int origin, bool add, const char *subject,
                          uint32_t subject_length, const char *queue, uint32_t queue_length)
{
    char *key = malloc(key_size_max(subject_length, queue_length));
    if (key == NULL) {
        return -ENOMEM;
    }
    uint32_t length = key_make(key, KEY_REMOTE, origin, subject, subject_length, queue,
                               queue_length);
    int rc = 0;
    if (add) {
        bool created;
        struct interest_entry *entry = entry_get(interest, key, length, &created);
        if (entry == NULL) {
            rc = -ENOMEM;
        } else if (created) {
            const char *stored_subject = entry->key + 1 + ORIGIN_BYTES;
            entry->remote.sub.subject = stored_subject;
            entry->remote.sub.subject_length = subject_length;
            entry->remote.sub.queue = queue_length ? stored_subject + subject_length + 1 : NULL;
            entry->remote.sub.queue_length = queue_length;
            entry->remote.origin = origin;
            entry->count = 1;
            rc = sublist_insert(interest->remote, &entry->remote.sub);
            if (rc != 0) {
                entry_drop(interest, entry);
            }
        }
    } else {
        struct interest_entry **link =
            entry_link(interest, key, length, hash_bytes(key, length, interest->seed));
        if (*link != NULL) {
            int removed = sublist_remove(interest->remote, &(*link)->remote.sub);
            ASSERT(removed == 0);
            entry_drop(interest, *link);
        }
    }
    free(key);
    return rc;
}

const struct sublist_result *interest_remote_match(struct interest *interest,
                                                   const char *subject, size_t subject_length)
{
    return sublist_match(interest->remote, subject, subject_length);
}
