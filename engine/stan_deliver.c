/* NATS Streaming deliveries and acks: a consumer's push delivery becomes a MsgProto to one
 * member's inbox, a member's Ack becomes the consumer's +ACK. Shard 0's thread.
 *
 * The one idea: JetStream decides what is due (new messages, redeliveries after the ack
 * wait, at most max ack pending unacked); the gateway only decides who gets it — the member
 * of the group with the fewest unacked messages under its own max in flight, in turn when
 * tied, as nats-streaming-server picks — and remembers, per member, each unacked sequence's
 * ack subject. A delivery no member has room for waits in the group's backlog (bounded by
 * the consumer's max ack pending) until an ack makes room. A member that leaves hands its
 * unacked messages back (-NAK), so the others, or the durable when it resumes, get them at
 * once, marked redelivered. */
#include "base/assert.h"
#include "base/log.h"
#include "engine/shard.h"
#include "engine/stan_internal.h"
#include "proto/stan.pb-c.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the in-flight map ---- */

static uint32_t inflight_home(const struct stan_inflight *map, uint64_t seq)
{
    return (uint32_t)((seq * 0x9e3779b97f4a7c15ULL) >> 32) & (map->capacity - 1);
}

static struct stan_inflight_entry *inflight_find(struct stan_inflight *map, uint64_t seq)
{
    if (map->capacity == 0) {
        return NULL;
    }
    for (uint32_t s = inflight_home(map, seq);; s = (s + 1) & (map->capacity - 1)) {
        if (map->slots[s].seq == seq) {
            return &map->slots[s];
        }
        if (map->slots[s].seq == 0) {
            return NULL;
        }
    }
}

static int inflight_grow(struct stan_inflight *map)
{
    struct stan_inflight old = *map;
    uint32_t capacity = old.capacity == 0 ? 16 : old.capacity * 2;
    map->slots = calloc(capacity, sizeof *map->slots);
    if (map->slots == NULL) {
        *map = old;
        return -ENOMEM;
    }
    map->capacity = capacity;
    map->count = 0;
    for (uint32_t i = 0; i < old.capacity; i++) {
        if (old.slots[i].seq != 0) {
            uint32_t s = inflight_home(map, old.slots[i].seq);
            while (map->slots[s].seq != 0) {
                s = (s + 1) & (capacity - 1);
            }
            map->slots[s] = old.slots[i];
            map->count++;
        }
    }
    free(old.slots);
    return 0;
}

/* Takes `reply` (heap) whatever happens. */
static int inflight_put(struct stan_inflight *map, uint64_t seq, char *reply)
{
    struct stan_inflight_entry *found = inflight_find(map, seq);
    if (found != NULL) {
        free(found->reply);
        found->reply = reply;
        return 0;
    }
    if ((map->count + 1) * 2 > map->capacity && inflight_grow(map) != 0) {
        free(reply);
        return -ENOMEM;
    }
    uint32_t s = inflight_home(map, seq);
    while (map->slots[s].seq != 0) {
        s = (s + 1) & (map->capacity - 1);
    }
    map->slots[s].seq = seq;
    map->slots[s].reply = reply;
    map->count++;
    return 0;
}

/* Removes `entry` (found in `map`); returns its reply, now the caller's. */
static char *inflight_remove(struct stan_inflight *map, struct stan_inflight_entry *entry)
{
    char *reply = entry->reply;
    uint32_t mask = map->capacity - 1;
    uint32_t hole = (uint32_t)(entry - map->slots);
    map->slots[hole].seq = 0;
    map->slots[hole].reply = NULL;
    for (uint32_t j = (hole + 1) & mask; map->slots[j].seq != 0; j = (j + 1) & mask) {
        uint32_t home = inflight_home(map, map->slots[j].seq);
        bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!between) {
            map->slots[hole] = map->slots[j];
            map->slots[j].seq = 0;
            map->slots[j].reply = NULL;
            hole = j;
        }
    }
    map->count--;
    return reply;
}

void stan_inflight_free(struct stan_inflight *inflight)
{
    for (uint32_t i = 0; i < inflight->capacity; i++) {
        free(inflight->slots[i].reply);
    }
    free(inflight->slots);
    inflight->slots = NULL;
    inflight->capacity = 0;
    inflight->count = 0;
}

/* ---- choosing a member ---- */

/* A redelivery (`forced`) goes whatever the members' max in flight, as
 * nats-streaming-server forces them. */
static struct stan_member *member_pick(struct stan_group *group, bool forced)
{
    struct stan_member *best = NULL;
    size_t best_index = 0;
    size_t count = group->member_count;
    for (size_t k = 0; k < count; k++) {
        size_t i = (group->rotate + k) % count;
        struct stan_member *member = group->members[i];
        if ((!forced && (int64_t)member->inflight.count >= member->max_inflight) ||
            member->client->fhb > 0) {
            continue;
        }
        if (best == NULL || member->inflight.count < best->inflight.count) {
            best = member;
            best_index = i;
        }
    }
    if (best != NULL) {
        group->rotate = best_index + 1;
    }
    return best;
}

/* ---- delivering ---- */

static void deliver_to(struct stan *stan, struct stan_member *member, uint64_t seq,
                       int64_t timestamp_ns, uint32_t delivered, char *reply, const uint8_t *data,
                       size_t length, const char *msg_reply)
{
    Pb__MsgProto out = PB__MSG_PROTO__INIT;
    out.sequence = seq;
    out.subject = member->group->channel->name;
    if (msg_reply != NULL) {
        out.reply = (char *)msg_reply;
    }
    out.data.data = (uint8_t *)data;
    out.data.len = length;
    out.timestamp = timestamp_ns;
    out.redelivered = delivered > 1;
    out.redelivery_count = delivered > 1 ? delivered - 1 : 0;
    stan->stats.out_msgs++;
    stan->stats.out_bytes += pb__msg_proto__get_packed_size(&out);
    stan_send_pb(stan, member->inbox, &out);
    if (seq > member->last_sent) {
        member->last_sent = seq;
    }
    if (seq > member->group->last_sent) {
        member->group->last_sent = seq;
    }
    if (inflight_put(&member->inflight, seq, reply) != 0) {
        LOG_ERROR("STREAM: out of memory: message %llu of %s redelivered after its ack wait",
                  (unsigned long long)seq, member->group->channel->name);
    }
}

/* Reads "<delivered>.<sseq>.<cseq>.<ts>.<pending>" at the end of a $JS.ACK subject. */
static bool ack_reply_parse(struct proto_slice reply, uint32_t *delivered, uint64_t *seq,
                            int64_t *timestamp_ns)
{
    uint64_t fields[5] = {0};
    int field = 4;
    uint64_t value = 0, scale = 1;
    for (uint32_t i = reply.length; i > 0 && field >= 0; i--) {
        char c = reply.data[i - 1];
        if (c == '.') {
            fields[field--] = value;
            value = 0;
            scale = 1;
        } else if (c >= '0' && c <= '9') {
            value += (uint64_t)(c - '0') * scale;
            scale *= 10;
        } else {
            return false;
        }
    }
    if (field >= 0) {
        return false;
    }
    *delivered = (uint32_t)fields[0];
    *seq = fields[1];
    *timestamp_ns = (int64_t)fields[3];
    return *seq != 0;
}

static void backlog_push(struct stan_group *group, uint64_t seq, int64_t timestamp_ns,
                         uint32_t delivered, char *reply, const uint8_t *data, size_t length,
                         const char *msg_reply)
{
    struct stan_backlog *entry = calloc(1, sizeof *entry);
    if (entry != NULL && msg_reply != NULL && (entry->msg_reply = strdup(msg_reply)) == NULL) {
        free(entry);
        entry = NULL;
    }
    uint8_t *copy = length > 0 ? malloc(length) : NULL;
    if (entry == NULL || (length > 0 && copy == NULL)) {
        if (entry != NULL) {
            free(entry->msg_reply);
        }
        free(entry);
        free(copy);
        free(reply); /* the consumer redelivers it after its ack wait */
        return;
    }
    if (length > 0) {
        memcpy(copy, data, length);
    }
    entry->seq = seq;
    entry->timestamp_ns = timestamp_ns;
    entry->delivered = delivered;
    entry->reply = reply;
    entry->data = copy;
    entry->length = length;
    if (group->backlog_tail != NULL) {
        group->backlog_tail->next = entry;
    } else {
        group->backlog_head = entry;
    }
    group->backlog_tail = entry;
    group->backlog_count++;
}

void stan_group_backlog_drain(struct stan *stan, struct stan_group *group)
{
    while (group->backlog_head != NULL) {
        struct stan_member *member = member_pick(group, group->backlog_head->delivered > 1);
        if (member == NULL) {
            return;
        }
        struct stan_backlog *entry = group->backlog_head;
        group->backlog_head = entry->next;
        if (group->backlog_head == NULL) {
            group->backlog_tail = NULL;
        }
        group->backlog_count--;
        deliver_to(stan, member, entry->seq, entry->timestamp_ns, entry->delivered, entry->reply,
                   entry->data, entry->length, entry->msg_reply);
        free(entry->msg_reply);
        free(entry->data);
        free(entry);
    }
}

void stan_group_backlog_free(struct stan_group *group)
{
    while (group->backlog_head != NULL) {
        struct stan_backlog *entry = group->backlog_head;
        group->backlog_head = entry->next;
        free(entry->reply);
        free(entry->msg_reply);
        free(entry->data);
        free(entry);
    }
    group->backlog_tail = NULL;
    group->backlog_count = 0;
}

/* The publisher's reply subject, kept in the Stan-Reply header. */
static bool header_reply(const struct route_msg *msg, char *out, size_t size)
{
    static const char name[] = "\r\n" STAN_REPLY_HEADER ": ";
    if (msg->header_length == 0) {
        return false;
    }
    const char *at = memmem(msg->payload.data, msg->header_length, name, sizeof name - 1);
    if (at == NULL) {
        return false;
    }
    const char *value = at + sizeof name - 1;
    const char *end = memmem(value, (size_t)(msg->payload.data + msg->header_length - value),
                             "\r\n", 2);
    if (end == NULL || (size_t)(end - value) >= size) {
        return false;
    }
    memcpy(out, value, (size_t)(end - value));
    out[end - value] = '\0';
    return true;
}

void stan_on_delivery(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct stan_group *group = context;
    struct stan *stan = NULL;
    uint32_t delivered = 0;
    uint64_t seq = 0;
    int64_t timestamp_ns = 0;
    (void)shard;
    if (group->member_count == 0 ||
        !ack_reply_parse(msg->reply, &delivered, &seq, &timestamp_ns)) {
        return; /* not a consumer's delivery (a heartbeat, a flow control request) */
    }
    stan = group->members[0]->client->stan;
    /* a redelivery takes the message off whichever member still held it */
    if (delivered > 1) {
        for (size_t i = 0; i < group->member_count; i++) {
            struct stan_inflight_entry *entry = inflight_find(&group->members[i]->inflight, seq);
            if (entry != NULL) {
                free(inflight_remove(&group->members[i]->inflight, entry));
            }
        }
    }
    char *reply = malloc((size_t)msg->reply.length + 1);
    if (reply == NULL) {
        return;
    }
    memcpy(reply, msg->reply.data, msg->reply.length);
    reply[msg->reply.length] = '\0';
    const uint8_t *data = (const uint8_t *)msg->payload.data + msg->header_length;
    size_t length = msg->payload.length - msg->header_length;
    char msg_reply[STAN_NAME_MAX + 1];
    bool has_reply = header_reply(msg, msg_reply, sizeof msg_reply);
    struct stan_member *member =
        group->backlog_head == NULL ? member_pick(group, delivered > 1) : NULL;
    if (member != NULL) {
        deliver_to(stan, member, seq, timestamp_ns, delivered, reply, data, length,
                   has_reply ? msg_reply : NULL);
    } else {
        backlog_push(group, seq, timestamp_ns, delivered, reply, data, length,
                     has_reply ? msg_reply : NULL);
        stan_group_backlog_drain(stan, group);
    }
}

/* ---- acks ---- */

static bool ack_apply(struct stan *stan, struct stan_member *member, uint64_t seq)
{
    struct stan_inflight_entry *entry = inflight_find(&member->inflight, seq);
    if (entry == NULL) {
        return false;
    }
    char *reply = inflight_remove(&member->inflight, entry);
    stan_send(stan, reply, "+ACK", 4, NULL);
    free(reply);
    return true;
}

void stan_on_ack(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct stan_member *member = context;
    struct stan *stan = member->client->stan;
    (void)shard;
    Pb__Ack *ack = pb__ack__unpack(NULL, msg->payload.length - msg->header_length,
                                   (const uint8_t *)msg->payload.data + msg->header_length);
    if (ack == NULL) {
        return;
    }
    struct stan_group *group = member->group;
    bool applied = ack_apply(stan, member, ack->sequence);
    /* a queue member may ack what the group gave another member */
    for (size_t i = 0; !applied && i < group->member_count; i++) {
        applied = group->members[i] != member && ack_apply(stan, group->members[i], ack->sequence);
    }
    if (!applied && ack->sequence != 0) {
        /* delivered before a restart, or already acked (then it changes nothing) */
        stan_group_ack_unknown(stan, group, ack->sequence);
    }
    pb__ack__free_unpacked(ack, NULL);
    stan_group_backlog_drain(stan, group);
}

static int entry_order(const void *a, const void *b)
{
    uint64_t x = ((const struct stan_inflight_entry *)a)->seq;
    uint64_t y = ((const struct stan_inflight_entry *)b)->seq;
    return (x > y) - (x < y);
}

void stan_member_return_inflight(struct stan *stan, struct stan_member *member)
{
    struct stan_inflight *map = &member->inflight;
    /* in sequence order: the consumer redelivers in the order it is handed them */
    size_t kept = 0;
    for (uint32_t i = 0; i < map->capacity; i++) {
        if (map->slots[i].seq != 0) {
            map->slots[kept++] = map->slots[i];
        }
    }
    if (kept > 1) {
        qsort(map->slots, kept, sizeof *map->slots, entry_order);
    }
    for (size_t i = 0; i < kept; i++) {
        stan_send(stan, map->slots[i].reply, "-NAK", 4, NULL);
    }
    for (size_t i = kept; i < map->capacity; i++) {
        map->slots[i].seq = 0;
        map->slots[i].reply = NULL;
    }
    stan_inflight_free(map);
}

/* ---- what the consumer holds unacked, after a restart or a resume ---- */

/* The ack subject of `seq` on the group's consumer: the consumer reads only the stream
 * sequence from it (js_consumer_ack.c), so the gateway can name a message it did not see
 * delivered (one delivered before a restart). */
static void ack_subject(const struct stan_group *group, uint64_t seq, char *out, size_t size)
{
    snprintf(out, size, "$JS.ACK.%s.%s.1.%llu.0.0.0", group->channel->stream, group->consumer,
             (unsigned long long)seq);
}

bool stan_group_ack_unknown(struct stan *stan, struct stan_group *group, uint64_t seq)
{
    char subject[512];
    ack_subject(group, seq, subject, sizeof subject);
    stan_send(stan, subject, "+ACK", 4, NULL);
    return true;
}

struct redeliver_wait {
    struct stan_channel *channel; /* kept from deletion by channel->busy */
    uint64_t group_id;
};

static void info_answered(struct stan *stan, void *context, const struct route_msg *reply)
{
    struct redeliver_wait *wait = context;
    wait->channel->busy--;
    struct stan_group *group = NULL;
    for (size_t i = 0; i < wait->channel->group_count; i++) {
        if (wait->channel->groups[i]->id == wait->group_id) {
            group = wait->channel->groups[i];
        }
    }
    if (group != NULL) {
        group->redeliver_asked = false;
        group->inflight_unknown = reply == NULL; /* unanswered: tried again at the next resume */
    }
    int err_code = 0;
    char description[256];
    if (group != NULL && reply != NULL &&
        !stan_api_error(reply, &err_code, description, sizeof description)) {
        json_t *root = json_loadb(reply->payload.data + reply->header_length,
                                  reply->payload.length - reply->header_length, 0, NULL);
        uint64_t floor = (uint64_t)json_integer_value(
            json_object_get(json_object_get(root, "ack_floor"), "stream_seq"));
        uint64_t delivered = (uint64_t)json_integer_value(
            json_object_get(json_object_get(root, "delivered"), "stream_seq"));
        uint64_t pending = (uint64_t)json_integer_value(json_object_get(root, "num_ack_pending"));
        json_decref(root);
        /* a wide sparse range is left to the ack wait */
        if (pending > 0 && delivered > floor && delivered - floor <= STAN_REDELIVER_SCAN_MAX) {
            char subject[512];
            for (uint64_t seq = floor + 1; seq <= delivered; seq++) {
                bool held = false;
                for (size_t m = 0; m < group->member_count && !held; m++) {
                    held = inflight_find(&group->members[m]->inflight, seq) != NULL;
                }
                if (!held) {
                    ack_subject(group, seq, subject, sizeof subject);
                    stan_send(stan, subject, "-NAK", 4, NULL);
                }
            }
        }
    }
    /* the NAKs reach the consumer before the interest does: redeliveries go first */
    if (group != NULL && group->member_count > 0 && stan_group_activate(stan, group) != 0) {
        LOG_ERROR("STREAM: consumer %s: could not subscribe its deliveries", group->consumer);
    }
    free(wait);
}

void stan_group_redeliver_pending(struct stan *stan, struct stan_group *group)
{
    if (group->redeliver_asked) {
        return; /* one question at a time; its answer takes the deliveries */
    }
    struct redeliver_wait *wait = calloc(1, sizeof *wait);
    char *subject = stan_format("$JS.API.CONSUMER.INFO.%s.%s", group->channel->stream,
                                group->consumer);
    if (wait != NULL && subject != NULL) {
        wait->channel = group->channel;
        wait->group_id = group->id;
        if (stan_request(stan, subject, NULL, 0, STAN_REQUEST_TIMEOUT_NS, info_answered, wait,
                         NULL) == 0) {
            group->redeliver_asked = true;
            group->channel->busy++;
            wait = NULL;
        }
    }
    free(wait);
    free(subject);
    if (!group->redeliver_asked && group->member_count > 0 &&
        stan_group_activate(stan, group) != 0) {
        LOG_ERROR("STREAM: consumer %s: could not subscribe its deliveries", group->consumer);
    }
}
