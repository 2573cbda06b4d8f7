/* Private to the stream store: nothing outside store/stream_store*.c includes this header.
 * The public interface and the model are in stream_store.h.
 *
 * The stream store is one module in five files, each owning one concern, and this header is
 * what they share: the structs of a store, its segments and its batches, and the functions
 * one file calls in another (declared below under the file that defines them).
 *   stream_store.c           lookups by sequence, reads, segments (roll, drop), open, close
 *   stream_store_append.c    appends and group commit: batches, store_io submission, sync;
 *                            skips (sequences assigned to no message)
 *   stream_store_limits.c    limits and retention: max_msgs/bytes/age, per subject, purges,
 *                            limits changed on an open store
 *   stream_store_subject.c   the per-subject index: first, last and count of each subject,
 *                            its chains turned on and off, the subjects iteration
 *   stream_store_recovery.c  recovery at open: listing, segment scan, index rebuild, lost
 *                            sequences, torn tails zeroed
 * Internal functions keep the store_ prefix (the public ones are stream_store_*).
 *
 * In memory a store is its segments in stream order, each with a dense array of record
 * offsets (offsets[seq - first_seq]; OFFSET_GONE for a sequence no longer held) and, under
 * max_msgs_per_subject, one of links to the next message on the same subject
 * (subject_next[seq - first_seq]), the per-subject table, and a FIFO of batches: encoded
 * records waiting for, or in, one write. Segments tile the sequence space: segment i
 * covers [first_seq, first_seq + seq_count) and the next one starts where it ends.
 *
 * Everything here belongs to the store's one thread (its stream's shard). */
#ifndef IONATS_STORE_STREAM_STORE_INTERNAL_H
#define IONATS_STORE_STREAM_STORE_INTERNAL_H

#include "base/assert.h"
#include "base/clock.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/store_io.h"
#include "store/stream_store.h"
#include "store/subject_table.h"

#include <stdbool.h>
#include <stdint.h>

/* offsets[] value of a sequence no longer held: no record starts at offset 0, where the
 * segment header is. */
#define OFFSET_GONE ((uint32_t)0)
STATIC_ASSERT(SEGMENT_HEADER_SIZE > 0, "OFFSET_GONE is never a record offset");
STATIC_ASSERT(SEGMENT_CAPACITY_MAX <= UINT32_MAX, "record offsets are 32-bit");

/* subject_next[] value of a message with no later message on its subject linked: none was
 * appended since, or the next came more than STORE_SUBJECT_NEXT_MAX sequences later. */
#define SUBJECT_NEXT_NONE ((uint32_t)0)
/* The longest link subject_next[] holds, in sequences: its 32 bits. A subject silent for
 * longer while an older message of it is still held (4 Gi messages on other subjects)
 * loses the link, and its first message, once gone, leaves a stale bound that is settled
 * by walking the log (stream_store_subject.c). The tests build the store with a small
 * value to drive that path. */
#ifndef STORE_SUBJECT_NEXT_MAX
#define STORE_SUBJECT_NEXT_MAX UINT32_MAX
#endif
STATIC_ASSERT(STORE_SUBJECT_NEXT_MAX > 0 && STORE_SUBJECT_NEXT_MAX <= UINT32_MAX,
              "a link is a distance of 1 to UINT32_MAX sequences");

enum {
    /* First allocation of the segment array (and of recovery's listing of the files). */
    SEGMENTS_CAPACITY_MIN = 8,
};

/* nats-server's message sizes (stream_store_config.accounting), from its server/
 * filestore.go fileStoreMsgSizeRaw and memstore.go memStoreMsgSizeRaw. */
enum {
    /* File store: the record length (4), sequence (8), timestamp (8) and subject length (2)
     * fields, and the trailing hash (8). */
    STORE_FILE_MSG_OVERHEAD_SIZE = 4 + 8 + 8 + 2 + 8,
    /* File store: the header length field, when there is a header. */
    STORE_FILE_MSG_HEADER_OVERHEAD_SIZE = 4,
    /* Memory store: the sequence and timestamp. */
    STORE_MEMORY_MSG_OVERHEAD_SIZE = 8 + 8,
};
STATIC_ASSERT(STORE_FILE_MSG_OVERHEAD_SIZE == 30, "22 + 8 in fileStoreMsgSizeRaw");
STATIC_ASSERT((int)STORE_FILE_MSG_OVERHEAD_SIZE + STORE_FILE_MSG_HEADER_OVERHEAD_SIZE <=
                  (int)RECORD_OVERHEAD_SIZE,
              "a message never counts more than its record, whose size fits 32 bits");
STATIC_ASSERT((int)STORE_MEMORY_MSG_OVERHEAD_SIZE <= (int)RECORD_OVERHEAD_SIZE,
              "a message never counts more than its record, whose size fits 32 bits");

/* Sequences recovery found lost: [first_seq, last_seq]. */
struct store_lost_range {
    uint64_t first_seq;
    uint64_t last_seq;
};

/* A log line that a client's retries could repeat (a full disk refusing every append):
 * written at most once per STORE_LOG_INTERVAL_NS, with the count of those held back. */
struct store_log_limit {
    int64_t last_ns;         /* when the last line was written; 0: never */
    uint64_t held_count;     /* lines not written since */
};
#define STORE_LOG_INTERVAL_NS ((int64_t)1000 * 1000 * 1000)

enum store_batch_state {
    BATCH_OPEN,    /* collecting records; not yet handed to the store_io */
    BATCH_WRITING, /* its write is in flight, or must be (re)submitted */
    BATCH_WRITTEN, /* in the file; waits for a datasync or for the batches before it */
    BATCH_SYNCING, /* covered by the datasync in flight */
};

/* One segment file and its arrays per sequence. Owned by its store (segments[]) until
 * dropped, then by the batches that still use it (batch_ref_count). */
struct store_segment {
    struct segment file;      /* owned: fd and map */
    uint32_t *offsets;        /* owned: record offset of each sequence, or OFFSET_GONE */
    /* Owned: for each sequence, how many sequences later the next message on its subject
     * was appended, or SUBJECT_NEXT_NONE (the subject's chain, stream_store_subject.c).
     * NULL where the store keeps no chains (store_subject_chained). */
    uint32_t *subject_next;
    uint32_t seq_count;       /* sequences covered, held or not */
    uint32_t offsets_capacity;
    uint32_t subject_next_capacity;
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

/* Encoded records for one write at an explicit offset of one segment. Owned by its
 * store's queue (batch_head .. batch_tail) or free list. */
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
    uint64_t removed_count; /* messages removed since open, by any means (never decreases) */
    /* Of the last message appended or recovered: never decreases. Control records (their
     * clock's now) leave it, so that a tombstone written just before a timed append does
     * not raise the append's timestamp to the clock. */
    int64_t last_timestamp_ns;

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

    /* The atomic batch (stream_store_batch_open): records get RECORD_F_BATCH_MORE while
     * batch_open, but for the message that follows batch_last, which closes it. */
    bool batch_open;
    bool batch_last;
    uint64_t batch_open_lsn; /* store->lsn when it opened: whether anything went in */
    /* lsn of the last batch's closing record: segments are not dropped from the front
     * until durable_lsn reaches it (0: nothing to wait for). */
    uint64_t batch_hold_lsn;
    uint64_t batch_dropped_count; /* what recovery dropped (info) */

    /* What recovery found lost (stream_store_lost): owned, ascending, disjoint. */
    struct store_lost_range *lost_ranges;
    uint32_t lost_range_count;
    uint64_t lost_count;
    uint64_t lost_bytes;
    uint64_t truncated_count;
    struct store_log_limit roll_log; /* "cannot create segment" on the message path */
};

/* Where an append's records go: reserved by store_reserve, filled by store_put. */
struct store_slot {
    struct store_segment *segment; /* borrowed: the store's last segment */
    struct store_batch *batch;     /* borrowed: the store's collecting batch */
};

/* ---- Small helpers -------------------------------------------------------------------- */

static inline uint64_t seg_first(const struct store_segment *seg)
{
    return seg->file.header.first_seq;
}

static inline uint64_t seg_next(const struct store_segment *seg)
{
    return seg->file.header.first_seq + seg->seq_count;
}

/* The most sequences `seg` covers: as many messages as its bytes hold, and one skip's
 * worth more. A reservation that would go past it rolls over to a new segment first, so
 * that recovery can tell a gap that contradicts two segments' headers from one that damage
 * cut (store_recover_tile), and a segment's arrays stay bounded. */
static inline uint64_t seg_seq_max(const struct store_segment *seg)
{
    return seg->file.header.capacity / RECORD_OVERHEAD_SIZE + STREAM_STORE_SKIP_HELD_MAX;
}
STATIC_ASSERT(SEGMENT_CAPACITY_MAX / RECORD_OVERHEAD_SIZE + STREAM_STORE_SKIP_HELD_MAX <=
                  UINT32_MAX / 2,
              "seq_count is 32-bit, and an offset array doubles past it without overflow");

static inline struct store_segment *store_last_segment(const struct stream_store *store)
{
    ASSERT(store->segment_count > 0);
    return store->segments[store->segment_count - 1];
}

static inline uint64_t store_record_size_max(const struct stream_store *store)
{
    return store->config.segment_size - SEGMENT_HEADER_SIZE;
}

/* The record timestamps' clock: the `clock_ns` hook, else CLOCK_REALTIME. */
static inline int64_t store_clock_ns(const struct stream_store *store)
{
    if (store->hooks.clock_ns != NULL) {
        return store->hooks.clock_ns(store->hooks.context);
    }
    return clock_realtime_ns();
}

/* Whether the store keeps the chains of its subjects' messages (subject_next): only under
 * max_msgs_per_subject, whose appends need a subject's next message at once. Without it,
 * a subject's first that goes is settled when asked for (stream_store_subject.c), and the
 * arrays cost neither memory nor a write per append. stream_store_limits_set builds or
 * frees the chains when the limit turns on or off. */
static inline bool store_subject_chained(const struct stream_store *store)
{
    return store->config.max_msgs_per_subject != 0;
}

/* What a message with these lengths counts for (stream_store_config.accounting): at most
 * its record's size, which the caller checked fits 32 bits. */
static inline uint32_t store_msg_size(const struct stream_store *store, uint32_t subject_length,
                                      uint32_t header_length, uint32_t payload_length)
{
    uint64_t size = 0;
    switch (store->config.accounting) {
    case STREAM_STORE_ACCOUNTING_RECORD:
        size = record_size_for(subject_length, header_length, payload_length);
        break;
    case STREAM_STORE_ACCOUNTING_FILE:
        size = (uint64_t)STORE_FILE_MSG_OVERHEAD_SIZE + subject_length + payload_length;
        if (header_length > 0) {
            size += (uint64_t)STORE_FILE_MSG_HEADER_OVERHEAD_SIZE + header_length;
        }
        break;
    case STREAM_STORE_ACCOUNTING_MEMORY:
        size = (uint64_t)STORE_MEMORY_MSG_OVERHEAD_SIZE + subject_length + header_length +
               payload_length;
        break;
    }
    ASSERT(size > 0);
    ASSERT(size <= record_size_for(subject_length, header_length, payload_length));
    return (uint32_t)size;
}

/* What the message of record `rec` counts for. */
static inline uint32_t store_record_msg_size(const struct stream_store *store,
                                             const struct record *rec)
{
    return store_msg_size(store, rec->subject_length, rec->header_length, rec->payload_length);
}

/* Whether a line held back by `limit` may be written at `now_ns`; *held_count is then the
 * number held back since the last one. A clock that stepped back lets the line through. */
static inline bool store_log_due(struct store_log_limit *limit, int64_t now_ns,
                                 uint64_t *held_count)
{
    if (limit->last_ns != 0 && now_ns >= limit->last_ns &&
        now_ns - limit->last_ns < STORE_LOG_INTERVAL_NS) {
        limit->held_count++;
        return false;
    }
    *held_count = limit->held_count;
    limit->held_count = 0;
    limit->last_ns = now_ns != 0 ? now_ns : 1;
    return true;
}

/* The floor every record carries: all sequences below it are gone. */
static inline uint64_t store_floor(const struct stream_store *store)
{
    return store->msg_count > 0 ? store->first_seq : store->last_seq + 1;
}

/* ---- stream_store.c: lookups, reads, segments ----------------------------------------- */

/* The segment covering `seq`, or NULL. O(log segments). */
struct store_segment *store_segment_of(const struct stream_store *store, uint64_t seq);

/* Views held message `seq` of `seg` (through the map, or from its batch): 0, or -EBADMSG
 * (logged) when its bytes no longer frame a record. */
int store_read(const struct stream_store *store, const struct store_segment *seg, uint64_t seq,
               struct record *rec);

/* The first sequence held that is >= seq, or 0; the last held that is <= seq, or 0. Both
 * walk the offset arrays: the cost grows with the gone sequences skipped. */
uint64_t store_next_live(const struct stream_store *store, uint64_t seq);
uint64_t store_prev_live(const struct stream_store *store, uint64_t seq);

/* Drops a reference a batch or the datasync held; frees a dropped segment with the last. */
void store_segment_unref(struct stream_store *store, struct store_segment *seg);

/* Takes `seg` out of the store and removes its file; the memory goes once no batch uses
 * it. The caller removes it from segments[]. */
void store_segment_retire(struct stream_store *store, struct store_segment *seg);

/* Room for one more segment in segments[]: 0 or -ENOMEM. */
int store_segments_reserve(struct stream_store *store);

/* Grows the arrays of `seg` (offsets, and subject_next where the store keeps chains) to
 * hold `count` sequences: 0 or -ENOMEM. */
int store_offsets_grow(const struct stream_store *store, struct store_segment *seg,
                       uint64_t count);

/* Room for `count` sequences in the arrays of `seg`: 0 or -ENOMEM. Inline: every append
 * of a message asks, and the arrays grow by doubling, so they rarely need to. */
static inline int store_offsets_reserve(const struct stream_store *store,
                                        struct store_segment *seg, uint64_t count)
{
    if (count <= seg->offsets_capacity &&
        (count <= seg->subject_next_capacity || !store_subject_chained(store))) {
        return 0;
    }
    return store_offsets_grow(store, seg, count);
}

/* Gives back the unused tail of a sealed segment's arrays. */
void store_offsets_trim(struct store_segment *seg);

/* Starts a new last segment at last_seq + 1 (see the definition for `on_message_path`):
 * 0, -ENOSPC, -ENOMEM or another -errno. */
int store_roll(struct stream_store *store, uint32_t flags, bool on_message_path);

/* Drops segments from the front while none of their messages remain. */
void store_drop_front(struct stream_store *store);

/* ---- stream_store_append.c: appends and group commit ---------------------------------- */

/* Everything an append of `size` record bytes that take `seq_count` sequences (1 for a
 * message, 0 for control records, a skip's run) needs that can fail: 0, or the store's
 * failure, -EAGAIN, -ENOSPC, -ENOMEM. */
int store_reserve(struct stream_store *store, uint32_t size, uint64_t seq_count,
                  struct store_slot *slot);

/* Appends a tombstone (RECORD_KIND_DELETE of `target_seq`) or a floor record into a
 * reserved slot; cannot fail. */
void store_put_control(struct stream_store *store, const struct store_slot *slot,
                       enum record_kind kind, uint64_t target_seq);

/* After the records of a reservation went in: a full batch is handed on. */
void store_after_put(struct stream_store *store);

/* ---- stream_store_limits.c: limits and retention -------------------------------------- */

/* Removes held message `seq` of `seg` from every index; the caller makes it durable. */
void store_forget(struct stream_store *store, struct store_segment *seg, uint64_t seq);

/* Removes the oldest message held. */
void store_forget_first(struct stream_store *store);

/* What an append of a message of `record_size` record bytes, counting `size` (store_msg_size),
 * on `subject` (whose hash is `hash`) asks of the limits before it reserves: 0 and
 * *evict_count, the tombstones it is to write for max_msgs_per_subject; -EMSGSIZE for a
 * message larger than max_bytes; -EDQUOT when under discard new a limit is reached. */
int store_limits_admit(const struct stream_store *store, uint64_t hash, const uint8_t *subject,
                       uint32_t subject_length, uint32_t record_size, uint32_t size,
                       uint32_t *evict_count);

/* Then, with the message counted on its subject and room reserved in `slot`: evicts the
 * `evict_count` oldest messages on the subject, a tombstone each, and then the oldest
 * messages of the stream until the message (counting `size`) fits under max_msgs and
 * max_bytes. */
void store_limits_make_room(struct stream_store *store, const struct store_slot *slot,
                            uint64_t hash, const uint8_t *subject, uint32_t subject_length,
                            uint32_t size, uint32_t evict_count);

/* Replaces every segment by a new one marked purged that starts at `last_seq` + 1 (>= the
 * store's): a purge of everything, after last_seq moved there. 0 and *purged_count, or a
 * store_roll error with nothing changed. */
int store_purge_through(struct stream_store *store, uint64_t last_seq, uint64_t *purged_count);

/* Evicts messages older than max_age at `now_ns`: 0, or a store_reserve error. */
int store_expire(struct stream_store *store, int64_t now_ns);

/* Makes the store's limits hold now (see stream_store_limits_set): 0, or a store_reserve
 * error with part of the excess left. */
int store_limits_apply(struct stream_store *store);

/* ---- stream_store_subject.c: the per-subject index ------------------------------------ */

/* Links message `seq` after `tail_seq`, the last one appended on its subject before it. */
void store_subject_link(struct stream_store *store, uint64_t tail_seq, uint64_t seq);

/* Counts message `seq` (above every sequence held) on `subject`, whose hash is `hash`, and
 * links it into the subject's chain where the store keeps chains: 0, or -ENOMEM with
 * nothing changed. Inline: every append and every message recovered comes here. */
static inline int store_subject_add(struct stream_store *store, const uint8_t *subject,
                                    uint32_t subject_length, uint64_t hash, uint64_t seq)
{
    uint64_t tail_seq = 0;
    int rc = subject_table_add(&store->subjects, subject, subject_length, hash, seq, &tail_seq);
    if (rc == 0 && tail_seq != 0 && store_subject_chained(store)) {
        store_subject_link(store, tail_seq, seq);
    }
    return rc;
}

/* Removes held message `seq`, whose record is `rec`, from its subject's entry. */
void store_subject_forget(struct stream_store *store, const struct record *rec, uint64_t seq);

/* Makes a stale first sequence of `entry` exact. */
void store_subject_settle_first(struct stream_store *store, struct subject_entry *entry);

/* Starts keeping chains (store_subject_chained turns true once the caller sets the
 * limit): allocates every segment's links, 0 or -ENOMEM with nothing changed. */
int store_subject_chains_alloc(struct stream_store *store);

/* With the links allocated and the limit set: links every message held to the next one on
 * its subject, and makes every entry's first and last exact, by one walk of the messages
 * held in sequence order. Cannot fail. */
void store_subject_chains_build(struct stream_store *store);

/* Stops keeping chains: frees every segment's links (the limit is already 0). */
void store_subject_chains_free(struct stream_store *store);

/* ---- stream_store_recovery.c: recovery at open ---------------------------------------- */

/* Opens the segments in the store's directory and rebuilds the indexes: 0, -EBADMSG for
 * segments that contradict each other or a damaged header, -ENOMEM, or another -errno. */
int store_recover(struct stream_store *store);

#endif
