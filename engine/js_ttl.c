/* Per-message TTL (allow_msg_ttl, Nats-TTL) and subject delete markers
 * (subject_delete_marker_ttl): nats-server 2.11's expiry of single messages, and the marker
 * left where the last message of a subject expired.
 *
 * The one idea: a stream's messages with a TTL wait in a min-heap of (expiry, sequence),
 * checked at each JetStream tick (250 ms), so an expiry costs O(log n) and nothing is
 * scanned; a due message still held is deleted as a client's delete would (a tombstone,
 * consumers told). Where it, or a message max_age removed, was the last of its subject and
 * not itself a marker, a marker takes its place: nats-server's "Nats-Marker-Reason: MaxAge",
 * "Nats-TTL: <subject_delete_marker_ttl>" and "Nats-Rollup: sub" headers, stored as any
 * message (republished, delivered), expiring in turn. Markers (and KV purge markers, which
 * count as markers for nats-server too) are remembered by sequence so that their own
 * removal leaves none. Nothing of this is written apart: a restart finds the TTLs and the
 * markers again in the messages' headers (one walk over a stream with allow_msg_ttl).
 *
 * Not as nats-server: a message with "Nats-TTL: never" still ages out under max_age (the
 * store's max_age moves a floor and keeps no exceptions).
 *
 * Owner shard's thread only. */
#include "base/log.h"
#include "engine/js_internal.h"
#include "proto/js_pub.h"
#include "proto/js_stream_config.h"
#include "store/stream_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Removals by max_age remembered in one tick for their markers at most; past it the rest
 * get none (logged). */
enum { AGED_MAX = 65536 };
/* Expiries carried out in one tick at most: the rest wait for the next (250 ms later). */
enum { EXPIRE_PER_TICK_MAX = 16384 };
/* The heap is rebuilt without the entries of messages no longer held once it holds more
 * than twice the stream's messages and this many besides. */
enum { HEAP_SLACK = 4096 };
/* A message the store could not delete yet (busy writing) is tried again this much later. */
#define EXPIRE_RETRY_NS INT64_C(1000000000)

struct ttl_entry {
    int64_t expires_ns;
    uint64_t seq;
};

struct aged_entry {
    uint64_t seq;
    uint32_t subject_length;
    char *subject; /* owned */
};

struct js_ttl {
    struct ttl_entry *heap; /* min-heap on expires_ns */
    size_t count;
    size_t capacity;
    uint64_t *markers;      /* ascending sequences of the markers held */
    size_t marker_count;
    size_t marker_capacity;
    struct aged_entry *aged; /* what max_age removed during this tick's store tick */
    size_t aged_count;
    size_t aged_capacity;
    bool aged_dropped;
    bool collecting;
};

static struct js_ttl *ttl_of(struct js_stream *stream)
{
    if (stream->ttl == NULL) {
        stream->ttl = calloc(1, sizeof *stream->ttl);
    }
    return stream->ttl;
}

static int grow(void **array, size_t *capacity, size_t count, size_t size)
{
    if (count < *capacity) {
        return 0;
    }
    size_t wanted = *capacity != 0 ? *capacity * 2 : 64;
    void *grown = realloc(*array, wanted * size);
    if (grown == NULL) {
        return -ENOMEM;
    }
    *array = grown;
    *capacity = wanted;
    return 0;
}

/* ---- the heap ---- */

static void heap_push(struct js_ttl *ttl, struct ttl_entry entry)
{
    size_t at = ttl->count++;
    while (at > 0) {
        size_t parent = (at - 1) / 2;
        if (ttl->heap[parent].expires_ns <= entry.expires_ns) {
            break;
        }
        ttl->heap[at] = ttl->heap[parent];
        at = parent;
    }
    ttl->heap[at] = entry;
}

static struct ttl_entry heap_pop(struct js_ttl *ttl)
{
    struct ttl_entry top = ttl->heap[0];
    struct ttl_entry last = ttl->heap[--ttl->count];
    size_t at = 0;
    for (;;) {
        size_t child = 2 * at + 1;
        if (child >= ttl->count) {
            break;
        }
        if (child + 1 < ttl->count &&
            ttl->heap[child + 1].expires_ns < ttl->heap[child].expires_ns) {
            child++;
        }
        if (last.expires_ns <= ttl->heap[child].expires_ns) {
            break;
        }
        ttl->heap[at] = ttl->heap[child];
        at = child;
    }
    if (ttl->count > 0) {
        ttl->heap[at] = last;
    }
    return top;
}

/* ---- markers ---- */

static size_t marker_index(const struct js_ttl *ttl, uint64_t seq, bool *found)
{
    size_t low = 0;
    size_t high = ttl->marker_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (ttl->markers[mid] == seq) {
            *found = true;
            return mid;
        }
        if (ttl->markers[mid] < seq) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    *found = false;
    return low;
}

/* Forgets marker `seq`; false when it was none. */
static bool marker_take(struct js_ttl *ttl, uint64_t seq)
{
    bool found = false;
    size_t at = marker_index(ttl, seq, &found);
    if (found) {
        memmove(&ttl->markers[at], &ttl->markers[at + 1],
                (ttl->marker_count - at - 1) * sizeof *ttl->markers);
        ttl->marker_count--;
    }
    return found;
}

/* Puts marker `seq` back (an expiry that must be tried again); false without memory. */
static bool marker_note_again(struct js_ttl *ttl, uint64_t seq)
{
    bool found = false;
    size_t at = marker_index(ttl, seq, &found);
    if (found) {
        return true;
    }
    if (grow((void **)&ttl->markers, &ttl->marker_capacity, ttl->marker_count,
             sizeof *ttl->markers) != 0) {
        return false;
    }
    memmove(&ttl->markers[at + 1], &ttl->markers[at],
            (ttl->marker_count - at) * sizeof *ttl->markers);
    ttl->markers[at] = seq;
    ttl->marker_count++;
    return true;
}

/* nats-server's isSubjectDeleteMarker: a Nats-Marker-Reason, or a KV purge. */
static bool is_marker(const char *header, size_t length)
{
    if (length == 0) {
        return false;
    }
    struct js_pub_text reason = js_pub_header_value(header, length, "Nats-Marker-Reason");
    if (reason.bytes != NULL && reason.length > 0) {
        return true;
    }
    /* "KV-Operation: PURGE" on a line of its own (js_pub_header_value reads Nats- keys) */
    static const char LINE[] = "\r\nKV-Operation:";
    const char *at = memmem(header, length, LINE, sizeof LINE - 1);
    if (at == NULL) {
        return false;
    }
    const char *value = at + sizeof LINE - 1;
    const char *end = header + length;
    while (value < end && *value == ' ') {
        value++;
    }
    return end - value >= 7 && memcmp(value, "PURGE\r\n", 7) == 0;
}

/* ---- noting messages ---- */

void js_ttl_note(struct js_stream *stream, uint64_t seq, int64_t timestamp_ns,
                 const char *header, size_t header_length,
                 const struct js_pub_directives *directives)
{
    if (!stream->config.allow_msg_ttl || header_length == 0) {
        return;
    }
    bool expires = directives->ttl == JS_PUB_TTL_SECONDS && directives->ttl_seconds > 0;
    bool marker = stream->config.subject_delete_marker_ttl_ns > 0 &&
                  is_marker(header, header_length);
    if (!expires && !marker) {
        return;
    }
    struct js_ttl *ttl = ttl_of(stream);
    if (ttl == NULL) {
        LOG_WARN("JetStream: stream %s: no memory to keep the TTL of %llu", stream->config.name,
                 (unsigned long long)seq);
        return;
    }
    if (expires) {
        if (grow((void **)&ttl->heap, &ttl->capacity, ttl->count, sizeof *ttl->heap) != 0) {
            LOG_WARN("JetStream: stream %s: no memory to keep the TTL of %llu",
                     stream->config.name, (unsigned long long)seq);
        } else {
            int64_t span = directives->ttl_seconds > INT64_MAX / 1000000000
                               ? INT64_MAX - timestamp_ns
                               : directives->ttl_seconds * 1000000000;
            int64_t at = span > INT64_MAX - timestamp_ns ? INT64_MAX : timestamp_ns + span;
            heap_push(ttl, (struct ttl_entry){.expires_ns = at, .seq = seq});
        }
    }
    if (marker && grow((void **)&ttl->markers, &ttl->marker_capacity, ttl->marker_count,
                       sizeof *ttl->markers) == 0) {
        /* sequences only grow: appended at the end (a load walks them in order too) */
        ttl->markers[ttl->marker_count++] = seq;
    }
}

size_t js_ttl_header_raise(const struct js_stream *stream, struct js_pub_directives *directives,
                           char *header, size_t length, size_t size)
{
    int64_t marker_seconds = stream->config.subject_delete_marker_ttl_ns / 1000000000;
    if (marker_seconds <= 0 || directives->ttl != JS_PUB_TTL_SECONDS ||
        directives->ttl_seconds >= marker_seconds || stream->config.max_msgs_per_subject == 1 ||
        length < 4 || memcmp(header + length - 4, "\r\n\r\n", 4) != 0) {
        return length; /* nothing to raise, or a block not ended as blocks are: left alone */
    }
    /* nats-server: the Nats-TTL lines go, one with the markers' TTL in seconds is added */
    static const char KEY[] = "Nats-TTL:";
    size_t at = 0;
    const char *crlf = memmem(header, length, "\r\n", 2);
    size_t kept = crlf != NULL ? (size_t)(crlf - header) + 2 : length; /* the status line */
    at = kept;
    while (at + 2 <= length) {
        const char *end = memmem(header + at, length - at, "\r\n", 2);
        size_t line = end != NULL ? (size_t)(end - (header + at)) : length - at;
        if (line == 0) {
            break; /* the blank line */
        }
        if (end == NULL) {
            break; /* cannot be: the block ends with a blank line */
        }
        bool drop = line >= sizeof KEY - 1 && memcmp(header + at, KEY, sizeof KEY - 1) == 0;
        if (!drop) {
            memmove(header + kept, header + at, line + 2); /* the line and its CRLF */
            kept += line + 2;
        }
        at += line + 2;
    }
    int added = snprintf(header + kept, size - kept, "Nats-TTL: %lld\r\n\r\n",
                         (long long)marker_seconds);
    if (added < 0 || (size_t)added >= size - kept) {
        return length; /* no room: as it came (cannot happen below 64 KiB of header) */
    }
    directives->ttl_seconds = marker_seconds;
    return kept + (size_t)added;
}

void js_ttl_load(struct js_stream *stream)
{
    if (!stream->config.allow_msg_ttl) {
        return;
    }
    struct stream_store_msg msg;
    uint64_t noted = 0;
    for (uint64_t seq = 1; stream_store_next(stream->store, seq, &msg) == 0; seq = msg.seq + 1) {
        if (msg.header_length == 0) {
            continue;
        }
        struct js_pub_directives directives;
        js_pub_directives_parse((const char *)msg.header, msg.header_length, &directives);
        js_ttl_note(stream, msg.seq, msg.timestamp_ns, (const char *)msg.header,
                    msg.header_length, &directives);
        noted++;
    }
    if (stream->ttl != NULL) {
        LOG_DEBUG("JetStream: stream %s: %zu message TTL(s) and %zu marker(s) found in %llu "
                  "message(s) with headers",
                  stream->config.name, stream->ttl->count, stream->ttl->marker_count,
                  (unsigned long long)noted);
    }
}

void js_ttl_free(struct js_stream *stream)
{
    struct js_ttl *ttl = stream->ttl;
    if (ttl == NULL) {
        return;
    }
    for (size_t i = 0; i < ttl->aged_count; i++) {
        free(ttl->aged[i].subject);
    }
    free(ttl->aged);
    free(ttl->heap);
    free(ttl->markers);
    free(ttl);
    stream->ttl = NULL;
}

/* ---- expiry ---- */

/* Stores the marker of `subject`: nats-server's headers, no body, through the path of a
 * sourced message (no ack, republished, delivered). */
static void marker_place(struct js_stream *stream, const char *subject, size_t length)
{
    char duration[64];
    js_stream_duration_format(stream->config.subject_delete_marker_ttl_ns, duration,
                              sizeof duration);
    char header[192];
    int header_length = snprintf(header, sizeof header,
                                 "NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\nNats-TTL: %s\r\n"
                                 "Nats-Rollup: sub\r\n\r\n",
                                 duration);
    const struct route_msg marker = {
        .subject = {.data = subject, .length = (uint32_t)length},
        .payload = {.data = header, .length = (uint32_t)header_length},
        .header_length = (uint32_t)header_length,
    };
    int rc = js_publish_sourced(stream, &marker, 0);
    if (rc != 0) {
        LOG_WARN("JetStream: stream %s: no delete marker for %.*s: %s", stream->config.name,
                 (int)length, subject, strerror(-rc));
    }
}

/* Removes message `seq` whose TTL passed, leaving a marker when it was the last of its
 * subject and markers are asked for. -EAGAIN when the store could not take the delete
 * now (the caller tries again later); else 0. */
static int expire_one(struct js_stream *stream, uint64_t seq)
{
    bool was_marker = marker_take(stream->ttl, seq);
    struct stream_store_msg msg;
    if (stream_store_get(stream->store, seq, &msg) != 0) {
        return 0; /* gone already (a delete, a limit, a purge) */
    }
    bool place = stream->config.subject_delete_marker_ttl_ns > 0 && !was_marker &&
                 !is_marker((const char *)msg.header, msg.header_length) &&
                 stream_store_subject_count(stream->store, msg.subject, msg.subject_length) == 1;
    char subject[JS_SUBJECT_TRANSFORMED_MAX];
    size_t subject_length = msg.subject_length < sizeof subject ? msg.subject_length : 0;
    memcpy(subject, msg.subject, subject_length);
    int rc = stream_store_delete(stream->store, seq);
    if (rc == -EAGAIN) {
        if (was_marker) {
            (void)marker_note_again(stream->ttl, seq);
        }
        return rc;
    }
    if (rc != 0) {
        LOG_WARN("JetStream: stream %s: message %llu not removed at its TTL: %s",
                 stream->config.name, (unsigned long long)seq, strerror(-rc));
        return 0;
    }
    stream->dirty = true;
    if (place && subject_length > 0) {
        marker_place(stream, subject, subject_length);
    }
    return 0;
}

/* Drops the entries of messages no longer held (deleted, purged, over a limit) once they
 * outnumber the live ones: what a client publishing TTLs into a stream with a limit could
 * otherwise grow without end. O(entries) at most every so often: amortised O(1). */
static void heap_compact(struct js_stream *stream)
{
    struct js_ttl *ttl = stream->ttl;
    struct stream_store_counts counts;
    stream_store_counts_get(stream->store, &counts);
    if (ttl->count <= 2 * counts.msg_count + HEAP_SLACK) {
        return;
    }
    size_t kept = 0;
    for (size_t i = 0; i < ttl->count; i++) {
        struct stream_store_msg msg;
        if (stream_store_get(stream->store, ttl->heap[i].seq, &msg) == 0) {
            ttl->heap[kept++] = ttl->heap[i];
        }
    }
    size_t count = kept;
    ttl->count = 0;
    for (size_t i = 0; i < count; i++) {
        heap_push(ttl, ttl->heap[i]); /* in place: the heap part never passes i */
    }
}

/* Markers for what max_age removed in the store's tick: the last of a subject, not a
 * marker itself. */
static void aged_settle(struct js_stream *stream)
{
    struct js_ttl *ttl = stream->ttl;
    for (size_t i = 0; i < ttl->aged_count; i++) {
        struct aged_entry *aged = &ttl->aged[i];
        if (!marker_take(ttl, aged->seq) &&
            stream_store_subject_count(stream->store, (const uint8_t *)aged->subject,
                                       aged->subject_length) == 0) {
            marker_place(stream, aged->subject, aged->subject_length);
        }
        free(aged->subject);
    }
    ttl->aged_count = 0;
    if (ttl->aged_dropped) {
        LOG_WARN("JetStream: stream %s: more than %d messages aged out in one tick: some "
                 "subjects got no delete marker",
                 stream->config.name, AGED_MAX);
        ttl->aged_dropped = false;
    }
}

void js_ttl_aged(struct js_stream *stream, uint64_t seq, const uint8_t *subject,
                 uint32_t subject_length)
{
    struct js_ttl *ttl = stream->ttl;
    if (ttl == NULL || !ttl->collecting) {
        if (ttl != NULL) {
            (void)marker_take(ttl, seq); /* a marker deleted, purged or over a limit */
        }
        return;
    }
    if (ttl->aged_count >= AGED_MAX ||
        grow((void **)&ttl->aged, &ttl->aged_capacity, ttl->aged_count, sizeof *ttl->aged) != 0) {
        ttl->aged_dropped = true;
        return;
    }
    char *copy = malloc(subject_length);
    if (copy == NULL) {
        ttl->aged_dropped = true;
        return;
    }
    memcpy(copy, subject, subject_length);
    ttl->aged[ttl->aged_count++] =
        (struct aged_entry){.seq = seq, .subject_length = subject_length, .subject = copy};
}

int js_ttl_tick(struct js_stream *stream, int64_t now_ns)
{
    bool markers = stream->config.subject_delete_marker_ttl_ns > 0 && ttl_of(stream) != NULL;
    if (markers) {
        stream->ttl->collecting = true;
    }
    int rc = stream_store_tick(stream->store, now_ns);
    if (markers) {
        stream->ttl->collecting = false;
        aged_settle(stream);
    }
    struct js_ttl *ttl = stream->ttl;
    if (ttl == NULL) {
        return rc;
    }
    heap_compact(stream);
    for (int done = 0; done < EXPIRE_PER_TICK_MAX && ttl->count > 0 &&
                       ttl->heap[0].expires_ns <= now_ns && stream->failure == 0;
         done++) {
        struct ttl_entry due = heap_pop(ttl);
        if (expire_one(stream, due.seq) == -EAGAIN) {
            /* the store is busy writing: this one (and the rest) next time */
            due.expires_ns = now_ns + EXPIRE_RETRY_NS;
            heap_push(ttl, due);
            break;
        }
    }
    return rc;
}
