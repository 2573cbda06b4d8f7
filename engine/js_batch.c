/* Atomic batch publish (allow_atomic, nats-server 2.12): a client publishes messages with
 * Nats-Batch-Id and Nats-Batch-Sequence 1, 2, ...; the one with Nats-Batch-Commit ("1":
 * stored too; "eob": only ends the batch) commits them all, or none. This file owns the
 * batches a stream has open: staging, their bounds, their inactivity timeout and its
 * advisory, and the commit.
 *
 * The one idea: nothing of a batch touches the stream until its commit, and the commit
 * runs every check first, against the stream's state and the batch's own earlier messages
 * (as nats-server's checkMsgHeadersPreClusteredProposal does), then appends all of it in
 * one go inside a store batch (stream_store_batch_open), whose records recovery keeps
 * whole or drops whole; the one ack, {"stream":..,"seq":<last>,"batch":..,"count":N}, waits
 * in the stream's ack FIFO like any other until the group commit holding the last message
 * is durable. A failed check answers the commit with its error and forgets the batch; a
 * message that does not commit is answered with an empty message once staged. Staging and
 * commit are synchronous on the owner shard, so no read, consumer or other publish sees a
 * part of a batch.
 *
 * Bounds, nats-server 2.15's defaults (its jetstream.limits.batch options; ionats has no
 * such options, so these are fixed):
 *   - JS_BATCH_MSGS_MAX messages per batch (the eob message not counted): 10199;
 *   - JS_BATCH_PER_STREAM_MAX batches open per stream, JS_BATCH_SERVER_MAX per server
 *     (js_server.batches_open, every shard): 10210;
 *   - JS_BATCH_TIMEOUT_NS without a message: the batch is dropped, advisory "timeout".
 * And ionats's own, since it stages in memory where nats-server stages on disk:
 *   - JS_BATCH_BYTES_MAX staged bytes per batch: 10199 and advisory "large", as for count;
 *   - JS_BATCH_SHARD_BYTES_MAX staged bytes of all batches on a shard: 10023 and advisory
 *     "incomplete".
 * Owner shard's thread only. */
#include "engine/js_batch.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/js_counter.h"
#include "engine/js_internal.h"
#include "engine/js_publish.h"
#include "engine/shard.h"
#include "proto/go_json.h"
#include "proto/js_pub.h"
#include "store/stream_store.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    JS_BATCH_MSGS_MAX = 1000,      /* streamDefaultMaxAtomicBatchSize */
    JS_BATCH_PER_STREAM_MAX = 50,  /* streamDefaultMaxAtomicBatchInflightPerStream */
    JS_BATCH_SERVER_MAX = 1000,    /* streamDefaultMaxAtomicBatchInflightTotal */
};
/* streamDefaultMaxBatchTimeout: a batch idle this long is abandoned (checked each tick). */
#define JS_BATCH_TIMEOUT_NS ((int64_t)10 * 1000 * 1000 * 1000)
/* What one batch may stage: a thousand messages of 64 KiB, or fewer larger ones. */
#define JS_BATCH_BYTES_MAX ((uint64_t)64 << 20)
/* What a shard's batches may stage together: four full batches. */
#define JS_BATCH_SHARD_BYTES_MAX ((uint64_t)256 << 20)
STATIC_ASSERT(JS_BATCH_BYTES_MAX <= JS_BATCH_SHARD_BYTES_MAX, "a full batch fits a shard");

static const char REQUIRED_API_LEVEL[] = "Nats-Required-Api-Level";
static const struct js_pub_error_args NO_ARGS = {0};
static const char COMMIT_LINE[] = "Nats-Batch-Commit: 1\r\n";

/* A staged message: subject, header block and body back to back in `data`. */
struct js_batch_msg {
    char *data; /* owned */
    uint32_t subject_length;
    uint32_t header_length;
    uint32_t body_length;
};

struct js_batch {
    struct js_batch *next;           /* the stream's list */
    char id[JS_PUB_BATCH_ID_LENGTH_MAX];
    uint32_t id_length;
    uint64_t last_seq;               /* Nats-Batch-Sequence of the last message staged */
    struct js_batch_msg *msgs;       /* owned [count] */
    uint32_t count;
    uint32_t capacity;
    uint64_t bytes;                  /* staged */
    int64_t deadline_ns;             /* monotonic: abandoned when reached */
};

/* ---- the batches of a stream ---- */

static struct js_batch *batch_find(const struct js_stream *stream, struct js_pub_text id)
{
    for (struct js_batch *batch = stream->batches; batch != NULL; batch = batch->next) {
        if (batch->id_length == id.length && memcmp(batch->id, id.bytes, id.length) == 0) {
            return batch;
        }
    }
    return NULL;
}

/* A new batch, counted against the per-stream and per-server bounds: NULL after answering
 * 10210, or with no memory (10176, as nats-server answers a staging store it cannot make). */
static struct js_batch *batch_open(struct js_stream *stream, const struct route_msg *msg,
                                   struct js_pub_text id)
{
    ASSERT(id.length <= JS_PUB_BATCH_ID_LENGTH_MAX);
    if (stream->batch_count + 1 > JS_BATCH_PER_STREAM_MAX) {
        js_publish_nak(stream, msg, JS_PUB_ERR_ATOMIC_TOO_MANY_INFLIGHT, &NO_ARGS);
        return NULL;
    }
    /* relaxed: a count that bounds; each shard adds and takes back its own */
    _Atomic int64_t *open = &stream->js->server->batches_open;
    if (atomic_fetch_add_explicit(open, 1, memory_order_relaxed) + 1 > JS_BATCH_SERVER_MAX) {
        atomic_fetch_sub_explicit(open, 1, memory_order_relaxed);
        js_publish_nak(stream, msg, JS_PUB_ERR_ATOMIC_TOO_MANY_INFLIGHT, &NO_ARGS);
        return NULL;
    }
    struct js_batch *batch = calloc(1, sizeof *batch);
    if (batch == NULL) {
        atomic_fetch_sub_explicit(open, 1, memory_order_relaxed);
        js_publish_nak(stream, msg, JS_PUB_ERR_ATOMIC_INCOMPLETE, &NO_ARGS);
        return NULL;
    }
    memcpy(batch->id, id.bytes, id.length);
    batch->id_length = (uint32_t)id.length;
    batch->next = stream->batches;
    stream->batches = batch;
    stream->batch_count++;
    return batch;
}

/* Forgets `batch` and frees what it staged. */
static void batch_drop(struct js_stream *stream, struct js_batch *batch)
{
    struct js_batch **link = &stream->batches;
    while (*link != batch) {
        ASSERT(*link != NULL);
        link = &(*link)->next;
    }
    *link = batch->next;
    ASSERT(stream->batch_count > 0);
    stream->batch_count--;
    ASSERT(stream->js->batch_bytes >= batch->bytes);
    stream->js->batch_bytes -= batch->bytes;
    atomic_fetch_sub_explicit(&stream->js->server->batches_open, 1, memory_order_relaxed);
    for (uint32_t i = 0; i < batch->count; i++) {
        free(batch->msgs[i].data);
    }
    free(batch->msgs);
    free(batch);
}

void js_batch_drop_all(struct js_stream *stream)
{
    while (stream->batches != NULL) {
        batch_drop(stream, stream->batches);
    }
}

/* $JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.<stream>, as nats-server sends it to the
 * account: `reason` is timeout, large, incomplete or unsupported. */
static void advisory_send(struct js_stream *stream, const struct js_batch *batch,
                          const char *reason)
{
    char subject[64 + JS_STREAM_CONFIG_NAME_LENGTH_MAX];
    snprintf(subject, sizeof subject, "$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.%s",
             stream->config.name);
    struct go_json json;
    go_json_init(&json, 4096);
    js_api_event_begin(&json, "io.nats.jetstream.advisory.v1.stream_batch_abandoned");
    go_json_key_cstring(&json, "stream", stream->config.name);
    const char *domain = stream->js->shard->server->config->js_domain;
    if (domain != NULL && domain[0] != '\0') {
        go_json_key_cstring(&json, "domain", domain);
    }
    go_json_key(&json, "batch");
    go_json_string(&json, batch->id, batch->id_length);
    go_json_key_cstring(&json, "reason", reason);
    go_json_literal(&json, "}");
    if (!json.failed) {
        js_reply(stream->js, subject, strlen(subject), json.data, json.length);
    }
    go_json_free(&json);
}

/* Drops `batch` with its advisory. */
static void batch_abandon(struct js_stream *stream, struct js_batch *batch, const char *reason)
{
    advisory_send(stream, batch, reason);
    batch_drop(stream, batch);
}

void js_batch_tick(struct js_stream *stream, int64_t now_ns)
{
    struct js_batch *batch = stream->batches;
    while (batch != NULL) {
        struct js_batch *next = batch->next;
        if (now_ns >= batch->deadline_ns) {
            batch_abandon(stream, batch, "timeout");
        }
        batch = next;
    }
}

/* ---- staging ---- */

/* Copies `length` bytes of a header block without its Nats-Required-Api-Level lines (all of
 * them, as nats-server's removeHeaderIfPresent) into `out`; returns the length kept. */
static size_t header_copy_without_level(const char *block, size_t length, char *out)
{
    size_t key_length = sizeof REQUIRED_API_LEVEL - 1;
    size_t kept = 0;
    size_t at = 0;
    while (at < length) {
        const char *crlf = memmem(block + at, length - at, "\r\n", 2);
        size_t line = crlf != NULL ? (size_t)(crlf - (block + at)) + 2 : length - at;
        bool drop = at > 0 && line > key_length + 2 &&
                    memcmp(block + at, REQUIRED_API_LEVEL, key_length) == 0 &&
                    block[at + key_length] == ':';
        if (!drop) {
            memcpy(out + kept, block + at, line);
            kept += line;
        }
        at += line;
    }
    return kept;
}

/* Stages a copy of `msg`: false with no memory. */
static bool batch_stage(struct js_stream *stream, struct js_batch *batch,
                        const struct route_msg *msg, size_t size)
{
    if (batch->count == batch->capacity) {
        uint32_t capacity = batch->capacity != 0 ? batch->capacity * 2 : 8;
        struct js_batch_msg *grown = realloc(batch->msgs, capacity * sizeof *grown);
        if (grown == NULL) {
            return false;
        }
        batch->msgs = grown;
        batch->capacity = capacity;
    }
    char *data = malloc(msg->subject.length + msg->payload.length + 1);
    if (data == NULL) {
        return false;
    }
    memcpy(data, msg->subject.data, msg->subject.length);
    size_t header_length = header_copy_without_level(msg->payload.data, msg->header_length,
                                                     data + msg->subject.length);
    size_t body_length = msg->payload.length - msg->header_length;
    memcpy(data + msg->subject.length + header_length, msg->payload.data + msg->header_length,
           body_length);
    batch->msgs[batch->count++] = (struct js_batch_msg){
        .data = data,
        .subject_length = msg->subject.length,
        .header_length = (uint32_t)header_length,
        .body_length = (uint32_t)body_length,
    };
    batch->bytes += size;
    stream->js->batch_bytes += size;
    return true;
}

/* The checks before a batch is looked up, as nats-server makes them on each message;
 * they answer without touching the batch. False after answering. */
static bool entry_admitted(struct js_stream *stream, const struct route_msg *msg,
                           const struct js_pub_directives *directives, size_t size)
{
    if (stream->failure != 0) {
        char text[128];
        snprintf(text, sizeof text, "stream store failed: %s", strerror(-stream->failure));
        js_publish_nak_store(stream, msg, text);
        return false;
    }
    if (stream->config.sealed) {
        js_publish_nak_id(stream, msg, JS_ERR_STREAM_SEALED);
        return false;
    }
    if (js_publish_storage_exceeded(stream, size)) {
        js_publish_nak_id(stream, msg, JS_ERR_INSUFFICIENT_RESOURCES);
        return false;
    }
    if (stream->config.max_msg_size >= 0 && size > (size_t)stream->config.max_msg_size) {
        js_publish_nak_id(stream, msg, JS_ERR_STREAM_MESSAGE_EXCEEDS_MAXIMUM);
        return false;
    }
    return js_publish_stage_passes(stream, msg, directives, JS_PUB_STAGE_BATCH_ENTRY,
                                   msg->payload.length - msg->header_length);
}

/* A message for a batch the stream does not have: the first one opens it; any other is
 * answered (too large, or incomplete) and forgotten. NULL after answering. */
static struct js_batch *batch_lookup(struct js_stream *stream, const struct route_msg *msg,
                                     const struct js_pub_directives *directives)
{
    struct js_batch *batch = batch_find(stream, directives->batch_id);
    if (batch != NULL) {
        return batch;
    }
    if (directives->batch_seq != 1) {
        uint64_t size = directives->batch_seq;
        if (directives->batch_commit == JS_PUB_COMMIT_EOB) {
            size--; /* the eob message is not counted */
        }
        if (size > JS_BATCH_MSGS_MAX) {
            const struct js_pub_error_args args = {.number = JS_BATCH_MSGS_MAX};
            js_publish_nak(stream, msg, JS_PUB_ERR_ATOMIC_TOO_LARGE, &args);
        } else {
            js_publish_nak(stream, msg, JS_PUB_ERR_ATOMIC_INCOMPLETE, &NO_ARGS);
        }
        return NULL;
    }
    return batch_open(stream, msg, directives->batch_id);
}

static void batch_commit(struct js_stream *stream, struct js_batch *batch,
                         const struct route_msg *commit, bool eob);

void js_batch_publish(struct js_stream *stream, const struct route_msg *msg,
                      struct js_pub_directives *directives)
{
    ASSERT(directives->batch);
    size_t size = msg->payload.length;
    if (!entry_admitted(stream, msg, directives, size)) {
        return;
    }
    struct js_batch *batch = batch_lookup(stream, msg, directives);
    if (batch == NULL) {
        return;
    }
    if (!js_publish_stage_passes(stream, msg, directives, JS_PUB_STAGE_BATCH_COMMIT_VALUE,
                                 size - msg->header_length)) {
        batch_drop(stream, batch); /* nats-server sends no advisory here */
        return;
    }
    struct js_pub_text level =
        js_pub_header_value(msg->payload.data, msg->header_length, REQUIRED_API_LEVEL);
    if (level.bytes != NULL && level.length > 0 &&
        !js_api_level_met(msg->payload.data, msg->header_length)) {
        batch_abandon(stream, batch, "unsupported");
        js_publish_nak_id(stream, msg, JS_ERR_REQUIRED_API_LEVEL);
        return;
    }
    bool eob = directives->batch_commit == JS_PUB_COMMIT_EOB;
    if (batch->last_seq + 1 != directives->batch_seq || (directives->batch_seq == 1 && eob)) {
        batch_abandon(stream, batch, "incomplete");
        js_publish_nak(stream, msg, JS_PUB_ERR_ATOMIC_INCOMPLETE, &NO_ARGS);
        return;
    }
    if (directives->batch_seq - (eob ? 1 : 0) > JS_BATCH_MSGS_MAX ||
        batch->bytes + size > JS_BATCH_BYTES_MAX) {
        batch_abandon(stream, batch, "large");
        const struct js_pub_error_args args = {.number = JS_BATCH_MSGS_MAX};
        js_publish_nak(stream, msg, JS_PUB_ERR_ATOMIC_TOO_LARGE, &args);
        return;
    }
    if (stream->js->batch_bytes + size > JS_BATCH_SHARD_BYTES_MAX) {
        batch_abandon(stream, batch, "incomplete");
        js_publish_nak_id(stream, msg, JS_ERR_INSUFFICIENT_RESOURCES);
        return;
    }
    if (!eob && !batch_stage(stream, batch, msg, size)) {
        batch_abandon(stream, batch, "incomplete");
        js_publish_nak(stream, msg, JS_PUB_ERR_ATOMIC_INCOMPLETE, &NO_ARGS);
        return;
    }
    batch->last_seq = directives->batch_seq;
    batch->deadline_ns = clock_monotonic_ns() + JS_BATCH_TIMEOUT_NS;
    if (directives->batch_commit == JS_PUB_COMMIT_NONE) {
        if (msg->reply.length > 0) {
            js_publish_answer(stream, msg->reply, "", 0); /* staged: an empty message */
        }
        return;
    }
    batch_commit(stream, batch, msg, eob);
}

/* ---- the commit ---- */

/* One message of the batch being committed. */
struct prepared {
    struct route_msg msg;                 /* the staged message (its raw header and body) */
    struct js_pub_directives directives;  /* borrowed from the staged header */
    char *header;                         /* owned: the header it is stored with */
    size_t header_length;
    const char *body;                     /* the staged body, or counter.body */
    size_t body_length;
    struct js_counter_next counter;       /* a counter's total (is_counter) */
    bool is_counter;
    /* Nats-Expected-Last-Subject-Sequence checked for `expected_subject`: its value */
    bool expected_checked;
    struct proto_slice expected_subject;
    uint64_t expected_seq;
};

struct commit {
    struct js_stream *stream;
    const struct route_msg *reply_to;     /* the commit message: every error answers it */
    struct prepared *items;               /* owned [count] */
    size_t count;
    struct stream_store_info info;        /* the stream before the batch */
    uint64_t bytes;                       /* what the items so far count toward max_bytes */
};

static bool slice_equal(struct proto_slice a, struct proto_slice b)
{
    return a.length == b.length && memcmp(a.data, b.data, a.length) == 0;
}

/* Whether a message before item `index` is on `subject` (nats-server's diff.inflight). */
static bool subject_earlier(const struct commit *c, size_t index, struct proto_slice subject)
{
    for (size_t i = 0; i < index; i++) {
        if (slice_equal(c->items[i].msg.subject, subject)) {
            return true;
        }
    }
    return false;
}

/* What a message counts toward max_bytes, as the stream's store counts it. */
static uint64_t counted_size(const struct js_stream *stream, const struct prepared *p)
{
    uint64_t subject = p->msg.subject.length;
    if (stream->config.storage == JS_STREAM_STORAGE_MEMORY) {
        return 16 + subject + p->header_length + p->body_length; /* memStoreMsgSizeRaw */
    }
    uint64_t size = 30 + subject + p->body_length; /* fileStoreMsgSizeRaw */
    return p->header_length > 0 ? size + 4 + p->header_length : size;
}

static void nak_rollup(struct commit *c, const char *text)
{
    struct js_error error;
    js_errors_setf(&error, JS_ERR_STREAM_ROLLUP_FAILED, "%s", text);
    js_publish_nak_api(c->stream, c->reply_to, &error);
}

/* Makes item `index` from staged message `staged`: its directives, the header it is
 * stored with (with "Nats-Batch-Commit: 1" added to the last when an eob committed). */
static bool item_prepare(struct commit *c, size_t index, const struct js_batch_msg *staged,
                         bool add_commit)
{
    struct prepared *p = &c->items[index];
    const char *header = staged->data + staged->subject_length;
    p->msg = (struct route_msg){
        .subject = {.data = staged->data, .length = staged->subject_length},
        .payload = {.data = header, .length = staged->header_length + staged->body_length},
        .header_length = staged->header_length,
    };
    js_pub_directives_parse(staged->header_length > 0 ? header : NULL, staged->header_length,
                            &p->directives);
    size_t size = staged->header_length + JS_PUBLISH_HEADER_GROWTH_MAX + sizeof COMMIT_LINE;
    p->header = malloc(size);
    if (p->header == NULL) {
        js_publish_nak_store(c->stream, c->reply_to, strerror(ENOMEM));
        return false;
    }
    p->header_length = js_publish_header_prepare(c->stream, &p->msg, &p->directives, p->header,
                                                 size);
    if (add_commit && p->header_length >= 2) {
        /* nats-server's genHeader: the line goes before the block's final CRLF */
        memcpy(p->header + p->header_length - 2, COMMIT_LINE, sizeof COMMIT_LINE - 1);
        p->header_length += sizeof COMMIT_LINE - 1;
        memcpy(p->header + p->header_length - 2, "\r\n", 2);
    }
    p->body = header + staged->header_length;
    p->body_length = staged->body_length;
    return true;
}

/* The counter's next total over the batch's earlier increments of the subject. */
static bool item_count(struct commit *c, size_t index)
{
    struct prepared *p = &c->items[index];
    const struct js_counter_last *previous = NULL;
    struct js_counter_last last;
    for (size_t i = index; i-- > 0;) {
        const struct prepared *earlier = &c->items[i];
        if (earlier->is_counter && slice_equal(earlier->msg.subject, p->msg.subject)) {
            last = (struct js_counter_last){.header = earlier->header,
                                            .header_length = earlier->header_length,
                                            .body = earlier->body,
                                            .body_length = earlier->body_length};
            previous = &last;
            break;
        }
    }
    int rc = previous != NULL
                 ? js_counter_next_after(previous, p->msg.subject, p->header, p->header_length,
                                         p->body, p->body_length, &p->directives, &p->counter)
                 : js_counter_next(c->stream, p->msg.subject, p->header, p->header_length,
                                   p->body, p->body_length, &p->directives, &p->counter);
    if (rc == -EBADMSG) {
        js_publish_nak_counter_broken(c->stream, c->reply_to);
        return false;
    }
    if (rc != 0) {
        js_publish_nak_store(c->stream, c->reply_to, strerror(-rc));
        return false;
    }
    p->is_counter = true;
    if (p->counter.header != NULL) {
        free(p->header);
        p->header = p->counter.header; /* taken over */
        p->header_length = p->counter.header_length;
        p->counter.header = NULL;
    }
    p->body = p->counter.body;
    p->body_length = p->counter.body_length;
    const struct js_stream_config *config = &c->stream->config;
    if (config->max_msg_size >= 0 &&
        p->header_length + p->body_length > (size_t)config->max_msg_size) {
        js_publish_nak_id(c->stream, c->reply_to, JS_ERR_STREAM_MESSAGE_EXCEEDS_MAXIMUM);
        return false;
    }
    return true;
}

/* Nats-Expected-Last-Sequence and -Last-Subject-Sequence within the batch: only its first
 * message may expect a last sequence (a later one that names the sequence before it gets
 * 10164, any other 10071); a subject the batch already wrote cannot be
 * expected (10164); one expected twice is answered from the first check. */
static bool item_expectations_hold(struct commit *c, size_t index)
{
    struct prepared *p = &c->items[index];
    const struct js_pub_directives *d = &p->directives;
    if (d->expected_last_seq_set) {
        /* nats-server compares with the sequence the message before it takes (its clseq):
         * the stream's last plus the batch's messages before this one */
        uint64_t last = c->info.last_seq + index;
        if (d->expected_last_seq != last) {
            const struct js_pub_error_args args = {.number = last};
            js_publish_nak(c->stream, c->reply_to, JS_PUB_ERR_WRONG_LAST_SEQUENCE, &args);
            return false;
        }
        if (index > 0) {
            js_publish_nak_id(c->stream, c->reply_to, JS_ERR_STREAM_WRONG_LAST_SEQUENCE_CONSTANT);
            return false;
        }
    }
    if (!d->expected_last_subject_seq_set) {
        return true;
    }
    struct proto_slice subject = p->msg.subject;
    if (d->expected_last_subject.length > 0) {
        subject = (struct proto_slice){.data = d->expected_last_subject.bytes,
                                       .length = (uint32_t)d->expected_last_subject.length};
    }
    if (subject_earlier(c, index, subject)) {
        js_publish_nak_id(c->stream, c->reply_to, JS_ERR_STREAM_WRONG_LAST_SEQUENCE_CONSTANT);
        return false;
    }
    uint64_t last = 0;
    bool cached = false;
    for (size_t i = 0; i < index && !cached; i++) {
        if (c->items[i].expected_checked && slice_equal(c->items[i].expected_subject, subject)) {
            last = c->items[i].expected_seq;
            cached = true;
        }
    }
    if (!cached && stream_store_subject_last(c->stream->store, (const uint8_t *)subject.data,
                                             subject.length, &last) != 0) {
        last = 0;
    }
    if (last != d->expected_last_subject_seq) {
        const struct js_pub_error_args args = {.number = last};
        js_publish_nak(c->stream, c->reply_to, JS_PUB_ERR_WRONG_LAST_SEQUENCE, &args);
        return false;
    }
    p->expected_checked = true;
    p->expected_subject = subject;
    p->expected_seq = last;
    return true;
}

/* Nats-Rollup within the batch: the stream only on its first message, a subject only where
 * the batch has not written it yet. */
static bool item_rollup_holds(struct commit *c, size_t index)
{
    const struct prepared *p = &c->items[index];
    if (p->directives.rollup == JS_PUB_ROLLUP_SUBJECT && subject_earlier(c, index, p->msg.subject)) {
        nak_rollup(c, "batch rollup sub invalid");
        return false;
    }
    if (p->directives.rollup == JS_PUB_ROLLUP_ALL && index > 0) {
        nak_rollup(c, "batch rollup all invalid");
        return false;
    }
    return true;
}

/* What the store would refuse of the item whatever it holds (its size against the
 * segment's room and max_bytes, the header it is stored with, sequences left), answered as
 * a single publish's refusal is, so that once the first append is made no other fails but
 * for the disk or memory; then, under discard new, the stream's messages and bytes with the
 * batch's so far, and the subject's messages with the batch's on it (a rollup excepted),
 * against the limits. */
static bool item_limits_hold(struct commit *c, size_t index)
{
    struct prepared *p = &c->items[index];
    const struct js_stream_config *config = &c->stream->config;
    if (p->header_length > UINT16_MAX) {
        js_publish_nak_id(c->stream, c->reply_to, JS_ERR_STREAM_HEADER_EXCEEDS_MAXIMUM);
        return false;
    }
    int refused = stream_store_append_check(c->stream->store, p->msg.subject.length,
                                            (uint32_t)p->header_length,
                                            (uint32_t)p->body_length, index);
    if (refused != 0) {
        js_publish_nak_append(c->stream, c->reply_to, refused);
        return false;
    }
    c->bytes += counted_size(c->stream, p);
    if (config->discard != JS_STREAM_DISCARD_NEW) {
        return true;
    }
    if (config->max_msgs > 0 && c->info.msg_count + index + 1 > (uint64_t)config->max_msgs) {
        js_publish_nak_store(c->stream, c->reply_to, "maximum messages exceeded");
        return false;
    }
    if (config->max_bytes > 0 && c->info.byte_count + c->bytes > (uint64_t)config->max_bytes) {
        js_publish_nak_store(c->stream, c->reply_to, "maximum bytes exceeded");
        return false;
    }
    if (config->discard_new_per_subject && config->max_msgs_per_subject > 0 &&
        p->directives.rollup_text.length == 0) {
        uint64_t count = stream_store_subject_count(
            c->stream->store, (const uint8_t *)p->msg.subject.data, p->msg.subject.length);
        for (size_t i = 0; i <= index; i++) {
            count += slice_equal(c->items[i].msg.subject, p->msg.subject);
        }
        if (count > (uint64_t)config->max_msgs_per_subject) {
            js_publish_nak_store(c->stream, c->reply_to, "maximum messages per subject exceeded");
            return false;
        }
    }
    return true;
}

/* Every check of item `index`, in nats-server's order; false after answering. */
static bool item_check(struct commit *c, size_t index)
{
    struct prepared *p = &c->items[index];
    struct js_stream *stream = c->stream;
    const struct js_pub_directives *d = &p->directives;
    const struct route_msg *to = c->reply_to;
    const struct js_pub_rules rules = {
        .allow_rollup = stream->config.allow_rollup_hdrs,
        .deny_purge = stream->config.deny_purge,
        .allow_msg_ttl = stream->config.allow_msg_ttl,
        .allow_msg_counter = stream->config.allow_msg_counter,
        .allow_atomic = stream->config.allow_atomic,
    };
    const struct js_pub_context context = {
        .stream = {.bytes = stream->config.name, .length = strlen(stream->config.name)},
        .payload_length = p->body_length,
    };
    enum js_pub_error error = js_pub_check(d, &rules, &context, JS_PUB_STAGE_BATCH_MESSAGE);
    if (error == JS_PUB_ERR_ATOMIC_UNSUPPORTED_HEADER) {
        static const char HEADER[] = "Nats-Expected-Last-Msg-Id";
        const struct js_pub_error_args args = {
            .text = {.bytes = HEADER, .length = sizeof HEADER - 1}};
        js_publish_nak(stream, to, error, &args);
        return false;
    }
    if (p->msg.header_length > UINT16_MAX) {
        js_publish_nak_id(stream, to, JS_ERR_STREAM_HEADER_EXCEEDS_MAXIMUM);
        return false;
    }
    if (error != JS_PUB_OK) {
        js_publish_nak(stream, to, error, &NO_ARGS);
        return false;
    }
    if (d->msg_id.length > 0) {
        bool seen = js_dedupe_find(&stream->dedupe, d->msg_id.bytes, d->msg_id.length) != NULL;
        for (size_t i = 0; i < index && !seen; i++) {
            const struct js_pub_text earlier = c->items[i].directives.msg_id;
            seen = earlier.length == d->msg_id.length &&
                   memcmp(earlier.bytes, d->msg_id.bytes, earlier.length) == 0;
        }
        if (seen) {
            js_publish_nak(stream, to, JS_PUB_ERR_ATOMIC_DUPLICATE_MSG_ID, &NO_ARGS);
            return false;
        }
    }
    if (!js_publish_stage_passes(stream, to, d, JS_PUB_STAGE_SOURCE, p->body_length) ||
        !js_publish_stage_passes(stream, to, d, JS_PUB_STAGE_BATCH_COUNTER, p->body_length)) {
        return false;
    }
    if (stream->config.allow_msg_counter && d->incr_set && !item_count(c, index)) {
        return false;
    }
    return item_expectations_hold(c, index) &&
           js_publish_stage_passes(stream, to, d, JS_PUB_STAGE_BATCH_ROLLUP, p->body_length) &&
           item_rollup_holds(c, index) && item_limits_hold(c, index);
}

/* Appends every item inside one store batch; false after answering (an append failed:
 * the store drops what went in, see stream_store_batch_abort). Sets *last_seq. */
static bool items_append(struct commit *c, uint64_t *last_seq)
{
    struct js_stream *stream = c->stream;
    stream_store_batch_open(stream->store);
    for (size_t i = 0; i < c->count; i++) {
        struct prepared *p = &c->items[i];
        struct proto_slice subject = p->msg.subject;
        uint64_t republish_last = js_republish_last(stream, subject);
        js_publish_rollup_apply(stream, &p->msg, &p->directives);
        if (i + 1 == c->count) {
            stream_store_batch_last(stream->store);
        }
        uint64_t seq = 0;
        int rc = stream_store_append(stream->store, (const uint8_t *)subject.data, subject.length,
                                     (const uint8_t *)p->header, (uint32_t)p->header_length,
                                     (const uint8_t *)p->body, (uint32_t)p->body_length, &seq);
        if (rc != 0) {
            int aborted = stream_store_batch_abort(stream->store);
            js_publish_nak_append(stream, c->reply_to, rc);
            if (aborted != 0) {
                LOG_ERROR("JetStream: stream %s: atomic batch failed after %zu of %zu messages: "
                          "%s",
                          stream->config.name, i, c->count, strerror(-rc));
                js_publish_failed(stream, aborted);
            }
            return false;
        }
        js_publish_appended(stream, &p->msg, &p->directives, seq,
                            p->header_length + p->body_length);
        js_republish(stream, subject, p->header, p->header_length, p->body, p->body_length, seq,
                     republish_last);
        *last_seq = seq;
    }
    return true;
}

/* The commit ack, held until the last message is durable. */
static void commit_ack(struct commit *c, const struct js_batch *batch, uint64_t last_seq)
{
    if (c->reply_to->reply.length == 0) {
        return;
    }
    struct js_pub_ack ack = js_publish_ack_base(c->stream, last_seq);
    ack.batch_id = (struct js_pub_text){.bytes = batch->id, .length = batch->id_length};
    ack.batch_count = c->count;
    char buffer[JS_PUBLISH_ACK_SIZE_MAX];
    size_t length = 0;
    if (js_pub_ack_write(&ack, buffer, sizeof buffer, &length) != 0 ||
        js_publish_ack_hold(c->stream, c->reply_to->reply, last_seq, buffer, length) != 0) {
        LOG_WARN("JetStream: stream %s: no memory to hold the ack of batch %.*s",
                 c->stream->config.name, (int)batch->id_length, batch->id);
    }
}

/* Checks every staged message, then stores them all and holds the ack; any failure answers
 * `commit` and leaves the stream as it was. The batch is gone either way. */
static void batch_commit(struct js_stream *stream, struct js_batch *batch,
                         const struct route_msg *commit, bool eob)
{
    struct commit c = {.stream = stream, .reply_to = commit, .count = batch->count};
    ASSERT(c.count > 0); /* an eob at sequence 1 was refused */
    stream_store_info_get(stream->store, &c.info);
    c.items = calloc(c.count, sizeof *c.items);
    bool ok = c.items != NULL;
    if (!ok) {
        js_publish_nak_store(stream, commit, strerror(ENOMEM));
    }
    size_t prepared = 0;
    for (; ok && prepared < c.count; prepared++) {
        bool last = prepared + 1 == c.count;
        ok = item_prepare(&c, prepared, &batch->msgs[prepared], last && eob) &&
             item_check(&c, prepared);
    }
    uint64_t last_seq = 0;
    if (ok && items_append(&c, &last_seq)) {
        commit_ack(&c, batch, last_seq);
    }
    for (size_t i = 0; i < prepared; i++) {
        free(c.items[i].header);
        free(c.items[i].counter.header);
    }
    free(c.items);
    batch_drop(stream, batch);
    js_publish_committed_check(stream);
}
