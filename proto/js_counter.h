/* Counter streams' arithmetic (allow_msg_counter, nats-server 2.12): the totals are decimal
 * integers of any length, as Go's big.Int holds them, carried as text ({"val":"<total>"}
 * bodies, Nats-Incr headers).
 *
 * The one idea: schoolbook addition and subtraction on the decimal digits, enough for the
 * one operation per publish a counter needs; the text is written as big.Int's String()
 * writes it (no leading zeros or '+', "0" for zero, '-' for negatives). Hand-written: no
 * Debian C library offers arbitrary-precision decimal strings without pulling in GMP's
 * conversion costs for numbers that are almost always a few digits.
 *
 * Pure functions, any thread. */
#ifndef IONATS_PROTO_JS_COUNTER_H
#define IONATS_PROTO_JS_COUNTER_H

#include <stdbool.h>
#include <stddef.h>

/* Digits a total may have at most (ionats's bound: Go's has none; a message carrying a
 * total is bounded by max_payload long before this). */
enum { JS_COUNTER_DIGITS_MAX = 4096 };

/* Whether `text` is a decimal integer big.Int's SetString(text, 10) takes: an optional
 * sign, then one or more digits (leading zeros allowed). */
bool js_counter_valid(const char *text, size_t length);

/* Writes a + b (or a - b with `subtract`) into out[size] as big.Int's String(), NUL-
 * terminated; both must be js_counter_valid (an empty `b` reads as 0). Returns the
 * length, or -1 when the result does not fit `size` or has more than
 * JS_COUNTER_DIGITS_MAX digits. */
int js_counter_add(const char *a, size_t a_length, const char *b, size_t b_length, bool subtract,
                   char *out, size_t size);

#endif
