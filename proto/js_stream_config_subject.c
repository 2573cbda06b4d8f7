/* Subjects and subject transforms as nats-server's stream config checks see them: see
 * js_stream_config_internal.h and js_stream_config.h.
 *
 * These follow nats-server's server/sublist.go and server/subject_transform.go rule for
 * rule, quirks included, because the config a client gets accepted or refused (and the
 * error text) must be the reference's: SubjectsCollide treats any token starting with '*'
 * or '>' as a wildcard once both subjects have one; a transform destination token like
 * "{{wildcard(1)}}" is recognised by Go regular expressions that are matched anywhere in
 * the token, with a greedy argument list. Subjects are split into at most
 * JS_SUBJECT_TOKENS_MAX tokens on the stack (8 KiB a subject); a config subject has at
 * most JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX bytes, so at most about half that many tokens.
 * Pure functions, any thread. */
#include "proto/js_stream_config_internal.h"

#include "base/assert.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A subject of JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX bytes has at most this many tokens. */
enum { JS_SUBJECT_TOKENS_MAX = JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX / 2 + 1 };

struct js_subject_token {
    const char *start; /* borrowed from the subject */
    size_t length;
};

struct js_subject_tokens {
    struct js_subject_token token[JS_SUBJECT_TOKENS_MAX];
    size_t count;
};

/* Splits on '.' (empty tokens kept). False when there are too many tokens, which no
 * subject within the length bound has. */
static bool js_subject_split(const char *subject, struct js_subject_tokens *tokens)
{
    tokens->count = 0;
    const char *start = subject;
    for (const char *at = subject;; at++) {
        if (*at != '.' && *at != '\0') {
            continue;
        }
        if (tokens->count == JS_SUBJECT_TOKENS_MAX) {
            return false;
        }
        tokens->token[tokens->count++] = (struct js_subject_token){start, (size_t)(at - start)};
        if (*at == '\0') {
            return true;
        }
        start = at + 1;
    }
}

static bool js_token_is(const struct js_subject_token *token, char wildcard)
{
    return token->length == 1 && token->start[0] == wildcard;
}

static bool js_token_equal(const struct js_subject_token *a, const struct js_subject_token *b)
{
    return a->length == b->length && memcmp(a->start, b->start, a->length) == 0;
}

bool js_stream_subject_valid(const char *subject)
{
    if (subject == NULL || subject[0] == '\0') {
        return false;
    }
    bool after_tail = false;
    const char *start = subject;
    for (const char *at = subject;; at++) {
        if (*at != '.' && *at != '\0') {
            if (strchr(" \t\n\r\f", *at) != NULL) {
                return false;
            }
            continue;
        }
        size_t length = (size_t)(at - start);
        if (length == 0 || after_tail) {
            return false;
        }
        after_tail = length == 1 && start[0] == '>';
        if (*at == '\0') {
            return true;
        }
        start = at + 1;
    }
}

bool js_stream_subject_literal(const char *subject)
{
    for (size_t i = 0; subject[i] != '\0'; i++) {
        if ((subject[i] == '*' || subject[i] == '>') && (i == 0 || subject[i - 1] == '.') &&
            (subject[i + 1] == '\0' || subject[i + 1] == '.')) {
            return false;
        }
    }
    return true;
}

/* A cursor over a subject's tokens, for the walks that compare two subjects in lock step
 * without splitting them: one pass each, nothing copied. */
struct js_subject_walk {
    const char *next; /* start of the next token, NULL after the last */
};

static bool js_walk_token(struct js_subject_walk *walk, struct js_subject_token *token)
{
    if (walk->next == NULL) {
        return false;
    }
    const char *dot = strchr(walk->next, '.');
    size_t length = dot != NULL ? (size_t)(dot - walk->next) : strlen(walk->next);
    *token = (struct js_subject_token){walk->next, length};
    walk->next = dot != NULL ? dot + 1 : NULL;
    return true;
}

/* Token count and whether a token is exactly "*" / exactly ">" (nats-server's
 * analyzeTokens). */
static size_t js_subject_info(const char *subject, bool *one, bool *tail)
{
    struct js_subject_walk walk = {subject};
    struct js_subject_token token;
    size_t count = 0;
    *one = false;
    *tail = false;
    while (js_walk_token(&walk, &token)) {
        count++;
        *one = *one || js_token_is(&token, '*');
        *tail = *tail || js_token_is(&token, '>');
    }
    return count;
}

/* nats-server's isSubsetMatchTokenized: whether `subject` is a subset of `test`. */
static bool js_subject_subset_walk(const char *subject, const char *test)
{
    struct js_subject_walk tokens = {subject};
    struct js_subject_walk tests = {test};
    struct js_subject_token t1;
    struct js_subject_token t2;
    size_t subject_count = 0;
    size_t test_count = 0;
    while (js_walk_token(&tests, &t2)) {
        test_count++;
        if (!js_walk_token(&tokens, &t1) || t2.length == 0) {
            return false;
        }
        subject_count++;
        if (js_token_is(&t2, '>')) {
            return true;
        }
        if (t1.length == 0 || js_token_is(&t1, '>')) {
            return false;
        }
        if (js_token_is(&t1, '*')) {
            if (!js_token_is(&t2, '*')) {
                return false;
            }
            continue;
        }
        if (t2.start[0] != '*' && !js_token_equal(&t1, &t2)) {
            return false;
        }
    }
    return !js_walk_token(&tokens, &t1) && subject_count == test_count;
}

bool js_stream_subject_subset(const char *subject, const char *test)
{
    return js_subject_subset_walk(subject, test);
}

bool js_stream_config_subjects_collide(const char *a, const char *b)
{
    if (strcmp(a, b) == 0) {
        return true;
    }
    bool one_a, tail_a, one_b, tail_b;
    size_t count_a = js_subject_info(a, &one_a, &tail_a);
    size_t count_b = js_subject_info(b, &one_b, &tail_b);
    bool literal_a = !(one_a || tail_a);
    bool literal_b = !(one_b || tail_b);
    if (literal_a && literal_b) {
        return false;
    }
    if (literal_a != literal_b) {
        return literal_a ? js_subject_subset_walk(a, b) : js_subject_subset_walk(b, a);
    }
    if (!tail_a && !tail_b && count_a != count_b) {
        return false;
    }
    if ((count_a < count_b && !tail_a) || (count_b < count_a && !tail_b)) {
        return false;
    }
    /* both have wildcards: look for a reason to say no in the common tokens; nats-server's
     * tokensCanMatch looks at the first byte only */
    struct js_subject_walk walk_a = {a};
    struct js_subject_walk walk_b = {b};
    struct js_subject_token t1;
    struct js_subject_token t2;
    while (js_walk_token(&walk_a, &t1) && js_walk_token(&walk_b, &t2)) {
        if (t1.length == 0 || t2.length == 0) {
            return false;
        }
        bool wild =
            t1.start[0] == '*' || t1.start[0] == '>' || t2.start[0] == '*' || t2.start[0] == '>';
        if (!wild && !js_token_equal(&t1, &t2)) {
            return false;
        }
    }
    return true;
}

bool js_stream_config_subject_sets_overlap(const char *const *a, size_t a_count,
                                           const char *const *b, size_t b_count)
{
    for (size_t i = 0; i < a_count; i++) {
        for (size_t j = 0; j < b_count; j++) {
            if (js_stream_config_subjects_collide(a[i], b[j])) {
                return true;
            }
        }
    }
    return false;
}

/* ---- transforms ------------------------------------------------------------------------ */

static const char JS_ERR_MAPPING[] = "invalid mapping destination";

/* A mapping function nats-server knows, as its regular expression's name part: an upper
 * case letter stands for [xX], a lower case one for itself. */
enum js_mapping_function {
    JS_MAP_WILDCARD,
    JS_MAP_PARTITION,
    JS_MAP_SPLIT_FROM_LEFT,
    JS_MAP_SPLIT_FROM_RIGHT,
    JS_MAP_SLICE_FROM_LEFT,
    JS_MAP_SLICE_FROM_RIGHT,
    JS_MAP_RIGHT,
    JS_MAP_LEFT,
    JS_MAP_SPLIT,
    JS_MAP_RANDOM,
    JS_MAP_COUNT,
};

/* In the order indexPlaceHolders tries them. */
static const char *const js_mapping_names[JS_MAP_COUNT] = {
    [JS_MAP_WILDCARD] = "Wildcard",
    [JS_MAP_PARTITION] = "Partition",
    [JS_MAP_SPLIT_FROM_LEFT] = "SplitFromLeft",
    [JS_MAP_SPLIT_FROM_RIGHT] = "SplitFromRight",
    [JS_MAP_SLICE_FROM_LEFT] = "SliceFromLeft",
    [JS_MAP_SLICE_FROM_RIGHT] = "SliceFromRight",
    [JS_MAP_RIGHT] = "Right",
    [JS_MAP_LEFT] = "Left",
    [JS_MAP_SPLIT] = "Split",
    [JS_MAP_RANDOM] = "Random",
};

static bool js_regex_space(char byte)
{
    return byte == ' ' || byte == '\t' || byte == '\n' || byte == '\f' || byte == '\r';
}

/* Matches `{{\s*Name\s*\((.*)\)\s*}}` anywhere in token[0, length), as Go's MatchString
 * and FindStringSubmatch do: the leftmost start, the longest argument list. On a match,
 * *args / *args_length are the captured arguments. */
static bool js_mapping_match(const char *token, size_t length, const char *name, const char **args,
                             size_t *args_length)
{
    size_t name_length = strlen(name);
    for (size_t start = 0; start + 1 < length; start++) {
        if (token[start] != '{' || token[start + 1] != '{') {
            continue;
        }
        size_t at = start + 2;
        while (at < length && js_regex_space(token[at])) {
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
        while (at < length && js_regex_space(token[at])) {
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
            while (after < length && js_regex_space(token[after])) {
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

/* Go's strconv.Atoi (`int32` false) or ParseInt(s, 10, 32) (true) on an argument after
 * strings.Trim(arg, " "): an optional sign and decimal digits, in range. */
static bool js_mapping_integer(const char *text, size_t length, bool int32, long long *value)
{
    while (length > 0 && text[0] == ' ') {
        text++, length--;
    }
    while (length > 0 && text[length - 1] == ' ') {
        length--;
    }
    char copy[32];
    if (length == 0 || length >= sizeof copy) {
        return false;
    }
    memcpy(copy, text, length);
    copy[length] = '\0';
    size_t digits = copy[0] == '+' || copy[0] == '-' ? 1 : 0;
    if (copy[digits] == '\0') {
        return false;
    }
    for (size_t i = digits; copy[i] != '\0'; i++) {
        if (copy[i] < '0' || copy[i] > '9') {
            return false;
        }
    }
    errno = 0;
    *value = strtoll(copy, NULL, 10);
    if (errno != 0) {
        return false;
    }
    return !int32 || (*value >= INT32_MIN && *value <= INT32_MAX);
}

/* The argument list split as Go's regexp `,\s*` Split does. */
struct js_mapping_args {
    struct {
        const char *start;
        size_t length;
    } arg[JS_SUBJECT_TOKENS_MAX];
    size_t count;
};

static void js_mapping_split(const char *args, size_t length, struct js_mapping_args *split)
{
    split->count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= length; i++) {
        if (i < length && args[i] != ',') {
            continue;
        }
        if (split->count < JS_SUBJECT_TOKENS_MAX) {
            split->arg[split->count].start = &args[start];
            split->arg[split->count].length = i - start;
            split->count++;
        }
        start = i + 1;
        while (start < length && js_regex_space(args[start])) {
            start++;
        }
        i = start - 1;
    }
}

/* Go's mappingDestinationErr: "<reason> in <token>" (just the reason without a token). */
static int js_mapping_error(char *text, size_t size, const char *reason, const char *token,
                            size_t length)
{
    if (length == 0) {
        snprintf(text, size, "%s: %s", JS_ERR_MAPPING, reason);
    } else {
        snprintf(text, size, "%s: %s in %.*s", JS_ERR_MAPPING, reason, (int)length, token);
    }
    return -EINVAL;
}

static const char JS_ERR_NOT_ENOUGH[] = "not enough arguments passed to the function";
static const char JS_ERR_TOO_MANY[] = "too many arguments passed to the function";
static const char JS_ERR_INVALID_ARG[] = "function argument is invalid or in the wrong format";

/* What indexPlaceHolders makes of one destination token. */
struct js_placeholder {
    bool transform; /* a "$N" or a mapping function, not plain text */
    enum js_mapping_function function;
    long long index[JS_SUBJECT_TOKENS_MAX]; /* the wildcard indexes it refers to */
    size_t index_count;
};

/* Parses argument `i` of `split` as Go's Atoi (or, `int32`, ParseInt(.., 32)). */
static bool js_mapping_arg(const struct js_mapping_args *split, size_t i, bool int32,
                           long long *value)
{
    return js_mapping_integer(split->arg[i].start, split->arg[i].length, int32, value);
}

/* The arguments of a recognised function, as indexPlaceHolders checks them. Returns the
 * reason they are refused, or NULL with the wildcard indexes in `placeholder`. */
static const char *js_mapping_arguments(enum js_mapping_function function,
                                        const struct js_mapping_args *split,
                                        struct js_placeholder *placeholder)
{
    size_t count = split->count;
    long long value;
    long long *index = placeholder->index;
    switch (function) {
    case JS_MAP_WILDCARD:
        if (count == 1 && split->arg[0].length == 0) {
            return JS_ERR_NOT_ENOUGH;
        }
        if (count > 1) {
            return JS_ERR_TOO_MANY;
        }
        placeholder->index_count = 1;
        return js_mapping_arg(split, 0, false, &index[0]) ? NULL : JS_ERR_INVALID_ARG;
    case JS_MAP_PARTITION:
        if (!js_mapping_arg(split, 0, false, &value) || value > INT32_MAX) {
            return JS_ERR_INVALID_ARG;
        }
        for (size_t i = 1; i < count; i++) {
            if (!js_mapping_arg(split, i, false, &index[i - 1])) {
                return JS_ERR_INVALID_ARG;
            }
        }
        placeholder->index_count = count - 1;
        return NULL;
    case JS_MAP_RANDOM:
        if (count != 1) {
            return JS_ERR_NOT_ENOUGH;
        }
        return js_mapping_arg(split, 0, false, &value) && value <= INT32_MAX ? NULL
                                                                             : JS_ERR_INVALID_ARG;
    default: /* split(index, delimiter) and the (index, integer) functions */
        if (count < 2) {
            return JS_ERR_NOT_ENOUGH;
        }
        if (count > 2) {
            return JS_ERR_TOO_MANY;
        }
        placeholder->index_count = 1;
        if (!js_mapping_arg(split, 0, false, &index[0])) {
            return JS_ERR_INVALID_ARG;
        }
        if (function == JS_MAP_SPLIT) {
            bool bad = memchr(split->arg[1].start, ' ', split->arg[1].length) != NULL ||
                       memchr(split->arg[1].start, '.', split->arg[1].length) != NULL;
            return bad ? JS_ERR_INVALID_ARG : NULL;
        }
        return js_mapping_arg(split, 1, true, &value) ? NULL : JS_ERR_INVALID_ARG;
    }
}

static bool js_mapping_function_like(const char *token, size_t length)
{
    return length > 4 && token[0] == '{' && token[1] == '{' && token[length - 2] == '}' &&
           token[length - 1] == '}';
}

/* nats-server's indexPlaceHolders on one destination token. 0, or -EINVAL with the text. */
static int js_mapping_placeholder(const struct js_subject_token *token,
                                  struct js_placeholder *placeholder, char *text, size_t size)
{
    const char *start = token->start;
    size_t length = token->length;
    placeholder->transform = false;
    placeholder->index_count = 0;
    if (length > 1 && start[0] == '$') {
        /* "$N", Atoi without trimming; anything else after '$' is plain text */
        placeholder->transform =
            start[1] != ' ' && start[length - 1] != ' ' &&
            js_mapping_integer(start + 1, length - 1, false, &placeholder->index[0]);
        placeholder->function = JS_MAP_WILDCARD;
        placeholder->index_count = placeholder->transform ? 1 : 0;
        return 0;
    }
    if (!js_mapping_function_like(start, length)) {
        return 0;
    }
    for (int function = 0; function < JS_MAP_COUNT; function++) {
        const char *args;
        size_t args_length;
        if (!js_mapping_match(start, length, js_mapping_names[function], &args, &args_length)) {
            continue;
        }
        struct js_mapping_args split;
        js_mapping_split(args, args_length, &split);
        placeholder->transform = true;
        placeholder->function = (enum js_mapping_function)function;
        const char *reason = js_mapping_arguments(placeholder->function, &split, placeholder);
        return reason ? js_mapping_error(text, size, reason, start, length) : 0;
    }
    return js_mapping_error(text, size, "unknown function", start, length);
}

/* NewSubjectTransform's use of one placeholder: with wildcards in the source, each index
 * must be within their count; without, only random() and partition() may be used. */
static int js_mapping_token_check(const struct js_subject_token *token, bool source_wild,
                                  size_t source_stars, char *text, size_t size)
{
    struct js_placeholder placeholder;
    int rc = js_mapping_placeholder(token, &placeholder, text, size);
    if (rc != 0 || !placeholder.transform) {
        return rc;
    }
    enum js_mapping_function function = placeholder.function;
    if (!source_wild) {
        if (function == JS_MAP_RANDOM || function == JS_MAP_PARTITION) {
            return 0;
        }
        return js_mapping_error(text, size, "wildcard index out of range", token->start,
                                token->length);
    }
    if (function == JS_MAP_RANDOM) {
        return 0;
    }
    for (size_t i = 0; i < placeholder.index_count; i++) {
        if (placeholder.index[i] > (long long)source_stars) {
            char where[JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX + 32];
            snprintf(where, sizeof where, "%.*s: [%lld]", (int)token->length, token->start,
                     placeholder.index[i]);
            return js_mapping_error(text, size, "wildcard index out of range", where,
                                    strlen(where));
        }
    }
    return 0;
}

/* nats-server's subjectInfo: valid (no empty token, nothing after ">"), the "*" count and
 * whether the last token is ">". */
static bool js_mapping_subject_info(const struct js_subject_tokens *tokens, size_t *stars,
                                    bool *tail)
{
    *stars = 0;
    *tail = false;
    for (size_t i = 0; i < tokens->count; i++) {
        const struct js_subject_token *token = &tokens->token[i];
        if (token->length == 0 || *tail) {
            return false;
        }
        *stars += js_token_is(token, '*');
        *tail = js_token_is(token, '>');
    }
    return true;
}

/* ValidateMapping's own pass over the destination tokens, before NewSubjectTransform. */
static int js_mapping_destination_precheck(const struct js_subject_tokens *tokens, char *text,
                                           size_t size)
{
    bool after_tail = false;
    for (size_t i = 0; i < tokens->count; i++) {
        const struct js_subject_token *token = &tokens->token[i];
        if (token->length == 0 || after_tail) {
            return js_mapping_error(text, size, "invalid transform", token->start, token->length);
        }
        if (js_mapping_function_like(token->start, token->length)) {
            /* every function nats-server 2.15.1 knows, left() and right() included (its
             * source list at the time of writing lacks them; the release takes them) */
            bool matched = false;
            for (int f = 0; !matched && f < JS_MAP_COUNT; f++) {
                const char *args;
                size_t args_length;
                matched = js_mapping_match(token->start, token->length, js_mapping_names[f], &args,
                                           &args_length);
            }
            if (!matched) {
                return js_mapping_error(text, size, "unknown function", token->start,
                                        token->length);
            }
            continue;
        }
        if (js_token_is(token, '>')) {
            after_tail = true;
        } else if (strcspn(token->start, "\t\n\f\r .") < token->length) {
            return js_mapping_error(text, size, "invalid transform", NULL, 0);
        }
    }
    return 0;
}

int js_stream_transform_check(const char *source, const char *destination, bool validate_mapping,
                              char *text, size_t size)
{
    if (destination == NULL || destination[0] == '\0') {
        return 0;
    }
    if (source == NULL || source[0] == '\0') {
        source = ">";
    }
    struct js_subject_tokens pair[2];
    if (!js_subject_split(source, &pair[0]) || !js_subject_split(destination, &pair[1])) {
        snprintf(text, size, "invalid subject");
        return -EINVAL;
    }
    if (validate_mapping) {
        int rc = js_mapping_destination_precheck(&pair[1], text, size);
        if (rc != 0) {
            return rc;
        }
    }
    size_t source_stars;
    size_t destination_stars;
    bool source_tail;
    bool destination_tail;
    if (!js_mapping_subject_info(&pair[0], &source_stars, &source_tail) ||
        !js_mapping_subject_info(&pair[1], &destination_stars, &destination_tail) ||
        destination_stars > 0 || source_tail != destination_tail) {
        snprintf(text, size, "invalid subject");
        return -EINVAL;
    }
    bool source_wild = source_stars > 0 || source_tail;
    for (size_t i = 0; i < pair[1].count; i++) {
        int rc = js_mapping_token_check(&pair[1].token[i], source_wild, source_stars, text, size);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}
