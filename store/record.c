/* Record encoding and validation: see record.h.
 *
 * Byte-level format of one record. All integers little-endian, no alignment, no padding;
 * records follow one another back to back in a segment after its header (segment.c).
 *
 *   offset      size  field
 *   0           4     size            whole record in bytes, checksum included:
 *                                     48 + subject_length + header_length + payload_length
 *   4           1     kind            1 MSG, 2 DELETE, 3 FLOOR, 4 SKIP (record.h)
 *   5           1     flags           bit 0 (RECORD_F_BATCH_MORE): more records of the same
 *                                     atomic batch follow; any other bit set is rejected.
 *                                     Stores written before atomic batches have 0 here
 *   6           2     subject_length  MSG: 1..65535; DELETE, FLOOR and SKIP: 0
 *   8           8     sequence        MSG: its stream sequence (>= 1)
 *                                     DELETE: the deleted sequence (>= 1)
 *                                     FLOOR: 0
 *                                     SKIP: the last of the sequences it assigns, each one
 *                                     after the previous record's (>= 1); none of them is a
 *                                     message (a mirror skipping what its origin lost)
 *   16          8     timestamp_ns    wall-clock nanoseconds since the epoch (signed), at append
 *   24          8     floor_seq       every sequence below this one was gone (deleted, purged
 *                                     or evicted by a limit) when the record was written;
 *                                     MSG and SKIP: floor_seq <= sequence
 *   32          4     header_length   NATS header block bytes (MSG only; 0 = none)
 *   36          4     payload_length  payload bytes (MSG only)
 *   40          s     subject         subject_length bytes, not terminated
 *   40+s        h     header          header_length bytes
 *   40+s+h      p     payload         payload_length bytes
 *   size-8      8     checksum        xxh3-64 of bytes [0, size-8), seeded with the chain
 *                                     seed: the segment's salt for its first record, the
 *                                     checksum of the previous record for every other
 *
 * A record is valid when all of these hold: size >= 48; size fits in the bytes that
 * remain in the segment; size equals 48 plus the three lengths; kind is known and flags has
 * no unknown bit; the per-kind rules in the table hold; the checksum matches. A size field of zero
 * means nothing was ever written there (preallocated space reads as zeros): the clean end.
 * Sequence continuity (each MSG one more than the previous sequence assigned, each SKIP at
 * or after it) is the segment scanner's check, not this file's, and so is the batch rule:
 * the records of an atomic batch carry RECORD_F_BATCH_MORE, all but its last message's,
 * which ends the batch; a batch is in the log once that record validates, and recovery
 * drops a trailing run of flagged records that no unflagged record ends (a crash or a
 * torn write inside the batch), whatever segments it spans. */
#include "store/record.h"

#include "base/assert.h"
#include "base/hash.h"
#include "store/le.h"

#include <errno.h>
#include <string.h>

/* Field offsets: the table above. */
enum {
    RECORD_OFFSET_SIZE = 0,
    RECORD_OFFSET_KIND = 4,
    RECORD_OFFSET_FLAGS = 5,
    RECORD_OFFSET_SUBJECT_LENGTH = 6,
    RECORD_OFFSET_SEQUENCE = 8,
    RECORD_OFFSET_TIMESTAMP = 16,
    RECORD_OFFSET_FLOOR = 24,
    RECORD_OFFSET_HEADER_LENGTH = 32,
    RECORD_OFFSET_PAYLOAD_LENGTH = 36,
};

STATIC_ASSERT(RECORD_OFFSET_PAYLOAD_LENGTH + 4 == RECORD_HEADER_SIZE,
              "the subject starts right after the fixed fields");
STATIC_ASSERT(RECORD_OVERHEAD_SIZE == 48, "the format table says 48 bytes of overhead");

int record_check_fields(const struct record *rec)
{
    if ((rec->flags & ~RECORD_F_MASK) != 0) {
        return -EINVAL;
    }
    switch (rec->kind) {
    case RECORD_KIND_MSG:
        if (rec->subject_length == 0 || rec->subject_length > RECORD_SUBJECT_LENGTH_MAX) {
            return -EINVAL;
        }
        if (rec->sequence == 0 || rec->floor_seq > rec->sequence) {
            return -EINVAL;
        }
        break;
    case RECORD_KIND_DELETE:
    case RECORD_KIND_FLOOR:
    case RECORD_KIND_SKIP:
        if (rec->subject_length != 0 || rec->header_length != 0 || rec->payload_length != 0) {
            return -EINVAL;
        }
        if ((rec->kind != RECORD_KIND_FLOOR) != (rec->sequence != 0)) {
            return -EINVAL;
        }
        if (rec->kind == RECORD_KIND_SKIP && rec->floor_seq > rec->sequence) {
            return -EINVAL;
        }
        break;
    default:
        return -EINVAL;
    }
    if (record_size_for(rec->subject_length, rec->header_length, rec->payload_length) >
        UINT32_MAX) {
        return -EINVAL;
    }
    return 0;
}

uint64_t record_encode(const struct record *rec, uint64_t seed, uint8_t *target)
{
    ASSERT(record_check_fields(rec) == 0);
    uint32_t size =
        (uint32_t)record_size_for(rec->subject_length, rec->header_length, rec->payload_length);
    le_store_u32(target + RECORD_OFFSET_SIZE, size);
    target[RECORD_OFFSET_KIND] = (uint8_t)rec->kind;
    target[RECORD_OFFSET_FLAGS] = rec->flags;
    le_store_u16(target + RECORD_OFFSET_SUBJECT_LENGTH, (uint16_t)rec->subject_length);
    le_store_u64(target + RECORD_OFFSET_SEQUENCE, rec->sequence);
    le_store_u64(target + RECORD_OFFSET_TIMESTAMP, (uint64_t)rec->timestamp_ns);
    le_store_u64(target + RECORD_OFFSET_FLOOR, rec->floor_seq);
    le_store_u32(target + RECORD_OFFSET_HEADER_LENGTH, rec->header_length);
    le_store_u32(target + RECORD_OFFSET_PAYLOAD_LENGTH, rec->payload_length);
    uint8_t *cursor = target + RECORD_HEADER_SIZE;
    if (rec->subject_length > 0) {
        memcpy(cursor, rec->subject, rec->subject_length);
        cursor += rec->subject_length;
    }
    if (rec->header_length > 0) {
        memcpy(cursor, rec->header, rec->header_length);
        cursor += rec->header_length;
    }
    if (rec->payload_length > 0) {
        memcpy(cursor, rec->payload, rec->payload_length);
        cursor += rec->payload_length;
    }
    ASSERT(cursor == target + size - RECORD_CHECKSUM_SIZE);
    uint64_t checksum = hash_bytes(target, size - RECORD_CHECKSUM_SIZE, seed);
    le_store_u64(cursor, checksum);
    return checksum;
}

/* Frame and field rules; everything but the checksum. */
static int record_parse(const uint8_t *source, size_t available, struct record *out)
{
    if (available < sizeof(uint32_t)) {
        return -EBADMSG;
    }
    uint32_t size = le_load_u32(source + RECORD_OFFSET_SIZE);
    if (size == 0) {
        return -ENODATA;
    }
    if (size < RECORD_OVERHEAD_SIZE || size > available) {
        return -EBADMSG;
    }
    uint8_t kind = source[RECORD_OFFSET_KIND];
    out->kind = (enum record_kind)kind;
    out->flags = source[RECORD_OFFSET_FLAGS]; /* unknown bits: record_check_fields */
    out->subject_length = le_load_u16(source + RECORD_OFFSET_SUBJECT_LENGTH);
    out->sequence = le_load_u64(source + RECORD_OFFSET_SEQUENCE);
    out->timestamp_ns = (int64_t)le_load_u64(source + RECORD_OFFSET_TIMESTAMP);
    out->floor_seq = le_load_u64(source + RECORD_OFFSET_FLOOR);
    out->header_length = le_load_u32(source + RECORD_OFFSET_HEADER_LENGTH);
    out->payload_length = le_load_u32(source + RECORD_OFFSET_PAYLOAD_LENGTH);
    if (record_size_for(out->subject_length, out->header_length, out->payload_length) != size) {
        return -EBADMSG;
    }
    if (record_check_fields(out) != 0) {
        return -EBADMSG;
    }
    out->subject = source + RECORD_HEADER_SIZE;
    out->header = out->subject + out->subject_length;
    out->payload = out->header + out->header_length;
    out->size = size;
    out->checksum = le_load_u64(source + size - RECORD_CHECKSUM_SIZE);
    return 0;
}

int record_decode(const uint8_t *source, size_t available, uint64_t seed, struct record *out)
{
    int rc = record_parse(source, available, out);
    if (rc != 0) {
        return rc;
    }
    if (hash_bytes(source, out->size - RECORD_CHECKSUM_SIZE, seed) != out->checksum) {
        return -EBADMSG;
    }
    return 0;
}

int record_view(const uint8_t *source, size_t available, struct record *out)
{
    return record_parse(source, available, out);
}
