/* nats-server's checks of a stream config: see js_stream_config.h.
 *
 * js_stream_config_check follows checkStreamCfg in nats-server 2.15 step for step, in its
 * order, because the first failing step decides which error a client sees: names and
 * lengths, limits and their defaults, the duplicate window, the flag combinations, the
 * mirror, the sources, external prefixes, cycles back to this stream, the subjects, the
 * subject transform, republish, placement. Each error is nats-server's text, most of them
 * 10052 "JSStreamInvalidConfigF" with the text as its description. Pure functions, any
 * thread. */
#include "proto/js_stream_config_internal.h"

#include "base/assert.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The smallest max_age and duplicate_window nats-server accepts. */
#define JS_CHECK_WINDOW_MIN_NS (100 * JS_STREAM_NS_PER_MS)
/* The smallest subject delete marker TTL. */
#define JS_CHECK_MARKER_TTL_MIN_NS JS_STREAM_NS_PER_SECOND

/* The JetStream API prefix an external api prefix may not overlap (JSApiPrefix). */
static const char JS_CHECK_API_PREFIX[] = "$JS.API";

int js_stream_invalid(struct js_error *error, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    js_errors_vsetf(error, JS_ERR_STREAM_INVALID_CONFIG, format, args);
    va_end(args);
    return -EINVAL;
}

int js_stream_fail(struct js_error *error, enum js_error_id id)
{
    js_errors_set(error, id);
    return -EINVAL;
}

int js_stream_failf(struct js_error *error, enum js_error_id id, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    js_errors_vsetf(error, id, format, args);
    va_end(args);
    return -EINVAL;
}

/* nats-server's isValidAssetName: not empty, none of " \t\r\n\f.*>\\/". */
static bool js_check_asset_name(const char *name)
{
    return name != NULL && name[0] != '\0' && strpbrk(name, " \t\r\n\f.*>\\/") == NULL;
}

/* Go's %q of a string, for the descriptions that quote one. */
static void js_check_quote(const char *text, char *quoted, size_t size)
{
    go_json_quote_into(quoted, size, js_stream_text(text), strlen(js_stream_text(text)));
}

/* ---- names, sizes, limits -------------------------------------------------------------- */

static int js_check_sizes(const struct js_stream_config *config, struct js_error *error)
{
    if (!js_check_asset_name(config->name)) {
        return js_stream_invalid(
            error, "stream name is required and can not contain '.', '*', '>', '\\', '/'");
    }
    if (strlen(config->name) > JS_STREAM_CONFIG_NAME_LENGTH_MAX) {
        return js_stream_invalid(error, "stream name is too long, maximum allowed is %d",
                                 JS_STREAM_CONFIG_NAME_LENGTH_MAX);
    }
    if (strlen(js_stream_text(config->description)) > JS_STREAM_CONFIG_DESCRIPTION_LENGTH_MAX) {
        return js_stream_invalid(error, "stream description is too long, maximum allowed is %d",
                                 JS_STREAM_CONFIG_DESCRIPTION_LENGTH_MAX);
    }
    size_t metadata_length = 0;
    for (size_t i = 0; i < config->metadata_count; i++) {
        metadata_length += strlen(config->metadata[i].key) + strlen(config->metadata[i].value);
    }
    if (metadata_length > JS_STREAM_CONFIG_METADATA_LENGTH_MAX) {
        return js_stream_invalid(error, "stream metadata exceeds maximum size of %d bytes",
                                 JS_STREAM_CONFIG_METADATA_LENGTH_MAX);
    }
    return 0;
}

/* A limit where 0 and anything below -1 mean "unlimited" (-1); pedantic refuses < -1. */
static int js_check_unlimited(int64_t *value, const char *name, bool pedantic,
                              struct js_error *error)
{
    if (*value == 0 || *value < -1) {
        if (pedantic && *value < -1) {
            return js_stream_failf(error, JS_ERR_PEDANTIC, "%s must be set to -1", name);
        }
        *value = -1;
    }
    return 0;
}

static int js_check_limits(struct js_stream_config *config, bool pedantic, struct js_error *error)
{
    if (config->storage == JS_STREAM_STORAGE_UNSET) {
        config->storage = JS_STREAM_STORAGE_FILE;
    }
    if (config->num_replicas == 0) {
        config->num_replicas = 1;
    }
    if (config->num_replicas > JS_STREAM_CONFIG_REPLICAS_MAX) {
        return js_stream_invalid(error, "maximum replicas is %d", JS_STREAM_CONFIG_REPLICAS_MAX);
    }
    if (config->num_replicas < 0) {
        return js_stream_fail(error, JS_ERR_REPLICAS_COUNT_CANNOT_BE_NEGATIVE);
    }
    int64_t max_msg_size = config->max_msg_size;
    int rc = js_check_unlimited(&config->max_msgs, "max_msgs", pedantic, error);
    rc = rc ? rc
            : js_check_unlimited(&config->max_msgs_per_subject, "max_msgs_per_subject", pedantic,
                                 error);
    rc = rc ? rc : js_check_unlimited(&config->max_bytes, "max_bytes", pedantic, error);
    rc = rc ? rc : js_check_unlimited(&max_msg_size, "max_msg_size", pedantic, error);
    rc = rc ? rc : js_check_unlimited(&config->max_consumers, "max_consumers", pedantic, error);
    if (rc != 0) {
        return rc;
    }
    config->max_msg_size = (int32_t)max_msg_size;
    if (config->max_age_ns < 0) {
        return js_stream_invalid(error, "max age can not be negative");
    }
    if (config->max_age_ns != 0 && config->max_age_ns < JS_CHECK_WINDOW_MIN_NS) {
        return js_stream_invalid(error, "max age needs to be >= 100ms");
    }
    return 0;
}

static int js_check_duplicates(struct js_stream_config *config,
                               const struct js_stream_config_check_options *options,
                               struct js_error *error)
{
    int64_t limit = options->duplicate_window_max_ns;
    if (config->duplicate_window_ns == 0 && config->mirror == NULL && config->source_count == 0) {
        int64_t window = JS_STREAM_DUPLICATE_WINDOW_DEFAULT_NS;
        if (limit > 0 && window > limit) {
            if (options->pedantic) {
                return js_stream_failf(error, JS_ERR_PEDANTIC,
                                       "duplicate window limits are higher than current limits");
            }
            window = limit;
        }
        if (config->max_age_ns != 0 && config->max_age_ns < window) {
            if (options->pedantic) {
                return js_stream_failf(error, JS_ERR_PEDANTIC,
                                       "duplicate window cannot be bigger than max age");
            }
            window = config->max_age_ns;
        }
        config->duplicate_window_ns = window;
    }
    if (config->duplicate_window_ns < 0) {
        return js_stream_invalid(error, "duplicates window can not be negative");
    }
    if (config->max_age_ns != 0 && config->duplicate_window_ns > config->max_age_ns) {
        return js_stream_invalid(error, "duplicates window can not be larger then max age");
    }
    if (limit > 0 && config->duplicate_window_ns > limit) {
        char text[JS_STREAM_DURATION_TEXT_SIZE];
        js_stream_duration_format(limit, text, sizeof text);
        return js_stream_invalid(
            error, "duplicates window can not be larger then server limit of %s", text);
    }
    if (config->duplicate_window_ns > 0 && config->duplicate_window_ns < JS_CHECK_WINDOW_MIN_NS) {
        return js_stream_invalid(error, "duplicates window needs to be >= 100ms");
    }
    return 0;
}

/* Roll-ups, counters, discard new per subject, delete markers, schedules, persist mode. */
int js_stream_check_discard_new_per_subject(const struct js_stream_config *config,
                                            struct js_error *error)
{
    if (!config->discard_new_per_subject) {
        return 0;
    }
    if (config->discard != JS_STREAM_DISCARD_NEW) {
        return js_stream_invalid(error,
                                 "discard new per subject requires discard new policy to be set");
    }
    if (config->max_msgs_per_subject <= 0) {
        return js_stream_invalid(error,
                                 "discard new per subject requires max msgs per subject > 0");
    }
    return 0;
}

static int js_check_flags(struct js_stream_config *config, bool pedantic, struct js_error *error)
{
    if (config->deny_purge && config->allow_rollup_hdrs) {
        return js_stream_invalid(error, "roll-ups require the purge permission");
    }
    if (config->allow_msg_counter) {
        if (config->discard == JS_STREAM_DISCARD_NEW) {
            return js_stream_invalid(error, "counter stream cannot use discard new");
        }
        if (config->allow_msg_ttl) {
            return js_stream_invalid(error, "counter stream cannot use message TTLs");
        }
        if (config->allow_msg_schedules) {
            return js_stream_invalid(error, "counter stream cannot use message schedules");
        }
        if (config->retention != JS_STREAM_RETENTION_LIMITS) {
            return js_stream_invalid(error, "counter stream can only use limits retention");
        }
    }
    int rc = js_stream_check_discard_new_per_subject(config, error);
    if (rc != 0) {
        return rc;
    }
    if (config->subject_delete_marker_ttl_ns > 0) {
        if (config->subject_delete_marker_ttl_ns < JS_CHECK_MARKER_TTL_MIN_NS) {
            return js_stream_invalid(error, "subject delete marker TTL must be at least 1 second");
        }
        if (!config->allow_msg_ttl) {
            if (pedantic) {
                return js_stream_invalid(
                    error, "subject delete marker cannot be set if message TTLs are disabled");
            }
            config->allow_msg_ttl = true;
        }
        if (!config->allow_rollup_hdrs) {
            if (pedantic) {
                return js_stream_invalid(
                    error, "subject delete marker cannot be set if roll-ups are disabled");
            }
            config->allow_rollup_hdrs = true;
            config->deny_purge = false;
        }
    } else if (config->subject_delete_marker_ttl_ns < 0) {
        return js_stream_invalid(error, "subject delete marker TTL must not be negative");
    }
    if (config->allow_msg_schedules) {
        if (config->discard == JS_STREAM_DISCARD_NEW) {
            return js_stream_invalid(error, "message scheduling cannot use discard new");
        }
        if (!config->allow_rollup_hdrs) {
            if (pedantic) {
                return js_stream_invalid(
                    error, "message scheduling cannot be set if roll-ups are disabled");
            }
            config->allow_rollup_hdrs = true;
            config->deny_purge = false;
        }
    }
    if (config->persist_mode == JS_STREAM_PERSIST_ASYNC) {
        if (config->storage != JS_STREAM_STORAGE_FILE) {
            return js_stream_invalid(error, "async persist mode is only supported on file storage");
        }
        if (config->num_replicas > 1) {
            return js_stream_invalid(error,
                                     "async persist mode is not supported on replicated streams");
        }
        if (config->allow_atomic) {
            return js_stream_invalid(
                error, "async persist mode is not supported with atomic batch publish");
        }
    }
    return 0;
}

/* ---- mirror and sources ---------------------------------------------------------------- */

/* A durable sourcing consumer: a valid name, a literal deliver subject, and no start
 * position or filter on its source. */
static bool js_check_source_consumer(const struct js_stream_source *source)
{
    const struct js_stream_source_consumer *consumer = &source->consumer;
    const char *deliver = js_stream_text(consumer->deliver_subject);
    return js_check_asset_name(consumer->name) && js_stream_subject_literal(deliver) &&
           js_stream_subject_valid(deliver) && source->opt_start_seq == 0 &&
           !source->has_opt_start_time && source->filter_subject == NULL;
}

/* One transform of a source or mirror: a valid source subject, a valid mapping. */
static int js_check_source_transform(const struct js_stream_subject_transform *transform,
                                     enum js_error_id bad_source, enum js_error_id bad_mapping,
                                     struct js_error *error)
{
    if (transform->src != NULL && !js_stream_subject_valid(transform->src)) {
        return js_stream_failf(error, bad_source, "invalid subject %s", transform->src);
    }
    char text[JS_STREAM_TRANSFORM_ERROR_SIZE];
    if (js_stream_transform_check(transform->src, transform->dest, true, text, sizeof text) != 0) {
        return js_stream_failf(error, bad_mapping, "%s", text);
    }
    return 0;
}

/* Whether an external prefix is unset (NULL) or the literal subject it must be. */
static bool js_check_prefix_literal(const char *prefix)
{
    return prefix == NULL || (js_stream_subject_valid(prefix) && js_stream_subject_literal(prefix));
}

/* An external api prefix: a literal subject that does not overlap $JS.API. */
static int js_check_api_prefix(const struct js_stream_source *source, struct js_error *error)
{
    const char *api = source->has_external ? source->external.api : NULL;
    if (!js_check_prefix_literal(api)) {
        char quoted[2 * JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX];
        js_check_quote(api, quoted, sizeof quoted);
        return js_stream_invalid(
            error, "stream external api prefix %s must be a valid subject without wildcards",
            quoted);
    }
    if (api != NULL && js_stream_config_subjects_collide(api, JS_CHECK_API_PREFIX)) {
        const char *args[] = {api, JS_CHECK_API_PREFIX};
        js_errors_set_args(error, JS_ERR_STREAM_EXTERNAL_API_OVERLAP, args, 2);
        return -EINVAL;
    }
    return 0;
}

/* An external delivery prefix: a literal subject. (Its overlap with the origin stream's
 * subjects needs that stream: the caller's.) */
static int js_check_deliver_prefix(const struct js_stream_source *source, struct js_error *error)
{
    const char *deliver = source->has_external ? source->external.deliver : NULL;
    if (!js_check_prefix_literal(deliver)) {
        const char *args[] = {deliver};
        js_errors_set_args(error, JS_ERR_STREAM_INVALID_EXTERNAL_DELIVERY_SUBJ, args, 1);
        return -EINVAL;
    }
    return 0;
}

static int js_check_mirror(const struct js_stream_config *config, struct js_error *error)
{
    const struct js_stream_source *mirror = config->mirror;
    if (config->first_seq > 0) {
        return js_stream_fail(error, JS_ERR_MIRROR_WITH_FIRST_SEQ);
    }
    if (config->subject_count > 0) {
        return js_stream_fail(error, JS_ERR_MIRROR_WITH_SUBJECTS);
    }
    if (config->source_count > 0) {
        return js_stream_fail(error, JS_ERR_MIRROR_WITH_SOURCES);
    }
    static const struct {
        size_t flag;
        enum js_error_id id;
    } forbidden[] = {
        {offsetof(struct js_stream_config, allow_msg_counter), JS_ERR_MIRROR_WITH_COUNTERS},
        {offsetof(struct js_stream_config, allow_atomic), JS_ERR_MIRROR_WITH_ATOMIC_PUBLISH},
        {offsetof(struct js_stream_config, allow_batched), JS_ERR_MIRROR_WITH_BATCH_PUBLISH},
        {offsetof(struct js_stream_config, allow_msg_schedules), JS_ERR_MIRROR_WITH_MSG_SCHEDULES},
    };
    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
        if (*(const bool *)((const char *)config + forbidden[i].flag)) {
            return js_stream_fail(error, forbidden[i].id);
        }
    }
    if (mirror->has_consumer && !js_check_source_consumer(mirror)) {
        return js_stream_fail(error, JS_ERR_MIRROR_DURABLE_CONSUMER_CFG_INVALID);
    }
    if (mirror->filter_subject != NULL && mirror->subject_transform_count > 0) {
        return js_stream_fail(error, JS_ERR_MIRROR_MULTIPLE_FILTERS_NOT_ALLOWED);
    }
    if (config->subject_delete_marker_ttl_ns > 0) {
        return js_stream_invalid(error, "subject delete markers forbidden on mirrors");
    }
    for (size_t i = 0; i < mirror->subject_transform_count; i++) {
        const struct js_stream_subject_transform *outer = &mirror->subject_transforms[i];
        int rc = js_check_source_transform(outer, JS_ERR_MIRROR_INVALID_SUBJECT_FILTER,
                                           JS_ERR_MIRROR_INVALID_TRANSFORM_DESTINATION, error);
        if (rc != 0) {
            return rc;
        }
        for (size_t j = 0; j < mirror->subject_transform_count; j++) {
            const char *inner = js_stream_text(mirror->subject_transforms[j].src);
            if (j != i && js_stream_config_subjects_collide(js_stream_text(outer->src), inner)) {
                return js_stream_fail(error, JS_ERR_MIRROR_OVERLAPPING_SUBJECT_FILTERS);
            }
        }
    }
    if (!mirror->has_external && !js_check_asset_name(mirror->name)) {
        return js_stream_fail(error, JS_ERR_MIRROR_INVALID_STREAM_NAME);
    }
    return 0;
}

/* Source `i` of a source's normalised filter list: nats-server's composeIName joins the
 * transforms' sources (or the filter) and destinations, an empty one meaning ">". */
static const char *js_check_iname_part(const struct js_stream_source *source, size_t i,
                                       bool destination)
{
    const char *text;
    if (source->subject_transform_count == 0) {
        text = destination ? NULL : source->filter_subject;
    } else {
        const struct js_stream_subject_transform *transform = &source->subject_transforms[i];
        text = destination ? transform->dest : transform->src;
    }
    return text != NULL ? text : ">";
}

/* nats-server's composeIName equality: the same stream, external api, consumer and the
 * same filters and destinations. */
static bool js_check_same_source(const struct js_stream_source *a, const struct js_stream_source *b)
{
    if (strcmp(js_stream_text(a->name), js_stream_text(b->name)) != 0 ||
        a->has_external != b->has_external || a->has_consumer != b->has_consumer) {
        return false;
    }
    if (a->has_external &&
        strcmp(js_stream_text(a->external.api), js_stream_text(b->external.api)) != 0) {
        return false;
    }
    if (a->has_consumer &&
        strcmp(js_stream_text(a->consumer.name), js_stream_text(b->consumer.name)) != 0) {
        return false;
    }
    size_t a_count = a->subject_transform_count ? a->subject_transform_count : 1;
    size_t b_count = b->subject_transform_count ? b->subject_transform_count : 1;
    if (a_count != b_count) {
        return false;
    }
    for (size_t i = 0; i < a_count; i++) {
        for (int destination = 0; destination < 2; destination++) {
            if (strcmp(js_check_iname_part(a, i, destination),
                       js_check_iname_part(b, i, destination)) != 0) {
                return false;
            }
        }
    }
    return true;
}

/* composeCName equality: the same stream, external api and consumer name. */
static bool js_check_same_source_consumer(const struct js_stream_source *a,
                                          const struct js_stream_source *b)
{
    return strcmp(js_stream_text(a->name), js_stream_text(b->name)) == 0 &&
           a->has_external == b->has_external &&
           (!a->has_external ||
            strcmp(js_stream_text(a->external.api), js_stream_text(b->external.api)) == 0) &&
           strcmp(js_stream_text(a->consumer.name), js_stream_text(b->consumer.name)) == 0;
}

static int js_check_source(const struct js_stream_config *config, size_t index,
                           struct js_error *error)
{
    const struct js_stream_source *source = &config->sources[index];
    if (!js_check_asset_name(source->name)) {
        return js_stream_fail(error, JS_ERR_SOURCE_INVALID_STREAM_NAME);
    }
    for (size_t i = 0; i < index; i++) {
        if (js_check_same_source(&config->sources[i], source)) {
            return js_stream_fail(error, JS_ERR_SOURCE_DUPLICATE_DETECTED);
        }
    }
    if (source->filter_subject != NULL && source->subject_transform_count > 0) {
        return js_stream_fail(error, JS_ERR_SOURCE_MULTIPLE_FILTERS_NOT_ALLOWED);
    }
    for (size_t i = 0; i < source->subject_transform_count; i++) {
        int rc = js_check_source_transform(&source->subject_transforms[i],
                                           JS_ERR_SOURCE_INVALID_SUBJECT_FILTER,
                                           JS_ERR_SOURCE_INVALID_TRANSFORM_DESTINATION, error);
        if (rc != 0) {
            return rc;
        }
    }
    for (size_t i = 0; i < source->subject_transform_count; i++) {
        for (size_t j = 0; j < source->subject_transform_count; j++) {
            if (i != j &&
                js_stream_subject_subset(js_stream_text(source->subject_transforms[i].src),
                                         js_stream_text(source->subject_transforms[j].src))) {
                return js_stream_fail(error, JS_ERR_SOURCE_OVERLAPPING_SUBJECT_FILTERS);
            }
        }
    }
    if (source->has_consumer) {
        if (!js_check_source_consumer(source)) {
            return js_stream_fail(error, JS_ERR_SOURCE_DURABLE_CONSUMER_CFG_INVALID);
        }
        for (size_t i = 0; i < index; i++) {
            const struct js_stream_source *other = &config->sources[i];
            if (other->has_consumer && js_check_same_source_consumer(other, source)) {
                return js_stream_fail(error, JS_ERR_SOURCE_DURABLE_CONSUMER_DUPLICATE_DETECTED);
            }
        }
    }
    return 0;
}

/* True when `filter` (empty: everything) collides with one of the config's subjects. */
static bool js_check_filter_overlaps(const struct js_stream_config *config, const char *filter)
{
    if (filter == NULL) {
        return true;
    }
    for (size_t i = 0; i < config->subject_count; i++) {
        if (js_stream_config_subjects_collide(js_stream_text(config->subjects[i]), filter)) {
            return true;
        }
    }
    return false;
}

/* Sources and mirror, then the external prefixes, then a cycle back to this stream. */
static int js_check_origins(const struct js_stream_config *config, struct js_error *error)
{
    int rc = config->mirror != NULL ? js_check_mirror(config, error) : 0;
    if (rc != 0) {
        return rc;
    }
    if (config->source_count > 0 && config->allow_msg_schedules) {
        return js_stream_fail(error, JS_ERR_SOURCE_WITH_MSG_SCHEDULES);
    }
    for (size_t i = 0; i < config->source_count; i++) {
        rc = js_check_source(config, i, error);
        if (rc != 0) {
            return rc;
        }
    }
    /* delivery prefixes first, mirror's before the sources', as nats-server lists them */
    if (config->mirror != NULL && (rc = js_check_deliver_prefix(config->mirror, error)) != 0) {
        return rc;
    }
    for (size_t i = 0; i < config->source_count; i++) {
        if ((rc = js_check_deliver_prefix(&config->sources[i], error)) != 0) {
            return rc;
        }
    }
    if (config->mirror != NULL && (rc = js_check_api_prefix(config->mirror, error)) != 0) {
        return rc;
    }
    for (size_t i = 0; i < config->source_count; i++) {
        if ((rc = js_check_api_prefix(&config->sources[i], error)) != 0) {
            return rc;
        }
    }
    /* a cycle this config alone shows: sourcing or mirroring itself */
    for (size_t i = 0; i < config->source_count; i++) {
        const struct js_stream_source *source = &config->sources[i];
        if (!source->has_external && strcmp(js_stream_text(source->name), config->name) == 0 &&
            js_check_filter_overlaps(config, source->filter_subject)) {
            return js_stream_invalid(error, "detected cycle");
        }
    }
    if (config->mirror != NULL && !config->mirror->has_external &&
        strcmp(js_stream_text(config->mirror->name), config->name) == 0) {
        return js_stream_invalid(error, "detected cycle");
    }
    return 0;
}

/* ---- subjects, transform, republish, placement ----------------------------------------- */

/* A subject outside the JetStream and system API spaces, unless no_ack (the exceptions:
 * $JS.EVENT.> and $SYS.ACCOUNT.>, where streams were made before the rule). */
static int js_check_subject_space(const char *subject, struct js_error *error)
{
    static const char *const jetstream[] = {"$JS.>", "$JSC.>", "$NRG.>"};
    for (size_t i = 0; i < sizeof jetstream / sizeof jetstream[0]; i++) {
        if (js_stream_config_subjects_collide(subject, jetstream[i]) &&
            !js_stream_subject_subset(subject, "$JS.EVENT.>")) {
            return js_stream_invalid(
                error, "subjects that overlap with jetstream api require no-ack to be true");
        }
    }
    if (js_stream_config_subjects_collide(subject, "$SYS.>") &&
        !js_stream_subject_subset(subject, "$SYS.ACCOUNT.>")) {
        return js_stream_invalid(error,
                                 "subjects that overlap with system api require no-ack to be true");
    }
    return 0;
}

static int js_check_subject(const struct js_stream_config *config, size_t index,
                            struct js_error *error)
{
    const char *subject = config->subjects[index];
    if (!js_stream_subject_valid(subject)) {
        return js_stream_invalid(error, "invalid subject");
    }
    for (size_t i = 0; i < index; i++) {
        if (strcmp(js_stream_text(config->subjects[i]), subject) == 0) {
            return js_stream_invalid(error, "duplicate subjects detected");
        }
    }
    if (strcmp(subject, ">") == 0) {
        if (!config->no_ack) {
            return js_stream_invalid(error, "capturing all subjects requires no-ack to be true");
        }
        if (config->num_replicas != 1) {
            return js_stream_invalid(error, "capturing all subjects requires replicas of 1");
        }
    }
    if (!config->no_ack) {
        int rc = js_check_subject_space(subject, error);
        if (rc != 0) {
            return rc;
        }
    }
    for (size_t i = index + 1; i < config->subject_count; i++) {
        const char *later = js_stream_text(config->subjects[i]);
        if (js_stream_config_subjects_collide(later, subject)) {
            char quoted_subject[2 * JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX];
            char quoted_later[2 * JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX];
            js_check_quote(subject, quoted_subject, sizeof quoted_subject);
            js_check_quote(later, quoted_later, sizeof quoted_later);
            return js_stream_invalid(error, "subject %s overlaps with %s", quoted_subject,
                                     quoted_later);
        }
    }
    return 0;
}

static int js_check_subjects(struct js_stream_config *config, struct js_error *error)
{
    if (config->subject_count == 0) {
        if (config->mirror == NULL && config->source_count == 0) {
            free(config->subjects); /* an empty array from "subjects":[] */
            config->subjects = calloc(1, sizeof *config->subjects);
            if (config->subjects == NULL || (config->subjects[0] = strdup(config->name)) == NULL) {
                free(config->subjects);
                config->subjects = NULL;
                return -ENOMEM;
            }
            config->subject_count = 1;
        }
    } else {
        if (config->mirror != NULL) {
            return js_stream_fail(error, JS_ERR_MIRROR_WITH_SUBJECTS);
        }
        for (size_t i = 0; i < config->subject_count; i++) {
            int rc = js_check_subject(config, i, error);
            if (rc != 0) {
                return rc;
            }
        }
    }
    if (config->subject_count == 0 && config->source_count == 0 && config->mirror == NULL) {
        return js_stream_invalid(
            error, "stream needs at least one configured subject or be a source/mirror");
    }
    return 0;
}

static int js_check_transform(const struct js_stream_config *config, struct js_error *error)
{
    if (!config->has_subject_transform) {
        return 0;
    }
    const struct js_stream_subject_transform *transform = &config->subject_transform;
    if (transform->src != NULL && !js_stream_subject_valid(transform->src)) {
        return js_stream_failf(error, JS_ERR_STREAM_TRANSFORM_INVALID_SOURCE, "invalid subject %s",
                               transform->src);
    }
    char text[JS_STREAM_TRANSFORM_ERROR_SIZE];
    if (js_stream_transform_check(transform->src, transform->dest, true, text, sizeof text) != 0) {
        return js_stream_failf(error, JS_ERR_STREAM_TRANSFORM_INVALID_DESTINATION, "%s", text);
    }
    return 0;
}

/* Replaces *target with a copy of `text`. */
static int js_check_set(char **target, const char *text)
{
    char *copy = strdup(text);
    if (copy == NULL) {
        return -ENOMEM;
    }
    free(*target);
    *target = copy;
    return 0;
}

static int js_check_republish(struct js_stream_config *config, bool pedantic,
                              struct js_error *error)
{
    if (!config->has_republish) {
        return 0;
    }
    struct js_stream_republish *republish = &config->republish;
    if (republish->src == NULL) {
        if (pedantic) {
            return js_stream_failf(error, JS_ERR_PEDANTIC, "republish source can not be empty");
        }
        if (js_check_set(&republish->src, ">") != 0) {
            return -ENOMEM;
        }
    }
    const char *dest = js_stream_text(republish->dest);
    if (strcmp(dest, ">") == 0 && strcmp(republish->src, ">") == 0 &&
        config->has_subject_transform && config->subject_count == 1 &&
        strcmp(js_stream_text(config->subject_transform.src), config->subjects[0]) == 0) {
        if (pedantic) {
            return js_stream_failf(error, JS_ERR_PEDANTIC,
                                   "implicit republish based on subject transform");
        }
        const char *to = js_stream_text(config->subject_transform.dest);
        if (js_check_set(&republish->src, to) != 0 || js_check_set(&republish->dest, to) != 0) {
            return -ENOMEM;
        }
        dest = republish->dest;
    }
    for (size_t i = 0; i < config->subject_count; i++) {
        if (js_stream_config_subjects_collide(dest, js_stream_text(config->subjects[i]))) {
            return js_stream_invalid(
                error, "stream configuration for republish destination forms a cycle");
        }
    }
    char text[JS_STREAM_TRANSFORM_ERROR_SIZE];
    /* an empty destination passes: NewSubjectTransform makes no transform of it */
    if (js_stream_transform_check(republish->src, dest, false, text, sizeof text) != 0) {
        return js_stream_invalid(
            error,
            "stream configuration for republish with transform from '%s' to '%s' "
            "not valid",
            republish->src, dest);
    }
    return 0;
}

static int js_check_placement(struct js_stream_config *config, struct js_error *error)
{
    struct js_stream_placement *placement = &config->placement;
    if (config->has_placement && placement->cluster == NULL && placement->tag_count == 0 &&
        placement->tags == NULL && placement->preferred == NULL) {
        config->has_placement = false;
    }
    if (config->has_placement && placement->preferred != NULL) {
        return js_stream_invalid(error, "preferred server not permitted in placement");
    }
    return 0;
}

int js_stream_config_check(struct js_stream_config *config,
                           const struct js_stream_config_check_options *options,
                           struct js_error *error)
{
    js_errors_clear(error);
    int rc = js_check_sizes(config, error);
    rc = rc ? rc : js_check_limits(config, options->pedantic, error);
    rc = rc ? rc : js_check_duplicates(config, options, error);
    rc = rc ? rc : js_check_flags(config, options->pedantic, error);
    rc = rc ? rc : js_check_origins(config, error);
    rc = rc ? rc : js_check_subjects(config, error);
    rc = rc ? rc : js_check_transform(config, error);
    rc = rc ? rc : js_check_republish(config, options->pedantic, error);
    rc = rc ? rc : js_check_placement(config, error);
    ASSERT(rc == 0 || rc == -ENOMEM || error->id != JS_ERR_NONE);
    return rc;
}
