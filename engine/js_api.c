/* The $JS.API subjects: their subscriptions on the meta shard and the dispatch of each
 * request (answered there from the registry, or passed to the stream's owner), the reply
 * writers every JetStream file uses (nats-server's reply types, error objects and
 * advisories), and the owner-side STREAM.INFO.
 *
 * The one idea: each API subject nats-server answers is one server-side subscription here
 * (so a subject nats-server does not answer still gets a 503 no-responders), and each reply
 * is one JSON text written with go_json, Go's encoding rules included. Request
 * bodies other than stream configs are read with jansson; their invalid-JSON texts are
 * jansson's, not Go's (the err_code is the same). The subscriptions and dispatch run on the
 * meta shard's thread; the reply writers and STREAM.INFO on the owner's. */
#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/js_consumer.h"
#include "engine/js.h"
#include "engine/js_internal.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "proto/js_pub.h"
#include "store/stream_store.h"

#include <errno.h>
#include <stdatomic.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define API_PREFIX "$JS.API."
#define TYPE_PREFIX "io.nats.jetstream.api.v1."

/* A request the meta shard answers itself; `name` is the subject's last token. */
typedef void meta_fn(struct js *js, const struct route_msg *msg, const char *name,
                     size_t name_length, const char *body, size_t body_length);

struct api_op {
    const char *subject; /* after $JS.API. */
    const char *type;    /* the reply's type, after io.nats.jetstream.api.v1. */
    meta_fn *meta;       /* answered on the meta shard, or */
    js_request_fn *owner; /* passed to the owner of the stream the subject names */
    bool named;          /* the last token is a stream name */
    uint8_t stream_token; /* consumer requests: the index of the stream's token (0: none) */
};

struct js_api_context {
    struct js *js;
    const struct api_op *op;
};

/* ---- replies ---- */

static void reply_begin(struct go_json *json, const struct api_op *op)
{
    go_json_init(json, JS_API_REPLY_MAX);
    go_json_literal(json, "{\"type\":\"" TYPE_PREFIX);
    go_json_literal(json, op->type);
    go_json_literal(json, "\"");
}

static void reply_end(struct js *js, const struct route_msg *msg, struct go_json *json)
{
    go_json_literal(json, "}");
    if (!json->failed) {
        js_reply(js, msg->reply.data, msg->reply.length, json->data, json->length);
    } else {
        LOG_WARN("JetStream: a reply on %.*s did not fit (%zu bytes at most)",
                 (int)msg->subject.length, msg->subject.data, json->length_max);
    }
    go_json_free(json);
}

static void reply_error(struct js *js, const struct route_msg *msg, const struct api_op *op,
                        const struct js_error *error)
{
    /* on whichever shard answered: the owners answer errors too */
    atomic_fetch_add_explicit(&js->server->api_errors, 1, memory_order_relaxed);
    struct go_json json;
    reply_begin(&json, op);
    js_errors_json_error(&json, error);
    if (strcmp(op->type, "stream_purge_response") == 0) {
        go_json_literal(&json, ",\"purged\":0"); /* not omitted by nats-server */
    } else if (strcmp(op->type, "consumer_pause_response") == 0) {
        go_json_literal(&json, ",\"paused\":false,\"pause_until\":\"0001-01-01T00:00:00Z\"");
    } else if (strcmp(op->type, "stream_info_response") == 0) {
        go_json_literal(&json, ",\"total\":0,\"offset\":0,\"limit\":0");
    }
    reply_end(js, msg, &json);
}

static void reply_error_id(struct js *js, const struct route_msg *msg, const struct api_op *op,
                           enum js_error_id id)
{
    struct js_error error;
    js_errors_set(&error, id);
    reply_error(js, msg, op, &error);
}

/* ---- advisories ---- */

void js_api_event_begin(struct go_json *json, const char *type)
{
    uint64_t random[2] = {0, 0};
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        random[0] ^= (uint64_t)clock_monotonic_ns(); /* an id only needs to differ */
    }
    char id[40];
    snprintf(id, sizeof id, "%016llx%016llx", (unsigned long long)random[0],
             (unsigned long long)random[1]);
    go_json_literal(json, "{\"type\":");
    go_json_cstring(json, type);
    go_json_key(json, "id");
    go_json_cstring(json, id);
    go_json_key(json, "timestamp");
    js_json_time(json, js_now_ns());
}

void js_api_advisory(struct js *js, const char *action, const char *name)
{
    char subject[64 + JS_STREAM_CONFIG_NAME_LENGTH_MAX];
    snprintf(subject, sizeof subject, "$JS.EVENT.ADVISORY.STREAM.%s.%s",
             strcmp(action, "create") == 0   ? "CREATED"
             : strcmp(action, "delete") == 0 ? "DELETED"
                                             : "UPDATED",
             name);
    struct go_json json;
    go_json_init(&json, 4096);
    js_api_event_begin(&json, "io.nats.jetstream.advisory.v1.stream_action");
    go_json_key(&json, "stream");
    go_json_cstring(&json, name);
    go_json_key(&json, "action");
    go_json_cstring(&json, action);
    go_json_literal(&json, "}");
    if (!json.failed) {
        js_reply(js, subject, strlen(subject), json.data, json.length);
    }
    go_json_free(&json);
}

/* ---- request bodies ---- */

/* Parses a JSON object body; an empty body is an empty object. NULL after replying. */
static json_t *body_parse(struct js *js, const struct route_msg *msg, const struct api_op *op,
                          const char *body, size_t length)
{
    if (length == 0) {
        return json_object();
    }
    json_error_t json_error;
    json_t *root = json_loadb(body, length, JSON_REJECT_DUPLICATES, &json_error);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        struct js_error error;
        js_errors_setf(&error, JS_ERR_INVALID_JSON, "%s",
                       root == NULL ? json_error.text : "not an object");
        reply_error(js, msg, op, &error);
        return NULL;
    }
    return root;
}

bool js_api_request_empty(const char *body, size_t length)
{
    if (length == 0) {
        return true;
    }
    json_t *root = json_loadb(body, length, 0, NULL);
    bool empty = json_is_object(root) && json_object_size(root) == 0;
    json_decref(root);
    return empty;
}

const char *js_api_json_text(const struct json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    return json_is_string(value) && json_string_length(value) > 0 ? json_string_value(value)
                                                                  : NULL;
}

uint64_t js_api_json_u64(const struct json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    return json_is_integer(value) && json_integer_value(value) > 0
               ? (uint64_t)json_integer_value(value)
               : 0;
}

/* ---- owner side ---- */

void js_api_reply_stream(struct js *js, const struct route_msg *msg, const char *type,
                         struct js_stream *stream, bool did_create)
{
    const struct api_op op = {.type = type};
    struct go_json json;
    reply_begin(&json, &op);
    js_stream_info_json(stream, &json, false, NULL, 0);
    if (did_create) {
        go_json_literal(&json, ",\"did_create\":true");
    }
    reply_end(js, msg, &json);
}

struct js_stream *js_api_stream_or_reply(struct js *js, const struct route_msg *msg,
                                         const char *type, const char *name,
                                         size_t name_length)
{
    struct js_stream *stream = js_stream_find(js, name, name_length);
    if (stream == NULL) {
        struct js_error error;
        js_errors_set(&error, JS_ERR_STREAM_NOT_FOUND);
        js_api_reply_error(js, msg, type, &error);
    }
    return stream;
}

/* STREAM.INFO: with subjects_filter, the matching subjects' counts, a page of
 * JS_SUBJECTS_PAGE at `offset` ("total" counts them all, as nats-server pages them). */
static void stream_info_reply(struct js *js, const struct route_msg *msg,
                              const struct api_op *op, struct js_stream *stream,
                              const json_t *request)
{
    const char *filter = js_api_json_text(request, "subjects_filter");
    uint64_t offset = js_api_json_u64(request, "offset");
    struct js_subject_count *subjects = NULL;
    size_t total = 0;
    if (filter != NULL) {
        int rc = js_stream_subjects_collect(stream, filter, &subjects, &total);
        if (rc == -E2BIG) {
            reply_error_id(js, msg, op, JS_ERR_STREAM_INFO_MAX_SUBJECTS);
            return;
        }
        if (rc != 0) {
            struct js_error error;
            js_errors_setf(&error, JS_ERR_STREAM_GENERAL_ERROR, "%s", strerror(-rc));
            reply_error(js, msg, op, &error);
            return;
        }
    }
    size_t first = offset < total ? (size_t)offset : total;
    size_t page = total - first < JS_SUBJECTS_PAGE ? total - first : JS_SUBJECTS_PAGE;
    struct go_json json;
    reply_begin(&json, op);
    go_json_key(&json, "total");
    go_json_uint(&json, filter != NULL ? total : 0);
    go_json_key(&json, "offset");
    go_json_uint(&json, filter != NULL ? first : 0);
    go_json_key(&json, "limit");
    go_json_uint(&json, filter != NULL ? JS_SUBJECTS_PAGE : 0);
    js_stream_info_json(stream, &json, json_is_true(json_object_get(request, "deleted_details")),
                        subjects != NULL ? subjects + first : NULL, page);
    reply_end(js, msg, &json);
    js_subject_counts_free(subjects, total);
}

void js_api_stream_info(struct js *js, const struct route_msg *msg, const char *name,
                        size_t name_length, const char *body, size_t body_length)
{
    static const struct api_op op = {.type = "stream_info_response"};
    json_t *request = body_parse(js, msg, &op, body, body_length);
    if (request == NULL) {
        return;
    }
    struct js_stream *stream = js_api_stream_or_reply(js, msg, op.type, name, name_length);
    if (stream != NULL) {
        stream_info_reply(js, msg, &op, stream, request);
    }
    json_decref(request);
}

void js_api_create_existing(struct js *js, const struct route_msg *msg, const char *name,
                            size_t name_length, const char *body, size_t body_length)
{
    static const struct api_op op = {.type = "stream_create_response"};
    struct js_stream *stream = js_api_stream_or_reply(js, msg, op.type, name, name_length);
    if (stream != NULL) {
        /* nats-server 2.15 says did_create here too (2.10 did not) */
        js_api_reply_stream(js, msg, op.type, stream, true);
    }
}

/* ---- answered on the meta shard ---- */

static void meta_info(struct js *js, const struct route_msg *msg, const char *name,
                      size_t name_length, const char *body, size_t body_length)
{
    js_meta_account_info(js, msg, body, body_length);
    /* counted once answered, as nats-server counts every request: its reply does not
     * include itself, the next one's and /jsz's do */
    js->api_total++;
}

static void meta_delete(struct js *js, const struct route_msg *msg, const char *name,
                        size_t name_length, const char *body, size_t body_length)
{
    js_meta_delete(js, msg, name, name_length);
}

static void meta_names(struct js *js, const struct route_msg *msg, const char *name,
                       size_t name_length, const char *body, size_t body_length)
{
    js_meta_names_or_list(js, msg, body, body_length, false);
}

static void meta_list(struct js *js, const struct route_msg *msg, const char *name,
                      size_t name_length, const char *body, size_t body_length)
{
    js_meta_names_or_list(js, msg, body, body_length, true);
}

/* ---- dispatch ---- */

static const struct api_op api_ops[] = {
    {"INFO", "account_info_response", meta_info, NULL, false, 0},
    {"STREAM.CREATE.*", "stream_create_response", js_meta_create, NULL, true, 0},
    {"STREAM.UPDATE.*", "stream_update_response", js_meta_update, NULL, true, 0},
    {"STREAM.INFO.*", "stream_info_response", NULL, js_api_stream_info, true, 0},
    {"STREAM.DELETE.*", "stream_delete_response", meta_delete, NULL, true, 0},
    {"STREAM.NAMES", "stream_names_response", meta_names, NULL, false, 0},
    {"STREAM.LIST", "stream_list_response", meta_list, NULL, false, 0},
    {"STREAM.PURGE.*", "stream_purge_response", NULL, js_api_purge, true, 0},
    {"STREAM.MSG.GET.*", "stream_msg_get_response", NULL, js_api_msg_get, true, 0},
    {"STREAM.MSG.DELETE.*", "stream_msg_delete_response", NULL, js_api_msg_delete, true, 0},
    {"CONSUMER.CREATE.*", "consumer_create_response", NULL, js_consumer_api_create, false, 4},
    {"CONSUMER.CREATE.*.*", "consumer_create_response", NULL, js_consumer_api_create, false, 4},
    {"CONSUMER.CREATE.*.*.>", "consumer_create_response", NULL, js_consumer_api_create, false,
     4},
    {"CONSUMER.DURABLE.CREATE.*.*", "consumer_create_response", NULL, js_consumer_api_create,
     false, 5},
    {"CONSUMER.INFO.*.*", "consumer_info_response", NULL, js_consumer_api_info, false, 4},
    {"CONSUMER.DELETE.*.*", "consumer_delete_response", NULL, js_consumer_api_delete, false, 4},
    {"CONSUMER.PAUSE.*.*", "consumer_pause_response", NULL, js_consumer_api_pause, false, 4},
    {"CONSUMER.UNPIN.*.*", "consumer_unpin_response", NULL, js_consumer_api_unpin, false, 4},
    {"CONSUMER.NAMES.*", "consumer_names_response", NULL, js_consumer_api_names, false, 4},
    {"CONSUMER.LIST.*", "consumer_list_response", NULL, js_consumer_api_list, false, 4},
};
enum { API_OP_COUNT = sizeof api_ops / sizeof api_ops[0] };

/* False when the request's Nats-Required-Api-Level asks for more than this server does
 * (nats-server's errorOnRequiredApiLevel: a value that is not a decimal integer fails
 * too). A mirror or source on a newer server asks for level 4 first and retries without. */
bool js_api_level_met(const char *block, size_t length)
{
    struct js_pub_text value = js_pub_header_value(block, length, "Nats-Required-Api-Level");
    if (value.bytes == NULL || value.length == 0) {
        return true;
    }
    size_t at = value.bytes[0] == '+' || value.bytes[0] == '-' ? 1 : 0;
    bool negative = value.bytes[0] == '-';
    if (at == value.length || value.length - at > 18) {
        return false; /* empty, or past what Go's Atoi takes on a 64-bit int */
    }
    int64_t level = 0;
    for (; at < value.length; at++) {
        char c = value.bytes[at];
        if (c < '0' || c > '9') {
            return false;
        }
        level = level * 10 + (c - '0');
    }
    return negative || level <= JS_API_LEVEL;
}

static void api_handle(struct shard *shard, void *context, const struct route_msg *msg)
{
    const struct js_api_context *api = context;
    struct js *js = api->js;
    if (api->op->meta != meta_info) {
        js->api_total++;
    }
    const char *name = NULL;
    size_t name_length = 0;
    if (api->op->named) {
        const char *dot = memrchr(msg->subject.data, '.', msg->subject.length);
        ASSERT(dot != NULL); /* the subscription's subject ends in .* */
        name = dot + 1;
        name_length = msg->subject.length - (size_t)(name - msg->subject.data);
    }
    const char *body = msg->payload.data + msg->header_length;
    size_t body_length = msg->payload.length - msg->header_length;
    if (body_length > JS_API_REQUEST_MAX) {
        reply_error_id(js, msg, api->op, JS_ERR_BAD_REQUEST);
        return;
    }
    if (msg->header_length > 0 && !js_api_level_met(msg->payload.data, msg->header_length)) {
        reply_error_id(js, msg, api->op, JS_ERR_REQUIRED_API_LEVEL);
        return;
    }
    if (js_messages_full(js)) {
        /* the shards that own streams are that far behind: no more requests held for them */
        reply_error_id(js, msg, api->op, JS_ERR_INSUFFICIENT_RESOURCES);
        return;
    }
    if (api->op->stream_token > 0) {
        /* the stream's token, and the subject after $JS.API. for the owner to read */
        const char *at = msg->subject.data;
        const char *end = at + msg->subject.length;
        for (int i = 0; i < api->op->stream_token; i++) {
            at = memchr(at, '.', (size_t)(end - at));
            ASSERT(at != NULL); /* the subscription's subject has these tokens */
            at++;
        }
        const char *dot = memchr(at, '.', (size_t)(end - at));
        const char *carried = msg->subject.data + strlen(API_PREFIX);
        js_meta_forward_subject(js, msg, api->op->type, api->op->owner, at,
                                (size_t)((dot != NULL ? dot : end) - at), carried,
                                (size_t)(end - carried), body, body_length);
    } else if (api->op->meta != NULL) {
        api->op->meta(js, msg, name, name_length, body, body_length);
    } else {
        js_meta_forward(js, msg, api->op->type, api->op->owner, name, name_length, body,
                        body_length);
    }
}

/* $JS.<domain>.API.<request>: the same request on $JS.API.<request>, its reply and headers
 * kept, so a client that names this server's domain (from across a leafnode link) reaches
 * its JetStream. */
static void domain_forward(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct js *js = context;
    size_t prefix = sizeof "$JS.." - 1 + strlen(js->shard->server->config->js_domain);
    if (msg->subject.length <= prefix + sizeof "API." - 1) {
        return;
    }
    size_t rest = msg->subject.length - prefix; /* "API.<request>" */
    char *subject = malloc(sizeof "$JS." - 1 + rest);
    if (subject == NULL) {
        return; /* the requester times out, as with a request lost on the way */
    }
    memcpy(subject, "$JS.", sizeof "$JS." - 1);
    memcpy(subject + sizeof "$JS." - 1, msg->subject.data + prefix, rest);
    struct route_msg copy = *msg;
    copy.subject = (struct proto_slice){.data = subject,
                                        .length = (uint32_t)(sizeof "$JS." - 1 + rest)};
    copy.shown = (struct proto_slice){0};
    service_publish(shard, &copy);
    free(subject);
}

int js_api_subscribe(struct js *js)
{
    struct js_api_context *contexts = calloc(API_OP_COUNT, sizeof *contexts);
    js->api_subs = calloc(API_OP_COUNT, sizeof *js->api_subs);
    js->api_contexts = contexts;
    if (contexts == NULL || js->api_subs == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < API_OP_COUNT; i++) {
        char subject[64];
        snprintf(subject, sizeof subject, API_PREFIX "%s", api_ops[i].subject);
        contexts[i] = (struct js_api_context){.js = js, .op = &api_ops[i]};
        int error = 0;
        js->api_subs[i] = service_subscribe(js->shard, subject, NULL, api_handle, &contexts[i],
                                            &error);
        if (js->api_subs[i] == NULL) {
            return error;
        }
        js->api_sub_count = i + 1;
    }
    const char *domain = js->shard->server->config->js_domain;
    if (domain != NULL) {
        char subject[128];
        snprintf(subject, sizeof subject, "$JS.%s.API.>", domain);
        int error = 0;
        js->domain_sub = service_subscribe(js->shard, subject, NULL, domain_forward, js, &error);
        if (js->domain_sub == NULL) {
            return error;
        }
    }
    return 0;
}

void js_api_reply_error(struct js *js, const struct route_msg *msg, const char *type,
                        const struct js_error *error)
{
    const struct api_op op = {.type = type};
    reply_error(js, msg, &op, error);
}

void js_api_reply_begin(struct go_json *json, const char *type)
{
    const struct api_op op = {.type = type};
    reply_begin(json, &op);
}

void js_api_reply_end(struct js *js, const struct route_msg *msg, struct go_json *json)
{
    reply_end(js, msg, json);
}

json_t *js_api_body_parse(struct js *js, const struct route_msg *msg, const char *type,
                          const char *body, size_t length)
{
    const struct api_op op = {.type = type};
    return body_parse(js, msg, &op, body, length);
}
