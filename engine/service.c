/* Server-side subscribers: see service.h.
 *
 * A service subscription is a route_sub whose deliver handler copies the message into its
 * shard's deferred queue and counts it as pending; the handler runs from there. An ended
 * subscription leaves the index at once and is freed when its last pending delivery has
 * been dropped, so a queued record never points at freed memory. Shard-owned. */
#include "engine/service.h"

#include "base/assert.h"
#include "base/log.h"
#include "engine/deferred.h"
#include "engine/route.h"
#include "engine/shard.h"
#include "proto/subject.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct service_sub {
    struct route_sub route;   /* first: a route_sub * from routing is a service_sub * */
    struct shard *shard;      /* borrowed: the home shard */
    service_handler *handler; /* static */
    void *context;            /* borrowed from the subscriber */
    uint32_t pending;         /* deliveries queued for the handler */
    bool ended;               /* unsubscribed; freed once nothing is pending */
    bool shows_delivered;     /* gets a JetStream delivery's own subject (service.h) */
    char text[];              /* subject, then queue; not NUL-terminated */
};

STATIC_ASSERT(offsetof(struct service_sub, route) == 0, "a route_sub * is a service_sub *");

static void service_run_one(void *target, const struct route_msg *msg)
{
    struct service_sub *sub = target;
    ASSERT(sub->pending > 0);
    sub->pending--;
    if (sub->ended) {
        if (sub->pending == 0) {
            free(sub);
        }
        return;
    }
    sub->handler(sub->shard, sub->context, msg); /* may end `sub`: not touched after */
}

static bool service_sub_deliver(struct shard *shard, struct route_sub *route,
                                const struct route_msg *msg, bool status)
{
    struct service_sub *sub = (struct service_sub *)route;
    if (sub->ended || status) {
        return false; /* the server publishes no requests that wait for a 503 */
    }
    struct route_msg routed;
    if (msg->shown.length > 0 && !sub->shows_delivered) {
        /* the subject it was routed on: what a peer names after a reply's '@' reaches
         * only the subscribers that read deliveries (service.h) */
        routed = *msg;
        routed.shown = (struct proto_slice){0};
        msg = &routed;
    }
    int rc = deferred_push(&shard->deferred, service_run_one, sub, msg);
    if (rc != 0) {
        LOG_WARN("shard %d: a message on %.*s for a server-side subscriber was dropped: %s",
                 shard->index, (int)msg->subject.length, msg->subject.data, strerror(-rc));
        return false;
    }
    sub->pending++;
    if (deferred_pressed_above(&shard->deferred)) {
        /* the publisher is paused as one feeding a subscriber that is behind */
        shard->conns.flow_hit = true;
        shard->deferred_pressed = true;
    }
    return true;
}

/* Services never set max_msgs (service_subscribe leaves it 0, and no client can reach a
 * service's route_sub), so routing never expires one: ending it behind its owner's back
 * would leave the owner a dangling pointer. */
static void service_sub_expire(struct shard *shard, struct route_sub *route)
{
    UNREACHABLE();
}

static const struct route_sub_ops service_sub_ops = {
    .deliver = service_sub_deliver,
    .expire = service_sub_expire,
};

struct service_sub *service_subscribe(struct shard *shard, const char *subject,
                                      const char *queue, service_handler *handler,
                                      void *context, int *error)
{
    size_t subject_length = strlen(subject);
    size_t queue_length = queue != NULL ? strlen(queue) : 0;
    if (!subject_valid_for_sub(subject, subject_length) ||
        (queue != NULL && !subject_valid_literal(queue, queue_length))) {
        *error = -EINVAL;
        return NULL;
    }
    struct service_sub *sub = calloc(1, sizeof *sub + subject_length + queue_length);
    if (sub == NULL) {
        *error = -ENOMEM;
        return NULL;
    }
    memcpy(sub->text, subject, subject_length);
    sub->route.sub.subject = sub->text;
    sub->route.sub.subject_length = (uint32_t)subject_length;
    if (queue_length > 0) {
        memcpy(sub->text + subject_length, queue, queue_length);
        sub->route.sub.queue = sub->text + subject_length;
        sub->route.sub.queue_length = (uint32_t)queue_length;
    }
    sub->route.ops = &service_sub_ops;
    sub->route.owner = sub;
    sub->shard = shard;
    sub->handler = handler;
    sub->context = context;
    if (route_sub_add(shard, &sub->route) != 0) {
        free(sub);
        *error = -ENOMEM;
        return NULL;
    }
    *error = 0;
    return sub;
}

void service_sub_show_delivered(struct service_sub *sub)
{
    sub->shows_delivered = true;
}

void service_unsubscribe(struct shard *shard, struct service_sub *sub)
{
    ASSERT(sub->shard == shard);
    if (sub->ended) {
        return;
    }
    route_sub_remove(shard, &sub->route);
    sub->ended = true;
    if (sub->pending == 0) {
        free(sub);
    }
}

void service_publish(struct shard *shard, const struct route_msg *msg)
{
    static const struct route_publisher server = {.echo = true};
    route_publish(shard, &server, msg);
}
