/* The stream store: see stream_store.h for the model; record.c and segment.c for the bytes.
 *
 * In memory a store is its segments in stream order, each with a dense array of record
 * offsets (offsets[seq - first_seq]; OFFSET_GONE for a sequence no longer held), the
 * per-subject table, and a FIFO of batches: encoded records waiting for, or in, one write.
 * Segments tile the sequence space: segment i covers [first_seq, first_seq + seq_count)
 * and the next one starts where it ends.
 *
 * Durability is a pipeline of two operations at most (store_pump): the write of the oldest
 * unwritten batch (resubmitting the rest after a short write), and one datasync that
 * covers every batch written before it was issued (group commit), while the batches
 * written meanwhile wait for the next one. Batches are committed in order, through
 * `committed`. A failed write or datasync stops the store for good.
 *
 * Recovery (store_recover) reads every segment through its map; the rules for what
 * survives are in the comments of each step. One thread owns a store. */
#include "store/stream_store.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/store_io.h"
#include "store/subject_table.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* offsets[] value of a sequence no longer held: no record starts at offset 0, where the
 * segment header is. */
#define OFFSET_GONE ((uint32_t)0)
STATIC_ASSERT(SEGMENT_HEADER_SIZE > 0, "OFFSET_GONE is never a record offset");
STATIC_ASSERT(SEGMENT_CAPACITY_MAX <= UINT32_MAX, "record offsets are 32-bit");

enum {
    /* First allocation of a segment's offset array, in entries (4 KiB). */
    OFFSETS_CAPACITY_MIN = 1024,
    /* First allocation of the segment array. */
    SEGMENTS_CAPACITY_MIN = 8,
    /* Emptied batches kept for reuse: one in flight and one collecting is the steady state. */
    BATCH_FREE_MAX = 2,
    /* Tombstones one append writes at most for max_msgs_per_subject. */
    SUBJECT_EVICT_MAX = 16,
    /* First allocation of the tombstones collected by recovery; grows by doubling. */
    DELETES_CAPACITY_MIN = 64,
    /* Directory mode for a new store. */
    STORE_DIRECTORY_MODE = 0755,
};

/* What log lines call a memory-backed store. */
static const char STORE_MEMORY_NAME[] = "(memory)";

enum store_batch_state {
    BATCH_OPEN,    /* collecting records; not yet handed to the store_io */
    BATCH_WRITING, /* its write is in flight, or must be (re)submitted */
    BATCH_WRITTEN, /* in the file; waits for a datasync or for the batches before it */
    BATCH_SYNCING, /* covered by the datasync in flight */
};

struct store_segment {
    struct segment file;      /* owned: fd and map */
    uint32_t *offsets;        /* owned: record offset of each sequence, or OFFSET_GONE */
    uint32_t seq_count;       /* sequences covered, held or not */
    uint32_t offsets_capacity;
    uint32_t live_count;      /* sequences held */
    uint64_t append_offset;   /* where the next record goes */
    uint64_t written_offset;  /* bytes below this are in the file, readable through the map */
    uint64_t chain_seed;      /* checksum of the last record appended: the next one's seed */
    uint32_t batch_ref_count; /* batches (and the interval sync) that still use the file */
    bool torn;                /* recovery found its log cut by a record that did not validate */
    bool dropped;             /* no longer in the store; freed when batch_ref_count is 0 */
    /* Created with SEGMENT_CREATE_DEFERRED: its header goes out at the head of its first
     * batch (header_pending until that batch exists), and until its header and name are
     * as durable as the policy asks (creation_pending) the segment before it stays, so
     * that a crash never loses the stream's floor. */
    bool header_pending;
    bool creation_pending;
};

struct store_batch {
    struct store_io_op op;          /* held by the store_io while an operation is in flight */
    struct stream_store *store;     /* borrowed: the owner */
    struct store_segment *segment;  /* counted reference (batch_ref_count) */
    struct store_batch *next;       /* queue link, owned by the store */
    uint8_t *data;                  /* owned; held by the store_io while writing */
    uint32_t size;
    uint32_t capacity;
    uint32_t written;               /* bytes the store_io has completed */
    uint64_t offset;                /* file offset of data[0] */
    uint64_t last_seq;              /* stream's last sequence when the last record went in */
    uint64_t last_lsn;
    bool sync;                      /* datasync after the write */
    enum store_batch_state state;
};

struct stream_store {
    struct stream_store_config config;
    struct stream_store_hooks hooks;
    struct store_io *io; /* borrowed for the store's life */
    char *path;          /* owned */
    int dir_fd;          /* owned; holds the flock that keeps a second opener out */

    struct store_segment **segments; /* owned array of owned segments, in stream order */
    uint32_t segment_count;
    uint32_t segment_capacity;
    uint64_t next_segment_id;

    struct subject_table subjects;
    uint64_t first_seq;
    uint64_t last_seq;
    uint64_t msg_count;
    uint64_t byte_count;
    int64_t last_timestamp_ns; /* of the last record appended or recovered: never decreases */

    uint64_t lsn;
    uint64_t durable_lsn;
    uint64_t durable_seq;

    struct store_batch *batch_head; /* owned queue, oldest first */
    struct store_batch *batch_tail;
    struct store_batch *batch_free; /* owned, up to BATCH_FREE_MAX */
    uint32_t batch_free_count;
    struct store_batch *batch_unwritten; /* first batch not yet written, or NULL */
    uint64_t pending_bytes;
    bool write_in_flight;               /* batch_unwritten's write */
    bool sync_in_flight;                /* a datasync: of a batch group, or the interval one */
    struct store_io_op sync_op;         /* held by the store_io while a datasync is in flight */
    struct store_segment *sync_segment; /* counted reference while a datasync is in flight */
    /* The datasync in flight also makes sync_segment's creation durable: the directory is
     * synced after it, before anything it covers is committed. */
    bool sync_completes_creation;
    /* The chain's directory sync waits for room in the store_io (sync_op.done is set). */
    bool dir_sync_queued;
    int64_t last_sync_ns;
    bool unsynced; /* written since the last datasync (SYNC_INTERVAL) */
    int failure;

    uint64_t lost_count;
    uint64_t truncated_count;
};

/* ---- Small helpers -------------------------------------------------------------------- */

static uint64_t seg_first(const struct store_segment *seg)
{
    return seg->file.header.first_seq;
}

static uint64_t seg_next(const struct store_segment *seg)
{
    return seg->file.header.first_seq + seg->seq_count;
}

static struct store_segment *store_last_segment(const struct stream_store *store)
{
    ASSERT(store->segment_count > 0);
    return store->segments[store->segment_count - 1];
}

static int64_t store_clock_ns(const struct stream_store *store)
{
    if (store->hooks.clock_ns != NULL) {
        return store->hooks.clock_ns(store->hooks.context);
    }
    return clock_realtime_ns();
}

static uint64_t store_record_size_max(const struct stream_store *store)
{
    return store->config.segment_size - SEGMENT_HEADER_SIZE;
}

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
static struct store_segment *store_segment_of(const struct stream_store *store, uint64_t seq)
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

static int store_read(const struct stream_store *store, const struct store_segment *seg,
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

static void store_msg_fill(const struct record *rec, struct stream_store_msg *msg)
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
        .size = rec->size,
    };
}

/* The first sequence held that is >= seq, or 0. Walks the offset arrays: the cost grows
 * with the gone sequences skipped. */
static uint64_t store_next_live(const struct stream_store *store, uint64_t seq)
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
static uint64_t store_prev_live(const struct stream_store *store, uint64_t seq)
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
    free(seg);
}

static void store_segment_unref(struct stream_store *store, struct store_segment *seg)
{
    ASSERT(seg->batch_ref_count > 0);
    seg->batch_ref_count--;
    if (seg->batch_ref_count == 0 && seg->dropped) {
        store_segment_free(store, seg);
    }
}

/* Takes `seg` out of the store and removes its file; the memory goes once no batch uses it. */
static void store_segment_retire(struct stream_store *store, struct store_segment *seg)
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

static int store_segments_reserve(struct stream_store *store)
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

static int store_offsets_reserve(struct store_segment *seg, uint64_t count)
{
    if (count <= seg->offsets_capacity) {
        return 0;
    }
    uint64_t capacity = seg->offsets_capacity == 0 ? OFFSETS_CAPACITY_MIN : seg->offsets_capacity;
    while (capacity < count) {
        capacity *= 2;
    }
    if (capacity > UINT32_MAX) {
        return -ENOMEM;
    }
    uint32_t *offsets = realloc(seg->offsets, (size_t)capacity * sizeof *offsets);
    if (offsets == NULL) {
        return -ENOMEM;
    }
    seg->offsets = offsets;
    seg->offsets_capacity = (uint32_t)capacity;
    return 0;
}

/* Gives back the unused tail of a sealed segment's offset array (doubling leaves up to
 * half of it unused), so the index costs 4 bytes a sequence. A failed shrink keeps the
 * larger array. */
static void store_offsets_trim(struct store_segment *seg)
{
    if (seg->seq_count == 0 || seg->seq_count == seg->offsets_capacity) {
        return;
    }
    uint32_t *offsets = realloc(seg->offsets, (size_t)seg->seq_count * sizeof *offsets);
    if (offsets != NULL) {
        seg->offsets = offsets;
        seg->offsets_capacity = seg->seq_count;
    }
}

/* Starts a new last segment at last_seq + 1 (with `flags`). The file is preallocated here,
 * so a full disk is -ENOSPC now, never a fault later. With `on_message_path` the creation
 * waits for no disk (SEGMENT_CREATE_DEFERRED): the header travels with the first batch and
 * becomes durable with its first datasync; otherwise (opening, purging) the segment is
 * durable when this returns if the policy syncs at all. */
static int store_roll(struct stream_store *store, uint32_t flags, bool on_message_path)
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
        LOG_ERROR("store %s: cannot create segment %" PRIu64 ": %s", store->path,
                  header.segment_id, strerror(-rc));
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
static void store_drop_front(struct stream_store *store)
{
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

/* ---- Removing messages from the indexes ---------------------------------------------- */

/* Removes message `seq` of `seg` from every index. Its record stays in the log; the caller
 * makes the removal durable (a tombstone or the floor of the next record). */
static void store_forget(struct stream_store *store, struct store_segment *seg, uint64_t seq)
{
    uint64_t index = seq - seg_first(seg);
    uint32_t offset = seg->offsets[index];
    ASSERT(offset != OFFSET_GONE);
    struct record rec;
    uint32_t size = 0;
    if (store_read(store, seg, seq, &rec) == 0) {
        size = rec.size;
        uint64_t hash = subject_table_hash(&store->subjects, rec.subject, rec.subject_length);
        struct subject_entry *entry =
            subject_table_find(&store->subjects, rec.subject, rec.subject_length, hash);
        ASSERT(entry != NULL);
        ASSERT(entry->msg_count > 0);
        entry->msg_count--;
        if (entry->msg_count == 0) {
            subject_table_remove(&store->subjects, entry);
        } else {
            if (entry->first_seq == seq) {
                entry->first_seq = seq + 1;
                entry->flags |= SUBJECT_ENTRY_F_FIRST_STALE;
            }
            if (entry->last_seq == seq) {
                entry->last_seq = seq - 1;
                entry->flags |= SUBJECT_ENTRY_F_LAST_STALE;
            }
        }
    }
    seg->offsets[index] = OFFSET_GONE;
    ASSERT(seg->live_count > 0);
    seg->live_count--;
    ASSERT(store->msg_count > 0);
    store->msg_count--;
    store->byte_count -= size < store->byte_count ? size : store->byte_count;
    if (seq == store->first_seq) {
        uint64_t next = store_next_live(store, seq + 1);
        store->first_seq = next != 0 ? next : store->last_seq + 1;
    }
}

/* Removes the oldest message. */
static void store_forget_first(struct stream_store *store)
{
    ASSERT(store->msg_count > 0);
    struct store_segment *seg = store_segment_of(store, store->first_seq);
    ASSERT(seg != NULL);
    store_forget(store, seg, store->first_seq);
}

/* The floor every record carries: all sequences below it are gone. */
static uint64_t store_floor(const struct stream_store *store)
{
    return store->msg_count > 0 ? store->first_seq : store->last_seq + 1;
}

/* ---- Failure and the I/O chain -------------------------------------------------------- */

static void store_sync_release(struct stream_store *store);

static void store_fail(struct stream_store *store, int error, const char *what)
{
    ASSERT(error < 0);
    if (store->failure != 0) {
        return;
    }
    store->failure = error;
    if (store->dir_sync_queued) {
        /* The chain's last step will never be submitted. */
        store->dir_sync_queued = false;
        store_sync_release(store);
    }
    LOG_ERROR("store %s: %s failed: %s; the stream accepts no more writes", store->path, what,
              strerror(-error));
    if (store->hooks.failed != NULL) {
        store->hooks.failed(store->hooks.context, error);
    }
}

static void store_batch_recycle(struct stream_store *store, struct store_batch *batch)
{
    store_segment_unref(store, batch->segment);
    batch->segment = NULL;
    if (store->batch_free_count < BATCH_FREE_MAX &&
        batch->capacity <= store->config.batch_size) {
        batch->next = store->batch_free;
        store->batch_free = batch;
        store->batch_free_count++;
        return;
    }
    free(batch->data);
    free(batch);
}

static void store_pump(struct stream_store *store);

/* Commits, oldest first, the batches at the head that are as durable as the policy asks:
 * written and needing no datasync, or covered by the datasync that completed (`synced`).
 * Returns whether the durable log position moved. */
static bool store_commit_head(struct stream_store *store, bool synced)
{
    bool any = false;
    struct store_batch *batch;
    while ((batch = store->batch_head) != NULL &&
           ((batch->state == BATCH_WRITTEN && !batch->sync) ||
            (batch->state == BATCH_SYNCING && synced))) {
        store->batch_head = batch->next;
        if (store->batch_head == NULL) {
            store->batch_tail = NULL;
        }
        if (batch->last_seq > store->durable_seq) {
            store->durable_seq = batch->last_seq;
        }
        /* Equal for a batch that holds only a deferred segment header. */
        ASSERT(batch->last_lsn >= store->durable_lsn);
        any |= batch->last_lsn > store->durable_lsn;
        store->durable_lsn = batch->last_lsn;
        store_batch_recycle(store, batch);
    }
    return any;
}

/* After a completion: commit what it made durable, start what can start, and tell the
 * engine. */
static void store_settle(struct stream_store *store, bool synced)
{
    bool committed = store_commit_head(store, synced);
    store_pump(store);
    if (committed && store->hooks.committed != NULL) {
        store->hooks.committed(store->hooks.context, store->durable_seq, store->durable_lsn);
    }
}

static struct store_batch *store_batch_from(struct store_io_op *op)
{
    return (struct store_batch *)((char *)op - offsetof(struct store_batch, op));
}

static void store_batch_write_done(struct store_io_op *op, int32_t result)
{
    struct store_batch *batch = store_batch_from(op);
    struct stream_store *store = batch->store;
    ASSERT(store->write_in_flight);
    ASSERT(batch == store->batch_unwritten);
    ASSERT(batch->state == BATCH_WRITING);
    store->write_in_flight = false;
    if (result <= 0) {
        store_fail(store, result < 0 ? result : -EIO, "write");
        return;
    }
    ASSERT((uint32_t)result <= batch->size - batch->written);
    batch->written += (uint32_t)result;
    if (batch->written < batch->size) {
        store_pump(store); /* a short write: the rest goes next */
        return;
    }
    struct store_segment *seg = batch->segment;
    ASSERT(seg->written_offset == batch->offset);
    seg->written_offset = batch->offset + batch->size;
    ASSERT(store->pending_bytes >= batch->size);
    store->pending_bytes -= batch->size;
    store->unsynced = true;
    batch->state = BATCH_WRITTEN;
    store->batch_unwritten = batch->next;
    if (batch->offset == 0 && store->config.sync == STREAM_STORE_SYNC_NONE) {
        seg->creation_pending = false; /* written is all that `none` asks */
        store_drop_front(store);
    }
    store_settle(store, false);
}

static struct stream_store *store_from_sync_op(struct store_io_op *op)
{
    return (struct stream_store *)((char *)op - offsetof(struct stream_store, sync_op));
}

static void store_sync_release(struct stream_store *store)
{
    ASSERT(store->sync_in_flight);
    store->sync_in_flight = false;
    store->sync_completes_creation = false;
    store_segment_unref(store, store->sync_segment);
    store->sync_segment = NULL;
}

/* The last step of a datasync chain: the directory sync that made a deferred creation
 * durable, or the file's datasync when no directory sync was needed. */
static void store_sync_chain_done(struct stream_store *store, int32_t result, bool group)
{
    if (result == 0 && store->sync_completes_creation) {
        store->sync_segment->creation_pending = false;
    }
    store_sync_release(store);
    if (result < 0) {
        store_fail(store, result, "fdatasync");
        return;
    }
    store_drop_front(store); /* a creation made durable may let a segment go */
    if (group) {
        store_settle(store, true);
    } else {
        store_pump(store);
    }
}

static void store_group_dir_sync_done(struct store_io_op *op, int32_t result)
{
    store_sync_chain_done(store_from_sync_op(op), result, true);
}

static void store_interval_dir_sync_done(struct store_io_op *op, int32_t result)
{
    store_sync_chain_done(store_from_sync_op(op), result, false);
}

/* After the file's datasync: the directory is synced next when the segment's creation
 * is not yet durable (the rename that named it; store_pump submits it), else the chain
 * ends. */
static void store_sync_file_done(struct stream_store *store, int32_t result, bool group)
{
    if (result < 0 || !store->sync_completes_creation) {
        store_sync_chain_done(store, result, group);
        return;
    }
    store->sync_op.done = group ? store_group_dir_sync_done : store_interval_dir_sync_done;
    store->dir_sync_queued = true;
    store_pump(store);
}

static void store_group_sync_done(struct store_io_op *op, int32_t result)
{
    struct stream_store *store = store_from_sync_op(op);
    ASSERT(store->batch_head != NULL && store->batch_head->state == BATCH_SYNCING);
    store_sync_file_done(store, result, true);
}

static void store_interval_sync_done(struct store_io_op *op, int32_t result)
{
    store_sync_file_done(store_from_sync_op(op), result, false);
}

/* Whether a batch handed to the store_io ends with a datasync: always under SYNC_ALWAYS;
 * under SYNC_INTERVAL for the last batch of a segment that is no longer the last one (the
 * interval sync only covers the last segment). */
static bool store_batch_wants_sync(const struct stream_store *store,
                                   const struct store_batch *batch)
{
    switch (store->config.sync) {
    case STREAM_STORE_SYNC_ALWAYS:
        return true;
    case STREAM_STORE_SYNC_INTERVAL:
        return batch->segment != store_last_segment(store) &&
               (batch->next == NULL || batch->next->segment != batch->segment);
    case STREAM_STORE_SYNC_NONE:
        return false;
    }
    UNREACHABLE();
}

/* Submits a datasync of `seg` completing through `done`. 0 when in flight; the store_io's
 * refusal otherwise. */
static int store_sync_submit(struct stream_store *store, struct store_segment *seg,
                             store_io_done_fn *done)
{
    ASSERT(!store->sync_in_flight);
    store->sync_op.done = done;
    int rc = store->io->ops->datasync(store->io, seg->file.fd, &store->sync_op);
    if (rc == 0) {
        seg->batch_ref_count++;
        store->sync_segment = seg;
        store->sync_in_flight = true;
        /* The header is in the file once the segment's first batch is written. */
        store->sync_completes_creation = seg->creation_pending && seg->written_offset > 0;
    }
    return rc;
}

/* A store_io without room now (-EAGAIN, -EBUSY) is tried again at the next flush or
 * completion; any other refusal stops the store. */
static bool store_submit_refused(struct stream_store *store, int rc, const char *what)
{
    if (rc == 0) {
        return false;
    }
    if (rc != -EAGAIN && rc != -EBUSY) {
        store_fail(store, rc, what);
    }
    return true;
}

/* Writes the oldest unwritten batch when no write is in flight. Writes go one at a time
 * and in order, so a segment's file is always written as a prefix. */
static void store_pump_write(struct stream_store *store)
{
    struct store_batch *batch = store->batch_unwritten;
    if (store->write_in_flight || batch == NULL) {
        return;
    }
    ASSERT(batch->size > 0);
    if (batch->state == BATCH_OPEN) {
        batch->state = BATCH_WRITING;
        batch->sync = store_batch_wants_sync(store, batch);
    }
    ASSERT(batch->state == BATCH_WRITING);
    batch->op.done = store_batch_write_done;
    int rc = store->io->ops->write(store->io, batch->segment->file.fd,
                                   batch->data + batch->written, batch->size - batch->written,
                                   batch->offset + batch->written, &batch->op);
    if (!store_submit_refused(store, rc, "write")) {
        store->write_in_flight = true;
    }
}

/* Group commit: when the head batch waits for a datasync and none is in flight, one
 * datasync covers it and every batch behind it already written to the same segment. The
 * batches written meanwhile gather for the next one. */
static void store_pump_sync(struct stream_store *store)
{
    struct store_batch *head = store->batch_head;
    if (store->sync_in_flight || head == NULL || head->state != BATCH_WRITTEN) {
        return;
    }
    ASSERT(head->sync);
    int rc = store_sync_submit(store, head->segment, store_group_sync_done);
    if (store_submit_refused(store, rc, "fdatasync")) {
        return;
    }
    for (struct store_batch *batch = head;
         batch != NULL && batch->state == BATCH_WRITTEN && batch->segment == head->segment;
         batch = batch->next) {
        batch->state = BATCH_SYNCING;
    }
}

/* Starts what the durability chain can start now: the next write and the next group
 * datasync, each at most one in flight. */
static void store_pump(struct stream_store *store)
{
    if (store->failure != 0) {
        return;
    }
    store_pump_write(store);
    if (store->failure == 0 && store->dir_sync_queued) {
        int rc = store->io->ops->datasync(store->io, store->dir_fd, &store->sync_op);
        if (!store_submit_refused(store, rc, "directory fsync")) {
            store->dir_sync_queued = false;
        }
    }
    if (store->failure == 0) {
        store_pump_sync(store);
    }
}

/* ---- Appending records ---------------------------------------------------------------- */

/* A batch of `seg` with room for `size` more bytes: the collecting tail, or a new one. */
static int store_batch_reserve(struct stream_store *store, struct store_segment *seg,
                               uint32_t size, struct store_batch **out)
{
    struct store_batch *tail = store->batch_tail;
    if (tail != NULL && tail->state == BATCH_OPEN && tail->segment == seg &&
        tail->size < store->config.batch_size) {
        if (tail->capacity - tail->size < size) {
            uint64_t capacity = (uint64_t)tail->size + size;
            uint8_t *data = realloc(tail->data, (size_t)capacity);
            if (data == NULL) {
                return -ENOMEM;
            }
            tail->data = data;
            tail->capacity = (uint32_t)capacity;
        }
        *out = tail;
        return 0;
    }
    struct store_batch *batch = store->batch_free;
    if (batch != NULL) {
        store->batch_free = batch->next;
        store->batch_free_count--;
    } else {
        batch = calloc(1, sizeof *batch);
        if (batch == NULL) {
            return -ENOMEM;
        }
    }
    uint32_t header_size = seg->header_pending ? SEGMENT_HEADER_SIZE : 0;
    uint32_t capacity = size + header_size > store->config.batch_size
                            ? size + header_size
                            : store->config.batch_size;
    if (batch->capacity < capacity) {
        uint8_t *data = realloc(batch->data, capacity);
        if (data == NULL) {
            free(batch->data);
            free(batch);
            return -ENOMEM;
        }
        batch->data = data;
        batch->capacity = capacity;
    }
    batch->store = store;
    batch->segment = seg;
    seg->batch_ref_count++;
    batch->next = NULL;
    batch->size = 0;
    batch->written = 0;
    batch->offset = seg->append_offset;
    batch->last_seq = 0;
    batch->last_lsn = store->lsn;
    if (seg->header_pending) {
        /* A deferred header goes out with the segment's first records. */
        ASSERT(seg->append_offset == SEGMENT_HEADER_SIZE);
        segment_header_encode(&seg->file.header, batch->data);
        batch->offset = 0;
        batch->size = SEGMENT_HEADER_SIZE;
        store->pending_bytes += SEGMENT_HEADER_SIZE;
        seg->header_pending = false;
    }
    batch->sync = false;
    batch->state = BATCH_OPEN;
    if (store->batch_tail != NULL) {
        store->batch_tail->next = batch;
    } else {
        store->batch_head = batch;
    }
    store->batch_tail = batch;
    if (store->batch_unwritten == NULL) {
        store->batch_unwritten = batch;
    }
    *out = batch;
    return 0;
}

struct store_slot {
    struct store_segment *segment;
    struct store_batch *batch;
};

/* Everything an append of a `size`-byte record needs that can fail: room in the last
 * segment (rolling over to a new one), in its offset array (for a message), and in a
 * batch. After this, appending the record cannot fail. */
static int store_reserve(struct stream_store *store, uint32_t size, bool is_msg,
                         struct store_slot *slot)
{
    if (store->failure != 0) {
        return store->failure;
    }
    if (store->pending_bytes > 0 && store->pending_bytes + size > store->config.pending_bytes_max) {
        return -EAGAIN;
    }
    struct store_segment *seg = store_last_segment(store);
    if (seg->append_offset + size > seg->file.header.capacity) {
        int rc = store_roll(store, 0, true);
        if (rc != 0) {
            return rc;
        }
        seg = store_last_segment(store);
    }
    ASSERT(seg->append_offset + size <= seg->file.map_size);
    if (is_msg) {
        int rc = store_offsets_reserve(seg, (uint64_t)seg->seq_count + 1);
        if (rc != 0) {
            return rc;
        }
    }
    slot->segment = seg;
    return store_batch_reserve(store, seg, size, &slot->batch);
}

/* Gives back a reserved slot that received nothing (a later step of the append failed), so
 * that no empty batch stays queued. */
static void store_slot_release(struct stream_store *store, const struct store_slot *slot)
{
    struct store_batch *batch = slot->batch;
    if (batch->size > 0) {
        return;
    }
    ASSERT(batch == store->batch_tail);
    ASSERT(batch->state == BATCH_OPEN);
    struct store_batch *previous = NULL;
    if (store->batch_head != batch) {
        previous = store->batch_head;
        while (previous->next != batch) {
            previous = previous->next;
        }
    }
    if (previous != NULL) {
        previous->next = NULL;
    } else {
        store->batch_head = NULL;
    }
    store->batch_tail = previous;
    if (store->batch_unwritten == batch) {
        store->batch_unwritten = NULL;
    }
    store_batch_recycle(store, batch);
}

/* Encodes `rec` into the reserved slot; returns its offset in the segment. */
static uint32_t store_put(struct stream_store *store, const struct store_slot *slot,
                          const struct record *rec)
{
    struct store_segment *seg = slot->segment;
    struct store_batch *batch = slot->batch;
    uint32_t size =
        (uint32_t)record_size_for(rec->subject_length, rec->header_length, rec->payload_length);
    ASSERT(batch == store->batch_tail);
    ASSERT(batch->state == BATCH_OPEN);
    ASSERT(batch->capacity - batch->size >= size);
    ASSERT(batch->offset + batch->size == seg->append_offset);
    ASSERT(seg->append_offset + size <= seg->file.header.capacity);
    uint64_t offset = seg->append_offset;
    seg->chain_seed = record_encode(rec, seg->chain_seed, batch->data + batch->size);
    batch->size += size;
    seg->append_offset += size;
    store->pending_bytes += size;
    store->lsn++;
    batch->last_lsn = store->lsn;
    if (rec->timestamp_ns > store->last_timestamp_ns) {
        store->last_timestamp_ns = rec->timestamp_ns;
    }
    return (uint32_t)offset;
}

/* After a record went in: a full batch is handed on when nothing is in flight. */
static void store_after_put(struct stream_store *store)
{
    store->batch_tail->last_seq = store->last_seq;
    if (store->batch_tail->size >= store->config.batch_size) {
        store_pump(store);
    }
}

static int64_t store_timestamp(struct stream_store *store)
{
    int64_t now = store_clock_ns(store);
    return now > store->last_timestamp_ns ? now : store->last_timestamp_ns;
}

/* Appends a control record (tombstone or floor) into a reserved slot; the caller ends
 * with store_after_put once every record of its reservation is in. */
static void store_put_control(struct stream_store *store, const struct store_slot *slot,
                              enum record_kind kind, uint64_t target_seq)
{
    struct record rec = {
        .kind = kind,
        .sequence = target_seq,
        .timestamp_ns = store_timestamp(store),
        .floor_seq = store_floor(store),
    };
    store_put(store, slot, &rec);
}

static void store_subject_settle(struct stream_store *store, struct subject_entry *entry);

/* How many tombstones an append on `subject` writes to keep max_msgs_per_subject: the
 * excess over the limit, at most SUBJECT_EVICT_MAX (a limit lowered a lot is caught up
 * over several appends) and no more than fit beside the message in one segment. */
static uint32_t store_subject_evict_count(const struct stream_store *store, uint64_t hash,
                                          const uint8_t *subject, uint32_t subject_length,
                                          uint32_t msg_size)
{
    uint64_t limit = store->config.max_msgs_per_subject;
    if (limit == 0) {
        return 0;
    }
    const struct subject_entry *entry =
        subject_table_find(&store->subjects, subject, subject_length, hash);
    if (entry == NULL || entry->msg_count < limit) {
        return 0;
    }
    uint64_t count = entry->msg_count + 1 - limit;
    if (count > SUBJECT_EVICT_MAX) {
        count = SUBJECT_EVICT_MAX;
    }
    uint64_t room = (store_record_size_max(store) - msg_size) / RECORD_OVERHEAD_SIZE;
    return (uint32_t)(count < room ? count : room);
}

/* Removes the oldest message on the subject of `hash` and writes its tombstone. */
static void store_subject_evict_first(struct stream_store *store, const struct store_slot *slot,
                                      uint64_t hash, const uint8_t *subject,
                                      uint32_t subject_length)
{
    struct subject_entry *entry =
        subject_table_find(&store->subjects, subject, subject_length, hash);
    ASSERT(entry != NULL);
    ASSERT(entry->msg_count >= 2); /* an old one, and the one being appended */
    store_subject_settle(store, entry);
    uint64_t victim = entry->first_seq;
    store_forget(store, store_segment_of(store, victim), victim);
    store_put_control(store, slot, RECORD_KIND_DELETE, victim);
}

int stream_store_append(struct stream_store *store, const uint8_t *subject,
                        uint32_t subject_length, const uint8_t *header, uint32_t header_length,
                        const uint8_t *payload, uint32_t payload_length, uint64_t *seq)
{
    if (store->failure != 0) {
        return store->failure;
    }
    if (subject == NULL || subject_length == 0 || subject_length > RECORD_SUBJECT_LENGTH_MAX) {
        return -EINVAL;
    }
    ASSERT(header != NULL || header_length == 0);
    ASSERT(payload != NULL || payload_length == 0);
    uint64_t size_wide = record_size_for(subject_length, header_length, payload_length);
    if (size_wide > store_record_size_max(store)) {
        return -EMSGSIZE;
    }
    uint32_t size = (uint32_t)size_wide;
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
    uint64_t hash = subject_table_hash(&store->subjects, subject, subject_length);
    uint32_t evict_count = store_subject_evict_count(store, hash, subject, subject_length, size);
    struct store_slot slot;
    int rc = store_reserve(store, size + evict_count * RECORD_OVERHEAD_SIZE, true, &slot);
    if (rc != 0) {
        return rc;
    }
    uint64_t new_seq = store->last_seq + 1;
    rc = subject_table_add(&store->subjects, subject, subject_length, hash, new_seq);
    if (rc != 0) {
        store_slot_release(store, &slot);
        return rc;
    }
    /* Nothing fails from here on. The subject already counts the new message, so evicting
     * an older one on the same subject cannot remove its entry. */
    for (uint32_t i = 0; i < evict_count; i++) {
        store_subject_evict_first(store, &slot, hash, subject, subject_length);
    }
    while (config->max_msgs != 0 && store->msg_count + 1 > config->max_msgs) {
        store_forget_first(store);
    }
    while (config->max_bytes != 0 && store->msg_count > 0 &&
           store->byte_count + size > config->max_bytes) {
        store_forget_first(store);
    }
    store->last_seq = new_seq;
    if (store->msg_count == 0) {
        store->first_seq = new_seq;
    }
    struct store_segment *seg = slot.segment;
    ASSERT(seg_next(seg) == new_seq);
    struct record rec = {
        .kind = RECORD_KIND_MSG,
        .sequence = new_seq,
        .timestamp_ns = store_timestamp(store),
        .floor_seq = store->first_seq,
        .subject = subject,
        .header = header,
        .payload = payload,
        .subject_length = subject_length,
        .header_length = header_length,
        .payload_length = payload_length,
    };
    seg->offsets[seg->seq_count] = store_put(store, &slot, &rec);
    seg->seq_count++;
    seg->live_count++;
    store->msg_count++;
    store->byte_count += size;
    store_drop_front(store);
    store_after_put(store);
    *seq = new_seq;
    return 0;
}

int stream_store_delete(struct stream_store *store, uint64_t seq)
{
    if (store->failure != 0) {
        return store->failure;
    }
    struct store_segment *seg = store_segment_of(store, seq);
    if (seg == NULL || seq < store->first_seq ||
        seg->offsets[seq - seg_first(seg)] == OFFSET_GONE) {
        return -ENOENT;
    }
    struct store_slot slot;
    int rc = store_reserve(store, RECORD_OVERHEAD_SIZE, false, &slot);
    if (rc != 0) {
        return rc;
    }
    store_forget(store, seg, seq);
    store_put_control(store, &slot, RECORD_KIND_DELETE, seq);
    store_after_put(store);
    store_drop_front(store);
    return 0;
}

/* Purge of everything: a new segment, marked purged, replaces the old ones; creating it
 * commits the purge. */
static int store_purge_all(struct stream_store *store, uint64_t *purged_count)
{
    uint64_t count = store->msg_count;
    int rc = store_roll(store, SEGMENT_F_PURGED, false);
    if (rc != 0) {
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
    int rc = store_reserve(store, RECORD_OVERHEAD_SIZE, false, &slot);
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
        store_subject_settle(store, entry);
        uint64_t victim = entry->first_seq;
        if (request->up_to_seq != 0 && victim >= request->up_to_seq) {
            return 0;
        }
        struct store_slot slot;
        int rc = store_reserve(store, RECORD_OVERHEAD_SIZE, false, &slot);
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
    if (request == NULL) {
        return store_purge_all(store, purged_count);
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
        return store_purge_all(store, purged_count);
    }
    return store_purge_front(store, request, purged_count);
}

int stream_store_flush(struct stream_store *store)
{
    if (store->failure != 0) {
        return store->failure;
    }
    store_pump(store);
    return 0;
}

bool stream_store_busy(const struct stream_store *store)
{
    return store->batch_head != NULL || store->write_in_flight || store->sync_in_flight;
}

/* Evicts messages older than max_age and records the new floor. */
static int store_expire(struct stream_store *store, int64_t now_ns)
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
    int rc = store_reserve(store, RECORD_OVERHEAD_SIZE, false, &slot);
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

int stream_store_tick(struct stream_store *store, int64_t now_ns)
{
    if (store->failure != 0) {
        return store->failure;
    }
    int rc = store_expire(store, now_ns);
    if (rc != 0) {
        return rc;
    }
    if (store->config.sync == STREAM_STORE_SYNC_INTERVAL && store->unsynced &&
        !store->sync_in_flight && now_ns - store->last_sync_ns >= store->config.sync_interval_ns) {
        rc = store_sync_submit(store, store_last_segment(store), store_interval_sync_done);
        if (rc == 0) {
            store->unsynced = false;
            store->last_sync_ns = now_ns;
        } else if (store_submit_refused(store, rc, "fdatasync") && store->failure != 0) {
            return rc;
        }
    }
    store_pump(store);
    return 0;
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
    store_msg_fill(&rec, msg);
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

static bool store_subject_is(struct stream_store *store, uint64_t seq,
                             const struct subject_entry *entry)
{
    struct stream_store_msg msg;
    return stream_store_get(store, seq, &msg) == 0 &&
           msg.subject_length == entry->subject_length &&
           memcmp(msg.subject, entry->subject, entry->subject_length) == 0;
}

/* Makes a stale first or last sequence of `entry` exact by walking the log from the bound
 * towards the other end; the entry holds at least one message, so the walk finds it. */
static void store_subject_settle(struct stream_store *store, struct subject_entry *entry)
{
    if (entry->flags & SUBJECT_ENTRY_F_FIRST_STALE) {
        uint64_t seq = store_next_live(store, entry->first_seq);
        while (seq != 0 && !store_subject_is(store, seq, entry)) {
            seq = store_next_live(store, seq + 1);
        }
        ASSERT(seq != 0);
        entry->first_seq = seq;
        entry->flags &= ~(uint32_t)SUBJECT_ENTRY_F_FIRST_STALE;
    }
    if (entry->flags & SUBJECT_ENTRY_F_LAST_STALE) {
        uint64_t seq = store_prev_live(store, entry->last_seq);
        while (seq != 0 && !store_subject_is(store, seq, entry)) {
            seq = store_prev_live(store, seq - 1);
        }
        ASSERT(seq != 0);
        entry->last_seq = seq;
        entry->flags &= ~(uint32_t)SUBJECT_ENTRY_F_LAST_STALE;
    }
}

static struct subject_entry *store_subject_find(struct stream_store *store,
                                                const uint8_t *subject,
                                                uint32_t subject_length)
{
    if (subject_length == 0) {
        return NULL;
    }
    uint64_t hash = subject_table_hash(&store->subjects, subject, subject_length);
    struct subject_entry *entry =
        subject_table_find(&store->subjects, subject, subject_length, hash);
    if (entry != NULL) {
        store_subject_settle(store, entry);
    }
    return entry;
}

int stream_store_subject_first(struct stream_store *store, const uint8_t *subject,
                               uint32_t subject_length, uint64_t *seq)
{
    struct subject_entry *entry = store_subject_find(store, subject, subject_length);
    if (entry == NULL) {
        return -ENOENT;
    }
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
    *seq = entry->last_seq;
    return 0;
}

uint64_t stream_store_subject_count(struct stream_store *store, const uint8_t *subject,
                                    uint32_t subject_length)
{
    if (subject_length == 0) {
        return 0;
    }
    uint64_t hash = subject_table_hash(&store->subjects, subject, subject_length);
    struct subject_entry *entry =
        subject_table_find(&store->subjects, subject, subject_length, hash);
    return entry != NULL ? entry->msg_count : 0;
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
        .truncated_count = store->truncated_count,
        .failure = store->failure,
    };
    uint64_t index_bytes = (uint64_t)store->subjects.capacity * sizeof(struct subject_entry);
    for (uint32_t i = 0; i < store->segment_count; i++) {
        index_bytes += (uint64_t)store->segments[i]->offsets_capacity * sizeof(uint32_t);
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

/* ---- Recovery ------------------------------------------------------------------------- */

/* What the scan of every segment collects before it is applied. */
struct recovery {
    uint64_t floor_seq;  /* highest floor of any valid record */
    uint64_t *deletes;   /* owned: targets of valid tombstones */
    uint64_t delete_count;
    uint64_t delete_capacity;
};

static int recovery_note_delete(struct recovery *recovery, uint64_t seq)
{
    if (recovery->delete_count == recovery->delete_capacity) {
        uint64_t capacity = recovery->delete_capacity == 0 ? DELETES_CAPACITY_MIN
                                                           : recovery->delete_capacity * 2;
        uint64_t *deletes = realloc(recovery->deletes, (size_t)capacity * sizeof *deletes);
        if (deletes == NULL) {
            return -ENOMEM;
        }
        recovery->deletes = deletes;
        recovery->delete_capacity = capacity;
    }
    recovery->deletes[recovery->delete_count++] = seq;
    return 0;
}

/* Reads the records of `seg` in order from its header while they validate: a record must
 * pass record_decode with the chain seed, a message must carry the next sequence (and stay
 * below `seq_limit`, where the next segment starts), a tombstone must name a sequence
 * already assigned, a floor may not run ahead of the sequences. The log of the segment ends
 * at the first record that fails; a failure other than clean zeros is a torn or damaged
 * tail, counted and logged. Per-segment cost: one xxh3 pass over its bytes. */
static int store_segment_scan(struct stream_store *store, struct store_segment *seg,
                              uint64_t seq_limit, struct recovery *recovery)
{
    const uint8_t *map = seg->file.map;
    uint64_t end = seg->file.map_size;
    uint64_t position = SEGMENT_HEADER_SIZE;
    uint64_t seed = seg->file.header.salt;
    uint64_t next_seq = seg_first(seg);
    int stop = -ENODATA;
    struct record rec;
    while (position < end) {
        stop = record_decode(map + position, (size_t)(end - position), seed, &rec);
        if (stop != 0) {
            break;
        }
        if (rec.kind == RECORD_KIND_MSG) {
            if (rec.sequence != next_seq || next_seq >= seq_limit) {
                stop = -EBADMSG;
                break;
            }
            int rc = store_offsets_reserve(seg, (uint64_t)seg->seq_count + 1);
            if (rc != 0) {
                return rc;
            }
            seg->offsets[seg->seq_count++] = (uint32_t)position;
            next_seq++;
        } else if (rec.kind == RECORD_KIND_DELETE) {
            if (rec.sequence >= next_seq) {
                stop = -EBADMSG;
                break;
            }
            int rc = recovery_note_delete(recovery, rec.sequence);
            if (rc != 0) {
                return rc;
            }
        }
        if (rec.floor_seq > next_seq) {
            stop = -EBADMSG;
            break;
        }
        if (rec.floor_seq > recovery->floor_seq) {
            recovery->floor_seq = rec.floor_seq;
        }
        if (rec.timestamp_ns > store->last_timestamp_ns) {
            store->last_timestamp_ns = rec.timestamp_ns;
        }
        seed = rec.checksum;
        position += rec.size;
    }
    if (stop == -EBADMSG) {
        seg->torn = true;
        store->truncated_count++;
        LOG_WARN("store %s: segment %s: the record at offset %" PRIu64
                 " does not validate; the segment's log ends there",
                 store->path, seg->file.name, position);
    }
    seg->append_offset = position;
    seg->written_offset = position;
    seg->chain_seed = seed;
    seg->live_count = seg->seq_count;
    return 0;
}

struct segment_listing {
    uint64_t segment_id;
    char name[SEGMENT_NAME_SIZE];
};

static int segment_listing_compare(const void *left, const void *right)
{
    uint64_t a = ((const struct segment_listing *)left)->segment_id;
    uint64_t b = ((const struct segment_listing *)right)->segment_id;
    return a < b ? -1 : a > b;
}

/* Lists the segment files of the directory in id order, removing files a crash left half
 * created. */
static int store_list(struct stream_store *store, struct segment_listing **out,
                      uint32_t *out_count)
{
    int fd = dup(store->dir_fd);
    if (fd < 0) {
        return -errno;
    }
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    rewinddir(dir);
    struct segment_listing *list = NULL;
    uint32_t count = 0;
    uint32_t capacity = 0;
    int rc = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        uint64_t segment_id;
        if (segment_name_is_temporary(entry->d_name)) {
            LOG_INFO("store %s: removing %s, left by a crash", store->path, entry->d_name);
            unlinkat(store->dir_fd, entry->d_name, 0);
            continue;
        }
        if (!segment_name_parse(entry->d_name, &segment_id)) {
            continue;
        }
        if (count == capacity) {
            capacity = capacity == 0 ? SEGMENTS_CAPACITY_MIN : capacity * 2;
            struct segment_listing *grown = realloc(list, capacity * sizeof *grown);
            if (grown == NULL) {
                rc = -ENOMEM;
                break;
            }
            list = grown;
        }
        list[count].segment_id = segment_id;
        strcpy(list[count].name, entry->d_name);
        count++;
    }
    closedir(dir);
    if (rc != 0) {
        free(list);
        return rc;
    }
    if (count > 0) {
        qsort(list, count, sizeof *list, segment_listing_compare);
    }
    *out = list;
    *out_count = count;
    return 0;
}

/* Whether the `count` listed segments are all files whose header was never written: the
 * last segments created, cut by a crash before their first batch reached the file (or its
 * datasync, the disk). Nothing in them was ever committed, so they are removed. Anywhere
 * else such a file is damage. */
static bool store_unwritten_tail(struct stream_store *store, const struct segment_listing *list,
                                 uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        struct segment seg;
        int rc = segment_open(store->dir_fd, list[i].name, &seg);
        if (rc == 0) {
            segment_close(&seg);
        }
        if (rc != -ENODATA) {
            return false;
        }
    }
    for (uint32_t i = 0; i < count; i++) {
        LOG_WARN("store %s: removing segment %s: created, but its header was never written "
                 "(a crash came first)",
                 store->path, list[i].name);
        unlinkat(store->dir_fd, list[i].name, 0);
    }
    return true;
}

/* Opens every listed segment into store->segments; a damaged header fails the open, but
 * unwritten segments at the tail are removed (store_unwritten_tail). */
static int store_open_segments(struct stream_store *store, const struct segment_listing *list,
                               uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        int rc = store_segments_reserve(store);
        if (rc != 0) {
            return rc;
        }
        struct store_segment *seg = calloc(1, sizeof *seg);
        if (seg == NULL) {
            return -ENOMEM;
        }
        rc = segment_open(store->dir_fd, list[i].name, &seg->file);
        if (rc == -ENODATA && store_unwritten_tail(store, list + i, count - i)) {
            free(seg);
            return 0;
        }
        if (rc != 0) {
            LOG_ERROR("store %s: segment %s cannot be opened: %s", store->path, list[i].name,
                      rc == -EBADMSG || rc == -ENODATA ? "its header is damaged"
                                                       : strerror(-rc));
            free(seg);
            return rc == -ENODATA ? -EBADMSG : rc;
        }
        store->segments[store->segment_count++] = seg;
    }
    return 0;
}

/* Drops the segments before the last one created by a purge: they were purged. */
static void store_recover_purge(struct stream_store *store)
{
    uint32_t purged = 0;
    for (uint32_t i = 0; i < store->segment_count; i++) {
        if (store->segments[i]->file.header.flags & SEGMENT_F_PURGED) {
            purged = i;
        }
    }
    for (uint32_t i = 0; i < purged; i++) {
        store_segment_retire(store, store->segments[i]);
    }
    memmove(store->segments, store->segments + purged,
            (store->segment_count - purged) * sizeof *store->segments);
    store->segment_count -= purged;
}

/* Makes the scanned segments tile the sequence space. A segment whose log ends before the
 * next one starts lost the sequences in between (a damaged record cut it short): they are
 * counted as lost and held as gone. The one exception is a last segment that holds no
 * record at all after such a gap: a crash came after it was created and before the batch
 * in front of it was written, so it is dropped and appends resume in the segment before,
 * with no sequence lost. */
static int store_recover_tile(struct stream_store *store)
{
    for (uint32_t i = 0; i + 1 < store->segment_count; i++) {
        struct store_segment *seg = store->segments[i];
        struct store_segment *next = store->segments[i + 1];
        ASSERT(seg_next(seg) <= seg_first(next));
        uint64_t gap = seg_first(next) - seg_next(seg);
        if (gap == 0) {
            continue;
        }
        bool next_is_empty_last = i + 2 == store->segment_count &&
                                  next->append_offset == SEGMENT_HEADER_SIZE &&
                                  !(next->file.header.flags & SEGMENT_F_PURGED);
        if (next_is_empty_last) {
            LOG_WARN("store %s: segment %s is empty and starts after the end of %s; "
                     "removing it",
                     store->path, next->file.name, seg->file.name);
            store_segment_retire(store, next);
            store->segment_count--;
            break;
        }
        /* A segment holds at most capacity / RECORD_OVERHEAD_SIZE messages; a larger gap
         * means the headers contradict each other. */
        if (gap > seg->file.header.capacity / RECORD_OVERHEAD_SIZE ||
            gap + seg->seq_count > UINT32_MAX) {
            LOG_ERROR("store %s: segment %s starts %" PRIu64 " sequences after %s ends",
                      store->path, next->file.name, gap, seg->file.name);
            return -EBADMSG;
        }
        int rc = store_offsets_reserve(seg, seg->seq_count + gap);
        if (rc != 0) {
            return rc;
        }
        LOG_WARN("store %s: segment %s: sequences %" PRIu64 "..%" PRIu64 " are lost",
                 store->path, seg->file.name, seg_next(seg), seg_first(next) - 1);
        memset(seg->offsets + seg->seq_count, 0, (size_t)gap * sizeof *seg->offsets);
        seg->seq_count += (uint32_t)gap;
        store->lost_count += gap;
    }
    return 0;
}

/* Marks `seq` gone if a segment covers it and it is still held. */
static void store_recover_gone(struct stream_store *store, uint64_t seq)
{
    struct store_segment *seg = store_segment_of(store, seq);
    if (seg == NULL) {
        return;
    }
    uint32_t *offset = &seg->offsets[seq - seg_first(seg)];
    if (*offset != OFFSET_GONE) {
        *offset = OFFSET_GONE;
        seg->live_count--;
    }
}

/* Applies floors and tombstones, then counts what is held into the indexes. */
static int store_recover_index(struct stream_store *store, const struct recovery *recovery)
{
    for (uint32_t i = 0; i < store->segment_count; i++) {
        struct store_segment *seg = store->segments[i];
        for (uint64_t index = 0; index < seg->seq_count; index++) {
            if (seg_first(seg) + index >= recovery->floor_seq) {
                break;
            }
            seg->offsets[index] = OFFSET_GONE;
        }
        seg->live_count = 0;
        for (uint64_t index = 0; index < seg->seq_count; index++) {
            seg->live_count += seg->offsets[index] != OFFSET_GONE;
        }
    }
    for (uint64_t i = 0; i < recovery->delete_count; i++) {
        store_recover_gone(store, recovery->deletes[i]);
    }
    struct store_segment *last = store_last_segment(store);
    store->last_seq = seg_next(last) - 1;
    store->first_seq = 0;
    for (uint32_t i = 0; i < store->segment_count; i++) {
        struct store_segment *seg = store->segments[i];
        for (uint64_t index = 0; index < seg->seq_count; index++) {
            if (seg->offsets[index] == OFFSET_GONE) {
                continue;
            }
            uint64_t seq = seg_first(seg) + index;
            struct record rec;
            int rc = store_read(store, seg, seq, &rec);
            ASSERT(rc == 0); /* validated by the scan a moment ago */
            uint64_t hash =
                subject_table_hash(&store->subjects, rec.subject, rec.subject_length);
            rc = subject_table_add(&store->subjects, rec.subject, rec.subject_length, hash, seq);
            if (rc != 0) {
                return rc;
            }
            if (store->first_seq == 0) {
                store->first_seq = seq;
            }
            store->msg_count++;
            store->byte_count += rec.size;
        }
    }
    if (store->first_seq == 0) {
        store->first_seq = store->last_seq + 1;
    }
    return 0;
}

/* Applies the limits of the current config (they may have been lowered since the last
 * open) and records the new floor. */
static int store_recover_limits(struct stream_store *store)
{
    const struct stream_store_config *config = &store->config;
    if (config->discard != STREAM_STORE_DISCARD_OLD) {
        return 0;
    }
    bool over = (config->max_msgs != 0 && store->msg_count > config->max_msgs) ||
                (config->max_bytes != 0 && store->byte_count > config->max_bytes);
    if (!over) {
        return 0;
    }
    struct store_slot slot;
    int rc = store_reserve(store, RECORD_OVERHEAD_SIZE, false, &slot);
    if (rc != 0) {
        return rc;
    }
    while (config->max_msgs != 0 && store->msg_count > config->max_msgs) {
        store_forget_first(store);
    }
    while (config->max_bytes != 0 && store->byte_count > config->max_bytes) {
        store_forget_first(store);
    }
    store_put_control(store, &slot, RECORD_KIND_FLOOR, 0);
    store_after_put(store);
    store_drop_front(store);
    return 0;
}

static int store_recover(struct stream_store *store)
{
    struct segment_listing *list = NULL;
    uint32_t count = 0;
    int rc = store_list(store, &list, &count);
    if (rc != 0) {
        return rc;
    }
    rc = store_open_segments(store, list, count);
    /* Ids are never reused, not even those of removed files. */
    store->next_segment_id = count > 0 ? list[count - 1].segment_id + 1 : 1;
    free(list);
    if (rc != 0) {
        return rc;
    }
    if (store->segment_count == 0) {
        store->first_seq = 1;
        return store_roll(store, 0, false);
    }
    store_recover_purge(store);
    for (uint32_t i = 0; i + 1 < store->segment_count; i++) {
        if (seg_first(store->segments[i]) > seg_first(store->segments[i + 1])) {
            LOG_ERROR("store %s: segment %s starts after %s", store->path,
                      store->segments[i]->file.name, store->segments[i + 1]->file.name);
            return -EBADMSG;
        }
    }
    struct recovery recovery = {0};
    for (uint32_t i = 0; i < store->segment_count && rc == 0; i++) {
        uint64_t seq_limit = i + 1 < store->segment_count ? seg_first(store->segments[i + 1])
                                                          : UINT64_MAX;
        rc = store_segment_scan(store, store->segments[i], seq_limit, &recovery);
    }
    if (rc == 0) {
        rc = store_recover_tile(store);
    }
    for (uint32_t i = 0; rc == 0 && i + 1 < store->segment_count; i++) {
        store_offsets_trim(store->segments[i]);
    }
    if (rc == 0) {
        rc = store_recover_index(store, &recovery);
    }
    struct store_segment *last = store_last_segment(store);
    if (rc == 0 && last->torn) {
        /* Appends never go behind a torn record: the damaged bytes stay as they are, for
         * whoever wants to look, and the log goes on in a new segment. */
        rc = store_roll(store, 0, false);
    } else if (rc == 0) {
        rc = segment_extend(&last->file, store->io);
    }
    free(recovery.deletes);
    if (rc != 0) {
        return rc;
    }
    store_drop_front(store);
    store->durable_seq = store->last_seq;
    return store_recover_limits(store);
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
    subject_table_destroy(&store->subjects);
    if (store->dir_fd >= 0) {
        close(store->dir_fd);
    }
    free(store->path);
    free(store);
}
