/* The consumer API on the stream's owner: CONSUMER.CREATE in its three subject forms and
 * DURABLE.CREATE (create, update, or the existing consumer when the config is the same),
 * INFO, DELETE, PAUSE, NAMES and LIST (paged), and the consumer info object every one of them
 * answers with, in nats-server's field order.
 *
 * The one idea: the meta shard passes every consumer request to the owner of the stream
 * named in its subject with the whole subject after $JS.API., and the owner reads the rest
 * (the consumer's name, a filter) from it, so consumer requests cost the meta shard one
 * lookup and the owner everything else. Owner shard's thread only. */
#include "base/clock.h"
#include "base/log.h"
#include "engine/js_consumer.h"
#include "engine/route.h"
#include "engine/shard.h"
#include "store/stream_store.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* nats-server's page sizes (JSApiNamesLimit, JSApiListLimit). */
enum { CONSUMER_NAMES_PAGE = 1024, CONSUMER_LIST_PAGE = 256 };

/* The tokens of a consumer request subject (after $JS.API.), borrowed into `copy`. */
struct request_subject {
    char copy[JS_API_REQUEST_MAX > 4096 ? 4096 : JS_API_REQUEST_MAX];
    const char *stream;
    const char *consumer; /* NULL when the form has none */
    const char *filter;   /* NULL when the form has none */
    enum js_consumer_subject_form form;
};

/* Splits "CONSUMER.<OP>.<stream>[.<consumer>[.<filter...>]]" (or DURABLE.CREATE). False
 * when it does not fit. */
static bool subject_split(const char *name, size_t length, struct request_subject *out)
{
    if (length >= sizeof out->copy) {
        return false;
    }
    memcpy(out->copy, name, length);
    out->copy[length] = '\0';
    char *tokens[4] = {NULL, NULL, NULL, NULL};
    char *at = out->copy;
    size_t skip = strncmp(at, "CONSUMER.DURABLE.CREATE.", 24) == 0 ? 24 : 0;
    if (skip == 0) {
        char *dot = strchr(at, '.');
        dot = dot != NULL ? strchr(dot + 1, '.') : NULL; /* past CONSUMER.<OP> */
        if (dot == NULL) {
            return false;
        }
        skip = (size_t)(dot + 1 - at);
    }
    at += skip;
    for (int i = 0; i < 3 && at != NULL; i++) {
        tokens[i] = at;
        char *dot = i < 2 ? strchr(at, '.') : NULL;
        if (dot != NULL) {
            *dot = '\0';
            at = dot + 1;
        } else {
            at = NULL;
        }
    }
    out->stream = tokens[0];
    out->consumer = tokens[1];
    out->filter = tokens[2];
    if (skip == 24) {
        out->form = JS_CONSUMER_SUBJECT_DURABLE_CREATE;
    } else if (out->filter != NULL) {
        out->form = JS_CONSUMER_SUBJECT_CREATE_FILTERED;
    } else if (out->consumer != NULL) {
        out->form = JS_CONSUMER_SUBJECT_CREATE_NAMED;
    } else {
        out->form = JS_CONSUMER_SUBJECT_CREATE;
    }
    return out->stream != NULL;
}

/* ---- the info object ---- */

static void sequence_info(struct go_json *json, const char *key, uint64_t consumer_seq,
                          uint64_t stream_seq, int64_t last_active_ns)
{
    go_json_key(json, key);
    go_json_literal(json, "{\"consumer_seq\":");
    go_json_uint(json, consumer_seq);
    go_json_literal(json, ",\"stream_seq\":");
    go_json_uint(json, stream_seq);
    if (last_active_ns != 0) {
        go_json_key(json, "last_active");
        js_json_time(json, last_active_ns);
    }
    go_json_literal(json, "}");
}

void js_consumer_info_json(struct js_consumer *consumer, struct go_json *json, bool config)
{
    go_json_key(json, "stream_name");
    go_json_cstring(json, consumer->stream->config.name);
    go_json_key(json, "name");
    go_json_cstring(json, consumer->name);
    go_json_key(json, "created");
    js_json_time(json, consumer->created_ns);
    if (config) {
        go_json_key(json, "config");
        js_consumer_config_encode(&consumer->config, NULL, 0, json);
    }
    sequence_info(json, "delivered", consumer->dseq, consumer->delivered_sseq,
                  consumer->delivered_ns);
    sequence_info(json, "ack_floor", consumer->ack_floor_dseq, consumer->ack_floor_sseq,
                  consumer->ack_floor_ns);
    go_json_key(json, "num_ack_pending");
    go_json_uint(json, consumer->pending_count);
    go_json_key(json, "num_redelivered");
    go_json_uint(json, consumer->redelivered_count);
    go_json_key(json, "num_waiting");
    go_json_uint(json, consumer->request_count);
    go_json_key(json, "num_pending");
    go_json_uint(json, js_consumer_num_pending(consumer));
    if (consumer->config.deliver_subject != NULL) {
        const char *deliver = consumer->config.deliver_subject;
        consumer->push_bound =
            route_has_interest(consumer->stream->js->shard, deliver, strlen(deliver));
        if (consumer->push_bound) {
            go_json_literal(json, ",\"push_bound\":true");
        }
    }
    int64_t paused = js_consumer_paused_until(consumer);
    if (paused != 0) {
        go_json_literal(json, ",\"paused\":true");
        go_json_key(json, "pause_remaining");
        go_json_int(json, paused - js_now_ns());
    }
    go_json_key(json, "ts");
    js_json_time(json, js_now_ns());
    js_consumer_priority_info_json(consumer, json);
}

static void reply_info(struct js *js, const struct route_msg *msg, const char *type,
                       struct js_consumer *consumer)
{
    struct go_json json;
    js_api_reply_begin(&json, type);
    js_consumer_info_json(consumer, &json, true);
    js_api_reply_end(js, msg, &json);
}

static void reply_error_id(struct js *js, const struct route_msg *msg, const char *type,
                           enum js_error_id id)
{
    struct js_error error;
    js_errors_set(&error, id);
    js_api_reply_error(js, msg, type, &error);
}

/* ---- create ---- */

/* nats-server's ephemeral names: 8 characters of its nuid alphabet. */
static void ephemeral_name(struct js_stream *stream, char name[9])
{
    static const char alphabet[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    do {
        unsigned char random[8] = {0};
        (void)getrandom(random, sizeof random, 0);
        for (int i = 0; i < 8; i++) {
            name[i] = alphabet[random[i] % (sizeof alphabet - 1)];
        }
        name[8] = '\0';
    } while (js_consumer_find(stream, name, 8) != NULL);
}

static bool at_limit(const struct js_stream *stream)
{
    int64_t max = stream->config.max_consumers;
    return stream->consumer_count >= JS_CONSUMERS_PER_STREAM_MAX ||
           (max > 0 && (int64_t)stream->consumer_count >= max);
}

/* The stream's other consumers' configs (all but `skip`), for the workqueue checks:
 * malloc'd, NULL with *count 0 when there are none or no memory. */
static const struct js_consumer_config **others_of(struct js_stream *stream,
                                                   const struct js_consumer *skip,
                                                   size_t *count)
{
    *count = 0;
    const struct js_consumer_config **others =
        stream->consumer_count > 0 ? malloc(stream->consumer_count * sizeof *others) : NULL;
    for (size_t i = 0; others != NULL && i < stream->consumer_count; i++) {
        if (stream->consumers[i] != skip) {
            others[(*count)++] = &stream->consumers[i]->config;
        }
    }
    return others;
}

/* A create naming an existing consumer: the same config with action "create" answers with
 * it unchanged, a different one is refused; otherwise it is an update. */
static void create_existing(struct js *js, const struct route_msg *msg, const char *type,
                            struct js_consumer *consumer, struct js_consumer_request *request)
{
    struct js_stream *stream = consumer->stream;
    struct js_error error;
    if (request->action == JS_CONSUMER_ACTION_CREATE) {
        if (js_consumer_config_equal(&consumer->config, &request->config)) {
            reply_info(js, msg, type, consumer);
        } else {
            reply_error_id(js, msg, type, JS_ERR_CONSUMER_ALREADY_EXISTS);
        }
        return;
    }
    if (stream->config.retention == JS_STREAM_RETENTION_WORKQUEUE) {
        size_t count = 0;
        const struct js_consumer_config **others = others_of(stream, consumer, &count);
        bool unique = js_consumer_config_partition_unique(&request->config, others, count);
        free(others);
        if (!unique) {
            reply_error_id(js, msg, type, JS_ERR_CONSUMER_WQ_CONSUMER_NOT_UNIQUE);
            return;
        }
    }
    const char *old_deliver = consumer->config.deliver_subject;
    bool listened = old_deliver != NULL &&
                    route_has_interest(js->shard, old_deliver, strlen(old_deliver));
    if (js_consumer_config_check_update_push(&consumer->config, &request->config, listened,
                                             &error) != 0) {
        js_api_reply_error(js, msg, type, &error);
        return;
    }
    js_consumer_config_update_apply(&consumer->config, &request->config);
    if (js_consumer_update(consumer, &request->config, &error) != 0) {
        js_api_reply_error(js, msg, type, &error);
        return;
    }
    reply_info(js, msg, type, consumer);
}

/* A new consumer: the limits, the checks nats-server makes of new ones, a name for an
 * ephemeral without one (not written into its config, as nats-server's echo shows). */
static void create_new(struct js *js, const struct route_msg *msg, const char *type,
                       struct js_stream *stream, struct js_consumer_request *request)
{
    struct js_error error;
    if (request->action == JS_CONSUMER_ACTION_UPDATE) {
        reply_error_id(js, msg, type, JS_ERR_CONSUMER_DOES_NOT_EXIST);
        return;
    }
    if (at_limit(stream)) {
        reply_error_id(js, msg, type, JS_ERR_MAXIMUM_CONSUMERS_LIMIT);
        return;
    }
    size_t count = 0;
    const struct js_consumer_config **others = others_of(stream, NULL, &count);
    int rc = js_consumer_config_check_new(&request->config, &stream->config, others, count,
                                          &error);
    free(others);
    if (rc != 0) {
        js_api_reply_error(js, msg, type, &error);
        return;
    }
    const char *name = js_consumer_config_name(&request->config);
    char generated[9];
    if (name == NULL) {
        ephemeral_name(stream, generated);
        name = generated;
    }
    char *owned = strdup(name); /* the config that holds it moves into the consumer */
    if (owned == NULL) {
        js_errors_setf(&error, JS_ERR_CONSUMER_CREATE, "%s", strerror(ENOMEM));
        js_api_reply_error(js, msg, type, &error);
        return;
    }
    struct js_consumer *consumer = NULL;
    rc = js_consumer_create(stream, &request->config, owned, &consumer, &error);
    free(owned);
    if (rc != 0) {
        js_api_reply_error(js, msg, type, &error);
        return;
    }
    LOG_DEBUG("JetStream: consumer %s created on stream %s", consumer->name,
              stream->config.name);
    js_hold_begin(js); /* its subscriptions reach every shard before the client hears */
    reply_info(js, msg, type, consumer);
    js_consumer_event_action(consumer, true);
    js->hold_sequence = 0;
}

void js_consumer_api_create(struct js *js, const struct route_msg *msg, const char *name,
                            size_t name_length, const char *body, size_t body_length)
{
    static const char type[] = "consumer_create_response";
    struct request_subject subject;
    if (!subject_split(name, name_length, &subject)) {
        reply_error_id(js, msg, type, JS_ERR_BAD_REQUEST);
        return;
    }
    struct js_consumer_request request;
    struct js_error error;
    int rc = js_consumer_request_parse(body, body_length, &request, &error);
    if (rc == -ENOMEM) {
        js_errors_setf(&error, JS_ERR_CONSUMER_CREATE, "%s", strerror(ENOMEM));
    }
    if (rc != 0) {
        js_api_reply_error(js, msg, type, &error);
        return;
    }
    rc = js_consumer_request_check(&request, subject.form, subject.stream, subject.consumer,
                                   subject.filter, &error);
    struct js_stream *stream =
        rc == 0 ? js_api_stream_or_reply(js, msg, type, subject.stream, strlen(subject.stream))
                : NULL;
    if (rc != 0 || stream == NULL) {
        if (rc != 0) {
            js_api_reply_error(js, msg, type, &error);
        }
        js_consumer_request_free(&request);
        return;
    }
    const char *consumer_name = js_consumer_config_name(&request.config);
    struct js_consumer *existing =
        consumer_name != NULL ? js_consumer_find(stream, consumer_name, strlen(consumer_name))
                              : NULL;
    if (existing != NULL) {
        /* nats-server keeps the pause it has: a create does not change it */
        request.config.has_pause_until = existing->config.has_pause_until;
        request.config.pause_until = existing->config.pause_until;
    }
    const struct js_consumer_config_check_options options = {.pedantic = request.pedantic,
                                                             .stream = &stream->config};
    rc = js_consumer_config_metadata_set_static(&request.config);
    if (rc == 0) {
        rc = js_consumer_config_check(&request.config, &options, &error);
    } else {
        js_errors_setf(&error, JS_ERR_CONSUMER_CREATE, "%s", strerror(-rc));
    }
    if (rc == -ENOMEM) {
        js_errors_setf(&error, JS_ERR_CONSUMER_CREATE, "%s", strerror(ENOMEM));
    }
    if (rc == 0 && !js_consumer_dead_letter_valid(&request.config)) {
        js_errors_setf(&error, JS_ERR_CONSUMER_CREATE,
                       "metadata %s must be a literal subject to publish to",
                       "ionats.dead_letter");
        rc = -EINVAL;
    }
    if (rc == 0 && request.config.name != NULL &&
        strlen(request.config.name) > JS_STREAM_CONFIG_NAME_LENGTH_MAX) {
        /* as nats-server 2.15.1, whose store cannot name a file that long */
        js_errors_setf(&error, JS_ERR_CONSUMER_CREATE, "%s", "error creating store for consumer");
        rc = -EINVAL;
    }
    if (rc != 0) {
        js_api_reply_error(js, msg, type, &error);
    } else if (existing != NULL) {
        create_existing(js, msg, type, existing, &request);
    } else {
        create_new(js, msg, type, stream, &request);
    }
    js_consumer_request_free(&request);
}

/* ---- info, delete ---- */

struct js_consumer *js_consumer_api_named(struct js *js, const struct route_msg *msg,
                                          const char *type, const char *name,
                                          size_t name_length)
{
    struct request_subject subject;
    if (!subject_split(name, name_length, &subject) || subject.consumer == NULL ||
        subject.filter != NULL) {
        reply_error_id(js, msg, type, JS_ERR_BAD_REQUEST);
        return NULL;
    }
    struct js_stream *stream =
        js_api_stream_or_reply(js, msg, type, subject.stream, strlen(subject.stream));
    if (stream == NULL) {
        return NULL;
    }
    struct js_consumer *consumer =
        js_consumer_find(stream, subject.consumer, strlen(subject.consumer));
    if (consumer == NULL) {
        reply_error_id(js, msg, type, JS_ERR_CONSUMER_NOT_FOUND);
    }
    return consumer;
}

void js_consumer_api_info(struct js *js, const struct route_msg *msg, const char *name,
                          size_t name_length, const char *body, size_t body_length)
{
    static const char type[] = "consumer_info_response";
    if (!js_api_request_empty(body, body_length)) {
        reply_error_id(js, msg, type, JS_ERR_NOT_EMPTY_REQUEST);
        return;
    }
    struct js_consumer *consumer = js_consumer_api_named(js, msg, type, name, name_length);
    if (consumer != NULL) {
        reply_info(js, msg, type, consumer);
    }
}

void js_consumer_api_delete(struct js *js, const struct route_msg *msg, const char *name,
                            size_t name_length, const char *body, size_t body_length)
{
    static const char type[] = "consumer_delete_response";
    if (!js_api_request_empty(body, body_length)) {
        reply_error_id(js, msg, type, JS_ERR_NOT_EMPTY_REQUEST);
        return;
    }
    struct js_consumer *consumer = js_consumer_api_named(js, msg, type, name, name_length);
    if (consumer == NULL) {
        return;
    }
    js_consumer_event_action(consumer, false);
    js_consumer_delete(consumer);
    struct go_json json;
    js_api_reply_begin(&json, type);
    go_json_literal(&json, ",\"success\":true");
    js_api_reply_end(js, msg, &json);
}

/* ---- pause (2.11) ---- */

/* `unix_ns` as UTC wall-clock fields. */
static void time_utc(int64_t unix_ns, struct js_stream_time *out)
{
    int64_t seconds = unix_ns / 1000000000;
    int64_t nanos = unix_ns % 1000000000;
    if (nanos < 0) {
        nanos += 1000000000;
        seconds--;
    }
    time_t t = (time_t)seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    *out = (struct js_stream_time){
        .year = tm.tm_year + 1900,
        .month = (uint8_t)(tm.tm_mon + 1),
        .day = (uint8_t)tm.tm_mday,
        .hour = (uint8_t)tm.tm_hour,
        .minute = (uint8_t)tm.tm_min,
        .second = (uint8_t)tm.tm_sec,
        .nanosecond = (uint32_t)nanos,
    };
}

static void reply_pause(struct js *js, const struct route_msg *msg, const char *type,
                        struct js_consumer *consumer)
{
    int64_t paused = js_consumer_paused_until(consumer);
    struct go_json json;
    js_api_reply_begin(&json, type);
    go_json_key(&json, "paused");
    go_json_literal(&json, paused != 0 ? "true" : "false");
    go_json_key(&json, "pause_until");
    if (consumer->config.has_pause_until) {
        char text[64];
        js_stream_time_format(&consumer->config.pause_until, text, sizeof text);
        go_json_cstring(&json, text);
    } else {
        js_json_time(&json, 0);
    }
    if (paused != 0) {
        go_json_key(&json, "pause_remaining");
        go_json_int(&json, paused - js_now_ns());
    }
    js_api_reply_end(js, msg, &json);
}

/* The request's pause_until: 0 (none, or a JSON error replied: -EINVAL). */
static int pause_read(struct js *js, const struct route_msg *msg, const char *type,
                      const char *body, size_t body_length, bool *has, struct js_stream_time *until)
{
    *has = false;
    json_t *request = js_api_body_parse(js, msg, type, body, body_length);
    if (request == NULL) {
        return -EINVAL;
    }
    const json_t *value = json_object_get(request, "pause_until");
    int rc = 0;
    if (json_is_string(value)) {
        char text[JS_STREAM_TIME_ERROR_SIZE];
        rc = js_stream_time_parse(json_string_value(value), json_string_length(value), until,
                                  text, sizeof text);
        if (rc != 0) {
            struct js_error error;
            js_errors_setf(&error, JS_ERR_INVALID_JSON, "%s", text);
            js_api_reply_error(js, msg, type, &error);
        } else {
            /* the zero time is no pause, as Go's IsZero */
            *has = until->year > 1 || until->month > 1 || until->day > 1 || until->hour > 0 ||
                   until->minute > 0 || until->second > 0 || until->nanosecond > 0;
        }
    }
    json_decref(request);
    return rc;
}

void js_consumer_api_pause(struct js *js, const struct route_msg *msg, const char *name,
                           size_t name_length, const char *body, size_t body_length)
{
    static const char type[] = "consumer_pause_response";
    bool has = false;
    struct js_stream_time until = {0};
    if (pause_read(js, msg, type, body, body_length, &has, &until) != 0) {
        return;
    }
    struct js_consumer *consumer = js_consumer_api_named(js, msg, type, name, name_length);
    if (consumer == NULL) {
        return;
    }
    struct js_consumer_config config;
    struct js_error error;
    if (js_consumer_config_copy(&config, &consumer->config) != 0) {
        js_errors_setf(&error, JS_ERR_CONSUMER_CREATE, "%s", strerror(ENOMEM));
        js_api_reply_error(js, msg, type, &error);
        return;
    }
    if (has && until.year > 1678 && until.year < 2262) {
        /* as UTC, the wall-clock fields of the same instant (nats-server keeps it in UTC) */
        int64_t unix_ns = js_stream_time_unix_ns(&until);
        time_utc(unix_ns, &until);
    }
    config.has_pause_until = has;
    config.pause_until = until;
    if (js_consumer_update(consumer, &config, &error) != 0) {
        js_consumer_config_free(&config);
        js_api_reply_error(js, msg, type, &error);
        return;
    }
    js_consumer_event_pause(consumer, js_consumer_paused_until(consumer));
    js_consumer_wake(consumer); /* a resume delivers at once */
    reply_pause(js, msg, type, consumer);
}

/* ---- names and list ---- */

static void names_or_list(struct js *js, const struct route_msg *msg, const char *name,
                          size_t name_length, const char *body, size_t body_length,
                          bool list)
{
    const char *type = list ? "consumer_list_response" : "consumer_names_response";
    struct request_subject subject;
    if (!subject_split(name, name_length, &subject) || subject.consumer != NULL) {
        reply_error_id(js, msg, type, JS_ERR_BAD_REQUEST);
        return;
    }
    json_t *request = js_api_body_parse(js, msg, type, body, body_length);
    if (request == NULL) {
        return;
    }
    uint64_t offset = js_api_json_u64(request, "offset");
    json_decref(request);
    struct js_stream *stream =
        js_api_stream_or_reply(js, msg, type, subject.stream, strlen(subject.stream));
    if (stream == NULL) {
        return;
    }
    size_t page = list ? CONSUMER_LIST_PAGE : CONSUMER_NAMES_PAGE;
    size_t total = stream->consumer_count - stream->direct_consumer_count; /* public ones */
    size_t first = offset < total ? (size_t)offset : total;
    size_t end = total - first > page ? first + page : total;
    struct go_json json;
    js_api_reply_begin(&json, type);
    go_json_key(&json, "total");
    go_json_uint(&json, total);
    go_json_key(&json, "offset");
    go_json_uint(&json, first);
    go_json_key(&json, "limit");
    go_json_uint(&json, page);
    go_json_key(&json, "consumers");
    go_json_literal(&json, "[");
    size_t seen = 0; /* public consumers passed */
    for (size_t i = 0; i < stream->consumer_count && seen < end; i++) {
        const struct js_consumer *consumer = stream->consumers[i];
        if (consumer->config.direct || seen++ < first) {
            continue;
        }
        go_json_comma(&json);
        if (list) {
            go_json_literal(&json, "{");
            js_consumer_info_json(stream->consumers[i], &json, true);
            go_json_literal(&json, "}");
        } else {
            go_json_cstring(&json, consumer->name);
        }
    }
    go_json_literal(&json, "]");
    js_api_reply_end(js, msg, &json);
}

void js_consumer_api_names(struct js *js, const struct route_msg *msg, const char *name,
                           size_t name_length, const char *body, size_t body_length)
{
    names_or_list(js, msg, name, name_length, body, body_length, false);
}

void js_consumer_api_list(struct js *js, const struct route_msg *msg, const char *name,
                          size_t name_length, const char *body, size_t body_length)
{
    names_or_list(js, msg, name, name_length, body, body_length, true);
}
