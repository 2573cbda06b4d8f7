/* Pull consumers' priority groups (nats-server 2.11's priority_groups and priority_policy,
 * 2.12's prioritized): which waiting request takes the next message, the pinned client
 * (its id, Nats-Pin-Id on each delivery, priority_timeout, UNPIN), the pinned and unpinned
 * advisories' triggers, and consumer info's "priority_groups".
 *
 * The one idea: a policy only changes which waiting request the next message goes to, so
 * all of it is one choice made per message (js_consumer_priority_pick, nats-server's
 * nextWaiting) over the same bounded queue of requests: overflow passes over a request
 * whose min_pending / min_ack_pending are not reached yet, pinned_client over every request
 * but the pinned one (and answers a stale pin 423), prioritized keeps the queue sorted by
 * priority. A request passed over goes behind the others, and a message no request may take
 * stays in the stream until a request, an ack, a message or the pin's end wakes the
 * consumer. The pin lives in memory only, as nats-server's. Owner shard's thread only. */
#include "base/assert.h"
#include "base/clock.h"
#include "engine/js_consumer.h"
#include "engine/route.h"
#include "engine/shard.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* The highest priority a request may give (nats-server: "between 0 and 9"). */
enum { PRIORITY_MAX = 9 };

static bool group_configured(const struct js_consumer_config *config, const char *group)
{
    for (size_t i = 0; i < config->priority_group_count; i++) {
        if (strcmp(config->priority_groups[i], group) == 0) {
            return true;
        }
    }
    return false;
}

static int64_t pin_timeout_ns(const struct js_consumer *consumer)
{
    int64_t timeout = consumer->config.priority_timeout_ns;
    return timeout > 0 ? timeout : JS_CONSUMER_PRIORITY_TIMEOUT_DEFAULT_NS;
}

/* priority_timeout starts again (a pin given, or a request presenting it). */
static void pin_renew(struct js_consumer *consumer, int64_t now_ns)
{
    consumer->pin_deadline_ns = now_ns + pin_timeout_ns(consumer);
    js_consumer_timer_at(consumer, consumer->pin_deadline_ns);
}

/* A new id: nats-server's nuid alphabet and length, from the kernel's random bytes. */
static void pin_id_make(char id[JS_CONSUMER_PIN_ID_LENGTH + 1])
{
    static const char alphabet[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char random[JS_CONSUMER_PIN_ID_LENGTH];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        uint64_t seed = (uint64_t)clock_monotonic_ns(); /* an id only needs to differ */
        for (size_t i = 0; i < sizeof random; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            random[i] = (unsigned char)(seed >> 56);
        }
    }
    for (size_t i = 0; i < sizeof random; i++) {
        id[i] = alphabet[random[i] % (sizeof alphabet - 1)];
    }
    id[JS_CONSUMER_PIN_ID_LENGTH] = '\0';
}

/* Pins the client of `request` (nats-server's assignNewPinId): false when the request
 * names no group (a plain batch number), which pins nobody. */
static bool pin_assign(struct js_consumer *consumer, struct js_pull_request *request,
                       int64_t now_ns)
{
    if (!request->priority.present || request->priority.group[0] == '\0') {
        return false;
    }
    pin_id_make(consumer->pin_id);
    STATIC_ASSERT(sizeof request->priority.pin_id > sizeof consumer->pin_id - 1,
                  "a request holds a whole pin");
    memcpy(request->priority.pin_id, consumer->pin_id, JS_CONSUMER_PIN_ID_LENGTH + 1);
    memcpy(consumer->pin_group, request->priority.group, sizeof consumer->pin_group);
    consumer->pin_ns = js_now_ns();
    pin_renew(consumer, now_ns);
    js_consumer_event_pinned(consumer, consumer->pin_group);
    return true;
}

void js_consumer_pin_clear(struct js_consumer *consumer)
{
    consumer->pin_id[0] = '\0';
    consumer->pin_group[0] = '\0';
    consumer->pin_ns = 0;
    consumer->pin_deadline_ns = 0;
}

/* ---- admitting a request ---- */

int js_consumer_priority_admit(struct js_consumer *consumer, const struct js_pull_priority *fields,
                               int *code, const char **text)
{
    enum js_consumer_priority_policy policy = consumer->config.priority_policy;
    *code = 400;
    if (!fields->present) {
        return 0; /* a batch number: nothing to judge (nats-server's nil priorityGroup) */
    }
    if ((fields->min_pending != 0 || fields->min_ack_pending != 0) &&
        policy != JS_CONSUMER_PRIORITY_OVERFLOW) {
        *text = "Bad Request - Not a Overflow Priority consumer";
        return -EINVAL;
    }
    if (fields->pin_id[0] != '\0' && policy != JS_CONSUMER_PRIORITY_PINNED_CLIENT) {
        *text = "Bad Request - Not a Pinned Client Priority consumer";
        return -EINVAL;
    }
    if (fields->priority < 0 || fields->priority > PRIORITY_MAX) {
        *text = "Bad Request - Priority must be between 0 and 9";
        return -EINVAL;
    }
    if (policy == JS_CONSUMER_PRIORITY_NONE) {
        return 0;
    }
    if (fields->group[0] == '\0') {
        *text = "Bad Request - Priority Group missing";
        return -EINVAL;
    }
    if (!group_configured(&consumer->config, fields->group)) {
        *text = "Bad Request - Invalid Priority Group";
        return -EINVAL;
    }
    if (consumer->pin_id[0] != '\0') {
        if (strcmp(fields->pin_id, consumer->pin_id) == 0) {
            pin_renew(consumer, clock_monotonic_ns()); /* the pinned client is alive */
        } else if (fields->pin_id[0] != '\0') {
            *code = 423;
            *text = "Nats-Pin-Id mismatch";
            return -EPERM;
        }
    }
    return 0;
}

/* ---- the queue's order ---- */

static int64_t effective_priority(const struct js_pull_request *request)
{
    return request->priority.present ? request->priority.priority : JS_PULL_PRIORITY_NONE;
}

/* Where `request` goes under prioritized: after the requests of the same or a lower
 * priority among those from `from` on (nats-server's insertAtPosition). */
static uint32_t prioritized_index(struct js_consumer *consumer,
                                  const struct js_pull_request *request, uint32_t from)
{
    int64_t priority = effective_priority(request);
    for (uint32_t i = from; i < consumer->request_count; i++) {
        if (effective_priority(js_consumer_request_at(consumer, i)) > priority) {
            return i;
        }
    }
    return consumer->request_count;
}

int js_consumer_priority_enqueue(struct js_consumer *consumer,
                                 const struct js_pull_request *request)
{
    uint32_t index = consumer->config.priority_policy == JS_CONSUMER_PRIORITY_PRIORITIZED
                         ? prioritized_index(consumer, request, 0)
                         : consumer->request_count;
    return js_consumer_request_insert(consumer, request, index);
}

/* Takes the head off the queue and puts it back at `index` among the others (no memory
 * needed: its place was just freed). */
static void head_requeue(struct js_consumer *consumer, bool prioritized)
{
    ASSERT(consumer->request_count > 0);
    struct js_pull_request head = *js_consumer_request_at(consumer, 0);
    consumer->request_head = (consumer->request_head + 1) % consumer->request_capacity;
    consumer->request_count--;
    uint32_t index =
        prioritized ? prioritized_index(consumer, &head, 0) : consumer->request_count;
    int rc = js_consumer_request_insert(consumer, &head, index);
    ASSERT(rc == 0);
}

void js_consumer_priority_served(struct js_consumer *consumer)
{
    ASSERT(consumer->request_count > 0);
    struct js_pull_request *request = js_consumer_request_at(consumer, 0);
    if (--request->batch <= 0) {
        js_consumer_request_pop(consumer);
    } else if (consumer->request_count > 1) {
        /* nats-server's pop: a request with more to take goes behind the others, so
         * waiting requests share the messages */
        head_requeue(consumer,
                     consumer->config.priority_policy == JS_CONSUMER_PRIORITY_PRIORITIZED);
    }
}

/* ---- choosing the request ---- */

/* Answers the head with `code` `text` and its pending counts, and drops it. */
static void head_refuse(struct js_consumer *consumer, int code, const char *text)
{
    struct js_pull_request *request = js_consumer_request_at(consumer, 0);
    js_consumer_request_status(consumer, request->reply, request->reply_length, code, text,
                               true);
    js_consumer_request_pop(consumer);
}

/* overflow: the head may take a message only once one of its limits is reached (none
 * given: at once). `available`: the messages left counting this one. */
static bool overflow_ready(const struct js_consumer *consumer,
                           const struct js_pull_request *request, uint64_t available)
{
    const struct js_pull_priority *fields = &request->priority;
    if (!fields->present || (fields->min_pending <= 0 && fields->min_ack_pending <= 0)) {
        return true;
    }
    return (fields->min_pending > 0 && (uint64_t)fields->min_pending <= available) ||
           (fields->min_ack_pending > 0 &&
            (uint64_t)fields->min_ack_pending <= consumer->pending_count);
}

struct js_pull_request *js_consumer_priority_pick(struct js_consumer *consumer, int64_t size,
                                                  bool redelivery, int64_t now_ns)
{
    enum js_consumer_priority_policy policy = consumer->config.priority_policy;
    bool pinned = policy == JS_CONSUMER_PRIORITY_PINNED_CLIENT;
    /* decided once per message, as nats-server's nextWaiting does */
    bool pin_needed = pinned && consumer->pin_id[0] == '\0';
    /* nats-server counts the message in hand among those pending (its npc+1): a first
     * delivery is still in num_pending, a redelivery is not */
    uint64_t available = js_consumer_num_pending(consumer) + (redelivery ? 1 : 0);
    uint32_t passed = 0; /* requests passed over for this message: bounded by the queue */
    while (consumer->request_count > 0) {
        struct js_pull_request *request = js_consumer_request_at(consumer, 0);
        if (request->expires_ns != 0 && request->expires_ns <= now_ns) {
            head_refuse(consumer, 408, "Request Timeout");
            continue;
        }
        bool assigned = false;
        bool pass = false;
        if (pin_needed) {
            if (request->priority.pin_id[0] != '\0') {
                head_refuse(consumer, 423, "Nats-Wrong-Pin-Id"); /* an old pin's client */
                continue;
            }
            assigned = pin_assign(consumer, request, now_ns);
        } else if (pinned && consumer->pin_id[0] != '\0' &&
                   strcmp(request->priority.pin_id, consumer->pin_id) != 0) {
            if (request->priority.pin_id[0] != '\0') {
                head_refuse(consumer, 423, "Nats-Wrong-Pin-Id");
                continue;
            }
            pass = true; /* another client's: it waits for the pin to end */
        }
        if (policy == JS_CONSUMER_PRIORITY_OVERFLOW) {
            pass = !overflow_ready(consumer, request, available);
        }
        if (pass) {
            head_requeue(consumer, false);
            if (++passed >= consumer->request_count) {
                return NULL;
            }
            continue;
        }
        if (request->max_bytes > 0 && size > request->max_bytes) {
            if (assigned) {
                js_consumer_pin_clear(consumer); /* nats-server takes it back, silently */
            }
            head_refuse(consumer, 409, "Message Size Exceeds MaxBytes");
            continue;
        }
        if (!route_has_interest(consumer->stream->js->shard, request->reply,
                                request->reply_length)) {
            js_consumer_request_pop(consumer); /* its requester is gone: dropped */
            continue;
        }
        if (request->max_bytes > 0) {
            request->max_bytes -= size;
            if (request->max_bytes == 0) {
                request->batch = 1; /* this one, and no more */
            }
        }
        return request;
    }
    return NULL;
}

/* ---- the pin's timeout and header ---- */

int64_t js_consumer_priority_tick(struct js_consumer *consumer, int64_t now_ns)
{
    if (consumer->pin_deadline_ns == 0) {
        return 0;
    }
    if (consumer->pin_deadline_ns > now_ns) {
        return consumer->pin_deadline_ns;
    }
    char group[JS_PULL_GROUP_SIZE];
    memcpy(group, consumer->pin_group, sizeof group);
    js_consumer_pin_clear(consumer);
    js_consumer_event_unpinned(consumer, group, "timeout");
    js_consumer_wake(consumer); /* the next request may be pinned now */
    return 0;
}

size_t js_consumer_pin_header(const struct js_consumer *consumer, const char *header,
                              size_t header_length, char *out, size_t size)
{
    static const char head[] = "NATS/1.0\r\n";
    /* the message's block without the blank line that ends it, or a new one */
    size_t kept = header_length > 2 ? header_length - 2 : 0;
    const char *from = kept > 0 ? header : head;
    size_t from_length = kept > 0 ? kept : sizeof head - 1;
    size_t pin_length = strlen(consumer->pin_id);
    static const char key[] = "Nats-Pin-Id: ";
    size_t length = from_length + (sizeof key - 1) + pin_length + 4;
    if (length > size) {
        return 0;
    }
    memcpy(out, from, from_length);
    memcpy(out + from_length, key, sizeof key - 1);
    memcpy(out + from_length + sizeof key - 1, consumer->pin_id, pin_length);
    memcpy(out + length - 4, "\r\n\r\n", 4);
    return length;
}

/* ---- info and UNPIN ---- */

void js_consumer_priority_info_json(const struct js_consumer *consumer, struct go_json *json)
{
    if (consumer->config.priority_group_count == 0) {
        return; /* nats-server's omitempty */
    }
    /* nats-server reports the first group only, with the consumer's one pin */
    go_json_key(json, "priority_groups");
    go_json_literal(json, "[{\"group\":");
    go_json_cstring(json, consumer->config.priority_groups[0]);
    if (consumer->pin_id[0] != '\0') {
        go_json_key(json, "pinned_client_id");
        go_json_cstring(json, consumer->pin_id);
    }
    go_json_key(json, "pinned_ts"); /* a time: never omitted */
    js_json_time(json, consumer->pin_ns);
    go_json_literal(json, "}]");
}

static void unpin_refuse(struct js *js, const struct route_msg *msg, const char *type,
                         enum js_error_id id, const char *detail)
{
    struct js_error error;
    if (detail != NULL) {
        js_errors_setf(&error, id, "%s", detail);
    } else {
        js_errors_set(&error, id);
    }
    js_api_reply_error(js, msg, type, &error);
}

/* The request's group into `group` (cut past what can match): 0, or -EINVAL after replying
 * nats-server's error. */
static int unpin_group_read(struct js *js, const struct route_msg *msg, const char *type,
                            const char *body, size_t body_length, char *group, size_t size)
{
    size_t blank = 0;
    while (blank < body_length && strchr(" \t\r\n", body[blank]) != NULL) {
        blank++;
    }
    if (blank == body_length) {
        unpin_refuse(js, msg, type, JS_ERR_INVALID_JSON, "unexpected end of JSON input");
        return -EINVAL;
    }
    json_t *request = js_api_body_parse(js, msg, type, body, body_length);
    if (request == NULL) {
        return -EINVAL;
    }
    const json_t *value = json_object_get(request, "group");
    group[0] = '\0';
    int rc = 0;
    if (json_is_string(value)) {
        snprintf(group, size, "%s", json_string_value(value));
    } else if (value != NULL && !json_is_null(value)) {
        char kind[64];
        char text[160];
        js_consumer_json_kind(value, false, kind, sizeof kind);
        snprintf(text, sizeof text,
                 "json: cannot unmarshal %s into Go struct field "
                 "JSApiConsumerUnpinRequest.group of type string",
                 kind);
        unpin_refuse(js, msg, type, JS_ERR_INVALID_JSON, text);
        rc = -EINVAL;
    }
    json_decref(request);
    if (rc == 0 && group[0] == '\0') {
        unpin_refuse(js, msg, type, JS_ERR_INVALID_JSON, "consumer group not specified");
        rc = -EINVAL;
    }
    if (rc == 0 && !js_consumer_config_group_name_valid(group)) {
        unpin_refuse(js, msg, type, JS_ERR_CONSUMER_INVALID_GROUP_NAME, NULL);
        rc = -EINVAL;
    }
    return rc;
}

void js_consumer_api_unpin(struct js *js, const struct route_msg *msg, const char *name,
                           size_t name_length, const char *body, size_t body_length)
{
    static const char type[] = "consumer_unpin_response";
    char group[JS_PULL_GROUP_SIZE];
    if (unpin_group_read(js, msg, type, body, body_length, group, sizeof group) != 0) {
        return;
    }
    struct js_consumer *consumer = js_consumer_api_named(js, msg, type, name, name_length);
    if (consumer == NULL) {
        return;
    }
    if (!group_configured(&consumer->config, group)) {
        unpin_refuse(js, msg, type, JS_ERR_CONSUMER_INVALID_PRIORITY_GROUP, NULL);
        return;
    }
    /* as nats-server: whether or not a client was pinned, and whatever the policy */
    js_consumer_pin_clear(consumer);
    js_consumer_event_unpinned(consumer, group, "admin");
    js_consumer_wake(consumer);
    struct go_json json;
    js_api_reply_begin(&json, type);
    js_api_reply_end(js, msg, &json);
}
