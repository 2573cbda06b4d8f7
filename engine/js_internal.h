/* JetStream inside the broker, private to engine/js*.c: the server's JetStream state, a
 * stream at run time, and the calls the js files make into each other.
 *
 * The one idea: JetStream is a shard module (shard_module.h) made only of server-side
 * subscribers, with each stream owned by one shard (its name's hash modulo the shard
 * count) and the account's view kept on the meta shard (shard 0). The meta shard answers
 * the $JS.API subjects: what needs only the configs (create and update checks, names, the
 * overlap of subjects, lists and account totals read from each stream's shared counters)
 * it answers itself; what needs a stream's store (info, purge, messages) and every change
 * it sends to the owner as a module message over the cross-shard rings, and the owner
 * replies to the client. A publish from any shard reaches its stream's subscription on
 * the owner through routing, is appended to the stream's store at once, and its ack waits
 * in the stream's FIFO until the store's group commit says the message is as durable as
 * --sync asks. Nothing waits for a disk: each owner writes through its own loop's store
 * I/O, and stores open in parallel, each on its owner, at start.
 *
 * Threads: a struct js and its streams belong to their shard's thread; the meta registry
 * to shard 0's; struct js_shared_state (relaxed atomics) and struct js_server (immutable
 * but for relaxed atomics) are shared, as their comments say. */
#ifndef IONATS_ENGINE_JS_INTERNAL_H
#define IONATS_ENGINE_JS_INTERNAL_H

#include "base/timer.h"
#include "engine/route_msg.h"
#include "proto/js_errors.h"
#include "proto/js_stream_config.h"

#include <stdatomic.h>
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
    char *body;     /* owned: an error ack, held only to keep acks in order; NULL: success */
    size_t body_length;
    bool duplicate; /* a Nats-Msg-Id seen in the window: acked with the first's sequence */
    bool body_is_success; /* `body` is a success ack written ahead (a counter's "val") */
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
struct js_consumer;
struct js_source;
struct js_ttl;
struct subject_transform;

/* A stream's state as other shards read it (the meta shard, for lists and account totals):
 * written by the owner at the end of each turn that changed the stream, read by the meta
 * shard. Relaxed: figures for reports, nothing is published through them, and a report may
 * mix two turns' values as nats-server's unlocked reads can. Freed by the last of the two
 * to let go (see js_meta.c). */
struct js_shared_state {
    _Atomic uint64_t msgs;
    _Atomic uint64_t bytes;
    _Atomic uint64_t first_seq;
    _Atomic uint64_t last_seq;
    _Atomic int64_t first_ts;
    _Atomic int64_t last_ts;
    _Atomic uint64_t subjects;
    _Atomic uint64_t deleted;
    _Atomic uint64_t consumers;
};

/* What every shard's JetStream shares: built by main (shard_module's prepare) before the
 * shards start and freed after they stop. The usage counters are relaxed atomics, each
 * owner adding its streams' changes: they bound storage, nothing is published through
 * them. `boot` is read by every shard's start, before any shard runs, and not after. */
struct js_boot_stream {
    char *name;                      /* owned */
    int owner;
    struct js_shared_state *shared;  /* handed to the owner's stream and the meta registry */
};

struct js_server {
    _Atomic int64_t memory_used;     /* bytes held by memory streams, all shards */
    _Atomic int64_t storage_used;    /* bytes held by file streams, all shards */
    _Atomic uint64_t api_errors;     /* API error replies, from any shard (a count only) */
    /* Bytes of js_messages made and not yet freed, all shards (a bound, relaxed). */
    _Atomic int64_t message_bytes;
    /* Atomic batches open on every stream of every shard (js_batch.c's server-wide bound):
     * relaxed, a count that bounds, nothing is published through it. */
    _Atomic int64_t batches_open;
    struct js_boot_stream *boot;     /* owned [boot_count]: the streams found at start */
    size_t boot_count;
    int shard_count;
};

/* A stream as the meta shard knows it. */
struct js_meta_entry {
    struct js_stream_config config;  /* owned: the checked config, kept current by updates */
    int64_t created_ns;
    int owner;
    struct js_shared_state *shared;  /* see struct js_shared_state for who frees it */
};

struct js_stream {
    struct js *js;
    struct js_stream_config config; /* owned, checked */
    int64_t created_ns;             /* wall clock */
    char *dir;                      /* owned; NULL for memory storage */
    struct stream_store *store;
    struct service_sub **subs;      /* owned array: one per subject */
    size_t sub_count;
    struct service_sub *direct_subs[2]; /* DIRECT.GET.<name> and .<name>.>, allow_direct */
    struct js_ttl *ttl;             /* owned: message TTLs and markers (js_ttl.c); NULL: none */
    struct subject_transform *input_transform;     /* subject_transform; NULL: none */
    struct subject_transform *republish_transform; /* republish; NULL: none */
    struct js_pending_ack *acks;    /* owned FIFO ring */
    uint32_t ack_head;
    uint32_t ack_count;
    uint32_t ack_capacity;
    struct js_dedupe dedupe;
    struct js_batch *batches;       /* owned list: its open atomic batches (js_batch.c) */
    uint32_t batch_count;
    char *last_msg_id;              /* owned; the last stored Nats-Msg-Id, NULL if none */
    uint64_t bytes;                 /* the store's byte_count after the last change */
    uint64_t appended_seq;          /* the last sequence appended */
    struct js_shared_state *shared; /* what the meta shard reads (owned by the stream) */
    struct js_source **source_links; /* owned array: its mirror or sources (js_source.h) */
    size_t source_link_count;
    struct js_consumer **consumers; /* owned array, sorted by name */
    size_t consumer_count;
    size_t consumer_capacity;
    /* of consumer_count, the direct ones (a mirror's or source's on this stream): like
     * nats-server's, left out of consumer counts, names and lists */
    size_t direct_consumer_count;
    uint64_t committed_seq;         /* the last durable sequence (async: appended) */
    bool dirty;                     /* appended since the last flush */
    bool deleting;                  /* deleted: freed once its I/O is done */
    int failure;                    /* 0, or the -errno that stopped its writes */
};

struct js {
    struct shard *shard;           /* borrowed: this shard */
    struct js_server *server;      /* borrowed: shared by every shard */
    struct store_io *io;           /* borrowed: the loop's store I/O */
    char *streams_dir;             /* owned: <store_dir>/jetstream/$G/streams */
    int64_t max_memory;
    int64_t max_file;
    /* meta shard only: the registry of every stream (sorted by name) and the API */
    struct js_meta_entry *entries; /* owned array */
    size_t entry_count;
    size_t entry_capacity;
    struct service_sub **api_subs; /* owned array */
    struct js_api_context *api_contexts; /* owned array: what each API handler is */
    size_t api_sub_count;
    struct service_sub *domain_sub; /* $JS.<domain>.API.> (--js_domain); NULL: none */
    struct js_stream **streams;    /* owned array, sorted by name */
    size_t stream_count;
    size_t stream_capacity;
    struct js_stream **retired;    /* deleted streams whose I/O is still in flight */
    size_t retired_count;
    size_t retired_capacity;
    uint64_t pending_bytes;        /* appended this turn, not yet counted in the server's */
    uint64_t batch_bytes;          /* staged by this shard's open atomic batches (js_batch.c) */
    /* While handling a request the meta shard passed on: replies go back through the meta
     * shard, which has seen the requester's subscriptions (they came in the same ring as
     * the request), where this shard may not have yet (they come in another ring). */
    bool reply_via_meta;
    /* Replies to creates and updates wait until every shard has applied the stream's new
     * subscriptions (the announcements up to their sequence), so that the client's next
     * publish, on whatever shard, finds the stream; then they go by the meta shard. */
    uint64_t hold_sequence;        /* while non-zero, js_reply holds what it is given */
    struct js_held_reply *held_head;
    struct js_held_reply *held_tail;
    uint64_t api_total;            /* meta shard: every request passes there */
    /* Consumers with something to deliver at the end of this turn (js_consumer_wake). */
    struct js_consumer **awake;    /* owned array of borrowed consumers */
    size_t awake_count;
    size_t awake_capacity;
    /* Armed for now while consumers stay awake past a turn, so the loop turns again
     * without waiting for I/O. */
    struct timer_entry kick;
    bool kick_armed;
    /* Consumers whose state changed this turn (js_consumer_store.c), and the snapshots of
     * consumer state in flight: a stop waits for them. */
    struct js_consumer **dirty;    /* owned array of borrowed consumers */
    size_t dirty_count;
    size_t dirty_capacity;
    uint64_t consumer_io_in_flight;
    bool stopping;
};

struct js_held_reply {
    struct js_held_reply *next;
    uint64_t sequence;
    struct js_message *message; /* a JS_OP_REPLY for the meta shard */
};

/* Holds the replies js_reply is given from now until every shard applied this shard's
 * subscriptions made so far (js->hold_sequence; the caller clears it after replying). */
void js_hold_begin(struct js *js);

/* Sends the held replies whose announcements every shard has applied (js.c, each turn);
 * `all`: every one, whatever was applied. */
void js_held_replies_release(struct js *js, bool all);

/* ---- module messages between a stream's owner and the meta shard (js_owner.c) ---- */

enum js_op {
    JS_OP_CREATE,        /* meta → owner: create `name` from `body` (its config's JSON) */
    JS_OP_UPDATE,        /* meta → owner: give `name` the config in `body` */
    JS_OP_DELETE,        /* meta → owner: delete `name` */
    JS_OP_REQUEST,       /* meta → owner: `handler` answers the API request in `body` */
    JS_OP_CREATE_FAILED, /* owner → meta: forget `name`; its shared state is the meta's */
    JS_OP_UPDATE_FAILED, /* owner → meta: `body` is the config `name` still has */
    JS_OP_REPLY,         /* owner → meta: publish `body` to the subject `name` */
};

/* An API request handler that runs where the stream is (its owner). */
typedef void js_request_fn(struct js *js, const struct route_msg *msg, const char *name,
                           size_t name_length, const char *body, size_t body_length);

/* One message, heap-allocated with its strings; whoever receives it frees it. */
struct js_message {
    enum js_op op;
    struct js_server *server;       /* whose message_bytes counts it */
    size_t size;                    /* bytes allocated */
    js_request_fn *handler;         /* JS_OP_REQUEST: a static function */
    struct js_shared_state *shared; /* JS_OP_CREATE: the new stream's */
    int64_t created_ns;             /* JS_OP_CREATE: its creation time */
    size_t name_length;
    size_t reply_length;
    size_t body_length;
    char *name;  /* into data, NUL-terminated, as are reply and body */
    char *reply;
    char *body;
    char data[];
};

/* A message with copies of the strings (`reply` and `body` may be NULL). NULL: no memory. */
struct js_message *js_message_make(struct js *js, enum js_op op, const char *name,
                                   size_t name_length, const char *reply, size_t reply_length,
                                   const char *body, size_t body_length);

/* Frees a message (whoever received it), taking it off the server's count. */
void js_message_free(struct js_message *message);

/* Bytes of messages between shards at most before the meta shard refuses to pass more
 * requests on (10023): what a client flooding the API with large requests for a stream on
 * a slow shard can make the broker hold. */
#define JS_MESSAGE_BYTES_MAX ((int64_t)64 << 20)

/* True while messages between shards hold more than JS_MESSAGE_BYTES_MAX. */
bool js_messages_full(const struct js *js);

/* Hands `message` to shard `target`'s JetStream (at once when that is this shard). Takes
 * it; when it cannot be sent (no memory) the loss is logged. */
void js_message_send(struct js *js, int target, struct js_message *message);

/* Runs a message that arrived from shard `origin` (or this one) and frees it. */
void js_message_handle(struct js *js, int origin, struct js_message *message);

/* The shard that owns stream `name` when `shard_count` shards run. */
int js_owner_of(const char *name, size_t length, int shard_count);

/* ---- js_meta.c: the registry on the meta shard and the API it answers itself ---- */

/* Fills the registry from the streams found at start (js_server's boot list). */
int js_meta_load(struct js *js);
void js_meta_free(struct js *js);
struct js_meta_entry *js_meta_find(struct js *js, const char *name, size_t length);
/* Forgets `name` (JS_OP_CREATE_FAILED), freeing its shared state. */
void js_meta_forget(struct js *js, const char *name, size_t length);
/* Puts back the config `name` still has (JS_OP_UPDATE_FAILED). */
void js_meta_restore(struct js *js, const char *name, size_t length, const char *config_json,
                     size_t config_length);

void js_meta_account_info(struct js *js, const struct route_msg *msg, const char *body,
                          size_t body_length);
void js_meta_create(struct js *js, const struct route_msg *msg, const char *name,
                    size_t name_length, const char *body, size_t body_length);
void js_meta_update(struct js *js, const struct route_msg *msg, const char *name,
                    size_t name_length, const char *body, size_t body_length);
void js_meta_delete(struct js *js, const struct route_msg *msg, const char *name,
                    size_t name_length);
void js_meta_names_or_list(struct js *js, const struct route_msg *msg, const char *body,
                           size_t body_length, bool list);
/* Passes a request about stream `name` to its owner's `handler` (10059 when none). */
void js_meta_forward(struct js *js, const struct route_msg *msg, const char *type,
                     js_request_fn *handler, const char *name, size_t name_length,
                     const char *body, size_t body_length);

/* Passes a request about stream `stream` to its owner's `handler`, which gets `carried`
 * (the request's subject after $JS.API.) as its name (10059 when there is no stream). */
void js_meta_forward_subject(struct js *js, const struct route_msg *msg, const char *type,
                             js_request_fn *handler, const char *stream, size_t stream_length,
                             const char *carried, size_t carried_length, const char *body,
                             size_t body_length);

/* ---- js.c: the module and shared helpers ---- */

/* This shard's JetStream, or NULL where the module does not run (not on, or not started
 * on this shard). The shard's own thread. */
struct js *js_of_shard(struct shard *shard);

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

/* Room js_stored_headers_write needs beyond the header, the stream name and the subject. */
enum { JS_STORED_HEADERS_ROOM = 160 };

/* Writes into `out` a stored message's own header lines (its block without the blank line
 * that ends it; "NATS/1.0\r\n" when it has none) and then Nats-Stream, Nats-Subject,
 * Nats-Sequence and Nats-Time-Stamp, as nats-server's direct gets and republish add them;
 * returns the length, the block not ended (the caller adds its lines and "\r\n"). `size`
 * is at least header_length + JS_STORED_HEADERS_ROOM + the name's and subject's lengths. */
size_t js_stored_headers_write(char *out, size_t size, const char *stream_name,
                               const char *header, size_t header_length,
                               struct proto_slice subject, uint64_t seq, int64_t timestamp_ns);

/* Wall-clock now, in ns since the epoch. */
int64_t js_now_ns(void);

/* Writes a time as Go's RFC 3339 with nanoseconds does ("0001-01-01T00:00:00Z" for 0);
 * returns its length. */
enum { JS_TIME_TEXT_SIZE = 64 };
size_t js_time_format(char *text, size_t size, int64_t unix_ns);

/* Appends that time as a JSON string. */
void js_json_time(struct go_json *json, int64_t unix_ns);

/* ---- js_stream.c: a stream at run time ---- */

/* Creates a stream from a checked config, which it takes over (`config` is left empty):
 * its directory and config file (file storage), its store, its subscriptions. 0 and
 * *out, or -errno with `error` set. */
int js_stream_create(struct js *js, struct js_stream_config *config, int64_t created_ns,
                     struct js_shared_state *shared, struct js_stream **out,
                     struct js_error *error);

/* Opens the stream saved in directory `name` under streams_dir at start-up; it takes
 * `shared` (even on failure: then it frees nothing of it). */
int js_stream_load(struct js *js, const char *name, struct js_shared_state *shared,
                   struct js_stream **out);

/* Reads a stream's config.json: 0, -ENOENT, -EBADMSG or -ENOMEM. */
int js_stream_config_read(const char *dir, struct js_stream_config *config,
                          int64_t *created_ns);

/* The stream's state object from the shared counters (what the meta shard can see). */
void js_shared_state_json(const struct js_shared_state *shared, struct go_json *json);

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

/* A stream with persist_mode async: everything appended up to `seq` counts as committed at
 * once (its consumers may deliver it, its acks leave); any other stream waits for the
 * store's `committed` hook. The group commit still runs at the --sync cadence: an async ack
 * says the message is in the store (readable, in memory or the page cache), not on disk,
 * and a crash may lose it. */
void js_stream_async_release(struct js_stream *stream, uint64_t seq);

/* True while the store has I/O queued or in flight. */
bool js_stream_busy(const struct js_stream *stream);

/* Refreshes `bytes` and the server's usage counters after the store changed. */
void js_stream_account(struct js_stream *stream);

/* A subject held and its messages (stream info's subjects_filter). */
struct js_subject_count {
    char *subject; /* owned, not NUL-terminated */
    uint32_t length;
    uint64_t count;
};

/* Subjects whose messages a subjects_filter asks for at most (more: the request fails). */
enum { JS_SUBJECTS_COLLECT_MAX = 1000000 };
/* nats-server's page of subject details in one stream info (JSMaxSubjectDetails). */
enum { JS_SUBJECTS_PAGE = 100000 };

/* The subjects held matching `filter`, sorted as Go writes a map: 0, -E2BIG (more than
 * JS_SUBJECTS_COLLECT_MAX) or -ENOMEM. One pass over the stream's subject table. */
int js_stream_subjects_collect(struct js_stream *stream, const char *filter,
                               struct js_subject_count **out, size_t *count);
void js_subject_counts_free(struct js_subject_count *items, size_t count);

/* The stream's state object ("state":{...}) as nats-server writes it, with `subject_count`
 * per-subject counts. */
void js_stream_state_json(struct js_stream *stream, struct go_json *json,
                          bool deleted_details, const struct js_subject_count *subjects,
                          size_t subject_count);

/* The whole info body (config, created, state, ts) without the type and braces. */
void js_stream_info_json(struct js_stream *stream, struct go_json *json,
                         bool deleted_details, const struct js_subject_count *subjects,
                         size_t subject_count);

/* ---- js_api.c: the $JS.API stream requests ---- */

/* Subscribes the API subjects. 0 or -errno. */
int js_api_subscribe(struct js *js);

/* Reply helpers for the API files: an error reply of `type` (after
 * io.nats.jetstream.api.v1.), a reply's opening and its sending, and a request body read
 * as a JSON object (NULL once an error was replied). */
void js_api_reply_error(struct js *js, const struct route_msg *msg, const char *type,
                        const struct js_error *error);
void js_api_reply_begin(struct go_json *json, const char *type);
void js_api_reply_end(struct js *js, const struct route_msg *msg, struct go_json *json);
struct json_t *js_api_body_parse(struct js *js, const struct route_msg *msg, const char *type,
                                 const char *body, size_t length);

/* False when the header block's Nats-Required-Api-Level asks for more than this server
 * does (nats-server's errorOnRequiredApiLevel; a value that is not a decimal integer fails
 * too); true without one. */
bool js_api_level_met(const char *block, size_t length);

/* nats-server's isEmptyRequest: no body, or a JSON object without a member ("{}"). */
bool js_api_request_empty(const char *body, size_t length);

/* A request's string field (NULL when absent or empty) and positive integer field (0). */
const char *js_api_json_text(const struct json_t *object, const char *key);
uint64_t js_api_json_u64(const struct json_t *object, const char *key);

/* This shard's stream `name`, or NULL after replying 10059 with a reply of `type`. */
struct js_stream *js_api_stream_or_reply(struct js *js, const struct route_msg *msg,
                                         const char *type, const char *name,
                                         size_t name_length);

/* Opens an advisory: `{"type":<type>,"id":<random>,"timestamp":<now>` (the caller adds
 * its fields and the closing brace). */
void js_api_event_begin(struct go_json *json, const char *type);

/* A stream advisory ($JS.EVENT.ADVISORY.STREAM.<CREATED|UPDATED|DELETED>.<name>). */
void js_api_advisory(struct js *js, const char *action, const char *name);

/* A reply of `type` carrying the stream's info (and "did_create":true when asked). */
void js_api_reply_stream(struct js *js, const struct route_msg *msg, const char *type,
                         struct js_stream *stream, bool did_create);

/* Owner-side request handlers (JS_OP_REQUEST): STREAM.INFO, and the reply to a create that
 * names an existing stream with the same config. */
void js_api_stream_info(struct js *js, const struct route_msg *msg, const char *name,
                        size_t name_length, const char *body, size_t body_length);
void js_api_create_existing(struct js *js, const struct route_msg *msg, const char *name,
                            size_t name_length, const char *body, size_t body_length);

/* ---- js_api_msg.c: purge, message get and delete ---- */

void js_api_purge(struct js *js, const struct route_msg *msg, const char *name,
                  size_t name_length, const char *body, size_t body_length);
void js_api_msg_get(struct js *js, const struct route_msg *msg, const char *name,
                    size_t name_length, const char *body, size_t body_length);
void js_api_msg_delete(struct js *js, const struct route_msg *msg, const char *name,
                       size_t name_length, const char *body, size_t body_length);

/* ---- js_republish.c: the stream's subject_transform and republish ---- */

/* Room for a transformed subject (a subject is at most 4 KiB on the wire). */
enum { JS_SUBJECT_TRANSFORMED_MAX = 4096 };

/* Compiles the stream's subject_transform and republish (with its subscriptions); 0 or
 * -ENOMEM. The drop frees them. */
int js_stream_transforms_make(struct js_stream *stream);
void js_stream_transforms_drop(struct js_stream *stream);

/* The subject a message on `subject` is stored under: transformed into `out` when the
 * stream's subject_transform matches it, else `subject` itself. */
struct proto_slice js_stream_subject_in(const struct js_stream *stream, struct proto_slice subject,
                                        char *out, size_t size);

/* Before an append on `subject` under republish: the last sequence held on it (0: none,
 * or no republish), the republished message's Nats-Last-Sequence. */
uint64_t js_republish_last(struct js_stream *stream, struct proto_slice subject);

/* After message `seq` was stored (its stored header and body): published again on the
 * republish destination when its source matches. */
void js_republish(struct js_stream *stream, struct proto_slice subject, const char *header,
                  size_t header_length, const char *body, size_t body_length, uint64_t seq,
                  uint64_t last_seq);

/* ---- js_ttl.c: per-message TTL and subject delete markers ---- */

struct js_pub_directives;

/* After message `seq` (stored at `timestamp_ns`, with this header) was appended to a stream
 * with allow_msg_ttl: its Nats-TTL joins the stream's expiries, and a marker is noted. */
void js_ttl_note(struct js_stream *stream, uint64_t seq, int64_t timestamp_ns,
                 const char *header, size_t header_length,
                 const struct js_pub_directives *directives);

/* nats-server's floor for a TTL under subject delete markers: a Nats-TTL below
 * subject_delete_marker_ttl (unless max_msgs_per_subject is 1) is replaced by that TTL in
 * the stored header (in place in `header`, of `size` bytes) and in `directives`. Returns the
 * header's new length (`length` when nothing changed). */
size_t js_ttl_header_raise(const struct js_stream *stream, struct js_pub_directives *directives,
                           char *header, size_t length, size_t size);

/* At load: the TTLs and markers of the messages held (one walk, allow_msg_ttl only). */
void js_ttl_load(struct js_stream *stream);
void js_ttl_free(struct js_stream *stream);

/* The store's removal of `seq` (its `removed` hook): what max_age removed during
 * js_ttl_tick waits for its marker; a marker removed is forgotten. */
void js_ttl_aged(struct js_stream *stream, uint64_t seq, const uint8_t *subject,
                 uint32_t subject_length);

/* The stream's periodic work at `now_ns`: the store's tick (max_age, interval syncs), the
 * markers of what max_age removed, and the messages whose TTL passed. Returns the store
 * tick's result. */
int js_ttl_tick(struct js_stream *stream, int64_t now_ns);

/* ---- js_publish.c: publishes to a stream's subjects and direct gets ---- */

/* A message published on one of the stream's subjects: js_stream.c's handler hands it to
 * js_publish_single (js_publish.h) or, an atomic batch's, to js_batch_publish. */

/* Stores a message a source brought (its header already as it is to be stored: the
 * origin's Nats-Expected-* and batch headers gone, Nats-Stream-Source added), or with
 * `timestamp_ns` non-zero one a mirror brought, at the store's next sequence (the caller
 * skipped to it) with its origin's timestamp. nats-server's checks for sourced messages:
 * the duplicate window (sources only), the size limits and the account's storage; a
 * rollup applies. 0 when stored or skipped as a duplicate, else -errno (an append error;
 * -EMSGSIZE, -ENOSPC for the account's storage; the store's failure). No ack. */
int js_publish_sourced(struct js_stream *stream, const struct route_msg *msg,
                       int64_t timestamp_ns);

/* The queue group of direct-get subscriptions (nats-server's "_sys_"): a stream and the
 * mirrors that serve its direct gets (mirror_direct) answer a request once between them. */
#define JS_DIRECT_GET_GROUP "_sys_"

/* $JS.API.DIRECT.GET.<stream>[.<subject>] (or a mirror's origin's name as <stream>) */
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
