/* Appends and group commit: see stream_store.h for the model.
 *
 * This file owns the write path: reserving what an append needs (room in the last segment,
 * rolling over to a new one; room in its offset array; a batch), encoding records into
 * batches, handing batches to the store_io, and the datasyncs that make them durable. The
 * one idea: durability is a pipeline of two operations at most (store_pump): the write of
 * the oldest unwritten batch (resubmitting the rest after a short write), and one datasync
 * that covers every batch written before it was issued (group commit), while the batches
 * written meanwhile wait for the next one. Batches are committed in order, through
 * `committed`; a failed write or datasync stops the store for good. Skips go through the
 * same path: one record (or, with nothing held, a purge) for a run of sequences. One thread
 * owns a store; completions reach it from the store_io's loop on that thread, never from
 * inside a call into the store. */
#include "store/stream_store.h"

#include "base/assert.h"
#include "base/log.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/store_io.h"
#include "store/stream_store_internal.h"
#include "store/subject_table.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

STATIC_ASSERT(OFFSET_GONE == 0 && SUBJECT_NEXT_NONE == 0, "a skip's entries are zeroed");

enum {
    /* Emptied batches kept for reuse: one in flight and one collecting is the steady state. */
    BATCH_FREE_MAX = 2,
};

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
    if (committed && store->batch_hold_lsn != 0 && store->durable_lsn >= store->batch_hold_lsn) {
        store->batch_hold_lsn = 0; /* the last atomic batch is durable: drop what it let go */
        store_drop_front(store);
    }
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

/* Everything an append of `size` record bytes taking `seq_count` sequences needs that can
 * fail: room in the last segment, for the bytes and under seg_seq_max for the sequences
 * (rolling over to a new one), in its arrays (for sequences), and in a batch. After this,
 * appending the records cannot fail. */
int store_reserve(struct stream_store *store, uint32_t size, uint64_t seq_count,
                  struct store_slot *slot)
{
    ASSERT(seq_count <= STREAM_STORE_SKIP_HELD_MAX);
    if (store->failure != 0) {
        return store->failure;
    }
    if (!store->batch_open && store->pending_bytes > 0 &&
        store->pending_bytes + size > store->config.pending_bytes_max) {
        return -EAGAIN;
    }
    struct store_segment *seg = store_last_segment(store);
    if (seg->append_offset + size > seg->file.header.capacity ||
        seg->seq_count + seq_count > seg_seq_max(seg)) {
        int rc = store_roll(store, 0, true);
        if (rc != 0) {
            return rc;
        }
        seg = store_last_segment(store);
    }
    ASSERT(seg->append_offset + size <= seg->file.map_size);
    ASSERT(seg->seq_count + seq_count <= seg_seq_max(seg));
    if (seq_count > 0) {
        int rc = store_offsets_reserve(store, seg, seg->seq_count + seq_count);
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

/* The flags of the next record (`message`: whether it is a message) under the atomic batch
 * rule, closing the batch with the message that follows stream_store_batch_last. */
static uint8_t store_batch_flags(struct stream_store *store, bool message)
{
    if (!store->batch_open) {
        return 0;
    }
    if (message && store->batch_last) {
        store->batch_open = false;
        store->batch_last = false;
        store->batch_hold_lsn = store->lsn + 1; /* this record's */
        return 0;
    }
    return RECORD_F_BATCH_MORE;
}

/* Encodes `given` into the reserved slot, with the batch flag it takes; returns its offset
 * in the segment. */
static uint32_t store_put(struct stream_store *store, const struct store_slot *slot,
                          const struct record *given)
{
    ASSERT(given->flags == 0);
    struct record flagged = *given;
    flagged.flags = store_batch_flags(store, given->kind == RECORD_KIND_MSG);
    const struct record *rec = &flagged;
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
    if (rec->kind == RECORD_KIND_MSG) {
        ASSERT(rec->timestamp_ns >= store->last_timestamp_ns);
        store->last_timestamp_ns = rec->timestamp_ns;
    }
    return (uint32_t)offset;
}

/* After a record went in: a full batch is handed on when nothing is in flight. */
void store_after_put(struct stream_store *store)
{
    store->batch_tail->last_seq = store->last_seq;
    if (store->batch_tail->size >= store->config.batch_size) {
        store_pump(store);
    }
}

/* `timestamp_ns`, or the last message's timestamp when that is later: message timestamps
 * never decrease along the log (stream_store_seq_for_time relies on it). */
static int64_t store_timestamp_clamp(const struct stream_store *store, int64_t timestamp_ns)
{
    return timestamp_ns > store->last_timestamp_ns ? timestamp_ns : store->last_timestamp_ns;
}

static int64_t store_timestamp(struct stream_store *store)
{
    return store_timestamp_clamp(store, store_clock_ns(store));
}

/* Appends a control record (tombstone or floor) into a reserved slot; the caller ends
 * with store_after_put once every record of its reservation is in. */
void store_put_control(struct stream_store *store, const struct store_slot *slot,
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

int stream_store_append(struct stream_store *store, const uint8_t *subject,
                        uint32_t subject_length, const uint8_t *header, uint32_t header_length,
                        const uint8_t *payload, uint32_t payload_length, uint64_t *seq)
{
    return stream_store_append_timed(store, subject, subject_length, header, header_length,
                                     payload, payload_length, store_clock_ns(store), seq);
}

int stream_store_append_check(const struct stream_store *store, uint32_t subject_length,
                              uint32_t header_length, uint32_t payload_length, uint64_t ahead)
{
    if (subject_length == 0 || subject_length > RECORD_SUBJECT_LENGTH_MAX) {
        return -EINVAL;
    }
    if (store->last_seq >= STREAM_STORE_SEQ_MAX || STREAM_STORE_SEQ_MAX - store->last_seq <= ahead) {
        return -EOVERFLOW;
    }
    if (record_size_for(subject_length, header_length, payload_length) >
        store_record_size_max(store)) {
        return -EMSGSIZE;
    }
    uint32_t size = store_msg_size(store, subject_length, header_length, payload_length);
    if (store->config.max_bytes != 0 && size > store->config.max_bytes) {
        return -EMSGSIZE;
    }
    return 0;
}

int stream_store_append_timed(struct stream_store *store, const uint8_t *subject,
                              uint32_t subject_length, const uint8_t *header,
                              uint32_t header_length, const uint8_t *payload,
                              uint32_t payload_length, int64_t timestamp_ns, uint64_t *seq)
{
    if (store->failure != 0) {
        return store->failure;
    }
    if (subject == NULL || subject_length == 0 || subject_length > RECORD_SUBJECT_LENGTH_MAX) {
        return -EINVAL;
    }
    if (store->last_seq >= STREAM_STORE_SEQ_MAX) {
        return -EOVERFLOW;
    }
    ASSERT(header != NULL || header_length == 0);
    ASSERT(payload != NULL || payload_length == 0);
    uint64_t record_size_wide = record_size_for(subject_length, header_length, payload_length);
    if (record_size_wide > store_record_size_max(store)) {
        return -EMSGSIZE;
    }
    uint32_t record_size = (uint32_t)record_size_wide;
    uint32_t size = store_msg_size(store, subject_length, header_length, payload_length);
    uint64_t hash = subject_table_hash(&store->subjects, subject, subject_length);
    uint32_t evict_count = 0;
    int rc = store_limits_admit(store, hash, subject, subject_length, record_size, size,
                                &evict_count);
    if (rc != 0) {
        return rc;
    }
    struct store_slot slot;
    rc = store_reserve(store, record_size + evict_count * RECORD_OVERHEAD_SIZE, 1, &slot);
    if (rc != 0) {
        return rc;
    }
    uint64_t new_seq = store->last_seq + 1;
    rc = store_subject_add(store, subject, subject_length, hash, new_seq);
    if (rc != 0) {
        store_slot_release(store, &slot);
        return rc;
    }
    /* Nothing fails from here on. */
    store_limits_make_room(store, &slot, hash, subject, subject_length, size, evict_count);
    store->last_seq = new_seq;
    if (store->msg_count == 0) {
        store->first_seq = new_seq;
    }
    struct store_segment *seg = slot.segment;
    ASSERT(seg_next(seg) == new_seq);
    struct record rec = {
        .kind = RECORD_KIND_MSG,
        .sequence = new_seq,
        .timestamp_ns = store_timestamp_clamp(store, timestamp_ns),
        .floor_seq = store->first_seq,
        .subject = subject,
        .header = header,
        .payload = payload,
        .subject_length = subject_length,
        .header_length = header_length,
        .payload_length = payload_length,
    };
    seg->offsets[seg->seq_count] = store_put(store, &slot, &rec);
    if (store_subject_chained(store)) {
        seg->subject_next[seg->seq_count] = SUBJECT_NEXT_NONE;
    }
    seg->seq_count++;
    seg->live_count++;
    store->msg_count++;
    store->byte_count += size;
    store_drop_front(store);
    store_after_put(store);
    *seq = new_seq;
    return 0;
}

void stream_store_batch_open(struct stream_store *store)
{
    ASSERT(!store->batch_open);
    store->batch_open = true;
    store->batch_last = false;
    store->batch_open_lsn = store->lsn;
}

void stream_store_batch_last(struct stream_store *store)
{
    ASSERT(store->batch_open);
    store->batch_last = true;
}

int stream_store_batch_abort(struct stream_store *store)
{
    if (!store->batch_open) {
        return 0;
    }
    store->batch_open = false;
    store->batch_last = false;
    if (store->lsn == store->batch_open_lsn) {
        return 0; /* nothing of it in the log */
    }
    store_fail(store, -ECANCELED, "an atomic batch");
    return -ECANCELED;
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
    int rc = store_reserve(store, RECORD_OVERHEAD_SIZE, 0, &slot);
    if (rc != 0) {
        return rc;
    }
    store_forget(store, seg, seq);
    store_put_control(store, &slot, RECORD_KIND_DELETE, seq);
    store_after_put(store);
    store_drop_front(store);
    return 0;
}

/* ---- Skips ---------------------------------------------------------------------------- */

/* With messages held: one SKIP record in the last segment assigns the run, whose sequences
 * enter its arrays as gone (the record holds none of them, as a tombstone's message is no
 * longer held). Counts nothing: no message, no byte, no live sequence. */
static int store_skip_held(struct stream_store *store, uint64_t through_seq)
{
    uint64_t run = through_seq - store->last_seq;
    if (run > STREAM_STORE_SKIP_HELD_MAX) {
        return -E2BIG;
    }
    struct store_slot slot;
    int rc = store_reserve(store, RECORD_OVERHEAD_SIZE, run, &slot);
    if (rc != 0) {
        return rc;
    }
    /* Nothing fails from here on. */
    struct store_segment *seg = slot.segment;
    ASSERT(seg_next(seg) == store->last_seq + 1);
    memset(seg->offsets + seg->seq_count, 0, (size_t)run * sizeof *seg->offsets);
    if (store_subject_chained(store)) {
        memset(seg->subject_next + seg->seq_count, 0, (size_t)run * sizeof *seg->subject_next);
    }
    seg->seq_count += (uint32_t)run;
    store->last_seq = through_seq;
    ASSERT(seg_next(seg) == through_seq + 1);
    store_put_control(store, &slot, RECORD_KIND_SKIP, through_seq);
    store_after_put(store);
    return 0;
}

/* With no message held, the purged segment that starts after the run says it all, at any
 * length; with messages held, the run's sequences take memory, so it is bounded. */
int stream_store_skip(struct stream_store *store, uint64_t through_seq)
{
    if (store->failure != 0) {
        return store->failure;
    }
    if (through_seq <= store->last_seq || through_seq > STREAM_STORE_SEQ_MAX) {
        return -EINVAL;
    }
    if (store->msg_count == 0) {
        uint64_t purged_count = 0;
        int rc = store_purge_through(store, through_seq, &purged_count);
        ASSERT(purged_count == 0);
        return rc;
    }
    return store_skip_held(store, through_seq);
}

/* ---- Flush and tick ------------------------------------------------------------------- */

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

bool stream_store_io_in_flight(const struct stream_store *store)
{
    return store->write_in_flight || store->sync_in_flight;
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
