/* Seeded xxh3 hashing for every hash table in ionats.
 *
 * A seed chosen at start-up keeps clients from forcing collisions on subject tables.
 * The seed is a value the owner of a table keeps (per shard), not global state. */
#ifndef IONATS_BASE_HASH_H
#define IONATS_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static inline uint64_t hash_bytes(const void *data, size_t size, uint64_t seed)
{
    return XXH3_64bits_withSeed(data, size, seed);
}

#endif
