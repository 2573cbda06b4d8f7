/* What the NATS Streaming tests (tests/integration/test_stan*.c) share: a raw STAN client
 * (protoc-c's messages from proto/stan.proto over libnats requests), the broker it talks to
 * with streaming on a store directory of its own, and the checks of what subscriptions were
 * delivered. Names start with st_ (STAN test); the cluster id, subjects and the reference's
 * error texts are the macros below.
 *
 * The one idea: everything a test makes (the broker, its clients, their subscriptions) is
 * registered in the one static struct st, not left on the test's stack, so the checked
 * teardown can close and stop whatever a failed assertion left behind; the store directories
 * of a TCase live under one base directory that its unchecked fixture, run in the parent
 * process, creates and removes. Test thread only, except the libnats callbacks (heartbeat
 * answers, deliveries), which only record, under each subscription's lock. */
#ifndef IONATS_TESTS_INTEGRATION_TEST_STAN_H
#define IONATS_TESTS_INTEGRATION_TEST_STAN_H

#include "tests/integration/itest.h"

#include "proto/stan.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The cluster id every test serves. */
#define CID "stan-test"
#define SUBJ_DISCOVER "_STAN.discover." CID
#define SUBJ_PUB "_STAN.pub." CID
#define SUBJ_SUB "_STAN.sub." CID
#define SUBJ_UNSUB "_STAN.unsub." CID
#define SUBJ_SUBCLOSE "_STAN.subclose." CID
#define SUBJ_CLOSE "_STAN.close." CID
#define SUBJ_PINGS "_STAN.discover." CID ".pings"

/* The reference's texts (nats-streaming-server 0.25.6's, to the letter). */
#define ERR_CONNECT "stan: invalid connection request"
#define ERR_CLIENT_ID "stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed"
#define ERR_REGISTERED "stan: clientID already registered"
#define ERR_REPLACED "client has been replaced or is no longer registered"
#define ERR_PUB "stan: invalid publish request"
#define ERR_SUB_REQUEST "stan: invalid subscription request"
#define ERR_MISSING_CLIENT "stan: clientID missing"
#define ERR_ACK_WAIT "stan: invalid ack wait time, should be >= 1s"
#define ERR_MAX_INFLIGHT "stan: invalid MaxInflight, should be >= 1"
#define ERR_START "stan: invalid start position"
#define ERR_SUBJECT "stan: invalid subject"
#define ERR_UNKNOWN_CLIENT "stan: unknown clientID"
#define ERR_DURABLE_QUEUE                                                                          \
    "stan: durable name of a durable queue subscriber can't contain the character ':'"
#define ERR_DUP_DURABLE "stan: duplicate durable registration"
#define ERR_UNSUB_REQUEST "stan: invalid unsubscribe request"
#define ERR_UNKNOWN_CHANNEL "stan: unknown channel"
#define ERR_INVALID_SUB "stan: invalid subscription"
#define ERR_CLOSE_REQUEST "stan: invalid close request"
#define ERR_TOO_MANY_CHANNELS "too many channels"
#define ERR_TOO_MANY_SUBS "too many subscriptions per channel"

/* What must come: a reply, a delivery (the broker does it at once; generous for a loaded
 * machine). */
enum { ST_WAIT_MS = 5000 };
/* Where nothing may come: how long the test watches. */
enum { ST_QUIET_MS = 300 };
/* One test's run at most. */
enum { ST_TCASE_TIMEOUT_S = 60 };
/* Deliveries one subscription records. */
enum { ST_MSGS_MAX = 4096 };
/* The longest payload a delivery record keeps. */
enum { ST_DATA_MAX = 128 };
/* Clients and subscriptions one test makes at most. */
enum { ST_CLIENTS_MAX = 16, ST_SUBS_MAX = 48 };
/* An error text or subject kept from a reply. */
enum { ST_TEXT_MAX = 256 };

/* ---- the broker ---- */

struct st_client;
struct st_sub;

/* The running test's broker and what it made (freed by the teardown). */
struct st {
    char store_dir[128];
    const char *args[40];
    struct test_server_options options;
    struct test_server server; /* pid 0 while stopped */
    struct st_client *clients[ST_CLIENTS_MAX];
    struct st_sub *subs[ST_SUBS_MAX];
};

extern struct st st;

/* IONATS_TEST_SERVER=nats-streaming-server: the broker is the reference server. */
bool st_reference(void);

/* Starts the broker with streaming on `store` ("FILE" or "MEMORY") in a fresh directory,
 * with `extra` (NULL-terminated, the flags both servers spell the same way) after it. */
void st_start(const char *store, const char *const *extra);

/* Waits (ST_WAIT_MS) until streaming answers on the discover subject: the reference
 * server accepts NATS connections before its streaming part has subscribed. */
void st_wait_ready(void);

/* Kills the broker (SIGKILL), closes `client`'s connection (a client that died with it or
 * lost it), and starts the broker again on the same store. */
void st_kill_restart(struct st_client *client);

/* Adds a TCase `name` holding `test`, with the fixtures and the per-test timeout. */
void st_tcase_add(Suite *suite, const char *name, const TTest *test);

/* ---- protobuf on NATS ---- */

/* A request whose reply must come within ST_WAIT_MS; the caller destroys the reply. */
natsMsg *st_request_bytes(natsConnection *nc, const char *subject, const void *data,
                          size_t length);

/* Publishes `message` packed, without a reply subject. */
void st_publish_pb(natsConnection *nc, const char *subject, const ProtobufCMessage *message);

/* Copies `from` (NULL: "") into `to`, cut to `size`. */
void st_text_copy(char *to, size_t size, const char *from);

/* A protobuf payload that no decoder accepts: field 1 (length-delimited) claims 16 bytes
 * and 3 follow. */
extern const char st_malformed[6];
#define ST_MALFORMED_LENGTH (sizeof st_malformed - 1)

/* CLOCK_REALTIME in nanoseconds (what MsgProto.timestamp counts). */
int64_t st_realtime_ns(void);

/* ---- a STAN client ---- */

struct st_client {
    natsConnection *nc; /* its own NATS connection */
    char id[64];
    char conn_id[64];
    char hb_inbox[96];
    natsSubscription *hb_sub;
    atomic_bool answer;            /* answer heartbeats and probes */
    atomic_bool hb_odd;            /* a heartbeat came with a payload or no reply subject */
    struct itest_counter heartbeats; /* heartbeats (and probes) received */
};

/* A client with its own connection and heartbeat inbox, not connected to streaming yet;
 * `answer`: whether it answers heartbeats and probes. */
struct st_client *st_client_new(const char *id, bool answer);

/* Its NATS connection closed: it answers nothing any more (a client that died). */
void st_client_drop(struct st_client *client);

/* The ConnectRequest a node client sends: protocol 1, pings every 5 s, 3 out at most. */
Pb__ConnectRequest st_connect_request(const struct st_client *client);

/* Sends `data` to the discover subject on `nc`; the caller frees the response. */
Pb__ConnectResponse *st_connect_raw(natsConnection *nc, const void *data, size_t length);

/* Sends `request` on the client's connection; the caller frees the response. */
Pb__ConnectResponse *st_connect_request_send(struct st_client *client,
                                             const Pb__ConnectRequest *request);

/* Connects `client` to streaming; the response's error text into `error` ("" when it
 * connected, then the subjects are checked). */
void st_connect_try(struct st_client *client, char *error, size_t size);

/* A connected client (the connect must succeed). */
struct st_client *st_client_open(const char *id);

/* A Ping with `conn_id` (NULL: the client's own) must get the error `want` ("": none). */
void st_ping_expect(struct st_client *client, const char *conn_id, const char *want);

/* A CloseRequest for `id` (NULL: the client's) must get the error `want` ("": none). */
void st_close_expect(struct st_client *client, const char *id, const char *want);

/* ---- publish ---- */

/* Publishes `msg` on `nats_subject` and returns its PubAck (the caller frees it). */
Pb__PubAck *st_publish_raw(natsConnection *nc, const char *nats_subject, const Pb__PubMsg *msg);

/* Publishes `data` to `channel` as a node client does (client id, conn id, a fresh guid);
 * the PubAck's error into `error` ("" when stored). The guid must come back. */
void st_publish_try(struct st_client *client, const char *channel, const void *data,
                    size_t length, char *error, size_t size);

/* A publish that must be stored. */
void st_publish(struct st_client *client, const char *channel, const char *text);

/* Publishes "m<i>" for i in [first, first + count). */
void st_publish_n(struct st_client *client, const char *channel, int first, int count);

/* ---- subscriptions ---- */

struct st_delivery {
    uint64_t seq;
    char subject[64];
    char reply[64];
    uint8_t data[ST_DATA_MAX];
    size_t length;
    int64_t timestamp;
    bool redelivered;
    uint32_t redelivery_count;
    int64_t at_ms; /* when it arrived (monotonic) */
};

struct st_sub {
    struct st_client *client;
    char channel[ST_TEXT_MAX];
    char inbox[96];
    char ack_inbox[ST_TEXT_MAX];
    natsSubscription *sub;
    bool manual; /* auto-ack off */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct st_delivery msgs[ST_MSGS_MAX];
    size_t count;
    bool undecodable; /* a delivery that was not a MsgProto */
};

/* Start options; zero is the node client's default where it has one. */
struct st_sub_options {
    const char *queue;
    const char *durable;
    int start;         /* PB__START_POSITION__*; 0 new only */
    uint64_t start_seq;
    int64_t delta_ns;
    int32_t max_inflight; /* 0: 1024 */
    int32_t ack_wait;     /* 0: 30 s */
    bool manual;
};

/* A subscription's inbox, listened to on the client's connection; not requested yet. */
struct st_sub *st_sub_new(struct st_client *client, const char *channel, bool manual);

/* Sends a SubscriptionRequest on `nc`; the error into `error`, the ack inbox into
 * `ack_inbox` (may be NULL). */
void st_sub_request_send(natsConnection *nc, const Pb__SubscriptionRequest *request,
                         char *error, size_t size, char *ack_inbox, size_t ack_size);

/* Subscribes `sub` with `o`; the error text into `error`. */
void st_subscribe_try(struct st_sub *sub, const struct st_sub_options *o, char *error,
                      size_t size);

/* A subscription that must succeed. */
struct st_sub *st_subscribe(struct st_client *client, const char *channel,
                            struct st_sub_options o);

/* A subscription that must fail with `want`. */
void st_subscribe_fails(struct st_client *client, const char *channel, struct st_sub_options o,
                        const char *want);

/* Waits until `sub` has recorded `count` deliveries or `timeout_ms` passes; returns how
 * many it has. */
size_t st_wait_count(struct st_sub *sub, size_t count, int timeout_ms);

/* How many deliveries `sub` has recorded. */
size_t st_count(struct st_sub *sub);

/* A copy of delivery `index`. */
struct st_delivery st_msg(struct st_sub *sub, size_t index);

/* "1@0,2@1,1r@1003" of the deliveries from `from` on, for failure messages: each
 * sequence, "r" when marked redelivered, and when it came (ms after the first listed). */
const char *st_seqs_text(struct st_sub *sub, size_t from);

/* Expects the sequences `seqs` (n of them) as the next deliveries from index `from`,
 * each redelivered as `redelivered` says; then, when `quiet`, nothing for ST_QUIET_MS. */
void st_expect_seqs_then(struct st_sub *sub, size_t from, const uint64_t *seqs, size_t n,
                         bool redelivered, bool quiet);

/* Exactly `seqs` from `from` on, and then nothing. */
void st_expect_seqs(struct st_sub *sub, size_t from, const uint64_t *seqs, size_t n,
                    bool redelivered);

/* Sequences first..last (inclusive) expected from index `from`. */
void st_expect_range(struct st_sub *sub, size_t from, uint64_t first, uint64_t last,
                     bool redelivered);

/* Nothing delivered after index `from` for ST_QUIET_MS. */
void st_expect_quiet(struct st_sub *sub, size_t from);

/* Acks `seq` on the subscription's ack inbox. */
void st_ack(struct st_sub *sub, uint64_t seq);

/* An UnsubscribeRequest (close: to the subclose subject) with the given fields; its error
 * text into `error`, and the response must otherwise be empty. */
void st_unsub_raw(natsConnection *nc, bool close, const char *client_id, const char *channel,
                  const char *inbox, char *error, size_t size);

/* Unsubscribes (or closes) `sub` as the node client does (inbox = its ack inbox); must
 * succeed. */
void st_unsubscribe(struct st_sub *sub, bool close);

/* The deliveries' sequences as a set: true when `seq` was delivered to `sub` (then a copy
 * of it into `out`, which may be NULL). */
bool st_delivered(struct st_sub *sub, uint64_t seq, struct st_delivery *out);

/* ---- the TCases of each file ---- */

/* test_stan.c: connect, ping, close, heartbeats. */
void st_connect_tcases_add(Suite *suite);
/* test_stan_pubsub.c: publish, channel names, subscribe, start positions, limits. */
void st_pubsub_tcases_add(Suite *suite);
/* test_stan_ack.c: acks, redelivery, max in flight, queue groups, durables, unsubscribe. */
void st_ack_tcases_add(Suite *suite);
/* test_stan_restart.c: restarts on the store, max inactivity, the JetStream view. */
void st_restart_tcases_add(Suite *suite);

#endif
