/* Values as nats-server's Go writes them in its monitoring JSON: times (encoding/json's
 * time.Time), its uptime strings, float64s, and json.MarshalIndent's layout. See
 * monitor_internal.h. Pure functions over the caller's writer; any thread. */
#include "engine/monitor_internal.h"

#include "base/assert.h"
#include "base/clock.h"
#include "engine/server.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Digits a float64 needs at most to read back the same (DBL_DECIMAL_DIG). */
enum { FLOAT_DIGITS_MAX = 17 };
/* Go's encoding/json writes a float64 in %e form below 1e-6 and from 1e21. */
#define FLOAT_FIXED_MIN 1e-6
#define FLOAT_FIXED_MAX 1e21
/* The indentation of one level, as nats-server asks MarshalIndent for. */
static const char INDENT[] = "  ";

void monitor_json_time(struct go_json *json, int64_t realtime_ns)
{
    int64_t seconds = realtime_ns / NS_PER_SEC;
    int64_t nanos = realtime_ns % NS_PER_SEC;
    if (nanos < 0) {
        nanos += NS_PER_SEC;
        seconds--;
    }
    time_t t = (time_t)seconds;
    struct tm utc;
    gmtime_r(&t, &utc);
    char text[64];
    int length = snprintf(text, sizeof text, "\"%04d-%02d-%02dT%02d:%02d:%02d",
                          utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                          utc.tm_min, utc.tm_sec);
    ASSERT(length > 0 && (size_t)length < sizeof text - 16);
    if (nanos != 0) {
        char fraction[16];
        snprintf(fraction, sizeof fraction, ".%09lld", (long long)nanos);
        size_t used = strlen(fraction);
        while (used > 1 && fraction[used - 1] == '0') {
            fraction[--used] = '\0'; /* RFC3339Nano drops trailing zeros */
        }
        memcpy(text + length, fraction, used);
        length += (int)used;
    }
    memcpy(text + length, "Z\"", 2);
    go_json_raw(json, text, (size_t)length + 2);
}

int64_t monitor_realtime_ns(const struct server *server, int64_t monotonic_ns)
{
    return server->start_realtime_ns + (monotonic_ns - server->start_monotonic_ns);
}

void monitor_json_uptime(struct go_json *json, int64_t duration_ns)
{
    enum { MINUTE = 60, HOUR = 60 * MINUTE, DAY = 24 * HOUR, YEAR = 365 * DAY };
    int64_t total = duration_ns > 0 ? duration_ns / NS_PER_SEC : 0;
    long long years = total / YEAR;
    long long days = total % YEAR / DAY;
    long long hours = total % DAY / HOUR;
    long long minutes = total % HOUR / MINUTE;
    long long seconds = total % MINUTE;
    char text[96];
    if (years > 0) {
        snprintf(text, sizeof text, "\"%lldy%lldd%lldh%lldm%llds\"", years, days, hours,
                 minutes, seconds);
    } else if (days > 0) {
        snprintf(text, sizeof text, "\"%lldd%lldh%lldm%llds\"", days, hours, minutes, seconds);
    } else if (hours > 0) {
        snprintf(text, sizeof text, "\"%lldh%lldm%llds\"", hours, minutes, seconds);
    } else if (minutes > 0) {
        snprintf(text, sizeof text, "\"%lldm%llds\"", minutes, seconds);
    } else {
        snprintf(text, sizeof text, "\"%llds\"", seconds);
    }
    go_json_literal(json, text);
}

void monitor_json_float(struct go_json *json, double value)
{
    if (!isfinite(value)) {
        go_json_literal(json, "0"); /* encoding/json refuses these; nothing here makes one */
        return;
    }
    double magnitude = fabs(value);
    bool fixed = magnitude == 0 || (magnitude >= FLOAT_FIXED_MIN && magnitude < FLOAT_FIXED_MAX);
    /* %f counts digits after the point: from 1e-6 up, 6 zeros and 17 significant digits
     * are the most any value needs; %e counts significant digits */
    int precision_max = fixed ? FLOAT_DIGITS_MAX + 6 : FLOAT_DIGITS_MAX;
    char text[64];
    for (int precision = 0; precision <= precision_max; precision++) {
        snprintf(text, sizeof text, fixed ? "%.*f" : "%.*e", precision, value);
        if (strtod(text, NULL) == value) {
            break; /* the shortest that reads back the same */
        }
    }
    go_json_literal(json, text);
}

/* Appends a newline and `depth` levels of indentation. */
static void indent_line(struct go_json *out, int depth)
{
    go_json_raw(out, "\n", 1);
    for (int i = 0; i < depth; i++) {
        go_json_raw(out, INDENT, sizeof INDENT - 1);
    }
}

void monitor_json_indent(const char *compact, size_t length, struct go_json *out)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < length; i++) {
        char c = compact[i];
        if (in_string) {
            go_json_raw(out, &c, 1);
            if (c == '\\' && i + 1 < length) {
                go_json_raw(out, &compact[++i], 1);
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        switch (c) {
        case '"':
            in_string = true;
            go_json_raw(out, &c, 1);
            break;
        case '{':
        case '[':
            if (i + 1 < length && (compact[i + 1] == '}' || compact[i + 1] == ']')) {
                go_json_raw(out, &compact[i], 2); /* {} and [] stay as they are */
                i++;
                break;
            }
            go_json_raw(out, &c, 1);
            indent_line(out, ++depth);
            break;
        case '}':
        case ']':
            indent_line(out, --depth);
            go_json_raw(out, &c, 1);
            break;
        case ',':
            go_json_raw(out, &c, 1);
            indent_line(out, depth);
            break;
        case ':':
            go_json_raw(out, ": ", 2);
            break;
        default:
            go_json_raw(out, &c, 1);
            break;
        }
    }
}
