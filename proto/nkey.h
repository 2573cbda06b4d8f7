/* NATS nkeys as text: the base32 (RFC 4648, no padding) form of a type prefix byte, the
 * 32-byte ed25519 key and a CRC-16 (XMODEM polynomial, little-endian) of both. A public
 * user key is 56 characters starting 'U'; a user seed is 58 starting "SU". Only the text
 * form lives here; keys are checked and signatures verified with libsodium by the caller.
 *
 * Hand-written because no Debian C library encodes nkeys (the format is NATS's own), and
 * base32 with it: ~60 lines. Pure functions, any thread. */
#ifndef IONATS_PROTO_NKEY_H
#define IONATS_PROTO_NKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    NKEY_KEY_SIZE = 32,
    NKEY_PUBLIC_LENGTH = 56, /* characters of a public key */
    NKEY_SEED_LENGTH = 58,   /* characters of a seed */
};

/* The type prefixes (the first base32 character of a public key). */
enum nkey_type {
    NKEY_TYPE_USER = 20 << 3,     /* 'U' */
    NKEY_TYPE_ACCOUNT = 0,        /* 'A' */
    NKEY_TYPE_SERVER = 13 << 3,   /* 'N' */
    NKEY_TYPE_OPERATOR = 14 << 3, /* 'O' */
};

/* Decodes a public key of `type` into `key`. False when the text is not one: wrong
 * length, alphabet, type or checksum. */
bool nkey_public_decode(const char *text, size_t length, enum nkey_type type,
                        uint8_t key[NKEY_KEY_SIZE]);

/* Writes the public key text of `type` for `key`: NKEY_PUBLIC_LENGTH characters and a NUL
 * into `out` (at least NKEY_PUBLIC_LENGTH + 1 bytes). */
void nkey_public_encode(enum nkey_type type, const uint8_t key[NKEY_KEY_SIZE], char *out);

/* Decodes a seed of `type` (a user's: "SU...") into the ed25519 seed. False when the text
 * is not one: wrong length, alphabet, type or checksum. */
bool nkey_seed_decode(const char *text, size_t length, enum nkey_type type,
                      uint8_t seed[NKEY_KEY_SIZE]);

/* Writes the seed text of `type` for an ed25519 seed: NKEY_SEED_LENGTH characters and a
 * NUL into `out` (at least NKEY_SEED_LENGTH + 1 bytes). */
void nkey_seed_encode(enum nkey_type type, const uint8_t seed[NKEY_KEY_SIZE], char *out);

#endif
