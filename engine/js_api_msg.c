/* The $JS.API requests about a stream's messages: STREAM.PURGE, STREAM.MSG.GET,
 * STREAM.MSG.DELETE, and DIRECT.GET (the reply is the message itself, with the stream's
 * headers, instead of JSON).
 *
 * The one idea: a literal subject is answered from the store's per-subject index at once;
 * a wildcard one by walking the log, bounded by SCAN_MAX messages so that no request can
 * hold the shard for long (past it: "no message found"). Base64 is written here by hand
 * (the JSON of MSG.GET needs nothing more than the standard alphabet with padding) because
 * no codec library is a dependency yet; OpenSSL's EVP_EncodeBlock replaces it when TLS
 * brings OpenSSL in. Meta shard's thread only. */
#include "base/assert.h"
#include "engine/js_consumer.h"
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

/* Messages a wildcard lookup looks at at most. */
enum { SCAN_MAX = 1000000 };

static const char PURGE_TYPE[] = "stream_purge_response";
static const char GET_TYPE[] = "stream_msg_get_response";
static const char DELETE_TYPE[] = "stream_msg_delete_response";

static void reply_error_id(struct js *js, const struct route_msg *msg, const char *type,
                           enum js_error_id id)
{
    struct js_error error;
    js_errors_set(&error, id);
    js_api_reply_error(js, msg, type, &error);
}

static void reply_error_text(struct js *js, const struct route_msg *msg, const char *type,
                             enum js_error_id id, const char *text)
{
    struct js_error error;
    js_errors_setf(&error, id, "%s", text);
    js_api_reply_error(js, msg, type, &error);
}

/* ---- purge ---- */

/* Whether `filter` takes in every subject of the stream (a purge of everything). */
static bool filter_covers_stream(const struct js_stream *stream, const char *filter)
{
    size_t length = strlen(filter);
    for (size_t i = 0; i < stream->config.subject_count; i++) {
        const char *subject = stream->config.subjects[i];
        if (strcmp(subject, filter) != 0 &&
            !(subject_has_wildcard(filter, length) &&
              subject_matches(filter, length, subject, strlen(subject)))) {
            return false;
        }
    }
    return true;
}

void js_api_purge(struct js *js, const struct route_msg *msg, const char *name,
                  size_t name_length, const char *body, size_t body_length)
{
    json_t *request = js_api_body_parse(js, msg, PURGE_TYPE, body, body_length);
    if (request == NULL) {
        return;
    }
    struct js_stream *stream = js_api_stream_or_reply(js, msg, PURGE_TYPE, name, name_length);
    const char *filter = js_api_json_text(request, "filter");
    struct stream_store_purge_request purge = {
        .up_to_seq = js_api_json_u64(request, "seq"), .keep = js_api_json_u64(request, "keep")};
    if (stream == NULL) {
        json_decref(request);
        return;
    }
    if (stream->config.sealed) {
        reply_error_id(js, msg, PURGE_TYPE, JS_ERR_STREAM_SEALED);
    } else if (stream->config.deny_purge) {
        reply_error_text(js, msg, PURGE_TYPE, JS_ERR_STREAM_PURGE_FAILED,
                         "stream purge not permitted");
    } else if (purge.up_to_seq > 0 && purge.keep > 0) {
        reply_error_id(js, msg, PURGE_TYPE, JS_ERR_BAD_REQUEST);
    } else if (filter != NULL && !filter_covers_stream(stream, filter) &&
               subject_has_wildcard(filter, strlen(filter))) {
        reply_error_text(js, msg, PURGE_TYPE, JS_ERR_STREAM_PURGE_FAILED,
                         "purge by a wildcard filter is not supported by this server yet");
    } else {
        if (filter != NULL && !filter_covers_stream(stream, filter)) {
            purge.subject = (const uint8_t *)filter;
            purge.subject_length = (uint32_t)strlen(filter);
        }
        uint64_t purged = 0;
        int rc = stream_store_purge(stream->store, &purge, &purged);
        stream->dirty = true;
        js_stream_account(stream);
        js_consumers_purged(stream);
        if (rc != 0) {
            reply_error_text(js, msg, PURGE_TYPE, JS_ERR_STREAM_PURGE_FAILED, strerror(-rc));
        } else {
            struct go_json json;
            js_api_reply_begin(&json, PURGE_TYPE);
            go_json_literal(&json, ",\"success\":true");
            go_json_key(&json, "purged");
            go_json_uint(&json, purged);
            js_api_reply_end(js, msg, &json);
        }
    }
    json_decref(request);
}

/* ---- finding a message ---- */

static bool subject_is(const struct stream_store_msg *found, const char *filter, size_t length)
{
    return subject_matches(filter, length, (const char *)found->subject, found->subject_length);
}

/* The last message on `filter` (literal or wildcard): 0 or -ENOENT. */
static int find_last(struct js_stream *stream, const char *filter, struct stream_store_msg *out)
{
    size_t length = strlen(filter);
    if (!subject_has_wildcard(filter, length)) {
        uint64_t seq = 0;
        if (stream_store_subject_last(stream->store, (const uint8_t *)filter, (uint32_t)length,
                                      &seq) != 0) {
            return -ENOENT;
        }
        return stream_store_get(stream->store, seq, out);
    }
    struct stream_store_info info;
    stream_store_info_get(stream->store, &info);
    uint32_t looked = 0;
    for (uint64_t seq = info.last_seq; seq >= info.first_seq && seq > 0 && looked < SCAN_MAX;
         seq--, looked++) {
        if (stream_store_get(stream->store, seq, out) == 0 && subject_is(out, filter, length)) {
            return 0;
        }
    }
    return -ENOENT;
}

/* The first message at or after `seq` on `filter`: 0 or -ENOENT. */
static int find_next(struct js_stream *stream, const char *filter, uint64_t seq,
                     struct stream_store_msg *out)
{
    size_t length = strlen(filter);
    for (uint32_t looked = 0; looked < SCAN_MAX; looked++) {
        if (stream_store_next(stream->store, seq, out) != 0) {
            return -ENOENT;
        }
        if (subject_is(out, filter, length)) {
            return 0;
        }
        seq = out->seq + 1;
    }
    return -ENOENT;
}

/* What a get request asks for: 0 and the message, -ENOENT, or -EINVAL (a bad request). */
static int find_requested(struct js_stream *stream, const json_t *request,
                          struct stream_store_msg *out)
{
    uint64_t seq = js_api_json_u64(request, "seq");
    const char *last_by = js_api_json_text(request, "last_by_subj");
    const char *next_by = js_api_json_text(request, "next_by_subj");
    if ((last_by != NULL && (seq > 0 || next_by != NULL)) ||
        (seq == 0 && last_by == NULL && next_by == NULL)) {
        return -EINVAL;
    }
    if (last_by != NULL) {
        return find_last(stream, last_by, out);
    }
    if (next_by != NULL) {
        return find_next(stream, next_by, seq, out);
    }
    return stream_store_get(stream->store, seq, out) == 0 ? 0 : -ENOENT;
}

/* ---- MSG.GET ---- */

static void json_base64(struct go_json *json, const uint8_t *data, size_t length)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    go_json_literal(json, "\"");
    char out[4 * 256];
    size_t used = 0;
    for (size_t i = 0; i < length; i += 3) {
        uint32_t chunk = (uint32_t)data[i] << 16;
        if (i + 1 < length) {
            chunk |= (uint32_t)data[i + 1] << 8;
        }
        if (i + 2 < length) {
            chunk |= data[i + 2];
        }
        out[used++] = alphabet[(chunk >> 18) & 63];
        out[used++] = alphabet[(chunk >> 12) & 63];
        out[used++] = i + 1 < length ? alphabet[(chunk >> 6) & 63] : '=';
        out[used++] = i + 2 < length ? alphabet[chunk & 63] : '=';
        if (used == sizeof out) {
            go_json_raw(json, out, used);
            used = 0;
        }
    }
    go_json_raw(json, out, used);
    go_json_literal(json, "\"");
}

void js_api_msg_get(struct js *js, const struct route_msg *msg, const char *name,
                    size_t name_length, const char *body, size_t body_length)
{
    json_t *request = js_api_body_parse(js, msg, GET_TYPE, body, body_length);
    if (request == NULL) {
        return;
    }
    struct js_stream *stream = js_api_stream_or_reply(js, msg, GET_TYPE, name, name_length);
    struct stream_store_msg found;
    int rc = stream != NULL ? find_requested(stream, request, &found) : 0;
    json_decref(request);
    if (stream == NULL) {
        return;
    }
    if (rc == -EINVAL) {
        reply_error_id(js, msg, GET_TYPE, JS_ERR_BAD_REQUEST);
        return;
    }
    if (rc != 0) {
        reply_error_id(js, msg, GET_TYPE, JS_ERR_NO_MESSAGE_FOUND);
        return;
    }
    struct go_json json;
    js_api_reply_begin(&json, GET_TYPE);
    go_json_literal(&json, ",\"message\":{");
    go_json_key(&json, "subject");
    go_json_string(&json, (const char *)found.subject, found.subject_length);
    go_json_key(&json, "seq");
    go_json_uint(&json, found.seq);
    if (found.header_length > 0) {
        go_json_key(&json, "hdrs");
        json_base64(&json, found.header, found.header_length);
    }
    if (found.payload_length > 0) {
        go_json_key(&json, "data");
        json_base64(&json, found.payload, found.payload_length);
    }
    go_json_key(&json, "time");
    js_json_time(&json, found.timestamp_ns);
    go_json_literal(&json, "}");
    js_api_reply_end(js, msg, &json);
}

/* ---- MSG.DELETE ---- */

void js_api_msg_delete(struct js *js, const struct route_msg *msg, const char *name,
                       size_t name_length, const char *body, size_t body_length)
{
    json_t *request = js_api_body_parse(js, msg, DELETE_TYPE, body, body_length);
    if (request == NULL) {
        return;
    }
    uint64_t seq = js_api_json_u64(request, "seq");
    json_decref(request);
    struct js_stream *stream = js_api_stream_or_reply(js, msg, DELETE_TYPE, name, name_length);
    if (stream == NULL) {
        return;
    }
    if (stream->config.sealed) {
        reply_error_id(js, msg, DELETE_TYPE, JS_ERR_STREAM_SEALED);
        return;
    }
    if (stream->config.deny_delete) {
        reply_error_text(js, msg, DELETE_TYPE, JS_ERR_STREAM_MSG_DELETE_FAILED,
                         "message delete not permitted");
        return;
    }
    if (seq == 0) {
        reply_error_id(js, msg, DELETE_TYPE, JS_ERR_BAD_REQUEST);
        return;
    }
    int rc = stream_store_delete(stream->store, seq);
    if (rc == -ENOENT) {
        struct stream_store_info info;
        stream_store_info_get(stream->store, &info);
        if (seq > info.last_seq) {
            /* nats-server: the store's EOF past the last sequence */
            reply_error_text(js, msg, DELETE_TYPE, JS_ERR_STREAM_MSG_DELETE_FAILED,
                             "stream store EOF");
        } else {
            char seq_text[24];
            snprintf(seq_text, sizeof seq_text, "%llu", (unsigned long long)seq);
            const char *const args[] = {seq_text};
            struct js_error error;
            js_errors_set_args(&error, JS_ERR_SEQUENCE_NOT_FOUND, args, 1);
            js_api_reply_error(js, msg, DELETE_TYPE, &error);
        }
        return;
    }
    if (rc != 0) {
        reply_error_text(js, msg, DELETE_TYPE, JS_ERR_STREAM_MSG_DELETE_FAILED, strerror(-rc));
        return;
    }
    stream->dirty = true;
    js_stream_account(stream);
    struct go_json json;
    js_api_reply_begin(&json, DELETE_TYPE);
    go_json_literal(&json, ",\"success\":true");
    js_api_reply_end(js, msg, &json);
}

/* ---- DIRECT.GET ---- */

static void direct_reply(struct js_stream *stream, const struct route_msg *request,
                         const char *header, size_t header_length, const uint8_t *body,
                         size_t body_length)
{
    if (request->reply.length == 0) {
        return;
    }
    char *payload = malloc(header_length + body_length + 1);
    if (payload == NULL) {
        return;
    }
    memcpy(payload, header, header_length);
    if (body_length > 0) {
        memcpy(payload + header_length, body, body_length);
    }
    const struct route_msg msg = {
        .subject = request->reply,
        .payload = {.data = payload, .length = (uint32_t)(header_length + body_length)},
        .header_length = (uint32_t)header_length,
    };
    service_publish(stream->js->shard, &msg);
    free(payload);
}

static void direct_status(struct js_stream *stream, const struct route_msg *request,
                          const char *status)
{
    char header[128];
    int length = snprintf(header, sizeof header, "NATS/1.0 %s\r\n\r\n", status);
    direct_reply(stream, request, header, (size_t)length, NULL, 0);
}

/* The stored message with the stream's headers added, as nats-server answers. */
static void direct_found(struct js_stream *stream, const struct route_msg *request,
                         const struct stream_store_msg *found)
{
    size_t size = found->header_length + JS_STORED_HEADERS_ROOM + strlen(stream->config.name) +
                  found->subject_length + 4;
    char *header = malloc(size);
    if (header == NULL) {
        return;
    }
    const struct proto_slice subject = {.data = (const char *)found->subject,
                                        .length = found->subject_length};
    size_t length = js_stored_headers_write(header, size, stream->config.name,
                                            (const char *)found->header, found->header_length,
                                            subject, found->seq, found->timestamp_ns);
    length += (size_t)snprintf(header + length, size - length, "\r\n");
    direct_reply(stream, request, header, length, found->payload, found->payload_length);
    free(header);
}

void js_direct_get_handle(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct js_stream *stream = context;
    if (stream->deleting) {
        return;
    }
    /* the stream's token: its name, or its origin's for a mirror's direct gets */
    static const char DIRECT[] = "$JS.API.DIRECT.GET.";
    size_t prefix = sizeof DIRECT - 1;
    while (prefix < msg->subject.length && msg->subject.data[prefix] != '.') {
        prefix++;
    }
    const char *body = msg->payload.data + msg->header_length;
    size_t body_length = msg->payload.length - msg->header_length;
    struct stream_store_msg found;
    int rc;
    if (msg->subject.length > prefix + 1) {
        /* DIRECT.GET.<stream>.<subject>: the last message on that subject */
        char subject[4096];
        size_t length = msg->subject.length - prefix - 1;
        if (length >= sizeof subject) {
            direct_status(stream, msg, "408 Bad Request");
            return;
        }
        memcpy(subject, msg->subject.data + prefix + 1, length);
        subject[length] = '\0';
        rc = find_last(stream, subject, &found);
    } else if (body_length == 0) {
        direct_status(stream, msg, "408 Empty Request");
        return;
    } else {
        json_error_t json_error;
        json_t *request = json_loadb(body, body_length, 0, &json_error);
        if (request == NULL || !json_is_object(request)) {
            json_decref(request);
            direct_status(stream, msg, "408 Malformed Request");
            return;
        }
        rc = find_requested(stream, request, &found);
        json_decref(request);
    }
    if (rc == -EINVAL) {
        direct_status(stream, msg, "408 Bad Request");
    } else if (rc != 0) {
        direct_status(stream, msg, "404 Message Not Found");
    } else {
        direct_found(stream, msg, &found);
    }
}
