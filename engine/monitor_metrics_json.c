/* A reader of the compact JSON ionats's own monitoring writers produce (go_json), for
 * /metrics (monitor_metrics_exporter.c): a value is a span of the text; an object's members
 * and an array's elements are walked with an iterator that skips each value by counting
 * brackets, so nothing is decoded that is not asked for and no tree is built.
 *
 * Everything read is bounded by the text's length; brackets nested past JSON_DEPTH_MAX
 * (ionats's pages go 6 deep) read as malformed, and a walk ends where the text stops
 * making sense. Pure functions: any thread; the text is the caller's. */
#include "engine/monitor_metrics.h"

#include "base/assert.h"
#include "base/clock.h"

#include <string.h>

/* Brackets open at once in a value skipped whole: /jsz's deepest is 6. */
enum { JSON_DEPTH_MAX = 32 };

static const char *space_skip(const char *at, const char *end)
{
    while (at < end && (*at == ' ' || *at == '\t' || *at == '\n' || *at == '\r')) {
        at++;
    }
    return at;
}

/* Past the closing quote of the string that starts at `at`, or NULL. */
static const char *string_end(const char *at, const char *end)
{
    ASSERT(at < end && *at == '"');
    for (at++; at < end; at++) {
        if (*at == '\\') {
            at++; /* the escaped byte; \uXXXX's digits need no care */
        } else if (*at == '"') {
            return at + 1;
        }
    }
    return NULL;
}

/* Past the value that starts at `at`, or NULL when it is malformed or too deep. */
static const char *value_end(const char *at, const char *end)
{
    if (at >= end) {
        return NULL;
    }
    if (*at == '"') {
        return string_end(at, end);
    }
    if (*at != '{' && *at != '[') {
        const char *start = at;
        while (at < end && strchr(",:]} \t\n\r\"{[", *at) == NULL) {
            at++;
        }
        return at > start ? at : NULL;
    }
    int depth = 0;
    while (at < end) {
        if (*at == '"') {
            at = string_end(at, end);
            if (at == NULL) {
                return NULL;
            }
            continue;
        }
        if (*at == '{' || *at == '[') {
            if (++depth > JSON_DEPTH_MAX) {
                return NULL;
            }
        } else if (*at == '}' || *at == ']') {
            if (--depth == 0) {
                return at + 1;
            }
        }
        at++;
    }
    return NULL;
}

/* Walks `value` if it is an object (`object`) or an array; false otherwise. */
bool monitor_metrics_json_open(struct monitor_metrics_json value, bool object,
                               struct monitor_metrics_json_iter *iter)
{
    if (value.at == NULL || value.end - value.at < 2 || value.at[0] != (object ? '{' : '[')) {
        return false;
    }
    *iter = (struct monitor_metrics_json_iter){
        .at = value.at + 1, .end = value.end - 1, .object = object, .first = true};
    return true;
}

/* The next member (its key's inside in *key) or element; false at the end, or where the
 * text stops making sense (then the walk ends there). */
bool monitor_metrics_json_next(struct monitor_metrics_json_iter *iter,
                               struct monitor_metrics_json *key, struct monitor_metrics_json *value)
{
    const char *at = space_skip(iter->at, iter->end);
    if (at >= iter->end) {
        return false;
    }
    if (!iter->first) {
        if (*at != ',') {
            return false;
        }
        at = space_skip(at + 1, iter->end);
    }
    if (iter->object) {
        if (at >= iter->end || *at != '"') {
            return false;
        }
        const char *key_end = string_end(at, iter->end);
        if (key_end == NULL) {
            return false;
        }
        *key = (struct monitor_metrics_json){at + 1, key_end - 1};
        at = space_skip(key_end, iter->end);
        if (at >= iter->end || *at != ':') {
            return false;
        }
        at = space_skip(at + 1, iter->end);
    }
    const char *end = value_end(at, iter->end);
    if (end == NULL) {
        return false;
    }
    *value = (struct monitor_metrics_json){at, end};
    iter->at = end;
    iter->first = false;
    return true;
}

bool monitor_metrics_json_key_is(struct monitor_metrics_json key, const char *name)
{
    size_t length = strlen(name);
    return (size_t)(key.end - key.at) == length && memcmp(key.at, name, length) == 0;
}

/* The member `name` of `object`; absent (at NULL) when there is none. */
struct monitor_metrics_json monitor_metrics_json_member(struct monitor_metrics_json object,
                                                        const char *name)
{
    struct monitor_metrics_json_iter iter;
    struct monitor_metrics_json key;
    struct monitor_metrics_json value;
    if (monitor_metrics_json_open(object, true, &iter)) {
        while (monitor_metrics_json_next(&iter, &key, &value)) {
            if (monitor_metrics_json_key_is(key, name)) {
                return value;
            }
        }
    }
    return (struct monitor_metrics_json){NULL, NULL};
}

bool monitor_metrics_json_is_number(struct monitor_metrics_json value)
{
    return value.at != NULL && (*value.at == '-' || (*value.at >= '0' && *value.at <= '9'));
}

/* A string's inside; absent when `value` is not a string. */
struct monitor_metrics_json monitor_metrics_json_string(struct monitor_metrics_json value)
{
    if (value.at == NULL || value.end - value.at < 2 || *value.at != '"') {
        return (struct monitor_metrics_json){NULL, NULL};
    }
    return (struct monitor_metrics_json){value.at + 1, value.end - 1};
}

/* `count` digits at *at as a number; false unless they are all digits. */
static bool digits(const char **at, const char *end, int count, int64_t *value)
{
    *value = 0;
    for (int i = 0; i < count; i++) {
        if (*at >= end || **at < '0' || **at > '9') {
            return false;
        }
        *value = *value * 10 + (**at - '0');
        (*at)++;
    }
    return true;
}

/* Days from 1970-01-01 to the date (proleptic Gregorian; Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t year, int64_t month, int64_t day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* An RFC 3339 time (a JSON string's inside, as Go writes time.Time) in nanoseconds since
 * the epoch: "2026-12-07T10:11:39.998153781Z", or with "+hh:mm" / "-hh:mm". */
bool monitor_metrics_json_time_ns(struct monitor_metrics_json text, int64_t *ns)
{
    const char *at = text.at;
    const char *end = text.end;
    int64_t year, month, day, hour, minute, second;
    if (at == NULL || !digits(&at, end, 4, &year) || at >= end || *at++ != '-' ||
        !digits(&at, end, 2, &month) || at >= end || *at++ != '-' || !digits(&at, end, 2, &day) ||
        at >= end || *at++ != 'T' || !digits(&at, end, 2, &hour) || at >= end || *at++ != ':' ||
        !digits(&at, end, 2, &minute) || at >= end || *at++ != ':' ||
        !digits(&at, end, 2, &second) || month < 1 || month > 12 || day < 1 || day > 31) {
        return false;
    }
    int64_t fraction = 0;
    if (at < end && *at == '.') {
        int64_t scale = NS_PER_SEC;
        for (at++; at < end && *at >= '0' && *at <= '9'; at++) {
            scale /= 10; /* digits past nanoseconds add nothing */
            fraction += (*at - '0') * scale;
        }
    }
    int64_t offset_s = 0;
    if (at < end && (*at == '+' || *at == '-')) {
        int64_t sign = *at++ == '-' ? -1 : 1;
        int64_t offset_hour, offset_minute;
        if (!digits(&at, end, 2, &offset_hour) || at >= end || *at++ != ':' ||
            !digits(&at, end, 2, &offset_minute)) {
            return false;
        }
        offset_s = sign * (offset_hour * 3600 + offset_minute * 60);
    } else if (at >= end || *at++ != 'Z') {
        return false;
    }
    if (at != end) {
        return false;
    }
    int64_t seconds =
        days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
    *ns = seconds * NS_PER_SEC + fraction;
    return true;
}
