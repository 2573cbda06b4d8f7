/* A JetStream consumer's configuration, as nats-server 2.15 reads, checks, echoes and
 * updates it ($JS.API.CONSUMER.CREATE / DURABLE.CREATE / INFO).
 *
 * The one idea: as for streams (js_stream_config.h), each step mirrors nats-server's, text
 * for text, because clients compare the echoed config with what they sent (nats.go's
 * ordered consumers and KV watchers do) and match the error codes. The create handler
 * (jsConsumerCreateRequest, then addConsumerWithAssignment) runs, in this order:
 *
 *   js_consumer_request_parse   CreateConsumerRequest body -> stream_name, config, action,
 *                               pedantic; Go's strict decoding errors (10025)
 *   js_consumer_request_check   the subject against the request: stream name (10056), path
 *                               separators (10127), durable forms (10017, 10018, 10020),
 *                               the filter in the subject (10137, 10131), replicas > 1
 *                               (10074); sets config.name from the subject
 *   [caller] the stream exists (10059); an existing consumer of that name: its pause_until
 *            is copied into the request's config (nats-server ignores a new one), and for
 *            a durable "sourcing" request its deliver policy, opt_start_seq and _time
 *   js_consumer_config_metadata_set_static   _nats.req.level, as the handler does
 *   js_consumer_config_check    setConsumerConfigDefaults + checkConsumerCfg against the
 *                               stream's config (10052, 10094, 10157, ...)
 *   an existing consumer of that name:
 *     action "create": js_consumer_config_equal(existing, config), else 10148
 *     a workqueue stream: js_consumer_config_partition_unique with the others, else 10100
 *     action "create" (and equal): the reply echoes the existing consumer, unchanged
 *     js_consumer_config_check_update(existing, config): 10012 "... can not be updated"
 *     js_consumer_config_update_apply(existing, config)
 *     -> the consumer takes `config`, the reply echoes it
 *   no such consumer:
 *     action "update": 10149; [caller] max consumers (10026, counting the consumers
 *     that are neither direct nor sourcing)
 *     js_consumer_config_check_new  workqueue rules (10098, 10101, 10099, 10100), the
 *                                   durable name's length (10102)
 *     [caller] an ephemeral without a name gets 8 random characters, not written into
 *              the config (nats-server's echo has no "name" then)
 *   js_consumer_config_encode   the "config" object of the reply and of CONSUMER.INFO
 *
 * Not modelled: the server's and the account's JetStream limits (JSLimitOpts max_ack_pending
 * and max_request_batch, the account's max_ack_pending; ionats has none, as nats-server has
 * none by default), clustering, direct sourcing consumers' upgrade, stream identities.
 *
 * Everything a client sends is bounded beyond the request size: the counts below, and each
 * subject (filters, deliver subject) at JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX bytes; past a
 * bound ionats answers 10052 with a description that names it.
 *
 * Pure functions; a config is owned by whoever holds it. Any thread. */
#ifndef IONATS_PROTO_JS_CONSUMER_CONFIG_H
#define IONATS_PROTO_JS_CONSUMER_CONFIG_H

#include "proto/go_json.h"
#include "proto/js_errors.h"
#include "proto/js_stream_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    JS_CONSUMER_CONFIG_FILTERS_MAX = 1024,        /* filter_subjects, checked pairwise */
    JS_CONSUMER_CONFIG_BACKOFF_MAX = 1024,        /* backoff durations */
    JS_CONSUMER_CONFIG_PRIORITY_GROUPS_MAX = 256, /* priority_groups */
    JS_CONSUMER_CONFIG_METADATA_ENTRIES_MAX = 1024,
    /* nats-server's JSMaxNameLen, for a durable name (10102) */
    JS_CONSUMER_CONFIG_NAME_LENGTH_MAX = 255,
};

/* nats-server's defaults (consumer.go). */
#define JS_CONSUMER_ACK_WAIT_DEFAULT_NS (30 * JS_STREAM_NS_PER_SECOND)
#define JS_CONSUMER_MAX_WAITING_DEFAULT 512
#define JS_CONSUMER_MAX_ACK_PENDING_DEFAULT 1000
/* An ephemeral's inactive_threshold when none is given (5 s). */
#define JS_CONSUMER_INACTIVE_THRESHOLD_DEFAULT_NS (5 * JS_STREAM_NS_PER_SECOND)
/* A pinned_client policy's priority_timeout when none is given (2 min). */
#define JS_CONSUMER_PRIORITY_TIMEOUT_DEFAULT_NS (120 * JS_STREAM_NS_PER_SECOND)
/* The idle_heartbeat of the flow_control ack policy, which it sets and requires (1 s). */
#define JS_CONSUMER_FLOW_CONTROL_HEARTBEAT_NS JS_STREAM_NS_PER_SECOND

enum js_consumer_deliver_policy {
    JS_CONSUMER_DELIVER_ALL = 0,
    JS_CONSUMER_DELIVER_LAST,
    JS_CONSUMER_DELIVER_NEW,
    JS_CONSUMER_DELIVER_BY_START_SEQUENCE,
    JS_CONSUMER_DELIVER_BY_START_TIME,
    JS_CONSUMER_DELIVER_LAST_PER_SUBJECT,
};

enum js_consumer_ack_policy {
    JS_CONSUMER_ACK_NONE = 0,
    JS_CONSUMER_ACK_ALL,
    JS_CONSUMER_ACK_EXPLICIT,
    JS_CONSUMER_ACK_FLOW_CONTROL, /* 2.14's "flow_control" ack policy (sourcing) */
};

enum js_consumer_replay_policy {
    JS_CONSUMER_REPLAY_INSTANT = 0,
    JS_CONSUMER_REPLAY_ORIGINAL,
};

enum js_consumer_priority_policy {
    JS_CONSUMER_PRIORITY_NONE = 0,
    JS_CONSUMER_PRIORITY_OVERFLOW,
    JS_CONSUMER_PRIORITY_PINNED_CLIENT,
    JS_CONSUMER_PRIORITY_PRIORITIZED,
};

/* What a CONSUMER.CREATE request asks (CreateConsumerRequest's action). */
enum js_consumer_action {
    JS_CONSUMER_ACTION_CREATE_OR_UPDATE = 0, /* "" */
    JS_CONSUMER_ACTION_CREATE,               /* "create": 10148 when it exists, differently */
    JS_CONSUMER_ACTION_UPDATE,               /* "update": 10149 when it does not exist */
};

/* Every field of nats-server's ConsumerConfig, in its order. A `char *` is owned,
 * NUL-terminated, and NULL when empty or absent. Durations are nanoseconds. */
struct js_consumer_config {
    char *durable_name;
    char *name;
    char *description;
    enum js_consumer_deliver_policy deliver_policy;
    uint64_t opt_start_seq;
    bool has_opt_start_time;
    struct js_stream_time opt_start_time;
    enum js_consumer_ack_policy ack_policy;
    int64_t ack_wait_ns;
    int64_t max_deliver;
    int64_t *backoff_ns; /* owned array */
    size_t backoff_count;
    char *filter_subject;
    char **filter_subjects; /* owned array of owned strings */
    size_t filter_subject_count;
    enum js_consumer_replay_policy replay_policy;
    uint64_t rate_limit_bps;
    char *sample_freq;
    int64_t max_waiting;
    int64_t max_ack_pending;
    bool flow_control;
    bool headers_only;
    int64_t max_batch;
    int64_t max_expires_ns;
    int64_t max_bytes;
    char *deliver_subject;
    char *deliver_group;
    int64_t idle_heartbeat_ns;
    int64_t inactive_threshold_ns;
    int64_t num_replicas;
    bool mem_storage;
    bool direct;
    bool sourcing;
    struct js_stream_metadata_entry *metadata; /* owned array, sorted by key (bytes) */
    size_t metadata_count;
    bool has_pause_until;
    struct js_stream_time pause_until;
    char **priority_groups; /* owned array of owned strings */
    size_t priority_group_count;
    enum js_consumer_priority_policy priority_policy;
    int64_t priority_timeout_ns;
    /* Not nats-server's: set by js_consumer_config_check when it gave an ephemeral the
     * default inactive_threshold (JS_CONSUMER_INACTIVE_THRESHOLD_DEFAULT_NS). nats-server
     * stamps that default on the consumer it creates, after comparing configs, so a
     * request that relied on it never equals an existing consumer (see
     * js_consumer_config_equal). Never encoded. */
    bool inactive_threshold_defaulted;
    /* Not nats-server's either: an array the request gave empty ("backoff":[]), which Go
     * keeps apart from an absent one (nil), so reflect.DeepEqual tells the two configs
     * apart (js_consumer_config_equal). Never encoded (omitempty drops both). */
    bool backoff_empty;
    bool filter_subjects_empty;
    bool priority_groups_empty;
};

/* A CreateConsumerRequest. */
struct js_consumer_request {
    char *stream_name; /* owned, NULL when absent */
    struct js_consumer_config config;
    enum js_consumer_action action;
    bool pedantic;
};

/* An empty config, as Go's zero ConsumerConfig. */
void js_consumer_config_init(struct js_consumer_config *config);
/* Releases everything `config` owns and leaves it empty. */
void js_consumer_config_free(struct js_consumer_config *config);
void js_consumer_request_free(struct js_consumer_request *request);

/* Deep copy: 0 or -ENOMEM (then `out` owns nothing). */
int js_consumer_config_copy(struct js_consumer_config *out, const struct js_consumer_config *from);

/* ---- parse (js_consumer_config_parse.c) ------------------------------------------------ */

/* Decodes a CONSUMER.CREATE / DURABLE.CREATE request body as nats-server's strict Go
 * decoding does: keys match case-insensitively, unknown keys are refused, null leaves a
 * field alone (but is refused by the policy fields and the action, whose own decoders
 * refuse it), several JSON values decode into the same request one after the other. An
 * empty body is an empty request, as for nats-server (js_consumer_request_check then
 * answers 10056). Returns 0; -EINVAL with `error` set (10025 "invalid JSON: <Go's text>",
 * or 10052 for a bound above); -ENOMEM. On error `request` owns nothing. */
int js_consumer_request_parse(const char *body, size_t length, struct js_consumer_request *request,
                              struct js_error *error);

/* ---- the create handler's steps (js_consumer_config_update.c) ------------------------- */

/* Which subject form the request came on. */
enum js_consumer_subject_form {
    JS_CONSUMER_SUBJECT_CREATE,          /* $JS.API.CONSUMER.CREATE.<stream> (2.9's form) */
    JS_CONSUMER_SUBJECT_CREATE_NAMED,    /* $JS.API.CONSUMER.CREATE.<stream>.<consumer> */
    JS_CONSUMER_SUBJECT_CREATE_FILTERED, /* ...CREATE.<stream>.<consumer>.<filter...> */
    JS_CONSUMER_SUBJECT_DURABLE_CREATE,  /* $JS.API.CONSUMER.DURABLE.CREATE.<s>.<durable> */
};

/* The create handler's checks of the request against its subject, in nats-server's order:
 * the stream name in the subject against the request's (10056); the consumer name (from
 * the subject, or the config's name for the CREATE form) without '\' or '/' (10127); the
 * durable form needs a durable_name (10018) equal to the subject's (10017); the named
 * forms' durable_name, when set, must equal the subject's name (10017); the CREATE form
 * may not have a durable_name (10020); the filtered form may not have filter_subjects
 * (10137) and its filter_subject must be the subject's filter (10131); num_replicas > 1
 * (10074, ionats is not clustered). The subject's tokens are passed split: `stream`, and
 * `consumer` and `filter` (its tokens joined by '.') NULL when the form has none. On
 * success the durable and named forms set config.name to the subject's consumer name, as
 * nats-server does. 0, -EINVAL with `error`, -ENOMEM. */
int js_consumer_request_check(struct js_consumer_request *request,
                              enum js_consumer_subject_form form, const char *stream,
                              const char *consumer, const char *filter, struct js_error *error);

/* nats-server's validGroupName (^[a-zA-Z0-9/_=-]{1,16}$): a priority group's name, in a
 * config or an UNPIN request. */
bool js_consumer_config_group_name_valid(const char *name);

/* The JetStream API level a consumer's features need: 0, 1 (pause_until, priority
 * groups or policy), 4 (the flow_control ack policy). */
int js_consumer_config_api_level_required(const struct js_consumer_config *config);

/* As nats-server's create handler (setStaticConsumerMetadata): drops _nats.ver and
 * _nats.level from the metadata and sets _nats.req.level. 0 or -ENOMEM. */
int js_consumer_config_metadata_set_static(struct js_consumer_config *config);

/* ---- checks (js_consumer_config_check.c) ----------------------------------------------- */

struct js_consumer_config_check_options {
    bool pedantic; /* the request's "pedantic": refuse instead of adjusting (10157) */
    /* the stream's config (checked), borrowed for the call: its retention, subjects,
     * replicas, placement and consumer_limits */
    const struct js_stream_config *stream;
};

/* setConsumerConfigDefaults then checkConsumerCfg, in nats-server's order: the defaults
 * (max_deliver -1, negative limits to 0 or -1, max_waiting 512 for pull, ack_wait 30 s,
 * the first backoff as ack_wait, the stream's consumer limits, max_ack_pending 1000,
 * priority_timeout 2 min for pinned_client, flow control and a 1 s heartbeat for the
 * flow_control ack policy) or, when pedantic, their refusal (10157); then nats-server's
 * refusal of what is invalid. Last, an ephemeral (no durable_name) with no
 * inactive_threshold gets 5 s, as nats-server stamps its new or updated consumer
 * (inactive_threshold_defaulted says so). Returns 0, or -EINVAL with `error` set. */
int js_consumer_config_check(struct js_consumer_config *config,
                             const struct js_consumer_config_check_options *options,
                             struct js_error *error);

/* ---- existing and new consumers (js_consumer_config_update.c) -------------------------- */

/* The consumer's name: durable_name, else name (NULL for an ephemeral without a name: the
 * caller makes one, as nats-server's 8 random characters). */
const char *js_consumer_config_name(const struct js_consumer_config *config);

/* nats-server's checkNewConsumerConfig for an update of `old` (checked) to `config`
 * (checked), in its order: what may not change (deliver policy, storage, direct,
 * sourcing, start sequence and time, ack policy, replay policy, heartbeat, flow control,
 * pull to push and back, max waiting), each refused with 10012 and nats-server's text
 * ("deliver policy can not be updated"); more backoff values than max_deliver (10116).
 * A push consumer's new deliver subject is taken as if nobody listened on the old one. 0
 * or -EINVAL. */
int js_consumer_config_check_update(const struct js_consumer_config *old,
                                    const struct js_consumer_config *config,
                                    struct js_error *error);

/* The same, with whether anyone still listens on `old`'s deliver subject: then a push
 * consumer may not move to another deliver subject (10013), as nats-server refuses. */
int js_consumer_config_check_update_push(const struct js_consumer_config *old,
                                         const struct js_consumer_config *config,
                                         bool old_deliver_subject_has_interest,
                                         struct js_error *error);

/* What nats-server's updateConfig does to an accepted update (after
 * js_consumer_config_check_update): the default inactive_threshold of an ephemeral goes by
 * the existing consumer's durable_name, not the request's (an update may add or drop one),
 * and only when the threshold asked differs from the existing one: a request without one
 * updating an existing durable keeps 0, an existing ephemeral gets 5 s. */
void js_consumer_config_update_apply(const struct js_consumer_config *old,
                                     struct js_consumer_config *config);

/* True when a create with action "create" repeating `existing` (a stored config) with
 * `requested` (checked) is answered with the existing consumer, unchanged, rather than
 * 10148: every field equal, the metadata without nats-server's own keys. Not symmetric: a
 * request's inactive_threshold counts as it was before js_consumer_config_check defaulted
 * it (nats-server compares before stamping), so it never equals an ephemeral's stamped 5 s.
 * An array given empty differs from an absent one, as for Go (nil against empty slices). */
bool js_consumer_config_equal(const struct js_consumer_config *existing,
                              const struct js_consumer_config *requested);

/* nats-server's partitionUnique on a workqueue stream: true when none of `config`'s
 * filters collides with a filter of the `others` (the stream's other consumers, the one
 * being updated excluded by the caller), direct and sourcing consumers ignored; an
 * unfiltered other collides with everything. */
bool js_consumer_config_partition_unique(const struct js_consumer_config *config,
                                         const struct js_consumer_config *const *others,
                                         size_t other_count);

/* addConsumer's checks of a new consumer on `stream` (checked), after the caller's max
 * consumers check: on a workqueue stream, unless direct or sourcing, an explicit (or
 * flow_control) ack policy (10098), deliver all (10101), and when `others` (the stream's
 * consumers) hold one that is neither direct nor sourcing (those do not count against
 * max consumers either), a filter (10099) unique among them (10100); then a durable name
 * of at most JS_CONSUMER_CONFIG_NAME_LENGTH_MAX bytes (10102). 0 or -EINVAL with `error`. */
int js_consumer_config_check_new(const struct js_consumer_config *config,
                                 const struct js_stream_config *stream,
                                 const struct js_consumer_config *const *others, size_t other_count,
                                 struct js_error *error);

/* True when `subject` (a literal) is one the consumer delivers: it matches filter_subject
 * or one of filter_subjects (wildcards as in a subscription), or the consumer has none. */
bool js_consumer_config_matches(const struct js_consumer_config *config, const char *subject,
                                size_t length);

/* ---- encode (js_consumer_config_encode.c) ---------------------------------------------- */

/* Appends the config as nats-server's JSON object: ConsumerConfig's field order, Go's
 * omitempty (zero numbers, false flags, empty strings and arrays, the none priority policy
 * left out; deliver_policy, ack_policy, replay_policy and num_replicas always written),
 * metadata keys sorted, times as RFC 3339 with the offset they were given in.
 * `server_version` non-NULL adds _nats.ver / _nats.level metadata as replies carry. */
void js_consumer_config_encode(const struct js_consumer_config *config, const char *server_version,
                               int server_api_level, struct go_json *json);

#endif
