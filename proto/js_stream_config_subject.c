/* Subjects and subject transforms as nats-server's stream config checks see them: see
 * js_stream_config_internal.h and js_stream_config.h.
 *
 * These follow nats-server's server/sublist.go rule for rule, quirks included, because the
 * config a client gets accepted or refused (and the error text) must be the reference's:
 * SubjectsCollide treats any token starting with '*' or '>' as a wildcard once both subjects
 * have one. Subjects are walked token by token, nothing copied. Transforms are parsed by
 * proto/subject_transform.c, the same parser the runtime compiles them with, so what a config
 * accepts is what runs. Pure functions, any thread. */
#include "proto/js_stream_config_internal.h"

#include "proto/subject_transform.h"

#include <string.h>

struct js_subject_token {
    const char *start; /* borrowed from the subject */
    size_t length;
};

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

int js_stream_transform_check(const char *source, const char *destination, bool validate_mapping,
                              char *text, size_t size)
{
    return subject_transform_check(source, destination, validate_mapping, text, size);
}
