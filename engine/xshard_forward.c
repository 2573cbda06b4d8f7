/* Cross-shard transport, forwarded publishes: encoding a publish into the records of
 * xshard_record.h (XSHARD_PUBLISH copied into each target's ring, or one shared struct
 * xshard_block named by an XSHARD_PUBLISH_REF per target), decoding them on the consumer,
 * and the block's reference count. See xshard.h for the protocol, who frees a block and
 * the memory orders of its count; the links, reserve/commit, overflow and drain are in
 * xshard.c, reached through xshard_internal.h.
 *
 * The one idea: a publish is written once, either inline per target when the whole record
 * is at most XSHARD_INLINE_BYTES_MAX bytes, or into a block every target shares, with only
 * the queue groups (which differ per target) in each target's records. Runs on shard
 * threads: the producer's to encode, the consumer's to decode; a block is the only memory
 * here two shards share, and the last holder frees it, on whichever shard that is. */
#include "engine/xshard.h"

#include "base/assert.h"
#include "engine/xshard_internal.h"

#include <stdlib.h>
#include <string.h>

/* A reference record with one queue group (head, u32 length, name) fits wherever the SUB
 * that announced the group did (head, subject, queue: config.c checks max_control_line
 * against the ring), the group's length word standing in for the subject of at least one
 * byte plus the two blanks and the sid of at least one byte that share the control line. */
STATIC_ASSERT(sizeof(struct xshard_publish_ref) == sizeof(struct xshard_interest),
              "a reference record's head is no larger than an interest record's");

/* ---- the shared block ---- */

/* sizeof the block and its body: what a reference to it pins. */
static uint64_t block_bytes(const struct xshard_block *block)
{
    return sizeof *block + block->body_length;
}

/* The block an XSHARD_PUBLISH_REF body names. */
static struct xshard_block *ref_block(const unsigned char *body, uint32_t length)
{
    struct xshard_publish_ref head;
    ASSERT(length >= sizeof head);
    memcpy(&head, body, sizeof head);
    ASSERT(head.block != NULL);
    return head.block;
}

/* Drops one reference; the last frees the block. acq_rel: see xshard.h ("Memory orders of
 * the count") — release after this holder's reads, acquire before the free. */
static void block_release(struct xshard_block *block)
{
    uint32_t before = atomic_fetch_sub_explicit(&block->references, 1, memory_order_acq_rel);
    ASSERT(before > 0);
    if (before == 1) {
        free(block);
    }
}

/* The block bytes a record pins: those of the block it names, 0 for any other type. */
uint64_t xshard_record_block_bytes(uint32_t type, const unsigned char *body, uint32_t length)
{
    return type == XSHARD_PUBLISH_REF ? block_bytes(ref_block(body, length)) : 0;
}

/* ---- forwarding a publish ---- */

static unsigned char *slice_put(unsigned char *target, struct proto_slice slice)
{
    if (slice.length > 0) {
        memcpy(target, slice.data, slice.length);
    }
    return target + slice.length;
}

/* Bytes of an XSHARD_PUBLISH body for `msg` without its groups. */
static uint64_t publish_length(const struct route_msg *msg)
{
    return sizeof(struct xshard_publish) + (uint64_t)msg->subject.length + msg->reply.length +
           msg->payload.length + msg->shown.length;
}

/* Writes the XSHARD_PUBLISH head, subject, reply and payload; returns where groups go. */
static unsigned char *publish_write(unsigned char *body, const struct route_msg *msg,
                                    uint32_t group_count)
{
    struct xshard_publish head = {
        .subject_length = msg->subject.length,
        .reply_length = msg->reply.length,
        .header_length = msg->header_length,
        .payload_length = msg->payload.length,
        .group_count = group_count,
        .shown_length = msg->shown.length,
    };
    memcpy(body, &head, sizeof head);
    body += sizeof head;
    body = slice_put(body, msg->subject);
    body = slice_put(body, msg->reply); /* may be empty, with no data pointer */
    body = slice_put(body, msg->payload);
    return slice_put(body, msg->shown);
}

/* Bytes the groups picked for `target` take in a record; their number in *count. */
static uint64_t groups_measure(const struct xshard_pick *picks, uint32_t pick_count, int target,
                               uint32_t *count)
{
    uint64_t length = 0;
    *count = 0;
    for (uint32_t p = 0; p < pick_count; p++) {
        if (picks[p].target == target) {
            length += sizeof(uint32_t) + picks[p].name_length;
            (*count)++;
        }
    }
    return length;
}

/* Writes the groups picked for `target` among picks[from, to). */
static void groups_write(unsigned char *body, const struct xshard_pick *picks, uint32_t from,
                         uint32_t to, int target)
{
    for (uint32_t p = from; p < to; p++) {
        if (picks[p].target == target) {
            uint32_t name_length = picks[p].name_length;
            memcpy(body, &name_length, sizeof name_length);
            memcpy(body + sizeof name_length, picks[p].name, name_length);
            body += sizeof name_length + name_length;
        }
    }
}

const unsigned char *xshard_group_next(const unsigned char *cursor, struct proto_slice *name)
{
    uint32_t name_length;
    memcpy(&name_length, cursor, sizeof name_length);
    name->data = (const char *)cursor + sizeof name_length;
    name->length = name_length;
    return cursor + sizeof name_length + name_length;
}

static enum xshard_forward forward_inline(struct xshard *x, int target,
                                          const struct route_msg *msg, uint64_t length,
                                          uint32_t group_count, const struct xshard_pick *picks,
                                          uint32_t pick_count)
{
    ASSERT(length <= XSHARD_INLINE_BYTES_MAX);
    bool overflowed;
    unsigned char *body =
        xshard_record_reserve(x, target, XSHARD_PUBLISH, (uint32_t)length, 0, &overflowed);
    if (body == NULL) {
        return XSHARD_FORWARD_NO_MEMORY;
    }
    groups_write(publish_write(body, msg, group_count), picks, 0, pick_count, target);
    xshard_record_commit(x, target, overflowed, 0);
    return overflowed ? XSHARD_FORWARD_WAITING : XSHARD_FORWARD_FLOWING;
}

/* The shared block of one publish, holding the producer's reference. NULL: no memory. */
static struct xshard_block *block_make(const struct route_msg *msg, uint64_t length)
{
    ASSERT(length < UINT32_MAX);
    struct xshard_block *block = malloc(sizeof *block + length);
    if (block == NULL) {
        return NULL;
    }
    /* not yet named anywhere, so a plain initialisation: the records that name it carry it
     * to the consumers through the ring's release/acquire */
    atomic_init(&block->references, 1);
    block->body_length = (uint32_t)length;
    publish_write(block->body, msg, 0);
    return block;
}

/* One target's reference records for a publish in `block`: its queue groups in as few
 * records of at most XSHARD_INLINE_BYTES_MAX bytes as they take (one when they fit), the
 * first also serving plain subscribers. Each record takes at least one group, so there are
 * at most max(1, groups) records. */
static enum xshard_forward forward_ref(struct xshard *x, int target,
                                       struct xshard_block *block,
                                       const struct xshard_pick *picks, uint32_t pick_count)
{
    enum xshard_forward worst = XSHARD_FORWARD_FLOWING;
    uint64_t bytes = block_bytes(block);
    uint32_t flags = 0;
    uint32_t from = 0;
    for (uint32_t records = 0; records <= pick_count; records++) {
        uint64_t length = sizeof(struct xshard_publish_ref);
        uint32_t count = 0;
        uint32_t to = from;
        for (; to < pick_count; to++) {
            if (picks[to].target != target) {
                continue;
            }
            uint64_t entry = sizeof(uint32_t) + picks[to].name_length;
            if (count > 0 && length + entry > XSHARD_INLINE_BYTES_MAX) {
                break; /* the rest continue in the next record */
            }
            length += entry;
            count++;
        }
        bool overflowed;
        unsigned char *body = xshard_record_reserve(x, target, XSHARD_PUBLISH_REF,
                                                    (uint32_t)length, bytes, &overflowed);
        if (body == NULL) {
            return XSHARD_FORWARD_NO_MEMORY; /* the records written keep their references */
        }
        /* relaxed: the producer holds a reference of its own until every record is written,
         * so the count cannot reach 0 meanwhile; the record carries the count to its
         * consumer through the ring's release/acquire */
        atomic_fetch_add_explicit(&block->references, 1, memory_order_relaxed);
        struct xshard_publish_ref head = {.block = block, .group_count = count, .flags = flags};
        memcpy(body, &head, sizeof head);
        groups_write(body + sizeof head, picks, from, to, target);
        xshard_record_commit(x, target, overflowed, bytes);
        if (overflowed) {
            worst = XSHARD_FORWARD_WAITING;
        }
        if (to == pick_count) {
            return worst;
        }
        from = to;
        flags = XSHARD_REF_F_GROUPS_ONLY;
    }
    UNREACHABLE(); /* every record after the first takes at least one of pick_count */
}

enum xshard_forward xshard_forward(struct xshard *x, const struct route_msg *msg,
                                   const uint8_t *targets, const struct xshard_pick *picks,
                                   uint32_t pick_count)
{
    uint64_t length = publish_length(msg);
    struct xshard_block *block = NULL;
    bool block_failed = false;
    enum xshard_forward worst = XSHARD_FORWARD_FLOWING;
    for (int target = 0; target < x->shard_count; target++) {
        if (!targets[target]) {
            continue;
        }
        ASSERT(target != x->index);
        uint32_t group_count;
        uint64_t groups_length = groups_measure(picks, pick_count, target, &group_count);
        enum xshard_forward result;
        if (length + groups_length <= XSHARD_INLINE_BYTES_MAX) {
            result = forward_inline(x, target, msg, length + groups_length, group_count,
                                    picks, pick_count);
        } else {
            if (block == NULL && !block_failed) {
                block = block_make(msg, length);
                block_failed = block == NULL;
                x->stats.blocks += block != NULL;
            }
            result = block == NULL ? XSHARD_FORWARD_NO_MEMORY
                                   : forward_ref(x, target, block, picks, pick_count);
        }
        if (result != XSHARD_FORWARD_NO_MEMORY) {
            x->stats.sent++;
        }
        worst = result > worst ? result : worst;
    }
    if (block != NULL) {
        block_release(block); /* the producer's: every record holds its own now */
    }
    return worst;
}

/* ---- consumer side ---- */

/* Decodes an XSHARD_PUBLISH body without its groups: the message, and where groups start. */
static const unsigned char *publish_read(const unsigned char *body, uint32_t length,
                                         struct route_msg *msg, uint32_t *group_count)
{
    struct xshard_publish head;
    ASSERT(length >= sizeof head);
    memcpy(&head, body, sizeof head);
    const char *text = (const char *)body + sizeof head;
    uint64_t text_length = (uint64_t)head.subject_length + head.reply_length +
                           head.payload_length + head.shown_length;
    ASSERT(sizeof head + text_length <= length);
    ASSERT(head.header_length <= head.payload_length);
    *msg = (struct route_msg){
        .subject = {.data = text, .length = head.subject_length},
        .reply = {.data = text + head.subject_length, .length = head.reply_length},
        .payload = {.data = text + head.subject_length + head.reply_length,
                    .length = head.payload_length},
        .header_length = head.header_length,
        .shown = {.data = text + head.subject_length + head.reply_length + head.payload_length,
                  .length = head.shown_length},
    };
    *group_count = head.group_count;
    return (const unsigned char *)text + text_length;
}

void xshard_publish_handle(struct xshard *x, const unsigned char *body, uint32_t length)
{
    struct xshard_forwarded forwarded = {.plain = true};
    forwarded.groups = publish_read(body, length, &forwarded.msg, &forwarded.group_count);
    forwarded.groups_length = (uint32_t)(body + length - forwarded.groups);
    x->stats.received++;
    x->handlers->forwarded(x->ctx, &forwarded);
}

/* A reference record: the message from its block, the groups from the record; then the
 * record's reference goes, and with it its bytes from the link's count. */
void xshard_publish_ref_handle(struct xshard *x, int origin, const unsigned char *body,
                               uint32_t length)
{
    struct xshard_publish_ref head;
    ASSERT(length >= sizeof head);
    memcpy(&head, body, sizeof head);
    struct xshard_block *block = head.block;
    struct xshard_forwarded forwarded = {
        .plain = (head.flags & XSHARD_REF_F_GROUPS_ONLY) == 0,
        .group_count = head.group_count,
        .groups = body + sizeof head,
        .groups_length = length - (uint32_t)sizeof head,
    };
    uint32_t block_groups;
    publish_read(block->body, block->body_length, &forwarded.msg, &block_groups);
    ASSERT(block_groups == 0);
    ASSERT(forwarded.plain || forwarded.group_count > 0);
    if (forwarded.plain) {
        x->stats.received++;
    }
    x->handlers->forwarded(x->ctx, &forwarded);
    /* relaxed: see blocks_admit (xshard.c); read before the drop, after which the block may
     * be gone */
    atomic_fetch_sub_explicit(&x->in_links[origin]->block_bytes, block_bytes(block),
                              memory_order_relaxed);
    block_release(block);
}

/* ---- teardown ---- */

/* Drops the block reference a record in a ring or a node holds, if any. */
void xshard_record_release(uint32_t type, const unsigned char *body, uint32_t length)
{
    if (type == XSHARD_PUBLISH_REF) {
        block_release(ref_block(body, length));
    }
}
