/* Routing: see route.h.
 *
 * No responders: a request (a publish with a reply, from a publisher that asked for it)
 * that no subscriber took gets a status message, header block "NATS/1.0 503\r\n\r\n" and
 * no body, on the requester's own subscription that matches the reply subject. */
#include "engine/route.h"

#include "base/assert.h"
#include "base/log.h"
#include "engine/conn.h"
#include "engine/interest.h"
#include "engine/shard.h"
#include "engine/xshard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char NO_RESPONDERS_HEADER[] = "NATS/1.0 503\r\n\r\n";

static void queue_removal(struct shard *shard, struct route_sub *sub)
{
    if (sub->removed) {
        return;
    }
    if (shard->removal_count == shard->removal_capacity) {
        uint32_t capacity = shard->removal_capacity ? shard->removal_capacity * 2 : 16;
        struct route_sub **grown = realloc(shard->removals, capacity * sizeof *grown);
        if (grown == NULL) {
            return; /* it stays subscribed past max; delivery below still stops at max */
        }
        shard->removals = grown;
        shard->removal_capacity = capacity;
    }
    sub->removed = true;
    shard->removals[shard->removal_count++] = sub;
}

/* Delivers a message to `sub`, counting it against the subscription's auto-unsubscribe
 * limit. Returns false when nothing was delivered. */
static bool deliver(struct shard *shard, struct route_sub *sub, const struct route_msg *d)
{
    if (sub->removed || (sub->max_msgs > 0 && sub->delivered >= sub->max_msgs)) {
        return false; /* at its limit, removal pending */
    }
    if (!sub->ops->deliver(shard, sub, d, false)) {
        return false;
    }
    shard->stats.out_msgs++;
    sub->delivered++;
    if (sub->max_msgs > 0 && sub->delivered >= sub->max_msgs) {
        queue_removal(shard, sub);
    }
    return true;
}

static bool echo_allowed(const struct route_publisher *publisher, const struct route_sub *sub)
{
    return publisher == NULL || publisher->owner == NULL || publisher->echo ||
           sub->owner != publisher->owner;
}

/* True when the publisher lets queue group `name` have its message (see queue_filter). */
static bool group_allowed(const struct route_publisher *publisher, const char *name,
                          uint32_t name_length)
{
    if (publisher == NULL || publisher->queue_filter == NULL) {
        return true;
    }
    const char *cursor = publisher->queue_filter->data;
    const char *end = cursor + publisher->queue_filter->length;
    struct proto_slice listed;
    while (proto_queue_next(&cursor, end, &listed)) {
        if (listed.length == name_length && memcmp(listed.data, name, name_length) == 0) {
            return true;
        }
    }
    return false;
}

/* One member of a queue group, rotating the starting point across publishes. Members that
 * cannot take it (closing, or the publisher without echo) are skipped; members across a
 * leafnode link get it only when no other member could. */
static uint32_t deliver_to_group(struct shard *shard, const struct route_publisher *publisher,
                                 const struct sublist_queue_group *group,
                                 const struct route_msg *d)
{
    uint32_t start = shard->queue_cursor++ % group->member_count;
    bool links_seen = false;
    for (uint32_t i = 0; i < group->member_count; i++) {
        struct route_sub *sub =
            (struct route_sub *)group->members[(start + i) % group->member_count];
        if (sub->link) {
            links_seen = true;
        } else if (echo_allowed(publisher, sub) && deliver(shard, sub, d)) {
            return 1;
        }
    }
    for (uint32_t i = 0; i < group->member_count && links_seen; i++) {
        struct route_sub *sub =
            (struct route_sub *)group->members[(start + i) % group->member_count];
        if (sub->link && echo_allowed(publisher, sub) && deliver(shard, sub, d)) {
            return 1;
        }
    }
    return 0;
}

void route_collect(struct shard *shard, struct route_collector *collector)
{
    if (!collector->queued) {
        collector->queued = true;
        collector->next = shard->collectors;
        shard->collectors = collector;
    }
}

/* The walk's deliveries are done: each collector that gathered some sends them. */
static void collectors_flush(struct shard *shard, const struct route_msg *d)
{
    while (shard->collectors != NULL) {
        struct route_collector *collector = shard->collectors;
        shard->collectors = collector->next;
        collector->queued = false;
        collector->next = NULL;
        collector->flush(shard, collector, d);
    }
}

static void apply_removals(struct shard *shard)
{
    for (uint32_t i = 0; i < shard->removal_count; i++) {
        struct route_sub *sub = shard->removals[i];
        sub->ops->expire(shard, sub);
    }
    shard->removal_count = 0;
}

/* Tells a requester that nobody received its request: a 503 status on its own
 * subscription that matches the reply subject. */
static void send_no_responders(struct shard *shard, const struct route_publisher *publisher,
                               struct proto_slice reply)
{
    const struct sublist_result *result = sublist_match(shard->sublist, reply.data, reply.length);
    struct route_sub *target = NULL;
    for (uint32_t i = 0; i < result->plain_count && target == NULL; i++) {
        struct route_sub *sub = (struct route_sub *)result->plain[i];
        if (sub->owner == publisher->owner) {
            target = sub;
        }
    }
    for (uint32_t g = 0; g < result->group_count && target == NULL; g++) {
        for (uint32_t i = 0; i < result->groups[g].member_count && target == NULL; i++) {
            struct route_sub *sub = (struct route_sub *)result->groups[g].members[i];
            if (sub->owner == publisher->owner) {
                target = sub;
            }
        }
    }
    if (target == NULL || target->removed) {
        return;
    }
    struct route_msg status = {
        .subject = reply,
        .payload = {.data = NO_RESPONDERS_HEADER, .length = sizeof NO_RESPONDERS_HEADER - 1},
        .header_length = sizeof NO_RESPONDERS_HEADER - 1,
    };
    target->ops->deliver(shard, target, &status, true); /* a status, not a message */
}

/* True when some member of the group is on this server, not across a leafnode link. */
static bool group_has_own_member(const struct sublist_queue_group *group)
{
    for (uint32_t m = 0; m < group->member_count; m++) {
        if (!((const struct route_sub *)group->members[m])->link) {
            return true;
        }
    }
    return false;
}

/* 0, or -ENOMEM when the picks array could not grow: that group misses the message. */
static int route_pick_add(struct shard *shard, int target, const char *name,
                          uint32_t name_length)
{
    if (shard->pick_count == shard->pick_capacity) {
        uint32_t capacity = shard->pick_capacity ? shard->pick_capacity * 2 : 16;
        struct xshard_pick *grown = realloc(shard->picks, capacity * sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        shard->picks = grown;
        shard->pick_capacity = capacity;
    }
    shard->picks[shard->pick_count++] =
        (struct xshard_pick){.target = target, .name = name, .name_length = name_length};
    return 0;
}

/* Forwards to every shard with plain interest or a queue-group pick. */
static enum xshard_forward route_forward_all(struct shard *shard, const struct route_msg *d)
{
    for (uint32_t p = 0; p < shard->pick_count; p++) {
        shard->target_plain[shard->picks[p].target] = 1;
    }
    return xshard_forward(&shard->xshard, d, shard->target_plain, shard->picks,
                          shard->pick_count);
}

/* Picks, for every queue group matching the publish, the shard that delivers to it; adds
 * each remote pick to shard->picks. Local picks are delivered here and counted. *no_memory
 * is set when a pick could not be recorded (that group misses the message). */
static uint32_t groups_route(struct shard *shard, const struct route_publisher *publisher,
                             const struct sublist_result *local,
                             const struct sublist_result *remote, const struct route_msg *d,
                             bool *delivered_remote, bool *no_memory)
{
    uint32_t delivered = 0;
    uint8_t *has_members = shard->target_plain + shard->shard_count; /* scratch row */
    for (uint32_t g = 0; g < remote->group_count; g++) {
        const struct sublist_queue_group *group = &remote->groups[g];
        if (!group_allowed(publisher, group->name, group->name_length)) {
            continue;
        }
        /* per shard: 2 has members of its own, 1 only across a leafnode link (weak) */
        memset(has_members, 0, (size_t)shard->shard_count);
        uint32_t strong = 0;
        for (uint32_t m = 0; m < group->member_count; m++) {
            const struct remote_interest *r = (const struct remote_interest *)group->members[m];
            uint8_t level = r->weak ? 1 : 2;
            strong += level == 2 && has_members[r->origin] < 2;
            has_members[r->origin] = has_members[r->origin] > level ? has_members[r->origin]
                                                                    : level;
        }
        const struct sublist_queue_group *mine = NULL;
        for (uint32_t l = 0; l < local->group_count && mine == NULL; l++) {
            if (local->groups[l].name_length == group->name_length &&
                memcmp(local->groups[l].name, group->name, group->name_length) == 0) {
                mine = &local->groups[l];
            }
        }
        /* members on this server first: a link's only when no shard has its own */
        bool mine_strong = mine != NULL && group_has_own_member(mine);
        uint8_t level = strong > 0 || mine_strong ? 2 : 1;
        bool mine_in = mine != NULL && (level == 1 || mine_strong);
        uint32_t candidates = 0;
        for (int target = 0; target < shard->shard_count; target++) {
            candidates += has_members[target] == level;
        }
        ASSERT(candidates + mine_in > 0); /* a group in the result has members */
        uint32_t pick = shard->group_shard_cursor++ % (candidates + mine_in);
        if (mine_in && pick == candidates) {
            uint32_t local_count = deliver_to_group(shard, publisher, mine, d);
            if (local_count > 0) {
                delivered += local_count;
                continue;
            }
            /* no local member could take it (the publisher itself without echo, closing,
             * at its auto-unsubscribe limit): another shard's members get it instead */
            if (candidates == 0) {
                level = 1; /* only links elsewhere */
                for (int target = 0; target < shard->shard_count; target++) {
                    candidates += has_members[target] == level;
                }
                if (candidates == 0) {
                    continue;
                }
            }
            pick = shard->group_shard_cursor % candidates;
        }
        for (int target = 0; target < shard->shard_count; target++) {
            if (has_members[target] == level && pick-- == 0) {
                if (route_pick_add(shard, target, group->name, group->name_length) == 0) {
                    *delivered_remote = true;
                } else {
                    *no_memory = true;
                }
                break;
            }
        }
    }
    /* local groups no other shard has */
    for (uint32_t l = 0; l < local->group_count; l++) {
        bool shared = false;
        for (uint32_t g = 0; g < remote->group_count && !shared; g++) {
            shared = remote->groups[g].name_length == local->groups[l].name_length &&
                     memcmp(remote->groups[g].name, local->groups[l].name,
                            local->groups[l].name_length) == 0;
        }
        if (!shared && group_allowed(publisher, local->groups[l].name,
                                     local->groups[l].name_length)) {
            delivered += deliver_to_group(shard, publisher, &local->groups[l], d);
        }
    }
    return delivered;
}

static int route_sub_insert(struct shard *shard, struct route_sub *sub);

/* The first subscription to (subject, queue) here could not be announced: no other shard
 * heard of it, so it is undone without a removal; the caller closes whoever asked. */
static int sub_add_not_announced(struct shard *shard, struct route_sub *sub)
{
    const struct sub *s = &sub->sub;
    struct interest_entry *entry = interest_local_uncount(&shard->interest, s->subject,
                                                          s->subject_length, s->queue,
                                                          s->queue_length, sub->link);
    ASSERT(entry != NULL); /* it was the first, and no removal of it was owed */
    interest_local_forget(&shard->interest, entry);
    int rc = sublist_remove(shard->sublist, &sub->sub);
    ASSERT(rc == 0);
    LOG_ERROR("shard %d: out of memory announcing a subscription to %.*s to other shards; "
              "refused",
              shard->index, (int)s->subject_length, s->subject);
    return -ENOMEM;
}

/* Tells the interest watcher (a leafnode link) of a subscription that is not across a
 * link itself. */
static void watch_tell(struct shard *shard, const struct route_sub *sub, bool add)
{
    if (!sub->link) {
        const struct sub *s = &sub->sub;
        interest_watch_tell(&shard->interest, add, s->subject, s->subject_length, s->queue,
                            s->queue_length);
    }
}

int route_sub_add(struct shard *shard, struct route_sub *sub)
{
    int rc = route_sub_insert(shard, sub);
    if (rc == 0) {
        watch_tell(shard, sub, true);
    }
    return rc;
}

static int route_sub_insert(struct shard *shard, struct route_sub *sub)
{
    if (sublist_insert(shard->sublist, &sub->sub) != 0) {
        return -ENOMEM;
    }
    if (shard->shard_count > 1) {
        const struct sub *s = &sub->sub;
        bool first;
        if (interest_local_add(&shard->interest, s->subject, s->subject_length, s->queue,
                               s->queue_length, sub->link, &first) != 0) {
            sublist_remove(shard->sublist, &sub->sub);
            return -ENOMEM;
        }
        if (first && xshard_announce(&shard->xshard, true, s->subject, s->subject_length,
                                     s->queue, s->queue_length, sub->link) < 0) {
            return sub_add_not_announced(shard, sub);
        }
    }
    return 0;
}

void route_sub_remove(struct shard *shard, struct route_sub *sub)
{
    int rc = sublist_remove(shard->sublist, &sub->sub);
    ASSERT(rc == 0);
    watch_tell(shard, sub, false);
    if (shard->shard_count == 1) {
        return;
    }
    const struct sub *s = &sub->sub;
    struct interest *interest = &shard->interest;
    struct interest_entry *entry =
        interest_local_uncount(interest, s->subject, s->subject_length, s->queue,
                               s->queue_length, sub->link);
    if (entry == NULL) {
        return; /* others remain, or a removal is owed already */
    }
    if (xshard_announce(&shard->xshard, false, s->subject, s->subject_length, s->queue,
                        s->queue_length, sub->link) >= 0) {
        interest_local_forget(interest, entry);
        return;
    }
    /* a departure cannot be refused: owed, and announced by xshard_flush once memory allows */
    if (interest->removal_count == 0) {
        LOG_WARN("shard %d: out of memory announcing that %.*s has no subscriber here; "
                 "deferred, with any others until memory allows",
                 shard->index, (int)s->subject_length, s->subject);
    }
    interest_removal_defer(interest, entry);
}

/* Out of memory while forwarding: a client publisher is closed (it drives the allocation
 * and its message could not reach every subscriber), as any client whose request the
 * broker cannot serve for want of memory; the broker goes on. */
static void forward_failed(struct shard *shard, const struct route_publisher *publisher,
                           const struct route_msg *d)
{
    shard->xshard.stats.no_memory++;
    LOG_WARN("shard %d: out of memory forwarding a message on %.*s to other shards", shard->index,
             (int)d->subject.length, d->subject.data);
    if (publisher->conn != NULL) {
        conn_close(publisher->conn, "Out Of Memory");
    }
}

bool route_has_interest(struct shard *shard, const char *subject, size_t length)
{
    const struct sublist_result *local = sublist_match(shard->sublist, subject, length);
    if (local->plain_count > 0 || local->group_count > 0) {
        return true;
    }
    if (shard->shard_count == 1) {
        return false;
    }
    const struct sublist_result *remote =
        interest_remote_match(&shard->interest, subject, length);
    return remote->plain_count > 0 || remote->group_count > 0;
}

void route_publish(struct shard *shard, const struct route_publisher *publisher,
                   const struct route_msg *msg)
{
    const struct route_msg d = *msg; /* 64 bytes on the stack: the walk reads it locally */
    const struct sublist_result *result =
        sublist_match(shard->sublist, d.subject.data, d.subject.length);
    uint32_t delivered = 0;
    conn_flow_hit_clear(&shard->conns);
    for (uint32_t i = 0; i < result->plain_count; i++) {
        struct route_sub *sub = (struct route_sub *)result->plain[i];
        if (echo_allowed(publisher, sub) && deliver(shard, sub, &d)) {
            delivered++;
        }
    }
    bool delivered_remote = false;
    if (shard->shard_count > 1) {
        const struct sublist_result *remote =
            interest_remote_match(&shard->interest, d.subject.data, d.subject.length);
        shard->pick_count = 0;
        memset(shard->target_plain, 0, (size_t)shard->shard_count);
        for (uint32_t i = 0; i < remote->plain_count; i++) {
            const struct remote_interest *r = (const struct remote_interest *)remote->plain[i];
            shard->target_plain[r->origin] = 1;
            delivered_remote = true;
        }
        bool no_memory = false;
        delivered +=
            groups_route(shard, publisher, result, remote, &d, &delivered_remote, &no_memory);
        enum xshard_forward forwarded =
            delivered_remote ? route_forward_all(shard, &d) : XSHARD_FORWARD_FLOWING;
        if (no_memory || forwarded == XSHARD_FORWARD_NO_MEMORY) {
            forward_failed(shard, publisher, &d);
        } else if (delivered_remote) {
            xshard_producer_hold(&shard->xshard, publisher->conn,
                                 forwarded == XSHARD_FORWARD_WAITING);
        }
    } else {
        for (uint32_t g = 0; g < result->group_count; g++) {
            if (group_allowed(publisher, result->groups[g].name, result->groups[g].name_length)) {
                delivered += deliver_to_group(shard, publisher, &result->groups[g], &d);
            }
        }
    }
    if (shard->collectors != NULL) {
        collectors_flush(shard, &d);
    }
    if (shard->removal_count > 0) {
        apply_removals(shard);
    }
    if (delivered == 0 && !delivered_remote && publisher->owner != NULL &&
        d.reply.length > 0 && publisher->no_responders) {
        send_no_responders(shard, publisher, d.reply);
    }
    if (shard->conns.flow_hit && publisher->conn != NULL) {
        shard_flow_pause(shard, publisher->conn); /* it fed a subscriber that is behind */
    }
}

/* Delivers a forwarded publish: to every plain subscriber here (unless the record only
 * continues the groups of the one before), and to the named groups. */
void route_forwarded(struct shard *shard, const struct xshard_forwarded *forwarded)
{
    const struct route_msg *d = &forwarded->msg;
    const struct sublist_result *result =
        sublist_match(shard->sublist, d->subject.data, d->subject.length);
    if (forwarded->plain) {
        for (uint32_t i = 0; i < result->plain_count; i++) {
            deliver(shard, (struct route_sub *)result->plain[i], d);
        }
    }
    const unsigned char *groups = forwarded->groups;
    const unsigned char *groups_end = groups + forwarded->groups_length;
    for (uint32_t n = 0; n < forwarded->group_count; n++) {
        struct proto_slice name;
        groups = xshard_group_next(groups, &name);
        ASSERT(groups <= groups_end);
        for (uint32_t g = 0; g < result->group_count; g++) {
            if (result->groups[g].name_length == name.length &&
                memcmp(result->groups[g].name, name.data, name.length) == 0) {
                deliver_to_group(shard, NULL, &result->groups[g], d);
                break;
            }
        }
    }
    if (shard->collectors != NULL) {
        collectors_flush(shard, d);
    }
    if (shard->removal_count > 0) {
        apply_removals(shard);
    }
}
