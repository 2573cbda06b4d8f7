/* The create handler's steps around checkConsumerCfg: the subject against the request,
 * nats-server's metadata keys, an update of an existing consumer, equality, the rules for
 * a new one, and which subjects a consumer delivers. See js_consumer_config.h.
 *
 * Each follows nats-server 2.15 in its order (jsConsumerCreateRequest,
 * addConsumerWithAssignment, checkNewConsumerConfig), so the first refused step names
 * itself with nats-server's error. Equality is what reflect.DeepEqual decides when a
 * create with action "create" names an existing consumer, after nats-server carried the
 * stored _nats.req.level over (copyConsumerMetadata), so its own keys never make two
 * configs differ. Pure functions, any thread. */
#include "proto/js_consumer_config.h"
#include "proto/js_stream_config_internal.h"
#include "proto/subject.h"

#include "base/assert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool js_same_text(const char *a, const char *b)
{
    return strcmp(js_stream_text(a), js_stream_text(b)) == 0;
}

/* ---- the subject against the request ------------------------------------------------ */

/* The durable and named forms' checks of the durable name, and the name they impose. */
static int js_request_check_names(struct js_consumer_request *request,
                                  enum js_consumer_subject_form form, const char *consumer,
                                  struct js_error *error)
{
    struct js_consumer_config *config = &request->config;
    if (form == JS_CONSUMER_SUBJECT_CREATE) {
        if (config->durable_name != NULL) {
            return js_stream_fail(error, JS_ERR_CONSUMER_EPHEMERAL_WITH_DURABLE_NAME);
        }
        return 0;
    }
    ASSERT(consumer != NULL);
    if (form == JS_CONSUMER_SUBJECT_DURABLE_CREATE && config->durable_name == NULL) {
        return js_stream_fail(error, JS_ERR_CONSUMER_DURABLE_NAME_NOT_SET);
    }
    if (config->durable_name != NULL && strcmp(consumer, config->durable_name) != 0) {
        return js_stream_fail(error, JS_ERR_CONSUMER_DURABLE_NAME_NOT_MATCH_SUBJECT);
    }
    char *name = NULL;
    if (consumer[0] != '\0') {
        name = strdup(consumer);
        if (name == NULL) {
            return -ENOMEM;
        }
    }
    free(config->name);
    config->name = name;
    return 0;
}

int js_consumer_request_check(struct js_consumer_request *request,
                              enum js_consumer_subject_form form, const char *stream,
                              const char *consumer, const char *filter, struct js_error *error)
{
    js_errors_clear(error);
    const struct js_consumer_config *config = &request->config;
    if (!js_same_text(stream, request->stream_name)) {
        return js_stream_fail(error, JS_ERR_STREAM_MISMATCH);
    }
    /* the CREATE form's consumer name is the request's own */
    const char *name = form == JS_CONSUMER_SUBJECT_CREATE ? config->name : consumer;
    if (name != NULL && strpbrk(name, "\\/") != NULL) {
        return js_stream_fail(error, JS_ERR_CONSUMER_NAME_CONTAINS_PATH_SEPARATORS);
    }
    int rc = js_request_check_names(request, form, consumer, error);
    if (rc != 0) {
        return rc;
    }
    bool filtered = form == JS_CONSUMER_SUBJECT_CREATE_FILTERED && filter != NULL && filter[0];
    if (filtered && config->filter_subject_count > 0) {
        return js_stream_fail(error, JS_ERR_CONSUMER_MULTIPLE_FILTERS_NOT_ALLOWED);
    }
    if (filtered && !js_same_text(config->filter_subject, filter)) {
        return js_stream_fail(error, JS_ERR_CONSUMER_CREATE_FILTER_SUBJECT_MISMATCH);
    }
    if (config->num_replicas > 1) {
        return js_stream_fail(error, JS_ERR_STREAM_REPLICAS_NOT_SUPPORTED);
    }
    return 0;
}

/* ---- metadata ------------------------------------------------------------------------ */

/* API levels nats-server assigns to consumer features (server/jetstream_versioning.go). */
enum {
    JS_LEVEL_PAUSE_PRIORITY = 1, /* 2.11: pause_until, priority groups */
    JS_LEVEL_ACK_FLOW_CONTROL = 4,
};

/* Go's time.Time.IsZero: the instant 0001-01-01T00:00:00Z, whatever the offset. */
static bool js_time_is_zero(const struct js_stream_time *time)
{
    static const struct js_stream_time zero = {1, 1, 1, 0, 0, 0, 0, 0};
    return time->nanosecond == 0 &&
           js_stream_time_unix_seconds(time) == js_stream_time_unix_seconds(&zero);
}

int js_consumer_config_api_level_required(const struct js_consumer_config *config)
{
    int level = 0;
    if (config->has_pause_until && !js_time_is_zero(&config->pause_until)) {
        level = JS_LEVEL_PAUSE_PRIORITY;
    }
    if (config->priority_policy != JS_CONSUMER_PRIORITY_NONE || config->priority_timeout_ns != 0 ||
        config->priority_group_count > 0) {
        level = JS_LEVEL_PAUSE_PRIORITY;
    }
    if (config->ack_policy == JS_CONSUMER_ACK_FLOW_CONTROL) {
        level = JS_LEVEL_ACK_FLOW_CONTROL;
    }
    return level;
}

/* nats-server's own keys, which never make two stored configs differ. */
static bool js_server_key(const char *key)
{
    return strcmp(key, JS_STREAM_METADATA_REQUIRED_LEVEL) == 0 ||
           strcmp(key, JS_STREAM_METADATA_SERVER_VERSION) == 0 ||
           strcmp(key, JS_STREAM_METADATA_SERVER_LEVEL) == 0;
}

int js_consumer_config_metadata_set_static(struct js_consumer_config *config)
{
    size_t kept = 0;
    for (size_t i = 0; i < config->metadata_count; i++) {
        struct js_stream_metadata_entry entry = config->metadata[i];
        if (strcmp(entry.key, JS_STREAM_METADATA_SERVER_VERSION) == 0 ||
            strcmp(entry.key, JS_STREAM_METADATA_SERVER_LEVEL) == 0) {
            free(entry.key);
            free(entry.value);
            continue;
        }
        config->metadata[kept++] = entry;
    }
    config->metadata_count = kept;
    char level[16];
    snprintf(level, sizeof level, "%d", js_consumer_config_api_level_required(config));
    char *value = strdup(level);
    if (value == NULL) {
        return -ENOMEM;
    }
    size_t at = 0;
    while (at < kept && strcmp(config->metadata[at].key, JS_STREAM_METADATA_REQUIRED_LEVEL) < 0) {
        at++;
    }
    if (at < kept && strcmp(config->metadata[at].key, JS_STREAM_METADATA_REQUIRED_LEVEL) == 0) {
        free(config->metadata[at].value); /* a level the client sent is replaced */
        config->metadata[at].value = value;
        return 0;
    }
    /* one entry past the decoder's bound at most: the server's own key */
    char *key = strdup(JS_STREAM_METADATA_REQUIRED_LEVEL);
    struct js_stream_metadata_entry *grown =
        realloc(config->metadata, (kept + 1) * sizeof *config->metadata);
    if (key == NULL || grown == NULL) {
        free(key);
        free(value);
        if (grown != NULL) {
            config->metadata = grown;
        }
        return -ENOMEM;
    }
    config->metadata = grown;
    memmove(&grown[at + 1], &grown[at], (kept - at) * sizeof *grown);
    grown[at] = (struct js_stream_metadata_entry){key, value};
    config->metadata_count++;
    return 0;
}

/* ---- update ------------------------------------------------------------------------- */

/* Go's time.Time.Equal: the same instant. */
static bool js_time_equal(const struct js_stream_time *a, const struct js_stream_time *b)
{
    return js_stream_time_unix_seconds(a) == js_stream_time_unix_seconds(b) &&
           a->nanosecond == b->nanosecond;
}

/* What may not change, each with nats-server's text (10012), up to the deliver subject. */
static const char *js_update_refusal(const struct js_consumer_config *old,
                                     const struct js_consumer_config *config)
{
    if (old->deliver_policy != config->deliver_policy) {
        return "deliver policy can not be updated";
    }
    if (old->mem_storage != config->mem_storage) {
        return "storage type can not be updated";
    }
    if (old->direct != config->direct) {
        return "direct can not be updated";
    }
    if (old->sourcing != config->sourcing) {
        return "sourcing can not be updated";
    }
    if (old->opt_start_seq != config->opt_start_seq) {
        return "start sequence can not be updated";
    }
    if (old->has_opt_start_time != config->has_opt_start_time ||
        (old->has_opt_start_time &&
         !js_time_equal(&old->opt_start_time, &config->opt_start_time))) {
        return "start time can not be updated";
    }
    if (old->ack_policy != config->ack_policy) {
        return "ack policy can not be updated";
    }
    if (old->replay_policy != config->replay_policy) {
        return "replay policy can not be updated";
    }
    if (old->idle_heartbeat_ns != config->idle_heartbeat_ns) {
        return "heart beats can not be updated";
    }
    if (old->flow_control != config->flow_control) {
        return "flow control can not be updated";
    }
    if (old->deliver_subject == NULL && config->deliver_subject != NULL) {
        return "can not update pull consumer to push based";
    }
    if (old->deliver_subject != NULL && config->deliver_subject == NULL) {
        return "can not update push consumer to pull based";
    }
    return NULL;
}

int js_consumer_config_check_update_push(const struct js_consumer_config *old,
                                         const struct js_consumer_config *config,
                                         bool old_deliver_subject_has_interest,
                                         struct js_error *error)
{
    js_errors_clear(error);
    const char *refusal = js_update_refusal(old, config);
    if (refusal != NULL) {
        return js_stream_failf(error, JS_ERR_CONSUMER_CREATE, "%s", refusal);
    }
    if (old_deliver_subject_has_interest && old->deliver_subject != NULL &&
        !js_same_text(old->deliver_subject, config->deliver_subject)) {
        return js_stream_fail(error, JS_ERR_CONSUMER_NAME_EXIST);
    }
    if (old->max_waiting != config->max_waiting) {
        return js_stream_failf(error, JS_ERR_CONSUMER_CREATE, "max waiting can not be updated");
    }
    if (config->backoff_count > 0 && config->max_deliver != -1 &&
        (int64_t)config->backoff_count > config->max_deliver) {
        return js_stream_fail(error, JS_ERR_CONSUMER_MAX_DELIVER_BACKOFF);
    }
    return 0;
}

int js_consumer_config_check_update(const struct js_consumer_config *old,
                                    const struct js_consumer_config *config, struct js_error *error)
{
    return js_consumer_config_check_update_push(old, config, false, error);
}

void js_consumer_config_update_apply(const struct js_consumer_config *old,
                                     struct js_consumer_config *config)
{
    /* updateConfig calls updateInactiveThreshold only when the value changes, and that
     * asks the consumer, whose config is still the old one */
    int64_t requested = config->inactive_threshold_defaulted ? 0 : config->inactive_threshold_ns;
    config->inactive_threshold_ns = requested;
    config->inactive_threshold_defaulted = false;
    if (requested != old->inactive_threshold_ns && old->durable_name == NULL && requested <= 0) {
        config->inactive_threshold_ns = JS_CONSUMER_INACTIVE_THRESHOLD_DEFAULT_NS;
        config->inactive_threshold_defaulted = true;
    }
}

/* ---- equality ----------------------------------------------------------------------- */

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

/* DeepEqual of two *time.Time: both absent, or the same wall clock in the same offset. */
static bool js_same_time(bool a_present, const struct js_stream_time *a, bool b_present,
                         const struct js_stream_time *b)
{
    if (!a_present || !b_present) {
        return a_present == b_present;
    }
    return a->year == b->year && a->month == b->month && a->day == b->day && a->hour == b->hour &&
           a->minute == b->minute && a->second == b->second && a->nanosecond == b->nanosecond &&
           a->offset_seconds == b->offset_seconds;
}

/* The metadata entries (sorted) without nats-server's keys, pairwise. Budget: one turn
 * per entry of either array. */
static bool js_same_metadata(const struct js_consumer_config *a, const struct js_consumer_config *b)
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

/* The plain (number, enum, flag) fields, in declaration order, but inactive_threshold. */
static bool js_same_values(const struct js_consumer_config *a, const struct js_consumer_config *b)
{
    return a->deliver_policy == b->deliver_policy && a->opt_start_seq == b->opt_start_seq &&
           a->ack_policy == b->ack_policy && a->ack_wait_ns == b->ack_wait_ns &&
           a->max_deliver == b->max_deliver && a->replay_policy == b->replay_policy &&
           a->rate_limit_bps == b->rate_limit_bps && a->max_waiting == b->max_waiting &&
           a->max_ack_pending == b->max_ack_pending && a->flow_control == b->flow_control &&
           a->headers_only == b->headers_only && a->max_batch == b->max_batch &&
           a->max_expires_ns == b->max_expires_ns && a->max_bytes == b->max_bytes &&
           a->idle_heartbeat_ns == b->idle_heartbeat_ns && a->num_replicas == b->num_replicas &&
           a->mem_storage == b->mem_storage && a->direct == b->direct &&
           a->sourcing == b->sourcing && a->priority_policy == b->priority_policy &&
           a->priority_timeout_ns == b->priority_timeout_ns;
}

static bool js_same_texts(const struct js_consumer_config *a, const struct js_consumer_config *b)
{
    return js_same_text(a->durable_name, b->durable_name) && js_same_text(a->name, b->name) &&
           js_same_text(a->description, b->description) &&
           js_same_text(a->filter_subject, b->filter_subject) &&
           js_same_text(a->sample_freq, b->sample_freq) &&
           js_same_text(a->deliver_subject, b->deliver_subject) &&
           js_same_text(a->deliver_group, b->deliver_group);
}

bool js_consumer_config_equal(const struct js_consumer_config *existing,
                              const struct js_consumer_config *requested)
{
    const struct js_consumer_config *a = existing;
    const struct js_consumer_config *b = requested;
    /* nats-server compares the request before stamping the default on it */
    int64_t b_threshold = b->inactive_threshold_defaulted ? 0 : b->inactive_threshold_ns;
    if (a->backoff_empty != b->backoff_empty ||
        a->filter_subjects_empty != b->filter_subjects_empty ||
        a->priority_groups_empty != b->priority_groups_empty) {
        return false;
    }
    if (a->inactive_threshold_ns != b_threshold || !js_same_values(a, b) || !js_same_texts(a, b) ||
        a->backoff_count != b->backoff_count ||
        !js_same_strings(a->filter_subjects, a->filter_subject_count, b->filter_subjects,
                         b->filter_subject_count) ||
        !js_same_strings(a->priority_groups, a->priority_group_count, b->priority_groups,
                         b->priority_group_count) ||
        !js_same_time(a->has_opt_start_time, &a->opt_start_time, b->has_opt_start_time,
                      &b->opt_start_time) ||
        !js_same_time(a->has_pause_until, &a->pause_until, b->has_pause_until, &b->pause_until)) {
        return false;
    }
    if (a->backoff_count > 0 &&
        memcmp(a->backoff_ns, b->backoff_ns, a->backoff_count * sizeof *a->backoff_ns) != 0) {
        return false;
    }
    return js_same_metadata(a, b);
}

/* ---- new consumers ------------------------------------------------------------------ */

/* The filters of gatherSubjectFilters' list (filter_subjects, then filter_subject). */
static size_t js_filter_count(const struct js_consumer_config *config)
{
    return config->filter_subject_count + (config->filter_subject != NULL ? 1 : 0);
}

static const char *js_filter_at(const struct js_consumer_config *config, size_t index)
{
    return index < config->filter_subject_count ? js_stream_text(config->filter_subjects[index])
                                                : config->filter_subject;
}

/* Budget: every filter of `config` against every filter of every other: the filters of
 * each are bounded (JS_CONSUMER_CONFIG_FILTERS_MAX), the others by the stream's consumers. */
bool js_consumer_config_partition_unique(const struct js_consumer_config *config,
                                         const struct js_consumer_config *const *others,
                                         size_t other_count)
{
    size_t count = js_filter_count(config);
    for (size_t p = 0; p < count; p++) {
        for (size_t o = 0; o < other_count; o++) {
            const struct js_consumer_config *other = others[o];
            if (other->direct || other->sourcing) {
                continue;
            }
            size_t other_filters = js_filter_count(other);
            if (other_filters == 0) {
                return false;
            }
            for (size_t f = 0; f < other_filters; f++) {
                if (js_stream_config_subjects_collide(js_filter_at(config, p),
                                                      js_filter_at(other, f))) {
                    return false;
                }
            }
        }
    }
    return true;
}

/* The workqueue rules of a new consumer. */
static int js_check_new_workqueue(const struct js_consumer_config *config,
                                  const struct js_consumer_config *const *others,
                                  size_t other_count, struct js_error *error)
{
    if (config->ack_policy != JS_CONSUMER_ACK_EXPLICIT &&
        config->ack_policy != JS_CONSUMER_ACK_FLOW_CONTROL) {
        return js_stream_fail(error, JS_ERR_CONSUMER_WQ_REQUIRES_EXPLICIT_ACK);
    }
    if (config->deliver_policy != JS_CONSUMER_DELIVER_ALL) {
        return js_stream_fail(error, JS_ERR_CONSUMER_WQ_CONSUMER_NOT_DELIVER_ALL);
    }
    size_t limitable = 0;
    for (size_t i = 0; i < other_count; i++) {
        limitable += others[i]->direct || others[i]->sourcing ? 0 : 1;
    }
    if (limitable == 0) {
        return 0;
    }
    if (js_filter_count(config) == 0) {
        return js_stream_fail(error, JS_ERR_CONSUMER_WQ_MULTIPLE_UNFILTERED);
    }
    if (!js_consumer_config_partition_unique(config, others, other_count)) {
        return js_stream_fail(error, JS_ERR_CONSUMER_WQ_CONSUMER_NOT_UNIQUE);
    }
    return 0;
}

int js_consumer_config_check_new(const struct js_consumer_config *config,
                                 const struct js_stream_config *stream,
                                 const struct js_consumer_config *const *others, size_t other_count,
                                 struct js_error *error)
{
    js_errors_clear(error);
    if (stream->retention == JS_STREAM_RETENTION_WORKQUEUE && !config->direct &&
        !config->sourcing) {
        int rc = js_check_new_workqueue(config, others, other_count, error);
        if (rc != 0) {
            return rc;
        }
    }
    if (config->durable_name != NULL &&
        strlen(config->durable_name) > JS_CONSUMER_CONFIG_NAME_LENGTH_MAX) {
        return js_stream_failf(error, JS_ERR_CONSUMER_NAME_TOO_LONG, "%d",
                               JS_CONSUMER_CONFIG_NAME_LENGTH_MAX);
    }
    return 0;
}

/* ---- names and subjects ------------------------------------------------------------- */

const char *js_consumer_config_name(const struct js_consumer_config *config)
{
    return config->durable_name != NULL ? config->durable_name : config->name;
}

/* Budget: one match per filter, JS_CONSUMER_CONFIG_FILTERS_MAX at most. */
bool js_consumer_config_matches(const struct js_consumer_config *config, const char *subject,
                                size_t length)
{
    size_t count = js_filter_count(config);
    if (count == 0) {
        return true;
    }
    for (size_t i = 0; i < count; i++) {
        const char *filter = js_filter_at(config, i);
        if (subject_matches(filter, strlen(filter), subject, length)) {
            return true;
        }
    }
    return false;
}
