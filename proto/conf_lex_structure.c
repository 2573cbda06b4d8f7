/* The lexer's states for where keys and values stand: the top level, `{ … }` blocks, keys
 * (bare, quoted, and the `include` keyword with its path), a value's first rune, arrays,
 * maps and comments; each is lex.go's state of the same name (see conf_lex.c for the
 * machine that runs them, conf_lex_scalar.c for the values themselves). A state that
 * needs a value pushes where to come back to and returns LEX_VALUE; one that ends a map
 * or an array pops. One thread: the lexer's owner's. */
#include "proto/conf_lex_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <strings.h>

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

static bool is_key_separator(int32_t r)
{
    return r == '=' || r == ':';
}

/* "//" starts a comment; a lone '/' is put back. True when it was a comment. */
static bool lex_slash_comment(struct conf_lexer *lx)
{
    if (conf_lex_next(lx) == '/') {
        return true;
    }
    conf_lex_backup(lx);
    return false;
}

/* ---- top level and blocks --------------------------------------------------------------- */

int conf_lex_top(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (is_space(r)) {
        return conf_lex_skip(lx, LEX_TOP);
    }
    switch (r) {
    case '{':
        return conf_lex_push_then(lx, LEX_TOP, conf_lex_skip(lx, LEX_BLOCK_START));
    case '#':
        return conf_lex_push_then(lx, LEX_TOP, LEX_COMMENT_START);
    case '/':
        if (lex_slash_comment(lx)) {
            return conf_lex_push_then(lx, LEX_TOP, LEX_COMMENT_START);
        }
        return conf_lex_eof_or_error(lx);
    case RUNE_EOF:
        return conf_lex_eof_or_error(lx);
    default:
        break;
    }
    conf_lex_backup(lx);
    return conf_lex_push_then(lx, LEX_TOP_VALUE_END, LEX_KEY_START);
}

int conf_lex_top_value_end(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = conf_lex_next(lx);
    if (r == '#') {
        return conf_lex_push_then(lx, LEX_TOP, LEX_COMMENT_START);
    }
    if (r == '/') {
        if (lex_slash_comment(lx)) {
            return conf_lex_push_then(lx, LEX_TOP, LEX_COMMENT_START);
        }
        return LEX_TOP_VALUE_END; /* lex.go falls through to the blank case */
    }
    if (is_whitespace(r)) {
        return LEX_TOP_VALUE_END;
    }
    if (is_nl(r) || r == RUNE_EOF || r == ';' || r == ',' || r == '}') {
        return conf_lex_skip(lx, LEX_TOP);
    }
    return conf_lex_errorf(lx,
                           "Expected a top-level value to end with a new line, comment or EOF, but "
                           "got '%s' instead.",
                           conf_lex_rune_text(r, text));
}

int conf_lex_block_start(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (is_space(r)) {
        return conf_lex_skip(lx, LEX_BLOCK_START);
    }
    switch (r) {
    case '{':
        return conf_lex_push_then(lx, LEX_BLOCK_END, conf_lex_skip(lx, LEX_BLOCK_START));
    case '}':
        conf_lex_ignore(lx);
        return conf_lex_pop(lx);
    case '#':
        return conf_lex_push_then(lx, LEX_BLOCK_START, LEX_COMMENT_START);
    case '/':
        if (lex_slash_comment(lx)) {
            return conf_lex_push_then(lx, LEX_BLOCK_START, LEX_COMMENT_START);
        }
        return conf_lex_eof_or_error(lx);
    case RUNE_EOF:
        return conf_lex_eof_or_error(lx);
    default:
        break;
    }
    conf_lex_backup(lx);
    return conf_lex_push_then(lx, LEX_BLOCK_VALUE_END, LEX_KEY_START);
}

int conf_lex_block_value_end(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = conf_lex_next(lx);
    if (r == '#') {
        return conf_lex_push_then(lx, LEX_BLOCK_VALUE_END, LEX_COMMENT_START);
    }
    if (r == '/') {
        if (lex_slash_comment(lx)) {
            return conf_lex_push_then(lx, LEX_BLOCK_VALUE_END, LEX_COMMENT_START);
        }
        return LEX_BLOCK_VALUE_END;
    }
    if (is_whitespace(r)) {
        return LEX_BLOCK_VALUE_END;
    }
    if (is_nl(r) || r == ';' || r == ',') {
        return conf_lex_skip(lx, LEX_BLOCK_START);
    }
    if (r == '}') {
        conf_lex_backup(lx);
        return LEX_BLOCK_END;
    }
    return conf_lex_errorf(lx,
                           "Expected a block-level value to end with a new line, comment or EOF, "
                           "but got '%s' instead.",
                           conf_lex_rune_text(r, text));
}

int conf_lex_block_end(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = conf_lex_next(lx);
    if (r == '#') {
        return conf_lex_push_then(lx, LEX_BLOCK_START, LEX_COMMENT_START);
    }
    if (r == '/') {
        if (lex_slash_comment(lx)) {
            return conf_lex_push_then(lx, LEX_BLOCK_START, LEX_COMMENT_START);
        }
        return LEX_BLOCK_END;
    }
    if (is_nl(r) || is_whitespace(r)) {
        return LEX_BLOCK_END;
    }
    if (r == ';' || r == ',') {
        return conf_lex_skip(lx, LEX_BLOCK_START);
    }
    if (r == '}') {
        conf_lex_ignore(lx);
        return conf_lex_pop(lx);
    }
    return conf_lex_errorf(lx, "Expected a block-level to end with a '}', but got '%s' instead.",
                           conf_lex_rune_text(r, text));
}

/* ---- keys and include ------------------------------------------------------------------- */

int conf_lex_key_start(struct conf_lexer *lx)
{
    int32_t r = conf_lex_peek(lx);
    if (is_key_separator(r)) {
        char text[8];
        return conf_lex_errorf(lx, "Unexpected key separator '%s'", conf_lex_rune_text(r, text));
    }
    if (is_space(r)) {
        conf_lex_next(lx);
        return conf_lex_skip(lx, LEX_KEY_START);
    }
    if (r == '"') {
        conf_lex_next(lx);
        return conf_lex_skip(lx, LEX_DUB_QUOTED_KEY);
    }
    if (r == '\'') {
        conf_lex_next(lx);
        return conf_lex_skip(lx, LEX_QUOTED_KEY);
    }
    conf_lex_ignore(lx);
    conf_lex_next(lx);
    return LEX_KEY;
}

static int lex_quoted_key_text(struct conf_lexer *lx, int32_t quote, int self)
{
    int32_t r = conf_lex_peek(lx);
    if (r == quote) {
        if (!conf_lex_emit(lx, CONF_ITEM_KEY)) {
            return conf_lex_out_of_memory(lx);
        }
        conf_lex_next(lx);
        return conf_lex_skip(lx, LEX_KEY_END);
    }
    if (r == RUNE_EOF) {
        return conf_lex_eof_or_error(lx);
    }
    conf_lex_next(lx);
    return self;
}

int conf_lex_dub_quoted_key(struct conf_lexer *lx)
{
    return lex_quoted_key_text(lx, '"', LEX_DUB_QUOTED_KEY);
}

int conf_lex_quoted_key(struct conf_lexer *lx)
{
    return lex_quoted_key_text(lx, '\'', LEX_QUOTED_KEY);
}

/* lex.go's keyCheckKeyword: a key followed by a blank may be `include`. */
static int lex_key_check_keyword(struct conf_lexer *lx, int fall_through, int push)
{
    static const char include[] = "include";
    if (lx->pos - lx->start == sizeof include - 1 &&
        strncasecmp(lx->input + lx->start, include, sizeof include - 1) == 0) {
        conf_lex_ignore(lx);
        if (push != LEX_DONE) {
            return conf_lex_push_then(lx, push, LEX_INCLUDE_START);
        }
        return LEX_INCLUDE_START;
    }
    return conf_lex_emit_then(lx, CONF_ITEM_KEY, fall_through);
}

int conf_lex_include_start(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (is_whitespace(r)) {
        return conf_lex_skip(lx, LEX_INCLUDE_START);
    }
    conf_lex_backup(lx);
    return LEX_INCLUDE;
}

/* The closing quote of a quoted include: emit the path, drop the quote. */
static int lex_include_close(struct conf_lexer *lx)
{
    conf_lex_backup(lx);
    if (!conf_lex_emit(lx, CONF_ITEM_INCLUDE)) {
        return conf_lex_out_of_memory(lx);
    }
    conf_lex_next(lx);
    conf_lex_ignore(lx);
    return conf_lex_pop(lx);
}

int conf_lex_include_quoted_string(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (r == '\'') {
        return lex_include_close(lx);
    }
    if (r == RUNE_EOF) {
        return conf_lex_errorf(lx, "Unexpected EOF in quoted include");
    }
    return LEX_INCLUDE_QUOTED_STRING;
}

int conf_lex_include_dub_quoted_string(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (r == '"') {
        return lex_include_close(lx);
    }
    if (r == RUNE_EOF) {
        return conf_lex_errorf(lx, "Unexpected EOF in double quoted include");
    }
    return LEX_INCLUDE_DUB_QUOTED_STRING;
}

int conf_lex_include_string(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (is_nl(r) || r == RUNE_EOF || r == ';' || r == '}' || is_whitespace(r)) {
        conf_lex_backup(lx);
        if (!conf_lex_emit(lx, CONF_ITEM_INCLUDE)) {
            return conf_lex_out_of_memory(lx);
        }
        return conf_lex_pop(lx);
    }
    if (r == '\'') {
        return lex_include_close(lx);
    }
    return LEX_INCLUDE_STRING;
}

int conf_lex_include(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (r == '\'') {
        return conf_lex_skip(lx, LEX_INCLUDE_QUOTED_STRING);
    }
    if (r == '"') {
        return conf_lex_skip(lx, LEX_INCLUDE_DUB_QUOTED_STRING);
    }
    if (r == '[') {
        return conf_lex_errorf(lx, "Expected include value but found start of an array");
    }
    if (r == '{') {
        return conf_lex_errorf(lx, "Expected include value but found start of a map");
    }
    if (r == '(') {
        return conf_lex_errorf(lx, "Expected include value but found start of a block");
    }
    if (is_digit(r) || r == '-') {
        return conf_lex_errorf(lx, "Expected include value but found start of a number");
    }
    if (r == '\\') {
        return conf_lex_errorf(lx, "Expected include value but found escape sequence");
    }
    if (is_nl(r)) {
        return conf_lex_errorf(lx, "Expected include value but found new line");
    }
    conf_lex_backup(lx);
    return LEX_INCLUDE_STRING;
}

int conf_lex_key(struct conf_lexer *lx)
{
    int32_t r = conf_lex_peek(lx);
    if (is_space(r)) {
        return lex_key_check_keyword(lx, LEX_KEY_END, LEX_DONE);
    }
    if (is_key_separator(r) || r == RUNE_EOF) {
        return conf_lex_emit_then(lx, CONF_ITEM_KEY, LEX_KEY_END);
    }
    conf_lex_next(lx);
    return LEX_KEY;
}

int conf_lex_key_end(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (is_space(r)) {
        return conf_lex_skip(lx, LEX_KEY_END);
    }
    if (is_key_separator(r)) {
        return conf_lex_skip(lx, LEX_VALUE);
    }
    if (r == RUNE_EOF) {
        return conf_lex_emit_then(lx, CONF_ITEM_EOF, LEX_DONE);
    }
    conf_lex_backup(lx);
    return LEX_VALUE;
}

/* ---- values, arrays, maps --------------------------------------------------------------- */

int conf_lex_value(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (is_whitespace(r)) {
        return conf_lex_skip(lx, LEX_VALUE);
    }
    if (r == '[') {
        conf_lex_ignore(lx);
        return conf_lex_emit_then(lx, CONF_ITEM_ARRAY_START, LEX_ARRAY_VALUE);
    }
    if (r == '{') {
        conf_lex_ignore(lx);
        return conf_lex_emit_then(lx, CONF_ITEM_MAP_START, LEX_MAP_KEY_START);
    }
    if (r == '\'') {
        return conf_lex_skip(lx, LEX_QUOTED_STRING);
    }
    if (r == '"') {
        conf_lex_ignore(lx);
        lx->string_state = LEX_DUB_QUOTED_STRING;
        return LEX_DUB_QUOTED_STRING;
    }
    if (r == '-') {
        return LEX_NEG_NUMBER_START;
    }
    if (r == '(') {
        return conf_lex_skip(lx, LEX_BLOCK);
    }
    if (is_digit(r)) {
        conf_lex_backup(lx);
        return LEX_NUMBER_START;
    }
    if (r == '.') {
        return conf_lex_errorf(lx, "Floats must start with a digit");
    }
    if (is_nl(r)) {
        return conf_lex_errorf(lx, "Expected value but found new line");
    }
    conf_lex_backup(lx);
    lx->string_state = LEX_STRING;
    return LEX_STRING;
}

int conf_lex_array_value(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (is_space(r)) {
        return conf_lex_skip(lx, LEX_ARRAY_VALUE);
    }
    if (r == '#') {
        return conf_lex_push_then(lx, LEX_ARRAY_VALUE, LEX_COMMENT_START);
    }
    if (r == '/') {
        if (lex_slash_comment(lx)) {
            return conf_lex_push_then(lx, LEX_ARRAY_VALUE, LEX_COMMENT_START);
        }
        /* lex.go falls through to the terminator's error */
        return conf_lex_errorf(lx, "Unexpected array value terminator ','.");
    }
    if (r == ',') {
        return conf_lex_errorf(lx, "Unexpected array value terminator ','.");
    }
    if (r == ']') {
        return LEX_ARRAY_END;
    }
    conf_lex_backup(lx);
    return conf_lex_push_then(lx, LEX_ARRAY_VALUE_END, LEX_VALUE);
}

int conf_lex_array_value_end(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = conf_lex_next(lx);
    if (is_whitespace(r)) {
        return conf_lex_skip(lx, LEX_ARRAY_VALUE_END);
    }
    if (r == '#') {
        return conf_lex_push_then(lx, LEX_ARRAY_VALUE_END, LEX_COMMENT_START);
    }
    if (r == '/') {
        if (lex_slash_comment(lx)) {
            return conf_lex_push_then(lx, LEX_ARRAY_VALUE_END, LEX_COMMENT_START);
        }
        return conf_lex_skip(lx, LEX_ARRAY_VALUE);
    }
    if (r == ',' || is_nl(r)) {
        return conf_lex_skip(lx, LEX_ARRAY_VALUE);
    }
    if (r == ']') {
        return LEX_ARRAY_END;
    }
    return conf_lex_errorf(lx,
                           "Expected an array value terminator \",\" or an array terminator \"]\", "
                           "but got '%s' instead.",
                           conf_lex_rune_text(r, text));
}

int conf_lex_array_end(struct conf_lexer *lx)
{
    conf_lex_ignore(lx);
    if (!conf_lex_emit(lx, CONF_ITEM_ARRAY_END)) {
        return conf_lex_out_of_memory(lx);
    }
    return conf_lex_pop(lx);
}

int conf_lex_map_key_start(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = conf_lex_peek(lx);
    if (is_key_separator(r)) {
        return conf_lex_errorf(lx, "Unexpected key separator '%s'.", conf_lex_rune_text(r, text));
    }
    if (r == ']') {
        return conf_lex_errorf(lx, "Unexpected array end '%s' processing map.",
                               conf_lex_rune_text(r, text));
    }
    if (is_space(r)) {
        conf_lex_next(lx);
        return conf_lex_skip(lx, LEX_MAP_KEY_START);
    }
    if (r == '}') {
        conf_lex_next(lx);
        return conf_lex_skip(lx, LEX_MAP_END);
    }
    if (r == '#') {
        conf_lex_next(lx);
        return conf_lex_push_then(lx, LEX_MAP_KEY_START, LEX_COMMENT_START);
    }
    if (r == '/') {
        conf_lex_next(lx);
        if (lex_slash_comment(lx)) {
            return conf_lex_push_then(lx, LEX_MAP_KEY_START, LEX_COMMENT_START);
        }
        /* lex.go leaves the '/' read: the key starts after it */
    } else if (r == '\'') {
        conf_lex_next(lx);
        return conf_lex_skip(lx, LEX_MAP_QUOTED_KEY);
    } else if (r == '"') {
        conf_lex_next(lx);
        return conf_lex_skip(lx, LEX_MAP_DUB_QUOTED_KEY);
    } else if (r == RUNE_EOF) {
        return conf_lex_errorf(lx, "Unexpected EOF processing map.");
    }
    conf_lex_ignore(lx);
    conf_lex_next(lx);
    return LEX_MAP_KEY;
}

static int lex_map_quoted_key_text(struct conf_lexer *lx, int32_t quote, int self,
                                   const char *eof_message)
{
    int32_t r = conf_lex_peek(lx);
    if (r == RUNE_EOF) {
        return conf_lex_errorf(lx, "%s", eof_message);
    }
    if (r == quote) {
        if (!conf_lex_emit(lx, CONF_ITEM_KEY)) {
            return conf_lex_out_of_memory(lx);
        }
        conf_lex_next(lx);
        return conf_lex_skip(lx, LEX_MAP_KEY_END);
    }
    conf_lex_next(lx);
    return self;
}

int conf_lex_map_quoted_key(struct conf_lexer *lx)
{
    return lex_map_quoted_key_text(lx, '\'', LEX_MAP_QUOTED_KEY,
                                   "Unexpected EOF processing quoted map key.");
}

int conf_lex_map_dub_quoted_key(struct conf_lexer *lx)
{
    return lex_map_quoted_key_text(lx, '"', LEX_MAP_DUB_QUOTED_KEY,
                                   "Unexpected EOF processing double quoted map key.");
}

int conf_lex_map_key(struct conf_lexer *lx)
{
    int32_t r = conf_lex_peek(lx);
    if (r == RUNE_EOF) {
        return conf_lex_errorf(lx, "Unexpected EOF processing map key.");
    }
    if (is_space(r)) {
        return lex_key_check_keyword(lx, LEX_MAP_KEY_END, LEX_MAP_VALUE_END);
    }
    if (is_key_separator(r)) {
        return conf_lex_emit_then(lx, CONF_ITEM_KEY, LEX_MAP_KEY_END);
    }
    conf_lex_next(lx);
    return LEX_MAP_KEY;
}

int conf_lex_map_key_end(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (is_space(r)) {
        return conf_lex_skip(lx, LEX_MAP_KEY_END);
    }
    if (is_key_separator(r)) {
        return conf_lex_skip(lx, LEX_MAP_VALUE);
    }
    conf_lex_backup(lx);
    return LEX_MAP_VALUE;
}

int conf_lex_map_value(struct conf_lexer *lx)
{
    int32_t r = conf_lex_next(lx);
    if (is_space(r)) {
        return conf_lex_skip(lx, LEX_MAP_VALUE);
    }
    if (r == ',') {
        return conf_lex_errorf(lx, "Unexpected map value terminator \",\".");
    }
    if (r == '}') {
        return conf_lex_skip(lx, LEX_MAP_END);
    }
    conf_lex_backup(lx);
    return conf_lex_push_then(lx, LEX_MAP_VALUE_END, LEX_VALUE);
}

int conf_lex_map_value_end(struct conf_lexer *lx)
{
    char text[8];
    int32_t r = conf_lex_next(lx);
    if (is_whitespace(r)) {
        return conf_lex_skip(lx, LEX_MAP_VALUE_END);
    }
    if (r == '#') {
        return conf_lex_push_then(lx, LEX_MAP_VALUE_END, LEX_COMMENT_START);
    }
    if (r == '/') {
        if (lex_slash_comment(lx)) {
            return conf_lex_push_then(lx, LEX_MAP_VALUE_END, LEX_COMMENT_START);
        }
        return conf_lex_skip(lx, LEX_MAP_KEY_START);
    }
    if (r == ';' || r == ',' || is_nl(r)) {
        return conf_lex_skip(lx, LEX_MAP_KEY_START);
    }
    if (r == '}') {
        return conf_lex_skip(lx, LEX_MAP_END);
    }
    return conf_lex_errorf(lx,
                           "Expected a map value terminator \",\" or a map terminator \"}\", "
                           "but got '%s' instead.",
                           conf_lex_rune_text(r, text));
}

int conf_lex_map_end(struct conf_lexer *lx)
{
    conf_lex_ignore(lx);
    if (!conf_lex_emit(lx, CONF_ITEM_MAP_END)) {
        return conf_lex_out_of_memory(lx);
    }
    return conf_lex_pop(lx);
}

/* ---- comments --------------------------------------------------------------------------- */

int conf_lex_comment_start(struct conf_lexer *lx)
{
    conf_lex_ignore(lx);
    return conf_lex_emit_then(lx, CONF_ITEM_COMMENT_START, LEX_COMMENT);
}

int conf_lex_comment(struct conf_lexer *lx)
{
    int32_t r = conf_lex_peek(lx);
    if (is_nl(r) || r == RUNE_EOF) {
        if (!conf_lex_emit(lx, CONF_ITEM_TEXT)) {
            return conf_lex_out_of_memory(lx);
        }
        return conf_lex_pop(lx);
    }
    conf_lex_next(lx);
    return LEX_COMMENT;
}
