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
 * publishers connect, counted and deleted after they are done, on connections of its own. */
#include "base/assert.h"
#include "bench/bench.h"
#include "bench/blocksub.h"
#include "bench/conn.h"
#include "bench/jsapi.h"
#include "bench/jspub.h"
#include "bench/opts.h"
#include "bench/pub.h"
#include "bench/report.h"
#include "bench/reqrep.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

enum {
    BENCH_EXIT_FAILED = 1,
    /* js-pub: the server does not answer $JS.API.INFO; scripts report "n/a", not a failure. */
    BENCH_EXIT_NO_JETSTREAM = 3,
    /* Timer slack in ns for paced runs: the default 50 us would shift every pacing wake-up. */
    BENCH_TIMER_SLACK_NS = 1,
    BENCH_SUBSCRIBE_SIZE_MAX = 4 + BENCH_SUBJECT_SIZE_MAX + 1 + 32 + 4 + 2,
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
static int bench_connect(const struct bench_opts *opts, const char *subscribe,
                         struct client_hello *hello)
{
    bool wait_pong = opts->mode != BENCH_MODE_SUB; /* sub mode: messages may precede PONG */
    int fd = client_open(&opts->addr, subscribe, wait_pong, hello);
    if (fd < 0) {
        fprintf(stderr, "ionats-bench: %s: %s\n", opts->url, hello->error);
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
    int fd = bench_connect(side->opts, subscribe, &hello);
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
    int fd = bench_connect(blocksub->side->opts, subscribe, &hello);
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
    if (rc == 0 && !requesters && opts->mode != BENCH_MODE_JS_PUB) {
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
    int rc = 0;
    if (receive != NULL) {
        rc = bench_receive_side(receive, opts, &shared, blocksub);
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
    bool js = opts.mode == BENCH_MODE_JS_PUB;
    if (js && (rc = bench_js_prepare(&opts)) < 0) {
        return rc == -ENOTSUP ? BENCH_EXIT_NO_JETSTREAM : BENCH_EXIT_FAILED;
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
    rc = bench_run(&opts, send, receive, blocking, &started);
    if (js) {
        int finish_rc = bench_js_finish(&opts, started ? send : NULL);
        if (rc == 0 && finish_rc == 0) {
            rc = bench_js_verify(send);
        }
        rc = rc < 0 ? rc : finish_rc;
    }
    if (started) {
        report_print(stdout, &opts, send, receive);
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
