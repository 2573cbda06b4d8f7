/* The store of one JetStream stream: an append-only log of messages in a directory of
 * preallocated segment files, with the in-memory indexes that answer reads.
 *
 * The one idea: an append is settled in memory at once (the message has its sequence, is
 * readable and counted against the limits) and becomes durable later, in batches. Appended
 * records collect in a batch; a batch is handed to the store_io as one write at an
 * explicit offset (when stream_store_flush asks for it, when it fills, or when the previous
 * batch completes), followed under STREAM_STORE_SYNC_ALWAYS by one datasync for the whole
 * batch: group commit. When a batch is as durable as the policy asks, the `committed` hook
 * says up to which sequence, and the engine releases the publish acks it held back.
 * One write and one datasync are in flight at a time: while a datasync runs, the batches
 * that collect are written, and the next datasync covers them all.
 *
 * Reads never wait for I/O: a message is found in O(1) through a dense array of record
 * offsets per segment (4 bytes a sequence) and read through the segment's read-only map,
 * or from its batch while the write is still in flight. Under max_msgs_per_subject, a
 * 4-byte link beside each offset to the next message on the same subject keeps each
 * subject's first message known as messages go: the work of an append at the limit does
 * not grow with the number of subjects.
 *
 * Deleting never rewrites history: a tombstone record is appended, and every record
 * carries the stream's first sequence at the time (its "floor"), which makes evictions by
 * the limits durable without records of their own. Whole segments are dropped from the
 * front once none of their messages remain. Limits: max_msgs, max_bytes (discard old or
 * new; bytes counted as the record, or as nats-server's file or memory store counts them),
 * max_age (at stream_store_tick), max_msgs_per_subject, each changeable on an open store
 * (stream_store_limits_set); purges of everything, of one subject, below a sequence, or
 * all but the newest N.
 *
 * A mirror stores each message at its origin's sequence with its origin's timestamp: an
 * append may carry its own timestamp (stream_store_append_timed), and a run of sequences
 * may be assigned to no message (stream_store_skip: held as deleted ones are).
 *
 * A segment that fills is followed by one created without waiting for the disk: the file
 * is preallocated and named at once, its header is written with its first batch, and the
 * first datasync that covers that batch also syncs the directory before committing it.
 *
 * Opening recovers: every segment is scanned, records are validated by their chained
 * checksums (record.h), a segment's log ends at the first record that does not validate,
 * segments at the end whose header was never written are removed, tombstones and floors
 * are applied, and the indexes are rebuilt. A torn tail of the last segment (a crash in
 * the middle of a write) is zeroed and synced, so it is reported by that open only, and
 * appends go on behind it. Damage inside an older segment loses the rest of that segment
 * only ("lost" sequences, listed by stream_store_lost), never the segments after it, and
 * is left as it is for whoever wants to look.
 *
 * An atomic batch (stream_store_batch_open .. its last message) is in the log whole or not
 * at all: its records carry a flag that only its last message's lacks (record.c), and
 * recovery drops a trailing run of flagged records that nothing unflagged ends, logging
 * it; until the batch is durable no segment is dropped from the front, so that what its
 * floor or tombstones removed comes back with it.
 *
 * A store is owned by one thread (its stream's shard): no locks. Messages handed out by
 * reads are borrowed: valid until the next call that changes the store (append, delete,
 * purge, tick) or completes its I/O. */
#ifndef IONATS_STORE_STREAM_STORE_H
#define IONATS_STORE_STREAM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_io;
struct stream_store;

enum stream_store_sync {
    /* Written to the page cache: `committed` follows the write. */
    STREAM_STORE_SYNC_NONE = 0,
    /* As NONE, and a datasync every sync_interval_ns (from stream_store_tick). */
    STREAM_STORE_SYNC_INTERVAL = 1,
    /* Group commit: `committed` follows one datasync per batch. */
    STREAM_STORE_SYNC_ALWAYS = 2,
};

enum stream_store_discard {
    /* At a limit, the oldest messages make room for the new one. */
    STREAM_STORE_DISCARD_OLD = 0,
    /* At a limit, the new message is refused (-EDQUOT). */
    STREAM_STORE_DISCARD_NEW = 1,
};

/* What a message counts for in stream_store_msg.size, info.byte_count and max_bytes. */
enum stream_store_accounting {
    /* The whole record in the log: 48 + subject + header + payload bytes (record.c). */
    STREAM_STORE_ACCOUNTING_RECORD = 0,
    /* nats-server's file store (fileStoreMsgSizeRaw): 30 + subject + payload bytes, and
     * 4 + header bytes more when there is a header. */
    STREAM_STORE_ACCOUNTING_FILE = 1,
    /* nats-server's memory store (memStoreMsgSizeRaw): 16 + subject + header + payload. */
    STREAM_STORE_ACCOUNTING_MEMORY = 2,
};

/* Defaults and bounds (see stream_store_config). */
#define STREAM_STORE_SEGMENT_SIZE_DEFAULT ((uint64_t)64 << 20)
#define STREAM_STORE_BATCH_SIZE_DEFAULT ((uint32_t)256 << 10)
#define STREAM_STORE_PENDING_BYTES_DEFAULT ((uint64_t)64 << 20)
#define STREAM_STORE_SYNC_INTERVAL_DEFAULT_NS ((int64_t)100 * 1000 * 1000)

struct stream_store_config {
    /* Bytes each segment file is preallocated to; SEGMENT_CAPACITY_MIN..MAX (segment.h).
     * The largest record is this less the segment header. */
    uint64_t segment_size;
    enum stream_store_sync sync;
    int64_t sync_interval_ns;  /* STREAM_STORE_SYNC_INTERVAL: > 0 */
    uint64_t max_msgs;         /* 0: no limit */
    uint64_t max_bytes;        /* 0: no limit; counts stream_store_msg.size (`accounting`) */
    int64_t max_age_ns;        /* 0: no limit; applied by stream_store_tick (and at open) */
    /* 0: no limit. At the limit, an append removes the oldest message on its subject (a
     * tombstone), whatever `discard` says (nats-server's default). */
    uint64_t max_msgs_per_subject;
    enum stream_store_discard discard;
    /* A batch is handed to the store_io once it holds this many bytes, without waiting
     * for stream_store_flush. */
    uint32_t batch_size;
    /* Bytes appended and not yet written that an append may add to; beyond, -EAGAIN
     * (back-pressure: the shard stops reading from publishers of this stream). */
    uint64_t pending_bytes_max;
    /* How a message's size is counted (0: the whole record). Fixed while the store is open;
     * a store may be reopened with another (the counts are rebuilt at open). With
     * nats-server's accounting, a max_bytes stream keeps as many messages as nats-server's
     * file or memory store would. */
    enum stream_store_accounting accounting;
};

struct stream_store_hooks {
    /* Every record appended up to log position `lsn`, and every message up to `seq`, is as
     * durable as the policy makes it. Called from the store_io's completion, never from
     * inside a call into the store. May be NULL. */
    void (*committed)(void *context, uint64_t seq, uint64_t lsn);
    /* A write or datasync failed with `error`: the store accepts no more writes (a failed
     * fsync leaves the page cache untrustworthy), reads go on. May be NULL. */
    void (*failed)(void *context, int error);
    /* Message `seq` on `subject` (NULL when its record could not be read) left the store's
     * indexes: a limit, a delete or a partial purge (a purge of everything only moves
     * removed_count). Called from inside the store call that removed it: the hook must not
     * call into the store. May be NULL. */
    void (*removed)(void *context, uint64_t seq, const uint8_t *subject, uint32_t subject_length);
    /* The wall clock for record timestamps and max_age, in ns; NULL: CLOCK_REALTIME. */
    int64_t (*clock_ns)(void *context);
    void *context; /* borrowed, passed to the hooks */
};

/* A stored message, borrowed from the store (see the file comment). */
struct stream_store_msg {
    uint64_t seq;
    int64_t timestamp_ns;
    const uint8_t *subject;
    const uint8_t *header; /* header_length bytes (0: none) */
    const uint8_t *payload;
    uint32_t subject_length;
    uint32_t header_length;
    uint32_t payload_length;
    uint32_t size; /* what max_bytes counts: see stream_store_config.accounting */
};

struct stream_store_info {
    uint64_t msg_count;
    uint64_t byte_count;      /* sum of stream_store_msg.size over the messages held */
    uint64_t first_seq;       /* first message held; last_seq + 1 when empty */
    uint64_t last_seq;        /* last sequence assigned (0 before the first) */
    int64_t first_timestamp_ns; /* 0 when empty */
    int64_t last_timestamp_ns;  /* 0 when empty */
    uint64_t deleted_count;   /* sequences in [first_seq, last_seq] no longer held */
    uint64_t subject_count;
    uint32_t segment_count;
    uint64_t lsn;             /* records appended since open (messages, tombstones, floors,
                               * skips) */
    uint64_t durable_lsn;     /* as reported to `committed` */
    uint64_t durable_seq;
    uint64_t pending_bytes;   /* appended, not yet written */
    uint64_t lost_count;      /* sequences recovery found missing from damaged segments */
    /* Bytes of the damaged segments from where their log was cut to the end of what was
     * ever written there (nats-server's "lost":{"bytes"}). */
    uint64_t lost_bytes;
    uint64_t truncated_count; /* segments this open cut at a torn or damaged record */
    uint64_t batch_dropped_count; /* messages of an unfinished atomic batch this open dropped */
    uint64_t index_bytes;     /* memory of the offset and link arrays, the subject table */
    int failure;              /* 0, or the -errno that stopped writes */
};

/* Fills `config` with the defaults: 64 MiB segments, sync none, no limits, discard old. */
void stream_store_config_default(struct stream_store_config *config);

/* Opens the stream store in directory `path` (created when missing; its parent must
 * exist), recovering what is there (see the file comment), and locks the directory
 * against a second opener. `io` and `hooks` are borrowed for the store's life. The limits
 * of `config` hold when this returns, as after stream_store_limits_set (what a lowered
 * limit removes is persisted by the records that the next flush writes), except that
 * tombstones for max_msgs_per_subject beyond pending_bytes_max are left to later appends
 * on their subjects.
 *
 * With `path` NULL the store is memory-backed: the same store over anonymous memory files
 * (memfd) instead of a directory, gone when closed; every operation, limit and hook works
 * the same, and a datasync costs nothing.
 * 0 and *out; -EINVAL for a bad config, -EBUSY when another store has the directory open,
 * -EBADMSG when a segment file's header is damaged (its records cannot be validated
 * without its salt), -ENOSPC, -ENOMEM, or another -errno. */
int stream_store_open(const char *path, const struct stream_store_config *config,
                      struct store_io *io, const struct stream_store_hooks *hooks,
                      struct stream_store **out);

/* Closes the store. No operation may be in flight (stream_store_busy false or only
 * unsubmitted batches, which are discarded: call stream_store_flush and let the I/O
 * complete first to keep them). */
void stream_store_close(struct stream_store *store);

/* The largest sequence a store assigns: last_seq + 1 (first_seq of an empty store) always
 * fits 64 bits. Only stream_store_skip comes near it. */
#define STREAM_STORE_SEQ_MAX (UINT64_MAX - 1)

/* Appends a message, stamped with the clock's now (the `clock_ns` hook), and sets *seq.
 * Accepts a subject of 1..65535 bytes, and header and payload of any size that fits a
 * segment. The message is readable and counted at once; durable after `committed` reports
 * its sequence. Returns 0, or:
 *   -EINVAL    bad subject length
 *   -EMSGSIZE  the record is larger than a segment, or the message's size than max_bytes
 *   -EDQUOT    a limit is reached and the policy is discard new
 *   -EAGAIN    pending_bytes_max reached: retry once batches complete
 *   -ENOSPC    a new segment could not be preallocated (disk full); nothing appended
 *   -EOVERFLOW last_seq is STREAM_STORE_SEQ_MAX (a skip went there): no sequence is left
 *   -ENOMEM, or the error that stopped the store (see `failed`). */
int stream_store_append(struct stream_store *store, const uint8_t *subject,
                        uint32_t subject_length, const uint8_t *header, uint32_t header_length,
                        const uint8_t *payload, uint32_t payload_length, uint64_t *seq);

/* What stream_store_append would refuse of a message whatever the store holds: a subject
 * of no or too many bytes (-EINVAL), a record past the segment's room or a message past
 * max_bytes (-EMSGSIZE), or no sequence left for `ahead` more messages after the last
 * (-EOVERFLOW); 0 when none. An atomic batch checks every message before it appends the
 * first, so that no append of it fails but for the disk or memory. */
int stream_store_append_check(const struct stream_store *store, uint32_t subject_length,
                              uint32_t header_length, uint32_t payload_length, uint64_t ahead);

/* stream_store_append with the message stamped `timestamp_ns` (a mirror's: its origin's
 * timestamp) instead of the clock's now. Message timestamps never decrease along the log
 * (stream_store_seq_for_time relies on it): one below the last message's timestamp is
 * raised to it. Tombstones and floor records, which carry the clock's now, do not raise
 * it. The same returns as stream_store_append. */
int stream_store_append_timed(struct stream_store *store, const uint8_t *subject,
                              uint32_t subject_length, const uint8_t *header,
                              uint32_t header_length, const uint8_t *payload,
                              uint32_t payload_length, int64_t timestamp_ns, uint64_t *seq);

/* The longest run stream_store_skip assigns while messages are held: 4 Mi sequences, whose
 * offsets take 16 MiB (4 bytes each) for as long as the segment that covers them stays. */
#define STREAM_STORE_SKIP_HELD_MAX (UINT32_C(1) << 22)

/* Assigns every sequence in (last_seq, through_seq] to no message (a mirror skipping what
 * its origin no longer has): they are held as deleted messages are (stream_store_get says
 * -ENOENT, stream_store_next steps over them, info.deleted_count counts those from
 * first_seq on), last_seq becomes through_seq, and the next append gets through_seq + 1.
 * Durable like an append, and lost like one with a torn tail.
 *   - With no message held, this is a purge of everything after last_seq moved to
 *     through_seq: a new segment marked purged starts at through_seq + 1 (first_seq), and
 *     replaces the old ones, created (and under SYNC_INTERVAL and SYNC_ALWAYS synced)
 *     before this returns. Any run: it costs no memory per sequence.
 *   - With messages held, one SKIP record is appended to the last segment (rolling over
 *     to a new one as an append does), and each sequence takes 4 bytes of offsets (8 under
 *     max_msgs_per_subject) in memory, so the run is bounded: -E2BIG for one longer than
 *     STREAM_STORE_SKIP_HELD_MAX, with nothing changed (skip in shorter runs, or once the
 *     messages are gone). A segment whose log is cut by damage before its SKIP record
 *     reports the sequences it assigned lost, with the messages cut (stream_store_lost).
 * Returns 0; -EINVAL when through_seq <= last_seq or through_seq > STREAM_STORE_SEQ_MAX;
 * -E2BIG; -EAGAIN, -ENOSPC, -ENOMEM as for an append; or the error that stopped the store.
 * Removes no message: no `removed` hook, removed_count unchanged. */
int stream_store_skip(struct stream_store *store, uint64_t through_seq);

/* ---- Atomic batches ---- */

/* Opens an atomic batch: every record appended from now on (messages, and the tombstones
 * and floors that limits, rollups and deletes add) belongs to it, until the message that
 * follows stream_store_batch_last. While it is open:
 *   - appends are not held to pending_bytes_max (the caller bounds a batch's bytes: all of
 *     it is appended in one go, nothing to wait for);
 *   - a purge of everything moves the floor with one record instead of replacing the
 *     segments, so that it is undone with the batch;
 *   - no segment is dropped from the front, nor after, until the batch is durable.
 * One batch at a time (asserted). */
void stream_store_batch_open(struct stream_store *store);

/* The next message appended ends the open batch: its record is the one without the flag,
 * and once `committed` reports its sequence the batch is durable whole. */
void stream_store_batch_last(struct stream_store *store);

/* An append of the open batch failed. Returns 0 when nothing of it was appended yet (the
 * batch is simply closed); otherwise the store stops taking writes (-ECANCELED through
 * `failed`, as a failed write would), so that nothing is ever appended behind the
 * unfinished records, which the next open drops. Reads see them until then. */
int stream_store_batch_abort(struct stream_store *store);

/* Deletes message `seq` (a tombstone is appended). 0, -ENOENT when it is not held,
 * or an append error. */
int stream_store_delete(struct stream_store *store, uint64_t seq);

/* What a purge removes (nats-server's purge request): */
struct stream_store_purge_request {
    const uint8_t *subject;  /* NULL: every subject; else this literal subject only */
    uint32_t subject_length;
    uint64_t up_to_seq;      /* 0: no bound; else only messages below this sequence */
    uint64_t keep;           /* 0: none kept; else the newest `keep` messages stay */
};

/* Removes messages; sequences go on from last_seq + 1 whatever is removed. `request` NULL
 * (or with no field set) removes every message: a new segment marked purged replaces the
 * old ones, committed durably (under SYNC_INTERVAL and SYNC_ALWAYS) when this returns.
 * Otherwise the oldest messages go: of every subject behind one floor record, or of one
 * subject with a tombstone each (durable with the next commit). up_to_seq and keep
 * together are -EINVAL. *purged_count (may be NULL) is the number of messages removed,
 * also when an append error stops a subject purge part way. */
int stream_store_purge(struct stream_store *store,
                       const struct stream_store_purge_request *request, uint64_t *purged_count);

/* Hands the collected batch to the store_io if nothing is in flight (the end of a shard's
 * loop turn). 0, or the error that stopped the store. */
int stream_store_flush(struct stream_store *store);

/* Periodic work at wall-clock `now_ns`: evicts messages older than max_age, and issues the
 * SYNC_INTERVAL datasync when it is due. 0, or an append error (the floor record). */
int stream_store_tick(struct stream_store *store, int64_t now_ns);

/* True while batches are queued or an operation is in flight. */
bool stream_store_busy(const struct stream_store *store);

/* True while a write or datasync is in the store_io (the kernel may still read its batch):
 * a failed store, which queues batches it will never write, may be closed once this is
 * false. */
bool stream_store_io_in_flight(const struct stream_store *store);

/* Message `seq`: 0, -ENOENT when not held, -EBADMSG when its bytes no longer frame a
 * record (damaged since they were validated). */
int stream_store_get(struct stream_store *store, uint64_t seq, struct stream_store_msg *msg);

/* The first message held with a sequence >= `seq`: 0, or -ENOENT. */
int stream_store_next(struct stream_store *store, uint64_t seq, struct stream_store_msg *msg);

/* The first message held whose timestamp is >= `timestamp_ns` (timestamps never decrease
 * along the log): sets *seq, 0, or -ENOENT. O(log n) plus the deleted messages skipped. */
int stream_store_seq_for_time(struct stream_store *store, int64_t timestamp_ns, uint64_t *seq);

/* First and last sequence held on `subject` (a literal subject): 0, or -ENOENT. */
int stream_store_subject_first(struct stream_store *store, const uint8_t *subject,
                               uint32_t subject_length, uint64_t *seq);
int stream_store_subject_last(struct stream_store *store, const uint8_t *subject,
                              uint32_t subject_length, uint64_t *seq);
/* Messages held on `subject`. */
uint64_t stream_store_subject_count(struct stream_store *store, const uint8_t *subject,
                                    uint32_t subject_length);

void stream_store_info_get(const struct stream_store *store, struct stream_store_info *info);

/* The counters alone, without reading any record (what a consumer checks per delivery):
 * removed_count counts every message removed since open, by a limit, a delete or a purge,
 * so a reader that saw it unchanged knows nothing it counted went. */
struct stream_store_counts {
    uint64_t msg_count;
    uint64_t first_seq; /* last_seq + 1 when empty */
    uint64_t last_seq;
    uint64_t removed_count;
};
void stream_store_counts_get(const struct stream_store *store, struct stream_store_counts *counts);

/* Changes the limits of an open store to those of `config`: max_msgs, max_bytes,
 * max_age_ns, max_msgs_per_subject and discard; its other fields are ignored (they are
 * fixed at open). Lowered limits apply at once, the way an append at the limit applies
 * them: under discard old, the oldest messages go until max_msgs and max_bytes hold; under
 * any discard, messages older than max_age at the clock's now (the `clock_ns` hook), with
 * one floor record for both; then, on every subject over max_msgs_per_subject, its oldest
 * messages, a tombstone each. When max_msgs_per_subject turns non-zero, the links of the
 * subjects' messages are built by one walk over the messages held (O(messages held), no
 * I/O: reads go through the maps); when it turns 0 they are freed.
 * Returns 0; -EINVAL for a negative max_age_ns or an unknown discard, -ENOMEM for the
 * links, or the error that stopped the store, each with nothing changed; or an append
 * error (-EAGAIN past pending_bytes_max, -ENOSPC, -ENOMEM) while removing what is over the
 * new limits: the new limits are in force then, part of the excess may be gone, and the
 * rest goes with the next appends (max_msgs and max_bytes at the next one; up to 16 a
 * time on a subject over max_msgs_per_subject), at the next open, or when this is called
 * again (after a flush for -EAGAIN). */
int stream_store_limits_set(struct stream_store *store, const struct stream_store_config *config);

/* The sequences recovery found lost (info.lost_count): up to `max` of them, ascending,
 * into `seqs`; returns how many were written. Recovery keeps them as ranges, at most
 * STREAM_STORE_LOST_RANGES_MAX (one per damaged segment, less what a floor or a tombstone
 * had removed before the damage); sequences of further ranges are counted, not listed, so
 * fewer than info.lost_count may come back even with room for all. The list is what this
 * open found: it does not shrink as the lost sequences fall below first_seq. */
#define STREAM_STORE_LOST_RANGES_MAX 256
size_t stream_store_lost(const struct stream_store *store, uint64_t *seqs, size_t max);

/* One subject held and the messages held on it; `subject` is borrowed for the call.
 * Non-zero stops the iteration. */
typedef int stream_store_subject_fn(void *context, const uint8_t *subject,
                                    uint32_t subject_length, uint64_t msg_count);

/* Calls `each` for every subject on which the store holds messages, in no particular
 * order, with the exact count (nats-server's stream info "subjects" for a filter: the
 * caller matches the filter). `each` must not change the store. Returns 0, or the first
 * non-zero value `each` returned. Cost: one pass over the subject table's slots (48 bytes
 * each; at least 4/3 of the subjects held, rounded up to a power of two, and as many as
 * when the table was largest: it does not shrink) and a call per subject; no allocation,
 * no read of the log (about 20 ms for a million subjects, 10 us for a thousand). */
int stream_store_subjects_each(const struct stream_store *store, stream_store_subject_fn *each,
                               void *context);

#endif
