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
 * also takes other scripts' digits, which then fail to parse as integers there).
 *
 * This file owns the runes, the primitives the states are written with and the machine
 * that runs them; the states are in conf_lex_structure.c and conf_lex_scalar.c (what the
 * three share is conf_lex_internal.h). One thread: the lexer's owner's. */
#include "proto/conf_lex.h"

#include "base/assert.h"
#include "proto/conf_lex_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* State transitions allowed per input byte: each transition reads a rune or moves toward
 * one through at most a handful of non-reading states (skip, pop, comment start). Running
 * out is a lexer bug, not an input error. */
enum { LEX_STEPS_PER_BYTE = 16, LEX_STEPS_MIN = 64 };

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

const char *conf_lex_rune_text(int32_t r, char buffer[8])
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

int32_t conf_lex_next(struct conf_lexer *lx)
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

void conf_lex_backup(struct conf_lexer *lx)
{
    ASSERT(lx->pos >= lx->width); /* lex.go steps back at most over what it read */
    lx->pos -= lx->width;
    lx->consumed = false;
}

int32_t conf_lex_peek(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    conf_lex_backup(lx);
    return r;
}

void conf_lex_ignore(struct conf_lexer *lx)
{
    lx->start = lx->pos;
    lx->item_offset = lx->pos;
}

int conf_lex_skip(struct conf_lexer *lx, int next)
{
    conf_lex_ignore(lx);
    return next;
}

static int lex_fail(struct conf_lexer *lx, size_t offset)
{
    lx->item = (struct conf_item){.type = CONF_ITEM_ERROR, .text = lx->message,
                                  .length = strlen(lx->message), .offset = offset};
    lx->item_ready = true;
    return LEX_DONE;
}

int conf_lex_errorf(struct conf_lexer *lx, const char *format, ...)
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

int conf_lex_out_of_memory(struct conf_lexer *lx)
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

bool conf_lex_emit(struct conf_lexer *lx, enum conf_item_type type)
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

bool conf_lex_emit_string(struct conf_lexer *lx)
{
    bool emitted = conf_lex_emit(lx, CONF_ITEM_STRING);
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

bool conf_lex_add_current_part(struct conf_lexer *lx, size_t offset)
{
    ASSERT(lx->pos - lx->start >= offset);
    bool added = lex_add_part(lx, lx->input + lx->start, lx->pos - lx->start - offset);
    lx->start = lx->pos;
    return added;
}

int conf_lex_add_escape(struct conf_lexer *lx, const char *bytes, size_t length)
{
    if (!lex_add_part(lx, bytes, length)) {
        return conf_lex_out_of_memory(lx);
    }
    lx->start = lx->pos;
    return lx->string_state;
}

/* False (with the error item set) when the stack is full: nesting past the bound. */
static bool lex_push(struct conf_lexer *lx, int state)
{
    if (lx->stack_count == CONF_LEX_STACK_MAX) {
        conf_lex_errorf(lx, "nested deeper than %d levels", CONF_NESTING_MAX);
        return false;
    }
    lx->stack[lx->stack_count++] = state;
    return true;
}

int conf_lex_pop(struct conf_lexer *lx)
{
    if (lx->stack_count == 0) {
        return conf_lex_errorf(lx, "BUG in lexer: no states to pop.");
    }
    return lx->stack[--lx->stack_count];
}

int conf_lex_push_then(struct conf_lexer *lx, int state, int next)
{
    return lex_push(lx, state) ? next : LEX_DONE;
}

int conf_lex_eof_or_error(struct conf_lexer *lx)
{
    if (lx->pos > lx->start) {
        return conf_lex_errorf(lx, "Unexpected EOF.");
    }
    return conf_lex_emit(lx, CONF_ITEM_EOF) ? LEX_DONE : conf_lex_out_of_memory(lx);
}

int conf_lex_emit_then(struct conf_lexer *lx, enum conf_item_type type, int next)
{
    return conf_lex_emit(lx, type) ? next : conf_lex_out_of_memory(lx);
}

/* ---- the machine ------------------------------------------------------------------------ */

typedef int (*lex_state_fn)(struct conf_lexer *lx);

static const lex_state_fn lex_states[LEX_STATE_COUNT] = {
    [LEX_TOP] = conf_lex_top,
    [LEX_TOP_VALUE_END] = conf_lex_top_value_end,
    [LEX_BLOCK_START] = conf_lex_block_start,
    [LEX_BLOCK_VALUE_END] = conf_lex_block_value_end,
    [LEX_BLOCK_END] = conf_lex_block_end,
    [LEX_KEY_START] = conf_lex_key_start,
    [LEX_DUB_QUOTED_KEY] = conf_lex_dub_quoted_key,
    [LEX_QUOTED_KEY] = conf_lex_quoted_key,
    [LEX_KEY] = conf_lex_key,
    [LEX_KEY_END] = conf_lex_key_end,
    [LEX_INCLUDE_START] = conf_lex_include_start,
    [LEX_INCLUDE] = conf_lex_include,
    [LEX_INCLUDE_QUOTED_STRING] = conf_lex_include_quoted_string,
    [LEX_INCLUDE_DUB_QUOTED_STRING] = conf_lex_include_dub_quoted_string,
    [LEX_INCLUDE_STRING] = conf_lex_include_string,
    [LEX_VALUE] = conf_lex_value,
    [LEX_ARRAY_VALUE] = conf_lex_array_value,
    [LEX_ARRAY_VALUE_END] = conf_lex_array_value_end,
    [LEX_ARRAY_END] = conf_lex_array_end,
    [LEX_MAP_KEY_START] = conf_lex_map_key_start,
    [LEX_MAP_QUOTED_KEY] = conf_lex_map_quoted_key,
    [LEX_MAP_DUB_QUOTED_KEY] = conf_lex_map_dub_quoted_key,
    [LEX_MAP_KEY] = conf_lex_map_key,
    [LEX_MAP_KEY_END] = conf_lex_map_key_end,
    [LEX_MAP_VALUE] = conf_lex_map_value,
    [LEX_MAP_VALUE_END] = conf_lex_map_value_end,
    [LEX_MAP_END] = conf_lex_map_end,
    [LEX_QUOTED_STRING] = conf_lex_quoted_string,
    [LEX_DUB_QUOTED_STRING] = conf_lex_dub_quoted_string,
    [LEX_STRING] = conf_lex_string,
    [LEX_BLOCK] = conf_lex_block,
    [LEX_STRING_ESCAPE] = conf_lex_string_escape,
    [LEX_STRING_BINARY] = conf_lex_string_binary,
    [LEX_NUMBER_START] = conf_lex_number_start,
    [LEX_NUMBER] = conf_lex_number,
    [LEX_CONVENIENT_NUMBER] = conf_lex_convenient_number,
    [LEX_DATE_AFTER_YEAR] = conf_lex_date_after_year,
    [LEX_NEG_NUMBER_START] = conf_lex_neg_number_start,
    [LEX_NEG_NUMBER] = conf_lex_neg_number,
    [LEX_FLOAT_START] = conf_lex_float_start,
    [LEX_FLOAT] = conf_lex_float,
    [LEX_IP_ADDR] = conf_lex_ip_addr,
    [LEX_COMMENT_START] = conf_lex_comment_start,
    [LEX_COMMENT] = conf_lex_comment,
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
