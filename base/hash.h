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

/* The next value of a deterministic pseudo-random sequence (splitmix64) kept in *state:
 * for tests and benchmarks that must replay the same inputs from a seed. Not for secrets. */
static inline uint64_t hash_sequence_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

#endif
