/* One JSON value into one field of a stream config, by Go's decoding rules, and Go's
 * messages when it does not fit: see js_stream_config_parse.c for the walk over the
 * request and js_stream_config_internal.h for what is shared. Pure functions, any
 * thread. */
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

/* The root of every path in Go's messages when the decoder names none: nats-server decodes
 * a stream request into StreamConfigRequest. */
static const char JS_DECODE_ROOT[] = "StreamConfigRequest";

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

/* ---- freeing ------------------------------------------------------------------------- */

void js_stream_value_free_strings(char **strings, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(strings[i]);
    }
    free(strings);
}

void js_stream_value_free_metadata(struct js_stream_metadata_entry *entries, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(entries[i].key);
        free(entries[i].value);
    }
    free(entries);
}

/* ---- messages ----------------------------------------------------------------------- */

void js_stream_value_push(struct js_stream_decode *decode, const char *name, size_t index,
                          bool in_array)
{
    ASSERT(decode->depth < JS_DECODE_PATH_MAX);
    decode->path[decode->depth].name = name;
    decode->path[decode->depth].index = index;
    decode->path[decode->depth].in_array = in_array;
    decode->depth++;
}

void js_stream_value_pop(struct js_stream_decode *decode)
{
    ASSERT(decode->depth > 0);
    decode->depth--;
}

/* "StreamConfigRequest.sources.0.name" for the current path. */
static void js_decode_path(const struct js_stream_decode *decode, char *text, size_t size)
{
    const char *root = decode->root != NULL ? decode->root : JS_DECODE_ROOT;
    size_t used = (size_t)snprintf(text, size, "%s", root);
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
static const struct js_stream_scan_number *js_decode_number(const struct js_stream_decode *decode,
                                                            const json_t *value)
{
    double index = json_real_value(value);
    ASSERT(index >= 0);
    ASSERT((size_t)index < decode->scan->number_count);
    return &decode->scan->numbers[(size_t)index];
}

/* "json: cannot unmarshal <what> into Go struct field <path> of type <type>"; `what` is
 * the value's kind, or "number <text>" for a number out of the type's range. */
int js_stream_value_type_error(struct js_stream_decode *decode, const json_t *value,
                               const char *type, bool with_number)
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

int js_stream_value_unknown(struct js_stream_decode *decode, const char *key, size_t length)
{
    char quoted[JS_ERROR_DESCRIPTION_SIZE / 2];
    go_json_quote_into(quoted, sizeof quoted, key, length);
    js_errors_setf(decode->error, JS_ERR_INVALID_JSON, "json: unknown field %s", quoted);
    return -EINVAL;
}

/* An ionats bound (see js_stream_config.h), answered as an invalid config. */
int js_stream_value_bound(struct js_stream_decode *decode, const char *what, size_t max)
{
    char path[512];
    js_decode_path(decode, path, sizeof path);
    js_errors_setf(decode->error, JS_ERR_STREAM_INVALID_CONFIG,
                   "%s has too many %s, maximum allowed is %zu", path, what, max);
    return -EINVAL;
}

int js_stream_value_raw(struct js_stream_decode *decode, const json_t *value, char *text,
                        size_t size)
{
    if (json_is_real(value)) {
        const struct js_stream_scan_number *number = js_decode_number(decode, value);
        snprintf(text, size, "%.*s", (int)number->length, &decode->scan->body[number->start]);
        return 0;
    }
    char *raw = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (raw == NULL) {
        return -ENOMEM;
    }
    snprintf(text, size, "%s", raw);
    free(raw);
    return 0;
}

/* The value's text as nats-server's enum decoders quote it: `can not unmarshal %q`. */
int js_stream_value_enum_error(struct js_stream_decode *decode, const json_t *value)
{
    char raw[JS_ERROR_DESCRIPTION_SIZE / 2];
    if (js_stream_value_raw(decode, value, raw, sizeof raw) != 0) {
        js_errors_setf(decode->error, JS_ERR_INVALID_JSON, "can not unmarshal");
        return -EINVAL;
    }
    char quoted[JS_ERROR_DESCRIPTION_SIZE / 2];
    go_json_quote_into(quoted, sizeof quoted, raw, strlen(raw));
    js_errors_setf(decode->error, JS_ERR_INVALID_JSON, "can not unmarshal %s", quoted);
    return -EINVAL;
}

/* ---- scalars ------------------------------------------------------------------------ */

/* A string field: replaces *target. */
static int js_decode_string(struct js_stream_decode *decode, const json_t *value, bool subject,
                            char **target)
{
    if (json_is_null(value)) {
        return 0;
    }
    if (!json_is_string(value)) {
        return js_stream_value_type_error(decode, value, "string", false);
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
static int js_decode_integer(struct js_stream_decode *decode, const json_t *value,
                             enum js_stream_field_kind kind, void *target)
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
        bool digits =
            number->length < sizeof text && strspn(source, "0123456789") >= number->length;
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
        return js_stream_value_type_error(decode, value, type, true);
    }
    if (!json_is_integer(value)) {
        return js_stream_value_type_error(decode, value, type, json_is_real(value));
    }
    json_int_t number = json_integer_value(value);
    switch (kind) {
    case JS_F_INT32:
        if (number < INT32_MIN || number > INT32_MAX) {
            return js_stream_value_type_error(decode, value, type, true);
        }
        *(int32_t *)target = (int32_t)number;
        return 0;
    case JS_F_UINT64:
        if (number < 0) {
            return js_stream_value_type_error(decode, value, type, true);
        }
        *(uint64_t *)target = (uint64_t)number;
        return 0;
    default:
        *(int64_t *)target = number;
        return 0;
    }
}

static int js_decode_bool(struct js_stream_decode *decode, const json_t *value, bool *target)
{
    if (json_is_null(value)) {
        return 0;
    }
    if (!json_is_boolean(value)) {
        return js_stream_value_type_error(decode, value, "bool", false);
    }
    *target = json_is_true(value);
    return 0;
}

/* retention, discard, storage, persist_mode: nats-server's own UnmarshalJSON, which takes
 * exactly its strings (discard in any case) and refuses anything else, null included. */
static int js_decode_enum(struct js_stream_decode *decode, const json_t *value,
                          enum js_stream_field_kind kind, int *target)
{
    static const struct {
        enum js_stream_field_kind kind;
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
    return js_stream_value_enum_error(decode, value);
}

/* compression: Go decodes a string first, then knows "s2" and "none" only. */
static int js_decode_compression(struct js_stream_decode *decode, const json_t *value,
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
static int js_decode_time(struct js_stream_decode *decode, const json_t *value,
                          struct js_stream_time *target, bool *present)
{
    if (json_is_null(value)) {
        *present = false;
        return 0;
    }
    if (!json_is_string(value)) {
        return js_stream_value_type_error(decode, value, "time.Time", false);
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
static int js_decode_strings(struct js_stream_decode *decode, const json_t *value, bool subjects,
                             char ***target, size_t *count)
{
    if (json_is_null(value)) {
        js_stream_value_free_strings(*target, *count);
        *target = NULL;
        *count = 0;
        return 0;
    }
    if (!json_is_array(value)) {
        return js_stream_value_type_error(decode, value, "[]string", false);
    }
    size_t size = json_array_size(value);
    size_t max = subjects ? JS_STREAM_CONFIG_SUBJECTS_MAX : JS_STREAM_CONFIG_TAGS_MAX;
    if (size > max) {
        return js_stream_value_bound(decode, "entries", max);
    }
    char **strings = calloc(size ? size : 1, sizeof *strings);
    if (strings == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < size; i++) {
        js_stream_value_push(decode, NULL, i, true);
        int rc = js_decode_string(decode, json_array_get(value, i), subjects, &strings[i]);
        js_stream_value_pop(decode);
        if (rc != 0) {
            js_stream_value_free_strings(strings, size);
            return rc;
        }
    }
    js_stream_value_free_strings(*target, *count);
    *target = strings;
    *count = size;
    return 0;
}

int js_stream_value_metadata_put(struct js_stream_metadata_entry **entries, size_t *count,
                                 char *key, char *value)
{
    size_t low = 0;
    size_t high = *count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = strcmp((*entries)[middle].key, key);
        if (order == 0) {
            free(key);
            free((*entries)[middle].value);
            (*entries)[middle].value = value;
            return 0;
        }
        if (order < 0) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    if (*count == JS_STREAM_CONFIG_METADATA_ENTRIES_MAX) {
        free(key);
        free(value);
        return -E2BIG;
    }
    struct js_stream_metadata_entry *grown = realloc(*entries, (*count + 1) * sizeof **entries);
    if (grown == NULL) {
        free(key);
        free(value);
        return -ENOMEM;
    }
    *entries = grown;
    memmove(&grown[low + 1], &grown[low], (*count - low) * sizeof *grown);
    grown[low].key = key;
    grown[low].value = value;
    (*count)++;
    return 0;
}

int js_stream_value_metadata(struct js_stream_decode *decode, const json_t *value,
                             struct js_stream_config *config)
{
    return js_stream_value_metadata_into(decode, value, &config->metadata, &config->metadata_count);
}

/* A map[string]string: null empties it, an object's members are added (null values as ""). */
int js_stream_value_metadata_into(struct js_stream_decode *decode, const json_t *value,
                                  struct js_stream_metadata_entry **entries, size_t *count)
{
    if (json_is_null(value)) {
        js_stream_value_free_metadata(*entries, *count);
        *entries = NULL;
        *count = 0;
        return 0;
    }
    if (!json_is_object(value)) {
        return js_stream_value_type_error(decode, value, "map[string]string", false);
    }
    const char *key;
    json_t *member;
    json_object_foreach((json_t *)value, key, member)
    {
        js_stream_value_push(decode, key, 0, false);
        char *text = NULL;
        int rc = js_decode_string(decode, member, false, &text);
        js_stream_value_pop(decode);
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
        rc = js_stream_value_metadata_put(entries, count, key_copy, value_copy);
        if (rc == -E2BIG) {
            return js_stream_value_bound(decode, "entries", JS_STREAM_CONFIG_METADATA_ENTRIES_MAX);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* The field of `fields` a key names: exactly, else ignoring ASCII case, as Go matches. */
const struct js_stream_field *js_stream_value_field_find(const struct js_stream_field *fields,
                                                         const char *key)
{
    for (const struct js_stream_field *field = fields; field->name != NULL; field++) {
        if (strcmp(field->name, key) == 0) {
            return field;
        }
    }
    for (const struct js_stream_field *field = fields; field->name != NULL; field++) {
        if (strcasecmp(field->name, key) == 0) {
            return field;
        }
    }
    return NULL;
}

/* One member of a scalar kind into base + field->offset. */
int js_stream_value_scalar(struct js_stream_decode *decode, const json_t *value,
                           const struct js_stream_field *field, char *base)
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
