/* JetStream consumers inside the broker, private to engine/js*.c: a consumer at run time,
 * its delivery state, pull requests, and the calls the consumer files make into each other.
 *
 * The one idea: a consumer lives beside its stream, on the stream's owner shard, so every
 * read of the store, every delivery and every ack is local to one thread. A consumer is a
 * cursor over the stream (the next sequence to look at) plus the messages delivered and not
 * yet acknowledged, kept in a ring sorted by stream sequence (new deliveries go in stream
 * order; an ack marks its entry and the ring's head advances past acked entries, which is
 * the ack floor). Its own subscriptions on the owner take its acks ($JS.ACK.<stream>.
 * <consumer>.>) and, for pull consumers, its requests ($JS.API.CONSUMER.MSG.NEXT.<stream>.
 * <consumer>), so neither passes through the meta shard. Deliveries are published into
 * routing on the deliver subject (push) or the request's inbox (pull), showing the
 * message's own subject as nats-server's do (route_msg.shown), and only messages the store
 * reported durable are delivered: a consumer never sees a message a crash could take back.
 *
 * Work is driven from three places: the stream's commits (new messages), the consumer's
 * timer (ack waits, request expiry, heartbeats, inactivity, waiting for a push consumer's
 * interest to appear), and requests and acks; each only marks the consumer awake, and the
 * module's end of turn delivers, bounded per turn, so a consumer with much to send cannot
 * hold its shard. Owner shard's thread only. */
#ifndef IONATS_ENGINE_JS_CONSUMER_H
#define IONATS_ENGINE_JS_CONSUMER_H

#include "base/timer.h"
#include "engine/js_internal.h"
#include "proto/js_consumer_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stream_store_counts;
struct stream_store_msg;

/* Deliveries one consumer makes in one turn at most, and all of a shard's together. */
enum { JS_CONSUMER_TURN_BUDGET = 256, JS_CONSUMERS_TURN_BUDGET = 4096 };
/* Stream messages one consumer looks at (filter misses included) in one turn at most. */
enum { JS_CONSUMER_SCAN_BUDGET = 16384 };
/* Consumers per stream, whatever max_consumers says (each has subscriptions and a timer). */
enum { JS_CONSUMERS_PER_STREAM_MAX = 10000 };
/* Pull requests one consumer keeps waiting at most, whatever max_waiting says. */
enum { JS_CONSUMER_WAITING_MAX = 1 << 16 };
/* Unacknowledged messages one consumer holds at most (max_ack_pending -1 means this). */
enum { JS_CONSUMER_PENDING_MAX = 1 << 22 };
/* While a push consumer has work and no subscriber, how often it looks for one. */
#define JS_CONSUMER_INTEREST_POLL_NS ((int64_t)20 * 1000 * 1000)
/* Timers of a consumer are coalesced to this granularity. */
#define JS_CONSUMER_TIMER_SLACK_NS ((int64_t)2 * 1000 * 1000)

/* A message delivered and not yet acknowledged (or acked, until the ring's head passes). */
struct js_consumer_pending {
    uint64_t sseq;
    uint64_t dseq;        /* consumer sequence of its latest delivery */
    int64_t deadline_ns;  /* monotonic: redelivered once reached */
    int64_t delivered_ns; /* wall clock of its latest delivery */
    uint32_t deliveries;
    bool acked;           /* acked, terminated or past max_deliver: no longer pending */
    bool queued;          /* in the redelivery queue */
};

/* A pinned client's id: nats-server's nuid, 22 characters of [0-9A-Za-z]. */
enum { JS_CONSUMER_PIN_ID_LENGTH = 22 };
/* A request's group and pin id are kept to one character past the longest that can match
 * (a group name has 16 at most, a pin 22): a longer one is kept cut there and never
 * matches, so a request costs the same memory whatever it sends. */
enum { JS_PULL_GROUP_SIZE = 16 + 2, JS_PULL_PIN_ID_SIZE = JS_CONSUMER_PIN_ID_LENGTH + 2 };
/* The priority a request without priority-group fields (not JSON) has under the
 * prioritized policy: after every request that gave one (nats-server's math.MaxInt32). */
enum { JS_PULL_PRIORITY_NONE = 0x7fffffff };

/* A pull request's priority-group fields (nats-server's PriorityGroup), as read. */
struct js_pull_priority {
    char group[JS_PULL_GROUP_SIZE];    /* NUL-terminated; "" none */
    char pin_id[JS_PULL_PIN_ID_SIZE];  /* "id": the pin it presents; "" none */
    int64_t min_pending;               /* overflow: served once this many are pending */
    int64_t min_ack_pending;           /* overflow: or once this many await their ack */
    int64_t priority;                  /* prioritized: 0 first .. 9 last */
    bool present;                      /* a JSON request (nats-server's priorityGroup != nil) */
};

/* A pull request waiting for messages (CONSUMER.MSG.NEXT). */
struct js_pull_request {
    char *reply;            /* owned, NUL-terminated */
    uint32_t reply_length;
    int64_t batch;          /* messages still to send */
    int64_t max_bytes;      /* bytes still allowed, 0: no limit */
    int64_t expires_ns;     /* monotonic deadline, 0: none */
    int64_t heartbeat_ns;   /* interval, 0: none */
    int64_t heartbeat_at;   /* monotonic: the next heartbeat */
    int64_t sent;           /* messages sent for it so far */
    struct js_pull_priority priority;
    bool no_wait;
};

struct js_consumer {
    struct js_stream *stream;       /* borrowed: its stream */
    struct js_consumer_config config; /* owned, checked */
    char *name;                     /* owned */
    int64_t created_ns;             /* wall clock */
    char *dir;                      /* owned: <stream dir>/obs/<name>; NULL in memory */
    struct service_sub *ack_sub;    /* $JS.ACK.<stream>.<name>.> */
    struct service_sub *next_sub;   /* $JS.API.CONSUMER.MSG.NEXT.<stream>.<name> */
    struct service_sub *flow_sub;   /* push with flow_control: $JS.FC.<stream>.<name>.* */
    struct timer_entry timer;
    int64_t timer_at;               /* monotonic, 0 when not armed */

    uint64_t next_sseq;             /* the next stream sequence to look at */
    uint64_t dseq;                  /* the last consumer sequence given */
    uint64_t delivered_sseq;        /* stream sequence of the last delivery */
    int64_t delivered_ns;           /* wall clock of the last delivery, 0: none */
    uint64_t ack_floor_dseq;
    uint64_t ack_floor_sseq;
    int64_t ack_floor_ns;           /* wall clock of the last ack that moved the floor */

    struct js_consumer_pending *pending; /* owned ring, sorted by sseq */
    uint32_t pending_head;
    uint32_t pending_length;        /* entries in the ring, acked ones included */
    uint32_t pending_capacity;      /* a power of two */
    uint32_t pending_count;         /* entries not acked */
    uint32_t redelivered_count;     /* entries not acked delivered more than once */

    uint64_t *redeliver;            /* owned FIFO ring of stream sequences */
    uint32_t redeliver_head;
    uint32_t redeliver_count;
    uint32_t redeliver_capacity;

    struct js_pull_request *requests; /* owned FIFO ring */
    uint32_t request_head;
    uint32_t request_count;
    uint32_t request_capacity;

    /* many filters: an index of them, so matching a message costs a lookup, not a
     * comparison per filter (NULL: few, compared one by one) */
    struct sublist *filter_index;
    struct sub *filter_subs;        /* owned array: the index's entries */

    /* deliver_policy last_per_subject: the last message of each subject at creation, in
     * order, delivered first; then delivery goes on from lps_resume. */
    uint64_t *lps;                  /* owned */
    size_t lps_count;
    size_t lps_index;               /* the next one to deliver */
    uint64_t lps_resume;

    uint64_t num_pending;           /* messages after next_sseq that match, when valid */
    uint64_t removed_seen;          /* the store's removed_count when num_pending was right */
    bool num_pending_valid;

    /* The earliest ack deadline of the pending messages, or earlier (never later): the
     * timer scans them only once it is reached. 0: none. */
    int64_t pending_due;
    int64_t last_active_ns;         /* monotonic: a request, an ack, or interest seen */
    int64_t heartbeat_at;           /* push with idle_heartbeat: monotonic, the next one */
    /* flow control (js_consumer_flow.c) */
    int64_t flow_bytes;             /* sent and not yet covered by an answer */
    int64_t flow_window;            /* 0 until the first delivery */
    int64_t flow_asked_bytes;       /* flow_bytes when the request waiting went out */
    uint64_t flow_request;          /* the last request's number */
    bool flow_waiting;              /* a request is out, not answered */
    /* pinned_client (js_consumer_priority.c): the pinned client, in memory only (as
     * nats-server's, a restart pins afresh) */
    char pin_id[JS_CONSUMER_PIN_ID_LENGTH + 1]; /* "" while none is pinned */
    char pin_group[JS_PULL_GROUP_SIZE];  /* the group it was pinned for */
    int64_t pin_ns;                 /* wall clock of the pin, 0: none */
    int64_t pin_deadline_ns;        /* monotonic: priority_timeout runs out, 0: none */
    /* replay_policy original and rate_limit_bps (js_consumer_pace.c) */
    uint64_t replay_last_sseq;      /* the stream's last message when delivery began */
    int64_t replay_last_ts_ns;      /* stored time of the last message delivered, 0: none */
    uint64_t pace_sseq;             /* the message held until pace_at, 0: none */
    int64_t pace_at;                /* monotonic: when pace_sseq's replay gap has passed */
    int64_t rate_full_at;           /* monotonic: when the rate's bucket is full again */
    int64_t rate_spent_bytes;       /* under 8 bits/s (no refill): bytes sent so far */
    bool replaying;                 /* original: still before the end seen at the start */
    bool pace_held;                 /* this turn's delivery stopped to hold a message */
    bool push_bound;                /* push: a subscriber was there at the last look */
    bool awake;                     /* in the stream's wake list */
    bool deleted;

    /* durable state (js_consumer_store.c): durable consumers of file streams only */
    int state_fds[2];               /* state.0, state.1; -1 when closed */
    uint64_t state_generation;      /* the last snapshot handed to a write */
    uint64_t state_durable;         /* the last snapshot as durable as --sync makes it */
    struct js_consumer_io *state_io; /* the snapshot in flight, or NULL */
    struct js_consumer_held *held;  /* owned FIFO ring: AckSync answers waiting */
    uint32_t held_head;
    uint32_t held_count;
    uint32_t held_capacity;
    bool state_dirty;               /* changed since the last snapshot */
    bool state_failed;              /* a snapshot's write failed: no more are written */
    bool state_listed;              /* in js->dirty */
};

/* An AckSync answer waiting for the snapshot of `generation` to be durable. */
struct js_consumer_held {
    char *reply; /* owned */
    uint64_t generation;
};

/* ---- js_consumer.c: life ---- */

/* Creates a consumer from a checked config (taken over: `config` is left empty) named
 * `name`, on `stream`; saves it when the stream is on disk; subscribes. 0, or -errno with
 * `error` set. */
int js_consumer_create(struct js_stream *stream, struct js_consumer_config *config,
                       const char *name, struct js_consumer **out, struct js_error *error);

/* Loads the consumers saved under the stream's directory (at start). */
int js_consumers_load(struct js_stream *stream);

/* Deletes a consumer: its pull requests are answered 409, its files removed, freed. */
void js_consumer_delete(struct js_consumer *consumer);

/* Frees a consumer, saving its state first when `save` (a stop). */
void js_consumer_free(struct js_consumer *consumer, bool save);

/* The stream's consumer named `name`, or NULL. */
struct js_consumer *js_consumer_find(struct js_stream *stream, const char *name, size_t length);

/* True when the consumer takes messages on the literal `subject` (its filters, or all). */
bool js_consumer_matches(struct js_consumer *consumer, const char *subject, size_t length);

/* (Re)builds the filters' index after the config changed. 0 or -ENOMEM (then the filters
 * are compared one by one). */
int js_consumer_filters_index(struct js_consumer *consumer);

/* The stream was purged: each consumer lets go of the pending messages that are gone and
 * moves its cursor, delivered and ack floor up to the stream's new first message, as
 * nats-server's consumers do. */
void js_consumers_purged(struct js_stream *stream);

/* While the consumer is paused (config pause_until in the future): the wall-clock ns it
 * resumes at; 0 when it is not paused. */
int64_t js_consumer_paused_until(const struct js_consumer *consumer);

/* Marks the consumer to deliver at the end of this turn. */
void js_consumer_wake(struct js_consumer *consumer);

/* A pending message's ack deadline is now `deadline`: the timer looks at it then. */
static inline void js_consumer_due_note(struct js_consumer *consumer, int64_t deadline)
{
    if (consumer->pending_due == 0 || deadline < consumer->pending_due) {
        consumer->pending_due = deadline;
    }
}

/* Arms the consumer's timer for `at` (monotonic) unless it fires sooner already. */
void js_consumer_timer_at(struct js_consumer *consumer, int64_t at);

/* Applies a checked update of its config (taken over on success). */
int js_consumer_update(struct js_consumer *consumer, struct js_consumer_config *config,
                       struct js_error *error);

/* ---- js_consumer_store.c: durable state ---- */

/* Opens (creating) the consumer's two state files in its directory, emptied when `fresh`
 * (a new consumer). 0 or -errno. */
int js_consumer_store_open(struct js_consumer *consumer, bool fresh);

/* Restores the newest valid snapshot, if any (at start). 0, or -errno / -EBADMSG. */
int js_consumer_store_load(struct js_consumer *consumer);

/* The consumer's state changed: a snapshot is written at the end of the turn. */
void js_consumer_mark_dirty(struct js_consumer *consumer);

/* End of turn: hands a snapshot of every changed consumer with none in flight to the I/O. */
void js_consumers_store_flush(struct js *js);

/* Answers an ack sent as a request: at once, or once a snapshot holding it is durable. */
void js_consumer_ack_answer(struct js_consumer *consumer, const struct route_msg *msg);

/* Writes a snapshot synchronously (a stop), unless one is in flight. 0 or -errno. */
int js_consumer_store_save_now(struct js_consumer *consumer);

/* Lets go of the files (a snapshot in flight closes them when done) and the held answers. */
void js_consumer_store_close(struct js_consumer *consumer);

/* ---- js_consumer_deliver.c: delivery ---- */

/* Delivers what the consumer can now, at most JS_CONSUMER_TURN_BUDGET messages and what is
 * left of the shard's `*turn_budget` (which it lowers); true when it stopped for a budget
 * (more to do next turn). */
bool js_consumer_deliver(struct js_consumer *consumer, int *turn_budget);

/* Messages after the cursor that the consumer would deliver (exact; recounted when the
 * stream removed messages since the last count). */
/* num_pending made again from the stream's counts (js_consumer_count.c). */
uint64_t js_consumer_recount(struct js_consumer *consumer,
                             const struct stream_store_counts *counts);

uint64_t js_consumer_num_pending(struct js_consumer *consumer);

/* The store removed message `seq` on `subject` (NULL: unknown): each consumer whose count
 * of what is left holds it takes it off (called from inside the store: touches no store). */
void js_consumers_removed(struct js_stream *stream, uint64_t seq, const char *subject,
                          size_t length);

/* A new message was committed on `subject`: counts it when it matches. */
void js_consumer_message_added(struct js_consumer *consumer, const char *subject,
                               size_t length);

/* The timer fired: redeliveries due, expired requests, heartbeats, inactivity. False when
 * the consumer was deleted for inactivity (it is gone). */
bool js_consumer_timer_fired(struct js_consumer *consumer, int64_t now_ns);

/* The pending entry of `sseq`, or NULL. */
struct js_consumer_pending *js_consumer_pending_find(struct js_consumer *consumer,
                                                     uint64_t sseq);

/* An entry is no longer pending (acked, terminated, or past max_deliver): the ack floor
 * moves past it when it was the first. `acked`: by the client (an ack or a TERM), which
 * under interest or workqueue retention may remove the message from the stream. */
void js_consumer_pending_done(struct js_consumer *consumer, struct js_consumer_pending *entry,
                              bool acked);

/* Interest and workqueue retention: the message `sseq` was acknowledged (or, without acks,
 * delivered) by `consumer`; removes it from the stream once no consumer still needs it. */
void js_consumer_retention_acked(struct js_consumer *consumer, uint64_t sseq);

/* Interest retention: `leaving` is being deleted; removes the messages after its ack floor
 * that no other consumer still needs (nats-server's cleanup of messages without interest). */
void js_consumer_retention_released(struct js_consumer *leaving);

/* Interest retention: removes `sseq` (just stored on `subject`) when no consumer's filter
 * takes it. */
void js_consumer_retention_stored(struct js_stream *stream, uint64_t sseq, const char *subject,
                                  size_t length);

/* Queues `sseq` for redelivery (a NAK, an expired ack wait). */
void js_consumer_redeliver_queue(struct js_consumer *consumer,
                                 struct js_consumer_pending *entry);

/* The deadline of an entry delivered `deliveries` times, from now (ack_wait or backoff). */
int64_t js_consumer_ack_deadline(const struct js_consumer *consumer, uint32_t deliveries,
                                 int64_t now_ns);

/* ---- js_consumer_pace.c: replay_policy original and rate_limit_bps ---- */

/* Delivery begins (a consumer made or loaded): replay original holds each message back by
 * the time between it and the one before, until the consumer has passed the stream's last
 * message of now; the rate limit's bucket starts full. */
void js_consumer_pace_start(struct js_consumer *consumer);

/* rate_limit_bps changed (an update): the bucket is full again. */
void js_consumer_pace_rate_reset(struct js_consumer *consumer);

/* Whether `msg`, chosen to be delivered now, may go: true, and its time and bytes are
 * spent; false, and it is held (`pace_held`): the caller puts it back, and the consumer's
 * timer wakes it when it may go (never, under 8 bits/s with the bucket spent). */
bool js_consumer_pace_admit(struct js_consumer *consumer, const struct stream_store_msg *msg,
                            uint32_t deliveries);

/* Delivery stopped with nothing it may send now: replay original ends once the cursor is
 * past the last message the stream had when delivery began (not while one is held). */
void js_consumer_pace_stopped(struct js_consumer *consumer);

/* ---- js_consumer_pull.c: pull requests ---- */

/* $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>: a service handler. */
void js_consumer_next_handle(struct shard *shard, void *context, const struct route_msg *msg);

/* Sends a status to a pull request's inbox ("NATS/1.0 <code> <text>" and the pending
 * headers for 408 / 409). */
void js_consumer_request_status(struct js_consumer *consumer, const char *reply,
                                size_t reply_length, int code, const char *text,
                                bool pending_headers);

/* Ends the request at the head (answered or satisfied). */
void js_consumer_request_pop(struct js_consumer *consumer);

/* Answers and drops every waiting request with 409 `text` (a delete). */
void js_consumer_requests_end(struct js_consumer *consumer, const char *text);

/* Delivery found nothing more to send now: ends the no_wait requests at the head. */
void js_consumer_requests_caught_up(struct js_consumer *consumer);

/* Expires requests, sends their heartbeats; the next time anything is due, or 0. */
int64_t js_consumer_requests_tick(struct js_consumer *consumer, int64_t now_ns);

/* Go's name of a JSON value's kind in an unmarshal error ("string", "number", ...) for a
 * field that is `numeric` (then a number it could not take is named: "number 1.5"). */
void js_consumer_json_kind(const struct json_t *value, bool numeric, char *text, size_t size);

/* Queues a request at the tail (position `count`) or before the one at `index` (0: the
 * head). 0 or -ENOMEM. */
int js_consumer_request_insert(struct js_consumer *consumer, const struct js_pull_request *request,
                               uint32_t index);

/* The request `index` places after the head. */
static inline struct js_pull_request *js_consumer_request_at(struct js_consumer *consumer,
                                                             uint32_t index)
{
    return &consumer->requests[(consumer->request_head + index) % consumer->request_capacity];
}

/* ---- js_consumer_priority.c: priority groups ---- */

/* Whether a request's priority-group fields are accepted: 0, or the status `*code` with
 * its description `*text` (static) to answer it with, as nats-server's
 * processNextMsgRequest refuses them. A request presenting the pinned client's id renews
 * the pin's priority_timeout. */
int js_consumer_priority_admit(struct js_consumer *consumer, const struct js_pull_priority *fields,
                               int *code, const char **text);

/* Queues an admitted request: at the tail, or under the prioritized policy after every
 * request of the same or a lower priority. 0 or -ENOMEM. */
int js_consumer_priority_enqueue(struct js_consumer *consumer,
                                 const struct js_pull_request *request);

/* The request the next message goes to, at the head of the queue when not NULL, as
 * nats-server's nextWaiting chooses it for a message of `size` bytes (a redelivery when
 * `redelivery`): expired requests answered 408, the pin given or checked (423 to a stale
 * pin), overflow's min_pending / min_ack_pending, max_bytes (409), requests without
 * interest dropped. NULL: none may take it now (the message stays). */
struct js_pull_request *js_consumer_priority_pick(struct js_consumer *consumer, int64_t size,
                                                  bool redelivery, int64_t now_ns);

/* One message went to the request at the head: it leaves once its batch is done, else it
 * goes behind the others (of its priority, under prioritized), as nats-server's pop. */
void js_consumer_priority_served(struct js_consumer *consumer);

/* The Nats-Pin-Id header a pinned_client consumer adds to `header` (a message's block,
 * `header_length` bytes, 0: none) into `out`; its length, 0 when `size` is too small. */
size_t js_consumer_pin_header(const struct js_consumer *consumer, const char *header,
                              size_t header_length, char *out, size_t size);

/* Unpins the client whose priority_timeout ran out; the next deadline, or 0. */
int64_t js_consumer_priority_tick(struct js_consumer *consumer, int64_t now_ns);

/* Lets go of the pin (no advisory): a delete, a policy no longer pinned_client. */
void js_consumer_pin_clear(struct js_consumer *consumer);

/* Consumer info's "priority_groups" (its first group and the pin), when it has groups. */
void js_consumer_priority_info_json(const struct js_consumer *consumer, struct go_json *json);

/* ---- js_consumer_ack.c: acknowledgements ---- */

/* $JS.ACK.<stream>.<consumer>.>: a service handler. */
void js_consumer_ack_handle(struct shard *shard, void *context, const struct route_msg *msg);

/* ---- js_consumer_flow.c: push flow control ---- */

/* True while a flow-controlled push consumer has its window out: it delivers nothing. */
bool js_consumer_flow_stalled(const struct js_consumer *consumer);
/* `bytes` were delivered: asks for an answer once half the window is out. */
void js_consumer_flow_sent(struct js_consumer *consumer, int64_t bytes);
/* The reply subject of the last request ($JS.FC.<stream>.<consumer>.<n>); its length. */
int js_consumer_flow_reply(const struct js_consumer *consumer, char *text, size_t size);
/* $JS.FC.<stream>.<consumer>.*: a subscriber's answer (a service handler). */
void js_consumer_flow_handle(struct shard *shard, void *context, const struct route_msg *msg);

/* ---- js_consumer_events.c: advisories and the dead-letter subject ---- */

/* The dead-letter subject a config names (metadata ionats.dead_letter), or NULL. */
const char *js_consumer_dead_letter_subject(const struct js_consumer_config *config);
/* False when the config names a dead-letter subject that is not a literal subject one can
 * publish to (the create or update is refused). */
bool js_consumer_dead_letter_valid(const struct js_consumer_config *config);

/* PAUSE: paused until `until_ns` (wall clock), or resumed (0). */
void js_consumer_event_pause(struct js_consumer *consumer, int64_t until_ns);

/* PINNED: `group` pinned the client `consumer->pin_id`. */
void js_consumer_event_pinned(struct js_consumer *consumer, const char *group);
/* UNPINNED: `group` lost its pin, for `reason` ("admin": UNPIN, "timeout"). */
void js_consumer_event_unpinned(struct js_consumer *consumer, const char *group,
                                const char *reason);

/* CREATED or DELETED. */
void js_consumer_event_action(struct js_consumer *consumer, bool created);
void js_consumer_event_nak(struct js_consumer *consumer, const struct js_consumer_pending *entry);
/* MAX_DELIVERIES, and the message to the dead-letter subject (reason max_deliveries). */
void js_consumer_event_max_deliveries(struct js_consumer *consumer,
                                      const struct js_consumer_pending *entry);
/* MSG_TERMINATED, and the message to the dead-letter subject (reason terminated). */
void js_consumer_event_terminated(struct js_consumer *consumer,
                                  const struct js_consumer_pending *entry, const char *reason,
                                  size_t reason_length);

/* ---- js_consumer_api.c: the consumer API on the owner ---- */

/* Owner-side handlers (JS_OP_REQUEST); `name` is the request's subject after $JS.API. */
void js_consumer_api_create(struct js *js, const struct route_msg *msg, const char *name,
                            size_t name_length, const char *body, size_t body_length);
void js_consumer_api_info(struct js *js, const struct route_msg *msg, const char *name,
                          size_t name_length, const char *body, size_t body_length);
void js_consumer_api_delete(struct js *js, const struct route_msg *msg, const char *name,
                            size_t name_length, const char *body, size_t body_length);
void js_consumer_api_pause(struct js *js, const struct route_msg *msg, const char *name,
                           size_t name_length, const char *body, size_t body_length);
/* js_consumer_priority.c: CONSUMER.UNPIN.<stream>.<consumer> {"group":"..."}. */
void js_consumer_api_unpin(struct js *js, const struct route_msg *msg, const char *name,
                           size_t name_length, const char *body, size_t body_length);
void js_consumer_api_names(struct js *js, const struct route_msg *msg, const char *name,
                           size_t name_length, const char *body, size_t body_length);
void js_consumer_api_list(struct js *js, const struct route_msg *msg, const char *name,
                          size_t name_length, const char *body, size_t body_length);

/* The consumer a request's subject names (CONSUMER.<OP>.<stream>.<consumer>), or NULL
 * after replying the error (a reply of `type`). */
struct js_consumer *js_consumer_api_named(struct js *js, const struct route_msg *msg,
                                          const char *type, const char *name,
                                          size_t name_length);

/* The consumer info object's fields (without the type and braces); `config` false leaves
 * its config out, as /jsz does without config=1. */
void js_consumer_info_json(struct js_consumer *consumer, struct go_json *json, bool config);

#endif
