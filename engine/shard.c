/* The shard loop: see shard.h.
 *
 * The loop turn: the backend (loop.h) waits and reports what completed (receives run the
 * connection's kind, sends end, accepts adopt) → drain what other shards sent → expire due
 * timers → run server-side handlers → flush (one send per connection with output) →
 * receives that ended start again → close what must close → publish the rings. A
 * connection is freed only when no operation refers to it any more (its receive ended and
 * its send completed); until then it sits on the closing list.
 *
 * One thread: the shard's. */
#include "engine/shard.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/conn.h"
#include "engine/monitor.h"
#include "engine/shard_call.h"
#include "engine/shard_module.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    /* Connection slots: the index bits of a completion's user_data. */
    CONN_SLOTS_MAX = 0xffffff,
};
/* The eventfd value main adds to stop a shard; smaller values ask for counters. */
#define WAKE_STOP_VALUE (1ULL << 32)
/* A reload's and lame duck mode's wake-ups: below the stop, above any count of stats
 * requests (the counter is read, and so reset, every turn). */
#define WAKE_RELOAD_VALUE (1ULL << 20)
#define WAKE_LDM_VALUE (1ULL << 26)
/* A thread that is no shard pushed a call into the mailbox (shard_request_calls): above the
 * stop's band, so that the stop's count is read below it. */
#define WAKE_CALL_VALUE (1ULL << 40)
/* How soon a shard whose records wait for room in a full ring looks again. */
enum { OVERFLOW_POLL_NS = 100 * 1000 };
/* Server-side deliveries waiting for their handlers, in bytes: far above what one turn's
 * receives can bring in, so only a handler that keeps publishing to itself reaches it. */
#define DEFERRED_BYTES_MAX (64LL * 1024 * 1024)
/* Server-side handlers run per loop turn; what is left waits for the next turn, which
 * still collects completions first, so they cannot starve the shard's sockets. */
enum { DEFERRED_BUDGET = 4096 };
/* The timer wheel's granularity: deadlines (pings, authentication, write deadlines, drain)
 * are met within a millisecond, and an idle shard wakes only for the next timer due. */
#define TIMER_TICK_NS (1000000LL)
/* Timer callbacks per loop turn, so a burst of expiries cannot starve the sockets. */
enum { TIMER_BUDGET = 4096 };

static timer_fn stats_timer_fired;
static timer_fn stop_timer_fired;
static void on_recv_ended(void *ctx, struct conn *conn, int result);
static void on_sent(void *ctx, struct conn *conn, int result);
static void on_control(void *ctx, uint64_t value, int error);

/* ---- set-up ---- */

static int shard_xshard_init(struct shard *shard)
{
    struct server *server = shard->server;
    int n = server->shard_count;
    shard->shard_count = n;
    shard->shared = &server->shared[shard->index];
    shard->target_plain = calloc((size_t)n * 2, 1);
    if (shard->target_plain == NULL ||
        interest_init(&shard->interest, server->hash_seed ^ ((uint64_t)shard->index << 32)) != 0) {
        return -ENOMEM;
    }
    const struct xshard_setup setup = {
        .index = shard->index,
        .shard_count = n,
        .shared = server->shared,
        .links = server->links,
        .interest = &shard->interest,
        .overflow_max_bytes = server->config->xshard_overflow_max,
        .handlers = &shard_xshard_handlers,
        .ctx = shard,
    };
    return xshard_init(&shard->xshard, &setup);
}

static void shard_xshard_free(struct shard *shard)
{
    xshard_destroy(&shard->xshard);
    if (shard->interest.buckets != NULL) {
        interest_destroy(&shard->interest);
    }
    free(shard->target_plain);
    free(shard->picks);
    free(shard->held_pongs);
}

/* ---- what the transport asks of the shard (struct xshard_handlers) ---- */

static void transport_forwarded(void *ctx, const struct xshard_forwarded *forwarded)
{
    struct shard *shard = ctx;
    shard->server->forwarded(shard, forwarded);
}

static void transport_acked(void *ctx)
{
    shard_acked(ctx);
}

static void transport_wake(void *ctx, int wake_fd)
{
    shard_wake_send(ctx, wake_fd);
}

static bool transport_pause(void *ctx, struct conn *conn)
{
    if (conn->flags & (CONN_F_PAUSED | CONN_F_CLOSING)) {
        return false;
    }
    shard_conn_pause(ctx, conn);
    return true;
}

static uint64_t transport_pause_all(void *ctx)
{
    struct shard *shard = ctx;
    uint64_t paused = 0;
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        if (shard->conns.conns[i] != NULL) {
            paused += transport_pause(shard, shard->conns.conns[i]);
        }
    }
    return paused;
}

/* A subscriber here that fell behind stops the drain at once (flow control, see conn.h):
 * what waits in the ring then holds back the publishers on the shard that sent it. */
static bool transport_drain_held(void *ctx)
{
    const struct shard *shard = ctx;
    return shard->conns.congested_active != 0;
}

static void transport_module(void *ctx, int origin, int module, void *message)
{
    struct shard *shard = ctx;
    ASSERT(module >= 0 && module < shard->server->module_count);
    if (module < shard->modules_started && shard->server->modules[module]->message != NULL) {
        shard->server->modules[module]->message(shard, shard->module_state[module], origin,
                                                message);
    } else {
        free(message); /* no module here: nobody can have meant it */
    }
}

const struct xshard_handlers shard_xshard_handlers = {
    .forwarded = transport_forwarded,
    .acked = transport_acked,
    .wake = transport_wake,
    .pause = transport_pause,
    .pause_all = transport_pause_all,
    .drain_held = transport_drain_held,
    .module = transport_module,
};

/* Destroys the modules that started, the last first. */
static void modules_destroy(struct shard *shard)
{
    while (shard->modules_started > 0) {
        int m = --shard->modules_started;
        shard->server->modules[m]->destroy(shard, shard->module_state[m]);
        shard->module_state[m] = NULL;
    }
}

int shard_init(struct shard *shard, struct server *server, int index)
{
    memset(shard, 0, sizeof *shard);
    shard->index = index;
    shard->server = server;
    shard->wake_fd = server->wake_fds[index];
    shard_listeners_init(shard);
    shard->listener_kind = server->listener_kind;
    conn_table_init(&shard->conns, CONN_SLOTS_MAX, server->config->max_pending,
                    server->config->write_deadline_ns, &shard->timers);
    deferred_init(&shard->deferred, DEFERRED_BYTES_MAX);
    timer_wheel_init(&shard->timers, clock_monotonic_ns(), TIMER_TICK_NS);
    timer_entry_init(&shard->stats_timer, stats_timer_fired, shard);
    timer_entry_init(&shard->stop_timer, stop_timer_fired, shard);
    const struct loop_setup setup = {
        .config = server->config, .shard_index = index, .control_fd = shard->wake_fd};
    const struct loop_handlers handlers = {
        .ctx = shard,
        .accepted = shard_accepted,
        .received = shard_input_received,
        .recv_ended = on_recv_ended,
        .sent = on_sent,
        .control = on_control,
        .handed = shard_handed,
        .handoff_failed = shard_handoff_failed,
    };
    int rc = loop_create(server->io_backend, &setup, &handlers, &shard->conns, &shard->loop);
    if (rc != 0) {
        return rc;
    }
    shard->sublist = sublist_create(server->hash_seed ^ (uint64_t)index);
    if (shard->sublist == NULL || shard_xshard_init(shard) != 0) {
        shard_xshard_free(shard);
        sublist_destroy(shard->sublist);
        shard->sublist = NULL;
        loop_destroy(shard->loop);
        shard->loop = NULL;
        return -ENOMEM;
    }
    shard->shared->ring_fd = shard->loop->peer.wake_fd;
    shard->shared->handoff_fd = shard->loop->peer.handoff_fd;
    for (int m = 0; m < server->module_count; m++) {
        rc = server->modules[m]->start(shard, &shard->module_state[m]);
        if (rc != 0) {
            modules_destroy(shard);
            shard_xshard_free(shard);
            sublist_destroy(shard->sublist);
            shard->sublist = NULL;
            loop_destroy(shard->loop);
            shard->loop = NULL;
            return rc;
        }
        shard->modules_started = m + 1;
    }
    if (server->module_count > 0) {
        if (shard->shard_count > 1) {
            /* the subscriptions it made reach the other shards' rings before any runs */
            (void)xshard_flush(&shard->xshard);
        }
    }
    return 0;
}

/* ---- connection slots ---- */

static void conn_slot_free(struct shard *shard, struct conn *conn)
{
    conn_table_free(&shard->conns, conn);
    /* relaxed: a placement hint (see struct shard_shared) */
    atomic_fetch_sub_explicit(&shard->shared->load, 1, memory_order_relaxed);
}

/* ---- operations ---- */

static void send_start(struct shard *shard, struct conn *conn)
{
    loop_send(shard->loop, conn);
    conn_send_started(conn, clock_monotonic_ns());
}

int shard_module_send(struct shard *shard, const struct shard_module *module, int target,
                      void *message)
{
    ASSERT(target != shard->index && target >= 0 && target < shard->shard_count);
    int index = 0;
    while (index < shard->server->module_count && shard->server->modules[index] != module) {
        index++;
    }
    ASSERT(index < shard->server->module_count);
    return xshard_module_send(&shard->xshard, target, index, message);
}

void shard_wake_send(struct shard *shard, int wake_fd)
{
    const struct loop_peer peer = {.wake_fd = wake_fd, .handoff_fd = -1};
    loop_wake(shard->loop, &peer);
}

/* ---- what the loop reports ---- */

static void on_recv_ended(void *ctx, struct conn *conn, int result)
{
    struct shard *shard = ctx;
    if (conn->flags & CONN_F_CLOSING) {
        return;
    }
    if (result == -ENOBUFS) {
        shard->stats.recv_enobufs++;
        conn->flags |= CONN_F_RECV_REARM;
    } else if (result == LOOP_RECV_AGAIN || result == -ECANCELED) {
        conn->flags |= CONN_F_RECV_REARM; /* started again unless paused, see rearm_wanted */
    } else if (result == 0) {
        /* The client closed its side: what it was promised (replies, -ERR) still goes out,
         * then the connection closes — after its held input, if any, was handled. */
        conn->flags |= CONN_F_EOF;
        if (conn->held.length == 0) {
            conn_close_after_flush(conn, "Client Closed");
        }
        return;
    } else {
        conn->recv_error = result;
        conn_close(conn, "Read Error");
        return;
    }
    shard->rearm_pending = true;
}

static void on_sent(void *ctx, struct conn *conn, int result)
{
    struct shard *shard = ctx;
    if (conn->flags & CONN_F_CLOSING) {
        return;
    }
    if (result < 0) {
        conn_close(conn, "Write Error");
        return;
    }
    shard->stats.out_bytes += (uint64_t)result;
    bool short_send = (size_t)result < conn->send_length;
    conn_sent(conn, (size_t)result);
    (void)conn_flow_drained(conn);
    if (short_send) {
        send_start(shard, conn); /* resume where it stopped */
        return;
    }
    conn_flush_queue(conn); /* what was appended meanwhile goes at the end of the turn */
}

static void stats_log(const struct shard *shard)
{
    const struct shard_stats *st = &shard->stats;
    unsigned long long unsent = 0;
    unsigned long long held = 0;
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        const struct conn *conn = shard->conns.conns[i];
        if (conn != NULL) {
            unsent += conn_pending_bytes(conn);
            held += conn->held.length - conn->held_offset;
        }
    }
    char xshard_text[XSHARD_STATS_TEXT_SIZE];
    int written = xshard_stats_format(&shard->xshard, xshard_text, sizeof xshard_text);
    ASSERT(written > 0 && (size_t)written < sizeof xshard_text);
    LOG_INFO("stats shard=%d connections=%u accepted=%llu handed_off=%llu closed=%llu "
             "in_msgs=%llu in_bytes=%llu out_msgs=%llu out_bytes=%llu slow_consumers=%llu "
             "recv_enobufs=%llu accept_errors=%llu service_handled=%llu service_dropped=%llu "
             "timers=%llu flow_pauses=%llu flow_exempted=%llu congested=%u unsent_bytes=%llu "
             "held_bytes=%llu out_chunks=%llu out_chunks_free=%u %s",
             shard->index, shard->conns.live_count, (unsigned long long)st->accepted,
             (unsigned long long)st->handed_off, (unsigned long long)shard->conns.stats.closed,
             (unsigned long long)st->in_msgs, (unsigned long long)st->in_bytes,
             (unsigned long long)st->out_msgs, (unsigned long long)st->out_bytes,
             (unsigned long long)shard->conns.stats.slow_consumers,
             (unsigned long long)st->recv_enobufs, (unsigned long long)st->accept_errors,
             (unsigned long long)shard->deferred.ran,
             (unsigned long long)shard->deferred.refused,
             (unsigned long long)timer_count(&shard->timers),
             (unsigned long long)shard->conns.stats.flow_pauses,
             (unsigned long long)shard->conns.stats.flow_exempted, shard->conns.congested_active,
             unsent, held, (unsigned long long)shard->conns.out_pool.chunks_used,
             shard->conns.out_pool.free_count, xshard_text);
}

static void stats_timer_fired(struct timer_entry *entry, void *ctx)
{
    struct shard *shard = ctx;
    stats_log(shard);
    timer_arm(&shard->timers, &shard->stats_timer,
              clock_deadline_ns(clock_monotonic_ns(), shard->server->config->stats_interval_ns));
}

/* Only wakes the loop: stop_progress looks at the clock. */
static void stop_timer_fired(struct timer_entry *entry, void *ctx)
{
}

static void stop_begin(struct shard *shard)
{
    shard->stopping = true;
    shard->stop_deadline_ns = clock_monotonic_ns() + CONFIG_DRAIN_NS;
    timer_arm(&shard->timers, &shard->stop_timer, shard->stop_deadline_ns);
    shard_accept_stop(shard);
    /* Connections stay open, their input no longer read (on_received), until every shard's
     * module has drained: acks of what was stored must still reach their publishers. */
}

static void close_all_after_flush(struct shard *shard)
{
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        struct conn *conn = shard->conns.conns[i];
        if (conn != NULL) {
            conn_close_after_flush(conn, "Server Shutdown");
        }
    }
}

static void on_control(void *ctx, uint64_t value, int error)
{
    struct shard *shard = ctx;
    if (error != 0) {
        LOG_ERROR("shard %d: reading its wake-up eventfd failed: %s", shard->index,
                  strerror(-error));
        stop_begin(shard);
        return;
    }
    if ((value & (WAKE_RELOAD_VALUE - 1)) != 0) {
        stats_log(shard);
    }
    if ((value & (WAKE_LDM_VALUE - 1)) >= WAKE_RELOAD_VALUE && !shard->stopping) {
        shard_reload_apply(shard);
    }
    if ((value & (WAKE_STOP_VALUE - 1)) >= WAKE_LDM_VALUE && !shard->stopping &&
        !shard->lame_duck) {
        shard_lame_duck(shard);
    }
    if ((value & (WAKE_CALL_VALUE - 1)) >= WAKE_STOP_VALUE && !shard->stopping) {
        stop_begin(shard);
    }
}

/* ---- end of turn ---- */

static bool rearm_wanted(const struct conn *conn)
{
    return (conn->flags & CONN_F_RECV_REARM) && conn->held.length == 0 &&
           !(conn->flags & (CONN_F_CLOSING | CONN_F_PAUSED | CONN_F_FLOW_PAUSED | CONN_F_EOF |
                            CONN_F_RECV_ARMED));
}

static void flush_all(struct shard *shard)
{
    struct conn *conn = shard->conns.flush_head;
    shard->conns.flush_head = NULL;
    while (conn != NULL) {
        struct conn *next = conn->flush_next;
        conn->flags &= ~CONN_F_FLUSH_QUEUED;
        if (!(conn->flags & (CONN_F_CLOSING | CONN_F_SEND_INFLIGHT))) {
            if (conn_output_ready(conn)) {
                send_start(shard, conn);
            } else if ((conn->flags & (CONN_F_CLOSE_AFTER_FLUSH | CONN_F_REPLY_PENDING)) ==
                       CONN_F_CLOSE_AFTER_FLUSH) {
                conn_close(conn, conn->close_reason);
            }
        }
        if (rearm_wanted(conn)) {
            loop_recv_start(shard->loop, conn);
        }
        conn = next;
    }
}

/* Receives that ended this turn and were not started again by a flush. */
static void rearm_receives(struct shard *shard)
{
    shard->rearm_pending = false;
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        struct conn *conn = shard->conns.conns[i];
        if (conn != NULL && rearm_wanted(conn)) {
            loop_recv_start(shard->loop, conn);
        }
    }
}

static void reap_closed(struct shard *shard)
{
    struct conn **link = &shard->conns.close_head;
    while (*link != NULL) {
        struct conn *conn = *link;
        if (!(conn->flags & CONN_F_RELEASED)) {
            conn->flags |= CONN_F_RELEASED;
            conn->kind->release(conn);
            if (conn->kind == shard->listener_kind) { /* only clients are counted */
                atomic_fetch_sub_explicit(&shard->server->connection_count, 1,
                                          memory_order_relaxed);
            }
        }
        if (conn->inflight_count > 0) {
            link = &conn->close_next;
            continue;
        }
        *link = conn->close_next;
        shard->conns.stats.closed++;
        close(conn->fd);
        conn_slot_free(shard, conn);
    }
}

/* Waits for the loop, announcing the sleep to producers first (see shard_shared). With
 * work already waiting (inbound records, a budget left over) it only collects. */
static int turn_wait(struct shard *shard, bool work_left)
{
    if (work_left) {
        return loop_wait(shard->loop, 0);
    }
    /* Sleeps until a completion, the next timer, or (with records waiting for room in a
     * full ring, where nobody wakes us when it drains) the next overflow poll. */
    int64_t wait_ns = INT64_MAX;
    int64_t next_ns = timer_next_deadline(&shard->timers);
    if (next_ns != INT64_MAX) {
        int64_t now = clock_monotonic_ns();
        wait_ns = next_ns > now ? next_ns - now : 0;
    }
    if (shard->xshard.overflowing && wait_ns > OVERFLOW_POLL_NS) {
        wait_ns = OVERFLOW_POLL_NS;
    }
    /* only a shard that will block says so: producers then pay for a wake-up */
    bool announce = shard->shard_count > 1 && wait_ns > 0;
    if (announce) {
        atomic_store_explicit(&shard->shared->sleeping, 1, memory_order_seq_cst);
        /* seq_cst: the store above is ordered before the ring check below; pairs with the
         * fence in xshard.c's wake() between a producer's publish and its read of the flag */
        atomic_thread_fence(memory_order_seq_cst);
        /* while a subscriber here is congested the rings are not drained (see shard_run) */
        if (shard->conns.congested_active == 0 && !shard->deferred_pressed &&
            xshard_inbound_pending(&shard->xshard)) {
            wait_ns = 0;
        }
    }
    int rc = loop_wait(shard->loop, wait_ns);
    if (announce) {
        atomic_store_explicit(&shard->shared->sleeping, 0, memory_order_relaxed);
    }
    return rc;
}

/* Every module that started is asked each time (the last first), so each drains in
 * parallel with the others. */
static bool module_stopped(struct shard *shard)
{
    bool stopped = true;
    for (int m = shard->modules_started - 1; m >= 0; m--) {
        if (!shard->server->modules[m]->stop_step(shard, shard->module_state[m])) {
            stopped = false;
        }
    }
    return stopped;
}

/* Stopping: (0) the module drains (stores commit, their acks go out) and says so to every
 * shard; once all have, (1) one more turn takes in what other shards sent meanwhile, then
 * (2) connections close once their output is sent, or at the deadline in any case. True
 * while it needs the loop to turn again without waiting. */
static bool stop_progress(struct shard *shard, bool *done)
{
    struct server *server = shard->server;
    if (!shard->stop_quiet && !shard->xshard.overflowing) {
        shard->stop_quiet = true;
        atomic_fetch_add_explicit(&server->stop_quiet, 1, memory_order_release);
    }
    if (!shard->stop_drained &&
        atomic_load_explicit(&server->stop_quiet, memory_order_acquire) == server->shard_count &&
        (shard->shard_count == 1 || !xshard_inbound_pending(&shard->xshard)) &&
        !deferred_pending(&shard->deferred) && module_stopped(shard)) {
        shard->stop_drained = true;
        atomic_fetch_add_explicit(&server->stop_drained, 1, memory_order_release);
    }
    if (shard->stop_phase == 0 &&
        atomic_load_explicit(&server->stop_drained, memory_order_acquire) ==
            server->shard_count) {
        shard->stop_phase = 1;
        return true;
    }
    if (shard->stop_phase == 1) {
        shard->stop_phase = 2;
        close_all_after_flush(shard);
    }
    if (shard->stop_phase == 2 && shard->conns.live_count == 0 &&
        !deferred_pending(&shard->deferred)) {
        *done = true;
        return false;
    }
    if (clock_monotonic_ns() >= shard->stop_deadline_ns) {
        for (uint32_t i = 0; i < shard->conns.capacity; i++) {
            if (shard->conns.conns[i] != NULL) {
                conn_close(shard->conns.conns[i], "Server Shutdown");
            }
        }
        reap_closed(shard);
        *done = shard->conns.live_count == 0 && module_stopped(shard);
    }
    return shard->stop_phase == 0; /* other shards' modules give no wake-up: look again */
}

static void shard_fail(struct shard *shard, int rc)
{
    LOG_ERROR("shard %d: waiting for %s failed: %s; stopping the server", shard->index,
              shard->loop->ops->name, strerror(-rc));
    atomic_store_explicit(&shard->server->shard_failed, 1, memory_order_relaxed);
    kill(getpid(), SIGTERM);
}

void shard_start_drain(struct shard *shard)
{
    if (shard->shard_count == 1) {
        return;
    }
    /* what the other shards' starts subscribed (a module's server-side subscribers) is
     * known here before the first client's first request: every start is done (the
     * start barrier orders their rings' contents before this) */
    (void)xshard_drain(&shard->xshard);
    /* A shard that entered its loop earlier may have clients already (reuseport: it
     * accepts on its own socket), and their announcements were applied just now. Their
     * PONGs wait for the acknowledgements the drain queued: publish them now, not at the
     * end of a first turn that may sleep with nothing due, since that shard published
     * before this one announced any sleep and so had nothing to wake it for. */
    (void)xshard_flush(&shard->xshard);
}

void shard_run(struct shard *shard)
{
    shard_start_drain(shard);
    shard_accept_arm(shard);
    if (shard->server->config->stats_interval_ns > 0) {
        timer_arm(&shard->timers, &shard->stats_timer,
                  clock_deadline_ns(clock_monotonic_ns(),
                                    shard->server->config->stats_interval_ns));
    }
    bool work_left = false;
    bool done = false;
    while (!done) {
        int rc = turn_wait(shard, work_left);
        if (rc < 0) {
            shard_fail(shard, rc);
            break;
        }
        loop_dispatch(shard->loop);
        /* what other shards asked (shard_call.h); once stopping, main discards it */
        if (shard->server->mailboxes != NULL && !shard->stopping) {
            (void)shard_mailbox_run(&shard->server->mailboxes[shard->index], shard);
        }
        bool held_left = shard->held_input != NULL && shard_held_step(shard);
        /* A congested subscriber here, or server-side handlers behind, hold back what other
         * shards forward too: their rings fill, and their overflow budget pauses the
         * publishers there. */
        work_left = shard->shard_count > 1 && shard->conns.congested_active == 0 &&
                    !shard->deferred_pressed && xshard_drain(&shard->xshard);
        work_left |= timer_advance(&shard->timers, clock_monotonic_ns(), TIMER_BUDGET).more;
        if (deferred_pending(&shard->deferred)) {
            work_left |= deferred_run(&shard->deferred, DEFERRED_BUDGET);
        }
        if (shard->deferred_pressed && deferred_pressed_below(&shard->deferred)) {
            shard->deferred_pressed = false;
            shard->conns.flow_resume_wanted = true; /* the publishers it paused read again */
        }
        for (int m = 0; m < shard->modules_started; m++) {
            shard->server->modules[m]->turn_end(shard, shard->module_state[m]);
        }
        flush_all(shard);
        if (shard->rearm_pending) {
            rearm_receives(shard);
        }
        reap_closed(shard);
        if (shard->conns.flow_resume_wanted) {
            shard_flow_resume(shard);
        }
        if (shard->shard_count > 1 && !xshard_flush(&shard->xshard) && shard->paused_any) {
            shard_paused_resume(shard);
        }
        shard_accept_arm(shard);
        /* resuming paused connections handles their held input, which may queue output */
        work_left |= held_left || shard->held_input != NULL || shard->conns.flush_head != NULL;
        if (shard->stopping) {
            work_left |= stop_progress(shard, &done);
        }
    }
}

static void wake_fd_add(int wake_fd, uint64_t value)
{
    ssize_t n = write(wake_fd, &value, sizeof value);
    ASSERT(n == (ssize_t)sizeof value);
}

void shard_request_stop(int wake_fd)
{
    wake_fd_add(wake_fd, WAKE_STOP_VALUE);
}

void shard_request_stats(int wake_fd)
{
    wake_fd_add(wake_fd, 1);
}

void shard_request_reload(int wake_fd)
{
    wake_fd_add(wake_fd, WAKE_RELOAD_VALUE);
}

void shard_request_lame_duck(int wake_fd)
{
    wake_fd_add(wake_fd, WAKE_LDM_VALUE);
}

void shard_request_calls(int wake_fd)
{
    wake_fd_add(wake_fd, WAKE_CALL_VALUE);
}

void shard_destroy(struct shard *shard)
{
    /* The loop goes first: it cancels what is still in flight, and only then may the
     * memory those operations point at (send buffers) go. */
    modules_destroy(shard);
    loop_destroy(shard->loop);
    shard->loop = NULL;
    for (uint32_t i = 0; i < shard->conns.capacity; i++) {
        struct conn *conn = shard->conns.conns[i];
        if (conn != NULL) {
            if (!(conn->flags & CONN_F_RELEASED)) {
                conn->kind->release(conn);
            }
            close(conn->fd);
        }
    }
    conn_table_destroy(&shard->conns);
    monitor_closed_free(shard->closed_conns);
    shard->closed_conns = NULL;
    timer_wheel_destroy(&shard->timers);
    deferred_destroy(&shard->deferred);
    sublist_destroy(shard->sublist);
    shard_xshard_free(shard);
    free(shard->removals);
    int listen_fd = shard->listeners[LOOP_LISTENER_CLIENT].fd; /* reuseport: its own */
    if (listen_fd >= 0 && listen_fd != shard->server->listen_fd) {
        close(listen_fd);
    }
}
