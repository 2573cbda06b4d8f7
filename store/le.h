/* Little-endian loads and stores for the bytes store/ puts on disk.
 *
 * Every multi-byte integer in a segment file is little-endian and may sit at any
 * alignment, so it is read and written through memcpy (one load on x86-64 and arm64) and
 * swapped only on a big-endian host. Pure functions; any thread. */
#ifndef IONATS_STORE_LE_H
#define IONATS_STORE_LE_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE_SWAP16(x) __builtin_bswap16(x)
#define LE_SWAP32(x) __builtin_bswap32(x)
#define LE_SWAP64(x) __builtin_bswap64(x)
#else
#define LE_SWAP16(x) (x)
#define LE_SWAP32(x) (x)
#define LE_SWAP64(x) (x)
#endif

static inline uint16_t le_load_u16(const uint8_t *source)
{
    uint16_t value;
    memcpy(&value, source, sizeof value);
    return LE_SWAP16(value);
}

static inline uint32_t le_load_u32(const uint8_t *source)
{
    uint32_t value;
    memcpy(&value, source, sizeof value);
    return LE_SWAP32(value);
}

static inline uint64_t le_load_u64(const uint8_t *source)
{
    uint64_t value;
    memcpy(&value, source, sizeof value);
    return LE_SWAP64(value);
}

static inline void le_store_u16(uint8_t *target, uint16_t value)
{
    uint16_t little = LE_SWAP16(value);
    memcpy(target, &little, sizeof little);
}

static inline void le_store_u32(uint8_t *target, uint32_t value)
{
    uint32_t little = LE_SWAP32(value);
    memcpy(target, &little, sizeof little);
}

static inline void le_store_u64(uint8_t *target, uint64_t value)
{
    uint64_t little = LE_SWAP64(value);
    memcpy(target, &little, sizeof little);
}

#endif
