/* The configuration lexer (conf_lex*.c): nats-server's conf/lex.go state machine in C.
 *
 * Internal to proto/conf*.c. A lexer turns one buffer into items, one per call; the item's
 * text is borrowed until the next call. Errors are items too (CONF_ITEM_ERROR, with
 * nats-server's message), after which the lexer yields nothing more. Owned by the parser
 * frame that created it; one thread. */
#ifndef IONATS_PROTO_CONF_LEX_H
#define IONATS_PROTO_CONF_LEX_H

#include "proto/conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum conf_item_type {
    CONF_ITEM_ERROR,
    CONF_ITEM_NIL, /* no item yet (the parser's "previous item" before the first) */
    CONF_ITEM_EOF,
    CONF_ITEM_KEY,
    CONF_ITEM_TEXT,
    CONF_ITEM_STRING,
    CONF_ITEM_BOOL,
    CONF_ITEM_INTEGER,
    CONF_ITEM_FLOAT,
    CONF_ITEM_DATETIME,
    CONF_ITEM_ARRAY_START,
    CONF_ITEM_ARRAY_END,
    CONF_ITEM_MAP_START,
    CONF_ITEM_MAP_END,
    CONF_ITEM_COMMENT_START,
    CONF_ITEM_VARIABLE,
    CONF_ITEM_INCLUDE,
};

struct conf_item {
    enum conf_item_type type;
    const char *text; /* borrowed until the next conf_lexer_next; not NUL-terminated */
    size_t length;
    size_t offset; /* byte offset in the input where the item began (errors: the culprit) */
};

/* The lexer's stack of states to return to: a map or an array nested in a value pushes at
 * most two (its end and its value's end); a few more for a comment or an include. */
enum { CONF_LEX_STACK_MAX = 2 * CONF_NESTING_MAX + 8 };

struct conf_lexer {
    const char *input; /* borrowed: the buffer being lexed */
    size_t length;
    size_t start; /* beginning of the pending item's text (after escaped parts) */
    size_t pos;
    size_t width;       /* bytes of the rune last read, for backup */
    bool consumed;      /* the last move read a rune (an error then points before it) */
    size_t item_offset; /* where the pending item began, for positions */
    int state;          /* enum lex_state (conf_lex_internal.h); 0 when finished */
    int stack[CONF_LEX_STACK_MAX];
    size_t stack_count;
    int string_state; /* where an escape returns: a double-quoted or an unquoted string */
    char *parts;      /* owned: escaped pieces of the pending string */
    size_t parts_length;
    size_t parts_capacity;
    char *value; /* owned: an item's text when it joins parts and input */
    size_t value_capacity;
    uint64_t steps_left; /* budget of state transitions: a bounded multiple of the input */
    bool item_ready;
    bool out_of_memory; /* the error item is an allocation failure, not the input's */
    struct conf_item item;
    char message[256]; /* an error item's text */
};

void conf_lexer_init(struct conf_lexer *lexer, const char *input, size_t length);

/* The next item. After CONF_ITEM_EOF or CONF_ITEM_ERROR, further calls return the same
 * kind again. An allocation failure is an error item whose text is "out of memory". */
struct conf_item conf_lexer_next(struct conf_lexer *lexer);

void conf_lexer_release(struct conf_lexer *lexer);

#endif
