/* Server-side subscribers ("services"): subscriptions owned by the server, a handler and a
 * context on a home shard, in the same subject index as clients' subscriptions.
 *
 * The one idea: everything the server does itself (JetStream's $JS.API.> and stream
 * subjects, $SYS requests, the Streaming protocol) is a subscriber like any other, so it
 * gets the same wildcards, queue groups, cross-shard interest and no-responders as a client
 * (a request to a service subject is never answered with a 503). Deliveries are copied and
 * the handler runs from the shard loop after the walk that delivered them (see
 * deferred.h), so a handler may publish, subscribe and unsubscribe freely. Shard-owned:
 * subscribe, unsubscribe and publish on the home shard's thread. */
#ifndef IONATS_ENGINE_SERVICE_H
#define IONATS_ENGINE_SERVICE_H

#include "engine/route_msg.h"

#include <stddef.h>

struct shard;
struct service_sub;

/* Handles one message delivered to a service subscription. `msg` is valid during the call. */
typedef void service_handler(struct shard *shard, void *context, const struct route_msg *msg);

/* Subscribes the server on `shard` (its home) to `subject` (wildcards allowed), in queue
 * group `queue` when not NULL. NULL when the subject or queue is invalid (-EINVAL in *error)
 * or memory ran out (-ENOMEM). The subscription is live on every shard once the shard's
 * announcements are applied (at once with one shard). */
struct service_sub *service_subscribe(struct shard *shard, const char *subject,
                                      const char *queue, service_handler *handler,
                                      void *context, int *error);

/* The handler gets JetStream deliveries under their own subjects (route_msg.shown), as a
 * client subscribed there would: for the subscriptions that read a consumer's deliveries
 * (a mirror's or source's, the Streaming gateway's). Every other server-side subscriber
 * gets the subject a message was routed on, whatever a peer named after a reply's '@'. */
void service_sub_show_delivered(struct service_sub *sub);

/* Ends a subscription. Deliveries already queued for it are dropped, and no handler runs for
 * it after this returns. */
void service_unsubscribe(struct shard *shard, struct service_sub *sub);

/* Publishes a message the server makes into routing, from `shard`'s thread: delivered to
 * every matching subscriber on every shard, as a client's publish is. Not to be called from
 * inside a delivery walk (a route_sub_ops.deliver); handlers run outside of walks. */
void service_publish(struct shard *shard, const struct route_msg *msg);

#endif
