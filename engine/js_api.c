/* The $JS.API requests about the account and its streams: INFO, STREAM.CREATE / UPDATE /
 * INFO / DELETE / NAMES / LIST / PURGE / MSG.GET / MSG.DELETE, with nats-server's reply
 * types, field names and errors; stream advisories on $JS.EVENT.ADVISORY.STREAM.*.
 *
 * The one idea: each API subject nats-server answers is a server-side subscription here
 * (so a subject nats-server does not answer still gets a 503 no-responders), and each
 * handler is parse → check in nats-server's order → act → one JSON reply written with
 * js_errors_json, Go's encoding rules included. Request bodies other than stream configs
 * are read with jansson; their invalid-JSON texts are jansson's, not Go's (the err_code is
 * the same). Meta shard's thread only. */
#include "base/assert.h"
#include "base/log.h"
#include "engine/js_internal.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "proto/subject.h"
#include "store/stream_store.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define API_PREFIX "$JS.API."
#define TYPE_PREFIX "io.nats.jetstream.api.v1."

typedef void api_fn(struct js *js, const struct route_msg *msg, const char *name,
                    size_t name_length, const char *body, size_t body_length);

struct api_op {
    const char *subject; /* after $JS.API. */
    const char *type;    /* the reply's type, after io.nats.jetstream.api.v1. */
    api_fn *fn;
    bool named;          /* the last token is a stream name */
};

struct js_api_context {
    struct js *js;
    const struct api_op *op;
};

/* ---- replies ---- */

static void reply_begin(struct js_errors_json *json, const struct api_op *op)
{
    js_errors_json_init(json, JS_API_REPLY_MAX);
    js_errors_json_literal(json, "{\"type\":\"" TYPE_PREFIX);
    js_errors_json_literal(json, op->type);
    js_errors_json_literal(json, "\"");
}

static void reply_end(struct js *js, const struct route_msg *msg, struct js_errors_json *json)
{
    js_errors_json_literal(json, "}");
    if (!json->failed) {
        js_reply(js, msg->reply.data, msg->reply.length, json->data, json->length);
    } else {
        LOG_WARN("JetStream: a reply on %.*s did not fit (%zu bytes at most)",
                 (int)msg->subject.length, msg->subject.data, json->length_max);
    }
    js_errors_json_free(json);
}

static void reply_error(struct js *js, const struct route_msg *msg, const struct api_op *op,
                        const struct js_error *error)
{
    js->api_errors++;
    struct js_errors_json json;
    reply_begin(&json, op);
    js_errors_json_error(&json, error);
    if (strcmp(op->type, "stream_info_response") == 0) {
        js_errors_json_literal(&json, ",\"total\":0,\"offset\":0,\"limit\":0");
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

static void advisory(struct js *js, const char *action, const char *name)
{
    char subject[64 + JS_STREAM_CONFIG_NAME_LENGTH_MAX];
    snprintf(subject, sizeof subject, "$JS.EVENT.ADVISORY.STREAM.%s.%s",
             strcmp(action, "create") == 0   ? "CREATED"
             : strcmp(action, "delete") == 0 ? "DELETED"
                                             : "UPDATED",
             name);
    uint64_t random[2] = {0, 0};
    (void)getrandom(random, sizeof random, 0);
    char id[40];
    snprintf(id, sizeof id, "%016llx%016llx", (unsigned long long)random[0],
             (unsigned long long)random[1]);
    struct js_errors_json json;
    js_errors_json_init(&json, 4096);
    js_errors_json_literal(&json, "{\"type\":\"io.nats.jetstream.advisory.v1.stream_action\"");
    js_errors_json_key(&json, "id");
    js_errors_json_cstring(&json, id);
    js_errors_json_key(&json, "timestamp");
    js_json_time(&json, js_now_ns());
    js_errors_json_key(&json, "stream");
    js_errors_json_cstring(&json, name);
    js_errors_json_key(&json, "action");
    js_errors_json_cstring(&json, action);
    js_errors_json_literal(&json, "}");
    if (!json.failed) {
        js_reply(js, subject, strlen(subject), json.data, json.length);
    }
    js_errors_json_free(&json);
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

static uint64_t json_u64(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    return json_is_integer(value) && json_integer_value(value) > 0
               ? (uint64_t)json_integer_value(value)
               : 0;
}

static const char *json_text(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    return json_is_string(value) && json_string_length(value) > 0 ? json_string_value(value)
                                                                  : NULL;
}

/* ---- account info ---- */

static void api_info(struct js *js, const struct route_msg *msg, const char *name,
                     size_t name_length, const char *body, size_t body_length)
{
    static const struct api_op op = {.type = "account_info_response"};
    struct js_errors_json json;
    reply_begin(&json, &op);
    js_errors_json_key(&json, "memory");
    js_errors_json_uint(&json, js->memory_used);
    js_errors_json_key(&json, "storage");
    js_errors_json_uint(&json, js->storage_used);
    js_errors_json_literal(&json, ",\"reserved_memory\":0,\"reserved_storage\":0");
    js_errors_json_key(&json, "streams");
    js_errors_json_uint(&json, js->stream_count);
    js_errors_json_literal(&json,
                           ",\"consumers\":0,\"limits\":{\"max_memory\":-1,\"max_storage\":-1,"
                           "\"max_streams\":-1,\"max_consumers\":-1,\"max_ack_pending\":-1,"
                           "\"memory_max_stream_bytes\":-1,\"storage_max_stream_bytes\":-1,"
                           "\"max_bytes_required\":false},\"api\":{");
    js_errors_json_key(&json, "total");
    js_errors_json_uint(&json, js->api_total);
    js_errors_json_key(&json, "errors");
    js_errors_json_uint(&json, js->api_errors);
    js_errors_json_literal(&json, "}");
    reply_end(js, msg, &json);
}

/* ---- create and update ---- */

/* What ionats does not do yet is refused, never accepted and ignored. */
static bool unsupported(const struct js_stream_config *config, struct js_error *error)
{
    const char *what = NULL;
    if (config->mirror != NULL || config->source_count > 0) {
        what = "mirrors and sources";
    } else if (config->has_republish) {
        what = "republish";
    } else if (config->has_subject_transform) {
        what = "subject transforms";
    } else if (config->first_seq > 1) {
        what = "first_seq";
    } else if (js_stream_config_api_level_required(config) > 0) {
        js_errors_set(error, JS_ERR_REQUIRED_API_LEVEL);
        return true;
    }
    if (what == NULL) {
        return false;
    }
    js_errors_setf(error, JS_ERR_STREAM_CREATE, "%s are not supported by this server yet",
                   what);
    return true;
}

static bool overlaps_others(struct js *js, const struct js_stream_config *config,
                            const struct js_stream *self)
{
    for (size_t i = 0; i < js->stream_count; i++) {
        const struct js_stream *other = js->streams[i];
        if (other != self &&
            js_stream_config_subject_sets_overlap((const char *const *)config->subjects,
                                                  config->subject_count,
                                                  (const char *const *)other->config.subjects,
                                                  other->config.subject_count)) {
            return true;
        }
    }
    return false;
}

static bool resources_refused(const struct js *js, const struct js_stream_config *config,
                              struct js_error *error)
{
    bool memory = config->storage == JS_STREAM_STORAGE_MEMORY;
    int64_t limit = memory ? js->max_memory : js->max_file;
    if (config->max_bytes > limit) {
        js_errors_set(error, memory ? JS_ERR_MEMORY_RESOURCES_EXCEEDED
                                    : JS_ERR_STORAGE_RESOURCES_EXCEEDED);
        return true;
    }
    return false;
}

static void reply_stream(struct js *js, const struct route_msg *msg, const struct api_op *op,
                         struct js_stream *stream, bool did_create)
{
    struct js_errors_json json;
    reply_begin(&json, op);
    js_stream_info_json(stream, &json, false, NULL);
    if (did_create) {
        js_errors_json_literal(&json, ",\"did_create\":true");
    }
    reply_end(js, msg, &json);
}

static void api_create(struct js *js, const struct route_msg *msg, const char *name,
                       size_t name_length, const char *body, size_t body_length)
{
    static const struct api_op op = {.type = "stream_create_response"};
    struct js_stream_config config;
    struct js_error error;
    bool pedantic = false;
    int rc = js_stream_config_parse(body, body_length, &config, &pedantic, &error);
    if (rc != 0) {
        if (rc == -ENOMEM) {
            js_errors_setf(&error, JS_ERR_STREAM_CREATE, "%s", strerror(ENOMEM));
        }
        reply_error(js, msg, &op, &error);
        return;
    }
    const struct js_stream_config_check_options options = {.pedantic = pedantic};
    if (js_stream_config_check_create_request(&config, name, name_length, &error) != 0 ||
        js_stream_config_check(&config, &options, &error) != 0 ||
        js_stream_config_check_replicas(&config, false, &error) != 0) {
        reply_error(js, msg, &op, &error);
        js_stream_config_free(&config);
        return;
    }
    struct js_stream *existing = js_stream_find(js, config.name, strlen(config.name));
    if (existing != NULL) {
        if (js_stream_config_equal(&existing->config, &config)) {
            reply_stream(js, msg, &op, existing, false);
        } else {
            reply_error_id(js, msg, &op, JS_ERR_STREAM_NAME_EXIST);
        }
        js_stream_config_free(&config);
        return;
    }
    bool refused = js_stream_config_check_filters(&config, &error) != 0 ||
                   unsupported(&config, &error) || resources_refused(js, &config, &error);
    if (!refused && overlaps_others(js, &config, NULL)) {
        js_errors_set(&error, JS_ERR_STREAM_SUBJECT_OVERLAP);
        refused = true;
    }
    if (!refused && js->stream_count >= JS_STREAMS_MAX) {
        js_errors_set(&error, JS_ERR_MAXIMUM_STREAMS_LIMIT);
        refused = true;
    }
    struct js_stream *stream = NULL;
    if (refused || js_stream_create(js, &config, &stream, &error) != 0) {
        reply_error(js, msg, &op, &error);
        js_stream_config_free(&config);
        return;
    }
    if (js_streams_insert(js, stream) != 0) {
        js_stream_delete(stream);
        js_stream_free(stream);
        js_errors_setf(&error, JS_ERR_STREAM_CREATE, "%s", strerror(ENOMEM));
        reply_error(js, msg, &op, &error);
        return;
    }
    LOG_INFO("JetStream: stream %s created", stream->config.name);
    reply_stream(js, msg, &op, stream, true);
    advisory(js, "create", stream->config.name);
}

static void api_update(struct js *js, const struct route_msg *msg, const char *name,
                       size_t name_length, const char *body, size_t body_length)
{
    static const struct api_op op = {.type = "stream_update_response"};
    struct js_stream_config config;
    struct js_error error;
    bool pedantic = false;
    int rc = js_stream_config_parse(body, body_length, &config, &pedantic, &error);
    if (rc != 0) {
        if (rc == -ENOMEM) {
            js_errors_setf(&error, JS_ERR_STREAM_UPDATE, "%s", strerror(ENOMEM));
        }
        reply_error(js, msg, &op, &error);
        return;
    }
    const struct js_stream_config_check_options options = {.pedantic = pedantic};
    struct js_stream *stream = NULL;
    bool refused = js_stream_config_check(&config, &options, &error) != 0 ||
                   js_stream_config_check_name(&config, name, name_length, &error) != 0;
    if (!refused) {
        stream = js_stream_find(js, name, name_length);
        if (stream == NULL) {
            js_errors_set(&error, JS_ERR_STREAM_NOT_FOUND);
            refused = true;
        }
    }
    refused = refused ||
              js_stream_config_check_update(&stream->config, &config, &options, false,
                                            &error) != 0 ||
              unsupported(&config, &error) || resources_refused(js, &config, &error);
    if (!refused && overlaps_others(js, &config, stream)) {
        js_errors_set(&error, JS_ERR_STREAM_SUBJECT_OVERLAP);
        refused = true;
    }
    if (refused || js_stream_update(stream, &config, &error) != 0) {
        reply_error(js, msg, &op, &error);
        js_stream_config_free(&config);
        return;
    }
    reply_stream(js, msg, &op, stream, false);
    advisory(js, "modify", stream->config.name);
}

/* ---- info, names, list, delete ---- */

static struct js_stream *stream_or_reply(struct js *js, const struct route_msg *msg,
                                         const struct api_op *op, const char *name,
                                         size_t name_length)
{
    struct js_stream *stream = js_stream_find(js, name, name_length);
    if (stream == NULL) {
        reply_error_id(js, msg, op, JS_ERR_STREAM_NOT_FOUND);
    }
    return stream;
}

static void api_stream_info(struct js *js, const struct route_msg *msg, const char *name,
                            size_t name_length, const char *body, size_t body_length)
{
    static const struct api_op op = {.type = "stream_info_response"};
    json_t *request = body_parse(js, msg, &op, body, body_length);
    if (request == NULL) {
        return;
    }
    struct js_stream *stream = stream_or_reply(js, msg, &op, name, name_length);
    if (stream != NULL) {
        struct js_errors_json json;
        reply_begin(&json, &op);
        js_errors_json_literal(&json, ",\"total\":0,\"offset\":0,\"limit\":0");
        js_stream_info_json(stream, &json, json_is_true(json_object_get(request, "deleted_details")),
                            json_text(request, "subjects_filter"));
        reply_end(js, msg, &json);
    }
    json_decref(request);
}

/* Streams listed by NAMES and LIST: those with a subject colliding with `filter`. */
static bool stream_listed(const struct js_stream *stream, const char *filter)
{
    if (filter == NULL) {
        return true;
    }
    const char *filters[1] = {filter};
    return js_stream_config_subject_sets_overlap(
        filters, 1, (const char *const *)stream->config.subjects, stream->config.subject_count);
}

static void api_names_or_list(struct js *js, const struct route_msg *msg, const char *body,
                              size_t body_length, bool list)
{
    static const struct api_op names_op = {.type = "stream_names_response"};
    static const struct api_op list_op = {.type = "stream_list_response"};
    const struct api_op *op = list ? &list_op : &names_op;
    json_t *request = body_parse(js, msg, op, body, body_length);
    if (request == NULL) {
        return;
    }
    uint64_t offset = json_u64(request, "offset");
    const char *filter = json_text(request, "subject");
    size_t limit = list ? JS_LIST_PAGE : JS_NAMES_PAGE;
    size_t total = 0;
    for (size_t i = 0; i < js->stream_count; i++) {
        total += stream_listed(js->streams[i], filter);
    }
    struct js_errors_json json;
    reply_begin(&json, op);
    js_errors_json_key(&json, "total");
    js_errors_json_uint(&json, total);
    js_errors_json_key(&json, "offset");
    js_errors_json_uint(&json, offset);
    js_errors_json_key(&json, "limit");
    js_errors_json_uint(&json, limit);
    js_errors_json_key(&json, "streams");
    size_t seen = 0;
    size_t written = 0;
    for (size_t i = 0; i < js->stream_count && written < limit; i++) {
        struct js_stream *stream = js->streams[i];
        if (!stream_listed(stream, filter) || seen++ < offset) {
            continue;
        }
        js_errors_json_literal(&json, written == 0 ? "[" : ",");
        if (list) {
            js_errors_json_literal(&json, "{");
            js_stream_info_json(stream, &json, false, NULL);
            js_errors_json_literal(&json, "}");
        } else {
            js_errors_json_cstring(&json, stream->config.name);
        }
        written++;
    }
    /* nats-server: no names is null, no infos an empty array */
    js_errors_json_literal(&json, written > 0 ? "]" : list ? "[]" : "null");
    reply_end(js, msg, &json);
    json_decref(request);
}

static void api_names(struct js *js, const struct route_msg *msg, const char *name,
                      size_t name_length, const char *body, size_t body_length)
{
    api_names_or_list(js, msg, body, body_length, false);
}

static void api_list(struct js *js, const struct route_msg *msg, const char *name,
                     size_t name_length, const char *body, size_t body_length)
{
    api_names_or_list(js, msg, body, body_length, true);
}

static void reply_success(struct js *js, const struct route_msg *msg, const struct api_op *op)
{
    struct js_errors_json json;
    reply_begin(&json, op);
    js_errors_json_literal(&json, ",\"success\":true");
    reply_end(js, msg, &json);
}

static void api_delete(struct js *js, const struct route_msg *msg, const char *name,
                       size_t name_length, const char *body, size_t body_length)
{
    static const struct api_op op = {.type = "stream_delete_response"};
    struct js_stream *stream = stream_or_reply(js, msg, &op, name, name_length);
    if (stream == NULL) {
        return;
    }
    js_streams_remove(js, stream);
    js_stream_delete(stream);
    char *deleted = strdup(stream->config.name);
    if (!js_stream_busy(stream) || js_retire(js, stream) != 0) {
        js_stream_free(stream);
    }
    LOG_INFO("JetStream: stream %s deleted", deleted != NULL ? deleted : "?");
    reply_success(js, msg, &op);
    if (deleted != NULL) {
        advisory(js, "delete", deleted);
    }
    free(deleted);
}

/* ---- dispatch ---- */

static const struct api_op api_ops[] = {
    {"INFO", "account_info_response", api_info, false},
    {"STREAM.CREATE.*", "stream_create_response", api_create, true},
    {"STREAM.UPDATE.*", "stream_update_response", api_update, true},
    {"STREAM.INFO.*", "stream_info_response", api_stream_info, true},
    {"STREAM.DELETE.*", "stream_delete_response", api_delete, true},
    {"STREAM.NAMES", "stream_names_response", api_names, false},
    {"STREAM.LIST", "stream_list_response", api_list, false},
    {"STREAM.PURGE.*", "stream_purge_response", js_api_purge, true},
    {"STREAM.MSG.GET.*", "stream_msg_get_response", js_api_msg_get, true},
    {"STREAM.MSG.DELETE.*", "stream_msg_delete_response", js_api_msg_delete, true},
};
enum { API_OP_COUNT = sizeof api_ops / sizeof api_ops[0] };

static void api_handle(struct shard *shard, void *context, const struct route_msg *msg)
{
    const struct js_api_context *api = context;
    struct js *js = api->js;
    if (api->op->fn != api_info) {
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
    api->op->fn(js, msg, name, name_length, body, body_length);
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
    return 0;
}

void js_api_reply_error(struct js *js, const struct route_msg *msg, const char *type,
                        const struct js_error *error)
{
    const struct api_op op = {.type = type};
    reply_error(js, msg, &op, error);
}

void js_api_reply_begin(struct js_errors_json *json, const char *type)
{
    const struct api_op op = {.type = type};
    reply_begin(json, &op);
}

void js_api_reply_end(struct js *js, const struct route_msg *msg, struct js_errors_json *json)
{
    reply_end(js, msg, json);
}

json_t *js_api_body_parse(struct js *js, const struct route_msg *msg, const char *type,
                          const char *body, size_t length)
{
    const struct api_op op = {.type = type};
    return body_parse(js, msg, &op, body, length);
}
