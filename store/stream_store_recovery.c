/* Recovery at open: listing the segment files, scanning each one's records, and rebuilding
 * the offset arrays and the subject index from what survives. stream_store.h states the
 * rules; each step's comment says what it keeps and what it drops.
 *
 * The one idea: the log is its own index. Every record is validated by its chained
 * checksum (record.h) and a segment's log ends at the first record that does not validate;
 * tombstones and floors are applied only once every segment is scanned, since a later
 * segment may remove messages of an earlier one. Runs inside stream_store_open, on the
 * thread that will own the store. */
#include "store/stream_store.h"

#include "base/assert.h"
#include "base/log.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/stream_store_internal.h"
#include "store/subject_table.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    /* First allocation of the tombstones collected by recovery; grows by doubling. */
    DELETES_CAPACITY_MIN = 64,
    /* Zeros written at a time over a torn tail. */
    TORN_ZERO_CHUNK_SIZE = 64 * 1024,
};
STATIC_ASSERT(OFFSET_GONE == 0 && SUBJECT_NEXT_NONE == 0, "lost sequences' entries are zeroed");

/* What the scan of every segment collects before it is applied. */
struct recovery {
    uint64_t floor_seq;  /* highest floor of any valid record */
    uint64_t *deletes;   /* owned: targets of valid tombstones */
    uint64_t delete_count;
    uint64_t delete_capacity;
    /* Owned: the gaps store_recover_tile found, one per segment at most, ascending. */
    struct store_lost_range *gaps;
    uint32_t gap_count;
    /* The run of RECORD_F_BATCH_MORE records the scan is in (an atomic batch not yet
     * ended), and what the scan had before its first record, to go back to when the log
     * ends inside it (store_recover_batch_cut). */
    bool run_open;
    struct store_segment *run_segment; /* borrowed: where its first record is */
    uint64_t run_offset;
    uint64_t run_seed;
    uint32_t run_seq_count; /* run_segment's seq_count before it */
    uint64_t run_floor_seq;
    uint64_t run_delete_count;
    int64_t run_last_timestamp_ns;
};

/* Follows the batch rule (record.c) at record `rec` of `seg`, before it is applied. */
static void recovery_run_track(struct stream_store *store, struct recovery *recovery,
                               struct store_segment *seg, uint64_t position, uint64_t seed,
                               const struct record *rec)
{
    if ((rec->flags & RECORD_F_BATCH_MORE) == 0) {
        recovery->run_open = false;
        return;
    }
    if (recovery->run_open) {
        return;
    }
    recovery->run_open = true;
    recovery->run_segment = seg;
    recovery->run_offset = position;
    recovery->run_seed = seed;
    recovery->run_seq_count = seg->seq_count;
    recovery->run_floor_seq = recovery->floor_seq;
    recovery->run_delete_count = recovery->delete_count;
    recovery->run_last_timestamp_ns = store->last_timestamp_ns;
}

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

/* Takes the run a SKIP record `rec` of `seg` assigns: from the next sequence of `seg` to
 * rec->sequence, below `seq_limit`, no longer than a writer makes one (a longer run, whose
 * checksum validated all the same, would only cost memory), entered as gone. 0, -EBADMSG
 * for a run out of those bounds, or -ENOMEM. */
static int store_segment_scan_skip(struct stream_store *store, struct store_segment *seg,
                                   const struct record *rec, uint64_t seq_limit)
{
    uint64_t next_seq = seg_next(seg);
    if (rec->sequence < next_seq || rec->sequence >= seq_limit) {
        return -EBADMSG;
    }
    uint64_t run = rec->sequence - next_seq + 1;
    if (run > STREAM_STORE_SKIP_HELD_MAX || seg->seq_count + run > seg_seq_max(seg)) {
        return -EBADMSG;
    }
    int rc = store_offsets_reserve(store, seg, seg->seq_count + run);
    if (rc != 0) {
        return rc;
    }
    memset(seg->offsets + seg->seq_count, 0, (size_t)run * sizeof *seg->offsets);
    if (store_subject_chained(store)) {
        memset(seg->subject_next + seg->seq_count, 0, (size_t)run * sizeof *seg->subject_next);
    }
    seg->seq_count += (uint32_t)run;
    return 0;
}

/* Reads the records of `seg` in order from its header while they validate: a record must
 * pass record_decode with the chain seed, a message must carry the next sequence (and stay
 * below `seq_limit`, where the next segment starts), a skip must end at or after it (below
 * `seq_limit` too), a tombstone must name a sequence already assigned, a floor may not run
 * ahead of the sequences. The log of the segment ends at the first record that fails; a
 * failure other than clean zeros (or fewer bytes left than the smallest record) is a torn
 * or damaged tail, counted and logged. Per-segment cost: one xxh3 pass over its bytes,
 * and 4 bytes of offsets per sequence (a skip's too). */
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
        if (seg->file.header.capacity - position < RECORD_OVERHEAD_SIZE) {
            /* No record starts this close to the end of a segment: the writer rolls over to
             * a new one first. Whatever is there (zeros) is the clean end. */
            stop = -ENODATA;
            break;
        }
        stop = record_decode(map + position, (size_t)(end - position), seed, &rec);
        if (stop != 0) {
            break;
        }
        recovery_run_track(store, recovery, seg, position, seed, &rec);
        if (rec.kind == RECORD_KIND_MSG) {
            if (rec.sequence != next_seq || next_seq >= seq_limit) {
                stop = -EBADMSG;
                break;
            }
            int rc = store_offsets_reserve(store, seg, (uint64_t)seg->seq_count + 1);
            if (rc != 0) {
                return rc;
            }
            seg->offsets[seg->seq_count] = (uint32_t)position;
            if (store_subject_chained(store)) {
                seg->subject_next[seg->seq_count] = SUBJECT_NEXT_NONE;
            }
            seg->seq_count++;
            next_seq++;
            if (rec.timestamp_ns > store->last_timestamp_ns) {
                store->last_timestamp_ns = rec.timestamp_ns;
            }
        } else if (rec.kind == RECORD_KIND_DELETE) {
            if (rec.sequence >= next_seq) {
                stop = -EBADMSG;
                break;
            }
            int rc = recovery_note_delete(recovery, rec.sequence);
            if (rc != 0) {
                return rc;
            }
        } else if (rec.kind == RECORD_KIND_SKIP) {
            int rc = store_segment_scan_skip(store, seg, &rec, seq_limit);
            if (rc == -EBADMSG) {
                stop = rc;
                break;
            }
            if (rc != 0) {
                return rc;
            }
            next_seq = rec.sequence + 1;
        }
        if (rec.floor_seq > next_seq) {
            stop = -EBADMSG;
            break;
        }
        if (rec.floor_seq > recovery->floor_seq) {
            recovery->floor_seq = rec.floor_seq;
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

/* One past the last byte of `seg` at or after `from` that is not zero (`from` when there
 * is none): the end of what was ever written there, since a segment is preallocated as
 * zeros. Reads the tail through the map, backwards, a word at a time. */
static uint64_t store_segment_written_end(const struct store_segment *seg, uint64_t from)
{
    const uint8_t *map = seg->file.map;
    uint64_t end = seg->file.map_size;
    while (end - from >= sizeof(uint64_t)) {
        uint64_t word;
        memcpy(&word, map + end - sizeof word, sizeof word);
        if (word != 0) {
            break;
        }
        end -= sizeof word;
    }
    while (end > from && map[end - 1] == 0) {
        end--;
    }
    return end;
}

/* Notes the sequences [first_seq, last_seq] of `seg` lost, and the bytes from where its log
 * was cut to the end of what was written. */
static int recovery_note_gap(struct stream_store *store, struct recovery *recovery,
                             const struct store_segment *seg, uint64_t first_seq,
                             uint64_t last_seq)
{
    /* One gap per segment, each segment's after the one before. */
    ASSERT(recovery->gap_count < store->segment_count);
    if (recovery->gaps == NULL) {
        recovery->gaps = malloc(store->segment_count * sizeof *recovery->gaps);
        if (recovery->gaps == NULL) {
            return -ENOMEM;
        }
    }
    recovery->gaps[recovery->gap_count++] =
        (struct store_lost_range){.first_seq = first_seq, .last_seq = last_seq};
    store->lost_count += last_seq + 1 - first_seq;
    store->lost_bytes += store_segment_written_end(seg, seg->append_offset) - seg->append_offset;
    return 0;
}

/* Makes the scanned segments tile the sequence space. A segment whose log ends before the
 * next one starts lost the sequences in between (a damaged record cut it short): they are
 * counted as lost and held as gone. The one exception is a last segment that holds no
 * record at all after such a gap: a crash came after it was created and before the batch
 * in front of it was written, so it is dropped and appends resume in the segment before,
 * with no sequence lost. */
static int store_recover_tile(struct stream_store *store, struct recovery *recovery)
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
        /* A segment covers at most seg_seq_max sequences (its messages and a skip's
         * worth); a larger gap means the headers contradict each other. Sequences that a
         * SKIP record cut off here had assigned are counted lost with the messages. */
        if (seg->seq_count + gap > seg_seq_max(seg)) {
            LOG_ERROR("store %s: segment %s starts %" PRIu64 " sequences after %s ends",
                      store->path, next->file.name, gap, seg->file.name);
            return -EBADMSG;
        }
        int rc = store_offsets_reserve(store, seg, seg->seq_count + gap);
        if (rc == 0) {
            rc = recovery_note_gap(store, recovery, seg, seg_next(seg), seg_first(next) - 1);
        }
        if (rc != 0) {
            return rc;
        }
        LOG_WARN("store %s: segment %s: sequences %" PRIu64 "..%" PRIu64 " are lost",
                 store->path, seg->file.name, seg_next(seg), seg_first(next) - 1);
        memset(seg->offsets + seg->seq_count, 0, (size_t)gap * sizeof *seg->offsets);
        if (store_subject_chained(store)) {
            memset(seg->subject_next + seg->seq_count, 0,
                   (size_t)gap * sizeof *seg->subject_next);
        }
        seg->seq_count += (uint32_t)gap;
    }
    return 0;
}

static int recovery_seq_compare(const void *left, const void *right)
{
    uint64_t a = *(const uint64_t *)left;
    uint64_t b = *(const uint64_t *)right;
    return a < b ? -1 : a > b;
}

/* Adds [first_seq, last_seq] to the store's list, which keeps STREAM_STORE_LOST_RANGES_MAX
 * at most (the rest are counted only). */
static int store_lost_list(struct stream_store *store, uint64_t first_seq, uint64_t last_seq)
{
    if (store->lost_range_count == STREAM_STORE_LOST_RANGES_MAX) {
        return 0;
    }
    if (store->lost_ranges == NULL) {
        store->lost_ranges = malloc(STREAM_STORE_LOST_RANGES_MAX * sizeof *store->lost_ranges);
        if (store->lost_ranges == NULL) {
            return -ENOMEM;
        }
    }
    store->lost_ranges[store->lost_range_count++] =
        (struct store_lost_range){.first_seq = first_seq, .last_seq = last_seq};
    return 0;
}

/* Lists what the gaps really lost: not the sequences below the floor, nor those a
 * tombstone deleted, which were gone before the damage. Sorts the tombstones (O(d log d),
 * only when something was lost), then one pass over the gaps and the tombstones in them. */
static int store_recover_lost(struct stream_store *store, struct recovery *recovery)
{
    if (recovery->gap_count == 0) {
        return 0;
    }
    if (recovery->delete_count > 1) {
        qsort(recovery->deletes, (size_t)recovery->delete_count, sizeof *recovery->deletes,
              recovery_seq_compare);
    }
    uint64_t next_delete = 0;
    for (uint32_t i = 0; i < recovery->gap_count; i++) {
        const struct store_lost_range *gap = &recovery->gaps[i];
        uint64_t first = gap->first_seq;
        if (first < recovery->floor_seq) {
            first = recovery->floor_seq;
        }
        if (first > gap->last_seq) {
            store->lost_count -= gap->last_seq + 1 - gap->first_seq;
            continue;
        }
        store->lost_count -= first - gap->first_seq;
        while (next_delete < recovery->delete_count && recovery->deletes[next_delete] < first) {
            next_delete++;
        }
        for (; next_delete < recovery->delete_count &&
               recovery->deletes[next_delete] <= gap->last_seq;
             next_delete++) {
            uint64_t deleted = recovery->deletes[next_delete];
            if (deleted < first) {
                continue; /* a second tombstone of the same sequence */
            }
            if (deleted > first) {
                int rc = store_lost_list(store, first, deleted - 1);
                if (rc != 0) {
                    return rc;
                }
            }
            store->lost_count--;
            first = deleted + 1;
        }
        if (first <= gap->last_seq) {
            int rc = store_lost_list(store, first, gap->last_seq);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

/* Zeroes the torn tail of `seg`, from where its log was cut to the end of what was
 * written, and syncs it before the store opens, so that the next open finds a clean end
 * there instead of reporting the same tear again (and, in the last segment, appends go on
 * in place). Nothing there is part of the log recovered. 0 or -errno. */
static int store_segment_clear_tail(struct stream_store *store, struct store_segment *seg)
{
    static const uint8_t zeros[TORN_ZERO_CHUNK_SIZE];
    uint64_t from = seg->append_offset;
    uint64_t end = store_segment_written_end(seg, from);
    for (uint64_t offset = from; offset < end;) {
        size_t chunk = end - offset < sizeof zeros ? (size_t)(end - offset) : sizeof zeros;
        ssize_t n = pwrite(seg->file.fd, zeros, chunk, (off_t)offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO;
        }
        offset += (uint64_t)n;
    }
    if (fdatasync(seg->file.fd) != 0) {
        return -errno;
    }
    LOG_WARN("store %s: segment %s: zeroed the %" PRIu64 " bytes from offset %" PRIu64
             " on, a torn tail",
             store->path, seg->file.name, end - from, from);
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
            rc = store_subject_add(store, rec.subject, rec.subject_length, hash, seq);
            if (rc != 0) {
                return rc;
            }
            if (store->first_seq == 0) {
                store->first_seq = seq;
            }
            store->msg_count++;
            store->byte_count += store_record_msg_size(store, &rec);
        }
    }
    if (store->first_seq == 0) {
        store->first_seq = store->last_seq + 1;
    }
    return 0;
}

/* Whether the log of `seg` was cut before the next segment starts (store_recover_tile). */
static bool recovery_gap_in(const struct recovery *recovery, const struct store_segment *seg)
{
    for (uint32_t i = 0; i < recovery->gap_count; i++) {
        if (recovery->gaps[i].first_seq >= seg_first(seg) &&
            recovery->gaps[i].first_seq < seg_next(seg)) {
            return true;
        }
    }
    return false;
}

/* Zeroes the torn tail of `seg` when what it cut lost no message: the tail of the last
 * segment (a write cut by a crash), or of an older one whose next segment starts right
 * after its last message (the same, left by an open that could not zero it). Damage that
 * lost sequences stays as it is, for whoever wants to look: its loss is reported at every
 * open. A tail that cannot be zeroed stays torn. */
static void store_recover_clear_tail(struct stream_store *store, const struct recovery *recovery,
                                     struct store_segment *seg)
{
    if (!seg->torn || recovery_gap_in(recovery, seg)) {
        return;
    }
    int rc = store_segment_clear_tail(store, seg);
    if (rc != 0) {
        LOG_ERROR("store %s: segment %s: cannot zero its torn tail: %s", store->path,
                  seg->file.name, strerror(-rc));
        return;
    }
    seg->torn = false;
}

/* When the log ends inside an atomic batch (a crash or a torn write before its last
 * record): cuts it where the batch began, as if none of it had been written. The segments
 * after the one it began in hold nothing else and are removed, last first (a crash in
 * between leaves a log that still ends inside the batch); that one's log ends where the
 * batch began and the rest is zeroed as a torn tail (store_recover_clear_tail); the
 * tombstones and floors the batch carried are forgotten. */
static void store_recover_batch_cut(struct stream_store *store, struct recovery *recovery)
{
    if (!recovery->run_open) {
        return;
    }
    struct store_segment *seg = recovery->run_segment;
    struct store_segment *last = store_last_segment(store);
    uint64_t first_seq = seg_first(seg) + recovery->run_seq_count;
    uint64_t dropped_count = seg_next(last) - first_seq;
    while (store_last_segment(store) != seg) {
        struct store_segment *tail = store_last_segment(store);
        LOG_WARN("store %s: removing segment %s: it holds only an unfinished atomic batch",
                 store->path, tail->file.name);
        store_segment_retire(store, tail);
        store->segment_count--;
    }
    LOG_WARN("store %s: segment %s: dropped an unfinished atomic batch from offset %" PRIu64
             " (%" PRIu64 " messages from sequence %" PRIu64 ")",
             store->path, seg->file.name, recovery->run_offset, dropped_count, first_seq);
    seg->seq_count = recovery->run_seq_count;
    seg->live_count = seg->seq_count;
    seg->append_offset = recovery->run_offset;
    seg->written_offset = recovery->run_offset;
    seg->chain_seed = recovery->run_seed;
    seg->torn = true; /* its tail is the batch's: zeroed as a torn one */
    recovery->floor_seq = recovery->run_floor_seq;
    recovery->delete_count = recovery->run_delete_count;
    store->last_timestamp_ns = recovery->run_last_timestamp_ns;
    store->batch_dropped_count = dropped_count;
    recovery->run_open = false;
}

/* Scans the opened segments into `recovery` and rebuilds the store from it: everything
 * between the listing and the limits (see store_recover). The caller frees `recovery`. */
static int store_recover_log(struct stream_store *store, struct recovery *recovery)
{
    int rc = 0;
    for (uint32_t i = 0; i < store->segment_count && rc == 0; i++) {
        uint64_t seq_limit = i + 1 < store->segment_count ? seg_first(store->segments[i + 1])
                                                          : UINT64_MAX;
        rc = store_segment_scan(store, store->segments[i], seq_limit, recovery);
    }
    if (rc == 0) {
        store_recover_batch_cut(store, recovery);
        rc = store_recover_tile(store, recovery);
    }
    for (uint32_t i = 0; rc == 0 && i + 1 < store->segment_count; i++) {
        store_offsets_trim(store->segments[i]);
    }
    if (rc == 0) {
        rc = store_recover_index(store, recovery);
    }
    if (rc == 0) {
        rc = store_recover_lost(store, recovery);
    }
    for (uint32_t i = 0; rc == 0 && i < store->segment_count; i++) {
        store_recover_clear_tail(store, recovery, store->segments[i]);
    }
    struct store_segment *last = store_last_segment(store);
    if (rc == 0 && last->torn) {
        /* Appends never go behind a torn record: the log goes on in a new segment, and the
         * torn bytes are reported again at the next open. */
        rc = store_roll(store, 0, false);
    } else if (rc == 0) {
        rc = segment_extend(&last->file, store->io);
    }
    return rc;
}

/* The steps, in order: list the files (removing half-created ones), open them (removing an
 * unwritten tail), drop what a purge replaced, check that the segments start in order,
 * scan each, drop an unfinished atomic batch at the end, tile the sequence space, apply floors and tombstones and rebuild the indexes,
 * list what was lost, zero a torn tail of the last segment and go on there (or in a new
 * segment when it cannot be zeroed), and make the config's limits hold. */
int store_recover(struct stream_store *store)
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
    rc = store_recover_log(store, &recovery);
    free(recovery.deletes);
    free(recovery.gaps);
    if (rc != 0) {
        return rc;
    }
    store_drop_front(store);
    store->durable_seq = store->last_seq;
    rc = store_limits_apply(store);
    if (rc == -EAGAIN) {
        /* Tombstones past pending_bytes_max: the rest goes with the appends. */
        LOG_INFO("store %s: messages over max_msgs_per_subject are left for later appends",
                 store->path);
        return 0;
    }
    return rc;
}
