/* The records shards send each other through their SPSC rings (see xshard.h for the
 * transport): types only, so that code which needs their sizes (flag validation, tests)
 * depends on nothing else of the engine.
 *
 * Records (body layouts, host byte order: both ends are one process):
 *   XSHARD_PUBLISH   struct xshard_publish, then subject, reply, payload (header block
 *                    first), then per queue group the target must serve: u32 length, name
 *   XSHARD_PUBLISH_REF  one pointer to a heap block holding an XSHARD_PUBLISH body, for
 *                    messages too large to copy into a ring
 *   XSHARD_INTEREST  struct xshard_interest, then subject, then queue
 *   XSHARD_ACK       u64: interest announcements of the receiver applied so far */
#ifndef IONATS_ENGINE_XSHARD_RECORD_H
#define IONATS_ENGINE_XSHARD_RECORD_H

#include <stdatomic.h>
#include <stdint.h>

enum xshard_type {
    XSHARD_PUBLISH = 1,
    XSHARD_PUBLISH_REF = 2,
    XSHARD_INTEREST = 3,
    XSHARD_ACK = 4,
};

struct xshard_publish {
    uint32_t subject_length;
    uint32_t reply_length;
    uint32_t header_length;
    uint32_t payload_length;
    uint32_t group_count;
    uint32_t reserved;
};

struct xshard_interest {
    uint32_t subject_length;
    uint32_t queue_length;
    uint32_t add; /* 1: first local subscription; 0: last one gone */
    uint32_t reserved;
};

/* A large publish for one target shard (see xshard.h). */
struct xshard_block {
    _Atomic uint32_t references; /* acq_rel decrement: the last one frees the block; one
                                  * reference today, one block per target */
    uint32_t body_length;
    unsigned char body[];        /* an XSHARD_PUBLISH body */
};

/* Largest publish body copied into a ring; larger ones travel by reference. Well below a
 * ring's largest record, so a ring holds many. */
enum { XSHARD_INLINE_BYTES_MAX = 16 * 1024 };

#endif
