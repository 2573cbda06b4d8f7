/* The records shards send each other through their SPSC rings (see xshard.h for the
 * transport): types only, so that code which needs their sizes (flag validation, tests)
 * depends on nothing else of the engine.
 *
 * Records (body layouts, host byte order: both ends are one process):
 *   XSHARD_PUBLISH   struct xshard_publish, then subject, reply, payload (header block
 *                    first), the shown subject (route_msg.shown; usually none), then per queue group the target must serve: u32 length, name.
 *                    At most XSHARD_INLINE_BYTES_MAX bytes in all.
 *   XSHARD_PUBLISH_REF  struct xshard_publish_ref, then per queue group the target must
 *                    serve: u32 length, name. The message is in the block it names, one
 *                    per publish, shared by every target: struct xshard_block, whose body
 *                    is an XSHARD_PUBLISH body with group_count 0 (no groups: those differ
 *                    per target and stay in the record). A record holds one reference to
 *                    the block. When a target's groups do not fit one record of
 *                    XSHARD_INLINE_BYTES_MAX bytes, they continue in the records right
 *                    after it, flagged XSHARD_REF_F_GROUPS_ONLY, each with a reference of
 *                    its own; a record always takes at least one group, and one group
 *                    (name < max_control_line, being a SUB's argument) fits whatever ring
 *                    config.c allows, as an XSHARD_INTEREST body does.
 *   XSHARD_INTEREST  struct xshard_interest, then subject, then queue
 *   XSHARD_ACK       u64: interest announcements of the receiver applied so far
 *   XSHARD_MODULE    struct xshard_module_record: a message of a shard module
 *                    (shard_module.h, which by its index in the server's list) to its
 *                    instance on the receiving shard, heap-allocated by the sender and
 *                    owned by the receiver from then on (it frees it) */
#ifndef IONATS_ENGINE_XSHARD_RECORD_H
#define IONATS_ENGINE_XSHARD_RECORD_H

#include <stdatomic.h>
#include <stdint.h>

enum xshard_type {
    XSHARD_PUBLISH = 1,
    XSHARD_PUBLISH_REF = 2,
    XSHARD_INTEREST = 3,
    XSHARD_ACK = 4,
    XSHARD_MODULE = 5,
};

struct xshard_publish {
    uint32_t subject_length;
    uint32_t reply_length;
    uint32_t header_length;
    uint32_t payload_length;
    uint32_t group_count;
    uint32_t shown_length; /* route_msg.shown, written after the payload (0: none) */
};

struct xshard_module_record {
    void *message;
    int module; /* its index in struct server's modules */
};

struct xshard_interest {
    uint32_t subject_length;
    uint32_t queue_length;
    uint32_t add; /* 1: first local subscription; 0: last one gone */
    uint32_t weak; /* 1: interest across a leafnode link (interest.h's remote_interest) */
};

/* A large publish, written once and shared by every target shard's XSHARD_PUBLISH_REF
 * records. Shared, via its reference count (see xshard.h for the memory orders and who
 * frees it); immutable once the producer has published the first record naming it. */
struct xshard_block {
    _Atomic uint32_t references; /* the records (ring or overflow) naming it, plus the
                                  * producer's own while it writes them */
    uint32_t body_length;
    unsigned char body[];        /* an XSHARD_PUBLISH body with no groups */
};

/* The head of an XSHARD_PUBLISH_REF body. */
struct xshard_publish_ref {
    struct xshard_block *block; /* one reference, held by this record */
    uint32_t group_count;       /* queue groups after this head */
    uint32_t flags;             /* XSHARD_REF_F_* */
};

enum {
    /* The plain subscribers got the message from the record before (same publish, same
     * target): serve only the queue groups named here. */
    XSHARD_REF_F_GROUPS_ONLY = 1,
};

/* Largest publish body copied into a ring; larger ones travel by reference, and so do the
 * queue groups of one reference record (see above). Well below a ring's largest record, so
 * a ring holds many. */
enum { XSHARD_INLINE_BYTES_MAX = 16 * 1024 };

#endif
