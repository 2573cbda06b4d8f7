/* Publishes to a stream's subjects: the checks nats-server makes, in its order, the append,
 * and the acknowledgement held until the store says the message is durable; the duplicate
 * window (Nats-Msg-Id); direct gets.
 *
 * The one idea: a publish is appended at once (so later checks and reads see it) and its
 * ack joins the stream's FIFO of acks in sequence order; the store's `committed` hook
 * releases every ack up to the sequence it made durable, so with --sync always an ack
 * never leaves before its group commit's fdatasync. A failed store answers every waiting
 * ack with its error and takes no more writes.
 *
 * A stream with persist_mode async (nats-server 2.12) releases its FIFO at the append
 * instead, in the same order: its acks say the message is in the store (readable, and
 * delivered to consumers, from memory or the page cache), not that it is on disk. The group
 * commit still runs at the --sync cadence, so a crash may lose what was acked; what a
 * commit already reported durable stays so. Meta shard's thread only. */
#include "base/assert.h"
#include "base/hash.h"
#include "base/log.h"
#include "engine/js_consumer.h"
#include "engine/js_counter.h"
#include "engine/js_internal.h"
#include "engine/js_publish.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "proto/js_pub.h"
#include "store/stream_store.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for an ack: the fixed part and the stream name escaped (js_pub.h's bound). */
enum { ACK_SIZE_MAX = JS_PUBLISH_ACK_SIZE_MAX };

static struct js_pub_text stream_name(const struct js_stream *stream)
{
    return (struct js_pub_text){.bytes = stream->config.name,
                                .length = strlen(stream->config.name)};
}

static int ack_push(struct js_stream *stream, const struct proto_slice reply, uint64_t seq,
                    bool duplicate, const char *body, size_t body_length);

/* An answer to a publish that needs no commit (an error): sent at once unless acks are
 * waiting, which it must not overtake (nats-server answers a connection's publishes in
 * order); then it waits behind them. */
static void answer(struct js_stream *stream, const char *reply, size_t reply_length,
                   const char *body, size_t length)
{
    if (stream->ack_count == 0) {
        js_reply(stream->js, reply, reply_length, body, length);
        return;
    }
    const struct proto_slice slice = {.data = reply, .length = (uint32_t)reply_length};
    if (reply_length > 0 &&
        ack_push(stream, slice, stream->appended_seq, false, body, length) != 0) {
        js_reply(stream->js, reply, reply_length, body, length); /* no memory: out of order */
    }
}

void js_publish_answer(struct js_stream *stream, struct proto_slice reply, const char *body,
                       size_t length)
{
    answer(stream, reply.data, reply.length, body, length);
}

static void reply_raw(struct js_stream *stream, const struct route_msg *msg, const char *body,
                      size_t length)
{
    answer(stream, msg->reply.data, msg->reply.length, body, length);
}

/* An error ack for one of js_pub's errors. */
void js_publish_nak(struct js_stream *stream, const struct route_msg *msg,
                    enum js_pub_error error, const struct js_pub_error_args *args)
{
    char buffer[ACK_SIZE_MAX];
    size_t length = 0;
    if (js_pub_error_ack_write(stream_name(stream), error, args, buffer, sizeof buffer,
                               &length) == 0) {
        reply_raw(stream, msg, buffer, length);
    }
}

enum { NAK_SIZE_MAX = ACK_SIZE_MAX + JS_ERROR_DESCRIPTION_SIZE * JS_PUB_REPLY_EXPANSION_MAX };

/* Writes the error ack for an API error of the table; 0 and *length, or -ENOBUFS. */
static int nak_render(const struct js_stream *stream, const struct js_error *error,
                      char *buffer, size_t size, size_t *length)
{
    const struct js_error_entry *entry = js_errors_entry(error->id);
    const struct js_pub_text description = {.bytes = error->description,
                                            .length = strlen(error->description)};
    return js_pub_nak_write(stream_name(stream), entry->code, entry->err_code, description,
                            buffer, size, length);
}

/* An error ack for an API error of the table, its description filled in. */
static void nak_api(struct js_stream *stream, const char *reply, size_t reply_length,
                    const struct js_error *error)
{
    char buffer[NAK_SIZE_MAX];
    size_t length = 0;
    if (nak_render(stream, error, buffer, sizeof buffer, &length) == 0) {
        answer(stream, reply, reply_length, buffer, length);
    }
}

void js_publish_nak_api(struct js_stream *stream, const struct route_msg *msg,
                        const struct js_error *error)
{
    nak_api(stream, msg->reply.data, msg->reply.length, error);
}

void js_publish_nak_store(struct js_stream *stream, const struct route_msg *msg, const char *text)
{
    struct js_error error;
    js_errors_setf(&error, JS_ERR_STREAM_STORE_FAILED, "%s", text);
    nak_api(stream, msg->reply.data, msg->reply.length, &error);
}

void js_publish_nak_id(struct js_stream *stream, const struct route_msg *msg, enum js_error_id id)
{
    struct js_error error;
    js_errors_set(&error, id);
    nak_api(stream, msg->reply.data, msg->reply.length, &error);
}

struct js_pub_ack js_publish_ack_base(const struct js_stream *stream, uint64_t seq)
{
    const char *domain = stream->js->shard->server->config->js_domain;
    return (struct js_pub_ack){
        .stream = stream_name(stream),
        .domain = {.bytes = domain, .length = domain != NULL ? strlen(domain) : 0},
        .seq = seq,
    };
}

static void ack_send(struct js_stream *stream, const char *reply, size_t reply_length,
                     uint64_t seq, bool duplicate)
{
    struct js_pub_ack ack = js_publish_ack_base(stream, seq);
    ack.duplicate = duplicate;
    char buffer[ACK_SIZE_MAX];
    size_t length = 0;
    if (js_pub_ack_write(&ack, buffer, sizeof buffer, &length) == 0) {
        js_reply(stream->js, reply, reply_length, buffer, length);
    }
}

/* ---- acks waiting for durability ---- */

static int ack_push(struct js_stream *stream, const struct proto_slice reply, uint64_t seq,
                    bool duplicate, const char *body, size_t body_length)
{
    if (stream->ack_count == stream->ack_capacity) {
        uint32_t capacity = stream->ack_capacity ? stream->ack_capacity * 2 : 64;
        struct js_pending_ack *grown = malloc(capacity * sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        for (uint32_t i = 0; i < stream->ack_count; i++) {
            grown[i] = stream->acks[(stream->ack_head + i) % stream->ack_capacity];
        }
        free(stream->acks);
        stream->acks = grown;
        stream->ack_capacity = capacity;
        stream->ack_head = 0;
    }
    char *copy = malloc(reply.length + 1);
    char *body_copy = body != NULL ? malloc(body_length) : NULL;
    if (copy == NULL || (body != NULL && body_copy == NULL)) {
        free(copy);
        free(body_copy);
        return -ENOMEM;
    }
    memcpy(copy, reply.data, reply.length);
    copy[reply.length] = '\0';
    if (body != NULL) {
        memcpy(body_copy, body, body_length);
    }
    struct js_pending_ack *ack =
        &stream->acks[(stream->ack_head + stream->ack_count) % stream->ack_capacity];
    ack->seq = seq;
    ack->reply = copy;
    ack->body = body_copy;
    ack->body_length = body_length;
    ack->duplicate = duplicate;
    ack->body_is_success = false;
    stream->ack_count++;
    return 0;
}

void js_publish_committed(struct js_stream *stream, uint64_t seq)
{
    while (stream->ack_count > 0) {
        struct js_pending_ack *ack = &stream->acks[stream->ack_head];
        if (ack->seq > seq) {
            break;
        }
        if (ack->body != NULL) {
            js_reply(stream->js, ack->reply, strlen(ack->reply), ack->body, ack->body_length);
            free(ack->body);
        } else {
            ack_send(stream, ack->reply, strlen(ack->reply), ack->seq, ack->duplicate);
        }
        free(ack->reply);
        stream->ack_head = (stream->ack_head + 1) % stream->ack_capacity;
        stream->ack_count--;
    }
}

void js_publish_committed_check(struct js_stream *stream)
{
    struct stream_store_info info;
    stream_store_info_get(stream->store, &info);
    js_publish_committed(stream, info.durable_seq);
}

void js_publish_failed(struct js_stream *stream, int error)
{
    if (stream->failure == 0) {
        stream->failure = error;
        if (error != -ENOENT) {
            LOG_ERROR("JetStream: stream %s stopped taking writes: %s", stream->config.name,
                      strerror(-error));
        }
    }
    struct js_error api_error;
    if (error == -ENOENT) {
        js_errors_set(&api_error, JS_ERR_STREAM_NOT_FOUND);
    } else {
        js_errors_setf(&api_error, JS_ERR_STREAM_STORE_FAILED, "stream store failed: %s",
                       strerror(-error));
    }
    char nak[NAK_SIZE_MAX];
    size_t nak_length = 0;
    bool rendered = nak_render(stream, &api_error, nak, sizeof nak, &nak_length) == 0;
    while (stream->ack_count > 0) {
        struct js_pending_ack *ack = &stream->acks[stream->ack_head];
        stream->ack_head = (stream->ack_head + 1) % stream->ack_capacity;
        stream->ack_count--;
        if (ack->body != NULL && !ack->body_is_success) {
            js_reply(stream->js, ack->reply, strlen(ack->reply), ack->body, ack->body_length);
        } else if (rendered) {
            js_reply(stream->js, ack->reply, strlen(ack->reply), nak, nak_length);
        }
        free(ack->body);
        free(ack->reply);
    }
}

/* ---- checks before the append, in nats-server's order ---- */

static struct js_pub_rules rules_of(const struct js_stream_config *config)
{
    return (struct js_pub_rules){
        .allow_rollup = config->allow_rollup_hdrs,
        .deny_purge = config->deny_purge,
        .allow_msg_ttl = config->allow_msg_ttl,
        .allow_msg_counter = config->allow_msg_counter,
        .allow_atomic = config->allow_atomic,
    };
}

bool js_publish_stage_passes(struct js_stream *stream, const struct route_msg *msg,
                         const struct js_pub_directives *directives, enum js_pub_stage stage,
                         size_t body_length)
{
    const struct js_pub_rules rules = rules_of(&stream->config);
    const struct js_pub_context context = {.stream = stream_name(stream),
                                           .payload_length = body_length};
    enum js_pub_error error = js_pub_check(directives, &rules, &context, stage);
    if (error == JS_PUB_OK) {
        return true;
    }
    struct js_pub_error_args args = {0};
    if (error == JS_PUB_ERR_ROLLUP_INVALID) {
        args.text = directives->rollup_text;
    }
    js_publish_nak(stream, msg, error, &args);
    return false;
}

/* Expected last sequence and expected last subject sequence: 10071 with the actual one. */
static bool expectations_hold(struct js_stream *stream, const struct route_msg *msg,
                              const struct js_pub_directives *directives)
{
    if (directives->expected_last_subject_seq_set) {
        const char *subject = msg->subject.data;
        size_t length = msg->subject.length;
        if (directives->expected_last_subject.bytes != NULL &&
            directives->expected_last_subject.length > 0) {
            subject = directives->expected_last_subject.bytes;
            length = directives->expected_last_subject.length;
        }
        uint64_t last = 0;
        if (stream_store_subject_last(stream->store, (const uint8_t *)subject,
                                      (uint32_t)length, &last) != 0) {
            last = 0;
        }
        if (last != directives->expected_last_subject_seq) {
            const struct js_pub_error_args args = {.number = last};
            js_publish_nak(stream, msg, JS_PUB_ERR_WRONG_LAST_SEQUENCE, &args);
            return false;
        }
    }
    if (directives->expected_last_seq_set) {
        struct stream_store_info info;
        stream_store_info_get(stream->store, &info);
        if (directives->expected_last_seq != info.last_seq) {
            const struct js_pub_error_args args = {.number = info.last_seq};
            js_publish_nak(stream, msg, JS_PUB_ERR_WRONG_LAST_SEQUENCE, &args);
            return false;
        }
    }
    return true;
}

static bool last_msg_id_matches(const struct js_stream *stream, struct js_pub_text expected)
{
    const char *last = stream->last_msg_id != NULL ? stream->last_msg_id : "";
    return strlen(last) == expected.length && memcmp(last, expected.bytes, expected.length) == 0;
}

/* The text of an append error as nats-server's store errors read. */
void js_publish_nak_append(struct js_stream *stream, const struct route_msg *msg, int rc)
{
    struct stream_store_info info;
    stream_store_info_get(stream->store, &info);
    switch (rc) {
    case -EDQUOT:
        if (stream->config.max_msgs > 0 && info.msg_count >= (uint64_t)stream->config.max_msgs) {
            js_publish_nak_store(stream, msg, "maximum messages exceeded");
        } else {
            js_publish_nak_store(stream, msg, "maximum bytes exceeded");
        }
        return;
    case -EMSGSIZE:
        js_publish_nak_id(stream, msg, JS_ERR_STREAM_MESSAGE_EXCEEDS_MAXIMUM);
        return;
    case -ENOSPC:
        js_publish_nak_id(stream, msg, JS_ERR_STORAGE_RESOURCES_EXCEEDED);
        return;
    case -EAGAIN:
        js_publish_nak_store(stream, msg, "stream store busy: too many writes pending");
        return;
    default:
        js_publish_nak_store(stream, msg, strerror(-rc));
        return;
    }
}

/* True when `size` more bytes would take the server's memory or file storage (as the
 * stream's kind) past --max_memory_store or --max_file_store. */
bool js_publish_storage_exceeded(const struct js_stream *stream, size_t size)
{
    const struct js *js = stream->js;
    bool memory = stream->config.storage == JS_STREAM_STORAGE_MEMORY;
    int64_t used = atomic_load_explicit(memory ? &js->server->memory_used
                                               : &js->server->storage_used,
                                        memory_order_relaxed) +
                   (int64_t)js->pending_bytes;
    return used + (int64_t)size > (memory ? js->max_memory : js->max_file);
}

/* Everything before the append; false when the publish was answered (or dropped). */
static bool publish_admitted(struct js_stream *stream, const struct route_msg *msg,
                             const struct js_pub_directives *directives, size_t header_length,
                             size_t body_length, uint64_t *duplicate_seq)
{
    const struct js_stream_config *config = &stream->config;
    *duplicate_seq = 0;
    if (stream->failure != 0) {
        char text[128];
        snprintf(text, sizeof text, "stream store failed: %s", strerror(-stream->failure));
        js_publish_nak_store(stream, msg, text);
        return false;
    }
    if (config->sealed) {
        js_publish_nak_id(stream, msg, JS_ERR_STREAM_SEALED);
        return false;
    }
    if (!js_publish_stage_passes(stream, msg, directives, JS_PUB_STAGE_HEADERS, body_length) ||
        !expectations_hold(stream, msg, directives) ||
        !js_publish_stage_passes(stream, msg, directives, JS_PUB_STAGE_SOURCE, body_length)) {
        return false;
    }
    if (directives->msg_id.length > 0) {
        const struct js_dedupe_entry *seen =
            js_dedupe_find(&stream->dedupe, directives->msg_id.bytes, directives->msg_id.length);
        if (seen != NULL) {
            *duplicate_seq = seen->seq;
            return false;
        }
    }
    if (directives->expected_last_msg_id.bytes != NULL &&
        !last_msg_id_matches(stream, directives->expected_last_msg_id)) {
        const char *last = stream->last_msg_id != NULL ? stream->last_msg_id : "";
        const struct js_pub_error_args args = {
            .text = {.bytes = last, .length = strlen(last)}};
        js_publish_nak(stream, msg, JS_PUB_ERR_WRONG_LAST_MSG_ID, &args);
        return false;
    }
    if (!js_publish_stage_passes(stream, msg, directives, JS_PUB_STAGE_ROLLUP, body_length)) {
        return false;
    }
    if (config->max_msg_size >= 0 && header_length + body_length > (size_t)config->max_msg_size) {
        js_publish_nak_id(stream, msg, JS_ERR_STREAM_MESSAGE_EXCEEDS_MAXIMUM);
        return false;
    }
    if (header_length > UINT16_MAX) {
        js_publish_nak_id(stream, msg, JS_ERR_STREAM_HEADER_EXCEEDS_MAXIMUM);
        return false;
    }
    if (js_publish_storage_exceeded(stream, header_length + body_length)) {
        js_publish_nak_id(stream, msg, JS_ERR_INSUFFICIENT_RESOURCES);
        return false;
    }
    if (!js_publish_stage_passes(stream, msg, directives, JS_PUB_STAGE_TTL, body_length)) {
        return false;
    }
    if (config->discard == JS_STREAM_DISCARD_NEW && config->discard_new_per_subject &&
        config->max_msgs_per_subject > 0 &&
        stream_store_subject_count(stream->store, (const uint8_t *)msg->subject.data,
                                   msg->subject.length) >=
            (uint64_t)config->max_msgs_per_subject) {
        js_publish_nak_store(stream, msg, "maximum messages per subject exceeded");
        return false;
    }
    return true;
}

/* Nats-Rollup: the stream (all) or the subject (sub) is purged before the append. */
void js_publish_rollup_apply(struct js_stream *stream, const struct route_msg *msg,
                         const struct js_pub_directives *directives)
{
    if (directives->rollup == JS_PUB_ROLLUP_ALL) {
        const struct stream_store_purge_request request = {0};
        (void)stream_store_purge(stream->store, &request, NULL);
    } else if (directives->rollup == JS_PUB_ROLLUP_SUBJECT) {
        const struct stream_store_purge_request request = {
            .subject = (const uint8_t *)msg->subject.data,
            .subject_length = msg->subject.length};
        (void)stream_store_purge(stream->store, &request, NULL);
    }
}

/* After a store: the stream's last Nats-Msg-Id is this message's (none when it has none,
 * as nats-server's lmsgId), and the duplicate window, when the stream has one, holds it. */
static void msg_id_remember(struct js_stream *stream, struct js_pub_text id, uint64_t seq)
{
    free(stream->last_msg_id);
    stream->last_msg_id = NULL;
    if (id.length == 0) {
        return;
    }
    if (stream->config.duplicate_window_ns > 0) { /* none for a stream with sources, 2.14+ */
        (void)js_dedupe_add(&stream->dedupe, id.bytes, id.length, seq, js_now_ns());
    }
    char *copy = malloc(id.length + 1);
    if (copy != NULL) {
        memcpy(copy, id.bytes, id.length);
        copy[id.length] = '\0';
        stream->last_msg_id = copy;
    }
}

/* What follows every append: the turn's flush, the consumers, the dedupe window. */
void js_publish_appended(struct js_stream *stream, const struct route_msg *msg,
                     const struct js_pub_directives *directives, uint64_t seq, size_t size)
{
    stream->dirty = true; /* flushed, and its usage counted, at the end of the turn */
    stream->appended_seq = seq;
    for (size_t i = 0; i < stream->consumer_count; i++) {
        js_consumer_message_added(stream->consumers[i], msg->subject.data, msg->subject.length);
    }
    js_consumer_retention_stored(stream, seq, msg->subject.data, msg->subject.length);
    js_stream_async_release(stream, seq); /* an async stream's consumers see it now */
    stream->js->pending_bytes += size;
    msg_id_remember(stream, directives->msg_id, seq);
    if (stream->config.allow_msg_ttl && msg->header_length > 0) {
        struct stream_store_msg stored;
        int64_t timestamp = stream_store_get(stream->store, seq, &stored) == 0
                                ? stored.timestamp_ns
                                : js_now_ns();
        js_ttl_note(stream, seq, timestamp, msg->payload.data, msg->header_length, directives);
    }
}

/* `msg` with the counter's header (when it has one) and total as its header and body, into
 * `out` (its payload malloc'd: the caller frees it). 0 or -ENOMEM. */
static int counter_message(const struct route_msg *msg, const struct js_counter_next *counter,
                           struct route_msg *out)
{
    const char *header = counter->header != NULL ? counter->header : msg->payload.data;
    size_t header_length = counter->header != NULL ? counter->header_length : msg->header_length;
    char *payload = malloc(header_length + counter->body_length + 1);
    if (payload == NULL) {
        return -ENOMEM;
    }
    memcpy(payload, header, header_length);
    memcpy(payload + header_length, counter->body, counter->body_length);
    *out = *msg;
    out->payload = (struct proto_slice){.data = payload,
                                        .length = (uint32_t)(header_length + counter->body_length)};
    out->header_length = (uint32_t)header_length;
    return 0;
}

int js_publish_sourced(struct js_stream *stream, const struct route_msg *copy,
                       int64_t timestamp_ns)
{
    if (stream->deleting) {
        return -ENOENT;
    }
    char transformed[JS_SUBJECT_TRANSFORMED_MAX];
    struct route_msg in = *copy;
    in.subject = js_stream_subject_in(stream, copy->subject, transformed, sizeof transformed);
    const struct route_msg *msg = &in;
    if (stream->failure != 0) {
        return stream->failure;
    }
    if (stream->config.sealed) {
        return -EPERM; /* a sealed stream takes nothing, copies and markers included */
    }
    size_t header_length = msg->header_length;
    size_t body_length = msg->payload.length - header_length;
    struct js_pub_directives directives;
    js_pub_directives_parse(header_length > 0 ? msg->payload.data : NULL, header_length,
                            &directives);
    bool mirror = timestamp_ns != 0;
    if (!mirror && directives.msg_id.length > 0 &&
        js_dedupe_find(&stream->dedupe, directives.msg_id.bytes, directives.msg_id.length) !=
            NULL) {
        return 0; /* a duplicate within the window: skipped, as nats-server skips it */
    }
    const struct js_stream_config *config = &stream->config;
    if ((config->max_msg_size >= 0 && header_length + body_length > (size_t)config->max_msg_size) ||
        header_length > UINT16_MAX) {
        return -EMSGSIZE;
    }
    if (js_publish_storage_exceeded(stream, header_length + body_length)) {
        return -ENOSPC;
    }
    struct js_counter_next counter = {0};
    struct route_msg totalled;
    if (!mirror && stream->config.allow_msg_counter && directives.incr_set) {
        /* a total sourced from another counter stream is folded into this one's */
        int rc = js_counter_next(stream, msg->subject, msg->payload.data, header_length,
                                 msg->payload.data + header_length, body_length, &directives,
                                 &counter);
        if (rc != 0) {
            return rc;
        }
        int built = counter_message(msg, &counter, &totalled);
        free(counter.header);
        if (built != 0) {
            return built;
        }
        msg = &totalled;
        header_length = msg->header_length;
        body_length = msg->payload.length - header_length;
        if (header_length > UINT16_MAX) { /* the origins' totals grew it past the bound */
            free((char *)totalled.payload.data);
            return -EMSGSIZE;
        }
    }
    /* the republish's Nats-Last-Sequence is the subject's last before a rollup removes it */
    uint64_t republish_last = js_republish_last(stream, msg->subject);
    if (stream->config.allow_rollup_hdrs && !stream->config.deny_purge) {
        /* a copied rollup purges only where rollups may (nats-server's AllowRollup and not
         * DenyPurge); elsewhere it is stored and does nothing */
        js_publish_rollup_apply(stream, msg, &directives);
    }
    const uint8_t *subject = (const uint8_t *)msg->subject.data;
    const uint8_t *header = (const uint8_t *)msg->payload.data;
    const uint8_t *body = header + header_length;
    uint64_t seq = 0;
    int rc = mirror ? stream_store_append_timed(stream->store, subject, msg->subject.length,
                                                header, (uint32_t)header_length, body,
                                                (uint32_t)body_length, timestamp_ns, &seq)
                    : stream_store_append(stream->store, subject, msg->subject.length, header,
                                          (uint32_t)header_length, body, (uint32_t)body_length,
                                          &seq);
    if (rc != 0) {
        if (msg == &totalled) {
            free((char *)totalled.payload.data);
        }
        return rc;
    }
    js_publish_appended(stream, msg, &directives, seq, header_length + body_length);
    js_republish(stream, msg->subject, msg->payload.data, header_length,
                 msg->payload.data + header_length, body_length, seq, republish_last);
    if (msg == &totalled) {
        free((char *)totalled.payload.data);
    }
    return 0;
}

void js_publish_nak_counter_broken(struct js_stream *stream, const struct route_msg *msg)
{
    char buffer[NAK_SIZE_MAX];
    size_t length = 0;
    static const char TEXT[] = "message counter is broken";
    if (js_pub_nak_write(stream_name(stream), 400, 10172,
                         (struct js_pub_text){.bytes = TEXT, .length = sizeof TEXT - 1}, buffer,
                         sizeof buffer, &length) == 0) {
        answer(stream, msg->reply.data, msg->reply.length, buffer, length);
    }
}

/* A counter publish (allow_msg_counter, Nats-Incr): its next total into `counter`, and the
 * header it is stored with into header[*stored] (UINT16_MAX bytes). False when the publish
 * was answered with an error instead. */
static bool counter_prepare(struct js_stream *stream, const struct route_msg *msg,
                            const struct js_pub_directives *directives, char *header,
                            size_t *stored, struct js_counter_next *counter)
{
    const char *body = msg->payload.data + msg->header_length;
    int rc = js_counter_next(stream, msg->subject, header, *stored, body,
                             msg->payload.length - msg->header_length, directives, counter);
    if (rc == -EBADMSG) {
        js_publish_nak_counter_broken(stream, msg);
        return false;
    }
    if (rc != 0) {
        js_publish_nak_store(stream, msg, strerror(-rc));
        return false;
    }
    if (counter->header != NULL) {
        if (counter->header_length > UINT16_MAX) {
            free(counter->header);
            js_publish_nak_id(stream, msg, JS_ERR_STREAM_HEADER_EXCEEDS_MAXIMUM);
            return false;
        }
        memcpy(header, counter->header, counter->header_length);
        *stored = counter->header_length;
        free(counter->header);
        counter->header = NULL;
    }
    return true;
}

int js_publish_ack_hold(struct js_stream *stream, struct proto_slice reply, uint64_t seq,
                        const char *body, size_t length)
{
    int rc = ack_push(stream, reply, seq, false, body, length);
    if (rc != 0) {
        return rc;
    }
    /* an ack written before the commit: a failed store answers it with its error */
    stream->acks[(stream->ack_head + stream->ack_count - 1) % stream->ack_capacity]
        .body_is_success = true;
    return 0;
}

/* A counter's ack names its new total ("val"): written now, sent once `seq` is durable. */
static void counter_ack(struct js_stream *stream, const struct route_msg *msg, uint64_t seq,
                        const struct js_counter_next *counter)
{
    if (msg->reply.length == 0) {
        return;
    }
    struct js_pub_ack ack = js_publish_ack_base(stream, seq);
    ack.counter_value = (struct js_pub_text){.bytes = counter->value,
                                             .length = counter->value_length};
    char buffer[ACK_SIZE_MAX + JS_COUNTER_DIGITS_MAX];
    size_t length = 0;
    if (js_pub_ack_write(&ack, buffer, sizeof buffer, &length) != 0 ||
        js_publish_ack_hold(stream, msg->reply, seq, buffer, length) != 0) {
        LOG_WARN("JetStream: stream %s: no memory to hold the ack of %llu", stream->config.name,
                 (unsigned long long)seq);
    }
}

size_t js_publish_header_prepare(const struct js_stream *stream, const struct route_msg *msg,
                                 struct js_pub_directives *directives, char *header,
                                 size_t size)
{
    /* the inline status of the header block is not stored (js_pub.h) */
    size_t stored = 0;
    size_t header_length = msg->header_length;
    if (header_length > 0 && directives->status.stored_length > 0) {
        const struct js_pub_status *status = &directives->status;
        memcpy(header, msg->payload.data, status->cut_start);
        memcpy(header + status->cut_start, msg->payload.data + status->cut_end,
               header_length - status->cut_end);
        stored = status->stored_length;
    }
    return js_ttl_header_raise(stream, directives, header, stored, size);
}

static void publish_single(struct js_stream *stream, const struct route_msg *msg,
                           const struct js_pub_directives *parsed)
{
    struct js_pub_directives directives = *parsed;
    size_t header_length = msg->header_length;
    size_t body_length = msg->payload.length - header_length;
    uint64_t duplicate_seq = 0;
    if (!publish_admitted(stream, msg, &directives, header_length, body_length,
                          &duplicate_seq)) {
        if (duplicate_seq != 0 && msg->reply.length > 0 &&
            ack_push(stream, msg->reply, duplicate_seq, true, NULL, 0) != 0) {
            js_publish_nak_store(stream, msg, strerror(ENOMEM));
        }
        js_publish_committed_check(stream);
        return;
    }
    char header[UINT16_MAX];
    size_t stored = js_publish_header_prepare(stream, msg, &directives, header, sizeof header);
    const char *body = msg->payload.data + header_length;
    struct js_counter_next counter = {0};
    bool is_counter = stream->config.allow_msg_counter && directives.incr_set;
    if (is_counter && !counter_prepare(stream, msg, &directives, header, &stored, &counter)) {
        return;
    }
    if (is_counter) {
        body = counter.body;
        body_length = counter.body_length;
    }
    /* the republish's Nats-Last-Sequence is the subject's last before a rollup removes it */
    uint64_t republish_last = js_republish_last(stream, msg->subject);
    js_publish_rollup_apply(stream, msg, &directives);
    uint64_t seq = 0;
    int rc = stream_store_append(stream->store, (const uint8_t *)msg->subject.data,
                                 msg->subject.length, (const uint8_t *)header, (uint32_t)stored,
                                 (const uint8_t *)body, (uint32_t)body_length, &seq);
    if (rc != 0) {
        js_publish_nak_append(stream, msg, rc);
        return;
    }
    js_publish_appended(stream, msg, &directives, seq, stored + body_length);
    js_republish(stream, msg->subject, header, stored, body, body_length, seq, republish_last);
    if (is_counter) {
        counter_ack(stream, msg, seq, &counter);
        return;
    }
    if (msg->reply.length > 0 && ack_push(stream, msg->reply, seq, false, NULL, 0) != 0) {
        /* stored, but the ack cannot wait: the client's retry is a duplicate */
        LOG_WARN("JetStream: stream %s: no memory to hold the ack of %llu", stream->config.name,
                 (unsigned long long)seq);
    }
}

void js_publish_single(struct js_stream *stream, const struct route_msg *msg,
                       const struct js_pub_directives *parsed)
{
    publish_single(stream, msg, parsed);
    /* an async stream's ack (or duplicate ack, or error behind them) leaves now, in order;
     * a duplicate's sequence is at most the last appended one, or durable since the load */
    js_stream_async_release(stream, stream->appended_seq);
}
