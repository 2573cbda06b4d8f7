/* Routing: see route.h.
 *
 * Frames written (nats-server's exact forms):
 *   MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n
 *   HMSG <subject> <sid> [reply] <header size> <total size>\r\n<headers+payload>\r\n
 * A subscriber that did not negotiate headers gets MSG with the header block cut off.
 * No responders: HMSG <reply> <sid> 16 16\r\nNATS/1.0 503\r\n\r\n\r\n to the requester. */
#include "engine/route.h"

#include "base/assert.h"
#include "engine/conn.h"

#include <stdlib.h>
#include <string.h>

/* "HMSG " + 4 spaces + 2 sizes of 20 digits + CRLF, and the CRLF after the payload. */
enum { FRAME_OVERHEAD_MAX = 5 + 4 + 2 * 20 + 2 + 2 };

static const char NO_RESPONDERS_HEADER[] = "NATS/1.0 503\r\n\r\n";

struct delivery {
    struct proto_slice subject;
    struct proto_slice reply;
    struct proto_slice payload;
    uint32_t header_length;
};

static void queue_removal(struct shard *shard, struct conn_sub *sub)
{
    if (sub->removed) {
        return;
    }
    if (shard->removal_count == shard->removal_capacity) {
        uint32_t capacity = shard->removal_capacity ? shard->removal_capacity * 2 : 16;
        struct conn_sub **grown = realloc(shard->removals, capacity * sizeof *grown);
        if (grown == NULL) {
            return; /* it stays subscribed past max; delivery below still stops at max */
        }
        shard->removals = grown;
        shard->removal_capacity = capacity;
    }
    sub->removed = true;
    shard->removals[shard->removal_count++] = sub;
}

/* Appends one MSG/HMSG frame for `sub`. Returns false when nothing was delivered. */
static bool deliver(struct shard *shard, struct conn_sub *sub, const struct delivery *d)
{
    struct conn *conn = sub->conn;
    if ((conn->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER_FLUSH)) || sub->removed) {
        return false;
    }
    bool with_headers = d->header_length > 0 && conn->options.headers;
    const char *body = d->payload.data;
    size_t body_length = d->payload.length;
    if (d->header_length > 0 && !with_headers) {
        body += d->header_length;
        body_length -= d->header_length;
    }
    size_t frame = FRAME_OVERHEAD_MAX + d->subject.length + sub->sid_length + d->reply.length +
                   body_length;
    if (conn_reserve_output(conn, frame) != 0) {
        return false;
    }
    struct outbuf *out = &conn->out;
    size_t start = out->length;
    if (with_headers) {
        outbuf_put(out, "HMSG ", 5);
    } else {
        outbuf_put(out, "MSG ", 4);
    }
    outbuf_put(out, d->subject.data, d->subject.length);
    outbuf_put(out, " ", 1);
    outbuf_put(out, sub->sid, sub->sid_length);
    outbuf_put(out, " ", 1);
    if (d->reply.length > 0) {
        outbuf_put(out, d->reply.data, d->reply.length);
        outbuf_put(out, " ", 1);
    }
    if (with_headers) {
        outbuf_put_u64(out, d->header_length);
        outbuf_put(out, " ", 1);
    }
    outbuf_put_u64(out, body_length);
    outbuf_put(out, "\r\n", 2);
    outbuf_put(out, body, body_length);
    outbuf_put(out, "\r\n", 2);
    conn->stats.out_msgs++;
    conn->stats.out_bytes += body_length;
    shard->stats.out_msgs++;
    (void)start;
    shard_flush_queue(shard, conn);
    sub->delivered++;
    if (sub->max_msgs > 0 && sub->delivered >= sub->max_msgs) {
        queue_removal(shard, sub);
    }
    return true;
}

static bool echo_allowed(const struct conn *publisher, const struct conn_sub *sub)
{
    return publisher == NULL || publisher->options.echo || sub->conn != publisher;
}

/* One member of a queue group, rotating the starting point across publishes. Members that
 * cannot take it (closing, or the publisher without echo) are skipped. */
static bool deliver_to_group(struct shard *shard, struct conn *publisher,
                             const struct sublist_queue_group *group, const struct delivery *d)
{
    uint32_t start = shard->queue_cursor++ % group->member_count;
    for (uint32_t i = 0; i < group->member_count; i++) {
        struct conn_sub *sub =
            (struct conn_sub *)group->members[(start + i) % group->member_count];
        if (echo_allowed(publisher, sub) && deliver(shard, sub, d)) {
            return true;
        }
    }
    return false;
}

static void apply_removals(struct shard *shard)
{
    for (uint32_t i = 0; i < shard->removal_count; i++) {
        conn_sub_free(shard, shard->removals[i]);
    }
    shard->removal_count = 0;
}

/* Tells a requester that nobody received its request: a 503 status on its own
 * subscription that matches the reply subject. */
static void send_no_responders(struct shard *shard, struct conn *publisher,
                               struct proto_slice reply)
{
    const struct sublist_result *result = sublist_match(shard->sublist, reply.data, reply.length);
    struct conn_sub *target = NULL;
    for (uint32_t i = 0; i < result->plain_count && target == NULL; i++) {
        struct conn_sub *sub = (struct conn_sub *)result->plain[i];
        if (sub->conn == publisher) {
            target = sub;
        }
    }
    for (uint32_t g = 0; g < result->group_count && target == NULL; g++) {
        for (uint32_t i = 0; i < result->groups[g].member_count && target == NULL; i++) {
            struct conn_sub *sub = (struct conn_sub *)result->groups[g].members[i];
            if (sub->conn == publisher) {
                target = sub;
            }
        }
    }
    if (target == NULL) {
        return;
    }
    struct delivery status = {
        .subject = reply,
        .payload = {.data = NO_RESPONDERS_HEADER, .length = sizeof NO_RESPONDERS_HEADER - 1},
        .header_length = sizeof NO_RESPONDERS_HEADER - 1,
    };
    deliver(shard, target, &status);
}

void route_publish(struct shard *shard, struct conn *publisher, const struct proto_op *op)
{
    struct delivery d = {
        .subject = op->subject,
        .reply = op->reply,
        .payload = op->payload,
        .header_length = op->header_length,
    };
    const struct sublist_result *result =
        sublist_match(shard->sublist, op->subject.data, op->subject.length);
    uint32_t delivered = 0;
    for (uint32_t i = 0; i < result->plain_count; i++) {
        struct conn_sub *sub = (struct conn_sub *)result->plain[i];
        if (echo_allowed(publisher, sub) && deliver(shard, sub, &d)) {
            delivered++;
        }
    }
    for (uint32_t g = 0; g < result->group_count; g++) {
        if (deliver_to_group(shard, publisher, &result->groups[g], &d)) {
            delivered++;
        }
    }
    if (shard->removal_count > 0) {
        apply_removals(shard);
    }
    if (delivered == 0 && publisher != NULL && op->reply.length > 0 &&
        publisher->options.no_responders && publisher->options.headers) {
        send_no_responders(shard, publisher, op->reply);
        if (shard->removal_count > 0) {
            apply_removals(shard);
        }
    }
}
