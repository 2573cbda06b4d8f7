/* Mirrors and sources: a stream that copies the messages of other streams, on this server
 * or, through an API prefix, in another JetStream domain (a hub across a leafnode link).
 *
 * The one idea: each origin is read the way nats-server reads it, with the JetStream API
 * alone, so an origin on nats-server and one on ionats look the same: the stream's owner
 * asks for an ephemeral push consumer on the origin ($JS.API.CONSUMER.CREATE.<origin>, AckNone,
 * flow control, 1 s heartbeats, a 10 s inactive threshold) delivering to a subject of its
 * own, subscribed before the request leaves so that nothing delivered is missed. The ack
 * reply of each delivery names its origin sequence, so a mirror stores each message at its
 * origin's sequence with its origin's timestamp (skipping what the origin no longer has),
 * and a source stores it at its own next sequence with a Nats-Stream-Source header naming
 * where it came from, which is also where a restart finds its place again. A gap in the
 * delivery sequence, a heartbeat naming another last delivery, or 10 s without a word
 * make a new consumer from the last sequence stored; failed requests are retried with
 * nats-server's back-off (2 s apart at least, then 10 s more per failure, 2 minutes at
 * most). Messages arriving here are in js_source_msg.c.
 *
 * Owner shard's thread only: a stream's sources live and die with its subscriptions. */
#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/js_internal.h"
#include "engine/js_source.h"
#include "engine/route.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "proto/go_json.h"
#include "proto/subject_transform.h"
#include "store/stream_store.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* nats-server's timings (sourceHealthHB, sourceHealthCheckInterval,
 * sourceConsumerRetryThreshold, retryBackOff, retryMaximum, srcConsumerWaitTime). */
#define SOURCE_HEARTBEAT_NS INT64_C(1000000000)
#define SOURCE_HEALTH_NS INT64_C(10000000000)
#define SOURCE_RETRY_THRESHOLD_NS INT64_C(2000000000)
#define SOURCE_RETRY_BACKOFF_NS INT64_C(5000000000)
#define SOURCE_RETRY_MAX_NS INT64_C(120000000000)
#define SOURCE_CREATE_WAIT_NS INT64_C(30000000000)
/* A consumer's ack_wait as a source's: 22 hours (nothing is acked). */
#define SOURCE_ACK_WAIT_NS INT64_C(79200000000000)

static const char RANDOM_ALPHABET[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const struct js_stream_source *js_source_config(const struct js_source *source)
{
    const struct js_stream_config *config = &source->stream->config;
    return source->mirror ? config->mirror : &config->sources[source->index];
}

/* `prefix` "." and 22 random characters of nats-server's alphabet (its syncSubject). */
static char *random_subject(const char *prefix)
{
    enum { RANDOM_LENGTH = 22 };
    unsigned char random[RANDOM_LENGTH] = {0};
    (void)getrandom(random, sizeof random, 0);
    size_t prefix_length = strlen(prefix);
    char *subject = malloc(prefix_length + 1 + RANDOM_LENGTH + 1);
    if (subject == NULL) {
        return NULL;
    }
    memcpy(subject, prefix, prefix_length);
    size_t at = prefix_length;
    subject[at++] = '.';
    for (size_t i = 0; i < RANDOM_LENGTH; i++) {
        subject[at++] = RANDOM_ALPHABET[random[i] % (sizeof RANDOM_ALPHABET - 1)];
    }
    subject[at] = '\0';
    return subject;
}

/* `text` with every ".." made "." (how nats-server joins a prefix and a subject). */
static void collapse_dots(char *text)
{
    char *to = text;
    for (const char *from = text; *from != '\0'; from++) {
        if (*from == '.' && to > text && to[-1] == '.') {
            continue;
        }
        *to++ = *from;
    }
    *to = '\0';
}

/* nats-server's getHash: 8 characters of its alphabet from the SHA-256 of `text`. */
static void name_hash(const char *text, char out[9])
{
    unsigned char digest[EVP_MAX_MD_SIZE] = {0};
    unsigned int length = 0;
    (void)EVP_Digest(text, strlen(text), digest, &length, EVP_sha256(), NULL);
    for (int i = 0; i < 8; i++) {
        out[i] = RANDOM_ALPHABET[digest[i] % (sizeof RANDOM_ALPHABET - 1)];
    }
    out[8] = '\0';
}

/* Appends the transforms' sources (or destinations) joined by '\f', an empty one ">". */
static void transforms_join(struct go_json *text, const struct js_stream_source *config,
                            bool destinations)
{
    for (size_t i = 0; i < config->subject_transform_count; i++) {
        const struct js_stream_subject_transform *transform = &config->subject_transforms[i];
        const char *part = destinations ? transform->dest : transform->src;
        if (i > 0) {
            go_json_raw(text, "\f", 1);
        }
        go_json_literal(text, part != NULL ? part : ">");
    }
}

/* A source's index name, nats-server's composeIName: "<name>[:<hash of the API prefix>]
 * <filter or >> >", or with transforms "<name> <sources> <destinations>" each list joined
 * by '\f'. Malloc'd, NULL without memory. */
static char *index_name(const struct js_stream_source *config)
{
    struct go_json text;
    go_json_init(&text, (size_t)64 * 1024);
    go_json_literal(&text, config->name);
    if (config->has_external && config->external.api != NULL) {
        char hash[9];
        name_hash(config->external.api, hash);
        go_json_literal(&text, ":");
        go_json_literal(&text, hash);
    }
    go_json_literal(&text, " ");
    if (config->subject_transform_count > 0) {
        transforms_join(&text, config, false);
        go_json_literal(&text, " ");
        transforms_join(&text, config, true);
    } else {
        go_json_literal(&text, config->filter_subject != NULL ? config->filter_subject : ">");
        go_json_literal(&text, " >");
    }
    if (text.failed) {
        go_json_free(&text);
        return NULL;
    }
    return text.data;
}

/* Compiles the source's subject transforms (checked with the config: only memory fails). */
static int transforms_make(struct js_source *source)
{
    const struct js_stream_source *config = js_source_config(source);
    if (config->subject_transform_count == 0) {
        return 0;
    }
    source->transforms = calloc(config->subject_transform_count, sizeof *source->transforms);
    if (source->transforms == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < config->subject_transform_count; i++) {
        const struct js_stream_subject_transform *transform = &config->subject_transforms[i];
        char error[256];
        int rc = subject_transform_new(transform->src, transform->dest, &source->transforms[i],
                                       error, sizeof error);
        if (rc != 0) {
            LOG_ERROR("JetStream: stream %s: transform of %s not made: %s",
                      source->stream->config.name, config->name,
                      rc == -ENOMEM ? strerror(ENOMEM) : error);
            return rc;
        }
        source->transform_count = i + 1;
    }
    return 0;
}

static void transforms_free(struct js_source *source)
{
    for (size_t i = 0; i < source->transform_count; i++) {
        subject_transform_free(source->transforms[i]);
    }
    free(source->transforms);
    source->transforms = NULL;
    source->transform_count = 0;
}

/* ---- the consumer on the origin ---- */

static void timer_fired(struct timer_entry *entry, void *context);

static void arm(struct js_source *source, int64_t delay_ns)
{
    struct shard *shard = source->stream->js->shard;
    timer_cancel(&shard->timers, &source->timer);
    timer_arm(&shard->timers, &source->timer, clock_monotonic_ns() + delay_ns);
}

/* Drops the consumer being asked for or read (it expires on the origin by itself after
 * its inactive threshold, as nats-server's do). */
static void cancel(struct js_source *source)
{
    struct shard *shard = source->stream->js->shard;
    if (source->deliver_sub != NULL) {
        service_unsubscribe(shard, source->deliver_sub);
        source->deliver_sub = NULL;
    }
    if (source->reply_sub != NULL) {
        service_unsubscribe(shard, source->reply_sub);
        source->reply_sub = NULL;
    }
    free(source->deliver);
    source->deliver = NULL;
    free(source->cname);
    source->cname = NULL;
    source->state = JS_SOURCE_IDLE;
}

/* When the next request may leave: 2 s after the last at the soonest, then nats-server's
 * back-off for the failures so far, and 100 to 200 ms of jitter. */
static int64_t retry_delay(const struct js_source *source)
{
    int64_t delay = 0;
    if (source->requested_ns != 0) {
        int64_t since = clock_monotonic_ns() - source->requested_ns;
        if (since < SOURCE_RETRY_THRESHOLD_NS) {
            delay = SOURCE_RETRY_THRESHOLD_NS - since;
        }
    }
    int64_t backoff = SOURCE_RETRY_BACKOFF_NS * 2 * (int64_t)source->fails;
    delay += backoff < SOURCE_RETRY_MAX_NS ? backoff : SOURCE_RETRY_MAX_NS;
    unsigned char random = 0;
    (void)getrandom(&random, sizeof random, 0);
    return delay + INT64_C(100000000) + (int64_t)random * INT64_C(100000000) / 256;
}

void js_source_retry(struct js_source *source, bool failed)
{
    if (failed) {
        source->fails++;
    }
    LOG_DEBUG("JetStream: stream %s: retrying the consumer of %s %s",
              source->stream->config.name, source->mirror ? "mirror" : "source",
              js_source_config(source)->name);
    cancel(source);
    arm(source, retry_delay(source));
}

void js_source_error_set(struct js_source *source, int code, int err_code,
                         const char *description)
{
    source->has_error = true;
    source->error_code = code;
    source->error_err_code = err_code;
    snprintf(source->error_description, sizeof source->error_description, "%s", description);
}

void js_source_activated(struct js_source *source)
{
    source->state = JS_SOURCE_ACTIVE;
    source->has_error = false;
    source->fails = 0;
    source->last_ns = clock_monotonic_ns();
    arm(source, SOURCE_HEALTH_NS);
}

/* A setup that failed before the request left: recorded as nats-server's
 * mirror/source consumer setup errors (10029, 10045) and retried. */
static void setup_failed(struct js_source *source, const char *why)
{
    char text[sizeof source->error_description];
    snprintf(text, sizeof text, "%s consumer setup failed: %s",
             source->mirror ? "mirror" : "source", why);
    js_source_error_set(source, 500, source->mirror ? 10029 : 10045, text);
    js_source_retry(source, true);
}

static const char *deliver_policy_of(const struct js_source *source, uint64_t *start_seq,
                                     int64_t *start_ns)
{
    const struct js_stream_source *config = js_source_config(source);
    struct stream_store_info info;
    stream_store_info_get(source->stream->store, &info);
    *start_seq = 0;
    *start_ns = 0;
    if (source->mirror) {
        if (info.last_seq > 0) {
            *start_seq = info.last_seq + 1;
            return "by_start_sequence";
        }
    } else if (source->sseq > 0) {
        *start_seq = source->sseq + 1;
        return "by_start_sequence";
    }
    if (config->opt_start_seq > 0) {
        *start_seq = config->opt_start_seq;
        return "by_start_sequence";
    }
    if (config->has_opt_start_time) {
        *start_ns = js_stream_time_unix_ns(&config->opt_start_time);
        if (!source->mirror && info.last_timestamp_ns > *start_ns) {
            *start_ns = info.last_timestamp_ns; /* what is stored already came before */
        }
        return "by_start_time";
    }
    return "all";
}

/* The create request's body (nats-server's CreateConsumerRequest for a mirror or source
 * without durable sourcing): malloc'd, NULL without memory. */
static char *request_body(const struct js_source *source)
{
    const struct js_stream_source *config = js_source_config(source);
    uint64_t start_seq;
    int64_t start_ns;
    const char *policy = deliver_policy_of(source, &start_seq, &start_ns);
    struct go_json json;
    go_json_init(&json, (size_t)64 * 1024);
    go_json_literal(&json, "{");
    go_json_key_cstring(&json, "stream_name", config->name);
    go_json_key(&json, "config");
    go_json_literal(&json, "{");
    go_json_key_cstring(&json, "deliver_policy", policy);
    if (start_seq > 0) {
        go_json_key_uint(&json, "opt_start_seq", start_seq);
    }
    if (start_ns != 0) {
        go_json_key(&json, "opt_start_time");
        js_json_time(&json, start_ns);
    }
    go_json_key_cstring(&json, "ack_policy", "none");
    go_json_key_int(&json, "ack_wait", SOURCE_ACK_WAIT_NS);
    go_json_key_int(&json, "max_deliver", 1);
    if (config->filter_subject != NULL) {
        go_json_key_cstring(&json, "filter_subject", config->filter_subject);
    } else if (config->subject_transform_count == 1) {
        const char *filter = config->subject_transforms[0].src;
        go_json_key_cstring(&json, "filter_subject", filter != NULL ? filter : ">");
    } else if (config->subject_transform_count > 1) {
        go_json_key(&json, "filter_subjects");
        go_json_literal(&json, "[");
        for (size_t i = 0; i < config->subject_transform_count; i++) {
            const char *filter = config->subject_transforms[i].src;
            go_json_comma(&json);
            go_json_cstring(&json, filter != NULL ? filter : ">");
        }
        go_json_literal(&json, "]");
    }
    go_json_key_cstring(&json, "replay_policy", "instant");
    go_json_key_cstring(&json, "deliver_subject", source->deliver);
    go_json_key_bool(&json, "flow_control", true);
    go_json_key_int(&json, "idle_heartbeat", SOURCE_HEARTBEAT_NS);
    go_json_key_bool(&json, "direct", true);
    go_json_key_int(&json, "inactive_threshold", SOURCE_HEALTH_NS);
    go_json_literal(&json, "}}");
    if (json.failed) {
        go_json_free(&json);
        return NULL;
    }
    return json.data; /* owned, NUL-terminated */
}

/* $JS.API.CONSUMER.CREATE.<origin>, under the external API prefix when there is one. */
static char *request_subject(const struct js_stream_source *config)
{
    const char *api = config->has_external && config->external.api != NULL
                          ? config->external.api
                          : "$JS.API";
    size_t size = strlen(api) + strlen(".CONSUMER.CREATE.") + strlen(config->name) + 1;
    char *subject = malloc(size);
    if (subject != NULL) {
        snprintf(subject, size, "%s.CONSUMER.CREATE.%s", api, config->name);
        collapse_dots(subject);
    }
    return subject;
}

/* The subject the origin delivers to: $JS.M.<random> (a mirror), $JS.S.<random> (a
 * source), or under the external deliver prefix when there is one. */
static char *deliver_subject(const struct js_source *source)
{
    const struct js_stream_source *config = js_source_config(source);
    const char *kind = source->mirror ? "M" : "S";
    char prefix[JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX + 8];
    if (config->has_external && config->external.deliver != NULL) {
        snprintf(prefix, sizeof prefix, "%s.%s", config->external.deliver, kind);
    } else {
        snprintf(prefix, sizeof prefix, "$JS.%s", kind);
    }
    char *subject = random_subject(prefix);
    if (subject != NULL) {
        collapse_dots(subject);
    }
    return subject;
}

static void reply_handle(struct shard *shard, void *context, const struct route_msg *msg);

/* Asks the origin for a consumer: the deliver subject and the reply inbox are subscribed
 * first, then the request leaves; its answer (or 30 s of silence) decides what follows. */
static void setup(struct js_source *source)
{
    struct js_stream *stream = source->stream;
    struct shard *shard = stream->js->shard;
    const struct js_stream_source *config = js_source_config(source);
    cancel(source);
    source->requested_ns = clock_monotonic_ns();
    source->dseq = 0;
    if (source->mirror) {
        struct stream_store_info info;
        stream_store_info_get(stream->store, &info);
        source->sseq = info.last_seq;
    }
    source->deliver = deliver_subject(source);
    char *inbox = random_subject("$JSC.R");
    char *subject = request_subject(config);
    char *body = source->deliver != NULL ? request_body(source) : NULL;
    int error = -ENOMEM;
    if (subject != NULL && !route_has_interest(shard, subject, strlen(subject))) {
        /* nobody answers there yet (this server starting, a link to the origin's domain
         * not up): asked again in 2 s, without the back-off of a refusal */
        free(inbox);
        free(subject);
        free(body);
        js_source_error_set(source, 503, source->mirror ? 10029 : 10045,
                  "no responders for the consumer create request");
        js_source_retry(source, false);
        return;
    }
    if (inbox != NULL && subject != NULL && body != NULL) {
        source->deliver_sub = service_subscribe(shard, source->deliver, NULL,
                                                js_source_deliver_handle, source, &error);
    }
    if (source->deliver_sub != NULL) {
        service_sub_show_delivered(source->deliver_sub);
        source->reply_sub = service_subscribe(shard, inbox, NULL, reply_handle, source, &error);
    }
    if (source->reply_sub == NULL) {
        free(inbox);
        free(subject);
        free(body);
        setup_failed(source, strerror(-error));
        return;
    }
    source->state = JS_SOURCE_REQUESTING;
    const struct route_msg request = {
        .subject = {.data = subject, .length = (uint32_t)strlen(subject)},
        .reply = {.data = inbox, .length = (uint32_t)strlen(inbox)},
        .payload = {.data = body, .length = (uint32_t)strlen(body)},
    };
    service_publish(shard, &request);
    LOG_DEBUG("JetStream: stream %s: asked %s for a consumer of %s", stream->config.name,
              subject, config->name);
    free(inbox);
    free(subject);
    free(body);
    arm(source, SOURCE_CREATE_WAIT_NS);
}

/* A mirror whose origin has already delivered past what it holds (the origin's first
 * messages are gone): it goes on from there, the sequences between counted deleted. */
static int mirror_catch_up(struct js_source *source, uint64_t delivered)
{
    struct stream_store_info info;
    stream_store_info_get(source->stream->store, &info);
    if (info.last_seq < delivered) {
        int rc = stream_store_skip(source->stream->store, delivered);
        if (rc != 0) {
            return rc;
        }
        source->stream->dirty = true;
        source->stream->appended_seq = delivered;
    }
    source->sseq = delivered > info.last_seq ? delivered : info.last_seq;
    return 0;
}

/* The origin's answer to the create request. */
static void reply_handle(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct js_source *source = context;
    if (source->state == JS_SOURCE_ACTIVE && source->reply_sub != NULL) {
        /* deliveries came first and named the consumer (js_source_msg.c) */
        service_unsubscribe(shard, source->reply_sub);
        source->reply_sub = NULL;
        return;
    }
    if (source->state != JS_SOURCE_REQUESTING) {
        return;
    }
    static const char NO_RESPONDERS[] = "NATS/1.0 503";
    if (msg->header_length >= sizeof NO_RESPONDERS - 1 &&
        memcmp(msg->payload.data, NO_RESPONDERS, sizeof NO_RESPONDERS - 1) == 0) {
        /* no JetStream there yet (this server starting, a link not up): asked again in
         * 2 s, without the back-off of a refusal */
        js_source_error_set(source, 503, source->mirror ? 10029 : 10045,
                  "no responders for the consumer create request");
        js_source_retry(source, false);
        return;
    }
    const char *body = msg->payload.data + msg->header_length;
    size_t length = msg->payload.length - msg->header_length;
    json_error_t parse_error;
    json_t *root = json_loadb(body, length, 0, &parse_error);
    const char *what = source->mirror ? "mirror" : "source";
    const char *origin = js_source_config(source)->name;
    json_t *error = root != NULL ? json_object_get(root, "error") : NULL;
    const char *name = root != NULL ? json_string_value(json_object_get(root, "name")) : NULL;
    if (root == NULL || json_is_object(error) || name == NULL) {
        const char *description = "invalid consumer create response";
        int code = 500;
        int err_code = source->mirror ? 10029 : 10045;
        if (json_is_object(error)) {
            const char *text = json_string_value(json_object_get(error, "description"));
            description = text != NULL ? text : description;
            code = (int)json_integer_value(json_object_get(error, "code"));
            err_code = (int)json_integer_value(json_object_get(error, "err_code"));
        }
        LOG_WARN("JetStream: stream %s: error response for create %s consumer of %s: %s",
                 source->stream->config.name, what, origin, description);
        js_source_error_set(source, code, err_code, description);
        json_decref(root);
        js_source_retry(source, true);
        return;
    }
    json_t *delivered = json_object_get(root, "delivered");
    json_int_t stream_seq = json_integer_value(json_object_get(delivered, "stream_seq"));
    uint64_t delivered_seq = stream_seq > 0 ? (uint64_t)stream_seq : 0;
    source->cname = strdup(name);
    json_decref(root);
    service_unsubscribe(shard, source->reply_sub);
    source->reply_sub = NULL;
    if (source->cname == NULL) {
        setup_failed(source, strerror(ENOMEM));
        return;
    }
    if (source->mirror) {
        int rc = mirror_catch_up(source, delivered_seq);
        if (rc != 0) {
            setup_failed(source, strerror(-rc));
            return;
        }
    } else if (source->sseq < delivered_seq) {
        source->sseq = delivered_seq;
    }
    source->dseq = 0;
    js_source_activated(source);
    LOG_DEBUG("JetStream: stream %s: %s %s read by consumer %s from %llu",
              source->stream->config.name, what, origin, source->cname,
              (unsigned long long)source->sseq + 1);
}

static void timer_fired(struct timer_entry *entry, void *context)
{
    (void)entry;
    struct js_source *source = context;
    switch (source->state) {
    case JS_SOURCE_IDLE:
        if (clock_monotonic_ns() - source->requested_ns < SOURCE_RETRY_THRESHOLD_NS &&
            source->requested_ns != 0) {
            arm(source, retry_delay(source));
            return;
        }
        setup(source);
        return;
    case JS_SOURCE_REQUESTING:
        LOG_WARN("JetStream: stream %s: no answer from %s to create a %s consumer in %d s",
                 source->stream->config.name, js_source_config(source)->name,
                 source->mirror ? "mirror" : "source", (int)(SOURCE_CREATE_WAIT_NS / 1000000000));
        js_source_retry(source, true);
        return;
    case JS_SOURCE_ACTIVE:
        if (clock_monotonic_ns() - source->last_ns > SOURCE_HEALTH_NS) {
            js_source_retry(source, false); /* stalled: nothing heard for 10 s */
            return;
        }
        arm(source, SOURCE_HEALTH_NS);
        return;
    }
}

/* ---- a stream's sources ---- */

static struct js_source *source_new(struct js_stream *stream, bool mirror, size_t index)
{
    struct js_source *source = calloc(1, sizeof *source);
    if (source == NULL) {
        return NULL;
    }
    source->stream = stream;
    source->mirror = mirror;
    source->index = index;
    timer_entry_init(&source->timer, timer_fired, source);
    if ((!mirror && (source->iname = index_name(&stream->config.sources[index])) == NULL) ||
        transforms_make(source) != 0) {
        transforms_free(source);
        free(source->iname);
        free(source);
        return NULL;
    }
    return source;
}

void js_source_direct_check(struct js_source *source)
{
    struct js_stream *stream = source->stream;
    if (!source->mirror || !stream->config.mirror_direct || source->direct_subs[1] != NULL ||
        source->lag >= 10) {
        return;
    }
    struct shard *shard = stream->js->shard;
    const char *origin = js_source_config(source)->name;
    char subject[64 + JS_STREAM_CONFIG_NAME_LENGTH_MAX];
    int error = 0;
    for (int i = 0; i < 2; i++) {
        if (source->direct_subs[i] != NULL) {
            continue;
        }
        snprintf(subject, sizeof subject, i == 0 ? "$JS.API.DIRECT.GET.%s" : "$JS.API.DIRECT.GET.%s.>",
                 origin);
        source->direct_subs[i] = service_subscribe(shard, subject, JS_DIRECT_GET_GROUP,
                                                   js_direct_get_handle, stream, &error);
        if (source->direct_subs[i] == NULL) {
            LOG_WARN("JetStream: stream %s: cannot serve direct gets of %s: %s",
                     stream->config.name, origin, strerror(-error));
            return; /* tried again with the next message */
        }
    }
}

static void source_free(struct js_source *source)
{
    if (source == NULL) {
        return;
    }
    struct shard *shard = source->stream->js->shard;
    for (int i = 0; i < 2; i++) {
        if (source->direct_subs[i] != NULL) {
            service_unsubscribe(shard, source->direct_subs[i]);
        }
    }
    cancel(source);
    timer_cancel(&source->stream->js->shard->timers, &source->timer);
    transforms_free(source);
    free(source->iname);
    free(source);
}

int js_sources_start(struct js_stream *stream)
{
    ASSERT(stream->source_links == NULL);
    const struct js_stream_config *config = &stream->config;
    size_t count = config->mirror != NULL ? 1 : config->source_count;
    if (count == 0 || config->sealed) {
        return 0; /* a sealed stream reads nothing more */
    }
    stream->source_links = calloc(count, sizeof *stream->source_links);
    if (stream->source_links == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        struct js_source *source = source_new(stream, config->mirror != NULL, i);
        if (source == NULL) {
            js_sources_stop(stream);
            return -ENOMEM;
        }
        stream->source_links[stream->source_link_count++] = source;
    }
    if (config->mirror == NULL) {
        js_sources_find_positions(stream);
    }
    for (size_t i = 0; i < stream->source_link_count; i++) {
        arm(stream->source_links[i], 0); /* from the loop, outside the request at hand */
    }
    return 0;
}

void js_sources_stop(struct js_stream *stream)
{
    for (size_t i = 0; i < stream->source_link_count; i++) {
        source_free(stream->source_links[i]);
    }
    free(stream->source_links);
    stream->source_links = NULL;
    stream->source_link_count = 0;
}

/* ---- stream info's "mirror" and "sources" ---- */

static void source_info_json(const struct js_source *source, struct go_json *json)
{
    const struct js_stream_source *config = js_source_config(source);
    go_json_literal(json, "{");
    go_json_key_cstring(json, "name", config->name);
    if (config->has_external) {
        go_json_key(json, "external");
        go_json_literal(json, "{");
        go_json_key_cstring(json, "api", config->external.api != NULL ? config->external.api : "");
        go_json_key_cstring(json, "deliver",
                            config->external.deliver != NULL ? config->external.deliver : "");
        go_json_literal(json, "}");
    }
    go_json_key_uint(json, "lag", source->lag);
    if (!source->mirror && source->sseq > 0) {
        /* 2.15's: the last origin sequence copied (omitted when none, and for mirrors) */
        go_json_key_uint(json, "seq", source->sseq);
    }
    go_json_key_int(json, "active",
                    source->last_ns == 0 ? -1 : clock_monotonic_ns() - source->last_ns);
    if (source->has_error) {
        go_json_key(json, "error");
        go_json_literal(json, "{");
        go_json_key_int(json, "code", source->error_code);
        go_json_key_int(json, "err_code", source->error_err_code);
        go_json_key_cstring(json, "description", source->error_description);
        go_json_literal(json, "}");
    }
    if (config->filter_subject != NULL) {
        go_json_key_cstring(json, "filter_subject", config->filter_subject);
    }
    if (config->subject_transform_count > 0) {
        go_json_key(json, "subject_transforms");
        go_json_literal(json, "[");
        for (size_t i = 0; i < config->subject_transform_count; i++) {
            const struct js_stream_subject_transform *transform = &config->subject_transforms[i];
            go_json_comma(json);
            go_json_literal(json, "{");
            go_json_key_cstring(json, "src", transform->src != NULL ? transform->src : "");
            go_json_key_cstring(json, "dest", transform->dest != NULL ? transform->dest : "");
            go_json_literal(json, "}");
        }
        go_json_literal(json, "]");
    }
    go_json_literal(json, "}");
}

void js_sources_info_json(const struct js_stream *stream, struct go_json *json)
{
    if (stream->source_link_count == 0) {
        return;
    }
    if (stream->config.mirror != NULL) {
        go_json_key(json, "mirror");
        source_info_json(stream->source_links[0], json);
        return;
    }
    go_json_key(json, "sources");
    go_json_literal(json, "[");
    for (size_t i = 0; i < stream->source_link_count; i++) {
        go_json_comma(json);
        source_info_json(stream->source_links[i], json);
    }
    go_json_literal(json, "]");
}
