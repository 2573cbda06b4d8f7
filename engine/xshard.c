/* Cross-shard transport: see xshard.h for the records and the protocol.
 *
 * Producer and consumer halves both run on shard threads; the only memory two shards
 * share is each link's SPSC ring and each shard's `struct shard_shared`, with the memory
 * orders documented where they are declared. */
#include "engine/xshard.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/route.h"
#include "engine/shard.h"
#include "engine/uring_compat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Records handled per inbound ring per loop turn, so one busy peer cannot starve the
 * shard's own sockets; what is left is handled on the next turn. */
enum { DRAIN_BUDGET_RECORDS = 4096 };

/* A shard that keeps passing its overflow budget says so at most this often; the count of
 * connections paused is in the statistics. */
#define BUDGET_WARN_INTERVAL_NS (10LL * NS_PER_SEC)

/* Owed removals announced per loop turn (interest.h): a client that goes away with many
 * subscriptions while memory is short is caught up over several turns. */
enum { REMOVAL_BUDGET_RECORDS = 1024 };

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

static uint64_t budget_max_bytes(const struct shard *shard)
{
    int64_t max = shard->server->config->xshard_overflow_max;
    ASSERT(max >= 0);
    return (uint64_t)max;
}

bool xshard_budget_spent(const struct shard *shard)
{
    return shard->overflow_bytes > budget_max_bytes(shard);
}

uint64_t xshard_overflow_mark(const struct shard *shard)
{
    return shard->stats.xshard_overflowed;
}

/* Pauses `conn` for the budget, counting it; nothing when it is paused or closing. */
static void budget_pause(struct shard *shard, struct conn *conn)
{
    if (conn->flags & (CONN_F_PAUSED | CONN_F_CLOSING)) {
        return;
    }
    shard_conn_pause(shard, conn);
    shard->stats.xshard_budget_paused++;
}

/* The queues just went past the budget: no connection of the shard is read until they are
 * empty (see xshard.h for why all of them). Once per episode: the latch is cleared with
 * the queues. */
static void budget_pause_all(struct shard *shard)
{
    if (shard->overflow_paused_all) {
        return;
    }
    shard->overflow_paused_all = true;
    int64_t now_ns = clock_monotonic_ns();
    if (shard->overflow_warned_ns == 0 ||
        now_ns - shard->overflow_warned_ns >= BUDGET_WARN_INTERVAL_NS) {
        shard->overflow_warned_ns = now_ns;
        LOG_WARN("shard %d: %llu bytes wait for full cross-shard rings, past "
                 "--xshard_overflow_max %llu; no connection is read until they drain "
                 "(logged at most every %llds)",
                 shard->index, (unsigned long long)shard->overflow_bytes,
                 (unsigned long long)budget_max_bytes(shard),
                 (long long)(BUDGET_WARN_INTERVAL_NS / NS_PER_SEC));
    }
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        if (shard->conns.conns[i] != NULL) {
            budget_pause(shard, shard->conns.conns[i]);
        }
    }
}

void xshard_producer_hold(struct shard *shard, struct conn *conn, bool overflowed)
{
    if (conn == NULL) {
        return;
    }
    if (xshard_budget_spent(shard)) {
        budget_pause(shard, conn);
    } else if (overflowed) {
        shard_conn_pause(shard, conn);
    }
}

bool xshard_budget_hold(struct shard *shard, struct conn *conn)
{
    if (!xshard_budget_spent(shard)) {
        return false;
    }
    budget_pause(shard, conn);
    return true;
}

/* The bytes a node holds: its own, and a large publish's block, which only it refers to. */
static uint64_t node_bytes(const struct xshard_overflow *node)
{
    uint64_t bytes = sizeof *node + node->length;
    if (node->type == XSHARD_PUBLISH_REF) {
        const struct xshard_block *block;
        ASSERT(node->length == sizeof block);
        memcpy(&block, node->body, sizeof block);
        bytes += sizeof *block + block->body_length;
    }
    return bytes;
}

/* A written node joins the queue's byte count; passing the budget pauses everyone. */
static void overflow_charge(struct shard *shard, const struct xshard_overflow *node)
{
    uint64_t bytes = node_bytes(node);
    enum xshard_budget budget =
        xshard_budget_check(shard->overflow_bytes, bytes, budget_max_bytes(shard));
    shard->overflow_bytes += bytes;
    shard->stats.xshard_overflowed++;
    if (shard->overflow_bytes > shard->stats.xshard_overflow_peak_bytes) {
        shard->stats.xshard_overflow_peak_bytes = shard->overflow_bytes;
    }
    if (budget != XSHARD_BUDGET_WITHIN) {
        budget_pause_all(shard); /* once: BEYOND finds the latch set */
    }
}

/* A node left the queue (moved into its ring). Pairs with overflow_charge. */
static void overflow_discharge(struct shard *shard, const struct xshard_overflow *node)
{
    uint64_t bytes = node_bytes(node);
    ASSERT(shard->overflow_bytes >= bytes);
    shard->overflow_bytes -= bytes;
}

/* ---- producer side ---- */

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
    struct xshard_overflow *node = overflow_node_make(type, length);
    if (node == NULL) {
        return NULL;
    }
    overflow_append(link, node);
    *overflowed = true;
    return node->body;
}

void xshard_commit(struct shard *shard, int target, bool overflowed)
{
    struct xshard_link *link = shard->out_links[target];
    if (overflowed) {
        ASSERT(link->overflow_tail != NULL);
        shard->overflowing = true;
        overflow_charge(shard, link->overflow_tail);
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

/* Moves what waits toward one target into its ring, oldest first, while it has room. */
static void overflow_move(struct shard *shard, struct xshard_link *link)
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
        ASSERT(link->overflow_count > 0);
        link->overflow_count--;
        overflow_discharge(shard, node);
        free(node);
    }
}

/* Announces removals owed (interest.h), oldest first, until one fails again or the turn's
 * budget is spent. True while some are still owed. */
static bool removals_retry(struct shard *shard)
{
    struct interest *interest = &shard->interest;
    for (uint32_t n = 0; n < REMOVAL_BUDGET_RECORDS; n++) {
        struct interest_key key;
        bool counted;
        if (interest_removal_oldest(interest, &key, &counted) == NULL) {
            break;
        }
        if (!counted && xshard_announce(shard, false, key.subject, key.subject_length,
                                        key.queue, key.queue_length) < 0) {
            break; /* still short of memory: the next turn tries again */
        }
        interest_removal_done(interest);
        if (interest->removal_count == 0) {
            LOG_WARN("shard %d: every deferred interest removal is announced", shard->index);
        }
    }
    return interest->removal_count > 0;
}

/* True while an acknowledgement could not be queued (acks_send tries again). */
static bool acks_owed(const struct shard *shard)
{
    for (int peer = 0; peer < shard->shard_count; peer++) {
        if (peer != shard->index && shard->applied_acked[peer] != shard->applied_from[peer]) {
            return true;
        }
    }
    return false;
}

bool xshard_flush(struct shard *shard)
{
    bool waiting = shard->interest.removal_count > 0 && removals_retry(shard);
    for (int target = 0; target < shard->shard_count; target++) {
        if (target == shard->index) {
            continue;
        }
        struct xshard_link *link = shard->out_links[target];
        overflow_move(shard, link);
        waiting |= link->overflow_head != NULL;
        if (link->dirty) {
            link->dirty = false;
            spsc_publish(&link->ring);
            wake(shard, target);
        }
    }
    waiting |= acks_owed(shard);
    if (!waiting) {
        ASSERT(shard->overflow_bytes == 0); /* every charge was discharged */
        if (shard->overflow_paused_all) {
            shard->overflow_paused_all = false; /* the loop reads them all again */
            LOG_DEBUG("shard %d: cross-shard overflow drained; reading connections again",
                      shard->index);
        }
    }
    shard->overflowing = waiting;
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
int xshard_announce(struct shard *shard, bool add, const char *subject, uint32_t subject_length,
                    const char *queue, uint32_t queue_length)
{
    uint32_t length = (uint32_t)sizeof(struct xshard_interest) + subject_length + queue_length;
    struct xshard_overflow *spare_head = NULL;
    for (int target = 0; target < shard->shard_count; target++) {
        if (target == shard->index ||
            ring_takes(shard->out_links[target], XSHARD_INTEREST, length)) {
            continue;
        }
        struct xshard_overflow *node = overflow_node_make(XSHARD_INTEREST, length);
        if (node == NULL) {
            spares_free(spare_head);
            shard->stats.announce_no_memory++;
            return -ENOMEM;
        }
        node->next = spare_head;
        spare_head = node;
    }
    int result = 0;
    for (int target = 0; target < shard->shard_count; target++) {
        if (target == shard->index) {
            continue;
        }
        struct xshard_link *link = shard->out_links[target];
        bool overflowed = link->overflow_head != NULL;
        unsigned char *body =
            overflowed ? NULL : spsc_reserve(&link->ring, XSHARD_INTEREST, length);
        if (body == NULL) {
            ASSERT(spare_head != NULL); /* the first pass counted this target */
            struct xshard_overflow *node = spare_head;
            spare_head = node->next;
            node->next = NULL;
            if (!overflowed) {
                shard->stats.ring_full++;
            }
            overflow_append(link, node);
            overflowed = true;
            body = node->body;
            result = XSHARD_ANNOUNCE_WAITING;
        }
        interest_body_write(body, add, subject, subject_length, queue, queue_length);
        xshard_commit(shard, target, overflowed);
    }
    spares_free(spare_head); /* rings that made room meanwhile */
    shard->announce_sequence++;
    return result;
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
        if (body == NULL) {
            /* not lost: acknowledgements are cumulative, and applied_acked stays behind
             * applied_from, so the next drain sends this one or a later one (xshard_flush
             * keeps the loop polling meanwhile) */
            shard->stats.announce_no_memory++;
            continue;
        }
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
        /* a subscriber here that fell behind stops the drain at once (flow control, see
         * conn.h): what waits in the ring then holds back the publishers on `origin` */
        while (count < DRAIN_BUDGET_RECORDS && shard->conns.congested_active == 0 &&
               (record = spsc_peek(ring)) != NULL) {
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
