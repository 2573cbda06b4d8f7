/* A stream's subject transforms at run time: `subject_transform` (the subject a publish
 * is stored under) and `republish` (each stored message published again on a subject of
 * its own, with nats-server's Nats-Stream, Nats-Subject, Nats-Sequence, Nats-Time-Stamp,
 * Nats-Last-Sequence and, headers only, Nats-Msg-Size headers).
 *
 * The one idea: both are nats-server's subject transforms (proto/subject_transform.h),
 * compiled once with the stream's subscriptions and applied per message without
 * allocating: a publish whose subject the input transform does not match is stored as it
 * came, one the republish source does not match is not republished. A republish leaves
 * when the message is stored, as nats-server's does, before its ack waits for the disk.
 *
 * Owner shard's thread only. */
#include "base/log.h"
#include "engine/js_internal.h"
#include "engine/service.h"
#include "proto/subject.h"
#include "proto/subject_transform.h"
#include "store/stream_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int js_stream_transforms_make(struct js_stream *stream)
{
    const struct js_stream_config *config = &stream->config;
    char error[256];
    int rc = 0;
    if (config->has_subject_transform) {
        rc = subject_transform_new(config->subject_transform.src, config->subject_transform.dest,
                                   &stream->input_transform, error, sizeof error);
    }
    if (rc == 0 && config->has_republish) {
        const char *source = config->republish.src != NULL ? config->republish.src : ">";
        rc = subject_transform_new(source, config->republish.dest, &stream->republish_transform,
                                   error, sizeof error);
    }
    if (rc != 0) {
        /* the config was checked with the same parser: only memory can fail here */
        LOG_ERROR("JetStream: stream %s: subject transform not made: %s", config->name,
                  rc == -ENOMEM ? strerror(ENOMEM) : error);
        js_stream_transforms_drop(stream);
    }
    return rc;
}

void js_stream_transforms_drop(struct js_stream *stream)
{
    subject_transform_free(stream->input_transform);
    stream->input_transform = NULL;
    subject_transform_free(stream->republish_transform);
    stream->republish_transform = NULL;
}

struct proto_slice js_stream_subject_in(const struct js_stream *stream, struct proto_slice subject,
                                        char *out, size_t size)
{
    size_t length = 0;
    if (stream->input_transform == NULL ||
        subject_transform_apply(stream->input_transform, subject.data, subject.length, out, size,
                                &length) != 0) {
        return subject; /* no match: stored as it came, as nats-server does */
    }
    return (struct proto_slice){.data = out, .length = (uint32_t)length};
}

uint64_t js_republish_last(struct js_stream *stream, struct proto_slice subject)
{
    uint64_t last = 0;
    if (stream->republish_transform != NULL &&
        stream_store_subject_last(stream->store, (const uint8_t *)subject.data, subject.length,
                                  &last) != 0) {
        last = 0;
    }
    return last;
}

void js_republish(struct js_stream *stream, struct proto_slice subject, const char *header,
                  size_t header_length, const char *body, size_t body_length, uint64_t seq,
                  uint64_t last_seq)
{
    if (stream->republish_transform == NULL) {
        return;
    }
    char target[4096];
    size_t target_length = 0;
    if (subject_transform_apply(stream->republish_transform, subject.data, subject.length,
                                target, sizeof target, &target_length) != 0) {
        return;
    }
    if (!subject_valid_literal(target, target_length)) {
        LOG_WARN("JetStream: stream %s: republish to the invalid subject %.*s suppressed",
                 stream->config.name, (int)target_length, target);
        return;
    }
    struct stream_store_msg stored;
    int64_t timestamp = stream_store_get(stream->store, seq, &stored) == 0 ? stored.timestamp_ns
                                                                          : js_now_ns();
    bool headers_only = stream->config.republish.headers_only;
    size_t room = header_length + JS_STORED_HEADERS_ROOM + strlen(stream->config.name) +
                  subject.length + 96;
    char *block = malloc(room + (headers_only ? 0 : body_length));
    if (block == NULL) {
        LOG_WARN("JetStream: stream %s: no memory to republish %llu", stream->config.name,
                 (unsigned long long)seq);
        return;
    }
    size_t at = js_stored_headers_write(block, room, stream->config.name, header, header_length,
                                        subject, seq, timestamp);
    at += (size_t)snprintf(block + at, room - at, "Nats-Last-Sequence: %llu\r\n",
                           (unsigned long long)last_seq);
    if (headers_only) {
        at += (size_t)snprintf(block + at, room - at, "Nats-Msg-Size: %zu\r\n", body_length);
    }
    at += (size_t)snprintf(block + at, room - at, "\r\n");
    size_t new_header_length = at;
    if (!headers_only && body_length > 0) {
        memcpy(block + at, body, body_length);
        at += body_length;
    }
    const struct route_msg msg = {
        .subject = {.data = target, .length = (uint32_t)target_length},
        .payload = {.data = block, .length = (uint32_t)at},
        .header_length = (uint32_t)new_header_length,
    };
    service_publish(stream->js->shard, &msg);
    free(block);
}
