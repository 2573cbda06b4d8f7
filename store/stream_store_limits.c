/* Limits and retention: max_msgs and max_bytes (discard old or new), max_age,
 * max_msgs_per_subject, the purges (everything, one subject, below a sequence, all but
 * the newest N), and limits changed on an open store (stream_store_limits_set, and at
 * open); stream_store.h says what each one promises.
 *
 * The one idea: removing a message never rewrites the log. store_forget takes it out of the
 * indexes at once; a removal from the front is made durable by the floor that the next
 * record carries (or by one floor record), any other removal by a tombstone. Whole
 * segments go once none of their messages remain (store_drop_front). One thread owns a
 * store. */
#include "store/stream_store.h"

#include "base/assert.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/stream_store_internal.h"
#include "store/subject_table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    /* Tombstones one append writes at most for max_msgs_per_subject. */
    SUBJECT_EVICT_MAX = 16,
};

/* ---- Removing messages from the indexes ---------------------------------------------- */

/* Removes message `seq` of `seg` from every index. Its record stays in the log; the caller
 * makes the removal durable (a tombstone or the floor of the next record). */
void store_forget(struct stream_store *store, struct store_segment *seg, uint64_t seq)
{
    uint64_t index = seq - seg_first(seg);
    uint32_t offset = seg->offsets[index];
    ASSERT(offset != OFFSET_GONE);
    struct record rec;
    uint32_t size = 0;
    bool read = store_read(store, seg, seq, &rec) == 0;
    if (read) {
        size = store_record_msg_size(store, &rec);
        store_subject_forget(store, &rec, seq);
    }
    seg->offsets[index] = OFFSET_GONE;
    ASSERT(seg->live_count > 0);
    seg->live_count--;
    ASSERT(store->msg_count > 0);
    store->msg_count--;
    store->removed_count++;
    if (store->hooks.removed != NULL) {
        store->hooks.removed(store->hooks.context, seq, read ? rec.subject : NULL,
                             read ? rec.subject_length : 0);
    }
    store->byte_count -= size < store->byte_count ? size : store->byte_count;
    if (seq == store->first_seq) {
        uint64_t next = store_next_live(store, seq + 1);
        store->first_seq = next != 0 ? next : store->last_seq + 1;
    }
}

/* Removes the oldest message. */
void store_forget_first(struct stream_store *store)
{
    ASSERT(store->msg_count > 0);
    struct store_segment *seg = store_segment_of(store, store->first_seq);
    ASSERT(seg != NULL);
    store_forget(store, seg, store->first_seq);
}

/* ---- max_msgs, max_bytes and max_msgs_per_subject: an append's two questions ---------- */

/* How many tombstones an append on `subject` writes to keep max_msgs_per_subject (set):
 * the excess over the limit, at most SUBJECT_EVICT_MAX (a limit lowered a lot is caught up
 * over several appends) and no more than fit beside the message in one segment. Out of
 * line, like store_limits_evict, so that store_limits_admit under no limits is a few
 * tests. */
__attribute__((noinline)) static uint32_t
store_subject_evict_count(const struct stream_store *store, uint64_t hash,
                          const uint8_t *subject, uint32_t subject_length, uint32_t record_size)
{
    uint64_t limit = store->config.max_msgs_per_subject;
    ASSERT(limit != 0);
    const struct subject_entry *entry =
        subject_table_find(&store->subjects, subject, subject_length, hash);
    if (entry == NULL || entry->msg_count < limit) {
        return 0;
    }
    uint64_t count = entry->msg_count + 1 - limit;
    if (count > SUBJECT_EVICT_MAX) {
        count = SUBJECT_EVICT_MAX;
    }
    uint64_t room = (store_record_size_max(store) - record_size) / RECORD_OVERHEAD_SIZE;
    return (uint32_t)(count < room ? count : room);
}

int store_limits_admit(const struct stream_store *store, uint64_t hash, const uint8_t *subject,
                       uint32_t subject_length, uint32_t record_size, uint32_t size,
                       uint32_t *evict_count)
{
    const struct stream_store_config *config = &store->config;
    if (config->max_bytes != 0 && size > config->max_bytes) {
        return -EMSGSIZE;
    }
    if (config->discard == STREAM_STORE_DISCARD_NEW) {
        if (config->max_msgs != 0 && store->msg_count >= config->max_msgs) {
            return -EDQUOT;
        }
        if (config->max_bytes != 0 && store->byte_count + size > config->max_bytes) {
            return -EDQUOT;
        }
    }
    *evict_count = 0;
    if (config->max_msgs_per_subject != 0) {
        *evict_count =
            store_subject_evict_count(store, hash, subject, subject_length, record_size);
    }
    return 0;
}

/* Removes the oldest message on the subject of `hash` and writes its tombstone. The
 * subject's first is exact but after a link too long to keep (stream_store_subject.c). */
static void store_subject_evict_first(struct stream_store *store, const struct store_slot *slot,
                                      uint64_t hash, const uint8_t *subject,
                                      uint32_t subject_length)
{
    struct subject_entry *entry =
        subject_table_find(&store->subjects, subject, subject_length, hash);
    ASSERT(entry != NULL);
    ASSERT(entry->msg_count >= 2); /* an old one, and the one being appended */
    store_subject_settle_first(store, entry);
    uint64_t victim = entry->first_seq;
    store_forget(store, store_segment_of(store, victim), victim);
    store_put_control(store, slot, RECORD_KIND_DELETE, victim);
}

/* The work of store_limits_make_room when there is any; out of line, so that an append
 * under no limits (the common case) pays a test and no register saves. The subject already
 * counts the new message, so evicting an older one on the same subject cannot remove its
 * entry. Under discard new, store_limits_admit refused an append that would need room on
 * max_msgs or max_bytes, so the loops remove nothing then. */
__attribute__((noinline)) static void
store_limits_evict(struct stream_store *store, const struct store_slot *slot, uint64_t hash,
                   const uint8_t *subject, uint32_t subject_length, uint32_t size,
                   uint32_t evict_count)
{
    for (uint32_t i = 0; i < evict_count; i++) {
        store_subject_evict_first(store, slot, hash, subject, subject_length);
    }
    const struct stream_store_config *config = &store->config;
    while (config->max_msgs != 0 && store->msg_count + 1 > config->max_msgs) {
        store_forget_first(store);
    }
    while (config->max_bytes != 0 && store->msg_count > 0 &&
           store->byte_count + size > config->max_bytes) {
        store_forget_first(store);
    }
}

void store_limits_make_room(struct stream_store *store, const struct store_slot *slot,
                            uint64_t hash, const uint8_t *subject, uint32_t subject_length,
                            uint32_t size, uint32_t evict_count)
{
    const struct stream_store_config *config = &store->config;
    if (evict_count != 0 || config->max_msgs != 0 || config->max_bytes != 0) {
        store_limits_evict(store, slot, hash, subject, subject_length, size, evict_count);
    }
}

/* ---- Purges and max_age ---------------------------------------------------------------- */

/* Purge of everything: a new segment, marked purged, replaces the old ones; creating it
 * commits the purge. It starts at `last_seq` + 1: a skip with no message held moves
 * last_seq on this way (stream_store_skip), a purge leaves it. */
int store_purge_through(struct stream_store *store, uint64_t last_seq, uint64_t *purged_count)
{
    ASSERT(last_seq >= store->last_seq);
    ASSERT(last_seq <= STREAM_STORE_SEQ_MAX);
    uint64_t count = store->msg_count;
    uint64_t last_seq_before = store->last_seq;
    store->last_seq = last_seq; /* store_roll starts the segment after it */
    int rc = store_roll(store, SEGMENT_F_PURGED, false);
    if (rc != 0) {
        store->last_seq = last_seq_before;
        return rc;
    }
    struct store_segment *last = store_last_segment(store);
    for (uint32_t i = 0; i + 1 < store->segment_count; i++) {
        store_segment_retire(store, store->segments[i]);
    }
    store->segments[0] = last;
    store->segment_count = 1;
    subject_table_clear(&store->subjects);
    store->msg_count = 0;
    store->removed_count += count;
    store->byte_count = 0;
    store->first_seq = store->last_seq + 1;
    *purged_count = count;
    return 0;
}

/* Purge of the oldest messages of every subject, below a sequence or all but the newest
 * `keep`: the floor moves, and one floor record makes it durable. */
static int store_purge_front(struct stream_store *store,
                             const struct stream_store_purge_request *request,
                             uint64_t *purged_count)
{
    uint64_t count = 0;
    if (request->keep != 0) {
        count = store->msg_count > request->keep ? store->msg_count - request->keep : 0;
    } else {
        for (uint64_t seq = store_next_live(store, 0); seq != 0 && seq < request->up_to_seq;
             seq = store_next_live(store, seq + 1)) {
            count++;
        }
    }
    *purged_count = 0;
    if (count == 0) {
        return 0;
    }
    struct store_slot slot;
    int rc = store_reserve(store, RECORD_OVERHEAD_SIZE, 0, &slot);
    if (rc != 0) {
        return rc;
    }
    for (uint64_t i = 0; i < count; i++) {
        store_forget_first(store);
    }
    store_put_control(store, &slot, RECORD_KIND_FLOOR, 0);
    store_after_put(store);
    store_drop_front(store);
    *purged_count = count;
    return 0;
}

/* Purge of one subject's messages: a tombstone each, oldest first. Stops at the first
 * tombstone that cannot be appended, with what was purged so far counted. */
static int store_purge_subject(struct stream_store *store,
                               const struct stream_store_purge_request *request,
                               uint64_t *purged_count)
{
    uint64_t hash = subject_table_hash(&store->subjects, request->subject,
                                       request->subject_length);
    *purged_count = 0;
    for (;;) {
        struct subject_entry *entry = subject_table_find(&store->subjects, request->subject,
                                                         request->subject_length, hash);
        if (entry == NULL || entry->msg_count <= request->keep) {
            return 0;
        }
        store_subject_settle_first(store, entry);
        uint64_t victim = entry->first_seq;
        if (request->up_to_seq != 0 && victim >= request->up_to_seq) {
            return 0;
        }
        struct store_slot slot;
        int rc = store_reserve(store, RECORD_OVERHEAD_SIZE, 0, &slot);
        if (rc != 0) {
            return rc;
        }
        store_forget(store, store_segment_of(store, victim), victim);
        store_put_control(store, &slot, RECORD_KIND_DELETE, victim);
        store_after_put(store);
        store_drop_front(store);
        (*purged_count)++;
    }
}

int stream_store_purge(struct stream_store *store,
                       const struct stream_store_purge_request *request, uint64_t *purged_count)
{
    if (store->failure != 0) {
        return store->failure;
    }
    uint64_t ignored = 0;
    if (purged_count == NULL) {
        purged_count = &ignored;
    }
    const struct stream_store_purge_request everything = {.up_to_seq = store->last_seq + 1};
    if (request == NULL) {
        request = &everything;
    }
    if (request->up_to_seq != 0 && request->keep != 0) {
        return -EINVAL;
    }
    if (request->subject != NULL) {
        if (request->subject_length == 0) {
            return -EINVAL;
        }
        return store_purge_subject(store, request, purged_count);
    }
    if (request->up_to_seq == 0 && request->keep == 0) {
        request = &everything;
    }
    if (request == &everything && !store->batch_open) {
        return store_purge_through(store, store->last_seq, purged_count);
    }
    /* inside an atomic batch a purge of everything is a floor record, undone with it */
    return store_purge_front(store, request, purged_count);
}

/* Evicts messages older than max_age and records the new floor. */
int store_expire(struct stream_store *store, int64_t now_ns)
{
    if (store->config.max_age_ns == 0 || store->msg_count == 0) {
        return 0;
    }
    int64_t cutoff_ns = now_ns - store->config.max_age_ns;
    struct record rec;
    struct store_segment *seg = store_segment_of(store, store->first_seq);
    if (store_read(store, seg, store->first_seq, &rec) != 0 || rec.timestamp_ns >= cutoff_ns) {
        return 0;
    }
    struct store_slot slot;
    int rc = store_reserve(store, RECORD_OVERHEAD_SIZE, 0, &slot);
    if (rc != 0) {
        return rc;
    }
    while (store->msg_count > 0) {
        seg = store_segment_of(store, store->first_seq);
        if (store_read(store, seg, store->first_seq, &rec) != 0 ||
            rec.timestamp_ns >= cutoff_ns) {
            break;
        }
        store_forget(store, seg, store->first_seq);
    }
    store_put_control(store, &slot, RECORD_KIND_FLOOR, 0);
    store_after_put(store);
    store_drop_front(store);
    return 0;
}

/* ---- Limits lowered on a store: at open, and by stream_store_limits_set --------------- */

/* Whether the oldest message held is over max_msgs or max_bytes (discard old only) or
 * older than `cutoff_ns` (INT64_MIN: no max_age). */
static bool store_front_over(const struct stream_store *store, int64_t cutoff_ns)
{
    const struct stream_store_config *config = &store->config;
    if (store->msg_count == 0) {
        return false;
    }
    if (config->discard == STREAM_STORE_DISCARD_OLD &&
        ((config->max_msgs != 0 && store->msg_count > config->max_msgs) ||
         (config->max_bytes != 0 && store->byte_count > config->max_bytes))) {
        return true;
    }
    if (cutoff_ns == INT64_MIN) {
        return false;
    }
    struct record rec;
    const struct store_segment *seg = store_segment_of(store, store->first_seq);
    return store_read(store, seg, store->first_seq, &rec) == 0 && rec.timestamp_ns < cutoff_ns;
}

/* The front: the oldest messages go while over max_msgs, max_bytes or max_age, behind one
 * floor record. */
static int store_limits_apply_front(struct stream_store *store)
{
    int64_t cutoff_ns = INT64_MIN;
    int64_t now_ns = store_clock_ns(store);
    if (store->config.max_age_ns != 0 && now_ns > INT64_MIN + store->config.max_age_ns) {
        cutoff_ns = now_ns - store->config.max_age_ns;
    }
    if (!store_front_over(store, cutoff_ns)) {
        return 0;
    }
    struct store_slot slot;
    int rc = store_reserve(store, RECORD_OVERHEAD_SIZE, 0, &slot);
    if (rc != 0) {
        return rc;
    }
    while (store_front_over(store, cutoff_ns)) {
        store_forget_first(store);
    }
    store_put_control(store, &slot, RECORD_KIND_FLOOR, 0);
    store_after_put(store);
    store_drop_front(store);
    return 0;
}

/* Every subject over max_msgs_per_subject loses its oldest messages, a tombstone each. No
 * entry goes (each keeps `limit` >= 1 messages), so the walk over the table's slots sees
 * every entry once. O(slots + messages removed), with the chains. */
static int store_limits_apply_subjects(struct stream_store *store)
{
    uint64_t limit = store->config.max_msgs_per_subject;
    if (limit == 0) {
        return 0;
    }
    struct subject_table *table = &store->subjects;
    for (uint32_t i = 0; i < table->capacity; i++) {
        struct subject_entry *entry = &table->slots[i];
        while (entry->subject != NULL && entry->msg_count > limit) {
            struct store_slot slot;
            int rc = store_reserve(store, RECORD_OVERHEAD_SIZE, 0, &slot);
            if (rc != 0) {
                return rc;
            }
            store_subject_settle_first(store, entry);
            uint64_t victim = entry->first_seq;
            store_forget(store, store_segment_of(store, victim), victim);
            ASSERT(entry->subject != NULL); /* the slot still holds the entry */
            store_put_control(store, &slot, RECORD_KIND_DELETE, victim);
            store_after_put(store);
            store_drop_front(store);
        }
    }
    return 0;
}

int store_limits_apply(struct stream_store *store)
{
    int rc = store_limits_apply_front(store);
    if (rc != 0) {
        return rc;
    }
    return store_limits_apply_subjects(store);
}

/* Accepts the limit fields only; the rest of `config` is not looked at. */
int stream_store_limits_set(struct stream_store *store, const struct stream_store_config *config)
{
    if (config->max_age_ns < 0 || (config->discard != STREAM_STORE_DISCARD_OLD &&
                                   config->discard != STREAM_STORE_DISCARD_NEW)) {
        return -EINVAL;
    }
    if (store->failure != 0) {
        return store->failure;
    }
    bool chained = store_subject_chained(store);
    bool chain = config->max_msgs_per_subject != 0;
    if (chain && !chained) {
        int rc = store_subject_chains_alloc(store);
        if (rc != 0) {
            return rc;
        }
    }
    store->config.max_msgs = config->max_msgs;
    store->config.max_bytes = config->max_bytes;
    store->config.max_age_ns = config->max_age_ns;
    store->config.max_msgs_per_subject = config->max_msgs_per_subject;
    store->config.discard = config->discard;
    if (chain && !chained) {
        store_subject_chains_build(store);
    } else if (!chain && chained) {
        store_subject_chains_free(store);
    }
    return store_limits_apply(store);
}
