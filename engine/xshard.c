/* Cross-shard transport: see xshard.h for the records and the protocol.
 *
 * Producer and consumer halves both run on shard threads; the only memory two shards
 * share is each link's SPSC ring and block count, each shard's `struct shard_shared`, and
 * the blocks of large publishes, with the memory orders documented where they are declared.
 * Knows nothing of the shard that embeds it: what it needs done there goes through the
 * handlers the shard registered (struct xshard_handlers). */
#include "engine/xshard.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/interest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records handled per inbound ring per loop turn, so one busy peer cannot starve the
 * shard's own sockets; what is left is handled on the next turn. */
enum { DRAIN_BUDGET_RECORDS = 4096 };

/* A shard that keeps passing its overflow budget says so at most this often; the count of
 * connections paused is in the statistics. */
#define BUDGET_WARN_INTERVAL_NS (10LL * NS_PER_SEC)

/* A reference record with one queue group (head, u32 length, name) fits wherever the SUB
 * that announced the group did (head, subject, queue: config.c checks max_control_line
 * against the ring), the group's length word standing in for the subject of at least one
 * byte plus the two blanks and the sid of at least one byte that share the control line. */
STATIC_ASSERT(sizeof(struct xshard_publish_ref) == sizeof(struct xshard_interest),
              "a reference record's head is no larger than an interest record's");

/* Owed removals announced per loop turn (interest.h): a client that goes away with many
 * subscriptions while memory is short is caught up over several turns. */
enum { REMOVAL_BUDGET_RECORDS = 1024 };

/* ---- set-up and statistics ---- */

int xshard_init(struct xshard *x, const struct xshard_setup *setup)
{
    ASSERT(setup->shard_count >= 1);
    ASSERT(setup->index >= 0 && setup->index < setup->shard_count);
    ASSERT(setup->shard_count == 1 || setup->links != NULL);
    ASSERT(setup->overflow_max_bytes >= 0);
    const struct xshard_handlers *h = setup->handlers;
    ASSERT(h != NULL);
    ASSERT(h->forwarded != NULL && h->acked != NULL && h->wake != NULL);
    ASSERT(h->pause != NULL && h->pause_all != NULL && h->drain_held != NULL);
    memset(x, 0, sizeof *x);
    int n = setup->shard_count;
    x->index = setup->index;
    x->shard_count = n;
    x->shared = setup->shared;
    x->interest = setup->interest;
    x->handlers = h;
    x->ctx = setup->ctx;
    x->overflow_max_bytes = (uint64_t)setup->overflow_max_bytes;
    x->out_links = calloc((size_t)n, sizeof *x->out_links);
    x->in_links = calloc((size_t)n, sizeof *x->in_links);
    x->acked_by = calloc((size_t)n, sizeof *x->acked_by);
    x->applied_from = calloc((size_t)n, sizeof *x->applied_from);
    x->applied_acked = calloc((size_t)n, sizeof *x->applied_acked);
    if (!x->out_links || !x->in_links || !x->acked_by || !x->applied_from ||
        !x->applied_acked) {
        xshard_destroy(x);
        return -ENOMEM;
    }
    for (int peer = 0; peer < n; peer++) {
        if (peer != x->index) {
            x->out_links[peer] = &setup->links[x->index * n + peer];
            x->in_links[peer] = &setup->links[peer * n + x->index];
        }
    }
    return 0;
}

void xshard_destroy(struct xshard *x)
{
    for (int peer = 0; peer < x->shard_count && x->out_links != NULL; peer++) {
        if (x->out_links[peer] != NULL) {
            xshard_overflow_free(x->out_links[peer]);
        }
    }
    free(x->out_links);
    free(x->in_links);
    free(x->acked_by);
    free(x->applied_from);
    free(x->applied_acked);
    x->out_links = NULL;
    x->in_links = NULL;
    x->acked_by = NULL;
    x->applied_from = NULL;
    x->applied_acked = NULL;
    x->overflow_bytes = 0;
}

int xshard_stats_format(const struct xshard *x, char *text, size_t size)
{
    const struct xshard_stats *st = &x->stats;
    uint64_t block_bytes_now = 0;
    for (int peer = 0; peer < x->shard_count && x->out_links != NULL; peer++) {
        if (x->out_links[peer] != NULL) {
            /* relaxed: a statistic (see "The block cap" in xshard.h) */
            block_bytes_now +=
                atomic_load_explicit(&x->out_links[peer]->block_bytes, memory_order_relaxed);
        }
    }
    return snprintf(text, size,
                    "xshard_sent=%llu xshard_received=%llu ring_full=%llu wakeups_sent=%llu "
                    "xshard_no_memory=%llu xshard_overflowed=%llu xshard_overflow_bytes=%llu "
                    "xshard_overflow_peak_bytes=%llu xshard_budget_paused=%llu "
                    "announce_no_memory=%llu xshard_blocks=%llu xshard_block_capped=%llu "
                    "xshard_block_bytes=%llu",
                    (unsigned long long)st->sent, (unsigned long long)st->received,
                    (unsigned long long)st->ring_full, (unsigned long long)st->wakeups_sent,
                    (unsigned long long)st->no_memory, (unsigned long long)st->overflowed,
                    (unsigned long long)x->overflow_bytes,
                    (unsigned long long)st->overflow_peak_bytes,
                    (unsigned long long)st->budget_paused,
                    (unsigned long long)st->announce_no_memory, (unsigned long long)st->blocks,
                    (unsigned long long)st->block_capped, (unsigned long long)block_bytes_now);
}

/* ---- the overflow budget ---- */

enum xshard_budget xshard_budget_check(uint64_t queued_bytes, uint64_t record_bytes,
                                       uint64_t max_bytes)
{
    if (queued_bytes > max_bytes) {
        return XSHARD_BUDGET_BEYOND;
    }
    /* max_bytes - queued_bytes cannot wrap here, and the comparison cannot overflow */
    return record_bytes > max_bytes - queued_bytes ? XSHARD_BUDGET_PASSED
                                                   : XSHARD_BUDGET_WITHIN;
}

bool xshard_budget_spent(const struct xshard *x)
{
    return x->overflow_bytes > x->overflow_max_bytes;
}

uint64_t xshard_overflow_mark(const struct xshard *x)
{
    return x->stats.overflowed;
}

/* Pauses `conn` for the budget, counting it; nothing when it is paused or closing. */
static void budget_pause(struct xshard *x, struct conn *conn)
{
    if (x->handlers->pause(x->ctx, conn)) {
        x->stats.budget_paused++;
    }
}

/* The queues just went past the budget: no connection of the shard is read until they are
 * empty (see xshard.h for why all of them). Once per episode: the latch is cleared with
 * the queues. */
static void budget_pause_all(struct xshard *x)
{
    if (x->overflow_paused_all) {
        return;
    }
    x->overflow_paused_all = true;
    int64_t now_ns = clock_monotonic_ns();
    if (x->overflow_warned_ns == 0 || now_ns - x->overflow_warned_ns >= BUDGET_WARN_INTERVAL_NS) {
        x->overflow_warned_ns = now_ns;
        LOG_WARN("shard %d: %llu bytes wait for full cross-shard rings, past "
                 "--xshard_overflow_max %llu; no connection is read until they drain "
                 "(logged at most every %llds)",
                 x->index, (unsigned long long)x->overflow_bytes,
                 (unsigned long long)x->overflow_max_bytes,
                 (long long)(BUDGET_WARN_INTERVAL_NS / NS_PER_SEC));
    }
    x->stats.budget_paused += x->handlers->pause_all(x->ctx);
}

void xshard_producer_hold(struct xshard *x, struct conn *conn, bool overflowed)
{
    if (conn == NULL) {
        return;
    }
    if (xshard_budget_spent(x)) {
        budget_pause(x, conn);
    } else if (overflowed) {
        (void)x->handlers->pause(x->ctx, conn);
    }
}

bool xshard_accept_hold(struct xshard *x, struct conn *conn)
{
    if (!xshard_budget_spent(x)) {
        return false;
    }
    budget_pause(x, conn);
    return true;
}

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
static uint64_t record_block_bytes(uint32_t type, const unsigned char *body, uint32_t length)
{
    return type == XSHARD_PUBLISH_REF ? block_bytes(ref_block(body, length)) : 0;
}

/* The bytes a node holds: its own, and the block it names, which it keeps alive. */
static uint64_t node_bytes(const struct xshard_overflow *node)
{
    return sizeof *node + node->length + record_block_bytes(node->type, node->body, node->length);
}

/* A written node joins the queue's byte count; passing the budget pauses everyone. */
static void overflow_charge(struct xshard *x, const struct xshard_overflow *node)
{
    uint64_t bytes = node_bytes(node);
    enum xshard_budget budget =
        xshard_budget_check(x->overflow_bytes, bytes, x->overflow_max_bytes);
    x->overflow_bytes += bytes;
    x->stats.overflowed++;
    if (x->overflow_bytes > x->stats.overflow_peak_bytes) {
        x->stats.overflow_peak_bytes = x->overflow_bytes;
    }
    if (budget != XSHARD_BUDGET_WITHIN) {
        budget_pause_all(x); /* once: BEYOND finds the latch set */
    }
}

/* A node left the queue (moved into its ring). Pairs with overflow_charge. */
static void overflow_discharge(struct xshard *x, const struct xshard_overflow *node)
{
    uint64_t bytes = node_bytes(node);
    ASSERT(x->overflow_bytes >= bytes);
    x->overflow_bytes -= bytes;
}

/* ---- producer side ---- */

/* The link's ring may take a record naming a block of `bytes` more (0: no block): its
 * outstanding block bytes stay within the cap, the ring's size, or none are outstanding (a
 * block larger than the cap goes alone). See "The block cap" in xshard.h. */
static bool blocks_admit(struct xshard_link *link, uint64_t bytes)
{
    if (bytes == 0) {
        return true;
    }
    /* relaxed: pairs with nothing; only this thread adds, so the value is at least the
     * true one (the consumer's fetch_sub in handle_record may not be seen yet) */
    uint64_t outstanding = atomic_load_explicit(&link->block_bytes, memory_order_relaxed);
    uint64_t cap = link->ring.size;
    return outstanding == 0 || (outstanding <= cap && bytes <= cap - outstanding);
}

/* A record naming a block of `bytes` entered the ring. */
static void blocks_charge(struct xshard_link *link, uint64_t bytes)
{
    if (bytes > 0) {
        /* relaxed: see blocks_admit */
        atomic_fetch_add_explicit(&link->block_bytes, bytes, memory_order_relaxed);
    }
}

/* The link has nothing waiting and its ring has room for the record: it would go there.
 * spsc_reserve writes only the record's header, past the producer's tail, and perhaps a
 * filler the consumer skips, so a test without a commit leaves nothing to be read. */
static bool ring_takes(struct xshard_link *link, uint32_t type, uint32_t length)
{
    return link->overflow_head == NULL && spsc_reserve(&link->ring, type, length) != NULL;
}

static struct xshard_overflow *overflow_node_make(uint32_t type, uint32_t length)
{
    struct xshard_overflow *node = malloc(sizeof *node + length);
    if (node == NULL) {
        return NULL;
    }
    node->next = NULL;
    node->type = type;
    node->length = length;
    return node;
}

static void overflow_append(struct xshard_link *link, struct xshard_overflow *node)
{
    ASSERT(node->next == NULL);
    if (link->overflow_tail != NULL) {
        link->overflow_tail->next = node;
    } else {
        ASSERT(link->overflow_head == NULL);
        link->overflow_head = node;
    }
    link->overflow_tail = node;
    link->overflow_count++;
}

/* Room for a record toward `target` (see xshard_reserve); `bytes`: of the block it will
 * name, 0 for none. The ring takes it when nothing waits before it, the block cap allows
 * it and the ring has room. */
static void *record_reserve(struct xshard *x, int target, uint32_t type, uint32_t length,
                            uint64_t bytes, bool *overflowed)
{
    ASSERT(target != x->index);
    ASSERT(target >= 0 && target < x->shard_count);
    struct xshard_link *link = x->out_links[target];
    if (link->overflow_head == NULL) {
        if (!blocks_admit(link, bytes)) {
            x->stats.block_capped++;
        } else {
            void *body = spsc_reserve(&link->ring, type, length);
            if (body != NULL) {
                *overflowed = false;
                return body;
            }
            x->stats.ring_full++;
        }
    }
    struct xshard_overflow *node = overflow_node_make(type, length);
    if (node == NULL) {
        return NULL;
    }
    overflow_append(link, node);
    *overflowed = true;
    return node->body;
}

/* The record reserved last toward `target` is written; `bytes` as for record_reserve. */
static void record_commit(struct xshard *x, int target, bool overflowed, uint64_t bytes)
{
    struct xshard_link *link = x->out_links[target];
    if (overflowed) {
        ASSERT(link->overflow_tail != NULL);
        x->overflowing = true;
        overflow_charge(x, link->overflow_tail);
        return;
    }
    spsc_commit(&link->ring);
    blocks_charge(link, bytes);
    link->dirty = true;
}

void *xshard_reserve(struct xshard *x, int target, uint32_t type, uint32_t length,
                     bool *overflowed)
{
    ASSERT(type != XSHARD_PUBLISH_REF);
    return record_reserve(x, target, type, length, 0, overflowed);
}

void xshard_commit(struct xshard *x, int target, bool overflowed)
{
    record_commit(x, target, overflowed, 0);
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
           msg->payload.length;
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
    };
    memcpy(body, &head, sizeof head);
    body += sizeof head;
    body = slice_put(body, msg->subject);
    body = slice_put(body, msg->reply); /* may be empty, with no data pointer */
    return slice_put(body, msg->payload);
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
        record_reserve(x, target, XSHARD_PUBLISH, (uint32_t)length, 0, &overflowed);
    if (body == NULL) {
        return XSHARD_FORWARD_NO_MEMORY;
    }
    groups_write(publish_write(body, msg, group_count), picks, 0, pick_count, target);
    record_commit(x, target, overflowed, 0);
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
        unsigned char *body = record_reserve(x, target, XSHARD_PUBLISH_REF,
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
        record_commit(x, target, overflowed, bytes);
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

/* Sends one IORING_OP_MSG_RING to a shard that announced it sleeps. */
static void wake(struct xshard *x, int target)
{
    struct shard_shared *peer = &x->shared[target];
    /* seq_cst: orders the ring's tail store (spsc_publish) before this read of the peer's
     * flag; pairs with the fence between the peer's store of 1 and its ring check. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&peer->sleeping, memory_order_seq_cst) == 0) {
        return;
    }
    if (atomic_exchange_explicit(&peer->sleeping, 0, memory_order_seq_cst) == 0) {
        return; /* another producer woke it */
    }
    x->handlers->wake(x->ctx, peer->ring_fd);
    x->stats.wakeups_sent++;
}

/* Moves what waits toward one target into its ring, oldest first, while it has room. */
static void overflow_move(struct xshard *x, struct xshard_link *link)
{
    while (link->overflow_head != NULL) {
        struct xshard_overflow *node = link->overflow_head;
        uint64_t bytes = record_block_bytes(node->type, node->body, node->length);
        if (!blocks_admit(link, bytes)) {
            return;
        }
        void *body = spsc_reserve(&link->ring, node->type, node->length);
        if (body == NULL) {
            return;
        }
        memcpy(body, node->body, node->length);
        spsc_commit(&link->ring);
        blocks_charge(link, bytes); /* the node's reference moves into the ring with it */
        link->dirty = true;
        link->overflow_head = node->next;
        if (link->overflow_head == NULL) {
            link->overflow_tail = NULL;
        }
        ASSERT(link->overflow_count > 0);
        link->overflow_count--;
        overflow_discharge(x, node);
        free(node);
    }
}

/* Announces removals owed (interest.h), oldest first, until one fails again or the turn's
 * budget is spent. True while some are still owed. */
static bool removals_retry(struct xshard *x)
{
    struct interest *interest = x->interest;
    for (uint32_t n = 0; n < REMOVAL_BUDGET_RECORDS; n++) {
        struct interest_key key;
        bool counted;
        if (interest_removal_oldest(interest, &key, &counted) == NULL) {
            break;
        }
        if (!counted && xshard_announce(x, false, key.subject, key.subject_length,
                                        key.queue, key.queue_length) < 0) {
            break; /* still short of memory: the next turn tries again */
        }
        interest_removal_done(interest);
        if (interest->removal_count == 0) {
            LOG_WARN("shard %d: every deferred interest removal is announced", x->index);
        }
    }
    return interest->removal_count > 0;
}

/* True while an acknowledgement could not be queued (acks_send tries again). */
static bool acks_owed(const struct xshard *x)
{
    for (int peer = 0; peer < x->shard_count; peer++) {
        if (peer != x->index && x->applied_acked[peer] != x->applied_from[peer]) {
            return true;
        }
    }
    return false;
}

bool xshard_flush(struct xshard *x)
{
    bool waiting = x->interest->removal_count > 0 && removals_retry(x);
    for (int target = 0; target < x->shard_count; target++) {
        if (target == x->index) {
            continue;
        }
        struct xshard_link *link = x->out_links[target];
        overflow_move(x, link);
        waiting |= link->overflow_head != NULL;
        if (link->dirty) {
            link->dirty = false;
            spsc_publish(&link->ring);
            wake(x, target);
        }
    }
    waiting |= acks_owed(x);
    if (!waiting) {
        ASSERT(x->overflow_bytes == 0); /* every charge was discharged */
        if (x->overflow_paused_all) {
            x->overflow_paused_all = false; /* the loop reads them all again */
            LOG_DEBUG("shard %d: cross-shard overflow drained; reading connections again",
                      x->index);
        }
    }
    x->overflowing = waiting;
    return waiting;
}

static void interest_body_write(unsigned char *body, bool add, const char *subject,
                                uint32_t subject_length, const char *queue,
                                uint32_t queue_length)
{
    struct xshard_interest head = {
        .subject_length = subject_length,
        .queue_length = queue_length,
        .add = add ? 1 : 0,
    };
    memcpy(body, &head, sizeof head);
    memcpy(body + sizeof head, subject, subject_length);
    if (queue_length > 0) {
        memcpy(body + sizeof head + subject_length, queue, queue_length);
    }
}

static void spares_free(struct xshard_overflow *spare_head)
{
    while (spare_head != NULL) {
        struct xshard_overflow *next = spare_head->next;
        free(spare_head);
        spare_head = next;
    }
}

/* All or nothing: first the overflow nodes for every target whose ring will not take the
 * record are allocated (chained through their `next`), and only then is anything written.
 * A ring found with room keeps it until the second pass, since only this thread adds to
 * it and the consumer only frees; a ring found full may have room by then, and the spare
 * node is freed. */
int xshard_announce(struct xshard *x, bool add, const char *subject, uint32_t subject_length,
                    const char *queue, uint32_t queue_length)
{
    uint32_t length = (uint32_t)sizeof(struct xshard_interest) + subject_length + queue_length;
    struct xshard_overflow *spare_head = NULL;
    for (int target = 0; target < x->shard_count; target++) {
        if (target == x->index ||
            ring_takes(x->out_links[target], XSHARD_INTEREST, length)) {
            continue;
        }
        struct xshard_overflow *node = overflow_node_make(XSHARD_INTEREST, length);
        if (node == NULL) {
            spares_free(spare_head);
            x->stats.announce_no_memory++;
            return -ENOMEM;
        }
        node->next = spare_head;
        spare_head = node;
    }
    int result = 0;
    for (int target = 0; target < x->shard_count; target++) {
        if (target == x->index) {
            continue;
        }
        struct xshard_link *link = x->out_links[target];
        bool overflowed = link->overflow_head != NULL;
        unsigned char *body =
            overflowed ? NULL : spsc_reserve(&link->ring, XSHARD_INTEREST, length);
        if (body == NULL) {
            ASSERT(spare_head != NULL); /* the first pass counted this target */
            struct xshard_overflow *node = spare_head;
            spare_head = node->next;
            node->next = NULL;
            if (!overflowed) {
                x->stats.ring_full++;
            }
            overflow_append(link, node);
            overflowed = true;
            body = node->body;
            result = XSHARD_ANNOUNCE_WAITING;
        }
        interest_body_write(body, add, subject, subject_length, queue, queue_length);
        xshard_commit(x, target, overflowed);
    }
    spares_free(spare_head); /* rings that made room meanwhile */
    x->announce_sequence++;
    return result;
}

bool xshard_announcements_applied(const struct xshard *x, uint64_t sequence)
{
    for (int peer = 0; peer < x->shard_count; peer++) {
        if (peer != x->index && x->acked_by[peer] < sequence) {
            return false;
        }
    }
    return true;
}

static void handle_interest(struct xshard *x, int origin, const unsigned char *body,
                            uint32_t length)
{
    struct xshard_interest head;
    ASSERT(length >= sizeof head);
    memcpy(&head, body, sizeof head);
    ASSERT(length == sizeof head + head.subject_length + head.queue_length);
    const char *subject = (const char *)body + sizeof head;
    int rc = interest_remote_apply(x->interest, origin, head.add != 0, subject,
                                   head.subject_length, subject + head.subject_length,
                                   head.queue_length);
    if (rc != 0) {
        LOG_ERROR("shard %d: out of memory applying interest from shard %d; messages for "
                  "%.*s may not reach it",
                  x->index, origin, (int)head.subject_length, subject);
    }
    x->applied_from[origin]++;
}

/* Decodes an XSHARD_PUBLISH body without its groups: the message, and where groups start. */
static const unsigned char *publish_read(const unsigned char *body, uint32_t length,
                                         struct route_msg *msg, uint32_t *group_count)
{
    struct xshard_publish head;
    ASSERT(length >= sizeof head);
    memcpy(&head, body, sizeof head);
    const char *text = (const char *)body + sizeof head;
    uint64_t text_length =
        (uint64_t)head.subject_length + head.reply_length + head.payload_length;
    ASSERT(sizeof head + text_length <= length);
    ASSERT(head.header_length <= head.payload_length);
    *msg = (struct route_msg){
        .subject = {.data = text, .length = head.subject_length},
        .reply = {.data = text + head.subject_length, .length = head.reply_length},
        .payload = {.data = text + head.subject_length + head.reply_length,
                    .length = head.payload_length},
        .header_length = head.header_length,
    };
    *group_count = head.group_count;
    return (const unsigned char *)text + text_length;
}

static void handle_publish(struct xshard *x, const unsigned char *body, uint32_t length)
{
    struct xshard_forwarded forwarded = {.plain = true};
    forwarded.groups = publish_read(body, length, &forwarded.msg, &forwarded.group_count);
    forwarded.groups_length = (uint32_t)(body + length - forwarded.groups);
    x->stats.received++;
    x->handlers->forwarded(x->ctx, &forwarded);
}

/* A reference record: the message from its block, the groups from the record; then the
 * record's reference goes, and with it its bytes from the link's count. */
static void handle_publish_ref(struct xshard *x, int origin, const unsigned char *body,
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
    /* relaxed: see blocks_admit; read before the drop, after which the block may be gone */
    atomic_fetch_sub_explicit(&x->in_links[origin]->block_bytes, block_bytes(block),
                              memory_order_relaxed);
    block_release(block);
}

static void handle_record(struct xshard *x, int origin, const struct spsc_record *record)
{
    const unsigned char *body = spsc_record_body(record);
    switch ((enum xshard_type)record->type) {
    case XSHARD_PUBLISH:
        handle_publish(x, body, record->length);
        return;
    case XSHARD_PUBLISH_REF:
        handle_publish_ref(x, origin, body, record->length);
        return;
    case XSHARD_INTEREST:
        handle_interest(x, origin, body, record->length);
        return;
    case XSHARD_ACK: {
        uint64_t sequence;
        ASSERT(record->length == sizeof sequence);
        memcpy(&sequence, body, sizeof sequence);
        if (sequence > x->acked_by[origin]) {
            x->acked_by[origin] = sequence;
            x->handlers->acked(x->ctx);
        }
        return;
    }
    }
    LOG_ERROR("shard %d: unknown cross-shard record type %u from shard %d", x->index,
              record->type, origin);
    UNREACHABLE();
}

static void acks_send(struct xshard *x)
{
    for (int peer = 0; peer < x->shard_count; peer++) {
        if (peer == x->index || x->applied_from[peer] == x->applied_acked[peer]) {
            continue;
        }
        uint64_t sequence = x->applied_from[peer];
        bool overflowed;
        void *body = xshard_reserve(x, peer, XSHARD_ACK, sizeof sequence, &overflowed);
        if (body == NULL) {
            /* not lost: acknowledgements are cumulative, and applied_acked stays behind
             * applied_from, so the next drain sends this one or a later one (xshard_flush
             * keeps the loop polling meanwhile) */
            x->stats.announce_no_memory++;
            continue;
        }
        memcpy(body, &sequence, sizeof sequence);
        xshard_commit(x, peer, overflowed);
        x->applied_acked[peer] = sequence;
    }
}

bool xshard_drain(struct xshard *x)
{
    bool left = false;
    for (int origin = 0; origin < x->shard_count; origin++) {
        if (origin == x->index) {
            continue;
        }
        struct spsc *ring = &x->in_links[origin]->ring;
        uint32_t count = 0;
        const struct spsc_record *record;
        /* a subscriber here that fell behind stops the drain at once (flow control, see
         * conn.h): what waits in the ring then holds back the publishers on `origin` */
        while (count < DRAIN_BUDGET_RECORDS && !x->handlers->drain_held(x->ctx) &&
               (record = spsc_peek(ring)) != NULL) {
            handle_record(x, origin, record);
            spsc_advance(ring, record);
            count++;
        }
        if (count > 0) {
            spsc_consume_done(ring);
        }
        left |= count == DRAIN_BUDGET_RECORDS;
    }
    acks_send(x);
    return left;
}

bool xshard_inbound_pending(struct xshard *x)
{
    for (int origin = 0; origin < x->shard_count; origin++) {
        if (origin != x->index && spsc_peek(&x->in_links[origin]->ring) != NULL) {
            return true;
        }
    }
    return false;
}

/* ---- teardown ---- */

/* Drops the block reference a record in a ring or a node holds, if any. */
static void record_release(uint32_t type, const unsigned char *body, uint32_t length)
{
    if (type == XSHARD_PUBLISH_REF) {
        block_release(ref_block(body, length));
    }
}

void xshard_overflow_free(struct xshard_link *link)
{
    while (link->overflow_head != NULL) {
        struct xshard_overflow *node = link->overflow_head;
        link->overflow_head = node->next;
        record_release(node->type, node->body, node->length);
        free(node);
    }
    link->overflow_tail = NULL;
    link->overflow_count = 0;
}

void xshard_link_release(struct xshard_link *link)
{
    struct spsc *ring = &link->ring;
    if (ring->bytes == NULL) {
        return;
    }
    (void)spsc_publish(ring); /* records committed after the producer's last flush */
    const struct spsc_record *record;
    while ((record = spsc_peek(ring)) != NULL) {
        const unsigned char *body = spsc_record_body(record);
        uint64_t bytes = record_block_bytes(record->type, body, record->length);
        /* relaxed: see blocks_admit */
        atomic_fetch_sub_explicit(&link->block_bytes, bytes, memory_order_relaxed);
        record_release(record->type, body, record->length);
        spsc_advance(ring, record);
    }
    spsc_consume_done(ring);
    ASSERT(atomic_load_explicit(&link->block_bytes, memory_order_relaxed) == 0);
}
