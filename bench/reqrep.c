/* Request/reply roles (see reqrep.h).
 *
 * A requester is closed-loop: it sends one request carrying its own inbox as reply
 * subject, waits for the reply, records the round trip (from the moment it queued the
 * send to the completion that delivered the reply) and only then sends the next one. Its
 * request frame is built once and sent as is. A replier answers each request it scans
 * with `size` filler bytes published to the request's reply subject; the answers of one
 * received buffer leave in one send.
 *
 * Frames: request "PUB <subject> <inbox> <size>\r\n<payload>\r\n",
 *         reply   "PUB <reply> <size>\r\n<payload>\r\n". */
#include "bench/reqrep.h"

#include "base/assert.h"
#include "base/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    REQREP_HEADER_SIZE_MAX = 4 + BENCH_SUBJECT_SIZE_MAX + 1 + REQREP_INBOX_SIZE_MAX + 1 + 10 + 2,
    REQREP_SIZE_DIGITS_MAX = 10,
    REQREP_CRLF_SIZE = 2,
};

void reqrep_inbox(unsigned index, char *inbox, size_t inbox_size)
{
    /* The pid keeps two benchmark processes on one server from answering each other. */
    int size = snprintf(inbox, inbox_size, "_INBOX.ionats_bench.%ld.%u", (long)getpid(), index);
    ASSERT(size > 0 && (size_t)size < inbox_size);
}

int reqrep_setup(struct conn *conn, uint64_t target)
{
    ASSERT(conn->role == CONN_ROLE_REQ);
    const struct bench_opts *opts = conn->side->opts;
    char inbox[REQREP_INBOX_SIZE_MAX];
    reqrep_inbox(conn->index, inbox, sizeof inbox);
    conn->request = malloc(REQREP_HEADER_SIZE_MAX + 1 + opts->size + REQREP_CRLF_SIZE);
    if (conn->request == NULL) {
        return -ENOMEM;
    }
    int header_size = snprintf(conn->request, REQREP_HEADER_SIZE_MAX + 1, "PUB %s %s %u\r\n",
                               opts->subject, inbox, (unsigned)opts->size);
    ASSERT(header_size > 0 && header_size <= REQREP_HEADER_SIZE_MAX);
    memset(conn->request + header_size, 'r', opts->size);
    memcpy(conn->request + header_size + opts->size, "\r\n", REQREP_CRLF_SIZE);
    conn->request_size = (size_t)header_size + opts->size + REQREP_CRLF_SIZE;
    conn->target = target;
    conn->request_due = target > 0;
    return 0;
}

bool reqrep_next_send(struct conn *conn, const char **data, size_t *size)
{
    if (!conn->request_due) {
        return false;
    }
    conn->request_due = false;
    conn->request_sent_ns = clock_monotonic_ns();
    conn->sent++;
    *data = conn->request;
    *size = conn->request_size;
    return true;
}

void reqrep_on_reply(struct conn *conn)
{
    struct side *side = conn->side;
    if (conn->received == conn->sent) {
        side_fail(side, -EPROTO, "requester %u got a reply it did not ask for", conn->index);
        return;
    }
    hist_record(&side->result.hist, side->now_ns - conn->request_sent_ns);
    conn->received++;
    if (conn->received >= conn->target || side->now_ns >= side->stop_ns) {
        conn->finished = true;
        conn->finished_ns = side->now_ns;
        side_conn_finished(side);
        return;
    }
    conn->request_due = true; /* sent by the kick that follows the scan */
}

void reqrep_on_request(struct conn *conn, const char *reply, size_t reply_size)
{
    conn->received++;
    if (reply == NULL) {
        return; /* a plain publish on the request subject: nobody to answer */
    }
    const struct bench_opts *opts = conn->side->opts;
    char header[REQREP_HEADER_SIZE_MAX + SCAN_CONTROL_LINE_MAX];
    int header_size = snprintf(header, sizeof header, "PUB %.*s %u\r\n", (int)reply_size, reply,
                               (unsigned)opts->size);
    ASSERT(header_size > 0 && (size_t)header_size < sizeof header);
    size_t frame_size = (size_t)header_size + opts->size + REQREP_CRLF_SIZE;
    char *frame = NULL;
    if (conn_out_room(conn) >= frame_size + CONN_CONTROL_RESERVE) {
        frame = conn_claim(conn, frame_size);
    }
    if (frame == NULL) {
        side_fail(conn->side, -ENOBUFS,
                  "replier %u: more requests outstanding than requesters (someone else is "
                  "sending requests on %s?)",
                  conn->index, opts->subject);
        return;
    }
    memcpy(frame, header, (size_t)header_size);
    memcpy(frame + header_size, conn->side->filler, opts->size);
    memcpy(frame + header_size + opts->size, "\r\n", REQREP_CRLF_SIZE);
}
