/* Subject validation and matching, as NATS defines them.
 *
 * A subject is tokens separated by '.'; no token is empty and no byte is whitespace
 * (space, tab, CR, LF). In a subscription, a token that is exactly "*" matches any one
 * token and a last token that is exactly ">" matches one or more tokens; "foo*" is a
 * literal token. "a.>" does not match "a". Pure functions, any thread. */
#ifndef IONATS_PROTO_SUBJECT_H
#define IONATS_PROTO_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

/* True when `subject` is a valid subscription subject (wildcards allowed, ">" only last). */
bool subject_valid_for_sub(const char *subject, size_t length);

/* True when `subject` is a valid literal subject: valid and without wildcard tokens. */
bool subject_valid_literal(const char *subject, size_t length);

/* True when the valid subscription subject contains a "*" or ">" token. */
bool subject_has_wildcard(const char *subject, size_t length);

/* True when literal `subject` is matched by subscription `pattern` (both assumed valid). */
bool subject_matches(const char *pattern, size_t pattern_length, const char *subject,
                     size_t subject_length);

#endif
