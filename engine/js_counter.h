/* Counter streams (allow_msg_counter): the stored form of a counter publish. See
 * js_counter.c. Owner shard's thread only. */
#ifndef IONATS_ENGINE_JS_COUNTER_H
#define IONATS_ENGINE_JS_COUNTER_H

#include "proto/js_counter.h"
#include "proto/parser.h"

#include <stddef.h>

struct js_pub_directives;
struct js_stream;

/* What a counter publish is stored as. */
struct js_counter_next {
    char body[JS_COUNTER_DIGITS_MAX + 16]; /* {"val":"<total>"} */
    size_t body_length;
    const char *value;    /* the total, into body (the ack's "val") */
    size_t value_length;
    char *header;         /* malloc'd: the header to store instead (sourced totals, or
                           * Nats-Counter-Sources carried on); NULL: the publish's own */
    size_t header_length;
};

/* The next total of `subject` from its last stored message and the publish's Nats-Incr,
 * or, for a total sourced from another counter stream (a Nats-Stream-Source header), from
 * its difference with the last total seen from that origin. 0; -EBADMSG for a broken
 * counter (nats-server's 10172: a last message that is not a counter's, a bad sources
 * header, a total past JS_COUNTER_DIGITS_MAX digits); -ENOMEM. The caller frees
 * out->header. */
int js_counter_next(struct js_stream *stream, struct proto_slice subject, const char *header,
                    size_t header_length, const char *body, size_t body_length,
                    const struct js_pub_directives *directives, struct js_counter_next *out);

/* A subject's last message, as js_counter_next_after is given it (borrowed). */
struct js_counter_last {
    const char *header;
    size_t header_length;
    const char *body;
    size_t body_length;
};

/* js_counter_next with the subject's last message given instead of read from the store
 * (`previous` NULL: the subject has none): an atomic batch totals a subject's increments
 * over its own earlier messages before any of them is stored. The same returns. */
int js_counter_next_after(const struct js_counter_last *previous, struct proto_slice subject,
                          const char *header, size_t header_length, const char *body,
                          size_t body_length, const struct js_pub_directives *directives,
                          struct js_counter_next *out);

#endif
