/* What the lexer's files share, and nobody else uses: its states, the rune classes more
 * than one file asks for, and the primitives every state is written with.
 *
 * The one idea: a state is a function that reads runes and returns the next state (see
 * conf_lex.c). conf_lex.c owns the runes, the primitives (lex.go's next, backup, peek,
 * ignore, emit, errorf, the stack) and the machine that calls a state per step;
 * conf_lex_structure.c owns the states of where keys and values stand (the top level,
 * blocks, keys and include, arrays and maps, comments); conf_lex_scalar.c those of the
 * values themselves (strings, escapes, `( … )` blocks, numbers, dates, addresses). One
 * thread: the lexer's owner's. */
#ifndef IONATS_PROTO_CONF_LEX_INTERNAL_H
#define IONATS_PROTO_CONF_LEX_INTERNAL_H

#include "proto/conf_lex.h"

#include <stdbool.h>
#include <stdint.h>

enum { RUNE_EOF = 0, RUNE_ERROR = 0xFFFD };

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

/* ---- rune classes (lex.go's isWhitespace, isNL, unicode.IsDigit for ASCII) -------------- */

static inline bool is_whitespace(int32_t r)
{
    return r == '\t' || r == ' ';
}

static inline bool is_nl(int32_t r)
{
    return r == '\n' || r == '\r';
}

static inline bool is_digit(int32_t r)
{
    return r >= '0' && r <= '9';
}

/* ---- primitives (conf_lex.c) ------------------------------------------------------------ */

/* A rune as lex.go prints it in an error: a new line as "\n", the end of input as nothing
 * (Go prints a NUL byte there), anything else as its UTF-8 bytes. */
const char *conf_lex_rune_text(int32_t r, char buffer[8]);

int32_t conf_lex_next(struct conf_lexer *lx);
void conf_lex_backup(struct conf_lexer *lx);
int32_t conf_lex_peek(struct conf_lexer *lx);
void conf_lex_ignore(struct conf_lexer *lx);

/* lex.go's lexSkip: drop what was read and go on with `next`. */
int conf_lex_skip(struct conf_lexer *lx, int next);

/* lex.go's errorf: an error item placed at the rune just read (or at the one looked at);
 * after a new line, at the start of the next line, where lex.go counts it ("on line N").
 * Returns LEX_DONE. */
int conf_lex_errorf(struct conf_lexer *lx, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* The "out of memory" error item. Returns LEX_DONE. */
int conf_lex_out_of_memory(struct conf_lexer *lx);

/* Emits the pending text, escaped parts first, as lex.go's emit does (which keeps the
 * parts: only conf_lex_emit_string clears them). Returns false when memory ran out. */
bool conf_lex_emit(struct conf_lexer *lx, enum conf_item_type type);
bool conf_lex_emit_string(struct conf_lexer *lx);

/* Emits an item, then returns `next` (or the error when memory ran out). */
int conf_lex_emit_then(struct conf_lexer *lx, enum conf_item_type type, int next);

/* lex.go's addCurrentStringPart: keep the text read so far, less `offset` bytes (the
 * backslash). */
bool conf_lex_add_current_part(struct conf_lexer *lx, size_t offset);

/* lex.go's addStringPart: an escape's meaning, then back to the string being read. */
int conf_lex_add_escape(struct conf_lexer *lx, const char *bytes, size_t length);

/* Pushes `state` and returns `next`, or the error when the stack is full. */
int conf_lex_push_then(struct conf_lexer *lx, int state, int next);
int conf_lex_pop(struct conf_lexer *lx);

/* The end of input where a key or a value may begin: clean when nothing is pending. */
int conf_lex_eof_or_error(struct conf_lexer *lx);

/* ---- where keys and values stand (conf_lex_structure.c) --------------------------------- */

int conf_lex_top(struct conf_lexer *lx);
int conf_lex_top_value_end(struct conf_lexer *lx);
int conf_lex_block_start(struct conf_lexer *lx);
int conf_lex_block_value_end(struct conf_lexer *lx);
int conf_lex_block_end(struct conf_lexer *lx);
int conf_lex_key_start(struct conf_lexer *lx);
int conf_lex_dub_quoted_key(struct conf_lexer *lx);
int conf_lex_quoted_key(struct conf_lexer *lx);
int conf_lex_key(struct conf_lexer *lx);
int conf_lex_key_end(struct conf_lexer *lx);
int conf_lex_include_start(struct conf_lexer *lx);
int conf_lex_include(struct conf_lexer *lx);
int conf_lex_include_quoted_string(struct conf_lexer *lx);
int conf_lex_include_dub_quoted_string(struct conf_lexer *lx);
int conf_lex_include_string(struct conf_lexer *lx);
int conf_lex_value(struct conf_lexer *lx);
int conf_lex_array_value(struct conf_lexer *lx);
int conf_lex_array_value_end(struct conf_lexer *lx);
int conf_lex_array_end(struct conf_lexer *lx);
int conf_lex_map_key_start(struct conf_lexer *lx);
int conf_lex_map_quoted_key(struct conf_lexer *lx);
int conf_lex_map_dub_quoted_key(struct conf_lexer *lx);
int conf_lex_map_key(struct conf_lexer *lx);
int conf_lex_map_key_end(struct conf_lexer *lx);
int conf_lex_map_value(struct conf_lexer *lx);
int conf_lex_map_value_end(struct conf_lexer *lx);
int conf_lex_map_end(struct conf_lexer *lx);
int conf_lex_comment_start(struct conf_lexer *lx);
int conf_lex_comment(struct conf_lexer *lx);

/* ---- the values themselves (conf_lex_scalar.c) ------------------------------------------ */

int conf_lex_quoted_string(struct conf_lexer *lx);
int conf_lex_dub_quoted_string(struct conf_lexer *lx);
int conf_lex_string(struct conf_lexer *lx);
int conf_lex_block(struct conf_lexer *lx);
int conf_lex_string_escape(struct conf_lexer *lx);
int conf_lex_string_binary(struct conf_lexer *lx);
int conf_lex_number_start(struct conf_lexer *lx);
int conf_lex_number(struct conf_lexer *lx);
int conf_lex_convenient_number(struct conf_lexer *lx);
int conf_lex_date_after_year(struct conf_lexer *lx);
int conf_lex_neg_number_start(struct conf_lexer *lx);
int conf_lex_neg_number(struct conf_lexer *lx);
int conf_lex_float_start(struct conf_lexer *lx);
int conf_lex_float(struct conf_lexer *lx);
int conf_lex_ip_addr(struct conf_lexer *lx);

#endif
