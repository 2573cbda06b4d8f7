/* nkeys' text form: see nkey.h. */
#include "proto/nkey.h"

#include "base/assert.h"

#include <string.h>

static const char BASE32_ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

enum {
    BASE32_BITS = 5,
    PUBLIC_RAW_SIZE = 1 + NKEY_KEY_SIZE + 2, /* prefix, key, CRC */
    SEED_RAW_SIZE = 2 + NKEY_KEY_SIZE + 2,   /* two prefix bytes, seed, CRC */
    SEED_PREFIX = 18 << 3,                   /* 'S' */
};

static uint16_t crc16_xmodem(const uint8_t *data, size_t length)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < length; i++) {
        crc ^= (uint16_t)(data[i] << 8);
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

static void base32_encode(const uint8_t *raw, size_t length, char *out)
{
    uint32_t buffer = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < length; i++) {
        buffer = (buffer << 8) | raw[i];
        bits += 8;
        while (bits >= BASE32_BITS) {
            out[o++] = BASE32_ALPHABET[(buffer >> (bits - BASE32_BITS)) & 31];
            bits -= BASE32_BITS;
        }
    }
    if (bits > 0) {
        out[o++] = BASE32_ALPHABET[(buffer << (BASE32_BITS - bits)) & 31];
    }
    out[o] = '\0';
}

/* Decodes exactly `size` bytes from `length` characters; false on a character outside the
 * alphabet, a length that does not give `size` bytes, or nonzero padding bits. */
static bool base32_decode(const char *text, size_t length, uint8_t *raw, size_t size)
{
    if ((length * BASE32_BITS) / 8 != size) {
        return false;
    }
    uint32_t buffer = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < length; i++) {
        const char *at = memchr(BASE32_ALPHABET, text[i], sizeof BASE32_ALPHABET - 1);
        if (at == NULL || text[i] == '\0') {
            return false;
        }
        buffer = (buffer << BASE32_BITS) | (uint32_t)(at - BASE32_ALPHABET);
        bits += BASE32_BITS;
        if (bits >= 8) {
            raw[o++] = (uint8_t)(buffer >> (bits - 8));
            bits -= 8;
        }
    }
    return (buffer & ((1u << bits) - 1)) == 0;
}

static void crc_append(uint8_t *raw, size_t length)
{
    uint16_t crc = crc16_xmodem(raw, length);
    raw[length] = (uint8_t)(crc & 0xff);
    raw[length + 1] = (uint8_t)(crc >> 8);
}

bool nkey_public_decode(const char *text, size_t length, enum nkey_type type,
                        uint8_t key[NKEY_KEY_SIZE])
{
    uint8_t raw[PUBLIC_RAW_SIZE];
    if (length != NKEY_PUBLIC_LENGTH || !base32_decode(text, length, raw, sizeof raw)) {
        return false;
    }
    uint16_t crc = (uint16_t)(raw[PUBLIC_RAW_SIZE - 2] | (raw[PUBLIC_RAW_SIZE - 1] << 8));
    if (raw[0] != (uint8_t)type || crc16_xmodem(raw, PUBLIC_RAW_SIZE - 2) != crc) {
        return false;
    }
    memcpy(key, raw + 1, NKEY_KEY_SIZE);
    return true;
}

void nkey_public_encode(enum nkey_type type, const uint8_t key[NKEY_KEY_SIZE], char *out)
{
    uint8_t raw[PUBLIC_RAW_SIZE];
    raw[0] = (uint8_t)type;
    memcpy(raw + 1, key, NKEY_KEY_SIZE);
    crc_append(raw, PUBLIC_RAW_SIZE - 2);
    base32_encode(raw, sizeof raw, out);
    ASSERT(strlen(out) == NKEY_PUBLIC_LENGTH);
}

bool nkey_seed_decode(const char *text, size_t length, enum nkey_type type,
                      uint8_t seed[NKEY_KEY_SIZE])
{
    uint8_t raw[SEED_RAW_SIZE];
    if (length != NKEY_SEED_LENGTH || !base32_decode(text, length, raw, sizeof raw)) {
        return false;
    }
    uint16_t crc = (uint16_t)(raw[SEED_RAW_SIZE - 2] | (raw[SEED_RAW_SIZE - 1] << 8));
    if (raw[0] != (uint8_t)(SEED_PREFIX | ((unsigned)type >> 5)) ||
        raw[1] != (uint8_t)(((unsigned)type & 31) << 3) ||
        crc16_xmodem(raw, SEED_RAW_SIZE - 2) != crc) {
        return false;
    }
    memcpy(seed, raw + 2, NKEY_KEY_SIZE);
    return true;
}

void nkey_seed_encode(enum nkey_type type, const uint8_t seed[NKEY_KEY_SIZE], char *out)
{
    uint8_t raw[SEED_RAW_SIZE];
    raw[0] = (uint8_t)(SEED_PREFIX | ((unsigned)type >> 5));
    raw[1] = (uint8_t)(((unsigned)type & 31) << 3);
    memcpy(raw + 2, seed, NKEY_KEY_SIZE);
    crc_append(raw, SEED_RAW_SIZE - 2);
    base32_encode(raw, sizeof raw, out);
    ASSERT(strlen(out) == NKEY_SEED_LENGTH);
}
