/* Cross-shard transport: see xshard.h for the records and the protocol.
 *
 * Producer and consumer halves both run on shard threads; the only memory two shards
 * share is each link's SPSC ring and each shard's `struct shard_shared`, with the memory
 * orders documented where they are declared. */
#include "engine/xshard.h"

#include "base/assert.h"
#include "base/log.h"
#include "engine/route.h"
#include "engine/shard.h"
#include "engine/uring_compat.h"

#include <stdlib.h>
#include <string.h>

/* Records handled per inbound ring per loop turn, so one busy peer cannot starve the
 * shard's own sockets; what is left is handled on the next turn. */
enum { DRAIN_BUDGET_RECORDS = 4096 };

void *xshard_reserve(struct shard *shard, int target, uint32_t type, uint32_t length,
                     bool *overflowed)
{
    ASSERT(target != shard->index);
    ASSERT(target >= 0 && target < shard->shard_count);
    struct xshard_link *link = shard->out_links[target];
    if (link->overflow_head == NULL) {
        void *body = spsc_reserve(&link->ring, type, length);
        if (body != NULL) {
            *overflowed = false;
            return body;
        }
        shard->stats.ring_full++;
    }
    struct xshard_overflow *node = malloc(sizeof *node + length);
    if (node == NULL) {
        return NULL;
    }
    node->next = NULL;
    node->type = type;
    node->length = length;
    if (link->overflow_tail != NULL) {
        link->overflow_tail->next = node;
    } else {
        link->overflow_head = node;
    }
    link->overflow_tail = node;
    link->overflow_count++;
    *overflowed = true;
    return node->body;
}

void xshard_commit(struct shard *shard, int target, bool overflowed)
{
    struct xshard_link *link = shard->out_links[target];
    if (overflowed) {
        shard->overflowing = true;
        return;
    }
    spsc_commit(&link->ring);
    link->dirty = true;
}

/* Sends one IORING_OP_MSG_RING to a shard that announced it sleeps. */
static void wake(struct shard *shard, int target)
{
    struct shard_shared *peer = &shard->server->shared[target];
    /* seq_cst: orders the ring's tail store (spsc_publish) before this read of the peer's
     * flag; pairs with the fence between the peer's store of 1 and its ring check. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&peer->sleeping, memory_order_seq_cst) == 0) {
        return;
    }
    if (atomic_exchange_explicit(&peer->sleeping, 0, memory_order_seq_cst) == 0) {
        return; /* another producer woke it */
    }
    shard_wake_send(shard, peer->ring_fd);
    shard->stats.wakeups_sent++;
}

static void overflow_move(struct xshard_link *link)
{
    while (link->overflow_head != NULL) {
        struct xshard_overflow *node = link->overflow_head;
        void *body = spsc_reserve(&link->ring, node->type, node->length);
        if (body == NULL) {
            return;
        }
        memcpy(body, node->body, node->length);
        spsc_commit(&link->ring);
        link->dirty = true;
        link->overflow_head = node->next;
        if (link->overflow_head == NULL) {
            link->overflow_tail = NULL;
        }
        link->overflow_count--;
        free(node);
    }
}

bool xshard_flush(struct shard *shard)
{
    bool waiting = false;
    for (int target = 0; target < shard->shard_count; target++) {
        if (target == shard->index) {
            continue;
        }
        struct xshard_link *link = shard->out_links[target];
        overflow_move(link);
        waiting |= link->overflow_head != NULL;
        if (link->dirty) {
            link->dirty = false;
            spsc_publish(&link->ring);
            wake(shard, target);
        }
    }
    shard->overflowing = waiting;
    return waiting;
}

void xshard_announce(struct shard *shard, bool add, const char *subject,
                     uint32_t subject_length, const char *queue, uint32_t queue_length)
{
    uint32_t length = (uint32_t)sizeof(struct xshard_interest) + subject_length + queue_length;
    for (int target = 0; target < shard->shard_count; target++) {
        if (target == shard->index) {
            continue;
        }
        bool overflowed;
        unsigned char *body = xshard_reserve(shard, target, XSHARD_INTEREST, length, &overflowed);
        /* an announcement that cannot be queued would leave the shards disagreeing forever */
        ASSERT(body != NULL);
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
        xshard_commit(shard, target, overflowed);
    }
    shard->announce_sequence++;
}

bool xshard_announcements_applied(const struct shard *shard, uint64_t sequence)
{
    for (int peer = 0; peer < shard->shard_count; peer++) {
        if (peer != shard->index && shard->acked_by[peer] < sequence) {
            return false;
        }
    }
    return true;
}

static void handle_interest(struct shard *shard, int origin, const unsigned char *body,
                            uint32_t length)
{
    struct xshard_interest head;
    ASSERT(length >= sizeof head);
    memcpy(&head, body, sizeof head);
    ASSERT(length == sizeof head + head.subject_length + head.queue_length);
    const char *subject = (const char *)body + sizeof head;
    int rc = interest_remote_apply(&shard->interest, origin, head.add != 0, subject,
                                   head.subject_length, subject + head.subject_length,
                                   head.queue_length);
    if (rc != 0) {
        LOG_ERROR("shard %d: out of memory applying interest from shard %d; messages for "
                  "%.*s may not reach it",
                  shard->index, origin, (int)head.subject_length, subject);
    }
    shard->applied_from[origin]++;
}

static void handle_record(struct shard *shard, int origin, const struct spsc_record *record)
{
    const unsigned char *body = spsc_record_body(record);
    switch ((enum xshard_type)record->type) {
    case XSHARD_PUBLISH:
        route_forwarded(shard, body, record->length);
        return;
    case XSHARD_PUBLISH_REF: {
        struct xshard_block *block;
        ASSERT(record->length == sizeof block);
        memcpy(&block, body, sizeof block);
        route_forwarded(shard, block->body, block->body_length);
        /* acq_rel: the last holder sees every other holder's reads done before it frees */
        if (atomic_fetch_sub_explicit(&block->references, 1, memory_order_acq_rel) == 1) {
            free(block);
        }
        return;
    }
    case XSHARD_INTEREST:
        handle_interest(shard, origin, body, record->length);
        return;
    case XSHARD_ACK: {
        uint64_t sequence;
        ASSERT(record->length == sizeof sequence);
        memcpy(&sequence, body, sizeof sequence);
        shard_acked(shard, origin, sequence);
        return;
    }
    }
    LOG_ERROR("shard %d: unknown cross-shard record type %u from shard %d", shard->index,
              record->type, origin);
    UNREACHABLE();
}

static void acks_send(struct shard *shard)
{
    for (int peer = 0; peer < shard->shard_count; peer++) {
        if (peer == shard->index || shard->applied_from[peer] == shard->applied_acked[peer]) {
            continue;
        }
        uint64_t sequence = shard->applied_from[peer];
        bool overflowed;
        void *body = xshard_reserve(shard, peer, XSHARD_ACK, sizeof sequence, &overflowed);
        ASSERT(body != NULL); /* a lost acknowledgement would hold PONGs forever */
        memcpy(body, &sequence, sizeof sequence);
        xshard_commit(shard, peer, overflowed);
        shard->applied_acked[peer] = sequence;
    }
}

bool xshard_drain(struct shard *shard)
{
    bool left = false;
    for (int origin = 0; origin < shard->shard_count; origin++) {
        if (origin == shard->index) {
            continue;
        }
        struct spsc *ring = &shard->in_links[origin]->ring;
        uint32_t count = 0;
        const struct spsc_record *record;
        while (count < DRAIN_BUDGET_RECORDS && (record = spsc_peek(ring)) != NULL) {
            handle_record(shard, origin, record);
            spsc_advance(ring, record);
            count++;
        }
        if (count > 0) {
            spsc_consume_done(ring);
        }
        left |= count == DRAIN_BUDGET_RECORDS;
    }
    acks_send(shard);
    return left;
}

bool xshard_inbound_pending(struct shard *shard)
{
    for (int origin = 0; origin < shard->shard_count; origin++) {
        if (origin != shard->index && spsc_peek(&shard->in_links[origin]->ring) != NULL) {
            return true;
        }
    }
    return false;
}
