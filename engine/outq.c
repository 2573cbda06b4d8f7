/* Chunked output queues and their pool: see outq.h. Shard-owned. */
#include "engine/outq.h"

#include "base/assert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void outq_pool_init(struct outq_pool *pool, uint32_t free_max)
{
    memset(pool, 0, sizeof *pool);
    pool->free_max = free_max;
}

void outq_pool_destroy(struct outq_pool *pool)
{
    ASSERT(pool->chunks_used == 0);
    struct outq_chunk *chunk = pool->free_head;
    while (chunk != NULL) {
        struct outq_chunk *next = chunk->next;
        free(chunk);
        chunk = next;
    }
    pool->free_head = NULL;
    pool->free_count = 0;
}

static struct outq_chunk *pool_take(struct outq_pool *pool)
{
    struct outq_chunk *chunk = pool->free_head;
    if (chunk != NULL) {
        pool->free_head = chunk->next;
        pool->free_count--;
    } else {
        chunk = malloc(OUTQ_CHUNK_ALLOC);
        if (chunk == NULL) {
            return NULL;
        }
        pool->allocations++;
    }
    chunk->next = NULL;
    chunk->length = 0;
    pool->chunks_used++;
    return chunk;
}

static void pool_give(struct outq_pool *pool, struct outq_chunk *chunk)
{
    ASSERT(pool->chunks_used > 0);
    pool->chunks_used--;
    if (pool->free_count < pool->free_max) {
        chunk->next = pool->free_head;
        pool->free_head = chunk;
        pool->free_count++;
    } else {
        free(chunk);
    }
}

int outq_reserve(struct outq *queue, struct outq_pool *pool, size_t extra)
{
    while (queue->room < extra) {
        struct outq_chunk *chunk = pool_take(pool);
        if (chunk == NULL) {
            return -ENOMEM;
        }
        if (queue->last == NULL) {
            ASSERT(queue->length == 0 && queue->room == 0);
            queue->head = chunk;
            queue->write = chunk;
            queue->head_offset = 0;
        } else {
            queue->last->next = chunk;
        }
        queue->last = chunk;
        queue->room += OUTQ_CHUNK_DATA;
    }
    return 0;
}

void outq_put(struct outq *queue, const void *data, size_t length)
{
    ASSERT(length <= queue->room);
    const char *from = data;
    while (length > 0) {
        struct outq_chunk *chunk = queue->write;
        if (chunk->length == OUTQ_CHUNK_DATA) {
            chunk = chunk->next;
            ASSERT(chunk != NULL && chunk->length == 0);
            queue->write = chunk;
        }
        size_t take = OUTQ_CHUNK_DATA - chunk->length;
        if (take > length) {
            take = length;
        }
        memcpy(chunk->data + chunk->length, from, take);
        chunk->length += (uint32_t)take;
        from += take;
        length -= take;
        queue->room -= take;
        queue->length += take;
    }
}

void outq_put_u64(struct outq *queue, uint64_t value)
{
    char digits[20];
    int count = sizeof digits;
    do {
        digits[--count] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    outq_put(queue, digits + count, sizeof digits - (size_t)count);
}

int outq_iov(const struct outq *queue, struct iovec *iov, int iov_max, size_t bytes_max,
             size_t *bytes)
{
    int count = 0;
    size_t total = 0;
    uint32_t offset = queue->head_offset;
    for (const struct outq_chunk *chunk = queue->head;
         chunk != NULL && count < iov_max && total < bytes_max && chunk->length > offset;
         chunk = chunk->next) {
        size_t take = chunk->length - offset;
        if (take > bytes_max - total) {
            take = bytes_max - total;
        }
        iov[count].iov_base = (char *)chunk->data + offset;
        iov[count].iov_len = take;
        count++;
        total += take;
        offset = 0;
    }
    *bytes = total;
    return count;
}

void outq_consume(struct outq *queue, struct outq_pool *pool, size_t bytes)
{
    ASSERT(bytes <= queue->length);
    queue->length -= bytes;
    if (queue->length == 0) {
        outq_free(queue, pool);
        return;
    }
    while (bytes > 0) {
        struct outq_chunk *chunk = queue->head;
        size_t left = chunk->length - queue->head_offset;
        if (bytes < left) {
            queue->head_offset += (uint32_t)bytes;
            return;
        }
        /* the chunk is done: bytes remain unsent, so it is full and not the write chunk */
        ASSERT(chunk != queue->write && chunk->length == OUTQ_CHUNK_DATA);
        bytes -= left;
        queue->head = chunk->next;
        queue->head_offset = 0;
        pool_give(pool, chunk);
    }
}

void outq_free(struct outq *queue, struct outq_pool *pool)
{
    struct outq_chunk *chunk = queue->head;
    while (chunk != NULL) {
        struct outq_chunk *next = chunk->next;
        pool_give(pool, chunk);
        chunk = next;
    }
    memset(queue, 0, sizeof *queue);
}
