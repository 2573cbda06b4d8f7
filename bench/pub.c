/* Publisher role: flat out or paced (see pub.h).
 *
 * Flat out, every publisher sends slices of one read-only batch of identical PUB frames,
 * built once: the cost per message is the kernel's copy, nothing else. The end is a PING
 * whose PONG proves the server has processed every frame before the clock stops.
 *
 * Paced (--rate), message i of a connection is *intended* to leave at start + i * interval.
 * Whenever the loop runs (timer, send completion) every message that is due is appended
 * with its intended time as stamp, so a stall anywhere (server, kernel, this process)
 * shows up as latency of every message it delayed instead of silently sending fewer:
 * the coordinated-omission correction. The timer is an absolute io_uring timeout; the
 * process sets its timer slack to 1 ns so that it fires on time.
 *
 * Frame: "PUB <subject> <size>\r\n" <payload> "\r\n"; paced payloads start with the
 * int64 little-endian CLOCK_MONOTONIC stamp (scan.h, SCAN_STAMP_SIZE). */
#include "bench/pub.h"

#include "base/assert.h"
#include "base/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    PUB_HEADER_SIZE_MAX = 4 + BENCH_SUBJECT_SIZE_MAX + 1 + 10 + 2,
    PUB_CRLF_SIZE = 2,
    PUB_ALPHABET_SIZE = 26,
};

static const char PUB_PING[] = "PING\r\n";

/* Writes one frame with a recognisable filler payload; returns its size. */
static size_t pub_frame_write(char *frame, const struct bench_opts *opts, size_t *payload_offset)
{
    int header_size = snprintf(frame, PUB_HEADER_SIZE_MAX + 1, "PUB %s %u\r\n", opts->subject,
                               (unsigned)opts->size);
    ASSERT(header_size > 0 && header_size <= PUB_HEADER_SIZE_MAX);
    char *payload = frame + header_size;
    for (uint32_t i = 0; i < opts->size; i++) {
        payload[i] = (char)('a' + i % PUB_ALPHABET_SIZE);
    }
    memcpy(payload + opts->size, "\r\n", PUB_CRLF_SIZE);
    *payload_offset = (size_t)header_size;
    return (size_t)header_size + opts->size + PUB_CRLF_SIZE;
}

int pub_build_frames(struct side *side)
{
    const struct bench_opts *opts = side->opts;
    size_t frame_capacity = PUB_HEADER_SIZE_MAX + 1 + opts->size + PUB_CRLF_SIZE;
    char *frame = malloc(frame_capacity);
    if (frame == NULL) {
        return -ENOMEM;
    }
    side->frame_size = pub_frame_write(frame, opts, &side->stamp_offset);
    side->batch_frames = 1;
    if (opts->rate == 0 && opts->batch_bytes > side->frame_size) {
        side->batch_frames = opts->batch_bytes / side->frame_size;
    }
    side->batch = malloc(side->batch_frames * side->frame_size);
    if (side->batch == NULL) {
        free(frame);
        return -ENOMEM;
    }
    for (uint64_t i = 0; i < side->batch_frames; i++) {
        memcpy(side->batch + i * side->frame_size, frame, side->frame_size);
    }
    free(frame);
    return 0;
}

void pub_setup(struct conn *conn, uint64_t target, double rate)
{
    ASSERT(conn->role == CONN_ROLE_PUB);
    ASSERT(rate >= 0);
    ASSERT(rate == 0 || target != UINT64_MAX); /* paced runs know their count up front */
    conn->target = target;
    conn->pace_interval_ns = rate > 0 ? (double)NS_PER_SEC / rate : 0;
}

bool pub_next_send(struct conn *conn, const char **data, size_t *size)
{
    struct side *side = conn->side;
    bool flat_out = side->opts->rate == 0;
    if (flat_out && conn->target == UINT64_MAX && clock_monotonic_ns() >= side->stop_ns) {
        conn->target = conn->sent;
    }
    if (flat_out && conn->sent < conn->target) {
        uint64_t left = conn->target - conn->sent;
        uint64_t frames = left < side->batch_frames ? left : side->batch_frames;
        conn->sent += frames;
        *data = side->batch;
        *size = frames * side->frame_size;
        return true;
    }
    if (conn->sent == conn->target && !conn->ping_sent) {
        conn->ping_sent = true;
        *data = PUB_PING;
        *size = sizeof PUB_PING - 1;
        return true;
    }
    return false;
}

static int64_t pub_intended_ns(const struct conn *conn, uint64_t index)
{
    return conn->pace_start_ns + (int64_t)((double)index * conn->pace_interval_ns);
}

/* Messages due by `now_ns`: message i is due once its intended time has come. */
static uint64_t pub_due(const struct conn *conn, int64_t now_ns)
{
    if (now_ns < conn->pace_start_ns) {
        return 0;
    }
    double elapsed_ns = (double)(now_ns - conn->pace_start_ns);
    uint64_t due = (uint64_t)(elapsed_ns / conn->pace_interval_ns) + 1;
    return due < conn->target ? due : conn->target;
}

static void pub_append_stamped(struct conn *conn, int64_t stamp_ns)
{
    struct side *side = conn->side;
    char *frame = conn_claim(conn, side->frame_size);
    ASSERT(frame != NULL); /* the caller checked the room */
    memcpy(frame, side->batch, side->frame_size);
    uint64_t stamp = (uint64_t)stamp_ns;
    for (unsigned i = 0; i < SCAN_STAMP_SIZE; i++) {
        frame[side->stamp_offset + i] = (char)(stamp >> (8 * i));
    }
}

static void pub_timer_arm(struct conn *conn, int64_t at_ns)
{
    if (conn->timer_armed) {
        return;
    }
    conn->timer_at.tv_sec = at_ns / NS_PER_SEC;
    conn->timer_at.tv_nsec = at_ns % NS_PER_SEC;
    struct io_uring_sqe *sqe = side_sqe(conn->side);
    io_uring_prep_timeout(sqe, &conn->timer_at, 0, IORING_TIMEOUT_ABS);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)conn | SIDE_OP_TIMER);
    conn->timer_armed = true;
}

void pub_pace(struct conn *conn)
{
    struct side *side = conn->side;
    ASSERT(side->opts->rate > 0);
    if (conn->pace_start_ns == 0) {
        conn->pace_start_ns = side->start_ns;
    }
    int64_t now_ns = clock_monotonic_ns();
    uint64_t due = pub_due(conn, now_ns);
    if (conn->sent < due) {
        /* How late the oldest due message leaves: the generator's own share of latency. */
        hist_record(&side->result.hist, now_ns - pub_intended_ns(conn, conn->sent));
    }
    /* Bounded by the buffer: what does not fit stays due and goes after this send. */
    while (conn->sent < due && conn_out_room(conn) >= side->frame_size + CONN_CONTROL_RESERVE) {
        pub_append_stamped(conn, pub_intended_ns(conn, conn->sent));
        conn->sent++;
    }
    conn_kick(conn);
    if (conn->sent == due && conn->sent < conn->target) {
        pub_timer_arm(conn, pub_intended_ns(conn, conn->sent));
    }
}

void pub_timer_done(struct conn *conn, int res)
{
    ASSERT(conn->timer_armed);
    conn->timer_armed = false;
    if (res != -ETIME && res != 0) {
        side_fail(conn->side, res, "pacing timer: %s", strerror(-res));
        return;
    }
    pub_pace(conn);
}

void pub_on_pong(struct conn *conn)
{
    if (!conn->ping_sent || conn->finished) {
        return;
    }
    conn->finished = true;
    conn->finished_ns = clock_monotonic_ns();
    side_conn_finished(conn->side);
}
