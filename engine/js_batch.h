/* Atomic batch publish (nats-server 2.12: allow_atomic, Nats-Batch-Id, Nats-Batch-Sequence,
 * Nats-Batch-Commit). See js_batch.c. Owner shard's thread only. */
#ifndef IONATS_ENGINE_JS_BATCH_H
#define IONATS_ENGINE_JS_BATCH_H

#include "engine/route_msg.h"

#include <stdint.h>

struct js_batch;
struct js_pub_directives;
struct js_stream;

/* A message published to the stream with a non-empty Nats-Batch-Id (`directives` parsed
 * from it): staged, answered, or, when it commits, the whole batch checked and stored. */
void js_batch_publish(struct js_stream *stream, const struct route_msg *msg,
                      struct js_pub_directives *directives);

/* Abandons the stream's batches idle past the timeout at monotonic `now_ns` (advisory
 * "timeout"). From the stream's periodic tick. */
void js_batch_tick(struct js_stream *stream, int64_t now_ns);

/* Drops every batch of the stream without an advisory (the stream goes, or no longer
 * allows atomic publish). */
void js_batch_drop_all(struct js_stream *stream);

#endif
