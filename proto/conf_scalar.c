/* The configuration parser's scalars: an integer, float, datetime or boolean item into a
 * value of the tree, by nats-server's conf/parse.go (its size suffixes, its range errors,
 * Go's time.Parse for Zulu datetimes), then set where the item stands (see conf.c). An
 * item it cannot read fails the parse with nats-server's message. One thread: the
 * parse's caller's. */
#include "proto/conf_internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* nats-server's integers: digits (and '-') then a size suffix, k/m/g/t/p/e powers of 1000,
 * with b, i or ib powers of 1024; a product past int64 wraps as Go's does. A suffix it
 * does not list (1kbb) sets nothing. */
int conf_scalar_integer(struct conf_parser *p, struct conf_frame *f, struct conf_item item)
{
    static const struct {
        const char *suffix;
        uint64_t scale;
    } suffixes[] = {
        {"", 1},
        {"k", 1000ULL},
        {"kb", 1ULL << 10},
        {"ki", 1ULL << 10},
        {"kib", 1ULL << 10},
        {"m", 1000000ULL},
        {"mb", 1ULL << 20},
        {"mi", 1ULL << 20},
        {"mib", 1ULL << 20},
        {"g", 1000000000ULL},
        {"gb", 1ULL << 30},
        {"gi", 1ULL << 30},
        {"gib", 1ULL << 30},
        {"t", 1000000000000ULL},
        {"tb", 1ULL << 40},
        {"ti", 1ULL << 40},
        {"tib", 1ULL << 40},
        {"p", 1000000000000000ULL},
        {"pb", 1ULL << 50},
        {"pi", 1ULL << 50},
        {"pib", 1ULL << 50},
        {"e", 1000000000000000000ULL},
        {"eb", 1ULL << 60},
        {"ei", 1ULL << 60},
        {"eib", 1ULL << 60},
    };
    enum { NUMBER_TEXT_MAX = 64 };
    size_t digits = 0;
    while (digits < item.length &&
           ((item.text[digits] >= '0' && item.text[digits] <= '9') || item.text[digits] == '-')) {
        digits++;
    }
    char number[NUMBER_TEXT_MAX];
    char *end = NULL;
    long long parsed = 0;
    bool range = digits >= sizeof number;
    if (!range) {
        memcpy(number, item.text, digits);
        number[digits] = '\0';
        errno = 0;
        parsed = strtoll(number, &end, 10);
        range = errno == ERANGE;
    }
    if (range) {
        return conf_parser_fail(p, f, item.offset, "integer '%.*s' is out of the range",
                                (int)item.length, item.text);
    }
    if (digits == 0 || end != number + digits) {
        return conf_parser_fail(p, f, item.offset, "expected integer, but got '%.*s'",
                                (int)item.length, item.text);
    }
    size_t suffix_length = item.length - digits;
    char suffix[4];
    if (suffix_length >= sizeof suffix) {
        return STEP_OK; /* no such suffix: nats-server sets nothing */
    }
    for (size_t i = 0; i < suffix_length; i++) {
        char c = item.text[digits + i];
        suffix[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    suffix[suffix_length] = '\0';
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        if (strcmp(suffix, suffixes[i].suffix) == 0) {
            struct conf_node *node =
                conf_node_new(p, CONF_INTEGER, conf_frame_position(f, item.offset));
            if (node != NULL) {
                node->as.integer = (int64_t)((uint64_t)parsed * suffixes[i].scale);
            }
            return conf_value_set_new(p, f, node);
        }
    }
    return STEP_OK;
}

int conf_scalar_float(struct conf_parser *p, struct conf_frame *f, struct conf_item item)
{
    char *number = malloc(item.length + 1);
    if (number == NULL) {
        return conf_parser_out_of_memory(p, f);
    }
    memcpy(number, item.text, item.length);
    number[item.length] = '\0';
    char *end = NULL;
    double value = strtod(number, &end);
    bool whole = end == number + item.length;
    free(number);
    if (!whole) {
        return conf_parser_fail(p, f, item.offset, "expected float, but got '%.*s'",
                                (int)item.length, item.text);
    }
    if (isinf(value)) {
        return conf_parser_fail(p, f, item.offset, "float '%.*s' is out of the range",
                                (int)item.length, item.text);
    }
    struct conf_node *node = conf_node_new(p, CONF_FLOAT, conf_frame_position(f, item.offset));
    if (node != NULL) {
        node->as.real = value;
    }
    return conf_value_set_new(p, f, node);
}

static int two_digits(const char *text)
{
    return (text[0] - '0') * 10 + (text[1] - '0');
}

/* Go's time.Parse("2006-01-02T15:04:05Z"): fields in range, the day within its month. The
 * lexer has checked the shape. */
static bool datetime_valid(const char *text)
{
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year = two_digits(text) * 100 + two_digits(text + 2);
    int month = two_digits(text + 5);
    int day = two_digits(text + 8);
    if (month < 1 || month > 12 || day < 1 || day > month_days[month - 1]) {
        return false;
    }
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month == 2 && day == 29 && !leap) {
        return false;
    }
    return two_digits(text + 11) < 24 && two_digits(text + 14) < 60 && two_digits(text + 17) < 60;
}

int conf_scalar_datetime(struct conf_parser *p, struct conf_frame *f, struct conf_item item)
{
    static const char layout[] = "2006-01-02T15:04:05Z";
    if (item.length != sizeof layout - 1 || !datetime_valid(item.text)) {
        return conf_parser_fail(p, f, item.offset,
                                "expected Zulu formatted DateTime, but got '%.*s'",
                                (int)item.length, item.text);
    }
    return conf_value_set_new(p, f,
                              conf_node_string(p, conf_frame_position(f, item.offset),
                                               CONF_DATETIME, item.text, item.length));
}

int conf_scalar_bool(struct conf_parser *p, struct conf_frame *f, struct conf_item item)
{
    /* the lexer emits only true/false/yes/no/on/off, in any case */
    char first = (char)(item.text[0] | 0x20);
    bool value = first == 't' || first == 'y' || (item.length == 2 && (item.text[1] | 0x20) == 'n');
    struct conf_node *node = conf_node_new(p, CONF_BOOL, conf_frame_position(f, item.offset));
    if (node != NULL) {
        node->as.boolean = value;
    }
    return conf_value_set_new(p, f, node);
}
