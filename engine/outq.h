/* A connection's output: a queue of fixed-size chunks taken from its shard's pool.
 *
 * The one idea: output is never moved or regrown. Frames are copied once, into the chunk at
 * the write position (spanning into the next when it fills); a send hands the kernel the
 * unsent bytes as an iovec over the chunks, and while it is in flight new frames go on
 * being appended behind it, because nothing the kernel reads ever moves. When a send ends,
 * the chunks it finished go back to the pool, and an idle connection holds no output memory
 * at all. The pool keeps a bounded number of free chunks for reuse, so a steady stream of
 * output costs no allocation. Reserve, then put: outq_reserve links in the chunks a frame
 * needs (the only step that can fail), and the puts that follow cannot fail.
 * Shard-owned: a queue and its pool belong to one shard's thread. */
#ifndef IONATS_ENGINE_OUTQ_H
#define IONATS_ENGINE_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Bytes of one chunk's allocation, header included (an allocator size class). */
enum { OUTQ_CHUNK_ALLOC = 16 * 1024 };

struct outq_chunk {
    struct outq_chunk *next;
    uint32_t length; /* bytes written into data */
    uint32_t reserved_pad;
    char data[];
};

/* Bytes of output one chunk holds. */
#define OUTQ_CHUNK_DATA ((uint32_t)(OUTQ_CHUNK_ALLOC - sizeof(struct outq_chunk)))

/* Free chunks a pool keeps for reuse by default (4 MiB); beyond, they are freed. */
enum { OUTQ_POOL_KEEP_DEFAULT = 256 };

struct outq_pool {
    struct outq_chunk *free_head;
    uint32_t free_count;
    uint32_t free_max;     /* free chunks kept; more go back to the allocator */
    uint64_t chunks_used;  /* chunks in queues */
    uint64_t allocations;  /* chunks ever taken from the allocator */
};

struct outq {
    struct outq_chunk *head;  /* first chunk with unsent bytes; NULL when empty */
    struct outq_chunk *write; /* the chunk the next byte goes into */
    struct outq_chunk *last;  /* the chain's end (chunks after `write` are empty) */
    size_t length;            /* unsent bytes */
    size_t room;              /* bytes that fit from the write position to the chain's end */
    uint32_t head_offset;     /* bytes of head already sent */
};

void outq_pool_init(struct outq_pool *pool, uint32_t free_max);

/* Frees the pool's free chunks. Every queue must have been freed into it first. */
void outq_pool_destroy(struct outq_pool *pool);

/* Links in chunks until `extra` more bytes fit. 0 or -ENOMEM (what was linked stays). */
int outq_reserve(struct outq *queue, struct outq_pool *pool, size_t extra);

/* Appends bytes the caller reserved room for. */
void outq_put(struct outq *queue, const void *data, size_t length);

/* Appends a decimal number the caller reserved room for (at most 20 digits). */
void outq_put_u64(struct outq *queue, uint64_t value);

/* Fills up to `iov_max` iovecs with the unsent bytes from the front, at most `bytes_max`
 * of them. Returns the iovec count (0 when empty) and the bytes they hold in *bytes. The
 * bytes stay where they are until outq_consume passes them. */
int outq_iov(const struct outq *queue, struct iovec *iov, int iov_max, size_t bytes_max,
             size_t *bytes);

/* `bytes` from the front were sent: the chunks they finish go back to the pool, and when
 * nothing is left unsent every chunk does. */
void outq_consume(struct outq *queue, struct outq_pool *pool, size_t bytes);

/* Returns every chunk to the pool; the queue is empty after. */
void outq_free(struct outq *queue, struct outq_pool *pool);

#endif
