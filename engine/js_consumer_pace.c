/* When a consumer's next delivery may go: replay_policy original (each message held back by
 * the time between its stored timestamp and the last delivered one's) and rate_limit_bps (a
 * push consumer's bytes per second, with a burst), as nats-server 2.15.1's loopAndGatherMsgs
 * paces them.
 *
 * The one idea: nothing sleeps. The delivery loop chooses a message (and, pull, the request
 * that takes it), then asks js_consumer_pace_admit; a message that may not go yet is put
 * back where it was taken, the consumer's timer is armed for the moment it may, and the
 * timer's wake chooses again. A held message's replay deadline is kept (pace_sseq,
 * pace_at), so a wake for anything else (an ack, a request) does not restart its wait.
 *
 * Replay original, as nats-server's: the first message goes at once, each next one once the
 * gap between its timestamp and the last delivered message's has passed (gaps of 1 ms or
 * less, and backwards ones, are not waited), counted from when it was chosen; redeliveries
 * and pull requests are paced the same way. It holds until the consumer stops with nothing
 * to send and its cursor past the last message the stream had when delivery began (made,
 * or loaded at a start); from then on every message goes at once.
 *
 * Rate limit, as nats-server's (golang.org/x/time/rate): bytes per second = bits / 8, a
 * bucket of burst bytes, full at the start and after rate_limit_bps changes, burst being
 * the stream's max_msg_size, else the server's max_payload. A delivery costs its subject,
 * its $JS.ACK reply, its headers and its payload (headers_only: the header block it sends).
 * Kept as the time the bucket is full again (a token bucket's virtual schedule), so no
 * fraction is lost. Two differences, both where nats-server stops a consumer for good: a
 * delivery larger than the burst waits for a full bucket and goes (nats-server never sends
 * it), and under 8 bits/s (0 bytes/s) the bucket never refills, as nats-server's, but an
 * update of the rate starts it again. Owner shard's thread only. */
#include "base/assert.h"
#include "base/clock.h"
#include "engine/js_consumer.h"
#include "engine/reload.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "store/stream_store.h"

#include <stdint.h>
#include <string.h>

/* When a held message goes: never (a rate under 8 bits/s with its bucket spent, a replay
 * gap past the clock's range). */
#define PACE_NEVER INT64_MAX
/* A replay gap of this or less is not waited, as nats-server's (time.Millisecond). */
#define PACE_REPLAY_GAP_MIN_NS ((int64_t)1000 * 1000)
#define PACE_NS_PER_S ((int64_t)1000 * 1000 * 1000)
/* The largest burst counted: keeps burst * PACE_NS_PER_S within int64 (max_payload is far
 * below it). */
#define PACE_BURST_MAX_BYTES ((int64_t)1 << 32)
/* "$JS.ACK." and the 6 dots between its 7 fields. */
enum { PACE_ACK_FIXED_LENGTH = 8 + 6 };
/* "NATS/1.0\r\n", and "Nats-Msg-Size: " with "\r\n\r\n" after the number (headers_only). */
enum { PACE_HEADER_LINE_LENGTH = 10, PACE_MSG_SIZE_LENGTH = 15 + 4 };

void js_consumer_pace_start(struct js_consumer *consumer)
{
    struct stream_store_counts counts;
    stream_store_counts_get(consumer->stream->store, &counts);
    consumer->replaying = consumer->config.replay_policy == JS_CONSUMER_REPLAY_ORIGINAL;
    consumer->replay_last_sseq = counts.last_seq;
    consumer->replay_last_ts_ns = 0;
    consumer->pace_sseq = 0;
    consumer->pace_at = 0;
    consumer->pace_held = false;
    js_consumer_pace_rate_reset(consumer);
}

void js_consumer_pace_rate_reset(struct js_consumer *consumer)
{
    consumer->rate_full_at = 0;
    consumer->rate_spent_bytes = 0;
}

void js_consumer_pace_stopped(struct js_consumer *consumer)
{
    if (consumer->replaying && !consumer->pace_held &&
        consumer->next_sseq > consumer->replay_last_sseq) {
        consumer->replaying = false;
    }
}

static int decimal_length(uint64_t value)
{
    int length = 1;
    while (value >= 10) {
        value /= 10;
        length++;
    }
    return length;
}

/* What nats-server's limiter counts for `msg` delivered now (its `deliveries`th time). */
static int64_t delivery_bytes(struct js_consumer *consumer, const struct stream_store_msg *msg,
                              uint32_t deliveries)
{
    uint64_t pending = js_consumer_num_pending(consumer);
    if (deliveries == 1 && pending > 0) {
        pending--; /* the reply shows the count after this message */
    }
    int64_t ack = PACE_ACK_FIXED_LENGTH + (int64_t)strlen(consumer->stream->config.name) +
                  (int64_t)strlen(consumer->name) + decimal_length(deliveries) +
                  decimal_length(msg->seq) + decimal_length(consumer->dseq + 1) +
                  decimal_length((uint64_t)(msg->timestamp_ns > 0 ? msg->timestamp_ns : 0)) +
                  decimal_length(pending);
    int64_t content = (int64_t)msg->header_length + msg->payload_length;
    if (consumer->config.headers_only) {
        content = (msg->header_length >= 4 ? (int64_t)msg->header_length - 2
                                           : PACE_HEADER_LINE_LENGTH) +
                  PACE_MSG_SIZE_LENGTH + decimal_length(msg->payload_length);
    }
    return (int64_t)msg->subject_length + ack + content;
}

/* The bucket's size: the stream's max_msg_size, else the server's max_payload. */
static int64_t rate_burst_bytes(const struct js_consumer *consumer)
{
    int64_t burst = consumer->stream->config.max_msg_size;
    if (burst <= 0) {
        burst = server_live(consumer->stream->js->shard->server)->config->max_payload;
    }
    if (burst <= 0) {
        return 1;
    }
    return burst < PACE_BURST_MAX_BYTES ? burst : PACE_BURST_MAX_BYTES;
}

/* When `bytes` (at most `burst`) may go under the rate limit: `now_ns` or earlier when they
 * may now (then `*full_at` is the bucket's full time after them), later when they must
 * wait, PACE_NEVER never. */
static int64_t rate_due(const struct js_consumer *consumer, int64_t bytes, int64_t burst,
                        int64_t now_ns, int64_t *full_at)
{
    ASSERT(bytes <= burst);
    ASSERT(burst <= PACE_BURST_MAX_BYTES);
    int64_t rate = (int64_t)(consumer->config.rate_limit_bps / 8); /* bytes per second */
    if (rate == 0) {
        return consumer->rate_spent_bytes + bytes <= burst ? now_ns : PACE_NEVER;
    }
    /* bytes <= burst < 2^32 and 10^9 < 2^30: the products stay below 2^62 */
    int64_t cost_ns = bytes * PACE_NS_PER_S / rate;
    int64_t burst_ns = burst * PACE_NS_PER_S / rate;
    int64_t from = consumer->rate_full_at > now_ns ? consumer->rate_full_at : now_ns;
    *full_at = from + cost_ns;
    return *full_at - burst_ns;
}

/* The replay deadline of `msg` chosen now: kept while it is the held message, else from now
 * by the gap after the last delivered message's timestamp. */
static int64_t replay_due(struct js_consumer *consumer, const struct stream_store_msg *msg,
                          int64_t now_ns)
{
    if (!consumer->replaying) {
        return now_ns;
    }
    if (consumer->pace_sseq != msg->seq) {
        /* both positive (a stamp before 1970 is not waited for): no overflow */
        int64_t gap = consumer->replay_last_ts_ns > 0 && msg->timestamp_ns > 0
                          ? msg->timestamp_ns - consumer->replay_last_ts_ns
                          : 0;
        consumer->pace_sseq = msg->seq;
        if (gap <= PACE_REPLAY_GAP_MIN_NS) {
            consumer->pace_at = now_ns;
        } else {
            consumer->pace_at = gap < PACE_NEVER - now_ns ? now_ns + gap : PACE_NEVER;
        }
    }
    return consumer->pace_at;
}

bool js_consumer_pace_admit(struct js_consumer *consumer, const struct stream_store_msg *msg,
                            uint32_t deliveries)
{
    ASSERT(msg->seq > 0);
    ASSERT(deliveries > 0);
    consumer->pace_held = false;
    bool rated = consumer->config.rate_limit_bps > 0 && consumer->config.deliver_subject != NULL;
    if (!consumer->replaying && !rated) {
        consumer->replay_last_ts_ns = msg->timestamp_ns;
        return true;
    }
    int64_t now = clock_monotonic_ns();
    int64_t due = replay_due(consumer, msg, now);
    int64_t full_at = 0;
    int64_t bytes = 0;
    if (due <= now && rated) {
        int64_t burst = rate_burst_bytes(consumer);
        bytes = delivery_bytes(consumer, msg, deliveries);
        /* one larger than the bucket goes once it is full (nats-server: never) */
        bytes = bytes < burst ? bytes : burst;
        due = rate_due(consumer, bytes, burst, now, &full_at);
    }
    if (due > now) {
        consumer->pace_held = true;
        if (due != PACE_NEVER) {
            js_consumer_timer_at(consumer, due);
        }
        return false;
    }
    if (rated) {
        if (consumer->config.rate_limit_bps / 8 == 0) {
            consumer->rate_spent_bytes += bytes;
        } else {
            consumer->rate_full_at = full_at;
        }
    }
    consumer->replay_last_ts_ns = msg->timestamp_ns;
    consumer->pace_sseq = 0;
    consumer->pace_at = 0;
    return true;
}
