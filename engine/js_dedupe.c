/* A stream's duplicate window: the Nats-Msg-Id values stored within duplicate_window, each
 * with the sequence it was stored at, so a publish that repeats one is acknowledged as a
 * duplicate of the first instead of being stored again.
 *
 * The one idea: ids arrive in time order, so a FIFO in arrival order expires them from its
 * front, and a chained hash table (xxhash, doubled as it fills) finds them. At most
 * JS_DEDUPE_MAX ids are kept: past it the oldest goes early (nats-server keeps them all).
 * After a restart the window is refilled from the stored messages it covers, so a retry
 * after a crash is still recognised. Meta shard's thread only. */
#include "base/assert.h"
#include "base/hash.h"
#include "engine/js_internal.h"
#include "proto/js_pub.h"
#include "store/stream_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A fixed seed: the ids come from clients, but each stream's table is bounded and chains
 * stay short with a good hash; the seed only has to be the same for add and find. */
#define DEDUPE_SEED 0x6a73646564757065ULL

static uint32_t bucket_of(const struct js_dedupe *dedupe, const char *id, size_t length)
{
    return (uint32_t)hash_bytes(id, length, DEDUPE_SEED) & (dedupe->bucket_count - 1);
}

static int table_grow(struct js_dedupe *dedupe)
{
    uint32_t count = dedupe->bucket_count ? dedupe->bucket_count * 2 : 64;
    struct js_dedupe_entry **buckets = calloc(count, sizeof *buckets);
    if (buckets == NULL) {
        return -ENOMEM;
    }
    struct js_dedupe old = *dedupe;
    dedupe->buckets = buckets;
    dedupe->bucket_count = count;
    for (struct js_dedupe_entry *entry = dedupe->fifo_head; entry != NULL;
         entry = entry->fifo_next) {
        uint32_t bucket = bucket_of(dedupe, entry->id, entry->id_length);
        entry->hash_next = buckets[bucket];
        buckets[bucket] = entry;
    }
    free(old.buckets);
    return 0;
}

static void unlink_hash(struct js_dedupe *dedupe, struct js_dedupe_entry *entry)
{
    struct js_dedupe_entry **link = &dedupe->buckets[bucket_of(dedupe, entry->id,
                                                               entry->id_length)];
    while (*link != entry) {
        ASSERT(*link != NULL);
        link = &(*link)->hash_next;
    }
    *link = entry->hash_next;
}

static void drop_oldest(struct js_dedupe *dedupe)
{
    struct js_dedupe_entry *entry = dedupe->fifo_head;
    ASSERT(entry != NULL);
    unlink_hash(dedupe, entry);
    dedupe->fifo_head = entry->fifo_next;
    if (dedupe->fifo_head == NULL) {
        dedupe->fifo_tail = NULL;
    }
    dedupe->count--;
    free(entry);
}

int js_dedupe_add(struct js_dedupe *dedupe, const char *id, size_t length, uint64_t seq,
                  int64_t timestamp_ns)
{
    if (length == 0 || length > UINT16_MAX) {
        return -EINVAL;
    }
    if (dedupe->count >= JS_DEDUPE_MAX) {
        drop_oldest(dedupe);
    }
    if (dedupe->count >= dedupe->bucket_count && table_grow(dedupe) != 0) {
        return -ENOMEM;
    }
    struct js_dedupe_entry *entry = malloc(sizeof *entry + length);
    if (entry == NULL) {
        return -ENOMEM;
    }
    memcpy(entry->id, id, length);
    entry->id_length = (uint32_t)length;
    entry->seq = seq;
    entry->timestamp_ns = timestamp_ns;
    entry->fifo_next = NULL;
    uint32_t bucket = bucket_of(dedupe, id, length);
    entry->hash_next = dedupe->buckets[bucket];
    dedupe->buckets[bucket] = entry;
    if (dedupe->fifo_tail != NULL) {
        dedupe->fifo_tail->fifo_next = entry;
    } else {
        dedupe->fifo_head = entry;
    }
    dedupe->fifo_tail = entry;
    dedupe->count++;
    return 0;
}

const struct js_dedupe_entry *js_dedupe_find(const struct js_dedupe *dedupe, const char *id,
                                             size_t length)
{
    if (dedupe->count == 0) {
        return NULL;
    }
    const struct js_dedupe_entry *entry = dedupe->buckets[bucket_of(dedupe, id, length)];
    while (entry != NULL && (entry->id_length != length || memcmp(entry->id, id, length) != 0)) {
        entry = entry->hash_next;
    }
    return entry;
}

void js_dedupe_expire(struct js_dedupe *dedupe, int64_t before_ns)
{
    while (dedupe->fifo_head != NULL && dedupe->fifo_head->timestamp_ns < before_ns) {
        drop_oldest(dedupe);
    }
}

void js_dedupe_free(struct js_dedupe *dedupe)
{
    struct js_dedupe_entry *entry = dedupe->fifo_head;
    while (entry != NULL) {
        struct js_dedupe_entry *next = entry->fifo_next;
        free(entry);
        entry = next;
    }
    free(dedupe->buckets);
    memset(dedupe, 0, sizeof *dedupe);
}

void js_publish_dedupe_rebuild(struct js_stream *stream)
{
    int64_t since = js_now_ns() - stream->config.duplicate_window_ns;
    uint64_t seq = 0;
    if (stream_store_seq_for_time(stream->store, since, &seq) != 0) {
        return;
    }
    struct stream_store_msg msg;
    while (stream_store_next(stream->store, seq, &msg) == 0) {
        if (msg.header_length > 0) {
            struct js_pub_directives directives;
            js_pub_directives_parse((const char *)msg.header, msg.header_length, &directives);
            if (directives.msg_id.length > 0) {
                (void)js_dedupe_add(&stream->dedupe, directives.msg_id.bytes,
                                    directives.msg_id.length, msg.seq, msg.timestamp_ns);
            }
        }
        seq = msg.seq + 1;
    }
}
