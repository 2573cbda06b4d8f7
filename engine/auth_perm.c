/* Permissions: see auth.h. The lists are short (a user's few subjects), so each check
 * walks them with subject_matches; a wildcard in the checked subject is compared as a
 * literal token, so "*" in an allow list admits a subscription to "foo.*" and "foo.>" as
 * nats-server's sublist match does.
 *
 * The replies a connection may answer (allow_responses) live in a table of its own,
 * chained by hash and kept in arrival order so the oldest is forgotten first when it is
 * full. Hand-written: an entry must be found by subject and by age, and expire in place.
 * Shard-owned: only the connection's home shard touches its table. */
#include "engine/auth.h"

#include "base/assert.h"
#include "proto/subject.h"

#include <stdlib.h>
#include <string.h>

static bool list_matches(const struct auth_subjects *list, const char *subject, size_t length,
                         bool plain_only)
{
    for (uint32_t i = 0; i < list->count; i++) {
        if (plain_only && list->queues[i] != NULL) {
            continue;
        }
        const char *pattern = list->subjects[i];
        if (subject_matches(pattern, strlen(pattern), subject, length)) {
            return true;
        }
    }
    return false;
}

bool auth_publish_allowed(const struct auth_permissions *permissions, const char *subject,
                          size_t length)
{
    if (permissions == NULL) {
        return true;
    }
    if (permissions->pub_allow.present &&
        !list_matches(&permissions->pub_allow, subject, length, false)) {
        return false;
    }
    return !list_matches(&permissions->pub_deny, subject, length, false);
}

/* nats-server's queueMatches: a queue entry admits its queue by name, or by pattern when
 * the entry's queue holds wildcards. */
static bool queue_entry_matches(const char *entry, const char *queue, size_t queue_length)
{
    size_t entry_length = strlen(entry);
    if (entry_length == queue_length && memcmp(entry, queue, queue_length) == 0) {
        return true;
    }
    return subject_has_wildcard(entry, entry_length) &&
           subject_matches(entry, entry_length, queue, queue_length);
}

/* Over the entries of `list` matching `subject`: whether any plain entry matched, and
 * whether a queue entry matched and names `queue`. */
struct list_verdict {
    bool plain;
    bool queued;      /* some queue entry matched the subject */
    bool queue_named; /* ... and one of them admits `queue` */
};

static struct list_verdict list_verdict(const struct auth_subjects *list, const char *subject,
                                        size_t length, const char *queue, size_t queue_length)
{
    struct list_verdict verdict = {false, false, false};
    for (uint32_t i = 0; i < list->count; i++) {
        const char *pattern = list->subjects[i];
        if (!subject_matches(pattern, strlen(pattern), subject, length)) {
            continue;
        }
        if (list->queues[i] == NULL) {
            verdict.plain = true;
            continue;
        }
        verdict.queued = true;
        if (queue_length > 0 && queue_entry_matches(list->queues[i], queue, queue_length)) {
            verdict.queue_named = true;
        }
    }
    return verdict;
}

bool auth_subscribe_allowed(const struct auth_permissions *permissions, const char *subject,
                            size_t length, const char *queue, size_t queue_length)
{
    if (permissions == NULL) {
        return true;
    }
    bool allowed = true;
    if (permissions->sub_allow.present) {
        struct list_verdict allow =
            list_verdict(&permissions->sub_allow, subject, length, queue, queue_length);
        allowed = allow.plain;
        if (queue_length > 0 && allow.queued) {
            allowed = allow.queue_named; /* the queue must appear where queues are named */
        }
    }
    if (allowed && permissions->sub_deny.present) {
        struct list_verdict deny =
            list_verdict(&permissions->sub_deny, subject, length, queue, queue_length);
        allowed = !deny.plain;
        if (allowed && queue_length > 0 && deny.queued) {
            allowed = !deny.queue_named;
        }
    }
    return allowed;
}

bool auth_delivery_denied(const struct auth_permissions *permissions, const char *subject,
                          size_t length)
{
    return permissions != NULL && permissions->sub_deny.count > 0 &&
           list_matches(&permissions->sub_deny, subject, length, true);
}

/* ---- replies (allow_responses) ---------------------------------------------------------- */

enum { REPLY_BUCKETS = 1024 };

struct reply_entry {
    struct reply_entry *chain; /* same bucket */
    struct reply_entry *older; /* arrival order */
    struct reply_entry *newer;
    uint64_t hash;
    int64_t noted_ns;
    int64_t used;
    uint32_t length;
    char subject[];
};

struct auth_replies {
    struct reply_entry *buckets[REPLY_BUCKETS];
    struct reply_entry *oldest;
    struct reply_entry *newest;
    uint32_t count;
};

struct auth_replies *auth_replies_new(void)
{
    return calloc(1, sizeof(struct auth_replies));
}

void auth_replies_free(struct auth_replies *replies)
{
    if (replies == NULL) {
        return;
    }
    struct reply_entry *entry = replies->oldest;
    while (entry != NULL) {
        struct reply_entry *next = entry->newer;
        free(entry);
        entry = next;
    }
    free(replies);
}

static struct reply_entry **reply_link(struct auth_replies *replies, const char *subject,
                                       size_t length, uint64_t hash)
{
    struct reply_entry **link = &replies->buckets[hash % REPLY_BUCKETS];
    while (*link != NULL && ((*link)->hash != hash || (*link)->length != length ||
                             memcmp((*link)->subject, subject, length) != 0)) {
        link = &(*link)->chain;
    }
    return link;
}

static void reply_remove(struct auth_replies *replies, struct reply_entry **link)
{
    struct reply_entry *entry = *link;
    *link = entry->chain;
    if (entry->older != NULL) {
        entry->older->newer = entry->newer;
    } else {
        replies->oldest = entry->newer;
    }
    if (entry->newer != NULL) {
        entry->newer->older = entry->older;
    } else {
        replies->newest = entry->older;
    }
    ASSERT(replies->count > 0);
    replies->count--;
    free(entry);
}

static void reply_forget_oldest(struct auth_replies *replies)
{
    struct reply_entry *oldest = replies->oldest;
    ASSERT(oldest != NULL);
    struct reply_entry **link = reply_link(replies, oldest->subject, oldest->length, oldest->hash);
    ASSERT(*link == oldest);
    reply_remove(replies, link);
}

bool auth_replies_note(struct auth_replies *replies, const char *reply, size_t length,
                       uint64_t hash, int64_t now_ns)
{
    struct reply_entry **link = reply_link(replies, reply, length, hash);
    if (*link != NULL) {
        /* delivered again: it starts over, as nats-server replaces its entry */
        (*link)->noted_ns = now_ns;
        (*link)->used = 0;
        return true;
    }
    if (replies->count >= AUTH_REPLIES_MAX) {
        reply_forget_oldest(replies);
        link = reply_link(replies, reply, length, hash);
    }
    struct reply_entry *entry = malloc(sizeof *entry + length);
    if (entry == NULL) {
        return false;
    }
    memcpy(entry->subject, reply, length);
    entry->length = (uint32_t)length;
    entry->hash = hash;
    entry->noted_ns = now_ns;
    entry->used = 0;
    entry->chain = NULL;
    *link = entry;
    entry->newer = NULL;
    entry->older = replies->newest;
    if (replies->newest != NULL) {
        replies->newest->newer = entry;
    } else {
        replies->oldest = entry;
    }
    replies->newest = entry;
    replies->count++;
    return true;
}

bool auth_replies_use(struct auth_replies *replies, const struct auth_permissions *permissions,
                      const char *subject, size_t length, uint64_t hash, int64_t now_ns)
{
    struct reply_entry **link = reply_link(replies, subject, length, hash);
    struct reply_entry *entry = *link;
    if (entry == NULL) {
        return false;
    }
    entry->used++;
    bool over = permissions->responses_max > 0 && entry->used > permissions->responses_max;
    bool expired = permissions->responses_ttl_ns > 0 &&
                   now_ns - entry->noted_ns > permissions->responses_ttl_ns;
    if (over || expired) {
        reply_remove(replies, link);
        return false;
    }
    if (permissions->responses_max > 0 && entry->used == permissions->responses_max) {
        reply_remove(replies, link); /* its last allowed use: nothing more to keep */
    }
    return true;
}
