/* A side's thread and event loop (see side.h).
 *
 * The ring: SINGLE_ISSUER | DEFER_TASKRUN (completions run only when this thread waits,
 * never interrupting a scan), falling back to plain flags on kernels without them; sized
 * so that every connection's send, recv and timer plus the tick always fit, so getting an
 * SQE never fails. One io_uring_submit_and_wait per turn submits all queued work.
 *
 * Ending: the send side finishes when every connection has finished (publishers: PONG to
 * their last PING; requesters: last reply), then publishes its total. The receive side
 * finishes when it has every delivery that total implies, or when nothing has arrived for
 * SIDE_IDLE_NS after the send side finished (messages were lost: reported as a failure),
 * or, in `sub` mode, at its own count or duration. Either side fails past the deadline.
 * JetStream publishers finish at their last ack and watch for stalled acks on the tick; a
 * JetStream consumer, on the send side, at the PONG after its last delivery. */
#include "bench/side.h"

#include "base/assert.h"
#include "base/clock.h"
#include "bench/conn.h"
#include "bench/jsconsume.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    /* In-flight operations per connection: one send, one recv, one pacing timer. */
    SIDE_SQES_PER_CONN = 3,
    SIDE_SQES_EXTRA = 8, /* the tick, with room to spare */
    /* Every in-flight operation completes once; CQEs of a turn may pile up behind them. */
    SIDE_CQ_FACTOR = 4,
};

int side_init(struct side *side, enum side_kind kind, const struct bench_opts *opts,
              struct bench_shared *shared, unsigned conn_count)
{
    ASSERT(conn_count > 0);
    ASSERT(conn_count <= BENCH_CONNS_MAX);
    memset(side, 0, sizeof *side);
    side->kind = kind;
    side->opts = opts;
    side->shared = shared;
    side->conns = calloc(conn_count, sizeof *side->conns);
    side->filler = malloc(opts->size > 0 ? opts->size : 1);
    if (side->conns == NULL || side->filler == NULL) {
        free(side->conns);
        free(side->filler);
        return -ENOMEM;
    }
    memset(side->filler, 'f', opts->size);
    for (unsigned i = 0; i < conn_count; i++) {
        side->conns[i].fd = -1;
    }
    side->conn_count = conn_count;
    side->stop_ns = INT64_MAX;
    side->result.stored = -1;
    side->result.stored_subjects = -1;
    hist_init(&side->result.hist);
    return 0;
}

void side_destroy(struct side *side)
{
    for (unsigned i = 0; i < side->conn_count; i++) {
        conn_destroy(&side->conns[i]);
    }
    free(side->conns);
    free(side->batch);
    free(side->filler);
    side->conns = NULL;
    side->batch = NULL;
    side->filler = NULL;
}

struct io_uring_sqe *side_sqe(struct side *side)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&side->ring);
    ASSERT(sqe != NULL); /* sized for every operation that can be in flight */
    return sqe;
}

void side_fail(struct side *side, int error, const char *format, ...)
{
    if (side->result.error == 0) {
        side->result.error = error < 0 ? error : -EIO;
        va_list args;
        va_start(args, format);
        vsnprintf(side->result.error_text, sizeof side->result.error_text, format, args);
        va_end(args);
    }
    side->done = true;
    /* Release: pairs with the other side's acquire load in side_tick. */
    atomic_store_explicit(&side->shared->abort, true, memory_order_release);
}

static void side_send_finish(struct side *side)
{
    uint64_t sent = 0;
    for (unsigned i = 0; i < side->conn_count; i++) {
        sent += side->conns[i].sent;
    }
    /* Release order: the total is visible before the flag (acquire in side_receive_check). */
    atomic_store_explicit(&side->shared->sent_total, sent, memory_order_release);
    atomic_store_explicit(&side->shared->send_done, true, memory_order_release);
    side->done = true;
}

void side_conn_finished(struct side *side)
{
    ASSERT(side->kind == SIDE_KIND_SEND);
    side->conns_finished++;
    ASSERT(side->conns_finished <= side->conn_count);
    if (side->conns_finished == side->conn_count) {
        side_send_finish(side);
    }
}

/* The receive side is done when the deliveries it can expect have all arrived. */
static void side_receive_check(struct side *side)
{
    const struct bench_opts *opts = side->opts;
    if (opts->mode == BENCH_MODE_SUB) {
        side->result.expected = opts->count * opts->subs; /* 0 with a duration */
        bool counted = opts->count > 0 && side->received >= side->result.expected;
        bool timed = opts->count == 0 && side->result.start_ns != 0 &&
                     side->now_ns - side->result.start_ns >= opts->duration_ns;
        side->done = side->done || counted || timed;
        return;
    }
    /* Acquire: pairs with the release stores in side_send_finish. */
    if (!atomic_load_explicit(&side->shared->send_done, memory_order_acquire)) {
        return;
    }
    if (opts->mode == BENCH_MODE_REQREP) {
        side->done = true; /* repliers have nothing to wait for once requesters stop */
        return;
    }
    uint64_t sent = atomic_load_explicit(&side->shared->sent_total, memory_order_acquire);
    side->result.expected = bench_expected_deliveries(opts, sent);
    if (side->received >= side->result.expected) {
        side->done = true;
    }
}

void side_received(struct side *side, uint64_t delta)
{
    ASSERT(side->kind == SIDE_KIND_RECEIVE);
    if (delta == 0) {
        return;
    }
    if (side->result.start_ns == 0) {
        side->result.start_ns = side->now_ns;
    }
    side->result.end_ns = side->now_ns;
    side->progress_ns = side->now_ns;
    side->received += delta;
    side_receive_check(side);
}

static void side_tick_arm(struct side *side)
{
    side->tick_interval.tv_sec = 0;
    side->tick_interval.tv_nsec = SIDE_TICK_NS;
    struct io_uring_sqe *sqe = side_sqe(side);
    io_uring_prep_timeout(sqe, &side->tick_interval, 0, 0);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)side | SIDE_OP_TICK);
}

void side_watch(struct side *side)
{
    /* Acquire: pairs with the release store in side_fail of the other side. */
    if (atomic_load_explicit(&side->shared->abort, memory_order_acquire)) {
        side_fail(side, -ECANCELED, "stopped: the other side failed");
        return;
    }
    if (side->now_ns > side->deadline_ns) {
        side_fail(side, -ETIMEDOUT, "run did not finish within --timeout");
        return;
    }
    if (side->kind == SIDE_KIND_SEND) {
        for (unsigned i = 0; i < side->conn_count && !side->done; i++) {
            conn_tick(&side->conns[i]);
        }
    }
    if (side->done) {
        return; /* a connection's stall failed the side */
    }
    if (side->kind == SIDE_KIND_RECEIVE) {
        side_receive_check(side);
        bool idle = side->now_ns - side->progress_ns > SIDE_IDLE_NS;
        bool send_done = atomic_load_explicit(&side->shared->send_done, memory_order_acquire);
        if (!side->done && send_done && idle) {
            side_fail(side, -ENODATA, "received %llu of %llu expected deliveries",
                      (unsigned long long)side->received,
                      (unsigned long long)side->result.expected);
        }
    }
}

static void side_tick(struct side *side)
{
    side->now_ns = clock_monotonic_ns();
    side_watch(side);
    if (!side->done) {
        side_tick_arm(side);
    }
}

static void side_dispatch(struct side *side, uint64_t user_data, int res)
{
    enum side_op op = (enum side_op)(user_data & SIDE_OP_MASK);
    void *target = (void *)(uintptr_t)(user_data & ~(uint64_t)SIDE_OP_MASK);
    if (op == SIDE_OP_TICK) {
        ASSERT(target == side);
        side_tick(side);
        return;
    }
    conn_complete(target, op, res);
}

static int side_ring_init(struct side *side)
{
    unsigned entries = side->conn_count * SIDE_SQES_PER_CONN + SIDE_SQES_EXTRA;
    struct io_uring_params params = {
        .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
        .cq_entries = entries * SIDE_CQ_FACTOR,
    };
    int rc = io_uring_queue_init_params(entries, &side->ring, &params);
    if (rc == -EINVAL) {
        /* Kernels before 6.1: no DEFER_TASKRUN. */
        params = (struct io_uring_params){.flags = IORING_SETUP_CQSIZE,
                                          .cq_entries = entries * SIDE_CQ_FACTOR};
        rc = io_uring_queue_init_params(entries, &side->ring, &params);
    }
    if (rc == 0) {
        (void)io_uring_register_ring_fd(&side->ring); /* optional: saves an fd lookup */
    }
    return rc;
}

/* Handles every completion that is ready; the CQ holds at most SIDE_CQ_FACTOR times the
 * operations in flight, which bounds one turn. */
static void side_reap(struct side *side)
{
    struct io_uring_cqe *cqe = NULL;
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_for_each_cqe(&side->ring, head, cqe)
    {
        side_dispatch(side, cqe->user_data, cqe->res);
        seen++;
    }
    io_uring_cq_advance(&side->ring, seen);
}

/* Sums what each connection counted into the result. */
static void side_collect(struct side *side)
{
    struct side_result *result = &side->result;
    result->conn_msgs_min = UINT64_MAX;
    for (unsigned i = 0; i < side->conn_count; i++) {
        const struct conn *conn = &side->conns[i];
        uint64_t msgs = conn->role == CONN_ROLE_PUB ? conn->sent : conn->received;
        if (conn->role == CONN_ROLE_JS) {
            msgs = conn->acked;
            result->published += conn->sent;
            result->refused += conn->refused;
        }
        if (conn->role == CONN_ROLE_JSC) {
            result->expected += conn->target;
            jsconsume_collect(conn, result);
        }
        result->conn_msgs_min = msgs < result->conn_msgs_min ? msgs : result->conn_msgs_min;
        result->conn_msgs_max = msgs > result->conn_msgs_max ? msgs : result->conn_msgs_max;
        if (side->kind == SIDE_KIND_SEND) {
            result->msgs += msgs;
            result->end_ns =
                conn->finished_ns > result->end_ns ? conn->finished_ns : result->end_ns;
        }
    }
    if (side->kind == SIDE_KIND_SEND) {
        result->start_ns = side->start_ns;
        if (side->conns_finished < side->conn_count) {
            result->end_ns = clock_monotonic_ns(); /* stopped early: rate up to now */
        }
    } else {
        result->msgs = side->received;
    }
}

static void *side_main(void *arg)
{
    struct side *side = arg;
    int rc = side_ring_init(side);
    if (rc < 0) {
        side_fail(side, rc, "io_uring_queue_init: %s", strerror(-rc));
        return NULL;
    }
    side->start_ns = clock_monotonic_ns();
    side->progress_ns = side->start_ns;
    side->deadline_ns = side->start_ns + side->opts->timeout_ns;
    if (side->opts->count == 0 && side->opts->mode != BENCH_MODE_SUB) {
        side->stop_ns = side->start_ns + side->opts->duration_ns;
    }
    side_tick_arm(side);
    for (unsigned i = 0; i < side->conn_count && !side->done; i++) {
        conn_start(&side->conns[i]);
    }
    while (!side->done) {
        rc = io_uring_submit_and_wait(&side->ring, 1);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
            side_fail(side, rc, "io_uring_submit_and_wait: %s", strerror(-rc));
            break;
        }
        side_reap(side);
    }
    side_collect(side);
    io_uring_queue_exit(&side->ring); /* cancels what is still in flight */
    return NULL;
}

int side_start(struct side *side)
{
    return -pthread_create(&side->thread, NULL, side_main, side);
}

void side_join(struct side *side)
{
    pthread_join(side->thread, NULL);
}
