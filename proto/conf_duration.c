/* Go's time.ParseDuration, for configuration values nats-server reads with it
 * (ping_interval: "2m", write_deadline: "10s", jetstream's sync_interval: "1m30s").
 *
 * A duration is an optional sign, then one or more decimal numbers (with an optional
 * fraction), each followed by a unit: ns, us (µs, μs), ms, s, m, h. "0" needs no unit.
 * The arithmetic is Go's, in unsigned 64 bits with the same overflow checks, so the same
 * texts are accepted and give the same nanoseconds; errors carry Go's messages. Pure. */
#include "proto/conf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* 1 << 63: the magnitude of the most negative duration. */
#define DURATION_MAGNITUDE_MAX (1ULL << 63)

static bool is_decimal(char c)
{
    return c >= '0' && c <= '9';
}

/* Go's leadingInt: the digits at *text. False on overflow past 1 << 63. */
static bool leading_int(const char **text, const char *end, uint64_t *value)
{
    uint64_t x = 0;
    const char *s = *text;
    for (; s < end && is_decimal(*s); s++) {
        if (x > DURATION_MAGNITUDE_MAX / 10) {
            return false;
        }
        x = x * 10 + (uint64_t)(*s - '0');
        if (x > DURATION_MAGNITUDE_MAX) {
            return false;
        }
    }
    *text = s;
    *value = x;
    return true;
}

/* Go's leadingFraction: the digits after '.', as a value and its scale; digits past what
 * fits are read and dropped. */
static void leading_fraction(const char **text, const char *end, uint64_t *value, double *scale)
{
    uint64_t x = 0;
    double multiple = 1;
    bool overflow = false;
    const char *s = *text;
    for (; s < end && is_decimal(*s); s++) {
        if (overflow) {
            continue;
        }
        if (x > (DURATION_MAGNITUDE_MAX - 1) / 10) {
            overflow = true;
            continue;
        }
        uint64_t y = x * 10 + (uint64_t)(*s - '0');
        if (y > DURATION_MAGNITUDE_MAX) {
            overflow = true;
            continue;
        }
        x = y;
        multiple *= 10;
    }
    *text = s;
    *value = x;
    *scale = multiple;
}

/* The nanoseconds of the unit `unit` (`length` bytes), or 0 when Go has no such unit. */
static uint64_t unit_ns(const char *unit, size_t length)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1ULL},
        {"us", 1000ULL},
        {"\xC2\xB5s", 1000ULL}, /* U+00B5 micro sign */
        {"\xCE\xBCs", 1000ULL}, /* U+03BC Greek small letter mu */
        {"ms", 1000000ULL},
        {"s", 1000000000ULL},
        {"m", 60ULL * 1000000000ULL},
        {"h", 3600ULL * 1000000000ULL},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strlen(units[i].name) == length && memcmp(units[i].name, unit, length) == 0) {
            return units[i].ns;
        }
    }
    return 0;
}

static int duration_invalid(const char *text, char *reason, size_t reason_size)
{
    snprintf(reason, reason_size, "time: invalid duration \"%s\"", text);
    return -EINVAL;
}

/* One number and its unit at *s, added to *total. 0 or -EINVAL with Go's reason. */
static int duration_term(const char **s, const char *end, const char *text, uint64_t *total,
                         char *reason, size_t reason_size)
{
    if (!(**s == '.' || is_decimal(**s))) {
        return duration_invalid(text, reason, reason_size);
    }
    const char *before = *s;
    uint64_t value = 0;
    if (!leading_int(s, end, &value)) {
        return duration_invalid(text, reason, reason_size);
    }
    bool pre = *s != before;
    uint64_t fraction = 0;
    double scale = 1;
    bool post = false;
    if (*s < end && **s == '.') {
        (*s)++;
        before = *s;
        leading_fraction(s, end, &fraction, &scale);
        post = *s != before;
    }
    if (!pre && !post) {
        return duration_invalid(text, reason, reason_size); /* "." alone */
    }
    const char *unit = *s;
    while (*s < end && !(**s == '.' || is_decimal(**s))) {
        (*s)++;
    }
    if (*s == unit) {
        snprintf(reason, reason_size, "time: missing unit in duration \"%s\"", text);
        return -EINVAL;
    }
    uint64_t ns = unit_ns(unit, (size_t)(*s - unit));
    if (ns == 0) {
        snprintf(reason, reason_size, "time: unknown unit \"%.*s\" in duration \"%s\"",
                 (int)(*s - unit), unit, text);
        return -EINVAL;
    }
    if (value > DURATION_MAGNITUDE_MAX / ns) {
        return duration_invalid(text, reason, reason_size);
    }
    value *= ns;
    if (fraction > 0) {
        value += (uint64_t)((double)fraction * ((double)ns / scale));
        if (value > DURATION_MAGNITUDE_MAX) {
            return duration_invalid(text, reason, reason_size);
        }
    }
    *total += value;
    if (*total > DURATION_MAGNITUDE_MAX) {
        return duration_invalid(text, reason, reason_size);
    }
    return 0;
}

int conf_duration_parse(const char *text, int64_t *ns, char *reason, size_t reason_size)
{
    const char *s = text;
    const char *end = text + strlen(text);
    bool negative = false;
    if (s < end && (*s == '-' || *s == '+')) {
        negative = *s == '-';
        s++;
    }
    if (end - s == 1 && *s == '0') {
        *ns = 0;
        return 0;
    }
    if (s == end) {
        return duration_invalid(text, reason, reason_size);
    }
    uint64_t total = 0;
    while (s < end) {
        int rc = duration_term(&s, end, text, &total, reason, reason_size);
        if (rc != 0) {
            return rc;
        }
    }
    if (negative) {
        *ns = (int64_t)(0 - total); /* total ≤ 1 << 63: wraps to the negative value */
        return 0;
    }
    if (total > DURATION_MAGNITUDE_MAX - 1) {
        return duration_invalid(text, reason, reason_size);
    }
    *ns = (int64_t)total;
    return 0;
}
