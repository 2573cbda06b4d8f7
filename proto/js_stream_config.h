/* A JetStream stream's configuration, as nats-server 2.15 reads, checks, echoes and updates
 * it ($JS.API.STREAM.CREATE / UPDATE / INFO).
 *
 * The one idea: nats-server decodes the request with Go's encoding/json into its
 * StreamConfig (strictly: unknown fields are refused), then checkStreamCfg applies defaults
 * and refuses what is invalid, and the reply echoes the normalised config back. Clients
 * compare that echo with what they sent (nats.go's KV does), and show or match the error
 * texts, so each step here mirrors nats-server's, text for text:
 *
 *   js_stream_config_parse           request body -> struct, Go's decoding errors (10025)
 *   js_stream_config_metadata_set_static   _nats.req.level, as the create handler does
 *   js_stream_config_check_create_request  name in subject (10056), path separators
 *                                    (10128), sealed, mirror_direct without mirror
 *   js_stream_config_check           checkStreamCfg: defaults and validation (10052, ...)
 *   js_stream_config_check_replicas  replicas > 1 without clustering (10074)
 *   [caller] an existing stream of that name: js_stream_config_equal ? reply : 10058
 *   js_stream_config_check_filters   addStream's source/mirror filter checks (10049)
 *   [caller] js_stream_config_subject_sets_overlap with every other stream (10065)
 *   js_stream_config_encode          the "config" object of the reply
 *
 * and for UPDATE: parse, js_stream_config_check, js_stream_config_check_name (10056),
 * [caller: the stream exists, else 10059], js_stream_config_check_update (10052, 10055,
 * 10074, ...), [caller: overlap with the other streams, 10065].
 *
 * What needs other streams (a mirror's or source's max_msg_size against its origin,
 * inheriting mirror_direct, cycles through other streams, a delivery prefix against the
 * origin's subjects) or the account (limits, reservations, max bytes required) is the
 * caller's; the error ids are in js_errors.h.
 *
 * Everything a client sends is bounded, beyond the request size the caller bounds: the
 * counts and lengths below. nats-server has no such bounds of its own; ionats answers a
 * config past them with 10052 and a description that names the bound.
 *
 * Pure functions; a config is owned by whoever holds it. Any thread. */
#ifndef IONATS_PROTO_JS_STREAM_CONFIG_H
#define IONATS_PROTO_JS_STREAM_CONFIG_H

#include "proto/js_errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    /* nats-server's own limits (JSMaxNameLen, JSMaxDescriptionLen, JSMaxMetadataLen,
     * StreamMaxReplicas); exceeding one gets its exact error */
    JS_STREAM_CONFIG_NAME_LENGTH_MAX = 255,
    JS_STREAM_CONFIG_DESCRIPTION_LENGTH_MAX = 4 * 1024,
    JS_STREAM_CONFIG_METADATA_LENGTH_MAX = 128 * 1024, /* keys and values together */
    JS_STREAM_CONFIG_REPLICAS_MAX = 5,
    /* ionats's bounds. Subjects within one config are checked pairwise for overlap, as
     * nats-server does: 1024 subjects are half a million comparisons, about 25 ms here;
     * real configs have a handful (a KV bucket or object store: one). */
    JS_STREAM_CONFIG_SUBJECTS_MAX = 1024,
    /* Any subject or subject-like string (subjects, filters, transforms, republish,
     * external prefixes, deliver subjects). A publish subject longer than the 4096-byte
     * control line could not arrive anyway, and 1 KiB keeps two quoted subjects inside an
     * error description (JS_ERROR_DESCRIPTION_SIZE). */
    JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX = 1024,
    JS_STREAM_CONFIG_SOURCES_MAX = 1024,          /* sources are checked pairwise for duplicates */
    JS_STREAM_CONFIG_TRANSFORMS_MAX = 256,        /* per source or mirror, checked pairwise */
    JS_STREAM_CONFIG_TAGS_MAX = 256,              /* placement tags */
    JS_STREAM_CONFIG_METADATA_ENTRIES_MAX = 1024, /* kept sorted by insertion */
};

/* Nanoseconds in the units nats-server's defaults and minimums are written in. */
#define JS_STREAM_NS_PER_MS INT64_C(1000000)
#define JS_STREAM_NS_PER_SECOND INT64_C(1000000000)
/* Default duplicate window (StreamDefaultDuplicatesWindow): 2 minutes. */
#define JS_STREAM_DUPLICATE_WINDOW_DEFAULT_NS (120 * JS_STREAM_NS_PER_SECOND)

enum js_stream_retention {
    JS_STREAM_RETENTION_LIMITS = 0,
    JS_STREAM_RETENTION_INTEREST,
    JS_STREAM_RETENTION_WORKQUEUE,
};

enum js_stream_discard {
    JS_STREAM_DISCARD_OLD = 0,
    JS_STREAM_DISCARD_NEW,
};

enum js_stream_storage {
    JS_STREAM_STORAGE_UNSET = 0, /* absent from the request; the check makes it FILE */
    JS_STREAM_STORAGE_FILE,
    JS_STREAM_STORAGE_MEMORY,
};

enum js_stream_compression {
    JS_STREAM_COMPRESSION_NONE = 0,
    JS_STREAM_COMPRESSION_S2,
};

enum js_stream_persist_mode {
    JS_STREAM_PERSIST_DEFAULT = 0,
    JS_STREAM_PERSIST_ASYNC,
};

/* A time as a client wrote it (RFC 3339): the wall-clock fields and the zone offset they
 * are in, so that the echo keeps the offset as nats-server's does. */
struct js_stream_time {
    int32_t year;  /* 0..9999 */
    uint8_t month; /* 1..12 */
    uint8_t day;
    uint8_t hour;
    uint8_t minute;
    uint8_t second;
    uint32_t nanosecond;
    int32_t offset_seconds; /* east of UTC */
};

/* Writes a duration as Go's time.Duration.String() does ("1m30s", "500ms", "0s"). */
void js_stream_duration_format(int64_t ns, char *text, size_t size);

/* Room for a Go time parse error: it quotes the input (each byte up to 4 times) twice. */
enum { JS_STREAM_TIME_ERROR_SIZE = 1024 };

/* Parses an RFC 3339 time as Go's time.Time.UnmarshalJSON does (strict: 'T' and 'Z'
 * upper case, two-digit fields, '.' before fractions, offsets as +hh:mm). Returns 0, or
 * -EINVAL with Go's error text in `text`. */
int js_stream_time_parse(const char *value, size_t length, struct js_stream_time *time, char *text,
                         size_t size);

/* Writes `time` as Go's MarshalJSON does (RFC 3339, trailing fraction zeros dropped, "Z"
 * for a zero offset), without quotes. */
void js_stream_time_format(const struct js_stream_time *time, char *text, size_t size);

/* Nanoseconds since the Unix epoch of `time` (years 1678..2262 fit). */
int64_t js_stream_time_unix_ns(const struct js_stream_time *time);

/* In every struct below a `char *` is owned by the struct, NUL-terminated, and NULL when
 * the string is empty or absent (Go does not tell the two apart either). */

struct js_stream_subject_transform {
    char *src;
    char *dest;
};

struct js_stream_external {
    char *api;
    char *deliver;
};

/* A durable consumer a source or mirror uses (2.14+). */
struct js_stream_source_consumer {
    char *name;
    char *deliver_subject;
};

struct js_stream_source {
    char *name;
    uint64_t opt_start_seq;
    bool has_opt_start_time;
    struct js_stream_time opt_start_time;
    char *filter_subject;
    struct js_stream_subject_transform *subject_transforms; /* owned array */
    size_t subject_transform_count;
    bool has_external;
    struct js_stream_external external;
    bool has_consumer;
    struct js_stream_source_consumer consumer;
};

struct js_stream_placement {
    char *cluster;
    char **tags; /* owned array of owned strings */
    size_t tag_count;
    char *preferred;
};

struct js_stream_republish {
    char *src;
    char *dest;
    bool headers_only;
};

struct js_stream_consumer_limits {
    int64_t inactive_threshold_ns;
    int64_t max_ack_pending;
};

struct js_stream_metadata_entry {
    char *key;
    char *value;
};

/* Every field of nats-server's StreamConfig, in its order. Go's int is int64 here. */
struct js_stream_config {
    char *name;
    char *description;
    char **subjects; /* owned array of owned strings (NULL for "" or null, as above) */
    size_t subject_count;
    enum js_stream_retention retention;
    int64_t max_consumers;
    int64_t max_msgs;
    int64_t max_bytes;
    int64_t max_age_ns;
    int64_t max_msgs_per_subject;
    int32_t max_msg_size;
    enum js_stream_discard discard;
    enum js_stream_storage storage;
    int64_t num_replicas;
    bool no_ack;
    int64_t duplicate_window_ns;
    bool has_placement;
    struct js_stream_placement placement;
    struct js_stream_source *mirror;  /* owned, NULL when not a mirror */
    struct js_stream_source *sources; /* owned array */
    size_t source_count;
    enum js_stream_compression compression;
    uint64_t first_seq;
    bool has_subject_transform;
    struct js_stream_subject_transform subject_transform;
    bool has_republish;
    struct js_stream_republish republish;
    bool allow_direct;
    bool mirror_direct;
    bool discard_new_per_subject;
    bool sealed;
    bool deny_delete;
    bool deny_purge;
    bool allow_rollup_hdrs;
    struct js_stream_consumer_limits consumer_limits;
    bool allow_msg_ttl;
    int64_t subject_delete_marker_ttl_ns;
    bool allow_msg_counter;
    bool allow_atomic;
    bool allow_msg_schedules;
    enum js_stream_persist_mode persist_mode;
    bool allow_batched;
    struct js_stream_metadata_entry *metadata; /* owned array, sorted by key (bytes) */
    size_t metadata_count;
};

/* An empty config, as Go's zero StreamConfig. */
void js_stream_config_init(struct js_stream_config *config);
/* Releases everything `config` owns and leaves it empty. */
void js_stream_config_free(struct js_stream_config *config);

/* ---- parse (js_stream_config_parse.c) -------------------------------------------------- */

/* Decodes a STREAM.CREATE / UPDATE request body (a StreamConfig plus "pedantic") into
 * `config` (initialised here) and `*pedantic`, as nats-server's strict Go decoding does:
 * keys match case-insensitively, unknown keys are refused, null leaves a field alone, an
 * empty body is an empty config, a body of several JSON values decodes each into the same
 * config. Returns 0; -EINVAL with `error` set (10025 "invalid JSON: <Go's text>", or 10052
 * for a bound above); -ENOMEM. On error `config` owns nothing. */
int js_stream_config_parse(const char *body, size_t length, struct js_stream_config *config,
                           bool *pedantic, struct js_error *error);

/* ---- checks (js_stream_config_check.c) ------------------------------------------------- */

struct js_stream_config_check_options {
    bool pedantic; /* the request's "pedantic": refuse instead of adjusting (10157) */
    /* the server's jetstream duplicate window limit, 0 for none (nats-server's
     * JetStreamLimits.Duplicates) */
    int64_t duplicate_window_max_ns;
};

/* The create handler's checks before checkStreamCfg: the name in the request subject
 * ($JS.API.STREAM.CREATE.<name>) must be the config's (10056), without '\' or '/' (10128);
 * a new stream can not be sealed, nor have mirror_direct without a mirror (10052). */
int js_stream_config_check_create_request(const struct js_stream_config *config,
                                          const char *subject_name, size_t subject_name_length,
                                          struct js_error *error);

/* The update handler's name check, after js_stream_config_check: 10056 on a mismatch. */
int js_stream_config_check_name(const struct js_stream_config *config, const char *subject_name,
                                size_t subject_name_length, struct js_error *error);

/* nats-server's checkStreamCfg on `config`: applies the defaults (file storage, 1 replica,
 * -1 for the unset limits, the duplicate window, subjects = [name], ...) and refuses an
 * invalid config with nats-server's error. Returns 0, or -EINVAL with `error` set; on
 * -ENOMEM (defaulting subjects) `error` is not set. */
int js_stream_config_check(struct js_stream_config *config,
                           const struct js_stream_config_check_options *options,
                           struct js_error *error);

/* A checked config with num_replicas > 1 on a server that is not clustered: 10074. */
int js_stream_config_check_replicas(const struct js_stream_config *config, bool clustered,
                                    struct js_error *error);

/* addStream's checks after the config is known good and the name free: an invalid
 * source or mirror filter subject, or transform, gets 10049 with nats-server's text. */
int js_stream_config_check_filters(const struct js_stream_config *config, struct js_error *error);

/* True when subjects `a` and `b` could both match one literal subject (nats-server's
 * SubjectsCollide, its quirks included: a token starting with '*' or '>' counts as a
 * wildcard when both sides have wildcards). Both are assumed valid. */
bool js_stream_config_subjects_collide(const char *a, const char *b);

/* True when any subject of one set collides with any of the other: the test nats-server
 * makes against every other stream of the account (10065). */
bool js_stream_config_subject_sets_overlap(const char *const *a, size_t a_count,
                                           const char *const *b, size_t b_count);

/* ---- update, equality, metadata (js_stream_config_update.c) ---------------------------- */

/* nats-server's configUpdateCheck: checks `config` (js_stream_config_check) and then what
 * an update may not change from `old` (a checked config): the name, storage type,
 * retention to or from workqueue, unsealing, cancelling deny_delete / deny_purge, the
 * mirror, disabling message TTLs or schedules, the counter setting, the persist mode;
 * replicas > 1 when not `clustered` (10074). A sealed config gets sealed's settings (no
 * max age, discard new, deny delete and purge, no rollups). 0 or -EINVAL with `error`. */
int js_stream_config_check_update(const struct js_stream_config *old,
                                  struct js_stream_config *config,
                                  const struct js_stream_config_check_options *options,
                                  bool clustered, struct js_error *error);

/* True when two checked configs are the same stream, as nats-server decides when a create
 * names an existing stream: every field, the metadata without nats-server's own keys. */
bool js_stream_config_equal(const struct js_stream_config *a, const struct js_stream_config *b);

/* nats-server's metadata keys: the API level a stream needs, the server's version and API
 * level (the last two only in replies, never stored). */
#define JS_STREAM_METADATA_REQUIRED_LEVEL "_nats.req.level"
#define JS_STREAM_METADATA_SERVER_VERSION "_nats.ver"
#define JS_STREAM_METADATA_SERVER_LEVEL "_nats.level"

/* The JetStream API level the config's features need: 0, 1 (message TTLs), 2 (counters,
 * atomic publish, schedules, async persist) or 4 (batched publish). */
int js_stream_config_api_level_required(const struct js_stream_config *config);

/* As nats-server's create handler: drops the server keys from the metadata and sets
 * _nats.req.level. 0 or -ENOMEM. */
int js_stream_config_metadata_set_static(struct js_stream_config *config);

/* ---- encode (js_stream_config_encode.c) ------------------------------------------------ */

struct js_stream_config_encode_options {
    /* when not NULL, the reply's _nats.ver and _nats.level are added to the metadata, as
     * nats-server adds them to every config it returns */
    const char *server_version;
    int server_api_level;
};

/* Appends the config as nats-server's JSON object: its field order, its omissions (empty
 * description, subjects, placement, ...), Go's string escaping. `options` may be NULL. */
void js_stream_config_encode(const struct js_stream_config *config,
                             const struct js_stream_config_encode_options *options,
                             struct go_json *json);

#endif
