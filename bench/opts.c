/* Command-line parsing and checking for ionats-bench (see opts.h).
 *
 * The one idea: a combination that cannot measure what it claims is refused with one line
 * saying why and exit status 2, rather than silently adjusted. Defaults are filled in only
 * after parsing, so the checks can tell "not given" from "given as the default". */
#include "bench/opts.h"

#include "base/clock.h"
#include "bench/scan.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OPTS_URL_DEFAULT "nats://127.0.0.1:4222"
#define OPTS_SUBJECT_DEFAULT "bench"
#define OPTS_STREAM_DEFAULT "BENCH"

enum {
    OPTS_SIZE_DEFAULT = 128,
    OPTS_SIZE_MAX = 64 * 1024 * 1024, /* nats-server's hard ceiling for max_payload */
    OPTS_DURATION_DEFAULT_S = 2,
    OPTS_TIMEOUT_DEFAULT_S = 60,
    /* The timeout must leave this long beyond the duration for draining and ending. */
    OPTS_TIMEOUT_MARGIN_S = 5,
    OPTS_BATCH_KIB_DEFAULT = 256,
    OPTS_BATCH_KIB_MAX = 16 * 1024,
    /* Each replier connection keeps room for one reply per requester, twice. */
    OPTS_REPLY_BUFFER_MAX = 64 * 1024 * 1024,
    OPTS_KIB = 1024,
    /* js-pub: publishes in flight per connection. 256 keeps a loopback round trip (tens of
     * us) far shorter than the time the server needs to store the window, so throughput is
     * bound by the server rather than by waiting, as with `nats bench --js` async publishers. */
    OPTS_WINDOW_DEFAULT = 256,
    OPTS_WINDOW_MAX = 65536,
    /* js-pub: every connection keeps one prebuilt frame per window slot. */
    OPTS_WINDOW_BYTES_MAX = 64 * 1024 * 1024,
    /* js-consume fills its stream with a wider window: the filling is not what is measured,
     * and with file storage it is bound by the group commit's sync (more acks per sync). */
    OPTS_CONSUME_WINDOW_DEFAULT = 1024,
    /* js-consume: nats.go's Fetch default is 1 message; 100 is what batch consumers use. */
    OPTS_CONSUME_BATCH_DEFAULT = 100,
    /* At most one and a half batches are asked for at a time: a million stays far from any
     * counter's limit and from what a benchmark's stream holds. */
    OPTS_CONSUME_BATCH_MAX = 1000000,
    OPTS_PID_MAX = 4194304, /* Linux's PID_MAX_LIMIT */
};

enum opts_key {
    OPTS_KEY_SIZE = 256,
    OPTS_KEY_COUNT,
    OPTS_KEY_DURATION,
    OPTS_KEY_PUBS,
    OPTS_KEY_SUBS,
    OPTS_KEY_RATE,
    OPTS_KEY_CONNS,
    OPTS_KEY_SUBJECT,
    OPTS_KEY_BATCH,
    OPTS_KEY_TIMEOUT,
    OPTS_KEY_JSON,
    OPTS_KEY_STREAM,
    OPTS_KEY_STORAGE,
    OPTS_KEY_WINDOW,
    OPTS_KEY_BLOCKING_SUBS,
    OPTS_KEY_SUBJECTS,
    OPTS_KEY_CONSUMER,
    OPTS_KEY_BATCH_COUNT,
    OPTS_KEY_ACK,
    OPTS_KEY_SERVER_PID,
    OPTS_KEY_SUB_URL,
};

/* What the user gave, before defaults. */
struct opts_given {
    bool count;
    bool duration;
    bool pubs;
    bool subs;
    bool js; /* any of --stream, --storage, --window, --subjects */
    bool window;
    bool consume; /* any of --consumer, --batch, --ack */
    bool batch;
    bool ack;
};

static const struct option OPTS_LONG[] = {
    {"url", required_argument, NULL, 's'},
    {"sub-url", required_argument, NULL, OPTS_KEY_SUB_URL},
    {"size", required_argument, NULL, OPTS_KEY_SIZE},
    {"count", required_argument, NULL, OPTS_KEY_COUNT},
    {"msgs", required_argument, NULL, OPTS_KEY_COUNT},
    {"duration", required_argument, NULL, OPTS_KEY_DURATION},
    {"pubs", required_argument, NULL, OPTS_KEY_PUBS},
    {"subs", required_argument, NULL, OPTS_KEY_SUBS},
    {"rate", required_argument, NULL, OPTS_KEY_RATE},
    {"conns-per-client", required_argument, NULL, OPTS_KEY_CONNS},
    {"subject", required_argument, NULL, OPTS_KEY_SUBJECT},
    {"batch-kib", required_argument, NULL, OPTS_KEY_BATCH},
    {"timeout", required_argument, NULL, OPTS_KEY_TIMEOUT},
    {"json", no_argument, NULL, OPTS_KEY_JSON},
    {"stream", required_argument, NULL, OPTS_KEY_STREAM},
    {"storage", required_argument, NULL, OPTS_KEY_STORAGE},
    {"window", required_argument, NULL, OPTS_KEY_WINDOW},
    {"subjects", required_argument, NULL, OPTS_KEY_SUBJECTS},
    {"consumer", required_argument, NULL, OPTS_KEY_CONSUMER},
    {"batch", required_argument, NULL, OPTS_KEY_BATCH_COUNT},
    {"ack", required_argument, NULL, OPTS_KEY_ACK},
    {"server-pid", required_argument, NULL, OPTS_KEY_SERVER_PID},
    {"blocking-subs", no_argument, NULL, OPTS_KEY_BLOCKING_SUBS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *const OPTS_MODE_NAMES[] = {
    [BENCH_MODE_PUB] = "pub",       [BENCH_MODE_SUB] = "sub",     [BENCH_MODE_PUBSUB] = "pubsub",
    [BENCH_MODE_FANOUT] = "fanout", [BENCH_MODE_QUEUE] = "queue", [BENCH_MODE_REQREP] = "reqrep",
    [BENCH_MODE_JS_PUB] = "js-pub", [BENCH_MODE_JS_CONSUME] = "js-consume",
};

static const char *const OPTS_STORAGE_NAMES[] = {
    [BENCH_STORAGE_FILE] = "file",
    [BENCH_STORAGE_MEMORY] = "memory",
};

static const char *const OPTS_CONSUMER_NAMES[] = {
    [BENCH_CONSUMER_PULL] = "pull",
    [BENCH_CONSUMER_PUSH] = "push",
};

static const char *const OPTS_ACK_NAMES[] = {
    [BENCH_ACK_NONE] = "none",
    [BENCH_ACK_EXPLICIT] = "explicit",
};

const char *bench_consumer_name(enum bench_consumer consumer)
{
    return OPTS_CONSUMER_NAMES[consumer];
}

const char *bench_ack_name(enum bench_ack ack)
{
    return OPTS_ACK_NAMES[ack];
}

const char *bench_mode_name(enum bench_mode mode)
{
    return OPTS_MODE_NAMES[mode];
}

const char *bench_storage_name(enum bench_storage storage)
{
    return OPTS_STORAGE_NAMES[storage];
}

uint64_t bench_expected_deliveries(const struct bench_opts *opts, uint64_t sent)
{
    return opts->mode == BENCH_MODE_FANOUT ? sent * opts->subs : sent;
}

void opts_usage(FILE *stream)
{
    fputs("usage: ionats-bench MODE [options]\n"
          "\n"
          "modes:\n"
          "  pub      --pubs publishers, nobody subscribed; ends with PING/PONG\n"
          "  sub      --subs subscribers counting what others publish (--count each, or\n"
          "           --duration from the first message)\n"
          "  pubsub   --pubs publishers -> 1 subscriber\n"
          "  fanout   --pubs publishers -> --subs subscribers, each gets every message\n"
          "  queue    --pubs publishers -> a queue group of --subs subscribers\n"
          "  reqrep   --pubs closed-loop requesters -> --subs repliers (a queue group when > 1)\n"
          "  js-pub   --pubs publishers into a JetStream stream taking --subject, created\n"
          "           afresh before the run and deleted after it; each publish carries a\n"
          "           reply inbox and counts once its ack is back, --window in flight each\n"
          "  js-consume  a stream like js-pub's, filled untimed with --count messages (by\n"
          "           js-pub's path, --window in flight), drained by one --consumer: the\n"
          "           rate counts deliveries from the first request to the last delivery,\n"
          "           each checked to come once and in stream order\n"
          "\n"
          "options:\n"
          "  -s, --url URL           server (default " OPTS_URL_DEFAULT ")\n"
          "      --sub-url URL       subscribers and repliers connect here instead (a\n"
          "                          second server: across a leafnode link, say)\n"
          "  --size BYTES            payload size (default 128)\n"
          "  --count N               messages (requests) to publish in total; suffix k, M, G\n"
          "  --duration SECONDS      publish for this long instead (default 2 without --count)\n"
          "  --pubs N                publishers or requesters (default 1)\n"
          "  --subs N                subscribers or repliers (default 1; none in pub mode)\n"
          "  --rate MSGS_PER_S       open loop at a fixed total rate. pubsub/fanout/queue then\n"
          "                          measure latency at the subscriber from each message's\n"
          "                          intended send time (coordinated omission corrected);\n"
          "                          needs --size >= 8. Not for sub or reqrep.\n"
          "  --conns-per-client K    each publisher, subscriber or replier uses K connections\n"
          "                          (a subscriber's K form a queue group, so it still gets each\n"
          "                          message once); a requester always uses one (default 1)\n"
          "  --subject SUBJECT       (default " OPTS_SUBJECT_DEFAULT ")\n"
          "  --batch-kib KIB         PUB frames per send when flat out (default 256)\n"
          "  --blocking-subs         pubsub, fanout, queue: every subscriber connection is a\n"
          "                          thread of its own, reading a plain blocking socket into a\n"
          "                          32 KiB buffer, as a simple application would (default:\n"
          "                          one io_uring thread for all subscribers)\n"
          "  --timeout SECONDS       hard bound on the whole run (default 60)\n"
          "  --json                  print one JSON object instead of text\n"
          "  --server-pid PID        report the CPU time (user + system) process PID used\n"
          "                          during the measured part of the run (js-consume: not\n"
          "                          while filling), from /proc/PID/stat\n"
          "  --stream NAME           js-pub, js-consume: the stream (default " OPTS_STREAM_DEFAULT
          ")\n"
          "  --storage file|memory   js-pub, js-consume: the stream's storage (default file)\n"
          "  --window N              js-pub: publishes in flight, not yet acked, per\n"
          "                          connection (default 256); js-consume: while filling\n"
          "                          (default 1024)\n"
          "  --subjects N            js-pub: the stream takes SUBJECT.> and each publisher's\n"
          "                          publish i goes to SUBJECT.<i mod N>, zero-padded to the\n"
          "                          digits of N - 1 (default: SUBJECT itself, one subject)\n"
          "  --consumer pull|push    js-consume: a durable pull consumer served by MSG.NEXT\n"
          "                          requests, or an ephemeral push consumer (memory state,\n"
          "                          deliver all, like an ordered consumer without flow\n"
          "                          control) delivering to an inbox (default pull)\n"
          "  --batch N               js-consume pull: messages per MSG.NEXT request; the next\n"
          "                          request goes out once half of the current one arrived\n"
          "                          (default 100)\n"
          "  --ack none|explicit     js-consume: the ack policy; explicit acks every delivery\n"
          "                          with a publish of +ACK to its reply subject (default:\n"
          "                          explicit for pull, none for push)\n"
          "\n"
          "Throughput is messages (and payload MB, 10^6 B) per second on each side: publishers\n"
          "from the first send to the PONG that follows the last; subscribers from the first to\n"
          "the last delivery; js-pub counts acked publishes, from the first send to the\n"
          "last ack; js-consume counts deliveries, from the first request (push: the SUB\n"
          "to the deliver subject) to the last delivery. Latency is reported as p50 p90\n"
          "p99 p99.9 p99.99 max in us.\n"
          "Exit status: 0 done, 1 the run failed (server error, lost, repeated or reordered\n"
          "messages, refused publishes, timeout), 2 the command line was refused, 3 js-pub\n"
          "and js-consume only: the server does not answer $JS.API.INFO (no JetStream).\n",
          stream);
}

/* A whole-token unsigned number with an optional decimal suffix k, M or G. */
static int opts_number(const char *text, uint64_t *value)
{
    char *end = NULL;
    errno = 0;
    double number = strtod(text, &end);
    if (errno != 0 || end == text || number < 0) {
        return -EINVAL;
    }
    double scale = 1;
    if (*end == 'k' || *end == 'K') {
        scale = 1e3;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        scale = 1e6;
        end++;
    } else if (*end == 'g' || *end == 'G') {
        scale = 1e9;
        end++;
    }
    if (*end != '\0' || number * scale > (double)UINT64_MAX / 2 ||
        floor(number * scale) != number * scale) {
        return -EINVAL;
    }
    *value = (uint64_t)(number * scale);
    return 0;
}

static int opts_seconds(const char *text, int64_t *value_ns)
{
    char *end = NULL;
    errno = 0;
    double seconds = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(seconds > 0) || seconds > 1e6) {
        return -EINVAL;
    }
    *value_ns = (int64_t)(seconds * NS_PER_SEC);
    return 0;
}

static int opts_bounded(const char *text, uint64_t min, uint64_t max, uint64_t *value)
{
    int rc = opts_number(text, value);
    return rc == 0 && *value >= min && *value <= max ? 0 : -EINVAL;
}

/* The long name of an option key, for messages. */
static const char *opts_name(int key)
{
    for (const struct option *option = OPTS_LONG; option->name != NULL; option++) {
        if (option->val == key) {
            return option->name;
        }
    }
    return "?";
}

static int opts_refuse(const char *why)
{
    fprintf(stderr, "ionats-bench: %s\n", why);
    return -EINVAL;
}

static int opts_mode(const char *name, enum bench_mode *mode)
{
    for (unsigned i = 0; i < sizeof OPTS_MODE_NAMES / sizeof OPTS_MODE_NAMES[0]; i++) {
        if (strcmp(name, OPTS_MODE_NAMES[i]) == 0) {
            *mode = (enum bench_mode)i;
            return 0;
        }
    }
    return -EINVAL;
}

static int opts_storage(const char *name, enum bench_storage *storage)
{
    for (unsigned i = 0; i < sizeof OPTS_STORAGE_NAMES / sizeof OPTS_STORAGE_NAMES[0]; i++) {
        if (strcmp(name, OPTS_STORAGE_NAMES[i]) == 0) {
            *storage = (enum bench_storage)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* One of `names` (`count` of them) by its name; -EINVAL when none has it. */
static int opts_choice(const char *name, const char *const *names, unsigned count, int *choice)
{
    for (unsigned i = 0; i < count; i++) {
        if (strcmp(name, names[i]) == 0) {
            *choice = (int)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* --consumer, --batch and --ack, js-consume's own. */
static int opts_consume(int key, const char *arg, struct bench_opts *opts,
                        struct opts_given *given)
{
    given->consume = true;
    int choice = 0;
    int rc = 0;
    uint64_t value = 0;
    switch (key) {
    case OPTS_KEY_CONSUMER:
        rc = opts_choice(arg, OPTS_CONSUMER_NAMES, 2, &choice);
        opts->consumer = (enum bench_consumer)choice;
        return rc;
    case OPTS_KEY_ACK:
        given->ack = true;
        rc = opts_choice(arg, OPTS_ACK_NAMES, 2, &choice);
        opts->ack = (enum bench_ack)choice;
        return rc;
    case OPTS_KEY_BATCH_COUNT:
        given->batch = true;
        rc = opts_bounded(arg, 1, OPTS_CONSUME_BATCH_MAX, &value);
        opts->batch_count = (uint32_t)value;
        return rc;
    default:
        return -EINVAL;
    }
}

static int opts_copy(char *target, size_t capacity, const char *text)
{
    if (strlen(text) >= capacity || text[0] == '\0') {
        return -EINVAL;
    }
    strcpy(target, text);
    return 0;
}

/* A stream name goes into the API subject ($JS.API.STREAM.CREATE.<name>) and into JSON
 * without escaping: letters, digits, '-' and '_' only (nats-server refuses '.', '*', '>'
 * and blanks anyway). */
static int opts_stream(const char *name, char *target, size_t capacity)
{
    for (const char *c = name; *c != '\0'; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || *c == '-' || *c == '_';
        if (!plain) {
            return -EINVAL;
        }
    }
    return opts_copy(target, capacity, name);
}

/* Applies one option; returns 0, or -EINVAL when its value is unusable. */
static int opts_one(int key, const char *arg, struct bench_opts *opts, struct opts_given *given)
{
    uint64_t value = 0;
    int rc = 0;
    switch (key) {
    case 's':
        return opts_copy(opts->url, sizeof opts->url, arg);
    case OPTS_KEY_SUB_URL:
        return opts_copy(opts->sub_url, sizeof opts->sub_url, arg);
    case OPTS_KEY_SIZE:
        rc = opts_bounded(arg, 0, OPTS_SIZE_MAX, &value);
        opts->size = (uint32_t)value;
        return rc;
    case OPTS_KEY_COUNT:
        given->count = true;
        return opts_bounded(arg, 1, UINT64_MAX / 2, &opts->count);
    case OPTS_KEY_DURATION:
        given->duration = true;
        return opts_seconds(arg, &opts->duration_ns);
    case OPTS_KEY_PUBS:
    case OPTS_KEY_SUBS:
        rc = opts_bounded(arg, 0, BENCH_CONNS_MAX, &value);
        *(key == OPTS_KEY_PUBS ? &opts->pubs : &opts->subs) = (unsigned)value;
        *(key == OPTS_KEY_PUBS ? &given->pubs : &given->subs) = true;
        return rc;
    case OPTS_KEY_RATE:
        rc = opts_bounded(arg, 1, UINT64_MAX / 2, &value);
        opts->rate = (double)value;
        return rc;
    case OPTS_KEY_CONNS:
        rc = opts_bounded(arg, 1, BENCH_CONNS_MAX, &value);
        opts->conns_per_client = (unsigned)value;
        return rc;
    case OPTS_KEY_SUBJECT:
        return opts_copy(opts->subject, sizeof opts->subject, arg);
    case OPTS_KEY_BATCH:
        rc = opts_bounded(arg, 1, OPTS_BATCH_KIB_MAX, &value);
        opts->batch_bytes = (size_t)value * OPTS_KIB;
        return rc;
    case OPTS_KEY_TIMEOUT:
        return opts_seconds(arg, &opts->timeout_ns);
    case OPTS_KEY_JSON:
        opts->json = true;
        return 0;
    case OPTS_KEY_SERVER_PID:
        rc = opts_bounded(arg, 1, OPTS_PID_MAX, &value);
        opts->server_pid = (long)value;
        return rc;
    case OPTS_KEY_BLOCKING_SUBS:
        opts->blocking_subs = true;
        return 0;
    case OPTS_KEY_STREAM:
        given->js = true;
        return opts_stream(arg, opts->stream, sizeof opts->stream);
    case OPTS_KEY_STORAGE:
        given->js = true;
        return opts_storage(arg, &opts->storage);
    case OPTS_KEY_WINDOW:
        given->js = true;
        given->window = true;
        rc = opts_bounded(arg, 1, OPTS_WINDOW_MAX, &value);
        opts->window = (uint32_t)value;
        return rc;
    case OPTS_KEY_SUBJECTS:
        given->js = true;
        rc = opts_bounded(arg, 1, BENCH_JS_SUBJECTS_MAX, &value);
        opts->subjects = (uint32_t)value;
        return rc;
    case OPTS_KEY_CONSUMER:
    case OPTS_KEY_BATCH_COUNT:
    case OPTS_KEY_ACK:
        return opts_consume(key, arg, opts, given);
    default:
        return -EINVAL;
    }
}

static void opts_defaults(struct bench_opts *opts, const struct opts_given *given)
{
    if (!given->pubs) {
        opts->pubs = opts->mode == BENCH_MODE_SUB ? 0 : 1;
    }
    bool publish_only = opts->mode == BENCH_MODE_PUB || opts->mode == BENCH_MODE_JS_PUB ||
                        opts->mode == BENCH_MODE_JS_CONSUME; /* its one connection: "pubs" */
    if (!given->subs) {
        opts->subs = publish_only ? 0 : 1;
    }
    if (!given->count && !given->duration) {
        opts->duration_ns = (int64_t)OPTS_DURATION_DEFAULT_S * NS_PER_SEC;
    }
    if (opts->rate > 0 && opts->count == 0) {
        opts->count = (uint64_t)llround(opts->rate * (double)opts->duration_ns / NS_PER_SEC);
    }
    opts->latency = opts->mode == BENCH_MODE_REQREP || opts->mode == BENCH_MODE_JS_PUB ||
                    (opts->rate > 0 && opts->subs > 0);
    if (opts->mode == BENCH_MODE_JS_CONSUME) {
        opts->window = given->window ? opts->window : OPTS_CONSUME_WINDOW_DEFAULT;
        bool pull = opts->consumer == BENCH_CONSUMER_PULL;
        opts->ack = given->ack ? opts->ack : (pull ? BENCH_ACK_EXPLICIT : BENCH_ACK_NONE);
    }
}

/* js-consume's own refusals; returns why, or NULL. */
static const char *opts_silly_consume(const struct bench_opts *opts, const struct opts_given *given)
{
    if (opts->mode != BENCH_MODE_JS_CONSUME) {
        return given->consume ? "--consumer, --batch and --ack apply to js-consume only" : NULL;
    }
    if (!given->count) {
        return "js-consume drains a stream of --count (--msgs) messages: give it, not --duration";
    }
    if (given->pubs || given->subs || opts->rate > 0 || opts->blocking_subs) {
        return "js-consume has one consumer connection: no --pubs, --subs, --rate or "
               "--blocking-subs";
    }
    if (given->batch && opts->consumer == BENCH_CONSUMER_PUSH) {
        return "--batch is the size of pull requests: a push consumer makes none";
    }
    if (opts->size > SCAN_BODY_SIZE_MAX) {
        return "js-consume reads whole deliveries: --size must be at most 16384";
    }
    return NULL;
}

/* The combinations that cannot measure what they claim; returns why, or NULL. */
static const char *opts_silly(const struct bench_opts *opts, const struct opts_given *given)
{
    enum bench_mode mode = opts->mode;
    if (given->count && given->duration) {
        return "--count and --duration exclude each other";
    }
    if (mode == BENCH_MODE_PUB && opts->subs > 0) {
        return "pub mode has no subscribers; use pubsub, fanout or queue";
    }
    if (mode == BENCH_MODE_JS_PUB && opts->subs > 0) {
        return "js-pub has no subscribers: the acks come back to each publisher's inbox";
    }
    if (mode == BENCH_MODE_JS_PUB && opts->rate > 0) {
        return "js-pub publishers are window-bound (--window acks outstanding): no --rate";
    }
    bool js = mode == BENCH_MODE_JS_PUB || mode == BENCH_MODE_JS_CONSUME;
    if (!js && given->js) {
        return "--stream, --storage, --window and --subjects apply to js-pub and js-consume only";
    }
    const char *consume = opts_silly_consume(opts, given);
    if (consume != NULL) {
        return consume;
    }
    if (js &&
        (uint64_t)opts->window * (opts->size + BENCH_JS_FRAME_OVERHEAD) > OPTS_WINDOW_BYTES_MAX) {
        return "--window times --size is too large for a publisher's frames (64 MiB)";
    }
    bool counting_subs =
        mode == BENCH_MODE_PUBSUB || mode == BENCH_MODE_FANOUT || mode == BENCH_MODE_QUEUE;
    if (opts->blocking_subs && !counting_subs) {
        return "--blocking-subs applies to the subscribers of pubsub, fanout and queue only";
    }
    if (mode == BENCH_MODE_SUB && (opts->pubs > 0 || opts->rate > 0)) {
        return "sub mode does not publish: --pubs and --rate make no sense with it";
    }
    if (mode != BENCH_MODE_SUB && opts->pubs == 0) {
        return "this mode needs --pubs >= 1";
    }
    if (mode != BENCH_MODE_PUB && !js && opts->subs == 0) {
        return "this mode needs --subs >= 1 (fanout to nobody measures nothing)";
    }
    if (mode == BENCH_MODE_PUBSUB && opts->subs != 1) {
        return "pubsub has exactly one subscriber; use fanout or queue for more";
    }
    if (mode == BENCH_MODE_REQREP && opts->rate > 0) {
        return "reqrep requesters are closed-loop (one request in flight each): no --rate";
    }
    bool stamped = opts->latency && mode != BENCH_MODE_REQREP && !js;
    if (stamped && opts->size < SCAN_STAMP_SIZE) {
        return "latency runs (--rate) carry an 8-byte send stamp: --size must be >= 8";
    }
    if ((uint64_t)opts->pubs * opts->conns_per_client > BENCH_CONNS_MAX ||
        (uint64_t)opts->subs * opts->conns_per_client > BENCH_CONNS_MAX) {
        return "too many connections on one side (--pubs/--subs times --conns-per-client > 1024)";
    }
    if (mode == BENCH_MODE_REQREP &&
        (uint64_t)(opts->pubs + 1) * (opts->size + SCAN_CONTROL_LINE_MAX) > OPTS_REPLY_BUFFER_MAX) {
        return "reqrep: --pubs times --size is too large for a replier's buffers (64 MiB)";
    }
    if (opts->count == 0 &&
        opts->duration_ns + (int64_t)OPTS_TIMEOUT_MARGIN_S * NS_PER_SEC > opts->timeout_ns) {
        return "--timeout must exceed --duration by at least 5 s";
    }
    if (opts->rate > 0 && opts->count == 0) {
        return "--rate with a duration too short for a single message";
    }
    return NULL;
}

static void opts_init(struct bench_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    strcpy(opts->url, OPTS_URL_DEFAULT);
    strcpy(opts->subject, OPTS_SUBJECT_DEFAULT);
    strcpy(opts->stream, OPTS_STREAM_DEFAULT);
    opts->storage = BENCH_STORAGE_FILE;
    opts->window = OPTS_WINDOW_DEFAULT;
    opts->consumer = BENCH_CONSUMER_PULL;
    opts->batch_count = OPTS_CONSUME_BATCH_DEFAULT;
    opts->size = OPTS_SIZE_DEFAULT;
    opts->conns_per_client = 1;
    opts->batch_bytes = (size_t)OPTS_BATCH_KIB_DEFAULT * OPTS_KIB;
    opts->timeout_ns = (int64_t)OPTS_TIMEOUT_DEFAULT_S * NS_PER_SEC;
}

int opts_parse(int argc, char **argv, struct bench_opts *opts)
{
    opts_init(opts);
    struct opts_given given = {0};
    int key = 0;
    int index = 0;
    opterr = 0;
    /* GNU getopt moves the mode, wherever it stands, behind the options. */
    while ((key = getopt_long(argc, argv, "s:h", OPTS_LONG, &index)) != -1) {
        if (key == 'h') {
            opts_usage(stdout);
            return 1;
        }
        if (key == '?' || key == ':') {
            fprintf(stderr, "ionats-bench: unknown option or missing value: %s (see --help)\n",
                    argv[optind - 1]);
            return -EINVAL;
        }
        if (opts_one(key, optarg, opts, &given) < 0) {
            fprintf(stderr, "ionats-bench: unusable value '%s' for --%s (see --help)\n", optarg,
                    opts_name(key));
            return -EINVAL;
        }
    }
    if (optind + 1 != argc || opts_mode(argv[optind], &opts->mode) < 0) {
        return opts_refuse(
            "give exactly one mode: pub sub pubsub fanout queue reqrep js-pub js-consume");
    }
    opts_defaults(opts, &given);
    const char *silly = opts_silly(opts, &given);
    if (silly != NULL) {
        return opts_refuse(silly);
    }
    if (client_addr_parse(opts->url, &opts->addr) < 0) {
        return opts_refuse("cannot parse or resolve --url (want nats://HOST:PORT)");
    }
    opts->sub_addr = opts->addr;
    if (opts->sub_url[0] != '\0' && client_addr_parse(opts->sub_url, &opts->sub_addr) < 0) {
        return opts_refuse("cannot parse or resolve --sub-url (want nats://HOST:PORT)");
    }
    return 0;
}
