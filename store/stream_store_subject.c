/* The per-subject index of a stream store: keeping each subject's entry (subject_table.h:
 * first, last and count) right as messages come and go, and the public queries on it.
 *
 * The one idea: under max_msgs_per_subject the messages of a subject form a chain. Beside
 * its record offset, each sequence has a 32-bit link (store_segment.subject_next) to the
 * next message appended on its subject, set when that one is appended. When a subject's
 * first message goes, the new first is found by following the chain from it, stepping over
 * the subject's own deleted messages and never looking at another subject's: an append at
 * the limit, or any removal from the front, does work that does not grow with the number
 * of subjects the stream holds. The first only moves forward, so each deleted message on a
 * chain is stepped over once: O(1) amortized per removal. The chains are not persisted;
 * recovery rebuilds them as it counts the held messages back in (store_subject_add, in
 * sequence order), and stream_store_limits_set builds them by one walk of the messages held
 * when max_msgs_per_subject turns on (and frees them when it turns off).
 *
 * Where there is no chain to follow (a stream without max_msgs_per_subject, which keeps
 * none: store_subject_chained; or a link longer than STORE_SUBJECT_NEXT_MAX), a first that
 * goes turns into a stale lower bound, settled on demand by walking the log; so does a
 * last that is deleted (there are no backward links), which only stream_store_subject_last
 * asks for. Appends need no backward link: the last message appended on a subject, held or
 * not, stays its entry's last_seq, and the next one is linked from there.
 *
 * A subject's chain runs from its first message held to the last one appended, through
 * segments that are held: segments go only from the front and only once empty. One
 * thread owns a store. */
#include "store/stream_store.h"

#include "base/assert.h"
#include "store/record.h"
#include "store/stream_store_internal.h"
#include "store/subject_table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- The chains ----------------------------------------------------------------------- */

/* The segment of `seq`, a sequence on a chain (see the file comment for why it is held).
 * Most are in the last segment: that one is tried before the binary search. */
static struct store_segment *store_subject_segment_of(const struct stream_store *store,
                                                      uint64_t seq)
{
    struct store_segment *seg = store_last_segment(store);
    if (seq < seg_first(seg) || seq >= seg_next(seg)) {
        seg = store_segment_of(store, seq);
    }
    ASSERT(seg != NULL);
    return seg;
}

/* The link of `seq`, a sequence on a chain. */
static uint32_t *store_subject_next_of(const struct stream_store *store, uint64_t seq)
{
    struct store_segment *seg = store_subject_segment_of(store, seq);
    return &seg->subject_next[seq - seg_first(seg)];
}

static bool store_is_held(const struct stream_store *store, uint64_t seq)
{
    const struct store_segment *seg = store_subject_segment_of(store, seq);
    return seg->offsets[seq - seg_first(seg)] != OFFSET_GONE;
}

void store_subject_link(struct stream_store *store, uint64_t tail_seq, uint64_t seq)
{
    ASSERT(store_subject_chained(store));
    ASSERT(tail_seq < seq);
    uint64_t distance = seq - tail_seq;
    *store_subject_next_of(store, tail_seq) =
        distance <= STORE_SUBJECT_NEXT_MAX ? (uint32_t)distance : SUBJECT_NEXT_NONE;
}

/* Moves the first of `entry` on from `seq`, its first message, which is going and no
 * longer counted: to the last when only that one is left, else along the chain to the next
 * message held, or to a stale bound where there is no chain or a link is missing. The entry
 * still counts a message. Each step passes a deleted message of the subject, which the
 * first never passes again (see the file comment), so the loop is bounded by the subject's
 * deleted messages. */
static void store_subject_first_advance(struct stream_store *store, struct subject_entry *entry,
                                        uint64_t seq)
{
    ASSERT(entry->msg_count > 0);
    ASSERT(entry->first_seq == seq);
    ASSERT(!(entry->flags & SUBJECT_ENTRY_F_FIRST_STALE));
    bool last_held = !(entry->flags & SUBJECT_ENTRY_F_LAST_STALE);
    if (last_held && entry->msg_count == 1) {
        entry->first_seq = entry->last_seq; /* so max_msgs_per_subject 1 needs no link */
        return;
    }
    if (!store_subject_chained(store)) {
        entry->first_seq = seq + 1;
        entry->flags |= SUBJECT_ENTRY_F_FIRST_STALE;
        return;
    }
    for (;;) {
        uint32_t distance = *store_subject_next_of(store, seq);
        if (distance == SUBJECT_NEXT_NONE) {
            /* A message is held after `seq`, but the link to it was too long to keep. */
            entry->first_seq = seq + 1;
            entry->flags |= SUBJECT_ENTRY_F_FIRST_STALE;
            return;
        }
        seq += distance;
        ASSERT(seq <= entry->last_seq);
        /* The last, while held, may be the message being appended: counted, not yet in
         * the offsets. */
        if ((last_held && seq == entry->last_seq) || store_is_held(store, seq)) {
            entry->first_seq = seq;
            return;
        }
    }
}

/* Counts message `seq` out of its subject's entry: the entry goes with its last message;
 * the first moves along the chain; a last that goes stays last_seq, marked stale. */
void store_subject_forget(struct stream_store *store, const struct record *rec, uint64_t seq)
{
    uint64_t hash = subject_table_hash(&store->subjects, rec->subject, rec->subject_length);
    struct subject_entry *entry =
        subject_table_find(&store->subjects, rec->subject, rec->subject_length, hash);
    ASSERT(entry != NULL);
    ASSERT(entry->msg_count > 0);
    ASSERT(seq >= entry->first_seq);
    ASSERT(seq <= entry->last_seq);
    entry->msg_count--;
    if (entry->msg_count == 0) {
        subject_table_remove(&store->subjects, entry);
        return;
    }
    if (entry->last_seq == seq) {
        ASSERT(!(entry->flags & SUBJECT_ENTRY_F_LAST_STALE));
        entry->flags |= SUBJECT_ENTRY_F_LAST_STALE;
    }
    if (entry->first_seq == seq) {
        /* Exact, or a stale lower bound that `seq`, held on the subject, shows is exact. */
        entry->flags &= ~(uint32_t)SUBJECT_ENTRY_F_FIRST_STALE;
        store_subject_first_advance(store, entry, seq);
    }
}

/* ---- Settling a stale bound by walking the log ---------------------------------------- */

static bool store_subject_is(struct stream_store *store, uint64_t seq,
                             const struct subject_entry *entry)
{
    struct stream_store_msg msg;
    return stream_store_get(store, seq, &msg) == 0 &&
           msg.subject_length == entry->subject_length &&
           memcmp(msg.subject, entry->subject, entry->subject_length) == 0;
}

/* Walks the log up from the bound; the entry holds at least one message, so the walk
 * finds it. Only after a link too long to keep (STORE_SUBJECT_NEXT_MAX). */
void store_subject_settle_first(struct stream_store *store, struct subject_entry *entry)
{
    if (!(entry->flags & SUBJECT_ENTRY_F_FIRST_STALE)) {
        return;
    }
    uint64_t seq = store_next_live(store, entry->first_seq);
    while (seq != 0 && !store_subject_is(store, seq, entry)) {
        seq = store_next_live(store, seq + 1);
    }
    ASSERT(seq != 0);
    entry->first_seq = seq;
    entry->flags &= ~(uint32_t)SUBJECT_ENTRY_F_FIRST_STALE;
}

/* Walks the log down from below the last message appended, which is gone. The chain then
 * ends at the message found: the next append links from there. */
static void store_subject_settle_last(struct stream_store *store, struct subject_entry *entry)
{
    if (!(entry->flags & SUBJECT_ENTRY_F_LAST_STALE)) {
        return;
    }
    ASSERT(entry->last_seq > 1);
    uint64_t seq = store_prev_live(store, entry->last_seq - 1);
    while (seq != 0 && !store_subject_is(store, seq, entry)) {
        seq = store_prev_live(store, seq - 1);
    }
    ASSERT(seq != 0);
    entry->last_seq = seq;
    entry->flags &= ~(uint32_t)SUBJECT_ENTRY_F_LAST_STALE;
}

/* ---- Turning the chains on and off (stream_store_limits_set) ------------------------- */

int store_subject_chains_alloc(struct stream_store *store)
{
    ASSERT(!store_subject_chained(store));
    for (uint32_t i = 0; i < store->segment_count; i++) {
        struct store_segment *seg = store->segments[i];
        ASSERT(seg->subject_next == NULL);
        uint32_t capacity = seg->offsets_capacity;
        /* calloc: every link SUBJECT_NEXT_NONE until the build sets it. */
        seg->subject_next = capacity > 0 ? calloc(capacity, sizeof *seg->subject_next) : NULL;
        if (capacity > 0 && seg->subject_next == NULL) {
            store_subject_chains_free(store);
            return -ENOMEM;
        }
        seg->subject_next_capacity = capacity;
    }
    return 0;
}

void store_subject_chains_free(struct stream_store *store)
{
    for (uint32_t i = 0; i < store->segment_count; i++) {
        struct store_segment *seg = store->segments[i];
        free(seg->subject_next);
        seg->subject_next = NULL;
        seg->subject_next_capacity = 0;
    }
}

/* Counts message `seq`, whose record is `rec`, into the chain its entry is being rebuilt
 * with: the entry's first message seen sets both bounds, each later one is linked after
 * the last. */
static void store_subject_relink(struct stream_store *store, const struct record *rec,
                                 uint64_t seq)
{
    uint64_t hash = subject_table_hash(&store->subjects, rec->subject, rec->subject_length);
    struct subject_entry *entry =
        subject_table_find(&store->subjects, rec->subject, rec->subject_length, hash);
    ASSERT(entry != NULL);
    if (entry->flags & SUBJECT_ENTRY_F_RELINK) {
        entry->first_seq = seq;
        entry->flags = 0;
    } else {
        store_subject_link(store, entry->last_seq, seq);
    }
    entry->last_seq = seq;
}

/* One walk of the messages held, in sequence order, each read through its segment's map (or
 * its batch) and looked up in the table: O(messages held). The counts stay as they are
 * (they are exact); first and last become exact. A message whose bytes no longer frame a
 * record (store_read logs it) is left off its chain, as store_forget leaves it off its
 * entry; an entry none of whose messages could be read keeps its bounds as they were
 * (a first with no link is settled by walking the log, as after a link too long). */
void store_subject_chains_build(struct stream_store *store)
{
    ASSERT(store_subject_chained(store));
    struct subject_table *table = &store->subjects;
    for (uint32_t i = 0; i < table->capacity; i++) {
        if (table->slots[i].subject != NULL) {
            table->slots[i].flags |= SUBJECT_ENTRY_F_RELINK;
        }
    }
    for (uint32_t i = 0; i < store->segment_count; i++) {
        const struct store_segment *seg = store->segments[i];
        for (uint32_t index = 0; index < seg->seq_count && seg->live_count > 0; index++) {
            if (seg->offsets[index] == OFFSET_GONE) {
                continue;
            }
            uint64_t seq = seg_first(seg) + index;
            struct record rec;
            if (store_read(store, seg, seq, &rec) == 0) {
                store_subject_relink(store, &rec, seq);
            }
        }
    }
    for (uint32_t i = 0; i < table->capacity; i++) {
        struct subject_entry *entry = &table->slots[i];
        if (entry->subject != NULL) {
            entry->flags &= ~(uint32_t)SUBJECT_ENTRY_F_RELINK;
        }
    }
}

/* ---- Queries -------------------------------------------------------------------------- */

static struct subject_entry *store_subject_find(struct stream_store *store,
                                                const uint8_t *subject,
                                                uint32_t subject_length)
{
    if (subject_length == 0) {
        return NULL;
    }
    uint64_t hash = subject_table_hash(&store->subjects, subject, subject_length);
    return subject_table_find(&store->subjects, subject, subject_length, hash);
}

int stream_store_subject_first(struct stream_store *store, const uint8_t *subject,
                               uint32_t subject_length, uint64_t *seq)
{
    struct subject_entry *entry = store_subject_find(store, subject, subject_length);
    if (entry == NULL) {
        return -ENOENT;
    }
    store_subject_settle_first(store, entry);
    *seq = entry->first_seq;
    return 0;
}

int stream_store_subject_last(struct stream_store *store, const uint8_t *subject,
                              uint32_t subject_length, uint64_t *seq)
{
    struct subject_entry *entry = store_subject_find(store, subject, subject_length);
    if (entry == NULL) {
        return -ENOENT;
    }
    store_subject_settle_last(store, entry);
    *seq = entry->last_seq;
    return 0;
}

uint64_t stream_store_subject_count(struct stream_store *store, const uint8_t *subject,
                                    uint32_t subject_length)
{
    struct subject_entry *entry = store_subject_find(store, subject, subject_length);
    return entry != NULL ? entry->msg_count : 0;
}

int stream_store_subjects_each(const struct stream_store *store, stream_store_subject_fn *each,
                               void *context)
{
    const struct subject_table *table = &store->subjects;
    for (uint32_t i = 0; i < table->capacity; i++) {
        const struct subject_entry *entry = &table->slots[i];
        if (entry->subject == NULL) {
            continue;
        }
        int rc = each(context, (const uint8_t *)entry->subject, entry->subject_length,
                      entry->msg_count);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}
