/* A stream config as the JSON object nats-server puts in its replies ("config"): see
 * js_stream_config.h.
 *
 * Field order is nats-server's StreamConfig declaration order, which Go's encoder keeps;
 * fields tagged omitempty are left out when zero (the description, subjects, no_ack,
 * duplicate_window, placement, mirror, sources, first_seq, the transform, republish,
 * discard_new_per_subject, subject_delete_marker_ttl, the 2.12 flags, persist_mode,
 * metadata), the others are always written. Map keys come out sorted, as Go sorts them.
 * Pure function, any thread. */
#include "proto/js_stream_config_internal.h"

#include "base/assert.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const js_retention_names[] = {
    [JS_STREAM_RETENTION_LIMITS] = "limits",
    [JS_STREAM_RETENTION_INTEREST] = "interest",
    [JS_STREAM_RETENTION_WORKQUEUE] = "workqueue",
};

static const char *const js_discard_names[] = {
    [JS_STREAM_DISCARD_OLD] = "old",
    [JS_STREAM_DISCARD_NEW] = "new",
};

static const char *const js_storage_names[] = {
    [JS_STREAM_STORAGE_FILE] = "file",
    [JS_STREAM_STORAGE_MEMORY] = "memory",
};

static const char *const js_compression_names[] = {
    [JS_STREAM_COMPRESSION_NONE] = "none",
    [JS_STREAM_COMPRESSION_S2] = "s2",
};

static void js_encode_string(struct go_json *json, const char *key, const char *text)
{
    go_json_key(json, key);
    go_json_cstring(json, js_stream_text(text));
}

/* An omitempty string: left out when empty. */
static void js_encode_string_omit(struct go_json *json, const char *key, const char *text)
{
    if (text != NULL) {
        js_encode_string(json, key, text);
    }
}

static void js_encode_int(struct go_json *json, const char *key, int64_t value)
{
    go_json_key(json, key);
    go_json_int(json, value);
}

static void js_encode_bool(struct go_json *json, const char *key, bool value)
{
    go_json_key(json, key);
    go_json_bool(json, value);
}

static void js_encode_strings(struct go_json *json, const char *key, char *const *strings,
                              size_t count)
{
    go_json_key(json, key);
    go_json_literal(json, "[");
    for (size_t i = 0; i < count; i++) {
        go_json_comma(json);
        go_json_cstring(json, js_stream_text(strings[i]));
    }
    go_json_literal(json, "]");
}

static void js_encode_transform(struct go_json *json,
                                const struct js_stream_subject_transform *transform)
{
    go_json_literal(json, "{");
    js_encode_string(json, "src", transform->src);
    js_encode_string(json, "dest", transform->dest);
    go_json_literal(json, "}");
}

static void js_encode_source(struct go_json *json, const struct js_stream_source *source)
{
    go_json_literal(json, "{");
    js_encode_string(json, "name", source->name);
    if (source->opt_start_seq != 0) {
        go_json_key(json, "opt_start_seq");
        go_json_uint(json, source->opt_start_seq);
    }
    if (source->has_opt_start_time) {
        char text[JS_STREAM_TIME_TEXT_SIZE];
        js_stream_time_format(&source->opt_start_time, text, sizeof text);
        js_encode_string(json, "opt_start_time", text);
    }
    js_encode_string_omit(json, "filter_subject", source->filter_subject);
    if (source->subject_transform_count > 0) {
        go_json_key(json, "subject_transforms");
        go_json_literal(json, "[");
        for (size_t i = 0; i < source->subject_transform_count; i++) {
            go_json_comma(json);
            js_encode_transform(json, &source->subject_transforms[i]);
        }
        go_json_literal(json, "]");
    }
    if (source->has_external) {
        go_json_key(json, "external");
        go_json_literal(json, "{");
        js_encode_string(json, "api", source->external.api);
        js_encode_string(json, "deliver", source->external.deliver);
        go_json_literal(json, "}");
    }
    if (source->has_consumer) {
        go_json_key(json, "consumer");
        go_json_literal(json, "{");
        js_encode_string_omit(json, "name", source->consumer.name);
        js_encode_string_omit(json, "deliver_subject", source->consumer.deliver_subject);
        go_json_literal(json, "}");
    }
    go_json_literal(json, "}");
}

static void js_encode_placement(struct go_json *json, const struct js_stream_placement *placement)
{
    go_json_key(json, "placement");
    go_json_literal(json, "{");
    js_encode_string_omit(json, "cluster", placement->cluster);
    if (placement->tag_count > 0) {
        js_encode_strings(json, "tags", placement->tags, placement->tag_count);
    }
    js_encode_string_omit(json, "preferred", placement->preferred);
    go_json_literal(json, "}");
}

static void js_encode_origins(struct go_json *json, const struct js_stream_config *config)
{
    if (config->mirror != NULL) {
        go_json_key(json, "mirror");
        js_encode_source(json, config->mirror);
    }
    if (config->source_count > 0) {
        go_json_key(json, "sources");
        go_json_literal(json, "[");
        for (size_t i = 0; i < config->source_count; i++) {
            go_json_comma(json);
            js_encode_source(json, &config->sources[i]);
        }
        go_json_literal(json, "]");
    }
}

static int js_encode_entry_order(const void *a, const void *b)
{
    const struct js_stream_metadata_entry *const *x = a;
    const struct js_stream_metadata_entry *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

/* The metadata, with the server's own keys added when `options` names a version. */
static void js_encode_metadata(struct go_json *json, const struct js_stream_config *config,
                               const struct js_stream_config_encode_options *options)
{
    bool dynamic = options != NULL && options->server_version != NULL;
    char level[16];
    struct js_stream_metadata_entry extra[2];
    if (dynamic) {
        snprintf(level, sizeof level, "%d", options->server_api_level);
        extra[0] = (struct js_stream_metadata_entry){JS_STREAM_METADATA_SERVER_VERSION,
                                                     (char *)options->server_version};
        extra[1] = (struct js_stream_metadata_entry){JS_STREAM_METADATA_SERVER_LEVEL, level};
    }
    size_t count = config->metadata_count + (dynamic ? 2 : 0);
    if (count == 0) {
        return;
    }
    const struct js_stream_metadata_entry **entries = malloc(count * sizeof *entries);
    if (entries == NULL) {
        json->failed = true;
        return;
    }
    size_t used = 0;
    for (size_t i = 0; i < config->metadata_count; i++) {
        const char *key = config->metadata[i].key;
        if (dynamic && (strcmp(key, JS_STREAM_METADATA_SERVER_VERSION) == 0 ||
                        strcmp(key, JS_STREAM_METADATA_SERVER_LEVEL) == 0)) {
            continue; /* the server's value wins, as setDynamicStreamMetadata overwrites */
        }
        entries[used++] = &config->metadata[i];
    }
    for (size_t i = 0; dynamic && i < 2; i++) {
        entries[used++] = &extra[i];
    }
    qsort(entries, used, sizeof *entries, js_encode_entry_order);
    go_json_key(json, "metadata");
    go_json_literal(json, "{");
    for (size_t i = 0; i < used; i++) {
        js_encode_string(json, entries[i]->key, entries[i]->value);
    }
    go_json_literal(json, "}");
    free(entries);
}

/* The fields after "compression": transforms, flags, consumer limits, the 2.11+ fields. */
static void js_encode_tail(struct go_json *json, const struct js_stream_config *config)
{
    if (config->first_seq != 0) {
        go_json_key(json, "first_seq");
        go_json_uint(json, config->first_seq);
    }
    if (config->has_subject_transform) {
        go_json_key(json, "subject_transform");
        js_encode_transform(json, &config->subject_transform);
    }
    if (config->has_republish) {
        go_json_key(json, "republish");
        go_json_literal(json, "{");
        js_encode_string_omit(json, "src", config->republish.src);
        js_encode_string(json, "dest", config->republish.dest);
        if (config->republish.headers_only) {
            js_encode_bool(json, "headers_only", true);
        }
        go_json_literal(json, "}");
    }
    js_encode_bool(json, "allow_direct", config->allow_direct);
    js_encode_bool(json, "mirror_direct", config->mirror_direct);
    if (config->discard_new_per_subject) {
        js_encode_bool(json, "discard_new_per_subject", true);
    }
    js_encode_bool(json, "sealed", config->sealed);
    js_encode_bool(json, "deny_delete", config->deny_delete);
    js_encode_bool(json, "deny_purge", config->deny_purge);
    js_encode_bool(json, "allow_rollup_hdrs", config->allow_rollup_hdrs);
    go_json_key(json, "consumer_limits");
    go_json_literal(json, "{");
    if (config->consumer_limits.inactive_threshold_ns != 0) {
        js_encode_int(json, "inactive_threshold", config->consumer_limits.inactive_threshold_ns);
    }
    if (config->consumer_limits.max_ack_pending != 0) {
        js_encode_int(json, "max_ack_pending", config->consumer_limits.max_ack_pending);
    }
    go_json_literal(json, "}");
    js_encode_bool(json, "allow_msg_ttl", config->allow_msg_ttl);
    if (config->subject_delete_marker_ttl_ns != 0) {
        js_encode_int(json, "subject_delete_marker_ttl", config->subject_delete_marker_ttl_ns);
    }
    static const struct {
        const char *key;
        size_t offset;
    } flags_omitempty[] = {
        {"allow_msg_counter", offsetof(struct js_stream_config, allow_msg_counter)},
        {"allow_atomic", offsetof(struct js_stream_config, allow_atomic)},
        {"allow_msg_schedules", offsetof(struct js_stream_config, allow_msg_schedules)},
    };
    for (size_t i = 0; i < sizeof flags_omitempty / sizeof flags_omitempty[0]; i++) {
        if (*(const bool *)((const char *)config + flags_omitempty[i].offset)) {
            js_encode_bool(json, flags_omitempty[i].key, true);
        }
    }
    if (config->persist_mode == JS_STREAM_PERSIST_ASYNC) {
        js_encode_string(json, "persist_mode", "async");
    }
    if (config->allow_batched) {
        js_encode_bool(json, "allow_batched", true);
    }
}

void js_stream_config_encode(const struct js_stream_config *config,
                             const struct js_stream_config_encode_options *options,
                             struct go_json *json)
{
    /* only a checked config has a storage type; Go could not encode one without */
    ASSERT(config->storage != JS_STREAM_STORAGE_UNSET);
    go_json_literal(json, "{");
    js_encode_string(json, "name", config->name);
    js_encode_string_omit(json, "description", config->description);
    if (config->subject_count > 0) {
        js_encode_strings(json, "subjects", config->subjects, config->subject_count);
    }
    js_encode_string(json, "retention", js_retention_names[config->retention]);
    js_encode_int(json, "max_consumers", config->max_consumers);
    js_encode_int(json, "max_msgs", config->max_msgs);
    js_encode_int(json, "max_bytes", config->max_bytes);
    js_encode_int(json, "max_age", config->max_age_ns);
    js_encode_int(json, "max_msgs_per_subject", config->max_msgs_per_subject);
    if (config->max_msg_size != 0) {
        js_encode_int(json, "max_msg_size", config->max_msg_size);
    }
    js_encode_string(json, "discard", js_discard_names[config->discard]);
    js_encode_string(json, "storage", js_storage_names[config->storage]);
    js_encode_int(json, "num_replicas", config->num_replicas);
    if (config->no_ack) {
        js_encode_bool(json, "no_ack", true);
    }
    if (config->duplicate_window_ns != 0) {
        js_encode_int(json, "duplicate_window", config->duplicate_window_ns);
    }
    if (config->has_placement) {
        js_encode_placement(json, &config->placement);
    }
    js_encode_origins(json, config);
    js_encode_string(json, "compression", js_compression_names[config->compression]);
    js_encode_tail(json, config);
    js_encode_metadata(json, config, options);
    go_json_literal(json, "}");
}
