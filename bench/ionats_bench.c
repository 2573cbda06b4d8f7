/* ionats-bench: a NATS load generator over io_uring, for comparing brokers side by side.
 *
 * main owns the run: it parses the command line, opens and handshakes every connection
 * (blocking, before anything is measured), hands them to at most two sides — the receive
 * side (subscribers or repliers) first, so interest is live before the first publish —
 * starts one thread per side, joins them and prints the report. The one idea of the whole
 * tool is that it must cost the server's CPUs as little as possible, because on the
 * 2-vCPU machines it is meant for it shares them with the server it measures: publishing
 * is slices of a prebuilt batch of frames, one SQE per 256 KiB; receiving is one recv per
 * 256 KiB and a scan that only looks at control lines. See side.h, conn.h, pub.c.
 * --blocking-subs measures the opposite client: the same subscriptions, each on a thread of
 * its own reading a blocking socket (blocksub.h), as a simple application would.
 * js-pub adds a JetStream stream around the run (jsapi.h): created afresh before the
 * publishers connect, counted and deleted after they are done, on connections of its own.
 * js-consume runs js-pub's publishers first, untimed, to fill such a stream, creates a
 * consumer, and measures one connection draining it (jsconsume.h); afterwards the
 * consumer's state must show every message delivered (and acked, with explicit acks). */
#include "base/assert.h"
#include "bench/bench.h"
#include "bench/blocksub.h"
#include "bench/conn.h"
#include "bench/jsapi.h"
#include "bench/jsconsume.h"
#include "bench/jspub.h"
#include "bench/opts.h"
#include "bench/procstat.h"
#include "bench/pub.h"
#include "bench/report.h"
#include "bench/reqrep.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

enum {
    BENCH_EXIT_FAILED = 1,
    /* js-pub: the server does not answer $JS.API.INFO; scripts report "n/a", not a failure. */
    BENCH_EXIT_NO_JETSTREAM = 3,
    /* Timer slack in ns for paced runs: the default 50 us would shift every pacing wake-up. */
    BENCH_TIMER_SLACK_NS = 1,
    BENCH_SUBSCRIBE_SIZE_MAX = 4 + BENCH_SUBJECT_SIZE_MAX + 1 + 32 + 4 + 2,
    /* js-consume with explicit acks: the server may still be applying the last acks when
     * the PONG after them is back (nats-server queues them to the consumer's goroutine);
     * its state is read again every poll for at most this long before the run fails. */
    BENCH_ACK_SETTLE_MS = 3000,
    BENCH_ACK_POLL_NS = 20 * NS_PER_MS,
};

/* The SUB line a receive-side connection sends: queue groups where messages are to be
 * shared (queue mode, several repliers, a subscriber's several connections). */
static void bench_subscribe_line(const struct bench_opts *opts, unsigned conn_index, char *line,
                                 size_t line_size)
{
    unsigned conn_count = opts->subs * opts->conns_per_client;
    const char *subject = opts->subject;
    int size = 0;
    if (opts->mode == BENCH_MODE_QUEUE) {
        size = snprintf(line, line_size, "SUB %s bench_q 1\r\n", subject);
    } else if (opts->mode == BENCH_MODE_REQREP && conn_count > 1) {
        size = snprintf(line, line_size, "SUB %s bench_rep 1\r\n", subject);
    } else if (opts->conns_per_client > 1) {
        size = snprintf(line, line_size, "SUB %s bench_s%u 1\r\n", subject,
                        conn_index / opts->conns_per_client);
    } else {
        size = snprintf(line, line_size, "SUB %s 1\r\n", subject);
    }
    ASSERT(size > 0 && (size_t)size < line_size);
}

/* Connects and handshakes, subscribing with `subscribe`. Returns the socket, with what the
 * handshake read past its PONG in `hello`, or -errno after saying why. */
static int bench_connect(const struct bench_opts *opts, const char *subscribe, bool receiving,
                         struct client_hello *hello)
{
    /* sub mode: messages may precede the PONG; a consumer reads statuses in headers. */
    unsigned flags = (opts->mode != BENCH_MODE_SUB ? CLIENT_F_WAIT_PONG : 0) |
                     (opts->mode == BENCH_MODE_JS_CONSUME ? CLIENT_F_HEADERS : 0);
    bool far = receiving && opts->sub_url[0] != '\0';
    int fd = client_open(far ? &opts->sub_addr : &opts->addr, subscribe, flags, hello);
    if (fd < 0) {
        fprintf(stderr, "ionats-bench: %s: %s\n", far ? opts->sub_url : opts->url,
                hello->error);
        return fd;
    }
    if (hello->max_payload > 0 && opts->size > hello->max_payload) {
        fprintf(stderr, "ionats-bench: --size %u exceeds the server's max_payload %llu\n",
                (unsigned)opts->size, (unsigned long long)hello->max_payload);
        close(fd);
        return -EMSGSIZE;
    }
    return fd;
}

/* Opens connection `index` of `side` in `role`, subscribing with `subscribe`. */
static int bench_open(struct side *side, unsigned index, enum conn_role role, const char *subscribe)
{
    struct client_hello hello;
    bool receiving = role == CONN_ROLE_SUB || role == CONN_ROLE_REP;
    int fd = bench_connect(side->opts, subscribe, receiving, &hello);
    if (fd < 0) {
        return fd;
    }
    return conn_init(&side->conns[index], side, index, fd, role, hello.leftover,
                     hello.leftover_size);
}

/* Opens blocking subscriber `index`, subscribing with `subscribe`. */
static int bench_open_blocking(struct blocksub *blocksub, unsigned index, const char *subscribe)
{
    struct client_hello hello;
    int fd = bench_connect(blocksub->side->opts, subscribe, true, &hello);
    if (fd < 0) {
        return fd;
    }
    blocksub_open(blocksub, index, fd, hello.leftover, hello.leftover_size);
    return 0;
}

/* The receive side's connections, handed to `blocksub` instead when it is not NULL. */
static int bench_receive_side(struct side *side, const struct bench_opts *opts,
                              struct bench_shared *shared, struct blocksub *blocksub)
{
    unsigned conn_count = opts->subs * opts->conns_per_client;
    int rc = side_init(side, SIDE_KIND_RECEIVE, opts, shared, conn_count);
    if (rc == 0 && blocksub != NULL) {
        rc = blocksub_init(blocksub, side);
    }
    enum conn_role role = opts->mode == BENCH_MODE_REQREP ? CONN_ROLE_REP : CONN_ROLE_SUB;
    for (unsigned i = 0; i < conn_count && rc == 0; i++) {
        char line[BENCH_SUBSCRIBE_SIZE_MAX];
        bench_subscribe_line(opts, i, line, sizeof line);
        rc = blocksub != NULL ? bench_open_blocking(blocksub, i, line)
                              : bench_open(side, i, role, line);
    }
    return rc;
}

/* Connection `index` of `count` publishes this share of the total. */
static uint64_t bench_share(const struct bench_opts *opts, unsigned index, unsigned count)
{
    if (opts->count == 0) {
        return UINT64_MAX; /* until the duration ends */
    }
    return opts->count / count + (index < opts->count % count ? 1 : 0);
}

/* Opens sending connection `index` subscribed to its own inbox (`inbox_of`), followed by
 * `suffix` ("" for the inbox itself, ".*" for one subject per request under it). */
static int bench_open_inbox(struct side *side, unsigned index, enum conn_role role,
                            void (*inbox_of)(unsigned, char *, size_t), const char *suffix)
{
    STATIC_ASSERT((int)BENCH_JS_INBOX_SIZE_MAX == (int)REQREP_INBOX_SIZE_MAX,
                  "one inbox buffer fits both");
    char inbox[REQREP_INBOX_SIZE_MAX];
    char line[REQREP_INBOX_SIZE_MAX + BENCH_SUBSCRIBE_SIZE_MAX];
    inbox_of(index, inbox, sizeof inbox);
    snprintf(line, sizeof line, "SUB %s%s 1\r\n", inbox, suffix);
    return bench_open(side, index, role, line);
}

static int bench_send_conn(struct side *side, unsigned index)
{
    const struct bench_opts *opts = side->opts;
    uint64_t share = bench_share(opts, index, side->conn_count);
    if (opts->mode == BENCH_MODE_JS_PUB) {
        int rc = bench_open_inbox(side, index, CONN_ROLE_JS, jspub_inbox, ".*");
        return rc < 0 ? rc : jspub_setup(&side->conns[index], share);
    }
    if (opts->mode == BENCH_MODE_JS_CONSUME) {
        char line[JSCONSUME_SUBSCRIBE_SIZE_MAX];
        jsconsume_subscribe_line(opts, line, sizeof line);
        int rc = bench_open(side, index, CONN_ROLE_JSC, line);
        return rc < 0 ? rc : jsconsume_setup(&side->conns[index], share);
    }
    if (opts->mode == BENCH_MODE_REQREP) {
        int rc = bench_open_inbox(side, index, CONN_ROLE_REQ, reqrep_inbox, "");
        return rc < 0 ? rc : reqrep_setup(&side->conns[index], share);
    }
    int rc = bench_open(side, index, CONN_ROLE_PUB, "");
    if (rc == 0) {
        pub_setup(&side->conns[index], share, opts->rate / side->conn_count);
    }
    return rc;
}

static int bench_send_side(struct side *side, const struct bench_opts *opts,
                           struct bench_shared *shared)
{
    bool requesters = opts->mode == BENCH_MODE_REQREP;
    unsigned conn_count = requesters ? opts->pubs : opts->pubs * opts->conns_per_client;
    int rc = side_init(side, SIDE_KIND_SEND, opts, shared, conn_count);
    bool js = opts->mode == BENCH_MODE_JS_PUB || opts->mode == BENCH_MODE_JS_CONSUME;
    if (rc == 0 && !requesters && !js) {
        rc = pub_build_frames(side); /* js-pub publishers build their own window frames */
    }
    for (unsigned i = 0; i < conn_count && rc == 0; i++) {
        rc = bench_send_conn(side, i);
    }
    return rc;
}

/* Sets up, runs and joins the sides (the receive side's subscribers as blocking threads
 * when `blocksub` is not NULL); returns 0 when both finished cleanly. *started tells
 * whether the sides ran, so that there is something to report. */
static int bench_run(const struct bench_opts *opts, struct side *send, struct side *receive,
                     struct blocksub *blocksub, bool *started)
{
    static struct bench_shared shared; /* lives as long as the sides' threads */
    /* js-consume runs twice; no side thread runs now, and pthread_create orders these
     * stores before anything a new thread does. */
    atomic_store_explicit(&shared.sent_total, 0, memory_order_relaxed);
    atomic_store_explicit(&shared.send_done, false, memory_order_relaxed);
    atomic_store_explicit(&shared.abort, false, memory_order_relaxed);
    int rc = 0;
    if (receive != NULL) {
        rc = bench_receive_side(receive, opts, &shared, blocksub);
    }
    if (rc == 0 && receive != NULL && opts->sub_url[0] != '\0') {
        /* the subscriptions' interest crosses to the publishers' server (a leafnode link)
         * after the PONG that acknowledged them: give it time before the first publish */
        struct timespec settle = {.tv_nsec = BENCH_SUB_URL_SETTLE_NS};
        nanosleep(&settle, NULL);
    }
    if (rc == 0 && send != NULL) {
        rc = bench_send_side(send, opts, &shared);
    }
    if (rc < 0) {
        return rc;
    }
    if (receive != NULL) {
        rc = blocksub != NULL ? blocksub_start(blocksub) : side_start(receive);
    }
    if (rc < 0) {
        return rc;
    }
    *started = true;
    if (send != NULL && (rc = side_start(send)) < 0) {
        atomic_store_explicit(&shared.abort, true, memory_order_release); /* acquire: tick */
    }
    if (send != NULL && rc == 0) {
        side_join(send);
    }
    if (receive != NULL) {
        side_join(receive);
    }
    bool failed = (send != NULL && send->result.error != 0) ||
                  (receive != NULL && receive->result.error != 0);
    return rc < 0 ? rc : (failed ? -EIO : 0);
}

/* js-pub, before the run: JetStream must answer, and the stream is created afresh.
 * Returns 0, -ENOTSUP (no JetStream) or another -errno, after saying why. */
static int bench_js_prepare(const struct bench_opts *opts)
{
    static struct jsapi api; /* main thread only; large (a reply buffer) */
    int rc = jsapi_open(&api, opts);
    if (rc == 0) {
        rc = jsapi_probe(&api);
    }
    if (rc == 0) {
        rc = jsapi_stream_create(&api, opts);
    }
    if (rc == -ENOTSUP) {
        fprintf(stderr, "ionats-bench: %s has no JetStream: %s\n", opts->url, api.error);
    } else if (rc < 0) {
        fprintf(stderr, "ionats-bench: %s: %s\n", opts->url, api.error);
    }
    jsapi_close(&api);
    return rc;
}

/* js-pub, after the run: records how many messages the stream holds and deletes it, so
 * that runs do not pile up data on the server. Returns 0 or -errno, after saying why. */
static int bench_js_finish(const struct bench_opts *opts, struct side *send)
{
    static struct jsapi api;
    char why[JSAPI_ERROR_SIZE] = "";
    uint64_t stored = 0;
    int64_t stored_subjects = -1;
    int rc = jsapi_open(&api, opts);
    if (rc == 0) {
        rc = jsapi_stream_messages(&api, opts, &stored, &stored_subjects);
        if (rc == 0 && send != NULL) {
            send->result.stored = (int64_t)stored;
            send->result.stored_subjects = stored_subjects;
        }
        if (rc < 0) {
            snprintf(why, sizeof why, "%s", api.error); /* the delete's request clears it */
        }
        int delete_rc = jsapi_stream_delete(&api, opts); /* even when counting failed */
        rc = rc < 0 ? rc : delete_rc;
    }
    if (rc < 0 && why[0] == '\0') {
        snprintf(why, sizeof why, "%s", api.error);
    }
    if (rc < 0) {
        fprintf(stderr, "ionats-bench: stream %s after the run: %s\n", opts->stream, why);
    }
    if (rc < 0 && send != NULL && send->result.error == 0) {
        send->result.error = rc; /* the report says why the run failed */
        snprintf(send->result.error_text, sizeof send->result.error_text, "stream %s: %.160s",
                 opts->stream, why);
    }
    jsapi_close(&api);
    return rc;
}

/* js-pub: a finished run fails when the stream refused publishes or holds other than what
 * was acked. The sides have joined: main owns their results. */
static int bench_js_verify(struct side *send)
{
    struct side_result *result = &send->result;
    if (result->refused > 0) {
        result->error = -EREMOTEIO;
        snprintf(result->error_text, sizeof result->error_text,
                 "%llu of %llu publishes refused; the first: %.160s",
                 (unsigned long long)result->refused, (unsigned long long)result->published,
                 result->refused_text);
        return result->error;
    }
    if (result->stored != (int64_t)result->msgs) {
        result->error = -EIO;
        snprintf(result->error_text, sizeof result->error_text,
                 "the stream held %lld messages after the run, but %llu publishes were acked",
                 (long long)result->stored, (unsigned long long)result->msgs);
        return result->error;
    }
    return 0;
}

/* js-consume, before the measured run: fills the stream with opts->count messages through
 * js-pub's publishers (one, --window in flight; not measured) and creates the consumer.
 * Records both in `info`. Returns 0 or -errno, after saying why. */
static int bench_consume_prepare(const struct bench_opts *opts, struct side_consume *info)
{
    struct bench_opts fill = *opts;
    fill.mode = BENCH_MODE_JS_PUB;
    fill.latency = true; /* as js-pub's defaults make it: acks are timed */
    static struct side fill_side; /* large (histograms): not on the stack */
    bool started = false;
    int rc = bench_run(&fill, &fill_side, NULL, NULL, &started);
    const struct side_result *result = &fill_side.result;
    if (rc < 0) {
        fprintf(stderr, "ionats-bench: filling stream %s: %s\n", opts->stream,
                result->error_text[0] != '\0' ? result->error_text : strerror(-rc));
    } else if (result->refused > 0 || result->msgs != opts->count) {
        fprintf(stderr, "ionats-bench: filling stream %s: %llu of %llu publishes acked (%s)\n",
                opts->stream, (unsigned long long)result->msgs, (unsigned long long)opts->count,
                result->refused_text);
        rc = -EIO;
    }
    info->filled = result->msgs;
    info->fill_ns = result->end_ns - result->start_ns;
    side_destroy(&fill_side);
    if (rc < 0) {
        return rc;
    }
    static struct jsapi api;
    char deliver[JSCONSUME_SUBJECT_SIZE_MAX];
    jsconsume_deliver_subject(deliver, sizeof deliver);
    bool pull = opts->consumer == BENCH_CONSUMER_PULL;
    STATIC_ASSERT((int)JSAPI_NAME_SIZE_MAX == (int)SIDE_CONSUMER_NAME_SIZE, "names fit");
    rc = jsapi_open(&api, opts);
    if (rc == 0) {
        rc = jsapi_consumer_create(&api, opts, pull ? JSCONSUME_PULL_NAME : NULL,
                                   pull ? NULL : deliver, info->name, info->config,
                                   sizeof info->config);
    }
    if (rc < 0) {
        fprintf(stderr, "ionats-bench: %s: creating the consumer: %s\n", opts->url, api.error);
    }
    jsapi_close(&api);
    return rc;
}

/* True when the consumer's state shows the whole stream delivered and, with explicit acks,
 * acked. */
static bool bench_consume_settled(const struct bench_opts *opts,
                                  const struct jsapi_consumer_state *state)
{
    bool delivered = state->delivered == opts->count && state->pending == 0;
    bool acked = opts->ack == BENCH_ACK_NONE ||
                 (state->ack_floor == opts->count && state->ack_pending == 0);
    return delivered && acked;
}

/* js-consume, after a finished run: reads the consumer's state until it is settled (acks
 * may still be on their way through the server), for at most BENCH_ACK_SETTLE_MS, into
 * `info`. Returns 0, -EIO when it never settled, or another -errno; says why. */
static int bench_consume_check(const struct bench_opts *opts, struct side_consume *info)
{
    static struct jsapi api;
    struct jsapi_consumer_state state = {0};
    int rc = jsapi_open(&api, opts);
    int64_t deadline_ns = clock_monotonic_ns() + (int64_t)BENCH_ACK_SETTLE_MS * NS_PER_MS;
    /* Bounded by the deadline. */
    while (rc == 0 && (rc = jsapi_consumer_state(&api, opts, info->name, &state)) == 0 &&
           !bench_consume_settled(opts, &state) && clock_monotonic_ns() < deadline_ns) {
        struct timespec pause = {.tv_sec = 0, .tv_nsec = BENCH_ACK_POLL_NS};
        nanosleep(&pause, NULL);
    }
    if (rc < 0) {
        fprintf(stderr, "ionats-bench: consumer %s after the run: %s\n", info->name, api.error);
    }
    jsapi_close(&api);
    if (rc == 0) {
        info->delivered = (int64_t)state.delivered;
        info->ack_floor = (int64_t)state.ack_floor;
        info->ack_pending = (int64_t)state.ack_pending;
        info->pending = (int64_t)state.pending;
    }
    return rc == 0 && !bench_consume_settled(opts, &state) ? -EIO : rc;
}

/* js-consume: the run fails unless the consumer settled with the whole stream delivered
 * (and acked), and the stream still held every message. The side has joined: main owns
 * its result. */
static int bench_consume_verify(const struct bench_opts *opts, struct side *consume,
                                int check_rc)
{
    struct side_result *result = &consume->result;
    const struct side_consume *info = &result->consume;
    if (check_rc == -EIO) {
        result->error = check_rc;
        snprintf(result->error_text, sizeof result->error_text,
                 "consumer %s did not settle after the run: delivered to stream sequence "
                 "%lld, %lld not delivered, ack floor %lld, %lld acks pending; the stream has "
                 "%llu",
                 info->name, (long long)info->delivered, (long long)info->pending,
                 (long long)info->ack_floor, (long long)info->ack_pending,
                 (unsigned long long)opts->count);
        return result->error;
    }
    if (check_rc < 0 || result->stored != (int64_t)opts->count) {
        result->error = check_rc < 0 ? check_rc : -EIO;
        snprintf(result->error_text, sizeof result->error_text,
                 "%s after the run (the stream held %lld of %llu messages)",
                 check_rc < 0 ? "the consumer's state could not be read" : "messages lost",
                 (long long)result->stored, (unsigned long long)opts->count);
        return result->error;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct bench_opts opts;
    int rc = opts_parse(argc, argv, &opts);
    if (rc != 0) {
        return rc > 0 ? EXIT_SUCCESS : OPTS_EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    if (opts.rate > 0) {
        prctl(PR_SET_TIMERSLACK, BENCH_TIMER_SLACK_NS); /* inherited by the side threads */
    }
    bool consume = opts.mode == BENCH_MODE_JS_CONSUME;
    bool js = opts.mode == BENCH_MODE_JS_PUB || consume;
    if (js && (rc = bench_js_prepare(&opts)) < 0) {
        return rc == -ENOTSUP ? BENCH_EXIT_NO_JETSTREAM : BENCH_EXIT_FAILED;
    }
    static struct side_consume consume_info; /* main's, copied into the result after the run */
    consume_info = (struct side_consume){.delivered = -1, .ack_floor = -1, .ack_pending = -1,
                                         .pending = -1};
    if (consume && bench_consume_prepare(&opts, &consume_info) < 0) {
        bench_js_finish(&opts, NULL); /* deletes the stream */
        return BENCH_EXIT_FAILED;
    }
    bool has_send = opts.mode != BENCH_MODE_SUB;
    bool has_receive = opts.mode != BENCH_MODE_PUB && !js;
    static struct side send_side; /* large (histograms): not on the stack */
    static struct side receive_side;
    struct side *send = has_send ? &send_side : NULL;
    struct side *receive = has_receive ? &receive_side : NULL;
    static struct blocksub blocksub; /* its readers are large: on the heap */
    struct blocksub *blocking = opts.blocking_subs && has_receive ? &blocksub : NULL;
    bool started = false;
    int64_t cpu_before_ns = -1;
    int64_t server_cpu_ns = -1;
    if (opts.server_pid > 0 && procstat_cpu_ns(opts.server_pid, &cpu_before_ns) < 0) {
        fprintf(stderr, "ionats-bench: cannot read the CPU time of pid %ld\n", opts.server_pid);
        cpu_before_ns = -1; /* reported as not measured */
    }
    rc = bench_run(&opts, send, receive, blocking, &started);
    int64_t cpu_after_ns = -1;
    if (cpu_before_ns >= 0 && procstat_cpu_ns(opts.server_pid, &cpu_after_ns) == 0) {
        server_cpu_ns = cpu_after_ns - cpu_before_ns;
    }
    int check_rc = consume && rc == 0 ? bench_consume_check(&opts, &consume_info) : 0;
    if (consume) {
        struct side_consume *counted = &send->result.consume; /* by the side: keep those */
        consume_info.requests = counted->requests;
        consume_info.statuses = counted->statuses;
        consume_info.heartbeats = counted->heartbeats;
        consume_info.acks = counted->acks;
        *counted = consume_info;
    }
    if (js) {
        int finish_rc = bench_js_finish(&opts, started ? send : NULL);
        if (rc == 0 && finish_rc == 0) {
            rc = consume ? bench_consume_verify(&opts, send, check_rc) : bench_js_verify(send);
        }
        rc = rc < 0 ? rc : finish_rc;
    }
    if (started) {
        /* js-consume: its one connection reports as the side that receives. */
        report_print(stdout, &opts, consume ? NULL : send, consume ? send : receive,
                     server_cpu_ns);
    }
    if (send != NULL) {
        side_destroy(send);
    }
    if (blocking != NULL) {
        blocksub_destroy(blocking);
    }
    if (receive != NULL) {
        side_destroy(receive);
    }
    if (rc == -EMSGSIZE) {
        return OPTS_EXIT_USAGE;
    }
    return rc == 0 ? EXIT_SUCCESS : BENCH_EXIT_FAILED;
}
