/* Output buffer growth: see outbuf.h. */
#include "engine/outbuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* First allocation: big enough for a burst of small frames without regrowing. */
enum { OUTBUF_CAPACITY_MIN = 4096 };

int outbuf_reserve(struct outbuf *buffer, size_t extra)
{
    if (extra > SIZE_MAX / 2 - buffer->length) {
        return -ENOMEM; /* no allocator gives half the address space; and no wrap below */
    }
    size_t need = buffer->length + extra;
    if (need <= buffer->capacity) {
        return 0;
    }
    size_t capacity = buffer->capacity ? buffer->capacity : OUTBUF_CAPACITY_MIN;
    while (capacity < need) {
        capacity *= 2; /* need ≤ SIZE_MAX / 2, so this stops before it could wrap */
    }
    char *grown = realloc(buffer->data, capacity);
    if (grown == NULL) {
        return -ENOMEM;
    }
    buffer->data = grown;
    buffer->capacity = capacity;
    return 0;
}

void outbuf_trim(struct outbuf *buffer, size_t keep_capacity)
{
    if (buffer->length == 0 && buffer->capacity > keep_capacity) {
        outbuf_free(buffer);
    }
}

void outbuf_free(struct outbuf *buffer)
{
    free(buffer->data);
    buffer->data = NULL;
    buffer->length = 0;
    buffer->capacity = 0;
}
