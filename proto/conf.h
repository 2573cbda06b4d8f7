/* nats-server's configuration file format, parsed into a tree of positioned values.
 *
 * The grammar is nats-server's (conf/lex.go and conf/parse.go), read for its facts and
 * written anew: `key: value`, `key = value` and `key value`; maps `{}` and arrays `[]`
 * separated by commas or new lines; `#` and `//` comments; '…' strings (raw), "…" strings
 * (escapes \t \n \r \" \\ \xHH) and unquoted ones; integers with nats-server's size
 * suffixes (k m g t p e are powers of 1000; kb/ki/kib and the like are powers of 1024);
 * floats; booleans (true/false, yes/no, on/off, any case); Zulu datetimes; `( … )` blocks;
 * `include <file>` relative to the including file; `$name` variables, looked up in the
 * enclosing maps (innermost first, only keys set before the reference) and then in the
 * environment, whose value is parsed as a value in turn. Its quirks are kept, so that a
 * file means here what it means there and is refused where it is refused there (an
 * unquoted number followed by `]` takes the bracket into a string, so `[1, 2]` does not
 * close; a size suffix it does not list, 1kbb, drops the value and leaves its key to the
 * next map closed).
 *
 * The one idea: the lexer is nats-server's state machine (an explicit stack of states, no
 * recursion); the parser keeps nats-server's stacks of open maps and arrays and of pending
 * keys, and every nested parse (an included file, an environment variable's value) is a
 * frame on an explicit, bounded stack rather than a recursive call. Each value carries the
 * file, line and column of its key (of itself inside arrays), so whoever maps the tree onto
 * settings can name the place of a bad value.
 *
 * Pure: no I/O. Included files and environment variables come through `struct conf_reader`.
 * Any thread; a parsed tree is immutable and may be read by any thread. */
#ifndef IONATS_PROTO_CONF_H
#define IONATS_PROTO_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum conf_type {
    CONF_STRING,
    CONF_BOOL,
    CONF_INTEGER,
    CONF_FLOAT,
    CONF_DATETIME, /* "2006-01-02T15:04:05Z", kept as its text in `string` */
    CONF_MAP,
    CONF_ARRAY,
};

/* Where a value was written. `file` is borrowed from the tree (the path given to conf_parse
 * or an included file's joined path). Lines and columns count from 1; columns are bytes. */
struct conf_position {
    const char *file;
    int line;
    int column;
};

struct conf_node;

/* A key of a map and its value, in file order; a key set twice keeps its first place and
 * its last value (nats-server overwrites, its maps have no order). */
struct conf_member {
    const char *key; /* borrowed from the tree, NUL-terminated (may hold NULs: see length) */
    size_t key_length;
    struct conf_node *value;
};

/* One value. Everything a node points to belongs to its tree (struct conf_doc). */
struct conf_node {
    enum conf_type type;
    struct conf_position position; /* of its key in a map, of itself in an array */
    /* A `$name` elsewhere read this value: nats-server then does not call its key unknown
     * (variables are defined as ordinary keys). */
    bool variable_used;
    union {
        struct {
            const char *bytes; /* NUL-terminated; `length` excludes the NUL; may hold NULs
                                * (\x00) */
            size_t length;
        } string; /* CONF_STRING, CONF_DATETIME */
        bool boolean;
        int64_t integer;
        double real;
        struct {
            const struct conf_member *members;
            size_t count;
        } map;
        struct {
            struct conf_node *const *items;
            size_t count;
        } array;
    } as;
};

/* How the parser reaches files and the environment. */
struct conf_reader {
    /* Reads the file at `path` into a malloc'ed buffer the parser frees. 0 or -errno
     * (named in the error as nats-server does: "open <path>: <reason>"). NULL: includes
     * fail with -ENOENT. */
    int (*read)(void *context, const char *path, char **text, size_t *length);
    /* The value of environment variable `name`, or NULL when unset; borrowed until the
     * next call. NULL: no environment. */
    const char *(*getenv)(void *context, const char *name);
    void *context;
};

/* Bounds on what a file may make the parser hold (each error names the bound). */
enum {
    /* Maps and arrays open inside one another (the lexer's state stack is twice this). */
    CONF_NESTING_MAX = 256,
    /* Files and environment values being parsed inside one another: an include cycle
     * (nats-server recurses until its stack overflows) stops here. */
    CONF_FRAME_DEPTH_MAX = 32,
    /* Values in one tree, variable copies and included files counted. */
    CONF_NODES_MAX = 1 << 20,
    /* Keys in one map: a set key is looked up among the map's keys linearly. */
    CONF_MAP_MEMBERS_MAX = 1 << 14,
    CONF_ERROR_FILE_SIZE = 1024,
    CONF_ERROR_MESSAGE_SIZE = 1024,
};

/* Why a parse failed: where, and nats-server's message (wrapped as nats-server wraps it
 * through includes and variable values: "error parsing include file 'x', …"). The file is
 * the innermost file that holds the error; errors inside an environment variable's value
 * are placed at the `$name` that read it. */
struct conf_error {
    char file[CONF_ERROR_FILE_SIZE];
    int line;
    int column;
    char message[CONF_ERROR_MESSAGE_SIZE];
};

struct conf_doc;

/* Parses `text` (`length` bytes, need not end in a NUL) read from `path` (used for
 * positions and as the directory includes are relative to; "" for none). On success
 * *doc owns the tree (free with conf_doc_free) and 0 is returned; otherwise -EINVAL with
 * `error` filled, or -ENOMEM. `reader` may be NULL (no includes, no environment). */
int conf_parse(const char *text, size_t length, const char *path,
               const struct conf_reader *reader, struct conf_doc **doc,
               struct conf_error *error);

/* The top-level map. */
const struct conf_node *conf_doc_root(const struct conf_doc *doc);

/* A copy of `length` bytes of `text`, NUL-terminated, owned by the tree; NULL when memory
 * ran out. Lets whoever maps the tree keep derived strings (a host cut from "host:port")
 * as long as the tree. */
char *conf_doc_strdup(struct conf_doc *doc, const char *text, size_t length);

void conf_doc_free(struct conf_doc *doc);

/* The member of `map` (a CONF_MAP) whose key is exactly `key`, or NULL. */
const struct conf_member *conf_map_find(const struct conf_node *map, const char *key);

/* "string", "integer", … for messages. */
const char *conf_type_name(enum conf_type type);

/* Parses a duration as Go's time.ParseDuration does: "300ms", "-1.5h", "2h45m", "1µs",
 * "0". 0, or -EINVAL with Go's reason in `reason` (`time: invalid duration "x"`,
 * `time: missing unit in duration "1"`, `time: unknown unit "d" in duration "1d"`). */
int conf_duration_parse(const char *text, int64_t *ns, char *reason, size_t reason_size);

#endif
