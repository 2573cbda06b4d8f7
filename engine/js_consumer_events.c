/* What a consumer tells the world besides its deliveries: nats-server's consumer advisories
 * ($JS.EVENT.ADVISORY.CONSUMER.CREATED / DELETED / MAX_DELIVERIES / MSG_NAKED /
 * MSG_TERMINATED / PAUSE / PINNED / UNPINNED .<stream>.<consumer>, with its JSON), and ionats's dead-letter subject.
 *
 * The one idea: an advisory is written only when someone listens on its subject (a lookup
 * in the shard's index), so a consumer under load pays nothing for advisories nobody reads.
 * The dead letter is ionats's own: a consumer whose metadata names a subject under
 * `ionats.dead_letter` gets every message that reached max_deliver or was terminated
 * republished there, whole (its headers and body), with headers naming the stream, the
 * consumer, the stream sequence, the delivery count, the original subject and the reason,
 * so an ordinary stream on that subject keeps them. No new config field: clients that
 * compare configs keep working. Owner shard's thread only. */
#include "engine/js_consumer.h"
#include "engine/route.h"
#include "engine/service.h"
#include "engine/shard.h"
#include "proto/subject.h"
#include "store/stream_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The metadata key that names a consumer's dead-letter subject. */
static const char DEAD_LETTER_KEY[] = "ionats.dead_letter";

/* "$JS.EVENT.ADVISORY.CONSUMER.<what>.<stream>.<consumer>" into `subject`; true when someone
 * listens there. */
static bool advisory_subject(const struct js_consumer *consumer, const char *what, char *subject,
                             size_t size)
{
    int length = snprintf(subject, size, "$JS.EVENT.ADVISORY.CONSUMER.%s.%s.%s", what,
                          consumer->stream->config.name, consumer->name);
    if (length <= 0 || (size_t)length >= size) {
        return false;
    }
    return route_has_interest(consumer->stream->js->shard, subject, (size_t)length);
}

static void advisory_send(struct js_consumer *consumer, const char *subject,
                          struct go_json *json)
{
    go_json_literal(json, "}");
    if (!json->failed) {
        const struct route_msg msg = {
            .subject = {.data = subject, .length = (uint32_t)strlen(subject)},
            .payload = {.data = json->data, .length = (uint32_t)json->length},
        };
        service_publish(consumer->stream->js->shard, &msg);
    }
    go_json_free(json);
}

/* The fields every consumer advisory has after the event's head. */
static void advisory_names(const struct js_consumer *consumer, struct go_json *json)
{
    go_json_key(json, "stream");
    go_json_cstring(json, consumer->stream->config.name);
    go_json_key(json, "consumer");
    go_json_cstring(json, consumer->name);
}

enum { SUBJECT_SIZE = 64 + 2 * JS_STREAM_CONFIG_NAME_LENGTH_MAX };

void js_consumer_event_pause(struct js_consumer *consumer, int64_t until_ns)
{
    char subject[SUBJECT_SIZE];
    if (!advisory_subject(consumer, "PAUSE", subject, sizeof subject)) {
        return;
    }
    struct go_json json;
    go_json_init(&json, 4096);
    js_api_event_begin(&json, "io.nats.jetstream.advisory.v1.consumer_pause");
    advisory_names(consumer, &json);
    go_json_key(&json, "paused");
    go_json_literal(&json, until_ns != 0 ? "true" : "false");
    go_json_key(&json, "pause_until");
    js_json_time(&json, until_ns);
    advisory_send(consumer, subject, &json);
}

/* The head of a priority group advisory: its account (JetStream's is the global one), the
 * names, the domain when there is one, the group. */
static void group_advisory_begin(const struct js_consumer *consumer, const char *type,
                                 const char *group, struct go_json *json)
{
    go_json_init(json, 4096);
    js_api_event_begin(json, type);
    go_json_key(json, "account");
    go_json_cstring(json, "$G");
    advisory_names(consumer, json);
    const char *domain = consumer->stream->js->shard->server->config->js_domain;
    if (domain != NULL) {
        go_json_key(json, "domain");
        go_json_cstring(json, domain);
    }
    go_json_key(json, "group");
    go_json_cstring(json, group);
}

void js_consumer_event_pinned(struct js_consumer *consumer, const char *group)
{
    char subject[SUBJECT_SIZE];
    if (!advisory_subject(consumer, "PINNED", subject, sizeof subject)) {
        return;
    }
    struct go_json json;
    group_advisory_begin(consumer, "io.nats.jetstream.advisory.v1.consumer_group_pinned", group,
                         &json);
    go_json_key(&json, "pinned_id");
    go_json_cstring(&json, consumer->pin_id);
    advisory_send(consumer, subject, &json);
}

void js_consumer_event_unpinned(struct js_consumer *consumer, const char *group,
                                const char *reason)
{
    char subject[SUBJECT_SIZE];
    if (!advisory_subject(consumer, "UNPINNED", subject, sizeof subject)) {
        return;
    }
    struct go_json json;
    group_advisory_begin(consumer, "io.nats.jetstream.advisory.v1.consumer_group_unpinned",
                         group, &json);
    go_json_key(&json, "reason");
    go_json_cstring(&json, reason);
    advisory_send(consumer, subject, &json);
}

void js_consumer_event_action(struct js_consumer *consumer, bool created)
{
    char subject[SUBJECT_SIZE];
    if (!advisory_subject(consumer, created ? "CREATED" : "DELETED", subject, sizeof subject)) {
        return;
    }
    struct go_json json;
    go_json_init(&json, 4096);
    js_api_event_begin(&json, "io.nats.jetstream.advisory.v1.consumer_action");
    advisory_names(consumer, &json);
    go_json_key(&json, "action");
    go_json_cstring(&json, created ? "create" : "delete");
    advisory_send(consumer, subject, &json);
}

/* A delivery advisory: MSG_NAKED, MSG_TERMINATED (with a reason), MAX_DELIVERIES (no
 * consumer sequence in it). */
static void delivery_advisory(struct js_consumer *consumer, const char *what, const char *type,
                              const struct js_consumer_pending *entry, const char *reason,
                              size_t reason_length)
{
    char subject[SUBJECT_SIZE];
    if (!advisory_subject(consumer, what, subject, sizeof subject)) {
        return;
    }
    struct go_json json;
    go_json_init(&json, 8192);
    js_api_event_begin(&json, type);
    advisory_names(consumer, &json);
    if (strcmp(what, "MAX_DELIVERIES") != 0) {
        go_json_key(&json, "consumer_seq");
        go_json_uint(&json, entry->dseq);
    }
    go_json_key(&json, "stream_seq");
    go_json_uint(&json, entry->sseq);
    go_json_key(&json, "deliveries");
    go_json_uint(&json, entry->deliveries);
    if (reason_length > 0) {
        go_json_key(&json, "reason");
        go_json_string(&json, reason, reason_length);
    }
    advisory_send(consumer, subject, &json);
}

void js_consumer_event_nak(struct js_consumer *consumer, const struct js_consumer_pending *entry)
{
    delivery_advisory(consumer, "MSG_NAKED", "io.nats.jetstream.advisory.v1.nak", entry, NULL, 0);
}

/* ---- the dead-letter subject ---- */

const char *js_consumer_dead_letter_subject(const struct js_consumer_config *config)
{
    for (size_t i = 0; i < config->metadata_count; i++) {
        const struct js_stream_metadata_entry *entry = &config->metadata[i];
        if (entry->key != NULL && strcmp(entry->key, DEAD_LETTER_KEY) == 0) {
            return entry->value != NULL ? entry->value : "";
        }
    }
    return NULL;
}

bool js_consumer_dead_letter_valid(const struct js_consumer_config *config)
{
    const char *to = js_consumer_dead_letter_subject(config);
    return to == NULL || (to[0] != '\0' && strlen(to) <= JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX &&
                          subject_valid_literal(to, strlen(to)));
}

/* Header lines a dead letter gets: room for the names, numbers and two subjects. */
enum { DEAD_LETTER_HEADERS_MAX = 512 + 2 * JS_STREAM_CONFIG_NAME_LENGTH_MAX + 65536 };

static void dead_letter_send(struct js_consumer *consumer,
                             const struct js_consumer_pending *entry, const char *why,
                             const char *reason, size_t reason_length)
{
    const char *to = js_consumer_dead_letter_subject(&consumer->config);
    struct stream_store_msg msg;
    if (to == NULL || !js_consumer_dead_letter_valid(&consumer->config) ||
        stream_store_get(consumer->stream->store, entry->sseq, &msg) != 0) {
        return;
    }
    /* the message's own header lines (without "NATS/1.0" and the blank line), then ours */
    const char *own = NULL;
    size_t own_length = 0;
    if (msg.header_length >= 12) {
        const char *line_end = memchr(msg.header, '\n', msg.header_length);
        if (line_end != NULL) {
            own = line_end + 1;
            own_length = msg.header_length - (size_t)(own - (const char *)msg.header) - 2;
        }
    }
    size_t size = DEAD_LETTER_HEADERS_MAX + own_length + reason_length + msg.payload_length;
    char *payload = malloc(size);
    if (payload == NULL) {
        return;
    }
    int head = snprintf(payload, DEAD_LETTER_HEADERS_MAX,
                        "NATS/1.0\r\nIonats-Dead-Letter-Stream: %s\r\n"
                        "Ionats-Dead-Letter-Consumer: %s\r\n"
                        "Ionats-Dead-Letter-Sequence: %llu\r\n"
                        "Ionats-Dead-Letter-Deliveries: %u\r\n"
                        "Ionats-Dead-Letter-Subject: %.*s\r\n"
                        "Ionats-Dead-Letter-Reason: %s",
                        consumer->stream->config.name, consumer->name,
                        (unsigned long long)entry->sseq, entry->deliveries,
                        (int)msg.subject_length, (const char *)msg.subject, why);
    if (head <= 0 || head >= DEAD_LETTER_HEADERS_MAX) {
        free(payload);
        return;
    }
    size_t length = (size_t)head;
    if (reason_length > 0) {
        /* a reason cannot break the header block: line ends become spaces */
        payload[length++] = ':';
        payload[length++] = ' ';
        for (size_t i = 0; i < reason_length; i++) {
            char c = reason[i];
            payload[length++] = c == '\r' || c == '\n' ? ' ' : c;
        }
    }
    memcpy(payload + length, "\r\n", 2);
    length += 2;
    if (own_length > 0) {
        memcpy(payload + length, own, own_length);
        length += own_length;
    }
    memcpy(payload + length, "\r\n", 2);
    length += 2;
    uint32_t header_length = (uint32_t)length;
    memcpy(payload + length, msg.payload, msg.payload_length);
    length += msg.payload_length;
    const struct route_msg out = {
        .subject = {.data = to, .length = (uint32_t)strlen(to)},
        .payload = {.data = payload, .length = (uint32_t)length},
        .header_length = header_length,
    };
    service_publish(consumer->stream->js->shard, &out);
    free(payload);
}

void js_consumer_event_max_deliveries(struct js_consumer *consumer,
                                      const struct js_consumer_pending *entry)
{
    delivery_advisory(consumer, "MAX_DELIVERIES", "io.nats.jetstream.advisory.v1.max_deliver",
                      entry, NULL, 0);
    dead_letter_send(consumer, entry, "max_deliveries", NULL, 0);
}

void js_consumer_event_terminated(struct js_consumer *consumer,
                                  const struct js_consumer_pending *entry, const char *reason,
                                  size_t reason_length)
{
    delivery_advisory(consumer, "MSG_TERMINATED", "io.nats.jetstream.advisory.v1.terminated",
                      entry, reason, reason_length);
    dead_letter_send(consumer, entry, "terminated", reason, reason_length);
}
