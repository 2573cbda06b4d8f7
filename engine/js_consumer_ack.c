/* Acknowledgements: what arrives on $JS.ACK.<stream>.<consumer>.<deliveries>.<sseq>.<dseq>.
 * <ts>.<pending> and what each kind does: +ACK (or an empty body), -NAK with an optional
 * delay (a Go duration, or {"delay":ns}), +WPI (more time), +TERM with an optional reason,
 * +NXT (an ack and a pull request in one); ack_policy all acknowledges everything up to the
 * sequence. An ack sent as a request (a reply subject) is answered with an empty message.
 *
 * The one idea: the reply subject the consumer gave names the message (its stream
 * sequence), so an ack needs no lookup beyond the pending ring's binary search; an ack for
 * a message no longer pending changes nothing, as nats-server's. Owner shard's thread
 * only. */
#include "base/clock.h"
#include "engine/js_consumer.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "store/stream_store.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ---- interest and workqueue retention ---- */

/* True when `consumer` still needs message `sseq` on `subject`: its filters take it and it
 * is not yet delivered, or delivered and not acknowledged. */
static bool still_needed(struct js_consumer *consumer, uint64_t sseq, const char *subject,
                         size_t length)
{
    if (!js_consumer_matches(consumer, subject, length)) {
        return false;
    }
    return sseq >= consumer->next_sseq || js_consumer_pending_find(consumer, sseq) != NULL;
}

/* Removes `sseq` (on `subject`). */
static void retention_remove(struct js_stream *stream, uint64_t sseq, const char *subject,
                             size_t length)
{
    (void)subject; /* the consumers' counts follow through the store's removed hook */
    (void)length;
    if (stream_store_delete(stream->store, sseq) == 0) {
        stream->dirty = true; /* the tombstone is flushed, usage counted, at the turn's end */
    }
}

void js_consumer_retention_acked(struct js_consumer *consumer, uint64_t sseq)
{
    struct js_stream *stream = consumer->stream;
    enum js_stream_retention retention = stream->config.retention;
    if (retention == JS_STREAM_RETENTION_LIMITS) {
        return;
    }
    struct stream_store_msg msg;
    if (stream_store_get(stream->store, sseq, &msg) != 0) {
        return;
    }
    if (retention == JS_STREAM_RETENTION_WORKQUEUE) {
        /* one consumer per message: its ack ends it */
        retention_remove(stream, sseq, (const char *)msg.subject, msg.subject_length);
        return;
    }
    for (size_t i = 0; i < stream->consumer_count; i++) {
        struct js_consumer *other = stream->consumers[i];
        if (other != consumer && still_needed(other, sseq, (const char *)msg.subject,
                                              msg.subject_length)) {
            return;
        }
    }
    retention_remove(stream, sseq, (const char *)msg.subject, msg.subject_length);
}

void js_consumer_retention_stored(struct js_stream *stream, uint64_t sseq, const char *subject,
                                  size_t length)
{
    if (stream->config.retention != JS_STREAM_RETENTION_INTEREST) {
        return;
    }
    for (size_t i = 0; i < stream->consumer_count; i++) {
        if (js_consumer_matches(stream->consumers[i], subject, length)) {
            return;
        }
    }
    retention_remove(stream, sseq, subject, length);
}

void js_consumer_retention_released(struct js_consumer *leaving)
{
    struct js_stream *stream = leaving->stream;
    if (stream->config.retention != JS_STREAM_RETENTION_INTEREST) {
        return;
    }
    struct stream_store_counts counts;
    stream_store_counts_get(stream->store, &counts);
    uint64_t seq = leaving->ack_floor_sseq + 1 > counts.first_seq ? leaving->ack_floor_sseq + 1
                                                                 : counts.first_seq;
    struct stream_store_msg msg;
    while (stream_store_next(stream->store, seq, &msg) == 0) {
        seq = msg.seq + 1;
        bool needed = false;
        for (size_t i = 0; i < stream->consumer_count && !needed; i++) {
            struct js_consumer *other = stream->consumers[i];
            needed = other != leaving && still_needed(other, msg.seq, (const char *)msg.subject,
                                                      msg.subject_length);
        }
        if (!needed) {
            retention_remove(stream, msg.seq, (const char *)msg.subject, msg.subject_length);
        }
    }
}

/* ---- acks ---- */

/* The numbers after $JS.ACK.<stream>.<consumer>.: deliveries, sseq, dseq, ts, pending. */
enum { ACK_NUMBERS = 5 };

static bool numbers_read(const char *subject, size_t length, uint64_t numbers[ACK_NUMBERS])
{
    size_t end = length;
    for (int i = ACK_NUMBERS - 1; i >= 0; i--) {
        size_t start = end;
        while (start > 0 && subject[start - 1] != '.') {
            start--;
        }
        if (start == 0 || start == end || end - start > 20) {
            return false;
        }
        uint64_t value = 0;
        for (size_t k = start; k < end; k++) {
            if (!isdigit((unsigned char)subject[k])) {
                return false;
            }
            value = value * 10 + (uint64_t)(subject[k] - '0');
        }
        numbers[i] = value;
        end = start - 1;
    }
    return true;
}

static bool starts(const char *body, size_t length, const char *word)
{
    size_t n = strlen(word);
    return length >= n && memcmp(body, word, n) == 0;
}

/* Go's time.ParseDuration for what a NAK carries ("1s", "1.5m", "250ms"): 0 when it is
 * not one (then the NAK has no delay, as nats-server treats an unreadable one). */
static int64_t duration_parse(const char *text, size_t length)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1},   {"us", 1e3},  {"\xc2\xb5s", 1e3}, {"ms", 1e6},
                 {"s", 1e9},  {"m", 60e9},  {"h", 3600e9}};
    double total = 0;
    size_t i = 0;
    if (length == 0) {
        return 0;
    }
    while (i < length) {
        char *end = NULL;
        char number[64];
        size_t n = 0;
        while (i + n < length && n + 1 < sizeof number &&
               (isdigit((unsigned char)text[i + n]) || text[i + n] == '.')) {
            number[n] = text[i + n];
            n++;
        }
        number[n] = '\0';
        double value = strtod(number, &end);
        if (n == 0 || end == NULL || *end != '\0') {
            return 0;
        }
        i += n;
        size_t best = 0;
        double scale = 0;
        for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
            size_t unit_length = strlen(units[u].unit);
            if (unit_length > best && i + unit_length <= length &&
                memcmp(text + i, units[u].unit, unit_length) == 0) {
                best = unit_length;
                scale = units[u].ns;
            }
        }
        if (best == 0) {
            return 0;
        }
        i += best;
        total += value * scale;
    }
    return total > 0 && total < 9e18 ? (int64_t)total : 0;
}

static int64_t nak_delay(const char *arg, size_t length)
{
    while (length > 0 && isspace((unsigned char)*arg)) {
        arg++;
        length--;
    }
    while (length > 0 && isspace((unsigned char)arg[length - 1])) {
        length--;
    }
    if (length == 0) {
        return 0;
    }
    if (arg[0] != '{') {
        return duration_parse(arg, length);
    }
    json_t *root = json_loadb(arg, length, 0, NULL);
    const json_t *delay = json_object_get(root, "delay");
    int64_t ns = json_is_integer(delay) ? (int64_t)json_integer_value(delay) : 0;
    json_decref(root);
    return ns > 0 ? ns : 0;
}

static void ack_one(struct js_consumer *consumer, uint64_t sseq)
{
    struct js_consumer_pending *entry = js_consumer_pending_find(consumer, sseq);
    if (entry != NULL) {
        js_consumer_pending_done(consumer, entry, true);
    }
}

/* ack_policy all: everything pending up to `sseq`. */
static void ack_upto(struct js_consumer *consumer, uint64_t sseq)
{
    while (consumer->pending_count > 0) {
        struct js_consumer_pending *first = NULL;
        for (uint32_t i = 0; i < consumer->pending_length; i++) {
            struct js_consumer_pending *entry =
                &consumer->pending[(consumer->pending_head + i) &
                                   (consumer->pending_capacity - 1)];
            if (!entry->acked) {
                first = entry;
                break;
            }
        }
        if (first == NULL || first->sseq > sseq) {
            return;
        }
        js_consumer_pending_done(consumer, first, true);
    }
}

static void nak(struct js_consumer *consumer, uint64_t sseq, const char *arg, size_t length)
{
    struct js_consumer_pending *entry = js_consumer_pending_find(consumer, sseq);
    if (entry == NULL) {
        return;
    }
    js_consumer_event_nak(consumer, entry);
    int64_t delay = nak_delay(arg, length); /* none: at once, backoff or not (2.15.1) */
    if (delay > 0) {
        entry->queued = false; /* due already: it waits for the delay instead */
        int64_t now = clock_monotonic_ns();
        entry->deadline_ns = delay < INT64_MAX - now ? now + delay : INT64_MAX;
        js_consumer_due_note(consumer, entry->deadline_ns);
        js_consumer_timer_at(consumer, entry->deadline_ns);
    } else {
        js_consumer_redeliver_queue(consumer, entry);
    }
}

static void progress(struct js_consumer *consumer, uint64_t sseq)
{
    struct js_consumer_pending *entry = js_consumer_pending_find(consumer, sseq);
    if (entry != NULL) {
        entry->queued = false; /* due already: it gets its time again */
        entry->deadline_ns = js_consumer_ack_deadline(consumer, entry->deliveries,
                                                      clock_monotonic_ns());
        js_consumer_due_note(consumer, entry->deadline_ns);
        js_consumer_timer_at(consumer, entry->deadline_ns);
    }
}

void js_consumer_ack_handle(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct js_consumer *consumer = context;
    if (consumer->deleted) {
        return;
    }
    uint64_t numbers[ACK_NUMBERS];
    if (!numbers_read(msg->subject.data, msg->subject.length, numbers)) {
        return;
    }
    uint64_t sseq = numbers[1];
    const char *body = msg->payload.data + msg->header_length;
    size_t length = msg->payload.length - msg->header_length;
    consumer->last_active_ns = clock_monotonic_ns();
    bool all = consumer->config.ack_policy == JS_CONSUMER_ACK_ALL;
    if (length == 0 || (length == 4 && memcmp(body, "+ACK", 4) == 0) ||
        (length == 2 && memcmp(body, "+OK", 2) == 0)) {
        if (all) {
            ack_upto(consumer, sseq);
        } else {
            ack_one(consumer, sseq);
        }
        js_consumer_ack_answer(consumer, msg);
    } else if (starts(body, length, "+NXT")) {
        if (all) {
            ack_upto(consumer, sseq);
        } else {
            ack_one(consumer, sseq);
        }
        const struct route_msg next = {
            .subject = msg->subject,
            .reply = msg->reply,
            .payload = {.data = body + 4, .length = (uint32_t)(length - 4)},
        };
        js_consumer_next_handle(shard, consumer, &next);
    } else if (starts(body, length, "-NAK")) {
        nak(consumer, sseq, body + 4, length - 4);
        js_consumer_ack_answer(consumer, msg);
    } else if (length == 4 && memcmp(body, "+WPI", 4) == 0) {
        progress(consumer, sseq);
        js_consumer_ack_answer(consumer, msg);
    } else if (starts(body, length, "+TERM")) {
        struct js_consumer_pending *entry = js_consumer_pending_find(consumer, sseq);
        if (entry != NULL) {
            const char *reason = body + 5;
            size_t reason_length = length - 5;
            while (reason_length > 0 && isspace((unsigned char)*reason)) {
                reason++;
                reason_length--;
            }
            while (reason_length > 0 && isspace((unsigned char)reason[reason_length - 1])) {
                reason_length--;
            }
            js_consumer_event_terminated(consumer, entry, reason, reason_length);
            js_consumer_pending_done(consumer, entry, true);
        }
        js_consumer_ack_answer(consumer, msg);
    }
}
