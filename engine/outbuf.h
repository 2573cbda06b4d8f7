/* A connection's output bytes: a growable byte buffer that frames are appended to.
 *
 * Two of these per connection make the output double buffered: one collects frames during
 * the loop turn, the other is held by the kernel for the one send in flight. Growth is by
 * doubling, so appends cost amortised O(1) and no allocation happens per message. Owned by
 * one connection on one shard. */
#ifndef IONATS_ENGINE_OUTBUF_H
#define IONATS_ENGINE_OUTBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct outbuf {
    char *data; /* owned; held by the kernel while its send is in flight */
    size_t length;
    size_t capacity;
};

/* Makes room for `extra` more bytes. 0 or -ENOMEM. */
int outbuf_reserve(struct outbuf *buffer, size_t extra);

/* Frees the memory when it grew past `keep_capacity`, else keeps it for reuse. */
void outbuf_trim(struct outbuf *buffer, size_t keep_capacity);

void outbuf_free(struct outbuf *buffer);

/* Appends bytes the caller reserved room for. */
static inline void outbuf_put(struct outbuf *buffer, const void *data, size_t length)
{
    memcpy(buffer->data + buffer->length, data, length);
    buffer->length += length;
}

/* Appends a decimal number the caller reserved room for (at most 20 digits). */
static inline void outbuf_put_u64(struct outbuf *buffer, uint64_t value)
{
    char digits[20];
    int count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    char *out = buffer->data + buffer->length;
    for (int i = 0; i < count; i++) {
        out[i] = digits[count - 1 - i];
    }
    buffer->length += (size_t)count;
}

#endif
