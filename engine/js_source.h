/* A stream's mirror or one of its sources at run time, private to engine/js_source*.c and
 * the stream that holds them (js_stream.c starts and stops them with its subscriptions,
 * js_api.c shows them in stream info). See js_source.c for the model. Owner shard's thread
 * only. */
#ifndef IONATS_ENGINE_JS_SOURCE_H
#define IONATS_ENGINE_JS_SOURCE_H

#include "base/timer.h"
#include "engine/route_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct go_json;
struct js_stream;
struct js_stream_source;
struct shard;
struct service_sub;
struct subject_transform;

enum js_source_state {
    JS_SOURCE_IDLE,       /* waiting for its timer to ask for a consumer */
    JS_SOURCE_REQUESTING, /* asked; the timer bounds the wait */
    JS_SOURCE_ACTIVE,     /* reading; the timer checks it is still heard from */
};

struct js_source {
    struct js_stream *stream;       /* borrowed: the stream it fills */
    bool mirror;
    size_t index;                   /* sources: its place in config.sources */
    char *iname;                    /* sources: its index name (Nats-Stream-Source) */
    enum js_source_state state;
    char *deliver;                  /* owned: the deliver subject asked for */
    struct service_sub *deliver_sub;
    struct service_sub *reply_sub;  /* the create request's inbox while requesting */
    char *cname;                    /* owned: the consumer's name once created */
    uint64_t sseq;                  /* the last origin sequence stored */
    uint64_t dseq;                  /* the last delivery sequence seen */
    uint64_t lag;                   /* what the origin still had to deliver (pending - 1) */
    int64_t last_ns;                /* monotonic: the last word from the origin; 0: none */
    int64_t requested_ns;           /* monotonic: the last create request; 0: none yet */
    uint32_t fails;                 /* failed setups in a row (the back-off) */
    struct subject_transform **transforms; /* owned: its subject_transforms compiled */
    size_t transform_count;
    struct timer_entry timer;
    /* a mirror with mirror_direct: its origin's direct gets, once it has caught up */
    struct service_sub *direct_subs[2];
    bool has_error;                 /* the last setup's error, for stream info */
    int error_code;
    int error_err_code;
    char error_description[256];
};

/* Its config: the stream's mirror or sources[index]. */
const struct js_stream_source *js_source_config(const struct js_source *source);

/* Gives up the consumer and asks for a new one after the back-off (`failed`: one more
 * failure counted). */
void js_source_retry(struct js_source *source, bool failed);

/* Reading from now on (the create reply came, or deliveries named the consumer first):
 * its error cleared, its health checked every 10 s. */
void js_source_activated(struct js_source *source);

/* Subscribes a mirror with mirror_direct to its origin's direct gets once it is within
 * 10 messages of its origin (nats-server's dgetCaughtUpThresh); nothing otherwise. */
void js_source_direct_check(struct js_source *source);

/* What stream info shows as its "error" until the next success. */
void js_source_error_set(struct js_source *source, int code, int err_code,
                         const char *description);

/* A delivery, heartbeat or flow-control request on the deliver subject (js_source_msg.c). */
void js_source_deliver_handle(struct shard *shard, void *context, const struct route_msg *msg);

/* Sets each source's sseq from the newest Nats-Stream-Source header of its index name
 * held by the stream (js_source_msg.c): a walk back from the last message until every
 * source is found or the first is reached. */
void js_sources_find_positions(struct js_stream *stream);

/* Starts the stream's mirror or sources (none: nothing); 0 or -ENOMEM. */
int js_sources_start(struct js_stream *stream);
void js_sources_stop(struct js_stream *stream);

/* Stream info's "mirror":{...} or "sources":[...] (nothing for neither). */
void js_sources_info_json(const struct js_stream *stream, struct go_json *json);

#endif
