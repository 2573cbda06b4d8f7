/* A consumer config as the JSON object nats-server puts in its replies ("config"): see
 * js_consumer_config.h.
 *
 * Field order is nats-server's ConsumerConfig declaration order, which Go's encoder keeps.
 * Every field is tagged omitempty except deliver_policy, ack_policy, replay_policy and
 * num_replicas, so a zero number, a false flag, an empty string or array, an absent time
 * and the "none" priority policy (its zero value) are left out; max_deliver -1 is not
 * zero and is written. Map keys come out sorted, as Go sorts them. Pure function, any
 * thread. */
#include "proto/js_consumer_config.h"
#include "proto/js_stream_config_internal.h"

#include "base/assert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const js_deliver_names[] = {
    [JS_CONSUMER_DELIVER_ALL] = "all",
    [JS_CONSUMER_DELIVER_LAST] = "last",
    [JS_CONSUMER_DELIVER_NEW] = "new",
    [JS_CONSUMER_DELIVER_BY_START_SEQUENCE] = "by_start_sequence",
    [JS_CONSUMER_DELIVER_BY_START_TIME] = "by_start_time",
    [JS_CONSUMER_DELIVER_LAST_PER_SUBJECT] = "last_per_subject",
};

static const char *const js_ack_names[] = {
    [JS_CONSUMER_ACK_NONE] = "none",
    [JS_CONSUMER_ACK_ALL] = "all",
    [JS_CONSUMER_ACK_EXPLICIT] = "explicit",
    [JS_CONSUMER_ACK_FLOW_CONTROL] = "flow_control",
};

static const char *const js_replay_names[] = {
    [JS_CONSUMER_REPLAY_INSTANT] = "instant",
    [JS_CONSUMER_REPLAY_ORIGINAL] = "original",
};

static const char *const js_priority_names[] = {
    [JS_CONSUMER_PRIORITY_NONE] = "none",
    [JS_CONSUMER_PRIORITY_OVERFLOW] = "overflow",
    [JS_CONSUMER_PRIORITY_PINNED_CLIENT] = "pinned_client",
    [JS_CONSUMER_PRIORITY_PRIORITIZED] = "prioritized",
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

/* An omitempty number: left out when zero. */
static void js_encode_int_omit(struct go_json *json, const char *key, int64_t value)
{
    if (value != 0) {
        go_json_key(json, key);
        go_json_int(json, value);
    }
}

static void js_encode_uint_omit(struct go_json *json, const char *key, uint64_t value)
{
    if (value != 0) {
        go_json_key(json, key);
        go_json_uint(json, value);
    }
}

/* An omitempty flag: written only when true. */
static void js_encode_bool_omit(struct go_json *json, const char *key, bool value)
{
    if (value) {
        go_json_key(json, key);
        go_json_bool(json, true);
    }
}

static void js_encode_time_omit(struct go_json *json, const char *key, bool present,
                                const struct js_stream_time *time)
{
    if (present) {
        char text[JS_STREAM_TIME_TEXT_SIZE];
        js_stream_time_format(time, text, sizeof text);
        js_encode_string(json, key, text);
    }
}

static void js_encode_strings_omit(struct go_json *json, const char *key, char *const *strings,
                                   size_t count)
{
    if (count == 0) {
        return;
    }
    go_json_key(json, key);
    go_json_literal(json, "[");
    for (size_t i = 0; i < count; i++) {
        go_json_comma(json);
        go_json_cstring(json, js_stream_text(strings[i]));
    }
    go_json_literal(json, "]");
}

static void js_encode_backoff(struct go_json *json, const struct js_consumer_config *config)
{
    if (config->backoff_count == 0) {
        return;
    }
    go_json_key(json, "backoff");
    go_json_literal(json, "[");
    for (size_t i = 0; i < config->backoff_count; i++) {
        go_json_comma(json);
        go_json_int(json, config->backoff_ns[i]);
    }
    go_json_literal(json, "]");
}

static int js_encode_entry_order(const void *a, const void *b)
{
    const struct js_stream_metadata_entry *const *x = a;
    const struct js_stream_metadata_entry *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

/* The metadata, with the server's own keys added (its values winning, as
 * setDynamicConsumerMetadata overwrites) when a version is given. */
static void js_encode_metadata(struct go_json *json, const struct js_consumer_config *config,
                               const char *server_version, int server_api_level)
{
    bool dynamic = server_version != NULL;
    char level[16];
    struct js_stream_metadata_entry extra[2];
    if (dynamic) {
        snprintf(level, sizeof level, "%d", server_api_level);
        extra[0] = (struct js_stream_metadata_entry){JS_STREAM_METADATA_SERVER_VERSION,
                                                     (char *)server_version};
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
            continue;
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

/* The fields from max_waiting to sourcing: the pull and push options and the flags. */
static void js_encode_options(struct go_json *json, const struct js_consumer_config *config)
{
    js_encode_int_omit(json, "max_waiting", config->max_waiting);
    js_encode_int_omit(json, "max_ack_pending", config->max_ack_pending);
    js_encode_bool_omit(json, "flow_control", config->flow_control);
    js_encode_bool_omit(json, "headers_only", config->headers_only);
    js_encode_int_omit(json, "max_batch", config->max_batch);
    js_encode_int_omit(json, "max_expires", config->max_expires_ns);
    js_encode_int_omit(json, "max_bytes", config->max_bytes);
    js_encode_string_omit(json, "deliver_subject", config->deliver_subject);
    js_encode_string_omit(json, "deliver_group", config->deliver_group);
    js_encode_int_omit(json, "idle_heartbeat", config->idle_heartbeat_ns);
    js_encode_int_omit(json, "inactive_threshold", config->inactive_threshold_ns);
    go_json_key(json, "num_replicas");
    go_json_int(json, config->num_replicas);
    js_encode_bool_omit(json, "mem_storage", config->mem_storage);
    js_encode_bool_omit(json, "direct", config->direct);
    js_encode_bool_omit(json, "sourcing", config->sourcing);
}

void js_consumer_config_encode(const struct js_consumer_config *config, const char *server_version,
                               int server_api_level, struct go_json *json)
{
    ASSERT((unsigned)config->deliver_policy <= JS_CONSUMER_DELIVER_LAST_PER_SUBJECT);
    ASSERT((unsigned)config->ack_policy <= JS_CONSUMER_ACK_FLOW_CONTROL);
    ASSERT((unsigned)config->replay_policy <= JS_CONSUMER_REPLAY_ORIGINAL);
    ASSERT((unsigned)config->priority_policy <= JS_CONSUMER_PRIORITY_PRIORITIZED);
    go_json_literal(json, "{");
    js_encode_string_omit(json, "durable_name", config->durable_name);
    js_encode_string_omit(json, "name", config->name);
    js_encode_string_omit(json, "description", config->description);
    js_encode_string(json, "deliver_policy", js_deliver_names[config->deliver_policy]);
    js_encode_uint_omit(json, "opt_start_seq", config->opt_start_seq);
    js_encode_time_omit(json, "opt_start_time", config->has_opt_start_time,
                        &config->opt_start_time);
    js_encode_string(json, "ack_policy", js_ack_names[config->ack_policy]);
    js_encode_int_omit(json, "ack_wait", config->ack_wait_ns);
    js_encode_int_omit(json, "max_deliver", config->max_deliver);
    js_encode_backoff(json, config);
    js_encode_string_omit(json, "filter_subject", config->filter_subject);
    js_encode_strings_omit(json, "filter_subjects", config->filter_subjects,
                           config->filter_subject_count);
    js_encode_string(json, "replay_policy", js_replay_names[config->replay_policy]);
    js_encode_uint_omit(json, "rate_limit_bps", config->rate_limit_bps);
    js_encode_string_omit(json, "sample_freq", config->sample_freq);
    js_encode_options(json, config);
    js_encode_metadata(json, config, server_version, server_api_level);
    js_encode_time_omit(json, "pause_until", config->has_pause_until, &config->pause_until);
    js_encode_strings_omit(json, "priority_groups", config->priority_groups,
                           config->priority_group_count);
    if (config->priority_policy != JS_CONSUMER_PRIORITY_NONE) {
        js_encode_string(json, "priority_policy", js_priority_names[config->priority_policy]);
    }
    js_encode_int_omit(json, "priority_timeout", config->priority_timeout_ns);
    go_json_literal(json, "}");
}
