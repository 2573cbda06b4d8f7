/* Gathering a monitoring snapshot from every shard: see monitor_internal.h.
 *
 * A part goes out to its shard's mailbox with `run` = part_collect; the shard collects and
 * pushes the same call into shard 0's mailbox with `run` = part_returned, waking shard 0.
 * Shard 0 counts it in; the last one in completes the gather. A part discarded by main
 * (its shard, or shard 0, stopped first) counts in the same way, with no owner left.
 * Threads: the gather is shard 0's; a part is its current holder's (see shard_call.h for
 * the release/acquire that hands it over). */
#include "engine/monitor_internal.h"

#include "base/assert.h"
#include "base/log.h"
#include "engine/shard.h"

#include <stdlib.h>
#include <string.h>

/* Shard 0 is where the monitoring listener is (main gives it to shard 0 only). */
enum { MONITOR_SHARD = 0 };

static void part_collect(struct shard *shard, struct shard_call *call);
static void part_returned(struct shard *shard, struct shard_call *call);
static void part_discarded(struct shard_call *call);

static void part_free(struct monitor_part *part)
{
    free(part->block);
    part->block = NULL;
    part->conns = NULL;
    part->subs = NULL;
    part->streams = NULL;
}

void monitor_gather_free(struct monitor_gather *gather)
{
    ASSERT(gather->parts_out == 0); /* no shard may still write into a part */
    for (int i = 0; i < gather->part_count; i++) {
        part_free(&gather->parts[i]);
    }
    free(gather->options.test);
    free(gather);
}

/* What one part collects, on its shard. */
static void part_fill(struct shard *shard, struct monitor_part *part)
{
    ASSERT(shard->index == part->shard_index);
    switch (part->gather->options.endpoint) {
    case MONITOR_VARZ:
        monitor_counts_collect(shard, part);
        return;
    case MONITOR_CONNZ:
        monitor_connz_collect(shard, part);
        return;
    case MONITOR_SUBSZ:
        monitor_counts_collect(shard, part);
        if (part->gather->options.subs != MONITOR_SUBS_NONE) {
            monitor_subsz_collect(shard, part);
        }
        return;
    case MONITOR_JSZ:
        monitor_jsz_collect(shard, part);
        return;
    case MONITOR_METRICS:
        monitor_metrics_collect(shard, part);
        return;
    default:
        UNREACHABLE(); /* the other endpoints need no shard's data */
    }
}

/* One part is back (or will never be): the last one completes or frees the gather. */
static void gather_part_in(struct monitor_gather *gather)
{
    ASSERT(gather->parts_out > 0);
    gather->parts_out--;
    if (gather->parts_out > 0) {
        return;
    }
    if (gather->owner == NULL) {
        monitor_gather_free(gather);
        return;
    }
    monitor_http_gathered(gather->owner, gather);
}

/* On the part's shard: collect, then travel back to shard 0. */
static void part_collect(struct shard *shard, struct shard_call *call)
{
    struct monitor_part *part = (struct monitor_part *)call;
    part_fill(shard, part);
    call->run = part_returned;
    shard_mailbox_push(&shard->server->mailboxes[MONITOR_SHARD], call);
    shard_wake_send(shard, shard->server->shared[MONITOR_SHARD].ring_fd);
}

/* On shard 0: the part is back. */
static void part_returned(struct shard *shard, struct shard_call *call)
{
    ASSERT(shard->index == MONITOR_SHARD);
    struct monitor_part *part = (struct monitor_part *)call;
    gather_part_in(part->gather);
}

/* On main's thread after every shard stopped: the part never ran, or never got back. */
static void part_discarded(struct shard_call *call)
{
    struct monitor_part *part = (struct monitor_part *)call;
    ASSERT(part->gather->owner == NULL); /* shard 0 released every HTTP connection */
    gather_part_in(part->gather);
}

struct monitor_gather *monitor_gather_create(struct shard *shard, struct monitor_http *owner,
                                             struct monitor_options *options)
{
    ASSERT(shard->index == MONITOR_SHARD);
    int count = shard->shard_count > 0 ? shard->shard_count : 1;
    struct monitor_gather *gather =
        calloc(1, sizeof *gather + (size_t)count * sizeof gather->parts[0]);
    if (gather == NULL) {
        return NULL;
    }
    gather->options = *options;
    options->test = NULL; /* the gather owns it now */
    gather->owner = owner;
    gather->part_count = count;
    gather->parts_out = count;
    for (int i = 0; i < count; i++) {
        struct monitor_part *part = &gather->parts[i];
        part->call = (struct shard_call){.run = part_collect, .discard = part_discarded};
        part->gather = gather;
        part->shard_index = i;
    }
    return gather;
}

void monitor_gather_launch(struct shard *shard, struct monitor_gather *gather)
{
    ASSERT(shard->index == MONITOR_SHARD);
    ASSERT(gather->parts_out == gather->part_count);
    /* the other shards first: they collect while this one does */
    for (int i = 1; i < gather->part_count; i++) {
        shard_mailbox_push(&shard->server->mailboxes[i], &gather->parts[i].call);
        shard_wake_send(shard, shard->server->shared[i].ring_fd);
    }
    part_fill(shard, &gather->parts[MONITOR_SHARD]);
    gather_part_in(gather); /* with one shard this completes it, and the owner answers */
}

void monitor_gather_orphan(struct monitor_gather *gather)
{
    ASSERT(gather->owner != NULL);
    ASSERT(gather->parts_out > 0); /* a complete gather is answered and freed at once */
    gather->owner = NULL;
}
