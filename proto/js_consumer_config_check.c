/* nats-server's defaults and checks of a consumer config: see js_consumer_config.h.
 *
 * js_consumer_config_check follows setConsumerConfigDefaults and then checkConsumerCfg in
 * nats-server 2.15 step for step, in their order, because the first failing step decides
 * which error a client sees: names and replicas, ack wait and backoff, the flow_control
 * ack policy, the description, push or pull rules, the stream's consumer limits, direct,
 * the filters, the deliver policy's start, sampling, flow control, names, metadata,
 * priority groups, the stream's placement. Each error is nats-server's, most with their
 * own err_code and fixed text. Pure functions, any thread. */
#include "proto/js_consumer_config.h"
#include "proto/js_stream_config_internal.h"

#include "base/assert.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The smallest idle_heartbeat of a push consumer (checkConsumerCfg: 100 ms). */
#define JS_CHECK_HEARTBEAT_MIN_NS (100 * JS_STREAM_NS_PER_MS)
/* The smallest max_expires of a pull consumer (1 ms). */
#define JS_CHECK_EXPIRES_MIN_NS JS_STREAM_NS_PER_MS
/* nats-server's validGroupName: ^[a-zA-Z0-9/_=-]{1,16}$. */
enum { JS_CHECK_GROUP_NAME_LENGTH_MAX = 16 };

static int js_check_pedantic(struct js_error *error, const char *text)
{
    return js_stream_failf(error, JS_ERR_PEDANTIC, "%s", text);
}

/* nats-server's isValidAssetName: not empty, none of " \t\r\n\f.*>\\/". */
static bool js_check_asset_name(const char *name)
{
    return name[0] != '\0' && strpbrk(name, " \t\r\n\f.*>\\/") == NULL;
}

/* ---- setConsumerConfigDefaults ------------------------------------------------------ */

/* The negative limits: each goes to its neutral value, or is refused when pedantic. */
static int js_defaults_negative(struct js_consumer_config *config, bool pedantic,
                                struct js_error *error)
{
    if (config->max_deliver == 0 || config->max_deliver < -1) {
        if (pedantic && config->max_deliver < -1) {
            return js_check_pedantic(error, "max_deliver must be set to -1");
        }
        config->max_deliver = -1;
    }
    if (config->max_waiting < 0) {
        if (pedantic) {
            return js_check_pedantic(error, "max_waiting must not be negative");
        }
        config->max_waiting = 0;
    }
    if (config->max_ack_pending < -1) {
        if (pedantic) {
            return js_check_pedantic(error, "max_ack_pending must be set to -1");
        }
        config->max_ack_pending = -1;
    }
    static const struct {
        size_t offset;
        const char *text;
    } zeroed[] = {
        {offsetof(struct js_consumer_config, max_batch), "max_batch must not be negative"},
        {offsetof(struct js_consumer_config, max_expires_ns), "max_expires must not be negative"},
        {offsetof(struct js_consumer_config, max_bytes), "max_bytes must not be negative"},
        {offsetof(struct js_consumer_config, idle_heartbeat_ns),
         "idle_heartbeat must not be negative"},
        {offsetof(struct js_consumer_config, inactive_threshold_ns),
         "inactive_threshold must not be negative"},
        {offsetof(struct js_consumer_config, priority_timeout_ns),
         "priority_timeout must not be negative"},
    };
    for (size_t i = 0; i < sizeof zeroed / sizeof zeroed[0]; i++) {
        int64_t *value = (int64_t *)((char *)config + zeroed[i].offset);
        if (*value < 0) {
            if (pedantic) {
                return js_check_pedantic(error, zeroed[i].text);
            }
            *value = 0;
        }
    }
    return 0;
}

/* The defaults that depend on the mode, the ack policy and the stream's limits. */
static int js_defaults_apply(struct js_consumer_config *config,
                             const struct js_consumer_config_check_options *options,
                             struct js_error *error)
{
    const struct js_stream_consumer_limits *limits = &options->stream->consumer_limits;
    bool pedantic = options->pedantic;
    if (config->deliver_subject == NULL && config->max_waiting == 0) {
        config->max_waiting = JS_CONSUMER_MAX_WAITING_DEFAULT;
    }
    if (config->ack_wait_ns == 0 && (config->ack_policy == JS_CONSUMER_ACK_EXPLICIT ||
                                     config->ack_policy == JS_CONSUMER_ACK_ALL)) {
        config->ack_wait_ns = JS_CONSUMER_ACK_WAIT_DEFAULT_NS;
    }
    if (config->backoff_count > 0) {
        if (pedantic && config->ack_wait_ns != config->backoff_ns[0]) {
            return js_check_pedantic(error, "first backoff value has to equal batch AckWait");
        }
        config->ack_wait_ns = config->backoff_ns[0];
    }
    if (config->max_ack_pending == 0) {
        if (pedantic && limits->max_ack_pending > 0) {
            return js_check_pedantic(
                error, "max_ack_pending must be set if it's configured in stream limits");
        }
        config->max_ack_pending = limits->max_ack_pending;
    }
    if (config->inactive_threshold_ns == 0) {
        if (pedantic && limits->inactive_threshold_ns > 0) {
            return js_check_pedantic(
                error, "inactive_threshold must be set if it's configured in stream limits");
        }
        config->inactive_threshold_ns = limits->inactive_threshold_ns;
    }
    if (config->max_ack_pending == 0 && config->ack_policy != JS_CONSUMER_ACK_NONE) {
        config->max_ack_pending = JS_CONSUMER_MAX_ACK_PENDING_DEFAULT;
    }
    if (config->priority_policy == JS_CONSUMER_PRIORITY_PINNED_CLIENT &&
        config->priority_timeout_ns == 0) {
        config->priority_timeout_ns = JS_CONSUMER_PRIORITY_TIMEOUT_DEFAULT_NS;
    }
    if (config->ack_policy == JS_CONSUMER_ACK_FLOW_CONTROL && !pedantic) {
        config->flow_control = true;
        config->idle_heartbeat_ns = JS_CONSUMER_FLOW_CONTROL_HEARTBEAT_NS;
    }
    return 0;
}

/* ---- checkConsumerCfg, in its order ------------------------------------------------- */

static int js_check_names_replicas(const struct js_consumer_config *config,
                                   const struct js_stream_config *stream, struct js_error *error)
{
    if (config->name != NULL && !js_check_asset_name(config->name)) {
        return js_stream_invalid(error, "consumer name can not contain '.', '*', '>', '\\', '/'");
    }
    if (config->durable_name != NULL && !js_check_asset_name(config->durable_name)) {
        return js_stream_invalid(error,
                                 "consumer durable name can not contain '.', '*', '>', '\\', '/'");
    }
    if (config->num_replicas > 0 && config->num_replicas > stream->num_replicas) {
        return js_stream_fail(error, JS_ERR_CONSUMER_REPLICAS_EXCEEDS_STREAM);
    }
    if (config->num_replicas < 0) {
        return js_stream_fail(error, JS_ERR_REPLICAS_COUNT_CANNOT_BE_NEGATIVE);
    }
    if (stream->retention != JS_STREAM_RETENTION_LIMITS && config->num_replicas != 0 &&
        config->num_replicas != stream->num_replicas) {
        return js_stream_fail(error, JS_ERR_CONSUMER_REPLICAS_SHOULD_MATCH_STREAM);
    }
    if ((unsigned)config->ack_policy > JS_CONSUMER_ACK_FLOW_CONTROL) {
        return js_stream_fail(error, JS_ERR_CONSUMER_ACK_POLICY_INVALID);
    }
    if ((unsigned)config->replay_policy > JS_CONSUMER_REPLAY_ORIGINAL) {
        return js_stream_fail(error, JS_ERR_CONSUMER_REPLAY_POLICY_INVALID);
    }
    return 0;
}

/* Ack wait, backoff, and the flow_control ack policy's requirements. */
static int js_check_acks(const struct js_consumer_config *config, struct js_error *error)
{
    for (size_t i = 0; i < config->backoff_count; i++) {
        if (config->backoff_ns[i] < 0) {
            return js_stream_fail(error, JS_ERR_CONSUMER_BACKOFF_NEGATIVE);
        }
    }
    if (config->ack_wait_ns < 0) {
        return js_stream_fail(error, JS_ERR_CONSUMER_ACK_WAIT_NEGATIVE);
    }
    if (config->ack_policy == JS_CONSUMER_ACK_FLOW_CONTROL) {
        if (config->deliver_subject == NULL) {
            return js_stream_fail(error, JS_ERR_CONSUMER_ACK_FC_REQUIRES_PUSH);
        }
        if (!config->flow_control) {
            return js_stream_fail(error, JS_ERR_CONSUMER_ACK_FC_REQUIRES_FC);
        }
        if (config->idle_heartbeat_ns != JS_CONSUMER_FLOW_CONTROL_HEARTBEAT_NS) {
            return js_stream_invalid(error, "flow control ack policy heartbeat needs to be 1s");
        }
        if (config->max_ack_pending <= 0) {
            return js_stream_fail(error, JS_ERR_CONSUMER_ACK_FC_REQUIRES_MAX_ACK_PENDING);
        }
        if (config->ack_wait_ns != 0 || config->backoff_count > 0) {
            return js_stream_fail(error, JS_ERR_CONSUMER_ACK_FC_REQUIRES_NO_ACK_WAIT);
        }
        if (config->max_deliver > 0) {
            return js_stream_fail(error, JS_ERR_CONSUMER_ACK_FC_REQUIRES_NO_MAX_DELIVER);
        }
    }
    if (config->backoff_count > 0 && config->max_deliver != -1 &&
        (int64_t)config->backoff_count > config->max_deliver) {
        return js_stream_fail(error, JS_ERR_CONSUMER_MAX_DELIVER_BACKOFF);
    }
    if (strlen(js_stream_text(config->description)) > JS_STREAM_CONFIG_DESCRIPTION_LENGTH_MAX) {
        return js_stream_failf(error, JS_ERR_CONSUMER_DESCRIPTION_TOO_LONG, "%d",
                               JS_STREAM_CONFIG_DESCRIPTION_LENGTH_MAX);
    }
    return 0;
}

/* deliveryFormsCycle: the deliver subject would feed the stream itself. */
static bool js_check_deliver_cycle(const struct js_stream_config *stream, const char *subject)
{
    for (size_t i = 0; i < stream->subject_count; i++) {
        if (stream->subjects[i] != NULL && js_stream_subject_subset(subject, stream->subjects[i])) {
            return true;
        }
    }
    return false;
}

static int js_check_push(const struct js_consumer_config *config,
                         const struct js_stream_config *stream, struct js_error *error)
{
    if (!js_stream_subject_literal(config->deliver_subject)) {
        return js_stream_fail(error, JS_ERR_CONSUMER_DELIVER_TO_WILDCARDS);
    }
    if (!js_stream_subject_valid(config->deliver_subject)) {
        return js_stream_fail(error, JS_ERR_CONSUMER_INVALID_DELIVER_SUBJECT);
    }
    if (js_check_deliver_cycle(stream, config->deliver_subject)) {
        return js_stream_fail(error, JS_ERR_CONSUMER_DELIVER_CYCLE);
    }
    if (config->max_waiting != 0) {
        return js_stream_fail(error, JS_ERR_CONSUMER_PUSH_MAX_WAITING);
    }
    if (config->max_ack_pending > 0 && config->ack_policy == JS_CONSUMER_ACK_NONE) {
        return js_stream_fail(error, JS_ERR_CONSUMER_MAX_PENDING_ACK_POLICY_REQUIRED);
    }
    if (config->idle_heartbeat_ns > 0 && config->idle_heartbeat_ns < JS_CHECK_HEARTBEAT_MIN_NS) {
        return js_stream_fail(error, JS_ERR_CONSUMER_SMALL_HEARTBEAT);
    }
    return 0;
}

static int js_check_pull(const struct js_consumer_config *config,
                         const struct js_stream_config *stream, struct js_error *error)
{
    if (config->ack_policy == JS_CONSUMER_ACK_NONE &&
        stream->retention == JS_STREAM_RETENTION_WORKQUEUE) {
        return js_stream_fail(error, JS_ERR_CONSUMER_PULL_REQUIRES_ACK);
    }
    if (config->rate_limit_bps > 0) {
        return js_stream_fail(error, JS_ERR_CONSUMER_PULL_WITH_RATE_LIMIT);
    }
    if (config->max_waiting < 0) {
        return js_stream_fail(error, JS_ERR_CONSUMER_MAX_WAITING_NEGATIVE);
    }
    if (config->idle_heartbeat_ns > 0) {
        return js_stream_fail(error, JS_ERR_CONSUMER_HB_REQUIRES_PUSH);
    }
    if (config->flow_control) {
        return js_stream_fail(error, JS_ERR_CONSUMER_FC_REQUIRES_PUSH);
    }
    if (config->max_batch < 0) {
        return js_stream_fail(error, JS_ERR_CONSUMER_MAX_REQUEST_BATCH_NEGATIVE);
    }
    if (config->max_expires_ns != 0 && config->max_expires_ns < JS_CHECK_EXPIRES_MIN_NS) {
        return js_stream_fail(error, JS_ERR_CONSUMER_MAX_REQUEST_EXPIRES_TOO_SMALL);
    }
    return 0;
}

/* The stream's consumer limits (the server's and the account's are not modelled), then
 * direct's requirements. */
static int js_check_limits_direct(const struct js_consumer_config *config,
                                  const struct js_stream_config *stream, struct js_error *error)
{
    const struct js_stream_consumer_limits *limits = &stream->consumer_limits;
    if (limits->max_ack_pending > 0 && config->max_ack_pending > limits->max_ack_pending) {
        return js_stream_failf(error, JS_ERR_CONSUMER_MAX_PENDING_ACK_EXCESS, "%" PRId64,
                               limits->max_ack_pending);
    }
    if (limits->inactive_threshold_ns > 0 &&
        config->inactive_threshold_ns > limits->inactive_threshold_ns) {
        char text[JS_STREAM_DURATION_TEXT_SIZE];
        js_stream_duration_format(limits->inactive_threshold_ns, text, sizeof text);
        return js_stream_failf(error, JS_ERR_CONSUMER_INACTIVE_THRESHOLD_EXCESS, "%s", text);
    }
    if (config->direct) {
        if (config->deliver_subject == NULL) {
            return js_stream_fail(error, JS_ERR_CONSUMER_DIRECT_REQUIRES_PUSH);
        }
        if (config->durable_name != NULL) {
            return js_stream_fail(error, JS_ERR_CONSUMER_DIRECT_REQUIRES_EPHEMERAL);
        }
    }
    return 0;
}

/* The filters of gatherSubjectFilters' list (filter_subjects, then filter_subject). */
static const char *js_check_filter_at(const struct js_consumer_config *config, size_t index)
{
    if (index < config->filter_subject_count) {
        return config->filter_subjects[index];
    }
    return config->filter_subject;
}

/* Not both forms; valid subjects; none a subset of another. Budget: the filters are
 * compared pairwise, JS_CONSUMER_CONFIG_FILTERS_MAX squared at most. */
static int js_check_filters(const struct js_consumer_config *config, struct js_error *error)
{
    if (config->filter_subject != NULL && config->filter_subject_count > 0) {
        return js_stream_fail(error, JS_ERR_CONSUMER_DUPLICATE_FILTER_SUBJECTS);
    }
    if (config->filter_subject != NULL && !js_stream_subject_valid(config->filter_subject)) {
        return js_stream_invalid(error, "invalid subject");
    }
    for (size_t i = 0; i < config->filter_subject_count; i++) {
        if (config->filter_subjects[i] == NULL) {
            return js_stream_fail(error, JS_ERR_CONSUMER_EMPTY_FILTER);
        }
    }
    size_t count = config->filter_subject_count + (config->filter_subject != NULL ? 1 : 0);
    for (size_t outer = 0; outer < count; outer++) {
        const char *subject = js_check_filter_at(config, outer);
        if (!js_stream_subject_valid(subject)) {
            return js_stream_invalid(error, "invalid subject");
        }
        for (size_t inner = 0; inner < count; inner++) {
            if (inner != outer &&
                js_stream_subject_subset(subject, js_check_filter_at(config, inner))) {
                return js_stream_fail(error, JS_ERR_CONSUMER_OVERLAPPING_SUBJECT_FILTERS);
            }
        }
    }
    return 0;
}

/* The deliver policy against the optional start: the two texts nats-server words. */
#define JS_CHECK_BAD_START                                                                         \
    "consumer delivery policy is deliver %s, but optional start %s is also set"
#define JS_CHECK_NOT_SET "consumer delivery policy is deliver %s, but optional %s is not set"
static int js_check_start(const struct js_consumer_config *config, struct js_error *error)
{
    static const char *const names[] = {
        [JS_CONSUMER_DELIVER_ALL] = "all",
        [JS_CONSUMER_DELIVER_LAST] = "last",
        [JS_CONSUMER_DELIVER_NEW] = "new",
        [JS_CONSUMER_DELIVER_BY_START_SEQUENCE] = "by start sequence",
        [JS_CONSUMER_DELIVER_BY_START_TIME] = "by start time",
        [JS_CONSUMER_DELIVER_LAST_PER_SUBJECT] = "last per subject",
    };
    enum js_consumer_deliver_policy policy = config->deliver_policy;
    ASSERT((unsigned)policy < sizeof names / sizeof names[0]);
    const char *name = names[policy];
    switch (policy) {
    case JS_CONSUMER_DELIVER_BY_START_SEQUENCE:
        if (config->opt_start_seq == 0) {
            return js_stream_failf(error, JS_ERR_CONSUMER_INVALID_POLICY, JS_CHECK_NOT_SET, name,
                                   "start sequence");
        }
        if (config->has_opt_start_time) {
            return js_stream_failf(error, JS_ERR_CONSUMER_INVALID_POLICY, JS_CHECK_BAD_START, name,
                                   "time");
        }
        return 0;
    case JS_CONSUMER_DELIVER_BY_START_TIME:
        if (!config->has_opt_start_time) {
            return js_stream_failf(error, JS_ERR_CONSUMER_INVALID_POLICY, JS_CHECK_NOT_SET, name,
                                   "start time");
        }
        if (config->opt_start_seq != 0) {
            return js_stream_failf(error, JS_ERR_CONSUMER_INVALID_POLICY, JS_CHECK_BAD_START, name,
                                   "start sequence");
        }
        return 0;
    default:
        if (config->opt_start_seq > 0) {
            return js_stream_failf(error, JS_ERR_CONSUMER_INVALID_POLICY, JS_CHECK_BAD_START, name,
                                   "sequence");
        }
        if (config->has_opt_start_time) {
            return js_stream_failf(error, JS_ERR_CONSUMER_INVALID_POLICY, JS_CHECK_BAD_START, name,
                                   "time");
        }
        if (policy == JS_CONSUMER_DELIVER_LAST_PER_SUBJECT && config->filter_subject == NULL &&
            config->filter_subject_count == 0) {
            return js_stream_failf(error, JS_ERR_CONSUMER_INVALID_POLICY, JS_CHECK_NOT_SET, name,
                                   "filter subject");
        }
        return 0;
    }
}

/* Go's strconv.Atoi on `text` (64-bit int): 0 with *value, or -EINVAL with its error text
 * ("strconv.Atoi: parsing \"x\": invalid syntax" / "value out of range"). A digit past the
 * range is reported at once, as Go's ParseUint does, before any later bad byte. */
static int js_check_atoi(const char *text, size_t length, int64_t *value, char *message,
                         size_t size)
{
    size_t at = length > 0 && (text[0] == '+' || text[0] == '-') ? 1 : 0;
    bool negative = at == 1 && text[0] == '-';
    const char *reason = at == length ? "invalid syntax" : NULL;
    uint64_t magnitude = 0;
    for (; reason == NULL && at < length; at++) {
        if (text[at] < '0' || text[at] > '9') {
            reason = "invalid syntax";
        } else if (magnitude > (UINT64_MAX - (uint64_t)(text[at] - '0')) / 10) {
            reason = "value out of range";
        } else {
            magnitude = magnitude * 10 + (uint64_t)(text[at] - '0');
        }
    }
    if (reason == NULL && magnitude > (uint64_t)INT64_MAX + (negative ? 1 : 0)) {
        reason = "value out of range";
    }
    if (reason != NULL) {
        char quoted[JS_ERROR_DESCRIPTION_SIZE / 2];
        go_json_quote_into(quoted, sizeof quoted, text, length);
        snprintf(message, size, "strconv.Atoi: parsing %s: %s", quoted, reason);
        return -EINVAL;
    }
    *value = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
    return 0;
}

/* sample_freq ("50" or "50%"), then flow control without heartbeats, the two names. */
static int js_check_sampling_names(const struct js_consumer_config *config, struct js_error *error)
{
    if (config->sample_freq != NULL) {
        size_t length = strlen(config->sample_freq);
        if (length > 0 && config->sample_freq[length - 1] == '%') {
            length--;
        }
        int64_t frequency = 0;
        char message[JS_ERROR_DESCRIPTION_SIZE];
        if (js_check_atoi(config->sample_freq, length, &frequency, message, sizeof message)) {
            return js_stream_failf(error, JS_ERR_CONSUMER_INVALID_SAMPLING, "%s", message);
        }
        if (frequency < 0) {
            /* Go formats the nil error it passes here as "<nil>" */
            return js_stream_failf(error, JS_ERR_CONSUMER_INVALID_SAMPLING, "<nil>");
        }
    }
    if (config->flow_control && config->idle_heartbeat_ns == 0) {
        return js_stream_fail(error, JS_ERR_CONSUMER_WITH_FLOW_CONTROL_NEEDS_HEARTBEATS);
    }
    if (config->durable_name != NULL && config->name != NULL &&
        strcmp(config->durable_name, config->name) != 0) {
        return js_stream_fail(error, JS_ERR_CONSUMER_CREATE_DURABLE_AND_NAME_MISMATCH);
    }
    size_t metadata_length = 0;
    for (size_t i = 0; i < config->metadata_count; i++) {
        metadata_length += strlen(config->metadata[i].key) + strlen(config->metadata[i].value);
    }
    if (metadata_length > JS_STREAM_CONFIG_METADATA_LENGTH_MAX) {
        return js_stream_failf(error, JS_ERR_CONSUMER_METADATA_LENGTH, "%dKB",
                               JS_STREAM_CONFIG_METADATA_LENGTH_MAX / 1024);
    }
    return 0;
}

bool js_consumer_config_group_name_valid(const char *name)
{
    size_t length = strlen(name);
    return length >= 1 && length <= JS_CHECK_GROUP_NAME_LENGTH_MAX &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_=-") ==
               length;
}

static int js_check_priority(const struct js_consumer_config *config,
                             const struct js_stream_config *stream, struct js_error *error)
{
    if (config->priority_policy != JS_CONSUMER_PRIORITY_NONE) {
        if (config->deliver_subject != NULL) {
            return js_stream_fail(error, JS_ERR_CONSUMER_PUSH_WITH_PRIORITY_GROUP);
        }
        if (config->priority_group_count == 0) {
            return js_stream_fail(error, JS_ERR_CONSUMER_PRIORITY_POLICY_WITHOUT_GROUP);
        }
        for (size_t i = 0; i < config->priority_group_count; i++) {
            if (config->priority_groups[i] == NULL) {
                return js_stream_fail(error, JS_ERR_CONSUMER_EMPTY_GROUP_NAME);
            }
            if (!js_consumer_config_group_name_valid(config->priority_groups[i])) {
                return js_stream_fail(error, JS_ERR_CONSUMER_INVALID_GROUP_NAME);
            }
        }
    } else {
        if (config->priority_group_count > 0) {
            return js_stream_fail(error, JS_ERR_CONSUMER_PRIORITY_GROUP_WITH_POLICY_NONE);
        }
        if (config->priority_timeout_ns > 0) {
            return js_stream_fail(error, JS_ERR_CONSUMER_PINNED_TTL_WITHOUT_PRIORITY_POLICY_NONE);
        }
    }
    if (stream->has_placement && stream->placement.preferred != NULL) {
        return js_stream_invalid(error, "preferred server not permitted in placement");
    }
    return 0;
}

static int js_check_config(const struct js_consumer_config *config,
                           const struct js_stream_config *stream, struct js_error *error)
{
    int rc = js_check_names_replicas(config, stream, error);
    rc = rc ? rc : js_check_acks(config, error);
    if (rc == 0) {
        rc = config->deliver_subject != NULL ? js_check_push(config, stream, error)
                                             : js_check_pull(config, stream, error);
    }
    rc = rc ? rc : js_check_limits_direct(config, stream, error);
    rc = rc ? rc : js_check_filters(config, error);
    rc = rc ? rc : js_check_start(config, error);
    rc = rc ? rc : js_check_sampling_names(config, error);
    rc = rc ? rc : js_check_priority(config, stream, error);
    return rc;
}

int js_consumer_config_check(struct js_consumer_config *config,
                             const struct js_consumer_config_check_options *options,
                             struct js_error *error)
{
    ASSERT(options->stream != NULL);
    js_errors_clear(error);
    int rc = js_defaults_negative(config, options->pedantic, error);
    rc = rc ? rc : js_defaults_apply(config, options, error);
    rc = rc ? rc : js_check_config(config, options->stream, error);
    if (rc != 0) {
        return rc;
    }
    /* updateInactiveThreshold: what nats-server stamps on an ephemeral it creates or
     * updates */
    config->inactive_threshold_defaulted = false;
    if (config->durable_name == NULL && config->inactive_threshold_ns <= 0) {
        config->inactive_threshold_ns = JS_CONSUMER_INACTIVE_THRESHOLD_DEFAULT_NS;
        config->inactive_threshold_defaulted = true;
    }
    return 0;
}
