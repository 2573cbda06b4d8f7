/* JetStream inside the broker, private to engine/js*.c: the server's JetStream state, a
 * stream at run time, and the calls the js files make into each other.
 *
 * The one idea: JetStream is a shard module (shard_module.h) on the meta shard (shard 0)
 * made only of server-side subscribers: the $JS.API subjects nats-server answers, and each
 * stream's subjects. A publish from any shard reaches its stream's subscription through
 * routing (over the cross-shard rings), is appended to the stream's store at once, and
 * its acknowledgement waits in the stream's FIFO until the store's group commit says the
 * message is as durable as --sync asks; the ack then goes back through routing. Nothing
 * on the shard waits for a disk: the store writes through the loop's store I/O.
 *
 * Shard-owned: everything here belongs to the meta shard's thread. */
#ifndef IONATS_ENGINE_JS_INTERNAL_H
#define IONATS_ENGINE_JS_INTERNAL_H

#include "engine/route_msg.h"
#include "proto/js_errors.h"
#include "proto/js_stream_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;
struct js_api_context;
struct shard;
struct service_sub;
struct store_io;
struct stream_store;

/* The longest API request body read (a stream config with many subjects fits). */
enum { JS_API_REQUEST_MAX = 1024 * 1024 };
/* The longest reply written (a stream list page of large configs fits). */
enum { JS_API_REPLY_MAX = 64 * 1024 * 1024 };
/* Streams per server: each costs file descriptors and a subscription per subject. */
enum { JS_STREAMS_MAX = 10000 };
/* Page sizes of STREAM.NAMES and STREAM.LIST, as nats-server's. */
enum { JS_NAMES_PAGE = 1024, JS_LIST_PAGE = 256 };
/* Nats-Msg-Id entries a stream remembers for its duplicate window at most. */
enum { JS_DEDUPE_MAX = 1 << 20 };

/* A publish acknowledgement waiting for its message to be durable. */
struct js_pending_ack {
    uint64_t seq;
    char *reply;    /* owned, NUL-terminated */
    bool duplicate; /* a Nats-Msg-Id seen in the window: acked with the first's sequence */
};

struct js_dedupe_entry {
    struct js_dedupe_entry *hash_next;
    struct js_dedupe_entry *fifo_next;
    uint64_t seq;
    int64_t timestamp_ns;
    uint32_t id_length;
    char id[];
};

/* Nats-Msg-Id → sequence for the duplicate window: a hash table for lookups and a FIFO in
 * arrival order for expiry (ids arrive in time order). Bounded by JS_DEDUPE_MAX. */
struct js_dedupe {
    struct js_dedupe_entry **buckets;
    uint32_t bucket_count; /* a power of two */
    uint32_t count;
    struct js_dedupe_entry *fifo_head;
    struct js_dedupe_entry *fifo_tail;
};

struct js;

struct js_stream {
    struct js *js;
    struct js_stream_config config; /* owned, checked */
    int64_t created_ns;             /* wall clock */
    char *dir;                      /* owned; NULL for memory storage */
    struct stream_store *store;
    struct service_sub **subs;      /* owned array: one per subject */
    size_t sub_count;
    struct service_sub *direct_subs[2]; /* DIRECT.GET.<name> and .<name>.>, allow_direct */
    struct js_pending_ack *acks;    /* owned FIFO ring */
    uint32_t ack_head;
    uint32_t ack_count;
    uint32_t ack_capacity;
    struct js_dedupe dedupe;
    char *last_msg_id;              /* owned; the last stored Nats-Msg-Id, NULL if none */
    uint64_t bytes;                 /* the store's byte_count after the last change */
    bool dirty;                     /* appended since the last flush */
    bool deleting;                  /* deleted: freed once its I/O is done */
    int failure;                    /* 0, or the -errno that stopped its writes */
};

struct js {
    struct shard *shard;           /* borrowed: the meta shard */
    struct store_io *io;           /* borrowed: the loop's store I/O */
    char *streams_dir;             /* owned: <store_dir>/jetstream/$G/streams */
    int64_t max_memory;
    int64_t max_file;
    struct service_sub **api_subs; /* owned array */
    struct js_api_context *api_contexts; /* owned array: what each API handler is */
    size_t api_sub_count;
    struct js_stream **streams;    /* owned array, sorted by name */
    size_t stream_count;
    size_t stream_capacity;
    struct js_stream **retired;    /* deleted streams whose I/O is still in flight */
    size_t retired_count;
    size_t retired_capacity;
    uint64_t memory_used;          /* bytes held by memory streams */
    uint64_t storage_used;         /* bytes held by file streams */
    uint64_t pending_bytes;        /* appended this turn, not yet counted in the above */
    uint64_t api_total;
    uint64_t api_errors;
    bool stopping;
};

/* ---- js.c: the module and shared helpers ---- */

/* Publishes `body` to `reply` from the meta shard (an API answer or an ack). */
void js_reply(struct js *js, const char *reply, size_t reply_length, const char *body,
              size_t body_length);

/* The stream named `name` (`length` bytes), or NULL. */
struct js_stream *js_stream_find(struct js *js, const char *name, size_t length);

/* The sorted stream array: insert (0 or -ENOMEM) and remove. */
int js_streams_insert(struct js *js, struct js_stream *stream);
void js_streams_remove(struct js *js, struct js_stream *stream);

/* Keeps a deleted stream until its store's I/O is done (then js.c frees it). */
int js_retire(struct js *js, struct js_stream *stream);

/* Wall-clock now, in ns since the epoch. */
int64_t js_now_ns(void);

/* Writes a time as Go's RFC 3339 with nanoseconds does ("0001-01-01T00:00:00Z" for 0);
 * returns its length. */
enum { JS_TIME_TEXT_SIZE = 64 };
size_t js_time_format(char *text, size_t size, int64_t unix_ns);

/* Appends that time as a JSON string. */
void js_json_time(struct js_errors_json *json, int64_t unix_ns);

/* ---- js_stream.c: a stream at run time ---- */

/* Creates a stream from a checked config, which it takes over (`config` is left empty):
 * its directory and config file (file storage), its store, its subscriptions. 0 and
 * *out, or -errno with `error` set. */
int js_stream_create(struct js *js, struct js_stream_config *config, struct js_stream **out,
                     struct js_error *error);

/* Opens the stream saved in directory `dir` (a name under streams_dir) at start-up. */
int js_stream_load(struct js *js, const char *name, struct js_stream **out);

/* Applies a checked update (limits, subjects, flags) to a running stream, taking over
 * `config` on success (on failure the caller keeps it). */
int js_stream_update(struct js_stream *stream, struct js_stream_config *config,
                     struct js_error *error);

/* Unsubscribes, removes its files, and frees it once its I/O is done. */
void js_stream_delete(struct js_stream *stream);

/* Frees a stream whose store has nothing in flight (or at the end, whatever is left). */
void js_stream_free(struct js_stream *stream);

/* Hands the stream's collected appends to the store's I/O. */
void js_stream_flush(struct js_stream *stream);

/* True while the store has I/O queued or in flight. */
bool js_stream_busy(const struct js_stream *stream);

/* Refreshes `bytes` and the server's usage counters after the store changed. */
void js_stream_account(struct js_stream *stream);

/* The stream's state object ("state":{...}) as nats-server writes it. */
void js_stream_state_json(struct js_stream *stream, struct js_errors_json *json,
                          bool deleted_details, const char *subjects_filter);

/* The whole info body (config, created, state, ts) without the type and braces. */
void js_stream_info_json(struct js_stream *stream, struct js_errors_json *json,
                         bool deleted_details, const char *subjects_filter);

/* ---- js_api.c: the $JS.API stream requests ---- */

/* Subscribes the API subjects. 0 or -errno. */
int js_api_subscribe(struct js *js);

/* Reply helpers for the API files: an error reply of `type` (after
 * io.nats.jetstream.api.v1.), a reply's opening and its sending, and a request body read
 * as a JSON object (NULL once an error was replied). */
void js_api_reply_error(struct js *js, const struct route_msg *msg, const char *type,
                        const struct js_error *error);
void js_api_reply_begin(struct js_errors_json *json, const char *type);
void js_api_reply_end(struct js *js, const struct route_msg *msg, struct js_errors_json *json);
struct json_t *js_api_body_parse(struct js *js, const struct route_msg *msg, const char *type,
                                 const char *body, size_t length);

/* ---- js_api_msg.c: purge, message get and delete ---- */

void js_api_purge(struct js *js, const struct route_msg *msg, const char *name,
                  size_t name_length, const char *body, size_t body_length);
void js_api_msg_get(struct js *js, const struct route_msg *msg, const char *name,
                    size_t name_length, const char *body, size_t body_length);
void js_api_msg_delete(struct js *js, const struct route_msg *msg, const char *name,
                       size_t name_length, const char *body, size_t body_length);

/* ---- js_publish.c: publishes to a stream's subjects and direct gets ---- */

/* A message published on one of the stream's subjects. */
void js_publish_handle(struct shard *shard, void *context, const struct route_msg *msg);

/* $JS.API.DIRECT.GET.<stream>[.<subject>] */
void js_direct_get_handle(struct shard *shard, void *context, const struct route_msg *msg);

/* The store made everything up to `seq` durable: send the acks waiting for it. */
void js_publish_committed(struct js_stream *stream, uint64_t seq);

/* Sends the acks whose messages the store already reported durable. */
void js_publish_committed_check(struct js_stream *stream);

/* The store stopped accepting writes: answer the waiting acks with the error. */
void js_publish_failed(struct js_stream *stream, int error);

/* Refills the dedupe window from the stored messages younger than it (at load). */
void js_publish_dedupe_rebuild(struct js_stream *stream);

/* Dedupe window: record, look up, expire, free. */
int js_dedupe_add(struct js_dedupe *dedupe, const char *id, size_t length, uint64_t seq,
                  int64_t timestamp_ns);
const struct js_dedupe_entry *js_dedupe_find(const struct js_dedupe *dedupe, const char *id,
                                             size_t length);
void js_dedupe_expire(struct js_dedupe *dedupe, int64_t before_ns);
void js_dedupe_free(struct js_dedupe *dedupe);

#endif
