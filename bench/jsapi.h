/* The JetStream API as js-pub and js-consume need it, over the plain NATS protocol: is
 * JetStream there ($JS.API.INFO), create a stream afresh, count its messages, delete it;
 * create the consumer js-consume drains and read its state afterwards.
 *
 * The one idea: every call is one blocking request on a connection of its own, opened
 * before the measured run and again after it (an idle connection could be dropped by the
 * server's pings during a long run), with a bound on every wait. Replies are JSON; an
 * "error" object in one is the API's refusal and its description is what we print.
 * Used by the main thread only, never while the sides run. */
#ifndef IONATS_BENCH_JSAPI_H
#define IONATS_BENCH_JSAPI_H

#include "bench/bench.h"
#include "bench/scan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    JSAPI_ERROR_SIZE = 256,
    /* Consumer names the API may use in subjects (nats-server's ephemeral names are 8 to 22
     * characters). */
    JSAPI_NAME_SIZE_MAX = 64,
};

/* What a consumer reports after the run (CONSUMER.INFO). */
struct jsapi_consumer_state {
    uint64_t delivered;   /* delivered.stream_seq */
    uint64_t ack_floor;   /* ack_floor.stream_seq */
    uint64_t ack_pending; /* num_ack_pending */
    uint64_t pending;     /* num_pending */
};

struct jsapi {
    int fd;                              /* owned; -1 when closed */
    char inbox[BENCH_JS_INBOX_SIZE_MAX]; /* replies go to "<inbox>.<request number>" */
    uint64_t request_count;
    char *rx; /* owned: JSAPI_RX_SIZE bytes, [0, rx_used) not yet scanned */
    size_t rx_used;
    struct scan scan;
    struct scan_sink sink;
    /* The reply being waited for: copied out of rx by the scan. */
    char reply[SCAN_BODY_SIZE_MAX + 1];
    size_t reply_size;
    bool replied;
    bool ping_due;                /* the server PINGed: answer before waiting on */
    char error[JSAPI_ERROR_SIZE]; /* why the last call failed */
};

/* Connects to the server of `opts`. Returns 0 or -errno with api->error filled in. */
int jsapi_open(struct jsapi *api, const struct bench_opts *opts);
void jsapi_close(struct jsapi *api);

/* Asks $JS.API.INFO. Returns 0 when JetStream answers, -ENOTSUP when nobody answers in
 * time or the answer says JetStream is not enabled, other -errno on failure. */
int jsapi_probe(struct jsapi *api);

/* Deletes the stream of `opts` if it exists and creates it anew (so that every run starts
 * with an empty store), taking opts->subject. Returns 0 or -errno, with api->error
 * holding the server's description of a refusal. */
int jsapi_stream_create(struct jsapi *api, const struct bench_opts *opts);

/* The number of messages the stream holds, and of distinct subjects among them (-1 when
 * the server's state has no num_subjects). Returns 0 or -errno. */
int jsapi_stream_messages(struct jsapi *api, const struct bench_opts *opts, uint64_t *messages,
                          int64_t *subjects);

/* Deletes the stream. Returns 0 or -errno. */
int jsapi_stream_delete(struct jsapi *api, const struct bench_opts *opts);

/* Creates js-consume's consumer on the stream of `opts`, deliver policy all, replay
 * instant, ack policy opts->ack: with `durable`, a pull consumer of that name
 * (DURABLE.CREATE); else an ephemeral push consumer delivering to `deliver` as nats.go's
 * ordered consumer is configured (memory state, one replica, max_deliver 1, idle heartbeat
 * 5 s) but without flow control (CONSUMER.CREATE). Fills `name` (as the server named it)
 * and `config` (the config the server echoed, compact JSON, "" when it exceeds
 * config_size). Returns 0 or -errno. */
int jsapi_consumer_create(struct jsapi *api, const struct bench_opts *opts, const char *durable,
                          const char *deliver, char name[JSAPI_NAME_SIZE_MAX], char *config,
                          size_t config_size);

/* The state of consumer `name` of the stream of `opts`. Returns 0 or -errno. */
int jsapi_consumer_state(struct jsapi *api, const struct bench_opts *opts, const char *name,
                         struct jsapi_consumer_state *state);

#endif
