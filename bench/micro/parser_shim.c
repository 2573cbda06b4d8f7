/* Parser micro benchmark, C side: see parser_shim.h.
 *
 * The streams are what a busy publisher sends: many pipelined frames per receive. The
 * mixed stream repeats a fixed cycle of ten ops so that every pass parses the same bytes. */
#include "bench/micro/parser_shim.h"

#include "base/assert.h"
#include "proto/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    /* nats-server's defaults: 4 KiB control lines, 1 MiB payloads. */
    SHIM_CONTROL_LINE_MAX = 4096,
    SHIM_PAYLOAD_MAX = 1 << 20,
    /* The payload size the broker's headline benchmarks use. */
    SHIM_PAYLOAD_BYTES = 128,
    /* Room for the longest frame of either stream, payload included. */
    SHIM_FRAME_BYTES_MAX = 512,
};

STATIC_ASSERT(SHIM_PAYLOAD_BYTES + 128 <= SHIM_FRAME_BYTES_MAX, "a frame fits its scratch");

struct parser_shim {
    struct parser parser;
    char *stream; /* owned */
    size_t stream_bytes;
    uint64_t op_count; /* ops in the stream */
};

/* Writes frame number `index` of `stream` into `frame`; returns its length. */
static size_t frame_write(enum parser_shim_stream stream, uint64_t index, char *frame)
{
    static const char header[] = "NATS/1.0\r\nX-Id: 1\r\n\r\n";
    const size_t header_bytes = sizeof header - 1;
    char payload[SHIM_PAYLOAD_BYTES];
    memset(payload, 'x', sizeof payload);
    int length = 0;
    unsigned kind = stream == PARSER_SHIM_STREAM_PUB ? 0 : (unsigned)(index % 10);
    switch (kind) {
    case 0:
    case 1:
    case 2:
    case 3:
        length = snprintf(frame, SHIM_FRAME_BYTES_MAX, "PUB foo.bar %d\r\n", SHIM_PAYLOAD_BYTES);
        break;
    case 4:
    case 5:
        length = snprintf(frame, SHIM_FRAME_BYTES_MAX,
                          "PUB svc.orders.create _INBOX.k3Zq8RfE2pLm9XwT4vYb1N.%u %d\r\n",
                          (unsigned)(index % 1000), SHIM_PAYLOAD_BYTES);
        break;
    case 6:
        length = snprintf(frame, SHIM_FRAME_BYTES_MAX, "HPUB foo.bar %zu %zu\r\n%s", header_bytes,
                          header_bytes + SHIM_PAYLOAD_BYTES, header);
        break;
    case 7:
        return (size_t)snprintf(frame, SHIM_FRAME_BYTES_MAX, "SUB foo.* workers %u\r\n",
                                (unsigned)(index % 1000));
    case 8:
        return (size_t)snprintf(frame, SHIM_FRAME_BYTES_MAX, "UNSUB %u\r\n",
                                (unsigned)(index % 1000));
    default:
        memcpy(frame, "PING\r\n", 6);
        return 6;
    }
    ASSERT(length > 0);
    ASSERT((size_t)length + SHIM_PAYLOAD_BYTES + 2 <= SHIM_FRAME_BYTES_MAX);
    memcpy(frame + length, payload, SHIM_PAYLOAD_BYTES);
    memcpy(frame + length + SHIM_PAYLOAD_BYTES, "\r\n", 2);
    return (size_t)length + SHIM_PAYLOAD_BYTES + 2;
}

struct parser_shim *parser_shim_create(enum parser_shim_stream stream, size_t stream_bytes_max)
{
    struct parser_shim *shim = calloc(1, sizeof *shim);
    ASSERT(shim != NULL);
    shim->stream = malloc(stream_bytes_max);
    ASSERT(shim->stream != NULL);
    char frame[SHIM_FRAME_BYTES_MAX];
    for (;;) {
        size_t frame_bytes = frame_write(stream, shim->op_count, frame);
        if (shim->stream_bytes + frame_bytes > stream_bytes_max) {
            break;
        }
        memcpy(shim->stream + shim->stream_bytes, frame, frame_bytes);
        shim->stream_bytes += frame_bytes;
        shim->op_count++;
    }
    ASSERT(shim->op_count > 0);
    parser_init(&shim->parser, PARSER_ROLE_SERVER, SHIM_CONTROL_LINE_MAX, SHIM_PAYLOAD_MAX);
    return shim;
}

void parser_shim_destroy(struct parser_shim *shim)
{
    parser_destroy(&shim->parser);
    free(shim->stream);
    free(shim);
}

size_t parser_shim_stream_bytes(const struct parser_shim *shim)
{
    return shim->stream_bytes;
}

uint64_t parser_shim_stream_op_count(const struct parser_shim *shim)
{
    return shim->op_count;
}

uint64_t parser_shim_parse(struct parser_shim *shim, size_t chunk_bytes)
{
    ASSERT(chunk_bytes > 0);
    const char *stream_end = shim->stream + shim->stream_bytes;
    uint64_t op_count = 0;
    uint64_t payload_bytes = 0; /* read so the payload slice is used, as routing would */
    struct proto_op op;
    for (const char *chunk = shim->stream; chunk < stream_end; chunk += chunk_bytes) {
        const char *cursor = chunk;
        size_t left = (size_t)(stream_end - chunk);
        const char *end = chunk + (left < chunk_bytes ? left : chunk_bytes);
        int rc;
        while ((rc = parser_next(&shim->parser, &cursor, end, &op)) == 1) {
            op_count++;
            payload_bytes += op.payload.length;
        }
        ASSERT(rc == 0);
        ASSERT(cursor == end);
    }
    ASSERT(!parser_mid_op(&shim->parser));
    ASSERT(op_count == shim->op_count);
    ASSERT(payload_bytes > 0); /* every stream carries payloads */
    return op_count;
}

uint64_t parser_shim_carry_count(const struct parser_shim *shim)
{
    return shim->parser.carry_count;
}
