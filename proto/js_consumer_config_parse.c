/* Request body -> struct js_consumer_request, as nats-server's strict Go decoding does it
 * (see js_consumer_config.h), and the config's life: init, free, copy.
 *
 * The walk is the stream config's (js_stream_config_parse.c): the scanner
 * (js_stream_config_scan.c) takes one top-level value at a time with Go's syntax errors,
 * jansson parses it, and each member is decoded here in document order into a
 * CreateConsumerRequest, stopping at the first error, with the scalar decoders and Go's
 * texts of js_stream_config_value.c; every path in a message starts at
 * "CreateConsumerRequest" ("...config.ack_wait of type time.Duration"). The policies and
 * the action have nats-server's own decoders, which take exactly their JSON strings and
 * refuse anything else, null included:
 *   can not unmarshal "\"foo\""           deliver_policy, ack_policy, replay_policy
 *   unknown priority policy: "x"         priority_policy (the raw bytes, unquoted)
 *   unknown consumer action: 1           action
 * The differences from Go are the stream parse's (a key given twice keeps its last value,
 * raw text re-encoded, "\u0000" refused). Pure functions, any thread. */
#include "proto/js_consumer_config.h"
#include "proto/js_stream_config_internal.h"

#include "base/assert.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Go type nats-server decodes a create request into, first in every message's path. */
static const char JS_CONSUMER_DECODE_ROOT[] = "CreateConsumerRequest";

STATIC_ASSERT((int)JS_CONSUMER_CONFIG_FILTERS_MAX == (int)JS_STREAM_CONFIG_SUBJECTS_MAX,
              "filter_subjects are decoded as a stream's subjects, with their bound");
STATIC_ASSERT((int)JS_CONSUMER_CONFIG_PRIORITY_GROUPS_MAX == (int)JS_STREAM_CONFIG_TAGS_MAX,
              "priority_groups are decoded as placement tags, with their bound");
STATIC_ASSERT((int)JS_CONSUMER_CONFIG_METADATA_ENTRIES_MAX ==
                  (int)JS_STREAM_CONFIG_METADATA_ENTRIES_MAX,
              "metadata is decoded by the stream's decoder, with its bound");

#define JS_K(field) offsetof(struct js_consumer_config, field)

/* ConsumerConfig's JSON keys, in its order. */
static const struct js_stream_field js_consumer_fields[] = {
    {"durable_name", JS_F_STRING, JS_K(durable_name), 0},
    {"name", JS_F_STRING, JS_K(name), 0},
    {"description", JS_F_STRING, JS_K(description), 0},
    {"deliver_policy", JS_F_DELIVER_POLICY, JS_K(deliver_policy), 0},
    {"opt_start_seq", JS_F_UINT64, JS_K(opt_start_seq), 0},
    {"opt_start_time", JS_F_TIME, JS_K(opt_start_time), JS_K(has_opt_start_time)},
    {"ack_policy", JS_F_ACK_POLICY, JS_K(ack_policy), 0},
    {"ack_wait", JS_F_DURATION, JS_K(ack_wait_ns), 0},
    {"max_deliver", JS_F_INT, JS_K(max_deliver), 0},
    {"backoff", JS_F_DURATIONS, JS_K(backoff_ns), JS_K(backoff_count)},
    {"filter_subject", JS_F_SUBJECT, JS_K(filter_subject), 0},
    {"filter_subjects", JS_F_SUBJECTS, JS_K(filter_subjects), JS_K(filter_subject_count)},
    {"replay_policy", JS_F_REPLAY_POLICY, JS_K(replay_policy), 0},
    {"rate_limit_bps", JS_F_UINT64, JS_K(rate_limit_bps), 0},
    {"sample_freq", JS_F_STRING, JS_K(sample_freq), 0},
    {"max_waiting", JS_F_INT, JS_K(max_waiting), 0},
    {"max_ack_pending", JS_F_INT, JS_K(max_ack_pending), 0},
    {"flow_control", JS_F_BOOL, JS_K(flow_control), 0},
    {"headers_only", JS_F_BOOL, JS_K(headers_only), 0},
    {"max_batch", JS_F_INT, JS_K(max_batch), 0},
    {"max_expires", JS_F_DURATION, JS_K(max_expires_ns), 0},
    {"max_bytes", JS_F_INT, JS_K(max_bytes), 0},
    {"deliver_subject", JS_F_SUBJECT, JS_K(deliver_subject), 0},
    {"deliver_group", JS_F_STRING, JS_K(deliver_group), 0},
    {"idle_heartbeat", JS_F_DURATION, JS_K(idle_heartbeat_ns), 0},
    {"inactive_threshold", JS_F_DURATION, JS_K(inactive_threshold_ns), 0},
    {"num_replicas", JS_F_INT, JS_K(num_replicas), 0},
    {"mem_storage", JS_F_BOOL, JS_K(mem_storage), 0},
    {"direct", JS_F_BOOL, JS_K(direct), 0},
    {"sourcing", JS_F_BOOL, JS_K(sourcing), 0},
    {"metadata", JS_F_METADATA, JS_K(metadata), JS_K(metadata_count)},
    {"pause_until", JS_F_TIME, JS_K(pause_until), JS_K(has_pause_until)},
    {"priority_groups", JS_F_TAGS, JS_K(priority_groups), JS_K(priority_group_count)},
    {"priority_policy", JS_F_PRIORITY_POLICY, JS_K(priority_policy), 0},
    {"priority_timeout", JS_F_DURATION, JS_K(priority_timeout_ns), 0},
    {NULL, 0, 0, 0},
};

#define JS_R(field) offsetof(struct js_consumer_request, field)

static const struct js_stream_field js_request_fields[] = {
    {"stream_name", JS_F_STRING, JS_R(stream_name), 0},
    {"config", JS_F_CONSUMER_CONFIG, JS_R(config), 0},
    {"action", JS_F_ACTION, JS_R(action), 0},
    {"pedantic", JS_F_BOOL, JS_R(pedantic), 0},
    {NULL, 0, 0, 0},
};

/* ---- life ---------------------------------------------------------------------------- */

void js_consumer_config_init(struct js_consumer_config *config)
{
    memset(config, 0, sizeof *config);
}

void js_consumer_config_free(struct js_consumer_config *config)
{
    free(config->durable_name);
    free(config->name);
    free(config->description);
    free(config->backoff_ns);
    free(config->filter_subject);
    js_stream_value_free_strings(config->filter_subjects, config->filter_subject_count);
    free(config->sample_freq);
    free(config->deliver_subject);
    free(config->deliver_group);
    js_stream_value_free_metadata(config->metadata, config->metadata_count);
    js_stream_value_free_strings(config->priority_groups, config->priority_group_count);
    js_consumer_config_init(config);
}

void js_consumer_request_free(struct js_consumer_request *request)
{
    free(request->stream_name);
    js_consumer_config_free(&request->config);
    memset(request, 0, sizeof *request);
}

/* A copy of an owned string (NULL stays NULL); false when memory ran out. */
static bool js_copy_text(char **out, const char *from)
{
    *out = NULL;
    if (from == NULL) {
        return true;
    }
    *out = strdup(from);
    return *out != NULL;
}

/* A copy of an array of owned strings; when the array itself can not be had, the count
 * becomes 0 so that the copy frees cleanly. */
static bool js_copy_strings(char ***out, size_t *out_count, char *const *from, size_t count)
{
    *out = NULL;
    if (count == 0) {
        return true;
    }
    *out = calloc(count, sizeof **out);
    if (*out == NULL) {
        *out_count = 0;
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        if (!js_copy_text(&(*out)[i], from[i])) {
            return false;
        }
    }
    return true;
}

static bool js_copy_metadata(struct js_stream_metadata_entry **out, size_t *out_count,
                             const struct js_stream_metadata_entry *from, size_t count)
{
    *out = NULL;
    if (count == 0) {
        return true;
    }
    *out = calloc(count, sizeof **out);
    if (*out == NULL) {
        *out_count = 0;
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        if (!js_copy_text(&(*out)[i].key, from[i].key) ||
            !js_copy_text(&(*out)[i].value, from[i].value)) {
            return false;
        }
    }
    return true;
}

int js_consumer_config_copy(struct js_consumer_config *out, const struct js_consumer_config *from)
{
    *out = *from;
    /* every owned pointer is replaced before anything can fail, so a failure part way
     * frees only copies: an array's slots not yet copied are NULL, which free skips */
    bool copied = js_copy_text(&out->durable_name, from->durable_name);
    copied = js_copy_text(&out->name, from->name) && copied;
    copied = js_copy_text(&out->description, from->description) && copied;
    copied = js_copy_text(&out->filter_subject, from->filter_subject) && copied;
    copied = js_copy_text(&out->sample_freq, from->sample_freq) && copied;
    copied = js_copy_text(&out->deliver_subject, from->deliver_subject) && copied;
    copied = js_copy_text(&out->deliver_group, from->deliver_group) && copied;
    copied = js_copy_strings(&out->filter_subjects, &out->filter_subject_count,
                             from->filter_subjects, from->filter_subject_count) &&
             copied;
    copied = js_copy_strings(&out->priority_groups, &out->priority_group_count,
                             from->priority_groups, from->priority_group_count) &&
             copied;
    copied = js_copy_metadata(&out->metadata, &out->metadata_count, from->metadata,
                              from->metadata_count) &&
             copied;
    out->backoff_ns = NULL;
    if (from->backoff_count > 0) {
        out->backoff_ns = malloc(from->backoff_count * sizeof *out->backoff_ns);
        if (out->backoff_ns != NULL) {
            memcpy(out->backoff_ns, from->backoff_ns,
                   from->backoff_count * sizeof *out->backoff_ns);
        }
        copied = out->backoff_ns != NULL && copied;
    }
    if (!copied) {
        js_consumer_config_free(out);
        return -ENOMEM;
    }
    return 0;
}

/* ---- nats-server's own decoders -------------------------------------------------------- */

/* A JSON string value equal to `text` (as nats-server compares the raw bytes). */
static bool js_decode_is(const json_t *value, const char *text)
{
    return json_is_string(value) && json_string_length(value) == strlen(text) &&
           strcmp(json_string_value(value), text) == 0;
}

/* deliver_policy, ack_policy, replay_policy: store.go's UnmarshalJSON for each. */
static int js_decode_policy(struct js_stream_decode *decode, const json_t *value,
                            enum js_stream_field_kind kind, void *target)
{
    static const struct {
        const char *text;
        enum js_stream_field_kind kind;
        int value;
    } names[] = {
        {"all", JS_F_DELIVER_POLICY, JS_CONSUMER_DELIVER_ALL},
        {"undefined", JS_F_DELIVER_POLICY, JS_CONSUMER_DELIVER_ALL},
        {"last", JS_F_DELIVER_POLICY, JS_CONSUMER_DELIVER_LAST},
        {"last_per_subject", JS_F_DELIVER_POLICY, JS_CONSUMER_DELIVER_LAST_PER_SUBJECT},
        {"new", JS_F_DELIVER_POLICY, JS_CONSUMER_DELIVER_NEW},
        {"by_start_sequence", JS_F_DELIVER_POLICY, JS_CONSUMER_DELIVER_BY_START_SEQUENCE},
        {"by_start_time", JS_F_DELIVER_POLICY, JS_CONSUMER_DELIVER_BY_START_TIME},
        {"none", JS_F_ACK_POLICY, JS_CONSUMER_ACK_NONE},
        {"all", JS_F_ACK_POLICY, JS_CONSUMER_ACK_ALL},
        {"explicit", JS_F_ACK_POLICY, JS_CONSUMER_ACK_EXPLICIT},
        {"flow_control", JS_F_ACK_POLICY, JS_CONSUMER_ACK_FLOW_CONTROL},
        {"instant", JS_F_REPLAY_POLICY, JS_CONSUMER_REPLAY_INSTANT},
        {"original", JS_F_REPLAY_POLICY, JS_CONSUMER_REPLAY_ORIGINAL},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].kind == kind && js_decode_is(value, names[i].text)) {
            int decoded = names[i].value;
            memcpy(target, &decoded, sizeof decoded);
            return 0;
        }
    }
    return js_stream_value_enum_error(decode, value);
}

/* priority_policy and action: consumer.go's UnmarshalJSON, which words its refusal with
 * the raw bytes as they are ("unknown priority policy: null"). */
static int js_decode_named(struct js_stream_decode *decode, const json_t *value,
                           enum js_stream_field_kind kind, void *target)
{
    static const struct {
        const char *text;
        enum js_stream_field_kind kind;
        int value;
    } names[] = {
        {"none", JS_F_PRIORITY_POLICY, JS_CONSUMER_PRIORITY_NONE},
        {"overflow", JS_F_PRIORITY_POLICY, JS_CONSUMER_PRIORITY_OVERFLOW},
        {"pinned_client", JS_F_PRIORITY_POLICY, JS_CONSUMER_PRIORITY_PINNED_CLIENT},
        {"prioritized", JS_F_PRIORITY_POLICY, JS_CONSUMER_PRIORITY_PRIORITIZED},
        {"", JS_F_ACTION, JS_CONSUMER_ACTION_CREATE_OR_UPDATE},
        {"create", JS_F_ACTION, JS_CONSUMER_ACTION_CREATE},
        {"update", JS_F_ACTION, JS_CONSUMER_ACTION_UPDATE},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].kind == kind && js_decode_is(value, names[i].text)) {
            int decoded = names[i].value;
            memcpy(target, &decoded, sizeof decoded);
            return 0;
        }
    }
    char raw[JS_ERROR_DESCRIPTION_SIZE / 2];
    if (js_stream_value_raw(decode, value, raw, sizeof raw) != 0) {
        return -ENOMEM;
    }
    const char *what = kind == JS_F_ACTION ? "unknown consumer action" : "unknown priority policy";
    js_errors_setf(decode->error, JS_ERR_INVALID_JSON, "%s: %s", what, raw);
    return -EINVAL;
}

/* backoff, a []time.Duration: null empties it, an array replaces it (a null element is
 * 0, as Go leaves it). Budget: JS_CONSUMER_CONFIG_BACKOFF_MAX elements. */
static int js_decode_durations(struct js_stream_decode *decode, const json_t *value,
                               int64_t **target, size_t *count)
{
    if (json_is_null(value)) {
        free(*target);
        *target = NULL;
        *count = 0;
        return 0;
    }
    if (!json_is_array(value)) {
        return js_stream_value_type_error(decode, value, "[]time.Duration", false);
    }
    size_t size = json_array_size(value);
    if (size > JS_CONSUMER_CONFIG_BACKOFF_MAX) {
        return js_stream_value_bound(decode, "entries", JS_CONSUMER_CONFIG_BACKOFF_MAX);
    }
    int64_t *durations = calloc(size ? size : 1, sizeof *durations);
    if (durations == NULL) {
        return -ENOMEM;
    }
    static const struct js_stream_field element = {NULL, JS_F_DURATION, 0, 0};
    for (size_t i = 0; i < size; i++) {
        js_stream_value_push(decode, NULL, i, true);
        int rc = js_stream_value_scalar(decode, json_array_get(value, i), &element,
                                        (char *)&durations[i]);
        js_stream_value_pop(decode);
        if (rc != 0) {
            free(durations);
            return rc;
        }
    }
    free(*target);
    *target = durations;
    *count = size;
    return 0;
}

/* ---- objects ------------------------------------------------------------------------- */

static int js_decode_member(struct js_stream_decode *decode, const json_t *value,
                            const struct js_stream_field *field, char *base);
static int js_decode_member_value(struct js_stream_decode *decode, const json_t *value,
                                  const struct js_stream_field *field, char *base);

/* An object whose keys name `fields` into `base`: an unknown key is refused, each member is
 * decoded with its field on the path. Budget: one turn per member of an object the scanner
 * bounded. */
static int js_decode_object(struct js_stream_decode *decode, const json_t *value,
                            const struct js_stream_field *fields, char *base)
{
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)value, key, member)
    {
        const struct js_stream_field *field = js_stream_value_field_find(fields, key);
        if (field == NULL) {
            return js_stream_value_unknown(decode, key, strlen(key));
        }
        js_stream_value_push(decode, field->name, 0, false);
        int rc = js_decode_member(decode, member, field, base);
        js_stream_value_pop(decode);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* The "config" member: null leaves it, an object is decoded into it. The call graph has no
 * cycle: a config holds no request, so this never reaches itself. */
static int js_decode_config(struct js_stream_decode *decode, const json_t *value,
                            struct js_consumer_config *config)
{
    if (json_is_null(value)) {
        return 0;
    }
    if (!json_is_object(value)) {
        return js_stream_value_type_error(decode, value, "server.ConsumerConfig", false);
    }
    return js_decode_object(decode, value, js_consumer_fields, (char *)config);
}

/* Where a config remembers that an array was given empty, for the array at `offset`. */
static bool *js_decode_empty_flag(struct js_consumer_config *config, size_t offset)
{
    if (offset == JS_K(backoff_ns)) {
        return &config->backoff_empty;
    }
    if (offset == JS_K(filter_subjects)) {
        return &config->filter_subjects_empty;
    }
    if (offset == JS_K(priority_groups)) {
        return &config->priority_groups_empty;
    }
    return NULL;
}

/* One member into base + field->offset, by its kind; an array of the config also says
 * whether it was given empty. */
static int js_decode_member(struct js_stream_decode *decode, const json_t *value,
                            const struct js_stream_field *field, char *base)
{
    bool *empty = NULL;
    if (field->kind == JS_F_DURATIONS || field->kind == JS_F_SUBJECTS || field->kind == JS_F_TAGS) {
        empty = js_decode_empty_flag((struct js_consumer_config *)base, field->offset);
    }
    int rc = js_decode_member_value(decode, value, field, base);
    if (rc == 0 && empty != NULL) {
        *empty = json_is_array(value) && json_array_size(value) == 0;
    }
    return rc;
}

/* One member's value into base + field->offset, by its kind. */
static int js_decode_member_value(struct js_stream_decode *decode, const json_t *value,
                                  const struct js_stream_field *field, char *base)
{
    void *target = base + field->offset;
    switch (field->kind) {
    case JS_F_CONSUMER_CONFIG:
        return js_decode_config(decode, value, target);
    case JS_F_DELIVER_POLICY:
    case JS_F_ACK_POLICY:
    case JS_F_REPLAY_POLICY:
        return js_decode_policy(decode, value, field->kind, target);
    case JS_F_PRIORITY_POLICY:
    case JS_F_ACTION:
        return js_decode_named(decode, value, field->kind, target);
    case JS_F_DURATIONS:
        return js_decode_durations(decode, value, target, (size_t *)(base + field->present));
    case JS_F_METADATA:
        return js_stream_value_metadata_into(decode, value, target,
                                             (size_t *)(base + field->present));
    default:
        return js_stream_value_scalar(decode, value, field, base);
    }
}

/* Parses the scanner's copy of one top-level value with jansson and decodes it. */
static int js_decode_value(struct js_stream_scan *scan, struct js_consumer_request *request,
                           struct js_error *error)
{
    json_error_t json_error;
    json_t *root = json_loadb(scan->value.data, scan->value.length,
                              JSON_DECODE_ANY | JSON_ALLOW_NUL, &json_error);
    if (root == NULL) {
        /* the scanner passed it, so only memory can be short here */
        return -ENOMEM;
    }
    struct js_stream_decode decode = {
        .scan = scan, .error = error, .root = JS_CONSUMER_DECODE_ROOT};
    int rc = 0;
    if (json_is_object(root)) {
        rc = js_decode_object(&decode, root, js_request_fields, (char *)request);
    } else if (!json_is_null(root)) {
        rc = js_stream_value_type_error(&decode, root, NULL, false);
    }
    ASSERT(decode.depth == 0);
    json_decref(root);
    return rc;
}

int js_consumer_request_parse(const char *body, size_t length, struct js_consumer_request *request,
                              struct js_error *error)
{
    ASSERT(body != NULL || length == 0);
    js_errors_clear(error);
    memset(request, 0, sizeof *request);
    struct js_stream_scan scan;
    js_stream_scan_init(&scan, body ? body : "", length);
    int rc;
    while ((rc = js_stream_scan_next(&scan, error)) == 1) {
        rc = js_decode_value(&scan, request, error);
        if (rc != 0) {
            break;
        }
    }
    js_stream_scan_free(&scan);
    if (rc != 0) {
        js_consumer_request_free(request);
        return rc;
    }
    return 0;
}
