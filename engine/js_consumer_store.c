/* A durable consumer's state on disk: what it delivered, its ack floor and the messages
 * still pending, written after every turn that changed them, through the shard's store
 * I/O like the stream's own writes, and read back at start.
 *
 * The one idea: the state is small (bounded by max_ack_pending), so it is written whole,
 * as a snapshot, alternately into two files (state.0, state.1) that each carry a
 * generation number and a checksum: a torn write can only damage the older copy's
 * successor, never the newest complete one, and loading takes the valid snapshot with the
 * highest generation. At most one snapshot is in flight per consumer; changes during it
 * make the next one. Under --sync always a snapshot is followed by an fdatasync, and an
 * ack sent as a request (AckSync) is answered only once a snapshot holding it is durable,
 * so an answered ack survives SIGKILL and power loss; other policies leave the page cache
 * to the kernel, as they do for messages. Nothing waits for the disk: a snapshot's I/O
 * outlives a deleted consumer in a small record of its own. Owner shard's thread only. */
#include "base/assert.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "engine/js_consumer.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "store/store_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Words (u64, host order): magic, version, generation, next_sseq, dseq, delivered_sseq,
 * delivered_ns, ack_floor_dseq, ack_floor_sseq, ack_floor_ns, entry count; per pending
 * entry sseq, dseq, deliveries, delivered_ns; a checksum of the words before it. */
enum {
    STATE_MAGIC = 0x32435354414e4f49ULL,
    STATE_VERSION = 2,
    STATE_HEAD_WORDS = 11,
    STATE_ENTRY_WORDS = 4,
};

static const char *const STATE_FILES[2] = {"state.0", "state.1"};

/* A snapshot's write in flight: kept apart from the consumer, which may be freed first. */
struct js_consumer_io {
    struct store_io_op op;        /* first: the completion finds the record */
    struct js_consumer *consumer; /* NULL once the consumer is gone (the record frees itself) */
    struct js *js;
    int fd;                       /* the file written: owned by the consumer, or by this
                                   * record once the consumer is gone */
    int other_fd;                 /* likewise, the other file (closed with it) */
    uint64_t generation;
    uint8_t *buffer;              /* owned */
    uint32_t length;
    uint32_t written;
    bool syncing;
};

static uint64_t checksum(const uint64_t *words, size_t count)
{
    uint64_t sum = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < count; i++) {
        sum = ((sum << 7) | (sum >> 57)) ^ (words[i] * 0xff51afd7ed558ccdULL);
    }
    return sum;
}

/* The consumer's state as a snapshot of `generation`: malloc'd words, their count in
 * *count; NULL when out of memory. */
static uint64_t *snapshot_make(const struct js_consumer *consumer, uint64_t generation,
                               size_t *count)
{
    size_t entries = consumer->pending_count;
    size_t words = STATE_HEAD_WORDS + STATE_ENTRY_WORDS * entries + 1;
    uint64_t *data = malloc(words * sizeof *data);
    if (data == NULL) {
        return NULL;
    }
    const uint64_t head[STATE_HEAD_WORDS] = {
        STATE_MAGIC,
        STATE_VERSION,
        generation,
        consumer->next_sseq,
        consumer->dseq,
        consumer->delivered_sseq,
        (uint64_t)consumer->delivered_ns,
        consumer->ack_floor_dseq,
        consumer->ack_floor_sseq,
        (uint64_t)consumer->ack_floor_ns,
        entries,
    };
    memcpy(data, head, sizeof head);
    size_t at = STATE_HEAD_WORDS;
    for (uint32_t i = 0; i < consumer->pending_length; i++) {
        const struct js_consumer_pending *entry =
            &consumer->pending[(consumer->pending_head + i) & (consumer->pending_capacity - 1)];
        if (entry->acked) {
            continue;
        }
        data[at++] = entry->sseq;
        data[at++] = entry->dseq;
        data[at++] = entry->deliveries;
        data[at++] = (uint64_t)entry->delivered_ns;
    }
    ASSERT(at == words - 1);
    data[at] = checksum(data, at);
    *count = words;
    return data;
}

/* ---- opening and loading ---- */

int js_consumer_store_open(struct js_consumer *consumer, bool fresh)
{
    for (int i = 0; i < 2; i++) {
        char *path = file_path_join(consumer->dir, STATE_FILES[i]);
        if (path == NULL) {
            return -ENOMEM;
        }
        /* a new consumer never reads what a former one of its name left */
        consumer->state_fds[i] =
            open(path, O_RDWR | O_CREAT | O_CLOEXEC | (fresh ? O_TRUNC : 0), 0640);
        free(path);
        if (consumer->state_fds[i] < 0) {
            return -errno;
        }
    }
    return 0;
}

/* Reads the snapshot in `fd`: malloc'd words and *count, or NULL (none, or not valid). */
static uint64_t *snapshot_read(int fd, size_t *count)
{
    uint64_t head[STATE_HEAD_WORDS];
    if (pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head || head[0] != STATE_MAGIC ||
        head[1] != STATE_VERSION || head[10] > JS_CONSUMER_PENDING_MAX) {
        return NULL;
    }
    size_t words = STATE_HEAD_WORDS + STATE_ENTRY_WORDS * (size_t)head[10] + 1;
    uint64_t *data = malloc(words * sizeof *data);
    if (data == NULL) {
        return NULL;
    }
    ssize_t bytes = (ssize_t)(words * sizeof *data);
    if (pread(fd, data, (size_t)bytes, 0) != bytes || checksum(data, words - 1) != data[words - 1]) {
        free(data);
        return NULL;
    }
    *count = words;
    return data;
}

static int pending_restore(struct js_consumer *consumer, const uint64_t *entries, size_t count)
{
    uint32_t capacity = 16;
    while (capacity < count) {
        capacity *= 2;
    }
    consumer->pending = calloc(capacity, sizeof *consumer->pending);
    if (consumer->pending == NULL) {
        return -ENOMEM;
    }
    consumer->pending_capacity = capacity;
    int64_t now = clock_monotonic_ns();
    for (size_t i = 0; i < count; i++) {
        const uint64_t *word = entries + STATE_ENTRY_WORDS * i;
        if (i > 0 && word[0] <= consumer->pending[i - 1].sseq) {
            return -EBADMSG;
        }
        uint32_t deliveries = word[2] > 0 && word[2] < UINT32_MAX ? (uint32_t)word[2] : 1;
        consumer->pending[i] = (struct js_consumer_pending){
            .sseq = word[0],
            .dseq = word[1],
            .deliveries = deliveries,
            .delivered_ns = (int64_t)word[3],
            .deadline_ns = js_consumer_ack_deadline(consumer, deliveries, now),
        };
        js_consumer_due_note(consumer, consumer->pending[i].deadline_ns);
        if (deliveries > 1) {
            consumer->redelivered_count++;
        }
    }
    consumer->pending_length = (uint32_t)count;
    consumer->pending_count = (uint32_t)count;
    return 0;
}

int js_consumer_store_load(struct js_consumer *consumer)
{
    uint64_t *best = NULL;
    size_t best_count = 0;
    for (int i = 0; i < 2; i++) {
        size_t count = 0;
        uint64_t *data = snapshot_read(consumer->state_fds[i], &count);
        if (data != NULL && (best == NULL || data[2] > best[2])) {
            free(best);
            best = data;
            best_count = count;
        } else {
            free(data);
        }
    }
    if (best == NULL) {
        return 0; /* never written: the start the config gives */
    }
    consumer->state_generation = best[2];
    consumer->state_durable = best[2];
    consumer->next_sseq = best[3];
    consumer->dseq = best[4];
    consumer->delivered_sseq = best[5];
    consumer->delivered_ns = (int64_t)best[6];
    consumer->ack_floor_dseq = best[7];
    consumer->ack_floor_sseq = best[8];
    consumer->ack_floor_ns = (int64_t)best[9];
    consumer->lps_index = consumer->lps_count; /* its first pass was under way or done */
    ASSERT(best_count == STATE_HEAD_WORDS + STATE_ENTRY_WORDS * (size_t)best[10] + 1);
    int rc = pending_restore(consumer, best + STATE_HEAD_WORDS, (size_t)best[10]);
    free(best);
    return rc;
}

/* ---- writing ---- */

static bool sync_always(const struct js *js)
{
    return strcmp(js->shard->server->config->sync, "always") == 0;
}

/* Answers the AckSync requests that a durable snapshot now covers. */
static void held_release(struct js_consumer *consumer)
{
    while (consumer->held_count > 0) {
        struct js_consumer_held *held = &consumer->held[consumer->held_head];
        if (held->generation > consumer->state_durable) {
            return;
        }
        const struct route_msg answer = {
            .subject = {.data = held->reply, .length = (uint32_t)strlen(held->reply)},
        };
        service_publish(consumer->stream->js->shard, &answer);
        free(held->reply);
        consumer->held_head = (consumer->held_head + 1) % consumer->held_capacity;
        consumer->held_count--;
    }
}

static void io_free(struct js_consumer_io *io)
{
    if (io->consumer == NULL) {
        close(io->fd);
        close(io->other_fd);
    }
    io->js->consumer_io_in_flight--;
    free(io->buffer);
    free(io);
}

static int io_submit(struct js_consumer_io *io)
{
    struct store_io *store_io = io->js->io;
    if (io->syncing) {
        return store_io->ops->datasync(store_io, io->fd, &io->op);
    }
    return store_io->ops->write(store_io, io->fd, io->buffer + io->written,
                                io->length - io->written, io->written, &io->op);
}

static void io_done(struct store_io_op *op, int32_t result)
{
    struct js_consumer_io *io = (struct js_consumer_io *)op;
    struct js_consumer *consumer = io->consumer;
    if (result >= 0 && !io->syncing) {
        io->written += (uint32_t)result;
        if (io->written < io->length) {
            /* the rest of a short write; none written at all is an error */
            if (result == 0 || io_submit(io) != 0) {
                result = -EIO;
            } else {
                return;
            }
        } else if (sync_always(io->js)) {
            io->syncing = true;
            if (io_submit(io) == 0) {
                return;
            }
            result = -EIO;
        }
    }
    if (consumer != NULL) {
        consumer->state_io = NULL;
        if (result < 0) {
            /* a failed write or fdatasync leaves the file untrustworthy: no more snapshots
             * (no retry loop), held AckSyncs stay unanswered, the last good copy is kept */
            LOG_ERROR("JetStream: consumer %s of stream %s: state not written (%s); its "
                      "acks are no longer made durable",
                      consumer->name, consumer->stream->config.name, strerror(-result));
            consumer->state_generation = io->generation - 1;
            consumer->state_failed = true;
        } else {
            consumer->state_durable = io->generation;
            held_release(consumer);
            if (consumer->state_dirty) {
                js_consumer_mark_dirty(consumer); /* what changed meanwhile */
            }
        }
    }
    io_free(io);
}

/* Hands a snapshot of the consumer to the store I/O. 0, or -EAGAIN (retry next turn). */
static int snapshot_write(struct js_consumer *consumer)
{
    struct js *js = consumer->stream->js;
    struct js_consumer_io *io = calloc(1, sizeof *io);
    size_t words = 0;
    uint64_t generation = consumer->state_generation + 1;
    uint64_t *data = io != NULL ? snapshot_make(consumer, generation, &words) : NULL;
    if (data == NULL) {
        free(io);
        return -EAGAIN;
    }
    *io = (struct js_consumer_io){
        .op = {.done = io_done},
        .consumer = consumer,
        .js = js,
        .fd = consumer->state_fds[generation % 2],
        .other_fd = consumer->state_fds[(generation + 1) % 2],
        .generation = generation,
        .buffer = (uint8_t *)data,
        .length = (uint32_t)(words * sizeof *data),
    };
    if (io_submit(io) != 0) {
        free(io->buffer);
        free(io);
        return -EAGAIN;
    }
    js->consumer_io_in_flight++;
    consumer->state_io = io;
    consumer->state_generation = generation;
    consumer->state_dirty = false;
    return 0;
}

void js_consumer_mark_dirty(struct js_consumer *consumer)
{
    consumer->state_dirty = true;
    if (consumer->dir == NULL || consumer->state_listed || consumer->deleted ||
        consumer->state_failed) {
        return;
    }
    struct js *js = consumer->stream->js;
    if (js->dirty_count == js->dirty_capacity) {
        size_t capacity = js->dirty_capacity != 0 ? js->dirty_capacity * 2 : 16;
        struct js_consumer **grown = realloc(js->dirty, capacity * sizeof *grown);
        if (grown == NULL) {
            return; /* written with its next change */
        }
        js->dirty = grown;
        js->dirty_capacity = capacity;
    }
    js->dirty[js->dirty_count++] = consumer;
    consumer->state_listed = true;
}

void js_consumers_store_flush(struct js *js)
{
    if (js->stopping) {
        return; /* the stop waits for what is in flight; destroy writes the last state */
    }
    size_t kept = 0;
    for (size_t i = 0; i < js->dirty_count; i++) {
        struct js_consumer *consumer = js->dirty[i];
        bool written = consumer->state_io == NULL && consumer->state_dirty &&
                       snapshot_write(consumer) == 0;
        if (!written && consumer->state_dirty && consumer->state_io == NULL) {
            js->dirty[kept++] = consumer; /* no room now: next turn */
        } else {
            consumer->state_listed = false; /* in flight: its completion relists it */
        }
    }
    js->dirty_count = kept;
}

void js_consumer_ack_answer(struct js_consumer *consumer, const struct route_msg *msg)
{
    if (msg->reply.length == 0) {
        return;
    }
    if (consumer->state_failed) {
        return; /* its state can no longer be made durable: no answer (nothing held) */
    }
    bool durable = !consumer->state_dirty &&
                   consumer->state_durable == consumer->state_generation;
    if (consumer->dir == NULL || durable) {
        const struct route_msg answer = {.subject = msg->reply};
        service_publish(consumer->stream->js->shard, &answer);
        return;
    }
    uint64_t needed = consumer->state_dirty ? consumer->state_generation + 1
                                            : consumer->state_generation;
    if (consumer->held_count == consumer->held_capacity) {
        uint32_t capacity = consumer->held_capacity != 0 ? consumer->held_capacity * 2 : 8;
        struct js_consumer_held *grown = malloc((size_t)capacity * sizeof *grown);
        if (grown == NULL) {
            return; /* no answer: the client retries its AckSync */
        }
        for (uint32_t i = 0; i < consumer->held_count; i++) {
            grown[i] = consumer->held[(consumer->held_head + i) % consumer->held_capacity];
        }
        free(consumer->held);
        consumer->held = grown;
        consumer->held_capacity = capacity;
        consumer->held_head = 0;
    }
    char *reply = strndup(msg->reply.data, msg->reply.length);
    if (reply == NULL) {
        return;
    }
    consumer->held[(consumer->held_head + consumer->held_count) % consumer->held_capacity] =
        (struct js_consumer_held){.reply = reply, .generation = needed};
    consumer->held_count++;
}

int js_consumer_store_save_now(struct js_consumer *consumer)
{
    if (consumer->dir == NULL || consumer->state_io != NULL || consumer->state_fds[0] < 0) {
        return 0;
    }
    size_t words = 0;
    uint64_t generation = consumer->state_generation + 1;
    uint64_t *data = snapshot_make(consumer, generation, &words);
    if (data == NULL) {
        return -ENOMEM;
    }
    int fd = consumer->state_fds[generation % 2];
    ssize_t bytes = (ssize_t)(words * sizeof *data);
    int rc = pwrite(fd, data, (size_t)bytes, 0) == bytes ? 0 : -EIO;
    if (rc == 0 && fdatasync(fd) != 0) {
        rc = -errno;
    }
    free(data);
    if (rc == 0) {
        consumer->state_generation = generation;
        consumer->state_durable = generation;
        consumer->state_dirty = false;
        held_release(consumer);
    }
    return rc;
}

void js_consumer_store_close(struct js_consumer *consumer)
{
    struct js *js = consumer->stream->js;
    for (size_t i = 0; consumer->state_listed && i < js->dirty_count; i++) {
        if (js->dirty[i] == consumer) {
            js->dirty[i] = js->dirty[--js->dirty_count];
            break;
        }
    }
    consumer->state_listed = false;
    if (consumer->state_io != NULL) {
        consumer->state_io->consumer = NULL; /* it closes the files when done */
        consumer->state_io = NULL;
    } else {
        for (int i = 0; i < 2; i++) {
            if (consumer->state_fds[i] >= 0) {
                close(consumer->state_fds[i]);
            }
        }
    }
    consumer->state_fds[0] = consumer->state_fds[1] = -1;
    while (consumer->held_count > 0) {
        free(consumer->held[consumer->held_head].reply);
        consumer->held_head = (consumer->held_head + 1) % consumer->held_capacity;
        consumer->held_count--;
    }
    free(consumer->held);
    consumer->held = NULL;
}
