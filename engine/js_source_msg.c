/* What reaches a mirror or source on its deliver subject, and where a source takes up
 * again after a restart.
 *
 * The one idea: the ack reply of a delivery ($JS.ACK.<stream>.<consumer>.<deliveries>.
 * <stream seq>.<delivery seq>.<timestamp>.<pending>, or 2.10's longer form with a domain
 * and account hash) carries everything a copy needs, so a delivery is checked against the
 * last stream and delivery sequences seen and stored, or ignored (an older one), or it
 * ends the consumer (a gap: something was lost) as nats-server decides; heartbeats and
 * flow-control requests are answered as a nats-server mirror answers them. A source's
 * copies carry "Nats-Stream-Source: <origin> <seq> <filter> <destination> <subject>",
 * nats-server's own header, so either server finds its place in the other's copies.
 *
 * Owner shard's thread only. */
#include "base/clock.h"
#include "base/log.h"
#include "engine/js_internal.h"
#include "engine/js_source.h"
#include "engine/service.h"
#include "proto/js_pub.h"
#include "proto/subject.h"
#include "proto/subject_transform.h"
#include "store/stream_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the ack reply ---- */

struct ack_reply {
    struct proto_slice consumer;
    struct proto_slice stream_seq_text;
    uint64_t deliveries;
    uint64_t stream_seq;
    uint64_t delivery_seq;
    int64_t timestamp_ns;
    uint64_t pending;
};

static uint64_t token_number(struct proto_slice token)
{
    uint64_t value = 0;
    for (uint32_t i = 0; i < token.length; i++) {
        char c = token.data[i];
        if (c < '0' || c > '9' || value > (UINT64_MAX - 9) / 10) {
            return 0;
        }
        value = value * 10 + (uint64_t)(c - '0');
    }
    return value;
}

/* nats-server's two forms: 9 tokens, or 12 and more (domain and account hash after ACK,
 * a random token last). False for anything else. */
static bool ack_reply_parse(struct proto_slice reply, struct ack_reply *out)
{
    enum { TOKENS_V1 = 9, TOKENS_V2 = 12, TOKENS_MAX = 16 };
    struct proto_slice tokens[TOKENS_MAX] = {{0}};
    size_t count = 0;
    uint32_t start = 0;
    for (uint32_t i = 0; i <= reply.length; i++) {
        if (i == reply.length || reply.data[i] == '.') {
            if (count == TOKENS_MAX) {
                return false;
            }
            tokens[count++] = (struct proto_slice){.data = reply.data + start, .length = i - start};
            start = i + 1;
        }
    }
    if ((count != TOKENS_V1 && count < TOKENS_V2) || tokens[0].length != 3 ||
        memcmp(tokens[0].data, "$JS", 3) != 0 || tokens[1].length != 3 ||
        memcmp(tokens[1].data, "ACK", 3) != 0) {
        return false;
    }
    size_t at = count == TOKENS_V1 ? 3 : 5; /* the consumer's token */
    out->consumer = tokens[at];
    out->deliveries = token_number(tokens[at + 1]);
    out->stream_seq_text = tokens[at + 2];
    out->stream_seq = token_number(tokens[at + 2]);
    out->delivery_seq = token_number(tokens[at + 3]);
    out->timestamp_ns = (int64_t)token_number(tokens[at + 4]);
    out->pending = token_number(tokens[at + 5]);
    return out->stream_seq > 0 && out->delivery_seq > 0;
}

/* ---- the header stored ---- */

static bool key_dropped(const char *line, size_t length, bool source)
{
    static const char *const prefixes[] = {"Nats-Expected-", "Nats-Batch-"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t prefix_length = strlen(prefixes[i]);
        if (length >= prefix_length && memcmp(line, prefixes[i], prefix_length) == 0) {
            return true;
        }
    }
    static const char SOURCE_KEY[] = "Nats-Stream-Source:";
    return source && length >= sizeof SOURCE_KEY - 1 &&
           memcmp(line, SOURCE_KEY, sizeof SOURCE_KEY - 1) == 0;
}

/* Writes into `out` the header block without the lines a copy drops (nats-server's
 * removeHeaderIfPrefixPresent of Nats-Expected- and Nats-Batch-, and for a source a
 * Nats-Stream-Source of an earlier hop), with `add` (a whole "Key: value" line) last when
 * not NULL. `out` has room for length + add_length + 16 bytes. Returns the new length: 0
 * when no block came and none is added; a block left without a line stays, empty, as
 * nats-server keeps it. */
/* Writes a CRLF at `at`. */
static void crlf_put(char *at)
{
    at[0] = '\r';
    at[1] = '\n';
}

static size_t header_rewrite(const char *block, size_t length, const char *add,
                             size_t add_length, bool source, char *out)
{
    if (block == NULL) {
        length = 0;
    }
    static const char EMPTY[] = "NATS/1.0\r\n";
    size_t at = 0;
    size_t written = 0;
    const char *end = block != NULL ? memmem(block, length, "\r\n", 2) : NULL;
    if (end != NULL) {
        at = (size_t)(end - block) + 2;
        memcpy(out, block, at); /* the status line as it is */
        written = at;
    } else {
        memcpy(out, EMPTY, sizeof EMPTY - 1);
        written = sizeof EMPTY - 1;
    }
    size_t lines = 0;
    while (at < length) {
        const char *line = block + at;
        const char *crlf = memmem(line, length - at, "\r\n", 2);
        size_t line_length = crlf != NULL ? (size_t)(crlf - line) : length - at;
        if (line_length == 0) {
            break; /* the blank line that ends the block */
        }
        if (!key_dropped(line, line_length, source)) {
            memcpy(out + written, line, line_length);
            crlf_put(out + written + line_length);
            written += line_length + 2;
            lines++;
        }
        at += line_length + 2;
    }
    if (add != NULL) {
        memcpy(out + written, add, add_length);
        crlf_put(out + written + add_length);
        written += add_length + 2;
        lines++;
    }
    if (lines == 0 && length == 0) {
        return 0; /* no header came, none is added */
    }
    crlf_put(out + written);
    return written + 2;
}

/* "Nats-Stream-Source: <origin> <seq> <filter> <destination> <subject>" (nats-server's
 * genSourceHeader, without a stream identity): malloc'd, NULL without memory. */
static char *source_line(const struct js_source *source, const struct ack_reply *ack,
                         struct proto_slice subject, size_t *length)
{
    const char *space = strchr(source->iname, ' ');
    size_t origin_length = space != NULL ? (size_t)(space - source->iname) : 0;
    const char *rest = space != NULL ? space + 1 : ""; /* "<filter> <destination>" */
    size_t size = 32 + origin_length + ack->stream_seq_text.length + strlen(rest) + subject.length;
    char *line = malloc(size);
    if (line == NULL) {
        return NULL;
    }
    int written = snprintf(line, size, "Nats-Stream-Source: %.*s %.*s %s %.*s", (int)origin_length,
                           source->iname, (int)ack->stream_seq_text.length,
                           ack->stream_seq_text.data, rest, (int)subject.length, subject.data);
    *length = (size_t)written;
    return line;
}

/* The subject a copy is stored under: the first of the source's transforms that matches
 * (written into `out`), else the origin's subject. */
static struct proto_slice copy_subject(const struct js_source *source, struct proto_slice subject,
                                       char *out, size_t size)
{
    for (size_t i = 0; i < source->transform_count; i++) {
        size_t length = 0;
        if (subject_transform_apply(source->transforms[i], subject.data, subject.length, out, size,
                                    &length) == 0) {
            return (struct proto_slice){.data = out, .length = (uint32_t)length};
        }
    }
    return subject;
}

/* Stores one copy; 0, or the append's error. */
static int copy_store(struct js_source *source, const struct route_msg *msg,
                      const struct ack_reply *ack)
{
    size_t add_length = 0;
    char *add = NULL;
    if (!source->mirror) {
        add = source_line(source, ack, msg->subject, &add_length);
        if (add == NULL) {
            return -ENOMEM;
        }
    }
    size_t body_length = msg->payload.length - msg->header_length;
    char *payload = malloc(msg->header_length + add_length + 16 + body_length);
    if (payload == NULL) {
        free(add);
        return -ENOMEM;
    }
    size_t header_length = header_rewrite(msg->header_length > 0 ? msg->payload.data : NULL,
                                          msg->header_length, add, add_length, !source->mirror,
                                          payload);
    memcpy(payload + header_length, msg->payload.data + msg->header_length, body_length);
    free(add);
    char transformed[JS_SUBJECT_TRANSFORMED_MAX];
    const struct route_msg copy = {
        .subject = copy_subject(source, msg->subject, transformed, sizeof transformed),
        .payload = {.data = payload, .length = (uint32_t)(header_length + body_length)},
        .header_length = (uint32_t)header_length,
    };
    int64_t timestamp = ack->timestamp_ns > 0 ? ack->timestamp_ns : 1;
    int rc = js_publish_sourced(source->stream, &copy, source->mirror ? timestamp : 0);
    free(payload);
    return rc;
}

/* ---- deliveries ---- */

static void publish_empty(struct js_source *source, const char *subject, size_t length,
                          const char *header)
{
    const struct route_msg msg = {
        .subject = {.data = subject, .length = (uint32_t)length},
        .payload = {.data = header, .length = header != NULL ? (uint32_t)strlen(header) : 0},
        .header_length = header != NULL ? (uint32_t)strlen(header) : 0,
    };
    service_publish(source->stream->js->shard, &msg);
}

/* A heartbeat or a flow-control request ("NATS/1.0 100 ..." without a body). */
static void control_handle(struct js_source *source, const struct route_msg *msg)
{
    if (msg->reply.length > 0) {
        char header[128];
        snprintf(header, sizeof header,
                 "NATS/1.0\r\nNats-Last-Consumer: %llu\r\nNats-Last-Stream: %llu\r\n\r\n",
                 (unsigned long long)source->dseq, (unsigned long long)source->sseq);
        publish_empty(source, msg->reply.data, msg->reply.length, header);
        return;
    }
    struct js_pub_text last =
        js_pub_header_value(msg->payload.data, msg->header_length, "Nats-Last-Consumer");
    uint64_t last_delivery =
        last.bytes != NULL
            ? token_number((struct proto_slice){.data = last.bytes, .length = (uint32_t)last.length})
            : 0;
    if (last_delivery > 0 && last_delivery != source->dseq && source->cname != NULL) {
        js_source_retry(source, false); /* deliveries were missed */
        return;
    }
    struct js_pub_text stalled =
        js_pub_header_value(msg->payload.data, msg->header_length, "Nats-Consumer-Stalled");
    if (stalled.bytes != NULL && stalled.length > 0 &&
        subject_valid_literal(stalled.bytes, stalled.length)) {
        publish_empty(source, stalled.bytes, stalled.length, NULL);
    }
}

static bool is_control(const struct route_msg *msg)
{
    static const char PREFIX[] = "NATS/1.0 100 ";
    return msg->header_length == msg->payload.length && msg->header_length >= sizeof PREFIX - 1 &&
           memcmp(msg->payload.data, PREFIX, sizeof PREFIX - 1) == 0;
}

/* Where a delivery goes: false when it is ignored or ended the consumer, as nats-server's
 * processInboundMirrorMsg and processInboundSourceMsg decide. A mirror takes the next
 * origin sequence, or jumps a gap the origin left when the delivery sequence goes on by
 * one; a source takes any later origin sequence delivered next. A delivery sequence further
 * on means something was lost: a new consumer; one already seen is ignored. */
static bool sequence_accepted(struct js_source *source, const struct ack_reply *ack)
{
    if (ack->stream_seq <= source->sseq) {
        if (ack->delivery_seq == source->dseq + 1) {
            source->dseq++;
        }
        return false; /* older than what is stored */
    }
    if (ack->delivery_seq == source->dseq + 1 ||
        (source->mirror && ack->stream_seq == source->sseq + 1)) {
        return true;
    }
    if (!source->mirror && ack->delivery_seq <= source->dseq) {
        return false;
    }
    js_source_retry(source, false); /* a delivery was lost on the way */
    return false;
}

void js_source_deliver_handle(struct shard *shard, void *context, const struct route_msg *msg)
{
    (void)shard;
    struct js_source *source = context;
    source->last_ns = clock_monotonic_ns();
    if (is_control(msg)) {
        control_handle(source, msg);
        return;
    }
    struct ack_reply ack;
    if (!ack_reply_parse(msg->reply, &ack) || ack.deliveries > 1) {
        LOG_DEBUG("JetStream: stream %s: a delivery without a usable ack reply (%.*s) ignored",
                  source->stream->config.name, (int)msg->reply.length, msg->reply.data);
        return;
    }
    if (source->cname == NULL) {
        /* deliveries before the create reply: the consumer is the one asked for (the
         * subject is this request's own) */
        source->cname = strndup(ack.consumer.data, ack.consumer.length);
        if (source->cname == NULL) {
            return;
        }
        js_source_activated(source);
    } else if (strlen(source->cname) != ack.consumer.length ||
               memcmp(source->cname, ack.consumer.data, ack.consumer.length) != 0) {
        return; /* an earlier consumer's */
    }
    if (!sequence_accepted(source, &ack)) {
        return;
    }
    struct stream_store_info info;
    stream_store_info_get(source->stream->store, &info);
    if (source->mirror && info.last_seq > ack.stream_seq - 1) {
        js_source_retry(source, false); /* this one is stored already: start after it */
        return;
    }
    if (source->mirror && info.last_seq < ack.stream_seq - 1) {
        int rc = stream_store_skip(source->stream->store, ack.stream_seq - 1);
        if (rc == -E2BIG) {
            /* a gap this long is 4 bytes a sequence while messages are held: refused, the
             * mirror stops here until the origin's gap is purged from this mirror too */
            js_source_error_set(source, 500, 10029,
                                "mirror gap too long to skip while messages are held");
        }
        if (rc != 0) {
            LOG_WARN("JetStream: stream %s: cannot skip to mirror sequence %llu: %s",
                     source->stream->config.name, (unsigned long long)ack.stream_seq,
                     strerror(-rc));
            js_source_retry(source, true);
            return;
        }
    }
    int rc = copy_store(source, msg, &ack);
    if (rc != 0 && !(source->mirror && rc == -EMSGSIZE)) {
        LOG_WARN("JetStream: stream %s: cannot store %s message %llu of %s: %s",
                 source->stream->config.name, source->mirror ? "mirror" : "source",
                 (unsigned long long)ack.stream_seq, js_source_config(source)->name,
                 strerror(-rc));
        /* taken up again from this message; a store busy writing is no failure */
        js_source_retry(source, rc != -EAGAIN);
        return;
    }
    source->dseq = ack.delivery_seq;
    source->sseq = ack.stream_seq;
    source->lag = ack.pending > 0 ? ack.pending - 1 : 0;
    js_source_direct_check(source);
}

/* ---- where sources take up again ---- */

/* The index name and sequence in a Nats-Stream-Source value "<origin> <seq> <filter>
 * <destination> ...": false for a value without them. */
static bool source_header_parse(struct js_pub_text value, char *iname, size_t size,
                                uint64_t *seq)
{
    struct proto_slice fields[4];
    size_t count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= value.length && count < 4; i++) {
        if (i == value.length || value.bytes[i] == ' ') {
            fields[count++] =
                (struct proto_slice){.data = value.bytes + start, .length = (uint32_t)(i - start)};
            start = i + 1;
        }
    }
    if (count < 4) {
        return false;
    }
    int written = snprintf(iname, size, "%.*s %.*s %.*s", (int)fields[0].length, fields[0].data,
                           (int)fields[2].length, fields[2].data, (int)fields[3].length,
                           fields[3].data);
    *seq = token_number(fields[1]);
    return written > 0 && (size_t)written < size && *seq > 0;
}

void js_sources_find_positions(struct js_stream *stream)
{
    struct stream_store_info info;
    stream_store_info_get(stream->store, &info);
    size_t unfound = stream->source_link_count;
    char iname[3 * JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX + 64];
    for (uint64_t seq = info.last_seq; seq >= info.first_seq && seq > 0 && unfound > 0; seq--) {
        struct stream_store_msg msg;
        if (stream_store_get(stream->store, seq, &msg) != 0 || msg.header_length == 0) {
            continue;
        }
        struct js_pub_text value = js_pub_header_value((const char *)msg.header,
                                                       msg.header_length, "Nats-Stream-Source");
        uint64_t origin_seq = 0;
        if (value.bytes == NULL || !source_header_parse(value, iname, sizeof iname, &origin_seq)) {
            continue;
        }
        for (size_t i = 0; i < stream->source_link_count; i++) {
            struct js_source *source = stream->source_links[i];
            if (source->sseq == 0 && strcmp(source->iname, iname) == 0) {
                source->sseq = origin_seq;
                unfound--;
            }
        }
    }
}
