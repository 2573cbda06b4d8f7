/* The lexer's states for the values themselves: single-quoted, double-quoted and unquoted
 * strings (with their escapes, booleans and `$variables`), `( … )` blocks, integers with
 * their size suffixes, floats, Zulu datetimes and addresses such as 127.0.0.1:4222; each
 * is lex.go's state of the same name (see conf_lex.c for the machine, conf_lex_structure.c
 * for where values stand). A finished value emits its item and pops the state to return
 * to. One thread: the lexer's owner's. */
#include "proto/conf_lex_internal.h"

#include "base/assert.h"
#include "base/hex.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* ---- strings ---------------------------------------------------------------------------- */

static bool lex_is_bool(const struct conf_lexer *lx)
{
    static const char *const words[] = {"true", "false", "on", "off", "yes", "no"};
    size_t length = lx->pos - lx->start;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (length == strlen(words[i]) &&
            strncasecmp(lx->input + lx->start, words[i], length) == 0) {
            return true;
        }
    }
    return false;
}

/* lex.go's isVariable: a leading '$' is dropped from the name. */
static bool lex_is_variable(struct conf_lexer *lx)
{
    if (lx->start < lx->length && lx->input[lx->start] == '$') {
        lx->start++;
        return true;
    }
    return false;
}

/* A single- or double-quoted string's closing quote: emit, drop the quote, pop. */
static int lex_string_close(struct conf_lexer *lx, bool escaped)
{
    conf_lex_backup(lx);
    bool emitted = escaped ? conf_lex_emit_string(lx) : conf_lex_emit(lx, CONF_ITEM_STRING);
    if (!emitted) {
        return conf_lex_out_of_memory(lx);
    }
    conf_lex_next(lx);
    conf_lex_ignore(lx);
    return conf_lex_pop(lx);
}

int conf_lex_quoted_string(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (r == '\'') {
        return lex_string_close(lx, false);
    }
    if (r == RUNE_EOF) {
        return conf_lex_eof_or_error(lx);
    }
    return LEX_QUOTED_STRING;
}

int conf_lex_dub_quoted_string(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (r == '\\') {
        return conf_lex_add_current_part(lx, 1) ? LEX_STRING_ESCAPE : conf_lex_out_of_memory(lx);
    }
    if (r == '"') {
        return lex_string_close(lx, true);
    }
    if (r == RUNE_EOF) {
        return conf_lex_eof_or_error(lx);
    }
    return LEX_DUB_QUOTED_STRING;
}

int conf_lex_string(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (r == '\\') {
        return conf_lex_add_current_part(lx, 1) ? LEX_STRING_ESCAPE : conf_lex_out_of_memory(lx);
    }
    if (is_nl(r) || r == RUNE_EOF || r == ';' || r == ',' || r == ']' || r == '}' ||
        is_whitespace(r)) {
        conf_lex_backup(lx);
        bool emitted;
        bool plain = lx->parts_length == 0; /* no escapes: maybe a boolean or a $variable */
        if (plain && lex_is_bool(lx)) {
            emitted = conf_lex_emit(lx, CONF_ITEM_BOOL);
        } else if (plain && lex_is_variable(lx)) {
            emitted = conf_lex_emit(lx, CONF_ITEM_VARIABLE);
        } else {
            emitted = conf_lex_emit_string(lx);
        }
        return emitted ? conf_lex_pop(lx) : conf_lex_out_of_memory(lx);
    }
    if (r == '\'') {
        return lex_string_close(lx, true);
    }
    return LEX_STRING;
}

/* `( … )`: raw text up to a ')' alone on its line, stepped over as lex.go steps. */
int conf_lex_block(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (r == RUNE_EOF) {
        return conf_lex_errorf(lx, "Unexpected EOF processing block.");
    }
    if (r != ')') {
        return LEX_BLOCK;
    }
    conf_lex_backup(lx);
    conf_lex_backup(lx);
    if (conf_lex_next(lx) != '\n') {
        conf_lex_next(lx);
        return LEX_BLOCK;
    }
    conf_lex_next(lx);
    int32_t after = conf_lex_next(lx);
    if (after == '\n' || after == RUNE_EOF) {
        conf_lex_backup(lx);
        conf_lex_backup(lx);
        if (!conf_lex_emit(lx, CONF_ITEM_STRING)) {
            return conf_lex_out_of_memory(lx);
        }
        conf_lex_next(lx);
        conf_lex_ignore(lx);
        return conf_lex_pop(lx);
    }
    conf_lex_backup(lx);
    return LEX_BLOCK;
}

int conf_lex_string_escape(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = conf_lex_next(lx);
    switch (r) {
    case 'x':
        return LEX_STRING_BINARY;
    case 't':
        return conf_lex_add_escape(lx, "\t", 1);
    case 'n':
        return conf_lex_add_escape(lx, "\n", 1);
    case 'r':
        return conf_lex_add_escape(lx, "\r", 1);
    case '"':
        return conf_lex_add_escape(lx, "\"", 1);
    case '\\':
        return conf_lex_add_escape(lx, "\\", 1);
    default:
        return conf_lex_errorf(lx,
                               "Invalid escape character '%s'. Only the following escape "
                               "characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                               conf_lex_rune_text(r, text));
    }
}

/* Two hex digits after "\x": the last two bytes read, as lex.go takes them. */
int conf_lex_string_binary(struct conf_lexer *lx)
{
    static const char end_of_line[] =
        "Expected two hexadecimal digits after '\\x', but hit end of line";
    if (is_nl(conf_lex_next(lx))) {
        return conf_lex_errorf(lx, "%s", end_of_line);
    }
    if (is_nl(conf_lex_next(lx))) {
        return conf_lex_errorf(lx, "%s", end_of_line);
    }
    ASSERT(lx->pos >= 2); /* "\x" was read */
    const char *digits = lx->input + lx->pos - 2;
    int high = hex_value(digits[0]);
    int low = hex_value(digits[1]);
    if (high < 0 || low < 0) {
        return conf_lex_errorf(lx, "Expected two hexadecimal digits after '\\x', but got '%.2s'",
                               digits);
    }
    char byte = (char)(high * 16 + low);
    return conf_lex_add_escape(lx, &byte, 1);
}

/* ---- numbers, dates, addresses ---------------------------------------------------------- */

static bool is_number_suffix(int32_t r)
{
    return r == 'k' || r == 'K' || r == 'm' || r == 'M' || r == 'g' || r == 'G' || r == 't' ||
           r == 'T' || r == 'p' || r == 'P' || r == 'e' || r == 'E';
}

static int lex_digit_expected(struct conf_lexer *lx, int32_t r)
{
    char text[8];
    if (r == '.') {
        return conf_lex_errorf(lx, "Floats must start with a digit, not '.'.");
    }
    return conf_lex_errorf(lx, "Expected a digit but got '%s'.", conf_lex_rune_text(r, text));
}

int conf_lex_number_start(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    return is_digit(r) ? LEX_NUMBER : lex_digit_expected(lx, r);
}

static bool is_number_end(int32_t r)
{
    return is_nl(r) || r == RUNE_EOF || r == '}' || r == ';' || r == ',' || is_whitespace(r) ||
           is_digit(r);
}

int conf_lex_number(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (r == '-') {
        if (lx->pos - lx->start != 5) {
            return conf_lex_errorf(lx, "All ISO8601 dates must be in full Zulu form.");
        }
        return LEX_DATE_AFTER_YEAR;
    }
    if (is_digit(r)) {
        return LEX_NUMBER;
    }
    if (r == '.') {
        return LEX_FLOAT_START;
    }
    if (is_number_suffix(r)) {
        return LEX_CONVENIENT_NUMBER;
    }
    if (!is_number_end(r)) {
        lx->string_state = LEX_STRING; /* a string that starts with digits */
        return LEX_STRING;
    }
    conf_lex_backup(lx);
    if (!conf_lex_emit(lx, CONF_ITEM_INTEGER)) {
        return conf_lex_out_of_memory(lx);
    }
    return conf_lex_pop(lx);
}

/* After a size suffix (1k, 1Mb, 1GiB): more b/i letters, then the end of the value; any
 * other rune, a digit too, makes it a string ("4e2abc"), as since nats-server 2.15 (2.9
 * ended the number before a digit, then failed on the rest). */
int conf_lex_convenient_number(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (r == 'b' || r == 'B' || r == 'i' || r == 'I') {
        return LEX_CONVENIENT_NUMBER;
    }
    conf_lex_backup(lx);
    if (is_number_end(r) && !is_digit(r)) {
        if (!conf_lex_emit(lx, CONF_ITEM_INTEGER)) {
            return conf_lex_out_of_memory(lx);
        }
        return conf_lex_pop(lx);
    }
    lx->string_state = LEX_STRING;
    return LEX_STRING;
}

int conf_lex_date_after_year(struct conf_lexer *lx)
{
    static const char format[] = "00-00T00:00:00Z"; /* '0': a digit; else itself */
    char text[8];
    char expected[8];
    for (size_t i = 0; i < sizeof format - 1; i++) {
        int32_t r = conf_lex_next(lx);
        if (format[i] == '0') {
            if (!is_digit(r)) {
                return conf_lex_errorf(
                    lx, "Expected digit in ISO8601 datetime, but found '%s' instead.",
                    conf_lex_rune_text(r, text));
            }
        } else if (r != format[i]) {
            return conf_lex_errorf(lx, "Expected '%s' in ISO8601 datetime, but found '%s' instead.",
                                   conf_lex_rune_text(format[i], expected),
                                   conf_lex_rune_text(r, text));
        }
    }
    if (!conf_lex_emit(lx, CONF_ITEM_DATETIME)) {
        return conf_lex_out_of_memory(lx);
    }
    return conf_lex_pop(lx);
}

int conf_lex_neg_number_start(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    return is_digit(r) ? LEX_NEG_NUMBER : lex_digit_expected(lx, r);
}

int conf_lex_neg_number(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (is_digit(r)) {
        return LEX_NEG_NUMBER;
    }
    if (r == '.') {
        return LEX_FLOAT_START;
    }
    if (is_number_suffix(r)) {
        return LEX_CONVENIENT_NUMBER;
    }
    conf_lex_backup(lx);
    if (!conf_lex_emit(lx, CONF_ITEM_INTEGER)) {
        return conf_lex_out_of_memory(lx);
    }
    return conf_lex_pop(lx);
}

int conf_lex_float_start(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (!is_digit(r)) {
        char text[8];
        return conf_lex_errorf(lx, "Floats must have a digit after the '.', but got '%s' instead.",
                               conf_lex_rune_text(r, text));
    }
    return LEX_FLOAT;
}

int conf_lex_float(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (is_digit(r)) {
        return LEX_FLOAT;
    }
    if (r == '.') {
        return LEX_IP_ADDR; /* a second '.': an address such as 127.0.0.1:4222 */
    }
    conf_lex_backup(lx);
    if (!conf_lex_emit(lx, CONF_ITEM_FLOAT)) {
        return conf_lex_out_of_memory(lx);
    }
    return conf_lex_pop(lx);
}

int conf_lex_ip_addr(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (is_digit(r) || r == '.' || r == ':' || r == '-') {
        return LEX_IP_ADDR;
    }
    conf_lex_backup(lx);
    if (!conf_lex_emit(lx, CONF_ITEM_STRING)) {
        return conf_lex_out_of_memory(lx);
    }
    return conf_lex_pop(lx);
}
