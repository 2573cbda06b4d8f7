/* Subject validation and matching: see subject.h.
 *
 * Every function here is one forward pass over the bytes, without recursion and without
 * allocating: a wildcard is always a whole token and '>' is always the last one, so a
 * pattern and a subject can be walked token by token in lock step and no backtracking is
 * ever needed. Matching sits on the message path of every shard. Pure functions, any
 * thread. */
#include "proto/subject.h"

#include "base/assert.h"

#include <string.h>

enum {
    SUBJECT_SEPARATOR = '.',
    SUBJECT_WILDCARD_ONE = '*',  /* "*": exactly one token */
    SUBJECT_WILDCARD_TAIL = '>', /* ">": one or more tokens, last only */
};

static bool subject_byte_is_space(char byte)
{
    return byte == ' ' || byte == '\t' || byte == '\r' || byte == '\n';
}

/* True when the token [start, end) of `subject` is exactly the one byte `wildcard`. */
static bool subject_token_is(const char *subject, size_t start, size_t end, char wildcard)
{
    return end - start == 1 && subject[start] == wildcard;
}

/* Walks `subject` once. Accepts it when it is a valid subscription subject and, when
 * `literal_only`, holds no wildcard token. Rejects empty subjects, empty tokens, whitespace
 * and a ">" token anywhere but last. */
static bool subject_valid(const char *subject, size_t length, bool literal_only)
{
    if (length == 0) {
        return false;
    }
    size_t token_start = 0;
    for (size_t i = 0; i <= length; i++) {
        if (i < length && subject[i] != SUBJECT_SEPARATOR) {
            if (subject_byte_is_space(subject[i])) {
                return false;
            }
            continue;
        }
        /* [token_start, i) is a whole token, ended by '.' or by the end. */
        if (i == token_start) {
            return false;
        }
        bool is_tail = subject_token_is(subject, token_start, i, SUBJECT_WILDCARD_TAIL);
        bool is_one = subject_token_is(subject, token_start, i, SUBJECT_WILDCARD_ONE);
        if (literal_only && (is_tail || is_one)) {
            return false;
        }
        if (is_tail && i != length) {
            return false;
        }
        token_start = i + 1;
    }
    return true;
}

bool subject_valid_for_sub(const char *subject, size_t length)
{
    ASSERT(subject != NULL || length == 0);
    return subject_valid(subject, length, false);
}

bool subject_valid_literal(const char *subject, size_t length)
{
    ASSERT(subject != NULL || length == 0);
    return subject_valid(subject, length, true);
}

bool subject_has_wildcard(const char *subject, size_t length)
{
    ASSERT(subject != NULL || length == 0);
    size_t token_start = 0;
    while (token_start < length) {
        const char *dot = memchr(subject + token_start, SUBJECT_SEPARATOR, length - token_start);
        size_t token_end = dot == NULL ? length : (size_t)(dot - subject);
        if (subject_token_is(subject, token_start, token_end, SUBJECT_WILDCARD_ONE) ||
            subject_token_is(subject, token_start, token_end, SUBJECT_WILDCARD_TAIL)) {
            return true;
        }
        token_start = token_end + 1;
    }
    return false;
}

/* Walks both strings token by token: a literal pattern token must equal the subject token
 * byte for byte, "*" skips one subject token, and a ">" (always last) accepts when at
 * least one subject token is left. Subjects that are not valid get an answer but no
 * promise. */
bool subject_matches(const char *pattern, size_t pattern_length, const char *subject,
                     size_t subject_length)
{
    ASSERT(pattern != NULL || pattern_length == 0);
    ASSERT(subject != NULL || subject_length == 0);
    size_t p = 0; /* start of the current pattern token */
    size_t s = 0; /* start of the current subject token */
    for (;;) {
        if (p >= pattern_length || s >= subject_length) {
            return false; /* one side has a token left, the other has none (or is empty) */
        }
        bool one_byte_token = p + 1 == pattern_length || pattern[p + 1] == SUBJECT_SEPARATOR;
        if (one_byte_token && pattern[p] == SUBJECT_WILDCARD_TAIL) {
            return true;
        }
        if (one_byte_token && pattern[p] == SUBJECT_WILDCARD_ONE) {
            p++;
            const char *dot = memchr(subject + s, SUBJECT_SEPARATOR, subject_length - s);
            s = dot == NULL ? subject_length : (size_t)(dot - subject);
        } else {
            while (p < pattern_length && pattern[p] != SUBJECT_SEPARATOR) {
                if (s >= subject_length || subject[s] != pattern[p]) {
                    return false;
                }
                p++;
                s++;
            }
            if (s < subject_length && subject[s] != SUBJECT_SEPARATOR) {
                return false; /* the subject token is longer than the pattern token */
            }
        }
        /* Both stand at the end of a token: at the end of the string or on a '.'. */
        if (p == pattern_length || s == subject_length) {
            return p == pattern_length && s == subject_length;
        }
        p++;
        s++;
    }
}
