/* JetStream API requests for js-pub (see jsapi.h).
 *
 * A request is "PUB <api subject> <inbox>.<n> <size>\r\n<json>\r\n" on a connection
 * subscribed to "<inbox>.*"; its reply is the one whole MSG to "<inbox>.<n>" (the scanner
 * in SCAN_F_BODY mode hands it out). A reply to an older request, one that timed out, is
 * ignored. Waiting is poll + recv with the time left to the request's deadline; a PING
 * from the server is answered while waiting. Request bodies are built and replies parsed
 * with jansson, off the measured path. */
#include "bench/jsapi.h"

#include "base/assert.h"
#include "base/clock.h"
#include "bench/client.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    /* What one wait may have to hold: an incomplete reply frame and whatever came first. */
    JSAPI_RX_SIZE = 2 * SCAN_FRAME_SIZE_MAX,
    /* JetStream answers $JS.API.INFO in well under a millisecond; a server without it does
     * not answer at all (headers are off, so no "no responders" status either). */
    JSAPI_PROBE_TIMEOUT_MS = 2000,
    /* Creating a file store, or deleting one that holds millions of messages. */
    JSAPI_TIMEOUT_MS = 30000,
    /* "$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<name>" is the longest. */
    JSAPI_SUBJECT_SIZE_MAX = 48 + BENCH_STREAM_SIZE_MAX + JSAPI_NAME_SIZE_MAX,
    JSAPI_REQUEST_NUMBER_SIZE_MAX = 24,
    JSAPI_FRAME_HEADER_SIZE_MAX = 4 + JSAPI_SUBJECT_SIZE_MAX + 1 + BENCH_JS_INBOX_SIZE_MAX + 1 +
                                  JSAPI_REQUEST_NUMBER_SIZE_MAX + 1 + 10 + 2,
    /* The stream or consumer configuration: names, subjects and a few fixed words. */
    JSAPI_BODY_SIZE_MAX = 512 + BENCH_STREAM_SIZE_MAX + 2 * BENCH_SUBJECT_SIZE_MAX,
    JSAPI_MS_PER_S = 1000,
    /* The API's codes that js-pub tells apart. */
    JSAPI_CODE_UNAVAILABLE = 503,       /* JetStream not enabled (for the account) */
    JSAPI_ERR_STREAM_NOT_FOUND = 10059, /* deleting what is not there is fine */
};

STATIC_ASSERT((int)CLIENT_HANDSHAKE_BUFFER_SIZE <= (int)JSAPI_RX_SIZE, "leftovers fit");

static const char JSAPI_PONG[] = "PONG\r\n";

static void jsapi_on_body(void *context, const struct scan_frame *frame)
{
    struct jsapi *api = context;
    const char *subject = frame->subject;
    size_t subject_size = frame->subject_size;
    const char *payload = frame->payload;
    size_t payload_size = frame->payload_size;
    char expected[BENCH_JS_INBOX_SIZE_MAX + JSAPI_REQUEST_NUMBER_SIZE_MAX];
    int size = snprintf(expected, sizeof expected, "%s.%llu", api->inbox,
                        (unsigned long long)api->request_count);
    ASSERT(size > 0 && (size_t)size < sizeof expected);
    if (api->replied || subject_size != (size_t)size ||
        memcmp(subject, expected, subject_size) != 0) {
        return; /* a late reply to a request we stopped waiting for */
    }
    ASSERT(payload_size <= SCAN_BODY_SIZE_MAX); /* the scanner's bound */
    memcpy(api->reply, payload, payload_size);
    api->reply[payload_size] = '\0';
    api->reply_size = payload_size;
    api->replied = true;
}

static void jsapi_on_msg(void *context, const char *reply, size_t reply_size, int64_t stamp_ns)
{
    UNREACHABLE(); /* SCAN_F_BODY hands every message to on_body */
}

static void jsapi_on_ping(void *context)
{
    ((struct jsapi *)context)->ping_due = true;
}

static void jsapi_on_pong(void *context)
{
}

static void jsapi_on_err(void *context, const char *line, size_t line_size)
{
    struct jsapi *api = context;
    snprintf(api->error, sizeof api->error, "server sent %.*s", (int)line_size, line);
}

int jsapi_open(struct jsapi *api, const struct bench_opts *opts)
{
    memset(api, 0, sizeof *api);
    api->fd = -1;
    int size =
        snprintf(api->inbox, sizeof api->inbox, "_INBOX.ionats_bench.%ld.api", (long)getpid());
    ASSERT(size > 0 && (size_t)size < sizeof api->inbox);
    char subscribe[BENCH_JS_INBOX_SIZE_MAX + 16];
    size = snprintf(subscribe, sizeof subscribe, "SUB %s.* 1\r\n", api->inbox);
    ASSERT(size > 0 && (size_t)size < sizeof subscribe);
    static struct client_hello hello; /* main thread only; 8 KiB off the stack */
    int fd = client_open(&opts->addr, subscribe, CLIENT_F_WAIT_PONG, &hello);
    if (fd < 0) {
        snprintf(api->error, sizeof api->error, "%s", hello.error);
        return fd;
    }
    api->rx = malloc(JSAPI_RX_SIZE);
    if (api->rx == NULL) {
        close(fd);
        snprintf(api->error, sizeof api->error, "out of memory");
        return -ENOMEM;
    }
    memcpy(api->rx, hello.leftover, hello.leftover_size);
    api->rx_used = hello.leftover_size;
    api->fd = fd;
    api->sink = (struct scan_sink){
        .context = api,
        .on_msg = jsapi_on_msg,
        .on_ping = jsapi_on_ping,
        .on_pong = jsapi_on_pong,
        .on_err = jsapi_on_err,
        .on_body = jsapi_on_body,
    };
    scan_init(&api->scan, &api->sink, SCAN_F_BODY);
    return 0;
}

void jsapi_close(struct jsapi *api)
{
    if (api->fd >= 0) {
        close(api->fd);
        api->fd = -1;
    }
    free(api->rx);
    api->rx = NULL;
}

static int jsapi_send(struct jsapi *api, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t sent = send(api->fd, data, size, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) {
            continue;
        }
        if (sent < 0) {
            snprintf(api->error, sizeof api->error, "send: %s", strerror(errno));
            return -errno;
        }
        data += sent;
        size -= (size_t)sent;
    }
    return 0;
}

/* Scans what rx holds and keeps an incomplete frame. */
static int jsapi_scan(struct jsapi *api)
{
    long consumed = scan_feed(&api->scan, api->rx, api->rx_used);
    if (consumed < 0) {
        snprintf(api->error, sizeof api->error, "unparsable data from server: %s",
                 strerror((int)-consumed));
        return (int)consumed;
    }
    size_t rest = api->rx_used - (size_t)consumed;
    memmove(api->rx, api->rx + consumed, rest);
    api->rx_used = rest;
    if (api->error[0] != '\0') {
        return -ECONNABORTED; /* -ERR */
    }
    if (api->ping_due) {
        api->ping_due = false;
        return jsapi_send(api, JSAPI_PONG, sizeof JSAPI_PONG - 1);
    }
    return 0;
}

/* Reads once, waiting until `deadline_ns` at most. */
static int jsapi_read(struct jsapi *api, int64_t deadline_ns)
{
    int64_t left_ns = deadline_ns - clock_monotonic_ns();
    if (left_ns <= 0) {
        return -ETIMEDOUT;
    }
    struct pollfd pollfd = {.fd = api->fd, .events = POLLIN};
    int ready = poll(&pollfd, 1, (int)(left_ns / NS_PER_MS) + 1);
    if (ready < 0) {
        return errno == EINTR ? 0 : -errno;
    }
    if (ready == 0) {
        return -ETIMEDOUT;
    }
    /* The scanner leaves at most one incomplete frame, so there is always room. */
    ASSERT(api->rx_used <= SCAN_FRAME_SIZE_MAX);
    ssize_t got = recv(api->fd, api->rx + api->rx_used, JSAPI_RX_SIZE - api->rx_used, 0);
    if (got == 0) {
        snprintf(api->error, sizeof api->error, "server closed the connection");
        return -ECONNRESET;
    }
    if (got < 0) {
        snprintf(api->error, sizeof api->error, "recv: %s", strerror(errno));
        return errno == EINTR ? 0 : -errno;
    }
    api->rx_used += (size_t)got;
    return 0;
}

/* Sends `body` to `subject` and waits up to `timeout_ms` for the reply, which it parses.
 * Returns 0 with *reply (the caller's, json_decref), -ETIMEDOUT, or another -errno. */
static int jsapi_request(struct jsapi *api, const char *subject, const char *body, int timeout_ms,
                         json_t **reply)
{
    ASSERT(api->fd >= 0);
    api->error[0] = '\0';
    api->request_count++;
    api->replied = false;
    size_t body_size = strlen(body);
    if (body_size > JSAPI_BODY_SIZE_MAX) {
        snprintf(api->error, sizeof api->error, "request to %s too large (%zu B)", subject,
                 body_size); /* a subject of escaped control characters, say */
        return -EMSGSIZE;
    }
    char frame[JSAPI_FRAME_HEADER_SIZE_MAX + JSAPI_BODY_SIZE_MAX + 2 + 1];
    int size = snprintf(frame, sizeof frame, "PUB %s %s.%llu %zu\r\n%s\r\n", subject, api->inbox,
                        (unsigned long long)api->request_count, body_size, body);
    ASSERT(size > 0 && (size_t)size < sizeof frame);
    int rc = jsapi_send(api, frame, (size_t)size);
    int64_t deadline_ns = clock_monotonic_ns() + (int64_t)timeout_ms * NS_PER_MS;
    /* Bounded by the deadline: every pass either reads or gives up. */
    while (rc == 0 && !api->replied) {
        rc = jsapi_scan(api);
        if (rc == 0 && !api->replied) {
            rc = jsapi_read(api, deadline_ns);
        }
    }
    if (rc == -ETIMEDOUT) {
        snprintf(api->error, sizeof api->error, "no reply to %s within %d ms", subject, timeout_ms);
    }
    if (rc < 0) {
        return rc;
    }
    json_error_t error;
    *reply = json_loadb(api->reply, api->reply_size, 0, &error);
    if (*reply == NULL || !json_is_object(*reply)) {
        snprintf(api->error, sizeof api->error, "reply to %s is no JSON object: %.80s", subject,
                 api->reply);
        json_decref(*reply);
        return -EPROTO;
    }
    return 0;
}

/* True when `reply` holds the API's "error" object; its description goes to api->error
 * and its codes to *code and *err_code. */
static bool jsapi_refused(struct jsapi *api, const char *subject, json_t *reply, int *code,
                          int *err_code)
{
    json_t *error = json_object_get(reply, "error");
    if (error == NULL) {
        return false;
    }
    const char *description = json_string_value(json_object_get(error, "description"));
    *code = (int)json_integer_value(json_object_get(error, "code"));
    *err_code = (int)json_integer_value(json_object_get(error, "err_code"));
    snprintf(api->error, sizeof api->error, "%s: %s (code %d, err_code %d)", subject,
             description != NULL ? description : "no description", *code, *err_code);
    return true;
}

/* One request whose refusal is a failure, except for the err_code `tolerated` (0: none). */
static int jsapi_call(struct jsapi *api, const char *subject, const char *body, int tolerated,
                      json_t **reply)
{
    int rc = jsapi_request(api, subject, body, JSAPI_TIMEOUT_MS, reply);
    if (rc < 0) {
        return rc;
    }
    int code = 0;
    int err_code = 0;
    if (jsapi_refused(api, subject, *reply, &code, &err_code) && err_code != tolerated) {
        json_decref(*reply);
        *reply = NULL;
        return -EREMOTEIO;
    }
    return 0;
}

int jsapi_probe(struct jsapi *api)
{
    static const char subject[] = "$JS.API.INFO";
    json_t *reply = NULL;
    int rc = jsapi_request(api, subject, "", JSAPI_PROBE_TIMEOUT_MS, &reply);
    if (rc == -ETIMEDOUT) {
        snprintf(api->error, sizeof api->error, "nobody answers %s within %d s", subject,
                 JSAPI_PROBE_TIMEOUT_MS / JSAPI_MS_PER_S);
        return -ENOTSUP;
    }
    if (rc < 0) {
        return rc;
    }
    int code = 0;
    int err_code = 0;
    if (jsapi_refused(api, subject, reply, &code, &err_code)) {
        rc = code == JSAPI_CODE_UNAVAILABLE ? -ENOTSUP : -EREMOTEIO;
    }
    json_decref(reply);
    return rc;
}

static void jsapi_subject(char *subject, const char *operation, const struct bench_opts *opts)
{
    int size =
        snprintf(subject, JSAPI_SUBJECT_SIZE_MAX, "$JS.API.STREAM.%s.%s", operation, opts->stream);
    ASSERT(size > 0 && size < JSAPI_SUBJECT_SIZE_MAX);
}

int jsapi_stream_delete(struct jsapi *api, const struct bench_opts *opts)
{
    char subject[JSAPI_SUBJECT_SIZE_MAX];
    jsapi_subject(subject, "DELETE", opts);
    json_t *reply = NULL;
    int rc = jsapi_call(api, subject, "", 0, &reply);
    json_decref(reply);
    return rc;
}

int jsapi_stream_create(struct jsapi *api, const struct bench_opts *opts)
{
    /* A stream left by an interrupted run would carry its messages (and an identical
     * configuration would be accepted as is): delete it first. */
    char subject[JSAPI_SUBJECT_SIZE_MAX];
    jsapi_subject(subject, "DELETE", opts);
    json_t *reply = NULL;
    int rc = jsapi_call(api, subject, "", JSAPI_ERR_STREAM_NOT_FOUND, &reply);
    json_decref(reply);
    if (rc < 0) {
        return rc;
    }
    /* --subjects: one wildcard takes them all, as a stream of many subjects is set up. */
    char taken[BENCH_SUBJECT_SIZE_MAX + sizeof ".>"];
    int taken_size = snprintf(taken, sizeof taken, opts->subjects > 0 ? "%s.>" : "%s",
                              opts->subject);
    ASSERT(taken_size > 0 && (size_t)taken_size < sizeof taken);
    json_t *config = json_pack("{s:s, s:[s], s:s, s:s, s:s}", "name", opts->stream, "subjects",
                               taken, "storage", bench_storage_name(opts->storage),
                               "retention", "limits", "discard", "old");
    char *body = config != NULL ? json_dumps(config, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(config);
    if (body == NULL) {
        snprintf(api->error, sizeof api->error, "out of memory");
        return -ENOMEM;
    }
    jsapi_subject(subject, "CREATE", opts);
    rc = jsapi_call(api, subject, body, 0, &reply);
    free(body);
    json_decref(reply);
    return rc;
}

int jsapi_stream_messages(struct jsapi *api, const struct bench_opts *opts, uint64_t *messages,
                          int64_t *subjects)
{
    char subject[JSAPI_SUBJECT_SIZE_MAX];
    jsapi_subject(subject, "INFO", opts);
    json_t *reply = NULL;
    int rc = jsapi_call(api, subject, "", 0, &reply);
    if (rc < 0) {
        return rc;
    }
    json_int_t count = 0;
    if (json_unpack(reply, "{s:{s:I}}", "state", "messages", &count) < 0 || count < 0) {
        snprintf(api->error, sizeof api->error, "%s: no state.messages in the reply", subject);
        rc = -EPROTO;
    }
    *messages = (uint64_t)count;
    json_int_t subject_count = -1;
    if (json_unpack(reply, "{s:{s:I}}", "state", "num_subjects", &subject_count) < 0 ||
        subject_count < 0) {
        subject_count = -1; /* optional: older servers leave it out */
    }
    *subjects = (int64_t)subject_count;
    json_decref(reply);
    return rc;
}

/* A name the server gave, fit to go into an API subject unescaped (see opts_stream). */
static bool jsapi_name_plain(const char *name)
{
    size_t size = strlen(name);
    if (size == 0 || size >= JSAPI_NAME_SIZE_MAX) {
        return false;
    }
    for (size_t i = 0; i < size; i++) {
        char c = name[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_';
        if (!plain) {
            return false;
        }
    }
    return true;
}

/* The consumer config js-consume asks for (see jsapi.h); NULL when out of memory. */
static json_t *jsapi_consumer_config(const struct bench_opts *opts, const char *durable,
                                     const char *deliver)
{
    /* nats.go's ordered consumer: idle heartbeat 5 s (in ns, as the API takes it). */
    static const json_int_t heartbeat_ns = 5 * (json_int_t)NS_PER_SEC;
    const char *ack = bench_ack_name(opts->ack);
    if (durable != NULL) {
        return json_pack("{s:s, s:s, s:s, s:s}", "durable_name", durable, "deliver_policy", "all",
                         "ack_policy", ack, "replay_policy", "instant");
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:b, s:i}", "deliver_subject", deliver,
                     "deliver_policy", "all", "ack_policy", ack, "replay_policy", "instant",
                     "max_deliver", 1, "idle_heartbeat", heartbeat_ns, "mem_storage", 1,
                     "num_replicas", 1);
}

/* Copies the reply's name (checked plain) and config (compact, "" when too large). */
static int jsapi_consumer_echo(struct jsapi *api, json_t *reply, char *name, char *config,
                               size_t config_size)
{
    const char *named = json_string_value(json_object_get(reply, "name"));
    if (named == NULL || !jsapi_name_plain(named)) {
        snprintf(api->error, sizeof api->error, "consumer create: no usable name in the reply");
        return -EPROTO;
    }
    snprintf(name, JSAPI_NAME_SIZE_MAX, "%s", named);
    config[0] = '\0';
    json_t *echoed = json_object_get(reply, "config");
    char *text = echoed != NULL ? json_dumps(echoed, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text != NULL && strlen(text) < config_size) {
        strcpy(config, text);
    }
    free(text);
    return 0;
}

int jsapi_consumer_create(struct jsapi *api, const struct bench_opts *opts, const char *durable,
                          const char *deliver, char name[JSAPI_NAME_SIZE_MAX], char *config,
                          size_t config_size)
{
    ASSERT((durable == NULL) != (deliver == NULL)); /* pull or push */
    json_t *consumer = jsapi_consumer_config(opts, durable, deliver);
    /* "o" steals the reference to the config, also when packing fails. */
    json_t *request = consumer != NULL ? json_pack("{s:s, s:o}", "stream_name", opts->stream,
                                                   "config", consumer)
                                       : NULL;
    char *body = request != NULL ? json_dumps(request, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(request);
    if (body == NULL) {
        snprintf(api->error, sizeof api->error, "out of memory");
        return -ENOMEM;
    }
    char subject[JSAPI_SUBJECT_SIZE_MAX];
    int size = durable != NULL ? snprintf(subject, sizeof subject,
                                          "$JS.API.CONSUMER.DURABLE.CREATE.%s.%s", opts->stream,
                                          durable)
                               : snprintf(subject, sizeof subject, "$JS.API.CONSUMER.CREATE.%s",
                                          opts->stream);
    ASSERT(size > 0 && (size_t)size < sizeof subject);
    json_t *reply = NULL;
    int rc = jsapi_call(api, subject, body, 0, &reply);
    free(body);
    if (rc == 0) {
        rc = jsapi_consumer_echo(api, reply, name, config, config_size);
    }
    json_decref(reply);
    return rc;
}

int jsapi_consumer_state(struct jsapi *api, const struct bench_opts *opts, const char *name,
                         struct jsapi_consumer_state *state)
{
    char subject[JSAPI_SUBJECT_SIZE_MAX];
    int size = snprintf(subject, sizeof subject, "$JS.API.CONSUMER.INFO.%s.%s", opts->stream, name);
    ASSERT(size > 0 && (size_t)size < sizeof subject);
    json_t *reply = NULL;
    int rc = jsapi_call(api, subject, "", 0, &reply);
    if (rc < 0) {
        return rc;
    }
    json_int_t delivered = -1;
    json_int_t ack_floor = -1;
    json_int_t ack_pending = -1;
    json_int_t pending = -1;
    if (json_unpack(reply, "{s:{s:I}, s:{s:I}, s:I, s:I}", "delivered", "stream_seq", &delivered,
                    "ack_floor", "stream_seq", &ack_floor, "num_ack_pending", &ack_pending,
                    "num_pending", &pending) < 0 ||
        delivered < 0 || ack_floor < 0 || ack_pending < 0 || pending < 0) {
        snprintf(api->error, sizeof api->error, "%s: no delivered, ack_floor or pending counts",
                 subject);
        rc = -EPROTO;
    }
    *state = (struct jsapi_consumer_state){
        .delivered = (uint64_t)delivered,
        .ack_floor = (uint64_t)ack_floor,
        .ack_pending = (uint64_t)ack_pending,
        .pending = (uint64_t)pending,
    };
    json_decref(reply);
    return rc;
}
