/* Counter arithmetic on decimal text: see js_counter.h. */
#include "proto/js_counter.h"

#include <string.h>

/* A parsed operand: its sign and its digits without leading zeros (none for zero). */
struct operand {
    bool negative;
    const char *digits;
    size_t length;
};

bool js_counter_valid(const char *text, size_t length)
{
    size_t at = length > 0 && (text[0] == '+' || text[0] == '-') ? 1 : 0;
    if (at == length) {
        return false;
    }
    for (; at < length; at++) {
        if (text[at] < '0' || text[at] > '9') {
            return false;
        }
    }
    return true;
}

static struct operand operand_of(const char *text, size_t length)
{
    struct operand value = {false, text, length};
    if (length > 0 && (text[0] == '+' || text[0] == '-')) {
        value.negative = text[0] == '-';
        value.digits++;
        value.length--;
    }
    while (value.length > 0 && value.digits[0] == '0') {
        value.digits++;
        value.length--;
    }
    if (value.length == 0) {
        value.negative = false;
    }
    return value;
}

/* -1, 0, 1 as |a| is below, equal to or above |b|. */
static int magnitude_compare(const struct operand *a, const struct operand *b)
{
    if (a->length != b->length) {
        return a->length < b->length ? -1 : 1;
    }
    int cmp = memcmp(a->digits, b->digits, a->length);
    return cmp < 0 ? -1 : cmp > 0 ? 1 : 0;
}

/* Digit `i` from the right of `value` (0 past its length). */
static int digit_at(const struct operand *value, size_t i)
{
    return i < value->length ? value->digits[value->length - 1 - i] - '0' : 0;
}

/* |big| + |small| or |big| - |small| (|big| >= |small|), written right to left into
 * scratch[0..]; returns the number of digits, leading zeros dropped (0 for zero). */
static size_t magnitude_combine(const struct operand *big, const struct operand *small, bool add,
                                char *scratch)
{
    size_t length = big->length + 1;
    int carry = 0;
    for (size_t i = 0; i < length; i++) {
        int digit = digit_at(big, i) + (add ? digit_at(small, i) + carry
                                           : -digit_at(small, i) - carry);
        carry = 0;
        if (digit >= 10) {
            digit -= 10;
            carry = 1;
        } else if (digit < 0) {
            digit += 10;
            carry = 1;
        }
        scratch[i] = (char)('0' + digit);
    }
    while (length > 0 && scratch[length - 1] == '0') {
        length--;
    }
    return length;
}

int js_counter_add(const char *a, size_t a_length, const char *b, size_t b_length, bool subtract,
                   char *out, size_t size)
{
    struct operand left = operand_of(a, a_length);
    struct operand right = operand_of(b, b_length);
    if (subtract) {
        right.negative = right.length > 0 && !right.negative;
    }
    if (left.length > JS_COUNTER_DIGITS_MAX || right.length > JS_COUNTER_DIGITS_MAX) {
        return -1;
    }
    bool left_bigger = magnitude_compare(&left, &right) >= 0;
    const struct operand *big = left_bigger ? &left : &right;
    const struct operand *small = left_bigger ? &right : &left;
    char scratch[JS_COUNTER_DIGITS_MAX + 2];
    size_t digits = magnitude_combine(big, small, left.negative == right.negative, scratch);
    bool negative = digits > 0 && big->negative;
    if (digits > JS_COUNTER_DIGITS_MAX || (digits == 0 ? 2 : digits + 2) > size) {
        return -1;
    }
    size_t at = 0;
    if (digits == 0) {
        out[at++] = '0';
    } else {
        if (negative) {
            out[at++] = '-';
        }
        for (size_t i = digits; i > 0; i--) {
            out[at++] = scratch[i - 1];
        }
    }
    out[at] = '\0';
    return (int)at;
}
