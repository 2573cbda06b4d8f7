/* libFuzzer target for the configuration parser (proto/conf.c, conf_lex.c): any bytes as
 * a file in nats-server's format.
 *
 * An include of a name ending in "self" reads the input itself again (cycles run into the
 * depth bound), any other include a small fixed file; $A..$D come from a fixed
 * environment, $D naming itself (a cycle). What must hold for every input: the result is
 * 0, -EINVAL or -ENOMEM; on an error no tree is handed out and the error has a place (line
 * and column from 1) and a NUL-terminated message; on success every node of the tree,
 * walked with an explicit stack, has a type, a place, and strings NUL-terminated at their
 * length. The input is copied without a terminating NUL, so a read past its end is caught
 * by AddressSanitizer, and LeakSanitizer sees that freeing the tree gives everything back. */
#include "proto/conf.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
    const uint8_t *data;
    size_t size;
};

static int fuzz_read(void *context, const char *path, char **text, size_t *length)
{
    static const char fixed[] = "x: 1\ny { z: [1, 2 ] }\n";
    const struct input *input = context;
    size_t path_length = strlen(path);
    bool self = path_length >= 4 && strcmp(path + path_length - 4, "self") == 0;
    const void *source = self ? (const void *)input->data : (const void *)fixed;
    size_t size = self ? input->size : sizeof fixed - 1;
    *text = malloc(size > 0 ? size : 1);
    if (*text == NULL) {
        return -ENOMEM;
    }
    if (size > 0) {
        memcpy(*text, source, size);
    }
    *length = size;
    return 0;
}

static const char *fuzz_getenv(void *context, const char *name)
{
    static const char *const environment[][2] = {
        {"A", "1k"}, {"B", "$A"}, {"C", "{ a: $B, b: [x, y ] }"}, {"D", "$D"}};
    for (size_t i = 0; i < sizeof environment / sizeof environment[0]; i++) {
        if (strcmp(environment[i][0], name) == 0) {
            return environment[i][1];
        }
    }
    return NULL;
}

static void check_node(const struct conf_node *node)
{
    if (node->position.file == NULL || node->position.line < 1 || node->position.column < 1) {
        abort();
    }
    if ((node->type == CONF_STRING || node->type == CONF_DATETIME) &&
        node->as.string.bytes[node->as.string.length] != '\0') {
        abort();
    }
}

/* Walks the tree without recursion; a variable may make a subtree appear twice, so the
 * walk is bounded by the node budget rather than by what it has seen. */
static void check_tree(const struct conf_node *root)
{
    enum { STACK_MAX = 4096 };
    static const struct conf_node *stack[STACK_MAX];
    size_t count = 0;
    size_t visited = 0;
    stack[count++] = root;
    while (count > 0 && visited < (size_t)CONF_NODES_MAX) {
        const struct conf_node *node = stack[--count];
        visited++;
        check_node(node);
        if (node->type == CONF_MAP) {
            for (size_t i = 0; i < node->as.map.count && count < STACK_MAX; i++) {
                const struct conf_member *member = &node->as.map.members[i];
                if (member->key[member->key_length] != '\0') {
                    abort();
                }
                stack[count++] = member->value;
            }
        } else if (node->type == CONF_ARRAY) {
            for (size_t i = 0; i < node->as.array.count && count < STACK_MAX; i++) {
                stack[count++] = node->as.array.items[i];
            }
        } else if (node->type > CONF_ARRAY) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size > 0 ? size : 1);
    if (text == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(text, data, size);
    }
    struct input input = {data, size};
    struct conf_reader reader = {fuzz_read, fuzz_getenv, &input};
    struct conf_doc *doc = (struct conf_doc *)&input; /* must be cleared */
    struct conf_error error;
    int rc = conf_parse(text, size, "fuzz/main.conf", &reader, &doc, &error);
    free(text);
    if (rc != 0) {
        if ((rc != -EINVAL && rc != -ENOMEM) || doc != NULL) {
            abort();
        }
        if (memchr(error.message, '\0', sizeof error.message) == NULL ||
            memchr(error.file, '\0', sizeof error.file) == NULL || error.message[0] == '\0') {
            abort();
        }
        if (rc == -EINVAL && (error.line < 1 || error.column < 1)) {
            abort();
        }
        return 0;
    }
    const struct conf_node *root = conf_doc_root(doc);
    if (root->type != CONF_MAP) {
        abort();
    }
    check_tree(root);
    conf_doc_free(doc);
    return 0;
}
