/* The handlers' checks around checkStreamCfg (the create request, the name, replicas,
 * source filters), updates, equality and nats-server's metadata keys: see
 * js_stream_config.h.
 *
 * An update is checked as nats-server's configUpdateCheck does: the new config must pass
 * checkStreamCfg, then each rule about what may change is tried in nats-server's order, so
 * the first refused change names itself. Equality is what nats-server's reflect.DeepEqual
 * decides when a create names an existing stream, with the stored _nats.req.level carried
 * over first (copyStreamMetadata), so nats-server's own keys never make two configs
 * differ; an empty array and an absent one count as the same here. Pure functions, any
 * thread. */
#include "proto/js_stream_config_internal.h"

#include "base/assert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- equality ------------------------------------------------------------------------ */

static bool js_same_text(const char *a, const char *b)
{
    return strcmp(js_stream_text(a), js_stream_text(b)) == 0;
}

static bool js_same_strings(char *const *a, size_t a_count, char *const *b, size_t b_count)
{
    if (a_count != b_count) {
        return false;
    }
    for (size_t i = 0; i < a_count; i++) {
        if (!js_same_text(a[i], b[i])) {
            return false;
        }
    }
    return true;
}

static bool js_same_transform(const struct js_stream_subject_transform *a,
                              const struct js_stream_subject_transform *b)
{
    return js_same_text(a->src, b->src) && js_same_text(a->dest, b->dest);
}

static bool js_same_time(const struct js_stream_time *a, const struct js_stream_time *b)
{
    return a->year == b->year && a->month == b->month && a->day == b->day && a->hour == b->hour &&
           a->minute == b->minute && a->second == b->second && a->nanosecond == b->nanosecond &&
           a->offset_seconds == b->offset_seconds;
}

static bool js_same_source(const struct js_stream_source *a, const struct js_stream_source *b)
{
    if (!js_same_text(a->name, b->name) || a->opt_start_seq != b->opt_start_seq ||
        a->has_opt_start_time != b->has_opt_start_time ||
        (a->has_opt_start_time && !js_same_time(&a->opt_start_time, &b->opt_start_time)) ||
        !js_same_text(a->filter_subject, b->filter_subject) ||
        a->subject_transform_count != b->subject_transform_count ||
        a->has_external != b->has_external || a->has_consumer != b->has_consumer) {
        return false;
    }
    for (size_t i = 0; i < a->subject_transform_count; i++) {
        if (!js_same_transform(&a->subject_transforms[i], &b->subject_transforms[i])) {
            return false;
        }
    }
    if (a->has_external && (!js_same_text(a->external.api, b->external.api) ||
                            !js_same_text(a->external.deliver, b->external.deliver))) {
        return false;
    }
    return !a->has_consumer ||
           (js_same_text(a->consumer.name, b->consumer.name) &&
            js_same_text(a->consumer.deliver_subject, b->consumer.deliver_subject));
}

static bool js_same_mirror(const struct js_stream_source *a, const struct js_stream_source *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return js_same_source(a, b);
}

static bool js_same_placement(const struct js_stream_config *a, const struct js_stream_config *b)
{
    if (a->has_placement != b->has_placement) {
        return false;
    }
    return !a->has_placement || (js_same_text(a->placement.cluster, b->placement.cluster) &&
                                 js_same_text(a->placement.preferred, b->placement.preferred) &&
                                 js_same_strings(a->placement.tags, a->placement.tag_count,
                                                 b->placement.tags, b->placement.tag_count));
}

/* nats-server's own keys, which never make two stored configs differ. */
static bool js_server_key(const char *key)
{
    return strcmp(key, JS_STREAM_METADATA_REQUIRED_LEVEL) == 0 ||
           strcmp(key, JS_STREAM_METADATA_SERVER_VERSION) == 0 ||
           strcmp(key, JS_STREAM_METADATA_SERVER_LEVEL) == 0;
}

/* The metadata entries (sorted) without nats-server's keys, pairwise. */
static bool js_same_metadata(const struct js_stream_config *a, const struct js_stream_config *b)
{
    size_t i = 0;
    size_t j = 0;
    for (;;) {
        while (i < a->metadata_count && js_server_key(a->metadata[i].key)) {
            i++;
        }
        while (j < b->metadata_count && js_server_key(b->metadata[j].key)) {
            j++;
        }
        if (i == a->metadata_count || j == b->metadata_count) {
            return i == a->metadata_count && j == b->metadata_count;
        }
        if (strcmp(a->metadata[i].key, b->metadata[j].key) != 0 ||
            strcmp(a->metadata[i].value, b->metadata[j].value) != 0) {
            return false;
        }
        i++;
        j++;
    }
}

/* The plain (number, enum, flag) fields, in declaration order. */
static bool js_same_values(const struct js_stream_config *a, const struct js_stream_config *b)
{
    return a->retention == b->retention && a->max_consumers == b->max_consumers &&
           a->max_msgs == b->max_msgs && a->max_bytes == b->max_bytes &&
           a->max_age_ns == b->max_age_ns && a->max_msgs_per_subject == b->max_msgs_per_subject &&
           a->max_msg_size == b->max_msg_size && a->discard == b->discard &&
           a->storage == b->storage && a->num_replicas == b->num_replicas &&
           a->no_ack == b->no_ack && a->duplicate_window_ns == b->duplicate_window_ns &&
           a->compression == b->compression && a->first_seq == b->first_seq &&
           a->allow_direct == b->allow_direct && a->mirror_direct == b->mirror_direct &&
           a->discard_new_per_subject == b->discard_new_per_subject && a->sealed == b->sealed &&
           a->deny_delete == b->deny_delete && a->deny_purge == b->deny_purge &&
           a->allow_rollup_hdrs == b->allow_rollup_hdrs &&
           a->consumer_limits.inactive_threshold_ns == b->consumer_limits.inactive_threshold_ns &&
           a->consumer_limits.max_ack_pending == b->consumer_limits.max_ack_pending &&
           a->allow_msg_ttl == b->allow_msg_ttl &&
           a->subject_delete_marker_ttl_ns == b->subject_delete_marker_ttl_ns &&
           a->allow_msg_counter == b->allow_msg_counter && a->allow_atomic == b->allow_atomic &&
           a->allow_msg_schedules == b->allow_msg_schedules && a->persist_mode == b->persist_mode &&
           a->allow_batched == b->allow_batched;
}

bool js_stream_config_equal(const struct js_stream_config *a, const struct js_stream_config *b)
{
    if (!js_same_text(a->name, b->name) || !js_same_text(a->description, b->description) ||
        !js_same_strings(a->subjects, a->subject_count, b->subjects, b->subject_count) ||
        !js_same_values(a, b) || !js_same_placement(a, b) ||
        !js_same_mirror(a->mirror, b->mirror) || a->source_count != b->source_count) {
        return false;
    }
    for (size_t i = 0; i < a->source_count; i++) {
        if (!js_same_source(&a->sources[i], &b->sources[i])) {
            return false;
        }
    }
    if (a->has_subject_transform != b->has_subject_transform ||
        (a->has_subject_transform &&
         !js_same_transform(&a->subject_transform, &b->subject_transform))) {
        return false;
    }
    if (a->has_republish != b->has_republish ||
        (a->has_republish && (!js_same_text(a->republish.src, b->republish.src) ||
                              !js_same_text(a->republish.dest, b->republish.dest) ||
                              a->republish.headers_only != b->republish.headers_only))) {
        return false;
    }
    return js_same_metadata(a, b);
}

/* ---- the handlers' checks around checkStreamCfg --------------------------------------- */

int js_stream_config_check_name(const struct js_stream_config *config, const char *subject_name,
                                size_t subject_name_length, struct js_error *error)
{
    const char *name = js_stream_text(config->name);
    if (strlen(name) != subject_name_length ||
        memcmp(name, subject_name, subject_name_length) != 0) {
        return js_stream_fail(error, JS_ERR_STREAM_MISMATCH);
    }
    return 0;
}

int js_stream_config_check_create_request(const struct js_stream_config *config,
                                          const char *subject_name, size_t subject_name_length,
                                          struct js_error *error)
{
    js_errors_clear(error);
    int rc = js_stream_config_check_name(config, subject_name, subject_name_length, error);
    if (rc != 0) {
        return rc;
    }
    if (memchr(subject_name, '\\', subject_name_length) != NULL ||
        memchr(subject_name, '/', subject_name_length) != NULL) {
        return js_stream_fail(error, JS_ERR_STREAM_NAME_CONTAINS_PATH_SEPARATORS);
    }
    if (config->sealed) {
        return js_stream_invalid(error, "stream configuration for create can not be sealed");
    }
    if (config->mirror_direct && config->mirror == NULL) {
        return js_stream_invalid(error, "stream has no mirror but does have mirror direct");
    }
    return 0;
}

int js_stream_config_check_replicas(const struct js_stream_config *config, bool clustered,
                                    struct js_error *error)
{
    if (!clustered && config->num_replicas > 1) {
        return js_stream_fail(error, JS_ERR_STREAM_REPLICAS_NOT_SUPPORTED);
    }
    return 0;
}

/* addStream's check of a filter and its transforms ("for the mirror" / "for the source"). */
static int js_check_origin_filters(const struct js_stream_source *source, bool mirror,
                                   struct js_error *error)
{
    const char *what = mirror ? "the mirror" : "the source";
    if (source->subject_transform_count == 0) {
        if (source->filter_subject != NULL && !js_stream_subject_valid(source->filter_subject)) {
            return js_stream_failf(error, JS_ERR_STREAM_CREATE,
                                   "subject filter '%s' for %s%s invalid subject",
                                   source->filter_subject, what, mirror ? "" : ":");
        }
        return 0;
    }
    for (size_t i = 0; i < source->subject_transform_count; i++) {
        const struct js_stream_subject_transform *transform = &source->subject_transforms[i];
        if (transform->src != NULL && !js_stream_subject_valid(transform->src)) {
            if (mirror) {
                return js_stream_failf(
                    error, JS_ERR_STREAM_CREATE,
                    "invalid subject transform source '%s' for the mirror: invalid "
                    "subject",
                    transform->src);
            }
            return js_stream_failf(error, JS_ERR_STREAM_CREATE,
                                   "subject filter '%s' for the source: invalid subject",
                                   transform->src);
        }
        char text[JS_STREAM_TRANSFORM_ERROR_SIZE];
        if (transform->dest != NULL &&
            js_stream_transform_check(transform->src, transform->dest, false, text, sizeof text)) {
            return js_stream_failf(error, JS_ERR_STREAM_CREATE,
                                   "subject transform from '%s' to '%s' for %s: %s",
                                   js_stream_text(transform->src), transform->dest, what, text);
        }
    }
    return 0;
}

int js_stream_config_check_filters(const struct js_stream_config *config, struct js_error *error)
{
    if (config->mirror != NULL) {
        int rc = js_check_origin_filters(config->mirror, true, error);
        if (rc != 0) {
            return rc;
        }
    }
    for (size_t i = 0; i < config->source_count; i++) {
        int rc = js_check_origin_filters(&config->sources[i], false, error);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* ---- update -------------------------------------------------------------------------- */

/* What may not change, in configUpdateCheck's order (after the name and replicas). */
static int js_update_rules(const struct js_stream_config *old,
                           const struct js_stream_config *config, struct js_error *error)
{
    if (config->storage != old->storage) {
        return js_stream_invalid(error, "stream configuration update can not change storage type");
    }
    if (config->retention != old->retention &&
        (old->retention == JS_STREAM_RETENTION_WORKQUEUE ||
         config->retention == JS_STREAM_RETENTION_WORKQUEUE)) {
        return js_stream_invalid(
            error, "stream configuration update can not change retention policy to/from "
                   "workqueue");
    }
    if (!config->sealed && old->sealed) {
        return js_stream_invalid(error,
                                 "stream configuration update can not unseal a sealed stream");
    }
    if (!config->deny_delete && old->deny_delete) {
        return js_stream_invalid(error,
                                 "stream configuration update can not cancel deny message deletes");
    }
    if (!config->deny_purge && old->deny_purge) {
        return js_stream_invalid(error, "stream configuration update can not cancel deny purge");
    }
    if (config->mirror != NULL && !js_same_mirror(config->mirror, old->mirror)) {
        return js_stream_fail(error, JS_ERR_STREAM_MIRROR_NOT_UPDATABLE);
    }
    int rc = js_stream_check_discard_new_per_subject(config, error);
    if (rc != 0) {
        return rc;
    }
    if (old->allow_msg_ttl && !config->allow_msg_ttl) {
        return js_stream_invalid(error, "message TTL status can not be disabled");
    }
    if (config->allow_msg_counter != old->allow_msg_counter) {
        return js_stream_invalid(
            error, "stream configuration update can not change message counter setting");
    }
    if (old->allow_msg_schedules && !config->allow_msg_schedules) {
        return js_stream_invalid(error, "message schedules can not be disabled");
    }
    if (old->persist_mode != config->persist_mode) {
        return js_stream_invalid(error, "stream configuration update can not change persist mode");
    }
    return 0;
}

int js_stream_config_check_update(const struct js_stream_config *old,
                                  struct js_stream_config *config,
                                  const struct js_stream_config_check_options *options,
                                  bool clustered, struct js_error *error)
{
    ASSERT(old->storage != JS_STREAM_STORAGE_UNSET);
    int rc = js_stream_config_check(config, options, error);
    if (rc != 0) {
        return rc;
    }
    if (!js_same_text(config->name, old->name)) {
        return js_stream_invalid(error, "stream configuration name must match original");
    }
    rc = js_stream_config_check_replicas(config, clustered, error);
    rc = rc ? rc : js_update_rules(old, config, error);
    if (rc != 0) {
        return rc;
    }
    if (config->sealed) {
        config->max_age_ns = 0;
        config->discard = JS_STREAM_DISCARD_NEW;
        config->deny_delete = true;
        config->deny_purge = true;
        config->allow_rollup_hdrs = false;
    }
    return 0;
}

/* ---- metadata ------------------------------------------------------------------------ */

/* API levels nats-server assigns to features (server/jetstream_versioning.go). */
enum {
    JS_LEVEL_MSG_TTL = 1, /* 2.11 */
    JS_LEVEL_2_12 = 2,    /* counters, atomic publish, schedules, async persist */
    JS_LEVEL_BATCHED = 4, /* 2.14 fast batch publish */
};

int js_stream_config_api_level_required(const struct js_stream_config *config)
{
    int level = 0;
    if (config->allow_msg_ttl || config->subject_delete_marker_ttl_ns > 0) {
        level = JS_LEVEL_MSG_TTL;
    }
    if (config->allow_msg_counter || config->allow_atomic || config->allow_msg_schedules ||
        config->persist_mode == JS_STREAM_PERSIST_ASYNC) {
        level = JS_LEVEL_2_12;
    }
    if (config->allow_batched) {
        level = JS_LEVEL_BATCHED;
    }
    return level;
}

/* Removes entry `index` of the sorted metadata. */
static void js_metadata_remove(struct js_stream_config *config, size_t index)
{
    free(config->metadata[index].key);
    free(config->metadata[index].value);
    memmove(&config->metadata[index], &config->metadata[index + 1],
            (config->metadata_count - index - 1) * sizeof *config->metadata);
    config->metadata_count--;
}

int js_stream_config_metadata_set_static(struct js_stream_config *config)
{
    for (size_t i = config->metadata_count; i-- > 0;) {
        const char *key = config->metadata[i].key;
        if (strcmp(key, JS_STREAM_METADATA_SERVER_VERSION) == 0 ||
            strcmp(key, JS_STREAM_METADATA_SERVER_LEVEL) == 0) {
            js_metadata_remove(config, i);
        }
    }
    char level[16];
    snprintf(level, sizeof level, "%d", js_stream_config_api_level_required(config));
    size_t at = 0;
    while (at < config->metadata_count &&
           strcmp(config->metadata[at].key, JS_STREAM_METADATA_REQUIRED_LEVEL) < 0) {
        at++;
    }
    char *value = strdup(level);
    if (value == NULL) {
        return -ENOMEM;
    }
    if (at < config->metadata_count &&
        strcmp(config->metadata[at].key, JS_STREAM_METADATA_REQUIRED_LEVEL) == 0) {
        free(config->metadata[at].value);
        config->metadata[at].value = value;
        return 0;
    }
    char *key = strdup(JS_STREAM_METADATA_REQUIRED_LEVEL);
    void *grown =
        realloc(config->metadata, (config->metadata_count + 1) * sizeof *config->metadata);
    if (key == NULL || grown == NULL) {
        free(key);
        free(value);
        if (grown != NULL) {
            config->metadata = grown;
        }
        return -ENOMEM;
    }
    config->metadata = grown;
    memmove(&config->metadata[at + 1], &config->metadata[at],
            (config->metadata_count - at) * sizeof *config->metadata);
    config->metadata[at] = (struct js_stream_metadata_entry){key, value};
    config->metadata_count++;
    return 0;
}
