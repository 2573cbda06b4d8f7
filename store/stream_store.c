/* The stream store: see stream_store.h for the model, record.c and segment.c for the bytes,
 * and stream_store_internal.h for how the module is split and what its files share.
 *
 * This file owns the lookups the other files build on (the segment that covers a
 * sequence, where its record is, the next or previous one held), the segments' life
 * (rolling over to a new last segment, dropping empty ones from the front, retiring their
 * files), the reads of the public API, and opening and closing a store. The one idea: a
 * record is found by binary search over the segments and then in O(1) through its
 * segment's dense offset array, so no read scans the log. One thread owns a store. */
#include "store/stream_store.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/stream_store_internal.h"
#include "store/subject_table.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    /* First allocation of a segment's offset array, in entries (4 KiB). */
    OFFSETS_CAPACITY_MIN = 1024,
    /* Directory mode for a new store. */
    STORE_DIRECTORY_MODE = 0755,
};

/* What log lines call a memory-backed store. */
static const char STORE_MEMORY_NAME[] = "(memory)";

/* ---- Lookups -------------------------------------------------------------------------- */

/* Index of the segment covering `seq`, or store->segment_count when none does. Binary
 * search over the segments (a handful to a few thousand); with the offset array behind it,
 * a lookup by sequence costs the same however long the stream. */
static uint32_t store_segment_index(const struct stream_store *store, uint64_t seq)
{
    uint32_t low = 0;
    uint32_t high = store->segment_count;
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        if (seg_first(store->segments[middle]) <= seq) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    if (low == 0 || seq >= seg_next(store->segments[low - 1])) {
        return store->segment_count;
    }
    return low - 1;
}

/* The segment covering `seq`, or NULL. */
struct store_segment *store_segment_of(const struct stream_store *store, uint64_t seq)
{
    uint32_t index = store_segment_index(store, seq);
    return index < store->segment_count ? store->segments[index] : NULL;
}

/* The bytes of the record at `offset` of `seg`: through the map once written, else from
 * the batch that holds it. */
static const uint8_t *store_record_bytes(const struct stream_store *store,
                                         const struct store_segment *seg, uint64_t offset,
                                         size_t *available)
{
    if (offset < seg->written_offset) {
        *available = (size_t)(seg->written_offset - offset);
        return seg->file.map + offset;
    }
    for (const struct store_batch *batch = store->batch_head; batch != NULL;
         batch = batch->next) {
        if (batch->segment == seg && offset >= batch->offset &&
            offset < batch->offset + batch->size) {
            *available = (size_t)(batch->offset + batch->size - offset);
            return batch->data + (offset - batch->offset);
        }
    }
    UNREACHABLE();
}

int store_read(const struct stream_store *store, const struct store_segment *seg,
               uint64_t seq, struct record *rec)
{
    uint32_t offset = seg->offsets[seq - seg_first(seg)];
    ASSERT(offset != OFFSET_GONE);
    size_t available = 0;
    const uint8_t *bytes = store_record_bytes(store, seg, offset, &available);
    int rc = record_view(bytes, available, rec);
    if (rc != 0) {
        LOG_ERROR("store %s: segment %s: record of sequence %" PRIu64
                  " at offset %" PRIu32 " no longer frames a record",
                  store->path, seg->file.name, seq, offset);
        return -EBADMSG;
    }
    ASSERT(rec->kind == RECORD_KIND_MSG);
    ASSERT(rec->sequence == seq);
    return 0;
}

static void store_msg_fill(const struct stream_store *store, const struct record *rec,
                           struct stream_store_msg *msg)
{
    *msg = (struct stream_store_msg){
        .seq = rec->sequence,
        .timestamp_ns = rec->timestamp_ns,
        .subject = rec->subject,
        .header = rec->header,
        .payload = rec->payload,
        .subject_length = rec->subject_length,
        .header_length = rec->header_length,
        .payload_length = rec->payload_length,
        .size = store_record_msg_size(store, rec),
    };
}

/* The first sequence held that is >= seq, or 0. Walks the offset arrays: the cost grows
 * with the gone sequences skipped. */
uint64_t store_next_live(const struct stream_store *store, uint64_t seq)
{
    if (seq < store->first_seq) {
        seq = store->first_seq;
    }
    if (store->msg_count == 0 || seq > store->last_seq) {
        return 0;
    }
    uint32_t start = store_segment_index(store, seq);
    ASSERT(start < store->segment_count);
    for (uint32_t i = start; i < store->segment_count; i++) {
        const struct store_segment *seg = store->segments[i];
        if (seg->live_count == 0) {
            continue;
        }
        uint64_t from = seq > seg_first(seg) ? seq - seg_first(seg) : 0;
        for (uint64_t index = from; index < seg->seq_count; index++) {
            if (seg->offsets[index] != OFFSET_GONE) {
                return seg_first(seg) + index;
            }
        }
    }
    return 0;
}

/* The last sequence held that is <= seq, or 0. */
uint64_t store_prev_live(const struct stream_store *store, uint64_t seq)
{
    if (seq > store->last_seq) {
        seq = store->last_seq;
    }
    if (store->msg_count == 0 || seq < store->first_seq) {
        return 0;
    }
    uint32_t start = store_segment_index(store, seq);
    ASSERT(start < store->segment_count);
    for (uint32_t i = start + 1; i-- > 0;) {
        const struct store_segment *seg = store->segments[i];
        if (seg->live_count == 0) {
            continue;
        }
        uint64_t to = seq < seg_next(seg) ? seq - seg_first(seg) + 1 : seg->seq_count;
        for (uint64_t index = to; index-- > 0;) {
            if (seg->offsets[index] != OFFSET_GONE) {
                return seg_first(seg) + index;
            }
        }
    }
    return 0;
}

/* ---- Segments ------------------------------------------------------------------------- */

static void store_segment_free(struct stream_store *store, struct store_segment *seg)
{
    segment_release(&seg->file, store->io);
    free(seg->offsets);
    free(seg->subject_next);
    free(seg);
}

void store_segment_unref(struct stream_store *store, struct store_segment *seg)
{
    ASSERT(seg->batch_ref_count > 0);
    seg->batch_ref_count--;
    if (seg->batch_ref_count == 0 && seg->dropped) {
        store_segment_free(store, seg);
    }
}

/* Takes `seg` out of the store and removes its file; the memory goes once no batch uses it. */
void store_segment_retire(struct stream_store *store, struct store_segment *seg)
{
    int rc = segment_unlink(store->dir_fd, &seg->file);
    if (rc != 0) {
        LOG_ERROR("store %s: cannot remove segment %s: %s", store->path, seg->file.name,
                  strerror(-rc));
    }
    seg->dropped = true;
    if (seg->batch_ref_count == 0) {
        store_segment_free(store, seg);
    }
}

int store_segments_reserve(struct stream_store *store)
{
    if (store->segment_count < store->segment_capacity) {
        return 0;
    }
    uint32_t capacity =
        store->segment_capacity == 0 ? SEGMENTS_CAPACITY_MIN : store->segment_capacity * 2;
    struct store_segment **segments = realloc(store->segments, capacity * sizeof *segments);
    if (segments == NULL) {
        return -ENOMEM;
    }
    store->segments = segments;
    store->segment_capacity = capacity;
    return 0;
}

/* Grows `*array`, of `*capacity` entries, to hold `count` (doubling from
 * OFFSETS_CAPACITY_MIN): 0, or -ENOMEM with the array unchanged. */
static int store_array_reserve(uint32_t **array, uint32_t *capacity, uint64_t count)
{
    if (count <= *capacity) {
        return 0;
    }
    uint64_t grown = *capacity == 0 ? OFFSETS_CAPACITY_MIN : *capacity;
    while (grown < count) {
        grown *= 2;
    }
    if (grown > UINT32_MAX) {
        return -ENOMEM;
    }
    uint32_t *entries = realloc(*array, (size_t)grown * sizeof *entries);
    if (entries == NULL) {
        return -ENOMEM;
    }
    *array = entries;
    *capacity = (uint32_t)grown;
    return 0;
}

/* The two arrays keep capacities of their own, so that one grown and the other not (the
 * second allocation failed) is still consistent. */
int store_offsets_grow(const struct stream_store *store, struct store_segment *seg,
                       uint64_t count)
{
    int rc = store_array_reserve(&seg->offsets, &seg->offsets_capacity, count);
    if (rc != 0 || !store_subject_chained(store)) {
        return rc;
    }
    return store_array_reserve(&seg->subject_next, &seg->subject_next_capacity, count);
}

/* Shrinks `*array` to `count` entries when it holds more. A failed shrink keeps the larger
 * array. */
static void store_array_trim(uint32_t **array, uint32_t *capacity, uint32_t count)
{
    if (count == 0 || count >= *capacity) {
        return;
    }
    uint32_t *entries = realloc(*array, (size_t)count * sizeof *entries);
    if (entries != NULL) {
        *array = entries;
        *capacity = count;
    }
}

/* Gives back the unused tail of a sealed segment's arrays (doubling leaves up to half of
 * each unused), so the index costs 4 bytes a sequence, and 4 more for its subject link
 * where the store keeps chains. */
void store_offsets_trim(struct store_segment *seg)
{
    store_array_trim(&seg->offsets, &seg->offsets_capacity, seg->seq_count);
    store_array_trim(&seg->subject_next, &seg->subject_next_capacity, seg->seq_count);
}

/* Logs a segment that could not be created. On the message path a full disk refuses every
 * append, as fast as clients retry: the line is written at most once a second there. */
static void store_roll_failed(struct stream_store *store, const struct segment_header *header,
                              int error, bool on_message_path)
{
    uint64_t held_count = 0;
    if (on_message_path && !store_log_due(&store->roll_log, store_clock_ns(store), &held_count)) {
        return;
    }
    if (held_count == 0) {
        LOG_ERROR("store %s: cannot create segment %" PRIu64 " of %" PRIu64 " bytes: %s",
                  store->path, header->segment_id, header->capacity, strerror(-error));
        return;
    }
    LOG_ERROR("store %s: cannot create segment %" PRIu64 " of %" PRIu64 " bytes: %s "
              "(and %" PRIu64 " times since the last line)",
              store->path, header->segment_id, header->capacity, strerror(-error), held_count);
}

/* Starts a new last segment at last_seq + 1 (with `flags`). The file is preallocated here,
 * so a full disk is -ENOSPC now, never a fault later. With `on_message_path` the creation
 * waits for no disk (SEGMENT_CREATE_DEFERRED): the header travels with the first batch and
 * becomes durable with its first datasync; otherwise (opening, purging) the segment is
 * durable when this returns if the policy syncs at all. */
int store_roll(struct stream_store *store, uint32_t flags, bool on_message_path)
{
    int rc = store_segments_reserve(store);
    if (rc != 0) {
        return rc;
    }
    struct store_segment *seg = calloc(1, sizeof *seg);
    if (seg == NULL) {
        return -ENOMEM;
    }
    struct segment_header header = {
        .flags = flags,
        .segment_id = store->next_segment_id,
        .first_seq = store->last_seq + 1,
        .created_ns = store_clock_ns(store),
        .capacity = store->config.segment_size,
    };
    bool deferred = on_message_path && store->dir_fd >= 0;
    enum segment_create_mode mode = SEGMENT_CREATE_WRITTEN;
    if (deferred) {
        mode = SEGMENT_CREATE_DEFERRED;
    } else if (store->config.sync != STREAM_STORE_SYNC_NONE) {
        mode = SEGMENT_CREATE_DURABLE;
    }
    rc = segment_create(store->dir_fd, store->io, &header, mode, &seg->file);
    if (rc != 0) {
        store_roll_failed(store, &header, rc, on_message_path);
        free(seg);
        return rc;
    }
    store->next_segment_id++;
    if (store->segment_count > 0) {
        store_offsets_trim(store_last_segment(store));
    }
    seg->append_offset = SEGMENT_HEADER_SIZE;
    seg->written_offset = deferred ? 0 : SEGMENT_HEADER_SIZE;
    seg->header_pending = deferred;
    seg->creation_pending = deferred;
    seg->chain_seed = seg->file.header.salt;
    store->segments[store->segment_count++] = seg;
    return 0;
}

/* Drops segments from the front while none of their messages remain. Only from the front:
 * a later segment may hold tombstones for messages of an earlier one, and the last
 * segment is where appends go. Never the one before a segment whose creation is not yet
 * durable: its header carries the floor a recovery starts from. */
void store_drop_front(struct stream_store *store)
{
    if (store->batch_open || store->durable_lsn < store->batch_hold_lsn) {
        return; /* an atomic batch's floor or tombstones are undone with it (a crash) */
    }
    uint32_t dropped = 0;
    while (store->segment_count - dropped > 1 && store->segments[dropped]->live_count == 0 &&
           !store->segments[dropped + 1]->creation_pending) {
        store_segment_retire(store, store->segments[dropped]);
        dropped++;
    }
    if (dropped > 0) {
        memmove(store->segments, store->segments + dropped,
                (store->segment_count - dropped) * sizeof *store->segments);
        store->segment_count -= dropped;
    }
}

/* ---- Reads ---------------------------------------------------------------------------- */

int stream_store_get(struct stream_store *store, uint64_t seq, struct stream_store_msg *msg)
{
    if (seq < store->first_seq || seq > store->last_seq) {
        return -ENOENT;
    }
    struct store_segment *seg = store_segment_of(store, seq);
    if (seg == NULL || seg->offsets[seq - seg_first(seg)] == OFFSET_GONE) {
        return -ENOENT;
    }
    struct record rec;
    int rc = store_read(store, seg, seq, &rec);
    if (rc != 0) {
        return rc;
    }
    store_msg_fill(store, &rec, msg);
    return 0;
}

int stream_store_next(struct stream_store *store, uint64_t seq, struct stream_store_msg *msg)
{
    uint64_t next = store_next_live(store, seq);
    if (next == 0) {
        return -ENOENT;
    }
    return stream_store_get(store, next, msg);
}

static int64_t store_timestamp_of(struct stream_store *store, uint64_t seq)
{
    struct stream_store_msg msg;
    int rc = stream_store_get(store, seq, &msg);
    ASSERT(rc != -ENOENT);
    return rc == 0 ? msg.timestamp_ns : INT64_MAX;
}

int stream_store_seq_for_time(struct stream_store *store, int64_t timestamp_ns, uint64_t *seq)
{
    /* Every held sequence in [low, high) is undecided; `found` is the best answer so far. */
    uint64_t low = store->first_seq;
    uint64_t high = store->last_seq + 1;
    uint64_t found = 0;
    while (low < high) {
        uint64_t middle = low + (high - low) / 2;
        uint64_t live = store_next_live(store, middle);
        if (live == 0 || live >= high) {
            high = middle;
        } else if (store_timestamp_of(store, live) >= timestamp_ns) {
            found = live;
            high = middle;
        } else {
            low = live + 1;
        }
    }
    if (found == 0) {
        return -ENOENT;
    }
    *seq = found;
    return 0;
}

void stream_store_counts_get(const struct stream_store *store,
                             struct stream_store_counts *counts)
{
    *counts = (struct stream_store_counts){
        .msg_count = store->msg_count,
        .first_seq = store->first_seq,
        .last_seq = store->last_seq,
        .removed_count = store->removed_count,
    };
}

void stream_store_info_get(const struct stream_store *store, struct stream_store_info *info)
{
    *info = (struct stream_store_info){
        .msg_count = store->msg_count,
        .byte_count = store->byte_count,
        .first_seq = store->first_seq,
        .last_seq = store->last_seq,
        .deleted_count = store->last_seq + 1 - store->first_seq - store->msg_count,
        .subject_count = store->subjects.count,
        .segment_count = store->segment_count,
        .lsn = store->lsn,
        .durable_lsn = store->durable_lsn,
        .durable_seq = store->durable_seq,
        .pending_bytes = store->pending_bytes,
        .lost_count = store->lost_count,
        .lost_bytes = store->lost_bytes,
        .truncated_count = store->truncated_count,
        .batch_dropped_count = store->batch_dropped_count,
        .failure = store->failure,
    };
    uint64_t index_bytes = (uint64_t)store->subjects.capacity * sizeof(struct subject_entry);
    for (uint32_t i = 0; i < store->segment_count; i++) {
        const struct store_segment *seg = store->segments[i];
        index_bytes += (uint64_t)seg->offsets_capacity * sizeof *seg->offsets;
        index_bytes += (uint64_t)seg->subject_next_capacity * sizeof *seg->subject_next;
    }
    info->index_bytes = index_bytes;
    if (store->msg_count > 0) {
        struct record rec;
        const struct store_segment *first = store_segment_of(store, store->first_seq);
        if (store_read(store, first, store->first_seq, &rec) == 0) {
            info->first_timestamp_ns = rec.timestamp_ns;
        }
        uint64_t last_held = store_prev_live(store, store->last_seq);
        const struct store_segment *last = store_segment_of(store, last_held);
        if (store_read(store, last, last_held, &rec) == 0) {
            info->last_timestamp_ns = rec.timestamp_ns;
        }
    }
}

size_t stream_store_lost(const struct stream_store *store, uint64_t *seqs, size_t max)
{
    size_t written = 0;
    for (uint32_t i = 0; i < store->lost_range_count; i++) {
        const struct store_lost_range *range = &store->lost_ranges[i];
        for (uint64_t seq = range->first_seq; seq <= range->last_seq; seq++) {
            if (written == max) {
                return written;
            }
            seqs[written++] = seq;
        }
    }
    return written;
}

/* ---- Open and close ------------------------------------------------------------------- */

void stream_store_config_default(struct stream_store_config *config)
{
    *config = (struct stream_store_config){
        .segment_size = STREAM_STORE_SEGMENT_SIZE_DEFAULT,
        .sync = STREAM_STORE_SYNC_NONE,
        .sync_interval_ns = STREAM_STORE_SYNC_INTERVAL_DEFAULT_NS,
        .discard = STREAM_STORE_DISCARD_OLD,
        .batch_size = STREAM_STORE_BATCH_SIZE_DEFAULT,
        .pending_bytes_max = STREAM_STORE_PENDING_BYTES_DEFAULT,
    };
}

static int stream_store_config_check(const struct stream_store_config *config)
{
    if (config->segment_size < SEGMENT_CAPACITY_MIN ||
        config->segment_size > SEGMENT_CAPACITY_MAX) {
        return -EINVAL;
    }
    if (config->sync != STREAM_STORE_SYNC_NONE && config->sync != STREAM_STORE_SYNC_INTERVAL &&
        config->sync != STREAM_STORE_SYNC_ALWAYS) {
        return -EINVAL;
    }
    if (config->sync == STREAM_STORE_SYNC_INTERVAL && config->sync_interval_ns <= 0) {
        return -EINVAL;
    }
    if (config->discard != STREAM_STORE_DISCARD_OLD &&
        config->discard != STREAM_STORE_DISCARD_NEW) {
        return -EINVAL;
    }
    if (config->accounting != STREAM_STORE_ACCOUNTING_RECORD &&
        config->accounting != STREAM_STORE_ACCOUNTING_FILE &&
        config->accounting != STREAM_STORE_ACCOUNTING_MEMORY) {
        return -EINVAL;
    }
    if (config->max_age_ns < 0 || config->batch_size < RECORD_OVERHEAD_SIZE ||
        config->pending_bytes_max < config->batch_size) {
        return -EINVAL;
    }
    return 0;
}

int stream_store_open(const char *path, const struct stream_store_config *config,
                      struct store_io *io, const struct stream_store_hooks *hooks,
                      struct stream_store **out)
{
    int rc = stream_store_config_check(config);
    if (rc != 0) {
        return rc;
    }
    struct stream_store *store = calloc(1, sizeof *store);
    if (store == NULL) {
        return -ENOMEM;
    }
    store->config = *config;
    if (hooks != NULL) {
        store->hooks = *hooks;
    }
    store->io = io;
    store->dir_fd = -1;
    /* The table seed only has to be unpredictable to publishers. */
    int64_t now_ns = clock_realtime_ns();
    subject_table_init(&store->subjects,
                       hash_bytes(&now_ns, sizeof now_ns, (uint64_t)(uintptr_t)store));
    store->path = strdup(path != NULL ? path : STORE_MEMORY_NAME);
    if (store->path == NULL) {
        rc = -ENOMEM;
        goto fail_store;
    }
    if (path == NULL) {
        store->next_segment_id = 1;
        store->first_seq = 1;
        rc = store_roll(store, 0, false);
        if (rc != 0) {
            goto fail_store;
        }
        *out = store;
        return 0;
    }
    if (mkdir(path, STORE_DIRECTORY_MODE) != 0 && errno != EEXIST) {
        rc = -errno;
        goto fail_store;
    }
    store->dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (store->dir_fd < 0) {
        rc = -errno;
        goto fail_store;
    }
    if (flock(store->dir_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        goto fail_store;
    }
    rc = store_recover(store);
    if (rc != 0) {
        goto fail_store;
    }
    *out = store;
    return 0;

fail_store:
    stream_store_close(store);
    return rc;
}

void stream_store_close(struct stream_store *store)
{
    ASSERT(!store->write_in_flight && !store->sync_in_flight);
    uint64_t discarded_bytes = 0;
    while (store->batch_head != NULL) {
        struct store_batch *batch = store->batch_head;
        store->batch_head = batch->next;
        discarded_bytes += batch->size - batch->written;
        store_segment_unref(store, batch->segment);
        free(batch->data);
        free(batch);
    }
    if (discarded_bytes > 0) {
        LOG_WARN("store %s: closed with %" PRIu64 " bytes never written", store->path,
                 discarded_bytes);
    }
    while (store->batch_free != NULL) {
        struct store_batch *batch = store->batch_free;
        store->batch_free = batch->next;
        free(batch->data);
        free(batch);
    }
    for (uint32_t i = 0; i < store->segment_count; i++) {
        ASSERT(store->segments[i]->batch_ref_count == 0);
        store_segment_free(store, store->segments[i]);
    }
    free(store->segments);
    free(store->lost_ranges);
    subject_table_destroy(&store->subjects);
    if (store->dir_fd >= 0) {
        close(store->dir_fd);
    }
    free(store->path);
    free(store);
}
