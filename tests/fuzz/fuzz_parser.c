/* libFuzzer target for the protocol parser.
 *
 * The first input byte picks the parser's role (server, client, leafnode link) and how the
 * rest is cut into receives (as
 * a socket would deliver it), so every split path is exercised, not just whole buffers.
 * Every op handed out must point inside the bytes given or the parser's carry, and sizes
 * must agree with what the op announced. */
#include "proto/parser.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { CONTROL_LINE_MAX = 512, PAYLOAD_MAX = 4096 };

static int slice_inside(struct proto_slice slice, const char *start, size_t length,
                        const struct parser *parser)
{
    if (slice.length == 0) {
        return 1;
    }
    const char *end = slice.data + slice.length;
    if (slice.data >= start && end <= start + length) {
        return 1;
    }
    return parser->carry != NULL && slice.data >= parser->carry &&
           end <= parser->carry + parser->carry_length;
}

static void check_op(const struct proto_op *op, const char *chunk, size_t length,
                     const struct parser *parser)
{
    const struct proto_slice slices[] = {op->subject, op->reply, op->queue, op->sid, op->text,
                                         op->payload};
    for (size_t i = 0; i < sizeof slices / sizeof slices[0]; i++) {
        if (!slice_inside(slices[i], chunk, length, parser)) {
            abort();
        }
    }
    if (op->header_length > op->payload.length) {
        abort();
    }
    if (op->payload.length > PAYLOAD_MAX) {
        abort();
    }
    if (op->queue.length == 0) {
        return;
    }
    /* an LMSG's queue names lie inside its list */
    const char *cursor = op->queue.data;
    const char *end = op->queue.data + op->queue.length;
    struct proto_slice name;
    while (proto_queue_next(&cursor, end, &name)) {
        if (name.data < op->queue.data || name.data + name.length > end) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    static const enum parser_role roles[] = {PARSER_ROLE_SERVER, PARSER_ROLE_CLIENT,
                                             PARSER_ROLE_LEAF};
    enum parser_role role = roles[data[0] % 3];
    size_t chunk_max = (size_t)(data[0] / 3) + 1;
    struct parser parser;
    parser_init(&parser, role, CONTROL_LINE_MAX, PAYLOAD_MAX);
    const char *input = (const char *)data + 1;
    size_t left = size - 1;
    while (left > 0) {
        size_t chunk = left < chunk_max ? left : chunk_max;
        /* a copy, so reading past the chunk is caught by the sanitizer */
        char *copy = malloc(chunk);
        memcpy(copy, input, chunk);
        const char *cursor = copy;
        int rc;
        struct proto_op op;
        while ((rc = parser_next(&parser, &cursor, copy + chunk, &op)) == 1) {
            check_op(&op, copy, chunk, &parser);
        }
        free(copy);
        if (rc < 0) {
            break;
        }
        input += chunk;
        left -= chunk;
    }
    parser_destroy(&parser);
    return 0;
}
