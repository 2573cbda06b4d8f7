/* The configuration lexer: nats-server's conf/lex.go, state for state (see conf_lex.h).
 *
 * Each state is a function that reads runes and returns the next state; a state that has
 * finished a value returns the one on top of the stack (pushed by whoever asked for the
 * value), so values, maps and arrays nest without recursion. Runes are decoded as Go
 * decodes them (an invalid byte is U+FFFD, one byte wide), and as in Go a NUL rune reads
 * as the end of input where a state asks for it. The texts of the errors are nats-server's,
 * so a message means the same whichever broker printed it. Where lex.go steps back twice
 * (a block's closing parenthesis), this does the same, width for width, and so produces the
 * same text at the end of input. One exception: digits are ASCII only (Go's unicode.IsDigit
 * also takes other scripts' digits, which then fail to parse as integers there). */
#include "proto/conf_lex.h"

#include "base/assert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { RUNE_EOF = 0, RUNE_ERROR = 0xFFFD };

/* State transitions allowed per input byte: each transition reads a rune or moves toward
 * one through at most a handful of non-reading states (skip, pop, comment start). Running
 * out is a lexer bug, not an input error. */
enum { LEX_STEPS_PER_BYTE = 16, LEX_STEPS_MIN = 64 };

enum lex_state {
    LEX_DONE = 0,
    LEX_TOP,
    LEX_TOP_VALUE_END,
    LEX_BLOCK_START,
    LEX_BLOCK_VALUE_END,
    LEX_BLOCK_END,
    LEX_KEY_START,
    LEX_DUB_QUOTED_KEY,
    LEX_QUOTED_KEY,
    LEX_KEY,
    LEX_KEY_END,
    LEX_INCLUDE_START,
    LEX_INCLUDE,
    LEX_INCLUDE_QUOTED_STRING,
    LEX_INCLUDE_DUB_QUOTED_STRING,
    LEX_INCLUDE_STRING,
    LEX_VALUE,
    LEX_ARRAY_VALUE,
    LEX_ARRAY_VALUE_END,
    LEX_ARRAY_END,
    LEX_MAP_KEY_START,
    LEX_MAP_QUOTED_KEY,
    LEX_MAP_DUB_QUOTED_KEY,
    LEX_MAP_KEY,
    LEX_MAP_KEY_END,
    LEX_MAP_VALUE,
    LEX_MAP_VALUE_END,
    LEX_MAP_END,
    LEX_QUOTED_STRING,
    LEX_DUB_QUOTED_STRING,
    LEX_STRING,
    LEX_BLOCK,
    LEX_STRING_ESCAPE,
    LEX_STRING_BINARY,
    LEX_NUMBER_START,
    LEX_NUMBER,
    LEX_CONVENIENT_NUMBER,
    LEX_DATE_AFTER_YEAR,
    LEX_NEG_NUMBER_START,
    LEX_NEG_NUMBER,
    LEX_FLOAT_START,
    LEX_FLOAT,
    LEX_IP_ADDR,
    LEX_COMMENT_START,
    LEX_COMMENT,
    LEX_STATE_COUNT,
};

/* ---- runes ----------------------------------------------------------------------------- */

static bool is_continuation(unsigned char byte)
{
    return (byte & 0xC0) == 0x80;
}

/* Go's utf8.DecodeRuneInString: the rune at `bytes` and its width, or U+FFFD and width 1
 * for an invalid or truncated sequence. `available` is at least 1. */
static int32_t rune_decode(const unsigned char *bytes, size_t available, size_t *width)
{
    unsigned char b0 = bytes[0];
    *width = 1;
    if (b0 < 0x80) {
        return b0;
    }
    size_t need = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    int32_t rune = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
        rune = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        rune = b0 & 0x0F;
        low = b0 == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        high = b0 == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        rune = b0 & 0x07;
        low = b0 == 0xF0 ? 0x90 : 0x80;
        high = b0 == 0xF4 ? 0x8F : 0xBF;
    } else {
        return RUNE_ERROR;
    }
    if (available < need || bytes[1] < low || bytes[1] > high) {
        return RUNE_ERROR;
    }
    for (size_t i = 1; i < need; i++) {
        if (!is_continuation(bytes[i])) {
            return RUNE_ERROR;
        }
        rune = (rune << 6) | (bytes[i] & 0x3F);
    }
    *width = need;
    return rune;
}

/* Go's unicode.IsSpace. */
static bool is_space(int32_t r)
{
    switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return true;
    default:
        return r >= 0x2000 && r <= 0x200A;
    }
}

static bool is_whitespace(int32_t r)
{
    return r == '\t' || r == ' ';
}

static bool is_nl(int32_t r)
{
    return r == '\n' || r == '\r';
}

static bool is_digit(int32_t r)
{
    return r >= '0' && r <= '9';
}

static bool is_key_separator(int32_t r)
{
    return r == '=' || r == ':';
}

static bool is_number_suffix(int32_t r)
{
    return r == 'k' || r == 'K' || r == 'm' || r == 'M' || r == 'g' || r == 'G' || r == 't' ||
           r == 'T' || r == 'p' || r == 'P' || r == 'e' || r == 'E';
}

/* A rune as lex.go prints it in an error: a new line as "\n", the end of input as nothing
 * (Go prints a NUL byte there), anything else as its UTF-8 bytes. */
static const char *rune_text(int32_t r, char buffer[8])
{
    if (r == '\n') {
        return "\\n";
    }
    if (r == RUNE_EOF) {
        return "";
    }
    if (r < 0x80) {
        buffer[0] = (char)r;
        buffer[1] = '\0';
    } else if (r < 0x800) {
        buffer[0] = (char)(0xC0 | (r >> 6));
        buffer[1] = (char)(0x80 | (r & 0x3F));
        buffer[2] = '\0';
    } else if (r < 0x10000) {
        buffer[0] = (char)(0xE0 | (r >> 12));
        buffer[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        buffer[2] = (char)(0x80 | (r & 0x3F));
        buffer[3] = '\0';
    } else {
        buffer[0] = (char)(0xF0 | (r >> 18));
        buffer[1] = (char)(0x80 | ((r >> 12) & 0x3F));
        buffer[2] = (char)(0x80 | ((r >> 6) & 0x3F));
        buffer[3] = (char)(0x80 | (r & 0x3F));
        buffer[4] = '\0';
    }
    return buffer;
}

/* ---- the lexer's primitives (lex.go's next, backup, peek, ignore, emit) ---------------- */

static int32_t lex_next(struct conf_lexer *lx)
{
    lx->consumed = true;
    if (lx->pos >= lx->length) {
        lx->width = 0;
        return RUNE_EOF;
    }
    int32_t r = rune_decode((const unsigned char *)lx->input + lx->pos, lx->length - lx->pos,
                            &lx->width);
    lx->pos += lx->width;
    return r;
}

static void lex_backup(struct conf_lexer *lx)
{
    ASSERT(lx->pos >= lx->width); /* lex.go steps back at most over what it read */
    lx->pos -= lx->width;
    lx->consumed = false;
}

static int32_t lex_peek(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    lex_backup(lx);
    return r;
}

static void lex_ignore(struct conf_lexer *lx)
{
    lx->start = lx->pos;
    lx->item_offset = lx->pos;
}

/* lex.go's lexSkip: drop what was read and go on with `next`. */
static int lex_skip(struct conf_lexer *lx, int next)
{
    lex_ignore(lx);
    return next;
}

static int lex_fail(struct conf_lexer *lx, size_t offset)
{
    lx->item = (struct conf_item){.type = CONF_ITEM_ERROR, .text = lx->message,
                                  .length = strlen(lx->message), .offset = offset};
    lx->item_ready = true;
    return LEX_DONE;
}

/* lex.go's errorf: an error item placed at the rune just read (or at the one looked at);
 * after a new line, at the start of the next line, where lex.go counts it ("on line N"). */
__attribute__((format(printf, 2, 3))) static int lex_errorf(struct conf_lexer *lx,
                                                             const char *format, ...)
{
    va_list args;
    va_start(args, format);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start just above
    vsnprintf(lx->message, sizeof lx->message, format, args);
    va_end(args);
    bool after_newline = lx->pos > 0 && lx->input[lx->pos - 1] == '\n';
    size_t offset = lx->consumed && lx->pos >= lx->width && !after_newline ? lx->pos - lx->width
                                                                            : lx->pos;
    return lex_fail(lx, offset);
}

static int lex_out_of_memory(struct conf_lexer *lx)
{
    lx->out_of_memory = true;
    snprintf(lx->message, sizeof lx->message, "out of memory");
    return lex_fail(lx, lx->pos);
}

static bool buffer_reserve(char **buffer, size_t *capacity, size_t needed)
{
    if (needed <= *capacity) {
        return true;
    }
    size_t grown = *capacity < 64 ? 64 : *capacity * 2;
    while (grown < needed) {
        grown *= 2;
    }
    char *bigger = realloc(*buffer, grown);
    if (bigger == NULL) {
        return false;
    }
    *buffer = bigger;
    *capacity = grown;
    return true;
}

/* Emits the pending text, escaped parts first, as lex.go's emit does (which keeps the
 * parts: only emit_string clears them). Returns false when memory ran out. */
static bool lex_emit(struct conf_lexer *lx, enum conf_item_type type)
{
    ASSERT(!lx->item_ready); /* each state emits at most one item */
    ASSERT(lx->start <= lx->pos);
    const char *text = lx->input + lx->start;
    size_t length = lx->pos - lx->start;
    if (lx->parts_length > 0) {
        if (!buffer_reserve(&lx->value, &lx->value_capacity, lx->parts_length + length + 1)) {
            return false;
        }
        memcpy(lx->value, lx->parts, lx->parts_length);
        memcpy(lx->value + lx->parts_length, text, length);
        length += lx->parts_length;
        text = lx->value;
    }
    lx->item = (struct conf_item){.type = type, .text = text, .length = length,
                                  .offset = lx->item_offset};
    lx->item_ready = true;
    lx->start = lx->pos;
    lx->item_offset = lx->pos;
    return true;
}

static bool lex_emit_string(struct conf_lexer *lx)
{
    bool emitted = lex_emit(lx, CONF_ITEM_STRING);
    lx->parts_length = 0;
    return emitted;
}

static bool lex_add_part(struct conf_lexer *lx, const char *bytes, size_t length)
{
    if (length == 0) {
        return true; /* nothing to keep (the parts buffer may not exist yet) */
    }
    if (!buffer_reserve(&lx->parts, &lx->parts_capacity, lx->parts_length + length)) {
        return false;
    }
    memcpy(lx->parts + lx->parts_length, bytes, length);
    lx->parts_length += length;
    return true;
}

/* lex.go's addCurrentStringPart: keep the text read so far, less `offset` bytes (the
 * backslash). */
static bool lex_add_current_part(struct conf_lexer *lx, size_t offset)
{
    ASSERT(lx->pos - lx->start >= offset);
    bool added = lex_add_part(lx, lx->input + lx->start, lx->pos - lx->start - offset);
    lx->start = lx->pos;
    return added;
}

/* lex.go's addStringPart: an escape's meaning, then back to the string being read. */
static int lex_add_escape(struct conf_lexer *lx, const char *bytes, size_t length)
{
    if (!lex_add_part(lx, bytes, length)) {
        return lex_out_of_memory(lx);
    }
    lx->start = lx->pos;
    return lx->string_state;
}

/* False (with the error item set) when the stack is full: nesting past the bound. */
static bool lex_push(struct conf_lexer *lx, int state)
{
    if (lx->stack_count == CONF_LEX_STACK_MAX) {
        lex_errorf(lx, "nested deeper than %d levels", CONF_NESTING_MAX);
        return false;
    }
    lx->stack[lx->stack_count++] = state;
    return true;
}

static int lex_pop(struct conf_lexer *lx)
{
    if (lx->stack_count == 0) {
        return lex_errorf(lx, "BUG in lexer: no states to pop.");
    }
    return lx->stack[--lx->stack_count];
}

/* Pushes `state` and returns `next`, or the error when the stack is full. */
static int lex_push_then(struct conf_lexer *lx, int state, int next)
{
    return lex_push(lx, state) ? next : LEX_DONE;
}

/* The end of input where a key or a value may begin: clean when nothing is pending. */
static int lex_eof_or_error(struct conf_lexer *lx)
{
    if (lx->pos > lx->start) {
        return lex_errorf(lx, "Unexpected EOF.");
    }
    return lex_emit(lx, CONF_ITEM_EOF) ? LEX_DONE : lex_out_of_memory(lx);
}

/* Emits an item, then returns `next` (or the error when memory ran out). */
static int lex_emit_then(struct conf_lexer *lx, enum conf_item_type type, int next)
{
    return lex_emit(lx, type) ? next : lex_out_of_memory(lx);
}

/* "//" starts a comment; a lone '/' is put back. True when it was a comment. */
static bool lex_slash_comment(struct conf_lexer *lx)
{
    if (lex_next(lx) == '/') {
        return true;
    }
    lex_backup(lx);
    return false;
}

/* ---- top level and blocks --------------------------------------------------------------- */

static int lex_top(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (is_space(r)) {
        return lex_skip(lx, LEX_TOP);
    }
    switch (r) {
    case '{':
        return lex_push_then(lx, LEX_TOP, lex_skip(lx, LEX_BLOCK_START));
    case '#':
        return lex_push_then(lx, LEX_TOP, LEX_COMMENT_START);
    case '/':
        if (lex_slash_comment(lx)) {
            return lex_push_then(lx, LEX_TOP, LEX_COMMENT_START);
        }
        return lex_eof_or_error(lx);
    case RUNE_EOF:
        return lex_eof_or_error(lx);
    default:
        break;
    }
    lex_backup(lx);
    return lex_push_then(lx, LEX_TOP_VALUE_END, LEX_KEY_START);
}

static int lex_top_value_end(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = lex_next(lx);
    if (r == '#') {
        return lex_push_then(lx, LEX_TOP, LEX_COMMENT_START);
    }
    if (r == '/') {
        if (lex_slash_comment(lx)) {
            return lex_push_then(lx, LEX_TOP, LEX_COMMENT_START);
        }
        return LEX_TOP_VALUE_END; /* lex.go falls through to the blank case */
    }
    if (is_whitespace(r)) {
        return LEX_TOP_VALUE_END;
    }
    if (is_nl(r) || r == RUNE_EOF || r == ';' || r == ',' || r == '}') {
        return lex_skip(lx, LEX_TOP);
    }
    return lex_errorf(lx,
                      "Expected a top-level value to end with a new line, comment or EOF, but "
                      "got '%s' instead.",
                      rune_text(r, text));
}

static int lex_block_start(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (is_space(r)) {
        return lex_skip(lx, LEX_BLOCK_START);
    }
    switch (r) {
    case '{':
        return lex_push_then(lx, LEX_BLOCK_END, lex_skip(lx, LEX_BLOCK_START));
    case '}':
        lex_ignore(lx);
        return lex_pop(lx);
    case '#':
        return lex_push_then(lx, LEX_BLOCK_START, LEX_COMMENT_START);
    case '/':
        if (lex_slash_comment(lx)) {
            return lex_push_then(lx, LEX_BLOCK_START, LEX_COMMENT_START);
        }
        return lex_eof_or_error(lx);
    case RUNE_EOF:
        return lex_eof_or_error(lx);
    default:
        break;
    }
    lex_backup(lx);
    return lex_push_then(lx, LEX_BLOCK_VALUE_END, LEX_KEY_START);
}

static int lex_block_value_end(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = lex_next(lx);
    if (r == '#') {
        return lex_push_then(lx, LEX_BLOCK_VALUE_END, LEX_COMMENT_START);
    }
    if (r == '/') {
        if (lex_slash_comment(lx)) {
            return lex_push_then(lx, LEX_BLOCK_VALUE_END, LEX_COMMENT_START);
        }
        return LEX_BLOCK_VALUE_END;
    }
    if (is_whitespace(r)) {
        return LEX_BLOCK_VALUE_END;
    }
    if (is_nl(r) || r == ';' || r == ',') {
        return lex_skip(lx, LEX_BLOCK_START);
    }
    if (r == '}') {
        lex_backup(lx);
        return LEX_BLOCK_END;
    }
    return lex_errorf(lx,
                      "Expected a block-level value to end with a new line, comment or EOF, "
                      "but got '%s' instead.",
                      rune_text(r, text));
}

static int lex_block_end(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = lex_next(lx);
    if (r == '#') {
        return lex_push_then(lx, LEX_BLOCK_START, LEX_COMMENT_START);
    }
    if (r == '/') {
        if (lex_slash_comment(lx)) {
            return lex_push_then(lx, LEX_BLOCK_START, LEX_COMMENT_START);
        }
        return LEX_BLOCK_END;
    }
    if (is_nl(r) || is_whitespace(r)) {
        return LEX_BLOCK_END;
    }
    if (r == ';' || r == ',') {
        return lex_skip(lx, LEX_BLOCK_START);
    }
    if (r == '}') {
        lex_ignore(lx);
        return lex_pop(lx);
    }
    return lex_errorf(lx, "Expected a block-level to end with a '}', but got '%s' instead.",
                      rune_text(r, text));
}

/* ---- keys and include ------------------------------------------------------------------- */

static int lex_key_start(struct conf_lexer *lx)
{
    int32_t r = lex_peek(lx);
    if (is_key_separator(r)) {
        char text[8];
        return lex_errorf(lx, "Unexpected key separator '%s'", rune_text(r, text));
    }
    if (is_space(r)) {
        lex_next(lx);
        return lex_skip(lx, LEX_KEY_START);
    }
    if (r == '"') {
        lex_next(lx);
        return lex_skip(lx, LEX_DUB_QUOTED_KEY);
    }
    if (r == '\'') {
        lex_next(lx);
        return lex_skip(lx, LEX_QUOTED_KEY);
    }
    lex_ignore(lx);
    lex_next(lx);
    return LEX_KEY;
}

static int lex_quoted_key_text(struct conf_lexer *lx, int32_t quote, int self)
{
    int32_t r = lex_peek(lx);
    if (r == quote) {
        if (!lex_emit(lx, CONF_ITEM_KEY)) {
            return lex_out_of_memory(lx);
        }
        lex_next(lx);
        return lex_skip(lx, LEX_KEY_END);
    }
    if (r == RUNE_EOF) {
        return lex_eof_or_error(lx);
    }
    lex_next(lx);
    return self;
}

static int lex_dub_quoted_key(struct conf_lexer *lx)
{
    return lex_quoted_key_text(lx, '"', LEX_DUB_QUOTED_KEY);
}

static int lex_quoted_key(struct conf_lexer *lx)
{
    return lex_quoted_key_text(lx, '\'', LEX_QUOTED_KEY);
}

/* lex.go's keyCheckKeyword: a key followed by a blank may be `include`. */
static int lex_key_check_keyword(struct conf_lexer *lx, int fall_through, int push)
{
    static const char include[] = "include";
    if (lx->pos - lx->start == sizeof include - 1 &&
        strncasecmp(lx->input + lx->start, include, sizeof include - 1) == 0) {
        lex_ignore(lx);
        if (push != LEX_DONE) {
            return lex_push_then(lx, push, LEX_INCLUDE_START);
        }
        return LEX_INCLUDE_START;
    }
    return lex_emit_then(lx, CONF_ITEM_KEY, fall_through);
}

static int lex_include_start(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (is_whitespace(r)) {
        return lex_skip(lx, LEX_INCLUDE_START);
    }
    lex_backup(lx);
    return LEX_INCLUDE;
}

/* The closing quote of a quoted include: emit the path, drop the quote. */
static int lex_include_close(struct conf_lexer *lx)
{
    lex_backup(lx);
    if (!lex_emit(lx, CONF_ITEM_INCLUDE)) {
        return lex_out_of_memory(lx);
    }
    lex_next(lx);
    lex_ignore(lx);
    return lex_pop(lx);
}

static int lex_include_quoted_string(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (r == '\'') {
        return lex_include_close(lx);
    }
    if (r == RUNE_EOF) {
        return lex_errorf(lx, "Unexpected EOF in quoted include");
    }
    return LEX_INCLUDE_QUOTED_STRING;
}

static int lex_include_dub_quoted_string(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (r == '"') {
        return lex_include_close(lx);
    }
    if (r == RUNE_EOF) {
        return lex_errorf(lx, "Unexpected EOF in double quoted include");
    }
    return LEX_INCLUDE_DUB_QUOTED_STRING;
}

static int lex_include_string(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (is_nl(r) || r == RUNE_EOF || r == ';' || r == '}' || is_whitespace(r)) {
        lex_backup(lx);
        if (!lex_emit(lx, CONF_ITEM_INCLUDE)) {
            return lex_out_of_memory(lx);
        }
        return lex_pop(lx);
    }
    if (r == '\'') {
        return lex_include_close(lx);
    }
    return LEX_INCLUDE_STRING;
}

static int lex_include(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (r == '\'') {
        return lex_skip(lx, LEX_INCLUDE_QUOTED_STRING);
    }
    if (r == '"') {
        return lex_skip(lx, LEX_INCLUDE_DUB_QUOTED_STRING);
    }
    if (r == '[') {
        return lex_errorf(lx, "Expected include value but found start of an array");
    }
    if (r == '{') {
        return lex_errorf(lx, "Expected include value but found start of a map");
    }
    if (r == '(') {
        return lex_errorf(lx, "Expected include value but found start of a block");
    }
    if (is_digit(r) || r == '-') {
        return lex_errorf(lx, "Expected include value but found start of a number");
    }
    if (r == '\\') {
        return lex_errorf(lx, "Expected include value but found escape sequence");
    }
    if (is_nl(r)) {
        return lex_errorf(lx, "Expected include value but found new line");
    }
    lex_backup(lx);
    return LEX_INCLUDE_STRING;
}

static int lex_key(struct conf_lexer *lx)
{
    int32_t r = lex_peek(lx);
    if (is_space(r)) {
        return lex_key_check_keyword(lx, LEX_KEY_END, LEX_DONE);
    }
    if (is_key_separator(r) || r == RUNE_EOF) {
        return lex_emit_then(lx, CONF_ITEM_KEY, LEX_KEY_END);
    }
    lex_next(lx);
    return LEX_KEY;
}

static int lex_key_end(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (is_space(r)) {
        return lex_skip(lx, LEX_KEY_END);
    }
    if (is_key_separator(r)) {
        return lex_skip(lx, LEX_VALUE);
    }
    if (r == RUNE_EOF) {
        return lex_emit_then(lx, CONF_ITEM_EOF, LEX_DONE);
    }
    lex_backup(lx);
    return LEX_VALUE;
}

/* ---- values, arrays, maps --------------------------------------------------------------- */

static int lex_value(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (is_whitespace(r)) {
        return lex_skip(lx, LEX_VALUE);
    }
    if (r == '[') {
        lex_ignore(lx);
        return lex_emit_then(lx, CONF_ITEM_ARRAY_START, LEX_ARRAY_VALUE);
    }
    if (r == '{') {
        lex_ignore(lx);
        return lex_emit_then(lx, CONF_ITEM_MAP_START, LEX_MAP_KEY_START);
    }
    if (r == '\'') {
        return lex_skip(lx, LEX_QUOTED_STRING);
    }
    if (r == '"') {
        lex_ignore(lx);
        lx->string_state = LEX_DUB_QUOTED_STRING;
        return LEX_DUB_QUOTED_STRING;
    }
    if (r == '-') {
        return LEX_NEG_NUMBER_START;
    }
    if (r == '(') {
        return lex_skip(lx, LEX_BLOCK);
    }
    if (is_digit(r)) {
        lex_backup(lx);
        return LEX_NUMBER_START;
    }
    if (r == '.') {
        return lex_errorf(lx, "Floats must start with a digit");
    }
    if (is_nl(r)) {
        return lex_errorf(lx, "Expected value but found new line");
    }
    lex_backup(lx);
    lx->string_state = LEX_STRING;
    return LEX_STRING;
}

static int lex_array_value(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (is_space(r)) {
        return lex_skip(lx, LEX_ARRAY_VALUE);
    }
    if (r == '#') {
        return lex_push_then(lx, LEX_ARRAY_VALUE, LEX_COMMENT_START);
    }
    if (r == '/') {
        if (lex_slash_comment(lx)) {
            return lex_push_then(lx, LEX_ARRAY_VALUE, LEX_COMMENT_START);
        }
        /* lex.go falls through to the terminator's error */
        return lex_errorf(lx, "Unexpected array value terminator ','.");
    }
    if (r == ',') {
        return lex_errorf(lx, "Unexpected array value terminator ','.");
    }
    if (r == ']') {
        return LEX_ARRAY_END;
    }
    lex_backup(lx);
    return lex_push_then(lx, LEX_ARRAY_VALUE_END, LEX_VALUE);
}

static int lex_array_value_end(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = lex_next(lx);
    if (is_whitespace(r)) {
        return lex_skip(lx, LEX_ARRAY_VALUE_END);
    }
    if (r == '#') {
        return lex_push_then(lx, LEX_ARRAY_VALUE_END, LEX_COMMENT_START);
    }
    if (r == '/') {
        if (lex_slash_comment(lx)) {
            return lex_push_then(lx, LEX_ARRAY_VALUE_END, LEX_COMMENT_START);
        }
        return lex_skip(lx, LEX_ARRAY_VALUE);
    }
    if (r == ',' || is_nl(r)) {
        return lex_skip(lx, LEX_ARRAY_VALUE);
    }
    if (r == ']') {
        return LEX_ARRAY_END;
    }
    return lex_errorf(lx,
                      "Expected an array value terminator \",\" or an array terminator \"]\", "
                      "but got '%s' instead.",
                      rune_text(r, text));
}

static int lex_array_end(struct conf_lexer *lx)
{
    lex_ignore(lx);
    if (!lex_emit(lx, CONF_ITEM_ARRAY_END)) {
        return lex_out_of_memory(lx);
    }
    return lex_pop(lx);
}

static int lex_map_key_start(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = lex_peek(lx);
    if (is_key_separator(r)) {
        return lex_errorf(lx, "Unexpected key separator '%s'.", rune_text(r, text));
    }
    if (r == ']') {
        return lex_errorf(lx, "Unexpected array end '%s' processing map.", rune_text(r, text));
    }
    if (is_space(r)) {
        lex_next(lx);
        return lex_skip(lx, LEX_MAP_KEY_START);
    }
    if (r == '}') {
        lex_next(lx);
        return lex_skip(lx, LEX_MAP_END);
    }
    if (r == '#') {
        lex_next(lx);
        return lex_push_then(lx, LEX_MAP_KEY_START, LEX_COMMENT_START);
    }
    if (r == '/') {
        lex_next(lx);
        if (lex_slash_comment(lx)) {
            return lex_push_then(lx, LEX_MAP_KEY_START, LEX_COMMENT_START);
        }
        /* lex.go leaves the '/' read: the key starts after it */
    } else if (r == '\'') {
        lex_next(lx);
        return lex_skip(lx, LEX_MAP_QUOTED_KEY);
    } else if (r == '"') {
        lex_next(lx);
        return lex_skip(lx, LEX_MAP_DUB_QUOTED_KEY);
    } else if (r == RUNE_EOF) {
        return lex_errorf(lx, "Unexpected EOF processing map.");
    }
    lex_ignore(lx);
    lex_next(lx);
    return LEX_MAP_KEY;
}

static int lex_map_quoted_key_text(struct conf_lexer *lx, int32_t quote, int self,
                                   const char *eof_message)
{
    int32_t r = lex_peek(lx);
    if (r == RUNE_EOF) {
        return lex_errorf(lx, "%s", eof_message);
    }
    if (r == quote) {
        if (!lex_emit(lx, CONF_ITEM_KEY)) {
            return lex_out_of_memory(lx);
        }
        lex_next(lx);
        return lex_skip(lx, LEX_MAP_KEY_END);
    }
    lex_next(lx);
    return self;
}

static int lex_map_quoted_key(struct conf_lexer *lx)
{
    return lex_map_quoted_key_text(lx, '\'', LEX_MAP_QUOTED_KEY,
                                   "Unexpected EOF processing quoted map key.");
}

static int lex_map_dub_quoted_key(struct conf_lexer *lx)
{
    return lex_map_quoted_key_text(lx, '"', LEX_MAP_DUB_QUOTED_KEY,
                                   "Unexpected EOF processing double quoted map key.");
}

static int lex_map_key(struct conf_lexer *lx)
{
    int32_t r = lex_peek(lx);
    if (r == RUNE_EOF) {
        return lex_errorf(lx, "Unexpected EOF processing map key.");
    }
    if (is_space(r)) {
        return lex_key_check_keyword(lx, LEX_MAP_KEY_END, LEX_MAP_VALUE_END);
    }
    if (is_key_separator(r)) {
        return lex_emit_then(lx, CONF_ITEM_KEY, LEX_MAP_KEY_END);
    }
    lex_next(lx);
    return LEX_MAP_KEY;
}

static int lex_map_key_end(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (is_space(r)) {
        return lex_skip(lx, LEX_MAP_KEY_END);
    }
    if (is_key_separator(r)) {
        return lex_skip(lx, LEX_MAP_VALUE);
    }
    lex_backup(lx);
    return LEX_MAP_VALUE;
}

static int lex_map_value(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (is_space(r)) {
        return lex_skip(lx, LEX_MAP_VALUE);
    }
    if (r == ',') {
        return lex_errorf(lx, "Unexpected map value terminator \",\".");
    }
    if (r == '}') {
        return lex_skip(lx, LEX_MAP_END);
    }
    lex_backup(lx);
    return lex_push_then(lx, LEX_MAP_VALUE_END, LEX_VALUE);
}

static int lex_map_value_end(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = lex_next(lx);
    if (is_whitespace(r)) {
        return lex_skip(lx, LEX_MAP_VALUE_END);
    }
    if (r == '#') {
        return lex_push_then(lx, LEX_MAP_VALUE_END, LEX_COMMENT_START);
    }
    if (r == '/') {
        if (lex_slash_comment(lx)) {
            return lex_push_then(lx, LEX_MAP_VALUE_END, LEX_COMMENT_START);
        }
        return lex_skip(lx, LEX_MAP_KEY_START);
    }
    if (r == ';' || r == ',' || is_nl(r)) {
        return lex_skip(lx, LEX_MAP_KEY_START);
    }
    if (r == '}') {
        return lex_skip(lx, LEX_MAP_END);
    }
    return lex_errorf(lx,
                      "Expected a map value terminator \",\" or a map terminator \"}\", but got "
                      "'%s' instead.",
                      rune_text(r, text));
}

static int lex_map_end(struct conf_lexer *lx)
{
    lex_ignore(lx);
    if (!lex_emit(lx, CONF_ITEM_MAP_END)) {
        return lex_out_of_memory(lx);
    }
    return lex_pop(lx);
}

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
    lex_backup(lx);
    bool emitted = escaped ? lex_emit_string(lx) : lex_emit(lx, CONF_ITEM_STRING);
    if (!emitted) {
        return lex_out_of_memory(lx);
    }
    lex_next(lx);
    lex_ignore(lx);
    return lex_pop(lx);
}

static int lex_quoted_string(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (r == '\'') {
        return lex_string_close(lx, false);
    }
    if (r == RUNE_EOF) {
        return lex_eof_or_error(lx);
    }
    return LEX_QUOTED_STRING;
}

static int lex_dub_quoted_string(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (r == '\\') {
        return lex_add_current_part(lx, 1) ? LEX_STRING_ESCAPE : lex_out_of_memory(lx);
    }
    if (r == '"') {
        return lex_string_close(lx, true);
    }
    if (r == RUNE_EOF) {
        return lex_eof_or_error(lx);
    }
    return LEX_DUB_QUOTED_STRING;
}

static int lex_string(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (r == '\\') {
        return lex_add_current_part(lx, 1) ? LEX_STRING_ESCAPE : lex_out_of_memory(lx);
    }
    if (is_nl(r) || r == RUNE_EOF || r == ';' || r == ',' || r == ']' || r == '}' ||
        is_whitespace(r)) {
        lex_backup(lx);
        bool emitted;
        bool plain = lx->parts_length == 0; /* no escapes: maybe a boolean or a $variable */
        if (plain && lex_is_bool(lx)) {
            emitted = lex_emit(lx, CONF_ITEM_BOOL);
        } else if (plain && lex_is_variable(lx)) {
            emitted = lex_emit(lx, CONF_ITEM_VARIABLE);
        } else {
            emitted = lex_emit_string(lx);
        }
        return emitted ? lex_pop(lx) : lex_out_of_memory(lx);
    }
    if (r == '\'') {
        return lex_string_close(lx, true);
    }
    return LEX_STRING;
}

/* `( … )`: raw text up to a ')' alone on its line, stepped over as lex.go steps. */
static int lex_block(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (r == RUNE_EOF) {
        return lex_errorf(lx, "Unexpected EOF processing block.");
    }
    if (r != ')') {
        return LEX_BLOCK;
    }
    lex_backup(lx);
    lex_backup(lx);
    if (lex_next(lx) != '\n') {
        lex_next(lx);
        return LEX_BLOCK;
    }
    lex_next(lx);
    int32_t after = lex_next(lx);
    if (after == '\n' || after == RUNE_EOF) {
        lex_backup(lx);
        lex_backup(lx);
        if (!lex_emit(lx, CONF_ITEM_STRING)) {
            return lex_out_of_memory(lx);
        }
        lex_next(lx);
        lex_ignore(lx);
        return lex_pop(lx);
    }
    lex_backup(lx);
    return LEX_BLOCK;
}

static int lex_string_escape(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = lex_next(lx);
    switch (r) {
    case 'x':
        return LEX_STRING_BINARY;
    case 't':
        return lex_add_escape(lx, "\t", 1);
    case 'n':
        return lex_add_escape(lx, "\n", 1);
    case 'r':
        return lex_add_escape(lx, "\r", 1);
    case '"':
        return lex_add_escape(lx, "\"", 1);
    case '\\':
        return lex_add_escape(lx, "\\", 1);
    default:
        return lex_errorf(lx,
                          "Invalid escape character '%s'. Only the following escape characters "
                          "are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                          rune_text(r, text));
    }
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Two hex digits after "\x": the last two bytes read, as lex.go takes them. */
static int lex_string_binary(struct conf_lexer *lx)
{
    static const char end_of_line[] =
        "Expected two hexadecimal digits after '\\x', but hit end of line";
    if (is_nl(lex_next(lx))) {
        return lex_errorf(lx, "%s", end_of_line);
    }
    if (is_nl(lex_next(lx))) {
        return lex_errorf(lx, "%s", end_of_line);
    }
    ASSERT(lx->pos >= 2); /* "\x" was read */
    const char *digits = lx->input + lx->pos - 2;
    int high = hex_value(digits[0]);
    int low = hex_value(digits[1]);
    if (high < 0 || low < 0) {
        return lex_errorf(lx, "Expected two hexadecimal digits after '\\x', but got '%.2s'",
                          digits);
    }
    char byte = (char)(high * 16 + low);
    return lex_add_escape(lx, &byte, 1);
}

/* ---- numbers, dates, addresses ---------------------------------------------------------- */

static int lex_digit_expected(struct conf_lexer *lx, int32_t r)
{
    char text[8];
    if (r == '.') {
        return lex_errorf(lx, "Floats must start with a digit, not '.'.");
    }
    return lex_errorf(lx, "Expected a digit but got '%s'.", rune_text(r, text));
}

static int lex_number_start(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    return is_digit(r) ? LEX_NUMBER : lex_digit_expected(lx, r);
}

static bool is_number_end(int32_t r)
{
    return is_nl(r) || r == RUNE_EOF || r == '}' || r == ';' || r == ',' || is_whitespace(r) ||
           is_digit(r);
}

static int lex_number(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (r == '-') {
        if (lx->pos - lx->start != 5) {
            return lex_errorf(lx, "All ISO8601 dates must be in full Zulu form.");
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
    lex_backup(lx);
    if (!lex_emit(lx, CONF_ITEM_INTEGER)) {
        return lex_out_of_memory(lx);
    }
    return lex_pop(lx);
}

/* After a size suffix (1k, 1Mb, 1GiB): more b/i letters, then the end of the value; any
 * other rune, a digit too, makes it a string ("4e2abc"), as since nats-server 2.15 (2.9
 * ended the number before a digit, then failed on the rest). */
static int lex_convenient_number(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (r == 'b' || r == 'B' || r == 'i' || r == 'I') {
        return LEX_CONVENIENT_NUMBER;
    }
    lex_backup(lx);
    if (is_number_end(r) && !is_digit(r)) {
        if (!lex_emit(lx, CONF_ITEM_INTEGER)) {
            return lex_out_of_memory(lx);
        }
        return lex_pop(lx);
    }
    lx->string_state = LEX_STRING;
    return LEX_STRING;
}

static int lex_date_after_year(struct conf_lexer *lx)
{
    static const char format[] = "00-00T00:00:00Z"; /* '0': a digit; else itself */
    char text[8];
    char expected[8];
    for (size_t i = 0; i < sizeof format - 1; i++) {
        int32_t r = lex_next(lx);
        if (format[i] == '0') {
            if (!is_digit(r)) {
                return lex_errorf(lx,
                                  "Expected digit in ISO8601 datetime, but found '%s' instead.",
                                  rune_text(r, text));
            }
        } else if (r != format[i]) {
            return lex_errorf(lx, "Expected '%s' in ISO8601 datetime, but found '%s' instead.",
                              rune_text(format[i], expected), rune_text(r, text));
        }
    }
    if (!lex_emit(lx, CONF_ITEM_DATETIME)) {
        return lex_out_of_memory(lx);
    }
    return lex_pop(lx);
}

static int lex_neg_number_start(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    return is_digit(r) ? LEX_NEG_NUMBER : lex_digit_expected(lx, r);
}

static int lex_neg_number(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (is_digit(r)) {
        return LEX_NEG_NUMBER;
    }
    if (r == '.') {
        return LEX_FLOAT_START;
    }
    if (is_number_suffix(r)) {
        return LEX_CONVENIENT_NUMBER;
    }
    lex_backup(lx);
    if (!lex_emit(lx, CONF_ITEM_INTEGER)) {
        return lex_out_of_memory(lx);
    }
    return lex_pop(lx);
}

static int lex_float_start(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (!is_digit(r)) {
        char text[8];
        return lex_errorf(lx, "Floats must have a digit after the '.', but got '%s' instead.",
                          rune_text(r, text));
    }
    return LEX_FLOAT;
}

static int lex_float(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (is_digit(r)) {
        return LEX_FLOAT;
    }
    if (r == '.') {
        return LEX_IP_ADDR; /* a second '.': an address such as 127.0.0.1:4222 */
    }
    lex_backup(lx);
    if (!lex_emit(lx, CONF_ITEM_FLOAT)) {
        return lex_out_of_memory(lx);
    }
    return lex_pop(lx);
}

static int lex_ip_addr(struct conf_lexer *lx)
{
    int32_t r = lex_next(lx);
    if (is_digit(r) || r == '.' || r == ':' || r == '-') {
        return LEX_IP_ADDR;
    }
    lex_backup(lx);
    if (!lex_emit(lx, CONF_ITEM_STRING)) {
        return lex_out_of_memory(lx);
    }
    return lex_pop(lx);
}

/* ---- comments --------------------------------------------------------------------------- */

static int lex_comment_start(struct conf_lexer *lx)
{
    lex_ignore(lx);
    return lex_emit_then(lx, CONF_ITEM_COMMENT_START, LEX_COMMENT);
}

static int lex_comment(struct conf_lexer *lx)
{
    int32_t r = lex_peek(lx);
    if (is_nl(r) || r == RUNE_EOF) {
        if (!lex_emit(lx, CONF_ITEM_TEXT)) {
            return lex_out_of_memory(lx);
        }
        return lex_pop(lx);
    }
    lex_next(lx);
    return LEX_COMMENT;
}

/* ---- the machine ------------------------------------------------------------------------ */

typedef int (*lex_state_fn)(struct conf_lexer *lx);

static const lex_state_fn lex_states[LEX_STATE_COUNT] = {
    [LEX_TOP] = lex_top,
    [LEX_TOP_VALUE_END] = lex_top_value_end,
    [LEX_BLOCK_START] = lex_block_start,
    [LEX_BLOCK_VALUE_END] = lex_block_value_end,
    [LEX_BLOCK_END] = lex_block_end,
    [LEX_KEY_START] = lex_key_start,
    [LEX_DUB_QUOTED_KEY] = lex_dub_quoted_key,
    [LEX_QUOTED_KEY] = lex_quoted_key,
    [LEX_KEY] = lex_key,
    [LEX_KEY_END] = lex_key_end,
    [LEX_INCLUDE_START] = lex_include_start,
    [LEX_INCLUDE] = lex_include,
    [LEX_INCLUDE_QUOTED_STRING] = lex_include_quoted_string,
    [LEX_INCLUDE_DUB_QUOTED_STRING] = lex_include_dub_quoted_string,
    [LEX_INCLUDE_STRING] = lex_include_string,
    [LEX_VALUE] = lex_value,
    [LEX_ARRAY_VALUE] = lex_array_value,
    [LEX_ARRAY_VALUE_END] = lex_array_value_end,
    [LEX_ARRAY_END] = lex_array_end,
    [LEX_MAP_KEY_START] = lex_map_key_start,
    [LEX_MAP_QUOTED_KEY] = lex_map_quoted_key,
    [LEX_MAP_DUB_QUOTED_KEY] = lex_map_dub_quoted_key,
    [LEX_MAP_KEY] = lex_map_key,
    [LEX_MAP_KEY_END] = lex_map_key_end,
    [LEX_MAP_VALUE] = lex_map_value,
    [LEX_MAP_VALUE_END] = lex_map_value_end,
    [LEX_MAP_END] = lex_map_end,
    [LEX_QUOTED_STRING] = lex_quoted_string,
    [LEX_DUB_QUOTED_STRING] = lex_dub_quoted_string,
    [LEX_STRING] = lex_string,
    [LEX_BLOCK] = lex_block,
    [LEX_STRING_ESCAPE] = lex_string_escape,
    [LEX_STRING_BINARY] = lex_string_binary,
    [LEX_NUMBER_START] = lex_number_start,
    [LEX_NUMBER] = lex_number,
    [LEX_CONVENIENT_NUMBER] = lex_convenient_number,
    [LEX_DATE_AFTER_YEAR] = lex_date_after_year,
    [LEX_NEG_NUMBER_START] = lex_neg_number_start,
    [LEX_NEG_NUMBER] = lex_neg_number,
    [LEX_FLOAT_START] = lex_float_start,
    [LEX_FLOAT] = lex_float,
    [LEX_IP_ADDR] = lex_ip_addr,
    [LEX_COMMENT_START] = lex_comment_start,
    [LEX_COMMENT] = lex_comment,
};

void conf_lexer_init(struct conf_lexer *lexer, const char *input, size_t length)
{
    memset(lexer, 0, sizeof *lexer);
    lexer->input = input;
    lexer->length = length;
    lexer->state = LEX_TOP;
    lexer->string_state = LEX_STRING;
    lexer->steps_left = (uint64_t)LEX_STEPS_PER_BYTE * ((uint64_t)length + 1) + LEX_STEPS_MIN;
}

struct conf_item conf_lexer_next(struct conf_lexer *lexer)
{
    while (!lexer->item_ready) {
        if (lexer->state == LEX_DONE) {
            return lexer->item; /* the EOF or the error again */
        }
        ASSERT(lexer->state > LEX_DONE && lexer->state < LEX_STATE_COUNT);
        ASSERT(lexer->steps_left > 0); /* every state reads or moves toward a read */
        lexer->steps_left--;
        lexer->state = lex_states[lexer->state](lexer);
    }
    lexer->item_ready = false;
    if (lexer->item.type == CONF_ITEM_ERROR || lexer->item.type == CONF_ITEM_EOF) {
        lexer->state = LEX_DONE;
    }
    return lexer->item;
}

void conf_lexer_release(struct conf_lexer *lexer)
{
    free(lexer->parts);
    free(lexer->value);
    lexer->parts = NULL;
    lexer->value = NULL;
}
