/* Subject transforms, private to proto/subject_transform.c (parsing and building) and
 * proto/subject_transform_apply.c (matching and writing): the compiled form and the token
 * walk both use. See subject_transform.c for the model. Pure data and inline functions; any
 * thread. */
#ifndef IONATS_PROTO_SUBJECT_TRANSFORM_INTERNAL_H
#define IONATS_PROTO_SUBJECT_TRANSFORM_INTERNAL_H

#include "proto/subject_transform.h"

#include "base/assert.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
    /* A subject of SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX bytes has at most this many tokens
     * (one byte and a '.' each), so a source token position fits in a uint16_t. */
    SUBJECT_TRANSFORM_TOKENS_MAX = SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX / 2 + 1,
    /* Go's int64 has at most 19 digits; anything longer is out of range (after leading
     * zeros, which Atoi skips). */
    TRANSFORM_INT64_DIGITS_MAX = 19,
    /* Room for a partition or random value in decimal: a uint32 has 10 digits. */
    TRANSFORM_DECIMAL_SIZE = 12,
};

STATIC_ASSERT(SUBJECT_TRANSFORM_TOKENS_MAX <= UINT16_MAX, "source token positions are uint16_t");
STATIC_ASSERT(SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX <= UINT32_MAX / 4,
              "text offsets, lengths and the index total are uint32_t");

/* What a destination token does. The mapping functions are listed in the order nats-server's
 * indexPlaceHolders tries their regular expressions (transform_function_names). */
enum transform_function {
    TRANSFORM_WILDCARD, /* also "$N" */
    TRANSFORM_PARTITION,
    TRANSFORM_SPLIT_FROM_LEFT,
    TRANSFORM_SPLIT_FROM_RIGHT,
    TRANSFORM_SLICE_FROM_LEFT,
    TRANSFORM_SLICE_FROM_RIGHT,
    TRANSFORM_RIGHT,
    TRANSFORM_LEFT,
    TRANSFORM_SPLIT,
    TRANSFORM_RANDOM,
    TRANSFORM_FUNCTION_COUNT, /* the mapping functions end here */
    TRANSFORM_LITERAL = TRANSFORM_FUNCTION_COUNT, /* the token's own text */
    TRANSFORM_TAIL,                               /* a last ">": the source's ">" tokens */
};

/* One destination token, compiled. */
struct subject_transform_part {
    enum transform_function function;
    /* partition's and random's count (Go's int32 of it), the position, size or length of the
     * others; 0 where unused */
    int32_t argument;
    /* a literal token's text, or split's delimiter: offset and length in `destination` */
    uint32_t text_start;
    uint32_t text_length;
    /* the source token positions the function reads: `index_count` of `indexes` from
     * `index_start`; partition with none hashes the whole subject */
    uint32_t index_start;
    uint32_t index_count;
};

/* Owned by whoever built it; immutable after subject_transform_new returns. One allocation:
 * every pointer below points into the same block. */
struct subject_transform {
    const char *source; /* ">" when none was given */
    size_t source_length;
    size_t source_token_count;
    const char *destination; /* "" when none was given */
    size_t destination_length;
    /* a source ">" with a destination ">" or "": every subject, even an invalid one, is
     * taken unchanged (Match's special case) */
    bool identity;
    struct subject_transform_part *parts; /* one per destination token; none: unchanged */
    size_t part_count;
    size_t part_capacity;
    uint16_t *indexes; /* source token positions, for all parts */
    size_t index_count;
    size_t index_capacity;
};

/* ---- tokens ---------------------------------------------------------------------------- */

struct transform_token {
    const char *start; /* borrowed */
    size_t length;
};

/* A cursor over the '.'-separated tokens of text[0, length), empty tokens included. */
struct transform_walk {
    const char *text; /* borrowed */
    size_t length;
    size_t position; /* start of the next token; past `length` when done */
};

static inline struct transform_walk transform_walk_start(const char *text, size_t length)
{
    return (struct transform_walk){text, length, 0};
}

static inline bool transform_walk_next(struct transform_walk *walk, struct transform_token *token)
{
    if (walk->position > walk->length) {
        return false;
    }
    const char *start = walk->text + walk->position;
    const char *dot = memchr(start, '.', walk->length - walk->position);
    size_t length = dot != NULL ? (size_t)(dot - start) : walk->length - walk->position;
    *token = (struct transform_token){start, length};
    walk->position += length + 1;
    return true;
}

static inline bool transform_token_is(const struct transform_token *token, char wildcard)
{
    return token->length == 1 && token->start[0] == wildcard;
}

#endif
