/* Shared vocabulary of ionats-bench: the run's options and the little state its two sides
 * exchange.
 *
 * A run has at most two sides, each one thread with one io_uring driving all of its
 * connections: the *send side* (publishers, or requesters) and the *receive side*
 * (subscribers, or repliers); with --blocking-subs the receive side is instead one thread
 * per subscriber connection on a blocking socket (blocksub.h). js-consume runs a send side
 * twice: js-pub's publishers fill the stream, then one consumer connection drains it. The
 * sides share nothing but `struct bench_shared`, a handful of atomics written once or twice
 * per run. Options are parsed and checked by the main thread before any side starts and are
 * read-only afterwards. */
#ifndef IONATS_BENCH_BENCH_H
#define IONATS_BENCH_BENCH_H

#include "bench/client.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bench_mode {
    BENCH_MODE_PUB,    /* N publishers, nobody listening */
    BENCH_MODE_SUB,    /* N subscribers counting what others publish */
    BENCH_MODE_PUBSUB, /* publishers → 1 subscriber */
    BENCH_MODE_FANOUT, /* publishers → N subscribers, each gets every message */
    BENCH_MODE_QUEUE,  /* publishers → a queue group of N, each message to one member */
    BENCH_MODE_REQREP, /* M closed-loop requesters → repliers (a queue group when > 1) */
    BENCH_MODE_JS_PUB, /* N publishers into a JetStream stream, a window of un-acked each */
    /* A stream filled (untimed) by js-pub's path, then drained by one consumer (timed). */
    BENCH_MODE_JS_CONSUME,
};

enum bench_consumer {
    BENCH_CONSUMER_PULL, /* durable, served by pipelined MSG.NEXT requests of --batch */
    BENCH_CONSUMER_PUSH, /* ephemeral, delivering to a subject of ours (ordered-style) */
};

enum bench_ack {
    BENCH_ACK_NONE,
    BENCH_ACK_EXPLICIT, /* every delivery acked with a plain publish of +ACK */
};

enum bench_storage {
    BENCH_STORAGE_FILE,
    BENCH_STORAGE_MEMORY,
};

enum {
    BENCH_SUBJECT_SIZE_MAX = 128,
    BENCH_URL_SIZE_MAX = 256,
    /* With --sub-url: how long the publishers wait after the subscribers' PONG. */
    BENCH_SUB_URL_SETTLE_NS = 500 * 1000 * 1000,
    BENCH_CONNS_MAX = 1024, /* per side: each costs a receive buffer of up to 256 KiB */
    /* Stream names go into API subjects and JSON unescaped: short and plain (see opts.c). */
    BENCH_STREAM_SIZE_MAX = 64,
    /* js-pub: a publisher's reply inbox with its slot number, and a whole publish frame
     * besides its payload: "PUB " subject " " inbox " " size CRLF payload CRLF. */
    BENCH_JS_INBOX_SIZE_MAX = 96,
    /* js-pub --subjects: at most 10^9 subjects, so a subject token is at most 9 digits,
     * appended to the subject with a '.'. */
    BENCH_JS_SUBJECTS_MAX = 1000000000,
    BENCH_JS_SUBJECT_DIGITS_MAX = 9,
    BENCH_JS_FRAME_OVERHEAD = 4 + BENCH_SUBJECT_SIZE_MAX + 1 + BENCH_JS_SUBJECT_DIGITS_MAX + 1 +
                              BENCH_JS_INBOX_SIZE_MAX + 1 + 10 + 4,
};

struct bench_opts {
    enum bench_mode mode;
    char url[BENCH_URL_SIZE_MAX];
    struct client_addr addr;
    /* --sub-url: where subscribers and repliers connect (another server of a topology,
     * e.g. across a leafnode link); empty: `url`. */
    char sub_url[BENCH_URL_SIZE_MAX];
    struct client_addr sub_addr;
    char subject[BENCH_SUBJECT_SIZE_MAX];
    uint32_t size;             /* payload bytes */
    uint64_t count;            /* messages (requests) to publish in total; 0: use duration */
    int64_t duration_ns;       /* with count == 0 */
    unsigned pubs;             /* publishers, or requesters */
    unsigned subs;             /* subscribers, or repliers */
    unsigned conns_per_client; /* connections each publisher / subscriber spreads over */
    double rate;               /* messages per second over all publishers; 0: flat out */
    bool blocking_subs;        /* subscribers as blocking threads, one per connection */
    size_t batch_bytes;        /* bytes of PUB frames per send when publishing flat out */
    int64_t timeout_ns;        /* hard bound on the whole run */
    bool json;
    long server_pid; /* --server-pid: whose CPU time to report; 0: nobody's */
    bool latency; /* derived: stamps in payloads (rate set), request round trips, or acks */
    /* js-pub only. */
    char stream[BENCH_STREAM_SIZE_MAX]; /* created before the run, deleted after it */
    enum bench_storage storage;
    uint32_t window; /* publishes in flight, not yet acked, per connection */
    /* 0 (--subjects not given): publish to `subject`, the stream takes `subject`. N: the
     * stream takes "<subject>.>" and a publisher's publish i goes to "<subject>.<i mod N>",
     * the number zero-padded to the digits of N - 1 (every frame one size). */
    uint32_t subjects;
    /* js-consume only (the stream and its filling take the js-pub options above). */
    enum bench_consumer consumer;
    enum bench_ack ack;
    uint32_t batch_count; /* pull: messages asked for by one MSG.NEXT request */
};

/* Written by one side, read by the other. Every store is a release that pairs with the
 * reader's acquire load of the same field; values are written before their flag. */
struct bench_shared {
    /* The send side's total, valid once send_done is set (release after the store). */
    _Atomic uint64_t sent_total;
    _Atomic bool send_done;
    /* Set by either side on failure or timeout: the other side stops at its next tick. */
    _Atomic bool abort;
};

/* Deliveries the receive side should expect for `sent` publishes. */
uint64_t bench_expected_deliveries(const struct bench_opts *opts, uint64_t sent);

/* The name of a mode as given on the command line. */
const char *bench_mode_name(enum bench_mode mode);

/* The name of a storage as given on the command line and in the stream's JSON. */
const char *bench_storage_name(enum bench_storage storage);

/* The names of a consumer kind and an ack policy, as given on the command line (the ack
 * policy's also as in the consumer's JSON). */
const char *bench_consumer_name(enum bench_consumer consumer);
const char *bench_ack_name(enum bench_ack ack);

#endif
