/* Cross-shard transport: see xshard.h for the records and the protocol. This file owns the
 * links and the rest of the transport's machinery: reserving and committing records,
 * the overflow queues and their budget, the block cap's accounting, flush, drain and
 * wake-up, interest announcements with their owed removals and acknowledgements, and
 * teardown. Encoding a forwarded publish, decoding it, and the shared block of a large one
 * are in xshard_forward.c; the two call each other through xshard_internal.h.
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
#include "engine/xshard_internal.h"

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

/* The bytes a node holds: its own, and the block it names, which it keeps alive. */
static uint64_t node_bytes(const struct xshard_overflow *node)
{
    return sizeof *node + node->length +
           xshard_record_block_bytes(node->type, node->body, node->length);
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

/* See xshard_internal.h. */
void *xshard_record_reserve(struct xshard *x, int target, uint32_t type, uint32_t length,
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

/* See xshard_internal.h. */
void xshard_record_commit(struct xshard *x, int target, bool overflowed, uint64_t bytes)
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
    return xshard_record_reserve(x, target, type, length, 0, overflowed);
}

void xshard_commit(struct xshard *x, int target, bool overflowed)
{
    xshard_record_commit(x, target, overflowed, 0);
}

int xshard_module_send(struct xshard *x, int target, int module, void *message)
{
    bool overflowed;
    struct xshard_module_record record = {.message = message, .module = module};
    void *body = xshard_reserve(x, target, XSHARD_MODULE, sizeof record, &overflowed);
    if (body == NULL) {
        return -ENOMEM;
    }
    memcpy(body, &record, sizeof record);
    xshard_commit(x, target, overflowed);
    return 0;
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
        uint64_t bytes = xshard_record_block_bytes(node->type, node->body, node->length);
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
                                        key.queue, key.queue_length, key.weak) < 0) {
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
                                uint32_t queue_length, bool weak)
{
    struct xshard_interest head = {
        .subject_length = subject_length,
        .queue_length = queue_length,
        .add = add ? 1 : 0,
        .weak = weak ? 1 : 0,
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
                    const char *queue, uint32_t queue_length, bool weak)
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
        interest_body_write(body, add, subject, subject_length, queue, queue_length, weak);
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
                                   head.queue_length, head.weak != 0);
    if (rc != 0) {
        LOG_ERROR("shard %d: out of memory applying interest from shard %d; messages for "
                  "%.*s may not reach it",
                  x->index, origin, (int)head.subject_length, subject);
    }
    x->applied_from[origin]++;
}

static void handle_record(struct xshard *x, int origin, const struct spsc_record *record)
{
    const unsigned char *body = spsc_record_body(record);
    switch ((enum xshard_type)record->type) {
    case XSHARD_PUBLISH:
        xshard_publish_handle(x, body, record->length);
        return;
    case XSHARD_PUBLISH_REF:
        xshard_publish_ref_handle(x, origin, body, record->length);
        return;
    case XSHARD_INTEREST:
        handle_interest(x, origin, body, record->length);
        return;
    case XSHARD_MODULE: {
        struct xshard_module_record module;
        ASSERT(record->length == sizeof module);
        memcpy(&module, body, sizeof module);
        x->handlers->module(x->ctx, origin, module.module, module.message);
        return;
    }
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

void xshard_overflow_free(struct xshard_link *link)
{
    while (link->overflow_head != NULL) {
        struct xshard_overflow *node = link->overflow_head;
        link->overflow_head = node->next;
        xshard_record_release(node->type, node->body, node->length);
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
        uint64_t bytes = xshard_record_block_bytes(record->type, body, record->length);
        /* relaxed: see blocks_admit */
        atomic_fetch_sub_explicit(&link->block_bytes, bytes, memory_order_relaxed);
        xshard_record_release(record->type, body, record->length);
        spsc_advance(ring, record);
    }
    spsc_consume_done(ring);
    ASSERT(atomic_load_explicit(&link->block_bytes, memory_order_relaxed) == 0);
}
