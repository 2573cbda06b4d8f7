/* A single-producer, single-consumer byte ring for variable-size records between two
 * shards.
 *
 * The one idea: the producer reserves and writes any number of records privately and
 * makes them visible with one release store of `tail` per loop turn (spsc_publish); the
 * consumer reads everything published with one acquire load and frees it with one release
 * store of `head` (spsc_consume_done). So the cost of the cross-core cache-line traffic is
 * paid once per batch, not once per message.
 *
 * Record layout in the ring (every record starts 8-byte aligned):
 *   offset 0  u32 length of the body in bytes (SPSC_PAD: a filler up to the ring's end)
 *   offset 4  u32 type, chosen by the user
 *   offset 8  body, padded to a multiple of 8
 * A record never wraps: when it does not fit before the end, a pad record fills the rest
 * and the record starts at offset 0.
 *
 * Memory orders: `tail` is stored with release by the producer after writing records and
 * loaded with acquire by the consumer before reading them (pairs: spsc_publish ↔
 * spsc_peek). `head` is stored with release by the consumer after it is done with the
 * bytes and loaded with acquire by the producer before overwriting them (pairs:
 * spsc_consume_done ↔ spsc_reserve). Producer-private and consumer-private fields sit on
 * their own cache lines, 128 bytes apart against the adjacent-line prefetcher. */
#ifndef IONATS_BASE_SPSC_H
#define IONATS_BASE_SPSC_H

#include "base/assert.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
    SPSC_ALIGN = 8,
    SPSC_HEADER_SIZE = 8,
    SPSC_CACHE_LINE_PAIR = 128,
};
#define SPSC_PAD UINT32_MAX

struct spsc_record {
    uint32_t length;
    uint32_t type;
};

struct spsc {
    /* Shared, written by the producer (release) and read by the consumer (acquire). */
    _Alignas(SPSC_CACHE_LINE_PAIR) _Atomic uint64_t tail;
    /* Producer only. */
    _Alignas(SPSC_CACHE_LINE_PAIR) uint64_t producer_tail;   /* reserved, not published */
    uint64_t producer_head_cache; /* last head seen; refreshed only when the ring looks full */
    /* Shared, written by the consumer (release) and read by the producer (acquire). */
    _Alignas(SPSC_CACHE_LINE_PAIR) _Atomic uint64_t head;
    /* Consumer only. */
    _Alignas(SPSC_CACHE_LINE_PAIR) uint64_t consumer_head;   /* read, not yet released */
    uint64_t consumer_tail_cache;
    /* Immutable after init. */
    _Alignas(SPSC_CACHE_LINE_PAIR) uint64_t size; /* bytes, a power of two */
    unsigned char *bytes;                         /* owned by whoever called spsc_init */
};

static inline uint64_t spsc_body_size(uint32_t length)
{
    return ((uint64_t)length + SPSC_ALIGN - 1) & ~(uint64_t)(SPSC_ALIGN - 1);
}

/* `bytes` must be `size` bytes, size a power of two ≥ 64, aligned to 8. */
static inline void spsc_init(struct spsc *ring, void *bytes, uint64_t size)
{
    ASSERT(size >= 64);
    ASSERT((size & (size - 1)) == 0);
    ASSERT(((uintptr_t)bytes & (SPSC_ALIGN - 1)) == 0);
    memset(ring, 0, sizeof *ring);
    ring->bytes = bytes;
    ring->size = size;
    atomic_store_explicit(&ring->tail, 0, memory_order_relaxed);
    atomic_store_explicit(&ring->head, 0, memory_order_relaxed);
}

/* Largest body a record may have in a ring of `size` bytes; a constant expression, so that
 * settings can be checked against it at compile time. */
#define SPSC_BODY_MAX(size) ((int64_t)(size) / 2 - (int64_t)SPSC_HEADER_SIZE)

/* Largest body a record may have in this ring. */
static inline uint64_t spsc_body_max(const struct spsc *ring)
{
    return (uint64_t)SPSC_BODY_MAX(ring->size);
}

/* Producer: room for a record with a body of `length` bytes. Returns a pointer to write the
 * body into, or NULL when the ring is full (the caller keeps the record and retries after
 * the consumer has made room). The record is invisible until spsc_commit + spsc_publish. */
static inline void *spsc_reserve(struct spsc *ring, uint32_t type, uint32_t length)
{
    ASSERT(length <= spsc_body_max(ring));
    uint64_t need = SPSC_HEADER_SIZE + spsc_body_size(length);
    uint64_t offset = ring->producer_tail & (ring->size - 1);
    uint64_t pad = (offset + need > ring->size) ? ring->size - offset : 0;
    uint64_t end = ring->producer_tail + pad + need;
    if (end - ring->producer_head_cache > ring->size) {
        /* acquire: pairs with the consumer's release in spsc_consume_done, so the bytes
         * before head are no longer read when they are overwritten */
        ring->producer_head_cache = atomic_load_explicit(&ring->head, memory_order_acquire);
        if (end - ring->producer_head_cache > ring->size) {
            return NULL;
        }
    }
    if (pad > 0) {
        struct spsc_record *filler = (struct spsc_record *)(ring->bytes + offset);
        filler->length = SPSC_PAD;
        filler->type = 0;
        ring->producer_tail += pad;
        offset = 0;
    }
    struct spsc_record *record = (struct spsc_record *)(ring->bytes + offset);
    record->length = length;
    record->type = type;
    return ring->bytes + offset + SPSC_HEADER_SIZE;
}

/* Producer: the record reserved last is written completely. */
static inline void spsc_commit(struct spsc *ring)
{
    const struct spsc_record *record =
        (const struct spsc_record *)(ring->bytes + (ring->producer_tail & (ring->size - 1)));
    ASSERT(record->length != SPSC_PAD);
    ring->producer_tail += SPSC_HEADER_SIZE + spsc_body_size(record->length);
}

/* Producer: makes every committed record visible. True when something new was published. */
static inline bool spsc_publish(struct spsc *ring)
{
    uint64_t published = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    if (published == ring->producer_tail) {
        return false;
    }
    /* release: pairs with the consumer's acquire in spsc_peek; the records written before
     * are visible to it once it sees this tail */
    atomic_store_explicit(&ring->tail, ring->producer_tail, memory_order_release);
    return true;
}

/* Consumer: the next published record, or NULL when there is none. Its body stays valid
 * until spsc_consume_done. */
static inline const struct spsc_record *spsc_peek(struct spsc *ring)
{
    for (;;) {
        if (ring->consumer_head == ring->consumer_tail_cache) {
            /* acquire: pairs with the producer's release in spsc_publish */
            ring->consumer_tail_cache = atomic_load_explicit(&ring->tail, memory_order_acquire);
            if (ring->consumer_head == ring->consumer_tail_cache) {
                return NULL;
            }
        }
        const struct spsc_record *record =
            (const struct spsc_record *)(ring->bytes + (ring->consumer_head & (ring->size - 1)));
        if (record->length != SPSC_PAD) {
            return record;
        }
        ring->consumer_head += ring->size - (ring->consumer_head & (ring->size - 1));
    }
}

static inline const void *spsc_record_body(const struct spsc_record *record)
{
    return (const unsigned char *)record + SPSC_HEADER_SIZE;
}

/* Consumer: steps past the record spsc_peek returned. */
static inline void spsc_advance(struct spsc *ring, const struct spsc_record *record)
{
    ring->consumer_head += SPSC_HEADER_SIZE + spsc_body_size(record->length);
}

/* Consumer: hands the bytes of every record advanced past back to the producer. */
static inline void spsc_consume_done(struct spsc *ring)
{
    /* release: pairs with the producer's acquire in spsc_reserve */
    atomic_store_explicit(&ring->head, ring->consumer_head, memory_order_release);
}

/* Either side: true when published records wait (the consumer's view may be stale). */
static inline bool spsc_pending(struct spsc *ring)
{
    return atomic_load_explicit(&ring->tail, memory_order_acquire) !=
           atomic_load_explicit(&ring->head, memory_order_acquire);
}

#endif
