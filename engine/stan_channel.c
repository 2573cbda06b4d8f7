/* NATS Streaming channels and publishes. Shard 0's thread.
 *
 * The one idea: a channel is a JetStream stream, STAN_<escaped name> on the one subject
 * _STAN.ch.<escaped name>, made (or brought to the current limits) by a request to
 * JetStream's API the first time the channel is used after a start; a PubMsg becomes a
 * publish to that subject with an internal reply, and JetStream's ack — sent once the
 * message is as durable as --sync asks — becomes the PubAck. Publishes that arrive while
 * the stream is being made wait on the channel, in order, bounded. */
#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/shard.h"
#include "engine/stan_internal.h"
#include "proto/stan.pb-c.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ERR_INVALID_PUB_REQ "stan: invalid publish request"
#define ERR_TOO_MANY_CHANNELS "too many channels"
/* JetStream's "stream name already in use with a different configuration". */
enum { JS_ERR_STREAM_NAME_IN_USE = 10058 };

struct stan_pub_wait {
    struct stan_pub_wait *next;
    struct stan_channel *channel;
    char *reply; /* the publisher's PubAck subject, NULL for none */
    char *guid;
    char *msg_reply; /* the PubMsg's own reply field, NULL for none */
    uint8_t *data; /* only while waiting for the stream */
    size_t length;
};

struct stan_ready_wait {
    struct stan_ready_wait *next;
    stan_ready_fn *fn;
    void *context;
};

static void pub_wait_free(struct stan_pub_wait *wait)
{
    free(wait->reply);
    free(wait->guid);
    free(wait->msg_reply);
    free(wait->data);
    free(wait);
}

/* '_' doubles, and what a stream name or a subject token cannot hold is _XX (hex): the
 * escape is one to one, so no two channels share a stream. */
static char *escape(const char *name)
{
    size_t length = strlen(name);
    char *out = malloc(length * 3 + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '_') {
            out[n++] = '_';
            out[n++] = '_';
        } else if (c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' || c == '/' ||
                   c == '\\') {
            n += (size_t)snprintf(out + n, 4, "_%02X", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return out;
}

struct stan_channel *stan_channel_find(struct stan *stan, const char *name)
{
    for (size_t i = 0; i < stan->channel_count; i++) {
        if (strcmp(stan->channels[i]->name, name) == 0) {
            return stan->channels[i];
        }
    }
    return NULL;
}

static void channel_free(struct stan_channel *channel)
{
    ASSERT(channel->group_count == 0);
    free(channel->groups);
    while (channel->waiting_head != NULL) {
        struct stan_pub_wait *wait = channel->waiting_head;
        channel->waiting_head = wait->next;
        pub_wait_free(wait);
    }
    while (channel->ready_head != NULL) {
        struct stan_ready_wait *wait = channel->ready_head;
        channel->ready_head = wait->next;
        free(wait);
    }
    free(channel->name);
    free(channel->stream);
    free(channel->subject);
    free(channel);
}

static struct stan_channel *channel_new(struct stan *stan, const char *name)
{
    if (stan_array_reserve(&stan->channels, &stan->channel_capacity, stan->channel_count,
                           sizeof *stan->channels, 16) != 0) {
        return NULL;
    }
    struct stan_channel *channel = calloc(1, sizeof *channel);
    char *escaped = escape(name);
    if (channel == NULL || escaped == NULL) {
        free(channel);
        free(escaped);
        return NULL;
    }
    channel->name = strdup(name);
    channel->stream = stan_format("STAN_%s", escaped);
    channel->subject = stan_format("_STAN.ch.%s", escaped);
    free(escaped);
    if (channel->name == NULL || channel->stream == NULL || channel->subject == NULL) {
        channel_free(channel);
        return NULL;
    }
    channel->active_ns = clock_monotonic_ns();
    stan->channels[stan->channel_count++] = channel;
    return channel;
}

void stan_channels_free(struct stan *stan)
{
    for (size_t i = 0; i < stan->channel_count; i++) {
        struct stan_channel *channel = stan->channels[i];
        while (channel->group_count > 0) {
            stan_group_free(stan, channel->groups[channel->group_count - 1]);
        }
        channel_free(channel);
    }
    free(stan->channels);
    stan->channels = NULL;
    stan->channel_count = 0;
    stan->channel_capacity = 0;
}

/* ---- making the stream ---- */

static char *stream_config(const struct stan *stan, const struct stan_channel *channel)
{
    json_t *subjects = json_array();
    json_array_append_new(subjects, json_string(channel->subject));
    char description[256];
    snprintf(description, sizeof description, "NATS Streaming channel %.200s", channel->name);
    json_t *config = json_pack(
        "{s:s, s:o, s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:s}", "name", channel->stream,
        "subjects", subjects, "retention", "limits", "storage", stan->memory ? "memory" : "file",
        "discard", "old", "max_msgs", (json_int_t)(stan->max_msgs > 0 ? stan->max_msgs : -1),
        "max_bytes", (json_int_t)(stan->max_bytes > 0 ? stan->max_bytes : -1), "max_age",
        (json_int_t)stan->max_age_ns, "num_replicas", 1, "description", description);
    if (config != NULL) {
        /* JetStream clients read a channel; deleting or purging its messages is not theirs */
        json_object_set_new(config, "deny_delete", json_true());
        json_object_set_new(config, "deny_purge", json_true());
    }
    char *text = config != NULL ? json_dumps(config, JSON_COMPACT) : NULL;
    json_decref(config);
    return text;
}

static void publish_now(struct stan *stan, struct stan_pub_wait *wait, const void *data,
                        size_t length);
static void pub_ack_send(struct stan *stan, const char *reply, const char *guid,
                         const char *error);

static void channel_ready(struct stan *stan, struct stan_channel *channel, const char *error)
{
    channel->creating = false;
    channel->ready = error == NULL;
    while (channel->waiting_head != NULL) {
        struct stan_pub_wait *wait = channel->waiting_head;
        channel->waiting_head = wait->next;
        channel->waiting_count--;
        channel->waiting_bytes -= (int64_t)wait->length;
        if (error == NULL) {
            uint8_t *data = wait->data; /* publish_now may free the wait */
            size_t length = wait->length;
            wait->data = NULL;
            publish_now(stan, wait, data, length);
            free(data);
        } else {
            pub_ack_send(stan, wait->reply, wait->guid, error);
            pub_wait_free(wait);
        }
    }
    channel->waiting_tail = NULL;
    struct stan_ready_wait *ready = channel->ready_head;
    channel->ready_head = NULL;
    while (ready != NULL) {
        struct stan_ready_wait *next = ready->next;
        ready->fn(stan, ready->context, error);
        free(ready);
        ready = next;
    }
}

static void state_read(struct stan_channel *channel, const struct route_msg *reply)
{
    json_t *root = json_loadb(reply->payload.data + reply->header_length,
                              reply->payload.length - reply->header_length, 0, NULL);
    json_t *state = json_object_get(root, "state");
    channel->first_seq = (uint64_t)json_integer_value(json_object_get(state, "first_seq"));
    channel->last_seq = (uint64_t)json_integer_value(json_object_get(state, "last_seq"));
    json_decref(root);
}

static void stream_answered(struct stan *stan, void *context, const struct route_msg *reply);

static int stream_request(struct stan *stan, struct stan_channel *channel, const char *verb)
{
    char *config = stream_config(stan, channel);
    char *subject = stan_format("$JS.API.STREAM.%s.%s", verb, channel->stream);
    int rc = config == NULL || subject == NULL
                 ? -ENOMEM
                 : stan_request(stan, subject, config, strlen(config), STAN_REQUEST_TIMEOUT_NS,
                                stream_answered, channel, NULL);
    free(config);
    free(subject);
    if (rc == 0) {
        channel->creating = true;
        channel->busy++;
        channel->create_error = verb[0] == 'U'; /* 1: this is the update */
    }
    return rc;
}

static void stream_answered(struct stan *stan, void *context, const struct route_msg *reply)
{
    struct stan_channel *channel = context;
    channel->busy--;
    int err_code = 0;
    char description[256];
    if (reply == NULL) {
        LOG_ERROR("STREAM: channel %s: JetStream did not answer", channel->name);
        channel_ready(stan, channel, "stan: channel store did not answer");
        return;
    }
    if (!stan_api_error(reply, &err_code, description, sizeof description)) {
        state_read(channel, reply);
        channel_ready(stan, channel, NULL);
        return;
    }
    if (err_code == JS_ERR_STREAM_NAME_IN_USE && channel->create_error == 0 &&
        stream_request(stan, channel, "UPDATE") == 0) {
        return; /* the limits changed since it was made */
    }
    LOG_ERROR("STREAM: channel %s: stream %s: %s", channel->name, channel->stream, description);
    channel_ready(stan, channel, description);
}

static void channel_make(struct stan *stan, struct stan_channel *channel)
{
    if (channel->ready || channel->creating) {
        return;
    }
    if (stream_request(stan, channel, "CREATE") != 0) {
        channel_ready(stan, channel, "stan: out of memory");
    }
}

int stan_channel_when_ready(struct stan *stan, struct stan_channel *channel, stan_ready_fn *fn,
                            void *context)
{
    if (channel->ready) {
        fn(stan, context, NULL);
        return 0;
    }
    struct stan_ready_wait *wait = calloc(1, sizeof *wait);
    if (wait == NULL) {
        return -ENOMEM;
    }
    wait->fn = fn;
    wait->context = context;
    wait->next = channel->ready_head;
    channel->ready_head = wait;
    channel_make(stan, channel);
    return 0;
}

struct stan_channel *stan_channel_get(struct stan *stan, const char *name, const char **error)
{
    struct stan_channel *channel = stan_channel_find(stan, name);
    if (channel != NULL) {
        return channel;
    }
    for (size_t i = 0; i < stan->channel_count; i++) {
        if (strcasecmp(stan->channels[i]->name, name) == 0) {
            static _Thread_local char text[2 * STAN_NAME_MAX + 128];
            snprintf(text, sizeof text,
                     "rejecting channel \"%s\" because channel \"%s\" alreay exists "
                     "(different cases not allowed)",
                     name, stan->channels[i]->name);
            *error = text; /* nats-streaming-server's text, its spelling too */
            return NULL;
        }
    }
    if (stan->max_channels > 0 && (int64_t)stan->channel_count >= stan->max_channels) {
        *error = ERR_TOO_MANY_CHANNELS;
        return NULL;
    }
    channel = channel_new(stan, name);
    if (channel == NULL) {
        *error = "stan: out of memory";
        return NULL;
    }
    int rc = stan_persist_channel(stan, channel);
    if (rc != 0) {
        LOG_ERROR("STREAM: could not store channel %s: %s", name, strerror(-rc));
    }
    stan_log_debug(stan, "Channel \"%s\" created (stream %s)", name, channel->stream);
    return channel;
}

/* ---- publishes ---- */

static void pub_ack_send(struct stan *stan, const char *reply, const char *guid,
                         const char *error)
{
    if (reply == NULL) {
        return;
    }
    Pb__PubAck ack = PB__PUB_ACK__INIT;
    ack.guid = (char *)(guid != NULL ? guid : "");
    ack.error = (char *)(error != NULL ? error : "");
    stan_send_pb(stan, reply, &ack);
}

static void pub_acked(struct stan *stan, void *context, const struct route_msg *reply)
{
    struct stan_pub_wait *wait = context;
    wait->channel->busy--;
    int err_code = 0;
    char description[256];
    if (reply == NULL) {
        pub_ack_send(stan, wait->reply, wait->guid, "stan: publish timeout");
    } else if (stan_api_error(reply, &err_code, description, sizeof description)) {
        if (err_code == 503) {
            wait->channel->ready = false; /* the stream went: made again by the next use */
        }
        pub_ack_send(stan, wait->reply, wait->guid, description);
    } else {
        const char *body = reply->payload.data + reply->header_length;
        size_t length = reply->payload.length - reply->header_length;
        const char *seq = memmem(body, length, "\"seq\":", 6);
        if (seq != NULL) {
            uint64_t value = 0;
            for (const char *c = seq + 6; c < body + length && *c >= '0' && *c <= '9'; c++) {
                value = value * 10 + (uint64_t)(*c - '0');
            }
            if (value > wait->channel->last_seq) {
                wait->channel->last_seq = value; /* for a later subscription's start */
            }
        }
        pub_ack_send(stan, wait->reply, wait->guid, NULL);
    }
    pub_wait_free(wait);
}

static void publish_now(struct stan *stan, struct stan_pub_wait *wait, const void *data,
                        size_t length)
{
    int rc;
    if (wait->msg_reply == NULL) {
        rc = stan_request(stan, wait->channel->subject, data, length, STAN_REQUEST_TIMEOUT_NS,
                          pub_acked, wait, NULL);
    } else {
        /* the publisher's reply subject goes with the message, in a header */
        size_t header = strlen("NATS/1.0\r\n" STAN_REPLY_HEADER ": \r\n\r\n") +
                        strlen(wait->msg_reply);
        char *buffer = malloc(header + length);
        rc = -ENOMEM;
        if (buffer != NULL) {
            snprintf(buffer, header + 1, "NATS/1.0\r\n" STAN_REPLY_HEADER ": %s\r\n\r\n",
                     wait->msg_reply);
            if (length > 0) {
                memcpy(buffer + header, data, length);
            }
            rc = stan_request_headed(stan, wait->channel->subject, buffer, header + length,
                                     header, STAN_REQUEST_TIMEOUT_NS, pub_acked, wait, NULL);
            free(buffer);
        }
        free(wait->msg_reply);
        wait->msg_reply = NULL;
    }
    if (rc == 0) {
        wait->channel->busy++;
        wait->channel->active_ns = clock_monotonic_ns();
    } else {
        pub_ack_send(stan, wait->reply, wait->guid,
                     rc == -EBUSY ? "stan: too many publishes in flight" : "stan: out of memory");
        pub_wait_free(wait);
    }
}

static char *reply_dup(const struct route_msg *msg)
{
    if (msg->reply.length == 0) {
        return NULL;
    }
    char *out = malloc((size_t)msg->reply.length + 1);
    if (out != NULL) {
        memcpy(out, msg->reply.data, msg->reply.length);
        out[msg->reply.length] = '\0';
    }
    return out;
}

static bool client_valid(struct stan *stan, const Pb__PubMsg *pm)
{
    if (pm->conn_id.len > 0) {
        return stan_client_find_conn(stan, pm->conn_id.data, pm->conn_id.len) != NULL;
    }
    return stan_client_find(stan, pm->client_id) != NULL;
}

void stan_on_publish(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct stan *stan = context;
    (void)shard;
    size_t length = msg->payload.length - msg->header_length;
    stan->stats.in_msgs++;
    stan->stats.in_bytes += length;
    char *reply = reply_dup(msg);
    Pb__PubMsg *pm = pb__pub_msg__unpack(NULL, length,
                                         (const uint8_t *)msg->payload.data + msg->header_length);
    const char *error = NULL;
    struct stan_channel *channel = NULL;
    if (pm == NULL || pm->guid[0] == '\0' || !stan_channel_name_valid(pm->subject) ||
        !client_valid(stan, pm)) {
        error = ERR_INVALID_PUB_REQ;
    } else {
        channel = stan_channel_get(stan, pm->subject, &error);
    }
    struct stan_pub_wait *wait = NULL;
    if (error == NULL) {
        wait = calloc(1, sizeof *wait);
        if (wait != NULL) {
            wait->channel = channel;
            wait->reply = reply;
            reply = NULL;
            wait->guid = strdup(pm->guid);
            if (pm->reply[0] != '\0' && strlen(pm->reply) <= STAN_NAME_MAX &&
                strpbrk(pm->reply, "\r\n") == NULL) {
                wait->msg_reply = strdup(pm->reply);
            }
        }
        if (wait == NULL || wait->guid == NULL) {
            error = "stan: out of memory";
        }
    }
    if (error != NULL) {
        pub_ack_send(stan, reply != NULL ? reply : (wait != NULL ? wait->reply : NULL),
                     pm != NULL ? pm->guid : "", error);
        if (wait != NULL) {
            pub_wait_free(wait);
        }
    } else if (channel->ready) {
        publish_now(stan, wait, pm->data.data, pm->data.len);
    } else if (channel->waiting_count >= STAN_CHANNEL_WAITING_MAX ||
               channel->waiting_bytes + (int64_t)pm->data.len > STAN_CHANNEL_WAITING_BYTES_MAX) {
        pub_ack_send(stan, wait->reply, wait->guid, "stan: too many publishes in flight");
        pub_wait_free(wait);
    } else {
        wait->length = pm->data.len;
        wait->data = pm->data.len > 0 ? malloc(pm->data.len) : NULL;
        if (pm->data.len > 0) {
            if (wait->data == NULL) {
                pub_ack_send(stan, wait->reply, wait->guid, "stan: out of memory");
                pub_wait_free(wait);
                wait = NULL;
            } else {
                memcpy(wait->data, pm->data.data, pm->data.len);
            }
        }
        if (wait != NULL) {
            if (channel->waiting_tail != NULL) {
                channel->waiting_tail->next = wait;
            } else {
                channel->waiting_head = wait;
            }
            channel->waiting_tail = wait;
            channel->waiting_count++;
            channel->waiting_bytes += (int64_t)wait->length;
            channel_make(stan, channel);
        }
    }
    if (pm != NULL) {
        pb__pub_msg__free_unpacked(pm, NULL);
    }
    free(reply);
}

/* ---- max inactivity ---- */

static void stream_deleted(struct stan *stan, void *context, const struct route_msg *reply)
{
    char *stream = context;
    int err_code = 0;
    char description[256];
    if (reply == NULL) {
        LOG_WARN("STREAM: deleting stream %s: not answered", stream);
    } else if (stan_api_error(reply, &err_code, description, sizeof description)) {
        LOG_WARN("STREAM: deleting stream %s: %s", stream, description);
    }
    (void)stan;
    free(stream);
}

static bool channel_idle(const struct stan *stan, const struct stan_channel *channel,
                         int64_t now_ns)
{
    return channel->group_count == 0 && channel->busy == 0 && channel->waiting_count == 0 &&
           channel->ready_head == NULL && !channel->creating &&
           now_ns - channel->active_ns >= stan->max_inactivity_ns;
}

void stan_channels_expire(struct stan *stan, int64_t now_ns)
{
    for (size_t i = 0; i < stan->channel_count;) {
        struct stan_channel *channel = stan->channels[i];
        if (!channel_idle(stan, channel, now_ns)) {
            i++;
            continue;
        }
        stan_log_debug(stan, "Channel \"%s\" has been inactive for %.3fs, deleting it",
                       channel->name, (double)(now_ns - channel->active_ns) / 1e9);
        char *subject = stan_format("$JS.API.STREAM.DELETE.%s", channel->stream);
        char *stream = stan_strdup(channel->stream);
        if (subject == NULL || stream == NULL ||
            stan_request(stan, subject, NULL, 0, STAN_REQUEST_TIMEOUT_NS, stream_deleted, stream,
                         NULL) != 0) {
            free(stream);
        }
        free(subject);
        stan_persist_channel_remove(stan, channel);
        stan->channels[i] = stan->channels[--stan->channel_count];
        channel_free(channel);
    }
}
