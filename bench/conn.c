/* Connection mechanics shared by every role: buffers, the one send and one recv in
 * flight, and dispatch of scanned frames to the role (see conn.h).
 *
 * Policies for expected conditions: a short send is resumed from where it stopped;
 * -EINTR / -EAGAIN re-issue the same operation; end of stream and any other error stop the
 * side with a message (a benchmark that lost its server has nothing more to measure). */
#include "bench/conn.h"

#include "base/assert.h"
#include "base/clock.h"
#include "bench/jsconsume.h"
#include "bench/jspub.h"
#include "bench/pub.h"
#include "bench/reqrep.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    /* Output buffer of connections that only ever send PING/PONG. */
    CONN_OUT_CONTROL_SIZE = 1024,
    /* A reply frame besides its payload: "PUB " reply " " size CRLF ... CRLF. */
    CONN_REPLY_OVERHEAD = 4 + SCAN_CONTROL_LINE_MAX + 1 + 10 + 2 + 2,
    /* A JetStream consumer's output buffer: the acks of one whole receive buffer (an ack
     * is never larger than its delivery), as much again for requests and acks appended
     * while a send is in flight, and the PONG reserve. */
    CONN_OUT_CONSUMER_SIZE = 2 * CONN_RX_DATA_SIZE + CONN_CONTROL_RESERVE,
};

STATIC_ASSERT((int)CONN_RX_CONTROL_SIZE > (int)SCAN_CONTROL_LINE_MAX, "a control line fits");
STATIC_ASSERT((int)CONN_RX_DATA_SIZE > (int)SCAN_CONTROL_LINE_MAX, "a control line fits");
STATIC_ASSERT((int)CONN_RX_CONTROL_SIZE >= (int)CLIENT_HANDSHAKE_BUFFER_SIZE, "leftovers fit");
STATIC_ASSERT((int)CONN_OUT_CONTROL_SIZE > (int)CONN_CONTROL_RESERVE, "room for control frames");
STATIC_ASSERT((int)CONN_RX_DATA_SIZE > (int)SCAN_FRAME_SIZE_MAX, "a whole ack frame fits");

static const char CONN_PONG[] = "PONG\r\n";

static size_t conn_out_capacity(const struct conn *conn)
{
    const struct bench_opts *opts = conn->side->opts;
    switch (conn->role) {
    case CONN_ROLE_PUB:
        return opts->rate > 0 ? opts->batch_bytes + conn->side->frame_size + CONN_CONTROL_RESERVE
                              : CONN_OUT_CONTROL_SIZE;
    case CONN_ROLE_REP:
        /* Every requester has at most one request outstanding, so both buffers together
         * never hold more than `pubs` replies. */
        return (size_t)(opts->pubs + 1) * (opts->size + CONN_REPLY_OVERHEAD) + CONN_CONTROL_RESERVE;
    case CONN_ROLE_SUB:
    case CONN_ROLE_REQ:
    case CONN_ROLE_JS: /* publishes go out from its window frames */
        return CONN_OUT_CONTROL_SIZE;
    case CONN_ROLE_JSC:
        return CONN_OUT_CONSUMER_SIZE;
    }
    UNREACHABLE();
}

/* Subscribers and repliers take whole buffers of messages; a JetStream publisher carries
 * whole ack frames between reads, and a window's worth of acks arrives together. */
static size_t conn_rx_capacity(enum conn_role role)
{
    switch (role) {
    case CONN_ROLE_SUB:
    case CONN_ROLE_REP:
    case CONN_ROLE_JS:
    case CONN_ROLE_JSC:
        return CONN_RX_DATA_SIZE;
    case CONN_ROLE_PUB:
    case CONN_ROLE_REQ:
        return CONN_RX_CONTROL_SIZE;
    }
    UNREACHABLE();
}

static unsigned conn_scan_flags(const struct conn *conn)
{
    if (conn->role == CONN_ROLE_SUB && conn->side->opts->latency) {
        return SCAN_F_STAMP;
    }
    if (conn->role == CONN_ROLE_JS || conn->role == CONN_ROLE_JSC) {
        return SCAN_F_BODY;
    }
    return conn->role == CONN_ROLE_REP ? SCAN_F_REPLY : 0;
}

static void conn_on_msg(void *context, const char *reply, size_t reply_size, int64_t stamp_ns)
{
    struct conn *conn = context;
    switch (conn->role) {
    case CONN_ROLE_SUB:
        conn->received++;
        if (stamp_ns != 0) {
            hist_record(&conn->side->result.hist, conn->side->now_ns - stamp_ns);
        }
        return;
    case CONN_ROLE_REQ:
        reqrep_on_reply(conn);
        return;
    case CONN_ROLE_REP:
        reqrep_on_request(conn, reply, reply_size);
        return;
    case CONN_ROLE_PUB:
    case CONN_ROLE_JS:  /* SCAN_F_BODY: on_body instead */
    case CONN_ROLE_JSC: /* likewise */
        side_fail(conn->side, -EPROTO, "publisher %u received a MSG it never subscribed to",
                  conn->index);
        return;
    }
}

static void conn_on_body(void *context, const struct scan_frame *frame)
{
    struct conn *conn = context;
    if (conn->role == CONN_ROLE_JSC) {
        jsconsume_on_frame(conn, frame);
        return;
    }
    ASSERT(conn->role == CONN_ROLE_JS); /* the other role scanning with SCAN_F_BODY */
    jspub_on_ack(conn, frame->subject, frame->subject_size, frame->payload, frame->payload_size);
}

static void conn_on_ping(void *context)
{
    struct conn *conn = context;
    bool appended = conn_append(conn, CONN_PONG, sizeof CONN_PONG - 1);
    ASSERT(appended); /* CONN_CONTROL_RESERVE is kept free for this */
    conn_kick(conn);
}

static void conn_on_pong(void *context)
{
    struct conn *conn = context;
    if (conn->role == CONN_ROLE_PUB) {
        pub_on_pong(conn);
    }
    if (conn->role == CONN_ROLE_JSC) {
        jsconsume_on_pong(conn);
    }
    /* Subscribers in `sub` mode see the PONG to their SUB's PING here: nothing to do. */
}

static void conn_on_err(void *context, const char *line, size_t line_size)
{
    struct conn *conn = context;
    side_fail(conn->side, -ECONNABORTED, "server sent %.*s", (int)line_size, line);
}

int conn_init(struct conn *conn, struct side *side, unsigned index, int fd, enum conn_role role,
              const char *leftover, size_t leftover_size)
{
    memset(conn, 0, sizeof *conn);
    conn->side = side;
    conn->fd = fd;
    conn->role = role;
    conn->index = index;
    conn->target = UINT64_MAX;
    conn->rx_capacity = conn_rx_capacity(role);
    conn->rx = malloc(conn->rx_capacity);
    for (unsigned i = 0; i < 2; i++) {
        conn->out[i].capacity = conn_out_capacity(conn);
        conn->out[i].data = malloc(conn->out[i].capacity);
    }
    if (conn->rx == NULL || conn->out[0].data == NULL || conn->out[1].data == NULL) {
        return -ENOMEM;
    }
    ASSERT(leftover_size <= conn->rx_capacity);
    memcpy(conn->rx, leftover, leftover_size);
    conn->rx_used = leftover_size;
    conn->sink = (struct scan_sink){
        .context = conn,
        .on_msg = conn_on_msg,
        .on_ping = conn_on_ping,
        .on_pong = conn_on_pong,
        .on_err = conn_on_err,
        .on_body = conn_on_body,
    };
    scan_init(&conn->scan, &conn->sink, conn_scan_flags(conn));
    return 0;
}

void conn_destroy(struct conn *conn)
{
    if (conn->fd >= 0) {
        close(conn->fd);
        conn->fd = -1;
    }
    free(conn->rx);
    free(conn->out[0].data);
    free(conn->out[1].data);
    free(conn->request);
    free(conn->js_frames);
    free(conn->js_sent_ns);
    jsconsume_destroy(conn);
    conn->rx = NULL;
    conn->out[0].data = NULL;
    conn->out[1].data = NULL;
    conn->request = NULL;
    conn->js_frames = NULL;
    conn->js_sent_ns = NULL;
}

static void conn_submit_send(struct conn *conn)
{
    struct io_uring_sqe *sqe = side_sqe(conn->side);
    /* MSG_WAITALL: the kernel resumes short sends itself, one completion per batch. */
    io_uring_prep_send(sqe, conn->fd, conn->tx_data, conn->tx_left, MSG_WAITALL | MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)conn | SIDE_OP_SEND);
    conn->send_in_flight = true;
}

static void conn_submit_recv(struct conn *conn)
{
    ASSERT(conn->rx_used < conn->rx_capacity);
    struct io_uring_sqe *sqe = side_sqe(conn->side);
    io_uring_prep_recv(sqe, conn->fd, conn->rx + conn->rx_used, conn->rx_capacity - conn->rx_used,
                       0);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)conn | SIDE_OP_RECV);
}

char *conn_claim(struct conn *conn, size_t size)
{
    struct conn_out *out = &conn->out[conn->out_fill];
    if (out->capacity - out->used < size) {
        return NULL;
    }
    char *claimed = out->data + out->used;
    out->used += size;
    return claimed;
}

bool conn_append(struct conn *conn, const char *data, size_t size)
{
    char *claimed = conn_claim(conn, size);
    if (claimed == NULL) {
        return false;
    }
    memcpy(claimed, data, size);
    return true;
}

size_t conn_out_room(const struct conn *conn)
{
    const struct conn_out *out = &conn->out[conn->out_fill];
    return out->capacity - out->used;
}

/* The role's own data, once the output buffer is empty. */
static bool conn_role_next(struct conn *conn, const char **data, size_t *size)
{
    switch (conn->role) {
    case CONN_ROLE_PUB:
        return pub_next_send(conn, data, size);
    case CONN_ROLE_REQ:
        return reqrep_next_send(conn, data, size);
    case CONN_ROLE_JS:
        return jspub_next_send(conn, data, size);
    case CONN_ROLE_SUB:
    case CONN_ROLE_REP:
    case CONN_ROLE_JSC: /* appends to the output buffer instead (jsconsume_queue) */
        return false;
    }
    UNREACHABLE();
}

void conn_kick(struct conn *conn)
{
    if (conn->send_in_flight || conn->side->done) {
        return;
    }
    if (conn->role == CONN_ROLE_JSC) {
        jsconsume_queue(conn);
    }
    struct conn_out *fill = &conn->out[conn->out_fill];
    if (fill->used > 0) {
        /* The other buffer is free: nothing is in flight. */
        conn->out_fill ^= 1;
        conn->out[conn->out_fill].used = 0;
        conn->tx_data = fill->data;
        conn->tx_left = fill->used;
        conn_submit_send(conn);
        return;
    }
    const char *data = NULL;
    size_t size = 0;
    if (conn_role_next(conn, &data, &size)) {
        ASSERT(size > 0);
        conn->tx_data = data;
        conn->tx_left = size;
        conn_submit_send(conn);
    }
}

/* Submits the next recv, unless a JetStream consumer's output buffer lacks room for the
 * acks a whole receive buffer may bring: then the send in flight resumes it when it
 * completes (conn_recv_resume). */
static void conn_recv_again(struct conn *conn)
{
    bool room = conn_out_room(conn) >= conn->rx_capacity + CONN_CONTROL_RESERVE;
    if (conn->role == CONN_ROLE_JSC && !room) {
        ASSERT(conn->send_in_flight); /* else conn_kick would have sent the buffer */
        conn->recv_deferred = true;
        return;
    }
    conn_submit_recv(conn);
}

static void conn_recv_resume(struct conn *conn)
{
    if (conn->recv_deferred && !conn->side->done) {
        conn->recv_deferred = false;
        conn_recv_again(conn);
    }
}

static void conn_send_done(struct conn *conn, int res)
{
    ASSERT(conn->send_in_flight);
    conn->send_in_flight = false;
    if ((res == -EINTR || res == -EAGAIN) && !conn->side->done) {
        conn_submit_send(conn);
        return;
    }
    if (res <= 0) {
        side_fail(conn->side, res < 0 ? res : -EPIPE, "send on connection %u: %s", conn->index,
                  strerror(res < 0 ? -res : EPIPE));
        return;
    }
    ASSERT((size_t)res <= conn->tx_left);
    conn->side->result.send_count++;
    conn->tx_data += res;
    conn->tx_left -= (size_t)res;
    if (conn->tx_left > 0) {
        conn_submit_send(conn);
        return;
    }
    if (conn->role == CONN_ROLE_PUB && conn->side->opts->rate > 0) {
        pub_pace(conn); /* appends what fell due meanwhile, and kicks */
        return;
    }
    conn_kick(conn);
    conn_recv_resume(conn);
}

/* Scans what is in rx and keeps an incomplete control line for the next recv. */
static void conn_scan(struct conn *conn)
{
    uint64_t received_before = conn->received;
    long consumed = scan_feed(&conn->scan, conn->rx, conn->rx_used);
    if (consumed < 0) {
        side_fail(conn->side, (int)consumed, "connection %u: unparsable data from server (%s)",
                  conn->index, strerror((int)-consumed));
        return;
    }
    size_t rest = conn->rx_used - (size_t)consumed;
    if (rest > 0 && consumed > 0) {
        memmove(conn->rx, conn->rx + consumed, rest);
    }
    conn->rx_used = rest;
    if (conn->role == CONN_ROLE_SUB || conn->role == CONN_ROLE_REP) {
        side_received(conn->side, conn->received - received_before);
    }
    conn_kick(conn); /* replies and requests queued by the scan */
}

static void conn_recv_done(struct conn *conn, int res)
{
    if (res == -EINTR || res == -EAGAIN || res == -ENOBUFS) {
        conn_submit_recv(conn);
        return;
    }
    if (res == 0) {
        side_fail(conn->side, -ECONNRESET,
                  "connection %u: server closed the connection (as it does to slow consumers)",
                  conn->index);
        return;
    }
    if (res < 0) {
        side_fail(conn->side, res, "recv on connection %u: %s", conn->index, strerror(-res));
        return;
    }
    conn->side->now_ns = clock_monotonic_ns();
    conn->side->result.recv_count++;
    conn->side->result.recv_bytes += (uint64_t)res;
    conn->rx_used += (size_t)res;
    conn_scan(conn);
    if (!conn->side->done) {
        conn_recv_again(conn);
    }
}

void conn_start(struct conn *conn)
{
    conn->side->now_ns = clock_monotonic_ns();
    if (conn->rx_used > 0) {
        conn_scan(conn);
    }
    conn_submit_recv(conn);
    if (conn->role == CONN_ROLE_PUB && conn->side->opts->rate > 0) {
        pub_pace(conn);
    }
    conn_kick(conn);
}

void conn_complete(struct conn *conn, enum side_op op, int res)
{
    switch (op) {
    case SIDE_OP_SEND:
        conn_send_done(conn, res);
        return;
    case SIDE_OP_RECV:
        conn_recv_done(conn, res);
        return;
    case SIDE_OP_TIMER:
        pub_timer_done(conn, res);
        return;
    case SIDE_OP_TICK:
        break;
    }
    UNREACHABLE();
}

void conn_tick(struct conn *conn)
{
    if (conn->role == CONN_ROLE_JS) {
        jspub_tick(conn);
    }
    if (conn->role == CONN_ROLE_JSC) {
        jsconsume_tick(conn);
    }
}
