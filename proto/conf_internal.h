/* What the parser's files share, and nobody else uses: the parser's state (its stack of
 * frames, each frame's open maps and arrays and pending keys) and the steps that build the
 * tree from it.
 *
 * The one idea: conf.c builds the tree (the arena, positions and errors, nodes, open values
 * and keys, the item loop); conf_scalar.c turns an integer, float, datetime or boolean
 * item into a value; conf_frame.c runs the nested parses, a `$name` read from the
 * environment and an `include`, each a frame pushed on the parser's stack and finished
 * into the frame below. One thread: the parse's caller's. */
#ifndef IONATS_PROTO_CONF_INTERNAL_H
#define IONATS_PROTO_CONF_INTERNAL_H

#include "proto/conf.h"
#include "proto/conf_lex.h"

#include <stdbool.h>
#include <stddef.h>

enum conf_frame_kind {
    FRAME_FILE, /* the file given, or an included one */
    FRAME_ENV,  /* "pk=<value>" of an environment variable */
};

/* A map or an array being filled; its node gets the content when it closes. */
struct conf_open_value {
    struct conf_node *node;      /* arena */
    struct conf_member *members; /* owned until close (CONF_MAP) */
    struct conf_node **items;    /* owned until close (CONF_ARRAY) */
    size_t count;
    size_t capacity;
};

struct conf_pending_key {
    const char *key; /* arena */
    size_t length;
    struct conf_position position;
};

struct conf_frame {
    enum conf_frame_kind kind;
    struct conf_lexer lexer;
    char *text;       /* owned: what the lexer reads; NULL for the first file (borrowed) */
    const char *file; /* arena: the file values are placed in */
    const char *dir;  /* arena: where this frame's includes are looked for */
    const char *name; /* arena: FRAME_ENV: the variable; an include: its text; else NULL */
    /* The $name or include in the frame below that started this one, and that item's line
     * in the frame below's own text (messages say "on line N" as nats-server does). */
    struct conf_position origin;
    int origin_line;
    struct conf_open_value *values; /* owned: values[0] is the frame's top-level map */
    size_t value_count;
    size_t value_capacity;
    struct conf_pending_key *keys; /* owned */
    size_t key_count;
    size_t key_capacity;
    enum conf_item_type previous; /* the last item, for the check at the end of input */
    bool previous_is_brace;
    /* Line lookup cache: the line and its first byte at `cache_offset`. */
    size_t cache_offset;
    size_t cache_line_start;
    int cache_line;
};

struct conf_parser {
    struct conf_doc *doc;
    const struct conf_reader *reader;
    struct conf_error *error;
    struct conf_frame frames[CONF_FRAME_DEPTH_MAX];
    size_t frame_count;
};

/* What handling an item led to. */
enum {
    STEP_OK = 0,
    STEP_PUSHED = 1, /* a frame was pushed: go on with it */
};

/* ---- the tree (conf.c) ----------------------------------------------------------------- */

/* `size` bytes from the document's arena, aligned for anything; NULL when memory ran
 * out. */
void *conf_doc_alloc(struct conf_doc *doc, size_t size);

/* Where a value read at `offset` is placed: its own place in a file, or the $name that
 * read an environment value. */
struct conf_position conf_frame_position(struct conf_frame *f, size_t offset);

/* The line (from 1) of `offset` in the frame's text. */
int conf_frame_line(struct conf_frame *f, size_t offset);

/* Fails at `offset` in the top frame (at the $name that read it, in an environment
 * value). Returns -EINVAL. */
int conf_parser_fail(struct conf_parser *p, struct conf_frame *f, size_t offset,
                     const char *format, ...) __attribute__((format(printf, 4, 5)));

/* Fails at `position`. Returns -EINVAL. */
int conf_parser_fail_at(struct conf_parser *p, struct conf_position position,
                        const char *format, ...) __attribute__((format(printf, 3, 4)));

/* Says "out of memory" at the top frame's place. Returns -ENOMEM. */
int conf_parser_out_of_memory(struct conf_parser *p, struct conf_frame *f);

/* A node of the tree; NULL when memory ran out or the tree reached CONF_NODES_MAX. */
struct conf_node *conf_node_new(struct conf_parser *p, enum conf_type type,
                                struct conf_position position);

/* A CONF_STRING or CONF_DATETIME node holding a copy of `text`. */
struct conf_node *conf_node_string(struct conf_parser *p, struct conf_position position,
                                   enum conf_type type, const char *text, size_t length);

/* A variable's value: the same content (maps and arrays share their closed, immutable
 * members), at the place of the reference. */
struct conf_node *conf_node_copy(struct conf_parser *p, const struct conf_node *source,
                                 struct conf_position position);

/* Opens a map or an array in the frame. STEP_OK, or the error. */
int conf_value_open(struct conf_parser *p, struct conf_frame *f, enum conf_type type,
                    size_t offset);

/* Frees an open value's growing array (its node stays in the arena). */
void conf_value_discard(struct conf_open_value *value);

/* A key waiting for its value. STEP_OK, or the error. */
int conf_key_push(struct conf_parser *p, struct conf_frame *f, const char *key, size_t length,
                  struct conf_position position);

/* nats-server's setValue: appended to an open array, or set in an open map under the last
 * pending key, whose place the value takes. STEP_OK, or the error. */
int conf_value_set(struct conf_parser *p, struct conf_frame *f, struct conf_node *node);

/* conf_value_set for a node just made: NULL (it could not be) is the failure said. */
int conf_value_set_new(struct conf_parser *p, struct conf_frame *f, struct conf_node *node);

/* ---- scalars (conf_scalar.c): each sets its value, STEP_OK, or the error -------------- */

int conf_scalar_integer(struct conf_parser *p, struct conf_frame *f, struct conf_item item);
int conf_scalar_float(struct conf_parser *p, struct conf_frame *f, struct conf_item item);
int conf_scalar_datetime(struct conf_parser *p, struct conf_frame *f, struct conf_item item);
int conf_scalar_bool(struct conf_parser *p, struct conf_frame *f, struct conf_item item);

/* ---- nested parses (conf_frame.c) ------------------------------------------------------ */

/* nats-server's lookupVariable: a bcrypt hash is itself; then the open maps; then the
 * environment (a nested frame). STEP_OK, STEP_PUSHED, or the error. */
int conf_item_variable(struct conf_parser *p, struct conf_frame *f, struct conf_item item);

/* nats-server's include: filepath.Join(dir of the including file, name), parsed on its own
 * (a new frame); its keys are set where the include stood once it ends. STEP_PUSHED, or
 * the error. */
int conf_item_include(struct conf_parser *p, struct conf_frame *f, struct conf_item item);

/* The top frame reached its end: hand its result to the frame below and pop it. */
int conf_frame_finish(struct conf_parser *p);

/* Frees what the frame owns and clears it. */
void conf_frame_release(struct conf_frame *f);

/* Go's filepath.Dir of `path`, in the arena; NULL when memory ran out. */
const char *conf_path_dir(struct conf_parser *p, const char *path);

#endif
