/* Deferred handling of server-side deliveries: see deferred.h. Shard-owned. */
#include "engine/deferred.h"

#include "base/assert.h"

#include <errno.h>
#include <string.h>

struct deferred_record {
    deferred_fn *fn;
    void *target;
    uint32_t subject_length;
    uint32_t reply_length;
    uint32_t payload_length;
    uint32_t header_length;
};

enum { RECORD_ALIGN = 8 };
STATIC_ASSERT(sizeof(struct deferred_record) % RECORD_ALIGN == 0, "records stay aligned");
/* Capacity a buffer keeps after a batch, so steady traffic does not reallocate. */
enum { KEEP_BYTES = 64 * 1024 };

/* A record keeps the subject a subscriber sees (route_msg.shown when set): the handler
 * gets the message as a client subscribed there would. */
static struct proto_slice record_subject(const struct route_msg *msg)
{
    return msg->shown.length > 0 ? msg->shown : msg->subject;
}

static size_t record_size(const struct route_msg *msg)
{
    size_t size = sizeof(struct deferred_record) + record_subject(msg).length +
                  msg->reply.length + msg->payload.length;
    return (size + RECORD_ALIGN - 1) / RECORD_ALIGN * RECORD_ALIGN;
}

void deferred_init(struct deferred *deferred, size_t bytes_max)
{
    memset(deferred, 0, sizeof *deferred);
    deferred->bytes_max = bytes_max;
}

void deferred_destroy(struct deferred *deferred)
{
    outbuf_free(&deferred->queued);
    outbuf_free(&deferred->running);
    memset(deferred, 0, sizeof *deferred);
}

int deferred_push(struct deferred *deferred, deferred_fn *fn, void *target,
                  const struct route_msg *msg)
{
    size_t size = record_size(msg);
    /* an empty queue takes any one record, so a message of --max_payload always fits */
    if (deferred->queued.length > 0 && deferred->queued.length + size > deferred->bytes_max) {
        deferred->refused++;
        return -ENOBUFS;
    }
    if (outbuf_reserve(&deferred->queued, size) != 0) {
        deferred->refused++;
        return -ENOMEM;
    }
    struct deferred_record head = {
        .fn = fn,
        .target = target,
        .subject_length = record_subject(msg).length,
        .reply_length = msg->reply.length,
        .payload_length = msg->payload.length,
        .header_length = msg->header_length,
    };
    ASSERT(head.header_length <= head.payload_length);
    size_t start = deferred->queued.length;
    outbuf_put(&deferred->queued, &head, sizeof head);
    if (record_subject(msg).length > 0) {
        outbuf_put(&deferred->queued, record_subject(msg).data, record_subject(msg).length);
    }
    if (msg->reply.length > 0) {
        outbuf_put(&deferred->queued, msg->reply.data, msg->reply.length);
    }
    if (msg->payload.length > 0) {
        outbuf_put(&deferred->queued, msg->payload.data, msg->payload.length);
    }
    deferred->queued.length = start + size; /* padding */
    return 0;
}

bool deferred_pending(const struct deferred *deferred)
{
    return deferred->queued.length > 0 || deferred->running_offset < deferred->running.length;
}

/* Makes the queued records the running batch once the previous batch is done. */
static bool batch_take(struct deferred *deferred)
{
    if (deferred->running_offset < deferred->running.length) {
        return true;
    }
    if (deferred->queued.length == 0) {
        return false;
    }
    struct outbuf done = deferred->running;
    done.length = 0;
    outbuf_trim(&done, KEEP_BYTES);
    deferred->running = deferred->queued;
    deferred->queued = done;
    deferred->running_offset = 0;
    return true;
}

bool deferred_run(struct deferred *deferred, uint32_t budget)
{
    while (budget > 0 && batch_take(deferred)) {
        const char *at = deferred->running.data + deferred->running_offset;
        struct deferred_record head;
        memcpy(&head, at, sizeof head);
        const char *text = at + sizeof head;
        struct route_msg msg = {
            .subject = {.data = text, .length = head.subject_length},
            .reply = {.data = text + head.subject_length, .length = head.reply_length},
            .payload = {.data = text + head.subject_length + head.reply_length,
                        .length = head.payload_length},
            .header_length = head.header_length,
        };
        /* advanced first: the handler may push (into `queued`, never into this batch) */
        deferred->running_offset += record_size(&msg);
        ASSERT(deferred->running_offset <= deferred->running.length);
        head.fn(head.target, &msg);
        deferred->ran++;
        budget--;
    }
    return deferred_pending(deferred);
}
