/* Request body -> struct js_stream_config, as nats-server's strict Go decoding does it:
 * see js_stream_config.h.
 *
 * The body is walked one top-level value at a time by the scanner
 * (js_stream_config_scan.c: Go's syntax errors), each value is parsed by jansson and then
 * decoded here member by member, in document order, stopping at the first error as Go's
 * decoder does. Go's texts, with the path of field names from the root:
 *   json: unknown field "foo"
 *   json: cannot unmarshal string into Go struct field StreamConfigRequest.max_msgs of type int64
 *   json: cannot unmarshal number 1.5 into Go struct field StreamConfigRequest.max_msgs of type
 * int64 json: cannot unmarshal number into StreamConfigRequest.subjects.0 of type string (an array
 * element: no "Go struct field") can not unmarshal "\"foo\""       (retention, discard, storage,
 * persist_mode: the raw value, as nats-server's UnmarshalJSON says it) unknown compression
 * algorithm parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006" A null
 * leaves a field as it is, except that it empties a pointer, slice or map field and is refused by
 * the enum fields. Keys match case-insensitively (ASCII).
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

/* The request: a StreamConfig plus its "pedantic" flag. */
struct js_decode_request {
    struct js_stream_config config;
    bool pedantic;
};

#define JS_C(field) offsetof(struct js_decode_request, config.field)

static const struct js_stream_field js_config_fields[] = {
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

static const struct js_stream_field js_source_fields[] = {
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

static const struct js_stream_field js_transform_fields[] = {
    {"src", JS_F_SUBJECT, offsetof(struct js_stream_subject_transform, src), 0},
    {"dest", JS_F_SUBJECT, offsetof(struct js_stream_subject_transform, dest), 0},
    {NULL, 0, 0, 0},
};

static const struct js_stream_field js_external_fields[] = {
    {"api", JS_F_SUBJECT, offsetof(struct js_stream_external, api), 0},
    {"deliver", JS_F_SUBJECT, offsetof(struct js_stream_external, deliver), 0},
    {NULL, 0, 0, 0},
};

static const struct js_stream_field js_source_consumer_fields[] = {
    {"name", JS_F_STRING, offsetof(struct js_stream_source_consumer, name), 0},
    {"deliver_subject", JS_F_SUBJECT, offsetof(struct js_stream_source_consumer, deliver_subject),
     0},
    {NULL, 0, 0, 0},
};

static const struct js_stream_field js_placement_fields[] = {
    {"cluster", JS_F_STRING, offsetof(struct js_stream_placement, cluster), 0},
    {"tags", JS_F_TAGS, offsetof(struct js_stream_placement, tags),
     offsetof(struct js_stream_placement, tag_count)},
    {"preferred", JS_F_STRING, offsetof(struct js_stream_placement, preferred), 0},
    {NULL, 0, 0, 0},
};

static const struct js_stream_field js_republish_fields[] = {
    {"src", JS_F_SUBJECT, offsetof(struct js_stream_republish, src), 0},
    {"dest", JS_F_SUBJECT, offsetof(struct js_stream_republish, dest), 0},
    {"headers_only", JS_F_BOOL, offsetof(struct js_stream_republish, headers_only), 0},
    {NULL, 0, 0, 0},
};

static const struct js_stream_field js_consumer_limits_fields[] = {
    {"inactive_threshold", JS_F_DURATION,
     offsetof(struct js_stream_consumer_limits, inactive_threshold_ns), 0},
    {"max_ack_pending", JS_F_INT, offsetof(struct js_stream_consumer_limits, max_ack_pending), 0},
    {NULL, 0, 0, 0},
};

/* ---- freeing ----------------------------------------------------------------------- */

static void js_transform_free(struct js_stream_subject_transform *transform)
{
    free(transform->src);
    free(transform->dest);
    memset(transform, 0, sizeof *transform);
}

static void js_transforms_free(struct js_stream_subject_transform *transforms, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        js_transform_free(&transforms[i]);
    }
    free(transforms);
}

static void js_source_free(struct js_stream_source *source)
{
    free(source->name);
    free(source->filter_subject);
    js_transforms_free(source->subject_transforms, source->subject_transform_count);
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
    js_stream_value_free_strings(placement->tags, placement->tag_count);
    free(placement->preferred);
    memset(placement, 0, sizeof *placement);
}

void js_stream_config_init(struct js_stream_config *config)
{
    memset(config, 0, sizeof *config);
}

void js_stream_config_free(struct js_stream_config *config)
{
    free(config->name);
    free(config->description);
    js_stream_value_free_strings(config->subjects, config->subject_count);
    js_placement_free(&config->placement);
    if (config->mirror != NULL) {
        js_source_free(config->mirror);
        free(config->mirror);
    }
    js_sources_free(config->sources, config->source_count);
    js_transform_free(&config->subject_transform);
    free(config->republish.src);
    free(config->republish.dest);
    js_stream_value_free_metadata(config->metadata, config->metadata_count);
    js_stream_config_init(config);
}

/* ---- structs ------------------------------------------------------------------------ */

/* An object whose keys name `fields` (`type` names it in a type error): an unknown key is
 * refused, and each member is decoded by `member_decode` into `target`, with its field
 * on the path. Budget: one turn per member of an object the scanner bounded. */
static int js_decode_object(struct js_stream_decode *decode, const json_t *value,
                            const struct js_stream_field *fields, const char *type,
                            int (*member_decode)(struct js_stream_decode *decode,
                                                 const json_t *member,
                                                 const struct js_stream_field *field, void *target),
                            void *target)
{
    if (!json_is_object(value)) {
        return js_stream_value_type_error(decode, value, type, false);
    }
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)value, key, member)
    {
        const struct js_stream_field *field = js_stream_value_field_find(fields, key);
        if (field == NULL) {
            return js_stream_value_unknown(decode, key, strlen(key));
        }
        js_stream_value_push(decode, field->name, 0, false);
        int rc = member_decode(decode, member, field, target);
        js_stream_value_pop(decode);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int js_decode_scalar_member(struct js_stream_decode *decode, const json_t *member,
                                   const struct js_stream_field *field, void *base)
{
    return js_stream_value_scalar(decode, member, field, base);
}

/* An object of scalar fields only (placement, transform, republish, ...) into `base`. */
static int js_decode_leaf(struct js_stream_decode *decode, const json_t *value,
                          const struct js_stream_field *fields, const char *type, char *base)
{
    return js_decode_object(decode, value, fields, type, js_decode_scalar_member, base);
}

/* A pointer-to-struct field with a `present` flag: null empties it, an object is decoded
 * into it (into what is there already, as Go does). */
static int js_decode_optional(struct js_stream_decode *decode, const json_t *value,
                              const struct js_stream_field *fields, const char *type, char *target,
                              size_t target_size, bool *present)
{
    if (json_is_null(value)) {
        *present = false;
        return 0;
    }
    if (!json_is_object(value)) {
        return js_stream_value_type_error(decode, value, type, false);
    }
    if (!*present) {
        memset(target, 0, target_size);
        *present = true;
    }
    return js_decode_leaf(decode, value, fields, type, target);
}

/* What js_decode_array needs to know of one kind of array. */
struct js_decode_array_kind {
    const char *type; /* Go's type name, for a type error */
    size_t count_max; /* the ionats bound */
    size_t element_size;
    /* decodes a non-null element into its zeroed struct */
    int (*element_decode)(struct js_stream_decode *decode, const json_t *element, void *target);
    /* frees an array of `count` elements, each with what it owns */
    void (*elements_free)(void *elements, size_t count);
};

/* An array of structs ([]T, or []*T where a null element is an empty struct): null
 * empties *elements, an array replaces it, old elements freed. The array is replaced even
 * when an element fails (the config owns and later frees what was decoded); a type error,
 * a bound passed or -ENOMEM leaves it as it was. Budget: count_max elements. */
static int js_decode_array(struct js_stream_decode *decode, const json_t *value,
                           const struct js_decode_array_kind *kind, void **elements, size_t *count)
{
    size_t size = 0;
    char *decoded = NULL;
    int rc = 0;
    if (!json_is_null(value)) {
        if (!json_is_array(value)) {
            return js_stream_value_type_error(decode, value, kind->type, false);
        }
        size = json_array_size(value);
        if (size > kind->count_max) {
            return js_stream_value_bound(decode, "entries", kind->count_max);
        }
        decoded = calloc(size ? size : 1, kind->element_size);
        if (decoded == NULL) {
            return -ENOMEM;
        }
        for (size_t i = 0; rc == 0 && i < size; i++) {
            json_t *element = json_array_get(value, i);
            js_stream_value_push(decode, NULL, i, true);
            if (!json_is_null(element)) {
                rc = kind->element_decode(decode, element, decoded + i * kind->element_size);
            }
            js_stream_value_pop(decode);
        }
    }
    kind->elements_free(*elements, *count);
    *elements = decoded;
    *count = size;
    return rc;
}

static int js_decode_transform_element(struct js_stream_decode *decode, const json_t *element,
                                       void *target)
{
    return js_decode_leaf(decode, element, js_transform_fields, "server.SubjectTransformConfig",
                          target);
}

static void js_transforms_free_any(void *elements, size_t count)
{
    js_transforms_free(elements, count);
}

static const struct js_decode_array_kind js_transforms_kind = {
    "[]server.SubjectTransformConfig",
    JS_STREAM_CONFIG_TRANSFORMS_MAX,
    sizeof(struct js_stream_subject_transform),
    js_decode_transform_element,
    js_transforms_free_any,
};

/* []SubjectTransformConfig: replaces the array; a null element is an empty transform. */
static int js_decode_transforms(struct js_stream_decode *decode, const json_t *value,
                                struct js_stream_source *source)
{
    void *elements = source->subject_transforms;
    int rc = js_decode_array(decode, value, &js_transforms_kind, &elements,
                             &source->subject_transform_count);
    source->subject_transforms = elements;
    return rc;
}

/* One member of a StreamSource object into the struct js_stream_source `target`. */
static int js_decode_source_member(struct js_stream_decode *decode, const json_t *member,
                                   const struct js_stream_field *field, void *target)
{
    struct js_stream_source *source = target;
    switch (field->kind) {
    case JS_F_TRANSFORMS:
        return js_decode_transforms(decode, member, source);
    case JS_F_EXTERNAL:
        return js_decode_optional(decode, member, js_external_fields, "server.ExternalStream",
                                  (char *)&source->external, sizeof source->external,
                                  &source->has_external);
    case JS_F_SOURCE_CONSUMER:
        return js_decode_optional(decode, member, js_source_consumer_fields,
                                  "server.StreamConsumerSource", (char *)&source->consumer,
                                  sizeof source->consumer, &source->has_consumer);
    default:
        return js_stream_value_scalar(decode, member, field, (char *)source);
    }
}

/* A StreamSource object (a mirror or one of the sources) into `source`. */
static int js_decode_source(struct js_stream_decode *decode, const json_t *value,
                            struct js_stream_source *source)
{
    return js_decode_object(decode, value, js_source_fields, "server.StreamSource",
                            js_decode_source_member, source);
}

static int js_decode_source_element(struct js_stream_decode *decode, const json_t *element,
                                    void *target)
{
    return js_decode_source(decode, element, target);
}

static void js_sources_free_any(void *elements, size_t count)
{
    js_sources_free(elements, count);
}

static const struct js_decode_array_kind js_sources_kind = {
    "[]*server.StreamSource", JS_STREAM_CONFIG_SOURCES_MAX, sizeof(struct js_stream_source),
    js_decode_source_element, js_sources_free_any,
};

/* []*StreamSource: replaces the array; a null element is an empty source (refused later
 * as a source without a valid name, as nats-server refuses a nil one). */
static int js_decode_sources(struct js_stream_decode *decode, const json_t *value,
                             struct js_stream_config *config)
{
    void *elements = config->sources;
    int rc = js_decode_array(decode, value, &js_sources_kind, &elements, &config->source_count);
    config->sources = elements;
    return rc;
}

/* The mirror: null removes it, an object is decoded into it. */
static int js_decode_mirror(struct js_stream_decode *decode, const json_t *value,
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
        return js_stream_value_type_error(decode, value, "server.StreamSource", false);
    }
    if (config->mirror == NULL) {
        config->mirror = calloc(1, sizeof *config->mirror);
        if (config->mirror == NULL) {
            return -ENOMEM;
        }
    }
    return js_decode_source(decode, value, config->mirror);
}

/* One member of the request object into the struct js_decode_request `target`. */
static int js_decode_config_member(struct js_stream_decode *decode, const json_t *value,
                                   const struct js_stream_field *field, void *target)
{
    struct js_decode_request *request = target;
    struct js_stream_config *config = &request->config;
    switch (field->kind) {
    case JS_F_METADATA:
        return js_stream_value_metadata(decode, value, config);
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
                                  sizeof config->subject_transform, &config->has_subject_transform);
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
        return js_stream_value_scalar(decode, value, field, (char *)request);
    }
}

/* One top-level value into the request. */
static int js_decode_request(struct js_stream_decode *decode, const json_t *value,
                             struct js_decode_request *request)
{
    if (json_is_null(value)) {
        return 0;
    }
    return js_decode_object(decode, value, js_config_fields, NULL, js_decode_config_member,
                            request);
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
    struct js_stream_decode decode = {.scan = scan, .error = error};
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
