/* NATS Streaming subscriptions: subscribe, unsubscribe and subscription close, durables
 * (plain and queue), and the JetStream consumer behind each subscription state. Shard 0's
 * thread.
 *
 * The one idea: what nats-streaming-server calls a subscription state — a plain
 * subscription, a durable, a queue group — is a group here, and each group is one durable
 * push consumer (S<id>) whose deliver subject the gateway subscribes to while the group has
 * members. A member is one client's subscription in it. A new group makes its consumer
 * (with the start position) before the subscription is answered; a member that joins or a
 * durable that resumes only updates the consumer's ack wait and max ack pending (the sum
 * of its members' max in flight). A durable whose last member closes keeps its consumer,
 * offline: nothing is delivered while nobody subscribes its deliver subject. */
#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "engine/stan_internal.h"
#include "proto/stan.pb-c.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERR_INVALID_SUB_REQ "stan: invalid subscription request"
#define ERR_MISSING_CLIENT "stan: clientID missing"
#define ERR_INVALID_ACK_WAIT "stan: invalid ack wait time, should be >= 1s"
#define ERR_INVALID_MAX_INFLIGHT "stan: invalid MaxInflight, should be >= 1"
#define ERR_INVALID_START "stan: invalid start position"
#define ERR_INVALID_SUBJECT "stan: invalid subject"
#define ERR_UNKNOWN_CLIENT "stan: unknown clientID"
#define ERR_INVALID_DUR_NAME                                                               \
    "stan: durable name of a durable queue subscriber can't contain the character ':'"
#define ERR_DUP_DURABLE "stan: duplicate durable registration"
#define ERR_TOO_MANY_SUBS "too many subscriptions per channel"
#define ERR_INVALID_UNSUB_REQ "stan: invalid unsubscribe request"
#define ERR_UNKNOWN_CHANNEL "stan: unknown channel"
#define ERR_INVALID_SUB "stan: invalid subscription"

/* ---- groups and members ---- */

struct stan_group *stan_group_new(struct stan *stan, struct stan_channel *channel, uint64_t id)
{
    if (stan_array_reserve(&channel->groups, &channel->group_capacity, channel->group_count,
                           sizeof *channel->groups, 4) != 0) {
        return NULL;
    }
    struct stan_group *group = calloc(1, sizeof *group);
    if (group == NULL) {
        return NULL;
    }
    group->id = id;
    group->channel = channel;
    snprintf(group->consumer, sizeof group->consumer, "S%llu", (unsigned long long)id);
    group->deliver = stan_format("%s.%llu", stan->dlv_prefix, (unsigned long long)id);
    if (group->deliver == NULL) {
        free(group);
        return NULL;
    }
    if (id >= stan->next_group_id) {
        stan->next_group_id = id + 1;
    }
    channel->groups[channel->group_count++] = group;
    return group;
}

static void member_free(struct stan *stan, struct stan_member *member);

void stan_group_free(struct stan *stan, struct stan_group *group)
{
    struct stan_channel *channel = group->channel;
    for (size_t i = 0; i < channel->group_count; i++) {
        if (channel->groups[i] == group) {
            channel->groups[i] = channel->groups[--channel->group_count];
            break;
        }
    }
    while (group->member_count > 0) {
        member_free(stan, group->members[group->member_count - 1]);
    }
    if (group->deliver_sub != NULL) {
        service_unsubscribe(stan->shard, group->deliver_sub);
    }
    stan_group_backlog_free(group);
    free(group->members);
    free(group->queue);
    free(group->durable);
    free(group->durable_client);
    free(group->deliver);
    free(group->deliver_policy);
    free(group->last_client);
    free(group->last_inbox);
    free(group->last_ack_inbox);
    free(group);
}

struct stan_member *stan_member_new(struct stan *stan, struct stan_group *group,
                                    struct stan_client *client, uint64_t id)
{
    if (stan_array_reserve(&group->members, &group->member_capacity, group->member_count,
                           sizeof *group->members, 2) != 0) {
        return NULL;
    }
    struct stan_member *member = calloc(1, sizeof *member);
    if (member == NULL) {
        return NULL;
    }
    if (stan_client_member_add(client, member) != 0) {
        free(member);
        return NULL;
    }
    member->id = id;
    member->group = group;
    member->client = client;
    if (id >= stan->next_member_id) {
        stan->next_member_id = id + 1;
    }
    group->members[group->member_count++] = member;
    return member;
}

/* Takes a member out of its group and client and frees it. */
static void member_free(struct stan *stan, struct stan_member *member)
{
    struct stan_group *group = member->group;
    for (size_t i = 0; i < group->member_count; i++) {
        if (group->members[i] == member) {
            group->members[i] = group->members[--group->member_count];
            break;
        }
    }
    if (member->client != NULL) {
        stan_client_member_remove(member->client, member);
    }
    if (member->ack_sub != NULL) {
        service_unsubscribe(stan->shard, member->ack_sub);
    }
    stan_inflight_free(&member->inflight);
    free(member->inbox);
    free(member->ack_inbox);
    free(member);
}

int stan_group_activate(struct stan *stan, struct stan_group *group)
{
    if (group->deliver_sub != NULL) {
        return 0;
    }
    int error = 0;
    group->deliver_sub =
        service_subscribe(stan->shard, group->deliver, NULL, stan_on_delivery, group, &error);
    if (group->deliver_sub != NULL) {
        service_sub_show_delivered(group->deliver_sub); /* the channel's subject */
    }
    return group->deliver_sub != NULL ? 0 : (error != 0 ? error : -ENOMEM);
}

static void group_deactivate(struct stan *stan, struct stan_group *group)
{
    if (group->deliver_sub != NULL) {
        service_unsubscribe(stan->shard, group->deliver_sub);
        group->deliver_sub = NULL;
    }
}

int stan_member_activate(struct stan *stan, struct stan_member *member)
{
    if (member->ack_sub != NULL) {
        return 0;
    }
    int error = 0;
    member->ack_sub =
        service_subscribe(stan->shard, member->ack_inbox, NULL, stan_on_ack, member, &error);
    return member->ack_sub != NULL ? 0 : (error != 0 ? error : -ENOMEM);
}

/* ---- the consumer ---- */

static int64_t group_max_ack_pending(const struct stan_group *group)
{
    int64_t sum = 0;
    for (size_t i = 0; i < group->member_count; i++) {
        sum += group->members[i]->max_inflight;
    }
    return sum > STAN_MAX_ACK_PENDING ? STAN_MAX_ACK_PENDING : (sum > 0 ? sum : 1);
}

static void time_format(int64_t ns, char *out, size_t size)
{
    time_t seconds = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%09lldZ", date, (long long)(ns % 1000000000LL));
}

static char *consumer_request(const struct stan_group *group, const struct stan_channel *channel)
{
    json_t *config = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:i, s:I, s:s, s:s}", "durable_name", group->consumer,
        "deliver_subject", group->deliver, "deliver_policy", group->deliver_policy, "ack_policy",
        "explicit", "ack_wait", (json_int_t)group->ack_wait_s * 1000000000LL, "max_deliver", -1,
        "max_ack_pending", (json_int_t)group_max_ack_pending(group), "replay_policy", "instant",
        "description", "NATS Streaming subscription");
    if (config == NULL) {
        return NULL;
    }
    if (strcmp(group->deliver_policy, "by_start_sequence") == 0) {
        json_object_set_new(config, "opt_start_seq", json_integer((json_int_t)group->start_seq));
    } else if (strcmp(group->deliver_policy, "by_start_time") == 0) {
        char when[64];
        time_format(group->start_time_ns, when, sizeof when);
        json_object_set_new(config, "opt_start_time", json_string(when));
    }
    json_t *root = json_pack("{s:s, s:o}", "stream_name", channel->stream, "config", config);
    char *text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return text;
}

static int consumer_send(struct stan *stan, struct stan_group *group, stan_reply_fn *fn,
                         void *context)
{
    char *body = consumer_request(group, group->channel);
    char *subject = stan_format("$JS.API.CONSUMER.CREATE.%s.%s", group->channel->stream,
                                group->consumer);
    int rc = body == NULL || subject == NULL
                 ? -ENOMEM
                 : stan_request(stan, subject, body, strlen(body), STAN_REQUEST_TIMEOUT_NS, fn,
                                context, NULL);
    free(body);
    free(subject);
    return rc;
}

static void consumer_updated(struct stan *stan, void *context, const struct route_msg *reply)
{
    char *consumer = context;
    int err_code = 0;
    char description[256];
    if (reply == NULL) {
        LOG_WARN("STREAM: consumer %s: update not answered", consumer);
    } else if (stan_api_error(reply, &err_code, description, sizeof description)) {
        LOG_WARN("STREAM: consumer %s: update: %s", consumer, description);
    }
    (void)stan;
    free(consumer);
}

/* Brings the consumer to the group's current ack wait and max ack pending (no answer
 * awaited: deliveries follow the members the gateway has, whatever the consumer holds). */
static void consumer_update(struct stan *stan, struct stan_group *group)
{
    char *name = stan_format("%s/%s", group->channel->stream, group->consumer);
    if (name == NULL || consumer_send(stan, group, consumer_updated, name) != 0) {
        free(name);
    }
}

static void consumer_deleted(struct stan *stan, void *context, const struct route_msg *reply)
{
    consumer_updated(stan, context, reply);
}

static void consumer_delete(struct stan *stan, struct stan_group *group)
{
    char *subject = stan_format("$JS.API.CONSUMER.DELETE.%s.%s", group->channel->stream,
                                group->consumer);
    char *name = stan_format("%s/%s", group->channel->stream, group->consumer);
    if (subject == NULL || name == NULL ||
        stan_request(stan, subject, NULL, 0, STAN_REQUEST_TIMEOUT_NS, consumer_deleted, name,
                     NULL) != 0) {
        free(name);
    }
    free(subject);
}

/* ---- leaving ---- */


static bool group_durable(const struct stan_group *group)
{
    return group->durable != NULL || (group->queue != NULL && strchr(group->queue, ':'));
}

void stan_groups_sweep(struct stan *stan)
{
    for (size_t c = 0; c < stan->channel_count; c++) {
        struct stan_channel *channel = stan->channels[c];
        for (size_t g = 0; g < channel->group_count;) {
            struct stan_group *group = channel->groups[g];
            if (group->member_count > 0 || group_durable(group)) {
                if (group->member_count > 0) {
                    stan_group_redeliver_pending(stan, group); /* what was out at the stop */
                }
                g++;
                continue;
            }
            /* a plain subscription whose client did not come back */
            consumer_delete(stan, group);
            stan_persist_group_remove(stan, group);
            stan_group_free(stan, group); /* takes it off channel->groups */
        }
    }
}

void stan_member_leave(struct stan *stan, struct stan_member *member, bool unsubscribe)
{
    struct stan_group *group = member->group;
    stan_member_return_inflight(stan, member);
    stan_persist_member_remove(stan, member);
    if (group->member_count == 1 && group_durable(group) && !unsubscribe) {
        free(group->last_client);
        free(group->last_inbox);
        free(group->last_ack_inbox);
        group->last_client = stan_strdup(member->client->id);
        group->last_inbox = stan_strdup(member->inbox);
        group->last_ack_inbox = stan_strdup(member->ack_inbox);
        group->last_max_inflight = member->max_inflight;
    }
    member_free(stan, member);
    if (group->member_count > 0) {
        consumer_update(stan, group);
        stan_group_backlog_drain(stan, group);
        return;
    }
    group_deactivate(stan, group);
    for (struct stan_backlog *held = group->backlog_head; held != NULL; held = held->next) {
        stan_send(stan, held->reply, "-NAK", 4, NULL); /* first again when it resumes */
    }
    stan_group_backlog_free(group);
    if (group_durable(group) && !unsubscribe) {
        stan_persist_group(stan, group); /* offline, with the client it had */
        return;
    }
    if (group->ready) {
        consumer_delete(stan, group);
    }
    group->channel->active_ns = clock_monotonic_ns(); /* its inactivity starts now */
    stan_persist_group_remove(stan, group);
    stan_group_free(stan, group);
}

/* ---- subscribe ---- */

struct sub_pending {
    char *reply;
    Pb__SubscriptionRequest *req;
    struct stan_group *group; /* a new group, while its consumer is made */
};

static void sub_pending_free(struct sub_pending *pending)
{
    if (pending->req != NULL) {
        pb__subscription_request__free_unpacked(pending->req, NULL);
    }
    free(pending->reply);
    free(pending);
}

static void sub_respond(struct stan *stan, const char *reply, const char *ack_inbox,
                        const char *error)
{
    if (reply == NULL) {
        return;
    }
    Pb__SubscriptionResponse response = PB__SUBSCRIPTION_RESPONSE__INIT;
    response.ack_inbox = (char *)(ack_inbox != NULL ? ack_inbox : "");
    response.error = (char *)(error != NULL ? error : "");
    stan_send_pb(stan, reply, &response);
}

/* Adds the requesting client's member to `group` and answers. */
static void member_join(struct stan *stan, struct stan_group *group, struct sub_pending *pending)
{
    const Pb__SubscriptionRequest *req = pending->req;
    struct stan_client *client = stan_client_find(stan, req->client_id);
    if (client == NULL) {
        sub_respond(stan, pending->reply, NULL, ERR_UNKNOWN_CLIENT);
        return;
    }
    struct stan_member *member = stan_member_new(stan, group, client, stan->next_member_id);
    if (member == NULL) {
        sub_respond(stan, pending->reply, NULL, "stan: out of memory");
        return;
    }
    char token[23];
    stan_token(stan, token, 22);
    member->inbox = strdup(req->inbox);
    member->ack_inbox = stan_format("_INBOX.%s", token);
    member->max_inflight = req->max_in_flight;
    member->ack_wait_s = req->ack_wait_in_secs;
    member->last_sent = group->last_sent;
    int rc = member->inbox == NULL || member->ack_inbox == NULL ? -ENOMEM : 0;
    if (rc == 0) {
        rc = stan_persist_member(stan, member);
    }
    if (rc == 0) {
        rc = stan_member_activate(stan, member);
    }
    if (rc != 0) {
        stan_persist_member_remove(stan, member);
        member_free(stan, member);
        sub_respond(stan, pending->reply, NULL, strerror(-rc));
        return;
    }
    free(group->last_client);
    group->last_client = NULL;
    stan_log_debug(stan, "[Client:%s] Subscribed to \"%s\" (consumer %s, queue %s, durable %s)",
                   client->id, group->channel->name, group->consumer,
                   group->queue ? group->queue : "-", group->durable ? group->durable : "-");
    sub_respond(stan, pending->reply, member->ack_inbox, NULL);
    if (group->member_count > 1 || group->ack_wait_s != req->ack_wait_in_secs ||
        group->deliver_sub == NULL) {
        group->ack_wait_s = group->member_count == 1 ? req->ack_wait_in_secs : group->ack_wait_s;
        if (group->ready) {
            consumer_update(stan, group);
        }
    }
    if (group->ready && group->inflight_unknown) {
        stan_group_redeliver_pending(stan, group); /* then takes the deliveries */
    } else if (stan_group_activate(stan, group) != 0) {
        LOG_ERROR("STREAM: consumer %s: could not subscribe its deliveries", group->consumer);
    }
    stan_group_backlog_drain(stan, group);
}

static void consumer_made(struct stan *stan, void *context, const struct route_msg *reply)
{
    struct sub_pending *pending = context;
    struct stan_group *group = pending->group;
    int err_code = 0;
    char description[256];
    if (reply == NULL || stan_api_error(reply, &err_code, description, sizeof description)) {
        const char *error = reply == NULL ? "stan: subscription store did not answer"
                                          : description;
        LOG_ERROR("STREAM: consumer %s on %s: %s", group->consumer, group->channel->stream,
                  error);
        sub_respond(stan, pending->reply, NULL, error);
        stan_group_free(stan, group);
        sub_pending_free(pending);
        return;
    }
    group->ready = true;
    int rc = stan_persist_group(stan, group);
    if (rc != 0) {
        sub_respond(stan, pending->reply, NULL, strerror(-rc));
        consumer_delete(stan, group);
        stan_group_free(stan, group);
    } else {
        member_join(stan, group, pending);
        if (group->member_count == 0) { /* the join failed: nobody to keep it for */
            consumer_delete(stan, group);
            stan_persist_group_remove(stan, group);
            stan_group_free(stan, group);
        }
    }
    sub_pending_free(pending);
}

static const char *start_policy(struct stan_group *group, const Pb__SubscriptionRequest *req,
                                const struct stan_channel *channel)
{
    switch (req->start_position) {
    case PB__START_POSITION__new_only:
        group->last_sent = channel->last_seq;
        return "new";
    case PB__START_POSITION__last_received:
        group->last_sent = channel->last_seq > 0 ? channel->last_seq - 1 : 0;
        return "last";
    case PB__START_POSITION__time_delta_start:
        group->start_time_ns = clock_realtime_ns() - req->start_time_delta;
        return "by_start_time";
    case PB__START_POSITION__sequence_start:
        if (req->start_sequence == 0 || req->start_sequence <= channel->first_seq) {
            return "all";
        }
        if (req->start_sequence > channel->last_seq + 1) {
            group->last_sent = channel->last_seq;
            return "new";
        }
        group->start_seq = req->start_sequence;
        group->last_sent = req->start_sequence - 1;
        return "by_start_sequence";
    case PB__START_POSITION__first:
    default:
        return "all";
    }
}

/* The channel's stream exists: make the new group's consumer. */
static void channel_ready_for_sub(struct stan *stan, void *context, const char *error)
{
    struct sub_pending *pending = context;
    struct stan_group *group = pending->group;
    if (error != NULL) {
        sub_respond(stan, pending->reply, NULL, error);
        stan_group_free(stan, group);
        sub_pending_free(pending);
        return;
    }
    group->deliver_policy = stan_strdup(start_policy(group, pending->req, group->channel));
    if (group->deliver_policy == NULL || consumer_send(stan, group, consumer_made, pending) != 0) {
        sub_respond(stan, pending->reply, NULL, "stan: out of memory");
        stan_group_free(stan, group);
        sub_pending_free(pending);
    }
}

static size_t channel_sub_count(const struct stan_channel *channel)
{
    size_t count = 0;
    for (size_t i = 0; i < channel->group_count; i++) {
        size_t members = channel->groups[i]->member_count;
        count += members > 0 ? members : 1; /* an offline durable counts once */
    }
    return count;
}

static struct stan_group *group_find(const struct stan_channel *channel, const char *queue,
                                     const char *durable, const char *client_id)
{
    for (size_t i = 0; i < channel->group_count; i++) {
        struct stan_group *group = channel->groups[i];
        if (group->deleting) {
            continue;
        }
        if (queue != NULL) {
            if (group->queue != NULL && strcmp(group->queue, queue) == 0) {
                return group;
            }
        } else if (group->durable != NULL && strcmp(group->durable, durable) == 0 &&
                   strcmp(group->durable_client, client_id) == 0) {
            return group;
        }
    }
    return NULL;
}

static const char *sub_check(struct stan *stan, const Pb__SubscriptionRequest *req)
{
    if (req->client_id[0] == '\0') {
        return ERR_MISSING_CLIENT;
    }
    if (req->ack_wait_in_secs <= 0) {
        return ERR_INVALID_ACK_WAIT;
    }
    if (req->max_in_flight <= 0) {
        return ERR_INVALID_MAX_INFLIGHT;
    }
    if ((int)req->start_position < PB__START_POSITION__new_only ||
        (int)req->start_position > PB__START_POSITION__first) {
        return ERR_INVALID_START;
    }
    if (!stan_channel_name_valid(req->subject)) {
        return ERR_INVALID_SUBJECT;
    }
    if (strlen(req->inbox) > STAN_NAME_MAX || strlen(req->q_group) > STAN_NAME_MAX ||
        strlen(req->durable_name) > STAN_NAME_MAX) {
        return ERR_INVALID_SUB_REQ;
    }
    if (stan_client_find(stan, req->client_id) == NULL) {
        return ERR_UNKNOWN_CLIENT;
    }
    return NULL;
}

/* Finds the group the request joins or resumes, or makes a new one (*fresh). */
static const char *group_choose(struct stan *stan, struct sub_pending *pending,
                                struct stan_channel *channel, struct stan_group **out,
                                bool *fresh)
{
    const Pb__SubscriptionRequest *req = pending->req;
    bool queued = req->q_group[0] != '\0';
    bool durable = req->durable_name[0] != '\0';
    char *queue = NULL;
    if (queued && durable) {
        if (strchr(req->durable_name, ':') != NULL) {
            return ERR_INVALID_DUR_NAME;
        }
        queue = stan_format("%s:%s", req->durable_name, req->q_group);
    } else if (queued) {
        queue = strdup(req->q_group);
    }
    if (queued && queue == NULL) {
        return "stan: out of memory";
    }
    struct stan_group *group =
        (queued || durable) ? group_find(channel, queue, req->durable_name, req->client_id)
                            : NULL;
    if (group != NULL && !queued && group->member_count > 0) {
        free(queue);
        return ERR_DUP_DURABLE;
    }
    bool adds_record = group == NULL || group->member_count > 0;
    if (stan->max_subs > 0 && adds_record &&
        (int64_t)channel_sub_count(channel) >= stan->max_subs) {
        free(queue);
        return ERR_TOO_MANY_SUBS;
    }
    *fresh = group == NULL;
    if (group == NULL) {
        group = stan_group_new(stan, channel, stan->next_group_id);
        if (group == NULL) {
            free(queue);
            return "stan: out of memory";
        }
        group->queue = queue;
        queue = NULL;
        group->ack_wait_s = req->ack_wait_in_secs;
        if (durable && !queued) {
            group->durable = strdup(req->durable_name);
            group->durable_client = strdup(req->client_id);
            if (group->durable == NULL || group->durable_client == NULL) {
                stan_group_free(stan, group);
                return "stan: out of memory";
            }
        }
    }
    free(queue);
    *out = group;
    return NULL;
}

void stan_on_subscribe(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct stan *stan = context;
    (void)shard;
    struct sub_pending *pending = calloc(1, sizeof *pending);
    if (pending == NULL) {
        return;
    }
    if (msg->reply.length > 0) {
        pending->reply = stan_format("%.*s", (int)msg->reply.length, msg->reply.data);
    }
    pending->req = pb__subscription_request__unpack(
        NULL, msg->payload.length - msg->header_length,
        (const uint8_t *)msg->payload.data + msg->header_length);
    const char *error = pending->req == NULL ? ERR_INVALID_SUB_REQ : sub_check(stan, pending->req);
    struct stan_channel *channel = NULL;
    if (error == NULL) {
        channel = stan_channel_get(stan, pending->req->subject, &error);
    }
    struct stan_group *group = NULL;
    bool fresh = false;
    if (error == NULL) {
        error = group_choose(stan, pending, channel, &group, &fresh);
    }
    if (error != NULL) {
        sub_respond(stan, pending->reply, NULL, error);
        sub_pending_free(pending);
        return;
    }
    if (!fresh) {
        member_join(stan, group, pending);
        sub_pending_free(pending);
        return;
    }
    pending->group = group;
    if (stan_channel_when_ready(stan, channel, channel_ready_for_sub, pending) != 0) {
        sub_respond(stan, pending->reply, NULL, "stan: out of memory");
        stan_group_free(stan, group);
        sub_pending_free(pending);
    }
}

/* ---- unsubscribe and subscription close ---- */

static struct stan_member *member_find(const struct stan_channel *channel, const char *inbox)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < channel->group_count; i++) {
            const struct stan_group *group = channel->groups[i];
            for (size_t m = 0; m < group->member_count; m++) {
                struct stan_member *member = group->members[m];
                if (strcmp(pass == 0 ? member->ack_inbox : member->inbox, inbox) == 0) {
                    return member;
                }
            }
        }
    }
    return NULL;
}

static void unsub_handle(struct stan *stan, const struct route_msg *msg, bool unsubscribe)
{
    Pb__UnsubscribeRequest *req = pb__unsubscribe_request__unpack(
        NULL, msg->payload.length - msg->header_length,
        (const uint8_t *)msg->payload.data + msg->header_length);
    const char *error = NULL;
    if (req == NULL) {
        error = ERR_INVALID_UNSUB_REQ;
    } else {
        struct stan_channel *channel = stan_channel_find(stan, req->subject);
        struct stan_member *member = channel != NULL ? member_find(channel, req->inbox) : NULL;
        struct stan_client *client = stan_client_find(stan, req->client_id);
        if (channel == NULL) {
            error = ERR_UNKNOWN_CHANNEL;
        } else if (member == NULL) {
            error = ERR_INVALID_SUB;
        } else if (client == NULL || member->client != client) {
            error = ERR_UNKNOWN_CLIENT;
        } else {
            stan_log_debug(stan, "[Client:%s] %s \"%s\"", client->id,
                           unsubscribe ? "Unsubscribed from" : "Closed subscription on",
                           channel->name);
            stan_member_leave(stan, member, unsubscribe);
        }
        pb__unsubscribe_request__free_unpacked(req, NULL);
    }
    if (msg->reply.length > 0) {
        char *reply = stan_format("%.*s", (int)msg->reply.length, msg->reply.data);
        if (reply != NULL) {
            Pb__SubscriptionResponse response = PB__SUBSCRIPTION_RESPONSE__INIT;
            response.error = (char *)(error != NULL ? error : "");
            stan_send_pb(stan, reply, &response);
            free(reply);
        }
    }
}

void stan_on_unsubscribe(struct shard *shard, void *context, const struct route_msg *msg)
{
    (void)shard;
    unsub_handle(context, msg, true);
}

void stan_on_subclose(struct shard *shard, void *context, const struct route_msg *msg)
{
    (void)shard;
    unsub_handle(context, msg, false);
}
