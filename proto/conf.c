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
 * growing arrays of open maps and arrays are the parser's until they close. This file
 * builds the tree and runs the items; scalars are conf_scalar.c's, nested frames
 * (variables, includes) conf_frame.c's, and what the three share is conf_internal.h. One
 * thread. */
#include "proto/conf.h"

#include "base/assert.h"
#include "proto/conf_internal.h"
#include "proto/conf_lex.h"

#include <errno.h>
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

void *conf_doc_alloc(struct conf_doc *doc, size_t size)
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
    char *copy = conf_doc_alloc(doc, length + 1);
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

/* ---- positions and errors --------------------------------------------------------------- */

/* Line (from 1) and column (byte, from 1) of `offset` in the frame's text; offsets mostly
 * grow, so the scan resumes from the last answer. */
static void frame_locate(struct conf_frame *f, size_t offset, int *line, int *column)
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

struct conf_position conf_frame_position(struct conf_frame *f, size_t offset)
{
    if (f->kind == FRAME_ENV) {
        return f->origin;
    }
    struct conf_position position = {.file = f->file};
    frame_locate(f, offset, &position.line, &position.column);
    return position;
}

int conf_frame_line(struct conf_frame *f, size_t offset)
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
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start just above
    vsnprintf(buffer, size, format, args);
    va_end(args);
}

static int parser_error_set(struct conf_parser *p, struct conf_position position,
                            const char *format, va_list args)
{
    text_format(p->error->file, sizeof p->error->file, "%s", position.file);
    p->error->line = position.line;
    p->error->column = position.column;
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): each caller's va_start
    vsnprintf(p->error->message, sizeof p->error->message, format, args);
    return -EINVAL;
}

int conf_parser_fail(struct conf_parser *p, struct conf_frame *f, size_t offset, const char *format,
                     ...)
{
    va_list args;
    va_start(args, format);
    int rc = parser_error_set(p, conf_frame_position(f, offset), format, args);
    va_end(args);
    return rc;
}

int conf_parser_fail_at(struct conf_parser *p, struct conf_position position, const char *format,
                        ...)
{
    va_list args;
    va_start(args, format);
    int rc = parser_error_set(p, position, format, args);
    va_end(args);
    return rc;
}

int conf_parser_out_of_memory(struct conf_parser *p, struct conf_frame *f)
{
    conf_parser_fail(p, f, f->lexer.pos, "out of memory");
    return -ENOMEM;
}

/* Wraps the error as the frame below sees a failed nested parse; when the wrapping no
 * longer fits, the innermost words (the cause) are kept rather than the outer ones. */
static void parser_wrap_error(struct conf_parser *p, const struct conf_frame *f)
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

struct conf_node *conf_node_new(struct conf_parser *p, enum conf_type type,
                                struct conf_position position)
{
    if (p->doc->node_count == CONF_NODES_MAX) {
        return NULL;
    }
    struct conf_node *node = conf_doc_alloc(p->doc, sizeof *node);
    if (node != NULL) {
        memset(node, 0, sizeof *node);
        node->type = type;
        node->position = position;
        p->doc->node_count++;
    }
    return node;
}

/* -ENOMEM, or -EINVAL when the tree reached CONF_NODES_MAX. */
static int node_failure(struct conf_parser *p, struct conf_frame *f)
{
    if (p->doc->node_count == CONF_NODES_MAX) {
        return conf_parser_fail(p, f, f->lexer.pos, "more than %d values", CONF_NODES_MAX);
    }
    return conf_parser_out_of_memory(p, f);
}

struct conf_node *conf_node_string(struct conf_parser *p, struct conf_position position,
                                   enum conf_type type, const char *text, size_t length)
{
    struct conf_node *node = conf_node_new(p, type, position);
    if (node == NULL) {
        return NULL;
    }
    node->as.string.bytes = conf_doc_strdup(p->doc, text, length);
    node->as.string.length = length;
    return node->as.string.bytes != NULL ? node : NULL;
}

struct conf_node *conf_node_copy(struct conf_parser *p, const struct conf_node *source,
                                 struct conf_position position)
{
    struct conf_node *node = conf_node_new(p, source->type, position);
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

int conf_value_open(struct conf_parser *p, struct conf_frame *f, enum conf_type type, size_t offset)
{
    if (f->value_count > CONF_NESTING_MAX) {
        return conf_parser_fail(p, f, offset, "nested deeper than %d levels", CONF_NESTING_MAX);
    }
    if (!grow((void **)&f->values, &f->value_capacity, f->value_count, sizeof *f->values)) {
        return conf_parser_out_of_memory(p, f);
    }
    struct conf_node *node = conf_node_new(p, type, conf_frame_position(f, offset));
    if (node == NULL) {
        return node_failure(p, f);
    }
    f->values[f->value_count++] = (struct conf_open_value){.node = node};
    return STEP_OK;
}

void conf_value_discard(struct conf_open_value *value)
{
    free(value->members);
    free(value->items);
    value->members = NULL;
    value->items = NULL;
}

/* Gives an open value its content, copied into the arena, and frees its growing array.
 * NULL when memory ran out (the value then stays open, freed with its frame). */
static struct conf_node *value_finish(struct conf_parser *p, struct conf_open_value *value)
{
    struct conf_node *node = value->node;
    bool is_map = node->type == CONF_MAP;
    size_t element_size = is_map ? sizeof *value->members : sizeof *value->items;
    void *content = NULL;
    if (value->count > 0) {
        content = conf_doc_alloc(p->doc, value->count * element_size);
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
    conf_value_discard(value);
    return node;
}

/* Closes the innermost open map or array (never the frame's own top-level map). */
static struct conf_node *value_close(struct conf_parser *p, struct conf_frame *f)
{
    ASSERT(f->value_count > 1); /* the lexer closes only what it opened; [0] stays */
    struct conf_node *node = value_finish(p, &f->values[f->value_count - 1]);
    if (node != NULL) {
        f->value_count--;
    }
    return node;
}

int conf_key_push(struct conf_parser *p, struct conf_frame *f, const char *key, size_t length,
                  struct conf_position position)
{
    if (!grow((void **)&f->keys, &f->key_capacity, f->key_count, sizeof *f->keys)) {
        return conf_parser_out_of_memory(p, f);
    }
    f->keys[f->key_count++] = (struct conf_pending_key){key, length, position};
    return STEP_OK;
}

int conf_value_set(struct conf_parser *p, struct conf_frame *f, struct conf_node *node)
{
    struct conf_open_value *top = &f->values[f->value_count - 1];
    if (top->node->type == CONF_ARRAY) {
        if (!grow((void **)&top->items, &top->capacity, top->count, sizeof *top->items)) {
            return conf_parser_out_of_memory(p, f);
        }
        top->items[top->count++] = node;
        return STEP_OK;
    }
    ASSERT(f->key_count > 0); /* every value in a map follows its key */
    struct conf_pending_key key = f->keys[--f->key_count];
    node->position = key.position;
    for (size_t i = 0; i < top->count; i++) {
        struct conf_member *member = &top->members[i];
        if (member->key_length == key.length && memcmp(member->key, key.key, key.length) == 0) {
            member->value = node;
            return STEP_OK;
        }
    }
    if (top->count == CONF_MAP_MEMBERS_MAX) {
        return conf_parser_fail(p, f, f->lexer.pos, "more than %d keys in one map",
                                CONF_MAP_MEMBERS_MAX);
    }
    if (!grow((void **)&top->members, &top->capacity, top->count, sizeof *top->members)) {
        return conf_parser_out_of_memory(p, f);
    }
    top->members[top->count++] = (struct conf_member){key.key, key.length, node};
    return STEP_OK;
}

int conf_value_set_new(struct conf_parser *p, struct conf_frame *f, struct conf_node *node)
{
    return node != NULL ? conf_value_set(p, f, node) : node_failure(p, f);
}

/* ---- items ----------------------------------------------------------------------------- */

static int item_value_close(struct conf_parser *p, struct conf_frame *f)
{
    struct conf_node *node = value_close(p, f);
    if (node == NULL) {
        return conf_parser_out_of_memory(p, f);
    }
    return conf_value_set(p, f, node);
}

/* nats-server's processItem for one item of the top frame. */
static int parser_item(struct conf_parser *p, struct conf_frame *f, struct conf_item item)
{
    switch (item.type) {
    case CONF_ITEM_ERROR:
        if (f->lexer.out_of_memory) {
            return conf_parser_out_of_memory(p, f);
        }
        return conf_parser_fail(p, f, item.offset, "Parse error on line %d: '%.*s'",
                                conf_frame_line(f, item.offset), (int)item.length, item.text);
    case CONF_ITEM_KEY: {
        const char *key = conf_doc_strdup(p->doc, item.text, item.length);
        if (key == NULL) {
            return conf_parser_out_of_memory(p, f);
        }
        return conf_key_push(p, f, key, item.length, conf_frame_position(f, item.offset));
    }
    case CONF_ITEM_MAP_START:
        return conf_value_open(p, f, CONF_MAP, item.offset);
    case CONF_ITEM_ARRAY_START:
        return conf_value_open(p, f, CONF_ARRAY, item.offset);
    case CONF_ITEM_MAP_END:
    case CONF_ITEM_ARRAY_END:
        return item_value_close(p, f);
    case CONF_ITEM_STRING:
        return conf_value_set_new(p, f,
                                  conf_node_string(p, conf_frame_position(f, item.offset),
                                                   CONF_STRING, item.text, item.length));
    case CONF_ITEM_INTEGER:
        return conf_scalar_integer(p, f, item);
    case CONF_ITEM_FLOAT:
        return conf_scalar_float(p, f, item);
    case CONF_ITEM_BOOL:
        return conf_scalar_bool(p, f, item);
    case CONF_ITEM_DATETIME:
        return conf_scalar_datetime(p, f, item);
    case CONF_ITEM_VARIABLE:
        return conf_item_variable(p, f, item);
    case CONF_ITEM_INCLUDE:
        return conf_item_include(p, f, item);
    case CONF_ITEM_NIL:
    case CONF_ITEM_EOF:
    case CONF_ITEM_TEXT:
    case CONF_ITEM_COMMENT_START:
        return STEP_OK;
    }
    UNREACHABLE();
}

/* Runs the frames until the first one ends or something fails. */
static int parser_run(struct conf_parser *p)
{
    for (;;) {
        struct conf_frame *f = &p->frames[p->frame_count - 1];
        struct conf_item item = conf_lexer_next(&f->lexer);
        int rc;
        if (item.type == CONF_ITEM_EOF) {
            /* nats-server (2.11 and later): a key with no value at the end is an error;
             * "}" as the last key is let through for JSON-like files. */
            if (f->previous == CONF_ITEM_KEY && !f->previous_is_brace) {
                struct conf_position at = conf_frame_position(f, item.offset);
                return conf_parser_fail(p, f, item.offset, "config is invalid (%s:%d:%d)", at.file,
                                        at.line, at.column);
            }
            if (p->frame_count == 1) {
                return 0;
            }
            rc = conf_frame_finish(p);
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
    struct conf_parser *p = calloc(1, sizeof *p);
    if (doc == NULL || p == NULL) {
        free(doc);
        free(p);
        snprintf(error->message, sizeof error->message, "out of memory");
        return -ENOMEM;
    }
    p->doc = doc;
    p->reader = reader;
    p->error = error;
    struct conf_frame *root = &p->frames[0];
    root->kind = FRAME_FILE;
    root->file = conf_doc_strdup(doc, path, strlen(path));
    root->cache_line = 1;
    root->previous = CONF_ITEM_NIL;
    conf_lexer_init(&root->lexer, text, length);
    p->frame_count = 1;
    int rc = -ENOMEM;
    if (root->file != NULL) {
        root->dir = conf_path_dir(p, path);
    }
    if (root->dir != NULL) {
        rc = conf_value_open(p, root, CONF_MAP, 0);
    }
    if (rc == STEP_OK) {
        doc->root = root->values[0].node;
        rc = parser_run(p);
    } else if (rc == -ENOMEM) {
        snprintf(error->message, sizeof error->message, "out of memory");
    }
    if (rc == 0 && value_finish(p, &root->values[0]) == NULL) {
        rc = conf_parser_out_of_memory(p, root);
    }
    while (p->frame_count > 1) {
        struct conf_frame *f = &p->frames[p->frame_count - 1];
        if (rc == -EINVAL) {
            parser_wrap_error(p, f);
        }
        conf_frame_release(f);
        p->frame_count--;
    }
    conf_frame_release(root);
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
