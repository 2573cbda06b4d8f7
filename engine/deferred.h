/* Messages whose handling waits until the delivery walk that produced them is over.
 *
 * The one idea: a server-side subscriber must be free to publish (reply, advise, store and
 * acknowledge), but a publish inside a delivery walk would invalidate the subject index's
 * match result the walk is reading. So such deliveries are copied here and their handlers
 * run from the shard loop, between walks, in the order they were delivered. Two byte
 * buffers take turns: handlers that defer more while a batch runs append to the other one,
 * so nothing they read moves under them. Shard-owned.
 *
 * Record layout in a buffer (host byte order, 8-byte aligned records):
 *   struct deferred_record, then subject, reply, payload (header block first), padded to 8. */
#ifndef IONATS_ENGINE_DEFERRED_H
#define IONATS_ENGINE_DEFERRED_H

#include "engine/outbuf.h"
#include "engine/route_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Handles one deferred message for `target` (whatever the pusher gave). */
typedef void deferred_fn(void *target, const struct route_msg *msg);

struct deferred {
    struct outbuf queued;  /* owned: records waiting */
    struct outbuf running; /* owned: the batch being handled */
    size_t running_offset; /* next record of `running` */
    size_t bytes_max;      /* queued bytes beyond which pushes are refused */
    uint64_t ran;
    uint64_t refused;      /* pushes over bytes_max or out of memory */
};

void deferred_init(struct deferred *deferred, size_t bytes_max);
void deferred_destroy(struct deferred *deferred);

/* Copies `msg` for `fn(target, …)`. 0, or -ENOBUFS (over bytes_max, unless the queue is
 * empty: one record of any size is always taken) / -ENOMEM: the message is not taken, as
 * for a subscriber that cannot take it. */
int deferred_push(struct deferred *deferred, deferred_fn *fn, void *target,
                  const struct route_msg *msg);

/* Runs up to `budget` handlers, oldest first. True when some are still waiting. */
bool deferred_run(struct deferred *deferred, uint32_t budget);

/* True when handlers are waiting. */
bool deferred_pending(const struct deferred *deferred);

/* Back-pressure: true while the queued bytes are above half of bytes_max (the shard then
 * stops reading the publishers that feed its server-side subscribers, and stops taking
 * other shards' forwarded messages), until they fall below an eighth of it. Pushes past
 * bytes_max are still refused, so the bound holds even against a flood in one buffer. */
static inline bool deferred_pressed_above(const struct deferred *deferred)
{
    return deferred->queued.length > deferred->bytes_max / 2;
}
static inline bool deferred_pressed_below(const struct deferred *deferred)
{
    return deferred->queued.length < deferred->bytes_max / 8;
}

#endif
