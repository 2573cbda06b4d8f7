/* One record of a stream's log: encoding, decoding and validation.
 *
 * The byte-level format is written out at the top of record.c. The one idea: a record is
 * valid only if its checksum matches a hash seeded with the checksum of the record before
 * it in the same segment (the segment's random salt for the first record), so every
 * checksum covers the salt and the whole history of its segment. Stale bytes left in a
 * preallocated or reused file, or records that outlived a torn write, never validate.
 *
 * Pure functions on caller-owned bytes; any thread. */
#ifndef IONATS_STORE_RECORD_H
#define IONATS_STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

enum record_kind {
    RECORD_KIND_MSG = 1,    /* a stored message: takes the next stream sequence */
    RECORD_KIND_DELETE = 2, /* tombstone: `sequence` names the deleted message */
    RECORD_KIND_FLOOR = 3,  /* only moves the floor (see floor_seq); no sequence of its own */
    RECORD_KIND_SKIP = 4,   /* assigns the sequences up to `sequence` to no message */
};

/* Bits of a record's flags byte (record.c's table). */
enum {
    /* More records of the same atomic batch follow this one: a log that ends in records
     * with this bit and no record without it after them holds an unfinished batch, which
     * recovery drops whole (stream_store.h). */
    RECORD_F_BATCH_MORE = 0x01,
    /* Every bit a reader accepts; any other one fails validation. */
    RECORD_F_MASK = RECORD_F_BATCH_MORE,
};

enum {
    /* Fixed fields before the subject; see the table in record.c. */
    RECORD_HEADER_SIZE = 40,
    /* The trailing xxh3-64 checksum. */
    RECORD_CHECKSUM_SIZE = 8,
    /* Bytes of a record beyond its subject, header block and payload. */
    RECORD_OVERHEAD_SIZE = RECORD_HEADER_SIZE + RECORD_CHECKSUM_SIZE,
    /* The subject length is a 16-bit field. */
    RECORD_SUBJECT_LENGTH_MAX = UINT16_MAX,
};

/* A record's fields. Decoding points subject/header/payload into the decoded bytes
 * (borrowed: valid as long as those bytes are). */
struct record {
    enum record_kind kind;
    uint8_t flags; /* RECORD_F_* */
    uint64_t sequence;
    int64_t timestamp_ns;
    uint64_t floor_seq;
    const uint8_t *subject;
    const uint8_t *header;
    const uint8_t *payload;
    uint32_t subject_length;
    uint32_t header_length;
    uint32_t payload_length;
    uint32_t size;     /* set by decode: the whole record in bytes */
    uint64_t checksum; /* set by decode: the trailing checksum */
};

/* Bytes a record with these lengths takes (uint64: callers compare with their limits
 * before narrowing). */
static inline uint64_t record_size_for(uint32_t subject_length, uint32_t header_length,
                                       uint32_t payload_length)
{
    return (uint64_t)RECORD_OVERHEAD_SIZE + subject_length + header_length + payload_length;
}

/* Checks the fields of `rec` against the rules of its kind (see record.c) without bytes:
 * 0, or -EINVAL naming nothing (callers validate their own inputs first; this pairs with
 * record_decode's checks). */
int record_check_fields(const struct record *rec);

/* Writes `rec` (fields valid, total size below 4 GiB) into `target`, which has room for
 * record_size_for(...) bytes, chaining its checksum from `seed`. Returns the checksum,
 * the seed of the next record. */
uint64_t record_encode(const struct record *rec, uint64_t seed, uint8_t *target);

/* Decodes the record at `source` with at most `available` bytes readable there, and
 * validates it: frame, field rules and checksum chained from `seed`. 0 on success (`out`
 * filled), -ENODATA when the size field reads zero (nothing was ever written here: the
 * clean end of a log), -EBADMSG for anything else that does not validate (a torn or
 * damaged record, or stale bytes). */
int record_decode(const uint8_t *source, size_t available, uint64_t seed, struct record *out);

/* Like record_decode without the checksum: for bytes already validated once (at append or
 * recovery) and read again through the index. The frame is still checked, so damage that
 * changed a length is reported as -EBADMSG instead of being followed. */
int record_view(const uint8_t *source, size_t available, struct record *out);

#endif
