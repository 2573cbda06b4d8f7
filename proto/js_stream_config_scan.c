/* The request scanner: Go's JSON syntax rules and error texts, and a jansson-ready copy of
 * each value. See js_stream_config_internal.h.
 *
 * nats-server reads API requests with Go's json.Decoder, which checks a whole value's
 * syntax before decoding it and reports the first error as
 * "invalid character 'x' <context> at offset N" (N counts the bad character's bytes), or
 * "unexpected EOF" when the body ends inside a value. The contexts, as nats-server 2.15.1
 * (Go 1.27) words them:
 *   looking for beginning of value            a value was due
 *   looking for beginning of object key string  after '{' or a ',' in an object
 *   after object key                          ':' was due
 *   after object key:value pair               ',' or '}' was due
 *   after array element                       ',' or ']' was due
 *   in numeric literal, in literal true (expecting 'r'), in string (control byte),
 *   "invalid escape sequence `\x` in string", "exceeded max depth".
 * Go accepts invalid UTF-8 in strings (as U+FFFD); jansson does not, so the copy
 * replaces it. The walk is one loop with an explicit container stack bounded by
 * JS_SCAN_DEPTH_MAX: no recursion. */
#include "proto/js_stream_config_internal.h"

#include "base/assert.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting deeper than jansson's parser allows (JSON_PARSER_MAX_DEPTH) is refused here
 * with Go's "exceeded max depth" text. Go's own limit is 10000; a config is 5 deep, and any
 * deeper value is an error either way, only worded differently between 2048 and 10000. */
enum { JS_SCAN_DEPTH_MAX = 2048 };

/* What the scanner expects next. */
enum js_scan_state {
    JS_SCAN_VALUE,        /* a value (top level, after ':' or after ',' in an array) */
    JS_SCAN_ARRAY_FIRST,  /* after '[': a value or ']' */
    JS_SCAN_OBJECT_FIRST, /* after '{': a key or '}' */
    JS_SCAN_OBJECT_KEY,   /* after ',' in an object: a key */
    JS_SCAN_COLON,        /* after a key */
    JS_SCAN_AFTER_VALUE,  /* after a value inside a container */
};

struct js_scan_walk {
    struct js_stream_scan *scan;
    struct js_error *error;
    size_t depth;
    uint8_t in_object[JS_SCAN_DEPTH_MAX / 8]; /* bit per level: object (1) or array (0) */
};

void js_stream_scan_init(struct js_stream_scan *scan, const char *body, size_t length)
{
    memset(scan, 0, sizeof *scan);
    scan->body = body;
    scan->length = length;
    /* the copy grows by at most 3 bytes per invalid byte and "<index>.5" per number of
     * at least 3 bytes: 8 times the body bounds it */
    go_json_init(&scan->value, 8 * length + 64);
}

void js_stream_scan_free(struct js_stream_scan *scan)
{
    go_json_free(&scan->value);
    free(scan->numbers);
    memset(scan, 0, sizeof *scan);
}

static bool js_scan_space(char byte)
{
    return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r';
}

static bool js_scan_digit(char byte)
{
    return byte >= '0' && byte <= '9';
}

static int js_scan_hex(char byte)
{
    if (byte >= '0' && byte <= '9') {
        return byte - '0';
    }
    if (byte >= 'a' && byte <= 'f') {
        return byte - 'a' + 10;
    }
    if (byte >= 'A' && byte <= 'F') {
        return byte - 'A' + 10;
    }
    return -1;
}

static int js_scan_eof(struct js_scan_walk *walk)
{
    js_errors_setf(walk->error, JS_ERR_INVALID_JSON, "unexpected EOF");
    return -EINVAL;
}

/* "invalid character 'c' <context> at offset N" for the rune at `at`. */
static int js_scan_bad(struct js_scan_walk *walk, size_t at, const char *context)
{
    struct js_stream_scan *scan = walk->scan;
    uint32_t rune;
    size_t size = go_json_utf8_decode(&scan->body[at], scan->length - at, &rune);
    char quoted[24];
    if (scan->body[at] == '\'') {
        snprintf(quoted, sizeof quoted, "'\\''");
    } else if (scan->body[at] == '"') {
        snprintf(quoted, sizeof quoted, "'\"'");
    } else {
        size_t length = go_json_quote_into(quoted, sizeof quoted, &scan->body[at], size);
        ASSERT(length >= 2);
        quoted[0] = '\'';
        quoted[length - 1] = '\'';
    }
    js_errors_setf(walk->error, JS_ERR_INVALID_JSON, "invalid character %s %s at offset %zu",
                   quoted, context, at + size);
    return -EINVAL;
}

static void js_scan_copy(struct js_scan_walk *walk, const char *bytes, size_t length)
{
    go_json_raw(&walk->scan->value, bytes, length);
}

/* Scans the literal true, false or null at scan->position. */
static int js_scan_literal(struct js_scan_walk *walk)
{
    struct js_stream_scan *scan = walk->scan;
    const char *word = scan->body[scan->position] == 't'   ? "true"
                       : scan->body[scan->position] == 'f' ? "false"
                                                           : "null";
    size_t length = strlen(word);
    for (size_t i = 1; i < length; i++) {
        size_t at = scan->position + i;
        if (at >= scan->length) {
            return js_scan_eof(walk);
        }
        if (scan->body[at] != word[i]) {
            char context[48];
            snprintf(context, sizeof context, "in literal %s (expecting '%c')", word, word[i]);
            return js_scan_bad(walk, at, context);
        }
    }
    js_scan_copy(walk, word, length);
    scan->position += length;
    return 0;
}

/* True when the integer literal text[0, length) (no fraction, no exponent) fits int64. */
static bool js_scan_fits_int64(const char *text, size_t length)
{
    char copy[32];
    if (length >= sizeof copy) {
        return false;
    }
    memcpy(copy, text, length);
    copy[length] = '\0';
    errno = 0;
    (void)strtoll(copy, NULL, 10);
    return errno == 0;
}

/* Records a number the copy replaces and writes "<index>.5" in its place. */
static int js_scan_number_replace(struct js_scan_walk *walk, size_t start, size_t length)
{
    struct js_stream_scan *scan = walk->scan;
    if (scan->number_count == scan->number_capacity) {
        size_t capacity = scan->number_capacity ? 2 * scan->number_capacity : 8;
        void *numbers = realloc(scan->numbers, capacity * sizeof scan->numbers[0]);
        if (numbers == NULL) {
            return -ENOMEM;
        }
        scan->numbers = numbers;
        scan->number_capacity = capacity;
    }
    scan->numbers[scan->number_count] = (struct js_stream_scan_number){start, length};
    char text[32];
    int written = snprintf(text, sizeof text, "%zu.5", scan->number_count);
    scan->number_count++;
    js_scan_copy(walk, text, (size_t)written);
    return 0;
}

/* One or more digits at *at: 0 with *at moved past them, else Go's error (the end of the
 * body, or the byte that is no digit). */
static int js_scan_digits(struct js_scan_walk *walk, size_t *at)
{
    struct js_stream_scan *scan = walk->scan;
    if (*at >= scan->length) {
        return js_scan_eof(walk);
    }
    if (!js_scan_digit(scan->body[*at])) {
        return js_scan_bad(walk, *at, "in numeric literal");
    }
    while (*at < scan->length && js_scan_digit(scan->body[*at])) {
        (*at)++;
    }
    return 0;
}

/* Scans a number at scan->position: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int js_scan_number(struct js_scan_walk *walk)
{
    struct js_stream_scan *scan = walk->scan;
    const char *body = scan->body;
    size_t start = scan->position;
    size_t at = start;
    bool integer = true;
    if (body[at] == '-') {
        at++;
    }
    /* each part: the bytes it needs, or the error; `at` moves past what matched */
    int rc = 0;
    if (at < scan->length && body[at] == '0') {
        at++;
    } else {
        rc = js_scan_digits(walk, &at);
    }
    if (rc == 0 && at < scan->length && body[at] == '.') {
        integer = false;
        at++;
        rc = js_scan_digits(walk, &at);
    }
    if (rc == 0 && at < scan->length && (body[at] == 'e' || body[at] == 'E')) {
        integer = false;
        at++;
        if (at < scan->length && (body[at] == '+' || body[at] == '-')) {
            at++;
        }
        rc = js_scan_digits(walk, &at);
    }
    if (rc != 0) {
        return rc;
    }
    scan->position = at;
    if (integer && js_scan_fits_int64(&body[start], at - start)) {
        js_scan_copy(walk, &body[start], at - start);
        return 0;
    }
    return js_scan_number_replace(walk, start, at - start);
}

/* "invalid escape sequence `\x` in string": Go shows the backslash and the next byte, or
 * six bytes for a \u escape. */
static int js_scan_bad_escape(struct js_scan_walk *walk, size_t backslash, size_t shown)
{
    struct js_stream_scan *scan = walk->scan;
    js_errors_setf(walk->error, JS_ERR_INVALID_JSON,
                   "invalid escape sequence `%.*s` in string at offset %zu", (int)shown,
                   &scan->body[backslash], backslash + shown);
    return -EINVAL;
}

/* Reads the four hex digits of a \u escape at `at` (after "\u"); -1 when one is not. */
static int32_t js_scan_hex4(const char *text)
{
    int32_t value = 0;
    for (size_t i = 0; i < 4; i++) {
        int digit = js_scan_hex(text[i]);
        if (digit < 0) {
            return -1;
        }
        value = value << 4 | digit;
    }
    return value;
}

/* Checks the escape at `at` (a backslash) and copies it, a lone surrogate as \ufffd.
 * Returns its length in the body, or a negative error. */
static int js_scan_escape(struct js_scan_walk *walk, size_t at)
{
    struct js_stream_scan *scan = walk->scan;
    const char *body = scan->body;
    if (at + 1 >= scan->length) {
        return js_scan_eof(walk);
    }
    char kind = body[at + 1];
    if (kind != 'u') {
        if (strchr("\"\\/bfnrt", kind) == NULL || kind == '\0') {
            uint32_t rune;
            size_t size = go_json_utf8_decode(&body[at + 1], scan->length - at - 1, &rune);
            return js_scan_bad_escape(walk, at, 1 + size);
        }
        js_scan_copy(walk, &body[at], 2);
        return 2;
    }
    if (at + 6 > scan->length) {
        return js_scan_eof(walk);
    }
    int32_t unit = js_scan_hex4(&body[at + 2]);
    if (unit < 0) {
        return js_scan_bad_escape(walk, at, 6);
    }
    bool high = unit >= 0xD800 && unit <= 0xDBFF;
    bool low_next = at + 12 <= scan->length && body[at + 6] == '\\' && body[at + 7] == 'u';
    int32_t next = low_next ? js_scan_hex4(&body[at + 8]) : -1;
    if (high && next >= 0xDC00 && next <= 0xDFFF) {
        js_scan_copy(walk, &body[at], 12); /* a valid pair */
        return 12;
    }
    if (unit >= 0xD800 && unit <= 0xDFFF) {
        js_scan_copy(walk, "\\ufffd", 6);
    } else {
        js_scan_copy(walk, &body[at], 6);
    }
    return 6;
}

/* Scans a string at scan->position (the opening quote). `key`: an object key, where
 * jansson refuses \u0000, so it becomes U+FFFD (the key is unknown either way). */
static int js_scan_string(struct js_scan_walk *walk, bool key)
{
    struct js_stream_scan *scan = walk->scan;
    const char *body = scan->body;
    size_t at = scan->position + 1;
    js_scan_copy(walk, "\"", 1);
    for (;;) {
        if (at >= scan->length) {
            return js_scan_eof(walk);
        }
        unsigned char byte = (unsigned char)body[at];
        if (byte == '"') {
            js_scan_copy(walk, "\"", 1);
            scan->position = at + 1;
            return 0;
        }
        if (byte < 0x20) {
            return js_scan_bad(walk, at, "in string");
        }
        if (byte == '\\') {
            if (key && at + 6 <= scan->length && memcmp(&body[at], "\\u0000", 6) == 0) {
                js_scan_copy(walk, "\\ufffd", 6);
                at += 6;
                continue;
            }
            int length = js_scan_escape(walk, at);
            if (length < 0) {
                return length;
            }
            at += (size_t)length;
            continue;
        }
        uint32_t rune;
        size_t size = go_json_utf8_decode(&body[at], scan->length - at, &rune);
        if (rune == GO_JSON_RUNE_ERROR && size == 1) {
            js_scan_copy(walk, "\xEF\xBF\xBD", 3);
        } else {
            js_scan_copy(walk, &body[at], size);
        }
        at += size;
    }
}

static void js_scan_push(struct js_scan_walk *walk, bool object)
{
    size_t level = walk->depth++;
    uint8_t bit = (uint8_t)(1u << (level % 8));
    if (object) {
        walk->in_object[level / 8] |= bit;
    } else {
        walk->in_object[level / 8] &= (uint8_t)~bit;
    }
}

static bool js_scan_top_is_object(const struct js_scan_walk *walk)
{
    ASSERT(walk->depth > 0);
    size_t level = walk->depth - 1;
    return (walk->in_object[level / 8] >> (level % 8)) & 1;
}

/* One value where JS_SCAN_VALUE or JS_SCAN_ARRAY_FIRST expects it: opens a container or
 * scans a scalar. Sets *state to what comes next. */
static int js_scan_value_start(struct js_scan_walk *walk, enum js_scan_state *state)
{
    struct js_stream_scan *scan = walk->scan;
    char byte = scan->body[scan->position];
    if (byte == '{' || byte == '[') {
        if (walk->depth == JS_SCAN_DEPTH_MAX) {
            js_errors_setf(walk->error, JS_ERR_INVALID_JSON, "exceeded max depth at offset %zu",
                           scan->position + 1);
            return -EINVAL;
        }
        js_scan_push(walk, byte == '{');
        js_scan_copy(walk, &byte, 1);
        scan->position++;
        *state = byte == '{' ? JS_SCAN_OBJECT_FIRST : JS_SCAN_ARRAY_FIRST;
        return 0;
    }
    int rc;
    if (byte == '"') {
        rc = js_scan_string(walk, false);
    } else if (byte == '-' || js_scan_digit(byte)) {
        rc = js_scan_number(walk);
    } else if (byte == 't' || byte == 'f' || byte == 'n') {
        rc = js_scan_literal(walk);
    } else {
        return js_scan_bad(walk, scan->position, "looking for beginning of value");
    }
    *state = JS_SCAN_AFTER_VALUE;
    return rc;
}

/* Closes the innermost container with `byte`. */
static void js_scan_close(struct js_scan_walk *walk, char byte, enum js_scan_state *state)
{
    js_scan_copy(walk, &byte, 1);
    walk->scan->position++;
    walk->depth--;
    *state = JS_SCAN_AFTER_VALUE;
}

/* Handles one non-blank byte in `state` (a step of the walk). */
static int js_scan_step(struct js_scan_walk *walk, enum js_scan_state *state)
{
    struct js_stream_scan *scan = walk->scan;
    char byte = scan->body[scan->position];
    switch (*state) {
    case JS_SCAN_VALUE:
        return js_scan_value_start(walk, state);
    case JS_SCAN_ARRAY_FIRST:
        if (byte == ']') {
            js_scan_close(walk, byte, state);
            return 0;
        }
        return js_scan_value_start(walk, state);
    case JS_SCAN_OBJECT_FIRST:
    case JS_SCAN_OBJECT_KEY:
        if (byte == '}' && *state == JS_SCAN_OBJECT_FIRST) {
            js_scan_close(walk, byte, state);
            return 0;
        }
        if (byte != '"') {
            return js_scan_bad(walk, scan->position, "looking for beginning of object key string");
        }
        *state = JS_SCAN_COLON;
        return js_scan_string(walk, true);
    case JS_SCAN_COLON:
        if (byte != ':') {
            return js_scan_bad(walk, scan->position, "after object key");
        }
        js_scan_copy(walk, ":", 1);
        scan->position++;
        *state = JS_SCAN_VALUE;
        return 0;
    case JS_SCAN_AFTER_VALUE: {
        bool object = js_scan_top_is_object(walk);
        if (byte == ',') {
            js_scan_copy(walk, ",", 1);
            scan->position++;
            *state = object ? JS_SCAN_OBJECT_KEY : JS_SCAN_VALUE;
            return 0;
        }
        if (byte == (object ? '}' : ']')) {
            js_scan_close(walk, byte, state);
            return 0;
        }
        return js_scan_bad(walk, scan->position,
                           object ? "after object key:value pair" : "after array element");
    }
    }
    UNREACHABLE();
}

int js_stream_scan_next(struct js_stream_scan *scan, struct js_error *error)
{
    while (scan->position < scan->length && js_scan_space(scan->body[scan->position])) {
        scan->position++;
    }
    if (scan->position == scan->length) {
        return 0;
    }
    struct js_scan_walk walk = {.scan = scan, .error = error};
    scan->value.length = 0;
    scan->value.failed = false;
    scan->value_start = scan->position;
    enum js_scan_state state = JS_SCAN_VALUE;
    /* budget: every step consumes at least one byte of the body */
    for (;;) {
        while (scan->position < scan->length && js_scan_space(scan->body[scan->position])) {
            scan->position++;
        }
        if (state == JS_SCAN_AFTER_VALUE && walk.depth == 0) {
            break;
        }
        if (scan->position == scan->length) {
            return js_scan_eof(&walk);
        }
        size_t before = scan->position;
        int rc = js_scan_step(&walk, &state);
        if (rc < 0) {
            return rc;
        }
        ASSERT(scan->position > before);
    }
    scan->value_end = scan->position;
    if (scan->value.failed) {
        return -ENOMEM;
    }
    return 1;
}
