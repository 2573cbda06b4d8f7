/* What the js_stream_config_*.c files share, with the js_consumer_config_*.c files that
 * decode and check a consumer's config the same way, and nobody else uses: Go's subject
 * rules as nats-server applies them to configs, subject transform validation, RFC 3339
 * times and Go durations as text, the request scanner and the value decoder. Pure
 * functions, any thread. */
#ifndef IONATS_PROTO_JS_STREAM_CONFIG_INTERNAL_H
#define IONATS_PROTO_JS_STREAM_CONFIG_INTERNAL_H

#include "proto/js_errors.h"
#include "proto/js_stream_config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "" for a NULL string, as Go sees an absent one. */
static inline const char *js_stream_text(const char *text)
{
    return text != NULL ? text : "";
}

/* ---- refusals (js_stream_config_check.c) ------------------------------------------------ */

/* Each fills `error` and returns -EINVAL, so a check refuses with `return js_stream_...`:
 * 10052 with the printf-formatted text as its description; `id`, whose template has no
 * placeholder; `id`, whose one placeholder takes the printf-formatted text. */
int js_stream_invalid(struct js_error *error, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
int js_stream_fail(struct js_error *error, enum js_error_id id);
int js_stream_failf(struct js_error *error, enum js_error_id id, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* nats-server's discard-new-per-subject rule, which checkStreamCfg and configUpdateCheck
 * both apply in their places: it needs discard new and a max msgs per subject. */
int js_stream_check_discard_new_per_subject(const struct js_stream_config *config,
                                            struct js_error *error);

/* ---- subjects as nats-server checks them (js_stream_config_subject.c) ------------------ */

/* nats-server's IsValidSubject: not empty, no empty token, no ' ', '\t', '\n', '\r', '\f',
 * nothing after a ">" token. (proto/subject.h accepts '\f'; nats-server's config check
 * does not, so configs use this one.) */
bool js_stream_subject_valid(const char *subject);

/* nats-server's subjectIsLiteral: no token is exactly "*" or ">". */
bool js_stream_subject_literal(const char *subject);

/* nats-server's subjectIsSubsetMatch: every subject `subject` matches is matched by
 * `test`. */
bool js_stream_subject_subset(const char *subject, const char *test);

/* The room an error text from a transform check of config subjects needs (the longest holds
 * the destination's longest token once). */
enum { JS_STREAM_TRANSFORM_ERROR_SIZE = 3 * JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX };

/* nats-server's NewSubjectTransform(source, destination) as a check (`validate_mapping`
 * false), or its ValidateMapping (true), which first checks each destination token.
 * Returns 0, or -EINVAL with Go's error text in `text`. An empty destination is fine. The
 * parser is subject_transform_check's (proto/subject_transform.h), which the runtime compiles
 * transforms with. */
int js_stream_transform_check(const char *source, const char *destination, bool validate_mapping,
                              char *text, size_t size);

/* ---- times and durations (js_stream_config_time.c) ------------------------------------ */

/* Room for a time as RFC 3339 with nanoseconds: "2006-01-02T15:04:05.999999999-07:00". */
enum { JS_STREAM_TIME_TEXT_SIZE = 40 };

/* Seconds since the Unix epoch of `time`, for any year it can hold (0..9999). */
int64_t js_stream_time_unix_seconds(const struct js_stream_time *time);

/* Room for any duration as Go prints it ("-2562047h47m16.854775808s"). */
enum { JS_STREAM_DURATION_TEXT_SIZE = 32 };

/* Writes `ns` as Go's time.Duration.String does: "2m0s", "1.5s", "100ms". */
void js_stream_duration_format(int64_t ns, char *text, size_t size);

/* ---- request scanning (js_stream_config_scan.c) --------------------------------------- */

/* Walks a request body one top-level JSON value at a time, as Go's json.Decoder does,
 * reporting syntax errors with Go's text and offset. Each value comes out as a copy that
 * jansson accepts and decodes to what Go would see: invalid UTF-8 and lone surrogate
 * escapes become U+FFFD, and every number that is not an integer within int64 is
 * replaced by "<index>.5", its source text kept in `numbers[index]`, so the decoder can
 * give Go's "cannot unmarshal number 1.5e3 ..." and read uint64 values exactly. */
struct js_stream_scan {
    const char *body; /* borrowed for the scan's life */
    size_t length;
    size_t position;      /* next byte of `body` to scan */
    struct go_json value; /* the copy of the value last scanned */
    size_t value_start;   /* where that value starts in `body` */
    size_t value_end;     /* and where it ends */
    struct js_stream_scan_number {
        size_t start; /* offset in `body` */
        size_t length;
    } * numbers; /* owned; each replaced number's source text */
    size_t number_count;
    size_t number_capacity;
};

void js_stream_scan_init(struct js_stream_scan *scan, const char *body, size_t length);
void js_stream_scan_free(struct js_stream_scan *scan);

/* Scans the next value. 1: a value is in scan->value; 0: only whitespace was left;
 * -EINVAL: `error` holds 10025 with Go's syntax error; -ENOMEM. */
int js_stream_scan_next(struct js_stream_scan *scan, struct js_error *error);

/* ---- decoding values into fields (js_stream_config_value.c) ---------------------------- */

/* The kinds of field a stream config request has, each with Go's type name for it. */
enum js_stream_field_kind {
    JS_F_STRING,  /* char *, any length */
    JS_F_SUBJECT, /* char *, at most JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX bytes */
    JS_F_INT,     /* int64_t, Go int */
    JS_F_INT64,
    JS_F_INT32,    /* int32_t */
    JS_F_UINT64,   /* uint64_t */
    JS_F_DURATION, /* int64_t nanoseconds, Go time.Duration */
    JS_F_BOOL,
    JS_F_RETENTION,
    JS_F_DISCARD,
    JS_F_STORAGE,
    JS_F_COMPRESSION,
    JS_F_PERSIST,
    JS_F_TIME,     /* struct js_stream_time; `present` is its bool */
    JS_F_SUBJECTS, /* char ** and a size_t count (`present`), [] of JS_F_SUBJECT */
    JS_F_TAGS,     /* char ** and a size_t count (`present`), [] of JS_F_STRING */
    JS_F_METADATA,
    /* structs, decoded by their owner's function */
    JS_F_PLACEMENT,
    JS_F_MIRROR,
    JS_F_SOURCES,
    JS_F_TRANSFORM,
    JS_F_TRANSFORMS,
    JS_F_REPUBLISH,
    JS_F_CONSUMER_LIMITS,
    JS_F_EXTERNAL,
    JS_F_SOURCE_CONSUMER,
    /* a consumer request's own, decoded by js_consumer_config_parse.c */
    JS_F_CONSUMER_CONFIG,
    JS_F_DELIVER_POLICY,
    JS_F_ACK_POLICY,
    JS_F_REPLAY_POLICY,
    JS_F_PRIORITY_POLICY,
    JS_F_ACTION,
    JS_F_DURATIONS, /* int64_t * and a size_t count (`present`), []time.Duration */
};

struct js_stream_field {
    const char *name; /* the JSON key, as nats-server's struct tag names it */
    enum js_stream_field_kind kind;
    size_t offset;  /* of the value in its struct */
    size_t present; /* of its bool "has" flag or size_t count, when it has one */
};

/* Deepest path in the schema: sources.N.subject_transforms.N.dest, with room to spare. */
enum { JS_DECODE_PATH_MAX = 8 };

/* The decoder's state: where it is (for messages) and what the scanner replaced. */
struct js_stream_decode {
    const struct js_stream_scan *scan;
    struct js_error *error;
    /* the Go type the request decodes into, first in every path of a message
     * ("CreateConsumerRequest"); NULL for a stream request ("StreamConfigRequest") */
    const char *root;
    struct {
        const char *name; /* a field name or map key, or NULL for an array index */
        size_t index;
        bool in_array; /* this element's container is an array */
    } path[JS_DECODE_PATH_MAX];
    size_t depth;
};

void js_stream_value_push(struct js_stream_decode *decode, const char *name, size_t index,
                          bool in_array);
void js_stream_value_pop(struct js_stream_decode *decode);

/* Go's "json: cannot unmarshal <kind> into ..." for `value` at the current path; with
 * `with_number`, a number is named with its text ("number 1.5"). Returns -EINVAL. */
int js_stream_value_type_error(struct js_stream_decode *decode, const json_t *value,
                               const char *type, bool with_number);

/* Go's "json: unknown field \"key\"". Returns -EINVAL. */
int js_stream_value_unknown(struct js_stream_decode *decode, const char *key, size_t length);

/* The text of `value` as the client sent it, as Go's %v of the raw bytes prints it (a number
 * as written, anything else re-encoded compactly), into `text` (cut to `size`). 0 or
 * -ENOMEM. */
int js_stream_value_raw(struct js_stream_decode *decode, const json_t *value, char *text,
                        size_t size);

/* nats-server's enum decoders' refusal, `can not unmarshal %q` of the raw value (10025).
 * Returns -EINVAL. */
int js_stream_value_enum_error(struct js_stream_decode *decode, const json_t *value);

/* An ionats bound passed (10052). Returns -EINVAL. */
int js_stream_value_bound(struct js_stream_decode *decode, const char *what, size_t max);

/* The field of `fields` (ended by a NULL name) a key names: exactly, else ignoring ASCII
 * case, as Go matches. NULL when none does. */
const struct js_stream_field *js_stream_value_field_find(const struct js_stream_field *fields,
                                                         const char *key);

/* Decodes `value` into the field of a scalar kind (not a struct) at base + offset. */
int js_stream_value_scalar(struct js_stream_decode *decode, const json_t *value,
                           const struct js_stream_field *field, char *base);

/* Decodes the metadata map into `config` (null empties it, members are added). */
int js_stream_value_metadata(struct js_stream_decode *decode, const json_t *value,
                             struct js_stream_config *config);

/* The same into any sorted metadata array and its count (a consumer's). */
int js_stream_value_metadata_into(struct js_stream_decode *decode, const json_t *value,
                                  struct js_stream_metadata_entry **entries, size_t *count);

/* Inserts or replaces key -> value (both owned strings, taken in every case) in a metadata
 * array kept sorted by key. 0; -E2BIG past JS_STREAM_CONFIG_METADATA_ENTRIES_MAX entries;
 * -ENOMEM. */
int js_stream_value_metadata_put(struct js_stream_metadata_entry **entries, size_t *count,
                                 char *key, char *value);

void js_stream_value_free_strings(char **strings, size_t count);
void js_stream_value_free_metadata(struct js_stream_metadata_entry *entries, size_t count);

#endif
