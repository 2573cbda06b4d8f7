/* JetStream consumer role (see jsconsume.h).
 *
 * The one idea: the stream was filled before the run, so the stream sequence of the n-th
 * delivery must be n; the sequence (from the delivery's $JS.ACK reply subject) is checked
 * against a counter, which proves every message came exactly once and in order without
 * remembering any of them.
 *
 * Pull: requests are "PUB $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> <inbox>.<k> <len>"
 * with {"batch":B,"expires":ns}, k a slot that no live request holds; their deliveries come
 * to the subscription of <inbox>.<k>, sid k + 1 (the MSG line shows the stored message's
 * own subject, so the sid is what names the request). The next request goes out once no
 * more than half a batch is outstanding (asked for and neither delivered nor ended by a
 * status): with a request of B served halfway, the server always has the next one waiting
 * (no round trip without deliveries in flight), and at most 1.5 B are asked for at a time,
 * as nats.go's Consume() asks for more at its threshold of half. No request asks beyond
 * the stream's end, so each is served whole unless it expires (408) or the server ends it
 * otherwise (404); then its rest is asked for again. Request n takes slot n % SLOTS until
 * it is served or ended (the next request waits for a slot still taken).
 * Push: the SUB to the deliver subject is the first thing the measured loop sends.
 *
 * Wire formats read here (whole frames, SCAN_F_BODY):
 *   delivery: MSG <stored subject> <sid> $JS.ACK.<stream>.<consumer>.<deliveries>.<sseq>.
 *             <dseq>.<ts>.<pending> <size>   (v2 replies, 11 or 12 tokens with a domain
 *             and an account hash after "ACK", are read too)
 *   status:   HMSG <subject> <sid> [reply] <hdr> <total>, headers "NATS/1.0 <code> <text>"
 * Acks (explicit): "PUB <reply> 4\r\n+ACK\r\n", one per delivery, appended as it is read.
 * An ack is never larger than the delivery it answers (its subject replaces the delivery's
 * subject, sid and payload), so one received buffer never makes more than a buffer of acks:
 * conn.c submits a recv only while the output buffer has that much room. */
#include "bench/jsconsume.h"

#include "base/assert.h"
#include "base/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    /* A request that is not served within this long ends with 408 and its rest is asked
     * for again: far longer than the server needs to start serving a waiting request. */
    JSCONSUME_EXPIRES_MS = 2000,
    /* Deliveries must keep coming at least this often until the last one. */
    JSCONSUME_STALL_S = 5,
    JSCONSUME_API_SUBJECT_SIZE_MAX = 64 + BENCH_STREAM_SIZE_MAX + sizeof JSCONSUME_PULL_NAME,
    /* "PUB " api " " inbox "." number " " size CRLF {"batch":B,"expires":E} CRLF. */
    JSCONSUME_REQUEST_SIZE_MAX = JSCONSUME_API_SUBJECT_SIZE_MAX + JSCONSUME_SUBJECT_SIZE_MAX + 128,
    JSCONSUME_REPLY_TOKENS_MAX = 12,
    JSCONSUME_DECIMAL_DIGITS_MAX = 19, /* below UINT64_MAX */
    JSCONSUME_STATUS_HEARTBEAT = 100,
    JSCONSUME_STATUS_NO_MESSAGES = 404,
    JSCONSUME_STATUS_TIMEOUT = 408,
    JSCONSUME_STATUS_TEXT_MAX = 80,
};

static const char JSCONSUME_ACK_PREFIX[] = "$JS.ACK.";
static const char JSCONSUME_STATUS_PREFIX[] = "NATS/1.0 ";
static const char JSCONSUME_PING[] = "PING\r\n";

struct jsconsume_request {
    uint64_t number; /* 0: the slot is free */
    uint64_t left;   /* messages still to come for it */
};

/* Owned by its connection (conn->jsc). */
struct jsconsume {
    char inbox[JSCONSUME_SUBJECT_SIZE_MAX];           /* pull: requests reply to "<inbox>.<slot>" */
    char api_subject[JSCONSUME_API_SUBJECT_SIZE_MAX]; /* pull: MSG.NEXT of our consumer */
    char deliver[JSCONSUME_SUBJECT_SIZE_MAX];         /* push: the deliver subject */
    bool subscribed;                                  /* push: the SUB is queued */
    struct jsconsume_request requests[JSCONSUME_SLOTS];
    unsigned requests_live;
    uint64_t outstanding; /* asked for, neither delivered nor ended by a status */
    int64_t progress_ns;  /* the last delivery, or the first request; 0 before it */
    bool ping_sent;       /* after the last delivery */
    struct side_consume counts;
};

static void jsconsume_inbox(char *inbox, size_t inbox_size)
{
    int size = snprintf(inbox, inbox_size, "_INBOX.ionats_bench.%ld.jsc", (long)getpid());
    ASSERT(size > 0 && (size_t)size < inbox_size);
}

void jsconsume_deliver_subject(char *subject, size_t subject_size)
{
    int size = snprintf(subject, subject_size, "_INBOX.ionats_bench.%ld.push", (long)getpid());
    ASSERT(size > 0 && (size_t)size < subject_size);
}

void jsconsume_subscribe_line(const struct bench_opts *opts, char *line, size_t line_size)
{
    line[0] = '\0';
    if (opts->consumer == BENCH_CONSUMER_PULL) {
        char inbox[JSCONSUME_SUBJECT_SIZE_MAX];
        jsconsume_inbox(inbox, sizeof inbox);
        size_t used = 0;
        for (unsigned slot = 0; slot < JSCONSUME_SLOTS; slot++) {
            int size =
                snprintf(line + used, line_size - used, "SUB %s.%u %u\r\n", inbox, slot, slot + 1);
            ASSERT(size > 0 && (size_t)size < line_size - used);
            used += (size_t)size;
        }
    }
}

int jsconsume_setup(struct conn *conn, uint64_t target)
{
    ASSERT(conn->role == CONN_ROLE_JSC);
    ASSERT(target > 0);
    const struct bench_opts *opts = conn->side->opts;
    struct jsconsume *jsc = calloc(1, sizeof *jsc);
    if (jsc == NULL) {
        return -ENOMEM;
    }
    jsconsume_inbox(jsc->inbox, sizeof jsc->inbox);
    int size = snprintf(jsc->api_subject, sizeof jsc->api_subject,
                        "$JS.API.CONSUMER.MSG.NEXT.%s.%s", opts->stream, JSCONSUME_PULL_NAME);
    ASSERT(size > 0 && (size_t)size < sizeof jsc->api_subject);
    jsconsume_deliver_subject(jsc->deliver, sizeof jsc->deliver);
    conn->jsc = jsc;
    conn->target = target;
    return 0;
}

void jsconsume_destroy(struct conn *conn)
{
    free(conn->jsc);
    conn->jsc = NULL;
}

/* Claims `size` bytes of output, keeping CONN_CONTROL_RESERVE free for PONGs; NULL when
 * the buffer being filled lacks the room. */
static char *jsconsume_claim(struct conn *conn, size_t size)
{
    if (conn_out_room(conn) < size + CONN_CONTROL_RESERVE) {
        return NULL;
    }
    return conn_claim(conn, size);
}

/* Appends one MSG.NEXT request for `batch` messages; false when the output lacks room (it
 * is tried again once a send has made room). */
static bool jsconsume_request(struct conn *conn, uint64_t batch)
{
    struct jsconsume *jsc = conn->jsc;
    uint64_t number = jsc->counts.requests + 1;
    struct jsconsume_request *slot = &jsc->requests[number % JSCONSUME_SLOTS];
    if (slot->number != 0) {
        return false; /* an older request still holds the slot: wait for it */
    }
    char body[64];
    long long expires_ns = (long long)JSCONSUME_EXPIRES_MS * NS_PER_MS;
    int body_size = snprintf(body, sizeof body, "{\"batch\":%llu,\"expires\":%lld}",
                             (unsigned long long)batch, expires_ns);
    ASSERT(body_size > 0 && (size_t)body_size < sizeof body);
    char frame[JSCONSUME_REQUEST_SIZE_MAX];
    int size = snprintf(frame, sizeof frame, "PUB %s %s.%u %d\r\n%s\r\n", jsc->api_subject,
                        jsc->inbox, (unsigned)(number % JSCONSUME_SLOTS), body_size, body);
    ASSERT(size > 0 && (size_t)size < sizeof frame);
    char *claimed = jsconsume_claim(conn, (size_t)size);
    if (claimed == NULL) {
        return false;
    }
    memcpy(claimed, frame, (size_t)size);
    slot->number = number;
    slot->left = batch;
    jsc->requests_live++;
    jsc->outstanding += batch;
    jsc->counts.requests = number;
    return true;
}

void jsconsume_queue(struct conn *conn)
{
    struct jsconsume *jsc = conn->jsc;
    const struct bench_opts *opts = conn->side->opts;
    if (jsc->ping_sent) {
        return;
    }
    if (jsc->progress_ns == 0) {
        jsc->progress_ns = clock_monotonic_ns(); /* the stall clock starts now */
    }
    if (opts->consumer == BENCH_CONSUMER_PUSH) {
        if (!jsc->subscribed) {
            char line[JSCONSUME_SUBJECT_SIZE_MAX + 16];
            int size = snprintf(line, sizeof line, "SUB %s 1\r\n", jsc->deliver);
            ASSERT(size > 0 && (size_t)size < sizeof line);
            jsc->subscribed = conn_append(conn, line, (size_t)size);
            ASSERT(jsc->subscribed); /* the first thing in an empty buffer */
        }
        return;
    }
    uint64_t half = opts->batch_count / 2;
    /* Bounded by the slots: each pass takes one or stops. */
    while (jsc->requests_live < JSCONSUME_SLOTS && jsc->outstanding <= half &&
           conn->received + jsc->outstanding < conn->target) {
        uint64_t left = conn->target - conn->received - jsc->outstanding;
        if (!jsconsume_request(conn, left < opts->batch_count ? left : opts->batch_count)) {
            return;
        }
    }
}

/* A decimal token of at most JSCONSUME_DECIMAL_DIGITS_MAX digits. */
static int jsconsume_decimal(const char *token, size_t token_size, uint64_t *value)
{
    if (token_size == 0 || token_size > JSCONSUME_DECIMAL_DIGITS_MAX) {
        return -EPROTO;
    }
    uint64_t parsed = 0;
    for (size_t i = 0; i < token_size; i++) {
        if (token[i] < '0' || token[i] > '9') {
            return -EPROTO;
        }
        parsed = parsed * 10 + (uint64_t)(token[i] - '0');
    }
    *value = parsed;
    return 0;
}

/* The deliveries count and stream sequence of a $JS.ACK reply subject (v1: 9 tokens; v2:
 * 11 or 12, a domain and an account hash after "ACK"). */
static int jsconsume_ack_reply(const char *reply, size_t reply_size, uint64_t *deliveries,
                               uint64_t *sseq)
{
    if (reply == NULL || reply_size < sizeof JSCONSUME_ACK_PREFIX - 1 ||
        memcmp(reply, JSCONSUME_ACK_PREFIX, sizeof JSCONSUME_ACK_PREFIX - 1) != 0) {
        return -EPROTO;
    }
    const char *tokens[JSCONSUME_REPLY_TOKENS_MAX];
    size_t sizes[JSCONSUME_REPLY_TOKENS_MAX];
    unsigned count = 0;
    size_t start = 0;
    /* Bounded by the reply's size. */
    for (size_t i = 0; i <= reply_size; i++) {
        if (i < reply_size && reply[i] != '.') {
            continue;
        }
        if (count == JSCONSUME_REPLY_TOKENS_MAX) {
            return -EPROTO;
        }
        tokens[count] = reply + start;
        sizes[count] = i - start;
        count++;
        start = i + 1;
    }
    unsigned first = 0; /* the deliveries count's token */
    if (count == 9) {
        first = 4;
    } else if (count == 11 || count == 12) {
        first = 6;
    } else {
        return -EPROTO;
    }
    int rc = jsconsume_decimal(tokens[first], sizes[first], deliveries);
    return rc < 0 ? rc : jsconsume_decimal(tokens[first + 1], sizes[first + 1], sseq);
}

/* The live request a pull delivery or status came to, by its sid (slot + 1); NULL when
 * the sid names no slot or a free one. */
static struct jsconsume_request *jsconsume_request_of(struct jsconsume *jsc,
                                                      const struct scan_frame *frame)
{
    uint64_t sid = 0;
    if (jsconsume_decimal(frame->sid, frame->sid_size, &sid) < 0 || sid == 0 ||
        sid > JSCONSUME_SLOTS) {
        return NULL;
    }
    struct jsconsume_request *slot = &jsc->requests[sid - 1];
    return slot->number != 0 ? slot : NULL;
}

static void jsconsume_request_end(struct jsconsume *jsc, struct jsconsume_request *request)
{
    ASSERT(jsc->outstanding >= request->left);
    ASSERT(jsc->requests_live > 0);
    jsc->outstanding -= request->left;
    jsc->requests_live--;
    request->number = 0;
    request->left = 0;
}

/* An HMSG with a status line: 100 passes (a flow-control request, which has a reply, is
 * answered, although none is asked for), 404 / 408 end their pull request, any other
 * status fails the run. A header block without a status returns -ENOENT: a message. */
static int jsconsume_on_status(struct conn *conn, const struct scan_frame *frame)
{
    struct jsconsume *jsc = conn->jsc;
    size_t prefix = sizeof JSCONSUME_STATUS_PREFIX - 1;
    uint64_t code = 0;
    if (frame->headers_size < prefix + 3 ||
        memcmp(frame->headers, JSCONSUME_STATUS_PREFIX, prefix) != 0 ||
        jsconsume_decimal(frame->headers + prefix, 3, &code) < 0) {
        return -ENOENT;
    }
    size_t line_size = 0;
    while (line_size < frame->headers_size && frame->headers[line_size] != '\r' &&
           line_size < JSCONSUME_STATUS_TEXT_MAX) {
        line_size++;
    }
    if (code == JSCONSUME_STATUS_HEARTBEAT) {
        jsc->counts.heartbeats++;
        if (frame->reply != NULL) {
            static const char tail[] = " 0\r\n\r\n";
            char *claimed = jsconsume_claim(conn, 4 + frame->reply_size + sizeof tail - 1);
            if (claimed == NULL) {
                side_fail(conn->side, -ENOBUFS, "no room to answer a flow-control request");
                return -ENOBUFS;
            }
            memcpy(claimed, "PUB ", 4);
            memcpy(claimed + 4, frame->reply, frame->reply_size);
            memcpy(claimed + 4 + frame->reply_size, tail, sizeof tail - 1);
        }
        return 0;
    }
    struct jsconsume_request *request = jsconsume_request_of(jsc, frame);
    bool ends = code == JSCONSUME_STATUS_NO_MESSAGES || code == JSCONSUME_STATUS_TIMEOUT;
    if (!ends || request == NULL) {
        side_fail(conn->side, -EPROTO, "after %llu deliveries: status '%.*s' on %.*s (sid %.*s)%s",
                  (unsigned long long)conn->received, (int)line_size, frame->headers,
                  (int)frame->subject_size, frame->subject, (int)frame->sid_size, frame->sid,
                  ends ? ": no live request there" : "");
        return -EPROTO;
    }
    jsc->counts.statuses++;
    jsconsume_request_end(jsc, request);
    return 0;
}

/* Pull: the delivery counts against the request it came to, which must be live and owed
 * at least one more message. */
static int jsconsume_pull_delivery(struct conn *conn, const struct scan_frame *frame)
{
    struct jsconsume *jsc = conn->jsc;
    struct jsconsume_request *request = jsconsume_request_of(jsc, frame);
    if (request == NULL) {
        side_fail(conn->side, -EPROTO, "delivery %llu came to sid %.*s: no live request there",
                  (unsigned long long)conn->received + 1, (int)frame->sid_size, frame->sid);
        return -EPROTO;
    }
    ASSERT(request->left > 0); /* a served request leaves its slot */
    request->left--;
    jsc->outstanding--;
    if (request->left == 0) {
        jsconsume_request_end(jsc, request);
    }
    return 0;
}

/* Appends "PUB <reply> 4\r\n+ACK\r\n". */
static int jsconsume_ack(struct conn *conn, const struct scan_frame *frame)
{
    static const char tail[] = " 4\r\n+ACK\r\n";
    char *claimed = jsconsume_claim(conn, 4 + frame->reply_size + sizeof tail - 1);
    if (claimed == NULL) {
        /* conn.c reads only with a buffer's worth of room, and an ack is no larger than its
         * delivery: a server that breaks this sent deliveries we did not subscribe to. */
        side_fail(conn->side, -ENOBUFS, "no room for the ack of delivery %llu",
                  (unsigned long long)conn->received);
        return -ENOBUFS;
    }
    memcpy(claimed, "PUB ", 4);
    memcpy(claimed + 4, frame->reply, frame->reply_size);
    memcpy(claimed + 4 + frame->reply_size, tail, sizeof tail - 1);
    conn->jsc->counts.acks++;
    return 0;
}

/* The delivery must carry the next stream sequence, be its first delivery and have the
 * payload's size. */
static int jsconsume_check(struct conn *conn, const struct scan_frame *frame)
{
    uint64_t deliveries = 0;
    uint64_t sseq = 0;
    uint64_t expected = conn->received + 1;
    int rc = jsconsume_ack_reply(frame->reply, frame->reply_size, &deliveries, &sseq);
    if (rc < 0) {
        side_fail(conn->side, rc, "delivery %llu has no $JS.ACK reply subject: '%.*s'",
                  (unsigned long long)expected, (int)frame->reply_size,
                  frame->reply != NULL ? frame->reply : "");
        return rc;
    }
    if (sseq != expected || deliveries != 1) {
        side_fail(conn->side, -EILSEQ,
                  "delivery %llu is stream sequence %llu (delivered %llu times); expected "
                  "%llu, once",
                  (unsigned long long)expected, (unsigned long long)sseq,
                  (unsigned long long)deliveries, (unsigned long long)expected);
        return -EILSEQ;
    }
    if (frame->payload_size != conn->side->opts->size || frame->headers != NULL) {
        side_fail(conn->side, -EPROTO,
                  "delivery %llu has %zu header and %zu payload bytes, not 0 and %u",
                  (unsigned long long)expected, frame->headers_size, frame->payload_size,
                  (unsigned)conn->side->opts->size);
        return -EPROTO;
    }
    return 0;
}

void jsconsume_on_frame(struct conn *conn, const struct scan_frame *frame)
{
    struct jsconsume *jsc = conn->jsc;
    struct side *side = conn->side;
    if (side->done) {
        return; /* failed earlier in this buffer */
    }
    if (frame->headers != NULL) {
        int rc = jsconsume_on_status(conn, frame);
        if (rc != -ENOENT) {
            return; /* a status, handled or failed */
        }
    }
    if (conn->received == conn->target) {
        side_fail(side, -EPROTO, "a delivery beyond the stream's %llu messages on %.*s",
                  (unsigned long long)conn->target, (int)frame->subject_size, frame->subject);
        return;
    }
    if (jsconsume_check(conn, frame) < 0) {
        return;
    }
    if (side->opts->consumer == BENCH_CONSUMER_PULL && jsconsume_pull_delivery(conn, frame) < 0) {
        return;
    }
    if (side->opts->ack == BENCH_ACK_EXPLICIT && jsconsume_ack(conn, frame) < 0) {
        return;
    }
    conn->received++;
    jsc->progress_ns = side->now_ns;
    if (conn->received == conn->target) {
        conn->finished_ns = side->now_ns; /* the rate ends here; the PONG confirms the acks */
        char *ping = jsconsume_claim(conn, sizeof JSCONSUME_PING - 1);
        if (ping == NULL) {
            side_fail(side, -ENOBUFS, "no room for the PING after the last delivery");
            return;
        }
        memcpy(ping, JSCONSUME_PING, sizeof JSCONSUME_PING - 1);
        jsc->ping_sent = true;
    }
}

void jsconsume_on_pong(struct conn *conn)
{
    if (!conn->jsc->ping_sent || conn->finished) {
        return; /* the handshake's PONG was read before the loop; nothing else pings */
    }
    conn->finished = true;
    side_conn_finished(conn->side);
}

void jsconsume_tick(struct conn *conn)
{
    struct jsconsume *jsc = conn->jsc;
    struct side *side = conn->side;
    if (jsc->ping_sent || jsc->progress_ns == 0) {
        return; /* done but for the PONG (the deadline bounds it), or not started */
    }
    if (side->now_ns - jsc->progress_ns > (int64_t)JSCONSUME_STALL_S * NS_PER_SEC) {
        side_fail(side, -ETIMEDOUT,
                  "no delivery for %d s: %llu of %llu messages consumed, %u requests asking "
                  "for %llu outstanding",
                  JSCONSUME_STALL_S, (unsigned long long)conn->received,
                  (unsigned long long)conn->target, jsc->requests_live,
                  (unsigned long long)jsc->outstanding);
    }
}

void jsconsume_collect(const struct conn *conn, struct side_result *result)
{
    const struct side_consume *counts = &conn->jsc->counts;
    result->consume.requests += counts->requests;
    result->consume.statuses += counts->statuses;
    result->consume.heartbeats += counts->heartbeats;
    result->consume.acks += counts->acks;
}
