/* The messages between the meta shard and the shards that own streams, and what an owner
 * does with them: create, update and delete its streams, and answer the requests that
 * need a stream's store, replying to the client itself.
 *
 * The one idea: a message is one heap block (the struct and its strings) that travels by
 * pointer over the cross-shard rings (shard_module_send) and is freed by its receiver; to
 * the shard itself it is handled at once, through the same function, so a one-shard server
 * runs the same code. Which shard owns a stream is a pure function of its name and the
 * shard count. Each js_message's handler runs on the receiving shard's thread. */
#include "base/assert.h"
#include "base/hash.h"
#include "base/log.h"
#include "engine/js.h"
#include "engine/js_internal.h"
#include "engine/shard.h"
#include "engine/shard_module.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Owner placement: the name's hash, with a fixed seed so it is the same at every start. */
#define OWNER_SEED 0x6a736f776e657273ULL

int js_owner_of(const char *name, size_t length, int shard_count)
{
    ASSERT(shard_count > 0);
    return (int)(hash_bytes(name, length, OWNER_SEED) % (uint64_t)shard_count);
}

struct js_message *js_message_make(struct js *js, enum js_op op, const char *name,
                                   size_t name_length, const char *reply, size_t reply_length,
                                   const char *body, size_t body_length)
{
    size_t size = sizeof(struct js_message) + name_length + 1 + reply_length + 1 + body_length + 1;
    struct js_message *message = malloc(size);
    if (message == NULL) {
        return NULL;
    }
    memset(message, 0, sizeof *message);
    message->server = js->server;
    message->size = size;
    atomic_fetch_add_explicit(&js->server->message_bytes, (int64_t)size, memory_order_relaxed);
    message->op = op;
    char *at = message->data;
    message->name = at;
    memcpy(at, name, name_length);
    at[name_length] = '\0';
    at += name_length + 1;
    message->reply = at;
    if (reply_length > 0) {
        memcpy(at, reply, reply_length);
    }
    at[reply_length] = '\0';
    at += reply_length + 1;
    message->body = at;
    if (body_length > 0) {
        memcpy(at, body, body_length);
    }
    at[body_length] = '\0';
    message->name_length = name_length;
    message->reply_length = reply_length;
    message->body_length = body_length;
    return message;
}

void js_message_free(struct js_message *message)
{
    atomic_fetch_sub_explicit(&message->server->message_bytes, (int64_t)message->size,
                              memory_order_relaxed);
    free(message);
}

bool js_messages_full(const struct js *js)
{
    return atomic_load_explicit(&js->server->message_bytes, memory_order_relaxed) >
           JS_MESSAGE_BYTES_MAX;
}

void js_message_send(struct js *js, int target, struct js_message *message)
{
    if (target == js->shard->index) {
        js_message_handle(js, target, message);
        return;
    }
    if (shard_module_send(js->shard, &js_module, target, message) != 0) {
        LOG_ERROR("JetStream: no memory to reach shard %d about stream %s", target,
                  message->name);
        js_message_free(message);
    }
}

/* The client's request as the handlers read it: the reply subject and the body. */
static struct route_msg message_request(const struct js_message *message)
{
    return (struct route_msg){
        .subject = {.data = message->name, .length = (uint32_t)message->name_length},
        .reply = {.data = message->reply, .length = (uint32_t)message->reply_length},
        .payload = {.data = message->body, .length = (uint32_t)message->body_length},
    };
}

/* Parses and checks a config the meta shard sent (it checked it already). */
static int config_from(const struct js_message *message, struct js_stream_config *config,
                       struct js_error *error)
{
    bool pedantic = false;
    int rc = js_stream_config_parse(message->body, message->body_length, config, &pedantic,
                                    error);
    if (rc != 0) {
        return rc;
    }
    const struct js_stream_config_check_options options = {0};
    rc = js_stream_config_check(config, &options, error);
    if (rc != 0) {
        js_stream_config_free(config);
    }
    return rc;
}

static void tell_meta(struct js *js, enum js_op op, const char *name, size_t name_length,
                      const char *body, size_t body_length)
{
    struct js_message *back =
        js_message_make(js, op, name, name_length, NULL, 0, body, body_length);
    if (back == NULL) {
        LOG_ERROR("JetStream: no memory to tell the meta shard about stream %.*s",
                  (int)name_length, name);
        return;
    }
    js_message_send(js, 0, back);
}

/* What js_reply is given from here on waits for the subscriptions just made (js.c). */
void js_hold_begin(struct js *js)
{
    const struct shard *shard = js->shard;
    if (shard->shard_count > 1 && shard->xshard.announce_sequence > 0) {
        js->hold_sequence = shard->xshard.announce_sequence;
    }
}

static void owner_create(struct js *js, struct js_message *message)
{
    static const char type[] = "stream_create_response";
    const struct route_msg request = message_request(message);
    struct js_stream_config config;
    struct js_error error;
    struct js_stream *stream = NULL;
    int rc = config_from(message, &config, &error);
    if (rc == 0) {
        rc = js_stream_create(js, &config, message->created_ns, message->shared, &stream,
                              &error);
        js_stream_config_free(&config); /* moved into the stream, or left to free */
    }
    if (rc == 0 && js_streams_insert(js, stream) != 0) {
        stream->shared = NULL; /* still the meta shard's: the create fails */
        js_stream_delete(stream);
        js_stream_free(stream);
        js_errors_setf(&error, JS_ERR_STREAM_CREATE, "%s", strerror(ENOMEM));
        rc = -ENOMEM;
    }
    if (rc != 0) {
        js_api_reply_error(js, &request, type, &error);
        tell_meta(js, JS_OP_CREATE_FAILED, message->name, message->name_length, NULL, 0);
        return;
    }
    LOG_INFO("JetStream: stream %s created on shard %d", stream->config.name, js->shard->index);
    js_hold_begin(js);
    js_api_reply_stream(js, &request, type, stream, true);
    js_api_advisory(js, "create", stream->config.name);
    js->hold_sequence = 0;
}

static void owner_update(struct js *js, struct js_message *message)
{
    static const char type[] = "stream_update_response";
    const struct route_msg request = message_request(message);
    struct js_error error;
    struct js_stream *stream = js_stream_find(js, message->name, message->name_length);
    if (stream == NULL) {
        js_errors_set(&error, JS_ERR_STREAM_NOT_FOUND);
        js_api_reply_error(js, &request, type, &error);
        return;
    }
    struct js_stream_config config;
    int rc = config_from(message, &config, &error);
    if (rc == 0) {
        rc = js_stream_update(stream, &config, &error);
        js_stream_config_free(&config);
    }
    if (rc != 0) {
        js_api_reply_error(js, &request, type, &error);
        struct go_json json;
        go_json_init(&json, JS_API_REQUEST_MAX * 8);
        js_stream_config_encode(&stream->config, NULL, &json);
        if (!json.failed) {
            tell_meta(js, JS_OP_UPDATE_FAILED, message->name, message->name_length, json.data,
                      json.length);
        }
        go_json_free(&json);
        return;
    }
    js_hold_begin(js);
    js_api_reply_stream(js, &request, type, stream, false);
    js_api_advisory(js, "modify", stream->config.name);
    js->hold_sequence = 0;
}

static void owner_delete(struct js *js, struct js_message *message)
{
    static const char type[] = "stream_delete_response";
    const struct route_msg request = message_request(message);
    struct js_stream *stream = js_stream_find(js, message->name, message->name_length);
    if (stream == NULL) {
        struct js_error error;
        js_errors_set(&error, JS_ERR_STREAM_NOT_FOUND);
        js_api_reply_error(js, &request, type, &error);
        return;
    }
    js_streams_remove(js, stream);
    js_stream_delete(stream);
    if (!js_stream_busy(stream) || js_retire(js, stream) != 0) {
        js_stream_free(stream);
    }
    LOG_INFO("JetStream: stream %s deleted", message->name);
    struct go_json json;
    js_api_reply_begin(&json, type);
    go_json_literal(&json, ",\"success\":true");
    js_api_reply_end(js, &request, &json);
    js_api_advisory(js, "delete", message->name);
}

void js_message_handle(struct js *js, int origin, struct js_message *message)
{
    bool via_meta = js->reply_via_meta;
    js->reply_via_meta = origin != js->shard->index;
    switch (message->op) {
    case JS_OP_CREATE:
        owner_create(js, message);
        break;
    case JS_OP_UPDATE:
        owner_update(js, message);
        break;
    case JS_OP_DELETE:
        owner_delete(js, message);
        break;
    case JS_OP_REQUEST: {
        const struct route_msg request = message_request(message);
        message->handler(js, &request, message->name, message->name_length, message->body,
                         message->body_length);
        break;
    }
    case JS_OP_CREATE_FAILED:
        js_meta_forget(js, message->name, message->name_length);
        break;
    case JS_OP_UPDATE_FAILED:
        js_meta_restore(js, message->name, message->name_length, message->body,
                        message->body_length);
        break;
    case JS_OP_REPLY:
        js->reply_via_meta = false;
        js_reply(js, message->name, message->name_length, message->body, message->body_length);
        break;
    }
    js->reply_via_meta = via_meta;
    js_message_free(message);
}
