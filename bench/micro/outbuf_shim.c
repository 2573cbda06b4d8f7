/* Output coalescing micro benchmark, C side: see outbuf_shim.h.
 *
 * The frame writer copies engine/route.c's deliver() minus the connection bookkeeping:
 * reserve the worst-case frame, then append the pieces. Subject and sid are held as
 * slices with their lengths, as the parser and the subscription record hand them over. */
#include "bench/micro/outbuf_shim.h"

#include "base/assert.h"
#include "engine/outbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    /* route.c's FRAME_OVERHEAD_MAX: "HMSG " + 4 spaces + 2 sizes of 20 digits + 2 CRLFs. */
    SHIM_FRAME_OVERHEAD_MAX = 5 + 4 + 2 * 20 + 2 + 2,
    /* Largest payload this benchmark is asked for. */
    SHIM_PAYLOAD_BYTES_MAX = 64 * 1024,
};

STATIC_ASSERT(SHIM_PAYLOAD_BYTES_MAX <= OUTBUF_SHIM_SEND_BYTES, "a frame fits one send");

struct outbuf_shim {
    struct outbuf out;
    const char *subject; /* borrowed: a string literal */
    uint32_t subject_length;
    const char *sid; /* borrowed: a string literal */
    uint32_t sid_length;
    char *payload; /* owned */
    uint32_t payload_bytes;
};

struct outbuf_shim *outbuf_shim_create(uint32_t payload_bytes)
{
    ASSERT(payload_bytes <= SHIM_PAYLOAD_BYTES_MAX);
    struct outbuf_shim *shim = calloc(1, sizeof *shim);
    ASSERT(shim != NULL);
    shim->subject = "orders.eu.created";
    shim->subject_length = (uint32_t)strlen(shim->subject);
    shim->sid = "42";
    shim->sid_length = (uint32_t)strlen(shim->sid);
    shim->payload = malloc(payload_bytes + 1);
    ASSERT(shim->payload != NULL);
    memset(shim->payload, 'x', payload_bytes);
    shim->payload_bytes = payload_bytes;
    /* Grow once up front: the steady state of a busy connection reuses its buffer. */
    ASSERT(outbuf_reserve(&shim->out, OUTBUF_SHIM_SEND_BYTES + SHIM_FRAME_OVERHEAD_MAX +
                                          SHIM_PAYLOAD_BYTES_MAX + 64) == 0);
    return shim;
}

void outbuf_shim_destroy(struct outbuf_shim *shim)
{
    outbuf_free(&shim->out);
    free(shim->payload);
    free(shim);
}

size_t outbuf_shim_frame_bytes(const struct outbuf_shim *shim)
{
    char line[SHIM_FRAME_OVERHEAD_MAX + 64];
    int length = snprintf(line, sizeof line, "MSG %s %s %u\r\n", shim->subject, shim->sid,
                          shim->payload_bytes);
    ASSERT(length > 0);
    return (size_t)length + shim->payload_bytes + 2;
}

/* Empties the buffer once it holds a send's worth, as a completed send would. */
static void send_if_full(struct outbuf_shim *shim)
{
    if (shim->out.length >= OUTBUF_SHIM_SEND_BYTES) {
        shim->out.length = 0;
    }
}

uint64_t outbuf_shim_append(struct outbuf_shim *shim, uint32_t frame_count)
{
    struct outbuf *out = &shim->out;
    uint64_t appended = 0;
    for (uint32_t f = 0; f < frame_count; f++) {
        size_t frame =
            SHIM_FRAME_OVERHEAD_MAX + shim->subject_length + shim->sid_length + shim->payload_bytes;
        ASSERT(outbuf_reserve(out, frame) == 0);
        size_t start = out->length;
        outbuf_put(out, "MSG ", 4);
        outbuf_put(out, shim->subject, shim->subject_length);
        outbuf_put(out, " ", 1);
        outbuf_put(out, shim->sid, shim->sid_length);
        outbuf_put(out, " ", 1);
        outbuf_put_u64(out, shim->payload_bytes);
        outbuf_put(out, "\r\n", 2);
        outbuf_put(out, shim->payload, shim->payload_bytes);
        outbuf_put(out, "\r\n", 2);
        appended += out->length - start;
        send_if_full(shim);
    }
    return appended;
}

uint64_t outbuf_shim_append_snprintf(struct outbuf_shim *shim, uint32_t frame_count)
{
    struct outbuf *out = &shim->out;
    uint64_t appended = 0;
    for (uint32_t f = 0; f < frame_count; f++) {
        size_t frame =
            SHIM_FRAME_OVERHEAD_MAX + shim->subject_length + shim->sid_length + shim->payload_bytes;
        ASSERT(outbuf_reserve(out, frame) == 0);
        size_t start = out->length;
        int length = snprintf(out->data + out->length, out->capacity - out->length,
                              "MSG %.*s %.*s %u\r\n", (int)shim->subject_length, shim->subject,
                              (int)shim->sid_length, shim->sid, shim->payload_bytes);
        ASSERT(length > 0);
        out->length += (size_t)length;
        outbuf_put(out, shim->payload, shim->payload_bytes);
        outbuf_put(out, "\r\n", 2);
        appended += out->length - start;
        send_if_full(shim);
    }
    return appended;
}
