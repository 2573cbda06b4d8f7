/* Pull requests ($JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>): reading one (a batch
 * number, or JSON with batch, expires, max_bytes, no_wait, idle_heartbeat), the checks and
 * statuses nats-server answers with (400 Bad Request, 404 No Messages, 408 Request Timeout
 * and Requests Pending, 409 Exceeded MaxWaiting / MaxRequestBatch / MaxRequestExpires /
 * MaxRequestMaxBytes / Consumer is push based / Consumer Deleted), the queue of waiting
 * requests bounded by max_waiting, their expiry and heartbeats. Their priority-group fields
 * are read here and judged in js_consumer_priority.c.
 *
 * The one idea: a request is only queued here; js_consumer_deliver serves the queue at the
 * end of the turn (js_consumer_priority_pick choosing the request each message goes to), so
 * a request and the messages it gets travel in order behind everything the client sent
 * before it. Owner shard's thread only. */
#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/js_consumer.h"
#include "engine/service.h"
#include "engine/shard.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- statuses ---- */

void js_consumer_request_status(struct js_consumer *consumer, const char *reply,
                                size_t reply_length, int code, const char *text,
                                bool pending_headers)
{
    char header[512];
    int length = 0;
    if (pending_headers) {
        const struct js_pull_request *request =
            consumer->request_count > 0 ? &consumer->requests[consumer->request_head] : NULL;
        length = snprintf(header, sizeof header,
                          "NATS/1.0 %d %s\r\nNats-Pending-Messages: %lld\r\n"
                          "Nats-Pending-Bytes: %lld\r\n\r\n",
                          code, text, request != NULL ? (long long)request->batch : 0LL,
                          request != NULL ? (long long)request->max_bytes : 0LL);
    } else {
        length = snprintf(header, sizeof header, "NATS/1.0 %d %s\r\n\r\n", code, text);
    }
    if (length <= 0 || (size_t)length >= sizeof header || reply_length == 0) {
        return;
    }
    const struct route_msg msg = {
        .subject = {.data = reply, .length = (uint32_t)reply_length},
        .payload = {.data = header, .length = (uint32_t)length},
        .header_length = (uint32_t)length,
    };
    service_publish(consumer->stream->js->shard, &msg);
}

/* A status for a request that is not (or not yet) queued. */
static void status_to(struct js_consumer *consumer, const struct route_msg *msg, int code,
                      const char *text)
{
    js_consumer_request_status(consumer, msg->reply.data, msg->reply.length, code, text, false);
}

static void heartbeat_send(struct js_consumer *consumer, const struct js_pull_request *request)
{
    char header[160];
    int length = snprintf(header, sizeof header,
                          "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: %llu\r\n"
                          "Nats-Last-Stream: %llu\r\n\r\n",
                          (unsigned long long)consumer->dseq,
                          (unsigned long long)consumer->delivered_sseq);
    const struct route_msg msg = {
        .subject = {.data = request->reply, .length = request->reply_length},
        .payload = {.data = header, .length = (uint32_t)length},
        .header_length = (uint32_t)length,
    };
    service_publish(consumer->stream->js->shard, &msg);
}

/* ---- the queue ---- */

void js_consumer_request_pop(struct js_consumer *consumer)
{
    if (consumer->request_count == 0) {
        return;
    }
    struct js_pull_request *request = &consumer->requests[consumer->request_head];
    free(request->reply);
    *request = (struct js_pull_request){0};
    consumer->request_head = (consumer->request_head + 1) % consumer->request_capacity;
    consumer->request_count--;
    if (consumer->request_count == 0) {
        consumer->last_active_ns = clock_monotonic_ns();
    }
}

void js_consumer_requests_caught_up(struct js_consumer *consumer)
{
    while (consumer->request_count > 0) {
        struct js_pull_request *request = &consumer->requests[consumer->request_head];
        if (!request->no_wait || (request->expires_ns != 0 && request->sent == 0)) {
            break;
        }
        js_consumer_request_status(consumer, request->reply, request->reply_length, 404,
                                   "No Messages", false);
        js_consumer_request_pop(consumer);
    }
}

void js_consumer_requests_end(struct js_consumer *consumer, const char *text)
{
    while (consumer->request_count > 0) {
        struct js_pull_request *request = &consumer->requests[consumer->request_head];
        js_consumer_request_status(consumer, request->reply, request->reply_length, 409, text,
                                   false);
        js_consumer_request_pop(consumer);
    }
}

int js_consumer_request_insert(struct js_consumer *consumer, const struct js_pull_request *request,
                               uint32_t index)
{
    ASSERT(index <= consumer->request_count);
    if (consumer->request_count == consumer->request_capacity) {
        uint32_t capacity = consumer->request_capacity != 0 ? consumer->request_capacity * 2 : 4;
        struct js_pull_request *grown = malloc((size_t)capacity * sizeof *grown);
        if (grown == NULL) {
            return -ENOMEM;
        }
        for (uint32_t i = 0; i < consumer->request_count; i++) {
            grown[i] = consumer->requests[(consumer->request_head + i) %
                                          consumer->request_capacity];
        }
        free(consumer->requests);
        consumer->requests = grown;
        consumer->request_capacity = capacity;
        consumer->request_head = 0;
    }
    for (uint32_t i = consumer->request_count; i > index; i--) {
        *js_consumer_request_at(consumer, i) = *js_consumer_request_at(consumer, i - 1);
    }
    *js_consumer_request_at(consumer, index) = *request;
    consumer->request_count++;
    return 0;
}

static int request_push(struct js_consumer *consumer, const struct js_pull_request *request)
{
    return js_consumer_request_insert(consumer, request, consumer->request_count);
}

int64_t js_consumer_requests_tick(struct js_consumer *consumer, int64_t now_ns)
{
    int64_t next = 0;
    /* expired ones leave from anywhere in the queue: rebuild it in order without them */
    uint32_t count = consumer->request_count;
    for (uint32_t i = 0; i < count; i++) {
        struct js_pull_request request = consumer->requests[consumer->request_head];
        consumer->request_head = (consumer->request_head + 1) % consumer->request_capacity;
        consumer->request_count--;
        if (request.expires_ns != 0 && request.expires_ns <= now_ns) {
            char header[256];
            int length = snprintf(header, sizeof header,
                                  "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: %lld"
                                  "\r\nNats-Pending-Bytes: %lld\r\n\r\n",
                                  (long long)request.batch, (long long)request.max_bytes);
            const struct route_msg msg = {
                .subject = {.data = request.reply, .length = request.reply_length},
                .payload = {.data = header, .length = (uint32_t)length},
                .header_length = (uint32_t)length,
            };
            service_publish(consumer->stream->js->shard, &msg);
            free(request.reply);
            continue;
        }
        if (request.heartbeat_ns > 0 && request.heartbeat_at <= now_ns) {
            heartbeat_send(consumer, &request);
            request.heartbeat_at = now_ns + request.heartbeat_ns;
        }
        int64_t due[2] = {request.expires_ns, request.heartbeat_ns > 0 ? request.heartbeat_at : 0};
        for (int k = 0; k < 2; k++) {
            if (due[k] != 0 && (next == 0 || due[k] < next)) {
                next = due[k];
            }
        }
        (void)request_push(consumer, &request); /* room: it was just there */
    }
    if (consumer->request_count == 0 && count > 0) {
        consumer->last_active_ns = now_ns;
    }
    return next;
}

/* ---- reading a request ---- */

/* The longest expiry a request keeps (longer ones are this: time arithmetic stays far from
 * overflow). */
#define JS_PULL_EXPIRES_MAX_NS (INT64_C(100) * 365 * 24 * 3600 * 1000000000)

struct next_request {
    int64_t batch;
    int64_t max_bytes;
    int64_t expires_ns;   /* a duration */
    int64_t heartbeat_ns;
    struct js_pull_priority priority;
    bool no_wait;
};

void js_consumer_json_kind(const json_t *value, bool numeric, char *text, size_t size)
{
    if (json_is_string(value)) {
        snprintf(text, size, "string");
    } else if (json_is_number(value)) {
        /* Go names the number only when a numeric field could not take it (1.5 for an
         * int); an integer reaches here only for a field that is not numeric */
        if (numeric && json_is_real(value)) {
            snprintf(text, size, "number %g", json_real_value(value));
        } else {
            snprintf(text, size, "number");
        }
    } else if (json_is_boolean(value)) {
        snprintf(text, size, "bool");
    } else if (json_is_array(value)) {
        snprintf(text, size, "array");
    } else {
        snprintf(text, size, "object");
    }
}

/* A request field as Go decodes it into JSApiConsumerGetNextRequest: absent or null leave
 * 0; another kind than `go_type` wants is refused with Go's text. */
static int json_field(const json_t *object, const char *key, const char *go_type,
                      int64_t *out, char *why, size_t why_size)
{
    const json_t *value = json_object_get(object, key);
    if (value == NULL || json_is_null(value)) {
        return 0;
    }
    bool want_bool = strcmp(go_type, "bool") == 0;
    ASSERT(strcmp(go_type, "string") != 0); /* json_text's */
    if (want_bool ? json_is_boolean(value) : json_is_integer(value)) {
        *out = want_bool ? json_is_true(value) : (int64_t)json_integer_value(value);
        return 0;
    }
    char kind[64];
    js_consumer_json_kind(value, !want_bool, kind, sizeof kind);
    snprintf(why, why_size,
             "json: cannot unmarshal %s into Go struct field .%s of type %s", /* 2.15.1 */
             kind, key, go_type);
    return -EINVAL;
}

/* A string field into `out` (`size` bytes), cut to size - 1 characters (the sizes are
 * chosen so a cut one never matches); absent or null leave "". */
static int json_text(const json_t *object, const char *key, char *out, size_t size, char *why,
                     size_t why_size)
{
    const json_t *value = json_object_get(object, key);
    out[0] = '\0';
    if (value == NULL || json_is_null(value)) {
        return 0;
    }
    if (json_is_string(value)) {
        size_t length = json_string_length(value);
        length = length < size - 1 ? length : size - 1;
        memcpy(out, json_string_value(value), length);
        out[length] = '\0';
        return 0;
    }
    char kind[64];
    js_consumer_json_kind(value, false, kind, sizeof kind);
    snprintf(why, why_size, "json: cannot unmarshal %s into Go struct field .%s of type string",
             kind, key);
    return -EINVAL;
}

/* The priority-group fields of a JSON request (nats-server's embedded PriorityGroup),
 * read in its field order. */
static int priority_read(const json_t *root, struct js_pull_priority *out, char *why,
                         size_t why_size)
{
    out->present = true;
    int rc = json_text(root, "group", out->group, sizeof out->group, why, why_size);
    if (rc == 0) {
        rc = json_field(root, "min_pending", "int64", &out->min_pending, why, why_size);
    }
    if (rc == 0) {
        rc = json_field(root, "min_ack_pending", "int64", &out->min_ack_pending, why, why_size);
    }
    if (rc == 0) {
        rc = json_text(root, "id", out->pin_id, sizeof out->pin_id, why, why_size);
    }
    if (rc == 0) {
        rc = json_field(root, "priority", "int", &out->priority, why, why_size);
    }
    return rc;
}

/* nats-server's nextReqFromMsg: 0, or -EINVAL with the reason in `why`. */
static int request_read(const char *body, size_t length, struct next_request *out, char *why,
                        size_t why_size)
{
    *out = (struct next_request){.batch = 1};
    while (length > 0 && isspace((unsigned char)body[0])) {
        body++;
        length--;
    }
    while (length > 0 && isspace((unsigned char)body[length - 1])) {
        length--;
    }
    if (length == 0) {
        return 0;
    }
    if (body[0] != '{') {
        char text[32];
        if (length < sizeof text) {
            memcpy(text, body, length);
            text[length] = '\0';
            char *end = NULL;
            long long n = strtoll(text, &end, 10);
            if (end != NULL && *end == '\0') {
                out->batch = n;
            }
        }
        return 0;
    }
    json_error_t error;
    json_t *root = json_loadb(body, length, 0, &error);
    if (root == NULL || !json_is_object(root)) {
        snprintf(why, why_size, "%s", root == NULL ? error.text : "not an object");
        json_decref(root);
        return -EINVAL;
    }
    int64_t no_wait = 0;
    int rc = json_field(root, "expires", "time.Duration", &out->expires_ns, why, why_size);
    if (rc == 0) {
        rc = json_field(root, "batch", "int", &out->batch, why, why_size);
    }
    if (rc == 0) {
        rc = json_field(root, "max_bytes", "int", &out->max_bytes, why, why_size);
    }
    if (rc == 0) {
        rc = json_field(root, "no_wait", "bool", &no_wait, why, why_size);
    }
    if (rc == 0) {
        rc = json_field(root, "idle_heartbeat", "time.Duration", &out->heartbeat_ns, why,
                        why_size);
    }
    if (rc == 0) {
        rc = priority_read(root, &out->priority, why, why_size);
    }
    json_decref(root);
    if (rc != 0) {
        return rc;
    }
    out->no_wait = no_wait != 0;
    if (out->expires_ns > JS_PULL_EXPIRES_MAX_NS) {
        out->expires_ns = JS_PULL_EXPIRES_MAX_NS; /* a century: never, without overflow */
    }
    if (out->heartbeat_ns > 0 && out->heartbeat_ns > out->expires_ns / 2) {
        snprintf(why, why_size, "heartbeat value too large");
        return -EINVAL;
    }
    return 0;
}

/* The request limits of the consumer's config: a 409 text, or NULL. */
static const char *limits_check(const struct js_consumer *consumer,
                                const struct next_request *next, char *text, size_t size)
{
    const struct js_consumer_config *config = &consumer->config;
    if (config->max_batch > 0 && next->batch > config->max_batch) {
        snprintf(text, size, "Exceeded MaxRequestBatch of %lld", (long long)config->max_batch);
        return text;
    }
    if (next->expires_ns > 0 && config->max_expires_ns > 0 &&
        next->expires_ns > config->max_expires_ns) {
        char duration[64];
        js_stream_duration_format(config->max_expires_ns, duration, sizeof duration);
        snprintf(text, size, "Exceeded MaxRequestExpires of %s", duration);
        return text;
    }
    if (next->max_bytes > 0 && config->max_bytes > 0 && next->max_bytes > config->max_bytes) {
        snprintf(text, size, "Exceeded MaxRequestMaxBytes of %lld", (long long)config->max_bytes);
        return text;
    }
    return NULL;
}

void js_consumer_next_handle(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct js_consumer *consumer = context;
    if (msg->reply.length == 0 || consumer->deleted) {
        return;
    }
    if (consumer->config.deliver_subject != NULL) {
        status_to(consumer, msg, 409, "Consumer is push based");
        return;
    }
    struct next_request next;
    char why[256];
    if (request_read(msg->payload.data + msg->header_length,
                     msg->payload.length - msg->header_length, &next, why, sizeof why) != 0) {
        char text[300];
        snprintf(text, sizeof text, "Bad Request - %s", why);
        status_to(consumer, msg, 400, text);
        return;
    }
    char text[128];
    const char *refused = limits_check(consumer, &next, text, sizeof text);
    if (refused != NULL) {
        status_to(consumer, msg, 409, refused);
        return;
    }
    int code = 0;
    const char *priority_refused = NULL;
    if (js_consumer_priority_admit(consumer, &next.priority, &code, &priority_refused) != 0) {
        status_to(consumer, msg, code, priority_refused);
        return;
    }
    int64_t now = clock_monotonic_ns();
    consumer->last_active_ns = now;
    if (next.no_wait) {
        uint64_t available = js_consumer_num_pending(consumer) + consumer->redeliver_count;
        if (available == 0 && next.expires_ns == 0) {
            status_to(consumer, msg, 404, "No Messages");
            return;
        }
    }
    int64_t max_waiting = consumer->config.max_waiting > 0 ? consumer->config.max_waiting
                                                           : JS_CONSUMER_MAX_WAITING_DEFAULT;
    if (max_waiting > JS_CONSUMER_WAITING_MAX) {
        max_waiting = JS_CONSUMER_WAITING_MAX; /* whatever the config says: bounded memory */
    }
    if ((int64_t)consumer->request_count >= max_waiting) {
        (void)js_consumer_requests_tick(consumer, now); /* expired ones make room */
    }
    if ((int64_t)consumer->request_count >= max_waiting) {
        if (next.heartbeat_ns == 0) {
            status_to(consumer, msg, 409, "Exceeded MaxWaiting");
        }
        return;
    }
    struct js_pull_request request = {
        .reply = strndup(msg->reply.data, msg->reply.length),
        .reply_length = msg->reply.length,
        .batch = next.batch > 0 ? next.batch : 1,
        .max_bytes = next.max_bytes > 0 ? next.max_bytes : 0,
        .expires_ns = next.expires_ns > 0 ? now + next.expires_ns : 0,
        .heartbeat_ns = next.heartbeat_ns,
        .heartbeat_at = next.heartbeat_ns > 0 ? now + next.heartbeat_ns : 0,
        .priority = next.priority,
        .no_wait = next.no_wait,
    };
    if (request.reply == NULL || js_consumer_priority_enqueue(consumer, &request) != 0) {
        free(request.reply);
        LOG_WARN("JetStream: consumer %s: no memory for a pull request", consumer->name);
        return;
    }
    if (request.expires_ns != 0) {
        js_consumer_timer_at(consumer, request.expires_ns);
    }
    if (request.heartbeat_at != 0) {
        js_consumer_timer_at(consumer, request.heartbeat_at);
    }
    js_consumer_wake(consumer);
}
