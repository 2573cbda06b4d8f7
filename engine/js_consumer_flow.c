/* Flow control of push consumers (config flow_control): the consumer stops delivering once
 * the bytes it sent past the last answered flow-control request reach its window, asks the
 * subscriber for an answer ("NATS/1.0 100 FlowControl Request" on the deliver subject, with
 * a reply on $JS.FC.<stream>.<consumer>.<n>) once half the window is out, and doubles the
 * window (4 MiB up to 64 MiB) with each answer, as nats-server does; heartbeats sent while
 * it waits name the request (Nats-Consumer-Stalled), so a client that lost it can answer.
 *
 * The one idea: a subscriber slower than its consumer holds the consumer back instead of
 * filling its connection's output until the broker cuts it off as a slow consumer, which
 * is what nats.go's object store and ordered consumers rely on for large reads.
 * Owner shard's thread only. */
#include "base/clock.h"
#include "engine/js_consumer.h"
#include "engine/service.h"
#include "engine/shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* nats-server's window: a sixteenth of the pending limit at first, doubled per answer up
 * to the limit (its default max_pending, 64 MiB). */
#define FLOW_WINDOW_MIN ((int64_t)4 << 20)
#define FLOW_WINDOW_MAX ((int64_t)64 << 20)

static bool flow_on(const struct js_consumer *consumer)
{
    return consumer->config.flow_control && consumer->config.deliver_subject != NULL;
}

bool js_consumer_flow_stalled(const struct js_consumer *consumer)
{
    if (!flow_on(consumer)) {
        return false;
    }
    int64_t window = consumer->flow_window != 0 ? consumer->flow_window : FLOW_WINDOW_MIN;
    return consumer->flow_bytes > window;
}

int js_consumer_flow_reply(const struct js_consumer *consumer, char *text, size_t size)
{
    return snprintf(text, size, "$JS.FC.%s.%s.%llu", consumer->stream->config.name,
                    consumer->name, (unsigned long long)consumer->flow_request);
}

void js_consumer_flow_sent(struct js_consumer *consumer, int64_t bytes)
{
    if (!flow_on(consumer)) {
        return;
    }
    if (consumer->flow_window == 0) {
        consumer->flow_window = FLOW_WINDOW_MIN;
    }
    consumer->flow_bytes += bytes;
    if (consumer->flow_waiting || consumer->flow_bytes <= consumer->flow_window / 2) {
        return;
    }
    consumer->flow_request++;
    consumer->flow_waiting = true;
    consumer->flow_asked_bytes = consumer->flow_bytes;
    char reply[64 + 2 * JS_STREAM_CONFIG_NAME_LENGTH_MAX];
    int reply_length = js_consumer_flow_reply(consumer, reply, sizeof reply);
    static const char header[] = "NATS/1.0 100 FlowControl Request\r\n\r\n";
    const char *deliver = consumer->config.deliver_subject;
    const struct route_msg msg = {
        .subject = {.data = deliver, .length = (uint32_t)strlen(deliver)},
        .reply = {.data = reply, .length = (uint32_t)reply_length},
        .payload = {.data = header, .length = sizeof header - 1},
        .header_length = sizeof header - 1,
    };
    service_publish(consumer->stream->js->shard, &msg);
}

void js_consumer_flow_handle(struct shard *shard, void *context, const struct route_msg *msg)
{
    struct js_consumer *consumer = context;
    if (consumer->deleted || !consumer->flow_waiting) {
        return;
    }
    const char *dot = memrchr(msg->subject.data, '.', msg->subject.length);
    if (dot == NULL) {
        return;
    }
    const char *number = dot + 1;
    size_t length = msg->subject.length - (size_t)(number - msg->subject.data);
    char text[24];
    if (length == 0 || length >= sizeof text) {
        return;
    }
    memcpy(text, number, length);
    text[length] = '\0';
    if (strtoull(text, NULL, 10) != consumer->flow_request) {
        return; /* an answer to an older request */
    }
    consumer->flow_bytes -= consumer->flow_asked_bytes;
    if (consumer->flow_bytes < 0) {
        consumer->flow_bytes = 0;
    }
    consumer->flow_window = consumer->flow_window * 2 < FLOW_WINDOW_MAX
                                ? consumer->flow_window * 2
                                : FLOW_WINDOW_MAX;
    consumer->flow_waiting = false;
    consumer->last_active_ns = clock_monotonic_ns();
    js_consumer_wake(consumer);
}
