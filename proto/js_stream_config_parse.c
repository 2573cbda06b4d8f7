/* Request body -> struct js_stream_config, as nats-server's strict Go decoding does it:
 * see js_stream_config.h.
 *
 * The body is walked one top-level value at a time by the scanner
 * (js_stream_config_scan.c: Go's syntax errors), each value is parsed by jansson and then
 * decoded here member by member, in document order, stopping at the first error as Go's
 * decoder does. Go's texts, with the path of field names from the root:
 *   json: unknown field "foo"
 *   json: cannot unmarshal string into Go struct field StreamConfigRequest.max_msgs of type int64
 *   json: cannot unmarshal number 1.5 into Go struct field StreamConfigRequest.max_msgs of type int64
 *   json: cannot unmarshal number into StreamConfigRequest.subjects.0 of type string
 *     (an array element: no "Go struct field")
 *   can not unmarshal "\"foo\""       (retention, discard, storage, persist_mode: the raw
 *                                       value, as nats-server's UnmarshalJSON says it)
 *   unknown compression algorithm
 *   parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006"
 * A null leaves a field as it is, except that it empties a pointer, slice or map field and
 * is refused by the enum fields. Keys match case-insensitively (ASCII).
 *
 * Known differences from Go, all in requests no client library sends: a key given twice
 * in one object keeps only its last value (Go decodes both, merging objects); the raw
 * text quoted for an enum is re-encoded from the parsed value (Go quotes the bytes as
 * sent, escapes included); a string holding "\u0000" is refused (ionats keeps strings
 * NUL-terminated). The decoder's call graph has no cycle: each struct of the schema has
 * its own function. Pure functions, any thread. */
#include "proto/js_stream_config_internal.h"

#include "base/assert.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The root of every path in Go's messages: nats-server decodes into StreamConfigRequest. */
static const char JS_DECODE_ROOT[] = "StreamConfigRequest";

/* Deepest path in the schema: sources.N.subject_transforms.N.dest, with room to spare. */
enum { JS_DECODE_PATH_MAX = 8 };

/* The request: a StreamConfig plus its "pedantic" flag. */
struct js_decode_request {
    struct js_stream_config config;
    bool pedantic;
};

enum js_field_kind {
    JS_F_STRING,      /* char *, any length */
    JS_F_SUBJECT,     /* char *, at most JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX bytes */
    JS_F_INT,         /* int64_t, Go int */
    JS_F_INT64,
    JS_F_INT32,       /* int32_t */
    JS_F_UINT64,      /* uint64_t */
    JS_F_DURATION,    /* int64_t nanoseconds, Go time.Duration */
    JS_F_BOOL,
    JS_F_RETENTION,
    JS_F_DISCARD,
    JS_F_STORAGE,
    JS_F_COMPRESSION,
    JS_F_PERSIST,
    JS_F_TIME,        /* struct js_stream_time; `present` is its bool */
    JS_F_SUBJECTS,    /* char ** and a size_t count (`present`), [] of JS_F_SUBJECT */
    JS_F_TAGS,        /* char ** and a size_t count (`present`), [] of JS_F_STRING */
    JS_F_METADATA,
    /* structs, decoded by their owner's function */
    JS_F_PLACEMENT,
    JS_F_MIRROR,
    JS_F_SOURCES,
    JS_F_TRANSFORM,
    JS_F_TRANSFORMS,
    JS_F_REPUBLISH,
    JS_F_CONSUMER_LIMITS,
    JS_F_EXTERNAL,
    JS_F_SOURCE_CONSUMER,
};

struct js_field {
    const char *name;      /* the JSON key, as nats-server's struct tag names it */
    enum js_field_kind kind;
    size_t offset;         /* of the value in its struct */
    size_t present;        /* of its bool "has" flag or size_t count, when it has one */
};

/* Go's name for each kind's type, as its messages print it. */
static const char *const js_kind_type[] = {
    [JS_F_STRING] = "string",
    [JS_F_SUBJECT] = "string",
    [JS_F_INT] = "int",
    [JS_F_INT64] = "int64",
    [JS_F_INT32] = "int32",
    [JS_F_UINT64] = "uint64",
    [JS_F_DURATION] = "time.Duration",
    [JS_F_BOOL] = "bool",
    [JS_F_TIME] = "time.Time",
    [JS_F_SUBJECTS] = "[]string",
    [JS_F_TAGS] = "[]string",
    [JS_F_METADATA] = "map[string]string",
    [JS_F_PLACEMENT] = "server.Placement",
    [JS_F_MIRROR] = "server.StreamSource",
    [JS_F_SOURCES] = "[]*server.StreamSource",
    [JS_F_TRANSFORM] = "server.SubjectTransformConfig",
    [JS_F_TRANSFORMS] = "[]server.SubjectTransformConfig",
    [JS_F_REPUBLISH] = "server.RePublish",
    [JS_F_CONSUMER_LIMITS] = "server.StreamConsumerLimits",
    [JS_F_EXTERNAL] = "server.ExternalStream",
    [JS_F_SOURCE_CONSUMER] = "server.StreamConsumerSource",
};

#define JS_C(field) offsetof(struct js_decode_request, config.field)

static const struct js_field js_config_fields[] = {
    {"name", JS_F_STRING, JS_C(name), 0},
    {"description", JS_F_STRING, JS_C(description), 0},
    {"subjects", JS_F_SUBJECTS, JS_C(subjects), JS_C(subject_count)},
    {"retention", JS_F_RETENTION, JS_C(retention), 0},
    {"max_consumers", JS_F_INT, JS_C(max_consumers), 0},
    {"max_msgs", JS_F_INT64, JS_C(max_msgs), 0},
    {"max_bytes", JS_F_INT64, JS_C(max_bytes), 0},
    {"max_age", JS_F_DURATION, JS_C(max_age_ns), 0},
    {"max_msgs_per_subject", JS_F_INT64, JS_C(max_msgs_per_subject), 0},
    {"max_msg_size", JS_F_INT32, JS_C(max_msg_size), 0},
    {"discard", JS_F_DISCARD, JS_C(discard), 0},
    {"storage", JS_F_STORAGE, JS_C(storage), 0},
    {"num_replicas", JS_F_INT, JS_C(num_replicas), 0},
    {"no_ack", JS_F_BOOL, JS_C(no_ack), 0},
    {"duplicate_window", JS_F_DURATION, JS_C(duplicate_window_ns), 0},
    {"placement", JS_F_PLACEMENT, JS_C(placement), JS_C(has_placement)},
    {"mirror", JS_F_MIRROR, JS_C(mirror), 0},
    {"sources", JS_F_SOURCES, JS_C(sources), JS_C(source_count)},
    {"compression", JS_F_COMPRESSION, JS_C(compression), 0},
    {"first_seq", JS_F_UINT64, JS_C(first_seq), 0},
    {"subject_transform", JS_F_TRANSFORM, JS_C(subject_transform), JS_C(has_subject_transform)},
    {"republish", JS_F_REPUBLISH, JS_C(republish), JS_C(has_republish)},
    {"allow_direct", JS_F_BOOL, JS_C(allow_direct), 0},
    {"mirror_direct", JS_F_BOOL, JS_C(mirror_direct), 0},
    {"discard_new_per_subject", JS_F_BOOL, JS_C(discard_new_per_subject), 0},
    {"sealed", JS_F_BOOL, JS_C(sealed), 0},
    {"deny_delete", JS_F_BOOL, JS_C(deny_delete), 0},
    {"deny_purge", JS_F_BOOL, JS_C(deny_purge), 0},
    {"allow_rollup_hdrs", JS_F_BOOL, JS_C(allow_rollup_hdrs), 0},
    {"consumer_limits", JS_F_CONSUMER_LIMITS, JS_C(consumer_limits), 0},
    {"allow_msg_ttl", JS_F_BOOL, JS_C(allow_msg_ttl), 0},
    {"subject_delete_marker_ttl", JS_F_DURATION, JS_C(subject_delete_marker_ttl_ns), 0},
    {"allow_msg_counter", JS_F_BOOL, JS_C(allow_msg_counter), 0},
    {"allow_atomic", JS_F_BOOL, JS_C(allow_atomic), 0},
    {"allow_msg_schedules", JS_F_BOOL, JS_C(allow_msg_schedules), 0},
    {"persist_mode", JS_F_PERSIST, JS_C(persist_mode), 0},
    {"allow_batched", JS_F_BOOL, JS_C(allow_batched), 0},
    {"metadata", JS_F_METADATA, JS_C(metadata), JS_C(metadata_count)},
    {"pedantic", JS_F_BOOL, offsetof(struct js_decode_request, pedantic), 0},
    {NULL, 0, 0, 0},
};

#define JS_S(field) offsetof(struct js_stream_source, field)

static const struct js_field js_source_fields[] = {
    {"name", JS_F_STRING, JS_S(name), 0},
    {"opt_start_seq", JS_F_UINT64, JS_S(opt_start_seq), 0},
    {"opt_start_time", JS_F_TIME, JS_S(opt_start_time), JS_S(has_opt_start_time)},
    {"filter_subject", JS_F_SUBJECT, JS_S(filter_subject), 0},
    {"subject_transforms", JS_F_TRANSFORMS, JS_S(subject_transforms),
     JS_S(subject_transform_count)},
    {"external", JS_F_EXTERNAL, JS_S(external), JS_S(has_external)},
    {"consumer", JS_F_SOURCE_CONSUMER, JS_S(consumer), JS_S(has_consumer)},
    {NULL, 0, 0, 0},
};

static const struct js_field js_transform_fields[] = {
    {"src", JS_F_SUBJECT, offsetof(struct js_stream_subject_transform, src), 0},
    {"dest", JS_F_SUBJECT, offsetof(struct js_stream_subject_transform, dest), 0},
    {NULL, 0, 0, 0},
};

static const struct js_field js_external_fields[] = {
    {"api", JS_F_SUBJECT, offsetof(struct js_stream_external, api), 0},
    {"deliver", JS_F_SUBJECT, offsetof(struct js_stream_external, deliver), 0},
    {NULL, 0, 0, 0},
};

static const struct js_field js_source_consumer_fields[] = {
    {"name", JS_F_STRING, offsetof(struct js_stream_source_consumer, name), 0},
    {"deliver_subject", JS_F_SUBJECT, offsetof(struct js_stream_source_consumer, deliver_subject),
     0},
    {NULL, 0, 0, 0},
};

static const struct js_field js_placement_fields[] = {
    {"cluster", JS_F_STRING, offsetof(struct js_stream_placement, cluster), 0},
    {"tags", JS_F_TAGS, offsetof(struct js_stream_placement, tags),
     offsetof(struct js_stream_placement, tag_count)},
    {"preferred", JS_F_STRING, offsetof(struct js_stream_placement, preferred), 0},
    {NULL, 0, 0, 0},
};

static const struct js_field js_republish_fields[] = {
    {"src", JS_F_SUBJECT, offsetof(struct js_stream_republish, src), 0},
    {"dest", JS_F_SUBJECT, offsetof(struct js_stream_republish, dest), 0},
    {"headers_only", JS_F_BOOL, offsetof(struct js_stream_republish, headers_only), 0},
    {NULL, 0, 0, 0},
};

static const struct js_field js_consumer_limits_fields[] = {
    {"inactive_threshold", JS_F_DURATION,
     offsetof(struct js_stream_consumer_limits, inactive_threshold_ns), 0},
    {"max_ack_pending", JS_F_INT, offsetof(struct js_stream_consumer_limits, max_ack_pending), 0},
    {NULL, 0, 0, 0},
};

/* The walk's state: where it is (for messages) and what the scanner replaced. */
struct js_decode {
    const struct js_stream_scan *scan;
    struct js_error *error;
    struct {
        const char *name; /* a field name or map key, or NULL for an array index */
        size_t index;
        bool in_array;    /* this element's container is an array */
    } path[JS_DECODE_PATH_MAX];
    size_t depth;
};

/* ---- freeing ----------------------------------------------------------------------- */

static void js_free_strings(char **strings, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(strings[i]);
    }
    free(strings);
}

static void js_transform_free(struct js_stream_subject_transform *transform)
{
    free(transform->src);
    free(transform->dest);
    memset(transform, 0, sizeof *transform);
}

static void js_source_free(struct js_stream_source *source)
{
    free(source->name);
    free(source->filter_subject);
    for (size_t i = 0; i < source->subject_transform_count; i++) {
        js_transform_free(&source->subject_transforms[i]);
    }
    free(source->subject_transforms);
    free(source->external.api);
    free(source->external.deliver);
    free(source->consumer.name);
    free(source->consumer.deliver_subject);
    memset(source, 0, sizeof *source);
}

static void js_sources_free(struct js_stream_source *sources, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        js_source_free(&sources[i]);
    }
    free(sources);
}

static void js_placement_free(struct js_stream_placement *placement)
{
    free(placement->cluster);
    js_free_strings(placement->tags, placement->tag_count);
    free(placement->preferred);
    memset(placement, 0, sizeof *placement);
}

static void js_metadata_free(struct js_stream_metadata_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(entries[i].key);
        free(entries[i].value);
    }
    free(entries);
}

void js_stream_config_init(struct js_stream_config *config)
{
    memset(config, 0, sizeof *config);
}

void js_stream_config_free(struct js_stream_config *config)
{
    free(config->name);
    free(config->description);
    js_free_strings(config->subjects, config->subject_count);
    js_placement_free(&config->placement);
    if (config->mirror != NULL) {
        js_source_free(config->mirror);
        free(config->mirror);
    }
    js_sources_free(config->sources, config->source_count);
    js_transform_free(&config->subject_transform);
    free(config->republish.src);
    free(config->republish.dest);
    js_metadata_free(config->metadata, config->metadata_count);
    js_stream_config_init(config);
}

/* ---- messages ----------------------------------------------------------------------- */

static void js_decode_push(struct js_decode *decode, const char *name, size_t index,
                           bool in_array)
{
    ASSERT(decode->depth < JS_DECODE_PATH_MAX);
    decode->path[decode->depth].name = name;
    decode->path[decode->depth].index = index;
    decode->path[decode->depth].in_array = in_array;
    decode->depth++;
}

static void js_decode_pop(struct js_decode *decode)
{
    ASSERT(decode->depth > 0);
    decode->depth--;
}

/* "StreamConfigRequest.sources.0.name" for the current path. */
static void js_decode_path(const struct js_decode *decode, char *text, size_t size)
{
    size_t used = (size_t)snprintf(text, size, "%s", JS_DECODE_ROOT);
    for (size_t i = 0; i < decode->depth && used < size; i++) {
        if (decode->path[i].name != NULL) {
            used += (size_t)snprintf(&text[used], size - used, ".%s", decode->path[i].name);
        } else {
            used += (size_t)snprintf(&text[used], size - used, ".%zu", decode->path[i].index);
        }
    }
}

/* Go's word for a JSON value's kind. */
static const char *js_decode_kind(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    default:
        return "bool";
    }
}

/* The source text of a number the scanner replaced ("<index>.5"). */
static const struct js_stream_scan_number *js_decode_number(const struct js_decode *decode,
                                                            const json_t *value)
{
    double index = json_real_value(value);
    ASSERT(index >= 0);
    ASSERT((size_t)index < decode->scan->number_count);
    return &decode->scan->numbers[(size_t)index];
}

/* "json: cannot unmarshal <what> into Go struct field <path> of type <type>"; `what` is
 * the value's kind, or "number <text>" for a number out of the type's range. */
static int js_decode_type_error(struct js_decode *decode, const json_t *value, const char *type,
                                bool with_number)
{
    char what[96];
    if (with_number && json_is_integer(value)) {
        snprintf(what, sizeof what, "number %" JSON_INTEGER_FORMAT, json_integer_value(value));
    } else if (with_number && json_is_real(value)) {
        const struct js_stream_scan_number *number = js_decode_number(decode, value);
        snprintf(what, sizeof what, "number %.*s", (int)number->length,
                 &decode->scan->body[number->start]);
    } else {
        snprintf(what, sizeof what, "%s", js_decode_kind(value));
    }
    char path[512];
    js_decode_path(decode, path, sizeof path);
    if (decode->depth == 0) {
        js_errors_setf(decode->error, JS_ERR_INVALID_JSON,
                       "json: cannot unmarshal %s into Go value of type server.%s", what, path);
    } else {
        bool in_array = decode->path[decode->depth - 1].in_array;
        js_errors_setf(decode->error, JS_ERR_INVALID_JSON,
                       "json: cannot unmarshal %s into %s%s of type %s", what,
                       in_array ? "" : "Go struct field ", path, type);
    }
    return -EINVAL;
}

static int js_decode_unknown(struct js_decode *decode, const char *key, size_t length)
{
    char quoted[JS_ERROR_DESCRIPTION_SIZE / 2];
    js_errors_go_quote(quoted, sizeof quoted, key, length);
    js_errors_setf(decode->error, JS_ERR_INVALID_JSON, "json: unknown field %s", quoted);
    return -EINVAL;
}

/* An ionats bound (see js_stream_config.h), answered as an invalid config. */
static int js_decode_bound(struct js_decode *decode, const char *what, size_t max)
{
    char path[512];
    js_decode_path(decode, path, sizeof path);
    js_errors_setf(decode->error, JS_ERR_STREAM_INVALID_CONFIG,
                   "%s has too many %s, maximum allowed is %zu", path, what, max);
    return -EINVAL;
}

/* The value's text as nats-server's enum decoders quote it: `can not unmarshal %q`. */
static int js_decode_enum_error(struct js_decode *decode, const json_t *value)
{
    char *raw = NULL;
    if (json_is_real(value)) {
        const struct js_stream_scan_number *number = js_decode_number(decode, value);
        raw = strndup(&decode->scan->body[number->start], number->length);
    } else {
        raw = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    if (raw == NULL) {
        js_errors_setf(decode->error, JS_ERR_INVALID_JSON, "can not unmarshal");
        return -EINVAL;
    }
    char quoted[JS_ERROR_DESCRIPTION_SIZE / 2];
    js_errors_go_quote(quoted, sizeof quoted, raw, strlen(raw));
    free(raw);
    js_errors_setf(decode->error, JS_ERR_INVALID_JSON, "can not unmarshal %s", quoted);
    return -EINVAL;
}

/* ---- scalars ------------------------------------------------------------------------ */

/* A string field: replaces *target. */
static int js_decode_string(struct js_decode *decode, const json_t *value, bool subject,
                            char **target)
{
    if (json_is_null(value)) {
        return 0;
    }
    if (!json_is_string(value)) {
        return js_decode_type_error(decode, value, "string", false);
    }
    const char *text = json_string_value(value);
    size_t length = json_string_length(value);
    char path[512];
    if (strlen(text) != length) {
        js_decode_path(decode, path, sizeof path);
        js_errors_setf(decode->error, JS_ERR_INVALID_JSON,
                       "json: a NUL character in %s is not supported", path);
        return -EINVAL;
    }
    if (subject && length > JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX) {
        js_decode_path(decode, path, sizeof path);
        js_errors_setf(decode->error, JS_ERR_STREAM_INVALID_CONFIG,
                       "%s is too long, maximum allowed is %d", path,
                       JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX);
        return -EINVAL;
    }
    char *copy = NULL;
    if (length > 0) {
        copy = strdup(text);
        if (copy == NULL) {
            return -ENOMEM;
        }
    }
    free(*target);
    *target = copy;
    return 0;
}

/* An integer field of `kind`, into *target (int64_t, int32_t or uint64_t). */
static int js_decode_integer(struct js_decode *decode, const json_t *value,
                             enum js_field_kind kind, void *target)
{
    if (json_is_null(value)) {
        return 0;
    }
    const char *type = js_kind_type[kind];
    if (json_is_real(value) && kind == JS_F_UINT64) {
        /* an integer past INT64_MAX, which only uint64 can hold */
        const struct js_stream_scan_number *number = js_decode_number(decode, value);
        char text[32];
        const char *source = &decode->scan->body[number->start];
        bool digits = number->length < sizeof text && strspn(source, "0123456789") >= number->length;
        if (digits) {
            memcpy(text, source, number->length);
            text[number->length] = '\0';
            errno = 0;
            unsigned long long parsed = strtoull(text, NULL, 10);
            if (errno == 0) {
                *(uint64_t *)target = parsed;
                return 0;
            }
        }
        return js_decode_type_error(decode, value, type, true);
    }
    if (!json_is_integer(value)) {
        return js_decode_type_error(decode, value, type, json_is_real(value));
    }
    json_int_t number = json_integer_value(value);
    switch (kind) {
    case JS_F_INT32:
        if (number < INT32_MIN || number > INT32_MAX) {
            return js_decode_type_error(decode, value, type, true);
        }
        *(int32_t *)target = (int32_t)number;
        return 0;
    case JS_F_UINT64:
        if (number < 0) {
            return js_decode_type_error(decode, value, type, true);
        }
        *(uint64_t *)target = (uint64_t)number;
        return 0;
    default:
        *(int64_t *)target = number;
        return 0;
    }
}

static int js_decode_bool(struct js_decode *decode, const json_t *value, bool *target)
{
    if (json_is_null(value)) {
        return 0;
    }
    if (!json_is_boolean(value)) {
        return js_decode_type_error(decode, value, "bool", false);
    }
    *target = json_is_true(value);
    return 0;
}

/* retention, discard, storage, persist_mode: nats-server's own UnmarshalJSON, which takes
 * exactly its strings (discard in any case) and refuses anything else, null included. */
static int js_decode_enum(struct js_decode *decode, const json_t *value, enum js_field_kind kind,
                          int *target)
{
    static const struct {
        enum js_field_kind kind;
        const char *text;
        int value;
    } names[] = {
        {JS_F_RETENTION, "limits", JS_STREAM_RETENTION_LIMITS},
        {JS_F_RETENTION, "interest", JS_STREAM_RETENTION_INTEREST},
        {JS_F_RETENTION, "workqueue", JS_STREAM_RETENTION_WORKQUEUE},
        {JS_F_DISCARD, "old", JS_STREAM_DISCARD_OLD},
        {JS_F_DISCARD, "new", JS_STREAM_DISCARD_NEW},
        {JS_F_STORAGE, "file", JS_STREAM_STORAGE_FILE},
        {JS_F_STORAGE, "memory", JS_STREAM_STORAGE_MEMORY},
        {JS_F_PERSIST, "default", JS_STREAM_PERSIST_DEFAULT},
        {JS_F_PERSIST, "", JS_STREAM_PERSIST_DEFAULT},
        {JS_F_PERSIST, "async", JS_STREAM_PERSIST_ASYNC},
    };
    if (json_is_string(value)) {
        const char *text = json_string_value(value);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (names[i].kind != kind) {
                continue;
            }
            bool match = kind == JS_F_DISCARD ? strcasecmp(text, names[i].text) == 0
                                              : strcmp(text, names[i].text) == 0;
            if (match && strlen(text) == json_string_length(value)) {
                *target = names[i].value;
                return 0;
            }
        }
    }
    return js_decode_enum_error(decode, value);
}

/* compression: Go decodes a string first, then knows "s2" and "none" only. */
static int js_decode_compression(struct js_decode *decode, const json_t *value,
                                 enum js_stream_compression *target)
{
    if (!json_is_string(value) && !json_is_null(value)) {
        js_errors_setf(decode->error, JS_ERR_INVALID_JSON,
                       "json: cannot unmarshal %s into Go value of type string",
                       js_decode_kind(value));
        return -EINVAL;
    }
    const char *text = json_is_string(value) ? json_string_value(value) : "";
    if (strcmp(text, "s2") == 0) {
        *target = JS_STREAM_COMPRESSION_S2;
        return 0;
    }
    if (strcmp(text, "none") == 0) {
        *target = JS_STREAM_COMPRESSION_NONE;
        return 0;
    }
    js_errors_setf(decode->error, JS_ERR_INVALID_JSON, "unknown compression algorithm");
    return -EINVAL;
}

/* A *time.Time: null empties it, a string is parsed as RFC 3339. */
static int js_decode_time(struct js_decode *decode, const json_t *value,
                          struct js_stream_time *target, bool *present)
{
    if (json_is_null(value)) {
        *present = false;
        return 0;
    }
    if (!json_is_string(value)) {
        return js_decode_type_error(decode, value, "time.Time", false);
    }
    char text[JS_STREAM_TIME_ERROR_SIZE];
    if (js_stream_time_parse(json_string_value(value), json_string_length(value), target, text,
                             sizeof text) != 0) {
        js_errors_setf(decode->error, JS_ERR_INVALID_JSON, "%s", text);
        return -EINVAL;
    }
    *present = true;
    return 0;
}

/* A []string: replaces the array (null empties it); elements are strings or null. */
static int js_decode_strings(struct js_decode *decode, const json_t *value, bool subjects,
                             char ***target, size_t *count)
{
    if (json_is_null(value)) {
        js_free_strings(*target, *count);
        *target = NULL;
        *count = 0;
        return 0;
    }
    if (!json_is_array(value)) {
        return js_decode_type_error(decode, value, "[]string", false);
    }
    size_t size = json_array_size(value);
    size_t max = subjects ? JS_STREAM_CONFIG_SUBJECTS_MAX : JS_STREAM_CONFIG_TAGS_MAX;
    if (size > max) {
        return js_decode_bound(decode, "entries", max);
    }
    char **strings = calloc(size ? size : 1, sizeof *strings);
    if (strings == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < size; i++) {
        js_decode_push(decode, NULL, i, true);
        int rc = js_decode_string(decode, json_array_get(value, i), subjects, &strings[i]);
        js_decode_pop(decode);
        if (rc != 0) {
            js_free_strings(strings, size);
            return rc;
        }
    }
    js_free_strings(*target, *count);
    *target = strings;
    *count = size;
    return 0;
}

/* Inserts or replaces key -> value (both taken) in the sorted metadata. */
static int js_metadata_put(struct js_stream_config *config, char *key, char *value)
{
    size_t low = 0;
    size_t high = config->metadata_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = strcmp(config->metadata[middle].key, key);
        if (order == 0) {
            free(key);
            free(config->metadata[middle].value);
            config->metadata[middle].value = value;
            return 0;
        }
        if (order < 0) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    if (config->metadata_count == JS_STREAM_CONFIG_METADATA_ENTRIES_MAX) {
        free(key);
        free(value);
        return -E2BIG;
    }
    void *grown = realloc(config->metadata, (config->metadata_count + 1) * sizeof *config->metadata);
    if (grown == NULL) {
        free(key);
        free(value);
        return -ENOMEM;
    }
    config->metadata = grown;
    memmove(&config->metadata[low + 1], &config->metadata[low],
            (config->metadata_count - low) * sizeof *config->metadata);
    config->metadata[low].key = key;
    config->metadata[low].value = value;
    config->metadata_count++;
    return 0;
}

/* A map[string]string: null empties it, an object's members are added (null values as ""). */
static int js_decode_metadata(struct js_decode *decode, const json_t *value,
                              struct js_stream_config *config)
{
    if (json_is_null(value)) {
        js_metadata_free(config->metadata, config->metadata_count);
        config->metadata = NULL;
        config->metadata_count = 0;
        return 0;
    }
    if (!json_is_object(value)) {
        return js_decode_type_error(decode, value, "map[string]string", false);
    }
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)value, key, member) {
        js_decode_push(decode, key, 0, false);
        char *text = NULL;
        int rc = js_decode_string(decode, member, false, &text);
        js_decode_pop(decode);
        if (rc != 0) {
            return rc;
        }
        char *key_copy = strdup(key);
        char *value_copy = text != NULL ? text : strdup("");
        if (key_copy == NULL || value_copy == NULL) {
            free(key_copy);
            free(value_copy);
            return -ENOMEM;
        }
        rc = js_metadata_put(config, key_copy, value_copy);
        if (rc == -E2BIG) {
            return js_decode_bound(decode, "entries", JS_STREAM_CONFIG_METADATA_ENTRIES_MAX);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* The field of `fields` a key names: exactly, else ignoring ASCII case, as Go matches. */
static const struct js_field *js_field_find(const struct js_field *fields, const char *key)
{
    for (const struct js_field *field = fields; field->name != NULL; field++) {
        if (strcmp(field->name, key) == 0) {
            return field;
        }
    }
    for (const struct js_field *field = fields; field->name != NULL; field++) {
        if (strcasecmp(field->name, key) == 0) {
            return field;
        }
    }
    return NULL;
}

/* One member of a scalar kind into base + field->offset. */
static int js_decode_scalar(struct js_decode *decode, const json_t *value,
                            const struct js_field *field, char *base)
{
    void *target = base + field->offset;
    switch (field->kind) {
    case JS_F_STRING:
    case JS_F_SUBJECT:
        return js_decode_string(decode, value, field->kind == JS_F_SUBJECT, target);
    case JS_F_INT:
    case JS_F_INT64:
    case JS_F_INT32:
    case JS_F_UINT64:
    case JS_F_DURATION:
        return js_decode_integer(decode, value, field->kind, target);
    case JS_F_BOOL:
        return js_decode_bool(decode, value, target);
    case JS_F_RETENTION:
    case JS_F_DISCARD:
    case JS_F_STORAGE:
    case JS_F_PERSIST: {
        int decoded = 0;
        int rc = js_decode_enum(decode, value, field->kind, &decoded);
        if (rc == 0) {
            memcpy(target, &decoded, sizeof decoded);
        }
        return rc;
    }
    case JS_F_COMPRESSION:
        return js_decode_compression(decode, value, target);
    case JS_F_TIME:
        return js_decode_time(decode, value, target, (bool *)(base + field->present));
    case JS_F_SUBJECTS:
    case JS_F_TAGS:
        return js_decode_strings(decode, value, field->kind == JS_F_SUBJECTS, target,
                                 (size_t *)(base + field->present));
    default:
        UNREACHABLE();
    }
}

/* ---- structs ------------------------------------------------------------------------ */

/* An object of scalar fields only (placement, transform, republish, ...) into `base`. */
static int js_decode_leaf(struct js_decode *decode, const json_t *value,
                          const struct js_field *fields, const char *type, char *base)
{
    if (!json_is_object(value)) {
        return js_decode_type_error(decode, value, type, false);
    }
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)value, key, member) {
        const struct js_field *field = js_field_find(fields, key);
        if (field == NULL) {
            return js_decode_unknown(decode, key, strlen(key));
        }
        js_decode_push(decode, field->name, 0, false);
        int rc = js_decode_scalar(decode, member, field, base);
        js_decode_pop(decode);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* A pointer-to-struct field with a `present` flag: null empties it, an object is decoded
 * into it (into what is there already, as Go does). */
static int js_decode_optional(struct js_decode *decode, const json_t *value,
                              const struct js_field *fields, const char *type, char *target,
                              size_t target_size, bool *present)
{
    if (json_is_null(value)) {
        *present = false;
        return 0;
    }
    if (!json_is_object(value)) {
        return js_decode_type_error(decode, value, type, false);
    }
    if (!*present) {
        memset(target, 0, target_size);
        *present = true;
    }
    return js_decode_leaf(decode, value, fields, type, target);
}

/* []SubjectTransformConfig: replaces the array; a null element is an empty transform. */
static int js_decode_transforms(struct js_decode *decode, const json_t *value,
                                struct js_stream_source *source)
{
    if (json_is_null(value)) {
        for (size_t i = 0; i < source->subject_transform_count; i++) {
            js_transform_free(&source->subject_transforms[i]);
        }
        free(source->subject_transforms);
        source->subject_transforms = NULL;
        source->subject_transform_count = 0;
        return 0;
    }
    if (!json_is_array(value)) {
        return js_decode_type_error(decode, value, "[]server.SubjectTransformConfig", false);
    }
    size_t size = json_array_size(value);
    if (size > JS_STREAM_CONFIG_TRANSFORMS_MAX) {
        return js_decode_bound(decode, "entries", JS_STREAM_CONFIG_TRANSFORMS_MAX);
    }
    struct js_stream_subject_transform *transforms = calloc(size ? size : 1, sizeof *transforms);
    if (transforms == NULL) {
        return -ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < size; i++) {
        json_t *element = json_array_get(value, i);
        js_decode_push(decode, NULL, i, true);
        if (!json_is_null(element)) {
            rc = js_decode_leaf(decode, element, js_transform_fields,
                                "server.SubjectTransformConfig", (char *)&transforms[i]);
        }
        js_decode_pop(decode);
    }
    for (size_t i = 0; i < source->subject_transform_count; i++) {
        js_transform_free(&source->subject_transforms[i]);
    }
    free(source->subject_transforms);
    source->subject_transforms = transforms;
    source->subject_transform_count = size;
    return rc;
}

/* A StreamSource object (a mirror or one of the sources) into `source`. */
static int js_decode_source(struct js_decode *decode, const json_t *value,
                            struct js_stream_source *source)
{
    if (!json_is_object(value)) {
        return js_decode_type_error(decode, value, "server.StreamSource", false);
    }
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)value, key, member) {
        const struct js_field *field = js_field_find(js_source_fields, key);
        if (field == NULL) {
            return js_decode_unknown(decode, key, strlen(key));
        }
        js_decode_push(decode, field->name, 0, false);
        int rc;
        if (field->kind == JS_F_TRANSFORMS) {
            rc = js_decode_transforms(decode, member, source);
        } else if (field->kind == JS_F_EXTERNAL) {
            rc = js_decode_optional(decode, member, js_external_fields, "server.ExternalStream",
                                    (char *)&source->external, sizeof source->external,
                                    &source->has_external);
        } else if (field->kind == JS_F_SOURCE_CONSUMER) {
            rc = js_decode_optional(decode, member, js_source_consumer_fields,
                                    "server.StreamConsumerSource", (char *)&source->consumer,
                                    sizeof source->consumer, &source->has_consumer);
        } else {
            rc = js_decode_scalar(decode, member, field, (char *)source);
        }
        js_decode_pop(decode);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* []*StreamSource: replaces the array; a null element is an empty source (refused later
 * as a source without a valid name, as nats-server refuses a nil one). */
static int js_decode_sources(struct js_decode *decode, const json_t *value,
                             struct js_stream_config *config)
{
    if (json_is_null(value)) {
        js_sources_free(config->sources, config->source_count);
        config->sources = NULL;
        config->source_count = 0;
        return 0;
    }
    if (!json_is_array(value)) {
        return js_decode_type_error(decode, value, "[]*server.StreamSource", false);
    }
    size_t size = json_array_size(value);
    if (size > JS_STREAM_CONFIG_SOURCES_MAX) {
        return js_decode_bound(decode, "entries", JS_STREAM_CONFIG_SOURCES_MAX);
    }
    struct js_stream_source *sources = calloc(size ? size : 1, sizeof *sources);
    if (sources == NULL) {
        return -ENOMEM;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < size; i++) {
        json_t *element = json_array_get(value, i);
        js_decode_push(decode, NULL, i, true);
        if (!json_is_null(element)) {
            rc = js_decode_source(decode, element, &sources[i]);
        }
        js_decode_pop(decode);
    }
    js_sources_free(config->sources, config->source_count);
    config->sources = sources;
    config->source_count = size;
    return rc;
}

/* The mirror: null removes it, an object is decoded into it. */
static int js_decode_mirror(struct js_decode *decode, const json_t *value,
                            struct js_stream_config *config)
{
    if (json_is_null(value)) {
        if (config->mirror != NULL) {
            js_source_free(config->mirror);
            free(config->mirror);
            config->mirror = NULL;
        }
        return 0;
    }
    if (!json_is_object(value)) {
        return js_decode_type_error(decode, value, "server.StreamSource", false);
    }
    if (config->mirror == NULL) {
        config->mirror = calloc(1, sizeof *config->mirror);
        if (config->mirror == NULL) {
            return -ENOMEM;
        }
    }
    return js_decode_source(decode, value, config->mirror);
}

/* One member of the request object. */
static int js_decode_config_member(struct js_decode *decode, const json_t *value,
                                   const struct js_field *field, struct js_decode_request *request)
{
    struct js_stream_config *config = &request->config;
    switch (field->kind) {
    case JS_F_METADATA:
        return js_decode_metadata(decode, value, config);
    case JS_F_PLACEMENT:
        return js_decode_optional(decode, value, js_placement_fields, "server.Placement",
                                  (char *)&config->placement, sizeof config->placement,
                                  &config->has_placement);
    case JS_F_MIRROR:
        return js_decode_mirror(decode, value, config);
    case JS_F_SOURCES:
        return js_decode_sources(decode, value, config);
    case JS_F_TRANSFORM:
        return js_decode_optional(decode, value, js_transform_fields,
                                  "server.SubjectTransformConfig",
                                  (char *)&config->subject_transform,
                                  sizeof config->subject_transform,
                                  &config->has_subject_transform);
    case JS_F_REPUBLISH:
        return js_decode_optional(decode, value, js_republish_fields, "server.RePublish",
                                  (char *)&config->republish, sizeof config->republish,
                                  &config->has_republish);
    case JS_F_CONSUMER_LIMITS:
        if (json_is_null(value)) {
            return 0;
        }
        return js_decode_leaf(decode, value, js_consumer_limits_fields,
                              "server.StreamConsumerLimits", (char *)&config->consumer_limits);
    default:
        return js_decode_scalar(decode, value, field, (char *)request);
    }
}

/* One top-level value into the request. */
static int js_decode_request(struct js_decode *decode, const json_t *value,
                             struct js_decode_request *request)
{
    if (json_is_null(value)) {
        return 0;
    }
    if (!json_is_object(value)) {
        return js_decode_type_error(decode, value, NULL, false);
    }
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)value, key, member) {
        const struct js_field *field = js_field_find(js_config_fields, key);
        if (field == NULL) {
            return js_decode_unknown(decode, key, strlen(key));
        }
        js_decode_push(decode, field->name, 0, false);
        int rc = js_decode_config_member(decode, member, field, request);
        js_decode_pop(decode);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Parses the scanner's copy of one value with jansson and decodes it. */
static int js_decode_value(struct js_stream_scan *scan, struct js_decode_request *request,
                           struct js_error *error)
{
    json_error_t json_error;
    json_t *root = json_loadb(scan->value.data, scan->value.length,
                              JSON_DECODE_ANY | JSON_ALLOW_NUL, &json_error);
    if (root == NULL) {
        /* the scanner passed it, so only memory can be short here */
        return -ENOMEM;
    }
    struct js_decode decode = {.scan = scan, .error = error};
    int rc = js_decode_request(&decode, root, request);
    ASSERT(decode.depth == 0);
    json_decref(root);
    return rc;
}

int js_stream_config_parse(const char *body, size_t length, struct js_stream_config *config,
                           bool *pedantic, struct js_error *error)
{
    ASSERT(body != NULL || length == 0);
    js_errors_clear(error);
    struct js_decode_request request;
    memset(&request, 0, sizeof request);
    struct js_stream_scan scan;
    js_stream_scan_init(&scan, body ? body : "", length);
    int rc;
    while ((rc = js_stream_scan_next(&scan, error)) == 1) {
        rc = js_decode_value(&scan, &request, error);
        if (rc != 0) {
            break;
        }
    }
    js_stream_scan_free(&scan);
    if (rc != 0) {
        js_stream_config_free(&request.config);
        js_stream_config_init(config);
        *pedantic = false;
        return rc;
    }
    *config = request.config;
    *pedantic = request.pedantic;
    return 0;
}
