/* A consumer's deliveries: choosing the next message (a redelivery first, else the next
 * committed message after the cursor that matches the filters), sending it with its
 * $JS.ACK reply, the ring of pending messages that makes the ack floor, redelivery after
 * ack_wait or along backoff, max_deliver, and the exact count of what is left.
 *
 * The one idea: the pending ring is sorted by stream sequence because first deliveries
 * follow the stream; finding an entry is a binary search, the ack floor is the ring's
 * first entry not acked, and acked entries in the middle are compacted away once they
 * are half the ring, so the ring stays within twice the messages really pending. The count
 * of messages left (num_pending, in every ack reply) is kept by +1 on each matching append
 * and -1 on each first delivery, and recounted exactly whenever the store says it removed
 * messages since the last count. A pull consumer takes the message first and then asks
 * js_consumer_priority.c which waiting request it goes to, and every consumer asks
 * js_consumer_pace.c whether it may go now (no: it is put back). Owner shard's thread only. */
#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/js_consumer.h"
#include "engine/route.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "engine/xshard.h"
#include "store/stream_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the pending ring ---- */

static struct js_consumer_pending *ring_at(const struct js_consumer *consumer, uint32_t i)
{
    return &consumer->pending[(consumer->pending_head + i) & (consumer->pending_capacity - 1)];
}

struct js_consumer_pending *js_consumer_pending_find(struct js_consumer *consumer,
                                                     uint64_t sseq)
{
    uint32_t low = 0;
    uint32_t high = consumer->pending_length;
    while (low < high) {
        uint32_t mid = low + (high - low) / 2;
        struct js_consumer_pending *entry = ring_at(consumer, mid);
        if (entry->sseq == sseq) {
            return entry->acked ? NULL : entry;
        }
        if (entry->sseq < sseq) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    return NULL;
}

/* Rewrites the ring from index 0 without its acked entries (and into `capacity`). */
static int ring_rebuild(struct js_consumer *consumer, uint32_t capacity)
{
    struct js_consumer_pending *ring = malloc((size_t)capacity * sizeof *ring);
    if (ring == NULL) {
        return -ENOMEM;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < consumer->pending_length; i++) {
        const struct js_consumer_pending *entry = ring_at(consumer, i);
        if (!entry->acked) {
            ring[kept++] = *entry;
        }
    }
    ASSERT(kept == consumer->pending_count);
    free(consumer->pending);
    consumer->pending = ring;
    consumer->pending_capacity = capacity;
    consumer->pending_head = 0;
    consumer->pending_length = kept;
    return 0;
}

static int ring_push(struct js_consumer *consumer, const struct js_consumer_pending *entry)
{
    if (consumer->pending_length == consumer->pending_capacity) {
        uint32_t capacity = consumer->pending_capacity;
        if (consumer->pending_count * 2 > capacity || capacity == 0) {
            capacity = capacity != 0 ? capacity * 2 : 16;
        }
        if (ring_rebuild(consumer, capacity) != 0) {
            return -ENOMEM;
        }
    }
    ASSERT(consumer->pending_length == 0 ||
           ring_at(consumer, consumer->pending_length - 1)->sseq < entry->sseq);
    *ring_at(consumer, consumer->pending_length) = *entry;
    consumer->pending_length++;
    consumer->pending_count++;
    return 0;
}

/* The ack floor follows the first entry still pending. */
static void floor_advance(struct js_consumer *consumer)
{
    while (consumer->pending_length > 0 && ring_at(consumer, 0)->acked) {
        consumer->pending_head = (consumer->pending_head + 1) & (consumer->pending_capacity - 1);
        consumer->pending_length--;
    }
    if (consumer->pending_length == 0) {
        consumer->ack_floor_dseq = consumer->dseq;
        consumer->ack_floor_sseq = consumer->delivered_sseq;
    } else {
        const struct js_consumer_pending *first = ring_at(consumer, 0);
        consumer->ack_floor_dseq = first->dseq - 1;
        consumer->ack_floor_sseq = first->sseq - 1;
    }
}

void js_consumer_pending_done(struct js_consumer *consumer, struct js_consumer_pending *entry,
                              bool acked)
{
    ASSERT(!entry->acked);
    uint64_t sseq = entry->sseq;
    entry->acked = true;
    consumer->pending_count--;
    if (entry->deliveries > 1) {
        consumer->redelivered_count--;
    }
    bool first = entry == ring_at(consumer, 0);
    if (first) {
        floor_advance(consumer);
        consumer->ack_floor_ns = js_now_ns();
    } else if (consumer->pending_length >= 64 &&
               consumer->pending_count * 2 < consumer->pending_length) {
        (void)ring_rebuild(consumer, consumer->pending_capacity); /* no memory: later */
    }
    js_consumer_mark_dirty(consumer);
    js_consumer_wake(consumer); /* below max_ack_pending again, maybe */
    if (acked) {
        js_consumer_retention_acked(consumer, sseq);
    }
}

void js_consumer_redeliver_queue(struct js_consumer *consumer,
                                 struct js_consumer_pending *entry)
{
    if (entry->queued) {
        return;
    }
    if (consumer->redeliver_count == consumer->redeliver_capacity) {
        /* grown to twice what is really queued at most: stale sequences (acked, or given
         * more time since) are dropped when the ring is rewritten */
        uint32_t capacity = consumer->redeliver_capacity != 0 ? consumer->redeliver_capacity * 2
                                                              : 16;
        uint64_t *grown = malloc((size_t)capacity * sizeof *grown);
        if (grown == NULL) {
            return; /* its deadline passes again: the timer retries */
        }
        uint32_t kept = 0;
        for (uint32_t i = 0; i < consumer->redeliver_count; i++) {
            uint64_t sseq = consumer->redeliver[(consumer->redeliver_head + i) %
                                                consumer->redeliver_capacity];
            const struct js_consumer_pending *queued = js_consumer_pending_find(consumer, sseq);
            if (queued != NULL && queued->queued) {
                grown[kept++] = sseq;
            }
        }
        consumer->redeliver_count = kept;
        free(consumer->redeliver);
        consumer->redeliver = grown;
        consumer->redeliver_capacity = capacity;
        consumer->redeliver_head = 0;
    }
    consumer->redeliver[(consumer->redeliver_head + consumer->redeliver_count) %
                        consumer->redeliver_capacity] = entry->sseq;
    consumer->redeliver_count++;
    entry->queued = true;
    js_consumer_wake(consumer);
}

int64_t js_consumer_ack_deadline(const struct js_consumer *consumer, uint32_t deliveries,
                                 int64_t now_ns)
{
    const struct js_consumer_config *config = &consumer->config;
    int64_t wait = config->ack_wait_ns > 0 ? config->ack_wait_ns : JS_CONSUMER_ACK_WAIT_DEFAULT_NS;
    if (config->backoff_count > 0 && deliveries > 0) {
        size_t index = deliveries - 1 < config->backoff_count ? deliveries - 1
                                                               : config->backoff_count - 1;
        wait = config->backoff_ns[index];
    }
    return now_ns + wait;
}

/* ---- what is left to deliver ---- */

uint64_t js_consumer_num_pending(struct js_consumer *consumer)
{
    struct stream_store_counts counts;
    stream_store_counts_get(consumer->stream->store, &counts);
    if (!consumer->num_pending_valid || counts.removed_count != consumer->removed_seen) {
        consumer->num_pending = js_consumer_recount(consumer, &counts);
        consumer->removed_seen = counts.removed_count;
        consumer->num_pending_valid = true;
    }
    return consumer->num_pending;
}

void js_consumers_removed(struct js_stream *stream, uint64_t seq, const char *subject,
                          size_t length)
{
    for (size_t i = 0; i < stream->consumer_count; i++) {
        struct js_consumer *consumer = stream->consumers[i];
        if (!consumer->num_pending_valid) {
            continue;
        }
        if (subject == NULL || consumer->lps_index < consumer->lps_count) {
            consumer->num_pending_valid = false; /* recounted when next asked */
            continue;
        }
        consumer->removed_seen++; /* this removal is accounted for */
        if (seq >= consumer->next_sseq && consumer->num_pending > 0 &&
            js_consumer_matches(consumer, subject, length)) {
            consumer->num_pending--;
        }
    }
}

void js_consumer_message_added(struct js_consumer *consumer, const char *subject,
                               size_t length)
{
    if (consumer->num_pending_valid &&
        js_consumer_matches(consumer, subject, length)) {
        consumer->num_pending++;
    }
}

/* ---- choosing and sending ---- */

/* The next committed message after the cursor that matches: 0, -ENOENT when none yet,
 * -EAGAIN when the scan budget ran out first. */
/* last_per_subject's first pass: the next last message still held, and the cursor after
 * it. 0, or -ENOENT when the pass is over. */
static int next_lps(struct js_consumer *consumer, struct stream_store_msg *msg)
{
    while (consumer->lps_index < consumer->lps_count) {
        uint64_t seq = consumer->lps[consumer->lps_index++];
        bool held = stream_store_get(consumer->stream->store, seq, msg) == 0;
        consumer->next_sseq = consumer->lps_index < consumer->lps_count
                                  ? consumer->lps[consumer->lps_index]
                                  : consumer->lps_resume;
        if (held) {
            return 0;
        }
    }
    return -ENOENT;
}

static int next_new(struct js_consumer *consumer, struct stream_store_msg *msg, int *scan)
{
    if (consumer->lps_index < consumer->lps_count && next_lps(consumer, msg) == 0) {
        return 0; /* already on disk: they were there when the consumer was made */
    }
    uint64_t limit = consumer->stream->committed_seq;
    while (consumer->next_sseq <= limit) {
        if (*scan <= 0) {
            return -EAGAIN;
        }
        if (stream_store_next(consumer->stream->store, consumer->next_sseq, msg) != 0 ||
            msg->seq > limit) {
            return -ENOENT;
        }
        (*scan)--;
        if (js_consumer_matches(consumer, (const char *)msg->subject,
                                       msg->subject_length)) {
            return 0;
        }
        consumer->next_sseq = msg->seq + 1;
    }
    return -ENOENT;
}

/* The next redelivery still due: 0 with *entry and *msg, or -ENOENT. */
static int next_redelivery(struct js_consumer *consumer, struct js_consumer_pending **out,
                           struct stream_store_msg *msg)
{
    while (consumer->redeliver_count > 0) {
        uint64_t sseq = consumer->redeliver[consumer->redeliver_head];
        consumer->redeliver_head = (consumer->redeliver_head + 1) % consumer->redeliver_capacity;
        consumer->redeliver_count--;
        struct js_consumer_pending *entry = js_consumer_pending_find(consumer, sseq);
        if (entry == NULL || !entry->queued) {
            continue; /* acked since, or given more time (a NAK with a delay, +WPI) */
        }
        entry->queued = false;
        if (stream_store_get(consumer->stream->store, sseq, msg) != 0) {
            js_consumer_pending_done(consumer, entry, false); /* gone from the stream */
            continue;
        }
        int64_t max = consumer->config.max_deliver;
        if (max > 0 && entry->deliveries >= (uint64_t)max) {
            js_consumer_event_max_deliveries(consumer, entry);
            js_consumer_pending_done(consumer, entry, false); /* delivered as often as allowed */
            continue;
        }
        *out = entry;
        return 0;
    }
    return -ENOENT;
}

/* "$JS.ACK.<stream>.<consumer>.<deliveries>.<sseq>.<dseq>.<ts>.<pending>" */
enum { ACK_REPLY_SIZE = 16 + 2 * JS_STREAM_CONFIG_NAME_LENGTH_MAX + 5 * 21 };

/* "NATS/1.0\r\nNats-Msg-Size: <n>\r\n\r\n" after the message's own headers, for
 * headers_only: the header block (in `scratch`) and its length. */
static size_t headers_only_block(const struct stream_store_msg *msg, char *scratch, size_t size)
{
    size_t length = 0;
    if (msg->header_length >= 4) {
        length = msg->header_length - 2; /* without the blank line that ends it */
        if (length + 64 > size) {
            return 0;
        }
        memcpy(scratch, msg->header, length);
    } else {
        length = (size_t)snprintf(scratch, size, "NATS/1.0\r\n");
    }
    length += (size_t)snprintf(scratch + length, size - length, "Nats-Msg-Size: %u\r\n\r\n",
                               msg->payload_length);
    return length;
}

/* Publishes one delivery to `to`, with Nats-Pin-Id under pinned_client. The payload must
 * be contiguous after the header block; when the store's are not, they are copied. */
static void send_delivery(struct js_consumer *consumer, const struct stream_store_msg *msg,
                          uint32_t deliveries, const char *to, size_t to_length)
{
    char reply[ACK_REPLY_SIZE];
    int reply_length = snprintf(
        reply, sizeof reply, "$JS.ACK.%s.%s.%u.%llu.%llu.%lld.%llu",
        consumer->stream->config.name, consumer->name, deliveries,
        (unsigned long long)msg->seq, (unsigned long long)consumer->dseq,
        (long long)msg->timestamp_ns, (unsigned long long)js_consumer_num_pending(consumer));
    if (reply_length < 0 || (size_t)reply_length >= sizeof reply) {
        return;
    }
    struct route_msg out = {
        .subject = {.data = to, .length = (uint32_t)to_length},
        .reply = {.data = reply, .length = (uint32_t)reply_length},
        .shown = {.data = (const char *)msg->subject, .length = msg->subject_length},
    };
    const char *header = (const char *)msg->header;
    size_t header_length = msg->header_length;
    const char *body = (const char *)msg->payload;
    size_t body_length = msg->payload_length;
    char block[8192];
    if (consumer->config.headers_only) {
        header_length = headers_only_block(msg, block, sizeof block);
        header = block;
        body_length = 0;
    }
    char *pinned = NULL; /* owned: the block with Nats-Pin-Id when it does not fit `stack` */
    char stack[1024];
    if (consumer->config.priority_policy == JS_CONSUMER_PRIORITY_PINNED_CLIENT) {
        size_t size = header_length + JS_PULL_PIN_ID_SIZE + 32;
        pinned = size > sizeof stack ? malloc(size) : NULL;
        if (size > sizeof stack && pinned == NULL) {
            return;
        }
        char *into = pinned != NULL ? pinned : stack;
        header_length = js_consumer_pin_header(consumer, header, header_length, into, size);
        header = into;
    }
    char *copy = NULL;
    if (header_length == 0 || header + header_length == body || body_length == 0) {
        const char *start = header_length > 0 ? header : body;
        out.payload = (struct proto_slice){.data = start,
                                           .length = (uint32_t)(header_length + body_length)};
    } else {
        size_t length = header_length + body_length;
        copy = malloc(length);
        if (copy == NULL) {
            free(pinned);
            return;
        }
        memcpy(copy, header, header_length);
        memcpy(copy + header_length, body, body_length);
        out.payload = (struct proto_slice){.data = copy, .length = (uint32_t)length};
    }
    out.header_length = (uint32_t)header_length;
    service_publish(consumer->stream->js->shard, &out);
    free(copy);
    free(pinned);
}

/* What a pull request's max_bytes counts for a message (nats-server's: subject, ack reply,
 * headers and payload). */
static int64_t delivery_size(const struct js_consumer *consumer,
                             const struct stream_store_msg *msg)
{
    return (int64_t)msg->subject_length + 64 + (int64_t)strlen(consumer->stream->config.name) +
           (int64_t)strlen(consumer->name) + msg->header_length + msg->payload_length;
}

/* Delivers `msg` (a redelivery when `entry` is not NULL) to `to`. */
static void deliver_one(struct js_consumer *consumer, const struct stream_store_msg *msg,
                        struct js_consumer_pending *entry, const char *to, size_t to_length)
{
    int64_t now = clock_monotonic_ns();
    int64_t wall = js_now_ns();
    consumer->dseq++;
    consumer->delivered_ns = wall;
    uint32_t deliveries = 1;
    bool retention_delivered = false;
    if (entry != NULL) {
        entry->dseq = consumer->dseq;
        entry->deliveries++;
        if (entry->deliveries == 2) {
            consumer->redelivered_count++;
        }
        entry->deadline_ns = js_consumer_ack_deadline(consumer, entry->deliveries, now);
        js_consumer_due_note(consumer, entry->deadline_ns);
        entry->delivered_ns = wall;
        deliveries = entry->deliveries;
        js_consumer_timer_at(consumer, entry->deadline_ns);
    } else {
        if (consumer->next_sseq <= msg->seq) {
            consumer->next_sseq = msg->seq + 1; /* (next_lps has moved it already) */
        }
        consumer->delivered_sseq = msg->seq;
        if (consumer->num_pending > 0) {
            consumer->num_pending--;
        }
        if (consumer->config.ack_policy == JS_CONSUMER_ACK_NONE) {
            consumer->ack_floor_dseq = consumer->dseq;
            consumer->ack_floor_sseq = msg->seq;
            retention_delivered = true;
        } else {
            const struct js_consumer_pending fresh = {
                .sseq = msg->seq,
                .dseq = consumer->dseq,
                .deliveries = 1,
                .delivered_ns = wall,
                .deadline_ns = js_consumer_ack_deadline(consumer, 1, now),
            };
            if (ring_push(consumer, &fresh) != 0) {
                LOG_WARN("JetStream: consumer %s: no memory to track a delivery; it will not "
                         "be redelivered", consumer->name);
            } else {
                js_consumer_due_note(consumer, fresh.deadline_ns);
                js_consumer_timer_at(consumer, fresh.deadline_ns);
            }
        }
    }
    js_consumer_mark_dirty(consumer);
    if (consumer->config.idle_heartbeat_ns > 0) {
        consumer->heartbeat_at = now + consumer->config.idle_heartbeat_ns; /* not idle */
    }
    send_delivery(consumer, msg, deliveries, to, to_length);
    js_consumer_flow_sent(consumer, (int64_t)msg->subject_length + 64 + msg->header_length +
                                        msg->payload_length);
    if (retention_delivered) {
        js_consumer_retention_acked(consumer, msg->seq); /* after: it reads the message */
    }
}

/* Puts back a message taken and not delivered: a redelivery at the front of its queue; a
 * new one is found again, as the cursor has not passed it (but last_per_subject's first
 * pass, which moved on: back to `lps_index` and `next_sseq`). */
static void message_untake(struct js_consumer *consumer, struct js_consumer_pending *entry,
                           size_t lps_index, uint64_t next_sseq)
{
    if (entry == NULL) {
        if (consumer->lps_index != lps_index) {
            consumer->lps_index = lps_index;
            consumer->next_sseq = next_sseq;
        }
        return;
    }
    ASSERT(!entry->queued);
    ASSERT(consumer->redeliver_count < consumer->redeliver_capacity); /* it was just there */
    consumer->redeliver_head = (consumer->redeliver_head + consumer->redeliver_capacity - 1) %
                               consumer->redeliver_capacity;
    consumer->redeliver[consumer->redeliver_head] = entry->sseq;
    consumer->redeliver_count++;
    entry->queued = true;
}

static bool can_take_new(const struct js_consumer *consumer)
{
    if (consumer->config.ack_policy == JS_CONSUMER_ACK_NONE) {
        return true;
    }
    int64_t max = consumer->config.max_ack_pending;
    if (max > 0 && consumer->pending_count >= (uint64_t)max) {
        return false;
    }
    return consumer->pending_count < JS_CONSUMER_PENDING_MAX;
}

static bool deliver_some(struct js_consumer *consumer, int *turn_budget)
{
    struct shard *shard = consumer->stream->js->shard;
    int64_t paused = js_consumer_paused_until(consumer);
    if (paused != 0) {
        /* requests wait (and expire); the timer wakes the consumer when the pause ends */
        js_consumer_timer_at(consumer, clock_monotonic_ns() + (paused - js_now_ns()));
        return false;
    }
    const char *deliver = consumer->config.deliver_subject;
    if (deliver != NULL) {
        consumer->push_bound = route_has_interest(shard, deliver, strlen(deliver));
        if (!consumer->push_bound) {
            if (consumer->redeliver_count > 0 || js_consumer_num_pending(consumer) > 0) {
                /* work and nobody to take it: look again soon (interest may be on its way
                 * from another shard) */
                js_consumer_timer_at(consumer,
                                     clock_monotonic_ns() + JS_CONSUMER_INTEREST_POLL_NS);
            }
            return false;
        }
        consumer->last_active_ns = clock_monotonic_ns();
    }
    int budget = *turn_budget < JS_CONSUMER_TURN_BUDGET ? *turn_budget : JS_CONSUMER_TURN_BUDGET;
    int scan = JS_CONSUMER_SCAN_BUDGET;
    while (budget > 0) {
        if (xshard_budget_spent(&shard->xshard)) {
            return true; /* the rings are full: the rest next turn */
        }
        if (deliver != NULL && js_consumer_flow_stalled(consumer)) {
            return false; /* until the subscriber answers the flow-control request */
        }
        if (deliver == NULL && consumer->request_count == 0) {
            return false;
        }
        /* the message first, then the request that takes it, as nats-server's
         * loopAndGatherMsgs: which request may take it can depend on the message */
        struct js_consumer_pending *entry = NULL;
        struct stream_store_msg msg;
        (void)js_consumer_num_pending(consumer); /* counted before the cursor moves */
        size_t lps_index = consumer->lps_index;
        uint64_t next_sseq = consumer->next_sseq;
        if (next_redelivery(consumer, &entry, &msg) != 0) {
            if (!can_take_new(consumer)) {
                break;
            }
            int rc = next_new(consumer, &msg, &scan);
            if (rc == -EAGAIN) {
                return true;
            }
            if (rc != 0) {
                js_consumer_requests_caught_up(consumer);
                return false;
            }
        }
        struct js_pull_request *request = NULL;
        if (deliver == NULL) {
            request = js_consumer_priority_pick(consumer, delivery_size(consumer, &msg),
                                                entry != NULL, clock_monotonic_ns());
        }
        if ((deliver == NULL && request == NULL) ||
            !js_consumer_pace_admit(consumer, &msg, entry != NULL ? entry->deliveries + 1 : 1)) {
            message_untake(consumer, entry, lps_index, next_sseq);
            return false; /* a request, an ack, a message, the pin's end or the pace wakes it */
        }
        if (deliver != NULL) {
            deliver_one(consumer, &msg, entry, deliver, strlen(deliver));
        } else {
            deliver_one(consumer, &msg, entry, request->reply, request->reply_length);
            request->sent++;
            js_consumer_priority_served(consumer);
        }
        budget--;
        (*turn_budget)--;
    }
    return budget == 0;
}

bool js_consumer_deliver(struct js_consumer *consumer, int *turn_budget)
{
    consumer->pace_held = false;
    bool more = deliver_some(consumer, turn_budget);
    if (!more) {
        js_consumer_pace_stopped(consumer); /* nats-server's waitForMsgs */
    }
    return more;
}

/* ---- the timer ---- */

/* The messages whose ack wait passed after their last allowed delivery leave at once (their
 * advisory and dead letter go out now, not when a next request comes). */
static void pending_exhausted(struct js_consumer *consumer, const uint64_t *seqs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        struct js_consumer_pending *entry = js_consumer_pending_find(consumer, seqs[i]);
        if (entry != NULL) {
            js_consumer_event_max_deliveries(consumer, entry);
            js_consumer_pending_done(consumer, entry, false); /* may compact the ring */
        }
    }
}

/* Queues the pending messages whose ack wait passed (or ends those delivered max_deliver
 * times); the next deadline, or 0. */
static int64_t pending_tick(struct js_consumer *consumer, int64_t now)
{
    int64_t next = 0;
    int64_t max = consumer->config.max_deliver;
    uint64_t exhausted[64];
    size_t exhausted_count = 0;
    for (uint32_t i = 0; i < consumer->pending_length; i++) {
        struct js_consumer_pending *entry = ring_at(consumer, i);
        if (entry->acked || entry->queued) {
            continue;
        }
        if (entry->deadline_ns > now) {
            if (next == 0 || entry->deadline_ns < next) {
                next = entry->deadline_ns;
            }
        } else if (max > 0 && entry->deliveries >= (uint64_t)max) {
            if (exhausted_count < sizeof exhausted / sizeof exhausted[0]) {
                exhausted[exhausted_count++] = entry->sseq;
            } else {
                next = now; /* the rest at the next tick */
            }
        } else {
            js_consumer_redeliver_queue(consumer, entry);
        }
    }
    pending_exhausted(consumer, exhausted, exhausted_count);
    return next;
}

static bool inactive(struct js_consumer *consumer, int64_t now, int64_t *next)
{
    int64_t threshold = consumer->config.inactive_threshold_ns;
    if (threshold <= 0) {
        return false;
    }
    bool idle = consumer->config.deliver_subject != NULL ? !consumer->push_bound
                                                         : consumer->request_count == 0;
    if (consumer->config.deliver_subject != NULL) {
        const char *deliver = consumer->config.deliver_subject;
        consumer->push_bound =
            route_has_interest(consumer->stream->js->shard, deliver, strlen(deliver));
        idle = !consumer->push_bound;
    }
    if (!idle) {
        consumer->last_active_ns = now;
    } else if (now - consumer->last_active_ns >= threshold) {
        return true;
    }
    int64_t at = consumer->last_active_ns + threshold;
    if (*next == 0 || at < *next) {
        *next = at;
    }
    return false;
}

/* A push consumer's idle heartbeat ("100 Idle Heartbeat" with the last sequences) once no
 * delivery went out for idle_heartbeat; the next one due, or 0. */
static int64_t heartbeat_tick(struct js_consumer *consumer, int64_t now)
{
    int64_t interval = consumer->config.idle_heartbeat_ns;
    const char *deliver = consumer->config.deliver_subject;
    if (interval <= 0 || deliver == NULL) {
        return 0;
    }
    if (consumer->heartbeat_at == 0) {
        consumer->heartbeat_at = now + interval;
    } else if (consumer->heartbeat_at <= now) {
        if (consumer->push_bound) {
            char header[256 + 2 * JS_STREAM_CONFIG_NAME_LENGTH_MAX];
            int length = snprintf(header, sizeof header,
                                  "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: %llu\r\n"
                                  "Nats-Last-Stream: %llu\r\n",
                                  (unsigned long long)consumer->dseq,
                                  (unsigned long long)consumer->delivered_sseq);
            if (consumer->flow_waiting) {
                /* stalled: the request to answer, in case it was lost */
                length += snprintf(header + length, sizeof header - (size_t)length,
                                   "Nats-Consumer-Stalled: ");
                length += js_consumer_flow_reply(consumer, header + length,
                                                 sizeof header - (size_t)length);
                length += snprintf(header + length, sizeof header - (size_t)length, "\r\n");
            }
            length += snprintf(header + length, sizeof header - (size_t)length, "\r\n");
            const struct route_msg msg = {
                .subject = {.data = deliver, .length = (uint32_t)strlen(deliver)},
                .payload = {.data = header, .length = (uint32_t)length},
                .header_length = (uint32_t)length,
            };
            service_publish(consumer->stream->js->shard, &msg);
        }
        consumer->heartbeat_at = now + interval;
    }
    return consumer->heartbeat_at;
}

bool js_consumer_timer_fired(struct js_consumer *consumer, int64_t now_ns)
{
    int64_t next = consumer->pending_due;
    if (next != 0 && next <= now_ns) {
        /* a scan of the pending messages only when one of them may be due */
        next = pending_tick(consumer, now_ns);
        consumer->pending_due = next;
    }
    int64_t heartbeat = heartbeat_tick(consumer, now_ns);
    if (heartbeat != 0 && (next == 0 || heartbeat < next)) {
        next = heartbeat;
    }
    int64_t requests = js_consumer_requests_tick(consumer, now_ns);
    if (requests != 0 && (next == 0 || requests < next)) {
        next = requests;
    }
    int64_t pin = js_consumer_priority_tick(consumer, now_ns);
    if (pin != 0 && (next == 0 || pin < next)) {
        next = pin;
    }
    if (inactive(consumer, now_ns, &next)) {
        js_consumer_event_action(consumer, false);
        LOG_INFO("JetStream: consumer %s of stream %s deleted after %lld ms inactive",
                 consumer->name, consumer->stream->config.name,
                 (long long)(consumer->config.inactive_threshold_ns / 1000000));
        js_consumer_delete(consumer);
        return false;
    }
    js_consumer_wake(consumer);
    if (next != 0) {
        js_consumer_timer_at(consumer, next);
    }
    return true;
}
