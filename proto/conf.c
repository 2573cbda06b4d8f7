/* The configuration parser: items from conf_lex.c into a tree (see conf.h).
 *
 * It follows nats-server's conf/parse.go in pedantic mode, the one nats-server loads files
 * with: a stack of open maps and arrays (values are set into the top one), a stack of keys
 * waiting for their values (a map pops one per value; a value dropped for an unknown size
 * suffix leaves its key behind, as there, so the next map closed takes that key), and
 * positions moved from each value to its key. A nested parse is a frame on an explicit
 * stack: an included file is parsed on its own (it sees none of the including file's
 * variables) and its keys are then set into the map that held the `include`; a `$name`
 * not found in the open maps pushes a frame that parses "pk=<the variable's value>" and
 * hands back pk's value. Frames of environment values check the names being resolved
 * below them for a cycle, as nats-server does since 2.11 (2.9 recursed until it crashed).
 *
 * Everything the tree holds is allocated from the document's arena and freed with it; the
 * growing arrays of open maps and arrays are the parser's until they close. One thread. */
#include "proto/conf.h"

#include "base/assert.h"
#include "proto/conf_lex.h"

#include <errno.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the document's arena ------------------------------------------------------------- */

struct arena_block {
    struct arena_block *next;
    max_align_t data[]; /* the allocation, aligned for anything */
};

struct conf_doc {
    struct arena_block *blocks; /* owned: every node, string and array of the tree */
    struct conf_node *root;
    size_t node_count;
};

static void *arena_alloc(struct conf_doc *doc, size_t size)
{
    if (size > SIZE_MAX - sizeof(struct arena_block)) {
        return NULL;
    }
    struct arena_block *block = malloc(sizeof *block + size);
    if (block == NULL) {
        return NULL;
    }
    block->next = doc->blocks;
    doc->blocks = block;
    return block->data;
}

char *conf_doc_strdup(struct conf_doc *doc, const char *text, size_t length)
{
    if (length == SIZE_MAX) {
        return NULL;
    }
    char *copy = arena_alloc(doc, length + 1);
    if (copy != NULL) {
        if (length > 0) {
            memcpy(copy, text, length);
        }
        copy[length] = '\0';
    }
    return copy;
}

void conf_doc_free(struct conf_doc *doc)
{
    if (doc == NULL) {
        return;
    }
    struct arena_block *block = doc->blocks;
    while (block != NULL) {
        struct arena_block *next = block->next;
        free(block);
        block = next;
    }
    free(doc);
}

const struct conf_node *conf_doc_root(const struct conf_doc *doc)
{
    return doc->root;
}

/* ---- the parser's state ---------------------------------------------------------------- */

enum frame_kind {
    FRAME_FILE, /* the file given, or an included one */
    FRAME_ENV,  /* "pk=<value>" of an environment variable */
};

/* A map or an array being filled; its node gets the content when it closes. */
struct open_value {
    struct conf_node *node;      /* arena */
    struct conf_member *members; /* owned until close (CONF_MAP) */
    struct conf_node **items;    /* owned until close (CONF_ARRAY) */
    size_t count;
    size_t capacity;
};

struct pending_key {
    const char *key; /* arena */
    size_t length;
    struct conf_position position;
};

struct frame {
    enum frame_kind kind;
    struct conf_lexer lexer;
    char *text;       /* owned: what the lexer reads; NULL for the first file (borrowed) */
    const char *file; /* arena: the file values are placed in */
    const char *dir;  /* arena: where this frame's includes are looked for */
    const char *name; /* arena: FRAME_ENV: the variable; an include: its text; else NULL */
    /* The $name or include in the frame below that started this one, and that item's line
     * in the frame below's own text (messages say "on line N" as nats-server does). */
    struct conf_position origin;
    int origin_line;
    struct open_value *values; /* owned: values[0] is the frame's top-level map */
    size_t value_count;
    size_t value_capacity;
    struct pending_key *keys; /* owned */
    size_t key_count;
    size_t key_capacity;
    enum conf_item_type previous; /* the last item, for the check at the end of input */
    bool previous_is_brace;
    /* Line lookup cache: the line and its first byte at `cache_offset`. */
    size_t cache_offset;
    size_t cache_line_start;
    int cache_line;
};

struct parser {
    struct conf_doc *doc;
    const struct conf_reader *reader;
    struct conf_error *error;
    struct frame frames[CONF_FRAME_DEPTH_MAX];
    size_t frame_count;
};

/* What handling an item led to. */
enum {
    STEP_OK = 0,
    STEP_PUSHED = 1, /* a frame was pushed: go on with it */
};

/* ---- positions and errors --------------------------------------------------------------- */

/* Line (from 1) and column (byte, from 1) of `offset` in the frame's text; offsets mostly
 * grow, so the scan resumes from the last answer. */
static void frame_locate(struct frame *f, size_t offset, int *line, int *column)
{
    const char *input = f->lexer.input;
    if (offset > f->lexer.length) {
        offset = f->lexer.length;
    }
    if (offset < f->cache_offset) {
        f->cache_offset = 0;
        f->cache_line_start = 0;
        f->cache_line = 1;
    }
    for (size_t i = f->cache_offset; i < offset; i++) {
        if (input[i] == '\n') {
            f->cache_line++;
            f->cache_line_start = i + 1;
        }
    }
    f->cache_offset = offset;
    *line = f->cache_line;
    *column = (int)(offset - f->cache_line_start) + 1;
}

/* Where a value read at `offset` is placed: its own place in a file, or the $name that
 * read an environment value. */
static struct conf_position frame_position(struct frame *f, size_t offset)
{
    if (f->kind == FRAME_ENV) {
        return f->origin;
    }
    struct conf_position position = {.file = f->file};
    frame_locate(f, offset, &position.line, &position.column);
    return position;
}

static int frame_line(struct frame *f, size_t offset)
{
    int line;
    int column;
    frame_locate(f, offset, &line, &column);
    return line;
}

/* snprintf that may cut: messages are bounded, the cut end is the least useful part. */
__attribute__((format(printf, 3, 4))) static void text_format(char *buffer, size_t size,
                                                               const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(buffer, size, format, args);
    va_end(args);
}

static int parser_error_set(struct parser *p, struct conf_position position,
                            const char *format, va_list args)
{
    text_format(p->error->file, sizeof p->error->file, "%s", position.file);
    p->error->line = position.line;
    p->error->column = position.column;
    vsnprintf(p->error->message, sizeof p->error->message, format, args);
    return -EINVAL;
}

/* Fails at `offset` in the top frame (at the $name that read it, in an environment
 * value). Returns -EINVAL. */
__attribute__((format(printf, 4, 5))) static int parser_fail(struct parser *p, struct frame *f,
                                                              size_t offset, const char *format,
                                                              ...)
{
    va_list args;
    va_start(args, format);
    int rc = parser_error_set(p, frame_position(f, offset), format, args);
    va_end(args);
    return rc;
}

__attribute__((format(printf, 3, 4))) static int parser_fail_at(struct parser *p,
                                                                 struct conf_position position,
                                                                 const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int rc = parser_error_set(p, position, format, args);
    va_end(args);
    return rc;
}

static int parser_out_of_memory(struct parser *p, struct frame *f)
{
    parser_fail(p, f, f->lexer.pos, "out of memory");
    return -ENOMEM;
}

/* Wraps the error as the frame below sees a failed nested parse; when the wrapping no
 * longer fits, the innermost words (the cause) are kept rather than the outer ones. */
static void parser_wrap_error(struct parser *p, const struct frame *f)
{
    enum { WRAPPING_MAX = 96 }; /* the longest wrapper text, less the name */
    char inner[CONF_ERROR_MESSAGE_SIZE];
    memcpy(inner, p->error->message, sizeof inner);
    if (strlen(inner) + strlen(f->name) + WRAPPING_MAX >= sizeof inner) {
        return;
    }
    if (f->kind == FRAME_ENV) {
        text_format(p->error->message, sizeof p->error->message,
                    "variable reference for '%s' on line %d could not be parsed: %s", f->name,
                    f->origin_line, inner);
    } else {
        text_format(p->error->message, sizeof p->error->message,
                    "error parsing include file '%s', %s", f->name, inner);
    }
}

/* ---- nodes ----------------------------------------------------------------------------- */

static struct conf_node *node_new(struct parser *p, enum conf_type type,
                                  struct conf_position position)
{
    if (p->doc->node_count == CONF_NODES_MAX) {
        return NULL;
    }
    struct conf_node *node = arena_alloc(p->doc, sizeof *node);
    if (node != NULL) {
        memset(node, 0, sizeof *node);
        node->type = type;
        node->position = position;
        p->doc->node_count++;
    }
    return node;
}

/* -ENOMEM, or -EINVAL when the tree reached CONF_NODES_MAX. */
static int node_failure(struct parser *p, struct frame *f)
{
    if (p->doc->node_count == CONF_NODES_MAX) {
        return parser_fail(p, f, f->lexer.pos, "more than %d values", CONF_NODES_MAX);
    }
    return parser_out_of_memory(p, f);
}

static struct conf_node *node_string(struct parser *p, struct conf_position position,
                                     enum conf_type type, const char *text, size_t length)
{
    struct conf_node *node = node_new(p, type, position);
    if (node == NULL) {
        return NULL;
    }
    node->as.string.bytes = conf_doc_strdup(p->doc, text, length);
    node->as.string.length = length;
    return node->as.string.bytes != NULL ? node : NULL;
}

/* A variable's value: the same content (maps and arrays share their closed, immutable
 * members), at the place of the reference. */
static struct conf_node *node_copy(struct parser *p, const struct conf_node *source,
                                   struct conf_position position)
{
    struct conf_node *node = node_new(p, source->type, position);
    if (node != NULL) {
        node->as = source->as;
    }
    return node;
}

/* ---- open values and keys -------------------------------------------------------------- */

static bool grow(void **array, size_t *capacity, size_t count, size_t element_size)
{
    if (count < *capacity) {
        return true;
    }
    size_t grown = *capacity < 8 ? 8 : *capacity * 2;
    void *bigger = realloc(*array, grown * element_size);
    if (bigger == NULL) {
        return false;
    }
    *array = bigger;
    *capacity = grown;
    return true;
}

static int value_open(struct parser *p, struct frame *f, enum conf_type type, size_t offset)
{
    if (f->value_count > CONF_NESTING_MAX) {
        return parser_fail(p, f, offset, "nested deeper than %d levels", CONF_NESTING_MAX);
    }
    if (!grow((void **)&f->values, &f->value_capacity, f->value_count, sizeof *f->values)) {
        return parser_out_of_memory(p, f);
    }
    struct conf_node *node = node_new(p, type, frame_position(f, offset));
    if (node == NULL) {
        return node_failure(p, f);
    }
    f->values[f->value_count++] = (struct open_value){.node = node};
    return STEP_OK;
}

static void value_discard(struct open_value *value)
{
    free(value->members);
    free(value->items);
    value->members = NULL;
    value->items = NULL;
}

/* Gives an open value its content, copied into the arena, and frees its growing array.
 * NULL when memory ran out (the value then stays open, freed with its frame). */
static struct conf_node *value_finish(struct parser *p, struct open_value *value)
{
    struct conf_node *node = value->node;
    bool is_map = node->type == CONF_MAP;
    size_t element_size = is_map ? sizeof *value->members : sizeof *value->items;
    void *content = NULL;
    if (value->count > 0) {
        content = arena_alloc(p->doc, value->count * element_size);
        if (content == NULL) {
            return NULL;
        }
        memcpy(content, is_map ? (void *)value->members : (void *)value->items,
               value->count * element_size);
    }
    if (is_map) {
        node->as.map.members = content;
        node->as.map.count = value->count;
    } else {
        node->as.array.items = content;
        node->as.array.count = value->count;
    }
    value_discard(value);
    return node;
}

/* Closes the innermost open map or array (never the frame's own top-level map). */
static struct conf_node *value_close(struct parser *p, struct frame *f)
{
    ASSERT(f->value_count > 1); /* the lexer closes only what it opened; [0] stays */
    struct conf_node *node = value_finish(p, &f->values[f->value_count - 1]);
    if (node != NULL) {
        f->value_count--;
    }
    return node;
}

static int key_push(struct parser *p, struct frame *f, const char *key, size_t length,
                    struct conf_position position)
{
    if (!grow((void **)&f->keys, &f->key_capacity, f->key_count, sizeof *f->keys)) {
        return parser_out_of_memory(p, f);
    }
    f->keys[f->key_count++] = (struct pending_key){key, length, position};
    return STEP_OK;
}

/* nats-server's setValue: appended to an open array, or set in an open map under the last
 * pending key, whose place the value takes. */
static int value_set(struct parser *p, struct frame *f, struct conf_node *node)
{
    struct open_value *top = &f->values[f->value_count - 1];
    if (top->node->type == CONF_ARRAY) {
        if (!grow((void **)&top->items, &top->capacity, top->count, sizeof *top->items)) {
            return parser_out_of_memory(p, f);
        }
        top->items[top->count++] = node;
        return STEP_OK;
    }
    ASSERT(f->key_count > 0); /* every value in a map follows its key */
    struct pending_key key = f->keys[--f->key_count];
    node->position = key.position;
    for (size_t i = 0; i < top->count; i++) {
        struct conf_member *member = &top->members[i];
        if (member->key_length == key.length && memcmp(member->key, key.key, key.length) == 0) {
            member->value = node;
            return STEP_OK;
        }
    }
    if (top->count == CONF_MAP_MEMBERS_MAX) {
        return parser_fail(p, f, f->lexer.pos, "more than %d keys in one map",
                           CONF_MAP_MEMBERS_MAX);
    }
    if (!grow((void **)&top->members, &top->capacity, top->count, sizeof *top->members)) {
        return parser_out_of_memory(p, f);
    }
    top->members[top->count++] = (struct conf_member){key.key, key.length, node};
    return STEP_OK;
}

static int value_set_new(struct parser *p, struct frame *f, struct conf_node *node)
{
    return node != NULL ? value_set(p, f, node) : node_failure(p, f);
}

/* ---- scalars --------------------------------------------------------------------------- */

/* nats-server's integers: digits (and '-') then a size suffix, k/m/g/t/p/e powers of 1000,
 * with b, i or ib powers of 1024; a product past int64 wraps as Go's does. A suffix it
 * does not list (1kbb) sets nothing. */
static int scalar_integer(struct parser *p, struct frame *f, struct conf_item item)
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
        return parser_fail(p, f, item.offset, "integer '%.*s' is out of the range",
                           (int)item.length, item.text);
    }
    if (digits == 0 || end != number + digits) {
        return parser_fail(p, f, item.offset, "expected integer, but got '%.*s'",
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
                node_new(p, CONF_INTEGER, frame_position(f, item.offset));
            if (node != NULL) {
                node->as.integer = (int64_t)((uint64_t)parsed * suffixes[i].scale);
            }
            return value_set_new(p, f, node);
        }
    }
    return STEP_OK;
}

static int scalar_float(struct parser *p, struct frame *f, struct conf_item item)
{
    char *number = malloc(item.length + 1);
    if (number == NULL) {
        return parser_out_of_memory(p, f);
    }
    memcpy(number, item.text, item.length);
    number[item.length] = '\0';
    char *end = NULL;
    double value = strtod(number, &end);
    bool whole = end == number + item.length;
    free(number);
    if (!whole) {
        return parser_fail(p, f, item.offset, "expected float, but got '%.*s'", (int)item.length,
                           item.text);
    }
    if (isinf(value)) {
        return parser_fail(p, f, item.offset, "float '%.*s' is out of the range",
                           (int)item.length, item.text);
    }
    struct conf_node *node = node_new(p, CONF_FLOAT, frame_position(f, item.offset));
    if (node != NULL) {
        node->as.real = value;
    }
    return value_set_new(p, f, node);
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

static int scalar_datetime(struct parser *p, struct frame *f, struct conf_item item)
{
    static const char layout[] = "2006-01-02T15:04:05Z";
    if (item.length != sizeof layout - 1 || !datetime_valid(item.text)) {
        return parser_fail(p, f, item.offset, "expected Zulu formatted DateTime, but got '%.*s'",
                           (int)item.length, item.text);
    }
    return value_set_new(p, f,
                         node_string(p, frame_position(f, item.offset), CONF_DATETIME, item.text,
                                     item.length));
}

static int scalar_bool(struct parser *p, struct frame *f, struct conf_item item)
{
    /* the lexer emits only true/false/yes/no/on/off, in any case */
    char first = (char)(item.text[0] | 0x20);
    bool value = first == 't' || first == 'y' || (item.length == 2 && (item.text[1] | 0x20) == 'n');
    struct conf_node *node = node_new(p, CONF_BOOL, frame_position(f, item.offset));
    if (node != NULL) {
        node->as.boolean = value;
    }
    return value_set_new(p, f, node);
}

/* ---- variables and includes ------------------------------------------------------------ */

static bool frame_push_allowed(struct parser *p, struct frame *f, size_t offset, int *rc)
{
    if (p->frame_count < CONF_FRAME_DEPTH_MAX) {
        return true;
    }
    *rc = parser_fail(p, f, offset, "includes and variables nested deeper than %d",
                      CONF_FRAME_DEPTH_MAX);
    return false;
}

/* Pushes a frame reading `text` (owned by it). */
static int frame_push(struct parser *p, struct frame *below, enum frame_kind kind, char *text,
                      size_t length, const char *file, const char *dir, const char *name,
                      size_t origin_offset)
{
    struct frame *f = &p->frames[p->frame_count];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->text = text;
    f->file = file;
    f->dir = dir;
    f->name = name;
    f->origin = frame_position(below, origin_offset);
    f->origin_line = frame_line(below, origin_offset);
    f->previous = CONF_ITEM_NIL;
    f->cache_line = 1;
    conf_lexer_init(&f->lexer, text, length);
    p->frame_count++;
    int rc = value_open(p, f, CONF_MAP, 0);
    return rc == STEP_OK ? STEP_PUSHED : rc;
}

/* True when `name` is being resolved by an environment frame above the nearest file frame
 * (nats-server's envVarReferences, shared by a parse and its environment sub-parses). */
static bool variable_cycle(const struct parser *p, const char *name, size_t length)
{
    for (size_t i = p->frame_count; i > 0 && p->frames[i - 1].kind == FRAME_ENV; i--) {
        const char *pending = p->frames[i - 1].name;
        if (strlen(pending) == length && memcmp(pending, name, length) == 0) {
            return true;
        }
    }
    return false;
}

/* The member of an open map, innermost first, whose key is the variable's name. */
static struct conf_member *variable_find(struct frame *f, const char *name, size_t length)
{
    for (size_t v = f->value_count; v > 0; v--) {
        struct open_value *value = &f->values[v - 1];
        if (value->node->type != CONF_MAP) {
            continue;
        }
        for (size_t i = 0; i < value->count; i++) {
            struct conf_member *member = &value->members[i];
            if (member->key_length == length && memcmp(member->key, name, length) == 0) {
                return member;
            }
        }
    }
    return NULL;
}

static int variable_environment(struct parser *p, struct frame *f, struct conf_item item,
                                const char *name)
{
    static const char prefix[] = "pk=";
    int line = frame_line(f, item.offset);
    if (variable_cycle(p, item.text, item.length)) {
        return parser_fail(p, f, item.offset,
                           "variable reference for '%s' on line %d could not be parsed: "
                           "variable reference cycle for '%s'",
                           name, line, name);
    }
    const char *value = NULL;
    if (p->reader != NULL && p->reader->getenv != NULL) {
        value = p->reader->getenv(p->reader->context, name);
    }
    if (value == NULL) {
        return parser_fail(p, f, item.offset,
                           "variable reference for '%s' on line %d can not be found", name, line);
    }
    int rc = STEP_OK;
    if (!frame_push_allowed(p, f, item.offset, &rc)) {
        return rc;
    }
    size_t value_length = strlen(value);
    char *text = malloc(sizeof prefix + value_length);
    if (text == NULL) {
        return parser_out_of_memory(p, f);
    }
    memcpy(text, prefix, sizeof prefix - 1);
    memcpy(text + sizeof prefix - 1, value, value_length + 1);
    return frame_push(p, f, FRAME_ENV, text, sizeof prefix - 1 + value_length, f->file, ".",
                      name, item.offset);
}

/* nats-server's lookupVariable: a bcrypt hash is itself; then the open maps; then the
 * environment (a nested frame). */
static int item_variable(struct parser *p, struct frame *f, struct conf_item item)
{
    static const char bcrypt_prefix[] = "2a$";
    struct conf_position position = frame_position(f, item.offset);
    if (item.length >= sizeof bcrypt_prefix - 1 &&
        memcmp(item.text, bcrypt_prefix, sizeof bcrypt_prefix - 1) == 0) {
        struct conf_node *node = node_new(p, CONF_STRING, position);
        if (node != NULL) {
            char *hash = arena_alloc(p->doc, item.length + 2);
            if (hash == NULL) {
                return parser_out_of_memory(p, f);
            }
            hash[0] = '$';
            memcpy(hash + 1, item.text, item.length);
            hash[item.length + 1] = '\0';
            node->as.string.bytes = hash;
            node->as.string.length = item.length + 1;
        }
        return value_set_new(p, f, node);
    }
    struct conf_member *member = variable_find(f, item.text, item.length);
    if (member != NULL) {
        member->value->variable_used = true;
        return value_set_new(p, f, node_copy(p, member->value, position));
    }
    char *name = conf_doc_strdup(p->doc, item.text, item.length);
    if (name == NULL) {
        return parser_out_of_memory(p, f);
    }
    return variable_environment(p, f, item, name);
}

/* Go's filepath.Clean on `path` (a copy of `length` bytes is written to `out`, which holds
 * length + 2): one slash between elements, no "." elements, ".." taking back the element
 * before it; "" becomes ".". */
static void path_clean(const char *path, size_t length, char *out)
{
    bool rooted = length > 0 && path[0] == '/';
    size_t r = 0;
    size_t w = 0;
    size_t dotdot = 0;
    if (rooted) {
        out[w++] = '/';
        r = 1;
        dotdot = 1;
    }
    while (r < length) {
        bool dot = path[r] == '.' && (r + 1 == length || path[r + 1] == '/');
        bool dot_dot = path[r] == '.' && r + 1 < length && path[r + 1] == '.' &&
                       (r + 2 == length || path[r + 2] == '/');
        if (path[r] == '/' || dot) {
            r++;
        } else if (dot_dot) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/') {
                    w--;
                }
            } else if (!rooted) {
                if (w > 0) {
                    out[w++] = '/';
                }
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0)) {
                out[w++] = '/';
            }
            while (r < length && path[r] != '/') {
                out[w++] = path[r++];
            }
        }
    }
    if (w == 0) {
        out[w++] = '.';
    }
    out[w] = '\0';
}

/* Go's filepath.Dir: everything before the last slash, cleaned; "." when there is none. */
static const char *path_dir(struct parser *p, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t length = slash != NULL ? (size_t)(slash - path) + 1 : 0;
    char *dir = arena_alloc(p->doc, length + 2);
    if (dir != NULL) {
        path_clean(path, length, dir);
    }
    return dir;
}

/* nats-server's include: filepath.Join(dir of the including file, name), parsed on its own
 * (a new frame); its keys are set where the include stood once it ends. */
static int item_include(struct parser *p, struct frame *f, struct conf_item item)
{
    int rc = STEP_OK;
    if (!frame_push_allowed(p, f, item.offset, &rc)) {
        return rc;
    }
    size_t dir_length = strlen(f->dir);
    size_t joined_length = dir_length + 1 + item.length;
    char *joined = malloc(joined_length + 1);
    char *path = arena_alloc(p->doc, joined_length + 2);
    const char *name = conf_doc_strdup(p->doc, item.text, item.length);
    if (joined == NULL || path == NULL || name == NULL) {
        free(joined);
        return parser_out_of_memory(p, f);
    }
    memcpy(joined, f->dir, dir_length);
    joined[dir_length] = '/';
    memcpy(joined + dir_length + 1, item.text, item.length);
    path_clean(joined, joined_length, path);
    free(joined);
    char *text = NULL;
    size_t length = 0;
    rc = -ENOENT;
    if (p->reader != NULL && p->reader->read != NULL) {
        rc = p->reader->read(p->reader->context, path, &text, &length);
    }
    if (rc == -ENOMEM) {
        return parser_out_of_memory(p, f);
    }
    if (rc != 0) {
        char reason[128];
        snprintf(reason, sizeof reason, "%s", strerror(-rc));
        if (reason[0] >= 'A' && reason[0] <= 'Z') {
            reason[0] = (char)(reason[0] - 'A' + 'a'); /* as Go spells errno texts */
        }
        /* Go opens a directory and fails to read it */
        return parser_fail(p, f, item.offset, "error parsing include file '%s', %s %s: %s", name,
                           rc == -EISDIR ? "read" : "open", path, reason);
    }
    const char *dir = path_dir(p, path);
    if (dir == NULL) {
        free(text);
        return parser_out_of_memory(p, f);
    }
    return frame_push(p, f, FRAME_FILE, text, length, path, dir, name, item.offset);
}

/* ---- items ----------------------------------------------------------------------------- */

static int item_value_close(struct parser *p, struct frame *f)
{
    struct conf_node *node = value_close(p, f);
    if (node == NULL) {
        return parser_out_of_memory(p, f);
    }
    return value_set(p, f, node);
}

/* nats-server's processItem for one item of the top frame. */
static int parser_item(struct parser *p, struct frame *f, struct conf_item item)
{
    switch (item.type) {
    case CONF_ITEM_ERROR:
        if (f->lexer.out_of_memory) {
            return parser_out_of_memory(p, f);
        }
        return parser_fail(p, f, item.offset, "Parse error on line %d: '%.*s'",
                           frame_line(f, item.offset), (int)item.length, item.text);
    case CONF_ITEM_KEY: {
        const char *key = conf_doc_strdup(p->doc, item.text, item.length);
        if (key == NULL) {
            return parser_out_of_memory(p, f);
        }
        return key_push(p, f, key, item.length, frame_position(f, item.offset));
    }
    case CONF_ITEM_MAP_START:
        return value_open(p, f, CONF_MAP, item.offset);
    case CONF_ITEM_ARRAY_START:
        return value_open(p, f, CONF_ARRAY, item.offset);
    case CONF_ITEM_MAP_END:
    case CONF_ITEM_ARRAY_END:
        return item_value_close(p, f);
    case CONF_ITEM_STRING:
        return value_set_new(p, f,
                             node_string(p, frame_position(f, item.offset), CONF_STRING,
                                         item.text, item.length));
    case CONF_ITEM_INTEGER:
        return scalar_integer(p, f, item);
    case CONF_ITEM_FLOAT:
        return scalar_float(p, f, item);
    case CONF_ITEM_BOOL:
        return scalar_bool(p, f, item);
    case CONF_ITEM_DATETIME:
        return scalar_datetime(p, f, item);
    case CONF_ITEM_VARIABLE:
        return item_variable(p, f, item);
    case CONF_ITEM_INCLUDE:
        return item_include(p, f, item);
    case CONF_ITEM_NIL:
    case CONF_ITEM_EOF:
    case CONF_ITEM_TEXT:
    case CONF_ITEM_COMMENT_START:
        return STEP_OK;
    }
    UNREACHABLE();
}

static void frame_release(struct frame *f)
{
    for (size_t i = 0; i < f->value_count; i++) {
        value_discard(&f->values[i]);
    }
    free(f->values);
    free(f->keys);
    free(f->text);
    conf_lexer_release(&f->lexer);
    memset(f, 0, sizeof *f);
}

/* The top frame reached its end: hand its result to the frame below and pop it. */
static int frame_finish(struct parser *p)
{
    struct frame *f = &p->frames[p->frame_count - 1];
    struct frame *below = &p->frames[p->frame_count - 2];
    ASSERT(f->value_count == 1); /* the lexer closed everything it opened */
    struct open_value *top = &f->values[0];
    int rc = STEP_OK;
    if (f->kind == FRAME_FILE) {
        for (size_t i = 0; i < top->count && rc == STEP_OK; i++) {
            struct conf_member member = top->members[i];
            rc = key_push(p, below, member.key, member.key_length, member.value->position);
            if (rc == STEP_OK) {
                rc = value_set(p, below, member.value);
            }
        }
    } else {
        struct conf_member *found = NULL;
        for (size_t i = 0; i < top->count; i++) {
            if (top->members[i].key_length == 2 && memcmp(top->members[i].key, "pk", 2) == 0) {
                found = &top->members[i];
            }
        }
        if (found == NULL) {
            rc = parser_fail_at(p, f->origin,
                                "variable reference for '%s' on line %d can not be found",
                                f->name, f->origin_line);
        } else {
            rc = value_set_new(p, below, node_copy(p, found->value, f->origin));
        }
    }
    frame_release(f);
    p->frame_count--;
    return rc;
}

/* Runs the frames until the first one ends or something fails. */
static int parser_run(struct parser *p)
{
    for (;;) {
        struct frame *f = &p->frames[p->frame_count - 1];
        struct conf_item item = conf_lexer_next(&f->lexer);
        int rc;
        if (item.type == CONF_ITEM_EOF) {
            /* nats-server (2.11 and later): a key with no value at the end is an error;
             * "}" as the last key is let through for JSON-like files. */
            if (f->previous == CONF_ITEM_KEY && !f->previous_is_brace) {
                struct conf_position at = frame_position(f, item.offset);
                return parser_fail(p, f, item.offset, "config is invalid (%s:%d:%d)", at.file,
                                   at.line, at.column);
            }
            if (p->frame_count == 1) {
                return 0;
            }
            rc = frame_finish(p);
        } else {
            f->previous = item.type;
            f->previous_is_brace = item.length == 1 && item.text[0] == '}';
            rc = parser_item(p, f, item);
        }
        if (rc < 0) {
            return rc;
        }
    }
}

int conf_parse(const char *text, size_t length, const char *path,
               const struct conf_reader *reader, struct conf_doc **doc_out,
               struct conf_error *error)
{
    memset(error, 0, sizeof *error);
    *doc_out = NULL;
    struct conf_doc *doc = calloc(1, sizeof *doc);
    struct parser *p = calloc(1, sizeof *p);
    if (doc == NULL || p == NULL) {
        free(doc);
        free(p);
        snprintf(error->message, sizeof error->message, "out of memory");
        return -ENOMEM;
    }
    p->doc = doc;
    p->reader = reader;
    p->error = error;
    struct frame *root = &p->frames[0];
    root->kind = FRAME_FILE;
    root->file = conf_doc_strdup(doc, path, strlen(path));
    root->cache_line = 1;
    root->previous = CONF_ITEM_NIL;
    conf_lexer_init(&root->lexer, text, length);
    p->frame_count = 1;
    int rc = -ENOMEM;
    if (root->file != NULL) {
        root->dir = path_dir(p, path);
    }
    if (root->dir != NULL) {
        rc = value_open(p, root, CONF_MAP, 0);
    }
    if (rc == STEP_OK) {
        doc->root = root->values[0].node;
        rc = parser_run(p);
    } else if (rc == -ENOMEM) {
        snprintf(error->message, sizeof error->message, "out of memory");
    }
    if (rc == 0 && value_finish(p, &root->values[0]) == NULL) {
        rc = parser_out_of_memory(p, root);
    }
    while (p->frame_count > 1) {
        struct frame *f = &p->frames[p->frame_count - 1];
        if (rc == -EINVAL) {
            parser_wrap_error(p, f);
        }
        frame_release(f);
        p->frame_count--;
    }
    frame_release(root);
    free(p);
    if (rc != 0) {
        conf_doc_free(doc);
        return rc;
    }
    *doc_out = doc;
    return 0;
}

/* ---- reading the tree ------------------------------------------------------------------ */

const struct conf_member *conf_map_find(const struct conf_node *map, const char *key)
{
    ASSERT(map->type == CONF_MAP);
    size_t length = strlen(key);
    for (size_t i = 0; i < map->as.map.count; i++) {
        const struct conf_member *member = &map->as.map.members[i];
        if (member->key_length == length && memcmp(member->key, key, length) == 0) {
            return member;
        }
    }
    return NULL;
}

const char *conf_type_name(enum conf_type type)
{
    switch (type) {
    case CONF_STRING:
        return "string";
    case CONF_BOOL:
        return "boolean";
    case CONF_INTEGER:
        return "integer";
    case CONF_FLOAT:
        return "float";
    case CONF_DATETIME:
        return "datetime";
    case CONF_MAP:
        return "map";
    case CONF_ARRAY:
        return "array";
    }
    return "value";
}
