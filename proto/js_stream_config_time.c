/* RFC 3339 times and Go durations as text, the way nats-server's Go runtime reads and
 * writes them: see js_stream_config_internal.h.
 *
 * Go's time.Time.UnmarshalJSON parses "2006-01-02T15:04:05Z07:00" strictly. On a failure
 * it reports where its layout walk stopped: 'parsing time "<input>" as
 * "2006-01-02T15:04:05Z07:00": cannot parse "<rest of input>" as "<layout element>"', or
 * 'parsing time "<input>": <field> out of range'. The layout is walked here element by
 * element in the same order, so the same element is named. Quoting in these texts is
 * Go's time package's own: every byte outside printable ASCII as \xNN. Pure functions,
 * any thread. */
#include "proto/js_stream_config_internal.h"

#include "base/assert.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char JS_TIME_LAYOUT[] = "2006-01-02T15:04:05Z07:00";

/* Fraction digits Go reads: nanoseconds; more are read and ignored. */
enum { JS_TIME_FRACTION_DIGITS = 9 };

/* Go's time.quote: double quotes, \" and \\, every byte outside ' '..'~' as \xNN. */
static size_t js_time_quote(char *target, size_t size, const char *text, size_t length)
{
    size_t used = 0;
    char piece[8];
    for (size_t i = 0; i <= length + 1; i++) {
        size_t piece_length;
        if (i == 0 || i == length + 1) {
            piece[0] = '"';
            piece_length = 1;
        } else {
            unsigned char byte = (unsigned char)text[i - 1];
            if (byte < ' ' || byte > '~') {
                piece_length = (size_t)snprintf(piece, sizeof piece, "\\x%02x", byte);
            } else if (byte == '"' || byte == '\\') {
                piece[0] = '\\';
                piece[1] = (char)byte;
                piece_length = 2;
            } else {
                piece[0] = (char)byte;
                piece_length = 1;
            }
        }
        if (used + piece_length >= size) {
            break;
        }
        memcpy(&target[used], piece, piece_length);
        used += piece_length;
    }
    target[used] = '\0';
    return used;
}

struct js_time_parse {
    const char *value; /* the whole input, for the messages */
    size_t length;
    size_t at;  /* next byte to read */
    char *text; /* the error text, when there is one */
    size_t size;
};

/* 'parsing time "<value>" as "<layout>": cannot parse "<rest>" as "<element>"' */
static int js_time_cannot(struct js_time_parse *parse, size_t rest, const char *element)
{
    char value[JS_STREAM_TIME_ERROR_SIZE / 2];
    char rest_quoted[JS_STREAM_TIME_ERROR_SIZE / 2];
    js_time_quote(value, sizeof value, parse->value, parse->length);
    js_time_quote(rest_quoted, sizeof rest_quoted, &parse->value[rest], parse->length - rest);
    snprintf(parse->text, parse->size, "parsing time %s as \"%s\": cannot parse %s as \"%s\"",
             value, JS_TIME_LAYOUT, rest_quoted, element);
    return -EINVAL;
}

/* 'parsing time "<value>"<message>' */
static int js_time_message(struct js_time_parse *parse, const char *message)
{
    char value[JS_STREAM_TIME_ERROR_SIZE / 2];
    js_time_quote(value, sizeof value, parse->value, parse->length);
    snprintf(parse->text, parse->size, "parsing time %s%s", value, message);
    return -EINVAL;
}

static bool js_time_digit_at(const struct js_time_parse *parse, size_t at)
{
    return at < parse->length && parse->value[at] >= '0' && parse->value[at] <= '9';
}

/* A literal part of the layout ("-", "T", ":"). */
static int js_time_expect(struct js_time_parse *parse, const char *literal)
{
    size_t length = strlen(literal);
    if (parse->length - parse->at < length ||
        memcmp(&parse->value[parse->at], literal, length) != 0) {
        return js_time_cannot(parse, parse->at, literal);
    }
    parse->at += length;
    return 0;
}

/* A two-digit field (Go's getnum with fixed width) into *out, or the layout error. */
static int js_time_two_digits(struct js_time_parse *parse, const char *element, int *out)
{
    if (!js_time_digit_at(parse, parse->at) || !js_time_digit_at(parse, parse->at + 1)) {
        return js_time_cannot(parse, parse->at, element);
    }
    *out = (parse->value[parse->at] - '0') * 10 + (parse->value[parse->at + 1] - '0');
    parse->at += 2;
    return 0;
}

static bool js_time_leap(int32_t year)
{
    return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

static int js_time_days_in(int month, int32_t year)
{
    static const uint8_t days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && js_time_leap(year) ? 29 : days[month - 1];
}

/* Year, month and day: "2006-01-02". */
static int js_time_parse_date(struct js_time_parse *parse, struct js_stream_time *time)
{
    for (size_t i = 0; i < 4; i++) {
        if (!js_time_digit_at(parse, parse->at + i)) {
            return js_time_cannot(parse, parse->at, "2006");
        }
    }
    time->year = 0;
    for (size_t i = 0; i < 4; i++) {
        time->year = time->year * 10 + (parse->value[parse->at + i] - '0');
    }
    parse->at += 4;
    int month;
    int day;
    int rc = js_time_expect(parse, "-");
    rc = rc ? rc : js_time_two_digits(parse, "01", &month);
    if (rc == 0 && (month < 1 || month > 12)) {
        return js_time_message(parse, ": month out of range");
    }
    rc = rc ? rc : js_time_expect(parse, "-");
    rc = rc ? rc : js_time_two_digits(parse, "02", &day);
    if (rc != 0) {
        return rc;
    }
    time->month = (uint8_t)month;
    time->day = (uint8_t)day;
    return 0;
}

/* Hour, minute, second and fraction: "T15:04:05[.999999999]". As nats-server 2.15.1 (Go
 * 1.27) parses: the hour may have one digit, the fraction may follow ',' as well as '.'. */
static int js_time_parse_clock(struct js_time_parse *parse, struct js_stream_time *time)
{
    int hour;
    int minute;
    int second;
    int rc = js_time_expect(parse, "T");
    if (rc == 0 && js_time_digit_at(parse, parse->at) && !js_time_digit_at(parse, parse->at + 1)) {
        hour = parse->value[parse->at] - '0';
        parse->at++;
    } else if (rc == 0) {
        rc = js_time_two_digits(parse, "15", &hour);
    }
    if (rc == 0 && hour > 23) {
        return js_time_message(parse, ": hour out of range");
    }
    rc = rc ? rc : js_time_expect(parse, ":");
    rc = rc ? rc : js_time_two_digits(parse, "04", &minute);
    if (rc == 0 && minute > 59) {
        return js_time_message(parse, ": minute out of range");
    }
    rc = rc ? rc : js_time_expect(parse, ":");
    rc = rc ? rc : js_time_two_digits(parse, "05", &second);
    if (rc == 0 && second > 59) {
        return js_time_message(parse, ": second out of range");
    }
    if (rc != 0) {
        return rc;
    }
    time->hour = (uint8_t)hour;
    time->minute = (uint8_t)minute;
    time->second = (uint8_t)second;
    time->nanosecond = 0;
    bool fraction = parse->at + 1 < parse->length && js_time_digit_at(parse, parse->at + 1);
    if (fraction && (parse->value[parse->at] == '.' || parse->value[parse->at] == ',')) {
        parse->at++;
        size_t digits = 0;
        while (js_time_digit_at(parse, parse->at)) {
            if (digits < JS_TIME_FRACTION_DIGITS) {
                time->nanosecond =
                    time->nanosecond * 10 + (uint32_t)(parse->value[parse->at] - '0');
            }
            digits++;
            parse->at++;
        }
        for (; digits < JS_TIME_FRACTION_DIGITS; digits++) {
            time->nanosecond *= 10;
        }
    }
    return 0;
}

/* The zone: "Z" or "+07:00" / "-07:00". Go's layout walk refuses offsets past 24 hours or
 * 60 minutes; its strict check after the walk refuses 24 and 60 too
 * (js_time_check_zone). */
static int js_time_parse_zone(struct js_time_parse *parse, struct js_stream_time *time, int *hours,
                              int *minutes)
{
    time->offset_seconds = 0;
    *hours = 0;
    *minutes = 0;
    if (parse->at < parse->length && parse->value[parse->at] == 'Z') {
        parse->at++;
        return 0;
    }
    size_t at = parse->at;
    const char *value = parse->value;
    if (parse->length - at < 6 || value[at + 3] != ':' || (value[at] != '+' && value[at] != '-') ||
        !js_time_digit_at(parse, at + 1) || !js_time_digit_at(parse, at + 2) ||
        !js_time_digit_at(parse, at + 4) || !js_time_digit_at(parse, at + 5)) {
        return js_time_cannot(parse, at, "Z07:00");
    }
    *hours = (value[at + 1] - '0') * 10 + (value[at + 2] - '0');
    *minutes = (value[at + 4] - '0') * 10 + (value[at + 5] - '0');
    if (*hours > 24) {
        return js_time_message(parse, ": time zone offset hour out of range");
    }
    if (*minutes > 60) {
        return js_time_message(parse, ": time zone offset minute out of range");
    }
    parse->at += 6;
    time->offset_seconds = (*hours * 60 + *minutes) * 60 * (value[at] == '-' ? -1 : 1);
    return 0;
}

int js_stream_time_parse(const char *value, size_t length, struct js_stream_time *time, char *text,
                         size_t size)
{
    struct js_time_parse parse = {value, length, 0, text, size};
    memset(time, 0, sizeof *time);
    int zone_hours;
    int zone_minutes;
    int rc = js_time_parse_date(&parse, time);
    rc = rc ? rc : js_time_parse_clock(&parse, time);
    rc = rc ? rc : js_time_parse_zone(&parse, time, &zone_hours, &zone_minutes);
    if (rc != 0) {
        return rc;
    }
    if (parse.at < length) {
        char extra[JS_STREAM_TIME_ERROR_SIZE / 4];
        char message[JS_STREAM_TIME_ERROR_SIZE / 3];
        js_time_quote(extra, sizeof extra, &value[parse.at], length - parse.at);
        snprintf(message, sizeof message, ": extra text: %s", extra);
        return js_time_message(&parse, message);
    }
    if (time->day < 1 || time->day > js_time_days_in(time->month, time->year)) {
        return js_time_message(&parse, ": day out of range");
    }
    if (zone_hours >= 24) {
        return js_time_message(&parse, ": timezone hour out of range");
    }
    if (zone_minutes >= 60) {
        return js_time_message(&parse, ": timezone minute out of range");
    }
    return 0;
}

void js_stream_time_format(const struct js_stream_time *time, char *text, size_t size)
{
    char fraction[16] = ""; /* ".999999999" and room the compiler can prove */
    if (time->nanosecond != 0) {
        snprintf(fraction, sizeof fraction, ".%09" PRIu32, time->nanosecond);
        size_t length = strlen(fraction);
        while (length > 1 && fraction[length - 1] == '0') {
            fraction[--length] = '\0';
        }
    }
    char zone[16] = "Z";
    if (time->offset_seconds != 0) {
        int32_t minutes = time->offset_seconds / 60;
        char sign = minutes < 0 ? '-' : '+';
        minutes = minutes < 0 ? -minutes : minutes;
        snprintf(zone, sizeof zone, "%c%02" PRId32 ":%02" PRId32, sign, minutes / 60, minutes % 60);
    }
    snprintf(text, size, "%04" PRId32 "-%02u-%02uT%02u:%02u:%02u%s%s", time->year, time->month,
             time->day, time->hour, time->minute, time->second, fraction, zone);
}

/* Days from 1970-01-01 to the civil date (Howard Hinnant's days_from_civil). */
static int64_t js_time_days_from_civil(int64_t year, int month, int day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

int64_t js_stream_time_unix_seconds(const struct js_stream_time *time)
{
    int64_t days = js_time_days_from_civil(time->year, time->month, time->day);
    return days * 86400 + time->hour * 3600 + time->minute * 60 + time->second -
           time->offset_seconds;
}

int64_t js_stream_time_unix_ns(const struct js_stream_time *time)
{
    return js_stream_time_unix_seconds(time) * JS_STREAM_NS_PER_SECOND + time->nanosecond;
}

/* Writes value / 10^digits with the fraction's trailing zeros (and a bare '.') dropped,
 * as Go's fmtFrac and fmtInt do together. */
static void js_duration_fraction(uint64_t value, int digits, char *text, size_t size)
{
    uint64_t scale = 1;
    for (int i = 0; i < digits; i++) {
        scale *= 10;
    }
    char fraction[24] = "";
    uint64_t rest = value % scale;
    if (rest != 0) {
        snprintf(fraction, sizeof fraction, ".%0*" PRIu64, digits, rest);
        size_t length = strlen(fraction);
        while (length > 1 && fraction[length - 1] == '0') {
            fraction[--length] = '\0';
        }
    }
    snprintf(text, size, "%" PRIu64 "%s", value / scale, fraction);
}

void js_stream_duration_format(int64_t ns, char *text, size_t size)
{
    bool negative = ns < 0;
    uint64_t value = negative ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    const char *sign = negative ? "-" : "";
    char number[32];
    if (value == 0) {
        snprintf(text, size, "0s");
    } else if (value < 1000) {
        snprintf(text, size, "%s%" PRIu64 "ns", sign, value);
    } else if (value < 1000000) {
        js_duration_fraction(value, 3, number, sizeof number);
        snprintf(text, size, "%s%s\xC2\xB5s", sign, number); /* U+00B5, as Go writes it */
    } else if (value < (uint64_t)JS_STREAM_NS_PER_SECOND) {
        js_duration_fraction(value, 6, number, sizeof number);
        snprintf(text, size, "%s%sms", sign, number);
    } else {
        uint64_t seconds_ns = value % (60 * (uint64_t)JS_STREAM_NS_PER_SECOND);
        uint64_t minutes = value / (60 * (uint64_t)JS_STREAM_NS_PER_SECOND);
        js_duration_fraction(seconds_ns, 9, number, sizeof number);
        if (minutes >= 60) {
            snprintf(text, size, "%s%" PRIu64 "h%" PRIu64 "m%ss", sign, minutes / 60, minutes % 60,
                     number);
        } else if (minutes > 0) {
            snprintf(text, size, "%s%" PRIu64 "m%ss", sign, minutes, number);
        } else {
            snprintf(text, size, "%s%ss", sign, number);
        }
    }
}
