/* The pieces of the publish pipeline (js_publish.c) that an atomic batch's commit
 * (js_batch.c) runs too: answers in order with the held acks, error acks, the checks that
 * need a stream's state, the stored header, the append's bookkeeping, and acks held until
 * their message is durable. One copy of each, called by both paths.
 *
 * The one idea: an answer never overtakes an ack still waiting for its commit, whichever
 * path wrote it. Owner shard's thread only. */
#ifndef IONATS_ENGINE_JS_PUBLISH_H
#define IONATS_ENGINE_JS_PUBLISH_H

#include "engine/route_msg.h"
#include "proto/js_errors.h"
#include "proto/js_pub.h"
#include "proto/js_stream_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct js_stream;

/* A message published on one of the stream's subjects, not an atomic batch's: the checks
 * in nats-server's order, the append, the ack held until it is durable. `msg`'s subject is
 * the one it is stored under (the stream's subject_transform applied); `directives` its
 * parsed header block. */
void js_publish_single(struct js_stream *stream, const struct route_msg *msg,
                       const struct js_pub_directives *directives);

/* Publishes `body` to `reply` (none when empty), behind the acks still waiting. */
void js_publish_answer(struct js_stream *stream, struct proto_slice reply, const char *body,
                       size_t length);

/* Error acks to `msg`'s reply: one of js_pub's errors; an API error by id or filled in;
 * 10077 with `text`; an append's -errno as nats-server's store errors read; 10172. */
void js_publish_nak(struct js_stream *stream, const struct route_msg *msg,
                    enum js_pub_error error, const struct js_pub_error_args *args);
void js_publish_nak_id(struct js_stream *stream, const struct route_msg *msg,
                       enum js_error_id id);
void js_publish_nak_api(struct js_stream *stream, const struct route_msg *msg,
                        const struct js_error *error);
void js_publish_nak_store(struct js_stream *stream, const struct route_msg *msg,
                          const char *text);
void js_publish_nak_append(struct js_stream *stream, const struct route_msg *msg, int rc);
void js_publish_nak_counter_broken(struct js_stream *stream, const struct route_msg *msg);

/* Runs js_pub_check's `stage` with the stream's rules; false after answering its error. */
bool js_publish_stage_passes(struct js_stream *stream, const struct route_msg *msg,
                             const struct js_pub_directives *directives, enum js_pub_stage stage,
                             size_t body_length);

/* True when `size` more bytes would take the server past its storage for the stream's
 * kind (--max_memory_store / --max_file_store). */
bool js_publish_storage_exceeded(const struct js_stream *stream, size_t size);

/* The header `msg` is stored with, into `header` (`size` bytes, at least the message's
 * header length + JS_PUBLISH_HEADER_GROWTH_MAX): its inline status cut, its Nats-TTL raised
 * to the marker TTL (both as js_pub.h and js_ttl.c say). Returns its length. */
enum { JS_PUBLISH_HEADER_GROWTH_MAX = 32 };
size_t js_publish_header_prepare(const struct js_stream *stream, const struct route_msg *msg,
                                 struct js_pub_directives *directives, char *header,
                                 size_t size);

/* Nats-Rollup before the append: the stream or the subject purged. */
void js_publish_rollup_apply(struct js_stream *stream, const struct route_msg *msg,
                             const struct js_pub_directives *directives);

/* What follows every append of `msg` at `seq` (`size` bytes stored): the turn's flush, the
 * consumers, the duplicate window, the TTL. */
void js_publish_appended(struct js_stream *stream, const struct route_msg *msg,
                         const struct js_pub_directives *directives, uint64_t seq, size_t size);

/* A success ack with the stream's name and domain, for `seq`. */
struct js_pub_ack js_publish_ack_base(const struct js_stream *stream, uint64_t seq);

/* Holds the success ack `body`, written ahead, until `seq` is durable (a failed store
 * answers it with its error instead). 0 or -ENOMEM. */
int js_publish_ack_hold(struct js_stream *stream, struct proto_slice reply, uint64_t seq,
                        const char *body, size_t length);

/* Room for an ack: the fixed part and the stream name and a batch id escaped. */
enum { JS_PUBLISH_ACK_SIZE_MAX = JS_PUB_REPLY_FIXED_SIZE_MAX +
                                 JS_PUB_REPLY_EXPANSION_MAX *
                                     (JS_STREAM_CONFIG_NAME_LENGTH_MAX + 512) };

#endif
