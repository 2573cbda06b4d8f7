/* What the js_stream_config_*.c files share and nobody else uses: Go's subject rules as
 * nats-server applies them to configs, subject transform validation, RFC 3339 times and
 * Go durations as text, and the request scanner. Pure functions, any thread. */
#ifndef IONATS_PROTO_JS_STREAM_CONFIG_INTERNAL_H
#define IONATS_PROTO_JS_STREAM_CONFIG_INTERNAL_H

#include "proto/js_errors.h"
#include "proto/js_stream_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "" for a NULL string, as Go sees an absent one. */
static inline const char *js_stream_text(const char *text)
{
    return text != NULL ? text : "";
}

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

/* The room an error text from a transform check needs. */
enum { JS_STREAM_TRANSFORM_ERROR_SIZE = 3 * JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX };

/* nats-server's NewSubjectTransform(source, destination) as a check (`validate_mapping`
 * false), or its ValidateMapping (true), which first checks each destination token.
 * Returns 0, or -EINVAL with Go's error text in `text`. An empty destination is fine. */
int js_stream_transform_check(const char *source, const char *destination,
                              bool validate_mapping, char *text, size_t size);

/* ---- times and durations (js_stream_config_time.c) ------------------------------------ */

/* Room for a Go time parse error: it quotes the input (each byte up to 4 times) twice. */
enum { JS_STREAM_TIME_ERROR_SIZE = 1024 };

/* Parses an RFC 3339 time as Go's time.Time.UnmarshalJSON does (strict: 'T' and 'Z'
 * upper case, two-digit fields, '.' before fractions, offsets as +hh:mm). Returns 0, or
 * -EINVAL with Go's error text in `text`. */
int js_stream_time_parse(const char *value, size_t length, struct js_stream_time *time,
                         char *text, size_t size);

/* Room for a time as RFC 3339 with nanoseconds: "2006-01-02T15:04:05.999999999-07:00". */
enum { JS_STREAM_TIME_TEXT_SIZE = 40 };

/* Writes `time` as Go's MarshalJSON does (RFC 3339, trailing fraction zeros dropped, "Z"
 * for a zero offset), without quotes. */
void js_stream_time_format(const struct js_stream_time *time, char *text, size_t size);

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
    const char *body;     /* borrowed for the scan's life */
    size_t length;
    size_t position;      /* next byte of `body` to scan */
    struct js_errors_json value; /* the copy of the value last scanned */
    size_t value_start;   /* where that value starts in `body` */
    size_t value_end;     /* and where it ends */
    struct js_stream_scan_number {
        size_t start; /* offset in `body` */
        size_t length;
    } *numbers;           /* owned; each replaced number's source text */
    size_t number_count;
    size_t number_capacity;
};

void js_stream_scan_init(struct js_stream_scan *scan, const char *body, size_t length);
void js_stream_scan_free(struct js_stream_scan *scan);

/* Scans the next value. 1: a value is in scan->value; 0: only whitespace was left;
 * -EINVAL: `error` holds 10025 with Go's syntax error; -ENOMEM. */
int js_stream_scan_next(struct js_stream_scan *scan, struct js_error *error);

#endif
