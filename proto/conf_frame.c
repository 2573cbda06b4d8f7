/* The configuration parser's nested parses: a `$name` that no open map defines is read
 * from the environment by a frame parsing "pk=<its value>", and an `include` by a frame
 * parsing the file it names, relative to the including file's directory as Go's filepath
 * joins and cleans it; each frame is pushed on the parser's bounded stack (no recursion)
 * and, at its end, hands its result to the frame below (see conf.c for the item loop that
 * runs them). One thread: the parse's caller's. */
#include "proto/conf_internal.h"

#include "base/assert.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- frames ---------------------------------------------------------------------------- */

static bool frame_push_allowed(struct conf_parser *p, struct conf_frame *f, size_t offset, int *rc)
{
    if (p->frame_count < CONF_FRAME_DEPTH_MAX) {
        return true;
    }
    *rc = conf_parser_fail(p, f, offset, "includes and variables nested deeper than %d",
                           CONF_FRAME_DEPTH_MAX);
    return false;
}

/* Pushes a frame reading `text` (owned by it). */
static int frame_push(struct conf_parser *p, struct conf_frame *below, enum conf_frame_kind kind,
                      char *text, size_t length, const char *file, const char *dir,
                      const char *name, size_t origin_offset)
{
    struct conf_frame *f = &p->frames[p->frame_count];
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->text = text;
    f->file = file;
    f->dir = dir;
    f->name = name;
    f->origin = conf_frame_position(below, origin_offset);
    f->origin_line = conf_frame_line(below, origin_offset);
    f->previous = CONF_ITEM_NIL;
    f->cache_line = 1;
    conf_lexer_init(&f->lexer, text, length);
    p->frame_count++;
    int rc = conf_value_open(p, f, CONF_MAP, 0);
    return rc == STEP_OK ? STEP_PUSHED : rc;
}

void conf_frame_release(struct conf_frame *f)
{
    for (size_t i = 0; i < f->value_count; i++) {
        conf_value_discard(&f->values[i]);
    }
    free(f->values);
    free(f->keys);
    free(f->text);
    conf_lexer_release(&f->lexer);
    memset(f, 0, sizeof *f);
}

int conf_frame_finish(struct conf_parser *p)
{
    struct conf_frame *f = &p->frames[p->frame_count - 1];
    struct conf_frame *below = &p->frames[p->frame_count - 2];
    ASSERT(f->value_count == 1); /* the lexer closed everything it opened */
    struct conf_open_value *top = &f->values[0];
    int rc = STEP_OK;
    if (f->kind == FRAME_FILE) {
        for (size_t i = 0; i < top->count && rc == STEP_OK; i++) {
            struct conf_member member = top->members[i];
            rc = conf_key_push(p, below, member.key, member.key_length, member.value->position);
            if (rc == STEP_OK) {
                rc = conf_value_set(p, below, member.value);
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
            rc = conf_parser_fail_at(p, f->origin,
                                     "variable reference for '%s' on line %d can not be found",
                                     f->name, f->origin_line);
        } else {
            rc = conf_value_set_new(p, below, conf_node_copy(p, found->value, f->origin));
        }
    }
    conf_frame_release(f);
    p->frame_count--;
    return rc;
}

/* ---- variables ------------------------------------------------------------------------- */

/* True when `name` is being resolved by an environment frame above the nearest file frame
 * (nats-server's envVarReferences, shared by a parse and its environment sub-parses). */
static bool variable_cycle(const struct conf_parser *p, const char *name, size_t length)
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
static struct conf_member *variable_find(struct conf_frame *f, const char *name, size_t length)
{
    for (size_t v = f->value_count; v > 0; v--) {
        struct conf_open_value *value = &f->values[v - 1];
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

static int variable_environment(struct conf_parser *p, struct conf_frame *f, struct conf_item item,
                                const char *name)
{
    static const char prefix[] = "pk=";
    int line = conf_frame_line(f, item.offset);
    if (variable_cycle(p, item.text, item.length)) {
        return conf_parser_fail(p, f, item.offset,
                                "variable reference for '%s' on line %d could not be parsed: "
                                "variable reference cycle for '%s'",
                                name, line, name);
    }
    const char *value = NULL;
    if (p->reader != NULL && p->reader->getenv != NULL) {
        value = p->reader->getenv(p->reader->context, name);
    }
    if (value == NULL) {
        return conf_parser_fail(p, f, item.offset,
                                "variable reference for '%s' on line %d can not be found", name,
                                line);
    }
    int rc = STEP_OK;
    if (!frame_push_allowed(p, f, item.offset, &rc)) {
        return rc;
    }
    size_t value_length = strlen(value);
    char *text = malloc(sizeof prefix + value_length);
    if (text == NULL) {
        return conf_parser_out_of_memory(p, f);
    }
    memcpy(text, prefix, sizeof prefix - 1);
    memcpy(text + sizeof prefix - 1, value, value_length + 1);
    return frame_push(p, f, FRAME_ENV, text, sizeof prefix - 1 + value_length, f->file, ".",
                      name, item.offset);
}

int conf_item_variable(struct conf_parser *p, struct conf_frame *f, struct conf_item item)
{
    static const char bcrypt_prefix[] = "2a$";
    struct conf_position position = conf_frame_position(f, item.offset);
    if (item.length >= sizeof bcrypt_prefix - 1 &&
        memcmp(item.text, bcrypt_prefix, sizeof bcrypt_prefix - 1) == 0) {
        struct conf_node *node = conf_node_new(p, CONF_STRING, position);
        if (node != NULL) {
            char *hash = conf_doc_alloc(p->doc, item.length + 2);
            if (hash == NULL) {
                return conf_parser_out_of_memory(p, f);
            }
            hash[0] = '$';
            memcpy(hash + 1, item.text, item.length);
            hash[item.length + 1] = '\0';
            node->as.string.bytes = hash;
            node->as.string.length = item.length + 1;
        }
        return conf_value_set_new(p, f, node);
    }
    struct conf_member *member = variable_find(f, item.text, item.length);
    if (member != NULL) {
        member->value->variable_used = true;
        return conf_value_set_new(p, f, conf_node_copy(p, member->value, position));
    }
    char *name = conf_doc_strdup(p->doc, item.text, item.length);
    if (name == NULL) {
        return conf_parser_out_of_memory(p, f);
    }
    return variable_environment(p, f, item, name);
}

/* ---- includes -------------------------------------------------------------------------- */

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
const char *conf_path_dir(struct conf_parser *p, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t length = slash != NULL ? (size_t)(slash - path) + 1 : 0;
    char *dir = conf_doc_alloc(p->doc, length + 2);
    if (dir != NULL) {
        path_clean(path, length, dir);
    }
    return dir;
}

int conf_item_include(struct conf_parser *p, struct conf_frame *f, struct conf_item item)
{
    int rc = STEP_OK;
    if (!frame_push_allowed(p, f, item.offset, &rc)) {
        return rc;
    }
    size_t dir_length = strlen(f->dir);
    size_t joined_length = dir_length + 1 + item.length;
    char *joined = malloc(joined_length + 1);
    char *path = conf_doc_alloc(p->doc, joined_length + 2);
    const char *name = conf_doc_strdup(p->doc, item.text, item.length);
    if (joined == NULL || path == NULL || name == NULL) {
        free(joined);
        return conf_parser_out_of_memory(p, f);
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
        return conf_parser_out_of_memory(p, f);
    }
    if (rc != 0) {
        char reason[128];
        snprintf(reason, sizeof reason, "%s", strerror(-rc));
        if (reason[0] >= 'A' && reason[0] <= 'Z') {
            reason[0] = (char)(reason[0] - 'A' + 'a'); /* as Go spells errno texts */
        }
        /* Go opens a directory and fails to read it */
        return conf_parser_fail(p, f, item.offset, "error parsing include file '%s', %s %s: %s",
                                name, rc == -EISDIR ? "read" : "open", path, reason);
    }
    const char *dir = conf_path_dir(p, path);
    if (dir == NULL) {
        free(text);
        return conf_parser_out_of_memory(p, f);
    }
    return frame_push(p, f, FRAME_FILE, text, length, path, dir, name, item.offset);
}
