/* Subject transforms: the parser of a (source, destination) pair, shared by the stream config
 * checks and the compiled form, and the runtime that applies a compiled transform. See
 * subject_transform.h.
 *
 * nats-server recognises a destination token's mapping function with Go regular expressions
 * (`{{\s*Name\s*\((.*)\)\s*}}`, matched anywhere in the token, the argument list greedy) and
 * splits the arguments with `,\s*`; both are reproduced here by hand, rule for rule, because
 * the error a client gets and the subject a message is stored under must be the reference's.
 * Its quirks are kept, each where it lives below: a wildcard index of 0 or less names the
 * source's first token; partition(count) hashes the whole subject, partition(count, n...) the
 * named tokens concatenated with no separator, and a source without wildcards always hashes
 * the whole subject; a negative partition count is taken as a uint32 divisor; a source token
 * that starts with '*' ("*x") matches any token; split() with an empty delimiter cuts between
 * UTF-8 characters, and may make empty tokens. (nats-server before 2.12 hashed nothing for
 * partition(count), so its answer was the same for every subject; this follows 2.12 on.)
 *
 * The compiled form is one block: the header, one part per destination token, the source token
 * positions the parts read, and copies of the source and destination, which the parts point
 * into by offset. Applying it walks the subject once to match it and note where the source's
 * tokens start (on the stack: at most SUBJECT_TRANSFORM_TOKENS_MAX offsets), then writes each
 * part into the caller's buffer. Nothing recurses; every loop is bounded by a subject's length.
 * Parsing and freeing belong to the owner; applying is read-only, any thread. */
#include "proto/subject_transform.h"

#include "base/assert.h"
#include "base/hash.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

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

/* Each function's name as its regular expression spells it: an upper case letter stands for
 * [xX], a lower case one for itself. */
static const char *const transform_function_names[TRANSFORM_FUNCTION_COUNT] = {
    [TRANSFORM_WILDCARD] = "Wildcard",
    [TRANSFORM_PARTITION] = "Partition",
    [TRANSFORM_SPLIT_FROM_LEFT] = "SplitFromLeft",
    [TRANSFORM_SPLIT_FROM_RIGHT] = "SplitFromRight",
    [TRANSFORM_SLICE_FROM_LEFT] = "SliceFromLeft",
    [TRANSFORM_SLICE_FROM_RIGHT] = "SliceFromRight",
    [TRANSFORM_RIGHT] = "Right",
    [TRANSFORM_LEFT] = "Left",
    [TRANSFORM_SPLIT] = "Split",
    [TRANSFORM_RANDOM] = "Random",
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

static struct transform_walk transform_walk_start(const char *text, size_t length)
{
    return (struct transform_walk){text, length, 0};
}

static bool transform_walk_next(struct transform_walk *walk, struct transform_token *token)
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

static bool transform_token_is(const struct transform_token *token, char wildcard)
{
    return token->length == 1 && token->start[0] == wildcard;
}

static size_t transform_count_byte(const char *text, size_t length, char byte)
{
    size_t count = 0;
    for (const char *at = text; (at = memchr(at, byte, length - (size_t)(at - text))) != NULL;
         at++) {
        count++;
    }
    return count;
}

/* ---- recognising a mapping function ---------------------------------------------------- */

static bool transform_regex_space(char byte)
{
    return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\f' || byte == '\r';
}

/* Matches `{{\s*Name\s*\((.*)\)\s*}}` anywhere in token[0, length), as Go's MatchString and
 * FindStringSubmatch do: the leftmost start, the longest argument list. On a match, *args /
 * *args_length are the captured arguments. */
static bool transform_function_match(const char *token, size_t length, const char *name,
                                     const char **args, size_t *args_length)
{
    size_t name_length = strlen(name);
    for (size_t start = 0; start + 1 < length; start++) {
        if (token[start] != '{' || token[start + 1] != '{') {
            continue;
        }
        size_t at = start + 2;
        while (at < length && transform_regex_space(token[at])) {
            at++;
        }
        bool named = at + name_length <= length;
        for (size_t i = 0; named && i < name_length; i++) {
            char want = name[i];
            char got = token[at + i];
            named = got == want || (want >= 'A' && want <= 'Z' && got == want - 'A' + 'a');
        }
        if (!named) {
            continue;
        }
        at += name_length;
        while (at < length && transform_regex_space(token[at])) {
            at++;
        }
        if (at >= length || token[at] != '(') {
            continue;
        }
        size_t open = at + 1;
        /* ".*" stops at a newline; the longest one followed by ")\s*}}" wins */
        size_t newline = open;
        while (newline < length && token[newline] != '\n') {
            newline++;
        }
        for (size_t close = newline; close-- > open;) {
            if (token[close] != ')') {
                continue;
            }
            size_t after = close + 1;
            while (after < length && transform_regex_space(token[after])) {
                after++;
            }
            if (after + 2 <= length && token[after] == '}' && token[after + 1] == '}') {
                *args = &token[open];
                *args_length = close - open;
                return true;
            }
        }
    }
    return false;
}

static bool transform_function_like(const char *token, size_t length)
{
    return length > 4 && token[0] == '{' && token[1] == '{' && token[length - 2] == '}' &&
           token[length - 1] == '}';
}

/* Go's strconv.Atoi on text[0, length) as it is (no trimming): an optional '+' or '-', then
 * decimal digits, within int64. */
static bool transform_atoi(const char *text, size_t length, int64_t *value)
{
    size_t at = 0;
    bool negative = false;
    if (length > 0 && (text[0] == '+' || text[0] == '-')) {
        negative = text[0] == '-';
        at = 1;
    }
    if (at == length) {
        return false;
    }
    while (at + 1 < length && text[at] == '0') {
        at++;
    }
    if (length - at > TRANSFORM_INT64_DIGITS_MAX) {
        return false;
    }
    /* accumulate as a magnitude, which reaches 2^63 for INT64_MIN */
    uint64_t magnitude = 0;
    for (; at < length; at++) {
        if (text[at] < '0' || text[at] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(text[at] - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) {
            return false;
        }
        magnitude = magnitude * 10 + digit;
    }
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (magnitude > limit) {
        return false;
    }
    *value = negative ? (magnitude == limit ? INT64_MIN : -(int64_t)magnitude) : (int64_t)magnitude;
    return true;
}

/* Atoi (`int32` false) or ParseInt(s, 10, 32) (true) of an argument after
 * strings.Trim(arg, " "). */
static bool transform_argument_integer(const char *text, size_t length, bool int32,
                                       int64_t *value)
{
    while (length > 0 && text[0] == ' ') {
        text++, length--;
    }
    while (length > 0 && text[length - 1] == ' ') {
        length--;
    }
    if (!transform_atoi(text, length, value)) {
        return false;
    }
    return !int32 || (*value >= INT32_MIN && *value <= INT32_MAX);
}

/* Go's int32(v) of an int: the low 32 bits, two's complement. */
static int32_t transform_go_int32(int64_t value)
{
    uint32_t bits = (uint32_t)(uint64_t)value;
    return bits <= INT32_MAX ? (int32_t)bits : (int32_t)(bits - UINT32_C(0x80000000)) + INT32_MIN;
}

/* The argument list split as Go's regexp `,\s*` Split does: a cursor. "" is one empty
 * argument; every ',' ends one. */
struct transform_args {
    const char *at; /* borrowed: the next argument's start */
    const char *end;
    bool done;
};

static bool transform_args_next(struct transform_args *args, struct transform_token *arg)
{
    if (args->done) {
        return false;
    }
    const char *comma = memchr(args->at, ',', (size_t)(args->end - args->at));
    if (comma == NULL) {
        *arg = (struct transform_token){args->at, (size_t)(args->end - args->at)};
        args->done = true;
        return true;
    }
    *arg = (struct transform_token){args->at, (size_t)(comma - args->at)};
    args->at = comma + 1;
    while (args->at < args->end && transform_regex_space(*args->at)) {
        args->at++;
    }
    return true;
}

/* ---- parsing one destination token ----------------------------------------------------- */

static const char TRANSFORM_ERR_MAPPING[] = "invalid mapping destination";
static const char TRANSFORM_ERR_NOT_ENOUGH[] = "not enough arguments passed to the function";
static const char TRANSFORM_ERR_TOO_MANY[] = "too many arguments passed to the function";
static const char TRANSFORM_ERR_INVALID_ARG[] =
    "function argument is invalid or in the wrong format";
static const char TRANSFORM_ERR_OUT_OF_RANGE[] = "wildcard index out of range";

/* Go's mappingDestinationErr: "<reason> in <token>", just the reason without a token or with
 * an empty one. */
static int transform_error(char *error, size_t size, const char *reason,
                           const struct transform_token *token)
{
    if (token == NULL || token->length == 0) {
        snprintf(error, size, "%s: %s", TRANSFORM_ERR_MAPPING, reason);
    } else {
        snprintf(error, size, "%s: %s in %.*s", TRANSFORM_ERR_MAPPING, reason, (int)token->length,
                 token->start);
    }
    return -EINVAL;
}

/* What indexPlaceHolders makes of one destination token. */
struct transform_placeholder {
    enum transform_function function; /* TRANSFORM_LITERAL for plain text */
    struct transform_token args;      /* a function's argument list, as captured */
    int64_t dollar;                   /* "$N": N */
    int32_t argument;                 /* as in subject_transform_part */
    struct transform_token delimiter; /* split's */
    size_t index_count;               /* wildcard indexes among the arguments */
};

/* The arguments of a recognised function, checked as indexPlaceHolders checks them. Returns
 * the reason they are refused, or NULL with `placeholder` filled in. */
static const char *transform_placeholder_arguments(struct transform_placeholder *placeholder)
{
    struct transform_args args = {placeholder->args.start,
                                  placeholder->args.start + placeholder->args.length, false};
    struct transform_token arg[2];
    size_t count = 0;
    int64_t value;
    /* the first two arguments kept, the rest only counted (and, for partition, checked) */
    for (struct transform_token next; transform_args_next(&args, &next); count++) {
        if (count < 2) {
            arg[count] = next;
        } else if (placeholder->function == TRANSFORM_PARTITION &&
                   !transform_argument_integer(next.start, next.length, false, &value)) {
            return TRANSFORM_ERR_INVALID_ARG;
        }
    }
    ASSERT(count >= 1);
    switch (placeholder->function) {
    case TRANSFORM_WILDCARD:
        if (count == 1 && arg[0].length == 0) {
            return TRANSFORM_ERR_NOT_ENOUGH;
        }
        if (count > 1) {
            return TRANSFORM_ERR_TOO_MANY;
        }
        placeholder->index_count = 1;
        return transform_argument_integer(arg[0].start, arg[0].length, false, &value)
                   ? NULL
                   : TRANSFORM_ERR_INVALID_ARG;
    case TRANSFORM_PARTITION:
        if (!transform_argument_integer(arg[0].start, arg[0].length, false, &value) ||
            value > INT32_MAX) {
            return TRANSFORM_ERR_INVALID_ARG;
        }
        placeholder->argument = transform_go_int32(value);
        if (count >= 2 && !transform_argument_integer(arg[1].start, arg[1].length, false, &value)) {
            return TRANSFORM_ERR_INVALID_ARG;
        }
        placeholder->index_count = count - 1;
        return NULL;
    case TRANSFORM_RANDOM:
        if (count != 1) {
            return TRANSFORM_ERR_NOT_ENOUGH;
        }
        if (!transform_argument_integer(arg[0].start, arg[0].length, false, &value) ||
            value > INT32_MAX) {
            return TRANSFORM_ERR_INVALID_ARG;
        }
        placeholder->argument = transform_go_int32(value);
        return NULL;
    default: /* split(index, delimiter) and the (index, int32) functions */
        if (count < 2) {
            return TRANSFORM_ERR_NOT_ENOUGH;
        }
        if (count > 2) {
            return TRANSFORM_ERR_TOO_MANY;
        }
        placeholder->index_count = 1;
        if (!transform_argument_integer(arg[0].start, arg[0].length, false, &value)) {
            return TRANSFORM_ERR_INVALID_ARG;
        }
        if (placeholder->function == TRANSFORM_SPLIT) {
            /* the delimiter as given, untrimmed; it may be empty */
            if (memchr(arg[1].start, ' ', arg[1].length) != NULL ||
                memchr(arg[1].start, '.', arg[1].length) != NULL) {
                return TRANSFORM_ERR_INVALID_ARG;
            }
            placeholder->delimiter = arg[1];
            return NULL;
        }
        if (!transform_argument_integer(arg[1].start, arg[1].length, true, &value)) {
            return TRANSFORM_ERR_INVALID_ARG;
        }
        placeholder->argument = (int32_t)value;
        return NULL;
    }
}

/* nats-server's indexPlaceHolders on one destination token. 0, or -EINVAL with the text. */
static int transform_placeholder(const struct transform_token *token,
                                 struct transform_placeholder *placeholder, char *error,
                                 size_t size)
{
    *placeholder = (struct transform_placeholder){.function = TRANSFORM_LITERAL};
    const char *start = token->start;
    size_t length = token->length;
    if (length > 1 && start[0] == '$') {
        /* "$N", Atoi without trimming; anything else after '$' is plain text */
        if (transform_atoi(start + 1, length - 1, &placeholder->dollar)) {
            placeholder->function = TRANSFORM_WILDCARD;
            placeholder->index_count = 1;
        }
        return 0;
    }
    if (!transform_function_like(start, length)) {
        return 0;
    }
    for (int function = 0; function < TRANSFORM_FUNCTION_COUNT; function++) {
        const char *args;
        size_t args_length;
        if (!transform_function_match(start, length, transform_function_names[function], &args,
                                      &args_length)) {
            continue;
        }
        placeholder->function = (enum transform_function)function;
        placeholder->args = (struct transform_token){args, args_length};
        const char *reason = transform_placeholder_arguments(placeholder);
        return reason != NULL ? transform_error(error, size, reason, token) : 0;
    }
    return transform_error(error, size, "unknown function", token);
}

/* The wildcard index a placeholder names `index`-th (from 0): "$N"'s N, or its arguments'
 * (after partition's count). Only called once transform_placeholder accepted them. */
struct transform_indexes {
    const struct transform_placeholder *placeholder; /* borrowed */
    struct transform_args args;
    size_t left;
};

static struct transform_indexes transform_indexes_start(const struct transform_placeholder *p)
{
    struct transform_indexes indexes = {p, {NULL, NULL, true}, p->index_count};
    if (p->args.start == NULL) {
        return indexes; /* "$N" */
    }
    indexes.args = (struct transform_args){p->args.start, p->args.start + p->args.length, false};
    struct transform_token skipped;
    if (p->function == TRANSFORM_PARTITION) {
        bool count = transform_args_next(&indexes.args, &skipped);
        ASSERT(count);
    }
    return indexes;
}

static bool transform_indexes_next(struct transform_indexes *indexes, int64_t *index)
{
    if (indexes->left == 0) {
        return false;
    }
    indexes->left--;
    if (indexes->placeholder->args.start == NULL) {
        *index = indexes->placeholder->dollar;
        return true;
    }
    struct transform_token arg;
    bool more = transform_args_next(&indexes->args, &arg);
    ASSERT(more);
    bool valid = transform_argument_integer(arg.start, arg.length, false, index);
    ASSERT(valid);
    return true;
}

/* ---- parsing a (source, destination) pair ---------------------------------------------- */

/* nats-server's subjectInfo: valid (not empty, no empty token, nothing after ">"), the count
 * of tokens, of "*" tokens, and whether the last token is ">". */
static bool transform_subject_info(const char *subject, size_t length, size_t *count,
                                   size_t *stars, bool *tail)
{
    *count = 0;
    *stars = 0;
    *tail = false;
    if (length == 0) {
        return false;
    }
    struct transform_walk walk = transform_walk_start(subject, length);
    struct transform_token token;
    while (transform_walk_next(&walk, &token)) {
        if (token.length == 0 || *tail) {
            return false;
        }
        (*count)++;
        *stars += transform_token_is(&token, '*');
        *tail = transform_token_is(&token, '>');
    }
    return true;
}

/* The position of the source's `star`-th "*" token (from 1); an index of 0 or less is not a
 * key of nats-server's wildcard map, whose zero value, position 0, it reads instead. */
static size_t transform_star_position(const char *source, size_t length, int64_t star)
{
    if (star <= 0) {
        return 0;
    }
    struct transform_walk walk = transform_walk_start(source, length);
    struct transform_token token;
    for (size_t position = 0; transform_walk_next(&walk, &token); position++) {
        if (transform_token_is(&token, '*') && --star == 0) {
            return position;
        }
    }
    UNREACHABLE();
}

/* ValidateMapping's own pass over the destination tokens, before NewSubjectTransform. */
static int transform_destination_precheck(const char *destination, size_t length, char *error,
                                          size_t size)
{
    bool after_tail = false;
    struct transform_walk walk = transform_walk_start(destination, length);
    struct transform_token token;
    while (transform_walk_next(&walk, &token)) {
        if (token.length == 0 || after_tail) {
            return transform_error(error, size, "invalid transform", &token);
        }
        if (transform_function_like(token.start, token.length)) {
            /* every function nats-server 2.15.1 knows, left() and right() included (its
             * source list at the time of writing lacks them; the release takes them) */
            bool matched = false;
            for (int f = 0; !matched && f < TRANSFORM_FUNCTION_COUNT; f++) {
                const char *args;
                size_t args_length;
                matched = transform_function_match(token.start, token.length,
                                                   transform_function_names[f], &args,
                                                   &args_length);
            }
            if (!matched) {
                return transform_error(error, size, "unknown function", &token);
            }
            continue;
        }
        if (transform_token_is(&token, '>')) {
            after_tail = true;
        } else if (strcspn(token.start, "\t\n\f\r .") < token.length) {
            return transform_error(error, size, "invalid transform", NULL);
        }
    }
    return 0;
}

/* What a pair's source tells the destination's parse. */
struct transform_source {
    const char *subject; /* borrowed */
    size_t length;
    size_t stars;
    bool wild; /* any "*" or a ">" */
};

/* Appends a part for `token` to `program` (NULL: a check, nothing kept). */
static struct subject_transform_part *transform_part_add(struct subject_transform *program,
                                                         const struct transform_token *token,
                                                         const struct transform_placeholder *p)
{
    if (program == NULL) {
        return NULL;
    }
    ASSERT(program->part_count < program->part_capacity);
    struct subject_transform_part *part = &program->parts[program->part_count++];
    *part = (struct subject_transform_part){.function = p->function,
                                            .argument = p->argument,
                                            .index_start = (uint32_t)program->index_count};
    const struct transform_token *text = p->function == TRANSFORM_SPLIT ? &p->delimiter : token;
    if (p->function == TRANSFORM_LITERAL || p->function == TRANSFORM_SPLIT) {
        part->text_start = (uint32_t)(text->start - program->destination);
        part->text_length = (uint32_t)text->length;
    }
    if (p->function == TRANSFORM_LITERAL && transform_token_is(token, '>')) {
        part->function = TRANSFORM_TAIL;
    }
    return part;
}

/* NewSubjectTransform's use of one destination token: with wildcards in the source, each index
 * must be within their count; without, only random() and partition() may be used, and
 * partition's indexes are dropped (it hashes the whole subject). */
static int transform_token_parse(const struct transform_token *token,
                                 const struct transform_source *source,
                                 struct subject_transform *program, char *error, size_t size)
{
    struct transform_placeholder placeholder;
    int rc = transform_placeholder(token, &placeholder, error, size);
    if (rc != 0) {
        return rc;
    }
    enum transform_function function = placeholder.function;
    if (function == TRANSFORM_LITERAL || function == TRANSFORM_RANDOM) {
        transform_part_add(program, token, &placeholder);
        return 0;
    }
    if (!source->wild) {
        if (function != TRANSFORM_PARTITION) {
            return transform_error(error, size, TRANSFORM_ERR_OUT_OF_RANGE, token);
        }
        transform_part_add(program, token, &placeholder);
        return 0;
    }
    struct subject_transform_part *part = transform_part_add(program, token, &placeholder);
    struct transform_indexes indexes = transform_indexes_start(&placeholder);
    for (int64_t index; transform_indexes_next(&indexes, &index);) {
        if (index > (int64_t)source->stars) {
            snprintf(error, size, "%s: %s in %.*s: [%lld]", TRANSFORM_ERR_MAPPING,
                     TRANSFORM_ERR_OUT_OF_RANGE, (int)token->length, token->start,
                     (long long)index);
            return -EINVAL;
        }
        if (part != NULL) {
            ASSERT(program->index_count < program->index_capacity);
            program->indexes[program->index_count++] =
                (uint16_t)transform_star_position(source->subject, source->length, index);
            part->index_count++;
        }
    }
    return 0;
}

/* The one parser: NewSubjectTransform(source, destination), after ValidateMapping's pass when
 * `validate_mapping`. With `program`, whose `source` and `destination` are the strings given
 * and whose arrays have room for every token and index, it also fills the parts in. 0, or
 * -EINVAL with the error text. */
static int transform_parse(const char *source, const char *destination, bool validate_mapping,
                           struct subject_transform *program, char *error, size_t size)
{
    if (destination == NULL || destination[0] == '\0') {
        return 0;
    }
    if (source == NULL || source[0] == '\0') {
        source = ">";
    }
    size_t source_length = strlen(source);
    size_t destination_length = strlen(destination);
    if (source_length > SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX ||
        destination_length > SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX) {
        snprintf(error, size, "invalid subject");
        return -EINVAL;
    }
    if (validate_mapping) {
        int rc = transform_destination_precheck(destination, destination_length, error, size);
        if (rc != 0) {
            return rc;
        }
    }
    size_t source_count, source_stars, destination_count, destination_stars;
    bool source_tail, destination_tail;
    if (!transform_subject_info(source, source_length, &source_count, &source_stars,
                                &source_tail) ||
        !transform_subject_info(destination, destination_length, &destination_count,
                                &destination_stars, &destination_tail) ||
        destination_stars > 0 || source_tail != destination_tail) {
        snprintf(error, size, "invalid subject");
        return -EINVAL;
    }
    struct transform_source info = {source, source_length, source_stars,
                                    source_stars > 0 || source_tail};
    struct transform_walk walk = transform_walk_start(destination, destination_length);
    struct transform_token token;
    while (transform_walk_next(&walk, &token)) {
        int rc = transform_token_parse(&token, &info, program, error, size);
        if (rc != 0) {
            return rc;
        }
    }
    if (program != NULL) {
        ASSERT(program->part_count == destination_count);
        program->source_token_count = source_count;
    }
    return 0;
}

int subject_transform_check(const char *source, const char *destination, bool validate_mapping,
                            char *error, size_t size)
{
    return transform_parse(source, destination, validate_mapping, NULL, error, size);
}

/* ---- building ------------------------------------------------------------------------- */

int subject_transform_new(const char *source, const char *destination,
                          struct subject_transform **out, char *error, size_t size)
{
    if (source == NULL || source[0] == '\0') {
        source = ">";
    }
    if (destination == NULL) {
        destination = "";
    }
    size_t source_length = strlen(source);
    size_t destination_length = strlen(destination);
    if (source_length > SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX ||
        destination_length > SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX) {
        snprintf(error, size, "invalid subject");
        return -EINVAL;
    }
    /* a part per destination token (one more than its dots); an index per "$N" or wildcard()
     * token, or per argument of partition() after its count: at most one per token and one
     * per comma */
    size_t part_capacity = destination_length > 0
                               ? transform_count_byte(destination, destination_length, '.') + 1
                               : 0;
    size_t index_capacity =
        part_capacity + transform_count_byte(destination, destination_length, ',');
    /* the block: header, parts, indexes, source and destination with their terminators; each
     * piece's alignment is no stricter than the one before it ends on */
    STATIC_ASSERT(_Alignof(struct subject_transform) >= _Alignof(struct subject_transform_part),
                  "parts follow the header");
    STATIC_ASSERT(sizeof(struct subject_transform_part) % _Alignof(uint16_t) == 0,
                  "indexes follow the parts");
    size_t bytes = sizeof(struct subject_transform) +
                   part_capacity * sizeof(struct subject_transform_part) +
                   index_capacity * sizeof(uint16_t) + source_length + 1 + destination_length + 1;
    struct subject_transform *transform = calloc(1, bytes);
    if (transform == NULL) {
        return -ENOMEM;
    }
    transform->parts = (struct subject_transform_part *)(transform + 1);
    transform->part_capacity = part_capacity;
    transform->indexes = (uint16_t *)(transform->parts + part_capacity);
    transform->index_capacity = index_capacity;
    char *text = (char *)(transform->indexes + index_capacity);
    memcpy(text, source, source_length + 1);
    transform->source = text;
    transform->source_length = source_length;
    text += source_length + 1;
    memcpy(text, destination, destination_length + 1);
    transform->destination = text;
    transform->destination_length = destination_length;
    bool source_any = strcmp(source, ">") == 0;
    transform->identity = source_any && (destination_length == 0 || strcmp(destination, ">") == 0);

    int rc = transform_parse(transform->source, transform->destination, false, transform, error,
                             size);
    if (rc != 0) {
        free(transform);
        return rc;
    }
    if (destination_length == 0) {
        /* no destination: the source must still be valid to match against */
        size_t stars;
        bool tail;
        if (!transform_subject_info(source, source_length, &transform->source_token_count,
                                    &stars, &tail)) {
            free(transform);
            snprintf(error, size, "invalid subject");
            return -EINVAL;
        }
    }
    ASSERT(transform->source_token_count >= 1);
    ASSERT(transform->source_token_count <= SUBJECT_TRANSFORM_TOKENS_MAX);
    *out = transform;
    return 0;
}

void subject_transform_free(struct subject_transform *transform)
{
    free(transform);
}

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
        if (!transform_walk_next(&sources, &source)) {
            matched = false; /* more tokens than the source has */
            decided = true;
        } else if (transform_token_is(&source, '>')) {
            decided = true;
        } else if (source.start[0] != '*' &&
                   (source.length != token.length ||
                    memcmp(source.start, token.start, token.length) != 0)) {
            matched = false;
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
    if (lead < 0x80) {
        return 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
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
        return 1;
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
    if (transform->identity) {
        transform_put(&result, subject, length);
    } else if (!transform_match(transform, subject, length, &tokens)) {
        return -ENOENT;
    } else if (transform->part_count == 0) {
        transform_put(&result, subject, length); /* no destination: a filter only */
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
