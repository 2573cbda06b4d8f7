/* Subject transforms at run time: matching a subject against a compiled transform's
 * source and writing its destination, every mapping function included (see
 * subject_transform.c for the model and nats-server's quirks kept). Read-only on the
 * compiled form, no allocation; any thread. */
#include "proto/subject_transform.h"

#include "proto/subject_transform_internal.h"

#include "base/assert.h"
#include "base/hash.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- matching -------------------------------------------------------------------------- */

/* Where the subject's tokens start, for the source's token positions: token i is
 * subject[start[i], end of that token). */
struct transform_subject {
    const char *subject; /* borrowed */
    size_t length;
    uint32_t start[SUBJECT_TRANSFORM_TOKENS_MAX];
    size_t count; /* the subject's tokens, all of them */
};

static struct transform_token transform_subject_token(const struct transform_subject *subject,
                                                      size_t position)
{
    /* start[] is written for every token up to count before any part reads it (the
     * analyzer cannot follow the match that fills it) */
    // NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult)
    const char *start = subject->subject + subject->start[position];
    size_t rest = subject->length - subject->start[position];
    const char *dot = memchr(start, '.', rest);
    return (struct transform_token){start, dot != NULL ? (size_t)(dot - start) : rest};
}

/* nats-server's Match up to the transform: the subject must be a valid literal one (no empty,
 * "*" or ">" token; whitespace is not looked at) and isSubsetMatch the source, which takes a
 * source token starting with '*' as matching any token. Fills `tokens` in on a match. */
static bool transform_match(const struct subject_transform *transform, const char *subject,
                            size_t length, struct transform_subject *tokens)
{
    if (length > UINT32_MAX) {
        return false; /* beyond any control line the parser takes */
    }
    tokens->subject = subject;
    tokens->length = length;
    tokens->count = 0;
    struct transform_walk walk = transform_walk_start(subject, length);
    struct transform_walk sources =
        transform_walk_start(transform->source, transform->source_length);
    bool matched = true;
    bool decided = false; /* a mismatch was found, or the source's ">" took the rest */
    struct transform_token token;
    struct transform_token source;
    while (transform_walk_next(&walk, &token)) {
        if (token.length == 0 || transform_token_is(&token, '*') ||
            transform_token_is(&token, '>')) {
            return false;
        }
        size_t position = tokens->count++;
        if (position < transform->source_token_count) {
            tokens->start[position] = (uint32_t)(token.start - subject);
        }
        if (decided) {
            continue;
        }
        /* decided: more tokens than the source has (no match), the source's ">" (a
         * match), or a literal source token that differs (no match) */
        bool more = transform_walk_next(&sources, &source);
        bool tail = more && transform_token_is(&source, '>');
        bool differs = more && !tail && source.start[0] != '*' &&
                       (source.length != token.length ||
                        memcmp(source.start, token.start, token.length) != 0);
        if (!more || tail || differs) {
            matched = tail;
            decided = true;
        }
    }
    if (!decided) {
        matched = tokens->count == transform->source_token_count;
    }
    return matched;
}

bool subject_transform_matches(const struct subject_transform *transform, const char *subject,
                               size_t length)
{
    if (transform->identity) {
        return true;
    }
    struct transform_subject tokens;
    return transform_match(transform, subject, length, &tokens);
}

/* ---- writing the result ---------------------------------------------------------------- */

/* The caller's buffer, with room kept for the terminator. */
struct transform_out {
    char *at; /* borrowed for the apply */
    size_t capacity;
    size_t length;
    bool full; /* something did not fit */
};

static void transform_put(struct transform_out *out, const char *bytes, size_t length)
{
    if (out->full || length > out->capacity - out->length) {
        out->full = true;
        return;
    }
    memcpy(out->at + out->length, bytes, length);
    out->length += length;
}

static void transform_put_token(struct transform_out *out, struct transform_token token)
{
    transform_put(out, token.start, token.length);
}

static void transform_put_decimal(struct transform_out *out, int64_t value)
{
    char text[TRANSFORM_DECIMAL_SIZE];
    int length = snprintf(text, sizeof text, "%lld", (long long)value);
    ASSERT(length > 0 && (size_t)length < sizeof text);
    transform_put(out, text, (size_t)length);
}

static const uint32_t TRANSFORM_FNV32_OFFSET = 2166136261u;
static const uint32_t TRANSFORM_FNV32_PRIME = 16777619u;

static uint32_t transform_fnv1a(uint32_t hash, const char *bytes, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        hash = (hash ^ (uint8_t)bytes[i]) * TRANSFORM_FNV32_PRIME;
    }
    return hash;
}

/* partition(): fnv-1a 32 of the named tokens concatenated (of the whole subject when none are
 * named), modulo the count as a uint32 (Go's h.Sum32() % uint32(n)); a count of 0 gives 0. */
static void transform_put_partition(struct transform_out *out,
                                    const struct subject_transform *transform,
                                    const struct subject_transform_part *part,
                                    const struct transform_subject *tokens)
{
    if (part->argument == 0) {
        transform_put(out, "0", 1);
        return;
    }
    uint32_t hash = TRANSFORM_FNV32_OFFSET;
    if (part->index_count == 0) {
        hash = transform_fnv1a(hash, tokens->subject, tokens->length);
    }
    for (uint32_t i = 0; i < part->index_count; i++) {
        struct transform_token token =
            transform_subject_token(tokens, transform->indexes[part->index_start + i]);
        hash = transform_fnv1a(hash, token.start, token.length);
    }
    transform_put_decimal(out, hash % (uint32_t)part->argument);
}

/* A number in [0, 2^31) (Go's rand.Int31) from this thread's generator, seeded on first use
 * from getrandom (the clock and the generator's address when that fails). */
static uint32_t transform_random31(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    if (!seeded) {
        if (getrandom(&state, sizeof state, GRND_NONBLOCK) != (ssize_t)sizeof state) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            state = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 32) ^ (uintptr_t)&state;
        }
        seeded = true;
    }
    return (uint32_t)(hash_sequence_next(&state) >> 33);
}

/* random(): Go's int(rand.Int31()) % ceiling, which keeps the dividend's sign (so never
 * negative); a ceiling of 0 gives 0. */
static void transform_put_random(struct transform_out *out, int32_t ceiling)
{
    if (ceiling == 0) {
        transform_put(out, "0", 1);
        return;
    }
    transform_put_decimal(out, (int64_t)transform_random31() % (int64_t)ceiling);
}

/* The length of the UTF-8 character at text[0, length) as Go's utf8.DecodeRuneInString
 * reads it: a valid sequence's length, 1 for an invalid or cut one. */
static size_t transform_utf8_length(const unsigned char *text, size_t length)
{
    unsigned char lead = text[0];
    size_t size;
    unsigned char low = 0x80; /* the second byte's range, narrowed for some leads */
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        size = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        size = 3;
        low = lead == 0xE0 ? 0xA0 : low;   /* no overlong forms */
        high = lead == 0xED ? 0x9F : high; /* no surrogates */
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        size = 4;
        low = lead == 0xF0 ? 0x90 : low;   /* no overlong forms */
        high = lead == 0xF4 ? 0x8F : high; /* nothing past U+10FFFF */
    } else {
        return 1; /* ASCII, or a byte no character starts with: one byte */
    }
    if (length < size || text[1] < low || text[1] > high) {
        return 1;
    }
    for (size_t i = 2; i < size; i++) {
        if (text[i] < 0x80 || text[i] > 0xBF) {
            return 1;
        }
    }
    return size;
}

/* A cursor over strings.Split(token, delimiter)'s pieces; an empty delimiter cuts after each
 * UTF-8 character (nothing at all for an empty token). */
struct transform_pieces {
    struct transform_token token;
    struct transform_token delimiter;
    size_t position; /* start of the next piece; past the token's length when done */
};

static bool transform_pieces_next(struct transform_pieces *pieces, struct transform_token *piece)
{
    size_t length = pieces->token.length;
    if (pieces->position > length ||
        (pieces->delimiter.length == 0 && pieces->position == length)) {
        return false;
    }
    const char *start = pieces->token.start + pieces->position;
    size_t rest = length - pieces->position;
    size_t size;
    size_t skip;
    if (pieces->delimiter.length == 0) {
        size = transform_utf8_length((const unsigned char *)start, rest);
        skip = size;
    } else {
        const char *found =
            memmem(start, rest, pieces->delimiter.start, pieces->delimiter.length);
        size = found != NULL ? (size_t)(found - start) : rest;
        skip = found != NULL ? size + pieces->delimiter.length : rest + 1;
    }
    *piece = (struct transform_token){start, size};
    pieces->position += skip;
    return true;
}

/* split(): each non-empty piece, with a '.' before every non-empty piece but the first one
 * written, except that an empty first piece writes no '.' before a non-empty second; so
 * "--a" split on "-" gives ".a", as nats-server writes it. */
static void transform_put_split(struct transform_out *out, struct transform_token token,
                                struct transform_token delimiter)
{
    struct transform_pieces pieces = {token, delimiter, 0};
    struct transform_token piece;
    struct transform_token next;
    bool have = transform_pieces_next(&pieces, &piece);
    for (size_t j = 0; have; j++) {
        bool more = transform_pieces_next(&pieces, &next);
        transform_put_token(out, piece);
        if (more && next.length > 0 && !(j == 0 && piece.length == 0)) {
            transform_put(out, ".", 1);
        }
        piece = next;
        have = more;
    }
}

/* sliceFromLeft(): pieces of `size` from the left, the rest last; sliceFromRight(): the rest
 * first, then pieces of `size`. The token is longer than `size`, which is positive. */
static void transform_put_slices(struct transform_out *out, struct transform_token token,
                                 size_t size, bool from_right)
{
    size_t first = from_right && token.length % size != 0 ? token.length % size : size;
    transform_put(out, token.start, first);
    for (size_t at = first; at < token.length; at += size) {
        transform_put(out, ".", 1);
        size_t piece = token.length - at < size ? token.length - at : size;
        transform_put(out, token.start + at, piece);
    }
}

/* One function part on its token. Each one that takes a position, size or length leaves the
 * token whole unless 0 < argument < the token's length. */
static void transform_put_function(struct transform_out *out,
                                   const struct subject_transform *transform,
                                   const struct subject_transform_part *part,
                                   const struct transform_subject *tokens)
{
    ASSERT(part->index_count == 1);
    size_t position = transform->indexes[part->index_start];
    /* the source matched, so the subject has every source position */
    ASSERT(position < tokens->count);
    struct transform_token token = transform_subject_token(tokens, position);
    if (part->function == TRANSFORM_WILDCARD) {
        transform_put_token(out, token);
        return;
    }
    if (part->function == TRANSFORM_SPLIT) {
        struct transform_token delimiter = {transform->destination + part->text_start,
                                            part->text_length};
        transform_put_split(out, token, delimiter);
        return;
    }
    if (part->argument <= 0 || (size_t)part->argument >= token.length) {
        transform_put_token(out, token);
        return;
    }
    size_t n = (size_t)part->argument;
    switch (part->function) {
    case TRANSFORM_SPLIT_FROM_LEFT:
    case TRANSFORM_SPLIT_FROM_RIGHT: {
        size_t cut = part->function == TRANSFORM_SPLIT_FROM_LEFT ? n : token.length - n;
        transform_put(out, token.start, cut);
        transform_put(out, ".", 1);
        transform_put(out, token.start + cut, token.length - cut);
        return;
    }
    case TRANSFORM_SLICE_FROM_LEFT:
    case TRANSFORM_SLICE_FROM_RIGHT:
        transform_put_slices(out, token, n, part->function == TRANSFORM_SLICE_FROM_RIGHT);
        return;
    case TRANSFORM_LEFT:
        transform_put(out, token.start, n);
        return;
    case TRANSFORM_RIGHT:
        transform_put(out, token.start + token.length - n, n);
        return;
    default:
        UNREACHABLE();
    }
}

/* Every part of a transform with a destination, into `result`. */
static void transform_put_parts(struct transform_out *result,
                                const struct subject_transform *transform,
                                const struct transform_subject *tokens)
{
    for (size_t i = 0; i < transform->part_count; i++) {
        const struct subject_transform_part *part = &transform->parts[i];
        switch (part->function) {
        case TRANSFORM_LITERAL:
            transform_put(result, transform->destination + part->text_start, part->text_length);
            break;
        case TRANSFORM_TAIL: {
            /* the subject from the source's ">" on; always the last part, so no '.' after */
            ASSERT(i + 1 == transform->part_count);
            // NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign): written by the match
            size_t start = tokens->start[transform->source_token_count - 1];
            transform_put(result, tokens->subject + start, tokens->length - start);
            return;
        }
        case TRANSFORM_PARTITION:
            transform_put_partition(result, transform, part, tokens);
            break;
        case TRANSFORM_RANDOM:
            transform_put_random(result, part->argument);
            break;
        default:
            transform_put_function(result, transform, part, tokens);
            break;
        }
        if (i + 1 < transform->part_count) {
            transform_put(result, ".", 1);
        }
    }
}

int subject_transform_apply(const struct subject_transform *transform, const char *subject,
                            size_t length, char *out, size_t size, size_t *out_length)
{
    /* one byte of `out` kept for the terminator */
    struct transform_out result = {out, size > 0 ? size - 1 : 0, 0, size == 0};
    struct transform_subject tokens;
    bool unchanged = transform->identity;
    if (!unchanged) {
        if (!transform_match(transform, subject, length, &tokens)) {
            return -ENOENT;
        }
        unchanged = transform->part_count == 0; /* no destination: a filter only */
    }
    if (unchanged) {
        transform_put(&result, subject, length);
    } else {
        transform_put_parts(&result, transform, &tokens);
    }
    if (result.full) {
        return -ENOSPC;
    }
    out[result.length] = '\0';
    *out_length = result.length;
    return 0;
}
