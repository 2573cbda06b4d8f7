/* Subject transforms: the parser of a (source, destination) pair, shared by the stream config
 * checks and the compiled form (the runtime that applies one is subject_transform_apply.c).
 * See subject_transform.h.
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

#include "proto/subject_transform_internal.h"

#include "base/assert.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
