/* NATS Streaming inside the broker, private to engine/stan*.c: the server's streaming state,
 * its clients, channels, subscription groups and their members.
 *
 * The one idea: streaming is a gateway over JetStream that talks to it only through the
 * message bus, as any client would. A channel is a stream (STAN_<escaped name> on subject
 * _STAN.ch.<escaped name>), a subscription state is a durable push consumer whose deliver
 * subject the gateway subscribes to, a publish is a stream publish whose JetStream ack
 * becomes the PubAck, a client's Ack is the consumer's +ACK. JetStream keeps the messages,
 * the sequences, the ack floors, redelivery after ack wait and max in flight; the gateway
 * keeps what the Streaming protocol adds: clients and their heartbeats, queue groups (which
 * member gets a message), and the MsgProto framing. Its own records (clients, groups,
 * members) are small files under the streaming directory, written durably before a request
 * is answered. Everything runs on the home shard (shard 0), on its thread. */
#ifndef IONATS_ENGINE_STAN_INTERNAL_H
#define IONATS_ENGINE_STAN_INTERNAL_H

#include "base/timer.h"
#include "engine/route_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shard;
struct service_sub;
struct stan;
struct stan_member;

/* How long an internal request (to JetStream's API or a stream) waits for its answer. */
#define STAN_REQUEST_TIMEOUT_NS (10LL * 1000000000LL)
/* How long a connect with a client id in use waits for the old client's heartbeat answer
 * (nats-streaming-server's). */
#define STAN_DUP_PROBE_NS (500LL * 1000000LL)
/* Internal requests waiting at once, at most: publishes past it are refused. */
enum { STAN_REQUESTS_MAX = 1 << 20 };
/* Publishes waiting for their channel's stream to be made, per channel. */
enum { STAN_CHANNEL_WAITING_MAX = 65536 };
/* ... and their bytes, at most. */
#define STAN_CHANNEL_WAITING_BYTES_MAX (64LL * 1024 * 1024)
/* A subscription state's consumer holds at most this many unacked messages, whatever its
 * members' max in flight add up to: what the gateway keeps per unacked message (its ack
 * subject, a held delivery) stays bounded. */
#define STAN_MAX_ACK_PENDING (1 << 20)
/* The widest range of sequences (ack floor to last delivered) a redelivery walks. */
#define STAN_REDELIVER_SCAN_MAX 65536
/* Longest client id, channel, inbox, queue or durable name taken. */
enum { STAN_NAME_MAX = 1024 };

/* A string-keyed map (client ids, connection ids): chained, grows at load 1. */
struct stan_map_node {
    struct stan_map_node *next;
    void *value;
    size_t key_length;
    char key[];
};

struct stan_map {
    struct stan_map_node **buckets;
    uint32_t capacity; /* a power of two, or 0 */
    uint32_t count;
};

/* An answer to an internal request: `reply` is NULL when it timed out. */
typedef void stan_reply_fn(struct stan *stan, void *context, const struct route_msg *reply);

struct stan_request {
    uint64_t id;
    stan_reply_fn *fn;
    void *context;
    struct timer_entry timer;
    struct stan *stan;
};

/* seq → the consumer's ack reply subject, for the messages a member holds unacked. Open
 * addressing, linear probing, backward-shift delete. */
struct stan_inflight_entry {
    uint64_t seq; /* 0: empty */
    char *reply;  /* owned */
};

struct stan_inflight {
    struct stan_inflight_entry *slots;
    uint32_t capacity; /* a power of two, or 0 */
    uint32_t count;
};

struct stan_client {
    char *id;
    char *hb_inbox;
    uint8_t *conn_id;
    size_t conn_id_length;
    int32_t protocol;
    int32_t ping_interval;
    int32_t ping_max_out;
    size_t index;            /* in stan->clients */
    int fhb;                 /* heartbeats missed in a row */
    uint64_t hb_request;     /* the heartbeat out, 0 for none */
    bool probing;            /* a connect with its id asks whether it is still there */
    struct timer_entry hb_timer;
    struct stan_member **members; /* its active subscriptions */
    size_t member_count;
    size_t member_capacity;
    struct stan *stan;
};

/* A delivery held by the gateway because every member of the group is full. */
struct stan_backlog {
    struct stan_backlog *next;
    uint64_t seq;
    int64_t timestamp_ns;
    uint32_t delivered;
    char *reply;
    char *msg_reply; /* the publisher's reply subject, NULL for none */
    uint8_t *data;
    size_t length;
};

struct stan_channel;

/* A subscription's state: one durable JetStream push consumer. A plain subscription is a
 * group of one member; a queue group has one per member. */
struct stan_group {
    uint64_t id;
    struct stan_channel *channel;
    char *queue;        /* NULL: a plain subscription; "dur:q" for a durable queue */
    char *durable;      /* plain durables: the durable name (keyed with the client id) */
    char *durable_client; /* plain durables: the client id of the key */
    char consumer[32];  /* "S<id>" */
    char *deliver;      /* "_STAN.dlv.<cid>.<id>" */
    /* the consumer's start, kept as created (an update must repeat it) */
    char *deliver_policy;
    uint64_t start_seq;
    int64_t start_time_ns;
    int64_t ack_wait_s;
    bool ready;         /* the consumer exists */
    bool deleting;
    /* read from the records at start: what its members held unacked is not known here, so
     * the consumer is asked to redeliver it before deliveries resume */
    bool inflight_unknown;
    bool redeliver_asked; /* the consumer's info is asked for that */
    struct service_sub *deliver_sub; /* while it has members */
    struct stan_member **members;
    size_t member_count;
    size_t member_capacity;
    size_t rotate;      /* where the next least-loaded search starts */
    struct stan_backlog *backlog_head;
    struct stan_backlog *backlog_tail;
    size_t backlog_count;
    char *last_client;  /* offline durables: the client id it had, */
    char *last_inbox;   /* its last member's inbox and ack inbox */
    char *last_ack_inbox;
    int32_t last_max_inflight;
    uint64_t last_sent; /* the highest sequence given to a member */
};

struct stan_member {
    uint64_t id;
    struct stan_group *group;
    struct stan_client *client;
    char *inbox;
    char *ack_inbox;
    int32_t max_inflight;
    int32_t ack_wait_s;
    uint64_t last_sent;
    struct stan_inflight inflight;
    struct service_sub *ack_sub;
};

struct stan_pub_wait;
struct stan_ready_wait;

struct stan_channel {
    char *name;
    char *stream;       /* "STAN_<escaped>" */
    char *subject;      /* "_STAN.ch.<escaped>" */
    bool ready;         /* its stream exists */
    bool creating;
    int create_error;   /* the last create failed: publishes get this */
    struct stan_group **groups;
    size_t group_count;
    size_t group_capacity;
    struct stan_pub_wait *waiting_head; /* publishes waiting for the stream */
    struct stan_pub_wait *waiting_tail;
    size_t waiting_count;
    int64_t waiting_bytes;
    /* subscriptions waiting for the stream: called once it is made (or failed) */
    struct stan_ready_wait *ready_head;
    int64_t active_ns;  /* monotonic: the last publish, or when its last subscription went */
    uint32_t busy;      /* requests in flight that name it: it is not deleted meanwhile */
    /* last state seen in a stream answer (for start positions) */
    uint64_t last_seq;
    uint64_t first_seq;
};

struct stan_stats {
    uint64_t in_msgs, in_bytes, out_msgs, out_bytes;
};

struct stan {
    struct shard *shard;
    char *cluster_id;
    bool memory;       /* -st MEMORY: nothing written */
    char *dir;         /* the streaming directory (FILE) */
    bool debug, trace;
    int64_t hb_interval_ns, hb_timeout_ns;
    int64_t hb_fail_count;
    int64_t max_channels, max_subs, max_msgs, max_bytes, max_age_ns, max_inactivity_ns;
    /* subjects */
    char *discover, *pings, *pub_prefix, *sub_subject, *unsub_subject, *subclose_subject,
        *close_subject, *reply_prefix, *dlv_prefix;
    struct service_sub *services[8];
    size_t service_count;
    struct service_sub *reply_sub;
    /* tables (small: linear where cold, hashed where hot) */
    struct stan_client **clients; /* [client_count], each knows its index */
    size_t client_count, client_capacity;
    struct stan_map clients_by_id;
    struct stan_map clients_by_conn;
    struct stan_channel **channels;
    size_t channel_count, channel_capacity;
    struct stan_request **requests; /* open addressing by id */
    uint32_t request_capacity;
    uint32_t request_count;
    uint64_t next_request_id;
    uint64_t next_group_id;
    uint64_t next_member_id;
    uint64_t random_state;
    struct stan_stats stats;
    int64_t start_ns;
    bool stopping;
};

/* ---- stan.c: sending, internal requests, names ---- */

/* Makes room for one more element in the array at *items (count in use, *capacity
 * allocated; from `initial`, then doubling). 0 or -ENOMEM (the array is unchanged). */
int stan_array_reserve(void *items, size_t *capacity, size_t count, size_t element_size,
                       size_t initial);
void *stan_map_get(const struct stan_map *map, const void *key, size_t length);
int stan_map_put(struct stan_map *map, const void *key, size_t length, void *value);
void stan_map_remove(struct stan_map *map, const void *key, size_t length);
void stan_map_free(struct stan_map *map);

/* Publishes a packed protobuf message (or any bytes) to `subject`, no reply. */
void stan_send(struct stan *stan, const char *subject, const void *data, size_t length,
               const char *reply);
/* Packs a protobuf-c message and sends it. */
void stan_send_pb(struct stan *stan, const char *subject, const void *message);
/* Sends `data` to `subject` with an internal reply inbox; `fn` runs with the answer or
 * with NULL after `timeout_ns`. 0 or -ENOMEM / -EBUSY (fn never runs then). */
int stan_request(struct stan *stan, const char *subject, const void *data, size_t length,
                 int64_t timeout_ns, stan_reply_fn *fn, void *context, uint64_t *id);
/* The same with a header block: the first `header_length` bytes of `data`. */
int stan_request_headed(struct stan *stan, const char *subject, const void *data, size_t length,
                        size_t header_length, int64_t timeout_ns, stan_reply_fn *fn,
                        void *context, uint64_t *id);
/* The header that keeps a PubMsg's reply subject with the stored message. */
#define STAN_REPLY_HEADER "Stan-Reply"
/* Forgets a request: its fn never runs. */
void stan_request_cancel(struct stan *stan, uint64_t id);
/* A random token of `length` letters and digits, NUL-terminated (buffer length+1). */
void stan_token(struct stan *stan, char *out, size_t length);
/* Heap "a.b..." from printf arguments, NULL when memory ran out. */
char *stan_format(const char *format, ...) __attribute__((format(printf, 1, 2)));
char *stan_strdup(const char *text);
/* A JetStream API answer's error: its description in *description (borrowed from `root`'s
 * copy; the caller frees with stan_api_error_free) and err_code; false when no error. */
bool stan_api_error(const struct route_msg *reply, int *err_code, char *description,
                    size_t description_size);
/* A valid channel name: a subject without wildcards, not starting or ending with '.', no
 * empty token, no '/'. */
bool stan_channel_name_valid(const char *name);
void stan_log_debug(const struct stan *stan, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- stan_client.c ---- */
void stan_on_connect(struct shard *shard, void *context, const struct route_msg *msg);
void stan_on_ping(struct shard *shard, void *context, const struct route_msg *msg);
void stan_on_close(struct shard *shard, void *context, const struct route_msg *msg);
struct stan_client *stan_client_find(struct stan *stan, const char *id);
struct stan_client *stan_client_find_conn(struct stan *stan, const uint8_t *conn_id,
                                          size_t length);
/* Registers a client (from a connect or the records at start); NULL when memory ran out. */
struct stan_client *stan_client_add(struct stan *stan, const char *id, const char *hb_inbox,
                                    const uint8_t *conn_id, size_t conn_id_length,
                                    int32_t protocol, int32_t ping_interval,
                                    int32_t ping_max_out);
/* Closes a client: its plain subscriptions end, durables go offline. */
void stan_client_close(struct stan *stan, struct stan_client *client, const char *why);
int stan_client_member_add(struct stan_client *client, struct stan_member *member);
void stan_client_member_remove(struct stan_client *client, struct stan_member *member);
void stan_clients_free(struct stan *stan);

/* ---- stan_channel.c ---- */
void stan_on_publish(struct shard *shard, void *context, const struct route_msg *msg);
struct stan_channel *stan_channel_find(struct stan *stan, const char *name);
/* Finds or makes a channel (its stream is made asynchronously). NULL with *error set to the
 * PubAck/subscription error text when refused. */
struct stan_channel *stan_channel_get(struct stan *stan, const char *name, const char **error);
/* Runs `fn(stan, context, error)` once the channel's stream exists (error NULL) or could not
 * be made (the error text). 0 or -ENOMEM. */
typedef void stan_ready_fn(struct stan *stan, void *context, const char *error);
int stan_channel_when_ready(struct stan *stan, struct stan_channel *channel, stan_ready_fn *fn,
                            void *context);
void stan_channels_free(struct stan *stan);
/* Deletes the channels idle for --max_inactivity (their streams and records). */
void stan_channels_expire(struct stan *stan, int64_t now_ns);

/* ---- stan_sub.c ---- */
void stan_on_subscribe(struct shard *shard, void *context, const struct route_msg *msg);
void stan_on_unsubscribe(struct shard *shard, void *context, const struct route_msg *msg);
void stan_on_subclose(struct shard *shard, void *context, const struct route_msg *msg);
/* A member leaves its group: `unsubscribe` ends a durable too; otherwise a durable group
 * keeps its state offline. */
void stan_member_leave(struct stan *stan, struct stan_member *member, bool unsubscribe);
void stan_group_free(struct stan *stan, struct stan_group *group);
/* Ends the plain (non-durable) subscriptions left without members (after a start). */
void stan_groups_sweep(struct stan *stan);
/* Subscribes the services of a loaded group / member (at start). */
int stan_group_activate(struct stan *stan, struct stan_group *group);
int stan_member_activate(struct stan *stan, struct stan_member *member);

/* ---- stan_deliver.c ---- */
void stan_on_delivery(struct shard *shard, void *context, const struct route_msg *msg);
void stan_on_ack(struct shard *shard, void *context, const struct route_msg *msg);
/* Hands the member's unacked messages back to the consumer for redelivery at once. */
void stan_member_return_inflight(struct stan *stan, struct stan_member *member);
/* Delivers what the group's backlog holds while members have room. */
void stan_group_backlog_drain(struct stan *stan, struct stan_group *group);
void stan_group_backlog_free(struct stan_group *group);
void stan_inflight_free(struct stan_inflight *inflight);
/* Acks `seq` on the group's consumer without its delivery's reply subject. */
bool stan_group_ack_unknown(struct stan *stan, struct stan_group *group, uint64_t seq);
/* After a restart (group->inflight_unknown): has the consumer queue for redelivery what it
 * holds unacked, then takes the group's deliveries (if it has members), so that those come
 * first, as nats-streaming-server resends a durable's pending messages when it comes back.
 * While the gateway knows what each member holds, a leaving member hands its messages
 * back itself (stan_member_return_inflight) and this is not needed. */
void stan_group_redeliver_pending(struct stan *stan, struct stan_group *group);

/* ---- stan_persist.c ---- */
int stan_persist_open(struct stan *stan);
int stan_persist_load(struct stan *stan);
int stan_persist_client(struct stan *stan, const struct stan_client *client);
void stan_persist_client_remove(struct stan *stan, const char *id);
int stan_persist_channel(struct stan *stan, const struct stan_channel *channel);
void stan_persist_channel_remove(struct stan *stan, const struct stan_channel *channel);
int stan_persist_group(struct stan *stan, const struct stan_group *group);
void stan_persist_group_remove(struct stan *stan, const struct stan_group *group);
int stan_persist_member(struct stan *stan, const struct stan_member *member);
void stan_persist_member_remove(struct stan *stan, const struct stan_member *member);

/* ---- stan_sub.c: groups and members tables ---- */
struct stan_group *stan_group_new(struct stan *stan, struct stan_channel *channel, uint64_t id);
struct stan_member *stan_member_new(struct stan *stan, struct stan_group *group,
                                    struct stan_client *client, uint64_t id);

#endif
