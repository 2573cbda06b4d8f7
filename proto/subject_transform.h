/* Subject transforms as nats-server runs them (server/subject_transform.go): a source
 * subject, which may have wildcards, and a destination built from literal tokens, "$N",
 * the mapping functions ({{wildcard(n)}}, {{partition(count, n...)}}, {{split(n, d)}},
 * {{splitFromLeft(n, p)}}, {{splitFromRight(n, p)}}, {{sliceFromLeft(n, s)}},
 * {{sliceFromRight(n, s)}}, {{left(n, l)}}, {{right(n, l)}}, {{random(count)}}) and a last
 * ">" that carries the source's ">" tokens over. Used for a stream's subject_transform, a
 * mirror's or source's subject_transforms and republish.
 *
 * The one idea: a (source, destination) pair is parsed once into a compiled form (one block,
 * immutable), which then maps a literal subject into a caller's buffer without allocating.
 * The same parser serves the stream config checks (subject_transform_check), so what a config
 * accepts, the error text it refuses with and what the runtime does cannot drift apart.
 * Behaviour follows nats-server 2.12 to 2.15, quirks included (see subject_transform.c).
 * A compiled transform may be applied from any thread; building and freeing are the owner's. */
#ifndef IONATS_PROTO_SUBJECT_TRANSFORM_H
#define IONATS_PROTO_SUBJECT_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>

enum {
    /* Longest source or destination a transform takes, in bytes: a subject's bound here. */
    SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX = 4096,
    /* Room for any error text a transform of subjects within the bound can give (the
     * longest: "invalid mapping destination: wildcard index out of range in <token>: [N]"). */
    SUBJECT_TRANSFORM_ERROR_SIZE = SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX + 128,
};

struct subject_transform; /* opaque, immutable once built: any thread may apply it */

/* Compiles source -> destination as nats-server's NewSubjectTransform does (source NULL or ""
 * means ">"; destination NULL or "" means the subject unchanged). 0 and *out, or -EINVAL with
 * nats-server's error text in `error`, or -ENOMEM. A source or destination longer than
 * SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX is refused as "invalid subject", and so is an invalid
 * source with no destination (nats-server makes no transform of that pair and checks nothing;
 * here the source still filters, so it must be a subject). */
int subject_transform_new(const char *source, const char *destination,
                          struct subject_transform **out, char *error, size_t size);

/* NULL is fine. */
void subject_transform_free(struct subject_transform *transform);

/* Whether `subject` (a literal subject) matches the transform's source: exactly when
 * subject_transform_apply would not answer -ENOENT. A subject with an empty token or a "*" or
 * ">" token matches nothing, except that a source ">" with a destination ">" or "" takes every
 * subject as it is (nats-server's Match does both). */
bool subject_transform_matches(const struct subject_transform *transform, const char *subject,
                               size_t length);

/* Writes the transformed subject (nats-server's Match: the source must match, else -ENOENT)
 * into out[size], NUL-terminated: 0 and *out_length (the terminator not counted), -ENOENT
 * (no match), -ENOSPC (out too small; its contents are then unspecified). The output may be
 * longer than the input (split and slice add separators, literal tokens add bytes); a caller
 * bounds it by `size`. No allocation; {{random()}} draws from a per-thread generator. */
int subject_transform_apply(const struct subject_transform *transform, const char *subject,
                            size_t length, char *out, size_t size, size_t *out_length);

/* The parse alone, building nothing: nats-server's NewSubjectTransform(source, destination)
 * as a check, or with `validate_mapping`, its ValidateMapping, which first checks each
 * destination token (what the stream config checks call). 0, or -EINVAL with the error text
 * in `error`. An empty or NULL destination is fine. */
int subject_transform_check(const char *source, const char *destination, bool validate_mapping,
                            char *error, size_t size);

#endif
